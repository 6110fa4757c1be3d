/* kpi.c - the decision-chain KPI (see kpi.h). */
#include "axon/kpi.h"

#include "axon/jx.h"
#include "axon/timefmt.h"

#include <ctype.h>
#include <jansson.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

double kpi_quantile(const double *sorted, size_t n, double p)
{
    double h = (double)(n - 1) * p;
    size_t lo = (size_t)floor(h);
    if (lo + 1 >= n)
        return sorted[n - 1];
    return sorted[lo] + (h - (double)lo) * (sorted[lo + 1] - sorted[lo]);
}

/* ---- parameters ---- */

static bool all_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i]))
            return false;
    return true;
}

/* KPI_QUARTER for "2017Q2", KPI_MONTH for "2017-06", -1 otherwise. */
static int period_kind(const char *s)
{
    size_t n = strlen(s);
    if (n == 6 && all_digits(s, 4) && s[4] == 'Q' && s[5] >= '1' && s[5] <= '4')
        return KPI_QUARTER;
    if (n == 7 && all_digits(s, 4) && s[4] == '-' && all_digits(s + 5, 2) &&
        atoi(s + 5) >= 1 && atoi(s + 5) <= 12)
        return KPI_MONTH;
    return -1;
}

static int parse_date(const char *name, const char *s, char out[11], struct ax_err *err)
{
    out[0] = '\0';
    if (!s)
        return 0;
    char canon[TIME_TEXT_MAX];
    if (strlen(s) != 10 || time_canon_date(s, DATE_YMD, canon))
        return ax_fail(err, AX_EBADREQ, "%s must be a date, YYYY-MM-DD", name);
    memcpy(out, canon, 10);
    out[10] = '\0';
    return 0;
}

int kpi_parse(const char *group, const char *from, const char *to, const char *compare,
              struct kpi_query *q, struct ax_err *err)
{
    static const char *const groups[] = {"quarter", "month", "owner", "product", NULL};
    memset(q, 0, sizeof *q);
    int g = group ? -1 : KPI_QUARTER;
    for (int i = 0; group && groups[i]; i++)
        if (!strcmp(group, groups[i]))
            g = i;
    if (g < 0)
        return ax_fail(err, AX_EBADREQ, "group must be quarter, month, owner or product");
    q->group = (enum kpi_group)g;
    if (parse_date("from", from, q->from, err) || parse_date("to", to, q->to, err))
        return -1;
    if (q->from[0] && q->to[0] && strcmp(q->from, q->to) > 0)
        return ax_fail(err, AX_EBADREQ, "from must not be after to");
    if (!compare)
        return 0;
    if (!strcmp(compare, "suggestions")) {
        q->compare = KPI_COMPARE_SUGGESTIONS;
        return 0;
    }
    const char *comma = strchr(compare, ',');
    size_t la = comma ? (size_t)(comma - compare) : 0;
    if (!comma || la >= sizeof q->a || strlen(comma + 1) >= sizeof q->b)
        return ax_fail(err, AX_EBADREQ, "compare is two periods (2017Q1,2017Q2 or "
                                         "2017-01,2017-02) or 'suggestions'");
    memcpy(q->a, compare, la);
    q->a[la] = '\0';
    snprintf(q->b, sizeof q->b, "%s", comma + 1);
    int ka = period_kind(q->a), kb = period_kind(q->b);
    if (ka < 0 || ka != kb)
        return ax_fail(err, AX_EBADREQ, "compare is two quarters (2017Q1,2017Q2) or two months "
                                         "(2017-01,2017-02)");
    if (group && g != ka)
        return ax_fail(err, AX_EBADREQ, "compare names %s; use group=%s or leave group out",
                       groups[ka], groups[ka]);
    q->group = (enum kpi_group)ka;
    q->compare = KPI_COMPARE_PERIODS;
    return 0;
}

/* ---- statistics ---- */

struct series {
    double *v;
    size_t n, cap;
    long won, lost;
};

static int series_add(struct series *s, double days, bool won)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        double *v = realloc(s->v, cap * sizeof *v);
        if (!v)
            return -1;
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n++] = days;
    if (won)
        s->won++;
    else
        s->lost++;
    return 0;
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double round2(double v) { return round(v * 100.0) / 100.0; }

