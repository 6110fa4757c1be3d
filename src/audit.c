/* audit.c - append-only, hash-chained audit rows. */
#include "axon/audit.h"

#include "axon/jx.h"
#include "axon/sha256.h"
#include "axon/timefmt.h"

#include <sodium.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define HASH_LEN crypto_hash_sha256_BYTES

static const char *nz(const char *s) { return s ? s : ""; }

/* The canonical content text: fixed field order, '\n'-separated, changes as
 * sorted compact JSON. Verification rebuilds it from the stored columns. */
static int content_text(struct buf *b, int64_t seq, const char *at, const char *actor_type,
                        const char *actor_id, const char *source, const char *trigger,
                        const char *request_id, const char *object, const char *object_id,
                        const char *action, const char *changes)
{
    const char *parts[] = {at, actor_type, nz(actor_id), nz(source), trigger, nz(request_id),
                           object, object_id, action, changes};
    int rc = buf_addf(b, "%lld", (long long)seq);
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
        rc |= buf_addc(b, '\n') | buf_adds(b, parts[i]);
    return rc ? -1 : 0;
}

static void chain(const unsigned char prev[HASH_LEN], const unsigned char content[HASH_LEN],
                  unsigned char out[HASH_LEN])
{
    unsigned char both[2 * HASH_LEN];
    memcpy(both, prev, HASH_LEN);
    memcpy(both + HASH_LEN, content, HASH_LEN);
    sha256(both, sizeof both, out);
}

/* The chain's head (last seq and hash) of one tenant, remembered for the
 * rest of the transaction: an import writes hundreds of rows per
 * transaction and need not read the head back each time. Forgotten when a
 * transaction begins and when a savepoint rolls back (db_txn_hooks). */
static __thread struct {
    bool valid;
    int64_t tenant, seq;
    unsigned char hash[HASH_LEN];
} head;

static void forget_head(size_t mark)
{
    (void)mark;
    head.valid = false;
}

static const struct db_txn_hooks head_hooks = {.undo = forget_head};

void audit_init(void) { db_add_txn_hooks(&head_hooks); }

static int read_head(struct db *d, int64_t tenant, int64_t *seq,
                     unsigned char prev[HASH_LEN], struct ax_err *err)
{
    if (head.valid && head.tenant == tenant) {
        *seq = head.seq;
        memcpy(prev, head.hash, HASH_LEN);
        return 0;
    }
    sqlite3_stmt *st = db_prep(d,
        "SELECT seq, hash FROM audit WHERE tenant_id=? ORDER BY seq DESC LIMIT 1", err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, tenant);
    int rc = sqlite3_step(st);
    *seq = 0;
    memset(prev, 0, HASH_LEN);
    if (rc == SQLITE_ROW) {
        *seq = sqlite3_column_int64(st, 0);
        if (sqlite3_column_bytes(st, 1) == HASH_LEN)
            memcpy(prev, sqlite3_column_blob(st, 1), HASH_LEN);
    }
    db_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return db_fail(d, err, "audit head");
    return 0;
}

int audit_append(struct db *d, const struct ax_ctx *c, const char *object,
                 const char *object_id, const char *action, json_t *changes,
                 struct ax_err *err)
{
    unsigned char prev[HASH_LEN], content[HASH_LEN], hash[HASH_LEN];
    int64_t seq;
    int rc;
    if (read_head(d, c->tenant, &seq, prev, err))
        return -1;
    seq++;

    char at[TIME_TEXT_MAX];
    time_format_ms(time_now_ms(), at);
    char *ch = jx_dumps(changes, JX_SORT_KEYS);
    if (!ch)
        return ax_fail(err, AX_EINTERNAL, "out of memory");
    struct buf text;
    buf_init(&text, 0);
    if (content_text(&text, seq, at, c->actor_type, c->actor_id, c->source, c->trigger,
                     c->request_id, object, object_id, action, ch)) {
        free(ch);
        buf_free(&text);
        return ax_fail(err, AX_EINTERNAL, "audit record too large");
    }
    sha256(text.data, text.len, content);
    buf_free(&text);
    chain(prev, content, hash);

