/* csvio.c - streaming CSV reader (libcsv + iconv) and RFC 4180 writer. */
#include "axon/csvio.h"

#include "axon/text.h"

#include <csv.h>
#include <ctype.h>
#include <errno.h>
#include <iconv.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CHUNK 65536
#define CONV_CAP (CHUNK * 4 + 64)      /* UTF-8 from any source chunk fits */
#define SNIFF_BYTES 65536
#define NO_ICONV ((iconv_t)-1)

/* A record: its fields live in the reader's field table and arena. */
struct rec {
    long long row;
    size_t first;           /* index of its first field in the field table */
    int nfields;            /* fields kept */
    int ncols;              /* fields seen */
    int error_field;
    size_t bytes;
    char error[128];
};

struct csvio_reader {
    FILE *f;
    struct csv_parser p;
    bool parser_ready;
    iconv_t cd;                         /* NO_ICONV: the bytes are UTF-8 already */
    char encoding[CSVIO_ENCODING_MAX];
    bool bom, started, eof, finished, strip_out_bom, oom;
    char delim;
    size_t max_field, max_record;
    int max_fields;
    unsigned char in[CHUNK + 16];
    size_t in_len;
    char *conv;
    /* Field bytes of queued records and of the record being parsed. */
    struct buf arena;
    size_t *off, *len, nf, fcap;
    struct rec cur;
    struct rec *q;
    size_t qn, qcap, qhead;
    char **ptrs;                        /* the delivered record's fields */
    long long skip_to;
};

/* ---- libcsv callbacks ---- */

static bool skipping(const struct csvio_reader *r)
{
    return r->cur.row >= 1 && r->cur.row <= r->skip_to;
}

static void rec_error(struct rec *c, int col, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void rec_error(struct rec *c, int col, const char *fmt, ...)
{
    if (c->error[0])
        return;
    c->error_field = col;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->error, sizeof c->error, fmt, ap);
    va_end(ap);
}

static int grow_fields(struct csvio_reader *r)
{
    size_t ncap = r->fcap ? r->fcap * 2 : 1024;
    size_t *off = realloc(r->off, ncap * sizeof *off);
    if (!off)
        return -1;
    r->off = off;
    size_t *len = realloc(r->len, ncap * sizeof *len);
    if (!len)
        return -1;
    r->len = len;
    r->fcap = ncap;
    return 0;
}

/* Is the field acceptable? Marks the record when not. */
static bool field_ok(struct csvio_reader *r, struct rec *c, int col, const char *data, size_t n)
{
    if (col >= r->max_fields) {
        rec_error(c, -1, "more than %d columns", r->max_fields);
        return false;
    }
    if (n > r->max_field) {
        rec_error(c, col, "column %d is longer than %zu bytes", col + 1, r->max_field);
        return false;
    }
    if (c->bytes + n > r->max_record) {
        rec_error(c, -1, "the row is longer than %zu bytes", r->max_record);
        return false;
    }
    if (n && !text_valid_utf8(data, n)) {
        if (r->cd == NO_ICONV)
            rec_error(c, col, "column %d is not valid UTF-8 (declare the file's encoding)", col + 1);
        else
            rec_error(c, col, "column %d has bytes that are not valid %s", col + 1, r->encoding);
        return false;
    }
    return true;
}

static void on_field(void *data, size_t n, void *arg)
{
    struct csvio_reader *r = arg;
    if (skipping(r))
        return;
    struct rec *c = &r->cur;
    int col = c->ncols++;
    if (c->error[0] || !field_ok(r, c, col, data, n))
        return;
    if (r->nf == r->fcap && grow_fields(r)) {
        r->oom = true;
        return;
    }
    r->off[r->nf] = r->arena.len;
    r->len[r->nf] = n;
    if (buf_add(&r->arena, data ? data : "", n) || buf_addc(&r->arena, '\0')) {
        r->oom = true;
        return;
    }
    r->nf++;
    c->nfields++;
    c->bytes += n;
}

