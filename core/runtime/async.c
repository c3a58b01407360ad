/* SPDX-License-Identifier: MIT */
/* Asynchronous invocation: the durable queue, its workers and callbacks (core/runtime/async.h). */
#include "core/runtime/async.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "core/base/cleanup.h"
#include "core/base/log.h"
#include "core/base/util.h"
#include "core/http/client.h"
#include "core/model/callid.h"
#include "core/runtime/invoke.h"
#include "core/runtime/logs.h"
#include "core/sfaasd.h"
#include "store/async.h"

#define CALLBACK_WORKERS 16        /* own threads sending callbacks, so a dead receiver never
                                    * holds libuv's thread pool (imports, unpacking) */
#define CALLBACKS_PER_RECEIVER 2   /* callbacks in flight to one "host:port" at once */
#define CALLBACK_URL_MAX 2048
#define BACKOFF_MAX_S 300          /* the longest wait between two callback attempts */
#define PURGE_EVERY_MS 60000       /* how often finished calls are purged (at most) */
#define PURGE_BATCH 1000           /* rows per purge transaction: the loop waits for it */
#define PURGE_NEXT_MS 10           /* between two batches of a backlog; never 0 (see kick()) */
#define PURGE_AFTER_DRAIN_MS 1000  /* the queue emptied: give its pages back this soon */
#define RECLAIM_PAGES 2048         /* pages given back to the file system per round */

struct async_slot {
        struct async_slot *next;
        char ns[64], name[64];
        unsigned running;
        uint64_t calls, bytes;     /* queued or running, and their request bytes */
};

struct async_run {
        struct async *q;
        struct async_slot *slot;
        struct store_async_call *call;
        struct http_header *headers;
        size_t n_headers;
        json_t *headers_json;      /* owns the strings headers point to */
};

/* Callbacks in flight to one receiver; freed when none is. */
struct async_receiver {
        struct async_receiver *next;
        unsigned inflight;
        char key[STORE_ASYNC_RECEIVER_MAX];
};

struct async_cb {
        struct async_cb *next;     /* in the workers' pending or done list */
        struct async *q;
        struct async_receiver *rcv;
        struct store_async_call *call;
        /* settings for the worker thread */
        const struct egress_policy *egress;
        long timeout_ms;
        int cancel_fd;
        /* the outcome, written by the worker */
        int r;
        long status;
        char error[256];
};

/*
 * The callback senders: up to CALLBACK_WORKERS threads of our own, started
 * as needed, each sending one callback at a time with the blocking client
 * (core/http/client.h: connect and total deadlines, the address policy on
 * the address connected to). The loop hands a callback over through pending;
 * a finished one comes back through done and the wake handle. The mutex
 * guards pending, done, idle and quit; everything else is the loop's.
 * Shutdown writes cancel_fd, which ends every callback at its next wait.
 */
struct async_workers {
        uv_mutex_t mu;
        uv_cond_t cv;
        struct async_cb *pending, **pending_tail, *done;
        unsigned idle;
        bool quit;
        uv_async_t wake;
        uv_thread_t threads[CALLBACK_WORKERS];
        unsigned n_threads;
        int cancel_fd;             /* an eventfd */
};

static void on_kick(uv_idle_t *h);

/*
 * Work the queue and the callbacks soon, from the loop: at the loop's next
 * turn, after it has polled for I/O. An idle handle, not a 0 ms timer:
 * libuv 1.44 runs a timer re-armed at 0 ms from its own callback again in
 * the same timer phase (libuv issue 4245, fixed in 1.48), so a kick from
 * work that a kick started (a call that fails at once) spun the loop for
 * ever. A kick that arrives while one is pending changes nothing.
 */
static void kick(struct async *q)
{
        if (q->started && !q->closed)
                (void) uv_idle_start(&q->kick, on_kick);
}

/* ---- the callback address policy (runs on a worker thread) ---- */

/* What the policy needs for one callback, and why it refused, if it did. */
struct cb_policy {
        const struct egress_policy *policy;
        struct egress_host host;   /* the host's addresses, read for this callback */
        char refused[160];         /* "10.1.2.3: a private address" */
};

/* The client asks before each connect(), on the address it is about to
 * connect to (core/http/client.h): the policy of core/http/egress.h. */
