/* SPDX-License-Identifier: MIT */
/* Unit tests for core/runtime/metrics.c: the registry and the text format 0.0.4. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/runtime/metrics.h"

static char *render(const struct metrics *m, const struct metrics_gauges *g)
{
        char *text = NULL;
        size_t len = 0;
        assert_int_equal(metrics_render(m, g, &text, &len), 0);
        assert_non_null(text);
        assert_int_equal(strlen(text), len);
        return text;
}

/* The line that starts with prefix followed by a space; its value. */
static const char *value_of(const char *text, const char *prefix)
{
        size_t n = strlen(prefix);
        for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
                if (strncmp(p, prefix, n) == 0 && p[n] == ' ')
                        return p + n + 1;
        fail_msg("no line '%s' in:\n%s", prefix, text);
        return NULL;
}

static void assert_value(const char *text, const char *prefix, const char *want)
{
        const char *v = value_of(text, prefix);
        size_t n = strcspn(v, "\n");
        if (strlen(want) != n || strncmp(v, want, n) != 0)
                fail_msg("%s: got '%.*s', want '%s'", prefix, (int) n, v, want);
}

static void assert_near(const char *text, const char *prefix, double want)
{
        double got = strtod(value_of(text, prefix), NULL);
        if (got < want - 1e-12 || got > want + 1e-12)
                fail_msg("%s: got %.17g, want %.17g", prefix, got, want);
}

static void test_histogram_buckets_are_cumulative(void **state)
{
        static const double bounds[] = { 0.1, 1, 10 };
        struct metrics_histogram h = { .bounds = bounds, .n_bounds = 3 };
        metrics_histogram_observe(&h, 0.05);
        metrics_histogram_observe(&h, 0.1); /* le is inclusive */
        metrics_histogram_observe(&h, 0.5);
        metrics_histogram_observe(&h, 11);
        metrics_histogram_observe(&h, -1); /* a clock step back counts as 0 */
        assert_int_equal(h.buckets[0], 3);
        assert_int_equal(h.buckets[1], 1);
        assert_int_equal(h.buckets[2], 0);
        assert_int_equal(h.buckets[3], 1);
        assert_int_equal(h.count, 5);
        assert_true(h.sum > 11.64 && h.sum < 11.66);
}

