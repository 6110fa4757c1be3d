/* cli_import.c - `axon import`, `axon export` and `axon demo`: the same
 * job code as the server's imports, run in this process. */
#include "axon/cli.h"

#include "axon/checkpoint.h"
#include "axon/config.h"
#include "axon/import.h"
#include "axon/jobs.h"
#include "axon/jx.h"
#include "axon/model.h"
#include "axon/store.h"
#include "axon/tenant.h"
#include "axon/timefmt.h"
#include "axon/writer.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SHOW_ERRORS 10
#define DEMO_SLUG "demo"
#define DEMO_META "demo_tenant"

static void print_err(const char *what, const struct ax_err *e)
{
    fprintf(stderr, "axon: %s%s%s\n", what ? what : "", what ? ": " : "", e->detail);
    for (int i = 0; i < e->nfields; i++)
        fprintf(stderr, "  %s: %s\n", e->fields[i].pointer, e->fields[i].detail);
}

/* A JSON file, parsed with the same strictness as request bodies. */
static json_t *load_json(const char *path, struct ax_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        ax_fail(err, AX_ENOTFOUND, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    struct buf b;
    buf_init(&b, 1 << 20);
    char block[8192];
    size_t n;
    int rc = 0;
    while (rc == 0 && (n = fread(block, 1, sizeof block, f)) > 0)
        rc = buf_add(&b, block, n);
    fclose(f);
    json_t *v = rc ? NULL : jx_parse(b.data ? b.data : "", b.len, err);
    if (rc)
        ax_fail(err, AX_ETOOLARGE, "%s is larger than 1 MiB", path);
    buf_free(&b);
    return v;
}

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

/* ---- running one import ---- */

struct summary {
    char job_id[ID_MAX];
    char status[16];
    char error[400];
    long long total, done, failed, created, updated, unchanged;
    double seconds;
};

struct bar {
    const char *label;
    bool tty;
    int last_pct;
};

static void progress_bar(void *arg, const struct import_progress *p)
{
    struct bar *b = arg;
    int pct = p->total > 0 ? (int)(p->done * 100 / p->total) : 0;
    if (!b->tty || pct == b->last_pct)
        return;
    b->last_pct = pct;
    int fill = pct * 30 / 100;
    fprintf(stderr, "\r%-16s [%.*s%*s] %3d%%  %lld/%lld rows, %lld failed", b->label, fill,
            "##############################", 30 - fill, "", pct, (long long)p->done,
            (long long)p->total, (long long)p->failed);
    fflush(stderr);
}

struct create_arg {
    const struct ax_ctx *c;
    const char *id, *object, *params, *file;
};

static int run_create(struct db *d, void *arg, struct ax_err *err)
{
    struct create_arg *a = arg;
    return jobs_create(d, a->c, a->id, "import", a->object, a->params, a->file, true, NULL, err);
}

static int read_summary(struct db *d, const struct ax_ctx *c, struct summary *s,
                        struct ax_err *err)
{
    struct buf b;
    buf_init(&b, 0);
    int rc = jobs_describe(d, c->tenant, s->job_id, &b, err);
    json_t *o = rc == 0 ? json_loads(b.data, 0, NULL) : NULL;
    buf_free(&b);
    if (!o)
        return -1;
    snprintf(s->status, sizeof s->status, "%s", json_string_value(json_object_get(o, "status")));
    const char *e = json_string_value(json_object_get(o, "error"));
    snprintf(s->error, sizeof s->error, "%s", e ? e : "");
    s->total = json_integer_value(json_object_get(o, "total"));
    s->done = json_integer_value(json_object_get(o, "done"));
    s->failed = json_integer_value(json_object_get(o, "failed"));
    s->created = json_integer_value(json_object_get(o, "created"));
    s->updated = json_integer_value(json_object_get(o, "updated"));
    s->unchanged = json_integer_value(json_object_get(o, "unchanged"));
    json_decref(o);
    return 0;
}

/* Check the options, create the job row, run it here, read the result. */
static int import_file(struct db *d, const struct ax_ctx *c, const char *file, json_t *options,
                       const char *label, struct summary *s)
{
    struct ax_err err;
    ax_err_clear(&err);
    memset(s, 0, sizeof *s);
    double t0 = time_mono();
    char full[PATH_MAX];
    struct import_plan *plan = import_plan_new(d, c, options, file, &err);
    if (!plan || !realpath(file, full)) {
        print_err(file, &err);
        import_plan_free(plan);
        return -1;
    }
    const char *object = import_plan_object(plan)->name;
    id_new("job", s->job_id);
    char *params = import_params(c, options, base_name(file), false);
    struct create_arg a = {c, s->job_id, object, params, full};
    struct job job;
    int rc = writer_exec(d, run_create, &a, &err);
    free(params);
    import_plan_free(plan);
    if (rc == 0)
        rc = jobs_load(d, c->tenant, s->job_id, &job, &err) == 1 ? 0 : -1;
    if (rc) {
        print_err("cannot create the job", &err);
        return -1;
    }
    job.resumed = false;     /* 'running' because this process runs it */
    struct bar b = {label, isatty(STDERR_FILENO) == 1, -1};
    /* Checkpoints on a thread of their own, as in the server: the copy
     * and fsyncs overlap the import instead of stalling it. */
    struct ax_err ce;
    ax_err_clear(&ce);
    bool ckpt = ckpt_start(d, axon_config.db_path, &ce) == 0;
    import_run(d, &job, NULL, progress_bar, &b);
    if (ckpt)
        ckpt_stop();
    jobs_free(&job);
    if (b.tty)
        fputc('\n', stderr);
    s->seconds = time_mono() - t0;
    if (read_summary(d, c, s, &err)) {
        print_err("cannot read the job", &err);
        return -1;
    }
    return 0;
}

static int print_error_row(void *arg, int64_t row, const char *field, const char *message)
{
    (void)arg;
    printf("    row %lld%s%s: %s\n", (long long)row, field ? ", " : "", field ? field : "", message);
    return 0;
}

static void print_summary(struct db *d, const struct ax_ctx *c, const char *label,
                          const struct summary *s)
{
    printf("%-16s %lld rows in %.2f s (%.0f rows/s): %lld created, %lld updated, "
           "%lld unchanged, %lld failed%s%s\n",
           label, s->done, s->seconds, s->seconds > 0 ? (double)s->done / s->seconds : 0.0,
           s->created, s->updated, s->unchanged, s->failed,
           strcmp(s->status, "succeeded") ? " - job " : "",
           strcmp(s->status, "succeeded") ? s->status : "");
    if (s->error[0])
        printf("    %s\n", s->error);
    if (s->failed) {
        struct ax_err err;
        ax_err_clear(&err);
        int64_t last;
        jobs_each_error(d, c->tenant, s->job_id, 0, SHOW_ERRORS, print_error_row, NULL, &last,
                        &err);
        if (s->failed > SHOW_ERRORS)
            printf("    … (all errors: GET /api/v1/jobs/%s/errors?format=csv)\n", s->job_id);
    }
}

/* ---- axon import ---- */

static void set_flag_option(json_t *o, int argc, char **argv, const char *flag, const char *key)
{
    const char *v = cli_arg(argc, argv, flag);
    if (v)
        json_object_set_new(o, key, json_string(v));
}

int cli_import(int argc, char **argv)
{
    const char *file = cli_arg(argc, argv, "--file");
    const char *mapping = cli_arg(argc, argv, "--mapping");
    if (!file) {
        fprintf(stderr, "usage: axon import --tenant T --object O --file F.csv [--mapping M.json]\n"
                        "         [--key FIELD] [--encoding E] [--delimiter D] [--date-order ymd|mdy|dmy]\n");
        return 2;
    }
    struct db *d = cli_open();
    struct ax_ctx c;
    if (!d || cli_tenant_ctx(d, cli_arg(argc, argv, "--tenant"), &c)) {
        db_close(d);
        return 1;
    }
    struct ax_err err;
    ax_err_clear(&err);
    json_t *o = mapping ? load_json(mapping, &err) : json_object();
    int rc = 1;
    if (!json_is_object(o)) {
        print_err(mapping, &err);
        goto out;
    }
    set_flag_option(o, argc, argv, "--object", "object");
    set_flag_option(o, argc, argv, "--key", "key");
    set_flag_option(o, argc, argv, "--encoding", "encoding");
    set_flag_option(o, argc, argv, "--delimiter", "delimiter");
    set_flag_option(o, argc, argv, "--date-order", "date_order");
    struct summary s;
    if (import_file(d, &c, file, o, base_name(file), &s) == 0) {
        print_summary(d, &c, base_name(file), &s);
        rc = strcmp(s.status, "succeeded") == 0 ? 0 : 1;
    }
out:
    json_decref(o);
    db_close(d);
    return rc;
}

/* ---- axon export ---- */

struct export_out {
    FILE *f;
    const struct import_export *x;
    struct buf b;
    long long rows;
    int failed;
};

static int export_visit(void *arg, const char *doc)
{
    struct export_out *e = arg;
    json_t *o = json_loads(doc, 0, NULL);
    buf_reset(&e->b);
    if (!o || import_export_row(e->x, o, &e->b) ||
        fwrite(e->b.data, 1, e->b.len, e->f) != e->b.len)
        e->failed = 1;
    json_decref(o);
    e->rows++;
    return e->failed;
}

/* `field=value` arguments become the list endpoint's filters. */
static int export_filters(struct db *d, const struct ax_ctx *c, const struct object_def *def,
                          int argc, char **argv, struct store_query *q, struct ax_err *err)
{
    for (int i = 0; i < argc; i++) {
        if (strncmp(argv[i], "--", 2) == 0) {
            i++;
            continue;
        }
        char *eq = strchr(argv[i], '=');
        if (!eq)
            return ax_fail(err, AX_EBADREQ, "'%s' is not a filter (field=value)", argv[i]);
        *eq = '\0';
        int rc = store_query_param(d, c, def, q, argv[i], eq + 1, err);
        *eq = '=';
        if (rc)
            return -1;
    }
    return 0;
}

static int export_run(struct db *d, const struct ax_ctx *c, const struct object_def *def,
                      struct store_query *q, const char *out, struct ax_err *err)
{
    struct import_export *x = import_export_new(d, c, def, err);
    if (!x)
        return -1;
    struct export_out e = {out ? fopen(out, "wb") : stdout, x, {0}, 0, 0};
    buf_init(&e.b, 0);
    int rc = -1;
    if (!e.f) {
        ax_fail(err, AX_EUNAVAIL, "cannot write %s: %s", out, strerror(errno));
    } else if (import_export_header(x, &e.b) == 0 &&
               fwrite(e.b.data, 1, e.b.len, e.f) == e.b.len &&
               store_each(d, c, def, q, export_visit, &e, err) == 0 && !e.failed) {
        rc = 0;
    } else if (err->code == AX_OK) {
        ax_fail(err, AX_EUNAVAIL, "cannot write the export");
    }
    if (e.f && e.f != stdout && fclose(e.f) && rc == 0)
        rc = ax_fail(err, AX_EUNAVAIL, "cannot write %s: %s", out, strerror(errno));
    if (rc == 0)
        fprintf(stderr, "exported %lld %s%s%s\n", e.rows, def->name, out ? " to " : "",
                out ? out : "");
    buf_free(&e.b);
    import_export_free(x);
    return rc;
}

int cli_export(int argc, char **argv)
{
    const char *object = cli_arg(argc, argv, "--object");
    const struct object_def *def = object ? model_find(object) : NULL;
    if (!def) {
        fprintf(stderr, "usage: axon export --tenant T --object O [--out F.csv] [field=value …]\n");
        return 2;
    }
    struct db *d = cli_open();
    struct ax_ctx c;
    if (!d || cli_tenant_ctx(d, cli_arg(argc, argv, "--tenant"), &c)) {
        db_close(d);
        return 1;
    }
    struct ax_err err;
    ax_err_clear(&err);
    struct store_query q;
    store_query_init(&q);
    q.desc = false;
    int rc = export_filters(d, &c, def, argc, argv, &q, &err);
    if (rc == 0)
        rc = export_run(d, &c, def, &q, cli_arg(argc, argv, "--out"), &err);
    if (rc)
        print_err(NULL, &err);
    store_query_release(&q);
    db_close(d);
    return rc ? 1 : 0;
}

/* ---- axon demo ---- */

/* The demo's imports, in dependency order. Each mapping is the options
 * JSON a user would send to POST /api/v1/imports. */
static const struct demo_step {
    const char *label, *csv, *mapping;
} demo_steps[] = {
    {"products", "crm_sales_opportunities/products.csv", "products.json"},
    {"accounts", "crm_sales_opportunities/accounts.csv", "accounts.json"},
    {"managers", "crm_sales_opportunities/sales_teams.csv", "sales_managers.json"},
    {"sales agents", "crm_sales_opportunities/sales_teams.csv", "sales_agents.json"},
    {"deals", "crm_sales_opportunities/sales_pipeline.csv", "sales_pipeline.json"},
    {"ticket customers", "support_tickets_en/customer_support_tickets_sample.csv",
     "ticket_customers.json"},
    {"tickets", "support_tickets_en/customer_support_tickets_sample.csv", "tickets.json"},
    {"reviews", "zh_sentiment/waimai_10k.csv", "waimai_reviews.json"},
};

struct tenant_arg {
    struct tenant_admin out;
};

static int run_demo_tenant(struct db *d, void *arg, struct ax_err *err)
{
    struct tenant_arg *a = arg;
    return tenant_create(d, "Axon Demo", DEMO_SLUG, NULL, NULL, &a->out, err);
}

struct field_arg {
    const struct ax_ctx *c;
    json_t *input;
};

static int run_field(struct db *d, void *arg, struct ax_err *err)
{
    struct field_arg *a = arg;
    struct store_result r;
    int rc = store_create(d, a->c, model_find("fields"), a->input, &r, err);
    store_result_free(&r);
    return rc;
}

/* Declare the custom fields the mappings use (data/mappings/custom_fields.json);
 * ones that exist already are left alone. */
static int demo_fields(struct db *d, const struct ax_ctx *c, const char *dir)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/mappings/custom_fields.json", dir);
    struct ax_err err;
    ax_err_clear(&err);
    json_t *list = load_json(path, &err);
    if (!json_is_array(list)) {
        print_err(path, &err);
        json_decref(list);
        return -1;
    }
    size_t i;
    json_t *f;
    int rc = 0;
    json_array_foreach(list, i, f) {
        struct field_arg a = {c, model_check_input(model_find("fields"), f, true, &err)};
        if (!a.input || (writer_exec(d, run_field, &a, &err) && err.code != AX_ECONFLICT)) {
            print_err(path, &err);
            rc = -1;
        }
        json_decref(a.input);
        ax_err_clear(&err);
    }
    json_decref(list);
    return rc;
}

