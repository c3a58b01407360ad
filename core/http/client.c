/* SPDX-License-Identifier: MIT */
/*
 * A blocking HTTP/1.1 client over a plain TCP socket; see core/http/client.h.
 *
 * One request per connection ("Connection: close"): resolve, connect, write
 * the request head (serialised here, from validated parts only), send the
 * body, then feed what comes back to llhttp until the message is complete or
 * the server closes. The socket is non-blocking and every wait is a poll()
 * against one deadline for the whole request, so the timeout bounds connect,
 * send and receive together. The one wait that has no deadline is
 * getaddrinfo(), which libc gives no way to bound.
 */
#include "core/http/client.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <llhttp.h>
#include <netdb.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/base/buf.h"
#include "core/base/cleanup.h"
#include "core/base/util.h"
#include "core/http/tls.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(struct addrinfo *, freeaddrinfo)
DEFINE_TRIVIAL_CLEANUP_FUNC(SSL *, SSL_free)

/* Ceilings (STYLE.md rule 9): what a server may make us hold in memory. */
#define RESPONSE_MAX (64u << 20)   /* default: an API answer (function and image lists) */
#define ERROR_BODY_MAX (64u << 10) /* an error body of a sunk call: only its first line is shown */
#define HEAD_MAX (64u << 10)       /* status line and headers of an answer, together */
#define IO_CHUNK (64u << 10)
#define CONNECT_MAX_MS 10000 /* connecting never waits longer, even with no --timeout */

/* ---- URL ---------------------------------------------------------------- */

/* Where to connect and what to ask, split out of "http[s]://host[:port]/target". */
struct endpoint {
        bool tls;        /* https:// */
        char *host;      /* for getaddrinfo(): an IPv6 literal without its brackets */
        char port[8];    /* decimal */
        char *authority; /* for the Host header: "host[:port]" as written */
        char *target;    /* request target: "/path?query" */
};

static void endpoint_release(struct endpoint *ep)
{
        free(ep->host);
        free(ep->authority);
        free(ep->target);
        *ep = (struct endpoint) {};
}

/* A byte that may appear unescaped in our request target: visible ASCII, no
 * '#' (a fragment is never sent) and none that RFC 3986 excludes outright. */
static bool target_char(char c)
{
        return c > ' ' && c < 0x7f && !strchr("#\"<>\\^`{|}", c);
}

/* Split an absolute http:// or https:// URL. Only what this
 * file can serialise safely is accepted: no userinfo, a numeric port, a
 * target of plain visible ASCII. */
static int endpoint_parse(const char *url, struct endpoint *ret, struct sf_err *err)
{
        _cleanup_free_ char *host = NULL, *authority = NULL, *target = NULL;
        const char *a, *slash, *hend, *colon = NULL;
        char port[8] = "80";
        bool tls = false;

        if (strncasecmp(url, "https://", STRLEN("https://")) == 0) {
                tls = true;
                memcpy(port, "443", 4);
                a = url + STRLEN("https://");
        } else if (strncasecmp(url, "http://", STRLEN("http://")) == 0) {
                a = url + STRLEN("http://");
        } else {
                return sf_err_set(err, -EINVAL, "URL '%s': only http:// and https:// are supported", url);
        }
        slash = a + strcspn(a, "/?#");
        if (slash == a)
                return sf_err_set(err, -EINVAL, "URL '%s' has no host", url);
        for (const char *p = a; p < slash; p++)
                if (*p == '@')
                        return sf_err_set(err, -EINVAL,
                                          "URL '%s': credentials in the URL are not supported",
                                          url);
                else if (!target_char(*p))
                        return sf_err_set(err, -EINVAL, "URL '%s' holds an invalid host", url);

        if (*a == '[') {
                hend = memchr(a, ']', (size_t) (slash - a));
                if (!hend || hend == a + 1)
                        return sf_err_set(err, -EINVAL, "URL '%s' holds an invalid IPv6 address",
                                          url);
                host = strndup(a + 1, (size_t) (hend - a - 1));
                hend++;
                if (hend < slash && *hend != ':')
                        return sf_err_set(err, -EINVAL, "URL '%s' holds an invalid host", url);
                if (hend < slash)
                        colon = hend;
        } else {
                colon = memchr(a, ':', (size_t) (slash - a));
                hend = colon ? colon : slash;
                if (hend == a)
                        return sf_err_set(err, -EINVAL, "URL '%s' has no host", url);
                host = strndup(a, (size_t) (hend - a));
        }
        if (!host)
                return -ENOMEM;
        if (colon && colon + 1 < slash) {
                /* An empty port ("host:") means the default, as in RFC 3986. */
                unsigned long v = 0;
                size_t n = (size_t) (slash - colon - 1);

                for (const char *p = colon + 1; p < slash; p++) {
                        if (*p < '0' || *p > '9' || v > 65535)
                                return sf_err_set(err, -EINVAL, "URL '%s' holds an invalid port",
                                                  url);
                        v = v * 10 + (unsigned long) (*p - '0');
                }
                if (v == 0 || v > 65535 || n > 5)
                        return sf_err_set(err, -EINVAL, "URL '%s' holds an invalid port", url);
                (void) xsnprintf(port, sizeof(port), "%lu", v);
        }
        for (const char *p = slash; *p; p++)
                if (!target_char(*p))
                        return sf_err_set(err, -EINVAL,
                                          "the request path holds a character that cannot be sent");

        authority = strndup(a, (size_t) (slash - a));
        target = *slash == '/' ? strdup(slash) : xasprintf("/%s", slash);
        if (!authority || !target)
                return -ENOMEM;
        *ret = (struct endpoint) {
                .tls = tls,
                .host = TAKE_PTR(host),
                .authority = TAKE_PTR(authority),
                .target = TAKE_PTR(target),
        };
        memcpy(ret->port, port, sizeof(port));
        return 0;
}

