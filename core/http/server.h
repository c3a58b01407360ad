/* SPDX-License-Identifier: MIT */
/*
 * HTTP/1.1 server on libuv with llhttp.
 *
 * Ownership (libuv rules, written once here):
 *  - struct http_server embeds its listening uv_tcp_t; it is freed by the
 *    owner only after http_server_close()'s callback has run.
 *  - struct http_conn embeds its uv_tcp_t and timer; it is freed in the
 *    close callback of the last handle, never earlier.
 *  - struct http_request is allocated per request and owned by the
 *    connection until the handler takes it (http_request_hold). A held
 *    request outlives its connection: if the client goes away, req->conn
 *    becomes NULL (and on_abort, if set, is called), and the
 *    handler's final http_respond*() frees it, or, with no answer to give
 *    (the client is gone), http_request_release(). Every request is
 *    answered or released exactly once: a handler that sets on_abort and
 *    drops its pointer there must release the request in it.
 *
 * Limits: header bytes and count -> 431, URL -> 414, body -> 413,
 * connections -> 429 (with Retry-After), a request not received in time ->
 * 408; each with a JSON body {"error": "..."} and the connection closed
 * afterwards.
 *
 * Deadlines of a request being received (all -> 408):
 *  - its head within header_timeout of its first byte (slowloris);
 *  - head and body together within request_timeout of its first byte, for
 *    a body read into memory (streamed bodies, uploads to a file or to a
 *    handler, may be large: the rate below bounds them);
 *  - its body at a minimum average rate: by body_timeout after the head,
 *    plus one second per body_min_rate bytes received (a body trickled in
 *    a byte at a time is cut within about body_timeout); time the handler
 *    itself paused the body (back-pressure) does not count;
 *  - no pause longer than idle_timeout between two reads of its body.
 *
 * Connections (a full table must not lock clients out):
 *  - idle means no request in flight: never sent one yet, or kept alive
 *    between requests. Idle connections are kept on a list in the order
 *    they became idle. A new connection must begin its first request
 *    within first_byte_timeout, a kept-alive one its next within
 *    idle_timeout; both are deadlines from the moment it became idle
 *    (bytes that begin no request, like blank lines, do not extend them).
 *    Either closes silently.
 *  - when the table (max_connections) is full, a newcomer closes the
 *    longest idle connection to take its place; with none idle, the
 *    connection still receiving its request at the lowest average rate
 *    below body_min_rate (not yet taken by a handler) is answered 408 and
 *    closed instead. Only a table full of
 *    requests being answered, or received fast enough, answers 429: a
 *    flood of slow senders cannot lock other clients out.
 *  - at most max_connections_per_client connections per client address
 *    (IPv4, IPv6; IPv4-mapped counts as IPv4), idle or busy; the next one
 *    is answered 429 with Retry-After and closed, without evicting anyone.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "core/http/peers.h"

struct http_server;
struct http_conn;

struct http_header {
        char *name;   /* as received */
        char *value;
};

struct http_limits {
        size_t max_header_bytes;   /* request line + headers (default 16 KiB) */
        size_t max_headers;        /* default 100 */
        size_t max_url_bytes;      /* default 8 KiB */
        size_t max_body_bytes;     /* in-memory bodies (default 8 MiB) */
        uint64_t max_stream_bytes; /* bodies streamed to a file (default 2 GiB) */
        size_t max_connections;    /* default 1024 */
        size_t max_connections_per_client; /* per client address (default 256) */
        uint64_t header_timeout_ms;  /* default 10 s */
        uint64_t idle_timeout_ms;    /* keep-alive idle and body inactivity (default 60 s) */
        uint64_t first_byte_timeout_ms; /* a new connection's first request (default 5 s) */
        uint64_t request_timeout_ms; /* head + in-memory body, from the first byte (default 60 s) */
        uint64_t body_timeout_ms;    /* the body's allowance at a rate of zero (default 10 s) */
        uint64_t body_min_rate;      /* bytes/s a body must average beyond that (default 1024) */
};

#define HTTP_REMOTE_MAX 64 /* "[v6 address]:port", NUL included */

