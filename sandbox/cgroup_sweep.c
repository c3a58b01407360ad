/* SPDX-License-Identifier: MIT */
/*
 * Removing cgroup trees: a sandbox's leaf when it ends, the launcher's
 * subtree when it is freed, and the subtrees dead launchers left behind
 * (the start-up sweep). Whatever is still running in a tree is killed
 * first: a cgroup directory can only go once no process is left in it.
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
 * (subtree/namespace/function/leaf: SB_CGROUP_TREE_DEPTH). */
int sb_cgroup_remove_tree(const char *dir, bool v2, bool has_kill, int depth)
{
        DIR *d;
        struct dirent *de;
        char p[PATH_MAX];

        if (v2 && has_kill && !cgroup_empty(dir))
                (void) sb_cgroup_write(dir, "cgroup.kill", "1");
        if (depth > 0 && (d = opendir(dir))) {
                while ((de = readdir(d)))
                        if (de->d_type == DT_DIR && de->d_name[0] != '.' &&
                            xsnprintf(p, sizeof p, "%s/%s", dir, de->d_name) >= 0)
                                (void) sb_cgroup_remove_tree(p, v2, has_kill, depth - 1);
                (void) closedir(d);
        }
        if (rmdir(dir) == 0 || errno == ENOENT)
                return 0;
        if (errno != EBUSY)
                return -errno;
        /* A killed task keeps the cgroup busy until its parent reaps it
         * (an orphan's reaper may take a while), without being listed in
         * cgroup.procs any more; v1 has no event for that: back off. */
        for (uint64_t deadline = now_ns() + 2000000000ULL, delay_ns = 50000;;) {
                struct timespec ts;
                if (!v2 || !has_kill)
                        kill_procs(dir);
                wait_empty(dir, v2);
                if (rmdir(dir) == 0 || errno == ENOENT)
                        return 0;
                if (errno != EBUSY)
                        return -errno;
                if (now_ns() >= deadline)
                        return -EBUSY;
                ts = (struct timespec) { .tv_sec = 0, .tv_nsec = (long) delay_ns };
                (void) nanosleep(&ts, NULL);
                if (delay_ns < 10000000)
                        delay_ns *= 2;
        }
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

/* Every visible pid in dir and below (at most max). */
static size_t tree_pids(const char *dir, int depth, pid_t *pids, size_t n, size_t max)
{
        _cleanup_free_ char *buf = NULL;
        char p[PATH_MAX];
        DIR *d;
        struct dirent *de;

        if (xsnprintf(p, sizeof p, "%s/cgroup.procs", dir) >= 0 && read_file_at(AT_FDCWD, p, 1 << 20, &buf, NULL) >= 0)
                n += parse_pids(buf, pids + n, max - n);
        if (depth > 0 && n < max && (d = opendir(dir))) {
                while (n < max && (de = readdir(d)))
                        if (de->d_type == DT_DIR && de->d_name[0] != '.' &&
                            xsnprintf(p, sizeof p, "%s/%s", dir, de->d_name) >= 0)
                                n = tree_pids(p, depth - 1, pids, n, max);
                (void) closedir(d);
        }
        return n;
}

static pid_t parent_of(pid_t pid)
{
        _cleanup_free_ char *st = NULL;
        char path[64], *e, *sp;
        uint64_t ppid;

        (void) xsnprintf(path, sizeof path, "/proc/%d/stat", (int) pid);
        if (read_file_at(AT_FDCWD, path, 4096, &st, NULL) < 0 || !(e = strrchr(st, ')')) || strlen(e) < 5)
                return -1;
        /* ") S <ppid> ..." */
        if ((sp = strchr(e + 4, ' ')))
                *sp = '\0';
        if (parse_u64(e + 4, &ppid) < 0 || ppid > INT32_MAX)
                return -1;
        return (pid_t) ppid;
}

/* A process visible in our /proc is in our pid namespace or a descendant;
 * its "NSpid:" line lists its pid in each, from ours down, so one field
 * means ours. (Not /proc/<pid>/ns/pid: reading that link needs ptrace
 * access, which init often denies.) */
static bool in_our_pid_ns(pid_t pid)
{
        _cleanup_free_ char *st = NULL;
        char path[64], *l, *e;
        int fields = 0;

        (void) xsnprintf(path, sizeof path, "/proc/%d/status", (int) pid);
        if (pid <= 0 || read_file_at(AT_FDCWD, path, 1 << 16, &st, NULL) < 0 || !(l = strstr(st, "\nNSpid:")))
                return false;
        l += 8;
        if ((e = strchr(l, '\n')))
                *e = '\0';
        for (char *t = l; *t;) {
                while (*t == ' ' || *t == '\t')
                        t++;
                if (!*t)
                        break;
                fields++;
                while (*t && *t != ' ' && *t != '\t')
                        t++;
        }
        return fields == 1;
}

enum tree_owner { TREE_EMPTY, TREE_OURS, TREE_ORPHANED, TREE_UNKNOWN };

/* Who holds the processes of a default-named subtree. A launcher's
 * sandboxes are its children; when it dies they are adopted by a reaper
 * (init or a subreaper) of the launcher's pid namespace. So if the parent of
 * every process whose parent is outside the tree lives in our own pid
 * namespace, the launcher lived there too, and "sfaasd-<pid>" with <pid>
 * dead here means it is gone. A parent in another pid namespace (or not
 * visible, ppid 0) means a launcher we cannot judge: a pid in a subtree
 * name means nothing across pid namespaces (a container's daemon on a
 * hybrid host shares the v1 pids and cpu hierarchies from "/"). */
static enum tree_owner tree_owner(const char *dir)
{
        enum { MAX = 1024 };
        pid_t *pids = calloc(MAX, sizeof *pids);
        enum tree_owner o = TREE_ORPHANED;
        size_t n;

        if (!pids)
                return TREE_UNKNOWN;
        n = tree_pids(dir, SB_CGROUP_TREE_DEPTH, pids, 0, MAX);
        if (n == 0)
                o = TREE_EMPTY;
        for (size_t i = 0; i < n && o == TREE_ORPHANED; i++) {
                pid_t pp;
                if (pids[i] == getpid()) {
                        o = TREE_OURS;
                        break;
                }
                pp = parent_of(pids[i]);
                if (pp == getpid())
                        o = TREE_OURS;
                else if (pp <= 0)
                        o = TREE_UNKNOWN;
                else if (!pid_listed(pids, n, pp) && !in_our_pid_ns(pp))
                        o = TREE_UNKNOWN;
        }
        free(pids);
        return o;
}

/* Remove the default-named subtrees ("sfaasd-<pid>") that dead launchers
 * left under our own cgroup directories (bases: one per v1 hierarchy, or
 * the v2 one): a daemon killed with SIGKILL frees nothing, and processes
 * left in its leaves would stay counted (and running) forever. A subtree is
 * taken for stale when its pid does not exist in our pid namespace, or is
 * our own pid (we are about to create it: an earlier process with our pid
 * left it), and its processes are provably orphans of our pid namespace
 * (tree_owner). An empty subtree of another pid is kept: an idle launcher
 * of another pid namespace cannot be told from a dead one, and an empty
 * directory costs nothing; our own pid's is removed, since we need the
 * name. Custom subtree names are never touched. With only set, just the
 * subtree of that name is considered (a one-shot launcher's own). */
void sb_cgroup_sweep_stale(char *const bases[], size_t n_bases, const char *only, bool v2, bool has_kill)
{
        /* One decision per name over every hierarchy: killing the processes
         * found through one hierarchy empties the others. */
        for (size_t b = 0; b < n_bases; b++) {
                DIR *d = bases[b] ? opendir(bases[b]) : NULL;
                struct dirent *de;

                if (!d)
                        continue;
                while ((de = readdir(d))) {
                        enum tree_owner o = TREE_EMPTY;
                        char p[PATH_MAX];
                        pid_t pid;
                        if (de->d_type != DT_DIR || !(pid = default_subtree_pid(de->d_name)) ||
                            (only && strcmp(de->d_name, only) != 0))
                                continue;
                        if (pid != getpid() && (kill(pid, 0) == 0 || errno != ESRCH))
                                continue;
                        for (size_t k = 0; k < n_bases; k++) {
                                enum tree_owner ok;
                                if (!bases[k] || xsnprintf(p, sizeof p, "%s/%s", bases[k], de->d_name) < 0 ||
                                    access(p, F_OK) < 0)
                                        continue;
                                ok = tree_owner(p);
                                if (ok == TREE_OURS || ok == TREE_UNKNOWN || (ok == TREE_ORPHANED && o == TREE_EMPTY))
                                        o = ok;
                                if (o == TREE_OURS || o == TREE_UNKNOWN)
                                        break;
                        }
                        if (o != TREE_ORPHANED && !(o == TREE_EMPTY && pid == getpid()))
                                continue;
                        for (size_t k = 0; k < n_bases; k++)
                                if (bases[k] && xsnprintf(p, sizeof p, "%s/%s", bases[k], de->d_name) >= 0)
                                        (void) sb_cgroup_remove_tree(p, v2, has_kill, SB_CGROUP_TREE_DEPTH);
                }
                (void) closedir(d);
        }
}

