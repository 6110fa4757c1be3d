/* test_classify.c - the text classifier: training on small known sets
 * (binary, three labels, English), evaluation numbers, the model blob
 * (round trip, corrupt blobs), threads, progress, and the accuracy on the
 * fixed held-out split of the waimai reviews. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "axon/classify.h"
#include "axon/classify_data.h"

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The waimai reviews: the shared copy, else the one shipped in data/. */
static const char *waimai_path(void)
{
    static const char *const paths[] = {"../shared/data/" CLF_WAIMAI_CSV,
                                        "data/" CLF_WAIMAI_CSV};
    for (size_t i = 0; i < sizeof paths / sizeof *paths; i++)
        if (access(paths[i], R_OK) == 0)
            return paths[i];
    return NULL;
}

struct ex {
    const char *text, *label;
};

static struct clf_model *train_on(const struct ex *ex, size_t n, int epochs)
{
    struct clf_params p = {.hash_bits = 16, .epochs = epochs};
    struct clf_trainer *t = clf_trainer_new(&p);
    struct ax_err err;
    ax_err_clear(&err);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(clf_trainer_add(t, ex[i].text, strlen(ex[i].text), ex[i].label, &err),
                         0);
    struct clf_model *m = NULL;
    assert_int_equal(clf_train(t, NULL, NULL, &m, NULL, &err), 0);
    assert_non_null(m);
    clf_trainer_free(t);
    return m;
}

static const char *predict(const struct clf_model *m, const char *text)
{
    int best = -1;
    assert_int_equal(clf_predict(m, text, strlen(text), NULL, &best), 0);
    return clf_model_label(m, best);
}

static const struct ex reviews[] = {
    {"很好吃", "pos"},       {"味道很好，好吃", "pos"}, {"好评，送餐快", "pos"},
    {"很满意，下次还来", "pos"}, {"好吃又实惠", "pos"},   {"太难吃了", "neg"},
    {"难吃，差评", "neg"},   {"送餐太慢，很失望", "neg"}, {"不好吃，再也不点了", "neg"},
    {"差评，又冷又咸", "neg"},
};
#define NREVIEWS (sizeof reviews / sizeof *reviews)

static struct clf_model *review_model(void)
{
    return train_on(reviews, NREVIEWS, 10);
}

/* ---- small known sets ---- */

static void test_binary_known_predictions(void **state)
{
    (void)state;
    struct clf_model *m = review_model();
    assert_int_equal(clf_model_nlabels(m), 2);
    assert_string_equal(clf_model_label(m, 0), "pos");     /* order of first sight */
    assert_string_equal(clf_model_label(m, 1), "neg");
    assert_int_equal(clf_model_positive(m), 0);             /* "pos" found by name */
    assert_int_equal(clf_model_label_index(m, "neg"), 1);
    assert_int_equal(clf_model_label_index(m, "other"), -1);
    assert_string_equal(predict(m, "好吃"), "pos");
    assert_string_equal(predict(m, "满意"), "pos");
    assert_string_equal(predict(m, "难吃"), "neg");
    assert_string_equal(predict(m, "差评"), "neg");

    double p[2];
    int best;
    assert_int_equal(clf_predict(m, "好吃", strlen("好吃"), p, &best), 0);
    assert_true(fabs(p[0] + p[1] - 1.0) < 1e-12);
    double s = clf_sentiment(m, "好吃", strlen("好吃"));
    assert_true(fabs(s - (2 * p[0] - 1)) < 1e-12);
    assert_true(s > 0.3 && s <= 1.0);
    s = clf_sentiment(m, "太难吃了，差评", strlen("太难吃了，差评"));
    assert_true(s < -0.3 && s >= -1.0);

    /* Not UTF-8: refused, not guessed at. */
    assert_int_equal(clf_predict(m, "\xff\xfe", 2, p, &best), -1);
    assert_true(isnan(clf_sentiment(m, "\xff\xfe", 2)));
    clf_model_free(m);
}

