/* test_kpi.c - quantiles, parameters, and the decision-chain KPI over deals
 * written through the store. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "axon/audit.h"
#include "axon/config.h"
#include "axon/db.h"
#include "axon/events.h"
#include "axon/kpi.h"
#include "axon/log.h"
#include "axon/model.h"
#include "axon/objects.h"
#include "axon/search.h"
#include "axon/store.h"
#include "axon/tenant.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static void test_quantiles(void **state)
{
    (void)state;
    const double four[] = {1, 2, 3, 4};
    assert_true(kpi_quantile(four, 4, 0.5) == 2.5);
    assert_true(kpi_quantile(four, 4, 0.25) == 1.75);
    assert_true(kpi_quantile(four, 4, 0.75) == 3.25);
    assert_true(kpi_quantile(four, 4, 0.0) == 1);
    assert_true(kpi_quantile(four, 4, 1.0) == 4);
    const double one[] = {7};
    assert_true(kpi_quantile(one, 1, 0.5) == 7);
    assert_true(kpi_quantile(one, 1, 0.75) == 7);
    const double odd[] = {10, 20, 40, 80, 160};
    assert_true(kpi_quantile(odd, 5, 0.5) == 40);
    assert_true(kpi_quantile(odd, 5, 0.25) == 20);
    assert_true(kpi_quantile(odd, 5, 0.75) == 80);
}

static void test_parse(void **state)
{
    (void)state;
    struct kpi_query q;
    struct ax_err err;
    ax_err_clear(&err);
    assert_int_equal(kpi_parse(NULL, NULL, NULL, NULL, &q, &err), 0);
    assert_int_equal(q.group, KPI_QUARTER);
    assert_int_equal(q.compare, KPI_COMPARE_NONE);
    assert_string_equal(q.from, "");
    assert_int_equal(kpi_parse("owner", "2017-01-01", "2017-06-30", "suggestions", &q, &err), 0);
    assert_int_equal(q.group, KPI_OWNER);
    assert_int_equal(q.compare, KPI_COMPARE_SUGGESTIONS);
    assert_string_equal(q.to, "2017-06-30");
    assert_int_equal(kpi_parse(NULL, NULL, NULL, "2017-03,2017-04", &q, &err), 0);
    assert_int_equal(q.group, KPI_MONTH);
    assert_string_equal(q.a, "2017-03");
    assert_string_equal(q.b, "2017-04");
    assert_int_equal(kpi_parse("quarter", NULL, NULL, "2017Q1,2017Q2", &q, &err), 0);
    assert_int_equal(q.compare, KPI_COMPARE_PERIODS);
    const char *bad[][4] = {
        {"week", NULL, NULL, NULL},
        {NULL, "2017-02-30", NULL, NULL},
        {NULL, "2017-1-1", NULL, NULL},
        {NULL, "2017-06-02", "2017-06-01", NULL},
        {NULL, NULL, NULL, "2017Q1"},
        {NULL, NULL, NULL, "2017Q1,2017-02"},
        {NULL, NULL, NULL, "2017Q0,2017Q1"},
        {NULL, NULL, NULL, "2017-13,2017-01"},
        {"month", NULL, NULL, "2017Q1,2017Q2"},
        {NULL, NULL, NULL, "2017Q1,2017Q2,2017Q3"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ax_err_clear(&err);
        assert_int_equal(kpi_parse(bad[i][0], bad[i][1], bad[i][2], bad[i][3], &q, &err), -1);
        assert_int_equal(err.code, AX_EBADREQ);
    }
}

/* ---- over the store ---- */

static struct db *d;
static struct ax_ctx c;

static const char *create(const char *object, const char *json)
{
    static char id[ID_MAX];
    struct ax_err err;
    ax_err_clear(&err);
    json_t *in = json_loads(json, 0, NULL);
    assert_non_null(in);
    struct store_result r;
    if (store_create(d, &c, model_find(object), in, &r, &err))
        fail_msg("create %s: %s (%s)", object, err.detail,
                 err.nfields ? err.fields[0].detail : "");
    snprintf(id, sizeof id, "%s", r.id);
    store_result_free(&r);
    json_decref(in);
    return id;
}

