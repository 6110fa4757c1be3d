/* api_objects.c - CRUD, history and timeline for every model object. */
#include "axon/api.h"

#include "axon/audit.h"
#include "axon/idem.h"
#include "axon/model.h"
#include "axon/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- shared helpers ---- */

const struct object_def *api_object(struct req *r, const char *name)
{
    const struct object_def *def = model_find(name);
    if (!def)
        http_reply_problem(r, AX_ENOTFOUND, "no such resource");
    return def;
}

long long api_if_match(struct req *r)
{
    const char *h = http_header(r, "If-Match");
    if (!h || strcmp(h, "*") == 0)
        return -1;
    char *end;
    if (h[0] != '"' || h[1] < '0' || h[1] > '9') {
        http_reply_problem(r, AX_EBADREQ, "If-Match must be an ETag like \"3\" (weak tags never match)");
        return -2;
    }
    long long v = strtoll(h + 1, &end, 10);
    if (end[0] != '"' || end[1] != '\0' || v < 0) {
        http_reply_problem(r, AX_EBADREQ, "If-Match must be a single ETag like \"3\"");
        return -2;
    }
    return v;
}

int api_enum_param(struct req *r, const char *name, const char *const *allowed,
                   const char **out)
{
    const char *v = http_query(r, name);
    *out = v;
    if (!v)
        return 0;
    char list[200];
    size_t n = 0;
    list[0] = '\0';
    for (int i = 0; allowed[i]; i++) {
        if (!strcmp(v, allowed[i]))
            return 0;
        n += (size_t)snprintf(list + n, n < sizeof list ? sizeof list - n : 0, "%s%s",
                              i ? ", " : "", allowed[i]);
    }
    http_reply_problem(r, AX_EBADREQ, "'%s' must be one of %s", name, list);
    return -1;
}

int api_int_param(struct req *r, const char *name, int dflt, int lo, int hi, long long *out)
{
    const char *v = http_query(r, name);
    *out = dflt;
    if (!v)
        return 0;
    char *end;
    long long n = strtoll(v, &end, 10);
    if (*v == '\0' || *end || n < lo || n > hi) {
        http_reply_problem(r, AX_EBADREQ, "'%s' must be an integer from %d to %d", name, lo, hi);
        return -1;
    }
    *out = n;
    return 0;
}

static void set_etag(struct req *r, long long version)
{
    char etag[32];
    snprintf(etag, sizeof etag, "\"%lld\"", version);
    http_add_header(r, "ETag", etag);
}

struct db *api_read_db(struct req *r)
{
    struct ax_err e;
    ax_err_clear(&e);
    struct db *d = db_thread(&e);
    if (!d)
        http_reply_error(r, &e);
    return d;
}

void api_tenant_read(struct req *r, int roles, api_tenant_read_fn fn)
{
    struct db *d = http_require_role(r, roles) ? api_read_db(r) : NULL;
    if (!d)
        return;
    struct ax_err e;
    ax_err_clear(&e);
    struct buf out;
    buf_init(&out, 0);
    http_reply_result(r, fn(d, r->ctx.tenant, &out, &e), &out, &e, 200);
}

static bool can_read(struct req *r, const struct object_def *def)
{
    return http_require_role(r, def->read_roles);
}

/* ---- reads ---- */

struct list_params {
    struct db *d;
    const struct ax_ctx *c;
    const struct object_def *def;
    struct store_query *q;
    struct ax_err err;
};

static int list_param(void *arg, const char *key, const char *value)
{
    struct list_params *p = arg;
    return store_query_param(p->d, p->c, p->def, p->q, key, value, &p->err);
}

void api_list(struct req *r)
{
    const struct object_def *def = api_object(r, r->params[0]);
    if (!def || !can_read(r, def))
        return;
    struct db *d = api_read_db(r);
    if (!d)
        return;
    struct store_query q;
    store_query_init(&q);
    struct list_params p = {d, &r->ctx, def, &q, {0}};
    ax_err_clear(&p.err);
    struct buf out;
    buf_init(&out, 0);
    if (http_each_query(r, list_param, &p) || store_list(d, &r->ctx, def, &q, &out, &p.err))
        http_reply_error(r, &p.err);
    else
        http_reply_buf(r, 200, &out);
    buf_free(&out);
    store_query_release(&q);
}