static void test_training_is_deterministic(void **state)
{
    (void)state;
    struct clf_model *a = review_model(), *b = review_model();
    struct buf x, y;
    buf_init(&x, BUF_MAX_DEFAULT);
    buf_init(&y, BUF_MAX_DEFAULT);
    assert_int_equal(clf_save(a, &x), 0);
    assert_int_equal(clf_save(b, &y), 0);
    assert_int_equal(x.len, y.len);
    assert_memory_equal(x.data, y.data, x.len);
    buf_free(&x);
    buf_free(&y);
    clf_model_free(a);
    clf_model_free(b);
}

static void test_three_labels(void **state)
{
    (void)state;
    static const struct ex topics[] = {
        {"送餐太慢了", "delivery"},         {"快递很快就到了", "delivery"},
        {"配送准时", "delivery"},           {"the courier was late", "delivery"},
        {"delivery arrived early", "delivery"}, {"价格便宜", "price"},
        {"太贵了", "price"},                {"性价比高，价格合理", "price"},
        {"far too expensive", "price"},     {"cheap price for this", "price"},
        {"质量很好", "quality"},            {"做工粗糙", "quality"},
        {"材料结实耐用", "quality"},        {"poor build quality", "quality"},
        {"sturdy and well made", "quality"},
    };
    size_t n = sizeof topics / sizeof *topics;
    struct clf_model *m = train_on(topics, n, 20);
    assert_int_equal(clf_model_nlabels(m), 3);
    assert_int_equal(clf_model_positive(m), -1);
    assert_true(isnan(clf_sentiment(m, "价格", strlen("价格"))));
    assert_string_equal(predict(m, "配送很慢"), "delivery");
    assert_string_equal(predict(m, "价格太贵"), "price");
    assert_string_equal(predict(m, "质量"), "quality");
    assert_string_equal(predict(m, "EXPENSIVE"), "price");   /* case folded */
    assert_string_equal(predict(m, "the courier"), "delivery");

    double p[3];
    int best;
    assert_int_equal(clf_predict(m, "做工", strlen("做工"), p, &best), 0);
    assert_true(fabs(p[0] + p[1] + p[2] - 1.0) < 1e-12);
    assert_int_equal(best, 2);

    struct clf_example ex[sizeof topics / sizeof *topics];
    for (size_t i = 0; i < n; i++)
        ex[i] = (struct clf_example){topics[i].text, strlen(topics[i].text), topics[i].label};
    struct clf_eval *e;
    struct ax_err err;
    ax_err_clear(&err);
    assert_int_equal(clf_evaluate(m, ex, n, &e, &err), 0);
    assert_int_equal(e->n, 15);
    assert_int_equal(e->correct, 15);
    for (int k = 0; k < 3; k++)
        for (int j = 0; j < 3; j++)
            assert_int_equal(e->confusion[k * 3 + j], k == j ? 5 : 0);
    clf_eval_free(e);

    ex[0].label = "refund";
    assert_int_equal(clf_evaluate(m, ex, n, &e, &err), -1);
    assert_null(e);
    assert_int_equal(err.code, AX_EINVALID);
    clf_model_free(m);
}

/* Ten labels: ten weight columns, so the trainer folds its features into
 * 2^19 buckets (the table's cap is 2^23 weights); predictions and the blob
 * must not notice. */
static void test_many_labels(void **state)
{
    (void)state;
    static const char *const words[] = {"苹果", "香蕉", "橙子", "葡萄", "西瓜",
                                        "草莓", "芒果", "菠萝", "柠檬", "樱桃"};
    struct clf_trainer *t = clf_trainer_new(NULL);
    struct ax_err err;
    ax_err_clear(&err);
    char text[64], label[16];
    for (int rep = 0; rep < 3; rep++)
        for (int k = 0; k < 10; k++) {
            snprintf(text, sizeof text, "我买了%s%d", words[k], rep);
            snprintf(label, sizeof label, "f%d", k);
            assert_int_equal(clf_trainer_add(t, text, strlen(text), label, &err), 0);
        }
    struct clf_model *m;
    assert_int_equal(clf_train(t, NULL, NULL, &m, NULL, &err), 0);
    assert_int_equal(clf_model_nlabels(m), 10);
    for (int k = 0; k < 10; k++) {
        snprintf(label, sizeof label, "f%d", k);
        assert_string_equal(predict(m, words[k]), label);
    }
    struct buf b;
    buf_init(&b, BUF_MAX_DEFAULT);
    assert_int_equal(clf_save(m, &b), 0);
    struct clf_model *l;
    assert_int_equal(clf_load(b.data, b.len, &l, &err), 0);
    double p[10], q[10];
    assert_int_equal(clf_predict(m, "芒果和樱桃", strlen("芒果和樱桃"), p, NULL), 0);
    assert_int_equal(clf_predict(l, "芒果和樱桃", strlen("芒果和樱桃"), q, NULL), 0);
    assert_memory_equal(p, q, sizeof p);
    assert_int_equal(b.data[16], 19);           /* hash bits in the header */
    buf_free(&b);
    clf_model_free(l);
    clf_model_free(m);
    clf_trainer_free(t);
}

