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
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
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

static void sweep_stale(const char *base, bool v2, bool has_kill);

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
                sweep_stale(root->own_v2, true, exists_at(root->own_v2, "cgroup.kill"));
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
                        sweep_stale(root->own[c], false, false);
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

static bool cgroup_empty(const char *dir);
static void wait_empty(const char *dir, bool v2);

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif

/* Parse a cgroup.procs buffer into pids (at most max). */
static size_t parse_pids(char *buf, pid_t *pids, size_t max)
{
        size_t n = 0;
        for (char *l = buf; l && *l && n < max;) {
                char *e = strchr(l, '\n');
                uint64_t v;
                if (e)
                        *e = '\0';
                if (parse_u64(l, &v) == 0 && v > 0 && v <= INT32_MAX)
                        pids[n++] = (pid_t) v;
                l = e ? e + 1 : NULL;
        }
        return n;
}

static bool pid_listed(const pid_t *pids, size_t n, pid_t pid)
{
        for (size_t i = 0; i < n; i++)
                if (pids[i] == pid)
                        return true;
        return false;
}

/* SIGKILL every process in the cgroup dir (not below), until it is empty or
 * a deadline passes. v1 has no cgroup.kill: read cgroup.procs, pin each pid
 * with a pidfd, read cgroup.procs again and signal only the pidfds whose pid
 * is still listed, so a pid that exited and was reused between the two
 * reads is never signalled (the pidfd still names the dead process). A
 * sandbox forks from the pids we read; each round kills what appeared, and
 * pids.max bounds the number of rounds a fork bomb can force. */
static void kill_procs(const char *dir)
{
        enum { MAX = 256 };
        uint64_t deadline = now_ns() + 1000000000ULL;
        char p[PATH_MAX];

        if (xsnprintf(p, sizeof p, "%s/cgroup.procs", dir) < 0)
                return;
        while (now_ns() < deadline) {
                _cleanup_free_ char *a = NULL, *b = NULL;
                pid_t first[MAX], again[MAX];
                int fds[MAX];
                size_t n, m;

                if (read_file_at(AT_FDCWD, p, 1 << 20, &a, NULL) < 0)
                        return;
                n = parse_pids(a, first, MAX);
                if (n == 0)
                        return;
                for (size_t i = 0; i < n; i++)
                        fds[i] = (int) syscall(SYS_pidfd_open, first[i], 0);
                m = read_file_at(AT_FDCWD, p, 1 << 20, &b, NULL) < 0 ? 0 : parse_pids(b, again, MAX);
                for (size_t i = 0; i < n; i++) {
                        if (fds[i] < 0)
                                continue;
                        if (pid_listed(again, m, first[i]))
                                (void) syscall(SYS_pidfd_send_signal, fds[i], SIGKILL, NULL, 0);
                        (void) close(fds[i]);
                }
                sched_yield();
        }
}

/* Kill what is left in dir and below, then rmdir bottom-up (cgroup
 * directories hold only control files and child cgroups). v2 with
 * cgroup.kill takes the whole subtree at once. depth bounds the walk
 * (subtree/group/leaf). */
static int remove_cgroup_tree(const char *dir, bool v2, bool has_kill, int depth)
{
        DIR *d;
        struct dirent *de;
        char p[PATH_MAX];

        if (v2 && has_kill && !cgroup_empty(dir))
                (void) write_at(dir, "cgroup.kill", "1");
        if (depth > 0 && (d = opendir(dir))) {
                while ((de = readdir(d)))
                        if (de->d_type == DT_DIR && de->d_name[0] != '.' &&
                            xsnprintf(p, sizeof p, "%s/%s", dir, de->d_name) >= 0)
                                (void) remove_cgroup_tree(p, v2, has_kill, depth - 1);
                (void) closedir(d);
        }
        if (rmdir(dir) == 0 || errno == ENOENT)
                return 0;
        if (errno != EBUSY)
                return -errno;
        for (int tries = 0; tries < 20; tries++) {
                if (!v2 || !has_kill)
                        kill_procs(dir);
                wait_empty(dir, v2);
                if (rmdir(dir) == 0 || errno == ENOENT)
                        return 0;
                if (errno != EBUSY)
                        return -errno;
        }
        return -EBUSY;
}

