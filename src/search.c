/*
 * search.c - full-text search: the "axon" FTS5 tokenizer, safe MATCH
 * expressions built from user text, index maintenance, and ranked results
 * with highlight segments and role-masked records.
 *
 * The tokenizer runs on every write of a searchable record (and on every
 * row of a CSV import), so its hot path is allocation-free for ASCII words
 * and for CJK text; only words longer than FOLD_STACK code points fall
 * back to a heap-allocated text_fold().
 */
#include "axon/search.h"

#include "axon/log.h"
#include "axon/text.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#define TOKEN_MAX 64            /* bytes; longer words are cut (both sides alike) */
#define FOLD_STACK 128          /* code points folded without malloc */
#define QUERY_MAX_BYTES 4096    /* user query text looked at */
#define QUERY_MAX_TERMS 32
#define LIMIT_MAX 50

/* Same options as text_fold(): NFKC + case folding. */
#define FOLD_OPTS (UTF8PROC_COMPOSE | UTF8PROC_COMPAT | UTF8PROC_CASEFOLD | UTF8PROC_STABLE)

/* Columns of search_index (schema/0001). */
enum { COL_SCOPE, COL_TITLE, COL_BODY };

/* ---- character classes, shared by the tokenizer and the query builder ---- */

enum cclass { CC_SEP, CC_WORD, CC_CJK };

/* Letters, marks and digits make words; CJK letters make bigram runs;
 * everything else (punctuation, symbols, spaces, controls) separates. */
static enum cclass char_class(int cp)
{
    if (cp < 0x80) {
        int lc = cp | 0x20;
        return (lc >= 'a' && lc <= 'z') || (cp >= '0' && cp <= '9') ? CC_WORD : CC_SEP;
    }
    utf8proc_category_t cat = utf8proc_category(cp);
    if (cat < UTF8PROC_CATEGORY_LU || cat > UTF8PROC_CATEGORY_NO)
        return CC_SEP;
    return text_is_cjk(cp) ? CC_CJK : CC_WORD;
}

/* Decode the code point at s[i]; invalid bytes count as one separator byte
 * so that bad input is skipped instead of stopping (or crashing) the scan. */
static int next_char(const char *s, size_t n, size_t i, int *cp, enum cclass *cls)
{
    unsigned char c = (unsigned char)s[i];
    if (c < 0x80) {
        *cp = c;
        *cls = char_class(c);
        return 1;
    }
    int k = text_decode(s + i, n - i, cp);
    if (k == 0) {
        *cp = -1;
        *cls = CC_SEP;
        return 1;
    }
    *cls = char_class(*cp);
    return k;
}

/* CJK compatibility ideographs (U+F900..., U+2F800...) are canonical
 * singletons of unified ones; map them so both spellings share bigrams. */
static int cjk_norm(int cp)
{
    if ((cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F)) {
        utf8proc_int32_t d[4];
        int bc = 0;
        if (utf8proc_decompose_char(cp, d, 4, UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT, &bc) == 1)
            return d[0];
    }
    return cp;
}

/* Largest length <= n (and <= max) that does not split a UTF-8 sequence. */
static size_t utf8_cut(const char *s, size_t n, size_t max)
{
    if (n <= max)
        return n;
    while (max > 0 && ((unsigned char)s[max] & 0xC0) == 0x80)
        max--;
    return max;
}

/* ---- the "axon" tokenizer ---- */

typedef int (*token_fn)(void *ctx, int tflags, const char *tok, int ntok, int start, int end);

struct tok_state {
    void *ctx;
    token_fn emit;
    const char *text;
    bool query;             /* FTS5_TOKENIZE_QUERY: no trailing unigrams */
    int word_start;         /* -1 when no word is open */
    int word_end;
    bool word_ascii;
    int run_len;            /* CJK characters in the current run */
    int prev_cp;            /* last CJK character of the run and its bytes */
    int prev_start, prev_end;
};

static int emit_capped(struct tok_state *t, const char *tok, size_t n, int start, int end)
{
    n = utf8_cut(tok, n, TOKEN_MAX);
    if (n == 0)
        return SQLITE_OK;
    return t->emit(t->ctx, 0, tok, (int)n, start, end);
}

/* NFKC + case fold a non-ASCII word into a stack buffer; the heap path is
 * for pathological words only. */