static void test_english_words_and_negation(void **state)
{
    (void)state;
    static const struct ex en[] = {
        {"Great service, very good food", "1"}, {"I love it", "1"},
        {"excellent and friendly staff", "1"},  {"good value, good food", "1"},
        {"The food was not good", "0"},         {"terrible service", "0"},
        {"I hate it, never again", "0"},        {"don't order here, not worth it", "0"},
    };
    struct clf_model *m = train_on(en, sizeof en / sizeof *en, 20);
    assert_int_equal(clf_model_positive(m), 0);               /* "1" */
    assert_string_equal(predict(m, "good food"), "1");
    assert_string_equal(predict(m, "not good"), "0");
    assert_string_equal(predict(m, "never again"), "0");

    /* Case and width folding: the same text to the model. */
    double a[2], b[2], c[2];
    assert_int_equal(clf_predict(m, "great service", 13, a, NULL), 0);
    assert_int_equal(clf_predict(m, "GREAT  Service", 14, b, NULL), 0);
    const char *wide = "\xef\xbc\xa7\xef\xbc\xb2\xef\xbc\xa5\xef\xbc\xa1\xef\xbc\xb4 service";
    assert_int_equal(clf_predict(m, wide, strlen(wide), c, NULL), 0);   /* ＧＲＥＡＴ */
    assert_true(a[0] == b[0] && a[0] == c[0]);
    clf_model_free(m);
}

static void test_trainer_refusals(void **state)
{
    (void)state;
    struct clf_trainer *t = clf_trainer_new(NULL);
    struct ax_err err;
    ax_err_clear(&err);
    assert_int_equal(clf_trainer_add(t, "\xc3\x28", 2, "a", &err), -1);
    assert_int_equal(err.code, AX_EINVALID);
    assert_int_equal(clf_trainer_add(t, "ok", 2, "", &err), -1);
    assert_int_equal(clf_trainer_add(t, "ok", 2, NULL, &err), -1);
    assert_int_equal(clf_trainer_add(t, "ok", 2, "only", &err), 0);
    assert_int_equal(clf_trainer_count(t), 1);
    struct clf_model *m;
    ax_err_clear(&err);
    assert_int_equal(clf_train(t, NULL, NULL, &m, NULL, &err), -1);   /* one label */
    assert_null(m);
    assert_int_equal(err.code, AX_EINVALID);
    for (int i = 0; i < CLF_MAX_LABELS - 1; i++) {
        char label[16];
        snprintf(label, sizeof label, "l%d", i);
        assert_int_equal(clf_trainer_add(t, "x", 1, label, &err), 0);
    }
    assert_int_equal(clf_trainer_add(t, "x", 1, "one too many", &err), -1);
    clf_trainer_free(t);

    struct clf_params p = {.positive = "yes"};
    t = clf_trainer_new(&p);
    assert_int_equal(clf_trainer_add(t, "a", 1, "1", &err), 0);
    assert_int_equal(clf_trainer_add(t, "b", 1, "0", &err), 0);
    assert_int_equal(clf_train(t, NULL, NULL, &m, NULL, &err), -1);   /* no label "yes" */
    clf_trainer_free(t);
}

/* ---- evaluation numbers ---- */

