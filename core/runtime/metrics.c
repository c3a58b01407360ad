/* SPDX-License-Identifier: MIT */
/*
 * GET /metrics: the Prometheus text exposition format 0.0.4 with the
 * OpenFaaS gateway's names (docs/OPENFAAS-COMPAT.md 2.7) plus sfaasd's own.
 *
 * By default the route has no authentication, as the OpenFaaS gateway's
 * metrics port has none: what it shows is function names, counts and sizes,
 * never arguments, bodies or secrets. A deployment that must hide even
 * function names sets "metrics_auth": true; then /metrics wants the same
 * Basic auth as the /system/ routes (401 with the same challenge otherwise), and
 * Prometheus scrapes with basic_auth in its scrape config.
 *
 * Deliberate differences and omissions:
 *  - Two OpenFaaS names break the naming rules `promtool check metrics`
 *    enforces for their type: gateway_function_invocation_started (a counter
 *    without _total) and gateway_service_count (a gauge ending in _count,
 *    reserved for histograms). Both are typed untyped here: names, labels,
 *    values and PromQL (rate, increase, sum) are unchanged, promtool is clean.
 *  - Only calls to functions that exist are counted (OpenFaaS counts any
 *    /function/ path): unknown names would let any client grow the series
 *    without bound. A function's series go when it is removed.
 *  - Async (sfaasd_async_queue_depth, backlog) is not exported until the
 *    async queue exists: async calls answer 404 today, and a constant 0
 *    would look like a healthy queue. The same for instances in states
 *    other than "running": exec mode has no idle or starting instances.
 *  - sfaasd_http_requests_total appears once the HTTP server reports every
 *    answer (metrics_http_response); no series are invented before that.
 */
#include <dirent.h>
#include <errno.h>
#include <fts.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/base/buf.h"
#include "core/base/cleanup.h"
#include "core/base/log.h"
#include "core/base/util.h"
#include "core/runtime/metrics.h"
#include "core/sfaasd.h"
#include "core/runtime/history.h"

/* The Prometheus client libraries' default buckets, as the gateway uses. */
static const double gateway_bounds[] = { .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10 };
/* Sandbox starts take about a millisecond: finer buckets. */
static const double start_bounds[] = { .0005, .001, .002, .005, .01, .025, .05, .1, .25 };

_Static_assert(ELEMENTSOF(gateway_bounds) < METRICS_MAX_BUCKETS, "too many buckets");
_Static_assert(ELEMENTSOF(start_bounds) < METRICS_MAX_BUCKETS, "too many buckets");

/* ---- the registry ---- */

static void histogram_init(struct metrics_histogram *h, const double *bounds, size_t n)
{
        memset(h, 0, sizeof *h);
        h->bounds = bounds;
        h->n_bounds = n;
}

void metrics_histogram_observe(struct metrics_histogram *h, double seconds)
{
        size_t i = 0;
        if (isnan(seconds) || seconds < 0)
                seconds = 0;
        /* A bucket counts observations <= its upper bound ("le"). */
        while (i < h->n_bounds && seconds > h->bounds[i])
                i++;
        h->buckets[i]++;
        h->count++;
        h->sum += seconds;
}

void metrics_init(struct metrics *m)
{
        memset(m, 0, sizeof *m);
        histogram_init(&m->sandbox_start_seconds, start_bounds, ELEMENTSOF(start_bounds));
}

static void fn_free(struct metrics_fn *f)
{
        if (!f)
                return;
        free(f->key);
        free(f->codes);
        free(f);
}

void metrics_release(struct metrics *m)
{
        while (m->fns) {
                struct metrics_fn *n = m->fns->next;
                fn_free(m->fns);
                m->fns = n;
        }
        m->last = NULL;
        htab_release(&m->by_key);
        free(m->http);
        m->http = NULL;
        m->n_http = 0;
}

static bool key_is(const char *key, const char *name, const char *ns)
{
        size_t nl = strlen(name);
        return strncmp(key, name, nl) == 0 && key[nl] == '.' && strcmp(key + nl + 1, ns) == 0;
}

/* Find the function's series; with create, add them at the end (so that
 * the output keeps first-seen order). NULL when absent or out of memory. */
