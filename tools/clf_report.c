/* clf_report.c - measure the classifier on the shared Chinese review sets
 * and write Axon's default sentiment model (developer tool, not shipped).
 *
 *   make axon
 *   cc -O2 -std=c11 -D_GNU_SOURCE -pthread -Iinclude -o build/clf_report \
 *      tools/clf_report.c build/obj/classify.o build/obj/classify_data.o \
 *      build/obj/csvio.o build/obj/text.o build/obj/buf.o build/obj/error.o \
 *      $(cat build/libs) -lcsv -lm
 *   build/clf_report ../shared/data [data/models/sentiment_zh.clf]
 *
 * Prints the fixed-split accuracy on waimai_10k, the time to train on both
 * sets, leave-one-domain-out accuracies, the model size and predictions per
 * second; the numbers in docs/classifier.md come from here. */
#include "axon/classify.h"
#include "axon/classify_data.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int show_progress(void *arg, double f)
{
    int *last = arg;
    int pct = (int)(f * 100);
    if (pct / 10 != *last / 10)
        fprintf(stderr, "\r  training %3d%%", pct);
    *last = pct;
    return 0;
}

static int fail(const char *what, const struct ax_err *err)
{
    fprintf(stderr, "%s: %s\n", what, err->detail);
    return 1;
}

struct pjob {
    const struct clf_corpus *c;
    const struct clf_model *m;
};

static void *predict_corpus(void *arg)
{
    struct pjob *j = arg;
    struct clf_eval *e;
    struct ax_err err;
    clf_corpus_evaluate(j->c, j->m, NULL, &e, &err);
    clf_eval_free(e);
    return NULL;
}

/* Predictions per second with `threads` threads sharing one model. */
static double predict_rate(const struct clf_corpus *c, const struct clf_model *m, int threads)
{
    pthread_t t[8];
    struct pjob j = {c, m};
    double t0 = now();
    for (int i = 0; i < threads; i++)
        pthread_create(&t[i], NULL, predict_corpus, &j);
    for (int i = 0; i < threads; i++)
        pthread_join(t[i], NULL);
    return (double)clf_corpus_count(c) * threads / (now() - t0);
}

static void print_eval(const char *title, const struct clf_eval *e)
{
    json_t *j = clf_eval_json(e);
    char *s = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(4));
    printf("%s: accuracy %.4f on %ld\n  %s\n", title, e->accuracy, e->n, s);
    free(s);
    json_decref(j);
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "../shared/data";
    const char *out = argc > 2 ? argv[2] : NULL;
    struct ax_err err;
    ax_err_clear(&err);
    char path[4096];

    /* 1. Fixed split: row i of waimai_10k is held out when i % 5 == 4. */
    struct clf_corpus *w = clf_corpus_new();
    snprintf(path, sizeof path, "%s/%s", dir, CLF_WAIMAI_CSV);
    if (clf_corpus_load_csv(w, path, "review", "label", NULL, "waimai", NULL, &err))
        return fail(path, &err);
    struct clf_params p = {.holdout_every = 5};
    struct clf_model *m;
    struct clf_eval *e;
    double t0 = now();
    if (clf_corpus_train(w, &p, NULL, NULL, NULL, &m, &e, &err))
        return fail("train", &err);
    printf("waimai_10k fixed split (%zu rows, trained in %.2f s)\n", clf_corpus_count(w),
           now() - t0);
    print_eval("  held out", e);
    clf_eval_free(e);
    clf_model_free(m);

    /* 2. Both sets, every row: the default sentiment model. */
    struct clf_corpus *c = clf_corpus_new();
    t0 = now();
    if (clf_corpus_load_zh_sentiment(c, dir, &err))
        return fail("load", &err);
    double t1 = now();
    int last = -1;
    struct clf_params d = {.positive = "1", .hash_bits = CLF_SENTIMENT_BITS};
    if (clf_corpus_train(c, &d, NULL, show_progress, &last, &m, NULL, &err))
        return fail("train", &err);
    double t2 = now();
    struct buf blob;
    buf_init(&blob, (size_t)1 << 28);
    if (clf_save(m, &blob))
        return fail("save", &err);
    printf("\ndefault sentiment model: %zu rows read in %.2f s, trained in %.2f s, "
           "blob %zu bytes\n", clf_corpus_count(c), t1 - t0, t2 - t1, blob.len);
    printf("  predictions/s on waimai reviews: %.0f (1 thread), %.0f (2 threads)\n",
           predict_rate(w, m, 1), predict_rate(w, m, 2));
    if (out) {
        FILE *f = fopen(out, "wb");
        if (!f || fwrite(blob.data, 1, blob.len, f) != blob.len || fclose(f))
            return fprintf(stderr, "cannot write %s\n", out), 1;
        printf("  written to %s\n", out);
    }
    buf_free(&blob);
    clf_model_free(m);

    /* 3. Leave one domain out, with the default model's parameters. */
    t0 = now();
    last = -1;
    json_t *cd = clf_corpus_cross_domain(c, &d, show_progress, &last, &err);
    if (!cd)
        return fail("cross-domain", &err);
    printf("\nleave-one-domain-out (%.1f s): domain, rows, accuracy, "
           "recall of positives, recall of negatives\n", now() - t0);
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(cd, "domains"), i, v) {
        json_t *labels = json_object_get(json_object_get(v, "report"), "labels");
        double rpos = 0, rneg = 0;
        size_t k;
        json_t *l;
        json_array_foreach(labels, k, l) {
            double r = json_real_value(json_object_get(l, "recall"));
            if (strcmp(json_string_value(json_object_get(l, "label")), "1") == 0)
                rpos = r;
            else
                rneg = r;
        }
        printf("  %s\t%lld\t%.4f\t%.4f\t%.4f\n",
               json_string_value(json_object_get(v, "domain")),
               (long long)json_integer_value(json_object_get(v, "n")),
               json_real_value(json_object_get(v, "accuracy")), rpos, rneg);
    }
    printf("  mean accuracy %.4f\n", json_real_value(json_object_get(cd, "mean_accuracy")));
    json_decref(cd);
    clf_corpus_free(c);
    clf_corpus_free(w);
    return 0;
}
