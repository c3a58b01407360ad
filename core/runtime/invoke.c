/* SPDX-License-Identifier: MIT */
/*
 * Exec-mode invocation, the classic watchdog's semantics: every call starts
 * a fresh sandbox from the function's image, the request body goes to
 * stdin, stdout is the response body, Http_* variables describe the request.
 *
 * invoke_run() runs one call and hands its result (status, headers, body,
 * duration) to a callback exactly once; invoke_exec() is the synchronous
 * HTTP path on top of it and core/runtime/async.c the queued one, so both run a
 * call the same way.
 *
 * Admission (core/runtime/admit.h): a call runs when its function has
 * fewer than max-inflight sandboxes and a daemon-wide slot is free; else
 * it waits its turn in the function's bounded queue (429 when full), and
 * its struct invocation is the waiter. A queued call that is cancelled or
 * caught by a shutdown is answered without a sandbox (499, 503).
 *
 * Ownership: struct invocation embeds its libuv handles (pidfd poll, three
 * pipes, timer) and is freed only when the last of them has closed (a
 * queued one, which has none, when it leaves the queue without running).
 * Everything the call points to is borrowed and must stay alive until the
 * callback has run.
 * The sandbox is reaped through its pidfd (no SIGCHLD) and freed, which
 * removes its cgroup, before the invocation is freed.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/base/buf.h"
#include "core/base/cleanup.h"
#include "core/base/list.h"
#include "core/base/log.h"
#include "core/base/util.h"
#include "core/model/callid.h"
#include "core/model/group.h"
#include "core/model/recipe.h"
#include "core/model/secret_files.h"
#include "core/runtime/admit.h"
#include "core/runtime/invoke.h"
#include "core/runtime/fn_egress.h"
#include "core/runtime/logs.h"
#include "core/runtime/metrics.h"
#include "core/runtime/pool.h"
#include "core/runtime/spawner.h"
#include "core/runtime/stock.h"
#include "core/runtime/tenants.h"
#include "core/sfaasd.h"

/* A function's stdout or stderr: what fits under the cap (buf.max) is
 * kept; overflow says more came. */
struct outbuf {
        struct buf b;
        bool overflow;
};

/* Why the daemon killed a call's sandbox, if it did: the answer names it
 * (a SIGKILL alone could be any of these, or the OOM killer). */
enum inv_kill { INV_KILL_NONE = 0, INV_KILL_TIMEOUT, INV_KILL_OUTPUT, INV_KILL_SHUTDOWN, INV_KILL_ABORT };

struct invocation {
        struct list_node node;       /* in sf->invocations */
        struct sfaasd *sf;
        invoke_done_fn done;         /* called once with the result */
        void *done_data;
        struct sandbox *sb;
        uv_poll_t exit_poll;       /* on the pidfd */
        /* On the exit-status pipe: the command's status arrives before the
         * init has ended (sandbox_peek_status), and the answer need not
         * wait for the kernel to tear the sandbox's namespaces down; the
         * invocation still ends (slots, cgroup) only once it is reaped. */
        uv_poll_t status_poll;
        bool status_poll_open, reaped;
        uv_pipe_t in, out, err;
        uv_timer_t timer;
        uv_write_t wreq;
        int open_handles;
        bool in_open;
        struct outbuf obuf, ebuf;
        bool exited, out_eof, err_eof, timed_out, finished;
        enum inv_kill killed;        /* the first reason the daemon killed it for */
        int wait_status;
        uint64_t start_ns;
        uint64_t timeout_ms;
        char name[FN_NAME_MAX], ns[FN_NAME_MAX];
        char call_id[CALL_ID_MAX];
        char fail_msg[256];          /* why the call failed, for the function's log */
        char *content_type;
        struct invoke_call call;     /* borrowed (invoke.h) */
        struct admit_waiter waiter;  /* while queued */
        bool queued;                 /* waiting for its turn: no sandbox, no handles */
        bool slot;                   /* holds a daemon-wide sandbox slot */
        bool fn_running;             /* counted in its function's running calls */
        uint32_t max_inflight;       /* its function's limit when it was queued */
        bool tenant_counted;         /* counted in its tenant's instances (core/runtime/tenants.h) */
        struct fn_egress egress;     /* its egress proxy, when its function has a grant */
        bool stocked;                /* served by a parked sandbox (core/runtime/stock.h) */
        /* Waiting for a sandbox of the stock being made when it came
         * (struct stock_waiter): it holds its slots, no sandbox, no handles. */
        struct stock_waiter swait;
        bool stock_waiting;
        bool stock_resumed;          /* that wait is over: counted, no second wait */
        /* Its fresh sandbox is being made on the spawner's thread (struct
         * inv_spawn): no sandbox, no handles yet; a kill meanwhile is kept
         * in killed and done when the sandbox is back. */
        bool spawning;
};

static void inv_finish(struct invocation *inv);

/* Give back what admission gave the call: its function's running count
 * (waiters of the function may go) and its daemon-wide slot, once its
 * sandbox is gone. */
static void inv_release_slots(struct invocation *inv)
{
        struct sfaasd *sf = inv->sf;

        if (inv->fn_running) {
                struct admit_fn_counts *fc = admit_fn_get(sf, inv->ns, inv->name);
                inv->fn_running = false;
                if (fc && fc->running)
                        fc->running--;
                admit_fn_put(sf, inv->ns, inv->name);
                admit_kick(sf);
        }
        if (inv->slot) {
                inv->slot = false;
                admit_release(sf);
        }
}

static void inv_list_remove(struct invocation *inv)
{
        struct sfaasd *sf = inv->sf;

        list_del(&inv->node);
        sf->n_invocations--;
        if (inv->tenant_counted) {
                inv->tenant_counted = false;
                tenants_instance_end(sf, inv->ns);
        }
}

static void inv_list_add(struct invocation *inv)
{
        struct sfaasd *sf = inv->sf;

        list_add_head(&sf->invocations, &inv->node);
        sf->n_invocations++;
}

static void inv_handle_closed(uv_handle_t *h)
{
        struct invocation *inv = h->data;
        if (--inv->open_handles > 0)
                return;
        sandbox_free(inv->sb);
        fn_egress_stop(&inv->egress);
        inv_release_slots(inv);
        buf_release(&inv->obuf.b);
        free(inv->ebuf.b.p);
        free(inv->content_type);
        free(inv);
}

