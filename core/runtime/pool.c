/* SPDX-License-Identifier: MIT */
/*
 * Pools of warm http-mode instances (see core/runtime/pool.h for the model).
 *
 * Ownership: struct pools hangs off struct sfaasd. A struct pool lives in
 * the lookup list until its function is removed, then until its last
 * instance and call are gone. A struct instance embeds four libuv handles
 * (pidfd poll, stdout and stderr pipes, timer) and is freed when the last
 * has closed; its sandbox is freed (cgroup removed) just before. A struct
 * upconn embeds its uv_tcp_t and is freed in its close callback; an
 * instance that goes away detaches its connections (uc->inst = NULL).
 */

#include "core/api/api.h"
#include "core/runtime/pool_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/base/cleanup.h"
#include "core/base/log.h"
#include "core/base/util.h"
#include "core/model/group.h"
#include "core/model/recipe.h"
#include "core/model/secret_files.h"
#include "core/runtime/logs.h"
#include "core/runtime/metrics.h"
#include "core/runtime/spawner.h"
#include "core/runtime/tenants.h"
#include "core/runtime/usage.h"

#define POOL_MAX_IDLE_CONNS 256
#define POOL_BACKOFF_MIN_MS 100
#define POOL_BACKOFF_MAX_MS 10000
#define POOL_STABLE_MS 10000      /* ready this long before a crash: no backoff */
#define POOL_TICK_MS 100
/* The tick's pools are split in slices, one handled every POOL_TICK_MS /
 * POOL_TICK_SLICES: each pool still ticks every POOL_TICK_MS, and the loop
 * stops for a tenth of the pools at a time (1,000 warm functions took the
 * loop for about 0.8 ms every 100 ms, in the p99 of their calls:
 * bench/density). */
#define POOL_TICK_SLICES 10

struct pools {
        struct sfaasd *sf;
        struct pool *list;        /* live functions */
        struct htab by_name;      /* the same, by (ns, name) */
        struct list_head slices[POOL_TICK_SLICES]; /* the same, by tick slice (pool tnode) */
        unsigned slice_next;      /* the slice of the next tick */
        unsigned slice_new;       /* the slice of the next pool made */
        struct list_head starting; /* instances in INST_STARTING (instance snode) */
        struct pool *dead;        /* removed, draining */
        int self_netns;           /* the loop thread's own network namespace */
        uv_timer_t tick;
        bool tick_started, closed;
        /* Fast readiness probes: a 200 us periodic timerfd, armed while an
         * instance is young (libuv timers have 1 ms steps; spinning on the
         * loop would take the CPU the starting instance needs). */
        int probe_tfd;
        struct spawner *spawner;   /* sandboxes made off the loop (spawner.h), from the first start: pools_spawner */
        uv_poll_t probe_poll;
        bool probe_armed, probe_poll_open;
        size_t instances;         /* alive (not yet reaped) */
        size_t calls;             /* pcalls not yet freed */
        struct pcall *free_calls; /* ended, kept for reuse */
        size_t n_free_calls;
        uint64_t recipe_gen;      /* the last fn_recipe.generation given */
        /* One read buffer for every upstream connection and instance pipe:
         * libuv calls a read callback before it reads another stream, and
         * what a read brings is copied before it returns. */
        char rbuf[65536];
};

#define POOL_FREE_CALLS_MAX 256

static void instance_stop(struct instance *inst, uint64_t grace_ms, enum inst_stop why);
static void pcall_closed(uv_handle_t *h);
static void probe_start(struct instance *inst);
static void pool_ensure(struct pool *p);

/* ---- settings from labels and annotations ---- */

static bool meta_u32(const struct fn_recipe *r, const char *key, uint32_t *v)
{
        const char *s = fn_recipe_meta(r, key);
        uint64_t n;
        if (!s || parse_u64(s, &n) < 0 || n > UINT32_MAX)
                return false;
        *v = (uint32_t) n;
        return true;
}

static bool meta_ms(const struct fn_recipe *r, const char *key, uint64_t *v)
{
        const char *s = fn_recipe_meta(r, key);
        uint64_t n;
        if (!s || parse_duration_ms(s, &n) < 0)
                return false;
        *v = n;
        return true;
}

/* The value of K in the function's environment (image Env, then its
 * envVars), or NULL. */
static const char *recipe_env(const struct fn_recipe *r, const char *k)
{
        size_t kl = strlen(k);

        for (size_t i = 0; i < r->env.n; i++)
                if (strncmp(r->env.v[i], k, kl) == 0 && r->env.v[i][kl] == '=')
                        return r->env.v[i] + kl + 1;
        return NULL;
}

/* of-watchdog in http mode (env mode=http) forwards every call to the
 * server it starts, at upstream_url (http_upstream_url): "http://127.0.0.1:
 * 8082" in the templates. Its GET /_/health answers 200 as soon as its lock
 * file exists, which can be before that server listens: a call in between
 * gets 500 "Upstream HTTP request error: ... connection refused". The
 * upstream's port on the instance's loopback, else 0 (another mode, or an
 * upstream elsewhere, which sfaasd cannot see into). */
static uint16_t watchdog_upstream_port(const struct fn_recipe *r)
{
        const char *mode = recipe_env(r, "mode");
        const char *url = recipe_env(r, "upstream_url");
        static const char *const hosts[] = { "http://127.0.0.1:", "http://localhost:" };
        uint64_t port;

        if (!url || !*url)
                url = recipe_env(r, "http_upstream_url");
        if (!mode || strcmp(mode, "http") != 0 || !url)
                return 0;
        for (size_t i = 0; i < ELEMENTSOF(hosts); i++) {
                char digits[8];
                size_t n;

                if (!str_startswith(url, hosts[i]))
                        continue;
                n = strspn(url + strlen(hosts[i]), "0123456789");
                if (n == 0 || n >= sizeof digits)
                        return 0;
                memcpy(digits, url + strlen(hosts[i]), n);
                digits[n] = '\0';
                if (parse_u64(digits, &port) < 0 || port == 0 || port > 65535)
                        return 0;
                return (uint16_t) port;
        }
        return 0;
}

/* What a readiness path may hold: it goes into a request line as is. */
#define HEALTH_PATH_CHARS                                                                   \
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~/%!$&'()*+,;=:@?"

static void pool_configure(struct pool *p, struct fn_recipe *r)
{
        const struct sfaasd_config *cfg = &p->sf->cfg;
        const char *mode = fn_recipe_meta(r, "com.sfaasd.mode");
        const char *zero = fn_recipe_meta(r, "com.openfaas.scale.zero");
        uint32_t port = 0;
        const char *arg0, *slash;

        if (mode && strcmp(mode, "http") == 0)
                p->mode = FN_MODE_HTTP;
        else if (mode && strcmp(mode, "exec") == 0)
                p->mode = FN_MODE_EXEC;
        else
                p->mode = r->exposed_port ? FN_MODE_HTTP : FN_MODE_EXEC;
        if (!meta_u32(r, "com.sfaasd.port", &port) || port == 0 || port > 65535)
                port = r->exposed_port ? r->exposed_port : 8080;
        p->port = (uint16_t) port;
        arg0 = r->argv.n ? r->argv.v[0] : "";
        slash = strrchr(arg0, '/');
        p->watchdog = strcmp(slash ? slash + 1 : arg0, "fwatchdog") == 0;
        p->upstream_port = p->watchdog ? watchdog_upstream_port(r) : 0;
        if (p->upstream_port == p->port)
                p->upstream_port = 0;
        (void) xsnprintf(p->health_path, sizeof p->health_path, "%s",
                         fn_recipe_meta(r, "com.openfaas.health.http.path") ?: "");
        p->initial_delay_ms = 0;
        (void) meta_ms(r, "com.openfaas.health.http.initialDelay", &p->initial_delay_ms);
        /* OpenFaaS starts every function with one replica; scale to zero
         * (none until the first call) only where the function asks for it
         * with com.openfaas.scale.zero: "true". */
        p->min = zero && (strcmp(zero, "true") == 0 || strcmp(zero, "1") == 0) ? 0 : 1;
        p->floor_default = !meta_u32(r, "com.openfaas.scale.min", &p->min) && p->min > 0;
        p->max = (uint32_t) cfg->http_max_instances;
        (void) meta_u32(r, "com.openfaas.scale.max", &p->max);
        if (p->max == 0)
                p->max = 1;
        if (p->min > p->max)
                p->min = p->max;
        p->max_inflight = 0;
        (void) meta_u32(r, "com.sfaasd.max-inflight", &p->max_inflight);
        p->queue_max = (uint32_t) cfg->http_queue_max;
        (void) meta_u32(r, "com.sfaasd.queue-max", &p->queue_max);
        p->idle_ms = cfg->http_idle_ms;
        (void) meta_ms(r, "com.openfaas.scale.zero-duration", &p->idle_ms);
        p->scale_zero = !(zero && (strcmp(zero, "false") == 0 || strcmp(zero, "0") == 0));
        p->timeout_ms = cfg->http_timeout_ms;
        (void) meta_ms(r, "com.sfaasd.timeout", &p->timeout_ms);
        p->grace_ms = cfg->http_grace_ms;
        (void) meta_ms(r, "com.sfaasd.grace-period", &p->grace_ms);
        p->floor = p->min;
        scale_configure(p, r);
}

