/* SPDX-License-Identifier: MIT */
/*
 * `sfaasd run --egress GRANT`: the egress proxy of core/runtime/egress_proxy.h
 * for a one-shot sandbox, on a libuv loop of its own on a thread of its own
 * (the command's main thread relays the terminal with poll()). The grant is
 * the caller's own (root on the host runs `sfaasd run`): no tenant ceiling
 * bounds it; the address rules are the daemon's. Each connection is
 * reported on stderr.
 */
#pragma once

#include "core/runtime/egress_proxy.h"
#include "sandbox/sandbox.h"

struct run_egress;

/* Make the sandbox's network namespace (*ret_netns, the caller's to close
 * after the spawn), start the proxy listening in it and fill vars with the
 * environment it gives the function. grant: a grant list
 * (core/model/egress_grant.h); resolve_file: pinned answers or NULL; allow:
 * the operator's egress_allow ("" none). 0 or -errno (said on stderr). */
int run_egress_start(struct sandbox_launcher *l, const char *grant, const char *resolve_file, const char *allow,
                     struct run_egress **ret, int *ret_netns, char vars[EGRESS_PROXY_ENV_N][64]);
/* Stop the proxy (its connections end) and its thread; NULL is fine. */
void run_egress_stop(struct run_egress *e);
