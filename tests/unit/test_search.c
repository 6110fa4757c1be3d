/* test_search.c - the "axon" tokenizer, MATCH expressions and search_query. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "axon/config.h"
#include "axon/db.h"
#include "axon/log.h"
#include "axon/search.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- raw FTS5 table, as in schema/0001 ---- */

static sqlite3 *raw_open(void)
{
    sqlite3 *h = NULL;
    assert_int_equal(sqlite3_open(":memory:", &h), SQLITE_OK);
    assert_int_equal(search_register(h), 0);
    assert_int_equal(sqlite3_exec(h,
        "CREATE VIRTUAL TABLE search_index USING fts5("
        "    scope UNINDEXED, title, body, tokenize = 'axon'"
        ");", NULL, NULL, NULL), SQLITE_OK);
    return h;
}

static void raw_put(sqlite3 *h, int64_t rowid, int64_t tenant, const char *title,
                    const char *body)
{
    sqlite3_stmt *st;
    char scope[32];
    snprintf(scope, sizeof scope, "t%lld", (long long)tenant);
    assert_int_equal(sqlite3_prepare_v2(h,
        "INSERT INTO search_index(rowid, scope, title, body) VALUES(?,?,?,?)",
        -1, &st, NULL), SQLITE_OK);
    sqlite3_bind_int64(st, 1, rowid);
    sqlite3_bind_text(st, 2, scope, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, title, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, body, -1, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);
}

/* Bit i set when rowid i matched; -1 when the query had no expression.
 * Any SQLite error fails the test. */
static int raw_match(sqlite3 *h, const char *q, int64_t tenant)
{
    char *expr = search_match_expr(q);
    if (!expr)
        return -1;
    sqlite3_stmt *st;
    char scope[32];
    snprintf(scope, sizeof scope, "t%lld", (long long)tenant);
    assert_int_equal(sqlite3_prepare_v2(h,
        "SELECT rowid FROM search_index WHERE search_index MATCH ? AND scope = ?", -1, &st,
        NULL), SQLITE_OK);
    sqlite3_bind_text(st, 1, expr, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, scope, -1, SQLITE_STATIC);
    int rc, found = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        found |= 1 << sqlite3_column_int(st, 0);
    if (rc != SQLITE_DONE)
        fail_msg("query %s (expr %s) failed: %s", q, expr, sqlite3_errmsg(h));
    sqlite3_finalize(st);
    free(expr);
    return found;
}

static json_t *raw_snippet(sqlite3 *h, const char *q, int64_t rowid)
{
    char *expr = search_match_expr(q);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(h,
        "SELECT axon_snippet(search_index) FROM search_index "
        "WHERE search_index MATCH ? AND rowid = ?", -1, &st, NULL), SQLITE_OK);
    sqlite3_bind_text(st, 1, expr, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, rowid);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    json_t *j = json_loads((const char *)sqlite3_column_text(st, 0), 0, NULL);
    assert_non_null(j);
    sqlite3_finalize(st);
    free(expr);
    return j;
}

/* "text[hit]text" from a segment array. */
static char *flatten(json_t *segs)
{
    static char out[1024];
    size_t i, n = 0;
    json_t *s;
    out[0] = '\0';
    json_array_foreach(segs, i, s) {
        bool hit = json_is_true(json_object_get(s, "hit"));
        n += (size_t)snprintf(out + n, sizeof out - n, hit ? "[%s]" : "%s",
                              json_string_value(json_object_get(s, "text")));
    }
    return out;
}

static int raw_setup(void **state)
{
    sqlite3 *h = raw_open();
    raw_put(h, 1, 1, "好评", "骑手送餐很快，好评");
    raw_put(h, 2, 1, "", "送了一份餐");
    raw_put(h, 3, 1, "Refunds are slow", "customer asked twice");
    raw_put(h, 4, 1, "", "外卖送餐");
    raw_put(h, 5, 1, "", "外卖很快送");
    raw_put(h, 6, 2, "Refunds for tenant two", "骑手送餐很快，好评");
    raw_put(h, 7, 1, "École Straße", "Ｉｐｈｏｎｅ 手机 안녕하세요");
    *state = h;
    return 0;
}

