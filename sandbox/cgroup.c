/* SPDX-License-Identifier: MIT */
/*
 * Cgroups for sandboxes: v2 when memory and pids are available in our own
 * v2 cgroup, v1 otherwise (hybrid hosts). Everything is created below the
 * process's own cgroup (from /proc/self/cgroup) and removed again:
 *
 *   <own>/<subtree>/[<group>/]<name>     per sandbox leaf
 *   <own>/<subtree>-daemon               v2 only, when our own cgroup holds
 *                                        processes and so cannot enable
 *                                        controllers (no-internal-process rule)
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/base/cleanup.h"
#include "core/base/util.h"
#include "sandbox/internal.h"

static const char *const ctrl_names[SB_CTRL_MAX_] = { "memory", "pids", "cpu" };

struct cg_hosts {
        char v2_mnt[PATH_MAX];           /* "" when no cgroup2 mount */
        char v2_own[PATH_MAX];           /* path inside the v2 hierarchy */
        char v1_mnt[SB_CTRL_MAX_][PATH_MAX];
        char v1_own[SB_CTRL_MAX_][PATH_MAX];
};

static bool list_has(const char *list, const char *word, char sep)
{
        size_t n = strlen(word);
        for (const char *p = list; p && *p;) {
                const char *e = strchr(p, sep);
                size_t len = e ? (size_t) (e - p) : strlen(p);
                if (len == n && strncmp(p, word, n) == 0)
                        return true;
                p = e ? e + 1 : NULL;
        }
        return false;
}

static int scan_hosts(struct cg_hosts *h)
{
        _cleanup_fclose_ FILE *f = NULL;
        _cleanup_free_ char *line = NULL;
        size_t cap = 0;

        memset(h, 0, sizeof *h);
        f = fopen("/proc/self/mountinfo", "re");
        if (!f)
                return -errno;
        while (getline(&line, &cap, f) > 0) {
                char *sep = strstr(line, " - "), *fields[6] = { NULL }, *save = NULL, *type, *opts, *p;
                size_t n = 0;
                if (!sep)
                        continue;
                *sep = '\0';
                for (p = strtok_r(line, " ", &save); p && n < 6; p = strtok_r(NULL, " ", &save))
                        fields[n++] = p;
                if (n < 5)
                        continue;
                type = strtok_r(sep + 3, " ", &save);
                (void) strtok_r(NULL, " ", &save);
                opts = strtok_r(NULL, " \n", &save);
                if (!type || !opts)
                        continue;
                if (strcmp(type, "cgroup2") == 0 && !h->v2_mnt[0])
                        (void) xsnprintf(h->v2_mnt, sizeof h->v2_mnt, "%s", fields[4]);
                else if (strcmp(type, "cgroup") == 0)
                        for (int c = 0; c < SB_CTRL_MAX_; c++)
                                if (list_has(opts, ctrl_names[c], ',') && !h->v1_mnt[c][0])
                                        (void) xsnprintf(h->v1_mnt[c], PATH_MAX, "%s", fields[4]);
        }
        (void) fclose(TAKE_PTR(f));

        f = fopen("/proc/self/cgroup", "re");
        if (!f)
                return -errno;
        while (getline(&line, &cap, f) > 0) {
                char *c1 = strchr(line, ':'), *c2, *path;
                if (!c1 || !(c2 = strchr(c1 + 1, ':')))
                        continue;
                *c2 = '\0';
                path = c2 + 1;
                path[strcspn(path, "\n")] = '\0';
                if (strcmp(line, "0:") == 0) {
                        (void) xsnprintf(h->v2_own, sizeof h->v2_own, "%s", path);
                        continue;
                }
                for (int c = 0; c < SB_CTRL_MAX_; c++)
                        if (list_has(c1 + 1, ctrl_names[c], ','))
                                (void) xsnprintf(h->v1_own[c], PATH_MAX, "%s", path);
        }
        return 0;
}

static int join(char *buf, size_t size, const char *a, const char *b)
{
        /* a "/" own path joins without a double slash */
        if (strcmp(b, "/") == 0)
                return xsnprintf(buf, size, "%s", a);
        return xsnprintf(buf, size, "%s%s", a, b);
}

