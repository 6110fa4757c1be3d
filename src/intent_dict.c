/*
 * intent_dict.c - business-intent dictionaries: validation and merging of
 * term tables, CSV loading, one-pass matching with on-the-fly folding, and
 * per-intent aggregation.
 *
 * Matching is a prefix filter in front of a code point trie. One pass
 * reads the text as units (a character, a run of white space, or a
 * character with its combining marks) and folds each on the fly: most
 * characters fold to themselves (CJK, kana, hangul, lower-case letters,
 * most punctuation), ASCII is lower-cased, full-width ASCII mapped, a
 * white-space run becomes one space; only the rest goes through utf8proc,
 * and nothing is copied. For each unit the pass loads one 64-bit word of
 * a bitmap of hashed term prefixes (the word picked by the unit's folded
 * code point and the next one, the bit by the one after). Only a "maybe"
 * (about one unit in twenty with the default dictionary on the review
 * data) walks the trie from there, starting two levels down from a small
 * table keyed by those code points, and reports every term that starts
 * at that unit. So every occurrence, overlapping ones too, is found at
 * its start, and original offsets need no mapping.
 *
 * The first version was an Aho-Corasick DFA over the folded bytes (byte
 * classes, failure links folded into the rows, sparse rows past a memory
 * budget; in git history, same results on the tests and on 29k mutated
 * review lines). On bench/intent_speed.c it ran at ~185 MB/s, this one at
 * ~280 MB/s: with thousands of CJK terms the DFA's rows do not stay in
 * cache, and each byte's transition waits for the previous one, while the
 * filter probes of successive units are independent loads.
 */
#include "axon/intent_dict.h"

#include "axon/buf.h"
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

#define CLUSTER_MAX 32          /* code points folded together (stream-safe) */
#define CLUSTER_CPS (CLUSTER_MAX * 18 + 8)  /* NFKC expands one code point to <= 18 */
#define CSV_FIELD_MAX 4096

/* Folded code points the filter sees besides real ones, and a flag. */
#define FC_WILD 0x200000u       /* folds to something the filter does not know */
#define FC_SEP 0x400000u        /* a bad byte: in no term */
#define FC_END 0x800000u        /* past the end of the text */
#define FC_NOSTART 0x1000000u   /* flag: no term starts at this unit */

/* ---- code point kinds (shared, built once) ---- */

/* K_IDENT folds to itself, is a starter and never combines with what
 * precedes it; K_SPACE folds to " "; K_WIDE is full-width ASCII; K_JOIN
 * combines with what precedes it (a mark, a hangul vowel or final);
 * K_SLOW is anything else. */
enum { K_SLOW, K_IDENT, K_SPACE, K_WIDE, K_JOIN };

static uint8_t cp_kind[0x10000];
static pthread_once_t kind_once = PTHREAD_ONCE_INIT;

static bool is_jamo_vt(int cp)
{
    return (cp >= 0x1160 && cp <= 0x11FF) || (cp >= 0xD7B0 && cp <= 0xD7FF);
}

static bool is_mark(const utf8proc_property_t *p)
{
    return p->category == UTF8PROC_CATEGORY_MN || p->category == UTF8PROC_CATEGORY_MC ||
           p->category == UTF8PROC_CATEGORY_ME;
}

/* Does the code point fold to something that starts with a character
 * that combines with what precedes it? */
static bool joins_slow(int cp)
{
    utf8proc_int32_t d[32];
    int bc = 0;
    utf8proc_ssize_t n = utf8proc_decompose_char(cp, d, 32,
                                                 UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT |
                                                     UTF8PROC_CASEFOLD, &bc);
    int first = n >= 1 && n <= 32 ? d[0] : cp;
    const utf8proc_property_t *p = utf8proc_get_property(first);
    return p->combining_class != 0 || is_mark(p) || is_jamo_vt(first);
}

static bool joins_previous(int cp)
{
    if (cp < 0x300)
        return false;
    if (cp < 0x10000)
        return cp_kind[cp] == K_JOIN;
    return joins_slow(cp);
}

static const uint8_t ascii_space[256] = {
    ['\t'] = 1, ['\n'] = 1, ['\v'] = 1, ['\f'] = 1, ['\r'] = 1, [' '] = 1,
};

