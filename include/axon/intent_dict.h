/*
 * intent_dict.h - the business-intent dictionary (业务意图词典): terms and
 * phrases with weights, grouped by intent (price_sensitive, delivery_risk,
 * logistics_anxiety …), matched against free text in one pass.
 *
 * Compiling normalises every term like text_fold() (NFKC + Unicode case
 * folding, so full-width and upper-case forms match) with runs of white
 * space collapsed to one space, and builds a trie over the folded code
 * points plus a bitmap of hashed term prefixes. Matching reads the text
 * once, folding it on the fly; a filter probe per character decides where
 * a term may start, and only there the trie is walked (see intent_dict.c).
 * Every hit maps to the ORIGINAL text (byte and code point offsets), so
 * evidence is shown and highlighted as the customer wrote it.
 *
 * Rules a user sees:
 * - A term whose first (last) character is a letter or digit of a script
 *   written with spaces (Latin, Cyrillic, Greek …) matches only at a word
 *   boundary on that side: "price" does not hit "caprice", "late" does not
 *   hit "chocolate". CJK terms match anywhere.
 * - A hit never ends in front of a combining mark (the mark belongs to
 *   the last character).
 * - Overlapping terms all hit ("物流" and "物流太慢" in "物流太慢了").
 * - The same term in two intents hits both. The same term twice in one
 *   intent is merged (largest weight kept) and reported as a warning.
 * - A term starts at a character of the original text: it does not start
 *   inside what one character folds to ("ss" from "ß" matches, "s" alone
 *   at its second half does not).
 * - Invalid UTF-8 in a text is not an error: each bad byte separates
 *   words and never takes part in a hit.
 * - No negation: "不太贵" contains and hits "太贵".
 *
 * Scoring (intent_tag): an intent's score is the sum of the weights of the
 * DISTINCT terms that hit, each counted once per text however often it
 * occurs; a hit lying inside a longer hit of the same intent ("物流" inside
 * "物流太慢") is kept as evidence but not counted, so a phrase is not
 * scored twice through its own words.
 *
 * Ownership: a dictionary is immutable once compiled and may be shared by
 * any number of threads; intent_dict_free() releases it. An intent_report
 * owns its issue lists (intent_report_free). An intent_result owns its
 * arrays (intent_result_free) and borrows nothing: evidence text is cut
 * from the text passed to intent_result_json().
 */
#ifndef AXON_INTENT_DICT_H
#define AXON_INTENT_DICT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "axon/error.h"

#define INTENT_NAME_MAX 64              /* ^[a-z][a-z0-9_]{0,63}$ */
#define INTENT_TERM_MAX_CHARS 200       /* code points, after folding */
#define INTENT_MAX_TERMS 100000         /* entries accepted from one upload */
#define INTENT_MAX_TOTAL_CHARS 1000000  /* folded characters of all terms together */
#define INTENT_MAX_FILE_BYTES ((long long)16 << 20)
#define INTENT_WEIGHT_MAX 100.0         /* weights are in (0, 100] */
#define INTENT_REPORT_MAX_ISSUES 200    /* errors (and warnings) kept in a report */
#define INTENT_RESULT_MAX_HITS 1000     /* hits kept by intent_tag() */

/* One row of a term table. `row` is the CSV record number (1 = the first
 * after the header; blank lines are not records) or any caller number
 * used in reports; `lang` may be NULL or "". */
struct intent_entry {
    const char *intent;
    const char *term;
    double weight;
    const char *lang;
    long long row;
};

/* A compiled term, as intent_dict_term() shows it. */
struct intent_term {
    const char *intent;     /* intent name */
    const char *term;       /* as written (first spelling seen, trimmed) */
    const char *folded;     /* what is matched */
    const char *lang;       /* "" when not given */
    double weight;
    uint32_t intent_index;
    long long row;          /* where it came from */
};

struct intent_issue {
    long long row;
    char message[160];
};

struct intent_report {
    char encoding[32];      /* of the CSV file, e.g. "UTF-8", "GB18030" */
    bool bom;
    long long rows_accepted;    /* rows that became (or merged into) a term */
    long long rows_rejected;
    long long duplicates;       /* accepted rows merged into an earlier one */
    size_t nerrors, nwarnings;  /* kept, at most INTENT_REPORT_MAX_ISSUES each */
    struct intent_issue *errors;    /* rejected rows, in row order */
    struct intent_issue *warnings;  /* merged duplicates */
};

