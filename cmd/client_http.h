/* SPDX-License-Identifier: MIT */
/*
 * The client's one HTTP call, over libcurl: build the URL, send the body
 * (from memory or streamed from a FILE), gather the answer. Errors that
 * happen before an HTTP status exists (connection refused, timeout, TLS) come
 * back as -errno plus a human message in err; any HTTP status, 4xx and 5xx
 * included, is a success of client_do() and left to the caller to judge.
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
        char *password; /* Basic password of user "admin"; NULL: no credentials */
        long timeout_ms; /* whole request; 0: none */
};

/* One request. Borrowed pointers only; zero-initialise and fill. */
struct client_request {
        const char *method; /* "GET", "POST", ... */
        const char *path;   /* from validated parts, e.g. "/system/functions" */
        const char *const *query; /* "k=v", URL-encoded by client_do() */
        size_t n_query;
        bool auth;                /* send the Basic credentials (never to /function/) */
        const char *content_type; /* NULL: no Content-Type header */
        const char *const *headers; /* extra "Name: value" lines, already checked */
        size_t n_headers;
        bool has_body;              /* send body/body_len (may be empty) */
        const void *body;
        size_t body_len;
        FILE *upload;       /* else stream this many bytes of upload_len from here */
        off_t upload_len;
        FILE *sink;         /* a 2xx body is written here instead of kept */
};

struct client_response {
        long status;
        char *body;    /* NUL-terminated copy of the body (not of a sunk one) */
        size_t len;
        bool truncated; /* the body was longer than kept (error bodies of sunk calls) */
        double seconds; /* total time */
};

/* Resolve the gateway (flag, else $OPENFAAS_URL, else the default) and the
 * password (password_file, else $SFAASD_PASSWORD, else none). timeout_ms as
 * given. Also initialises libcurl. */
int client_init(struct client *c, const char *gateway, const char *password_file, bool need_password,
                long timeout_ms, struct sf_err *err);
void client_release(struct client *c);

int client_do(struct client *c, const struct client_request *req, struct client_response *ret, struct sf_err *err);
void client_response_release(struct client_response *r);
