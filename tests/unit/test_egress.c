/* SPDX-License-Identifier: MIT */
/* Unit tests for core/http/egress.c: where requests made for tenants may
 * go, address class by address class, with and without the allowlist. */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/base/util.h"
#include "core/http/egress.h"
#include "core/model/egress_grant.h"

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

static bool has_loopback4(const struct egress_host *h)
{
        for (size_t i = 0; i < h->n; i++)
                if (h->addr[i][10] == 0xff && h->addr[i][12] == 127)
                        return true;
        return false;
}

/* In a network namespace of its own (a child; root only): loopback has no
 * address until it is up. The cache must see 127.0.0.1 appear at the first
 * get after the change, with nothing read in between. Exit status: the
 * step that failed. */
static int host_cache_child(void)
{
        struct egress_host_cache c;
        const struct egress_host *h;
        struct ifreq ifr = { 0 };
        int s;

        if (unshare(CLONE_NEWNET) < 0)
                return errno == EPERM ? 77 : 1;
        if (egress_host_cache_open(&c) < 0 || egress_host_cache_get(&c, &h) < 0 || has_loopback4(h))
                return 2;
        if (egress_host_cache_get(&c, &h) < 0 || has_loopback4(h))
                return 3; /* cached: no change yet */
        s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        (void) xsnprintf(ifr.ifr_name, sizeof ifr.ifr_name, "lo");
        if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
                return 4;
        ifr.ifr_flags |= IFF_UP;
        if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
                return 5;
        if (egress_host_cache_get(&c, &h) < 0 || !has_loopback4(h))
                return 6; /* the change was announced before this get */
        egress_host_cache_close(&c);
        egress_host_cache_close(&c);
        return 0;
}

static void test_host_cache(void **state)
{
        int status = 0;
        pid_t pid;

        (void) state;
        if (geteuid() != 0)
                skip();
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0)
                _exit(host_cache_child());
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        if (WEXITSTATUS(status) == 77)
                skip();
        assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_grant_parse(void **state)
{
        static const char *const good[] = { "a.example:443", "A.Example.COM:1, *.x.example:*", "10.0.0.0/8:5432",
                                             "[2001:db8::1]:443", "[fd00::/8]:*", "1.2.3.4:80 forward=8080",
                                             "api.x:443 secret=k header=X-Key", "a.b:1,", "" };
        static const char *const bad[] = { "a.example", "a.example:0", "a.example:70000", "*.com*:1", "a.*.b:1",
                                           "*.com:1", "10.0.0.0/33:1", "::1:443", "[::1:443", "1.2.3:80",
                                           "-a.b:1", "a-.b:1", "a..b:1", ",", "a.b:1 x=y", "a.b:1 header=H",
                                           "*.a.b:1 secret=s", "10.0.0.0/8:1 forward=1", "a.b:* forward=1",
                                           "a.b:1 forward=9, c.d:2 forward=9", "a.b:1 secret=bad/name" };
        struct egress_grant g;
        struct sf_err err;

        (void) state;
        for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
                memset(&err, 0, sizeof err);
                if (egress_grant_parse(good[i], false, &g, &err) < 0)
                        fail_msg("'%s' refused: %s", good[i], err.msg);
                egress_grant_release(&g);
        }
        for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
                memset(&err, 0, sizeof err);
                if (egress_grant_parse(bad[i], false, &g, &err) == 0)
                        fail_msg("'%s' accepted", bad[i]);
        }
        assert_int_equal(egress_grant_parse("a.b:1 secret=s", true, &g, &err), -EINVAL);
        assert_int_equal(egress_grant_parse("A.B.example:443", false, &g, &err), 0);
        assert_string_equal(g.v[0].host, "a.b.example");
        egress_grant_release(&g);
}