static int emit_folded(struct tok_state *t, const char *w, size_t n, int start, int end)
{
    utf8proc_int32_t cps[FOLD_STACK];
    utf8proc_ssize_t r = utf8proc_decompose((const utf8proc_uint8_t *)w, (utf8proc_ssize_t)n,
                                            cps, FOLD_STACK, FOLD_OPTS);
    if (r < 0)
        return SQLITE_OK;   /* cannot happen for decoded input; skip the word */
    if (r < FOLD_STACK) {   /* reencode needs room for the NUL as well */
        r = utf8proc_reencode(cps, r, FOLD_OPTS);
        return r < 0 ? SQLITE_OK : emit_capped(t, (const char *)cps, (size_t)r, start, end);
    }
    char *f = text_fold(w, n);
    if (!f)
        return SQLITE_NOMEM;
    int rc = emit_capped(t, f, strlen(f), start, end);
    free(f);
    return rc;
}

static int word_end(struct tok_state *t)
{
    if (t->word_start < 0)
        return SQLITE_OK;
    const char *w = t->text + t->word_start;
    size_t n = (size_t)(t->word_end - t->word_start);
    int start = t->word_start;
    t->word_start = -1;
    if (!t->word_ascii)
        return emit_folded(t, w, n, start, t->word_end);
    char lo[TOKEN_MAX];
    size_t m = n < TOKEN_MAX ? n : TOKEN_MAX;
    for (size_t i = 0; i < m; i++) {
        char c = w[i];
        lo[i] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
    }
    return t->emit(t->ctx, 0, lo, (int)m, start, t->word_end);
}

/* One CJK character: emit the bigram it closes with its predecessor. */
static int cjk_char(struct tok_state *t, int cp, int start, int end)
{
    cp = cjk_norm(cp);
    int rc = SQLITE_OK;
    if (t->run_len > 0) {
        utf8proc_uint8_t b[8];
        utf8proc_ssize_t n = utf8proc_encode_char(t->prev_cp, b);
        n += utf8proc_encode_char(cp, b + n);
        rc = t->emit(t->ctx, 0, (const char *)b, (int)n, t->prev_start, end);
    }
    t->prev_cp = cp;
    t->prev_start = start;
    t->prev_end = end;
    t->run_len++;
    return rc;
}

/* End of a CJK run: documents also index the last character alone, so a
 * one-character prefix query finds it; queries only need it for a run of 1. */
static int cjk_end(struct tok_state *t)
{
    if (t->run_len == 0)
        return SQLITE_OK;
    bool unigram = t->run_len == 1 || !t->query;
    t->run_len = 0;
    if (!unigram)
        return SQLITE_OK;
    utf8proc_uint8_t b[4];
    utf8proc_ssize_t n = utf8proc_encode_char(t->prev_cp, b);
    return t->emit(t->ctx, 0, (const char *)b, (int)n, t->prev_start, t->prev_end);
}

static int tok_tokenize(Fts5Tokenizer *tk, void *ctx, int flags, const char *text,
                        int ntext, token_fn emit)
{
    (void)tk;
    struct tok_state t = {
        .ctx = ctx, .emit = emit, .text = text,
        .query = (flags & FTS5_TOKENIZE_QUERY) != 0, .word_start = -1,
    };
    size_t n = text && ntext > 0 ? (size_t)ntext : 0;
    int rc = SQLITE_OK;
    for (size_t i = 0; i < n && rc == SQLITE_OK;) {
        int cp;
        enum cclass cls;
        int k = next_char(text, n, i, &cp, &cls);
        if (cls != CC_WORD)
            rc = word_end(&t);
        if (cls != CC_CJK && rc == SQLITE_OK)
            rc = cjk_end(&t);
        if (cls == CC_WORD) {
            if (t.word_start < 0) {
                t.word_start = (int)i;
                t.word_ascii = true;
            }
            if (cp >= 0x80)
                t.word_ascii = false;
            t.word_end = (int)i + k;
        } else if (cls == CC_CJK && rc == SQLITE_OK) {
            rc = cjk_char(&t, cp, (int)i, (int)i + k);
        }
        i += (size_t)k;
    }
    if (rc == SQLITE_OK)
        rc = word_end(&t);
    if (rc == SQLITE_OK)
        rc = cjk_end(&t);
    return rc;
}

/* The tokenizer keeps no state between calls: one static instance will do. */
static int tok_instance;

static int tok_create(void *ud, const char **argv, int argc, Fts5Tokenizer **out)
{
    (void)ud;
    (void)argv;
    (void)argc;
    *out = (Fts5Tokenizer *)&tok_instance;
    return SQLITE_OK;
}

static void tok_delete(Fts5Tokenizer *tk) { (void)tk; }

static fts5_tokenizer tokenizer = {tok_create, tok_delete, tok_tokenize};

/* ---- MATCH expressions ---- */

/* Append one FTS5 string: quotes doubled, so the text is only ever data. */
static int add_quoted(struct buf *b, const char *s, size_t n)
{
    int rc = buf_addc(b, '"');
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = s[i] == '"' ? buf_add(b, "\"\"", 2) : buf_addc(b, s[i]);
    return rc ? rc : buf_addc(b, '"');
}

