/*
 * buf.h - a growable byte buffer with a hard size cap (after curl's dynbuf).
 *
 * The buffer owns `data`; buf_free() releases it, buf_detach() hands it to
 * the caller (who then frees it with free()). Appends past `max` fail with
 * -1 and leave the buffer as it was, so a hostile input cannot grow memory
 * without bound. `data` is always NUL-terminated when non-NULL.
 */
#ifndef AXON_BUF_H
#define AXON_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
    char *data;
    size_t len;
    size_t cap;
    size_t max;
};

#define BUF_MAX_DEFAULT ((size_t)64 << 20)

void buf_init(struct buf *b, size_t max);
void buf_free(struct buf *b);
void buf_reset(struct buf *b);              /* len = 0, keeps memory */
char *buf_detach(struct buf *b);            /* caller frees; buffer reset */

int buf_add(struct buf *b, const void *p, size_t n);
int buf_adds(struct buf *b, const char *s);
int buf_addc(struct buf *b, char c);
int buf_addf(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int buf_vaddf(struct buf *b, const char *fmt, va_list ap);

/* Append `s` (n bytes of UTF-8) as a quoted JSON string. */
int buf_add_json_str(struct buf *b, const char *s, size_t n);

#endif
