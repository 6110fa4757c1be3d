/* sugg.c - suggestions' lifecycle and the status of their rules (see sugg.h). */
#include "axon/sugg.h"

#include "axon/audit.h"
#include "axon/jx.h"
#include "axon/log.h"
#include "axon/model.h"
#include "axon/review.h"
#include "axon/timefmt.h"
#include "axon/writer.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXPIRE_BATCH 64
#define EXPIRY_EVERY_MS 1000
#define SAMPLES_EVERY_MS (3600 * 1000)

static const char *str(json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static bool blank(const char *s)
{
    if (!s)
        return true;
    while (*s == ' ' || *s == '\t')
        s++;
    return *s == '\0';
}

/* Who decides: the human if there is one, else the key or pack version. */
static json_t *decider(const struct ax_ctx *c)
{
    const char *who = c->user_id[0] ? c->user_id : c->actor_id[0] ? c->actor_id : NULL;
    return who ? json_string(who) : json_null();
}

static bool is(const char *a, const char *b) { return a && b && strcmp(a, b) == 0; }

/* ---- the lifecycle ---- */

static int check_new(struct db *d, const struct ax_ctx *c, json_t *rec, struct ax_err *err)
{
    if (!is(str(rec, "status"), "open")) {
        ax_field(err, "/status", "a new suggestion is open: accept, dismiss or complete it "
                                 "afterwards");
        return -1;
    }
    const char *rule = str(rec, "rule");
    int retired = rule ? sugg_rule_retired(d, c->tenant, rule, err) : 0;
    if (retired < 0)
        return -1;
    if (retired)
        return ax_fail_type(err, AX_ECONFLICT, "rule-retired",
                            "rule '%.200s' is retired and makes no more suggestions", rule);
    return 0;
}

int sugg_prepare(struct db *d, const struct ax_ctx *c, json_t *old, json_t *rec,
                 struct ax_err *err)
{
    if (!old)
        return check_new(d, c, rec, err);
    const char *was = str(old, "status"), *now = str(rec, "status");
    /* Who made it stays as it was: the per-rule report counts on it. */
    if (!json_equal(json_object_get(old, "rule"), json_object_get(rec, "rule")) ||
        !json_equal(json_object_get(old, "rule_version"), json_object_get(rec, "rule_version"))) {
        ax_field(err, "/rule", "the rule of a suggestion is fixed when it is made");
        return -1;
    }
    /* Dismissed, completed and expired suggestions are history. */
    if (is(was, "dismissed") || is(was, "completed") || is(was, "expired")) {
        json_t *a = json_deep_copy(old), *b = json_deep_copy(rec);
        static const char *const server[] = {"version", "updated_at", NULL};
        for (int i = 0; server[i]; i++) {
            json_object_del(a, server[i]);
            json_object_del(b, server[i]);
        }
        bool same = json_equal(a, b);
        json_decref(a);
        json_decref(b);
        if (!same)
            return ax_fail_type(err, AX_ECONFLICT, "decided",
                                "this suggestion was %s already; it cannot change", was);
    }
    if (!was || !now || is(was, now))
        return 0;
    bool allowed = is(was, "open") || (is(was, "accepted") && is(now, "completed"));
    if (!allowed || is(now, "open"))
        return ax_fail_type(err, AX_ECONFLICT, "decided",
                            "this suggestion was %s already; it cannot become %s", was, now);
    char at[TIME_TEXT_MAX];
    time_format_ms(time_now_ms(), at);
    /* Only open suggestions expire, and only when their time has come. */
    const char *expires = str(rec, "expires_at");
    if (is(now, "expired") && !(expires && strcmp(expires, at) <= 0)) {
        ax_field(err, "/status", "a suggestion expires by itself when expires_at has passed");
        return -1;
    }
    if (is(was, "open") && !is(now, "expired") && expires && strcmp(expires, at) <= 0)
        return ax_fail_type(err, AX_ECONFLICT, "expired",
                            "this suggestion expired at %s; it cannot be %s", expires, now);
    if (is(now, "dismissed") && blank(str(rec, "status_reason"))) {
        ax_field(err, "/status_reason", "say why the suggestion is dismissed");
        return -1;
    }
    if (is(now, "accepted")) {
        json_object_set_new(rec, "accepted_at", json_string(at));
        json_object_set_new(rec, "decided_by", decider(c));
    } else if (is(now, "dismissed")) {
        json_object_set_new(rec, "dismissed_at", json_string(at));
        json_object_set_new(rec, "decided_by", decider(c));
    } else if (is(now, "completed")) {
        /* Done without accepting first: it was accepted then, too. */
        json_object_set_new(rec, "completed_at", json_string(at));
        json_t *accepted = json_object_get(rec, "accepted_at");
        if (!accepted || json_is_null(accepted)) {
            json_object_set_new(rec, "accepted_at", json_string(at));
            json_object_set_new(rec, "decided_by", decider(c));
        }
    }
    return 0;
}

int sugg_decide(struct db *d, const struct ax_ctx *c, const char *id, enum sugg_outcome outcome,
                const char *note, int64_t if_version, struct store_result *out,
                struct ax_err *err)
{
    static const char *const target[] = {"accepted", "dismissed", "completed"};
    const struct object_def *def = model_find("suggestions");
    struct store_result cur;
    memset(out, 0, sizeof *out);
    if (store_get(d, c, def, id, &cur, err))
        return -1;
    json_t *rec = json_loads(cur.doc, 0, NULL);
    int64_t version = cur.version;
    store_result_free(&cur);
    if (!rec)
        return ax_fail(err, AX_EINTERNAL, "stored suggestion unreadable");
    int rc = -1;
    const char *status = str(rec, "status");
    if (if_version >= 0 && if_version != version) {
        ax_fail_type(err, AX_EPRECOND, "version-mismatch",
                     "the suggestion was changed by someone else (now version %lld, you sent "
                     "%lld); reload it and decide again", (long long)version,
                     (long long)if_version);
        goto done;
    }
    if (!is(status, "open") && !(outcome == SUGG_COMPLETE && is(status, "accepted"))) {
        const char *when = is(status, "accepted")    ? str(rec, "accepted_at")
                           : is(status, "dismissed") ? str(rec, "dismissed_at")
                           : is(status, "completed") ? str(rec, "completed_at")
                                                     : str(rec, "expires_at");
        ax_fail_type(err, AX_ECONFLICT, "decided",
                     "this suggestion was %s already%s%s%s; it cannot be %s",
                     status ? status : "decided", when ? " (" : "", when ? when : "",
                     when ? ")" : "", target[outcome]);
        goto done;
    }
    json_t *patch = json_pack("{s:s}", "status", target[outcome]);
    if (note)
        json_object_set_new(patch, "status_reason", json_string(note));
    rc = store_update(d, c, def, id, patch, if_version, out, err);
    json_decref(patch);
done:
    json_decref(rec);
    return rc;
}

/* ---- rules ---- */

int sugg_rule_retired(struct db *d, int64_t tenant, const char *rule, struct ax_err *err)
{
    sqlite3_stmt *st = db_prep(d,
        "SELECT status='retired' FROM suggestion_rules WHERE tenant_id=? AND rule=?", err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, tenant);
    sqlite3_bind_text(st, 2, rule, -1, SQLITE_STATIC);
    int retired = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
    db_reset(st);
    return retired;
}

static void add_text(struct buf *b, sqlite3_stmt *st, int col)
{
    const char *v = (const char *)sqlite3_column_text(st, col);
    if (v)
        buf_add_json_str(b, v, strlen(v));
    else
        buf_adds(b, "null");
}

/* Append the rules (all, or the one named) as JSON objects separated by
 * commas; returns how many, -1 on error. */
static int rules_rows(struct db *d, int64_t tenant, const char *one, struct buf *out,
                      struct ax_err *err)
{
    sqlite3_stmt *st = db_prep(d,
        "SELECT s.rule, count(*), sum(s.status='open'), "
        " sum(s.status IN ('accepted','completed')), sum(s.status='dismissed'), "
        " sum(s.status='expired'), min(s.created_at), max(s.created_at), "
        " r.status, r.reason, r.changed_at, r.changed_by "
        "FROM suggestions s LEFT JOIN suggestion_rules r ON r.tenant_id=s.tenant_id "
        " AND r.rule=s.rule "
        "WHERE s.tenant_id=?1 AND s.rule IS NOT NULL AND (?2 IS NULL OR s.rule=?2) "
        "GROUP BY s.rule ORDER BY s.rule", err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, tenant);
    sqlite3_bind_text(st, 2, one, -1, SQLITE_STATIC);
    int n = 0;
    static const char *const counts[] = {"volume", "open", "accepted", "dismissed", "expired"};
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *status = (const char *)sqlite3_column_text(st, 8);
        buf_adds(out, n++ ? ",{\"object\":\"rule\",\"rule\":" : "{\"object\":\"rule\",\"rule\":");
        add_text(out, st, 0);
        buf_addf(out, ",\"status\":\"%s\"", is(status, "retired") ? "retired" : "active");
        for (int i = 0; i < 5; i++)
            buf_addf(out, ",\"%s\":%lld", counts[i], (long long)sqlite3_column_int64(st, 1 + i));
        static const char *const texts[] = {"first_seen", "last_seen", NULL, "reason",
                                            "changed_at", "changed_by"};
        for (int i = 0; i < 6; i++) {
            if (!texts[i])
                continue;
            buf_addf(out, ",\"%s\":", texts[i]);
            add_text(out, st, 6 + i);
        }
        buf_addc(out, '}');
    }
    db_reset(st);
    return n;
}

