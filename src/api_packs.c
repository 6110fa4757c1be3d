/* api_packs.c - workflow packs: upload, versions, publish, rollback,
 * replay, run log, deliveries, the outbound queue and workflow budgets. */
#include "axon/api.h"

#include "axon/audit.h"
#include "axon/events.h"
#include "axon/jx.h"
#include "axon/lua_host.h"
#include "axon/model.h"
#include "axon/outbound.h"
#include "axon/pack_bundle.h"
#include "axon/pack_sim.h"
#include "axon/packs.h"
#include "axon/tenant.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static bool admin(struct req *r) { return http_require_role(r, ROLE_ADMIN); }
static bool leads(struct req *r) { return http_require_role(r, ROLES_LEADS); }

/* A version as it appears in URLs: the manifest's version text. */
static bool version_ok(struct req *r, const char *v)
{
    size_t n = strlen(v);
    bool ok = n > 0 && n <= 32 && strspn(v, "0123456789abcdefghijklmnopqrstuvwxyz"
                                           "ABCDEFGHIJKLMNOPQRSTUVWXYZ.-+") == n;
    if (!ok)
        http_reply_problem(r, AX_ENOTFOUND, "no such pack version");
    return ok;
}

/* A JSON object body, or {} when the body is empty. NULL: reply sent. */
static json_t *optional_body(struct req *r)
{
    if (r->body.len == 0)
        return json_object();
    json_t *v = http_json_body(r);
    if (v && !json_is_object(v)) {
        json_decref(v);
        http_reply_problem(r, AX_EBADREQ, "the body must be a JSON object");
        return NULL;
    }
    return v;
}

/* Refuse members other than `allowed` (NULL-terminated). */
static bool only_members(struct req *r, json_t *body, const char *const *allowed)
{
    const char *k;
    json_t *v;
    json_object_foreach(body, k, v) {
        bool ok = false;
        for (int i = 0; allowed[i]; i++)
            ok |= !strcmp(k, allowed[i]);
        if (!ok) {
            struct ax_err e;
            ax_err_clear(&e);
            char ptr[96];
            snprintf(ptr, sizeof ptr, "/%.80s", k);
            ax_field(&e, ptr, "unknown member");
            ax_fail_type(&e, AX_EINVALID, "unknown-field", "'%.60s' is not accepted here", k);
            http_reply_error(r, &e);
            return false;
        }
    }
    return true;
}

/* ---- upload ---- */

struct upload {
    struct req *r;
    struct pack_bundle bundle;
    struct pack_checks checks;
};

static void upload_free(void *p)
{
    struct upload *u = p;
    pack_bundle_free(&u->bundle);
    pack_checks_release(&u->checks);
    free(u);
}

static int store_upload(struct db *d, void *arg, struct ax_err *err)
{
    struct upload *u = arg;
    bool created;
    char pack_id[ID_MAX], version[40];
    struct buf out;
    buf_init(&out, 0);
    if (packs_store_version(d, &u->r->ctx, &u->bundle, &u->checks, &created, pack_id, version, &out,
                            err)) {
        buf_free(&out);
        return -1;
    }
    char loc[160];
    snprintf(loc, sizeof loc, "/api/v1/packs/%s/versions/%s", pack_id, version);
    http_add_header(u->r, "Location", loc);
    http_reply_buf(u->r, created ? 201 : 200, &out);
    buf_free(&out);
    return 0;
}

void api_pack_upload(struct req *r)
{
    if (!admin(r))
        return;
    if (!r->upload_path || r->upload_size == 0) {
        http_reply_problem(r, AX_EBADREQ, "no pack: send the .zip or .tar.gz as the body, or "
                                          "as a multipart/form-data field 'file'");
        return;
    }
    if (r->upload_size > PACK_MAX_ARCHIVE) {
        http_reply_problem(r, AX_ETOOLARGE, "a pack archive may be at most %u bytes",
                           PACK_MAX_ARCHIVE);
        return;
    }
    struct upload *u = calloc(1, sizeof *u);
    if (!u) {
        http_reply_problem(r, AX_EUNAVAIL, "out of memory");
        return;
    }
    u->r = r;
    struct ax_err e;
    ax_err_clear(&e);
    /* The scan and the tests take time: here, not in the writer. */
    if (pack_bundle_read_file(r->upload_path, &u->bundle, &e) ||
        pack_check(&u->bundle, &u->checks, &e)) {
        http_reply_error(r, &e);
        upload_free(u);
        return;
    }
    http_write(r, store_upload, u, upload_free);
}

/* ---- reading ---- */

void api_packs_list(struct req *r) { api_tenant_read(r, ROLES_LEADS, packs_list); }