static bool addr_allowed(const struct sockaddr *sa, socklen_t len, void *data)
{
        struct cb_policy *cp = data;
        const char *why = egress_refused(cp->policy, &cp->host, sa, len);

        if (why && !cp->refused[0]) {
                char ip[INET6_ADDRSTRLEN] = "?";
                if (sa->sa_family == AF_INET)
                        (void) inet_ntop(AF_INET, &((const struct sockaddr_in *) sa)->sin_addr, ip, sizeof ip);
                else if (sa->sa_family == AF_INET6)
                        (void) inet_ntop(AF_INET6, &((const struct sockaddr_in6 *) sa)->sin6_addr, ip, sizeof ip);
                (void) xsnprintf(cp->refused, sizeof cp->refused, "%s is %s", ip, why);
        }
        return why == NULL;
}

/* ---- callbacks ---- */

/* Send one callback (a worker thread; touches only cb and its call). */
static void cb_send(struct async_cb *cb)
{
        struct store_async_call *c = cb->call;
        _cleanup_json_ json_t *rh = json_loads(c->result_headers_json ? c->result_headers_json : "{}", 0, NULL);
        const char *lines[32];
        char *owned[32];
        size_t n = 0;
        const char *ctype = NULL, *k;
        json_t *v;
        struct httpc_response resp = {};
        struct sf_err err = {};
        _cleanup_free_ char *peer = xasprintf("callback receiver %s", c->callback_url);
        struct cb_policy cp = { .policy = cb->egress };
        int hr;

        /* The host's addresses as they are now: one added since the last
         * callback counts (egress.h). Unreadable: refuse rather than guess. */
        hr = egress_host_read(&cp.host);
        if (hr < 0) {
                cb->r = -EACCES;
                (void) xsnprintf(cb->error, sizeof cb->error, "cannot read this host's addresses: %s",
                                 strerror(-hr));
                return;
        }

        json_object_foreach(rh, k, v) {
                if (!json_is_string(v))
                        continue;
                if (strcasecmp(k, "Content-Type") == 0) {
                        ctype = json_string_value(v);
                        continue;
                }
                /* Ours are added below. */
                if (strcasecmp(k, "X-Call-Id") == 0 || strcasecmp(k, "X-Duration-Seconds") == 0 ||
                    strcasecmp(k, "X-Function-Status") == 0 || strcasecmp(k, "X-Function-Name") == 0 ||
                    n >= 26)
                        continue;
                owned[n] = xasprintf("%s: %s", k, json_string_value(v));
                if (owned[n]) {
                        lines[n] = owned[n];
                        n++;
                }
        }
        {
                size_t first = n;
                owned[n] = xasprintf("X-Call-Id: %s", c->id);
                owned[n + 1] = xasprintf("X-Duration-Seconds: %.6f", c->duration);
                owned[n + 2] = xasprintf("X-Function-Status: %d", c->status);
                owned[n + 3] = xasprintf("X-Function-Name: %s", c->function_name);
                n += 4;
                for (size_t i = first; i < n; i++)
                        lines[i] = owned[i];
                for (size_t i = first; i < n; i++)
                        if (!owned[i])
                                cb->r = -ENOMEM;
        }
        if (!peer)
                cb->r = -ENOMEM;
        if (cb->r == 0) {
                cb->r = httpc_do(&(struct httpc_request) {
                                         .method = "POST",
                                         .url = c->callback_url,
                                         .peer = peer,
                                         .content_type = ctype ? ctype : "text/plain",
                                         .headers = lines,
                                         .n_headers = n,
                                         .has_body = true,
                                         .body = c->result_body,
                                         .body_len = c->result_body_len,
                                         .timeout_ms = cb->timeout_ms,
                                         .cancel_fd = cb->cancel_fd,
                                         .max_body = 64 << 10,
                                         .addr_ok = addr_allowed,
                                         .addr_data = &cp,
                                 },
                                 &resp, &err);
                if (cb->r >= 0)
                        cb->status = resp.status;
                if (cb->r == -EACCES && cp.refused[0])
                        (void) xsnprintf(cb->error, sizeof cb->error,
                                         "cannot reach %s: %s, not allowed for callbacks (egress_allow opens it)",
                                         peer, cp.refused);
                else if (cb->r < 0)
                        (void) xsnprintf(cb->error, sizeof cb->error, "%s", err.msg[0] ? err.msg : strerror(-cb->r));
                else if (cb->status >= 300 && cb->status < 400)
                        (void) xsnprintf(cb->error, sizeof cb->error,
                                         "answered %ld, a redirect: not followed (callbacks never are)", cb->status);
                httpc_response_release(&resp);
        } else {
                (void) xsnprintf(cb->error, sizeof cb->error, "out of memory");
        }
        for (size_t i = 0; i < n; i++)
                free(owned[i]);
        egress_host_release(&cp.host);
}

