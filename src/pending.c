/* pending.c - TEMPORARY: handlers not written yet. Each owner deletes its
 * entries here when the real one lands. This file must be gone before a commit. */
#include "axon/api.h"
#include "axon/cli.h"
#include "axon/jobs.h"

#include <stdio.h>

#define PENDING(name) void name(struct req *r) { http_reply_problem(r, AX_EINTERNAL, "not yet"); }
PENDING(api_import_create)
PENDING(api_import_preview)
PENDING(api_jobs_list)
PENDING(api_job_get)
PENDING(api_job_errors)
PENDING(api_export)
PENDING(api_openapi)
PENDING(api_static)

int jobs_start(struct ax_err *err) { (void)err; return 0; }
void jobs_stop(void) {}
void jobs_notify(void) {}
int cli_import(int argc, char **argv) { (void)argc; (void)argv; return 1; }
int cli_export(int argc, char **argv) { (void)argc; (void)argv; return 1; }
int cli_demo(int argc, char **argv) { (void)argc; (void)argv; return 0; }
