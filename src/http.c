/* http.c - libmicrohttpd daemon, request lifecycle, auth, limits, replies. */
#include "axon/http.h"

#include "axon/auth.h"
#include "axon/config.h"
#include "axon/ids.h"
#include "axon/jx.h"
#include "axon/log.h"
#include "axon/model.h"
#include "axon/ratelimit.h"
#include "axon/router.h"
#include "axon/text.h"
#include "axon/timefmt.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

enum { ST_NEW, ST_BODY, ST_WRITING, ST_WRITTEN, ST_DONE };

static struct MHD_Daemon *daemon_h;
static int bound_port;

/* ---- request lifecycle ---- */

static enum http_method parse_method(const char *m)
{
    static const struct { const char *name; enum http_method m; } tab[] = {
        {"GET", HM_GET}, {"HEAD", HM_HEAD}, {"POST", HM_POST}, {"PUT", HM_PUT},
        {"PATCH", HM_PATCH}, {"DELETE", HM_DELETE}, {"OPTIONS", HM_OPTIONS}};
    for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++)
        if (strcmp(m, tab[i].name) == 0)
            return tab[i].m;
    return HM_OTHER;
}

static void req_free(struct req *r)
{
    for (int i = 0; i < r->nparams; i++)
        free(r->params[i]);
    for (int i = 0; i < r->nheaders; i++) {
        free(r->hname[i]);
        free(r->hvalue[i]);
    }
    buf_free(&r->body);
    buf_free(&r->form_value);
    free(r->form_field);
    json_decref(r->form);
    if (r->pp)
        MHD_destroy_post_processor(r->pp);
    if (r->upload_fd >= 0)
        close(r->upload_fd);
    if (r->upload_path) {
        unlink(r->upload_path);
        free(r->upload_path);
    }
    free(r->upload_name);
    if (r->write_arg && r->write_arg_free)
        r->write_arg_free(r->write_arg);
    free(r->resp);
    if (r->reader_cls && r->reader_free && !r->replied)
        r->reader_free(r->reader_cls);
    free(r);
}

static void client_ip(struct MHD_Connection *conn, char *out, size_t outsz)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    out[0] = '\0';
    if (!ci || !ci->client_addr)
        return;
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, (socklen_t)outsz);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out, (socklen_t)outsz);
}

/* Accept a client's request id when it is short and printable. */
static void set_request_id(struct req *r)
{
    const char *given = http_header(r, "X-Request-Id");
    if (given) {
        size_t n = strlen(given);
        bool ok = n > 0 && n < 64;
        for (size_t i = 0; ok && i < n; i++)
            ok = given[i] > 32 && given[i] < 127 && given[i] != '"' && given[i] != '\\';
        if (ok) {
            snprintf(r->request_id, sizeof r->request_id, "%s", given);
            return;
        }
    }
    /* Unique, not secret: a per-thread random prefix and a counter, so a
     * request costs no getrandom() call. */
    static __thread unsigned long long prefix, counter;
    if (!prefix)
        randombytes_buf(&prefix, sizeof prefix);
    snprintf(r->request_id, sizeof r->request_id, "req_%012llx%08llx",
             prefix & 0xffffffffffffULL, ++counter & 0xffffffffULL);
}