struct http_request {
        struct http_conn *conn;    /* NULL once the client has gone */
        struct http_server *server;
        char method[16];
        char *url;                 /* raw target */
        char *path;                /* percent-decoded path, without query */
        char *query;               /* raw query without '?', "" if none */
        struct http_header *headers;
        size_t n_headers;
        char *body;                /* in-memory body (NUL-terminated), or NULL */
        size_t body_len;
        int body_fd;               /* streamed body file (see http_body_to_file), or -1 */
        uint64_t body_file_len;
        bool keep_alive;
        bool http10;               /* HTTP/1.0 client: no chunked coding */
        bool held;
        bool responded;
        bool streaming;            /* http_stream_begin() was called */
        /* Called (once) when the client goes away while the request is held:
         * req->conn is already NULL; the handler still owns and must finish
         * the request (http_respond or http_stream_end frees it). */
        void (*on_abort)(struct http_request *req);
        /* The client's end of stream (a FIN) while the request is held and
         * not yet answered counts as the client going away (on_abort),
         * not as a half-close that still waits for the answer: what
         * nginx does for a proxied request. Set by the handler. */
        bool abort_on_eof;
        /* Bodies streamed to the handler (the head callback returned 2):
         * on_body gets each piece as it arrives, on_body_end once after the
         * last. The handler may answer before the body has ended; the rest
         * of the body is then not read and the connection closes after the
         * answer. */
        bool body_streamed;
        void (*on_body)(struct http_request *req, const char *data, size_t len);
        void (*on_body_end)(struct http_request *req);
        /* Streamed answers: called when the queue of bytes not yet sent to
         * the client fell below HTTP_DRAIN_BYTES (for back-pressure). */
        void (*on_drain)(struct http_request *req);
        bool raw;                  /* http_raw_begin(): the caller writes the framing */
        bool raw_close;            /* ... and the connection closes after it */
        uint64_t start_ns;
        char remote[HTTP_REMOTE_MAX]; /* peer address */
        struct http_client_key client; /* peer address as a key (peers.h) */
        void *data;                /* the handler's */
        void *app;                 /* the application's per-request state from the head callback on
                                    * (the API's route); free()d with the request */
};

/* What a head callback does with the request (http_head_cb). */
enum http_head_action {
        HTTP_HEAD_ANSWERED = -1,     /* it answered (http_respond_*): the body is not read (a 401 before a 2 GiB upload) */
        HTTP_HEAD_READ_BODY = 0,     /* read the body into memory, then call the request callback */
        HTTP_HEAD_BODY_TO_FILE = 1,  /* stream the body into the fd set by http_body_to_file() */
        HTTP_HEAD_TAKEN = 2,         /* the callback took the request (held, with on_body and on_body_end
                                      * set); the request callback is not called for it */
};

/* Called at headers-complete, before the body is read; returns an enum
 * http_head_action. */
typedef int (*http_head_cb)(struct http_request *req);
/* Called when the whole request is in. The handler responds now or holds. */
typedef void (*http_request_cb)(struct http_request *req);

int http_server_new(uv_loop_t *loop, const struct http_limits *limits, http_head_cb on_head,
                    http_request_cb on_request, void *data, struct http_server **ret);
/* Bind and listen; addr "127.0.0.1:8080" or "[::1]:8080". Up to four
 * listeners, plain or TLS, share the connection table and its limits. */
int http_server_listen(struct http_server *s, const char *addr);
/* TLS (core/http/tls.h): the context the TLS listeners use, owned by the
 * caller and alive until the server is freed (a reload swaps what it holds,
 * the pointer stays); then listen with TLS. A TLS connection is the same
 * HTTP/1.1 connection as a plain one (keep-alive, limits, deadlines; the
 * handshake falls within first_byte_timeout), except that a connection
 * refused at accept (429 per client or table full) is closed without an
 * answer: no HTTP exists before a handshake. */
struct http_tls;
int http_server_set_tls(struct http_server *s, struct http_tls *tls);
int http_server_listen_tls(struct http_server *s, const char *addr);
/* The bound port of the first listener, or of listener i (in the order
 * they were added), after listen (useful with port 0). */
