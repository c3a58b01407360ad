/* SPDX-License-Identifier: MIT */
/*
 * The launcher's parent side: prepare everything the child needs (seccomp
 * BPF, idmapped rootfs tree, bind trees, cgroup leaf, exec candidates,
 * rlimits), clone3 into fresh namespaces, write the id maps, release the
 * child and wait until it has exec'd or reported {step, errno}.
 *
 * Why the rootfs tree is prepared before the clone: an idmapped mount only
 * needs *a* user namespace with the right mapping, not the child's own. The
 * launcher keeps one template user namespace per uid_base ("0 <base> 65536",
 * created once), so the tree can be cloned and idmapped before clone3 and
 * simply inherited by the child in its fd table; no SCM_RIGHTS round trip.
 * A one-shot launcher (`sfaasd run`) would make that template for a single
 * sandbox, so it idmaps with the child's own user namespace instead, after
 * clone3, and sends the tree with the sync byte (send_late_root).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <linux/sched.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/base/cleanup.h"
#include "core/base/util.h"
#include "sandbox/internal.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
/* The child never returns through its frames (it execs or exits), so its
 * stack keeps ASan's scope poisoning; clear it before the stack is reused. */
#define SB_UNPOISON_STACK(p, n) __asan_unpoison_memory_region((p), (n))
#else
#define SB_UNPOISON_STACK(p, n) do { } while (0)
#endif

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

#define SB_STACK_SIZE (256u * 1024u)
/* linux/pidfd.h of Linux 6.11 (PIDFS_IOCTL_MAGIC 0xFF, nr 3) */
#define SB_PIDFD_GET_MNT_NAMESPACE _IO(0xFF, 3)
#define SB_USERNS_CACHE 16
#define SB_DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

struct userns_slot {
        uint32_t uid_base;
        int fd;
        uint64_t last_use;
};

struct sandbox_launcher {
        struct sock_fprog prog;   /* the built-in program (sandbox/seccomp.c) */
        struct sb_cgroup_root cg;
        struct sandbox_sweep swept;   /* what the start-up sweep removed */
        bool no_cgroups;
        bool have_pool;
        bool one_shot;
        int dev_tmpl_fd;          /* templates.c; -1 = each child builds its own */
        int init_fd;              /* the sandbox init, sealed memfd (initfd.c) */
        int mask_tmpl_fd;
        struct sb_netns_pool pool;
        void *stack_map;
        size_t stack_map_size;
        int last_cap;
        struct userns_slot userns[SB_USERNS_CACHE];
        uint64_t tick;
        uint64_t counter;
        char *cg_path;            /* sandbox_launcher_config.cgroup_path, or NULL */
        const char *cg_leaf;      /* its last level (points into cg_path) */
        bool spawned;             /* with cg_path: one sandbox per launcher */
        /* v1 leaves of ended anonymous sandboxes, for the next ones
         * (cgroup_spare.c); NULL for one-shot launchers and a cg_path. */
        struct sb_spares *spares;
        /* Held by sandbox_spawn and every other call that uses the state
         * above (the one child stack, the template user namespaces, the
         * netns pool, the cgroup root): the daemon spawns parked
         * sandboxes from a thread of their own (sandbox.h, "Threading"). */
        pthread_mutex_t lock;
};

struct sandbox {
        pid_t pid;                /* the init's (pid 1 inside) */
        int pidfd;
        int netns_fd;             /* its network namespace, or -1 (sandbox_netns_fd) */
        int status_fd;            /* read end of the init's exit-status pipe */
        struct sb_cgroup cg;
        uint64_t timeout_ms;
        uint64_t memory_limit;    /* bytes, as the cgroup was given; 0 = none */
        /* Parked (spec->parked): our end of the call socket until the call
         * is handed over, the read end of the start report, kept to learn
         * how the start after the hand-off went, and the command's name
         * for that report. -1 / NULL otherwise. */
        int call_fd;
        int report_fd;
        char *argv0;
        /* Its mount namespace (nsfs), held so that its teardown is not part
         * of the exit (see sandbox_free); -1 when the kernel cannot say. */
        int mntns_fd;
        bool reaped;
        bool killed;
        bool have_record;         /* the init's status record was read (sandbox_peek_status) */
        int record_status;
        int status;
};

static const char *const step_names[SB_STEP_MAX_] = {
        [SB_STEP_NONE] = "none",
        [SB_STEP_SIGNALS] = "reset signals",
        [SB_STEP_SYNC] = "wait for parent",
        [SB_STEP_CGROUP_JOIN] = "join cgroup",
        [SB_STEP_CGROUPNS] = "cgroup namespace",
        [SB_STEP_PROPAGATION] = "make mounts private",
        [SB_STEP_ROOTFS_ATTACH] = "attach rootfs",
        [SB_STEP_PROC] = "mount /proc",
        [SB_STEP_PROC_LIMIT_USERNS] = "limit user namespaces",
        [SB_STEP_PROC_MASK] = "mask /proc paths",
        [SB_STEP_PROC_READONLY] = "read-only /proc paths",
        [SB_STEP_DEV] = "mount /dev",
        [SB_STEP_DEV_NODE] = "bind /dev node",
        [SB_STEP_DEV_SHM] = "mount /dev/shm",
        [SB_STEP_TMP] = "mount /tmp",
        [SB_STEP_BIND] = "bind mount",
        [SB_STEP_HOSTNAME] = "sethostname",
        [SB_STEP_LOOPBACK] = "loopback up",
        [SB_STEP_PIVOT_ROOT] = "pivot_root",
        [SB_STEP_WORKDIR] = "open working directory",
        [SB_STEP_SETSID] = "setsid",
        [SB_STEP_STDIO] = "stdio",
        [SB_STEP_RLIMITS] = "rlimits",
        [SB_STEP_CAP_BOUNDING] = "drop bounding set",
        [SB_STEP_CAP_AMBIENT] = "clear ambient capabilities",
        [SB_STEP_SECUREBITS] = "securebits",
        [SB_STEP_SETGROUPS] = "setgroups",
        [SB_STEP_SETUID] = "setresuid/setresgid",
        [SB_STEP_CAPSET] = "capset",
        [SB_STEP_NO_NEW_PRIVS] = "no_new_privs",
        [SB_STEP_CHDIR] = "chdir",
        [SB_STEP_CLOSE_FDS] = "close fds",
        [SB_STEP_INIT_FDS] = "init fds",
        [SB_STEP_SIGMASK] = "signal mask",
        [SB_STEP_SECCOMP] = "seccomp",
        [SB_STEP_INIT_EXEC] = "execve of the sandbox init",
        [SB_STEP_INIT_ARGS] = "sandbox init arguments",
        [SB_STEP_INIT_FORK] = "fork of the function by the sandbox init",
        [SB_STEP_EXEC] = "execve",
        [SB_STEP_GATE] = "start gate",
        [SB_STEP_READY] = "ready",
        [SB_STEP_CALL] = "call message of the parked init",
};

const char *sb_step_name(int step)
{
        if (step < 0 || step >= SB_STEP_MAX_ || !step_names[step])
                return "unknown";
        return step_names[step];
}

int sb_last_cap(void)
{
        _cleanup_free_ char *buf = NULL;
        uint64_t v;
        if (read_file_at(AT_FDCWD, "/proc/sys/kernel/cap_last_cap", 64, &buf, NULL) < 0)
                return 63;
        buf[strcspn(buf, "\n")] = '\0';
        if (parse_u64(buf, &v) < 0 || v > 63)
                return 63;
        return (int) v;
}

int sandbox_launcher_new(const struct sandbox_launcher_config *cfg, struct sandbox_launcher **ret,
                         struct sf_err *err)
{
        struct sandbox_launcher *l;
        char name[64];
        int r;

        sf_err_clear(err);
        l = calloc(1, sizeof *l);
        if (!l)
                return sf_err_set(err, -ENOMEM, "out of memory");
        l->cg.lock_fd = l->cg.lock_dir_fd = -1;
        (void) pthread_mutex_init(&l->lock, NULL);
        for (size_t i = 0; i < SB_USERNS_CACHE; i++)
                l->userns[i].fd = -1;
        l->dev_tmpl_fd = l->mask_tmpl_fd = l->init_fd = -1;
        r = sb_seccomp_builtin(&l->prog, err);
        if (r < 0)
                goto fail;
        r = sb_init_memfd(&l->init_fd, err);
        if (r < 0)
                goto fail;
        l->last_cap = sb_last_cap();

