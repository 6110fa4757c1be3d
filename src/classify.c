/* classify.c - hashed n-gram features, logistic regression by AdaGrad,
 * evaluation and the model blob. See classify.h. */
#include "axon/classify.h"

#include "axon/text.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#define DEFAULT_BITS 20
#define DEFAULT_EPOCHS 6
#define DEFAULT_SEED 0x5eed1234u
#define NEG_SCOPE 3             /* characters / words a negation reaches */
#define PROGRESS_STEPS 200      /* progress calls per training run */

/* AdaGrad step size. Chosen with 5-fold cross-validation inside the
 * waimai training split (never on its test rows): plain presence features
 * scaled to unit length beat NB-scaled ones, IDF weighting, hinge loss,
 * skip-bigrams, CJK 4-grams and last-clause tags, none of which gained. */
#define LEARNING_RATE 0.2

/* ---- features ---- */

enum { T_C1 = 1, T_C2, T_C3, T_W1, T_W2, T_NEGC, T_NEGW };

struct feats {
    uint32_t *v;
    size_t n, cap;
};

static uint64_t mix64(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

static uint64_t hash_step(uint64_t h, uint64_t x)
{
    h = (h ^ x) * 0x9E3779B97F4A7C15ULL;
    return h ^ (h >> 29);
}

static int feats_push(struct feats *f, uint64_t h, int bits)
{
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 256;
        uint32_t *v = realloc(f->v, cap * sizeof *v);
        if (!v)
            return -1;
        f->v = v;
        f->cap = cap;
    }
    f->v[f->n++] = (uint32_t)(mix64(h) >> (64 - bits));
    return 0;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

static void feats_unique(struct feats *f)
{
    if (f->n < 2)
        return;
    qsort(f->v, f->n, sizeof *f->v, cmp_u32);
    size_t w = 1;
    for (size_t i = 1; i < f->n; i++)
        if (f->v[i] != f->v[w - 1])
            f->v[w++] = f->v[i];
    f->n = w;
}

/* Character classes after folding. */
enum { K_SPACE, K_SKIP, K_CJK, K_WORD, K_PUNCT };

static int char_kind(int cp)
{
    if (cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r')
        return K_SPACE;
    if (text_is_cjk(cp))
        return K_CJK;
    utf8proc_category_t c = utf8proc_category(cp);
    switch (c) {
    case UTF8PROC_CATEGORY_ZS: case UTF8PROC_CATEGORY_ZL: case UTF8PROC_CATEGORY_ZP:
        return K_SPACE;
    case UTF8PROC_CATEGORY_CC: case UTF8PROC_CATEGORY_CF: case UTF8PROC_CATEGORY_CS:
    case UTF8PROC_CATEGORY_CO: case UTF8PROC_CATEGORY_CN:
        return K_SKIP;     /* U+FEFF inside reviews, zero-width joiners */
    default:
        break;
    }
    if ((c >= UTF8PROC_CATEGORY_LU && c <= UTF8PROC_CATEGORY_ME) ||
        (c >= UTF8PROC_CATEGORY_ND && c <= UTF8PROC_CATEGORY_NO))
        return K_WORD;
    return K_PUNCT;
}

static bool cjk_negator(int cp)
{
    return cp == 0x4E0D /* 不 */ || cp == 0x6CA1 /* 没 */ || cp == 0x65E0 /* 无 */ ||
           cp == 0x522B /* 别 */ || cp == 0x672A /* 未 */ || cp == 0x83AB /* 莫 */ ||
           cp == 0x52FF /* 勿 */ || cp == 0x975E /* 非 */;
}

/* A Latin word that negates what follows ("not", "never", "don't"). */
static bool word_negator(const int *w, int n)
{
    static const char *const words[] = {"not", "no", "never", "nothing", "nor",
                                        "cannot", "without", "neither", "none"};
    if (n >= 3 && w[n - 3] == 'n' && (w[n - 2] == '\'' || w[n - 2] == 0x2019) &&
        w[n - 1] == 't')
        return true;
    for (size_t i = 0; i < sizeof words / sizeof *words; i++) {
        size_t k = strlen(words[i]);
        if ((size_t)n != k)
            continue;
        size_t j = 0;
        while (j < k && w[j] == words[i][j])
            j++;
        if (j == k)
            return true;
    }
    return false;
}

/* Scratch for one text: the folded code points and their kinds. */
struct seq {
    int *cp;
    unsigned char *kind;
    int n;
};

static int seq_build(const char *text, size_t len, struct seq *s)
{
    char *f = text_fold(text, len);
    if (!f)
        return -1;
    size_t flen = strlen(f);
    size_t max = flen < CLF_MAX_CHARS ? flen : CLF_MAX_CHARS;
    s->cp = malloc((max + 1) * sizeof *s->cp);
    s->kind = malloc(max + 1);
    s->n = 0;
    if (!s->cp || !s->kind) {
        free(f);
        return -1;
    }
    for (size_t i = 0; i < flen && (size_t)s->n < max;) {
        int cp, k = text_decode(f + i, flen - i, &cp);
        if (k == 0)
            break;
        i += (size_t)k;
        int kind = char_kind(cp);
        if (kind == K_SKIP)
            continue;
        if (kind == K_SPACE) {
            if (s->n == 0 || s->kind[s->n - 1] == K_SPACE)
                continue;
            cp = ' ';
        }
        s->cp[s->n] = cp;
        s->kind[s->n++] = (unsigned char)kind;
    }
    while (s->n > 0 && s->kind[s->n - 1] == K_SPACE)
        s->n--;
    free(f);
    return 0;
}

static void seq_free(struct seq *s)
{
    free(s->cp);
    free(s->kind);
}

static int char_grams(const struct seq *s, int bits, struct feats *f)
{
    for (int i = 0; i < s->n; i++) {
        uint64_t h = hash_step(0, (uint64_t)(uint32_t)s->cp[i]);
        if (s->kind[i] != K_SPACE && feats_push(f, h ^ T_C1, bits))
            return -1;
        for (int k = 1; k < 3 && i + k < s->n; k++) {
            h = hash_step(h, (uint64_t)(uint32_t)s->cp[i + k]);
            if (feats_push(f, h ^ (uint64_t)(T_C1 + k), bits))
                return -1;
        }
    }
    return 0;
}

static int cjk_negation(const struct seq *s, int bits, struct feats *f)
{
    for (int i = 0; i < s->n; i++) {
        if (s->kind[i] != K_CJK || !cjk_negator(s->cp[i]))
            continue;
        for (int j = i + 1; j < s->n && j <= i + NEG_SCOPE; j++) {
            if (s->kind[j] != K_CJK && s->kind[j] != K_WORD)
                break;
            if (feats_push(f, hash_step(T_NEGC, (uint64_t)(uint32_t)s->cp[j]), bits))
                return -1;
        }
    }
    return 0;
}

/* Latin-script words (letters, digits, inner apostrophes), their bigrams
 * and, after a negating word, NEG_SCOPE words marked as negated. */
static int word_feats(const struct seq *s, int bits, struct feats *f)
{
    uint64_t prev = 0;
    int neg_left = 0;
    for (int i = 0; i < s->n;) {
        int kind = s->kind[i];
        if (kind == K_CJK || (kind == K_PUNCT && s->cp[i] != '\'' && s->cp[i] != '-')) {
            prev = 0;           /* a sentence or clause break */
            neg_left = 0;
            i++;
            continue;
        }
        if (kind != K_WORD) {
            i++;
            continue;
        }
        int start = i;
        uint64_t h = 0x77;
        while (i < s->n && (s->kind[i] == K_WORD ||
                            ((s->cp[i] == '\'' || s->cp[i] == 0x2019) && i + 1 < s->n &&
                             s->kind[i + 1] == K_WORD && i > start)))
            h = hash_step(h, (uint64_t)(uint32_t)s->cp[i++]);
        if (feats_push(f, h ^ T_W1, bits))
            return -1;
        if (prev && feats_push(f, hash_step(prev, h) ^ T_W2, bits))
            return -1;
        if (neg_left > 0) {
            neg_left--;
            if (feats_push(f, h ^ T_NEGW, bits))
                return -1;
        }
        if (word_negator(s->cp + start, i - start))
            neg_left = NEG_SCOPE;
        prev = h;
    }
    return 0;
}

/* The unique feature buckets of a text; -1 on invalid UTF-8 or no memory. */
static int extract(const char *text, size_t len, int bits, struct feats *f)
{
    struct seq s;
    f->n = 0;
    if (seq_build(text, len, &s))
        return -1;
    int rc = char_grams(&s, bits, f);
    if (!rc)
        rc = cjk_negation(&s, bits, f);
    if (!rc)
        rc = word_feats(&s, bits, f);
    seq_free(&s);
    if (rc == 0)
        feats_unique(f);
    return rc;
}

/* Every present feature has the same value, scaled so that the feature
 * vector has unit length: long reviews do not shout down short ones. */
static double feat_value(size_t n)
{
    return n ? 1.0 / sqrt((double)n) : 0.0;
}

/* ---- model ---- */

struct clf_model {
    int bits;
    int nlabels, ncol, positive;
    char *labels[CLF_MAX_LABELS];
    float bias[CLF_MAX_LABELS];
    float *w;               /* (1 << bits) rows of ncol weights */
};

/* Two labels need one weight column (the logit of label 1 over label 0). */
static int ncols_for(int nlabels)
{
    return nlabels == 2 ? 1 : nlabels;
}

static int clamp_bits(int bits, int ncol)
{
    if (bits <= 0)
        bits = DEFAULT_BITS;
    if (bits < 16)
        bits = 16;
    if (bits > 22)
        bits = 22;
    /* Many labels: keep the dense table within 2^23 weights (32 MB). */
    while (bits > 16 && ((size_t)ncol << bits) > ((size_t)1 << 23))
        bits--;
    return bits;
}

void clf_model_free(struct clf_model *m)
{
    if (!m)
        return;
    for (int i = 0; i < m->nlabels; i++)
        free(m->labels[i]);
    free(m->w);
    free(m);
}

int clf_model_nlabels(const struct clf_model *m)
{
    return m->nlabels;
}

const char *clf_model_label(const struct clf_model *m, int i)
{
    return i >= 0 && i < m->nlabels ? m->labels[i] : NULL;
}

int clf_model_label_index(const struct clf_model *m, const char *label)
{
    for (int i = 0; i < m->nlabels; i++)
        if (strcmp(m->labels[i], label) == 0)
            return i;
    return -1;
}

int clf_model_positive(const struct clf_model *m)
{
    return m->positive;
}

/* Softmax of the scores into probs (in place). */
static void softmax(double *s, int n)
{
    double max = s[0], sum = 0;
    for (int k = 1; k < n; k++)
        if (s[k] > max)
            max = s[k];
    for (int k = 0; k < n; k++) {
        s[k] = exp(s[k] - max);
        sum += s[k];
    }
    for (int k = 0; k < n; k++)
        s[k] /= sum;
}

/* Label scores of a feature set under weights w (ncol per row). */
static void scores(const float *w, const float *bias, int nlabels, int ncol,
                   const uint32_t *v, size_t n, double x, double *s)
{
    double col[CLF_MAX_LABELS];
    for (int k = 0; k < ncol; k++)
        col[k] = 0;
    for (size_t i = 0; i < n; i++) {
        const float *row = w + (size_t)v[i] * (size_t)ncol;
        for (int k = 0; k < ncol; k++)
            col[k] += row[k];
    }
    if (ncol == 1) {
        s[0] = 0;
        s[1] = bias[0] + x * col[0];
    } else {
        for (int k = 0; k < nlabels; k++)
            s[k] = bias[k] + x * col[k];
    }
}

static int argmax(const double *p, int n)
{
    int best = 0;
    for (int k = 1; k < n; k++)
        if (p[k] > p[best])
            best = k;
    return best;
}

int clf_predict(const struct clf_model *m, const char *text, size_t len,
                double *probs, int *best)
{
    struct feats f = {0};
    if (extract(text, len, m->bits, &f)) {
        free(f.v);
        return -1;
    }
    double s[CLF_MAX_LABELS];
    scores(m->w, m->bias, m->nlabels, m->ncol, f.v, f.n, feat_value(f.n), s);
    free(f.v);
    softmax(s, m->nlabels);
    if (probs)
        memcpy(probs, s, (size_t)m->nlabels * sizeof *s);
    if (best)
        *best = argmax(s, m->nlabels);
    return 0;
}

double clf_sentiment(const struct clf_model *m, const char *text, size_t len)
{
    double p[CLF_MAX_LABELS];
    if (m->positive < 0 || clf_predict(m, text, len, p, NULL))
        return NAN;
    return p[m->positive] * 2.0 - 1.0;
}

/* ---- trainer ---- */

struct clf_trainer {
    struct clf_params p;
    char *positive;
    int nlabels;
    char *labels[CLF_MAX_LABELS];
    size_t n, cap;
    size_t *off;            /* example i's features: feat[off[i] .. off[i+1]) */
    unsigned char *label;
    uint32_t *feat;
    size_t nfeat, featcap;
    struct feats scratch;
};

struct clf_trainer *clf_trainer_new(const struct clf_params *p)
{
    struct clf_trainer *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    if (p)
        t->p = *p;
    t->p.positive = NULL;
    if (p && p->positive && !(t->positive = strdup(p->positive))) {
        free(t);
        return NULL;
    }
    if (t->p.hash_bits <= 0)
        t->p.hash_bits = DEFAULT_BITS;
    t->p.hash_bits = clamp_bits(t->p.hash_bits, 1);
    if (t->p.epochs <= 0)
        t->p.epochs = DEFAULT_EPOCHS;
    if (t->p.epochs > 50)
        t->p.epochs = 50;
    if (t->p.holdout_every < 2)
        t->p.holdout_every = 0;
    if (t->p.seed == 0)
        t->p.seed = DEFAULT_SEED;
    t->off = malloc(sizeof *t->off);
    if (!t->off) {
        clf_trainer_free(t);
        return NULL;
    }
    t->off[0] = 0;
    return t;
}

void clf_trainer_free(struct clf_trainer *t)
{
    if (!t)
        return;
    for (int i = 0; i < t->nlabels; i++)
        free(t->labels[i]);
    free(t->positive);
    free(t->off);
    free(t->label);
    free(t->feat);
    free(t->scratch.v);
    free(t);
}

size_t clf_trainer_count(const struct clf_trainer *t)
{
    return t->n;
}

static int label_intern(struct clf_trainer *t, const char *label, struct ax_err *err)
{
    for (int i = 0; i < t->nlabels; i++)
        if (strcmp(t->labels[i], label) == 0)
            return i;
    size_t n = strlen(label);
    if (n == 0 || n > CLF_LABEL_MAX || !text_valid_utf8(label, n))
        return ax_fail(err, AX_EINVALID, "a label must be 1 to %d bytes of UTF-8",
                       CLF_LABEL_MAX);
    if (t->nlabels == CLF_MAX_LABELS)
        return ax_fail(err, AX_EINVALID, "more than %d labels", CLF_MAX_LABELS);
    if (!(t->labels[t->nlabels] = strdup(label)))
        return ax_fail(err, AX_EINTERNAL, "out of memory");
    return t->nlabels++;
}

static int trainer_grow(struct clf_trainer *t, size_t more)
{
    if (t->n + 1 >= t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 1024;
        size_t *off = realloc(t->off, (cap + 1) * sizeof *off);
        if (!off)
            return -1;
        t->off = off;
        unsigned char *lab = realloc(t->label, cap);
        if (!lab)
            return -1;
        t->label = lab;
        t->cap = cap;
    }
    if (t->nfeat + more > t->featcap) {
        size_t cap = t->featcap ? t->featcap : 65536;
        while (cap < t->nfeat + more)
            cap *= 2;
        uint32_t *v = realloc(t->feat, cap * sizeof *v);
        if (!v)
            return -1;
        t->feat = v;
        t->featcap = cap;
    }
    return 0;
}

int clf_trainer_add(struct clf_trainer *t, const char *text, size_t len,
                    const char *label, struct ax_err *err)
{
    if (!label)
        return ax_fail(err, AX_EINVALID, "missing label");
    if (!text_valid_utf8(text, len))
        return ax_fail(err, AX_EINVALID, "text is not valid UTF-8");
    int li = label_intern(t, label, err);
    if (li < 0)
        return -1;
    if (extract(text, len, t->p.hash_bits, &t->scratch) ||
        trainer_grow(t, t->scratch.n))
        return ax_fail(err, AX_EINTERNAL, "out of memory");
    memcpy(t->feat + t->nfeat, t->scratch.v, t->scratch.n * sizeof *t->feat);
    t->nfeat += t->scratch.n;
    t->label[t->n] = (unsigned char)li;
    t->off[++t->n] = t->nfeat;
    return 0;
}

static bool held_out(const struct clf_trainer *t, size_t i)
{
    size_t k = (size_t)t->p.holdout_every;
    return k && i % k == k - 1;
}

/* Many labels need a column each: fold the stored features into fewer
 * buckets so the weight table stays within clamp_bits()' cap. A bucket's
 * top bits are the same hash with fewer bits, so shifting gives exactly
 * what extraction with fewer bits would. */
static void trainer_fit_bits(struct clf_trainer *t, int bits)
{
    int shift = t->p.hash_bits - bits;
    if (shift <= 0)
        return;
    size_t w = 0;
    for (size_t i = 0; i < t->n; i++) {
        struct feats f = {t->feat + t->off[i], t->off[i + 1] - t->off[i], 0};
        for (size_t j = 0; j < f.n; j++)
            f.v[j] >>= shift;
        feats_unique(&f);
        memmove(t->feat + w, f.v, f.n * sizeof *f.v);
        t->off[i] = w;
        w += f.n;
    }
    t->off[t->n] = w;
    t->nfeat = w;
    t->p.hash_bits = bits;
}

/* The positive label's index: the one asked for, else "1"/"pos"/"positive". */
static int find_positive(const struct clf_trainer *t, struct ax_err *err)
{
    if (t->positive) {
        for (int i = 0; i < t->nlabels; i++)
            if (strcmp(t->labels[i], t->positive) == 0)
                return i;
        return ax_fail(err, AX_EINVALID, "positive label \"%s\" is not among the labels",
                       t->positive);
    }
    if (t->nlabels != 2)
        return -2;
    static const char *const names[] = {"1", "pos", "positive"};
    for (size_t j = 0; j < sizeof names / sizeof *names; j++)
        for (int i = 0; i < 2; i++)
            if (strcmp(t->labels[i], names[j]) == 0)
                return i;
    return -2;
}

static uint32_t rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return (uint32_t)(*s >> 32);
}

static uint16_t f32_to_f16(float f);
static float f16_to_f32(uint16_t h);

#define PRUNE 1e-3f     /* rows whose weights are all smaller are dropped */
#define RARE_MIN_EXAMPLES 1000  /* training sets this large drop rare features */

static bool row_kept(const float *w, int ncol)
{
    for (int k = 0; k < ncol; k++)
        if (fabsf(w[k]) >= PRUNE)
            return true;
    return false;
}

/* Give the model exactly the weights its blob will hold (pruned, half
 * precision), so that a saved and loaded model predicts the same
 * probabilities and the held-out report describes the stored model. */
static void quantize(struct clf_model *m)
{
    size_t rows = (size_t)1 << m->bits;
    for (size_t i = 0; i < rows; i++) {
        float *w = m->w + i * m->ncol;
        for (int k = 0; k < m->ncol; k++)
            w[k] = f16_to_f32(f32_to_f16(w[k]));
        if (!row_kept(w, m->ncol))
            memset(w, 0, (size_t)m->ncol * sizeof *w);
    }
}

/* Working state of one training run. */
struct run {
    int nlabels, ncol;
    size_t nw;              /* weights: (1 << bits) rows of ncol */
    float *w, *g2;          /* weights and their AdaGrad sums of squares */
    float *avg;             /* sum of end-of-epoch weights being averaged */
    double bias[CLF_MAX_LABELS], bg2[CLF_MAX_LABELS], bavg[CLF_MAX_LABELS];
    double navg;
};

static void run_free(struct run *r)
{
    free(r->w);
    free(r->g2);
    free(r->avg);
}

static void adagrad(float *w, float *g2, double g)
{
    *g2 += (float)(g * g);
    *w -= (float)(LEARNING_RATE * g / sqrt(*g2 + 1e-8));
}

/* One AdaGrad step of the log loss on example i. */
static void sgd_step(const struct clf_trainer *t, struct run *r, size_t i)
{
    const uint32_t *v = t->feat + t->off[i];
    size_t n = t->off[i + 1] - t->off[i];
    double x = feat_value(n), p[CLF_MAX_LABELS], g[CLF_MAX_LABELS];
    int C = r->ncol, y = t->label[i];
    float bias[CLF_MAX_LABELS];
    for (int k = 0; k < C; k++)
        bias[k] = (float)r->bias[k];
    scores(r->w, bias, r->nlabels, C, v, n, x, p);
    softmax(p, r->nlabels);
    for (int k = 0; k < C; k++) {
        int label = C == 1 ? 1 : k;
        g[k] = p[label] - (label == y ? 1.0 : 0.0);
        r->bg2[k] += g[k] * g[k];
        r->bias[k] -= LEARNING_RATE * g[k] / sqrt(r->bg2[k] + 1e-8);
    }
    for (size_t j = 0; j < n; j++) {
        size_t base = (size_t)v[j] * (size_t)C;
        for (int k = 0; k < C; k++)
            adagrad(r->w + base + k, r->g2 + base + k, g[k] * x);
    }
}

/* Averaging the weights at the end of each epoch of the second half
 * smooths out where SGD happened to stop. */
static void run_accumulate(struct run *r)
{
    for (size_t i = 0; i < r->nw; i++)
        r->avg[i] += r->w[i];
    for (int k = 0; k < r->ncol; k++)
        r->bavg[k] += r->bias[k];
    r->navg++;
}

/* Drop the weights of features that occur in only one training example:
 * they memorise that example rather than generalise (the held-out and
 * cross-domain accuracy do not move), and they are two thirds of a
 * model's rows. Small training sets keep everything. */
static int drop_rare(const struct clf_trainer *t, struct clf_model *m)
{
    size_t rows = (size_t)1 << m->bits, ntrain = 0;
    for (size_t i = 0; i < t->n; i++)
        ntrain += !held_out(t, i);
    if (ntrain < RARE_MIN_EXAMPLES)
        return 0;
    unsigned char *seen = calloc(rows, 1);     /* 0, 1, 2 = twice or more */
    if (!seen)
        return -1;
    for (size_t i = 0; i < t->n; i++) {
        if (held_out(t, i))
            continue;
        for (size_t j = t->off[i]; j < t->off[i + 1]; j++)
            if (seen[t->feat[j]] < 2)
                seen[t->feat[j]]++;
    }
    for (size_t b = 0; b < rows; b++)
        if (seen[b] < 2)
            memset(m->w + b * m->ncol, 0, (size_t)m->ncol * sizeof *m->w);
    free(seen);
    return 0;
}

static struct clf_model *model_from_run(const struct clf_trainer *t, const struct run *r,
                                        int positive)
{
    struct clf_model *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->bits = t->p.hash_bits;
    m->nlabels = r->nlabels;
    m->ncol = r->ncol;
    m->positive = positive;
    m->w = malloc(r->nw * sizeof *m->w);
    if (!m->w) {
        free(m);
        return NULL;
    }
    for (int k = 0; k < r->nlabels; k++)
        if (!(m->labels[k] = strdup(t->labels[k]))) {
            clf_model_free(m);
            return NULL;
        }
    for (size_t i = 0; i < r->nw; i++)
        m->w[i] = (float)(r->avg[i] / r->navg);
    if (drop_rare(t, m)) {
        clf_model_free(m);
        return NULL;
    }
    quantize(m);
    for (int k = 0; k < r->ncol; k++)
        m->bias[k] = (float)(r->bavg[k] / r->navg);
    return m;
}

/* Label count of the training examples; -1 with err when below two. */
static int check_training_set(const struct clf_trainer *t, size_t *ntrain, struct ax_err *err)
{
    bool seen[CLF_MAX_LABELS] = {0};
    int nseen = 0;
    *ntrain = 0;
    for (size_t i = 0; i < t->n; i++) {
        if (held_out(t, i))
            continue;
        (*ntrain)++;
        if (!seen[t->label[i]]) {
            seen[t->label[i]] = true;
            nseen++;
        }
    }
    if (nseen < 2)
        return ax_fail(err, AX_EINVALID, "training needs examples of at least two labels");
    return nseen;
}

static struct clf_eval *evaluate_heldout(const struct clf_trainer *t,
                                         const struct clf_model *m)
{
    struct clf_eval *ev = clf_eval_new(m);
    if (!ev)
        return NULL;
    for (size_t i = 0; i < t->n; i++) {
        if (!held_out(t, i))
            continue;
        const uint32_t *v = t->feat + t->off[i];
        size_t n = t->off[i + 1] - t->off[i];
        double s[CLF_MAX_LABELS];
        scores(m->w, m->bias, m->nlabels, m->ncol, v, n, feat_value(n), s);
        clf_eval_record(ev, t->label[i], argmax(s, m->nlabels));
    }
    clf_eval_finish(ev);
    return ev;
}

int clf_train(struct clf_trainer *t, clf_progress_fn progress, void *arg,
              struct clf_model **model, struct clf_eval **heldout, struct ax_err *err)
{
    *model = NULL;
    if (heldout)
        *heldout = NULL;
    size_t ntrain;
    if (check_training_set(t, &ntrain, err) < 0)
        return -1;
    int positive = find_positive(t, err);
    if (positive == -1)
        return -1;
    if (positive < 0)
        positive = -1;

    struct run r = {.nlabels = t->nlabels, .ncol = ncols_for(t->nlabels)};
    trainer_fit_bits(t, clamp_bits(t->p.hash_bits, r.ncol));
    r.nw = ((size_t)1 << t->p.hash_bits) * (size_t)r.ncol;
    r.w = calloc(r.nw, sizeof *r.w);
    r.g2 = calloc(r.nw, sizeof *r.g2);
    r.avg = calloc(r.nw, sizeof *r.avg);
    size_t *order = malloc(ntrain * sizeof *order);
    int rc = -1;
    if (!r.w || !r.g2 || !r.avg || !order) {
        ax_fail(err, AX_EINTERNAL, "out of memory");
        goto done;
    }
    for (size_t i = 0, j = 0; i < t->n; i++)
        if (!held_out(t, i))
            order[j++] = i;

    uint64_t rng = 0x9E3779B97F4A7C15ULL ^ t->p.seed;
    int epochs = t->p.epochs;
    size_t total = ntrain * (size_t)epochs, steps = 0;
    size_t every = total / PROGRESS_STEPS + 1;
    for (int e = 0; e < epochs; e++) {
        for (size_t i = ntrain; i > 1; i--) {       /* Fisher-Yates, seeded */
            size_t j = rng_next(&rng) % i;
            size_t tmp = order[i - 1];
            order[i - 1] = order[j];
            order[j] = tmp;
        }
        for (size_t i = 0; i < ntrain; i++) {
            sgd_step(t, &r, order[i]);
            if (++steps % every == 0 && progress &&
                progress(arg, (double)steps / (double)total)) {
                ax_fail(err, AX_EUNAVAIL, "training cancelled");
                goto done;
            }
        }
        if (e >= epochs / 2)
            run_accumulate(&r);
    }
    *model = model_from_run(t, &r, positive);
    if (!*model || (heldout && t->p.holdout_every && !(*heldout = evaluate_heldout(t, *model)))) {
        clf_model_free(*model);
        *model = NULL;
        ax_fail(err, AX_EINTERNAL, "out of memory");
        goto done;
    }
    if (progress)
        progress(arg, 1.0);
    rc = 0;
done:
    free(order);
    run_free(&r);
    return rc;
}

/* ---- evaluation ---- */

struct clf_eval *clf_eval_new(const struct clf_model *m)
{
    struct clf_eval *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    int L = m->nlabels;
    e->nlabels = L;
    e->labels = calloc((size_t)L, sizeof *e->labels);
    e->precision = calloc((size_t)L, sizeof *e->precision);
    e->recall = calloc((size_t)L, sizeof *e->recall);
    e->f1 = calloc((size_t)L, sizeof *e->f1);
    e->support = calloc((size_t)L, sizeof *e->support);
    e->confusion = calloc((size_t)L * (size_t)L, sizeof *e->confusion);
    if (!e->labels || !e->precision || !e->recall || !e->f1 || !e->support ||
        !e->confusion) {
        clf_eval_free(e);
        return NULL;
    }
    for (int k = 0; k < L; k++)
        if (!(e->labels[k] = strdup(m->labels[k]))) {
            clf_eval_free(e);
            return NULL;
        }
    return e;
}

void clf_eval_free(struct clf_eval *e)
{
    if (!e)
        return;
    if (e->labels)
        for (int k = 0; k < e->nlabels; k++)
            free(e->labels[k]);
    free(e->labels);
    free(e->precision);
    free(e->recall);
    free(e->f1);
    free(e->support);
    free(e->confusion);
    free(e);
}

void clf_eval_record(struct clf_eval *e, int truth, int predicted)
{
    if (truth < 0 || truth >= e->nlabels || predicted < 0 || predicted >= e->nlabels)
        return;
    e->confusion[truth * e->nlabels + predicted]++;
    e->n++;
    if (truth == predicted)
        e->correct++;
}

void clf_eval_finish(struct clf_eval *e)
{
    int L = e->nlabels;
    e->accuracy = e->n ? (double)e->correct / (double)e->n : 0;
    for (int k = 0; k < L; k++) {
        long tp = e->confusion[k * L + k], truth = 0, pred = 0;
        for (int j = 0; j < L; j++) {
            truth += e->confusion[k * L + j];
            pred += e->confusion[j * L + k];
        }
        e->support[k] = truth;
        e->precision[k] = pred ? (double)tp / (double)pred : 0;
        e->recall[k] = truth ? (double)tp / (double)truth : 0;
        double pr = e->precision[k] + e->recall[k];
        e->f1[k] = pr > 0 ? 2 * e->precision[k] * e->recall[k] / pr : 0;
    }
}

int clf_evaluate(const struct clf_model *m, const struct clf_example *ex, size_t n,
                 struct clf_eval **out, struct ax_err *err)
{
    *out = NULL;
    struct clf_eval *e = clf_eval_new(m);
    if (!e)
        return ax_fail(err, AX_EINTERNAL, "out of memory");
    for (size_t i = 0; i < n; i++) {
        int truth = ex[i].label ? clf_model_label_index(m, ex[i].label) : -1;
        int best;
        if (truth < 0) {
            clf_eval_free(e);
            return ax_fail(err, AX_EINVALID, "example %zu: label \"%s\" is not the model's",
                           i, ex[i].label ? ex[i].label : "");
        }
        if (clf_predict(m, ex[i].text, ex[i].len, NULL, &best)) {
            clf_eval_free(e);
            return ax_fail(err, AX_EINVALID, "example %zu: text is not valid UTF-8", i);
        }
        clf_eval_record(e, truth, best);
    }
    clf_eval_finish(e);
    *out = e;
    return 0;
}

json_t *clf_eval_json(const struct clf_eval *e)
{
    json_t *labels = json_array(), *conf = json_array();
    json_t *o = json_pack("{s:I, s:f, s:o, s:o}", "n", (json_int_t)e->n,
                          "accuracy", e->accuracy, "labels", labels, "confusion", conf);
    if (!o)
        return NULL;
    int L = e->nlabels;
    for (int k = 0; k < L; k++) {
        json_t *row = json_array();
        for (int j = 0; j < L; j++)
            json_array_append_new(row, json_integer(e->confusion[k * L + j]));
        if (json_array_append_new(conf, row) ||
            json_array_append_new(labels, json_pack("{s:s, s:f, s:f, s:f, s:I}",
                                                    "label", e->labels[k],
                                                    "precision", e->precision[k],
                                                    "recall", e->recall[k], "f1", e->f1[k],
                                                    "support", (json_int_t)e->support[k]))) {
            json_decref(o);
            return NULL;
        }
    }
    return o;
}

/* ---- storage ----
 *
 * Blob layout, little-endian:
 *   "AXONCLF\0"  u32 format version  u32 feature-set id
 *   u8 hash bits  u8 labels  u8 weight columns  u8 positive (255 = none)
 *   labels: u8 length + bytes each
 *   f32 bias * columns
 *   u32 stored rows; per row: varint gap to the previous row + 1, then
 *   f16 weight * columns (rows whose weights are all below PRUNE are left out)
 *   u32 CRC-32 of everything before it
 */

#define MAGIC "AXONCLF"
#define FEATURE_SET 1

static uint32_t crc32_of(const unsigned char *p, size_t n)
{
    uint32_t table[256];
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        table[i] = c;
    }
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++)
        c = table[(c ^ p[i]) & 0xFF] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