static void worker_main(void *arg)
{
        struct async_workers *w = arg;

        uv_mutex_lock(&w->mu);
        for (;;) {
                struct async_cb *cb;

                w->idle++;
                while (!w->pending && !w->quit)
                        uv_cond_wait(&w->cv, &w->mu);
                w->idle--;
                if (!w->pending)
                        break; /* quit, and nothing left to send */
                cb = w->pending;
                w->pending = cb->next;
                if (!w->pending)
                        w->pending_tail = &w->pending;
                uv_mutex_unlock(&w->mu);

                cb_send(cb);

                uv_mutex_lock(&w->mu);
                cb->next = w->done;
                w->done = cb;
                /* The handle is closed only after every thread is joined. */
                (void) uv_async_send(&w->wake);
        }
        uv_mutex_unlock(&w->mu);
}

/* Hand cb to a worker, starting one when none is idle. */
static int workers_submit(struct async_workers *w, struct async_cb *cb)
{
        int r = 0;

        uv_mutex_lock(&w->mu);
        if (w->idle == 0 && w->n_threads < CALLBACK_WORKERS) {
                r = uv_thread_create(&w->threads[w->n_threads], worker_main, w);
                if (r == 0)
                        w->n_threads++;
                else if (w->n_threads > 0)
                        r = 0; /* the running ones will get to it */
        }
        if (r == 0) {
                cb->next = NULL;
                *w->pending_tail = cb;
                w->pending_tail = &cb->next;
                uv_cond_signal(&w->cv);
        }
        uv_mutex_unlock(&w->mu);
        return r;
}

static void arm_retry(struct async *q);

static struct async_receiver *receiver_get(struct async *q, const char *key)
{
        struct async_receiver *rcv;

        for (rcv = q->receivers; rcv; rcv = rcv->next)
                if (strcmp(rcv->key, key) == 0)
                        return rcv;
        rcv = calloc(1, sizeof *rcv);
        if (!rcv)
                return NULL;
        (void) xsnprintf(rcv->key, sizeof rcv->key, "%s", key);
        rcv->next = q->receivers;
        q->receivers = rcv;
        return rcv;
}

static void receiver_put(struct async *q, struct async_receiver *rcv)
{
        if (!rcv || --rcv->inflight > 0)
                return;
        for (struct async_receiver **p = &q->receivers; *p; p = &(*p)->next)
                if (*p == rcv) {
                        *p = rcv->next;
                        free(rcv);
                        return;
                }
}

/* A callback came back from its worker (the loop). */
static void cb_done(struct async_cb *cb)
{
        struct async *q = cb->q;
        struct sfaasd *sf = q->sf;
        struct store_async_call *c = cb->call;
        int attempts = c->callback_attempts + 1, r;
        bool retry = cb->r < 0 || cb->status >= 500;
        const char *state;
        int64_t next = 0;

        if (cb->r == -ECANCELED) {
                /* The daemon is stopping: not an attempt; due again at the next start. */
                attempts = c->callback_attempts;
                state = "pending";
                next = time_unix_ns();
        } else if (!retry)
                state = cb->status >= 200 && cb->status < 300 ? "delivered" : "failed";
        else if (attempts > (int) sf->cfg.async_callback_retries || cb->r == -EACCES)
                state = "failed"; /* out of attempts; a refused address stays refused */
        else {
                uint64_t delay = 1ULL << (attempts - 1 > 8 ? 8 : attempts - 1);
                state = "pending";
                if (delay > BACKOFF_MAX_S)
                        delay = BACKOFF_MAX_S;
                next = time_unix_ns() + (int64_t) delay * 1000000000LL;
        }
        r = store_async_callback_update(sf->store, c->id, state, attempts, (int) cb->status,
                                        cb->r < 0 || cb->error[0] ? cb->error : NULL, next, sf->cfg.async_result_bytes);
        if (r < 0)
                log_error_errno(r, "async call %s: cannot record its callback", c->id);
        if (cb->r == -ECANCELED)
                log_info("async call %s: callback to '%s' interrupted by the shutdown, due again at the next start",
                         c->id, c->callback_url);
        else if (cb->r < 0)
                log_warning("async call %s: callback to '%s' %s (attempt %d): %s", c->id, c->callback_url,
                            strcmp(state, "pending") == 0 ? "failed, will retry" : "failed", attempts, cb->error);
        else if (cb->status >= 300)
                log_warning("async call %s: callback to '%s' %s (attempt %d): status %ld", c->id, c->callback_url,
                            strcmp(state, "pending") == 0 ? "failed, will retry" : "failed", attempts, cb->status);
        if (cb->r < 0)
                logs_daemon(sf->logs, c->namespace, c->function, "call %s: callback %s (attempt %d, %s)", c->id,
                            state, attempts, cb->error);
        else
                logs_daemon(sf->logs, c->namespace, c->function, "call %s: callback %s (attempt %d, status %ld)",
                            c->id, state, attempts, cb->status);
        receiver_put(q, cb->rcv);
        store_async_call_free(c);
        free(cb);
        q->callbacks--;
        /* A slot is free: what waited for it goes now (never a 0 ms timer). */
        kick(q);
}

