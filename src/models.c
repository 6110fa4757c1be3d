/* models.c - model versions, their training job, the active sentiment
 * model, the built-in model and the cache of loaded models. */
#include "axon/models.h"

#include "axon/assets.h"
#include "axon/audit.h"
#include "axon/csvio.h"
#include "axon/ids.h"
#include "axon/jx.h"
#include "axon/log.h"
#include "axon/refcache.h"
#include "axon/text.h"
#include "axon/timefmt.h"
#include "axon/writer.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define PROGRESS_EVERY_S 0.1     /* job row updates while training */
#define ROW_ERRORS_MAX 1000      /* rejected rows listed in the job's errors */

/* ---- the built-in model ---- */

static struct {
    pthread_once_t once;
    struct clf_model *model;
    char sha256[65];
    size_t size;
    char error[200];
} B = {.once = PTHREAD_ONCE_INIT};

static void sha256_hex(const void *p, size_t n, char out[65])
{
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, p, n);
    sodium_bin2hex(out, 65, h, sizeof h);
}

static void builtin_load(void)
{
    const char *data = asset_get(ASSET_SENTIMENT_MODEL, &B.size);
    struct ax_err err;
    ax_err_clear(&err);
    if (!data)
        snprintf(B.error, sizeof B.error, "the built-in sentiment model is missing");
    else if (clf_load(data, B.size, &B.model, &err))
        snprintf(B.error, sizeof B.error, "the built-in sentiment model: %.150s", err.detail);
    else
        sha256_hex(data, B.size, B.sha256);
}

const struct clf_model *models_builtin(struct ax_err *err)
{
    pthread_once(&B.once, builtin_load);
    if (!B.model)
        ax_fail(err, AX_EINTERNAL, "%s", B.error);
    return B.model;
}

/* ---- the cache ---- */

static void free_model(void *p) { clf_model_free(p); }

static struct refcache cache = REFCACHE_INIT(MODELS_CACHE_MAX, MODELS_CACHE_BYTES, free_model);

/* A loaded model takes about 4 bytes per weight; the blob holds them at
 * half precision with the rare rows pruned, so estimate from the labels
 * and the hash size instead. */
static size_t model_bytes(const struct clf_model *m, int hash_bits)
{
    int cols = clf_model_nlabels(m) == 2 ? 1 : clf_model_nlabels(m);
    return ((size_t)1 << hash_bits) * (size_t)cols * 4;
}

/* ---- options ---- */

static const char *const option_names[] = {"name", "kind", "holdout_every", "positive",
                                           "text_column", "label_column", "hash_bits",
                                           "epochs", "activate", NULL};

static bool known_option(const char *k)
{
    for (int i = 0; option_names[i]; i++)
        if (!strcmp(k, option_names[i]))
            return true;
    return false;
}

static void int_option(json_t *in, json_t *out, const char *key, int dflt, int lo, int hi,
                       bool zero_ok, struct ax_err *err)
{
    json_t *v = json_object_get(in, key);
    json_int_t n = dflt;
    if (v) {
        n = json_is_integer(v) ? json_integer_value(v) : lo - 1;
        if (!(n >= lo && n <= hi) && !(zero_ok && n == 0)) {
            char ptr[40];
            snprintf(ptr, sizeof ptr, "/%s", key);
            ax_field(err, ptr, "must be an integer from %d to %d%s", lo, hi,
                     zero_ok ? " (or 0: no held-out rows)" : "");
            return;
        }
    }
    json_object_set_new(out, key, json_integer(n));
}

static void text_option(json_t *in, json_t *out, const char *key, const char *dflt,
                        size_t max, struct ax_err *err)
{
    json_t *v = json_object_get(in, key);
    char ptr[40];
    snprintf(ptr, sizeof ptr, "/%s", key);
    if (v && (!json_is_string(v) || json_string_length(v) == 0 ||
              json_string_length(v) > max)) {
        ax_field(err, ptr, "must be a string of 1 to %zu bytes", max);
        return;
    }
    const char *s = v ? json_string_value(v) : dflt;
    json_object_set_new(out, key, s ? json_string(s) : json_null());
}

/* The options with defaults filled in; NULL with err on a bad one. */
static json_t *normalise_options(json_t *in, const char *file_name, struct ax_err *err)
{
    const char *k;
    json_t *v;
    json_object_foreach(in, k, v) {
        if (!known_option(k)) {
            char ptr[96];
            snprintf(ptr, sizeof ptr, "/%.80s", k);
            ax_field(err, ptr, "unknown option (known: name, kind, holdout_every, positive, "
                               "text_column, label_column, hash_bits, epochs, activate)");
        }
    }
    json_t *out = json_object();
    char name[200];
    snprintf(name, sizeof name, "%.190s", file_name && *file_name ? file_name : "model");
    text_option(in, out, "name", name, 200, err);
    json_t *kind = json_object_get(in, "kind");
    if (kind && !(json_is_string(kind) && (!strcmp(json_string_value(kind), "sentiment") ||
                                           !strcmp(json_string_value(kind), "classifier"))))
        ax_field(err, "/kind", "must be \"sentiment\" or \"classifier\"");
    json_object_set_new(out, "kind", json_string(kind && json_is_string(kind)
                                                     ? json_string_value(kind) : "sentiment"));
    int_option(in, out, "holdout_every", MODELS_HOLDOUT_DEFAULT, 2, 100, true, err);
    text_option(in, out, "positive", NULL, CLF_LABEL_MAX, err);
    text_option(in, out, "text_column", "text", 200, err);
    text_option(in, out, "label_column", "label", 200, err);
    int_option(in, out, "hash_bits", 20, 16, 22, false, err);
    int_option(in, out, "epochs", 6, 1, 50, false, err);
    json_t *act = json_object_get(in, "activate");
    if (act && !json_is_boolean(act))
        ax_field(err, "/activate", "must be true or false");
    json_object_set_new(out, "activate", json_boolean(json_is_true(act)));
    if (json_is_true(act) && kind && json_is_string(kind) &&
        !strcmp(json_string_value(kind), "classifier"))
        ax_field(err, "/activate", "only a sentiment model can be the active one");
    if (err->code) {
        json_decref(out);
        return NULL;
    }
    return out;
}

