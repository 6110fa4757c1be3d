/*
 * intent_dict.c - business-intent dictionaries: validation and merging of
 * term tables, CSV loading, the Aho-Corasick automaton, one-pass matching
 * with on-the-fly folding, and per-intent aggregation.
 *
 * Matching never materialises the folded text. Most code points fold to
 * themselves (CJK ideographs, kana, hangul, lower-case letters, most
 * punctuation): their bytes go straight into the automaton, and ASCII
 * upper case is folded for free because 'A' and 'a' share a byte class.
 * Full-width ASCII and runs of white space are mapped inline; anything
 * else is folded with utf8proc one cluster (a character and the combining
 * marks after it) at a time. Each place where folded and original lengths
 * differ leaves an "anchor", so a hit's start in folded bytes maps back to
 * the original text. While the automaton sits in its root state, code
 * points that cannot start any term are skipped with one table probe each.
 */
#include "axon/intent_dict.h"

#include "axon/csvio.h"
#include "axon/text.h"

#include <ctype.h>
#include <math.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <utf8proc.h>

/* Same options as text_fold(). */
#define FOLD_OPTS (UTF8PROC_COMPOSE | UTF8PROC_COMPAT | UTF8PROC_CASEFOLD | UTF8PROC_STABLE)

#define DENSE_BUDGET ((size_t)8 << 20)      /* bytes of full-DFA rows */
#define MAX_PATTERN_BYTES ((size_t)16 << 20) /* folded bytes of all terms */
#define CLUSTER_MAX 32          /* code points folded together (stream-safe) */
#define CLUSTER_CPS (CLUSTER_MAX * 18 + 8)  /* NFKC expands one code point to <= 18 */
#define ANCHOR_RING 1024        /* > folded bytes of the longest term */
#define CSV_FIELD_MAX 4096

/* Automaton states are uint32 values: bit 0 = the state has output,
 * bit 1 = sparse state, the rest = row offset (dense) or sparse index. */
#define V_OUT 1u
#define V_SPARSE 2u
#define NO_STATE (-1)

/* ---- code point kinds (shared, built once) ---- */

enum { K_SLOW, K_IDENT, K_SPACE, K_WIDE };

static uint8_t cp_kind[0x10000];
static pthread_once_t kind_once = PTHREAD_ONCE_INIT;

static bool is_jamo_vt(int cp)
{
    return (cp >= 0x1160 && cp <= 0x11FF) || (cp >= 0xD7B0 && cp <= 0xD7FF);
}

/* Does the code point fold to something that starts with a character that
 * combines with what precedes it (a mark, or a hangul vowel/final jamo)? */
static bool joins_previous(int cp)
{
    if (cp < 0x300)
        return false;
    if (cp < 0x10000 && cp_kind[cp] != K_SLOW)
        return false;
    utf8proc_int32_t d[32];
    int bc = 0;
    utf8proc_ssize_t n = utf8proc_decompose_char(cp, d, 32,
                                                 UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT |
                                                     UTF8PROC_CASEFOLD, &bc);
    int first = n >= 1 && n <= 32 ? d[0] : cp;
    const utf8proc_property_t *p = utf8proc_get_property(first);
    return p->combining_class != 0 || p->category == UTF8PROC_CATEGORY_MN ||
           p->category == UTF8PROC_CATEGORY_MC || p->category == UTF8PROC_CATEGORY_ME ||
           is_jamo_vt(first);
}

/* K_IDENT: folds to itself, is a starter and never combines with what
 * precedes it, so it can be fed as is and split from its neighbours.
 * K_SPACE folds to " ", K_WIDE is full-width ASCII. */
static void kind_init(void)
{
    for (int cp = 0; cp < 0x80; cp++)
        cp_kind[cp] = K_IDENT;
    for (int cp = 0x80; cp < 0x10000; cp++) {
        if (cp >= 0xD800 && cp <= 0xDFFF)
            continue;
        if (cp >= 0xFF01 && cp <= 0xFF5E) {
            cp_kind[cp] = K_WIDE;
            continue;
        }
        if (cp >= 0xAC00 && cp <= 0xD7A3) {    /* hangul syllables recompose */
            cp_kind[cp] = K_IDENT;
            continue;
        }
        utf8proc_int32_t d[32];
        int bc = 0;
        utf8proc_ssize_t n = utf8proc_decompose_char(cp, d, 32,
                                                     UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT |
                                                         UTF8PROC_CASEFOLD, &bc);
        const utf8proc_property_t *p = utf8proc_get_property(cp);
        if (n == 1 && d[0] == ' ')
            cp_kind[cp] = K_SPACE;
        else if (n == 1 && d[0] == cp && p->combining_class == 0 &&
                 p->category != UTF8PROC_CATEGORY_MN && p->category != UTF8PROC_CATEGORY_MC &&
                 p->category != UTF8PROC_CATEGORY_ME && !is_jamo_vt(cp))
            cp_kind[cp] = K_IDENT;
    }
}

static const uint8_t ascii_space[256] = {
    ['\t'] = 1, ['\n'] = 1, ['\v'] = 1, ['\f'] = 1, ['\r'] = 1, [' '] = 1,
};

static bool ascii_word(unsigned c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_';
}

/* A letter, digit or mark of a script written with spaces between words:
 * terms that begin (end) with one match only at a word boundary. */
static bool word_char(int cp)
{
    if (cp < 0)
        return false;
    if (cp < 0x80)
        return ascii_word((unsigned)cp);
    if (text_is_cjk(cp) || (cp >= 0x0E00 && cp <= 0x0EFF) ||   /* Thai, Lao */
        (cp >= 0x1000 && cp <= 0x109F) || (cp >= 0x1780 && cp <= 0x17FF) ||
        (cp >= 0x1100 && cp <= 0x11FF) || (cp >= 0x3000 && cp <= 0x303F) ||
        (cp >= 0xFF66 && cp <= 0xFF9F))
        return false;
    utf8proc_category_t c = utf8proc_category(cp);
    return c >= UTF8PROC_CATEGORY_LU && c <= UTF8PROC_CATEGORY_NO;
}

/* ---- the dictionary ---- */

struct pattern {            /* one distinct folded term */
    uint32_t len;           /* folded bytes */
    uint32_t first, n;      /* its terms in pat_terms (one per intent) */
    bool need_left, need_right;
};

struct sparse_state {
    uint32_t fail;          /* encoded state */
    uint32_t off, n;        /* transitions in skeys/stargets */
};

struct intent_dict {
    size_t nintents;
    char **intents;
    size_t *intent_terms;
    size_t nterms;
    struct intent_term *terms;
    char digest[33];

    size_t npats;
    struct pattern *pats;
    uint32_t *pat_terms;

    unsigned ncls;
    uint8_t cls[256];
    uint8_t skip_ascii[128];
    uint64_t skip_cp[0x10000 / 64];     /* K_IDENT and starts no term */
    size_t nstates, ndense;
    uint32_t *delta;                    /* ndense rows of ncls */
    struct sparse_state *sparse;        /* states ndense.. */
    uint8_t *skeys;
    uint32_t *stargets;
    int32_t *own;                       /* pattern ending here, or -1 */
    int32_t *outlink;                   /* next state on the failure chain with own >= 0 */
    size_t memory;
};