int http_server_port(struct http_server *s);
int http_server_port_of(struct http_server *s, size_t i);
void *http_server_data(struct http_server *s);
/* Called once for every response the server starts (status known): handler
 * answers, protocol errors (400, 408, 413, 414, 429, 431) and streams. For
 * metrics; it must not answer or free the request. */
void http_server_on_response(struct http_server *s, void (*cb)(struct http_request *req, int status));
/* Called once when a request with application state (req->app) is freed,
 * answered or not (a client gone mid-call): to release what its head
 * took. It must not answer the request. */
void http_server_on_request_free(struct http_server *s, void (*cb)(struct http_request *req));
/* Stop accepting; idle connections are closed; busy ones finish their
 * request and close. cb runs once every connection is gone. */
void http_server_shutdown(struct http_server *s, void (*cb)(struct http_server *s));
void http_server_free(struct http_server *s);
size_t http_server_connections(const struct http_server *s);

/* Keep the request alive after the request callback returns. */
void http_request_hold(struct http_request *req);
/* Finish a held request without an answer and free it: for a handler whose
 * client has gone (on_abort; req->conn is NULL then). A request still
 * connected has its connection closed, since nothing will answer it.
 * Accepts NULL. */
void http_request_release(struct http_request *req);
/* Case-insensitive header lookup; first value. */
const char *http_request_header(const struct http_request *req, const char *name);
/* Remove every header name (case-insensitive), its value wiped: a
 * credential meant for the gateway, not for whoever the request goes on to. */
void http_request_remove_header(struct http_request *req, const char *name);
/* Stream the body into fd (owned by the request from now on). Only from
 * the head callback, then return 1. */
void http_body_to_file(struct http_request *req, int fd);
/* Value of query parameter key (percent-decoded), newly allocated; NULL if absent. */
char *http_query_param(const struct http_request *req, const char *key);

/* Respond. extra_headers is "Name: value\r\n..." (may be NULL). body may be
 * NULL. The request is finished and freed (also when already aborted). */
void http_respond(struct http_request *req, int status, const char *content_type, const char *extra_headers,
                  const void *body, size_t body_len);
/* {"error": msg} with the given status. */
void http_respond_error(struct http_request *req, int status, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
/* The same with extra headers ("Name: value\r\n..."). */
void http_respond_error_with(struct http_request *req, int status, const char *extra_headers, const char *fmt,
                             ...) __attribute__((format(printf, 4, 5)));

const char *http_status_text(int status);

#define HTTP_DRAIN_BYTES (256u * 1024u)

/* Streamed request bodies: stop and restart reading from the client (the
 * consumer's back-pressure). At most one read buffer more arrives after a
 * pause. */
void http_request_pause_body(struct http_request *req);
void http_request_resume_body(struct http_request *req);

/*
 * Raw answers (the proxy): the caller writes the status line, headers and
 * body framing itself. http_request_keep_alive() says whether the
 * connection may stay open after this answer; the caller passes what its
 * head says (false: "Connection: close", the connection closes after the
 * last write). begin marks the request answered with status (metrics
 * hook); write queues bytes (copied); last = true ends the answer and frees
 * the request. Both return -EPIPE once the client has gone.
 */
bool http_request_keep_alive(const struct http_request *req);
int http_raw_begin(struct http_request *req, int status, bool keep_alive);
int http_raw_write(struct http_request *req, const void *data, size_t len, bool last);
/* The Date header value, cached per second. */
const char *http_date(void);

/*
 * Streamed responses (NDJSON logs, proxied bodies): begin writes the head
 * with Transfer-Encoding: chunked (HTTP/1.0: Connection: close and a body
 * ending at close) and holds the request; write queues one chunk (copied);
 * end writes the last chunk and frees the request. Writes return -EPIPE once
 * the client has gone (the producer then calls end). http_stream_pending()
 * is the number of bytes queued but not yet sent, for back-pressure.
 */
int http_stream_begin(struct http_request *req, int status, const char *content_type, const char *extra_headers);
int http_stream_write(struct http_request *req, const void *data, size_t len);
size_t http_stream_pending(const struct http_request *req);
void http_stream_end(struct http_request *req);
