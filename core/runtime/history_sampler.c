/* SPDX-License-Identifier: MIT */
/*
 * The sampler that feeds the gauges of core/runtime/history.h: every
 * HISTORY_STEP_S seconds, just after a slot boundary, the warm instances of
 * every http-mode function, the sandboxes alive, the CPU busy since the last
 * run (/proc/stat) and the memory used (/proc/meminfo). Its timer is
 * unreferenced, so it never keeps the loop (or a shutdown) waiting.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/base/cleanup.h"
#include "core/base/log.h"
#include "core/base/util.h"
#include "core/runtime/history.h"
#include "core/runtime/pool.h"
#include "core/sfaasd.h"

/* ---- reading the host ---- */

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
void history_sample_host(struct sfaasd *sf, bool cpu, int64_t now)
{
        struct history *h = sf->history;
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
void history_sample_function(struct sfaasd *sf, const char *ns, const char *name, int64_t now)
{
        uint32_t n = pools_warm_instances(sf, ns, name);
        history_instances(sf->history, ns, name, n, now);
}

static void sample_warm(struct sfaasd *sf, const char *ns, const char *name, uint32_t n, void *ctx)
{
        history_instances(sf->history, ns, name, n, *(const int64_t *) ctx);
}

/* Every function that has warm instances, and every one that has a ring
 * (its calls in flight are sampled too): the same as asking each
 * function of the store, which at 10,000 functions held the loop for
 * 10 to 20 ms every 10 s (a perf of the idle daemon); a function with
 * neither would be a no-op. history_instances() keeps the most seen, so a function in
 * both is sampled twice to the same effect. */
static void sample_functions(struct sfaasd *sf, int64_t now)
{
        pools_foreach_warm(sf, sample_warm, &now);
        for (struct history_fn *f = sf->history->fns; f; f = f->next)
                history_instances(sf->history, f->ns, f->name, pools_warm_instances(sf, f->ns, f->name), now);
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
                history_sample_host(sf, true, now);
                sample_functions(sf, now);
        }
        (void) uv_timer_start(t, on_sample, ms_to_next_slot(), 0);
}

void history_sampler_start(struct sfaasd *sf)
{
        struct history *h = sf->history;
        if (uv_timer_init(&sf->loop, &h->timer) < 0)
                return;
        h->timer.data = sf;
        h->timer_started = true;
        uv_unref((uv_handle_t *) &h->timer);
        /* The first CPU reading is the base of the first percentage. */
        history_sample_host(sf, true, history_now());
        (void) uv_timer_start(&h->timer, on_sample, ms_to_next_slot(), 0);
}

void history_sampler_close(struct sfaasd *sf)
{
        struct history *h = sf->history;
        if (!h->timer_started || uv_is_closing((uv_handle_t *) &h->timer))
                return;
        (void) uv_timer_stop(&h->timer);
        uv_close((uv_handle_t *) &h->timer, NULL);
}

/* ---- routes ---- */

/* Reals with 6 significant digits: seconds and percentages, not 17 digits
 * of float noise. */
