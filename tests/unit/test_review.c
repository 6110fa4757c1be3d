/* test_review.c - sample sizes and seats per rule, months, and drawing a
 * month's sample from a database: reproducible, stored, tenant-bound. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "axon/audit.h"
#include "axon/config.h"
#include "axon/db.h"
#include "axon/log.h"
#include "axon/review.h"
#include "axon/search.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

/* ---- allocation ---- */

static void check_seats(const int64_t *pop, int n, const uint64_t *ties, int64_t want_size,
                        const int64_t *want)
{
    int64_t seats[16];
    assert_int_equal(review_allocate(pop, n, ties, seats), want_size);
    for (int i = 0; i < n; i++)
        assert_int_equal(seats[i], want[i]);
}

static void test_four_rules_of_fifty(void **state)
{
    (void)state;
    const int64_t pop[] = {50, 50, 50, 50};
    /* Quotas of 2.5: two each, the two seats left go by the tiebreak. */
    check_seats(pop, 4, NULL, 10, (const int64_t[]){3, 3, 2, 2});
    const uint64_t ties[] = {40, 30, 20, 10};
    check_seats(pop, 4, ties, 10, (const int64_t[]){2, 2, 3, 3});
}

static void test_largest_remainders_first(void **state)
{
    (void)state;
    /* 300 suggestions, 15 seats: quotas 7.5, 4.75, 2.75 -> 7, 4, 2 and the
     * remaining two to the 0.75 remainders, not the 0.5. */
    check_seats((const int64_t[]){150, 95, 55}, 3, NULL, 15, (const int64_t[]){7, 5, 3});
}

static void test_every_rule_gets_a_seat(void **state)
{
    (void)state;
    /* 10 seats; the small rules' quotas are 0.05: each is topped up with a
     * seat taken from the big one. */
    check_seats((const int64_t[]){197, 1, 1, 1}, 4, NULL, 10, (const int64_t[]){7, 1, 1, 1});
    /* 5% of 6 is one seat, but three rules need three. */
    check_seats((const int64_t[]){3, 2, 1}, 3, NULL, 3, (const int64_t[]){1, 1, 1});
}

static void test_five_percent_rounds_up(void **state)
{
    (void)state;
    check_seats((const int64_t[]){21}, 1, NULL, 2, (const int64_t[]){2});
    check_seats((const int64_t[]){20}, 1, NULL, 1, (const int64_t[]){1});
    check_seats((const int64_t[]){1}, 1, NULL, 1, (const int64_t[]){1});
    check_seats((const int64_t[]){1000}, 1, NULL, 50, (const int64_t[]){50});
    int64_t seats[1];
    assert_int_equal(review_allocate(NULL, 0, NULL, seats), 0);
}

/* ---- months ---- */

static void test_month_range(void **state)
{
    (void)state;
    char a[TIME_TEXT_MAX], b[TIME_TEXT_MAX];
    assert_int_equal(review_month_range("2026-12", a, b), 0);
    assert_string_equal(a, "2026-12-01T00:00:00.000Z");
    assert_string_equal(b, "2027-01-01T00:00:00.000Z");
    assert_int_equal(review_month_range("2017-02", a, b), 0);
    assert_string_equal(b, "2017-03-01T00:00:00.000Z");
    const char *bad[] = {"2026-13", "2026-00", "2026-1", "2026/11", "1999-12", "26-11", "",
                         "2026-11-01", "２０２６-11"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(review_month_range(bad[i], a, b), -1);
}

static void test_month_of(void **state)
{
    (void)state;
    char m[8];
    int64_t ms = 1773532800000LL;   /* 2026-03-15T00:00:00Z */
    review_month_of(ms, 0, m);
    assert_string_equal(m, "2026-03");
    review_month_of(ms, 1, m);
    assert_string_equal(m, "2026-02");
    review_month_of(ms, 3, m);
    assert_string_equal(m, "2025-12");
}

/* ---- drawing from a database ---- */

static struct db *open_db(void)
{
    struct ax_err err;
    ax_err_clear(&err);
    struct db *d = db_open(":memory:", DB_CREATE, &err);
    if (!d)
        fail_msg("db_open: %s", err.detail);
    /* Two tenants; tenant 1 has 30 suggestions of rule a/x and 10 of b/y in
     * November, 5 in October; tenant 2 has 3 in November. */
    assert_int_equal(db_exec(d,
        "INSERT INTO tenants(rid,id,slug,name,created_at) VALUES"
        " (1,'ten_aaaaaaaaaaaaaaaaaaaa','one','One','2026-01-01T00:00:00.000Z'),"
        " (2,'ten_bbbbbbbbbbbbbbbbbbbb','two','Two','2026-01-01T00:00:00.000Z');"
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i<48) "
        "INSERT INTO suggestions(tenant_id,id,created_at,updated_at,title,rule,status,doc) "
        "SELECT CASE WHEN i>45 THEN 2 ELSE 1 END, printf('sug_%020d', i),"
        " CASE WHEN i BETWEEN 41 AND 45 THEN '2026-10-31T23:59:59.999Z'"
        "      ELSE printf('2026-11-%02dT12:00:00.000Z', 1 + i % 30) END, 'x', 'step', "
        " CASE WHEN i <= 30 THEN 'a/x' ELSE 'b/y' END, 'open', '{}' FROM n;", &err), 0);
    return d;
}

