/* SPDX-License-Identifier: MIT */
/*
 * probe: one hostile action per run, executed INSIDE an sfaasd sandbox.
 *
 *   probe CASE [ARG...]
 *
 * Prints exactly one line
 *
 *   RESULT <case> <contained|ESCAPED|error> <errno-name-or-detail>
 *
 * and exits 0 when the kernel answered as a contained sandbox must
 * (EPERM, ENOSYS, EROFS, killed by SIGSYS, capped by a limit, ...), 1 when
 * the attack worked, 2 when the probe itself could not run the case.
 * Every call the seccomp policy must stop goes through raw syscall(), so no
 * libc fallback (clone3 -> clone, openat2 -> openat, ...) hides the answer.
 *
 * With PROBE_HOLD=1 in the environment the probe, after printing its
 * result, reads stdin until EOF before exiting, so the host-side test can
 * read the sandbox's cgroup counters while the sandbox still exists.
 *
 * Build: gcc -static -O2 -o probe probe.c  (glibc static; no libseccomp).
 * This is test code: it is written to be obvious, not to be reused.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/bpf.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/io_uring.h>
#include <linux/kexec.h>
#include <linux/keyctl.h>
#include <linux/mount.h>
#include <linux/netlink.h>
#include <linux/perf_event.h>
#include <linux/reboot.h>
#include <linux/sched.h>
#include <linux/securebits.h>
#include <linux/seccomp.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <linux/rtnetlink.h>
#include <linux/if_link.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#ifndef AF_VSOCK
#define AF_VSOCK 40
#endif
#ifndef AF_ALG
#define AF_ALG 38
#endif
#ifndef __X32_SYSCALL_BIT
#define __X32_SYSCALL_BIT 0x40000000
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_clone3
#define SYS_clone3 435
#endif
#ifndef SYSFS_MAGIC
#define SYSFS_MAGIC 0x62656572
#endif

static const char *g_case = "?";
static int g_argc;
static char **g_argv;

/* ---------- reporting ---------- */

static const char *ename(int e)
{
        const char *n = strerrorname_np(e);
        return n ? n : "E?";
}

/* Print the one RESULT line. ok: 0 contained, 1 escaped, 2 error. */
__attribute__((format(printf, 2, 3))) static int result(int ok, const char *fmt, ...)
{
        char detail[1024];
        va_list ap;
        va_start(ap, fmt);
        (void) vsnprintf(detail, sizeof detail, fmt, ap);
        va_end(ap);
        for (char *p = detail; *p; p++)
                if (*p == '\n' || *p == '\r')
                        *p = ' ';
        printf("RESULT %s %s %s\n", g_case, ok == 0 ? "contained" : ok == 1 ? "ESCAPED" : "error", detail);
        fflush(stdout);
        return ok;
}

/* A call that must fail. r is the raw return (-1 + errno on failure). */
static int must_fail(long r, const char *what)
{
        if (r < 0)
                return result(0, "%s", ename(errno));
        return result(1, "%s succeeded (returned %ld)", what, r);
}

static const char *arg(int i)
{
        if (i >= g_argc) {
                result(2, "missing argument %d", i);
                exit(2);
        }
        return g_argv[i];
}

static long arg_long(int i)
{
        char *end;
        long v = strtol(arg(i), &end, 0);
        if (*end) {
                result(2, "bad number '%s'", g_argv[i]);
                exit(2);
        }
        return v;
}

/* Read a whole small file; returns bytes read or -errno. */
static ssize_t read_file(const char *path, char *buf, size_t size)
{
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        size_t off = 0;
        if (fd < 0)
                return -errno;
        while (off + 1 < size) {
                ssize_t n = read(fd, buf + off, size - 1 - off);
                if (n < 0) {
                        int e = errno;
                        close(fd);
                        return -e;
                }
                if (n == 0)
                        break;
                off += (size_t) n;
        }
        buf[off] = '\0';
        close(fd);
        return (ssize_t) off;
}

/* Value of "Key:" in /proc/self/status as a string (trimmed). */
static bool status_field(const char *key, char *out, size_t size)
{
        static char buf[8192];
        size_t klen = strlen(key);
        if (read_file("/proc/self/status", buf, sizeof buf) < 0)
                return false;
        for (char *l = buf; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
                if (strncmp(l, key, klen) == 0 && l[klen] == ':') {
                        char *v = l + klen + 1;
                        while (*v == ' ' || *v == '\t')
                                v++;
                        size_t n = strcspn(v, "\n");
                        if (n >= size)
                                n = size - 1;
                        memcpy(out, v, n);
                        out[n] = '\0';
                        return true;
                }
        }
        return false;
}

/* Fork a child that blocks until the returned pipe fd is closed. */
static pid_t sleeper(int *ret_wfd)
{
        int p[2];
        pid_t pid;
        if (pipe2(p, O_CLOEXEC) < 0)
                return -1;
        pid = fork();
        if (pid == 0) {
                char c;
                close(p[1]);
                while (read(p[0], &c, 1) < 0 && errno == EINTR)
                        ;
                _exit(0);
        }
        close(p[0]);
        *ret_wfd = p[1];
        return pid;
}

static void reap(pid_t pid, int wfd)
{
        if (wfd >= 0)
                close(wfd);
        if (pid > 0) {
                kill(pid, SIGKILL);
                while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
                        ;
        }
}

/* Run fn in a forked child; describe how it ended. */
static int child_status(void (*fn)(void), int *ret_status)
{
        pid_t pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0) {
                fn();
                _exit(0);
        }
        while (waitpid(pid, ret_status, 0) < 0)
                if (errno != EINTR)
                        return -errno;
        return 0;
}

/* Make the calling process the memory cgroup's first OOM victim (raising
 * oom_score_adj needs no privilege), so the reporting parent survives. */
static void oom_first(void)
{
        int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
        if (fd >= 0) {
                (void) write(fd, "1000", 4);
                close(fd);
        }
}

/* ================= privileged syscalls ================= */

static int c_mount(void)
{
        return must_fail(syscall(SYS_mount, "none", "/tmp", "tmpfs", 0L, NULL), "mount tmpfs on /tmp");
}

static int c_mount_proc(void)
{
        /* A second procfs would come without the masks. */
        return must_fail(syscall(SYS_mount, "proc", "/tmp", "proc", 0L, NULL), "mount proc on /tmp");
}

static int c_umount_proc(void)
{
        return must_fail(syscall(SYS_umount2, "/proc", MNT_DETACH), "umount2 /proc");
}

static int c_umount_mask(void)
{
        /* Lifting a mask would expose the real /proc/kcore. */
        return must_fail(syscall(SYS_umount2, "/proc/kcore", MNT_DETACH), "umount2 /proc/kcore");
}

static int c_remount_root_rw(void)
{
        return must_fail(syscall(SYS_mount, NULL, "/", NULL, (long) (MS_REMOUNT | MS_BIND), NULL),
                         "remount / read-write");
}

static int c_remount_procsys_rw(void)
{
        return must_fail(syscall(SYS_mount, NULL, "/proc/sys", NULL, (long) (MS_REMOUNT | MS_BIND), NULL),
                         "remount /proc/sys read-write");
}

static int c_pivot_root(void)
{
        return must_fail(syscall(SYS_pivot_root, "/tmp", "/tmp"), "pivot_root");
}

static int c_chroot(void)
{
        return must_fail(syscall(SYS_chroot, "/tmp"), "chroot");
}

static int c_ptrace_traceme(void)
{
        return must_fail(syscall(SYS_ptrace, PTRACE_TRACEME, 0L, NULL, NULL), "PTRACE_TRACEME");
}

static int c_ptrace_attach(void)
{
        /* pid 1 of the sandbox is its init (same uid); attach to a same-uid
         * child too, which the kernel alone would allow. */
        int wfd = -1;
        long r1 = syscall(SYS_ptrace, PTRACE_ATTACH, 1L, NULL, NULL);
        int e1 = errno;
        if (r1 == 0) /* never leave pid 1 stopped, should this ever work */
                (void) syscall(SYS_ptrace, PTRACE_DETACH, 1L, NULL, NULL);
        pid_t pid = sleeper(&wfd);
        long r2 = syscall(SYS_ptrace, PTRACE_ATTACH, (long) pid, NULL, NULL);
        int e2 = errno;
        reap(pid, wfd);
        if (r1 == 0 || r2 == 0)
                return result(1, "PTRACE_ATTACH pid1=%s child=%s", r1 == 0 ? "ok" : ename(e1), r2 == 0 ? "ok" : ename(e2));
        if (e1 != e2)
                return result(0, "pid1:%s,child:%s", ename(e1), ename(e2));
        return result(0, "%s", ename(e2));
}

static int c_process_vm_readv(void)
{
        int wfd = -1;
        char buf[16], local[16] = "x";
        struct iovec l = { buf, sizeof buf }, rmt = { local, sizeof local };
        pid_t pid = sleeper(&wfd);
        long r = syscall(SYS_process_vm_readv, (long) pid, &l, 1L, &rmt, 1L, 0L);
        int e = errno;
        reap(pid, wfd);
        errno = e;
        return must_fail(r, "process_vm_readv of a child");
}

static int c_pidfd_getfd(void)
{
        int wfd = -1;
        pid_t pid = sleeper(&wfd);
        long pfd = syscall(SYS_pidfd_open, (long) pid, 0L);
        long r;
        int e;
        if (pfd < 0) {
                e = errno;
                reap(pid, wfd);
                return result(0, "pidfd_open:%s", ename(e));
        }
        r = syscall(SYS_pidfd_getfd, pfd, 0L, 0L);
        e = errno;
        close((int) pfd);
        reap(pid, wfd);
        errno = e;
        return must_fail(r, "pidfd_getfd of a child's fd 0");
}

static int c_bpf(void)
{
        union bpf_attr a;
        memset(&a, 0, sizeof a);
        a.map_type = BPF_MAP_TYPE_ARRAY;
        a.key_size = 4;
        a.value_size = 4;
        a.max_entries = 1;
        return must_fail(syscall(SYS_bpf, BPF_MAP_CREATE, &a, sizeof a), "bpf(BPF_MAP_CREATE)");
}

static int c_perf_event_open(void)
{
        struct perf_event_attr a;
        memset(&a, 0, sizeof a);
        a.type = PERF_TYPE_SOFTWARE;
        a.size = sizeof a;
        a.config = PERF_COUNT_SW_CPU_CLOCK;
        a.exclude_kernel = 1;
        a.exclude_hv = 1;
        return must_fail(syscall(SYS_perf_event_open, &a, 0L, -1L, -1L, 0L), "perf_event_open on self");
}

static int c_keyctl(void)
{
        return must_fail(syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, NULL), "keyctl(JOIN_SESSION_KEYRING)");
}

static int c_add_key(void)
{
        return must_fail(syscall(SYS_add_key, "user", "probe", "secret", 6L, (long) KEY_SPEC_PROCESS_KEYRING),
                         "add_key");
}

static int c_request_key(void)
{
        return must_fail(syscall(SYS_request_key, "user", "probe", NULL, 0L), "request_key");
}

static int c_io_uring_setup(void)
{
        struct io_uring_params p;
        memset(&p, 0, sizeof p);
        return must_fail(syscall(SYS_io_uring_setup, 8L, &p), "io_uring_setup");
}

static int c_userfaultfd(void)
{
        return must_fail(syscall(SYS_userfaultfd, (long) O_CLOEXEC), "userfaultfd");
}

static int c_init_module(void)
{
        static char img[64];
        return must_fail(syscall(SYS_init_module, img, sizeof img, ""), "init_module");
}

static int c_finit_module(void)
{
        int fd = open("/probe", O_RDONLY | O_CLOEXEC);
        long r = syscall(SYS_finit_module, (long) fd, "", 0L);
        int e = errno;
        if (fd >= 0)
                close(fd);
        errno = e;
        return must_fail(r, "finit_module");
}

static int c_delete_module(void)
{
        return must_fail(syscall(SYS_delete_module, "probe_nonexistent", (long) O_NONBLOCK), "delete_module");
}

static int c_kexec_load(void)
{
        return must_fail(syscall(SYS_kexec_load, 0L, 0L, NULL, (long) KEXEC_ARCH_DEFAULT), "kexec_load");
}

static int c_kexec_file_load(void)
{
        return must_fail(syscall(SYS_kexec_file_load, -1L, -1L, 1L, "", (long) KEXEC_FILE_NO_INITRAMFS),
                         "kexec_file_load");
}

static int c_unshare_user(void)
{
        return must_fail(syscall(SYS_unshare, (long) CLONE_NEWUSER), "unshare(CLONE_NEWUSER)");
}

static int c_unshare_ns(void)
{
        return must_fail(syscall(SYS_unshare, (long) CLONE_NEWNS), "unshare(CLONE_NEWNS)");
}

