/* SPDX-License-Identifier: MIT */
/* A function's egress in the daemon: see core/runtime/fn_egress.h. */
#include "core/runtime/fn_egress.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/base/cleanup.h"
#include "core/base/log.h"
#include "core/base/util.h"
#include "core/model/egress_grant.h"
#include "core/runtime/logs.h"
#include "core/runtime/metrics.h"
#include "store/audit.h"
#include "store/secrets.h"
#include "store/tenants.h"

/* Denials a sandbox may write to the audit trail; the rest are counted in
 * the logs and metrics only (a function looping on a denied host must not
 * fill the trail). */
#define AUDIT_DENIALS_MAX 16

struct fn_egress_ctx {
        struct sfaasd *sf;
        char ns[64], name[64];
        unsigned audited;
};

static void on_report(void *data, const struct egress_report *r)
{
        struct fn_egress_ctx *x = data;
        struct sfaasd *sf = x->sf;
        char line[1024];
        bool denied = strcmp(r->verdict, "allowed") != 0;

        (void) xsnprintf(line, sizeof line,
                         "sfaasd: egress %s dest=%s port=%u address=%s verdict=%s up=%llu down=%llu "
                         "seconds=%.6f call=%s%s%s\n",
                         r->is_connect ? "CONNECT" : "HTTP", r->dest[0] ? r->dest : "-", (unsigned) r->port,
                         r->address[0] ? r->address : "-", r->verdict, (unsigned long long) r->bytes_up,
                         (unsigned long long) r->bytes_down, r->seconds, r->call_id, r->reason[0] ? " reason=" : "",
                         r->reason);
        logs_append(sf->logs, x->ns, x->name, r->call_id, line, strlen(line));
        metrics_egress(sf->metrics, r->verdict, r->bytes_up, r->bytes_down);
        if (denied && strcmp(r->verdict, "error") != 0 && sf->store && x->audited < AUDIT_DENIALS_MAX) {
                char path[300], detail[512];
                struct store_audit_record rec = { 0 };
                x->audited++;
                (void) xsnprintf(path, sizeof path, "%s:%u", r->dest, (unsigned) r->port);
                (void) xsnprintf(detail, sizeof detail, "egress of function '%s' (call %s) refused: %s%s", x->name,
                                 r->call_id, r->reason,
                                 x->audited == AUDIT_DENIALS_MAX ? " (further denials of this sandbox: logs only)"
                                                                 : "");
                rec.actor = "function";
                rec.tenant = x->ns;
                rec.credential = "";
                rec.address = (char *) (r->address[0] ? r->address : "-");
                rec.method = r->is_connect ? "CONNECT" : "HTTP";
                rec.path = path;
                rec.status = strcmp(r->verdict, "cap") == 0 ? 429 : 403;
                rec.detail = detail;
                if (store_audit_append(sf->store, &rec) < 0)
                        log_warning("cannot write the audit record of a refused egress of '%s.%s'", x->name, x->ns);
        }
}

/* A tenant secret for the proxy to inject: read and opened when a request
 * needs it, wiped by the proxy after use; never in the sandbox. */
static int on_secret(void *data, const char *name, struct buf *out)
{
        struct fn_egress_ctx *x = data;
        unsigned char *v = NULL;
        size_t len = 0;
        int r = store_secret_get(x->sf->store, &x->sf->secret_key, x->ns, name, &v, &len);

        if (r < 0)
                return r;
        r = buf_append(out, v, len);
        secret_value_free(v, len);
        return r;
}

/* An annotation's byte or count limit, lower than the operator's only. */
static uint64_t cap_of(const struct fn_recipe *rc, const char *key, uint64_t cfg, bool size)
{
        const char *v = fn_recipe_meta(rc, key);
        uint64_t n;

        if (!v || (size ? parse_size(v, &n) : parse_u64(v, &n)) < 0 || n == 0)
                return cfg;
        return cfg && cfg < n ? cfg : n;
}

