/* pack_sim.c - dry-run replays and pack tests. */
#include "axon/pack_sim.h"

#include "axon/events.h"
#include "axon/jx.h"
#include "axon/lua_host.h"
#include "axon/model.h"
#include "axon/store.h"
#include "axon/tenant.h"
#include "axon/timefmt.h"

#include <lauxlib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- events ---- */

/* Split "deals.stage_changed" into the object and the action. */
static const struct object_def *event_target(const char *type, char action[16])
{
    const char *dot = type ? strchr(type, '.') : NULL;
    if (!dot || dot - type >= 32)
        return NULL;
    char object[32];
    snprintf(object, sizeof object, "%.*s", (int)(dot - type), type);
    const struct object_def *def = model_find(object);
    if (!def || !event_object(def))
        return NULL;
    static const char *const actions[] = {"created", "updated", "deleted", "stage_changed", NULL};
    for (int i = 0; actions[i]; i++)
        if (!strcmp(dot + 1, actions[i])) {
            if (i == 3 && strcmp(object, "deals"))
                return NULL;
            snprintf(action, 16, "%s", actions[i]);
            return def;
        }
    return NULL;
}

/* Check one event; fields problems go to err under `ptr`. */
static int check_event(json_t *ev, const char *ptr, struct ax_err *err)
{
    char p[96];
    if (!json_is_object(ev)) {
        ax_field(err, ptr, "an event is an object with a type");
        return -1;
    }
    char action[16];
    const char *type = json_string_value(json_object_get(ev, "type"));
    if (!event_target(type, action)) {
        snprintf(p, sizeof p, "%s/type", ptr);
        ax_field(err, p, "type must be <object>.created|updated|deleted (objects: customers, "
                         "contacts, products, deals, tickets, activities) or deals.stage_changed");
        return -1;
    }
    static const char *const allowed[] = {"type", "id", "record", "changes", "patch", "stage",
                                          "note", NULL};
    const char *k;
    json_t *v;
    json_object_foreach(ev, k, v) {
        bool ok = false;
        for (int i = 0; allowed[i]; i++)
            ok |= !strcmp(k, allowed[i]);
        if (!ok) {
            snprintf(p, sizeof p, "%s/%.40s", ptr, k);
            ax_field(err, p, "unknown member of an event");
            return -1;
        }
    }
    bool creating = !strcmp(action, "created");
    if (!creating && !json_is_string(json_object_get(ev, "id"))) {
        snprintf(p, sizeof p, "%s/id", ptr);
        ax_field(err, p, "the id of the record is needed");
        return -1;
    }
    if (creating && !json_is_object(json_object_get(ev, "record"))) {
        snprintf(p, sizeof p, "%s/record", ptr);
        ax_field(err, p, "a created event needs the record (an object)");
        return -1;
    }
    if (!strcmp(action, "stage_changed") && !json_is_string(json_object_get(ev, "stage")) &&
        !json_is_object(json_object_get(ev, "changes"))) {
        snprintf(p, sizeof p, "%s/stage", ptr);
        ax_field(err, p, "a stage change needs the new stage");
        return -1;
    }
    if (!strcmp(action, "updated") && !json_is_object(json_object_get(ev, "changes")) &&
        !json_is_object(json_object_get(ev, "patch")) &&
        !json_is_object(json_object_get(ev, "record"))) {
        snprintf(p, sizeof p, "%s/changes", ptr);
        ax_field(err, p, "an updated event needs changes (an object of field: new value)");
        return -1;
    }
    return 0;
}

