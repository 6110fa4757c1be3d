/*
 * models.h - trained text classifiers (classify.h) as versions of a
 * tenant: a labelled CSV (text,label) is uploaded, a background job (kind
 * "train", jobs.h) trains it with progress in the job row, and the model
 * is stored as a version with its held-out report. One sentiment model
 * per tenant is active and scores every tagged text; a tenant with none
 * uses Axon's built-in one (id "default", version 0:
 * data/models/sentiment_zh.clf, embedded in the binary).
 *
 * The held-out split is fixed by position in the file: with
 * holdout_every = k, data row i (0-based, file order, counting rows that
 * were skipped) is held out when i % k == k - 1, so k = 5 keeps the same
 * 20 % out every time, whatever rows are rejected.
 *
 * Loaded models are immutable and shared by every thread through a
 * reference-counted cache (refcache.h) keyed by the model row and its
 * checksum. This module owns the tables models and model_active: all
 * their SQL is here. Writes run in the caller's transaction and write
 * their audit rows (object "models"). Output buffers belong to the
 * caller; a reference from models_acquire() is given back with
 * models_release().
 */
#ifndef AXON_MODELS_H
#define AXON_MODELS_H

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "axon/buf.h"
#include "axon/classify.h"
#include "axon/ctx.h"
#include "axon/db.h"
#include "axon/jobs.h"

#define MODELS_MAX_FILE ((long long)64 << 20)   /* bytes of an uploaded CSV */
#define MODELS_MAX_ROWS 500000
#define MODELS_HOLDOUT_DEFAULT 5
#define MODELS_CACHE_MAX 16
#define MODELS_CACHE_BYTES ((size_t)512 << 20)
#define MODELS_BUILTIN_ID "default"

struct models_ref {
    const struct clf_model *model;
    char id[ID_MAX];               /* "default" for the built-in */
    long long version;             /* 0 for the built-in */
    bool sentiment;                /* has a positive label */
    void *entry;                   /* the cache's; NULL for the built-in */
};

/* Check an upload before a job is queued: the options (unknown members,
 * types, ranges), the size, the header (the text and label columns) and
 * the number of rows. Returns the options completed with their defaults
 * (new reference) and the row count, or NULL with err (422, 413). */
json_t *models_check_upload(const char *path, long long size, json_t *options,
                            const char *file_name, long long *rows, struct ax_err *err);

/* Queue the training: the model (status "training") and its job, audited
 * ("create"). `file` is the job's own copy of the CSV. Appends the
 * model's description. */
int models_create(struct db *d, const struct ax_ctx *c, const char *model_id,
                  const char *job_id, json_t *options, const char *file, const char *file_name,
                  long long rows, struct buf *out, struct ax_err *err);

/* The job worker runs jobs of kind "train" here; `stop` asks it to give
 * up (the job stays running and starts over when the server restarts). */
void models_run_job(struct db *d, const struct job *j, const atomic_bool *stop);

/* {"object":"model","id","version","name","kind","status","active",
 *  "builtin","labels","positive","report","rows":{…},"options",
 *  "size","sha256","train_ms","job_id","error","file_name",
 *  "created_by","created_at","finished_at"}; id "default" = built-in. */
int models_describe(struct db *d, int64_t tenant, const char *id, struct buf *out,
                     struct ax_err *err);

/* {"data":[…] newest first, built-in last,"active_id","next":null} */
int models_list(struct db *d, int64_t tenant, struct buf *out, struct ax_err *err);

/* Make a ready sentiment model (or "default") the tenant's, audited. */
int models_activate(struct db *d, const struct ax_ctx *c, const char *id, struct buf *out,
                    struct ax_err *err);

/* A ready model of the tenant by id ("default" = built-in), or the
 * active sentiment model with id NULL. AX_ENOTFOUND, or AX_ECONFLICT
 * ("model-not-ready") while it trains or after it failed. */
int models_acquire(struct db *d, int64_t tenant, const char *id, struct models_ref *out,
                   struct ax_err *err);
void models_release(struct models_ref *ref);

/* The built-in sentiment model (loaded once, never freed). */
const struct clf_model *models_builtin(struct ax_err *err);

/* {"model_id","model_version","label","probabilities":{label:p},
 *  "sentiment":number|null} for a text. AX_EINVALID on bad UTF-8. */
int models_predict(const struct models_ref *m, const char *text, size_t len, struct buf *out,
                   struct ax_err *err);

#endif