/* Column index of `name` in the header row (case-insensitive, trimmed), or -1. */
static int find_column(const struct csvio_row *row, const char *name)
{
    for (int i = 0; i < row->nfields; i++) {
        const char *f = row->fields[i];
        while (*f == ' ')
            f++;
        size_t n = strlen(f);
        while (n && f[n - 1] == ' ')
            n--;
        if (n == strlen(name) && strncasecmp(f, name, n) == 0)
            return i;
    }
    return -1;
}

/* Open the CSV in its (sniffed) encoding and find the two columns. */
static struct csvio_reader *open_csv(const char *path, const char *text_col,
                                     const char *label_col, int *tc, int *lc,
                                     struct csvio_opts *o, char enc[CSVIO_ENCODING_MAX],
                                     struct ax_err *err)
{
    bool bom;
    if (csvio_sniff(path, enc, &bom, err))
        return NULL;
    memset(o, 0, sizeof *o);
    o->encoding = enc;
    struct csvio_reader *rd = csvio_open(path, o, err);
    if (!rd)
        return NULL;
    struct csvio_row row;
    int got = csvio_next(rd, &row, err);
    if (got == 1 && row.error) {
        ax_fail(err, AX_EINVALID, "the header row cannot be read: %.200s", row.error);
        got = -1;
    } else if (got == 0) {
        ax_fail(err, AX_EINVALID, "the file is empty: it needs a header row naming the "
                                  "columns %s and %s", text_col, label_col);
        got = -1;
    }
    if (got == 1) {
        *tc = find_column(&row, text_col);
        *lc = find_column(&row, label_col);
        if (*tc < 0 || *lc < 0) {
            ax_fail(err, AX_EINVALID,
                         "the header row has no column named '%.60s'%s (columns are found by "
                         "name; say others with the options text_column and label_column)",
                         *tc < 0 ? text_col : label_col, *tc < 0 && *lc < 0 ? " nor label" : "");
            got = -1;
        }
    }
    if (got != 1) {
        csvio_close(rd);
        return NULL;
    }
    return rd;
}

json_t *models_check_upload(const char *path, long long size, json_t *options,
                            const char *file_name, long long *rows, struct ax_err *err)
{
    if (size > MODELS_MAX_FILE) {
        ax_fail(err, AX_ETOOLARGE, "a training file may be at most %lld bytes",
                MODELS_MAX_FILE);
        return NULL;
    }
    json_t *o = normalise_options(options, file_name, err);
    if (!o)
        return NULL;
    const char *tcol = json_string_value(json_object_get(o, "text_column"));
    const char *lcol = json_string_value(json_object_get(o, "label_column"));
    int tc, lc;
    struct csvio_opts co;
    char enc[CSVIO_ENCODING_MAX];
    struct csvio_reader *rd = open_csv(path, tcol, lcol, &tc, &lc, &co, enc, err);
    if (!rd) {
        json_decref(o);
        return NULL;
    }
    csvio_close(rd);
    if (csvio_count(path, &co, rows, err)) {
        json_decref(o);
        return NULL;
    }
    if (*rows == 0 || *rows > MODELS_MAX_ROWS) {
        if (*rows == 0)
            ax_fail(err, AX_EINVALID, "the file has a header but no rows");
        else
            ax_fail(err, AX_EINVALID, "the file has %lld rows; a training file may have at "
                                      "most %d", *rows, MODELS_MAX_ROWS);
        json_decref(o);
        return NULL;
    }
    json_object_set_new(o, "encoding", json_string(enc));
    return o;
}

/* ---- rows and descriptions ---- */

#define MODEL_COLS "rid, id, version, name, kind, status, job_id, options, labels, positive, " \
                   "report, rows_total, rows_trained, rows_held_out, rows_skipped, size, " \
                   "sha256, train_ms, error, file_name, created_by, created_at, finished_at"

static json_t *col_json(sqlite3_stmt *st, int i)
{
    const char *s = (const char *)sqlite3_column_text(st, i);
    json_t *v = s ? json_loads(s, 0, NULL) : NULL;
    return v ? v : json_null();
}

static json_t *col_str(sqlite3_stmt *st, int i)
{
    const char *s = (const char *)sqlite3_column_text(st, i);
    return s ? json_string(s) : json_null();
}

static json_t *col_int(sqlite3_stmt *st, int i)
{
    return sqlite3_column_type(st, i) == SQLITE_NULL ? json_null()
                                                     : json_integer(sqlite3_column_int64(st, i));
}