/* ---- request head ------------------------------------------------------- */

static bool token_valid(const char *s)
{
        if (!*s)
                return false;
        for (; *s; s++)
                if (!isalnum((unsigned char) *s) && !strchr("!#$%&'*+-.^_`|~", *s))
                        return false;
        return true;
}

/* A header value we may write: no CR, LF, NUL or other control byte but TAB
 * (header injection and request splitting). */
static bool value_valid(const char *s)
{
        for (; *s; s++)
                if (((unsigned char) *s < ' ' && *s != '\t') || *s == 0x7f)
                        return false;
        return true;
}

/* Does the "Name: value" line h name header `name`? */
static bool header_is(const char *h, const char *name)
{
        size_t n = strlen(name);

        return strncasecmp(h, name, n) == 0 && h[n] == ':';
}

/* "Basic base64(user:password)" into b. */
static int add_basic_auth(struct buf *b, const char *user, const char *password)
{
        _cleanup_free_ unsigned char *plain = NULL, *enc = NULL;
        size_t n, enc_len, ulen = strlen(user);
        int r;

        if (size_add(ulen + 1, strlen(password), &n) < 0 || n > INT32_MAX / 2)
                return -ENOMEM;
        enc_len = (n + 2) / 3 * 4 + 1;
        plain = malloc(n);
        enc = malloc(enc_len);
        if (!plain || !enc)
                return -ENOMEM;
        memcpy(plain, user, ulen);
        plain[ulen] = ':';
        memcpy(plain + ulen + 1, password, n - ulen - 1);
        (void) EVP_EncodeBlock(enc, plain, (int) n);
        r = buf_appends(b, "Authorization: Basic ");
        if (r >= 0)
                r = buf_appends(b, (const char *) enc);
        if (r >= 0)
                r = buf_appends(b, "\r\n");
        explicit_bzero(plain, n);
        explicit_bzero(enc, enc_len);
        return r;
}

/* Serialise the request line and headers. Everything written was checked
 * here for the bytes that could end a line early. body_len < 0: no body. */
static int request_head(const struct httpc_request *req, const struct endpoint *ep, const char *password,
                        long long body_len, struct buf *b, struct sf_err *err)
{
        bool own_host = true, own_agent = true, own_accept = true;
        char num[32];
        int r = 0;

        /* Checked already: req->method by httpc_do(), ep->target (the path
         * and query) by endpoint_parse(). */
        if (req->content_type && !value_valid(req->content_type))
                return sf_err_set(err, -EINVAL,
                                  "refusing a content type with a line break or control character");
        for (size_t i = 0; i < req->n_headers; i++) {
                const char *h = req->headers[i], *colon = strchr(h, ':');
                _cleanup_free_ char *name = colon ? strndup(h, (size_t) (colon - h)) : NULL;

                if (colon && !name)
                        return -ENOMEM;
                if (!name || !token_valid(name) || !value_valid(colon + 1))
                        return sf_err_set(err, -EINVAL,
                                          "refusing header '%s': not a valid 'Name: value' line",
                                          value_valid(h) ? h : "(with a control character)");
                /* Framing is ours: a second Content-Length would smuggle a request. */
                if (header_is(h, "Content-Length") || header_is(h, "Transfer-Encoding") ||
                    header_is(h, "Connection") || header_is(h, "Expect") || header_is(h, "Upgrade"))
                        return sf_err_set(err, -EINVAL, "refusing header '%s': sfaasd sets it itself", name);
                if (header_is(h, "Host"))
                        own_host = false;
                if (header_is(h, "User-Agent"))
                        own_agent = false;
                if (header_is(h, "Accept"))
                        own_accept = false;
        }

        r = buf_appends(b, req->method);
        r = r < 0 ? r : buf_appends(b, " ");
        r = r < 0 ? r : buf_appends(b, ep->target);
        r = r < 0 ? r : buf_appends(b, " HTTP/1.1\r\n");
        if (own_host) {
                r = r < 0 ? r : buf_appends(b, "Host: ");
                r = r < 0 ? r : buf_appends(b, ep->authority);
                r = r < 0 ? r : buf_appends(b, "\r\n");
        }
        if (own_agent)
                r = r < 0 ? r : buf_appends(b, "User-Agent: sfaasd/" SFAASD_VERSION "\r\n");
        if (own_accept)
                r = r < 0 ? r : buf_appends(b, "Accept: */*\r\n");
        if (password && r >= 0) {
                const char *user = req->user ? req->user : "admin";
                /* A ':' would end the user early; the rest would be the password. */
                if (strchr(user, ':'))
                        return sf_err_set(err, -EINVAL, "refusing user name '%s': it holds a ':'", user);
                r = add_basic_auth(b, user, password);
        }
        if (req->content_type) {
                r = r < 0 ? r : buf_appends(b, "Content-Type: ");
                r = r < 0 ? r : buf_appends(b, req->content_type);
                r = r < 0 ? r : buf_appends(b, "\r\n");
        }
        for (size_t i = 0; i < req->n_headers; i++) {
                r = r < 0 ? r : buf_appends(b, req->headers[i]);
                r = r < 0 ? r : buf_appends(b, "\r\n");
        }
        if (body_len >= 0) {
                (void) xsnprintf(num, sizeof(num), "%lld", body_len);
                r = r < 0 ? r : buf_appends(b, "Content-Length: ");
                r = r < 0 ? r : buf_appends(b, num);
                r = r < 0 ? r : buf_appends(b, "\r\n");
        }
        r = r < 0 ? r : buf_appends(b, "Connection: close\r\n\r\n");
        return r;
}

