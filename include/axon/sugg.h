/*
 * sugg.h - what happens to a suggestion after a rule made it, and the
 * status of the rules that make them.
 *
 * Lifecycle (status is the source of truth; the times say when):
 *   open -> accepted -> completed      accepted_at, completed_at, decided_by
 *   open -> completed                  (done without accepting first: accepted too)
 *   open -> dismissed                  dismissed_at, decided_by; a reason is required
 *   open -> expired                    expires_at passed (the dispatcher, each second)
 * Any other change of status is refused (409 "decided"); deciding an open
 * suggestion whose expires_at passed is refused too (409 "expired"). The
 * rules run on every suggestion write (REST, packs, the endpoints below),
 * called from objects.c, so outcomes are validated, audited and evented by
 * the store like any change.
 *
 * Rules: a suggestion's `rule` ("<pack>/<rule>") names what made it. A rule
 * is active until an admin retires it; a retired rule makes no more
 * suggestions (axon.suggest returns nil, REST creation answers 409
 * "rule-retired"). Owns the table suggestion_rules.
 *
 * Output buffers and store results belong to the caller.
 */
#ifndef AXON_SUGG_H
#define AXON_SUGG_H

#include <jansson.h>
#include <stdint.h>

#include "axon/buf.h"
#include "axon/ctx.h"
#include "axon/db.h"
#include "axon/store.h"

enum sugg_outcome { SUGG_ACCEPT, SUGG_DISMISS, SUGG_COMPLETE };

/* The lifecycle rules for a suggestion about to be written (`old` NULL on
 * create): checks the transition, stamps the times and decided_by. */
int sugg_prepare(struct db *d, const struct ax_ctx *c, json_t *old, json_t *rec,
                 struct ax_err *err);

/* Accept, dismiss or complete suggestion `id` of c's tenant. `note` (may be
 * NULL, required to dismiss) becomes status_reason. if_version < 0: no
 * check (else 412 when it changed). 404 for another tenant's, 409
 * "decided" when the outcome no longer applies, 409 "expired". */
int sugg_decide(struct db *d, const struct ax_ctx *c, const char *id, enum sugg_outcome outcome,
                const char *note, int64_t if_version, struct store_result *out,
                struct ax_err *err);

/* Is the rule retired in the tenant? 1 yes, 0 no, -1 error. */
int sugg_rule_retired(struct db *d, int64_t tenant, const char *rule, struct ax_err *err);

/* The rules the tenant's suggestions name, with status and counts:
 * {"data":[{rule,status,volume,open,accepted,dismissed,expired,first_seen,
 * last_seen,reason,changed_at,changed_by}…],"next":null}. */
int sugg_rules_list(struct db *d, int64_t tenant, struct buf *out, struct ax_err *err);

/* Retire a rule (audited as object "rules", id = the rule). 404 when no
 * suggestion of the tenant names it, 409 "rule-retired" when retired
 * already. Appends the rule as sugg_rules_list shows it. */
int sugg_rule_retire(struct db *d, const struct ax_ctx *c, const char *rule, const char *reason,
                     struct buf *out, struct ax_err *err);

/* Expire up to `max` open suggestions of any tenant whose expires_at is
 * before `now_ms`, each through the store with a system actor. A writer
 * operation; returns how many expired, -1 on error. */
int sugg_expire_due(struct db *d, int64_t now_ms, int max, struct ax_err *err);

/* Background upkeep, called by the dispatcher each round with its read
 * connection: expiry (at most once a second, one indexed probe when there
 * is nothing to do) and last month's review samples (at most hourly).
 * Failures are logged, not returned. Thread-safe. */
void sugg_upkeep(struct db *rd);

#endif