static int c_unshare_net(void)
{
        return must_fail(syscall(SYS_unshare, (long) CLONE_NEWNET), "unshare(CLONE_NEWNET)");
}

/* Raw clone(flags): a child that exits at once if the call worked. */
static long raw_clone(unsigned long flags)
{
        long r = syscall(SYS_clone, flags | SIGCHLD, NULL, NULL, NULL, 0L);
        if (r == 0)
                _exit(0);
        if (r > 0)
                waitpid((pid_t) r, NULL, 0);
        return r;
}

static int c_clone_newuser(void)
{
        return must_fail(raw_clone(CLONE_NEWUSER), "clone(CLONE_NEWUSER)");
}

static int c_clone_ns_flags(void)
{
        static const struct {
                unsigned long f;
                const char *n;
        } flags[] = {
                { CLONE_NEWNS, "NEWNS" },   { CLONE_NEWCGROUP, "NEWCGROUP" }, { CLONE_NEWUTS, "NEWUTS" },
                { CLONE_NEWIPC, "NEWIPC" }, { CLONE_NEWUSER, "NEWUSER" },     { CLONE_NEWPID, "NEWPID" },
                { CLONE_NEWNET, "NEWNET" }, { 0x80 /* CLONE_NEWTIME */, "NEWTIME" },
        };
        char detail[512] = "";
        size_t off = 0;
        int bad = 0;
        for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) {
                long r = raw_clone(flags[i].f);
                off += (size_t) snprintf(detail + off, sizeof detail - off, "%s%s:%s", i ? "," : "", flags[i].n,
                                         r >= 0 ? "OK" : ename(errno));
                if (r >= 0)
                        bad = 1;
        }
        return result(bad, "%s", detail);
}

static int c_clone_hibits(void)
{
        /* Namespace flag plus garbage in the upper half of the 64-bit argument. */
        return must_fail(raw_clone((1UL << 40) | CLONE_NEWUSER), "clone((1<<40)|CLONE_NEWUSER)");
}

static int c_clone3_newuser(void)
{
        struct clone_args a;
        long r;
        memset(&a, 0, sizeof a);
        a.flags = CLONE_NEWUSER;
        a.exit_signal = SIGCHLD;
        r = syscall(SYS_clone3, &a, sizeof a);
        if (r == 0)
                _exit(0);
        if (r > 0)
                waitpid((pid_t) r, NULL, 0);
        return must_fail(r, "clone3(CLONE_NEWUSER)");
}

static int c_setns(void)
{
        static const char *const ns[] = { "user", "mnt", "net", "pid", "uts", "ipc", "cgroup" };
        char detail[512] = "", path[64];
        size_t off = 0;
        int bad = 0;
        for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++) {
                int fd;
                long r;
                snprintf(path, sizeof path, "/proc/self/ns/%s", ns[i]);
                fd = open(path, O_RDONLY | O_CLOEXEC);
                if (fd < 0) {
                        off += (size_t) snprintf(detail + off, sizeof detail - off, "%s%s:open-%s", i ? "," : "",
                                                 ns[i], ename(errno));
                        continue;
                }
                r = syscall(SYS_setns, (long) fd, 0L);
                off += (size_t) snprintf(detail + off, sizeof detail - off, "%s%s:%s", i ? "," : "", ns[i],
                                         r == 0 ? "OK" : ename(errno));
                if (r == 0)
                        bad = 1;
                close(fd);
        }
        return result(bad, "%s", detail);
}

static int c_open_by_handle_at(void)
{
        /* "shocker": a guessed handle for inode 2 of the root filesystem. */
        struct {
                struct file_handle fh;
                unsigned char bytes[8];
        } h;
        int dfd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        long r;
        int e;
        memset(&h, 0, sizeof h);
        h.fh.handle_bytes = 8;
        h.fh.handle_type = 1;
        h.bytes[0] = 2;
        r = syscall(SYS_open_by_handle_at, (long) dfd, &h, (long) O_RDONLY);
        e = errno;
        if (r >= 0)
                close((int) r);
        close(dfd);
        errno = e;
        return must_fail(r, "open_by_handle_at");
}

static int c_name_to_handle_at(void)
{
        struct {
                struct file_handle fh;
                unsigned char bytes[128];
        } h;
        int mnt;
        memset(&h, 0, sizeof h);
        h.fh.handle_bytes = 128;
        return must_fail(syscall(SYS_name_to_handle_at, (long) AT_FDCWD, "/probe", &h, &mnt, 0L), "name_to_handle_at");
}

static int c_reboot(void)
{
        /* CAD_OFF: the least harmful command, should it ever pass. */
        return must_fail(syscall(SYS_reboot, (long) LINUX_REBOOT_MAGIC1, (long) LINUX_REBOOT_MAGIC2,
                                 (long) LINUX_REBOOT_CMD_CAD_OFF, NULL),
                         "reboot(CAD_OFF)");
}

static int c_swapon(void)
{
        return must_fail(syscall(SYS_swapon, "/tmp/swapfile", 0L), "swapon");
}

static int c_acct(void)
{
        return must_fail(syscall(SYS_acct, "/tmp/acct"), "acct");
}

static int c_sethostname(void)
{
        return must_fail(syscall(SYS_sethostname, "pwned", 5L), "sethostname");
}

static int c_setdomainname(void)
{
        return must_fail(syscall(SYS_setdomainname, "pwned", 5L), "setdomainname");
}

static int c_settimeofday(void)
{
        struct timeval tv;
        gettimeofday(&tv, NULL);
        return must_fail(syscall(SYS_settimeofday, &tv, NULL), "settimeofday(now)");
}

static int c_clock_settime(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return must_fail(syscall(SYS_clock_settime, (long) CLOCK_REALTIME, &ts), "clock_settime(now)");
}

static int c_adjtimex(void)
{
        struct timex {
                unsigned int modes;
                long pad[32];
        } t;
        memset(&t, 0, sizeof t);
        t.modes = 0x0001; /* ADJ_OFFSET, value 0 */
        return must_fail(syscall(SYS_adjtimex, &t), "adjtimex(ADJ_OFFSET)");
}

static int c_mknod_chardev(void)
{
        long r = syscall(SYS_mknodat, (long) AT_FDCWD, "/tmp/mem", (long) (S_IFCHR | 0666), (long) makedev(1, 1));
        if (r < 0)
                return result(0, "%s", ename(errno));
        /* Created: still must not open (nodev), but creating it is already a capability leak. */
        int fd = open("/tmp/mem", O_RDONLY | O_CLOEXEC);
        return result(1, "mknod /tmp/mem c 1 1 succeeded; open:%s", fd >= 0 ? "OK" : ename(errno));
}

static int c_fsopen(void)
{
        return must_fail(syscall(SYS_fsopen, "tmpfs", 0L), "fsopen(tmpfs)");
}

static int c_open_tree(void)
{
        return must_fail(syscall(SYS_open_tree, (long) AT_FDCWD, "/", (long) (OPEN_TREE_CLONE | AT_RECURSIVE)),
                         "open_tree(/, CLONE)");
}

static int c_move_mount(void)
{
        return must_fail(syscall(SYS_move_mount, (long) AT_FDCWD, "/proc", (long) AT_FDCWD, "/tmp", 0L),
                         "move_mount /proc -> /tmp");
}

static int c_mount_setattr(void)
{
        struct mount_attr a = { .attr_clr = MOUNT_ATTR_RDONLY };
        return must_fail(syscall(SYS_mount_setattr, (long) AT_FDCWD, "/", 0L, &a, sizeof a),
                         "mount_setattr(/, clear RDONLY)");
}

static int c_fspick(void)
{
        return must_fail(syscall(SYS_fspick, (long) AT_FDCWD, "/proc", 0L), "fspick(/proc)");
}

static int c_syslog(void)
{
        static char buf[4096];
        return must_fail(syscall(SYS_syslog, 3L /* READ_ALL */, buf, (long) sizeof buf), "syslog(READ_ALL)");
}

static int c_iopl(void)
{
        return must_fail(syscall(SYS_iopl, 3L), "iopl(3)");
}

static int c_ioperm(void)
{
        return must_fail(syscall(SYS_ioperm, 0x80L, 1L, 1L), "ioperm(0x80)");
}

static int c_quotactl(void)
{
        return must_fail(syscall(SYS_quotactl, 0x800007L /* Q_SYNC|USRQUOTA */, NULL, 0L, NULL), "quotactl");
}

static int c_unknown_syscall(void)
{
        /* Not on the allowlist and not known-dangerous: the policy answers
         * ENOSYS (sysfs(2), number 139 on x86_64). */
        long r = syscall(139L, 3L);
        if (r < 0)
                return result(0, "%s", ename(errno));
        return result(1, "sysfs(3) returned %ld", r);
}

/* ================= ABI and argument tricks ================= */

static void do_int80_getpid(void)
{
        long ret;
        /* i386 getpid is 20; via the 32-bit entry point the filter sees
         * AUDIT_ARCH_I386 and must kill the process. */
        __asm__ volatile("int $0x80" : "=a"(ret) : "a"(20L) : "memory");
        _exit(ret > 0 ? 3 : 4);
}

static void do_int80_mount(void)
{
        long ret;
        /* i386 mount is 21 (EPERM on x86_64's table would not matter: the arch check comes first). */
        __asm__ volatile("int $0x80" : "=a"(ret) : "a"(21L), "b"(0L), "c"(0L), "d"(0L) : "memory");
        _exit(ret == 0 ? 3 : 4);
}

static void do_x32_getpid(void)
{
        long r = syscall(__X32_SYSCALL_BIT | SYS_getpid);
        _exit(r > 0 ? 3 : (errno == ENOSYS ? 5 : 4));
}