/* One term: CJK runs of 2+ are a phrase (the query tokenizer turns it into
 * consecutive bigrams); a lone CJK character and Latin words are prefixes,
 * for search-as-you-type. */
static int add_term(struct buf *b, int nterms, const char *s, size_t n, bool prefix)
{
    if (nterms > 0 && buf_adds(b, " AND "))
        return -1;
    if (add_quoted(b, s, n))
        return -1;
    return prefix ? buf_adds(b, " *") : 0;
}

/* Term i is phrase i. `one_char` gets a bit per one-character CJK prefix
 * phrase, for the snippet. The tenant is not part of the expression: it is
 * an UNINDEXED column compared in SQL, so a query reads only the doclists
 * of its own terms (an indexed tenant token matched every row of a big
 * tenant and made search time grow with the tenant's size). */
static char *build_expr(const char *q, uint64_t *one_char)
{
    *one_char = 0;
    if (!q)
        return NULL;
    size_t n = utf8_cut(q, strlen(q), QUERY_MAX_BYTES);
    struct buf b;
    buf_init(&b, 0);
    if (buf_adds(&b, "{title body}:(")) {
        buf_free(&b);
        return NULL;
    }
    int nterms = 0, rc = 0;
    size_t start = 0, nchars = 0;
    enum cclass run = CC_SEP;
    for (size_t i = 0; i <= n && nterms < QUERY_MAX_TERMS && rc == 0;) {
        int cp = 0;
        enum cclass cls = CC_SEP;
        int k = i < n ? next_char(q, n, i, &cp, &cls) : 1;
        if (cls != run && run != CC_SEP) {
            bool prefix = run == CC_WORD || nchars == 1;
            if (run == CC_CJK && nchars == 1)
                *one_char |= (uint64_t)1 << nterms;
            rc = add_term(&b, nterms++, q + start, i - start, prefix);
        }
        if (cls != run) {
            start = i;
            nchars = 0;
        }
        run = cls;
        nchars++;
        i += (size_t)k;
    }
    if (rc || nterms == 0 || buf_addc(&b, ')')) {
        buf_free(&b);
        return NULL;
    }
    return buf_detach(&b);
}

char *search_match_expr(const char *q)
{
    uint64_t one_char;
    return build_expr(q, &one_char);
}

/* ---- snippets ----
 *
 * FTS5's built-in snippet() assumes tokens do not overlap; overlapping CJK
 * bigrams make it repeat text whenever two hits sit at adjacent positions
 * ("哈哈" in "哈哈哈"). axon_snippet(search_index) instead maps the hit
 * token positions to byte ranges, merges ranges that touch, picks the
 * window with the most hits and returns the JSON segment array itself:
 * [{"text":"…","hit":false},{"text":"送餐","hit":true},…].
 */

#define SNIP_CHARS 80       /* window, in code points */
#define SNIP_LEAD 20        /* context kept before the first hit */
#define SNIP_MAX_INST 1024  /* hits considered per record */
#define SNIP_CANDIDATES 64  /* windows tried */

struct span {
    int a, b;               /* token positions, inclusive */
    bool first_char;        /* one-character prefix hit: mark only that character */
};

struct range {
    int start, end;         /* bytes in the column text */
};

struct snip_scan {
    const char *text;
    int ntext;
    const struct span *spans;
    int nspans, next;
    struct range *ranges;
    int nranges;
    int pos, cur_start;
};

static int span_cmp(const void *x, const void *y)
{
    const struct span *p = x, *q = y;
    return (p->a > q->a) - (p->a < q->a);
}

static int snip_token(void *ctx, int tflags, const char *tok, int ntok, int start, int end)
{
    (void)tok;
    (void)ntok;
    struct snip_scan *s = ctx;
    if (tflags & FTS5_TOKEN_COLOCATED)
        return SQLITE_OK;
    int pos = s->pos++;
    if (s->next >= s->nspans)
        return SQLITE_DONE;     /* every hit placed: stop tokenising */
    const struct span *sp = &s->spans[s->next];
    if (pos == sp->a)
        s->cur_start = start;
    if (pos == sp->b) {
        if (sp->first_char) {
            int cp;
            int k = text_decode(s->text + s->cur_start, (size_t)(s->ntext - s->cur_start), &cp);
            end = s->cur_start + (k > 0 ? k : 1);
        }
        struct range *last = s->nranges ? &s->ranges[s->nranges - 1] : NULL;
        if (last && s->cur_start <= last->end) {
            if (end > last->end)
                last->end = end;
        } else {
            s->ranges[s->nranges++] = (struct range){s->cur_start, end};
        }
        s->next++;
    }
    return SQLITE_OK;
}

