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
#include "core/base/lockfile.h"
#include "core/base/util.h"
#include "sandbox/internal.h"

static bool cgroup_empty(const char *dir)
{
        _cleanup_free_ char *buf = NULL;
        char p[PATH_MAX];
        if (xsnprintf(p, sizeof p, "%s/cgroup.procs", dir) < 0 ||
            read_file_at(AT_FDCWD, p, 1 << 20, &buf, NULL) < 0)
                return true;
        return buf[0] == '\0';
}

/* Wait until the cgroup has no process, or the deadline passes. v2 has an
 * event for it (cgroup.events "populated 0", POLLPRI); v1 has none, so
 * poll cgroup.procs with a short backoff. */
static void wait_empty(const char *dir, bool v2, uint64_t deadline)
{
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
static void kill_procs(const char *dir, uint64_t deadline)
{
        enum { MAX = 256 };
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
 * directories hold only control files and child cgroups), until deadline.
 * v2 with cgroup.kill takes the whole subtree at once. depth bounds the
 * walk (subtree/namespace/function/leaf: SB_CGROUP_TREE_DEPTH). */
static int remove_tree(const char *dir, bool v2, bool has_kill, int depth, uint64_t deadline,
                       unsigned *removed)
{
        bool child_busy = false;
        uint64_t delay_ns = 50000;
        DIR *d;
        struct dirent *de;
        char p[PATH_MAX];

        if (v2 && has_kill && !cgroup_empty(dir))
                (void) sb_cgroup_write(dir, "cgroup.kill", "1");
        if (depth > 0 && (d = opendir(dir))) {
                while ((de = readdir(d)))
                        if (de->d_type == DT_DIR && de->d_name[0] != '.' &&
                            xsnprintf(p, sizeof p, "%s/%s", dir, de->d_name) >= 0 &&
                            remove_tree(p, v2, has_kill, depth - 1, deadline, removed) < 0)
                                child_busy = true;
                (void) closedir(d);
        }
        for (bool waited = false;; waited = true) {
                if (rmdir(dir) == 0) {
                        if (removed)
                                (*removed)++;
                        return 0;
                }
                if (errno == ENOENT)
                        return 0;
                /* A child that stayed keeps us busy too: no use waiting. */
                if (errno != EBUSY || child_busy)
                        return -errno;
                if (now_ns() >= deadline)
                        return -EBUSY;
                /* A killed task keeps the cgroup busy until its parent reaps
                 * it (an orphan's reaper may take a while), without being
                 * listed in cgroup.procs any more; v1 has no event for
                 * that: back off. */
                if (waited) {
                        struct timespec ts = { .tv_sec = 0, .tv_nsec = (long) delay_ns };
                        (void) nanosleep(&ts, NULL);
                        if (delay_ns < 10000000)
                                delay_ns *= 2;
                }
                if (!v2 || !has_kill)
                        kill_procs(dir, deadline);
                wait_empty(dir, v2, deadline);
        }
}

int sb_cgroup_remove_tree(const char *dir, bool v2, bool has_kill, int depth, unsigned *removed)
{
        return remove_tree(dir, v2, has_kill, depth, now_ns() + 2000000000ULL, removed);
}

/* Parse "<digits>" ([1-9][0-9]*, at most INT32_MAX) at *p, advancing it. */
static pid_t parse_pid(const char **p)
{
        uint64_t v = 0;
        const char *s = *p;

        if (*s < '1' || *s > '9')
                return 0;
        for (; *s >= '0' && *s <= '9'; s++) {
                v = v * 10 + (uint64_t) (*s - '0');
                if (v > INT32_MAX)
                        return 0;
        }
        *p = s;
        return (pid_t) v;
}

/* n lower-case hex digits at *p, advancing it. */
static bool parse_hex(const char **p, size_t n)
{
        for (size_t i = 0; i < n; i++)
                if (!(((*p)[i] >= '0' && (*p)[i] <= '9') || ((*p)[i] >= 'a' && (*p)[i] <= 'f')))
                        return false;
        *p += n;
        return true;
}

enum sb_subtree_kind sb_subtree_name_parse(const char *name, struct sb_subtree_name *ret)
{
        struct sb_subtree_name n = { .kind = SB_SUBTREE_FOREIGN };
        const char *p = name, *id = NULL;
        size_t len;

        if (!str_startswith(p, "sfaasd-"))
                return SB_SUBTREE_FOREIGN;
        p += 7;
        if (str_startswith(p, "run-")) {
                p += 4;
                n.kind = SB_SUBTREE_RUN;
                if (!(n.pid = parse_pid(&p)) || *p++ != '-' || !parse_hex(&p, SB_RUN_RAND_LEN))
                        return SB_SUBTREE_FOREIGN;
        } else if ((id = p, parse_hex(&p, SB_OWNER_ID_LEN)) && *p == '-') {
                p++;
                n.kind = SB_SUBTREE_DAEMON;
                memcpy(n.id, id, SB_OWNER_ID_LEN);
                if (!(n.pid = parse_pid(&p)))
                        return SB_SUBTREE_FOREIGN;
        } else {
                p = name + 7;
                n.kind = SB_SUBTREE_LEGACY;
                if (!(n.pid = parse_pid(&p)))
                        return SB_SUBTREE_FOREIGN;
        }
        if (strcmp(p, "-daemon") == 0)
                n.self_leaf = true;
        else if (*p)
                return SB_SUBTREE_FOREIGN;
        len = (size_t) (p - name);
        if (len >= sizeof n.base)
                return SB_SUBTREE_FOREIGN;
        memcpy(n.base, name, len);
        n.base[len] = '\0';
        if (ret)
                *ret = n;
        return n.kind;
}

int sb_subtree_name_make(char *buf, size_t size, const char *owner_id, pid_t pid)
{
        unsigned char rnd[SB_RUN_RAND_LEN / 2];
        char hex[SB_RUN_RAND_LEN + 1];
        const char *p = owner_id;
        int r;

        if (owner_id) {
                if (strlen(owner_id) != SB_OWNER_ID_LEN || !parse_hex(&p, SB_OWNER_ID_LEN))
                        return -EINVAL;
                return xsnprintf(buf, size, "sfaasd-%s-%d", owner_id, (int) pid);
        }
        r = random_bytes(rnd, sizeof rnd);
        if (r < 0)
                return r;
        hex_encode(rnd, sizeof rnd, hex);
        return xsnprintf(buf, size, "sfaasd-run-%d-%s", (int) pid, hex);
}

int sb_lock_dir_open(const char *path)
{
        _cleanup_close_ int fd = -1;
        struct stat st;

        if (mkdir(path, 0700) < 0 && errno != EEXIST)
                return -errno;
        fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (st.st_uid != geteuid() || (st.st_mode & 022))
                return -EPERM;
        return TAKE_FD(fd);
}

/* Every visible pid in dir and below (at most max). */
static size_t tree_pids(const char *dir, int depth, pid_t *pids, size_t n, size_t max)
{
        _cleanup_free_ char *buf = NULL;
        char p[PATH_MAX];
        DIR *d;
        struct dirent *de;

        if (xsnprintf(p, sizeof p, "%s/cgroup.procs", dir) >= 0 &&
            read_file_at(AT_FDCWD, p, 1 << 20, &buf, NULL) >= 0)
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

/* base/name, or with leaf base/name-daemon, into p. */
static int named_path(char *p, size_t size, const char *base, const char *name, bool leaf)
{
        if (!base)
                return -ENOENT;
        return xsnprintf(p, size, "%s/%s%s", base, name, leaf ? "-daemon" : "");
}

/* A legacy subtree "sfaasd-<pid>" (made by versions before the names
 * below) is taken for stale when <pid> does not exist in our pid namespace
 * and its processes are provably orphans of our pid namespace (tree_owner).
 * An empty one is kept: an idle launcher of another pid namespace cannot be
 * told from a dead one by a pid, and an empty directory costs nothing. */
static bool legacy_dead(char *const bases[], size_t n_bases, const struct sb_subtree_name *n)
{
        enum tree_owner o = TREE_EMPTY;

        if (kill(n->pid, 0) == 0 || errno != ESRCH)
                return false;
        for (size_t k = 0; k < n_bases; k++)
                for (int leaf = 0; leaf < 2; leaf++) {
                        enum tree_owner ok;
                        char p[PATH_MAX];
                        if (named_path(p, sizeof p, bases[k], n->base, leaf) < 0 || access(p, F_OK) < 0)
                                continue;
                        ok = tree_owner(p);
                        if (ok == TREE_OURS || ok == TREE_UNKNOWN)
                                return false;
                        if (ok == TREE_ORPHANED)
                                o = ok;
                }
        return o == TREE_ORPHANED;
}

/* Kill and remove "<name>" and "<name>-daemon" below every base; counts go
 * into rep. True when nothing of them is left. */
static bool remove_named(char *const bases[], size_t n_bases, const char *name, bool v2, bool has_kill,
                         struct sandbox_sweep *rep)
{
        enum { MAX = 1024 };
        _cleanup_free_ pid_t *pids = calloc(MAX, sizeof *pids);
        size_t procs = 0;
        unsigned removed = 0;
        bool complete = true;

        /* Processes found before the kill, for the report: the same process
         * is listed in every v1 hierarchy, so the largest count of one. */
        for (size_t k = 0; k < n_bases && pids; k++) {
                size_t n = 0;
                for (int leaf = 0; leaf < 2; leaf++) {
                        char p[PATH_MAX];
                        if (named_path(p, sizeof p, bases[k], name, leaf) >= 0)
                                n = tree_pids(p, SB_CGROUP_TREE_DEPTH, pids, n, MAX);
                }
                if (n > procs)
                        procs = n;
        }
        for (size_t k = 0; k < n_bases; k++)
                for (int leaf = 0; leaf < 2; leaf++) {
                        char p[PATH_MAX];
                        if (named_path(p, sizeof p, bases[k], name, leaf) < 0)
                                continue;
                        if (sb_cgroup_remove_tree(p, v2, has_kill, SB_CGROUP_TREE_DEPTH, &removed) < 0)
                                complete = false;
                }
        if (rep && removed) {
                rep->subtrees++;
                rep->dirs += removed;
                rep->procs += (unsigned) procs;
        }
        if (rep && !complete)
                rep->busy++;
        return complete;
}

void sb_cgroup_sweep(char *const bases[], size_t n_bases, bool v2, bool has_kill, const struct sb_sweep *sw,
                     struct sandbox_sweep *rep)
{
        for (size_t b = 0; b < n_bases; b++) {
                DIR *d = bases[b] ? opendir(bases[b]) : NULL;
                struct dirent *de;

                if (!d)
                        continue;
                while ((de = readdir(d))) {
                        struct sb_subtree_name n;
                        char lock[sizeof n.base + 8];
                        bool ours, same_owner, dead = false;
                        int lock_fd = -1;

                        if (de->d_type != DT_DIR ||
                            sb_subtree_name_parse(de->d_name, &n) == SB_SUBTREE_FOREIGN)
                                continue;
                        ours = sw->own_name && strcmp(n.base, sw->own_name) == 0;
                        same_owner = n.kind == SB_SUBTREE_DAEMON && sw->owner_id &&
                                     strcmp(n.id, sw->owner_id) == 0;
                        (void) xsnprintf(lock, sizeof lock, "%s.lock", n.base);
                        if (n.kind == SB_SUBTREE_LEGACY)
                                dead = sw->legacy && legacy_dead(bases, n_bases, &n);
                        else if (same_owner)
                                /* Our caller holds our data folder's lock for
                                 * its life, as every daemon on it did: the
                                 * one that made this is gone. Our own name
                                 * too (an earlier daemon with our pid). */
                                dead = true;
                        else if (!ours && sw->lock_dir_fd >= 0)
                                dead = lockfile_take_abandoned(sw->lock_dir_fd, lock, &lock_fd) == 0;
                        if (!dead)
                                continue;
                        if (!remove_named(bases, n_bases, n.base, v2, has_kill, rep)) {
                                /* Left as it is (and the abandoned lock with
                                 * it) for the next sweep to try again. */
                                if (lock_fd >= 0)
                                        (void) close(lock_fd);
                                continue;
                        }
                        if (lock_fd >= 0) {
                                lockfile_remove(sw->lock_dir_fd, lock, TAKE_FD(lock_fd));
                                if (rep)
                                        rep->lock_files++;
                        } else if (same_owner && !ours && sw->lock_dir_fd >= 0 &&
                                   unlinkat(sw->lock_dir_fd, lock, 0) == 0 && rep)
                                rep->lock_files++;
                }
                (void) closedir(d);
        }
}
