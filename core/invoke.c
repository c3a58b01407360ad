/* SPDX-License-Identifier: MIT */
/*
 * Exec-mode invocation, the classic watchdog's semantics: every call starts
 * a fresh sandbox from the function's image, the request body goes to
 * stdin, stdout is the response body, Http_* variables describe the request.
 *
 * invoke_run() runs one call and hands its result (status, headers, body,
 * duration) to a callback exactly once; invoke_exec() is the synchronous
 * HTTP path on top of it and core/async.c the queued one, so both run a
 * call the same way.
 *
 * Ownership: struct invocation embeds its libuv handles (pidfd poll, three
 * pipes, timer) and is freed only when the last of them has closed. The
 * call's body is borrowed and must stay alive until the callback has run.
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

#include "core/base/cleanup.h"
#include "core/base/log.h"
#include "core/base/util.h"
#include "core/pool.h"
#include "core/recipe.h"
#include "core/secret_files.h"
#include "core/sfaasd.h"

#define _cleanup_json_ _cleanup_(json_decrefp)

struct outbuf {
        char *data;
        size_t len;
        size_t alloc;      /* bytes allocated */
        size_t cap;        /* limit */
        bool overflow;
};

struct invocation {
        struct invocation *prev, *next;
        struct sfaasd *sf;
        invoke_done_fn done;         /* called once with the result */
        void *done_data;
        struct sandbox *sb;
        uv_poll_t exit_poll;       /* on the pidfd */
        uv_pipe_t in, out, err;
        uv_timer_t timer;
        uv_write_t wreq;
        int open_handles;
        bool in_open;
        struct outbuf obuf, ebuf;
        bool exited, out_eof, err_eof, timed_out, finished, killed;
        int wait_status;
        uint64_t start_ns;
        uint64_t timeout_ms;
        char name[64], ns[64];
        char call_id[40];
        char fail_msg[256];          /* why the call failed, for the function's log */
        char *content_type;
};

static void inv_finish(struct invocation *inv);

static void inv_handle_closed(uv_handle_t *h)
{
        struct invocation *inv = h->data;
        if (--inv->open_handles > 0)
                return;
        sandbox_free(inv->sb);
        free(inv->obuf.data);
        free(inv->ebuf.data);
        free(inv->content_type);
        {
                struct sfaasd *sf = inv->sf;
                free(inv);
                sfaasd_maybe_finish(sf);
        }
}

static void inv_close_handle(struct invocation *inv, uv_handle_t *h)
{
        if (!uv_is_closing(h))
                uv_close(h, inv_handle_closed);
}

static void inv_kill(struct invocation *inv)
{
        if (!inv->killed && !inv->exited) {
                inv->killed = true;
                (void) sandbox_kill(inv->sb);
        }
}

/* Append up to the cap; what does not fit sets overflow. The buffer grows
 * geometrically and never beyond cap + 1 (for the terminating NUL). */
static void outbuf_append(struct outbuf *b, const char *p, size_t n)
{
        size_t room = b->cap - b->len, need, have = b->data ? b->alloc : 0;
        if (n > room) {
                b->overflow = true;
                n = room;
        }
        if (n == 0)
                return;
        need = b->len + n + 1;
        if (need > have) {
                size_t ncap = have ? have * 2 : 4096;
                char *nd;
                if (ncap < need)
                        ncap = need;
                if (ncap > b->cap + 1)
                        ncap = b->cap + 1;
                nd = realloc(b->data, ncap);
                if (!nd) {
                        b->overflow = true;
                        return;
                }
                b->data = nd;
                b->alloc = ncap;
        }
        memcpy(b->data + b->len, p, n);
        b->len += n;
        b->data[b->len] = '\0';
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
                        inv_kill(inv);
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
        inv->exited = true;
        inv->wait_status = r < 0 ? (SIGKILL) : ws; /* reap failed: report as killed */
        inv_finish(inv);
}