static void inv_close_handle(struct invocation *inv, uv_handle_t *h)
{
        if (!uv_is_closing(h))
                uv_close(h, inv_handle_closed);
}

static void inv_dequeue_answer(struct invocation *inv, int status, const char *msg);

static void inv_unwait_answer(struct invocation *inv, int status, const char *msg);

static void inv_kill(struct invocation *inv, enum inv_kill why)
{
        if (inv->stock_waiting || inv->queued) {
                /* Never ran (queued, or waiting for a sandbox of the
                 * stock): answered and freed here. */
                int status = why == INV_KILL_ABORT ? 499 : 503;
                const char *msg = why == INV_KILL_ABORT ? "the caller went away before the call could start"
                                                        : "sfaasd is shutting down";
                if (inv->stock_waiting)
                        inv_unwait_answer(inv, status, msg);
                else
                        inv_dequeue_answer(inv, status, msg);
                return;
        }
        if (inv->spawning) {
                if (!inv->killed)
                        inv->killed = why; /* inv_spawned kills it */
                return;
        }
        if (!inv->killed && !inv->exited) {
                inv->killed = why;
                (void) sandbox_kill(inv->sb);
        }
}

/* Append up to the cap; what does not fit sets overflow. The buffer grows
 * geometrically and never beyond cap + 1 (for the terminating NUL). */
static void outbuf_append(struct outbuf *o, const char *p, size_t n)
{
        size_t room = o->b.max - o->b.len;

        if (n > room) {
                o->overflow = true;
                n = room;
        }
        if (n && buf_append(&o->b, p, n) < 0)
                o->overflow = true; /* out of memory: as good as too much */
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
        (void) h;
        buf->base = malloc(65536);
        buf->len = buf->base ? 65536 : 0;
}

static void on_out(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
        struct invocation *inv = s->data;
        struct outbuf *b = s == (uv_stream_t *) &inv->out ? &inv->obuf : &inv->ebuf;
        if (n > 0) {
                outbuf_append(b, buf->base, (size_t) n);
                /* stdout over its cap kills the sandbox; stderr is just truncated. */
                if (b == &inv->obuf && b->overflow)
                        inv_kill(inv, INV_KILL_OUTPUT);
        } else if (n < 0) {
                (void) uv_read_stop(s);
                if (b == &inv->obuf)
                        inv->out_eof = true;
                else
                        inv->err_eof = true;
                inv_finish(inv);
        }
        free(buf->base);
}

static void on_exit_poll(uv_poll_t *p, int status, int events)
{
        struct invocation *inv = p->data;
        int ws, r = sandbox_reap(inv->sb, &ws);
        if (r == -EAGAIN)
                return;
        (void) uv_poll_stop(p);
        inv->reaped = true;
        if (inv->finished) {
                /* Answered on the status record already (on_status_poll):
                 * now the sandbox is gone too. */
                inv_close_handle(inv, (uv_handle_t *) &inv->exit_poll);
                return;
        }
        if (!inv->exited) {
                inv->exited = true;
                inv->wait_status = r < 0 ? (SIGKILL) : ws; /* reap failed: report as killed */
        }
        inv_finish(inv);
}

static void on_status_poll(uv_poll_t *p, int status, int events)
{
        struct invocation *inv = p->data;
        int ws, r;

        (void) uv_poll_stop(p);
        r = sandbox_peek_status(inv->sb, &ws);
        if (r == -EAGAIN) {
                (void) uv_poll_start(p, UV_READABLE, on_status_poll);
                return;
        }
        inv_close_handle(inv, (uv_handle_t *) p);
        if (r < 0 || inv->exited)
                return; /* killed: the reap tells (on_exit_poll) */
        inv->exited = true;
        inv->wait_status = ws;
        inv_finish(inv);
}

static void on_timeout(uv_timer_t *t)
{
        struct invocation *inv = t->data;
        inv->timed_out = true;
        inv_kill(inv, INV_KILL_TIMEOUT);
}

static void on_stdin_written(uv_write_t *w, int status)
{
        struct invocation *inv = w->data;
        /* EPIPE when the function does not read its input: not an error. */
        inv->in_open = false;
        inv_close_handle(inv, (uv_handle_t *) &inv->in);
}

#define OOM_BODY "{\"error\":\"out of memory\"}\n"

/* Hand the result to the caller (once). */
static void deliver(struct invocation *inv, int status, const char *content_type, const char *extra_headers,
                    const char *body, size_t body_len, double seconds)
{
        struct invoke_result res = {
                .status = status,
                .content_type = content_type,
                .extra_headers = extra_headers,
                .body = body ? body : "",
                .body_len = body ? body_len : 0,
                .seconds = seconds,
                .call_id = inv->call_id,
                .ran = true,
        };
        invoke_done_fn done = inv->done;

        inv->done = NULL;
        if (done)
                done(&res, inv->done_data);
}

/* A failure before any sandbox ran: {"error": msg} as http_respond_error(). */
static void fail_early_with(invoke_done_fn done, void *data, const char *call_id, int status,
                            const char *extra_headers, const char *msg)
{
        _cleanup_free_ char *body = NULL;
        json_t *o;
        struct invoke_result res = { .call_id = call_id, .content_type = "application/json",
                                     .extra_headers = extra_headers };

        o = json_pack("{s:s}", "error", msg);
        body = o ? json_dumps(o, JSON_COMPACT) : NULL;
        json_decref(o);
        if (body) {
                char *nb = xasprintf("%s\n", body);
                if (nb) {
                        free(body);
                        body = nb;
                }
        }
        res.status = body ? status : 500;
        res.body = body ? body : OOM_BODY;
        res.body_len = strlen(res.body);
        done(&res, data);
}

static void fail_early(invoke_done_fn done, void *data, const char *call_id, int status, const char *fmt, ...)
        __attribute__((format(printf, 5, 6)));
static void fail_early(invoke_done_fn done, void *data, const char *call_id, int status, const char *fmt, ...)
{
        char msg[1024];
        va_list ap;

        va_start(ap, fmt);
        (void) vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        fail_early_with(done, data, call_id, status, NULL, msg);
}

/* A queued call leaves the queue without running: answered, counted in
 * the metrics, freed. */