int fn_egress_prepare(struct sfaasd *sf, const struct fn_recipe *rc, const char *ns, const char *name,
                      const char *call_id, uint16_t avoid_port, int self_netns, struct svec *env,
                      struct sandbox_spec *sp, struct fn_egress *e, struct sf_err *err)
{
        const char *list = fn_recipe_meta(rc, EGRESS_ANNOTATION);
        _cleanup_free_ char *stored = NULL;
        struct egress_grant g = { 0 }, ceiling = { 0 }, eff = { 0 };
        struct egress_policy policy = { 0 };
        struct fn_egress_ctx *x = NULL;
        char vars[EGRESS_PROXY_ENV_N][64];
        uint16_t port = avoid_port == EGRESS_PROXY_PORT ? EGRESS_PROXY_PORT + 1 : EGRESS_PROXY_PORT;
        int r;

        e->netns_fd = -1;
        e->px = NULL;
        e->ctx = NULL;
        if (!list || !*list)
                return 0;
        r = egress_grant_parse(list, false, &g, err);
        if (r < 0)
                return r;
        r = store_tenant_egress_get(sf->store, ns, &stored);
        if (r >= 0)
                r = egress_grant_parse(stored, true, &ceiling, err);
        if (r < 0) {
                egress_grant_release(&g);
                return sf_err_errno(err, r, "cannot read the egress ceiling of '%s'", ns);
        }
        /* The entries still within the ceiling, as it is now. */
        eff.v = calloc(g.n ? g.n : 1, sizeof *eff.v);
        for (size_t i = 0; eff.v && i < g.n; i++)
                if (egress_rule_within(&g.v[i], &ceiling))
                        eff.v[eff.n++] = g.v[i];
                else
                        log_warning("function '%s.%s': egress entry '%s' is beyond the ceiling now: not granted", name,
                                    ns, g.v[i].text);
        egress_grant_release(&g);
        egress_grant_release(&ceiling);
        if (!eff.v)
                return -ENOMEM;
        r = egress_policy_parse(sf->cfg.egress_allow, false, &policy, err);
        if (r < 0)
                goto out;
        x = calloc(1, sizeof *x);
        if (!x) {
                r = -ENOMEM;
                goto out;
        }
        x->sf = sf;
        (void) xsnprintf(x->ns, sizeof x->ns, "%s", ns);
        (void) xsnprintf(x->name, sizeof x->name, "%s", name);
        e->netns_fd = sandbox_netns_new(sf->launcher, err);
        if (e->netns_fd < 0) {
                r = e->netns_fd;
                e->netns_fd = -1;
                goto out;
        }
        {
                struct egress_proxy_params p = {
                        .loop = &sf->loop,
                        .netns_fd = e->netns_fd,
                        .self_netns_fd = self_netns,
                        .port = port,
                        .grant = &eff,
                        .policy = &policy,
                        .resolve_file = sf->cfg.egress_resolve_file,
                        .ns = ns,
                        .function = name,
                        .call_id = call_id,
                        .max_conns = cap_of(rc, "com.sfaasd.egress-max-connections", sf->cfg.egress_max_connections,
                                            false),
                        .max_bytes = cap_of(rc, "com.sfaasd.egress-max-bytes", sf->cfg.egress_max_bytes, true),
                        .max_open = sf->cfg.egress_max_open,
                        .connect_timeout_ms = sf->cfg.egress_connect_timeout_ms,
                        .report = on_report,
                        .secret = on_secret,
                        .ca_file = sf->cfg.egress_ca_file,
                        .data = x,
                };
                r = egress_proxy_start(&p, &e->px, err);
        }
        if (r < 0)
                goto out;
        egress_proxy_env(port, vars);
        for (size_t i = 0; i < EGRESS_PROXY_ENV_N; i++) {
                char *eq = strchr(vars[i], '=');
                *eq = '\0';
                if ((r = svec_setenv(env, vars[i], eq + 1)) < 0)
                        goto out;
        }
        sp->envp = env->v;
        sp->net = SANDBOX_NET_GIVEN;
        sp->netns_fd = e->netns_fd;
        e->ctx = TAKE_PTR(x);
        r = 0;
out:
        egress_grant_release(&eff);
        egress_policy_release(&policy);
        if (r < 0) {
                fn_egress_stop(e);
                fn_egress_spawned(e);
        }
        free(x);
        return r;
}

void fn_egress_spawned(struct fn_egress *e)
{
        if (e->netns_fd >= 0)
                (void) close(e->netns_fd);
        e->netns_fd = -1;
}

void fn_egress_stop(struct fn_egress *e)
{
        egress_proxy_stop(e->px);
        e->px = NULL;
        free(e->ctx);
        e->ctx = NULL;
}
