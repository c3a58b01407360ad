/* SPDX-License-Identifier: MIT */
/*
 * The routes over core/history.h and the sampler that feeds its gauges:
 *
 *   GET /system/function/NAME/history?namespace=NS   the function's last hour
 *   GET /system/history/functions?namespace=NS      totals since the start
 *                                                   of every function of NS
 *   GET /system/history                             the host's last hour
 *
 * The sampler runs every HISTORY_STEP_S seconds, just after a slot
 * boundary: warm instances of every http-mode function, sandboxes alive,
 * CPU busy since the last run (/proc/stat) and memory used (/proc/meminfo).
 * Its timer is unreferenced, so it never keeps the loop (or a shutdown)
 * waiting.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/api.h"
#include "core/base/cleanup.h"
#include "core/base/log.h"
#include "core/base/util.h"
#include "core/history.h"
#include "core/pool.h"

/* ---- reading the host ---- */

/* Busy and total jiffies of all CPUs from the first line of /proc/stat. */
static int read_cpu(uint64_t *ret_busy, uint64_t *ret_total)
{
        _cleanup_free_ char *s = NULL;
        unsigned long long v[8] = {0};
        uint64_t total = 0;
        int r = read_file_at(AT_FDCWD, "/proc/stat", 1 << 22, &s, NULL);
        if (r < 0)
                return r;
        /* user nice system idle iowait irq softirq steal (guest time is
         * already in user and nice) */
        if (sscanf(s, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
                   &v[6], &v[7]) < 4)
                return -EINVAL;
        for (size_t i = 0; i < ELEMENTSOF(v); i++)
                total += v[i];
        *ret_busy = total - v[3] - v[4];
        *ret_total = total;
        return 0;
}

/* MemTotal and MemTotal - MemAvailable, in bytes. */
static int read_memory(uint64_t *ret_used, uint64_t *ret_total)
{
        _cleanup_free_ char *s = NULL;
        unsigned long long total = 0, avail = 0;
        const char *p;
        int r = read_file_at(AT_FDCWD, "/proc/meminfo", 1 << 16, &s, NULL);
        if (r < 0)
                return r;
        p = strstr(s, "MemTotal:");
        if (!p || sscanf(p, "MemTotal: %llu kB", &total) != 1)
                return -EINVAL;
        p = strstr(s, "MemAvailable:");
        if (!p || sscanf(p, "MemAvailable: %llu kB", &avail) != 1)
                return -EINVAL;
        if (avail > total)
                avail = total;
        *ret_used = (uint64_t) (total - avail) * 1024;
        *ret_total = (uint64_t) total * 1024;
        return 0;
}

static uint32_t sandboxes_alive(const struct sfaasd *sf)
{
        struct pools_counts pc;
        pools_counts(sf, &pc);
        return (uint32_t) (sf->n_invocations + pc.starting + pc.ready + pc.stopping);
}

/* Host gauges now; with cpu, also the CPU busy since the last call with cpu. */
static void sample_host(struct sfaasd *sf, bool cpu, int64_t now)
{
        struct history *h = &sf->history;
        uint64_t used = 0, total = 0, busy = 0, jiffies = 0;
        double pct = -1;

        if (read_memory(&used, &total) < 0)
                used = total = 0;
        if (cpu && read_cpu(&busy, &jiffies) >= 0) {
                if (h->cpu_total && jiffies > h->cpu_total && busy >= h->cpu_busy)
                        pct = 100.0 * (double) (busy - h->cpu_busy) / (double) (jiffies - h->cpu_total);
                h->cpu_busy = busy;
                h->cpu_total = jiffies;
        }
        history_host_sample(h, sandboxes_alive(sf), pct, used, total, now);
}

/* Warm instances of one function (http mode); exec mode has none (its
 * sandboxes are its calls in flight, which the ring counts itself). */
static void sample_function(struct sfaasd *sf, const char *ns, const char *name, int64_t now)
{
        struct pool *p = pool_lookup(sf, ns, name);
        uint32_t n = p && p->mode == FN_MODE_HTTP ? (uint32_t) (p->n_starting + p->n_ready) : 0;
        history_instances(&sf->history, ns, name, n, now);
}

static void sample_functions(struct sfaasd *sf, int64_t now)
{
        _cleanup_strv_free_ char **nss = NULL;
        int r = store_namespace_list(sf->store, &nss);
        if (r < 0) {
                log_debug("history: cannot list namespaces: %s", strerror(-r));
                return;
        }
        for (char **ns = nss; *ns; ns++) {
                struct store_function **fs = NULL;
                if (store_function_list(sf->store, *ns, &fs) < 0)
                        continue;
                for (struct store_function **f = fs; *f; f++)
                        sample_function(sf, *ns, (*f)->name, now);
                store_function_list_free(fs);
        }
}

/* ---- the sampler ---- */