static json_t *row_description(sqlite3_stmt *st, int64_t active_rid)
{
    json_t *o = json_object(), *opts = col_json(st, 7);
    json_object_set_new(o, "object", json_string("model"));
    json_object_set_new(o, "id", col_str(st, 1));
    json_object_set_new(o, "version", col_int(st, 2));
    json_object_set_new(o, "name", col_str(st, 3));
    json_object_set_new(o, "kind", col_str(st, 4));
    json_object_set_new(o, "status", col_str(st, 5));
    json_object_set_new(o, "active", json_boolean(sqlite3_column_int64(st, 0) == active_rid));
    json_object_set_new(o, "builtin", json_false());
    json_object_set_new(o, "labels", col_json(st, 8));
    json_object_set_new(o, "positive", col_str(st, 9));
    json_object_set_new(o, "report", col_json(st, 10));
    json_object_set_new(o, "rows", json_pack("{s:o,s:o,s:o,s:o}", "total", col_int(st, 11),
                                             "trained", col_int(st, 12), "held_out",
                                             col_int(st, 13), "skipped", col_int(st, 14)));
    json_t *k = json_object_get(opts, "holdout_every");
    json_object_set_new(o, "holdout_every", k ? json_incref(k) : json_null());
    json_object_set_new(o, "options", opts);
    json_object_set_new(o, "size", col_int(st, 15));
    json_object_set_new(o, "sha256", col_str(st, 16));
    json_object_set_new(o, "train_ms", col_int(st, 17));
    json_object_set_new(o, "job_id", col_str(st, 6));
    json_object_set_new(o, "error", col_str(st, 18));
    json_object_set_new(o, "file_name", col_str(st, 19));
    json_object_set_new(o, "created_by", col_str(st, 20));
    json_object_set_new(o, "created_at", col_str(st, 21));
    json_object_set_new(o, "finished_at", col_str(st, 22));
    return o;
}

static json_t *builtin_description(bool active, struct ax_err *err)
{
    const struct clf_model *m = models_builtin(err);
    if (!m)
        return NULL;
    json_t *labels = json_array();
    for (int i = 0; i < clf_model_nlabels(m); i++)
        json_array_append_new(labels, json_string(clf_model_label(m, i)));
    int pos = clf_model_positive(m);
    return json_pack("{s:s,s:s,s:i,s:s,s:s,s:s,s:b,s:b,s:o,s:o,s:n,s:n,s:n,s:n,s:I,s:s,"
                     "s:n,s:n,s:n,s:s,s:n,s:n,s:n}",
        "object", "model", "id", MODELS_BUILTIN_ID, "version", 0,
        "name", "Axon's sentiment model (Chinese reviews, two labels: 0 negative, 1 positive)",
        "kind", "sentiment", "status", "ready", "active", active, "builtin", 1,
        "labels", labels, "positive", pos >= 0 ? json_string(clf_model_label(m, pos))
                                               : json_null(),
        "report", "rows", "holdout_every", "options", "size", (json_int_t)B.size,
        "sha256", B.sha256, "train_ms", "job_id", "error", "file_name", ASSET_SENTIMENT_MODEL,
        "created_by", "created_at", "finished_at");
}

static int dump(struct buf *out, json_t *o, struct ax_err *err)
{
    int rc = o ? jx_dump(out, o, 0) : -1;
    json_decref(o);
    return rc ? ax_fail(err, AX_EINTERNAL, "out of memory") : 0;
}

static int active_rid(struct db *d, int64_t tenant, int64_t *rid, struct ax_err *err)
{
    sqlite3_stmt *st = db_prep(d, "SELECT model_rid FROM model_active WHERE tenant_id=?", err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, tenant);
    int rc = sqlite3_step(st);
    *rid = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    db_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : db_fail(d, err, "active model");
}

int models_describe(struct db *d, int64_t tenant, const char *id, struct buf *out,
                    struct ax_err *err)
{
    int64_t active;
    if (active_rid(d, tenant, &active, err))
        return -1;
    if (!strcmp(id, MODELS_BUILTIN_ID)) {
        json_t *o = builtin_description(active == 0, err);
        return o ? dump(out, o, err) : -1;
    }
    sqlite3_stmt *st = db_prep(d, "SELECT " MODEL_COLS " FROM models WHERE tenant_id=? AND id=?",
                               err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, tenant);
    sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    json_t *o = rc == SQLITE_ROW ? row_description(st, active) : NULL;
    db_reset(st);
    if (rc == SQLITE_DONE)
        return ax_fail(err, AX_ENOTFOUND, "no model with id '%.60s'", id);
    if (rc != SQLITE_ROW)
        return db_fail(d, err, "model");
    return dump(out, o, err);
}

int models_list(struct db *d, int64_t tenant, struct buf *out, struct ax_err *err)
{
    int64_t active;
    if (active_rid(d, tenant, &active, err))
        return -1;
    sqlite3_stmt *st = db_prep(d, "SELECT " MODEL_COLS " FROM models WHERE tenant_id=? "
                                  "ORDER BY version DESC", err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, tenant);
    json_t *data = json_array();
    json_t *active_id = json_string(MODELS_BUILTIN_ID);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (sqlite3_column_int64(st, 0) == active) {
            json_decref(active_id);
            active_id = col_str(st, 1);
        }
        json_array_append_new(data, row_description(st, active));
    }
    db_reset(st);
    json_t *b = rc == SQLITE_DONE ? builtin_description(active == 0, err) : NULL;
    if (!b) {
        json_decref(data);
        json_decref(active_id);
        return rc == SQLITE_DONE ? -1 : db_fail(d, err, "models");
    }
    json_array_append_new(data, b);
    return dump(out, json_pack("{s:o,s:o,s:n}", "data", data, "active_id", active_id, "next"),
                err);
}

