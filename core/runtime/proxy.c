/* SPDX-License-Identifier: MIT */
/*
 * The proxy from /function/NAME[.NS][/path] to a warm instance (see
 * core/runtime/pool.h). Bodies stream both ways: the client's body goes to the
 * instance as it arrives (re-framed: Content-Length kept, chunked
 * re-chunked), the instance's answer goes to the client as it arrives,
 * each upstream read becoming one client write. Back-pressure both ways:
 * a side whose queue of unsent bytes passes HTTP_DRAIN_BYTES stops the
 * other side's reads until it drains.
 *
 * Headers: X-Call-Id (the caller's when valid, else a new UUID) and
 * X-Start-Time (Unix ns) go to the function and come back; X-Forwarded-For
 * and X-Forwarded-Host are added when absent; hop-by-hop headers (and
 * those named in Connection) are not forwarded either way; the answer gets
 * X-Duration-Seconds (time to the instance's response head). The function
 * sees the path without the /function/NAME prefix.
 *
 * Errors: no instance could start 503, the instance failed or answered
 * badly 502, the call's timeout 504 (the instance stays in the pool; only
 * the connection of the call is closed), a full wait queue 429; each with
 * a JSON {"error"} body. Once the answer has begun, a failure cuts the
 * stream (the client sees a truncated body and a closed connection).
 *
 * Ownership: struct pcall is created in the head callback, holds the
 * request until it is answered or the client goes (on_client_abort then
 * releases it), and is freed in its timer's close callback.
 */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/base/buf.h"
#include "core/base/log.h"
#include "core/base/util.h"
#include "core/model/callid.h"
#include "core/runtime/logs.h"
#include "core/runtime/metrics.h"
#include "core/runtime/pool_internal.h"

static llhttp_settings_t resp_settings;
static bool resp_settings_ready;

/* ---- small buffers ---- */

static int buf_u64(struct buf *b, uint64_t v)
{
        char tmp[24], *p = tmp + sizeof tmp;
        do {
                *--p = (char) ('0' + v % 10);
                v /= 10;
        } while (v);
        return buf_append(b, p, (size_t) (tmp + sizeof tmp - p));
}

/* "Name: value\r\n" */
static int buf_header(struct buf *b, const char *name, const char *value)
{
        int r = buf_appends(b, name);
        r |= buf_append(b, ": ", 2);
        r |= buf_appends(b, value);
        r |= buf_append(b, "\r\n", 2);
        return r;
}

/* Seconds with six decimals, from nanoseconds (X-Duration-Seconds). */
static int buf_seconds(struct buf *b, uint64_t ns)
{
        uint64_t us = ns / 1000;
        char frac[7];
        uint64_t f = us % 1000000;
        int r = buf_u64(b, us / 1000000);
        for (int i = 5; i >= 0; i--) {
                frac[i] = (char) ('0' + f % 10);
                f /= 10;
        }
        frac[6] = '.';
        r |= buf_append(b, &frac[6], 1);
        r |= buf_append(b, frac, 6);
        return r;
}

/* ---- header rules ---- */

static bool hop_by_hop(const char *name)
{
        static const char *const hop[] = { "Connection", "Keep-Alive",          "Proxy-Authenticate",
                                           "Proxy-Authorization", "Proxy-Connection", "TE",
                                           "Trailer",    "Trailers",            "Transfer-Encoding",
                                           "Upgrade" };
        for (size_t i = 0; i < sizeof hop / sizeof *hop; i++)
                if (strcasecmp(name, hop[i]) == 0)
                        return true;
        return false;
}

/* Is name one of the comma-separated tokens of a Connection header? */
static bool token_listed(const char *list, const char *name)
{
        size_t nl = strlen(name);
        const char *p = list;
        while (p && *p) {
                const char *e;
                while (*p == ' ' || *p == '\t' || *p == ',')
                        p++;
                e = p;
                while (*e && *e != ',')
                        e++;
                {
                        const char *t = e;
                        while (t > p && (t[-1] == ' ' || t[-1] == '\t'))
                                t--;
                        if ((size_t) (t - p) == nl && strncasecmp(p, name, nl) == 0)
                                return true;
                }
                p = e;
        }
        return false;
}

