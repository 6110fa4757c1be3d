/* api_intel.c - intent dictionaries, models, tags and customer intent
 * profiles: the REST side of intents.h, models.h and tags.h. */
#include "axon/api.h"

#include "axon/csvio.h"
#include "axon/import.h"
#include "axon/intents.h"
#include "axon/jx.h"
#include "axon/model.h"
#include "axon/models.h"
#include "axon/tags.h"
#include "axon/text.h"
#include "axon/timefmt.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define TEST_TEXT_MAX 100000      /* bytes of text POST /intents/test and predict take */

static bool admin(struct req *r) { return http_require_role(r, ROLE_ADMIN); }
static bool leads(struct req *r) { return http_require_role(r, ROLES_LEADS); }

/* ---- uploads ---- */

static bool upload_type_ok(struct req *r)
{
    static const char *const ok[] = {"multipart/form-data", "text/csv", "text/plain",
                                     "application/csv", "application/octet-stream",
                                     "application/vnd.ms-excel", NULL};
    const char *ct = http_header(r, "Content-Type");
    for (int i = 0; ct && ok[i]; i++)
        if (strncasecmp(ct, ok[i], strlen(ok[i])) == 0)
            return true;
    if (!ct)
        return true;
    http_reply_problem(r, AX_EMEDIATYPE, "send the CSV as the body (text/csv) or as the "
                                         "multipart/form-data field 'file'");
    return false;
}

static bool upload_present(struct req *r)
{
    if (r->upload_path && r->upload_size > 0)
        return true;
    http_reply_problem(r, AX_EBADREQ, "no CSV: send it as the body (text/csv) or as the "
                                      "multipart/form-data field 'file'");
    return false;
}

struct query_check {
    const char *const *allowed;
    char bad[80];
};

static int check_query(void *arg, const char *key, const char *value)
{
    (void)value;
    struct query_check *q = arg;
    for (int i = 0; q->allowed[i]; i++)
        if (!strcmp(key, q->allowed[i]))
            return 0;
    snprintf(q->bad, sizeof q->bad, "%.60s", key);
    return 1;
}

/* Refuse query parameters other than `allowed`. */
static bool only_params(struct req *r, const char *const *allowed)
{
    struct query_check q = {allowed, ""};
    if (http_each_query(r, check_query, &q) == 0)
        return true;
    struct ax_err e;
    ax_err_clear(&e);
    char ptr[96];
    snprintf(ptr, sizeof ptr, "/%s", text_valid_utf8(q.bad, strlen(q.bad)) ? q.bad : "?");
    ax_field(&e, ptr, "unknown parameter");
    ax_fail_type(&e, AX_EINVALID, "unknown-field", "'%.60s' is not a parameter of this "
                 "endpoint", text_valid_utf8(q.bad, strlen(q.bad)) ? q.bad : "?");
    http_reply_error(r, &e);
    return false;
}

/* ---- dictionaries ---- */

struct dict_upload {
    struct req *r;
    struct intent_dict *dict;
    struct intent_report report;
    char name[128];
    bool activate;
};

static void dict_upload_free(void *p)
{
    struct dict_upload *u = p;
    intent_dict_free(u->dict);
    intent_report_free(&u->report);
    free(u);
}

static int run_dict_upload(struct db *d, void *arg, struct ax_err *err)
{
    struct dict_upload *u = arg;
    struct buf out;
    buf_init(&out, 0);
    long long version;
    if (intents_store(d, &u->r->ctx, u->dict, &u->report, u->name,
                      (long long)u->r->upload_size, u->activate, &version, &out, err)) {
        buf_free(&out);
        return -1;
    }
    char loc[80];
    snprintf(loc, sizeof loc, "/api/v1/intents/dictionaries/%lld", version);
    http_add_header(u->r, "Location", loc);
    http_reply_buf(u->r, 201, &out);
    buf_free(&out);
    return 0;
}

/* A load that kept nothing: say why, with the first rejected rows. */
static void reply_unusable(struct req *r, const struct intent_report *rep, struct ax_err *e)
{
    for (size_t i = 0; i < rep->nerrors && e->nfields < AX_MAX_FIELD_ERRORS; i++) {
        char ptr[48];
        snprintf(ptr, sizeof ptr, "/rows/%lld", rep->errors[i].row);
        struct ax_field_err *f = &e->fields[e->nfields++];
        snprintf(f->pointer, sizeof f->pointer, "%s", ptr);
        snprintf(f->detail, sizeof f->detail, "%s", rep->errors[i].message);
    }
    if (e->code == AX_EINTERNAL || e->code == AX_OK)
        e->code = AX_EINVALID;
    http_reply_error(r, e);
}