static void test_eval_metrics_and_json(void **state)
{
    (void)state;
    static const struct ex three[] = {{"a", "x"}, {"b", "y"}, {"c", "z"}};
    struct clf_model *m = train_on(three, 3, 1);
    struct clf_eval *e = clf_eval_new(m);
    clf_eval_record(e, 0, 0);
    clf_eval_record(e, 0, 1);
    clf_eval_record(e, 1, 1);
    clf_eval_record(e, 2, 2);
    clf_eval_record(e, 2, 0);
    clf_eval_record(e, 7, 0);       /* out of range: ignored */
    clf_eval_finish(e);
    assert_int_equal(e->n, 5);
    assert_true(e->accuracy == 0.6);
    assert_true(e->precision[0] == 0.5 && e->recall[0] == 0.5 && e->f1[0] == 0.5);
    assert_true(e->precision[1] == 0.5 && e->recall[1] == 1.0);
    assert_true(fabs(e->f1[1] - 2.0 / 3.0) < 1e-15);
    assert_true(e->precision[2] == 1.0 && e->recall[2] == 0.5);
    assert_int_equal(e->support[0], 2);
    assert_int_equal(e->support[1], 1);

    json_t *j = clf_eval_json(e);
    char *s = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(4));
    assert_string_equal(s,
        "{\"n\":5,\"accuracy\":0.6,\"labels\":["
        "{\"label\":\"x\",\"precision\":0.5,\"recall\":0.5,\"f1\":0.5,\"support\":2},"
        "{\"label\":\"y\",\"precision\":0.5,\"recall\":1.0,\"f1\":0.6667,\"support\":1},"
        "{\"label\":\"z\",\"precision\":1.0,\"recall\":0.5,\"f1\":0.6667,\"support\":2}],"
        "\"confusion\":[[1,1,0],[0,1,0],[1,0,1]]}");
    free(s);
    json_decref(j);
    clf_eval_free(e);
    clf_model_free(m);
}

/* ---- the blob ---- */

static void test_save_load_round_trip(void **state)
{
    (void)state;
    struct clf_model *m = review_model();
    struct buf b;
    buf_init(&b, BUF_MAX_DEFAULT);
    assert_int_equal(clf_save(m, &b), 0);
    assert_memory_equal(b.data, "AXONCLF\0", 8);
    struct clf_model *l;
    struct ax_err err;
    ax_err_clear(&err);
    assert_int_equal(clf_load(b.data, b.len, &l, &err), 0);
    assert_int_equal(clf_model_nlabels(l), 2);
    assert_string_equal(clf_model_label(l, 1), "neg");
    assert_int_equal(clf_model_positive(l), 0);
    static const char *const probe[] = {"好吃", "难吃", "送餐快，味道一般", "", "abc def"};
    for (size_t i = 0; i < sizeof probe / sizeof *probe; i++) {
        double p[2], q[2];
        assert_int_equal(clf_predict(m, probe[i], strlen(probe[i]), p, NULL), 0);
        assert_int_equal(clf_predict(l, probe[i], strlen(probe[i]), q, NULL), 0);
        assert_true(p[0] == q[0] && p[1] == q[1]);      /* identical, not close */
    }
    struct buf again;
    buf_init(&again, BUF_MAX_DEFAULT);
    assert_int_equal(clf_save(l, &again), 0);
    assert_int_equal(again.len, b.len);
    assert_memory_equal(again.data, b.data, b.len);
    buf_free(&again);
    buf_free(&b);
    clf_model_free(l);
    clf_model_free(m);
}

static uint32_t crc32_ref(const unsigned char *p, size_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1)));
    }
    return ~c;
}

/* Rewrite the trailing CRC so a tampered blob gets past the checksum and
 * the structural checks are what refuse it. */
static void reseal(unsigned char *p, size_t n)
{
    uint32_t c = crc32_ref(p, n - 4);
    for (int k = 0; k < 4; k++)
        p[n - 4 + k] = (unsigned char)(c >> (8 * k));
}

static int load_bytes(const unsigned char *p, size_t n)
{
    struct clf_model *m = (struct clf_model *)1;
    struct ax_err err;
    ax_err_clear(&err);
    int rc = clf_load(p, n, &m, &err);
    if (rc == 0)
        clf_model_free(m);
    else {
        assert_null(m);
        assert_int_equal(err.code, AX_EINVALID);
    }
    return rc;
}

