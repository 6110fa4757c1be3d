/* review.c - monthly samples of suggestions, the review queue and the
 * per-rule report (see review.h). */
#include "axon/review.h"

#include "axon/audit.h"
#include "axon/ids.h"
#include "axon/jx.h"
#include "axon/log.h"
#include "axon/model.h"

#include <ctype.h>
#include <jansson.h>
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const struct review_thresholds review_default_thresholds = {0.5, 0.2, 3};

/* ---- months ---- */

static int month_parts(const char *m, int *y, int *mo)
{
    if (!m || strlen(m) != 7 || m[4] != '-')
        return -1;
    for (int i = 0; i < 7; i++)
        if (i != 4 && !isdigit((unsigned char)m[i]))
            return -1;
    *y = atoi(m);
    *mo = atoi(m + 5);
    return *y >= 2000 && *y <= 2999 && *mo >= 1 && *mo <= 12 ? 0 : -1;
}

int review_month_range(const char *month, char start[TIME_TEXT_MAX], char end[TIME_TEXT_MAX])
{
    int y, m;
    if (month_parts(month, &y, &m))
        return -1;
    snprintf(start, TIME_TEXT_MAX, "%04d-%02d-01T00:00:00.000Z", y, m);
    snprintf(end, TIME_TEXT_MAX, "%04d-%02d-01T00:00:00.000Z", m == 12 ? y + 1 : y,
             m == 12 ? 1 : m + 1);
    return 0;
}

void review_month_of(int64_t ms, int back, char out[8])
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    unsigned months = (unsigned)((tm.tm_year + 1900) * 12 + tm.tm_mon - back);
    snprintf(out, 8, "%04u-%02u", (months / 12) % 10000, months % 12 + 1);
}

/* ---- allocation ---- */

int64_t review_allocate(const int64_t *pop, int nrules, const uint64_t *tiebreak, int64_t *seats)
{
    int64_t total = 0;
    for (int i = 0; i < nrules; i++)
        total += pop[i];
    if (nrules == 0 || total == 0)
        return 0;
    int64_t n = (total * REVIEW_PERCENT + 99) / 100;
    if (n < nrules)
        n = nrules;
    /* Hamilton: each rule its whole quota, then the seats left by largest
     * remainder (n*pop % total), equal remainders by tiebreak, then index. */
    int64_t given = 0;
    for (int i = 0; i < nrules; i++) {
        seats[i] = n * pop[i] / total;
        given += seats[i];
    }
    while (given < n) {
        int best = -1;
        for (int i = 0; i < nrules; i++) {
            if (seats[i] >= pop[i] || seats[i] > n * pop[i] / total)
                continue;   /* full, or had its remainder seat already */
            if (best < 0)
                best = i;
            else {
                int64_t ri = n * pop[i] % total, rb = n * pop[best] % total;
                uint64_t ti = tiebreak ? tiebreak[i] : (uint64_t)i;
                uint64_t tb = tiebreak ? tiebreak[best] : (uint64_t)best;
                if (ri > rb || (ri == rb && ti < tb))
                    best = i;
            }
        }
        if (best < 0)
            break;
        seats[best]++;
        given++;
    }
    /* Top up: every rule is represented; the seat comes from the rule
     * holding the most (n >= nrules, so one holds two or more). */
    for (int i = 0; i < nrules; i++) {
        if (seats[i] > 0)
            continue;
        int most = -1;
        for (int k = 0; k < nrules; k++)
            if (most < 0 || seats[k] > seats[most])
                most = k;
        seats[most]--;
        seats[i] = 1;
    }
    return n;
}

/* ---- drawing ---- */

struct member {
    char id[ID_MAX];
    uint64_t score;
    int rule;
};

struct population {
    struct member *m;
    size_t n, cap;
    char **rules;          /* distinct rules in order; NULL entry = no rule */
    int64_t *count;
    int nrules, rcap;
};

static void population_free(struct population *p)
{
    free(p->m);
    for (int i = 0; i < p->nrules; i++)
        free(p->rules[i]);
    free(p->rules);
    free(p->count);
    memset(p, 0, sizeof *p);
}

