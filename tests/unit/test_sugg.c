/* test_sugg.c - a suggestion's lifecycle through the store, expiry, and
 * retiring the rule that makes them. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "axon/audit.h"
#include "axon/config.h"
#include "axon/db.h"
#include "axon/events.h"
#include "axon/log.h"
#include "axon/model.h"
#include "axon/objects.h"
#include "axon/search.h"
#include "axon/store.h"
#include "axon/sugg.h"
#include "axon/tenant.h"
#include "axon/timefmt.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

static struct db *d;
static struct ax_ctx c;
static char user[ID_MAX];

static int setup(void **state)
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
    assert_int_equal(tenant_create_empty(d, "Sugg", "sugg", slug, &c, &err), 0);
    /* The user deciding (and, by default, owning what she creates). */
    json_t *in = json_pack("{s:s,s:s}", "name", "Someone", "email", "someone@x.example");
    struct store_result r;
    assert_int_equal(store_create(d, &c, model_find("users"), in, &r, &err), 0);
    snprintf(user, sizeof user, "%s", r.id);
    snprintf(c.user_id, sizeof c.user_id, "%s", r.id);
    store_result_free(&r);
    json_decref(in);
    assert_int_equal(db_commit(d, &err), 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    db_close(d);
    db_set_conn_hook(NULL);
    return 0;
}

/* A new suggestion's id; extra is more JSON members (may be ""). */
static const char *suggestion(const char *extra, struct ax_err *err)
{
    static char id[ID_MAX];
    char json[512];
    snprintf(json, sizeof json, "{\"title\":\"call back\",\"rule\":\"p/r\"%s}", extra);
    json_t *in = json_loads(json, 0, NULL);
    struct store_result r;
    int rc = store_create(d, &c, model_find("suggestions"), in, &r, err);
    json_decref(in);
    snprintf(id, sizeof id, "%s", rc ? "" : r.id);
    store_result_free(&r);
    return rc ? NULL : id;
}

static json_t *decide(const char *id, enum sugg_outcome o, const char *note, int64_t if_version,
                      struct ax_err *err)
{
    struct store_result r;
    ax_err_clear(err);
    if (sugg_decide(d, &c, id, o, note, if_version, &r, err))
        return NULL;
    json_t *j = json_loads(r.doc, 0, NULL);
    store_result_free(&r);
    return j;
}

static const char *s(json_t *o, const char *k) { return json_string_value(json_object_get(o, k)); }

static void test_lifecycle(void **state)
{
    (void)state;
    struct ax_err err;
    ax_err_clear(&err);
    assert_int_equal(db_begin(d, &err), 0);
    char a[ID_MAX], b[ID_MAX], x[ID_MAX];
    snprintf(a, sizeof a, "%s", suggestion("", &err));
    snprintf(b, sizeof b, "%s", suggestion("", &err));
    snprintf(x, sizeof x, "%s", suggestion("", &err));

    assert_null(decide(a, SUGG_ACCEPT, NULL, 5, &err));
    assert_int_equal(err.code, AX_EPRECOND);
    json_t *j = decide(a, SUGG_ACCEPT, NULL, 1, &err);
    assert_non_null(j);
    assert_string_equal(s(j, "status"), "accepted");
    assert_string_equal(s(j, "decided_by"), user);
    assert_non_null(s(j, "accepted_at"));
    char accepted_at[TIME_TEXT_MAX];
    snprintf(accepted_at, sizeof accepted_at, "%s", s(j, "accepted_at"));
    json_decref(j);
    assert_null(decide(a, SUGG_DISMISS, "no", -1, &err));
    assert_string_equal(err.type, "decided");
    j = decide(a, SUGG_COMPLETE, "done", -1, &err);
    assert_string_equal(s(j, "status"), "completed");
    assert_string_equal(s(j, "accepted_at"), accepted_at);
    assert_non_null(s(j, "completed_at"));
    assert_string_equal(s(j, "status_reason"), "done");
    json_decref(j);

    /* dismissing needs a reason */
    assert_null(decide(b, SUGG_DISMISS, NULL, -1, &err));
    assert_string_equal(err.fields[0].pointer, "/status_reason");
    j = decide(b, SUGG_DISMISS, "has a quote already", -1, &err);
    assert_string_equal(s(j, "status"), "dismissed");
    assert_true(json_is_null(json_object_get(j, "accepted_at")));
    json_decref(j);
    assert_null(decide(b, SUGG_COMPLETE, NULL, -1, &err));
    assert_string_equal(err.type, "decided");

    /* completing an open one accepts it too */
    j = decide(x, SUGG_COMPLETE, NULL, -1, &err);
    assert_string_equal(s(j, "accepted_at"), s(j, "completed_at"));
    assert_string_equal(s(j, "decided_by"), user);
    json_decref(j);

    /* another tenant's is missing */
    struct ax_ctx other = c;
    other.tenant = c.tenant + 1;
    struct store_result r;
    ax_err_clear(&err);
    assert_int_equal(sugg_decide(d, &other, a, SUGG_ACCEPT, NULL, -1, &r, &err), -1);
    assert_int_equal(err.code, AX_ENOTFOUND);
    /* a new suggestion is open */
    ax_err_clear(&err);
    assert_null(suggestion(",\"status\":\"accepted\"", &err));
    assert_string_equal(err.fields[0].pointer, "/status");
    assert_int_equal(db_commit(d, &err), 0);
}