struct facet_params {
    struct list_params list;
    const char *fields;
    long long limit;
};

static int facet_param(void *arg, const char *key, const char *value)
{
    struct facet_params *p = arg;
    if (strcmp(key, "fields") == 0) {
        p->fields = value;
        return 0;
    }
    if (strcmp(key, "limit") == 0) {
        char *end;
        p->limit = strtoll(value, &end, 10);
        if (*end || p->limit < 1 || p->limit > 100)
            return ax_fail(&p->list.err, AX_EBADREQ, "limit must be an integer from 1 to 100");
        return 0;
    }
    if (strcmp(key, "sort") == 0 || strcmp(key, "after") == 0 || strcmp(key, "count") == 0)
        return ax_fail(&p->list.err, AX_EBADREQ, "facets take filters, fields and limit only");
    return list_param(&p->list, key, value);
}

/* GET /api/v1/{object}/facets?fields=region,sector&limit=20[&filters]:
 * the values a filter can take, with counts (for the UI's filter menus). */
void api_facets(struct req *r)
{
    const struct object_def *def = api_object(r, r->params[0]);
    if (!def || !can_read(r, def))
        return;
    struct db *d = api_read_db(r);
    if (!d)
        return;
    struct store_query q;
    store_query_init(&q);
    struct facet_params p = {{d, &r->ctx, def, &q, {0}}, NULL, 20};
    ax_err_clear(&p.list.err);
    struct buf out;
    buf_init(&out, 0);
    if (http_each_query(r, facet_param, &p))
        goto fail;
    if (!p.fields || !*p.fields || strlen(p.fields) > 400) {
        ax_fail(&p.list.err, AX_EBADREQ, "name the fields as ?fields=a,b (at most 8)");
        goto fail;
    }
    char copy[401], *save = NULL;
    snprintf(copy, sizeof copy, "%s", p.fields);
    buf_adds(&out, "{\"data\":{");
    int n = 0;
    for (char *f = strtok_r(copy, ",", &save); f; f = strtok_r(NULL, ",", &save)) {
        if (++n > 8) {
            ax_fail(&p.list.err, AX_EBADREQ, "at most 8 fields");
            goto fail;
        }
        buf_addf(&out, "%s\"%s\":", n > 1 ? "," : "", model_field(def, f) ? f : "");
        if (store_facets(d, &r->ctx, def, &q, f, (int)p.limit, &out, &p.list.err))
            goto fail;
    }
    buf_adds(&out, "}}");
    http_reply_buf(r, 200, &out);
    goto done;
fail:
    http_reply_error(r, &p.list.err);
done:
    buf_free(&out);
    store_query_release(&q);
}

void api_get(struct req *r)
{
    const struct object_def *def = api_object(r, r->params[0]);
    if (!def || !can_read(r, def))
        return;
    struct db *d = api_read_db(r);
    if (!d)
        return;
    struct store_result res;
    struct ax_err e;
    ax_err_clear(&e);
    if (store_get(d, &r->ctx, def, r->params[1], &res, &e)) {
        http_reply_error(r, &e);
        return;
    }
    /* A client that has this version already needs no body. */
    char etag[32];
    snprintf(etag, sizeof etag, "\"%lld\"", (long long)res.version);
    const char *inm = http_header(r, "If-None-Match");
    set_etag(r, res.version);
    if (inm && strcmp(inm, etag) == 0)
        http_reply(r, 304, NULL, "", 0);
    else
        http_reply_json(r, 200, res.doc);
    store_result_free(&res);
}

/* The before/after values of fields the role may not read (a service
 * agent and a customer's revenue) leave the history too. Returns NULL when
 * nothing needs removing, else a malloc'd new text. */
