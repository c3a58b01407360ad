/* SPDX-License-Identifier: MIT */
/*
 * Sandbox launcher tests: real sandboxes in a busybox rootfs built by the
 * test itself in a temporary directory. Need root (skipped otherwise).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/base/cleanup.h"
#include "core/base/util.h"
#include "sandbox/internal.h"
#include "sandbox/sandbox.h"
#include "tests/unit/helpers.h"

#include <linux/seccomp.h>
#include <sys/ioctl.h>
#include <net/if.h>
#include <netinet/tcp.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sched.h>

#define UID_BASE (1u << 30)

struct fixture {
        char root[PATH_MAX];
        struct sandbox_launcher *l;
};

static int make_rootfs(char *root, size_t size)
{
        static const char *const extra[] = { "var", "var/secrets", NULL };
        static const char *const applets[] = {
                "sh", "true", "false", "id", "cat", "sleep", "ls", "echo", "touch", "dd", "test", "mount",
                "unshare", "readlink", "hostname", "grep", "wc", "ip", NULL,
        };
        return test_make_rootfs(root, size, "rootfs", extra, applets);
}

static int setup(void **state)
{
        struct fixture *f;
        struct sandbox_launcher_config cfg = { .cgroup_subtree = NULL };
        struct sf_err err = { 0 };
        char name[64];

        if (geteuid() != 0) {
                print_message("skipping: sandbox tests need root\n");
                skip();
        }
        if (access("/bin/busybox", X_OK) < 0) {
                print_message("skipping: /bin/busybox (busybox-static) is missing\n");
                skip();
        }
        f = calloc(1, sizeof *f);
        assert_non_null(f);
        assert_int_equal(make_rootfs(f->root, sizeof f->root), 0);
        (void) xsnprintf(name, sizeof name, "sfaasd-test-%d", (int) getpid());
        cfg.cgroup_subtree = name;
        if (sandbox_launcher_new(&cfg, &f->l, &err) < 0)
                fail_msg("launcher: %s", err.msg);
        *state = f;
        return 0;
}

static int teardown(void **state)
{
        struct fixture *f = *state;
        if (!f)
                return 0;
        sandbox_launcher_free(f->l);
        (void) rm_rf_at(AT_FDCWD, f->root);
        free(f);
        return 0;
}

static char *env_default[] = { "PATH=/bin", "HOME=/", NULL };

static struct sandbox_spec base_spec(struct fixture *f, char **argv)
{
        struct sandbox_spec s = {
                .rootfs = f->root, .argv = argv, .envp = env_default, .uid_base = UID_BASE,
                .stdio = { -1, -1, -1 },
        };
        return s;
}

/* Run to completion; stdout and stderr captured into out (NUL-terminated). */
static int run_capture(struct fixture *f, struct sandbox_spec *s, char *out, size_t size, int *ret_status,
                       struct sf_err *err)
{
        int p[2], r, status = 0;
        size_t len = 0;
        ssize_t n;
        struct sandbox *sb = NULL;
        bool to;

        assert_int_equal(pipe2(p, O_CLOEXEC), 0);
        s->stdio[1] = p[1];
        s->stdio[2] = p[1];
        r = sandbox_spawn(f->l, s, &sb, err);
        (void) close(p[1]);
        if (r < 0) {
                (void) close(p[0]);
                return r;
        }
        while (len + 1 < size && (n = read(p[0], out + len, size - 1 - len)) > 0)
                len += (size_t) n;
        out[len] = '\0';
        (void) close(p[0]);
        assert_int_equal(sandbox_wait(sb, &status, &to), 0);
        sandbox_free(sb);
        *ret_status = status;
        return 0;
}

static void test_true_exits_zero(void **state)
{
        struct fixture *f = *state;
        char *argv[] = { "/bin/true", NULL };
        struct sandbox_spec s = base_spec(f, argv);
        struct sandbox *sb = NULL;
        struct sf_err err = { 0 };
        int status = -1;
        bool to = true;

        if (sandbox_spawn(f->l, &s, &sb, &err) < 0)
                fail_msg("spawn: %s", err.msg);
        assert_true(sandbox_pid(sb) > 0);
        assert_true(sandbox_pidfd(sb) >= 0);
        assert_int_equal(sandbox_wait(sb, &status, &to), 0);
        assert_false(to);
        assert_true(WIFEXITED(status));
        assert_int_equal(sandbox_exit_code(status), 0);
        sandbox_free(sb);
}

static void test_exit_code_and_signal(void **state)
{
        struct fixture *f = *state;
        char *argv[] = { "sh", "-c", "exit 7", NULL };
        char *argv2[] = { "sleep", "30", NULL };
        struct sandbox_spec s = base_spec(f, argv);
        struct sandbox *sb = NULL;
        struct sf_err err = { 0 };
        int status = -1;
        bool to;

        if (sandbox_spawn(f->l, &s, &sb, &err) < 0)
                fail_msg("spawn: %s", err.msg);
        assert_int_equal(sandbox_wait(sb, &status, &to), 0);
        assert_int_equal(sandbox_exit_code(status), 7);
        sandbox_free(sb);

        s = base_spec(f, argv2);
        if (sandbox_spawn(f->l, &s, &sb, &err) < 0)
                fail_msg("spawn: %s", err.msg);
        assert_int_equal(sandbox_reap(sb, &status), -EAGAIN);
        assert_int_equal(sandbox_kill(sb), 0);
        assert_int_equal(sandbox_wait(sb, &status, &to), 0);
        assert_true(WIFSIGNALED(status));
        assert_int_equal(WTERMSIG(status), SIGKILL);
        assert_int_equal(sandbox_exit_code(status), 128 + SIGKILL);
        assert_int_equal(sandbox_kill(sb), 0); /* idempotent */
        sandbox_free(sb);

        assert_int_equal(sandbox_exit_code(3 << 8), 3);
        assert_int_equal(sandbox_exit_code(SIGTERM), 128 + SIGTERM);
}

