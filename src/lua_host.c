/* lua_host.c - the `axon` table: a script's only door to Axon's data. */
#include "axon/lua_host.h"

#include "axon/ids.h"
#include "axon/intents.h"
#include "axon/jx.h"
#include "axon/log.h"
#include "axon/model.h"
#include "axon/outbound.h"
#include "axon/pack_perm.h"
#include "axon/store.h"
#include "axon/sugg.h"
#include "axon/tags.h"
#include "axon/tenant.h"
#include "axon/text.h"
#include "axon/timefmt.h"

#include <lauxlib.h>
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FIND_LIMIT_DEFAULT 50
#define FIND_LIMIT_MAX 200
#define LOG_LINES_MAX 100
#define LOG_LINE_MAX 1000
#define EVIDENCE_MAX 50
#define HEADERS_MAX 20

/* ---- the environment of a run ---- */

int host_env_init(struct host_env *e, struct db *d, const char *tenant_id,
                  const struct pack_version *v, bool dry, struct ax_err *err)
{
    memset(e, 0, sizeof *e);
    e->d = d;
    e->version = v;
    e->dry = dry;
    e->ctx.tenant = v->tenant;
    snprintf(e->ctx.tenant_id, sizeof e->ctx.tenant_id, "%s", tenant_id ? tenant_id : "");
    e->ctx.role = ROLE_ADMIN;     /* packs are bounded by permissions, not roles */
    e->ctx.actor_type = "pack";
    snprintf(e->ctx.actor_id, sizeof e->ctx.actor_id, "%s", v->id);
    snprintf(e->source, sizeof e->source, "pack:%s@%s", v->name, v->version);
    e->ctx.source = e->source;
    e->ctx.trigger = "workflow";
    e->ctx.request_id = e->event_id;
    e->settings = packs_settings(d, v->pack_rid, v->manifest, err);
    e->logs = json_array();
    e->effects = dry ? json_array() : NULL;
    if (!e->settings || !e->logs || (dry && !e->effects)) {
        host_env_release(e);
        return err->code ? -1 : ax_fail(err, AX_EINTERNAL, "out of memory");
    }
    return 0;
}

void host_env_release(struct host_env *e)
{
    json_decref(e->settings);
    json_decref(e->effects);
    json_decref(e->logs);
    e->settings = e->effects = e->logs = NULL;
}

void host_capture(struct host_env *e, json_t *effect)
{
    if (e->effects && effect)
        json_array_append_new(e->effects, effect);
    else
        json_decref(effect);
}

static struct host_env *env_of(lua_State *L)
{
    struct lua_run *run = lua_rt_run(L);
    struct host_env *e = run ? run->host : NULL;
    if (!e)
        luaL_error(L, "the axon host API is only available while a handler runs");
    return e;
}

/* Check the pack may call `func` ("deals.update"); a call beyond the
 * declared permissions stops the run. */
static void need(lua_State *L, struct host_env *e, const char *func)
{
    char perm[160];
    /* A pack's own test functions may look at anything in their scratch
     * database; the handlers they trigger are checked as always. */
    if (e->sim || pack_perm_for(func, perm, sizeof perm) <= 0 || !strcmp(perm, "http"))
        return;
    json_t *declared = json_object_get(e->version->manifest, "permissions");
    if (pack_perm_has(declared, perm))
        return;
    char *list = jx_dumps(declared, 0);
    char shown[200];
    snprintf(shown, sizeof shown, "%s", list ? list : "[]");
    free(list);
    lua_rt_abort(L, "permission denied: axon.%s needs the permission %s, which pack %s does not "
                    "declare (it declares %s)", func, perm, e->version->name, shown);
}

/* Raise a Lua error for a failed store call (frees nothing: call it after
 * releasing everything the caller holds). */
static int raise_err(lua_State *L, const char *func, const struct ax_err *err)
{
    char detail[600];
    int n = snprintf(detail, sizeof detail, "axon.%s: %s", func, err->detail);
    for (int i = 0; i < err->nfields && n < (int)sizeof detail - 1; i++)
        n += snprintf(detail + n, sizeof detail - (size_t)n, "%s%s %s", i ? "; " : " (",
                      err->fields[i].pointer, err->fields[i].detail);
    if (err->nfields && n < (int)sizeof detail - 1)
        snprintf(detail + n, sizeof detail - (size_t)n, ")");
    return luaL_error(L, "%s", detail);
}

static void push_doc(lua_State *L, const char *doc)
{
    json_t *v = doc ? json_loads(doc, 0, NULL) : NULL;
    if (v)
        lua_rt_push_json(L, v);
    else
        lua_pushnil(L);
    json_decref(v);
}

/* The argument at idx as a JSON object (new reference), or a Lua error. */
static json_t *arg_object(lua_State *L, int idx, const char *func)
{
    luaL_checktype(L, idx, LUA_TTABLE);
    struct ax_err err;
    ax_err_clear(&err);
    json_t *v = lua_rt_to_json(L, idx, &err);
    if (!v)
        raise_err(L, func, &err);
    if (!json_is_object(v)) {
        json_decref(v);
        luaL_error(L, "axon.%s: expected a table of field = value", func);
    }
    return v;
}

static void no_writes_before(lua_State *L, struct host_env *e, const char *func)
{
    if (e->before)
        luaL_error(L, "axon.%s: a before handler cannot write records or queue calls (it "
                      "may change event.record or reject the write); do this in an after "
                      "handler", func);
}

static const struct object_def *def_of(lua_State *L)
{
    return lua_touserdata(L, lua_upvalueindex(1));
}

/* The start of every axon.<object>.<verb>: its name, the permission it
 * needs, no writes in a before handler, and its charge (taken before
 * anything is allocated: a spent budget stops the run right here). */
