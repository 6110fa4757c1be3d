/* api_admin.c - tenant, API keys, passwords, audit trail, health. */
#include "axon/api.h"

#include "axon/audit.h"
#include "axon/auth.h"
#include "axon/model.h"
#include "axon/store.h"
#include "axon/tenant.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void api_health(struct req *r)
{
    http_reply_json(r, 200, "{\"status\":\"ok\"}");
}

/* Problem types are URIs relative to the server; each answers with what it means. */
void api_problem_doc(struct req *r)
{
    static const struct { const char *slug, *text; } docs[] = {
        {"bad-request", "The request is malformed: a bad parameter, header or cursor."},
        {"malformed-json", "The body is not valid JSON (or nests too deep, repeats a key, holds \\u0000)."},
        {"unauthenticated", "Sign in, or send an API key as 'Authorization: Bearer <key>'."},
        {"bad-credentials", "The tenant, e-mail or password is not right."},
        {"forbidden", "Your role or key scope does not allow this."},
        {"csrf", "Browser writes need the session's X-CSRF-Token and must come from this site."},
        {"not-found", "No such resource, or it belongs to another tenant."},
        {"method-not-allowed", "The resource exists but not with this method; see Allow."},
        {"conflict", "The write conflicts with the stored state."},
        {"duplicate", "Another record already has this unique value (see errors[].pointer)."},
        {"in-use", "Other records still refer to this one."},
        {"last-admin", "A tenant keeps at least one active admin."},
        {"decided", "The record was decided already (a suggestion accepted, dismissed or completed; an approval); the outcome cannot change."},
        {"expired", "The suggestion's time ran out before it was decided."},
        {"rule-retired", "The rule was retired: it makes no more suggestions."},
        {"precondition-failed", "If-Match did not match the record's current ETag."},
        {"version-mismatch", "Someone changed the record since you read it; reload and retry."},
        {"payload-too-large", "The body is larger than the server accepts."},
        {"unsupported-media-type", "Send JSON as application/json (uploads as multipart/form-data or text/csv)."},
        {"validation-error", "Fields are invalid; errors[] names each with a JSON pointer."},
        {"unknown-field", "The filter or field is not one this object has."},
        {"bad-sort", "Sorting is allowed on the fields the OpenAPI document lists as sortable."},
        {"bad-cursor", "The 'after' cursor is not one this list gave out."},
        {"ambiguous", "More than one record matches the natural key."},
        {"idempotency-key-reused", "The Idempotency-Key was used before for a different request."},
        {"rate-limited", "Too many requests; wait Retry-After seconds."},
        {"internal-error", "A fault in Axon; the request id helps find it in the log."},
        {"unavailable", "Overloaded or storage unavailable; retry later."},
    };
    for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++)
        if (strcmp(r->params[0], docs[i].slug) == 0) {
            struct buf b;
            buf_init(&b, 0);
            buf_adds(&b, "{\"type\":\"/problems/");
            buf_adds(&b, docs[i].slug);
            buf_adds(&b, "\",\"description\":");
            buf_add_json_str(&b, docs[i].text, strlen(docs[i].text));
            buf_addc(&b, '}');
            http_reply_buf(r, 200, &b);
            buf_free(&b);
            return;
        }
    http_reply_problem(r, AX_ENOTFOUND, "no such problem type");
}

void api_tenant(struct req *r)
{
    struct db *d = api_read_db(r);
    if (!d)
        return;
    struct ax_err e;
    ax_err_clear(&e);
    struct buf out;
    buf_init(&out, 0);
    if (tenant_describe(d, r->ctx.tenant, &out, &e))
        http_reply_error(r, &e);
    else
        http_reply_buf(r, 200, &out);
    buf_free(&out);
}

/* ---- API keys ---- */

void api_keys_list(struct req *r)
{
    if (!http_require_role(r, ROLE_ADMIN))
        return;
    struct db *d = api_read_db(r);
    if (!d)
        return;
    struct ax_err e;
    ax_err_clear(&e);
    struct buf out;
    buf_init(&out, 0);
    if (auth_api_key_list(d, &r->ctx, &out, &e))
        http_reply_error(r, &e);
    else
        http_reply_buf(r, 200, &out);
    buf_free(&out);
}

struct key_create {
    struct req *r;
    char name[128], scopes[64], expires[40];
    bool has_expiry;
};

static int run_key_create(struct db *d, void *arg, struct ax_err *err)
{
    struct key_create *k = arg;
    char token[AUTH_TOKEN_MAX], id[ID_MAX];
    if (auth_api_key_create(d, &k->r->ctx, k->name, k->scopes, k->has_expiry ? k->expires : NULL,
                            token, id, err))
        return -1;
    /* Answer with the scopes as stored ("admin" is "read write admin"). */
    sqlite3_stmt *st = db_prep(d, "SELECT scopes FROM api_keys WHERE id=?", err);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW)
        snprintf(k->scopes, sizeof k->scopes, "%s", (const char *)sqlite3_column_text(st, 0));
    db_reset(st);
    json_t *audit = json_pack("{s:[ns],s:[ns]}", "name", k->name, "scopes", k->scopes);
    int rc = audit_append(d, &k->r->ctx, "api_keys", id, "create", audit, err);
    json_decref(audit);
    if (rc)
        return -1;
    json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "object", "api_key", "id", id, "name",
                          k->name, "scopes", k->scopes, "token", token, "note",
                          "the token is shown only now; store it safely");
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    char loc[96];
    snprintf(loc, sizeof loc, "/api/v1/api-keys/%s", id);
    http_add_header(k->r, "Location", loc);
    http_reply_json(k->r, 201, s);
    free(s);
    sodium_memzero(token, sizeof token);
    return 0;
}