static void test_uid_inside_and_host_view(void **state)
{
        struct fixture *f = *state;
        char *argv[] = { "id", NULL };
        char *argv2[] = { "sleep", "30", NULL };
        struct sandbox_spec s = base_spec(f, argv);
        struct sandbox *sb = NULL;
        struct sf_err err = { 0 };
        _cleanup_free_ char *st = NULL;
        char out[4096], path[64], want[64];
        int status;

        if (run_capture(f, &s, out, sizeof out, &status, &err) < 0)
                fail_msg("spawn: %s", err.msg);
        assert_int_equal(sandbox_exit_code(status), 0);
        assert_non_null(strstr(out, "uid=0 gid=0"));

        s = base_spec(f, argv2);
        if (sandbox_spawn(f->l, &s, &sb, &err) < 0)
                fail_msg("spawn: %s", err.msg);
        (void) xsnprintf(path, sizeof path, "/proc/%d/status", (int) sandbox_pid(sb));
        assert_int_equal(read_file_at(AT_FDCWD, path, 1 << 16, &st, NULL), 0);
        (void) xsnprintf(want, sizeof want, "\nUid:\t%u\t%u\t%u\t%u\n", UID_BASE, UID_BASE, UID_BASE, UID_BASE);
        assert_non_null(strstr(st, want));
        assert_non_null(strstr(st, "\nCapEff:\t0000000000000000\n"));
        assert_non_null(strstr(st, "\nNoNewPrivs:\t1\n"));
        assert_non_null(strstr(st, "\nSeccomp:\t2\n"));
        sandbox_free(sb);

        /* host root is never mapped */
        s = base_spec(f, argv);
        s.uid_base = 0;
        assert_int_equal(sandbox_spawn(f->l, &s, &sb, &err), -EPERM);
}

static void test_rootfs_read_only(void **state)
{
        struct fixture *f = *state;
        char *argv[] = { "sh", "-c", "touch /newfile; touch /bin/newfile", NULL };
        struct sandbox_spec s = base_spec(f, argv);
        struct sf_err err = { 0 };
        char out[4096], p[PATH_MAX];
        int status;

        if (run_capture(f, &s, out, sizeof out, &status, &err) < 0)
                fail_msg("spawn: %s", err.msg);
        assert_int_not_equal(sandbox_exit_code(status), 0);
        assert_non_null(strstr(out, "Read-only file system"));
        (void) xsnprintf(p, sizeof p, "%s/newfile", f->root);
        assert_int_equal(access(p, F_OK), -1);
}

static void test_tmp_writable_with_cap(void **state)
{
        struct fixture *f = *state;
        char *argv[] = { "sh", "-c", "echo hello > /tmp/a && cat /tmp/a", NULL };
        char *argv2[] = { "sh", "-c", "dd if=/dev/zero of=/tmp/big bs=1024 count=4096", NULL };
        struct sandbox_spec s = base_spec(f, argv);
        struct sf_err err = { 0 };
        char out[4096];
        int status;

        s.limits.tmpfs_bytes = 1 << 20;
        if (run_capture(f, &s, out, sizeof out, &status, &err) < 0)
                fail_msg("spawn: %s", err.msg);
        assert_int_equal(sandbox_exit_code(status), 0);
        assert_string_equal(out, "hello\n");

        s = base_spec(f, argv2);
        s.limits.tmpfs_bytes = 1 << 20;
        s.limits.fsize = 8 << 20; /* so the tmpfs size, not RLIMIT_FSIZE, stops dd */
        if (run_capture(f, &s, out, sizeof out, &status, &err) < 0)
                fail_msg("spawn: %s", err.msg);
        assert_int_not_equal(sandbox_exit_code(status), 0);
        assert_non_null(strstr(out, "No space left on device"));
}

static void test_timeout_kills(void **state)
{
        struct fixture *f = *state;
        /* a background child too: the whole pid namespace must die */
        char *argv[] = { "sh", "-c", "sleep 60 & sleep 60", NULL };
        struct sandbox_spec s = base_spec(f, argv);
        struct sandbox *sb = NULL;
        struct sf_err err = { 0 };
        int status;
        bool to = false;
        uint64_t t0 = now_ns();

        s.limits.timeout_ms = 200;
        if (sandbox_spawn(f->l, &s, &sb, &err) < 0)
                fail_msg("spawn: %s", err.msg);
        assert_int_equal(sandbox_wait(sb, &status, &to), 0);
        assert_true(to);
        assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        assert_true(now_ns() - t0 < 5000000000ULL);
        sandbox_free(sb);
}

static void test_missing_command_reports_step(void **state)
{
        struct fixture *f = *state;
        char *argv[] = { "/bin/does-not-exist", NULL };
        char *argv2[] = { "does-not-exist", NULL };
        struct sandbox_spec s = base_spec(f, argv);
        struct sandbox *sb = NULL;
        struct sf_err err = { 0 };

        assert_int_equal(sandbox_spawn(f->l, &s, &sb, &err), -ENOENT);
        assert_null(sb);
        assert_int_equal(err.code, -ENOENT);
        assert_non_null(strstr(err.msg, "execve"));
        assert_non_null(strstr(err.msg, "No such file or directory"));

        s = base_spec(f, argv2);
        assert_int_equal(sandbox_spawn(f->l, &s, &sb, &err), -ENOENT);
        assert_non_null(strstr(err.msg, "execve"));

        s = base_spec(f, argv2);
        s.workdir = "/no/such/dir";
        argv2[0] = "true";
        assert_int_equal(sandbox_spawn(f->l, &s, &sb, &err), -ENOENT);
        assert_non_null(strstr(err.msg, "working directory"));
}

