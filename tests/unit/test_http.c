/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for core/http.c request limits: a real server on a real libuv
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
#include "core/http.h"

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

static void *client_main(void *arg)
{
        struct harness *h = arg;
        h->client(h);
        uv_async_send(&h->done);
        return NULL;
}

static void run_with_client(void (*client)(struct harness *h))
{
        struct harness h = { .client = client };
        struct http_limits lim = {
                .max_header_bytes = 1024, .max_headers = 10, .max_url_bytes = 256, .max_body_bytes = 1024,
                .max_connections = 3, .header_timeout_ms = 300, .idle_timeout_ms = 5000,
        };
        pthread_t t;

        assert_int_equal(uv_loop_init(&h.loop), 0);
        assert_int_equal(http_server_new(&h.loop, &lim, NULL, on_request, &h, &h.srv), 0);
        assert_int_equal(http_server_listen(h.srv, "127.0.0.1:0"), 0);
        h.port = http_server_port(h.srv);
        uv_async_init(&h.loop, &h.done, on_done);
        h.done.data = &h;
        assert_int_equal(pthread_create(&t, NULL, client_main, &h), 0);
        uv_run(&h.loop, UV_RUN_DEFAULT);
        pthread_join(t, NULL);
        assert_int_equal(uv_loop_close(&h.loop), 0);
        http_server_free(h.srv);
}

static int connect_to(struct harness *h)
{
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t) h->port) };
        struct timeval tv = { .tv_sec = 5 };
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (fd < 0 || connect(fd, (struct sockaddr *) &a, sizeof a) < 0)
                return -1;
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

static void client_connections(struct harness *h)
{
        int a = connect_to(h), b = connect_to(h), c = connect_to(h), d;
        assert_true(a >= 0 && b >= 0 && c >= 0);
        /* Make sure the three are accepted before the fourth arrives. */
        (void) write_all(a, "GET / HTTP/1.1\r\n\r\n", 18);
        assert_true(recv(a, resp, sizeof resp, 0) > 0); /* answered: a is accepted (kept alive) */
        d = connect_to(h);
        assert_true(d >= 0);
        read_all(d, resp, sizeof resp);
        assert_non_null(strstr(resp, "HTTP/1.1 429"));
        assert_non_null(strstr(resp, "Retry-After: 1"));
        assert_non_null(strstr(resp, "too many connections"));
        (void) close(a);
        (void) close(b);
        (void) close(c);
        (void) close(d);
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
static void test_connections(void **s) { run_with_client(client_connections); }
static void test_slow_headers(void **s) { run_with_client(client_slow_headers); }

int main(void)
{
        /* As the daemon does: a client that hangs up is an error return, not a signal. */
        struct sigaction sa = { .sa_handler = SIG_IGN };
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_basic),
                cmocka_unit_test(test_stream),
                cmocka_unit_test(test_stream_abort),
                cmocka_unit_test(test_limits),
                cmocka_unit_test(test_connections),
                cmocka_unit_test(test_slow_headers),
        };
        (void) sigaction(SIGPIPE, &sa, NULL);
        abort_efd = eventfd(0, EFD_CLOEXEC);
        return cmocka_run_group_tests_name("http", tests, NULL, NULL);
}
