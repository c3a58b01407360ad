/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for core/http/server.c request limits: a real server on a real libuv
 * loop in this process, driven by raw sockets from a client thread, so the
 * exact bytes on the wire are under the test's control.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/base/util.h"
#include "core/http/server.h"
#include "core/http/peers.h"

struct harness {
        uv_loop_t loop;
        uv_async_t done;
        struct http_server *srv;
        int port;
        void (*client)(struct harness *h);
        int failures;
};

static int abort_efd = -1; /* written by on_abort: the client thread waits on it */

static void stream_aborted(struct http_request *req)
{
        uint64_t one = 1;
        assert_int_equal(write(abort_efd, &one, sizeof one), (ssize_t) sizeof one);
        http_stream_end(req); /* the producer finishes what it started */
}

static void on_request(struct http_request *req)
{
        if (strcmp(req->path, "/stream") == 0) {
                assert_int_equal(http_stream_begin(req, 200, "application/x-ndjson", "X-Test: 1\r\n"), 0);
                assert_int_equal(http_stream_write(req, "{\"a\":1}\n", 8), 0);
                assert_int_equal(http_stream_write(req, "", 0), 0); /* empty: nothing sent, no end */
                assert_int_equal(http_stream_write(req, "{\"b\":2}\n", 8), 0);
                http_stream_end(req);
                return;
        }
        if (strcmp(req->path, "/remote") == 0) {
                http_respond(req, 200, "text/plain", NULL, req->remote, strlen(req->remote));
                return;
        }
        if (strcmp(req->path, "/hold") == 0) {
                /* Begin and never end: only the client going away finishes it. */
                req->on_abort = stream_aborted;
                assert_int_equal(http_stream_begin(req, 200, "text/plain", NULL), 0);
                assert_int_equal(http_stream_write(req, "first\n", 6), 0);
                return;
        }

        char body[256];
        int n = snprintf(body, sizeof body, "%s %s %zu", req->method, req->path, req->body_len);
        http_respond(req, 200, "text/plain", NULL, body, (size_t) n);
}

static void on_done(uv_async_t *a)
{
        struct harness *h = a->data;
        uv_close((uv_handle_t *) &h->done, NULL);
        http_server_shutdown(h->srv, NULL);
}

static const struct http_limits base_limits = {
        .max_header_bytes = 1024, .max_headers = 10, .max_url_bytes = 256, .max_body_bytes = 1024,
        .max_connections = 3, .header_timeout_ms = 300, .idle_timeout_ms = 5000,
        .first_byte_timeout_ms = 5000,
};

/* The loop runs on a thread of its own and the client on the test's: a
 * failed assert in the client (cmocka leaves the test by a longjmp on the
 * thread that runs it) then ends the test with its message, and the
 * teardown stops the loop. The server's handlers run on the loop's thread. */
static struct harness H;
static pthread_t loop_thread;
static bool loop_running;

static void *loop_main(void *arg)
{
        uv_run(&H.loop, UV_RUN_DEFAULT);
        return NULL;
}

static int loop_finish(void)
{
        int r;

        if (!loop_running)
                return 0;
        loop_running = false;
        uv_async_send(&H.done);
        pthread_join(loop_thread, NULL);
        r = uv_loop_close(&H.loop);
        http_server_free(H.srv);
        return r;
}

static int teardown(void **s)
{
        (void) loop_finish();
        return 0;
}

static void run_on(void (*client)(struct harness *h), const struct http_limits *lim, const char *listen)
{
        memset(&H, 0, sizeof H);
        H.client = client;
        assert_int_equal(uv_loop_init(&H.loop), 0);
        assert_int_equal(http_server_new(&H.loop, lim, NULL, on_request, &H, &H.srv), 0);
        assert_int_equal(http_server_listen(H.srv, listen), 0);
        H.port = http_server_port(H.srv);
        uv_async_init(&H.loop, &H.done, on_done);
        H.done.data = &H;
        assert_int_equal(pthread_create(&loop_thread, NULL, loop_main, NULL), 0);
        loop_running = true;
        client(&H);
        assert_int_equal(loop_finish(), 0);
}

static void run_with_limits(void (*client)(struct harness *h), const struct http_limits *lim)
{
        run_on(client, lim, "127.0.0.1:0");
}

