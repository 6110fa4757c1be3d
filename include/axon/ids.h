/*
 * ids.h - opaque public ids: a type prefix, '_', and 20 characters of
 * lowercase base32: the creation time in ms (9 characters, so new rows go
 * to the end of the id indexes) and 55 random bits (libsodium). Ids are
 * not enumerable and carry no tenant. Callers own the char arrays.
 */
#ifndef AXON_IDS_H
#define AXON_IDS_H

#include <stdbool.h>
#include <stddef.h>

#define ID_MAX 40       /* buffer size that fits any id and its NUL */
#define ID_RANDOM_LEN 20
#define ID_TIME_LEN 9   /* of which: creation time, ms (45 bits) */

void id_new(const char *prefix, char out[ID_MAX]);

/* True when `s` looks like an id with this prefix (cheap syntax check). */
bool id_valid(const char *prefix, const char *s);

/* Random URL-safe token of `nbytes` random bytes (base64url, no padding). */
void id_token(char *out, size_t outsz, size_t nbytes);

#endif
