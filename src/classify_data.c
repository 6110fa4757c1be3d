/* classify_data.c - labelled corpora from CSV and the evaluations run on
 * them. See classify_data.h. */
#include "axon/classify_data.h"

#include "axon/buf.h"
#include "axon/csvio.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Share of the progress bar that feature extraction takes in
 * clf_corpus_train (measured: about as long as the SGD epochs). */
#define EXTRACT_SHARE 0.5

struct crow {
    size_t off, len;        /* text bytes in the arena */
    unsigned char label, domain;
};

struct clf_corpus {
    struct buf text;
    struct crow *rows;
    size_t n, cap;
    int nlabels, ndomains;
    char *labels[CLF_MAX_LABELS];
    char *domains[CLF_MAX_DOMAINS + 1];     /* [0] = no domain */
};

struct clf_corpus *clf_corpus_new(void)
{
    struct clf_corpus *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    buf_init(&c->text, (size_t)1 << 31);
    if (!(c->domains[0] = strdup(""))) {
        free(c);
        return NULL;
    }
    c->ndomains = 1;
    return c;
}

void clf_corpus_free(struct clf_corpus *c)
{
    if (!c)
        return;
    buf_free(&c->text);
    free(c->rows);
    for (int i = 0; i < c->nlabels; i++)
        free(c->labels[i]);
    for (int i = 0; i < c->ndomains; i++)
        free(c->domains[i]);
    free(c);
}

size_t clf_corpus_count(const struct clf_corpus *c)
{
    return c->n;
}

/* Domains as the caller sees them: without the "no domain" slot. */
int clf_corpus_ndomains(const struct clf_corpus *c)
{
    return c->ndomains - 1;
}

const char *clf_corpus_domain(const struct clf_corpus *c, int i)
{
    return i >= 0 && i < c->ndomains - 1 ? c->domains[i + 1] : NULL;
}

/* Index of s in tab[0..*n), adding it when there is room; -1 when full. */
static int intern(char **tab, int *n, int max, const char *s)
{
    for (int i = 0; i < *n; i++)
        if (strcmp(tab[i], s) == 0)
            return i;
    if (*n == max || !(tab[*n] = strdup(s)))
        return -1;
    return (*n)++;
}

int clf_corpus_add(struct clf_corpus *c, const char *text, size_t len, const char *label,
                   const char *domain, struct ax_err *err)
{
    int li = intern(c->labels, &c->nlabels, CLF_MAX_LABELS, label);
    int di = intern(c->domains, &c->ndomains, CLF_MAX_DOMAINS + 1, domain ? domain : "");
    if (li < 0)
        return ax_fail(err, AX_EINVALID, "more than %d labels", CLF_MAX_LABELS);
    if (di < 0)
        return ax_fail(err, AX_EINVALID, "more than %d domains", CLF_MAX_DOMAINS);
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 4096;
        struct crow *rows = realloc(c->rows, cap * sizeof *rows);
        if (!rows)
            return ax_fail(err, AX_EINTERNAL, "out of memory");
        c->rows = rows;
        c->cap = cap;
    }
    size_t off = c->text.len;
    if (buf_add(&c->text, text, len) || buf_addc(&c->text, '\0'))
        return ax_fail(err, AX_ETOOLARGE, "corpus too large");
    c->rows[c->n++] = (struct crow){off, len, (unsigned char)li, (unsigned char)di};
    return 0;
}

static int column(const struct csvio_row *header, const char *name)
{
    for (int i = 0; i < header->nfields; i++)
        if (strcmp(header->fields[i], name) == 0)
            return i;
    return -1;
}

int clf_corpus_load_csv(struct clf_corpus *c, const char *path, const char *text_col,
                        const char *label_col, const char *domain_col, const char *domain,
                        long *skipped, struct ax_err *err)
{
    struct csvio_reader *r = csvio_open(path, NULL, err);
    if (!r)
        return -1;
    struct csvio_row row;
    int tc = -1, lc = -1, dc = -1, rc;
    long skip = 0;
    while ((rc = csvio_next(r, &row, err)) == 1) {
        if (row.row == 0) {
            if (row.error)
                break;
            tc = column(&row, text_col);
            lc = column(&row, label_col);
            dc = domain_col ? column(&row, domain_col) : -1;
            if (tc < 0 || lc < 0 || (domain_col && dc < 0))
                break;
            continue;
        }
        if (row.error || row.nfields <= tc || row.nfields <= lc || row.nfields <= dc ||
            row.lens[tc] == 0 || row.lens[lc] == 0 || (dc >= 0 && row.lens[dc] == 0)) {
            skip++;
            continue;
        }
        if (clf_corpus_add(c, row.fields[tc], row.lens[tc], row.fields[lc],
                           dc >= 0 ? row.fields[dc] : domain, err)) {
            rc = -1;
            break;
        }
    }
    csvio_close(r);
    if (rc == 1 || (rc == 0 && (tc < 0 || lc < 0)))
        return ax_fail(err, AX_EINVALID, "%s: no column named %s, %s%s%s", path, text_col,
                       label_col, domain_col ? " or " : "", domain_col ? domain_col : "");
    if (skipped)
        *skipped = skip;
    return rc;
}

static int domain_index(const struct clf_corpus *c, const char *name)
{
    if (!name)
        return -1;
    for (int i = 0; i < c->ndomains; i++)
        if (strcmp(c->domains[i], name) == 0)
            return i;
    return -2;      /* unknown: matches no row */
}

/* Progress of one stage mapped into [lo, lo + span] of the caller's bar. */
struct stage {
    clf_progress_fn fn;
    void *arg;
    double lo, span;
};

static int stage_progress(void *arg, double f)
{
    struct stage *s = arg;
    return s->fn ? s->fn(s->arg, s->lo + s->span * f) : 0;
}

