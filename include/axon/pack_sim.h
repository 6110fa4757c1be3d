/*
 * pack_sim.h - running a pack version without consequences: the dry-run
 * replay ("digital twin") and a pack's own tests.
 *
 * A replay takes a list of events - writes that could happen:
 *   {"type":"tickets.created","record":{…}}
 *   {"type":"deals.updated","id":"deal_…","changes":{…}}
 *   {"type":"deals.stage_changed","id":"deal_…","stage":"won"}
 *   {"type":"customers.deleted","id":"cus_…"}
 * as a JSON array, {"events":[…]} or NDJSON, and makes each write against
 * the tenant's real data with the version's before and after handlers
 * (not the published ones), inside a savepoint that is always rolled back.
 * The report lists, per event, the write and every handler run with what
 * it would have done (writes, suggestions, approvals, outbound calls,
 * e-mails, log lines). Nothing persists and nothing is sent. It runs as
 * one operation of the writer (the savepoint needs the write lock).
 *
 * Pack tests are the pack's tests/NAME.lua modules: each returns a table of
 * functions named test_*; they run before a version is stored, in a
 * scratch in-memory database holding a scratch tenant and the fixtures of
 * tests/fixtures.json, each test in a savepoint of its own. Besides the
 * host API they get axon.test: emit(event) makes a write as a replay does
 * and returns {ok, record, error, runs}; ref(name) the id of a fixture;
 * eq(actual, expected [, message]) and ok(value [, message]) assert.
 *
 * Reports are JSON the caller owns.
 */
#ifndef AXON_PACK_SIM_H
#define AXON_PACK_SIM_H

#include <jansson.h>

#include "axon/buf.h"
#include "axon/ctx.h"
#include "axon/db.h"
#include "axon/pack_bundle.h"
#include "axon/packs.h"

#define SIM_MAX_EVENTS 10000
#define SIM_MAX_SECONDS 20
#define SIM_MAX_TESTS 200

/* Parse a replay body (JSON array, {"events":[…]} or NDJSON) into an
 * array of checked events (new reference), or NULL with err. */
json_t *sim_parse_events(const char *body, size_t len, struct ax_err *err);

/* Replay `events` (checked) with version `v` on `d` (the writer's). With
 * `summary_only` the report leaves out the per-event detail. */
int sim_replay(struct db *d, const struct ax_ctx *c, const struct pack_version *v,
               json_t *events, bool summary_only, struct buf *out, struct ax_err *err);

/* Run the bundle's tests. *report gets {"passed","failed","results":[…]};
 * *failed the number of failed tests (a missing fixture or a test file that
 * does not load counts as a failure). -1 only when the tests cannot run. */
int sim_pack_tests(const struct pack_bundle *b, json_t **report, int *failed,
                   struct ax_err *err);

#endif
