/* SPDX-License-Identifier: MIT */
/*
 * A function's cgroup group and the "usage" of FunctionStatus.
 *
 * Every sandbox of a function (exec-mode calls, async calls, later the
 * instances of http mode) runs in the launcher's group "NS/FUNCTION"
 * (sandbox/cgroup.c), so the kernel itself sums their CPU time and memory
 * there; GET /system/function/{name}?usage=1 reads that sum back:
 *
 *   "usage": {"cpu": <cumulative CPU seconds of the function's sandboxes
 *             accounted in its cgroup>, "totalMemoryBytes": <bytes charged
 *             to it now>}
 *
 * OpenFaaS leaves the units to the provider (faas-netes reports cores from
 * metrics-server, faasd CE nothing). CPU seconds since the group was made
 * (the function's first sandbox since the daemon started) is what the
 * kernel counts without sampling; a rate is for Prometheus to compute.
 */
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/api/api.h"
#include "core/base/cleanup.h"
#include "core/base/log.h"
#include "core/base/util.h"
#include "core/model/group.h"
#include "core/sfaasd.h"

bool api_usage_requested(struct http_request *req)
{
        _cleanup_free_ char *v = http_query_param(req, "usage");
        /* faas-cli sends usage=1; Go's ParseBool spellings of true too */
        return v && (strcmp(v, "1") == 0 || strcasecmp(v, "true") == 0 || strcmp(v, "t") == 0 ||
                     strcmp(v, "T") == 0);
}

int api_add_usage(struct sfaasd *sf, json_t *status, const char *ns, const char *name)
{
        char group[FN_GROUP_MAX];
        struct sandbox_usage u = { 0 };
        struct sf_err err = { 0 };
        json_t *o;
        int r;

        if (!fn_group(ns, name, group, sizeof group))
                return -ENAMETOOLONG;
        r = sandbox_group_usage(sf->launcher, group, &u, &err);
        if (r == -EOPNOTSUPP)
                return 0; /* no cgroups (a test setting): nothing measured, the key stays absent */
        if (r < 0 && r != -ENOENT) {
                /* Not worth failing the describe for: logged, the key absent. */
                log_warning("function '%s.%s': %s", name, ns, err.msg);
                return 0;
        }
        /* -ENOENT: no sandbox of it ran since the daemon started: zeros. */
        o = json_pack("{s:f,s:I}", "cpu", (double) u.cpu_usec / 1e6, "totalMemoryBytes",
                      (json_int_t) (u.memory_bytes > (uint64_t) INT64_MAX ? INT64_MAX : u.memory_bytes));
        if (!o || json_object_set_new(status, "usage", o) < 0)
                return -ENOMEM;
        return 0;
}