static struct host_env *enter(lua_State *L, const struct object_def *def, const char *verb,
                              int rows, char func[64])
{
    struct host_env *e = env_of(L);
    snprintf(func, 64, "%s.%s", def->name, verb);
    need(L, e, func);
    if (rows)
        no_writes_before(L, e, func);
    lua_rt_charge(L, 1, rows);
    return e;
}

/* ---- reads ---- */

static int obj_get(lua_State *L)
{
    const struct object_def *def = def_of(L);
    char func[64];
    struct host_env *e = enter(L, def, "get", 0, func);
    const char *id = luaL_checkstring(L, 1);
    struct store_result res;
    struct ax_err err;
    ax_err_clear(&err);
    if (store_get(e->d, &e->ctx, def, id, &res, &err)) {
        if (err.code == AX_ENOTFOUND) {
            lua_pushnil(L);
            return 1;
        }
        return raise_err(L, func, &err);
    }
    char *doc = res.doc;
    res.doc = NULL;
    store_result_free(&res);
    json_t *v = json_loads(doc, 0, NULL);
    free(doc);
    lua_rt_push_json(L, v);
    json_decref(v);
    return 1;
}

static void value_text(lua_State *L, int idx, char *out, size_t n)
{
    if (lua_isinteger(L, idx))
        snprintf(out, n, "%lld", (long long)lua_tointeger(L, idx));
    else if (lua_type(L, idx) == LUA_TNUMBER)
        snprintf(out, n, "%.17g", lua_tonumber(L, idx));
    else if (lua_type(L, idx) == LUA_TBOOLEAN)
        snprintf(out, n, "%s", lua_toboolean(L, idx) ? "true" : "false");
    else if (lua_type(L, idx) == LUA_TSTRING)
        snprintf(out, n, "%s", lua_tostring(L, idx));
    else
        out[0] = '\0';
}

/* Turn the filter table at idx into query parameters (as the REST API's
 * ?field=value and ?field[op]=value). Returns 0 or -1 with err. */
static int add_filters(lua_State *L, int idx, struct host_env *e, const struct object_def *def,
                       struct store_query *q, struct ax_err *err)
{
    if (lua_isnoneornil(L, idx))
        return 0;
    if (!lua_istable(L, idx))
        return ax_fail(err, AX_EBADREQ,
                       "the filter must be a table of field = value (never a string)");
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        if (lua_type(L, -2) != LUA_TSTRING) {
            lua_pop(L, 2);
            return ax_fail(err, AX_EBADREQ, "filter keys must be field names");
        }
        const char *field = lua_tostring(L, -2);
        char key[160], value[1024];
        int rc = 0;
        if (lua_rt_is_null(L, -1)) {
            snprintf(key, sizeof key, "%s[null]", field);
            rc = store_query_param(e->d, &e->ctx, def, q, key, "true", err);
        } else if (lua_istable(L, -1)) {
            int ops = lua_gettop(L);
            lua_pushnil(L);
            while (rc == 0 && lua_next(L, ops)) {
                const char *op = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "";
                snprintf(key, sizeof key, "%s[%s]", field, op);
                if (lua_istable(L, -1)) {            /* in = {a, b, c} */
                    size_t used = 0;
                    value[0] = '\0';
                    lua_Integer len = (lua_Integer)lua_rawlen(L, -1);
                    for (lua_Integer i = 1; i <= len && used < sizeof value - 1; i++) {
                        lua_rawgeti(L, -1, i);
                        char one[512];
                        value_text(L, -1, one, sizeof one);
                        used += (size_t)snprintf(value + used, sizeof value - used, "%s%s",
                                                 i > 1 ? "," : "", one);
                        lua_pop(L, 1);
                    }
                } else {
                    value_text(L, -1, value, sizeof value);
                }
                rc = store_query_param(e->d, &e->ctx, def, q, key, value, err);
                lua_pop(L, 1);
            }
            if (rc)
                lua_pop(L, 1);   /* the key lua_next left */
        } else {
            value_text(L, -1, value, sizeof value);
            rc = store_query_param(e->d, &e->ctx, def, q, field, value, err);
        }
        lua_pop(L, 1);
        if (rc) {
            lua_pop(L, 1);
            return -1;
        }
    }
    return 0;
}

static int add_options(lua_State *L, int idx, struct host_env *e, const struct object_def *def,
                       struct store_query *q, struct ax_err *err)
{
    q->limit = FIND_LIMIT_DEFAULT;
    if (lua_isnoneornil(L, idx))
        return 0;
    if (!lua_istable(L, idx))
        return ax_fail(err, AX_EBADREQ, "options must be a table {limit=, sort=, after=}");
    static const char *const names[] = {"limit", "sort", "after", NULL};
    for (int i = 0; names[i]; i++) {
        lua_getfield(L, idx, names[i]);
        char value[512];
        value_text(L, -1, value, sizeof value);
        lua_pop(L, 1);
        if (!value[0])
            continue;
        if (i == 0) {
            long long n = atoll(value);
            if (n < 1 || n > FIND_LIMIT_MAX)
                return ax_fail(err, AX_EBADREQ, "limit must be from 1 to %d", FIND_LIMIT_MAX);
        }
        if (store_query_param(e->d, &e->ctx, def, q, names[i], value, err))
            return -1;
    }
    return 0;
}