static bool has_token(const char *v, const char *tok)
{
        return v && token_listed(v, tok);
}

/* ---- the end of a call ---- */

/* Finish the call's bookkeeping (the client has its answer or is gone). */
static void pcall_end(struct pcall *pc, int code, bool conn_ok)
{
        struct pool *p = pc->pool;
        struct instance *inst = pc->inst;
        struct upconn *uc = pc->uc;

        if (pc->ended)
                return;
        pc->ended = true;
        pool_dequeue(p, pc);
        if (pc->req) {
                /* Never leave a held request behind. */
                struct http_request *req = pc->req;
                pc->req = NULL;
                req->data = NULL;
                req->on_body = NULL;
                req->on_body_end = NULL;
                req->on_abort = NULL;
                req->on_drain = NULL;
                if (req->raw) {
                        req->raw_close = true;
                        (void) http_raw_write(req, NULL, 0, true);
                } else {
                        http_respond_error(req, 500, "call ended without an answer");
                }
        }
        pc->uc = NULL;
        pc->inst = NULL;
        if (uc && uc->call == pc) {
                uc->call = NULL;
                if (conn_ok)
                        upconn_release(uc);
                else
                        upconn_close(uc);
        }
        metrics_invocation_finished(p->sf->metrics, p->name, p->ns, code,
                                    (double) (now_ns() - pc->start_ns) / 1e9);
        pool_call_done(p, inst);
        {
                struct sfaasd *sf = p->sf;
                pools_pcall_put(sf, pc);
                pools_call_unref(sf, p);
        }
}

static void detach_request(struct pcall *pc)
{
        struct http_request *req = pc->req;
        if (!req)
                return;
        req->data = NULL;
        req->on_body = NULL;
        req->on_body_end = NULL;
        req->on_abort = NULL;
        req->on_drain = NULL;
}

void pcall_fail(struct pcall *pc, int status, const char *fmt, ...)
{
        struct pool *p = pc->pool;
        char msg[512];
        va_list ap;

        if (pc->ended)
                return;
        va_start(ap, fmt);
        (void) vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        /* Logged before the answer: when it arrives, the line is there. */
        if (status != 404)
                logs_daemon(p->sf->logs, p->ns, p->name, "call %s failed: %s", pc->call_id, msg);
        if (pc->req) {
                struct http_request *req = pc->req;
                detach_request(pc);
                pc->req = NULL;
                if (!pc->resp_begun) {
                        char hdr[160];
                        (void) xsnprintf(hdr, sizeof hdr, "X-Call-Id: %s\r\nX-OpenFaaS-Internal: sfaasd\r\n",
                                         pc->call_id);
                        http_respond_error_with(req, status, hdr, "%s", msg);
                } else {
                        /* The head is out: cut the stream, the client sees it unfinished. */
                        req->raw_close = true;
                        (void) http_raw_write(req, NULL, 0, true);
                }
        }
        pcall_end(pc, pc->resp_begun ? pc->status : status, false);
}

/* ---- the client's side ---- */

static void send_to_instance(struct pcall *pc);

