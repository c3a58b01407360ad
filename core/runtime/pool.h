/* SPDX-License-Identifier: MIT */
/*
 * Warm http-mode functions: per-function pools of long-lived sandboxes
 * (instances) that run the image's own HTTP server (an OpenFaaS watchdog or
 * the function itself), and the proxy that routes /function/NAME to them.
 *
 * Mode: annotation com.sfaasd.mode = http | exec; absent: http when the
 * image config exposes a TCP port, else exec. Port: com.sfaasd.port, else
 * the exposed port, else 8080.
 *
 * Reaching an instance: every instance keeps its own network namespace
 * with loopback only. The daemon holds an fd of that namespace and makes
 * its upstream sockets inside it (setns on the loop thread, socket(), setns
 * back): a socket stays in the namespace it was made in, so the daemon
 * connects to 127.0.0.1:PORT of the instance without a bridge or veth.
 * Upstream connections are kept alive and reused.
 *
 * Scaling: the pool's floor runs at all times: com.openfaas.scale.min
 * (default 1 as in OpenFaaS; 0 with com.openfaas.scale.zero "true"), or the
 * replicas of the last POST /system/scale-function (kept until the next
 * deploy or daemon restart). With a floor of 0 the first call starts an
 * instance (concurrent first calls wait for the same start) and the last
 * one stops after com.openfaas.scale.zero-duration idle. Between the floor
 * and the max the autoscaler (core/runtime/scale.c: rps, capacity, cpu)
 * starts and stops instances. com.openfaas.scale.max caps the instances;
 * com.sfaasd.max-inflight caps the calls per instance; calls that find no
 * capacity wait in a bounded queue (com.sfaasd.queue-max), a full queue
 * answers 429. Readiness: GET /_/health == 200 for watchdog images
 * (entrypoint named fwatchdog), else a TCP connect. A crashed instance is
 * replaced with exponential backoff. Stopping sends SIGTERM, waits the
 * grace period (com.sfaasd.grace-period), then kills.
 *
 * Everything here runs on the loop thread.
 */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "core/sfaasd.h"

struct pools;
struct pool;
struct instance;
struct upconn;
struct pcall;

/* ---- the daemon's side (core/daemon/daemon.c, the API) ---- */

int pools_new(struct sfaasd *sf);
/* After the loop and the HTTP server exist: start the floor (scale.min) of
 * every http-mode function. */
void pools_start(struct sfaasd *sf);
/* SIGTERM: stop every instance (SIGTERM, grace, kill); queued calls 503. */
void pools_shutdown(struct sfaasd *sf);
/* Grace period over: kill every instance now. */
void pools_kill_all(struct sfaasd *sf);
/* Instances alive and calls under way (shutdown waits for 0). */
size_t pools_busy(const struct sfaasd *sf);
/* Every sandbox slot is taken and someone waits for one (admit.h): stop
 * the warm instance idle longest above its pool's floor (or holding only
 * a default replica), unless instances already stopping will free enough. */
void pools_reclaim_idle(struct sfaasd *sf);
/* A call of namespace ns was refused for its instances quota: stop the
 * idle default replica (pool_internal.h, floor_default) of ns that was used
 * longest ago, so that a retry finds room. true when one is stopping. */
bool pools_reclaim_tenant_idle(struct sfaasd *sf, const char *ns);
/* Close the pools' handles (at exit, once pools_busy() is 0). */
void pools_close(struct sfaasd *sf);
void pools_free(struct sfaasd *sf);

/* A function was deployed, updated (its instances are replaced) or removed
 * (its instances stop). */
void pools_function_changed(struct sfaasd *sf, const char *ns, const char *name);
void pools_function_removed(struct sfaasd *sf, const char *ns, const char *name);

/*
 * The function table: every function called since the daemon started has a
 * record here (struct pool, in both modes), loaded from the store on first
 * use and reloaded when it changes (pools_function_changed): its mode and
 * recipe, and in http mode its warm instances and wait queue.
 */
enum fn_mode { FN_MODE_UNKNOWN = 0, FN_MODE_EXEC, FN_MODE_HTTP };
/* The function's record; NULL with *ret_status 404 (unknown function) or
 * 500 and the reason in err. */