static uint64_t first64(const unsigned char *h)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | h[i];
    return v;
}

static uint64_t keyed_score(const unsigned char seed[32], const char *tag, const char *s)
{
    crypto_hash_sha256_state st;
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, seed, 32);
    crypto_hash_sha256_update(&st, (const unsigned char *)tag, strlen(tag) + 1);
    if (s)
        crypto_hash_sha256_update(&st, (const unsigned char *)s, strlen(s));
    crypto_hash_sha256_final(&st, h);
    return first64(h);
}

static bool same_rule(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* The month's suggestions grouped by rule (rules in byte order, none first). */
static int load_population(struct db *d, int64_t tenant, const char *start, const char *end,
                           const unsigned char seed[32], struct population *p,
                           struct ax_err *err)
{
    sqlite3_stmt *st = db_prep(d,
        "SELECT id, rule FROM suggestions WHERE tenant_id=? AND created_at>=? AND created_at<? "
        "ORDER BY rule, id", err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, tenant);
    sqlite3_bind_text(st, 2, start, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, end, -1, SQLITE_STATIC);
    int rc = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *id = (const char *)sqlite3_column_text(st, 0);
        const char *rule = (const char *)sqlite3_column_text(st, 1);
        if (p->nrules == 0 || !same_rule(p->rules[p->nrules - 1], rule)) {
            if (p->nrules == p->rcap) {
                int cap = p->rcap ? p->rcap * 2 : 16;
                char **r = realloc(p->rules, (size_t)cap * sizeof *r);
                int64_t *c = r ? realloc(p->count, (size_t)cap * sizeof *c) : NULL;
                if (r)
                    p->rules = r;
                if (!r || !c) {
                    rc = ax_fail(err, AX_EINTERNAL, "out of memory");
                    break;
                }
                p->count = c;
                p->rcap = cap;
            }
            p->rules[p->nrules] = rule ? strdup(rule) : NULL;
            p->count[p->nrules++] = 0;
        }
        if (p->n == p->cap) {
            size_t cap = p->cap ? p->cap * 2 : 256;
            struct member *m = realloc(p->m, cap * sizeof *m);
            if (!m) {
                rc = ax_fail(err, AX_EINTERNAL, "out of memory");
                break;
            }
            p->m = m;
            p->cap = cap;
        }
        struct member *x = &p->m[p->n++];
        snprintf(x->id, sizeof x->id, "%s", id);
        x->score = keyed_score(seed, "suggestion", id);
        x->rule = p->nrules - 1;
        p->count[x->rule]++;
    }
    db_reset(st);
    return rc;
}

static int by_rule_then_score(const void *a, const void *b)
{
    const struct member *x = a, *y = b;
    if (x->rule != y->rule)
        return x->rule < y->rule ? -1 : 1;
    if (x->score != y->score)
        return x->score < y->score ? -1 : 1;
    return strcmp(x->id, y->id);
}

static int tenant_public_id(struct db *d, int64_t tenant, char out[ID_MAX], struct ax_err *err)
{
    sqlite3_stmt *st = db_prep(d, "SELECT id FROM tenants WHERE rid=?", err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, tenant);
    out[0] = '\0';
    if (sqlite3_step(st) == SQLITE_ROW)
        snprintf(out, ID_MAX, "%s", sqlite3_column_text(st, 0));
    db_reset(st);
    return out[0] ? 0 : ax_fail(err, AX_ENOTFOUND, "no such tenant");
}

static void make_seed(const char *tenant_id, const char *month, unsigned char seed[32])
{
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, (const unsigned char *)"axon-review", 12);
    crypto_hash_sha256_update(&st, (const unsigned char *)tenant_id, strlen(tenant_id) + 1);
    crypto_hash_sha256_update(&st, (const unsigned char *)month, strlen(month));
    crypto_hash_sha256_final(&st, seed);
}