static struct metrics_fn *fn_lookup(const struct metrics *m, const char *name, const char *ns, uint64_t h)
{
        struct htab_node *n;

        htab_for_each_hash(n, &m->by_key, h) {
                struct metrics_fn *f = htab_entry(n, struct metrics_fn, hnode);
                if (key_is(f->key, name, ns))
                        return f;
        }
        return NULL;
}

static struct metrics_fn *fn_find(struct metrics *m, const char *name, const char *ns, bool create)
{
        uint64_t h = htab_hash2(ns, name);
        struct metrics_fn *f = fn_lookup(m, name, ns, h);

        if (f || !create)
                return f;
        f = calloc(1, sizeof *f);
        if (!f || !(f->key = xasprintf("%s.%s", name, ns)) || htab_add(&m->by_key, &f->hnode, h) < 0) {
                fn_free(f);
                return NULL;
        }
        if (m->last)
                m->last->next = f;
        else
                m->fns = f;
        m->last = f;
        return f;
}

void metrics_invocation_started(struct metrics *m, const char *name, const char *ns)
{
        struct metrics_fn *f = fn_find(m, name, ns, true);
        if (f)
                f->started++;
        if (m->history)
                history_call_started(m->history, ns, name, history_now());
}

void metrics_invocation_finished(struct metrics *m, const char *name, const char *ns, int code, double seconds)
{
        struct metrics_fn *f = fn_find(m, name, ns, true);
        struct metrics_code *c = NULL, *nc;
        size_t i;

        if (m->history)
                history_call_finished(m->history, ns, name, code, seconds, history_now());
        if (!f)
                return;
        for (i = 0; i < f->n_codes && f->codes[i].code <= code; i++)
                if (f->codes[i].code == code) {
                        c = &f->codes[i];
                        break;
                }
        if (!c) {
                /* Insert at i, keeping the codes sorted. */
                nc = realloc(f->codes, (f->n_codes + 1) * sizeof *nc);
                if (!nc)
                        return;
                f->codes = nc;
                memmove(&nc[i + 1], &nc[i], (f->n_codes - i) * sizeof *nc);
                f->n_codes++;
                c = &nc[i];
                memset(c, 0, sizeof *c);
                c->code = code;
                histogram_init(&c->seconds, gateway_bounds, ELEMENTSOF(gateway_bounds));
        }
        c->total++;
        metrics_histogram_observe(&c->seconds, seconds);
}

uint64_t metrics_invocation_count(const struct metrics *m, const char *name, const char *ns)
{
        const struct metrics_fn *f = fn_lookup(m, name, ns, htab_hash2(ns, name));
        uint64_t n = 0;

        for (size_t i = 0; f && i < f->n_codes; i++)
                n += f->codes[i].total;
        return n;
}

void metrics_forget_function(struct metrics *m, const char *name, const char *ns)
{
        if (m->history)
                history_forget(m->history, ns, name);
        struct metrics_fn *f = fn_find(m, name, ns, false), *prev = NULL;

        if (!f)
                return;
        /* The list is singly linked: find the one before it. */
        for (struct metrics_fn *g = m->fns; g != f; g = g->next)
                prev = g;
        if (prev)
                prev->next = f->next;
        else
                m->fns = f->next;
        if (m->last == f)
                m->last = prev;
        htab_del(&m->by_key, &f->hnode);
        fn_free(f);
}

void metrics_sandbox_start(struct metrics *m, bool ok, double seconds)
{
        if (ok)
                m->sandbox_starts_ok++;
        else
                m->sandbox_starts_error++;
        metrics_histogram_observe(&m->sandbox_start_seconds, seconds);
}

void metrics_http_response(struct metrics *m, const char *method, int status)
{
        struct metrics_http *h = NULL, *nh;
        size_t i;
        for (i = 0; i < m->n_http; i++) {
                int c = strcmp(m->http[i].method, method);
                if (c == 0 && m->http[i].code == status) {
                        h = &m->http[i];
                        break;
                }
                if (c > 0 || (c == 0 && m->http[i].code > status))
                        break;
        }
        if (!h) {
                nh = realloc(m->http, (m->n_http + 1) * sizeof *nh);
                if (!nh)
                        return;
                m->http = nh;
                memmove(&nh[i + 1], &nh[i], (m->n_http - i) * sizeof *nh);
                m->n_http++;
                h = &nh[i];
                memset(h, 0, sizeof *h);
                (void) xsnprintf(h->method, sizeof h->method, "%s", method);
                h->code = status;
        }
        h->total++;
}

