/* SPDX-License-Identifier: MIT */
/* Unit tests for core/api/router.c: the OpenFaaS route table. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/api/router.h"

static void test_invoke_routes(void **state)
{
        struct route r;

        assert_int_equal(route_match("POST", "/function/figlet", &r), 0);
        assert_int_equal(r.id, ROUTE_INVOKE);
        assert_false(r.auth); /* invocation is unauthenticated, as in OpenFaaS CE */
        assert_true(r.method_allowed);
        assert_string_equal(r.name, "figlet");
        assert_string_equal(r.ns, "");
        assert_string_equal(r.rest, "/");

        /* The last '.' separates the namespace. */
        assert_int_equal(route_match("GET", "/function/figlet.openfaas-fn/a/b", &r), 0);
        assert_string_equal(r.name, "figlet");
        assert_string_equal(r.ns, "openfaas-fn");
        assert_string_equal(r.rest, "/a/b");

        assert_int_equal(route_match("GET", "/function/figlet/", &r), 0);
        assert_string_equal(r.rest, "/");

        for (const char *const *m = (const char *const[]){ "GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS",
                                                            "HEAD", NULL };
             *m; m++) {
                assert_int_equal(route_match(*m, "/function/x", &r), 0);
                assert_true(r.method_allowed);
        }
        assert_int_equal(route_match("TRACE", "/function/x", &r), 0);
        assert_false(r.method_allowed);
        assert_int_equal(route_match("CONNECT", "/function/x", &r), 0);
        assert_false(r.method_allowed);
}

static void test_bad_names(void **state)
{
        struct route r;
        assert_int_equal(route_match("POST", "/function/", &r), -EINVAL);
        assert_int_equal(route_match("POST", "/function/.ns", &r), -EINVAL);
        assert_int_equal(route_match("POST", "/function/a.", &r), -EINVAL);
        assert_int_equal(route_match("POST", "/function/a.b.c", &r), -EINVAL); /* "a.b" is not a name */
        assert_int_equal(route_match("POST", "/function/-a", &r), -EINVAL);
        assert_int_equal(route_match("POST", "/function/a%20b", &r), -EINVAL);
        assert_int_equal(route_match("GET", "/system/function/..", &r), -EINVAL);
        {
                char longname[200];
                memset(longname, 'a', sizeof longname);
                memcpy(longname, "/function/", 10);
                longname[sizeof longname - 1] = '\0';
                assert_int_equal(route_match("POST", longname, &r), -EINVAL);
        }
        assert_true(route_valid_name("a"));
        assert_true(route_valid_name("my-fn_2"));
        assert_false(route_valid_name(""));
        assert_false(route_valid_name("a.b"));
        assert_false(route_valid_name("a/b"));
}

static void test_system_routes(void **state)
{
        static const struct {
                const char *method, *path;
                enum route_id id;
                bool allowed;
        } cases[] = {
                { "GET", "/system/functions", ROUTE_FUNCTIONS, true },
                { "POST", "/system/functions", ROUTE_FUNCTIONS, true },
                { "PUT", "/system/functions", ROUTE_FUNCTIONS, true },
                { "DELETE", "/system/functions", ROUTE_FUNCTIONS, true },
                { "PATCH", "/system/functions", ROUTE_FUNCTIONS, false },
                { "GET", "/system/function/figlet", ROUTE_FUNCTION, true },
                { "POST", "/system/function/figlet", ROUTE_FUNCTION, false },
                { "GET", "/system/namespaces", ROUTE_NAMESPACES, true },
                { "GET", "/system/info", ROUTE_INFO, true },
                { "GET", "/system/images", ROUTE_IMAGES, true },
                { "POST", "/system/images", ROUTE_IMAGES, true },
                { "POST", "/system/scale-function/figlet", ROUTE_SCALE, true },
                { "GET", "/system/secrets", ROUTE_SECRETS, true },
                { "GET", "/system/logs", ROUTE_LOGS, true },
                { "POST", "/system/namespace/", ROUTE_NAMESPACE, true },
                { "GET", "/system/function/figlet/history", ROUTE_FUNCTION_HISTORY, true },
                { "POST", "/system/function/figlet/history", ROUTE_FUNCTION_HISTORY, false },
                { "GET", "/system/history", ROUTE_HISTORY, true },
                { "GET", "/system/history/functions", ROUTE_HISTORY_FUNCTIONS, true },
        };
        struct route r;
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
                assert_int_equal(route_match(cases[i].method, cases[i].path, &r), 0);
                assert_int_equal(r.id, cases[i].id);
                assert_true(r.auth);
                assert_int_equal(r.method_allowed, cases[i].allowed);
        }
        assert_int_equal(route_match("GET", "/system/function/figlet", &r), 0);
        assert_string_equal(r.name, "figlet");
        assert_int_equal(route_match("GET", "/system/function/figlet/history", &r), 0);
        assert_string_equal(r.name, "figlet");
        assert_int_equal(route_match("GET", "/system/function/figlet/other", &r), -EINVAL);
        assert_int_equal(route_match("GET", "/system/function//history", &r), -EINVAL);
        assert_int_equal(route_match("GET", "/system/function/a.b/history", &r), -EINVAL);
        assert_int_equal(route_match("GET", "/system/history/other", &r), -ENOENT);
        assert_int_equal(route_match("GET", "/system/nothing", &r), -ENOENT);
}

static void test_open_routes(void **state)
{
        struct route r;
        assert_int_equal(route_match("GET", "/healthz", &r), 0);
        assert_int_equal(r.id, ROUTE_HEALTHZ);
        assert_false(r.auth);
        assert_true(r.method_allowed);
        assert_int_equal(route_match("HEAD", "/healthz", &r), 0);
        assert_true(r.method_allowed);
        assert_int_equal(route_match("POST", "/healthz", &r), 0);
        assert_false(r.method_allowed);
        assert_int_equal(route_match("GET", "/", &r), 0);
        assert_int_equal(r.id, ROUTE_ROOT);
        assert_int_equal(route_match("GET", "/ui/", &r), 0);
        assert_int_equal(r.id, ROUTE_UI);
        assert_string_equal(r.rest, "");
        assert_int_equal(route_match("GET", "/ui/app.js", &r), 0);
        assert_string_equal(r.rest, "app.js");
        assert_int_equal(route_match("GET", "/ui/../etc/passwd", &r), -ENOENT);
        assert_int_equal(route_match("GET", "/nothing", &r), -ENOENT);
        assert_int_equal(route_match("GET", "/metrics", &r), 0);
        assert_int_equal(r.id, ROUTE_METRICS);
        assert_false(r.auth);
        assert_int_equal(route_match("DELETE", "/system/images/docker.io/library/busybox:1.36", &r), 0);
        assert_int_equal(r.id, ROUTE_IMAGE);
        assert_true(r.auth);
        assert_true(r.method_allowed);
        assert_string_equal(r.rest, "docker.io/library/busybox:1.36");
        assert_int_equal(route_match("PUT", "/system/images/x", &r), 0);
        assert_false(r.method_allowed);
        assert_int_equal(route_match("POST", "/async-function/f.ns", &r), 0);
        assert_int_equal(r.id, ROUTE_ASYNC_INVOKE);
        assert_true(r.method_allowed);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_invoke_routes),
                cmocka_unit_test(test_bad_names),
                cmocka_unit_test(test_system_routes),
                cmocka_unit_test(test_open_routes),
        };
        return cmocka_run_group_tests_name("router", tests, NULL, NULL);
}