/* The encoding a client declared: ?encoding=, else the charset of the
 * Content-Type (text/csv; charset=iso-8859-1). "" when none. */
static void declared_charset(struct req *r, char *out, size_t outsz)
{
    const char *q = http_query(r, "encoding");
    const char *ct = http_header(r, "Content-Type");
    const char *cs = ct ? strcasestr(ct, "charset=") : NULL;
    if (q)
        snprintf(out, outsz, "%s", q);
    else if (cs)
        snprintf(out, outsz, "%.*s", (int)strcspn(cs + 8, "; \t\""), cs + 8 + (cs[8] == '"'));
    else
        out[0] = '\0';
}

static void add_warning(struct intent_report *rep, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void add_warning(struct intent_report *rep, const char *fmt, ...)
{
    struct intent_issue *grown = realloc(rep->warnings, (rep->nwarnings + 1) * sizeof *grown);
    if (!grown)
        return;
    rep->warnings = grown;
    struct intent_issue *w = &rep->warnings[rep->nwarnings++];
    w->row = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->message, sizeof w->message, fmt, ap);
    va_end(ap);
}

void api_dict_upload(struct req *r)
{
    static const char *const params[] = {"activate", "filename", "encoding", NULL};
    if (!admin(r) || !upload_type_ok(r) || !only_params(r, params) || !upload_present(r))
        return;
    const char *act = http_query(r, "activate");
    if (act && strcmp(act, "true") && strcmp(act, "false")) {
        http_reply_problem(r, AX_EBADREQ, "activate must be true or false");
        return;
    }
    if ((long long)r->upload_size > INTENT_MAX_FILE_BYTES) {
        http_reply_problem(r, AX_ETOOLARGE, "a term table may be at most %lld bytes",
                           INTENT_MAX_FILE_BYTES);
        return;
    }
    struct dict_upload *u = calloc(1, sizeof *u);
    if (!u) {
        http_reply_problem(r, AX_EUNAVAIL, "out of memory");
        return;
    }
    u->r = r;
    u->activate = !act || !strcmp(act, "true");
    http_upload_name(r, "upload.csv", u->name, sizeof u->name);
    intent_report_init(&u->report);
    struct ax_err e;
    ax_err_clear(&e);
    /* Compiling takes a while for big tables: here, not on the writer. */
    char declared[CSVIO_ENCODING_MAX];
    declared_charset(r, declared, sizeof declared);
    if (intent_dict_load_csv_as(r->upload_path, declared, &u->dict, &u->report, &e)) {
        reply_unusable(r, &u->report, &e);
        dict_upload_free(u);
        return;
    }
    /* A table that lost more rows than it kept was most likely read with the
     * wrong encoding: keep it as a version, but do not make it active. */
    if (u->activate && u->report.rows_rejected > u->report.rows_accepted) {
        u->activate = false;
        add_warning(&u->report, "not activated: more rows were rejected (%lld) than accepted "
                    "(%lld); if the encoding (%s) is wrong, upload again with ?encoding=, "
                    "else activate this version by hand", u->report.rows_rejected,
                    u->report.rows_accepted, u->report.encoding);
    }
    http_write(r, run_dict_upload, u, dict_upload_free);
}

/* A version in a path: 0 (the built-in dictionary) to 999,999,999. */
static bool version_param(struct req *r, long long *v)
{
    const char *s = r->params[0];
    size_t n = strlen(s);
    if (n == 0 || n > 9 || strspn(s, "0123456789") != n) {
        http_reply_problem(r, AX_ENOTFOUND, "no such dictionary version");
        return false;
    }
    *v = atoll(s);
    return true;
}

void api_dicts_list(struct req *r) { api_tenant_read(r, ROLES_LEADS, intents_list); }

void api_dict_get(struct req *r)
{
    long long v;
    struct db *d = leads(r) && version_param(r, &v) ? api_read_db(r) : NULL;
    if (!d)
        return;
    struct ax_err e;
    ax_err_clear(&e);
    struct buf out;
    buf_init(&out, 0);
    http_reply_result(r, intents_describe(d, r->ctx.tenant, v, &out, &e), &out, &e, 200);
}

struct activate {
    struct req *r;
    long long version;
};