static int db_setup(void **state)
{
    config_defaults(&axon_config);
    log_set_level(LOG_ERROR);
    db_set_conn_hook(search_register);
    audit_init();
    *state = NULL;
    return 0;
}

static int db_teardown(void **state)
{
    (void)state;
    db_set_conn_hook(NULL);
    return 0;
}

static struct ax_ctx ctx(int64_t tenant)
{
    struct ax_ctx c;
    memset(&c, 0, sizeof c);
    c.tenant = tenant;
    c.role = 1;
    c.actor_type = "test";
    snprintf(c.actor_id, sizeof c.actor_id, "usr_tester");
    c.trigger = "test";
    return c;
}

static json_t *draw(struct db *d, int64_t tenant, const char *month, bool *fresh, int want_rc)
{
    struct ax_err err;
    ax_err_clear(&err);
    struct buf out;
    buf_init(&out, 0);
    struct ax_ctx c = ctx(tenant);
    assert_int_equal(db_begin(d, &err), 0);
    int rc = review_draw(d, &c, month, fresh, &out, &err);
    if (rc != want_rc)
        fail_msg("review_draw: %d (%s)", rc, err.detail);
    if (rc == 0)
        assert_int_equal(db_commit(d, &err), 0);
    else
        db_rollback(d);
    json_t *j = rc == 0 ? json_loads(out.data, 0, NULL) : NULL;
    buf_free(&out);
    return j;
}