    sqlite3_stmt *st = db_prep(d,
        "INSERT INTO audit(tenant_id,seq,at,actor_type,actor_id,source,trigger,request_id,"
        "object,object_id,action,changes,content_hash,hash) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        err);
    if (!st) {
        free(ch);
        return -1;
    }
    sqlite3_bind_int64(st, 1, c->tenant);
    sqlite3_bind_int64(st, 2, seq);
    sqlite3_bind_text(st, 3, at, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, c->actor_type, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, c->actor_id[0] ? c->actor_id : NULL, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, c->source, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, c->trigger, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 8, c->request_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 9, object, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 10, object_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 11, action, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 12, ch, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 13, content, HASH_LEN, SQLITE_STATIC);
    sqlite3_bind_blob(st, 14, hash, HASH_LEN, SQLITE_STATIC);
    rc = sqlite3_step(st);
    db_reset(st);
    free(ch);
    if (rc != SQLITE_DONE) {
        head.valid = false;
        return db_fail(d, err, "audit insert");
    }
    head.valid = !sqlite3_get_autocommit(db_handle(d));
    head.tenant = c->tenant;
    head.seq = seq;
    memcpy(head.hash, hash, HASH_LEN);
    return 0;
}

static const char *col(sqlite3_stmt *st, int i)
{
    const char *s = (const char *)sqlite3_column_text(st, i);
    return s;
}

int audit_verify(struct db *d, int64_t tenant, struct buf *out, struct ax_err *err)
{
    sqlite3_stmt *st = db_prep(d,
        "SELECT seq,at,actor_type,actor_id,source,trigger,request_id,object,object_id,"
        "action,changes,content_hash,hash,redacted FROM audit WHERE tenant_id=? ORDER BY seq",
        err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, tenant);
    unsigned char prev[HASH_LEN] = {0};
    int64_t rows = 0, expect_seq = 1;
    const char *broken = NULL;
    int64_t broken_seq = 0;
    struct buf text;
    buf_init(&text, 0);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t seq = sqlite3_column_int64(st, 0);
        rows++;
        if (seq != expect_seq) {
            broken = "missing or reordered row";
            broken_seq = seq;
            break;
        }
        expect_seq++;
        if (sqlite3_column_bytes(st, 11) != HASH_LEN || sqlite3_column_bytes(st, 12) != HASH_LEN) {
            broken = "hash missing";
            broken_seq = seq;
            break;
        }
        const unsigned char *stored_content = sqlite3_column_blob(st, 11);
        const char *changes = nz(col(st, 10));
        if (sqlite3_column_int(st, 13) && strcmp(changes, "{}") && strcmp(changes, "null") &&
            changes[0]) {
            /* A redacted row keeps only its hash; content there was not erased
             * but written after the fact. */
            broken = "redacted row has content";
            broken_seq = seq;
            break;
        }
        if (!sqlite3_column_int(st, 13)) {
            unsigned char content[HASH_LEN];
            buf_reset(&text);
            content_text(&text, seq, nz(col(st, 1)), nz(col(st, 2)), col(st, 3), col(st, 4),
                         nz(col(st, 5)), col(st, 6), nz(col(st, 7)), nz(col(st, 8)),
                         nz(col(st, 9)), nz(col(st, 10)));
            sha256(text.data ? text.data : "", text.len, content);
            if (sodium_memcmp(content, stored_content, HASH_LEN) != 0) {
                broken = "content does not match its hash";
                broken_seq = seq;
                break;
            }
        }
        unsigned char h[HASH_LEN];
        chain(prev, stored_content, h);
        if (sodium_memcmp(h, sqlite3_column_blob(st, 12), HASH_LEN) != 0) {
            broken = "chain hash does not match";
            broken_seq = seq;
            break;
        }
        memcpy(prev, h, HASH_LEN);
    }
    db_reset(st);
    buf_free(&text);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return db_fail(d, err, "audit verify");
    if (broken) {
        buf_addf(out, "{\"ok\":false,\"rows\":%lld,\"first_broken\":{\"seq\":%lld,\"reason\":\"%s\"}}",
                 (long long)rows, (long long)broken_seq, broken);
    } else {
        char hex[HASH_LEN * 2 + 1];
        sodium_bin2hex(hex, sizeof hex, prev, HASH_LEN);
        buf_addf(out, "{\"ok\":true,\"rows\":%lld,\"head\":\"%s\"}", (long long)rows, hex);
    }
    return 0;
}

