/* SPDX-License-Identifier: MIT */
/* Unit tests for core/base/util.c: the parsers of sizes, CPU quantities and
 * durations that config files, limits and annotations use; and the lock
 * files of core/base/lockfile.c. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/base/buf.h"
#include "core/base/htab.h"
#include "core/base/lockfile.h"
#include "core/base/timefmt.h"
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

/* A lock held by a live process (another open file description) is not
 * abandoned; once that process is gone (SIGKILL: nothing it could run on
 * the way out) the file is taken, and a removed file is made anew by the
 * next acquirer. */
static void test_lockfile(void **state)
{
        char dir[] = "/tmp/sfaasd-test-lock-XXXXXX";
        int dfd, fd = -1, fd2 = -1, ready[2], status;
        pid_t child;
        struct stat a, b;
        char c;
        (void) state;

        assert_non_null(mkdtemp(dir));
        dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(dfd >= 0);
        assert_int_equal(lockfile_take_abandoned(dfd, "x.lock", &fd), -ENOENT);

        assert_int_equal(pipe2(ready, O_CLOEXEC), 0);
        child = fork();
        assert_true(child >= 0);
        if (child == 0) {
                int cfd;
                if (lockfile_acquire(dfd, "x.lock", false, &cfd) < 0 || write(ready[1], "k", 1) != 1)
                        _exit(1);
                for (;;)
                        pause();
        }
        (void) close(ready[1]);
        assert_int_equal(read(ready[0], &c, 1), 1);
        (void) close(ready[0]);
        assert_int_equal(lockfile_take_abandoned(dfd, "x.lock", &fd), -EAGAIN);
        assert_int_equal(lockfile_acquire(dfd, "x.lock", false, &fd), -EAGAIN);
        assert_int_equal(kill(child, SIGKILL), 0);
        assert_int_equal(waitpid(child, &status, 0), child);

        assert_int_equal(lockfile_take_abandoned(dfd, "x.lock", &fd), 0);
        /* held by us now: not abandoned for anyone else */
        assert_int_equal(lockfile_take_abandoned(dfd, "x.lock", &fd2), -EAGAIN);
        assert_int_equal(fstat(fd, &a), 0);
        lockfile_remove(dfd, "x.lock", fd);
        assert_int_equal(faccessat(dfd, "x.lock", F_OK, AT_SYMLINK_NOFOLLOW), -1);

        assert_int_equal(lockfile_acquire(dfd, "x.lock", true, &fd), 0);
        assert_int_equal(fstat(fd, &b), 0);
        assert_true(b.st_nlink == 1);
        assert_int_equal(lockfile_acquire(dfd, "x.lock", false, &fd2), -EAGAIN);
        lockfile_remove(dfd, "x.lock", fd);
        lockfile_remove(dfd, "x.lock", -1); /* nothing */
        (void) close(dfd);
        assert_int_equal(rmdir(dir), 0);
}

/* RFC 3339 with 0..9 fraction digits, before 1970 and past 2262 too; HTTP dates. */
static void test_time_formats(void **state)
{
        char out[TIME_RFC3339_MAX], http[TIME_HTTP_MAX];

        time_rfc3339(1796561325123456789LL, 9, out);
        assert_string_equal(out, "2026-12-06T12:48:45.123456789Z");
        time_rfc3339(1796561325123456789LL, 3, out);
        assert_string_equal(out, "2026-12-06T12:48:45.123Z");
        time_rfc3339(1796561325123456789LL, 0, out);
        assert_string_equal(out, "2026-12-06T12:48:45Z");
        time_rfc3339(-1, 9, out);
        assert_string_equal(out, "1969-12-31T23:59:59.999999999Z");
        time_rfc3339_ts((time_t) 32503680000LL, 0, 9, out); /* 3000-01-01 */
        assert_string_equal(out, "3000-01-01T00:00:00.000000000Z");
        time_http_date((time_t) 1796561325, http);
        assert_string_equal(http, "Sun, 06 Dec 2026 12:48:45 GMT");
}