static void run_with_client(void (*client)(struct harness *h))
{
        run_with_limits(client, &base_limits);
}

/* A connection from the loopback address 127.0.0.<from> (1 for the usual). */
static int connect_from(struct harness *h, int from)
{
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t) h->port) };
        struct sockaddr_in src = { .sin_family = AF_INET };
        struct timeval tv = { .tv_sec = 5 };
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        src.sin_addr.s_addr = htonl((127u << 24) | (uint32_t) from);
        if (fd < 0)
                return -1;
        if (from != 1 && bind(fd, (struct sockaddr *) &src, sizeof src) < 0) {
                (void) close(fd);
                return -1;
        }
        if (connect(fd, (struct sockaddr *) &a, sizeof a) < 0) {
                (void) close(fd);
                return -1;
        }
        (void) setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        return fd;
}

static int connect_to(struct harness *h)
{
        return connect_from(h, 1);
}

static int connect6_to(struct harness *h, const char *ip)
{
        struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_port = htons((uint16_t) h->port) };
        struct timeval tv = { .tv_sec = 5 };
        int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || inet_pton(AF_INET6, ip, &a.sin6_addr) != 1 || connect(fd, (struct sockaddr *) &a, sizeof a) < 0) {
                if (fd >= 0)
                        (void) close(fd);
                return -1;
        }
        (void) setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        return fd;
}

/* Read until the peer closes (or 64 KiB); returns the bytes read. */
static size_t read_all(int fd, char *buf, size_t size)
{
        size_t len = 0;
        for (;;) {
                ssize_t n = recv(fd, buf + len, size - 1 - len, 0);
                if (n <= 0)
                        break;
                len += (size_t) n;
                if (len >= size - 1)
                        break;
        }
        buf[len] = '\0';
        return len;
}

/* Send raw bytes and return the status of the first response; the
 * server must close the connection after an error response. */
static int exchange(struct harness *h, const char *data, size_t len, char *resp, size_t size)
{
        int fd = connect_to(h), status = -1;
        if (fd < 0)
                return -1;
        (void) write_all(fd, data, len);
        read_all(fd, resp, size);
        (void) close(fd);
        if (sscanf(resp, "HTTP/1.1 %d", &status) != 1)
                return -1;
        return status;
}

static char resp[65536];

static void client_basic(struct harness *h)
{
        const char two[] = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
                           "POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc";
        int fd = connect_to(h);
        assert_true(fd >= 0);
        /* Two pipelined requests in one write: two answers, in order. */
        assert_int_equal(write_all(fd, two, sizeof two - 1), 0);
        read_all(fd, resp, sizeof resp);
        (void) close(fd);
        assert_non_null(strstr(resp, "GET /a 0"));
        assert_non_null(strstr(resp, "POST /b 3"));
        assert_true(strstr(resp, "GET /a 0") < strstr(resp, "POST /b 3"));
}