int sugg_rules_list(struct db *d, int64_t tenant, struct buf *out, struct ax_err *err)
{
    buf_adds(out, "{\"data\":[");
    if (rules_rows(d, tenant, NULL, out, err) < 0)
        return -1;
    return buf_adds(out, "],\"next\":null}") ? ax_fail(err, AX_EINTERNAL, "out of memory") : 0;
}

int sugg_rule_retire(struct db *d, const struct ax_ctx *c, const char *rule, const char *reason,
                     struct buf *out, struct ax_err *err)
{
    int retired = sugg_rule_retired(d, c->tenant, rule, err);
    if (retired < 0)
        return -1;
    if (retired)
        return ax_fail_type(err, AX_ECONFLICT, "rule-retired", "rule '%.200s' was retired already",
                            rule);
    sqlite3_stmt *st = db_prep(d, "SELECT 1 FROM suggestions WHERE tenant_id=? AND rule=? LIMIT 1",
                               err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, c->tenant);
    sqlite3_bind_text(st, 2, rule, -1, SQLITE_STATIC);
    bool seen = sqlite3_step(st) == SQLITE_ROW;
    db_reset(st);
    if (!seen)
        return ax_fail(err, AX_ENOTFOUND, "no suggestion names rule '%.200s'", rule);
    char at[TIME_TEXT_MAX];
    time_format_ms(time_now_ms(), at);
    const char *by = c->user_id[0] ? c->user_id : c->actor_id[0] ? c->actor_id : NULL;
    st = db_prep(d,
        "INSERT INTO suggestion_rules(tenant_id,rule,status,reason,changed_at,changed_by) "
        "VALUES(?,?,'retired',?,?,?) ON CONFLICT(tenant_id,rule) DO UPDATE SET "
        "status='retired', reason=excluded.reason, changed_at=excluded.changed_at, "
        "changed_by=excluded.changed_by", err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, c->tenant);
    sqlite3_bind_text(st, 2, rule, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, reason, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, at, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, by, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    db_reset(st);
    if (rc != SQLITE_DONE)
        return db_fail(d, err, "retire a rule");
    json_t *changes = json_pack("{s:[s,s],s:[n,s]}", "status", "active", "retired", "reason",
                                reason);
    rc = audit_append(d, c, "rules", rule, "update", changes, err);
    json_decref(changes);
    if (rc || rules_rows(d, c->tenant, rule, out, err) != 1)
        return err->code ? -1 : ax_fail(err, AX_EINTERNAL, "the retired rule vanished");
    return 0;
}

/* ---- expiry and upkeep ---- */

struct due {
    int64_t tenant;
    char tenant_id[ID_MAX];
    char id[ID_MAX];
};

static int expire_one(struct db *d, const struct due *x, struct ax_err *err)
{
    struct ax_ctx c;
    memset(&c, 0, sizeof c);
    c.tenant = x->tenant;
    snprintf(c.tenant_id, sizeof c.tenant_id, "%s", x->tenant_id);
    c.role = ROLE_ADMIN;
    c.actor_type = "system";
    c.source = "expiry";
    c.trigger = "system";
    json_t *patch = json_pack("{s:s}", "status", "expired");
    struct store_result res;
    int rc = store_update(d, &c, model_find("suggestions"), x->id, patch, -1, &res, err);
    store_result_free(&res);
    json_decref(patch);
    return rc;
}

int sugg_expire_due(struct db *d, int64_t now_ms, int max, struct ax_err *err)
{
    struct due due[EXPIRE_BATCH];
    char now[TIME_TEXT_MAX];
    time_format_ms(now_ms, now);
    if (max > EXPIRE_BATCH)
        max = EXPIRE_BATCH;
    sqlite3_stmt *st = db_prep(d,
        "SELECT s.tenant_id, t.id, s.id FROM suggestions s JOIN tenants t ON t.rid=s.tenant_id "
        "WHERE s.status='open' AND s.expires_at IS NOT NULL AND s.expires_at < ? "
        "ORDER BY s.expires_at LIMIT ?", err);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, now, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, max);
    int n = 0;
    while (n < max && sqlite3_step(st) == SQLITE_ROW) {
        due[n].tenant = sqlite3_column_int64(st, 0);
        snprintf(due[n].tenant_id, sizeof due[n].tenant_id, "%s", sqlite3_column_text(st, 1));
        snprintf(due[n].id, sizeof due[n].id, "%s", sqlite3_column_text(st, 2));
        n++;
    }
    db_reset(st);
    int expired = 0;
    for (int i = 0; i < n; i++) {
        /* One that cannot expire (a failing write) must not hold the others. */
        struct db_txn_mark m;
        struct ax_err one;
        ax_err_clear(&one);
        if (db_savepoint(d, "expire", &m, err))
            return -1;
        int rc = expire_one(d, &due[i], &one);
        if (rc)
            log_warn("suggestion %s could not expire: %s", due[i].id, one.detail);
        if (db_savepoint_end(d, "expire", &m, rc != 0, err))
            return -1;
        expired += rc == 0;
    }
    return expired;
}