static int run_dict_activate(struct db *d, void *arg, struct ax_err *err)
{
    struct activate *a = arg;
    struct buf out;
    buf_init(&out, 0);
    int rc = intents_activate(d, &a->r->ctx, a->version, &out, err);
    if (rc == 0)
        http_reply_buf(a->r, 200, &out);
    buf_free(&out);
    return rc;
}

void api_dict_activate(struct req *r)
{
    long long v;
    if (!admin(r) || !version_param(r, &v))
        return;
    struct activate *a = calloc(1, sizeof *a);
    if (!a) {
        http_reply_problem(r, AX_EUNAVAIL, "out of memory");
        return;
    }
    a->r = r;
    a->version = v;
    http_write(r, run_dict_activate, a, free);
}

/* The body {"text": "…"[, one more allowed member]}: the text, or NULL
 * (reply sent). `extra` is checked by the caller. */
static json_t *text_body(struct req *r, const char *extra, const char **text)
{
    json_t *body = http_json_body(r);
    if (!body)
        return NULL;
    struct ax_err e;
    ax_err_clear(&e);
    if (!json_is_object(body)) {
        ax_fail(&e, AX_EINVALID, "the body must be an object {\"text\": \"…\"}");
    } else {
        const char *k;
        json_t *v;
        json_object_foreach(body, k, v)
            if (strcmp(k, "text") && !(extra && !strcmp(k, extra))) {
                char ptr[96];
                snprintf(ptr, sizeof ptr, "/%.80s", k);
                ax_field(&e, ptr, "unknown member");
            }
        json_t *t = json_object_get(body, "text");
        if (!json_is_string(t))
            ax_field(&e, "/text", "required: the text to look at");
        else if (json_string_length(t) > TEST_TEXT_MAX)
            ax_field(&e, "/text", "at most %d bytes", TEST_TEXT_MAX);
        else
            *text = json_string_value(t);
    }
    if (e.code) {
        json_decref(body);
        http_reply_error(r, &e);
        return NULL;
    }
    return body;
}

void api_intents_test(struct req *r)
{
    const char *text = NULL;
    struct db *d = leads(r) ? api_read_db(r) : NULL;
    json_t *body = d ? text_body(r, "dictionary_version", &text) : NULL;
    if (!body)
        return;
    json_t *v = json_object_get(body, "dictionary_version");
    long long version = INTENTS_ACTIVE;
    if (v && (!json_is_integer(v) || json_integer_value(v) < 0)) {
        json_decref(body);
        http_reply_problem(r, AX_EINVALID, "dictionary_version must be a version number "
                                           "(0: the built-in dictionary)");
        return;
    }
    if (v)
        version = json_integer_value(v);
    struct ax_err e;
    ax_err_clear(&e);
    struct buf out;
    buf_init(&out, 0);
    int rc = tags_text(d, r->ctx.tenant, version, text, strlen(text), true, &out, &e);
    json_decref(body);
    http_reply_result(r, rc, &out, &e, 200);
}

/* ---- models ---- */

/* The options: a multipart field `options`, or the query parameter. */
static json_t *model_options(struct req *r)
{
    const char *text = json_string_value(json_object_get(r->form, "options"));
    if (!text)
        text = http_query(r, "options");
    if (!text)
        return json_object();
    struct ax_err e;
    ax_err_clear(&e);
    json_t *o = jx_parse(text, strlen(text), &e);
    if (o && !json_is_object(o)) {
        json_decref(o);
        o = NULL;
        ax_fail(&e, AX_EINVALID, "the options must be a JSON object");
    }
    if (!o)
        http_reply_error(r, &e);
    return o;
}

struct model_create {
    struct req *r;
    char model_id[ID_MAX], job_id[ID_MAX];
    json_t *options;
    char name[128];
    char path[700];
    long long rows;
    bool created;
};

static void model_create_free(void *p)
{
    struct model_create *m = p;
    if (!m->created && m->path[0])
        unlink(m->path);
    json_decref(m->options);
    free(m);
}

static int run_model_create(struct db *d, void *arg, struct ax_err *err)
{
    struct model_create *m = arg;
    struct buf out;
    buf_init(&out, 0);
    if (models_create(d, &m->r->ctx, m->model_id, m->job_id, m->options, m->path, m->name,
                      m->rows, &out, err)) {
        buf_free(&out);
        return -1;
    }
    char loc[96];
    snprintf(loc, sizeof loc, "/api/v1/models/%s", m->model_id);
    http_add_header(m->r, "Location", loc);
    http_reply_buf(m->r, 202, &out);
    buf_free(&out);
    m->created = true;
    return 0;
}

