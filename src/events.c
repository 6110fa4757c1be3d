/* events.c - before handlers in the write, after handlers through the outbox. */
#include "axon/events.h"

#include "axon/config.h"
#include "axon/ids.h"
#include "axon/jx.h"
#include "axon/log.h"
#include "axon/lua_host.h"
#include "axon/timefmt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const event_objects[] = {"customers", "contacts", "products", "deals",
                                            "tickets", "activities", NULL};

static __thread struct event_sim *sim;     /* a simulation running on this thread */
static __thread int depth;                 /* handler writes leading to this one */
static __thread bool queued;               /* this transaction queued deliveries */
static void (*wake_fn)(void);

static void forget_queued(size_t mark)
{
    if (mark == 0)
        queued = false;
}

static void after_commit(void)
{
    if (queued && wake_fn)
        wake_fn();
    queued = false;
}

static const struct db_txn_hooks hooks = {.after_commit = after_commit, .undo = forget_queued};

void event_init(void) { db_add_txn_hooks(&hooks); }
void event_set_wake(void (*wake)(void)) { wake_fn = wake; }

bool event_object(const struct object_def *def)
{
    for (int i = 0; event_objects[i]; i++)
        if (!strcmp(def->name, event_objects[i]))
            return true;
    return false;
}

static bool stage_moved(const struct object_def *def, json_t *old, json_t *rec)
{
    if (strcmp(def->name, "deals") || !old || !rec)
        return false;
    return !json_equal(json_object_get(old, "stage"), json_object_get(rec, "stage"));
}

/* The event types of a write: "<object>.<action>", plus the stage change. */
static int event_types(const struct object_def *def, const char *action, bool moved,
                       char names[2][48], const char *types[3])
{
    snprintf(names[0], 48, "%s.%s", def->name, action);
    types[0] = names[0];
    int n = 1;
    if (moved) {
        snprintf(names[1], 48, "deals.stage_changed");
        types[n++] = names[1];
    }
    types[n] = NULL;
    return n;
}

static const char *unit_of(json_t *rec, json_t *old)
{
    const char *u = json_string_value(json_object_get(rec, "unit_id"));
    return u ? u : json_string_value(json_object_get(old, "unit_id"));
}

/* Handlers to run: the published ones, or in a simulation the version's. */
static int handlers_for(struct db *d, int64_t tenant, const char *const *types, int ntypes,
                        const char *phase, struct pack_handler *out, struct ax_err *err)
{
    if (!sim)
        return packs_handlers(d, tenant, types, ntypes, phase, out, PACKS_MAX_HANDLERS, err);
    int n = 0;
    size_t i;
    json_t *h;
    json_array_foreach(json_object_get(sim->version->manifest, "handlers"), i, h) {
        const char *ev = json_string_value(json_object_get(h, "event"));
        if (strcmp(json_string_value(json_object_get(h, "phase")), phase) || n == PACKS_MAX_HANDLERS)
            continue;
        for (int k = 0; k < ntypes; k++)
            if (ev && !strcmp(ev, types[k])) {
                memset(&out[n], 0, sizeof out[n]);
                out[n].version_rid = sim->version->rid;
                out[n].pack_rid = sim->version->pack_rid;
                snprintf(out[n].fn, sizeof out[n].fn, "%s",
                         json_string_value(json_object_get(h, "fn")));
                snprintf(out[n].event, sizeof out[n].event, "%s", ev);
                n++;
            }
    }
    return n;
}

/* The version a handler belongs to (the simulated one needs no lookup:
 * pack tests run it before it is stored). Release with packs_version_release. */
static int handler_version(struct db *d, const struct pack_handler *h, struct pack_version *v,
                           struct ax_err *err)
{
    if (sim && h->version_rid == sim->version->rid) {
        *v = *sim->version;
        json_incref(v->manifest);
        return 0;
    }
    return packs_version_by_rid(d, h->version_rid, v, err);
}