int pools_check_meta(json_t *spec, struct sf_err *err)
{
        static const char *const counts[] = { "com.openfaas.scale.min", "com.openfaas.scale.max",
                                              "com.sfaasd.max-inflight", "com.sfaasd.queue-max", "com.sfaasd.port" };
        static const char *const durations[] = { "com.openfaas.scale.zero-duration", "com.sfaasd.timeout",
                                                  "com.sfaasd.grace-period", "com.openfaas.health.http.initialDelay" };
        struct fn_recipe r = { .spec = spec };
        const char *v;
        uint64_t n, min = 0, max = 0;
        bool have_min = false, have_max = false;

        v = fn_recipe_meta(&r, "com.sfaasd.mode");
        if (v && strcmp(v, "http") != 0 && strcmp(v, "exec") != 0)
                return sf_err_set(err, -EINVAL, "com.sfaasd.mode must be 'http' or 'exec', not '%.32s'", v);
        for (size_t i = 0; i < ELEMENTSOF(counts); i++) {
                v = fn_recipe_meta(&r, counts[i]);
                if (!v)
                        continue;
                if (parse_u64(v, &n) < 0 || n > 100000)
                        return sf_err_set(err, -EINVAL, "%s must be a whole number (0 to 100000), not '%.32s'",
                                          counts[i], v);
                if (i == 0)
                        min = n, have_min = true;
                if (i == 1)
                        max = n, have_max = true;
                if (i == 1 && n == 0)
                        return sf_err_set(err, -EINVAL, "com.openfaas.scale.max must be at least 1");
                if (i == 4 && (n == 0 || n > 65535))
                        return sf_err_set(err, -EINVAL, "com.sfaasd.port must be a TCP port (1 to 65535)");
        }
        if (have_min && have_max && min > max)
                return sf_err_set(err, -EINVAL, "com.openfaas.scale.min (%llu) is above com.openfaas.scale.max (%llu)",
                                  (unsigned long long) min, (unsigned long long) max);
        for (size_t i = 0; i < ELEMENTSOF(durations); i++) {
                v = fn_recipe_meta(&r, durations[i]);
                if (v && parse_duration_ms(v, &n) < 0)
                        return sf_err_set(err, -EINVAL, "%s must be a duration such as '30s' or '500ms', not '%.32s'",
                                          durations[i], v);
        }
        v = fn_recipe_meta(&r, "com.openfaas.health.http.path");
        if (v && (v[0] != '/' || strlen(v) >= POOL_HEALTH_PATH_MAX || strspn(v, HEALTH_PATH_CHARS) != strlen(v)))
                return sf_err_set(err, -EINVAL,
                                  "com.openfaas.health.http.path must be a path such as '/_/ready' (at most %d "
                                  "characters, no spaces), not '%.32s'",
                                  POOL_HEALTH_PATH_MAX - 1, v);
        v = fn_recipe_meta(&r, "com.openfaas.scale.zero");
        if (v && strcmp(v, "true") != 0 && strcmp(v, "false") != 0 && strcmp(v, "1") != 0 && strcmp(v, "0") != 0)
                return sf_err_set(err, -EINVAL, "com.openfaas.scale.zero must be 'true' or 'false', not '%.32s'", v);
        return scale_check_meta(&r, err);
}

/* (Re)read the function. -ENOENT when it is gone. */
static int pool_load(struct pool *p, int *ret_status, struct sf_err *err)
{
        struct fn_recipe *r = calloc(1, sizeof *r);
        int ret;

        if (!r)
                return -ENOMEM;
        ret = fn_recipe_load(p->sf, p->ns, p->name, r, ret_status, err);
        if (ret < 0) {
                fn_recipe_release(r);
                free(r);
                return ret;
        }
        if (p->recipe) {
                fn_recipe_release(p->recipe);
                free(p->recipe);
        }
        p->recipe = r;
        r->generation = ++p->sf->pools->recipe_gen;
        pool_configure(p, r);
        return 0;
}

static struct pool *pool_find(struct pools *ps, const char *ns, const char *name)
{
        uint64_t h = htab_hash2(ns, name);
        struct htab_node *n;

        htab_for_each_hash(n, &ps->by_name, h) {
                struct pool *p = htab_entry(n, struct pool, hnode);
                if (strcmp(p->name, name) == 0 && strcmp(p->ns, ns) == 0)
                        return p;
        }
        return NULL;
}

/* The pool's turn for a sandbox slot (admit.h): take it for the next
 * instance it starts, and start as many as it still wants. */
static bool pool_slot_ready(struct admit_waiter *w)
{
        struct pool *p = (struct pool *) ((char *) w - offsetof(struct pool, waiter));

        if (p->removed || p->sf->stopping)
                return true; /* nothing to start any more: it stops waiting */
        if (!admit_take_waiting(p->sf))
                return false;
        p->slot_reserved = true;
        pool_dispatch(p);
        if (p->slot_reserved) {
                /* Wanted none after all (its queue emptied meanwhile). */
                p->slot_reserved = false;
                admit_release(p->sf);
        }
        return true;
}

static struct pool *pool_new(struct pools *ps, const char *ns, const char *name)
{
        struct pool *p = calloc(1, sizeof *p);
        if (!p)
                return NULL;
        p->sf = ps->sf;
        list_init(&p->instances);
        list_init(&p->queue);
        (void) xsnprintf(p->ns, sizeof p->ns, "%s", ns);
        (void) xsnprintf(p->name, sizeof p->name, "%s", name);
        p->waiter.ready = pool_slot_ready;
        if (htab_add(&ps->by_name, &p->hnode, htab_hash2(p->ns, p->name)) < 0) {
                free(p);
                return NULL;
        }
        p->next = ps->list;
        ps->list = p;
        list_add_tail(&ps->slices[ps->slice_new++ % POOL_TICK_SLICES], &p->tnode);
        return p;
}

/* The pool of ns/name, loaded on first use. NULL with *ret_status/err set. */
struct pool *pool_get(struct sfaasd *sf, const char *ns, const char *name, int *ret_status, struct sf_err *err)
{
        struct pools *ps = sf->pools;
        struct pool *p = pool_find(ps, ns, name);
        if (p && p->mode != FN_MODE_UNKNOWN)
                return p;
        if (!p && !(p = pool_new(ps, ns, name))) {
                *ret_status = 500;
                sf_err_set(err, -ENOMEM, "out of memory");
                return NULL;
        }
        if (pool_load(p, ret_status, err) < 0)
                return NULL; /* an empty pool stays in the list; loaded again next time */
        return p;
}

uint32_t pools_warm_instances(struct sfaasd *sf, const char *ns, const char *name)
{
        struct pool *p = pool_lookup(sf, ns, name);
        return p && p->mode == FN_MODE_HTTP ? (uint32_t) (p->n_starting + p->n_ready) : 0;
}

void pools_foreach_warm(struct sfaasd *sf, pools_warm_fn fn, void *ctx)
{
        for (struct pool *p = sf->pools->list; p; p = p->next)
                if (p->mode == FN_MODE_HTTP && p->n_starting + p->n_ready > 0)
                        fn(sf, p->ns, p->name, (uint32_t) (p->n_starting + p->n_ready), ctx);
}

enum fn_mode pool_mode(const struct pool *p)
{
        return p->mode;
}

const struct fn_recipe *pool_recipe(const struct pool *p)
{
        return p->recipe;
}

struct pool *pool_lookup(struct sfaasd *sf, const char *ns, const char *name)
{
        int status;
        struct sf_err err = { 0 };
        return pool_get(sf, ns, name, &status, &err);
}

static void pool_status_text_drop(struct pool *p)
{
        free(p->st_text);
        free(p->st_src);
        free(p->st_live_key);
        free(p->st_live_text);
        p->st_text = p->st_src = p->st_live_text = NULL;
        p->st_live_key = NULL;
}

/* The inputs of pools_status() for p (pool_internal.h); false when its
 * status is not kept: it has instances (their list changes call by
 * call: state, inflight) or is not loaded. */
static bool pool_live_key(const struct pool *p, uint64_t extra, struct pool_live_key *k)
{
        const struct scaler *sc = &p->sc;

        memset(k, 0, sizeof *k);
        if (p->mode == FN_MODE_UNKNOWN || !list_empty(&p->instances))
                return false;
        k->extra = extra;
        k->mode = p->mode;
        k->port = p->port;
        k->n_starting = p->n_starting;
        k->n_ready = p->n_ready;
        k->queued = p->queued;
        k->restarts = p->restarts;
        memcpy(k->last_error, p->last_error, strnlen(p->last_error, sizeof k->last_error - 1));
        k->type = sc->type;
        k->type_default = sc->type_default;
        k->target = sc->target;
        k->proportion = sc->proportion;
        k->load = sc->load;
        k->desired = sc->desired;
        k->floor = p->floor;
        k->max = p->max;
        k->down_window_ms = sc->down_window_ms;
        k->ups = sc->ups;
        k->downs = sc->downs;
        k->held = sc->held;
        return true;
}

const char *pools_status_live_text(struct sfaasd *sf, const char *ns, const char *name, uint64_t extra)
{
        struct pool *p = pool_find(sf->pools, ns, name);
        struct pool_live_key k;

        if (!p || !p->st_live_text || !pool_live_key(p, extra, &k) || memcmp(&k, p->st_live_key, sizeof k) != 0)
                return NULL;
        return p->st_live_text;
}

int pools_status_live_keep(struct sfaasd *sf, const char *ns, const char *name, uint64_t extra, const char *text)
{
        struct pool *p = pool_find(sf->pools, ns, name);
        struct pool_live_key *k;
        char *t;

        if (!p)
                return -ENOENT;
        k = malloc(sizeof *k);
        if (!k)
                return -ENOMEM;
        if (!pool_live_key(p, extra, k)) {
                free(k);
                return -EAGAIN;
        }
        t = strdup(text);
        if (!t) {
                free(k);
                return -ENOMEM;
        }
        free(p->st_live_key);
        free(p->st_live_text);
        p->st_live_key = k;
        p->st_live_text = t;
        return 0;
}

const char *pools_status_text(struct sfaasd *sf, const char *ns, const char *name, const char *src, int64_t created)
{
        struct pool *p = pool_find(sf->pools, ns, name);

        if (!p || !p->st_text || p->st_created != created || strcmp(p->st_src, src) != 0)
                return NULL;
        return p->st_text;
}

int pools_status_text_keep(struct sfaasd *sf, const char *ns, const char *name, const char *src, int64_t created,
                           const char *text)
{
        struct pool *p = pool_find(sf->pools, ns, name);
        char *t, *s;

        if (!p)
                return -ENOENT;
        t = strdup(text);
        s = strdup(src);
        if (!t || !s) {
                free(t);
                free(s);
                return -ENOMEM;
        }
        pool_status_text_drop(p);
        p->st_text = t;
        p->st_src = s;
        p->st_created = created;
        return 0;
}

static void pool_free(struct pool *p)
{
        pool_status_text_drop(p);
        admit_unwait(p->sf, &p->waiter);
        if (p->slot_reserved)
                admit_release(p->sf);
        if (p->recipe) {
                fn_recipe_release(p->recipe);
                free(p->recipe);
        }
        free(p);
}

/* A removed pool goes when nothing refers to it any more. */
void pool_unref(struct pool *p)
{
        struct pools *ps = p->sf->pools;
        if (!p->removed || p->n_structs || p->calls)
                return;
        for (struct pool **pp = &ps->dead; *pp; pp = &(*pp)->next)
                if (*pp == p) {
                        *pp = p->next;
                        break;
                }
        /* Its last sandbox is gone: the function's cgroup can go too. */
        if (!pool_find(ps, p->ns, p->name))
                usage_group_remove(p->sf, p->ns, p->name);
        pool_free(p);
}

/* ---- the wait queue ---- */

void pool_enqueue(struct pool *p, struct pcall *pc)
{
        list_add_tail(&p->queue, &pc->qnode);
        pc->queued = true;
        p->queued++;
}