static int rows_json(struct db *d, sqlite3_stmt *st, int limit, struct buf *out,
                     struct ax_err *err)
{
    int n = 0, rc;
    int64_t last = 0;
    buf_adds(out, "{\"data\":[");
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == limit)
            break;
        last = sqlite3_column_int64(st, 0);
        if (n++)
            buf_addc(out, ',');
        buf_addf(out, "{\"seq\":%lld,\"at\":", (long long)last);
        buf_add_json_str(out, nz(col(st, 1)), strlen(nz(col(st, 1))));
        static const char *names[] = {"actor_type", "actor_id", "source", "trigger",
                                      "request_id", "object", "object_id", "action"};
        for (int i = 0; i < 8; i++) {
            const char *v = col(st, 2 + i);
            buf_addf(out, ",\"%s\":", names[i]);
            if (v)
                buf_add_json_str(out, v, strlen(v));
            else
                buf_adds(out, "null");
        }
        buf_adds(out, ",\"changes\":");
        const char *ch = col(st, 10);
        buf_adds(out, ch && *ch ? ch : "null");
        buf_addf(out, ",\"redacted\":%s}", sqlite3_column_int(st, 11) ? "true" : "false");
    }
    db_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return db_fail(d, err, "audit list");
    if (rc == SQLITE_ROW && n == limit)
        buf_addf(out, "],\"next\":\"%lld\"}", (long long)last);
    else
        buf_adds(out, "],\"next\":null}");
    return 0;
}

#define AUDIT_COLS "seq,at,actor_type,actor_id,source,trigger,request_id,object,object_id,action,changes,redacted"

int audit_history(struct db *d, int64_t tenant, const char *object_id, int limit,
                  int64_t before_seq, struct buf *out, struct ax_err *err)
{
    sqlite3_stmt *st = db_prep(d,
        "SELECT " AUDIT_COLS " FROM audit WHERE tenant_id=? AND object_id=? AND seq<? "
        "ORDER BY seq DESC LIMIT ?", err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, tenant);
    sqlite3_bind_text(st, 2, object_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, before_seq > 0 ? before_seq : INT64_MAX);
    sqlite3_bind_int(st, 4, limit + 1);
    return rows_json(d, st, limit, out, err);
}

int audit_list(struct db *d, int64_t tenant, const char *object, int limit,
               int64_t before_seq, struct buf *out, struct ax_err *err)
{
    sqlite3_stmt *st = db_prep(d,
        "SELECT " AUDIT_COLS " FROM audit WHERE tenant_id=?1 AND seq<?2 "
        "AND (?3 IS NULL OR object=?3) ORDER BY seq DESC LIMIT ?4", err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, tenant);
    sqlite3_bind_int64(st, 2, before_seq > 0 ? before_seq : INT64_MAX);
    sqlite3_bind_text(st, 3, object, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 4, limit + 1);
    return rows_json(d, st, limit, out, err);
}

int audit_knows(struct db *d, int64_t tenant, const char *object, const char *object_id,
                struct ax_err *err)
{
    sqlite3_stmt *st = db_prep(d,
        "SELECT 1 FROM audit WHERE tenant_id=? AND object_id=? AND object=? LIMIT 1", err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, tenant);
    sqlite3_bind_text(st, 2, object_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, object, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    db_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return db_fail(d, err, "audit");
    return rc == SQLITE_ROW;
}
