/*
 * tenant.h - tenants: creation (with the default pipeline, a first admin
 * user and an API key) and lookup. Out-buffers belong to the caller.
 */
#ifndef AXON_TENANT_H
#define AXON_TENANT_H

#include <jansson.h>
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

/* Only the tenant and its default pipeline, no users (scratch tenants of
 * pack tests); `c` gets a system context for it. */
int tenant_create_empty(struct db *d, const char *name, const char *slug, char slug_out[64],
                        struct ax_ctx *c, struct ax_err *err);

/* Find a tenant by slug or public id; fills a system context for it. 1/0/-1. */
int tenant_find(struct db *d, const char *slug_or_id, struct ax_ctx *c, struct ax_err *err);

/* One member of the tenant's settings (tenants.settings), new reference,
 * or NULL when unset (err untouched) or on error. */
json_t *tenant_setting(struct db *d, int64_t tenant, const char *key, struct ax_err *err);

/* Set (or with NULL remove) one member of the tenant's settings, audited. */
int tenant_set_setting(struct db *d, const struct ax_ctx *c, const char *key, json_t *value,
                       struct ax_err *err);

/* {"id","slug","name","created_at"} of the context's tenant. */
int tenant_describe(struct db *d, int64_t tenant, struct buf *out, struct ax_err *err);

#endif