/* Run a list query; returns the parsed {"data","next"[,"total"]} or NULL. */
static json_t *run_query(lua_State *L, struct host_env *e, const struct object_def *def,
                         bool count, struct ax_err *err)
{
    struct store_query q;
    store_query_init(&q);
    struct buf out;
    buf_init(&out, 0);
    json_t *result = NULL;
    if (add_filters(L, 1, e, def, &q, err) == 0 &&
        (count || add_options(L, 2, e, def, &q, err) == 0)) {
        if (count) {
            q.count = true;
            q.limit = 1;
        }
        if (store_list(e->d, &e->ctx, def, &q, &out, err) == 0 &&
            !(result = json_loadb(out.data, out.len, 0, NULL)))
            ax_fail(err, AX_EINTERNAL, "unreadable list");
    }
    buf_free(&out);
    store_query_release(&q);
    return result;
}

static int obj_find(lua_State *L)
{
    const struct object_def *def = def_of(L);
    char func[64];
    struct host_env *e = enter(L, def, "find", 0, func);
    struct ax_err err;
    ax_err_clear(&err);
    json_t *r = run_query(L, e, def, false, &err);
    if (!r)
        return raise_err(L, func, &err);
    json_t *data = json_object_get(r, "data");
    json_t *next = json_object_get(r, "next");
    lua_rt_push_json(L, data ? data : json_array());
    if (json_is_string(next))
        lua_pushstring(L, json_string_value(next));
    else
        lua_pushnil(L);
    json_decref(r);
    return 2;
}

static int obj_count(lua_State *L)
{
    const struct object_def *def = def_of(L);
    char func[64];
    struct host_env *e = enter(L, def, "count", 0, func);
    struct ax_err err;
    ax_err_clear(&err);
    json_t *r = run_query(L, e, def, true, &err);
    if (!r)
        return raise_err(L, func, &err);
    lua_pushinteger(L, (lua_Integer)json_integer_value(json_object_get(r, "total")));
    json_decref(r);
    return 1;
}

/* ---- writes ---- */

/* Validate and create; on success pushes the record and returns its doc
 * (caller frees) for effects. Raises on failure. */
static char *create_record(lua_State *L, struct host_env *e, const struct object_def *def,
                           json_t *fields, const char *func)
{
    struct ax_err err;
    ax_err_clear(&err);
    json_t *input = model_check_input(def, fields, true, &err);
    json_decref(fields);
    struct store_result res;
    memset(&res, 0, sizeof res);
    if (!input || store_create(e->d, &e->ctx, def, input, &res, &err)) {
        json_decref(input);
        return raise_err(L, func, &err), NULL;
    }
    json_decref(input);
    char *doc = res.doc;
    res.doc = NULL;
    store_result_free(&res);
    return doc;
}

static void capture_write(struct host_env *e, const char *effect, const struct object_def *def,
                          const char *id, json_t *detail_key_value, const char *key)
{
    if (!e->effects) {
        json_decref(detail_key_value);
        return;
    }
    json_t *fx = json_pack("{s:s,s:s,s:s}", "effect", effect, "object", def->name, "id", id);
    if (detail_key_value)
        json_object_set_new(fx, key, detail_key_value);
    host_capture(e, fx);
}

static void push_created(lua_State *L, struct host_env *e, const struct object_def *def,
                         char *doc, const char *effect)
{
    json_t *rec = json_loads(doc, 0, NULL);
    free(doc);
    const char *id = json_string_value(json_object_get(rec, "id"));
    capture_write(e, effect, def, id ? id : "", json_incref(rec), "record");
    lua_rt_push_json(L, rec);
    json_decref(rec);
}

static int obj_create(lua_State *L)
{
    const struct object_def *def = def_of(L);
    char func[64];
    struct host_env *e = enter(L, def, "create", 1, func);
    json_t *fields = arg_object(L, 1, func);
    char *doc = create_record(L, e, def, fields, func);
    push_created(L, e, def, doc, "create");
    return 1;
}

static int obj_update(lua_State *L)
{
    const struct object_def *def = def_of(L);
    char func[64];
    struct host_env *e = enter(L, def, "update", 1, func);
    const char *id = luaL_checkstring(L, 1);
    lua_Integer if_version = -1;
    if (lua_istable(L, 3)) {
        lua_getfield(L, 3, "if_version");
        if_version = lua_isinteger(L, -1) ? lua_tointeger(L, -1) : -1;
        lua_pop(L, 1);
    }
    json_t *patch = arg_object(L, 2, func);
    struct ax_err err;
    ax_err_clear(&err);
    json_t *input = model_check_input(def, patch, false, &err);
    json_decref(patch);
    struct store_result res;
    memset(&res, 0, sizeof res);
    if (!input || store_update(e->d, &e->ctx, def, id, input, if_version, &res, &err)) {
        json_decref(input);
        return raise_err(L, func, &err);
    }
    capture_write(e, "update", def, id, input, "changes");
    char *doc = res.doc;
    res.doc = NULL;
    store_result_free(&res);
    push_doc(L, doc);
    free(doc);
    return 1;
}

static int obj_delete(lua_State *L)
{
    const struct object_def *def = def_of(L);
    char func[64];
    struct host_env *e = enter(L, def, "delete", 1, func);
    const char *id = luaL_checkstring(L, 1);
    struct ax_err err;
    ax_err_clear(&err);
    if (store_delete(e->d, &e->ctx, def, id, -1, &err))
        return raise_err(L, func, &err);
    capture_write(e, "delete", def, id, NULL, NULL);
    lua_pushboolean(L, 1);
    return 1;
}

