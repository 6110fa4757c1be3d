/*
 * import.h - CSV import jobs, import previews, and CSV export of records.
 *
 * Import options (JSON, validated strictly; problems carry JSON pointers):
 *   object          the model object rows become (required)
 *   key             an F_KEY field: a row whose key matches a record updates
 *                   it (merge of the mapped fields only), else creates one
 *   columns         header name -> target, [targets] or null (ignored).
 *                   Omitted: headers equal to field names (case-insensitive,
 *                   spaces as _) map to those fields.
 *   defaults        target -> value for rows that leave it empty
 *   values          header name -> {value in the file -> value stored|null}
 *   create_missing  reference fields whose missing targets are created
 *   encoding, delimiter, date_order ("ymd" | "mdy" | "dmy")
 * A target is a model field ("amount"), a custom field ("attrs.tier") or a
 * reference looked up by a natural key of the target object
 * ("product_id.name"): normalised text (text_key) for the small catalogues
 * (products, units, users, pipelines), exact for the rest. A reference to
 * the imported object itself that cannot be resolved yet puts its row off
 * to a later pass over the file.
 *
 * Every row goes through model_coerce() and store_create/store_update, so
 * it is validated, audited (actor "import_job"), indexed and gets the
 * object rules; bad rows land in job_errors and do not stop good ones.
 * Rows are written in batches through writer_exec(), with the job's
 * progress in the same transaction; a row that fails is undone alone (a
 * batch runs in one savepoint and is written again row by row, each in its
 * own, when a row failed after writing).
 *
 * A plan owns its caches; import_plan_free() frees it. Output buffers
 * belong to the caller.
 */
#ifndef AXON_IMPORT_H
#define AXON_IMPORT_H

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "axon/buf.h"
#include "axon/ctx.h"
#include "axon/db.h"
#include "axon/jobs.h"
#include "axon/model.h"

struct import_plan;

/* Validate options against the model, the registry and the file's header.
 * AX_EINVALID with field pointers (/columns/…), AX_EFORBIDDEN when the
 * role may not write the object. */
struct import_plan *import_plan_new(struct db *d, const struct ax_ctx *c, json_t *options,
                                    const char *path, struct ax_err *err);
void import_plan_free(struct import_plan *p);
const struct object_def *import_plan_object(const struct import_plan *p);

/* The job's params (malloc'd JSON text): the options, the caller's role
 * and user, the file's name, and whether the job owns (deletes) the file. */
char *import_params(const struct ax_ctx *c, json_t *options, const char *file_name,
                    bool owned_file);

/* Give an upload a job-owned path, <var>/imports/<job id>.csv, that
 * outlives the request (the upload's own file is removed with it). */
int import_adopt_upload(const char *upload_path, const char *job_id, char *out, size_t outsz,
                        struct ax_err *err);

struct import_progress {
    int64_t total, done, failed, created, updated;
};
typedef void (*import_progress_fn)(void *arg, const struct import_progress *p);

/* Run a claimed ('running') import job to its end, on `d` for reads and
 * through writer_exec() for writes. Returns 0 when the job ended (the job
 * row says succeeded or failed, and why), 1 when *stop asked it to pause
 * (it stays 'running' and resumes at the next start). `fn` sees the
 * progress after each committed batch. */
int import_run(struct db *d, const struct job *job, const atomic_bool *stop,
               import_progress_fn fn, void *arg);

/* {"encoding","bom","delimiter","header":[…],"rows":[[…]…],"row_errors":[…],
 *  "suggested":{"object","key","columns":{…}}}: the first 20 rows and a
 * mapping guessed from the header names. Options may give object,
 * encoding and delimiter; the rest is detected. */
int import_preview(const char *path, json_t *options, struct buf *out, struct ax_err *err);

/* ---- export ---- */

struct import_export;

/* Columns: id, the fields the role may read, attrs.<name> for each custom
 * field, created_at, updated_at. */
struct import_export *import_export_new(struct db *d, const struct ax_ctx *c,
                                        const struct object_def *def, struct ax_err *err);
void import_export_free(struct import_export *x);
int import_export_header(const struct import_export *x, struct buf *out);  /* BOM + names */
int import_export_row(const struct import_export *x, json_t *doc, struct buf *out);

#endif