/* A call that never ran, out of every list and holding no slot: counted
 * (a 404 is no call of a function), answered, freed. */
static void inv_answer_unrun(struct invocation *inv, int status, const char *msg)
{
        invoke_done_fn done = inv->done;
        void *data = inv->done_data;
        char id[CALL_ID_MAX];

        if (status != 404)
                metrics_invocation_finished(inv->sf->metrics, inv->name, inv->ns, status,
                                            (double) (now_ns() - inv->start_ns) / 1e9);
        memcpy(id, inv->call_id, sizeof id);
        free(inv->content_type);
        free(inv);
        if (done)
                fail_early(done, data, id, status, "%s", msg);
}

static void inv_dequeue_answer(struct invocation *inv, int status, const char *msg)
{
        struct sfaasd *sf = inv->sf;
        struct admit_fn_counts *fc = admit_fn_get(sf, inv->ns, inv->name);

        admit_unwait(sf, &inv->waiter);
        if (fc && fc->queued)
                fc->queued--;
        sf->admit->exec_queued--;
        admit_fn_put(sf, inv->ns, inv->name);
        inv->queued = false;
        inv_list_remove(inv);
        inv_answer_unrun(inv, status, msg);
}

/* A call waiting for a sandbox of the stock leaves without running: the
 * same as a queued one, but it holds its slots. */
static void inv_unwait_answer(struct invocation *inv, int status, const char *msg)
{
        struct sfaasd *sf = inv->sf;

        stock_unwait(sf, &inv->swait);
        inv->stock_waiting = false;
        inv_list_remove(inv);
        inv_release_slots(inv);
        inv_answer_unrun(inv, status, msg);
}

static void respond_failure(struct invocation *inv, int status, const char *error, double secs)
{
        (void) xsnprintf(inv->fail_msg, sizeof inv->fail_msg, "%s", error);
        /* The daemon's line about it, before the answer (see inv_finish). */
        logs_daemon(inv->sf->logs, inv->ns, inv->name, "call %s failed: %s", inv->call_id, inv->fail_msg);
        json_t *o = json_pack("{s:s}", "error", error);
        char *s;
        char hdr[128];
        if (!o) {
                deliver(inv, 500, "application/json", NULL, OOM_BODY, sizeof OOM_BODY - 1, secs);
                return;
        }
        if (!inv->timed_out && inv->exited && WIFEXITED(inv->wait_status))
                (void) json_object_set_new(o, "exitCode", json_integer(WEXITSTATUS(inv->wait_status)));
        if (inv->ebuf.b.len) {
                /* stderr is bytes, JSON is UTF-8: keep it when valid, else
                 * replace what is not printable ASCII. */
                json_t *e = json_stringn(inv->ebuf.b.p, inv->ebuf.b.len);
                if (!e) {
                        for (size_t i = 0; i < inv->ebuf.b.len; i++) {
                                unsigned char ch = (unsigned char) inv->ebuf.b.p[i];
                                if (ch >= 0x80 || (ch < 0x20 && ch != '\n' && ch != '\t'))
                                        inv->ebuf.b.p[i] = '?';
                        }
                        e = json_stringn(inv->ebuf.b.p, inv->ebuf.b.len);
                }
                if (e)
                        (void) json_object_set_new(o, "stderr", e);
        }
        s = json_dumps(o, JSON_COMPACT);
        json_decref(o);
        (void) xsnprintf(hdr, sizeof hdr, "X-Call-Id: %s\r\nX-OpenFaaS-Internal: sfaasd\r\n", inv->call_id);
        if (!s) {
                deliver(inv, 500, "application/json", hdr, OOM_BODY, sizeof OOM_BODY - 1, secs);
                return;
        }
        deliver(inv, status, "application/json", hdr, s, strlen(s), secs);
        free(s);
}