/* axon.notes.add{…} and axon.tasks.add{…}: activities of a fixed kind. */
static int activity_add(lua_State *L, const char *func, const char *kind)
{
    struct host_env *e = env_of(L);
    need(L, e, func);
    no_writes_before(L, e, func);
    lua_rt_charge(L, 1, 1);
    json_t *fields = arg_object(L, 1, func);
    json_t *given = json_object_get(fields, "kind");
    if (given && !(json_is_string(given) && !strcmp(json_string_value(given), kind))) {
        json_decref(fields);
        return luaL_error(L, "axon.%s makes activities of kind '%s'; leave out kind", func, kind);
    }
    json_object_set_new(fields, "kind", json_string(kind));
    const struct object_def *def = model_find("activities");
    char *doc = create_record(L, e, def, fields, func);
    push_created(L, e, def, doc, !strcmp(kind, "task") ? "task" : "note");
    return 1;
}

static int notes_add(lua_State *L) { return activity_add(L, "notes.add", "note"); }
static int tasks_add(lua_State *L) { return activity_add(L, "tasks.add", "task"); }

/* ---- suggestions and approvals ---- */

/* The live suggestion with this key (open, or accepted and not yet done),
 * newest first, as JSON (new reference), or NULL. */
static json_t *open_suggestion(struct host_env *e, const char *key, struct ax_err *err)
{
    const struct object_def *def = model_find("suggestions");
    struct store_query q;
    store_query_init(&q);
    struct buf out;
    buf_init(&out, 0);
    json_t *found = NULL;
    if (store_query_param(e->d, &e->ctx, def, &q, "dedupe_key", key, err) == 0 &&
        store_query_param(e->d, &e->ctx, def, &q, "status[in]", "open,accepted", err) == 0 &&
        store_query_param(e->d, &e->ctx, def, &q, "sort", "-created_at", err) == 0 &&
        store_query_param(e->d, &e->ctx, def, &q, "limit", "1", err) == 0 &&
        store_list(e->d, &e->ctx, def, &q, &out, err) == 0) {
        json_t *r = json_loadb(out.data, out.len, 0, NULL);
        json_t *first = json_array_get(json_object_get(r, "data"), 0);
        if (first)
            found = json_incref(first);
        json_decref(r);
    }
    buf_free(&out);
    store_query_release(&q);
    return found;
}

/* Merge new evidence into old: append items not there yet, keep the last 50. */
static json_t *merge_evidence(json_t *old, json_t *add)
{
    json_t *out = json_is_array(old) ? json_deep_copy(old) : json_array();
    size_t i, k;
    json_t *v, *w;
    json_array_foreach(add, i, v) {
        bool seen = false;
        json_array_foreach(out, k, w)
            if (json_equal(v, w))
                seen = true;
        if (!seen)
            json_array_append(out, v);
    }
    while (json_array_size(out) > EVIDENCE_MAX)
        json_array_remove(out, 0);
    return out;
}

static void default_key(json_t *in, char out[80])
{
    static const char *const parts[] = {"rule", "customer_id", "deal_id", "ticket_id", "title",
                                        NULL};
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, 16);
    for (int i = 0; parts[i]; i++) {
        const char *s = json_string_value(json_object_get(in, parts[i]));
        crypto_generichash_update(&st, (const unsigned char *)(s ? s : ""), s ? strlen(s) : 0);
        crypto_generichash_update(&st, (const unsigned char *)"\x1f", 1);
    }
    unsigned char h[16];
    crypto_generichash_final(&st, h, sizeof h);
    memcpy(out, "auto:", 5);
    sodium_bin2hex(out + 5, 80 - 5, h, sizeof h);
}

/* Fill rule, rule_version, expires_at and dedupe_key of a suggestion. */
static int shape_suggestion(struct host_env *e, json_t *in, char *why, size_t whysz)
{
    const char *rule = json_string_value(json_object_get(in, "rule"));
    char full[200];
    if (rule)
        snprintf(full, sizeof full, "%s/%s", e->version->name, rule);
    else
        snprintf(full, sizeof full, "%s", e->version->name);
    json_object_set_new(in, "rule", json_string(full));
    json_object_set_new(in, "rule_version", json_string(e->version->version));
    json_t *days = json_object_get(in, "expires_in_days");
    if (days) {
        if (!json_is_number(days) || json_number_value(days) <= 0 ||
            json_number_value(days) > 3650) {
            snprintf(why, whysz, "expires_in_days must be a number of days from 1 to 3650");
            return -1;
        }
        char at[TIME_TEXT_MAX];
        time_format_ms(time_now_ms() + (int64_t)(json_number_value(days) * 86400000.0), at);
        json_object_set_new(in, "expires_at", json_string(at));
        json_object_del(in, "expires_in_days");
    }
    json_t *key = json_object_get(in, "key");
    if (key && !json_is_string(key)) {
        snprintf(why, whysz, "key must be a string");
        return -1;
    }
    char auto_key[80];
    if (!key)
        default_key(in, auto_key);
    json_object_set_new(in, "dedupe_key", json_string(key ? json_string_value(key) : auto_key));
    json_object_del(in, "key");
    json_t *ev = json_object_get(in, "evidence");
    if (ev && json_is_object(ev))
        json_object_set_new(in, "evidence", json_pack("[O]", ev));
    return 0;
}

/* A retired rule makes no more suggestions: the run's log says so (and a
 * dry run's effects). 1 retired, 0 not, -1 error (err filled). */
static int suggest_retired(struct host_env *e, const char *rule, struct ax_err *err)
{
    int retired = rule ? sugg_rule_retired(e->d, e->ctx.tenant, rule, err) : 0;
    if (retired <= 0)
        return retired;
    char line[300], at[TIME_TEXT_MAX];
    snprintf(line, sizeof line, "axon.suggest: rule %.200s is retired; no suggestion made", rule);
    time_format_ms(time_now_ms(), at);
    if (json_array_size(e->logs) < LOG_LINES_MAX)
        json_array_append_new(e->logs, json_pack("{s:s,s:s,s:s}", "level", "info", "message",
                                                 line, "at", at));
    host_capture(e, json_pack("{s:s,s:s}", "effect", "suggest-skipped", "rule", rule));
    log_debug("pack %s: %s", e->source, line);
    return 1;
}

