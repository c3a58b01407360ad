/* SPDX-License-Identifier: MIT */
/*
 * Spare cgroup leaves (v1). A v1 leaf costs three mkdirs, five limit
 * writes and, at the end, three rmdirs, each of which the kernel answers
 * with css allocation or offlining work: about 0.3 ms of a spawn's latency
 * and 0.5 ms of its CPU on the reference VM (bench/RESULTS.md, "spare
 * leaves"). So a long-lived launcher keeps the leaf of a sandbox that ended
 * cleanly, renamed "spare-N" in its group directory, and gives it to the
 * next anonymous sandbox (no spec->name) of the same group and limits,
 * renamed to that sandbox's name.
 *
 * A leaf is kept only when nothing of the sandbox is in it and nothing it
 * did shows in what sandbox_stats() reports of the next one: pids.current
 * is 0 (after the init's reap the kernel has released every task of its
 * pid namespace), no OOM kill (memory.oom_control) and no fork refused at
 * pids.max (pids.events) were counted, since v1 cannot reset those; and
 * memory.max_usage_in_bytes is reset. The leaf's limits are the key, so a
 * reused leaf holds exactly the limits a new one would get. Page cache the
 * previous sandbox left charged to the leaf stays charged there, as it
 * would stay charged to a removed leaf's ancestors; it is reclaimed under
 * the limit like any page cache.
 *
 * v2 leaves are not kept: memory.peak cannot be reset for every reader.
 *
 * The spares live in the launcher's subtree like every leaf: the launcher
 * removes them with the subtree (sb_cgroup_root_release), and after a
 * crash the next launcher's sweep does (cgroup_sweep.c). A group's spares
 * go before the group is removed and when its limits change
 * (sb_spares_drop_group): a v1 cpu quota above the group's is refused at
 * creation and the leaf made unquoted instead (sb_cgroup_create), so a
 * spare holds exactly what a new leaf would get only under the limits it
 * was made under.
 *
 * Threading: sandboxes are freed on any thread, and a sandbox may in
 * principle outlive its launcher: the cache is reference-counted (the
 * launcher, and each leaf a sandbox holds) and has its own lock.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/base/cleanup.h"
#include "core/base/util.h"
#include "sandbox/internal.h"

#define SB_SPARES_MAX 8

struct sb_spare {
        struct sb_cgroup cg; /* paths renamed "spare-<seq>"; no fds, no cache reference */
        uint64_t seq;
};

struct sb_spares {
        pthread_mutex_t lock;
        unsigned refs;
        bool closed;
        uint64_t seq;
        size_t n;
        struct sb_spare e[SB_SPARES_MAX];
};

struct sb_spares *sb_spares_new(void)
{
        struct sb_spares *s = calloc(1, sizeof *s);

        if (!s)
                return NULL;
        (void) pthread_mutex_init(&s->lock, NULL);
        s->refs = 1;
        return s;
}

static void forget(struct sb_cgroup *cg)
{
        for (int c = 0; c < SB_CTRL_MAX_; c++) {
                free(cg->path[c]);
                cg->path[c] = NULL;
        }
        free(cg->group);
        cg->group = NULL;
        cg->spares = NULL;
}

void sb_spares_unref(struct sb_spares *s)
{
        bool last;

        if (!s)
                return;
        (void) pthread_mutex_lock(&s->lock);
        last = --s->refs == 0;
        (void) pthread_mutex_unlock(&s->lock);
        if (!last)
                return;
        for (size_t i = 0; i < s->n; i++)
                forget(&s->e[i].cg);
        (void) pthread_mutex_destroy(&s->lock);
        free(s);
}

void sb_spares_close(struct sb_spares *s)
{
        if (!s)
                return;
        (void) pthread_mutex_lock(&s->lock);
        s->closed = true;
        (void) pthread_mutex_unlock(&s->lock);
        sb_spares_unref(s);
}

