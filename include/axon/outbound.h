/*
 * outbound.h - the outbound queue: HTTP calls and e-mails that workflows
 * ask for. Nothing is sent from a request or a handler: a call is a row in
 * `outbound`, written in the caller's transaction, so it exists exactly
 * when the write that asked for it committed. Delivering the queue (with
 * libcurl, the SSRF checks and retries) belongs to the connectors module
 * of a later release; until then rows stay 'queued' and can be listed.
 * All SQL of `outbound` is here. Output buffers belong to the caller.
 */
#ifndef AXON_OUTBOUND_H
#define AXON_OUTBOUND_H

#include <jansson.h>

#include "axon/buf.h"
#include "axon/ctx.h"
#include "axon/db.h"

#define OUTBOUND_MAX_REQUEST (256 << 10)   /* bytes of a call's JSON */

/* Queue a call: kind "http" (method, URL) or "email" (method NULL, the
 * address). `request` (borrowed) holds headers and body, or subject and
 * body. The new id (out_…) goes to id_out. */
int outbound_enqueue(struct db *d, const struct ax_ctx *c, const char *kind,
                     const char *method, const char *target, json_t *request,
                     const char *event_id, char id_out[ID_MAX], struct ax_err *err);

/* The tenant's queue, newest first: {"data":[…],"next":…}; status filters. */
int outbound_list(struct db *d, int64_t tenant, const char *status, int limit,
                  const char *after, struct buf *out, struct ax_err *err);

#endif