static int demo_import(struct db *d, const struct ax_ctx *c, const char *dir,
                       const struct demo_step *step)
{
    char csv[PATH_MAX], mapping[PATH_MAX];
    snprintf(csv, sizeof csv, "%s/%s", dir, step->csv);
    snprintf(mapping, sizeof mapping, "%s/mappings/%s", dir, step->mapping);
    struct ax_err err;
    ax_err_clear(&err);
    json_t *o = load_json(mapping, &err);
    struct summary s;
    int rc = -1;
    if (!o)
        print_err(mapping, &err);
    else if (import_file(d, c, csv, o, step->label, &s) == 0) {
        print_summary(d, c, step->label, &s);
        rc = strcmp(s.status, "succeeded") == 0 ? 0 : -1;
    }
    json_decref(o);
    return rc;
}

/* The example workflow packs, uploaded (checked, not published: nothing
 * runs until an admin publishes it). A missing folder is no error. */
static int demo_packs(struct db *d, const struct ax_ctx *c, const char *dir)
{
    DIR *dh = opendir(dir);
    if (!dh)
        return 0;
    char names[16][256];
    int n = 0;
    for (struct dirent *e; (e = readdir(dh)) && n < 16;)
        if (e->d_name[0] != '.' && strlen(e->d_name) < sizeof names[0])
            snprintf(names[n++], sizeof names[0], "%s", e->d_name);
    closedir(dh);
    qsort(names, (size_t)n, sizeof names[0], (int (*)(const void *, const void *))strcmp);
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%.3000s/%.255s", dir, names[i]);
        rc = cli_pack_upload(d, c, path, false);
    }
    return rc;
}