static void test_no_fd_leak(void **state)
{
        struct fixture *f = *state;
        char *argv[] = { "sh", "-c", "for n in 3 4 5 50; do test -e /proc/self/fd/$n && echo LEAK$n; done; echo done",
                         NULL };
        struct sandbox_spec s = base_spec(f, argv);
        struct sf_err err = { 0 };
        char out[4096];
        int status, fd, leak;

        fd = open("/etc/passwd", O_RDONLY); /* deliberately without O_CLOEXEC */
        assert_true(fd >= 0);
        leak = dup2(fd, 50);
        assert_int_equal(leak, 50);
        if (run_capture(f, &s, out, sizeof out, &status, &err) < 0)
                fail_msg("spawn: %s", err.msg);
        (void) close(fd);
        (void) close(leak);
        assert_int_equal(sandbox_exit_code(status), 0);
        assert_string_equal(out, "done\n");
}

static void test_policy_denials(void **state)
{
        struct fixture *f = *state;
        char *argv[] = { "sh", "-c",
                         "unshare -U true && echo UNSHARE; mount -t tmpfs x /tmp && echo MOUNT; "
                         "test -e /sys/kernel && echo SYS; hostname; readlink /dev/stdin; echo end",
                         NULL };
        struct sandbox_spec s = base_spec(f, argv);
        struct sf_err err = { 0 };
        char out[4096];
        int status;

        if (run_capture(f, &s, out, sizeof out, &status, &err) < 0)
                fail_msg("spawn: %s", err.msg);
        assert_null(strstr(out, "UNSHARE"));
        assert_null(strstr(out, "MOUNT"));
        assert_null(strstr(out, "SYS"));
        assert_non_null(strstr(out, "sandbox\n"));
        assert_non_null(strstr(out, "end\n"));
}

static void test_terminal_refused(void **state)
{
        struct fixture *f = *state;
        char *argv[] = { "true", NULL };
        struct sandbox_spec s = base_spec(f, argv);
        struct sandbox *sb = NULL;
        struct sf_err err = { 0 };
        int fd = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);

        if (fd < 0)
                skip();
        s.stdio[0] = fd;
        assert_int_equal(sandbox_spawn(f->l, &s, &sb, &err), -ENOTTY);
        (void) close(fd);
}

static void test_netns_loopback_only(void **state)
{
        struct fixture *f = *state;
        char *argv[] = { "sh", "-c", "ip -o link; ip link set lo down && echo DOWN; echo end", NULL };
        struct sandbox_launcher_config cfg = { .netns_pool = true, .no_cgroups = true };
        struct sandbox_launcher *pooled = NULL;
        struct sandbox_spec s = base_spec(f, argv);
        struct sf_err err = { 0 };
        char out[4096];
        int status;

        /* own netns: only lo, and up */
        if (run_capture(f, &s, out, sizeof out, &status, &err) < 0)
                fail_msg("spawn: %s", err.msg);
        assert_non_null(strstr(out, "1: lo: <LOOPBACK,UP"));
        assert_null(strstr(out, "2: "));

        /* pooled netns: the same view, and not reconfigurable from inside */
        if (sandbox_launcher_new(&cfg, &pooled, &err) < 0)
                fail_msg("launcher: %s", err.msg);
        for (int i = 0; i < 3; i++) {
                struct sandbox_launcher *saved = f->l;
                f->l = pooled;
                s = base_spec(f, argv);
                if (run_capture(f, &s, out, sizeof out, &status, &err) < 0)
                        fail_msg("spawn: %s", err.msg);
                f->l = saved;
                assert_non_null(strstr(out, "1: lo: <LOOPBACK,UP"));
                assert_null(strstr(out, "2: "));
                assert_null(strstr(out, "DOWN"));
        }
        sandbox_launcher_free(pooled);
}

/* Whether the network namespace of fd has loopback up (asked from a child
 * that enters it: this thread stays where it is). */
