/* SPDX-License-Identifier: MIT */
/* Unit tests for core/runtime/history.c: the rings behind the console's charts. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/runtime/history.h"

#define NS "openfaas-fn"
/* A slot boundary, so that T0 + k * HISTORY_STEP_S is slot k after T0's. */
#define T0 ((int64_t) 1700000000)

static json_t *col(json_t *o, const char *key)
{
        json_t *a = json_object_get(o, key);
        assert_non_null(a);
        assert_true(json_is_array(a));
        assert_int_equal(json_array_size(a), HISTORY_SLOTS);
        return a;
}

/* The value of column key, back slots before the newest (0: the newest). */
static json_t *at(json_t *o, const char *key, size_t back)
{
        return json_array_get(col(o, key), HISTORY_SLOTS - 1 - back);
}

static json_int_t int_at(json_t *o, const char *key, size_t back)
{
        json_t *v = at(o, key, back);
        assert_true(json_is_integer(v));
        return json_integer_value(v);
}

static void test_buckets(void **state)
{
        double prev = 0;
        for (unsigned i = 0; i + 1 < HISTORY_BUCKETS; i++) {
                double b = history_bucket_bound(i);
                assert_true(b > prev);
                /* A bucket holds values up to and including its bound. */
                assert_int_equal(history_bucket(b), i);
                assert_int_equal(history_bucket(b * 1.0001), i + 1);
                prev = b;
        }
        assert_true(isinf(history_bucket_bound(HISTORY_BUCKETS - 1)));
        assert_int_equal(history_bucket(0), 0);
        assert_int_equal(history_bucket(-1), 0);
        assert_int_equal(history_bucket(NAN), 0);
        assert_int_equal(history_bucket(1e9), HISTORY_BUCKETS - 1);
        /* 0.1 ms to beyond ten minutes, a factor sqrt(2) apart. */
        assert_true(history_bucket_bound(0) <= 1e-4);
        assert_true(history_bucket_bound(HISTORY_BUCKETS - 2) >= 600);
}

static void test_quantiles(void **state)
{
        uint32_t hist[HISTORY_BUCKETS] = {0};
        double p50, p99;

        assert_true(history_quantile(hist, 0.5) < 0);
        /* 1 ms .. 100 ms, evenly. */
        for (int ms = 1; ms <= 100; ms++)
                hist[history_bucket(ms / 1000.0)]++;
        p50 = history_quantile(hist, 0.5);
        p99 = history_quantile(hist, 0.99);
        /* Within one bucket (a factor sqrt(2)) of the exact values. */
        assert_true(p50 > 0.050 / M_SQRT2 && p50 < 0.050 * M_SQRT2);
        assert_true(p99 > 0.099 / M_SQRT2 && p99 < 0.099 * M_SQRT2);
        assert_true(p50 < p99);

        /* One value: inside its own bucket. */
        memset(hist, 0, sizeof hist);
        hist[history_bucket(0.003)] = 1;
        p50 = history_quantile(hist, 0.5);
        assert_true(p50 > history_bucket_bound(history_bucket(0.003) - 1));
        assert_true(p50 <= history_bucket_bound(history_bucket(0.003)));

        /* Beyond the last bound: its lower bound, never infinity. */
        memset(hist, 0, sizeof hist);
        hist[HISTORY_BUCKETS - 1] = 3;
        assert_true(history_quantile(hist, 0.99) == history_bucket_bound(HISTORY_BUCKETS - 2));
}

