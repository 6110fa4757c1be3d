/* idem.c - stored responses for Idempotency-Key retries. */
#include "axon/idem.h"

#include "axon/timefmt.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

void idem_resp_free(struct idem_resp *r)
{
    free(r->location);
    free(r->etag);
    free(r->body);
    memset(r, 0, sizeof *r);
}

bool idem_key_ok(const char *key)
{
    size_t n = strlen(key);
    if (n == 0 || n > 255)
        return false;
    for (size_t i = 0; i < n; i++)
        if (key[i] < 33 || key[i] > 126)
            return false;
    return true;
}

void idem_fingerprint(const char *method, const char *path, const char *body, size_t len,
                      unsigned char fp[IDEM_FP_LEN])
{
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, (const unsigned char *)method, strlen(method) + 1);
    crypto_hash_sha256_update(&st, (const unsigned char *)path, strlen(path) + 1);
    if (body)
        crypto_hash_sha256_update(&st, (const unsigned char *)body, len);
    crypto_hash_sha256_final(&st, fp);
}

static char *dup_col(sqlite3_stmt *st, int i)
{
    const char *s = (const char *)sqlite3_column_text(st, i);
    return s ? strdup(s) : NULL;
}

int idem_lookup(struct db *d, const struct ax_ctx *c, const char *key,
                const unsigned char fp[IDEM_FP_LEN], struct idem_resp *out, struct ax_err *err)
{
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st = db_prep(d,
        "SELECT fingerprint, status, location, etag, body FROM idempotency_keys "
        "WHERE tenant_id=? AND principal=? AND key=? AND created_at>?", err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, c->tenant);
    sqlite3_bind_text(st, 2, c->actor_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, time_now_ms() - IDEM_TTL_MS);
    int rc = 0;
    if (sqlite3_step(st) == SQLITE_ROW) {
        if (sqlite3_column_bytes(st, 0) != IDEM_FP_LEN ||
            sodium_memcmp(sqlite3_column_blob(st, 0), fp, IDEM_FP_LEN) != 0) {
            rc = ax_fail_type(err, AX_EINVALID, "idempotency-key-reused",
                              "this Idempotency-Key was used for a different request");
        } else {
            out->status = sqlite3_column_int(st, 1);
            out->location = dup_col(st, 2);
            out->etag = dup_col(st, 3);
            out->body = dup_col(st, 4);
            rc = 1;
        }
    }
    db_reset(st);
    return rc;
}

int idem_save(struct db *d, const struct ax_ctx *c, const char *key, const char *method,
              const char *path, const unsigned char fp[IDEM_FP_LEN], int status,
              const char *location, const char *etag, const char *body, struct ax_err *err)
{
    int64_t now = time_now_ms();
    /* Expired keys go on the way (a cheap, indexed-by-key table). */
    sqlite3_stmt *gc = db_prep(d,
        "DELETE FROM idempotency_keys WHERE tenant_id=? AND principal=? AND key=? AND created_at<=?",
        err);
    if (!gc)
        return -1;
    sqlite3_bind_int64(gc, 1, c->tenant);
    sqlite3_bind_text(gc, 2, c->actor_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(gc, 3, key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(gc, 4, now - IDEM_TTL_MS);
    sqlite3_step(gc);
    db_reset(gc);
    sqlite3_stmt *st = db_prep(d,
        "INSERT INTO idempotency_keys(tenant_id,principal,key,method,path,fingerprint,status,"
        "location,etag,body,created_at) VALUES(?,?,?,?,?,?,?,?,?,?,?)", err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, c->tenant);
    sqlite3_bind_text(st, 2, c->actor_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, method, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, path, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 6, fp, IDEM_FP_LEN, SQLITE_STATIC);
    sqlite3_bind_int(st, 7, status);
    sqlite3_bind_text(st, 8, location, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 9, etag, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 10, body, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 11, now);
    int rc = sqlite3_step(st);
    db_reset(st);
    return rc == SQLITE_DONE ? 0 : db_fail(d, err, "idempotency");
}