static bool in_scope(const struct pack_handler *h, json_t *rec, json_t *old)
{
    if (!h->unit_id[0])
        return true;
    const char *u = unit_of(rec, old);
    return u && !strcmp(u, h->unit_id);
}

/* ---- running one handler ---- */

struct handler_call {
    const struct pack_version *v;
    const char *tenant_id;
    const char *fn, *phase, *event_type;
    const char *event_id, *delivery_id;
    json_t *event;
    json_t **event_back;     /* before handlers */
};

static struct lua_rt *acquire_state(struct db *d, const struct pack_version *v,
                                    struct ax_err *err)
{
    if (sim && v->rid == sim->version->rid)
        return sim->acquire(sim->arg, err);
    return packs_state(d, v, err);
}

static void release_state(const struct pack_version *v, struct lua_rt *rt)
{
    if (sim && v->rid == sim->version->rid)
        sim->release(sim->arg, rt);
    else
        lua_pool_put(rt);
}

static const char *outcome_of(int rc, const struct ax_err *err, const struct lua_run *run)
{
    if (rc == 0)
        return "ok";
    if (!strcmp(err->type, "rejected"))
        return "rejected";
    return run->killed ? "killed" : "error";
}

static void report_sim_run(const struct handler_call *h, const char *outcome,
                           const struct lua_run *run, struct host_env *env)
{
    json_t *entry = json_pack("{s:s,s:s,s:s,s:s,s:f,s:I,s:I}", "phase", h->phase, "event",
                              h->event_type, "fn", h->fn, "outcome", outcome, "duration_ms",
                              run->elapsed_ms, "instructions", run->instructions, "rows",
                              run->rows);
    if (run->error[0])
        json_object_set_new(entry, "error", json_string(run->error));
    if (run->where[0])
        json_object_set_new(entry, "location", json_string(run->where));
    if (run->killed)
        json_object_set_new(entry, "stopped_by", json_string(run->killed));
    json_object_set(entry, "effects", env->effects ? env->effects : json_array());
    if (json_array_size(env->logs))
        json_object_set(entry, "logs", env->logs);
    json_array_append_new(sim->runs, entry);
}

static int call_handler(struct db *d, const struct handler_call *h, struct lua_run *run,
                        struct ax_err *err)
{
    struct host_env env;
    if (host_env_init(&env, d, h->tenant_id, h->v, sim != NULL, err))
        return -1;
    env.before = !strcmp(h->phase, "before");
    snprintf(env.event_id, sizeof env.event_id, "%s", h->event_id ? h->event_id : "");
    struct lua_budget budget;
    host_budget(d, h->v->tenant, h->v->manifest, env.before, &budget);
    struct lua_rt *rt = acquire_state(d, h->v, err);
    int rc = -1;
    memset(run, 0, sizeof *run);
    if (rt) {
        rc = host_call(rt, &env, h->fn, h->event, &budget, h->event_back, run, err);
        release_state(h->v, rt);
    } else {
        snprintf(run->error, sizeof run->error, "%s", err->detail);
    }
    const char *outcome = outcome_of(rc, err, run);
    if (sim) {
        report_sim_run(h, outcome, run, &env);
    } else {
        struct pack_run_entry e = {.tenant = h->v->tenant, .pack_rid = h->v->pack_rid,
                                   .version_rid = h->v->rid, .run = run, .logs = env.logs};
        snprintf(e.event_id, sizeof e.event_id, "%s", h->event_id ? h->event_id : "");
        snprintf(e.delivery_id, sizeof e.delivery_id, "%s", h->delivery_id ? h->delivery_id : "");
        snprintf(e.event, sizeof e.event, "%s", h->event_type);
        snprintf(e.phase, sizeof e.phase, "%s", h->phase);
        snprintf(e.fn, sizeof e.fn, "%s", h->fn);
        snprintf(e.outcome, sizeof e.outcome, "%s", outcome);
        packs_log_run(&e);
    }
    host_env_release(&env);
    return rc;
}