static int sample_find(struct db *d, int64_t tenant, const char *month, int64_t *rid,
                       struct ax_err *err)
{
    sqlite3_stmt *st = db_prep(d, "SELECT rid FROM review_samples WHERE tenant_id=? AND month=?",
                               err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, tenant);
    sqlite3_bind_text(st, 2, month, -1, SQLITE_STATIC);
    int found = sqlite3_step(st) == SQLITE_ROW;
    if (found)
        *rid = sqlite3_column_int64(st, 0);
    db_reset(st);
    return found;
}

static void add_col(struct buf *b, sqlite3_stmt *st, int col)
{
    const char *v = (const char *)sqlite3_column_text(st, col);
    if (v)
        buf_add_json_str(b, v, strlen(v));
    else
        buf_adds(b, "null");
}

static int sample_describe(struct db *d, int64_t tenant, int64_t rid, bool drawn_now,
                           struct buf *out, struct ax_err *err)
{
    sqlite3_stmt *st = db_prep(d,
        "SELECT id, month, seed, population, size, rules, drawn_at, drawn_by "
        "FROM review_samples WHERE rid=? AND tenant_id=?", err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, rid);
    sqlite3_bind_int64(st, 2, tenant);
    if (sqlite3_step(st) != SQLITE_ROW) {
        db_reset(st);
        return ax_fail(err, AX_ENOTFOUND, "no such sample");
    }
    buf_adds(out, "{\"object\":\"review_sample\",\"id\":");
    add_col(out, st, 0);
    buf_adds(out, ",\"month\":");
    add_col(out, st, 1);
    buf_adds(out, ",\"seed\":");
    add_col(out, st, 2);
    buf_addf(out, ",\"population\":%lld,\"size\":%lld,\"rules\":%s,\"drawn_at\":",
             (long long)sqlite3_column_int64(st, 3), (long long)sqlite3_column_int64(st, 4),
             (const char *)sqlite3_column_text(st, 5));
    add_col(out, st, 6);
    buf_adds(out, ",\"drawn_by\":");
    add_col(out, st, 7);
    buf_addf(out, ",\"drawn_now\":%s", drawn_now ? "true" : "false");
    db_reset(st);
    st = db_prep(d, "SELECT id, suggestion_id FROM reviews WHERE sample_rid=? ORDER BY position",
                 err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, rid);
    struct buf reviews;
    buf_init(&reviews, 0);
    buf_adds(out, ",\"suggestion_ids\":[");
    for (int n = 0; sqlite3_step(st) == SQLITE_ROW; n++) {
        if (n) {
            buf_addc(out, ',');
            buf_addc(&reviews, ',');
        }
        add_col(&reviews, st, 0);
        add_col(out, st, 1);
    }
    db_reset(st);
    buf_adds(out, "],\"review_ids\":[");
    if (reviews.data)
        buf_add(out, reviews.data, reviews.len);
    buf_free(&reviews);
    return buf_adds(out, "]}") ? ax_fail(err, AX_EINTERNAL, "out of memory") : 0;
}

static const char *actor_of(const struct ax_ctx *c)
{
    return c->user_id[0] ? c->user_id : c->actor_id[0] ? c->actor_id : NULL;
}

