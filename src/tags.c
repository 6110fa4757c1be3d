/* tags.c - tags of activities and tickets on write, and customers'
 * decaying intent profiles. */
#include "axon/tags.h"

#include "axon/intents.h"
#include "axon/models.h"
#include "axon/store.h"
#include "axon/text.h"
#include "axon/timefmt.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SCORE_FMT "%.10g"

double tags_decay(int64_t from_ms, int64_t to_ms)
{
    if (to_ms <= from_ms)
        return 1.0;
    return exp2(-(double)(to_ms - from_ms) / (double)TAGS_HALF_LIFE_MS);
}

/* ---- computing ---- */

void tags_result_free(struct tags_result *r)
{
    buf_free(&r->intents);
    buf_free(&r->scores);
    free(r->top);
    r->top = NULL;
}

/* Offsets, weights and scores are written for every hit of every write:
 * without printf, which cost more than the matching. A number with at
 * most six decimals (weights such as 2.5 and their sums) is written as
 * such; anything else as %.10g. */
static void add_uint(struct buf *b, size_t v)
{
    char tmp[24];
    int n = sizeof tmp;
    do {
        tmp[--n] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    buf_add(b, tmp + n, sizeof tmp - (size_t)n);
}

static void add_num(struct buf *b, double v)
{
    double a = fabs(v), scaled = a * 1e6, r = nearbyint(scaled);
    if (!(a < 1e9) || fabs(scaled - r) > 1e-6 * (r > 1 ? r : 1)) {
        buf_addf(b, "%.10g", v);
        return;
    }
    uint64_t u = (uint64_t)r;
    if (v < 0 && u)
        buf_addc(b, '-');
    add_uint(b, (size_t)(u / 1000000));
    unsigned frac = (unsigned)(u % 1000000);
    if (!frac)
        return;
    char digits[8] = ".000000";
    for (int i = 6; i >= 1; i--, frac /= 10)
        digits[i] = (char)('0' + frac % 10);
    int n = 7;
    while (digits[n - 1] == '0')
        n--;
    buf_add(b, digits, (size_t)n);
}

struct layout {
    const char *text;
    size_t len;
    size_t base, char_base;        /* where the second field starts */
    const char *first, *second;    /* field names; second NULL with one field */
};

static void add_hit(struct buf *b, const struct intent_dict *dict, const struct intent_hit *h,
                    const struct layout *lay)
{
    bool second = lay->second && h->start >= lay->base;
    size_t base = second ? lay->base : 0, cbase = second ? lay->char_base : 0;
    const char *term = intent_dict_term(dict, h->term)->term;
    buf_adds(b, "{\"term\":");
    buf_add_json_str(b, term, strlen(term));
    buf_adds(b, ",\"field\":");
    const char *field = second ? lay->second : lay->first;
    buf_add_json_str(b, field, strlen(field));
    buf_adds(b, ",\"start\":");
    add_uint(b, h->start - base);
    buf_adds(b, ",\"end\":");
    add_uint(b, h->end - base);
    buf_adds(b, ",\"char_start\":");
    add_uint(b, h->char_start - cbase);
    buf_adds(b, ",\"char_end\":");
    add_uint(b, h->char_end - cbase);
    buf_adds(b, ",\"text\":");
    buf_add_json_str(b, lay->text + h->start, h->end - h->start);
    buf_adds(b, ",\"weight\":");
    add_num(b, h->weight);
    buf_adds(b, h->counted ? ",\"counted\":true}" : ",\"counted\":false}");
}

/* The evidence as JSON, and the scores. */
static int write_result(const struct intent_dict *dict, const struct intent_result *res,
                        const struct layout *lay, struct tags_result *out)
{
    struct buf *b = &out->intents, *s = &out->scores;
    if (res->nintents && !(out->top = malloc(res->nintents * sizeof *out->top)))
        return -1;
    buf_addc(b, '[');
    buf_addc(s, '{');
    size_t kept = 0;
    for (size_t i = 0; i < res->nintents; i++) {
        const struct intent_score *sc = &res->intents[i];
        /* Topic words alone (送餐, "delivery": weight 0.3) mention a
         * subject without saying anything about it: not yet an intent. */
        if (sc->score < TAGS_MIN_SCORE)
            continue;
        const char *name = intent_dict_intent_name(dict, sc->intent);
        out->top[kept] = (struct tags_score){name, sc->score};
        if (kept++) {
            buf_addc(b, ',');
            buf_addc(s, ',');
        }
        buf_adds(b, "{\"intent\":");
        buf_add_json_str(b, name, strlen(name));
        buf_adds(b, ",\"score\":");
        add_num(b, sc->score);
        buf_adds(b, ",\"hits\":[");
        for (size_t k = 0; k < sc->nhits; k++) {
            if (k)
                buf_addc(b, ',');
            add_hit(b, dict, &res->hits[sc->first_hit + k], lay);
        }
        buf_adds(b, "]}");
        buf_add_json_str(s, name, strlen(name));
        buf_addc(s, ':');
        add_num(s, sc->score);
    }
    buf_addc(s, '}');
    out->nintents = kept;
    return buf_addc(b, ']');
}

int tags_compute(const struct intent_dict *dict, const struct clf_model *model,
                 const struct tags_input *in, struct tags_result *out, struct ax_err *err)
{
    memset(out, 0, sizeof *out);
    buf_init(&out->intents, BUF_MAX_DEFAULT);
    buf_init(&out->scores, BUF_MAX_DEFAULT);
    out->sentiment = NAN;
    size_t sl = in->subject ? in->subject_len : 0, bl = in->body ? in->body_len : 0;
    struct layout lay = {0};
    char *joined = NULL;
    if (sl && bl) {
        /* One text, one pass; a byte that is never UTF-8 between the two
         * fields, so that no term spans them. */
        joined = malloc(sl + 1 + bl);
        if (!joined)
            return ax_fail(err, AX_EUNAVAIL, "out of memory");
        memcpy(joined, in->subject, sl);
        joined[sl] = '\xff';
        memcpy(joined + sl + 1, in->body, bl);
        lay = (struct layout){joined, sl + 1 + bl, sl + 1, text_length(in->subject, sl) + 1,
                              in->subject_field, in->body_field};
    } else if (sl) {
        lay = (struct layout){in->subject, sl, 0, 0, in->subject_field, NULL};
    } else {
        lay = (struct layout){in->body ? in->body : "", bl, 0, 0, in->body_field, NULL};
    }
    struct intent_result res;
    int rc = intent_tag(dict, lay.text, lay.len, &res, err);
    if (rc == 0) {
        /* write_result counted the intents it kept */
        out->truncated = res.truncated;
        if (write_result(dict, &res, &lay, out))
            rc = ax_fail(err, AX_EINVALID, "the tags of this text are too large");
        intent_result_free(&res);
    }
    free(joined);
    /* Text with no words (only spaces, dashes, emoji) says nothing to score. */
    const char *st = text_has_words(in->body ? in->body : "", bl) ? in->body : in->subject;
    size_t stl = st == in->body ? bl : sl;
    if (rc == 0 && model && stl && text_has_words(st, stl))
        out->sentiment = clf_sentiment(model, st, stl);
    if (rc)
        tags_result_free(out);
    return rc;
}

/* ---- the profile ---- */

/* Profile changes wait for the commit: a transaction of the writer holds
 * up to a batch of writes, often many for the same customer (an import),
 * and each (customer, intent) row is then written once with the sum of
 * their shares. Pending shares are per thread, rolled back with a failed
 * operation's savepoint, and counted in by tags_profile() when it runs in
 * the same transaction (a replay's after handlers). */
struct share {
    int64_t tenant;
    char customer[ID_MAX];
    char intent[INTENT_NAME_MAX + 1];   /* "" = sentiment */
    double w;                           /* score or sentiment, signed */
    int64_t at;
    int sign;                           /* 1 added, -1 taken back */
};

static __thread struct share *queue;
static __thread size_t queue_len, queue_cap;

static size_t tags_mark(void) { return queue_len; }

static void tags_undo(size_t mark)
{
    if (mark < queue_len)
        queue_len = mark;
    if (queue_len == 0 && queue_cap > 4096) {
        free(queue);
        queue = NULL;
        queue_cap = 0;
    }
}

static int share_cmp(const void *a, const void *b)
{
    const struct share *x = a, *y = b;
    if (x->tenant != y->tenant)
        return x->tenant < y->tenant ? -1 : 1;
    int c = strcmp(x->customer, y->customer);
    return c ? c : strcmp(x->intent, y->intent);
}

/* Shares summed: decayed to the latest of their times. */
struct sum {
    double w, weight;
    int64_t ref, last;
    int64_t signals;
    size_t n;
    bool took_back;
};

static void sum_add(struct sum *s, const struct share *sh)
{
    if (s->n++ == 0) {
        s->ref = sh->at;
        s->last = INT64_MIN;
    }
    if (sh->at > s->ref) {
        double k = tags_decay(s->ref, sh->at);
        s->w *= k;
        s->weight *= k;
        s->ref = sh->at;
    }
    double k = tags_decay(sh->at, s->ref);
    s->w += sh->sign * sh->w * k;
    s->weight += sh->sign * k;
    s->signals += sh->sign;
    if (sh->sign > 0 && sh->at > s->last)
        s->last = sh->at;
    s->took_back |= sh->sign < 0;
}

/* Both decayed to the later of the row's time and the shares' (the same
 * arithmetic as tags_decay, in SQL so that a row is one statement). */
#define DECAY(ref, t) "pow(2.0, -(max(" ref ", " t ") - " ref ") / ?9)"

static int apply_sum(struct db *d, const struct share *key, const struct sum *s,
                     struct ax_err *err)
{
    bool sentiment = key->intent[0] == '\0';
    sqlite3_stmt *st = db_prep(d, sentiment
        ? "INSERT INTO customer_sentiment(tenant_id, customer_id, total, weight, ref_ms, "
          "last_ms, signals) VALUES(?1, ?2, ?4, max(0.0, ?5), ?6, ?7, ?8) "
          "ON CONFLICT(tenant_id, customer_id) DO UPDATE SET "
          "total = total * " DECAY("ref_ms", "?6") " + ?4 * " DECAY("?6", "ref_ms") ", "
          "weight = max(0.0, weight * " DECAY("ref_ms", "?6") " + ?5 * " DECAY("?6", "ref_ms") "), "
          "ref_ms = max(ref_ms, ?6), last_ms = max(last_ms, ?7), signals = signals + ?8"
        : "INSERT INTO customer_intents(tenant_id, customer_id, intent, score, ref_ms, last_ms, "
          "signals) VALUES(?1, ?2, ?3, max(0.0, ?4), ?6, ?7, ?8) "
          "ON CONFLICT(tenant_id, customer_id, intent) DO UPDATE SET "
          "score = max(0.0, score * " DECAY("ref_ms", "?6") " + ?4 * " DECAY("?6", "ref_ms") "), "
          "ref_ms = max(ref_ms, ?6), last_ms = max(last_ms, ?7), signals = signals + ?8", err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, key->tenant);
    sqlite3_bind_text(st, 2, key->customer, -1, SQLITE_STATIC);
    if (!sentiment)
        sqlite3_bind_text(st, 3, key->intent, -1, SQLITE_STATIC);
    sqlite3_bind_double(st, 4, s->w);
    sqlite3_bind_double(st, 5, s->weight);
    sqlite3_bind_int64(st, 6, s->ref);
    sqlite3_bind_int64(st, 7, s->last);
    sqlite3_bind_int64(st, 8, s->signals);
    sqlite3_bind_double(st, 9, (double)TAGS_HALF_LIFE_MS);
    int rc = sqlite3_step(st);
    db_reset(st);
    if (rc != SQLITE_DONE)
        return db_fail(d, err, "profile");
    if (!s->took_back)
        return 0;
    /* A row none of whose records are tagged any more goes. */
    st = db_prep(d, sentiment
        ? "DELETE FROM customer_sentiment WHERE tenant_id=?1 AND customer_id=?2 AND signals<=0"
        : "DELETE FROM customer_intents WHERE tenant_id=?1 AND customer_id=?2 AND intent=?3 "
          "AND signals<=0", err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, key->tenant);
    sqlite3_bind_text(st, 2, key->customer, -1, SQLITE_STATIC);
    if (!sentiment)
        sqlite3_bind_text(st, 3, key->intent, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    db_reset(st);
    return rc == SQLITE_DONE ? 0 : db_fail(d, err, "profile");
}

static int tags_flush(struct db *d, struct ax_err *err)
{
    if (queue_len > 1)
        qsort(queue, queue_len, sizeof *queue, share_cmp);
    int rc = 0;
    for (size_t i = 0; i < queue_len && rc == 0;) {
        struct sum s = {0};
        size_t j = i;
        for (; j < queue_len && share_cmp(&queue[i], &queue[j]) == 0; j++)
            sum_add(&s, &queue[j]);
        rc = apply_sum(d, &queue[i], &s, err);
        i = j;
    }
    tags_undo(0);
    return rc;
}

static const struct db_txn_hooks hooks = {
    .before_commit = tags_flush, .mark = tags_mark, .undo = tags_undo};

void tags_init(void) { db_add_txn_hooks(&hooks); }

static int enqueue(struct db *d, int64_t tenant, const char *customer, const char *intent,
                   double w, int64_t at, int sign, struct ax_err *err)
{
    if (queue_len == queue_cap) {
        size_t cap = queue_cap ? queue_cap * 2 : 256;
        struct share *q = realloc(queue, cap * sizeof *q);
        if (!q)
            return ax_fail(err, AX_EUNAVAIL, "out of memory");
        queue = q;
        queue_cap = cap;
    }
    struct share *sh = &queue[queue_len++];
    sh->tenant = tenant;
    snprintf(sh->customer, sizeof sh->customer, "%s", customer);
    snprintf(sh->intent, sizeof sh->intent, "%s", intent);
    sh->w = w;
    sh->at = at;
    sh->sign = sign;
    /* Outside a transaction there is no commit to wait for. */
    return sqlite3_get_autocommit(db_handle(d)) ? tags_flush(d, err) : 0;
}

/* A record's share of its customer's profile, added or taken back. */
static int profile_apply(struct db *d, int64_t tenant, const char *customer,
                         const struct tags_score *scores, size_t n, double sentiment, int64_t at,
                         int sign, struct ax_err *err)
{
    for (size_t i = 0; i < n; i++)
        if (enqueue(d, tenant, customer, scores[i].intent, scores[i].score, at, sign, err))
            return -1;
    if (!isnan(sentiment) && enqueue(d, tenant, customer, "", sentiment, at, sign, err))
        return -1;
    return 0;
}

/* ---- the write path ---- */

static bool tagged_object(const struct object_def *def, const char **body, const char **date)
{
    if (!strcmp(def->name, "activities")) {
        *body = "body";
        *date = "occurred_at";
        return true;
    }
    if (!strcmp(def->name, "tickets")) {
        *body = "description";
        *date = "opened_at";
        return true;
    }
    return false;
}

static bool same(json_t *a, json_t *b, const char *key)
{
    json_t *x = json_object_get(a, key), *y = json_object_get(b, key);
    if (json_is_null(x))
        x = NULL;
    if (json_is_null(y))
        y = NULL;
    return x == y || (x && y && json_equal(x, y));
}

/* Take back a record's share and drop its tags. */
static int forget(struct db *d, int64_t tenant, const char *id, struct ax_err *err)
{
    sqlite3_stmt *st = db_prep(d, "SELECT customer_id, signal_ms, scores, sentiment FROM "
                                  "text_tags WHERE object_id=? AND tenant_id=?", err);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, tenant);
    int rc = sqlite3_step(st);
    char customer[ID_MAX] = "";
    int64_t at = 0;
    json_t *scores = NULL;
    double sentiment = NAN;
    if (rc == SQLITE_ROW) {
        const char *cus = (const char *)sqlite3_column_text(st, 0);
        snprintf(customer, sizeof customer, "%s", cus ? cus : "");
        at = sqlite3_column_int64(st, 1);
        scores = json_loads((const char *)sqlite3_column_text(st, 2), 0, NULL);
        if (sqlite3_column_type(st, 3) != SQLITE_NULL)
            sentiment = sqlite3_column_double(st, 3);
    }
    db_reset(st);
    if (rc == SQLITE_DONE)
        return 0;
    if (rc != SQLITE_ROW) {
        json_decref(scores);
        return db_fail(d, err, "tags");
    }
    size_t n = json_object_size(scores), i = 0;
    struct tags_score *v = calloc(n ? n : 1, sizeof *v);
    const char *k;
    json_t *x;
    json_object_foreach(scores, k, x)
        v[i++] = (struct tags_score){k, json_number_value(x)};
    rc = !v ? ax_fail(err, AX_EUNAVAIL, "out of memory")
            : customer[0] ? profile_apply(d, tenant, customer, v, n, sentiment, at, -1, err) : 0;
    free(v);
    json_decref(scores);
    if (rc)
        return -1;
    st = db_prep(d, "DELETE FROM text_tags WHERE object_id=? AND tenant_id=?", err);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, tenant);
    rc = sqlite3_step(st);
    db_reset(st);
    return rc == SQLITE_DONE ? 0 : db_fail(d, err, "tags");
}