/* Statistics of a series (sorted here if `sort`), as a new object. */
static json_t *stats(const struct series *s, bool sort)
{
    if (sort && s->n)
        qsort(s->v, s->n, sizeof *s->v, by_value);
    json_t *o = json_pack("{s:I,s:I,s:I}", "count", (json_int_t)s->n, "won", (json_int_t)s->won,
                          "lost", (json_int_t)s->lost);
    if (!s->n) {
        const char *none[] = {"mean_days", "median_days", "p25_days", "p75_days"};
        for (int i = 0; i < 4; i++)
            json_object_set_new(o, none[i], json_null());
        return o;
    }
    double sum = 0;
    for (size_t i = 0; i < s->n; i++)
        sum += s->v[i];
    json_object_set_new(o, "mean_days", json_real(round2(sum / (double)s->n)));
    json_object_set_new(o, "median_days", json_real(kpi_quantile(s->v, s->n, 0.5)));
    json_object_set_new(o, "p25_days", json_real(kpi_quantile(s->v, s->n, 0.25)));
    json_object_set_new(o, "p75_days", json_real(kpi_quantile(s->v, s->n, 0.75)));
    return o;
}

static json_t *ratio(json_t *a, json_t *b)
{
    json_t *ma = json_object_get(a, "median_days"), *mb = json_object_get(b, "median_days");
    if (!json_is_real(ma) || !json_is_real(mb) || json_real_value(ma) <= 0)
        return json_null();
    return json_real(round(json_real_value(mb) / json_real_value(ma) * 10000.0) / 10000.0);
}

/* ---- the query ---- */

/* Group keys and labels are fixed SQL; nothing from the request is in it. */
static const char *const key_sql[] = {
    [KPI_QUARTER] = "strftime('%Y', d.close_date) || 'Q' || "
                    "((CAST(strftime('%m', d.close_date) AS INTEGER) + 2) / 3)",
    [KPI_MONTH] = "substr(d.close_date, 1, 7)",
    [KPI_OWNER] = "COALESCE(d.owner_id, '')",
    [KPI_PRODUCT] = "COALESCE(d.product_id, '')",
};
static const char *const label_sql[] = {
    [KPI_QUARTER] = "NULL",
    [KPI_MONTH] = "NULL",
    [KPI_OWNER] = "(SELECT name FROM users u WHERE u.tenant_id=d.tenant_id AND u.id=d.owner_id)",
    [KPI_PRODUCT] = "(SELECT name FROM products p WHERE p.tenant_id=d.tenant_id "
                    "AND p.id=d.product_id)",
};
static const char *const group_names[] = {"quarter", "month", "owner", "product"};

/* A deal "followed a suggestion" when one about it or its customer was
 * accepted no later than the day it was decided. */
#define FOLLOWED_SQL                                                                             \
    "EXISTS (SELECT 1 FROM suggestions s WHERE s.tenant_id=d.tenant_id "                         \
    "AND s.accepted_at IS NOT NULL AND s.accepted_at < date(d.close_date, '+1 day') "            \
    "AND (s.deal_id=d.id OR s.customer_id=d.customer_id))"

static int build_sql(const struct kpi_query *q, char *sql, size_t n)
{
    int len = snprintf(sql, n,
        "WITH outcome(pipeline_id, stage, outcome) AS ("
        " SELECT p.id, json_extract(s.value, '$.key'), json_extract(s.value, '$.outcome')"
        " FROM pipelines p, json_each(p.stages) s WHERE p.tenant_id=?1"
        " AND json_extract(s.value, '$.outcome') IN ('won','lost')) "
        "SELECT %s, %s, julianday(d.close_date) - julianday(d.engage_date), o.outcome, %s "
        "FROM deals d JOIN outcome o ON o.pipeline_id=d.pipeline_id AND o.stage=d.stage "
        "WHERE d.tenant_id=?1 AND d.engage_date IS NOT NULL AND d.close_date IS NOT NULL "
        "AND d.close_date >= d.engage_date AND (?2 IS NULL OR d.close_date >= ?2) "
        "AND (?3 IS NULL OR d.close_date <= ?3) ORDER BY 1, 3",
        key_sql[q->group], label_sql[q->group],
        q->compare == KPI_COMPARE_SUGGESTIONS ? FOLLOWED_SQL : "0");
    return len > 0 && (size_t)len < n ? 0 : -1;
}