/* ---- before ---- */

static json_t *actor_of(const struct ax_ctx *c)
{
    return json_pack("{s:s,s:s?,s:s?}", "type", c->actor_type ? c->actor_type : "system", "id",
                     c->actor_id[0] ? c->actor_id : NULL, "user_id",
                     c->user_id[0] ? c->user_id : NULL);
}

/* What the handler changed in the record, checked like client input and
 * applied to `rec`. Returns 1 when something changed, 0 nothing, -1 err. */
static int apply_changes(const struct object_def *def, const struct pack_version *v,
                         json_t *rec, json_t *back, bool creating, struct ax_err *err)
{
    if (!json_is_object(back))
        return ax_fail_type(err, AX_EINVALID, "workflow-error",
                            "pack %s: event.record must stay a table", v->name);
    json_t *diff = json_object();
    const char *k;
    json_t *val;
    json_object_foreach(back, k, val) {
        json_t *was = json_object_get(rec, k);
        if (!json_equal(val, was ? was : json_null()))
            json_object_set(diff, k, val);
    }
    json_object_foreach(rec, k, val)
        if (!json_object_get(back, k) && !json_is_null(val))
            json_object_set_new(diff, k, json_null());
    if (json_object_size(diff) == 0) {
        json_decref(diff);
        return 0;
    }
    struct ax_err cerr;
    ax_err_clear(&cerr);
    json_t *checked = model_check_input(def, diff, false, &cerr);
    json_decref(diff);
    if (!checked) {
        *err = cerr;
        char detail[sizeof err->detail];
        char why[480];
        ax_err_summary(&cerr, why, sizeof why);
        snprintf(detail, sizeof detail, "pack %.60s changed the %s in a way Axon refuses: %.270s",
                 v->name, def->singular, why);
        snprintf(err->detail, sizeof err->detail, "%s", detail);
        snprintf(err->type, sizeof err->type, "workflow-error");
        return -1;
    }
    /* A new owner of a new record brings the new owner's unit. */
    if (creating && json_object_get(checked, "owner_id") && !json_object_get(checked, "unit_id"))
        json_object_set_new(rec, "unit_id", json_null());
    json_object_update(rec, checked);
    json_decref(checked);
    return 1;
}

int event_before(struct db *d, const struct ax_ctx *c, const struct object_def *def,
                 const char *action, json_t *old, json_t *rec, bool *changed,
                 struct ax_err *err)
{
    *changed = false;
    if (!event_object(def))
        return 0;
    char names[2][48];
    const char *types[3];
    int ntypes = event_types(def, action, stage_moved(def, old, rec), names, types);
    struct pack_handler hs[PACKS_MAX_HANDLERS];
    int n = handlers_for(d, c->tenant, types, ntypes, "before", hs, err);
    if (n <= 0)
        return n;
    char now[TIME_TEXT_MAX];
    time_format_ms(time_now_ms(), now);
    for (int i = 0; i < n; i++) {
        if (!in_scope(&hs[i], rec, old))
            continue;
        struct pack_version v;
        if (handler_version(d, &hs[i], &v, err))
            return -1;
        json_t *event = json_pack("{s:n,s:s,s:s,s:s,s:s,s:O?,s:O?,s:o,s:s?,s:s,s:i}", "id",
                                  "type", hs[i].event, "object", def->name, "action", action,
                                  "phase", "before", "record", rec, "old", old, "actor",
                                  actor_of(c), "source", c->source, "at", now, "depth", depth);
        json_t *back = NULL;
        struct lua_run run;
        struct handler_call h = {.v = &v, .tenant_id = c->tenant_id, .fn = hs[i].fn,
                                 .phase = "before", .event_type = hs[i].event, .event = event,
                                 .event_back = &back};
        int rc = call_handler(d, &h, &run, err);
        json_decref(event);
        if (rc == 0) {
            int applied = apply_changes(def, &v, rec, json_object_get(back, "record"),
                                        old == NULL, err);
            rc = applied < 0 ? -1 : 0;
            if (applied > 0)
                *changed = true;
        } else if (strcmp(err->type, "rejected")) {
            char detail[sizeof err->detail];
            snprintf(detail, sizeof detail, "the workflow pack %.50s (%.50s) failed, so the write was "
                     "not made: %.200s", v.name, hs[i].fn, run.error[0] ? run.error : err->detail);
            ax_fail_type(err, AX_EINVALID, "workflow-error", "%s", detail);
        }
        json_decref(back);
        packs_version_release(&v);
        if (rc)
            return -1;
    }
    return 0;
}