static int insert_tags(struct db *d, int64_t tenant, const struct object_def *def,
                       const char *id, const char *customer, int64_t at,
                       const struct tags_result *t, long long dict_version,
                       const char *model_id, long long model_version, struct ax_err *err)
{
    sqlite3_stmt *st = db_prep(d, "INSERT OR REPLACE INTO text_tags(object_id, tenant_id, object,"
                                  " customer_id, signal_ms, intents, scores, sentiment, "
                                  "dict_version, model_id, model_version, tagged_at) "
                                  "VALUES(?,?,?,?,?,?,?,?,?,?,?,?)", err);
    if (!st)
        return -1;
    char now[TIME_TEXT_MAX];
    time_format_ms(time_now_ms(), now);
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, tenant);
    sqlite3_bind_text(st, 3, def->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, customer, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, at);
    sqlite3_bind_text(st, 6, t->intents.data, (int)t->intents.len, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, t->scores.data, (int)t->scores.len, SQLITE_STATIC);
    if (isnan(t->sentiment)) {
        sqlite3_bind_null(st, 8);
        sqlite3_bind_null(st, 10);
        sqlite3_bind_null(st, 11);
    } else {
        sqlite3_bind_double(st, 8, t->sentiment);
        sqlite3_bind_text(st, 10, model_id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 11, model_version);
    }
    sqlite3_bind_int64(st, 9, dict_version);
    sqlite3_bind_text(st, 12, now, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    db_reset(st);
    return rc == SQLITE_DONE ? 0 : db_fail(d, err, "tags");
}