static void on_client_body(struct http_request *req, const char *data, size_t len)
{
        struct pcall *pc = req->data;
        char pre[32];
        int n = 0;
        if (!pc || pc->ended || len == 0)
                return;
        if (pc->body_chunked)
                n = snprintf(pre, sizeof pre, "%zx\r\n", len);
        if (pc->head_sent && pc->uc) {
                if (upconn_write(pc->uc, pre, (size_t) n, data, len, pc->body_chunked ? "\r\n" : NULL,
                                 pc->body_chunked ? 2 : 0) < 0) {
                        pcall_fail(pc, 502, "cannot send the request body to the function");
                        return;
                }
                if (uv_stream_get_write_queue_size((uv_stream_t *) &pc->uc->tcp) >= HTTP_DRAIN_BYTES) {
                        pc->body_paused = true;
                        http_request_pause_body(req);
                }
                return;
        }
        if (buf_append(&pc->pend, pre, (size_t) n) < 0 ||
            buf_append(&pc->pend, data, len) < 0 ||
            (pc->body_chunked && buf_append(&pc->pend, "\r\n", 2) < 0)) {
                pcall_fail(pc, 500, "out of memory");
                return;
        }
        /* Waiting for an instance: hold at most about one drain's worth. */
        if (pc->pend.len >= HTTP_DRAIN_BYTES && !pc->body_paused) {
                pc->body_paused = true;
                http_request_pause_body(req);
        }
}

static void on_client_body_end(struct http_request *req)
{
        struct pcall *pc = req->data;
        if (!pc || pc->ended)
                return;
        pc->body_done = true;
        if (pc->head_sent && pc->uc) {
                if (pc->body_chunked && upconn_write(pc->uc, "0\r\n\r\n", 5, NULL, 0, NULL, 0) < 0) {
                        pcall_fail(pc, 502, "cannot send the request body to the function");
                        return;
                }
                pc->body_sent = true;
        } else if (pc->body_chunked && buf_append(&pc->pend, "0\r\n\r\n", 5) < 0) {
                pcall_fail(pc, 500, "out of memory");
        }
}

/* The client went away (closed, a bad chunk, a body that stopped coming):
 * http.c has let go of the request and hands it to us to finish. Nothing
 * can be answered, so it is released here; dropping the pointer alone
 * leaked the request with its URL and headers on every such call. */
static void on_client_abort(struct http_request *req)
{
        struct pcall *pc = req->data;
        if (!pc) {
                http_request_release(req);
                return;
        }
        detach_request(pc);
        pc->req = NULL;
        /* The instance may still be writing: its connection is not reused. */
        pcall_end(pc, pc->resp_begun ? pc->status : 499, false);
        http_request_release(req);
}

static void on_client_drain(struct http_request *req)
{
        struct pcall *pc = req->data;
        if (pc && pc->up_paused && pc->uc) {
                pc->up_paused = false;
                upconn_pause(pc->uc, false);
        }
}

void proxy_upstream_drained(struct pcall *pc)
{
        if (pc->body_paused && pc->req && pc->head_sent) {
                pc->body_paused = false;
                http_request_resume_body(pc->req);
        }
}

static void on_call_timeout(uv_timer_t *t)
{
        struct pcall *pc = t->data;
        struct pool *p = pc->pool;
        pc->timed_out = true;
        pcall_fail(pc, 504, "function '%s.%s' did not answer within %llu ms", p->name, p->ns,
                   (unsigned long long) p->timeout_ms);
}

/* ---- the instance's side ---- */

static bool retry_fresh(struct pcall *pc);

static void send_to_instance(struct pcall *pc)
{
        if (upconn_write(pc->uc, pc->head.p, pc->head.len, pc->pend.p, pc->pend.len, NULL, 0) < 0) {
                /* A kept-alive connection the instance has just closed. */
                if (!retry_fresh(pc))
                        pcall_fail(pc, 502, "cannot send the request to the function");
                return;
        }
        pc->head_sent = true;
        pc->pend.len = 0;
        if (pc->body_done)
                pc->body_sent = true;
        if (pc->body_paused && pc->req &&
            uv_stream_get_write_queue_size((uv_stream_t *) &pc->uc->tcp) < HTTP_DRAIN_BYTES) {
                pc->body_paused = false;
                http_request_resume_body(pc->req);
        }
}

