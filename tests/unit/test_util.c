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

/* Every formatted value reads back as the same number: one format in and out
 * (for the values a setting can hold; the parsers stop at about 1.8e10 units). */
static void test_format_round_trip(void **state)
{
        static const uint64_t durations[] = { 0, 1, 500, 1000, 1500, 10000, 60000, 90000, 300000, 3600000,
                                              86400000, 5400000, 3650ULL * 24 * 3600 * 1000 };
        static const uint64_t sizes[] = { 0, 1, 1000, 1001, 1024, 16384, 65536, 1000000, 8ULL << 20,
                                          128ULL << 20, 500000000, 2ULL << 30, 1ULL << 40, 3ULL << 41,
                                          1ULL << 50 };
        static const uint64_t cpus[] = { 1, 100, 500, 1000, 1500, 2000, 64000 };
        char buf[32];
        uint64_t v;
        (void) state;

        for (size_t i = 0; i < sizeof durations / sizeof durations[0]; i++) {
                assert_int_equal(format_duration_ms(durations[i], buf, sizeof buf) >= 0, 1);
                assert_int_equal(parse_duration_ms(buf, &v), 0);
                assert_true(v == durations[i]);
        }
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
                assert_int_equal(format_size(sizes[i], buf, sizeof buf) >= 0, 1);
                assert_int_equal(parse_size(buf, &v), 0);
                assert_true(v == sizes[i]);
        }
        for (size_t i = 0; i < sizeof cpus / sizeof cpus[0]; i++) {
                assert_int_equal(format_cpu_millis(cpus[i], buf, sizeof buf) >= 0, 1);
                assert_int_equal(parse_cpu_millis(buf, &v), 0);
                assert_true(v == cpus[i]);
        }
        /* the largest exact unit */
        (void) format_duration_ms(86400000, buf, sizeof buf);
        assert_string_equal(buf, "24h");
        (void) format_duration_ms(60000, buf, sizeof buf);
        assert_string_equal(buf, "1m");
        (void) format_duration_ms(90000, buf, sizeof buf);
        assert_string_equal(buf, "90s");
        (void) format_duration_ms(1500, buf, sizeof buf);
        assert_string_equal(buf, "1500ms");
        (void) format_duration_ms(0, buf, sizeof buf);
        assert_string_equal(buf, "0s");
        (void) format_size(128ULL << 20, buf, sizeof buf);
        assert_string_equal(buf, "128Mi");
        (void) format_size(500000000, buf, sizeof buf);
        assert_string_equal(buf, "500M");
        (void) format_size(1001, buf, sizeof buf);
        assert_string_equal(buf, "1001");
        (void) format_cpu_millis(1000, buf, sizeof buf);
        assert_string_equal(buf, "1");
        (void) format_cpu_millis(250, buf, sizeof buf);
        assert_string_equal(buf, "250m");
        assert_int_equal(format_duration_ms(UINT64_MAX, buf, 4), -ENAMETOOLONG);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_durations),
                cmocka_unit_test(test_sizes_and_cpu),
                cmocka_unit_test(test_format_round_trip),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
