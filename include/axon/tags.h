/*
 * tags.h - what the text of an activity or a ticket says: its business
 * intents with their evidence (intents.h: the tenant's active dictionary)
 * and its sentiment in [-1, 1] (models.h: the tenant's active sentiment
 * model), written on every create and change in the same transaction as
 * the record (objects.c calls tags_on_write), and each customer's intent
 * profile built from the tags of the customer's records.
 *
 * What is tagged: an activity's subject and body, a ticket's subject and
 * description, matched as one text (a hit never spans the two fields;
 * each hit names its field and its offsets are within that field).
 * Sentiment is scored on the body (description), or the subject when
 * there is no body.
 *
 * The profile: per intent a score that decays by half every
 * TAGS_HALF_LIFE_DAYS and rises by the intent's score in each tagged
 * record of the customer, dated by the record's occurred_at (activities)
 * or opened_at (tickets); and a sentiment average over the same records,
 * each weighted by the same decay. A changed record first takes back what
 * it gave (decayed exactly as it was added), a deleted one takes it back
 * for good, so the profile always equals the sum over the customer's
 * current records.
 *
 * This module owns the tables text_tags, customer_intents and
 * customer_sentiment: all their SQL is here. Writes run in the caller's
 * transaction. A `struct tags_result` owns its buffers
 * (tags_result_free); output buffers belong to the caller.
 */
#ifndef AXON_TAGS_H
#define AXON_TAGS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "axon/buf.h"
#include "axon/classify.h"
#include "axon/ctx.h"
#include "axon/db.h"
#include "axon/intent_dict.h"
#include "axon/model.h"

#define TAGS_HALF_LIFE_DAYS 30
#define TAGS_MIN_SCORE 1.0      /* an intent is tagged from this score on */
#define TAGS_HALF_LIFE_MS ((int64_t)TAGS_HALF_LIFE_DAYS * 86400000)

/* Up to two fields of text; a NULL or empty one is left out. */
struct tags_input {
    const char *subject, *body;
    size_t subject_len, body_len;
    const char *subject_field, *body_field;   /* names shown in the evidence */
};

struct tags_score {
    const char *intent;     /* the dictionary's: valid while it is held */
    double score;
};

struct tags_result {
    struct buf intents;     /* JSON array [{"intent","score","hits":[…]}…] */
    struct buf scores;      /* JSON object {intent: score} */
    struct tags_score *top; /* the same scores, best first */
    size_t nintents;
    bool truncated;         /* more hits than INTENT_RESULT_MAX_HITS */
    double sentiment;       /* NAN when not scored */
};

/* Install the transaction hooks that write profile changes at commit
 * (once, at start). */
void tags_init(void);

/* Tag a text (no database): intents with `dict` (its evidence says
 * `dict_version`), sentiment with `model` when it is not NULL. */
int tags_compute(const struct intent_dict *dict, const struct clf_model *model,
                 const struct tags_input *in, struct tags_result *out, struct ax_err *err);
void tags_result_free(struct tags_result *r);

/* 2^(-(to - from) / half-life): what a signal at `from` weighs at `to`
 * (1 when `to` is not later). */
double tags_decay(int64_t from_ms, int64_t to_ms);

/* The store's hook for activities and tickets (any other object: no-op).
 * `rec` is the record as written (with its id), `old` the stored one
 * before an update (NULL on create). Tags again only when the text, the
 * customer or the date changed. */
int tags_on_write(struct db *d, const struct ax_ctx *c, const struct object_def *def,
                  json_t *old, json_t *rec, struct ax_err *err);

/* Before an activity or a ticket is deleted: its tags go, and its share of
 * the customer's profile. */
int tags_on_delete(struct db *d, const struct ax_ctx *c, const struct object_def *def,
                   json_t *old, struct ax_err *err);

/* {"object":"tags","object_type","object_id","customer_id",
 *  "dictionary_version","intents":[…],"sentiment":{"score","model_id",
 *  "model_version"}|null,"signal_at","tagged_at"}; a record without tags
 * (no text, or written before tagging existed) has empty intents and
 * null times. AX_ENOTFOUND for a missing or another tenant's record. */
int tags_describe(struct db *d, int64_t tenant, const struct object_def *def, const char *id,
                  struct buf *out, struct ax_err *err);

/* {"object":"customer_intents","customer_id","half_life_days","at",
 *  "intents":[{"intent","score","last_at","signals"}…] by score,
 *  "sentiment":{"average","weight","last_at","signals"}|null}, scores
 * decayed to `now_ms`. AX_ENOTFOUND for a missing customer. */
int tags_profile(struct db *d, int64_t tenant, const char *customer_id, int64_t now_ms,
                 struct buf *out, struct ax_err *err);

/* Tag one text with the tenant's dictionary `version` (INTENTS_ACTIVE,
 * INTENTS_BUILTIN or a number) and, when asked, its active sentiment
 * model: {"intents":[…],"dictionary_version",["sentiment":{…}|null],
 * ["truncated":true]}. The text's field is named "text". */
int tags_text(struct db *d, int64_t tenant, long long version, const char *text, size_t len,
              bool with_sentiment, struct buf *out, struct ax_err *err);

/* The tenant's active sentiment model on a text: NAN when the text is not
 * valid UTF-8. */
int tags_sentiment(struct db *d, int64_t tenant, const char *text, size_t len, double *score,
                   struct ax_err *err);

#endif