static int raw_teardown(void **state)
{
    sqlite3_close(*state);
    return 0;
}

#define B(i) (1 << (i))

static void test_cjk_bigram(void **state)
{
    int m = raw_match(*state, "送餐", 1);
    assert_true(m & B(1));
    assert_false(m & B(2));     /* 送 and 餐 apart are not the word 送餐 */
    assert_true(m & B(4));
}

static void test_cjk_single_char_prefix(void **state)
{
    int m = raw_match(*state, "送", 1);
    assert_true(m & B(1));
    assert_true(m & B(2));
    assert_true(m & B(5));      /* 送 as the last character of a run */
    assert_true(raw_match(*state, "评", 1) & B(1));
}

static void test_cjk_three_chars(void **state)
{
    int m = raw_match(*state, "外卖送", 1);
    assert_true(m & B(4));
    assert_false(m & B(5));
}

static void test_latin_prefix_and_fold(void **state)
{
    assert_true(raw_match(*state, "refund", 1) & B(3));
    assert_true(raw_match(*state, "REF", 1) & B(3));
    assert_true(raw_match(*state, "ＲＥＦＵＮＤ", 1) & B(3));
    assert_true(raw_match(*state, "ÉCOLE", 1) & B(7));
    assert_true(raw_match(*state, "strasse", 1) & B(7));
    assert_true(raw_match(*state, "iphone", 1) & B(7));
    assert_true(raw_match(*state, "안녕", 1) & B(7));
    assert_true(raw_match(*state, "iPhone手机", 1) & B(7));
}

static void test_terms_are_anded(void **state)
{
    assert_true(raw_match(*state, "refunds twice", 1) & B(3));
    assert_int_equal(raw_match(*state, "refunds 送餐", 1), 0);
}

static void test_tenant_scope(void **state)
{
    int m = raw_match(*state, "送餐", 1);
    assert_false(m & B(6));
    m = raw_match(*state, "refunds", 1);
    assert_false(m & B(6));
    assert_int_equal(raw_match(*state, "refunds", 2), B(6));
    /* The tenant column is never searched by user terms. */
    assert_int_equal(raw_match(*state, "t2", 1), 0);
    assert_int_equal(raw_match(*state, "t1", 1), 0);
}

static void test_hostile_input(void **state)
{
    static const char *const inputs[] = {
        "\") OR scope:* NEAR(", "\"", "*", "", "   ", "^", "-", "a:b", "NEAR(a b, 2)",
        "title:refund", "{scope}: t2", "refund OR t2", "(((", "\"\"\"送\"", "AND", "NOT x",
        "\xff\xfe", "re\xc3" "fund", "\xe9\x80", "a\x01b", "+", "送*餐", NULL,
    };
    for (int i = 0; inputs[i]; i++) {
        int m = raw_match(*state, inputs[i], 1);
        assert_true(m == -1 || !(m & B(6)));
    }
    assert_null(search_match_expr(""));
    assert_null(search_match_expr("\""));
    assert_null(search_match_expr("*"));
    assert_null(search_match_expr(" ,.;()\"*"));
    assert_null(search_match_expr(NULL));
    char *e = search_match_expr("a\"b");
    assert_non_null(e);
    assert_string_equal(e, "{title body}:(\"a\" * AND \"b\" *)");
    free(e);
}

static void test_expression_shape(void **state)
{
    (void)state;
    char *e = search_match_expr("外卖送 送 Refund");
    assert_string_equal(e, "{title body}:"
                           "(\"外卖送\" AND \"送\" * AND \"Refund\" *)");
    free(e);
}