void pool_dequeue(struct pool *p, struct pcall *pc)
{
        if (!pc->queued)
                return;
        list_del(&pc->qnode);
        pc->queued = false;
        p->queued--;
}

/* ---- upstream connections ---- */

static void up_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
        struct pools *ps = h->loop->data ? ((struct sfaasd *) h->loop->data)->pools : NULL;
        (void) suggested;
        buf->base = ps ? ps->rbuf : NULL;
        buf->len = ps ? sizeof ps->rbuf : 0;
}

static void upconn_unlink(struct upconn *uc)
{
        struct instance *inst = uc->inst;
        if (!inst)
                return;
        if (uc->idle) {
                for (struct upconn **pp = &inst->idle; *pp; pp = &(*pp)->next)
                        if (*pp == uc) {
                                *pp = uc->next;
                                break;
                        }
                uc->idle = false;
                inst->n_idle--;
        }
        list_del(&uc->anode);
        if (inst->probe == uc)
                inst->probe = NULL;
        uc->inst = NULL;
}

static void upconn_closed(uv_handle_t *h)
{
        free(h->data);
}

void upconn_close(struct upconn *uc)
{
        if (uc->closing)
                return;
        uc->closing = true;
        upconn_unlink(uc);
        uc->call = NULL;
        uv_close((uv_handle_t *) &uc->tcp, upconn_closed);
}

static void on_up_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf);
static void probe_read(struct upconn *uc, ssize_t n, const char *data);

void upconn_pause(struct upconn *uc, bool pause)
{
        if (uc->closing)
                return;
        if (pause)
                (void) uv_read_stop((uv_stream_t *) &uc->tcp);
        else
                (void) uv_read_start((uv_stream_t *) &uc->tcp, up_alloc, on_up_read);
}

static void on_up_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
        struct upconn *uc = s->data;
        if (uc->call)
                proxy_upstream_read(uc->call, n, buf->base);
        else if (uc->probe)
                probe_read(uc, n, buf->base);
        else if (n != 0)
                upconn_close(uc); /* idle: the instance closed it, or spoke out of turn */
}

struct up_write {
        uv_write_t w;
        struct upconn *uc;
        char data[];
};

static void on_up_written(uv_write_t *w, int status)
{
        struct up_write *uw = (struct up_write *) w;
        struct upconn *uc = uw->uc;
        free(uw);
        if (status < 0 || uc->closing)
                return; /* the read side reports the failure */
        if (uc->call && uv_stream_get_write_queue_size((uv_stream_t *) &uc->tcp) < HTTP_DRAIN_BYTES)
                proxy_upstream_drained(uc->call);
}

int upconn_write(struct upconn *uc, const char *a, size_t alen, const char *b, size_t blen, const char *c,
                 size_t clen)
{
        struct up_write *uw;
        size_t total = alen + blen + clen;
        uv_buf_t buf;

        if (uc->closing)
                return -EPIPE;
        if (total == 0)
                return 0;
        if (uc->connected && uv_stream_get_write_queue_size((uv_stream_t *) &uc->tcp) == 0) {
                /* Most requests fit the socket buffer: written now, with no
                 * copy, no callback and no epoll_ctl for a drain. */
                uv_buf_t bufs[3] = { uv_buf_init((char *) a, (unsigned) alen), uv_buf_init((char *) b, (unsigned) blen),
                                     uv_buf_init((char *) c, (unsigned) clen) };
                int w = uv_try_write((uv_stream_t *) &uc->tcp, bufs, 3);
                size_t done = w > 0 ? (size_t) w : 0;
                if (w < 0 && w != UV_EAGAIN)
                        return -EPIPE;
                if (done == total)
                        return 0;
                /* The rest goes through the write queue. */
                {
                        size_t skip = done;
                        const char *parts[3] = { a, b, c };
                        size_t lens[3] = { alen, blen, clen };
                        for (int i = 0; i < 3; i++) {
                                size_t k = skip < lens[i] ? skip : lens[i];
                                parts[i] += k;
                                lens[i] -= k;
                                skip -= k;
                        }
                        a = parts[0], alen = lens[0], b = parts[1], blen = lens[1], c = parts[2], clen = lens[2];
                        total -= done;
                }
        }
        uw = malloc(sizeof *uw + total);
        if (!uw)
                return -ENOMEM;
        uw->uc = uc;
        if (alen)
                memcpy(uw->data, a, alen);
        if (blen)
                memcpy(uw->data + alen, b, blen);
        if (clen)
                memcpy(uw->data + alen + blen, c, clen);
        buf = uv_buf_init(uw->data, (unsigned) total);
        if (uv_write(&uw->w, (uv_stream_t *) &uc->tcp, &buf, 1, on_up_written) < 0) {
                free(uw);
                return -EPIPE;
        }
        return 0;
}

static void probe_connected(struct upconn *uc, int status);

static void on_up_connect(uv_connect_t *creq, int status)
{
        struct upconn *uc = creq->data;
        if (uc->closing)
                return;
        if (status == 0) {
                uc->connected = true;
                (void) uv_read_start((uv_stream_t *) &uc->tcp, up_alloc, on_up_read);
        }
        if (uc->probe)
                probe_connected(uc, status);
        else if (uc->call)
                proxy_upstream_connected(uc->call, status);
        else
                upconn_close(uc);
}

/* A socket made inside the instance's network namespace, connecting to its
 * loopback port. The loop thread enters the namespace only for socket(). */
static struct upconn *upconn_open_port(struct instance *inst, uint16_t port);

struct upconn *upconn_open(struct instance *inst)
{
        return upconn_open_port(inst, inst->pool->port);
}

static struct upconn *upconn_open_port(struct instance *inst, uint16_t port)
{
        struct pools *ps = inst->pool->sf->pools;
        struct sockaddr_in sa = { .sin_family = AF_INET };
        struct upconn *uc;
        int fd, e;

        if (inst->gone || inst->netns_fd < 0) {
                errno = ECONNREFUSED;
                return NULL;
        }
        uc = calloc(1, sizeof *uc);
        if (!uc)
                return NULL;
        if (setns(inst->netns_fd, CLONE_NEWNET) < 0) {
                e = errno;
                free(uc);
                errno = e;
                return NULL;
        }
        fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        e = errno;
        if (setns(ps->self_netns, CLONE_NEWNET) < 0) {
                /* The loop thread would serve every later client from the
                 * instance's namespace: never go on like that. */
                log_error_errno(-errno, "cannot return to the daemon's network namespace");
                abort();
        }
        if (fd < 0) {
                free(uc);
                errno = e;
                return NULL;
        }
        uv_tcp_init(&inst->pool->sf->loop, &uc->tcp);
        uc->tcp.data = uc;
        uc->creq.data = uc;
        if (uv_tcp_open(&uc->tcp, fd) < 0) {
                (void) close(fd);
                uc->closing = true;
                uv_close((uv_handle_t *) &uc->tcp, upconn_closed);
                errno = EIO;
                return NULL;
        }
        (void) uv_tcp_nodelay(&uc->tcp, 1);
        uc->inst = inst;
        list_add_head(&inst->conns, &uc->anode);
        sa.sin_port = htons(port);
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        e = uv_tcp_connect(&uc->creq, &uc->tcp, (struct sockaddr *) &sa, on_up_connect);
        if (e < 0) {
                upconn_close(uc);
                errno = -e;
                return NULL;
        }
        return uc;
}

void upconn_release(struct upconn *uc)
{
        struct instance *inst = uc->inst;
        uc->call = NULL;
        if (uc->closing)
                return;
        if (!inst || inst->gone || inst->state == INST_STOPPING || !uc->reusable ||
            inst->n_idle >= POOL_MAX_IDLE_CONNS) {
                upconn_close(uc);
                return;
        }
        /* Keep reading: an idle connection the instance closes is noticed. */
        (void) uv_read_start((uv_stream_t *) &uc->tcp, up_alloc, on_up_read);
        uc->idle = true;
        uc->next = inst->idle;
        inst->idle = uc;
        inst->n_idle++;
}

/* ---- instances ---- */

static void instance_closed(uv_handle_t *h)
{
        struct instance *inst = h->data;
        struct pool *p = inst->pool;
        struct pools *ps = p->sf->pools;

        if (--inst->open_handles > 0)
                return;
        sandbox_free(inst->sb);
        if (inst->counted)
                tenants_instance_end(p->sf, p->ns);
        admit_release(p->sf); /* every instance struct holds a sandbox slot */
        if (inst->netns_own >= 0)
                (void) close(inst->netns_own);
        free(inst->outl.buf);
        free(inst->errl.buf);
        fn_egress_stop(&inst->egress);
        free(inst);
        ps->instances--;
        p->n_structs--;
        pool_unref(p);
}

static void instance_close_handle(struct instance *inst, uv_handle_t *h)
{
        if (!uv_is_closing(h))
                uv_close(h, instance_closed);
}

/* Lines of the instance's stdout/stderr into the function's log, cut at
 * LINEBUF_MAX as they always were: a chunk of up to LINEBUF_MAX bytes
 * (after what is pending, if anything) is logged up to its last newline,
 * or whole when it is full without one; the rest waits for more. While
 * nothing is pending, lines are logged from the read itself and only a
 * partial line at its end is copied (into a buffer made then, and freed
 * once it is logged). */
static void linebuf_log(struct instance *inst, const char *data, size_t n)
{
        struct pool *p = inst->pool;
        logs_append(p->sf->logs, p->ns, p->name, inst->id, data, n);
}

static void linebuf_feed(struct instance *inst, struct linebuf *lb, const char *data, size_t n, bool flush)
{
        while (n > 0) {
                size_t take, upto;
                const char *nl;

                if (lb->len == 0) {
                        take = n < LINEBUF_MAX ? n : LINEBUF_MAX;
                        nl = memrchr(data, '\n', take);
                        upto = nl ? (size_t) (nl - data) + 1 : (take == LINEBUF_MAX ? take : 0);
                        if (!upto && !lb->buf && !(lb->buf = malloc(LINEBUF_MAX)))
                                upto = take; /* out of memory: the partial line is logged as one */
                        if (upto) {
                                linebuf_log(inst, data, upto);
                                data += upto;
                                n -= upto;
                                continue;
                        }
                        memcpy(lb->buf, data, take);
                        lb->len = take;
                        data += take;
                        n -= take;
                        continue;
                }
                take = LINEBUF_MAX - lb->len < n ? LINEBUF_MAX - lb->len : n;
                memcpy(lb->buf + lb->len, data, take);
                lb->len += take;
                data += take;
                n -= take;
                nl = memrchr(lb->buf, '\n', lb->len);
                upto = nl ? (size_t) (nl - lb->buf) + 1 : (lb->len == LINEBUF_MAX ? lb->len : 0);
                if (upto) {
                        linebuf_log(inst, lb->buf, upto);
                        memmove(lb->buf, lb->buf + upto, lb->len - upto);
                        lb->len -= upto;
                }
        }
        if (flush && lb->len) {
                linebuf_log(inst, lb->buf, lb->len);
                lb->len = 0;
        }
        if (lb->len == 0) {
                free(lb->buf);
                lb->buf = NULL;
        }
}