json_t *sim_parse_events(const char *body, size_t len, struct ax_err *err)
{
    json_t *events = NULL;
    struct ax_err perr;
    ax_err_clear(&perr);
    json_t *whole = len ? jx_parse(body, len, &perr) : NULL;
    if (json_is_array(whole)) {
        events = whole;
    } else if (json_is_object(whole) && json_is_array(json_object_get(whole, "events"))) {
        const char *k;
        json_t *v;
        json_object_foreach(whole, k, v)
            if (strcmp(k, "events")) {
                char ptr[64];
                snprintf(ptr, sizeof ptr, "/%.40s", k);
                ax_field(err, ptr, "unknown member: the body is {\"events\": [...]} only");
                json_decref(whole);
                ax_fail_type(err, AX_EINVALID, "unknown-field", "'%.40s' is not accepted here",
                             k);
                return NULL;
            }
        events = json_incref(json_object_get(whole, "events"));
        json_decref(whole);
    } else if (json_is_object(whole) && json_object_get(whole, "type")) {
        events = json_pack("[o]", whole);
    } else {
        json_decref(whole);
        /* NDJSON: one event per line. */
        events = json_array();
        const char *p = body, *end = body + len;
        int line = 0;
        while (p < end) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            const char *stop = nl ? nl : end;
            line++;
            size_t n = (size_t)(stop - p);
            while (n && (p[n - 1] == '\r' || p[n - 1] == ' ' || p[n - 1] == '\t'))
                n--;
            if (n) {
                json_t *ev = jx_parse(p, n, &perr);
                if (!ev) {
                    json_decref(events);
                    ax_fail_type(err, AX_EBADREQ, "malformed-json",
                                 "line %d is not a JSON event: %s (send a JSON array, "
                                 "{\"events\":[…]} or one event per line)", line, perr.detail);
                    return NULL;
                }
                json_array_append_new(events, ev);
            }
            p = stop + 1;
        }
    }
    if (json_array_size(events) == 0) {
        json_decref(events);
        ax_fail_type(err, AX_EINVALID, "no-events", "send at least one event");
        return NULL;
    }
    if (json_array_size(events) > SIM_MAX_EVENTS) {
        json_decref(events);
        ax_fail_type(err, AX_ETOOLARGE, "too-many-events", "a replay takes at most %d events",
                     SIM_MAX_EVENTS);
        return NULL;
    }
    size_t i;
    json_t *ev;
    json_array_foreach(events, i, ev) {
        char ptr[32];
        snprintf(ptr, sizeof ptr, "/events/%zu", i);
        if (check_event(ev, ptr, err)) {
            json_decref(events);
            ax_fail_type(err, AX_EINVALID, "invalid-event", "event %zu is not a replayable write",
                         i);
            return NULL;
        }
    }
    return events;
}

static json_t *error_doc(const struct ax_err *e)
{
    json_t *doc = json_pack("{s:b,s:i,s:s,s:s}", "ok", 0, "status", ax_code_status(e->code),
                            "type", ax_err_slug(e), "detail", e->detail);
    if (e->nfields) {
        json_t *errors = json_array();
        for (int i = 0; i < e->nfields; i++)
            json_array_append_new(errors, json_pack("{s:s,s:s}", "pointer", e->fields[i].pointer,
                                                    "detail", e->fields[i].detail));
        json_object_set_new(doc, "errors", errors);
    }
    return doc;
}

/* Make one event's write, its handlers simulated; the write is undone when
 * it fails. Returns {"type","write":{…},"runs":[…]}. */
static json_t *apply_event(struct db *d, const struct ax_ctx *c, json_t *ev,
                           struct event_sim *s)
{
    char action[16];
    const char *type = json_string_value(json_object_get(ev, "type"));
    const struct object_def *def = event_target(type, action);
    const char *id = json_string_value(json_object_get(ev, "id"));
    json_t *runs = json_array();
    json_t *saved = s->runs;
    s->runs = runs;
    struct ax_err err;
    ax_err_clear(&err);
    struct db_txn_mark mark;
    json_t *write = NULL;
    if (db_savepoint(d, "simevent", &mark, &err) == 0) {
        struct store_result res;
        memset(&res, 0, sizeof res);
        int rc;
        if (!strcmp(action, "deleted")) {
            rc = store_delete(d, c, def, id, -1, &err);
        } else {
            json_t *body = json_object_get(ev, "record");
            if (!strcmp(action, "stage_changed") && json_object_get(ev, "stage"))
                body = json_pack("{s:O}", "stage", json_object_get(ev, "stage"));
            else if (json_object_get(ev, "changes"))
                body = json_incref(json_object_get(ev, "changes"));
            else if (json_object_get(ev, "patch"))
                body = json_incref(json_object_get(ev, "patch"));
            else
                json_incref(body);
            bool creating = !strcmp(action, "created");
            json_t *input = model_check_input(def, body, creating, &err);
            json_decref(body);
            rc = !input ? -1
                 : creating ? store_create(d, c, def, input, &res, &err)
                            : store_update(d, c, def, id, input, -1, &res, &err);
            json_decref(input);
        }
        db_savepoint_end(d, "simevent", &mark, rc != 0, NULL);
        if (rc) {
            write = error_doc(&err);
        } else {
            json_t *rec = res.doc ? json_loads(res.doc, 0, NULL) : NULL;
            write = json_pack("{s:b,s:s,s:s}", "ok", 1, "object", def->name, "id",
                              res.id[0] ? res.id : id);
            if (rec)
                json_object_set_new(write, "record", rec);
        }
        store_result_free(&res);
    } else {
        write = error_doc(&err);
    }
    s->runs = saved;
    return json_pack("{s:s,s:o,s:o}", "type", type, "write", write, "runs", runs);
}

