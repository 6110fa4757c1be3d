/*
 * classify_data.h - labelled corpora for the classifier (classify.h), read
 * from CSV with csvio, and the evaluations Axon reports on them: the fixed
 * held-out split and leave-one-domain-out.
 *
 * A corpus keeps every row (text, label, domain) in memory so that it can
 * be trained on repeatedly: one copy of each text, labels and domains
 * interned. The corpus owns all of it; clf_corpus_free() releases it.
 * Strings returned by clf_corpus_domain() live as long as the corpus.
 *
 * Rows keep the order they were read in, and held-out splits are taken by
 * position (see clf_params.holdout_every), so results do not depend on any
 * random state.
 */
#ifndef AXON_CLASSIFY_DATA_H
#define AXON_CLASSIFY_DATA_H

#include <jansson.h>
#include <stddef.h>

#include "axon/classify.h"
#include "axon/error.h"

#define CLF_MAX_DOMAINS 64

/* The shared Chinese review corpora, relative to a data directory such as
 * "../shared/data" (from the project root). */
#define CLF_WAIMAI_CSV "zh_sentiment/waimai_10k.csv"
#define CLF_SHOPPING_CSV "zh_sentiment/online_shopping_9_cats.csv"

struct clf_corpus;

struct clf_corpus *clf_corpus_new(void);
void clf_corpus_free(struct clf_corpus *c);

/* Append a CSV file's rows. Columns are found by header name; the domain
 * is the `domain_col` column when given, else the fixed `domain` (may be
 * NULL). Rows with a csvio error, an empty text or an empty label are
 * skipped and counted in *skipped (may be NULL). */
int clf_corpus_load_csv(struct clf_corpus *c, const char *path, const char *text_col,
                        const char *label_col, const char *domain_col, const char *domain,
                        long *skipped, struct ax_err *err);

/* Append one row (copies the strings). */
int clf_corpus_add(struct clf_corpus *c, const char *text, size_t len, const char *label,
                   const char *domain, struct ax_err *err);

size_t clf_corpus_count(const struct clf_corpus *c);
int clf_corpus_ndomains(const struct clf_corpus *c);
const char *clf_corpus_domain(const struct clf_corpus *c, int i);

/* Train on every row except those of domain `exclude` (NULL = none). The
 * held-out split of `p` applies to the rows trained on, counted in corpus
 * order. Progress covers feature extraction and training. */
int clf_corpus_train(const struct clf_corpus *c, const struct clf_params *p,
                     const char *exclude, clf_progress_fn progress, void *arg,
                     struct clf_model **model, struct clf_eval **heldout,
                     struct ax_err *err);

/* Evaluate a model on the rows of one domain (NULL = every row). */
int clf_corpus_evaluate(const struct clf_corpus *c, const struct clf_model *m,
                        const char *domain, struct clf_eval **out, struct ax_err *err);

/* Leave-one-domain-out: for each domain, train on all the others and test
 * on it. {"domains":[{"domain","n","accuracy","report":<clf_eval_json>}],
 * "mean_accuracy"}; NULL with err on failure. `p->holdout_every` is
 * ignored (the held-out domain is the test set). */
json_t *clf_corpus_cross_domain(const struct clf_corpus *c, const struct clf_params *p,
                                clf_progress_fn progress, void *arg, struct ax_err *err);

/* Both Chinese review sets from `data_dir`: waimai_10k as domain "waimai",
 * online_shopping_9_cats with its `cat` column as the domain; labels "0"
 * (negative) and "1" (positive). */
int clf_corpus_load_zh_sentiment(struct clf_corpus *c, const char *data_dir,
                                 struct ax_err *err);

/* Axon's default sentiment model: trained on every row of both Chinese
 * review sets, positive label "1", with 2^22 feature buckets (fewer
 * collisions help on kinds of business it was not trained on; one model
 * shared by every tenant, 16 MB in memory). */
#define CLF_SENTIMENT_BITS 22
int clf_default_sentiment_train(const char *data_dir, clf_progress_fn progress, void *arg,
                                struct clf_model **model, struct ax_err *err);

#endif