int clf_corpus_train(const struct clf_corpus *c, const struct clf_params *p,
                     const char *exclude, clf_progress_fn progress, void *arg,
                     struct clf_model **model, struct clf_eval **heldout,
                     struct ax_err *err)
{
    *model = NULL;
    if (heldout)
        *heldout = NULL;
    struct clf_trainer *t = clf_trainer_new(p);
    if (!t)
        return ax_fail(err, AX_EINTERNAL, "out of memory");
    int skip = domain_index(c, exclude);
    size_t every = c->n / 100 + 1;
    for (size_t i = 0; i < c->n; i++) {
        const struct crow *row = &c->rows[i];
        if (row->domain == skip)
            continue;
        if (clf_trainer_add(t, c->text.data + row->off, row->len, c->labels[row->label],
                            err)) {
            clf_trainer_free(t);
            return -1;
        }
        if (progress && i % every == 0 &&
            progress(arg, EXTRACT_SHARE * (double)i / (double)c->n)) {
            clf_trainer_free(t);
            return ax_fail(err, AX_EUNAVAIL, "training cancelled");
        }
    }
    struct stage st = {progress, arg, EXTRACT_SHARE, 1 - EXTRACT_SHARE};
    int rc = clf_train(t, progress ? stage_progress : NULL, &st, model, heldout, err);
    clf_trainer_free(t);
    return rc;
}

int clf_corpus_evaluate(const struct clf_corpus *c, const struct clf_model *m,
                        const char *domain, struct clf_eval **out, struct ax_err *err)
{
    *out = NULL;
    int only = domain_index(c, domain);
    int map[CLF_MAX_LABELS];
    for (int k = 0; k < c->nlabels; k++)
        map[k] = clf_model_label_index(m, c->labels[k]);
    struct clf_eval *e = clf_eval_new(m);
    if (!e)
        return ax_fail(err, AX_EINTERNAL, "out of memory");
    for (size_t i = 0; i < c->n; i++) {
        const struct crow *row = &c->rows[i];
        if (only != -1 && row->domain != only)
            continue;
        int best;
        if (map[row->label] < 0) {
            clf_eval_free(e);
            return ax_fail(err, AX_EINVALID, "label \"%s\" is not the model's",
                           c->labels[row->label]);
        }
        if (clf_predict(m, c->text.data + row->off, row->len, NULL, &best)) {
            clf_eval_free(e);
            return ax_fail(err, AX_EINVALID, "row %zu: text is not valid UTF-8", i + 1);
        }
        clf_eval_record(e, map[row->label], best);
    }
    clf_eval_finish(e);
    *out = e;
    return 0;
}

static json_t *domain_result(const char *domain, const struct clf_eval *e)
{
    json_t *report = clf_eval_json(e);
    if (!report)
        return NULL;
    return json_pack("{s:s, s:I, s:f, s:o}", "domain", domain, "n", (json_int_t)e->n,
                     "accuracy", e->accuracy, "report", report);
}

json_t *clf_corpus_cross_domain(const struct clf_corpus *c, const struct clf_params *p,
                                clf_progress_fn progress, void *arg, struct ax_err *err)
{
    struct clf_params q = p ? *p : (struct clf_params){0};
    q.holdout_every = 0;
    int nd = clf_corpus_ndomains(c);
    if (nd < 2) {
        ax_fail(err, AX_EINVALID, "leave-one-domain-out needs two or more domains");
        return NULL;
    }
    json_t *list = json_array(), *out = json_pack("{s:o}", "domains", list);
    if (!out) {
        ax_fail(err, AX_EINTERNAL, "out of memory");
        return NULL;
    }
    double sum = 0;
    for (int d = 0; d < nd; d++) {
        const char *name = clf_corpus_domain(c, d);
        struct stage st = {progress, arg, (double)d / nd, 1.0 / nd};
        struct clf_model *m;
        struct clf_eval *e = NULL;
        if (clf_corpus_train(c, &q, name, progress ? stage_progress : NULL, &st, &m, NULL,
                             err) ||
            clf_corpus_evaluate(c, m, name, &e, err)) {
            clf_model_free(m);
            json_decref(out);
            return NULL;
        }
        sum += e->accuracy;
        json_t *res = domain_result(name, e);
        clf_eval_free(e);
        clf_model_free(m);
        if (!res || json_array_append_new(list, res)) {
            json_decref(out);
            ax_fail(err, AX_EINTERNAL, "out of memory");
            return NULL;
        }
    }
    json_object_set_new(out, "mean_accuracy", json_real(sum / nd));
    return out;
}

int clf_corpus_load_zh_sentiment(struct clf_corpus *c, const char *data_dir,
                                 struct ax_err *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", data_dir, CLF_WAIMAI_CSV);
    if (clf_corpus_load_csv(c, path, "review", "label", NULL, "waimai", NULL, err))
        return -1;
    snprintf(path, sizeof path, "%s/%s", data_dir, CLF_SHOPPING_CSV);
    return clf_corpus_load_csv(c, path, "review", "label", "cat", NULL, NULL, err);
}

int clf_default_sentiment_train(const char *data_dir, clf_progress_fn progress, void *arg,
                                struct clf_model **model, struct ax_err *err)
{
    *model = NULL;
    struct clf_corpus *c = clf_corpus_new();
    if (!c)
        return ax_fail(err, AX_EINTERNAL, "out of memory");
    struct clf_params p = {.positive = "1", .hash_bits = CLF_SENTIMENT_BITS};
    int rc = clf_corpus_load_zh_sentiment(c, data_dir, err);
    if (rc == 0)
        rc = clf_corpus_train(c, &p, NULL, progress, arg, model, NULL, err);
    clf_corpus_free(c);
    return rc;
}
