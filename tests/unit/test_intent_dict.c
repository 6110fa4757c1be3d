/* test_intent_dict.c - the business-intent dictionary: compiling and
 * merging terms, CSV term tables (BOM, GB18030, bad rows), folding and
 * word boundaries, overlapping hits, evidence offsets, scoring, JSON, and
 * the default dictionary. Run from the repository root. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "axon/intent_dict.h"
#include "axon/text.h"

#include <utf8proc.h>

#include <iconv.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_TERMS "lua/intents/default_terms.csv"
#define SENTENCE "这批货什么时候能到？物流太慢了，再不到我们就取消订单"

/* ---- helpers ---- */

static struct intent_dict *compile(const struct intent_entry *e, size_t n)
{
    struct intent_dict *d = NULL;
    struct ax_err err;
    ax_err_clear(&err);
    assert_int_equal(intent_dict_compile(e, n, &d, NULL, &err), 0);
    assert_non_null(d);
    return d;
}

static char *write_temp(const char *bytes, size_t n)
{
    char *path = strdup("/tmp/axon-intent-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, bytes, n), (ssize_t)n);
    close(fd);
    return path;
}

/* Hits of one text as "intent:term@start-end/cstart-cend" joined by ' ',
 * in the order intent_tag() gives them. */
static void tag_str(const struct intent_dict *d, const char *text, char *out, size_t cap)
{
    struct intent_result res;
    struct ax_err err;
    assert_int_equal(intent_tag(d, text, strlen(text), &res, &err), 0);
    size_t k = 0;
    out[0] = '\0';
    for (size_t i = 0; i < res.nhits; i++) {
        const struct intent_hit *h = &res.hits[i];
        k += (size_t)snprintf(out + k, cap - k, "%s%s:%s@%zu-%zu/%zu-%zu%s", i ? " " : "",
                              intent_dict_intent_name(d, h->intent),
                              intent_dict_term(d, h->term)->term, h->start, h->end,
                              h->char_start, h->char_end, h->counted ? "" : "~");
    }
    intent_result_free(&res);
}

static int collect(void *arg, const struct intent_hit *h)
{
    struct intent_hit *list = arg;
    size_t n = 0;
    while (list[n].end)
        n++;
    list[n] = *h;
    return 0;
}

/* ---- tests ---- */

static const struct intent_entry small[] = {
    {"logistics_anxiety", "物流", 0.5, "zh", 1},
    {"logistics_anxiety", "物流太慢", 2.0, "zh", 2},
    {"logistics_anxiety", "什么时候能到", 1.5, "zh", 3},
    {"logistics_anxiety", "再不到", 1.0, "zh", 4},
    {"churn_risk", "取消订单", 2.5, "zh", 5},
    {"price_sensitive", "price", 1.0, "en", 6},
    {"delivery_risk", "late", 1.0, "en", 7},
    {"churn_risk", "cancel my subscription", 3.0, "en", 8},
    {"dissatisfied", "café", 1.0, "fr", 9},
};

static void test_sentence_small_dictionary(void **state)
{
    (void)state;
    struct intent_dict *d = compile(small, sizeof small / sizeof small[0]);
    char s[1024];
    tag_str(d, SENTENCE, s, sizeof s);
    /* 这批货(9 bytes) 什么时候能到 = bytes 9-27, chars 3-9; ？ = 27-30;
     * 物流太慢 = 30-42 (chars 10-14); 了， = 42-48; 再不到 = 48-57;
     * 我们就 = 57-66; 取消订单 = 66-78 (chars 22-26). */
    assert_string_equal(s, "logistics_anxiety:什么时候能到@9-27/3-9 "
                           "logistics_anxiety:物流太慢@30-42/10-14 "
                           "logistics_anxiety:物流@30-36/10-12~ "
                           "logistics_anxiety:再不到@48-57/16-19 "
                           "churn_risk:取消订单@66-78/22-26");

    struct intent_result res;
    struct ax_err err;
    assert_int_equal(intent_tag(d, SENTENCE, strlen(SENTENCE), &res, &err), 0);
    assert_int_equal(res.nintents, 2);
    assert_string_equal(intent_dict_intent_name(d, res.intents[0].intent), "logistics_anxiety");
    /* 物流 lies inside 物流太慢: evidence, not score. */
    assert_true(res.intents[0].score == 1.5 + 2.0 + 1.0);
    assert_true(res.intents[1].score == 2.5);
    json_t *j = intent_result_json(d, &res, SENTENCE, strlen(SENTENCE), 42);
    char *js = json_dumps(j, JSON_COMPACT);
    assert_string_equal(js,
        "{\"intents\":[{\"intent\":\"logistics_anxiety\",\"score\":4.5,\"hits\":["
        "{\"term\":\"什么时候能到\",\"start\":9,\"end\":27,\"char_start\":3,\"char_end\":9,"
        "\"text\":\"什么时候能到\",\"weight\":1.5,\"counted\":true},"
        "{\"term\":\"物流太慢\",\"start\":30,\"end\":42,\"char_start\":10,\"char_end\":14,"
        "\"text\":\"物流太慢\",\"weight\":2.0,\"counted\":true},"
        "{\"term\":\"物流\",\"start\":30,\"end\":36,\"char_start\":10,\"char_end\":12,"
        "\"text\":\"物流\",\"weight\":0.5,\"counted\":false},"
        "{\"term\":\"再不到\",\"start\":48,\"end\":57,\"char_start\":16,\"char_end\":19,"
        "\"text\":\"再不到\",\"weight\":1.0,\"counted\":true}]},"
        "{\"intent\":\"churn_risk\",\"score\":2.5,\"hits\":["
        "{\"term\":\"取消订单\",\"start\":66,\"end\":78,\"char_start\":22,\"char_end\":26,"
        "\"text\":\"取消订单\",\"weight\":2.5,\"counted\":true}]}],"
        "\"dictionary_version\":42}");
    free(js);
    json_decref(j);
    intent_result_free(&res);
    intent_dict_free(d);
}

static void test_overlapping_terms_all_hit(void **state)
{
    (void)state;
    struct intent_dict *d = compile(small, sizeof small / sizeof small[0]);
    struct intent_hit hits[8];
    memset(hits, 0, sizeof hits);
    const char *t = "物流太慢了";
    assert_int_equal(intent_match(d, t, strlen(t), collect, hits, NULL), 2);
    /* Both the phrase and the word inside it, with their own offsets. */
    bool phrase = false, word = false;
    for (int i = 0; i < 2; i++) {
        const char *term = intent_dict_term(d, hits[i].term)->term;
        if (strcmp(term, "物流太慢") == 0)
            phrase = hits[i].start == 0 && hits[i].end == 12;
        if (strcmp(term, "物流") == 0)
            word = hits[i].start == 0 && hits[i].end == 6;
    }
    assert_true(phrase && word);
    /* A repeated term scores once. */
    char s[512];
    tag_str(d, "物流太慢，物流太慢！", s, sizeof s);
    assert_string_equal(s, "logistics_anxiety:物流太慢@0-12/0-4 logistics_anxiety:物流@0-6/0-2~ "
                           "logistics_anxiety:物流太慢@15-27/5-9~ "
                           "logistics_anxiety:物流@15-21/5-7~");
    intent_dict_free(d);
}

static void test_full_width_and_case(void **state)
{
    (void)state;
    struct intent_dict *d = compile(small, sizeof small / sizeof small[0]);
    char s[512];
    /* Evidence points at the original bytes: 5 full-width letters = 15 bytes. */
    tag_str(d, "ＰＲＩＣＥ太高", s, sizeof s);
    assert_string_equal(s, "price_sensitive:price@0-15/0-5");
    tag_str(d, "The PRICE.", s, sizeof s);
    assert_string_equal(s, "price_sensitive:price@4-9/4-9");
    tag_str(d, "Ｐrice", s, sizeof s);
    assert_string_equal(s, "price_sensitive:price@0-7/0-5");
    /* NFKC + case fold of the term too: "CAFÉ" and a decomposed é match. */
    tag_str(d, "CAFÉ!", s, sizeof s);
    assert_string_equal(s, "dissatisfied:café@0-5/0-4");
    tag_str(d, "cafe\xCC\x81 ok", s, sizeof s);
    assert_string_equal(s, "dissatisfied:café@0-6/0-5");
    intent_dict_free(d);
}

static void test_word_boundaries(void **state)
{
    (void)state;
    struct intent_dict *d = compile(small, sizeof small / sizeof small[0]);
    char s[512];
    tag_str(d, "caprice chocolate prices lately", s, sizeof s);
    assert_string_equal(s, "");
    tag_str(d, "price-sensitive, (late)", s, sizeof s);
    assert_string_equal(s, "delivery_risk:late@18-22/18-22 price_sensitive:price@0-5/0-5");
    /* CJK neighbours are boundaries; CJK terms match anywhere. */
    tag_str(d, "这个price太高了", s, sizeof s);
    assert_string_equal(s, "price_sensitive:price@6-11/2-7");
    tag_str(d, "快递物流太慢", s, sizeof s);
    assert_string_equal(s, "logistics_anxiety:物流太慢@6-18/2-6 logistics_anxiety:物流@6-12/2-4~");
    /* A hit never ends before a combining mark. */
    tag_str(d, "price\xCC\x81", s, sizeof s);
    assert_string_equal(s, "");
    intent_dict_free(d);
}

static void test_white_space_runs(void **state)
{
    (void)state;
    struct intent_dict *d = compile(small, sizeof small / sizeof small[0]);
    char s[512];
    const char *t = "I want to Cancel\r\n  my\tSubscription now";
    tag_str(d, t, s, sizeof s);
    assert_string_equal(s, "churn_risk:cancel my subscription@10-35/10-35");
    /* An ideographic space (U+3000) is white space too. */
    tag_str(d, "cancel\xE3\x80\x80my subscription", s, sizeof s);
    assert_string_equal(s, "churn_risk:cancel my subscription@0-24/0-22");
    intent_dict_free(d);
}

static void test_invalid_utf8_separates(void **state)
{
    (void)state;
    struct intent_dict *d = compile(small, sizeof small / sizeof small[0]);
    char s[512];
    tag_str(d, "物流\xFF太慢", s, sizeof s);
    assert_string_equal(s, "logistics_anxiety:物流@0-6/0-2");
    intent_dict_free(d);
}

static void test_duplicates_merge_and_shared_terms(void **state)
{
    (void)state;
    static const struct intent_entry e[] = {
        {"price_sensitive", "Price", 1.0, "en", 1},
        {"price_sensitive", "ＰＲＩＣＥ", 2.5, "en", 2},
        {"billing_issue", "price", 0.5, "en", 3},
        {"price_sensitive", " price ", 1.5, "en", 4},
    };
    struct intent_dict *d = NULL;
    struct intent_report rep;
    struct ax_err err;
    intent_report_init(&rep);
    assert_int_equal(intent_dict_compile(e, 4, &d, &rep, &err), 0);
    assert_int_equal(intent_dict_term_count(d), 2);
    assert_int_equal(rep.rows_accepted, 4);
    assert_int_equal(rep.duplicates, 2);
    assert_int_equal(rep.nwarnings, 2);
    assert_int_equal(rep.warnings[0].row, 2);
    assert_string_equal(rep.warnings[0].message,
                        "duplicate of row 1 (price_sensitive: 'Price'); merged, weight 2.5 kept");
    assert_int_equal(rep.warnings[1].row, 4);
    /* First spelling kept, largest weight. */
    const struct intent_term *t = intent_dict_term(d, 1);
    assert_string_equal(t->intent, "price_sensitive");
    assert_string_equal(t->term, "Price");
    assert_string_equal(t->folded, "price");
    assert_true(t->weight == 2.5);
    char s[256];
    tag_str(d, "price", s, sizeof s);
    assert_string_equal(s, "price_sensitive:Price@0-5/0-5 billing_issue:price@0-5/0-5");
    intent_report_free(&rep);
    intent_dict_free(d);
}

static void test_bad_entries_fail_without_report(void **state)
{
    (void)state;
    static const struct intent_entry e[] = {
        {"price_sensitive", "price", 1.0, "en", 1},
        {"Price", "cost", 1.0, "en", 7},
    };
    struct intent_dict *d = NULL;
    struct ax_err err;
    ax_err_clear(&err);
    assert_int_equal(intent_dict_compile(e, 2, &d, NULL, &err), -1);
    assert_null(d);
    assert_int_equal(err.code, AX_EINVALID);
    assert_non_null(strstr(err.detail, "row 7: intent 'Price' is not a valid name"));
}

/* A term table in UTF-8, written with a BOM or converted to GB18030. */
static const char table[] =
    "Term,Weight,INTENT,lang\r\n"
    "物流太慢,2,logistics_anxiety,zh\r\n"
    "什么时候能到,1.5,logistics_anxiety,zh\r\n"
    "取消订单,2.5,churn_risk,zh\r\n"
    "价格太贵,,price_sensitive,zh\r\n";

static char *to_gb18030(const char *s, size_t *n)
{
    iconv_t cd = iconv_open("GB18030", "UTF-8");
    assert_true(cd != (iconv_t)-1);
    size_t inleft = strlen(s), outleft = inleft * 2, cap = outleft;
    char *out = malloc(cap), *inp = (char *)s, *outp = out;
    assert_true(iconv(cd, &inp, &inleft, &outp, &outleft) != (size_t)-1);
    iconv_close(cd);
    *n = cap - outleft;
    return out;
}

static struct intent_dict *load(const char *bytes, size_t n, struct intent_report *rep)
{
    char *path = write_temp(bytes, n);
    struct intent_dict *d = NULL;
    struct ax_err err;
    ax_err_clear(&err);
    intent_report_init(rep);
    int rc = intent_dict_load_csv(path, &d, rep, &err);
    unlink(path);
    free(path);
    assert_int_equal(rc, 0);
    return d;
}

static void test_bom_and_gb18030_tables_load_alike(void **state)
{
    (void)state;
    char bom[sizeof table + 3];
    memcpy(bom, "\xEF\xBB\xBF", 3);
    memcpy(bom + 3, table, sizeof table);
    size_t gn;
    char *gb = to_gb18030(table, &gn);
    assert_true(gn < strlen(table));    /* two bytes a hanzi, not three */

    struct intent_report r1, r2;
    struct intent_dict *d1 = load(bom, strlen(bom), &r1);
    struct intent_dict *d2 = load(gb, gn, &r2);
    assert_string_equal(r1.encoding, "UTF-8");
    assert_true(r1.bom);
    assert_string_equal(r2.encoding, "GB18030");
    assert_false(r2.bom);
    assert_int_equal(r1.rows_accepted, 4);
    assert_int_equal(r2.rows_accepted, 4);
    assert_int_equal(r1.rows_rejected + r2.rows_rejected, 0);
    assert_string_equal(intent_dict_digest(d1), intent_dict_digest(d2));
    assert_int_equal(intent_dict_intent_count(d1), 3);
    assert_string_equal(intent_dict_intent_name(d1, 1), "logistics_anxiety");
    assert_int_equal(intent_dict_intent_terms(d1, 1), 2);
    assert_true(intent_dict_term(d1, 3)->weight == 1.0);   /* empty weight */

    char s1[512], s2[512];
    tag_str(d1, SENTENCE, s1, sizeof s1);
    tag_str(d2, SENTENCE, s2, sizeof s2);
    assert_string_equal(s1, s2);
    assert_string_equal(s1, "logistics_anxiety:什么时候能到@9-27/3-9 "
                            "logistics_anxiety:物流太慢@30-42/10-14 churn_risk:取消订单@66-78/22-26");

    json_t *j = intent_report_json(&r2, d2);
    char *js = json_dumps(j, JSON_COMPACT);
    char expect[512];
    snprintf(expect, sizeof expect,
             "{\"encoding\":\"GB18030\",\"bom\":false,\"rows_accepted\":4,\"rows_rejected\":0,"
             "\"duplicates\":0,\"terms\":4,\"intents\":{\"churn_risk\":1,\"logistics_anxiety\":2,"
             "\"price_sensitive\":1},\"errors\":[],\"warnings\":[],\"digest\":\"%s\"}",
             intent_dict_digest(d2));
    assert_string_equal(js, expect);
    free(js);
    json_decref(j);
    intent_report_free(&r1);
    intent_report_free(&r2);
    intent_dict_free(d1);
    intent_dict_free(d2);
    free(gb);
}

static void test_bad_rows_reported_with_row_numbers(void **state)
{
    (void)state;
    char long_term[700];
    for (int i = 0; i < 201; i++)
        memcpy(long_term + i * 3, "长", 3);
    long_term[603] = '\0';
    char csv[2048];
    snprintf(csv, sizeof csv,
             "intent,term,weight\n"
             "price_sensitive,太贵了,2\n"          /* 1 ok */
             "Price_Sensitive,too pricey,1\n"      /* 2 bad intent */
             "price_sensitive,overpriced,abc\n"    /* 3 weight not a number */
             "price_sensitive,overpriced,0\n"      /* 4 weight out of range */
             "price_sensitive,overpriced,101\n"    /* 5 weight out of range */
             "\n"                                  /* blank: not a record */
             "price_sensitive,  ,1\n"              /* 6 empty term */
             "price_sensitive,%s,1\n"              /* 7 too long */
             "churn_risk,cancel,1,extra\n"         /* 8 too many cells */
             "churn_risk,\"cancel my plan\",3\n",  /* 9 ok */
             long_term);
    struct intent_report rep;
    struct intent_dict *d = load(csv, strlen(csv), &rep);
    assert_int_equal(rep.rows_accepted, 2);
    assert_int_equal(rep.rows_rejected, 7);
    assert_int_equal(rep.nerrors, 7);
    static const long long rows[] = {2, 3, 4, 5, 6, 7, 8};
    static const char *const what[] = {
        "intent 'Price_Sensitive' is not a valid name", "weight 'abc' is not a number",
        "weight 0 is not in (0, 100]", "weight 101 is not in (0, 100]", "term is empty",
        "term is longer than 200 characters", "the row has 4 cells, the header 3",
    };
    for (int i = 0; i < 7; i++) {
        assert_int_equal(rep.errors[i].row, rows[i]);
        assert_non_null(strstr(rep.errors[i].message, what[i]));
    }
    assert_int_equal(intent_dict_term_count(d), 2);
    intent_report_free(&rep);
    intent_dict_free(d);
}

static void test_header_must_name_columns(void **state)
{
    (void)state;
    static const struct {
        const char *csv, *detail;
    } cases[] = {
        {"intent,weight\nprice_sensitive,1\n", "must name the columns intent and term"},
        {"intent,term,score\nprice_sensitive,price,1\n", "unknown column 'score'"},
        {"intent,term,Intent\na,b,c\n", "column 'intent' appears twice"},
        {"", "the file is empty"},
        {"intent,term\nPrice,x\n", "no usable terms"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *path = write_temp(cases[i].csv, strlen(cases[i].csv));
        struct intent_dict *d = NULL;
        struct intent_report rep;
        struct ax_err err;
        intent_report_init(&rep);
        ax_err_clear(&err);
        assert_int_equal(intent_dict_load_csv(path, &d, &rep, &err), -1);
        assert_null(d);
        assert_int_equal(err.code, AX_EINVALID);
        assert_non_null(strstr(err.detail, cases[i].detail));
        intent_report_free(&rep);
        unlink(path);
        free(path);
    }
}

static void test_default_dictionary(void **state)
{
    (void)state;
    struct intent_dict *d = NULL;
    struct intent_report rep;
    struct ax_err err;
    intent_report_init(&rep);
    ax_err_clear(&err);
    assert_int_equal(intent_dict_load_csv(DEFAULT_TERMS, &d, &rep, &err), 0);
    assert_true(intent_dict_term_count(d) >= 2000);
    assert_int_equal(rep.rows_rejected, 0);
    assert_int_equal(rep.duplicates, 0);
    assert_int_equal(rep.rows_accepted, (long long)intent_dict_term_count(d));
    static const char *const need[] = {
        "billing_issue", "churn_risk", "compliance_concern", "delivery_risk", "dissatisfied",
        "logistics_anxiety", "outage", "price_sensitive",
    };
    for (size_t i = 0; i < sizeof need / sizeof need[0]; i++) {
        size_t k = 0;
        while (k < intent_dict_intent_count(d) && strcmp(intent_dict_intent_name(d, k), need[i]))
            k++;
        assert_true(k < intent_dict_intent_count(d));
        assert_true(intent_dict_intent_terms(d, k) >= 50);
    }

    struct intent_result res;
    assert_int_equal(intent_tag(d, SENTENCE, strlen(SENTENCE), &res, &err), 0);
    assert_true(res.nintents >= 2);
    assert_string_equal(intent_dict_intent_name(d, res.intents[0].intent), "logistics_anxiety");
    bool churn = false, slow = false;
    for (size_t i = 0; i < res.nintents; i++)
        churn |= strcmp(intent_dict_intent_name(d, res.intents[i].intent), "churn_risk") == 0;
    for (size_t i = 0; i < res.intents[0].nhits; i++) {
        const struct intent_hit *h = &res.hits[res.intents[0].first_hit + i];
        slow |= strcmp(intent_dict_term(d, h->term)->term, "物流太慢") == 0 && h->start == 30;
    }
    assert_true(churn && slow);
    intent_result_free(&res);

    /* English complaints tag too. */
    const char *en = "Comcast keeps raising prices and I want to cancel my service.";
    assert_int_equal(intent_tag(d, en, strlen(en), &res, &err), 0);
    bool price = false;
    churn = false;
    for (size_t i = 0; i < res.nintents; i++) {
        const char *name = intent_dict_intent_name(d, res.intents[i].intent);
        price |= strcmp(name, "price_sensitive") == 0;
        churn |= strcmp(name, "churn_risk") == 0;
    }
    assert_true(price && churn);
    intent_result_free(&res);
    intent_report_free(&rep);
    intent_dict_free(d);
}

/* The matcher folds on the fly with shortcuts; it must see exactly what
 * text_fold() makes of the text (white-space runs as one space). */
static void collapse_spaces(char *s)
{
    size_t w = 0;
    bool space = false;
    for (size_t i = 0; s[i]; i++) {
        bool sp = strchr(" \t\n\r\v\f", s[i]) != NULL;
        if (!sp || !space)
            s[w++] = sp ? ' ' : s[i];
        space = sp;
    }
    s[w] = '\0';
}

static void test_fold_agrees_with_text_fold(void **state)
{
    (void)state;
    for (int cp = 1; cp < 0x10000; cp++) {
        if (cp >= 0xD800 && cp <= 0xDFFF)
            continue;
        char in[8];
        int n = (int)utf8proc_encode_char(cp, (utf8proc_uint8_t *)in);
        char *want = text_fold(in, (size_t)n), *got = intent_fold(in, (size_t)n);
        assert_non_null(want);
        collapse_spaces(want);
        if (strcmp(want, got) != 0)
            fail_msg("U+%04X: text_fold \"%s\", intent_fold \"%s\"", cp, want, got);
        free(want);
        free(got);
    }
    /* Characters that combine across units: e + acute, hangul L V T, kana
     * with a voiced mark (also half-width), Oriya vowel parts, and ß. */
    static const char *const seqs[] = {
        "Cafe\xCC\x81", "\xE1\x84\x80\xE1\x85\xA1\xE1\x86\xA8", "\xE3\x81\x8B\xE3\x82\x99",
        "\xEF\xBD\xB6\xEF\xBE\x9E", "\xE0\xAD\x87\xE0\xAC\xBE", "Stra\xC3\x9F" "e",
        "\xEF\xBC\xB0\xCC\x81x", "\xE7\x89\xA9\xCC\x81\xE6\xB5\x81",
        "\xEA\xB0\x80\xE1\x86\xA8", "\xEF\xAC\x81le \xE2\x84\xAA",
    };
    for (size_t i = 0; i < sizeof seqs / sizeof seqs[0]; i++) {
        char *want = text_fold(seqs[i], strlen(seqs[i]));
        char *got = intent_fold(seqs[i], strlen(seqs[i]));
        assert_string_equal(got, want);
        free(want);
        free(got);
    }
    const char *mixed = "ＡＢＣ \t\r\n x\xE3\x80\x80y\xFF";
    char *got = intent_fold(mixed, strlen(mixed));
    assert_string_equal(got, "abc x y\xEF\xBF\xBD");
    free(got);
}

struct tag_job {
    const struct intent_dict *d;
    char out[512];
};

static void *tag_many(void *arg)
{
    struct tag_job *j = arg;
    char s[512];
    for (int i = 0; i < 300; i++) {
        tag_str(j->d, SENTENCE " Cancel my subscription, the price is too high", s, sizeof s);
        if (i > 0 && strcmp(s, j->out) != 0)
            return NULL;
        memcpy(j->out, s, sizeof s);
    }
    return j;
}

static void test_threads_share_a_dictionary(void **state)
{
    (void)state;
    struct intent_dict *d = compile(small, sizeof small / sizeof small[0]);
    struct tag_job jobs[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        jobs[i].d = d;
        assert_int_equal(pthread_create(&th[i], NULL, tag_many, &jobs[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        void *r;
        pthread_join(th[i], &r);
        assert_ptr_equal(r, &jobs[i]);
        assert_string_equal(jobs[i].out, jobs[0].out);
    }
    assert_non_null(strstr(jobs[0].out, "churn_risk:cancel my subscription@79-101/27-49"));
    intent_dict_free(d);
}

static void test_limits(void **state)
{
    (void)state;
    struct intent_dict *d = NULL;
    struct ax_err err;
    /* Too many terms. */
    size_t n = INTENT_MAX_TERMS + 1;
    struct intent_entry *e = calloc(n, sizeof *e);
    ax_err_clear(&err);
    assert_int_equal(intent_dict_compile(e, n, &d, NULL, &err), -1);
    assert_int_equal(err.code, AX_ETOOLARGE);
    free(e);

    /* Too many characters in all: 5001 distinct terms of 200. */
    n = INTENT_MAX_TOTAL_CHARS / INTENT_TERM_MAX_CHARS + 1;
    e = calloc(n, sizeof *e);
    for (size_t i = 0; i < n; i++) {
        char *t = malloc(INTENT_TERM_MAX_CHARS + 1);
        memset(t, 'x', INTENT_TERM_MAX_CHARS);
        t[INTENT_TERM_MAX_CHARS] = '\0';
        char num[16];
        int k = snprintf(num, sizeof num, "t%zu", i);
        memcpy(t, num, (size_t)k);
        e[i] = (struct intent_entry){"big", t, 1.0, "", (long long)i + 1};
    }
    ax_err_clear(&err);
    assert_int_equal(intent_dict_compile(e, n, &d, NULL, &err), -1);
    assert_int_equal(err.code, AX_ETOOLARGE);
    assert_non_null(strstr(err.detail, "more than 1000000 characters"));
    for (size_t i = 0; i < n; i++)
        free((char *)e[i].term);
    free(e);

    /* A file over the size cap is refused before it is read. */
    char *path = write_temp("", 0);
    assert_int_equal(truncate(path, INTENT_MAX_FILE_BYTES + 1), 0);
    struct intent_report rep;
    intent_report_init(&rep);
    ax_err_clear(&err);
    assert_int_equal(intent_dict_load_csv(path, &d, &rep, &err), -1);
    assert_int_equal(err.code, AX_ETOOLARGE);
    unlink(path);
    free(path);

    /* intent_tag keeps INTENT_RESULT_MAX_HITS hits and says so. */
    d = compile(small, sizeof small / sizeof small[0]);
    size_t len = 6 * (INTENT_RESULT_MAX_HITS + 5);
    char *text = malloc(len + 1);
    for (size_t i = 0; i < len; i += 6)
        memcpy(text + i, "price ", 6);
    text[len] = '\0';
    struct intent_result res;
    assert_int_equal(intent_tag(d, text, len, &res, &err), 0);
    assert_true(res.truncated);
    assert_int_equal(res.nhits, INTENT_RESULT_MAX_HITS);
    assert_true(res.intents[0].score == 1.0);
    json_t *j = intent_result_json(d, &res, text, len, 1);
    assert_true(json_is_true(json_object_get(j, "truncated")));
    json_decref(j);
    intent_result_free(&res);
    free(text);
    intent_dict_free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sentence_small_dictionary),
        cmocka_unit_test(test_overlapping_terms_all_hit),
        cmocka_unit_test(test_full_width_and_case),
        cmocka_unit_test(test_word_boundaries),
        cmocka_unit_test(test_white_space_runs),
        cmocka_unit_test(test_invalid_utf8_separates),
        cmocka_unit_test(test_duplicates_merge_and_shared_terms),
        cmocka_unit_test(test_bad_entries_fail_without_report),
        cmocka_unit_test(test_bom_and_gb18030_tables_load_alike),
        cmocka_unit_test(test_bad_rows_reported_with_row_numbers),
        cmocka_unit_test(test_header_must_name_columns),
        cmocka_unit_test(test_default_dictionary),
        cmocka_unit_test(test_fold_agrees_with_text_fold),
        cmocka_unit_test(test_threads_share_a_dictionary),
        cmocka_unit_test(test_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