/* Store the drawn sample: its row, one review per member, the audit row. */
static int sample_store(struct db *d, const struct ax_ctx *c, const char *month,
                        const char *seed_hex, const struct population *p, const int64_t *seats,
                        int64_t size, int64_t *rid, struct ax_err *err)
{
    json_t *rules = json_array();
    for (int i = 0; i < p->nrules; i++)
        json_array_append_new(rules, json_pack("{s:s?,s:I,s:I}", "rule", p->rules[i],
                                               "population", (json_int_t)p->count[i],
                                               "sampled", (json_int_t)seats[i]));
    char *rules_text = jx_dumps(rules, 0);
    json_decref(rules);
    char id[ID_MAX], now[TIME_TEXT_MAX];
    id_new("smp", id);
    time_format_ms(time_now_ms(), now);
    sqlite3_stmt *st = rules_text ? db_prep(d,
        "INSERT INTO review_samples(tenant_id,id,month,seed,population,size,rules,drawn_at,"
        "drawn_by) VALUES(?,?,?,?,?,?,?,?,?)", err) : NULL;
    if (!st) {
        free(rules_text);
        return err->code ? -1 : ax_fail(err, AX_EINTERNAL, "out of memory");
    }
    sqlite3_bind_int64(st, 1, c->tenant);
    sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, month, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, seed_hex, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, (int64_t)p->n);
    sqlite3_bind_int64(st, 6, size);
    sqlite3_bind_text(st, 7, rules_text, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 8, now, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 9, actor_of(c), -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    db_reset(st);
    free(rules_text);
    if (rc != SQLITE_DONE)
        return db_fail(d, err, "store a review sample");
    *rid = sqlite3_last_insert_rowid(db_handle(d));
    st = db_prep(d,
        "INSERT INTO reviews(tenant_id,id,sample_rid,month,position,suggestion_id,rule,created_at) "
        "VALUES(?,?,?,?,?,?,?,?)", err);
    if (!st)
        return -1;
    /* Members are sorted by rule, then score: each rule's seats are its
     * first members. */
    int position = 0;
    size_t at = 0;
    for (int r = 0; r < p->nrules; r++) {
        for (int64_t k = 0; k < seats[r]; k++) {
            const struct member *x = &p->m[at + (size_t)k];
            char rev[ID_MAX];
            id_new("rev", rev);
            sqlite3_bind_int64(st, 1, c->tenant);
            sqlite3_bind_text(st, 2, rev, -1, SQLITE_STATIC);
            sqlite3_bind_int64(st, 3, *rid);
            sqlite3_bind_text(st, 4, month, -1, SQLITE_STATIC);
            sqlite3_bind_int(st, 5, position++);
            sqlite3_bind_text(st, 6, x->id, -1, SQLITE_STATIC);
            sqlite3_bind_text(st, 7, p->rules[r], -1, SQLITE_STATIC);
            sqlite3_bind_text(st, 8, now, -1, SQLITE_STATIC);
            rc = sqlite3_step(st);
            db_reset(st);
            if (rc != SQLITE_DONE)
                return db_fail(d, err, "queue a review");
        }
        at += (size_t)p->count[r];
    }
    json_t *changes = json_pack("{s:[n,s],s:[n,I],s:[n,I],s:[n,s]}", "month", month, "population",
                                (json_int_t)p->n, "size", (json_int_t)size, "seed", seed_hex);
    rc = audit_append(d, c, "review_samples", id, "create", changes, err);
    json_decref(changes);
    return rc;
}

int review_draw(struct db *d, const struct ax_ctx *c, const char *month, bool *drawn,
                struct buf *out, struct ax_err *err)
{
    char start[TIME_TEXT_MAX], end[TIME_TEXT_MAX];
    *drawn = false;
    if (review_month_range(month, start, end)) {
        ax_field(err, "/month", "a month is YYYY-MM, e.g. 2026-11");
        return -1;
    }
    int64_t rid = 0;
    int found = sample_find(d, c->tenant, month, &rid, err);
    if (found)
        return found < 0 ? -1 : sample_describe(d, c->tenant, rid, false, out, err);
    char tenant_id[ID_MAX];
    unsigned char seed[32];
    char seed_hex[65];
    if (tenant_public_id(d, c->tenant, tenant_id, err))
        return -1;
    make_seed(tenant_id, month, seed);
    sodium_bin2hex(seed_hex, sizeof seed_hex, seed, sizeof seed);
    struct population p;
    memset(&p, 0, sizeof p);
    int64_t *seats = NULL;
    uint64_t *ties = NULL;
    int rc = -1;
    if (load_population(d, c->tenant, start, end, seed, &p, err))
        goto done;
    if (p.n == 0) {
        ax_field(err, "/month", "no suggestions were made in %s", month);
        goto done;
    }
    seats = calloc((size_t)p.nrules, sizeof *seats);
    ties = calloc((size_t)p.nrules, sizeof *ties);
    if (!seats || !ties) {
        ax_fail(err, AX_EINTERNAL, "out of memory");
        goto done;
    }
    for (int i = 0; i < p.nrules; i++)
        ties[i] = keyed_score(seed, "rule", p.rules[i]);
    int64_t size = review_allocate(p.count, p.nrules, ties, seats);
    qsort(p.m, p.n, sizeof *p.m, by_rule_then_score);
    if (sample_store(d, c, month, seed_hex, &p, seats, size, &rid, err))
        goto done;
    *drawn = true;
    rc = sample_describe(d, c->tenant, rid, true, out, err);
done:
    population_free(&p);
    free(seats);
    free(ties);
    return rc;
}