static void test_long_input(void **state)
{
    /* 40 KB of words: at most 32 terms, and still a valid query. */
    size_t n = 40000;
    char *q = malloc(n + 1);
    for (size_t i = 0; i < n; i++)
        q[i] = i % 3 == 2 ? ' ' : 'a' + (char)(i % 26);
    q[n] = '\0';
    char *e = search_match_expr(q);
    assert_non_null(e);
    int terms = 0;
    for (const char *p = e; (p = strstr(p, " *")); p++)
        terms++;
    assert_true(terms > 0 && terms <= 32);
    free(e);
    raw_match(*state, q, 1);
    /* A CJK run cut at the byte cap must not split a character. */
    for (size_t i = 0; i + 3 <= n; i += 3)
        memcpy(q + i, "送", 3);
    q[n - n % 3] = '\0';
    e = search_match_expr(q);
    assert_non_null(e);
    free(e);
    raw_match(*state, q, 1);
    free(q);
}

static void test_invalid_utf8_document(void **state)
{
    sqlite3 *h = *state;
    raw_put(h, 8, 1, "\xff\xfe", "bad \xc3 bytes \xe9\x80 送\xff餐 \xf0\x9f tail");
    assert_true(raw_match(h, "tail", 1) & B(8));
    assert_true(raw_match(h, "bytes", 1) & B(8));
    json_t *j = raw_snippet(h, "tail", 8);     /* still valid UTF-8 JSON */
    assert_non_null(strstr(flatten(j), "[tail]"));
    json_decref(j);
}

static void test_long_word(void **state)
{
    sqlite3 *h = *state;
    char word[301];
    memset(word, 'x', 300);
    word[300] = '\0';
    raw_put(h, 9, 1, word, "");
    assert_true(raw_match(h, word, 1) & B(9));
    assert_true(raw_match(h, "xxxx", 1) & B(9));
    json_t *j = raw_snippet(h, "xxxx", 9);     /* one huge word: cut, not empty */
    assert_true(strlen(flatten(j)) > 80);
    json_decref(j);
}

/* ---- snippets ---- */

static void test_snippet_segments(void **state)
{
    sqlite3 *h = *state;
    json_t *j = raw_snippet(h, "送餐", 1);
    assert_string_equal(flatten(j), "骑手[送餐]很快，好评");
    json_decref(j);
    j = raw_snippet(h, "外卖送", 4);
    assert_string_equal(flatten(j), "[外卖送]餐");
    json_decref(j);
    j = raw_snippet(h, "REFUND", 3);       /* title hit, body has none */
    assert_string_equal(flatten(j), "[Refunds] are slow");
    json_decref(j);
}

static void test_snippet_overlaps(void **state)
{
    sqlite3 *h = *state;
    raw_put(h, 10, 1, "", "哈哈哈 ok 哈哈");
    json_t *j = raw_snippet(h, "哈哈", 10);
    assert_string_equal(flatten(j), "[哈哈哈] ok [哈哈]");
    json_decref(j);
}

static void test_snippet_window(void **state)
{
    sqlite3 *h = *state;
    char body[2048] = "";
    for (int i = 0; i < 40; i++)
        strcat(body, "filler words ");
    strcat(body, "the needle is here ");
    for (int i = 0; i < 40; i++)
        strcat(body, "more padding ");
    raw_put(h, 11, 1, "", body);
    json_t *j = raw_snippet(h, "needle", 11);
    const char *flat = flatten(j);
    assert_non_null(strstr(flat, "[needle]"));
    assert_true(strncmp(flat, "…", strlen("…")) == 0);
    assert_true(strlen(flat) < 200);
    json_decref(j);
}

/* ---- search_put / search_query through a real database ---- */