static bool v2_has(const char *dir, const char *ctrl)
{
        _cleanup_free_ char *buf = NULL;
        char p[PATH_MAX];
        if (xsnprintf(p, sizeof p, "%s/cgroup.controllers", dir) < 0)
                return false;
        if (read_file_at(AT_FDCWD, p, 4096, &buf, NULL) < 0)
                return false;
        buf[strcspn(buf, "\n")] = '\0';
        return list_has(buf, ctrl, ' ');
}

static int write_at(const char *dir, const char *file, const char *value)
{
        char p[PATH_MAX];
        int r = xsnprintf(p, sizeof p, "%s/%s", dir, file);
        if (r < 0)
                return r;
        return write_string_file(p, value);
}

static bool exists_at(const char *dir, const char *file)
{
        char p[PATH_MAX];
        if (xsnprintf(p, sizeof p, "%s/%s", dir, file) < 0)
                return false;
        return access(p, F_OK) == 0;
}

int sb_cgroup_detect(struct sb_cgroup_root *root, struct sf_err *err)
{
        struct cg_hosts *h = calloc(1, sizeof *h);
        char dir[PATH_MAX];
        int r;

        if (!h)
                return sf_err_set(err, -ENOMEM, "cgroup: out of memory");
        memset(root, 0, sizeof *root);
        r = scan_hosts(h);
        if (r < 0) {
                free(h);
                return sf_err_errno(err, r, "cgroup: cannot read /proc/self/mountinfo or /proc/self/cgroup");
        }
        if (h->v2_mnt[0] && join(dir, sizeof dir, h->v2_mnt, h->v2_own) >= 0 && v2_has(dir, "memory") &&
            v2_has(dir, "pids")) {
                root->mode = SB_CGROUP_V2;
                root->own_v2 = strdup(dir);
                if (!root->own_v2)
                        r = -ENOMEM;
        } else if (h->v1_mnt[SB_CTRL_MEMORY][0] && h->v1_mnt[SB_CTRL_PIDS][0]) {
                root->mode = SB_CGROUP_V1;
                for (int c = 0; c < SB_CTRL_MAX_ && r >= 0; c++) {
                        if (!h->v1_mnt[c][0])
                                continue;
                        r = join(dir, sizeof dir, h->v1_mnt[c], h->v1_own[c]);
                        if (r >= 0 && !(root->own[c] = strdup(dir)))
                                r = -ENOMEM;
                }
        } else
                r = sf_err_set(err, -ENOTSUP,
                               "cgroup: no usable hierarchy (need memory and pids controllers in our v2 "
                               "cgroup or as v1 hierarchies)");
        free(h);
        if (r < 0) {
                sb_cgroup_root_release(root);
                return err && err->code ? r : sf_err_errno(err, r, "cgroup: detect");
        }
        return 0;
}

/* v2: "+memory +pids +cpu" for what dir offers. */
static int v2_enable(const char *dir, const char *avail_dir)
{
        char buf[64] = "";
        size_t n = 0;
        for (int c = 0; c < SB_CTRL_MAX_; c++) {
                if (!v2_has(avail_dir, ctrl_names[c]))
                        continue;
                int r = xsnprintf(buf + n, sizeof buf - n, "%s+%s", n ? " " : "", ctrl_names[c]);
                if (r < 0)
                        return r;
                n += (size_t) r;
        }
        return write_at(dir, "cgroup.subtree_control", buf);
}

