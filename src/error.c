/* error.c - filling and describing struct ax_err. */
#include "axon/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void ax_err_clear(struct ax_err *e)
{
    if (!e)
        return;
    e->code = AX_OK;
    e->type[0] = '\0';
    e->detail[0] = '\0';
    e->nfields = 0;
    e->retry_after = 0;
}

static void vfail(struct ax_err *e, enum ax_code code, const char *type,
                  const char *fmt, va_list ap)
{
    e->code = code;
    snprintf(e->type, sizeof e->type, "%s", type ? type : "");
    vsnprintf(e->detail, sizeof e->detail, fmt, ap);
}

int ax_fail(struct ax_err *e, enum ax_code code, const char *fmt, ...)
{
    if (e) {
        va_list ap;
        va_start(ap, fmt);
        vfail(e, code, NULL, fmt, ap);
        va_end(ap);
    }
    return -1;
}

int ax_fail_type(struct ax_err *e, enum ax_code code, const char *type,
                 const char *fmt, ...)
{
    if (e) {
        va_list ap;
        va_start(ap, fmt);
        vfail(e, code, type, fmt, ap);
        va_end(ap);
    }
    return -1;
}

void ax_field(struct ax_err *e, const char *pointer, const char *fmt, ...)
{
    if (!e)
        return;
    if (e->code == AX_OK) {
        e->code = AX_EINVALID;
        snprintf(e->detail, sizeof e->detail, "the request has invalid fields");
    }
    if (e->nfields >= AX_MAX_FIELD_ERRORS)
        return;
    struct ax_field_err *f = &e->fields[e->nfields++];
    snprintf(f->pointer, sizeof f->pointer, "%s", pointer);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->detail, sizeof f->detail, fmt, ap);
    va_end(ap);
}

static const struct {
    int status;
    const char *slug;
    const char *title;
} code_info[] = {
    [AX_OK] = {200, "ok", "OK"},
    [AX_EBADREQ] = {400, "bad-request", "Bad request"},
    [AX_EUNAUTH] = {401, "unauthenticated", "Authentication required"},
    [AX_EFORBIDDEN] = {403, "forbidden", "Not allowed"},
    [AX_ENOTFOUND] = {404, "not-found", "Not found"},
    [AX_EMETHOD] = {405, "method-not-allowed", "Method not allowed"},
    [AX_ECONFLICT] = {409, "conflict", "Conflict"},
    [AX_EPRECOND] = {412, "precondition-failed", "The record has changed"},
    [AX_ETOOLARGE] = {413, "payload-too-large", "Request body too large"},
    [AX_EMEDIATYPE] = {415, "unsupported-media-type", "Unsupported media type"},
    [AX_EINVALID] = {422, "validation-error", "Validation failed"},
    [AX_ERATE] = {429, "rate-limited", "Too many requests"},
    [AX_EINTERNAL] = {500, "internal-error", "Internal error"},
    [AX_EUNAVAIL] = {503, "unavailable", "Service unavailable"},
};

int ax_code_status(enum ax_code code) { return code_info[code].status; }
const char *ax_code_slug(enum ax_code code) { return code_info[code].slug; }
const char *ax_code_title(enum ax_code code) { return code_info[code].title; }

const char *ax_err_slug(const struct ax_err *e)
{
    return e->type[0] ? e->type : ax_code_slug(e->code);
}

void ax_err_summary(const struct ax_err *e, char *out, size_t outsz)
{
    if (e->nfields)
        snprintf(out, outsz, "%.200s (%.80s: %.150s)", e->detail, e->fields[0].pointer,
                 e->fields[0].detail);
    else
        snprintf(out, outsz, "%.380s", e->detail);
}