static int db_setup(void **state)
{
    (void)state;
    struct ax_err err;
    ax_err_clear(&err);
    config_defaults(&axon_config);
    log_set_level(LOG_ERROR);
    db_set_conn_hook(search_register);
    search_init();
    audit_init();
    obj_init();
    store_init();
    event_init();
    d = db_open(":memory:", DB_CREATE, &err);
    if (!d)
        fail_msg("db_open: %s", err.detail);
    char slug[64];
    assert_int_equal(db_begin(d, &err), 0);
    assert_int_equal(tenant_create_empty(d, "KPI", "kpi", slug, &c, &err), 0);
    char ann[ID_MAX], bob[ID_MAX], cus[ID_MAX], prd[ID_MAX];
    snprintf(ann, sizeof ann, "%s", create("users", "{\"name\":\"Ann\",\"email\":\"ann@x.example\"}"));
    snprintf(bob, sizeof bob, "%s", create("users", "{\"name\":\"Bob\",\"email\":\"bob@x.example\"}"));
    snprintf(cus, sizeof cus, "%s", create("customers", "{\"name\":\"Acme\"}"));
    snprintf(prd, sizeof prd, "%s", create("products", "{\"name\":\"GTX\"}"));
    /* (owner, stage, engage, close): days 10, 20, 30, 40 in 2017Q1 (Ann,
     * Ann, Bob, Bob), 5 in 2017Q2 (Ann), one still open, one closed
     * before it was engaged (a data error: left out). */
    static const struct { int owner; const char *stage, *engage, *close; } deals[] = {
        {0, "won", "2017-01-01", "2017-01-11"},  {0, "lost", "2017-01-01", "2017-01-21"},
        {1, "won", "2017-02-01", "2017-03-03"},  {1, "lost", "2017-02-01", "2017-03-13"},
        {0, "won", "2017-04-01", "2017-04-06"},  {1, "engaging", "2017-04-01", NULL},
        {1, "won", "2017-05-10", "2017-05-01"},
    };
    for (size_t i = 0; i < sizeof deals / sizeof deals[0]; i++) {
        char json[512];
        snprintf(json, sizeof json,
                 "{\"name\":\"d%zu\",\"customer_id\":\"%s\",\"product_id\":\"%s\","
                 "\"owner_id\":\"%s\",\"stage\":\"%s\",\"engage_date\":\"%s\"%s%s%s}",
                 i, cus, prd, deals[i].owner ? bob : ann, deals[i].stage, deals[i].engage,
                 deals[i].close ? ",\"close_date\":\"" : "", deals[i].close ? deals[i].close : "",
                 deals[i].close ? "\"" : "");
        create("deals", json);
    }
    assert_int_equal(db_commit(d, &err), 0);
    return 0;
}

static int db_teardown(void **state)
{
    (void)state;
    db_close(d);
    db_set_conn_hook(NULL);
    return 0;
}

static json_t *run(const char *group, const char *from, const char *to, const char *compare)
{
    struct kpi_query q;
    struct ax_err err;
    ax_err_clear(&err);
    assert_int_equal(kpi_parse(group, from, to, compare, &q, &err), 0);
    struct buf out;
    buf_init(&out, 0);
    if (kpi_decision_chain(d, c.tenant, &q, &out, &err))
        fail_msg("kpi: %s", err.detail);
    json_t *j = json_loads(out.data, 0, NULL);
    assert_non_null(j);
    buf_free(&out);
    return j;
}

static double num(json_t *o, const char *k) { return json_number_value(json_object_get(o, k)); }
static json_int_t integer(json_t *o, const char *k) { return json_integer_value(json_object_get(o, k)); }

static void test_by_quarter(void **state)
{
    (void)state;
    json_t *j = run(NULL, NULL, NULL, NULL);
    json_t *data = json_object_get(j, "data");
    assert_int_equal(json_array_size(data), 2);
    json_t *q1 = json_array_get(data, 0), *q2 = json_array_get(data, 1);
    assert_string_equal(json_string_value(json_object_get(q1, "key")), "2017Q1");
    assert_int_equal(integer(q1, "count"), 4);
    assert_int_equal(integer(q1, "won"), 2);
    assert_int_equal(integer(q1, "lost"), 2);
    assert_true(num(q1, "median_days") == 25);
    assert_true(num(q1, "p25_days") == 17.5);
    assert_true(num(q1, "p75_days") == 32.5);
    assert_true(num(q1, "mean_days") == 25);
    assert_string_equal(json_string_value(json_object_get(q2, "key")), "2017Q2");
    assert_true(num(q2, "median_days") == 5);
    json_t *total = json_object_get(j, "total");
    assert_int_equal(integer(total, "count"), 5);
    assert_true(num(total, "median_days") == 20);
    assert_true(json_is_null(json_object_get(j, "compare")));
    json_decref(j);
}

static void test_by_owner_with_labels_and_dates(void **state)
{
    (void)state;
    json_t *j = run("owner", "2017-01-01", "2017-03-31", NULL);
    json_t *data = json_object_get(j, "data");
    assert_int_equal(json_array_size(data), 2);
    size_t i;
    json_t *g;
    json_array_foreach(data, i, g) {
        const char *label = json_string_value(json_object_get(g, "label"));
        assert_non_null(label);
        assert_true(strncmp(json_string_value(json_object_get(g, "key")), "usr_", 4) == 0);
        assert_true(num(g, "median_days") == (!strcmp(label, "Ann") ? 15 : 35));
    }
    json_decref(j);
}

static void test_compare_periods(void **state)
{
    (void)state;
    json_t *j = run(NULL, NULL, NULL, "2017Q1,2017Q2");
    json_t *cmp = json_object_get(j, "compare");
    assert_string_equal(json_string_value(json_object_get(cmp, "by")), "periods");
    assert_true(num(cmp, "ratio") == 0.2);     /* 5 / 25: Q2 decided five times faster */
    json_decref(j);
    j = run(NULL, NULL, NULL, "2016Q4,2017Q1");
    cmp = json_object_get(j, "compare");
    assert_true(json_is_null(json_object_get(cmp, "ratio")));
    assert_int_equal(integer(json_object_get(cmp, "a"), "count"), 0);
    json_decref(j);
}

int main(void)
{
    const struct CMUnitTest pure[] = {
        cmocka_unit_test(test_quantiles),
        cmocka_unit_test(test_parse),
    };
    const struct CMUnitTest db[] = {
        cmocka_unit_test(test_by_quarter),
        cmocka_unit_test(test_by_owner_with_labels_and_dates),
        cmocka_unit_test(test_compare_periods),
    };
    int failed = cmocka_run_group_tests_name("kpi", pure, NULL, NULL);
    failed += cmocka_run_group_tests_name("kpi_db", db, db_setup, db_teardown);
    return failed;
}