static void parser_reset(struct pcall *pc)
{
        llhttp_init(&pc->uc->parser, HTTP_RESPONSE, &resp_settings);
        pc->uc->parser.data = pc->uc;
        /* Servers in function images are not all strict (busybox httpd's CGI
         * ends header lines with a bare LF), as nginx and Go accept. Values
         * are re-checked before they are forwarded (no CR/LF/NUL). */
        llhttp_set_lenient_headers(&pc->uc->parser, 1);
}

void pcall_attach(struct pcall *pc, struct instance *inst)
{
        struct upconn *uc;

        pc->inst = inst;
        inst->inflight++;
        inst->last_used_ns = now_ns();
        uc = inst->idle;
        if (uc) {
                inst->idle = uc->next;
                uc->next = NULL;
                uc->idle = false;
                inst->n_idle--;
                uc->call = pc;
                uc->reusable = false;
                pc->uc = uc;
                pc->reused = true;
                parser_reset(pc);
                send_to_instance(pc);
                return;
        }
        uc = upconn_open(inst);
        if (!uc) {
                pcall_fail(pc, 502, "cannot connect to instance %s: %s", inst->id, strerror(errno));
                return;
        }
        uc->call = pc;
        pc->uc = uc;
        pc->reused = false;
}

void proxy_upstream_connected(struct pcall *pc, int status)
{
        if (status < 0) {
                pcall_fail(pc, 502, "cannot connect to instance %s: %s", pc->inst ? pc->inst->id : "?",
                           uv_strerror(status));
                return;
        }
        parser_reset(pc);
        send_to_instance(pc);
}

static struct pcall *call_of(llhttp_t *parser)
{
        struct upconn *uc = parser->data;
        return uc->call;
}

static int on_resp_status(llhttp_t *parser, const char *at, size_t n)
{
        struct pcall *pc = call_of(parser);
        size_t have = strlen(pc->reason);
        if (have + n >= sizeof pc->reason)
                n = sizeof pc->reason - 1 - have;
        memcpy(pc->reason + have, at, n);
        pc->reason[have + n] = '\0';
        return 0;
}

/* Names and values go into one buffer, each NUL-terminated when the next
 * part starts (llhttp may hand a name or a value over in pieces). */
static int rh_append(struct pcall *pc, const char *at, size_t n)
{
        if (pc->rhbuf.len + n > 64 * 1024)
                return -1; /* a function answering with this much head is broken */
        return buf_append(&pc->rhbuf, at, n) < 0 ? -1 : 0;
}

static int on_resp_field(llhttp_t *parser, const char *at, size_t n)
{
        struct pcall *pc = call_of(parser);
        if (pc->rh_state != 1) {
                if (pc->rh_state == 2 && rh_append(pc, "", 1) < 0) /* ends the value before */
                        return -1;
                if (pc->n_rh >= 200)
                        return -1;
                if (pc->n_rh == pc->rh_cap) {
                        size_t nc = pc->rh_cap ? pc->rh_cap * 2 : 16;
                        struct rh_ent *ne = realloc(pc->rh, nc * sizeof *ne);
                        if (!ne)
                                return -1;
                        pc->rh = ne;
                        pc->rh_cap = nc;
                }
                pc->rh[pc->n_rh].name = (uint32_t) pc->rhbuf.len;
                pc->rh[pc->n_rh].value = UINT32_MAX;
                pc->n_rh++;
                pc->rh_state = 1;
        }
        return rh_append(pc, at, n);
}

static int on_resp_value(llhttp_t *parser, const char *at, size_t n)
{
        struct pcall *pc = call_of(parser);
        if (pc->n_rh == 0)
                return -1;
        if (pc->rh_state != 2) {
                if (rh_append(pc, "", 1) < 0) /* ends the name */
                        return -1;
                pc->rh[pc->n_rh - 1].value = (uint32_t) pc->rhbuf.len;
                pc->rh_state = 2;
        }
        return rh_append(pc, at, n);
}

static void clear_resp_headers(struct pcall *pc)
{
        pc->n_rh = 0;
        pc->rhbuf.len = 0;
        pc->rh_state = 0;
        pc->reason[0] = '\0';
}