static void client_limits(struct harness *h)
{
        char big[4096];
        int n;

        /* Header bytes over the cap. */
        n = snprintf(big, sizeof big, "GET / HTTP/1.1\r\nX-Big: %01500d\r\n\r\n", 0);
        assert_int_equal(exchange(h, big, (size_t) n, resp, sizeof resp), 431);
        assert_non_null(strstr(resp, "\"error\""));
        assert_non_null(strstr(resp, "application/json"));

        /* Too many headers. */
        n = snprintf(big, sizeof big, "GET / HTTP/1.1\r\n");
        for (int i = 0; i < 12; i++)
                n += snprintf(big + n, sizeof big - (size_t) n, "X-H%d: v\r\n", i);
        n += snprintf(big + n, sizeof big - (size_t) n, "\r\n");
        assert_int_equal(exchange(h, big, (size_t) n, resp, sizeof resp), 431);

        /* URL over the cap. */
        n = snprintf(big, sizeof big, "GET /%0300d HTTP/1.1\r\n\r\n", 0);
        assert_int_equal(exchange(h, big, (size_t) n, resp, sizeof resp), 414);

        /* Declared body over the cap: refused before it is read. */
        n = snprintf(big, sizeof big, "POST / HTTP/1.1\r\nContent-Length: 5000\r\n\r\n");
        assert_int_equal(exchange(h, big, (size_t) n, resp, sizeof resp), 413);

        /* Chunked body that grows over the cap. */
        n = snprintf(big, sizeof big, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
        for (int i = 0; i < 3; i++)
                n += snprintf(big + n, sizeof big - (size_t) n, "200\r\n%0512d\r\n", 0);
        n += snprintf(big + n, sizeof big - (size_t) n, "0\r\n\r\n");
        assert_int_equal(exchange(h, big, (size_t) n, resp, sizeof resp), 413);

        /* Garbage. */
        assert_int_equal(exchange(h, "HELLO\r\n\r\n", 9, resp, sizeof resp), 400);
        assert_non_null(strstr(resp, "malformed"));

        /* Bad percent-encoding in the path. */
        assert_int_equal(exchange(h, "GET /a%zz HTTP/1.1\r\n\r\n", 22, resp, sizeof resp), 400);

        /* The server still serves after all that. */
        assert_int_equal(exchange(h, "GET /ok HTTP/1.1\r\nConnection: close\r\n\r\n", 39, resp, sizeof resp), 200);
}

/* One request on fd, kept alive; its status (the answer is read whole:
 * plain answers here fit one read). */
static int ask(int fd, const char *path)
{
        char req[128];
        int status = -1, n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", path);
        ssize_t got;
        if (write_all(fd, req, (size_t) n) < 0)
                return -1;
        got = recv(fd, resp, sizeof resp - 1, 0);
        if (got <= 0)
                return -1;
        resp[got] = '\0';
        if (sscanf(resp, "HTTP/1.1 %d", &status) != 1)
                return -1;
        return status;
}

/* The peer has closed fd: recv sees the end (within SO_RCVTIMEO). */
static bool closed_by_server(int fd)
{
        char b[256];
        ssize_t n;
        while ((n = recv(fd, b, sizeof b, 0)) > 0)
                ;
        return n == 0;
}

/* Wait until the /hold streams' on_abort has run n times. */
static void wait_aborts(uint64_t n)
{
        struct pollfd pfd = { .fd = abort_efd, .events = POLLIN };
        uint64_t seen = 0, v;
        while (seen < n) {
                assert_int_equal(poll(&pfd, 1, 5000), 1);
                assert_int_equal(read(abort_efd, &v, sizeof v), (ssize_t) sizeof v);
                seen += v;
        }
        assert_int_equal(seen, n);
}

/* Idle connections (never sent a byte, or kept alive after an answer) make
 * room for newcomers in a full table, the longest idle first. */
static void client_evict_idle(struct harness *h)
{
        int b = connect_to(h), c = connect_to(h), a = connect_to(h), d, e, f;
        assert_true(a >= 0 && b >= 0 && c >= 0);
        /* a's answer: a, and b and c before it (accepted in order), are in.
         * Idle since: b, c, then a (after its answer). */
        assert_int_equal(ask(a, "/a"), 200);
        d = connect_to(h);
        assert_true(d >= 0);
        assert_int_equal(ask(d, "/d"), 200); /* served: b made room */
        assert_true(closed_by_server(b));
        e = connect_to(h);
        assert_true(e >= 0);
        assert_int_equal(ask(e, "/e"), 200);
        assert_true(closed_by_server(c));
        f = connect_to(h);
        assert_true(f >= 0);
        assert_int_equal(ask(f, "/f"), 200);
        assert_true(closed_by_server(a)); /* kept alive, idle longer than d and e */
        assert_int_equal(ask(d, "/d2"), 200); /* the others are untouched */
        assert_int_equal(ask(e, "/e2"), 200);
        (void) close(a);
        (void) close(b);
        (void) close(c);
        (void) close(d);
        (void) close(e);
        (void) close(f);
}

/* A table full of busy connections (answers in progress) still says 429. */
static void client_connections_busy(struct harness *h)
{
        static const char hold[] = "GET /hold HTTP/1.1\r\nHost: x\r\n\r\n";
        int fds[3], d;
        for (int i = 0; i < 3; i++) {
                fds[i] = connect_to(h);
                assert_true(fds[i] >= 0);
                assert_int_equal(write_all(fds[i], hold, strlen(hold)), 0);
                assert_true(recv(fds[i], resp, sizeof resp, 0) > 0); /* its answer has begun */
        }
        d = connect_to(h);
        assert_true(d >= 0);
        read_all(d, resp, sizeof resp);
        assert_non_null(strstr(resp, "HTTP/1.1 429"));
        assert_non_null(strstr(resp, "Retry-After: 1"));
        assert_non_null(strstr(resp, "too many connections"));
        (void) close(d);
        for (int i = 0; i < 3; i++)
                (void) close(fds[i]);
        wait_aborts(3);
}

static double mono_s(void)
{
        return (double) now_ns() / 1e9;
}

/* Write a blank line every 50 ms until the server closes fd (at most 3 s). */
static bool trickle_blank_lines_until_closed(int fd)
{
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        double end = mono_s() + 3;
        while (mono_s() < end) {
                if (write(fd, "\r\n", 2) != 2)
                        return false;
                if (poll(&pfd, 1, 50) == 1)
                        return closed_by_server(fd);
        }
        return false;
}

/* A new connection that sends nothing is closed at the first-byte deadline
 * (1 s here); blank lines, which begin no request, do not extend it. A
 * kept-alive connection has the idle timeout (2 s here) instead. The
 * deadlines leave a loaded machine room to send k's request before its own
 * first-byte deadline (at 200 ms, a busy CI host once missed it). */
static void client_first_byte(struct harness *h)
{
        int a = connect_to(h), b = connect_to(h), k = connect_to(h);
        double t0 = mono_s(), took;
        assert_true(a >= 0 && b >= 0 && k >= 0);
        assert_int_equal(ask(k, "/k"), 200);
        /* Lower bounds: no deadline fires early. The upper ones only say
         * that it fires at all: a loaded machine may be seconds late. */
        assert_true(trickle_blank_lines_until_closed(b));
        took = mono_s() - t0;
        assert_true(took >= 0.9 && took < 20);
        assert_true(closed_by_server(a));
        took = mono_s() - t0;
        assert_true(took < 20);
        assert_true(closed_by_server(k));
        took = mono_s() - t0;
        assert_true(took >= 1.9 && took < 30);
        (void) close(a);
        (void) close(b);
        (void) close(k);
}

/* Two connections per address: the third from 127.0.0.1 is told 429 at
 * once (idle ones count, none is evicted for it); 127.0.0.2 is served; a
 * connection that closed gives its place back. */
static void client_per_client(struct harness *h)
{
        int a = connect_to(h), b = connect_to(h), c, d, e;
        assert_true(a >= 0 && b >= 0);
        assert_int_equal(ask(a, "/a"), 200);
        c = connect_to(h);
        assert_true(c >= 0);
        read_all(c, resp, sizeof resp);
        assert_non_null(strstr(resp, "HTTP/1.1 429"));
        assert_non_null(strstr(resp, "Retry-After: 1"));
        assert_non_null(strstr(resp, "too many connections from this address"));
        assert_non_null(strstr(resp, "application/json"));
        d = connect_from(h, 2);
        assert_true(d >= 0);
        assert_int_equal(ask(d, "/d"), 200);
        assert_int_equal(ask(a, "/a2"), 200); /* a and b are untouched */
        assert_int_equal(ask(b, "/b"), 200);
        /* b closes; once the server has closed its side, there is room. */
        static const char bye[] = "GET /bye HTTP/1.1\r\nConnection: close\r\n\r\n";
        assert_int_equal(write_all(b, bye, sizeof bye - 1), 0);
        assert_true(closed_by_server(b));
        e = connect_to(h);
        assert_true(e >= 0);
        assert_int_equal(ask(e, "/e"), 200);
        (void) close(a);
        (void) close(b);
        (void) close(c);
        (void) close(d);
        (void) close(e);
}

/* A dual-stack listener: an IPv4 client arrives as ::ffff:127.0.0.1 and is
 * one client with one connection allowed, shown as plain IPv4; ::1 is
 * another client. */
static void client_dual_stack(struct harness *h)
{
        int a = connect_to(h), b, c;
        assert_true(a >= 0);
        assert_int_equal(ask(a, "/remote"), 200);
        assert_non_null(strstr(resp, "\r\n\r\n127.0.0.1:"));
        b = connect_to(h);
        assert_true(b >= 0);
        read_all(b, resp, sizeof resp);
        assert_non_null(strstr(resp, "HTTP/1.1 429"));
        assert_non_null(strstr(resp, "too many connections from this address"));
        c = connect6_to(h, "::1");
        assert_true(c >= 0);
        assert_int_equal(ask(c, "/remote"), 200);
        assert_non_null(strstr(resp, "\r\n\r\n[::1]:"));
        (void) close(a);
        (void) close(b);
        (void) close(c);
}

static void client_slow_headers(struct harness *h)
{
        int fd = connect_to(h);
        assert_true(fd >= 0);
        /* Start a request and never finish its headers. */
        (void) write_all(fd, "GET / HTTP/1.1\r\nX-Slow: ", 24);
        read_all(fd, resp, sizeof resp);
        (void) close(fd);
        assert_non_null(strstr(resp, "HTTP/1.1 408"));
}

static void client_stream(struct harness *h)
{
        const char two[] = "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n"
                           "GET /after HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
        int fd = connect_to(h);
        assert_true(fd >= 0);
        assert_int_equal(write_all(fd, two, sizeof two - 1), 0);
        read_all(fd, resp, sizeof resp);
        (void) close(fd);
        assert_non_null(strstr(resp, "Transfer-Encoding: chunked\r\n"));
        assert_non_null(strstr(resp, "X-Test: 1\r\n"));
        /* Exact chunk framing, then the terminating chunk. */
        assert_non_null(strstr(resp, "\r\n\r\n8\r\n{\"a\":1}\n\r\n8\r\n{\"b\":2}\n\r\n0\r\n\r\n"));
        /* The connection stays usable: the pipelined request is answered after it. */
        assert_non_null(strstr(resp, "GET /after 0"));

        /* HTTP/1.0: no chunked coding, the body ends at close. */
        fd = connect_to(h);
        static const char old10[] = "GET /stream HTTP/1.0\r\n\r\n";
        assert_int_equal(write_all(fd, old10, strlen(old10)), 0);
        read_all(fd, resp, sizeof resp);
        (void) close(fd);
        assert_null(strstr(resp, "chunked"));
        assert_non_null(strstr(resp, "\r\n\r\n{\"a\":1}\n{\"b\":2}\n"));
}

static void client_stream_abort(struct harness *h)
{
        struct pollfd pfd = { .events = POLLIN };
        uint64_t v = 0;
        int fd = connect_to(h);
        assert_true(fd >= 0);
        static const char hold[] = "GET /hold HTTP/1.1\r\nHost: x\r\n\r\n";
        assert_int_equal(write_all(fd, hold, strlen(hold)), 0);
        assert_true(recv(fd, resp, sizeof resp, 0) > 0); /* the head (and maybe the first chunk) */
        (void) close(fd);
        /* The server notices without writing anything more. */
        pfd.fd = abort_efd;
        assert_int_equal(poll(&pfd, 1, 5000), 1);
        assert_int_equal(read(abort_efd, &v, sizeof v), (ssize_t) sizeof v);
        assert_int_equal(v, 1);
}

static void test_basic(void **s) { run_with_client(client_basic); }
static void test_stream(void **s) { run_with_client(client_stream); }
static void test_stream_abort(void **s) { run_with_client(client_stream_abort); }
static void test_limits(void **s) { run_with_client(client_limits); }
static void test_evict_idle(void **s) { run_with_client(client_evict_idle); }
static void test_connections_busy(void **s) { run_with_client(client_connections_busy); }
static void test_first_byte(void **s)
{
        struct http_limits lim = base_limits;
        lim.first_byte_timeout_ms = 1000;
        lim.idle_timeout_ms = 2000;
        run_with_limits(client_first_byte, &lim);
}
static void test_per_client(void **s)
{
        struct http_limits lim = base_limits;
        lim.max_connections = 10;
        lim.max_connections_per_client = 2;
        run_with_limits(client_per_client, &lim);
}

static void test_dual_stack(void **s)
{
        struct http_limits lim = base_limits;
        int probe = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0), off = 0;
        struct sockaddr_in6 any = { .sin6_family = AF_INET6 };
        bool dual;

        /* Needs IPv6 with IPv4-mapped addresses (net.ipv6.bindv6only = 0). */
        dual = probe >= 0 && setsockopt(probe, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off) == 0 &&
               bind(probe, (struct sockaddr *) &any, sizeof any) == 0;
        if (probe >= 0)
                (void) close(probe);
        if (!dual) {
                skip();
                return;
        }
        lim.max_connections_per_client = 1;
        run_on(client_dual_stack, &lim, "[::]:0");
}

