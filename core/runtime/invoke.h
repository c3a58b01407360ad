/* SPDX-License-Identifier: MIT */
/* Exec-mode invocation (classic watchdog semantics): a fresh sandbox per
 * call, the body on stdin, the answer on stdout (core/runtime/invoke.c). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "core/sfaasd.h"

/* One call to run. Borrowed: everything it points to (body, headers,
 * strings) must stay alive until the result has been delivered, since a
 * call may wait its turn (core/runtime/admit.h). */
struct invoke_call {
        const char *method;
        const char *path;                 /* as the function sees it: "/" or "/sub/path" */
        const char *query;                /* raw, without '?'; "" if none */
        const struct http_header *headers;
        size_t n_headers;
        const char *body;
        size_t body_len;
        const char *call_id;              /* NULL: X-Call-Id when valid, else a new one */
        bool wait;                        /* wait for a turn whatever the function's queue
                                           * holds (async calls, bounded by their own queue) */
};

/* What a call produced: the function's answer, or sfaasd's JSON error when
 * it failed (exit status, timeout, output cap, or before a sandbox ran).
 * Valid only during the callback. */
struct invoke_result {
        int status;
        const char *content_type;
        const char *extra_headers;        /* "Name: value\r\n..." (X-Call-Id, X-Duration-Seconds); may be NULL */
        const char *body;
        size_t body_len;
        double seconds;
        const char *call_id;              /* NULL when it failed before one was chosen */
        bool ran;                         /* a sandbox ran (false: an early failure) */
};
typedef void (*invoke_done_fn)(const struct invoke_result *res, void *data);

struct invocation;

/* Run call against function name in namespace ns in a fresh sandbox, when
 * admission lets it (core/runtime/admit.h): at once, or after waiting in
 * the function's queue. done is called exactly once: from the loop when the
 * sandbox is done, or before invoke_run() returns when the call fails early
 * (unknown function 404, its queue full 429 with Retry-After, shutting down
 * 503, a sandbox that cannot start 500); then invoke_run() returns NULL,
 * else the call, valid until done has been called. */
struct invocation *invoke_run(struct sfaasd *sf, const char *name, const char *ns, const struct invoke_call *call,
                              invoke_done_fn done, void *data);
/* The caller no longer wants the answer: a queued call leaves its queue
 * (done gets 499), a running one has its sandbox killed now (done gets 499
 * once it is gone). */
void invoke_cancel(struct invocation *inv);
/* The synchronous HTTP path: runs the request and answers it. */
void invoke_exec(struct sfaasd *sf, struct http_request *req, const char *name, const char *ns,
                 const char *subpath);
/* Kill every live sandbox (shutdown after the grace period). */
void invoke_kill_all(struct sfaasd *sf);