/* ---- socket I/O against one deadline ------------------------------------ */

/* When a wait ends: at (ns, monotonic; 0: never), or as soon as cancel_fd
 * (when > 0) becomes readable, which ends the request with -ECANCELED. */
struct until {
        uint64_t at;
        int cancel_fd;
        uint64_t idle_ns;  /* > 0: no single wait lasts longer (an idle timeout) */
        bool *idled;       /* set when the idle limit, not the deadline, ended a wait */
};

/* Milliseconds left before deadline (ns, monotonic; 0: none) for poll(). */
static int ms_left(uint64_t deadline)
{
        uint64_t now;

        if (deadline == 0)
                return -1;
        now = now_ns();
        if (now >= deadline)
                return 0;
        return (deadline - now) / 1000000 > INT32_MAX ? INT32_MAX
                                                      : (int) ((deadline - now + 999999) / 1000000);
}

/* Wait for events on fd; returns the revents, -ETIMEDOUT or -ECANCELED. */
static int wait_fd(int fd, short events, struct until deadline)
{
        struct pollfd pfd[2] = { { .fd = fd, .events = events }, { .fd = deadline.cancel_fd, .events = POLLIN } };
        int r;

        uint64_t at = deadline.at;
        bool by_idle = false;

        if (deadline.idle_ns && (!at || now_ns() + deadline.idle_ns < at)) {
                at = now_ns() + deadline.idle_ns;
                by_idle = true;
        }
        for (;;) {
                r = poll(pfd, deadline.cancel_fd > 0 ? 2 : 1, ms_left(at));
                if (r > 0 && deadline.cancel_fd > 0 && pfd[1].revents)
                        return -ECANCELED;
                if (r > 0)
                        return pfd[0].revents;
                if (r == 0) {
                        if (by_idle && deadline.idled)
                                *deadline.idled = true;
                        return -ETIMEDOUT;
                }
                if (errno != EINTR)
                        return -errno;
        }
}

/* Connect to one address before deadline; returns the fd or -errno. */
static int connect_one(const struct addrinfo *ai, struct until deadline)
{
        _cleanup_close_ int fd = -1;
        socklen_t len = sizeof(int);
        int r, soerr = 0;

        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
        if (fd < 0)
                return -errno;
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
                return TAKE_FD(fd);
        if (errno != EINPROGRESS && errno != EINTR)
                return -errno;
        r = wait_fd(fd, POLLOUT, deadline);
        if (r < 0)
                return r;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
                return -errno;
        if (soerr)
                return -soerr;
        return TAKE_FD(fd);
}

/* Try each address in turn, giving each an equal share of what is left of
 * the connect deadline, so a black-holed first address (an unrouted IPv6)
 * leaves time for the next. Returns the fd, or the last -errno. */
static int connect_any(const struct addrinfo *ais, struct until deadline)
{
        size_t n = 0;
        int r = -ENOENT;

        for (const struct addrinfo *ai = ais; ai; ai = ai->ai_next)
                n++;
        for (const struct addrinfo *ai = ais; ai; ai = ai->ai_next, n--) {
                uint64_t now = now_ns();
                struct until d = deadline;

                if (now >= deadline.at)
                        return -ETIMEDOUT;
                if (n > 1)
                        d.at = now + (deadline.at - now) / n;
                r = connect_one(ai, d);
                if (r >= 0)
                        return r;
        }
        return r;
}

/* The connection: a socket, and with https its TLS session over it. */
struct io {
        int fd;
        SSL *ssl;
};

/* Wait for what the TLS session asked for (after SSL_ERROR_WANT_*). */
static int tls_wait(const struct io *io, int ssl_error, struct until deadline)
{
        int ev = wait_fd(io->fd, ssl_error == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN, deadline);
        return ev < 0 ? ev : 0;
}

