/*
 * objects.h - the rules particular to each object type, run by the store
 * inside the write's transaction: defaults that depend on other records
 * (owner, unit, pipeline and stage), stage-change history, ticket
 * resolution times, pipeline and custom-field definitions, the last admin.
 * `rec` is the full record about to be written and may be changed; `old`
 * is the stored record (NULL on create). Neither is stolen.
 */
#ifndef AXON_OBJECTS_H
#define AXON_OBJECTS_H

#include <jansson.h>

#include "axon/ctx.h"
#include "axon/db.h"
#include "axon/model.h"

/* Install the transaction hooks of the pipeline cache (once, at start). */
void obj_init(void);

int obj_prepare(struct db *d, const struct ax_ctx *c, const struct object_def *def,
                json_t *old, json_t *rec, struct ax_err *err);

int obj_after_write(struct db *d, const struct ax_ctx *c, const struct object_def *def,
                    json_t *old, json_t *rec, struct ax_err *err);

int obj_before_delete(struct db *d, const struct ax_ctx *c, const struct object_def *def,
                      json_t *old, struct ax_err *err);

/* Create the tenant's default pipeline (Prospecting, Engaging, Won, Lost). */
int obj_default_pipeline(struct db *d, const struct ax_ctx *c, struct ax_err *err);

/* Validate custom-field values in `attrs` (coerced in place) against the
 * tenant's registry for `object`; unknown names are refused. */
int obj_check_attrs(struct db *d, int64_t tenant, const char *object, json_t *attrs,
                    bool is_create, struct ax_err *err);

/* The declared type of a custom field, for filters; -1 if not declared. */
int obj_attr_type(struct db *d, int64_t tenant, const char *object, const char *name,
                  enum ftype *type, struct ax_err *err);

#endif