static void test_invocations_render(void **state)
{
        struct metrics m;
        struct metrics_gauges g = { 0 };
        char *text;

        metrics_init(&m);
        for (int i = 0; i < 3; i++) {
                metrics_invocation_started(&m, "fn", "openfaas-fn");
                metrics_invocation_finished(&m, "fn", "openfaas-fn", 200, 0.003 * (i + 1)); /* .003 .006 .009 */
        }
        metrics_invocation_started(&m, "fn", "openfaas-fn");
        metrics_invocation_finished(&m, "fn", "openfaas-fn", 500, 0.2);
        metrics_invocation_started(&m, "fn", "openfaas-fn");
        metrics_invocation_finished(&m, "fn", "openfaas-fn", 504, 20);
        metrics_invocation_started(&m, "other", "ns2"); /* still running */
        assert_int_equal(metrics_invocation_count(&m, "fn", "openfaas-fn"), 5);
        assert_int_equal(metrics_invocation_count(&m, "other", "ns2"), 0);
        assert_int_equal(metrics_invocation_count(&m, "fn", "ns2"), 0);
        assert_int_equal(metrics_invocation_count(&m, "f", "n.openfaas-fn"), 0);

        text = render(&m, &g);
        assert_non_null(strstr(text, "# TYPE gateway_function_invocation_total counter\n"));
        assert_non_null(strstr(text, "# TYPE gateway_functions_seconds histogram\n"));
        assert_value(text, "gateway_function_invocation_total{function_name=\"fn.openfaas-fn\",code=\"200\"}", "3");
        assert_value(text, "gateway_function_invocation_total{function_name=\"fn.openfaas-fn\",code=\"500\"}", "1");
        assert_value(text, "gateway_function_invocation_total{function_name=\"fn.openfaas-fn\",code=\"504\"}", "1");
        /* 200: .003 -> le .005; .006 and .009 -> le .01; all below .025 */
        assert_value(text, "gateway_functions_seconds_bucket{function_name=\"fn.openfaas-fn\",code=\"200\",le=\"0.005\"}",
                     "1");
        assert_value(text, "gateway_functions_seconds_bucket{function_name=\"fn.openfaas-fn\",code=\"200\",le=\"0.01\"}",
                     "3");
        assert_value(text, "gateway_functions_seconds_bucket{function_name=\"fn.openfaas-fn\",code=\"200\",le=\"10\"}",
                     "3");
        assert_value(text, "gateway_functions_seconds_bucket{function_name=\"fn.openfaas-fn\",code=\"200\",le=\"+Inf\"}",
                     "3");
        /* .003 + .006 + .009 is 0.018000000000000002 in binary: printed so that it reads back exactly */
        assert_near(text, "gateway_functions_seconds_sum{function_name=\"fn.openfaas-fn\",code=\"200\"}", 0.018);
        assert_value(text, "gateway_functions_seconds_count{function_name=\"fn.openfaas-fn\",code=\"200\"}", "3");
        assert_value(text, "gateway_functions_seconds_bucket{function_name=\"fn.openfaas-fn\",code=\"500\",le=\"0.1\"}",
                     "0");
        assert_value(text, "gateway_functions_seconds_bucket{function_name=\"fn.openfaas-fn\",code=\"500\",le=\"0.25\"}",
                     "1");
        assert_value(text, "gateway_functions_seconds_bucket{function_name=\"fn.openfaas-fn\",code=\"504\",le=\"10\"}",
                     "0");
        assert_value(text, "gateway_functions_seconds_bucket{function_name=\"fn.openfaas-fn\",code=\"504\",le=\"+Inf\"}",
                     "1");
        assert_value(text, "gateway_functions_seconds_sum{function_name=\"fn.openfaas-fn\",code=\"504\"}", "20");
        assert_value(text, "gateway_function_invocation_started{function_name=\"fn.openfaas-fn\"}", "5");
        assert_value(text, "gateway_function_invocation_started{function_name=\"other.ns2\"}", "1");
        /* No code yet for other.ns2: no invocation_total series invented. */
        assert_null(strstr(text, "invocation_total{function_name=\"other.ns2\""));
        /* Codes are sorted, whatever the order they were first seen in. */
        assert_true(strstr(text, "code=\"200\"}") < strstr(text, "code=\"500\"}"));
        free(text);

        metrics_forget_function(&m, "fn", "openfaas-fn");
        assert_int_equal(metrics_invocation_count(&m, "fn", "openfaas-fn"), 0);
        text = render(&m, &g);
        assert_null(strstr(text, "fn.openfaas-fn"));
        /* Only other.ns2, with no answered call: no invocation_total family. */
        assert_null(strstr(text, "gateway_function_invocation_total"));
        assert_value(text, "gateway_function_invocation_started{function_name=\"other.ns2\"}", "1");
        free(text);
        metrics_release(&m);
}

static void test_label_escaping(void **state)
{
        struct metrics m;
        char *svc[] = { (char *) "q\"uote.back\\slash", NULL };
        struct metrics_gauges g = { .services = svc, .replicas = 1 };
        char *text;

        metrics_init(&m);
        metrics_invocation_finished(&m, "a\"b", "c\\d\ne", 200, 0.001);
        metrics_http_response(&m, "GE\"T", 200);
        text = render(&m, &g);
        assert_value(text, "gateway_function_invocation_total{function_name=\"a\\\"b.c\\\\d\\ne\",code=\"200\"}", "1");
        assert_value(text, "gateway_service_count{function_name=\"q\\\"uote.back\\\\slash\"}", "1");
        assert_value(text, "sfaasd_http_requests_total{code=\"200\",method=\"GE\\\"T\"}", "1");
        /* The raw newline did not split a line: nothing starts with its tail. */
        assert_null(strstr(text, "\ne."));
        free(text);
        metrics_release(&m);
}