static void on_wake(uv_async_t *h)
{
        struct async_workers *w = h->data;
        struct async_cb *done;

        uv_mutex_lock(&w->mu);
        done = w->done;
        w->done = NULL;
        uv_mutex_unlock(&w->mu);
        while (done) {
                struct async_cb *cb = done;
                done = cb->next;
                cb_done(cb);
        }
}

/* Which due callbacks to take in one round: at most CALLBACKS_PER_RECEIVER
 * in flight per receiver, counting those taken in this round. */
struct pick {
        struct async *q;
        size_t n;
        struct {
                char key[STORE_ASYNC_RECEIVER_MAX];
                unsigned taken;
        } rcv[CALLBACK_WORKERS];
};

static bool pick_receiver(const char *key, void *data)
{
        struct pick *pk = data;
        unsigned busy = 0;
        size_t i;

        for (struct async_receiver *r = pk->q->receivers; r; r = r->next)
                if (strcmp(r->key, key) == 0)
                        busy = r->inflight;
        for (i = 0; i < pk->n; i++)
                if (strcmp(pk->rcv[i].key, key) == 0)
                        break;
        if (i < pk->n)
                busy += pk->rcv[i].taken;
        if (busy >= CALLBACKS_PER_RECEIVER)
                return false;
        if (i == pk->n) {
                if (pk->n == CALLBACK_WORKERS)
                        return false; /* cannot happen: the round takes at most that many */
                (void) xsnprintf(pk->rcv[i].key, sizeof pk->rcv[i].key, "%s", key);
                pk->n++;
        }
        pk->rcv[i].taken++;
        return true;
}

static void start_callbacks(struct async *q)
{
        struct sfaasd *sf = q->sf;
        struct store_async_call **due = NULL;
        struct pick *pk;
        int r;

        q->scanned_ns = time_unix_ns();
        if (sf->stopping || q->closed || q->callbacks >= CALLBACK_WORKERS)
                return;
        pk = calloc(1, sizeof *pk);
        if (!pk) {
                log_error("cannot start async callbacks: out of memory");
                return;
        }
        pk->q = q;
        r = store_async_callbacks_due(sf->store, q->scanned_ns, CALLBACK_WORKERS - q->callbacks, pick_receiver, pk,
                                      &due);
        free(pk);
        if (r < 0) {
                log_error_errno(r, "cannot read due async callbacks");
                return;
        }
        for (struct store_async_call **p = due; *p; p++) {
                struct async_cb *cb = calloc(1, sizeof *cb);
                struct async_receiver *rcv = receiver_get(q, (*p)->callback_receiver ? (*p)->callback_receiver : "");

                if (!cb || !rcv) {
                        /* Stays "sending" until the next start; rare enough. */
                        log_error("async call %s: out of memory for its callback", (*p)->id);
                        store_async_call_free(*p);
                        free(cb);
                        continue;
                }
                rcv->inflight++;
                cb->q = q;
                cb->rcv = rcv;
                cb->call = *p;
                cb->egress = &q->egress;
                cb->timeout_ms = (long) sf->cfg.async_callback_timeout_ms;
                cb->cancel_fd = q->workers->cancel_fd;
                r = workers_submit(q->workers, cb);
                if (r < 0) {
                        log_error("async call %s: cannot start its callback: %s", (*p)->id, uv_strerror(r));
                        receiver_put(q, rcv);
                        store_async_call_free(*p);
                        free(cb);
                        continue;
                }
                q->callbacks++;
        }
        free(due); /* the calls are owned by their callbacks now */
}