/* ---- after ---- */

static json_t *after_event(const struct ax_ctx *c, const struct object_def *def,
                           const char *action, const char *type, const char *id, json_t *old,
                           const char *doc, json_t *changes, const char *event_id)
{
    char now[TIME_TEXT_MAX];
    time_format_ms(time_now_ms(), now);
    json_t *record = doc ? json_loads(doc, 0, NULL) : NULL;
    return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:o,s:O?,s:O?,s:o,s:s?,s:s,s:i}", "id", event_id,
                     "type", type, "object", def->name, "action", action, "phase", "after",
                     "record_id", id, "record", record ? record : json_null(), "old", old,
                     "changes", changes, "actor", actor_of(c), "source", c->source, "at", now,
                     "depth", depth);
}

/* In a simulation: run the version's after handlers now, each in a
 * savepoint like a delivery (a failure undoes only its own writes). */
static int run_after_now(struct db *d, const struct ax_ctx *c, json_t *event,
                         const struct pack_handler *h, struct ax_err *err)
{
    struct db_txn_mark mark;
    if (db_savepoint(d, "simafter", &mark, err))
        return -1;
    depth++;
    sim->events++;
    json_object_set_new(event, "attempt", json_integer(1));
    struct lua_run run;
    struct ax_err herr;
    ax_err_clear(&herr);
    struct handler_call call = {.v = sim->version, .tenant_id = c->tenant_id, .fn = h->fn,
                                .phase = "after", .event_type = h->event,
                                .event_id = json_string_value(json_object_get(event, "id")),
                                .event = event};
    int rc = call_handler(d, &call, &run, &herr);
    depth--;
    return db_savepoint_end(d, "simafter", &mark, rc != 0, err);
}