static bool netns_loopback_up(int fd)
{
        int status;
        pid_t pid = fork();

        assert_true(pid >= 0);
        if (pid == 0) {
                struct ifreq ifr = { .ifr_name = "lo" };
                int s;
                if (setns(fd, CLONE_NEWNET) < 0 || (s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0 ||
                    ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
                        _exit(2);
                _exit(ifr.ifr_flags & IFF_UP ? 0 : 1);
        }
        assert_int_equal(waitpid(pid, &status, 0), pid);
        return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static ino_t ino_of_fd(int fd)
{
        struct stat st;
        assert_int_equal(fstat(fd, &st), 0);
        return st.st_ino;
}

/* The sandbox keeps its network namespace for the daemon (sandbox_netns_fd:
 * no /proc/PID/ns/net of a non-dumpable init, which needs CAP_SYS_PTRACE),
 * from the pool or, when the pool has none ready, made on the spot the same
 * way; a launcher without the pool has none to give. */
static void test_netns_fd(void **state)
{
        struct fixture *f = *state;
        char *argv[] = { "sleep", "30", NULL };
        struct sandbox_launcher_config cfg = { .netns_pool = true, .no_cgroups = true };
        struct sandbox_launcher *pooled = NULL;
        struct sandbox_spec s = base_spec(f, argv);
        struct sandbox *sb = NULL;
        struct sf_err err = { 0 };
        char path[64];
        struct stat st;
        int own, made;

        if (sandbox_launcher_new(&cfg, &pooled, &err) < 0)
                fail_msg("launcher: %s", err.msg);
        if (sandbox_spawn(pooled, &s, &sb, &err) < 0)
                fail_msg("spawn: %s", err.msg);
        assert_true(sandbox_netns_fd(sb) >= 0);
        (void) xsnprintf(path, sizeof path, "/proc/%d/ns/net", (int) sandbox_pid(sb));
        assert_int_equal(stat(path, &st), 0);
        assert_true(st.st_ino == ino_of_fd(sandbox_netns_fd(sb)));
        assert_true(netns_loopback_up(sandbox_netns_fd(sb)));
        sandbox_free(sb);
        sandbox_launcher_free(pooled);

        s = base_spec(f, argv);
        if (sandbox_spawn(f->l, &s, &sb, &err) < 0)
                fail_msg("spawn: %s", err.msg);
        assert_int_equal(sandbox_netns_fd(sb), -1);
        sandbox_free(sb);

        /* the pool's fallback: a new netns, loopback up, and this thread back home */
        own = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
        assert_true(own >= 0);
        made = sb_netns_make();
        assert_true(made >= 0);
        assert_true(ino_of_fd(made) != ino_of_fd(own));
        assert_int_equal(stat("/proc/thread-self/ns/net", &st), 0);
        assert_true(st.st_ino == ino_of_fd(own));
        assert_true(netns_loopback_up(made));
        (void) close(made);
        (void) close(own);
}

static void test_cgroup_limits(void **state)
{
        struct fixture *f = *state;
        /* pid 1 exits on the failed fork; the pid namespace takes the sleeps */
        char *argv[] = { "sh", "-c", "for i in 1 2 3 4 5 6 7 8 9 10; do sleep 5 & done", NULL };
        struct sandbox_spec s = base_spec(f, argv);
        struct sf_err err = { 0 };
        char out[8192];
        int status;

        s.limits.pids = 4;
        if (run_capture(f, &s, out, sizeof out, &status, &err) < 0)
                fail_msg("spawn: %s", err.msg);
        assert_non_null(strstr(out, "can't fork"));
        assert_int_not_equal(sandbox_exit_code(status), 0);
}

static void test_secret_binds(void **state)
{
        struct fixture *f = *state;
        char *argv[] = { "sh", "-c",
                         "cat /var/openfaas/secrets/token; test -d /var/secrets && echo MIRRORED; "
                         "echo x > /var/openfaas/secrets/token || echo RO; touch /var/new || echo RO2",
                         NULL };
        struct sandbox_spec s = base_spec(f, argv);
        struct sandbox_bind b[1];
        struct sf_err err = { 0 };
        char out[4096], src[PATH_MAX], p[PATH_MAX];
        int status;

        (void) xsnprintf(src, sizeof src, "%s.secret", f->root);
        assert_int_equal(write_file_atomic(AT_FDCWD, src, "s3cret\n", 7, 0400), 0);
        b[0] = (struct sandbox_bind) { .src = src, .dst = "/var/openfaas/secrets/token" };
        s.binds = b;
        s.n_binds = 1;
        if (run_capture(f, &s, out, sizeof out, &status, &err) < 0)
                fail_msg("spawn: %s", err.msg);
        (void) unlink(src);
        assert_non_null(strstr(out, "s3cret\n"));
        assert_non_null(strstr(out, "MIRRORED\n"));
        assert_non_null(strstr(out, "RO\n"));
        assert_non_null(strstr(out, "RO2\n"));
        (void) xsnprintf(p, sizeof p, "%s/var/openfaas", f->root);
        assert_int_equal(access(p, F_OK), -1); /* nothing written to the shared rootfs */
}

/* Load the launcher's compiled policy in a forked child and report what the
 * kernel answers; no rootfs needed. Exit codes: 0 all as expected, 10+N the
 * N-th check failed; death by SIGSYS is the expected end of the last check. */
static int policy_child(const struct sock_fprog *prog, int mode)
{
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, prog) < 0)
                return 2;
        if (mode == 1) {
                /* x32 ABI number for getpid: must be killed, never answered */
                (void) syscall(0x40000000 | SYS_getpid);
                return 3;
        }
        if (mode == 2) {
                long r;
                /* i386 int 0x80 getpid (20): wrong architecture, killed */
                __asm__ volatile("int $0x80" : "=a"(r) : "a"(20L) : "memory");
                return 4;
        }
        if (syscall(SYS_getpid) <= 0) return 10;
        if (syscall(SYS_clone3, NULL, 0) != -1 || errno != ENOSYS) return 11;
        if (unshare(CLONE_NEWUSER) != -1 || errno != EPERM) return 12;
        if (syscall(SYS_mount, "x", "/tmp", "tmpfs", 0, NULL) != -1 || errno != EPERM) return 13;
        if (syscall(SYS_ioctl, 0, TIOCSTI, "x") != -1 || errno != EPERM) return 14;
        if (syscall(SYS_ioctl, 0, 0x100000000UL | TIOCSTI, "x") != -1 || errno != EPERM) return 15;
        if (socket(AF_PACKET, SOCK_RAW, 0) != -1 || errno != EAFNOSUPPORT) return 16;
        if (socket(AF_NETLINK, SOCK_RAW, 9 /* NETLINK_AUDIT */) != -1 || errno != EAFNOSUPPORT) return 17;
        int s = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, 0 /* NETLINK_ROUTE */);
        if (s < 0) return 18;
        (void) close(s);
        s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (s < 0) return 19;
        (void) close(s);
        if (personality(0xffffffff) == -1) return 20;
        if (personality(ADDR_NO_RANDOMIZE) != -1 || errno != EPERM) return 21;
        if (syscall(SYS_clone, CLONE_NEWNET | SIGCHLD, 0, 0, 0, 0) != -1 || errno != EPERM) return 22;
        if (syscall(SYS_bpf, 0, NULL, 0) != -1 || errno != EPERM) return 23;
        if (syscall(SYS_io_uring_setup, 1, NULL) != -1 || errno != EPERM) return 24;
        if (syscall(SYS_ptrace, 0, 0, 0, 0) != -1 || errno != EPERM) return 25;
        if (syscall(SYS_afs_syscall) != -1 || errno != ENOSYS) return 26;
        /* kernel TLS: setsockopt(SOL_TCP, TCP_ULP) refused, other TCP options not */
        s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (s < 0) return 28;
        if (setsockopt(s, SOL_TCP, TCP_ULP, "tls", 3) != -1 || errno != EPERM) return 29;
        if (syscall(SYS_setsockopt, s, 0xffffffff00000000L | SOL_TCP, 0x100000000L | TCP_ULP, "tls", 3L) != -1 ||
            errno != EPERM) return 30;
        {
                int one = 1;
                if (setsockopt(s, SOL_TCP, TCP_NODELAY, &one, sizeof one) < 0) return 31;
        }
        (void) close(s);
        pid_t pid = fork(); /* clone without namespace flags still works */
        if (pid < 0) return 27;
        if (pid == 0) _exit(0);
        (void) waitpid(pid, NULL, 0);
        return 0;
}