static const char *const seed_sql =
    "INSERT INTO tenants(rid, id, slug, name, created_at) VALUES"
    " (1, 'ten_a', 'a', 'A', '2024-01-01T00:00:00Z'),"
    " (2, 'ten_b', 'b', 'B', '2024-01-01T00:00:00Z');"
    "INSERT INTO activities(rid, tenant_id, id, created_at, updated_at, kind, subject, body,"
    " occurred_at, doc) VALUES"
    " (1, 1, 'act_1', 'x', 'x', 'note', '送餐评价', '骑手送餐很快，好评', 'x',"
    "  '{\"id\":\"act_1\",\"object\":\"activity\",\"subject\":\"送餐评价\"}'),"
    " (2, 1, 'act_2', 'x', 'x', 'note', NULL, '送了一份餐', 'x',"
    "  '{\"id\":\"act_2\",\"object\":\"activity\",\"subject\":null}'),"
    " (3, 2, 'act_3', 'x', 'x', 'note', 'other', '骑手送餐很快', 'x',"
    "  '{\"id\":\"act_3\",\"object\":\"activity\"}');"
    "INSERT INTO customers(rid, tenant_id, id, created_at, updated_at, name, kind, revenue, doc)"
    " VALUES (1, 1, 'cus_1', 'x', 'x', 'Refund Foods', 'company', 12.5,"
    "  '{\"id\":\"cus_1\",\"object\":\"customer\",\"name\":\"Refund Foods\",\"revenue\":12.5}');";

static int db_setup(void **state)
{
    struct ax_err err;
    ax_err_clear(&err);
    config_defaults(&axon_config);
    log_set_level(LOG_ERROR);
    db_set_conn_hook(search_register);
    struct db *d = db_open(":memory:", DB_CREATE, &err);
    if (!d)
        fail_msg("db_open: %s", err.detail);
    assert_int_equal(db_exec(d, seed_sql, &err), 0);
    const struct object_def *act = model_find("activities");
    const struct object_def *cus = model_find("customers");
    assert_int_equal(search_put(d, 1, act, 1, "送餐评价", "骑手送餐很快，好评", &err), 0);
    assert_int_equal(search_put(d, 1, act, 2, "", "送了一份餐", &err), 0);
    assert_int_equal(search_put(d, 2, act, 3, "other", "骑手送餐很快", &err), 0);
    assert_int_equal(search_put(d, 1, cus, 1, "Refund Foods", "foods@example.com", &err), 0);
    /* An index row whose record is gone is skipped, not an error. */
    assert_int_equal(search_put(d, 1, act, 99, "", "送餐 ghost", &err), 0);
    *state = d;
    return 0;
}

static int db_teardown(void **state)
{
    db_close(*state);
    db_set_conn_hook(NULL);
    return 0;
}

static json_t *query(struct db *d, int64_t tenant, int role, const char *q, const char *types,
                     int limit)
{
    struct buf out;
    struct ax_err err;
    buf_init(&out, 0);
    ax_err_clear(&err);
    if (search_query(d, tenant, role, q, types, limit, &out, &err))
        fail_msg("search_query(%s): %s", q, err.detail);
    json_error_t jerr;
    json_t *j = json_loads(out.data, 0, &jerr);
    if (!j)
        fail_msg("bad JSON (%s): %s", jerr.text, out.data);
    buf_free(&out);
    assert_string_equal(json_string_value(json_object_get(j, "query")), q);
    return j;
}