static void kind_init(void)
{
    for (int cp = 0; cp < 0x80; cp++)
        cp_kind[cp] = ascii_space[cp] ? K_SPACE : K_IDENT;
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
        else if (n == 1 && d[0] == cp && p->combining_class == 0 && !is_mark(p) &&
                 !is_jamo_vt(cp))
            cp_kind[cp] = K_IDENT;
        else
            cp_kind[cp] = joins_slow(cp) ? K_JOIN : K_SLOW;
    }
}

static bool ascii_word(unsigned c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_';
}

static inline unsigned ascii_lower(unsigned c)
{
    return c - 'A' < 26u ? c + 32 : c;
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
    uint32_t first, n;      /* its terms in pat_terms (one per intent) */
    bool need_left, need_right;
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

    /* Term prefixes, hashed: the word picked by a term's first two code
     * points has the bit picked by its third (or, for a two-character
     * term, by the two); one-character terms use (cp, FILTER_ONE). One
     * 64-bit load answers "may a term start here?". */
    uint64_t *filter;
    unsigned filter_shift;      /* 64 - log2(words) */
    bool has_single;

    /* Code point trie, node 0 the root. Each edge is one 64-bit slot of
     * an open addressing table: key (parent, code point), child node and
     * the child's flags (spells a term, has children), so a step of the
     * walk reads one slot. The nodes one and two steps from the root are
     * also in a small table keyed by their first code points, where the
     * filter already looked: most walks start there. */
    uint64_t *edges;            /* 0 = empty slot */
    unsigned edge_shift;
    size_t edge_mask;
    uint64_t *pairs;            /* (a, b) or (a, PAIR_ONE) -> node, flags */
    unsigned pair_shift;
    size_t pair_mask;
    int32_t *node_pattern;      /* pattern spelled by each node, or -1 */
    size_t nnodes;
    size_t memory;
};

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
    free(d->filter);
    free(d->edges);
    free(d->pairs);
    free(d->node_pattern);
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
    /* Punctuation, marks or invisible characters alone would hit every
     * hyphen or every zero-width space in every text. */
    if (!text_has_words(f, w)) {
        free(f);
        *why = "has no letter or digit";
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
        snprintf(msg, cap, "weight %.10g is not in (0, 100]", e->weight);
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

/* ---- building the matcher ---- */

static inline uint64_t mix64(uint64_t x) { return x * 0x9E3779B97F4A7C15ull; }

#define FILTER_ONE FC_SEP       /* second half of a one-character term's key */

/* The filter word of a term starting (a, b) and the bit that says "a term
 * ends after a and b". */
static inline uint64_t filter_hash(uint32_t a, uint32_t b)
{
    return mix64((uint64_t)a << 24 | b);
}

static inline uint64_t filter_end_bit(uint64_t h)
{
    return (uint64_t)1 << (h >> 32 & 63);
}

/* The bit of a term whose third code point is c. */
static inline uint64_t filter_bit(uint32_t c)
{
    return (uint64_t)1 << ((c * 0x9E3779B1u) >> 26);
}

static void filter_add(struct intent_dict *d, uint32_t a, uint32_t b, const uint32_t *third)
{
    uint64_t h = filter_hash(a, b);
    d->filter[h >> d->filter_shift] |= third ? filter_bit(*third) : filter_end_bit(h);
}

/* Trie slots. Edge: code point (bits 0-20), parent + 1 (21-40), child
 * (41-60). Pair: b (0-20), a (21-41), node (42-61). Both: the node's
 * flags in bits 62 and 63. 0 is an empty slot. */
#define NODE_BITS 20
#define NODE_MASK ((1u << NODE_BITS) - 1)
#define SLOT_TERM ((uint64_t)1 << 62)
#define SLOT_KIDS ((uint64_t)1 << 63)
#define EDGE_KEY (((uint64_t)1 << 41) - 1)
#define PAIR_KEY (((uint64_t)1 << 42) - 1)
#define PAIR_ONE 0x1FFFFFu      /* b of a one-character prefix: not a code point */
_Static_assert(INTENT_MAX_TOTAL_CHARS + 1 < NODE_MASK, "node ids must fit NODE_BITS");

static inline uint32_t edge_child(uint64_t v) { return (uint32_t)(v >> 41) & NODE_MASK; }
static inline uint32_t pair_node(uint64_t v) { return (uint32_t)(v >> 42) & NODE_MASK; }

/* The slot of the edge from `parent` by `cp`, or -1. */
static inline int64_t edge_find(const struct intent_dict *d, uint32_t parent, uint32_t cp)
{
    uint64_t key = (uint64_t)(parent + 1) << 21 | cp;
    for (size_t s = (size_t)(mix64(key) >> d->edge_shift);; s = (s + 1) & d->edge_mask) {
        uint64_t v = d->edges[s];
        if ((v & EDGE_KEY) == key)
            return (int64_t)s;
        if (v == 0)
            return -1;
    }
}

static size_t edge_add(struct intent_dict *d, uint32_t parent, uint32_t cp, uint32_t child)
{
    uint64_t key = (uint64_t)(parent + 1) << 21 | cp;
    size_t s = (size_t)(mix64(key) >> d->edge_shift);
    while (d->edges[s])
        s = (s + 1) & d->edge_mask;
    d->edges[s] = key | (uint64_t)child << 41;
    return s;
}

/* The pair slot value for (a, b), or 0. */
static inline uint64_t pair_get(const struct intent_dict *d, uint32_t a, uint32_t b)
{
    uint64_t key = (uint64_t)a << 21 | b;
    for (size_t s = (size_t)(mix64(key) >> d->pair_shift);; s = (s + 1) & d->pair_mask) {
        uint64_t v = d->pairs[s];
        if ((v & PAIR_KEY) == key || v == 0)
            return v;
    }
}

static void pair_put(struct intent_dict *d, uint32_t a, uint32_t b, uint64_t edge)
{
    uint64_t key = (uint64_t)a << 21 | b;
    size_t s = (size_t)(mix64(key) >> d->pair_shift);
    while (d->pairs[s] && (d->pairs[s] & PAIR_KEY) != key)
        s = (s + 1) & d->pair_mask;
    d->pairs[s] = key | (uint64_t)edge_child(edge) << 42 | (edge & (SLOT_TERM | SLOT_KIDS));
}

static int pat_cmp_folded(const void *a, const void *b, void *arg)
{
    const struct intent_term *terms = arg;
    const uint32_t *x = a, *y = b;
    int c = strcmp(terms[*x].folded, terms[*y].folded);
    return c ? c : (*x > *y) - (*x < *y);
}

static const char *pat_folded(const struct intent_dict *d, size_t i)
{
    return d->terms[d->pat_terms[d->pats[i].first]].folded;
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

static unsigned log2_ceil(size_t n)
{
    unsigned b = 0;
    while (((size_t)1 << b) < n)
        b++;
    return b;
}

/* The trie over folded code points, the pair table and the filter. */
static int build_trie(struct intent_dict *d)
{
    size_t total = 0;
    for (size_t i = 0; i < d->npats; i++)
        total += text_length(pat_folded(d, i), strlen(pat_folded(d, i)));
    if (total > INTENT_MAX_TOTAL_CHARS)
        return 1;
    /* A word for every term: a few percent of false "maybe"s. */
    unsigned fbits = log2_ceil(d->npats + 1);
    fbits = fbits < 9 ? 9 : fbits > 24 ? 24 : fbits;
    d->filter_shift = 64 - fbits;
    d->filter = calloc((size_t)1 << fbits, sizeof *d->filter);
    unsigned ebits = log2_ceil(total * 2 + 2);
    d->edge_shift = 64 - ebits;
    d->edge_mask = ((size_t)1 << ebits) - 1;
    d->edges = calloc(d->edge_mask + 1, sizeof *d->edges);
    d->node_pattern = malloc((total + 1) * sizeof *d->node_pattern);
    if (!d->filter || !d->edges || !d->node_pattern)
        return -1;
    d->nnodes = 1;
    d->node_pattern[0] = -1;
    for (size_t i = 0; i < d->npats; i++) {
        const char *f = pat_folded(d, i);
        size_t n = strlen(f), ncp = 0;
        uint32_t node = 0, head[3] = {0, 0, 0};
        int64_t slot = -1;
        for (size_t o = 0; o < n;) {
            int cp = 0;
            o += (size_t)text_decode(f + o, n - o, &cp);
            if (ncp < 3)
                head[ncp] = (uint32_t)cp;
            ncp++;
            if (slot >= 0)
                d->edges[slot] |= SLOT_KIDS;
            slot = edge_find(d, node, (uint32_t)cp);
            if (slot < 0) {
                uint32_t child = (uint32_t)d->nnodes++;
                d->node_pattern[child] = -1;
                slot = (int64_t)edge_add(d, node, (uint32_t)cp, child);
            }
            node = edge_child(d->edges[slot]);
        }
        d->edges[slot] |= SLOT_TERM;
        d->node_pattern[node] = (int32_t)i;
        if (ncp == 1)
            d->has_single = true;
        filter_add(d, head[0], ncp == 1 ? FILTER_ONE : head[1], ncp <= 2 ? NULL : &head[2]);
    }
    /* The pair table, now that the flags are final. */
    unsigned pbits = log2_ceil(d->npats * 4 + 2);
    d->pair_shift = 64 - pbits;
    d->pair_mask = ((size_t)1 << pbits) - 1;
    d->pairs = calloc(d->pair_mask + 1, sizeof *d->pairs);
    if (!d->pairs)
        return -1;
    for (size_t i = 0; i < d->npats; i++) {
        const char *f = pat_folded(d, i);
        size_t n = strlen(f);
        int a = 0, b = 0;
        int k = text_decode(f, n, &a);
        uint64_t e1 = d->edges[edge_find(d, 0, (uint32_t)a)];
        pair_put(d, (uint32_t)a, PAIR_ONE, e1);
        if ((size_t)k < n && text_decode(f + k, n - (size_t)k, &b))
            pair_put(d, (uint32_t)a, (uint32_t)b, d->edges[edge_find(d, edge_child(e1), (uint32_t)b)]);
    }
    d->memory = sizeof *d + ((size_t)8 << fbits) + (d->edge_mask + 1) * 8 +
                (d->pair_mask + 1) * 8 + (total + 1) * 4;
    return 0;
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
    size_t nw = 0;
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
    qsort(w, nw, sizeof *w, work_cmp);
    if (take_terms(d, w, nw, report) || build_patterns(d) ||
        (rc = build_trie(d)) < 0) {
        rc = -1;
        ax_fail(err, AX_EINTERNAL, "out of memory");
        goto out;
    }
    if (rc > 0) {
        rc = -1;
        ax_fail(err, AX_ETOOLARGE, "the terms have more than %d characters in all",
                INTENT_MAX_TOTAL_CHARS);
        goto out;
    }
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
    /* Decimal only: strtod would take 0x10 as 16, and inf or nan. */
    for (const char *p = s; *p && !ascii_space[(unsigned char)*p]; p++)
        if (!strchr("0123456789.eE+-", *p))
            return false;
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
    return intent_dict_load_csv_as(path, NULL, out, report, err);
}

int intent_dict_load_csv_as(const char *path, const char *encoding, struct intent_dict **out,
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
    /* A byte-order mark wins over what the client declared (csvio does so). */
    if (encoding && *encoding && !bom && csvio_check_encoding(encoding, enc, err))
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

/* The code point at o: bytes used, 0 when the byte there is bad. */
static size_t decode_any(const unsigned char *t, size_t n, size_t o, int *cp)
{
    if (t[o] < 0x80) {
        *cp = t[o];
        return 1;
    }
    size_t k = decode23(t + o, n - o, cp);
    return k ? k : (size_t)text_decode((const char *)t + o, n - o, cp);
}

static int kind_of(int cp)
{
    return cp < 0x10000 ? cp_kind[cp] : joins_slow(cp) ? K_JOIN : K_SLOW;
}

/* End of the white-space run starting at o. */
static size_t space_run(const unsigned char *t, size_t n, size_t o)
{
    while (o < n) {
        if (ascii_space[t[o]]) {
            o++;
            continue;
        }
        int cp;
        size_t k = decode23(t + o, n - o, &cp);
        if (!k || cp_kind[cp] != K_SPACE)
            break;
        o += k;
    }
    return o;
}

/* Does a character that combines with the one before it start at o?
 * (They are all U+0300 or above, lead byte >= 0xCC, and none is in
 * U+4000..U+9FFF, lead bytes E4..E9, the bulk of CJK.) */
static bool joiner_at(const unsigned char *t, size_t n, size_t o)
{
    int cp;
    if (o >= n || t[o] < 0xCC || (t[o] >= 0xE4 && t[o] <= 0xE9))
        return false;
    size_t k = decode_any(t, n, o, &cp);
    return k && joins_previous(cp);
}

/* The combining characters from j on belong to the cluster. */
static size_t cluster_end(const unsigned char *t, size_t n, size_t j, size_t ncp)
{
    while (j < n && ncp < CLUSTER_MAX) {
        int cp;
        size_t k = decode_any(t, n, j, &cp);
        if (!k || !joins_previous(cp))
            break;
        j += k;
        ncp++;
    }
    return j;
}

/* A unit of text, folded: one character, a white-space run (" "), or a
 * character with its combining marks (through utf8proc). */
struct unit {
    size_t end;
    size_t n;
    int32_t cp[CLUSTER_CPS];
};

static void read_unit(const unsigned char *t, size_t n, size_t o, struct unit *u)
{
    int cp;
    size_t k = decode_any(t, n, o, &cp);
    u->n = 1;
    if (k == 0) {
        u->cp[0] = FC_SEP;
        u->end = o + 1;
        return;
    }
    int kind = kind_of(cp);
    if (kind == K_SPACE) {
        u->cp[0] = ' ';
        u->end = space_run(t, n, o);
        return;
    }
    if ((kind == K_IDENT || kind == K_WIDE) && !joiner_at(t, n, o + k)) {
        u->cp[0] = kind == K_WIDE ? (int32_t)ascii_lower((unsigned)cp - 0xFEE0)
                                  : cp < 0x80 ? (int32_t)ascii_lower((unsigned)cp) : cp;
        u->end = o + k;
        return;
    }
    u->end = cluster_end(t, n, o + k, 1);
    utf8proc_ssize_t r = utf8proc_decompose(t + o, (utf8proc_ssize_t)(u->end - o), u->cp,
                                            CLUSTER_CPS, FOLD_OPTS);
    if (r > 0 && r <= CLUSTER_CPS)
        r = utf8proc_normalize_utf32(u->cp, r, FOLD_OPTS);
    if (r <= 0 || r > CLUSTER_CPS) {
        u->cp[0] = FC_SEP;  /* cannot happen for decoded text */
        r = 1;
    }
    u->n = (size_t)r;
}

char *intent_fold(const char *text, size_t len)
{
    pthread_once(&kind_once, kind_init);
    const unsigned char *t = (const unsigned char *)text;
    struct unit *u = malloc(sizeof *u);
    struct buf out;
    buf_init(&out, BUF_MAX_DEFAULT);
    int rc = u ? 0 : -1;
    for (size_t o = 0; o < len && rc == 0; o = u->end) {
        read_unit(t, len, o, u);
        for (size_t q = 0; q < u->n && rc == 0; q++) {
            utf8proc_uint8_t e[4];
            int32_t cp = u->cp[q] == (int32_t)FC_SEP ? 0xFFFD : u->cp[q];
            rc = buf_add(&out, e, (size_t)utf8proc_encode_char(cp, e));
        }
    }
    free(u);
    if (rc) {
        buf_free(&out);
        return NULL;
    }
    return buf_detach(&out);
}

struct matcher {
    const struct intent_dict *d;
    const unsigned char *t;
    size_t n;
    intent_hit_fn fn;
    void *arg;
    long count;
    bool stop;
    size_t cur_o, cur_c;    /* code point counting cursor */
};

/* Code points before byte offset o (counting 8 bytes at a time). */
static size_t char_index(struct matcher *m, size_t o)
{
    size_t lo = m->cur_o < o ? m->cur_o : o, hi = m->cur_o < o ? o : m->cur_o, k = 0;
    for (; lo + 8 <= hi; lo += 8) {
        uint64_t x;
        memcpy(&x, m->t + lo, 8);
        uint64_t cont = (x & ~(x << 1) & 0x8080808080808080ull) >> 7;  /* 10xxxxxx */
        k += 8 - (size_t)((cont * 0x0101010101010101ull) >> 56);
    }
    for (; lo < hi; lo++)
        k += (m->t[lo] & 0xC0) != 0x80;
    m->cur_c = m->cur_o < o ? m->cur_c + k : m->cur_c - k;
    m->cur_o = o;
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
    int cp;
    return o < n && decode_any(t, n, o, &cp) ? cp : -1;
}

/* A term spelled out from `start`: check its boundaries, then deliver it
 * once per intent. `next` is the folded code point after it. */
static void emit(struct matcher *m, const struct pattern *p, size_t start, size_t end, int next)
{
    if (next >= 0x110000)
        next = -1;
    if (next >= 0x300 && joins_previous(next))
        return;
    if (p->need_right && word_char(next))
        return;
    if (p->need_left && word_char(cp_before(m->t, start)))
        return;
    struct intent_hit h = {0};
    h.start = start;
    h.end = end;
    h.char_start = char_index(m, start);
    h.char_end = char_index(m, end);
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

/* Walk the trie from a possible start and report each term on the way.
 * The scan knows the start's first two units when they are plain (a, b
 * and where each ends): the walk then begins two steps down, from the
 * pair table. */
static __attribute__((noinline)) void verify(struct matcher *m, size_t start, uint32_t a,
                                             uint32_t b, uint32_t c, size_t end_a, size_t end_b)
{
    const struct intent_dict *d = m->d;
    const unsigned char *t = m->t;
    uint32_t node = 0;
    size_t o = start;
    if (((a | b) & (FC_WILD | FC_SEP | FC_END)) == 0) {
        if (d->has_single) {
            uint64_t v = pair_get(d, a, PAIR_ONE);
            if (v & SLOT_TERM)
                emit(m, &d->pats[d->node_pattern[pair_node(v)]], start, end_a, (int)b);
        }
        uint64_t v = pair_get(d, a, b);
        if (v & SLOT_TERM)
            emit(m, &d->pats[d->node_pattern[pair_node(v)]], start, end_b,
                 c & (FC_WILD | FC_SEP | FC_END) ? cp_at(t, m->n, end_b) : (int)c);
        if (!(v & SLOT_KIDS) || m->stop)
            return;
        node = pair_node(v);
        o = end_b;
    }
    struct unit u;
    for (; o < m->n && !m->stop; o = u.end) {
        int cp;
        size_t k = decode_any(t, m->n, o, &cp);
        int kind = k ? kind_of(cp) : K_SLOW;
        if (kind == K_IDENT && !joiner_at(t, m->n, o + k)) {
            u.n = 1;    /* the common case, without read_unit() */
            u.cp[0] = cp < 0x80 ? (int32_t)ascii_lower((unsigned)cp) : cp;
            u.end = o + k;
        } else {
            read_unit(t, m->n, o, &u);
        }
        for (size_t q = 0; q < u.n; q++) {
            if ((uint32_t)u.cp[q] >= 0x110000)
                return;
            int64_t slot = edge_find(d, node, (uint32_t)u.cp[q]);
            if (slot < 0)
                return;
            uint64_t v = d->edges[slot];
            node = edge_child(v);
            if (v & SLOT_TERM)
                emit(m, &d->pats[d->node_pattern[node]], start, u.end,
                     q + 1 < u.n ? u.cp[q + 1] : cp_at(t, m->n, u.end));
            if (!(v & SLOT_KIDS) || m->stop)
                return;
        }
    }
}

/* Could a term start at the unit whose folded code point is a, followed
 * by b and c? FC_WILD (folded by utf8proc in verify) always could. */
static inline bool maybe(const struct intent_dict *d, uint32_t a, uint32_t b, uint32_t c)
{
    uint64_t h = filter_hash(a, b);
    bool r = (d->filter[h >> d->filter_shift] & (filter_bit(c) | filter_end_bit(h))) |
             ((a | b | c) & FC_WILD);
    if (d->has_single) {
        h = filter_hash(a, FILTER_ONE);
        r |= (d->filter[h >> d->filter_shift] & filter_end_bit(h)) != 0;
    }
    return r;
}

/* Anything but ASCII, full-width ASCII, spaces and characters that fold
 * to themselves: the filter lets verify() fold it. A combining character
 * folds together with the unit before it, so that one becomes wild too. */
static size_t scan_slow(const unsigned char *t, size_t n, size_t i, uint32_t *fc, uint32_t *prev)
{
    int cp;
    size_t k = decode_any(t, n, i, &cp);
    if (k == 0) {
        *fc = FC_SEP | FC_NOSTART;
        return i + 1;
    }
    *fc = FC_WILD;
    if (joins_previous(cp)) {
        *prev |= FC_WILD;
        *fc |= FC_NOSTART;
    }
    return cluster_end(t, n, i + k, 1);
}

/* One unit of the scan that is not ASCII or common CJK: other characters
 * that fold to themselves, full-width ASCII, spaces, and what utf8proc
 * must fold or cannot decode. */
static size_t scan_unit(const unsigned char *t, size_t len, size_t i, uint32_t *fc,
                        uint32_t *prev, bool *w)
{
    int cp;
    size_t n = decode_any(t, len, i, &cp);
    unsigned kind = n ? kind_of(cp) : K_SLOW;
    *w = false;
    if (kind == K_IDENT || kind == K_WIDE) {
        uint32_t base = kind == K_WIDE ? (uint32_t)cp - 0xFEE0 : (uint32_t)cp;
        *fc = ascii_lower(base);
        *w = ascii_word(base);
        return i + n;
    }
    if (kind == K_SPACE) {
        *fc = ' ' | FC_NOSTART;
        return space_run(t, len, i);
    }
    return scan_slow(t, len, i, fc, prev);
}

long intent_match(const struct intent_dict *d, const char *text, size_t len,
                  intent_hit_fn fn, void *arg, struct ax_err *err)
{
    (void)err;
    pthread_once(&kind_once, kind_init);
    struct matcher m = {d, (const unsigned char *)text, len, fn, arg, 0, false, 0, 0};
    const unsigned char *t = m.t;
    /* The last three units, oldest first; it is decided when a new unit
     * comes, so that a combining mark can still change the one before. */
    uint32_t f0 = FC_END | FC_NOSTART, f1 = f0, f2 = f0;
    size_t pos[4] = {0, 0, 0, 0};     /* unit k starts at pos[k & 3] */
    size_t i = 0, k = 0;
    bool word = false;
    for (;;) {
        uint32_t fc;
        size_t start = i;
        bool w = false;
        if (i >= len) {
            if (k == 0 || (f0 & f1 & f2 & FC_END))
                break;
            fc = FC_END | FC_NOSTART;
        } else if (t[i] < 0x80 && !ascii_space[t[i]]) {
            w = ascii_word(t[i]);
            fc = ascii_lower(t[i]);
            i++;
        } else if (t[i] >= 0xE4 && t[i] <= 0xE9 && i + 2 < len &&
                   ((t[i + 1] ^ 0x80) | (t[i + 2] ^ 0x80)) < 0x40) {
            /* U+4000..U+9FFF: CJK, all folding to themselves (kind_init) */
            fc = ((t[i] & 0x0Fu) << 12) | ((t[i + 1] & 0x3Fu) << 6) | (t[i + 2] & 0x3Fu);
            i += 3;
        } else {
            i = scan_unit(t, len, i, &fc, &f2, &w);
        }
        /* Terms that begin with a letter need a word boundary. */
        fc |= w && word ? FC_NOSTART : 0;
        word = w;
        if (!(f0 & FC_NOSTART) && maybe(d, f0, f1 & ~FC_NOSTART, f2 & ~FC_NOSTART)) {
            verify(&m, pos[(k + 1) & 3], f0, f1 & ~FC_NOSTART, f2 & ~FC_NOSTART, pos[(k + 2) & 3],
                   pos[(k + 3) & 3]);
            if (m.stop)
                break;
        }
        f0 = f1;
        f1 = f2;
        f2 = fc;
        pos[k & 3] = start;
        k++;
    }
    return m.count;
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
