/* SPDX-License-Identifier: MIT */
/*
 * Each tenant's quotas as the engines enforce them (core/runtime/tenants.c):
 * the effective quotas (the config's defaults, then the tenant's own from
 * the store, read once and kept until they change), the limits of the
 * tenant's cgroup level (memory, CPU, pids: held by the kernel), the
 * invocation rate (a bucket of invokeRate calls refilled at invokeRate per
 * second) and concurrency, and the instances (warm and exec sandboxes)
 * running at once. Loop thread only.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "core/base/error.h"
#include "core/sfaasd.h"

struct tenants;

int tenants_new(struct tenants **ret);
void tenants_free(struct tenants *t);

/* ns's effective quotas; -ENOENT when ns does not exist. */
int tenants_quota(struct sfaasd *sf, const char *ns, struct tenant_quota *ret);
/* ns's quotas changed (or ns went): read them again next time, and set the
 * limits of its cgroup level now when it still exists. */
void tenants_changed(struct sfaasd *sf, const char *ns);
/* Set the cgroup limits of every namespace's level (at start). */
void tenants_apply_all(struct sfaasd *sf);

/* A call of ns begins: 0, or -EAGAIN past the rate (or, with concurrent,
 * past the concurrency), with the seconds to wait in *ret_retry_s and the
 * quota's name in *ret_which. A call begun with concurrent must be ended
 * with tenants_call_end(). An unknown ns is let through (the handler
 * answers 404). */
int tenants_call_begin(struct sfaasd *sf, const char *ns, bool concurrent, uint64_t *ret_retry_s,
                       const char **ret_which);
void tenants_call_end(struct sfaasd *sf, const char *ns);
/* A sandbox of ns (exec call or warm instance) is about to start: 0, or
 * -EAGAIN at the instances quota. End each begun one with
 * tenants_instance_end(). */
int tenants_instance_begin(struct sfaasd *sf, const char *ns);
void tenants_instance_end(struct sfaasd *sf, const char *ns);
/* Whether calls to ns's functions need a credential (the tenant's
 * setting; a function's annotation com.sfaasd.invoke-auth overrides it). */
bool tenants_invoke_closed(struct sfaasd *sf, const char *ns);
/* What the engines count now for ns. */
void tenants_counts(struct sfaasd *sf, const char *ns, uint64_t *ret_instances, uint64_t *ret_inflight);