static void test_draw_is_reproducible_and_stored(void **state)
{
    (void)state;
    struct db *d1 = open_db(), *d2 = open_db();
    bool fresh;
    json_t *s1 = draw(d1, 1, "2026-11", &fresh, 0);
    assert_true(fresh);
    /* 40 in November: ceil(2) = 2 seats, one per rule. */
    assert_int_equal(json_integer_value(json_object_get(s1, "population")), 40);
    assert_int_equal(json_integer_value(json_object_get(s1, "size")), 2);
    json_t *ids = json_object_get(s1, "suggestion_ids");
    assert_int_equal(json_array_size(ids), 2);
    /* rule order: a/x first (ids 1..30), then b/y (31..40) */
    const char *first = json_string_value(json_array_get(ids, 0));
    const char *second = json_string_value(json_array_get(ids, 1));
    assert_true(strcmp(first, "sug_00000000000000000030") <= 0);
    assert_true(strcmp(second, "sug_00000000000000000031") >= 0 &&
                strcmp(second, "sug_00000000000000000040") <= 0);
    json_t *rules = json_object_get(s1, "rules");
    assert_string_equal(json_string_value(json_object_get(json_array_get(rules, 0), "rule")), "a/x");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(rules, 0), "population")), 30);

    /* The same data in another database draws the same sample. */
    json_t *s2 = draw(d2, 1, "2026-11", &fresh, 0);
    assert_true(json_equal(ids, json_object_get(s2, "suggestion_ids")));
    assert_string_equal(json_string_value(json_object_get(s1, "seed")),
                        json_string_value(json_object_get(s2, "seed")));

    /* Drawing again returns the stored one, even after new suggestions. */
    struct ax_err err;
    ax_err_clear(&err);
    assert_int_equal(db_exec(d1, "INSERT INTO suggestions(tenant_id,id,created_at,updated_at,"
                                 "title,rule,status,doc) VALUES(1,'sug_late','2026-11-30T00:00:00.000Z',"
                                 "'x','late','c/z','open','{}')", &err), 0);
    json_t *again = draw(d1, 1, "2026-11", &fresh, 0);
    assert_false(fresh);
    assert_true(json_equal(ids, json_object_get(again, "suggestion_ids")));
    assert_true(json_equal(json_object_get(s1, "review_ids"), json_object_get(again, "review_ids")));
    int64_t n;
    assert_int_equal(db_scalar_int(d1, "SELECT count(*) FROM reviews", &n, &err, 0), 0);
    assert_int_equal(n, 2);
    assert_int_equal(db_scalar_int(d1, "SELECT count(*) FROM audit WHERE object='review_samples'",
                                   &n, &err, 0), 0);
    assert_int_equal(n, 1);

    /* Tenant 2's November is its own: 3 suggestions of b/y, one seat. */
    json_t *other = draw(d1, 2, "2026-11", &fresh, 0);
    assert_int_equal(json_integer_value(json_object_get(other, "size")), 1);
    const char *picked = json_string_value(json_array_get(json_object_get(other, "suggestion_ids"), 0));
    assert_true(strcmp(picked, "sug_00000000000000000046") >= 0 &&
                strcmp(picked, "sug_00000000000000000048") <= 0);
    /* No suggestions in a month: nothing is stored. */
    assert_null(draw(d1, 1, "2026-09", &fresh, -1));
    json_decref(s1);
    json_decref(s2);
    json_decref(again);
    json_decref(other);
    db_close(d1);
    db_close(d2);
}

static void test_last_months_samples_are_drawn_once(void **state)
{
    (void)state;
    struct db *d = open_db();
    struct ax_err err;
    ax_err_clear(&err);
    int64_t december = 1796428800000LL;     /* 2026-12-05T00:00:00Z */
    assert_int_equal(db_begin(d, &err), 0);
    assert_int_equal(review_draw_missing(d, december, &err), 2);   /* both tenants */
    assert_int_equal(review_draw_missing(d, december, &err), 0);
    assert_int_equal(db_commit(d, &err), 0);
    int64_t n;
    assert_int_equal(db_scalar_int(d, "SELECT count(*) FROM review_samples WHERE month='2026-11'",
                                   &n, &err, 0), 0);
    assert_int_equal(n, 2);
    /* In November, October's five are last month's: tenant 1 only. */
    assert_int_equal(db_begin(d, &err), 0);
    assert_int_equal(review_draw_missing(d, 1795046400000LL, &err), 1);   /* 2026-11-19 */
    assert_int_equal(db_commit(d, &err), 0);
    assert_int_equal(db_scalar_int(d, "SELECT size FROM review_samples WHERE month='2026-10'",
                                   &n, &err, 0), 0);
    assert_int_equal(n, 1);
    db_close(d);
}

int main(void)
{
    const struct CMUnitTest pure[] = {
        cmocka_unit_test(test_four_rules_of_fifty),
        cmocka_unit_test(test_largest_remainders_first),
        cmocka_unit_test(test_every_rule_gets_a_seat),
        cmocka_unit_test(test_five_percent_rounds_up),
        cmocka_unit_test(test_month_range),
        cmocka_unit_test(test_month_of),
    };
    const struct CMUnitTest db[] = {
        cmocka_unit_test(test_draw_is_reproducible_and_stored),
        cmocka_unit_test(test_last_months_samples_are_drawn_once),
    };
    int failed = cmocka_run_group_tests_name("review", pure, NULL, NULL);
    failed += cmocka_run_group_tests_name("review_db", db, db_setup, db_teardown);
    return failed;
}
