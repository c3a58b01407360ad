/* SPDX-License-Identifier: MIT */
/*
 * A function's cgroup group: every sandbox of function NAME in namespace NS
 * (exec calls, async calls, warm instances) is spawned with
 * sandbox_spec.group "NS/NAME", so the kernel sums their CPU time and memory
 * there (GET /system/function/NAME?usage=1) and the namespace level holds the
 * tenant's aggregate.
 */
#pragma once

#include <stddef.h>

#define FN_GROUP_MAX 128 /* "NS/NAME" with both at most ROUTE_NAME_MAX, NUL included */

/* "ns/name" into buf; buf, or NULL when it does not fit (never for names
 * route_valid_name() accepts and a buffer of FN_GROUP_MAX). */
const char *fn_group(const char *ns, const char *name, char *buf, size_t size);