static void on_inst_output(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
        struct instance *inst = s->data;
        struct linebuf *lb = s == (uv_stream_t *) &inst->out ? &inst->outl : &inst->errl;
        if (n > 0) {
                linebuf_feed(inst, lb, buf->base, (size_t) n, false);
        } else if (n < 0) {
                linebuf_feed(inst, lb, NULL, 0, true);
                instance_close_handle(inst, (uv_handle_t *) s);
        }
}

static void counts_leave(struct instance *inst)
{
        struct pool *p = inst->pool;
        switch (inst->state) {
        case INST_STARTING:
                p->n_starting--;
                list_del(&inst->snode);
                break;
        case INST_READY: p->n_ready--; break;
        case INST_STOPPING: p->n_stopping--; break;
        }
}

static void instance_set_state(struct instance *inst, enum inst_state st)
{
        struct pool *p = inst->pool;
        counts_leave(inst);
        inst->state = st;
        switch (st) {
        case INST_STARTING:
                p->n_starting++;
                list_add_tail(&p->sf->pools->starting, &inst->snode);
                break;
        case INST_READY: p->n_ready++; break;
        case INST_STOPPING: p->n_stopping++; break;
        }
}

/* No instance is ready or starting: calls waiting would wait for nothing. */
static void pool_fail_queue(struct pool *p, int status, const char *why)
{
        while (!list_empty(&p->queue)) {
                struct pcall *pc = list_first(&p->queue, struct pcall, qnode);
                pool_dequeue(p, pc);
                pcall_fail(pc, status, "%s", why);
        }
}

static const char *stop_words(enum inst_stop why)
{
        switch (why) {
        case INST_STOP_IDLE: return "idle, scaled to zero";
        case INST_STOP_SCALE: return "scaled down";
        case INST_STOP_CHANGED: return "the function was updated";
        case INST_STOP_REMOVED: return "the function was removed";
        case INST_STOP_SHUTDOWN: return "sfaasd is shutting down";
        case INST_STOP_NOT_READY: return "not ready in time";
        case INST_STOP_AUTOSCALE: return "scaled down by the autoscaler";
        case INST_STOP_NONE: break;
        }
        return "stopped";
}

int pool_instance_words(const struct instance *inst, const char *how, char *buf, size_t size)
{
        /* Our own stop first: a SIGKILL alone would say nothing of a grace
         * period or a shutdown. Then what the kernel saw. */
        if (inst->stop && inst->killed && inst->grace_ms && !inst->failed_start)
                (void) xsnprintf(buf, size, "instance %s was killed after its grace period of %llu ms (stopping: %s)",
                                 inst->id, (unsigned long long) inst->grace_ms, stop_words(inst->stop));
        else if (inst->stop && inst->killed)
                (void) xsnprintf(buf, size, "instance %s was killed (stopping: %s)", inst->id, stop_words(inst->stop));
        else if (inst->stop)
                (void) xsnprintf(buf, size, "instance %s %s (stopping: %s)", inst->id,
                                 how ? how : "closed the connection before the answer was complete",
                                 stop_words(inst->stop));
        else
                (void) xsnprintf(buf, size, "instance %s %s", inst->id,
                                 how ? how : "closed the connection before the answer was complete");
        /* A shutdown is not the function's fault: 503 says "try again later". */
        return inst->stop == INST_STOP_SHUTDOWN ? 503 : 502;
}

/* The instance's sandbox ended (its init, pid 1, exited): reap, detach,
 * maybe replace. */
static void instance_gone(struct instance *inst, int wait_status)
{
        struct pool *p = inst->pool;
        enum inst_state was = inst->state;
        uint64_t now = now_ns();
        /* A start that failed its readiness counts as a crash (backoff). */
        bool crash = was != INST_STOPPING || inst->failed_start;
        struct sandbox_stats st = { 0 };
        char why[200];
        int call_status;

        inst->gone = true;
        inst->exited = true;
        inst->wait_status = wait_status;
        counts_leave(inst);
        /* unlink from the pool */
        list_del(&inst->node);

        {
                char how[128];
                enum sandbox_end end = sandbox_describe_end(inst->sb, wait_status, how, sizeof how);
                call_status = pool_instance_words(inst, how, why, sizeof why);
                /* An instance that met the OOM killer gets one line: the
                 * crash line below when it died of it, else its own (a
                 * process of it was the victim, or we stopped it after). */
                if ((!crash || inst->failed_start || end != SANDBOX_END_OOM) && sandbox_stats(inst->sb, &st) == 0 &&
                    st.oom_kills > 0)
                        log_warning("function '%s.%s': instance %s ran out of memory: the kernel killed %llu "
                                    "process(es) at its memory limit",
                                    p->name, p->ns, inst->id, (unsigned long long) st.oom_kills);
        }
        /* Calls on its connections lose their upstream. */
        while (!list_empty(&inst->conns)) {
                struct upconn *uc = list_first(&inst->conns, struct upconn, anode);
                struct pcall *pc = uc->call;
                upconn_close(uc);
                if (pc)
                        pcall_fail(pc, call_status, "function '%s.%s': %s during the call", p->ns, p->name, why);
        }
        (void) uv_timer_stop(&inst->timer);
        instance_close_handle(inst, (uv_handle_t *) &inst->exit_poll);
        instance_close_handle(inst, (uv_handle_t *) &inst->timer);

        if (crash) {
                if (!inst->failed_start) { /* else the readiness timeout said why already */
                        logs_daemon(p->sf->logs, p->ns, p->name, "%s%s", why,
                                    was == INST_STARTING ? " before it was ready" : "");
                        log_warning("function '%s.%s': %s%s", p->name, p->ns, why,
                                    was == INST_STARTING ? " before it was ready" : "");
                        (void) xsnprintf(p->last_error, sizeof p->last_error, "%s%s", why,
                                         was == INST_STARTING ? " before it was ready" : "");
                }
                if (was == INST_READY && inst->ready_ns && now - inst->ready_ns >= POOL_STABLE_MS * 1000000ULL)
                        p->backoff_ms = 0;
                else
                        p->backoff_ms = p->backoff_ms ? p->backoff_ms * 2 : POOL_BACKOFF_MIN_MS;
                if (p->backoff_ms > POOL_BACKOFF_MAX_MS)
                        p->backoff_ms = POOL_BACKOFF_MAX_MS;
                p->restart_at_ns = now + p->backoff_ms * 1000000ULL;
                p->restarts++;
                if (p->n_ready == 0 && p->n_starting == 0 && p->queued)
                        pool_fail_queue(p, 503, p->last_error);
        } else {
                log_debug("function '%s.%s': %s", p->name, p->ns, why);
        }
        pool_dispatch(p);
}

static void on_inst_exit(uv_poll_t *h, int status, int events)
{
        struct instance *inst = h->data;
        int ws, r;
        (void) status;
        (void) events;
        r = sandbox_reap(inst->sb, &ws);
        if (r == -EAGAIN)
                return;
        (void) uv_poll_stop(h);
        instance_gone(inst, r < 0 ? SIGKILL : ws);
}

static void instance_kill(struct instance *inst)
{
        if (inst->gone)
                return;
        inst->killed = true;
        (void) sandbox_kill(inst->sb);
}

static void on_grace_over(uv_timer_t *t)
{
        instance_kill(t->data);
}

/* SIGTERM, which the sandbox's init passes on to the function whatever its
 * image (a server that is pid 1 without a handler used to ignore it), then
 * SIGKILL after grace_ms. */
static void instance_stop(struct instance *inst, uint64_t grace_ms, enum inst_stop why)
{
        struct pool *p = inst->pool;
        if (inst->gone || inst->state == INST_STOPPING)
                return;
        inst->stop = why;
        if (inst->state == INST_STARTING) {
                instance_set_state(inst, INST_STOPPING);
                instance_kill(inst);
                return;
        }
        instance_set_state(inst, INST_STOPPING);
        inst->grace_ms = grace_ms;
        while (inst->idle) {
                struct upconn *uc = inst->idle;
                upconn_close(uc);
        }
        log_debug("function '%s.%s': stopping instance %s (grace %llu ms)", p->name, p->ns, inst->id,
                  (unsigned long long) grace_ms);
        if (syscall(SYS_pidfd_send_signal, sandbox_pidfd(inst->sb), SIGTERM, NULL, 0) < 0 || grace_ms == 0)
                instance_kill(inst);
        else
                (void) uv_timer_start(&inst->timer, on_grace_over, grace_ms, 0);
}

static void instance_ready(struct instance *inst)
{
        struct pool *p = inst->pool;
        uint64_t now = now_ns();
        (void) uv_timer_stop(&inst->timer);
        instance_set_state(inst, INST_READY);
        inst->ready_ns = now;
        inst->last_used_ns = now;
        /* A default replica given up under pressure is kept again once a
         * call has brought an instance back. */
        if (p->floor_default && p->floor < p->min)
                p->floor = p->min;
        log_debug("function '%s.%s': instance %s ready in %.3f ms (%u probes)", p->name, p->ns, inst->id,
                  (double) (now - inst->start_ns) / 1e6, inst->probes);
        pool_dispatch(p);
}

/* ---- readiness ---- */

static int probe_on_complete(llhttp_t *parser)
{
        struct upconn *uc = parser->data;
        uc->probe_status = parser->status_code;
        uc->reusable = llhttp_should_keep_alive(parser);
        return HPE_PAUSED;
}

static llhttp_settings_t probe_settings;

#define PROBE_FAST_NS 200000ULL      /* every 200 us ... */
#define PROBE_FAST_FOR_MS 30         /* ... for an instance's first 30 ms */

static void probe_arm(struct pools *ps, bool on)
{
        struct itimerspec its = { 0 };
        if (ps->probe_tfd < 0 || ps->probe_armed == on)
                return;
        if (on) {
                its.it_value.tv_nsec = (long) PROBE_FAST_NS;
                its.it_interval.tv_nsec = (long) PROBE_FAST_NS;
        }
        if (timerfd_settime(ps->probe_tfd, 0, &its, NULL) == 0)
                ps->probe_armed = on;
}