static void on_record(int term, void *arg)
{
    (void)term;
    struct csvio_reader *r = arg;
    if (!skipping(r)) {
        if (r->qn == r->qcap) {
            size_t ncap = r->qcap ? r->qcap * 2 : 256;
            struct rec *q = realloc(r->q, ncap * sizeof *q);
            if (!q) {
                r->oom = true;
                return;
            }
            r->q = q;
            r->qcap = ncap;
        }
        r->q[r->qn++] = r->cur;
    }
    long long next = r->cur.row + 1;
    r->cur.row = next;
    r->cur.first = r->nf;
    r->cur.nfields = r->cur.ncols = 0;
    r->cur.error_field = -1;
    r->cur.bytes = 0;
    r->cur.error[0] = '\0';
}

/* A tab delimiter must not be trimmed as white space. */
static int space_only(unsigned char c) { return c == ' '; }

/* ---- reading ---- */

static int feed(struct csvio_reader *r, const char *s, size_t n, struct ax_err *err)
{
    if (n && csv_parse(&r->p, s, n, on_field, on_record, r) != n)
        return ax_fail(err, AX_EINTERNAL, "row %lld: %s", r->cur.row,
                       csv_strerror(csv_error(&r->p)));
    if (r->oom)
        return ax_fail(err, AX_EINTERNAL, "out of memory reading the CSV file");
    /* libcsv buffers a field until it ends: an unclosed quote would
     * otherwise swallow the rest of the file into memory. */
    if (csv_get_buffer_size(&r->p) > r->max_field + CONV_CAP + 4096)
        return ax_fail(err, AX_EINVALID,
                       "row %lld: a field is longer than %zu bytes (is a quote left open?)",
                       r->cur.row, r->max_field);
    return 0;
}

/* Feed converted text, dropping a byte-order mark the converter passed on. */
static int feed_converted(struct csvio_reader *r, const char *s, size_t n, struct ax_err *err)
{
    if (r->strip_out_bom && n >= 3) {
        if (memcmp(s, "\xEF\xBB\xBF", 3) == 0) {
            s += 3;
            n -= 3;
        }
        r->strip_out_bom = false;
    }
    return feed(r, s, n, err);
}

/* Convert what is in `in` and parse it. Bytes the source encoding does not
 * allow become 0xFF, which no UTF-8 text contains, so the record holding
 * them is reported with its row number instead of failing the file. */
static int convert_and_feed(struct csvio_reader *r, bool at_eof, struct ax_err *err)
{
    char *inp = (char *)r->in;
    size_t inleft = r->in_len;
    while (inleft) {
        char *outp = r->conv;
        size_t outleft = CONV_CAP;
        size_t rc = iconv(r->cd, &inp, &inleft, &outp, &outleft);
        int e = errno;
        if (feed_converted(r, r->conv, CONV_CAP - outleft, err))
            return -1;
        if (rc != (size_t)-1 || e == E2BIG)
            continue;
        if (e == EINVAL && !at_eof)
            break;          /* a sequence cut by the chunk end: wait for more */
        if (feed(r, "\xFF", 1, err))
            return -1;
        inp++;
        inleft--;
    }
    memmove(r->in, inp, inleft);
    r->in_len = inleft;
    return 0;
}

static int set_encoding(struct csvio_reader *r, const char *name, struct ax_err *err)
{
    if (r->cd != NO_ICONV) {
        iconv_close(r->cd);
        r->cd = NO_ICONV;
    }
    snprintf(r->encoding, sizeof r->encoding, "%s", name);
    if (strcasecmp(name, "UTF-8") == 0)
        return 0;
    r->cd = iconv_open("UTF-8", name);
    if (r->cd == NO_ICONV)
        return ax_fail(err, AX_EINVALID, "unknown encoding '%.40s'", name);
    return 0;
}

/* A byte-order mark says what the file is, whatever was declared. */
static int start(struct csvio_reader *r, struct ax_err *err)
{
    const unsigned char *b = r->in;
    size_t n = r->in_len;
    r->started = true;
    if (n >= 3 && b[0] == 0xEF && b[1] == 0xBB && b[2] == 0xBF) {
        r->bom = true;
        memmove(r->in, r->in + 3, n - 3);
        r->in_len -= 3;
        return strcasecmp(r->encoding, "UTF-8") ? set_encoding(r, "UTF-8", err) : 0;
    }
    if (n >= 2 && ((b[0] == 0xFF && b[1] == 0xFE) || (b[0] == 0xFE && b[1] == 0xFF))) {
        r->bom = true;
        r->strip_out_bom = true;
        if (strncasecmp(r->encoding, "UTF-16", 6) != 0)
            return set_encoding(r, "UTF-16", err);
    }
    return 0;
}

