/* api_sugg.c - suggestions' outcomes, the review audit (samples, queue,
 * verdicts, report), rules and their retirement, the decision-chain KPI. */
#include "axon/api.h"

#include "axon/kpi.h"
#include "axon/model.h"
#include "axon/review.h"
#include "axon/store.h"
#include "axon/sugg.h"
#include "axon/text.h"
#include "axon/timefmt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOTE_MAX 1000
#define RULE_MAX 200

/* A JSON object body ({} when empty and `optional`); NULL: reply sent. */
static json_t *object_body(struct req *r, bool optional)
{
    if (optional && r->body.len == 0)
        return json_object();
    json_t *v = http_json_body(r);
    if (v && !json_is_object(v)) {
        json_decref(v);
        http_reply_problem(r, AX_EINVALID, "the body must be a JSON object");
        return NULL;
    }
    return v;
}

/* Check the body's members: only those allowed, strings where a string
 * belongs (single line, at most `max` characters, non-blank if required).
 * Replies 422 naming every bad member and returns false. */
struct member_rule {
    const char *name;
    bool required;
    bool boolean;      /* true/false instead of text */
    int max;
};

static bool members_ok(struct req *r, json_t *body, const struct member_rule *rules, int n)
{
    struct ax_err e;
    ax_err_clear(&e);
    char ptr[96];
    const char *k;
    json_t *v;
    json_object_foreach(body, k, v) {
        const struct member_rule *m = NULL;
        for (int i = 0; i < n; i++)
            if (!strcmp(k, rules[i].name))
                m = &rules[i];
        snprintf(ptr, sizeof ptr, "/%.80s", k);
        if (!m) {
            ax_field(&e, ptr, "unknown member");
            continue;
        }
        if (m->boolean) {
            if (!json_is_boolean(v))
                ax_field(&e, ptr, "must be true or false");
            continue;
        }
        const char *s = json_string_value(v);
        size_t len = s ? strlen(s) : 0;
        if (!s && !(json_is_null(v) && !m->required))
            ax_field(&e, ptr, "must be a string");
        else if (s && (strchr(s, '\n') || strchr(s, '\r')))
            ax_field(&e, ptr, "must be a single line");
        else if (s && text_length(s, len) > (size_t)m->max)
            ax_field(&e, ptr, "longer than %d characters", m->max);
        else if (m->required && s && strspn(s, " \t") == len)
            ax_field(&e, ptr, "must not be blank");
    }
    for (int i = 0; i < n; i++)
        if (rules[i].required && !json_object_get(body, rules[i].name)) {
            snprintf(ptr, sizeof ptr, "/%s", rules[i].name);
            ax_field(&e, ptr, "is required");
        }
    if (e.code == AX_OK)
        return true;
    http_reply_error(r, &e);
    return false;
}

static const char *member(json_t *body, const char *k)
{
    return json_string_value(json_object_get(body, k));
}

/* ---- writes ---- */

enum op_kind { OP_DECIDE, OP_SAMPLE, OP_VERDICT, OP_RETIRE };

struct sugg_op {
    struct req *r;
    enum op_kind kind;
    enum sugg_outcome outcome;
    long long if_version;
    json_t *body;
};

static void op_free(void *p)
{
    struct sugg_op *o = p;
    json_decref(o->body);
    free(o);
}

static int run_decide(struct db *d, struct sugg_op *o, struct ax_err *err)
{
    const char *note = member(o->body, o->outcome == SUGG_DISMISS ? "reason" : "note");
    struct store_result res;
    if (sugg_decide(d, &o->r->ctx, o->r->params[0], o->outcome, note, o->if_version, &res, err))
        return -1;
    char etag[32];
    snprintf(etag, sizeof etag, "\"%lld\"", (long long)res.version);
    http_add_header(o->r, "ETag", etag);
    http_reply_json(o->r, 200, res.doc);
    store_result_free(&res);
    return 0;
}