static char *mask_history(const struct object_def *def, const char *text, int role)
{
    bool any = false;
    for (int i = 0; i < def->nfields; i++)
        if (!model_field_readable(&def->fields[i], role))
            any = true;
    json_t *o = any && text ? json_loads(text, 0, NULL) : NULL;
    if (!o)
        return NULL;
    size_t k;
    json_t *row;
    json_array_foreach(json_object_get(o, "data"), k, row) {
        json_t *changes = json_object_get(row, "changes");
        for (int i = 0; i < def->nfields; i++)
            if (!model_field_readable(&def->fields[i], role) && json_is_object(changes))
                json_object_del(changes, def->fields[i].name);
    }
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    return s;
}

void api_history(struct req *r)
{
    const struct object_def *def = api_object(r, r->params[0]);
    if (!def || !can_read(r, def))
        return;
    struct db *d = api_read_db(r);
    long long limit, before;
    if (!d || api_int_param(r, "limit", 50, 1, 200, &limit) ||
        api_int_param(r, "after", 0, 0, 2000000000, &before))
        return;
    struct ax_err e;
    ax_err_clear(&e);
    /* A deleted record keeps its history (the audit trail outlives it). */
    int found = store_exists(d, r->ctx.tenant, def, r->params[1], &e);
    if (found == 0)
        found = audit_knows(d, r->ctx.tenant, def->name, r->params[1], &e);
    if (found == 0)
        ax_fail(&e, AX_ENOTFOUND, "no %s with id '%.60s'", def->singular, r->params[1]);
    struct buf out;
    buf_init(&out, 0);
    if (found != 1 || audit_history(d, r->ctx.tenant, r->params[1], (int)limit, before, &out, &e)) {
        http_reply_error(r, &e);
    } else {
        char *masked = mask_history(def, out.data, r->ctx.role);
        if (masked)
            http_reply_json(r, 200, masked);
        else
            http_reply_buf(r, 200, &out);
        free(masked);
    }
    buf_free(&out);
}

void api_timeline(struct req *r)
{
    struct db *d = api_read_db(r);
    long long limit;
    if (!d || api_int_param(r, "limit", 25, 1, 200, &limit))
        return;
    struct ax_err e;
    ax_err_clear(&e);
    struct buf out;
    buf_init(&out, 0);
    if (store_timeline(d, &r->ctx, r->params[0], (int)limit, http_query(r, "after"), &out, &e))
        http_reply_error(r, &e);
    else
        http_reply_buf(r, 200, &out);
    buf_free(&out);
}

void api_deal_stages(struct req *r)
{
    struct db *d = api_read_db(r);
    if (!d)
        return;
    struct ax_err e;
    ax_err_clear(&e);
    int found = store_exists(d, r->ctx.tenant, model_find("deals"), r->params[0], &e);
    if (found != 1) {
        if (found == 0)
            ax_fail(&e, AX_ENOTFOUND, "no deal with id '%.60s'", r->params[0]);
        http_reply_error(r, &e);
        return;
    }
    sqlite3_stmt *st = db_prep(d,
        "SELECT from_stage, to_stage, at, actor FROM deal_stage_changes "
        "WHERE tenant_id=? AND deal_id=? ORDER BY rid", &e);
    if (!st) {
        http_reply_error(r, &e);
        return;
    }
    sqlite3_bind_int64(st, 1, r->ctx.tenant);
    sqlite3_bind_text(st, 2, r->params[0], -1, SQLITE_STATIC);
    struct buf out;
    buf_init(&out, 0);
    buf_adds(&out, "{\"data\":[");
    static const char *names[] = {"from", "to", "at", "actor"};
    int n = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        buf_adds(&out, n++ ? ",{" : "{");
        for (int i = 0; i < 4; i++) {
            const char *v = (const char *)sqlite3_column_text(st, i);
            buf_addf(&out, "%s\"%s\":", i ? "," : "", names[i]);
            if (v)
                buf_add_json_str(&out, v, strlen(v));
            else
                buf_adds(&out, "null");
        }
        buf_addc(&out, '}');
    }
    db_reset(st);
    buf_adds(&out, "],\"next\":null}");
    http_reply_buf(r, 200, &out);
    buf_free(&out);
}

/* Deals per stage of a pipeline, with counts and amounts: the board's
 * column totals without loading every deal. Takes the list filters. */