/* Hit spans of one column (at most `max`), sorted, overlapping ones
 * merged. Bit i of `one_char` says phrase i is a one-character CJK prefix
 * ("送" *). */
static int collect_spans(const Fts5ExtensionApi *api, Fts5Context *fts, int col,
                         uint64_t one_char, struct span *spans, int max)
{
    int ninst = 0, n = 0;
    if (api->xInstCount(fts, &ninst) != SQLITE_OK)
        return 0;
    for (int i = 0; i < ninst && n < max; i++) {
        int ip, ic, io;
        if (api->xInst(fts, i, &ip, &ic, &io) != SQLITE_OK || ic != col)
            continue;
        int b = io + api->xPhraseSize(fts, ip) - 1;
        bool fc = b == io && ip < 64 && ((one_char >> ip) & 1);
        spans[n++] = (struct span){io, b, fc};
    }
    qsort(spans, (size_t)n, sizeof *spans, span_cmp);
    int m = 0;
    for (int i = 0; i < n; i++) {
        if (m && spans[i].a <= spans[m - 1].b) {
            if (spans[i].b > spans[m - 1].b)
                spans[m - 1].b = spans[i].b;
            spans[m - 1].first_char = spans[m - 1].first_char && spans[i].first_char;
        } else {
            spans[m++] = spans[i];
        }
    }
    return m;
}

/* The body when it has a hit, else the title when it has one, else
 * whichever has text. */
static int snippet_column(const Fts5ExtensionApi *api, Fts5Context *fts)
{
    int ninst = 0, title_hit = 0;
    api->xInstCount(fts, &ninst);
    for (int i = 0; i < ninst; i++) {
        int ip, ic, io;
        if (api->xInst(fts, i, &ip, &ic, &io) != SQLITE_OK)
            break;
        if (ic == COL_BODY)
            return COL_BODY;
        title_hit |= ic == COL_TITLE;
    }
    if (title_hit)
        return COL_TITLE;
    const char *t;
    int n = 0;
    api->xColumnText(fts, COL_BODY, &t, &n);
    return n > 0 ? COL_BODY : COL_TITLE;
}

static bool is_cont(unsigned char c) { return (c & 0xC0) == 0x80; }

static int chars_back(const char *s, int pos, int k)
{
    while (pos > 0 && k > 0) {
        pos--;
        while (pos > 0 && is_cont((unsigned char)s[pos]))
            pos--;
        k--;
    }
    return pos;
}

static int chars_fwd(const char *s, int n, int pos, int k)
{
    while (pos < n && k > 0) {
        pos++;
        while (pos < n && is_cont((unsigned char)s[pos]))
            pos++;
        k--;
    }
    return pos;
}

static bool ascii_alnum(char c)
{
    return char_class((unsigned char)c) == CC_WORD && !((unsigned char)c & 0x80);
}

/* Window [*ws, *we) around the cluster of ranges with the most hits;
 * edges are moved off the middle of ASCII words. */
static void snippet_window(const char *s, int n, const struct range *r, int nr,
                           int *ws, int *we)
{
    int best = -1, best_count = 0;
    *ws = 0;
    *we = chars_fwd(s, n, 0, SNIP_CHARS);
    for (int i = 0; i < nr && i < SNIP_CANDIDATES; i++) {
        int a = chars_back(s, r[i].start, SNIP_LEAD);
        int b = chars_fwd(s, n, a, SNIP_CHARS);
        if (b < r[i].end)
            b = r[i].end;
        int count = 0;
        while (i + count < nr && r[i + count].end <= b)
            count++;
        if (count > best_count) {
            best = i;
            best_count = count;
            *ws = a;
            *we = b;
        }
    }
    int first = best >= 0 ? r[best].start : *we;
    int last = best >= 0 ? r[best + best_count - 1].end : 0;
    if (*ws > 0 && ascii_alnum(s[*ws - 1]))
        while (*ws < first && ascii_alnum(s[*ws]))
            (*ws)++;
    while (*ws < first && (s[*ws] == ' ' || s[*ws] == '\n' || s[*ws] == '\t'))
        (*ws)++;
    int cut = *we;
    if (cut < n && ascii_alnum(s[cut]))
        while (cut > last && cut > *ws && ascii_alnum(s[cut - 1]))
            cut--;
    if (cut > *ws)              /* one long word: better cut than empty */
        *we = cut;
}

struct segs {
    struct buf *out;
    struct buf tmp;
    int n, rc;
};

/* Copy text, replacing bytes that are not UTF-8 with U+FFFD, so a segment
 * is always a valid JSON string even if bad bytes reached the index. */