static void test_corrupt_blobs_refused(void **state)
{
    (void)state;
    struct clf_model *m = review_model();
    struct buf b;
    buf_init(&b, BUF_MAX_DEFAULT);
    assert_int_equal(clf_save(m, &b), 0);
    clf_model_free(m);
    size_t n = b.len;
    unsigned char *p = malloc(n);
    memcpy(p, b.data, n);
    assert_int_equal(load_bytes(p, n), 0);
    assert_int_equal(load_bytes(NULL, 0), -1);

    for (size_t cut = 0; cut < n; cut++)        /* every truncation */
        assert_int_equal(load_bytes(p, cut), -1);
    for (size_t i = 0; i < n; i++) {            /* every single-byte change */
        p[i] ^= 0x41;
        assert_int_equal(load_bytes(p, n), -1);
        p[i] ^= 0x41;
    }

    /* Structural checks behind a valid checksum. Header: magic 8, version
     * 4, feature set 4, bits, labels, columns, positive. */
    static const struct { size_t at; unsigned char v; } bad[] = {
        {8, 2},         /* format version 2 */
        {12, 9},        /* feature set */
        {16, 15},       /* hash bits below 16 */
        {16, 23},       /* above 22 */
        {17, 1},        /* one label */
        {17, 65},       /* too many labels */
        {18, 2},        /* two labels need one column */
        {19, 2},        /* positive label out of range */
        {20, 0},        /* empty first label */
        {20, 200},      /* label longer than the blob */
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        unsigned char *q = malloc(n);
        memcpy(q, p, n);
        q[bad[i].at] = bad[i].v;
        reseal(q, n);
        assert_int_equal(load_bytes(q, n), -1);
        free(q);
    }
    /* Duplicate labels: "pos" and "neg" made equal length-3 strings. */
    unsigned char *q = malloc(n);
    memcpy(q, p, n);
    assert_int_equal(q[20], 3);
    memcpy(q + 21 + 3 + 1, q + 21, 3);
    reseal(q, n);
    assert_int_equal(load_bytes(q, n), -1);
    /* A trailing byte, sealed. */
    unsigned char *r = malloc(n + 1);
    memcpy(r, p, n - 4);
    r[n - 4] = 0;
    reseal(r, n + 1);
    assert_int_equal(load_bytes(r, n + 1), -1);
    /* Row count larger than what follows. */
    memcpy(q, p, n);
    size_t rows_at = 20 + 4 + 4 + 4;    /* labels "pos" "neg", one f32 bias */
    q[rows_at + 3] = 0x7f;
    reseal(q, n);
    assert_int_equal(load_bytes(q, n), -1);
    /* A non-finite weight (first row's f16 made +inf). */
    memcpy(q, p, n);
    size_t first = rows_at + 4;
    while (q[first] & 0x80)
        first++;
    q[first + 1] = 0x00;
    q[first + 2] = 0x7c;
    reseal(q, n);
    assert_int_equal(load_bytes(q, n), -1);
    free(r);
    free(q);
    free(p);
    buf_free(&b);
}

/* ---- progress, threads ---- */

struct progress_log {
    int calls;
    double last;
    bool backwards;
    double cancel_at;
};

static int on_progress(void *arg, double f)
{
    struct progress_log *l = arg;
    if (f < l->last)
        l->backwards = true;
    l->last = f;
    l->calls++;
    return l->cancel_at > 0 && f >= l->cancel_at;
}

static void test_progress_and_cancel(void **state)
{
    (void)state;
    struct clf_params p = {.hash_bits = 16, .epochs = 4};
    struct clf_trainer *t = clf_trainer_new(&p);
    struct ax_err err;
    ax_err_clear(&err);
    for (int rep = 0; rep < 100; rep++)
        for (size_t i = 0; i < NREVIEWS; i++)
            clf_trainer_add(t, reviews[i].text, strlen(reviews[i].text), reviews[i].label, &err);
    struct progress_log log = {0};
    struct clf_model *m;
    assert_int_equal(clf_train(t, on_progress, &log, &m, NULL, &err), 0);
    assert_true(log.calls > 50);
    assert_false(log.backwards);
    assert_true(log.last == 1.0);
    clf_model_free(m);

    struct progress_log stop = {.cancel_at = 0.5};
    assert_int_equal(clf_train(t, on_progress, &stop, &m, NULL, &err), -1);
    assert_null(m);
    assert_int_equal(err.code, AX_EUNAVAIL);
    assert_true(stop.last >= 0.5 && stop.last < 0.6);
    clf_trainer_free(t);
}