/* The launcher attaches the program generated at build time; it must be
 * exactly what the policy source compiles to now, and behave as intended. */
static void test_seccomp_policy(void **state)
{
        struct sock_filter *insns = NULL;
        struct sock_fprog prog;
        struct sf_err err = { 0 };
        size_t n = 0;
        (void) state;

        if (sb_seccomp_compile(&insns, &n, &err) < 0)
                fail_msg("compile: %s", err.msg);
        if (sb_seccomp_builtin(&prog, &err) < 0)
                fail_msg("built-in program: %s", err.msg);
        assert_int_equal(sb_seccomp_policy_arch, SB_AUDIT_ARCH);
        assert_int_equal(prog.len, n);
        assert_memory_equal(prog.filter, insns, n * sizeof *insns);
        free(insns);
        assert_int_equal(sandbox_seccomp_probe(&n, &err), 0);
        assert_int_equal(n, prog.len);

        for (int mode = 0; mode < 3; mode++) {
                int status;
                pid_t pid = fork();
                assert_true(pid >= 0);
                if (pid == 0)
                        _exit(policy_child(&prog, mode));
                assert_int_equal(waitpid(pid, &status, 0), pid);
                if (mode == 0) {
                        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                                fail_msg("policy check failed: status %#x", status);
                } else {
                        if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGSYS)
                                fail_msg("mode %d: expected SIGSYS, status %#x", mode, status);
                }
        }
}

/* The cgroup directories a launcher uses: the hierarchy's own dirs. */
static int own_cgroup_dirs(char *dirs[SB_CTRL_MAX_], bool *v2)
{
        struct sb_cgroup_root root;
        struct sf_err err = { 0 };
        int n = 0;

        if (sb_cgroup_detect(&root, &err) < 0)
                return -1;
        *v2 = root.mode == SB_CGROUP_V2;
        for (int c = 0; c < SB_CTRL_MAX_; c++) {
                const char *d = *v2 ? (c == 0 ? root.own_v2 : NULL) : root.own[c];
                dirs[c] = d ? strdup(d) : NULL;
                n += d != NULL;
        }
        sb_cgroup_root_release(&root);
        return n;
}

static bool dir_exists(const char *base, const char *name)
{
        char p[PATH_MAX];
        (void) xsnprintf(p, sizeof p, "%s/%s", base, name);
        return access(p, F_OK) == 0;
}

/* sandbox_launcher_free removes everything it made, group (tenant)
 * directories included, in every hierarchy. */
static void test_launcher_free_removes_groups(void **state)
{
        struct fixture *f = *state;
        struct sandbox_launcher_config cfg = { 0 };
        struct sandbox_launcher *l = NULL, *saved = f->l;
        char *argv[] = { "true", NULL }, *dirs[SB_CTRL_MAX_] = { NULL };
        struct sandbox_spec s = base_spec(f, argv);
        struct sf_err err = { 0 };
        char name[64], out[256];
        bool v2;
        int status;

        assert_true(own_cgroup_dirs(dirs, &v2) > 0);
        (void) xsnprintf(name, sizeof name, "sfaasd-test-free-%d", (int) getpid());
        cfg.cgroup_subtree = name;
        if (sandbox_launcher_new(&cfg, &l, &err) < 0)
                fail_msg("launcher: %s", err.msg);
        s.group = "tenant-a";
        f->l = l;
        if (run_capture(f, &s, out, sizeof out, &status, &err) < 0)
                fail_msg("spawn: %s", err.msg);
        s.group = "tenant-b";
        if (run_capture(f, &s, out, sizeof out, &status, &err) < 0)
                fail_msg("spawn: %s", err.msg);
        f->l = saved;
        for (int c = 0; c < SB_CTRL_MAX_; c++)
                if (dirs[c]) {
                        char g[128];
                        (void) xsnprintf(g, sizeof g, "%s/tenant-a", name);
                        assert_true(dir_exists(dirs[c], g));
                }
        sandbox_launcher_free(l);
        for (int c = 0; c < SB_CTRL_MAX_; c++) {
                if (dirs[c] && dir_exists(dirs[c], name))
                        fail_msg("'%s/%s' left behind", dirs[c], name);
                free(dirs[c]);
        }
}

/* A daemon killed with SIGKILL leaves its "sfaasd-<pid>" subtree, maybe
 * with processes in it; the next launcher kills them and removes it. */
