/* test_jx.c - jx_dump writes what jansson's compact dump writes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "axon/jx.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void same_as_jansson(const char *text)
{
    json_t *v = json_loads(text, JSON_DECODE_ANY, NULL);
    assert_non_null(v);
    char *mine = jx_dumps(v, JX_SORT_KEYS);
    char *theirs = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    assert_non_null(mine);
    assert_string_equal(mine, theirs);
    free(mine);
    free(theirs);
    json_decref(v);
}

static void test_scalars_and_nesting(void **state)
{
    (void)state;
    same_as_jansson("0");
    same_as_jansson("-1");
    same_as_jansson("9223372036854775807");
    same_as_jansson("-9223372036854775808");
    same_as_jansson("12.5");
    same_as_jansson("0.1");
    same_as_jansson("\"tab\\there \\\"q\\\" \\u0001 caf\\u00e9\"");
    same_as_jansson("[null,true,false,[],{}]");
    same_as_jansson("{\"z\":1,\"a\":[null,\"x\"],\"m\":{\"b\":2,\"a\":-3}}");
}

/* More members than the stack array holds; keys sorted by byte value. */
static void test_many_keys_sorted(void **state)
{
    (void)state;
    json_t *o = json_object();
    char key[16];
    for (int i = 99; i >= 0; i--) {
        snprintf(key, sizeof key, "k%02d", i);
        json_object_set_new(o, key, json_integer(i * 1000 - 50000));
    }
    char *s = jx_dumps(o, JX_SORT_KEYS);
    assert_non_null(s);
    assert_memory_equal(s, "{\"k00\":-50000,\"k01\":-49000,", 27);
    assert_non_null(strstr(s, "\"k99\":49000}"));
    char *theirs = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(s, theirs);
    free(theirs);
    free(s);
    /* Insertion order without the flag. */
    s = jx_dumps(o, 0);
    assert_memory_equal(s, "{\"k99\":49000,", 13);
    free(s);
    json_decref(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scalars_and_nesting),
        cmocka_unit_test(test_many_keys_sorted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
