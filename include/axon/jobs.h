/*
 * jobs.h - durable background jobs (CSV imports now; exports and outbound
 * calls later). A job is a row in `jobs`; a worker thread in the server
 * picks queued jobs, and jobs left 'running' by a crash are resumed at
 * start. Progress (total, done, failed) is written as the job goes, so
 * GET /api/v1/jobs/{id} and the CLI's progress bar can show it.
 */
#ifndef AXON_JOBS_H
#define AXON_JOBS_H

#include "axon/buf.h"
#include "axon/ctx.h"
#include "axon/db.h"

int jobs_start(struct ax_err *err);   /* start the worker thread */
void jobs_stop(void);
void jobs_notify(void);               /* a job was queued: wake the worker */

/* {"id","object":"job","kind","status","total","done","failed","percent",…} */
int jobs_describe(struct db *d, int64_t tenant, const char *id, struct buf *out,
                  struct ax_err *err);

#endif