int sb_cgroup_root_init(struct sb_cgroup_root *root, const char *subtree_name, struct sf_err *err)
{
        char dir[PATH_MAX];
        int r;

        if (root->mode == SB_CGROUP_V2) {
                _cleanup_free_ char *before = NULL;
                char p[PATH_MAX];
                r = xsnprintf(p, sizeof p, "%s/cgroup.subtree_control", root->own_v2);
                if (r < 0 || read_file_at(AT_FDCWD, p, 4096, &before, NULL) < 0)
                        return sf_err_set(err, -EIO, "cgroup: cannot read '%s'", p);
                before[strcspn(before, "\n")] = '\0';
                if (!list_has(before, "memory", ' ') || !list_has(before, "pids", ' ')) {
                        r = v2_enable(root->own_v2, root->own_v2);
                        if (r == -EBUSY) {
                                /* We sit in our own cgroup: move into a leaf so the
                                 * cgroup may have children with controllers. */
                                r = xsnprintf(dir, sizeof dir, "%s/%s-daemon", root->own_v2, subtree_name);
                                if (r >= 0 && mkdir(dir, 0755) < 0 && errno != EEXIST)
                                        r = -errno;
                                if (r >= 0 && !(root->self_leaf = strdup(dir)))
                                        r = -ENOMEM;
                                if (r >= 0)
                                        r = write_at(dir, "cgroup.procs", "0");
                                if (r >= 0)
                                        r = v2_enable(root->own_v2, root->own_v2);
                        }
                        if (r < 0)
                                return sf_err_errno(err, r, "cgroup: cannot enable controllers in '%s'",
                                                    root->own_v2);
                        root->enabled_own = true;
                }
                r = xsnprintf(dir, sizeof dir, "%s/%s", root->own_v2, subtree_name);
                if (r >= 0 && mkdir(dir, 0755) < 0)
                        r = -errno;
                if (r < 0)
                        return sf_err_errno(err, r, "cgroup: cannot create '%s'", dir);
                if (!(root->subtree[0] = strdup(dir)))
                        return sf_err_set(err, -ENOMEM, "cgroup: out of memory");
                r = v2_enable(dir, dir);
                if (r < 0)
                        return sf_err_errno(err, r, "cgroup: cannot enable controllers in '%s'", dir);
                root->has_kill = exists_at(dir, "cgroup.kill");
                root->has_swap = v2_has(dir, "memory");
                return 0;
        }
        if (root->mode == SB_CGROUP_V1) {
                for (int c = 0; c < SB_CTRL_MAX_; c++) {
                        if (!root->own[c])
                                continue;
                        r = xsnprintf(dir, sizeof dir, "%s/%s", root->own[c], subtree_name);
                        if (r >= 0 && mkdir(dir, 0755) < 0)
                                r = -errno;
                        if (r < 0)
                                return sf_err_errno(err, r, "cgroup: cannot create '%s'", dir);
                        root->subtree[c] = strdup(dir);
                        if (!root->subtree[c])
                                return sf_err_set(err, -ENOMEM, "cgroup: out of memory");
                }
                root->has_swap = exists_at(root->subtree[SB_CTRL_MEMORY], "memory.memsw.limit_in_bytes");
                return 0;
        }
        return 0;
}

/* rmdir the children of dir (cgroup directories only hold control files and
 * child cgroups), then dir. */
static int rmdir_cgroup_tree(const char *dir, int depth)
{
        DIR *d;
        struct dirent *de;
        char p[PATH_MAX];

        if (depth > 0 && (d = opendir(dir))) {
                while ((de = readdir(d)))
                        if (de->d_type == DT_DIR && de->d_name[0] != '.' &&
                            xsnprintf(p, sizeof p, "%s/%s", dir, de->d_name) >= 0)
                                (void) rmdir_cgroup_tree(p, depth - 1);
                (void) closedir(d);
        }
        return rmdir(dir) < 0 ? -errno : 0;
}

void sb_cgroup_root_release(struct sb_cgroup_root *root)
{
        if (!root)
                return;
        for (int c = 0; c < SB_CTRL_MAX_; c++)
                if (root->subtree[c])
                        (void) rmdir_cgroup_tree(root->subtree[c], 2);
        if (root->self_leaf && root->own_v2) {
                if (root->enabled_own)
                        (void) write_at(root->own_v2, "cgroup.subtree_control", "-memory -pids -cpu");
                (void) write_at(root->own_v2, "cgroup.procs", "0");
                (void) rmdir(root->self_leaf);
        } else if (root->enabled_own && root->own_v2)
                (void) write_at(root->own_v2, "cgroup.subtree_control", "-memory -pids -cpu");
        for (int c = 0; c < SB_CTRL_MAX_; c++) {
                free(root->subtree[c]);
                free(root->own[c]);
                root->subtree[c] = root->own[c] = NULL;
        }
        free(root->self_leaf);
        free(root->own_v2);
        root->self_leaf = root->own_v2 = NULL;
        root->mode = SB_CGROUP_NONE;
}