/* Send all of buf. Returns 0; 1 if the server has already answered (or
 * closed) and further sending is pointless; -ETIMEDOUT or another -errno.
 * Over TLS there is no telling an early answer from a record the server
 * sends on its own (a session ticket): all is sent, and a server that has
 * closed shows as EPIPE, after which its answer is read all the same. */
static int send_all(const struct io *io, const char *buf, size_t len, struct until deadline)
{
        while (len > 0) {
                ssize_t n;
                int ev;

                if (io->ssl) {
                        int w = SSL_write(io->ssl, buf, len > INT32_MAX ? INT32_MAX : (int) len), e;
                        if (w > 0) {
                                buf += w;
                                len -= (size_t) w;
                                continue;
                        }
                        e = SSL_get_error(io->ssl, w);
                        ERR_clear_error();
                        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
                                int r = tls_wait(io, e, deadline);
                                if (r < 0)
                                        return r;
                                continue;
                        }
                        return errno ? -errno : -EPIPE;
                }
                ev = wait_fd(io->fd, POLLOUT | POLLIN, deadline);
                if (ev < 0)
                        return ev;
                if (ev & (POLLIN | POLLHUP))
                        return 1;
                /* MSG_NOSIGNAL: a closed peer is EPIPE here, not a SIGPIPE that kills us. */
                n = send(io->fd, buf, len, MSG_NOSIGNAL);
                if (n < 0) {
                        if (errno == EAGAIN || errno == EINTR)
                                continue;
                        return -errno;
                }
                buf += n;
                len -= (size_t) n;
        }
        return 0;
}

/* Read what arrives: > 0 bytes, 0 at the end of the stream, -errno
 * (-ETIMEDOUT, -ECANCELED, -ECONNRESET, -EPROTO for a TLS failure). */
static ssize_t io_recv(const struct io *io, char *buf, size_t size, struct until deadline)
{
        for (;;) {
                ssize_t n;
                int ev;

                if (io->ssl) {
                        int r = SSL_read(io->ssl, buf, size > INT32_MAX ? INT32_MAX : (int) size), e;
                        if (r > 0)
                                return r;
                        e = SSL_get_error(io->ssl, r);
                        ERR_clear_error();
                        if (e == SSL_ERROR_ZERO_RETURN)
                                return 0;
                        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
                                int w = tls_wait(io, e, deadline);
                                if (w < 0)
                                        return w;
                                continue;
                        }
                        if (e == SSL_ERROR_SYSCALL && errno)
                                return -errno;
                        return -EPROTO;
                }
                ev = wait_fd(io->fd, POLLIN, deadline);
                if (ev < 0)
                        return ev;
                n = recv(io->fd, buf, size, 0);
                if (n < 0 && (errno == EAGAIN || errno == EINTR))
                        continue;
                return n < 0 ? -errno : n;
        }
}

/* ---- response ----------------------------------------------------------- */

/* Where the body goes: decided when the headers are complete and the status
 * is known. Reached from llhttp's callbacks through parser.data. */
struct receiver {
        llhttp_t parser;
        bool head_request;
        FILE *sink;
        int (*sink_fn)(void *data, const void *buf, size_t n);
        void *sink_data;
        int sink_error;            /* what sink_fn returned, when negative */
        const char *const *capture;
        size_t n_capture;
        struct buf field, value;   /* the header being parsed */
        char *captured[HTTPC_CAPTURE_MAX];
        bool to_sink, informational, complete;
        size_t max, max_body, head_bytes;
        long status;
        struct buf body;
        bool truncated, too_large, head_too_large;
        int write_errno;
};

static int count_head(llhttp_t *p, const char *at, size_t n)
{
        struct receiver *rc = p->data;

        rc->head_bytes += n;
        if (rc->head_bytes > HEAD_MAX) {
                rc->head_too_large = true;
                return -1;
        }
        return 0;
}

/* Header capture: a name and a value may come in pieces. */
static int on_field(llhttp_t *p, const char *at, size_t n)
{
        struct receiver *rc = p->data;

        if (count_head(p, at, n) < 0)
                return -1;
        if (rc->n_capture && buf_append(&rc->field, at, n) < 0) {
                rc->write_errno = ENOMEM;
                return -1;
        }
        return 0;
}

static int on_value(llhttp_t *p, const char *at, size_t n)
{
        struct receiver *rc = p->data;

        if (count_head(p, at, n) < 0)
                return -1;
        if (rc->n_capture && rc->value.len + n <= HTTPC_CAPTURE_VALUE_MAX && buf_append(&rc->value, at, n) < 0) {
                rc->write_errno = ENOMEM;
                return -1;
        }
        return 0;
}

static int on_value_complete(llhttp_t *p)
{
        struct receiver *rc = p->data;

        for (size_t i = 0; i < rc->n_capture && i < HTTPC_CAPTURE_MAX; i++) {
                if (rc->captured[i] || strlen(rc->capture[i]) != rc->field.len ||
                    strncasecmp(rc->capture[i], rc->field.p ? rc->field.p : "", rc->field.len) != 0)
                        continue;
                rc->captured[i] = strndup(rc->value.p ? rc->value.p : "", rc->value.len);
                if (!rc->captured[i]) {
                        rc->write_errno = ENOMEM;
                        return -1;
                }
        }
        rc->field.len = rc->value.len = 0;
        return 0;
}