static void on_retry(uv_timer_t *t)
{
        struct async *q = t->data;
        start_callbacks(q);
        arm_retry(q);
}

/*
 * The retry timer waits for the next pending callback that was not yet due
 * at the last scan (start_callbacks()): one that became due since then is
 * found too, and taken at the next tick. Callbacks due at the scan that were
 * not taken wait for a free sender or a free receiver slot, and every
 * callback that ends kicks the queue, so nothing here waits for them; and
 * the timer is never armed at 0 ms from its own callback (see kick()).
 */
static void arm_retry(struct async *q)
{
        int64_t at, now = time_unix_ns();
        uint64_t ms;

        if (q->closed || q->sf->stopping || q->callbacks >= CALLBACK_WORKERS ||
            store_async_callback_next(q->sf->store, q->scanned_ns ? q->scanned_ns : now, &at) < 0) {
                (void) uv_timer_stop(&q->retry);
                return;
        }
        ms = at > now ? (uint64_t) ((at - now + 999999) / 1000000) : 1;
        (void) uv_timer_start(&q->retry, on_retry, ms ? ms : 1, 0);
}

/* ---- running calls ---- */

static struct async_slot *slot_get(struct async *q, const char *ns, const char *name)
{
        struct async_slot *s;
        for (s = q->slots; s; s = s->next)
                if (strcmp(s->ns, ns) == 0 && strcmp(s->name, name) == 0)
                        return s;
        s = calloc(1, sizeof *s);
        if (!s)
                return NULL;
        (void) xsnprintf(s->ns, sizeof s->ns, "%s", ns);
        (void) xsnprintf(s->name, sizeof s->name, "%s", name);
        s->next = q->slots;
        q->slots = s;
        return s;
}

/* "Name: value\r\n..." lines into the object o. */
static void add_header_lines(json_t *o, const char *lines)
{
        const char *p = lines;
        while (p && *p) {
                const char *eol = strstr(p, "\r\n"), *colon;
                size_t n = eol ? (size_t) (eol - p) : strlen(p);
                colon = memchr(p, ':', n);
                if (colon) {
                        _cleanup_free_ char *k = strndup(p, (size_t) (colon - p));
                        const char *vs = colon + 1;
                        while (*vs == ' ')
                                vs++;
                        if (k)
                                (void) json_object_set_new(o, k, json_stringn(vs, (size_t) (p + n - vs)));
                }
                p = eol ? eol + 2 : p + n;
        }
}

static void on_purge(uv_timer_t *t);

static void run_done(const struct invoke_result *res, void *data)
{
        struct async_run *run = data;
        struct async *q = run->q;
        struct sfaasd *sf = q->sf;
        struct store_async_call *c = run->call;
        _cleanup_json_ json_t *rh = json_object();
        _cleanup_free_ char *rh_s = NULL;
        size_t keep = res->body_len;
        const char *state = res->status >= 200 && res->status < 300 ? "done" : "failed";
        int r;

        if (rh) {
                (void) json_object_set_new(rh, "Content-Type",
                                           json_string(res->content_type ? res->content_type : "text/plain"));
                add_header_lines(rh, res->extra_headers);
                rh_s = json_dumps(rh, JSON_COMPACT);
        }
        /* The whole answer is kept while a callback still has to carry it;
         * otherwise (and once the callback is over) only its start. */
        if (!c->callback_url && keep > sf->cfg.async_result_bytes)
                keep = sf->cfg.async_result_bytes;
        r = store_async_finish(sf->store, c->id, state, res->status, res->seconds, rh_s, res->body, keep);
        if (r < 0)
                log_error_errno(r, "async call %s: cannot record its result", c->id);
        log_debug("async call %s of '%s.%s': status %d in %.3f s", c->id, c->function, c->namespace, res->status,
                  res->seconds);
        if (run->slot) {
                run->slot->running--;
                run->slot->calls -= run->slot->calls ? 1 : 0;
                run->slot->bytes -= run->slot->bytes >= c->body_len ? c->body_len : run->slot->bytes;
        }
        q->running--;
        q->calls -= q->calls ? 1 : 0;
        q->bytes -= q->bytes >= c->body_len ? c->body_len : q->bytes;
        if (q->calls == 0 && !q->closed && uv_timer_get_due_in(&q->purge) > PURGE_AFTER_DRAIN_MS)
                (void) uv_timer_start(&q->purge, on_purge, PURGE_AFTER_DRAIN_MS, 0);
        json_decref(run->headers_json);
        free(run->headers);
        store_async_call_free(c);
        free(run);
        kick(q);
}

