/* SPDX-License-Identifier: MIT */
/* Unit tests of the client's pure helpers (cmd/client_util.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cmd/client.h"
#include "core/base/cleanup.h"

static void check_gateway(const char *in, const char *want)
{
        _cleanup_free_ char *out = NULL;
        struct sf_err e = {};

        assert_int_equal(client_gateway_normalise(in, &out, &e), 0);
        assert_string_equal(out, want);
}

static void check_gateway_bad(const char *in)
{
        char *out = (char *) "untouched";
        struct sf_err e = {};

        assert_int_equal(client_gateway_normalise(in, &out, &e), -EINVAL);
        assert_string_equal(out, "untouched");
        assert_true(e.msg[0] != '\0');
}

static void test_gateway_normalise(void **state)
{
        check_gateway("http://127.0.0.1:8080", "http://127.0.0.1:8080");
        check_gateway("127.0.0.1:8080", "http://127.0.0.1:8080");
        check_gateway("HTTP://GW.Example.COM:8080/", "http://gw.example.com:8080");
        check_gateway("https://gw.example.com///", "https://gw.example.com");
        check_gateway("gw.example.com/Faas/", "http://gw.example.com/faas");
        check_gateway("localhost", "http://localhost");
        check_gateway_bad("");
        check_gateway_bad(NULL);
        check_gateway_bad("ftp://host");
        check_gateway_bad("file:///etc/passwd");
        check_gateway_bad("http://");
        check_gateway_bad("http:///path");
        check_gateway_bad("http://a b");
        check_gateway_bad("http://host\r\nX-Evil: 1");
}

static void test_kv_parse(void **state)
{
        char *k = NULL, *v = NULL;
        struct sf_err e = {};

        assert_int_equal(client_kv_parse("A=1", "env", &k, &v, &e), 0);
        assert_string_equal(k, "A");
        assert_string_equal(v, "1");
        free(k);
        free(v);

        /* Split at the first '='; the value keeps the rest. */
        assert_int_equal(client_kv_parse("url=http://x/?a=b", "env", &k, &v, &e), 0);
        assert_string_equal(k, "url");
        assert_string_equal(v, "http://x/?a=b");
        free(k);
        free(v);

        /* An empty value is fine. */
        assert_int_equal(client_kv_parse("EMPTY=", "env", &k, &v, &e), 0);
        assert_string_equal(k, "EMPTY");
        assert_string_equal(v, "");
        free(k);
        free(v);

        k = v = NULL;
        assert_int_equal(client_kv_parse("novalue", "label", &k, &v, &e), -EINVAL);
        assert_non_null(strstr(e.msg, "label 'novalue'"));
        assert_int_equal(client_kv_parse("=x", "env", &k, &v, &e), -EINVAL);
        assert_int_equal(client_kv_parse("", "env", &k, &v, &e), -EINVAL);
        assert_null(k);
        assert_null(v);
}

static void test_header_parse(void **state)
{
        char *n = NULL, *v = NULL;
        struct sf_err e = {};

        assert_int_equal(client_header_parse("X-Foo:  bar baz \t", &n, &v, &e), 0);
        assert_string_equal(n, "X-Foo");
        assert_string_equal(v, "bar baz");
        free(n);
        free(v);

        assert_int_equal(client_header_parse("X-Empty:", &n, &v, &e), 0);
        assert_string_equal(v, "");
        free(n);
        free(v);

        assert_int_equal(client_header_parse("no colon", &n, &v, &e), -EINVAL);
        assert_int_equal(client_header_parse(": v", &n, &v, &e), -EINVAL);
        assert_int_equal(client_header_parse("Bad Name: v", &n, &v, &e), -EINVAL);
        assert_int_equal(client_header_parse("X-A: v\r\nX-Injected: 1", &n, &v, &e), -EINVAL);
        assert_int_equal(client_header_parse("X-A: v\nmore", &n, &v, &e), -EINVAL);
}

static void test_name_valid(void **state)
{
        char long_name[300];

        assert_true(client_name_valid("figlet"));
        assert_true(client_name_valid("my-fn_2"));
        assert_true(client_name_valid("openfaas-fn"));
        assert_false(client_name_valid(""));
        assert_false(client_name_valid(NULL));
        assert_false(client_name_valid("a.b"));
        assert_false(client_name_valid("a/b"));
        assert_false(client_name_valid("../x"));
        assert_false(client_name_valid("a?b"));
        assert_false(client_name_valid("a b"));
        memset(long_name, 'a', sizeof long_name - 1);
        long_name[sizeof long_name - 1] = '\0';
        assert_false(client_name_valid(long_name));
        long_name[253] = '\0';
        assert_true(client_name_valid(long_name));
}