static int queue_event(struct db *d, const struct ax_ctx *c, const char *type, const char *id,
                       json_t *event, const struct pack_handler *hs, int n, struct ax_err *err)
{
    char *payload = jx_dumps(event, 0);
    if (!payload)
        return ax_fail(err, AX_EINTERNAL, "out of memory");
    char now[TIME_TEXT_MAX];
    int64_t ms = time_now_ms();
    time_format_ms(ms, now);
    sqlite3_stmt *st = db_prep(d,
        "INSERT INTO events(tenant_id, id, type, object_id, payload, depth, created_at) "
        "VALUES(?,?,?,?,?,?,?)", err);
    if (!st) {
        free(payload);
        return -1;
    }
    sqlite3_bind_int64(st, 1, c->tenant);
    sqlite3_bind_text(st, 2, json_string_value(json_object_get(event, "id")), -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, type, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, payload, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 6, depth);
    sqlite3_bind_text(st, 7, now, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    db_reset(st);
    free(payload);
    if (rc != SQLITE_DONE)
        return db_fail(d, err, "queue event");
    int64_t event_rid = sqlite3_last_insert_rowid(db_handle(d));
    for (int i = 0; i < n; i++) {
        char did[ID_MAX];
        id_new("dlv", did);
        st = db_prep(d,
            "INSERT INTO deliveries(tenant_id, id, event_rid, pack_rid, version_rid, fn, next_at, "
            "created_at) VALUES(?,?,?,?,?,?,?,?)", err);
        if (!st)
            return -1;
        sqlite3_bind_int64(st, 1, c->tenant);
        sqlite3_bind_text(st, 2, did, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, event_rid);
        sqlite3_bind_int64(st, 4, hs[i].pack_rid);
        sqlite3_bind_int64(st, 5, hs[i].version_rid);
        sqlite3_bind_text(st, 6, hs[i].fn, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 7, ms);
        sqlite3_bind_text(st, 8, now, -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
        db_reset(st);
        if (rc != SQLITE_DONE)
            return db_fail(d, err, "queue delivery");
    }
    queued = true;
    return 0;
}

int event_after(struct db *d, const struct ax_ctx *c, const struct object_def *def,
                const char *action, const char *id, json_t *old, const char *doc,
                json_t *changes, struct ax_err *err)
{
    if (!event_object(def))
        return 0;
    bool moved = !strcmp(def->name, "deals") && json_object_get(changes, "stage") &&
                 !strcmp(action, "updated");
    char names[2][48];
    const char *types[3];
    int ntypes = event_types(def, action, moved, names, types);
    struct pack_handler hs[PACKS_MAX_HANDLERS];
    int n = handlers_for(d, c->tenant, types, ntypes, "after", hs, err);
    if (n <= 0)
        return n;
    if (depth >= EVENT_MAX_DEPTH) {
        log_warn("event chain too deep: %s.%s of %s by %s is not handed to after handlers",
                 def->name, action, id, c->actor_id);
        return 0;
    }
    json_t *rec = doc ? json_loads(doc, 0, NULL) : NULL;
    /* One event per type, with the handlers subscribed to that type. */
    int rc = 0;
    for (int t = 0; t < ntypes && rc == 0; t++) {
        struct pack_handler mine[PACKS_MAX_HANDLERS];
        int m = 0;
        for (int i = 0; i < n; i++)
            if (!strcmp(hs[i].event, types[t]) && in_scope(&hs[i], rec, old))
                mine[m++] = hs[i];
        if (m == 0)
            continue;
        char event_id[ID_MAX];
        id_new("evt", event_id);
        json_t *event = after_event(c, def, action, types[t], id, old, doc, changes, event_id);
        if (!event) {
            rc = ax_fail(err, AX_EINTERNAL, "out of memory");
            break;
        }
        if (sim) {
            for (int i = 0; i < m && rc == 0; i++)
                rc = run_after_now(d, c, event, &mine[i], err);
        } else {
            rc = queue_event(d, c, types[t], id, event, mine, m, err);
        }
        json_decref(event);
    }
    json_decref(rec);
    return rc;
}

/* ---- deliveries ---- */

int event_due(struct db *d, int64_t now_ms, int64_t *rids, int max, struct ax_err *err)
{
    sqlite3_stmt *st = db_prep(d,
        "SELECT rid FROM deliveries WHERE status='pending' AND next_at <= ? "
        "ORDER BY next_at, rid LIMIT ?", err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, now_ms);
    sqlite3_bind_int(st, 2, max);
    int n = 0;
    while (n < max && sqlite3_step(st) == SQLITE_ROW)
        rids[n++] = sqlite3_column_int64(st, 0);
    db_reset(st);
    return n;
}

struct delivery {
    int64_t rid, tenant, event_rid, pack_rid, version_rid;
    char id[ID_MAX], fn[128], status[12], tenant_id[ID_MAX];
    int attempts;
    json_t *event;
};

static int load_delivery(struct db *d, int64_t rid, struct delivery *dl, struct ax_err *err)
{
    sqlite3_stmt *st = db_prep(d,
        "SELECT l.tenant_id, l.id, l.event_rid, l.pack_rid, l.version_rid, l.fn, l.status, "
        "l.attempts, e.payload, t.id FROM deliveries l LEFT JOIN events e ON e.rid = l.event_rid "
        "JOIN tenants t ON t.rid = l.tenant_id WHERE l.rid=?", err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, rid);
    int found = 0;
    if (sqlite3_step(st) == SQLITE_ROW) {
        dl->rid = rid;
        dl->tenant = sqlite3_column_int64(st, 0);
        snprintf(dl->id, sizeof dl->id, "%s", sqlite3_column_text(st, 1));
        dl->event_rid = sqlite3_column_int64(st, 2);
        dl->pack_rid = sqlite3_column_int64(st, 3);
        dl->version_rid = sqlite3_column_int64(st, 4);
        snprintf(dl->fn, sizeof dl->fn, "%s", sqlite3_column_text(st, 5));
        snprintf(dl->status, sizeof dl->status, "%s", sqlite3_column_text(st, 6));
        dl->attempts = sqlite3_column_int(st, 7);
        const char *payload = (const char *)sqlite3_column_text(st, 8);
        dl->event = payload ? json_loads(payload, 0, NULL) : NULL;
        snprintf(dl->tenant_id, sizeof dl->tenant_id, "%s", sqlite3_column_text(st, 9));
        found = 1;
    }
    db_reset(st);
    return found;
}

static int finish_delivery(struct db *d, int64_t rid, const char *status, int attempts,
                           int64_t next_at, const char *error, struct ax_err *err)
{
    char now[TIME_TEXT_MAX];
    time_format_ms(time_now_ms(), now);
    bool final = strcmp(status, "pending") != 0;
    sqlite3_stmt *st = db_prep(d,
        "UPDATE deliveries SET status=?, attempts=?, next_at=?, last_error=?, finished_at=? "
        "WHERE rid=?", err);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, status, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, attempts);
    sqlite3_bind_int64(st, 3, next_at);
    sqlite3_bind_text(st, 4, error, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, final ? now : NULL, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, rid);
    int rc = sqlite3_step(st);
    db_reset(st);
    return rc == SQLITE_DONE ? 0 : db_fail(d, err, "update delivery");
}

/* Does the pack still run this version? A disabled pack, or one rolled
 * back or moved on to another version, does not run the old version's
 * queued work (its code may be what the rollback was for). */
static int version_running(struct db *d, int64_t pack_rid, int64_t version_rid,
                           struct ax_err *err)
{
    int64_t n = 0;
    sqlite3_stmt *st = db_prep(d,
        "SELECT count(*) FROM packs WHERE rid=? AND status='published' AND published_version=?",
        err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, pack_rid);
    sqlite3_bind_int64(st, 2, version_rid);
    if (sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    db_reset(st);
    return n > 0;
}

static int64_t backoff_ms(int attempts)
{
    int64_t ms = axon_config.retry_ms > 0 ? axon_config.retry_ms : 1000;
    for (int i = 1; i < attempts && ms < 3600000; i++)
        ms *= 2;
    return ms < 3600000 ? ms : 3600000;
}

int event_run_delivery(struct db *d, int64_t rid, struct ax_err *err)
{
    struct delivery dl = {0};
    int found = load_delivery(d, rid, &dl, err);
    if (found <= 0 || strcmp(dl.status, "pending")) {
        json_decref(dl.event);
        return found < 0 ? -1 : 0;
    }
    int running = version_running(d, dl.pack_rid, dl.version_rid, err);
    if (running <= 0) {
        json_decref(dl.event);
        return running < 0 ? -1 : finish_delivery(d, rid, "skipped", dl.attempts, 0,
                                                  "the pack was disabled, rolled back or "
                                                  "published anew before this ran", err);
    }
    struct pack_version v;
    if (packs_version_by_rid(d, dl.version_rid, &v, err)) {
        json_decref(dl.event);
        return -1;
    }
    json_t *event = dl.event ? dl.event
                             : json_pack("{s:n,s:s,s:s}", "id", "type", "schedule", "phase",
                                         "schedule");
    dl.event = NULL;
    int attempt = dl.attempts + 1;
    json_object_set_new(event, "attempt", json_integer(attempt));
    json_object_set_new(event, "delivery_id", json_string(dl.id));
    const char *type = json_string_value(json_object_get(event, "type"));
    const char *event_id = json_string_value(json_object_get(event, "id"));
    bool schedule = dl.event_rid == 0;
    struct db_txn_mark mark;
    int rc = db_savepoint(d, "delivery", &mark, err);
    if (rc == 0) {
        int saved = depth;
        depth = (int)json_integer_value(json_object_get(event, "depth")) + 1;
        struct lua_run run;
        struct ax_err herr;
        ax_err_clear(&herr);
        struct handler_call call = {.v = &v, .tenant_id = dl.tenant_id, .fn = dl.fn,
                                    .phase = schedule ? "schedule" : "after",
                                    .event_type = type ? type : "schedule",
                                    .event_id = event_id, .delivery_id = dl.id, .event = event};
        int hrc = call_handler(d, &call, &run, &herr);
        depth = saved;
        rc = db_savepoint_end(d, "delivery", &mark, hrc != 0, err);
        if (rc == 0 && hrc == 0) {
            rc = finish_delivery(d, rid, "done", attempt, 0, NULL, err);
        } else if (rc == 0) {
            /* A permission the pack lacks will be lacking next time too. */
            bool dead = attempt >= (axon_config.attempts > 0 ? axon_config.attempts : 5) ||
                        (run.killed && !strcmp(run.killed, "permission"));
            char why[700];
            const char *msg = run.error[0] ? run.error : herr.detail;
            bool placed = !run.where[0] || !strncmp(msg, run.where, strlen(run.where));
            snprintf(why, sizeof why, "%s%s%s", msg, placed ? "" : " at ",
                     placed ? "" : run.where);
            if (dead)
                log_warn("delivery %s (%s of pack %s) dead-lettered after %d attempts: %s",
                         dl.id, dl.fn, v.name, attempt, why);
            rc = finish_delivery(d, rid, dead ? "dead" : "pending", attempt,
                                 dead ? 0 : time_now_ms() + backoff_ms(attempt), why, err);
        }
    }
    json_decref(event);
    packs_version_release(&v);
    return rc;
}

int event_fire_schedule(struct db *d, const struct pack_schedule_due *s, struct ax_err *err)
{
    int64_t now = time_now_ms();
    int moved = packs_schedule_advance(d, s->rid, s->next_at, now, err);
    if (moved <= 0)
        return moved;
    char did[ID_MAX], at[TIME_TEXT_MAX];
    id_new("dlv", did);
    time_format_ms(now, at);
    sqlite3_stmt *st = db_prep(d,
        "INSERT INTO deliveries(tenant_id, id, event_rid, pack_rid, version_rid, fn, next_at, "
        "created_at) VALUES(?,?,NULL,?,?,?,?,?)", err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, s->tenant);
    sqlite3_bind_text(st, 2, did, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, s->pack_rid);
    sqlite3_bind_int64(st, 4, s->version_rid);
    sqlite3_bind_text(st, 5, s->fn, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, now);
    sqlite3_bind_text(st, 7, at, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    db_reset(st);
    if (rc != SQLITE_DONE)
        return db_fail(d, err, "queue schedule");
    queued = true;
    return 0;
}

int event_deliveries(struct db *d, int64_t tenant, const char *pack_id, const char *status,
                     int limit, int64_t before, struct buf *out, struct ax_err *err)
{
    sqlite3_stmt *st = db_prep(d,
        "SELECT l.rid, l.id, p.id, v.version, l.fn, l.status, l.attempts, l.next_at, "
        "l.last_error, l.created_at, l.finished_at, e.id, e.type, e.object_id "
        "FROM deliveries l JOIN packs p ON p.rid = l.pack_rid "
        "JOIN pack_versions v ON v.rid = l.version_rid LEFT JOIN events e ON e.rid = l.event_rid "
        "WHERE l.tenant_id=?1 AND (?2 IS NULL OR p.id=?2) AND (?3 IS NULL OR l.status=?3) "
        "AND (?4 = 0 OR l.rid < ?4) ORDER BY l.rid DESC LIMIT ?5", err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, tenant);
    sqlite3_bind_text(st, 2, pack_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, status, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, before);
    sqlite3_bind_int(st, 5, limit + 1);
    json_t *data = json_array();
    int64_t last = 0;
    bool more = false;
    while (sqlite3_step(st) == SQLITE_ROW) {
        if ((int)json_array_size(data) == limit) {
            more = true;
            break;
        }
        last = sqlite3_column_int64(st, 0);
        char next[TIME_TEXT_MAX];
        time_format_ms(sqlite3_column_int64(st, 7), next);
        bool pending = !strcmp((const char *)sqlite3_column_text(st, 5), "pending");
        json_array_append_new(data, json_pack(
            "{s:s,s:s,s:s,s:s,s:s,s:s,s:i,s:s?,s:s?,s:s,s:s?,s:s?,s:s?,s:s?}", "object",
            "delivery", "id", sqlite3_column_text(st, 1), "pack_id", sqlite3_column_text(st, 2),
            "version", sqlite3_column_text(st, 3), "fn", sqlite3_column_text(st, 4), "status",
            sqlite3_column_text(st, 5), "attempts", sqlite3_column_int(st, 6), "next_attempt_at",
            pending ? next : NULL, "last_error", sqlite3_column_text(st, 8), "created_at",
            sqlite3_column_text(st, 9), "finished_at", sqlite3_column_text(st, 10), "event_id",
            sqlite3_column_text(st, 11), "event", sqlite3_column_text(st, 12), "record_id",
            sqlite3_column_text(st, 13)));
    }
    db_reset(st);
    return jx_page(out, data, more, (long long)last, err);
}

int event_retry(struct db *d, const struct ax_ctx *c, const char *delivery_id,
                struct buf *out, struct ax_err *err)
{
    sqlite3_stmt *st = db_prep(d,
        "UPDATE deliveries SET status='pending', attempts=0, next_at=?, finished_at=NULL, "
        "last_error='retried by hand after: ' || coalesce(last_error, status) "
        "WHERE tenant_id=? AND id=? AND status IN ('dead', 'skipped')", err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, time_now_ms());
    sqlite3_bind_int64(st, 2, c->tenant);
    sqlite3_bind_text(st, 3, delivery_id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    db_reset(st);
    if (rc != SQLITE_DONE)
        return db_fail(d, err, "retry delivery");
    if (sqlite3_changes(db_handle(d)) == 0) {
        if (!(st = db_prep(d, "SELECT status FROM deliveries WHERE tenant_id=? AND id=?", err)))
            return -1;
        sqlite3_bind_int64(st, 1, c->tenant);
        sqlite3_bind_text(st, 2, delivery_id, -1, SQLITE_STATIC);
        char status[16] = "";
        if (sqlite3_step(st) == SQLITE_ROW)
            snprintf(status, sizeof status, "%s", sqlite3_column_text(st, 0));
        db_reset(st);
        if (status[0])
            return ax_fail_type(err, AX_ECONFLICT, "not-dead",
                                "this delivery is %s: only dead or skipped ones are retried",
                                status);
        return ax_fail(err, AX_ENOTFOUND, "no delivery with id '%.60s'", delivery_id);
    }
    queued = true;
    json_t *doc = json_pack("{s:s,s:s,s:s}", "object", "delivery", "id", delivery_id, "status",
                            "pending");
    rc = jx_dump(out, doc, 0) ? ax_fail(err, AX_EINTERNAL, "out of memory") : 0;
    json_decref(doc);
    return rc;
}

/* ---- simulation ---- */

void event_sim_begin(struct event_sim *s) { sim = s; }
void event_sim_end(void) { sim = NULL; }