void api_deal_summary(struct req *r)
{
    const struct object_def *def = model_find("deals");
    if (!can_read(r, def))
        return;
    struct db *d = api_read_db(r);
    if (!d)
        return;
    struct ax_err e;
    ax_err_clear(&e);
    const char *owner = http_query(r, "owner_id"), *product = http_query(r, "product_id");
    const char *pipeline = http_query(r, "pipeline_id");
    bool amounts = model_field_readable(model_field(def, "amount"), r->ctx.role);
    sqlite3_stmt *st = db_prep(d,
        "SELECT stage, count(*), total(amount) FROM deals WHERE tenant_id=?1 "
        "AND (?2 IS NULL OR owner_id=?2) AND (?3 IS NULL OR product_id=?3) "
        "AND (?4 IS NULL OR pipeline_id=?4) GROUP BY stage", &e);
    if (!st) {
        http_reply_error(r, &e);
        return;
    }
    sqlite3_bind_int64(st, 1, r->ctx.tenant);
    sqlite3_bind_text(st, 2, owner, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, product, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, pipeline, -1, SQLITE_STATIC);
    struct buf out;
    buf_init(&out, 0);
    buf_adds(&out, "{\"data\":[");
    int n = 0;
    long long total = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *stage = (const char *)sqlite3_column_text(st, 0);
        long long count = sqlite3_column_int64(st, 1);
        total += count;
        buf_adds(&out, n++ ? ",{\"stage\":" : "{\"stage\":");
        buf_add_json_str(&out, stage, strlen(stage));
        buf_addf(&out, ",\"count\":%lld", count);
        if (amounts)
            buf_addf(&out, ",\"amount\":%.2f", sqlite3_column_double(st, 2));
        buf_addc(&out, '}');
    }
    db_reset(st);
    buf_addf(&out, "],\"total\":%lld}", total);
    http_reply_buf(r, 200, &out);
    buf_free(&out);
}

/* ---- writes ---- */

enum write_kind { W_CREATE, W_UPDATE, W_DELETE };

struct obj_write {
    enum write_kind kind;
    const struct object_def *def;
    struct req *r;
    char id[ID_MAX];
    json_t *input;
    long long if_version;
    char idem_key[256];
    unsigned char fp[IDEM_FP_LEN];
};

static void obj_write_free(void *p)
{
    struct obj_write *w = p;
    json_decref(w->input);
    free(w);
}

static void reply_doc(struct req *r, const struct object_def *def, int status,
                      const struct store_result *res)
{
    char *masked = model_mask_doc(def, res->doc, r->ctx.role);
    set_etag(r, res->version);
    http_reply_json(r, status, masked ? masked : res->doc);
    free(masked);
}

static int run_write(struct db *d, void *arg, struct ax_err *err)
{
    struct obj_write *w = arg;
    struct req *r = w->r;
    struct store_result res;
    memset(&res, 0, sizeof res);
    if (w->idem_key[0]) {
        struct idem_resp prev;
        int found = idem_lookup(d, &r->ctx, w->idem_key, w->fp, &prev, err);
        if (found < 0)
            return -1;
        if (found == 1) {
            if (prev.location)
                http_add_header(r, "Location", prev.location);
            if (prev.etag)
                http_add_header(r, "ETag", prev.etag);
            http_add_header(r, "Idempotent-Replayed", "true");
            http_reply_json(r, prev.status, prev.body ? prev.body : "");
            idem_resp_free(&prev);
            return 0;
        }
    }
    int rc;
    switch (w->kind) {
    case W_CREATE:
        rc = store_create(d, &r->ctx, w->def, w->input, &res, err);
        if (rc == 0) {
            char loc[128];
            snprintf(loc, sizeof loc, "/api/v1/%s/%s", w->def->name, res.id);
            http_add_header(r, "Location", loc);
            reply_doc(r, w->def, 201, &res);
        }
        break;
    case W_UPDATE:
        rc = store_update(d, &r->ctx, w->def, w->id, w->input, w->if_version, &res, err);
        if (rc == 0)
            reply_doc(r, w->def, 200, &res);
        break;
    default:
        rc = store_delete(d, &r->ctx, w->def, w->id, w->if_version, err);
        if (rc == 0)
            http_reply(r, 204, NULL, "", 0);
        break;
    }
    store_result_free(&res);
    if (rc == 0 && w->idem_key[0]) {
        const char *loc = NULL, *etag = NULL;
        for (int i = 0; i < r->nheaders; i++) {
            if (strcmp(r->hname[i], "Location") == 0)
                loc = r->hvalue[i];
            if (strcmp(r->hname[i], "ETag") == 0)
                etag = r->hvalue[i];
        }
        static const char *methods[] = {"POST", "PATCH", "DELETE"};
        rc = idem_save(d, &r->ctx, w->idem_key, methods[w->kind], r->url, w->fp, r->status, loc,
                       etag, r->resp ? r->resp : "", err);
    }
    return rc;
}

