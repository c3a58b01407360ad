/* SPDX-License-Identifier: MIT */
/*
 * A function's egress in the daemon (issue 16): for a sandbox whose
 * function has a grant (annotation com.sfaasd.egress), a fresh network
 * namespace with the egress proxy listening in it before the sandbox is
 * born there (core/runtime/egress_proxy.h), the proxy variables in its
 * environment, and every connection accounted: a line in the function's
 * logs, metrics, and denials in the audit trail.
 *
 * Only the grant's entries still within the tenant's ceiling count: a
 * ceiling lowered after a deploy narrows what its sandboxes may reach from
 * the next sandbox on.
 */
#pragma once

#include "core/model/recipe.h"
#include "core/runtime/egress_proxy.h"
#include "core/sfaasd.h"

struct fn_egress {
        int netns_fd;                 /* until the spawn; -1 */
        struct egress_proxy *px;      /* NULL: no egress */
        struct fn_egress_ctx *ctx;    /* what the proxy's reports need */
};
#define FN_EGRESS_INIT { .netns_fd = -1, .px = NULL, .ctx = NULL }

/* For a function with a grant: make the namespace, start the proxy, add the
 * proxy variables to env and point sp at the namespace (sp->net, netns_fd).
 * Nothing when the function has no grant (the default: loopback only).
 * The proxy's port is EGRESS_PROXY_PORT, or the next one when that is
 * avoid_port (an http-mode function's own). self_netns: the loop thread's
 * own namespace (pools_self_netns()), to come back to. */
int fn_egress_prepare(struct sfaasd *sf, const struct fn_recipe *rc, const char *ns, const char *name,
                      const char *call_id, uint16_t avoid_port, int self_netns, struct svec *env,
                      struct sandbox_spec *sp, struct fn_egress *e, struct sf_err *err);
/* The sandbox is born (or failed to be): the namespace fd goes. */
void fn_egress_spawned(struct fn_egress *e);
/* The sandbox ended: the proxy and its connections go. */
void fn_egress_stop(struct fn_egress *e);
