/* SPDX-License-Identifier: MIT */
#include "core/http/server.h"

#include <errno.h>
#include <fcntl.h>
#include <llhttp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <jansson.h>

#include "core/base/buf.h"
#include "core/base/cleanup.h"
#include "core/base/list.h"
#include "core/base/log.h"
#include "core/base/timefmt.h"
#include "core/base/util.h"
#include "core/http/peers.h"
#include "core/http/tls.h"

#include <openssl/err.h>

#define HTTP_MAX_LISTENERS 4

/* A listening socket: plain HTTP, or TLS with the server's context. */
struct http_listener {
        uv_tcp_t tcp;               /* embedded: the server is freed after its close cb */
        struct http_server *server;
        bool tls;
        bool open;                  /* initialised, not yet closed */
};

struct http_server {
        struct http_listener lst[HTTP_MAX_LISTENERS];
        size_t n_lst;
        size_t lst_open;            /* listeners whose close callback has not run */
        uv_loop_t *loop;
        struct http_limits limits;
        http_head_cb on_head;
        http_request_cb on_request;
        void *data;
        struct list_head conns;     /* every connection */
        size_t n_conns;
        /* Idle connections (no request in flight), longest idle first: the
         * first to close when the table is full (see http.h). */
        struct list_head idle;      /* connections with no request in flight, the longest idle first */
        struct http_clients *clients; /* connections per client address */
        bool listening;
        bool shutting_down;
        void (*shutdown_cb)(struct http_server *s);
        void (*on_response)(struct http_request *req, int status);
        void (*on_free)(struct http_request *req);
        llhttp_settings_t settings;
        /* TLS (core/http/tls.h): the context of the TLS listeners; the
         * connections whose decrypted bytes wait for them to read again
         * (tls_drain, worked from tls_idle on the next loop turn). */
        struct http_tls *tls;
        uv_idle_t tls_idle;
        bool tls_idle_open;
        struct http_conn *tls_drain;
        /* One read buffer for every connection: libuv reads a stream and calls
         * its read callback before it reads another, and everything kept from
         * a read is copied (request fields, pending bytes). TLS connections
         * decrypt into tlsbuf the same way. */
        char rbuf[65536];
        char tlsbuf[16384];
};

enum header_state { HS_NONE, HS_FIELD, HS_VALUE };

struct http_conn {
        uv_tcp_t tcp;
        uv_timer_t timer;
        int open_handles;           /* freed when both handles have closed */
        struct http_server *server;
        struct list_node node;       /* in the server's conns */
        llhttp_t parser;
        struct http_request *req;    /* being parsed */
        struct http_request *active; /* parsed, waiting for its response */
        enum header_state hstate;
        size_t header_bytes;
        size_t url_len;
        char *pending;               /* bytes read but not parsed while paused */
        size_t pending_len;
        bool closing;
        bool close_after_write;
        bool reading;
        bool refused;                /* head callback refused the body */
        bool in_header_phase;
        bool done_pending;           /* an answer went out whole: finish it from the timer */
        bool done_close;
        bool idle;                   /* on the server's idle list */
        bool begun;                  /* has begun a request: kept alive, not new */
        bool counted;                /* counted in server->clients under client */
        bool body_paused;            /* the handler paused the body (back-pressure) */
        uint64_t body_start_ns;      /* the head was complete */
        uint64_t body_bytes;         /* of the request being received */
        uint64_t paused_at_ns;       /* body_paused since */
        uint64_t paused_ns;          /* the body was paused this long, in all */
        uint64_t idle_since_ns;      /* on the idle list since */
        struct list_node idle_node;  /* in the server's idle list while idle */
        struct http_client_key client;
        char remote[HTTP_REMOTE_MAX];
        /* TLS: OpenSSL between the socket and llhttp through two memory
         * BIOs (rbio: bytes read from the socket; wbio: bytes for it). */
        SSL *ssl;
        BIO *rbio, *wbio;
        bool tls_up;                 /* handshake done */
        bool tls_sched;              /* on the server's tls_drain list */
        struct http_conn *tls_next;
};

struct write_ctx {
        uv_write_t w;
        struct http_conn *conn;
        struct http_request *req;  /* for on_drain (compared, never dereferenced unchecked) */
        bool close_after;
        bool final;          /* the last write of a response: then the next request */
        size_t len;
        char buf[];
};

static void conn_close(struct http_conn *c);
static void conn_tls_unschedule(struct http_conn *c);
static int conn_write(struct http_conn *c, struct write_ctx *wc);
static void on_timer(uv_timer_t *t);
static void conn_process(struct http_conn *c, const char *data, size_t len);
static void conn_fail(struct http_conn *c, int status, const char *msg);
static void conn_idle_end(struct http_conn *c);
static void conn_too_large(struct http_conn *c, bool streamed);
static void body_timer_arm(struct http_conn *c);

const char *http_status_text(int status)
{
        switch (status) {
        case 100: return "Continue";
        case 200: return "OK";
        case 201: return "Created";
        case 202: return "Accepted";
        case 204: return "No Content";
        case 301: return "Moved Permanently";
        case 302: return "Found";
        case 304: return "Not Modified";
        case 307: return "Temporary Redirect";
        case 400: return "Bad Request";
        case 401: return "Unauthorized";
        case 403: return "Forbidden";
        case 404: return "Not Found";
        case 405: return "Method Not Allowed";
        case 408: return "Request Timeout";
        case 409: return "Conflict";
        case 411: return "Length Required";
        case 413: return "Content Too Large";
        case 414: return "URI Too Long";
        case 415: return "Unsupported Media Type";
        case 422: return "Unprocessable Content";
        case 429: return "Too Many Requests";
        case 431: return "Request Header Fields Too Large";
        case 500: return "Internal Server Error";
        case 501: return "Not Implemented";
        case 502: return "Bad Gateway";
        case 503: return "Service Unavailable";
        case 504: return "Gateway Timeout";
        case 507: return "Insufficient Storage";
        default: return "Unknown";
        }
}

static void request_free(struct http_request *req)
{
        if (!req)
                return;
        if (req->app && req->server && req->server->on_free)
                req->server->on_free(req);
        free(req->app);
        free(req->url);
        free(req->path);
        free(req->query);
        for (size_t i = 0; i < req->n_headers; i++) {
                free(req->headers[i].name);
                free(req->headers[i].value);
        }
        free(req->headers);
        free(req->body);
        if (req->body_fd >= 0)
                (void) close(req->body_fd);
        free(req);
}

/* Append to a NUL-terminated growable string, with a cap on the total. */
/* Append to a NUL-terminated string that grows with the request (URL,
 * header names and values, a body in memory), with a ceiling on its
 * length: -E2BIG past it. The string's allocation is not remembered, so
 * the buffer is made around it for each append. */
static int str_append(char **s, size_t *len, const char *at, size_t n, size_t cap)
{
        struct buf b = { .p = *s, .len = *len, .cap = *s ? *len + 1 : 0, .max = cap };
        int r = buf_append(&b, at, n);

        if (r < 0)
                return r == -EMSGSIZE ? -E2BIG : r;
        *s = b.p;
        *len = b.len;
        return 0;
}

static struct http_conn *conn_of(llhttp_t *p)
{
        return p->data;
}

/* The body of a request read into memory (not streamed to a file or a
 * handler): request_timeout covers it. */
static bool body_in_memory(const struct http_request *req)
{
        return !req->body_streamed && req->body_fd < 0;
}

/* The body's minimum-rate deadline (see server.h): body_timeout after the
 * head, one second more per body_min_rate bytes, paused time not counted. */
static uint64_t body_rate_deadline(const struct http_conn *c)
{
        const struct http_limits *l = &c->server->limits;
        unsigned __int128 allowance = (unsigned __int128) c->body_bytes * 1000000000u / l->body_min_rate;
        uint64_t d = c->body_start_ns + c->paused_ns + l->body_timeout_ms * 1000000;

        return allowance > UINT64_MAX - d ? UINT64_MAX : d + (uint64_t) allowance;
}

/* Which body deadline comes first, as an absolute time; *ret_why names it
 * for the 408. */
