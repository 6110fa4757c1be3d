/* api_jobs.c - CSV imports and previews, jobs, and CSV exports. */
#include "axon/api.h"

#include "axon/csvio.h"
#include "axon/import.h"
#include "axon/jobs.h"
#include "axon/jx.h"
#include "axon/log.h"
#include "axon/model.h"
#include "axon/store.h"
#include "axon/text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define EXPORT_PAGE 500

/* ---- uploads ---- */

static bool csv_type(const char *ct)
{
    static const char *const ok[] = {"multipart/form-data", "text/csv", "text/plain",
                                     "application/csv", "application/octet-stream",
                                     "application/vnd.ms-excel", NULL};
    if (!ct)
        return true;
    for (int i = 0; ok[i]; i++)
        if (strncasecmp(ct, ok[i], strlen(ok[i])) == 0)
            return true;
    return false;
}

static bool upload_ok(struct req *r)
{
    if (!csv_type(http_header(r, "Content-Type"))) {
        http_reply_problem(r, AX_EMEDIATYPE,
                           "send the CSV as multipart/form-data (field 'file') or as text/csv");
        return false;
    }
    if (!r->upload_path || r->upload_size == 0) {
        http_reply_problem(r, AX_EBADREQ, "no CSV file: send it as a multipart/form-data "
                                          "field 'file', or as a text/csv body");
        return false;
    }
    return true;
}

/* The options: a multipart field `options`, or the query parameter. */
static json_t *upload_options(struct req *r)
{
    const char *text = json_string_value(json_object_get(r->form, "options"));
    if (!text)
        text = http_query(r, "options");
    if (!text)
        return json_object();
    struct ax_err e;
    ax_err_clear(&e);
    json_t *o = jx_parse(text, strlen(text), &e);
    if (!o) {
        char why[sizeof e.detail];
        snprintf(why, sizeof why, "%s", e.detail);
        snprintf(e.detail, sizeof e.detail, "the options are not valid JSON: %.300s", why);
        http_reply_error(r, &e);
    }
    return o;
}

/* ---- POST /api/v1/imports ---- */

struct import_create {
    struct req *r;
    char id[ID_MAX];
    const char *object;
    char *params;
    char path[700];
    bool created;
};

static void import_create_free(void *p)
{
    struct import_create *w = p;
    if (!w->created)
        unlink(w->path);
    free(w->params);
    free(w);
}

static int run_import_create(struct db *d, void *arg, struct ax_err *err)
{
    struct import_create *w = arg;
    struct buf b;
    buf_init(&b, 0);
    if (jobs_create(d, &w->r->ctx, w->id, "import", w->object, w->params, w->path, false, NULL,
                    err) ||
        jobs_describe(d, w->r->ctx.tenant, w->id, &b, err)) {
        buf_free(&b);
        return -1;
    }
    char loc[96];
    snprintf(loc, sizeof loc, "/api/v1/jobs/%s", w->id);
    http_add_header(w->r, "Location", loc);
    http_reply_buf(w->r, 202, &b);
    buf_free(&b);
    w->created = true;
    /* The worker claims through the writer, after this batch commits. */
    jobs_notify();
    return 0;
}

/* Check the options against the file now, so mistakes are a 422 rather
 * than a failed job. */
static struct import_create *prepare_import(struct req *r, struct db *d, json_t *o)
{
    struct ax_err e;
    ax_err_clear(&e);
    struct import_plan *p = import_plan_new(d, &r->ctx, o, r->upload_path, &e);
    struct import_create *w = p ? calloc(1, sizeof *w) : NULL;
    if (p && !w)
        ax_fail(&e, AX_EUNAVAIL, "out of memory");
    if (w) {
        char name[128];
        http_upload_name(r, "upload.csv", name, sizeof name);
        w->r = r;
        w->object = import_plan_object(p)->name;
        id_new("job", w->id);
        w->params = import_params(&r->ctx, o, name, true);
        if (import_adopt_upload(r->upload_path, w->id, w->path, sizeof w->path, &e)) {
            free(w->params);
            free(w);
            w = NULL;
        }
    }
    import_plan_free(p);
    if (!w)
        http_reply_error(r, &e);
    return w;
}

void api_import_create(struct req *r)
{
    if (!http_require_role(r, ROLES_LEADS) || !upload_ok(r))
        return;
    struct db *d = api_read_db(r);
    json_t *o = d ? upload_options(r) : NULL;
    if (!o)
        return;
    struct import_create *w = prepare_import(r, d, o);
    json_decref(o);
    if (w)
        http_write(r, run_import_create, w, import_create_free);
}