static int write_u64(const char *dir, const char *file, uint64_t v)
{
        char buf[32];
        (void) xsnprintf(buf, sizeof buf, "%llu", (unsigned long long) v);
        return write_at(dir, file, buf);
}

static int make_dir(char *buf, size_t size, const char *base, const char *group, const char *name,
                    bool v2_enable_group)
{
        int r;
        if (group) {
                r = xsnprintf(buf, size, "%s/%s", base, group);
                if (r < 0)
                        return r;
                if (mkdir(buf, 0755) == 0) {
                        if (v2_enable_group && (r = v2_enable(buf, buf)) < 0)
                                return r;
                } else if (errno != EEXIST)
                        return -errno;
                r = xsnprintf(buf, size, "%s/%s/%s", base, group, name);
        } else
                r = xsnprintf(buf, size, "%s/%s", base, name);
        if (r < 0)
                return r;
        return mkdir(buf, 0755) < 0 ? -errno : 0;
}

int sb_cgroup_create(const struct sb_cgroup_root *root, const char *group, const char *name,
                     const struct sandbox_limits *lim, struct sb_cgroup *ret, struct sf_err *err)
{
        struct sb_cgroup cg = { .mode = root->mode, .dir_fd = -1, .tasks_fd = { -1, -1, -1 },
                                .has_kill = root->has_kill };
        char dir[PATH_MAX];
        int r = 0;

        if (root->mode == SB_CGROUP_NONE) {
                *ret = cg;
                return 0;
        }
        for (int c = 0; c < SB_CTRL_MAX_; c++) {
                const char *base = root->subtree[c];
                if (!base || (root->mode == SB_CGROUP_V2 && c > 0))
                        continue;
                r = make_dir(dir, sizeof dir, base, group, name, root->mode == SB_CGROUP_V2);
                if (r < 0) {
                        sf_err_errno(err, r, "cgroup: cannot create '%s'", dir);
                        goto fail;
                }
                if (!(cg.path[c] = strdup(dir))) {
                        r = sf_err_set(err, -ENOMEM, "cgroup: out of memory");
                        goto fail;
                }
                if (root->mode == SB_CGROUP_V2) {
                        char q[48];
                        r = write_u64(dir, "memory.max", lim->memory_bytes);
                        if (r >= 0 && root->has_swap && (r = write_at(dir, "memory.swap.max", "0")) == -ENOENT)
                                r = 0;
                        if (r >= 0)
                                r = write_u64(dir, "pids.max", lim->pids);
                        if (r >= 0 && v2_has(root->subtree[0], "cpu")) {
                                (void) xsnprintf(q, sizeof q, "%llu 100000",
                                                 (unsigned long long) lim->cpu_millis * 100);
                                r = write_at(dir, "cpu.max", q);
                        }
                        if (r >= 0) {
                                cg.dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                                if (cg.dir_fd < 0)
                                        r = -errno;
                        }
                } else if (c == SB_CTRL_MEMORY) {
                        r = write_u64(dir, "memory.limit_in_bytes", lim->memory_bytes);
                        if (r >= 0 && root->has_swap)
                                r = write_u64(dir, "memory.memsw.limit_in_bytes", lim->memory_bytes);
                } else if (c == SB_CTRL_PIDS)
                        r = write_u64(dir, "pids.max", lim->pids);
                else if (c == SB_CTRL_CPU) {
                        r = write_u64(dir, "cpu.cfs_period_us", 100000);
                        if (r >= 0)
                                r = write_u64(dir, "cpu.cfs_quota_us", lim->cpu_millis * 100);
                }
                if (r < 0) {
                        sf_err_errno(err, r, "cgroup: cannot set limits in '%s'", dir);
                        goto fail;
                }
                /* v1: the child joins by writing "0" to "tasks" itself. Moving
                 * another process (cgroup.procs <pid>) takes the global
                 * cgroup_threadgroup_rwsem for writing, an RCU grace period
                 * (10-15 ms measured here) whenever it has been idle; a
                 * single-threaded task moving itself skips that lock. The
                 * permission check uses the opener's credentials (ours). */
                if (root->mode == SB_CGROUP_V1) {
                        char tp[PATH_MAX];
                        r = xsnprintf(tp, sizeof tp, "%s/tasks", dir);
                        if (r >= 0 && (cg.tasks_fd[c] = open(tp, O_WRONLY | O_CLOEXEC)) < 0)
                                r = -errno;
                        if (r < 0) {
                                sf_err_errno(err, r, "cgroup: cannot open '%s'", tp);
                                goto fail;
                        }
                }
        }
        *ret = cg;
        return 0;
fail:
        (void) sb_cgroup_destroy(&cg);
        return r;
}