int review_draw_missing(struct db *d, int64_t now_ms, struct ax_err *err)
{
    char month[8], start[TIME_TEXT_MAX], end[TIME_TEXT_MAX];
    review_month_of(now_ms, 1, month);
    review_month_range(month, start, end);
    sqlite3_stmt *st = db_prep(d,
        "SELECT t.rid, t.id FROM tenants t WHERE NOT EXISTS (SELECT 1 FROM review_samples m "
        " WHERE m.tenant_id=t.rid AND m.month=?3) AND EXISTS (SELECT 1 FROM suggestions s "
        " WHERE s.tenant_id=t.rid AND s.created_at>=?1 AND s.created_at<?2) LIMIT ?4", err);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, start, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, end, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, month, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 4, REVIEW_DRAW_BATCH);
    struct ax_ctx due[REVIEW_DRAW_BATCH];
    int n = 0;
    while (n < REVIEW_DRAW_BATCH && sqlite3_step(st) == SQLITE_ROW) {
        struct ax_ctx *c = &due[n++];
        memset(c, 0, sizeof *c);
        c->tenant = sqlite3_column_int64(st, 0);
        snprintf(c->tenant_id, sizeof c->tenant_id, "%s", sqlite3_column_text(st, 1));
        c->role = ROLE_ADMIN;
        c->actor_type = "system";
        c->source = "review-audit";
        c->trigger = "system";
    }
    db_reset(st);
    int drawn = 0;
    for (int i = 0; i < n; i++) {
        struct db_txn_mark m;
        struct ax_err one;
        ax_err_clear(&one);
        struct buf out;
        buf_init(&out, 0);
        bool fresh;
        if (db_savepoint(d, "sample", &m, err)) {
            buf_free(&out);
            return -1;
        }
        int rc = review_draw(d, &due[i], month, &fresh, &out, &one);
        buf_free(&out);
        if (rc)
            log_warn("review sample of %s for tenant %s: %s", month, due[i].tenant_id, one.detail);
        if (db_savepoint_end(d, "sample", &m, rc != 0, err))
            return -1;
        drawn += rc == 0 && fresh;
    }
    return drawn;
}

/* ---- the queue ---- */

#define REVIEW_COLUMNS \
    "r.rid, r.id, r.month, smp.id, r.position, r.suggestion_id, r.rule, r.status, r.shortened, " \
    "r.reason, r.reviewed_by, r.reviewed_at, r.created_at, s.doc "
#define REVIEW_FROM \
    "FROM reviews r JOIN review_samples smp ON smp.rid=r.sample_rid " \
    "LEFT JOIN suggestions s ON s.tenant_id=r.tenant_id AND s.id=r.suggestion_id "

static void review_json(sqlite3_stmt *st, struct buf *out)
{
    static const char *const names[] = {"id", "month", "sample_id", NULL, "suggestion_id", "rule",
                                        "status"};
    buf_adds(out, "{\"object\":\"review\"");
    for (int i = 0; i < 7; i++) {
        if (!names[i])
            continue;
        buf_addf(out, ",\"%s\":", names[i]);
        add_col(out, st, 1 + i);
    }
    buf_addf(out, ",\"position\":%d,\"shortened\":", sqlite3_column_int(st, 4));
    buf_adds(out, sqlite3_column_type(st, 8) == SQLITE_NULL ? "null"
                  : sqlite3_column_int(st, 8)               ? "true"
                                                            : "false");
    static const char *const more[] = {"reason", "reviewed_by", "reviewed_at", "created_at"};
    for (int i = 0; i < 4; i++) {
        buf_addf(out, ",\"%s\":", more[i]);
        add_col(out, st, 9 + i);
    }
    const char *doc = (const char *)sqlite3_column_text(st, 13);
    buf_adds(out, ",\"suggestion\":");
    buf_adds(out, doc ? doc : "null");
    buf_addc(out, '}');
}