static int on_headers_complete(llhttp_t *p)
{
        struct receiver *rc = p->data;

        rc->status = llhttp_get_status_code(p);
        /* 1xx answers (100 Continue, 103 Early Hints) precede the real one. */
        rc->informational = rc->status >= 100 && rc->status < 200 && rc->status != 101;
        if (rc->informational)
                for (size_t i = 0; i < HTTPC_CAPTURE_MAX; i++) {
                        free(rc->captured[i]);
                        rc->captured[i] = NULL;
                }
        rc->to_sink = (rc->sink || rc->sink_fn) && rc->status >= 200 && rc->status < 300;
        rc->max = rc->sink || rc->sink_fn ? ERROR_BODY_MAX : rc->max_body;
        /* A HEAD answer announces a length but carries no body. */
        return rc->head_request || rc->informational ? 1 : 0;
}

static int on_body(llhttp_t *p, const char *data, size_t n)
{
        struct receiver *rc = p->data;

        if (rc->to_sink && rc->sink_fn) {
                int r = rc->sink_fn(rc->sink_data, data, n);
                if (r < 0) {
                        rc->sink_error = r;
                        return -1;
                }
                return 0;
        }
        if (rc->to_sink) {
                if (fwrite(data, 1, n, rc->sink) != n) {
                        rc->write_errno = errno ? errno : EIO;
                        return -1;
                }
                return 0;
        }
        if (n > rc->max - rc->body.len) {
                if (!rc->sink && !rc->sink_fn) {
                        rc->too_large = true;
                        return -1;
                }
                rc->truncated = true;
                n = rc->max - rc->body.len; /* keep the start, swallow the rest */
                if (n == 0)
                        return 0;
        }
        if (buf_append(&rc->body, data, n) < 0) {
                rc->write_errno = ENOMEM;
                return -1;
        }
        return 0;
}

static int on_message_complete(llhttp_t *p)
{
        struct receiver *rc = p->data;

        if (rc->informational) {
                rc->informational = false;
                rc->status = 0;
                rc->head_bytes = 0;
                return 0; /* the next message is the answer */
        }
        rc->complete = true;
        return HPE_PAUSED; /* stop: anything after it is not ours */
}

static const llhttp_settings_t parser_settings = {
        .on_status = count_head,
        .on_header_field = on_field,
        .on_header_value = on_value,
        .on_header_value_complete = on_value_complete,
        .on_headers_complete = on_headers_complete,
        .on_body = on_body,
        .on_message_complete = on_message_complete,
};

/* Why the parser stopped, as the one line a person needs. */
static int parse_error(const struct httpc_request *c, struct receiver *rc, struct sf_err *err)
{
        if (rc->too_large)
                return sf_err_set(err, -EFBIG, "the answer of %s is larger than %zu bytes", c->peer,
                                  rc->max);
        if (rc->head_too_large)
                return sf_err_set(err, -EFBIG, "the answer of %s has headers larger than %u KiB",
                                  c->peer, HEAD_MAX >> 10);
        if (rc->write_errno == ENOMEM)
                return -ENOMEM;
        if (rc->sink_error)
                return sf_err_errno(err, rc->sink_error, "cannot take the answer of %s", c->peer);
        if (rc->write_errno)
                return sf_err_set(err, -rc->write_errno, "cannot write the answer: %s",
                                  strerror(rc->write_errno));
        return sf_err_set(err, -EPROTO, "%s answered something that is not HTTP: %s", c->peer,
                          llhttp_get_error_reason(&rc->parser));
}

static int timeout_error(const struct httpc_request *c, struct until deadline, struct sf_err *err)
{
        if (c->idle_timeout_ms > 0 && deadline.idled && *deadline.idled)
                return sf_err_set(err, -ETIMEDOUT, "%s sent nothing for %ld.%03ld s", c->peer,
                                  c->idle_timeout_ms / 1000, c->idle_timeout_ms % 1000);
        return sf_err_set(err, -ETIMEDOUT, "%s did not answer within %ld.%03ld s%s", c->peer,
                          c->timeout_ms / 1000, c->timeout_ms % 1000, c->timeout_hint ? c->timeout_hint : "");
}

/* Read and parse until the answer is complete. send_errno: why sending
 * failed, if it did; the answer may still have arrived (a server may refuse
 * a body early, e.g. 401 or 413, then close). */