static const char *str_of(json_t *rec, const char *key, size_t *len)
{
    json_t *v = json_object_get(rec, key);
    *len = json_is_string(v) ? json_string_length(v) : 0;
    return *len ? json_string_value(v) : NULL;
}

int tags_on_write(struct db *d, const struct ax_ctx *c, const struct object_def *def,
                  json_t *old, json_t *rec, struct ax_err *err)
{
    const char *body_name, *date_name;
    if (!tagged_object(def, &body_name, &date_name))
        return 0;
    if (old && same(old, rec, "subject") && same(old, rec, body_name) &&
        same(old, rec, "customer_id") && same(old, rec, date_name))
        return 0;
    const char *id = json_string_value(json_object_get(rec, "id"));
    if (!id)
        return ax_fail(err, AX_EINTERNAL, "tags: the record has no id");
    if (old && forget(d, c->tenant, id, err))
        return -1;
    struct tags_input in = {0};
    in.subject = str_of(rec, "subject", &in.subject_len);
    in.body = str_of(rec, body_name, &in.body_len);
    in.subject_field = "subject";
    in.body_field = body_name;
    if (!in.subject && !in.body)
        return 0;
    size_t n;
    const char *customer = str_of(rec, "customer_id", &n);
    const char *date = str_of(rec, date_name, &n);
    int64_t at;
    if (!date || time_parse(date, DATE_YMD, &at, NULL))
        at = time_now_ms();

    struct intents_ref dict;
    struct models_ref model;
    if (intents_acquire(d, c->tenant, INTENTS_ACTIVE, &dict, err))
        return -1;
    if (models_acquire(d, c->tenant, NULL, &model, err)) {
        intents_release(&dict);
        return -1;
    }
    struct tags_result t;
    int rc = tags_compute(dict.dict, model.model, &in, &t, err);
    if (rc == 0) {
        rc = insert_tags(d, c->tenant, def, id, customer, at, &t, dict.version, model.id,
                         model.version, err);
        if (rc == 0 && customer)
            rc = profile_apply(d, c->tenant, customer, t.top, t.nintents, t.sentiment, at, 1,
                               err);
        tags_result_free(&t);
    }
    models_release(&model);
    intents_release(&dict);
    return rc;
}

