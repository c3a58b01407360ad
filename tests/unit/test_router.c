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
        assert_int_equal(r.policy, POLICY_INVOKE); /* open unless the tenant closed it, as in OpenFaaS CE */
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
                assert_true(r.policy == POLICY_TENANT || r.policy == POLICY_ADMIN || r.policy == POLICY_CREDENTIAL);
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
        assert_int_equal(r.policy, POLICY_PUBLIC);
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
        assert_int_equal(r.policy, POLICY_METRICS);
        assert_int_equal(route_match("DELETE", "/system/images/docker.io/library/busybox:1.36", &r), 0);
        assert_int_equal(r.id, ROUTE_IMAGE);
        assert_int_equal(r.policy, POLICY_TENANT);
        assert_true(r.method_allowed);
        assert_string_equal(r.rest, "docker.io/library/busybox:1.36");
        assert_int_equal(route_match("PUT", "/system/images/x", &r), 0);
        assert_false(r.method_allowed);
        assert_int_equal(route_match("POST", "/async-function/f.ns", &r), 0);
        assert_int_equal(r.id, ROUTE_ASYNC_INVOKE);
        assert_true(r.method_allowed);
}

/* Every route has a rule with a pattern, methods and a policy for both
 * kinds of method: a route added without saying who may call it fails here
 * (and is refused at run time, core/api/access.c). */
static void test_every_route_has_a_policy(void **state)
{
        for (int id = ROUTE_NONE + 1; id < ROUTE__COUNT; id++) {
                const struct route_rule *rule = route_rule((enum route_id) id);
                assert_non_null(rule->pattern);
                assert_true(rule->pattern[0] == '/');
                assert_true(rule->methods[0] != '\0');
                assert_int_not_equal(rule->read, POLICY_UNSET);
                assert_int_not_equal(rule->write, POLICY_UNSET);
                assert_string_not_equal(route_policy_name(rule->read), "unset");
        }
        assert_int_equal(route_rule(ROUTE_NONE)->read, POLICY_UNSET);
        assert_int_equal(route_rule(ROUTE__COUNT)->write, POLICY_UNSET);
}

static void test_tenant_routes(void **state)
{
        static const struct {
                const char *method, *path;
                int match;
                enum route_id id;
                enum route_policy policy;
                bool allowed;
        } cases[] = {
                { "GET", "/system/whoami", 0, ROUTE_WHOAMI, POLICY_CREDENTIAL, true },
                { "GET", "/system/namespaces", 0, ROUTE_NAMESPACES, POLICY_CREDENTIAL, true },
                { "GET", "/system/tenants", 0, ROUTE_TENANTS, POLICY_ADMIN, true },
                { "POST", "/system/tenants", 0, ROUTE_TENANTS, POLICY_ADMIN, true },
                { "GET", "/system/tenants/alpha", 0, ROUTE_TENANT, POLICY_TENANT, true },
                { "DELETE", "/system/tenants/alpha", 0, ROUTE_TENANT, POLICY_ADMIN, true },
                { "GET", "/system/tenants/alpha/tokens", 0, ROUTE_TENANT_TOKENS, POLICY_ADMIN, true },
                { "POST", "/system/tenants/alpha/tokens", 0, ROUTE_TENANT_TOKENS, POLICY_ADMIN, true },
                { "DELETE", "/system/tenants/alpha/tokens/0a1b2c3d4e5f", 0, ROUTE_TENANT_TOKEN, POLICY_ADMIN, true },
                { "GET", "/system/tenants/alpha/tokens/0a1b2c3d4e5f", 0, ROUTE_TENANT_TOKEN, POLICY_ADMIN, false },
                { "DELETE", "/system/tenants/alpha/tokens/XYZ", -EINVAL, ROUTE_TENANT_TOKEN, POLICY_ADMIN, true },
                { "GET", "/system/tenants/alpha/egress", 0, ROUTE_TENANT_EGRESS, POLICY_TENANT, true },
                { "PUT", "/system/tenants/alpha/egress", 0, ROUTE_TENANT_EGRESS, POLICY_ADMIN, true },
                { "GET", "/system/tenants/a.b", -EINVAL, ROUTE_TENANT, POLICY_TENANT, true },
                { "GET", "/system/tenants/alpha/other", -ENOENT, ROUTE_TENANT, POLICY_UNSET, false },
                { "GET", "/system/namespace/alpha", 0, ROUTE_NAMESPACE, POLICY_TENANT, true },
                { "PUT", "/system/namespace/alpha", 0, ROUTE_NAMESPACE, POLICY_ADMIN, true },
                { "POST", "/system/images/prune", 0, ROUTE_IMAGE_PRUNE, POLICY_ADMIN, true },
                { "GET", "/system/images/prune", 0, ROUTE_IMAGE, POLICY_TENANT, true },
                { "POST", "/system/images/pull", 0, ROUTE_IMAGE_PULL, POLICY_TENANT, true },
                { "GET", "/system/images/pull", 0, ROUTE_IMAGE, POLICY_TENANT, true },
                { "GET", "/system/images/pulls", 0, ROUTE_IMAGE_PULLS, POLICY_TENANT, true },
                { "HEAD", "/system/images/pulls", 0, ROUTE_IMAGE_PULLS, POLICY_TENANT, true },
                { "DELETE", "/system/images/pulls", 0, ROUTE_IMAGE, POLICY_TENANT, true },
                { "GET", "/system/registry-auth", 0, ROUTE_REGISTRY_AUTH, POLICY_TENANT, true },
                { "PUT", "/system/registry-auth", 0, ROUTE_REGISTRY_AUTH, POLICY_TENANT, true },
                { "PATCH", "/system/registry-auth", 0, ROUTE_REGISTRY_AUTH, POLICY_TENANT, false },
                { "GET", "/system/history", 0, ROUTE_HISTORY, POLICY_ADMIN, true },
                { "GET", "/system/async/abc", 0, ROUTE_ASYNC_STATUS, POLICY_TENANT, true },
        };
        struct route r;
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
                assert_int_equal(route_match(cases[i].method, cases[i].path, &r), cases[i].match);
                if (cases[i].match == -ENOENT)
                        continue;
                assert_int_equal(r.id, cases[i].id);
                assert_int_equal(r.policy, cases[i].policy);
                assert_int_equal(r.method_allowed, cases[i].allowed);
        }
        assert_int_equal(route_match("GET", "/system/tenants/alpha/tokens", &r), 0);
        assert_string_equal(r.ns, "alpha");
        assert_int_equal(route_match("DELETE", "/system/tenants/alpha/tokens/0a1b", &r), 0);
        assert_string_equal(r.rest, "0a1b");
        assert_int_equal(route_match("GET", "/function/f.beta", &r), 0);
        assert_string_equal(r.ns, "beta");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_invoke_routes),
                cmocka_unit_test(test_bad_names),
                cmocka_unit_test(test_system_routes),
                cmocka_unit_test(test_open_routes),
                cmocka_unit_test(test_every_route_has_a_policy),
                cmocka_unit_test(test_tenant_routes),
        };
        return cmocka_run_group_tests_name("router", tests, NULL, NULL);
}