int review_list(struct db *d, int64_t tenant, const char *month, const char *status,
                const char *rule, int limit, int64_t after, bool count, struct buf *out,
                struct ax_err *err)
{
    static const char *const where =
        "WHERE r.tenant_id=?1 AND (?2 IS NULL OR r.month=?2) AND (?3 IS NULL OR r.status=?3) "
        "AND (?4 IS NULL OR r.rule=?4) ";
    char sql[1024];
    snprintf(sql, sizeof sql, "SELECT " REVIEW_COLUMNS REVIEW_FROM "%s AND r.rid>?5 "
             "ORDER BY r.rid LIMIT ?6", where);
    sqlite3_stmt *st = db_prep(d, sql, err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, tenant);
    sqlite3_bind_text(st, 2, month, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, status, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, rule, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, after);
    sqlite3_bind_int(st, 6, limit + 1);
    buf_adds(out, "{\"data\":[");
    int n = 0;
    int64_t last = 0;
    bool more = false;
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (n == limit) {
            more = true;
            break;
        }
        if (n++)
            buf_addc(out, ',');
        last = sqlite3_column_int64(st, 0);
        review_json(st, out);
    }
    db_reset(st);
    if (more)
        buf_addf(out, "],\"next\":\"%lld\"", (long long)last);
    else
        buf_adds(out, "],\"next\":null");
    if (count) {
        snprintf(sql, sizeof sql, "SELECT count(*) FROM reviews r %s", where);
        st = db_prep(d, sql, err);
        if (!st)
            return -1;
        sqlite3_bind_int64(st, 1, tenant);
        sqlite3_bind_text(st, 2, month, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, status, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, rule, -1, SQLITE_STATIC);
        int64_t total = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
        db_reset(st);
        buf_addf(out, ",\"total\":%lld", (long long)total);
    }
    return buf_addc(out, '}') ? ax_fail(err, AX_EINTERNAL, "out of memory") : 0;
}

static int review_one(struct db *d, int64_t tenant, const char *id, struct buf *out,
                      struct ax_err *err)
{
    sqlite3_stmt *st = db_prep(d, "SELECT " REVIEW_COLUMNS REVIEW_FROM
                                  "WHERE r.tenant_id=? AND r.id=?", err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, tenant);
    sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
    int found = sqlite3_step(st) == SQLITE_ROW;
    if (found)
        review_json(st, out);
    db_reset(st);
    return found ? 0 : ax_fail(err, AX_ENOTFOUND, "no review with id '%.60s'", id);
}

