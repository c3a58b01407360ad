/* SPDX-License-Identifier: MIT */
/* Unit tests for core/runtime/egress_tunnel.c: bytes pass both ways
 * unchanged through the splice relay between two loopback TCP sockets, an
 * end passes as a half-close, and a byte budget is never overrun. The two
 * far ends are driven by a thread with blocking sockets; the loop runs on
 * the test's thread. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/runtime/egress_tunnel.h"

#define UP_BYTES (8u << 20)
#define DOWN_BYTES (3u << 20)

struct fixture {
        uv_loop_t loop;
        struct egress_tunnel t;
        int far[2];             /* [0] the function's end, [1] the destination's */
        uint64_t moved[2];
        uint64_t cap;           /* 0: none */
        int ended, closed;
        int end_err;
        /* what the far ends saw */
        uint64_t got_up, got_down;
        bool up_ok, down_ok;
};

/* Two loopback connections; ret_near: the accepted sides (for the tunnel). */
static void pairs(int ret_far[2], int ret_near[2])
{
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof sa;
        int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        assert_true(l >= 0);
        assert_int_equal(bind(l, (struct sockaddr *) &sa, sizeof sa), 0);
        assert_int_equal(listen(l, 4), 0);
        assert_int_equal(getsockname(l, (struct sockaddr *) &sa, &len), 0);
        for (int i = 0; i < 2; i++) {
                ret_far[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
                assert_int_equal(connect(ret_far[i], (struct sockaddr *) &sa, sizeof sa), 0);
                ret_near[i] = accept4(l, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
                assert_true(ret_near[i] >= 0);
        }
        (void) close(l);
}

static uint8_t pattern(uint64_t i, int dir)
{
        return (uint8_t) ((i * 31 + (uint64_t) dir * 7) >> 3);
}

static bool send_pattern(int fd, uint64_t n, int dir)
{
        static uint8_t buf[65536];
        for (uint64_t off = 0; off < n;) {
                size_t k = n - off < sizeof buf ? (size_t) (n - off) : sizeof buf;
                for (size_t j = 0; j < k; j++)
                        buf[j] = pattern(off + j, dir);
                ssize_t w = send(fd, buf, k, MSG_NOSIGNAL);
                if (w <= 0)
                        return false;
                off += (uint64_t) w;
        }
        return shutdown(fd, SHUT_WR) == 0;
}

/* Read to EOF (or an error); true when every byte matched the pattern. */
static bool recv_pattern(int fd, int dir, uint64_t *ret_n)
{
        uint8_t buf[65536];
        uint64_t off = 0;
        bool ok = true;
        ssize_t r;

        while ((r = recv(fd, buf, sizeof buf, 0)) > 0) {
                for (ssize_t j = 0; j < r; j++)
                        if (buf[j] != pattern(off + (uint64_t) j, dir))
                                ok = false;
                off += (uint64_t) r;
        }
        *ret_n = off;
        return ok && r == 0;
}

/* The destination's end: reads first (so the up pipe fills and the
 * function's side is held back), then answers. */
static void *dest_thread(void *arg)
{
        struct fixture *f = arg;

        f->up_ok = recv_pattern(f->far[1], TUNNEL_UP, &f->got_up);
        (void) send_pattern(f->far[1], DOWN_BYTES, TUNNEL_DOWN);
        return NULL;
}

static void *func_thread(void *arg)
{
        struct fixture *f = arg;

        (void) send_pattern(f->far[0], UP_BYTES, TUNNEL_UP);
        f->down_ok = recv_pattern(f->far[0], TUNNEL_DOWN, &f->got_down);
        return NULL;
}

static size_t budget(void *data)
{
        struct fixture *f = data;
        uint64_t total = f->moved[0] + f->moved[1];

        if (!f->cap)
                return SIZE_MAX;
        return total < f->cap ? (size_t) (f->cap - total) + 1 : 1;
}

static bool moved(void *data, int dir, size_t n)
{
        struct fixture *f = data;

        f->moved[dir] += n;
        if (f->cap && f->moved[0] + f->moved[1] > f->cap) {
                egress_tunnel_close(&f->t);
                return false;
        }
        return true;
}

static void ended(void *data, int err)
{
        struct fixture *f = data;

        f->ended++;
        f->end_err = err;
        egress_tunnel_close(&f->t);
}

static void closed(void *data)
{
        ((struct fixture *) data)->closed++;
}

static const struct egress_tunnel_ops ops = { .budget = budget, .moved = moved, .ended = ended, .closed = closed };

static void run(struct fixture *f)
{
        int near[2];
        pthread_t a, b;

        assert_int_equal(uv_loop_init(&f->loop), 0);
        pairs(f->far, near);
        assert_int_equal(egress_tunnel_init(&f->t, &f->loop, near[0], near[1], false, &ops, f), 0);
        assert_int_equal(f->t.n_open, 2);
        egress_tunnel_run(&f->t);
        assert_int_equal(pthread_create(&a, NULL, func_thread, f), 0);
        assert_int_equal(pthread_create(&b, NULL, dest_thread, f), 0);
        (void) uv_run(&f->loop, UV_RUN_DEFAULT); /* until both polls closed */
        assert_int_equal(pthread_join(a, NULL), 0);
        assert_int_equal(pthread_join(b, NULL), 0);
        assert_int_equal(f->closed, 2);
        assert_int_equal(f->t.n_open, 0);
        assert_int_equal(uv_loop_close(&f->loop), 0);
        (void) close(f->far[0]);
        (void) close(f->far[1]);
}

static void test_both_ways_and_half_close(void **state)
{
        struct fixture f = { 0 };

        (void) state;
        run(&f);
        assert_int_equal(f.ended, 1);
        assert_int_equal(f.end_err, 0);
        assert_true(f.up_ok);
        assert_true(f.down_ok);
        assert_int_equal(f.got_up, UP_BYTES);
        assert_int_equal(f.got_down, DOWN_BYTES);
        assert_int_equal(f.moved[TUNNEL_UP], UP_BYTES);
        assert_int_equal(f.moved[TUNNEL_DOWN], DOWN_BYTES);
}

static void test_budget_never_overrun(void **state)
{
        struct fixture f = { .cap = 100000 };

        (void) state;
        run(&f);
        /* Closed by the cap: the destination saw at most the cap, and the
         * tunnel took in one byte beyond it (which never went out). */
        assert_int_equal(f.ended, 0);
        assert_true(f.got_up <= f.cap);
        assert_int_equal(f.moved[TUNNEL_UP] + f.moved[TUNNEL_DOWN], f.cap + 1);
        assert_int_equal(f.got_down, 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_both_ways_and_half_close),
                cmocka_unit_test(test_budget_never_overrun),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