        /* The child's stack (see child.c), with a guard page below it. */
        l->stack_map_size = SB_STACK_SIZE + (size_t) getpagesize();
        l->stack_map = mmap(NULL, l->stack_map_size, PROT_READ | PROT_WRITE,
                            MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
        if (l->stack_map == MAP_FAILED) {
                l->stack_map = NULL;
                r = sf_err_errno(err, -errno, "cannot allocate the spawn stack");
                goto fail;
        }
        (void) mprotect(l->stack_map, (size_t) getpagesize(), PROT_NONE);

        /* Best effort: without them each child builds /dev and the masks. */
        if (sb_template_dev(&l->dev_tmpl_fd) < 0)
                l->dev_tmpl_fd = -1;
        if (sb_template_mask(&l->mask_tmpl_fd) < 0)
                l->mask_tmpl_fd = -1;

        if (cfg && cfg->netns_pool) {
                r = sb_netns_pool_start(&l->pool, err);
                if (r < 0)
                        goto fail;
                l->have_pool = true;
        }
        l->no_cgroups = cfg && cfg->no_cgroups;
        l->one_shot = cfg && cfg->one_shot;
        if (cfg && cfg->cgroup_path) {
                char *slash;
                if (!sb_cgroup_path_valid(cfg->cgroup_path) || strcmp(cfg->cgroup_path, "/") == 0) {
                        r = sf_err_set(err, -EINVAL, "bad cgroup path '%.200s' (absolute, levels of "
                                       "[A-Za-z0-9_.@:-]+)", cfg->cgroup_path);
                        goto fail;
                }
                if (!(l->cg_path = strdup(cfg->cgroup_path))) {
                        r = sf_err_set(err, -ENOMEM, "out of memory");
                        goto fail;
                }
                slash = strrchr(l->cg_path, '/');
                l->cg_leaf = slash + 1;
        }
        if (!l->no_cgroups && l->cg_path) {
                char parent[1100];
                struct sb_root_opts o = { .external_parent = parent };
                (void) xsnprintf(parent, sizeof parent, "%.*s", (int) (l->cg_leaf - 1 - l->cg_path), l->cg_path);
                r = sb_cgroup_detect_external(&l->cg, err);
                if (r >= 0)
                        r = sb_cgroup_root_init(&l->cg, &o, &l->swept, err);
                if (r < 0)
                        goto fail;
        } else if (!l->no_cgroups) {
                struct sb_root_opts o = {
                        .name = cfg ? cfg->cgroup_subtree : NULL,
                        .owner_id = cfg ? cfg->owner_id : NULL,
                        .lock_dir = cfg && cfg->lock_dir ? cfg->lock_dir : SANDBOX_LOCK_DIR,
                        .legacy = !(cfg && cfg->one_shot),
                        .memory_bytes = cfg ? cfg->subtree_memory_bytes : 0,
                        .pids = cfg ? cfg->subtree_pids : 0,
                };
                if (!o.name) {
                        r = sb_subtree_name_make(name, sizeof name, o.owner_id, getpid());
                        if (r < 0) {
                                sf_err_errno(err, r, "cgroup: bad owner id '%s'",
                                             o.owner_id ? o.owner_id : "");
                                goto fail;
                        }
                        o.name = name;
                }
                r = sb_cgroup_detect(&l->cg, err);
                if (r >= 0)
                        r = sb_cgroup_root_init(&l->cg, &o, &l->swept, err);
                if (r < 0)
                        goto fail;
                if (!l->one_shot && l->cg.mode == SB_CGROUP_V1 && !(l->spares = sb_spares_new())) {
                        r = sf_err_set(err, -ENOMEM, "out of memory");
                        goto fail;
                }
        }
        *ret = l;
        return 0;
fail:
        sandbox_launcher_free(l);
        return r;
}

void sandbox_launcher_sweep(const struct sandbox_launcher *l, struct sandbox_sweep *ret)
{
        *ret = l->swept;
}

int sandbox_launcher_describe_cgroups(const struct sandbox_launcher *l, char *buf, size_t size)
{
        const char *mode = l->cg.mode == SB_CGROUP_V2 ? "v2" : l->cg.mode == SB_CGROUP_V1 ? "v1" : "none";
        size_t n = 0;
        int r = xsnprintf(buf, size, "%s", mode);

        for (int c = 0; r >= 0 && c < SB_CTRL_MAX_; c++) {
                if (!l->cg.subtree[c])
                        continue;
                n += (size_t) r;
                r = xsnprintf(buf + n, size - n, "%s%s", n > 2 ? ", " : " ", l->cg.subtree[c]);
        }
        return r < 0 ? r : 0;
}

void sandbox_launcher_free(struct sandbox_launcher *l)
{
        if (!l)
                return;
        if (l->have_pool)
                sb_netns_pool_stop(&l->pool);
        sb_spares_close(l->spares);
        sb_cgroup_root_release(&l->cg);
        if (l->dev_tmpl_fd >= 0)
                (void) close(l->dev_tmpl_fd);
        if (l->mask_tmpl_fd >= 0)
                (void) close(l->mask_tmpl_fd);
        if (l->init_fd >= 0)
                (void) close(l->init_fd);
        for (size_t i = 0; i < SB_USERNS_CACHE; i++)
                if (l->userns[i].fd >= 0)
                        (void) close(l->userns[i].fd);
        if (l->stack_map)
                (void) munmap(l->stack_map, l->stack_map_size);
        free(l->cg_path);
        (void) pthread_mutex_destroy(&l->lock);
        free(l);
}

static int write_id_maps(pid_t pid, uint32_t base)
{
        char path[64], map[64];
        int r;

        (void) xsnprintf(map, sizeof map, "0 %u %u\n", base, SANDBOX_UID_COUNT);
        (void) xsnprintf(path, sizeof path, "/proc/%d/uid_map", (int) pid);
        r = write_string_file(path, map);
        if (r < 0)
                return r;
        (void) xsnprintf(path, sizeof path, "/proc/%d/gid_map", (int) pid);
        return write_string_file(path, map);
}

/* A user namespace mapping 0..65535 to base.., used only as the idmapping of
 * mounts. Made by a short-lived fork-style child.
 *
 * The child opens its own /proc/self/ns/user and hands the fd over through
 * the fd table it shares with us (CLONE_FILES), instead of us opening
 * /proc/PID/ns/user: that needs ptrace read access to the child, and the
 * child, a copy of our mm, is not dumpable once a sandbox child has set our
 * shared mm non-dumpable for its setup (child.c), so the open would need
 * CAP_SYS_PTRACE in the host's user namespace, which the service's
 * capability bounding set leaves out. */
static int make_userns(uint32_t base, int *ret_fd)
{
        _cleanup_close_ int rd = -1, wr = -1, ready_rd = -1, ready_wr = -1;
        int pfd[2], fd = -1, r, status;
        ssize_t n;
        pid_t pid;

        if (pipe2(pfd, O_CLOEXEC) < 0)
                return -errno;
        rd = pfd[0];
        wr = pfd[1];
        if (pipe2(pfd, O_CLOEXEC) < 0)
                return -errno;
        ready_rd = pfd[0];
        ready_wr = pfd[1];
        pid = (pid_t) syscall(SYS_clone, CLONE_NEWUSER | CLONE_FILES | SIGCHLD, NULL, NULL, NULL, NULL);
        if (pid < 0)
                return -errno;
        if (pid == 0) {
                /* Shared fd table: close nothing; our exit drops our use of it. */
                int nsfd = open("/proc/self/ns/user", O_RDONLY | O_CLOEXEC);
                char c;
                if (nsfd < 0)
                        nsfd = -errno;
                if (write(ready_wr, &nsfd, sizeof nsfd) != (ssize_t) sizeof nsfd)
                        _exit(1);
                /* Until the parent closes wr: EOF. */
                while (read(rd, &c, 1) < 0 && errno == EINTR)
                        ;
                _exit(0);
        }
        do
                n = read(ready_rd, &fd, sizeof fd);
        while (n < 0 && errno == EINTR);
        if (n != (ssize_t) sizeof fd)
                r = n < 0 ? -errno : -EIO;
        else if (fd < 0)
                r = fd;
        else
                r = write_id_maps(pid, base);
        (void) close(TAKE_FD(wr));
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
        if (r < 0) {
                if (fd >= 0)
                        (void) close(fd);
                return r;
        }
        *ret_fd = fd;
        return 0;
}

static bool userns_cached(const struct sandbox_launcher *l, uint32_t base)
{
        for (size_t i = 0; i < SB_USERNS_CACHE; i++)
                if (l->userns[i].fd >= 0 && l->userns[i].uid_base == base)
                        return true;
        return false;
}

static int get_userns(struct sandbox_launcher *l, uint32_t base, int *ret_fd)
{
        struct userns_slot *victim = &l->userns[0];
        int fd = -1, r;

        l->tick++;
        for (size_t i = 0; i < SB_USERNS_CACHE; i++) {
                struct userns_slot *s = &l->userns[i];
                if (s->fd >= 0 && s->uid_base == base) {
                        s->last_use = l->tick;
                        *ret_fd = s->fd;
                        return 0;
                }
                if (s->fd < 0 || (victim->fd >= 0 && s->last_use < victim->last_use))
                        victim = s;
        }
        r = make_userns(base, &fd);
        if (r < 0)
                return r;
        if (victim->fd >= 0)
                (void) close(victim->fd);
        *victim = (struct userns_slot) { .uid_base = base, .fd = fd, .last_use = l->tick };
        *ret_fd = fd;
        return 0;
}

/* A detached, private, read-only, nosuid, nodev copy of path, idmapped
 * through userns_fd when idmap is true. */
static int make_tree(const char *path, int userns_fd, bool idmap, uint64_t extra, int *ret_fd)
{
        struct mount_attr a = {
                .attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | extra |
                            (idmap ? MOUNT_ATTR_IDMAP : 0),
                .propagation = MS_PRIVATE,
                .userns_fd = idmap ? (uint64_t) userns_fd : 0,
        };
        int fd = (int) syscall(SYS_open_tree, AT_FDCWD, path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
        if (fd < 0)
                return -errno;
        if (syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &a, sizeof a) < 0) {
                int r = -errno;
                (void) close(fd);
                return r;
        }
        *ret_fd = fd;
        return 0;
}

static int rootfs_tree_error(struct sf_err *err, int r, const char *rootfs)
{
        if (r == -EINVAL || r == -EOPNOTSUPP || r == -ENOSYS)
                return sf_err_errno(err, r, "idmapped mounts are not supported for rootfs '%s' (kernel >= 5.12 "
                                    "and a filesystem with idmap support are required)", rootfs);
        return sf_err_errno(err, r, "cannot open rootfs '%s'", rootfs);
}

/* late_root (one-shot launchers): the rootfs tree idmapped with the child's
 * own user namespace, whose maps the caller has just written, and sent to
 * the child with the sync byte. Saves making a template user namespace
 * (a clone, two map writes and a wait, 0.3-0.5 ms) that a launcher used
 * once would throw away. */
static int send_late_root(int sock, pid_t pid, const char *rootfs, int *ret_tree, struct sf_err *err)
{
        _cleanup_close_ int ns = -1;
        union {
                struct cmsghdr h;
                char buf[CMSG_SPACE(sizeof(int))];
        } u;
        struct iovec iov = { .iov_base = (void *) "1", .iov_len = 1 };
        struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf };
        struct cmsghdr *h;
        char path[64];
        int r;

        (void) xsnprintf(path, sizeof path, "/proc/%d/ns/user", (int) pid);
        ns = open(path, O_RDONLY | O_CLOEXEC);
        if (ns < 0)
                return sf_err_errno(err, -errno, "cannot open the sandbox's user namespace");
        r = make_tree(rootfs, ns, true, 0, ret_tree);
        if (r < 0)
                return rootfs_tree_error(err, r, rootfs);
        memset(u.buf, 0, sizeof u.buf);
        h = CMSG_FIRSTHDR(&m);
        h->cmsg_level = SOL_SOCKET;
        h->cmsg_type = SCM_RIGHTS;
        h->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(h), ret_tree, sizeof(int));
        if (sendmsg(sock, &m, MSG_NOSIGNAL) != 1)
                return sf_err_errno(err, -errno, "cannot release the sandbox");
        return 0;
}

static bool valid_name(const char *s)
{
        if (!s || !*s || strlen(s) > 128 || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
                return false;
        for (const char *p = s; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                      *p == '_' || *p == '.' || *p == '-'))
                        return false;
        return true;
}

/* A cgroup group: "NS" or "NS/FUNCTION", each a valid_name. */
static bool valid_group(const char *s)
{
        char first[129];
        const char *slash = s ? strchr(s, '/') : NULL;

        if (!slash)
                return valid_name(s);
        if ((size_t) (slash - s) >= sizeof first)
                return false;
        memcpy(first, s, (size_t) (slash - s));
        first[slash - s] = '\0';
        return valid_name(first) && valid_name(slash + 1);
}