static int host_suggest(lua_State *L)
{
    struct host_env *e = env_of(L);
    need(L, e, "suggest");
    no_writes_before(L, e, "suggest");
    lua_rt_charge(L, 1, 1);
    json_t *in = arg_object(L, 1, "suggest");
    char why[160];
    if (shape_suggestion(e, in, why, sizeof why)) {
        json_decref(in);
        return luaL_error(L, "axon.suggest: %s", why);
    }
    const struct object_def *def = model_find("suggestions");
    struct ax_err err;
    ax_err_clear(&err);
    if (suggest_retired(e, json_string_value(json_object_get(in, "rule")), &err)) {
        json_decref(in);
        if (err.code)
            return raise_err(L, "suggest", &err);
        lua_pushnil(L);
        return 1;
    }
    json_t *input = model_check_input(def, in, true, &err);
    json_decref(in);
    if (!input)
        return raise_err(L, "suggest", &err);
    json_t *old = open_suggestion(e, json_string_value(json_object_get(input, "dedupe_key")),
                                  &err);
    if (!old && err.code) {
        json_decref(input);
        return raise_err(L, "suggest", &err);
    }
    if (!old) {
        char *doc = create_record(L, e, def, input, "suggest");
        push_created(L, e, def, doc, "suggest");
        return 1;
    }
    /* The same advice again: count it and add what is new to the evidence. */
    json_t *patch = json_object();
    json_object_set_new(patch, "occurrences",
                        json_integer(json_integer_value(json_object_get(old, "occurrences")) + 1));
    json_object_set_new(patch, "evidence", merge_evidence(json_object_get(old, "evidence"),
                                                          json_object_get(input, "evidence")));
    json_t *expires = json_object_get(input, "expires_at");
    if (expires)
        json_object_set(patch, "expires_at", expires);
    json_decref(input);
    char id[ID_MAX];
    snprintf(id, sizeof id, "%s", json_string_value(json_object_get(old, "id")));
    json_decref(old);
    struct store_result res;
    memset(&res, 0, sizeof res);
    int rc = store_update(e->d, &e->ctx, def, id, patch, -1, &res, &err);
    if (rc) {
        json_decref(patch);
        return raise_err(L, "suggest", &err);
    }
    capture_write(e, "suggest-merged", def, id, patch, "changes");
    char *doc = res.doc;
    res.doc = NULL;
    store_result_free(&res);
    push_doc(L, doc);
    free(doc);
    return 1;
}

static int approvals_request(lua_State *L)
{
    struct host_env *e = env_of(L);
    need(L, e, "approvals.request");
    no_writes_before(L, e, "approvals.request");
    lua_rt_charge(L, 1, 1);
    json_t *in = arg_object(L, 1, "approvals.request");
    json_object_del(in, "status");
    const struct object_def *def = model_find("approvals");
    char *doc = create_record(L, e, def, in, "approvals.request");
    push_created(L, e, def, doc, "approval");
    return 1;
}

/* ---- outbound calls ---- */

static bool header_ok(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return false;
    return true;
}

static int queue_call(lua_State *L, struct host_env *e, const char *kind, const char *method,
                      const char *target, json_t *request, const char *func)
{
    char id[ID_MAX];
    struct ax_err err;
    ax_err_clear(&err);
    if (outbound_enqueue(e->d, &e->ctx, kind, method, target, request, e->event_id, id, &err)) {
        json_decref(request);
        return raise_err(L, func, &err);
    }
    if (e->effects)
        host_capture(e, json_pack("{s:s,s:s,s:s?,s:s,s:O}", "effect", kind, "id", id, "method",
                                  method, "target", target, "request", request));
    json_decref(request);
    lua_createtable(L, 0, 2);
    lua_pushstring(L, id);
    lua_setfield(L, -2, "id");
    lua_pushliteral(L, "queued");
    lua_setfield(L, -2, "status");
    return 1;
}

static int http_call(lua_State *L)
{
    const char *method = lua_tostring(L, lua_upvalueindex(1));
    char func[32];
    snprintf(func, sizeof func, "http.%s", method);
    for (char *s = func + 5; *s; s++)
        *s = (char)(*s - 'A' + 'a');
    struct host_env *e = env_of(L);
    no_writes_before(L, e, func);
    const char *url = luaL_checkstring(L, 1);
    json_t *declared = json_object_get(e->version->manifest, "permissions");
    if (!pack_perm_url_allowed(declared, url))
        lua_rt_abort(L, "permission denied: axon.%s to %.200s is outside the pack's http "
                        "permissions (declare http:<url prefix> in pack.lua)", func, url);
    lua_rt_charge(L, 1, 0);
    bool has_body = strcmp(method, "GET") != 0;
    int opts = has_body ? 3 : 2;
    json_t *request = json_object();
    if (has_body && !lua_isnoneornil(L, 2)) {
        if (lua_type(L, 2) == LUA_TSTRING) {
            json_object_set_new(request, "body", json_string(lua_tostring(L, 2)));
        } else {
            struct ax_err err;
            ax_err_clear(&err);
            json_t *body = lua_rt_to_json(L, 2, &err);
            if (!body) {
                json_decref(request);
                return raise_err(L, func, &err);
            }
            json_object_set_new(request, "json", body);
        }
    }
    if (lua_istable(L, opts)) {
        lua_getfield(L, opts, "headers");
        if (lua_istable(L, -1)) {
            json_t *headers = json_object();
            json_object_set_new(request, "headers", headers);
            lua_pushnil(L);
            while (lua_next(L, -2)) {
                const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
                const char *v = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
                if (!k || !v || !header_ok(k) || !header_ok(v) || strchr(k, ':') ||
                    json_object_size(headers) >= HEADERS_MAX) {
                    json_decref(request);
                    return luaL_error(L, "axon.%s: headers must be at most %d string pairs "
                                         "without control characters", func, HEADERS_MAX);
                }
                json_object_set_new(headers, k, json_string(v));
                lua_pop(L, 1);
            }
        }
        lua_pop(L, 1);
    }
    return queue_call(L, e, "http", method, url, request, func);
}