/* ---- replay ---- */

struct pool_arg {
    struct db *d;
    const struct pack_version *v;
};

static struct lua_rt *pool_acquire(void *arg, struct ax_err *err)
{
    struct pool_arg *a = arg;
    return packs_state(a->d, a->v, err);
}

static void pool_release(void *arg, struct lua_rt *rt)
{
    (void)arg;
    lua_pool_put(rt);
}

static void count(json_t *obj, const char *key)
{
    json_object_set_new(obj, key, json_integer(json_integer_value(json_object_get(obj, key)) + 1));
}

static bool is_text(json_t *v, const char *s)
{
    return json_is_string(v) && !strcmp(json_string_value(v), s);
}

static void summarise(json_t *summary, json_t *entry)
{
    json_t *write = json_object_get(entry, "write");
    if (json_is_true(json_object_get(write, "ok")))
        count(summary, "writes_ok");
    else if (is_text(json_object_get(write, "type"), "rejected"))
        count(summary, "writes_rejected");
    else
        count(summary, "writes_failed");
    json_t *outcomes = json_object_get(summary, "runs"), *effects = json_object_get(summary, "effects");
    size_t i, k;
    json_t *run, *fx;
    json_array_foreach(json_object_get(entry, "runs"), i, run) {
        count(outcomes, json_string_value(json_object_get(run, "outcome")));
        json_array_foreach(json_object_get(run, "effects"), k, fx)
            count(effects, json_string_value(json_object_get(fx, "effect")));
    }
}

int sim_replay(struct db *d, const struct ax_ctx *c, const struct pack_version *v,
               json_t *events, bool summary_only, struct buf *out, struct ax_err *err)
{
    struct ax_ctx rc_ctx = *c;
    rc_ctx.trigger = "replay";
    rc_ctx.source = "replay";
    struct pool_arg arg = {d, v};
    struct event_sim s = {.version = v, .tenant_id = c->tenant_id, .acquire = pool_acquire,
                          .release = pool_release, .arg = &arg};
    struct db_txn_mark mark;
    if (db_savepoint(d, "replay", &mark, err))
        return -1;
    event_sim_begin(&s);
    json_t *detail = json_array();
    json_t *summary = json_pack("{s:i,s:i,s:i,s:i,s:{},s:{}}", "events", 0, "writes_ok", 0,
                                "writes_rejected", 0, "writes_failed", 0, "runs", "effects");
    double started = time_mono();
    bool truncated = false;
    size_t i;
    json_t *ev;
    json_array_foreach(events, i, ev) {
        if (time_mono() - started > SIM_MAX_SECONDS) {
            truncated = true;
            break;
        }
        json_t *entry = apply_event(d, &rc_ctx, ev, &s);
        json_object_set_new(entry, "index", json_integer((json_int_t)i));
        count(summary, "events");
        summarise(summary, entry);
        if (summary_only)
            json_decref(entry);
        else
            json_array_append_new(detail, entry);
    }
    event_sim_end();
    /* Always undone: that is what makes it a dry run. */
    db_savepoint_end(d, "replay", &mark, true, NULL);
    json_t *report = json_pack("{s:s,s:s,s:s,s:b,s:b,s:f,s:o}", "object", "replay", "pack_id",
                               v->pack_id, "version", v->version, "dry_run", 1, "truncated",
                               truncated, "duration_ms", (time_mono() - started) * 1000.0,
                               "summary", summary);
    if (!summary_only)
        json_object_set_new(report, "events", detail);
    else
        json_decref(detail);
    int rc = jx_dump(out, report, 0) ? ax_fail(err, AX_ETOOLARGE, "the replay report is too "
                                               "large; ask for ?detail=summary") : 0;
    json_decref(report);
    return rc;
}