static int add_clean(struct buf *b, const char *s, int n)
{
    int rc = 0;
    for (int i = 0; i < n && rc == 0;) {
        int cp, k = (unsigned char)s[i] < 0x80 ? 1 : text_decode(s + i, (size_t)(n - i), &cp);
        rc = k ? buf_add(b, s + i, (size_t)k) : buf_adds(b, "\xEF\xBF\xBD");
        i += k ? k : 1;
    }
    return rc;
}

static void seg_add(struct segs *g, const char *pre, const char *t, int n, const char *post,
                    bool hit)
{
    if (g->rc || (n <= 0 && !*pre && !*post))
        return;
    buf_reset(&g->tmp);
    if (buf_adds(&g->tmp, pre) || add_clean(&g->tmp, t, n) ||
        buf_adds(&g->tmp, post) || (g->n++ && buf_addc(g->out, ',')) ||
        buf_adds(g->out, "{\"text\":") ||
        buf_add_json_str(g->out, g->tmp.data, g->tmp.len) ||
        buf_adds(g->out, hit ? ",\"hit\":true}" : ",\"hit\":false}"))
        g->rc = -1;
}

static int snippet_json(const char *s, int n, const struct range *r, int nr, struct buf *out)
{
    int ws, we;
    snippet_window(s, n, r, nr, &ws, &we);
    struct segs g = {.out = out};
    buf_init(&g.tmp, 0);
    buf_addc(out, '[');
    const char *ell = ws > 0 ? "…" : "";
    int p = ws;
    for (int i = 0; i < nr && !g.rc; i++) {
        int a = r[i].start > ws ? r[i].start : ws;
        int b = r[i].end < we ? r[i].end : we;
        if (a >= b)
            continue;
        seg_add(&g, ell, s + p, a - p, "", false);
        seg_add(&g, "", s + a, b - a, "", true);
        ell = "";
        p = b;
    }
    seg_add(&g, ell, s + p, we - p, we < n ? "…" : "", false);
    buf_free(&g.tmp);
    return g.rc || buf_addc(out, ']') ? -1 : 0;
}

static void snippet_fn(const Fts5ExtensionApi *api, Fts5Context *fts, sqlite3_context *ctx,
                       int nval, sqlite3_value **vals)
{
    uint64_t one_char = nval > 0 ? (uint64_t)sqlite3_value_int64(vals[0]) : 0;
    int col = snippet_column(api, fts);
    const char *text = NULL;
    int ntext = 0;
    if (api->xColumnText(fts, col, &text, &ntext) != SQLITE_OK || !text)
        ntext = 0;
    int ninst = 0;
    api->xInstCount(fts, &ninst);
    size_t max = ninst < 1 ? 1 : ninst > SNIP_MAX_INST ? SNIP_MAX_INST : (size_t)ninst;
    struct span *spans = malloc(max * sizeof *spans);
    struct range *ranges = malloc(max * sizeof *ranges);
    struct buf out;
    buf_init(&out, 0);
    int rc = spans && ranges ? SQLITE_OK : SQLITE_NOMEM;
    struct snip_scan scan = {.text = text, .ntext = ntext, .spans = spans, .ranges = ranges};
    if (rc == SQLITE_OK && ntext > 0) {
        scan.nspans = collect_spans(api, fts, col, one_char, spans, (int)max);
        if (scan.nspans)
            rc = api->xTokenize(fts, text, ntext, &scan, snip_token);
        if (rc == SQLITE_DONE)
            rc = SQLITE_OK;
    }
    if (rc == SQLITE_OK && snippet_json(text ? text : "", ntext, ranges, scan.nranges, &out))
        rc = SQLITE_NOMEM;
    free(spans);
    free(ranges);
    if (rc != SQLITE_OK) {
        buf_free(&out);
        sqlite3_result_error_code(ctx, rc);
        return;
    }
    size_t len = out.len;
    sqlite3_result_text(ctx, buf_detach(&out), (int)len, free);
}

/* ---- registration ---- */

static fts5_api *fts5_api_of(sqlite3 *h)
{
    fts5_api *api = NULL;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(h, "SELECT fts5(?1)", -1, &st, NULL) != SQLITE_OK)
        return NULL;
    sqlite3_bind_pointer(st, 1, (void *)&api, "fts5_api_ptr", NULL);
    sqlite3_step(st);
    sqlite3_finalize(st);
    return api;
}

int search_register(sqlite3 *h)
{
    fts5_api *api = fts5_api_of(h);
    if (!api || api->iVersion < 2) {
        log_error("search: this SQLite has no FTS5 (fts5_api v2 required)");
        return -1;
    }
    if (api->xCreateTokenizer(api, "axon", NULL, &tokenizer, NULL) != SQLITE_OK ||
        api->xCreateFunction(api, "axon_snippet", NULL, snippet_fn, NULL) != SQLITE_OK)
        return -1;
    return 0;
}

/* ---- index maintenance ---- */

