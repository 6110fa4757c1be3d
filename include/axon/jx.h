/*
 * jx.h - strict JSON parsing for untrusted input (jansson underneath):
 * valid UTF-8 only, no NUL characters (\u0000), no lone surrogates, no
 * duplicate keys, nesting at most JX_MAX_DEPTH, integers that fit 64 bits.
 * The caller owns the returned reference.
 */
#ifndef AXON_JX_H
#define AXON_JX_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "axon/buf.h"
#include "axon/error.h"

#define JX_MAX_DEPTH 32

/* Parse; NULL with err (AX_EBADREQ, type "malformed-json") on failure. */
json_t *jx_parse(const char *data, size_t len, struct ax_err *err);

/* Append `v` as compact JSON (jansson's json_dumps costs several times
 * more on the write path). JX_SORT_KEYS orders object keys by byte value;
 * otherwise insertion order. Returns -1 when the buffer cap is hit. */
#define JX_SORT_KEYS 1
int jx_dump(struct buf *b, json_t *v, int flags);

/* The same into a new malloc'd string (caller frees); NULL on failure. */
char *jx_dumps(json_t *v, int flags);

/* A page of a list, {"data": data, "next": "<last>" | null}, appended to
 * out; `next` is the cursor (a row number) of the last row when `more`.
 * Takes `data`. Returns 0, or -1 (AX_EINTERNAL) when out of memory. */
int jx_page(struct buf *out, json_t *data, bool more, long long last, struct ax_err *err);

#endif
