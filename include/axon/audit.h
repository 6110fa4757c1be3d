/*
 * audit.h - the audit trail: one row per mutation, written in the same
 * transaction as the change, hash-chained per tenant:
 *   content_hash = SHA-256(canonical text of the row's content)
 *   hash_n       = SHA-256(hash_{n-1} || content_hash_n)   (hash_0 = 32 zero bytes)
 * A lawful erasure may blank a row's content and keep its content_hash, so
 * the chain still verifies. Output buffers belong to the caller.
 */
#ifndef AXON_AUDIT_H
#define AXON_AUDIT_H

#include <jansson.h>
#include <stdint.h>

#include "axon/buf.h"
#include "axon/ctx.h"
#include "axon/db.h"

/* Install the transaction hooks that keep the chain head cached (once, at start). */
void audit_init(void);

/* `changes` maps field -> [before, after]; the call does not steal it. */
int audit_append(struct db *d, const struct ax_ctx *c, const char *object,
                 const char *object_id, const char *action, json_t *changes,
                 struct ax_err *err);

/* Recompute the tenant's chain. Appends a JSON report to `out`:
 * {"ok":true,"rows":N,"head":"hex"} or
 * {"ok":false,"rows":N,"first_broken":{"seq":S,"reason":"..."}}. */
int audit_verify(struct db *d, int64_t tenant, struct buf *out, struct ax_err *err);

/* A record's changes, newest first, as {"data":[…],"next":…}. */
int audit_history(struct db *d, int64_t tenant, const char *object_id, int limit,
                  int64_t before_seq, struct buf *out, struct ax_err *err);

/* Has the tenant's trail any row about this record (even a deleted one)? 1/0/-1. */
int audit_knows(struct db *d, int64_t tenant, const char *object, const char *object_id,
                struct ax_err *err);

/* The tenant's trail, newest first, optionally for one object type. */
int audit_list(struct db *d, int64_t tenant, const char *object, int limit,
               int64_t before_seq, struct buf *out, struct ax_err *err);

#endif
