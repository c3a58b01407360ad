/* SPDX-License-Identifier: MIT */
/*
 * Asynchronous invocation: POST /async-function/{name}[.{ns}][/path] is
 * stored in SQLite (store/async.h) and answered 202 with X-Call-Id only
 * after the commit. Workers on the loop run queued calls FIFO per function,
 * at most async_concurrency at a time per function and async_max_running
 * in all, each in a fresh sandbox exactly like a synchronous call
 * (invoke_run). With X-Callback-Url the result is POSTed there from the
 * callback senders, threads of our own (core/http/client.c; at most 2 at
 * once per receiver), retried with exponential backoff
 * (1 s, 2 s, 4 s, ...) on a connection error or a 5xx, at most
 * async_callback_retries more times; the retry state is in SQLite too.
 *
 * Callback policy (SSRF): a tenant chooses the URL, so by default only
 * http:// to addresses that are not loopback, link-local (169.254/16 with
 * the cloud metadata address, fe80::/10), unspecified or multicast is
 * allowed; the address checked is the one connected to.
 * async_callback_allow_loopback: true also allows loopback (tests, a
 * receiver on the same host).
 *
 * Retention: a finished call (done or failed, its callback delivered or
 * failed) is deleted async_retention (default 24 h) after it finished, at
 * start and then every minute (more often when the retention is shorter);
 * GET /system/async/{id} answers 404 from then on.
 *
 * Ownership: struct async is embedded in struct sfaasd; its kick, timers and
 * callback senders are
 * closed by async_close() when the daemon finishes. A running call (struct
 * async_run) lives until invoke_run's callback; a callback in flight
 * (struct async_cb) until cb_done() takes it back from its sender. Loop thread only,
 * except cb_send() on a sender thread.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "core/http/egress.h"

struct sfaasd;
struct sf_err;
struct store_async_call;
struct async_slot;

struct async_receiver;
struct async_workers;

struct async {
        struct sfaasd *sf;
        uv_idle_t kick;            /* schedule at the next loop turn: queued calls and due callbacks */
        uv_timer_t retry;          /* the next callback retry */
        uv_timer_t purge;          /* finished calls past async_retention_ms; free pages back */
        bool started, closed;
        unsigned running;          /* calls in sandboxes */
        unsigned callbacks;        /* callbacks in flight (on the senders) */
        uint64_t calls, bytes;     /* calls queued or running and their request bytes (the caps) */
        int64_t scanned_ns;        /* "now" of the last scan for due callbacks (unix ns) */
        struct async_slot *slots;  /* per function: its calls running and waiting */
        struct async_receiver *receivers; /* per receiver: its callbacks in flight */
        struct async_workers *workers;    /* the callback senders */
        /* Where callbacks may go (core/http/egress.h); read-only once
         * started, so the senders' threads share it without a lock. */
        struct egress_policy egress;
};

/* Start: calls left running or sending by a crash go back in line, then
 * the queue is worked. */
int async_start(struct sfaasd *sf);
/* The daemon begins to stop: callbacks in flight are interrupted (they
 * stay pending for the next start) and no new one starts. */
void async_shutdown(struct sfaasd *sf);
/* Close the timers (the daemon is finishing; nothing runs any more). */
void async_close(struct sfaasd *sf);
/* Work in flight (calls and callbacks), for the shutdown. */
unsigned async_busy(const struct sfaasd *sf);

/*
 * Accept a call: c (id, namespace, function, function_name, method, path,
 * query, headers_json, body, callback_url) is committed to the queue. When
 * c->id names a call already accepted for the same function, nothing is
 * queued and *ret_existing is true (an idempotent retry); when it names
 * another function's call, c->id is replaced by a new id. -EDQUOT when a
 * queue cap is reached, -EINVAL for a callback URL that cannot be used,
 * each with the reason in err.
 */
int async_submit(struct sfaasd *sf, struct store_async_call *c, bool *ret_existing, struct sf_err *err);
/* Whether url can be a callback URL (an absolute http:// URL that the
 * client can send); why not in why. */
bool async_callback_url_valid(const char *url, char *why, size_t size);