static int receive(const struct httpc_request *c, const struct io *io, struct receiver *rc, struct until deadline,
                   int send_errno, struct sf_err *err)
{
        _cleanup_free_ char *buf = malloc(IO_CHUNK);
        bool got_bytes = false;

        if (!buf)
                return -ENOMEM;
        for (;;) {
                llhttp_errno_t e;
                ssize_t n = io_recv(io, buf, IO_CHUNK, deadline);

                if (n == -ETIMEDOUT)
                        return timeout_error(c, deadline, err);
                if (n == -ECANCELED)
                        return sf_err_errno(err, (int) n, "%s", c->peer);
                if (n == -EPROTO)
                        return sf_err_set(err, -EPROTO, "%s broke the TLS session", c->peer);
                if (n < 0 || (n == 0 && send_errno && !got_bytes))
                        return sf_err_set(err, -ECONNRESET, "%s broke the connection: %s", c->peer,
                                          strerror(send_errno ? send_errno : (int) -n));
                if (n == 0) {
                        /* EOF: ends a body without Content-Length, or cuts one short. */
                        (void) llhttp_finish(&rc->parser);
                        if (rc->complete)
                                return 0;
                        return sf_err_set(err, -ECONNRESET, "%s broke the connection: %s", c->peer,
                                          got_bytes ? "the answer ended early" : "empty reply");
                }
                got_bytes = true;
                e = llhttp_execute(&rc->parser, buf, (size_t) n);
                if (rc->complete)
                        return 0;
                if (e == HPE_PAUSED_UPGRADE) {
                        /* 101 Switching Protocols, which we never ask for: report the status. */
                        rc->complete = true;
                        return 0;
                }
                if (e != HPE_OK)
                        return parse_error(c, rc, err);
        }
}

/* ---- TLS --------------------------------------------------------------- */

DEFINE_TRIVIAL_CLEANUP_FUNC(SSL_CTX *, SSL_CTX_free)

/* A pin as 64 upper-case hex digits: "AB:CD:...", "abcd...", "sha256:..." */
static int pin_normalise(const char *pin, char out[65])
{
        size_t n = 0;

        if (strncasecmp(pin, "sha256:", 7) == 0 || strncasecmp(pin, "sha256/", 7) == 0)
                pin += 7;
        for (; *pin; pin++) {
                if (*pin == ':')
                        continue;
                if (!isxdigit((unsigned char) *pin) || n == 64)
                        return -EINVAL;
                out[n++] = (char) toupper((unsigned char) *pin);
        }
        out[n] = '\0';
        return n == 64 ? 0 : -EINVAL;
}

int httpc_pin_check(const char *pin)
{
        char norm[65];
        return pin_normalise(pin, norm);
}

/* Is host an IP literal (verified against the certificate's IP names)? */
static bool host_is_ip(const char *host)
{
        unsigned char a[16];
        return inet_pton(AF_INET, host, a) == 1 || inet_pton(AF_INET6, host, a) == 1;
}

/* The TLS session over io->fd: TLS 1.2 or 1.3, the server verified by the
 * system's CA store, or by req->cacert, with its name (or IP address)
 * checked; or, with req->tls_pin, by the SHA-256 fingerprint of its
 * certificate alone (a self-signed server's). */
static int tls_connect(struct io *io, const struct endpoint *ep, const struct httpc_request *req, struct until deadline,
                       struct sf_err *err)
{
        static const unsigned char alpn[] = { 8, 'h', 't', 't', 'p', '/', '1', '.', '1' };
        _cleanup_(SSL_CTX_freep) SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
        _cleanup_(SSL_freep) SSL *ssl = NULL;
        char pin[65] = "";

        if (!ctx)
                return -ENOMEM;
        if (req->tls_pin && pin_normalise(req->tls_pin, pin) < 0)
                return sf_err_set(err, -EINVAL, "'%s' is not a SHA-256 fingerprint (64 hex digits, ':' allowed)",
                                  req->tls_pin);
        if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
            SSL_CTX_set_cipher_list(ctx, "ECDHE+AESGCM:ECDHE+CHACHA20") != 1 ||
            SSL_CTX_set_alpn_protos(ctx, alpn, sizeof alpn) != 0) {
                ERR_clear_error();
                return sf_err_set(err, -EINVAL, "TLS: cannot set up the client");
        }
        SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
        if (pin[0]) {
                SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
        } else {
                int ok = req->cacert ? SSL_CTX_load_verify_locations(ctx, req->cacert, NULL)
                                     : SSL_CTX_set_default_verify_paths(ctx);
                if (ok == 1 && req->cacert && req->cacert_and_system)
                        ok = SSL_CTX_set_default_verify_paths(ctx);
                if (ok != 1) {
                        ERR_clear_error();
                        return sf_err_set(err, -EINVAL, "cannot load the CA certificates%s%s%s",
                                          req->cacert ? " '" : " of this system", req->cacert ? req->cacert : "",
                                          req->cacert ? "'" : "");
                }
                SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
        }
        ssl = SSL_new(ctx);
        if (!ssl || SSL_set_fd(ssl, io->fd) != 1)
                return -ENOMEM;
        if (host_is_ip(ep->host)) {
                if (!pin[0] && X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), ep->host) != 1)
                        return -ENOMEM;
        } else {
                /* SNI for a name, never for an address (RFC 6066 3). */
                if (SSL_set_tlsext_host_name(ssl, ep->host) != 1 || (!pin[0] && SSL_set1_host(ssl, ep->host) != 1))
                        return -ENOMEM;
        }
        for (;;) {
                int r = SSL_connect(ssl), e;
                if (r == 1)
                        break;
                e = SSL_get_error(ssl, r);
                if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
                        struct io tmp = { .fd = io->fd };
                        ERR_clear_error();
                        r = tls_wait(&tmp, e, deadline);
                        if (r == -ETIMEDOUT)
                                return timeout_error(req, deadline, err);
                        if (r < 0)
                                return sf_err_errno(err, r, "%s", req->peer);
                        continue;
                }
                if (SSL_get_verify_result(ssl) != X509_V_OK) {
                        long v = SSL_get_verify_result(ssl);
                        ERR_clear_error();
                        return sf_err_set(err, -EPROTO, "cannot verify the certificate of %s: %s (%s)", req->peer,
                                          X509_verify_cert_error_string(v),
                                          req->verify_hint ? req->verify_hint
                                                           : "trust it with --cacert FILE, or pin it with "
                                                             "--tls-fingerprint");
                }
                {
                        unsigned long oe = ERR_peek_last_error();
                        const char *why = oe ? ERR_reason_error_string(oe) : NULL;
                        ERR_clear_error();
                        return sf_err_set(err, -EPROTO, "TLS with %s failed: %s", req->peer,
                                          why ? why : (e == SSL_ERROR_SYSCALL ? "the connection was closed"
                                                                              : "handshake failure"));
                }
        }
        if (pin[0]) {
                X509 *cert = SSL_get0_peer_certificate(ssl);
                char fp[HTTP_TLS_FINGERPRINT_MAX], got[65];
                if (http_tls_cert_fingerprint(cert, fp) < 0 || pin_normalise(fp, got) < 0)
                        return sf_err_set(err, -EPROTO, "%s sent no certificate", req->peer);
                if (strcmp(got, pin) != 0)
                        return sf_err_set(err, -EPROTO,
                                          "the certificate of %s has the SHA-256 fingerprint %s, not the one pinned",
                                          req->peer, fp);
        }
        io->ssl = TAKE_PTR(ssl);
        return 0;
}