static int on_resp_headers_complete(llhttp_t *parser)
{
        struct pcall *pc = call_of(parser);
        struct http_request *req = pc->req;
        int status = parser->status_code;
        bool nobody, fixed, keep;
        const char *ctype = NULL, *conn = NULL;
        bool have_date = false;
        struct buf *o = &pc->out;
        int r = 0;

        if (status < 200) {
                /* 1xx: not forwarded (100-continue was answered by sfaasd itself). */
                pc->interim = true;
                return 0;
        }
        if (!req)
                return -1;
        /* End the last part; names and values are C strings from here on. */
        if (pc->rh_state != 0 && rh_append(pc, "", 1) < 0)
                return -1;
        if (pc->rh_state == 1 && rh_append(pc, "", 1) < 0) /* a name without a value */
                return -1;
        for (size_t i = 0; i < pc->n_rh; i++) {
                if (pc->rh[i].value == UINT32_MAX)
                        pc->rh[i].value = pc->rh[i].name + (uint32_t) strlen(pc->rhbuf.p + pc->rh[i].name) + 1;
                if (strcasecmp(pc->rhbuf.p + pc->rh[i].name, "Connection") == 0)
                        conn = pc->rhbuf.p + pc->rh[i].value;
        }
        pc->status = status;
        nobody = pc->head_req || status == 204 || status == 304;
        fixed = (parser->flags & F_CONTENT_LENGTH) && !(parser->flags & F_CHUNKED);
        pc->resp_chunked = !nobody && !fixed && !req->http10;
        pc->resp_close = !nobody && !fixed && req->http10;
        keep = http_request_keep_alive(req) && !pc->resp_close;

        r |= buf_append(o, "HTTP/1.1 ", 9);
        r |= buf_u64(o, (uint64_t) status);
        r |= buf_append(o, " ", 1);
        r |= buf_appends(o, pc->reason[0] ? pc->reason : http_status_text(status));
        r |= buf_append(o, "\r\n", 2);
        for (size_t i = 0; i < pc->n_rh; i++) {
                const char *n = pc->rhbuf.p + pc->rh[i].name, *v = pc->rhbuf.p + pc->rh[i].value;
                if (!*n || hop_by_hop(n) || (conn && token_listed(conn, n)))
                        continue;
                if (strpbrk(n, "\r\n: \t") || strpbrk(v, "\r\n"))
                        continue; /* never let a function split our header block */
                switch (n[0] | 0x20) {
                case 'c':
                        if (strcasecmp(n, "Content-Length") == 0) {
                                if (!nobody)
                                        continue; /* framing is ours; HEAD keeps the size it describes */
                        } else if (strcasecmp(n, "Content-Type") == 0) {
                                ctype = v;
                        }
                        break;
                case 'x':
                        if (strcasecmp(n, "X-Call-Id") == 0 || strcasecmp(n, "X-Start-Time") == 0 ||
                            strcasecmp(n, "X-Duration-Seconds") == 0)
                                continue;
                        break;
                case 'd':
                        if (strcasecmp(n, "Date") == 0)
                                have_date = true;
                        break;
                default:
                        break;
                }
                r |= buf_header(o, n, v);
        }
        if (!have_date)
                r |= buf_header(o, "Date", http_date());
        if (!ctype && !nobody) {
                const char *rc = http_request_header(req, "Content-Type");
                r |= buf_header(o, "Content-Type", rc && *rc && !strpbrk(rc, "\r\n") ? rc : "text/plain");
        }
        if (fixed && !nobody) {
                r |= buf_append(o, "Content-Length: ", 16);
                r |= buf_u64(o, parser->content_length);
                r |= buf_append(o, "\r\n", 2);
        }
        if (pc->resp_chunked)
                r |= buf_append(o, "Transfer-Encoding: chunked\r\n", 28);
        if (!keep)
                r |= buf_append(o, "Connection: close\r\n", 19);
        r |= buf_header(o, "X-Call-Id", pc->call_id);
        r |= buf_append(o, "X-Start-Time: ", 14);
        r |= buf_u64(o, pc->start_unix_ns);
        r |= buf_append(o, "\r\nX-Duration-Seconds: ", 22);
        r |= buf_seconds(o, now_ns() - pc->start_ns);
        r |= buf_append(o, "\r\n\r\n", 4);
        if (r < 0)
                return -1;
        if (http_raw_begin(req, status, keep) < 0)
                return -1;
        pc->resp_begun = true;
        return nobody ? 1 : 0;
}

