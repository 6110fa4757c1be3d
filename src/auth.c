/* auth.c - API keys, sessions and passwords. */
#include "axon/auth.h"

#include "axon/buf.h"
#include "axon/model.h"
#include "axon/timefmt.h"

#include <pthread.h>
#include <semaphore.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEY_PREFIX "axk"
#define HASH_LEN crypto_hash_sha256_BYTES
#define KEY_CACHE_SLOTS 64
#define KEY_CACHE_TTL_MS 5000

static atomic_uint generation = 1;
/* argon2id uses 64 MiB per hash: let at most two run at once. */
static sem_t hash_slots;
/* Verified against when the user is unknown, so timing does not tell. */
static char dummy_hash[crypto_pwhash_STRBYTES];

static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;

/* Made on first use: a CLI run should not pay for it. */
static void make_dummy_hash(void)
{
    if (crypto_pwhash_str(dummy_hash, "no such user", 12, crypto_pwhash_OPSLIMIT_INTERACTIVE,
                          crypto_pwhash_MEMLIMIT_INTERACTIVE))
        dummy_hash[0] = '\0';
}

int auth_init(void)
{
    if (sodium_init() < 0 || sem_init(&hash_slots, 0, 2))
        return -1;
    return 0;
}

void auth_bump_generation(void) { atomic_fetch_add(&generation, 1); }

int auth_password_hash(const char *password, char *out, size_t outsz, struct ax_err *err)
{
    size_t n = strlen(password);
    if (n < 10)
        return ax_fail(err, AX_EINVALID, "the password needs at least 10 characters");
    if (n > 256)
        return ax_fail(err, AX_EINVALID, "the password is too long (max 256)");
    if (outsz < crypto_pwhash_STRBYTES)
        return ax_fail(err, AX_EINTERNAL, "hash buffer too small");
    sem_wait(&hash_slots);
    int rc = crypto_pwhash_str(out, password, n, crypto_pwhash_OPSLIMIT_INTERACTIVE,
                               crypto_pwhash_MEMLIMIT_INTERACTIVE);
    sem_post(&hash_slots);
    return rc == 0 ? 0 : ax_fail(err, AX_EUNAVAIL, "out of memory hashing the password");
}

bool auth_password_ok(const char *hash, const char *password)
{
    sem_wait(&hash_slots);
    int rc = crypto_pwhash_str_verify(hash, password, strlen(password));
    sem_post(&hash_slots);
    return rc == 0;
}

static void sha256_text(const char *s, unsigned char out[HASH_LEN])
{
    crypto_hash_sha256(out, (const unsigned char *)s, strlen(s));
}

/* ---- API keys ---- */

/* A per-thread cache of recently seen tokens, so a request does not pay
 * for a SHA-256 and a query. It holds the token itself (memory only) and
 * compares it in constant time. */
struct key_cache_entry {
    char token[AUTH_TOKEN_MAX];
    struct ax_ctx ctx;
    int64_t cached_at;
    unsigned gen;
    bool used;
};
static __thread struct key_cache_entry key_cache[KEY_CACHE_SLOTS];

static int scopes_role(const char *scopes)
{
    if (strstr(scopes, "admin"))
        return ROLE_ADMIN;
    if (strstr(scopes, "write"))
        return ROLE_MANAGER;
    return ROLE_READONLY;
}

int auth_api_key(struct db *d, const char *token, struct ax_ctx *c, struct ax_err *err)
{
    size_t n = strlen(token);
    if (n < 10 || n > 120 || strncmp(token, KEY_PREFIX "_", 4) != 0)
        return ax_fail(err, AX_EUNAUTH, "not an Axon API key");
    unsigned gen = atomic_load(&generation);
    int64_t now = time_now_ms();
    uint64_t slot = 1469598103934665603ULL;
    for (const char *p = token; *p; p++)
        slot = (slot ^ (unsigned char)*p) * 1099511628211ULL;
    struct key_cache_entry *e = &key_cache[slot % KEY_CACHE_SLOTS];
    if (e->used && e->gen == gen && now - e->cached_at < KEY_CACHE_TTL_MS &&
        strlen(e->token) == n && sodium_memcmp(e->token, token, n) == 0) {
        *c = e->ctx;
        return 0;
    }
    unsigned char h[HASH_LEN];
    sha256_text(token, h);
    /* The id is the token up to its second '_'. */
    const char *sep = strchr(token + 4, '_');
    if (!sep || (size_t)(sep - token) >= ID_MAX)
        return ax_fail(err, AX_EUNAUTH, "not an Axon API key");
    char id[ID_MAX];
    snprintf(id, sizeof id, "key_%.*s", (int)(sep - token - 4), token + 4);
    sqlite3_stmt *st = db_prep(d,
        "SELECT k.tenant_id, t.id, k.secret_hash, k.scopes, k.expires_at, k.revoked_at, "
        "k.created_by FROM api_keys k JOIN tenants t ON t.rid=k.tenant_id WHERE k.id=?", err);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    int rc = -1;
    if (sqlite3_step(st) == SQLITE_ROW) {
        const void *stored = sqlite3_column_blob(st, 2);
        const char *expires = (const char *)sqlite3_column_text(st, 4);
        char nowtext[TIME_TEXT_MAX];
        time_format_ms(now, nowtext);
        if (sqlite3_column_bytes(st, 2) == HASH_LEN && sodium_memcmp(stored, h, HASH_LEN) == 0 &&
            sqlite3_column_type(st, 5) == SQLITE_NULL && (!expires || strcmp(expires, nowtext) > 0)) {
            memset(c, 0, sizeof *c);
            c->tenant = sqlite3_column_int64(st, 0);
            snprintf(c->tenant_id, sizeof c->tenant_id, "%s", sqlite3_column_text(st, 1));
            c->role = scopes_role((const char *)sqlite3_column_text(st, 3));
            c->actor_type = "api_key";
            snprintf(c->actor_id, sizeof c->actor_id, "%s", id);
            rc = 0;
        }
    }
    db_reset(st);
    if (rc)
        return ax_fail(err, AX_EUNAUTH, "the API key is unknown, revoked or expired");
    memcpy(e->token, token, n + 1);
    e->ctx = *c;
    e->cached_at = now;
    e->gen = gen;
    e->used = true;
    return 0;
}

