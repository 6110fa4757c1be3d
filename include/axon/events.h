/*
 * events.h - what happens when a record changes. Every create, update and
 * delete of a customer, contact, product, deal, ticket or activity is an
 * event ("deals.created", "tickets.updated", "customers.deleted"), and so
 * is a deal's move to another stage ("deals.stage_changed"). The store
 * calls in here inside the write's transaction:
 *
 *   event_before  runs the published before handlers in their order; each
 *                 may change event.record (checked like client input) or
 *                 reject the write with axon.reject (the API answers 422).
 *                 A handler that fails or runs out of budget fails the
 *                 write too (422 "workflow-error"): a check that cannot
 *                 run must not let the write through unchecked.
 *   event_after   writes the event and one delivery per published after
 *                 handler (tables events, deliveries: the durable outbox)
 *                 in the same transaction, so a delivery exists exactly
 *                 when the write committed.
 *
 * Deliveries run on the writer thread (event_run_delivery, called by the
 * dispatcher): each attempt runs the handler in a savepoint, so its writes
 * commit together with the delivery's success or not at all; a failed
 * attempt is retried with exponential backoff and, after the last attempt,
 * dead-lettered with its error. Handlers get the event id for idempotency
 * and the attempt number.
 *
 * A simulation (replays and pack tests) replaces the published handlers by
 * one pack version's for the calling thread, runs after handlers at once
 * instead of queueing them, and reports every run (event_sim_begin/end).
 *
 * All SQL of `events` and `deliveries` is here. Output buffers belong to
 * the caller.
 */
#ifndef AXON_EVENTS_H
#define AXON_EVENTS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "axon/buf.h"
#include "axon/ctx.h"
#include "axon/db.h"
#include "axon/lua_rt.h"
#include "axon/model.h"
#include "axon/packs.h"

#define EVENT_MAX_DEPTH 4     /* handler writes that lead to further events */

void event_init(void);        /* transaction hooks (once, at start) */

/* Does this object type have events? */
bool event_object(const struct object_def *def);

/* `action` is "created", "updated" or "deleted". `rec` is the record about
 * to be written (NULL on delete) and may be changed: *changed says so, and
 * the store then checks it again. `old` is the stored document (NULL on
 * create). */
int event_before(struct db *d, const struct ax_ctx *c, const struct object_def *def,
                 const char *action, json_t *old, json_t *rec, bool *changed,
                 struct ax_err *err);

/* After the write: `doc` is the new document as stored (NULL on delete),
 * `old` the previous one (NULL on create), `changes` the audit diff. */
int event_after(struct db *d, const struct ax_ctx *c, const struct object_def *def,
                const char *action, const char *id, json_t *old, const char *doc,
                json_t *changes, struct ax_err *err);

/* Woken after a commit that queued deliveries (the dispatcher sets it). */
void event_set_wake(void (*wake)(void));

/* ---- the outbox ---- */

/* Pending deliveries due at `now_ms`, oldest first. Returns how many. */
int event_due(struct db *d, int64_t now_ms, int64_t *rids, int max, struct ax_err *err);

/* Run one delivery (on the writer thread, inside its transaction). */
int event_run_delivery(struct db *d, int64_t rid, struct ax_err *err);

/* Fire a due schedule: a delivery of kind schedule, and the next time. */
int event_fire_schedule(struct db *d, const struct pack_schedule_due *s, struct ax_err *err);

/* Deliveries of a pack (`status` filters: pending, done, dead, skipped),
 * newest first, or of all packs with pack_id NULL. */
int event_deliveries(struct db *d, int64_t tenant, const char *pack_id, const char *status,
                     int limit, int64_t before, struct buf *out, struct ax_err *err);

/* Put a dead-lettered delivery back in the queue (attempts start over). */
int event_retry(struct db *d, const struct ax_ctx *c, const char *delivery_id,
                struct buf *out, struct ax_err *err);

/* ---- simulation ---- */

struct event_sim {
    const struct pack_version *version;   /* the version whose handlers run */
    const char *tenant_id;
    /* Where Lua states come from: a handler whose write triggers another
     * handler needs a second state while the first is busy. */
    struct lua_rt *(*acquire)(void *arg, struct ax_err *err);
    void (*release)(void *arg, struct lua_rt *rt);
    void *arg;
    json_t *runs;                         /* array the caller owns: one entry per run */
    int events;                           /* after events simulated */
};

void event_sim_begin(struct event_sim *s);
void event_sim_end(void);

#endif