static void test_gauges_and_omissions(void **state)
{
        struct metrics m;
        struct metrics_gauges g = { .in_flight = 2, .instances_running = 2, .images = 3, .async_queued = 4,
                                    .async_running = 1 };
        char *text;

        metrics_init(&m);
        metrics_sandbox_start(&m, true, 0.0007);
        metrics_sandbox_start(&m, true, 0.0015);
        metrics_sandbox_start(&m, false, 0.3);
        text = render(&m, &g);
        assert_value(text, "sfaasd_sandbox_starts_total{result=\"ok\"}", "2");
        assert_value(text, "sfaasd_sandbox_starts_total{result=\"error\"}", "1");
        assert_value(text, "sfaasd_sandbox_start_seconds_bucket{le=\"0.0005\"}", "0");
        assert_value(text, "sfaasd_sandbox_start_seconds_bucket{le=\"0.001\"}", "1");
        assert_value(text, "sfaasd_sandbox_start_seconds_bucket{le=\"0.002\"}", "2");
        assert_value(text, "sfaasd_sandbox_start_seconds_bucket{le=\"0.25\"}", "2");
        assert_value(text, "sfaasd_sandbox_start_seconds_bucket{le=\"+Inf\"}", "3");
        assert_value(text, "sfaasd_sandbox_start_seconds_count", "3");
        assert_value(text, "sfaasd_invocations_in_flight", "2");
        assert_value(text, "sfaasd_instances{state=\"running\"}", "2");
        assert_value(text, "sfaasd_images", "3");
        assert_value(text, "sfaasd_async_calls{state=\"queued\"}", "4");
        assert_value(text, "sfaasd_async_calls{state=\"running\"}", "1");
        /* Not known yet or not wired: left out, not exported as 0. */
        assert_null(strstr(text, "sfaasd_store_bytes"));
        assert_null(strstr(text, "process_"));
        assert_null(strstr(text, "sfaasd_http_requests_total"));
        assert_null(strstr(text, "gateway_"));
        free(text);

        g.have_store_bytes = true;
        g.store_bytes = 123456789012ULL;
        g.have_process = true;
        g.process_start_time = 1700000000.25;
        g.process_rss_bytes = 4096;
        g.process_open_fds = 7;
        metrics_http_response(&m, "POST", 404);
        metrics_http_response(&m, "GET", 200);
        metrics_http_response(&m, "GET", 200);
        text = render(&m, &g);
        assert_value(text, "sfaasd_store_bytes", "123456789012");
        assert_value(text, "process_start_time_seconds", "1700000000.25");
        assert_value(text, "process_resident_memory_bytes", "4096");
        assert_value(text, "process_open_fds", "7");
        assert_value(text, "sfaasd_http_requests_total{code=\"200\",method=\"GET\"}", "2");
        assert_value(text, "sfaasd_http_requests_total{code=\"404\",method=\"POST\"}", "1");
        /* Every family has HELP and TYPE, each once. */
        assert_non_null(strstr(text, "# HELP sfaasd_store_bytes "));
        assert_non_null(strstr(text, "# TYPE sfaasd_http_requests_total counter\n"));
        assert_null(strstr(strstr(text, "# TYPE sfaasd_http_requests_total") + 1, "# TYPE sfaasd_http_requests_total"));
        free(text);
        metrics_release(&m);
}

/* The autoscalers' series: http-mode functions only, the target as
 * OpenFaaS Pro names it, the load and the desired instances. */
static void test_scale_series(void **state)
{
        struct metrics m;
        char *services[] = { "web.openfaas-fn", "cat.openfaas-fn", "q\"x.t", NULL };
        uint64_t reps[] = { 3, 1, 1 };
        struct metrics_scale sc[] = {
                { .http = true, .type = "capacity", .target = 2, .load = 4.5, .desired = 3 },
                { .http = false },
                { .http = true, .type = "rps", .target = 50, .load = 0, .desired = 1 },
        };
        struct metrics_gauges g = { .services = services, .service_replicas = reps, .service_scale = sc };
        char *text;

        (void) state;
        metrics_init(&m);
        text = render(&m, &g);
        assert_non_null(strstr(text, "# TYPE gateway_service_target_load gauge\n"));
        assert_value(text, "gateway_service_target_load{function_name=\"web.openfaas-fn\",scaling_type=\"capacity\"}",
                     "2");
        assert_value(text, "sfaasd_function_load{function_name=\"web.openfaas-fn\",scaling_type=\"capacity\"}",
                     "4.5");
        assert_value(text, "sfaasd_function_desired_replicas{function_name=\"web.openfaas-fn\"}", "3");
        assert_value(text, "gateway_service_target_load{function_name=\"q\\\"x.t\",scaling_type=\"rps\"}", "50");
        /* exec mode: no autoscaler, no series */
        assert_null(strstr(text, "sfaasd_function_load{function_name=\"cat."));
        free(text);
        /* no http-mode function: no families at all */
        sc[0].http = sc[2].http = false;
        text = render(&m, &g);
        assert_null(strstr(text, "gateway_service_target_load"));
        assert_null(strstr(text, "sfaasd_function_desired_replicas"));
        free(text);
        metrics_release(&m);
}

static void test_read_process(void **state)
{
        struct metrics_gauges g = { 0 };
        assert_int_equal(metrics_read_process(&g), 0);
        assert_true(g.have_process);
        assert_true(g.process_start_time > 1.5e9);
        assert_true(g.process_rss_bytes > 0);
        assert_true(g.process_open_fds >= 3);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_histogram_buckets_are_cumulative),
                cmocka_unit_test(test_invocations_render),
                cmocka_unit_test(test_label_escaping),
                cmocka_unit_test(test_gauges_and_omissions),
                cmocka_unit_test(test_scale_series),
                cmocka_unit_test(test_read_process),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