static void start_call(struct async *q, struct async_slot *slot, struct store_async_call *c)
{
        struct sfaasd *sf = q->sf;
        struct async_run *run = calloc(1, sizeof *run);
        struct invoke_call call;
        size_t i;
        json_t *h;

        if (!run) {
                (void) store_async_finish(sf->store, c->id, "failed", 500, 0, NULL, NULL, 0);
                store_async_call_free(c);
                return;
        }
        run->q = q;
        run->slot = slot;
        run->call = c;
        run->headers_json = json_loads(c->headers_json, 0, NULL);
        if (json_is_array(run->headers_json) && json_array_size(run->headers_json) > 0) {
                run->headers = calloc(json_array_size(run->headers_json), sizeof *run->headers);
                if (run->headers)
                        json_array_foreach(run->headers_json, i, h) {
                                const char *k = json_string_value(json_array_get(h, 0));
                                const char *v = json_string_value(json_array_get(h, 1));
                                if (!k || !v)
                                        continue;
                                run->headers[run->n_headers].name = (char *) k;
                                run->headers[run->n_headers].value = (char *) v;
                                run->n_headers++;
                        }
        }
        call = (struct invoke_call) {
                .method = c->method,
                .path = c->path,
                .query = c->query,
                .headers = run->headers,
                .n_headers = run->n_headers,
                .body = c->body,
                .body_len = c->body_len,
                .call_id = c->id,
                /* bounded by async_concurrency and async_max_running */
                .wait = true,
        };
        if (slot)
                slot->running++;
        q->running++;
        /* run_done may run before this returns (an early failure). */
        (void) invoke_run(sf, c->function, c->namespace, &call, run_done, run);
}

static void schedule_calls(struct async *q)
{
        struct sfaasd *sf = q->sf;
        _cleanup_strv_free_ char **ns = NULL, **fn = NULL;
        int r;

        if (sf->stopping || q->running >= sf->cfg.async_max_running)
                return;
        r = store_async_queued_functions(sf->store, &ns, &fn);
        if (r < 0) {
                log_error_errno(r, "cannot read the async queue");
                return;
        }
        for (size_t i = 0; ns[i] && q->running < sf->cfg.async_max_running; i++) {
                struct async_slot *slot = slot_get(q, ns[i], fn[i]);
                struct store_async_call **calls = NULL;
                size_t room;

                if (!slot || slot->running >= sf->cfg.async_concurrency)
                        continue;
                room = sf->cfg.async_concurrency - slot->running;
                if (room > sf->cfg.async_max_running - q->running)
                        room = sf->cfg.async_max_running - q->running;
                r = store_async_take(sf->store, ns[i], fn[i], room, &calls);
                if (r < 0) {
                        log_error_errno(r, "cannot take calls of '%s.%s' from the async queue", fn[i], ns[i]);
                        continue;
                }
                for (struct store_async_call **p = calls; *p; p++)
                        start_call(q, slot, *p);
                free(calls);
        }
}

/* ---- retention ---- */

/* Delete finished calls older than async_retention_ms, a batch at a time,
 * then give freed pages back to the file system a batch at a time; the
 * next batch (when this one was full) or round is a timer away (never
 * 0 ms: see kick()), so a backlog (a long downtime, a drained flood) never
 * holds the loop for long. */
static void on_purge(uv_timer_t *t)
{
        struct async *q = t->data;
        struct sfaasd *sf = q->sf;
        uint64_t every = sf->cfg.async_retention_ms < PURGE_EVERY_MS ? sf->cfg.async_retention_ms : PURGE_EVERY_MS;
        uint64_t free_pages = 0;
        size_t n = 0;
        int r, rr;

        if (q->closed || sf->stopping)
                return;
        r = store_async_purge(sf->store, time_unix_ns() - (int64_t) sf->cfg.async_retention_ms * 1000000LL, PURGE_BATCH,
                              &n);
        if (r < 0)
                log_error_errno(r, "cannot purge finished async calls");
        else if (n)
                log_debug("async: purged %zu finished call(s) older than %llu ms", n,
                          (unsigned long long) sf->cfg.async_retention_ms);
        rr = store_reclaim(sf->store, RECLAIM_PAGES, &free_pages);
        if (rr < 0)
                log_error_errno(rr, "cannot give free database pages back");
        (void) uv_timer_start(&q->purge, on_purge,
                              (r >= 0 && n == PURGE_BATCH) || (rr >= 0 && free_pages > 0) ? PURGE_NEXT_MS : every, 0);
}