static int read_more(struct csvio_reader *r, struct ax_err *err)
{
    if (r->eof) {
        csv_fini(&r->p, on_field, on_record, r);
        r->finished = true;
        return r->oom ? ax_fail(err, AX_EINTERNAL, "out of memory reading the CSV file") : 0;
    }
    size_t n = fread(r->in + r->in_len, 1, sizeof r->in - r->in_len, r->f);
    if (n == 0) {
        if (ferror(r->f))
            return ax_fail(err, AX_EUNAVAIL, "cannot read the file: %s", strerror(errno));
        r->eof = true;
        return r->cd != NO_ICONV && r->in_len ? convert_and_feed(r, true, err) : 0;
    }
    r->in_len += n;
    if (!r->started && start(r, err))
        return -1;
    if (r->cd != NO_ICONV)
        return convert_and_feed(r, false, err);
    int rc = feed(r, (const char *)r->in, r->in_len, err);
    r->in_len = 0;
    return rc;
}

/* Drop delivered records; keep the fields of the record being parsed. */
static void compact(struct csvio_reader *r)
{
    size_t first = r->cur.first, keep = r->nf - first;
    size_t base = keep ? r->off[first] : r->arena.len;
    size_t bytes = r->arena.len - base;
    if (bytes)
        memmove(r->arena.data, r->arena.data + base, bytes);
    r->arena.len = bytes;
    for (size_t i = 0; i < keep; i++) {
        r->off[i] = r->off[first + i] - base;
        r->len[i] = r->len[first + i];
    }
    r->nf = keep;
    r->cur.first = 0;
    r->qn = r->qhead = 0;
}

struct csvio_reader *csvio_open(const char *path, const struct csvio_opts *o,
                                struct ax_err *err)
{
    struct csvio_reader *r = calloc(1, sizeof *r);
    if (!r) {
        ax_fail(err, AX_EINTERNAL, "out of memory");
        return NULL;
    }
    r->cd = NO_ICONV;
    r->cur.error_field = -1;
    r->delim = o && o->delimiter ? o->delimiter : ',';
    r->max_field = o && o->max_field ? o->max_field : CSVIO_MAX_FIELD_DEFAULT;
    r->max_fields = o && o->max_fields > 0 ? o->max_fields : CSVIO_MAX_FIELDS_DEFAULT;
    r->max_record = r->max_field * 4 > 262144 ? r->max_field * 4 : 262144;
    buf_init(&r->arena, r->max_record + r->max_field + 2 * CONV_CAP + 65536);
    char enc[CSVIO_ENCODING_MAX] = "UTF-8";
    if (o && o->encoding && *o->encoding && csvio_check_encoding(o->encoding, enc, err))
        goto fail;
    if (set_encoding(r, enc, err))
        goto fail;
    r->conv = malloc(CONV_CAP);
    r->ptrs = malloc((size_t)r->max_fields * sizeof *r->ptrs);
    if (!r->conv || !r->ptrs || csv_init(&r->p, CSV_APPEND_NULL) != 0) {
        ax_fail(err, AX_EINTERNAL, "out of memory");
        goto fail;
    }
    r->parser_ready = true;
    csv_set_delim(&r->p, (unsigned char)r->delim);
    /* libcsv grows a field's buffer by this much at a time (128 by default). */
    csv_set_blk_size(&r->p, 16384);
    if (r->delim == '\t')
        csv_set_space_func(&r->p, space_only);
    r->f = fopen(path, "rb");
    if (!r->f) {
        ax_fail(err, AX_ENOTFOUND, "cannot open %.200s: %s", path, strerror(errno));
        goto fail;
    }
    return r;
fail:
    csvio_close(r);
    return NULL;
}

void csvio_close(struct csvio_reader *r)
{
    if (!r)
        return;
    if (r->f)
        fclose(r->f);
    if (r->parser_ready)
        csv_free(&r->p);
    if (r->cd != NO_ICONV)
        iconv_close(r->cd);
    buf_free(&r->arena);
    free(r->conv);
    free(r->off);
    free(r->len);
    free(r->q);
    free(r->ptrs);
    free(r);
}

