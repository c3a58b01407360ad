/* SPDX-License-Identifier: MIT */
/*
 * The durable queue of asynchronous calls (/async-function/...): one row
 * per accepted call in the async_calls table, from "queued" through
 * "running" to "done" (the function answered 2xx) or "failed"; and, when it
 * has a callback URL, the callback's own state: "pending" (due at
 * callback_next_at), "sending" (on the thread pool), "delivered" or
 * "failed". Every change is committed before it returns, so a call accepted
 * (202) survives kill -9: store_async_recover() puts what was running or
 * sending back in line at the next start (at-least-once).
 *
 * Loop thread only, like the rest of the store.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db.h"

#define STORE_ASYNC_RECEIVER_MAX 300 /* "host:port" of a callback receiver, NUL included */

struct store_async_call {
        int64_t seq;                 /* FIFO order */
        char *id;
        char *namespace, *function;
        char *function_name;         /* as addressed: "name" or "name.namespace" (X-Function-Name) */
        char *method, *path, *query;
        char *headers_json;          /* [[name, value], ...] as received (no Authorization) */
        char *body;                  /* NUL-terminated; empty once the call has finished */
        size_t body_len;
        char *callback_url;          /* NULL: none */
        char *state;                 /* queued, running, done, failed */
        int attempts;                /* runs started */
        int64_t created_at, started_at, finished_at; /* unix ns; 0: not yet */
        int status;                  /* the function's HTTP status; 0: not yet */
        double duration;             /* seconds */
        char *result_headers_json;   /* {"Content-Type": ..., ...}; NULL: not yet */
        char *result_body;           /* NUL-terminated */
        size_t result_body_len;
        char *callback_state;        /* NULL (no callback), pending, sending, delivered, failed */
        int callback_attempts;
        int callback_status;         /* the receiver's last HTTP status; 0: none */
        char *callback_error;        /* the last connection error; NULL: none */
        int64_t callback_next_at;    /* unix ns */
        char *callback_receiver;     /* "host:port" the callback goes to (per-receiver limits) */
};
void store_async_call_free(struct store_async_call *c);
void store_async_call_list_free(struct store_async_call **v);

/* Insert a queued call (id, namespace, function, function_name, method, path, query,
 * headers_json, body, callback_url, callback_receiver are read). -EEXIST if the id exists. */
int store_async_insert(struct store *s, const struct store_async_call *c);
/* One call by id, with its bodies; -ENOENT if unknown. */
int store_async_get(struct store *s, const char *id, struct store_async_call **ret);
/* At start: running -> queued, sending -> pending. *ret_calls and
 * *ret_callbacks (may be NULL) count them. */
int store_async_recover(struct store *s, int *ret_calls, int *ret_callbacks);
/* The (namespace, function) pairs that have queued calls, the one with the
 * oldest call first: two NULL-terminated arrays of the same length. */
int store_async_queued_functions(struct store *s, char ***ret_ns, char ***ret_fn);
/* Up to max queued calls of one function, oldest first, each marked
 * running (attempts + 1) in one transaction. */
int store_async_take(struct store *s, const char *ns, const char *fn, size_t max, struct store_async_call ***ret);
/* The run ended: state "done" or "failed"; the request body is dropped;
 * with a callback, its state becomes pending, due now. */
int store_async_finish(struct store *s, const char *id, const char *state, int status, double duration,
                       const char *result_headers_json, const char *body, size_t body_len);
/* Up to max pending callbacks due at or before now, oldest due first,
 * marked sending. pick (NULL: take all) is asked for each due callback's
 * receiver in that order and says whether to take it; it sees only the
 * index, so a long line of callbacks to one busy receiver costs little. */
int store_async_callbacks_due(struct store *s, int64_t now, size_t max,
                              bool (*pick)(const char *receiver, void *data), void *data,
                              struct store_async_call ***ret);
/* The earliest due time of a pending callback later than after; -ENOENT if none. */
int store_async_callback_next(struct store *s, int64_t after, int64_t *ret_at);
/* Give pending or sending callbacks stored without a receiver (before
 * schema 6) the one key() makes of their URL. */
int store_async_fill_receivers(struct store *s, int (*key)(const char *url, char *buf, size_t size));
/* Calls not finished (queued or running) and their request bytes, per function. */
int store_async_queue_totals(struct store *s,
                             void (*each)(const char *ns, const char *fn, uint64_t calls, uint64_t bytes, void *data),
                             void *data);
/* Record a callback attempt: state pending (retry at next_at), delivered or
 * failed. A final state trims the kept result body to keep_body bytes. */
int store_async_callback_update(struct store *s, const char *id, const char *state, int attempts, int status,
                                const char *error, int64_t next_at, size_t keep_body);
/* Delete up to max calls that finished (done or failed) before `before`
 * (unix ns) and whose callback, if any, is over (delivered or failed): a
 * pending or sending callback keeps its row. The oldest go first; the
 * number deleted is in *ret_n (max: call again, more may be due). */
int store_async_purge(struct store *s, int64_t before, size_t max, size_t *ret_n);
/* Number of calls in state. */
int store_async_count(struct store *s, const char *state, uint64_t *ret);
