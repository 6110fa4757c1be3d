/*
 * intent_speed.c - tagging throughput with Axon's default intent
 * dictionary against glibc memmem() looking for one term in the same text.
 *
 * bench/run.sh builds and runs it (part "tagging"); by hand, from the
 * repository root after `make axon`:
 *   cc -O2 -std=c11 -D_GNU_SOURCE -Iinclude -Ibuild/gen -o build/intent_speed \
 *      bench/intent_speed.c $(ls build/obj/*.o | grep -v /main.o) \
 *      $(cat build/libs) -lcsv -lm -pthread
 *   build/intent_speed [--dict FILE.csv] [text files...]
 * The dictionary defaults to the built-in one (the binary's copy of
 * lua/intents/default_terms.csv, as tenants get it); the text to the
 * waimai and online-shopping reviews and the Comcast complaints under
 * ../shared/data (about 9 MB of real review text).
 *
 * Measured, best of ROUNDS, one call per record (line) as the server tags
 * a record, folding included:
 *   memmem          each of five terms over the whole text
 *   intent_match    the matcher alone (hits counted, nothing kept)
 *   tags_compute    what a write runs: matching, per-intent scores and the
 *                   evidence JSON (without sentiment; that is the model's)
 *   sentiment       clf_sentiment with the built-in model, for comparison
 * The last line is a summary for bench/run.sh: key=value pairs.
 */
#include "axon/intent_dict.h"
#include "axon/intents.h"
#include "axon/models.h"
#include "axon/tags.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ROUNDS 5

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int count_hit(void *arg, const struct intent_hit *h)
{
    (void)h;
    ++*(long *)arg;
    return 0;
}

static char *slurp(int n, char **paths, size_t *len)
{
    char *all = NULL;
    size_t used = 0;
    for (int i = 0; i < n; i++) {
        FILE *f = fopen(paths[i], "rb");
        if (!f) {
            perror(paths[i]);
            exit(1);
        }
        fseek(f, 0, SEEK_END);
        long size = ftell(f);
        fseek(f, 0, SEEK_SET);
        all = realloc(all, used + (size_t)size + 1);
        if (!all || fread(all + used, 1, (size_t)size, f) != (size_t)size) {
            fprintf(stderr, "cannot read %s\n", paths[i]);
            exit(1);
        }
        used += (size_t)size;
        fclose(f);
    }
    all[used] = '\0';
    *len = used;
    return all;
}

/* Best of ROUNDS, in MB/s. */
static double memmem_speed(const char *text, size_t len, const char *term, long *hits)
{
    size_t tl = strlen(term);
    double best = 1e9;
    for (int r = 0; r < ROUNDS; r++) {
        double t0 = now();
        long n = 0;
        const char *p = text;
        size_t left = len;
        const char *q;
        while ((q = memmem(p, left, term, tl)) != NULL) {
            n++;
            left -= (size_t)(q + tl - p);
            p = q + tl;
        }
        double dt = now() - t0;
        best = dt < best ? dt : best;
        *hits = n;
    }
    return (double)len / best / 1e6;
}

enum mode { MATCH, TAGS, SENTIMENT };

/* Each record (line) on its own, as writes are tagged. */
static double speed(enum mode mode, const struct intent_dict *d, const struct clf_model *m,
                    const char *text, size_t len, long *count)
{
    double best = 1e9;
    struct ax_err err;
    ax_err_clear(&err);
    for (int r = 0; r < ROUNDS; r++) {
        long n = 0;
        double t0 = now();
        for (const char *p = text, *end = text + len; p < end;) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            size_t k = nl ? (size_t)(nl - p) : (size_t)(end - p);
            if (mode == MATCH) {
                intent_match(d, p, k, count_hit, &n, NULL);
            } else if (mode == TAGS) {
                struct tags_input in = {NULL, p, 0, k, "subject", "body"};
                struct tags_result t;
                if (tags_compute(d, NULL, &in, &t, &err) == 0) {
                    n += (long)t.nintents;
                    tags_result_free(&t);
                }
            } else {
                n += clf_sentiment(m, p, k) > 0;
            }
            p += k + 1;
        }
        double dt = now() - t0;
        best = dt < best ? dt : best;
        *count = n;
    }
    return (double)len / best / 1e6;
}

int main(int argc, char **argv)
{
    const char *dict_path = NULL;
    int first = 1;
    if (argc > 2 && !strcmp(argv[1], "--dict")) {
        dict_path = argv[2];
        first = 3;
    }
    char *defaults[] = {
        "../shared/data/zh_sentiment/waimai_10k.csv",
        "../shared/data/zh_sentiment/online_shopping_9_cats.csv",
        "../shared/data/complaints_en_real/Comcast_telecom_complaints_data.csv",
    };
    size_t len;
    char *text = argc > first ? slurp(argc - first, argv + first, &len) : slurp(3, defaults, &len);

    struct intent_dict *own = NULL;
    const struct intent_dict *d;
    struct ax_err err;
    ax_err_clear(&err);
    double t0 = now();
    if (dict_path) {
        struct intent_report rep;
        intent_report_init(&rep);
        if (intent_dict_load_csv(dict_path, &own, &rep, &err)) {
            fprintf(stderr, "%s: %s\n", dict_path, err.detail);
            return 1;
        }
        intent_report_free(&rep);
        d = own;
    } else if (!(d = intents_builtin(&err))) {
        fprintf(stderr, "%s\n", err.detail);
        return 1;
    }
    printf("dictionary: %zu terms, %zu intents, load+compile %.1f ms, %zu KB\n",
           intent_dict_term_count(d), intent_dict_intent_count(d), (now() - t0) * 1e3,
           intent_dict_memory(d) / 1024);
    printf("text: %.2f MB\n", (double)len / 1e6);

    static const char *terms[] = {"物流", "物流太慢", "取消订单", "price", "cancel"};
    double mm[5];
    for (int i = 0; i < 5; i++) {
        long hits;
        mm[i] = memmem_speed(text, len, terms[i], &hits);
        printf("memmem %-14s %8.0f MB/s  (%ld hits)\n", terms[i], mm[i], hits);
    }
    long hits, tagged, positive;
    double match = speed(MATCH, d, NULL, text, len, &hits);
    printf("intent_match per record  %8.0f MB/s  (%ld hits)\n", match, hits);
    double tags = speed(TAGS, d, NULL, text, len, &tagged);
    printf("tags_compute per record  %8.0f MB/s  (%ld intents tagged)\n", tags, tagged);
    const struct clf_model *m = models_builtin(&err);
    double senti = m ? speed(SENTIMENT, d, m, text, len, &positive) : 0;
    printf("sentiment per record     %8.0f MB/s\n", senti);
    for (int i = 0; i < 5; i++)
        printf("ratio to memmem %-14s intent_match %.3f  tags_compute %.3f\n", terms[i],
               match / mm[i], tags / mm[i]);
    printf("summary terms=%zu mb=%.2f memmem=%.0f match=%.0f tags=%.0f sentiment=%.0f "
           "ratio=%.3f match_ratio=%.3f\n", intent_dict_term_count(d), (double)len / 1e6,
           mm[0], match, tags, senti, tags / mm[0], match / mm[0]);
    intent_dict_free(own);
    free(text);
    return 0;
}