static int on_resp_body(llhttp_t *parser, const char *at, size_t n)
{
        struct pcall *pc = call_of(parser);
        if (pc->resp_chunked) {
                char hex[24];
                int hl = snprintf(hex, sizeof hex, "%zx\r\n", n);
                if (buf_append(&pc->out, hex, (size_t) hl) < 0 ||
                    buf_append(&pc->out, at, n) < 0 ||
                    buf_append(&pc->out, "\r\n", 2) < 0)
                        return -1;
                return 0;
        }
        return buf_append(&pc->out, at, n) < 0 ? -1 : 0;
}

static int on_resp_complete(llhttp_t *parser)
{
        struct pcall *pc = call_of(parser);
        if (pc->interim) {
                pc->interim = false;
                clear_resp_headers(pc);
                return 0;
        }
        if (pc->resp_chunked && buf_append(&pc->out, "0\r\n\r\n", 5) < 0)
                return -1;
        pc->resp_done = true;
        pc->up_keep_alive = llhttp_should_keep_alive(parser);
        return HPE_PAUSED;
}

/* Hand what one read produced to the client: one write. */
static void flush_to_client(struct pcall *pc)
{
        struct http_request *req = pc->req;
        if (!req || (!pc->out.len && !pc->resp_done) || !pc->resp_begun)
                return;
        if (pc->resp_done) {
                detach_request(pc);
                pc->req = NULL;
                (void) http_raw_write(req, pc->out.p, pc->out.len, true);
        } else {
                (void) http_raw_write(req, pc->out.p, pc->out.len, false);
        }
        pc->out.len = 0;
}

/* A kept-alive connection the instance had closed: one more try on a new
 * one, for calls without a body (nothing of theirs is lost). */
static bool retry_fresh(struct pcall *pc)
{
        struct instance *inst = pc->inst;
        struct upconn *uc = pc->uc;
        if (pc->retried || !pc->reused || pc->resp_begun || pc->had_body || !inst ||
            inst->gone || inst->state != INST_READY)
                return false;
        pc->retried = true;
        uc->call = NULL;
        upconn_close(uc);
        pc->uc = NULL;
        pc->head_sent = pc->body_sent = false;
        inst->inflight--;
        pcall_attach(pc, inst);
        return true;
}