/* The bounded buffer: the ceiling, the sticky error, printf, steal. */
static void test_buf(void **state)
{
        struct buf b = BUF_INIT(10);
        char *p;
        size_t n;

        assert_int_equal(buf_appends(&b, "hello"), 0);
        assert_int_equal(buf_printf(&b, "%d", 1234), 0);
        assert_string_equal(b.p, "hello1234");
        assert_int_equal(buf_appends(&b, "xy"), -EMSGSIZE); /* 11 > 10: refused whole */
        assert_string_equal(b.p, "hello1234");
        assert_int_equal(buf_appendc(&b, 'z'), -EMSGSIZE); /* sticky */
        assert_int_equal(b.err, -EMSGSIZE);
        buf_reset(&b);
        assert_int_equal(buf_appendc(&b, 'z'), 0);
        p = buf_steal(&b, &n);
        assert_string_equal(p, "z");
        assert_int_equal(n, 1);
        assert_null(b.p);
        free(p);
        p = buf_steal(&b, &n); /* empty: "" */
        assert_string_equal(p, "");
        free(p);
        {
                struct buf big = { 0 };
                for (int i = 0; i < 10000; i++)
                        assert_int_equal(buf_append(&big, "0123456789", 10), 0);
                assert_int_equal(big.len, 100000);
                assert_int_equal(strlen(big.p), 100000);
                buf_wipe(&big);
                assert_null(big.p);
        }
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

/* core/base/htab.c: elements found by their keys through growth, removed
 * ones gone, colliding hashes kept apart by the caller's compare. */
struct htab_item {
        struct htab_node node;
        char ns[16], name[16];
};

static struct htab_item *htab_item_find(struct htab *t, const char *ns, const char *name, uint64_t h)
{
        struct htab_node *n;
        htab_for_each_hash(n, t, h) {
                struct htab_item *it = htab_entry(n, struct htab_item, node);
                if (strcmp(it->ns, ns) == 0 && strcmp(it->name, name) == 0)
                        return it;
        }
        return NULL;
}

static void test_htab(void **state)
{
        enum { N = 3000 };
        struct htab t = { 0 };
        struct htab_item *items = calloc(N, sizeof *items);
        (void) state;
        assert_non_null(items);
        assert_null(htab_first(&t, 1)); /* zeroed: empty */
        assert_true(htab_hash2("ab", "c") != htab_hash2("a", "bc"));
        for (int i = 0; i < N; i++) {
                (void) snprintf(items[i].ns, sizeof items[i].ns, "ns%d", i % 7);
                (void) snprintf(items[i].name, sizeof items[i].name, "fn%d", i);
                assert_int_equal(htab_add(&t, &items[i].node, htab_hash2(items[i].ns, items[i].name)), 0);
        }
        assert_int_equal(t.n, N);
        assert_true(t.mask + 1 >= N); /* it grew */
        for (int i = 0; i < N; i++)
                assert_ptr_equal(htab_item_find(&t, items[i].ns, items[i].name, htab_hash2(items[i].ns, items[i].name)),
                                 &items[i]);
        assert_null(htab_item_find(&t, "ns1", "fn0", htab_hash2("ns1", "fn0"))); /* fn0 is in ns0 */
        for (int i = 0; i < N; i += 2)
                htab_del(&t, &items[i].node);
        assert_int_equal(t.n, N / 2);
        for (int i = 0; i < N; i++)
                assert_true((htab_item_find(&t, items[i].ns, items[i].name, htab_hash2(items[i].ns, items[i].name)) !=
                             NULL) == (i % 2 == 1));
        /* Equal hashes: both found, each by its own key. */
        {
                struct htab_item a = { .ns = "x", .name = "a" }, b = { .ns = "x", .name = "b" };
                assert_int_equal(htab_add(&t, &a.node, 42), 0);
                assert_int_equal(htab_add(&t, &b.node, 42), 0);
                assert_ptr_equal(htab_item_find(&t, "x", "a", 42), &a);
                assert_ptr_equal(htab_item_find(&t, "x", "b", 42), &b);
                htab_del(&t, &a.node);
                assert_null(htab_item_find(&t, "x", "a", 42));
                assert_ptr_equal(htab_item_find(&t, "x", "b", 42), &b);
        }
        htab_release(&t);
        assert_null(htab_first(&t, 42));
        free(items);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_durations),
                cmocka_unit_test(test_sizes_and_cpu),
                cmocka_unit_test(test_lockfile),
                cmocka_unit_test(test_time_formats),
                cmocka_unit_test(test_buf),
                cmocka_unit_test(test_format_round_trip),
                cmocka_unit_test(test_htab),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