static void test_stale_subtree_swept(void **state)
{
        struct sandbox_launcher *l = NULL;
        char *dirs[SB_CTRL_MAX_] = { NULL }, p[PATH_MAX], name[64];
        struct sf_err err = { 0 };
        struct pollfd pfd = { .fd = -1, .events = POLLIN };
        pid_t dead, mid, orphan = 0;
        int ready[2], status;
        bool v2;
        (void) state;

        assert_true(own_cgroup_dirs(dirs, &v2) > 0);
        dead = fork();
        assert_true(dead >= 0);
        if (dead == 0)
                _exit(0);
        assert_int_equal(waitpid(dead, NULL, 0), dead);
        (void) xsnprintf(name, sizeof name, "sfaasd-%d", (int) dead);
        for (int k = 0; k < SB_CTRL_MAX_; k++) {
                if (!dirs[k])
                        continue;
                (void) xsnprintf(p, sizeof p, "%s/%s", dirs[k], name);
                assert_int_equal(mkdir(p, 0755), 0);
                (void) xsnprintf(p, sizeof p, "%s/%s/openfaas-fn", dirs[k], name);
                assert_int_equal(mkdir(p, 0755), 0);
                (void) xsnprintf(p, sizeof p, "%s/%s/openfaas-fn/leaf", dirs[k], name);
                assert_int_equal(mkdir(p, 0755), 0);
        }
        /* A process left in the leaves, orphaned (adopted by init) as a dead
         * daemon's sandbox would be: fork twice, the middle one exits. */
        assert_int_equal(pipe2(ready, O_CLOEXEC), 0);
        mid = fork();
        assert_true(mid >= 0);
        if (mid == 0) {
                pid_t g = fork();
                if (g < 0)
                        _exit(5);
                if (g > 0)
                        _exit(0);
                for (int k = 0; k < SB_CTRL_MAX_; k++) {
                        if (!dirs[k])
                                continue;
                        (void) xsnprintf(p, sizeof p, "%s/%s/openfaas-fn/leaf/cgroup.procs", dirs[k], name);
                        int wr = write_string_file(p, "0");
                        if (wr < 0) {
                                fprintf(stderr, "orphan: cannot join '%s': %s\n", p, strerror(-wr));
                                _exit(3);
                        }
                }
                g = getpid();
                if (write(ready[1], &g, sizeof g) != sizeof g)
                        _exit(4);
                for (;;)
                        pause();
        }
        (void) close(ready[1]);
        assert_int_equal(waitpid(mid, &status, 0), mid);
        assert_int_equal(read(ready[0], &orphan, sizeof orphan), (ssize_t) sizeof orphan);
        (void) close(ready[0]);
        pfd.fd = (int) syscall(SYS_pidfd_open, orphan, 0);
        assert_true(pfd.fd >= 0);

        if (sandbox_launcher_new(NULL, &l, &err) < 0)
                fail_msg("launcher: %s", err.msg);
        assert_int_equal(poll(&pfd, 1, 5000), 1); /* the orphan is gone */
        (void) close(pfd.fd);
        for (int k = 0; k < SB_CTRL_MAX_; k++)
                if (dirs[k] && dir_exists(dirs[k], name))
                        fail_msg("stale '%s/%s' not removed", dirs[k], name);
        sandbox_launcher_free(l);
        for (int k = 0; k < SB_CTRL_MAX_; k++)
                free(dirs[k]);
}

/* The function is pid 2; pid 1 is the init, a sealed memfd and not the
 * sfaasd binary (host side: /proc/PID/exe of the sandbox's pid). */
static void test_init_is_pid1(void **state)
{
        struct fixture *f = *state;
        char *argv[] = { "sh", "-c", "echo $$ $PPID", NULL };
        char *argv2[] = { "sleep", "30", NULL };
        struct sandbox_spec s = base_spec(f, argv);
        struct sandbox *sb = NULL;
        struct sf_err err = { 0 };
        struct stat init_st, self_st;
        char out[256], path[64], exe[PATH_MAX];
        ssize_t n;
        int status;

        if (run_capture(f, &s, out, sizeof out, &status, &err) < 0)
                fail_msg("spawn: %s", err.msg);
        assert_int_equal(sandbox_exit_code(status), 0);
        assert_string_equal(out, "2 1\n");

        s = base_spec(f, argv2);
        if (sandbox_spawn(f->l, &s, &sb, &err) < 0)
                fail_msg("spawn: %s", err.msg);
        (void) xsnprintf(path, sizeof path, "/proc/%d/exe", (int) sandbox_pid(sb));
        n = readlink(path, exe, sizeof exe - 1);
        assert_true(n > 0);
        exe[n] = '\0';
        assert_true(strncmp(exe, "/memfd:" SB_INIT_ARGV0, strlen("/memfd:" SB_INIT_ARGV0)) == 0);
        assert_int_equal(stat(path, &init_st), 0);
        assert_int_equal(stat("/proc/self/exe", &self_st), 0);
        assert_false(init_st.st_dev == self_st.st_dev && init_st.st_ino == self_st.st_ino);
        assert_int_equal(init_st.st_mode & 07777, 0111);
        sandbox_free(sb);
}

/* The function's own wait status comes through the init: an exit with 137
 * stays an exit, a signal stays a signal. */
static void test_status_through_init(void **state)
{
        struct fixture *f = *state;
        static const struct {
                const char *script;
                bool exited;
                int value;
        } cases[] = {
                { "exit 137", true, 137 },
                { "exit 0", true, 0 },
                { "kill -KILL $$", false, SIGKILL },
                { "kill -SEGV $$", false, SIGSEGV },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                char *argv[] = { "sh", "-c", (char *) cases[i].script, NULL };
                struct sandbox_spec s = base_spec(f, argv);
                struct sf_err err = { 0 };
                char out[256];
                int status;

                if (run_capture(f, &s, out, sizeof out, &status, &err) < 0)
                        fail_msg("spawn: %s", err.msg);
                if (cases[i].exited) {
                        assert_true(WIFEXITED(status));
                        assert_int_equal(WEXITSTATUS(status), cases[i].value);
                } else {
                        assert_true(WIFSIGNALED(status));
                        assert_int_equal(WTERMSIG(status), cases[i].value);
                }
        }
}