/* A fast tick: young instances whose last probe failed try again. */
static void on_probe_tick(uv_poll_t *h, int status, int events)
{
        struct pools *ps = h->data;
        uint64_t n, now = now_ns();
        bool young = false;
        (void) status;
        (void) events;
        if (read(ps->probe_tfd, &n, sizeof n) < 0 && errno != EAGAIN)
                return;
        /* The starting instances only: walking every pool every 200 us
         * took the loop with 10,000 functions deployed. probe_start() may
         * move i out of the list (not ready in time), never another. */
        for (struct instance *i = list_first(&ps->starting, struct instance, snode), *next; i; i = next) {
                next = list_next(&ps->starting, i, snode);
                if (i->state != INST_STARTING || i->gone)
                        continue;
                /* Past its fast phase it probes once more from here,
                 * and a failure moves it to the slower timer. */
                if (now - i->start_ns < PROBE_FAST_FOR_MS * 1000000ULL)
                        young = true;
                if (i->fast_wait) {
                        i->fast_wait = false;
                        probe_start(i);
                }
        }
        if (!young)
                probe_arm(ps, false);
}

static void on_probe_timer(uv_timer_t *t)
{
        struct instance *inst = t->data;
        if (!inst->gone && inst->state == INST_STARTING)
                probe_start(inst);
}

/* Next attempt: at once while the instance is young (a server binds within
 * a few ms of exec), then every ms, then every 10 ms; give up at the ready
 * timeout. */
/* The start of inst took longer than http_ready_timeout: say what it
 * waited for (the port, the health path, an upstream that never listened)
 * and stop it. From the probe's retry or from the tick, whichever sees it
 * first (under load, or ASan, the tick may). */
static void instance_not_ready(struct instance *inst)
{
        struct pool *p = inst->pool;

        (void) xsnprintf(p->last_error, sizeof p->last_error,
                         "instance %s was not ready within %llu ms (port %u%s%s%s)", inst->id,
                         (unsigned long long) p->sf->cfg.http_ready_timeout_ms, p->port,
                         p->health_path[0] ? ", GET " : p->watchdog ? ", GET /_/health" : "", p->health_path,
                         inst->health_ok ? ", healthy, but its upstream never listened" : "");
        logs_daemon(p->sf->logs, p->ns, p->name, "%s", p->last_error);
        log_warning("function '%s.%s': %s", p->name, p->ns, p->last_error);
        inst->failed_start = true;
        instance_stop(inst, 0, INST_STOP_NOT_READY);
}

static void probe_retry(struct instance *inst)
{
        struct pool *p = inst->pool;
        uint64_t age_ms = (now_ns() - inst->start_ns) / 1000000ULL, delay;
        if (age_ms >= p->sf->cfg.http_ready_timeout_ms) {
                instance_not_ready(inst);
                return;
        }
        if (!p->watchdog && !p->health_path[0] && age_ms < PROBE_FAST_FOR_MS && p->sf->pools->probe_tfd >= 0) {
                inst->fast_wait = true;
                probe_arm(p->sf->pools, true);
                return;
        }
        delay = p->watchdog || p->health_path[0] ? (age_ms < 100 ? 2 : 20) : (age_ms < 100 ? 1 : 10);
        (void) uv_timer_start(&inst->timer, on_probe_timer, delay, 0);
}

static void probe_start(struct instance *inst)
{
        struct upconn *uc;
        if (inst->probe || inst->gone || inst->state != INST_STARTING)
                return;
        inst->probes++;
        uc = upconn_open_port(inst, inst->health_ok ? inst->pool->upstream_port : inst->pool->port);
        if (!uc) {
                probe_retry(inst);
                return;
        }
        uc->probe = true;
        inst->probe = uc;
}

static void probe_connected(struct upconn *uc, int status)
{
        struct instance *inst = uc->inst;
        static const char get[] = "GET ";
        static const char rest[] = " HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: sfaasd-probe\r\n\r\n";
        const char *path;

        if (!inst || inst->gone || inst->state != INST_STARTING) {
                upconn_close(uc);
                return;
        }
        if (status < 0) {
                upconn_close(uc);
                probe_retry(inst);
                return;
        }
        if (inst->health_ok) {
                /* The watchdog's upstream listens: calls will reach it.
                 * This connection goes to the upstream, never to a call. */
                inst->probe = NULL;
                upconn_close(uc);
                instance_ready(inst);
                return;
        }
        if (!inst->pool->watchdog && !inst->pool->health_path[0]) {
                /* Listening: ready, and this connection serves the first call. */
                uc->probe = false;
                inst->probe = NULL;
                uc->reusable = true;
                upconn_release(uc);
                instance_ready(inst);
                return;
        }
        path = inst->pool->health_path[0] ? inst->pool->health_path : "/_/health";
        llhttp_init(&uc->parser, HTTP_RESPONSE, &probe_settings);
        uc->parser.data = uc;
        if (upconn_write(uc, get, sizeof get - 1, path, strlen(path), rest, sizeof rest - 1) < 0) {
                upconn_close(uc);
                probe_retry(inst);
        }
}

static void probe_read(struct upconn *uc, ssize_t n, const char *data)
{
        struct instance *inst = uc->inst;
        llhttp_errno_t e = HPE_OK;

        if (n == 0)
                return;
        if (n > 0)
                e = llhttp_execute(&uc->parser, data, (size_t) n);
        if (!inst || inst->gone || inst->state != INST_STARTING) {
                upconn_close(uc);
                return;
        }
        if (n > 0 && e == HPE_OK)
                return; /* more to come */
        /* A named path passes as a Kubernetes HTTP probe does (200-399);
         * the watchdog's /_/health with 200 only. */
        if (e == HPE_PAUSED && (inst->pool->health_path[0] ? uc->probe_status >= 200 && uc->probe_status < 400
                                                           : uc->probe_status == 200)) {
                struct pool *p = inst->pool;

                uc->probe = false;
                inst->probe = NULL;
                upconn_release(uc);
                if (p->upstream_port && !p->health_path[0]) {
                        /* of-watchdog in http mode: healthy is not ready
                         * until its upstream listens (watchdog_upstream_port). */
                        inst->health_ok = true;
                        probe_start(inst);
                        return;
                }
                instance_ready(inst);
                return;
        }
        upconn_close(uc);
        probe_retry(inst);
}

/* ---- starting instances ---- */

static int pipe_pair(int fds[2])
{
        return pipe2(fds, O_CLOEXEC) < 0 ? -errno : 0;
}

/* An instance's sandbox is made on a worker thread (uv_queue_work): the
 * launcher's clone-to-exec takes one to a few milliseconds, and the loop
 * goes on serving every other function meanwhile (the launcher's state is
 * behind its own mutex: sandbox/launcher.c). Until the spawn is back the
 * instance counts as starting (the pool does not start another for the
 * same need), holds its slot and its tenant's instance, and is one of the
 * daemon's instances (a shutdown waits for it); it is in no list, so a
 * stop of every instance misses it, and inst_spawned() stops it at once
 * when its function changed or went, or the daemon is stopping.
 *
 * The job owns copies of what the spec points to: the pool's recipe may be
 * replaced (a redeploy) before the worker is done. */
struct inst_spawn {
        struct spawn_req req;
        struct instance *inst;
        struct sandbox_spec sp;
        struct secret_files secrets;
        struct svec argv, env;
        char *rootfs, *workdir;
        char leaf[128], group[FN_GROUP_MAX];
        int out[2], errp[2];
        uint64_t gen, t0;
};

static void inst_spawn_free(struct inst_spawn *j)
{
        secret_files_release(&j->secrets);
        svec_free(&j->argv);
        svec_free(&j->env);
        free(j->rootfs);
        free(j->workdir);
        for (int i = 0; i < 2; i++) {
                if (j->out[i] >= 0)
                        (void) close(j->out[i]);
                if (j->errp[i] >= 0)
                        (void) close(j->errp[i]);
        }
        free(j);
}

static int svec_copy(struct svec *dst, const struct svec *src)
{
        for (size_t i = 0; i < src->n; i++) {
                char *dup = strdup(src->v[i]);
                if (!dup || svec_push(dst, dup) < 0) {
                        free(dup);
                        return -ENOMEM;
                }
        }
        return 0;
}

/* Everything of j's spec but the spawn itself, on the loop. */
static int inst_spawn_prepare(struct pool *p, struct inst_spawn *j, struct sf_err *err)
{
        struct sfaasd *sf = p->sf;
        const struct fn_recipe *r = p->recipe;
        struct instance *inst = j->inst;
        int ret;

        ret = secret_files_prepare(sf, p->ns, json_object_get(r->spec, "secrets"), &j->secrets, err);
        if (ret < 0)
                return ret;
        if ((ret = pipe_pair(j->out)) < 0 || (ret = pipe_pair(j->errp)) < 0)
                return sf_err_set(err, ret, "cannot create pipes: %s", strerror(-ret));
        j->rootfs = strdup(r->rootfs);
        j->workdir = r->workdir ? strdup(r->workdir) : NULL;
        if (!j->rootfs || (r->workdir && !j->workdir) || svec_copy(&j->argv, &r->argv) < 0 ||
            svec_copy(&j->env, &r->env) < 0)
                return sf_err_set(err, -ENOMEM, "out of memory");
        j->gen = r->generation;
        j->sp.rootfs = j->rootfs;
        j->sp.argv = j->argv.v;
        j->sp.envp = j->env.v;
        j->sp.workdir = j->workdir;
        j->sp.uid = r->uid;
        j->sp.gid = r->gid;
        j->sp.uid_base = r->uid_base;
        j->sp.hostname = p->name; /* the pool outlives the job: it is one of its n_structs */
        j->sp.group = fn_group(p->ns, p->name, j->group, sizeof j->group); /* usage is counted per function */
        j->sp.limits = r->limits;
        j->sp.net = SANDBOX_NET_NONE;
        j->sp.stdio[0] = -1;
        j->sp.stdio[1] = j->out[1];
        j->sp.stdio[2] = j->errp[1];
        j->sp.binds = j->secrets.binds;
        j->sp.n_binds = j->secrets.n;
        if (fn_recipe_meta(r, EGRESS_ANNOTATION)) {
                /* Egress by grant: the instance's own environment with the
                 * proxy's variables, its proxy listening in its namespace
                 * before it is born there (core/runtime/fn_egress.h). */
                ret = fn_egress_prepare(sf, r, p->ns, p->name, inst->id, p->port, sf->pools->self_netns, &j->env,
                                        &j->sp, &inst->egress, err);
                if (ret < 0)
                        return ret;
        }
        (void) xsnprintf(j->leaf, sizeof j->leaf, "i-%s-%llu-%d", p->name, (unsigned long long) p->seq, getpid());
        j->sp.name = j->leaf;
        return 0;
}