/* Keys: IPv4 and IPv4-mapped IPv6 are one client; counts go up and down. */
static void test_client_keys(void **s)
{
        struct sockaddr_in v4 = { .sin_family = AF_INET, .sin_port = htons(1) };
        struct sockaddr_in6 mapped = { .sin6_family = AF_INET6, .sin6_port = htons(2) };
        struct sockaddr_in6 v6 = { .sin6_family = AF_INET6 };
        struct sockaddr_un { sa_family_t f; } un = { AF_UNIX };
        struct http_client_key k4, km, k6, kx;
        struct http_clients *t;
        size_t n;

        assert_int_equal(inet_pton(AF_INET, "192.0.2.7", &v4.sin_addr), 1);
        assert_int_equal(inet_pton(AF_INET6, "::ffff:192.0.2.7", &mapped.sin6_addr), 1);
        assert_int_equal(inet_pton(AF_INET6, "2001:db8::7", &v6.sin6_addr), 1);
        assert_int_equal(http_client_key_from_sockaddr((struct sockaddr *) &v4, &k4), 0);
        assert_int_equal(http_client_key_from_sockaddr((struct sockaddr *) &mapped, &km), 0);
        assert_int_equal(http_client_key_from_sockaddr((struct sockaddr *) &v6, &k6), 0);
        assert_int_equal(http_client_key_from_sockaddr((struct sockaddr *) &un, &kx), -EAFNOSUPPORT);
        assert_memory_equal(k4.b, km.b, sizeof k4.b);
        assert_memory_not_equal(k4.b, k6.b, sizeof k4.b);

        assert_int_equal(http_clients_new(4, &t), 0);
        assert_int_equal(http_clients_add(t, &k4, &n), 0);
        assert_int_equal(n, 1);
        assert_int_equal(http_clients_add(t, &km, &n), 0);
        assert_int_equal(n, 2);
        assert_int_equal(http_clients_add(t, &k6, &n), 0);
        assert_int_equal(n, 1);
        /* More addresses than buckets: chains work. */
        for (int i = 0; i < 100; i++) {
                struct http_client_key k = k6;
                k.b[15] = (uint8_t) i;
                k.b[14] = 1;
                assert_int_equal(http_clients_add(t, &k, &n), 0);
                assert_int_equal(n, 1);
        }
        http_clients_remove(t, &k4);
        assert_int_equal(http_clients_count(t, &km), 1);
        http_clients_remove(t, &km);
        assert_int_equal(http_clients_count(t, &k4), 0);
        http_clients_remove(t, &k4); /* no count: ignored */
        assert_int_equal(http_clients_count(t, &k4), 0);
        assert_int_equal(http_clients_count(t, &k6), 1);
        http_clients_free(t); /* frees what is left */
        http_clients_free(NULL);
}
static void test_slow_headers(void **s) { run_with_client(client_slow_headers); }

int main(void)
{
        /* As the daemon does: a client that hangs up is an error return, not a signal. */
        struct sigaction sa = { .sa_handler = SIG_IGN };
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_teardown(test_basic, teardown),
                cmocka_unit_test_teardown(test_stream, teardown),
                cmocka_unit_test_teardown(test_stream_abort, teardown),
                cmocka_unit_test_teardown(test_limits, teardown),
                cmocka_unit_test_teardown(test_evict_idle, teardown),
                cmocka_unit_test_teardown(test_connections_busy, teardown),
                cmocka_unit_test_teardown(test_first_byte, teardown),
                cmocka_unit_test_teardown(test_per_client, teardown),
                cmocka_unit_test_teardown(test_client_keys, teardown),
                cmocka_unit_test_teardown(test_dual_stack, teardown),
                cmocka_unit_test_teardown(test_slow_headers, teardown),
        };
        (void) sigaction(SIGPIPE, &sa, NULL);
        abort_efd = eventfd(0, EFD_CLOEXEC);
        return cmocka_run_group_tests_name("http", tests, NULL, NULL);
}