void api_keys_create(struct req *r)
{
    if (!http_require_role(r, ROLE_ADMIN))
        return;
    json_t *body = http_json_body(r);
    if (!body)
        return;
    const char *name = NULL, *scopes = "read", *expires = NULL;
    json_error_t je;
    int rc = json_unpack_ex(body, &je, JSON_STRICT, "{s:s,s?:s,s?:s}", "name", &name, "scopes",
                            &scopes, "expires_at", &expires);
    if (rc || strlen(name) >= 128 || strlen(scopes) >= 64 || (expires && strlen(expires) >= 40)) {
        json_decref(body);
        http_reply_problem(r, AX_EINVALID,
                           "send {\"name\": …, \"scopes\": \"read write admin\", \"expires_at\": …}");
        return;
    }
    struct key_create *k = calloc(1, sizeof *k);
    k->r = r;
    snprintf(k->name, sizeof k->name, "%s", name);
    snprintf(k->scopes, sizeof k->scopes, "%s", scopes);
    if (expires) {
        snprintf(k->expires, sizeof k->expires, "%s", expires);
        k->has_expiry = true;
    }
    json_decref(body);
    http_write(r, run_key_create, k, free);
}

static int run_key_revoke(struct db *d, void *arg, struct ax_err *err)
{
    struct req *r = arg;
    if (auth_api_key_revoke(d, &r->ctx, r->params[0], err))
        return -1;
    json_t *audit = json_pack("{s:[bb]}", "revoked", 0, 1);
    int rc = audit_append(d, &r->ctx, "api_keys", r->params[0], "update", audit, err);
    json_decref(audit);
    if (rc == 0)
        http_reply(r, 204, NULL, "", 0);
    return rc;
}

void api_keys_revoke(struct req *r)
{
    if (!http_require_role(r, ROLE_ADMIN))
        return;
    if (strlen(r->params[0]) >= ID_MAX) {
        http_reply_problem(r, AX_ENOTFOUND, "no such API key");
        return;
    }
    http_write(r, run_key_revoke, r, NULL);
}

/* ---- passwords ---- */

struct password_set {
    struct req *r;
    char hash[256];
};

static int run_password(struct db *d, void *arg, struct ax_err *err)
{
    struct password_set *p = arg;
    if (auth_set_password(d, p->r->ctx.tenant, p->r->params[0], p->hash, err))
        return -1;
    /* The audit row says that it changed, never what it is. */
    json_t *audit = json_pack("{s:[ss]}", "password", "(unchanged)", "(changed)");
    int rc = audit_append(d, &p->r->ctx, "users", p->r->params[0], "update", audit, err);
    json_decref(audit);
    if (rc == 0)
        http_reply(p->r, 204, NULL, "", 0);
    return rc;
}

void api_user_password(struct req *r)
{
    /* Admins set anyone's; a user sets their own. */
    bool self = r->ctx.user_id[0] && strcmp(r->ctx.user_id, r->params[0]) == 0;
    if (!self && !http_require_role(r, ROLE_ADMIN))
        return;
    json_t *body = http_json_body(r);
    if (!body)
        return;
    const char *pw = NULL;
    json_error_t je;
    if (json_unpack_ex(body, &je, JSON_STRICT, "{s:s}", "password", &pw)) {
        json_decref(body);
        http_reply_problem(r, AX_EINVALID, "send {\"password\": …}");
        return;
    }
    struct password_set *p = calloc(1, sizeof *p);
    struct ax_err e;
    ax_err_clear(&e);
    struct db *d = db_thread(&e);
    int found = d ? store_exists(d, r->ctx.tenant, model_find("users"), r->params[0], &e) : -1;
    if (found == 0)
        ax_fail(&e, AX_ENOTFOUND, "no user with id '%.60s'", r->params[0]);
    if (found != 1 || auth_password_hash(pw, p->hash, sizeof p->hash, &e)) {
        json_decref(body);
        free(p);
        http_reply_error(r, &e);
        return;
    }
    json_decref(body);
    p->r = r;
    http_write(r, run_password, p, free);
}

/* ---- audit ---- */

void api_audit_list(struct req *r)
{
    if (!http_require_role(r, ROLE_ADMIN | ROLE_MANAGER))
        return;
    struct db *d = api_read_db(r);
    long long limit, before;
    if (!d || api_int_param(r, "limit", 50, 1, 200, &limit) ||
        api_int_param(r, "after", 0, 0, 2000000000, &before))
        return;
    const char *object = http_query(r, "object");
    static const char *const others[] = {"api_keys", "tenants", "packs", "intent_dictionaries",
                                         "models", "rules", "reviews", "review_samples", NULL};
    bool known = !object || model_find(object);
    for (int i = 0; !known && others[i]; i++)
        known = !strcmp(object, others[i]);
    if (!known) {
        http_reply_problem(r, AX_EBADREQ, "unknown object '%.60s'", object);
        return;
    }
    struct ax_err e;
    ax_err_clear(&e);
    struct buf out;
    buf_init(&out, 0);
    if (audit_list(d, r->ctx.tenant, object, (int)limit, before, &out, &e))
        http_reply_error(r, &e);
    else
        http_reply_buf(r, 200, &out);
    buf_free(&out);
}

void api_audit_verify(struct req *r)
{
    if (!http_require_role(r, ROLE_ADMIN | ROLE_MANAGER))
        return;
    struct db *d = api_read_db(r);
    if (!d)
        return;
    struct ax_err e;
    ax_err_clear(&e);
    struct buf out;
    buf_init(&out, 0);
    if (audit_verify(d, r->ctx.tenant, &out, &e))
        http_reply_error(r, &e);
    else
        http_reply_buf(r, 200, &out);
    buf_free(&out);
}