/* ---- index writes, deferred to commit ----
 *
 * FTS5 flushes its pending terms to disk at every savepoint, and the writer
 * wraps each operation in one: indexing inside them cost more than the rest
 * of a write. So inside a transaction, index changes are queued (per
 * thread) and applied together by search_flush() just before COMMIT (a
 * db_txn_hooks hook); an operation rolled back to its savepoint drops its
 * queued changes. Outside a transaction they apply at once. */

struct pending {
    int64_t rowid;
    char *scope, *title, *body;   /* NULL scope = delete; owned */
};

static __thread struct pending *queue;
static __thread size_t queue_len, queue_cap;

static void pending_free(struct pending *p)
{
    free(p->scope);
    free(p->title);
    free(p->body);
}

static size_t search_mark(void) { return queue_len; }

static void search_undo(size_t mark)
{
    while (queue_len > mark)
        pending_free(&queue[--queue_len]);
    if (queue_len == 0 && queue_cap > 1024) {
        free(queue);
        queue = NULL;
        queue_cap = 0;
    }
}

static int apply(struct db *d, const struct pending *p, struct ax_err *err)
{
    sqlite3_stmt *st;
    if (p->scope) {
        st = db_prep(d, "INSERT OR REPLACE INTO search_index(rowid, scope, title, body) "
                        "VALUES(?1, ?2, ?3, ?4)", err);
        if (!st)
            return -1;
        sqlite3_bind_text(st, 2, p->scope, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, p->title ? p->title : "", -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, p->body ? p->body : "", -1, SQLITE_STATIC);
    } else {
        st = db_prep(d, "DELETE FROM search_index WHERE rowid = ?1", err);
        if (!st)
            return -1;
    }
    sqlite3_bind_int64(st, 1, p->rowid);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : db_fail(d, err, "search index");
    db_reset(st);
    return rc;
}

static int search_flush(struct db *d, struct ax_err *err)
{
    int rc = 0;
    for (size_t i = 0; i < queue_len && rc == 0; i++)
        rc = apply(d, &queue[i], err);
    search_undo(0);
    return rc;
}

static const struct db_txn_hooks hooks = {
    .before_commit = search_flush, .mark = search_mark, .undo = search_undo};

void search_init(void) { db_add_txn_hooks(&hooks); }

static int enqueue(struct db *d, int64_t rowid, const char *scope, const char *title,
                   const char *body, struct ax_err *err)
{
    struct pending p = {rowid, NULL, NULL, NULL};
    if (scope && (!(p.scope = strdup(scope)) || !(p.title = strdup(title ? title : "")) ||
                  !(p.body = strdup(body ? body : "")))) {
        pending_free(&p);
        return ax_fail(err, AX_EINTERNAL, "out of memory");
    }
    if (sqlite3_get_autocommit(db_handle(d))) {
        int rc = apply(d, &p, err);
        pending_free(&p);
        return rc;
    }
    if (queue_len == queue_cap) {
        size_t cap = queue_cap ? queue_cap * 2 : 64;
        struct pending *q = realloc(queue, cap * sizeof *q);
        if (!q) {
            pending_free(&p);
            return ax_fail(err, AX_EINTERNAL, "out of memory");
        }
        queue = q;
        queue_cap = cap;
    }
    queue[queue_len++] = p;
    return 0;
}

int search_put(struct db *d, int64_t tenant, const struct object_def *def, int64_t rid,
               const char *title, const char *body, struct ax_err *err)
{
    if (def->kind < 1 || def->kind >= SEARCH_KIND_MULT || rid <= 0)
        return ax_fail(err, AX_EINTERNAL, "search: bad index key for %s", def->name);
    char scope[32];
    snprintf(scope, sizeof scope, "t%lld", (long long)tenant);
    return enqueue(d, rid * SEARCH_KIND_MULT + def->kind, scope, title, body, err);
}

int search_remove(struct db *d, const struct object_def *def, int64_t rid,
                  struct ax_err *err)
{
    return enqueue(d, rid * SEARCH_KIND_MULT + def->kind, NULL, NULL, NULL, err);
}

/* ---- queries ---- */

#define STR_(x) #x
#define STR(x) STR_(x)

/* Title weighs ten times the body; the scope column (the tenant) not at all.
 * Kinds are filtered by a bit mask of allowed `rowid % SEARCH_KIND_MULT`. */
static const char query_sql[] =
    "SELECT rowid, rank, axon_snippet(search_index, ?4) FROM search_index "
    "WHERE search_index MATCH ?1 AND scope = ?5 AND rank MATCH 'bm25(0.0, 10.0, 1.0)' "
    "AND ((1 << (rowid % " STR(SEARCH_KIND_MULT) ")) & ?2) != 0 "
    "ORDER BY rank LIMIT ?3";