static void on_timeout(uv_timer_t *t)
{
        struct invocation *inv = t->data;
        inv->timed_out = true;
        inv_kill(inv);
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
static void fail_early(invoke_done_fn done, void *data, const char *call_id, int status, const char *fmt, ...)
        __attribute__((format(printf, 5, 6)));
static void fail_early(invoke_done_fn done, void *data, const char *call_id, int status, const char *fmt, ...)
{
        char msg[1024];
        _cleanup_free_ char *body = NULL;
        json_t *o;
        va_list ap;
        struct invoke_result res = { .call_id = call_id, .content_type = "application/json" };

        va_start(ap, fmt);
        (void) vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
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

static void respond_failure(struct invocation *inv, int status, const char *error, double secs)
{
        (void) xsnprintf(inv->fail_msg, sizeof inv->fail_msg, "%s", error);
        /* The daemon's line about it, before the answer (see inv_finish). */
        logs_daemon(&inv->sf->logs, inv->ns, inv->name, "call %s failed: %s", inv->call_id, inv->fail_msg);
        json_t *o = json_pack("{s:s}", "error", error);
        char *s;
        char hdr[128];
        if (!o) {
                deliver(inv, 500, "application/json", NULL, OOM_BODY, sizeof OOM_BODY - 1, secs);
                return;
        }
        if (!inv->timed_out && inv->exited && WIFEXITED(inv->wait_status))
                (void) json_object_set_new(o, "exitCode", json_integer(WEXITSTATUS(inv->wait_status)));
        if (inv->ebuf.len) {
                /* stderr is bytes, JSON is UTF-8: keep it when valid, else
                 * replace what is not printable ASCII. */
                json_t *e = json_stringn(inv->ebuf.data, inv->ebuf.len);
                if (!e) {
                        for (size_t i = 0; i < inv->ebuf.len; i++) {
                                unsigned char ch = (unsigned char) inv->ebuf.data[i];
                                if (ch >= 0x80 || (ch < 0x20 && ch != '\n' && ch != '\t'))
                                        inv->ebuf.data[i] = '?';
                        }
                        e = json_stringn(inv->ebuf.data, inv->ebuf.len);
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
        bool oom = false;

        if (inv->finished || !inv->exited || !inv->out_eof || !inv->err_eof)
                return;
        inv->finished = true;
        (void) uv_timer_stop(&inv->timer);
        secs = (double) (now_ns() - inv->start_ns) / 1e9;
        /* The memory cgroup counts the kernel's OOM kills in the sandbox,
         * its pid 1 or any other process: one line per call that had any. */
        if (sandbox_stats(inv->sb, &st) == 0 && st.oom_kills > 0) {
                oom = true;
                log_warning("function '%s.%s': call %s ran out of memory: the kernel killed %llu process(es) at "
                            "its memory limit",
                            inv->name, inv->ns, inv->call_id, (unsigned long long) st.oom_kills);
        }
        /* Logs first: when the answer arrives, the call's lines are there. */
        if (inv->ebuf.len)
                logs_append(&sf->logs, inv->ns, inv->name, inv->call_id, inv->ebuf.data, inv->ebuf.len);

        if (inv->timed_out) {
                (void) xsnprintf(msg, sizeof msg, "function '%s.%s' timed out after %llu ms and was killed",
                                 inv->name, inv->ns, (unsigned long long) inv->timeout_ms);
                code = 504;
                respond_failure(inv, code, msg, secs);
        } else if (inv->obuf.overflow) {
                (void) xsnprintf(msg, sizeof msg, "function '%s.%s' wrote more than %llu bytes of output",
                                 inv->name, inv->ns, (unsigned long long) inv->obuf.cap);
                respond_failure(inv, code, msg, secs);
        } else if (!WIFEXITED(inv->wait_status) || WEXITSTATUS(inv->wait_status) != 0) {
                if (WIFSIGNALED(inv->wait_status))
                        (void) xsnprintf(msg, sizeof msg, "function '%s.%s' was killed by signal %d%s", inv->name,
                                         inv->ns, WTERMSIG(inv->wait_status),
                                         oom ? " (out of memory)"
                                             : WTERMSIG(inv->wait_status) == SIGKILL ? " (killed)" : "");
                else
                        (void) xsnprintf(msg, sizeof msg, "function '%s.%s' exited with status %d", inv->name, inv->ns,
                                         WEXITSTATUS(inv->wait_status));
                respond_failure(inv, code, msg, secs);
        } else {
                (void) xsnprintf(hdr, sizeof hdr, "X-Call-Id: %s\r\nX-Duration-Seconds: %.6f\r\n", inv->call_id,
                                 secs);
                code = 200;
                deliver(inv, code, inv->content_type, hdr, inv->obuf.data ? inv->obuf.data : "", inv->obuf.len,
                        secs);
        }
        metrics_invocation_finished(&sf->metrics, inv->name, inv->ns, code, secs);
        log_debug("invoked '%s.%s' in %.3f ms, status %d", inv->name, inv->ns, secs * 1e3, inv->wait_status);

        if (inv->prev)
                inv->prev->next = inv->next;
        else
                sf->invocations = inv->next;
        if (inv->next)
                inv->next->prev = inv->prev;
        sf->n_invocations--;

        inv_close_handle(inv, (uv_handle_t *) &inv->exit_poll);
        inv_close_handle(inv, (uv_handle_t *) &inv->out);
        inv_close_handle(inv, (uv_handle_t *) &inv->err);
        inv_close_handle(inv, (uv_handle_t *) &inv->timer);
        if (inv->in_open)
                inv_close_handle(inv, (uv_handle_t *) &inv->in);
}

void invoke_kill_all(struct sfaasd *sf)
{
        for (struct invocation *inv = sf->invocations; inv; inv = inv->next)
                inv_kill(inv);
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

void invoke_make_call_id(char out[40])
{
        /* One getrandom() per 64 ids: every proxied call makes one. */
        static __thread unsigned char pool[1024];
        static __thread size_t left;
        unsigned char b[16];
        char hex[33];
        if (left < sizeof b) {
                if (random_bytes(pool, sizeof pool) < 0)
                        memset(pool, 0, sizeof pool);
                left = sizeof pool;
        }
        memcpy(b, pool + sizeof pool - left, sizeof b);
        explicit_bzero(pool + sizeof pool - left, sizeof b);
        left -= sizeof b;
        b[6] = (unsigned char) ((b[6] & 0x0f) | 0x40);
        b[8] = (unsigned char) ((b[8] & 0x3f) | 0x80);
        hex_encode(b, sizeof b, hex);
        (void) xsnprintf(out, 40, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16, hex + 20);
}

bool invoke_valid_call_id(const char *s)
{
        size_t n = strlen(s);
        if (n == 0 || n >= 40)
                return false;
        for (; *s; s++)
                if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '-'))
                        return false;
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

/* An answer given before the sandbox ran (every one is a 500 unless said). */
#define FAIL(status, ...) fail_early(done, data, call->call_id, status, __VA_ARGS__)

void invoke_run(struct sfaasd *sf, const char *name, const char *ns, const struct invoke_call *call,
                invoke_done_fn done, void *data)
{
        struct pool *pool;
        struct fn_recipe *rc;
        struct svec env = { 0 };
        struct sandbox_spec sp = { 0 };
        struct sf_err err = { 0 };
        struct secret_files secrets; /* the function's secrets (core/secret_files.h) */
        struct invocation *inv = NULL;
        int in[2] = { -1, -1 }, out[2] = { -1, -1 }, errp[2] = { -1, -1 };
        char hdrname[256], group[API_FUNCTION_GROUP_MAX];
        const char *ctype, *callid;
        int r, status;
        /* metrics: an answer given here, before the sandbox ran, is counted
         * at `out` with fail_status (every early answer below is a 500
         * except where fail_status is set); handed_off when inv answers. */
        uint64_t t0 = now_ns();
        int fail_status = 500;
        bool handed_off = false, started = false;

        secret_files_init(&secrets);
        if (sf->stopping) {
                FAIL(503, "sfaasd is shutting down");
                return;
        }
        /* The function as its pool keeps it (read once, reread on every
         * deploy): store, image config, command, environment, limits, user. */
        pool = pool_get(sf, ns, name, &status, &err);
        if (!pool) {
                if (status != 404)
                        metrics_invocation_started(&sf->metrics, name, ns);
                started = status != 404;
                FAIL(status, "%s", err.msg);
                goto out;
        }
        rc = pool->recipe;
        metrics_invocation_started(&sf->metrics, name, ns);
        started = true;
        if (rc->has_fprocess && rc->exec_argv.n == 0) {
                FAIL(500, "function '%s.%s': envProcess is empty", name, ns);
                goto out;
        }
        if (rc->exec_argv.n == 0) {
                FAIL(500, "function '%s.%s' has no command: set envProcess or an image Entrypoint/Cmd", name, ns);
                goto out;
        }

        inv = calloc(1, sizeof *inv);
        if (!inv) {
                FAIL(500, "out of memory");
                goto out;
        }
        inv->sf = sf;
        inv->start_ns = t0;
        (void) xsnprintf(inv->name, sizeof inv->name, "%s", name);
        (void) xsnprintf(inv->ns, sizeof inv->ns, "%s", ns);
        callid = call_header(call, "X-Call-Id");
        if (call->call_id && invoke_valid_call_id(call->call_id))
                (void) xsnprintf(inv->call_id, sizeof inv->call_id, "%s", call->call_id);
        else if (callid && invoke_valid_call_id(callid))
                (void) xsnprintf(inv->call_id, sizeof inv->call_id, "%s", callid);
        else
                invoke_make_call_id(inv->call_id);
        ctype = call_header(call, "Content-Type");
        inv->content_type = strdup(ctype && *ctype && !strpbrk(ctype, "\r\n") ? ctype : "text/plain");
        inv->obuf.cap = sf->cfg.max_output_bytes;
        inv->ebuf.cap = sf->cfg.max_stderr_bytes;

        /* env: the function's (PATH, image Env, envVars, fprocess), then the request. */
        for (size_t i = 0; i < rc->env.n; i++)
                if (svec_push(&env, strdup(rc->env.v[i])) < 0)
                        goto oom;
        for (size_t i = 0; i < call->n_headers; i++) {
                char key[300];
                if (strcasecmp(call->headers[i].name, "Authorization") == 0)
                        continue; /* credentials are not the function's business */
                if (!header_env_name(call->headers[i].name, hdrname, sizeof hdrname))
                        continue;
                (void) xsnprintf(key, sizeof key, "Http_%s", hdrname);
                /* First value only, as the watchdog does. */
                {
                        bool seen = false;
                        for (size_t j = 0; j < i; j++)
                                if (strcasecmp(call->headers[j].name, call->headers[i].name) == 0)
                                        seen = true;
                        if (seen)
                                continue;
                }
                if (svec_setenv(&env, key, call->headers[i].value) < 0)
                        goto oom;
        }
        if (!callid || strcmp(callid, inv->call_id) != 0)
                if (svec_setenv(&env, "Http_X_Call_Id", inv->call_id) < 0)
                        goto oom;
        /* The request line last, so that headers named Method, Path or Query
         * cannot pose as it (the classic watchdog's order). */
        if (svec_setenv(&env, "Http_Method", call->method) < 0 || svec_setenv(&env, "Http_Path", call->path) < 0)
                goto oom;
        if (call->query[0] ? svec_setenv(&env, "Http_Query", call->query) < 0 : env_unset(&env, "Http_Query") < 0)
                goto oom;
        {
                char num[32];
                (void) xsnprintf(num, sizeof num, "%zu", call->body_len);
                if (svec_setenv(&env, "Http_ContentLength", num) < 0)
                        goto oom;
        }

        sp.limits = rc->limits;
        sp.limits.timeout_ms = rc->exec_timeout_ms;
        inv->timeout_ms = sp.limits.timeout_ms;
        sp.uid_base = rc->uid_base;
        sp.uid = rc->uid;
        sp.gid = rc->gid;
        sp.rootfs = rc->rootfs;
        sp.argv = rc->exec_argv.v;
        sp.envp = env.v;
        sp.workdir = rc->workdir;
        sp.hostname = name;
        /* Every sandbox of the function in its cgroup NS/NAME, where the
         * kernel sums its usage (GET /system/function/NAME?usage=1). */
        sp.group = api_function_group(ns, name, group, sizeof group);
        sp.net = SANDBOX_NET_NONE;
        /* ---- secrets: read-only files at /var/openfaas/secrets/NAME, decrypted
         * into a private tmpfs that only this spawn and its sandbox reach ---- */
        r = secret_files_prepare(sf, ns, json_object_get(rc->spec, "secrets"), &secrets, &err);
        if (r < 0) {
                log_error("function '%s.%s': %s", name, ns, err.msg);
                FAIL(500, "function '%s.%s': %s", name, ns, err.msg);
                goto out;
        }
        sp.binds = secrets.binds;
        sp.n_binds = secrets.n;
        /* ---- end of secrets ---- */

        if (pipe_pair(in) < 0 || pipe_pair(out) < 0 || pipe_pair(errp) < 0) {
                fail_status = 503;
                FAIL(503, "cannot create pipes: %s", strerror(errno));
                goto out;
        }
        sp.stdio[0] = in[0];
        sp.stdio[1] = out[1];
        sp.stdio[2] = errp[1];
        {
                uint64_t spawn_t0 = now_ns();
                r = sandbox_spawn(sf->launcher, &sp, &inv->sb, &err);
                metrics_sandbox_start(&sf->metrics, r >= 0, (double) (now_ns() - spawn_t0) / 1e9);
        }
        secret_files_release(&secrets); /* the sandbox holds its own mounts of them */
        (void) close(in[0]);
        (void) close(out[1]);
        (void) close(errp[1]);
        in[0] = out[1] = errp[1] = -1;
        if (r < 0) {
                log_error("function '%s.%s': sandbox start failed: %s", name, ns, err.msg);
                FAIL(500, "cannot start sandbox for '%s.%s': %s", name, ns, err.msg);
                goto out;
        }

        /* From here on the invocation owns everything and delivers the result. */
        inv->done = done;
        inv->done_data = data;
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
        }
        (void) uv_pipe_open(&inv->in, in[1]);
        (void) uv_pipe_open(&inv->out, out[0]);
        (void) uv_pipe_open(&inv->err, errp[0]);
        in[1] = out[0] = errp[0] = -1;
        inv->in_open = true;
        inv->next = sf->invocations;
        if (sf->invocations)
                sf->invocations->prev = inv;
        sf->invocations = inv;
        sf->n_invocations++;
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
        inv = NULL;
        handed_off = true;
        goto out;

oom:
        FAIL(500, "out of memory");
out:
        if (started && !handed_off)
                metrics_invocation_finished(&sf->metrics, name, ns, fail_status, (double) (now_ns() - t0) / 1e9);
        for (int i = 0; i < 2; i++) {
                if (in[i] >= 0)
                        (void) close(in[i]);
                if (out[i] >= 0)
                        (void) close(out[i]);
                if (errp[i] >= 0)
                        (void) close(errp[i]);
        }
        if (inv) {
                free(inv->content_type);
                free(inv);
        }
        secret_files_release(&secrets);
        svec_free(&env);
}

/* ---- the synchronous HTTP path ---- */

static void sync_done(const struct invoke_result *res, void *data)
{
        struct http_request *req = data;

        http_respond(req, res->status, res->content_type, res->extra_headers, res->body, res->body_len);
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

        /* Held until sync_done answers (maybe at once, for an early failure). */
        http_request_hold(req);
        invoke_run(sf, name, ns, &call, sync_done, req);
}
