/* test_tags.c - tags of a text, the decaying profile with its deferred
 * writes (savepoints, reads inside the transaction), the dictionary cache
 * and refcache. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "axon/audit.h"
#include "axon/db.h"
#include "axon/events.h"
#include "axon/intents.h"
#include "axon/models.h"
#include "axon/objects.h"
#include "axon/refcache.h"
#include "axon/search.h"
#include "axon/store.h"
#include "axon/tags.h"
#include "axon/tenant.h"
#include "axon/timefmt.h"

#include <jansson.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DAY_MS ((int64_t)86400000)

/* ---- decay ---- */

static void decay_halves_every_30_days(void **state)
{
    (void)state;
    assert_true(tags_decay(0, 0) == 1.0);
    assert_true(tags_decay(5000, 1000) == 1.0);            /* not later: full weight */
    assert_true(fabs(tags_decay(0, 30 * DAY_MS) - 0.5) < 1e-15);
    assert_true(fabs(tags_decay(0, 60 * DAY_MS) - 0.25) < 1e-15);
    assert_true(fabs(tags_decay(10 * DAY_MS, 25 * DAY_MS) - sqrt(0.5)) < 1e-15);
}

/* ---- tags of a text ---- */

static struct intent_dict *small_dict(void)
{
    const struct intent_entry es[] = {
        {"logistics_anxiety", "物流太慢", 2, "zh", 1},
        {"logistics_anxiety", "物流", 1, "zh", 2},
        {"price_sensitive", "price", 1.5, "en", 3},
        {"churn_risk", "取消订单", 3, "zh", 4},
    };
    struct intent_dict *d = NULL;
    struct ax_err err;
    ax_err_clear(&err);
    assert_int_equal(intent_dict_compile(es, 4, &d, NULL, &err), 0);
    return d;
}

static void fields_have_their_own_offsets(void **state)
{
    (void)state;
    struct intent_dict *d = small_dict();
    const char *subject = "Price", *body = "物流太慢了，取消订单";
    struct tags_input in = {subject, body, strlen(subject), strlen(body), "subject", "body"};
    struct tags_result t;
    struct ax_err err;
    ax_err_clear(&err);
    assert_int_equal(tags_compute(d, NULL, &in, &t, &err), 0);
    assert_true(isnan(t.sentiment));                 /* no model given */
    assert_int_equal(t.nintents, 3);
    assert_string_equal(t.top[0].intent, "churn_risk");
    assert_true(t.top[0].score == 3);
    assert_string_equal(t.top[1].intent, "logistics_anxiety");
    assert_true(t.top[1].score == 2);                /* 物流 lies inside 物流太慢 */
    assert_string_equal(t.top[2].intent, "price_sensitive");
    assert_string_equal(t.scores.data,
                        "{\"churn_risk\":3,\"logistics_anxiety\":2,\"price_sensitive\":1.5}");
    json_t *j = json_loads(t.intents.data, 0, NULL);
    assert_non_null(j);
    json_t *churn = json_array_get(json_object_get(json_array_get(j, 0), "hits"), 0);
    assert_string_equal(json_string_value(json_object_get(churn, "field")), "body");
    assert_int_equal(json_integer_value(json_object_get(churn, "start")), 18);
    assert_int_equal(json_integer_value(json_object_get(churn, "char_start")), 6);
    assert_int_equal(json_integer_value(json_object_get(churn, "char_end")), 10);
    json_t *price = json_array_get(json_object_get(json_array_get(j, 2), "hits"), 0);
    assert_string_equal(json_string_value(json_object_get(price, "field")), "subject");
    assert_string_equal(json_string_value(json_object_get(price, "text")), "Price");
    assert_int_equal(json_integer_value(json_object_get(price, "end")), 5);
    json_decref(j);
    tags_result_free(&t);

    /* A term never spans the two fields. */
    struct tags_input split = {"物流", "太慢", 6, 6, "subject", "body"};
    assert_int_equal(tags_compute(d, NULL, &split, &t, &err), 0);
    assert_string_equal(t.scores.data, "{\"logistics_anxiety\":1}");
    tags_result_free(&t);
    intent_dict_free(d);
}