/* An absolute path with no "." or ".." component and no empty name. */
static bool clean_abs_path(const char *p)
{
        if (!p || p[0] != '/')
                return false;
        for (const char *c = p + 1; *c;) {
                size_t n = strcspn(c, "/");
                if (n == 0 || (n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
                        return false;
                c += n;
                if (*c == '/')
                        c++;
        }
        return true;
}

struct spawn_ctx {
        struct sb_plan plan;
        const char *exec_paths[SB_MAX_EXEC_PATHS + 1];   /* candidates, NULL-terminated */
        char **init_argv;
        char *exec_buf;
        char *bind_strs;
        int bind_fds[SB_MAX_BINDS];
        size_t n_bind_fds;
        int mount_fds[SB_MAX_MOUNTS];
        size_t n_mount_fds;
        char *sysctl_strs;
        /* net.* sysctls of a joined network namespace, written by us */
        struct sb_sysctl_plan host_sysctls[SB_MAX_SYSCTLS];
        size_t n_host_sysctls;
        int call_fds[2];      /* parked: the call socket, ours and the init's */
};

static void spawn_ctx_release(struct spawn_ctx *c)
{
        free(c->exec_buf);
        free(c->init_argv);
        free(c->bind_strs);
        free(c->sysctl_strs);
        for (size_t i = 0; i < c->n_bind_fds; i++)
                (void) close(c->bind_fds[i]);
        for (size_t i = 0; i < c->n_mount_fds; i++)
                (void) close(c->mount_fds[i]);
        for (int i = 0; i < 2; i++)
                if (c->call_fds[i] >= 0)
                        (void) close(c->call_fds[i]);
        if (c->plan.root_mnt_fd >= 0)
                (void) close(c->plan.root_mnt_fd);
}

bool sandbox_sysctl_allowed(const char *key)
{
        static const char *const ipc[] = { "kernel.shmmax", "kernel.shmall", "kernel.shmmni", "kernel.shm_rmid_forced",
                                           "kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem" };
        size_t n = key ? strlen(key) : 0;

        if (n == 0 || n > 200 || key[0] == '.' || key[n - 1] == '.' || strstr(key, ".."))
                return false;
        for (const char *c = key; *c; c++)
                if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '_' ||
                      *c == '.' || *c == '-'))
                        return false;
        if (str_startswith(key, "net.") || str_startswith(key, "fs.mqueue."))
                return true;
        for (size_t i = 0; i < ELEMENTSOF(ipc); i++)
                if (strcmp(key, ipc[i]) == 0)
                        return true;
        return false;
}

/* "key=value" -> a path below /proc ("sys/net/...") and the value; the
 * child writes those of its own namespaces, we the net.* ones of a joined
 * network namespace (the sandbox holds no capability over it). */
static int plan_sysctls(struct spawn_ctx *c, const struct sandbox_spec *spec, struct sf_err *err)
{
        size_t total = 0, off = 0;

        if (spec->n_sysctls == 0)
                return 0;
        if (spec->n_sysctls > SB_MAX_SYSCTLS)
                return sf_err_set(err, -E2BIG, "too many sysctls (max %d)", SB_MAX_SYSCTLS);
        for (size_t i = 0; i < spec->n_sysctls; i++)
                total += strlen(spec->sysctls[i]) + 6;
        c->sysctl_strs = malloc(total);
        if (!c->sysctl_strs)
                return sf_err_set(err, -ENOMEM, "out of memory");
        for (size_t i = 0; i < spec->n_sysctls; i++) {
                const char *kv = spec->sysctls[i], *eq = strchr(kv, '=');
                char *path = c->sysctl_strs + off, *key;
                size_t klen = eq ? (size_t) (eq - kv) : 0;
                struct sb_sysctl_plan *sp;

                memcpy(path, "sys/", 4);
                memcpy(path + 4, kv, klen);
                path[4 + klen] = '\0';
                key = path + 4;
                if (!eq || !sandbox_sysctl_allowed(key) || strchr(eq + 1, '\n') || strlen(eq + 1) > 4096)
                        return sf_err_set(err, -EPERM, "sysctl '%.200s' is not one of the sandbox's own namespaces "
                                          "(net.*, kernel.shm*, kernel.msg*, kernel.sem, fs.mqueue.*)", kv);
                if (spec->join_netns && str_startswith(key, "net."))
                        sp = &c->host_sysctls[c->n_host_sysctls++];
                else
                        sp = &c->plan.sysctls[c->plan.n_sysctls++];
                for (char *d = key; *d; d++)
                        if (*d == '.')
                                *d = '/';
                sp->path = path;
                sp->value = eq + 1;
                off += 4 + klen + 1;
        }
        return 0;
}

/* Write the net.* sysctls of a joined network namespace: the caller has
 * entered it (/proc/sys/net shows the writer's namespace). */
static int write_host_sysctls(const struct spawn_ctx *c, struct sf_err *err)
{
        for (size_t i = 0; i < c->n_host_sysctls; i++) {
                char path[PATH_MAX];
                int r = xsnprintf(path, sizeof path, "/proc/%s", c->host_sysctls[i].path);
                if (r >= 0)
                        r = write_string_file(path, c->host_sysctls[i].value);
                if (r < 0)
                        return sf_err_errno(err, r, "cannot write sysctl '%s' in the network namespace",
                                            c->host_sysctls[i].path + 4);
        }
        return 0;
}

/* The init's argv (sandbox/init/protocol.h): its name, the candidates,
 * the separator, the function's argv. */
static int plan_init_argv(struct spawn_ctx *c, const struct sandbox_spec *spec, struct sf_err *err)
{
        size_t n_paths = 0, argc = 0, k = 0;

        while (c->exec_paths[n_paths])
                n_paths++;
        while (spec->argv[argc])
                argc++;
        c->init_argv = calloc(n_paths + argc + 3, sizeof *c->init_argv);
        if (!c->init_argv)
                return sf_err_set(err, -ENOMEM, "out of memory");
        c->init_argv[k++] = (char *) (spec->parked ? SB_INIT_ARGV0_CALL
                                      : spec->gated ? SB_INIT_ARGV0_GATED : SB_INIT_ARGV0);
        for (size_t i = 0; i < n_paths; i++)
                c->init_argv[k++] = (char *) c->exec_paths[i];
        c->init_argv[k++] = (char *) SB_INIT_SEP;
        for (size_t i = 0; i < argc; i++)
                c->init_argv[k++] = spec->argv[i];
        c->init_argv[k] = NULL;
        c->plan.init_argv = c->init_argv;
        return 0;
}

int sb_exec_candidates(const char *name, char *const *envp, const char **paths, char **ret_buf, struct sf_err *err)
{
        const char *path = SB_DEFAULT_PATH;
        size_t nlen = strlen(name), cap, off = 0, n = 0;
        char *buf;

        *ret_buf = NULL;
        if (strchr(name, '/')) {
                paths[0] = name;
                paths[1] = NULL;
                return 0;
        }
        if (nlen == 0 || nlen > NAME_MAX)
                return sf_err_set(err, -EINVAL, "bad command name '%s'", name);
        for (char *const *e = envp; e && *e; e++)
                if (strncmp(*e, "PATH=", 5) == 0) {
                        path = *e + 5;
                        break;
                }
        /* Each candidate is "dir/name\0": at most strlen(path) + count*(nlen+2). */
        cap = strlen(path) + (SB_MAX_EXEC_PATHS + 1) * (nlen + 2) + 1;
        buf = malloc(cap);
        if (!buf)
                return sf_err_set(err, -ENOMEM, "out of memory");
        for (const char *p = path; *p && n < SB_MAX_EXEC_PATHS;) {
                size_t dl = strcspn(p, ":");
                if (dl > 0 && off + dl + nlen + 2 <= cap) {
                        char *dst = buf + off;
                        memcpy(dst, p, dl);
                        dst[dl] = '/';
                        memcpy(dst + dl + 1, name, nlen + 1);
                        paths[n++] = dst;
                        off += dl + nlen + 2;
                }
                p += dl;
                if (*p == ':')
                        p++;
        }
        paths[n] = NULL;
        *ret_buf = buf;
        if (n == 0)
                return sf_err_set(err, -ENOENT, "'%s' not found: PATH is empty", name);
        return 0;
}

static int plan_exec_paths(struct spawn_ctx *c, const struct sandbox_spec *spec, struct sf_err *err)
{
        int r = sb_exec_candidates(spec->argv[0], spec->envp, c->exec_paths, &c->exec_buf, err);
        if (r < 0)
                return r;
        return plan_init_argv(c, spec, err);
}

/* Set (or replace) one rlimit of the plan, at most our own hard limit:
 * the child cannot raise it without CAP_SYS_RESOURCE in the init ns. */
static int plan_rlimit2(struct sb_plan *p, int res, uint64_t soft, uint64_t hard)
{
        struct rlimit cur;
        size_t i;

        if (getrlimit(res, &cur) == 0 && cur.rlim_max != RLIM_INFINITY && hard > cur.rlim_max)
                hard = cur.rlim_max;
        if (soft > hard)
                soft = hard;
        for (i = 0; i < p->n_rlimits; i++)
                if (p->rlimits[i].resource == res)
                        break;
        if (i == SB_MAX_RLIMITS)
                return -E2BIG;
        if (i == p->n_rlimits)
                p->n_rlimits++;
        p->rlimits[i] = (struct sb_rlimit_plan) { .resource = res, .cur = soft, .max = hard };
        return 0;
}

static void plan_rlimit(struct sb_plan *p, int res, uint64_t v)
{
        (void) plan_rlimit2(p, res, v, v);
}

