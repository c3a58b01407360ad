/* SPDX-License-Identifier: MIT */
/*
 * The sandbox child: everything between clone3() and execve().
 *
 * CONTEXT (read before editing): the child is created with CLONE_VM on a
 * dedicated stack, like posix_spawn, so that spawning costs the same whether
 * the daemon is 5 MB or 5 GB. It therefore shares every byte of the
 * parent's memory, including the parent's TLS and errno, while the parent
 * keeps running. Rules in this file:
 *   - no libc call that may touch errno, malloc, locks, stdio or TLS: every
 *     system call goes through sys6() below, which returns -errno and never
 *     writes errno (the parent thread reads its own errno concurrently);
 *   - write nothing in the parent's memory except this stack and the plan's
 *     own fields that the parent does not read before the error pipe closes;
 *   - report a failure as {step, errno} on the CLOEXEC error pipe, then
 *     exit with the raw exit syscall;
 *   - the order is the policy: namespaces and mounts, pivot_root, stdio,
 *     rlimits, capabilities and ids, no_new_privs, close fds, seccomp last,
 *     execve (STYLE.md rule 11). What is exec'd is the sandbox init
 *     (sandbox/init/), which forks and execs the function.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/close_range.h>
#include <linux/openat2.h>
#include <linux/prctl.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <linux/securebits.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sandbox/internal.h"

#if defined(__x86_64__)
static inline long sys6(long n, long a, long b, long c, long d, long e, long f)
{
        register long r10 __asm__("r10") = d;
        register long r8 __asm__("r8") = e;
        register long r9 __asm__("r9") = f;
        long ret;
        __asm__ volatile("syscall"
                         : "=a"(ret)
                         : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                         : "rcx", "r11", "memory");
        return ret;
}

/* clone3 trampoline: the child starts on the new stack with the parent's
 * registers, so it must not touch the caller's frame: call fn(arg) at once
 * and exit with its return value. r12/r13 survive the syscall. */
__asm__(".text\n"
        ".p2align 4\n"
        ".type sb_raw_clone3, @function\n"
        "sb_raw_clone3:\n"
        "  endbr64\n"
        "  push %r12\n"
        "  push %r13\n"
        "  mov %rdx, %r12\n"        /* fn */
        "  mov %rcx, %r13\n"        /* arg */
        "  mov $435, %eax\n"        /* __NR_clone3 */
        "  syscall\n"
        "  test %rax, %rax\n"
        "  jnz 1f\n"
        "  xor %ebp, %ebp\n"
        "  mov %r13, %rdi\n"
        "  call *%r12\n"
        "  mov %rax, %rdi\n"
        "  mov $60, %eax\n"         /* __NR_exit */
        "  syscall\n"
        "  hlt\n"
        "1:\n"
        "  pop %r13\n"
        "  pop %r12\n"
        "  ret\n"
        ".size sb_raw_clone3, .-sb_raw_clone3\n");
#elif defined(__aarch64__)
static inline long sys6(long n, long a, long b, long c, long d, long e, long f)
{
        register long x8 __asm__("x8") = n;
        register long x0 __asm__("x0") = a;
        register long x1 __asm__("x1") = b;
        register long x2 __asm__("x2") = c;
        register long x3 __asm__("x3") = d;
        register long x4 __asm__("x4") = e;
        register long x5 __asm__("x5") = f;
        __asm__ volatile("svc 0"
                         : "+r"(x0)
                         : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5)
                         : "memory");
        return x0;
}

__asm__(".text\n"
        ".p2align 4\n"
        ".type sb_raw_clone3, %function\n"
        "sb_raw_clone3:\n"
        "  mov x9, x2\n"
        "  mov x10, x3\n"
        "  mov x8, #435\n"
        "  svc 0\n"
        "  cbnz x0, 1f\n"
        "  mov x0, x10\n"
        "  blr x9\n"
        "  mov x8, #93\n"
        "  svc 0\n"
        "1:\n"
        "  ret\n"
        ".size sb_raw_clone3, .-sb_raw_clone3\n");
#else
#error "sandbox/child.c needs a raw syscall and clone3 trampoline for this architecture"
#endif

long sb_raw_clone3(void *args, size_t size, int (*fn)(void *), void *arg);

#define S0(n) sys6((n), 0, 0, 0, 0, 0, 0)
#define S1(n, a) sys6((n), (long) (a), 0, 0, 0, 0, 0)
#define S2(n, a, b) sys6((n), (long) (a), (long) (b), 0, 0, 0, 0)
#define S3(n, a, b, c) sys6((n), (long) (a), (long) (b), (long) (c), 0, 0, 0)
#define S4(n, a, b, c, d) sys6((n), (long) (a), (long) (b), (long) (c), (long) (d), 0, 0)
#define S5(n, a, b, c, d, e) sys6((n), (long) (a), (long) (b), (long) (c), (long) (d), (long) (e), 0)

__attribute__((noreturn)) static void child_exit(int code)
{
        for (;;)
                (void) S1(SYS_exit, code);
}

__attribute__((noreturn)) static void child_fail_on(int fd, int step, long r)
{
        struct sb_child_error e = { .step = step, .err = (int32_t) (r < 0 ? -r : r) };
        (void) S3(SYS_write, fd, &e, sizeof e);
        child_exit(125);
}

__attribute__((noreturn)) static void child_fail(const struct sb_plan *p, int step, long r)
{
        child_fail_on(p->err_fd, step, r);
}

#define TRY(p, step, expr)                               \
        do {                                             \
                long _r = (expr);                        \
                if (_r < 0)                              \
                        child_fail((p), (step), _r);     \
        } while (0)

static long c_close(int fd)
{
        return S1(SYS_close, fd);
}

/* openat2 answers EAGAIN when a mount or rename anywhere on the system
 * races a lookup that walks ".." under RESOLVE_IN_ROOT/BENEATH (seqlock
 * check), and callers are to retry (openat2(2)); every spawn mounts, so
 * that happens on a busy host. Bounded, so a livelock still fails. */
static long c_openat2(int dirfd, const char *path, uint64_t flags, uint64_t resolve)
{
        struct open_how how = { .flags = flags | O_CLOEXEC, .resolve = resolve };
        long r;
        int tries = 0;
        do
                r = S4(SYS_openat2, dirfd, path, &how, sizeof how);
        while (r == -EAGAIN && ++tries < 1000);
        return r;
}

