/* SPDX-License-Identifier: MIT */
/*
 * The last hour in memory, for the web console's charts: a ring of
 * HISTORY_SLOTS samples of HISTORY_STEP_S seconds per function (calls,
 * errors, p50 and p99 latency, warm instances, calls in flight) and one for
 * the host (calls, errors, sandboxes running, CPU busy, memory used).
 *
 * Nothing is written to disk: a restart starts an empty hour, as the
 * Prometheus counters in core/metrics.h start from zero. Slots are aligned
 * to the wall clock (slot number = unix seconds / HISTORY_STEP_S), so two
 * readers agree on the time of every sample; a clock stepped back keeps
 * writing into the newest slot until it catches up.
 *
 * Memory: a function gets its ring (about 8 KiB) at its first call or its
 * first warm instance, and loses it when it is removed; functions never
 * called cost nothing and read as zeros.
 *
 * Latency quantiles: each slot's calls go into a log-scale histogram of
 * HISTORY_BUCKETS buckets (0.1 ms to about 20 min, a factor sqrt(2) apart);
 * when the slot ends its p50 and p99 are kept (interpolated inside the
 * bucket, as Prometheus' histogram_quantile does) and the histogram is
 * cleared. A second histogram per function accumulates since the start, for
 * the totals the function list shows next to invocationCount.
 *
 * "errors" are calls answered with a status of 500 or more: the function
 * failed (exit status, crash, timeout, output cap) or could not be reached
 * (502, 503, 504). A 4xx is the function's own answer.
 *
 * The pure part (this header but history_sampler_*) takes the time as an
 * argument and is unit-tested in tests/unit/test_history.c; the routes and
 * the sampler timer are in core/runtime/history_sampler.c. Loop thread only.
 */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "core/base/htab.h"
#include "core/model/group.h"

#define HISTORY_STEP_S 10
#define HISTORY_SLOTS 360 /* one hour */
#define HISTORY_BUCKETS 48

struct history_slot {
        uint32_t calls, errors;
        float p50, p99;     /* seconds; < 0 when the slot had no call */
        uint16_t instances; /* warm instances (http mode), the most sampled */
        uint16_t inflight;  /* calls in flight, the most at once (exec mode: sandboxes) */
};

struct history_ring {
        int64_t head; /* slot number of slots[head % HISTORY_SLOTS]; 0: empty */
        struct history_slot slots[HISTORY_SLOTS];
        uint32_t hist[HISTORY_BUCKETS]; /* latencies of the head slot */
};

struct history_fn {
        struct history_fn *next;
        struct htab_node hnode; /* in the history's table by (ns, name) */
        char ns[FN_NAME_MAX], name[FN_NAME_MAX];
        uint32_t inflight; /* calls under way now */
        uint64_t total_calls, total_errors;
        uint64_t total_hist[HISTORY_BUCKETS];
        int64_t last_call; /* unix seconds of the last answer; 0: none */
        struct history_ring ring;
};

struct history_host_slot {
        uint32_t calls, errors;
        uint32_t sandboxes; /* sandboxes alive, the most sampled */
        float cpu;          /* percent of all CPUs busy; < 0: not sampled */
        uint64_t mem_used;  /* bytes (MemTotal - MemAvailable), the most sampled; 0: not sampled */
};

struct history_host {
        int64_t head;
        struct history_host_slot slots[HISTORY_SLOTS];
        uint64_t mem_total; /* bytes, from the last sample */
};

struct history {
        struct history_fn *fns;
        struct htab by_name;    /* the same, found in O(1) on every call */
        struct history_host host;
        /* core/runtime/history_sampler.c: the sampler and its last /proc/stat reading */
        uv_timer_t timer;
        bool timer_started;
        uint64_t cpu_busy, cpu_total;
};

void history_init(struct history *h);
/* The wall clock in unix seconds, the "now" the daemon passes below. */
int64_t history_now(void);
/* Frees every ring. The sampler timer must be closed (or never started). */
void history_release(struct history *h);

/* A call to function name in namespace ns began / was answered with code
 * after seconds, at unix time now. Out of memory: the call is not counted
 * (the charts are best effort; the Prometheus counters stay exact). */
void history_call_started(struct history *h, const char *ns, const char *name, int64_t now);
void history_call_finished(struct history *h, const char *ns, const char *name, int code, double seconds,
                           int64_t now);
/* Record the function's warm instances at now (the slot keeps the most). */
void history_instances(struct history *h, const char *ns, const char *name, uint32_t n, int64_t now);
/* Record host gauges at now: sandboxes alive, CPU busy percent (< 0:
 * unknown), memory used and total (0: unknown). */
void history_host_sample(struct history *h, uint32_t sandboxes, double cpu, uint64_t mem_used,
                         uint64_t mem_total, int64_t now);
/* The function was removed: drop its ring. */
void history_forget(struct history *h, const char *ns, const char *name);
/* The function's ring, or NULL when it has none. */
struct history_fn *history_find(struct history *h, const char *ns, const char *name);

/* The quantile q (0..1) of a histogram in seconds; < 0 when it is empty. */
double history_quantile(const uint32_t *hist, double q);
/* The bucket a latency goes to, and a bucket's upper bound in seconds
 * (exposed for the tests). */
unsigned history_bucket(double seconds);
double history_bucket_bound(unsigned i);

/*
 * JSON for GET /system/function/NAME/history (see README's HTTP API):
 *   {"name","namespace","step","start","calls":[],"errors":[],"p50":[],
 *    "p99":[],"instances":[],"inflight":[],"totals":{...}}
 * with HISTORY_SLOTS values per array, oldest first; the last one is the
 * slot under way. start is the unix time of the first slot. NULL: no memory.
 */
json_t *history_function_json(struct history *h, const char *ns, const char *name, int64_t now);
/* {"calls","errors","p50","p99","lastCall","inflight"} since the start (p50,
 * p99 and lastCall null when there was no call). NULL: no memory. */
json_t *history_totals_json(const struct history_fn *f);
/* JSON for GET /system/history: the host ring, the same layout with
 * "calls","errors","sandboxes","cpu","memoryUsed" and "memoryTotal". */
json_t *history_host_json(struct history *h, int64_t now);

struct sfaasd;
/* core/runtime/history_sampler.c: sample now the gauges of the host (with
 * cpu: the CPU busy since the last sample too) and of one function, into
 * the slot under way. */
void history_sample_host(struct sfaasd *sf, bool cpu, int64_t now);
void history_sample_function(struct sfaasd *sf, const char *ns, const char *name, int64_t now);
/* core/runtime/history_sampler.c: start the sampler (every HISTORY_STEP_S seconds, on
 * the slot boundaries); it never keeps the loop alive. */
void history_sampler_start(struct sfaasd *sf);
/* Close the sampler's timer (at shutdown, before the loop's last run). */
void history_sampler_close(struct sfaasd *sf);