/* IEEE half precision, round to nearest even; weights never need more. */
static uint16_t f32_to_f16(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000u;
    int exp = (int)((x >> 23) & 0xFF) - 127 + 15;
    uint32_t man = x & 0x7FFFFFu;
    if (exp >= 31)
        return (uint16_t)(sign | 0x7BFFu);          /* clamp to the largest finite */
    if (exp <= 0) {
        if (exp < -10)
            return (uint16_t)sign;
        man |= 0x800000u;
        int shift = 14 - exp;
        uint32_t h = man >> shift, rem = man & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (h & 1)))
            h++;
        return (uint16_t)(sign | h);
    }
    uint32_t h = ((uint32_t)exp << 10) | (man >> 13), rem = man & 0x1FFFu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1)))
        h++;                                        /* may carry into the exponent: fine */
    if (h >= 0x7C00u)
        h = 0x7BFFu;
    return (uint16_t)(sign | h);
}

static float f16_to_f32(uint16_t h)
{
    int exp = (h >> 10) & 0x1F;
    double man = h & 0x3FF;
    double v = exp == 0 ? ldexp(man, -24) : ldexp(man + 1024, exp - 25);
    return (float)((h & 0x8000) ? -v : v);
}

static int put_u32(struct buf *b, uint32_t v)
{
    unsigned char p[4] = {(unsigned char)v, (unsigned char)(v >> 8),
                          (unsigned char)(v >> 16), (unsigned char)(v >> 24)};
    return buf_add(b, p, 4);
}