/* ---- creating ---- */

int models_create(struct db *d, const struct ax_ctx *c, const char *model_id,
                  const char *job_id, json_t *options, const char *file, const char *file_name,
                  long long rows, struct buf *out, struct ax_err *err)
{
    sqlite3_stmt *st = db_prep(d, "SELECT coalesce(max(version), 0) + 1 FROM models "
                                  "WHERE tenant_id=?", err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, c->tenant);
    int64_t version = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 1;
    db_reset(st);
    char *opts = jx_dumps(options, 0);
    json_t *params = json_pack("{s:s,s:s?,s:s?,s:i}", "model_id", model_id, "file_name",
                               file_name, "user_id", c->user_id[0] ? c->user_id : NULL,
                               "role", c->role);
    char *ptext = params ? jx_dumps(params, 0) : NULL;
    json_decref(params);
    st = opts && ptext ? db_prep(d, "INSERT INTO models(tenant_id, id, version, name, kind, status,"
                                    " job_id, options, rows_total, file_name, created_by, "
                                    "created_at) VALUES(?,?,?,?,?,'training',?,?,?,?,?,?)", err)
                       : NULL;
    if (!st) {
        free(opts);
        free(ptext);
        return err->code ? -1 : ax_fail(err, AX_EINTERNAL, "out of memory");
    }
    char now[TIME_TEXT_MAX];
    time_format_ms(time_now_ms(), now);
    sqlite3_bind_int64(st, 1, c->tenant);
    sqlite3_bind_text(st, 2, model_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, version);
    sqlite3_bind_text(st, 4, json_string_value(json_object_get(options, "name")), -1,
                      SQLITE_STATIC);
    sqlite3_bind_text(st, 5, json_string_value(json_object_get(options, "kind")), -1,
                      SQLITE_STATIC);
    sqlite3_bind_text(st, 6, job_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, opts, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 8, rows);
    sqlite3_bind_text(st, 9, file_name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 10, c->actor_id[0] ? c->actor_id : NULL, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 11, now, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    db_reset(st);
    free(opts);
    if (rc != SQLITE_DONE) {
        free(ptext);
        return db_fail(d, err, "model insert");
    }
    json_t *changes = json_pack("{s:[n,I],s:[n,O],s:[n,O],s:[n,s]}", "version",
                                (json_int_t)version, "name", json_object_get(options, "name"),
                                "kind", json_object_get(options, "kind"), "status", "training");
    rc = jobs_create(d, c, job_id, "train", "models", ptext, file, false, NULL, err) ||
         audit_append(d, c, "models", model_id, "create", changes, err) ||
         models_describe(d, c->tenant, model_id, out, err);
    json_decref(changes);
    free(ptext);
    if (rc == 0)
        jobs_notify();
    return rc ? -1 : 0;
}

/* ---- activating ---- */

static int set_active(struct db *d, const struct ax_ctx *c, int64_t rid, const char *id,
                      struct ax_err *err)
{
    int64_t before;
    if (active_rid(d, c->tenant, &before, err))
        return -1;
    if (before == rid)
        return 0;
    char before_id[ID_MAX] = MODELS_BUILTIN_ID;
    sqlite3_stmt *st = db_prep(d, "SELECT id FROM models WHERE rid=?", err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, before);
    if (before && sqlite3_step(st) == SQLITE_ROW)
        snprintf(before_id, sizeof before_id, "%s", (const char *)sqlite3_column_text(st, 0));
    db_reset(st);
    st = db_prep(d, rid ? "INSERT INTO model_active(tenant_id, model_rid) VALUES(?1,?2) "
                          "ON CONFLICT(tenant_id) DO UPDATE SET model_rid=excluded.model_rid"
                        : "DELETE FROM model_active WHERE tenant_id=?1", err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, c->tenant);
    if (rid)
        sqlite3_bind_int64(st, 2, rid);
    int rc = sqlite3_step(st);
    db_reset(st);
    if (rc != SQLITE_DONE)
        return db_fail(d, err, "activate model");
    json_t *changes = json_pack("{s:[s,s]}", "active_model", before_id, id);
    rc = audit_append(d, c, "models", id, "activate", changes, err);
    json_decref(changes);
    return rc;
}

int models_activate(struct db *d, const struct ax_ctx *c, const char *id, struct buf *out,
                    struct ax_err *err)
{
    int64_t rid = 0;
    if (strcmp(id, MODELS_BUILTIN_ID) != 0) {
        sqlite3_stmt *st = db_prep(d, "SELECT rid, status, positive, kind FROM models "
                                      "WHERE tenant_id=? AND id=?", err);
        if (!st)
            return -1;
        sqlite3_bind_int64(st, 1, c->tenant);
        sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
        int rc = sqlite3_step(st);
        char status[16] = "";
        bool sentiment = false;
        if (rc == SQLITE_ROW) {
            rid = sqlite3_column_int64(st, 0);
            snprintf(status, sizeof status, "%s", (const char *)sqlite3_column_text(st, 1));
            sentiment = sqlite3_column_type(st, 2) != SQLITE_NULL &&
                        !strcmp((const char *)sqlite3_column_text(st, 3), "sentiment");
        }
        db_reset(st);
        if (rc == SQLITE_DONE)
            return ax_fail(err, AX_ENOTFOUND, "no model with id '%.60s'", id);
        if (rc != SQLITE_ROW)
            return db_fail(d, err, "model");
        if (strcmp(status, "ready") != 0)
            return ax_fail(err, AX_ECONFLICT,
                           "the model is %s; only a trained (ready) model can be activated",
                           status);
        if (!sentiment)
            return ax_fail(err, AX_EINVALID, "only a sentiment model (kind sentiment, with a "
                                             "positive label) can be the tenant's active model");
    }
    return set_active(d, c, rid, id, err) || models_describe(d, c->tenant, id, out, err) ? -1 : 0;
}

/* ---- using ---- */

int models_acquire(struct db *d, int64_t tenant, const char *id, struct models_ref *out,
                   struct ax_err *err)
{
    memset(out, 0, sizeof *out);
    if (!id || strcmp(id, MODELS_BUILTIN_ID) != 0) {
        sqlite3_stmt *st = db_prep(d, id
            ? "SELECT rid, id, version, status, sha256, options FROM models "
              "WHERE tenant_id=?1 AND id=?2"
            : "SELECT m.rid, m.id, m.version, m.status, m.sha256, m.options FROM model_active a "
              "JOIN models m ON m.rid=a.model_rid WHERE a.tenant_id=?1", err);
        if (!st)
            return -1;
        sqlite3_bind_int64(st, 1, tenant);
        if (id)
            sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
        int rc = sqlite3_step(st);
        struct refcache_key k = {tenant, 0, ""};
        char status[16] = "";
        int bits = 20;
        if (rc == SQLITE_ROW) {
            k.b = sqlite3_column_int64(st, 0);
            snprintf(out->id, sizeof out->id, "%s", (const char *)sqlite3_column_text(st, 1));
            out->version = sqlite3_column_int64(st, 2);
            snprintf(status, sizeof status, "%s", (const char *)sqlite3_column_text(st, 3));
            const char *sha = (const char *)sqlite3_column_text(st, 4);
            snprintf(k.tag, sizeof k.tag, "%s", sha ? sha : "");
            json_t *o = json_loads((const char *)sqlite3_column_text(st, 5), 0, NULL);
            bits = (int)json_integer_value(json_object_get(o, "hash_bits"));
            json_decref(o);
        }
        db_reset(st);
        if (rc != SQLITE_ROW && rc != SQLITE_DONE)
            return db_fail(d, err, "model");
        if (rc == SQLITE_DONE && id)
            return ax_fail(err, AX_ENOTFOUND, "no model with id '%.60s'", id);
        if (rc == SQLITE_ROW) {
            if (strcmp(status, "ready") != 0)
                return ax_fail(err, AX_ECONFLICT, "the model is %s; it can predict once "
                                                  "trained", status);
            struct clf_model *m = refcache_get(&cache, &k, &out->entry);
            if (!m) {
                st = db_prep(d, "SELECT blob FROM models WHERE rid=?", err);
                if (!st)
                    return -1;
                sqlite3_bind_int64(st, 1, k.b);
                struct clf_model *fresh = NULL;
                rc = sqlite3_step(st);
                if (rc == SQLITE_ROW)
                    clf_load(sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0),
                             &fresh, err);
                db_reset(st);
                if (!fresh)
                    return err->code ? -1 : db_fail(d, err, "model blob");
                m = refcache_put(&cache, &k, fresh, model_bytes(fresh, bits ? bits : 20),
                                 &out->entry);
                if (!m)
                    return ax_fail(err, AX_EUNAVAIL, "out of memory");
            }
            out->model = m;
            out->sentiment = clf_model_positive(m) >= 0;
            return 0;
        }
    }
    out->model = models_builtin(err);
    snprintf(out->id, sizeof out->id, "%s", MODELS_BUILTIN_ID);
    out->version = 0;
    out->sentiment = true;
    return out->model ? 0 : -1;
}

