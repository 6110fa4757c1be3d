/* test_timefmt.c - RFC 3339 UTC text of millisecond times. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "axon/timefmt.h"

static void check(long long ms, const char *want)
{
    char out[TIME_TEXT_MAX];
    time_format_ms(ms, out);
    assert_string_equal(out, want);
}

static void test_format_ms(void **state)
{
    (void)state;
    check(0, "1970-01-01T00:00:00.000Z");
    check(1, "1970-01-01T00:00:00.001Z");
    check(999, "1970-01-01T00:00:00.999Z");
    check(1733300000123LL, "2024-12-04T08:13:20.123Z");
    check(951782400000LL, "2000-02-29T00:00:00.000Z");
    check(1709208000050LL, "2024-02-29T12:00:00.050Z");
    check(-1, "1969-12-31T23:59:59.999Z");
    check(253402300799999LL, "9999-12-31T23:59:59.999Z");
}

static void test_format_date(void **state)
{
    (void)state;
    char out[TIME_TEXT_MAX];
    time_format_date(1733300000123LL, out);
    assert_string_equal(out, "2024-12-04");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_ms),
        cmocka_unit_test(test_format_date),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