static void sentiment_of_the_body(void **state)
{
    (void)state;
    struct ax_err err;
    ax_err_clear(&err);
    const struct clf_model *m = models_builtin(&err);
    const struct intent_dict *d = intents_builtin(&err);
    assert_non_null(m);
    assert_non_null(d);
    assert_true(intent_dict_term_count(d) >= 2000);
    struct tags_input bad = {"很好", "太难吃了，送得又慢，再也不点了", 6, 45, "subject", "body"};
    struct tags_result t;
    assert_int_equal(tags_compute(d, m, &bad, &t, &err), 0);
    assert_true(t.sentiment < -0.8);                 /* the body counts, not the subject */
    tags_result_free(&t);
    struct tags_input good = {"很好吃，送得很快，下次还点", NULL, 39, 0, "subject", "body"};
    assert_int_equal(tags_compute(d, m, &good, &t, &err), 0);
    assert_true(t.sentiment > 0.8);                  /* no body: the subject */
    tags_result_free(&t);
}

/* ---- refcache ---- */

static int freed;
static void count_free(void *p)
{
    freed++;
    free(p);
}

static void refcache_evicts_only_what_nobody_holds(void **state)
{
    (void)state;
    static struct refcache c = REFCACHE_INIT(2, 1000, count_free);
    freed = 0;
    void *h1, *h2, *h3, *h;
    struct refcache_key k1 = {1, 1, "a"}, k2 = {1, 2, "a"}, k3 = {2, 1, "a"};
    char *v1 = refcache_put(&c, &k1, strdup("one"), 10, &h1);
    refcache_put(&c, &k2, strdup("two"), 10, &h2);
    assert_string_equal(v1, "one");
    assert_null(refcache_get(&c, &(struct refcache_key){1, 1, "b"}, &h));   /* tag differs */
    refcache_release(&c, h2);
    /* A third entry: "two" (not held, least recently used) goes, "one" stays. */
    refcache_put(&c, &k3, strdup("three"), 10, &h3);
    assert_int_equal(freed, 1);
    assert_int_equal(refcache_count(&c), 2);
    assert_null(refcache_get(&c, &k2, &h));
    assert_ptr_equal(refcache_get(&c, &k1, &h), v1);
    refcache_release(&c, h);
    /* Adding what is there keeps the cached one and frees the new copy. */
    char *again = refcache_put(&c, &k1, strdup("uno"), 10, &h);
    assert_ptr_equal(again, v1);
    assert_int_equal(freed, 2);
    refcache_release(&c, h);
    /* Over the byte limit, everything unheld goes. */
    refcache_release(&c, h1);
    refcache_put(&c, &(struct refcache_key){3, 3, ""}, strdup("big"), 2000, &h);
    assert_int_equal(refcache_count(&c), 2);          /* "big" is held; "three" too */
    refcache_release(&c, h3);
    refcache_release(&c, h);
    assert_int_equal(refcache_count(&c), 0);
    assert_int_equal(freed, 5);
}

/* ---- the profile, in a scratch database ---- */

struct world {
    struct db *d;
    struct ax_ctx c;
    char customer[ID_MAX];
};

static struct world W;

static void ok(int rc, const struct ax_err *err)
{
    if (rc)
        fail_msg("%s", err->detail);
}

static void create(const char *object, json_t *fields, char id[ID_MAX])
{
    struct ax_err err;
    ax_err_clear(&err);
    const struct object_def *def = model_find(object);
    json_t *in = model_check_input(def, fields, true, &err);
    json_decref(fields);
    if (!in)
        fail_msg("%s", err.detail);
    struct store_result r;
    ok(store_create(W.d, &W.c, def, in, &r, &err), &err);
    if (id)
        snprintf(id, ID_MAX, "%s", r.id);
    store_result_free(&r);
    json_decref(in);
}