int csvio_next(struct csvio_reader *r, struct csvio_row *row, struct ax_err *err)
{
    while (r->qhead == r->qn) {
        if (r->finished)
            return 0;
        compact(r);
        if (read_more(r, err))
            return -1;
    }
    struct rec *c = &r->q[r->qhead++];
    for (int i = 0; i < c->nfields; i++)
        r->ptrs[i] = r->arena.data + r->off[c->first + (size_t)i];
    row->row = c->row;
    row->nfields = c->nfields;
    row->fields = r->ptrs;
    row->lens = r->len + c->first;
    row->error = c->error[0] ? c->error : NULL;
    row->error_field = c->error_field;
    return 1;
}

void csvio_skip_to(struct csvio_reader *r, long long last) { r->skip_to = last; }

bool csvio_had_bom(const struct csvio_reader *r) { return r->bom; }

const char *csvio_encoding(const struct csvio_reader *r) { return r->encoding; }

int csvio_count(const char *path, const struct csvio_opts *o, long long *rows,
                struct ax_err *err)
{
    struct csvio_reader *r = csvio_open(path, o, err);
    if (!r)
        return -1;
    csvio_skip_to(r, LLONG_MAX);
    struct csvio_row row;
    int rc;
    while ((rc = csvio_next(r, &row, err)) == 1)
        ;
    *rows = r->cur.row > 1 ? r->cur.row - 1 : 0;
    csvio_close(r);
    return rc;
}

/* ---- encodings ---- */

int csvio_check_encoding(const char *name, char out[CSVIO_ENCODING_MAX], struct ax_err *err)
{
    static const struct {
        const char *alias, *name;
    } aliases[] = {
        {"utf8", "UTF-8"}, {"latin1", "ISO-8859-1"}, {"latin-1", "ISO-8859-1"},
        {"cp1252", "WINDOWS-1252"}, {"gbk", "GB18030"}, {"gb2312", "GB18030"},
        {"cp936", "GB18030"}, {"utf16", "UTF-16"},
    };
    size_t n = strlen(name);
    if (n == 0 || n >= CSVIO_ENCODING_MAX)
        return ax_fail(err, AX_EINVALID, "unknown encoding");
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)name[i]) && !strchr("-_.:", name[i]))
            return ax_fail(err, AX_EINVALID, "unknown encoding '%.40s'", name);
    for (size_t i = 0; i < n; i++)
        out[i] = (char)toupper((unsigned char)name[i]);
    out[n] = '\0';
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
        if (strcasecmp(name, aliases[i].alias) == 0)
            snprintf(out, CSVIO_ENCODING_MAX, "%s", aliases[i].name);
    if (strcmp(out, "UTF-8") == 0)
        return 0;
    iconv_t cd = iconv_open("UTF-8", out);
    if (cd == NO_ICONV)
        return ax_fail(err, AX_EINVALID, "unknown encoding '%.40s'", name);
    iconv_close(cd);
    return 0;
}

/* Valid UTF-8, allowing the sample to end inside a character. */
/* Is the sample UTF-8? Entirely valid is; so is text whose multi-byte
 * sequences are overwhelmingly valid with a stray bad byte or two (a file
 * cut inside a character, one mistyped byte): by chance, text in GB18030 or
 * Windows-1252 almost never forms valid UTF-8 sequences, so many valid ones
 * mean UTF-8, and the bad bytes are reported row by row rather than the
 * whole file being misread. */
static bool sample_utf8(const char *s, size_t n, bool cut)
{
    for (size_t drop = 0; drop <= (cut ? 3u : 0u) && drop <= n; drop++)
        if (text_valid_utf8(s, n - drop))
            return true;
    size_t valid_multi = 0, invalid = 0;
    for (size_t i = 0; i < n;) {
        if ((unsigned char)s[i] < 0x80) {
            i++;
            continue;
        }
        int cp = 0, k = text_decode(s + i, n - i, &cp);
        if (k > 1) {
            valid_multi++;
            i += (size_t)k;
        } else {
            invalid++;
            i++;
        }
    }
    return valid_multi >= 16 && invalid * 50 <= valid_multi;
}