/* A start that failed: said in the function's logs, retried after a
 * backoff, and calls that wait for nothing get 503. */
static void pool_start_failed(struct pool *p, const char *why)
{
        struct sfaasd *sf = p->sf;

        (void) xsnprintf(p->last_error, sizeof p->last_error, "cannot start an instance: %s", why);
        log_error("function '%s.%s': %s", p->name, p->ns, p->last_error);
        logs_daemon(sf->logs, p->ns, p->name, "%s", p->last_error);
        p->backoff_ms = p->backoff_ms ? p->backoff_ms * 2 : POOL_BACKOFF_MIN_MS;
        if (p->backoff_ms > POOL_BACKOFF_MAX_MS)
                p->backoff_ms = POOL_BACKOFF_MAX_MS;
        p->restart_at_ns = now_ns() + p->backoff_ms * 1000000ULL;
        if (p->n_ready == 0 && p->n_starting == 0)
                pool_fail_queue(p, 503, p->last_error);
}

/* The spawned instance joins its pool: its output read, its exit watched,
 * its readiness probed. */
static void inst_register(struct pool *p, struct inst_spawn *j)
{
        struct sfaasd *sf = p->sf;
        struct instance *inst = j->inst;
        char nspath[64];

        inst->pid = sandbox_pid(inst->sb);
        /* The launcher's handle on the instance's netns; /proc/PID/ns/net
         * only from a launcher without the netns pool (it needs ptrace
         * access to the non-dumpable init: sandbox/sandbox.h). */
        if (sandbox_netns_fd(inst->sb) >= 0) {
                /* Used as is, not duplicated: valid until sandbox_free(),
                 * which instance_closed() calls last (an fd less per
                 * instance). */
                inst->netns_fd = sandbox_netns_fd(inst->sb);
        } else {
                (void) xsnprintf(nspath, sizeof nspath, "/proc/%d/ns/net", (int) inst->pid);
                inst->netns_fd = inst->netns_own = open(nspath, O_RDONLY | O_CLOEXEC);
        }
        if (inst->netns_fd < 0) {
                log_error_errno(-errno, "cannot open the network namespace of instance %s", inst->id);
                (void) sandbox_kill(inst->sb);
                /* reaped below through the pidfd like any other exit */
        }
        inst->start_ns = j->t0;
        inst->state = INST_STARTING;
        p->n_starting++;
        list_add_tail(&sf->pools->starting, &inst->snode);
        list_add_head(&p->instances, &inst->node);
        p->n_structs++;
        sf->pools->instances++;

        uv_pipe_init(&sf->loop, &inst->out, 0);
        uv_pipe_init(&sf->loop, &inst->err, 0);
        uv_timer_init(&sf->loop, &inst->timer);
        uv_poll_init(&sf->loop, &inst->exit_poll, sandbox_pidfd(inst->sb));
        inst->out.data = inst->err.data = inst->timer.data = inst->exit_poll.data = inst;
        inst->open_handles = 4;
        (void) uv_pipe_open(&inst->out, j->out[0]);
        (void) uv_pipe_open(&inst->err, j->errp[0]);
        j->out[0] = j->errp[0] = -1;
        (void) uv_read_start((uv_stream_t *) &inst->out, up_alloc, on_inst_output);
        (void) uv_read_start((uv_stream_t *) &inst->err, up_alloc, on_inst_output);
        (void) uv_poll_start(&inst->exit_poll, UV_READABLE, on_inst_exit);
        /* com.openfaas.health.http.initialDelay: no probe before it. */
        if (inst->netns_fd >= 0 && p->initial_delay_ms)
                (void) uv_timer_start(&inst->timer, on_probe_timer, p->initial_delay_ms, 0);
        else if (inst->netns_fd >= 0)
                probe_start(inst);
}

/* Back on the loop from the spawner. */
static void inst_spawned(struct spawn_req *req)
{
        struct inst_spawn *j = req->data;
        struct instance *inst = j->inst;
        struct pool *p = inst->pool;
        struct sfaasd *sf = p->sf;

        inst->sb = req->sb;
        p->n_starting--;
        p->n_structs--;
        sf->pools->instances--;
        metrics_sandbox_start(sf->metrics, req->ret >= 0, (double) (req->done_ns - j->t0) / 1e9);
        fn_egress_spawned(&inst->egress);
        (void) close(j->out[1]);
        (void) close(j->errp[1]);
        j->out[1] = j->errp[1] = -1;
        if (req->ret < 0) {
                tenants_instance_end(sf, p->ns);
                admit_release(sf);
                fn_egress_stop(&inst->egress);
                free(inst);
                if (!p->removed && !sf->stopping)
                        pool_start_failed(p, req->err.msg);
                inst_spawn_free(j);
                pool_unref(p);
                return;
        }
        inst->counted = true;
        log_debug("function '%s.%s': instance %s spawned in %.3f ms, back on the loop after %.3f ms", p->name, p->ns,
                  inst->id, (double) (req->done_ns - j->t0) / 1e6, (double) (now_ns() - j->t0) / 1e6);
        inst_register(p, j);
        if (p->removed)
                instance_stop(inst, p->grace_ms, INST_STOP_REMOVED);
        else if (sf->stopping)
                instance_stop(inst, 0, INST_STOP_SHUTDOWN);
        else if (!p->recipe || p->recipe->generation != j->gen)
                instance_stop(inst, p->grace_ms, INST_STOP_CHANGED);
        inst_spawn_free(j);
}

/* Start an instance of p: prepared here, its sandbox made on a worker
 * (inst_spawned() goes on). An error is returned for what fails before the
 * spawn; a failed spawn is handled when it is back. */
static int instance_start(struct pool *p, struct sf_err *err)
{
        struct sfaasd *sf = p->sf;
        struct inst_spawn *j;
        struct instance *inst;
        struct spawner *spawner;
        int ret;

        if (p->recipe->argv.n == 0)
                return sf_err_set(err, -EINVAL, "function '%s.%s' has no command: set an image Entrypoint/Cmd",
                                  p->name, p->ns);
        if ((ret = pools_spawner(sf, &spawner)) < 0)
                return sf_err_set(err, ret, "cannot start the spawner's thread: %s", strerror(-ret));
        inst = calloc(1, sizeof *inst);
        j = calloc(1, sizeof *j);
        if (!inst || !j) {
                free(inst);
                free(j);
                return sf_err_set(err, -ENOMEM, "out of memory");
        }
        inst->pool = p;
        list_init(&inst->conns);
        inst->netns_fd = inst->netns_own = -1;
        inst->egress = (struct fn_egress) FN_EGRESS_INIT;
        p->seq++;
        (void) xsnprintf(inst->id, sizeof inst->id, "%s-%llu", p->name, (unsigned long long) p->seq);
        j->inst = inst;
        j->out[0] = j->out[1] = j->errp[0] = j->errp[1] = -1;
        secret_files_init(&j->secrets);
        ret = inst_spawn_prepare(p, j, err);
        if (ret < 0)
                goto fail;
        j->t0 = now_ns();
        /* A parked exec sandbox of the tenant gives its instance up first
         * (core/runtime/stock.h). */
        if (admit_tenant_instance_begin(sf, p->ns) < 0) {
                struct tenant_quota q = { 0 };
                (void) tenants_quota(sf, p->ns, &q);
                ret = sf_err_set(err, -EDQUOT, "namespace '%s' runs its quota of %llu instances", p->ns,
                                 (unsigned long long) q.instances);
                goto fail;
        }
        j->req.sp = &j->sp;
        j->req.done = inst_spawned;
        j->req.data = j;
        spawner_submit(spawner, &j->req);
        p->n_starting++;
        p->n_structs++;
        sf->pools->instances++;
        return 0;

fail:
        fn_egress_stop(&inst->egress);
        fn_egress_spawned(&inst->egress);
        inst_spawn_free(j);
        free(inst);
        return ret < 0 ? ret : -EIO;
}

/* ---- scaling ---- */

static struct instance *pick_instance(struct pool *p)
{
        struct instance *best = NULL;
        for (struct instance *i = list_first(&p->instances, struct instance, node); i; i = list_next(&p->instances, i, node)) {
                if (i->state != INST_READY || (p->max_inflight && i->inflight >= p->max_inflight))
                        continue;
                if (!best || i->inflight < best->inflight)
                        best = i;
                if (best->inflight == 0)
                        break;
        }
        return best;
}

/* The instances the autoscaler wants beyond the floor and the queue's
 * need: started only where a sandbox slot is free now and the tenant's
 * instances quota has room. They never wait in the admission queue nor
 * make other pools give up idle instances (pools_reclaim_idle): on a
 * shared host the calls queue briefly on the instances there are. */
static void pool_ensure_scaled(struct pool *p, size_t alive)
{
        struct sfaasd *sf = p->sf;
        size_t want = scale_wanted(p);
        struct sf_err err = { 0 };

        if (want > p->max)
                want = p->max;
        while (alive < want) {
                struct tenant_quota q = { 0 };
                uint64_t used = 0, inflight = 0;

                if (now_ns() < p->restart_at_ns) {
                        scale_held(p, "a failed start's backoff");
                        return;
                }
                if (tenants_quota(sf, p->ns, &q) == 0 && q.instances) {
                        tenants_counts(sf, p->ns, &used, &inflight);
                        if (used >= q.instances) {
                                scale_held(p, "the namespace's instances quota");
                                return;
                        }
                }
                if (!p->slot_reserved && !admit_take(sf)) {
                        scale_held(p, "the daemon's sandbox slots (max_sandboxes)");
                        return;
                }
                p->slot_reserved = false;
                if (instance_start(p, &err) < 0) {
                        admit_release(sf);
                        pool_start_failed(p, err.msg);
                        return;
                }
                alive++;
        }
}

/* A default replica given up (pool_internal.h, floor_default): the pool
 * does not ask for it again until a call starts an instance. */
static void floor_yield(struct pool *p)
{
        if (p->floor_default && p->floor > 0)
                p->floor = 0;
}