void sb_cgroup_root_release(struct sb_cgroup_root *root)
{
        if (!root)
                return;
        /* Every directory we made, in every hierarchy: the leaves a caller
         * did not free, the group (tenant) directories, the subtree. */
        for (int c = 0; c < SB_CTRL_MAX_; c++)
                if (root->subtree[c])
                        (void) remove_cgroup_tree(root->subtree[c], root->mode == SB_CGROUP_V2, root->has_kill, 2);
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

/* "sfaasd-<pid>" or "sfaasd-<pid>-daemon": the default subtree names. */
static pid_t default_subtree_pid(const char *name)
{
        uint64_t v = 0;
        const char *p = name + 7;

        if (strncmp(name, "sfaasd-", 7) != 0 || *p < '1' || *p > '9')
                return 0;
        for (; *p >= '0' && *p <= '9'; p++) {
                v = v * 10 + (uint64_t) (*p - '0');
                if (v > INT32_MAX)
                        return 0;
        }
        if (*p != '\0' && strcmp(p, "-daemon") != 0)
                return 0;
        return (pid_t) v;
}

/* Is this process, or any child of ours, in dir (or below)? Then the
 * subtree belongs to this very process (a live launcher's, or the v2 leaf we
 * moved ourselves into), not to a dead one. */
static bool tree_has_us(const char *dir, int depth)
{
        _cleanup_free_ char *buf = NULL;
        char p[PATH_MAX];
        pid_t pids[256];
        size_t n;
        DIR *d;
        struct dirent *de;
        bool found = false;

        if (xsnprintf(p, sizeof p, "%s/cgroup.procs", dir) >= 0 && read_file_at(AT_FDCWD, p, 1 << 20, &buf, NULL) >= 0) {
                n = parse_pids(buf, pids, ELEMENTSOF(pids));
                for (size_t i = 0; i < n && !found; i++) {
                        _cleanup_free_ char *st = NULL;
                        if (pids[i] == getpid()) {
                                found = true;
                                break;
                        }
                        char sp[64];
                        const char *e;
                        uint64_t ppid;
                        (void) xsnprintf(sp, sizeof sp, "/proc/%d/stat", (int) pids[i]);
                        if (read_file_at(AT_FDCWD, sp, 4096, &st, NULL) < 0 || !(e = strrchr(st, ')')))
                                continue;
                        /* ") S <ppid> ..." */
                        if (strlen(e) > 4) {
                                char *sp2 = strchr(e + 4, ' ');
                                if (sp2)
                                        *sp2 = '\0';
                                if (parse_u64(e + 4, &ppid) == 0 && ppid == (uint64_t) getpid())
                                        found = true;
                        }
                }
        }
        if (!found && depth > 0 && (d = opendir(dir))) {
                while (!found && (de = readdir(d)))
                        if (de->d_type == DT_DIR && de->d_name[0] != '.' &&
                            xsnprintf(p, sizeof p, "%s/%s", dir, de->d_name) >= 0)
                                found = tree_has_us(p, depth - 1);
                (void) closedir(d);
        }
        return found;
}

/* Remove the default-named subtrees ("sfaasd-<pid>") that dead launchers
 * left under our own cgroup directory base: a daemon killed with SIGKILL
 * frees nothing, and its sandboxes (reparented, still running, still
 * counted against their limits) would stay forever. A subtree is stale when
 * its pid no longer exists, or when it is our own pid (we are about to
 * create it: it is a leftover of an earlier process that had our pid)
 * and holds no child of ours. Assumes the launchers sharing this cgroup
 * directory share our pid namespace (a pid in a name means nothing across
 * pid namespaces); custom subtree names are never touched. */
static void sweep_stale(const char *base, bool v2, bool has_kill)
{
        DIR *d = opendir(base);
        struct dirent *de;
        char p[PATH_MAX];

        if (!d)
                return;
        while ((de = readdir(d))) {
                pid_t pid;
                if (de->d_type != DT_DIR || !(pid = default_subtree_pid(de->d_name)))
                        continue;
                if (xsnprintf(p, sizeof p, "%s/%s", base, de->d_name) < 0)
                        continue;
                if (pid == getpid()) {
                        if (tree_has_us(p, 2))
                                continue;
                } else if (kill(pid, 0) == 0 || errno != ESRCH)
                        continue;
                (void) remove_cgroup_tree(p, v2, has_kill, 2);
        }
        (void) closedir(d);
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
                int r;
                if (!cg->path[c])
                        continue;
                /* Normally empty by now: the sandbox's pid 1 was killed and
                 * reaped, and the kernel kills the rest of its pid namespace
                 * with it. Dying tasks may linger a moment (EBUSY); anything
                 * still alive is killed (v1 has no cgroup.kill: each pid from
                 * cgroup.procs) before the leaf goes, never left behind. */
                r = remove_cgroup_tree(cg->path[c], cg->mode == SB_CGROUP_V2, cg->has_kill, 0);
                if (r < 0 && ret == 0)
                        ret = r;
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