static bool same_group(const char *a, const char *b)
{
        return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* dir's last level replaced by name, as rename(2) in the same parent. */
static int rename_leaf(char **path, const char *name)
{
        const char *slash = strrchr(*path, '/');
        char *to;

        if (!slash || !(to = xasprintf("%.*s/%s", (int) (slash - *path), *path, name)))
                return -ENOMEM;
        if (rename(*path, to) < 0) {
                int r = -errno;
                free(to);
                return r;
        }
        free(*path);
        *path = to;
        return 0;
}

static void remove_leaf(struct sb_cgroup *cg)
{
        cg->spares = NULL;
        (void) sb_cgroup_destroy(cg);
        free(cg->group);
        cg->group = NULL;
}

int sb_spares_adopt(struct sb_spares *s, struct sb_cgroup *cg, const char *group, const struct sandbox_limits *lim)
{
        if (!s || cg->mode != SB_CGROUP_V1)
                return 0;
        if (group && !(cg->group = strdup(group)))
                return -ENOMEM;
        cg->key_memory = lim->memory_bytes;
        cg->key_pids = lim->pids;
        cg->key_cpu = lim->cpu_millis;
        (void) pthread_mutex_lock(&s->lock);
        s->refs++;
        (void) pthread_mutex_unlock(&s->lock);
        cg->spares = s;
        return 0;
}

int sb_spares_take(struct sb_spares *s, const struct sb_cgroup_root *root, const char *group, const char *name,
                   const struct sandbox_limits *lim, struct sb_cgroup *ret)
{
        struct sb_cgroup cg = SB_CGROUP_INIT;
        bool found = false;
        int r = 0;

        if (!s)
                return 0;
        (void) pthread_mutex_lock(&s->lock);
        /* The newest first: its pages are the likeliest still in cache. */
        for (size_t i = s->n; i-- > 0 && !found;) {
                const struct sb_cgroup *e = &s->e[i].cg;
                if (same_group(e->group, group) && e->key_memory == lim->memory_bytes && e->key_pids == lim->pids &&
                    e->key_cpu == lim->cpu_millis) {
                        cg = s->e[i].cg;
                        s->e[i] = s->e[--s->n];
                        found = true;
                }
        }
        if (found)
                s->refs++;
        (void) pthread_mutex_unlock(&s->lock);
        if (!found)
                return 0;
        cg.spares = s;
        for (int c = 0; c < SB_CTRL_MAX_ && r >= 0; c++)
                if (cg.path[c])
                        r = rename_leaf(&cg.path[c], name);
        if (r >= 0)
                r = sb_cgroup_open_tasks(root, group, &cg);
        if (r < 0) {
                /* Not usable after all: removed, and a new leaf is made. */
                sb_cgroup_close_spawn_fds(&cg);
                remove_leaf(&cg);
                sb_spares_unref(s);
                return 0;
        }
        *ret = cg;
        return 1;
}

/* Nothing of the ended sandbox is in the leaf or in the counters that
 * sandbox_stats() reports; its peak memory is reset. */
static bool leaf_clean(const struct sb_cgroup *cg)
{
        uint64_t v;

        if (!cg->path[SB_CTRL_PIDS] || !cg->path[SB_CTRL_MEMORY])
                return false;
        if (sb_cgroup_read_number(cg->path[SB_CTRL_PIDS], "pids.current", NULL, &v) < 0 || v != 0)
                return false;
        if (sb_cgroup_read_number(cg->path[SB_CTRL_PIDS], "pids.events", "max", &v) < 0 || v != 0)
                return false;
        if (sb_cgroup_read_number(cg->path[SB_CTRL_MEMORY], "memory.oom_control", "oom_kill", &v) < 0 || v != 0)
                return false;
        return sb_cgroup_write(cg->path[SB_CTRL_MEMORY], "memory.max_usage_in_bytes", "0") >= 0;
}

/* Take cg into the cache when it is clean: 0 (cg is then emptied); < 0 when
 * it must be removed as usual. */
static int put(struct sb_cgroup *cg)
{
        struct sb_spares *s = cg->spares;
        struct sb_cgroup evicted = SB_CGROUP_INIT;
        char name[32];
        uint64_t seq;
        bool closed, have_evicted = false;
        int r = 0;

        if (!s || cg->mode != SB_CGROUP_V1)
                return -EINVAL;
        sb_cgroup_close_spawn_fds(cg);
        (void) pthread_mutex_lock(&s->lock);
        closed = s->closed;
        seq = ++s->seq;
        (void) pthread_mutex_unlock(&s->lock);
        if (closed || !leaf_clean(cg))
                return -EBUSY;
        (void) xsnprintf(name, sizeof name, "spare-%llu", (unsigned long long) seq);
        for (int c = 0; c < SB_CTRL_MAX_ && r >= 0; c++)
                if (cg->path[c])
                        r = rename_leaf(&cg->path[c], name);
        if (r < 0)
                return r;

        (void) pthread_mutex_lock(&s->lock);
        if (s->closed) {
                (void) pthread_mutex_unlock(&s->lock);
                return -EBUSY;
        }
        if (s->n == SB_SPARES_MAX) {
                size_t oldest = 0;
                for (size_t i = 1; i < s->n; i++)
                        if (s->e[i].seq < s->e[oldest].seq)
                                oldest = i;
                evicted = s->e[oldest].cg;
                s->e[oldest] = s->e[--s->n];
                have_evicted = true;
        }
        s->e[s->n].cg = *cg;
        s->e[s->n].cg.spares = NULL;
        s->e[s->n].seq = seq;
        s->n++;
        (void) pthread_mutex_unlock(&s->lock);

        *cg = (struct sb_cgroup) SB_CGROUP_INIT;
        if (have_evicted)
                remove_leaf(&evicted);
        sb_spares_unref(s);
        return 0;
}

int sb_spares_release(struct sb_cgroup *cg)
{
        struct sb_spares *s = cg->spares;
        int r;

        if (s && put(cg) == 0)
                return 0;
        cg->spares = NULL;
        r = sb_cgroup_destroy(cg);
        free(cg->group);
        cg->group = NULL;
        sb_spares_unref(s);
        return r;
}

void sb_spares_drop_group(struct sb_spares *s, const char *group)
{
        struct sb_cgroup out[SB_SPARES_MAX];
        size_t n = 0, len = group ? strlen(group) : 0;

        if (!s || !group)
                return;
        (void) pthread_mutex_lock(&s->lock);
        for (size_t i = 0; i < s->n;) {
                const char *g = s->e[i].cg.group;
                if (g && strncmp(g, group, len) == 0 && (g[len] == '\0' || g[len] == '/')) {
                        out[n++] = s->e[i].cg;
                        s->e[i] = s->e[--s->n];
                } else
                        i++;
        }
        (void) pthread_mutex_unlock(&s->lock);
        for (size_t i = 0; i < n; i++)
                remove_leaf(&out[i]);
}