static void pool_ensure(struct pool *p)
{
        struct sfaasd *sf = p->sf;
        size_t alive, want;
        struct sf_err err = { 0 };
        int r;

        if (p->mode != FN_MODE_HTTP || p->removed || sf->stopping)
                return;
        alive = p->n_starting + p->n_ready;
        want = p->floor;
        if (p->queued) {
                size_t need;
                if (p->max_inflight == 0) {
                        need = p->n_starting + p->n_ready > 0 ? alive : 1;
                } else {
                        size_t cap = p->n_starting * p->max_inflight;
                        need = p->n_ready + p->n_starting;
                        if (p->queued > cap)
                                need += (p->queued - cap + p->max_inflight - 1) / p->max_inflight;
                }
                if (need > want)
                        want = need;
        }
        if (want > p->max)
                want = p->max;
        while (alive < want) {
                if (now_ns() < p->restart_at_ns)
                        return; /* the tick starts it when the backoff is over */
                /* A daemon-wide sandbox slot first (admit.h): without one the
                 * pool waits its turn; its calls wait in its queue. */
                if (!p->slot_reserved && !admit_take(sf)) {
                        admit_wait(sf, &p->waiter);
                        return;
                }
                p->slot_reserved = false;
                r = instance_start(p, &err);
                if (r == -EDQUOT && !p->queued && p->floor_default) {
                        /* The tenant's instances quota is a hard bound: a
                         * default replica does without (pool_internal.h). */
                        admit_release(sf);
                        log_info("function '%s.%s': no default replica kept warm: %s", p->name, p->ns, err.msg);
                        floor_yield(p);
                        return;
                }
                if (r == -EDQUOT)
                        (void) pools_reclaim_tenant_idle(sf, p->ns);
                if (r < 0) {
                        admit_release(sf);
                        pool_start_failed(p, err.msg);
                        return;
                }
                alive++;
        }
        pool_ensure_scaled(p, alive);
}

void pool_dispatch(struct pool *p)
{
        while (!list_empty(&p->queue)) {
                struct instance *inst = pick_instance(p);
                struct pcall *pc = list_first(&p->queue, struct pcall, qnode);
                if (!inst)
                        break;
                pool_dequeue(p, pc);
                pcall_attach(pc, inst);
        }
        pool_ensure(p);
}

void pool_call_done(struct pool *p, struct instance *inst)
{
        if (inst) {
                inst->inflight--;
                inst->last_used_ns = now_ns();
        }
        pool_dispatch(p);
}

/* The autoscaler's decision (core/runtime/scale.c): start what it wants
 * more (pool_ensure, within the caps); above it, stop idle instances, the
 * one idle longest first, one per tick, and none while calls wait. */
static void pool_autoscale(struct pool *p, uint64_t now, size_t alive)
{
        uint32_t keep = scale_tick(p, now);
        struct instance *idlest = NULL;

        if (keep > alive) {
                pool_ensure(p);
                return;
        }
        if (keep == alive || p->queued)
                return;
        for (struct instance *i = list_first(&p->instances, struct instance, node); i; i = list_next(&p->instances, i, node))
                if (i->state == INST_READY && i->inflight == 0 && (!idlest || i->last_used_ns < idlest->last_used_ns))
                        idlest = i;
        if (idlest) {
                log_debug("function '%s.%s': instance %s idle above the %u wanted, stopping", p->name, p->ns,
                          idlest->id, keep);
                instance_stop(idlest, p->grace_ms, keep == 0 ? INST_STOP_IDLE : INST_STOP_AUTOSCALE);
        }
}

/* Every 100 ms for each pool (a slice of them every 10 ms): the
 * autoscaler decides; starts delayed by a backoff happen. */
static void on_tick(uv_timer_t *t)
{
        struct pools *ps = t->data;
        struct list_head *slice = &ps->slices[ps->slice_next++ % POOL_TICK_SLICES];
        uint64_t now = now_ns();
        for (struct pool *p = list_first(slice, struct pool, tnode), *pnext; p; p = pnext) {
                pnext = list_next(slice, p, tnode);
                if (p->mode != FN_MODE_HTTP)
                        continue;
                /* A start that hangs (a health check never answered) ends too. */
                if (p->n_starting) {
                        struct instance *next;
                        for (struct instance *i = list_first(&p->instances, struct instance, node); i; i = next) {
                                next = list_next(&p->instances, i, node);
                                if (i->state == INST_STARTING && !i->gone &&
                                    now - i->start_ns >= ps->sf->cfg.http_ready_timeout_ms * 1000000ULL)
                                        instance_not_ready(i);
                        }
                }
                if (p->restart_at_ns && now >= p->restart_at_ns) {
                        p->restart_at_ns = 0;
                        pool_dispatch(p);
                }
                /* Last: instances it starts are younger than now. */
                if (!ps->sf->stopping)
                        pool_autoscale(p, now, p->n_starting + p->n_ready);
        }
}

/* ---- admission ---- */

void pools_reclaim_idle(struct sfaasd *sf)
{
        struct pools *ps = sf->pools;
        struct instance *oldest = NULL;
        size_t stopping = 0;

        if (!ps || sf->stopping)
                return;
        for (struct pool *p = ps->list; p; p = p->next)
                stopping += p->n_stopping;
        /* Slots already on their way back serve the waiters first. */
        if (stopping >= sf->admit->waiting)
                return;
        for (struct pool *p = ps->list; p; p = p->next) {
                /* A default replica is no reason to keep a slot from a call
                 * (pool_internal.h, floor_default). */
                if (p->mode != FN_MODE_HTTP || p->n_starting + p->n_ready <= (p->floor_default ? 0 : p->floor))
                        continue;
                for (struct instance *i = list_first(&p->instances, struct instance, node); i; i = list_next(&p->instances, i, node))
                        if (i->state == INST_READY && i->inflight == 0 &&
                            (!oldest || i->last_used_ns < oldest->last_used_ns))
                                oldest = i;
        }
        if (oldest) {
                log_info("function '%s.%s': stopping idle instance %s early: every sandbox slot (%zu) is taken "
                         "and %zu call(s) or pool(s) wait for one",
                         oldest->pool->name, oldest->pool->ns, oldest->id, sf->admit->max, sf->admit->waiting);
                floor_yield(oldest->pool);
                instance_stop(oldest, oldest->pool->grace_ms, INST_STOP_IDLE);
        }
}

bool pools_reclaim_tenant_idle(struct sfaasd *sf, const char *ns)
{
        struct pools *ps = sf->pools;
        struct instance *oldest = NULL;

        if (!ps || sf->stopping)
                return false;
        for (struct pool *p = ps->list; p; p = p->next) {
                if (p->mode != FN_MODE_HTTP || !p->floor_default || p->n_stopping || strcmp(p->ns, ns) != 0)
                        continue;
                for (struct instance *i = list_first(&p->instances, struct instance, node); i; i = list_next(&p->instances, i, node))
                        if (i->state == INST_READY && i->inflight == 0 &&
                            (!oldest || i->last_used_ns < oldest->last_used_ns))
                                oldest = i;
        }
        if (!oldest)
                return false;
        log_info("function '%s.%s': stopping idle instance %s, its default replica: namespace '%s' is at its "
                 "instances quota and a call waits", oldest->pool->name, ns, oldest->id, ns);
        floor_yield(oldest->pool);
        instance_stop(oldest, oldest->pool->grace_ms, INST_STOP_IDLE);
        return true;
}

/* ---- the daemon's side ---- */

int pools_new(struct sfaasd *sf)
{
        struct pools *ps = calloc(1, sizeof *ps);
        if (!ps)
                return -ENOMEM;
        ps->sf = sf;
        for (size_t i = 0; i < POOL_TICK_SLICES; i++)
                list_init(&ps->slices[i]);
        list_init(&ps->starting);
        ps->self_netns = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
        if (ps->self_netns < 0) {
                int r = -errno;
                free(ps);
                return r;
        }
        ps->probe_tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
        llhttp_settings_init(&probe_settings);
        probe_settings.on_message_complete = probe_on_complete;
        sf->pools = ps;
        return 0;
}

void pools_start(struct sfaasd *sf)
{
        struct pools *ps = sf->pools;
        char **nss = NULL;

        uv_timer_init(&sf->loop, &ps->tick);
        ps->tick.data = ps;
        (void) uv_timer_start(&ps->tick, on_tick, POOL_TICK_MS / POOL_TICK_SLICES, POOL_TICK_MS / POOL_TICK_SLICES);
        uv_unref((uv_handle_t *) &ps->tick);
        ps->tick_started = true;
        if (ps->probe_tfd >= 0 && uv_poll_init(&sf->loop, &ps->probe_poll, ps->probe_tfd) == 0) {
                ps->probe_poll.data = ps;
                ps->probe_poll_open = true;
                (void) uv_poll_start(&ps->probe_poll, UV_READABLE, on_probe_tick);
                uv_unref((uv_handle_t *) &ps->probe_poll);
        } else if (ps->probe_tfd >= 0) {
                (void) close(ps->probe_tfd);
                ps->probe_tfd = -1;
        }
        /* Every http-mode function's floor (scale.min) starts now. */
        if (store_namespace_list(sf->store, &nss) < 0)
                return;
        for (char **n = nss; n && *n; n++) {
                struct store_function **fs = NULL;
                if (store_function_list(sf->store, *n, &fs) < 0)
                        continue;
                for (struct store_function **f = fs; *f; f++) {
                        struct pool *p = pool_lookup(sf, (*f)->namespace, (*f)->name);
                        if (p && p->mode == FN_MODE_HTTP && p->floor > 0)
                                pool_dispatch(p);
                }
                store_function_list_free(fs);
        }
        strv_free(nss);
}

static void pool_stop_all(struct pool *p, uint64_t grace_ms, enum inst_stop why)
{
        struct instance *next;
        for (struct instance *i = list_first(&p->instances, struct instance, node); i; i = next) {
                next = list_next(&p->instances, i, node);
                instance_stop(i, grace_ms, why);
        }
}

void pools_shutdown(struct sfaasd *sf)
{
        struct pools *ps = sf->pools;
        for (struct pool *p = ps->list; p; p = p->next) {
                pool_fail_queue(p, 503, "sfaasd is shutting down");
                pool_stop_all(p, p->grace_ms < sf->cfg.shutdown_grace_ms ? p->grace_ms : sf->cfg.shutdown_grace_ms,
                              INST_STOP_SHUTDOWN);
        }
}

void pools_kill_all(struct sfaasd *sf)
{
        struct pools *ps = sf->pools;
        for (int pass = 0; pass < 2; pass++)
                for (struct pool *p = pass ? ps->dead : ps->list; p; p = p->next)
                        for (struct instance *i = list_first(&p->instances, struct instance, node); i; i = list_next(&p->instances, i, node))
                                if (!i->gone) {
                                        if (!i->stop) /* a second signal before the pools' stop */
                                                i->stop = INST_STOP_SHUTDOWN;
                                        if (!i->killed && !sf->grace_over)
                                                i->grace_ms = 0; /* a second signal: no grace ran out */
                                        instance_kill(i);
                                }
}