static int plan_binds(struct sandbox_launcher *l, struct spawn_ctx *c, const struct sandbox_spec *spec,
                      int userns_fd, struct sf_err *err)
{
        size_t total = 0, off = 0;
        struct sb_plan *p = &c->plan;

        if (spec->n_binds == 0)
                return 0;
        if (spec->n_binds > SB_MAX_BINDS)
                return sf_err_set(err, -E2BIG, "too many bind mounts (max %d)", SB_MAX_BINDS);
        for (size_t i = 0; i < spec->n_binds; i++)
                total += strlen(spec->binds[i].dst) + 1;
        c->bind_strs = malloc(total);
        if (!c->bind_strs)
                return sf_err_set(err, -ENOMEM, "out of memory");
        for (size_t i = 0; i < spec->n_binds; i++) {
                const struct sandbox_bind *b = &spec->binds[i];
                struct stat st;
                char *parent, *slash;
                size_t k;
                int fd, r;

                if (!b->src || b->src[0] != '/' || !clean_abs_path(b->dst))
                        return sf_err_set(err, -EINVAL, "bind '%s' -> '%s': source and destination must be "
                                          "absolute, without '.' or '..'", b->src ? b->src : "(null)",
                                          b->dst ? b->dst : "(null)");
                if (stat(b->src, &st) < 0)
                        return sf_err_errno(err, -errno, "bind source '%s'", b->src);
                parent = c->bind_strs + off;
                memcpy(parent, b->dst, strlen(b->dst) + 1);
                off += strlen(b->dst) + 1;
                slash = strrchr(parent, '/');
                if (slash == parent)
                        return sf_err_set(err, -EINVAL, "bind destination '%s' must not be directly under /",
                                          b->dst);
                *slash = '\0';
                for (k = 0; k < p->n_bind_parents; k++)
                        if (strcmp(p->bind_parents[k], parent) == 0)
                                break;
                if (k == p->n_bind_parents)
                        p->bind_parents[p->n_bind_parents++] = parent;
                for (size_t j = 0; j < p->n_binds; j++)
                        if (p->binds[j].parent_index == (int) k && strcmp(p->binds[j].name, slash + 1) == 0)
                                return sf_err_set(err, -EEXIST, "bind destination '%s' given twice", b->dst);
                r = make_tree(b->src, userns_fd, true, MOUNT_ATTR_NOEXEC, &fd);
                if (r == -EINVAL) /* filesystem without idmap support: plain read-only bind */
                        r = make_tree(b->src, userns_fd, false, MOUNT_ATTR_NOEXEC, &fd);
                if (r < 0)
                        return sf_err_errno(err, r, "bind source '%s'", b->src);
                c->bind_fds[c->n_bind_fds++] = fd;
                p->binds[p->n_binds++] = (struct sb_bind_plan) {
                        .mnt_fd = fd, .parent_index = (int) k, .name = slash + 1, .is_dir = S_ISDIR(st.st_mode),
                };
        }
        (void) l;
        return 0;
}

/* Below which a spec mount may not go: the launcher's own /proc and /dev
 * (a mount over /proc/self/attr or /proc/sys is the CVE-2019-16884 and
 * CVE-2019-19921 shape) and /sys, which a sandbox does not get. */
static bool mount_dst_refused(const char *dst)
{
        static const char *const roots[] = { "/proc", "/dev", "/sys" };

        if (strcmp(dst, "/") == 0)
                return true;
        for (size_t i = 0; i < ELEMENTSOF(roots); i++) {
                size_t n = strlen(roots[i]);
                if (strncmp(dst, roots[i], n) == 0 && (dst[n] == '\0' || dst[n] == '/'))
                        return true;
        }
        return false;
}

static int plan_mounts(struct spawn_ctx *c, const struct sandbox_spec *spec, struct sf_err *err)
{
        struct sb_plan *p = &c->plan;

        if (spec->n_mounts > SB_MAX_MOUNTS)
                return sf_err_set(err, -E2BIG, "too many mounts (max %d)", SB_MAX_MOUNTS);
        for (size_t i = 0; i < spec->n_mounts; i++) {
                const struct sandbox_mount *m = &spec->mounts[i];
                struct sb_mount_plan *mp = &p->mounts[p->n_mounts];
                unsigned attrs = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | (m->readonly ? MOUNT_ATTR_RDONLY : 0) |
                                 (m->noexec ? MOUNT_ATTR_NOEXEC : 0);

                if (!clean_abs_path(m->dst) || mount_dst_refused(m->dst))
                        return sf_err_set(err, -EPERM, "mount destination '%.200s' refused (absolute, without '.' "
                                          "or '..', not /, not below /proc, /dev or /sys)", m->dst ? m->dst : "(null)");
                memset(mp, 0, sizeof *mp);
                mp->type = (int) m->type;
                mp->dst = m->dst;
                mp->mnt_fd = -1;
                if (m->type == SANDBOX_MOUNT_BIND) {
                        struct mount_attr a = { .attr_set = attrs, .propagation = MS_PRIVATE };
                        struct stat st;
                        int fd;

                        if (!m->src || m->src[0] != '/')
                                return sf_err_set(err, -EINVAL, "bind source '%.200s' must be absolute",
                                                  m->src ? m->src : "(null)");
                        if (stat(m->src, &st) < 0)
                                return sf_err_errno(err, -errno, "bind source '%.200s'", m->src);
                        if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode))
                                return sf_err_set(err, -EPERM, "bind source '%.200s' is not a file or directory "
                                                  "(no devices, sockets or fifos)", m->src);
                        fd = (int) syscall(SYS_open_tree, AT_FDCWD, m->src,
                                           OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (m->recursive ? AT_RECURSIVE : 0));
                        if (fd < 0)
                                return sf_err_errno(err, -errno, "bind source '%.200s'", m->src);
                        c->mount_fds[c->n_mount_fds++] = fd;
                        if (syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH | (m->recursive ? AT_RECURSIVE : 0), &a,
                                    sizeof a) < 0)
                                return sf_err_errno(err, -errno, "bind source '%.200s'", m->src);
                        mp->mnt_fd = fd;
                        mp->is_dir = S_ISDIR(st.st_mode);
                } else if (m->type == SANDBOX_MOUNT_TMPFS) {
                        mp->is_dir = true;
                        mp->attrs = attrs;
                        (void) xsnprintf(mp->size, sizeof mp->size, "%llu",
                                         (unsigned long long) (m->tmpfs_bytes ? m->tmpfs_bytes : 64ULL << 20));
                        (void) xsnprintf(mp->mode, sizeof mp->mode, "%o", m->tmpfs_mode ? m->tmpfs_mode & 07777 : 01777);
                        (void) xsnprintf(mp->inodes, sizeof mp->inodes, "%llu",
                                         (unsigned long long) (m->tmpfs_inodes ? m->tmpfs_inodes : 16384));
                } else
                        return sf_err_set(err, -EINVAL, "unknown mount type %d", (int) m->type);
                p->n_mounts++;
        }
        return 0;
}

/*
 * A writable rootfs (spec->rootfs_writable): an overlay whose lower layers
 * are id-mapped clones of the given directories and whose upper one lives
 * on a fresh tmpfs, all made here in the initial user namespace (overlayfs
 * takes id-mapped layers only from there) and handed to the child as one
 * detached tree. Why not id-map the engine's own overlay: overlayfs cannot
 * be id-mapped, and a second overlay on the engine's upper directory would
 * share it with the engine's mount ("undefined behavior", the kernel says).
 * The upper's root takes the top layer's owner and mode, so the root
 * directory stays the image's.
 */
static int make_overlay_root(const struct sandbox_spec *spec, int userns_fd, uint64_t upper_bytes, int *ret_fd,
                             struct sf_err *err)
{
        const char *const *layers = spec->n_rootfs_layers ? spec->rootfs_layers : &spec->rootfs;
        size_t n = spec->n_rootfs_layers ? spec->n_rootfs_layers : 1;
        _cleanup_close_ int fs = -1, tmp = -1, upper = -1, work = -1, ov = -1;
        int *lfds = NULL;
        char size[24];
        struct stat st;
        int m, r = 0;