/* ---- the call ----------------------------------------------------------- */

/* Send the body from memory or, in chunks, from the upload FILE. Returns 0,
 * 1 when the server answered early, or -errno (read_errno set when the
 * FILE failed rather than the socket). */
static int send_body(const struct io *io, const struct httpc_request *req, struct until deadline, int *read_errno)
{
        _cleanup_free_ char *chunk = NULL;
        off_t left = req->upload_len;

        if (!req->upload)
                return req->has_body && req->body_len > 0 ? send_all(io, req->body, req->body_len, deadline)
                                                          : 0;
        chunk = malloc(IO_CHUNK);
        if (!chunk)
                return -ENOMEM;
        while (left > 0) {
                size_t want = left > (off_t) IO_CHUNK ? IO_CHUNK : (size_t) left;
                size_t got = fread(chunk, 1, want, req->upload);
                int r;

                if (got == 0) {
                        *read_errno = ferror(req->upload) ? (errno ? errno : EIO) : ENODATA;
                        return -*read_errno;
                }
                r = send_all(io, chunk, got, deadline);
                if (r != 0)
                        return r;
                left -= (off_t) got;
        }
        return 0;
}

void httpc_response_release(struct httpc_response *r)
{
        if (!r)
                return;
        free(r->body);
        r->body = NULL;
        r->len = 0;
        for (size_t i = 0; i < HTTPC_CAPTURE_MAX; i++) {
                free(r->captured[i]);
                r->captured[i] = NULL;
        }
}

int httpc_url_check(const char *url, struct sf_err *err)
{
        struct endpoint ep = {};
        int r = endpoint_parse(url, &ep, err);

        endpoint_release(&ep);
        return r;
}

int httpc_url_receiver(const char *url, char *buf, size_t size)
{
        struct endpoint ep = {};
        struct sf_err err = {};
        int r = endpoint_parse(url, &ep, &err);

        if (r >= 0)
                r = xsnprintf(buf, size, "%s:%s", ep.host, ep.port);
        for (char *p = buf; r >= 0 && *p; p++)
                *p = (char) tolower((unsigned char) *p);
        endpoint_release(&ep);
        return r < 0 ? r : 0;
}

/* Like connect_any(), over the addresses addr_ok accepts only (all when it
 * is NULL). -EACCES when it accepts none. */
static int connect_allowed(const struct httpc_request *req, const struct addrinfo *ais, struct until deadline)
{
        size_t n = 0;
        int r = -EACCES;

        if (!req->addr_ok)
                return connect_any(ais, deadline);
        for (const struct addrinfo *ai = ais; ai; ai = ai->ai_next)
                if (req->addr_ok(ai->ai_addr, ai->ai_addrlen, req->addr_data))
                        n++;
        for (const struct addrinfo *ai = ais; ai && n > 0; ai = ai->ai_next) {
                uint64_t now = now_ns();
                struct until d = deadline;

                if (!req->addr_ok(ai->ai_addr, ai->ai_addrlen, req->addr_data))
                        continue;
                if (now >= deadline.at)
                        return -ETIMEDOUT;
                if (n > 1)
                        d.at = now + (deadline.at - now) / n;
                n--;
                r = connect_one(ai, d);
                if (r >= 0)
                        return r;
        }
        return r;
}