struct intent_dict;

void intent_report_init(struct intent_report *r);
void intent_report_free(struct intent_report *r);

/* Build a dictionary. Bad entries are skipped and listed in `report`
 * (row numbers from the entries); with a NULL report the first bad entry
 * fails the call. Fails when no entry is usable or a limit is passed. */
int intent_dict_compile(const struct intent_entry *entries, size_t n,
                        struct intent_dict **out, struct intent_report *report,
                        struct ax_err *err);

/* Load a term table: header row naming intent,term[,weight][,lang] in any
 * order (case-insensitive); UTF-8 with or without BOM, or GB18030/GBK as
 * Excel saves it (detected). Bad rows are reported with their row numbers
 * and do not stop the good ones; `report` is required. */
int intent_dict_load_csv(const char *path, struct intent_dict **out,
                         struct intent_report *report, struct ax_err *err);
/* The same with the file's encoding declared ("ISO-8859-1", "GBK"); NULL
 * or "" sniffs it. A byte-order mark still wins. */
int intent_dict_load_csv_as(const char *path, const char *encoding, struct intent_dict **out,
                            struct intent_report *report, struct ax_err *err);

void intent_dict_free(struct intent_dict *d);

size_t intent_dict_intent_count(const struct intent_dict *d);
const char *intent_dict_intent_name(const struct intent_dict *d, size_t i);
size_t intent_dict_intent_terms(const struct intent_dict *d, size_t i);   /* terms in intent i */
size_t intent_dict_term_count(const struct intent_dict *d);
const struct intent_term *intent_dict_term(const struct intent_dict *d, size_t i);
/* Hex BLAKE2b-128 of the compiled content (intents, folded terms, weights,
 * langs) in canonical order: equal digests mean equal dictionaries, so an
 * unchanged upload need not bump the dictionary version. */
const char *intent_dict_digest(const struct intent_dict *d);
size_t intent_dict_memory(const struct intent_dict *d);  /* bytes held */

/* {"encoding","bom","rows_accepted","rows_rejected","duplicates","terms",
 *  "intents":{name:count…},"errors":[{"row","message"}…],"warnings":[…],
 *  "digest"}; `d` may be NULL (failed load). New reference. */
json_t *intent_report_json(const struct intent_report *r, const struct intent_dict *d);

/* ---- matching ---- */

struct intent_hit {
    uint32_t term;          /* intent_dict_term() index */
    uint32_t intent;        /* intent_dict_intent_name() index */
    double weight;
    size_t start, end;              /* bytes of the original text, [start, end) */
    size_t char_start, char_end;    /* the same in code points */
    bool counted;           /* intent_tag(): adds to the score */
};

/* Called for every hit in order of `start` (shorter first); return
 * non-zero to stop. */
typedef int (*intent_hit_fn)(void *arg, const struct intent_hit *hit);

/* One pass over `text`; returns the number of hits delivered. Allocates
 * nothing; safe to call from many threads on one dictionary. `err` is
 * reserved (may be NULL). */
long intent_match(const struct intent_dict *d, const char *text, size_t len,
                  intent_hit_fn fn, void *arg, struct ax_err *err);

/* The text as the matcher sees it (malloc'd; NULL when out of memory):
 * folded like text_fold(), white-space runs as one space, bad bytes as
 * U+FFFD. For showing why a term matched, and for tests. */
char *intent_fold(const char *text, size_t len);

struct intent_score {
    uint32_t intent;
    double score;
    size_t first_hit, nhits;    /* its hits in intent_result.hits */
};

struct intent_result {
    struct intent_hit *hits;        /* grouped by intent (score order), then by start */
    size_t nhits;
    bool truncated;                 /* more than INTENT_RESULT_MAX_HITS hits */
    struct intent_score *intents;   /* score descending, then name */
    size_t nintents;
};

/* Match and aggregate per intent (see Scoring above). */
int intent_tag(const struct intent_dict *d, const char *text, size_t len,
               struct intent_result *res, struct ax_err *err);
void intent_result_free(struct intent_result *res);

/* {"intents":[{"intent","score","hits":[{"term","start","end","char_start",
 *  "char_end","text","weight","counted"}…]}…],"dictionary_version":N}
 * plus "truncated":true when hits were dropped. `text` is the text that
 * was tagged. New reference, or NULL when out of memory. */
json_t *intent_result_json(const struct intent_dict *d, const struct intent_result *res,
                           const char *text, size_t len, long long version);

#endif
