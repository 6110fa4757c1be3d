/* api_session.c - sign in, sign out, who am I. */
#include "axon/api.h"

#include "axon/auth.h"
#include "axon/config.h"
#include "axon/model.h"
#include "axon/ratelimit.h"
#include "axon/store.h"
#include "axon/tenant.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct login {
    struct req *r;
    int64_t user_rid;
    char token[AUTH_TOKEN_MAX];
    char csrf[AUTH_CSRF_MAX];
};

static void session_cookie(struct req *r, const char *value, long max_age)
{
    char cookie[256];
    snprintf(cookie, sizeof cookie, "%s=%s; Path=/; HttpOnly; SameSite=Lax; Max-Age=%ld%s",
             AUTH_SESSION_COOKIE, value, max_age, axon_config.secure_cookies ? "; Secure" : "");
    http_add_header(r, "Set-Cookie", cookie);
}

/* {"user":{…},"tenant":{…},"role":…,"csrf_token":…} */
static int describe(struct db *d, struct req *r, const char *csrf, struct buf *out,
                    struct ax_err *err)
{
    struct store_result user;
    memset(&user, 0, sizeof user);
    buf_adds(out, "{\"user\":");
    if (r->ctx.user_id[0]) {
        if (store_get(d, &r->ctx, model_find("users"), r->ctx.user_id, &user, err))
            return -1;
        buf_adds(out, user.doc);
        store_result_free(&user);
    } else {
        buf_adds(out, "null");
    }
    buf_adds(out, ",\"tenant\":");
    if (tenant_describe(d, r->ctx.tenant, out, err))
        return -1;
    buf_addf(out, ",\"role\":\"%s\",\"actor\":\"%s\",\"csrf_token\":", role_name(r->ctx.role),
             r->ctx.actor_id);
    if (csrf && *csrf)
        buf_add_json_str(out, csrf, strlen(csrf));
    else
        buf_adds(out, "null");
    buf_addc(out, '}');
    return 0;
}

static int run_login(struct db *d, void *arg, struct ax_err *err)
{
    struct login *l = arg;
    struct req *r = l->r;
    if (auth_session_create(d, r->ctx.tenant, l->user_rid, l->token, l->csrf, err))
        return -1;
    struct buf out;
    buf_init(&out, 0);
    int rc = describe(d, r, l->csrf, &out, err);
    if (rc == 0) {
        session_cookie(r, l->token, AUTH_SESSION_MAX_MS / 1000);
        http_reply_buf(r, 200, &out);
    }
    buf_free(&out);
    return rc;
}

void api_login(struct req *r)
{
    /* Guessing passwords is slow on purpose: argon2id, and few tries per address. */
    char key[96];
    snprintf(key, sizeof key, "login:%s", r->client_ip);
    struct rate_state rs;
    if (!ratelimit_take(key, 0.2, 10, &rs)) {
        struct ax_err e;
        ax_err_clear(&e);
        ax_fail_type(&e, AX_ERATE, "rate-limited", "too many sign-in attempts; wait %d s",
                     rs.retry_after);
        e.retry_after = rs.retry_after;
        http_reply_error(r, &e);
        return;
    }
    json_t *body = http_json_body(r);
    if (!body)
        return;
    const char *tenant = NULL, *email = NULL, *password = NULL;
    json_error_t je;
    if (json_unpack_ex(body, &je, JSON_STRICT, "{s:s,s:s,s:s}", "tenant", &tenant, "email", &email,
                       "password", &password) ||
        strlen(tenant) > 100 || strlen(email) > 254 || strlen(password) > 256) {
        json_decref(body);
        http_reply_problem(r, AX_EINVALID,
                           "send {\"tenant\": slug, \"email\": …, \"password\": …} and nothing else");
        return;
    }
    struct ax_err e;
    ax_err_clear(&e);
    struct db *d = db_thread(&e);
    struct login *l = calloc(1, sizeof *l);
    if (!d || !l || auth_check_login(d, tenant, email, password, &l->user_rid, &r->ctx, &e)) {
        json_decref(body);
        free(l);
        http_reply_error(r, &e);
        return;
    }
    json_decref(body);
    r->auth = AUTH_SESSION;
    r->ctx.source = "web";
    r->ctx.trigger = "api";
    r->ctx.request_id = r->request_id;
    l->r = r;
    http_write(r, run_login, l, free);
}

void api_whoami(struct req *r)
{
    struct ax_err e;
    ax_err_clear(&e);
    struct db *d = db_thread(&e);
    struct buf out;
    buf_init(&out, 0);
    if (!d || describe(d, r, r->auth == AUTH_SESSION ? r->csrf : NULL, &out, &e))
        http_reply_error(r, &e);
    else
        http_reply_buf(r, 200, &out);
    buf_free(&out);
}

static int run_logout(struct db *d, void *arg, struct ax_err *err)
{
    struct req *r = arg;
    const char *token = MHD_lookup_connection_value(r->conn, MHD_COOKIE_KIND, AUTH_SESSION_COOKIE);
    if (token && auth_session_delete(d, token, err))
        return -1;
    session_cookie(r, "", 0);
    http_reply(r, 204, NULL, "", 0);
    return 0;
}

void api_logout(struct req *r)
{
    if (r->auth != AUTH_SESSION) {
        http_reply_problem(r, AX_EBADREQ, "API keys have no session; revoke the key instead");
        return;
    }
    http_write(r, run_logout, r, NULL);
}