        if (n > 128)
                return sf_err_set(err, -E2BIG, "too many rootfs layers (max 128)");
        (void) xsnprintf(size, sizeof size, "%llu", (unsigned long long) upper_bytes);
        fs = (int) syscall(SYS_fsopen, "tmpfs", FSOPEN_CLOEXEC);
        if (fs < 0 || syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, "size", size, 0) < 0 ||
            syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, "mode", "0700", 0) < 0 ||
            syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0 ||
            (tmp = (int) syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV)) < 0)
                return sf_err_errno(err, -errno, "cannot make the tmpfs for the rootfs's writes");
        if (mkdirat(tmp, "upper", 0755) < 0 || mkdirat(tmp, "work", 0700) < 0)
                return sf_err_errno(err, -errno, "cannot make the rootfs's upper directory");
        ov = (int) syscall(SYS_fsopen, "overlay", FSOPEN_CLOEXEC);
        if (ov < 0)
                return sf_err_errno(err, -errno, "overlayfs is not available");
        /* Each layer's fd stays open until the overlay is made: overlayfs
         * clones the layer's mount then, and a detached tree whose last fd
         * is closed is dissolved. */
        lfds = calloc(n, sizeof *lfds);
        if (!lfds)
                return sf_err_set(err, -ENOMEM, "out of memory");
        for (size_t i = 0; i < n; i++)
                lfds[i] = -1;
        for (size_t i = 0; i < n && r >= 0; i++) {
                r = make_tree(layers[i], userns_fd, true, 0, &lfds[i]);
                if (r < 0) {
                        r = rootfs_tree_error(err, r, layers[i]);
                        break;
                }
                if (i == 0 && fstat(lfds[i], &st) < 0)
                        r = sf_err_errno(err, -errno, "rootfs layer '%s'", layers[i]);
                else if (syscall(SYS_fsconfig, ov, FSCONFIG_SET_FD, "lowerdir+", NULL, lfds[i]) < 0)
                        r = sf_err_errno(err, -errno, "overlayfs refused the id-mapped layer '%s' (a kernel "
                                         ">= 6.13 takes layers as fds)", layers[i]);
        }
        if (r < 0)
                goto out;
        if (fchownat(tmp, "upper", st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) < 0 ||
            fchmodat(tmp, "upper", st.st_mode & 07777, 0) < 0) {
                r = sf_err_errno(err, -errno, "cannot give the rootfs's upper directory its owner");
                goto out;
        }
        upper = openat(tmp, "upper", O_PATH | O_DIRECTORY | O_CLOEXEC);
        work = openat(tmp, "work", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (upper < 0 || work < 0) {
                r = sf_err_errno(err, -errno, "cannot open the rootfs's upper directory");
                goto out;
        }
        if (syscall(SYS_fsconfig, ov, FSCONFIG_SET_FD, "upperdir", NULL, upper) < 0 ||
            syscall(SYS_fsconfig, ov, FSCONFIG_SET_FD, "workdir", NULL, work) < 0 ||
            syscall(SYS_fsconfig, ov, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0) {
                r = sf_err_errno(err, -errno, "cannot make the overlay of rootfs '%s'", spec->rootfs);
                goto out;
        }
        m = (int) syscall(SYS_fsmount, ov, FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
        if (m < 0) {
                r = sf_err_errno(err, -errno, "cannot mount the overlay of rootfs '%s'", spec->rootfs);
                goto out;
        }
        *ret_fd = m;
        r = 0;
out:
        for (size_t i = 0; i < n; i++)
                if (lfds[i] >= 0)
                        (void) close(lfds[i]);
        free(lfds);
        return r;
}

/* The mount points the launcher needs, checked up front for a clear message;
 * the child resolves them again (never through a symlink) when it mounts. */
static int check_rootfs_dirs(const char *rootfs, struct sf_err *err)
{
        static const char *const dirs[] = { "proc", "dev", "tmp" };
        _cleanup_close_ int root = open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);

        if (root < 0)
                return sf_err_errno(err, -errno, "cannot open rootfs '%s'", rootfs);
        for (size_t i = 0; i < ELEMENTSOF(dirs); i++) {
                struct open_how how = { .flags = O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC,
                                        .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS };
                int fd, tries = 0;
                do /* EAGAIN: a concurrent mount or rename; retry (openat2(2)) */
                        fd = (int) syscall(SYS_openat2, root, dirs[i], &how, sizeof how);
                while (fd < 0 && errno == EAGAIN && ++tries < 1000);
                if (fd < 0)
                        return sf_err_errno(err, -errno, "rootfs '%s' needs a real /%s directory (not a symlink); "
                                            "images from the store have one, --rootfs users must create it",
                                            rootfs, dirs[i]);
                (void) close(fd);
        }
        return 0;
}

static int check_stdio(int fd, int i, bool terminal, struct sf_err *err)
{
        if (fd < 0)
                return 0;
        struct stat st;

        if (fcntl(fd, F_GETFD) < 0 || fstat(fd, &st) < 0)
                return sf_err_errno(err, -errno, "stdio %d: fd %d", i, fd);
        /* A directory fd is a way out of the root: openat(0, "../..") or
         * fchdir(0) inside resolve on the host (CVE-2024-21626 shape through
         * stdio). Only streams and files the sandbox may read or write. */
        if (!S_ISFIFO(st.st_mode) && !S_ISSOCK(st.st_mode) && !S_ISREG(st.st_mode) && !S_ISCHR(st.st_mode))
                return sf_err_set(err, -EBADF, "stdio %d: fd %d is not a pipe, socket, file or character device", i, fd);
        /* A terminal inside would allow TIOCSTI/TIOCLINUX injection into the
         * caller's session; the caller relays through a pipe instead. */
        if (isatty(fd) && !terminal)
                return sf_err_set(err, -ENOTTY, "stdio %d: fd %d is a terminal; pass a pipe or socket", i, fd);
        return 0;
}

static int wait_exit(int pidfd, int *ret_status)
{
        siginfo_t si;
        for (;;) {
                memset(&si, 0, sizeof si);
                if (waitid((idtype_t) P_PIDFD, (id_t) pidfd, &si, WEXITED) == 0)
                        break;
                if (errno != EINTR)
                        return -errno;
        }
        if (si.si_code == CLD_EXITED)
                *ret_status = (si.si_status & 0xff) << 8;
        else
                *ret_status = (si.si_status & 0x7f) | (si.si_code == CLD_DUMPED ? 0x80 : 0);
        return 0;
}

/* SIGKILL the child of pidfd and reap it (a spawn that failed after the clone). */
static void kill_and_wait(int pidfd)
{
        int status;

        (void) syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
        (void) wait_exit(pidfd, &status);
}

/* Step 1: refuse a spec that cannot be run safely, before anything is made. */
static int spawn_validate(const struct sandbox_launcher *l, const struct sandbox_spec *spec, struct sf_err *err)
{
        if (!spec->rootfs || spec->rootfs[0] != '/')
                return sf_err_set(err, -EINVAL, "rootfs must be an absolute path");
        if (!spec->argv || !spec->argv[0])
                return sf_err_set(err, -EINVAL, "no command given");
        if (spec->uid_base == 0)
                return sf_err_set(err, -EPERM, "uid_base 0 would map host root; refused");
        if ((uint64_t) spec->uid_base + SANDBOX_UID_COUNT > UINT32_MAX)
                return sf_err_set(err, -ERANGE, "uid_base %u + %u overflows", spec->uid_base, SANDBOX_UID_COUNT);
        if (spec->uid >= SANDBOX_UID_COUNT || spec->gid >= SANDBOX_UID_COUNT)
                return sf_err_set(err, -ERANGE, "uid/gid must be below %u", SANDBOX_UID_COUNT);
        if (spec->net != SANDBOX_NET_NONE && (spec->net != SANDBOX_NET_GIVEN || spec->netns_fd < 0))
                return sf_err_set(err, -EOPNOTSUPP, "only the 'none' network mode exists");
        if ((spec->caps & ~SANDBOX_CAPS_ALLOWED) || (spec->caps_ambient & ~spec->caps))
                return sf_err_set(err, -EPERM, "capabilities %#llx are beyond what a sandbox may keep (%#llx)",
                                  (unsigned long long) (spec->caps | spec->caps_ambient),
                                  (unsigned long long) SANDBOX_CAPS_ALLOWED);
        if (spec->n_groups > SANDBOX_MAX_GROUPS)
                return sf_err_set(err, -E2BIG, "too many supplementary groups (max %d)", SANDBOX_MAX_GROUPS);
        for (size_t i = 0; i < spec->n_groups; i++)
                if (spec->groups[i] >= SANDBOX_UID_COUNT)
                        return sf_err_set(err, -ERANGE, "group %u must be below %u", spec->groups[i],
                                          SANDBOX_UID_COUNT);
        if ((spec->n_rootfs_layers || spec->rootfs_readonly) && !spec->rootfs_writable)
                return sf_err_set(err, -EINVAL, "rootfs layers need a writable rootfs");
        if (l->cg_path && (spec->name || spec->group))
                return sf_err_set(err, -EINVAL, "a launcher with a cgroup path names the sandbox's cgroup itself");
        if (l->cg_path && l->spawned)
                return sf_err_set(err, -EBUSY, "a launcher with a cgroup path runs one sandbox");
        if (spec->parked && (spec->gated || spec->detached || spec->terminal))
                return sf_err_set(err, -EINVAL, "a parked sandbox has no start gate, terminal or life of its own");
        if (spec->gated && fcntl(spec->gate_fd, F_GETFD) < 0)
                return sf_err_errno(err, -errno, "start gate fd %d", spec->gate_fd);
        if (spec->join_netns && fcntl(spec->netns_fd, F_GETFD) < 0)
                return sf_err_errno(err, -errno, "network namespace fd %d", spec->netns_fd);
        for (size_t i = 0; i < spec->n_rlimits; i++)
                if (spec->rlimits[i].resource == RLIMIT_CORE && spec->rlimits[i].max != 0)
                        return sf_err_set(err, -EPERM, "core dumps stay off (RLIMIT_CORE 0)");
        if (spec->workdir && spec->workdir[0] != '/')
                return sf_err_set(err, -EINVAL, "workdir '%s' must be absolute", spec->workdir);
        if ((spec->name && !valid_name(spec->name)) || (spec->group && !valid_group(spec->group)))
                return sf_err_set(err, -EINVAL,
                                  "bad sandbox name or group (allowed: [A-Za-z0-9_.-]+, group NAME or NAME/NAME)");
        if (spec->hostname && (strlen(spec->hostname) == 0 || strlen(spec->hostname) > 64))
                return sf_err_set(err, -EINVAL, "hostname must be 1..64 bytes");
        for (int i = 0; i < 3; i++) {
                int r = check_stdio(spec->stdio[i], i, spec->terminal, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Step 2: the limits with the defaults (sandbox.h) for what the spec leaves 0. */
static int spawn_defaults(const struct sandbox_limits *in, struct sandbox_limits *lim, struct sf_err *err)
{
        *lim = *in;
        if (!lim->memory_bytes)
                lim->memory_bytes = SANDBOX_DEFAULT_MEMORY_BYTES;
        if (!lim->pids)
                lim->pids = SANDBOX_DEFAULT_PIDS;
        if (!lim->cpu_millis)
                lim->cpu_millis = SANDBOX_DEFAULT_CPU_MILLIS;
        if (!lim->tmpfs_bytes)
                lim->tmpfs_bytes = SANDBOX_DEFAULT_TMPFS_BYTES;
        if (!lim->tmpfs_inodes)
                lim->tmpfs_inodes = SANDBOX_DEFAULT_TMPFS_INODES;
        if (!lim->nofile)
                lim->nofile = SANDBOX_DEFAULT_NOFILE;
        if (lim->nofile <= SB_INIT_GATE_FD)
                return sf_err_set(err, -EINVAL, "nofile %llu is too low: the sandbox's init needs fds 0..%d",
                                  (unsigned long long) lim->nofile, SB_INIT_GATE_FD);
        if (!lim->fsize)
                lim->fsize = lim->tmpfs_bytes;
        return 0;
}

/* Step 3: everything the child will use, made before the clone (the child
 * shares our memory and may not allocate): the plan, the id-mapped root
 * (or the overlay of a writable one), binds and mounts, the cgroup leaf. */
static int spawn_plan(struct sandbox_launcher *l, struct spawn_ctx *c, const struct sandbox_spec *spec,
                      const struct sandbox_limits *lim, struct sb_cgroup *cg, struct sf_err *err)
{
        struct sb_plan *p = &c->plan;
        char gen_name[64];
        const char *name;
        int userns_fd, r;

        p->rootfs = spec->rootfs;
        p->hostname = spec->hostname ? spec->hostname : "sandbox";
        p->hostname_len = strlen(p->hostname);
        p->workdir = spec->workdir ? spec->workdir : "/";
        p->creds.uid = spec->uid;
        p->creds.gid = spec->gid;
        p->creds.groups[0] = spec->gid;
        p->creds.n_groups = 1;
        if (spec->n_groups) {
                memcpy(p->creds.groups, spec->groups, spec->n_groups * sizeof *spec->groups);
                p->creds.n_groups = spec->n_groups;
        }
        p->creds.caps = spec->caps;
        p->creds.caps_ambient = spec->caps_ambient;
        p->creds.set_umask = spec->set_umask;
        p->creds.umask = spec->umask;
        p->creds.detached = spec->detached;
        p->creds.last_cap = l->last_cap;
        /* A parked init waits on its call socket where a gated one waits at
         * its gate (sandbox_spawn makes the socket, c->call_fds). */
        p->gated = spec->gated || spec->parked;
        p->gate_fd = spec->gated ? spec->gate_fd : spec->parked ? c->call_fds[1] : -1;
        p->extra_seccomp = spec->extra_seccomp;
        p->seccomp = &l->prog;
        p->init_fd = l->init_fd;
        p->dev_tmpl_fd = l->dev_tmpl_fd;
        p->mask_tmpl_fd = l->mask_tmpl_fd;
        p->envp = spec->envp;
        for (int i = 0; i < 3; i++)
                p->stdio[i] = spec->stdio[i];
        (void) xsnprintf(p->tmp_size, sizeof p->tmp_size, "%llu", (unsigned long long) lim->tmpfs_bytes);
        (void) xsnprintf(p->tmp_inodes, sizeof p->tmp_inodes, "%llu", (unsigned long long) lim->tmpfs_inodes);
        (void) xsnprintf(p->shm_size, sizeof p->shm_size, "%llu",
                         (unsigned long long) (lim->tmpfs_bytes < SANDBOX_SHM_MAX_BYTES ? lim->tmpfs_bytes
                                                                                      : SANDBOX_SHM_MAX_BYTES));
        plan_rlimit(p, RLIMIT_NOFILE, lim->nofile);
        plan_rlimit(p, RLIMIT_FSIZE, lim->fsize);
        plan_rlimit(p, RLIMIT_CORE, 0);
        plan_rlimit(p, RLIMIT_MEMLOCK, 64 * 1024);
        for (size_t i = 0; i < spec->n_rlimits; i++)
                if (plan_rlimit2(p, spec->rlimits[i].resource, spec->rlimits[i].cur, spec->rlimits[i].max) < 0)
                        return sf_err_set(err, -E2BIG, "too many rlimits (max %d)", SB_MAX_RLIMITS);
        for (size_t i = 0; i < p->n_rlimits; i++)
                if (p->rlimits[i].resource == RLIMIT_NOFILE && p->rlimits[i].cur <= SB_INIT_GATE_FD)
                        return sf_err_set(err, -EINVAL, "RLIMIT_NOFILE %llu is too low: the sandbox's init needs "
                                          "fds 0..%d", (unsigned long long) p->rlimits[i].cur, SB_INIT_GATE_FD);

        r = plan_exec_paths(c, spec, err);
        if (r < 0)
                return r;
        r = plan_sysctls(c, spec, err);
        if (r < 0)
                return r;
        /* A writable root gets the launcher's mount points made by the child. */
        if (!spec->rootfs_writable) {
                r = check_rootfs_dirs(spec->rootfs, err);
                if (r < 0)
                        return r;
        }
        r = plan_mounts(c, spec, err);
        if (r < 0)
                return r;
        /* A one-shot launcher idmaps the rootfs with the child's own user
         * namespace after clone3 (send_late_root); binds and writable roots
         * still need the template, made before the clone. */
        p->late_root = l->one_shot && spec->n_binds == 0 && !spec->rootfs_writable && !userns_cached(l, spec->uid_base);
        if (spec->rootfs_writable) {
                r = get_userns(l, spec->uid_base, &userns_fd);
                if (r < 0)
                        return sf_err_errno(err, r, "cannot create the id-mapping user namespace for uid_base %u",
                                            spec->uid_base);
                r = make_overlay_root(spec, userns_fd, spec->rootfs_upper_bytes ? spec->rootfs_upper_bytes
                                                                                : lim->tmpfs_bytes,
                                      &p->root_mnt_fd, err);
                if (r < 0)
                        return r;
                p->root_writable = true;
                p->rootfs_readonly = spec->rootfs_readonly;
                r = plan_binds(l, c, spec, userns_fd, err);
                if (r < 0)
                        return r;
        } else if (!p->late_root) {
                r = get_userns(l, spec->uid_base, &userns_fd);
                if (r < 0)
                        return sf_err_errno(err, r, "cannot create the id-mapping user namespace for uid_base %u",
                                            spec->uid_base);
                r = make_tree(spec->rootfs, userns_fd, true, 0, &p->root_mnt_fd);
                if (r < 0)
                        return rootfs_tree_error(err, r, spec->rootfs);
                r = plan_binds(l, c, spec, userns_fd, err);
                if (r < 0)
                        return r;
        }

        name = l->cg_path ? l->cg_leaf : spec->name;
        if (!name) {
                (void) xsnprintf(gen_name, sizeof gen_name, "sb-%d-%llu", (int) getpid(),
                                 (unsigned long long) ++l->counter);
                name = gen_name;
        }
        if (!l->no_cgroups) {
                /* An anonymous sandbox may get the leaf an earlier one left
                 * (cgroup_spare.c); a named one's leaf is its own. */
                const bool spare = !spec->name && !l->cg_path;
                r = spare ? sb_spares_take(l->spares, &l->cg, spec->group, name, lim, cg) : 0;
                if (r == 0) {
                        r = sb_cgroup_create(&l->cg, spec->group, name, lim, cg, err);
                        if (r >= 0 && spare && sb_spares_adopt(l->spares, cg, spec->group, lim) < 0)
                                r = sf_err_set(err, -ENOMEM, "out of memory");
                }
                if (r < 0)
                        return r;
        }
        for (int k = 0; k < SB_CTRL_MAX_; k++)
                p->cg_tasks_fd[k] = cg->mode == SB_CGROUP_V1 ? cg->tasks_fd[k] : -1;
        return 0;
}

/* Step 4: clone3 into the new namespaces (and the cgroup, on v2), in a
 * pooled network namespace when there is one (made here when none is
 * ready), or in the one the spec gives (SANDBOX_NET_GIVEN: the egress
 * proxy's) or joins (an engine's, whose net.* sysctls are written while we
 * are in it). Returns the child's pid; *pidfd is set, and *ret_net_fd to
 * the namespace the child was born in (the caller's to keep or close; a
 * copy for a given one), else -1. The child runs sb_child_main(p) on the
 * launcher's stack map, in our memory, until it execs. */
static long spawn_clone(struct sandbox_launcher *l, struct spawn_ctx *c, const struct sandbox_spec *spec,
                        const struct sb_cgroup *cg, int *pidfd, int *ret_net_fd, struct sf_err *err)
{
        struct sb_plan *p = &c->plan;
        _cleanup_close_ int orig_net = -1;
        struct clone_args args;
        sigset_t all, old;
        int net_fd = -1, r;
        long pid;

        memset(&args, 0, sizeof args);
        args.flags = CLONE_VM | CLONE_PIDFD | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWNET |
                     CLONE_NEWIPC | CLONE_NEWUTS;
        args.pidfd = (uint64_t) (uintptr_t) pidfd;
        args.exit_signal = SIGCHLD;
        if (cg->mode == SB_CGROUP_V2 && cg->dir_fd >= 0) {
                args.flags |= CLONE_INTO_CGROUP | CLONE_NEWCGROUP;
                args.cgroup = (uint64_t) cg->dir_fd;
        } else
                p->unshare_cgroupns = true; /* after the parent moved us (v1) */

        /* A pooled netns (made here when none is ready): enter it on this
         * thread just for the clone, so the child is born in it; then come
         * straight back. A given or joined one the same way, writing a
         * joined one's net.* sysctls while there. */
        if (spec->join_netns || spec->net == SANDBOX_NET_GIVEN) {
                orig_net = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
                if (orig_net < 0)
                        return sf_err_errno(err, -errno, "cannot open our own network namespace");
                if (setns(spec->netns_fd, CLONE_NEWNET) < 0)
                        return sf_err_errno(err, -errno, "cannot enter the network namespace");
                args.flags &= ~(uint64_t) CLONE_NEWNET;
                p->pooled_netns = true;
                r = spec->join_netns ? write_host_sysctls(c, err) : 0;
                if (r < 0) {
                        if (setns(orig_net, CLONE_NEWNET) < 0)
                                abort(); /* as below: never stay in a sandbox's network namespace */
                        return r;
                }
        } else if (l->have_pool) {
                net_fd = sb_netns_pool_take(&l->pool);
                if (net_fd < 0)
                        net_fd = sb_netns_make();
                if (net_fd < 0)
                        net_fd = -1; /* CLONE_NEWNET, as without a pool */
        }
        if (net_fd >= 0) {
                if (setns(net_fd, CLONE_NEWNET) == 0) {
                        args.flags &= ~(uint64_t) CLONE_NEWNET;
                        p->pooled_netns = true;
                } else
                        (void) close(TAKE_FD(net_fd));
        }

        /* No signal handler of ours may run on the child's side of the shared
         * memory; the child resets its handlers before unblocking. */
        SB_UNPOISON_STACK((char *) l->stack_map + getpagesize(), SB_STACK_SIZE);
        (void) sigfillset(&all);
        (void) pthread_sigmask(SIG_SETMASK, &all, &old);
        pid = sb_clone3_vm(&args, sizeof args, (char *) l->stack_map + getpagesize(), SB_STACK_SIZE, p);
        (void) pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (orig_net >= 0 && setns(orig_net, CLONE_NEWNET) < 0)
                abort(); /* as below: never stay in a sandbox's network namespace */
        if (pid > 0 && spec->net == SANDBOX_NET_GIVEN)
                *ret_net_fd = fcntl(spec->netns_fd, F_DUPFD_CLOEXEC, 3);
        if (net_fd >= 0) {
                if (pid > 0)
                        *ret_net_fd = TAKE_FD(net_fd);
                else
                        (void) close(TAKE_FD(net_fd));
                if (setns(l->pool.orig_fd, CLONE_NEWNET) < 0) {
                        /* Cannot happen with the privileges we hold; if it did,
                         * this thread would be stranded in a sandbox's netns. */
                        (void) sf_err_errno(err, -errno, "cannot return to the launcher's network namespace");
                        if (pid > 0)
                                kill_and_wait(*pidfd);
                        abort();
                }
        }
        if (pid < 0)
                return sf_err_errno(err, (int) pid, "clone3 into new namespaces");
        return pid;
}

/* A {step, errno} of the start report as sandbox_spawn words it. */
static int step_error(const struct sb_child_error *cerr, const char *argv0, struct sf_err *err)
{
        int r = -(cerr->err ? cerr->err : EIO);

        if (cerr->step == SB_STEP_EXEC)
                return sf_err_errno(err, r, "sandbox step '%s' failed for '%s'", sb_step_name(cerr->step), argv0);
        return sf_err_errno(err, r, "sandbox step '%s' failed", sb_step_name(cerr->step));
}

/* Step 5: write the child's id maps and let it go on (with the late root
 * for a one-shot launcher), then block until it execs (EOF on the report
 * pipe's CLOEXEC end), reports the step that failed, or, gated, reports
 * that its init waits at the start gate.
 *
 * A failure before the release returns at once, without reading the
 * report: the child still waits for its byte, and only the caller's
 * kill_and_wait() (SIGKILL first, then the wait) ends it. */
static int spawn_release(pid_t pid, struct sb_plan *p, const struct sandbox_spec *spec, int sync_fd, int err_fd,
                         struct sf_err *err)
{
        struct sb_child_error cerr;
        ssize_t n;
        int r = write_id_maps(pid, spec->uid_base);

        if (r < 0)
                sf_err_errno(err, r, "cannot write uid/gid maps");
        else if (p->late_root)
                r = send_late_root(sync_fd, pid, spec->rootfs, &p->root_mnt_fd, err);
        else if (send(sync_fd, "1", 1, MSG_NOSIGNAL) != 1)
                r = sf_err_errno(err, -errno, "cannot release the sandbox");
        if (r < 0)
                return r;
        /* The child uses our memory until then; nothing it uses is freed before. */
        do
                n = read(err_fd, &cerr, sizeof cerr);
        while (n < 0 && errno == EINTR);
        if ((spec->gated || spec->parked) && n == (ssize_t) sizeof cerr && cerr.step == SB_STEP_READY)
                return 0; /* the init waits at the start gate, or for its call */
        if ((spec->gated || spec->parked) && n == 0)
                return sf_err_set(err, -EIO, "the sandbox's init ended before it reached the start gate");
        if (n == (ssize_t) sizeof cerr)
                return step_error(&cerr, spec->argv[0], err);
        if (n != 0)
                return sf_err_errno(err, n < 0 ? -errno : -EIO, "reading the sandbox's start report");
        return 0;
}

static int spawn_locked(struct sandbox_launcher *l, const struct sandbox_spec *spec, struct sandbox **ret,
                        struct sf_err *err)
{
        struct spawn_ctx c = { .plan = { .root_mnt_fd = -1, .sync_fd = -1, .sync_peer_fd = -1, .err_fd = -1,
                                         .status_fd = -1, .gate_fd = -1 },
                               .call_fds = { -1, -1 } };
        struct sb_plan *p = &c.plan;
        struct sandbox_limits lim;
        struct sb_cgroup cg = SB_CGROUP_INIT;
        struct sandbox *sb = NULL;
        int sync_p[2] = { -1, -1 }, err_p[2] = { -1, -1 }, status_p[2] = { -1, -1 }, pidfd = -1, net_fd = -1, r;
        long pid;

        sf_err_clear(err);
        if (!l || !spec || !ret)
                return sf_err_set(err, -EINVAL, "invalid arguments");
        r = spawn_validate(l, spec, err);
        if (r < 0)
                return r;
        r = spawn_defaults(&spec->limits, &lim, err);
        if (r < 0)
                return r;
        /* SEQPACKET: the call is one message, whole or not at all. */
        if (spec->parked && socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, c.call_fds) < 0)
                return sf_err_errno(err, -errno, "socketpair");
        r = spawn_plan(l, &c, spec, &lim, &cg, err);
        if (r < 0)
                goto out;

        /* sync is a socket so that a write to a dead child is EPIPE, not SIGPIPE.
         * The status pipe is read once, after the exit, and never waited on. */
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sync_p) < 0 || pipe2(err_p, O_CLOEXEC) < 0 ||
            pipe2(status_p, O_CLOEXEC | O_NONBLOCK) < 0) {
                r = sf_err_errno(err, -errno, "socketpair/pipe");
                goto out;
        }
        p->sync_fd = sync_p[1];
        p->sync_peer_fd = sync_p[0];
        p->err_fd = err_p[1];
        p->status_fd = status_p[1];

        pid = spawn_clone(l, &c, spec, &cg, &pidfd, &net_fd, err);
        if (pid < 0) {
                r = (int) pid;
                goto out;
        }
        (void) close(TAKE_FD(sync_p[1]));
        (void) close(TAKE_FD(err_p[1]));
        (void) close(TAKE_FD(status_p[1]));

        r = spawn_release((pid_t) pid, p, spec, sync_p[0], err_p[0], err);
        if (r >= 0 && !(sb = calloc(1, sizeof *sb)))
                r = sf_err_set(err, -ENOMEM, "out of memory");
        if (r >= 0 && spec->parked && !(sb->argv0 = strdup(spec->argv[0]))) {
                free(TAKE_PTR(sb));
                r = sf_err_set(err, -ENOMEM, "out of memory");
        }
        if (r < 0) {
                kill_and_wait(pidfd);
                goto out;
        }
        sb->pid = (pid_t) pid;
        sb->pidfd = TAKE_FD(pidfd);
        sb->netns_fd = TAKE_FD(net_fd);
        sb->status_fd = TAKE_FD(status_p[0]);
        sb->call_fd = sb->report_fd = -1;
        /* Best effort (Linux 6.11); without it the exit tears it down. */
        sb->mntns_fd = ioctl(sb->pidfd, SB_PIDFD_GET_MNT_NAMESPACE, 0);
        if (spec->parked) {
                sb->call_fd = TAKE_FD(c.call_fds[0]);
                /* Read only after the sandbox ended: never blocks. */
                (void) fcntl(err_p[0], F_SETFL, O_NONBLOCK);
                sb->report_fd = TAKE_FD(err_p[0]);
        }
        sb->cg = cg;
        cg = (struct sb_cgroup) SB_CGROUP_INIT;
        sb_cgroup_close_spawn_fds(&sb->cg);
        sb->timeout_ms = spec->limits.timeout_ms;
        sb->memory_limit = l->no_cgroups ? 0 : lim.memory_bytes;
        l->spawned = true;
        *ret = sb;
        r = 0;
out:
        for (int i = 0; i < 2; i++) {
                if (sync_p[i] >= 0)
                        (void) close(sync_p[i]);
                if (err_p[i] >= 0)
                        (void) close(err_p[i]);
                if (status_p[i] >= 0)
                        (void) close(status_p[i]);
        }
        if (pidfd >= 0)
                (void) close(pidfd);
        if (net_fd >= 0)
                (void) close(net_fd);
        (void) sb_spares_release(&cg);
        spawn_ctx_release(&c);
        return r;
}

int sandbox_spawn(struct sandbox_launcher *l, const struct sandbox_spec *spec, struct sandbox **ret,
                  struct sf_err *err)
{
        int r;

        if (!l)
                return spawn_locked(l, spec, ret, err);
        (void) pthread_mutex_lock(&l->lock);
        r = spawn_locked(l, spec, ret, err);
        (void) pthread_mutex_unlock(&l->lock);
        return r;
}

int sandbox_hand_call(struct sandbox *sb, char *const *envp, const int stdio[3], struct sf_err *err)
{
        _cleanup_close_ int fd = -1;
        _cleanup_free_ char *msg = NULL;
        struct sb_call_head h = { .magic = SB_CALL_MAGIC };
        union {
                struct cmsghdr h;
                char buf[CMSG_SPACE(3 * sizeof(int))];
        } u;
        struct iovec iov;
        struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf };
        struct cmsghdr *c;
        size_t total = sizeof h, off;
        ssize_t n;

        sf_err_clear(err);
        if (!sb || sb->call_fd < 0)
                return sf_err_set(err, -EINVAL, "not a parked sandbox, or its call was handed over already");
        /* Used once, whatever happens below. */
        fd = TAKE_FD(sb->call_fd);
        for (int i = 0; i < 3; i++) {
                int r = stdio[i] < 0 ? sf_err_set(err, -EBADF, "stdio %d: a parked sandbox needs all three", i)
                                     : check_stdio(stdio[i], i, false, err);
                if (r < 0)
                        return r;
        }
        for (char *const *e = envp; e && *e; e++) {
                total += strlen(*e) + 1;
                h.env_count++;
                if (total > SB_CALL_MAX || h.env_count > SB_CALL_ENV_MAX)
                        return sf_err_set(err, -E2BIG, "the call's environment is larger than a parked sandbox "
                                          "takes (%u bytes, %u variables)", SB_CALL_MAX, SB_CALL_ENV_MAX);
        }
        h.env_bytes = (uint32_t) (total - sizeof h);
        msg = malloc(total);
        if (!msg)
                return sf_err_set(err, -ENOMEM, "out of memory");
        memcpy(msg, &h, sizeof h);
        off = sizeof h;
        for (char *const *e = envp; e && *e; e++) {
                size_t k = strlen(*e) + 1;
                memcpy(msg + off, *e, k);
                off += k;
        }
        iov = (struct iovec) { .iov_base = msg, .iov_len = total };
        memset(u.buf, 0, sizeof u.buf);
        c = CMSG_FIRSTHDR(&m);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(3 * sizeof(int));
        memcpy(CMSG_DATA(c), stdio, 3 * sizeof(int));
        /* The socket is empty and its buffer larger than SB_CALL_MAX: the
         * message goes whole at once, or the init is gone (EPIPE). */
        n = sendmsg(fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0)
                return sf_err_errno(err, -errno, "cannot hand the call to the parked sandbox");
        if ((size_t) n != total)
                return sf_err_set(err, -EIO, "the call went to the parked sandbox only in part");
        return 0;
}

