/*
 * classify.h - trainable text classifier: sentiment, intent, topic.
 *
 * A linear model (multinomial logistic regression; plain logistic for two
 * labels) over hashed features of the text after text_fold() (NFKC + case
 * fold): character 1-3-grams, which suit Chinese where words are not
 * delimited; words and word bigrams of Latin-script text; and negation
 * scope marks (the characters after 不/没/别/无/未/…, the words after
 * "not"/"never"/"n't"), hashed into 2^hash_bits buckets. Each present
 * feature has the same value, scaled so the vector has unit length.
 * Training runs a few epochs of AdaGrad SGD over a seeded shuffle and
 * averages the weights of the later epochs, so the same examples in the
 * same order always give the same model. A model holds the weights its
 * blob stores (half precision; with 1000+ training examples, features seen
 * in only one are dropped), so save + load changes no prediction.
 * Measured accuracy, speed and size: docs/classifier.md.
 *
 * Ownership:
 * - A trainer owns copies of its labels and the hashed features of each
 *   example (the text is not kept); clf_trainer_free() releases them.
 * - clf_train() hands the caller a new model (clf_model_free()) and, when
 *   asked, the held-out evaluation (clf_eval_free()). The trainer stays
 *   usable and can train again.
 * - A model is immutable once made or loaded: any number of threads may
 *   call clf_predict()/clf_sentiment()/clf_save() on it at once. Label
 *   strings returned by clf_model_label() live as long as the model.
 * - clf_save() appends to the caller's buffer; clf_load() copies what it
 *   needs, so the blob can be freed right after.
 *
 * The held-out split is fixed by position, not by chance: with
 * holdout_every = k, the example added i-th (0-based) is held out when
 * i % k == k - 1; k = 5 keeps 20 % for evaluation.
 */
#ifndef AXON_CLASSIFY_H
#define AXON_CLASSIFY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "axon/buf.h"
#include "axon/error.h"

#define CLF_MAX_LABELS 64
#define CLF_LABEL_MAX 128           /* bytes per label */
#define CLF_MAX_CHARS 4096          /* code points of a text that count */
#define CLF_FORMAT_VERSION 1        /* of the clf_save() blob */

struct clf_params {
    int hash_bits;          /* 2^bits feature buckets, 16..22; 0 = 20. With
                               many labels fewer, so that buckets * label
                               columns stays within 2^23 weights (32 MB) */
    int epochs;             /* 1..50; 0 = 6 */
    int holdout_every;      /* 0 = train on everything; k >= 2: see above */
    const char *positive;   /* two labels: the positive one; NULL = "1", "pos"
                               or "positive", whichever is present */
    unsigned seed;          /* shuffle; 0 = a fixed default */
};

struct clf_trainer;
struct clf_model;
struct clf_eval;

/* Progress in [0, 1]; a nonzero return cancels training (clf_train fails). */
typedef int (*clf_progress_fn)(void *arg, double fraction);

/* ---- training ---- */

struct clf_trainer *clf_trainer_new(const struct clf_params *p);   /* NULL = defaults */
void clf_trainer_free(struct clf_trainer *t);

/* One labelled example. Fails (AX_EINVALID) on invalid UTF-8, an empty or
 * over-long label, or more than CLF_MAX_LABELS distinct labels. */
int clf_trainer_add(struct clf_trainer *t, const char *text, size_t len,
                    const char *label, struct ax_err *err);
size_t clf_trainer_count(const struct clf_trainer *t);

/* Train on the non-held-out examples. Needs two or more labels among them.
 * `heldout` (may be NULL) receives the evaluation on the held-out examples,
 * or NULL when holdout_every is 0. `progress` may be NULL. */
int clf_train(struct clf_trainer *t, clf_progress_fn progress, void *arg,
              struct clf_model **model, struct clf_eval **heldout, struct ax_err *err);

/* ---- prediction (thread-safe on a shared model) ---- */

int clf_model_nlabels(const struct clf_model *m);
const char *clf_model_label(const struct clf_model *m, int i);
int clf_model_label_index(const struct clf_model *m, const char *label);  /* -1 if none */
int clf_model_positive(const struct clf_model *m);   /* label index, -1 if none */

/* Probabilities into probs[clf_model_nlabels()] (NULL to skip) and the most
 * likely label's index into *best (NULL to skip). -1 on invalid UTF-8 or
 * no memory. Text past CLF_MAX_CHARS code points is ignored. */
int clf_predict(const struct clf_model *m, const char *text, size_t len,
                double *probs, int *best);

/* P(positive) * 2 - 1, in [-1, 1]. NAN when the model has no positive label
 * or the text is not valid UTF-8. */
double clf_sentiment(const struct clf_model *m, const char *text, size_t len);

void clf_model_free(struct clf_model *m);

/* ---- evaluation ---- */

struct clf_example {
    const char *text;
    size_t len;
    const char *label;
};

/* Counts and the metrics derived from them (filled by clf_eval_finish). */
struct clf_eval {
    int nlabels;
    char **labels;          /* copies, owned by the eval */
    long n, correct;
    double accuracy;
    double *precision, *recall, *f1;   /* per label; 0 when undefined */
    long *support;          /* examples whose true label is i */
    long *confusion;        /* [truth * nlabels + predicted] */
};

struct clf_eval *clf_eval_new(const struct clf_model *m);
void clf_eval_record(struct clf_eval *e, int truth, int predicted);
void clf_eval_finish(struct clf_eval *e);
void clf_eval_free(struct clf_eval *e);

/* Predict each example and compare. Fails (AX_EINVALID) on a label the
 * model does not know or text that is not valid UTF-8. */
int clf_evaluate(const struct clf_model *m, const struct clf_example *ex, size_t n,
                 struct clf_eval **out, struct ax_err *err);

/* {"n", "accuracy", "labels":[{"label","precision","recall","f1","support"}],
 *  "confusion":[[...]]} with confusion rows = true label, columns =
 * predicted, in label order. New reference; NULL on no memory. */
json_t *clf_eval_json(const struct clf_eval *e);

/* ---- storage ---- */

/* Append the model as a compact binary blob (magic, format version,
 * labels, pruned half-precision weights, CRC-32). -1 if the buffer is full. */
int clf_save(const struct clf_model *m, struct buf *out);

/* Check and read a blob; refuses (AX_EINVALID) anything malformed,
 * truncated, of another format version or failing its checksum. */
int clf_load(const void *data, size_t len, struct clf_model **out, struct ax_err *err);

#endif