int review_verdict(struct db *d, const struct ax_ctx *c, const char *id, bool shortened,
                   const char *reason, struct buf *out, struct ax_err *err)
{
    sqlite3_stmt *st = db_prep(d,
        "SELECT rid, status, shortened, reason FROM reviews WHERE tenant_id=? AND id=?", err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, c->tenant);
    sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_ROW) {
        db_reset(st);
        return ax_fail(err, AX_ENOTFOUND, "no review with id '%.60s'", id);
    }
    int64_t rid = sqlite3_column_int64(st, 0);
    json_t *changes = json_object();
    const char *was = (const char *)sqlite3_column_text(st, 1);
    if (strcmp(was, "done"))
        json_object_set_new(changes, "status", json_pack("[s,s]", was, "done"));
    json_t *old_short = sqlite3_column_type(st, 2) == SQLITE_NULL
                            ? json_null() : json_boolean(sqlite3_column_int(st, 2));
    if (!json_equal(old_short, json_boolean(shortened)))
        json_object_set_new(changes, "shortened", json_pack("[o,b]", old_short, shortened));
    else
        json_decref(old_short);
    const char *old_reason = (const char *)sqlite3_column_text(st, 3);
    if (!old_reason || strcmp(old_reason, reason))
        json_object_set_new(changes, "reason", json_pack("[s?,s]", old_reason, reason));
    db_reset(st);
    int rc = 0;
    if (json_object_size(changes)) {
        char now[TIME_TEXT_MAX];
        time_format_ms(time_now_ms(), now);
        st = db_prep(d, "UPDATE reviews SET status='done', shortened=?, reason=?, reviewed_by=?, "
                        "reviewed_at=? WHERE rid=?", err);
        rc = -1;
        if (st) {
            sqlite3_bind_int(st, 1, shortened);
            sqlite3_bind_text(st, 2, reason, -1, SQLITE_STATIC);
            sqlite3_bind_text(st, 3, actor_of(c), -1, SQLITE_STATIC);
            sqlite3_bind_text(st, 4, now, -1, SQLITE_STATIC);
            sqlite3_bind_int64(st, 5, rid);
            rc = sqlite3_step(st) == SQLITE_DONE ? 0 : db_fail(d, err, "record a verdict");
            db_reset(st);
        }
        if (rc == 0)
            rc = audit_append(d, c, "reviews", id, "update", changes, err);
    }
    json_decref(changes);
    return rc ? -1 : review_one(d, c->tenant, id, out, err);
}

/* ---- the report ---- */

static int by_text(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static double round4(double v) { return round(v * 10000.0) / 10000.0; }

static json_t *rule_row(json_t *rows, const char *rule)
{
    json_t *row = json_object_get(rows, rule);
    if (!row) {
        row = json_pack("{s:s,s:o,s:s,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i}", "object", "rule_report",
                        "rule", *rule ? json_string(rule) : json_null(), "status", "active",
                        "volume", 0, "accepted", 0, "dismissed", 0, "open", 0, "expired", 0,
                        "sampled", 0, "reviewed", 0, "confirmed", 0);
        json_object_set_new(rows, rule, row);
    }
    return row;
}

static json_int_t geti(json_t *row, const char *k)
{
    return json_integer_value(json_object_get(row, k));
}

static json_t *rate(json_int_t num, json_int_t den)
{
    return den > 0 ? json_real(round4((double)num / (double)den)) : json_null();
}

static void judge(json_t *row, const struct review_thresholds *t)
{
    json_int_t accepted = geti(row, "accepted"), decided = accepted + geti(row, "dismissed");
    json_int_t reviewed = geti(row, "reviewed"), confirmed = geti(row, "confirmed");
    json_t *acc = rate(accepted, decided), *conf = rate(confirmed, reviewed);
    bool both = json_is_real(acc) && json_is_real(conf);
    double a = json_real_value(acc), cf = json_real_value(conf);
    json_object_set_new(row, "acceptance_rate", acc);
    json_object_set_new(row, "confirmed_rate", conf);
    json_object_set_new(row, "gap", both ? json_real(round4(a - cf)) : json_null());
    bool flag = both && reviewed >= t->min_reviews && a >= t->min_acceptance &&
                cf <= t->max_confirmed;
    json_object_set_new(row, "flag", flag ? json_string("no business value") : json_null());
}

/* Run a grouped query (rule first, then the counts named) into rows. */
static int gather(struct db *d, const char *sql, int64_t tenant, const char *a, const char *b,
                  const char *const *names, int nnames, json_t *rows, struct ax_err *err)
{
    sqlite3_stmt *st = db_prep(d, sql, err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, tenant);
    sqlite3_bind_text(st, 2, a, -1, SQLITE_STATIC);
    if (b)
        sqlite3_bind_text(st, 3, b, -1, SQLITE_STATIC);
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *rule = (const char *)sqlite3_column_text(st, 0);
        json_t *row = rule_row(rows, rule ? rule : "");
        for (int i = 0; i < nnames; i++)
            json_object_set_new(row, names[i], json_integer(sqlite3_column_int64(st, 1 + i)));
    }
    db_reset(st);
    return 0;
}