static struct obj_write *new_write(struct req *r, enum write_kind kind,
                                   const struct object_def *def)
{
    struct obj_write *w = calloc(1, sizeof *w);
    if (!w) {
        http_reply_problem(r, AX_EUNAVAIL, "out of memory");
        return NULL;
    }
    w->kind = kind;
    w->def = def;
    w->r = r;
    w->if_version = -1;
    const char *key = http_header(r, "Idempotency-Key");
    if (key) {
        if (!idem_key_ok(key)) {
            http_reply_problem(r, AX_EBADREQ, "Idempotency-Key must be 1 to 255 printable characters");
            free(w);
            return NULL;
        }
        snprintf(w->idem_key, sizeof w->idem_key, "%s", key);
        static const char *methods[] = {"POST", "PATCH", "DELETE"};
        idem_fingerprint(methods[kind], r->url, r->body.data, r->body.len, w->fp);
    }
    if (r->nparams > 1)
        snprintf(w->id, sizeof w->id, "%.*s", ID_MAX - 1, r->params[1]);
    return w;
}

/* Everyone may change their own language, phone and title; the rest of a
 * user record is the admins'. */
static bool self_service(struct req *r, const struct object_def *def, enum write_kind kind)
{
    if (kind != W_UPDATE || strcmp(def->name, "users") != 0 || !r->ctx.user_id[0] ||
        strcmp(r->params[1], r->ctx.user_id) != 0)
        return false;
    json_t *body = json_loadb(r->body.data ? r->body.data : "", r->body.len, 0, NULL);
    bool ok = json_is_object(body) && json_object_size(body) > 0;
    const char *k;
    json_t *v;
    json_object_foreach(body, k, v)
        if (strcmp(k, "locale") && strcmp(k, "phone") && strcmp(k, "title"))
            ok = false;
    json_decref(body);
    return ok;
}

static void write_object(struct req *r, enum write_kind kind)
{
    const struct object_def *def = api_object(r, r->params[0]);
    if (!def)
        return;
    int roles = kind == W_DELETE ? def->delete_roles : def->write_roles;
    if (!(r->ctx.role & roles) && !self_service(r, def, kind) && !http_require_role(r, roles))
        return;
    if (kind != W_CREATE && strlen(r->params[1]) >= ID_MAX) {
        http_reply_problem(r, AX_ENOTFOUND, "no %s with this id", def->singular);
        return;
    }
    long long if_version = -1;
    if (kind != W_CREATE && (if_version = api_if_match(r)) == -2)
        return;
    json_t *input = NULL;
    if (kind != W_DELETE) {
        json_t *body = http_json_body(r);
        if (!body)
            return;
        struct ax_err e;
        ax_err_clear(&e);
        input = model_check_input(def, body, kind == W_CREATE, &e);
        json_decref(body);
        if (!input) {
            http_reply_error(r, &e);
            return;
        }
    }
    struct obj_write *w = new_write(r, kind, def);
    if (!w) {
        json_decref(input);
        return;
    }
    w->input = input;
    w->if_version = if_version;
    /* run_write only reads, writes and replies: it may run twice. */
    http_write_rerunnable(r, run_write, w, obj_write_free);
}

void api_create(struct req *r) { write_object(r, W_CREATE); }
void api_update(struct req *r) { write_object(r, W_UPDATE); }
void api_delete(struct req *r) { write_object(r, W_DELETE); }