size_t pools_busy(const struct sfaasd *sf)
{
        const struct pools *ps = sf->pools;
        return ps ? ps->instances + ps->calls : 0;
}

void pools_close(struct sfaasd *sf)
{
        struct pools *ps = sf->pools;
        if (!ps || ps->closed)
                return;
        ps->closed = true;
        spawner_close(ps->spawner);
        if (ps->tick_started)
                uv_close((uv_handle_t *) &ps->tick, NULL);
        if (ps->probe_poll_open)
                uv_close((uv_handle_t *) &ps->probe_poll, NULL);
        while (ps->free_calls) {
                struct pcall *pc = ps->free_calls;
                ps->free_calls = pc->free_next;
                ps->n_free_calls--;
                uv_close((uv_handle_t *) &pc->timer, pcall_closed);
        }
}

void pools_free(struct sfaasd *sf)
{
        struct pools *ps = sf->pools;
        if (!ps)
                return;
        for (int pass = 0; pass < 2; pass++) {
                struct pool *p = pass ? ps->dead : ps->list, *next;
                for (; p; p = next) {
                        next = p->next;
                        pool_free(p);
                }
        }
        htab_release(&ps->by_name);
        /* Every instance is gone: the thread their parent-death signal
         * was tied to may end. */
        spawner_free(ps->spawner);
        if (ps->self_netns >= 0)
                (void) close(ps->self_netns);
        if (ps->probe_tfd >= 0)
                (void) close(ps->probe_tfd);
        free(ps);
        sf->pools = NULL;
}

void pools_function_changed(struct sfaasd *sf, const char *ns, const char *name)
{
        struct pools *ps = sf->pools;
        struct pool *p = pool_find(ps, ns, name);
        int status;
        struct sf_err err = { 0 };

        if (p) {
                /* Instances of the old version finish what they serve, then go. */
                pool_stop_all(p, p->grace_ms, INST_STOP_CHANGED);
                pool_status_text_drop(p);
                p->mode = FN_MODE_UNKNOWN;
                p->backoff_ms = 0;
                p->restart_at_ns = 0;
        } else if (!(p = pool_new(ps, ns, name))) {
                return;
        }
        if (pool_load(p, &status, &err) < 0) {
                log_warning("function '%s.%s': %s", name, ns, err.msg);
                return;
        }
        pool_dispatch(p);
}

void pools_function_removed(struct sfaasd *sf, const char *ns, const char *name)
{
        struct pools *ps = sf->pools;
        struct pool *p = pool_find(ps, ns, name);
        if (!p)
                return;
        for (struct pool **pp = &ps->list; *pp; pp = &(*pp)->next)
                if (*pp == p) {
                        *pp = p->next;
                        break;
                }
        htab_del(&ps->by_name, &p->hnode);
        list_del(&p->tnode);
        p->removed = true;
        p->next = ps->dead;
        ps->dead = p;
        pool_fail_queue(p, 404, "function was removed");
        pool_stop_all(p, p->grace_ms, INST_STOP_REMOVED);
        pool_unref(p);
}

int pools_scale(struct sfaasd *sf, const char *ns, const char *name, uint64_t replicas, struct sf_err *err)
{
        int status;
        struct pool *p = pool_get(sf, ns, name, &status, err);
        size_t alive;

        if (!p)
                return status == 404 ? -ENOENT : -EIO;
        if (p->mode != FN_MODE_HTTP)
                return 0;
        if (replicas > p->max)
                replicas = p->max;
        p->floor = (uint32_t) replicas;
        p->floor_default = false; /* asked for: kept as any floor is */
        alive = p->n_starting + p->n_ready;
        /* Down: the idle first, then the least busy. */
        for (int pass = 0; pass < 2 && alive > replicas; pass++) {
                struct instance *next;
                for (struct instance *i = list_first(&p->instances, struct instance, node); i && alive > replicas; i = next) {
                        next = list_next(&p->instances, i, node);
                        if (i->state == INST_STOPPING || (pass == 0 && i->inflight > 0))
                                continue;
                        instance_stop(i, p->grace_ms, INST_STOP_SCALE);
                        alive--;
                }
        }
        p->restart_at_ns = 0; /* an operator's request is not held back by a backoff */
        pool_dispatch(p);
        return 0;
}

void pools_status(struct sfaasd *sf, const char *ns, const char *name, json_t *st)
{
        struct pool *p = pool_lookup(sf, ns, name);
        json_t *ext = json_object(), *arr = json_array();
        static const char *const names[] = { "starting", "ready", "stopping" };

        if (!ext || !arr || !p) {
                json_decref(ext);
                json_decref(arr);
                /* exec mode semantics when the pool cannot be read */
                (void) json_object_set_new(st, "replicas", json_integer(1));
                (void) json_object_set_new(st, "availableReplicas", json_integer(1));
                return;
        }
        if (p->mode == FN_MODE_HTTP) {
                (void) json_object_set_new(st, "replicas", json_integer((json_int_t) (p->n_starting + p->n_ready)));
                (void) json_object_set_new(st, "availableReplicas", json_integer((json_int_t) p->n_ready));
                for (struct instance *i = list_first(&p->instances, struct instance, node); i; i = list_next(&p->instances, i, node)) {
                        json_t *o = json_pack("{s:s,s:I,s:s,s:I,s:I}", "id", i->id, "pid", (json_int_t) i->pid,
                                              "state", names[i->state], "inflight", (json_int_t) i->inflight,
                                              "restarts", (json_int_t) p->restarts);
                        if (o)
                                (void) json_array_append_new(arr, o);
                }
                (void) json_object_set_new(ext, "mode", json_string("http"));
                (void) json_object_set_new(ext, "port", json_integer(p->port));
                (void) json_object_set_new(ext, "queued", json_integer((json_int_t) p->queued));
                (void) json_object_set_new(ext, "restarts", json_integer((json_int_t) p->restarts));
                if (p->last_error[0])
                        (void) json_object_set_new(ext, "lastError", json_string(p->last_error));
                (void) json_object_set_new(ext, "autoscaling", scale_status(p));
        } else {
                /* Exec mode: every call gets a fresh sandbox, so the function
                 * is always ready to serve. */
                (void) json_object_set_new(st, "replicas", json_integer(1));
                (void) json_object_set_new(st, "availableReplicas", json_integer(1));
                (void) json_object_set_new(ext, "mode", json_string("exec"));
        }
        (void) json_object_set_new(ext, "instances", arr);
        (void) json_object_set_new(st, "sfaasd", ext);
}

uint64_t pools_replicas(struct sfaasd *sf, const char *ns, const char *name)
{
        struct pool *p = pool_lookup(sf, ns, name);
        if (!p || p->mode != FN_MODE_HTTP)
                return 1;
        return p->n_starting + p->n_ready;
}

void pools_scale_metrics(struct sfaasd *sf, const char *ns, const char *name, struct metrics_scale *ret)
{
        struct pool *p = pool_lookup(sf, ns, name);

        memset(ret, 0, sizeof *ret);
        if (!p || p->mode != FN_MODE_HTTP)
                return;
        ret->http = true;
        ret->type = scale_type_name(p->sc.type);
        ret->target = p->sc.target;
        ret->load = p->sc.load;
        ret->desired = p->sc.desired;
}

void pools_counts(const struct sfaasd *sf, struct pools_counts *ret)
{
        const struct pools *ps = sf->pools;
        memset(ret, 0, sizeof *ret);
        if (!ps)
                return;
        for (int pass = 0; pass < 2; pass++)
                for (const struct pool *p = pass ? ps->dead : ps->list; p; p = p->next) {
                        ret->starting += p->n_starting;
                        ret->ready += p->n_ready;
                        ret->stopping += p->n_stopping;
                        ret->queued += p->queued;
                        for (const struct instance *i = list_first(&p->instances, struct instance, node); i; i = list_next(&p->instances, i, node))
                                ret->inflight += i->inflight;
                }
}

static void pcall_closed(uv_handle_t *h)
{
        struct pcall *pc = h->data;
        free(pc->rh);
        buf_release(&pc->rhbuf);
        buf_release(&pc->head);
        buf_release(&pc->pend);
        buf_release(&pc->out);
        free(pc);
}

struct pcall *pools_pcall_get(struct sfaasd *sf)
{
        struct pools *ps = sf->pools;
        struct pcall *pc = ps->free_calls;
        if (pc) {
                struct pcall keep = *pc;
                ps->free_calls = pc->free_next;
                ps->n_free_calls--;
                memset(pc, 0, sizeof *pc);
                /* buffers and the timer handle stay */
                pc->timer = keep.timer;
                pc->rh = keep.rh;
                pc->rh_cap = keep.rh_cap;
                pc->rhbuf = keep.rhbuf;
                pc->head = keep.head;
                pc->pend = keep.pend;
                pc->out = keep.out;
                buf_reset(&pc->rhbuf);
                buf_reset(&pc->head);
                buf_reset(&pc->pend);
                buf_reset(&pc->out);
                pc->timer.data = pc;
                pc->timer_open = true;
                return pc;
        }
        pc = calloc(1, sizeof *pc);
        if (!pc)
                return NULL;
        uv_timer_init(&sf->loop, &pc->timer);
        pc->timer.data = pc;
        pc->timer_open = true;
        return pc;
}

void pools_pcall_put(struct sfaasd *sf, struct pcall *pc)
{
        struct pools *ps = sf->pools;
        (void) uv_timer_stop(&pc->timer);
        if (ps->closed || ps->n_free_calls >= POOL_FREE_CALLS_MAX) {
                uv_close((uv_handle_t *) &pc->timer, pcall_closed);
                return;
        }
        pc->free_next = ps->free_calls;
        ps->free_calls = pc;
        ps->n_free_calls++;
}

void pools_call_ref(struct sfaasd *sf, struct pool *p)
{
        scale_note_calls(p, true);
        sf->pools->calls++;
        p->calls++;
}

void pools_call_unref(struct sfaasd *sf, struct pool *p)
{
        scale_note_calls(p, false);
        sf->pools->calls--;
        p->calls--;
        pool_unref(p);
}

int pools_spawner(struct sfaasd *sf, struct spawner **ret)
{
        struct pools *ps = sf->pools;
        int r;

        if (!ps->spawner && (r = spawner_new(&sf->loop, sf->launcher, &ps->spawner)) < 0)
                return r;
        *ret = ps->spawner;
        return 0;
}

int pools_self_netns(struct sfaasd *sf)
{
        return sf->pools ? sf->pools->self_netns : -1;
}