static void at_days_ago(int days, char out[TIME_TEXT_MAX])
{
    time_format_ms(time_now_ms() - days * DAY_MS, out);
}

/* The customer's profile now: intent -> {score, signals}. */
static json_t *profile(void)
{
    struct buf out;
    buf_init(&out, 0);
    struct ax_err err;
    ax_err_clear(&err);
    ok(tags_profile(W.d, W.c.tenant, W.customer, time_now_ms(), &out, &err), &err);
    json_t *p = json_loads(out.data, 0, NULL);
    buf_free(&out);
    json_t *by = json_object();
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(p, "intents"), i, v)
        json_object_set(by, json_string_value(json_object_get(v, "intent")), v);
    json_object_set(by, "~sentiment", json_object_get(p, "sentiment"));
    json_decref(p);
    return by;
}

static double score_of(json_t *p, const char *intent, long long *signals)
{
    json_t *v = json_object_get(p, intent);
    *signals = v ? json_integer_value(json_object_get(v, "signals")) : 0;
    return v ? json_number_value(json_object_get(v, "score")) : 0;
}

static int setup_world(void **state)
{
    (void)state;
    static bool hooks;
    if (!hooks) {
        db_set_conn_hook(search_register);
        search_init();
        audit_init();
        obj_init();
        store_init();
        event_init();
        tags_init();
        hooks = true;
    }
    struct ax_err err;
    ax_err_clear(&err);
    W.d = db_open(":memory:", DB_CREATE, &err);
    if (!W.d)
        fail_msg("%s", err.detail);
    char slug[64];
    ok(db_begin(W.d, &err), &err);
    ok(tenant_create_empty(W.d, "unit", NULL, slug, &W.c, &err), &err);
    struct intent_dict *dict = small_dict();
    struct intent_report rep;
    intent_report_init(&rep);
    struct buf out;
    buf_init(&out, 0);
    long long version;
    ok(intents_store(W.d, &W.c, dict, &rep, "unit.csv", 10, true, &version, &out, &err), &err);
    assert_int_equal(version, 1);
    buf_free(&out);
    intent_dict_free(dict);
    create("customers", json_pack("{s:s}", "name", "Profile test"), W.customer);
    ok(db_commit(W.d, &err), &err);
    return 0;
}

static int teardown_world(void **state)
{
    (void)state;
    db_close(W.d);
    return 0;
}