struct meta_arg {
    const char *value;
};

static int run_meta(struct db *d, void *arg, struct ax_err *err)
{
    struct meta_arg *a = arg;
    return db_meta_set(d, DEMO_META, a->value, err);
}

static void demo_exists(const char *id)
{
    printf("demo tenant exists (slug %s, id %s).\n"
           "Its credentials were printed when it was created. New ones:\n"
           "  axon user passwd --tenant %s --email admin@%s.example\n"
           "  axon apikey create --tenant %s --scopes \"read write admin\"\n",
           DEMO_SLUG, id, DEMO_SLUG, DEMO_SLUG, DEMO_SLUG);
}

/* Create the tenant, or carry on with one a broken run left behind. */
static int demo_tenant(struct db *d, struct ax_ctx *c)
{
    struct tenant_arg t;
    struct ax_err err;
    ax_err_clear(&err);
    if (writer_exec(d, run_demo_tenant, &t, &err) == 0)
        cli_print_admin(&t.out, "Axon Demo");
    else if (err.code == AX_ECONFLICT)
        printf("tenant '%s' exists without a finished demo load: loading into it again\n",
               DEMO_SLUG);
    else {
        print_err("demo tenant", &err);
        return -1;
    }
    return cli_tenant_ctx(d, DEMO_SLUG, c);
}