const char *http_header(struct req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const char *http_query(struct req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

struct query_iter {
    http_query_fn fn;
    void *arg;
    int stopped;
};

static enum MHD_Result query_cb(void *cls, enum MHD_ValueKind kind, const char *key,
                                const char *value)
{
    (void)kind;
    struct query_iter *it = cls;
    if (it->fn(it->arg, key, value ? value : "")) {
        it->stopped = 1;
        return MHD_NO;
    }
    return MHD_YES;
}

int http_each_query(struct req *r, http_query_fn fn, void *arg)
{
    struct query_iter it = {fn, arg, 0};
    MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, query_cb, &it);
    return it.stopped;
}

/* ---- replies ---- */

void http_add_header(struct req *r, const char *name, const char *value)
{
    if (r->nheaders >= REQ_MAX_HEADERS)
        return;
    r->hname[r->nheaders] = strdup(name);
    r->hvalue[r->nheaders] = strdup(value);
    r->nheaders++;
}

void http_reply(struct req *r, int status, const char *type, const char *body, size_t len)
{
    free(r->resp);
    r->resp = malloc(len + 1);
    if (r->resp) {
        memcpy(r->resp, body, len);
        r->resp[len] = '\0';
    }
    r->resp_len = r->resp ? len : 0;
    r->status = status;
    r->content_type = type;
    r->replied = true;
}

void http_reply_json(struct req *r, int status, const char *json)
{
    http_reply(r, status, "application/json", json, strlen(json));
}

void http_reply_buf(struct req *r, int status, struct buf *b)
{
    free(r->resp);
    r->resp_len = b->len;
    r->resp = buf_detach(b);
    r->status = status;
    r->content_type = "application/json";
    r->replied = true;
}

void http_reply_stream(struct req *r, int status, const char *type,
                       MHD_ContentReaderCallback reader, void *cls,
                       MHD_ContentReaderFreeCallback free_cb)
{
    r->status = status;
    r->content_type = type;
    r->reader = reader;
    r->reader_cls = cls;
    r->reader_free = free_cb;
    r->replied = true;
}

void http_reply_error(struct req *r, const struct ax_err *e)
{
    struct buf b;
    buf_init(&b, 0);
    int status = ax_code_status(e->code);
    buf_adds(&b, "{\"type\":");
    char type[80];
    snprintf(type, sizeof type, "/problems/%s", ax_err_slug(e));
    buf_add_json_str(&b, type, strlen(type));
    buf_adds(&b, ",\"title\":");
    buf_add_json_str(&b, ax_code_title(e->code), strlen(ax_code_title(e->code)));
    buf_addf(&b, ",\"status\":%d,\"detail\":", status);
    const char *detail = e->detail[0] ? e->detail : ax_code_title(e->code);
    /* Details may quote client input: keep them valid UTF-8 for the JSON. */
    if (text_valid_utf8(detail, strlen(detail)))
        buf_add_json_str(&b, detail, strlen(detail));
    else
        buf_adds(&b, "\"(detail not shown: it quoted invalid text)\"");
    buf_adds(&b, ",\"instance\":");
    const char *url = r->url && text_valid_utf8(r->url, strlen(r->url)) ? r->url : "";
    buf_add_json_str(&b, url, strlen(url));
    buf_adds(&b, ",\"request_id\":");
    buf_add_json_str(&b, r->request_id, strlen(r->request_id));
    if (e->nfields) {
        buf_adds(&b, ",\"errors\":[");
        for (int i = 0; i < e->nfields; i++) {
            const char *p = e->fields[i].pointer, *d = e->fields[i].detail;
            buf_adds(&b, i ? ",{\"pointer\":" : "{\"pointer\":");
            if (text_valid_utf8(p, strlen(p)))
                buf_add_json_str(&b, p, strlen(p));
            else
                buf_adds(&b, "\"\"");
            buf_adds(&b, ",\"detail\":");
            buf_add_json_str(&b, d, text_valid_utf8(d, strlen(d)) ? strlen(d) : 0);
            buf_addc(&b, '}');
        }
        buf_addc(&b, ']');
    }
    buf_addc(&b, '}');
    /* Drop headers a handler set for a success reply (Location, ETag). */
    for (int i = 0; i < r->nheaders; i++) {
        free(r->hname[i]);
        free(r->hvalue[i]);
    }
    r->nheaders = 0;
    if (e->code == AX_ERATE || e->code == AX_EUNAVAIL) {
        char ra[16];
        snprintf(ra, sizeof ra, "%d", e->retry_after > 0 ? e->retry_after : 1);
        http_add_header(r, "Retry-After", ra);
    }
    if (e->code == AX_EUNAUTH)
        http_add_header(r, "WWW-Authenticate", "Bearer realm=\"axon\"");
    http_reply_buf(r, status, &b);
    r->content_type = "application/problem+json";
    if (status >= 500)
        log_error("%s %s -> %d %s (%s)", r->route ? r->route->pattern : "-", url, status,
                  e->detail, r->request_id);
}

void http_reply_problem(struct req *r, enum ax_code code, const char *fmt, ...)
{
    struct ax_err e;
    ax_err_clear(&e);
    e.code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e.detail, sizeof e.detail, fmt, ap);
    va_end(ap);
    http_reply_error(r, &e);
}

bool http_require_role(struct req *r, int roles)
{
    if (r->ctx.role & roles)
        return true;
    http_reply_problem(r, AX_EFORBIDDEN, "your role (%s) may not do this", role_name(r->ctx.role));
    return false;
}

/* ---- bodies ---- */

