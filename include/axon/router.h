/*
 * router.h - the table from (method, path pattern) to handler. Patterns
 * are literal segments and `{name}` captures, matched segment by segment;
 * the first matching route wins, so specific routes precede generic ones.
 * A path that matches with another method answers 405 with Allow.
 * The table is static; captured parameters are owned by the request.
 */
#ifndef AXON_ROUTER_H
#define AXON_ROUTER_H

#include "axon/http.h"

enum route_flags {
    RT_PUBLIC = 1 << 0,     /* no authentication needed */
    RT_UPLOAD = 1 << 1,     /* body is a file upload (multipart or text/csv), streamed to disk */
    RT_STATIC = 1 << 2,     /* browser files: no API headers */
    RT_NO_CSRF = 1 << 3     /* unsafe method allowed without CSRF token (sign-in) */
};

typedef void (*route_fn)(struct req *r);

struct route {
    enum http_method method;
    const char *pattern;
    route_fn handler;
    unsigned flags;
    const char *summary;    /* for the OpenAPI document and logs */
};

/* Match; fills r->params. Returns the route, or NULL with *status set to
 * 404 or 405 (and *allow to the allowed methods for 405). */
const struct route *router_match(struct req *r, int *status, char *allow, size_t allowsz);

const struct route *router_routes(int *n);

#endif