static void inv_finish(struct invocation *inv)
{
        struct sfaasd *sf = inv->sf;
        double secs;
        char hdr[256], msg[256];
        int code = 500; /* the answer's status, for the metrics */
        struct sandbox_stats st = { 0 };
        struct sf_err serr = { 0 };

        if (inv->finished || !inv->exited || !inv->out_eof || !inv->err_eof)
                return;
        inv->finished = true;
        (void) uv_timer_stop(&inv->timer);
        secs = (double) (now_ns() - inv->start_ns) / 1e9;
        /* The memory cgroup counts the kernel's OOM kills in the sandbox,
         * its pid 1 or any other process: one line per call that had any
         * (the answer says so too, sandbox_describe_end). */
        if (sandbox_stats(inv->sb, &st) == 0 && st.oom_kills > 0)
                log_warning("function '%s.%s': call %s ran out of memory: the kernel killed %llu process(es) at "
                            "its memory limit",
                            inv->name, inv->ns, inv->call_id, (unsigned long long) st.oom_kills);
        /* Logs first: when the answer arrives, the call's lines are there. */
        if (inv->ebuf.b.len)
                logs_append(sf->logs, inv->ns, inv->name, inv->call_id, inv->ebuf.b.p, inv->ebuf.b.len);

        if (inv->stocked && !inv->timed_out && !inv->killed && sandbox_start_error(inv->sb, &serr) < 0) {
                /* The parked sandbox could not start the command: answered
                 * as a fresh spawn that failed is (inv_start). */
                invoke_done_fn done = inv->done;
                log_error("function '%s.%s': sandbox start failed: %s", inv->name, inv->ns, serr.msg);
                inv->done = NULL;
                if (done)
                        fail_early(done, inv->done_data, inv->call_id, code, "cannot start sandbox for '%s.%s': %s",
                                   inv->name, inv->ns, serr.msg);
        } else if (inv->timed_out) {
                (void) xsnprintf(msg, sizeof msg, "function '%s.%s' timed out after %llu ms and was killed",
                                 inv->name, inv->ns, (unsigned long long) inv->timeout_ms);
                code = 504;
                respond_failure(inv, code, msg, secs);
        } else if (inv->obuf.overflow) {
                (void) xsnprintf(msg, sizeof msg, "function '%s.%s' wrote more than %llu bytes of output",
                                 inv->name, inv->ns, (unsigned long long) inv->obuf.b.max);
                respond_failure(inv, code, msg, secs);
        } else if (inv->killed == INV_KILL_ABORT && WIFSIGNALED(inv->wait_status)) {
                /* Nobody hears the answer; the status is for the metrics and the log. */
                (void) xsnprintf(msg, sizeof msg, "function '%s.%s' was killed: the caller went away", inv->name,
                                 inv->ns);
                code = 499;
                respond_failure(inv, code, msg, secs);
        } else if (inv->killed == INV_KILL_SHUTDOWN && WIFSIGNALED(inv->wait_status)) {
                /* Not the function's fault: the daemon is going away. */
                if (sf->grace_over)
                        (void) xsnprintf(msg, sizeof msg,
                                         "function '%s.%s' was killed: sfaasd is shutting down and its grace "
                                         "period of %llu ms is over", inv->name, inv->ns,
                                         (unsigned long long) sf->cfg.shutdown_grace_ms);
                else
                        (void) xsnprintf(msg, sizeof msg,
                                         "function '%s.%s' was killed: sfaasd is shutting down at once "
                                         "(a second signal)", inv->name, inv->ns);
                code = 503;
                respond_failure(inv, code, msg, secs);
        } else if (!WIFEXITED(inv->wait_status) || WEXITSTATUS(inv->wait_status) != 0) {
                char how[128];
                (void) sandbox_describe_end(inv->sb, inv->wait_status, how, sizeof how);
                (void) xsnprintf(msg, sizeof msg, "function '%s.%s' %s", inv->name, inv->ns, how);
                respond_failure(inv, code, msg, secs);
        } else {
                (void) xsnprintf(hdr, sizeof hdr, "X-Call-Id: %s\r\nX-Duration-Seconds: %.6f\r\n", inv->call_id,
                                 secs);
                code = 200;
                deliver(inv, code, inv->content_type, hdr, inv->obuf.b.p ? inv->obuf.b.p : "", inv->obuf.b.len,
                        secs);
        }
        metrics_invocation_finished(sf->metrics, inv->name, inv->ns, code, secs);
        log_debug("invoked '%s.%s' in %.3f ms, status %d", inv->name, inv->ns, secs * 1e3, inv->wait_status);
        stock_call_answered(sf, inv->ns, inv->name);

        inv_list_remove(inv);

        if (inv->reaped || !uv_is_active((uv_handle_t *) &inv->exit_poll))
                inv_close_handle(inv, (uv_handle_t *) &inv->exit_poll);
        if (inv->status_poll_open)
                inv_close_handle(inv, (uv_handle_t *) &inv->status_poll);
        inv_close_handle(inv, (uv_handle_t *) &inv->out);
        inv_close_handle(inv, (uv_handle_t *) &inv->err);
        inv_close_handle(inv, (uv_handle_t *) &inv->timer);
        if (inv->in_open)
                inv_close_handle(inv, (uv_handle_t *) &inv->in);
}

void invoke_kill_all(struct sfaasd *sf)
{
        struct invocation *inv;

        list_for_each_safe(inv, &sf->invocations, node) /* a queued one is freed by inv_kill */
                inv_kill(inv, INV_KILL_SHUTDOWN);
}

void invoke_cancel(struct invocation *inv)
{
        inv_kill(inv, INV_KILL_ABORT);
}

/* ---- building the sandbox spec ---- */

/* Remove K (a header named Query must not survive as Http_Query). */
static int env_unset(struct svec *env, const char *k)
{
        size_t kl = strlen(k);
        for (size_t i = 0; i < env->n; i++)
                if (strncmp(env->v[i], k, kl) == 0 && env->v[i][kl] == '=') {
                        free(env->v[i]);
                        memmove(&env->v[i], &env->v[i + 1], (env->n - i) * sizeof *env->v);
                        env->n--;
                        return 0;
                }
        return 0;
}

/* "content-type" -> "Content_Type" as the watchdog names it (Go's canonical
 * header form, '-' -> '_'). Returns false for names unusable in env. */
static bool header_env_name(const char *h, char *out, size_t size)
{
        size_t n = strlen(h);
        bool up = true;
        if (n == 0 || n + 1 > size)
                return false;
        for (size_t i = 0; i < n; i++) {
                char c = h[i];
                if (c == '-') {
                        out[i] = '_';
                        up = true;
                        continue;
                }
                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'))
                        return false;
                if (c >= 'a' && c <= 'z' && up)
                        c = (char) (c - 'a' + 'A');
                else if (c >= 'A' && c <= 'Z' && !up)
                        c = (char) (c - 'A' + 'a');
                out[i] = c;
                up = false;
        }
        out[n] = '\0';
        return true;
}

static int pipe_pair(int fds[2])
{
        return pipe2(fds, O_CLOEXEC) < 0 ? -errno : 0;
}

/* The first value of header name in the call, or NULL. */
static const char *call_header(const struct invoke_call *call, const char *name)
{
        for (size_t i = 0; i < call->n_headers; i++)
                if (strcasecmp(call->headers[i].name, name) == 0)
                        return call->headers[i].value;
        return NULL;
}

/* Its function's limits for exec calls: annotations com.sfaasd.max-inflight
 * and com.sfaasd.queue-max, else the configuration's (0 in an annotation:
 * the configured default). */
static void exec_limits(const struct sfaasd *sf, const struct fn_recipe *rc, uint32_t *ret_inflight,
                        uint32_t *ret_queue)
{
        const char *s;
        uint64_t n;

        *ret_inflight = (uint32_t) sf->cfg.exec_max_inflight;
        *ret_queue = (uint32_t) sf->cfg.exec_queue_max;
        s = fn_recipe_meta(rc, "com.sfaasd.max-inflight");
        if (s && parse_u64(s, &n) >= 0 && n > 0 && n <= UINT32_MAX)
                *ret_inflight = (uint32_t) n;
        s = fn_recipe_meta(rc, "com.sfaasd.queue-max");
        if (s && parse_u64(s, &n) >= 0 && n <= UINT32_MAX)
                *ret_queue = (uint32_t) n;
}

/* The environment of the call: the function's (PATH, image Env, envVars,
 * fprocess), then the request's Http_* variables as the classic watchdog
 * sets them. -ENOMEM. */
static int call_env(const struct fn_recipe *rc, const struct invoke_call *call, const char *call_id,
                    struct svec *env)
{
        const char *callid = call_header(call, "X-Call-Id");
        char hdrname[256], key[300], num[32];