bool sandbox_parked(const struct sandbox *sb)
{
        return sb && sb->call_fd >= 0;
}

int sandbox_start_error(struct sandbox *sb, struct sf_err *err)
{
        struct sb_child_error cerr;
        ssize_t n;

        sf_err_clear(err);
        /* Once the command's status is known (reaped, or the init's record
         * read), every writer of the report pipe is done: the init closed
         * its copy after the fork, the command's went with its exec or its
         * exit. */
        if (!sb || sb->report_fd < 0 || !(sb->reaped || sb->have_record))
                return 0;
        do
                n = read(sb->report_fd, &cerr, sizeof cerr);
        while (n < 0 && errno == EINTR);
        if (n != (ssize_t) sizeof cerr || cerr.step == SB_STEP_READY)
                return 0;
        return step_error(&cerr, sb->argv0 ? sb->argv0 : "?", err);
}

int sandbox_netns_new(struct sandbox_launcher *l, struct sf_err *err)
{
        int fd = -1;

        if (l && l->have_pool) {
                (void) pthread_mutex_lock(&l->lock);
                fd = sb_netns_pool_take(&l->pool);
                (void) pthread_mutex_unlock(&l->lock);
        }
        if (fd >= 0)
                return fd;
        fd = sb_netns_make();
        if (fd < 0)
                return sf_err_errno(err, fd, "cannot make a network namespace");
        return fd;
}