static void on_kick(uv_idle_t *h)
{
        struct async *q = h->data;
        (void) uv_idle_stop(h);
        schedule_calls(q);
        start_callbacks(q);
        arm_retry(q);
}

static void count_queued(const char *ns, const char *fn, uint64_t calls, uint64_t bytes, void *data)
{
        struct async *q = data;
        struct async_slot *slot = slot_get(q, ns, fn);

        if (slot) {
                slot->calls += calls;
                slot->bytes += bytes;
        }
        q->calls += calls;
        q->bytes += bytes;
}

static void on_workers_closed(uv_handle_t *h)
{
        struct async_workers *w = h->data;
        uv_mutex_destroy(&w->mu);
        uv_cond_destroy(&w->cv);
        if (w->cancel_fd >= 0)
                (void) close(w->cancel_fd);
        free(w);
}

int async_start(struct sfaasd *sf)
{
        struct async *q = sf->async;
        struct async_workers *w;
        int calls = 0, cbs = 0, r;

        q->sf = sf;
        {
                struct sf_err err = { 0 };
                r = egress_policy_parse(sf->cfg.egress_allow, sf->cfg.async_callback_allow_loopback, &q->egress,
                                        &err);
                if (r < 0) {
                        log_error("%s", err.msg[0] ? err.msg : strerror(-r));
                        return r;
                }
        }
        r = store_async_recover(sf->store, &calls, &cbs);
        if (r < 0)
                return log_error_errno(r, "cannot recover the async queue");
        if (calls || cbs)
                log_info("async: %d interrupted call(s) and %d callback(s) back in line", calls, cbs);
        r = store_async_fill_receivers(sf->store, httpc_url_receiver);
        if (r < 0)
                return log_error_errno(r, "cannot prepare the async callbacks");
        r = store_async_queue_totals(sf->store, count_queued, q);
        if (r < 0)
                return log_error_errno(r, "cannot count the async queue");

        w = calloc(1, sizeof *w);
        if (!w)
                return log_error_errno(-ENOMEM, "cannot set up the callback senders");
        w->pending_tail = &w->pending;
        w->cancel_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (w->cancel_fd < 0) {
                r = -errno;
                free(w);
                return log_error_errno(r, "cannot make the callbacks' cancel event");
        }
        if (uv_mutex_init(&w->mu) < 0 || uv_cond_init(&w->cv) < 0 ||
            uv_async_init(&sf->loop, &w->wake, on_wake) < 0) {
                (void) close(w->cancel_fd);
                free(w);
                return log_error_errno(-ENOMEM, "cannot set up the callback senders");
        }
        w->wake.data = w;
        q->workers = w;

        uv_idle_init(&sf->loop, &q->kick);
        uv_timer_init(&sf->loop, &q->retry);
        uv_timer_init(&sf->loop, &q->purge);
        q->kick.data = q->retry.data = q->purge.data = q;
        q->started = true;
        kick(q);
        (void) uv_timer_start(&q->purge, on_purge, 1, 0); /* at start, then periodically */
        return 0;
}

void async_shutdown(struct sfaasd *sf)
{
        struct async *q = sf->async;
        uint64_t one = 1;

        if (!q->started || !q->workers)
                return;
        /* Every callback in flight ends at its next wait; it stays pending. */
        if (write(q->workers->cancel_fd, &one, sizeof one) < 0)
                log_warning_errno(-errno, "cannot interrupt the callbacks in flight");
}

