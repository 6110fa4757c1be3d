/*
 * jx.h - strict JSON parsing for untrusted input (jansson underneath):
 * valid UTF-8 only, no NUL characters (\u0000), no lone surrogates, no
 * duplicate keys, nesting at most JX_MAX_DEPTH, integers that fit 64 bits.
 * The caller owns the returned reference.
 */
#ifndef AXON_JX_H
#define AXON_JX_H

#include <jansson.h>
#include <stddef.h>

#include "axon/error.h"

#define JX_MAX_DEPTH 32

/* Parse; NULL with err (AX_EBADREQ, type "malformed-json") on failure. */
json_t *jx_parse(const char *data, size_t len, struct ax_err *err);

#endif