static inline uint32_t ac_step(const struct intent_dict *d, uint32_t v, unsigned k)
{
    while (__builtin_expect(v & V_SPARSE, 0)) {
        const struct sparse_state *s = &d->sparse[v >> 2];
        const uint8_t *keys = d->skeys + s->off;
        for (uint32_t j = 0; j < s->n; j++)
            if (keys[j] == k)
                return d->stargets[s->off + j];
        v = s->fail;
    }
    return d->delta[(v >> 2) + k];
}

static size_t state_index(const struct intent_dict *d, uint32_t v)
{
    return v & V_SPARSE ? d->ndense + (v >> 2) : (v >> 2) / d->ncls;
}

void intent_dict_free(struct intent_dict *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->nintents; i++)
        free(d->intents[i]);
    for (size_t i = 0; i < d->nterms; i++) {
        free((char *)d->terms[i].term);
        free((char *)d->terms[i].folded);
        free((char *)d->terms[i].lang);
    }
    free(d->intents);
    free(d->intent_terms);
    free(d->terms);
    free(d->pats);
    free(d->pat_terms);
    free(d->delta);
    free(d->sparse);
    free(d->skeys);
    free(d->stargets);
    free(d->own);
    free(d->outlink);
    free(d);
}

size_t intent_dict_intent_count(const struct intent_dict *d) { return d->nintents; }

const char *intent_dict_intent_name(const struct intent_dict *d, size_t i)
{
    return i < d->nintents ? d->intents[i] : NULL;
}

size_t intent_dict_intent_terms(const struct intent_dict *d, size_t i)
{
    return i < d->nintents ? d->intent_terms[i] : 0;
}

size_t intent_dict_term_count(const struct intent_dict *d) { return d->nterms; }

const struct intent_term *intent_dict_term(const struct intent_dict *d, size_t i)
{
    return i < d->nterms ? &d->terms[i] : NULL;
}

const char *intent_dict_digest(const struct intent_dict *d) { return d->digest; }

size_t intent_dict_memory(const struct intent_dict *d) { return d->memory; }

/* ---- reports ---- */

void intent_report_init(struct intent_report *r) { memset(r, 0, sizeof *r); }

void intent_report_free(struct intent_report *r)
{
    if (!r)
        return;
    free(r->errors);
    free(r->warnings);
    r->errors = r->warnings = NULL;
    r->nerrors = r->nwarnings = 0;
}

static void add_issue(struct intent_issue **list, size_t *n, long long row, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void add_issue(struct intent_issue **list, size_t *n, long long row, const char *fmt, ...)
{
    if (*n >= INTENT_REPORT_MAX_ISSUES)
        return;
    if (*n == 0 && !*list) {
        *list = calloc(INTENT_REPORT_MAX_ISSUES, sizeof **list);
        if (!*list)
            return;
    }
    struct intent_issue *is = &(*list)[(*n)++];
    is->row = row;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(is->message, sizeof is->message, fmt, ap);
    va_end(ap);
}

static int issue_cmp(const void *a, const void *b)
{
    const struct intent_issue *x = a, *y = b;
    return (x->row > y->row) - (x->row < y->row);
}

json_t *intent_report_json(const struct intent_report *r, const struct intent_dict *d)
{
    json_t *o = json_object(), *intents = json_object(), *errs = json_array(),
           *warns = json_array();
    if (!o || !intents || !errs || !warns) {
        json_decref(o);
        json_decref(intents);
        json_decref(errs);
        json_decref(warns);
        return NULL;
    }
    json_object_set_new(o, "encoding", json_string(r->encoding[0] ? r->encoding : "UTF-8"));
    json_object_set_new(o, "bom", json_boolean(r->bom));
    json_object_set_new(o, "rows_accepted", json_integer(r->rows_accepted));
    json_object_set_new(o, "rows_rejected", json_integer(r->rows_rejected));
    json_object_set_new(o, "duplicates", json_integer(r->duplicates));
    json_object_set_new(o, "terms", json_integer(d ? (json_int_t)d->nterms : 0));
    for (size_t i = 0; d && i < d->nintents; i++)
        json_object_set_new(intents, d->intents[i], json_integer((json_int_t)d->intent_terms[i]));
    json_object_set_new(o, "intents", intents);
    for (size_t i = 0; i < r->nerrors; i++)
        json_array_append_new(errs, json_pack("{sIss}", "row", (json_int_t)r->errors[i].row,
                                              "message", r->errors[i].message));
    for (size_t i = 0; i < r->nwarnings; i++)
        json_array_append_new(warns, json_pack("{sIss}", "row", (json_int_t)r->warnings[i].row,
                                               "message", r->warnings[i].message));
    json_object_set_new(o, "errors", errs);
    json_object_set_new(o, "warnings", warns);
    if (d)
        json_object_set_new(o, "digest", json_string(d->digest));
    return o;
}

/* ---- validating and folding entries ---- */

static bool valid_intent_name(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > INTENT_NAME_MAX || !(s[0] >= 'a' && s[0] <= 'z'))
        return false;
    for (size_t i = 1; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
            return false;
    return true;
}

/* A BCP 47-looking tag: 2-3 letters, then -subtags of 1-8 letters/digits. */
static bool valid_lang(const char *s)
{
    size_t n = strlen(s), i = 0;
    if (n > 35)
        return false;
    while (i < n && isalpha((unsigned char)s[i]))
        i++;
    if (i < 2 || i > 3)
        return false;
    while (i < n) {
        if (s[i++] != '-')
            return false;
        size_t k = 0;
        while (i < n && isalnum((unsigned char)s[i]))
            i++, k++;
        if (k < 1 || k > 8)
            return false;
    }
    return true;
}

/* Trim ASCII white space in place; returns the new start. */
static char *trim(char *s)
{
    while (*s && ascii_space[(unsigned char)*s])
        s++;
    size_t n = strlen(s);
    while (n && ascii_space[(unsigned char)s[n - 1]])
        s[--n] = '\0';
    return s;
}

/* Fold a term the way matching folds text: text_fold, white-space runs
 * collapsed to one space, trimmed. Returns NULL with `why` set. */
static char *fold_term(const char *term, const char **why)
{
    size_t n = strlen(term);
    if (!text_valid_utf8(term, n)) {
        *why = "is not valid UTF-8";
        return NULL;
    }
    char *f = text_fold(term, n);
    if (!f) {
        *why = "cannot be normalised";
        return NULL;
    }
    size_t w = 0, cps = 0;
    bool space = true;      /* drops leading white space */
    for (size_t i = 0; f[i];) {
        unsigned char c = (unsigned char)f[i];
        if (ascii_space[c]) {
            if (!space)
                f[w++] = ' ';
            space = true;
            i++;
            continue;
        }
        int cp = c;
        int k = c < 0x80 ? 1 : text_decode(f + i, strlen(f + i), &cp);
        if (k == 0 || cp < 0x20 || (cp >= 0x7F && cp <= 0x9F)) {
            free(f);
            *why = "has control characters";
            return NULL;
        }
        if (space && w > 0)
            cps++;          /* the space kept before this character */
        memmove(f + w, f + i, (size_t)k);
        w += (size_t)k;
        i += (size_t)k;
        cps++;
        space = false;
    }
    f[w] = '\0';
    if (w == 0) {
        free(f);
        *why = "is empty";
        return NULL;
    }
    if (cps > INTENT_TERM_MAX_CHARS) {
        free(f);
        *why = "is longer than 200 characters";
        return NULL;
    }
    return f;
}

/* An entry that passed validation. */
struct work {
    char *intent, *term, *folded, *lang;
    double weight;
    long long row;
    size_t seq;
    bool merged;
};

static void work_free(struct work *w, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(w[i].intent);
        free(w[i].term);
        free(w[i].folded);
        free(w[i].lang);
    }
    free(w);
}