static bool is_json_type(const char *ct)
{
    if (!ct)
        return false;
    size_t n = strcspn(ct, ";");
    while (n && ct[n - 1] == ' ')
        n--;
    if (n == 16 && strncasecmp(ct, "application/json", 16) == 0)
        return true;
    return n > 5 && strncasecmp(ct + n - 5, "+json", 5) == 0 &&
           strncasecmp(ct, "application/", 12) == 0;
}

json_t *http_json_body(struct req *r)
{
    if (!is_json_type(http_header(r, "Content-Type"))) {
        http_reply_problem(r, AX_EMEDIATYPE, "send the body as application/json");
        return NULL;
    }
    struct ax_err e;
    ax_err_clear(&e);
    json_t *v = jx_parse(r->body.data, r->body.len, &e);
    if (!v) {
        http_reply_error(r, &e);
        return NULL;
    }
    return v;
}

static int upload_open(struct req *r)
{
    char dir[600], path[700], name[ID_MAX];
    snprintf(dir, sizeof dir, "%s/uploads", axon_config.var_dir);
    mkdir(axon_config.var_dir, 0700);
    mkdir(dir, 0700);
    id_new("upl", name);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    r->upload_fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (r->upload_fd < 0) {
        log_error("cannot create upload file %s: %s", path, strerror(errno));
        return -1;
    }
    r->upload_path = strdup(path);
    return 0;
}

static int upload_write(struct req *r, const char *data, size_t n)
{
    if (r->upload_size + n > axon_config.max_upload) {
        r->too_large = true;
        return -1;
    }
    if (r->upload_fd < 0 && upload_open(r))
        return -1;
    while (n) {
        ssize_t w = write(r->upload_fd, data, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        data += w;
        n -= (size_t)w;
        r->upload_size += (size_t)w;
    }
    return 0;
}

static void form_flush(struct req *r)
{
    if (r->form_field) {
        if (!r->form)
            r->form = json_object();
        json_t *v = json_stringn(r->form_value.data ? r->form_value.data : "", r->form_value.len);
        if (v && json_object_size(r->form) < 32)
            json_object_set_new(r->form, r->form_field, v);
        else
            json_decref(v);
        free(r->form_field);
        r->form_field = NULL;
    }
    buf_reset(&r->form_value);
}

static enum MHD_Result post_iter(void *cls, enum MHD_ValueKind kind, const char *key,
                                 const char *filename, const char *content_type,
                                 const char *transfer_encoding, const char *data, uint64_t off,
                                 size_t size)
{
    (void)kind; (void)content_type; (void)transfer_encoding;
    struct req *r = cls;
    if (filename) {
        if (r->form_field)
            form_flush(r);
        /* One file, in the field named "file": a second part would be
         * appended to the first, and another field is a client's mistake. */
        if (!key || strcmp(key, "file")) {
            r->upload_problem = "send the file in the multipart field named 'file'";
            return MHD_NO;
        }
        if (off == 0 && r->upload_name) {
            r->upload_problem = "send one file per upload";
            return MHD_NO;
        }
        if (!r->upload_name)
            r->upload_name = strdup(filename);
        return upload_write(r, data, size) == 0 ? MHD_YES : MHD_NO;
    }
    if (!key)
        return MHD_YES;
    if (!r->form_field || strcmp(r->form_field, key) != 0) {
        form_flush(r);
        r->form_field = strdup(key);
    }
    if (buf_add(&r->form_value, data, size)) {
        r->too_large = true;
        return MHD_NO;
    }
    return MHD_YES;
}

/* ---- authentication and limits (first callback) ---- */

static bool csrf_ok(struct req *r)
{
    /* Browsers say where a request comes from; refuse cross-site writes. */
    const char *site = http_header(r, "Sec-Fetch-Site");
    if (site && strcmp(site, "same-origin") && strcmp(site, "none"))
        return false;
    const char *origin = http_header(r, "Origin");
    const char *host = http_header(r, "Host");
    if (origin && host) {
        const char *o = strstr(origin, "://");
        if (!o || strcmp(o + 3, host) != 0)
            return false;
    }
    const char *token = http_header(r, "X-CSRF-Token");
    return token && strlen(token) == strlen(r->csrf) &&
           sodium_memcmp(token, r->csrf, strlen(token)) == 0;
}

static const char *cookie_value(struct req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_COOKIE_KIND, name);
}