struct pool *pool_get(struct sfaasd *sf, const char *ns, const char *name, int *ret_status, struct sf_err *err);
enum fn_mode pool_mode(const struct pool *p);
/* How sandboxes of the function are made. */
const struct fn_recipe *pool_recipe(const struct pool *p);
/* The loop thread's own network namespace (an fd the pools keep), to
 * come back to after making a socket in a sandbox's. */
int pools_self_netns(struct sfaasd *sf);
/* The thread that makes sandboxes off the loop (spawner.h), for instances
 * and exec calls alike; started by the first call. */
struct spawner;
int pools_spawner(struct sfaasd *sf, struct spawner **ret);

/* Proxy a call (/function/NAME[.NS][/sub]) to http-mode function p, from
 * the HTTP head callback: HTTP_HEAD_TAKEN when the proxy took the request (held, its body
 * streamed to an instance), HTTP_HEAD_ANSWERED when it was answered already (429, 503). */
int proxy_start(struct sfaasd *sf, struct http_request *req, struct pool *p);

/* Deploy-time check of the pool settings in a deployment's labels and
 * annotations (mode, port, scale.min/max, max-inflight, queue-max,
 * durations): -EINVAL with the key and the problem in err. */
int pools_check_meta(json_t *spec, struct sf_err *err);

/* POST /system/scale-function: set the floor and start or stop instances
 * now. -ENOENT unknown function; exec-mode functions accept and ignore it. */
int pools_scale(struct sfaasd *sf, const char *ns, const char *name, uint64_t replicas, struct sf_err *err);

/* Fill replicas, availableReplicas and the "sfaasd" extension object of a
 * FunctionStatus (with "autoscaling": type, target, targetProportion,
 * load, desiredReplicas, ... for http mode). */
void pools_status(struct sfaasd *sf, const char *ns, const char *name, json_t *st);

/* A text the API keeps with a function's record: the part of its status
 * that the stored record alone decides (GET /system/functions makes it
 * once per version instead of once per listing: at 10,000 functions the
 * listing spent a third of its time parsing and printing the same specs
 * again). Valid only for the stored spec src and creation time created;
 * NULL when none is kept for them. */
const char *pools_status_text(struct sfaasd *sf, const char *ns, const char *name, const char *src, int64_t created);
/* Keep a copy of text, made from src and created, for the function
 * (-ENOENT: the daemon has no record of it; -ENOMEM). */
int pools_status_text_keep(struct sfaasd *sf, const char *ns, const char *name, const char *src, int64_t created,
                           const char *text);

/* The same for the live part of the status (what pools_status() adds,
 * with the API's own input extra, the invocation count), which does not
 * change while the function has no instance and no call: kept only then
 * (the 9,000 scale-to-zero functions of bench/density), keyed by every
 * value it prints. NULL when none is kept for the values of now. */
const char *pools_status_live_text(struct sfaasd *sf, const char *ns, const char *name, uint64_t extra);
/* Keep a copy of text, made by pools_status() now; -EAGAIN when the
 * function's live status is not one that is kept (it has instances). */
int pools_status_live_keep(struct sfaasd *sf, const char *ns, const char *name, uint64_t extra, const char *text);

/* Warm instances (starting or ready) of an http-mode function; 0 otherwise. */
uint32_t pools_warm_instances(struct sfaasd *sf, const char *ns, const char *name);
/* fn for every http-mode function that has warm instances now, with their
 * number (the functions the daemon has a record of: every deployed one
 * that was loaded). */
typedef void (*pools_warm_fn)(struct sfaasd *sf, const char *ns, const char *name, uint32_t n, void *ctx);
void pools_foreach_warm(struct sfaasd *sf, pools_warm_fn fn, void *ctx);
/* gateway_service_count: instances of an http-mode function, 1 for exec mode. */
uint64_t pools_replicas(struct sfaasd *sf, const char *ns, const char *name);
/* The autoscaler of ns/name for GET /metrics (ret->http false for an
 * exec-mode or unknown function). */
struct metrics_scale;
void pools_scale_metrics(struct sfaasd *sf, const char *ns, const char *name, struct metrics_scale *ret);
/* For GET /metrics. */
struct pools_counts {
        size_t starting, ready, stopping, queued, inflight;
};
void pools_counts(const struct sfaasd *sf, struct pools_counts *ret);