void api_import_preview(struct req *r)
{
    if (!http_require_role(r, ROLES_LEADS) || !upload_ok(r))
        return;
    json_t *o = upload_options(r);
    if (!o)
        return;
    struct ax_err e;
    ax_err_clear(&e);
    struct buf out;
    buf_init(&out, 0);
    if (import_preview(r->upload_path, o, &out, &e))
        http_reply_error(r, &e);
    else
        http_reply_buf(r, 200, &out);
    buf_free(&out);
    json_decref(o);
}

/* ---- jobs ---- */

void api_jobs_list(struct req *r)
{
    long long limit;
    if (!http_require_role(r, ROLES_LEADS) || api_int_param(r, "limit", 25, 1, 200, &limit))
        return;
    struct db *d = api_read_db(r);
    if (!d)
        return;
    const char *after = http_query(r, "after");
    struct ax_err e;
    ax_err_clear(&e);
    struct buf out;
    buf_init(&out, 0);
    if (after && strlen(after) >= ID_MAX)
        ax_fail_type(&e, AX_EBADREQ, "bad-cursor", "the 'after' cursor is not valid");
    if (e.code != AX_OK || jobs_list(d, r->ctx.tenant, (int)limit, after, &out, &e))
        http_reply_error(r, &e);
    else
        http_reply_buf(r, 200, &out);
    buf_free(&out);
}

void api_job_get(struct req *r)
{
    if (!http_require_role(r, ROLES_LEADS))
        return;
    struct db *d = api_read_db(r);
    if (!d)
        return;
    struct ax_err e;
    ax_err_clear(&e);
    struct buf out;
    buf_init(&out, 0);
    if (jobs_describe(d, r->ctx.tenant, r->params[0], &out, &e))
        http_reply_error(r, &e);
    else
        http_reply_buf(r, 200, &out);
    buf_free(&out);
}

struct error_page {
    struct buf *out;
    int n;
    bool csv;
};

static int add_error(void *arg, int64_t row, const char *field, const char *message)
{
    struct error_page *p = arg;
    if (p->csv) {
        char num[24];
        snprintf(num, sizeof num, "%lld", (long long)row);
        csvio_plain_cell(p->out, 0, num, strlen(num));
        csvio_cell(p->out, 1, field ? field : "", field ? strlen(field) : 0);
        csvio_cell(p->out, 2, message, strlen(message));
        return csvio_end_row(p->out);
    }
    buf_addf(p->out, "%s{\"row\":%lld,\"field\":", p->n++ ? "," : "", (long long)row);
    if (field)
        buf_add_json_str(p->out, field, strlen(field));
    else
        buf_adds(p->out, "null");
    buf_adds(p->out, ",\"message\":");
    buf_add_json_str(p->out, message, strlen(message));
    return buf_addc(p->out, '}');
}

static bool wants_csv(struct req *r)
{
    const char *f = http_query(r, "format");
    const char *accept = http_header(r, "Accept");
    return (f && strcmp(f, "csv") == 0) || (!f && accept && strstr(accept, "text/csv"));
}

static void job_errors_csv(struct req *r, struct db *d)
{
    struct ax_err e;
    ax_err_clear(&e);
    struct buf out;
    buf_init(&out, 0);
    struct error_page p = {&out, 0, true};
    int64_t last;
    csvio_bom(&out);
    buf_adds(&out, "row,field,message\r\n");
    if (jobs_each_error(d, r->ctx.tenant, r->params[0], 0, 0, add_error, &p, &last, &e)) {
        http_reply_error(r, &e);
    } else {
        char disp[96];
        snprintf(disp, sizeof disp, "attachment; filename=\"%.40s-errors.csv\"", r->params[0]);
        http_add_header(r, "Content-Disposition", disp);
        http_reply_buf(r, 200, &out);
        r->content_type = "text/csv; charset=utf-8";
    }
    buf_free(&out);
}

void api_job_errors(struct req *r)
{
    long long limit, after;
    if (!http_require_role(r, ROLES_LEADS))
        return;
    struct db *d = api_read_db(r);
    if (!d)
        return;
    if (wants_csv(r)) {
        job_errors_csv(r, d);
        return;
    }
    if (api_int_param(r, "limit", 100, 1, 1000, &limit) ||
        api_int_param(r, "after", 0, 0, 2000000000, &after))
        return;
    struct ax_err e;
    ax_err_clear(&e);
    struct buf out;
    buf_init(&out, 0);
    struct error_page p = {&out, 0, false};
    int64_t last = 0;
    buf_adds(&out, "{\"data\":[");
    if (jobs_each_error(d, r->ctx.tenant, r->params[0], after, (int)limit, add_error, &p, &last,
                        &e)) {
        http_reply_error(r, &e);
    } else {
        if (p.n == limit)
            buf_addf(&out, "],\"next\":\"%lld\"}", (long long)last);
        else
            buf_adds(&out, "],\"next\":null}");
        http_reply_buf(r, 200, &out);
    }
    buf_free(&out);
}

