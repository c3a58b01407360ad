/* SPDX-License-Identifier: MIT */
/* Unit tests for core/http/egress.c: where requests made for tenants may
 * go, address class by address class, with and without the allowlist. */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/http/egress.h"

/* NULL when allowed, else the refusal's words. */
static const char *check(const struct egress_policy *p, const struct egress_host *h, const char *ip)
{
        struct sockaddr_in in = { .sin_family = AF_INET };
        struct sockaddr_in6 in6 = { .sin6_family = AF_INET6 };

        if (inet_pton(AF_INET, ip, &in.sin_addr) == 1)
                return egress_refused(p, h, (struct sockaddr *) &in, sizeof in);
        assert_int_equal(inet_pton(AF_INET6, ip, &in6.sin6_addr), 1);
        return egress_refused(p, h, (struct sockaddr *) &in6, sizeof in6);
}

static void expect(const struct egress_policy *p, const struct egress_host *h, const char *ip, const char *words)
{
        const char *why = check(p, h, ip);
        if (!words && why)
                fail_msg("%s refused (%s), expected allowed", ip, why);
        if (words && !why)
                fail_msg("%s allowed, expected refused as %s", ip, words);
        if (words && !strstr(why, words))
                fail_msg("%s refused as '%s', expected '%s'", ip, why, words);
}

static void test_default_classes(void **state)
{
        struct egress_policy p = { 0 };
        struct sf_err err = { 0 };

        (void) state;
        assert_int_equal(egress_policy_parse("", false, &p, &err), 0);
        expect(&p, NULL, "93.184.216.34", NULL);
        expect(&p, NULL, "2606:2800:220:1:248:1893:25c8:1946", NULL);
        expect(&p, NULL, "127.0.0.1", "loopback");
        expect(&p, NULL, "127.255.0.9", "loopback");
        expect(&p, NULL, "::1", "loopback");
        expect(&p, NULL, "::ffff:127.0.0.1", "loopback");
        expect(&p, NULL, "64:ff9b::7f00:1", "loopback");      /* NAT64 of 127.0.0.1 */
        expect(&p, NULL, "2002:7f00:1::1", "loopback");       /* 6to4 of 127.0.0.1 */
        expect(&p, NULL, "0.0.0.0", "unspecified");
        expect(&p, NULL, "::", "unspecified");
        expect(&p, NULL, "169.254.169.254", "metadata");
        expect(&p, NULL, "169.254.10.1", "link-local");
        expect(&p, NULL, "fe80::1", "link-local");
        expect(&p, NULL, "fd00:ec2::254", "metadata");
        expect(&p, NULL, "100.100.100.100", "metadata");
        expect(&p, NULL, "168.63.129.16", "metadata");
        expect(&p, NULL, "10.1.2.3", "private");
        expect(&p, NULL, "172.16.0.1", "private");
        expect(&p, NULL, "172.31.255.254", "private");
        expect(&p, NULL, "172.32.0.1", NULL);
        expect(&p, NULL, "192.168.1.1", "private");
        expect(&p, NULL, "::ffff:192.168.1.1", "private");
        expect(&p, NULL, "100.64.0.1", "carrier-grade");
        expect(&p, NULL, "198.18.0.1", "benchmarking");
        expect(&p, NULL, "fd12:3456::1", "unique local");
        expect(&p, NULL, "224.0.0.1", "multicast");
        expect(&p, NULL, "ff02::1", "multicast");
        expect(&p, NULL, "255.255.255.255", "broadcast");
        egress_policy_release(&p);
}