static void test_expiry(void **state)
{
    (void)state;
    struct ax_err err;
    ax_err_clear(&err);
    assert_int_equal(db_begin(d, &err), 0);
    char due[ID_MAX], later[ID_MAX];
    snprintf(due, sizeof due, "%s", suggestion(",\"expires_at\":\"2026-01-01T00:00:00Z\"", &err));
    snprintf(later, sizeof later, "%s", suggestion(",\"expires_at\":\"2099-01-01T00:00:00Z\"", &err));
    int64_t now;
    time_parse("2026-06-01T00:00:00Z", DATE_YMD, &now, NULL);
    /* deciding it after its time is refused */
    assert_null(decide(due, SUGG_ACCEPT, NULL, -1, &err));
    assert_string_equal(err.type, "expired");
    ax_err_clear(&err);
    assert_int_equal(sugg_expire_due(d, now, 64, &err), 1);
    assert_int_equal(sugg_expire_due(d, now, 64, &err), 0);
    struct store_result r;
    assert_int_equal(store_get(d, &c, model_find("suggestions"), due, &r, &err), 0);
    assert_non_null(strstr(r.doc, "\"status\":\"expired\""));
    store_result_free(&r);
    assert_int_equal(store_get(d, &c, model_find("suggestions"), later, &r, &err), 0);
    assert_non_null(strstr(r.doc, "\"status\":\"open\""));
    store_result_free(&r);
    assert_int_equal(db_commit(d, &err), 0);
}

static void test_retired_rules(void **state)
{
    (void)state;
    struct ax_err err;
    ax_err_clear(&err);
    struct buf out;
    buf_init(&out, 0);
    assert_int_equal(db_begin(d, &err), 0);
    assert_int_equal(sugg_rule_retired(d, c.tenant, "p/r", &err), 0);
    assert_int_equal(sugg_rule_retire(d, &c, "p/never", "x", &out, &err), -1);
    assert_int_equal(err.code, AX_ENOTFOUND);
    ax_err_clear(&err);
    assert_int_equal(sugg_rule_retire(d, &c, "p/r", "no value", &out, &err), 0);
    json_t *rule = json_loads(out.data, 0, NULL);
    assert_string_equal(s(rule, "status"), "retired");
    assert_string_equal(s(rule, "reason"), "no value");
    json_decref(rule);
    assert_int_equal(sugg_rule_retired(d, c.tenant, "p/r", &err), 1);
    assert_int_equal(sugg_rule_retired(d, c.tenant + 1, "p/r", &err), 0);
    assert_int_equal(sugg_rule_retire(d, &c, "p/r", "again", &out, &err), -1);
    assert_string_equal(err.type, "rule-retired");
    ax_err_clear(&err);
    assert_null(suggestion("", &err));
    assert_string_equal(err.type, "rule-retired");
    buf_reset(&out);
    ax_err_clear(&err);
    assert_int_equal(sugg_rules_list(d, c.tenant, &out, &err), 0);
    json_t *list = json_loads(out.data, 0, NULL);
    json_t *first = json_array_get(json_object_get(list, "data"), 0);
    assert_string_equal(s(first, "rule"), "p/r");
    assert_string_equal(s(first, "status"), "retired");
    assert_int_equal(json_integer_value(json_object_get(first, "volume")), 5);
    json_decref(list);
    buf_free(&out);
    assert_int_equal(db_commit(d, &err), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lifecycle),
        cmocka_unit_test(test_expiry),
        cmocka_unit_test(test_retired_rules),
    };
    return cmocka_run_group_tests_name("sugg", tests, setup, teardown);
}
