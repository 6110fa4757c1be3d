/*
 * intent_speed.c - tagging throughput of the default intent dictionary
 * against glibc memmem() looking for one term in the same text.
 *
 * Build and run by hand from the repository root (after `make axon`):
 *   cc -O2 -std=c11 -D_GNU_SOURCE -Iinclude -o build/intent_speed bench/intent_speed.c \
 *      build/obj/intent_dict.o build/obj/csvio.o build/obj/text.o build/obj/error.o \
 *      build/obj/buf.o $(cat build/libs) -lcsv -lm
 *   build/intent_speed [dictionary.csv] [text files...]
 * Defaults: lua/intents/default_terms.csv and the waimai + online-shopping
 * reviews and Comcast complaints under /work/shared/data (about 9 MB).
 * The text is matched whole (one call) and line by line (one call per
 * record, as the server tags messages); folding is part of the time.
 *
 * Measured (2-core AMD EPYC VM, gcc -O2, shared with other jobs), 9.28 MB:
 *   memmem one term        5.2-10.4 GB/s (物流 5.7, 物流太慢 9.8, price 6.6)
 *   default dictionary     5870 terms: ~275 MB/s whole, ~270 per line
 *   every third term       1956 terms: ~335 MB/s
 *   first version (Aho-Corasick DFA, git f2c48ee): ~170 and ~220 MB/s
 * Ratio to memmem: 0.03-0.05, short of the 0.25 goal (see the report).
 */
#include "axon/intent_dict.h"

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

static double match_speed(const struct intent_dict *d, const char *text, size_t len,
                          bool per_line, long *hits)
{
    double best = 1e9;
    for (int r = 0; r < ROUNDS; r++) {
        long n = 0;
        double t0 = now();
        if (!per_line) {
            intent_match(d, text, len, count_hit, &n, NULL);
        } else {
            for (const char *p = text, *end = text + len; p < end;) {
                const char *nl = memchr(p, '\n', (size_t)(end - p));
                size_t k = nl ? (size_t)(nl - p) : (size_t)(end - p);
                intent_match(d, p, k, count_hit, &n, NULL);
                p += k + 1;
            }
        }
        double dt = now() - t0;
        best = dt < best ? dt : best;
        *hits = n;
    }
    return (double)len / best / 1e6;
}

int main(int argc, char **argv)
{
    const char *dict_path = argc > 1 ? argv[1] : "lua/intents/default_terms.csv";
    char *defaults[] = {
        "/work/shared/data/zh_sentiment/waimai_10k.csv",
        "/work/shared/data/zh_sentiment/online_shopping_9_cats.csv",
        "/work/shared/data/complaints_en_real/Comcast_telecom_complaints_data.csv",
    };
    size_t len;
    char *text = argc > 2 ? slurp(argc - 2, argv + 2, &len) : slurp(3, defaults, &len);

    struct intent_dict *d;
    struct intent_report rep;
    struct ax_err err;
    intent_report_init(&rep);
    ax_err_clear(&err);
    double t0 = now();
    if (intent_dict_load_csv(dict_path, &d, &rep, &err)) {
        fprintf(stderr, "%s: %s\n", dict_path, err.detail);
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
    long hits;
    double whole = match_speed(d, text, len, false, &hits);
    printf("intent_match whole text %8.0f MB/s  (%ld hits)\n", whole, hits);
    double lines = match_speed(d, text, len, true, &hits);
    printf("intent_match per line   %8.0f MB/s  (%ld hits)\n", lines, hits);
    for (int i = 0; i < 5; i++)
        printf("ratio vs memmem %-14s whole %.2f  per line %.2f\n", terms[i], whole / mm[i],
               lines / mm[i]);
    intent_dict_free(d);
    intent_report_free(&rep);
    free(text);
    return 0;
}