/* Does the sample decode as GB18030 into mostly CJK characters? */
static bool sample_gb18030(const char *s, size_t n)
{
    iconv_t cd = iconv_open("UTF-8", "GB18030");
    if (cd == NO_ICONV)
        return false;
    size_t cap = n * 2 + 16, cjk = 0, other = 0;
    char *out = malloc(cap), *inp = (char *)s, *outp = out;
    size_t inleft = n, outleft = cap;
    bool ok = out && (iconv(cd, &inp, &inleft, &outp, &outleft) != (size_t)-1 || errno == EINVAL);
    iconv_close(cd);
    for (size_t i = 0, len = cap - outleft; ok && i < len;) {
        int cp = 0, k = text_decode(out + i, len - i, &cp);
        if (k == 0)
            break;
        if (cp >= 0x80)
            *(text_is_cjk(cp) ? &cjk : &other) += 1;
        i += (size_t)k;
    }
    free(out);
    return ok && cjk > 0 && cjk >= other;
}

static const char *guess_utf16(const unsigned char *b, size_t n)
{
    size_t even = 0, odd = 0;
    for (size_t i = 0; i < n; i++)
        if (b[i] == 0)
            *(i % 2 ? &odd : &even) += 1;
    if ((even + odd) * 10 < n)
        return NULL;
    return odd > even ? "UTF-16LE" : "UTF-16BE";
}

int csvio_sniff(const char *path, char encoding[CSVIO_ENCODING_MAX], bool *bom,
                struct ax_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return ax_fail(err, AX_ENOTFOUND, "cannot open %.200s: %s", path, strerror(errno));
    unsigned char *b = malloc(SNIFF_BYTES);
    size_t n = b ? fread(b, 1, SNIFF_BYTES, f) : 0;
    bool cut = n == SNIFF_BYTES;
    fclose(f);
    if (!b)
        return ax_fail(err, AX_EINTERNAL, "out of memory");
    const char *enc = "UTF-8";
    *bom = false;
    if (n >= 3 && b[0] == 0xEF && b[1] == 0xBB && b[2] == 0xBF) {
        *bom = true;
    } else if (n >= 2 && ((b[0] == 0xFF && b[1] == 0xFE) || (b[0] == 0xFE && b[1] == 0xFF))) {
        *bom = true;
        enc = "UTF-16";
    } else if (!sample_utf8((const char *)b, n, cut)) {
        const char *u16 = guess_utf16(b, n);
        enc = u16 ? u16 : sample_gb18030((const char *)b, n) ? "GB18030" : "WINDOWS-1252";
    }
    snprintf(encoding, CSVIO_ENCODING_MAX, "%s", enc);
    free(b);
    return 0;
}

/* ---- writing ---- */

void csvio_bom(struct buf *b) { buf_add(b, "\xEF\xBB\xBF", 3); }

static bool needs_quotes(const char *s, size_t n)
{
    if (n == 0)
        return false;
    if (s[0] == ' ' || s[0] == '\t' || s[n - 1] == ' ' || s[n - 1] == '\t')
        return true;   /* readers trim unquoted edge spaces */
    for (size_t i = 0; i < n; i++)
        if (s[i] == ',' || s[i] == '"' || s[i] == '\r' || s[i] == '\n')
            return true;
    return false;
}

static int add_cell(struct buf *b, int col, const char *s, size_t n, bool neutralise)
{
    if (col > 0 && buf_addc(b, ','))
        return -1;
    bool apos = neutralise && n > 0 && s[0] && strchr("=+-@\t\r", s[0]);
    bool quote = needs_quotes(s, n);
    if (quote && buf_addc(b, '"'))
        return -1;
    if (apos && buf_addc(b, '\''))
        return -1;
    if (!quote)
        return buf_add(b, s, n);
    for (const char *p = s, *end = s + n; p < end;) {
        const char *q = memchr(p, '"', (size_t)(end - p));
        size_t k = q ? (size_t)(q - p) + 1 : (size_t)(end - p);
        if (buf_add(b, p, k) || (q && buf_addc(b, '"')))
            return -1;
        p += k;
    }
    return buf_addc(b, '"');
}

int csvio_cell(struct buf *b, int col, const char *s, size_t n)
{
    return add_cell(b, col, s, n, true);
}

int csvio_plain_cell(struct buf *b, int col, const char *s, size_t n)
{
    return add_cell(b, col, s, n, false);
}

int csvio_end_row(struct buf *b) { return buf_add(b, "\r\n", 2); }