static int put_varint(struct buf *b, uint32_t v)
{
    unsigned char p[5];
    int n = 0;
    do {
        p[n++] = (unsigned char)((v & 0x7F) | (v > 0x7F ? 0x80 : 0));
        v >>= 7;
    } while (v);
    return buf_add(b, p, (size_t)n);
}

int clf_save(const struct clf_model *m, struct buf *out)
{
    size_t start = out->len, rows = (size_t)1 << m->bits, stored = 0;
    unsigned char head[4] = {(unsigned char)m->bits, (unsigned char)m->nlabels,
                             (unsigned char)m->ncol,
                             (unsigned char)(m->positive < 0 ? 255 : m->positive)};
    if (buf_add(out, MAGIC, 8) || put_u32(out, CLF_FORMAT_VERSION) ||
        put_u32(out, FEATURE_SET) || buf_add(out, head, 4))
        goto fail;
    for (int k = 0; k < m->nlabels; k++) {
        size_t n = strlen(m->labels[k]);
        if (buf_addc(out, (char)n) || buf_add(out, m->labels[k], n))
            goto fail;
    }
    for (int k = 0; k < m->ncol; k++) {
        uint32_t x;
        memcpy(&x, &m->bias[k], 4);
        if (put_u32(out, x))
            goto fail;
    }
    for (size_t i = 0; i < rows; i++)
        stored += row_kept(m->w + i * m->ncol, m->ncol);
    if (put_u32(out, (uint32_t)stored))
        goto fail;
    size_t prev = 0;
    for (size_t i = 0; i < rows; i++) {
        const float *w = m->w + i * m->ncol;
        if (!row_kept(w, m->ncol))
            continue;
        if (put_varint(out, (uint32_t)(i + 1 - prev)))
            goto fail;
        prev = i + 1;
        for (int k = 0; k < m->ncol; k++) {
            uint16_t h = f32_to_f16(w[k]);
            unsigned char p[2] = {(unsigned char)h, (unsigned char)(h >> 8)};
            if (buf_add(out, p, 2))
                goto fail;
        }
    }
    if (put_u32(out, crc32_of((const unsigned char *)out->data + start, out->len - start)))
        goto fail;
    return 0;
fail:
    out->len = start;
    if (out->data)
        out->data[start] = '\0';
    return -1;
}