void sb_cgroup_close_spawn_fds(struct sb_cgroup *cg)
{
        if (cg->dir_fd >= 0)
                (void) close(cg->dir_fd);
        cg->dir_fd = -1;
        for (int c = 0; c < SB_CTRL_MAX_; c++) {
                if (cg->tasks_fd[c] >= 0)
                        (void) close(cg->tasks_fd[c]);
                cg->tasks_fd[c] = -1;
        }
}

int sb_cgroup_kill(const struct sb_cgroup *cg)
{
        if (cg->mode == SB_CGROUP_V2 && cg->has_kill && cg->path[0])
                return write_at(cg->path[0], "cgroup.kill", "1");
        return 0;
}

static bool cgroup_empty(const char *dir)
{
        _cleanup_free_ char *buf = NULL;
        char p[PATH_MAX];
        if (xsnprintf(p, sizeof p, "%s/cgroup.procs", dir) < 0 || read_file_at(AT_FDCWD, p, 1 << 20, &buf, NULL) < 0)
                return true;
        return buf[0] == '\0';
}

/* Wait (bounded) until the cgroup has no process. v2 has an event for it
 * (cgroup.events "populated 0", POLLPRI); v1 has none, so poll
 * cgroup.procs with a short backoff. */
static void wait_empty(const char *dir, bool v2)
{
        uint64_t deadline = now_ns() + 2000000000ULL;
        long delay_ns = 50000;

        if (v2) {
                char p[PATH_MAX];
                _cleanup_close_ int fd = -1;
                if (xsnprintf(p, sizeof p, "%s/cgroup.events", dir) >= 0)
                        fd = open(p, O_RDONLY | O_CLOEXEC);
                while (fd >= 0 && now_ns() < deadline) {
                        char buf[256];
                        ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
                        struct pollfd pfd = { .fd = fd, .events = POLLPRI };
                        if (n <= 0)
                                return;
                        buf[n] = '\0';
                        if (strstr(buf, "populated 0"))
                                return;
                        (void) poll(&pfd, 1, (int) ((deadline - now_ns()) / 1000000) + 1);
                }
                return;
        }
        while (!cgroup_empty(dir) && now_ns() < deadline) {
                struct timespec ts = { .tv_sec = 0, .tv_nsec = delay_ns };
                (void) nanosleep(&ts, NULL);
                if (delay_ns < 10000000)
                        delay_ns *= 2;
        }
}

int sb_cgroup_destroy(struct sb_cgroup *cg)
{
        int ret = 0;

        if (!cg)
                return 0;
        sb_cgroup_close_spawn_fds(cg);
        for (int c = 0; c < SB_CTRL_MAX_; c++) {
                if (!cg->path[c])
                        continue;
                if (rmdir(cg->path[c]) < 0 && errno == EBUSY) {
                        /* Dying tasks linger for a moment after the pid namespace is gone. */
                        for (int tries = 0; tries < 50; tries++) {
                                wait_empty(cg->path[c], cg->mode == SB_CGROUP_V2);
                                if (rmdir(cg->path[c]) == 0 || errno != EBUSY)
                                        break;
                                sched_yield();
                        }
                }
                if (access(cg->path[c], F_OK) == 0 && ret == 0)
                        ret = -EBUSY;
                free(cg->path[c]);
                cg->path[c] = NULL;
        }
        cg->mode = SB_CGROUP_NONE;
        return ret;
}