pid_t sandbox_pid(const struct sandbox *sb)
{
        return sb ? sb->pid : -1;
}

int sandbox_pidfd(const struct sandbox *sb)
{
        return sb ? sb->pidfd : -1;
}

int sandbox_netns_fd(const struct sandbox *sb)
{
        return sb ? sb->netns_fd : -1;
}

int sandbox_kill(struct sandbox *sb)
{
        int r = 0;
        if (!sb || sb->reaped)
                return 0;
        /* SIGKILL to pid 1 of the namespace: the kernel kills every process in it. */
        if (syscall(SYS_pidfd_send_signal, sb->pidfd, SIGKILL, NULL, 0) < 0 && errno != ESRCH)
                r = -errno;
        (void) sb_cgroup_kill(&sb->cg);
        sb->killed = true;
        return r;
}

/* The function's wait status from the init's record, when the init lived to
 * write one; else the init's own (killed by us, by the OOM killer, ...). */
static void take_status(struct sandbox *sb, int init_status)
{
        struct sb_init_status rec;
        ssize_t n;

        sb->status = init_status;
        if (sb->status_fd < 0)
                return;
        if (sb->have_record) {
                sb->status = sb->record_status;
                (void) close(sb->status_fd);
                sb->status_fd = -1;
                return;
        }
        do
                n = read(sb->status_fd, &rec, sizeof rec);
        while (n < 0 && errno == EINTR);
        if (n == (ssize_t) sizeof rec && rec.magic == SB_INIT_STATUS_MAGIC)
                sb->status = rec.wait_status;
        (void) close(sb->status_fd);
        sb->status_fd = -1;
}