static int report_killed(void (*fn)(void), const char *what)
{
        int st = 0, r = child_status(fn, &st);
        if (r < 0)
                return result(2, "fork: %s", ename(-r));
        if (WIFSIGNALED(st))
                return result(0, "killed-%s", sigabbrev_np(WTERMSIG(st)) ? sigabbrev_np(WTERMSIG(st)) : "?");
        if (WIFEXITED(st) && WEXITSTATUS(st) == 3)
                return result(1, "%s reached the kernel and succeeded", what);
        if (WIFEXITED(st) && WEXITSTATUS(st) == 5)
                return result(0, "ENOSYS (not killed)");
        return result(0, "not-killed-but-failed exit=%d", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
}

static int c_int80_getpid(void)
{
        return report_killed(do_int80_getpid, "int 0x80 getpid");
}

static int c_int80_mount(void)
{
        return report_killed(do_int80_mount, "int 0x80 mount");
}

static int c_x32_getpid(void)
{
        return report_killed(do_x32_getpid, "x32 getpid");
}

static int c_nr_hibits(void)
{
        /* rax with garbage in the upper half: filter and dispatcher must agree
         * on the (truncated) number, here mount. */
        long ret;
        register long r10 __asm__("r10") = 0;
        register long r8 __asm__("r8") = 0;
        __asm__ volatile("syscall"
                         : "=a"(ret)
                         : "a"((1L << 32) | SYS_mount), "D"("none"), "S"("/tmp"), "d"("tmpfs"), "r"(r10), "r"(r8)
                         : "rcx", "r11", "memory");
        if (ret < 0)
                return result(0, "%s", ename((int) -ret));
        return result(1, "mount via rax=(1<<32)|SYS_mount returned %ld", ret);
}

static int tiocsti(unsigned long req, const char *what)
{
        char c = '#';
        char detail[256] = "";
        size_t off = 0;
        int bad = 0;
        for (int fd = 0; fd < 3; fd++) {
                long r = syscall(SYS_ioctl, (long) fd, req, &c);
                off += (size_t) snprintf(detail + off, sizeof detail - off, "%sfd%d:%s", fd ? "," : "", fd,
                                         r == 0 ? "OK" : ename(errno));
                if (r == 0)
                        bad = 1;
        }
        (void) what;
        return result(bad, "%s", detail);
}

static int c_tiocsti(void)
{
        return tiocsti(TIOCSTI, "TIOCSTI");
}

static int c_tiocsti_hibits(void)
{
        return tiocsti(0xffffffff00000000UL | TIOCSTI, "TIOCSTI|hibits");
}

static int c_tioclinux(void)
{
        char sub = 6; /* TIOCL_GETSEL-ish: any subcode */
        long r = syscall(SYS_ioctl, 0L, (long) TIOCLINUX, &sub);
        if (r < 0)
                return result(0, "%s", ename(errno));
        return result(1, "TIOCLINUX returned %ld", r);
}

static int c_personality_rie(void)
{
        return must_fail(syscall(SYS_personality, (long) READ_IMPLIES_EXEC), "personality(READ_IMPLIES_EXEC)");
}

static int c_personality_norandom(void)
{
        return must_fail(syscall(SYS_personality, (long) ADDR_NO_RANDOMIZE), "personality(ADDR_NO_RANDOMIZE)");
}

static int c_personality_hibits(void)
{
        return must_fail(syscall(SYS_personality, (long) (0xffffffff00000000UL | READ_IMPLIES_EXEC)),
                         "personality(hibits|READ_IMPLIES_EXEC)");
}

static int sock_fail(long fam, long type, long proto, const char *what)
{
        long r = syscall(SYS_socket, fam, type, proto);
        if (r >= 0)
                close((int) r);
        return must_fail(r, what);
}

static int c_sock_netlink_audit(void)
{
        return sock_fail(AF_NETLINK, SOCK_RAW, NETLINK_AUDIT, "socket(AF_NETLINK, NETLINK_AUDIT)");
}

static int c_sock_netlink_hibits(void)
{
        /* NETLINK_ROUTE is allowed; the protocol compare must not be fooled by
         * NETLINK_AUDIT with garbage above it. */
        return sock_fail(AF_NETLINK, SOCK_RAW, (long) (0x100000000UL | NETLINK_AUDIT),
                         "socket(AF_NETLINK, hibits|NETLINK_AUDIT)");
}

static int c_sock_packet(void)
{
        return sock_fail(AF_PACKET, SOCK_RAW, 0, "socket(AF_PACKET)");
}

static int c_sock_packet_hibits(void)
{
        return sock_fail((long) (0xffffffff00000000UL | AF_PACKET), SOCK_RAW, 0, "socket(hibits|AF_PACKET)");
}

static int c_sock_vsock(void)
{
        return sock_fail(AF_VSOCK, SOCK_STREAM, 0, "socket(AF_VSOCK)");
}

static int c_sock_alg(void)
{
        return sock_fail(AF_ALG, SOCK_SEQPACKET, 0, "socket(AF_ALG)");
}

static int c_sock_raw(void)
{
        return sock_fail(AF_INET, SOCK_RAW, IPPROTO_RAW, "socket(AF_INET, SOCK_RAW)");
}

/* Kernel TLS (and any TCP upper-layer protocol) on an established socket
 * over the sandbox's own loopback, where the kernel would accept it (or
 * answer ENOENT without the tls module): the policy must say EPERM first.
 * hibits: the level and optname with garbage in their upper halves. */
static int tcp_ulp(bool hibits)
{
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t al = sizeof a;
        int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), c = -1, s = -1;
        long r;

        if (l < 0 || bind(l, (struct sockaddr *) &a, sizeof a) < 0 || listen(l, 1) < 0 ||
            getsockname(l, (struct sockaddr *) &a, &al) < 0)
                return result(2, "listener: %s", ename(errno));
        c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (c < 0 || connect(c, (struct sockaddr *) &a, sizeof a) < 0 || (s = accept(l, NULL, NULL)) < 0)
                return result(2, "connect: %s", ename(errno));
        if (hibits)
                r = syscall(SYS_setsockopt, (long) c, (long) (0xffffffff00000000UL | SOL_TCP),
                            (long) (0x100000000UL | TCP_ULP), "tls", 3L);
        else
                r = setsockopt(c, SOL_TCP, TCP_ULP, "tls", 3);
        return must_fail(r, "setsockopt(SOL_TCP, TCP_ULP, \"tls\")");
}

static int c_tcp_ulp(void)
{
        return tcp_ulp(false);
}

static int c_tcp_ulp_hibits(void)
{
        return tcp_ulp(true);
}

/* ================= procfs, sysfs, devices ================= */

/* Contained when the file cannot be opened or reads as empty (masked). */
static int masked(const char *path)
{
        char buf[256];
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        ssize_t n;
        if (fd < 0)
                return result(0, "%s", ename(errno));
        n = read(fd, buf, sizeof buf);
        close(fd);
        if (n < 0)
                return result(0, "read-%s", ename(errno));
        if (n == 0)
                return result(0, "empty");
        return result(1, "%s readable (%zd bytes)", path, n);
}

static int c_proc_kcore(void)
{
        return masked("/proc/kcore");
}

static int c_proc_keys(void)
{
        return masked("/proc/keys");
}

static int c_proc_timer_list(void)
{
        return masked("/proc/timer_list");
}

static int c_proc_sched_debug(void)
{
        return masked("/proc/sched_debug");
}

static int c_proc_kmsg(void)
{
        return masked("/proc/kmsg");
}

static int c_proc_kallsyms(void)
{
        /* Masked, or at least no non-zero address (kptr_restrict). */
        static char buf[1 << 16];
        ssize_t n = read_file("/proc/kallsyms", buf, sizeof buf);
        if (n < 0)
                return result(0, "%s", ename((int) -n));
        if (n == 0)
                return result(0, "empty");
        for (char *l = buf; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
                if (strspn(l, "0") < 16 && strspn(l, "0123456789abcdef") >= 16)
                        return result(1, "kernel address visible: %.40s", l);
        return result(0, "readable-but-zeroed");
}

static int c_proc_kernel_addrs(void)
{
        /* Files readable by anyone that show kernel addresses only to
         * CAP_SYS_ADMIN/CAP_SYSLOG holders in the initial namespace. */
        static char buf[1 << 16];
        static const char *const files[] = { "/proc/modules", "/proc/iomem", "/proc/ioports", "/proc/self/stat", NULL };
        for (const char *const *f = files; *f; f++) {
                ssize_t n = read_file(*f, buf, sizeof buf);
                if (n <= 0)
                        continue;
                if (strcmp(*f, "/proc/self/stat") == 0) {
                        /* fields 29-30 kstkesp/kstkeip, 35 wchan: always 0 now, check anyway */
                        continue;
                }
                for (char *p = buf; (p = strstr(p, "0x")) || (p = NULL); p += 2) {
                        if (strspn(p + 2, "0123456789abcdef") >= 12 && strspn(p + 2, "0") < 12)
                                return result(1, "kernel address in %s: %.30s", *f, p);
                        if (!*p)
                                break;
                }
                if (strcmp(*f, "/proc/iomem") == 0 || strcmp(*f, "/proc/ioports") == 0) {
                        /* "00000000-00000000 : System RAM" unless privileged */
                        for (char *l = buf; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
                                char *s2 = l + strspn(l, " ");
                                size_t k = strspn(s2, "0123456789abcdef");
                                if (k >= 4 && strspn(s2, "0") < k)
                                        return result(1, "physical address in %s: %.40s", *f, s2);
                        }
                }
        }
        return result(0, "zeroed-or-unreadable");
}

/* Must not be openable for writing (read-only mount, masked, or EACCES);
 * never written to. Opening /dev/null (a mask) for writing is fine. */
static int no_write(const char *path)
{
        struct stat st;
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return result(0, "%s", ename(errno));
        if (fstat(fd, &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3)) {
                close(fd);
                return result(0, "masked-by-dev-null");
        }
        close(fd);
        return result(1, "%s opened for writing", path);
}

static int c_proc_sysrq(void)
{
        return no_write("/proc/sysrq-trigger");
}

static int c_proc_sys_hostname(void)
{
        return no_write("/proc/sys/kernel/hostname");
}

static int c_proc_core_pattern(void)
{
        return no_write("/proc/sys/kernel/core_pattern");
}

static int c_proc_max_userns_raise(void)
{
        return no_write("/proc/sys/user/max_user_namespaces");
}

static int c_proc_self_exe_write(void)
{
        /* CVE-2019-5736 shape: rewrite the binary behind /proc/self/exe. */
        return no_write("/proc/self/exe");
}

static int c_sys_absent(void)
{
        struct statfs sf;
        struct stat st;
        static char buf[1 << 16];
        static const char *const bad_types[] = { " sysfs ", " cgroup ", " cgroup2 ", " debugfs ", " tracefs ",
                                                 " securityfs ", " bpf ", " devpts ", " configfs ", " fusectl ",
                                                 " hugetlbfs ", " mqueue ", NULL };
        if (read_file("/proc/self/mountinfo", buf, sizeof buf) < 0)
                return result(2, "mountinfo: %s", ename(errno));
        for (const char *const *t = bad_types; *t; t++)
                if (strstr(buf, *t))
                        return result(1, "mountinfo has a%sfilesystem", *t);
        if (statfs("/sys", &sf) == 0 && (unsigned long) sf.f_type == SYSFS_MAGIC)
                return result(1, "/sys is sysfs");
        if (stat("/sys/kernel", &st) == 0 || stat("/sys/fs/cgroup", &st) == 0)
                return result(1, "/sys has content");
        return result(0, stat("/sys", &st) == 0 ? "sys-empty-dir" : "ENOENT");
}

static int c_dev_list(void)
{
        static const struct {
                const char *name;
                unsigned maj, min;
        } want[] = {
                { "null", 1, 3 }, { "zero", 1, 5 }, { "full", 1, 7 }, { "random", 1, 8 }, { "urandom", 1, 9 },
        };
        static const char *const ok_other[] = { "fd", "stdin", "stdout", "stderr", "shm", NULL };
        char extra[512] = "";
        size_t off = 0;
        int bad = 0;
        DIR *d = opendir("/dev");
        struct dirent *de;
        if (!d)
                return result(2, "opendir /dev: %s", ename(errno));
        while ((de = readdir(d))) {
                bool known = !strcmp(de->d_name, ".") || !strcmp(de->d_name, "..");
                for (size_t i = 0; !known && i < sizeof want / sizeof want[0]; i++)
                        known = !strcmp(de->d_name, want[i].name);
                for (size_t i = 0; !known && ok_other[i]; i++)
                        known = !strcmp(de->d_name, ok_other[i]);
                if (!known) {
                        bad = 1;
                        off += (size_t) snprintf(extra + off, sizeof extra - off, " extra:%s", de->d_name);
                }
        }
        closedir(d);
        for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
                char p[64];
                struct stat st;
                snprintf(p, sizeof p, "/dev/%s", want[i].name);
                if (stat(p, &st) < 0 || !S_ISCHR(st.st_mode) || st.st_rdev != makedev(want[i].maj, want[i].min)) {
                        bad = 1;
                        off += (size_t) snprintf(extra + off, sizeof extra - off, " wrong:%s", want[i].name);
                }
        }
        return result(bad, "%s", bad ? extra : "only null,zero,full,random,urandom,fd,std*,shm");
}

