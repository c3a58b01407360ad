/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the client's pure helpers (cmd/client_util.c) and of its
 * HTTP call (cmd/client_http.c over core/http/client.c) against a forked one-shot server.
 *
 * core/http/client.c and cmd/client_http.c are included, not linked: the
 * URL splitting and request serialisation are static, and this test binary
 * links only client_util.o from cmd/ and leaves httpclient.o out (see the
 * Makefile).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "cmd/client.h"
#include "core/http/client.c"
#include "cmd/client_http.c"
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
        long_name[64] = '\0';
        assert_false(client_name_valid(long_name)); /* the daemon's bound: 63 bytes */
        long_name[63] = '\0';
        assert_true(client_name_valid(long_name));
        assert_false(client_name_valid("-fn"));
        assert_false(client_name_valid("_fn"));
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


/* ---- client_http.c ------------------------------------------------------ */

static void check_endpoint(const char *url, const char *host, const char *port, const char *authority,
                           const char *target)
{
        struct endpoint ep = {};
        struct sf_err e = {};

        assert_int_equal(endpoint_parse(url, &ep, &e), 0);
        assert_string_equal(ep.host, host);
        assert_string_equal(ep.port, port);
        assert_string_equal(ep.authority, authority);
        assert_string_equal(ep.target, target);
        endpoint_release(&ep);
}

static void check_endpoint_bad(const char *url, int want, const char *msg_part)
{
        struct endpoint ep = {};
        struct sf_err e = {};

        assert_int_equal(endpoint_parse(url, &ep, &e), want);
        assert_null(ep.host);
        assert_non_null(strstr(e.msg, msg_part));
}

static void test_endpoint_parse(void **state)
{
        check_endpoint("http://127.0.0.1:8080/system/functions", "127.0.0.1", "8080", "127.0.0.1:8080",
                       "/system/functions");
        check_endpoint("http://gw", "gw", "80", "gw", "/");
        check_endpoint("http://gw:/x?a=b+c&d=%26", "gw", "80", "gw:", "/x?a=b+c&d=%26");
        check_endpoint("http://[::1]:9/f", "::1", "9", "[::1]:9", "/f");
        check_endpoint("http://[::1]", "::1", "80", "[::1]", "/");
        check_endpoint("http://gw?q=1", "gw", "80", "gw", "/?q=1");
        check_endpoint("https://gw/x", "gw", "443", "gw", "/x");
        check_endpoint("https://[::1]:8443", "::1", "8443", "[::1]:8443", "/");
        check_endpoint_bad("ftp://gw/x", -EINVAL, "only http:// and https://");
        check_endpoint_bad("http:///x", -EINVAL, "no host");
        check_endpoint_bad("http://:80/x", -EINVAL, "no host");
        check_endpoint_bad("http://admin:pw@gw/x", -EINVAL, "credentials in the URL");
        check_endpoint_bad("http://gw:0/x", -EINVAL, "invalid port");
        check_endpoint_bad("http://gw:65536/x", -EINVAL, "invalid port");
        check_endpoint_bad("http://gw:0000080/x", -EINVAL, "invalid port");
        check_endpoint_bad("http://gw:8a/x", -EINVAL, "invalid port");
        check_endpoint_bad("http://[::1/x", -EINVAL, "IPv6");
        check_endpoint_bad("http://[::1]x/", -EINVAL, "invalid host");
        check_endpoint_bad("http://gw/a b", -EINVAL, "cannot be sent");
        check_endpoint_bad("http://gw/a\r\nX-Evil: 1", -EINVAL, "cannot be sent");
        check_endpoint_bad("http://gw/a#frag", -EINVAL, "cannot be sent");
        check_endpoint_bad("http://gw/\xc3\xa9", -EINVAL, "cannot be sent");
}

static int head_of(const struct httpc_request *req, const char *password, long long body_len, struct buf *b,
                   struct sf_err *e)
{
        struct endpoint ep = {};
        int r;

        assert_int_equal(endpoint_parse("http://gw:8080/system/functions?a=1", &ep, e), 0);
        r = request_head(req, &ep, password, body_len, b, e);
        endpoint_release(&ep);
        return r;
}