static void test_slots_and_json(void **state)
{
        struct history h;
        json_t *o, *t;

        history_init(&h);
        /* Two calls in the slot two steps back, one 500 and one 404 in
         * the newest. */
        history_call_started(&h, NS, "fn", T0);
        history_call_finished(&h, NS, "fn", 200, 0.002, T0 + 1);
        history_call_started(&h, NS, "fn", T0 + 2);
        history_call_finished(&h, NS, "fn", 200, 0.004, T0 + 3);
        history_call_started(&h, NS, "fn", T0 + 20);
        history_call_finished(&h, NS, "fn", 500, 1.5, T0 + 21);
        history_call_started(&h, NS, "fn", T0 + 22);
        history_call_finished(&h, NS, "fn", 404, 0.001, T0 + 23);

        o = history_function_json(&h, NS, "fn", T0 + 25);
        assert_non_null(o);
        assert_string_equal(json_string_value(json_object_get(o, "name")), "fn");
        assert_string_equal(json_string_value(json_object_get(o, "namespace")), NS);
        assert_int_equal(json_integer_value(json_object_get(o, "step")), HISTORY_STEP_S);
        assert_int_equal(json_integer_value(json_object_get(o, "start")),
                         T0 + 20 - (HISTORY_SLOTS - 1) * HISTORY_STEP_S);
        assert_int_equal(int_at(o, "calls", 0), 2);
        assert_int_equal(int_at(o, "errors", 0), 1); /* the 500, not the 404 */
        assert_int_equal(int_at(o, "calls", 1), 0);
        assert_true(json_is_null(at(o, "p50", 1)));
        assert_int_equal(int_at(o, "calls", 2), 2);
        assert_int_equal(int_at(o, "errors", 2), 0);
        /* The closed slot kept its quantiles; the newest computes them. */
        assert_true(json_real_value(at(o, "p50", 2)) > 0.0015 && json_real_value(at(o, "p50", 2)) < 0.0045);
        assert_true(json_real_value(at(o, "p99", 0)) > 1.0 && json_real_value(at(o, "p99", 0)) < 2.2);
        assert_int_equal(int_at(o, "inflight", 2), 1);
        assert_int_equal(int_at(o, "calls", 3), 0);
        t = json_object_get(o, "totals");
        assert_int_equal(json_integer_value(json_object_get(t, "calls")), 4);
        assert_int_equal(json_integer_value(json_object_get(t, "errors")), 1);
        assert_int_equal(json_integer_value(json_object_get(t, "inflight")), 0);
        assert_true(json_is_string(json_object_get(t, "lastCall")));
        json_decref(o);

        /* The host counts every call too. */
        o = history_host_json(&h, T0 + 25);
        assert_non_null(o);
        assert_int_equal(int_at(o, "calls", 0), 2);
        assert_int_equal(int_at(o, "errors", 0), 1);
        assert_int_equal(int_at(o, "calls", 2), 2);
        assert_true(json_is_null(at(o, "cpu", 0)));
        assert_true(json_is_null(json_object_get(o, "memoryTotal")));
        json_decref(o);
        history_release(&h);
}

static void test_an_hour_later(void **state)
{
        struct history h;
        json_t *o;
        history_init(&h);
        history_call_started(&h, NS, "fn", T0);
        history_call_finished(&h, NS, "fn", 200, 0.01, T0);
        /* The slot leaves the ring after HISTORY_SLOTS steps... */
        o = history_function_json(&h, NS, "fn", T0 + (HISTORY_SLOTS - 1) * HISTORY_STEP_S);
        assert_int_equal(int_at(o, "calls", HISTORY_SLOTS - 1), 1);
        json_decref(o);
        o = history_function_json(&h, NS, "fn", T0 + HISTORY_SLOTS * HISTORY_STEP_S);
        for (size_t k = 0; k < HISTORY_SLOTS; k++)
                assert_int_equal(int_at(o, "calls", k), 0);
        /* ...the totals since the start stay. */
        assert_int_equal(json_integer_value(json_object_get(json_object_get(o, "totals"), "calls")), 1);
        json_decref(o);
        /* A day later, a new call: one slot, nothing stale around it. */
        history_call_started(&h, NS, "fn", T0 + 86400);
        history_call_finished(&h, NS, "fn", 200, 0.01, T0 + 86400);
        o = history_function_json(&h, NS, "fn", T0 + 86400);
        assert_int_equal(int_at(o, "calls", 0), 1);
        for (size_t k = 1; k < HISTORY_SLOTS; k++)
                assert_int_equal(int_at(o, "calls", k), 0);
        json_decref(o);
        history_release(&h);
}

