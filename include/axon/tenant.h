/*
 * tenant.h - tenants: creation (with the default pipeline, a first admin
 * user and an API key) and lookup. Out-buffers belong to the caller.
 */
#ifndef AXON_TENANT_H
#define AXON_TENANT_H

#include <stdint.h>

#include "axon/auth.h"
#include "axon/ctx.h"
#include "axon/db.h"

struct tenant_admin {
    char tenant_id[ID_MAX];
    char slug[64];
    char user_id[ID_MAX];
    char email[256];
    char password[64];          /* generated when none was given; shown once */
    char key_token[AUTH_TOKEN_MAX];
    char key_id[ID_MAX];
};

/* Create tenant NAME (slug derived unless given) inside the caller's
 * transaction, with its default pipeline, an admin user (email given or
 * admin@<slug>.example) and an admin API key. */
int tenant_create(struct db *d, const char *name, const char *slug, const char *admin_email,
                  const char *admin_password, struct tenant_admin *out, struct ax_err *err);

/* Find a tenant by slug or public id; fills a system context for it. 1/0/-1. */
int tenant_find(struct db *d, const char *slug_or_id, struct ax_ctx *c, struct ax_err *err);

/* {"id","slug","name","created_at"} of the context's tenant. */
int tenant_describe(struct db *d, int64_t tenant, struct buf *out, struct ax_err *err);

#endif
