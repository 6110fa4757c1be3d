/* test_ids.c - typed ids: syntax, uniqueness, creation order. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "axon/ids.h"

#include <string.h>
#include <time.h>

static void test_shape_and_valid(void **state)
{
    (void)state;
    char id[ID_MAX];
    id_new("cus", id);
    assert_int_equal(strlen(id), 4 + ID_RANDOM_LEN);
    assert_memory_equal(id, "cus_", 4);
    assert_true(id_valid("cus", id));
    assert_false(id_valid("deal", id));
    id[5] = 'u';                      /* not in Crockford's alphabet */
    assert_false(id_valid("cus", id));
    /* Ids made before the time prefix stay valid. */
    assert_true(id_valid("cus", "cus_zzzzzzzzzzzzzzzzzzzz"));
}

/* Ids made later sort after earlier ones (index locality), and ids of the
 * same millisecond still differ in their random part. */
static void test_ordered_and_distinct(void **state)
{
    (void)state;
    char a[ID_MAX], b[ID_MAX];
    id_new("cus", a);
    struct timespec pause = {0, 3 * 1000 * 1000};
    nanosleep(&pause, NULL);
    id_new("cus", b);
    assert_true(strcmp(a, b) < 0);
    char prev[ID_MAX];
    id_new("cus", prev);
    for (int i = 0; i < 1000; i++) {
        char next[ID_MAX];
        id_new("cus", next);
        assert_true(strcmp(prev, next) != 0);
        /* the time part never goes back */
        assert_true(memcmp(prev + 4, next + 4, ID_TIME_LEN) <= 0);
        memcpy(prev, next, sizeof prev);
    }
}

/* The time prefix is the current time in ms, base32, most significant
 * first: decode it and compare with the clock. */
static void test_time_prefix(void **state)
{
    (void)state;
    static const char b32[] = "0123456789abcdefghjkmnpqrstvwxyz";
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    long long before = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    char id[ID_MAX];
    id_new("tkt", id);
    long long ms = 0;
    for (int i = 0; i < ID_TIME_LEN; i++)
        ms = ms * 32 + (strchr(b32, id[4 + i]) - b32);
    assert_true(ms >= before && ms < before + 1000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shape_and_valid),
        cmocka_unit_test(test_ordered_and_distinct),
        cmocka_unit_test(test_time_prefix),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