void api_model_create(struct req *r)
{
    static const char *const params[] = {"options", "filename", NULL};
    if (!admin(r) || !upload_type_ok(r) || !only_params(r, params) || !upload_present(r))
        return;
    json_t *given = model_options(r);
    if (!given)
        return;
    struct model_create *m = calloc(1, sizeof *m);
    if (!m) {
        json_decref(given);
        http_reply_problem(r, AX_EUNAVAIL, "out of memory");
        return;
    }
    m->r = r;
    http_upload_name(r, "upload.csv", m->name, sizeof m->name);
    struct ax_err e;
    ax_err_clear(&e);
    m->options = models_check_upload(r->upload_path, (long long)r->upload_size, given, m->name,
                                     &m->rows, &e);
    json_decref(given);
    id_new("mdl", m->model_id);
    id_new("job", m->job_id);
    /* The job keeps its own copy of the file; the request's goes at its end. */
    if (!m->options ||
        import_adopt_upload(r->upload_path, m->job_id, m->path, sizeof m->path, &e)) {
        http_reply_error(r, &e);
        model_create_free(m);
        return;
    }
    http_write(r, run_model_create, m, model_create_free);
}

void api_models_list(struct req *r) { api_tenant_read(r, ROLES_LEADS, models_list); }

static bool model_id_ok(struct req *r)
{
    const char *id = r->params[0];
    if (!strcmp(id, MODELS_BUILTIN_ID) || id_valid("mdl", id))
        return true;
    http_reply_problem(r, AX_ENOTFOUND, "no model with this id");
    return false;
}

void api_model_get(struct req *r)
{
    struct db *d = leads(r) && model_id_ok(r) ? api_read_db(r) : NULL;
    if (!d)
        return;
    struct ax_err e;
    ax_err_clear(&e);
    struct buf out;
    buf_init(&out, 0);
    http_reply_result(r, models_describe(d, r->ctx.tenant, r->params[0], &out, &e), &out, &e, 200);
}

static int run_model_activate(struct db *d, void *arg, struct ax_err *err)
{
    struct req *r = arg;
    struct buf out;
    buf_init(&out, 0);
    int rc = models_activate(d, &r->ctx, r->params[0], &out, err);
    if (rc == 0)
        http_reply_buf(r, 200, &out);
    buf_free(&out);
    return rc;
}

void api_model_activate(struct req *r)
{
    if (admin(r) && model_id_ok(r))
        http_write(r, run_model_activate, r, NULL);
}

void api_model_predict(struct req *r)
{
    const char *text = NULL;
    struct db *d = leads(r) ? api_read_db(r) : NULL;
    json_t *body = d ? text_body(r, NULL, &text) : NULL;
    if (!body)
        return;
    struct ax_err e;
    ax_err_clear(&e);
    struct buf out;
    buf_init(&out, 0);
    struct models_ref m;
    int rc = -1;
    if (!model_id_ok(r)) {
        json_decref(body);
        return;
    }
    if (models_acquire(d, r->ctx.tenant, r->params[0], &m, &e) == 0) {
        rc = models_predict(&m, text, strlen(text), &out, &e);
        models_release(&m);
    }
    json_decref(body);
    http_reply_result(r, rc, &out, &e, 200);
}

/* ---- tags and profiles ---- */

static void tags_of(struct req *r, const char *object)
{
    const struct object_def *def = model_find(object);
    struct db *d = http_require_role(r, def->read_roles) ? api_read_db(r) : NULL;
    if (!d)
        return;
    struct ax_err e;
    ax_err_clear(&e);
    struct buf out;
    buf_init(&out, 0);
    http_reply_result(r, tags_describe(d, r->ctx.tenant, def, r->params[0], &out, &e), &out, &e, 200);
}

void api_activity_tags(struct req *r) { tags_of(r, "activities"); }
void api_ticket_tags(struct req *r) { tags_of(r, "tickets"); }

void api_customer_intents(struct req *r)
{
    const struct object_def *def = model_find("customers");
    struct db *d = http_require_role(r, def->read_roles) ? api_read_db(r) : NULL;
    if (!d)
        return;
    struct ax_err e;
    ax_err_clear(&e);
    struct buf out;
    buf_init(&out, 0);
    http_reply_result(r, tags_profile(d, r->ctx.tenant, r->params[0], time_now_ms(), &out, &e), &out,
              &e, 200);
}