int sandbox_status_fd(const struct sandbox *sb)
{
        return sb && !sb->reaped ? sb->status_fd : -1;
}

int sandbox_peek_status(struct sandbox *sb, int *ret_status)
{
        struct sb_init_status rec;
        ssize_t n;

        if (!sb)
                return -EINVAL;
        if (!sb->have_record) {
                if (sb->reaped || sb->status_fd < 0)
                        return -ENODATA;
                do /* the pipe is O_NONBLOCK: one record of 8 bytes, written at once */
                        n = read(sb->status_fd, &rec, sizeof rec);
                while (n < 0 && errno == EINTR);
                if (n < 0 && errno == EAGAIN)
                        return -EAGAIN;
                if (n != (ssize_t) sizeof rec || rec.magic != SB_INIT_STATUS_MAGIC)
                        return -ENODATA;
                /* The fd stays open until the reap: a caller may still
                 * have it in a poll set. */
                sb->have_record = true;
                sb->record_status = rec.wait_status;
        }
        if (ret_status)
                *ret_status = sb->record_status;
        return 0;
}

int sandbox_reap(struct sandbox *sb, int *ret_status)
{
        siginfo_t si;
        int status;

        if (!sb)
                return -EINVAL;
        if (!sb->reaped) {
                memset(&si, 0, sizeof si);
                if (waitid((idtype_t) P_PIDFD, (id_t) sb->pidfd, &si, WEXITED | WNOHANG) < 0)
                        return -errno;
                if (si.si_pid == 0)
                        return -EAGAIN;
                if (si.si_code == CLD_EXITED)
                        status = (si.si_status & 0xff) << 8;
                else
                        status = (si.si_status & 0x7f) | (si.si_code == CLD_DUMPED ? 0x80 : 0);
                take_status(sb, status);
                sb->reaped = true;
        }
        if (ret_status)
                *ret_status = sb->status;
        return 0;
}

int sandbox_wait(struct sandbox *sb, int *ret_status, bool *ret_timed_out)
{
        uint64_t deadline;
        bool timed_out = false;
        int r;

        if (!sb)
                return -EINVAL;
        deadline = sb->timeout_ms ? now_ns() + sb->timeout_ms * 1000000ULL : 0;
        while (!sb->reaped) {
                struct pollfd pfd = { .fd = sb->pidfd, .events = POLLIN };
                int timeout = -1;
                if (deadline && !timed_out) {
                        uint64_t now = now_ns();
                        if (now >= deadline) {
                                timed_out = true;
                                r = sandbox_kill(sb);
                                if (r < 0)
                                        return r;
                                continue;
                        }
                        timeout = (int) ((deadline - now + 999999) / 1000000);
                }
                if (poll(&pfd, 1, timeout) < 0 && errno != EINTR)
                        return -errno;
                r = sandbox_reap(sb, NULL);
                if (r < 0 && r != -EAGAIN)
                        return r;
        }
        if (ret_status)
                *ret_status = sb->status;
        if (ret_timed_out)
                *ret_timed_out = timed_out;
        return 0;
}

int sandbox_stats(struct sandbox *sb, struct sandbox_stats *ret)
{
        if (!sb || !ret)
                return -EINVAL;
        return sb_cgroup_stats(&sb->cg, ret);
}

void sandbox_free(struct sandbox *sb)
{
        if (!sb)
                return;
        if (!sb->reaped) {
                int status;
                (void) sandbox_kill(sb);
                if (wait_exit(sb->pidfd, &status) == 0) {
                        sb->reaped = true;
                        take_status(sb, status);
                }
        }
        /* The mount namespace goes here rather than in the init's exit:
         * /proc, /tmp and /dev/shm and the mount tree, with an expedited
         * RCU grace period (namespace_unlock), ~0.1 ms that a caller waiting
         * for the exit no longer waits for (bench/RESULTS.md). Before the
         * leaf: the pages its tmpfs charged there are uncharged before the
         * leaf may be kept for another sandbox (cgroup_spare.c). */
        if (sb->mntns_fd >= 0)
                (void) close(sb->mntns_fd);
        (void) sb_spares_release(&sb->cg);
        if (sb->pidfd >= 0)
                (void) close(sb->pidfd);
        if (sb->status_fd >= 0)
                (void) close(sb->status_fd);
        if (sb->netns_fd >= 0)
                (void) close(sb->netns_fd);
        if (sb->call_fd >= 0)
                (void) close(sb->call_fd);
        if (sb->report_fd >= 0)
                (void) close(sb->report_fd);
        free(sb->argv0);
        free(sb);
}

void sandbox_detach(struct sandbox *sb)
{
        if (!sb)
                return;
        sb_cgroup_close_spawn_fds(&sb->cg);
        for (int c = 0; c < SB_CTRL_MAX_; c++)
                free(sb->cg.path[c]);
        sb_spares_unref(sb->cg.spares);
        free(sb->cg.group);
        if (sb->mntns_fd >= 0)
                (void) close(sb->mntns_fd);
        if (sb->pidfd >= 0)
                (void) close(sb->pidfd);
        if (sb->status_fd >= 0)
                (void) close(sb->status_fd);
        if (sb->call_fd >= 0)
                (void) close(sb->call_fd);
        if (sb->report_fd >= 0)
                (void) close(sb->report_fd);
        free(sb->argv0);
        free(sb);
}

int sandbox_group_usage(struct sandbox_launcher *l, const char *group, struct sandbox_usage *ret,
                        struct sf_err *err)
{
        int r;

        sf_err_clear(err);
        if (!l || !ret || !valid_group(group))
                return sf_err_set(err, -EINVAL, "bad cgroup group '%.140s'", group ? group : "(null)");
        if (l->no_cgroups) {
                memset(ret, 0, sizeof *ret);
                return sf_err_set(err, -EOPNOTSUPP, "the launcher runs without cgroups");
        }
        (void) pthread_mutex_lock(&l->lock);
        r = sb_cgroup_group_usage(&l->cg, group, ret);
        (void) pthread_mutex_unlock(&l->lock);
        if (r < 0 && r != -ENOENT)
                return sf_err_errno(err, r, "cgroup: cannot read the usage of group '%s'", group);
        return r;
}

int sandbox_group_remove(struct sandbox_launcher *l, const char *group, struct sf_err *err)
{
        int r;

        sf_err_clear(err);
        if (!l || !valid_group(group))
                return sf_err_set(err, -EINVAL, "bad cgroup group '%.140s'", group ? group : "(null)");
        if (l->no_cgroups)
                return 0;
        (void) pthread_mutex_lock(&l->lock);
        sb_spares_drop_group(l->spares, group);
        r = sb_cgroup_group_remove(&l->cg, group);
        (void) pthread_mutex_unlock(&l->lock);
        if (r < 0)
                return sf_err_errno(err, r, "cgroup: cannot remove group '%s'", group);
        return 0;
}

int sandbox_group_set_limits(struct sandbox_launcher *l, const char *group, const struct sandbox_limits *lim,
                             struct sf_err *err)
{
        int r;

        sf_err_clear(err);
        if (!l || !lim || !valid_group(group))
                return sf_err_set(err, -EINVAL, "bad cgroup group '%.140s'", group ? group : "(null)");
        if (l->no_cgroups)
                return 0;
        (void) pthread_mutex_lock(&l->lock);
        /* A spare leaf's cpu quota depends on its group's when it was made
         * (v1 refuses a quota above an ancestor's, sb_cgroup_create): the
         * spares of a group whose limits change go, and the next sandboxes
         * get leaves made under the new ones. */
        sb_spares_drop_group(l->spares, group);
        r = sb_cgroup_group_limit(&l->cg, group, lim);
        (void) pthread_mutex_unlock(&l->lock);
        if (r < 0)
                return sf_err_errno(err, r, "cgroup: cannot set the limits of group '%s'", group);
        return 0;
}

int sandbox_exit_code(int wait_status)
{
        if (WIFEXITED(wait_status))
                return WEXITSTATUS(wait_status);
        if (WIFSIGNALED(wait_status))
                return 128 + WTERMSIG(wait_status);
        return 125;
}

enum sandbox_end sandbox_describe_end(struct sandbox *sb, int wait_status, char *buf, size_t size)
{
        struct sandbox_stats st = { 0 };
        const char *abbrev;
        char limit[48] = "";

        if (size > 0)
                buf[0] = '\0';
        if (sb && (!WIFEXITED(wait_status) || WEXITSTATUS(wait_status) != 0) &&
            sandbox_stats(sb, &st) == 0 && st.oom_kills > 0) {
                /* Killed well below its own limit: a limit of a group
                 * above it held it (a tenant's, sandbox_group_set_limits). */
                if (sb->memory_limit && st.memory_peak_bytes && st.memory_peak_bytes + (1u << 20) < sb->memory_limit)
                        (void) xsnprintf(limit, sizeof limit, " (its group's limit, at %llu MiB)",
                                         (unsigned long long) (st.memory_peak_bytes >> 20));
                else if (sb->memory_limit)
                        (void) xsnprintf(limit, sizeof limit, " (limit %llu MiB)",
                                         (unsigned long long) (sb->memory_limit >> 20));
                if (WIFEXITED(wait_status))
                        (void) xsnprintf(buf, size, "exited with status %d after running out of memory%s",
                                         WEXITSTATUS(wait_status), limit);
                else
                        (void) xsnprintf(buf, size, "ran out of memory%s and was killed", limit);
                return SANDBOX_END_OOM;
        }
        if (WIFEXITED(wait_status)) {
                (void) xsnprintf(buf, size, "exited with status %d", WEXITSTATUS(wait_status));
                return SANDBOX_END_EXITED;
        }
        abbrev = WIFSIGNALED(wait_status) ? sigabbrev_np(WTERMSIG(wait_status)) : NULL;
        (void) xsnprintf(buf, size, "was killed by signal %d%s%s%s", WIFSIGNALED(wait_status) ? WTERMSIG(wait_status) : 0,
                         abbrev ? " (SIG" : "", abbrev ? abbrev : "", abbrev ? ")" : "");
        return SANDBOX_END_SIGNALED;
}

int sandbox_cgroup_probe(char *buf, size_t size, struct sf_err *err)
{
        struct sb_cgroup_root root;
        int r, mode;

        sf_err_clear(err);
        if (size > 0)
                buf[0] = '\0';
        (void) sb_cgroup_describe(buf, size);
        r = sb_cgroup_detect(&root, err);
        if (r < 0)
                return r;
        mode = root.mode == SB_CGROUP_V2 ? 2 : 1;
        sb_cgroup_root_release(&root);
        return mode;
}
