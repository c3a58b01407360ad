/* SPDX-License-Identifier: MIT */
/* A function's cgroup group (core/model/group.h). */
#include "core/model/group.h"

#include "core/base/util.h"

const char *fn_group(const char *ns, const char *name, char *buf, size_t size)
{
        if (xsnprintf(buf, size, "%s/%s", ns, name) < 0)
                return NULL;
        return buf;
}
