/* SPDX-License-Identifier: MIT */
/*
 * A blocking HTTP/1.1 client: one request per connection over TCP, or TLS
 * (OpenSSL) for https://, the answer parsed by llhttp; no libcurl. Used by the command-line
 * client (cmd/client_http.c, which adds the gateway, its credentials and
 * its messages) and by the daemon's async callbacks (core/runtime/async.c), which
 * call it from their own sender threads, never from the loop thread.
 *
 * https: TLS 1.2 or 1.3; the server's certificate verified against the
 * system's CA store (or tls_cacert) with its host name or IP address
 * checked, or, with tls_pin, by its SHA-256 fingerprint alone (what a
 * self-signed sfaasd prints at start). Redirects are never followed.
 *
 * Errors that happen before an HTTP status exists
 * (connection refused, timeout, an address refused by addr_ok, a broken or
 * non-HTTP answer) come back as -errno plus a human message in err; any
 * HTTP status, 4xx and 5xx included, is a success of httpc_do() and left to
 * the caller to judge. Thread-safe: no state outside the call.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "core/base/error.h"

/* One request. Borrowed pointers only; zero-initialise and fill. */
struct httpc_request {
        const char *method;         /* "GET", "POST", ... */
        const char *url;            /* absolute "http[s]://host[:port]/target" */
        const char *peer;           /* who is called, in messages: "gateway http://h:8080" */
        const char *timeout_hint;   /* appended to the timeout message, e.g. " (see --timeout)"; may be NULL */
        const char *user;           /* Basic user; NULL: "admin" */
        const char *password;       /* Basic password (or a tenant's token); NULL: no credentials */
        const char *content_type;   /* NULL: no Content-Type header */
        const char *const *headers; /* extra "Name: value" lines, checked here; Host,
                                     * User-Agent and Accept replace ours, framing ones are refused */
        size_t n_headers;
        bool has_body;              /* send body/body_len (may be empty) */
        const void *body;
        size_t body_len;
        FILE *upload;               /* else stream this many bytes of upload_len from here */
        off_t upload_len;
        FILE *sink;                 /* a 2xx body is written here instead of kept (no size limit) */
        /* Or a 2xx body goes to this function, piece by piece, as it
         * arrives (no size limit here; the function sets its own): a
         * negative return ends the request with that -errno. */
        int (*sink_fn)(void *data, const void *buf, size_t n);
        void *sink_data;
        /* Answer headers to keep (names, any case): the first value of
         * each lands in httpc_response.captured[i]; at most
         * HTTPC_CAPTURE_MAX, each value at most HTTPC_CAPTURE_VALUE_MAX. */
        const char *const *capture;
        size_t n_capture;
        long idle_timeout_ms;       /* > 0: also give up when nothing arrives or leaves for this
                                     * long (a stalled download), whatever the whole timeout */
        long timeout_ms;            /* whole request; 0: none, but connecting never waits more than 10 s */
        int cancel_fd;              /* > 0: an fd (an eventfd) whose readability aborts the request
                                     * with -ECANCELED at its next wait (the daemon's shutdown) */
        size_t max_body;            /* kept answer body ceiling; 0: 64 MiB */
        /* Asked for every resolved address before connecting to it; false
         * skips the address (the daemon's callback policy: no loopback,
         * link-local or metadata addresses). The address checked is the one
         * connected to, so DNS cannot answer differently in between. NULL:
         * every address. */
        bool (*addr_ok)(const struct sockaddr *sa, socklen_t len, void *data);
        void *addr_data;
        const char *cacert;         /* https: trust these CA certificates (PEM file) instead of the system's */
        bool cacert_and_system;     /* https: trust cacert as well as the system's store, not instead */
        const char *verify_hint;    /* after a certificate that fails verification, what to do about it;
                                     * NULL: the command line's "--cacert FILE, or --tls-fingerprint" */
        const char *tls_pin;        /* https: trust exactly the certificate with this SHA-256 fingerprint
                                     * ("AB:CD:..."), whoever signed it, whatever name it has */
};

#define HTTPC_CAPTURE_MAX 8
#define HTTPC_CAPTURE_VALUE_MAX 4096

struct httpc_response {
        long status;
        char *captured[HTTPC_CAPTURE_MAX]; /* httpc_request.capture's values, NULL when absent */
        char *body;     /* NUL-terminated copy of the body (not of a sunk one), at most
                         * max_body (64 KiB for an error body of a sunk call) */
        size_t len;
        bool truncated; /* the body was longer than kept (error bodies of sunk calls) */
        double seconds; /* total time */
};

/* Send one request and read its answer. Adds Host, User-Agent
 * (sfaasd/VERSION), Accept, Authorization (Basic, user admin or
 * req->user, with a password), Content-Length and Connection: close. Refuses (-EINVAL) a
 * method that is not a token and any CR, LF or other control byte in the
 * URL, the content type or a header. Skips 1xx answers. On success *ret
 * holds the final status and body; release it with httpc_response_release(). */
int httpc_do(const struct httpc_request *req, struct httpc_response *ret, struct sf_err *err);
void httpc_response_release(struct httpc_response *r);

/* Whether url is an absolute http:// or https:// URL that httpc_do() can
 * send: no userinfo, a numeric port, a target of visible ASCII. -EINVAL
 * otherwise; the reason in err. */
int httpc_url_check(const char *url, struct sf_err *err);
/* Whether pin is a SHA-256 fingerprint as tls_pin takes it: 0 or -EINVAL. */
int httpc_pin_check(const char *pin);
/* Who receives requests sent to url: "host:port" (lower case, the port
 * explicit, an IPv6 literal without brackets), for per-receiver limits.
 * -EINVAL when url is bad, -ENOBUFS when buf is too small. */
int httpc_url_receiver(const char *url, char *buf, size_t size);