static uint64_t body_deadline(const struct http_conn *c, uint64_t now, const char **ret_why)
{
        const struct http_limits *l = &c->server->limits;
        uint64_t d = now + l->idle_timeout_ms * 1000000, r = body_rate_deadline(c);
        const char *why = "request body not received in time: it paused longer than the idle timeout";

        if (r < d) {
                d = r;
                why = "request body not received in time: it arrives slower than the minimum rate";
        }
        if (c->req && body_in_memory(c->req) && c->req->start_ns + l->request_timeout_ms * 1000000 < d) {
                d = c->req->start_ns + l->request_timeout_ms * 1000000;
                why = "request not received in time: head and body took longer than the request timeout";
        }
        *ret_why = why;
        return d;
}

/* (Re)arm the timer for the body phase: never from the timer's own
 * callback, so a deadline already past may be armed at 0 ms here. While
 * the handler holds the body paused, no deadline runs. */
static void body_timer_arm(struct http_conn *c)
{
        const char *why;
        uint64_t now = now_ns(), d;

        if (c->body_paused) {
                (void) uv_timer_stop(&c->timer);
                return;
        }
        d = body_deadline(c, now, &why);
        (void) uv_timer_start(&c->timer, on_timer, d > now ? (d - now + 999999) / 1000000 : 0, 0);
}

static int on_message_begin(llhttp_t *p)
{
        struct http_conn *c = conn_of(p);
        struct http_request *req = calloc(1, sizeof *req);
        if (!req)
                return -1;
        req->body_fd = -1;
        req->server = c->server;
        req->conn = c;
        req->start_ns = now_ns();
        memcpy(req->remote, c->remote, sizeof req->remote);
        req->client = c->client;
        conn_idle_end(c);
        c->begun = true;
        c->req = req;
        c->hstate = HS_NONE;
        c->header_bytes = 0;
        c->url_len = 0;
        c->body_bytes = 0;
        c->paused_ns = 0;
        c->body_paused = false;
        c->in_header_phase = true;
        /* The whole head must arrive within the header timeout (slowloris):
         * an absolute deadline, not re-armed by each byte. */
        (void) uv_timer_start(&c->timer, on_timer, c->server->limits.header_timeout_ms, 0);
        return 0;
}

static int count_header_bytes(struct http_conn *c, size_t n)
{
        if (size_add(c->header_bytes, n, &c->header_bytes) < 0 ||
            c->header_bytes > c->server->limits.max_header_bytes) {
                char msg[160];
                (void) xsnprintf(msg, sizeof msg, "request headers exceed the limit of %llu bytes (max_header_bytes)",
                                 (unsigned long long) c->server->limits.max_header_bytes);
                conn_fail(c, 431, msg);
                return -1;
        }
        return 0;
}

static int on_url(llhttp_t *p, const char *at, size_t n)
{
        struct http_conn *c = conn_of(p);
        int r = str_append(&c->req->url, &c->url_len, at, n, c->server->limits.max_url_bytes);
        if (r == -E2BIG) {
                conn_fail(c, 414, "request target is too long");
                return -1;
        }
        if (r < 0)
                return -1;
        return count_header_bytes(c, n);
}

static int on_header_field(llhttp_t *p, const char *at, size_t n)
{
        struct http_conn *c = conn_of(p);
        struct http_request *req = c->req;
        size_t len;

        if (count_header_bytes(c, n) < 0)
                return -1;
        if (c->hstate != HS_FIELD) {
                struct http_header *nh;
                if (req->n_headers >= c->server->limits.max_headers) {
                        conn_fail(c, 431, "too many request headers");
                        return -1;
                }
                nh = realloc(req->headers, (req->n_headers + 1) * sizeof *nh);
                if (!nh)
                        return -1;
                req->headers = nh;
                req->headers[req->n_headers].name = NULL;
                req->headers[req->n_headers].value = NULL;
                req->n_headers++;
                c->hstate = HS_FIELD;
        }
        len = req->headers[req->n_headers - 1].name ? strlen(req->headers[req->n_headers - 1].name) : 0;
        return str_append(&req->headers[req->n_headers - 1].name, &len, at, n, SIZE_MAX) < 0 ? -1 : 0;
}

static int on_header_value(llhttp_t *p, const char *at, size_t n)
{
        struct http_conn *c = conn_of(p);
        struct http_request *req = c->req;
        size_t len;

        if (count_header_bytes(c, n) < 0)
                return -1;
        if (req->n_headers == 0)
                return -1;
        c->hstate = HS_VALUE;
        len = req->headers[req->n_headers - 1].value ? strlen(req->headers[req->n_headers - 1].value) : 0;
        return str_append(&req->headers[req->n_headers - 1].value, &len, at, n, SIZE_MAX) < 0 ? -1 : 0;
}

static int hexval(char ch)
{
        if (ch >= '0' && ch <= '9')
                return ch - '0';
        if (ch >= 'a' && ch <= 'f')
                return ch - 'a' + 10;
        if (ch >= 'A' && ch <= 'F')
                return ch - 'A' + 10;
        return -1;
}

/* Percent-decode n bytes; plus_space for query values. NULL on bad input. */
static char *percent_decode(const char *s, size_t n, bool plus_space)
{
        char *out = malloc(n + 1), *o = out;
        if (!out)
                return NULL;
        for (size_t i = 0; i < n; i++) {
                if (s[i] == '%') {
                        int h, l;
                        if (i + 2 >= n) {
                                free(out);
                                return NULL;
                        }
                        h = hexval(s[i + 1]);
                        l = hexval(s[i + 2]);
                        if (h < 0 || l < 0 || (h == 0 && l == 0)) {
                                free(out);
                                return NULL;
                        }
                        *o++ = (char) (h * 16 + l);
                        i += 2;
                } else if (plus_space && s[i] == '+') {
                        *o++ = ' ';
                } else {
                        *o++ = s[i];
                }
        }
        *o = '\0';
        return out;
}

static int on_headers_complete(llhttp_t *p)
{
        struct http_conn *c = conn_of(p);
        struct http_request *req = c->req;
        const char *q, *expect;
        int r;

        c->in_header_phase = false;
        (void) xsnprintf(req->method, sizeof req->method, "%s", llhttp_method_name(llhttp_get_method(p)));
        if (!req->url || req->url[0] != '/') {
                conn_fail(c, 400, "request target must be an absolute path");
                return -1;
        }
        q = strchr(req->url, '?');
        req->path = percent_decode(req->url, q ? (size_t) (q - req->url) : strlen(req->url), false);
        req->query = strdup(q ? q + 1 : "");
        if (!req->path || !req->query) {
                conn_fail(c, 400, "request path has a bad percent-encoding");
                return -1;
        }
        for (size_t i = 0; i < req->n_headers; i++)
                if (!req->headers[i].value && !(req->headers[i].value = strdup("")))
                        return -1;
        req->keep_alive = llhttp_should_keep_alive(p);
        req->http10 = p->http_major == 1 && p->http_minor == 0;
        if ((p->flags & F_CONTENT_LENGTH) && p->content_length > c->server->limits.max_stream_bytes) {
                conn_too_large(c, true);
                return -1;
        }

        r = c->server->on_head ? c->server->on_head(req) : HTTP_HEAD_READ_BODY;
        if (r == HTTP_HEAD_ANSWERED) {
                /* The head callback answered already; the body is not read. */
                c->refused = true;
                return -1;
        }
        if (r == HTTP_HEAD_TAKEN)
                req->body_streamed = true;
        if (r == HTTP_HEAD_READ_BODY && (p->flags & F_CONTENT_LENGTH) && p->content_length > c->server->limits.max_body_bytes) {
                conn_too_large(c, false);
                return -1;
        }
        expect = http_request_header(req, "Expect");
        if (expect && strcasecmp(expect, "100-continue") == 0) {
                static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
                if (c->ssl) {
                        struct write_ctx *wc = malloc(sizeof *wc + sizeof cont - 1);
                        if (!wc)
                                return -1;
                        *wc = (struct write_ctx) { .conn = c, .len = sizeof cont - 1 };
                        memcpy(wc->buf, cont, sizeof cont - 1);
                        if (conn_write(c, wc) < 0)
                                return -1;
                } else {
                        uv_buf_t b = uv_buf_init((char *) cont, sizeof cont - 1);
                        (void) uv_try_write((uv_stream_t *) &c->tcp, &b, 1);
                }
        }
        /* Body phase: its deadlines instead of the header deadline. */
        c->body_start_ns = now_ns();
        body_timer_arm(c);
        return 0;
}