static int email_send(lua_State *L)
{
    struct host_env *e = env_of(L);
    need(L, e, "email.send");
    no_writes_before(L, e, "email.send");
    lua_rt_charge(L, 1, 0);
    json_t *in = arg_object(L, 1, "email.send");
    const char *to = json_string_value(json_object_get(in, "to"));
    const char *subject = json_string_value(json_object_get(in, "subject"));
    const char *body = json_string_value(json_object_get(in, "body"));
    static const struct field_def email = {"to", FT_EMAIL, 0, 254, NULL, NULL, NULL, 0, NULL};
    struct ax_err err;
    ax_err_clear(&err);
    json_t *addr = to ? model_coerce(&email, json_object_get(in, "to"), "/to", 0, &err) : NULL;
    if (!addr || !subject || !body || !header_ok(subject)) {
        json_decref(addr);
        json_decref(in);
        return luaL_error(L, "axon.email.send needs to (an e-mail address), subject (one line) "
                             "and body");
    }
    json_t *request = json_pack("{s:s,s:s}", "subject", subject, "body", body);
    json_t *tmpl = json_object_get(in, "template");
    if (json_is_string(tmpl))
        json_object_set(request, "template", tmpl);
    char target[256];
    snprintf(target, sizeof target, "%s", json_string_value(addr));
    json_decref(addr);
    json_decref(in);
    return queue_call(L, e, "email", NULL, target, request, "email.send");
}

/* ---- intents, sentiment and tags ---- */

/* axon.intents.match(text): {intents = {{intent, score, hits}…}, dictionary_version} */
static int intents_match(lua_State *L)
{
    struct host_env *e = env_of(L);
    size_t n;
    const char *text = luaL_checklstring(L, 1, &n);
    lua_rt_charge(L, 1, 0);
    struct ax_err err;
    ax_err_clear(&err);
    struct buf out;
    buf_init(&out, 0);
    if (tags_text(e->d, e->ctx.tenant, INTENTS_ACTIVE, text, n, false, &out, &err)) {
        buf_free(&out);
        return raise_err(L, "intents.match", &err);
    }
    push_doc(L, out.data);
    buf_free(&out);
    return 1;
}

/* axon.sentiment(text): the active model's score in [-1, 1], nil for bad UTF-8. */
static int host_sentiment(lua_State *L)
{
    struct host_env *e = env_of(L);
    size_t n;
    const char *text = luaL_checklstring(L, 1, &n);
    lua_rt_charge(L, 1, 0);
    struct ax_err err;
    ax_err_clear(&err);
    double s;
    if (tags_sentiment(e->d, e->ctx.tenant, text, n, &s, &err))
        return raise_err(L, "sentiment", &err);
    if (isnan(s))
        lua_pushnil(L);
    else
        lua_pushnumber(L, s);
    return 1;
}

/* Push the JSON `fill` appends, nil when it says not found. */
static int push_found(lua_State *L, const char *func, int rc, struct buf *out,
                      const struct ax_err *err)
{
    if (rc && err->code != AX_ENOTFOUND) {
        buf_free(out);
        return raise_err(L, func, err);
    }
    if (rc)
        lua_pushnil(L);
    else
        push_doc(L, out->data);
    buf_free(out);
    return 1;
}

/* axon.intents.profile(customer_id): the customer's decaying intent profile, or nil. */
static int intents_profile(lua_State *L)
{
    struct host_env *e = env_of(L);
    need(L, e, "intents.profile");
    const char *id = luaL_checkstring(L, 1);
    lua_rt_charge(L, 1, 0);
    struct ax_err err;
    ax_err_clear(&err);
    struct buf out;
    buf_init(&out, 0);
    int rc = tags_profile(e->d, e->ctx.tenant, id, time_now_ms(), &out, &err);
    return push_found(L, "intents.profile", rc, &out, &err);
}

/* axon.tags.get(id): the stored tags of an activity or a ticket, or nil. */
static int tags_get(lua_State *L)
{
    struct host_env *e = env_of(L);
    need(L, e, "tags.get");
    const char *id = luaL_checkstring(L, 1);
    const struct object_def *def = !strncmp(id, "act_", 4) ? model_find("activities")
                                 : !strncmp(id, "tkt_", 4) ? model_find("tickets") : NULL;
    if (!def) {
        lua_pushnil(L);
        return 1;
    }
    char func[64];
    enter(L, def, "get", 0, func);            /* the permission of reading that record */
    struct ax_err err;
    ax_err_clear(&err);
    struct buf out;
    buf_init(&out, 0);
    int rc = tags_describe(e->d, e->ctx.tenant, def, id, &out, &err);
    return push_found(L, "tags.get", rc, &out, &err);
}

/* ---- the rest ---- */