void models_release(struct models_ref *ref)
{
    if (!ref || !ref->entry)
        return;
    refcache_release(&cache, ref->entry);
    ref->entry = NULL;
    ref->model = NULL;
}

int models_predict(const struct models_ref *m, const char *text, size_t len, struct buf *out,
                   struct ax_err *err)
{
    int n = clf_model_nlabels(m->model), best = 0;
    double probs[CLF_MAX_LABELS];
    if (!text_valid_utf8(text, len) || clf_predict(m->model, text, len, probs, &best))
        return ax_fail(err, AX_EINVALID, "the text is not valid UTF-8");
    json_t *p = json_object();
    for (int i = 0; i < n; i++)
        json_object_set_new(p, clf_model_label(m->model, i), json_real(probs[i]));
    bool scored = m->sentiment && text_has_words(text, len);
    double s = scored ? clf_sentiment(m->model, text, len) : 0;
    return dump(out, json_pack("{s:s,s:I,s:s,s:o,s:o}", "model_id", m->id, "model_version",
                               (json_int_t)m->version, "label", clf_model_label(m->model, best),
                               "probabilities", p, "sentiment",
                               scored ? json_real(s) : json_null()), err);
}

/* ---- the training job ---- */

struct held {
    char *text, *label;
    size_t len;
};

struct training {
    struct db *d;
    const struct job *job;
    const atomic_bool *stop;
    struct ax_ctx ctx;
    char source[240];
    json_t *opts;
    int64_t model_rid;
    char model_id[ID_MAX];
    char kind[16];
    long long rows;                 /* data rows in the file */
    long long trained, skipped;
    struct held *held;
    size_t nheld, heldcap;
    int64_t reported;               /* job.done as written */
    double last_report;
    struct {
        int64_t row;
        char message[200];
    } errs[64];
    int nerrs;
    long long errs_total;
    bool cancelled;
};