int tags_on_delete(struct db *d, const struct ax_ctx *c, const struct object_def *def,
                   json_t *old, struct ax_err *err)
{
    const char *body_name, *date_name;
    const char *id = json_string_value(json_object_get(old, "id"));
    if (!tagged_object(def, &body_name, &date_name) || !id)
        return 0;
    return forget(d, c->tenant, id, err);
}

/* ---- reading ---- */

static void add_time(struct buf *b, const char *key, int64_t ms, bool present)
{
    buf_addf(b, ",\"%s\":", key);
    if (!present) {
        buf_adds(b, "null");
        return;
    }
    char at[TIME_TEXT_MAX];
    time_format_ms(ms, at);
    buf_add_json_str(b, at, strlen(at));
}

static void add_str(struct buf *b, const char *key, const char *v)
{
    buf_addf(b, ",\"%s\":", key);
    if (v)
        buf_add_json_str(b, v, strlen(v));
    else
        buf_adds(b, "null");
}

int tags_describe(struct db *d, int64_t tenant, const struct object_def *def, const char *id,
                  struct buf *out, struct ax_err *err)
{
    int found = store_exists(d, tenant, def, id, err);
    if (found < 0)
        return -1;
    if (!found)
        return ax_fail(err, AX_ENOTFOUND, "no %s with id '%.60s'", def->singular, id);
    sqlite3_stmt *st = db_prep(d, "SELECT customer_id, signal_ms, intents, sentiment, "
                                  "dict_version, model_id, model_version, tagged_at FROM "
                                  "text_tags WHERE object_id=? AND tenant_id=?", err);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, tenant);
    int rc = sqlite3_step(st);
    bool row = rc == SQLITE_ROW;
    buf_addf(out, "{\"object\":\"tags\",\"object_type\":\"%s\"", def->singular);
    add_str(out, "object_id", id);
    add_str(out, "customer_id", row ? (const char *)sqlite3_column_text(st, 0) : NULL);
    buf_adds(out, ",\"dictionary_version\":");
    if (row)
        buf_addf(out, "%lld", (long long)sqlite3_column_int64(st, 4));
    else
        buf_adds(out, "null");
    buf_adds(out, ",\"intents\":");
    buf_adds(out, row ? (const char *)sqlite3_column_text(st, 2) : "[]");
    buf_adds(out, ",\"sentiment\":");
    if (row && sqlite3_column_type(st, 3) != SQLITE_NULL) {
        buf_addf(out, "{\"score\":" SCORE_FMT ",\"model_id\":", sqlite3_column_double(st, 3));
        const char *m = (const char *)sqlite3_column_text(st, 5);
        buf_add_json_str(out, m ? m : "", m ? strlen(m) : 0);
        buf_addf(out, ",\"model_version\":%lld}", (long long)sqlite3_column_int64(st, 6));
    } else {
        buf_adds(out, "null");
    }
    add_time(out, "signal_at", row ? sqlite3_column_int64(st, 1) : 0, row);
    add_str(out, "tagged_at", row ? (const char *)sqlite3_column_text(st, 7) : NULL);
    db_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return db_fail(d, err, "tags");
    return buf_addc(out, '}') ? ax_fail(err, AX_EINTERNAL, "out of memory") : 0;
}