static bool scopes_ok(const char *scopes)
{
    char copy[64];
    if (!*scopes || strlen(scopes) >= sizeof copy)
        return false;
    snprintf(copy, sizeof copy, "%s", scopes);
    char *save = NULL;
    for (char *t = strtok_r(copy, " ,", &save); t; t = strtok_r(NULL, " ,", &save))
        if (strcmp(t, "read") && strcmp(t, "write") && strcmp(t, "admin"))
            return false;
    return true;
}

int auth_api_key_create(struct db *d, const struct ax_ctx *c, const char *name,
                        const char *scopes, const char *expires_at,
                        char token[AUTH_TOKEN_MAX], char id[ID_MAX], struct ax_err *err)
{
    if (!name || !*name || strlen(name) > 100)
        return ax_fail(err, AX_EINVALID, "a key needs a name of 1 to 100 bytes");
    if (!scopes_ok(scopes))
        return ax_fail(err, AX_EINVALID, "scopes must be read, write and/or admin");
    char exp[TIME_TEXT_MAX];
    if (expires_at && time_canon_datetime(expires_at, DATE_YMD, exp))
        return ax_fail(err, AX_EINVALID, "expires_at is not a date-time");
    char rnd[ID_MAX], secret[64];
    id_new(KEY_PREFIX, rnd);                 /* "axk_xxxxxxxx…" */
    id_token(secret, sizeof secret, 32);
    snprintf(token, AUTH_TOKEN_MAX, "%s_%s", rnd, secret);
    snprintf(id, ID_MAX, "key_%s", rnd + 4);
    unsigned char h[HASH_LEN];
    sha256_text(token, h);
    char now[TIME_TEXT_MAX];
    time_format_ms(time_now_ms(), now);
    /* Normalise "read write" order and spacing. */
    char norm[32] = "";
    if (strstr(scopes, "read") || strstr(scopes, "write") || strstr(scopes, "admin"))
        strcat(norm, "read");
    if (strstr(scopes, "write") || strstr(scopes, "admin"))
        strcat(norm, " write");
    if (strstr(scopes, "admin"))
        strcat(norm, " admin");
    sqlite3_stmt *st = db_prep(d,
        "INSERT INTO api_keys(tenant_id,id,name,secret_hash,scopes,created_by,created_at,expires_at) "
        "VALUES(?,?,?,?,?,?,?,?)", err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, c->tenant);
    sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, name, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 4, h, HASH_LEN, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, norm, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, c->actor_id[0] ? c->actor_id : NULL, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, now, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 8, expires_at ? exp : NULL, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    db_reset(st);
    return rc == SQLITE_DONE ? 0 : db_fail(d, err, "api key");
}

int auth_api_key_revoke(struct db *d, const struct ax_ctx *c, const char *id, struct ax_err *err)
{
    char now[TIME_TEXT_MAX];
    time_format_ms(time_now_ms(), now);
    sqlite3_stmt *st = db_prep(d,
        "UPDATE api_keys SET revoked_at=coalesce(revoked_at, ?) WHERE tenant_id=? AND id=?", err);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, now, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, c->tenant);
    sqlite3_bind_text(st, 3, id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    db_reset(st);
    if (rc != SQLITE_DONE)
        return db_fail(d, err, "revoke");
    if (sqlite3_changes(db_handle(d)) == 0)
        return ax_fail(err, AX_ENOTFOUND, "no API key with id '%.60s'", id);
    auth_bump_generation();
    return 0;
}