static int host_log(lua_State *L)
{
    struct host_env *e = env_of(L);
    int n = lua_gettop(L), first = 1;
    const char *level = "info";
    static const char *const levels[] = {"debug", "info", "warn", "error", NULL};
    if (n > 1 && lua_type(L, 1) == LUA_TSTRING)
        for (int i = 0; levels[i]; i++)
            if (!strcmp(lua_tostring(L, 1), levels[i])) {
                level = levels[i];
                first = 2;
            }
    char line[LOG_LINE_MAX + 1];
    size_t used = 0;
    line[0] = '\0';
    for (int i = first; i <= n && used < LOG_LINE_MAX; i++) {
        size_t len;
        const char *s = luaL_tolstring(L, i, &len);
        used += (size_t)snprintf(line + used, sizeof line - used, "%s%.*s", i > first ? " " : "",
                                 (int)len, s);
        lua_pop(L, 1);
    }
    if (used > LOG_LINE_MAX)
        used = LOG_LINE_MAX;
    /* Cut at a character boundary so the line stays valid UTF-8. */
    while (used > 0 && !text_valid_utf8(line, used))
        used--;
    line[used] = '\0';
    lua_rt_charge(L, 1, 0);
    if (json_array_size(e->logs) < LOG_LINES_MAX) {
        char at[TIME_TEXT_MAX];
        time_format_ms(time_now_ms(), at);
        json_array_append_new(e->logs, json_pack("{s:s,s:s,s:s}", "level", level, "message",
                                                 line, "at", at));
    }
    log_debug("pack %s: %s", e->source, line);
    return 0;
}

static int host_now(lua_State *L)
{
    char now[TIME_TEXT_MAX];
    time_format_ms(time_now_ms(), now);
    lua_pushstring(L, now);
    return 1;
}

static int json_encode(lua_State *L)
{
    luaL_checkany(L, 1);
    struct ax_err err;
    ax_err_clear(&err);
    json_t *v = lua_rt_to_json(L, 1, &err);
    if (!v)
        return raise_err(L, "json.encode", &err);
    char *s = jx_dumps(v, JX_SORT_KEYS);
    json_decref(v);
    if (!s)
        return luaL_error(L, "axon.json.encode: out of memory");
    lua_pushstring(L, s);
    free(s);
    return 1;
}

static int json_decode(lua_State *L)
{
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    struct ax_err err;
    ax_err_clear(&err);
    json_t *v = jx_parse(s, n, &err);
    if (!v) {
        lua_pushnil(L);
        lua_pushstring(L, err.detail);
        return 2;
    }
    lua_rt_push_json(L, v);
    json_decref(v);
    return 1;
}

static char *fold_arg(lua_State *L, int idx)
{
    size_t n;
    const char *s = luaL_checklstring(L, idx, &n);
    char *f = text_fold(s, n);
    if (!f)
        luaL_error(L, "axon.text: argument %d is not valid UTF-8", idx);
    return f;
}

static int text_fold_fn(lua_State *L)
{
    char *f = fold_arg(L, 1);
    lua_pushstring(L, f);
    free(f);
    return 1;
}

static int text_contains(lua_State *L)
{
    char *h = fold_arg(L, 1);
    size_t n;
    const char *raw = luaL_checklstring(L, 2, &n);
    char *needle = text_fold(raw, n);
    if (!needle) {
        free(h);
        return luaL_error(L, "axon.text.contains: argument 2 is not valid UTF-8");
    }
    lua_pushboolean(L, strstr(h, needle) != NULL);
    free(h);
    free(needle);
    return 1;
}

static int text_length_fn(lua_State *L)
{
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    if (!text_valid_utf8(s, n))
        return luaL_error(L, "axon.text.length: not valid UTF-8");
    lua_pushinteger(L, (lua_Integer)text_length(s, n));
    return 1;
}

static int host_reject(lua_State *L)
{
    const char *msg = luaL_checkstring(L, 1);
    const char *field = luaL_optstring(L, 2, NULL);
    return lua_rt_reject(L, msg, field);
}

static int settings_index(lua_State *L)
{
    struct host_env *e = env_of(L);
    json_t *v = lua_type(L, 2) == LUA_TSTRING ? json_object_get(e->settings, lua_tostring(L, 2))
                                              : NULL;
    if (v && !json_is_null(v))       /* unset reads as nil: `axon.settings.x or 2` works */
        lua_rt_push_json(L, v);
    else
        lua_pushnil(L);
    return 1;
}

static int settings_newindex(lua_State *L)
{
    return luaL_error(L, "axon.settings is read-only (an admin sets it when publishing)");
}

/* ---- installing ---- */

static void set_fn(lua_State *L, const char *name, lua_CFunction fn)
{
    lua_pushcfunction(L, fn);
    lua_setfield(L, -2, name);
}

static void object_table(lua_State *L, const struct pack_perm_object *o)
{
    const struct object_def *def = model_find(o->name);
    lua_newtable(L);
    static const struct {
        const char *verb;
        lua_CFunction fn;
        bool write;
    } verbs[] = {{"get", obj_get, false},       {"find", obj_find, false},
                 {"count", obj_count, false},   {"create", obj_create, true},
                 {"update", obj_update, true},  {"delete", obj_delete, true}};
    for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++) {
        if (verbs[i].write && !o->writable)
            continue;
        lua_pushlightuserdata(L, (void *)def);
        lua_pushcclosure(L, verbs[i].fn, 1);
        lua_setfield(L, -2, verbs[i].verb);
    }
    if (!strcmp(o->name, "approvals"))
        set_fn(L, "request", approvals_request);
}