/* Rates and days read better as 0.2 than as 0.20000000000000001. */
static int dump_rounded(struct buf *out, json_t *doc)
{
    char *s = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(12));
    int rc = s ? buf_adds(out, s) : -1;
    free(s);
    return rc;
}

int review_report(struct db *d, int64_t tenant, const char *month,
                  const struct review_thresholds *t, struct buf *out, struct ax_err *err)
{
    char start[TIME_TEXT_MAX], end[TIME_TEXT_MAX];
    if (review_month_range(month, start, end))
        return ax_fail(err, AX_EBADREQ, "month must be YYYY-MM, e.g. 2026-11");
    static const char *const made[] = {"volume", "accepted", "dismissed", "open", "expired"};
    static const char *const judged[] = {"sampled", "reviewed", "confirmed"};
    json_t *rows = json_object();
    int rc = gather(d,
        "SELECT rule, count(*), sum(status IN ('accepted','completed')), sum(status='dismissed'), "
        " sum(status='open'), sum(status='expired') FROM suggestions "
        "WHERE tenant_id=?1 AND created_at>=?2 AND created_at<?3 GROUP BY rule",
        tenant, start, end, made, 5, rows, err);
    if (rc == 0)
        rc = gather(d,
            "SELECT rule, count(*), sum(status='done'), sum(shortened=1) FROM reviews "
            "WHERE tenant_id=?1 AND month=?2 GROUP BY rule",
            tenant, month, NULL, judged, 3, rows, err);
    sqlite3_stmt *st = rc ? NULL : db_prep(d,
        "SELECT rule, status FROM suggestion_rules WHERE tenant_id=?", err);
    char sample[ID_MAX] = "";
    if (st) {
        sqlite3_bind_int64(st, 1, tenant);
        while (sqlite3_step(st) == SQLITE_ROW) {
            json_t *row = json_object_get(rows, (const char *)sqlite3_column_text(st, 0));
            if (row)
                json_object_set_new(row, "status",
                                    json_string((const char *)sqlite3_column_text(st, 1)));
        }
        db_reset(st);
        st = db_prep(d, "SELECT id FROM review_samples WHERE tenant_id=? AND month=?", err);
    }
    if (!st) {
        json_decref(rows);
        return -1;
    }
    sqlite3_bind_int64(st, 1, tenant);
    sqlite3_bind_text(st, 2, month, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW)
        snprintf(sample, sizeof sample, "%s", sqlite3_column_text(st, 0));
    db_reset(st);
    /* Rows in rule order (json objects keep insertion order: sort keys). */
    json_t *data = json_array();
    size_t nkeys = json_object_size(rows), i = 0;
    const char **keys = calloc(nkeys ? nkeys : 1, sizeof *keys);
    if (!keys) {
        json_decref(data);
        json_decref(rows);
        return ax_fail(err, AX_EINTERNAL, "out of memory");
    }
    const char *k;
    json_t *v;
    json_object_foreach(rows, k, v)
        keys[i++] = k;
    qsort(keys, nkeys, sizeof *keys, by_text);
    for (i = 0; i < nkeys; i++) {
        json_t *row = json_object_get(rows, keys[i]);
        judge(row, t);
        json_array_append(data, row);
    }
    free(keys);
    json_t *doc = json_pack("{s:s,s:s,s:o,s:{s:f,s:f,s:i},s:o}", "object", "review_report",
                            "month", month, "sample_id", sample[0] ? json_string(sample) : json_null(),
                            "thresholds", "min_acceptance", t->min_acceptance, "max_confirmed",
                            t->max_confirmed, "min_reviews", t->min_reviews, "data", data);
    rc = dump_rounded(out, doc) ? ax_fail(err, AX_EINTERNAL, "out of memory") : 0;
    json_decref(doc);
    json_decref(rows);
    return rc;
}