static int work_cmp(const void *a, const void *b)
{
    const struct work *x = a, *y = b;
    int c = strcmp(x->intent, y->intent);
    if (!c)
        c = strcmp(x->folded, y->folded);
    if (!c)
        c = (x->seq > y->seq) - (x->seq < y->seq);
    return c;
}

/* Validate one entry into `w`; NULL, or the reason it is rejected. */
static const char *check_entry(const struct intent_entry *e, struct work *w, char *msg, size_t cap)
{
    const char *why = NULL;
    memset(w, 0, sizeof *w);
    char *intent = strdup(e->intent ? e->intent : "");
    char *term = strdup(e->term ? e->term : "");
    char *lang = strdup(e->lang ? e->lang : "");
    if (!intent || !term || !lang) {
        why = "out of memory";
        goto out;
    }
    char *in = trim(intent), *te = trim(term), *la = trim(lang);
    if (!valid_intent_name(in)) {
        snprintf(msg, cap, "intent '%.64s' is not a valid name (lower-case a-z, 0-9 and _, "
                 "starting with a letter, at most 64)", in);
        why = msg;
        goto out;
    }
    if (!(isfinite(e->weight) && e->weight > 0 && e->weight <= INTENT_WEIGHT_MAX)) {
        snprintf(msg, cap, "weight %g is not in (0, 100]", e->weight);
        why = msg;
        goto out;
    }
    if (*la && !valid_lang(la)) {
        snprintf(msg, cap, "lang '%.40s' is not a language tag (e.g. zh, en, zh-Hans)", la);
        why = msg;
        goto out;
    }
    const char *fwhy = NULL;
    char *folded = fold_term(te, &fwhy);
    if (!folded) {
        snprintf(msg, cap, "term %s", fwhy);
        why = msg;
        goto out;
    }
    for (char *p = la; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    w->intent = strdup(in);
    w->term = strdup(te);
    w->lang = strdup(la);
    w->folded = folded;
    w->weight = e->weight;
    w->row = e->row;
    if (!w->intent || !w->term || !w->lang)
        why = "out of memory";
out:
    free(intent);
    free(term);
    free(lang);
    if (why) {
        free(w->intent);
        free(w->term);
        free(w->lang);
        free(w->folded);
        memset(w, 0, sizeof *w);
    }
    return why;
}

/* ---- building the automaton ---- */

struct trie {
    size_t n, cap;
    uint32_t *parent;
    uint8_t *cls;
    int32_t *own;
    uint32_t *first_child, *nchild; /* CSR over `kids` */
    uint32_t *kids;
};

static int trie_add(struct trie *t, uint32_t parent, uint8_t cls)
{
    if (t->n == t->cap) {
        size_t ncap = t->cap ? t->cap * 2 : 1024;
        uint32_t *p = realloc(t->parent, ncap * sizeof *p);
        if (!p)
            return -1;
        t->parent = p;
        uint8_t *c = realloc(t->cls, ncap);
        if (!c)
            return -1;
        t->cls = c;
        int32_t *o = realloc(t->own, ncap * sizeof *o);
        if (!o)
            return -1;
        t->own = o;
        t->cap = ncap;
    }
    t->parent[t->n] = parent;
    t->cls[t->n] = cls;
    t->own[t->n] = NO_STATE;
    t->n++;
    return 0;
}

static void trie_free(struct trie *t)
{
    free(t->parent);
    free(t->cls);
    free(t->own);
    free(t->first_child);
    free(t->nchild);
    free(t->kids);
}

/* Children of a node are created in byte order (terms are inserted
 * sorted), so each CSR segment is sorted by class. */
static int trie_index(struct trie *t)
{
    t->first_child = calloc(t->n + 1, sizeof *t->first_child);
    t->nchild = calloc(t->n, sizeof *t->nchild);
    t->kids = malloc(t->n * sizeof *t->kids);
    if (!t->first_child || !t->nchild || !t->kids)
        return -1;
    for (size_t u = 1; u < t->n; u++)
        t->nchild[t->parent[u]]++;
    for (size_t u = 0, acc = 0; u < t->n; u++) {
        t->first_child[u] = (uint32_t)acc;
        acc += t->nchild[u];
    }
    memset(t->nchild, 0, t->n * sizeof *t->nchild);
    for (size_t u = 1; u < t->n; u++) {
        uint32_t p = t->parent[u];
        t->kids[t->first_child[p] + t->nchild[p]++] = (uint32_t)u;
    }
    return 0;
}

static int64_t trie_child(const struct trie *t, uint32_t u, uint8_t k)
{
    uint32_t lo = t->first_child[u], hi = lo + t->nchild[u];
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2, c = t->kids[mid];
        if (t->cls[c] == k)
            return c;
        if (t->cls[c] < k)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

static int pat_cmp_folded(const void *a, const void *b, void *arg)
{
    const struct intent_term *terms = arg;
    const uint32_t *x = a, *y = b;
    int c = strcmp(terms[*x].folded, terms[*y].folded);
    return c ? c : (*x > *y) - (*x < *y);
}

/* Distinct folded strings, sorted, each with its terms. */
static int build_patterns(struct intent_dict *d)
{
    uint32_t *order = malloc(d->nterms * sizeof *order);
    d->pat_terms = malloc(d->nterms * sizeof *d->pat_terms);
    d->pats = calloc(d->nterms, sizeof *d->pats);
    if (!order || !d->pat_terms || !d->pats) {
        free(order);
        return -1;
    }
    for (size_t i = 0; i < d->nterms; i++)
        order[i] = (uint32_t)i;
    qsort_r(order, d->nterms, sizeof *order, pat_cmp_folded, d->terms);
    for (size_t i = 0; i < d->nterms; i++) {
        const char *f = d->terms[order[i]].folded;
        if (i == 0 || strcmp(f, d->terms[order[i - 1]].folded) != 0) {
            struct pattern *p = &d->pats[d->npats++];
            size_t n = strlen(f);
            p->len = (uint32_t)n;
            p->first = (uint32_t)i;
            int first = 0, last = 0;
            text_decode(f, n, &first);
            size_t j = n;
            while (j > 0 && ((unsigned char)f[j - 1] & 0xC0) == 0x80)
                j--;
            if (j > 0)
                j--;
            text_decode(f + j, n - j, &last);
            p->need_left = word_char(first);
            p->need_right = word_char(last);
        }
        d->pat_terms[i] = order[i];
        d->pats[d->npats - 1].n++;
    }
    free(order);
    return 0;
}

static int build_classes(struct intent_dict *d)
{
    bool used[256] = {false};
    for (size_t i = 0; i < d->npats; i++) {
        const unsigned char *s = (const unsigned char *)d->terms[d->pat_terms[d->pats[i].first]].folded;
        for (; *s; s++)
            used[*s] = true;
    }
    unsigned n = 1;
    for (int b = 0; b < 256; b++)
        d->cls[b] = used[b] ? (uint8_t)n++ : 0;
    if (n > 256)
        return -1;      /* cannot happen: byte 0xFF is never in UTF-8 */
    for (int b = 'A'; b <= 'Z'; b++)
        d->cls[b] = d->cls[b + 32];
    d->ncls = n;
    return 0;
}

static int build_trie(struct intent_dict *d, struct trie *t)
{
    if (trie_add(t, 0, 0))
        return -1;
    uint32_t path[INTENT_TERM_MAX_CHARS * 4 + 1];
    path[0] = 0;
    const char *prev = "";
    for (size_t i = 0; i < d->npats; i++) {
        const char *s = d->terms[d->pat_terms[d->pats[i].first]].folded;
        size_t lcp = 0, n = d->pats[i].len;
        while (prev[lcp] && prev[lcp] == s[lcp])
            lcp++;
        for (size_t j = lcp; j < n; j++) {
            if (trie_add(t, path[j], d->cls[(unsigned char)s[j]]))
                return -1;
            path[j + 1] = (uint32_t)(t->n - 1);
        }
        t->own[path[n]] = (int32_t)i;
        prev = s;
    }
    return trie_index(t);
}

/* BFS order, failure links, output links, then the dense rows for the
 * states nearest the root and sparse transitions for the rest. */
static int build_automaton(struct intent_dict *d)
{
    struct trie t = {0};
    uint32_t *order = NULL, *bfs = NULL, *fail = NULL, *enc = NULL;
    int rc = -1;
    if (build_trie(d, &t))
        goto out;
    size_t n = t.n;
    order = malloc(n * sizeof *order);
    bfs = malloc(n * sizeof *bfs);
    fail = malloc(n * sizeof *fail);
    enc = malloc(n * sizeof *enc);
    d->own = malloc(n * sizeof *d->own);
    d->outlink = malloc(n * sizeof *d->outlink);
    if (!order || !bfs || !fail || !enc || !d->own || !d->outlink)
        goto out;
    size_t head = 0, tail = 0;
    order[tail++] = 0;
    while (head < tail) {
        uint32_t u = order[head++];
        for (uint32_t j = 0; j < t.nchild[u]; j++)
            order[tail++] = t.kids[t.first_child[u] + j];
    }
    for (size_t b = 0; b < n; b++)
        bfs[order[b]] = (uint32_t)b;
    fail[0] = 0;
    for (size_t b = 1; b < n; b++) {
        uint32_t u = order[b], p = t.parent[u];
        uint8_t k = t.cls[u];
        uint32_t f = 0;
        if (p != 0) {
            uint32_t x = fail[p];
            for (;;) {
                int64_t c = trie_child(&t, x, k);
                if (c >= 0) {
                    f = (uint32_t)c;
                    break;
                }
                if (x == 0)
                    break;
                x = fail[x];
            }
        }
        fail[u] = f;
    }
    size_t row_bytes = (size_t)d->ncls * sizeof(uint32_t);
    d->nstates = n;
    d->ndense = DENSE_BUDGET / row_bytes;
    if (d->ndense > n)
        d->ndense = n;
    if (d->ndense < 1)
        d->ndense = 1;
    /* Per BFS index: own pattern, output link, encoded value. */
    for (size_t b = 0; b < n; b++) {
        uint32_t u = order[b];
        d->own[b] = t.own[u];
        if (b == 0) {
            d->outlink[b] = NO_STATE;
        } else {
            uint32_t fb = bfs[fail[u]];
            d->outlink[b] = d->own[fb] != NO_STATE ? (int32_t)fb : d->outlink[fb];
        }
        uint32_t out = d->own[b] != NO_STATE || d->outlink[b] != NO_STATE ? V_OUT : 0;
        enc[b] = b < d->ndense ? (uint32_t)((b * d->ncls) << 2) | out
                               : (uint32_t)((b - d->ndense) << 2) | V_SPARSE | out;
    }
    d->delta = malloc(d->ndense * row_bytes);
    if (!d->delta)
        goto out;
    for (size_t b = 0; b < d->ndense; b++) {
        uint32_t u = order[b];
        uint32_t *row = d->delta + b * d->ncls;
        if (b == 0)
            memset(row, 0, row_bytes);
        else
            memcpy(row, d->delta + (size_t)bfs[fail[u]] * d->ncls, row_bytes);
        for (uint32_t j = 0; j < t.nchild[u]; j++) {
            uint32_t c = t.kids[t.first_child[u] + j];
            row[t.cls[c]] = enc[bfs[c]];
        }
    }
    size_t nsparse = n - d->ndense, ntrans = 0;
    for (size_t b = d->ndense; b < n; b++)
        ntrans += t.nchild[order[b]];
    d->sparse = malloc((nsparse ? nsparse : 1) * sizeof *d->sparse);
    d->skeys = malloc(ntrans ? ntrans : 1);
    d->stargets = malloc((ntrans ? ntrans : 1) * sizeof *d->stargets);
    if (!d->sparse || !d->skeys || !d->stargets)
        goto out;
    ntrans = 0;
    for (size_t b = d->ndense; b < n; b++) {
        uint32_t u = order[b];
        struct sparse_state *s = &d->sparse[b - d->ndense];
        s->fail = enc[bfs[fail[u]]];
        s->off = (uint32_t)ntrans;
        s->n = t.nchild[u];
        for (uint32_t j = 0; j < s->n; j++) {
            uint32_t c = t.kids[t.first_child[u] + j];
            d->skeys[ntrans] = t.cls[c];
            d->stargets[ntrans++] = enc[bfs[c]];
        }
    }
    d->memory = sizeof *d + d->ndense * row_bytes + nsparse * sizeof *d->sparse +
                ntrans * 5 + n * 8;
    rc = 0;
out:
    trie_free(&t);
    free(order);
    free(bfs);
    free(fail);
    free(enc);
    return rc;
}

/* Which bytes and code points may be skipped while in the root state. */
static void build_skips(struct intent_dict *d)
{
    const uint32_t *root = d->delta;
    for (unsigned c = 0; c < 128; c++)
        d->skip_ascii[c] = !ascii_space[c] && root[d->cls[c]] == 0;
    for (int cp = 0; cp < 0x10000; cp++)
        if (cp_kind[cp] == K_IDENT && cp >= 0x80)
            d->skip_cp[cp >> 6] |= (uint64_t)1 << (cp & 63);
    for (size_t i = 0; i < d->npats; i++) {
        int cp = 0;
        const char *f = d->terms[d->pat_terms[d->pats[i].first]].folded;
        if (text_decode(f, strlen(f), &cp) && cp < 0x10000)
            d->skip_cp[cp >> 6] &= ~((uint64_t)1 << (cp & 63));
    }
}

static void compute_digest(struct intent_dict *d)
{
    crypto_generichash_state st;
    unsigned char h[16];
    crypto_generichash_init(&st, NULL, 0, sizeof h);
    for (size_t i = 0; i < d->nterms; i++) {
        const struct intent_term *t = &d->terms[i];
        char w[32];
        int wn = snprintf(w, sizeof w, "%.17g", t->weight);
        crypto_generichash_update(&st, (const unsigned char *)t->intent, strlen(t->intent) + 1);
        crypto_generichash_update(&st, (const unsigned char *)t->folded, strlen(t->folded) + 1);
        crypto_generichash_update(&st, (const unsigned char *)w, (size_t)wn + 1);
        crypto_generichash_update(&st, (const unsigned char *)t->lang, strlen(t->lang) + 1);
    }
    crypto_generichash_final(&st, h, sizeof h);
    sodium_bin2hex(d->digest, sizeof d->digest, h, sizeof h);
}

/* Merge duplicates (same intent, same folded text) of the sorted work
 * list; fill the dictionary's intents and terms. */
static int take_terms(struct intent_dict *d, struct work *w, size_t n, struct intent_report *rep)
{
    d->terms = calloc(n, sizeof *d->terms);
    d->intents = calloc(n, sizeof *d->intents);
    d->intent_terms = calloc(n, sizeof *d->intent_terms);
    if (!d->terms || !d->intents || !d->intent_terms)
        return -1;
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && strcmp(w[j].intent, w[i].intent) == 0 &&
               strcmp(w[j].folded, w[i].folded) == 0)
            j++;
        double best = w[i].weight;
        for (size_t k = i + 1; k < j; k++)
            best = w[k].weight > best ? w[k].weight : best;
        for (size_t k = i + 1; rep && k < j; k++) {
            rep->duplicates++;
            add_issue(&rep->warnings, &rep->nwarnings, w[k].row,
                      "duplicate of row %lld (%s: '%.60s'); merged, weight %g kept",
                      w[i].row, w[i].intent, w[i].term, best);
        }
        if (d->nintents == 0 || strcmp(d->intents[d->nintents - 1], w[i].intent) != 0) {
            d->intents[d->nintents++] = w[i].intent;
            w[i].intent = NULL;
        }
        struct intent_term *t = &d->terms[d->nterms++];
        t->intent = d->intents[d->nintents - 1];
        t->intent_index = (uint32_t)(d->nintents - 1);
        t->term = w[i].term;
        t->folded = w[i].folded;
        t->lang = w[i].lang;
        t->weight = best;
        t->row = w[i].row;
        w[i].term = w[i].folded = w[i].lang = NULL;
        d->intent_terms[d->nintents - 1]++;
        i = j;
    }
    return 0;
}

