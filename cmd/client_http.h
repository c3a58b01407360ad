/* SPDX-License-Identifier: MIT */
/*
 * The client's one HTTP call: build the URL, send the body (from memory or
 * streamed from a FILE), gather the answer. HTTP/1.1 over TCP or TLS
 * (core/http/client.h), one request per connection, the answer parsed by
 * llhttp; no libcurl (its ~30 shared libraries cost every start of every
 * subcommand ~5 ms).
 *
 * https:// gateways: the system's CA store, or --cacert FILE
 * ($SFAASD_CACERT), or the certificate pinned by its SHA-256 fingerprint
 * with --tls-fingerprint ($SFAASD_TLS_FINGERPRINT), as a self-signed sfaasd
 * prints it at start.
 *
 * Errors that happen before an HTTP status exists (connection refused,
 * timeout, a broken or non-HTTP answer) come back as -errno plus a human
 * message in err; any HTTP status, 4xx and 5xx included, is a success of
 * client_do() and left to the caller to judge.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#include "core/base/error.h"

/* Where and how to reach the gateway; see client_init(). */
struct client {
        char *gateway;  /* normalised, e.g. "http://127.0.0.1:8080" */
        char *user;     /* Basic user: "admin" or a tenant's name */
        char *password; /* Basic password (the admin's, or a tenant's token); NULL: no credentials */
        long timeout_ms; /* whole request (connect, send, receive); 0: none, but
                          * connecting alone never waits more than 10 s */
        char *cacert;   /* https: CA certificates (PEM file); NULL: the system's */
        char *tls_pin;  /* https: the gateway certificate's SHA-256 fingerprint; NULL: none */
};

/* One request. Borrowed pointers only; zero-initialise and fill. */
struct client_request {
        const char *method; /* "GET", "POST", ... */
        const char *path;   /* from validated parts, e.g. "/system/functions" */
        const char *const *query; /* "k=v", URL-encoded by client_do() */
        size_t n_query;
        bool auth;                /* send the Basic credentials (never to /function/) */
        const char *content_type; /* NULL: no Content-Type header */
        const char *const *headers; /* extra "Name: value" lines, already checked; Host and
                                     * User-Agent replace ours, framing ones are refused */
        size_t n_headers;
        bool has_body;              /* send body/body_len (may be empty) */
        const void *body;
        size_t body_len;
        FILE *upload;       /* else stream this many bytes of upload_len from here */
        off_t upload_len;
        FILE *sink;         /* a 2xx body is written here instead of kept (no size limit) */
};

struct client_response {
        long status;
        char *body;    /* NUL-terminated copy of the body (not of a sunk one), at most
                        * 64 MiB (64 KiB for an error body of a sunk call) */
        size_t len;
        bool truncated; /* the body was longer than kept (error bodies of sunk calls) */
        double seconds; /* total time */
};

/* Resolve the gateway (flag, else $OPENFAAS_URL, else the default), the
 * user (user, else $SFAASD_USER, else "admin": a tenant's name when the
 * password is one of its tokens) and the password (password_file, else
 * $SFAASD_PASSWORD, else none). timeout_ms as given. Refuses a gateway client_do() cannot reach (credentials in the URL,
 * a bad port) before anything is sent. */
int client_init(struct client *c, const char *gateway, const char *user, const char *password_file,
                bool need_password, long timeout_ms, struct sf_err *err);
void client_release(struct client *c);
/* https: trust cacert instead of the system's CA store, or pin (a SHA-256
 * fingerprint "AB:CD:..."); NULL keeps what client_init() took from
 * $SFAASD_CACERT and $SFAASD_TLS_FINGERPRINT. */
int client_set_tls(struct client *c, const char *cacert, const char *pin, struct sf_err *err);

/* Send one request and read its answer. Adds Host, User-Agent
 * (sfaasd/VERSION), Accept, Authorization (Basic, the client's user, only
 * with req->auth and a password), Content-Length and Connection: close. Refuses
 * (-EINVAL) a method that is not a token and any CR, LF or other control
 * byte in the path, the content type or a header. Skips 1xx answers. On
 * success *ret holds the final status and body; release it with
 * client_response_release(). */
int client_do(struct client *c, const struct client_request *req, struct client_response *ret,
              struct sf_err *err);
void client_response_release(struct client_response *r);