struct job {
    const struct clf_model *m;
    double out[64];
};

static void *predict_all(void *arg)
{
    struct job *j = arg;
    for (int rep = 0; rep < 200; rep++)
        for (size_t i = 0; i < NREVIEWS; i++)
            j->out[i] = clf_sentiment(j->m, reviews[i].text, strlen(reviews[i].text));
    return NULL;
}

static void test_shared_model_threads(void **state)
{
    (void)state;
    struct clf_model *m = review_model();
    struct job a = {.m = m}, b = {.m = m}, ref = {.m = m};
    pthread_t ta, tb;
    assert_int_equal(pthread_create(&ta, NULL, predict_all, &a), 0);
    assert_int_equal(pthread_create(&tb, NULL, predict_all, &b), 0);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    for (size_t i = 0; i < NREVIEWS; i++)
        ref.out[i] = clf_sentiment(m, reviews[i].text, strlen(reviews[i].text));
    assert_memory_equal(a.out, ref.out, NREVIEWS * sizeof(double));
    assert_memory_equal(b.out, ref.out, NREVIEWS * sizeof(double));
    clf_model_free(m);
}

/* ---- the real reviews ---- */

static void test_waimai_fixed_split(void **state)
{
    (void)state;
    const char *path = waimai_path();
    if (!path) {
        print_message("SKIP: waimai_10k.csv not found in ../shared/data or data/\n");
        skip();
    }
    struct clf_corpus *c = clf_corpus_new();
    struct ax_err err;
    ax_err_clear(&err);
    long skipped = -1;
    assert_int_equal(clf_corpus_load_csv(c, path, "review", "label", NULL, "waimai",
                                         &skipped, &err), 0);
    assert_int_equal(clf_corpus_count(c), 11987);
    assert_int_equal(skipped, 0);
    assert_int_equal(clf_corpus_ndomains(c), 1);
    assert_string_equal(clf_corpus_domain(c, 0), "waimai");

    /* Row i (0-based data row) is held out when i % 5 == 4. */
    struct clf_params p = {.holdout_every = 5};
    struct clf_model *m;
    struct clf_eval *e;
    assert_int_equal(clf_corpus_train(c, &p, NULL, NULL, NULL, &m, &e, &err), 0);
    assert_int_equal(e->n, 2397);
    assert_int_equal(e->support[clf_model_label_index(m, "1")], 800);
    assert_int_equal(e->support[clf_model_label_index(m, "0")], 1597);
    print_message("waimai held-out accuracy %.4f\n", e->accuracy);
    assert_true(e->accuracy >= 0.905);
    assert_int_equal(clf_model_positive(m), clf_model_label_index(m, "1"));

    const char *good = "非常好吃，送餐也很快，下次还点", *bad = "太难吃了，送了两个小时，差评";
    assert_true(clf_sentiment(m, good, strlen(good)) > 0.5);
    assert_true(clf_sentiment(m, bad, strlen(bad)) < -0.5);

    struct buf b;
    buf_init(&b, BUF_MAX_DEFAULT);
    assert_int_equal(clf_save(m, &b), 0);
    assert_true(b.len < 4u << 20);
    struct clf_model *l;
    assert_int_equal(clf_load(b.data, b.len, &l, &err), 0);
    struct clf_eval *x, *y;
    assert_int_equal(clf_corpus_evaluate(c, m, NULL, &x, &err), 0);
    assert_int_equal(clf_corpus_evaluate(c, l, NULL, &y, &err), 0);
    assert_int_equal(x->n, 11987);
    assert_memory_equal(x->confusion, y->confusion, 4 * sizeof(long));
    clf_eval_free(x);
    clf_eval_free(y);
    buf_free(&b);
    clf_model_free(l);
    clf_eval_free(e);
    clf_model_free(m);
    clf_corpus_free(c);
}

