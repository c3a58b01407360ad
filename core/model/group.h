/* SPDX-License-Identifier: MIT */
/*
 * A function's names: FN_NAME_MAX bounds a function's and a namespace's
 * name everywhere (the API checks them: core/api/router.h). A function's
 * cgroup group: every sandbox of function NAME in namespace NS
 * (exec calls, async calls, warm instances) is spawned with
 * sandbox_spec.group "NS/NAME", so the kernel sums their CPU time and memory
 * there (GET /system/function/NAME?usage=1) and the namespace level holds the
 * tenant's aggregate.
 */
#pragma once

#include <stddef.h>

#define FN_NAME_MAX 64 /* a function's or a namespace's name, NUL included (63 bytes) */
#define FN_GROUP_MAX (2 * FN_NAME_MAX) /* "NS/NAME", NUL included */

/* "ns/name" into buf; buf, or NULL when it does not fit (never for names
 * route_valid_name() accepts and a buffer of FN_GROUP_MAX). */
const char *fn_group(const char *ns, const char *name, char *buf, size_t size);