static void json_text_or_null(struct buf *out, const char *s)
{
    if (s)
        buf_add_json_str(out, s, strlen(s));
    else
        buf_adds(out, "null");
}

int auth_api_key_list(struct db *d, const struct ax_ctx *c, struct buf *out, struct ax_err *err)
{
    sqlite3_stmt *st = db_prep(d,
        "SELECT id,name,scopes,created_by,created_at,last_used_at,expires_at,revoked_at "
        "FROM api_keys WHERE tenant_id=? ORDER BY rid DESC", err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, c->tenant);
    static const char *names[] = {"id", "name", "scopes", "created_by", "created_at",
                                  "last_used_at", "expires_at", "revoked_at"};
    buf_adds(out, "{\"data\":[");
    int n = 0, rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        buf_adds(out, n++ ? ",{\"object\":\"api_key\"" : "{\"object\":\"api_key\"");
        for (int i = 0; i < 8; i++) {
            buf_addf(out, ",\"%s\":", names[i]);
            json_text_or_null(out, (const char *)sqlite3_column_text(st, i));
        }
        /* The visible prefix of the token, never the secret. */
        buf_addf(out, ",\"prefix\":\"axk_%s\"}", (const char *)sqlite3_column_text(st, 0) + 4);
    }
    db_reset(st);
    if (rc != SQLITE_DONE)
        return db_fail(d, err, "api keys");
    buf_adds(out, "],\"next\":null}");
    return 0;
}

int auth_api_key_touch(struct db *d, const char *id, struct ax_err *err)
{
    char now[TIME_TEXT_MAX], cutoff[TIME_TEXT_MAX];
    int64_t ms = time_now_ms();
    time_format_ms(ms, now);
    time_format_ms(ms - 60000, cutoff);
    sqlite3_stmt *st = db_prep(d,
        "UPDATE api_keys SET last_used_at=? WHERE id=? AND (last_used_at IS NULL OR last_used_at<?)",
        err);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, now, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, cutoff, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    db_reset(st);
    return rc == SQLITE_DONE ? 0 : db_fail(d, err, "touch key");
}

/* ---- sessions ---- */

static void fill_user_ctx(sqlite3_stmt *st, int col, struct ax_ctx *c)
{
    /* columns from col: tenant rid, tenant id, user id, role */
    memset(c, 0, sizeof *c);
    c->tenant = sqlite3_column_int64(st, col);
    snprintf(c->tenant_id, sizeof c->tenant_id, "%s", sqlite3_column_text(st, col + 1));
    snprintf(c->user_id, sizeof c->user_id, "%s", sqlite3_column_text(st, col + 2));
    snprintf(c->actor_id, sizeof c->actor_id, "%s", c->user_id);
    c->role = role_parse((const char *)sqlite3_column_text(st, col + 3));
    c->actor_type = "user";
}

int auth_session(struct db *d, const char *token, struct ax_ctx *c, char csrf[AUTH_CSRF_MAX],
                 struct ax_err *err)
{
    if (strlen(token) < 20 || strlen(token) > 100)
        return ax_fail(err, AX_EUNAUTH, "invalid session");
    unsigned char h[HASH_LEN];
    sha256_text(token, h);
    sqlite3_stmt *st = db_prep(d,
        "SELECT s.tenant_id, t.id, u.id, u.role, s.csrf_token, s.last_seen_at, s.expires_at, "
        "u.active FROM sessions s JOIN users u ON u.rid=s.user_rid "
        "JOIN tenants t ON t.rid=s.tenant_id WHERE s.token_hash=?", err);
    if (!st)
        return -1;
    sqlite3_bind_blob(st, 1, h, HASH_LEN, SQLITE_STATIC);
    int rc = -1;
    int64_t now = time_now_ms();
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 7) &&
        now - sqlite3_column_int64(st, 5) < AUTH_SESSION_TTL_MS &&
        now < sqlite3_column_int64(st, 6)) {
        fill_user_ctx(st, 0, c);
        snprintf(csrf, AUTH_CSRF_MAX, "%s", sqlite3_column_text(st, 4));
        rc = 0;
    }
    db_reset(st);
    if (rc)
        return ax_fail(err, AX_EUNAUTH, "your session has ended; sign in again");
    return 0;
}