struct progress_op {
    struct training *t;
    int64_t done;
    int64_t total;                  /* > 0: set the total first */
};

static int run_progress(struct db *d, void *arg, struct ax_err *err)
{
    struct progress_op *p = arg;
    struct training *t = p->t;
    if (p->total > 0 && jobs_set_total(d, t->job->rid, p->total, err))
        return -1;
    for (int i = 0; i < t->nerrs; i++)
        if (jobs_add_error(d, t->job->rid, t->errs[i].row, NULL, t->errs[i].message, err))
            return -1;
    struct job_counts delta = {p->done - t->reported, 0, 0, 0};
    return jobs_progress(d, t->job->rid, &delta, err);
}

/* Write progress (at most every PROGRESS_EVERY_S unless forced). */
static int report(struct training *t, int64_t done, bool force, struct ax_err *err)
{
    double now = time_mono();
    if (!force && now - t->last_report < PROGRESS_EVERY_S)
        return 0;
    struct progress_op p = {t, done, 0};
    if (writer_exec(t->d, run_progress, &p, err))
        return -1;
    t->reported = done;
    t->nerrs = 0;
    t->last_report = now;
    return 0;
}

static void row_error(struct training *t, int64_t row, const char *fmt, const char *what)
{
    t->skipped++;
    if (t->errs_total++ >= ROW_ERRORS_MAX || t->nerrs == (int)(sizeof t->errs / sizeof t->errs[0]))
        return;
    t->errs[t->nerrs].row = row;
    snprintf(t->errs[t->nerrs].message, sizeof t->errs[0].message, fmt, what);
    t->nerrs++;
}

static int keep_held(struct training *t, const char *text, size_t len, const char *label)
{
    if (t->nheld == t->heldcap) {
        size_t cap = t->heldcap ? t->heldcap * 2 : 1024;
        struct held *h = realloc(t->held, cap * sizeof *h);
        if (!h)
            return -1;
        t->held = h;
        t->heldcap = cap;
    }
    struct held *h = &t->held[t->nheld];
    h->text = malloc(len + 1);
    h->label = strdup(label);
    if (!h->text || !h->label) {
        free(h->text);
        free(h->label);
        return -1;
    }
    memcpy(h->text, text, len + 1);
    h->len = len;
    t->nheld++;
    return 0;
}

static int train_progress(void *arg, double fraction)
{
    struct training *t = arg;
    struct ax_err err;
    ax_err_clear(&err);
    if (atomic_load(t->stop)) {
        t->cancelled = true;
        return 1;
    }
    if (report(t, t->rows + (int64_t)(fraction * (double)t->rows), false, &err))
        log_warn("job %s: progress not written: %s", t->job->id, err.detail);
    return 0;
}

/* Read every row: training rows go to the trainer, held-out ones are kept. */
static int read_rows(struct training *t, struct clf_trainer *tr, struct ax_err *err)
{
    int tc, lc;
    struct csvio_opts co;
    char enc[CSVIO_ENCODING_MAX];
    const char *tcol = json_string_value(json_object_get(t->opts, "text_column"));
    const char *lcol = json_string_value(json_object_get(t->opts, "label_column"));
    struct csvio_reader *rd = open_csv(t->job->file, tcol, lcol, &tc, &lc, &co, enc, err);
    if (!rd)
        return -1;
    long long k = json_integer_value(json_object_get(t->opts, "holdout_every"));
    struct csvio_row row;
    int got, rc = 0;
    while (rc == 0 && (got = csvio_next(rd, &row, err)) == 1) {
        long long i = row.row - 1;
        if (atomic_load(t->stop)) {
            t->cancelled = true;
            rc = -1;
            break;
        }
        if (row.error) {
            row_error(t, row.row, "%s", row.error);
        } else if (tc >= row.nfields || lc >= row.nfields) {
            row_error(t, row.row, "%s", "the row has fewer columns than the header");
        } else {
            const char *text = row.fields[tc], *label = row.fields[lc];
            size_t len = row.lens[tc];
            while (*label == ' ')
                label++;
            char lab[CLF_LABEL_MAX + 1];
            size_t ln = strlen(label);
            while (ln && label[ln - 1] == ' ')
                ln--;
            if (len == 0) {
                row_error(t, row.row, "%s", "the text is empty");
            } else if (ln == 0 || ln > CLF_LABEL_MAX) {
                row_error(t, row.row, "%s", ln ? "the label is longer than 128 bytes"
                                                : "the label is empty");
            } else {
                memcpy(lab, label, ln);
                lab[ln] = '\0';
                if (k && i % k == k - 1)
                    rc = keep_held(t, text, len, lab) ? ax_fail(err, AX_EUNAVAIL,
                                                                "out of memory") : 0;
                else if ((rc = clf_trainer_add(tr, text, len, lab, err)) == 0)
                    t->trained++;
            }
        }
        if (rc == 0)
            rc = report(t, row.row, false, err);
    }
    if (rc == 0 && got < 0)
        rc = -1;
    csvio_close(rd);
    return rc;
}

