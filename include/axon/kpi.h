/*
 * kpi.h - the decision-chain KPI: for decided deals (in a won or lost
 * stage, with engage_date and close_date, close not before engage) the
 * days from first engagement to decision, close_date - engage_date, per
 * group of deals:
 *   quarter   of close_date, "2017Q2"      month   of close_date, "2017-06"
 *   owner     owner_id (label: name)       product product_id (label: name)
 * with count, won, lost, mean, median, p25 and p75 (percentiles by linear
 * interpolation between order statistics: numpy's default, so the median
 * of an even count is the mean of the middle two).
 *
 * Compression ratio between a baseline `a` and a comparison `b`:
 *   ratio = median(b) / median(a); below 1 means b decided faster.
 *   periods:      a, b are two quarters or two months ("2017Q1,2017Q2")
 *   suggestions:  a = deals without, b = deals with an accepted suggestion
 *                 (about the deal or its customer) accepted no later than
 *                 the deal's close date.
 * Reads only; the SQL runs on deals, pipelines (stage outcomes), users,
 * products and suggestions. Output buffers belong to the caller.
 */
#ifndef AXON_KPI_H
#define AXON_KPI_H

#include <stddef.h>
#include <stdint.h>

#include "axon/buf.h"
#include "axon/db.h"

enum kpi_group { KPI_QUARTER, KPI_MONTH, KPI_OWNER, KPI_PRODUCT };
enum kpi_compare { KPI_COMPARE_NONE, KPI_COMPARE_PERIODS, KPI_COMPARE_SUGGESTIONS };

struct kpi_query {
    enum kpi_group group;
    char from[11], to[11];        /* close_date bounds, inclusive; "" = open */
    enum kpi_compare compare;
    char a[16], b[16];            /* periods compared (KPI_COMPARE_PERIODS) */
};

/* The p-quantile (0..1) of n ascending values by linear interpolation
 * (n > 0). */
double kpi_quantile(const double *sorted, size_t n, double p);

/* Parse group, from, to and compare (any may be NULL) into q; 400-style
 * errors name the parameter. With compare=periods the group becomes the
 * periods' kind (quarter or month). */
int kpi_parse(const char *group, const char *from, const char *to, const char *compare,
              struct kpi_query *q, struct ax_err *err);

/* Append {"object":"kpi","kpi":"decision-chain","group","from","to",
 * "data":[{key,label,count,won,lost,mean_days,median_days,p25_days,
 * p75_days}…],"total":{…},"compare":null|{a,b,ratio}}. */
int kpi_decision_chain(struct db *d, int64_t tenant, const struct kpi_query *q, struct buf *out,
                       struct ax_err *err);

#endif