/* Build the deployment and compare its canonical (sorted, compact) form. */
static void check_deployment(const struct deploy_spec *spec, const char *want)
{
        _cleanup_(json_decrefp) json_t *d = NULL, *w = NULL;
        _cleanup_free_ char *got = NULL, *exp = NULL;
        struct sf_err e = {};

        assert_int_equal(client_deployment_json(spec, &d, &e), 0);
        w = json_loads(want, 0, NULL);
        assert_non_null(w);
        got = json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS);
        exp = json_dumps(w, JSON_COMPACT | JSON_SORT_KEYS);
        assert_string_equal(got, exp);
}

static void test_deployment_minimal(void **state)
{
        struct deploy_spec spec = { .name = "figlet", .image = "ghcr.io/openfaas/figlet:latest" };

        /* labels and annotations always present, as faas-cli sends them. */
        check_deployment(&spec, "{\"service\":\"figlet\",\"image\":\"ghcr.io/openfaas/figlet:latest\","
                                "\"labels\":{},\"annotations\":{}}");
}

static void test_deployment_full(void **state)
{
        const char *env[] = { "X=1", "Y=a=b", "X=2" };
        const char *labels[] = { "a=b" };
        const char *annotations[] = { "topic=orders" };
        const char *secrets[] = { "api-key", "db" };
        struct deploy_spec spec = {
                .name = "figlet",
                .image = "ghcr.io/openfaas/figlet:latest",
                .namespace = "team-a",
                .fprocess = "figlet -f small",
                .env = env,
                .n_env = ELEMENTSOF(env),
                .labels = labels,
                .n_labels = ELEMENTSOF(labels),
                .annotations = annotations,
                .n_annotations = ELEMENTSOF(annotations),
                .secrets = secrets,
                .n_secrets = ELEMENTSOF(secrets),
                .memory = "64Mi",
                .cpu = "100m",
                .readonly = true,
        };

        check_deployment(&spec,
                         "{\"service\":\"figlet\",\"image\":\"ghcr.io/openfaas/figlet:latest\","
                         "\"namespace\":\"team-a\",\"envProcess\":\"figlet -f small\","
                         "\"envVars\":{\"X\":\"2\",\"Y\":\"a=b\"},\"secrets\":[\"api-key\",\"db\"],"
                         "\"labels\":{\"a\":\"b\"},\"annotations\":{\"topic\":\"orders\"},"
                         "\"limits\":{\"memory\":\"64Mi\",\"cpu\":\"100m\"},\"readOnlyRootFilesystem\":true}");
}

static void test_deployment_memory_only(void **state)
{
        struct deploy_spec spec = { .name = "f", .image = "busybox:latest", .memory = "128M" };

        check_deployment(&spec, "{\"service\":\"f\",\"image\":\"busybox:latest\",\"labels\":{},"
                                "\"annotations\":{},\"limits\":{\"memory\":\"128M\"}}");
}

static void check_deployment_bad(const struct deploy_spec *spec, const char *msg_part)
{
        json_t *d = NULL;
        struct sf_err e = {};

        assert_int_equal(client_deployment_json(spec, &d, &e), -EINVAL);
        assert_null(d);
        assert_non_null(strstr(e.msg, msg_part));
}

static void test_deployment_invalid(void **state)
{
        const char *bad_env[] = { "NOEQUALS" };
        const char *bad_secret[] = { "../etc" };
        const char *bad_utf8[] = { "K=\xff\xfe" };

        check_deployment_bad(&(struct deploy_spec) { .name = "a.b", .image = "x" }, "invalid function name");
        check_deployment_bad(&(struct deploy_spec) { .name = NULL, .image = "x" }, "invalid function name");
        check_deployment_bad(&(struct deploy_spec) { .name = "a", .image = "" }, "image");
        check_deployment_bad(&(struct deploy_spec) { .name = "a", .image = "x", .namespace = "n/s" },
                             "invalid namespace");
        check_deployment_bad(&(struct deploy_spec) { .name = "a", .image = "x", .memory = "lots" },
                             "invalid memory");
        check_deployment_bad(&(struct deploy_spec) { .name = "a", .image = "x", .cpu = "fast" }, "invalid cpu");
        check_deployment_bad(&(struct deploy_spec) { .name = "a", .image = "x", .env = bad_env, .n_env = 1 },
                             "env 'NOEQUALS'");
        check_deployment_bad(
                &(struct deploy_spec) { .name = "a", .image = "x", .secrets = bad_secret, .n_secrets = 1 },
                "invalid secret");
        check_deployment_bad(&(struct deploy_spec) { .name = "a", .image = "x", .labels = bad_utf8, .n_labels = 1 },
                             "UTF-8");
}