        for (size_t i = 0; i < rc->env.n; i++)
                if (svec_push(env, strdup(rc->env.v[i])) < 0)
                        return -ENOMEM;
        for (size_t i = 0; i < call->n_headers; i++) {
                bool seen = false;
                if (strcasecmp(call->headers[i].name, "Authorization") == 0)
                        continue; /* credentials are not the function's business */
                if (!header_env_name(call->headers[i].name, hdrname, sizeof hdrname))
                        continue;
                /* First value only, as the watchdog does. */
                for (size_t j = 0; j < i; j++)
                        if (strcasecmp(call->headers[j].name, call->headers[i].name) == 0)
                                seen = true;
                if (seen)
                        continue;
                (void) xsnprintf(key, sizeof key, "Http_%s", hdrname);
                if (svec_setenv(env, key, call->headers[i].value) < 0)
                        return -ENOMEM;
        }
        if ((!callid || strcmp(callid, call_id) != 0) && svec_setenv(env, "Http_X_Call_Id", call_id) < 0)
                return -ENOMEM;
        /* The request line last, so that headers named Method, Path or Query
         * cannot pose as it (the classic watchdog's order). */
        if (svec_setenv(env, "Http_Method", call->method) < 0 || svec_setenv(env, "Http_Path", call->path) < 0)
                return -ENOMEM;
        if (call->query[0] ? svec_setenv(env, "Http_Query", call->query) < 0 : env_unset(env, "Http_Query") < 0)
                return -ENOMEM;
        (void) xsnprintf(num, sizeof num, "%zu", call->body_len);
        if (svec_setenv(env, "Http_ContentLength", num) < 0)
                return -ENOMEM;
        return 0;
}

/* The sandbox runs: the invocation takes its pipes (in, out, err: our
 * ends), its exit and its timeout, writes the body to its stdin, and from
 * here on delivers the result itself. */
static void inv_io_start(struct invocation *inv, int in, int out, int err)
{
        struct sfaasd *sf = inv->sf;
        const struct invoke_call *call = &inv->call;

        uv_pipe_init(&sf->loop, &inv->in, 0);
        uv_pipe_init(&sf->loop, &inv->out, 0);
        uv_pipe_init(&sf->loop, &inv->err, 0);
        uv_timer_init(&sf->loop, &inv->timer);
        inv->in.data = inv->out.data = inv->err.data = inv->timer.data = inv->exit_poll.data = inv;
        inv->wreq.data = inv;
        inv->open_handles = 4;
        if (uv_poll_init(&sf->loop, &inv->exit_poll, sandbox_pidfd(inv->sb)) == 0) {
                inv->open_handles++;
                (void) uv_poll_start(&inv->exit_poll, UV_READABLE, on_exit_poll);
                /* Only with the pidfd watched: the invocation must see the
                 * end of the sandbox after answering early. */
                if (sandbox_status_fd(inv->sb) >= 0 &&
                    uv_poll_init(&sf->loop, &inv->status_poll, sandbox_status_fd(inv->sb)) == 0) {
                        inv->status_poll.data = inv;
                        inv->status_poll_open = true;
                        inv->open_handles++;
                        (void) uv_poll_start(&inv->status_poll, UV_READABLE, on_status_poll);
                }
        }
        (void) uv_pipe_open(&inv->in, in);
        (void) uv_pipe_open(&inv->out, out);
        (void) uv_pipe_open(&inv->err, err);
        inv->in_open = true;
        (void) uv_read_start((uv_stream_t *) &inv->out, alloc_cb, on_out);
        (void) uv_read_start((uv_stream_t *) &inv->err, alloc_cb, on_out);
        if (inv->timeout_ms) {
                /* The loop's clock is the start of this iteration: without an
                 * update the timeout would fire early by the spawn's time. */
                uv_update_time(&sf->loop);
                (void) uv_timer_start(&inv->timer, on_timeout, inv->timeout_ms, 0);
        }
        {
                /* The caller keeps the body alive until the result is delivered. */
                uv_buf_t b = uv_buf_init((char *) call->body, (unsigned) call->body_len);
                if (call->body_len == 0 ||
                    uv_write(&inv->wreq, (uv_stream_t *) &inv->in, &b, 1, on_stdin_written) < 0) {
                        inv->in_open = false;
                        inv_close_handle(inv, (uv_handle_t *) &inv->in);
                }
        }
}

static bool inv_start(struct invocation *inv);

/* Close whichever ends of the call's three pipes are still open. */
static void pipes_close(int in[2], int out[2], int errp[2])
{
        int *pairs[] = { in, out, errp };

        for (size_t p = 0; p < sizeof pairs / sizeof *pairs; p++)
                for (int i = 0; i < 2; i++)
                        if (pairs[p][i] >= 0) {
                                (void) close(pairs[p][i]);
                                pairs[p][i] = -1;
                        }
}

/* Hand the call to the parked sandbox in inv->sb (core/runtime/stock.h):
 * its environment and three fresh pipes; from here it runs as a fresh
 * call's sandbox does. False when the sandbox refused it (its init gone,
 * an environment too large for it): the sandbox is freed, inv->sb NULL,
 * and the caller spawns a fresh one (the slot and tenant instance stay
 * the call's). */
static bool inv_start_parked(struct invocation *inv, struct svec *env)
{
        int in[2] = { -1, -1 }, out[2] = { -1, -1 }, errp[2] = { -1, -1 }, stdio[3];
        struct sf_err err = { 0 };
        int r = -EIO;

        if (pipe_pair(in) < 0 || pipe_pair(out) < 0 || pipe_pair(errp) < 0) {
                (void) sf_err_errno(&err, -errno, "cannot create pipes");
        } else {
                stdio[0] = in[0];
                stdio[1] = out[1];
                stdio[2] = errp[1];
                r = sandbox_hand_call(inv->sb, env->v, stdio, &err);
        }
        if (r >= 0) {
                (void) close(in[0]);
                (void) close(out[1]);
                (void) close(errp[1]);
                inv->stocked = true;
                log_debug("call %s of '%s.%s' served by a parked sandbox", inv->call_id, inv->name, inv->ns);
                inv_io_start(inv, in[1], out[0], errp[0]);
                return true;
        }
        pipes_close(in, out, errp);
        log_warning("function '%s.%s': a parked sandbox could not take call %s (%s): starting a fresh one",
                    inv->name, inv->ns, inv->call_id, err.msg);
        sandbox_free(inv->sb);
        inv->sb = NULL;
        return false;
}