static json_t *hit(json_t *j, size_t i) { return json_array_get(json_object_get(j, "data"), i); }
static size_t nhits(json_t *j) { return json_array_size(json_object_get(j, "data")); }
static const char *str(json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static void test_query_hits(void **state)
{
    json_t *j = query(*state, 1, ROLE_SALES, "送餐", NULL, 10);
    assert_int_equal(nhits(j), 1);
    json_t *h = hit(j, 0);
    assert_string_equal(str(h, "object"), "activity");
    assert_string_equal(str(h, "id"), "act_1");
    assert_string_equal(str(h, "title"), "送餐评价");
    assert_true(json_real_value(json_object_get(h, "score")) > 0 ||
                json_integer_value(json_object_get(h, "score")) > 0);
    assert_string_equal(str(json_object_get(h, "record"), "id"), "act_1");
    assert_string_equal(flatten(json_object_get(h, "snippet")), "骑手[送餐]很快，好评");
    json_decref(j);

    j = query(*state, 1, ROLE_SALES, "送", NULL, 10);
    assert_int_equal(nhits(j), 2);
    assert_true(json_is_null(json_object_get(hit(j, 0), "title")) ||
                json_is_null(json_object_get(hit(j, 1), "title")));
    json_decref(j);
}

/* One-character prefixes mark only that character, not the bigram. */
static void test_query_single_char_snippet(void **state)
{
    json_t *j = query(*state, 1, ROLE_SALES, "骑 很", NULL, 10);
    assert_int_equal(nhits(j), 1);
    assert_string_equal(flatten(json_object_get(hit(j, 0), "snippet")), "[骑]手送餐[很]快，好评");
    json_decref(j);
    j = query(*state, 1, ROLE_SALES, "送 餐", "activities", 10);
    assert_int_equal(nhits(j), 2);
    for (size_t i = 0; i < 2; i++) {
        const char *flat = flatten(json_object_get(hit(j, i), "snippet"));
        if (strcmp(flat, "骑手[送餐]很快，好评") != 0)
            assert_string_equal(flat, "[送]了一份[餐]");
    }
    json_decref(j);
}

static void test_query_ranks_title_higher(void **state)
{
    /* act_1 has 送餐 in its title and body; it outranks a body-only hit. */
    json_t *j = query(*state, 1, ROLE_SALES, "送", NULL, 10);
    assert_string_equal(str(hit(j, 0), "id"), "act_1");
    double s0 = json_number_value(json_object_get(hit(j, 0), "score"));
    double s1 = json_number_value(json_object_get(hit(j, 1), "score"));
    assert_true(s0 >= s1);
    json_decref(j);
}

static void test_query_tenant_isolation(void **state)
{
    json_t *j = query(*state, 2, ROLE_SALES, "送餐", NULL, 10);
    assert_int_equal(nhits(j), 1);
    assert_string_equal(str(hit(j, 0), "id"), "act_3");
    json_decref(j);
    j = query(*state, 3, ROLE_SALES, "送餐", NULL, 10);
    assert_int_equal(nhits(j), 0);
    json_decref(j);
}

static void test_query_types_and_limit(void **state)
{
    json_t *j = query(*state, 1, ROLE_SALES, "refund", "customers", 10);
    assert_int_equal(nhits(j), 1);
    assert_string_equal(str(hit(j, 0), "object"), "customer");
    json_decref(j);
    j = query(*state, 1, ROLE_SALES, "送", " tickets , customers ", 10);
    assert_int_equal(nhits(j), 0);
    json_decref(j);
    j = query(*state, 1, ROLE_SALES, "送", "activities", 1);
    assert_int_equal(nhits(j), 1);
    json_decref(j);

    struct buf out;
    struct ax_err err;
    buf_init(&out, 0);
    ax_err_clear(&err);
    assert_int_equal(search_query(*state, 1, ROLE_SALES, "x", "deals", 10, &out, &err), -1);
    assert_int_equal(err.code, AX_EBADREQ);
    assert_non_null(strstr(err.detail, "deals"));
    assert_int_equal(search_query(*state, 1, ROLE_SALES, "x", "tickets,bogus", 10, &out, &err), -1);
    assert_int_equal(search_query(*state, 1, ROLE_SALES, "x", NULL, 0, &out, &err), -1);
    assert_int_equal(search_query(*state, 1, ROLE_SALES, "x", NULL, 51, &out, &err), -1);
    assert_int_equal(search_query(*state, 1, ROLE_SALES, "\xff", NULL, 5, &out, &err), -1);
    assert_int_equal(out.len, 0);
    buf_free(&out);
}

static void test_query_masks_record(void **state)
{
    json_t *j = query(*state, 1, ROLE_SERVICE, "refund", NULL, 10);
    assert_int_equal(nhits(j), 1);
    json_t *rec = json_object_get(hit(j, 0), "record");
    assert_null(json_object_get(rec, "revenue"));
    assert_string_equal(str(hit(j, 0), "title"), "Refund Foods");
    json_decref(j);
    j = query(*state, 1, ROLE_ADMIN, "refund", NULL, 10);
    assert_non_null(json_object_get(json_object_get(hit(j, 0), "record"), "revenue"));
    json_decref(j);
}

static void test_query_no_terms(void **state)
{
    static const char *const qs[] = {"", "\"", "*", ") OR scope:* NEAR(", NULL};
    for (int i = 0; qs[i]; i++) {
        json_t *j = query(*state, 1, ROLE_SALES, qs[i], NULL, 10);
        if (i < 3)
            assert_int_equal(nhits(j), 0);
        json_decref(j);
    }
}

static void test_put_replaces_and_remove(void **state)
{
    struct db *d = *state;
    struct ax_err err;
    ax_err_clear(&err);
    const struct object_def *act = model_find("activities");
    assert_int_equal(search_put(d, 1, act, 2, "", "快递延误", &err), 0);
    json_t *j = query(d, 1, ROLE_SALES, "送", NULL, 10);
    assert_int_equal(nhits(j), 1);
    json_decref(j);
    j = query(d, 1, ROLE_SALES, "延误", NULL, 10);
    assert_int_equal(nhits(j), 1);
    assert_string_equal(str(hit(j, 0), "id"), "act_2");
    json_decref(j);
    int64_t rows = 0;
    assert_int_equal(db_scalar_int(d, "SELECT count(*) FROM search_index WHERE rowid = 2 * 16 + 6",
                                   &rows, &err, 0), 0);
    assert_int_equal(rows, 1);
    assert_int_equal(search_remove(d, act, 2, &err), 0);
    j = query(d, 1, ROLE_SALES, "延误", NULL, 10);
    assert_int_equal(nhits(j), 0);
    json_decref(j);
}

int main(void)
{
    const struct CMUnitTest raw[] = {
        cmocka_unit_test(test_cjk_bigram),
        cmocka_unit_test(test_cjk_single_char_prefix),
        cmocka_unit_test(test_cjk_three_chars),
        cmocka_unit_test(test_latin_prefix_and_fold),
        cmocka_unit_test(test_terms_are_anded),
        cmocka_unit_test(test_tenant_scope),
        cmocka_unit_test(test_hostile_input),
        cmocka_unit_test(test_expression_shape),
        cmocka_unit_test(test_long_input),
        cmocka_unit_test(test_invalid_utf8_document),
        cmocka_unit_test(test_long_word),
        cmocka_unit_test(test_snippet_segments),
        cmocka_unit_test(test_snippet_overlaps),
        cmocka_unit_test(test_snippet_window),
    };
    const struct CMUnitTest db[] = {
        cmocka_unit_test(test_query_hits),
        cmocka_unit_test(test_query_single_char_snippet),
        cmocka_unit_test(test_query_ranks_title_higher),
        cmocka_unit_test(test_query_tenant_isolation),
        cmocka_unit_test(test_query_types_and_limit),
        cmocka_unit_test(test_query_masks_record),
        cmocka_unit_test(test_query_no_terms),
        cmocka_unit_test(test_put_replaces_and_remove),
    };
    int failed = cmocka_run_group_tests_name("search_raw", raw, raw_setup, raw_teardown);
    failed += cmocka_run_group_tests_name("search_db", db, db_setup, db_teardown);
    return failed;
}
