/* SPDX-License-Identifier: MIT */
/* A function's cgroup group on the host (core/runtime/usage.h). */
#include "core/runtime/usage.h"

#include <errno.h>

#include "core/base/log.h"
#include "core/model/group.h"
#include "core/sfaasd.h"

void usage_group_remove(struct sfaasd *sf, const char *ns, const char *name)
{
        char group[FN_GROUP_MAX];
        struct sf_err err = { 0 };
        int r;

        if (!fn_group(ns, name, group, sizeof group))
                return;
        r = sandbox_group_remove(sf->launcher, group, &err);
        if (r == -EBUSY)
                log_debug("function '%s.%s': its cgroup stays while a sandbox of it runs", name, ns);
        else if (r < 0)
                log_warning("function '%s.%s': %s", name, ns, err.msg);
}
