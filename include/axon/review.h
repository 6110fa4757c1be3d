/*
 * review.h - the review audit of suggestions: each month a reproducible
 * random 5% sample of the month's suggestions (at least one per rule) goes
 * into a review queue; reviewers record whether each suggestion shortened
 * the path to the customer's decision, and why; a per-rule report sets
 * acceptance against reviewer-confirmed value and flags rules of "no
 * business value".
 *
 * Sample of month M (suggestions created in M, UTC) for tenant T:
 *   n = max(ceil(5% of N), R)          N suggestions, R distinct rules
 *   seats: largest-remainder (Hamilton) allocation of n in proportion to
 *          each rule's count, then every rule left without a seat gets one,
 *          taken from the rule holding the most seats (review_allocate);
 *   which: seed = SHA-256("axon-review\0" T's id "\0" M); each suggestion
 *          scores SHA-256(seed ‖ its id); a rule's seats go to its lowest
 *          scores (ties of remainders also break by the seed).
 * The sample is stored on first draw; drawing M again returns it, so later
 * suggestions of a month drawn early are not in it.
 *
 * Owns the tables review_samples and reviews. Output buffers belong to
 * the caller.
 */
#ifndef AXON_REVIEW_H
#define AXON_REVIEW_H

#include <stdbool.h>
#include <stdint.h>

#include "axon/buf.h"
#include "axon/ctx.h"
#include "axon/db.h"
#include "axon/timefmt.h"

#define REVIEW_PERCENT 5

/* "YYYY-MM" (2000-01 … 2999-12) -> the month's first instant and the next
 * month's, as stored times. 0, or -1 when `month` is not a month. */
int review_month_range(const char *month, char start[TIME_TEXT_MAX], char end[TIME_TEXT_MAX]);

/* The month ("YYYY-MM") an instant falls in, `back` months earlier. */
void review_month_of(int64_t ms, int back, char out[8]);

/* Seats per rule for populations pop[0..nrules) (each > 0): fills
 * seats[] and returns the sample size, max(ceil(5% of the total), nrules).
 * `tiebreak` (may be NULL: by index) orders equal remainders, lowest first. */
int64_t review_allocate(const int64_t *pop, int nrules, const uint64_t *tiebreak, int64_t *seats);

/* Draw the sample of `month` for c's tenant, or find the stored one
 * (*drawn tells which). 422 when the month has no suggestions. Appends
 * {"object":"review_sample","id","month","seed","population","size",
 *  "rules":[{rule,population,sampled}],"suggestion_ids":[…],"review_ids":[…],
 *  "drawn_at","drawn_by","drawn_now"}. Audited on first draw. */
int review_draw(struct db *d, const struct ax_ctx *c, const char *month, bool *drawn,
                struct buf *out, struct ax_err *err);

/* The queue, in sample order: month and status ("pending"/"done") and rule
 * may be NULL. `after` is the previous page's `next` (0: from the start).
 * Each review embeds its suggestion (null once deleted). */
int review_list(struct db *d, int64_t tenant, const char *month, const char *status,
                const char *rule, int limit, int64_t after, bool count, struct buf *out,
                struct ax_err *err);

/* Record a reviewer's verdict (audited; a later verdict replaces it).
 * Appends the review. 404 for another tenant's. */
int review_verdict(struct db *d, const struct ax_ctx *c, const char *id, bool shortened,
                   const char *reason, struct buf *out, struct ax_err *err);

/* When a rule is flagged "no business value": acceptance at least
 * min_acceptance, confirmed value at most max_confirmed, over at least
 * min_reviews reviews. */
struct review_thresholds {
    double min_acceptance;
    double max_confirmed;
    int min_reviews;
};
extern const struct review_thresholds review_default_thresholds;

/* Per rule of the month: volume, accepted, dismissed, open, expired,
 * acceptance_rate = accepted / (accepted + dismissed), sampled, reviewed,
 * confirmed (shortened), confirmed_rate = confirmed / reviewed, gap =
 * acceptance_rate - confirmed_rate, flag "no business value" or null. */
int review_report(struct db *d, int64_t tenant, const char *month,
                  const struct review_thresholds *t, struct buf *out, struct ax_err *err);

/* Draw last month's (relative to now_ms) sample for up to
 * REVIEW_DRAW_BATCH tenants that made suggestions then and have none; a
 * writer operation for the dispatcher. Returns the samples drawn, -1 on
 * error. */
#define REVIEW_DRAW_BATCH 64
int review_draw_missing(struct db *d, int64_t now_ms, struct ax_err *err);

#endif
