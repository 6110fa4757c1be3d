/*
 * idem.h - Idempotency-Key for POST: the first response to a key is kept
 * for 24 hours (per tenant and caller); a retry with the same key and the
 * same request gets the same response again, a retry with a different
 * request is refused (422). Runs inside the write's transaction, so the
 * record and the write commit together. idem_resp owns its strings.
 */
#ifndef AXON_IDEM_H
#define AXON_IDEM_H

#include <stdbool.h>

#include "axon/ctx.h"
#include "axon/db.h"

#define IDEM_FP_LEN 32
#define IDEM_TTL_MS (24LL * 3600 * 1000)

struct idem_resp {
    int status;
    char *location, *etag, *body;
};

void idem_resp_free(struct idem_resp *r);

/* Is the header value usable? (1..255 printable ASCII) */
bool idem_key_ok(const char *key);

void idem_fingerprint(const char *method, const char *path, const char *body, size_t len,
                      unsigned char fp[IDEM_FP_LEN]);

/* 1 = replay `out`, 0 = first time, -1 = error (AX_EINVALID when the key
 * was used for a different request). */
int idem_lookup(struct db *d, const struct ax_ctx *c, const char *key,
                const unsigned char fp[IDEM_FP_LEN], struct idem_resp *out, struct ax_err *err);

int idem_save(struct db *d, const struct ax_ctx *c, const char *key, const char *method,
              const char *path, const unsigned char fp[IDEM_FP_LEN], int status,
              const char *location, const char *etag, const char *body, struct ax_err *err);

#endif