static void test_host_addresses(void **state)
{
        struct egress_policy p = { 0 };
        struct egress_host h = { 0 };
        struct sf_err err = { 0 };
        uint8_t a[3][16] = { { 0 } };
        struct in_addr v4;

        (void) state;
        /* The host: 203.0.113.7 (public-looking), 10.9.8.7, 2001:db8::7. */
        memset(a[0] + 10, 0xff, 2);
        assert_int_equal(inet_pton(AF_INET, "203.0.113.7", &v4), 1);
        memcpy(a[0] + 12, &v4, 4);
        memset(a[1] + 10, 0xff, 2);
        assert_int_equal(inet_pton(AF_INET, "10.9.8.7", &v4), 1);
        memcpy(a[1] + 12, &v4, 4);
        assert_int_equal(inet_pton(AF_INET6, "2001:db8::7", a[2]), 1);
        h.addr = a;
        h.n = 3;

        assert_int_equal(egress_policy_parse("", false, &p, &err), 0);
        expect(&p, &h, "203.0.113.7", "this host");
        expect(&p, &h, "::ffff:203.0.113.7", "this host");
        expect(&p, &h, "2001:db8::7", "this host");
        expect(&p, &h, "203.0.113.8", NULL); /* a neighbour with a public address */
        egress_policy_release(&p);

        /* A range opens private neighbours, never the host itself... */
        assert_int_equal(egress_policy_parse("10.0.0.0/8, 203.0.113.0/24", false, &p, &err), 0);
        expect(&p, &h, "10.1.1.1", NULL);
        expect(&p, &h, "10.9.8.7", "this host");
        expect(&p, &h, "203.0.113.7", "this host");
        expect(&p, &h, "192.168.0.1", "private");
        egress_policy_release(&p);
        /* ... an entry naming the address does. */
        assert_int_equal(egress_policy_parse("10.9.8.7,::1/128,169.254.169.254/32", false, &p, &err), 0);
        expect(&p, &h, "10.9.8.7", NULL);
        expect(&p, &h, "::1", NULL);
        expect(&p, &h, "127.0.0.1", "loopback");
        expect(&p, &h, "169.254.169.254", NULL);
        egress_policy_release(&p);
        /* allow_loopback: both families, nothing else. */
        assert_int_equal(egress_policy_parse("", true, &p, &err), 0);
        expect(&p, &h, "127.0.0.1", NULL);
        expect(&p, &h, "::1", NULL);
        expect(&p, &h, "10.9.8.7", "this host");
        expect(&p, &h, "0.0.0.0", "unspecified");
        egress_policy_release(&p);
        /* Never: multicast, even when named. */
        assert_int_equal(egress_policy_parse("224.0.0.1/32", false, &p, &err), 0);
        expect(&p, &h, "224.0.0.1", "multicast");
        egress_policy_release(&p);
}

static void test_parse_errors(void **state)
{
        static const char *const bad[] = { "10.0.0.0/33", "fd00::/129", "nothost", "10.0.0.0/", ",", "1.2.3.4,,5.6.7.8",
                                           "10.0.0.0/8x" };
        struct egress_policy p = { 0 };
        struct sf_err err = { 0 };

        (void) state;
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
                if (egress_policy_parse(bad[i], false, &p, &err) != -EINVAL)
                        fail_msg("accepted egress_allow '%s'", bad[i]);
        }
        /* Host bits beyond the prefix are ignored. */
        assert_int_equal(egress_policy_parse("10.1.2.3/8", false, &p, &err), 0);
        expect(&p, NULL, "10.200.0.1", NULL);
        egress_policy_release(&p);
}

static void test_host_read(void **state)
{
        struct egress_host h = { 0 };
        bool lo = false;

        (void) state;
        assert_int_equal(egress_host_read(&h), 0);
        for (size_t i = 0; i < h.n; i++)
                if (h.addr[i][10] == 0xff && h.addr[i][12] == 127)
                        lo = true;
        assert_true(lo); /* 127.0.0.1 is one of ours */
        egress_host_release(&h);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_default_classes),
                cmocka_unit_test(test_host_addresses),
                cmocka_unit_test(test_parse_errors),
                cmocka_unit_test(test_host_read),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