static int c_dev_absent(void)
{
        static const char *const nodes[] = { "/dev/mem", "/dev/kmem", "/dev/port", "/dev/kmsg", "/dev/sda",
                                             "/dev/vda", "/dev/tty", "/dev/console", "/dev/ptmx", "/dev/tty0",
                                             "/dev/fuse", "/dev/net/tun", "/dev/kvm", "/dev/loop0", "/dev/mapper/control", NULL };
        for (const char *const *n = nodes; *n; n++) {
                int fd = open(*n, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
                if (fd >= 0) {
                        close(fd);
                        return result(1, "%s opened", *n);
                }
                if (errno != ENOENT && errno != ENXIO && errno != EACCES && errno != EPERM)
                        return result(1, "%s: unexpected %s", *n, ename(errno));
        }
        return result(0, "ENOENT");
}

static int c_dev_null_works(void)
{
        char b[4];
        int fd = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (fd < 0)
                return result(1, "open /dev/null: %s (sandbox unusable)", ename(errno));
        if (write(fd, "abc", 3) != 3 || read(fd, b, sizeof b) != 0) {
                close(fd);
                return result(1, "/dev/null misbehaves");
        }
        close(fd);
        fd = open("/dev/full", O_WRONLY | O_CLOEXEC);
        if (fd < 0 || write(fd, "x", 1) != -1 || errno != ENOSPC)
                return result(1, "/dev/full misbehaves");
        close(fd);
        return result(0, "ok");
}

static int c_dev_create(void)
{
        /* /dev is read-only: nothing can be planted or replaced in it. */
        int fd = open("/dev/planted", O_CREAT | O_WRONLY | O_CLOEXEC, 0666);
        if (fd >= 0) {
                close(fd);
                return result(1, "created /dev/planted");
        }
        int e = errno;
        if (unlink("/dev/null") == 0)
                return result(1, "unlinked /dev/null");
        return result(0, "%s", ename(e));
}

static int c_rootfs_readonly(void)
{
        int fd = open("/planted", O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
        if (fd >= 0) {
                close(fd);
                return result(1, "created /planted in the rootfs");
        }
        int e = errno;
        if (chmod("/probe", 04777) == 0)
                return result(1, "chmod /probe worked");
        if (rename("/probe", "/probe2") == 0)
                return result(1, "rename /probe worked");
        return result(0, "%s", ename(e));
}

static int c_devshm_noexec(void)
{
        /* Copy ourselves to /dev/shm and try to run it. */
        int in = open("/probe", O_RDONLY | O_CLOEXEC), out;
        char buf[65536];
        ssize_t n;
        if (in < 0)
                return result(2, "open /probe: %s", ename(errno));
        out = open("/dev/shm/p", O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0755);
        if (out < 0) {
                close(in);
                return result(0, "create:%s", ename(errno));
        }
        while ((n = read(in, buf, sizeof buf)) > 0)
                if (write(out, buf, (size_t) n) != n)
                        break;
        close(in);
        close(out);
        pid_t pid = fork();
        if (pid == 0) {
                char *av[] = { "/dev/shm/p", "_exit_true", NULL };
                execve(av[0], av, environ);
                _exit(100 + (errno & 0x7f));
        }
        int st;
        waitpid(pid, &st, 0);
        unlink("/dev/shm/p");
        if (WIFEXITED(st) && WEXITSTATUS(st) >= 100)
                return result(0, "%s", ename(WEXITSTATUS(st) - 100));
        return result(1, "executed a binary from /dev/shm");
}

static int c_open_path(void)
{
        /* A file the image (or a symlink in it) points at; must not open. */
        const char *p = arg(2);
        int fd = open(p, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
        if (fd < 0)
                return result(0, "%s", ename(errno));
        char b[64];
        ssize_t n = read(fd, b, sizeof b - 1);
        close(fd);
        return result(1, "%s opened (read %zd: %s)", p, n, n >= 0 ? ename(0) : ename(errno));
}

/* ================= setuid and capability leftovers ================= */

static int c_capget(void)
{
        struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
        struct __user_cap_data_struct d[2];
        memset(d, 0xff, sizeof d);
        if (syscall(SYS_capget, &h, d) < 0)
                return result(2, "capget: %s", ename(errno));
        for (int i = 0; i < 2; i++)
                if (d[i].effective || d[i].permitted || d[i].inheritable)
                        return result(1, "caps eff=%x:%x prm=%x:%x inh=%x:%x", d[1].effective, d[0].effective,
                                      d[1].permitted, d[0].permitted, d[1].inheritable, d[0].inheritable);
        return result(0, "eff=0,prm=0,inh=0");
}

static int c_status_caps(void)
{
        static const char *const keys[] = { "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb" };
        char v[64];
        for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
                if (!status_field(keys[i], v, sizeof v))
                        return result(2, "no %s in /proc/self/status", keys[i]);
                if (strspn(v, "0") != strlen(v))
                        return result(1, "%s=%s", keys[i], v);
        }
        return result(0, "all-five-zero");
}

static int c_status_nnp_seccomp(void)
{
        char nnp[16], sc[16], nf[16] = "?";
        if (!status_field("NoNewPrivs", nnp, sizeof nnp) || !status_field("Seccomp", sc, sizeof sc))
                return result(2, "no NoNewPrivs/Seccomp in status");
        (void) status_field("Seccomp_filters", nf, sizeof nf);
        if (strcmp(nnp, "1") != 0 || strcmp(sc, "2") != 0)
                return result(1, "NoNewPrivs=%s Seccomp=%s", nnp, sc);
        if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1)
                return result(1, "PR_GET_NO_NEW_PRIVS != 1");
        return result(0, "NoNewPrivs=1,Seccomp=2,filters=%s", nf);
}

static int c_securebits(void)
{
        const int want = SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP_LOCKED | SECBIT_KEEP_CAPS_LOCKED;
        int b = prctl(PR_GET_SECUREBITS, 0, 0, 0, 0);
        if (b < 0)
                return result(2, "PR_GET_SECUREBITS: %s", ename(errno));
        if (prctl(PR_SET_SECUREBITS, 0, 0, 0, 0) == 0)
                return result(1, "securebits cleared (were %#x)", b);
        int e = errno;
        if ((b & want) != want)
                return result(1, "securebits %#x not locked (want %#x)", b, want);
        return result(0, "%s,bits=%#x", ename(e), b);
}

static int c_ambient_raise(void)
{
        return must_fail(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_NET_RAW, 0, 0), "ambient raise CAP_NET_RAW");
}

static int c_capset_raise(void)
{
        struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
        struct __user_cap_data_struct d[2];
        memset(d, 0, sizeof d);
        d[0].effective = d[0].permitted = 1u << CAP_SYS_ADMIN;
        return must_fail(syscall(SYS_capset, &h, d), "capset(CAP_SYS_ADMIN)");
}

static int c_setuid_root(void)
{
        /* Run with --user UID:GID (not 0): becoming 0 inside must fail. */
        char detail[256];
        if (getuid() == 0)
                return result(2, "run this case with --user (uid is 0)");
        long a = syscall(SYS_setuid, 0L);
        int ea = errno;
        long b = syscall(SYS_setresuid, 0L, 0L, 0L);
        int eb = errno;
        long c = syscall(SYS_setgid, 0L);
        int ec = errno;
        gid_t g = 0;
        long d = syscall(SYS_setgroups, 1L, &g);
        int ed = errno;
        snprintf(detail, sizeof detail, "setuid:%s,setresuid:%s,setgid:%s,setgroups:%s", a ? ename(ea) : "OK",
                 b ? ename(eb) : "OK", c ? ename(ec) : "OK", d ? ename(ed) : "OK");
        return result(!a || !b || !c || !d, "%s", detail);
}

static int c_root_no_setuid(void)
{
        /* Root inside without CAP_SETUID cannot become another user either. */
        if (getuid() != 0)
                return result(2, "run this case as uid 0 inside");
        return must_fail(syscall(SYS_setresuid, 1234L, 1234L, 1234L), "setresuid(1234) as capless root");
}

/* Exec path (a setuid-root or file-capability copy of the probe) with the
 * hidden case _ids; it exits 0 when it gained nothing. */
static int exec_ids(const char *path)
{
        int st;
        pid_t pid = fork();
        if (pid == 0) {
                char *av[] = { (char *) path, "_ids", NULL };
                execve(path, av, environ);
                _exit(100 + (errno & 0x7f));
        }
        waitpid(pid, &st, 0);
        if (WIFEXITED(st) && WEXITSTATUS(st) >= 100)
                return result(0, "execve:%s", ename(WEXITSTATUS(st) - 100));
        if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
                return result(0, "no-elevation uid=%d", (int) getuid());
        return result(1, "%s elevated (child exit %d)", path, WIFEXITED(st) ? WEXITSTATUS(st) : -1);
}

static int c_ids(void)
{
        /* Hidden helper: exit 1 if euid 0 (while real uid is not) or any cap. */
        char eff[64], prm[64];
        uid_t r, e, s;
        getresuid(&r, &e, &s);
        if (!status_field("CapEff", eff, sizeof eff) || !status_field("CapPrm", prm, sizeof prm))
                _exit(2);
        if ((r != 0 && (e == 0 || s == 0)) || strspn(eff, "0") != strlen(eff) || strspn(prm, "0") != strlen(prm)) {
                fprintf(stderr, "_ids: ruid=%d euid=%d suid=%d CapEff=%s CapPrm=%s\n", (int) r, (int) e, (int) s, eff, prm);
                _exit(1);
        }
        _exit(0);
}

static int c_suid_exec(void)
{
        return exec_ids("/probe-suid");
}

static int c_fcap_exec(void)
{
        return exec_ids("/probe-fcap");
}

static int c_dac_override(void)
{
        /* Root inside has no CAP_DAC_OVERRIDE: a mode-000 file stays closed. */
        int fd = open("/tmp/secret", O_CREAT | O_WRONLY | O_CLOEXEC, 0000);
        if (fd < 0)
                return result(2, "create: %s", ename(errno));
        close(fd);
        fchmodat(AT_FDCWD, "/tmp/secret", 0, 0);
        fd = open("/tmp/secret", O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
                close(fd);
                return result(1, "opened a mode-000 file (CAP_DAC_OVERRIDE)");
        }
        return result(0, "%s", ename(errno));
}

static int c_chown_nocap(void)
{
        int fd = open("/tmp/own", O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
        if (fd < 0)
                return result(2, "create: %s", ename(errno));
        long r = syscall(SYS_fchown, (long) fd, 1234L, 1234L);
        int e = errno;
        close(fd);
        errno = e;
        return must_fail(r, "fchown to 1234 (CAP_CHOWN)");
}

static int c_rootfs_owner(void)
{
        /* Files owned by host uid 0 in the image appear as 0 through the idmap. */
        struct stat st;
        if (stat("/probe", &st) < 0)
                return result(2, "stat: %s", ename(errno));
        if (st.st_uid != 0 || st.st_gid != 0)
                return result(1, "/probe owned by %d:%d inside (idmap broken?)", (int) st.st_uid, (int) st.st_gid);
        return result(0, "0:0");
}

/* ================= fd and cwd leaks ================= */

static int c_fd_scan(void)
{
        char extra[768] = "";
        size_t off = 0;
        int bad = 0;
        DIR *d = opendir("/proc/self/fd");
        struct dirent *de;
        if (!d)
                return result(2, "opendir: %s", ename(errno));
        while ((de = readdir(d))) {
                char *end;
                long fd = strtol(de->d_name, &end, 10);
                char p[64], t[256];
                ssize_t n;
                if (de->d_name[0] == '.' || *end || fd <= 2 || fd == dirfd(d))
                        continue;
                snprintf(p, sizeof p, "/proc/self/fd/%ld", fd);
                n = readlink(p, t, sizeof t - 1);
                t[n > 0 ? n : 0] = '\0';
                bad = 1;
                off += (size_t) snprintf(extra + off, sizeof extra - off, " fd%ld->%s", fd, t);
        }
        closedir(d);
        /* And 0..2 must be what the caller passed (pipes here), never a directory. */
        for (int fd = 0; fd < 3; fd++) {
                struct stat st;
                if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
                        bad = 1;
                        off += (size_t) snprintf(extra + off, sizeof extra - off, " fd%d-is-dir", fd);
                }
        }
        return result(bad, "%s", bad ? extra : "only-0-1-2");
}

