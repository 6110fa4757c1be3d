/*
 * auth.h - who is calling: API keys, browser sessions, passwords.
 *
 * API keys look like "axk_<20 chars>_<43 chars>": the first part is the
 * key's public id (shown in lists), the whole token is stored only as its
 * SHA-256 and shown once at creation. Sessions are random 32-byte tokens in
 * an HttpOnly cookie, also stored hashed, each with a CSRF token that
 * unsafe requests must echo in X-CSRF-Token. Passwords are argon2id
 * (libsodium crypto_pwhash_str). Out-buffers belong to the caller.
 */
#ifndef AXON_AUTH_H
#define AXON_AUTH_H

#include <stdbool.h>
#include <stdint.h>

#include "axon/buf.h"
#include "axon/ctx.h"
#include "axon/db.h"

#define AUTH_TOKEN_MAX 128
#define AUTH_CSRF_MAX 64
#define AUTH_SESSION_COOKIE "axon_session"
#define AUTH_SESSION_TTL_MS (12LL * 3600 * 1000)      /* idle timeout */
#define AUTH_SESSION_MAX_MS (7LL * 24 * 3600 * 1000)  /* absolute lifetime */

int auth_init(void);

/* Passwords: at least 10 characters. */
int auth_password_hash(const char *password, char *out, size_t outsz, struct ax_err *err);
bool auth_password_ok(const char *hash, const char *password);

/* Resolve a bearer token into a context (tenant, role, actor). Cached per
 * thread for a few seconds; revocation bumps a generation that empties the
 * caches. -1 + AX_EUNAUTH when unknown, revoked or expired. */
int auth_api_key(struct db *d, const char *token, struct ax_ctx *c, struct ax_err *err);

/* Create an API key (writer transaction). `scopes` is a space list of
 * read/write/admin. Writes the token (shown once) and the key id. */
int auth_api_key_create(struct db *d, const struct ax_ctx *c, const char *name,
                        const char *scopes, const char *expires_at,
                        char token[AUTH_TOKEN_MAX], char id[ID_MAX], struct ax_err *err);
int auth_api_key_revoke(struct db *d, const struct ax_ctx *c, const char *id, struct ax_err *err);
/* {"data":[{id,name,scopes,created_at,last_used_at,expires_at,revoked_at}…]} */
int auth_api_key_list(struct db *d, const struct ax_ctx *c, struct buf *out, struct ax_err *err);
/* Note use, at most once a minute per key (writer transaction). */
int auth_api_key_touch(struct db *d, const char *id, struct ax_err *err);

/* Resolve a session cookie. Fills c and the session's CSRF token. */
int auth_session(struct db *d, const char *token, struct ax_ctx *c, char csrf[AUTH_CSRF_MAX],
                 struct ax_err *err);

/* Check a sign-in (read connection; slow on purpose: argon2id).
 * On success fills the user's rid and a context. */
int auth_check_login(struct db *d, const char *tenant_slug, const char *email,
                     const char *password, int64_t *user_rid, struct ax_ctx *c,
                     struct ax_err *err);
/* Create a session row (writer transaction); writes the cookie token and CSRF token. */
int auth_session_create(struct db *d, int64_t tenant, int64_t user_rid,
                        char token[AUTH_TOKEN_MAX], char csrf[AUTH_CSRF_MAX], struct ax_err *err);
int auth_session_delete(struct db *d, const char *token, struct ax_err *err);
/* Slide the idle timeout (writer transaction; at most once a minute). */
int auth_session_touch(struct db *d, const char *token, struct ax_err *err);

/* Set a user's password (writer transaction), by user id. */
int auth_set_password(struct db *d, int64_t tenant, const char *user_id, const char *hash,
                      struct ax_err *err);

/* Forget cached API keys (after revocation). */
void auth_bump_generation(void);

#endif