/* ---- pack tests ---- */

struct test_sim {
    struct db *d;
    struct ax_ctx ctx;
    const struct pack_bundle *b;
    struct pack_version v;
    json_t *refs;                 /* fixture name -> id */
    struct event_sim es;
};

static struct lua_rt *open_test_state(void *arg, struct ax_err *err);

static void test_release(void *arg, struct lua_rt *rt)
{
    (void)arg;
    lua_rt_close(rt);
}

static struct test_sim *sim_of(lua_State *L)
{
    struct lua_run *run = lua_rt_run(L);
    struct host_env *e = run ? run->host : NULL;
    if (!e || !e->sim)
        luaL_error(L, "axon.test is only available in a pack's tests");
    return e->sim;
}

static int test_emit(lua_State *L)
{
    struct test_sim *ts = sim_of(L);
    luaL_checktype(L, 1, LUA_TTABLE);
    struct ax_err err;
    ax_err_clear(&err);
    json_t *ev = lua_rt_to_json(L, 1, &err);
    if (!ev || check_event(ev, "", &err)) {
        json_decref(ev);
        char why[480], msg[520];
        ax_err_summary(&err, why, sizeof why);
        snprintf(msg, sizeof msg, "axon.test.emit: %s", why);
        return luaL_error(L, "%s", msg);
    }
    json_t *entry = apply_event(ts->d, &ts->ctx, ev, &ts->es);
    json_decref(ev);
    json_t *write = json_object_get(entry, "write");
    json_t *result = json_pack("{s:O,s:O}", "ok", json_object_get(write, "ok"), "runs",
                               json_object_get(entry, "runs"));
    if (json_object_get(write, "record"))
        json_object_set(result, "record", json_object_get(write, "record"));
    if (json_object_get(write, "detail"))
        json_object_set(result, "error", json_object_get(write, "detail"));
    if (json_object_get(write, "type"))
        json_object_set(result, "error_type", json_object_get(write, "type"));
    json_decref(entry);
    lua_rt_push_json(L, result);
    json_decref(result);
    return 1;
}

static int test_ref(lua_State *L)
{
    struct test_sim *ts = sim_of(L);
    const char *name = luaL_checkstring(L, 1);
    const char *id = json_string_value(json_object_get(ts->refs, name));
    if (!id)
        return luaL_error(L, "axon.test.ref: no fixture named '%s' in tests/fixtures.json", name);
    lua_pushstring(L, id);
    return 1;
}

/* Equal as a script author means it: 3 == 3.0. */
static bool loose_equal(json_t *a, json_t *b)
{
    if (json_is_number(a) && json_is_number(b))
        return fabs(json_number_value(a) - json_number_value(b)) < 1e-9;
    if (json_typeof(a) != json_typeof(b))
        return false;
    if (json_is_array(a)) {
        if (json_array_size(a) != json_array_size(b))
            return false;
        for (size_t i = 0; i < json_array_size(a); i++)
            if (!loose_equal(json_array_get(a, i), json_array_get(b, i)))
                return false;
        return true;
    }
    if (json_is_object(a)) {
        if (json_object_size(a) != json_object_size(b))
            return false;
        const char *k;
        json_t *v;
        json_object_foreach(a, k, v)
            if (!json_object_get(b, k) || !loose_equal(v, json_object_get(b, k)))
                return false;
        return true;
    }
    return json_equal(a, b);
}

static void shown(lua_State *L, int idx, char *out, size_t n)
{
    struct ax_err err;
    json_t *v = lua_isnoneornil(L, idx) ? json_null() : lua_rt_to_json(L, idx, &err);
    char *s = v ? jx_dumps(v, JX_SORT_KEYS) : NULL;
    snprintf(out, n, "%.200s%s", s ? s : "(a value that is not data)",
             s && strlen(s) > 200 ? "…" : "");
    free(s);
    json_decref(v);
}