/* ---- GET /api/v1/exports/{object} ---- */

/* A streamed export: pages of the list endpoint turned into CSV rows as
 * libmicrohttpd asks for more, so memory stays at one page. */
struct export_stream {
    struct ax_ctx ctx;
    const struct object_def *def;
    struct store_query q;
    struct import_export *x;
    struct buf out;
    size_t pos;
    bool done;
};

static void export_free(void *cls)
{
    struct export_stream *s = cls;
    store_query_release(&s->q);
    import_export_free(s->x);
    buf_free(&s->out);
    free(s);
}

static int export_page(struct export_stream *s, struct ax_err *err)
{
    struct db *d = db_thread(err);
    if (!d)
        return -1;
    struct buf page;
    buf_init(&page, 0);
    int rc = store_list(d, &s->ctx, s->def, &s->q, &page, err);
    json_t *o = rc == 0 ? json_loads(page.data, 0, NULL) : NULL;
    buf_free(&page);
    if (!o)
        return rc ? -1 : ax_fail(err, AX_EINTERNAL, "unreadable list page");
    size_t i;
    json_t *doc;
    json_array_foreach(json_object_get(o, "data"), i, doc)
        if (import_export_row(s->x, doc, &s->out))
            rc = ax_fail(err, AX_EINTERNAL, "export row too large");
    const char *next = json_string_value(json_object_get(o, "next"));
    free(s->q.after);
    s->q.after = next ? strdup(next) : NULL;
    s->done = !s->q.after;
    json_decref(o);
    return rc;
}

static ssize_t export_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    struct export_stream *s = cls;
    while (s->pos == s->out.len) {
        if (s->done)
            return MHD_CONTENT_READER_END_OF_STREAM;
        buf_reset(&s->out);
        s->pos = 0;
        struct ax_err e;
        ax_err_clear(&e);
        if (export_page(s, &e)) {
            log_error("export of %s stopped: %s", s->def->name, e.detail);
            return MHD_CONTENT_READER_END_WITH_ERROR;
        }
    }
    size_t n = s->out.len - s->pos;
    if (n > max)
        n = max;
    memcpy(buf, s->out.data + s->pos, n);
    s->pos += n;
    return (ssize_t)n;
}

struct export_params {
    struct db *d;
    struct export_stream *s;
    struct ax_err err;
};

/* The list endpoint's filters and sort; paging is the export's own. */
static int export_param(void *arg, const char *key, const char *value)
{
    struct export_params *p = arg;
    if (!strcmp(key, "format") || !strcmp(key, "limit") || !strcmp(key, "after") ||
        !strcmp(key, "count"))
        return 0;
    return store_query_param(p->d, &p->s->ctx, p->s->def, &p->s->q, key, value, &p->err);
}

static struct export_stream *export_open(struct req *r, struct db *d,
                                         const struct object_def *def, struct ax_err *err)
{
    struct export_stream *s = calloc(1, sizeof *s);
    if (!s) {
        ax_fail(err, AX_EUNAVAIL, "out of memory");
        return NULL;
    }
    s->ctx = r->ctx;
    s->ctx.source = s->ctx.trigger = s->ctx.request_id = NULL;   /* they live in the request */
    s->def = def;
    store_query_init(&s->q);
    s->q.desc = false;
    buf_init(&s->out, 0);
    struct export_params p = {d, s, {0}};
    ax_err_clear(&p.err);
    if (http_each_query(r, export_param, &p)) {
        *err = p.err;
    } else if ((s->x = import_export_new(d, &s->ctx, def, err))) {
        s->q.limit = EXPORT_PAGE;
        if (import_export_header(s->x, &s->out) == 0 && export_page(s, err) == 0)
            return s;
    }
    export_free(s);
    return NULL;
}

void api_export(struct req *r)
{
    const struct object_def *def = api_object(r, r->params[0]);
    if (!def || !http_require_role(r, ROLES_LEADS) || !http_require_role(r, def->read_roles))
        return;
    struct db *d = api_read_db(r);
    if (!d)
        return;
    struct ax_err e;
    ax_err_clear(&e);
    struct export_stream *s = export_open(r, d, def, &e);
    if (!s) {
        http_reply_error(r, &e);
        return;
    }
    char disp[96];
    snprintf(disp, sizeof disp, "attachment; filename=\"%s.csv\"", def->name);
    http_add_header(r, "Content-Disposition", disp);
    http_reply_stream(r, 200, "text/csv; charset=utf-8", export_reader, s, export_free);
}