/* 413 naming the limit (max_body_bytes, or max_upload_bytes for streamed bodies). */
static void conn_too_large(struct http_conn *c, bool streamed)
{
        char msg[160];
        (void) xsnprintf(msg, sizeof msg, "request body exceeds the limit of %llu bytes%s (%s)",
                         (unsigned long long) (streamed ? c->server->limits.max_stream_bytes
                                                        : c->server->limits.max_body_bytes),
                         streamed ? " for uploads" : "", streamed ? "max_upload_bytes" : "max_body_bytes");
        conn_fail(c, 413, msg);
}

static int on_body(llhttp_t *p, const char *at, size_t n)
{
        struct http_conn *c = conn_of(p);
        struct http_request *req = c->req;

        if (!req)
                return -1; /* answered and detached mid-body: stop here */
        c->body_bytes += n;
        if (req->body_streamed) {
                uint64_t nl;
                if (__builtin_add_overflow(req->body_file_len, (uint64_t) n, &nl) ||
                    nl > c->server->limits.max_stream_bytes) {
                        conn_too_large(c, true);
                        return -1;
                }
                req->body_file_len = nl;
                if (req->on_body)
                        req->on_body(req, at, n);
                /* The handler may have answered (and so detached it). */
                return c->req == req && !c->closing ? 0 : -1;
        }
        if (req->body_fd >= 0) {
                uint64_t nl;
                int r;
                if (__builtin_add_overflow(req->body_file_len, (uint64_t) n, &nl) ||
                    nl > c->server->limits.max_stream_bytes) {
                        conn_too_large(c, true);
                        return -1;
                }
                r = write_all(req->body_fd, at, n);
                if (r < 0) {
                        log_error_errno(r, "cannot spool request body");
                        conn_fail(c, r == -ENOSPC ? 507 : 500, "cannot store the request body");
                        return -1;
                }
                req->body_file_len = nl;
                return 0;
        }
        if (str_append(&req->body, &req->body_len, at, n, c->server->limits.max_body_bytes) < 0) {
                conn_too_large(c, false);
                return -1;
        }
        return 0;
}

static int on_message_complete(llhttp_t *p)
{
        struct http_conn *c = conn_of(p);
        if (!c->req)
                return -1;
        c->active = c->req;
        c->req = NULL;
        if (!c->active->body && !c->active->body_streamed) {
                c->active->body = strdup("");
                if (!c->active->body)
                        return -1;
        }
        (void) uv_timer_stop(&c->timer);
        return HPE_PAUSED;
}

static void conn_free_if_closed(uv_handle_t *h)
{
        struct http_conn *c = h->data;
        if (--c->open_handles > 0)
                return;
        free(c->pending);
        free(c);
}

static void server_maybe_done(struct http_server *s)
{
        if (s->shutting_down && s->n_conns == 0 && s->lst_open == 0 && s->shutdown_cb) {
                void (*cb)(struct http_server *) = s->shutdown_cb;
                s->shutdown_cb = NULL;
                cb(s);
        }
}

static void conn_close(struct http_conn *c)
{
        struct http_server *s = c->server;
        if (c->closing)
                return;
        c->closing = true;
        if (c->active) {
                struct http_request *req = c->active;
                c->active = NULL;
                /* The handler holds it: it learns the client is gone. */
                if (req->held) {
                        req->conn = NULL;
                        if (req->on_abort)
                                req->on_abort(req);
                } else {
                        request_free(req);
                }
        }
        if (c->req && c->req->held) {
                /* A streamed body's handler holds it mid-body. */
                struct http_request *req = c->req;
                c->req = NULL;
                req->conn = NULL;
                if (req->on_abort)
                        req->on_abort(req);
        }
        request_free(c->req);
        c->req = NULL;
        conn_idle_end(c);
        if (c->counted) {
                http_clients_remove(s->clients, &c->client);
                c->counted = false;
        }
        list_del(&c->node);
        s->n_conns--;
        if (c->ssl) {
                conn_tls_unschedule(c);
                if (c->tls_up && SSL_shutdown(c->ssl) >= 0) {
                        /* close_notify, best effort: never queued behind anything */
                        char alert[256];
                        int n = BIO_read(c->wbio, alert, sizeof alert);
                        if (n > 0 && uv_stream_get_write_queue_size((uv_stream_t *) &c->tcp) == 0) {
                                uv_buf_t b = uv_buf_init(alert, (unsigned) n);
                                (void) uv_try_write((uv_stream_t *) &c->tcp, &b, 1);
                        }
                }
                ERR_clear_error();
                SSL_free(c->ssl); /* and its BIOs */
                c->ssl = NULL;
                c->rbio = c->wbio = NULL;
        }
        uv_close((uv_handle_t *) &c->tcp, conn_free_if_closed);
        uv_close((uv_handle_t *) &c->timer, conn_free_if_closed);
        server_maybe_done(s);
}

static void response_done(struct http_conn *c, int status, bool close_after);

static void on_timer(uv_timer_t *t)
{
        struct http_conn *c = t->data;
        if (c->done_pending) {
                c->done_pending = false;
                response_done(c, 0, c->done_close);
                return;
        }
        if (c->req && !c->active) {
                const char *why = "request not received in time";
                uint64_t now = now_ns();
                if (!c->in_header_phase) {
                        /* A read may have moved the deadline since the timer
                         * was armed (the loop's clock is coarser): only a
                         * deadline that has passed fails the request. */
                        uint64_t d = body_deadline(c, now, &why);
                        if (d > now + 1000000) {
                                (void) uv_timer_start(&c->timer, on_timer, (d - now) / 1000000, 0);
                                return;
                        }
                }
                conn_fail(c, 408, why);
        } else if (!c->active) {
                conn_close(c);
        }
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
        struct http_conn *c = h->data;
        (void) suggested;
        buf->base = c->server->rbuf;
        buf->len = sizeof c->server->rbuf;
}

static void conn_stop_reading(struct http_conn *c)
{
        if (c->reading) {
                (void) uv_read_stop((uv_stream_t *) &c->tcp);
                c->reading = false;
        }
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf);

static void conn_tls_schedule(struct http_conn *c);

static void conn_start_reading(struct http_conn *c)
{
        if (!c->reading && !c->closing) {
                if (uv_read_start((uv_stream_t *) &c->tcp, alloc_cb, on_read) == 0)
                        c->reading = true;
                if (c->reading && c->ssl)
                        conn_tls_schedule(c); /* what OpenSSL kept while we did not read */
        }
}

/* The connection has no request in flight: onto the idle list (at the
 * tail: the head has been idle longest), with its deadline to begin one,
 * counted from now. Already idle: nothing changes, so that bytes which
 * begin no request do not push the deadline back. */
static void conn_idle_begin(struct http_conn *c)
{
        struct http_server *s = c->server;
        const struct http_limits *l = &s->limits;

        if (c->idle || c->closing)
                return;
        c->idle = true;
        c->idle_since_ns = now_ns();
        list_add_tail(&s->idle, &c->idle_node);
        (void) uv_timer_start(&c->timer, on_timer, c->begun ? l->idle_timeout_ms : l->first_byte_timeout_ms, 0);
}

static void conn_idle_end(struct http_conn *c)
{
        if (!c->idle)
                return;
        c->idle = false;
        list_del(&c->idle_node);
}

static void arm_timer(struct http_conn *c)
{
        if (c->done_pending)
                return; /* the timer finishes an answer first (conn_write) */
        if (c->active)
                return; /* handled request: no timer */
        if (!c->req) {
                conn_idle_begin(c);
                return;
        }
        /* Header phase: the absolute deadline set at its start stands. Body
         * phase: its deadlines, moved by each read (server.h). */
        if (!c->in_header_phase)
                body_timer_arm(c);
}