/* The sandbox a waiting call waited for (stock.h, struct stock_waiter),
 * or NULL: none came, the call spawns its own. Either way the call starts
 * now, as it would have (inv_start). */
static void inv_stock_ready(struct stock_waiter *w, struct sandbox *sb)
{
        struct invocation *inv = (struct invocation *) ((char *) w - offsetof(struct invocation, swait));

        inv->stock_waiting = false;
        inv->stock_resumed = true;
        if (sb) {
                /* It brings a slot and a tenant instance; the call gives
                 * back the slot it held. */
                admit_release(inv->sf);
                inv->tenant_counted = true;
                inv->sb = sb;
        }
        (void) inv_start(inv);
}

/* The stock's part of a call's start (core/runtime/stock.h): a parked
 * sandbox (inv->sb), else the one being made for the function if no other
 * call claimed it (true: the call waits, inv_stock_ready goes on), else a
 * fresh spawn. Counted as the demand that sizes the stock. */
static bool inv_stock_step(struct invocation *inv, const struct fn_recipe *rc)
{
        struct sfaasd *sf = inv->sf;
        struct admit_fn_counts *fc;
        enum stock_served served = STOCK_MISS;

        if (inv->stock_resumed)
                return false; /* after its wait: counted then */
        if (!inv->sb && (inv->sb = stock_take(sf, inv->ns, inv->name, rc))) {
                /* A call that waited its turn holds a slot of its own; the
                 * parked sandbox brings one, and a tenant instance. */
                admit_release(sf);
                inv->tenant_counted = true;
        }
        if (inv->sb) {
                served = STOCK_HIT;
        } else {
                inv->swait.ready = inv_stock_ready;
                if (stock_wait(sf, inv->ns, inv->name, rc, &inv->swait)) {
                        inv->stock_waiting = true;
                        served = STOCK_WAIT;
                }
        }
        fc = admit_fn_get(sf, inv->ns, inv->name);
        stock_note_call(sf, inv->ns, inv->name, rc, fc ? fc->running : 1, served);
        return inv->stock_waiting;
}

/* A queued call's turn may have come (admit.h): its function below its
 * limit and a daemon-wide slot free. */
static bool inv_ready(struct admit_waiter *w)
{
        struct invocation *inv = (struct invocation *) ((char *) w - offsetof(struct invocation, waiter));
        struct sfaasd *sf = inv->sf;
        struct admit_fn_counts *fc = admit_fn_get(sf, inv->ns, inv->name);

        if (!fc || fc->running >= inv->max_inflight || !admit_take_waiting(sf))
                return false;
        if (fc->queued)
                fc->queued--;
        sf->admit->exec_queued--;
        fc->running++;
        inv->queued = false;
        inv->slot = inv->fn_running = true;
        (void) inv_start(inv);
        return true;
}

struct invocation *invoke_run(struct sfaasd *sf, const char *name, const char *ns, const struct invoke_call *call,
                              invoke_done_fn done, void *data)
{
        struct pool *pool;
        const struct fn_recipe *rc;
        struct sf_err err = { 0 };
        struct invocation *inv;
        struct admit_fn_counts *fc;
        const char *ctype, *callid;
        uint32_t queue_max;
        uint64_t t0 = now_ns();
        int status;

        if (sf->stopping) {
                fail_early(done, data, call->call_id, 503, "sfaasd is shutting down");
                return NULL;
        }
        /* The function as its pool keeps it (read once, reread on every
         * deploy): store, image config, command, environment, limits, user. */
        pool = pool_get(sf, ns, name, &status, &err);
        if (!pool) {
                if (status != 404) {
                        metrics_invocation_started(sf->metrics, name, ns);
                        metrics_invocation_finished(sf->metrics, name, ns, status, (double) (now_ns() - t0) / 1e9);
                }
                fail_early(done, data, call->call_id, status, "%s", err.msg);
                return NULL;
        }
        rc = pool_recipe(pool);
        metrics_invocation_started(sf->metrics, name, ns);
        inv = calloc(1, sizeof *inv);
        if (!inv) {
                metrics_invocation_finished(sf->metrics, name, ns, 500, (double) (now_ns() - t0) / 1e9);
                fail_early(done, data, call->call_id, 500, "out of memory");
                return NULL;
        }
        inv->sf = sf;
        inv->start_ns = t0;
        inv->call = *call;
        inv->done = done;
        inv->done_data = data;
        inv->waiter.ready = inv_ready;
        inv->egress = (struct fn_egress) FN_EGRESS_INIT;
        (void) xsnprintf(inv->name, sizeof inv->name, "%s", name);
        (void) xsnprintf(inv->ns, sizeof inv->ns, "%s", ns);
        callid = call_header(call, "X-Call-Id");
        if (call->call_id && call_id_valid(call->call_id))
                (void) xsnprintf(inv->call_id, sizeof inv->call_id, "%s", call->call_id);
        else if (callid && call_id_valid(callid))
                (void) xsnprintf(inv->call_id, sizeof inv->call_id, "%s", callid);
        else
                call_id_make(inv->call_id);
        ctype = call_header(call, "Content-Type");
        inv->content_type = strdup(ctype && *ctype && !strpbrk(ctype, "\r\n") ? ctype : "text/plain");
        exec_limits(sf, rc, &inv->max_inflight, &queue_max);
        fc = admit_fn_get(sf, ns, name);
        if (!inv->content_type || !fc) {
                if (fc)
                        admit_fn_put(sf, ns, name);
                free(inv->content_type);
                free(inv);
                metrics_invocation_finished(sf->metrics, name, ns, 500, (double) (now_ns() - t0) / 1e9);
                fail_early(done, data, call->call_id, 500, "out of memory");
                return NULL;
        }
        inv_list_add(inv);
        /* A parked sandbox of the function brings its own slot and tenant
         * instance (core/runtime/stock.h), so it serves the call whenever
         * the function is below its limit and nobody waits for a slot. */
        if (fc->running < inv->max_inflight && !sf->admit->head && (inv->sb = stock_take(sf, ns, name, rc))) {
                fc->running++;
                inv->slot = inv->fn_running = inv->tenant_counted = true;
                return inv_start(inv) ? inv : NULL;
        }
        if (fc->running < inv->max_inflight && admit_take(sf)) {
                fc->running++;
                inv->slot = inv->fn_running = true;
                return inv_start(inv) ? inv : NULL;
        }
        if (!call->wait && fc->queued >= queue_max) {
                char msg[256];
                sf->admit->refused++;
                (void) xsnprintf(msg, sizeof msg,
                                 "function '%s.%s' is busy: %u call(s) running and %u waiting, try again later",
                                 name, ns, fc->running, fc->queued);
                admit_fn_put(sf, ns, name);
                inv_list_remove(inv);
                metrics_invocation_finished(sf->metrics, name, ns, 429, (double) (now_ns() - t0) / 1e9);
                fail_early_with(done, data, inv->call_id, 429, "Retry-After: 1\r\n", msg);
                free(inv->content_type);
                free(inv);
                return NULL;
        }
        fc->queued++;
        sf->admit->exec_queued++;
        inv->queued = true;
        admit_wait(sf, &inv->waiter);
        return inv;
}