static void test_url(void **state)
{
        _cleanup_free_ char *u1 = NULL, *u2 = NULL, *u3 = NULL;
        const char *q[] = { "namespace=team-a", "k=a b&c=d" };

        assert_int_equal(client_url("http://127.0.0.1:8080", "/system/functions", NULL, 0, &u1), 0);
        assert_string_equal(u1, "http://127.0.0.1:8080/system/functions");
        assert_int_equal(client_url("https://gw/prefix", "/system/functions", q, 2, &u2), 0);
        /* Values are encoded: the '&' cannot start a new parameter. */
        assert_string_equal(u2, "https://gw/prefix/system/functions?namespace=team-a&k=a+b%26c%3dd");
        assert_int_equal(client_url("http://gw", "/function/echo.ns", NULL, 0, &u3), 0);
        assert_string_equal(u3, "http://gw/function/echo.ns");
}

static void test_function_path(void **state)
{
        _cleanup_free_ char *a = NULL, *b = NULL;
        char *c = NULL;

        assert_int_equal(client_function_path("figlet", NULL, &a), 0);
        assert_string_equal(a, "/function/figlet");
        assert_int_equal(client_function_path("figlet", "openfaas-fn", &b), 0);
        assert_string_equal(b, "/function/figlet.openfaas-fn");
        assert_int_equal(client_function_path("a/b", NULL, &c), -EINVAL);
        assert_int_equal(client_function_path("a", "x.y", &c), -EINVAL);
        assert_null(c);
}

static void check_error_message(const char *body, const char *want)
{
        _cleanup_free_ char *m = client_error_message(body, body ? strlen(body) : 0);

        if (!want) {
                assert_null(m);
                return;
        }
        assert_non_null(m);
        assert_string_equal(m, want);
}

static void test_error_message(void **state)
{
        check_error_message("{\"error\":\"function 'x' not found\"}", "function 'x' not found");
        check_error_message("{\"error\":\"line1\\nline2\"}", "line1?line2");
        check_error_message("invalid credentials\n", "invalid credentials");
        check_error_message("\n\n  exit status 1  \nmore\n", "exit status 1");
        check_error_message("Killed process.\r\n", "Killed process.");
        check_error_message("\x1b[31mred", "?[31mred");
        check_error_message("{\"other\":1}", "{\"other\":1}");
        check_error_message("", NULL);
        check_error_message(" \n \n", NULL);
        check_error_message(NULL, NULL);

        {
                char big[1000];
                _cleanup_free_ char *m = NULL;
                memset(big, 'x', sizeof big);
                m = client_error_message(big, sizeof big);
                assert_non_null(m);
                assert_int_equal(strlen(m), 300);
        }
        {
                /* Binary body with a NUL inside: no overread, the NUL becomes '?'. */
                static const char bin[] = { 'a', '\0', 'b' };
                _cleanup_free_ char *m = client_error_message(bin, sizeof bin);
                assert_string_equal(m, "a?b");
        }
}

static void test_status_reason(void **state)
{
        assert_string_equal(client_status_reason(200), "OK");
        assert_string_equal(client_status_reason(202), "Accepted");
        assert_string_equal(client_status_reason(404), "Not Found");
        assert_string_equal(client_status_reason(599), "");
}

static void test_format_size(void **state)
{
        char buf[32];

        assert_true(client_format_size(0, buf, sizeof buf) > 0);
        assert_string_equal(buf, "0 B");
        assert_true(client_format_size(1023, buf, sizeof buf) > 0);
        assert_string_equal(buf, "1023 B");
        assert_true(client_format_size(1536, buf, sizeof buf) > 0);
        assert_string_equal(buf, "1.5 KiB");
        assert_true(client_format_size(4400000, buf, sizeof buf) > 0);
        assert_string_equal(buf, "4.2 MiB");
        assert_true(client_format_size(5ULL << 40, buf, sizeof buf) > 0);
        assert_string_equal(buf, "5.0 TiB");
        assert_int_equal(client_format_size(4400000, buf, 4), -ENAMETOOLONG);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_gateway_normalise),
                cmocka_unit_test(test_kv_parse),
                cmocka_unit_test(test_header_parse),
                cmocka_unit_test(test_name_valid),
                cmocka_unit_test(test_deployment_minimal),
                cmocka_unit_test(test_deployment_full),
                cmocka_unit_test(test_deployment_memory_only),
                cmocka_unit_test(test_deployment_invalid),
                cmocka_unit_test(test_url),
                cmocka_unit_test(test_function_path),
                cmocka_unit_test(test_error_message),
                cmocka_unit_test(test_status_reason),
                cmocka_unit_test(test_format_size),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