static void profile_adds_decays_and_takes_back(void **state)
{
    (void)state;
    struct ax_err err;
    ax_err_clear(&err);
    char now[TIME_TEXT_MAX], month[TIME_TEXT_MAX], a1[ID_MAX], a2[ID_MAX], a3[ID_MAX];
    at_days_ago(0, now);
    at_days_ago(30, month);
    ok(db_begin(W.d, &err), &err);
    create("activities", json_pack("{s:s,s:s,s:s,s:s}", "kind", "email", "body", "物流太慢",
                                   "customer_id", W.customer, "occurred_at", now), a1);
    create("activities", json_pack("{s:s,s:s,s:s,s:s}", "kind", "email", "body", "物流太慢",
                                   "customer_id", W.customer, "occurred_at", month), a2);
    ok(db_commit(W.d, &err), &err);
    long long n;
    json_t *p = profile();
    assert_true(fabs(score_of(p, "logistics_anxiety", &n) - 3.0) < 1e-6);   /* 2 + 2/2 */
    assert_int_equal(n, 2);
    json_decref(p);

    /* A write whose operation fails gives nothing to the profile. */
    ok(db_begin(W.d, &err), &err);
    struct db_txn_mark mark;
    ok(db_savepoint(W.d, "op", &mark, &err), &err);
    create("activities", json_pack("{s:s,s:s,s:s}", "kind", "chat", "body", "取消订单",
                                   "customer_id", W.customer), NULL);
    ok(db_savepoint_end(W.d, "op", &mark, true, &err), &err);
    /* One still in the transaction is counted by a read inside it. */
    create("activities", json_pack("{s:s,s:s,s:s,s:s}", "kind", "chat", "body", "取消订单",
                                   "customer_id", W.customer, "occurred_at", now), a3);
    p = profile();
    assert_true(fabs(score_of(p, "churn_risk", &n) - 3.0) < 1e-6);
    assert_int_equal(n, 1);
    json_decref(p);
    db_rollback(W.d);
    p = profile();
    assert_null(json_object_get(p, "churn_risk"));
    assert_true(fabs(score_of(p, "logistics_anxiety", &n) - 3.0) < 1e-6);
    json_decref(p);

    /* Changing the text takes the old share back and adds the new one. */
    ok(db_begin(W.d, &err), &err);
    json_t *patch = json_pack("{s:s}", "body", "取消订单");
    struct store_result r;
    ok(store_update(W.d, &W.c, model_find("activities"), a2, patch, -1, &r, &err), &err);
    store_result_free(&r);
    json_decref(patch);
    ok(db_commit(W.d, &err), &err);
    p = profile();
    assert_true(fabs(score_of(p, "logistics_anxiety", &n) - 2.0) < 1e-6);
    assert_int_equal(n, 1);
    assert_true(fabs(score_of(p, "churn_risk", &n) - 1.5) < 1e-6);        /* 3, a month old */
    json_t *s = json_object_get(p, "~sentiment");
    assert_int_equal(json_integer_value(json_object_get(s, "signals")), 2);
    assert_true(fabs(json_number_value(json_object_get(s, "weight")) - 1.5) < 1e-6);
    json_decref(p);

    /* Deleting both leaves no profile. */
    ok(db_begin(W.d, &err), &err);
    ok(store_delete(W.d, &W.c, model_find("activities"), a1, -1, &err), &err);
    ok(store_delete(W.d, &W.c, model_find("activities"), a2, -1, &err), &err);
    ok(db_commit(W.d, &err), &err);
    p = profile();
    assert_int_equal(json_object_size(p), 1);
    assert_true(json_is_null(json_object_get(p, "~sentiment")));
    json_decref(p);
}

static void dictionaries_are_shared_and_counted(void **state)
{
    (void)state;
    struct ax_err err;
    ax_err_clear(&err);
    struct intents_ref a, b, builtin;
    ok(intents_acquire(W.d, W.c.tenant, INTENTS_ACTIVE, &a, &err), &err);
    ok(intents_acquire(W.d, W.c.tenant, 1, &b, &err), &err);
    assert_int_equal(a.version, 1);
    assert_ptr_equal(a.dict, b.dict);                /* one compiled copy */
    assert_int_equal(intent_dict_term_count(a.dict), 4);
    ok(intents_acquire(W.d, W.c.tenant, INTENTS_BUILTIN, &builtin, &err), &err);
    assert_null(builtin.entry);
    assert_ptr_equal(builtin.dict, intents_builtin(&err));
    assert_int_equal(intents_acquire(W.d, W.c.tenant, 7, &builtin, &err), -1);
    assert_int_equal(err.code, AX_ENOTFOUND);
    intents_release(&a);
    intents_release(&b);
    assert_null(a.dict);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(decay_halves_every_30_days),
        cmocka_unit_test(fields_have_their_own_offsets),
        cmocka_unit_test(sentiment_of_the_body),
        cmocka_unit_test(refcache_evicts_only_what_nobody_holds),
        cmocka_unit_test_setup_teardown(profile_adds_decays_and_takes_back, setup_world,
                                        teardown_world),
        cmocka_unit_test_setup_teardown(dictionaries_are_shared_and_counted, setup_world,
                                        teardown_world),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