struct scored {
    char intent[INTENT_NAME_MAX + 1];
    double score;
    int64_t last, signals;
};

static int scored_cmp(const void *a, const void *b)
{
    const struct scored *x = a, *y = b;
    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    return strcmp(x->intent, y->intent);
}

/* Count in the shares this thread's transaction has not written yet. */
static int merge_pending(int64_t tenant, const char *customer, int64_t now_ms,
                         struct scored **rows, size_t *n, size_t *cap, struct scored *senti,
                         double *senti_weight)
{
    for (size_t i = 0; i < queue_len; i++) {
        const struct share *sh = &queue[i];
        if (sh->tenant != tenant || strcmp(sh->customer, customer) != 0)
            continue;
        struct scored *s = sh->intent[0] ? NULL : senti;
        for (size_t k = 0; !s && k < *n; k++)
            if (!strcmp((*rows)[k].intent, sh->intent))
                s = &(*rows)[k];
        if (!s) {
            if (*n == *cap) {
                size_t ncap = *cap ? *cap * 2 : 16;
                struct scored *p = realloc(*rows, ncap * sizeof *p);
                if (!p)
                    return -1;
                *rows = p;
                *cap = ncap;
            }
            s = &(*rows)[(*n)++];
            memset(s, 0, sizeof *s);
            s->last = INT64_MIN;
            snprintf(s->intent, sizeof s->intent, "%s", sh->intent);
        }
        double k = tags_decay(sh->at, now_ms);
        s->score += sh->sign * sh->w * k;
        s->signals += sh->sign;
        if (sh->sign > 0 && sh->at > s->last)
            s->last = sh->at;
        if (s == senti)
            *senti_weight += sh->sign * k;
    }
    return 0;
}