static void test_request_head(void **state)
{
        struct buf b = {};
        struct sf_err e = {};
        const char *hs[] = { "X-A: 1", "Host: other" };
        const char *crlf[] = { "X-A: 1\r\nX-Injected: 1" };
        const char *cl[] = { "content-length: 1" };
        const char *te[] = { "Transfer-Encoding: chunked" };
        const char *noname[] = { ": v" };

        assert_int_equal(head_of(&(struct httpc_request) { .method = "GET" }, NULL, -1, &b, &e), 0);
        assert_string_equal(b.p, "GET /system/functions?a=1 HTTP/1.1\r\n"
                                 "Host: gw:8080\r\n"
                                 "User-Agent: sfaasd/" SFAASD_VERSION "\r\n"
                                 "Accept: */*\r\n"
                                 "Connection: close\r\n\r\n");
        buf_wipe(&b);

        /* base64("admin:secret") = YWRtaW46c2VjcmV0 */
        assert_int_equal(head_of(&(struct httpc_request){.method = "PUT",
                                                          .content_type = "application/json",
                                                          .headers = hs,
                                                          .n_headers = 2},
                                 "secret", 12, &b, &e),
                         0);
        assert_string_equal(b.p, "PUT /system/functions?a=1 HTTP/1.1\r\n"
                                 "User-Agent: sfaasd/" SFAASD_VERSION "\r\n"
                                 "Accept: */*\r\n"
                                 "Authorization: Basic YWRtaW46c2VjcmV0\r\n"
                                 "Content-Type: application/json\r\n"
                                 "X-A: 1\r\n"
                                 "Host: other\r\n"
                                 "Content-Length: 12\r\n"
                                 "Connection: close\r\n\r\n");
        buf_wipe(&b);

        /* Refused: injection, our framing headers, bad method or content type. */
        assert_int_equal(head_of(&(struct httpc_request){.method = "POST", .headers = crlf, .n_headers = 1},
                                 NULL, 0, &b, &e),
                         -EINVAL);
        assert_null(strpbrk(e.msg, "\r\n"));
        assert_int_equal(head_of(&(struct httpc_request) { .method = "POST", .headers = cl, .n_headers = 1 },
                                 NULL, 0, &b, &e),
                         -EINVAL);
        assert_non_null(strstr(e.msg, "sets it itself"));
        assert_int_equal(head_of(&(struct httpc_request) { .method = "POST", .headers = te, .n_headers = 1 },
                                 NULL, 0, &b, &e),
                         -EINVAL);
        assert_int_equal(
            head_of(&(struct httpc_request){.method = "POST", .headers = noname, .n_headers = 1}, NULL, 0,
                    &b, &e),
            -EINVAL);
        assert_int_equal(head_of(&(struct httpc_request){.method = "POST", .content_type = "a/b\r\nX: 1"},
                                 NULL, 0, &b, &e),
                         -EINVAL);
        buf_wipe(&b);
}

/* A one-shot server in a child: accept one connection, read the request
 * head plus body_len bytes into a memfd (for the parent to check), then
 * write answer and close; with answer NULL, wait for the client to go. */
struct fake {
        pid_t pid;
        int port, capture;
};

static void fake_start(struct fake *f, const char *answer, size_t answer_len, size_t body_len)
{
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t sl = sizeof(sa);
        int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        assert_true(lfd >= 0);
        assert_int_equal(bind(lfd, (struct sockaddr *) &sa, sizeof(sa)), 0);
        assert_int_equal(listen(lfd, 1), 0);
        assert_int_equal(getsockname(lfd, (struct sockaddr *) &sa, &sl), 0);
        f->port = ntohs(sa.sin_port);
        f->capture = memfd_create("request", MFD_CLOEXEC);
        assert_true(f->capture >= 0);
        f->pid = fork();
        assert_true(f->pid >= 0);
        if (f->pid == 0) {
                char buf[65536];
                size_t got = 0, head_end = 0;
                int cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

                if (cfd < 0)
                        _exit(1);
                /* Test-only framing: the head ends at the first blank line,
                 * then exactly body_len bytes follow (the test knows). */
                for (;;) {
                        ssize_t n;

                        if (head_end && got >= head_end + body_len)
                                break;
                        n = read(cfd, buf, sizeof(buf));
                        if (n <= 0)
                                break;
                        if (write(f->capture, buf, (size_t) n) != n)
                                _exit(1);
                        if (!head_end) {
                                char *all = malloc(got + (size_t) n + 1);
                                if (!all || pread(f->capture, all, got + (size_t) n, 0) !=
                                                (ssize_t) (got + (size_t) n))
                                        _exit(1);
                                all[got + (size_t) n] = '\0';
                                if (strstr(all, "\r\n\r\n"))
                                        head_end = (size_t) (strstr(all, "\r\n\r\n") - all) + 4;
                                free(all);
                        }
                        got += (size_t) n;
                }
                if (answer) {
                        if (write(cfd, answer, answer_len) != (ssize_t) answer_len)
                                _exit(1);
                } else {
                        while (read(cfd, buf, sizeof(buf)) > 0)
                                ;
                }
                _exit(0);
        }
        (void) close(lfd);
}

