/*
 * error.h - error codes and the error record every module fills in.
 *
 * Functions that can fail return 0 on success and -1 on failure, and fill a
 * caller-provided `struct ax_err`. The record is plain storage (no heap), so
 * nobody frees it. The HTTP layer maps `code` to a status and a stable
 * problem type (RFC 9457); `fields` lists per-field problems as JSON pointers.
 */
#ifndef AXON_ERROR_H
#define AXON_ERROR_H

#include <stddef.h>

enum ax_code {
    AX_OK = 0,
    AX_EBADREQ,      /* 400 malformed request (syntax, bad parameter) */
    AX_EUNAUTH,      /* 401 no or bad credentials */
    AX_EFORBIDDEN,   /* 403 authenticated but not allowed */
    AX_ENOTFOUND,    /* 404 missing, or another tenant's */
    AX_EMETHOD,      /* 405 */
    AX_ECONFLICT,    /* 409 state conflict (duplicate key, in use) */
    AX_EPRECOND,     /* 412 If-Match failed */
    AX_ETOOLARGE,    /* 413 */
    AX_EMEDIATYPE,   /* 415 */
    AX_EINVALID,     /* 422 well-formed but invalid values */
    AX_ERATE,        /* 429 */
    AX_EINTERNAL,    /* 500 a bug or an I/O failure */
    AX_EUNAVAIL      /* 503 overloaded or shutting down */
};

#define AX_MAX_FIELD_ERRORS 16

struct ax_field_err {
    char pointer[96];   /* JSON pointer, e.g. "/email" or "/attrs/tier" */
    char detail[160];
};

struct ax_err {
    enum ax_code code;
    char type[40];      /* problem slug; empty = derived from code */
    char detail[384];
    int nfields;
    struct ax_field_err fields[AX_MAX_FIELD_ERRORS];
    int retry_after;    /* seconds, for 429/503 */
};

void ax_err_clear(struct ax_err *e);

/* Set code and detail (printf style); returns -1 so callers can
 * `return ax_fail(err, AX_EINVALID, "...")`. Accepts a NULL err. */
int ax_fail(struct ax_err *e, enum ax_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Same, with an explicit problem slug (e.g. "unknown-field"). */
int ax_fail_type(struct ax_err *e, enum ax_code code, const char *type,
                 const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Add one field problem (keeps code; sets AX_EINVALID if still OK). */
void ax_field(struct ax_err *e, const char *pointer, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The detail with the first field problem, "the request has invalid
 * fields (/email: not an e-mail address)", for messages that embed it. */
void ax_err_summary(const struct ax_err *e, char *out, size_t outsz);

int ax_code_status(enum ax_code code);
const char *ax_code_slug(enum ax_code code);
const char *ax_code_title(enum ax_code code);
const char *ax_err_slug(const struct ax_err *e);

#endif