/* Mount targets inside the image: never through a symlink, never outside. */
static long c_target(int rootfd, const char *path)
{
        return c_openat2(rootfd, path, O_PATH | O_DIRECTORY | O_NOFOLLOW,
                         RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
}

static long c_move_to_fd(int from, int to_fd)
{
        return S5(SYS_move_mount, from, "", to_fd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH);
}

static long c_setattr(int fd, uint64_t set, unsigned flags)
{
        struct mount_attr a = { .attr_set = set };
        return S5(SYS_mount_setattr, fd, "", AT_EMPTY_PATH | flags, &a, sizeof a);
}

/* fsopen + fsconfig + fsmount. Returns the detached mount fd. */
static long c_newfs(const char *type, const char *const *kv, unsigned attrs)
{
        long fs, m;

        fs = S2(SYS_fsopen, type, FSOPEN_CLOEXEC);
        if (fs < 0)
                return fs;
        for (; kv && kv[0]; kv += 2) {
                long r = S5(SYS_fsconfig, fs, FSCONFIG_SET_STRING, kv[0], kv[1], 0);
                if (r < 0) {
                        (void) c_close((int) fs);
                        return r;
                }
        }
        m = S5(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, 0, 0, 0);
        if (m >= 0)
                m = S3(SYS_fsmount, fs, FSMOUNT_CLOEXEC, attrs);
        (void) c_close((int) fs);
        return m;
}

/* Mount a new filesystem on rootfd/path (a real directory of the image). */
static long c_mount_new(int rootfd, const char *path, const char *type, const char *const *kv,
                        unsigned attrs)
{
        long t, m, r;

        t = c_target(rootfd, path);
        if (t < 0)
                return t;
        m = c_newfs(type, kv, attrs);
        if (m < 0) {
                (void) c_close((int) t);
                return m;
        }
        r = c_move_to_fd((int) m, (int) t);
        (void) c_close((int) t);
        if (r < 0) {
                (void) c_close((int) m);
                return r;
        }
        return m;
}

static long c_write_str(int dirfd, const char *path, const char *s)
{
        long fd = S4(SYS_openat, dirfd, path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0), r;
        if (fd < 0)
                return fd;
        r = S3(SYS_write, fd, s, strlen(s));
        (void) c_close((int) fd);
        return r;
}

/* Paths of procfs that reveal or change kernel-wide state (as runc/crun). */
static const char *const proc_masked[] = {
        "kcore", "keys", "timer_list", "timer_stats", "sched_debug", "latency_stats",
        "sysrq-trigger", "kallsyms", "kmsg", "kpagecount", "kpageflags", "kpagecgroup",
        "config.gz", "acpi", "scsi", "asound", "firmware", "driver", "pressure", NULL,
};
static const char *const proc_readonly[] = { "sys", "irq", "bus", "fs", NULL };

static void setup_proc(const struct sb_plan *p, int rootfd)
{
        static const char *const ro_kv[] = { "size", "0k", "nr_inodes", "1", "mode", "0555", NULL };
        long pfd, fd;

        pfd = c_mount_new(rootfd, "proc", "proc", NULL,
                          MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
        TRY(p, SB_STEP_PROC, pfd);

        /* No nested user namespaces from here on (SECURITY.md "lock the setup");
         * this sysctl is per user namespace, and we are root in ours. */
        TRY(p, SB_STEP_PROC_LIMIT_USERNS, c_write_str((int) pfd, "sys/user/max_user_namespaces", "0"));
        /* The spec's sysctls, of namespaces we own (checked by the parent),
         * while /proc/sys is still writable. */
        for (size_t i = 0; i < p->n_sysctls; i++)
                TRY(p, SB_STEP_SYSCTL, c_write_str((int) pfd, p->sysctls[i].path, p->sysctls[i].value));

        for (const char *const *m = proc_masked; *m; m++) {
                struct stat st;
                long t = c_openat2((int) pfd, *m, O_PATH | O_NOFOLLOW, RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS);
                if (t == -ENOENT)
                        continue;
                TRY(p, SB_STEP_PROC_MASK, t);
                TRY(p, SB_STEP_PROC_MASK, S4(SYS_newfstatat, t, "", &st, AT_EMPTY_PATH));
                /* Entries only their owner may open (kcore, kmsg, kpage*, ... are
                 * 0400 host root, which is unmapped here and over which the
                 * sandbox never holds a capability) are closed already; each
                 * mask costs a mount, so mask only what the sandbox could read
                 * or write. */
                if ((st.st_mode & 0077) == 0) {
                        (void) c_close((int) t);
                        continue;
                }
                if (S_ISDIR(st.st_mode)) {
                        /* A clone of the launcher's empty read-only tmpfs (no new
                         * superblock to make here and to tear down at exit); a
                         * fresh one when the kernel refuses the clone. */
                        fd = p->mask_tmpl_fd >= 0 ? S3(SYS_open_tree, p->mask_tmpl_fd, "",
                                                       OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH)
                                                  : -EINVAL;
                        if (fd < 0)
                                fd = c_newfs("tmpfs", ro_kv, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID |
                                                                     MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
                } else {
                        fd = S3(SYS_open_tree, AT_FDCWD, "/dev/null", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
                        if (fd >= 0) {
                                long r = c_setattr((int) fd, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID |
                                                                     MOUNT_ATTR_NOEXEC, 0);
                                if (r < 0)
                                        fd = r;
                        }
                }
                TRY(p, SB_STEP_PROC_MASK, fd);
                TRY(p, SB_STEP_PROC_MASK, c_move_to_fd((int) fd, (int) t));
                (void) c_close((int) fd);
                (void) c_close((int) t);
        }

        for (const char *const *m = proc_readonly; *m; m++) {
                long t = c_openat2((int) pfd, *m, O_PATH | O_NOFOLLOW, RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS);
                if (t == -ENOENT)
                        continue;
                TRY(p, SB_STEP_PROC_READONLY, t);
                fd = S3(SYS_open_tree, t, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH | AT_RECURSIVE);
                TRY(p, SB_STEP_PROC_READONLY, fd);
                TRY(p, SB_STEP_PROC_READONLY,
                    c_setattr((int) fd, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC,
                              AT_RECURSIVE));
                TRY(p, SB_STEP_PROC_READONLY, c_move_to_fd((int) fd, (int) t));
                (void) c_close((int) fd);
                (void) c_close((int) t);
        }
        (void) c_close((int) pfd);
}

static void setup_dev(const struct sb_plan *p, int rootfd)
{
        static const char *const dev_kv[] = { "size", "64k", "nr_inodes", "64", "mode", "0755", NULL };
        static const char *const nodes[] = { "null", "zero", "full", "random", "urandom", NULL };
        static const char *const host_nodes[] = { "/dev/null", "/dev/zero", "/dev/full", "/dev/random",
                                                  "/dev/urandom", NULL };
        static const char *const links[][2] = {
                { "fd", "/proc/self/fd" },       { "stdin", "/proc/self/fd/0" },
                { "stdout", "/proc/self/fd/1" }, { "stderr", "/proc/self/fd/2" },
        };
        const char *shm_kv[] = { "size", p->shm_size, "nr_inodes", "1024", "mode", "1777", NULL };
        long dfd, fd;

        /* The launcher's template (templates.c): the same tree, read-only
         * already, in one clone; only /dev/shm is made here. */
        dfd = p->dev_tmpl_fd >= 0 ? S3(SYS_open_tree, p->dev_tmpl_fd, "",
                                       OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH | AT_RECURSIVE)
                                  : -EINVAL;
        if (dfd >= 0) {
                long t = c_target(rootfd, "dev");
                TRY(p, SB_STEP_DEV, t);
                TRY(p, SB_STEP_DEV, c_move_to_fd((int) dfd, (int) t));
                (void) c_close((int) t);
                fd = c_mount_new((int) dfd, "shm", "tmpfs", shm_kv, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
                TRY(p, SB_STEP_DEV_SHM, fd);
                (void) c_close((int) fd);
                (void) c_close((int) dfd);
                return;
        }

        dfd = c_mount_new(rootfd, "dev", "tmpfs", dev_kv, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC);
        TRY(p, SB_STEP_DEV, dfd);
        for (size_t i = 0; nodes[i]; i++) {
                long t;
                fd = S4(SYS_openat, dfd, nodes[i], O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0666);
                TRY(p, SB_STEP_DEV_NODE, fd);
                (void) c_close((int) fd);
                /* Bind the host node: a user namespace cannot mknod, and a node
                 * from the image is never trusted. */
                fd = S3(SYS_open_tree, AT_FDCWD, host_nodes[i], OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
                TRY(p, SB_STEP_DEV_NODE, fd);
                TRY(p, SB_STEP_DEV_NODE, c_setattr((int) fd, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC, 0));
                t = c_openat2((int) dfd, nodes[i], O_PATH | O_NOFOLLOW, RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS);
                TRY(p, SB_STEP_DEV_NODE, t);
                TRY(p, SB_STEP_DEV_NODE, c_move_to_fd((int) fd, (int) t));
                (void) c_close((int) fd);
                (void) c_close((int) t);
        }
        for (size_t i = 0; i < sizeof links / sizeof links[0]; i++)
                TRY(p, SB_STEP_DEV, S3(SYS_symlinkat, links[i][1], dfd, links[i][0]));
        TRY(p, SB_STEP_DEV, S3(SYS_mkdirat, dfd, "shm", 01777));
        fd = c_mount_new((int) dfd, "shm", "tmpfs", shm_kv, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
        TRY(p, SB_STEP_DEV_SHM, fd);
        (void) c_close((int) fd);
        /* /dev itself read-only: nothing new can be planted in it. */
        TRY(p, SB_STEP_DEV, c_setattr((int) dfd, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC, 0));
        (void) c_close((int) dfd);
}

struct k_dirent64 {
        uint64_t d_ino;
        int64_t d_off;
        unsigned short d_reclen;
        unsigned char d_type;
        char d_name[];
};

/* Put a copy of every entry of the image directory efd into the tmpfs mfd
 * (now mounted over it): bind mounts for files and directories, copies for
 * symlinks, so the directory looks the same with room for new entries. */
static void mirror_dir(const struct sb_plan *p, int efd, int mfd)
{
        char buf[4096], link[4096];
        long dfd = S4(SYS_openat, efd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0), n;

        TRY(p, SB_STEP_BIND, dfd);
        while ((n = S3(SYS_getdents64, dfd, buf, sizeof buf)) > 0) {
                for (long off = 0; off < n;) {
                        struct k_dirent64 *d = (struct k_dirent64 *) (buf + off);
                        const char *name = d->d_name;
                        struct stat st;
                        long fd, t;

                        off += d->d_reclen;
                        if (name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0')))
                                continue;
                        TRY(p, SB_STEP_BIND, S4(SYS_newfstatat, efd, name, &st, AT_SYMLINK_NOFOLLOW));
                        if (S_ISLNK(st.st_mode)) {
                                long len = S4(SYS_readlinkat, efd, name, link, sizeof link - 1);
                                TRY(p, SB_STEP_BIND, len);
                                link[len] = '\0';
                                TRY(p, SB_STEP_BIND, S3(SYS_symlinkat, link, mfd, name));
                                continue;
                        }
                        if (S_ISDIR(st.st_mode))
                                TRY(p, SB_STEP_BIND, S3(SYS_mkdirat, mfd, name, 0755));
                        else {
                                fd = S4(SYS_openat, mfd, name, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0444);
                                TRY(p, SB_STEP_BIND, fd);
                                (void) c_close((int) fd);
                        }
                        fd = S3(SYS_open_tree, efd, name,
                                OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE | AT_SYMLINK_NOFOLLOW);
                        TRY(p, SB_STEP_BIND, fd);
                        t = c_openat2(mfd, name, O_PATH | O_NOFOLLOW, RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS);
                        TRY(p, SB_STEP_BIND, t);
                        TRY(p, SB_STEP_BIND, c_move_to_fd((int) fd, (int) t));
                        (void) c_close((int) t);
                        (void) c_close((int) fd);
                }
        }
        TRY(p, SB_STEP_BIND, n);
        (void) c_close((int) dfd);
}

/* Secrets and other read-only binds. For each destination directory P:
 * when P exists in the image, a small tmpfs goes over it; when it does not
 * (/var/openfaas/secrets in most images), the tmpfs goes over its deepest
 * existing ancestor E, which is mirrored into it (mirror_dir) so E looks
 * unchanged, and the missing directories are made in the tmpfs. Nothing is
 * ever written to the shared rootfs. A symlink or file on the way is refused
 * (ELOOP/ENOTDIR); E is never / itself: setup_root_mirror() made the first
 * component already when the image lacks it. */
static void setup_binds(const struct sb_plan *p, int rootfd)
{
        static const char *const kv[] = { "size", "64k", "nr_inodes", "1024", "mode", "0755", NULL };

        for (size_t i = 0; i < p->n_bind_parents; i++) {
                const char *path = p->bind_parents[i], *rest = NULL;
                long efd = -1, mfd, cur, t;
                char comp[256];

                /* Walk P one component at a time, never through a symlink. */
                cur = c_openat2(rootfd, "/", O_PATH | O_DIRECTORY, RESOLVE_IN_ROOT);
                TRY(p, SB_STEP_BIND, cur);
                for (const char *c = path; *c;) {
                        size_t len;
                        long next;
                        while (*c == '/')
                                c++;
                        len = strcspn(c, "/");
                        if (len == 0)
                                break;
                        if (len >= sizeof comp)
                                child_fail(p, SB_STEP_BIND, -ENAMETOOLONG);
                        memcpy(comp, c, len);
                        comp[len] = '\0';
                        next = c_openat2((int) cur, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW,
                                         RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
                        if (next == -ENOENT) {
                                rest = c;
                                break;
                        }
                        TRY(p, SB_STEP_BIND, next);
                        (void) c_close((int) cur);
                        cur = next;
                        c += len;
                }
                if (rest == path + 1 || (rest && rest == path))
                        child_fail(p, SB_STEP_BIND, -ENOENT); /* E would be / */
                efd = cur;

                mfd = c_newfs("tmpfs", kv, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
                TRY(p, SB_STEP_BIND, mfd);
                TRY(p, SB_STEP_BIND, c_move_to_fd((int) mfd, (int) efd));
                cur = S1(SYS_dup, mfd);
                TRY(p, SB_STEP_BIND, cur);
                if (rest) {
                        mirror_dir(p, (int) efd, (int) mfd);
                        /* the missing directories, inside the tmpfs */
                        for (const char *c = rest; *c;) {
                                size_t len;
                                long next;
                                while (*c == '/')
                                        c++;
                                len = strcspn(c, "/");
                                if (len == 0)
                                        break;
                                if (len >= sizeof comp)
                                        child_fail(p, SB_STEP_BIND, -ENAMETOOLONG);
                                memcpy(comp, c, len);
                                comp[len] = '\0';
                                TRY(p, SB_STEP_BIND, S3(SYS_mkdirat, cur, comp, 0755));
                                next = c_openat2((int) cur, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW,
                                                 RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS);
                                TRY(p, SB_STEP_BIND, next);
                                (void) c_close((int) cur);
                                cur = next;
                                c += len;
                        }
                }
                for (size_t j = 0; j < p->n_binds; j++) {
                        const struct sb_bind_plan *b = &p->binds[j];
                        if (b->parent_index != (int) i)
                                continue;
                        if (b->is_dir)
                                TRY(p, SB_STEP_BIND, S3(SYS_mkdirat, cur, b->name, 0755));
                        else {
                                long fd = S4(SYS_openat, cur, b->name,
                                             O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0444);
                                TRY(p, SB_STEP_BIND, fd);
                                (void) c_close((int) fd);
                        }
                        t = c_openat2((int) cur, b->name, O_PATH | O_NOFOLLOW, RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS);
                        TRY(p, SB_STEP_BIND, t);
                        TRY(p, SB_STEP_BIND, c_move_to_fd(b->mnt_fd, (int) t));
                        (void) c_close((int) t);
                }
                TRY(p, SB_STEP_BIND, c_setattr((int) mfd, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID |
                                                                  MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC, 0));
                (void) c_close((int) cur);
                (void) c_close((int) mfd);
                (void) c_close((int) efd);
        }
}

/* An image with no /var (FROM scratch, distroless) still gets its secrets
 * at /var/openfaas/secrets, as Docker and containerd make a missing mount
 * point. A bind parent whose first component is missing in the image would
 * need a tmpfs over / itself, which setup_binds() refuses (the root is not
 * a directory it can mirror in place). Instead, before anything is mounted
 * on the root: a new tmpfs T gets a copy of the root's top level (bind
 * mounts of its directories and files, copies of its symlinks:
 * mirror_dir), the missing first components as empty directories, and is
 * stacked on the image root, read-only. T becomes the root the rest of the
 * setup uses (proc, dev, tmp and the binds land in it; pivot_root makes it
 * /). Nothing is written to the shared rootfs. Returns the root to use: T,
 * or rootfd itself when every bind parent starts with a directory the image
 * has. */
static long setup_root_mirror(const struct sb_plan *p, long rootfd)
{
        static const char *const kv[] = { "size", "64k", "nr_inodes", "4096", "mode", "0755", NULL };
        char comp[256];
        bool need = false;
        long mfd;

        for (size_t i = 0; i < p->n_bind_parents && !need; i++) {
                const char *c = p->bind_parents[i];
                size_t len;
                long t;

                while (*c == '/')
                        c++;
                len = strcspn(c, "/");
                if (len == 0 || len >= sizeof comp)
                        continue;
                memcpy(comp, c, len);
                comp[len] = '\0';
                t = c_openat2((int) rootfd, comp, O_PATH | O_NOFOLLOW, RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS);
                if (t == -ENOENT)
                        need = true;
                else if (t >= 0)
                        (void) c_close((int) t);
        }
        if (!need)
                return rootfd;

        mfd = c_newfs("tmpfs", kv, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
        TRY(p, SB_STEP_BIND, mfd);
        mirror_dir(p, (int) rootfd, (int) mfd);
        for (size_t i = 0; i < p->n_bind_parents; i++) {
                const char *c = p->bind_parents[i];
                size_t len;
                long r;

                while (*c == '/')
                        c++;
                len = strcspn(c, "/");
                if (len == 0)
                        continue;
                if (len >= sizeof comp)
                        child_fail(p, SB_STEP_BIND, -ENAMETOOLONG);
                memcpy(comp, c, len);
                comp[len] = '\0';
                r = S3(SYS_mkdirat, mfd, comp, 0755);
                if (r != -EEXIST)
                        TRY(p, SB_STEP_BIND, r);
        }
        TRY(p, SB_STEP_BIND, c_move_to_fd((int) mfd, (int) rootfd));
        TRY(p, SB_STEP_BIND, c_setattr((int) mfd, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV |
                                                          MOUNT_ATTR_NOEXEC, 0));
        return mfd;
}

/* The fd (O_PATH) of dst inside the root, made when missing: the missing
 * directories on the way, and the last component as a directory or an
 * empty file. Symlinks in the image are followed, but only inside the root
 * (RESOLVE_IN_ROOT, each prefix resolved from the root again). */
static long c_mount_point(const struct sb_plan *p, int rootfd, const char *dst, bool is_dir)
{
        char prefix[4096];
        size_t n = 0;
        long cur, next;

        cur = c_openat2(rootfd, "/", O_PATH | O_DIRECTORY, RESOLVE_IN_ROOT);
        TRY(p, SB_STEP_MOUNT, cur);
        for (const char *c = dst; *c;) {
                size_t len;
                bool last;
                while (*c == '/')
                        c++;
                len = strcspn(c, "/");
                if (len == 0)
                        break;
                last = c[len] == '\0' || c[len + strspn(c + len, "/")] == '\0';
                if (n + 1 + len + 1 > sizeof prefix || len > 255)
                        child_fail(p, SB_STEP_MOUNT, -ENAMETOOLONG);
                prefix[n++] = '/';
                memcpy(prefix + n, c, len);
                n += len;
                prefix[n] = '\0';
                next = c_openat2(rootfd, prefix, O_PATH | (last && !is_dir ? 0 : O_DIRECTORY),
                                 RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
                if (next == -ENOENT) {
                        char comp[256];
                        memcpy(comp, c, len);
                        comp[len] = '\0';
                        if (last && !is_dir) {
                                long fd = S4(SYS_openat, cur, comp, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW,
                                             0644);
                                TRY(p, SB_STEP_MOUNT, fd);
                                (void) c_close((int) fd);
                        } else
                                TRY(p, SB_STEP_MOUNT, S3(SYS_mkdirat, cur, comp, 0755));
                        next = c_openat2(rootfd, prefix, O_PATH | (last && !is_dir ? 0 : O_DIRECTORY),
                                         RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
                }
                TRY(p, SB_STEP_MOUNT, next);
                (void) c_close((int) cur);
                cur = next;
                c += len;
        }
        return cur;
}

/* The spec's mounts (sandbox_spec.mounts), in order, then the root
 * read-only if asked. Binds are trees the parent opened and set up. */
static void setup_mounts(const struct sb_plan *p, int rootfd)
{
        for (size_t i = 0; i < p->n_mounts; i++) {
                const struct sb_mount_plan *m = &p->mounts[i];
                long t = c_mount_point(p, rootfd, m->dst, m->is_dir), fd;

                if (m->type == SANDBOX_MOUNT_BIND) {
                        TRY(p, SB_STEP_MOUNT, c_move_to_fd(m->mnt_fd, (int) t));
                } else {
                        const char *kv[] = { "size", m->size, "nr_inodes", m->inodes, "mode", m->mode, NULL };
                        fd = c_newfs("tmpfs", kv, m->attrs);
                        TRY(p, SB_STEP_MOUNT, fd);
                        TRY(p, SB_STEP_MOUNT, c_move_to_fd((int) fd, (int) t));
                        (void) c_close((int) fd);
                }
                (void) c_close((int) t);
        }
        if (p->rootfs_readonly)
                TRY(p, SB_STEP_ROOTFS_READONLY, c_setattr(rootfd, MOUNT_ATTR_RDONLY, 0));
}

static void setup_loopback(const struct sb_plan *p)
{
        struct ifreq ifr;
        long s = S3(SYS_socket, AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

        TRY(p, SB_STEP_LOOPBACK, s);
        memset(&ifr, 0, sizeof ifr);
        memcpy(ifr.ifr_name, "lo", 3);
        TRY(p, SB_STEP_LOOPBACK, S3(SYS_ioctl, s, SIOCGIFFLAGS, &ifr));
        ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
        TRY(p, SB_STEP_LOOPBACK, S3(SYS_ioctl, s, SIOCSIFFLAGS, &ifr));
        (void) c_close((int) s);
}

/* Kernel's struct sigaction for rt_sigaction (x86_64 needs SA_RESTORER only
 * for handlers; SIG_DFL needs none). */
struct k_sigaction {
        void *handler;
        unsigned long flags;
        void *restorer;
        uint64_t mask;
};

static void reset_signals(const struct sb_plan *p)
{
        struct k_sigaction sa = { .handler = SIG_DFL };
        for (int sig = 1; sig < 65; sig++) {
                if (sig == SIGKILL || sig == SIGSTOP)
                        continue;
                long r = S4(SYS_rt_sigaction, sig, &sa, NULL, 8);
                if (r < 0 && r != -EINVAL)
                        child_fail(p, SB_STEP_SIGNALS, r);
        }
}

static long c_capset(uint64_t eff, uint64_t perm, uint64_t inh)
{
        struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
        struct __user_cap_data_struct data[2] = {
                { .effective = (uint32_t) eff, .permitted = (uint32_t) perm, .inheritable = (uint32_t) inh },
                { .effective = (uint32_t) (eff >> 32), .permitted = (uint32_t) (perm >> 32),
                  .inheritable = (uint32_t) (inh >> 32) },
        };
        return S2(SYS_capset, &hdr, data);
}

/*
 * Ids, capabilities, no_new_privs (shared with the exec child, join_main).
 *
 * Without capabilities (the default, c->caps == 0): every set empty, the
 * bounding set dropped, and securebits locked so that nothing can bring a
 * capability back (root inside gets none on exec, setuid touches none).
 *
 * With capabilities (an OCI spec's, SANDBOX_CAPS_ALLOWED at most), the
 * command ends up as runc leaves an OCI process: the bounding set is
 * c->caps; a command running as uid 0 holds c->caps (the kernel gives
 * root the bounding set on exec, capped by the permitted set under
 * no_new_privs), any other uid c->caps_ambient through the ambient set,
 * which also carries them across the init's exec and the function's.
 * Securebits are left to the usual rules (a later setuid() to a non-root
 * uid drops them, as apt and su expect); KEEP_CAPS keeps our own setuid
 * from dropping them before the capset, and exec clears it.
 */
static void drop_privileges_on(int fd, const struct sb_creds *c)
{
        uint64_t bits;
        long r;

        for (int cap = 0; cap <= c->last_cap; cap++) {
                if (c->caps & (1ULL << cap))
                        continue;
                r = S5(SYS_prctl, PR_CAPBSET_DROP, cap, 0, 0, 0);
                if (r < 0 && r != -EINVAL)
                        child_fail_on(fd, SB_STEP_CAP_BOUNDING, r);
        }
        r = S5(SYS_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
        if (r < 0)
                child_fail_on(fd, SB_STEP_CAP_AMBIENT, r);
        /* Root inside gets no implicit capabilities on exec, setuid does not
         * touch capabilities (we clear them ourselves below), and nothing can
         * turn these off again. */
        bits = c->caps ? SECBIT_KEEP_CAPS
                       : SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP | SECBIT_NO_SETUID_FIXUP_LOCKED |
                                 SECBIT_KEEP_CAPS_LOCKED | SECBIT_NO_CAP_AMBIENT_RAISE |
                                 SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED;
        r = S5(SYS_prctl, PR_SET_SECUREBITS, bits, 0, 0, 0);
        if (r < 0)
                child_fail_on(fd, SB_STEP_SECUREBITS, r);
        r = S2(SYS_setgroups, c->n_groups, c->groups);
        if (r < 0)
                child_fail_on(fd, SB_STEP_SETGROUPS, r);
        r = S3(SYS_setresgid, c->gid, c->gid, c->gid);
        if (r >= 0)
                r = S3(SYS_setresuid, c->uid, c->uid, c->uid);
        if (r < 0)
                child_fail_on(fd, SB_STEP_SETUID, r);
        r = c_capset(c->caps, c->caps, c->caps_ambient);
        if (r < 0)
                child_fail_on(fd, SB_STEP_CAPSET, r);
        for (int cap = 0; cap <= c->last_cap; cap++) {
                if (!(c->caps_ambient & (1ULL << cap)))
                        continue;
                r = S5(SYS_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0);
                if (r < 0)
                        child_fail_on(fd, SB_STEP_CAP_AMBIENT, r);
        }
        r = S5(SYS_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
        if (r < 0)
                child_fail_on(fd, SB_STEP_NO_NEW_PRIVS, r);
        /* Changing ids cleared the parent-death signal; set it again so a
         * dying `sfaasd run` takes its sandbox with it. A detached sandbox
         * (OCI create) outlives its launcher on purpose. */
        if (!c->detached) {
                r = S5(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
                if (r < 0)
                        child_fail_on(fd, SB_STEP_NO_NEW_PRIVS, r);
        }
        if (c->set_umask)
                (void) S1(SYS_umask, c->umask & 0777);
}

static void drop_privileges(const struct sb_plan *p)
{
        drop_privileges_on(p->err_fd, &p->creds);
}

/* Returns the rootfs tree the parent sent with the byte (late_root), else -1. */
static long wait_parent(const struct sb_plan *p)
{
        char c;
        long r;

        if (!p->late_root) {
                do
                        r = S3(SYS_read, p->sync_fd, &c, 1);
                while (r == -EINTR);
                if (r != 1)
                        child_exit(125);
                return -1;
        }
        {
                union {
                        struct cmsghdr h;
                        char buf[CMSG_SPACE(sizeof(int))];
                } u;
                struct iovec iov = { .iov_base = &c, .iov_len = 1 };
                struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
                                    .msg_controllen = sizeof u.buf };
                struct cmsghdr *h;
                int fd;

                memset(u.buf, 0, sizeof u.buf);
                do
                        r = S3(SYS_recvmsg, p->sync_fd, &m, MSG_CMSG_CLOEXEC);
                while (r == -EINTR);
                h = CMSG_FIRSTHDR(&m);
                if (r != 1 || (m.msg_flags & MSG_CTRUNC) || !h || h->cmsg_level != SOL_SOCKET ||
                    h->cmsg_type != SCM_RIGHTS || h->cmsg_len != CMSG_LEN(sizeof(int)))
                        child_exit(125);
                memcpy(&fd, CMSG_DATA(h), sizeof fd);
                return fd;
        }
}

/* The fds the init needs, lifted above 4 (any of them may sit at 3 or 4,
 * which place_init_fds overwrites). Done before RLIMIT_NOFILE is lowered:
 * our fd table is a copy of the daemon's, whose lowest free number above 4
 * may be past the sandbox's limit. */
struct init_fds {
        long report, status, image, gate;
};

static void lift_init_fds(const struct sb_plan *p, struct init_fds *f)
{
        f->report = S3(SYS_fcntl, p->err_fd, F_DUPFD_CLOEXEC, SB_INIT_GATE_FD + 1);
        TRY(p, SB_STEP_INIT_FDS, f->report);
        f->status = S3(SYS_fcntl, p->status_fd, F_DUPFD_CLOEXEC, SB_INIT_GATE_FD + 1);
        TRY(p, SB_STEP_INIT_FDS, f->status);
        f->image = S3(SYS_fcntl, p->init_fd, F_DUPFD_CLOEXEC, SB_INIT_GATE_FD + 1);
        TRY(p, SB_STEP_INIT_FDS, f->image);
        f->gate = -1;
        if (p->gated) {
                f->gate = S3(SYS_fcntl, p->gate_fd, F_DUPFD_CLOEXEC, SB_INIT_GATE_FD + 1);
                TRY(p, SB_STEP_INIT_FDS, f->gate);
        }
}

/* The start-report and exit-status pipes at the fixed fds the init expects
 * (protocol.h), inheritable; every other fd is close-on-exec already. From
 * here a failure is reported on SB_INIT_REPORT_FD (p->err_fd may be 4 by
 * now). The memfd stays where it was lifted: exec needs no free slot. */
static void place_init_fds(const struct sb_plan *p, const struct init_fds *f)
{
        long r;

        TRY(p, SB_STEP_INIT_FDS, S3(SYS_dup3, f->report, SB_INIT_REPORT_FD, 0));
        r = S3(SYS_dup3, f->status, SB_INIT_STATUS_FD, 0);
        if (r >= 0 && f->gate >= 0)
                r = S3(SYS_dup3, f->gate, SB_INIT_GATE_FD, 0);
        if (r < 0)
                child_fail_on(SB_INIT_REPORT_FD, SB_STEP_INIT_FDS, r);
        (void) c_close((int) f->report);
        (void) c_close((int) f->status);
        if (f->gate >= 0)
                (void) c_close((int) f->gate);
}

#define TRY_AT(step, expr)                                                \
        do {                                                              \
                long _r = (expr);                                         \
                if (_r < 0)                                               \
                        child_fail_on(SB_INIT_REPORT_FD, (step), _r);     \
        } while (0)

static int sb_child_main(void *arg)
{
        const struct sb_plan *p = arg;
        long rootfd, r, wfd, nullfd, late_fd;
        struct init_fds ifds;

        /* Non-dumpable while setting up (the mm is the daemon's). */
        (void) S5(SYS_prctl, PR_SET_DUMPABLE, 0, 0, 0, 0);
        /* The daemon's umask is its own (the service runs with UMask=0077):
         * the folders this child makes for mount points must be 0755 to the
         * function, whose uid does not own them, and the function starts with
         * the OCI runtime spec's default, 0022. */
        (void) S1(SYS_umask, 022);
        (void) S5(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
        /* Our copy of the launcher's end of the sync socket goes, so that a
         * launcher killed before the prctl above took effect (the child may
         * not have run yet when the kill came) is EOF below, not a child
         * blocked for ever holding a copy of every daemon fd (its data
         * folder lock among them). */
        (void) c_close(p->sync_peer_fd);
        reset_signals(p);

        /* Wait until the parent wrote our uid/gid maps. EOF means the parent
         * gave up: leave quietly. */
        late_fd = wait_parent(p);
        (void) c_close(p->sync_fd);

        /* v1: join our leaf in each hierarchy (see sb_cgroup_create), then
         * root a new cgroup namespace there. v2 did both in clone3. */
        for (int c = 0; c < SB_CTRL_MAX_; c++)
                if (p->cg_tasks_fd[c] >= 0)
                        TRY(p, SB_STEP_CGROUP_JOIN, S3(SYS_write, p->cg_tasks_fd[c], "0", 1));
        if (p->unshare_cgroupns)
                TRY(p, SB_STEP_CGROUPNS, S1(SYS_unshare, CLONE_NEWCGROUP));

        /* Attach the rootfs while our fsuid is still host root: the path to it
         * runs through the daemon's data folder (mode 0700, owned by host
         * root), which the tenant's uid could not traverse. Owner DAC checks
         * compare kernel uids, so host root passes here without any
         * capability over the host. */
        TRY(p, SB_STEP_PROPAGATION, S5(SYS_mount, NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL));
        rootfd = p->late_root ? late_fd : p->root_mnt_fd;
        TRY(p, SB_STEP_ROOTFS_ATTACH, S5(SYS_move_mount, rootfd, "", AT_FDCWD, p->rootfs, MOVE_MOUNT_F_EMPTY_PATH));

        /* Become root of the new namespace: until now our kernel uid is host
         * root, unmapped here, and files we create (in /dev, /tmp) would have
         * no representable owner (EOVERFLOW). */
        TRY(p, SB_STEP_SETUID, S3(SYS_setresgid, 0, 0, 0));
        TRY(p, SB_STEP_SETUID, S3(SYS_setresuid, 0, 0, 0));

        /* A writable root (an OCI bundle's, an overlay with its upper in
         * memory) may lack the mount points the launcher needs. Made before
         * the mirror below, which copies the root's top level. */
        if (p->root_writable)
                for (size_t i = 0; i < 3; i++) {
                        static const char *const dirs[] = { "proc", "dev", "tmp" };
                        r = S3(SYS_mkdirat, rootfd, dirs[i], 0755);
                        if (r < 0 && r != -EEXIST && r != -EROFS)
                                child_fail(p, SB_STEP_MOUNT, r);
                }
        rootfd = setup_root_mirror(p, rootfd);
        setup_proc(p, (int) rootfd);
        setup_dev(p, (int) rootfd);
        {
                const char *tmp_kv[] = { "size", p->tmp_size, "nr_inodes", p->tmp_inodes, "mode", "1777", NULL };
                r = c_mount_new((int) rootfd, "tmp", "tmpfs", tmp_kv, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
                TRY(p, SB_STEP_TMP, r);
                (void) c_close((int) r);
        }
        setup_binds(p, (int) rootfd);
        setup_mounts(p, (int) rootfd);

        TRY(p, SB_STEP_HOSTNAME, S2(SYS_sethostname, p->hostname, p->hostname_len));
        if (!p->pooled_netns)
                setup_loopback(p);

        /* pivot_root(".", ".") stacks the old root under the new one; detach it. */
        TRY(p, SB_STEP_PIVOT_ROOT, S1(SYS_fchdir, rootfd));
        TRY(p, SB_STEP_PIVOT_ROOT, S2(SYS_pivot_root, ".", "."));
        TRY(p, SB_STEP_PIVOT_ROOT, S2(SYS_umount2, ".", MNT_DETACH));
        TRY(p, SB_STEP_PIVOT_ROOT, S1(SYS_chdir, "/"));

        wfd = c_openat2(AT_FDCWD, p->workdir, O_PATH | O_DIRECTORY, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
        TRY(p, SB_STEP_WORKDIR, wfd);

        TRY(p, SB_STEP_SETSID, S0(SYS_setsid));

        /* stdio: lift every source above 2 first, so 0..2 can be overwritten
         * in any order; the copies are CLOEXEC. */
        nullfd = S3(SYS_openat, AT_FDCWD, "/dev/null", O_RDWR | O_CLOEXEC | O_NOCTTY);
        TRY(p, SB_STEP_STDIO, nullfd);
        {
                long tmp[3];
                for (int i = 0; i < 3; i++) {
                        tmp[i] = S3(SYS_fcntl, p->stdio[i] >= 0 ? p->stdio[i] : nullfd, F_DUPFD_CLOEXEC, 3);
                        TRY(p, SB_STEP_STDIO, tmp[i]);
                }
                for (int i = 0; i < 3; i++)
                        TRY(p, SB_STEP_STDIO, S3(SYS_dup3, tmp[i], i, 0));
        }
        lift_init_fds(p, &ifds);

        for (size_t i = 0; i < p->n_rlimits; i++) {
                struct rlimit rl = { .rlim_cur = p->rlimits[i].cur, .rlim_max = p->rlimits[i].max };
                TRY(p, SB_STEP_RLIMITS, S4(SYS_prlimit64, 0, p->rlimits[i].resource, &rl, NULL));
        }

        drop_privileges(p);
        TRY(p, SB_STEP_CHDIR, S1(SYS_fchdir, wfd));

        /* Only stdio and the init's two pipes survive exec (CVE-2024-21626
         * class); the init closes them from the function (protocol.h). */
        TRY(p, SB_STEP_CLOSE_FDS, S3(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC));
        place_init_fds(p, &ifds);
        {
                uint64_t empty = 0;
                TRY_AT(SB_STEP_SIGMASK, S4(SYS_rt_sigprocmask, SIG_SETMASK, &empty, NULL, 8));
        }

        /* Last step before execve: from here only allowlisted syscalls. */
        TRY_AT(SB_STEP_SECCOMP, S3(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, p->seccomp));
        if (p->extra_seccomp)
                TRY_AT(SB_STEP_SECCOMP, S3(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, p->extra_seccomp));

        /* The init becomes pid 1 and execs the function (sandbox/init/). Never
         * the daemon's binary (CVE-2019-5736 class): a sealed memfd. */
        r = S5(SYS_execveat, ifds.image, "", p->init_argv, p->envp, AT_EMPTY_PATH);
        child_fail_on(SB_INIT_REPORT_FD, SB_STEP_INIT_EXEC, r);
}

long sb_clone3_vm(void *clone_args, size_t size, void *stack, size_t stack_size, struct sb_plan *plan)
{
        struct clone_args *a = clone_args;
        a->stack = (uint64_t) (uintptr_t) stack;
        a->stack_size = stack_size;
        return sb_raw_clone3(a, size, sb_child_main, plan);
}

/*
 * The exec child (sandbox_join): a fork of `sfaasd oci exec`, already in
 * the sandbox's pid namespace (the parent set it for its children). It
 * shares no memory with anyone, but keeps the spawn child's rules so the
 * policy steps are the same code (drop_privileges_on) and the same order:
 * cgroup, namespaces, session and stdio, rlimits, ids and capabilities,
 * no_new_privs, working directory, fds, seccomp last, execve.
 *
 * It is made non-dumpable first: between setns() and execve() it runs the
 * sfaasd binary inside the sandbox's namespaces, and a process there of
 * the same uid could otherwise ptrace it or open its /proc/PID/exe and fds
 * (CVE-2016-9962). Dumpability is recomputed by the exec.
 */
void sb_join_child(const struct sb_join_plan *p)
{
        const int fd = p->err_fd;
        long r, nullfd;
        uint64_t empty = 0;

        (void) S5(SYS_prctl, PR_SET_DUMPABLE, 0, 0, 0, 0);
        if (!p->creds.detached)
                (void) S5(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
        {
                struct k_sigaction sa = { .handler = SIG_DFL };
                for (int sig = 1; sig < 65; sig++)
                        if (sig != SIGKILL && sig != SIGSTOP)
                                (void) S4(SYS_rt_sigaction, sig, &sa, NULL, 8);
        }
        for (int c = 0; c < SB_CTRL_MAX_; c++) {
                if (p->cg_fd[c] < 0)
                        continue;
                r = S3(SYS_write, p->cg_fd[c], "0", 1);
                if (r < 0)
                        child_fail_on(fd, SB_STEP_CGROUP_JOIN, r);
                (void) c_close(p->cg_fd[c]);
        }
        r = S2(SYS_setns, p->pidfd,
               CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWCGROUP);
        if (r < 0)
                child_fail_on(fd, SB_STEP_SYNC, r);
        (void) c_close(p->pidfd);

        r = S0(SYS_setsid);
        if (r < 0)
                child_fail_on(fd, SB_STEP_SETSID, r);
        nullfd = S3(SYS_openat, AT_FDCWD, "/dev/null", O_RDWR | O_CLOEXEC | O_NOCTTY);
        if (nullfd < 0)
                child_fail_on(fd, SB_STEP_STDIO, nullfd);
        {
                long tmp[3];
                for (int i = 0; i < 3; i++) {
                        tmp[i] = S3(SYS_fcntl, p->stdio[i] >= 0 ? p->stdio[i] : nullfd, F_DUPFD_CLOEXEC, 3);
                        if (tmp[i] < 0)
                                child_fail_on(fd, SB_STEP_STDIO, tmp[i]);
                }
                for (int i = 0; i < 3; i++) {
                        r = S3(SYS_dup3, tmp[i], i, 0);
                        if (r < 0)
                                child_fail_on(fd, SB_STEP_STDIO, r);
                }
        }
        if (p->terminal) {
                r = S3(SYS_ioctl, 0, TIOCSCTTY, 0);
                if (r < 0)
                        child_fail_on(fd, SB_STEP_STDIO, r);
        }
        for (size_t i = 0; i < p->n_rlimits; i++) {
                struct rlimit rl = { .rlim_cur = p->rlimits[i].cur, .rlim_max = p->rlimits[i].max };
                r = S4(SYS_prlimit64, 0, p->rlimits[i].resource, &rl, NULL);
                if (r < 0)
                        child_fail_on(fd, SB_STEP_RLIMITS, r);
        }
        drop_privileges_on(fd, &p->creds);
        r = S1(SYS_chdir, p->cwd);
        if (r < 0)
                child_fail_on(fd, SB_STEP_CHDIR, r);
        r = S3(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC);
        if (r < 0)
                child_fail_on(fd, SB_STEP_CLOSE_FDS, r);
        r = S4(SYS_rt_sigprocmask, SIG_SETMASK, &empty, NULL, 8);
        if (r < 0)
                child_fail_on(fd, SB_STEP_SIGMASK, r);
        r = S3(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, p->seccomp);
        if (r >= 0 && p->extra_seccomp)
                r = S3(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, p->extra_seccomp);
        if (r < 0)
                child_fail_on(fd, SB_STEP_SECCOMP, r);
        /* The same candidate order and errno choice as the init's. */
        {
                long first_eacces = 0;
                r = -ENOENT;
                for (const char *const *c = p->exec_paths; *c; c++) {
                        r = S3(SYS_execve, *c, p->argv, p->envp);
                        if (r == -EACCES && !first_eacces)
                                first_eacces = r;
                        else if (r != -ENOENT && r != -ENOTDIR && r != -EACCES)
                                break;
                }
                if (first_eacces && (r == -ENOENT || r == -ENOTDIR))
                        r = first_eacces;
                child_fail_on(fd, SB_STEP_EXEC, r);
        }
}
