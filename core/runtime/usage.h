/* SPDX-License-Identifier: MIT */
/*
 * The cgroup group of a function (core/model/group.h) on the host: removed
 * when the function goes and no sandbox of it runs any more.
 */
#pragma once

struct sfaasd;

/* The function was removed: remove its cgroup group unless a sandbox of it
 * still runs (then it stays until the daemon exits). Logs, never fails. */
void usage_group_remove(struct sfaasd *sf, const char *ns, const char *name);