/* The call's function, read again (a queued call may find it changed or
 * gone), with a command to run; NULL with *ret_status and msg when not. */
static const struct fn_recipe *inv_recipe(struct invocation *inv, int *ret_status, char *msg, size_t size)
{
        struct sf_err err = { 0 };
        struct pool *pool;
        const struct fn_recipe *rc;
        int status;

        pool = pool_get(inv->sf, inv->ns, inv->name, &status, &err);
        if (!pool) {
                *ret_status = status;
                (void) xsnprintf(msg, size, "%s", err.msg);
                return NULL;
        }
        rc = pool_recipe(pool);
        if (rc->has_fprocess && rc->exec_argv.n == 0) {
                (void) xsnprintf(msg, size, "function '%s.%s': envProcess is empty", inv->name, inv->ns);
                return NULL;
        }
        if (rc->exec_argv.n == 0) {
                (void) xsnprintf(msg, size,
                                 "function '%s.%s' has no command: set envProcess or an image Entrypoint/Cmd",
                                 inv->name, inv->ns);
                return NULL;
        }
        return rc;
}

/* A call's fresh sandbox, made on the spawner's thread
 * (core/runtime/spawner.h) while the loop serves everything else. The job
 * owns what the spec points to: a redeploy may replace the recipe before
 * the spawn is back. */
struct inv_spawn {
        struct spawn_req req;
        struct invocation *inv;
        struct sandbox_spec sp;
        struct svec env, argv;
        char *rootfs, *workdir;
        char group[FN_GROUP_MAX];
        struct secret_files secrets; /* the function's secrets (core/model/secret_files.h) */
        int in[2], out[2], errp[2];
        uint64_t t0;
};

static void inv_spawned(struct spawn_req *req);

static void inv_spawn_free(struct inv_spawn *j)
{
        if (!j)
                return;
        pipes_close(j->in, j->out, j->errp);
        secret_files_release(&j->secrets);
        svec_free(&j->env);
        svec_free(&j->argv);
        free(j->rootfs);
        free(j->workdir);
        free(j);
}

/* The job for inv, its spec as fn_recipe_exec_spec makes it from rc, the
 * strings its own; it takes *env (the call's environment). NULL: out of
 * memory. */
static struct inv_spawn *inv_spawn_new(struct invocation *inv, const struct fn_recipe *rc, struct svec *env)
{
        struct inv_spawn *j = calloc(1, sizeof *j);

        if (!j)
                return NULL;
        j->in[0] = j->in[1] = j->out[0] = j->out[1] = j->errp[0] = j->errp[1] = -1;
        secret_files_init(&j->secrets);
        j->env = *env;
        *env = (struct svec) { 0 };
        j->rootfs = strdup(rc->rootfs);
        j->workdir = rc->workdir ? strdup(rc->workdir) : NULL;
        if (!j->rootfs || (rc->workdir && !j->workdir)) {
                inv_spawn_free(j);
                return NULL;
        }
        for (size_t i = 0; i < rc->exec_argv.n; i++) {
                char *dup = strdup(rc->exec_argv.v[i]);
                if (!dup || svec_push(&j->argv, dup) < 0) {
                        free(dup);
                        inv_spawn_free(j);
                        return NULL;
                }
        }
        fn_recipe_exec_spec(rc, inv->name, inv->ns, j->env.v, j->group, &j->sp);
        j->sp.rootfs = j->rootfs;
        j->sp.argv = j->argv.v;
        j->sp.workdir = j->workdir;
        j->inv = inv;
        j->req.sp = &j->sp;
        j->req.done = inv_spawned;
        j->req.data = j;
        return j;
}

/* A call that could not start: answered (FAIL_STATUS, MSG), its slots given
 * back, freed. */
static void inv_start_failed(struct invocation *inv, int fail_status, const char *msg)
{
        fn_egress_stop(&inv->egress);
        fn_egress_spawned(&inv->egress);
        sandbox_free(inv->sb); /* a parked one taken for a call that failed before it ran */
        inv->sb = NULL;
        inv_list_remove(inv);
        inv_release_slots(inv);
        inv_answer_unrun(inv, fail_status, msg);
}

/* Back on the loop from the spawner. */
static void inv_spawned(struct spawn_req *req)
{
        struct inv_spawn *j = req->data;
        struct invocation *inv = j->inv;
        struct sfaasd *sf = inv->sf;
        char msg[1024];

        inv->spawning = false;
        inv->sb = req->sb;
        metrics_sandbox_start(sf->metrics, req->ret >= 0, (double) (req->done_ns - j->t0) / 1e9);
        secret_files_release(&j->secrets); /* the sandbox holds its own mounts of them */
        fn_egress_spawned(&inv->egress);
        (void) close(j->in[0]);
        (void) close(j->out[1]);
        (void) close(j->errp[1]);
        j->in[0] = j->out[1] = j->errp[1] = -1;
        if (req->ret < 0) {
                log_error("function '%s.%s': sandbox start failed: %s", inv->name, inv->ns, req->err.msg);
                (void) xsnprintf(msg, sizeof msg, "cannot start sandbox for '%s.%s': %s", inv->name, inv->ns,
                                 req->err.msg);
                inv_spawn_free(j);
                inv_start_failed(inv, 500, msg);
                return;
        }
        inv_io_start(inv, j->in[1], j->out[0], j->errp[0]);
        j->in[1] = j->out[0] = j->errp[0] = -1;
        inv_spawn_free(j);
        if (inv->killed) /* the caller went, or the daemon stops, while it was made */
                (void) sandbox_kill(inv->sb);
}