void api_pack_get(struct req *r)
{
    struct db *d = leads(r) ? api_read_db(r) : NULL;
    if (!d)
        return;
    struct ax_err e;
    ax_err_clear(&e);
    struct buf out;
    buf_init(&out, 0);
    http_reply_result(r, packs_describe(d, r->ctx.tenant, r->params[0], &out, &e), &out, &e, 200);
}

void api_pack_version(struct req *r)
{
    struct db *d = leads(r) && version_ok(r, r->params[1]) ? api_read_db(r) : NULL;
    if (!d)
        return;
    struct ax_err e;
    ax_err_clear(&e);
    struct buf out;
    buf_init(&out, 0);
    http_reply_result(r, packs_version_describe(d, r->ctx.tenant, r->params[0], r->params[1], &out, &e),
              &out, &e, 200);
}

void api_pack_file(struct req *r)
{
    struct db *d = leads(r) && version_ok(r, r->params[1]) ? api_read_db(r) : NULL;
    if (!d)
        return;
    const char *path = http_query(r, "path");
    if (!path || !*path || strlen(path) > PACK_MAX_PATH) {
        http_reply_problem(r, AX_EBADREQ, "name the file as ?path=route.lua");
        return;
    }
    struct ax_err e;
    ax_err_clear(&e);
    struct buf out;
    buf_init(&out, 0);
    http_reply_result(r, packs_version_file(d, r->ctx.tenant, r->params[0], r->params[1], path, &out,
                                    &e), &out, &e, 200);
}

void api_pack_runs(struct req *r)
{
    struct db *d = leads(r) ? api_read_db(r) : NULL;
    long long limit, before;
    if (!d || api_int_param(r, "limit", 50, 1, 500, &limit) ||
        api_int_param(r, "after", 0, 0, 2000000000, &before))
        return;
    static const char *const outcomes[] = {"ok", "error", "rejected", "killed", NULL};
    const char *outcome;
    if (api_enum_param(r, "outcome", outcomes, &outcome))
        return;
    struct ax_err e;
    ax_err_clear(&e);
    struct buf out;
    buf_init(&out, 0);
    http_reply_result(r, packs_runs(d, r->ctx.tenant, r->params[0], outcome, (int)limit, before, &out,
                            &e), &out, &e, 200);
}

static void list_deliveries(struct req *r, const char *pack_id)
{
    struct db *d = leads(r) ? api_read_db(r) : NULL;
    long long limit, before;
    if (!d || api_int_param(r, "limit", 50, 1, 500, &limit) ||
        api_int_param(r, "after", 0, 0, 2000000000, &before))
        return;
    static const char *const statuses[] = {"pending", "done", "dead", "skipped", NULL};
    const char *status;
    if (api_enum_param(r, "status", statuses, &status))
        return;
    struct ax_err e;
    ax_err_clear(&e);
    if (pack_id) {
        struct buf probe;
        buf_init(&probe, 0);
        int rc = packs_describe(d, r->ctx.tenant, pack_id, &probe, &e);
        buf_free(&probe);
        if (rc) {
            http_reply_error(r, &e);
            return;
        }
    }
    struct buf out;
    buf_init(&out, 0);
    http_reply_result(r, event_deliveries(d, r->ctx.tenant, pack_id, status, (int)limit, before, &out,
                                  &e), &out, &e, 200);
}

void api_pack_deliveries(struct req *r) { list_deliveries(r, r->params[0]); }
void api_deliveries(struct req *r) { list_deliveries(r, NULL); }

void api_pack_history(struct req *r)
{
    struct db *d = leads(r) ? api_read_db(r) : NULL;
    long long limit, before;
    if (!d || api_int_param(r, "limit", 50, 1, 200, &limit) ||
        api_int_param(r, "after", 0, 0, 2000000000, &before))
        return;
    struct ax_err e;
    ax_err_clear(&e);
    struct buf out;
    buf_init(&out, 0);
    int rc = packs_describe(d, r->ctx.tenant, r->params[0], &out, &e);
    buf_reset(&out);
    if (rc == 0)
        rc = audit_history(d, r->ctx.tenant, r->params[0], (int)limit, before, &out, &e);
    http_reply_result(r, rc, &out, &e, 200);
}

void api_outbound_list(struct req *r)
{
    struct db *d = admin(r) ? api_read_db(r) : NULL;
    long long limit;
    if (!d || api_int_param(r, "limit", 50, 1, 500, &limit))
        return;
    static const char *const statuses[] = {"queued", "sent", "failed", "dead", NULL};
    const char *status, *after = http_query(r, "after");
    if (api_enum_param(r, "status", statuses, &status))
        return;
    if (after && strlen(after) >= ID_MAX) {
        http_reply_problem(r, AX_EBADREQ, "after must be an outbound id");
        return;
    }
    struct ax_err e;
    ax_err_clear(&e);
    struct buf out;
    buf_init(&out, 0);
    http_reply_result(r, outbound_list(d, r->ctx.tenant, status, (int)limit, after, &out, &e), &out, &e,
              200);
}

