/* SPDX-License-Identifier: MIT */
/* Unit tests of the distribution API client's pure parts (core/http/registry.c):
 * image references and Docker config.json credentials. The network parts
 * run against a real registry in tests/integration/test_registry.py. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/http/registry.h"

static void check_ref(const char *in, const char *registry, const char *repo, const char *tag, const char *digest,
                      const char *name)
{
        struct registry_ref r = {};
        struct sf_err err = {};
        char *n;

        if (registry_ref_parse(in, &r, &err) < 0)
                fail_msg("%s: %s", in, err.msg);
        assert_string_equal(r.registry, registry);
        assert_string_equal(r.repository, repo);
        if (tag)
                assert_string_equal(r.tag, tag);
        else
                assert_null(r.tag);
        if (digest)
                assert_string_equal(r.digest, digest);
        else
                assert_null(r.digest);
        n = registry_ref_name(&r);
        assert_string_equal(n, name);
        free(n);
        registry_ref_release(&r);
}

#define D "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static void test_refs(void **state)
{
        check_ref("busybox", "docker.io", "library/busybox", "latest", NULL, "docker.io/library/busybox:latest");
        check_ref("openfaas/figlet:0.13", "docker.io", "openfaas/figlet", "0.13", NULL,
                  "docker.io/openfaas/figlet:0.13");
        check_ref("ghcr.io/openfaas/figlet:latest", "ghcr.io", "openfaas/figlet", "latest", NULL,
                  "ghcr.io/openfaas/figlet:latest");
        check_ref("127.0.0.1:5000/fn/hello", "127.0.0.1:5000", "fn/hello", "latest", NULL,
                  "127.0.0.1:5000/fn/hello:latest");
        check_ref("localhost/a/b/c:v1", "localhost", "a/b/c", "v1", NULL, "localhost/a/b/c:v1");
        check_ref("reg.example:443/x@" D, "reg.example:443", "x", NULL, D, "reg.example:443/x@" D);
        check_ref("reg.example/x:v2@" D, "reg.example", "x", "v2", D, "reg.example/x:v2");

        assert_true(registry_ref_has_registry("127.0.0.1:5000/x"));
        assert_true(registry_ref_has_registry("ghcr.io/x/y"));
        assert_true(registry_ref_has_registry("localhost/x"));
        assert_false(registry_ref_has_registry("openfaas/figlet"));
        assert_false(registry_ref_has_registry("busybox:latest"));
}

static void test_bad_refs(void **state)
{
        static const char *const bad[] = {
                "", "reg.example/", "reg.example//x", "reg.example/UPPER", "reg.example/x:", "reg.example/x:-tag",
                "reg.example/x@sha256:abc", "reg.example/x@md5:0123", "reg.example/../x", "reg.example/x y",
                "reg.example/x:t\r\nHost: evil", "reg.ex ample/x", "reg.example/x/", "/x",
        };

        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
                struct registry_ref r = {};
                struct sf_err err = {};
                int rc = registry_ref_parse(bad[i], &r, &err);

                if (rc != -EINVAL)
                        fail_msg("'%s' parsed (%d), registry '%s' repository '%s'", bad[i], rc,
                                 r.registry ? r.registry : "", r.repository ? r.repository : "");
                assert_true(err.msg[0] != '\0');
        }
}

static void test_auths(void **state)
{
        /* "puller:s3:cret" in base64; a password may hold ':'. */
        static const char doc[] =
                "{\"auths\":{\"https://index.docker.io/v1/\":{\"auth\":\"aHViOmh1YnB3\"},"
                "\"127.0.0.1:5000\":{\"auth\":\"cHVsbGVyOnMzOmNyZXQ=\"},"
                "\"ghcr.io\":{\"username\":\"u\",\"password\":\"p\"},"
                "\"empty.example\":{}}}";
        char *u = NULL, *p = NULL;

        assert_int_equal(registry_auths_lookup(doc, "127.0.0.1:5000", &u, &p), 1);
        assert_string_equal(u, "puller");
        assert_string_equal(p, "s3:cret");
        free(u);
        free(p);
        assert_int_equal(registry_auths_lookup(doc, "docker.io", &u, &p), 1);
        assert_string_equal(u, "hub");
        assert_string_equal(p, "hubpw");
        free(u);
        free(p);
        assert_int_equal(registry_auths_lookup(doc, "ghcr.io", &u, &p), 1);
        assert_string_equal(u, "u");
        assert_string_equal(p, "p");
        free(u);
        free(p);
        assert_int_equal(registry_auths_lookup(doc, "127.0.0.1:5001", &u, &p), 0);
        assert_int_equal(registry_auths_lookup(doc, "empty.example", &u, &p), 0);
        assert_int_equal(registry_auths_lookup("{\"auths\":{\"r\":{\"auth\":\"bm9jb2xvbg==\"}}}", "r", &u, &p),
                         -EINVAL);
        assert_int_equal(registry_auths_lookup("not json", "r", &u, &p), -EINVAL);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_refs),
                cmocka_unit_test(test_bad_refs),
                cmocka_unit_test(test_auths),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