/* Start a call that was admitted (it holds its slots): build the spec,
 * spawn, hand the result to the loop's callbacks. False when it failed at
 * once: answered, its slots given back, freed. */
static bool inv_start(struct invocation *inv)
{
        struct sfaasd *sf = inv->sf;
        const struct invoke_call *call = &inv->call;
        const char *name = inv->name, *ns = inv->ns;
        const struct fn_recipe *rc;
        struct svec env = { 0 };
        struct sf_err err = { 0 };
        struct inv_spawn *j = NULL;
        struct spawner *spawner;
        char msg[1024];
        int r, fail_status = 500;

        msg[0] = '\0';
        rc = inv_recipe(inv, &fail_status, msg, sizeof msg);
        if (!rc)
                goto fail;
        inv->obuf.b.max = sf->cfg.max_output_bytes;
        inv->ebuf.b.max = sf->cfg.max_stderr_bytes;

        if (call_env(rc, call, inv->call_id, &env) < 0)
                goto oom;
        if (inv_stock_step(inv, rc)) {
                svec_free(&env);
                return true; /* inv_stock_ready starts it */
        }
        /* As fn_recipe_exec_spec gives the sandbox (the timer starts with the call). */
        inv->timeout_ms = rc->exec_timeout_ms;
        if (inv->sb && inv_start_parked(inv, &env)) {
                svec_free(&env);
                return true;
        }
        j = inv_spawn_new(inv, rc, &env);
        if (!j)
                goto oom;
        inv->timeout_ms = j->sp.limits.timeout_ms;
        /* ---- secrets: read-only files at /var/openfaas/secrets/NAME, decrypted
         * into a private tmpfs that only this spawn and its sandbox reach ---- */
        r = secret_files_prepare(sf, ns, json_object_get(rc->spec, "secrets"), &j->secrets, &err);
        if (r < 0) {
                log_error("function '%s.%s': %s", name, ns, err.msg);
                (void) xsnprintf(msg, sizeof msg, "function '%s.%s': %s", name, ns, err.msg);
                goto fail;
        }
        j->sp.binds = j->secrets.binds;
        j->sp.n_binds = j->secrets.n;
        /* ---- end of secrets ---- */
        /* Egress by grant: its proxy listens in the sandbox's namespace
         * before the sandbox is born there (core/runtime/fn_egress.h). */
        r = fn_egress_prepare(sf, rc, ns, name, inv->call_id, 0, pools_self_netns(sf), &j->env, &j->sp, &inv->egress,
                              &err);
        if (r < 0) {
                log_error("function '%s.%s': egress: %s", name, ns, err.msg);
                (void) xsnprintf(msg, sizeof msg, "function '%s.%s': egress: %s", name, ns, err.msg);
                goto fail;
        }

        if (pipe_pair(j->in) < 0 || pipe_pair(j->out) < 0 || pipe_pair(j->errp) < 0) {
                fail_status = 503;
                (void) xsnprintf(msg, sizeof msg, "cannot create pipes: %s", strerror(errno));
                goto fail;
        }
        j->sp.stdio[0] = j->in[0];
        j->sp.stdio[1] = j->out[1];
        j->sp.stdio[2] = j->errp[1];
        if ((r = pools_spawner(sf, &spawner)) < 0) {
                fail_status = 503;
                (void) xsnprintf(msg, sizeof msg, "cannot start the spawner's thread: %s", strerror(-r));
                goto fail;
        }
        /* A parked sandbox of the tenant gives its instance to the call
         * (core/runtime/stock.h); else an idle default replica gives its
         * place to the retry (core/runtime/pool.h). */
        if (!inv->tenant_counted && admit_tenant_instance_begin(sf, ns) < 0) {
                struct tenant_quota q = { 0 };
                (void) tenants_quota(sf, ns, &q);
                (void) pools_reclaim_tenant_idle(sf, ns);
                fail_status = 429;
                (void) xsnprintf(msg, sizeof msg, "namespace '%s' runs its quota of %llu instances: try again later",
                                 ns, (unsigned long long) q.instances);
                goto fail;
        }
        inv->tenant_counted = true;
        inv->spawning = true;
        j->t0 = now_ns();
        spawner_submit(spawner, &j->req);
        return true; /* inv_spawned goes on */

oom:
        (void) xsnprintf(msg, sizeof msg, "out of memory");
fail:
        inv_spawn_free(j);
        svec_free(&env);
        inv_start_failed(inv, fail_status, msg);
        return false;
}

/* ---- the synchronous HTTP path ---- */

static void sync_done(const struct invoke_result *res, void *data)
{
        struct http_request *req = data;

        req->on_abort = NULL;
        req->data = NULL;
        http_respond(req, res->status, res->content_type, res->extra_headers, res->body, res->body_len);
}

/* The caller went away (or half-closed: http.h abort_on_eof) before its
 * answer: its sandbox is killed now, or its place in the queue given up;
 * sync_done still runs once and frees the request. */
static void sync_abort(struct http_request *req)
{
        struct invocation *inv = req->data;

        if (inv)
                invoke_cancel(inv);
}

void invoke_exec(struct sfaasd *sf, struct http_request *req, const char *name, const char *ns,
                 const char *subpath)
{
        struct invoke_call call = {
                .method = req->method,
                .path = subpath,
                .query = req->query,
                .headers = req->headers,
                .n_headers = req->n_headers,
                .body = req->body,
                .body_len = req->body_len,
        };

        struct invocation *inv;

        /* Held until sync_done answers (maybe at once, for an early failure:
         * then req is gone when invoke_run returns NULL). */
        http_request_hold(req);
        inv = invoke_run(sf, name, ns, &call, sync_done, req);
        if (inv) {
                req->data = inv;
                req->on_abort = sync_abort;
                /* An exec call's client that closes its side is gone, not
                 * half-closed: its sandbox must not run on for nobody. */
                req->abort_on_eof = true;
        }
}