/* ---- text rendering ---- */

/* A label value, escaped as the format requires: \ " and newline. */
static void label_value(struct buf *b, const char *s)
{
        for (; *s; s++) {
                if (*s == '\\' || *s == '"') {
                        buf_appendc(b, '\\');
                        buf_appendc(b, *s);
                } else if (*s == '\n') {
                        buf_appendc(b, '\\');
                        buf_appendc(b, 'n');
                } else
                        buf_appendc(b, *s);
        }
}

/* The shortest of %.15g and %.17g that reads back as v (Go prints the
 * shortest; either parses the same). */
static void fmt_double(char out[40], double v)
{
        if (isnan(v))
                (void) xsnprintf(out, 40, "NaN");
        else if (isinf(v))
                (void) xsnprintf(out, 40, v > 0 ? "+Inf" : "-Inf");
        else {
                (void) xsnprintf(out, 40, "%.15g", v);
                if (strtod(out, NULL) != v)
                        (void) xsnprintf(out, 40, "%.17g", v);
        }
}

static void family(struct buf *b, const char *name, const char *type, const char *help)
{
        buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* labels is the rendered label list without braces ("" for none). */
static void sample_u64(struct buf *b, const char *name, const char *labels, uint64_t v)
{
        if (*labels)
                buf_printf(b, "%s{%s} %" PRIu64 "\n", name, labels, v);
        else
                buf_printf(b, "%s %" PRIu64 "\n", name, v);
}

static void histogram_samples(struct buf *b, const char *name, const char *labels,
                              const struct metrics_histogram *h)
{
        const char *sep = *labels ? "," : "";
        uint64_t cum = 0;
        char num[40];
        for (size_t i = 0; i < h->n_bounds; i++) {
                cum += h->buckets[i];
                fmt_double(num, h->bounds[i]);
                buf_printf(b, "%s_bucket{%s%sle=\"%s\"} %" PRIu64 "\n", name, labels, sep, num, cum);
        }
        cum += h->buckets[h->n_bounds];
        buf_printf(b, "%s_bucket{%s%sle=\"+Inf\"} %" PRIu64 "\n", name, labels, sep, cum);
        fmt_double(num, h->sum);
        if (*labels) {
                buf_printf(b, "%s_sum{%s} %s\n", name, labels, num);
                buf_printf(b, "%s_count{%s} %" PRIu64 "\n", name, labels, h->count);
        } else {
                buf_printf(b, "%s_sum %s\n", name, num);
                buf_printf(b, "%s_count %" PRIu64 "\n", name, h->count);
        }
}

/* function_name="key"[,code="code"] into lb (reset first). */
static const char *fn_labels(struct buf *lb, const char *key, int code)
{
        lb->len = 0;
        buf_printf(lb, "function_name=\"");
        label_value(lb, key);
        buf_appendc(lb, '"');
        if (code > 0)
                buf_printf(lb, ",code=\"%d\"", code);
        return lb->err ? "" : lb->p;
}

static bool any_codes(const struct metrics *m)
{
        for (const struct metrics_fn *f = m->fns; f; f = f->next)
                if (f->n_codes)
                        return true;
        return false;
}

/* function_name="key",scaling_type="type" into lb (reset first). */
static const char *scale_labels(struct buf *lb, const char *key, const char *type)
{
        (void) fn_labels(lb, key, 0);
        buf_printf(lb, ",scaling_type=\"");
        label_value(lb, type);
        buf_appendc(lb, '"');
        return lb->err ? "" : lb->p;
}

/* The autoscalers (http-mode functions only): the target as OpenFaaS Pro's
 * gateway exports it, the load against it and the instances wanted. */
static void render_scale(struct buf *b, struct buf *lb, const struct metrics_gauges *g)
{
        static const char *const names[] = { "gateway_service_target_load", "sfaasd_function_load" };
        static const char *const helps[] = {
                "Target load per replica of a function, by scaling type (rps, capacity, cpu millicores).",
                "Load of a function over the last second, by scaling type (calls/s, calls in flight or "
                "queued, cpu millicores)."
        };
        char num[40];
        bool any = false;

        for (size_t i = 0; g->services[i]; i++)
                any = any || g->service_scale[i].http;
        if (!any)
                return;
        for (size_t n = 0; n < ELEMENTSOF(names); n++) {
                family(b, names[n], "gauge", helps[n]);
                for (size_t i = 0; g->services[i]; i++) {
                        const struct metrics_scale *sc = &g->service_scale[i];
                        if (!sc->http)
                                continue;
                        fmt_double(num, n == 0 ? sc->target : sc->load);
                        buf_printf(b, "%s{%s} %s\n", names[n], scale_labels(lb, g->services[i], sc->type), num);
                }
        }
        family(b, "sfaasd_function_desired_replicas", "gauge", "Instances the autoscaler wants for a function.");
        for (size_t i = 0; g->services[i]; i++)
                if (g->service_scale[i].http)
                        sample_u64(b, "sfaasd_function_desired_replicas", fn_labels(lb, g->services[i], 0),
                                   g->service_scale[i].desired);
}

int metrics_render(const struct metrics *m, const struct metrics_gauges *g, char **ret, size_t *ret_len)
{
        struct buf b = { 0 }, lb = { 0 };
        char num[40];

        /* Families with no series are left out, as the client libraries do. */
        if (any_codes(m)) {
                family(&b, "gateway_function_invocation_total", "counter",
                       "Function invocations by function and HTTP status code.");
                for (const struct metrics_fn *f = m->fns; f; f = f->next)
                        for (size_t i = 0; i < f->n_codes; i++)
                                sample_u64(&b, "gateway_function_invocation_total",
                                           fn_labels(&lb, f->key, f->codes[i].code), f->codes[i].total);
                family(&b, "gateway_functions_seconds", "histogram",
                       "Function invocation time taken, by function and HTTP status code.");
                for (const struct metrics_fn *f = m->fns; f; f = f->next)
                        for (size_t i = 0; i < f->n_codes; i++)
                                histogram_samples(&b, "gateway_functions_seconds",
                                                  fn_labels(&lb, f->key, f->codes[i].code), &f->codes[i].seconds);
        }
        if (m->fns) {
                /* A counter in OpenFaaS; untyped here (see the top comment). */
                family(&b, "gateway_function_invocation_started", "untyped",
                       "Function invocations started (a counter).");
                for (const struct metrics_fn *f = m->fns; f; f = f->next)
                        sample_u64(&b, "gateway_function_invocation_started", fn_labels(&lb, f->key, 0), f->started);
        }
        if (g->services && g->services[0]) {
                /* A gauge in OpenFaaS; untyped here (see the top comment). */
                family(&b, "gateway_service_count", "untyped",
                       "Current count of replicas for a function (a gauge).");
                for (size_t i = 0; g->services[i]; i++)
                        sample_u64(&b, "gateway_service_count", fn_labels(&lb, g->services[i], 0),
                                   g->service_replicas ? g->service_replicas[i] : g->replicas);
        }
        if (g->services && g->service_scale)
                render_scale(&b, &lb, g);

        {
                static const char *const verdicts[] = { "allowed", "denied", "cap", "error" };
                family(&b, "sfaasd_egress_connections_total", "counter",
                       "Connections through the functions' egress proxies, by verdict.");
                for (size_t i = 0; i < 4; i++) {
                        char label[32];
                        (void) xsnprintf(label, sizeof label, "verdict=\"%s\"", verdicts[i]);
                        sample_u64(&b, "sfaasd_egress_connections_total", label, m->egress_conns[i]);
                }
                family(&b, "sfaasd_egress_bytes_total", "counter",
                       "Bytes through the functions' egress proxies (up: function to destination).");
                sample_u64(&b, "sfaasd_egress_bytes_total", "direction=\"up\"", m->egress_bytes_up);
                sample_u64(&b, "sfaasd_egress_bytes_total", "direction=\"down\"", m->egress_bytes_down);
        }
        family(&b, "sfaasd_sandbox_starts_total", "counter", "Sandbox starts by result.");
        sample_u64(&b, "sfaasd_sandbox_starts_total", "result=\"ok\"", m->sandbox_starts_ok);
        sample_u64(&b, "sfaasd_sandbox_starts_total", "result=\"error\"", m->sandbox_starts_error);
        family(&b, "sfaasd_sandbox_start_seconds", "histogram",
               "Time to start a sandbox (the spawn call, ok or not).");
        histogram_samples(&b, "sfaasd_sandbox_start_seconds", "", &m->sandbox_start_seconds);
        family(&b, "sfaasd_invocations_in_flight", "gauge", "Invocations being answered.");
        sample_u64(&b, "sfaasd_invocations_in_flight", "", g->in_flight);
        family(&b, "sfaasd_instances", "gauge", "Function instances (sandboxes) by state.");
        sample_u64(&b, "sfaasd_instances", "state=\"running\"", g->instances_running);
        sample_u64(&b, "sfaasd_instances", "state=\"starting\"", g->instances_starting);
        sample_u64(&b, "sfaasd_instances", "state=\"ready\"", g->instances_ready);
        sample_u64(&b, "sfaasd_instances", "state=\"stopping\"", g->instances_stopping);
        family(&b, "sfaasd_queued_calls", "gauge", "Calls waiting for a warm instance (all http-mode functions).");
        sample_u64(&b, "sfaasd_queued_calls", "", g->queued);
        family(&b, "sfaasd_exec_queued_calls", "gauge",
               "Exec-mode calls waiting for their turn (their function's limit or a sandbox slot).");
        sample_u64(&b, "sfaasd_exec_queued_calls", "", g->exec_queued);
        family(&b, "sfaasd_sandbox_slots", "gauge", "Sandboxes alive (used) against the daemon-wide cap (max).");
        sample_u64(&b, "sfaasd_sandbox_slots", "state=\"used\"", g->slots_used);
        sample_u64(&b, "sfaasd_sandbox_slots", "state=\"max\"", g->slots_max);
        family(&b, "sfaasd_admission_refused_total", "counter", "Exec-mode calls refused with 429: queue full.");
        sample_u64(&b, "sfaasd_admission_refused_total", "", g->admission_refused);
        family(&b, "sfaasd_exec_stock_sandboxes", "gauge",
               "Exec sandboxes made ahead of calls: parked (waiting for one call) or being made.");
        sample_u64(&b, "sfaasd_exec_stock_sandboxes", "state=\"parked\"", g->stock_parked);
        sample_u64(&b, "sfaasd_exec_stock_sandboxes", "state=\"filling\"", g->stock_filling);
        family(&b, "sfaasd_exec_stock_hits_total", "counter", "Exec calls served by a parked sandbox.");
        sample_u64(&b, "sfaasd_exec_stock_hits_total", "", g->stock_hits);
        family(&b, "sfaasd_exec_stock_misses_total", "counter",
               "Exec calls of stocked functions that found no parked sandbox and spawned one.");
        sample_u64(&b, "sfaasd_exec_stock_misses_total", "", g->stock_misses);
        family(&b, "sfaasd_exec_stock_waits_total", "counter",
               "Exec calls of stocked functions that found no parked sandbox and took the one being made.");
        sample_u64(&b, "sfaasd_exec_stock_waits_total", "", g->stock_waits);
        family(&b, "sfaasd_exec_stock_fills_total", "counter", "Sandboxes made for the exec stock, by result.");
        sample_u64(&b, "sfaasd_exec_stock_fills_total", "result=\"ok\"", g->stock_fills_ok);
        sample_u64(&b, "sfaasd_exec_stock_fills_total", "result=\"error\"", g->stock_fills_failed);
        family(&b, "sfaasd_exec_stock_dropped_total", "counter",
               "Parked sandboxes killed unused (idle, redeploy, delete, a slot wanted, shutdown).");
        sample_u64(&b, "sfaasd_exec_stock_dropped_total", "", g->stock_dropped);
        family(&b, "sfaasd_auth_blocked_addresses", "gauge", "Client addresses blocked for failed sign-ins now.");
        sample_u64(&b, "sfaasd_auth_blocked_addresses", "", g->auth_blocked);
        family(&b, "sfaasd_auth_throttled_total", "counter", "Requests refused with 429: their address was blocked.");
        sample_u64(&b, "sfaasd_auth_throttled_total", "", g->auth_refused);
        family(&b, "sfaasd_async_calls", "gauge", "Accepted asynchronous calls not finished yet, by state.");
        sample_u64(&b, "sfaasd_async_calls", "state=\"queued\"", g->async_queued);
        sample_u64(&b, "sfaasd_async_calls", "state=\"running\"", g->async_running);
        family(&b, "sfaasd_images", "gauge", "Images in the image store.");
        sample_u64(&b, "sfaasd_images", "", g->images);
        if (g->have_store_bytes) {
                family(&b, "sfaasd_store_bytes", "gauge",
                       "Disk usage of the store: database plus unpacked images, in bytes.");
                sample_u64(&b, "sfaasd_store_bytes", "", g->store_bytes);
        }
        if (m->n_http) {
                family(&b, "sfaasd_http_requests_total", "counter", "HTTP answers by status code and method.");
                for (size_t i = 0; i < m->n_http; i++) {
                        lb.len = 0;
                        buf_printf(&lb, "code=\"%d\",method=\"", m->http[i].code);
                        label_value(&lb, m->http[i].method);
                        buf_appendc(&lb, '"');
                        sample_u64(&b, "sfaasd_http_requests_total", lb.err ? "" : lb.p, m->http[i].total);
                }
        }
        if (g->have_process) {
                family(&b, "process_start_time_seconds", "gauge",
                       "Start time of the process since unix epoch in seconds.");
                fmt_double(num, g->process_start_time);
                buf_printf(&b, "process_start_time_seconds %s\n", num);
                family(&b, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
                sample_u64(&b, "process_resident_memory_bytes", "", g->process_rss_bytes);
                family(&b, "process_open_fds", "gauge", "Number of open file descriptors.");
                sample_u64(&b, "process_open_fds", "", g->process_open_fds);
        }
        {
                int r = b.err ? b.err : lb.err;
                buf_release(&lb);
                if (r < 0) {
                        buf_release(&b);
                        return r;
                }
        }
        *ret = buf_steal(&b, ret_len);
        return *ret ? 0 : -ENOMEM;
}

/* ---- values read at scrape time ---- */

struct inode_use {
        dev_t dev;
        ino_t ino;
        uint64_t bytes;
};

static int inode_cmp(const void *a, const void *b)
{
        const struct inode_use *x = a, *y = b;
        if (x->dev != y->dev)
                return x->dev < y->dev ? -1 : 1;
        return x->ino < y->ino ? -1 : x->ino > y->ino;
}

/*
 * Disk usage (allocated blocks) of the tree at path, without following
 * symlinks or crossing mounts. Hard links are counted once: image layers
 * link one file under many names (busybox: hundreds of applets).
 * Thread pool: touches nothing but its arguments.
 */
static int dir_usage(const char *path, uint64_t *ret)
{
        char *paths[] = { (char *) path, NULL };
        struct inode_use *links = NULL;
        size_t n_links = 0, cap_links = 0;
        uint64_t total = 0;
        FTS *fts;
        FTSENT *e;
        int r = 0;

        fts = fts_open(paths, FTS_PHYSICAL | FTS_NOCHDIR | FTS_XDEV, NULL);
        if (!fts)
                return -errno;
        while ((e = fts_read(fts))) {
                const struct stat *st = e->fts_statp;
                uint64_t bytes;
                if (e->fts_info == FTS_DP || e->fts_info == FTS_NS || e->fts_info == FTS_ERR ||
                    e->fts_info == FTS_DNR)
                        continue; /* a tree changing underneath: best effort */
                bytes = (uint64_t) st->st_blocks * 512;
                if (!S_ISDIR(st->st_mode) && st->st_nlink > 1) {
                        if (n_links == cap_links) {
                                size_t nc = cap_links ? cap_links * 2 : 256;
                                struct inode_use *nl = realloc(links, nc * sizeof *nl);
                                if (!nl) {
                                        r = -ENOMEM;
                                        break;
                                }
                                links = nl;
                                cap_links = nc;
                        }
                        links[n_links++] = (struct inode_use){ st->st_dev, st->st_ino, bytes };
                        continue;
                }
                total += bytes;
        }
        (void) fts_close(fts);
        if (r >= 0 && n_links) {
                qsort(links, n_links, sizeof *links, inode_cmp);
                for (size_t i = 0; i < n_links; i++)
                        if (i == 0 || inode_cmp(&links[i - 1], &links[i]) != 0)
                                total += links[i].bytes;
        }
        free(links);
        if (r < 0)
                return r;
        *ret = total;
        return 0;
}

static void du_work(uv_work_t *w)
{
        struct sfaasd *sf = w->data;
        sf->metrics->du_r = dir_usage(sf->images_dir, &sf->metrics->du_result);
}

static void du_done(uv_work_t *w, int status)
{
        struct sfaasd *sf = w->data;
        struct metrics *m = sf->metrics;
        m->du_running = false;
        if (status == 0 && m->du_r >= 0) {
                m->images_bytes = m->du_result;
                m->images_bytes_known = true;
        } else if (status == 0)
                log_warning_errno(m->du_r, "cannot measure the image folder '%s'", sf->images_dir);
        if (m->du_again && !sf->stopping) {
                m->du_again = false;
                metrics_images_changed(sf);
        }
}

void metrics_images_changed(struct sfaasd *sf)
{
        struct metrics *m = sf->metrics;
        if (m->du_running) {
                m->du_again = true; /* the walk under way may have missed the change */
                return;
        }
        m->du_work.data = sf;
        if (uv_queue_work(&sf->loop, &m->du_work, du_work, du_done) == 0)
                m->du_running = true;
}

int metrics_read_process(struct metrics_gauges *g)
{
        _cleanup_free_ char *stat = NULL, *sys = NULL, *statm = NULL;
        unsigned long long start_ticks = 0, btime = 0, rss_pages = 0;
        const char *p;
        long tck = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
        uint64_t fds = 0;
        DIR *d;
        int r;

        if (tck <= 0 || page <= 0)
                return -EINVAL;
        /* /proc/self/stat: the command may hold spaces and ')', so fields
         * count from the last ')'; starttime is field 22, state field 3. */
        r = read_file_at(AT_FDCWD, "/proc/self/stat", 1 << 16, &stat, NULL);
        if (r < 0)
                return r;
        p = strrchr(stat, ')');
        if (!p)
                return -EINVAL;
        p++;
        for (int field = 3; field < 22; field++) {
                p = strchr(p + 1, ' ');
                if (!p)
                        return -EINVAL;
        }
        errno = 0;
        start_ticks = strtoull(p + 1, NULL, 10);
        if (errno)
                return -EINVAL;
        r = read_file_at(AT_FDCWD, "/proc/stat", 1 << 22, &sys, NULL);
        if (r < 0)
                return r;
        p = strstr(sys, "\nbtime ");
        if (!p || sscanf(p + 7, "%llu", &btime) != 1)
                return -EINVAL;
        r = read_file_at(AT_FDCWD, "/proc/self/statm", 4096, &statm, NULL);
        if (r < 0)
                return r;
        if (sscanf(statm, "%*u %llu", &rss_pages) != 1)
                return -EINVAL;
        d = opendir("/proc/self/fd");
        if (!d)
                return -errno;
        for (struct dirent *de; (de = readdir(d));)
                if (de->d_name[0] != '.')
                        fds++;
        (void) closedir(d);
        g->process_start_time = (double) btime + (double) start_ticks / (double) tck;
        g->process_rss_bytes = (uint64_t) rss_pages * (uint64_t) page;
        g->process_open_fds = fds > 0 ? fds - 1 : 0; /* not the one that listed them */
        g->have_process = true;
        return 0;
}

void metrics_egress(struct metrics *m, const char *verdict, uint64_t up, uint64_t down)
{
        size_t i = strcmp(verdict, "allowed") == 0 ? 0 : strcmp(verdict, "denied") == 0 ? 1
                   : strcmp(verdict, "cap") == 0   ? 2 : 3;
        m->egress_conns[i]++;
        m->egress_bytes_up += up;
        m->egress_bytes_down += down;
}