int cli_demo(int argc, char **argv)
{
    const char *dir = cli_arg(argc, argv, "--data") ? cli_arg(argc, argv, "--data") : "data";
    struct db *d = cli_open();
    if (!d)
        return 1;
    char *done = db_meta_get(d, DEMO_META);
    if (done) {
        demo_exists(done);
        free(done);
        db_close(d);
        return 0;
    }
    double t0 = time_mono();
    struct ax_ctx c;
    int rc = demo_tenant(d, &c) || demo_fields(d, &c, dir);
    for (size_t i = 0; rc == 0 && i < sizeof demo_steps / sizeof demo_steps[0]; i++)
        rc = demo_import(d, &c, dir, &demo_steps[i]);
    if (rc == 0)
        rc = demo_packs(d, &c, cli_arg(argc, argv, "--packs") ? cli_arg(argc, argv, "--packs")
                                                              : "lua/packs");
    struct ax_err err;
    ax_err_clear(&err);
    struct meta_arg m = {c.tenant_id};
    if (rc == 0 && writer_exec(d, run_meta, &m, &err)) {
        print_err("demo", &err);
        rc = -1;
    }
    if (rc == 0)
        printf("demo loaded in %.1f s\n", time_mono() - t0);
    else
        fprintf(stderr, "axon: the demo load stopped; run `axon demo` again to finish it\n");
    db_close(d);
    return rc ? 1 : 0;
}