int httpc_do(const struct httpc_request *req, struct httpc_response *ret, struct sf_err *err)
{
        _cleanup_(freeaddrinfop) struct addrinfo *ais = NULL;
        _cleanup_close_ int fd = -1;
        struct io io = { .fd = -1 };
        struct endpoint ep = {};
        struct buf head = {};
        struct receiver rc = { .sink = req->sink,
                               .sink_fn = req->sink_fn,
                               .sink_data = req->sink_data,
                               .capture = req->capture,
                               .n_capture = req->n_capture,
                               .max_body = req->max_body ? req->max_body : RESPONSE_MAX };
        bool idled = false;
        struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
        uint64_t start = now_ns();
        struct until deadline = { .cancel_fd = req->cancel_fd }, connect_deadline = deadline;
        long long body_len = -1;
        int r, read_errno = 0, send_errno = 0;

        if (!req->method || !token_valid(req->method))
                return sf_err_set(err, -EINVAL, "invalid HTTP method");
        rc.head_request = strcmp(req->method, "HEAD") == 0;
        r = endpoint_parse(req->url, &ep, err);
        if (r < 0)
                goto out;

        if (req->upload)
                body_len = (long long) req->upload_len;
        else if (req->has_body)
                body_len = (long long) req->body_len;
        else if (!strcmp(req->method, "POST") || !strcmp(req->method, "PUT") || !strcmp(req->method, "PATCH"))
                body_len = 0; /* RFC 9110 8.6: say "no content" where the method expects some */
        r = request_head(req, &ep, req->password, body_len, &head, err);
        if (r < 0)
                goto out;

        if (req->timeout_ms > 0)
                deadline.at = start + (uint64_t) req->timeout_ms * 1000000;
        if (req->idle_timeout_ms > 0) {
                deadline.idle_ns = (uint64_t) req->idle_timeout_ms * 1000000;
                deadline.idled = &idled;
        }
        connect_deadline.at = start + (uint64_t) CONNECT_MAX_MS * 1000000;
        if (deadline.at && deadline.at < connect_deadline.at)
                connect_deadline.at = deadline.at;

        r = getaddrinfo(ep.host, ep.port, &hints, &ais);
        if (r == EAI_MEMORY) {
                r = -ENOMEM;
                goto out;
        }
        if (r != 0) {
                r = sf_err_set(err, -EHOSTUNREACH, "cannot reach %s: cannot resolve host", req->peer);
                goto out;
        }
        fd = connect_allowed(req, ais, connect_deadline);
        if (fd == -ETIMEDOUT && connect_deadline.at == deadline.at) {
                r = timeout_error(req, deadline, err);
                goto out;
        }
        if (fd == -EACCES && req->addr_ok) {
                r = sf_err_set(err, -EACCES, "cannot reach %s: its address is not allowed", req->peer);
                goto out;
        }
        if (fd < 0) {
                r = sf_err_set(err, fd, "cannot reach %s: %s", req->peer, strerror(-fd));
                goto out;
        }

        io.fd = fd;
        if (ep.tls) {
                r = tls_connect(&io, &ep, req, deadline, err);
                if (r < 0)
                        goto out;
        }
        r = send_all(&io, head.p, head.len, deadline);
        if (r == 0)
                r = send_body(&io, req, deadline, &read_errno);
        buf_wipe(&head); /* it held the credentials */
        if (read_errno) {
                r = sf_err_set(err, -read_errno, "cannot read the request body: %s",
                               read_errno == ENODATA ? "it ended early" : strerror(read_errno));
                goto out;
        }
        if (r == -ETIMEDOUT) {
                r = timeout_error(req, deadline, err);
                goto out;
        }
        if (r == -ENOMEM)
                goto out;
        if (r < 0)
                send_errno = -r; /* EPIPE, ECONNRESET: the answer may be waiting anyway */
        /* 0, or 1 (answered early): nothing more to send either way. No
         * shutdown(SHUT_WR): some servers take a half-close for an abort. */

        llhttp_init(&rc.parser, HTTP_RESPONSE, &parser_settings);
        rc.parser.data = &rc;
        r = receive(req, &io, &rc, deadline, send_errno, err);
        if (r < 0)
                goto out;
        if (!rc.body.p && buf_append(&rc.body, "", 0) < 0) {
                r = -ENOMEM;
                goto out;
        }
        *ret = (struct httpc_response) {
                .status = rc.status,
                .body = TAKE_PTR(rc.body.p),
                .len = rc.body.len,
                .truncated = rc.truncated,
                .seconds = (double) (now_ns() - start) / 1e9,
        };
        for (size_t i = 0; i < HTTPC_CAPTURE_MAX; i++)
                ret->captured[i] = TAKE_PTR(rc.captured[i]);
        r = 0;
out:
        if (io.ssl) {
                /* close_notify, best effort: the answer is in already */
                (void) SSL_shutdown(io.ssl);
                SSL_free(io.ssl);
                ERR_clear_error();
        }
        buf_wipe(&head);
        free(rc.body.p);
        free(rc.field.p);
        free(rc.value.p);
        for (size_t i = 0; i < HTTPC_CAPTURE_MAX; i++)
                free(rc.captured[i]);
        endpoint_release(&ep);
        return r;
}