static int any_due(struct db *rd, int64_t now_ms, struct ax_err *err)
{
    char now[TIME_TEXT_MAX];
    time_format_ms(now_ms, now);
    sqlite3_stmt *st = db_prep(rd,
        "SELECT 1 FROM suggestions WHERE status='open' AND expires_at IS NOT NULL "
        "AND expires_at < ? LIMIT 1", err);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, now, -1, SQLITE_STATIC);
    int found = sqlite3_step(st) == SQLITE_ROW;
    db_reset(st);
    return found;
}

static int run_expire(struct db *d, void *arg, struct ax_err *err)
{
    int n = sugg_expire_due(d, *(int64_t *)arg, EXPIRE_BATCH, err);
    if (n > 0)
        log_info("expired %d suggestions", n);
    return n < 0 ? -1 : 0;
}

struct draw_arg {
    int64_t now_ms;
    int drawn;
};

static int run_draw_missing(struct db *d, void *arg, struct ax_err *err)
{
    struct draw_arg *a = arg;
    a->drawn = review_draw_missing(d, a->now_ms, err);
    if (a->drawn > 0)
        log_info("drew last month's review sample for %d tenants", a->drawn);
    return a->drawn < 0 ? -1 : 0;
}

static pthread_mutex_t upkeep_lock = PTHREAD_MUTEX_INITIALIZER;
static int64_t next_expiry_ms, next_samples_ms;

void sugg_upkeep(struct db *rd)
{
    int64_t now = time_now_ms();
    pthread_mutex_lock(&upkeep_lock);
    bool expiry = now >= next_expiry_ms, samples = now >= next_samples_ms;
    if (expiry)
        next_expiry_ms = now + EXPIRY_EVERY_MS;
    if (samples)
        next_samples_ms = now + SAMPLES_EVERY_MS;
    pthread_mutex_unlock(&upkeep_lock);
    struct ax_err err;
    ax_err_clear(&err);
    if (expiry) {
        int due = any_due(rd, now, &err);
        if (due < 0 || (due > 0 && writer_exec(rd, run_expire, &now, &err)))
            log_warn("suggestion expiry: %s", err.detail);
    }
    ax_err_clear(&err);
    struct draw_arg draw = {now, 0};
    if (samples && writer_exec(rd, run_draw_missing, &draw, &err))
        log_warn("monthly review samples: %s", err.detail);
    if (draw.drawn >= REVIEW_DRAW_BATCH) {     /* more tenants wait: go on next second */
        pthread_mutex_lock(&upkeep_lock);
        next_samples_ms = now + EXPIRY_EVERY_MS;
        pthread_mutex_unlock(&upkeep_lock);
    }
}