/* Wait for the child; return what it captured (NUL-terminated). */
static char *fake_finish(struct fake *f, size_t *ret_len)
{
        off_t len;
        char *s;
        int status;

        assert_int_equal(waitpid(f->pid, &status, 0), f->pid);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        len = lseek(f->capture, 0, SEEK_END);
        s = malloc((size_t) len + 1);
        assert_non_null(s);
        assert_int_equal(pread(f->capture, s, (size_t) len, 0), len);
        s[len] = '\0';
        (void) close(f->capture);
        if (ret_len)
                *ret_len = (size_t) len;
        return s;
}

static void fake_client(struct client *c, const struct fake *f, long timeout_ms)
{
        *c = (struct client) { .timeout_ms = timeout_ms };
        c->gateway = xasprintf("http://127.0.0.1:%d", f->port);
        c->password = strdup("secret");
        assert_non_null(c->gateway);
        assert_non_null(c->password);
}

static void test_http_exchange(void **state)
{
        static const char answer[] = "HTTP/1.1 100 Continue\r\n\r\n"
                                     "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n"
                                     "5\r\nhello\r\n0\r\n\r\n";
        const char *q[] = { "name=a b" };
        _cleanup_free_ char *got = NULL, *line = NULL, *host = NULL;
        struct client_response resp = {};
        struct client c;
        struct sf_err e = {};
        struct fake f;

        fake_start(&f, answer, STRLEN(answer), 3);
        fake_client(&c, &f, 5000);
        assert_int_equal(client_do(&c,
                                   &(struct client_request){.method = "POST",
                                                            .path = "/system/images",
                                                            .query = q,
                                                            .n_query = 1,
                                                            .auth = true,
                                                            .has_body = true,
                                                            .body = "a\0c",
                                                            .body_len = 3},
                                   &resp, &e),
                         0);
        got = fake_finish(&f, NULL);
        host = xasprintf("\r\nHost: 127.0.0.1:%d\r\n", f.port);
        assert_true(str_startswith(got, "POST /system/images?name=a+b HTTP/1.1\r\n"));
        assert_non_null(strstr(got, host));
        assert_non_null(strstr(got, "\r\nAuthorization: Basic YWRtaW46c2VjcmV0\r\n"));
        assert_non_null(strstr(got, "\r\nContent-Length: 3\r\nConnection: close\r\n\r\na"));
        assert_int_equal(resp.status, 201);
        assert_int_equal(resp.len, 5);
        assert_string_equal(resp.body, "hello");
        client_response_release(&resp);
        client_release(&c);
}

static void test_http_eof_body_and_sink(void **state)
{
        static const char answer[] = "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nbin\0ary\xff";
        _cleanup_fclose_ FILE *sink = tmpfile();
        _cleanup_free_ char *got = NULL;
        char out[16];
        struct client_response resp = {};
        struct client c;
        struct sf_err e = {};
        struct fake f;

        /* A body that ends at EOF (no Content-Length), binary, into a sink. */
        assert_non_null(sink);
        fake_start(&f, answer, STRLEN(answer), 0);
        fake_client(&c, &f, 5000);
        assert_int_equal(
            client_do(&c, &(struct client_request){.method = "GET", .path = "/f", .sink = sink}, &resp, &e),
            0);
        got = fake_finish(&f, NULL);
        assert_null(strstr(got, "Authorization")); /* auth not asked for */
        assert_null(strstr(got, "Content-Length"));
        assert_int_equal(resp.status, 200);
        assert_int_equal(resp.len, 0);
        rewind(sink);
        assert_int_equal(fread(out, 1, sizeof(out), sink), 8);
        assert_memory_equal(out, "bin\0ary\xff", 8);
        client_response_release(&resp);
        client_release(&c);
}