static int test_eq(lua_State *L)
{
    sim_of(L);
    lua_settop(L, 3);
    struct ax_err err;
    json_t *a = lua_isnil(L, 1) ? json_null() : lua_rt_to_json(L, 1, &err);
    json_t *b = lua_isnil(L, 2) ? json_null() : lua_rt_to_json(L, 2, &err);
    bool same = a && b && loose_equal(a, b);
    json_decref(a);
    json_decref(b);
    if (same)
        return 0;
    char got[240], want[240];
    shown(L, 1, got, sizeof got);
    shown(L, 2, want, sizeof want);
    return luaL_error(L, "%s%sexpected %s, got %s", luaL_optstring(L, 3, ""),
                      lua_isstring(L, 3) ? ": " : "", want, got);
}

static int test_ok(lua_State *L)
{
    sim_of(L);
    if (lua_toboolean(L, 1) && !lua_rt_is_null(L, 1))
        return 0;
    return luaL_error(L, "%s", luaL_optstring(L, 2, "expected a true value"));
}

static void add_test_table(lua_State *L)
{
    lua_createtable(L, 0, 4);
    lua_pushcfunction(L, test_emit);
    lua_setfield(L, -2, "emit");
    lua_pushcfunction(L, test_ref);
    lua_setfield(L, -2, "ref");
    lua_pushcfunction(L, test_eq);
    lua_setfield(L, -2, "eq");
    lua_pushcfunction(L, test_ok);
    lua_setfield(L, -2, "ok");
    lua_rt_readonly(L);
    lua_setfield(L, -2, "test");
}

static const struct host_extra test_extra = {add_test_table};

static struct lua_rt *open_test_state(void *arg, struct ax_err *err)
{
    struct test_sim *ts = arg;
    return packs_open_state(ts->ctx.tenant, ts->v.rid, ts->b->files, ts->b->nfiles, true,
                            host_install, (void *)&test_extra, err);
}

/* Replace "$name" strings by the fixture's id. */
static void resolve_refs(json_t *rec, json_t *refs)
{
    const char *k;
    json_t *v;
    json_object_foreach(rec, k, v) {
        const char *s = json_string_value(v);
        if (s && s[0] == '$' && json_object_get(refs, s + 1))
            json_object_set(rec, k, json_object_get(refs, s + 1));
        else if (json_is_array(v)) {
            for (size_t i = 0; i < json_array_size(v); i++) {
                const char *e = json_string_value(json_array_get(v, i));
                if (e && e[0] == '$' && json_object_get(refs, e + 1))
                    json_array_set(v, i, json_object_get(refs, e + 1));
            }
        }
    }
}

/* Load tests/fixtures.json: {"customers":[{"$ref":"acme", …}], …}, made
 * in model order so references resolve. */
static int load_fixtures(struct test_sim *ts, struct ax_err *err)
{
    const struct pack_file *f = pack_bundle_file(ts->b, "tests/fixtures.json");
    if (!f)
        return 0;
    json_t *all = jx_parse(f->data, f->len, err);
    if (!all || !json_is_object(all)) {
        json_decref(all);
        return ax_fail(err, AX_EINVALID, "tests/fixtures.json is not a JSON object of "
                                         "object type: [records]");
    }
    const char *k;
    json_t *v;
    json_object_foreach(all, k, v)
        if (!model_find(k) || !json_is_array(v)) {
            json_decref(all);
            return ax_fail(err, AX_EINVALID, "tests/fixtures.json: '%.40s' is not an object type "
                                             "with a list of records", k);
        }
    /* Referenced kinds first. */
    static const char *const order[] = {"units", "users", "pipelines", "fields", "products",
                                        "customers", "contacts", "deals", "tickets",
                                        "activities", "suggestions", "approvals"};
    const int n = (int)(sizeof order / sizeof order[0]);
    const struct object_def *defs[sizeof order / sizeof order[0]];
    for (int i = 0; i < n; i++)
        defs[i] = model_find(order[i]);
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        json_t *list = json_object_get(all, defs[i]->name);
        size_t j;
        json_t *rec;
        json_array_foreach(list, j, rec) {
            if (!json_is_object(rec)) {
                rc = ax_fail(err, AX_EINVALID, "tests/fixtures.json: %s[%zu] is not an object",
                             defs[i]->name, j);
                break;
            }
            json_t *copy = json_deep_copy(rec);
            const char *ref = json_string_value(json_object_get(copy, "$ref"));
            char name[80];
            snprintf(name, sizeof name, "%s", ref ? ref : "");
            json_object_del(copy, "$ref");
            resolve_refs(copy, ts->refs);
            json_t *input = model_check_input(defs[i], copy, true, err);
            json_decref(copy);
            struct store_result res;
            memset(&res, 0, sizeof res);
            if (!input || store_create(ts->d, &ts->ctx, defs[i], input, &res, err)) {
                json_decref(input);
                char detail[sizeof err->detail];
                char why[480];
                ax_err_summary(err, why, sizeof why);
                snprintf(detail, sizeof detail, "tests/fixtures.json: %s[%zu]: %.300s",
                         defs[i]->name, j, why);
                snprintf(err->detail, sizeof err->detail, "%s", detail);
                rc = -1;
                break;
            }
            json_decref(input);
            if (name[0])
                json_object_set_new(ts->refs, name, json_string(res.id));
            store_result_free(&res);
        }
    }
    json_decref(all);
    return rc;
}