void async_close(struct sfaasd *sf)
{
        struct async *q = sf->async;
        struct async_workers *w = q->workers;

        if (!q->started || q->closed)
                return;
        q->closed = true;
        (void) uv_idle_stop(&q->kick);
        (void) uv_timer_stop(&q->retry);
        (void) uv_timer_stop(&q->purge);
        uv_close((uv_handle_t *) &q->kick, NULL);
        uv_close((uv_handle_t *) &q->retry, NULL);
        uv_close((uv_handle_t *) &q->purge, NULL);
        if (w) {
                /* No callback is in flight (async_busy() is 0): the threads
                 * wait for work and end at once. */
                uv_mutex_lock(&w->mu);
                w->quit = true;
                uv_cond_broadcast(&w->cv);
                uv_mutex_unlock(&w->mu);
                for (unsigned i = 0; i < w->n_threads; i++)
                        (void) uv_thread_join(&w->threads[i]);
                uv_close((uv_handle_t *) &w->wake, on_workers_closed);
                q->workers = NULL;
        }
        while (q->slots) {
                struct async_slot *s = q->slots;
                q->slots = s->next;
                free(s);
        }
        while (q->receivers) {
                struct async_receiver *rcv = q->receivers;
                q->receivers = rcv->next;
                free(rcv);
        }
        egress_policy_release(&q->egress);
}

unsigned async_busy(const struct sfaasd *sf)
{
        return sf->async->callbacks;
}

/* ---- accepting calls ---- */

int async_submit(struct sfaasd *sf, struct store_async_call *c, bool *ret_existing, struct sf_err *err)
{
        struct async *q = sf->async;
        struct store_async_call *old = NULL;
        struct async_slot *slot;
        char receiver[STORE_ASYNC_RECEIVER_MAX];
        int r;

        *ret_existing = false;
        /* A retry of a call already accepted (the caller did not see our
         * 202) gets that call, not a second run. An id of another function's
         * call is not revealed: the new call gets its own. */
        r = store_async_get(sf->store, c->id, &old);
        if (r >= 0 && strcmp(old->namespace, c->namespace) == 0 && strcmp(old->function, c->function) == 0) {
                store_async_call_free(old);
                *ret_existing = true;
                return 0;
        }
        store_async_call_free(old);
        if (r >= 0)
                call_id_make(c->id);
        slot = slot_get(q, c->namespace, c->function);
        if (!slot)
                return sf_err_set(err, -ENOMEM, "out of memory");
        if (q->calls >= sf->cfg.async_queue_max || q->bytes + c->body_len > sf->cfg.async_queue_max_bytes)
                return sf_err_set(err, -EDQUOT,
                                  "the async queue is full (%llu calls, %llu bytes waiting; limits "
                                  "async_queue_max %llu, async_queue_max_bytes %llu)",
                                  (unsigned long long) q->calls, (unsigned long long) q->bytes,
                                  (unsigned long long) sf->cfg.async_queue_max,
                                  (unsigned long long) sf->cfg.async_queue_max_bytes);
        if (slot->calls >= sf->cfg.async_function_queue_max ||
            slot->bytes + c->body_len > sf->cfg.async_function_queue_max_bytes)
                return sf_err_set(err, -EDQUOT,
                                  "the async queue of function '%s' in namespace '%s' is full (%llu calls, "
                                  "%llu bytes waiting; limits async_function_queue_max %llu, "
                                  "async_function_queue_max_bytes %llu)",
                                  c->function, c->namespace, (unsigned long long) slot->calls,
                                  (unsigned long long) slot->bytes,
                                  (unsigned long long) sf->cfg.async_function_queue_max,
                                  (unsigned long long) sf->cfg.async_function_queue_max_bytes);
        if (c->callback_url) {
                if (httpc_url_receiver(c->callback_url, receiver, sizeof receiver) < 0)
                        return sf_err_set(err, -EINVAL, "X-Callback-Url is not a valid absolute http URL: "
                                                        "its host is too long");
                c->callback_receiver = receiver;
        }
        r = store_async_insert(sf->store, c);
        if (r == -EEXIST) {
                /* Taken between the look-up and the insert: a fresh one. */
                call_id_make(c->id);
                r = store_async_insert(sf->store, c);
        }
        c->callback_receiver = NULL;
        if (r < 0)
                return sf_err_errno(err, r, "cannot queue the call");
        slot->calls++;
        slot->bytes += c->body_len;
        q->calls++;
        q->bytes += c->body_len;
        kick(q);
        return 0;
}

bool async_callback_url_valid(const char *url, char *why, size_t size)
{
        struct sf_err err = {};
        if (strlen(url) > CALLBACK_URL_MAX) {
                (void) xsnprintf(why, size, "longer than %d bytes", CALLBACK_URL_MAX);
                return false;
        }
        if (httpc_url_check(url, &err) < 0) {
                (void) xsnprintf(why, size, "%s", err.code == -EPROTONOSUPPORT ? "only http:// is supported"
                                                                                : err.msg);
                return false;
        }
        return true;
}