/* ---- publishing ---- */

struct pack_op {
    struct req *r;
    int kind;                 /* 0 publish, 1 disable, 2 rollback, 3 replay, 4 retry, 5 budget */
    json_t *body;
    json_t *events;
    bool summary_only;
};

static void pack_op_free(void *p)
{
    struct pack_op *o = p;
    json_decref(o->body);
    json_decref(o->events);
    free(o);
}

static const char *member(json_t *body, const char *key)
{
    return json_string_value(json_object_get(body, key));
}

static int run_replay(struct db *d, struct pack_op *o, struct buf *out, struct ax_err *err)
{
    struct pack_version v;
    if (packs_version_find(d, o->r->ctx.tenant, o->r->params[0], o->r->params[1], &v, err))
        return -1;
    int rc = sim_replay(d, &o->r->ctx, &v, o->events, o->summary_only, out, err);
    packs_version_release(&v);
    return rc;
}

static int run_pack_op(struct db *d, void *arg, struct ax_err *err)
{
    struct pack_op *o = arg;
    struct req *r = o->r;
    struct buf out;
    buf_init(&out, 0);
    int rc;
    switch (o->kind) {
    case 0:
        rc = packs_publish(d, &r->ctx, r->params[0], r->params[1], member(o->body, "scope"),
                           member(o->body, "unit_id"), json_object_get(o->body, "settings"),
                           &out, err);
        break;
    case 1:
        rc = packs_disable(d, &r->ctx, r->params[0], &out, err);
        break;
    case 2:
        rc = packs_rollback(d, &r->ctx, r->params[0], member(o->body, "version"), &out, err);
        break;
    case 3:
        rc = run_replay(d, o, &out, err);
        break;
    case 4:
        rc = event_retry(d, &r->ctx, r->params[0], &out, err);
        break;
    default:
        rc = tenant_set_setting(d, &r->ctx, "workflow_budget",
                                json_object_size(o->body) ? o->body : NULL, err);
        if (rc == 0)
            rc = jx_dump(&out, o->body, 0);
        break;
    }
    if (rc == 0)
        http_reply_buf(r, 200, &out);
    buf_free(&out);
    return rc;
}

static void submit(struct req *r, int kind, json_t *body)
{
    struct pack_op *o = calloc(1, sizeof *o);
    if (!o) {
        json_decref(body);
        http_reply_problem(r, AX_EUNAVAIL, "out of memory");
        return;
    }
    o->r = r;
    o->kind = kind;
    o->body = body;
    http_write(r, run_pack_op, o, pack_op_free);
}

void api_pack_publish(struct req *r)
{
    static const char *const allowed[] = {"scope", "unit_id", "settings", NULL};
    if (!admin(r) || !version_ok(r, r->params[1]))
        return;
    json_t *body = optional_body(r);
    if (!body)
        return;
    if (!only_members(r, body, allowed)) {
        json_decref(body);
        return;
    }
    json_t *scope = json_object_get(body, "scope"), *unit = json_object_get(body, "unit_id");
    if ((scope && !json_is_string(scope)) || (unit && !json_is_string(unit) && !json_is_null(unit))) {
        json_decref(body);
        http_reply_problem(r, AX_EINVALID, "scope and unit_id must be strings");
        return;
    }
    submit(r, 0, body);
}

void api_pack_disable(struct req *r)
{
    if (admin(r))
        submit(r, 1, NULL);
}

void api_pack_rollback(struct req *r)
{
    static const char *const allowed[] = {"version", NULL};
    if (!admin(r))
        return;
    json_t *body = optional_body(r);
    if (!body)
        return;
    json_t *v = json_object_get(body, "version");
    if (!only_members(r, body, allowed) || (v && !json_is_string(v))) {
        if (v && !json_is_string(v))
            http_reply_problem(r, AX_EINVALID, "version must be a string such as \"1.0.0\"");
        json_decref(body);
        return;
    }
    submit(r, 2, body);
}