/* Lists a test module's test_* functions (module names are [A-Za-z0-9_.],
 * checked by pack_bundle, so quoting them is safe). */
static const char list_tests[] =
    "local m = require(\"%s\")\n"
    "local names = {}\n"
    "if type(m) == 'table' then\n"
    "  for k, v in pairs(m) do\n"
    "    if type(k) == 'string' and type(v) == 'function' and k:sub(1, 5) == 'test_' then\n"
    "      names[#names + 1] = k\n"
    "    end\n"
    "  end\n"
    "end\n"
    "table.sort(names)\n"
    "return names\n";

static json_t *result_entry(const char *file, const char *name, const char *outcome,
                            const struct lua_run *run, const char *error)
{
    json_t *r = json_pack("{s:s,s:s,s:s,s:f}", "file", file, "name", name, "outcome", outcome,
                          "duration_ms", run ? run->elapsed_ms : 0.0);
    if (error && *error)
        json_object_set_new(r, "error", json_string(error));
    if (run && run->where[0])
        json_object_set_new(r, "location", json_string(run->where));
    return r;
}

/* The test names of one module, or NULL with the reason in `why`. */
static json_t *test_names(struct test_sim *ts, struct lua_rt *rt, const char *module,
                          char *why, size_t whysz)
{
    struct host_env env;
    struct ax_err err;
    ax_err_clear(&err);
    if (host_env_init(&env, ts->d, ts->ctx.tenant_id, &ts->v, true, &err)) {
        snprintf(why, whysz, "%s", err.detail);
        return NULL;
    }
    env.sim = ts;
    struct lua_run run;
    memset(&run, 0, sizeof run);
    run.budget = lua_budget_after;
    run.host = &env;
    char src[sizeof list_tests + PACK_MAX_PATH];
    snprintf(src, sizeof src, list_tests, module);
    json_t *names = NULL;
    if (lua_rt_eval(rt, "list-tests", src, strlen(src), &names, &run, &err))
        snprintf(why, whysz, "%s", run.error[0] ? run.error : err.detail);
    host_env_release(&env);
    if (names && !json_is_array(names)) {
        json_decref(names);
        names = json_array();
    }
    return names;
}

static void run_one_test(struct test_sim *ts, struct lua_rt **rt, const char *file,
                         const char *module, const char *name, json_t *results, int *failed)
{
    struct ax_err err;
    ax_err_clear(&err);
    struct db_txn_mark mark;
    if (db_savepoint(ts->d, "packtest", &mark, &err)) {
        json_array_append_new(results, result_entry(file, name, "failed", NULL, err.detail));
        (*failed)++;
        return;
    }
    struct host_env env;
    struct lua_run run;
    memset(&run, 0, sizeof run);
    int rc = host_env_init(&env, ts->d, ts->ctx.tenant_id, &ts->v, true, &err);
    if (rc == 0) {
        env.sim = ts;
        char fn[256];
        snprintf(fn, sizeof fn, "%s.%s", module, name);
        event_sim_begin(&ts->es);
        rc = host_call(*rt, &env, fn, NULL, &lua_budget_after, NULL, &run, &err);
        event_sim_end();
        host_env_release(&env);
    }
    db_savepoint_end(ts->d, "packtest", &mark, true, NULL);
    if (rc)
        (*failed)++;
    json_array_append_new(results, result_entry(file, name, rc ? "failed" : "passed", &run,
                                                rc ? (run.error[0] ? run.error : err.detail)
                                                   : NULL));
    if (run.killed) {        /* a killed state is not reused */
        lua_rt_close(*rt);
        *rt = open_test_state(ts, &err);
    }
}

