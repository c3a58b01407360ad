/* SPDX-License-Identifier: MIT */
/* Tenants' quotas in the engines (core/runtime/tenants.h). */
#include "core/runtime/tenants.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/cleanup.h"
#include "core/base/log.h"
#include "core/base/util.h"
#include "core/model/quota.h"
#include "store/tenants.h"

struct tenant_state {
        char ns[64];
        bool loaded;               /* q is read from the store */
        struct tenant_quota q;
        bool invoke_auth;          /* calls to its functions need a credential */
        double tokens;             /* the rate bucket */
        uint64_t refilled_ns;      /* monotonic time of the last refill */
        uint64_t inflight;         /* calls begun with concurrent, not ended */
        uint64_t instances;        /* sandboxes begun, not ended */
};

struct tenants {
        struct tenant_state *v;
        size_t n, cap;
};

int tenants_new(struct tenants **ret)
{
        struct tenants *t = calloc(1, sizeof *t);
        if (!t)
                return -ENOMEM;
        *ret = t;
        return 0;
}

void tenants_free(struct tenants *t)
{
        if (!t)
                return;
        free(t->v);
        free(t);
}

/* ns's entry, made when missing and ns exists (counters only; quotas are
 * loaded apart). NULL for a namespace the store does not have: anyone may
 * name one in /function/NAME.NS, and those must not grow this table. */
static struct tenant_state *entry_of(struct sfaasd *sf, const char *ns)
{
        struct tenants *t = sf->tenants;
        struct store_namespace *n = NULL;

        for (size_t i = 0; i < t->n; i++)
                if (strcmp(t->v[i].ns, ns) == 0)
                        return &t->v[i];
        if (strlen(ns) >= sizeof t->v[0].ns || store_namespace_get(sf->store, ns, &n) < 0)
                return NULL;
        store_namespace_free(n);
        if (t->n == t->cap) {
                size_t nc = t->cap ? t->cap * 2 : 16;
                struct tenant_state *nv = realloc(t->v, nc * sizeof *nv);
                if (!nv)
                        return NULL;
                t->v = nv;
                t->cap = nc;
        }
        memset(&t->v[t->n], 0, sizeof t->v[0]);
        memcpy(t->v[t->n].ns, ns, strlen(ns) + 1);
        return &t->v[t->n++];
}

static int load(struct sfaasd *sf, struct tenant_state *e)
{
        _cleanup_free_ char *json = NULL;
        struct sf_err err = { 0 };
        int r = store_tenant_quotas_get(sf->store, e->ns, &json);

        if (r < 0)
                return r;
        r = store_tenant_invoke_auth_get(sf->store, e->ns, &e->invoke_auth);
        if (r < 0)
                return r;
        r = tenant_quota_effective(&sf->cfg.tenant, json, &e->q, &err);
        if (r < 0) {
                log_error("tenant '%s': %s; using the defaults", e->ns, err.msg);
                e->q = sf->cfg.tenant;
        }
        if (!e->loaded) {
                e->tokens = (double) e->q.invoke_rate;
                e->refilled_ns = now_ns();
        }
        e->loaded = true;
        return 0;
}

int tenants_quota(struct sfaasd *sf, const char *ns, struct tenant_quota *ret)
{
        struct tenant_state *e = entry_of(sf, ns);
        int r;

        if (!e)
                return -ENOENT;
        if (!e->loaded && (r = load(sf, e)) < 0)
                return r;
        *ret = e->q;
        return 0;
}

static void apply(struct sfaasd *sf, const char *ns, const struct tenant_quota *q)
{
        struct sandbox_limits lim = { .memory_bytes = q->memory_bytes, .pids = q->pids, .cpu_millis = q->cpu_millis };
        struct sf_err err = { 0 };

        if (sandbox_group_set_limits(sf->launcher, ns, &lim, &err) < 0)
                log_error("tenant '%s': %s", ns, err.msg);
}

void tenants_changed(struct sfaasd *sf, const char *ns)
{
        struct tenant_state *e = entry_of(sf, ns);
        struct tenant_quota q;

        if (!e)
                return;
        e->loaded = false;
        if (tenants_quota(sf, ns, &q) >= 0)
                apply(sf, ns, &q);
}

void tenants_apply_all(struct sfaasd *sf)
{
        _cleanup_strv_free_ char **names = NULL;

        if (store_namespace_list(sf->store, &names) < 0)
                return;
        for (char **n = names; *n; n++) {
                struct tenant_quota q;
                if (tenants_quota(sf, *n, &q) >= 0)
                        apply(sf, *n, &q);
        }
}

int tenants_call_begin(struct sfaasd *sf, const char *ns, bool concurrent, uint64_t *ret_retry_s,
                       const char **ret_which)
{
        struct tenant_state *e = entry_of(sf, ns);
        uint64_t now;

        if (!e || (!e->loaded && load(sf, e) < 0))
                return 0; /* no such namespace: the handler says 404 */
        if (concurrent && e->q.invoke_concurrency && e->inflight >= e->q.invoke_concurrency) {
                *ret_retry_s = 1;
                *ret_which = "invokeConcurrency";
                return -EAGAIN;
        }
        if (e->q.invoke_rate) {
                now = now_ns();
                e->tokens += (double) (now - e->refilled_ns) / 1e9 * (double) e->q.invoke_rate;
                if (e->tokens > (double) e->q.invoke_rate)
                        e->tokens = (double) e->q.invoke_rate;
                e->refilled_ns = now;
                if (e->tokens < 1.0) {
                        /* Whole seconds until one call's worth is back, at least 1. */
                        double wait = (1.0 - e->tokens) / (double) e->q.invoke_rate;
                        *ret_retry_s = wait <= 1.0 ? 1 : (uint64_t) wait + 1;
                        *ret_which = "invokeRate";
                        return -EAGAIN;
                }
                e->tokens -= 1.0;
        }
        if (concurrent)
                e->inflight++;
        return 0;
}

void tenants_call_end(struct sfaasd *sf, const char *ns)
{
        struct tenant_state *e = entry_of(sf, ns);
        if (e && e->inflight > 0)
                e->inflight--;
}

int tenants_instance_begin(struct sfaasd *sf, const char *ns)
{
        struct tenant_state *e = entry_of(sf, ns);

        if (!e)
                return 0; /* not a namespace the store has: nothing to count */
        if (!e->loaded && load(sf, e) < 0)
                e->loaded = false; /* counted all the same; no quota known */
        if (e->loaded && e->q.instances && e->instances >= e->q.instances)
                return -EAGAIN;
        e->instances++;
        return 0;
}

void tenants_instance_end(struct sfaasd *sf, const char *ns)
{
        struct tenant_state *e = entry_of(sf, ns);
        if (e && e->instances > 0)
                e->instances--;
}

void tenants_counts(struct sfaasd *sf, const char *ns, uint64_t *ret_instances, uint64_t *ret_inflight)
{
        struct tenant_state *e = entry_of(sf, ns);
        *ret_instances = e ? e->instances : 0;
        *ret_inflight = e ? e->inflight : 0;
}

bool tenants_invoke_closed(struct sfaasd *sf, const char *ns)
{
        struct tenant_state *e = entry_of(sf, ns);

        if (!e || (!e->loaded && load(sf, e) < 0))
                return false; /* no such namespace: the handler says 404 */
        return e->invoke_auth;
}