/* Index rows over-fetched in case some no longer have a record. */
#define OVERFETCH 5

struct hit {
    int64_t rowid;
    double score;
    char *snippet;      /* JSON array text */
};

static bool searchable_by(const struct object_def *def, int role)
{
    return def->searchable && (def->read_roles & role) != 0;
}

static const struct object_def *find_searchable(const char *name)
{
    int n;
    const struct object_def *const *all = model_all(&n);
    for (int i = 0; i < n; i++)
        if (all[i]->searchable &&
            (strcmp(all[i]->name, name) == 0 || strcmp(all[i]->singular, name) == 0))
            return all[i];
    return NULL;
}

static int unknown_type(const char *name, struct ax_err *err)
{
    char list[160] = "";
    int n;
    size_t used = 0;
    const struct object_def *const *all = model_all(&n);
    for (int i = 0; i < n; i++)
        if (all[i]->searchable && used < sizeof list)
            used += (size_t)snprintf(list + used, sizeof list - used, "%s%s",
                                     used ? ", " : "", all[i]->name);
    return ax_fail(err, AX_EBADREQ, "unknown type '%.60s' in types; searchable types are: %s",
                   name, list);
}

/* `types` ("tickets, activities") to a mask of kind bits the role may read;
 * NULL, empty or only separators means every searchable type. */
static int parse_types(const char *types, int role, unsigned *mask, struct ax_err *err)
{
    bool named = false;
    *mask = 0;
    for (const char *p = types ? types : ""; *p;) {
        size_t n = strcspn(p, ",");
        const char *e = p + n;
        while (p < e && (*p == ' ' || *p == '\t'))
            p++;
        while (e > p && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        char name[32];
        snprintf(name, sizeof name, "%.*s", (int)(e - p), p);
        if (e > p) {
            bool fits = (size_t)(e - p) < sizeof name;
            const struct object_def *def = fits ? find_searchable(name) : NULL;
            if (!def)
                return unknown_type(name, err);
            named = true;
            if (searchable_by(def, role))
                *mask |= 1u << def->kind;
        }
        p += strcspn(p, ",");
        if (*p == ',')
            p++;
    }
    if (!named) {
        int n;
        const struct object_def *const *all = model_all(&n);
        for (int i = 0; i < n; i++)
            if (searchable_by(all[i], role))
                *mask |= 1u << all[i]->kind;
    }
    return 0;
}

static void free_hits(struct hit *hits, int n)
{
    for (int i = 0; i < n; i++)
        free(hits[i].snippet);
    free(hits);
}

/* Run the MATCH and copy the ranked rows out, so the statement is reset
 * before records are loaded through the same statement cache. */
static int run_match(struct db *d, int64_t tenant, const char *expr, unsigned mask,
                     uint64_t one_char, int fetch, struct hit *hits, int *nhits,
                     struct ax_err *err)
{
    sqlite3_stmt *st = db_prep(d, query_sql, err);
    if (!st)
        return -1;
    char scope[32];
    snprintf(scope, sizeof scope, "t%lld", (long long)tenant);
    sqlite3_bind_text(st, 1, expr, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, scope, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, mask);
    sqlite3_bind_int(st, 3, fetch);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)one_char);
    int rc = SQLITE_DONE;
    *nhits = 0;
    while (*nhits < fetch && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct hit *h = &hits[*nhits];
        const char *snip = (const char *)sqlite3_column_text(st, 2);
        h->rowid = sqlite3_column_int64(st, 0);
        h->score = -sqlite3_column_double(st, 1);   /* bm25: lower is better */
        h->snippet = strdup(snip ? snip : "[]");
        if (!h->snippet) {
            db_reset(st);
            return ax_fail(err, AX_EINTERNAL, "out of memory");
        }
        (*nhits)++;
    }
    if (*nhits < fetch && rc != SQLITE_DONE) {
        /* A MATCH syntax error is the caller's input, never a 500. */
        if ((rc & 0xff) == SQLITE_ERROR) {
            log_warn("search: query rejected: %s", sqlite3_errmsg(db_handle(d)));
            db_reset(st);
            return ax_fail(err, AX_EBADREQ, "the search query could not be understood");
        }
        db_fail(d, err, "search");
        db_reset(st);
        return -1;
    }
    db_reset(st);
    return 0;
}

static int add_score(struct buf *out, double score)
{
    if (!isfinite(score) || score < 0)
        score = 0;
    return buf_addf(out, ",\"score\":%.6g", score);
}

static int add_json_str(struct buf *out, const char *s)
{
    return s ? buf_add_json_str(out, s, strlen(s)) : buf_adds(out, "null");
}

/* {"object","id","title","score","snippet","record"}; the record text is
 * stored JSON, appended as is. */