static void run_test_file(struct test_sim *ts, const struct pack_file *f, json_t *results,
                          int *failed)
{
    char module[PACK_MAX_PATH + 1];
    size_t len = strlen(f->path);
    snprintf(module, sizeof module, "%.*s", (int)(len - 4), f->path);
    for (char *s = module; *s; s++)
        if (*s == '/')
            *s = '.';
    struct ax_err err;
    ax_err_clear(&err);
    struct lua_rt *rt = open_test_state(ts, &err);
    char why[600] = "";
    json_t *names = rt ? test_names(ts, rt, module, why, sizeof why) : NULL;
    if (!names) {
        json_array_append_new(results, result_entry(f->path, "(load)", "failed", NULL,
                                                    why[0] ? why : err.detail));
        (*failed)++;
    }
    size_t i;
    json_t *name;
    json_array_foreach(names, i, name) {
        if (json_array_size(results) >= SIM_MAX_TESTS || !rt)
            break;
        run_one_test(ts, &rt, f->path, module, json_string_value(name), results, failed);
    }
    json_decref(names);
    lua_rt_close(rt);
}

int sim_pack_tests(const struct pack_bundle *b, json_t **report, int *failed,
                   struct ax_err *err)
{
    *report = NULL;
    *failed = 0;
    json_t *results = json_array();
    bool any = false;
    for (int i = 0; i < b->nfiles; i++) {
        const char *p = b->files[i].path;
        size_t len = strlen(p);
        any |= !strncmp(p, "tests/", 6) && len > 10 && !strcmp(p + len - 4, ".lua");
    }
    if (!any) {
        *report = json_pack("{s:i,s:i,s:o}", "passed", 0, "failed", 0, "results", results);
        return 0;
    }
    struct test_sim ts;
    memset(&ts, 0, sizeof ts);
    ts.b = b;
    ts.refs = json_object();
    ts.d = db_open(":memory:", DB_CREATE, err);
    char slug[64];
    int rc = -1;
    if (!ts.d || db_begin(ts.d, err) ||
        tenant_create_empty(ts.d, "Pack tests", "pack-tests", slug, &ts.ctx, err))
        goto done;
    ts.ctx.actor_type = "test";
    ts.ctx.trigger = "test";
    ts.ctx.source = "pack-test";
    ts.v.rid = -1;                  /* not stored: no row has this rid */
    ts.v.tenant = ts.ctx.tenant;
    snprintf(ts.v.id, sizeof ts.v.id, "pkv_test");
    snprintf(ts.v.pack_id, sizeof ts.v.pack_id, "pck_test");
    snprintf(ts.v.name, sizeof ts.v.name, "%s",
             json_string_value(json_object_get(b->manifest, "name")));
    snprintf(ts.v.version, sizeof ts.v.version, "%s",
             json_string_value(json_object_get(b->manifest, "version")));
    ts.v.manifest = b->manifest;
    ts.es = (struct event_sim){.version = &ts.v, .tenant_id = ts.ctx.tenant_id,
                               .acquire = open_test_state, .release = test_release, .arg = &ts,
                               .runs = NULL};
    struct ax_err ferr;
    ax_err_clear(&ferr);
    if (load_fixtures(&ts, &ferr)) {
        json_array_append_new(results, result_entry("tests/fixtures.json", "(fixtures)",
                                                    "failed", NULL, ferr.detail));
        (*failed)++;
    } else {
        for (int i = 0; i < b->nfiles; i++) {
            const char *p = b->files[i].path;
            size_t len = strlen(p);
            if (!strncmp(p, "tests/", 6) && len > 10 && !strcmp(p + len - 4, ".lua"))
                run_test_file(&ts, &b->files[i], results, failed);
        }
    }
    int passed = 0;
    size_t i;
    json_t *r;
    json_array_foreach(results, i, r)
        passed += !strcmp(json_string_value(json_object_get(r, "outcome")), "passed");
    *report = json_pack("{s:i,s:i,s:O}", "passed", passed, "failed", *failed, "results", results);
    rc = 0;
done:
    if (ts.d)
        db_rollback(ts.d);
    db_close(ts.d);
    json_decref(ts.refs);
    json_decref(results);
    return rc;
}