static bool same_file(const char *a, const char *b)
{
        struct stat sa, sb;
        return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

static int c_stdio_dir(void)
{
        /* argv[2]: name of a file in the host directory the test passed as
         * stdin (CVE-2024-21626 shape: a directory fd from outside is a way
         * out of the root, through openat() or /proc/self/fd/N/..). */
        const char *name = arg(2);
        char p[512];
        for (int fd = 0; fd < 3; fd++) {
                struct stat st;
                if (fstat(fd, &st) < 0 || !S_ISDIR(st.st_mode))
                        continue;
                int f = openat(fd, name, O_RDONLY | O_CLOEXEC);
                if (f >= 0) {
                        close(f);
                        return result(1, "fd %d is a host directory: opened %s through it", fd, name);
                }
                snprintf(p, sizeof p, "/proc/self/fd/%d/../%s", fd, "");
                f = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (f >= 0 && !same_file(p, "/")) {
                        close(f);
                        return result(1, "fd %d is a host directory: its parent is reachable", fd);
                }
                if (f >= 0)
                        close(f);
                return result(1, "fd %d is a directory", fd);
        }
        return result(0, "no-directory-fd");
}

static int c_cwd_dotdot(void)
{
        for (int i = 0; i < 64; i++)
                if (chdir("..") < 0)
                        return result(2, "chdir ..: %s", ename(errno));
        if (!same_file(".", "/"))
                return result(1, "64x chdir(..) left the root");
        int fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
        for (int i = 0; i < 64; i++) {
                int n = openat(fd, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
                close(fd);
                fd = n;
        }
        struct stat s1, s2;
        fstat(fd, &s1);
        stat("/", &s2);
        close(fd);
        if (s1.st_ino != s2.st_ino || s1.st_dev != s2.st_dev)
                return result(1, "openat(..) chain left the root");
        if (access("/probe", X_OK) < 0)
                return result(1, "/probe missing: not our root?");
        return result(0, "stays-in-root");
}

static int c_cwd_inside(void)
{
        /* The working directory (from --workdir) must be reachable from our root. */
        char buf[4096];
        if (!getcwd(buf, sizeof buf))
                return result(1, "getcwd: %s (cwd outside the root)", ename(errno));
        if (buf[0] != '/' || !same_file(buf, "."))
                return result(1, "cwd %s not reachable from root", buf);
        if (!same_file("/proc/self/cwd", "."))
                return result(1, "/proc/self/cwd disagrees");
        return result(0, "cwd=%s", buf);
}

static int c_proc_root_links(void)
{
        char t[256];
        ssize_t n = readlink("/proc/self/root", t, sizeof t - 1);
        if (n < 0)
                return result(2, "readlink /proc/self/root: %s", ename(errno));
        t[n] = '\0';
        if (strcmp(t, "/") != 0 || !same_file("/proc/self/root", "/"))
                return result(1, "/proc/self/root -> %s", t);
        if (!same_file("/proc/self/root/..", "/"))
                return result(1, "/proc/self/root/.. is not the root");
        n = readlink("/proc/self/cwd", t, sizeof t - 1);
        t[n > 0 ? n : 0] = '\0';
        if (n <= 0 || t[0] != '/')
                return result(1, "/proc/self/cwd -> %s", t);
        /* Every process's root is ours. */
        DIR *d = opendir("/proc");
        struct dirent *de;
        while (d && (de = readdir(d))) {
                char p[300];
                if (de->d_name[0] < '1' || de->d_name[0] > '9')
                        continue;
                snprintf(p, sizeof p, "/proc/%s/root", de->d_name);
                struct stat st;
                if (stat(p, &st) == 0 && !same_file(p, "/")) {
                        closedir(d);
                        return result(1, "%s is another root", p);
                }
        }
        if (d)
                closedir(d);
        return result(0, "root=/ cwd=%s", t);
}

static int c_host_path(void)
{
        /* argv[2]: an absolute host path outside the rootfs (the test's canary). */
        const char *canary = arg(2);
        static const char *const pre[] = { "", "../../../../../../../../..", "/proc/1/root/../../../..",
                                           "/proc/self/cwd/../../../../..", "/proc/self/root/../..",
                                           "/dev/fd/0/../../../..", "/hostlink-dir/", NULL };
        char p[4096];
        for (const char *const *x = pre; *x; x++) {
                snprintf(p, sizeof p, "%s%s", *x, strcmp(*x, "/hostlink-dir/") == 0 ? canary + 1 : canary);
                int fd = open(p, O_RDONLY | O_CLOEXEC);
                if (fd >= 0) {
                        close(fd);
                        return result(1, "host file reached via %s", p);
                }
        }
        int fd = open("/hostlink", O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
                close(fd);
                return result(1, "host file reached via the /hostlink symlink");
        }
        int dfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
        fd = openat(dfd, "../../../../../../..", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (fd >= 0 && !same_file("/proc/self/fd/0", "/proc/self/fd/0")) {
                /* unreachable: keeps the compiler quiet about fd */
        }
        if (fd >= 0) {
                snprintf(p, sizeof p, "%s", canary + 1);
                int f2 = openat(fd, p, O_RDONLY | O_CLOEXEC);
                if (f2 >= 0) {
                        close(f2);
                        return result(1, "host file reached via openat(\"../..\")");
                }
                close(fd);
        }
        close(dfd);
        return result(0, "ENOENT");
}

/* ================= terminal injection ================= */

static int c_isatty(void)
{
        char st[1024];
        for (int fd = 0; fd < 3; fd++)
                if (isatty(fd))
                        return result(1, "fd %d is a terminal", fd);
        /* No controlling terminal either: field 7 (tty_nr) of /proc/self/stat is 0. */
        if (read_file("/proc/self/stat", st, sizeof st) > 0) {
                char *p = strrchr(st, ')');
                int tty = -1;
                if (p && sscanf(p + 2, "%*c %*d %*d %*d %d", &tty) == 1 && tty != 0)
                        return result(1, "controlling tty_nr=%d", tty);
        }
        int fd = open("/dev/tty", O_RDWR | O_CLOEXEC);
        if (fd >= 0)
                return result(1, "/dev/tty opened");
        return result(0, "no-tty");
}

static int c_new_session(void)
{
        pid_t me = getpid();
        if (getsid(0) != me || getpgrp() != me)
                return result(1, "sid=%d pgrp=%d pid=%d: not a new session", (int) getsid(0), (int) getpgrp(), (int) me);
        return result(0, "sid=pid=%d", (int) me);
}

/* ================= network ================= */

static int c_net_ifaces(void)
{
        static char buf[8192];
        int n_if = 0;
        if (read_file("/proc/net/dev", buf, sizeof buf) < 0)
                return result(2, "/proc/net/dev: %s", ename(errno));
        for (char *l = buf; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
                char name[64];
                size_t len = strcspn(l, "\n");
                char *colon = memchr(l, ':', len);
                if (!colon || sscanf(l, " %63[^:]:", name) != 1)
                        continue;
                n_if++;
                if (strcmp(name, "lo") != 0)
                        return result(1, "interface %s present", name);
        }
        return result(0, "lo-only(%d)", n_if);
}

static int tcp_connect(const char *ip, int port)
{
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t) port) };
        int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0), e;
        if (s < 0)
                return -errno;
        inet_pton(AF_INET, ip, &a.sin_addr);
        if (connect(s, (struct sockaddr *) &a, sizeof a) == 0) {
                close(s);
                return 0;
        }
        e = errno;
        if (e == EINPROGRESS) {
                struct pollfd p = { .fd = s, .events = POLLOUT };
                socklen_t l = sizeof e;
                if (poll(&p, 1, 3000) <= 0)
                        e = ETIMEDOUT;
                else if (getsockopt(s, SOL_SOCKET, SO_ERROR, &e, &l) < 0)
                        e = errno;
        }
        close(s);
        return e ? -e : 0;
}

static int connect_case(const char *ip, int port)
{
        int r = tcp_connect(ip, port);
        if (r == 0)
                return result(1, "connected to %s:%d", ip, port);
        return result(0, "%s", ename(-r));
}

static int c_connect_loopback(void)
{
        return connect_case("127.0.0.1", (int) arg_long(2));
}

static int c_connect_host_ip(void)
{
        return connect_case(arg(2), (int) arg_long(3));
}

static int c_connect_metadata(void)
{
        return connect_case("169.254.169.254", 80);
}

static int c_abstract_unix(void)
{
        struct sockaddr_un a = { .sun_family = AF_UNIX };
        const char *name = arg(2);
        int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        size_t n = strlen(name);
        if (s < 0)
                return result(2, "socket: %s", ename(errno));
        if (n + 1 > sizeof a.sun_path)
                return result(2, "name too long");
        memcpy(a.sun_path + 1, name, n);
        if (connect(s, (struct sockaddr *) &a, (socklen_t) (offsetof(struct sockaddr_un, sun_path) + 1 + n)) == 0) {
                close(s);
                return result(1, "connected to host abstract socket @%s", name);
        }
        int e = errno;
        close(s);
        return result(0, "%s", ename(e));
}

static int c_proc_net_tcp(void)
{
        /* The host's listener (argv[2]) must not show in our netns. */
        static char buf[65536];
        char port[16];
        snprintf(port, sizeof port, ":%04X ", (unsigned) arg_long(2));
        if (read_file("/proc/net/tcp", buf, sizeof buf) < 0)
                return result(2, "/proc/net/tcp: %s", ename(errno));
        if (strstr(buf, port))
                return result(1, "host listener port %s visible in /proc/net/tcp", port);
        return result(0, "not-visible");
}

static int c_net_admin(void)
{
        struct ifreq ifr;
        int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (s < 0)
                return result(2, "socket: %s", ename(errno));
        memset(&ifr, 0, sizeof ifr);
        strcpy(ifr.ifr_name, "lo");
        if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
                return result(2, "SIOCGIFFLAGS: %s", ename(errno));
        /* Re-set the same flags: harmless if it works, but it needs CAP_NET_ADMIN. */
        long r = syscall(SYS_ioctl, (long) s, (long) SIOCSIFFLAGS, &ifr);
        int e = errno;
        close(s);
        errno = e;
        return must_fail(r, "SIOCSIFFLAGS on lo (CAP_NET_ADMIN)");
}

/* ================= resource bombs ================= */

static int c_fork_bomb(void)
{
        /* argv[2]: pids.max of the sandbox. Forks parked children until fork fails. */
        long limit = arg_long(2), n = 0;
        int p[2], e = 0;
        if (pipe2(p, O_CLOEXEC) < 0)
                return result(2, "pipe: %s", ename(errno));
        while (n < 10000) {
                pid_t pid = fork();
                if (pid < 0) {
                        e = errno;
                        break;
                }
                if (pid == 0) {
                        char c;
                        close(p[1]);
                        while (read(p[0], &c, 1) < 0 && errno == EINTR)
                                ;
                        _exit(0);
                }
                n++;
        }
        close(p[1]);
        close(p[0]);
        while (wait(NULL) > 0 || errno == EINTR)
                ;
        if (n >= 10000 || n >= limit)
                return result(1, "forked %ld children (pids.max %ld)", n, limit);
        return result(0, "forks=%ld,%s", n, ename(e));
}

static int c_mem_bomb(void)
{
        /* A child allocates and touches up to 2 GiB; the cgroup must OOM-kill it
         * while we (the parent) survive. Progress comes over a pipe, in MiB. */
        int p[2], st;
        long mib = 0, v;
        if (pipe2(p, O_CLOEXEC) < 0)
                return result(2, "pipe: %s", ename(errno));
        pid_t pid = fork();
        if (pid == 0) {
                close(p[0]);
                oom_first();
                for (long i = 1; i <= 2048; i++) {
                        char *m = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
                        if (m == MAP_FAILED)
                                _exit(3);
                        memset(m, (int) i, 1 << 20);
                        if (write(p[1], &i, sizeof i) != sizeof i)
                                _exit(4);
                }
                _exit(0);
        }
        close(p[1]);
        while (read(p[0], &v, sizeof v) == sizeof v)
                mib = v;
        close(p[0]);
        waitpid(pid, &st, 0);
        if (WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL)
                return result(0, "oom-killed after %ld MiB", mib);
        if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
                return result(1, "allocated and touched %ld MiB", mib);
        return result(0, "child ended %s %d after %ld MiB", WIFSIGNALED(st) ? "signal" : "exit",
                      WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st), mib);
}

static int fill_dir(const char *dir, long cap)
{
        /* Write 1 MiB chunks into 4 MiB files until ENOSPC. argv: cap bytes. */
        static char chunk[1 << 20];
        long total = 0;
        int e = 0, nfiles = 0;
        memset(chunk, 'x', sizeof chunk);
        signal(SIGXFSZ, SIG_IGN);
        for (int f = 0; f < 1024 && !e; f++) {
                char p[128];
                snprintf(p, sizeof p, "%s/fill-%d", dir, f);
                int fd = open(p, O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0600);
                if (fd < 0) {
                        e = errno;
                        break;
                }
                nfiles++;
                for (int c = 0; c < 4; c++) {
                        ssize_t n = write(fd, chunk, sizeof chunk);
                        if (n < 0) {
                                e = errno;
                                break;
                        }
                        total += n;
                        if (n < (ssize_t) sizeof chunk) {
                                n = write(fd, chunk, sizeof chunk);
                                e = n < 0 ? errno : EIO;
                                break;
                        }
                }
                close(fd);
        }
        for (int f = 0; f < nfiles; f++) {
                char p[128];
                snprintf(p, sizeof p, "%s/fill-%d", dir, f);
                unlink(p);
        }
        if (!e)
                return result(1, "wrote %ld bytes without hitting a limit", total);
        /* tmpfs rounds its size up to whole pages */
        long page = sysconf(_SC_PAGESIZE), cap_pages = (cap + page - 1) / page * page;
        if (total > cap_pages)
                return result(1, "wrote %ld bytes > cap %ld before %s", total, cap, ename(e));
        return result(e == ENOSPC ? 0 : 1, "%s after %ld bytes", ename(e), total);
}

static int c_tmp_fill(void)
{
        return fill_dir("/tmp", arg_long(2));
}

static int c_shm_fill(void)
{
        return fill_dir("/dev/shm", arg_long(2));
}