/* ---- noting use of keys and sessions, off the request path ---- */

struct touch {
    struct write_op op;
    bool session;
    char key[AUTH_TOKEN_MAX];
};

static int run_touch(struct db *d, void *arg, struct ax_err *err)
{
    struct touch *t = arg;
    return t->session ? auth_session_touch(d, t->key, err) : auth_api_key_touch(d, t->key, err);
}

static void touch_done(struct write_op *op) { free(op->arg); }

/* At most one write a minute per key or session and thread: a small
 * per-thread memory of what was noted recently. */
static void touch_later(bool session, const char *key)
{
    static __thread struct { uint64_t h; double at; } recent[32];
    uint64_t h = session ? 1 : 2;
    for (const char *p = key; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    double now = time_mono();
    unsigned slot = (unsigned)(h % 32);
    if (recent[slot].h == h && now - recent[slot].at < 60)
        return;
    recent[slot].h = h;
    recent[slot].at = now;
    struct touch *t = calloc(1, sizeof *t);
    if (!t)
        return;
    t->session = session;
    snprintf(t->key, sizeof t->key, "%s", key);
    t->op.run = run_touch;
    t->op.done = touch_done;
    t->op.arg = t;
    if (writer_submit(&t->op))
        free(t);
}

static int authenticate(struct req *r, struct ax_err *e)
{
    struct db *d = db_thread(e);
    if (!d)
        return -1;
    const char *authz = http_header(r, "Authorization");
    if (authz) {
        if (strncasecmp(authz, "Bearer ", 7) != 0)
            return ax_fail(e, AX_EUNAUTH, "use 'Authorization: Bearer <API key>'");
        if (auth_api_key(d, authz + 7, &r->ctx, e))
            return -1;
        r->auth = AUTH_API_KEY;
        touch_later(false, r->ctx.actor_id);
        return 0;
    }
    const char *cookie = cookie_value(r, AUTH_SESSION_COOKIE);
    if (cookie) {
        if (auth_session(d, cookie, &r->ctx, r->csrf, e))
            return -1;
        r->auth = AUTH_SESSION;
        touch_later(true, cookie);
        bool unsafe = r->method != HM_GET && r->method != HM_HEAD && r->method != HM_OPTIONS;
        if (unsafe && !(r->route->flags & RT_NO_CSRF) && !csrf_ok(r))
            return ax_fail_type(e, AX_EFORBIDDEN, "csrf",
                                "missing or wrong X-CSRF-Token, or a cross-site request");
        return 0;
    }
    return ax_fail(e, AX_EUNAUTH, "sign in, or send an API key as 'Authorization: Bearer …'");
}

static void add_rate_headers(struct req *r, const struct rate_state *rs)
{
    char v[96];
    snprintf(v, sizeof v, "\"default\";q=%.0f;w=%.0f", axon_config.rate_burst,
             axon_config.rate_limit > 0 ? axon_config.rate_burst / axon_config.rate_limit : 0);
    http_add_header(r, "RateLimit-Policy", v);
    snprintf(v, sizeof v, "\"default\";r=%.0f;t=%d", rs->remaining, rs->reset);
    http_add_header(r, "RateLimit", v);
}

static int rate_limit(struct req *r, struct ax_err *e)
{
    if (axon_config.rate_limit <= 0)
        return 0;
    char key[128];
    if (r->ctx.actor_id[0])
        snprintf(key, sizeof key, "%s", r->ctx.actor_id);
    else
        snprintf(key, sizeof key, "ip:%s", r->client_ip);
    struct rate_state rs;
    if (ratelimit_take(key, axon_config.rate_limit, axon_config.rate_burst, &rs)) {
        add_rate_headers(r, &rs);
        return 0;
    }
    ax_fail_type(e, AX_ERATE, "rate-limited", "too many requests; retry in %d s", rs.retry_after);
    e->retry_after = rs.retry_after;
    return -1;
}

/* A query key or value with a NUL (%00) would be cut short by every C
 * string that reads it: refuse the request instead. (Invalid UTF-8 is
 * refused by each parameter's own check, with its own problem type.) */
static enum MHD_Result query_value_ok(void *cls, enum MHD_ValueKind kind, const char *key,
                                      size_t key_size, const char *value, size_t value_size)
{
    (void)kind;
    bool *bad = cls;
    if (strlen(key) != key_size || (value && strlen(value) != value_size)) {
        *bad = true;
        return MHD_NO;
    }
    return MHD_YES;
}

/* First callback: route, size checks, authentication, rate limit. The
 * reply (if any) is queued on a later callback. */
static void begin(struct req *r)
{
    int status = 0;
    char allow[64] = "";
    struct ax_err e;
    ax_err_clear(&e);
    set_request_id(r);
    client_ip(r->conn, r->client_ip, sizeof r->client_ip);
    const char *src = http_header(r, "X-Source-System");
    if (src && *src && strlen(src) < sizeof r->source && text_valid_utf8(src, strlen(src)))
        snprintf(r->source, sizeof r->source, "%s", src);
    bool bad_query = false;
    MHD_get_connection_values_n(r->conn, MHD_GET_ARGUMENT_KIND, query_value_ok, &bad_query);
    if (bad_query) {
        http_reply_problem(r, AX_EBADREQ, "a query parameter holds a NUL character (%%00)");
        return;
    }
    r->route = router_match(r, &status, allow, sizeof allow);
    if (!r->route) {
        if (status == 405) {
            http_reply_problem(r, AX_EMETHOD, "this resource does not allow this method");
            http_add_header(r, "Allow", allow);   /* after: error replies drop earlier headers */
        } else {
            http_reply_problem(r, AX_ENOTFOUND, "no such resource");
        }
        return;
    }
    const char *cl = http_header(r, "Content-Length");
    size_t limit = (r->route->flags & RT_UPLOAD) ? axon_config.max_upload : axon_config.max_body;
    if (cl && strtoull(cl, NULL, 10) > limit) {
        http_reply_problem(r, AX_ETOOLARGE, "the body is larger than %zu bytes", limit);
        return;
    }
    buf_init(&r->body, axon_config.max_body);
    buf_init(&r->form_value, 65536);
    if (r->route->flags & (RT_PUBLIC | RT_STATIC)) {
        /* Sign-in and public documents still count against the address. */
        if (r->method != HM_GET && rate_limit(r, &e)) {
            http_reply_error(r, &e);
        }
        return;
    }
    /* A failed authentication still counts against the client's address,
     * so anonymous floods meet the rate limit too. */
    if (authenticate(r, &e)) {
        struct ax_err limited;
        ax_err_clear(&limited);
        http_reply_error(r, rate_limit(r, &limited) ? &limited : &e);
        return;
    }
    if (rate_limit(r, &e)) {
        http_reply_error(r, &e);
        return;
    }
    if (!r->source[0])
        snprintf(r->source, sizeof r->source, "%s", r->auth == AUTH_SESSION ? "web" : "api");
    r->ctx.source = r->source;
    r->ctx.trigger = "api";
    r->ctx.request_id = r->request_id;
    if (r->route->flags & RT_UPLOAD) {
        const char *ct = http_header(r, "Content-Type");
        if (ct && strncasecmp(ct, "multipart/form-data", 19) == 0) {
            r->pp = MHD_create_post_processor(r->conn, 65536, post_iter, r);
            if (!r->pp)
                http_reply_problem(r, AX_EBADREQ, "malformed multipart/form-data");
        }
    }
}

static void on_body(struct req *r, const char *data, size_t n)
{
    if (r->replied)
        return;
    if (r->route->flags & RT_UPLOAD) {
        if (r->pp) {
            if (MHD_post_process(r->pp, data, n) != MHD_YES && !r->too_large)
                http_reply_problem(r, AX_EBADREQ, "%s", r->upload_problem
                                   ? r->upload_problem : "malformed multipart/form-data upload");
        } else if (upload_write(r, data, n) && !r->too_large) {
            http_reply_problem(r, AX_EUNAVAIL, "could not store the upload");
        }
    } else if (buf_add(&r->body, data, n)) {
        r->too_large = true;
    }
    if (r->too_large && !r->replied)
        http_reply_problem(r, AX_ETOOLARGE, "the body is larger than %zu bytes",
                           (r->route->flags & RT_UPLOAD) ? axon_config.max_upload
                                                         : axon_config.max_body);
}

/* ---- writes through the writer thread ---- */

static void write_done(struct write_op *op)
{
    struct req *r = op->arg;
    if (op->rc)
        http_reply_error(r, &op->err);
    r->state = ST_WRITTEN;
    MHD_resume_connection(r->conn);
}

/* Forget the reply of an attempt whose batch was rolled back. */
static void reply_reset(struct req *r)
{
    for (int i = r->write_nheaders; i < r->nheaders; i++) {
        free(r->hname[i]);
        free(r->hvalue[i]);
    }
    r->nheaders = r->write_nheaders;
    free(r->resp);
    r->resp = NULL;
    r->resp_len = 0;
    r->status = 0;
    r->content_type = NULL;
    r->replied = false;
}

static int write_trampoline(struct db *d, void *arg, struct ax_err *err)
{
    struct req *r = arg;
    if (r->replied)
        reply_reset(r);
    int rc = r->write_run(d, r->write_arg, err);
    if (rc == 0 && !r->replied)
        http_reply_json(r, 204, "");
    return rc;
}

static void submit_write(struct req *r, write_fn run, void *arg, void (*arg_free)(void *),
                         bool rerunnable)
{
    r->write_run = run;
    r->write_arg = arg;
    r->write_arg_free = arg_free;
    r->write_nheaders = r->nheaders;
    memset(&r->op, 0, sizeof r->op);
    r->op.rerunnable = rerunnable;
    r->op.run = write_trampoline;
    r->op.done = write_done;
    r->op.arg = r;
    r->state = ST_WRITING;
    MHD_suspend_connection(r->conn);
    if (writer_submit(&r->op)) {
        http_reply_error(r, &r->op.err);
        r->state = ST_WRITTEN;
        MHD_resume_connection(r->conn);
    }
}

void http_write(struct req *r, write_fn run, void *arg, void (*arg_free)(void *))
{
    submit_write(r, run, arg, arg_free, false);
}

void http_write_rerunnable(struct req *r, write_fn run, void *arg, void (*arg_free)(void *))
{
    submit_write(r, run, arg, arg_free, true);
}

/* ---- queueing the reply ---- */

static enum MHD_Result send_reply(struct req *r)
{
    struct MHD_Response *resp;
    if (r->reader) {
        resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64 * 1024, r->reader,
                                                 r->reader_cls, r->reader_free);
        r->reader_cls = NULL;   /* MHD owns it now */
    } else {
        resp = MHD_create_response_from_buffer(r->resp_len, r->resp, MHD_RESPMEM_MUST_FREE);
        r->resp = NULL;
    }
    if (!resp)
        return MHD_NO;
    if (r->content_type && r->status != 204)
        MHD_add_response_header(resp, "Content-Type", r->content_type);
    MHD_add_response_header(resp, "X-Request-Id", r->request_id);
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    bool has_cache = false;
    for (int i = 0; i < r->nheaders; i++) {
        MHD_add_response_header(resp, r->hname[i], r->hvalue[i]);
        if (strcasecmp(r->hname[i], "Cache-Control") == 0)
            has_cache = true;
    }
    if (!has_cache && !(r->route && (r->route->flags & RT_STATIC)))
        MHD_add_response_header(resp, "Cache-Control", "no-store");
    enum MHD_Result ret = MHD_queue_response(r->conn, (unsigned)r->status, resp);
    MHD_destroy_response(resp);
    r->state = ST_DONE;
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **req_cls)
{
    (void)cls;
    (void)version;
    struct req *r = *req_cls;
    if (!r) {
        r = calloc(1, sizeof *r);
        if (!r)
            return MHD_NO;
        r->conn = conn;
        r->url = url;
        r->method = parse_method(method);
        r->upload_fd = -1;
        r->started = time_mono();
        r->state = ST_BODY;
        *req_cls = r;
        begin(r);
        /* A declared body over the limit is refused before it is read
         * (MHD then closes the connection instead of reading it). */
        if (r->replied && r->status == 413)
            return send_reply(r);
        return MHD_YES;
    }
    if (*upload_data_size) {
        /* libmicrohttpd 0.9.75 refuses to queue a reply while a body is
         * still arriving: an early error (401, 404, 413 of a chunked body…)
         * drops the rest of the body and is sent when the body ends. A
         * client that keeps sending far past the limit is cut off. */
        if (r->replied) {
            r->discarded += *upload_data_size;
            *upload_data_size = 0;
            return r->discarded > 4 * axon_config.max_body + (64u << 20) ? MHD_NO : MHD_YES;
        }
        on_body(r, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    switch (r->state) {
    case ST_BODY:
        if (!r->replied) {
            if (r->pp) {
                form_flush(r);
                if (r->too_large)
                    http_reply_problem(r, AX_ETOOLARGE, "the upload is larger than %zu bytes",
                                       axon_config.max_upload);
            }
            if (r->upload_fd >= 0) {
                close(r->upload_fd);
                r->upload_fd = -1;
            }
        }
        if (!r->replied) {
            r->route->handler(r);
            if (r->state == ST_WRITING)
                return MHD_YES;        /* suspended until the write is done */
        }
        if (!r->replied)
            http_reply_problem(r, AX_EINTERNAL, "the handler gave no reply");
        return send_reply(r);
    case ST_WRITTEN:
        return send_reply(r);
    case ST_WRITING:
        return MHD_YES;
    default:
        return MHD_YES;
    }
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    struct req *r = *req_cls;
    if (!r)
        return;
    if (r->status >= 500 || log_enabled(LOG_DEBUG))
        log_msg(r->status >= 500 ? LOG_ERROR : LOG_DEBUG, "%s %s %d %.1fms %s",
                r->route ? r->route->pattern : "-", r->url, r->status,
                (time_mono() - r->started) * 1000, r->request_id);
    req_free(r);
    *req_cls = NULL;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char line[512];
    vsnprintf(line, sizeof line, fmt, ap);
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    log_debug("mhd: %s", line);
}

int http_start(struct ax_err *err)
{
    int threads = axon_config.threads > 0 ? axon_config.threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (threads < 1)
        threads = 1;
    struct sockaddr_in sin;
    struct sockaddr_in6 sin6;
    struct sockaddr *sa;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ERROR_LOG;
    memset(&sin, 0, sizeof sin);
    memset(&sin6, 0, sizeof sin6);
    if (strchr(axon_config.listen, ':')) {
        sin6.sin6_family = AF_INET6;
        sin6.sin6_port = htons((uint16_t)axon_config.port);
        if (inet_pton(AF_INET6, axon_config.listen, &sin6.sin6_addr) != 1)
            return ax_fail(err, AX_EBADREQ, "bad listen address '%s'", axon_config.listen);
        sa = (struct sockaddr *)&sin6;
        flags |= MHD_USE_IPv6;
    } else {
        sin.sin_family = AF_INET;
        sin.sin_port = htons((uint16_t)axon_config.port);
        if (inet_pton(AF_INET, axon_config.listen, &sin.sin_addr) != 1)
            return ax_fail(err, AX_EBADREQ, "bad listen address '%s'", axon_config.listen);
        sa = (struct sockaddr *)&sin;
    }
    daemon_h = MHD_start_daemon(
        flags, (uint16_t)axon_config.port, NULL, NULL, on_request, NULL,
        MHD_OPTION_SOCK_ADDR, sa,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)threads,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)axon_config.conn_timeout,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)axon_config.max_connections,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(64 * 1024),
        MHD_OPTION_LISTENING_ADDRESS_REUSE, 1u,
        MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
        MHD_OPTION_END);
    if (!daemon_h)
        return ax_fail(err, AX_EUNAVAIL, "cannot listen on %s:%d (in use?)", axon_config.listen,
                       axon_config.port);
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(daemon_h, MHD_DAEMON_INFO_BIND_PORT);
    bound_port = info ? info->port : axon_config.port;
    return 0;
}

int http_port(void) { return bound_port; }

void http_stop(void)
{
    if (!daemon_h)
        return;
    /* Stop accepting, let queued writes finish and their connections
     * resume, then close everything. */
    MHD_quiesce_daemon(daemon_h);
    writer_stop();
    usleep(200 * 1000);
    MHD_stop_daemon(daemon_h);
    daemon_h = NULL;
}

void http_reply_result(struct req *r, int rc, struct buf *out, const struct ax_err *err,
                       int status)
{
    if (rc)
        http_reply_error(r, err);
    else
        http_reply_buf(r, status, out);
    buf_free(out);
}

void http_upload_name(struct req *r, const char *fallback, char *out, size_t outsz)
{
    const char *name = r->upload_name ? r->upload_name : http_query(r, "filename");
    const char *slash = name ? strrchr(name, '/') : NULL;
    if (slash)
        name = slash + 1;
    bool ok = name && *name && strlen(name) < 120 && text_valid_utf8(name, strlen(name));
    for (const char *p = name; ok && *p; p++)
        ok = (unsigned char)*p >= 0x20 && *p != '\\' && *p != 0x7f;
    snprintf(out, outsz, "%s", ok ? name : fallback);
}