static void test_clock_back(void **state)
{
        struct history h;
        json_t *o;
        history_init(&h);
        history_call_started(&h, NS, "fn", T0 + 100);
        history_call_finished(&h, NS, "fn", 200, 0.01, T0 + 100);
        /* The clock stepped back a minute: the newest slot takes it. */
        history_call_started(&h, NS, "fn", T0 + 40);
        history_call_finished(&h, NS, "fn", 200, 0.01, T0 + 40);
        o = history_function_json(&h, NS, "fn", T0 + 40);
        assert_int_equal(json_integer_value(json_object_get(o, "start")),
                         T0 + 100 - (HISTORY_SLOTS - 1) * HISTORY_STEP_S);
        assert_int_equal(int_at(o, "calls", 0), 2);
        json_decref(o);
        history_release(&h);
}

static void test_gauges(void **state)
{
        struct history h;
        json_t *o;
        history_init(&h);
        /* No ring for a function that was never seen, nor for zero instances. */
        history_instances(&h, NS, "idle", 0, T0);
        assert_null(history_find(&h, NS, "idle"));
        o = history_function_json(&h, NS, "idle", T0);
        assert_non_null(o);
        assert_int_equal(int_at(o, "instances", 0), 0);
        assert_int_equal(json_integer_value(json_object_get(json_object_get(o, "totals"), "calls")), 0);
        assert_true(json_is_null(json_object_get(json_object_get(o, "totals"), "p50")));
        json_decref(o);

        /* The most instances sampled in a slot. */
        history_instances(&h, NS, "web", 2, T0);
        history_instances(&h, NS, "web", 3, T0 + 1);
        history_instances(&h, NS, "web", 1, T0 + 2);
        history_instances(&h, NS, "web", 1, T0 + 10);
        /* Three calls at once, then one that outlives its slot. */
        for (int i = 0; i < 3; i++)
                history_call_started(&h, NS, "web", T0 + 11);
        for (int i = 0; i < 2; i++)
                history_call_finished(&h, NS, "web", 200, 0.1, T0 + 12);
        history_instances(&h, NS, "web", 1, T0 + 20);
        o = history_function_json(&h, NS, "web", T0 + 20);
        assert_int_equal(int_at(o, "instances", 2), 3);
        assert_int_equal(int_at(o, "instances", 1), 1);
        assert_int_equal(int_at(o, "inflight", 1), 3);
        assert_int_equal(int_at(o, "inflight", 0), 1);
        json_decref(o);
        /* An answer without a start (never happens; must not wrap). */
        history_call_finished(&h, NS, "web", 200, 0.1, T0 + 21);
        history_call_finished(&h, NS, "web", 200, 0.1, T0 + 21);
        assert_int_equal(history_find(&h, NS, "web")->inflight, 0);

        /* Host: the most sandboxes, the last CPU and memory total. */
        history_host_sample(&h, 4, 12.5, 1000, 8000, T0);
        history_host_sample(&h, 2, -1, 900, 0, T0 + 1);
        o = history_host_json(&h, T0 + 1);
        assert_int_equal(int_at(o, "sandboxes", 0), 4);
        assert_true(json_real_value(at(o, "cpu", 0)) == 12.5);
        assert_int_equal(int_at(o, "memoryUsed", 0), 1000);
        assert_int_equal(json_integer_value(json_object_get(o, "memoryTotal")), 8000);
        json_decref(o);

        /* Removing the function drops its ring; others stay. */
        history_forget(&h, NS, "web");
        assert_null(history_find(&h, NS, "web"));
        history_call_finished(&h, "other-ns", "web", 200, 0.1, T0 + 30);
        assert_non_null(history_find(&h, "other-ns", "web"));
        assert_null(history_find(&h, NS, "web"));
        history_release(&h);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_buckets),        cmocka_unit_test(test_quantiles),
            cmocka_unit_test(test_slots_and_json), cmocka_unit_test(test_an_hour_later),
            cmocka_unit_test(test_clock_back),     cmocka_unit_test(test_gauges),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