/* Feed bytes to the parser; dispatch a completed request. */
static void conn_process(struct http_conn *c, const char *data, size_t len)
{
        struct http_server *s = c->server;
        llhttp_errno_t e;

        if (len == 0)
                return;
        e = llhttp_execute(&c->parser, data, len);
        if (c->closing)
                return;
        if (e == HPE_PAUSED) {
                const char *stop = llhttp_get_error_pos(&c->parser);
                size_t used = stop ? (size_t) (stop - data) : len;
                if (used < len) {
                        char *np = malloc(len - used);
                        if (!np) {
                                conn_close(c);
                                return;
                        }
                        memcpy(np, data + used, len - used);
                        free(c->pending);
                        c->pending = np;
                        c->pending_len = len - used;
                }
                if (c->active && c->active->body_streamed) {
                        /* Taken by the head callback: only the end of its body is news. */
                        struct http_request *req = c->active;
                        if (req->on_body_end)
                                req->on_body_end(req);
                        /* Read on (a body paused by back-pressure resumes here). */
                        if (c->active == req)
                                conn_start_reading(c);
                        return;
                }
                if (!c->active)
                        return;
                {
                        struct http_request *req = c->active;
                        s->on_request(req);
                        /* Not held and not answered: a handler bug; answer for it. */
                        if (c->active == req && !req->held && !req->responded)
                                http_respond_error(req, 500, "request was not handled");
                }
                return;
        }
        if (e != HPE_OK) {
                if (c->refused) {
                        /* The head callback's response is queued; close after it. */
                        conn_stop_reading(c);
                        return;
                }
                if (!c->closing && !(c->active && c->active->responded)) {
                        char msg[160];
                        (void) xsnprintf(msg, sizeof msg, "malformed HTTP request: %s",
                                         llhttp_get_error_reason(&c->parser) ? llhttp_get_error_reason(&c->parser)
                                                                             : llhttp_errno_name(e));
                        conn_fail(c, 400, msg);
                }
                return;
        }
        arm_timer(c);
}

/* What a connection received: plaintext bytes (nread > 0), or the end of
 * its stream or an error (nread < 0). */
static void conn_on_data(struct http_conn *c, ssize_t nread, const char *data)
{
        /* Between an answer and the next request the parser is paused: what
         * arrives waits in pending like during the answer. */
        if (c->active || llhttp_get_errno(&c->parser) == HPE_PAUSED) {
                /* A request is being answered: reading goes on (stopping and
                 * restarting costs two epoll_ctl calls per request) to learn
                 * that the client left; a pipelined next request waits
                 * (bounded) in pending. A half-close before a plain answer
                 * still gets the answer. */
                if (nread == UV_EOF && c->active && c->active->abort_on_eof && c->active->held &&
                    !c->active->responded) {
                        conn_close(c); /* the handler learns it in on_abort */
                } else if (nread == UV_EOF && !(c->active && c->active->streaming)) {
                        conn_stop_reading(c);
                        c->close_after_write = true;
                } else if (nread < 0) {
                        conn_close(c);
                } else if (nread > 0) {
                        char *np;
                        if (c->pending_len + (size_t) nread > c->server->limits.max_header_bytes ||
                            !(np = realloc(c->pending, c->pending_len + (size_t) nread))) {
                                conn_stop_reading(c);
                        } else {
                                memcpy(np + c->pending_len, data, (size_t) nread);
                                c->pending = np;
                                c->pending_len += (size_t) nread;
                        }
                }
                return;
        }
        if (nread < 0) {
                if (nread == UV_EOF && c->active) {
                        /* Half-close: the client may still read our answer. */
                        conn_stop_reading(c);
                        c->close_after_write = true;
                } else {
                        conn_close(c);
                }
        } else if (nread > 0) {
                conn_process(c, data, (size_t) nread);
        }
}

static void conn_tls_read(struct http_conn *c, ssize_t nread, const char *data);

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
        struct http_conn *c = stream->data;

        if (c->ssl)
                conn_tls_read(c, nread, buf->base);
        else
                conn_on_data(c, nread, buf->base);
}

static void on_write(uv_write_t *w, int status)
{
        struct write_ctx *wc = (struct write_ctx *) w;
        struct http_conn *c = wc->conn;
        struct http_request *wc_req = wc->req;
        bool close_after = wc->close_after, final = wc->final;
        free(wc);
        if (c->closing)
                return;
        if (!final) {
                /* A chunk of a streamed response: only a failure matters here,
                 * and a queue that drained for a producer that waits. */
                struct http_request *cur = c->active ? c->active : c->req;
                if (status < 0) {
                        conn_close(c);
                        return;
                }
                if (cur && cur == wc_req && cur->on_drain &&
                    uv_stream_get_write_queue_size((uv_stream_t *) &c->tcp) < HTTP_DRAIN_BYTES)
                        cur->on_drain(cur);
                return;
        }
        response_done(c, status, close_after);
}

/* The last byte of an answer is out (or queued in the kernel): close, or
 * go on with the next request. */
static void response_done(struct http_conn *c, int status, bool close_after)
{
        if (status < 0 || close_after || c->close_after_write) {
                conn_close(c);
                return;
        }
        if (c->server->shutting_down) {
                conn_close(c);
                return;
        }
        /* Next request: resume the parser with what was buffered. */
        llhttp_resume(&c->parser);
        if (c->pending) {
                char *p = c->pending;
                size_t n = c->pending_len;
                c->pending = NULL;
                c->pending_len = 0;
                conn_process(c, p, n);
                free(p);
                if (c->closing || c->active)
                        return;
        }
        arm_timer(c);
        conn_start_reading(c);
}

/* Send wc (owned from here): at once when the socket takes it whole (no
 * copy kept, no write callback, no epoll_ctl for the drain), else through
 * libuv's write queue, whose order it keeps. An answer written whole is
 * finished from the connection's timer on the next loop turn (never from
 * inside the handler that answered). */
static int conn_write_raw(struct http_conn *c, struct write_ctx *wc)
{
        size_t off = 0;
        uv_buf_t b;

        if (uv_stream_get_write_queue_size((uv_stream_t *) &c->tcp) == 0 && !c->done_pending) {
                int w;
                b = uv_buf_init(wc->buf, (unsigned) wc->len);
                w = uv_try_write((uv_stream_t *) &c->tcp, &b, 1);
                if (w < 0 && w != UV_EAGAIN) {
                        free(wc);
                        conn_close(c);
                        return -EPIPE;
                }
                if (w > 0)
                        off = (size_t) w;
                if (off == wc->len) {
                        if (wc->final) {
                                c->done_pending = true;
                                c->done_close = wc->close_after;
                                (void) uv_timer_start(&c->timer, on_timer, 0, 0);
                        }
                        free(wc);
                        return 0;
                }
        }
        b = uv_buf_init(wc->buf + off, (unsigned) (wc->len - off));
        if (uv_write(&wc->w, (uv_stream_t *) &c->tcp, &b, 1, on_write) < 0) {
                free(wc);
                conn_close(c);
                return -EPIPE;
        }
        return 0;
}


/* ---- TLS connections ---- */

/* What OpenSSL wrote into the connection's wbio (handshake, records,
 * alerts) goes to the socket, in order with everything else written. */
static int tls_flush(struct http_conn *c)
{
        size_t n = BIO_ctrl_pending(c->wbio);
        struct write_ctx *wc;

        if (n == 0)
                return 0;
        wc = malloc(sizeof *wc + n);
        if (!wc) {
                conn_close(c);
                return -ENOMEM;
        }
        if (BIO_read(c->wbio, wc->buf, (int) n) != (int) n) {
                free(wc);
                conn_close(c);
                return -EIO;
        }
        wc->conn = c;
        wc->req = NULL;
        wc->close_after = false;
        wc->final = false;
        wc->len = n;
        return conn_write_raw(c, wc);
}

/* Send wc (owned from here), encrypted on a TLS connection: the records go
 * out as one write with wc's role (final, close_after, req). */
static int conn_write(struct http_conn *c, struct write_ctx *wc)
{
        struct write_ctx *enc;
        size_t n;
        int r;

        if (!c->ssl)
                return conn_write_raw(c, wc);
        if (!c->tls_up) {
                free(wc); /* no HTTP before the handshake: nothing to say it with */
                conn_close(c);
                return -EPIPE;
        }
        /* Whatever OpenSSL has for the socket already goes first. */
        r = tls_flush(c);
        if (r < 0) {
                free(wc);
                return -EPIPE;
        }
        if (wc->len > 0 && SSL_write(c->ssl, wc->buf, (int) wc->len) <= 0) {
                ERR_clear_error();
                free(wc);
                conn_close(c);
                return -EPIPE;
        }
        n = BIO_ctrl_pending(c->wbio);
        enc = malloc(sizeof *enc + n);
        if (!enc || (n && BIO_read(c->wbio, enc->buf, (int) n) != (int) n)) {
                free(enc);
                free(wc);
                conn_close(c);
                return -ENOMEM;
        }
        enc->conn = c;
        enc->req = wc->req;
        enc->close_after = wc->close_after;
        enc->final = wc->final;
        enc->len = n;
        free(wc);
        return conn_write_raw(c, enc);
}