static int run_op(struct db *d, void *arg, struct ax_err *err)
{
    struct sugg_op *o = arg;
    struct req *r = o->r;
    if (o->kind == OP_DECIDE)
        return run_decide(d, o, err);
    struct buf out;
    buf_init(&out, 0);
    int rc;
    bool drawn;
    switch (o->kind) {
    case OP_SAMPLE:
        rc = review_draw(d, &r->ctx, member(o->body, "month"), &drawn, &out, err);
        break;
    case OP_VERDICT:
        rc = review_verdict(d, &r->ctx, r->params[0],
                            json_is_true(json_object_get(o->body, "shortened")),
                            member(o->body, "reason"), &out, err);
        break;
    default:
        rc = sugg_rule_retire(d, &r->ctx, member(o->body, "rule"), member(o->body, "reason"),
                              &out, err);
        break;
    }
    if (rc == 0)
        http_reply_buf(r, 200, &out);
    buf_free(&out);
    return rc;
}

static void submit(struct req *r, enum op_kind kind, json_t *body, enum sugg_outcome outcome,
                   long long if_version)
{
    struct sugg_op *o = calloc(1, sizeof *o);
    if (!o) {
        json_decref(body);
        http_reply_problem(r, AX_EUNAVAIL, "out of memory");
        return;
    }
    o->r = r;
    o->kind = kind;
    o->body = body;
    o->outcome = outcome;
    o->if_version = if_version;
    http_write(r, run_op, o, op_free);
}

/* ---- suggestions: accept, dismiss, complete ---- */

static void decide(struct req *r, enum sugg_outcome outcome)
{
    static const struct member_rule note[] = {{"note", false, false, NOTE_MAX}};
    static const struct member_rule reason[] = {{"reason", true, false, NOTE_MAX}};
    if (!http_require_role(r, model_find("suggestions")->write_roles))
        return;
    long long if_version = api_if_match(r);
    if (if_version == -2)
        return;
    bool dismiss = outcome == SUGG_DISMISS;
    json_t *body = object_body(r, !dismiss);
    if (!body)
        return;
    if (!members_ok(r, body, dismiss ? reason : note, 1)) {
        json_decref(body);
        return;
    }
    submit(r, OP_DECIDE, body, outcome, if_version);
}

void api_suggestion_accept(struct req *r) { decide(r, SUGG_ACCEPT); }
void api_suggestion_dismiss(struct req *r) { decide(r, SUGG_DISMISS); }
void api_suggestion_complete(struct req *r) { decide(r, SUGG_COMPLETE); }

/* ---- reviews ---- */

void api_review_sample(struct req *r)
{
    static const struct member_rule rules[] = {{"month", true, false, 7},
                                               {"partial", false, true, 0}};
    if (!http_require_role(r, ROLES_LEADS))
        return;
    json_t *body = object_body(r, false);
    if (!body)
        return;
    if (!members_ok(r, body, rules, 2)) {
        json_decref(body);
        return;
    }
    /* A sample is stored for good: drawn before its month is over it would
     * miss the rest of the month. That takes saying so. */
    char now[8];
    review_month_of(time_now_ms(), 0, now);
    const char *month = member(body, "month");
    char start[TIME_TEXT_MAX], end[TIME_TEXT_MAX];
    if (month && review_month_range(month, start, end) == 0 && strcmp(month, now) >= 0 &&
        !json_is_true(json_object_get(body, "partial"))) {
        struct ax_err e;
        ax_err_clear(&e);
        ax_field(&e, "/month", "%s is not over yet; a sample is kept for good, so send "
                 "\"partial\": true to draw it from what there is now", month);
        ax_fail_type(&e, AX_EINVALID, "month-not-over", "the month is not over yet");
        http_reply_error(r, &e);
        json_decref(body);
        return;
    }
    submit(r, OP_SAMPLE, body, SUGG_ACCEPT, -1);
}

void api_review_verdict(struct req *r)
{
    static const struct member_rule rules[] = {{"shortened", true, true, 0},
                                               {"reason", true, false, NOTE_MAX}};
    if (!http_require_role(r, ROLES_LEADS))
        return;
    json_t *body = object_body(r, false);
    if (!body)
        return;
    if (!members_ok(r, body, rules, 2)) {
        json_decref(body);
        return;
    }
    submit(r, OP_VERDICT, body, SUGG_ACCEPT, -1);
}