static int c_tmp_inodes(void)
{
        /* argv[2]: inode cap of /tmp. Create empty files until ENOSPC. */
        long cap = arg_long(2), n = 0;
        int e = 0;
        char p[64];
        for (; n < 200000; n++) {
                snprintf(p, sizeof p, "/tmp/i%ld", n);
                int fd = open(p, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
                if (fd < 0) {
                        e = errno;
                        break;
                }
                close(fd);
        }
        for (long i = 0; i < n; i++) {
                snprintf(p, sizeof p, "/tmp/i%ld", i);
                unlink(p);
        }
        if (!e || n > cap)
                return result(1, "created %ld files (cap %ld)", n, cap);
        return result(e == ENOSPC ? 0 : 1, "%s after %ld files", ename(e), n);
}

static int c_fd_bomb(void)
{
        struct rlimit rl;
        long n = 0;
        int e = 0;
        getrlimit(RLIMIT_NOFILE, &rl);
        if (rl.rlim_max == RLIM_INFINITY || rl.rlim_max > (1u << 20))
                return result(1, "RLIMIT_NOFILE hard limit %llu", (unsigned long long) rl.rlim_max);
        for (; n < 2000000; n++)
                if (open("/dev/null", O_RDONLY | O_CLOEXEC) < 0) {
                        e = errno;
                        break;
                }
        if (e != EMFILE || (unsigned long long) n > rl.rlim_max)
                return result(1, "opened %ld fds, stopped by %s (nofile %llu)", n, ename(e), (unsigned long long) rl.rlim_max);
        return result(0, "EMFILE after %ld fds (nofile %llu)", n, (unsigned long long) rl.rlim_max);
}

static int c_rlimits(void)
{
        struct rlimit core, nofile, fsize;
        getrlimit(RLIMIT_CORE, &core);
        getrlimit(RLIMIT_NOFILE, &nofile);
        getrlimit(RLIMIT_FSIZE, &fsize);
        if (core.rlim_cur != 0 || core.rlim_max != 0)
                return result(1, "RLIMIT_CORE %llu/%llu", (unsigned long long) core.rlim_cur, (unsigned long long) core.rlim_max);
        if (fsize.rlim_max == RLIM_INFINITY || nofile.rlim_max == RLIM_INFINITY)
                return result(1, "unbounded fsize or nofile");
        struct rlimit up = { nofile.rlim_max + 1, nofile.rlim_max + 1 };
        if (setrlimit(RLIMIT_NOFILE, &up) == 0)
                return result(1, "raised RLIMIT_NOFILE above its hard limit");
        int e = errno;
        struct rlimit c2 = { 1 << 20, 1 << 20 };
        if (setrlimit(RLIMIT_CORE, &c2) == 0)
                return result(1, "raised RLIMIT_CORE");
        return result(0, "core=0,nofile=%llu,fsize=%llu,raise:%s", (unsigned long long) nofile.rlim_max,
                      (unsigned long long) fsize.rlim_max, ename(e));
}

static int c_fsize(void)
{
        struct rlimit rl;
        char c = 'x';
        getrlimit(RLIMIT_FSIZE, &rl);
        if (rl.rlim_cur == RLIM_INFINITY)
                return result(1, "RLIMIT_FSIZE unlimited");
        signal(SIGXFSZ, SIG_IGN);
        int fd = open("/tmp/big", O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0)
                return result(2, "create: %s", ename(errno));
        ssize_t n = pwrite(fd, &c, 1, (off_t) rl.rlim_cur);
        int e = errno;
        close(fd);
        unlink("/tmp/big");
        if (n >= 0)
                return result(1, "wrote past RLIMIT_FSIZE (%llu)", (unsigned long long) rl.rlim_cur);
        return result(e == EFBIG ? 0 : 1, "%s at %llu", ename(e), (unsigned long long) rl.rlim_cur);
}

static void spin(void)
{
        for (volatile unsigned long i = 0;; i++)
                ;
}

static int c_cpu_spin(void)
{
        printf("SPINNING\n");
        fflush(stdout);
        spin();
        return 2;
}

static int c_cpu_spin_forks(void)
{
        /* Spinners that leave the session and double-fork away from pid 1. */
        for (int i = 0; i < 4; i++) {
                pid_t pid = fork();
                if (pid == 0) {
                        setsid();
                        if (fork() == 0) {
                                signal(SIGTERM, SIG_IGN);
                                signal(SIGHUP, SIG_IGN);
                                spin();
                        }
                        _exit(0);
                }
                waitpid(pid, NULL, 0);
        }
        printf("SPINNING\n");
        fflush(stdout);
        spin();
        return 2;
}

static int c_orphan(void)
{
        /* pid 1 exits at once; a detached grandchild tries to live on. */
        pid_t pid = fork();
        if (pid == 0) {
                setsid();
                if (fork() == 0) {
                        signal(SIGTERM, SIG_IGN);
                        signal(SIGHUP, SIG_IGN);
                        close(0);
                        close(1);
                        close(2);
                        for (;;)
                                pause();
                }
                _exit(0);
        }
        waitpid(pid, NULL, 0);
        return result(0, "detached-grandchild-left");
}

static int c_cpu_quota(void)
{
        /* argv[2]: quota in millicores. 4 spinners for 1 s of wall clock; the
         * CPU time they get must stay near quota * 1 s. */
        long quota = arg_long(2);
        struct timespec t0, t;
        pid_t kids[4];
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (int i = 0; i < 4; i++) {
                kids[i] = fork();
                if (kids[i] == 0) {
                        do
                                clock_gettime(CLOCK_MONOTONIC, &t);
                        while ((t.tv_sec - t0.tv_sec) * 1000000000L + (t.tv_nsec - t0.tv_nsec) < 1000000000L);
                        _exit(0);
                }
        }
        for (int i = 0; i < 4; i++)
                waitpid(kids[i], NULL, 0);
        clock_gettime(CLOCK_MONOTONIC, &t);
        struct rusage ru;
        getrusage(RUSAGE_CHILDREN, &ru);
        long cpu_ms = (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000 + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000;
        long wall_ms = (t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000;
        /* allowed: quota over the wall time, plus one period of slack */
        long allowed = quota * wall_ms / 1000 + 150;
        return result(cpu_ms > allowed, "cpu_ms=%ld wall_ms=%ld allowed=%ld", cpu_ms, wall_ms, allowed);
}

/* ================= information leaks ================= */

static int c_hostname(void)
{
        struct utsname u;
        const char *host = arg(2);
        uname(&u);
        if (strcmp(u.nodename, host) == 0)
                return result(1, "hostname is the host's (%s)", host);
        return result(0, "%s", u.nodename);
}

static int check_map(const char *path, unsigned long base, char *out, size_t size)
{
        char buf[512];
        unsigned long in, outside, count;
        int lines = 0;
        if (read_file(path, buf, sizeof buf) < 0) {
                snprintf(out, size, "%s: %s", path, ename(errno));
                return 2;
        }
        for (char *l = buf; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
                if (sscanf(l, "%lu %lu %lu", &in, &outside, &count) != 3)
                        continue;
                lines++;
                if (outside == 0 || (outside <= 0 && outside + count > 0)) {
                        snprintf(out, size, "%s maps host 0", path);
                        return 1;
                }
                if (in != 0 || outside != base || count != 65536) {
                        snprintf(out, size, "%s: %lu %lu %lu (want 0 %lu 65536)", path, in, outside, count, base);
                        return 1;
                }
        }
        if (lines != 1) {
                snprintf(out, size, "%s has %d ranges", path, lines);
                return 1;
        }
        snprintf(out, size, "0 %lu 65536", base);
        return 0;
}

static int c_uid_map(void)
{
        /* argv[2]: the expected uid base */
        unsigned long base = (unsigned long) arg_long(2);
        char d1[128], d2[128];
        int r1 = check_map("/proc/self/uid_map", base, d1, sizeof d1);
        int r2 = check_map("/proc/self/gid_map", base, d2, sizeof d2);
        if (r1 || r2)
                return result(r1 ? r1 : r2, "%s; %s", d1, d2);
        char sg[32];
        if (read_file("/proc/self/setgroups", sg, sizeof sg) > 0 && strncmp(sg, "allow", 5) == 0)
                return result(0, "%s;setgroups=allow", d1);
        return result(0, "%s", d1);
}

static int c_cgroup_ns(void)
{
        char buf[4096];
        if (read_file("/proc/self/cgroup", buf, sizeof buf) < 0)
                return result(2, "/proc/self/cgroup: %s", ename(errno));
        for (char *l = buf; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
                char *c = strrchr(l, ':');
                if (!c)
                        continue;
                size_t n = strcspn(c + 1, "\n");
                if (n != 1 || c[1] != '/')
                        return result(1, "host cgroup path visible: %.*s", (int) strcspn(l, "\n"), l);
        }
        return result(0, "all-root");
}

static int c_mountinfo_no_host_path(void)
{
        /* argv[2]: a host path (the rootfs's parent directory) that must not show. */
        static char buf[1 << 16];
        const char *needle = arg(2);
        if (read_file("/proc/self/mountinfo", buf, sizeof buf) < 0)
                return result(2, "mountinfo: %s", ename(errno));
        char *hit = strstr(buf, needle);
        if (hit) {
                while (hit > buf && hit[-1] != '\n')
                        hit--;
                return result(1, "host path in mountinfo: %.*s", (int) strcspn(hit, "\n"), hit);
        }
        return result(0, "absent");
}

static int c_env_leak(void)
{
        /* argv[2]: a variable set in sfaasd's own environment. */
        const char *name = arg(2);
        char buf[8192];
        if (getenv(name))
                return result(1, "%s=%s leaked into the sandbox", name, getenv(name));
        ssize_t n = read_file("/proc/self/environ", buf, sizeof buf);
        for (ssize_t i = 0; i < n; i += (ssize_t) strlen(buf + i) + 1)
                if (strncmp(buf + i, name, strlen(name)) == 0)
                        return result(1, "%s in /proc/self/environ", name);
        return result(0, "absent");
}

static int c_pid_ns(void)
{
        int n = 0, maxpid = 0;
        DIR *d = opendir("/proc");
        struct dirent *de;
        /* pid 1 is the sandbox init, this probe the process it started. */
        if (getpid() != 2 || getppid() != 1)
                return result(1, "pid %d ppid %d: not the first child of a new pid namespace's init",
                              (int) getpid(), (int) getppid());
        while (d && (de = readdir(d))) {
                if (de->d_name[0] < '1' || de->d_name[0] > '9')
                        continue;
                int p = atoi(de->d_name);
                n++;
                if (p > maxpid)
                        maxpid = p;
        }
        if (d)
                closedir(d);
        if (n > 4)
                return result(1, "%d processes visible in /proc (max pid %d)", n, maxpid);
        return result(0, "pid=2,ppid=1,visible=%d", n);
}

static int c_launcher_not_inside(void)
{
        /* CVE-2019-5736 class: the launcher binary is never a process of the sandbox. */
        DIR *d = opendir("/proc");
        struct dirent *de;
        while (d && (de = readdir(d))) {
                char p[300], t[512], comm[64];
                ssize_t n;
                if (de->d_name[0] < '1' || de->d_name[0] > '9')
                        continue;
                snprintf(p, sizeof p, "/proc/%s/exe", de->d_name);
                n = readlink(p, t, sizeof t - 1);
                t[n > 0 ? n : 0] = '\0';
                if (n > 0 && strstr(t, "sfaasd")) {
                        closedir(d);
                        return result(1, "pid %s runs %s", de->d_name, t);
                }
                snprintf(p, sizeof p, "/proc/%s/comm", de->d_name);
                if (read_file(p, comm, sizeof comm) > 0 && strncmp(comm, "sfaasd", 6) == 0) {
                        closedir(d);
                        return result(1, "pid %s comm sfaasd", de->d_name);
                }
        }
        if (d)
                closedir(d);
        char t[256];
        ssize_t n = readlink("/proc/self/exe", t, sizeof t - 1);
        t[n > 0 ? n : 0] = '\0';
        return result(0, "exe=%s", t);
}

static int c_proc_cpuinfo(void)
{
        char buf[256];
        ssize_t n = read_file("/proc/cpuinfo", buf, sizeof buf);
        if (n <= 0)
                return result(1, "/proc/cpuinfo unreadable (%s): functions need it", n < 0 ? ename((int) -n) : "empty");
        return result(0, "readable");
}

static int c_max_userns(void)
{
        char buf[32];
        if (read_file("/proc/sys/user/max_user_namespaces", buf, sizeof buf) < 0)
                return result(1, "unreadable: %s", ename(errno));
        buf[strcspn(buf, "\n")] = '\0';
        return result(strcmp(buf, "0") != 0, "max_user_namespaces=%s", buf);
}

static int c_exit_true(void)
{
        _exit(0);
}

static int c_exit_code(void)
{
        /* For the host's check of exit status passing: exit with argv[2]. */
        fflush(stdout);
        _exit((int) arg_long(2));
}

static int c_int80_self(void)
{
        /* The function itself takes the wrong ABI: it dies of SIGSYS, the
         * init passes that on, and `sfaasd run` reports 128 + 31. */
        printf("TRYING\n");
        fflush(stdout);
        do_int80_getpid();
        return result(1, "int 0x80 in the function returned");
}

static void do_segv(void)
{
        if (chdir("/tmp") < 0)
                _exit(9);
        raise(SIGSEGV);
        _exit(8);
}

static int c_core_dump(void)
{
        /* RLIMIT_CORE is 0: a crash leaves no core file (with a file
         * core_pattern; a piped core_pattern runs a host helper regardless,
         * which the host-side test reports). */
        int st = 0;
        if (child_status(do_segv, &st) < 0)
                return result(2, "fork: %s", ename(errno));
        DIR *d = opendir("/tmp");
        struct dirent *de;
        while (d && (de = readdir(d)))
                if (strncmp(de->d_name, "core", 4) == 0) {
                        closedir(d);
                        return result(1, "core file /tmp/%s written", de->d_name);
                }
        if (d)
                closedir(d);
        if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGSEGV)
                return result(2, "child did not die of SIGSEGV");
        return result(WCOREDUMP(st) ? 1 : 0, "%s", WCOREDUMP(st) ? "core dumped" : "no-core");
}

static int c_oom_score_adj(void)
{
        /* Lowering our OOM score would make the host's OOM killer pick others. */
        int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return result(0, "open:%s", ename(errno));
        ssize_t n = write(fd, "-1000", 5);
        int e = errno;
        close(fd);
        if (n == 5)
                return result(1, "oom_score_adj set to -1000");
        return result(0, "%s", ename(e));
}

static int c_nice_raise(void)
{
        return must_fail(syscall(SYS_setpriority, (long) PRIO_PROCESS, 0L, -20L), "setpriority(-20)");
}

static int c_rt_sched(void)
{
        /* SCHED_FIFO at top priority would starve the host's CPUs. */
        struct sched_param sp = { .sched_priority = 99 };
        long r = syscall(SYS_sched_setscheduler, 0L, (long) SCHED_FIFO, &sp);
        if (r == 0) {
                struct sched_param z = { 0 };
                syscall(SYS_sched_setscheduler, 0L, (long) SCHED_OTHER, &z);
        }
        return must_fail(r, "sched_setscheduler(SCHED_FIFO, 99)");
}

static int c_ioprio_rt(void)
{
        /* IOPRIO_WHO_PROCESS=1, class RT=1 << 13, level 0 */
        return must_fail(syscall(SYS_ioprio_set, 1L, 0L, (long) (1 << 13)), "ioprio_set(RT)");
}

static int c_mlock_limit(void)
{
        size_t len = 8u << 20;
        char *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED)
                return result(2, "mmap: %s", ename(errno));
        long r = syscall(SYS_mlock, m, (long) len);
        int e = errno;
        if (r == 0)
                munlock(m, len);
        munmap(m, len);
        errno = e;
        return must_fail(r, "mlock of 8 MiB (RLIMIT_MEMLOCK)");
}

static int c_bind_ro(void)
{
        /* argv[2]: a directory bound read-only from the host, holding
         * "canary" (readable), "exe" (an executable) and "mem" (a device). */
        const char *dir = arg(2);
        char p[512], b[64];
        int fd;
        snprintf(p, sizeof p, "%s/canary", dir);
        fd = open(p, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return result(2, "bound canary unreadable: %s (bind missing?)", ename(errno));
        close(fd);
        if ((fd = open(p, O_WRONLY | O_CLOEXEC)) >= 0) {
                close(fd);
                return result(1, "bound file opened for writing");
        }
        int e = errno;
        snprintf(p, sizeof p, "%s/planted", dir);
        if ((fd = open(p, O_CREAT | O_WRONLY | O_CLOEXEC, 0644)) >= 0) {
                close(fd);
                return result(1, "created a file in the bind");
        }
        snprintf(p, sizeof p, "%s/canary", dir);
        if (unlink(p) == 0 || chmod(p, 0777) == 0)
                return result(1, "changed the bound canary");
        snprintf(p, sizeof p, "%s/mem", dir);
        if ((fd = open(p, O_RDONLY | O_CLOEXEC)) >= 0) {
                close(fd);
                return result(1, "opened a device node through the bind");
        }
        snprintf(p, sizeof p, "%s/exe", dir);
        pid_t pid = fork();
        if (pid == 0) {
                char *av[] = { p, "_exit_true", NULL };
                execve(p, av, environ);
                _exit(100 + (errno & 0x7f));
        }
        int st;
        waitpid(pid, &st, 0);
        if (!WIFEXITED(st) || WEXITSTATUS(st) < 100)
                return result(1, "executed a binary from the bind");
        (void) b;
        return result(0, "%s,exec:%s", ename(e), ename(WEXITSTATUS(st) - 100));
}

/* Fill kernel buffers (unix socket queues or pipes) from `workers`
 * processes until the kernel refuses or `cap` bytes are held; report the
 * total over fd wfd and keep everything pinned until rfd hits EOF. */
static void kbuf_worker(bool pipes, long cap, int wfd, int rfd)
{
        static char chunk[65536];
        long held = 0;
        int e = 0;
        struct timespec t0, t;
        oom_first();
        memset(chunk, 'k', sizeof chunk);
        /* Near the limit the kernel reclaims (slowly, without swap) instead of
         * failing: stop after 3 s of wall clock, or when a fresh buffer takes
         * nothing, and report what is held. */
        clock_gettime(CLOCK_MONOTONIC, &t0);
        while (held < cap && !e) {
                clock_gettime(CLOCK_MONOTONIC, &t);
                if (t.tv_sec - t0.tv_sec >= 3)
                        break;
                int sv[2];
                if (pipes ? pipe2(sv, O_CLOEXEC | O_NONBLOCK) < 0
                          : socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) < 0) {
                        e = errno;
                        break;
                }
                if (pipes)
                        (void) fcntl(sv[1], F_SETPIPE_SZ, 1 << 20);
                else {
                        int sz = 4 << 20;
                        (void) setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
                        (void) setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
                }
                int out = pipes ? sv[1] : sv[0];
                long before = held;
                for (;;) {
                        ssize_t n = write(out, chunk, sizeof chunk);
                        if (n > 0) {
                                held += n;
                                if (held >= cap)
                                        break;
                                continue;
                        }
                        if (n < 0 && errno != EAGAIN)
                                e = errno;
                        break;
                }
                if (held == before)
                        break;
        }
        long rep[2] = { (long) getpid(), held };
        (void) write(wfd, rep, sizeof rep);
        close(wfd); /* the parent sees EOF once every worker reported or died */
        char c;
        while (read(rfd, &c, 1) < 0 && errno == EINTR)
                ;
        _exit(0);
}

static int kbuf_bomb(bool pipes)
{
        /* argv[2]: the memory limit. Kernel buffers are memory too: what the
         * sandbox can pin must stay near its limit, whatever the process
         * count times RLIMIT_NOFILE allows. Stops at 1 GiB in total. */
        long limit = arg_long(2), total = 0, cap_total = 1L << 30;
        enum { WORKERS = 8 };
        int rep[2], rel[2], got = 0, killed = 0;
        pid_t kids[WORKERS];
        if (pipe2(rep, O_CLOEXEC) < 0 || pipe2(rel, O_CLOEXEC) < 0)
                return result(2, "pipe: %s", ename(errno));
        for (int i = 0; i < WORKERS; i++) {
                kids[i] = fork();
                if (kids[i] == 0) {
                        close(rep[0]);
                        close(rel[1]);
                        kbuf_worker(pipes, cap_total / WORKERS, rep[1], rel[0]);
                }
        }
        close(rep[1]);
        close(rel[0]);
        long held[WORKERS] = { 0 };
        for (long v[2]; got < WORKERS && read(rep[0], v, sizeof v) == sizeof v; got++)
                for (int i = 0; i < WORKERS; i++)
                        if (kids[i] == (pid_t) v[0])
                                held[i] = v[1];
        /* Count only what survivors hold until released: a worker that
         * reported and was OOM-killed afterwards gave its memory back. */
        close(rel[1]);
        for (int i = 0; i < WORKERS; i++) {
                int st;
                if (kids[i] <= 0 || waitpid(kids[i], &st, 0) != kids[i])
                        continue;
                if (WIFSIGNALED(st))
                        killed++;
                else if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
                        total += held[i];
        }
        close(rep[0]);
        return result(total > 2 * limit, "held=%ld MiB by %d workers (%d killed), limit %ld MiB", total >> 20,
                      WORKERS - killed, killed, limit >> 20);
}

static int c_sock_buf_bomb(void)
{
        return kbuf_bomb(false);
}

static int c_pipe_buf_bomb(void)
{
        return kbuf_bomb(true);
}

static int c_netlink_newlink(void)
{
        /* RTM_NEWLINK of kind "bridge" over the allowed NETLINK_ROUTE: needs
         * CAP_NET_ADMIN over our netns, and for an unknown kind the kernel
         * would autoload a module (rtnl-link-*) if the check came later. */
        struct {
                struct nlmsghdr nh;
                struct ifinfomsg ifi;
                char attrs[64];
        } req;
        char buf[4096];
        int s = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
        if (s < 0)
                return result(0, "socket:%s", ename(errno));
        memset(&req, 0, sizeof req);
        struct rtattr *li = (struct rtattr *) req.attrs, *kind;
        li->rta_type = IFLA_LINKINFO;
        kind = (struct rtattr *) ((char *) li + RTA_LENGTH(0));
        kind->rta_type = IFLA_INFO_KIND;
        kind->rta_len = RTA_LENGTH(7);
        memcpy(RTA_DATA(kind), "bridge", 7);
        li->rta_len = RTA_LENGTH(RTA_ALIGN(kind->rta_len));
        req.nh.nlmsg_len = NLMSG_LENGTH(sizeof req.ifi) + RTA_ALIGN(li->rta_len);
        req.nh.nlmsg_type = RTM_NEWLINK;
        req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;
        req.nh.nlmsg_seq = 1;
        req.ifi.ifi_family = AF_UNSPEC;
        if (send(s, &req, req.nh.nlmsg_len, 0) < 0) {
                int e = errno;
                close(s);
                return result(0, "send:%s", ename(e));
        }
        ssize_t n = recv(s, buf, sizeof buf, 0);
        close(s);
        if (n < (ssize_t) NLMSG_LENGTH(sizeof(struct nlmsgerr)))
                return result(2, "short netlink answer");
        struct nlmsghdr *h = (struct nlmsghdr *) buf;
        if (h->nlmsg_type != NLMSG_ERROR)
                return result(2, "unexpected netlink message %d", h->nlmsg_type);
        int err = ((struct nlmsgerr *) NLMSG_DATA(h))->error;
        if (err == 0)
                return result(1, "created a bridge link (CAP_NET_ADMIN)");
        return result(0, "%s", ename(-err));
}

static int c_tenant_a(void)
{
        /* Leave traces another sandbox must not see, then hold (stdin EOF). */
        struct sockaddr_un a = { .sun_family = AF_UNIX };
        int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        memcpy(a.sun_path + 1, "sfaasd-tenant", 13);
        if (s < 0 || bind(s, (struct sockaddr *) &a, (socklen_t) (offsetof(struct sockaddr_un, sun_path) + 14)) < 0 ||
            listen(s, 4) < 0)
                return result(2, "abstract bind: %s", ename(errno));
        if (syscall(SYS_shmget, 0x5fa5fa, 4096L, (long) (IPC_CREAT | 0666)) < 0)
                return result(2, "shmget: %s", ename(errno));
        int fd = open("/tmp/tenant-a", O_CREAT | O_WRONLY | O_CLOEXEC, 0666);
        if (fd < 0)
                return result(2, "create: %s", ename(errno));
        close(fd);
        return result(0, "traces-left");
}

static int c_tenant_b(void)
{
        struct sockaddr_un a = { .sun_family = AF_UNIX };
        int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        memcpy(a.sun_path + 1, "sfaasd-tenant", 13);
        if (connect(s, (struct sockaddr *) &a, (socklen_t) (offsetof(struct sockaddr_un, sun_path) + 14)) == 0)
                return result(1, "connected to the other sandbox's abstract socket");
        int e1 = errno;
        if (syscall(SYS_shmget, 0x5fa5fa, 0L, 0L) >= 0)
                return result(1, "saw the other sandbox's SysV shm segment");
        int e2 = errno;
        if (access("/tmp/tenant-a", F_OK) == 0)
                return result(1, "saw the other sandbox's /tmp");
        return result(0, "abstract:%s,shm:%s,tmp:ENOENT", ename(e1), ename(e2));
}

static int c_setfcap(void)
{
        /* Root inside without CAP_SETFCAP cannot give a file capabilities
         * (v2 xattr: cap_sys_admin effective+permitted), nor set trusted.*. */
        struct {
                uint32_t magic_etc;
                struct {
                        uint32_t permitted, inheritable;
                } data[2];
        } cap = { .magic_etc = 0x02000000 | 1 /* VFS_CAP_REVISION_2 | EFFECTIVE */,
                  .data = { { 1u << CAP_SYS_ADMIN, 0 }, { 0, 0 } } };
        int fd = open("/tmp/fcap", O_CREAT | O_WRONLY | O_CLOEXEC, 0755);
        if (fd < 0)
                return result(2, "create: %s", ename(errno));
        close(fd);
        long r1 = syscall(SYS_setxattr, "/tmp/fcap", "security.capability", &cap, sizeof cap, 0L);
        int e1 = errno;
        long r2 = syscall(SYS_setxattr, "/tmp/fcap", "trusted.probe", "x", 1L, 0L);
        int e2 = errno;
        if (r1 == 0 || r2 == 0)
                return result(1, "security.capability:%s trusted:%s", r1 ? ename(e1) : "OK", r2 ? ename(e2) : "OK");
        return result(0, "security.capability:%s,trusted:%s", ename(e1), ename(e2));
}

static int c_kill_all(void)
{
        /* kill(-1) reaches only our own pid namespace: other sandboxes of the
         * same host uid must survive it. The kernel spares the caller and
         * pid 1 (the sandbox init); a child of ours it does not. */
        int wfd = -1;
        pid_t pid = sleeper(&wfd);
        int r = kill(-1, SIGKILL), e = errno, st = 0;
        close(wfd);
        waitpid(pid, &st, 0);
        if (r != 0)
                return result(2, "kill(-1): %s", ename(e));
        return result(0, "kill(-1) sent, own child %s", WIFSIGNALED(st) ? "killed" : "survived");
}

static int c_init_pid1(void)
{
        /* pid 1 is the sandbox init: the function, same uid, can neither look
         * into it (non-dumpable, mm owned by the launcher's user namespace)
         * nor kill it; a signal it forwards comes back to us. */
        char t[256], detail[256];
        sigset_t set;
        struct timespec ts = { .tv_sec = 5 };
        int fd, bad = 0;
        size_t off = 0;
        ssize_t n = readlink("/proc/1/exe", t, sizeof t - 1);
        if (n >= 0) {
                t[n] = '\0';
                bad = 1;
                off += (size_t) snprintf(detail + off, sizeof detail - off, "exe:%s", t);
        } else
                off += (size_t) snprintf(detail + off, sizeof detail - off, "exe:%s", ename(errno));
        fd = open("/proc/1/mem", O_RDWR | O_CLOEXEC);
        off += (size_t) snprintf(detail + off, sizeof detail - off, ",mem:%s", fd >= 0 ? "OPEN" : ename(errno));
        if (fd >= 0) {
                bad = 1;
                close(fd);
        }
        fd = open("/proc/1/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        off += (size_t) snprintf(detail + off, sizeof detail - off, ",fd:%s", fd >= 0 ? "OPEN" : ename(errno));
        if (fd >= 0) {
                bad = 1;
                close(fd);
        }
        /* The kernel drops SIGKILL from inside to a namespace's init. */
        (void) kill(1, SIGKILL);
        if (kill(1, 0) != 0)
                bad = 1;
        off += (size_t) snprintf(detail + off, sizeof detail - off, ",kill9:%s", kill(1, 0) == 0 ? "survived" : "GONE");
        sigemptyset(&set);
        sigaddset(&set, SIGUSR1);
        sigprocmask(SIG_BLOCK, &set, NULL);
        (void) kill(1, SIGUSR1);
        int sig = sigtimedwait(&set, NULL, &ts);
        if (sig != SIGUSR1)
                bad = 1;
        off += (size_t) snprintf(detail + off, sizeof detail - off, ",usr1:%s",
                                 sig == SIGUSR1 ? "forwarded" : "lost");
        return result(bad, "%s", detail);
}

static int c_zombies(void)
{
        /* Orphans that end (grandchildren of ours, whose parent is gone) go
         * to pid 1 and must be reaped there: their /proc entries vanish. We
         * never wait for them ourselves. */
        int p[2];
        pid_t kids[3];
        if (pipe(p) < 0)
                return result(2, "pipe: %s", ename(errno));
        pid_t pid = fork();
        if (pid == 0) {
                for (int i = 0; i < 3; i++) {
                        pid_t g = fork();
                        if (g == 0)
                                _exit(0);
                        (void) write(p[1], &g, sizeof g);
                }
                _exit(0);
        }
        close(p[1]);
        waitpid(pid, NULL, 0);
        if (read(p[0], kids, sizeof kids) != (ssize_t) sizeof kids)
                return result(2, "no grandchild pids");
        for (int tries = 0; tries < 5000; tries++) {
                int left = 0;
                char path[64];
                for (int i = 0; i < 3; i++) {
                        snprintf(path, sizeof path, "/proc/%d", (int) kids[i]);
                        if (access(path, F_OK) == 0)
                                left++;
                }
                if (left == 0)
                        return result(0, "reaped=3");
                usleep(1000);
        }
        return result(1, "orphans left as zombies (pid 1 does not reap)");
}

/* ================= table ================= */

struct pcase {
        const char *name;
        int (*fn)(void);
};

static const struct pcase cases[] = {
        /* privileged syscalls */
        { "mount", c_mount },
        { "mount_proc", c_mount_proc },
        { "umount_proc", c_umount_proc },
        { "umount_mask", c_umount_mask },
        { "remount_root_rw", c_remount_root_rw },
        { "remount_procsys_rw", c_remount_procsys_rw },
        { "pivot_root", c_pivot_root },
        { "chroot", c_chroot },
        { "ptrace_traceme", c_ptrace_traceme },
        { "ptrace_attach", c_ptrace_attach },
        { "process_vm_readv", c_process_vm_readv },
        { "pidfd_getfd", c_pidfd_getfd },
        { "bpf", c_bpf },
        { "perf_event_open", c_perf_event_open },
        { "keyctl", c_keyctl },
        { "add_key", c_add_key },
        { "request_key", c_request_key },
        { "io_uring_setup", c_io_uring_setup },
        { "userfaultfd", c_userfaultfd },
        { "init_module", c_init_module },
        { "finit_module", c_finit_module },
        { "delete_module", c_delete_module },
        { "kexec_load", c_kexec_load },
        { "kexec_file_load", c_kexec_file_load },
        { "unshare_user", c_unshare_user },
        { "unshare_ns", c_unshare_ns },
        { "unshare_net", c_unshare_net },
        { "clone_newuser", c_clone_newuser },
        { "clone_ns_flags", c_clone_ns_flags },
        { "clone_hibits", c_clone_hibits },
        { "clone3_newuser", c_clone3_newuser },
        { "setns", c_setns },
        { "open_by_handle_at", c_open_by_handle_at },
        { "name_to_handle_at", c_name_to_handle_at },
        { "reboot", c_reboot },
        { "swapon", c_swapon },
        { "acct", c_acct },
        { "sethostname", c_sethostname },
        { "setdomainname", c_setdomainname },
        { "settimeofday", c_settimeofday },
        { "clock_settime", c_clock_settime },
        { "adjtimex", c_adjtimex },
        { "mknod_chardev", c_mknod_chardev },
        { "fsopen", c_fsopen },
        { "open_tree", c_open_tree },
        { "move_mount", c_move_mount },
        { "mount_setattr", c_mount_setattr },
        { "fspick", c_fspick },
        { "syslog", c_syslog },
        { "iopl", c_iopl },
        { "ioperm", c_ioperm },
        { "quotactl", c_quotactl },
        { "unknown_syscall", c_unknown_syscall },
        /* ABI and argument tricks */
        { "int80_getpid", c_int80_getpid },
        { "int80_mount", c_int80_mount },
        { "x32_getpid", c_x32_getpid },
        { "nr_hibits", c_nr_hibits },
        { "tiocsti", c_tiocsti },
        { "tiocsti_hibits", c_tiocsti_hibits },
        { "tioclinux", c_tioclinux },
        { "personality_rie", c_personality_rie },
        { "personality_norandom", c_personality_norandom },
        { "personality_hibits", c_personality_hibits },
        { "sock_netlink_audit", c_sock_netlink_audit },
        { "sock_netlink_hibits", c_sock_netlink_hibits },
        { "sock_packet", c_sock_packet },
        { "sock_packet_hibits", c_sock_packet_hibits },
        { "sock_vsock", c_sock_vsock },
        { "sock_alg", c_sock_alg },
        { "sock_raw", c_sock_raw },
        { "tcp_ulp", c_tcp_ulp },
        { "tcp_ulp_hibits", c_tcp_ulp_hibits },
        /* procfs, sysfs, devices */
        { "proc_kcore", c_proc_kcore },
        { "proc_keys", c_proc_keys },
        { "proc_timer_list", c_proc_timer_list },
        { "proc_sched_debug", c_proc_sched_debug },
        { "proc_kmsg", c_proc_kmsg },
        { "proc_kallsyms", c_proc_kallsyms },
        { "proc_kernel_addrs", c_proc_kernel_addrs },
        { "proc_sysrq", c_proc_sysrq },
        { "proc_sys_hostname", c_proc_sys_hostname },
        { "proc_core_pattern", c_proc_core_pattern },
        { "proc_max_userns_raise", c_proc_max_userns_raise },
        { "proc_self_exe_write", c_proc_self_exe_write },
        { "sys_absent", c_sys_absent },
        { "dev_list", c_dev_list },
        { "dev_absent", c_dev_absent },
        { "dev_null_works", c_dev_null_works },
        { "dev_create", c_dev_create },
        { "rootfs_readonly", c_rootfs_readonly },
        { "devshm_noexec", c_devshm_noexec },
        { "open_path", c_open_path },
        /* setuid and capabilities */
        { "capget", c_capget },
        { "status_caps", c_status_caps },
        { "status_nnp_seccomp", c_status_nnp_seccomp },
        { "securebits", c_securebits },
        { "ambient_raise", c_ambient_raise },
        { "capset_raise", c_capset_raise },
        { "setuid_root", c_setuid_root },
        { "root_no_setuid", c_root_no_setuid },
        { "suid_exec", c_suid_exec },
        { "fcap_exec", c_fcap_exec },
        { "dac_override", c_dac_override },
        { "chown_nocap", c_chown_nocap },
        { "setfcap", c_setfcap },
        { "kill_all", c_kill_all },
        { "rootfs_owner", c_rootfs_owner },
        { "_ids", c_ids },
        { "_exit_true", c_exit_true },
        { "exit_code", c_exit_code },
        { "int80_self", c_int80_self },
        /* fd and cwd leaks */
        { "fd_scan", c_fd_scan },
        { "cwd_dotdot", c_cwd_dotdot },
        { "stdio_dir", c_stdio_dir },
        { "cwd_inside", c_cwd_inside },
        { "proc_root_links", c_proc_root_links },
        { "host_path", c_host_path },
        /* terminal */
        { "isatty", c_isatty },
        { "new_session", c_new_session },
        /* network */
        { "net_ifaces", c_net_ifaces },
        { "connect_loopback", c_connect_loopback },
        { "connect_host_ip", c_connect_host_ip },
        { "connect_metadata", c_connect_metadata },
        { "abstract_unix", c_abstract_unix },
        { "proc_net_tcp", c_proc_net_tcp },
        { "net_admin", c_net_admin },
        { "netlink_newlink", c_netlink_newlink },
        { "tenant_a", c_tenant_a },
        { "tenant_b", c_tenant_b },
        /* resource bombs */
        { "fork_bomb", c_fork_bomb },
        { "mem_bomb", c_mem_bomb },
        { "tmp_fill", c_tmp_fill },
        { "shm_fill", c_shm_fill },
        { "tmp_inodes", c_tmp_inodes },
        { "fd_bomb", c_fd_bomb },
        { "rlimits", c_rlimits },
        { "fsize", c_fsize },
        { "cpu_spin", c_cpu_spin },
        { "cpu_spin_forks", c_cpu_spin_forks },
        { "orphan", c_orphan },
        { "cpu_quota", c_cpu_quota },
        { "core_dump", c_core_dump },
        { "sock_buf_bomb", c_sock_buf_bomb },
        { "pipe_buf_bomb", c_pipe_buf_bomb },
        { "oom_score_adj", c_oom_score_adj },
        { "nice_raise", c_nice_raise },
        { "rt_sched", c_rt_sched },
        { "ioprio_rt", c_ioprio_rt },
        { "mlock_limit", c_mlock_limit },
        { "bind_ro", c_bind_ro },
        /* information leaks */
        { "hostname", c_hostname },
        { "uid_map", c_uid_map },
        { "cgroup_ns", c_cgroup_ns },
        { "mountinfo_no_host_path", c_mountinfo_no_host_path },
        { "env_leak", c_env_leak },
        { "pid_ns", c_pid_ns },
        { "init_pid1", c_init_pid1 },
        { "zombies", c_zombies },
        { "launcher_not_inside", c_launcher_not_inside },
        { "proc_cpuinfo", c_proc_cpuinfo },
        /* namespace lockdown */
        { "max_userns", c_max_userns },
};

static void hold(void)
{
        const char *h = getenv("PROBE_HOLD");
        char buf[256];
        if (!h || strcmp(h, "1") != 0)
                return;
        while (read(0, buf, sizeof buf) > 0 || errno == EINTR)
                ;
}

int main(int argc, char **argv)
{
        g_argc = argc;
        g_argv = argv;
        if (argc < 2) {
                fprintf(stderr, "usage: probe CASE [ARG...]\n       probe --list\n");
                return 2;
        }
        if (strcmp(argv[1], "--list") == 0) {
                for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
                        if (cases[i].name[0] != '_')
                                printf("%s\n", cases[i].name);
                return 0;
        }
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
                if (strcmp(cases[i].name, argv[1]) == 0) {
                        g_case = cases[i].name;
                        int r = cases[i].fn();
                        hold();
                        return r;
                }
        g_case = argv[1];
        result(2, "unknown case");
        return 2;
}