/* Decrypted bytes kept in OpenSSL (or ciphertext not yet decrypted) while
 * the connection did not read: worked on the next loop turn once it reads
 * again, since no socket read may come to wake it. */
static void on_tls_idle(uv_idle_t *h);
static void conn_tls_pump(struct http_conn *c);

static void conn_tls_schedule(struct http_conn *c)
{
        struct http_server *s = c->server;

        if (c->tls_sched || !c->ssl || !c->tls_up)
                return;
        if (!SSL_has_pending(c->ssl) && BIO_ctrl_pending(c->rbio) == 0)
                return;
        c->tls_sched = true;
        c->tls_next = s->tls_drain;
        s->tls_drain = c;
        if (s->tls_idle_open)
                (void) uv_idle_start(&s->tls_idle, on_tls_idle);
}

static void conn_tls_unschedule(struct http_conn *c)
{
        if (!c->tls_sched)
                return;
        for (struct http_conn **pp = &c->server->tls_drain; *pp; pp = &(*pp)->tls_next)
                if (*pp == c) {
                        *pp = c->tls_next;
                        break;
                }
        c->tls_sched = false;
        c->tls_next = NULL;
}

static void on_tls_idle(uv_idle_t *h)
{
        struct http_server *s = h->data;

        (void) uv_idle_stop(h);
        while (s->tls_drain) {
                struct http_conn *c = s->tls_drain;
                s->tls_drain = c->tls_next;
                c->tls_sched = false;
                c->tls_next = NULL;
                if (!c->closing && c->reading)
                        conn_tls_pump(c);
        }
}

/* Handshake, then decrypt what is there and hand it on, as long as the
 * connection reads (a paused body or a full pending buffer leave the rest
 * in OpenSSL until conn_start_reading). */
static void conn_tls_pump(struct http_conn *c)
{
        struct http_server *s = c->server;

        if (!c->tls_up) {
                int r = SSL_do_handshake(c->ssl);
                if (tls_flush(c) < 0)
                        return;
                if (r != 1) {
                        int e = SSL_get_error(c->ssl, r);
                        if (e == SSL_ERROR_WANT_READ)
                                return;
                        log_debug("TLS handshake with %s failed: %s", c->remote,
                                  ERR_reason_error_string(ERR_peek_last_error()) ? ERR_reason_error_string(ERR_peek_last_error())
                                                                                 : "connection closed");
                        ERR_clear_error();
                        conn_close(c);
                        return;
                }
                c->tls_up = true;
        }
        while (!c->closing && c->reading) {
                int n = SSL_read(c->ssl, s->tlsbuf, (int) sizeof s->tlsbuf), e;
                if (n > 0) {
                        conn_on_data(c, n, s->tlsbuf);
                        continue;
                }
                e = SSL_get_error(c->ssl, n);
                if (tls_flush(c) < 0)
                        return;
                if (e == SSL_ERROR_WANT_READ)
                        break;
                ERR_clear_error();
                if (e == SSL_ERROR_ZERO_RETURN)
                        conn_on_data(c, UV_EOF, NULL); /* close_notify: the end of its stream */
                else
                        conn_close(c);
                return;
        }
        if (!c->closing)
                (void) tls_flush(c);
}

static void conn_tls_read(struct http_conn *c, ssize_t nread, const char *data)
{
        if (nread < 0) {
                conn_on_data(c, nread, NULL);
                return;
        }
        if (nread == 0)
                return;
        if (BIO_write(c->rbio, data, (int) nread) != (int) nread) {
                conn_close(c);
                return;
        }
        conn_tls_pump(c);
}

void http_respond(struct http_request *req, int status, const char *content_type, const char *extra_headers,
                  const void *body, size_t body_len)
{
        struct http_conn *c = req->conn;
        struct write_ctx *wc;
        char date[TIME_HTTP_MAX];
        size_t el = extra_headers ? strlen(extra_headers) : 0, hl, total;
        bool close_after, send_body = body_len && strcmp(req->method, "HEAD") != 0;
        int n;

        req->responded = true;
        if (req->server && req->server->on_response)
                req->server->on_response(req, status);
        /* Detach first: whatever happens below, the connection no longer
         * refers to this request, and it is freed exactly once. */
        if (c) {
                if (c->active == req) {
                        c->active = NULL;
                } else if (c->req == req) {
                        c->req = NULL;
                        if (req->body_streamed) {
                                /* Answered before its body ended: the rest is not read. */
                                c->refused = true;
                                conn_stop_reading(c);
                        }
                }
        }
        if (!c || c->closing) {
                request_free(req);
                return;
        }
        close_after = !req->keep_alive || c->refused || c->server->shutting_down || c->close_after_write;
        time_http_date(time(NULL), date);
        if (content_type && strpbrk(content_type, "\r\n"))
                content_type = "application/octet-stream"; /* never split our own header block */
#define HEAD_FMT "HTTP/1.1 %d %s\r\nDate: %s\r\nServer: sfaasd/%s\r\nContent-Length: %zu\r\n%s%s%s%s"
#define HEAD_ARGS                                                                                         \
        status, http_status_text(status), date, SFAASD_VERSION, body_len, content_type ? "Content-Type: " : "", \
                content_type ? content_type : "", content_type ? "\r\n" : "",                            \
                close_after ? "Connection: close\r\n" : ""
        /* The head is sized exactly: a Content-Type echoed from the request can
         * be as long as the header limit allows. */
        n = snprintf(NULL, 0, HEAD_FMT, HEAD_ARGS);
        if (n < 0 || size_add((size_t) n, el + 2, &total) < 0 ||
            size_add(total, send_body ? body_len : 0, &total) < 0 || size_add(total, 1, &total) < 0 ||
            !(wc = malloc(sizeof *wc + total))) {
                request_free(req);
                conn_close(c);
                return;
        }
        (void) snprintf(wc->buf, (size_t) n + 1, HEAD_FMT, HEAD_ARGS);
#undef HEAD_FMT
#undef HEAD_ARGS
        hl = (size_t) n;
        if (el)
                memcpy(wc->buf + hl, extra_headers, el);
        memcpy(wc->buf + hl + el, "\r\n", 2);
        if (send_body)
                memcpy(wc->buf + hl + el + 2, body, body_len);
        wc->conn = c;
        wc->req = NULL;
        wc->close_after = close_after;
        wc->final = true;
        wc->len = hl + el + 2 + (send_body ? body_len : 0);
        request_free(req);
        (void) conn_write(c, wc);
}

void http_respond_error_with(struct http_request *req, int status, const char *extra_headers, const char *fmt,
                             ...)
{
        char msg[1024];
        va_list ap;
        json_t *o;
        char *body;

        va_start(ap, fmt);
        (void) vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        o = json_pack("{s:s}", "error", msg);
        body = o ? json_dumps(o, JSON_COMPACT) : NULL;
        json_decref(o);
        if (!body) {
                http_respond(req, 500, "text/plain", extra_headers, "out of memory\n", 14);
                return;
        }
        {
                size_t len = strlen(body);
                char *b2 = realloc(body, len + 2);
                if (b2) {
                        body = b2;
                        body[len++] = '\n';
                        body[len] = '\0';
                }
                http_respond(req, status, "application/json", extra_headers, body, len);
        }
        free(body);
}

void http_respond_error(struct http_request *req, int status, const char *fmt, ...)
{
        char msg[1024];
        va_list ap;

        va_start(ap, fmt);
        (void) vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        http_respond_error_with(req, status, NULL, "%s", msg);
}