static int write_hit(struct buf *out, const struct object_def *def, const char *id,
                     const char *title, const struct hit *h, const char *record)
{
    return buf_adds(out, "{\"object\":") || add_json_str(out, def->singular) ||
           buf_adds(out, ",\"id\":") || add_json_str(out, id ? id : "") ||
           buf_adds(out, ",\"title\":") || add_json_str(out, title) ||
           add_score(out, h->score) ||
           buf_adds(out, ",\"snippet\":") || buf_adds(out, h->snippet) ||
           buf_adds(out, ",\"record\":") || buf_adds(out, record ? record : "null") ||
           buf_addc(out, '}');
}

/* Load, mask and append one hit; 0 when appended, 1 when the record is
 * gone (or the role may not see it), -1 on error. */
static int add_hit(struct db *d, int64_t tenant, int role, const struct hit *h, bool first,
                   struct buf *out, struct ax_err *err)
{
    const struct object_def *def = model_by_kind((int)(h->rowid % SEARCH_KIND_MULT));
    if (!def || !searchable_by(def, role))
        return 1;
    const struct field_def *tf = def->title_field ? model_field(def, def->title_field) : NULL;
    char sql[200];
    snprintf(sql, sizeof sql, "SELECT id, doc, %s FROM %s WHERE rid=?1 AND tenant_id=?2",
             tf && model_field_readable(tf, role) ? tf->name : "NULL", def->table);
    sqlite3_stmt *st = db_prep(d, sql, err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, h->rowid / SEARCH_KIND_MULT);
    sqlite3_bind_int64(st, 2, tenant);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        int ret = rc == SQLITE_DONE ? 1 : db_fail(d, err, "search record");
        db_reset(st);
        return ret;
    }
    const char *doc = (const char *)sqlite3_column_text(st, 1);
    char *masked = doc ? model_mask_doc(def, doc, role) : NULL;
    int bad = (!first && buf_addc(out, ',')) ||
              write_hit(out, def, (const char *)sqlite3_column_text(st, 0),
                        (const char *)sqlite3_column_text(st, 2), h, masked ? masked : doc);
    free(masked);
    db_reset(st);
    return bad ? ax_fail(err, AX_ETOOLARGE, "search results too large") : 0;
}

static int add_hits(struct db *d, int64_t tenant, int role, const struct hit *hits, int nhits,
                    int limit, struct buf *out, struct ax_err *err)
{
    int shown = 0;
    for (int i = 0; i < nhits && shown < limit; i++) {
        int rc = add_hit(d, tenant, role, &hits[i], shown == 0, out, err);
        if (rc < 0)
            return -1;
        shown += rc == 0;
    }
    return 0;
}

static int query_hits(struct db *d, int64_t tenant, int role, const char *expr, unsigned mask,
                      uint64_t one_char, int limit, struct buf *out, struct ax_err *err)
{
    int fetch = limit + OVERFETCH, nhits = 0;
    struct hit *hits = calloc((size_t)fetch, sizeof *hits);
    if (!hits)
        return ax_fail(err, AX_EINTERNAL, "out of memory");
    int rc = run_match(d, tenant, expr, mask, one_char, fetch, hits, &nhits, err);
    if (rc == 0)
        rc = add_hits(d, tenant, role, hits, nhits, limit, out, err);
    free_hits(hits, nhits);
    return rc;
}

int search_query(struct db *d, int64_t tenant, int role, const char *q,
                 const char *types, int limit, struct buf *out, struct ax_err *err)
{
    unsigned mask;
    if (!q)
        q = "";
    if (!text_valid_utf8(q, strlen(q)))
        return ax_fail(err, AX_EBADREQ, "the search query is not valid UTF-8");
    if (limit < 1 || limit > LIMIT_MAX)
        return ax_fail(err, AX_EBADREQ, "limit must be between 1 and %d", LIMIT_MAX);
    if (parse_types(types, role, &mask, err))
        return -1;
    uint64_t one_char;
    char *expr = build_expr(q, &one_char);
    size_t start = out->len;
    int rc = buf_adds(out, "{\"query\":") || buf_add_json_str(out, q, strlen(q)) ||
             buf_adds(out, ",\"data\":[")
                 ? ax_fail(err, AX_ETOOLARGE, "search results too large") : 0;
    if (rc == 0 && expr && mask)
        rc = query_hits(d, tenant, role, expr, mask, one_char, limit, out, err);
    free(expr);
    if (rc == 0 && buf_adds(out, "]}"))
        rc = ax_fail(err, AX_ETOOLARGE, "search results too large");
    if (rc && out->data) {
        out->len = start;   /* leave the caller's buffer as it was */
        out->data[start] = '\0';
    }
    return rc;
}