/* ?month= (YYYY-MM) or, when absent, `dflt` months before this one. */
static bool month_param(struct req *r, char out[8], int dflt_back, bool optional_all)
{
    const char *m = http_query(r, "month");
    char start[TIME_TEXT_MAX], end[TIME_TEXT_MAX];
    if (!m) {
        if (optional_all)
            out[0] = '\0';
        else
            review_month_of(time_now_ms(), dflt_back, out);
        return true;
    }
    if (review_month_range(m, start, end)) {
        http_reply_problem(r, AX_EBADREQ, "month must be YYYY-MM, e.g. 2026-11");
        return false;
    }
    snprintf(out, 8, "%s", m);
    return true;
}

void api_reviews_list(struct req *r)
{
    if (!http_require_role(r, ROLES_LEADS))
        return;
    struct db *d = api_read_db(r);
    long long limit, after;
    char month[8];
    if (!d || api_int_param(r, "limit", 50, 1, 200, &limit) ||
        api_int_param(r, "after", 0, 0, 2000000000, &after) || !month_param(r, month, 0, true))
        return;
    const char *status = http_query(r, "status"), *rule = http_query(r, "rule");
    if (status && strcmp(status, "pending") && strcmp(status, "done")) {
        http_reply_problem(r, AX_EBADREQ, "status must be pending or done");
        return;
    }
    if (rule && strlen(rule) > RULE_MAX) {
        http_reply_problem(r, AX_EBADREQ, "rule is at most %d bytes", RULE_MAX);
        return;
    }
    const char *count = http_query(r, "count");
    struct ax_err e;
    ax_err_clear(&e);
    struct buf out;
    buf_init(&out, 0);
    http_reply_result(r, review_list(d, r->ctx.tenant, month[0] ? month : NULL, status, rule, (int)limit,
                             after, count && !strcmp(count, "true"), &out, &e), &out, &e, 200);
}

static bool rate_param(struct req *r, const char *name, double *v)
{
    const char *s = http_query(r, name);
    if (!s)
        return true;
    char *end;
    double x = strtod(s, &end);
    if (!*s || *end || !(x >= 0 && x <= 1)) {
        http_reply_problem(r, AX_EBADREQ, "%s must be a number from 0 to 1", name);
        return false;
    }
    *v = x;
    return true;
}

void api_review_report(struct req *r)
{
    if (!http_require_role(r, ROLES_LEADS))
        return;
    struct db *d = api_read_db(r);
    struct review_thresholds t = review_default_thresholds;
    long long min_reviews;
    char month[8];
    if (!d || !month_param(r, month, 0, false) ||
        api_int_param(r, "min_reviews", t.min_reviews, 1, 100000, &min_reviews) ||
        !rate_param(r, "min_acceptance", &t.min_acceptance) ||
        !rate_param(r, "max_confirmed", &t.max_confirmed))
        return;
    t.min_reviews = (int)min_reviews;
    struct ax_err e;
    ax_err_clear(&e);
    struct buf out;
    buf_init(&out, 0);
    http_reply_result(r, review_report(d, r->ctx.tenant, month, &t, &out, &e), &out, &e, 200);
}

/* ---- rules ---- */

void api_rules_list(struct req *r) { api_tenant_read(r, ROLES_LEADS, sugg_rules_list); }

/* POST /api/v1/rules/retire {"rule": "pack/rule", "reason": "…"}: rule
 * names hold '/', so the rule travels in the body, not the path. */
void api_rule_retire(struct req *r)
{
    static const struct member_rule rules[] = {{"rule", true, false, RULE_MAX},
                                               {"reason", true, false, NOTE_MAX}};
    if (!http_require_role(r, ROLE_ADMIN))
        return;
    json_t *body = object_body(r, false);
    if (!body)
        return;
    if (!members_ok(r, body, rules, 2)) {
        json_decref(body);
        return;
    }
    submit(r, OP_RETIRE, body, SUGG_ACCEPT, -1);
}

/* ---- KPIs ---- */

void api_kpi_decision_chain(struct req *r)
{
    struct db *d = api_read_db(r);
    if (!d)
        return;
    struct kpi_query q;
    struct ax_err e;
    ax_err_clear(&e);
    if (kpi_parse(http_query(r, "group"), http_query(r, "from"), http_query(r, "to"),
                  http_query(r, "compare"), &q, &e)) {
        http_reply_error(r, &e);
        return;
    }
    struct buf out;
    buf_init(&out, 0);
    http_reply_result(r, kpi_decision_chain(d, r->ctx.tenant, &q, &out, &e), &out, &e, 200);
}