int intent_dict_compile(const struct intent_entry *entries, size_t n,
                        struct intent_dict **out, struct intent_report *report,
                        struct ax_err *err)
{
    *out = NULL;
    pthread_once(&kind_once, kind_init);
    if (n > INTENT_MAX_TERMS)
        return ax_fail(err, AX_ETOOLARGE, "more than %d terms", INTENT_MAX_TERMS);
    struct work *w = calloc(n ? n : 1, sizeof *w);
    struct intent_dict *d = calloc(1, sizeof *d);
    size_t nw = 0, bytes = 0;
    int rc = -1;
    if (!w || !d) {
        ax_fail(err, AX_EINTERNAL, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        char msg[160];
        const char *why = check_entry(&entries[i], &w[nw], msg, sizeof msg);
        if (why && strcmp(why, "out of memory") == 0) {
            ax_fail(err, AX_EINTERNAL, "out of memory");
            goto out;
        }
        if (why && !report) {
            ax_fail(err, AX_EINVALID, "row %lld: %s", entries[i].row, why);
            goto out;
        }
        if (why) {
            report->rows_rejected++;
            add_issue(&report->errors, &report->nerrors, entries[i].row, "%s", why);
            continue;
        }
        bytes += strlen(w[nw].folded);
        w[nw].seq = nw;
        nw++;
    }
    if (report) {
        report->rows_accepted += (long long)nw;
        qsort(report->errors, report->nerrors, sizeof *report->errors, issue_cmp);
    }
    if (nw == 0) {
        ax_fail(err, AX_EINVALID, "no usable terms");
        goto out;
    }
    if (bytes > MAX_PATTERN_BYTES) {
        ax_fail(err, AX_ETOOLARGE, "the terms are longer than %zu bytes in all", MAX_PATTERN_BYTES);
        goto out;
    }
    qsort(w, nw, sizeof *w, work_cmp);
    if (take_terms(d, w, nw, report) || build_patterns(d) || build_classes(d) ||
        build_automaton(d)) {
        ax_fail(err, AX_EINTERNAL, "out of memory");
        goto out;
    }
    build_skips(d);
    compute_digest(d);
    d->memory += d->nterms * (sizeof *d->terms + 32) + d->npats * sizeof *d->pats;
    *out = d;
    d = NULL;
    rc = 0;
out:
    work_free(w, nw);
    intent_dict_free(d);
    return rc;
}

/* ---- CSV ---- */

enum { COL_INTENT, COL_TERM, COL_WEIGHT, COL_LANG, NCOLS };
static const char *const col_names[NCOLS] = {"intent", "term", "weight", "lang"};

static int read_header(struct csvio_reader *r, int cols[NCOLS], int *ncells, struct ax_err *err)
{
    struct csvio_row row;
    int rc = csvio_next(r, &row, err);
    if (rc < 0)
        return -1;
    if (rc == 0)
        return ax_fail(err, AX_EINVALID, "the file is empty (expected a header row intent,term,weight,lang)");
    if (row.error)
        return ax_fail(err, AX_EINVALID, "header row: %s", row.error);
    for (int c = 0; c < NCOLS; c++)
        cols[c] = -1;
    *ncells = row.nfields;
    for (int i = 0; i < row.nfields; i++) {
        char *name = row.fields[i];
        if (strncmp(name, "\xEF\xBB\xBF", 3) == 0)
            name += 3;
        name = trim(name);
        int c = 0;
        while (c < NCOLS && strcasecmp(name, col_names[c]) != 0)
            c++;
        if (c == NCOLS)
            return ax_fail(err, AX_EINVALID,
                           "unknown column '%.40s' (the header names intent, term, weight, lang)", name);
        if (cols[c] >= 0)
            return ax_fail(err, AX_EINVALID, "column '%s' appears twice", col_names[c]);
        cols[c] = i;
    }
    if (cols[COL_INTENT] < 0 || cols[COL_TERM] < 0)
        return ax_fail(err, AX_EINVALID, "the header must name the columns intent and term");
    return 0;
}

struct rows {
    struct intent_entry *e;
    size_t n, cap;
};

static void rows_free(struct rows *rs)
{
    for (size_t i = 0; i < rs->n; i++) {
        free((char *)rs->e[i].intent);
        free((char *)rs->e[i].term);
        free((char *)rs->e[i].lang);
    }
    free(rs->e);
}

static const char *cell(const struct csvio_row *row, int col)
{
    return col >= 0 && col < row->nfields ? row->fields[col] : "";
}

static bool blank_row(const struct csvio_row *row)
{
    for (int i = 0; i < row->nfields; i++)
        for (const char *p = row->fields[i]; *p; p++)
            if (!ascii_space[(unsigned char)*p])
                return false;
    return true;
}

/* Parse a weight cell: empty = 1.0. */
static bool parse_weight(const char *s, double *w)
{
    while (*s && ascii_space[(unsigned char)*s])
        s++;
    if (!*s) {
        *w = 1.0;
        return true;
    }
    char *end;
    *w = strtod(s, &end);
    while (*end && ascii_space[(unsigned char)*end])
        end++;
    return end != s && *end == '\0';
}

static int add_row(struct rows *rs, const struct csvio_row *row, const int cols[NCOLS],
                   struct intent_report *rep, struct ax_err *err)
{
    double weight = 1.0;
    if (cols[COL_WEIGHT] >= 0 && !parse_weight(cell(row, cols[COL_WEIGHT]), &weight)) {
        rep->rows_rejected++;
        add_issue(&rep->errors, &rep->nerrors, row->row, "weight '%.40s' is not a number",
                  cell(row, cols[COL_WEIGHT]));
        return 0;
    }
    if (rs->n == INTENT_MAX_TERMS)
        return ax_fail(err, AX_ETOOLARGE, "more than %d terms (row %lld)", INTENT_MAX_TERMS,
                       row->row);
    if (rs->n == rs->cap) {
        size_t ncap = rs->cap ? rs->cap * 2 : 1024;
        struct intent_entry *e = realloc(rs->e, ncap * sizeof *e);
        if (!e)
            return ax_fail(err, AX_EINTERNAL, "out of memory");
        rs->e = e;
        rs->cap = ncap;
    }
    struct intent_entry *e = &rs->e[rs->n];
    e->intent = strdup(cell(row, cols[COL_INTENT]));
    e->term = strdup(cell(row, cols[COL_TERM]));
    e->lang = strdup(cell(row, cols[COL_LANG]));
    e->weight = weight;
    e->row = row->row;
    rs->n++;
    if (!e->intent || !e->term || !e->lang)
        return ax_fail(err, AX_EINTERNAL, "out of memory");
    return 0;
}

int intent_dict_load_csv(const char *path, struct intent_dict **out,
                         struct intent_report *report, struct ax_err *err)
{
    *out = NULL;
    if (!report)
        return ax_fail(err, AX_EINTERNAL, "intent_dict_load_csv needs a report");
    struct stat st;
    if (stat(path, &st) != 0)
        return ax_fail(err, AX_ENOTFOUND, "cannot open %.200s", path);
    if ((long long)st.st_size > INTENT_MAX_FILE_BYTES)
        return ax_fail(err, AX_ETOOLARGE, "the term table is larger than %lld MB",
                       INTENT_MAX_FILE_BYTES >> 20);
    char enc[CSVIO_ENCODING_MAX];
    bool bom = false;
    if (csvio_sniff(path, enc, &bom, err))
        return -1;
    snprintf(report->encoding, sizeof report->encoding, "%s", enc);
    report->bom = bom;
    struct csvio_opts o = {.encoding = enc, .max_field = CSV_FIELD_MAX, .max_fields = 64};
    struct csvio_reader *r = csvio_open(path, &o, err);
    if (!r)
        return -1;
    struct rows rs = {0};
    int cols[NCOLS], ncells = 0, rc = -1;
    if (read_header(r, cols, &ncells, err))
        goto out;
    struct csvio_row row;
    int got;
    while ((got = csvio_next(r, &row, err)) == 1) {
        if (row.error) {
            report->rows_rejected++;
            add_issue(&report->errors, &report->nerrors, row.row, "%s", row.error);
            continue;
        }
        if (blank_row(&row))
            continue;
        bool extra = false;
        for (int i = ncells; i < row.nfields; i++)
            extra |= row.fields[i][0] != '\0';
        if (extra) {
            report->rows_rejected++;
            add_issue(&report->errors, &report->nerrors, row.row,
                      "the row has %d cells, the header %d", row.nfields, ncells);
            continue;
        }
        if (add_row(&rs, &row, cols, report, err))
            goto out;
    }
    if (got < 0)
        goto out;
    rc = intent_dict_compile(rs.e, rs.n, out, report, err);
out:
    rows_free(&rs);
    csvio_close(r);
    if (report->nerrors)
        qsort(report->errors, report->nerrors, sizeof *report->errors, issue_cmp);
    return rc;
}

/* ---- matching ---- */

struct anchor {             /* folded [f, f+flen) came from original [o, o+olen) */
    size_t f, o;
    uint32_t flen, olen;
};

/* The character just fed, in case a combining mark after it turns out to
 * belong to it: the state before it and where it began. */
enum { SV_NONE, SV_PLAIN, SV_WIDE };

struct save {
    int kind;               /* SV_WIDE: it pushed an anchor */
    uint32_t v;
    size_t o;
};

struct matcher {
    const struct intent_dict *d;
    const unsigned char *t;
    size_t n;
    intent_hit_fn fn;
    void *arg;
    long count;
    bool stop;
    ptrdiff_t delta;        /* original minus folded offset after the last anchor */
    size_t nanchors;        /* pushed in all; the ring keeps the last ANCHOR_RING */
    size_t cur_o, cur_c;    /* code point counting cursor */
    struct anchor ring[ANCHOR_RING];
};

static void push_anchor(struct matcher *m, size_t o, size_t flen, size_t olen)
{
    struct anchor *a = &m->ring[m->nanchors++ % ANCHOR_RING];
    a->f = (size_t)((ptrdiff_t)o - m->delta);
    a->o = o;
    a->flen = (uint32_t)flen;
    a->olen = (uint32_t)olen;
    m->delta += (ptrdiff_t)olen - (ptrdiff_t)flen;
}

static void pop_anchor(struct matcher *m)
{
    const struct anchor *a = &m->ring[--m->nanchors % ANCHOR_RING];
    m->delta -= (ptrdiff_t)a->olen - (ptrdiff_t)a->flen;
}

/* Original offset of folded offset f (a hit's start); *inside when f is
 * strictly inside a stretch that folded as a whole. A hit spans at most
 * ANCHOR_RING - 1 anchors (each holds a folded byte or more), so the
 * anchor at or before its start is still in the ring. */
static size_t map_start(const struct matcher *m, size_t f, bool *inside)
{
    *inside = false;
    size_t lo = m->nanchors > ANCHOR_RING ? m->nanchors - ANCHOR_RING : 0;
    for (size_t j = m->nanchors; j > lo; j--) {
        const struct anchor *a = &m->ring[(j - 1) % ANCHOR_RING];
        if (a->f > f)
            continue;
        if (f < a->f + a->flen) {
            *inside = f > a->f;
            return a->o;
        }
        return (size_t)((ptrdiff_t)f + (ptrdiff_t)(a->o + a->olen) - (ptrdiff_t)(a->f + a->flen));
    }
    return f;
}

static size_t char_index(struct matcher *m, size_t o)
{
    while (m->cur_o < o)
        m->cur_c += (m->t[m->cur_o++] & 0xC0) != 0x80;
    while (m->cur_o > o)
        m->cur_c -= (m->t[--m->cur_o] & 0xC0) != 0x80;
    return m->cur_c;
}

/* The code point ending just before original offset o, or -1. */
static int cp_before(const unsigned char *t, size_t o)
{
    if (o == 0)
        return -1;
    size_t s = o - 1;
    while (s > 0 && o - s < 4 && (t[s] & 0xC0) == 0x80)
        s--;
    int cp;
    if (t[s] < 0x80)
        return t[s];
    return text_decode((const char *)t + s, o - s, &cp) == (int)(o - s) ? cp : -1;
}

static int cp_at(const unsigned char *t, size_t n, size_t o)
{
    if (o >= n)
        return -1;
    if (t[o] < 0x80)
        return t[o];
    int cp;
    return text_decode((const char *)t + o, n - o, &cp) ? cp : -1;
}

/* One candidate: check boundaries, map offsets, deliver per intent.
 * `fold_next` is the rest of a cluster when the hit ends inside one. */
static void try_hit(struct matcher *m, const struct pattern *p, size_t f_end, size_t o_end,
                    const unsigned char *fold_next, size_t fold_left)
{
    bool inside;
    size_t o_start = map_start(m, f_end - p->len, &inside);
    if (inside && p->need_left)
        return;
    if (p->need_left && word_char(cp_before(m->t, o_start)))
        return;
    int next = -1;
    if (fold_next)
        text_decode((const char *)fold_next, fold_left, &next);
    else
        next = cp_at(m->t, m->n, o_end);
    if (next >= 0x300 && joins_previous(next))
        return;
    if (p->need_right && word_char(next))
        return;
    struct intent_hit h = {0};
    h.start = o_start;
    h.end = o_end;
    h.char_start = char_index(m, o_start);
    h.char_end = char_index(m, o_end);
    for (uint32_t k = 0; k < p->n && !m->stop; k++) {
        const struct intent_term *t = &m->d->terms[m->d->pat_terms[p->first + k]];
        h.term = m->d->pat_terms[p->first + k];
        h.intent = t->intent_index;
        h.weight = t->weight;
        m->count++;
        if (m->fn && m->fn(m->arg, &h))
            m->stop = true;
    }
}

static __attribute__((noinline)) void emit(struct matcher *m, uint32_t v, size_t f_end,
                                           size_t o_end, const unsigned char *fold_next,
                                           size_t fold_left)
{
    const struct intent_dict *d = m->d;
    int64_t x = (int64_t)state_index(d, v);
    if (d->own[x] == NO_STATE)
        x = d->outlink[x];
    while (x != NO_STATE && !m->stop) {
        try_hit(m, &d->pats[d->own[x]], f_end, o_end, fold_next, fold_left);
        x = d->outlink[x];
    }
}

/* While in the root state: skip what cannot start a term. Returns the
 * first position to handle; *last = start of the last code point skipped. */
static size_t skip_root(const struct intent_dict *d, const unsigned char *t, size_t n,
                        size_t i, size_t *last)
{
    while (i < n) {
        unsigned c = t[i];
        if (c < 0x80) {
            /* Inside a word nothing can start: terms that begin with a
             * letter or digit need a word boundary before them. */
            if (d->skip_ascii[c] || (i > 0 && ascii_word(c) && ascii_word(t[i - 1]))) {
                *last = i++;
                continue;
            }
            return i;
        }
        if (c >= 0xE0 && c < 0xF0) {
            if (i + 2 >= n)
                return i;
            unsigned c1 = t[i + 1], c2 = t[i + 2];
            if (((c1 ^ 0x80) | (c2 ^ 0x80)) >= 0x40)
                return i;
            unsigned cp = ((c & 0x0Fu) << 12) | ((c1 & 0x3Fu) << 6) | (c2 & 0x3Fu);
            if (cp < 0x800 || !(d->skip_cp[cp >> 6] >> (cp & 63) & 1))
                return i;
            *last = i;
            i += 3;
            continue;
        }
        if (c >= 0xC2 && c < 0xE0) {
            if (i + 1 >= n || (t[i + 1] & 0xC0) != 0x80)
                return i;
            unsigned cp = ((c & 0x1Fu) << 6) | (t[i + 1] & 0x3Fu);
            if (!(d->skip_cp[cp >> 6] >> (cp & 63) & 1))
                return i;
            *last = i;
            i += 2;
            continue;
        }
        return i;
    }
    return i;
}

/* Decode a 2- or 3-byte sequence quickly; 0 when it is anything else. */
static inline size_t decode23(const unsigned char *t, size_t left, int *cp)
{
    unsigned c = t[0];
    if (c >= 0xE0 && c < 0xF0 && left >= 3 && ((t[1] ^ 0x80) | (t[2] ^ 0x80)) < 0x40) {
        unsigned v = ((c & 0x0Fu) << 12) | ((t[1] & 0x3Fu) << 6) | (t[2] & 0x3Fu);
        if (v < 0x800 || (v >= 0xD800 && v <= 0xDFFF))
            return 0;
        *cp = (int)v;
        return 3;
    }
    if (c >= 0xC2 && c < 0xE0 && left >= 2 && (t[1] & 0xC0) == 0x80) {
        *cp = (int)(((c & 0x1Fu) << 6) | (t[1] & 0x3Fu));
        return 2;
    }
    return 0;
}

/* White space: a run becomes one space. */
static uint32_t feed_space(struct matcher *m, uint32_t v, size_t *pi)
{
    size_t i = *pi, j = i;
    while (j < m->n) {
        if (ascii_space[m->t[j]]) {
            j++;
            continue;
        }
        int cp;
        size_t k = decode23(m->t + j, m->n - j, &cp);
        if (k && cp_kind[cp] == K_SPACE) {
            j += k;
            continue;
        }
        break;
    }
    if (j - i > 1 || m->t[i] != ' ')
        push_anchor(m, i, 1, j - i);
    *pi = j;
    return ac_step(m->d, v, m->d->cls[' ']);
}

/* A character that does not fold to itself, with the combining marks
 * after it; when it is a mark itself, the character fed just before it
 * is taken back and folded with it. */
static uint32_t feed_cluster(struct matcher *m, uint32_t v, size_t *pi, struct save *sv)
{
    const struct intent_dict *d = m->d;
    size_t o0 = *pi;
    int cp;
    int k = text_decode((const char *)m->t + o0, m->n - o0, &cp);
    if (k == 0) {       /* a bad byte: like a byte no term contains */
        *pi = o0 + 1;
        sv->kind = SV_NONE;
        return 0;
    }
    size_t j = o0 + (size_t)k, ncp = 1;
    if (sv->kind != SV_NONE && joins_previous(cp)) {
        if (sv->kind == SV_WIDE)
            pop_anchor(m);
        v = sv->v;
        o0 = sv->o;
        ncp++;
    }
    sv->kind = SV_NONE;
    while (j < m->n && ncp < CLUSTER_MAX) {
        int c2;
        int k2 = text_decode((const char *)m->t + j, m->n - j, &c2);
        if (k2 == 0 || !joins_previous(c2))
            break;
        j += (size_t)k2;
        ncp++;
    }
    utf8proc_int32_t buf[CLUSTER_CPS];
    utf8proc_ssize_t nd = utf8proc_decompose(m->t + o0, (utf8proc_ssize_t)(j - o0), buf,
                                             CLUSTER_CPS - 1, FOLD_OPTS);
    if (nd < 0 || nd >= CLUSTER_CPS - 1 || (nd = utf8proc_reencode(buf, nd, FOLD_OPTS)) < 0) {
        *pi = j;        /* cannot happen for decoded input; treat as bad bytes */
        return 0;
    }
    const unsigned char *fb = (const unsigned char *)buf;
    size_t nb = (size_t)nd;
    size_t f0 = (size_t)((ptrdiff_t)o0 - m->delta);
    push_anchor(m, o0, nb, j - o0);
    for (size_t q = 0; q < nb; q++) {
        v = ac_step(d, v, d->cls[fb[q]]);
        if ((v & V_OUT) && (q + 1 == nb || (fb[q + 1] & 0xC0) != 0x80))
            emit(m, v, f0 + q + 1, j, q + 1 < nb ? fb + q + 1 : NULL, nb - q - 1);
    }
    *pi = j;
    return v;
}

#define FOLDED(m, i) ((size_t)((ptrdiff_t)(i) - (m)->delta))

long intent_match(const struct intent_dict *d, const char *text, size_t len,
                  intent_hit_fn fn, void *arg, struct ax_err *err)
{
    pthread_once(&kind_once, kind_init);
    struct matcher *m = malloc(sizeof *m);
    if (!m)
        return ax_fail(err, AX_EINTERNAL, "out of memory");
    m->d = d;
    m->t = (const unsigned char *)text;
    m->n = len;
    m->fn = fn;
    m->arg = arg;
    m->count = 0;
    m->stop = false;
    m->delta = 0;
    m->nanchors = 0;
    m->cur_o = m->cur_c = 0;
    const unsigned char *t = m->t;
    const uint8_t *cls = d->cls;
    struct save sv = {SV_NONE, 0, 0};
    uint32_t v = 0;
    size_t i = 0;
    while (i < len && !m->stop) {
        if (v == 0) {
            size_t last = SIZE_MAX;
            i = skip_root(d, t, len, i, &last);
            if (last != SIZE_MAX)
                sv = (struct save){SV_PLAIN, 0, last};
            if (i >= len)
                break;
        }
        unsigned c = t[i];
        if (c < 0x80) {
            if (ascii_space[c]) {
                v = feed_space(m, v, &i);
                sv.kind = SV_NONE;
                continue;
            }
            sv = (struct save){SV_PLAIN, v, i};
            v = ac_step(d, v, cls[c]);
            i++;
            if (v & V_OUT)
                emit(m, v, FOLDED(m, i), i, NULL, 0);
            continue;
        }
        int cp;
        size_t k = decode23(t + i, len - i, &cp);
        int kind = k ? cp_kind[cp] : K_SLOW;
        if (kind == K_IDENT) {
            sv = (struct save){SV_PLAIN, v, i};
            v = ac_step(d, v, cls[t[i]]);
            v = ac_step(d, v, cls[t[i + 1]]);
            if (k == 3)
                v = ac_step(d, v, cls[t[i + 2]]);
            i += k;
            if (v & V_OUT)
                emit(m, v, FOLDED(m, i), i, NULL, 0);
        } else if (kind == K_SPACE) {
            v = feed_space(m, v, &i);
            sv.kind = SV_NONE;
        } else if (kind == K_WIDE) {
            sv = (struct save){SV_WIDE, v, i};
            push_anchor(m, i, 1, k);
            v = ac_step(d, v, cls[cp - 0xFEE0]);   /* upper case shares the class */
            i += k;
            if (v & V_OUT)
                emit(m, v, FOLDED(m, i), i, NULL, 0);
        } else {
            v = feed_cluster(m, v, &i, &sv);
        }
    }
    long count = m->count;
    free(m);
    return count;
}

/* ---- aggregation ---- */

struct collect {
    struct intent_hit *hits;
    size_t n, cap;
    bool truncated, oom;
};

static int collect_hit(void *arg, const struct intent_hit *h)
{
    struct collect *c = arg;
    if (c->n == INTENT_RESULT_MAX_HITS) {
        c->truncated = true;
        return 1;
    }
    if (c->n == c->cap) {
        size_t ncap = c->cap ? c->cap * 2 : 16;
        struct intent_hit *p = realloc(c->hits, ncap * sizeof *p);
        if (!p) {
            c->oom = true;
            return 1;
        }
        c->hits = p;
        c->cap = ncap;
    }
    c->hits[c->n++] = *h;
    return 0;
}

static int hit_cmp(const void *a, const void *b)
{
    const struct intent_hit *x = a, *y = b;
    if (x->intent != y->intent)
        return x->intent < y->intent ? -1 : 1;
    if (x->start != y->start)
        return x->start < y->start ? -1 : 1;
    if (x->end != y->end)
        return x->end > y->end ? -1 : 1;
    return (x->term > y->term) - (x->term < y->term);
}

/* Within one intent's hits (sorted by start, longest first): a hit inside
 * a longer one is not counted, nor a term already counted. */
static double score_group(struct intent_hit *h, size_t n)
{
    double score = 0;
    for (size_t i = 0; i < n; i++) {
        bool counted = true;
        for (size_t j = 0; j < i && counted; j++) {
            bool covers = h[j].end >= h[i].end &&
                          (h[j].start < h[i].start || h[j].end > h[i].end);
            if (covers || (h[j].counted && h[j].term == h[i].term))
                counted = false;
        }
        h[i].counted = counted;
        if (counted)
            score += h[i].weight;
    }
    return score;
}

static int score_cmp(const void *a, const void *b, void *arg)
{
    const struct intent_dict *d = arg;
    const struct intent_score *x = a, *y = b;
    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    return strcmp(d->intents[x->intent], d->intents[y->intent]);
}

int intent_tag(const struct intent_dict *d, const char *text, size_t len,
               struct intent_result *res, struct ax_err *err)
{
    memset(res, 0, sizeof *res);
    struct collect c = {0};
    if (intent_match(d, text, len, collect_hit, &c, err) < 0 || c.oom) {
        free(c.hits);
        return ax_fail(err, AX_EINTERNAL, "out of memory");
    }
    qsort(c.hits, c.n, sizeof *c.hits, hit_cmp);
    size_t groups = 0;
    for (size_t i = 0; i < c.n; i++)
        groups += i == 0 || c.hits[i].intent != c.hits[i - 1].intent;
    struct intent_score *sc = calloc(groups ? groups : 1, sizeof *sc);
    struct intent_hit *out = malloc((c.n ? c.n : 1) * sizeof *out);
    if (!sc || !out) {
        free(sc);
        free(out);
        free(c.hits);
        return ax_fail(err, AX_EINTERNAL, "out of memory");
    }
    size_t g = 0;
    for (size_t i = 0; i < c.n;) {
        size_t j = i;
        while (j < c.n && c.hits[j].intent == c.hits[i].intent)
            j++;
        sc[g].intent = c.hits[i].intent;
        sc[g].first_hit = i;
        sc[g].nhits = j - i;
        sc[g].score = score_group(c.hits + i, j - i);
        g++;
        i = j;
    }
    qsort_r(sc, groups, sizeof *sc, score_cmp, (void *)d);
    size_t k = 0;
    for (size_t i = 0; i < groups; i++) {
        memcpy(out + k, c.hits + sc[i].first_hit, sc[i].nhits * sizeof *out);
        sc[i].first_hit = k;
        k += sc[i].nhits;
    }
    free(c.hits);
    res->hits = out;
    res->nhits = c.n;
    res->truncated = c.truncated;
    res->intents = sc;
    res->nintents = groups;
    return 0;
}

void intent_result_free(struct intent_result *res)
{
    if (!res)
        return;
    free(res->hits);
    free(res->intents);
    memset(res, 0, sizeof *res);
}

json_t *intent_result_json(const struct intent_dict *d, const struct intent_result *res,
                           const char *text, size_t len, long long version)
{
    json_t *root = json_object(), *intents = json_array();
    if (!root || !intents) {
        json_decref(root);
        json_decref(intents);
        return NULL;
    }
    json_object_set_new(root, "intents", intents);
    for (size_t i = 0; i < res->nintents; i++) {
        const struct intent_score *s = &res->intents[i];
        json_t *hits = json_array();
        json_t *o = json_pack("{sssfso}", "intent", d->intents[s->intent], "score", s->score,
                              "hits", hits);
        if (!o || json_array_append_new(intents, o)) {
            json_decref(root);
            return NULL;
        }
        for (size_t j = 0; j < s->nhits; j++) {
            const struct intent_hit *h = &res->hits[s->first_hit + j];
            json_t *ht = h->end <= len ? json_stringn(text + h->start, h->end - h->start) : NULL;
            json_t *x = json_pack("{sssIsIsIsIsosfsb}", "term", d->terms[h->term].term,
                                  "start", (json_int_t)h->start, "end", (json_int_t)h->end,
                                  "char_start", (json_int_t)h->char_start,
                                  "char_end", (json_int_t)h->char_end,
                                  "text", ht ? ht : json_null(), "weight", h->weight,
                                  "counted", (int)h->counted);
            if (!x || json_array_append_new(hits, x)) {
                json_decref(root);
                return NULL;
            }
        }
    }
    json_object_set_new(root, "dictionary_version", json_integer(version));
    if (res->truncated)
        json_object_set_new(root, "truncated", json_true());
    return root;
}