/* The shipped default sentiment model, on hotel reviews: a kind of
 * business none of its training rows came from. */
static void test_shipped_sentiment_model(void **state)
{
    (void)state;
    FILE *f = fopen("data/models/sentiment_zh.clf", "rb");
    if (!f) {
        print_message("SKIP: data/models/sentiment_zh.clf not found\n");
        skip();
    }
    static unsigned char blob[8 << 20];
    size_t n = fread(blob, 1, sizeof blob, f);
    fclose(f);
    struct clf_model *m;
    struct ax_err err;
    ax_err_clear(&err);
    assert_int_equal(clf_load(blob, n, &m, &err), 0);
    assert_int_equal(clf_model_nlabels(m), 2);
    assert_string_equal(clf_model_label(m, clf_model_positive(m)), "1");
    static const char *const good[] = {"房间很干净，服务周到，下次还会入住",
                                       "前台热情，早餐丰富，性价比很高"};
    static const char *const bad[] = {"房间又脏又小，前台态度很差",
                                      "隔音太差，一晚上没睡好，不会再来了"};
    for (int i = 0; i < 2; i++) {
        double g = clf_sentiment(m, good[i], strlen(good[i]));
        double b = clf_sentiment(m, bad[i], strlen(bad[i]));
        print_message("%s %.3f / %s %.3f\n", good[i], g, bad[i], b);
        assert_true(g > 0.3);
        assert_true(b < -0.3);
    }
    clf_model_free(m);
}

static void test_corpus_csv_columns(void **state)
{
    (void)state;
    char path[] = "/tmp/axon-clf-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char csv[] = "cat,label,review\n"
                       "书籍,1,好书\n"
                       "水果,0,烂了\n"
                       "水果,,没有标签\n"
                       "书籍,0,\n"
                       "书籍,0,无聊\n"
                       "水果,1,新鲜\n";
    assert_int_equal(write(fd, csv, sizeof csv - 1), (ssize_t)(sizeof csv - 1));
    close(fd);
    struct clf_corpus *c = clf_corpus_new();
    struct ax_err err;
    ax_err_clear(&err);
    long skipped = 0;
    assert_int_equal(clf_corpus_load_csv(c, path, "review", "label", "cat", NULL,
                                         &skipped, &err), 0);
    assert_int_equal(clf_corpus_count(c), 4);
    assert_int_equal(skipped, 2);
    assert_int_equal(clf_corpus_ndomains(c), 2);
    assert_string_equal(clf_corpus_domain(c, 0), "书籍");
    assert_string_equal(clf_corpus_domain(c, 1), "水果");
    assert_int_equal(clf_corpus_load_csv(c, path, "text", "label", NULL, NULL, NULL, &err),
                     -1);
    assert_int_equal(err.code, AX_EINVALID);

    json_t *j = clf_corpus_cross_domain(c, NULL, NULL, NULL, &err);
    assert_non_null(j);
    assert_int_equal(json_array_size(json_object_get(j, "domains")), 2);
    json_t *first = json_array_get(json_object_get(j, "domains"), 0);
    assert_string_equal(json_string_value(json_object_get(first, "domain")), "书籍");
    assert_int_equal(json_integer_value(json_object_get(first, "n")), 2);
    json_decref(j);
    clf_corpus_free(c);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_binary_known_predictions),
        cmocka_unit_test(test_training_is_deterministic),
        cmocka_unit_test(test_three_labels),
        cmocka_unit_test(test_many_labels),
        cmocka_unit_test(test_english_words_and_negation),
        cmocka_unit_test(test_trainer_refusals),
        cmocka_unit_test(test_eval_metrics_and_json),
        cmocka_unit_test(test_save_load_round_trip),
        cmocka_unit_test(test_corrupt_blobs_refused),
        cmocka_unit_test(test_progress_and_cancel),
        cmocka_unit_test(test_shared_model_threads),
        cmocka_unit_test(test_waimai_fixed_split),
        cmocka_unit_test(test_shipped_sentiment_model),
        cmocka_unit_test(test_corpus_csv_columns),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