void proxy_upstream_read(struct pcall *pc, ssize_t n, const char *data)
{
        struct upconn *uc = pc->uc;
        llhttp_errno_t e;

        if (n == 0 || !uc)
                return;
        if (n < 0) {
                if (pc->resp_begun && !pc->resp_done && n == UV_EOF) {
                        /* A body delimited by the close. */
                        e = llhttp_finish(&uc->parser);
                        if ((e == HPE_OK || e == HPE_PAUSED) && pc->resp_done) {
                                flush_to_client(pc);
                                pcall_end(pc, pc->status, false);
                                return;
                        }
                }
                if (!pc->resp_begun && retry_fresh(pc))
                        return;
                if (pc->inst) {
                        /* Often before its exit is reaped: a stop of ours
                         * (a shutdown, a grace period over) is named here. */
                        char why[200];
                        int status = pool_instance_words(pc->inst, NULL, why, sizeof why);
                        pcall_fail(pc, status, "function '%s.%s': %s", pc->pool->name, pc->pool->ns, why);
                } else
                        pcall_fail(pc, 502, "an instance closed the connection before the answer was complete");
                return;
        }
        e = llhttp_execute(&uc->parser, data, (size_t) n);
        if (pc->ended)
                return;
        if (e != HPE_OK && e != HPE_PAUSED) {
                pcall_fail(pc, 502, "invalid HTTP answer from the function: %s",
                           llhttp_get_error_reason(&uc->parser) ? llhttp_get_error_reason(&uc->parser)
                                                                : llhttp_errno_name(e));
                return;
        }
        if (e == HPE_PAUSED) {
                const char *stop = llhttp_get_error_pos(&uc->parser);
                if (stop && stop < data + n)
                        pc->up_keep_alive = false; /* bytes after the answer: not a clean connection */
        }
        flush_to_client(pc);
        if (pc->resp_done) {
                uc->reusable = pc->up_keep_alive && pc->body_sent && !pc->timed_out;
                pcall_end(pc, pc->status, uc->reusable);
                return;
        }
        if (pc->req && http_stream_pending(pc->req) >= HTTP_DRAIN_BYTES && !pc->up_paused) {
                pc->up_paused = true;
                upconn_pause(uc, true);
        }
}

/* ---- the head callback's entry ---- */

/* The request target for the function: the raw URL minus /function/NAME. */
static const char *function_target(const char *url)
{
        const char *p = url;
        if (strncmp(p, "/function/", 10) == 0)
                p += 10;
        while (*p && *p != '/' && *p != '?')
                p++;
        return p;
}

static int build_head(struct pcall *pc, struct http_request *req)
{
        struct pool *p = pc->pool;
        const char *target = function_target(req->url);
        const char *te = NULL, *cl = NULL, *host = NULL, *conn = NULL;
        bool have_xff = false, have_xfh = false;
        struct buf *o = &pc->head;
        char ip[64];
        int r = 0;

        (void) xsnprintf(ip, sizeof ip, "%s", req->remote);
        {
                /* "1.2.3.4:5678" or "[::1]:5678" -> the address alone */
                char *colon = strrchr(ip, ':');
                if (colon)
                        *colon = '\0';
                if (ip[0] == '[') {
                        size_t l = strlen(ip);
                        memmove(ip, ip + 1, l);
                        if (l >= 2 && ip[l - 2] == ']')
                                ip[l - 2] = '\0';
                }
        }
        /* One pass for the headers that decide something. */
        for (size_t i = 0; i < req->n_headers; i++) {
                const char *n = req->headers[i].name, *v = req->headers[i].value;
                if (!n)
                        continue;
                if (!te && strcasecmp(n, "Transfer-Encoding") == 0)
                        te = v;
                else if (!cl && strcasecmp(n, "Content-Length") == 0)
                        cl = v;
                else if (!host && strcasecmp(n, "Host") == 0)
                        host = v;
                else if (!conn && strcasecmp(n, "Connection") == 0)
                        conn = v;
                else if (strcasecmp(n, "X-Forwarded-For") == 0)
                        have_xff = true;
                else if (strcasecmp(n, "X-Forwarded-Host") == 0)
                        have_xfh = true;
        }
        pc->body_chunked = has_token(te, "chunked");
        pc->had_body = pc->body_chunked || (cl && strcmp(cl, "0") != 0);
        r |= buf_appends(o, req->method);
        r |= buf_append(o, *target == '/' ? " " : " /", *target == '/' ? 1 : 2);
        r |= buf_appends(o, target);
        r |= buf_append(o, " HTTP/1.1\r\nHost: 127.0.0.1:", 27);
        r |= buf_u64(o, p->port);
        r |= buf_append(o, "\r\n", 2);
        for (size_t i = 0; i < req->n_headers; i++) {
                const char *n = req->headers[i].name, *v = req->headers[i].value;
                if (!n || hop_by_hop(n) || (conn && token_listed(conn, n)))
                        continue;
                if (strcasecmp(n, "Host") == 0 || strcasecmp(n, "Expect") == 0 ||
                    strcasecmp(n, "Content-Length") == 0 || strcasecmp(n, "X-Call-Id") == 0 ||
                    strcasecmp(n, "X-Start-Time") == 0)
                        continue;
                r |= buf_header(o, n, v ? v : "");
        }
        if (pc->body_chunked)
                r |= buf_append(o, "Transfer-Encoding: chunked\r\n", 28);
        else if (cl)
                r |= buf_header(o, "Content-Length", cl);
        if (!have_xff && ip[0])
                r |= buf_header(o, "X-Forwarded-For", ip);
        if (!have_xfh && host && *host)
                r |= buf_header(o, "X-Forwarded-Host", host);
        r |= buf_header(o, "X-Call-Id", pc->call_id);
        r |= buf_append(o, "X-Start-Time: ", 14);
        r |= buf_u64(o, pc->start_unix_ns);
        r |= buf_append(o, "\r\n\r\n", 4);
        return r < 0 ? -ENOMEM : 0;
}

