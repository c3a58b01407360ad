/* SPDX-License-Identifier: MIT */
/* Unit tests for core/base/util.c: the parsers of sizes, CPU quantities and
 * durations that config files, limits and annotations use. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/base/util.h"

static uint64_t ms(const char *s)
{
        uint64_t v = 12345;
        assert_int_equal(parse_duration_ms(s, &v), 0);
        return v;
}

static void test_durations(void **state)
{
        uint64_t v;
        (void) state;
        assert_int_equal(ms("30"), 30000);      /* a bare number is seconds */
        assert_int_equal(ms("0.5"), 500);
        assert_int_equal(ms("500ms"), 500);
        assert_int_equal(ms("2s"), 2000);
        assert_int_equal(ms("1.5s"), 1500);
        assert_int_equal(ms("3m"), 180000);
        assert_int_equal(ms("1h"), 3600000);
        assert_int_equal(ms("1m30s"), 90000);   /* Go's compound form */
        assert_int_equal(ms("1h2m3s4ms"), 3723004);
        assert_int_equal(ms("0s"), 0);
        for (const char *const *b = (const char *const[]){ "", "s", "ms", "-1s", "5 s", "5x", "1m30", "1s2",
                                                           "soon", "1.2.3s", "5parsecs", NULL };
             *b; b++)
                assert_int_equal(parse_duration_ms(*b, &v), -EINVAL);
        assert_int_equal(parse_duration_ms(NULL, &v), -EINVAL);
        assert_int_equal(parse_duration_ms("99999999999999999999h", &v), -ERANGE);
}

static void test_sizes_and_cpu(void **state)
{
        uint64_t v;
        (void) state;
        assert_int_equal(parse_size("128Mi", &v), 0);
        assert_int_equal(v, 128ULL << 20);
        assert_int_equal(parse_cpu_millis("500m", &v), 0);
        assert_int_equal(v, 500);
        assert_int_equal(parse_cpu_millis("0.5", &v), 0);
        assert_int_equal(v, 500);
        assert_true(parse_size("lots", &v) < 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_durations),
                cmocka_unit_test(test_sizes_and_cpu),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