int tags_profile(struct db *d, int64_t tenant, const char *customer_id, int64_t now_ms,
                 struct buf *out, struct ax_err *err)
{
    const struct object_def *customers = model_find("customers");
    int found = store_exists(d, tenant, customers, customer_id, err);
    if (found < 0)
        return -1;
    if (!found)
        return ax_fail(err, AX_ENOTFOUND, "no customer with id '%.60s'", customer_id);
    sqlite3_stmt *st = db_prep(d, "SELECT intent, score, ref_ms, last_ms, signals FROM "
                                  "customer_intents WHERE tenant_id=? AND customer_id=?", err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, tenant);
    sqlite3_bind_text(st, 2, customer_id, -1, SQLITE_STATIC);
    struct scored *rows = NULL;
    size_t n = 0, cap = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            struct scored *p = realloc(rows, cap * sizeof *p);
            if (!p)
                break;
            rows = p;
        }
        struct scored *s = &rows[n++];
        snprintf(s->intent, sizeof s->intent, "%s", (const char *)sqlite3_column_text(st, 0));
        s->score = sqlite3_column_double(st, 1) * tags_decay(sqlite3_column_int64(st, 2), now_ms);
        s->last = sqlite3_column_int64(st, 3);
        s->signals = sqlite3_column_int64(st, 4);
    }
    db_reset(st);
    if (rc != SQLITE_DONE) {
        free(rows);
        return rc == SQLITE_ROW ? ax_fail(err, AX_EUNAVAIL, "out of memory")
                                : db_fail(d, err, "profile");
    }
    struct scored senti = {"", 0, INT64_MIN, 0};
    double senti_weight = 0;
    if (merge_pending(tenant, customer_id, now_ms, &rows, &n, &cap, &senti, &senti_weight)) {
        free(rows);
        return ax_fail(err, AX_EUNAVAIL, "out of memory");
    }
    size_t kept = 0;
    for (size_t i = 0; i < n; i++)
        if (rows[i].signals > 0)
            rows[kept++] = rows[i];
    n = kept;
    if (n)
        qsort(rows, n, sizeof *rows, scored_cmp);
    buf_adds(out, "{\"object\":\"customer_intents\"");
    add_str(out, "customer_id", customer_id);
    buf_addf(out, ",\"half_life_days\":%d", TAGS_HALF_LIFE_DAYS);
    add_time(out, "at", now_ms, true);
    buf_adds(out, ",\"intents\":[");
    for (size_t i = 0; i < n; i++) {
        buf_adds(out, i ? ",{\"intent\":" : "{\"intent\":");
        buf_add_json_str(out, rows[i].intent, strlen(rows[i].intent));
        buf_addf(out, ",\"score\":" SCORE_FMT, rows[i].score);
        add_time(out, "last_at", rows[i].last, true);
        buf_addf(out, ",\"signals\":%lld}", (long long)rows[i].signals);
    }
    free(rows);
    buf_adds(out, "],\"sentiment\":");
    st = db_prep(d, "SELECT total, weight, ref_ms, last_ms, signals FROM customer_sentiment "
                    "WHERE tenant_id=? AND customer_id=?", err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, tenant);
    sqlite3_bind_text(st, 2, customer_id, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        double k = tags_decay(sqlite3_column_int64(st, 2), now_ms);
        senti.score += sqlite3_column_double(st, 0) * k;
        senti_weight += sqlite3_column_double(st, 1) * k;
        if (sqlite3_column_int64(st, 3) > senti.last)
            senti.last = sqlite3_column_int64(st, 3);
        senti.signals += sqlite3_column_int64(st, 4);
    }
    db_reset(st);
    if (senti.signals > 0 && senti_weight > 0) {
        /* Both sums decay alike: the average is theirs now or at any time. */
        double avg = senti.score / senti_weight;
        avg = avg > 1 ? 1 : avg < -1 ? -1 : avg;
        buf_addf(out, "{\"average\":" SCORE_FMT ",\"weight\":" SCORE_FMT, avg, senti_weight);
        add_time(out, "last_at", senti.last, true);
        buf_addf(out, ",\"signals\":%lld}", (long long)senti.signals);
    } else {
        buf_adds(out, "null");
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return db_fail(d, err, "profile");
    return buf_addc(out, '}') ? ax_fail(err, AX_EINTERNAL, "out of memory") : 0;
}