int proxy_start(struct sfaasd *sf, struct http_request *req, struct pool *p)
{
        struct pcall *pc;
        const char *cid;

        if (sf->stopping) {
                http_respond_error(req, 503, "sfaasd is shutting down");
                return HTTP_HEAD_ANSWERED;
        }
        if (!resp_settings_ready) {
                llhttp_settings_init(&resp_settings);
                resp_settings.on_status = on_resp_status;
                resp_settings.on_header_field = on_resp_field;
                resp_settings.on_header_value = on_resp_value;
                resp_settings.on_headers_complete = on_resp_headers_complete;
                resp_settings.on_body = on_resp_body;
                resp_settings.on_message_complete = on_resp_complete;
                resp_settings_ready = true;
        }
        pc = pools_pcall_get(sf);
        if (!pc) {
                http_respond_error(req, 500, "out of memory");
                return HTTP_HEAD_ANSWERED;
        }
        pc->pool = p;
        pools_call_ref(sf, p);
        pc->req = req;
        pc->start_ns = now_ns();
        {
                struct timespec ts;
                (void) clock_gettime(CLOCK_REALTIME, &ts);
                pc->start_unix_ns = (uint64_t) ts.tv_sec * 1000000000ULL + (uint64_t) ts.tv_nsec;
        }
        cid = http_request_header(req, "X-Call-Id");
        if (cid && call_id_valid(cid))
                (void) xsnprintf(pc->call_id, sizeof pc->call_id, "%s", cid);
        else
                call_id_make(pc->call_id);
        pc->head_req = strcmp(req->method, "HEAD") == 0;
        metrics_invocation_started(sf->metrics, p->name, p->ns);
        if (build_head(pc, req) < 0) {
                pcall_fail(pc, 500, "out of memory");
                return HTTP_HEAD_ANSWERED;
        }
        req->data = pc;
        req->on_body = on_client_body;
        req->on_body_end = on_client_body_end;
        req->on_abort = on_client_abort;
        req->on_drain = on_client_drain;
        /* Set now: an answer given before the body is read must not leave
         * the connection expecting it. */
        req->body_streamed = true;
        http_request_hold(req);
        if (p->timeout_ms) {
                uv_update_time(&sf->loop);
                (void) uv_timer_start(&pc->timer, on_call_timeout, p->timeout_ms, 0);
        }

        pool_enqueue(p, pc);
        pool_dispatch(p);
        if (pc->queued && p->queued > (p->queue_max ? p->queue_max : 1)) {
                pool_dequeue(p, pc);
                pcall_fail(pc, 429, "function '%s.%s' is busy: %u call(s) waiting already", p->name, p->ns,
                           p->queue_max);
        }
        /* Answered already (a full queue, an instance that cannot start):
         * the body is not read. */
        return pc->req == req ? HTTP_HEAD_TAKEN : HTTP_HEAD_ANSWERED;
}