static void test_http_upload(void **state)
{
        static const char answer[] = "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\n\r\nboom";
        _cleanup_fclose_ FILE *up = tmpfile();
        _cleanup_fclose_ FILE *sink = tmpfile();
        _cleanup_free_ char *got = NULL, *data = malloc(300000);
        struct client_response resp = {};
        struct client c;
        struct sf_err e = {};
        struct fake f;
        size_t len;

        /* A file streamed in chunks, more than one send and one pipe's worth;
         * only upload_len of it goes. A non-2xx body is kept, not sunk. */
        assert_non_null(up);
        assert_non_null(data);
        for (size_t i = 0; i < 300000; i++)
                data[i] = (char) (i * 7 + i / 251);
        assert_int_equal(fwrite(data, 1, 300000, up), 300000);
        rewind(up);
        fake_start(&f, answer, STRLEN(answer), 250000);
        fake_client(&c, &f, 5000);
        assert_int_equal(client_do(&c,
                                   &(struct client_request) { .method = "POST", .path = "/f", .upload = up,
                                                              .upload_len = 250000, .sink = sink },
                                   &resp, &e),
                         0);
        got = fake_finish(&f, &len);
        assert_non_null(strstr(got, "\r\nContent-Length: 250000\r\n"));
        assert_true(len > 250000);
        assert_memory_equal(got + len - 250000, data, 250000);
        assert_int_equal(resp.status, 500);
        assert_string_equal(resp.body, "boom");
        assert_int_equal(ftell(sink), 0);
        client_response_release(&resp);
        client_release(&c);
}

static void check_http_fails(const char *answer, size_t len, long timeout_ms, int want, const char *msg_part)
{
        _cleanup_free_ char *got = NULL;
        struct client_response resp = { .status = -1 };
        struct client c;
        struct sf_err e = {};
        struct fake f;

        fake_start(&f, answer, len, 0);
        fake_client(&c, &f, timeout_ms);
        assert_int_equal(client_do(&c, &(struct client_request){.method = "GET", .path = "/f"}, &resp, &e),
                         want);
        assert_int_equal(resp.status, -1); /* untouched */
        assert_non_null(strstr(e.msg, msg_part));
        client_release(&c); /* closes nothing of the child's; it sees EOF and goes */
        got = fake_finish(&f, NULL);
}

static void test_http_failures(void **state)
{
        static const char cut[] = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc";
        static const char junk[] = "SSH-2.0-OpenSSH_9.6\r\n\r\n";
        _cleanup_free_ char *gw = NULL;
        struct client c = {};
        struct client_response resp = {};
        struct sf_err e = {};
        struct fake f;

        check_http_fails(cut, STRLEN(cut), 5000, -ECONNRESET, "the answer ended early");
        check_http_fails("", 0, 5000, -ECONNRESET, "empty reply");
        check_http_fails(junk, STRLEN(junk), 5000, -EPROTO, "not HTTP");
        check_http_fails(NULL, 0, 200, -ETIMEDOUT, "did not answer within 0.200 s (see --timeout)");

        /* Refused: a port that was just free. */
        fake_start(&f, "", 0, 0);
        {
                int cfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
                struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t) f.port),
                                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
                assert_int_equal(connect(cfd, (struct sockaddr *) &sa, sizeof(sa)), 0);
                (void) close(cfd);
        }
        free(fake_finish(&f, NULL));
        fake_client(&c, &f, 5000);
        gw = xasprintf("cannot reach gateway http://127.0.0.1:%d: Connection refused", f.port);
        assert_int_equal(client_do(&c, &(struct client_request) { .method = "GET", .path = "/f" }, &resp, &e),
                         -ECONNREFUSED);
        assert_string_equal(e.msg, gw);
        client_release(&c);

        /* https: accepted; a pin that is no fingerprint is refused up front. */
        assert_int_equal(client_init(&c, "https://127.0.0.1:1", NULL, NULL, false, 0, &e), 0);
        assert_int_equal(client_set_tls(&c, NULL, "AB:CD", &e), -EINVAL);
        assert_non_null(strstr(e.msg, "not a SHA-256 fingerprint"));
        assert_int_equal(client_set_tls(&c, NULL,
                                        "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789ABCDEF",
                                        &e),
                         0);
        client_release(&c);
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
                cmocka_unit_test(test_endpoint_parse),
                cmocka_unit_test(test_request_head),
                cmocka_unit_test(test_http_exchange),
                cmocka_unit_test(test_http_eof_body_and_sink),
                cmocka_unit_test(test_http_upload),
                cmocka_unit_test(test_http_failures),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
