/*
 * intents.h - each tenant's business-intent dictionaries (intent_dict.h)
 * as a product: versions uploaded as CSV term tables and kept for good,
 * one active version per tenant, and Axon's built-in dictionary (version
 * 0: lua/intents/default_terms.csv, embedded in the binary) for tenants
 * that never uploaded one or went back to it.
 *
 * Compiled dictionaries are immutable, so one copy serves every thread: a
 * process-wide cache keyed by (tenant, version, digest) hands out counted
 * references. A version never changes, so entries are only evicted (least
 * recently used, unreferenced, past INTENTS_CACHE_MAX entries or
 * INTENTS_CACHE_BYTES); the digest in the key means a version number
 * reused after a rolled-back upload can never serve the old content.
 *
 * This module owns the tables intent_dictionaries, intent_terms and
 * intent_active: all their SQL is here. Writes run in the caller's
 * transaction and write their audit rows (object "intent_dictionaries",
 * id = the version number). Output buffers belong to the caller; a
 * reference from intents_acquire() must be given back with
 * intents_release().
 */
#ifndef AXON_INTENTS_H
#define AXON_INTENTS_H

#include <stdbool.h>
#include <stdint.h>

#include "axon/buf.h"
#include "axon/ctx.h"
#include "axon/db.h"
#include "axon/intent_dict.h"

#define INTENTS_CACHE_MAX 32
#define INTENTS_CACHE_BYTES ((size_t)512 << 20)
#define INTENTS_BUILTIN 0          /* the version number of the built-in dictionary */
#define INTENTS_ACTIVE (-1)        /* intents_acquire(): whichever is active */

struct intents_ref {
    const struct intent_dict *dict;
    long long version;             /* 0 = built-in */
    void *entry;                   /* the cache's; NULL for the built-in */
};

/* A compiled dictionary of the tenant: `version` >= 1, INTENTS_BUILTIN or
 * INTENTS_ACTIVE. AX_ENOTFOUND when the tenant has no such version. */
int intents_acquire(struct db *d, int64_t tenant, long long version, struct intents_ref *out,
                    struct ax_err *err);
void intents_release(struct intents_ref *ref);

/* The built-in dictionary (compiled once, never freed); NULL with err when
 * the embedded table cannot be compiled. */
const struct intent_dict *intents_builtin(struct ax_err *err);

/* The tenant's active version (0 = built-in). */
int intents_active_version(struct db *d, int64_t tenant, long long *version, struct ax_err *err);

/* Store an uploaded dictionary as the tenant's next version with its load
 * report, audited ("upload"), and make it active unless `activate` is
 * false (audited "activate"). Appends the version's description. */
int intents_store(struct db *d, const struct ax_ctx *c, const struct intent_dict *dict,
                  const struct intent_report *report, const char *file_name, long long file_size,
                  bool activate, long long *version, struct buf *out, struct ax_err *err);

/* Make a version (0 = built-in) the active one, audited; appends its
 * description. Activating the active version changes nothing. */
int intents_activate(struct db *d, const struct ax_ctx *c, long long version, struct buf *out,
                     struct ax_err *err);

/* {"object":"intent_dictionary","version","active","builtin","digest",
 *  "terms","intents":{name:count},"encoding","bom","rows_accepted",
 *  "rows_rejected","duplicates","errors":[{"row","message"}],"warnings",
 *  "file_name","file_size","created_by","created_at"} */
int intents_describe(struct db *d, int64_t tenant, long long version, struct buf *out,
                     struct ax_err *err);

/* {"data":[description without errors/warnings…] newest first, built-in
 *  last, "active_version":N,"next":null} */
int intents_list(struct db *d, int64_t tenant, struct buf *out, struct ax_err *err);

#endif
