/* SPDX-License-Identifier: MIT */
/*
 * GET /metrics: the registry of core/runtime/metrics.h plus what a scrape
 * reads fresh (functions, replicas, instances, images, the queue, the
 * store's size), in the Prometheus text format. Open unless metrics_auth.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/api/api.h"
#include "core/api/throttle.h"
#include "core/base/cleanup.h"
#include "core/base/log.h"
#include "core/base/util.h"
#include "core/runtime/async.h"
#include "core/runtime/metrics.h"
#include "core/runtime/admit.h"
#include "core/runtime/pool.h"
#include "core/runtime/stock.h"
#include "core/sfaasd.h"
#include "store/async.h"

/* The database and its write-ahead log, in allocated bytes. */
static uint64_t db_usage(const struct sfaasd *sf)
{
        static const char *const names[] = { "sfaasd.db", "sfaasd.db-wal", "sfaasd.db-shm" };
        uint64_t total = 0;
        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                char path[PATH_MAX + 32];
                struct stat st;
                if (xsnprintf(path, sizeof path, "%s/%s", sf->cfg.data_dir, names[i]) < 0)
                        continue;
                if (stat(path, &st) == 0)
                        total += (uint64_t) st.st_blocks * 512;
        }
        return total;
}

/* "name.namespace" of every deployed function, NULL-terminated. */
static int list_services(struct sfaasd *sf, char ***ret)
{
        _cleanup_strv_free_ char **nss = NULL;
        char **v = NULL;
        size_t n = 0;
        int r = store_namespace_list(sf->store, &nss);
        if (r < 0)
                return r;
        v = calloc(1, sizeof *v);
        if (!v)
                return -ENOMEM;
        for (char **ns = nss; *ns; ns++) {
                struct store_function **fs = NULL;
                r = store_function_list(sf->store, *ns, &fs);
                if (r < 0)
                        goto fail;
                for (struct store_function **f = fs; *f; f++) {
                        char **nv = realloc(v, (n + 2) * sizeof *nv);
                        if (!nv) {
                                r = -ENOMEM;
                                store_function_list_free(fs);
                                goto fail;
                        }
                        v = nv;
                        v[n] = xasprintf("%s.%s", (*f)->name, *ns);
                        v[n + 1] = NULL;
                        if (!v[n]) {
                                r = -ENOMEM;
                                store_function_list_free(fs);
                                goto fail;
                        }
                        n++;
                }
                store_function_list_free(fs);
        }
        *ret = v;
        return 0;
fail:
        strv_free(v);
        return r;
}

void api_metrics(struct http_request *req, const struct route *rt)
{
        struct sfaasd *sf = api_sfaasd(req);
        struct metrics_gauges g = { 0 };
        _cleanup_strv_free_ char **services = NULL;
        _cleanup_free_ char *text = NULL;
        struct store_image **imgs = NULL;
        size_t len;
        int r;

        /* With metrics_auth, only the admin gets here (the route table). */
        /* A scrape that cannot read the store fails rather than exporting
         * partial numbers that look like a drop. */
        r = list_services(sf, &services);
        if (r < 0) {
                http_respond_error(req, 500, "cannot list functions: %s", strerror(-r));
                return;
        }
        r = store_image_list(sf->store, &imgs);
        if (r < 0) {
                http_respond_error(req, 500, "cannot list images: %s", strerror(-r));
                return;
        }
        for (struct store_image **p = imgs; *p; p++)
                g.images++;
        store_image_list_free(imgs);
        g.services = services;
        g.replicas = 1; /* exec mode: a function is always ready */
        {
                size_t n = 0;
                struct pools_counts pc;
                while (services[n])
                        n++;
                g.service_replicas = calloc(n + 1, sizeof *g.service_replicas);
                g.service_scale = calloc(n + 1, sizeof *g.service_scale);
                for (size_t i = 0; g.service_replicas && i < n; i++) {
                        char fn[160], *dot;
                        (void) xsnprintf(fn, sizeof fn, "%s", services[i]);
                        dot = strchr(fn, '.');
                        g.service_replicas[i] = 1;
                        if (dot) {
                                *dot = '\0';
                                g.service_replicas[i] = pools_replicas(sf, dot + 1, fn);
                                if (g.service_scale)
                                        pools_scale_metrics(sf, dot + 1, fn, &g.service_scale[i]);
                        }
                }
                pools_counts(sf, &pc);
                g.instances_starting = pc.starting;
                g.instances_ready = pc.ready;
                g.instances_stopping = pc.stopping;
                g.queued = pc.queued;
                g.in_flight = sf->n_invocations + pc.inflight + pc.queued;
        }
        g.exec_queued = sf->admit->exec_queued;
        g.instances_running = sf->n_invocations - g.exec_queued; /* exec mode: one sandbox per call */
        g.slots_used = sf->admit->running;
        g.slots_max = sf->admit->max;
        g.admission_refused = sf->admit->refused;
        {
                struct stock_counts sc;
                stock_counts(sf, &sc);
                g.stock_parked = sc.parked;
                g.stock_filling = sc.filling;
                g.stock_hits = sc.hits;
                g.stock_misses = sc.misses;
                g.stock_waits = sc.waits;
                g.stock_fills_ok = sc.fills_ok;
                g.stock_fills_failed = sc.fills_failed;
                g.stock_dropped = sc.dropped;
        }
        {
                uint64_t remembered;
                throttle_counts(sf->throttle, &remembered, &g.auth_blocked, &g.auth_refused);
        }
        g.async_running = sf->async->running;
        r = store_async_count(sf->store, "queued", &g.async_queued);
        if (r < 0) {
                http_respond_error(req, 500, "cannot count async calls: %s", strerror(-r));
                return;
        }
        if (sf->metrics->images_bytes_known) {
                g.have_store_bytes = true;
                g.store_bytes = db_usage(sf) + sf->metrics->images_bytes;
        }
        r = metrics_read_process(&g);
        if (r < 0)
                log_debug("cannot read process metrics: %s", strerror(-r));
        r = metrics_render(sf->metrics, &g, &text, &len);
        free(g.service_replicas);
        free(g.service_scale);
        if (r < 0) {
                http_respond_error(req, 500, "out of memory");
                return;
        }
        http_respond(req, 200, METRICS_CONTENT_TYPE, NULL, text, len);
}