/* SIGTERM to the sandbox reaches a function that has no handler (as pid 1
 * it would have been dropped by the kernel), and one with a handler runs it. */
static void test_sigterm_forwarded(void **state)
{
        struct fixture *f = *state;
        char *argv[] = { "sleep", "30", NULL };
        char *argv2[] = { "sh", "-c", "trap 'echo got-term; exit 5' TERM; echo ready; sleep 30 & wait", NULL };
        struct sandbox_spec s = base_spec(f, argv);
        struct sandbox *sb = NULL;
        struct sf_err err = { 0 };
        char out[256];
        size_t len = 0;
        ssize_t n;
        int status, p[2];
        bool to;

        s.limits.timeout_ms = 20000;
        if (sandbox_spawn(f->l, &s, &sb, &err) < 0)
                fail_msg("spawn: %s", err.msg);
        assert_int_equal(syscall(SYS_pidfd_send_signal, sandbox_pidfd(sb), SIGTERM, NULL, 0), 0);
        assert_int_equal(sandbox_wait(sb, &status, &to), 0);
        assert_false(to);
        assert_true(WIFSIGNALED(status));
        assert_int_equal(WTERMSIG(status), SIGTERM);
        sandbox_free(sb);

        s = base_spec(f, argv2);
        s.limits.timeout_ms = 20000;
        assert_int_equal(pipe2(p, O_CLOEXEC), 0);
        s.stdio[1] = p[1];
        if (sandbox_spawn(f->l, &s, &sb, &err) < 0)
                fail_msg("spawn: %s", err.msg);
        (void) close(p[1]);
        /* the trap is set once "ready" is out */
        while (len < 6 && (n = read(p[0], out + len, 6 - len)) > 0)
                len += (size_t) n;
        out[len] = '\0';
        assert_string_equal(out, "ready\n");
        assert_int_equal(syscall(SYS_pidfd_send_signal, sandbox_pidfd(sb), SIGTERM, NULL, 0), 0);
        while (len + 1 < sizeof out && (n = read(p[0], out + len, sizeof out - 1 - len)) > 0)
                len += (size_t) n;
        out[len] = '\0';
        (void) close(p[0]);
        assert_int_equal(sandbox_wait(sb, &status, &to), 0);
        assert_false(to);
        assert_string_equal(out, "ready\ngot-term\n");
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 5);
        sandbox_free(sb);
}

/* The launcher's process holds many fds (a busy daemon): the sandbox's
 * copy of the table has no free slot below its own nofile limit, and the
 * start must not depend on one. */
/* A parked sandbox (spec.parked): it waits until handed its call, then runs
 * the command with the call's environment (not the spawn's) and stdio, and
 * with the same fds, pid 1 and status reporting as a fresh spawn. */
static void hand_and_capture(struct sandbox *sb, char **envp, const char *in, char *out, size_t size, int *ret_status)
{
        int ip[2], op[2], stdio[3], status = -1;
        struct sf_err err = { 0 };
        size_t len = 0;
        ssize_t n;
        bool to;

        assert_int_equal(pipe2(ip, O_CLOEXEC), 0);
        assert_int_equal(pipe2(op, O_CLOEXEC), 0);
        stdio[0] = ip[0];
        stdio[1] = stdio[2] = op[1];
        if (sandbox_hand_call(sb, envp, stdio, &err) < 0)
                fail_msg("hand call: %s", err.msg);
        assert_false(sandbox_parked(sb));
        (void) close(ip[0]);
        (void) close(op[1]);
        if (in)
                assert_int_equal(write(ip[1], in, strlen(in)), (ssize_t) strlen(in));
        (void) close(ip[1]);
        while (len + 1 < size && (n = read(op[0], out + len, size - 1 - len)) > 0)
                len += (size_t) n;
        out[len] = '\0';
        (void) close(op[0]);
        assert_int_equal(sandbox_wait(sb, &status, &to), 0);
        *ret_status = status;
}

static void test_parked_runs_its_call(void **state)
{
        struct fixture *f = *state;
        char *argv[] = { "sh", "-c",
                         "echo \"$MARK-$HOME-$$\"; cat; for n in 3 4 5 6 7; do test -e /proc/self/fd/$n && echo LEAK$n; "
                         "done; exit 3",
                         NULL };
        char *call_env[] = { "PATH=/bin", "MARK=call-one", NULL };
        struct sandbox_spec s = base_spec(f, argv);
        struct sandbox *sb = NULL;
        struct sf_err err = { 0 };
        char out[4096];
        int status = -1;

        s.parked = true;
        if (sandbox_spawn(f->l, &s, &sb, &err) < 0)
                fail_msg("spawn: %s", err.msg);
        assert_true(sandbox_parked(sb));
        hand_and_capture(sb, call_env, "body\n", out, sizeof out, &status);
        /* HOME was the spawn's, not the call's: gone. The command is pid 2
         * (the init is 1). */
        assert_string_equal(out, "call-one--2\nbody\n");
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 3);
        assert_int_equal(sandbox_start_error(sb, &err), 0);
        /* Once only. */
        {
                int fds[3] = { 0, 1, 2 };
                assert_int_equal(sandbox_hand_call(sb, call_env, fds, &err), -EINVAL);
        }
        sandbox_free(sb);
}