static void test_grant_ceiling_and_match(void **state)
{
        struct egress_grant c, g;
        struct sf_err err = { 0 };
        struct sockaddr_in in = { .sin_family = AF_INET };

        (void) state;
        assert_int_equal(egress_grant_parse("api.x.example:443, *.pay.example:443, 10.1.0.0/16:*", true, &c, &err), 0);
        assert_int_equal(egress_grant_parse("api.x.example:443, a.pay.example:443, *.pay.example:443, "
                                            "10.1.2.0/24:5432, 10.1.2.3:80", false, &g, &err), 0);
        assert_null(egress_grant_outside(&g, &c));
        egress_grant_release(&g);
        static const char *const outside[] = { "api.x.example:80", "a.b.pay.example:443", "pay.example:443",
                                               "*.x.example:443", "10.0.0.0/8:1", "10.2.0.1:1", "x.example:443",
                                               "api.x.example:*" };
        for (size_t i = 0; i < sizeof outside / sizeof *outside; i++) {
                assert_int_equal(egress_grant_parse(outside[i], false, &g, &err), 0);
                if (!egress_grant_outside(&g, &c))
                        fail_msg("'%s' passed the ceiling", outside[i]);
                egress_grant_release(&g);
        }
        assert_true(egress_rule_match_name(&c.v[1], "Q.PAY.example", 443));
        assert_false(egress_rule_match_name(&c.v[1], "q.r.pay.example", 443));
        assert_false(egress_rule_match_name(&c.v[1], "pay.example", 443));
        assert_false(egress_rule_match_name(&c.v[0], "api.x.example", 80));
        inet_pton(AF_INET, "10.1.200.3", &in.sin_addr);
        assert_true(egress_rule_match_addr(&c.v[2], (struct sockaddr *) &in, sizeof in, 1));
        inet_pton(AF_INET, "10.2.0.3", &in.sin_addr);
        assert_false(egress_rule_match_addr(&c.v[2], (struct sockaddr *) &in, sizeof in, 1));
        assert_false(egress_name_valid("10.1"));
        assert_false(egress_name_valid("0x7f.1"));
        egress_grant_release(&c);
}

static const char *refused_grant(const struct egress_policy *p, const struct egress_net *nets, size_t n,
                                 const char *ip)
{
        struct sockaddr_in in = { .sin_family = AF_INET };
        struct sockaddr_in6 in6 = { .sin6_family = AF_INET6 };
        struct egress_host h = { 0 };
        uint8_t own[16] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 9, 9, 9 };

        h.addr = &own;
        h.n = 1;
        if (inet_pton(AF_INET, ip, &in.sin_addr) == 1)
                return egress_refused_grant(p, &h, nets, n, (struct sockaddr *) &in, sizeof in);
        assert_int_equal(inet_pton(AF_INET6, ip, &in6.sin6_addr), 1);
        return egress_refused_grant(p, &h, nets, n, (struct sockaddr *) &in6, sizeof in6);
}

static void test_refused_grant(void **state)
{
        struct egress_net nets[2];
        struct egress_policy p = { 0 };
        struct sf_err err = { 0 };

        (void) state;
        assert_int_equal(egress_net_parse("10.9.0.0/16", &nets[0]), 0);
        assert_int_equal(egress_net_parse("0.0.0.0/0", &nets[1]), 0);
        assert_null(refused_grant(NULL, NULL, 0, "93.184.216.34"));
        assert_non_null(refused_grant(NULL, NULL, 0, "10.9.1.1"));           /* private, not granted */
        assert_null(refused_grant(NULL, nets, 1, "10.9.1.1"));               /* granted by range */
        assert_string_equal(refused_grant(NULL, nets, 2, "10.9.9.9"), "an address of this host");
        assert_non_null(strstr(refused_grant(NULL, nets, 2, "127.0.0.1"), "loopback"));
        assert_non_null(strstr(refused_grant(NULL, nets, 2, "::ffff:127.0.0.1"), "loopback"));
        assert_non_null(strstr(refused_grant(NULL, nets, 2, "169.254.169.254"), "metadata"));
        assert_non_null(strstr(refused_grant(NULL, nets, 2, "fe80::1"), "link-local"));
        assert_non_null(strstr(refused_grant(NULL, nets, 2, "0.0.0.0"), "unspecified"));
        /* The operator's exact entries for special addresses open nothing here. */
        assert_int_equal(egress_policy_parse("127.0.0.1/32, 172.16.0.0/12", true, &p, &err), 0);
        assert_non_null(refused_grant(&p, NULL, 0, "127.0.0.1"));
        assert_null(refused_grant(&p, NULL, 0, "172.16.3.4"));
        egress_policy_release(&p);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_default_classes),
                cmocka_unit_test(test_host_addresses),
                cmocka_unit_test(test_parse_errors),
                cmocka_unit_test(test_host_read),
                cmocka_unit_test(test_host_cache),
                cmocka_unit_test(test_grant_parse),
                cmocka_unit_test(test_grant_ceiling_and_match),
                cmocka_unit_test(test_refused_grant),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
