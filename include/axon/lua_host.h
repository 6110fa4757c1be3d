/*
 * lua_host.h - the host API: the `axon` table a pack's scripts reach Axon
 * through. Scripts touch data only here, and every call
 *   - checks the pack's declared permissions (pack_perm.h) at run time: a
 *     call beyond them stops the run (lua_rt_abort; pcall cannot catch it);
 *   - is charged against the run's budget (host calls, rows written);
 *   - goes through the store (store.h) with the pack version as the actor,
 *     so tenancy, validation, audit and events are those of the REST API.
 *
 *   axon.<object>.get(id)                    record or nil
 *   axon.<object>.find(filter [, opts])      array of records, next cursor
 *   axon.<object>.count(filter)              integer
 *   axon.<object>.create(fields)             record
 *   axon.<object>.update(id, patch [, opts]) record (opts.if_version)
 *   axon.<object>.delete(id)                 true
 *   axon.notes.add{…}, axon.tasks.add{…}     activity of kind note / task
 *   axon.suggest{title=…, …}                 suggestion (merged by key)
 *   axon.approvals.request{title=…, …}       approval, pending
 *   axon.http.get/post/put(url, …)           queued outbound call
 *   axon.email.send{to=…, subject=…, body=…} queued e-mail
 *   axon.intents.match(text)                 intents with evidence, dictionary version
 *   axon.intents.profile(customer_id)        decaying intent profile or nil
 *   axon.sentiment(text)                     number in [-1, 1]
 *   axon.tags.get(id)                        an activity's or ticket's tags or nil
 *   axon.log(…), axon.now(), axon.json.*, axon.text.*, axon.null,
 *   axon.reject(message [, field]), axon.settings
 *
 * A filter is a table of field = value, or field = {op = value} with op
 * one of eq, ne, lt, lte, gt, gte, in, null, contains: the list filters of
 * the REST API, allow-listed the same way.
 *
 * Each call runs with a `struct host_env` (lua_run.host) the caller owns:
 * it says which connection and transaction, which tenant and pack version,
 * and whether effects are captured (replays and pack tests).
 */
#ifndef AXON_LUA_HOST_H
#define AXON_LUA_HOST_H

#include <jansson.h>
#include <lua.h>
#include <stdbool.h>

#include "axon/ctx.h"
#include "axon/db.h"
#include "axon/packs.h"

struct host_env {
    struct db *d;                 /* the connection whose transaction the run is in */
    struct ax_ctx ctx;            /* the tenant; actor = the pack version */
    char source[120];             /* "pack:ticket-router@1.2.0" (ctx.source) */
    char event_id[ID_MAX];        /* the event being handled (ctx.request_id) */
    const struct pack_version *version;
    json_t *settings;             /* owned: values the pack runs with */
    bool before;                  /* a before handler: reads only */
    bool dry;                     /* replay or test: nothing leaves the machine */
    json_t *effects;              /* owned array when dry: every write, suggestion … */
    json_t *logs;                 /* owned array: axon.log lines of this run */
    void *sim;                    /* pack tests: the simulator behind axon.test */
};

/* Fill `e` for a run of `v` in tenant `tenant_id` on `d`; the settings are
 * read from the pack's publication. Release with host_env_release. */
int host_env_init(struct host_env *e, struct db *d, const char *tenant_id,
                  const struct pack_version *v, bool dry, struct ax_err *err);
void host_env_release(struct host_env *e);

/* lua_rt_install_fn: add `axon` to a fresh state. `arg` may point to a
 * struct host_extra whose `add` puts more members into the `axon` table
 * (on top of the stack) before it is sealed: pack tests add axon.test. */
struct host_extra {
    void (*add)(lua_State *L);
};
void host_install(lua_State *L, void *arg);

/* Record an effect of a dry run (host functions, and the simulator for
 * the writes it makes itself). Steals `effect`. */
void host_capture(struct host_env *e, json_t *effect);

/* Run `fn` ("module.function") of the state under `budget` with `event` as
 * its argument. `event_back` (may be NULL) gets the event table as the
 * handler left it (before handlers change event.record). Returns 0, or -1
 * with run->error and err; err->type is "rejected" when the script called
 * axon.reject. */
int host_call(struct lua_rt *rt, struct host_env *env, const char *fn, json_t *event,
              const struct lua_budget *budget, json_t **event_back, struct lua_run *run,
              struct ax_err *err);

/* The budget for a phase in a tenant: Axon's default, the tenant's
 * override (tenants.settings.workflow_budget.<phase>), then the manifest's
 * own (which can only lower it). */
void host_budget(struct db *d, int64_t tenant, json_t *manifest, bool before,
                 struct lua_budget *out);

/* The range a tenant's override may take for a phase (either may be NULL). */
void host_budget_limits(bool before, struct lua_budget *floor, struct lua_budget *ceiling);

#endif