int auth_check_login(struct db *d, const char *tenant_slug, const char *email,
                     const char *password, int64_t *user_rid, struct ax_ctx *c,
                     struct ax_err *err)
{
    sqlite3_stmt *st = db_prep(d,
        "SELECT u.tenant_id, t.id, u.id, u.role, u.password_hash, u.rid, u.active FROM users u "
        "JOIN tenants t ON t.rid=u.tenant_id WHERE (t.slug=?1 OR t.id=?1) AND u.email=?2 COLLATE NOCASE",
        err);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, tenant_slug, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, email, -1, SQLITE_STATIC);
    char hash[crypto_pwhash_STRBYTES] = "";
    bool active = false;
    if (sqlite3_step(st) == SQLITE_ROW) {
        fill_user_ctx(st, 0, c);
        if (sqlite3_column_type(st, 4) == SQLITE_TEXT)
            snprintf(hash, sizeof hash, "%s", sqlite3_column_text(st, 4));
        *user_rid = sqlite3_column_int64(st, 5);
        active = sqlite3_column_int(st, 6) != 0;
    }
    db_reset(st);
    if (!hash[0])
        pthread_once(&dummy_once, make_dummy_hash);
    bool ok = auth_password_ok(hash[0] ? hash : dummy_hash, password);
    if (!ok || !hash[0] || !active)
        return ax_fail_type(err, AX_EUNAUTH, "bad-credentials",
                            "the tenant, e-mail or password is not right");
    return 0;
}

int auth_session_create(struct db *d, int64_t tenant, int64_t user_rid,
                        char token[AUTH_TOKEN_MAX], char csrf[AUTH_CSRF_MAX], struct ax_err *err)
{
    id_token(token, AUTH_TOKEN_MAX, 32);
    id_token(csrf, AUTH_CSRF_MAX, 24);
    unsigned char h[HASH_LEN];
    sha256_text(token, h);
    int64_t now = time_now_ms();
    /* Drop this user's expired sessions while here. */
    sqlite3_stmt *gc = db_prep(d, "DELETE FROM sessions WHERE user_rid=? AND (expires_at<? OR last_seen_at<?)", err);
    if (!gc)
        return -1;
    sqlite3_bind_int64(gc, 1, user_rid);
    sqlite3_bind_int64(gc, 2, now);
    sqlite3_bind_int64(gc, 3, now - AUTH_SESSION_TTL_MS);
    sqlite3_step(gc);
    db_reset(gc);
    sqlite3_stmt *st = db_prep(d,
        "INSERT INTO sessions(tenant_id,user_rid,token_hash,csrf_token,created_at,last_seen_at,expires_at) "
        "VALUES(?,?,?,?,?,?,?)", err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, tenant);
    sqlite3_bind_int64(st, 2, user_rid);
    sqlite3_bind_blob(st, 3, h, HASH_LEN, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, csrf, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, now);
    sqlite3_bind_int64(st, 6, now);
    sqlite3_bind_int64(st, 7, now + AUTH_SESSION_MAX_MS);
    int rc = sqlite3_step(st);
    db_reset(st);
    return rc == SQLITE_DONE ? 0 : db_fail(d, err, "session");
}

int auth_session_delete(struct db *d, const char *token, struct ax_err *err)
{
    unsigned char h[HASH_LEN];
    sha256_text(token, h);
    sqlite3_stmt *st = db_prep(d, "DELETE FROM sessions WHERE token_hash=?", err);
    if (!st)
        return -1;
    sqlite3_bind_blob(st, 1, h, HASH_LEN, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    db_reset(st);
    return rc == SQLITE_DONE ? 0 : db_fail(d, err, "sign out");
}

int auth_session_touch(struct db *d, const char *token, struct ax_err *err)
{
    unsigned char h[HASH_LEN];
    sha256_text(token, h);
    int64_t now = time_now_ms();
    sqlite3_stmt *st = db_prep(d,
        "UPDATE sessions SET last_seen_at=? WHERE token_hash=? AND last_seen_at<?", err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, now);
    sqlite3_bind_blob(st, 2, h, HASH_LEN, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, now - 60000);
    int rc = sqlite3_step(st);
    db_reset(st);
    return rc == SQLITE_DONE ? 0 : db_fail(d, err, "touch session");
}

int auth_set_password(struct db *d, int64_t tenant, const char *user_id, const char *hash,
                      struct ax_err *err)
{
    sqlite3_stmt *st = db_prep(d, "UPDATE users SET password_hash=? WHERE tenant_id=? AND id=?", err);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, hash, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, tenant);
    sqlite3_bind_text(st, 3, user_id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    db_reset(st);
    if (rc != SQLITE_DONE)
        return db_fail(d, err, "password");
    if (sqlite3_changes(db_handle(d)) == 0)
        return ax_fail(err, AX_ENOTFOUND, "no user with id '%.60s'", user_id);
    /* A new password ends the user's sessions. */
    st = db_prep(d, "DELETE FROM sessions WHERE user_rid=(SELECT rid FROM users WHERE tenant_id=? AND id=?)", err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, tenant);
    sqlite3_bind_text(st, 2, user_id, -1, SQLITE_STATIC);
    sqlite3_step(st);
    db_reset(st);
    return 0;
}