/* ---- one text ---- */

int tags_text(struct db *d, int64_t tenant, long long version, const char *text, size_t len,
              bool with_sentiment, struct buf *out, struct ax_err *err)
{
    if (!text_valid_utf8(text, len))
        return ax_fail(err, AX_EINVALID, "the text is not valid UTF-8");
    struct intents_ref dict;
    struct models_ref model = {0};
    if (intents_acquire(d, tenant, version, &dict, err))
        return -1;
    if (with_sentiment && models_acquire(d, tenant, NULL, &model, err)) {
        intents_release(&dict);
        return -1;
    }
    struct tags_input in = {.body = text, .body_len = len, .body_field = "text"};
    struct tags_result t;
    int rc = tags_compute(dict.dict, model.model, &in, &t, err);
    if (rc == 0) {
        buf_adds(out, "{\"intents\":");
        buf_add(out, t.intents.data, t.intents.len);
        buf_addf(out, ",\"dictionary_version\":%lld", dict.version);
        if (with_sentiment) {
            buf_adds(out, ",\"sentiment\":");
            if (isnan(t.sentiment)) {
                buf_adds(out, "null");
            } else {
                buf_addf(out, "{\"score\":" SCORE_FMT ",\"model_id\":", t.sentiment);
                buf_add_json_str(out, model.id, strlen(model.id));
                buf_addf(out, ",\"model_version\":%lld}", model.version);
            }
        }
        if (t.truncated)
            buf_adds(out, ",\"truncated\":true");
        if (buf_addc(out, '}'))
            rc = ax_fail(err, AX_EINTERNAL, "out of memory");
        tags_result_free(&t);
    }
    models_release(&model);
    intents_release(&dict);
    return rc;
}

int tags_sentiment(struct db *d, int64_t tenant, const char *text, size_t len, double *score,
                   struct ax_err *err)
{
    struct models_ref model;
    if (models_acquire(d, tenant, NULL, &model, err))
        return -1;
    *score = text_valid_utf8(text, len) && text_has_words(text, len)
                 ? clf_sentiment(model.model, text, len) : NAN;
    models_release(&model);
    return 0;
}