void api_pack_replay(struct req *r)
{
    if (!admin(r) || !version_ok(r, r->params[1]))
        return;
    const char *detail = http_query(r, "detail");
    if (detail && strcmp(detail, "summary") && strcmp(detail, "full")) {
        http_reply_problem(r, AX_EBADREQ, "detail must be summary or full");
        return;
    }
    const char *ct = http_header(r, "Content-Type");
    if (!ct || (strncasecmp(ct, "application/json", 16) &&
                strncasecmp(ct, "application/x-ndjson", 20) &&
                strncasecmp(ct, "application/ndjson", 18))) {
        http_reply_problem(r, AX_EMEDIATYPE, "send the events as application/json or "
                                             "application/x-ndjson");
        return;
    }
    struct ax_err e;
    ax_err_clear(&e);
    json_t *events = sim_parse_events(r->body.data ? r->body.data : "", r->body.len, &e);
    if (!events) {
        http_reply_error(r, &e);
        return;
    }
    struct pack_op *o = calloc(1, sizeof *o);
    if (!o) {
        json_decref(events);
        http_reply_problem(r, AX_EUNAVAIL, "out of memory");
        return;
    }
    o->r = r;
    o->kind = 3;
    o->events = events;
    o->summary_only = detail && !strcmp(detail, "summary");
    http_write(r, run_pack_op, o, pack_op_free);
}

void api_delivery_retry(struct req *r)
{
    if (admin(r))
        submit(r, 4, NULL);
}

/* ---- workflow budgets ---- */

static json_t *budget_json(const struct lua_budget *b)
{
    return json_pack("{s:I,s:I,s:I,s:I,s:I}", "instructions", b->instructions, "memory",
                     b->memory, "wall_ms", b->wall_ms, "host_calls", b->host_calls, "rows",
                     b->rows);
}

void api_workflow_budget_get(struct req *r)
{
    struct db *d = admin(r) ? api_read_db(r) : NULL;
    if (!d)
        return;
    struct ax_err e;
    ax_err_clear(&e);
    json_t *v = tenant_setting(d, r->ctx.tenant, "workflow_budget", &e);
    if (!v && e.code) {
        http_reply_error(r, &e);
        return;
    }
    struct lua_budget eff_b, eff_a, floor, ceil_b, ceil_a;
    host_budget(d, r->ctx.tenant, NULL, true, &eff_b);
    host_budget(d, r->ctx.tenant, NULL, false, &eff_a);
    host_budget_limits(true, &floor, &ceil_b);
    host_budget_limits(false, NULL, &ceil_a);
    json_t *doc = json_pack("{s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "override",
                            v ? v : json_object(), "default_before", budget_json(&lua_budget_before),
                            "default_after", budget_json(&lua_budget_after), "effective_before",
                            budget_json(&eff_b), "effective_after", budget_json(&eff_a),
                            "floor", budget_json(&floor), "ceiling_before", budget_json(&ceil_b),
                            "ceiling_after", budget_json(&ceil_a));
    char *text = jx_dumps(doc, 0);
    json_decref(doc);
    http_reply_json(r, 200, text ? text : "{}");
    free(text);
}

/* PUT {"before":{…},"after":{…}}: the tenant's budgets ({} resets). Values
 * outside [floor, ceiling] are refused, not quietly capped. */
void api_workflow_budget_put(struct req *r)
{
    static const char *const phases[] = {"before", "after", NULL};
    static const char *const limits[] = {"instructions", "memory", "wall_ms", "host_calls",
                                         "rows", NULL};
    if (!admin(r))
        return;
    json_t *body = http_json_body(r);
    if (!body)
        return;
    if (!json_is_object(body) || !only_members(r, body, phases)) {
        if (!json_is_object(body))
            http_reply_problem(r, AX_EBADREQ, "the body must be a JSON object");
        json_decref(body);
        return;
    }
    struct ax_err e;
    ax_err_clear(&e);
    const char *k;
    json_t *v;
    json_object_foreach(body, k, v) {
        if (!json_is_object(v) || !only_members(r, v, limits)) {
            if (!r->replied)
                http_reply_problem(r, AX_EINVALID, "'%s' must be an object of limits", k);
            json_decref(body);
            return;
        }
        struct lua_budget lo, hi;
        host_budget_limits(!strcmp(k, "before"), &lo, &hi);
        const int64_t los[] = {lo.instructions, lo.memory, lo.wall_ms, lo.host_calls, lo.rows};
        const int64_t his[] = {hi.instructions, hi.memory, hi.wall_ms, hi.host_calls, hi.rows};
        for (int i = 0; limits[i]; i++) {
            json_t *x = json_object_get(v, limits[i]);
            if (!x)
                continue;
            char ptr[64];
            snprintf(ptr, sizeof ptr, "/%s/%s", k, limits[i]);
            if (!json_is_integer(x) || json_integer_value(x) < los[i] ||
                json_integer_value(x) > his[i])
                ax_field(&e, ptr, his[i] == 0 ? "before handlers never write rows"
                                              : "must be an integer from %lld to %lld",
                         (long long)los[i], (long long)his[i]);
        }
    }
    if (e.nfields) {
        ax_fail_type(&e, AX_EINVALID, "validation-error", "the budgets are out of range");
        http_reply_error(r, &e);
        json_decref(body);
        return;
    }
    submit(r, 5, body);
}