/* Answer a protocol-level failure and close the connection afterwards. */
static void conn_fail(struct http_conn *c, int status, const char *msg)
{
        struct http_request *req = c->req;
        if (c->closing)
                return;
        conn_stop_reading(c);
        conn_idle_end(c); /* busy with this answer until it closes */
        if (req && req->held) {
                /* A streamed body's handler holds it: it learns the request
                 * is gone; the error goes out on a request of our own, or,
                 * when an answer has begun already, the connection closes. */
                if (req->responded) {
                        conn_close(c);
                        return;
                }
                c->req = NULL;
                req->conn = NULL;
                if (req->on_abort)
                        req->on_abort(req);
                req = NULL;
        }
        if (!req) {
                req = calloc(1, sizeof *req);
                if (!req) {
                        conn_close(c);
                        return;
                }
                req->body_fd = -1;
                req->conn = c;
                req->server = c->server;
                memcpy(req->remote, c->remote, sizeof req->remote);
        req->client = c->client;
                c->req = req;
        }
        if (!req->method[0])
                (void) xsnprintf(req->method, sizeof req->method, "GET");
        req->keep_alive = false;
        c->close_after_write = true;
        c->refused = true;
        if (status == 429) {
                char body[256];
                int n = snprintf(body, sizeof body, "{\"error\":\"%s\"}\n", msg); /* msg is ours, plain ASCII */
                http_respond(req, status, "application/json", "Retry-After: 1\r\n", body,
                             n > 0 && (size_t) n < sizeof body ? (size_t) n : 0);
                return;
        }
        http_respond_error(req, status, "%s", msg);
}

/* Bytes of its request received per second since it began (heads and
 * bodies alike; time the handler paused the body not counted), over at
 * least 100 ms: a request whose first segment just arrived is not judged
 * on it. */
static uint64_t conn_request_rate(const struct http_conn *c, uint64_t now)
{
        uint64_t age = now - c->req->start_ns - (c->body_paused ? now - c->paused_at_ns : 0) - c->paused_ns;

        if (age < 100000000)
                age = 100000000;
        return (uint64_t) ((unsigned __int128) (c->header_bytes + c->body_bytes) * 1000000000u / age);
}

/* The slowest sender (server.h): a connection still receiving its request,
 * not held by a handler, whose average rate is below body_min_rate; NULL
 * when there is none. No minimum age: an attacker who reconnects at once
 * whenever a connection is cut would otherwise keep every slot too young
 * to be taken. A well-behaved client sends its head in one segment (it is
 * no longer receiving when the next newcomer looks) or its body fast. */
static struct http_conn *server_slowest_sender(struct http_server *s, const struct http_conn *newcomer,
                                               uint64_t now, uint64_t *ret_rate)
{
        struct http_conn *slowest = NULL;
        uint64_t slowest_rate = UINT64_MAX;

        struct http_conn *c;

        list_for_each_safe(c, &s->conns, node) {
                uint64_t rate;
                if (c == newcomer || c->closing || c->refused || c->close_after_write || c->active || !c->req ||
                    c->req->held)
                        continue;
                rate = conn_request_rate(c, now);
                if (rate < s->limits.body_min_rate && rate < slowest_rate) {
                        slowest = c;
                        slowest_rate = rate;
                }
        }
        *ret_rate = slowest_rate;
        return slowest;
}

/* The idle connection to close for newcomer, longest idle first, among
 * those of client addresses holding at least as many connections as the
 * newcomer's: an address that floods the table with new connections does
 * not close another client's connection in the moment between its accept
 * and its first bytes. */
static struct http_conn *server_idle_victim(struct http_server *s, const struct http_conn *newcomer)
{
        size_t mine = http_clients_count(s->clients, &newcomer->client);
        struct http_conn *c;

        list_for_each_safe(c, &s->idle, idle_node)
                if (http_clients_count(s->clients, &c->client) >= mine)
                        return c;
        return NULL;
}

/* Make room in a full table, in this order: the connection idle the
 * longest if it has been idle a second or more; the slowest sender, which
 * is answered 408; an idle connection of an address at least as busy as
 * the newcomer's (server_idle_victim). */
static bool server_make_room(struct http_server *s, const struct http_conn *newcomer)
{
        struct http_conn *idle = list_first(&s->idle, struct http_conn, idle_node), *slow;
        uint64_t now = now_ns(), rate;

        if (idle && now - idle->idle_since_ns >= 1000000000) {
                log_debug("closing idle connection from %s to make room for a new one", idle->remote);
                conn_close(idle);
                return true;
        }
        slow = server_slowest_sender(s, newcomer, now, &rate);
        if (slow) {
                log_debug("connection table full: answering 408 to %s, which sends its request at %llu bytes/s",
                          slow->remote, (unsigned long long) rate);
                conn_fail(slow, 408, "request not received in time: too slow while the server is full");
                return true;
        }
        idle = server_idle_victim(s, newcomer);
        if (idle) {
                log_debug("closing idle connection from %s to make room for a new one", idle->remote);
                conn_close(idle);
                return true;
        }
        return false;
}

/* "a.b.c.d:port" or "[v6]:port"; an IPv4-mapped peer as plain IPv4. */
static void format_remote(const struct sockaddr_storage *ss, char *buf, size_t size)
{
        char ip[INET6_ADDRSTRLEN] = "";

        if (ss->ss_family == AF_INET) {
                const struct sockaddr_in *in = (const struct sockaddr_in *) ss;
                (void) uv_ip4_name(in, ip, sizeof ip);
                (void) xsnprintf(buf, size, "%s:%d", ip, ntohs(in->sin_port));
        } else if (ss->ss_family == AF_INET6) {
                const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *) ss;
                if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
                        struct sockaddr_in in = { .sin_family = AF_INET, .sin_port = in6->sin6_port };
                        memcpy(&in.sin_addr, &in6->sin6_addr.s6_addr[12], 4);
                        (void) uv_ip4_name(&in, ip, sizeof ip);
                        (void) xsnprintf(buf, size, "%s:%d", ip, ntohs(in6->sin6_port));
                } else {
                        (void) uv_ip6_name(in6, ip, sizeof ip);
                        (void) xsnprintf(buf, size, "[%s]:%d", ip, ntohs(in6->sin6_port));
                }
        }
}

static void on_connection(uv_stream_t *server, int status)
{
        struct http_listener *lst = server->data;
        struct http_server *s = lst->server;
        struct http_conn *c;
        struct sockaddr_storage ss;
        int len = sizeof ss;
        size_t n_client;

        if (status < 0) {
                log_warning("accept failed: %s", uv_strerror(status));
                return;
        }
        c = calloc(1, sizeof *c);
        if (!c)
                return;
        c->server = s;
        uv_tcp_init(s->loop, &c->tcp);
        uv_timer_init(s->loop, &c->timer);
        c->tcp.data = c;
        c->timer.data = c;
        c->open_handles = 2;
        if (uv_accept(server, (uv_stream_t *) &c->tcp) < 0) {
                c->closing = true;
                uv_close((uv_handle_t *) &c->tcp, conn_free_if_closed);
                uv_close((uv_handle_t *) &c->timer, conn_free_if_closed);
                return;
        }
        (void) uv_tcp_nodelay(&c->tcp, 1);
        list_add_head(&s->conns, &c->node);
        s->n_conns++;
        llhttp_init(&c->parser, HTTP_REQUEST, &s->settings);
        c->parser.data = c;
        if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *) &ss, &len) < 0 ||
            http_client_key_from_sockaddr((struct sockaddr *) &ss, &c->client) < 0) {
                conn_close(c); /* gone already, or not a TCP/IP peer */
                return;
        }
        format_remote(&ss, c->remote, sizeof c->remote);
        if (http_clients_add(s->clients, &c->client, &n_client) < 0) {
                conn_close(c);
                return;
        }
        c->counted = true;
        if (lst->tls) {
                /* Every TLS connection its own SSL on the current context
                 * (a reload changes what the next ones get). */
                c->ssl = SSL_new(http_tls_ctx(s->tls));
                c->rbio = BIO_new(BIO_s_mem());
                c->wbio = BIO_new(BIO_s_mem());
                if (!c->ssl || !c->rbio || !c->wbio) {
                        if (!c->ssl) {
                                BIO_free(c->rbio);
                                BIO_free(c->wbio);
                                c->rbio = c->wbio = NULL;
                        } else {
                                if (c->rbio && c->wbio)
                                        SSL_set_bio(c->ssl, c->rbio, c->wbio);
                                else {
                                        BIO_free(c->rbio);
                                        BIO_free(c->wbio);
                                        c->rbio = c->wbio = NULL;
                                }
                        }
                        ERR_clear_error();
                        conn_close(c);
                        return;
                }
                SSL_set_bio(c->ssl, c->rbio, c->wbio); /* the SSL owns them now */
                SSL_set_accept_state(c->ssl);
        }
        /* A 4xx like every other limit: the client may retry shortly. Its
         * own connections are its business: nobody is evicted for it. A TLS
         * client is closed instead: there is no HTTP before a handshake,
         * and a handshake for a refusal is work an attacker would choose. */
        if (n_client > s->limits.max_connections_per_client) {
                if (c->ssl)
                        conn_close(c);
                else
                        conn_fail(c, 429, "too many connections from this address");
                return;
        }
        if (s->n_conns > s->limits.max_connections && !server_make_room(s, c)) {
                if (c->ssl)
                        conn_close(c);
                else
                        conn_fail(c, 429, "too many connections");
                return;
        }
        conn_idle_begin(c); /* the first-byte deadline */
        conn_start_reading(c);
}

