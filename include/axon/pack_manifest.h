/*
 * pack_manifest.h - a workflow pack's manifest, pack.lua: run in the
 * sandbox (no host API; 1M instructions, 4 MiB, 500 ms) and the table it
 * returns validated and normalised into the JSON that pack_bundle.h
 * describes. Every problem gets a JSON pointer ("/handlers/2/fn",
 * "/settings/limit/default"); problems are collected, up to
 * AX_MAX_FIELD_ERRORS, and err->detail names the first.
 *
 * pack_bundle.c calls this once the files are read; it is public so that
 * a manifest can be checked (or fuzzed) on its own. Errors are AX_EINVALID
 * "invalid-pack". Returned JSON is a new reference the caller owns.
 */
#ifndef AXON_PACK_MANIFEST_H
#define AXON_PACK_MANIFEST_H

#include <jansson.h>

#include "axon/error.h"
#include "axon/pack_bundle.h"

/* Run pack.lua of `b` and normalise what it returns. Handler and schedule
 * functions must name modules that are files of `b`. */
json_t *pack_manifest_parse(const struct pack_bundle *b, struct ax_err *err);

/* Validate and normalise a manifest already converted to JSON (`raw` is
 * borrowed): what pack_manifest_parse does after running the Lua. */
json_t *pack_manifest_normalise(json_t *raw, const struct pack_bundle *b, struct ax_err *err);

#endif
