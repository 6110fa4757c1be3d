/*
 * jobs.h - durable background jobs (CSV imports, model training; exports and outbound
 * calls later). A job is a row in `jobs`; a worker thread in the server
 * picks queued jobs, and jobs left 'running' by a crash are resumed at
 * start. Progress (total, done, failed) is written as the job goes, so
 * GET /api/v1/jobs/{id} and the CLI's progress bar can show it.
 *
 * This module owns the `jobs` and `job_errors` tables: all their SQL is
 * here. Writes run in the caller's transaction (the writer's batch or a CLI
 * transaction). A `struct job` owns its params and file strings; free it
 * with jobs_free(). Output buffers belong to the caller.
 */
#ifndef AXON_JOBS_H
#define AXON_JOBS_H

#include <stdbool.h>
#include <stdint.h>

#include "axon/buf.h"
#include "axon/ctx.h"
#include "axon/db.h"

int jobs_start(struct ax_err *err);   /* start the worker thread */
void jobs_stop(void);                 /* stop after the current batch; the job stays 'running' */
void jobs_notify(void);               /* a job was queued: wake the worker */

struct job {
    int64_t rid;
    int64_t tenant;
    char id[ID_MAX];
    char kind[16];
    char object[32];
    char created_by[ID_MAX];
    char actor_type[16];
    char *params;             /* JSON text the job's kind defines (owned) */
    char *file;               /* input file (owned), or NULL */
    int64_t total, done, failed, created, updated;
    bool resumed;             /* was 'running' when claimed: a crash interrupted it */
};

void jobs_free(struct job *j);

/* Counts added by one batch. */
struct job_counts {
    int64_t done, failed, created, updated;
};

/* Insert a job (id chosen by the caller, job_… from id_new) for the
 * context's tenant and actor, 'queued' or already 'running'. */
int jobs_create(struct db *d, const struct ax_ctx *c, const char *id, const char *kind,
                const char *object, const char *params, const char *file, bool running,
                int64_t *rid, struct ax_err *err);

/* Take the next job for the worker and mark it running: first jobs left
 * 'running' by a crash when `resume` (CLI jobs excepted: their process
 * runs them), then the oldest queued one. 1 claimed, 0 none, -1 error. */
int jobs_claim(struct db *d, bool resume, struct job *out, struct ax_err *err);

/* Load a job of the tenant. 1 found, 0 not, -1 error. */
int jobs_load(struct db *d, int64_t tenant, const char *id, struct job *out,
              struct ax_err *err);

int jobs_set_total(struct db *d, int64_t rid, int64_t total, struct ax_err *err);
int jobs_progress(struct db *d, int64_t rid, const struct job_counts *delta,
                  struct ax_err *err);
/* Start over: counts to zero, errors deleted. */
int jobs_restart(struct db *d, int64_t rid, struct ax_err *err);
int jobs_add_error(struct db *d, int64_t rid, int64_t row, const char *field,
                   const char *message, struct ax_err *err);
/* Mark succeeded (error NULL) or failed. */
int jobs_finish(struct db *d, int64_t rid, const char *error, struct ax_err *err);

/* {"id","object":"job","kind","status","object_type","total","done",
 *  "failed","created","updated","unchanged","percent","error",
 *  "created_at","started_at","finished_at"}; AX_ENOTFOUND for another
 * tenant's job. */
int jobs_describe(struct db *d, int64_t tenant, const char *id, struct buf *out,
                  struct ax_err *err);

/* The tenant's jobs, newest first: {"data":[…],"next":id|null}. */
int jobs_list(struct db *d, int64_t tenant, int limit, const char *after, struct buf *out,
              struct ax_err *err);

/* Visit a job's errors in the order they were found, from the error after
 * cursor `after` (0 = the first); at most `limit` (0 = all). The callback
 * returns non-zero to stop. `last` gets the cursor of the last one visited.
 * AX_ENOTFOUND for another tenant's job. */
typedef int (*jobs_error_fn)(void *arg, int64_t row, const char *field, const char *message);
int jobs_each_error(struct db *d, int64_t tenant, const char *id, int64_t after, int limit,
                    jobs_error_fn fn, void *arg, int64_t *last, struct ax_err *err);

#endif