static void test_parked_start_failure_reported(void **state)
{
        struct fixture *f = *state;
        char *argv[] = { "/bin/true", NULL };
        char *argv_missing[] = { "/bin/does-not-exist", NULL };
        char *call_env[] = { "PATH=/bin", NULL };
        struct sandbox_spec s = base_spec(f, argv_missing);
        struct sandbox *sb = NULL;
        struct sf_err err = { 0 };
        char out[256];
        int status = -1;

        /* A missing command is found before parking, as a spawn finds it. */
        s.parked = true;
        assert_int_equal(sandbox_spawn(f->l, &s, &sb, &err), -ENOENT);
        assert_non_null(strstr(err.msg, "execve"));

        /* The executable goes between parking and the call: the execve's
         * failure after the hand-off is the same report. */
        {
                char path[PATH_MAX + 32];
                (void) xsnprintf(path, sizeof path, "%s/bin/vanishing", f->root);
                assert_int_equal(link("/bin/busybox", path) == 0 || errno == EEXIST, 1);
                argv[0] = "/bin/vanishing";
                s = base_spec(f, argv);
                s.parked = true;
                if (sandbox_spawn(f->l, &s, &sb, &err) < 0)
                        fail_msg("spawn: %s", err.msg);
                assert_int_equal(unlink(path), 0);
        }
        hand_and_capture(sb, call_env, NULL, out, sizeof out, &status);
        assert_int_equal(sandbox_exit_code(status), 127);
        assert_int_equal(sandbox_start_error(sb, &err), -ENOENT);
        assert_non_null(strstr(err.msg, "sandbox step 'execve' failed for '/bin/vanishing'"));
        sandbox_free(sb);
}

static void test_parked_dropped_and_refused(void **state)
{
        struct fixture *f = *state;
        char *argv[] = { "/bin/true", NULL };
        struct sandbox_spec s = base_spec(f, argv);
        struct sandbox *sb = NULL;
        struct sf_err err = { 0 };
        int fds[3], p[2], status = -1;
        static char big[SB_CALL_MAX];
        char *env[] = { big, NULL };

        s.parked = true;
        s.gated = true;
        s.gate_fd = 0;
        assert_int_equal(sandbox_spawn(f->l, &s, &sb, &err), -EINVAL);
        s.gated = false;
        if (sandbox_spawn(f->l, &s, &sb, &err) < 0)
                fail_msg("spawn: %s", err.msg);
        /* Too large an environment is refused before anything is sent,
         * and the sandbox is spent. */
        memset(big, 'x', sizeof big - 1);
        big[0] = 'A';
        big[1] = '=';
        assert_int_equal(pipe2(p, O_CLOEXEC), 0);
        fds[0] = p[0];
        fds[1] = fds[2] = p[1];
        assert_int_equal(sandbox_hand_call(sb, env, fds, &err), -E2BIG);
        assert_false(sandbox_parked(sb));
        (void) close(p[0]);
        (void) close(p[1]);
        /* Its socket closed: the init ends by itself (127), nothing ran. */
        {
                bool to;
                assert_int_equal(sandbox_wait(sb, &status, &to), 0);
        }
        assert_int_equal(sandbox_exit_code(status), 127);
        sandbox_free(sb);
}

static void test_many_launcher_fds(void **state)
{
        struct fixture *f = *state;
        char *argv[] = { "sh", "-c", "echo ok", NULL };
        struct sandbox_spec s = base_spec(f, argv);
        struct sf_err err = { 0 };
        struct rlimit old, big;
        char out[64];
        int status, fds[300], n = 0, hi;

        assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
        big = old;
        if (big.rlim_cur < 4096)
                big.rlim_cur = big.rlim_max < 4096 ? big.rlim_max : 4096;
        assert_int_equal(setrlimit(RLIMIT_NOFILE, &big), 0);
        /* every number from 3 to 299 taken */
        for (int i = 3; i < 300; i++) {
                int fd = fcntl(0, F_DUPFD_CLOEXEC, 0);
                if (fd < 0)
                        break;
                fds[n++] = fd;
        }
        hi = fcntl(0, F_DUPFD_CLOEXEC, 0);
        assert_true(hi >= 64);
        (void) close(hi);
        s.limits.nofile = 64;
        if (run_capture(f, &s, out, sizeof out, &status, &err) < 0)
                fail_msg("spawn: %s", err.msg);
        assert_int_equal(sandbox_exit_code(status), 0);
        assert_string_equal(out, "ok\n");
        for (int i = 0; i < n; i++)
                (void) close(fds[i]);
        assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);

        s = base_spec(f, argv);
        s.limits.nofile = 4;
        assert_int_equal(sandbox_spawn(f->l, &s, &(struct sandbox *) { NULL }, &err), -EINVAL);
        assert_non_null(strstr(err.msg, "nofile"));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_true_exits_zero),
                cmocka_unit_test(test_exit_code_and_signal),
                cmocka_unit_test(test_init_is_pid1),
                cmocka_unit_test(test_status_through_init),
                cmocka_unit_test(test_sigterm_forwarded),
                cmocka_unit_test(test_many_launcher_fds),
                cmocka_unit_test(test_parked_runs_its_call),
                cmocka_unit_test(test_parked_start_failure_reported),
                cmocka_unit_test(test_parked_dropped_and_refused),
                cmocka_unit_test(test_uid_inside_and_host_view),
                cmocka_unit_test(test_rootfs_read_only),
                cmocka_unit_test(test_tmp_writable_with_cap),
                cmocka_unit_test(test_timeout_kills),
                cmocka_unit_test(test_missing_command_reports_step),
                cmocka_unit_test(test_no_fd_leak),
                cmocka_unit_test(test_policy_denials),
                cmocka_unit_test(test_terminal_refused),
                cmocka_unit_test(test_netns_loopback_only),
                cmocka_unit_test(test_netns_fd),
                cmocka_unit_test(test_seccomp_policy),
                cmocka_unit_test(test_secret_binds),
                cmocka_unit_test(test_cgroup_limits),
                cmocka_unit_test(test_launcher_free_removes_groups),
                cmocka_unit_test(test_stale_subtree_swept),
        };
        return cmocka_run_group_tests_name("sandbox", tests, setup, teardown);
}