static uint64_t ms_to_next_slot(void)
{
        struct timespec ts;
        uint64_t ms, step = HISTORY_STEP_S * 1000ULL;
        (void) clock_gettime(CLOCK_REALTIME, &ts);
        ms = (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
        /* 50 ms past the boundary, so that now falls in the new slot. */
        return step - ms % step + 50;
}

static void on_sample(uv_timer_t *t)
{
        struct sfaasd *sf = t->data;
        int64_t now = history_now();

        if (!sf->stopping) {
                sample_host(sf, true, now);
                sample_functions(sf, now);
        }
        (void) uv_timer_start(t, on_sample, ms_to_next_slot(), 0);
}

void history_sampler_start(struct sfaasd *sf)
{
        struct history *h = &sf->history;
        if (uv_timer_init(&sf->loop, &h->timer) < 0)
                return;
        h->timer.data = sf;
        h->timer_started = true;
        uv_unref((uv_handle_t *) &h->timer);
        /* The first CPU reading is the base of the first percentage. */
        sample_host(sf, true, history_now());
        (void) uv_timer_start(&h->timer, on_sample, ms_to_next_slot(), 0);
}

void history_sampler_close(struct sfaasd *sf)
{
        struct history *h = &sf->history;
        if (!h->timer_started || uv_is_closing((uv_handle_t *) &h->timer))
                return;
        (void) uv_timer_stop(&h->timer);
        uv_close((uv_handle_t *) &h->timer, NULL);
}

/* ---- routes ---- */

/* Reals with 6 significant digits: seconds and percentages, not 17 digits
 * of float noise. */
static void respond(struct http_request *req, json_t *v)
{
        char *s;
        if (!v) {
                http_respond_error(req, 500, "out of memory");
                return;
        }
        s = json_dumps(v, JSON_COMPACT | JSON_REAL_PRECISION(6));
        json_decref(v);
        if (!s) {
                http_respond_error(req, 500, "out of memory");
                return;
        }
        http_respond(req, 200, "application/json", "Cache-Control: no-store\r\n", s, strlen(s));
        free(s);
}

static void handle_function(struct http_request *req, const char *name)
{
        struct sfaasd *sf = api_sfaasd(req);
        struct store_function *f = NULL;
        char ns[ROUTE_NAME_MAX];
        int64_t now = history_now();
        int r;

        if (api_resolve_namespace(req, NULL, ns, sizeof ns) < 0)
                return;
        r = store_function_get(sf->store, ns, name, &f);
        store_function_free(f);
        if (r == -ENOENT) {
                http_respond_error(req, 404, "function '%s' not found in namespace '%s'", name, ns);
                return;
        }
        if (r < 0) {
                http_respond_error(req, 500, "cannot read function: %s", strerror(-r));
                return;
        }
        /* The slot under way shows the instances of this moment. */
        sample_function(sf, ns, name, now);
        respond(req, history_function_json(&sf->history, ns, name, now));
}

static void handle_totals(struct http_request *req)
{
        struct sfaasd *sf = api_sfaasd(req);
        struct store_function **fs = NULL;
        json_t *o = json_object(), *fns = json_object();
        char ns[ROUTE_NAME_MAX];
        int r;

        if (api_resolve_namespace(req, NULL, ns, sizeof ns) < 0) {
                json_decref(o);
                json_decref(fns);
                return;
        }
        r = store_function_list(sf->store, ns, &fs);
        if (r < 0 || !o || !fns) {
                store_function_list_free(fs);
                json_decref(o);
                json_decref(fns);
                http_respond_error(req, 500, "cannot list functions: %s", strerror(r < 0 ? -r : ENOMEM));
                return;
        }
        for (struct store_function **f = fs; *f; f++) {
                json_t *t = history_totals_json(history_find(&sf->history, ns, (*f)->name));
                if (!t || json_object_set_new(fns, (*f)->name, t) < 0) {
                        store_function_list_free(fs);
                        json_decref(o);
                        json_decref(fns);
                        http_respond_error(req, 500, "out of memory");
                        return;
                }
        }
        store_function_list_free(fs);
        /* set_new takes fns even when it fails; o then frees it. */
        if (json_object_set_new(o, "functions", fns) < 0 ||
            json_object_set_new(o, "namespace", json_string(ns)) < 0) {
                json_decref(o);
                http_respond_error(req, 500, "out of memory");
                return;
        }
        respond(req, o);
}

static void handle_host(struct http_request *req)
{
        struct sfaasd *sf = api_sfaasd(req);
        int64_t now = history_now();
        sample_host(sf, false, now);
        respond(req, history_host_json(&sf->history, now));
}

void api_history(struct http_request *req, const struct route *rt)
{
        if (rt->id == ROUTE_FUNCTION_HISTORY)
                handle_function(req, rt->name);
        else if (rt->id == ROUTE_HISTORY_FUNCTIONS)
                handle_totals(req);
        else
                handle_host(req);
}
