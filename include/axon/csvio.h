/*
 * csvio.h - CSV in and out.
 *
 * Reading streams a file through libcsv in fixed-size chunks, so a file is
 * never held in memory whole: RFC 4180 quoting (newlines inside quotes),
 * CRLF or LF, a UTF-8 BOM or none, a configurable delimiter, caps on field
 * size and field count (hostile files), and a declared source encoding
 * converted to UTF-8 with iconv(3). A UTF-16 or UTF-8 byte-order mark wins
 * over the declared encoding. Records arrive one at a time: the header is
 * row 0, the first data row is row 1. A record with invalid text or over a
 * cap carries an error message instead of failing the file; only I/O
 * errors and a field too large to buffer (an unclosed quote) are fatal.
 *
 * Writing appends RFC 4180 cells to a struct buf: quoted when they hold the
 * delimiter, quotes, line breaks or edge spaces, and with a leading
 * apostrophe when a text cell starts with = + - @ tab or CR, so a
 * spreadsheet does not run it as a formula.
 *
 * A reader owns its file, parser, converter and buffers; csvio_close()
 * frees them. The fields of a delivered record stay valid until the next
 * csvio_next() or csvio_close().
 */
#ifndef AXON_CSVIO_H
#define AXON_CSVIO_H

#include <stdbool.h>
#include <stddef.h>

#include "axon/buf.h"
#include "axon/error.h"

#define CSVIO_MAX_FIELD_DEFAULT ((size_t)1 << 20)   /* bytes per field */
#define CSVIO_MAX_FIELDS_DEFAULT 512                 /* fields per record */
#define CSVIO_ENCODING_MAX 32

struct csvio_opts {
    const char *encoding;   /* NULL or "" = UTF-8 */
    char delimiter;         /* 0 = ',' */
    size_t max_field;       /* 0 = CSVIO_MAX_FIELD_DEFAULT */
    int max_fields;         /* 0 = CSVIO_MAX_FIELDS_DEFAULT */
};

struct csvio_row {
    long long row;          /* 0 = header, 1 = first data row */
    int nfields;
    char **fields;          /* NUL-terminated UTF-8; unusable when error is set */
    const size_t *lens;
    const char *error;      /* why the record cannot be used, or NULL */
    int error_field;        /* 0-based column the error is about, -1 = whole record */
};

struct csvio_reader;

struct csvio_reader *csvio_open(const char *path, const struct csvio_opts *o,
                                struct ax_err *err);
void csvio_close(struct csvio_reader *r);

/* The next record: 1 delivered, 0 end of file, -1 fatal (err filled). */
int csvio_next(struct csvio_reader *r, struct csvio_row *row, struct ax_err *err);

/* Records 1..last are parsed and counted but not delivered (resuming a job). */
void csvio_skip_to(struct csvio_reader *r, long long last);

bool csvio_had_bom(const struct csvio_reader *r);
const char *csvio_encoding(const struct csvio_reader *r);   /* as used, e.g. "UTF-16" */

/* Number of data rows (records after the header) in a file. */
int csvio_count(const char *path, const struct csvio_opts *o, long long *rows,
                struct ax_err *err);

/* Check an encoding name against iconv and give its canonical spelling
 * ("latin-1" -> "ISO-8859-1", "utf8" -> "UTF-8"). */
int csvio_check_encoding(const char *name, char out[CSVIO_ENCODING_MAX], struct ax_err *err);

/* Look at the start of a file: byte-order mark, and the likeliest encoding
 * (UTF-8 when the sample is valid UTF-8, else GB18030 when it decodes to
 * mostly CJK text, else WINDOWS-1252). */
int csvio_sniff(const char *path, char encoding[CSVIO_ENCODING_MAX], bool *bom,
                struct ax_err *err);

/* ---- writing ---- */

void csvio_bom(struct buf *b);
/* A text cell; `col` > 0 puts a comma first. Neutralises formulas. */
int csvio_cell(struct buf *b, int col, const char *s, size_t n);
/* A cell the caller formatted itself (numbers): quoted if needed, never prefixed. */
int csvio_plain_cell(struct buf *b, int col, const char *s, size_t n);
int csvio_end_row(struct buf *b);   /* CRLF, as RFC 4180 says */

#endif
