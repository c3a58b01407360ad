/* SPDX-License-Identifier: MIT */
/*
 * Prometheus metrics: a small registry embedded in struct sfaasd (no
 * globals) and its rendering in the text exposition format 0.0.4.
 *
 * The registry holds what only the moment of the event knows (invocation
 * outcomes and durations, sandbox starts, HTTP answers). Values that can be
 * read at scrape time (deployed functions, images, in-flight work, store and
 * process sizes) are not kept here: the GET /metrics handler reads them into
 * a struct metrics_gauges and passes it to metrics_render().
 *
 * Cardinality: function series exist only for functions that exist (an
 * unknown name answers 404 and is not counted) and are dropped when the
 * function is removed; HTTP series are bounded by method x status code.
 *
 * All calls are from the loop thread, except where noted.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "core/base/htab.h"

#define METRICS_MAX_BUCKETS 16
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

struct metrics_histogram {
        const double *bounds;          /* upper bounds, ascending, without +Inf */
        size_t n_bounds;               /* < METRICS_MAX_BUCKETS */
        uint64_t buckets[METRICS_MAX_BUCKETS]; /* per bucket, not cumulative;
                                                  [n_bounds] is the +Inf bucket */
        uint64_t count;
        double sum;
};

struct metrics_code {
        int code;
        uint64_t total;
        struct metrics_histogram seconds;
};

struct metrics_fn {
        struct metrics_fn *next;
        struct htab_node hnode;        /* in by_key, hash of (namespace, name) */
        char *key;                     /* "name.namespace" */
        uint64_t started;
        struct metrics_code *codes;
        size_t n_codes;
};

struct metrics_http {
        char method[16];
        int code;
        uint64_t total;
};

struct history;

struct metrics {
        struct metrics_fn *fns;        /* first seen first (the output's order) */
        struct metrics_fn *last;
        struct htab by_key;            /* the same, found in O(1) on every call */
        /* Calls are also counted into the console's last hour
         * (core/runtime/history.h) when set; NULL in the unit tests. */
        struct history *history;
        uint64_t sandbox_starts_ok, sandbox_starts_error;
        /* egress proxy connections by verdict (core/runtime/fn_egress.h) and bytes */
        uint64_t egress_conns[4];      /* allowed, denied, cap, error */
        uint64_t egress_bytes_up, egress_bytes_down;
        struct metrics_histogram sandbox_start_seconds;
        struct metrics_http *http;     /* sfaasd_http_requests_total */
        size_t n_http;
        /* The image folder's disk usage, computed on the thread pool at
         * start and after every import or delete (a walk per scrape would
         * stall the loop on a large store). */
        uv_work_t du_work;
        bool du_running, du_again, images_bytes_known;
        uint64_t images_bytes, du_result;
        int du_r;
};

/* What the scrape reads fresh; see api_metrics() in core/runtime/metrics.c. */
/* The autoscaler of one http-mode function (core/runtime/scale.c). */
struct metrics_scale {
        bool http;                     /* false: exec mode, no series */
        const char *type;              /* rps | capacity | cpu */
        double target;                 /* load per instance */
        double load;                   /* now, over the last second */
        uint64_t desired;              /* instances it wants */
};

struct metrics_gauges {
        char **services;               /* "name.namespace" of each deployed function, NULL-terminated */
        struct metrics_scale *service_scale; /* of services[i], or NULL */
        uint64_t replicas;             /* per function when service_replicas is NULL */
        uint64_t *service_replicas;    /* replicas of services[i] (http mode: its instances) */
        uint64_t in_flight;            /* invocations being answered */
        uint64_t instances_running;    /* exec-mode sandboxes alive (one per call) */
        uint64_t instances_starting;   /* http-mode instances by state */
        uint64_t instances_ready;
        uint64_t instances_stopping;
        uint64_t queued;               /* calls waiting for an http-mode instance */
        uint64_t exec_queued;          /* exec calls waiting for their turn (admit.h) */
        uint64_t slots_used, slots_max; /* sandboxes alive, and the daemon-wide cap */
        uint64_t admission_refused;    /* 429s for a full exec queue, since start */
        /* the exec stock (core/runtime/stock.h) */
        uint64_t stock_parked, stock_filling;  /* parked sandboxes now, being made now */
        uint64_t stock_hits, stock_misses;     /* exec calls served from it, or not, since start */
        uint64_t stock_waits;                  /* exec calls served by one being made when they came */
        uint64_t stock_fills_ok, stock_fills_failed, stock_dropped;
        uint64_t auth_blocked;         /* client addresses blocked for failed sign-ins now */
        uint64_t auth_refused;         /* 429s to blocked addresses, since start */
        uint64_t images;
        uint64_t async_queued;         /* accepted async calls waiting for a worker */
        uint64_t async_running;        /* async calls in sandboxes */
        bool have_store_bytes;
        uint64_t store_bytes;
        bool have_process;
        double process_start_time;     /* seconds since the epoch */
        uint64_t process_rss_bytes;
        uint64_t process_open_fds;
};

void metrics_init(struct metrics *m);
/* Frees the series. The du work must not be running (the loop has ended). */
void metrics_release(struct metrics *m);

/* gateway_function_invocation_started: a call to an existing function. */
void metrics_invocation_started(struct metrics *m, const char *name, const char *ns);
/* gateway_function_invocation_total and gateway_functions_seconds: the call
 * was answered with code after seconds. */
void metrics_invocation_finished(struct metrics *m, const char *name, const char *ns, int code, double seconds);
/* The sum over codes of gateway_function_invocation_total (invocationCount). */
uint64_t metrics_invocation_count(const struct metrics *m, const char *name, const char *ns);
/* The function was removed: drop its series. */
void metrics_forget_function(struct metrics *m, const char *name, const char *ns);
/* sfaasd_sandbox_starts_total and sfaasd_sandbox_start_seconds. */
void metrics_sandbox_start(struct metrics *m, bool ok, double seconds);
/* One egress connection ended with verdict ("allowed", "denied", "cap",
 * anything else: "error") and these bytes. */
void metrics_egress(struct metrics *m, const char *verdict, uint64_t up, uint64_t down);
/* sfaasd_http_requests_total: an answer with status to a request with method. */
void metrics_http_response(struct metrics *m, const char *method, int status);

/* Add seconds to a histogram (exposed for the unit tests). */
void metrics_histogram_observe(struct metrics_histogram *h, double seconds);

/* Render everything in the text format 0.0.4 into a new NUL-terminated
 * buffer. Returns 0 or -ENOMEM; *ret and *ret_len are written on success. */
int metrics_render(const struct metrics *m, const struct metrics_gauges *g, char **ret, size_t *ret_len);

struct sfaasd;
/* The images folder changed (import, delete): recompute its disk usage on
 * the thread pool. The last known value is exported meanwhile. */
void metrics_images_changed(struct sfaasd *sf);
/* Read process_* values from /proc/self. Returns 0 or -errno. */
int metrics_read_process(struct metrics_gauges *g);