/* Bounds-checked reading of a blob. */
struct rd {
    const unsigned char *p;
    size_t len, pos;
    bool bad;
};

static const unsigned char *rd_take(struct rd *r, size_t n)
{
    if (r->bad || r->len - r->pos < n) {
        r->bad = true;
        return NULL;
    }
    const unsigned char *p = r->p + r->pos;
    r->pos += n;
    return p;
}

static uint32_t rd_u32(struct rd *r)
{
    const unsigned char *p = rd_take(r, 4);
    return p ? (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                   (uint32_t)p[3] << 24
             : 0;
}

static unsigned rd_u8(struct rd *r)
{
    const unsigned char *p = rd_take(r, 1);
    return p ? *p : 0;
}

static uint32_t rd_varint(struct rd *r)
{
    uint32_t v = 0;
    for (int shift = 0; shift < 35; shift += 7) {
        unsigned b = rd_u8(r);
        if (r->bad)
            return 0;
        if (shift == 28 && b > 0x0F) {
            r->bad = true;
            return 0;
        }
        v |= (uint32_t)(b & 0x7F) << shift;
        if (!(b & 0x80))
            return v;
    }
    r->bad = true;
    return 0;
}

static int load_fail(struct clf_model *m, struct ax_err *err, const char *why)
{
    clf_model_free(m);
    return ax_fail(err, AX_EINVALID, "not a usable classifier model: %s", why);
}

int clf_load(const void *data, size_t len, struct clf_model **out, struct ax_err *err)
{
    *out = NULL;
    struct rd r = {.p = data, .len = len};
    if (len < 8 + 4 + 4 + 4 + 4 || memcmp(data, MAGIC, 8) != 0)
        return load_fail(NULL, err, "bad magic or too short");
    r.pos = 8;
    if (rd_u32(&r) != CLF_FORMAT_VERSION)
        return load_fail(NULL, err, "unsupported format version");
    struct rd tail = {.p = r.p, .len = len, .pos = len - 4};
    if (crc32_of(data, len - 4) != rd_u32(&tail))
        return load_fail(NULL, err, "checksum mismatch");
    r.len = len - 4;
    if (rd_u32(&r) != FEATURE_SET)
        return load_fail(NULL, err, "unknown feature set");
    struct clf_model *m = calloc(1, sizeof *m);
    if (!m)
        return ax_fail(err, AX_EINTERNAL, "out of memory");
    m->bits = (int)rd_u8(&r);
    m->nlabels = (int)rd_u8(&r);
    m->ncol = (int)rd_u8(&r);
    unsigned pos = rd_u8(&r);
    if (r.bad || m->bits < 16 || m->bits > 22 || m->nlabels < 2 ||
        m->nlabels > CLF_MAX_LABELS || m->ncol != ncols_for(m->nlabels) ||
        (pos != 255 && (int)pos >= m->nlabels) ||
        m->bits != clamp_bits(m->bits, m->ncol)) {
        m->nlabels = 0;     /* no labels allocated yet */
        return load_fail(m, err, "bad header");
    }
    m->positive = pos == 255 ? -1 : (int)pos;
    int L = m->nlabels;
    m->nlabels = 0;
    for (int k = 0; k < L; k++) {
        unsigned n = rd_u8(&r);
        const unsigned char *s = rd_take(&r, n);
        if (!s || n == 0 || n > CLF_LABEL_MAX || !text_valid_utf8((const char *)s, n))
            return load_fail(m, err, "bad label");
        if (!(m->labels[k] = strndup((const char *)s, n))) {
            clf_model_free(m);
            return ax_fail(err, AX_EINTERNAL, "out of memory");
        }
        m->nlabels = k + 1;
        for (int j = 0; j < k; j++)
            if (strcmp(m->labels[j], m->labels[k]) == 0)
                return load_fail(m, err, "duplicate label");
    }
    for (int k = 0; k < m->ncol; k++) {
        uint32_t x = rd_u32(&r);
        memcpy(&m->bias[k], &x, 4);
        if (!isfinite(m->bias[k]) || fabsf(m->bias[k]) > 1e4f)    /* trained ones are small */
            return load_fail(m, err, "bad bias");
    }
    size_t rows = (size_t)1 << m->bits;
    uint32_t stored = rd_u32(&r);
    if (r.bad || stored > rows || (size_t)stored * (1 + 2 * (size_t)m->ncol) > r.len - r.pos)
        return load_fail(m, err, "bad row count");
    if (!(m->w = calloc(rows * m->ncol, sizeof *m->w))) {
        clf_model_free(m);
        return ax_fail(err, AX_EINTERNAL, "out of memory");
    }
    size_t at = 0;
    for (uint32_t i = 0; i < stored; i++) {
        uint32_t gap = rd_varint(&r);
        if (r.bad || gap == 0 || gap > rows - at)
            return load_fail(m, err, "bad row index");
        at += gap;
        const unsigned char *p = rd_take(&r, 2 * (size_t)m->ncol);
        if (!p)
            return load_fail(m, err, "truncated weights");
        for (int k = 0; k < m->ncol; k++) {
            uint16_t h = (uint16_t)(p[2 * k] | p[2 * k + 1] << 8);
            if ((h & 0x7C00) == 0x7C00)
                return load_fail(m, err, "weight is not finite");
            m->w[(at - 1) * m->ncol + k] = f16_to_f32(h);
        }
    }
    if (r.bad || r.pos != r.len)
        return load_fail(m, err, "trailing bytes");
    *out = m;
    return 0;
}