/* Predict the held-out rows; labels the model never saw are left out and counted. */
static json_t *evaluate(struct training *t, const struct clf_model *m)
{
    struct clf_eval *e = clf_eval_new(m);
    if (!e)
        return NULL;
    long unknown = 0;
    for (size_t i = 0; i < t->nheld; i++) {
        int truth = clf_model_label_index(m, t->held[i].label), best = 0;
        if (truth < 0) {
            unknown++;
            continue;
        }
        if (clf_predict(m, t->held[i].text, t->held[i].len, NULL, &best) == 0)
            clf_eval_record(e, truth, best);
    }
    clf_eval_finish(e);
    json_t *r = clf_eval_json(e);
    clf_eval_free(e);
    if (r) {
        json_object_set_new(r, "holdout_every",
                            json_incref(json_object_get(t->opts, "holdout_every")));
        json_object_set_new(r, "unknown_labels", json_integer(unknown));
    }
    return r;
}

struct finish_op {
    struct training *t;
    const char *error;
    json_t *labels, *report;
    const char *positive;           /* NULL, or points into pos */
    char pos[CLF_LABEL_MAX + 1];
    struct buf *blob;
    char sha256[65];
    long long ms;
};

static int run_finish(struct db *d, void *arg, struct ax_err *err)
{
    struct finish_op *f = arg;
    struct training *t = f->t;
    char now[TIME_TEXT_MAX];
    time_format_ms(time_now_ms(), now);
    char *labels = f->labels ? jx_dumps(f->labels, 0) : NULL;
    char *rep = f->report ? jx_dumps(f->report, 0) : NULL;
    sqlite3_stmt *st = db_prep(d,
        "UPDATE models SET status=?2, error=?3, labels=?4, positive=?5, report=?6, "
        "rows_trained=?7, rows_held_out=?8, rows_skipped=?9, blob=?10, size=?11, sha256=?12, "
        "train_ms=?13, finished_at=?14 WHERE rid=?1", err);
    int rc = st ? 0 : -1;
    if (st) {
        const char *status = f->error ? "failed" : "ready";
        sqlite3_bind_int64(st, 1, t->model_rid);
        sqlite3_bind_text(st, 2, status, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, f->error, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, labels, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 5, f->positive, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 6, rep, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 7, t->trained);
        sqlite3_bind_int64(st, 8, (sqlite3_int64)t->nheld);
        sqlite3_bind_int64(st, 9, t->skipped);
        if (f->blob) {
            sqlite3_bind_blob(st, 10, f->blob->data, (int)f->blob->len, SQLITE_STATIC);
            sqlite3_bind_int64(st, 11, (sqlite3_int64)f->blob->len);
            sqlite3_bind_text(st, 12, f->sha256, -1, SQLITE_STATIC);
        }
        sqlite3_bind_int64(st, 13, f->ms);
        sqlite3_bind_text(st, 14, now, -1, SQLITE_STATIC);
        rc = sqlite3_step(st) == SQLITE_DONE ? 0 : db_fail(d, err, "model update");
        db_reset(st);
        json_t *changes = json_pack("{s:[s,s]}", "status", "training", status);
        if (f->error)
            json_object_set_new(changes, "error", json_pack("[n,s]", f->error));
        rc = rc || audit_append(d, &t->ctx, "models", t->model_id, "update", changes, err);
        json_decref(changes);
    }
    free(labels);
    free(rep);
    if (rc == 0 && !f->error && json_is_true(json_object_get(t->opts, "activate")))
        rc = set_active(d, &t->ctx, t->model_rid, t->model_id, err);
    struct job_counts delta = {2 * t->rows - t->reported, 0, 0, 0};
    if (rc == 0 && !f->error)
        rc = jobs_progress(d, t->job->rid, &delta, err);
    for (int i = 0; rc == 0 && i < t->nerrs; i++)
        rc = jobs_add_error(d, t->job->rid, t->errs[i].row, NULL, t->errs[i].message, err);
    return rc || jobs_finish(d, t->job->rid, f->error, err) ? -1 : 0;
}

/* Train, evaluate and save; fills f (error or the results). */
static void train(struct training *t, struct finish_op *f, char *why, size_t whysz)
{
    struct ax_err err;
    ax_err_clear(&err);
    const char *positive = json_string_value(json_object_get(t->opts, "positive"));
    struct clf_params p = {
        .hash_bits = (int)json_integer_value(json_object_get(t->opts, "hash_bits")),
        .epochs = (int)json_integer_value(json_object_get(t->opts, "epochs")),
        .positive = positive,
    };
    struct clf_trainer *tr = clf_trainer_new(&p);
    struct clf_model *m = NULL;
    if (!tr) {
        snprintf(why, whysz, "out of memory");
        f->error = why;
        return;
    }
    if (read_rows(t, tr, &err) == 0 && report(t, t->rows, true, &err) == 0 &&
        clf_train(tr, train_progress, t, &m, NULL, &err) == 0) {
        bool sentiment = !strcmp(t->kind, "sentiment");
        if (sentiment && (clf_model_nlabels(m) != 2 || clf_model_positive(m) < 0)) {
            ax_fail(&err, AX_EINVALID, "a sentiment model needs exactly two labels, one of "
                                       "them positive (\"1\", \"pos\" or \"positive\", or name "
                                       "it with the option positive); this file has %d labels",
                    clf_model_nlabels(m));
        } else if ((t->nheld && !(f->report = evaluate(t, m))) ||
                   !(f->labels = json_array()) || !(f->blob = malloc(sizeof *f->blob))) {
            ax_fail(&err, AX_EUNAVAIL, "out of memory");
        } else {
            for (int i = 0; i < clf_model_nlabels(m); i++)
                json_array_append_new(f->labels, json_string(clf_model_label(m, i)));
            int pos = clf_model_positive(m);
            if (sentiment && pos >= 0) {
                snprintf(f->pos, sizeof f->pos, "%s", clf_model_label(m, pos));
                f->positive = f->pos;
            }
            buf_init(f->blob, BUF_MAX_DEFAULT);
            if (clf_save(m, f->blob))
                ax_fail(&err, AX_EINVALID, "the model is larger than %zu bytes",
                        (size_t)BUF_MAX_DEFAULT);
            else
                sha256_hex(f->blob->data, f->blob->len, f->sha256);
        }
    }
    if (err.code) {
        snprintf(why, whysz, "%s", t->cancelled ? "training was interrupted" : err.detail);
        f->error = why;
    }
    clf_model_free(m);
    clf_trainer_free(tr);
}