static json_t *group_row(const char *key, const char *label, struct series *s)
{
    json_t *o = stats(s, false);   /* rows come sorted by days within a group */
    json_t *row = json_pack("{s:s,s:s?}", "key", key, "label", label);
    json_object_update(row, o);
    json_decref(o);
    return row;
}

/* Rates and days read better as 0.2 than as 0.20000000000000001. */
static int dump_rounded(struct buf *out, json_t *doc)
{
    char *s = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(12));
    int rc = s ? buf_adds(out, s) : -1;
    free(s);
    return rc;
}

int kpi_decision_chain(struct db *d, int64_t tenant, const struct kpi_query *q, struct buf *out,
                       struct ax_err *err)
{
    char sql[2048];
    if (build_sql(q, sql, sizeof sql))
        return ax_fail(err, AX_EINTERNAL, "KPI query too long");
    sqlite3_stmt *st = db_prep(d, sql, err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, tenant);
    sqlite3_bind_text(st, 2, q->from[0] ? q->from : NULL, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, q->to[0] ? q->to : NULL, -1, SQLITE_STATIC);
    json_t *data = json_array();
    struct series cur = {0}, all = {0}, with = {0}, without = {0};
    char key[96] = "", label[256] = "";
    bool has_label = false, oom = false;
    while (!oom && sqlite3_step(st) == SQLITE_ROW) {
        const char *k = (const char *)sqlite3_column_text(st, 0);
        const char *l = (const char *)sqlite3_column_text(st, 1);
        double days = sqlite3_column_double(st, 2);
        bool won = strcmp((const char *)sqlite3_column_text(st, 3), "won") == 0;
        if (!k)
            k = "";
        if (cur.n && strcmp(k, key) != 0) {
            json_array_append_new(data, group_row(key, has_label ? label : NULL, &cur));
            cur.n = 0;
            cur.won = cur.lost = 0;
        }
        if (!cur.n) {
            snprintf(key, sizeof key, "%s", k);
            has_label = l != NULL;
            snprintf(label, sizeof label, "%s", l ? l : "");
        }
        oom = series_add(&cur, days, won) || series_add(&all, days, won) ||
              (q->compare == KPI_COMPARE_SUGGESTIONS &&
               series_add(sqlite3_column_int(st, 4) ? &with : &without, days, won));
    }
    db_reset(st);
    if (cur.n)
        json_array_append_new(data, group_row(key, has_label ? label : NULL, &cur));
    json_t *compare = json_null();
    if (q->compare == KPI_COMPARE_SUGGESTIONS) {
        json_t *a = stats(&without, true), *b = stats(&with, true);
        json_object_set_new(a, "key", json_string("without"));
        json_object_set_new(b, "key", json_string("with"));
        compare = json_pack("{s:s,s:o,s:o,s:o}", "by", "suggestions", "ratio", ratio(a, b),
                            "a", a, "b", b);
    } else if (q->compare == KPI_COMPARE_PERIODS) {
        json_t *a = NULL, *b = NULL;
        size_t i;
        json_t *row;
        json_array_foreach(data, i, row) {
            const char *k = json_string_value(json_object_get(row, "key"));
            if (!strcmp(k, q->a))
                a = json_incref(row);
            if (!strcmp(k, q->b))
                b = json_incref(row);
        }
        struct series none = {0};
        if (!a)
            a = group_row(q->a, NULL, &none);
        if (!b)
            b = group_row(q->b, NULL, &none);
        compare = json_pack("{s:s,s:o,s:o,s:o}", "by", "periods", "ratio", ratio(a, b), "a", a,
                            "b", b);
    }
    json_t *doc = json_pack("{s:s,s:s,s:s,s:s,s:o,s:o,s:o,s:o,s:o}", "object", "kpi", "kpi",
                            "decision-chain", "group", group_names[q->group], "basis",
                            "close_date", "from", q->from[0] ? json_string(q->from) : json_null(),
                            "to", q->to[0] ? json_string(q->to) : json_null(), "data", data,
                            "total", stats(&all, true), "compare", compare);
    free(cur.v);
    free(all.v);
    free(with.v);
    free(without.v);
    int rc = oom || !doc || dump_rounded(out, doc) ? ax_fail(err, AX_EINTERNAL, "out of memory") : 0;
    json_decref(doc);
    return rc;
}
