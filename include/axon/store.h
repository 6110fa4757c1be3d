/*
 * store.h - the one door to object data. Every read and write of a CRM
 * object goes through here with a `struct ax_ctx`, whose tenant is bound
 * into every statement. Writes run inside the caller's transaction (the
 * writer thread's batch, or a CLI transaction) and, in that transaction,
 * write the audit row, update the search index and run the object's rules
 * (objects.h). Another tenant's record is reported exactly like a missing
 * one (AX_ENOTFOUND).
 *
 * A `struct store_result` owns its `doc` text; free with store_result_free().
 */
#ifndef AXON_STORE_H
#define AXON_STORE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "axon/buf.h"
#include "axon/ctx.h"
#include "axon/db.h"
#include "axon/model.h"

struct store_result {
    char id[ID_MAX];
    int64_t rid;
    int64_t version;
    char *doc;            /* JSON text as served */
    bool created;         /* upsert created a record */
    bool changed;         /* update changed something */
};

void store_result_free(struct store_result *r);

/* Install the transaction hooks of the store's caches (once, at start). */
void store_init(void);

int store_get(struct db *d, const struct ax_ctx *c, const struct object_def *def,
              const char *id, struct store_result *out, struct ax_err *err);

/* `input` has passed model_check_input() (or model_coerce per field). */
int store_create(struct db *d, const struct ax_ctx *c, const struct object_def *def,
                 json_t *input, struct store_result *out, struct ax_err *err);

/* Merge-patch: keys present replace, null clears. if_version < 0: no check. */
int store_update(struct db *d, const struct ax_ctx *c, const struct object_def *def,
                 const char *id, json_t *patch, int64_t if_version,
                 struct store_result *out, struct ax_err *err);

int store_delete(struct db *d, const struct ax_ctx *c, const struct object_def *def,
                 const char *id, int64_t if_version, struct ax_err *err);

/* Find a record's id by a natural-key field (F_KEY) of this tenant.
 * With `normalised`, values compare by text_key() ("GTXPro" = "GTX Pro").
 * Returns 1 found, 0 not found, -1 error (two matches are an error). */
int store_find_by(struct db *d, int64_t tenant, const struct object_def *def,
                  const char *field, const char *value, bool normalised,
                  char id_out[ID_MAX], struct ax_err *err);

/* Does a record with this id exist in the tenant? 1/0/-1. */
int store_exists(struct db *d, int64_t tenant, const struct object_def *def,
                 const char *id, struct ax_err *err);

/* ---- lists ---- */

enum filter_op { OP_EQ, OP_NE, OP_LT, OP_LTE, OP_GT, OP_GTE, OP_IN, OP_NULL, OP_CONTAINS };

#define STORE_MAX_FILTERS 16

struct store_filter {
    const struct field_def *field;   /* model field, or NULL for a custom field */
    char attr[72];                   /* custom field name when field == NULL */
    enum ftype attr_type;
    enum filter_op op;
    json_t *value;                   /* owned; array for OP_IN, bool for OP_NULL */
};

struct store_query {
    struct store_filter filters[STORE_MAX_FILTERS];
    int nfilters;
    const struct field_def *sort;    /* NULL = by creation (rid) */
    bool desc;
    int limit;
    char *after;                     /* cursor from a previous page (owned) */
    bool count;                      /* add "total" */
};

void store_query_init(struct store_query *q);
void store_query_release(struct store_query *q);

/* Parse one query parameter into q (filters like `stage=won`,
 * `amount[gte]=100`, `attrs.tier=gold`, plus sort/limit/after/count). Only
 * allow-listed fields the role may read are accepted. */
int store_query_param(struct db *d, const struct ax_ctx *c, const struct object_def *def,
                      struct store_query *q, const char *key, const char *value,
                      struct ax_err *err);

/* Append {"data":[doc…],"next":cursor|null[,"total":n]} to out. */
int store_list(struct db *d, const struct ax_ctx *c, const struct object_def *def,
               const struct store_query *q, struct buf *out, struct ax_err *err);

/* The most common values of a filterable field among the records that
 * match q's filters, as [{"value":…,"count":n}…] appended to out. */
int store_facets(struct db *d, const struct ax_ctx *c, const struct object_def *def,
                 const struct store_query *q, const char *field, int limit, struct buf *out,
                 struct ax_err *err);

/* Visit every matching record in order (exports). The callback gets the
 * record's document; returning non-zero stops the walk. */
typedef int (*store_visit_fn)(void *arg, const char *doc);
int store_each(struct db *d, const struct ax_ctx *c, const struct object_def *def,
               const struct store_query *q, store_visit_fn fn, void *arg,
               struct ax_err *err);

/* Deals, tickets and activities of a customer, newest first:
 * {"data":[{"type":"deal","at":…,"record":{…}}…],"next":…}. */
int store_timeline(struct db *d, const struct ax_ctx *c, const char *customer_id,
                   int limit, const char *after, struct buf *out, struct ax_err *err);

/* Verify at start-up that every model field has a column. */
int store_check_schema(struct db *d, struct ax_err *err);

#endif