/* The model row behind a job; 0 when it is gone. */
static int load_model(struct training *t, const char *model_id, struct ax_err *err)
{
    sqlite3_stmt *st = db_prep(t->d, "SELECT rid, options, kind FROM models "
                                     "WHERE tenant_id=? AND id=?", err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, t->job->tenant);
    sqlite3_bind_text(st, 2, model_id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        t->model_rid = sqlite3_column_int64(st, 0);
        t->opts = json_loads((const char *)sqlite3_column_text(st, 1), 0, NULL);
        snprintf(t->kind, sizeof t->kind, "%s", (const char *)sqlite3_column_text(st, 2));
        snprintf(t->model_id, sizeof t->model_id, "%s", model_id);
    }
    db_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return db_fail(t->d, err, "model");
    return rc == SQLITE_ROW && t->opts ? 0 : ax_fail(err, AX_EINVALID, "the model is gone");
}

static int run_restart(struct db *d, void *arg, struct ax_err *err)
{
    struct progress_op *p = arg;
    return jobs_restart(d, p->t->job->rid, err) ||
           jobs_set_total(d, p->t->job->rid, p->total, err) ? -1 : 0;
}

struct fail_op {
    int64_t rid;
    const char *error;
};

static int run_fail(struct db *d, void *arg, struct ax_err *err)
{
    struct fail_op *f = arg;
    return jobs_finish(d, f->rid, f->error, err);
}

void models_run_job(struct db *d, const struct job *j, const atomic_bool *stop)
{
    struct training t;
    memset(&t, 0, sizeof t);
    t.d = d;
    t.job = j;
    t.stop = stop;
    struct ax_err err;
    ax_err_clear(&err);
    double t0 = time_mono();
    json_t *params = json_loads(j->params, 0, NULL);
    const char *model_id = json_string_value(json_object_get(params, "model_id"));
    const char *file_name = json_string_value(json_object_get(params, "file_name"));
    t.ctx.tenant = j->tenant;
    t.ctx.role = (int)json_integer_value(json_object_get(params, "role"));
    t.ctx.actor_type = "job";
    snprintf(t.ctx.actor_id, sizeof t.ctx.actor_id, "%s", j->id);
    const char *user = json_string_value(json_object_get(params, "user_id"));
    snprintf(t.ctx.user_id, sizeof t.ctx.user_id, "%s", user ? user : "");
    snprintf(t.source, sizeof t.source, "train:%.200s", file_name ? file_name : "upload.csv");
    t.ctx.source = t.source;
    t.ctx.trigger = "job";
    t.ctx.request_id = j->id;
    if (!model_id || !j->file || load_model(&t, model_id, &err)) {
        struct fail_op f = {j->rid, "the job's model or file is missing"};
        if (writer_exec(d, run_fail, &f, &err))
            log_error("job %s: %s", j->id, err.detail);
        json_decref(params);
        json_decref(t.opts);
        return;
    }
    sqlite3_stmt *st = db_prep(d, "SELECT rows_total FROM models WHERE rid=?", &err);
    if (st) {
        sqlite3_bind_int64(st, 1, t.model_rid);
        t.rows = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
        db_reset(st);
    }
    /* Reading and hashing the rows is the first half of the bar, training the second. */
    struct progress_op start = {&t, 0, 2 * (t.rows > 0 ? t.rows : 1)};
    if (writer_exec(d, run_restart, &start, &err))
        log_warn("job %s: %s", j->id, err.detail);
    struct finish_op f;
    memset(&f, 0, sizeof f);
    f.t = &t;
    char why[400];
    train(&t, &f, why, sizeof why);
    f.ms = (long long)((time_mono() - t0) * 1000);
    if (t.cancelled && atomic_load(stop)) {
        log_info("job %s: stopped; it starts over when the server starts again", j->id);
    } else if (writer_exec(d, run_finish, &f, &err)) {
        log_error("job %s: cannot record the model: %s", j->id, err.detail);
    } else if (f.error) {
        log_warn("job %s: training failed: %s", j->id, f.error);
    } else {
        log_info("job %s: model %s trained in %lld ms (%lld rows, %zu held out)", j->id,
                 t.model_id, f.ms, t.trained, t.nheld);
    }
    if (!(t.cancelled && atomic_load(stop)))
        unlink(j->file);
    for (size_t i = 0; i < t.nheld; i++) {
        free(t.held[i].text);
        free(t.held[i].label);
    }
    free(t.held);
    if (f.blob)
        buf_free(f.blob);
    free(f.blob);
    json_decref(f.labels);
    json_decref(f.report);
    json_decref(t.opts);
    json_decref(params);
}