int http_server_new(uv_loop_t *loop, const struct http_limits *limits, http_head_cb on_head,
                    http_request_cb on_request, void *data, struct http_server **ret)
{
        struct http_server *s = calloc(1, sizeof *s);
        int r;
        if (!s)
                return -ENOMEM;
        list_init(&s->conns);
        list_init(&s->idle);
        s->loop = loop;
        s->limits = *limits;
#define DEF(f, v) if (!s->limits.f) s->limits.f = (v)
        DEF(max_header_bytes, 16384);
        DEF(max_headers, 100);
        DEF(max_url_bytes, 8192);
        DEF(max_body_bytes, 8u << 20);
        DEF(max_stream_bytes, 2ULL << 30);
        DEF(max_connections, 1024);
        DEF(max_connections_per_client, 256);
        DEF(header_timeout_ms, 10000);
        DEF(idle_timeout_ms, 60000);
        DEF(first_byte_timeout_ms, 5000);
        DEF(request_timeout_ms, 60000);
        DEF(body_timeout_ms, 10000);
        DEF(body_min_rate, 1024);
#undef DEF
        r = http_clients_new(s->limits.max_connections, &s->clients);
        if (r < 0) {
                free(s);
                return r;
        }
        s->on_head = on_head;
        s->on_request = on_request;
        s->data = data;
        llhttp_settings_init(&s->settings);
        s->settings.on_message_begin = on_message_begin;
        s->settings.on_url = on_url;
        s->settings.on_header_field = on_header_field;
        s->settings.on_header_value = on_header_value;
        s->settings.on_headers_complete = on_headers_complete;
        s->settings.on_body = on_body;
        s->settings.on_message_complete = on_message_complete;
        *ret = s;
        return 0;
}

static int server_listen(struct http_server *s, const char *addr, bool tls)
{
        struct http_listener *l;
        char host[128];
        const char *colon;
        uint64_t port;
        struct sockaddr_storage ss;
        int r;

        colon = strrchr(addr, ':');
        if (!colon || colon == addr)
                return -EINVAL;
        if (addr[0] == '[') {
                if (colon[-1] != ']' || (size_t) (colon - addr - 2) >= sizeof host)
                        return -EINVAL;
                memcpy(host, addr + 1, (size_t) (colon - addr - 2));
                host[colon - addr - 2] = '\0';
        } else {
                if ((size_t) (colon - addr) >= sizeof host)
                        return -EINVAL;
                memcpy(host, addr, (size_t) (colon - addr));
                host[colon - addr] = '\0';
        }
        if (parse_u64(colon + 1, &port) < 0 || port > 65535)
                return -EINVAL;
        if (uv_ip4_addr(host, (int) port, (struct sockaddr_in *) &ss) != 0 &&
            uv_ip6_addr(host, (int) port, (struct sockaddr_in6 *) &ss) != 0)
                return -EINVAL;
        if (s->n_lst >= HTTP_MAX_LISTENERS || (tls && !s->tls))
                return -EINVAL;
        l = &s->lst[s->n_lst];
        r = uv_tcp_init(s->loop, &l->tcp);
        if (r < 0)
                return r;
        l->tcp.data = l;
        l->server = s;
        l->tls = tls;
        l->open = true;
        s->n_lst++;
        s->lst_open++;
        /* On failure the handle stays for http_server_shutdown() or the
         * owner's uv_walk() to close. */
        r = uv_tcp_bind(&l->tcp, (struct sockaddr *) &ss, 0);
        if (r < 0)
                return r;
        r = uv_listen((uv_stream_t *) &l->tcp, 511, on_connection);
        if (r < 0)
                return r;
        s->listening = true;
        return 0;
}

int http_server_listen(struct http_server *s, const char *addr)
{
        return server_listen(s, addr, false);
}

int http_server_listen_tls(struct http_server *s, const char *addr)
{
        return server_listen(s, addr, true);
}

int http_server_set_tls(struct http_server *s, struct http_tls *tls)
{
        if (!s->tls_idle_open) {
                int r = uv_idle_init(s->loop, &s->tls_idle);
                if (r < 0)
                        return r;
                s->tls_idle.data = s;
                s->tls_idle_open = true;
        }
        s->tls = tls;
        return 0;
}



int http_server_port(struct http_server *s)
{
        return http_server_port_of(s, 0);
}

int http_server_port_of(struct http_server *s, size_t i)
{
        struct sockaddr_storage ss;
        int len = sizeof ss;
        if (i >= s->n_lst || uv_tcp_getsockname(&s->lst[i].tcp, (struct sockaddr *) &ss, &len) < 0)
                return -EINVAL;
        if (ss.ss_family == AF_INET)
                return ntohs(((struct sockaddr_in *) &ss)->sin_port);
        return ntohs(((struct sockaddr_in6 *) &ss)->sin6_port);
}

void *http_server_data(struct http_server *s) { return s->data; }

void http_server_on_response(struct http_server *s, void (*cb)(struct http_request *req, int status))
{
        s->on_response = cb;
}
void http_server_on_request_free(struct http_server *s, void (*cb)(struct http_request *req))
{
        s->on_free = cb;
}
size_t http_server_connections(const struct http_server *s) { return s->n_conns; }

static void on_server_closed(uv_handle_t *h)
{
        struct http_listener *l = h->data;
        struct http_server *s = l->server;
        s->lst_open--;
        server_maybe_done(s);
}

void http_server_shutdown(struct http_server *s, void (*cb)(struct http_server *s))
{
        struct http_conn *c;
        if (s->shutting_down)
                return;
        s->shutting_down = true;
        s->shutdown_cb = cb;
        for (size_t i = 0; i < s->n_lst; i++)
                if (s->lst[i].open && !uv_is_closing((uv_handle_t *) &s->lst[i].tcp)) {
                        s->lst[i].open = false;
                        uv_close((uv_handle_t *) &s->lst[i].tcp, on_server_closed);
                }
        if (s->tls_idle_open) {
                s->tls_idle_open = false;
                uv_close((uv_handle_t *) &s->tls_idle, NULL);
        }
        list_for_each_safe(c, &s->conns, node) {
                if (!c->active)
                        conn_close(c); /* idle or mid-request: nothing acknowledged yet */
                else
                        c->close_after_write = true;
        }
}

void http_server_free(struct http_server *s)
{
        if (!s)
                return;
        http_clients_free(s->clients);
        free(s);
}

void http_request_hold(struct http_request *req)
{
        req->held = true;
}

void http_request_release(struct http_request *req)
{
        struct http_conn *c;

        if (!req)
                return;
        c = req->conn;
        if (c) {
                /* Nothing will answer it: the client must not wait for it. */
                if (c->active == req)
                        c->active = NULL;
                else if (c->req == req)
                        c->req = NULL;
                req->conn = NULL;
                conn_close(c);
        }
        request_free(req);
}

const char *http_request_header(const struct http_request *req, const char *name)
{
        for (size_t i = 0; i < req->n_headers; i++)
                if (req->headers[i].name && strcasecmp(req->headers[i].name, name) == 0)
                        return req->headers[i].value ? req->headers[i].value : "";
        return NULL;
}

void http_request_remove_header(struct http_request *req, const char *name)
{
        size_t o = 0;
        for (size_t i = 0; i < req->n_headers; i++) {
                if (strcasecmp(req->headers[i].name, name) == 0) {
                        explicit_bzero(req->headers[i].value, strlen(req->headers[i].value));
                        free(req->headers[i].name);
                        free(req->headers[i].value);
                        continue;
                }
                req->headers[o++] = req->headers[i];
        }
        req->n_headers = o;
}

void http_body_to_file(struct http_request *req, int fd)
{
        if (req->body_fd >= 0)
                (void) close(req->body_fd);
        req->body_fd = fd;
        req->body_file_len = 0;
}

