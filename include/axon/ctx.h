/*
 * ctx.h - who is acting, for whom, and why: the context every store call
 * takes. The tenant comes from the authenticated request (or the CLI's
 * --tenant), never from a request body. Plain storage; strings point into
 * memory the creator keeps alive for the call (the request, the job).
 */
#ifndef AXON_CTX_H
#define AXON_CTX_H

#include <stdint.h>

#include "axon/ids.h"

struct ax_ctx {
    int64_t tenant;               /* tenants.rid */
    char tenant_id[ID_MAX];       /* public tenant id */
    int role;                     /* effective role bits (model.h) */
    const char *actor_type;       /* user, api_key, import_job, cli, system */
    char actor_id[ID_MAX];        /* usr_…, key_…, job_… */
    char user_id[ID_MAX];         /* the human behind it, if any */
    const char *source;           /* source system (X-Source-System, importer) */
    const char *trigger;          /* api, import, cli, system */
    const char *request_id;       /* X-Request-Id or job id */
};

#endif