void host_install(lua_State *L, void *arg)
{
    int env = lua_gettop(L);
    lua_newtable(L);                                        /* axon */
    for (const struct pack_perm_object *o = pack_perm_objects; o->name; o++) {
        object_table(L, o);
        lua_rt_readonly(L);
        lua_setfield(L, -2, o->name);
    }
    static const struct {
        const char *table;
        const char *name;
        lua_CFunction fn;
    } members[] = {
        {"notes", "add", notes_add},          {"tasks", "add", tasks_add},
        {"email", "send", email_send},        {"json", "encode", json_encode},
        {"json", "decode", json_decode},      {"text", "fold", text_fold_fn},
        {"text", "contains", text_contains},  {"text", "length", text_length_fn},
        {"intents", "match", intents_match},  {"intents", "profile", intents_profile},
        {"tags", "get", tags_get},
    };
    for (size_t i = 0; i < sizeof members / sizeof members[0]; i++) {
        if (lua_getfield(L, -1, members[i].table) != LUA_TTABLE) {
            lua_pop(L, 1);
            lua_newtable(L);
            lua_pushvalue(L, -1);
            lua_setfield(L, -3, members[i].table);
        }
        set_fn(L, members[i].name, members[i].fn);
        lua_pop(L, 1);
    }
    lua_newtable(L);                                        /* http */
    static const char *const methods[] = {"GET", "POST", "PUT"};
    static const char *const keys[] = {"get", "post", "put"};
    for (int i = 0; i < 3; i++) {
        lua_pushstring(L, methods[i]);
        lua_pushcclosure(L, http_call, 1);
        lua_setfield(L, -2, keys[i]);
    }
    lua_setfield(L, -2, "http");
    set_fn(L, "suggest", host_suggest);
    set_fn(L, "sentiment", host_sentiment);
    set_fn(L, "log", host_log);
    set_fn(L, "now", host_now);
    set_fn(L, "reject", host_reject);
    lua_rt_push_null(L);
    lua_setfield(L, -2, "null");
    lua_newtable(L);                                        /* settings */
    lua_createtable(L, 0, 3);
    lua_pushcfunction(L, settings_index);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, settings_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, -2);
    lua_setfield(L, -2, "settings");
    if (arg)
        ((const struct host_extra *)arg)->add(L);
    /* Seal the tables made above (object tables are sealed already). */
    static const char *const plain[] = {"notes", "tasks", "email", "json", "text", "http",
                                        "intents", "tags", NULL};
    for (int i = 0; plain[i]; i++) {
        lua_getfield(L, -1, plain[i]);
        lua_rt_readonly(L);
        lua_setfield(L, -2, plain[i]);
    }
    lua_rt_readonly(L);
    lua_setfield(L, env, "axon");
    lua_pushcfunction(L, host_log);                          /* print goes to the run log */
    lua_setfield(L, env, "print");
}

/* ---- calls and budgets ---- */

int host_call(struct lua_rt *rt, struct host_env *env, const char *fn, json_t *event,
              const struct lua_budget *budget, json_t **event_back, struct lua_run *run,
              struct ax_err *err)
{
    const char *dot = strrchr(fn, '.');
    char module[128];
    if (!dot || dot == fn || (size_t)(dot - fn) >= sizeof module)
        return ax_fail(err, AX_EINVALID, "handler '%.100s' is not module.function", fn);
    snprintf(module, sizeof module, "%.*s", (int)(dot - fn), fn);
    memset(run, 0, sizeof *run);
    run->budget = *budget;
    run->host = env;
    return lua_rt_call(rt, module, dot + 1, event, NULL, event_back, run, err);
}

/* Ceilings a tenant's override may reach: a before handler holds up the
 * write (and the writer) it runs in, so its ceiling is low. */
static const struct lua_budget ceiling_before = {
    .instructions = 50000000, .memory = 64 << 20, .wall_ms = 1000, .host_calls = 1000,
    .rows = 0};
static const struct lua_budget ceiling_after = {
    .instructions = 200000000, .memory = 256 << 20, .wall_ms = 10000, .host_calls = 20000,
    .rows = 20000};
/* and floors, below which nothing useful runs */
static const struct lua_budget floor_budget = {
    .instructions = 10000, .memory = 1 << 20, .wall_ms = 10, .host_calls = 1, .rows = 0};

void host_budget_limits(bool before, struct lua_budget *floor, struct lua_budget *ceiling)
{
    if (floor)
        *floor = floor_budget;
    if (ceiling)
        *ceiling = before ? ceiling_before : ceiling_after;
}

static void apply_budget(json_t *spec, struct lua_budget *b, bool before, bool may_raise)
{
    static const char *const names[] = {"instructions", "memory", "wall_ms", "host_calls",
                                        "rows"};
    int64_t *slots[] = {&b->instructions, &b->memory, &b->wall_ms, &b->host_calls, &b->rows};
    const struct lua_budget *c = before ? &ceiling_before : &ceiling_after;
    const int64_t ceil[] = {c->instructions, c->memory, c->wall_ms, c->host_calls, c->rows};
    for (int i = 0; i < 5; i++) {
        json_t *v = json_object_get(spec, names[i]);
        if (!json_is_integer(v) || json_integer_value(v) < 0)
            continue;
        int64_t n = json_integer_value(v);
        if (n > ceil[i])
            n = ceil[i];
        if (may_raise || n < *slots[i])
            *slots[i] = n;
    }
}

void host_budget(struct db *d, int64_t tenant, json_t *manifest, bool before,
                 struct lua_budget *out)
{
    *out = before ? lua_budget_before : lua_budget_after;
    struct ax_err err;
    ax_err_clear(&err);
    json_t *spec = tenant_setting(d, tenant, "workflow_budget", &err);
    apply_budget(json_object_get(spec, before ? "before" : "after"), out, before, true);
    json_decref(spec);
    apply_budget(json_object_get(manifest, "budget"), out, before, false);
    if (before)
        out->rows = 0;    /* before handlers never write */
}