char *http_query_param(const struct http_request *req, const char *key)
{
        const char *p = req->query;
        size_t kl = strlen(key);
        while (p && *p) {
                const char *amp = strchr(p, '&');
                size_t seg = amp ? (size_t) (amp - p) : strlen(p);
                const char *eq = memchr(p, '=', seg);
                size_t nl = eq ? (size_t) (eq - p) : seg;
                if (nl == kl && memcmp(p, key, kl) == 0) {
                        if (!eq)
                                return strdup("");
                        return percent_decode(eq + 1, seg - nl - 1, true);
                }
                p = amp ? amp + 1 : NULL;
        }
        return NULL;
}

/* ---- streamed responses ---- */

/* The connection lets go of req, whose answer ends now. True when the answer
 * ended before the request's streamed body did: the rest of that body is
 * not read and the connection must close after the answer. */
static bool answer_ends(struct http_conn *c, struct http_request *req)
{
        if (c->active == req) {
                c->active = NULL;
        } else if (c->req == req) {
                c->req = NULL;
                c->refused = true;
                conn_stop_reading(c);
                return true;
        }
        return false;
}

static int stream_queue(struct http_request *req, const char *prefix, size_t plen, const void *data, size_t len,
                        const char *suffix, size_t slen, bool final, bool close_after)
{
        struct http_conn *c = req->conn;
        struct write_ctx *wc;
        size_t total;

        if (!c || c->closing)
                return -EPIPE;
        if (size_add(plen, len, &total) < 0 || size_add(total, slen, &total) < 0)
                return -ENOMEM;
        if (total && !c->ssl && uv_stream_get_write_queue_size((uv_stream_t *) &c->tcp) == 0 && !c->done_pending) {
                /* Straight from the caller's buffers when the socket takes it
                 * all (the usual case): no copy at all. */
                uv_buf_t bufs[3] = { uv_buf_init((char *) prefix, (unsigned) plen),
                                     uv_buf_init((char *) data, (unsigned) len),
                                     uv_buf_init((char *) suffix, (unsigned) slen) };
                int w = uv_try_write((uv_stream_t *) &c->tcp, bufs, 3);
                size_t done = w > 0 ? (size_t) w : 0;
                if (w < 0 && w != UV_EAGAIN) {
                        conn_close(c);
                        return -EPIPE;
                }
                if (done == total) {
                        if (final) {
                                c->done_pending = true;
                                c->done_close = close_after;
                                (void) uv_timer_start(&c->timer, on_timer, 0, 0);
                        }
                        return 0;
                }
                /* The rest is queued: skip what went out. */
                {
                        size_t k = done < plen ? done : plen;
                        prefix += k, plen -= k, done -= k;
                        k = done < len ? done : len;
                        data = (const char *) data + k, len -= k, done -= k;
                        suffix += done, slen -= done;
                        total = plen + len + slen;
                }
        }
        if (!(wc = malloc(sizeof *wc + total)))
                return -ENOMEM;
        memcpy(wc->buf, prefix, plen);
        if (len)
                memcpy(wc->buf + plen, data, len);
        memcpy(wc->buf + plen + len, suffix, slen);
        wc->conn = c;
        wc->req = final ? NULL : req;
        wc->close_after = close_after;
        wc->final = final;
        wc->len = total;
        return conn_write(c, wc);
}

int http_stream_begin(struct http_request *req, int status, const char *content_type, const char *extra_headers)
{
        struct http_conn *c = req->conn;
        char date[TIME_HTTP_MAX];
        _cleanup_free_ char *head = NULL;
        int r;

        if (!c || c->closing)
                return -EPIPE;
        req->held = true;
        req->responded = true;
        req->streaming = true;
        if (req->server && req->server->on_response)
                req->server->on_response(req, status);
        time_http_date(time(NULL), date);
        if (content_type && strpbrk(content_type, "\r\n"))
                content_type = "application/octet-stream";
        /* HTTP/1.0 has no chunked coding: the body ends when we close. */
        head = xasprintf("HTTP/1.1 %d %s\r\nDate: %s\r\nServer: sfaasd/%s\r\n%s%s%s%s%s\r\n", status,
                         http_status_text(status), date, SFAASD_VERSION,
                         req->http10 ? "Connection: close\r\n" : "Transfer-Encoding: chunked\r\n",
                         content_type ? "Content-Type: " : "", content_type ? content_type : "",
                         content_type ? "\r\n" : "", extra_headers ? extra_headers : "");
        if (!head)
                return -ENOMEM;
        r = stream_queue(req, head, strlen(head), NULL, 0, "", 0, false, false);
        if (r >= 0)
                conn_start_reading(c); /* to notice a client that goes away */
        return r;
}

int http_stream_write(struct http_request *req, const void *data, size_t len)
{
        char size[32];
        int n;

        if (!req->conn)
                return -EPIPE;
        if (len == 0 || strcmp(req->method, "HEAD") == 0)
                return 0;
        if (req->http10)
                return stream_queue(req, "", 0, data, len, "", 0, false, false);
        n = snprintf(size, sizeof size, "%zx\r\n", len);
        return stream_queue(req, size, (size_t) n, data, len, "\r\n", 2, false, false);
}

size_t http_stream_pending(const struct http_request *req)
{
        if (!req->conn)
                return 0;
        return uv_stream_get_write_queue_size((const uv_stream_t *) &req->conn->tcp);
}

void http_stream_end(struct http_request *req)
{
        struct http_conn *c = req->conn;
        if (c && !c->closing) {
                bool close_after = req->http10 || !req->keep_alive || c->server->shutting_down ||
                                   c->close_after_write;
                if (answer_ends(c, req))
                        close_after = true;
                if (req->http10 || strcmp(req->method, "HEAD") == 0)
                        (void) stream_queue(req, "", 0, NULL, 0, "", 0, true, close_after);
                else
                        (void) stream_queue(req, "0\r\n\r\n", 5, NULL, 0, "", 0, true, close_after);
        }
        request_free(req);
}

/* ---- streamed request bodies and raw answers (the proxy) ---- */

void http_request_pause_body(struct http_request *req)
{
        struct http_conn *c = req->conn;
        if (c && c->req == req) {
                conn_stop_reading(c);
                if (!c->body_paused && !c->in_header_phase) {
                        /* Our back-pressure: the client is not late meanwhile. */
                        c->body_paused = true;
                        c->paused_at_ns = now_ns();
                        (void) uv_timer_stop(&c->timer);
                }
        }
}

void http_request_resume_body(struct http_request *req)
{
        struct http_conn *c = req->conn;
        if (c && c->req == req && !c->refused) {
                if (c->body_paused) {
                        c->body_paused = false;
                        c->paused_ns += now_ns() - c->paused_at_ns;
                        body_timer_arm(c);
                }
                conn_start_reading(c);
        }
}

bool http_request_keep_alive(const struct http_request *req)
{
        const struct http_conn *c = req->conn;
        return c && !c->closing && req->keep_alive && !c->server->shutting_down && !c->close_after_write &&
               !c->refused;
}

int http_raw_begin(struct http_request *req, int status, bool keep_alive)
{
        struct http_conn *c = req->conn;

        if (!c || c->closing)
                return -EPIPE;
        req->held = true;
        req->responded = true;
        req->streaming = true;
        req->raw = true;
        req->raw_close = !keep_alive;
        if (req->server && req->server->on_response)
                req->server->on_response(req, status);
        /* Once the body is in, read only to notice a client that goes away
         * (a body still arriving is read by the parser, paused or not). */
        if (c->active == req)
                conn_start_reading(c);
        return 0;
}

int http_raw_write(struct http_request *req, const void *data, size_t len, bool last)
{
        struct http_conn *c = req->conn;
        bool close_after;
        int r;

        if (!last) {
                if (!c || c->closing)
                        return -EPIPE;
                return len ? stream_queue(req, "", 0, data, len, "", 0, false, false) : 0;
        }
        if (!c || c->closing) {
                request_free(req);
                return -EPIPE;
        }
        close_after = req->raw_close || c->server->shutting_down || c->close_after_write;
        if (answer_ends(c, req))
                close_after = true;
        r = stream_queue(req, "", 0, data, len, "", 0, true, close_after);
        request_free(req);
        return r;
}

const char *http_date(void)
{
        static __thread char buf[TIME_HTTP_MAX];
        static __thread time_t last;
        time_t t = time(NULL);
        if (t != last) {
                time_http_date(t, buf);
                last = t;
        }
        return buf;
}