static uint64_t read_u64_file(const char *dir, const char *file)
{
        _cleanup_free_ char *buf = NULL;
        char p[PATH_MAX];
        uint64_t v = 0;
        if (xsnprintf(p, sizeof p, "%s/%s", dir, file) < 0 || read_file_at(AT_FDCWD, p, 4096, &buf, NULL) < 0)
                return 0;
        buf[strcspn(buf, "\n")] = '\0';
        (void) parse_u64(buf, &v);
        return v;
}

static uint64_t read_key(const char *dir, const char *file, const char *key)
{
        _cleanup_free_ char *buf = NULL;
        char p[PATH_MAX];
        size_t klen = strlen(key);
        if (xsnprintf(p, sizeof p, "%s/%s", dir, file) < 0 || read_file_at(AT_FDCWD, p, 65536, &buf, NULL) < 0)
                return 0;
        for (char *l = buf; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
                if (strncmp(l, key, klen) == 0 && l[klen] == ' ') {
                        char *e = l + klen + 1;
                        e[strcspn(e, "\n")] = '\0';
                        uint64_t v = 0;
                        (void) parse_u64(e, &v);
                        return v;
                }
        }
        return 0;
}

int sb_cgroup_stats(const struct sb_cgroup *cg, struct sandbox_stats *ret)
{
        memset(ret, 0, sizeof *ret);
        if (cg->mode == SB_CGROUP_V2 && cg->path[0]) {
                ret->memory_peak_bytes = read_u64_file(cg->path[0], "memory.peak");
                ret->oom_kills = read_key(cg->path[0], "memory.events", "oom_kill");
                ret->pids_max_hits = read_key(cg->path[0], "pids.events", "max");
        } else if (cg->mode == SB_CGROUP_V1) {
                if (cg->path[SB_CTRL_MEMORY]) {
                        ret->memory_peak_bytes = read_u64_file(cg->path[SB_CTRL_MEMORY], "memory.max_usage_in_bytes");
                        ret->oom_kills = read_key(cg->path[SB_CTRL_MEMORY], "memory.oom_control", "oom_kill");
                }
                if (cg->path[SB_CTRL_PIDS])
                        ret->pids_max_hits = read_key(cg->path[SB_CTRL_PIDS], "pids.events", "max");
        }
        return 0;
}

int sb_cgroup_describe(char *buf, size_t size)
{
        struct cg_hosts *h = calloc(1, sizeof *h);
        char dir[PATH_MAX];
        size_t n = 0;
        int r;

        if (!h)
                return -ENOMEM;
        r = scan_hosts(h);
        if (r < 0) {
                free(h);
                return r;
        }
        buf[0] = '\0';
        if (h->v2_mnt[0] && join(dir, sizeof dir, h->v2_mnt, h->v2_own) >= 0) {
                bool hybrid = h->v1_mnt[SB_CTRL_MEMORY][0] || h->v1_mnt[SB_CTRL_PIDS][0] || h->v1_mnt[SB_CTRL_CPU][0];
                r = xsnprintf(buf, size, "%sv2 at %s (own cgroup controllers:", hybrid ? "hybrid: " : "", h->v2_mnt);
                n = r > 0 ? (size_t) r : 0;
                for (int c = 0; c < SB_CTRL_MAX_; c++)
                        if (v2_has(dir, ctrl_names[c]) && n < size) {
                                r = xsnprintf(buf + n, size - n, " %s", ctrl_names[c]);
                                n += r > 0 ? (size_t) r : 0;
                        }
                if (n < size) {
                        r = xsnprintf(buf + n, size - n, ")");
                        n += r > 0 ? (size_t) r : 0;
                }
        }
        for (int c = 0; c < SB_CTRL_MAX_; c++)
                if (h->v1_mnt[c][0] && n < size) {
                        r = xsnprintf(buf + n, size - n, "%sv1 %s at %s", n ? "; " : "", ctrl_names[c], h->v1_mnt[c]);
                        n += r > 0 ? (size_t) r : 0;
                }
        free(h);
        return 0;
}
