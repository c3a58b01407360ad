/* SPDX-License-Identifier: MIT */
/*
 * sfaasd-init: pid 1 of every sandbox (the contract with the launcher is in
 * protocol.h). It forks the function, forwards the signals a supervisor
 * sends (SIGTERM first of all) to it, reaps every process that ends up as
 * its child, and exits with the function's status once the function ends.
 *
 * Why pid 1 is not the function: the kernel delivers to a pid namespace's
 * init only the signals it has a handler for. A server with no SIGTERM
 * handler ignored every polite stop and lived out the whole grace period,
 * and orphans of a function that does not reap were left as zombies
 * against its pids limit.
 *
 * Why a separate program and not the daemon: the sfaasd binary must never
 * run inside a sandbox (CVE-2019-5736: a process in the sandbox could reach
 * the host binary through /proc/PID/exe), and the launcher's child shares
 * the daemon's memory until it execs (CLONE_VM). This program is built
 * freestanding and static (no libc, raw system calls, a few KiB, no dynamic
 * loader), embedded in sfaasd as bytes, copied once per launcher into a
 * sealed memfd (no write, grow, shrink or further seals) and exec'd from
 * there: /proc/1/exe inside is that memfd, never a host file.
 *
 * It runs with everything the launcher set up: the sandbox's uid, no
 * capabilities, no_new_privs, the seccomp policy (clone without namespace
 * flags, execve, wait4, kill, rt_sigprocmask, rt_sigtimedwait, prctl,
 * setsid, fcntl, write, close, exit_group are all it calls; a gated or
 * parked one also faccessat, signalfd4, ppoll, read, and a parked one
 * recvmsg and dup3 for its call). It makes itself
 * non-dumpable (and the launcher gives the memfd no read permission, which
 * pins the init's mm to the launcher's user namespace), so the function,
 * which runs as the same uid, can neither ptrace it, nor write its memory
 * through /proc/1/mem, nor open its status pipe through /proc/1/fd.
 *
 * Memory is its own (the exec gave it a fresh mm), so fork() has normal
 * semantics. Nothing here may need a libc: no stack protector (no TLS),
 * no builtins that expand to library calls, no global pointers (the binary
 * is a static PIE without a relocation pass).
 */
#include <stddef.h>
#include <stdint.h>

#include "sandbox/init/protocol.h"

/* System call numbers. The generic table (aarch64) and x86_64's own. */
#if defined(__x86_64__)
#define NR_read 0
#define NR_ioctl 16
#define NR_faccessat 269
#define NR_ppoll 271
#define NR_signalfd4 289
#define NR_write 1
#define NR_close 3
#define NR_rt_sigprocmask 14
#define NR_clone 56
#define NR_execve 59
#define NR_wait4 61
#define NR_kill 62
#define NR_fcntl 72
#define NR_setsid 112
#define NR_rt_sigtimedwait 128
#define NR_prctl 157
#define NR_exit_group 231
#define NR_recvmsg 47
#define NR_dup3 292
#elif defined(__aarch64__)
#define NR_read 63
#define NR_ioctl 29
#define NR_faccessat 48
#define NR_ppoll 73
#define NR_signalfd4 74
#define NR_write 64
#define NR_close 57
#define NR_rt_sigprocmask 135
#define NR_clone 220
#define NR_execve 221
#define NR_wait4 260
#define NR_kill 129
#define NR_fcntl 25
#define NR_setsid 157
#define NR_rt_sigtimedwait 137
#define NR_prctl 167
#define NR_exit_group 94
#define NR_recvmsg 212
#define NR_dup3 24
#else
#error "sfaasd-init: no system call table for this architecture"
#endif

/* Checked against the kernel's headers when they are at hand (a native
 * build); a cross-compile check with clang --target finds none. */
#if __has_include(<asm/unistd.h>)
#include <asm/unistd.h>
_Static_assert(NR_write == __NR_write && NR_close == __NR_close && NR_rt_sigprocmask == __NR_rt_sigprocmask &&
                       NR_clone == __NR_clone && NR_execve == __NR_execve && NR_wait4 == __NR_wait4 &&
                       NR_kill == __NR_kill && NR_fcntl == __NR_fcntl && NR_setsid == __NR_setsid &&
                       NR_rt_sigtimedwait == __NR_rt_sigtimedwait && NR_prctl == __NR_prctl &&
                       NR_exit_group == __NR_exit_group && NR_read == __NR_read && NR_ioctl == __NR_ioctl &&
                       NR_faccessat == __NR_faccessat && NR_ppoll == __NR_ppoll && NR_signalfd4 == __NR_signalfd4 &&
                       NR_recvmsg == __NR_recvmsg && NR_dup3 == __NR_dup3,
               "sfaasd-init: system call numbers disagree with <asm/unistd.h>");
#endif

/* The same on both architectures (asm-generic numbering). */
#define SIGHUP 1
#define SIGINT 2
#define SIGQUIT 3
#define SIGUSR1 10
#define SIGUSR2 12
#define SIGTERM 15
#define SIGCHLD 17
#define SIGCONT 18
#define SIGWINCH 28

#define SIG_SETMASK 2
#define AT_FDCWD (-100)
#define X_OK 1
#define POLLIN 1
#define O_CLOEXEC 02000000
#define TCGETS 0x5401
#define TIOCSCTTY 0x540E
#define F_SETFD 2
#define FD_CLOEXEC 1
#define WNOHANG 1
#define WALL 0x40000000 /* __WALL: children with any exit signal */
#define PR_SET_DUMPABLE 4
#define E_INTR 4
#define E_NOENT 2
#define E_ACCES 13
#define E_NOTDIR 20
#define E_INVAL 22
#define E_BADF 9
#define SOL_SOCKET 1
#define SCM_RIGHTS 1
#define MSG_CTRUNC 0x8
#define MSG_TRUNC 0x20
#define MSG_CMSG_CLOEXEC 0x40000000

#if defined(__x86_64__)
static inline long sys5(long n, long a, long b, long c, long d, long e)
{
        register long r10 __asm__("r10") = d;
        register long r8 __asm__("r8") = e;
        long ret;
        __asm__ volatile("syscall"
                         : "=a"(ret)
                         : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8)
                         : "rcx", "r11", "memory");
        return ret;
}

/* The kernel starts us with %rsp at argc; hand that to init_main with the
 * stack aligned as the ABI wants at a call. */
__asm__(".text\n"
        ".global _start\n"
        ".type _start, @function\n"
        "_start:\n"
        "  xor %ebp, %ebp\n"
        "  mov %rsp, %rdi\n"
        "  and $-16, %rsp\n"
        "  call init_main\n"
        "  hlt\n"
        ".size _start, .-_start\n");
#elif defined(__aarch64__)
static inline long sys5(long n, long a, long b, long c, long d, long e)
{
        register long x8 __asm__("x8") = n;
        register long x0 __asm__("x0") = a;
        register long x1 __asm__("x1") = b;
        register long x2 __asm__("x2") = c;
        register long x3 __asm__("x3") = d;
        register long x4 __asm__("x4") = e;
        __asm__ volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4) : "memory");
        return x0;
}

__asm__(".text\n"
        ".global _start\n"
        ".type _start, %function\n"
        "_start:\n"
        "  mov x29, #0\n"
        "  mov x30, #0\n"
        "  mov x0, sp\n"
        "  bl init_main\n"
        "  brk #0\n"
        ".size _start, .-_start\n");
#endif

#define S1(n, a) sys5((n), (long) (a), 0, 0, 0, 0)
#define S2(n, a, b) sys5((n), (long) (a), (long) (b), 0, 0, 0)
#define S3(n, a, b, c) sys5((n), (long) (a), (long) (b), (long) (c), 0, 0)
#define S4(n, a, b, c, d) sys5((n), (long) (a), (long) (b), (long) (c), (long) (d), 0)
#define S5(n, a, b, c, d, e) sys5((n), (long) (a), (long) (b), (long) (c), (long) (d), (long) (e))

/* The kernel's sigset_t is 64 bits on both architectures. */
#define SIGBIT(s) (1ULL << ((s) - 1))
#define SIGSET_SIZE 8

/* What a supervisor (or a tool inside) sends to ask a process to stop,
 * reload or report; passed on to the function as is. */
static const uint64_t forwarded = SIGBIT(SIGHUP) | SIGBIT(SIGINT) | SIGBIT(SIGQUIT) | SIGBIT(SIGUSR1) |
                                  SIGBIT(SIGUSR2) | SIGBIT(SIGTERM) | SIGBIT(SIGCONT) | SIGBIT(SIGWINCH);

__attribute__((noreturn)) static void die(int code)
{
        for (;;)
                (void) S1(NR_exit_group, code);
}

/* A start failure for the launcher, then out. */
__attribute__((noreturn)) static void report_failure(int step, long r)
{
        struct sb_child_error e;
        e.step = step;
        e.err = (int32_t) (r < 0 ? -r : r);
        (void) S3(NR_write, SB_INIT_REPORT_FD, &e, sizeof e);
        die(127);
}

static int streq(const char *a, const char *b)
{
        while (*a && *a == *b) {
                a++;
                b++;
        }
        return *a == *b;
}

/* In the forked child: become the function. Same candidate order and
 * errno choice as a shell's PATH search: the first EACCES wins over a
 * later ENOENT, any other error stops the search. */
__attribute__((noreturn)) static void exec_function(char **paths, char **argv, char **envp)
{
        uint64_t none = 0;
        long r, first_eacces = 0;

        /* The function leads its own session and process group, as it did
         * when it was pid 1 (a kill(0, ...) of its own then stays off us). */
        r = S1(NR_setsid, 0);
        if (r < 0)
                report_failure(SB_STEP_SETSID, r);
        /* Dispositions are the defaults already (the launcher reset them and
         * this program installs no handler); the mask we blocked is not. */
        r = S4(NR_rt_sigprocmask, SIG_SETMASK, &none, 0, SIGSET_SIZE);
        if (r < 0)
                report_failure(SB_STEP_SIGMASK, r);
        /* A terminal made for this sandbox (the launcher lets no other one
         * in) becomes ours, as a shell or getty would take it. */
        {
                unsigned char termios[64];
                if (S3(NR_ioctl, 0, TCGETS, termios) == 0)
                        (void) S3(NR_ioctl, 0, TIOCSCTTY, 0);
        }
        r = -E_NOENT;
        for (char **p = paths; *p; p++) {
                r = S3(NR_execve, *p, argv, envp);
                if (r == -E_ACCES && !first_eacces)
                        first_eacces = r;
                else if (r != -E_NOENT && r != -E_NOTDIR && r != -E_ACCES)
                        break;
        }
        if (first_eacces && (r == -E_NOENT || r == -E_NOTDIR))
                r = first_eacces;
        report_failure(SB_STEP_EXEC, r);
}

/* The candidate the function's execve will take, checked for the gated
 * start: the same order and errno choice as exec_function. */
static long check_exec(char **paths)
{
        long r = -E_NOENT, first_eacces = 0;

        for (char **p = paths; *p; p++) {
                r = S3(NR_faccessat, AT_FDCWD, *p, X_OK);
                if (r == 0)
                        return 0;
                if (r == -E_ACCES && !first_eacces)
                        first_eacces = r;
                else if (r != -E_NOENT && r != -E_NOTDIR && r != -E_ACCES)
                        break;
        }
        return first_eacces && (r == -E_NOENT || r == -E_NOTDIR) ? first_eacces : r;
}

__attribute__((noreturn)) static void finish(int status);

/* The kernel's struct msghdr, struct iovec and struct cmsghdr (LP64, the
 * same on both architectures). */
struct iovec_k {
        void *base;
        unsigned long len;
};
struct msghdr_k {
        void *name;
        int namelen;
        struct iovec_k *iov;
        unsigned long iovlen;
        void *control;
        unsigned long controllen;
        int flags;
};
struct cmsg3_k {
        unsigned long len;   /* CMSG_LEN(3 * sizeof(int)) */
        int level, type;
        int fds[3];
        int pad;             /* CMSG_SPACE rounds up to 8 */
};
#define CMSG3_LEN (sizeof(unsigned long) + 2 * sizeof(int) + 3 * sizeof(int))

/* The call message of a parked init (protocol.h, SB_INIT_ARGV0_CALL), and
 * the environment made from it. In .bss: pages are touched only as far as
 * a message reaches. */
static char call_buf[SB_CALL_MAX];
static char *call_envp[SB_CALL_ENV_MAX + 1];

/* Read the one call message and take what it brings: its three fds onto
 * 0..2 (the /dev/null the launcher gave the parked init goes), its
 * environment into call_envp. The sender is the daemon, but the message is
 * checked as if it were not: sizes against what arrived, every string
 * ended, no truncation of data or fds. Returns 0, 1 at EOF (nobody will
 * send one), or -errno. */
static long take_call(void)
{
        struct iovec_k iov;
        struct msghdr_k m;
        struct cmsg3_k c;
        const struct sb_call_head *h = (const struct sb_call_head *) call_buf;
        unsigned long n = 0, k = 0;
        long r;
        int fds[3];

        iov.base = call_buf;
        iov.len = sizeof call_buf;
        m.name = 0;
        m.namelen = 0;
        m.iov = &iov;
        m.iovlen = 1;
        m.control = &c;
        m.controllen = sizeof c;
        m.flags = 0;
        c.len = 0;
        /* CLOEXEC: until placed at 0..2, no fd of the call may reach the
         * function by any other number. */
        r = S3(NR_recvmsg, SB_INIT_GATE_FD, &m, MSG_CMSG_CLOEXEC);
        if (r < 0)
                return r;
        if (r == 0)
                return 1;
        if ((m.flags & (MSG_TRUNC | MSG_CTRUNC)) || m.controllen < CMSG3_LEN || c.len != CMSG3_LEN ||
            c.level != SOL_SOCKET || c.type != SCM_RIGHTS)
                return -E_INVAL;
        fds[0] = c.fds[0];
        fds[1] = c.fds[1];
        fds[2] = c.fds[2];
        n = (unsigned long) r;
        if (n < sizeof *h || h->magic != SB_CALL_MAGIC || h->reserved != 0 || h->env_count > SB_CALL_ENV_MAX ||
            h->env_bytes != n - sizeof *h)
                return -E_INVAL;
        /* Every string NUL-ended, exactly env_count of them. */
        {
                char *p = call_buf + sizeof *h, *end = call_buf + n, *start = p;
                for (; p < end; p++)
                        if (*p == 0) {
                                if (k == h->env_count)
                                        return -E_INVAL;
                                call_envp[k++] = start;
                                start = p + 1;
                        }
                if (start != end || k != h->env_count)
                        return -E_INVAL;
                call_envp[k] = 0;
        }
        /* 0..5 are taken (stdio, report, status, this socket): what came
         * lies above them. */
        for (int i = 0; i < 3; i++)
                if (fds[i] <= SB_INIT_GATE_FD)
                        return -E_BADF;
        for (int i = 0; i < 3; i++) {
                r = S3(NR_dup3, fds[i], i, 0);
                if (r < 0)
                        return r;
        }
        for (int i = 0; i < 3; i++)
                (void) S1(NR_close, fds[i]);
        return 0;
}

/* The start gate (protocol.h, SB_INIT_ARGV0_GATED), or a parked init's
 * wait for its call (SB_INIT_ARGV0_CALL, with call set). Every signal is
 * blocked already; the terminating ones are read from a signalfd so that
 * stopping a container that was never started (or dropping a parked
 * sandbox) ends it. */
static void wait_gate(char **paths, int call)
{
        static const uint64_t stop = SIGBIT(SIGTERM) | SIGBIT(SIGINT) | SIGBIT(SIGHUP) | SIGBIT(SIGQUIT);
        struct sb_child_error ready;
        struct pollfd_k {
                int fd;
                short events, revents;
        } pfd[2];
        unsigned char info[128];
        long r, sfd;
        char c;

        r = check_exec(paths);
        if (r < 0)
                report_failure(SB_STEP_EXEC, r);
        sfd = S4(NR_signalfd4, -1, &stop, SIGSET_SIZE, O_CLOEXEC);
        if (sfd < 0)
                report_failure(SB_STEP_GATE, sfd);
        ready.step = SB_STEP_READY;
        ready.err = 0;
        if (S3(NR_write, SB_INIT_REPORT_FD, &ready, sizeof ready) != (long) sizeof ready)
                die(127);
        if (!call)
                (void) S1(NR_close, SB_INIT_REPORT_FD);
        for (;;) {
                pfd[0].fd = SB_INIT_GATE_FD;
                pfd[1].fd = (int) sfd;
                pfd[0].events = pfd[1].events = POLLIN;
                pfd[0].revents = pfd[1].revents = 0;
                r = S5(NR_ppoll, pfd, 2, 0, 0, SIGSET_SIZE);
                if (r == -E_INTR)
                        continue;
                if (r < 0)
                        die(127);
                if (pfd[1].revents) {
                        r = S3(NR_read, sfd, info, sizeof info);
                        /* ssi_signo is the first field of signalfd_siginfo */
                        if (r == (long) sizeof info)
                                finish((int) (info[0] | info[1] << 8) & 0x7f);
                        continue;
                }
                if (pfd[0].revents && call) {
                        r = take_call();
                        if (r == -E_INTR)
                                continue;
                        if (r == 1)
                                die(127); /* dropped unused */
                        if (r < 0)
                                report_failure(SB_STEP_CALL, r);
                        break;
                }
                if (pfd[0].revents) {
                        r = S3(NR_read, SB_INIT_GATE_FD, &c, 1);
                        if (r == 1)
                                break;
                        if (r == -E_INTR)
                                continue;
                        die(127); /* the gate went away: nobody will start us */
                }
        }
        (void) S1(NR_close, SB_INIT_GATE_FD);
        (void) S1(NR_close, sfd);
}

/* Exit as the function did: its code, or 128+N for signal N. */
__attribute__((noreturn)) static void finish(int status)
{
        struct sb_init_status st;
        int sig = status & 0x7f;

        st.magic = SB_INIT_STATUS_MAGIC;
        st.wait_status = status;
        (void) S3(NR_write, SB_INIT_STATUS_FD, &st, sizeof st);
        die(sig == 0 ? (status >> 8) & 0xff : 128 + sig);
}

/* Without signals (rt_sigtimedwait refused): no forwarding, but every
 * child is still reaped and the function's end still ends us. */
__attribute__((noreturn)) static void reap_only(long pid)
{
        for (;;) {
                int status = 0;
                long r = S4(NR_wait4, -1, &status, WALL, 0);
                if (r == pid)
                        finish(status);
                if (r < 0 && r != -E_INTR)
                        die(127);
        }
}

__attribute__((used)) __attribute__((noreturn)) void init_main(long *sp);
__attribute__((used)) __attribute__((noreturn)) void init_main(long *sp)
{
        long argc = sp[0], pid, r;
        char **argv = (char **) (sp + 1), **envp = argv + argc + 1, **paths, **fn_argv = 0;
        uint64_t all = ~0ULL;
        int call = argc >= 1 && streq(argv[0], SB_INIT_ARGV0_CALL);
        int gated = call || (argc >= 1 && streq(argv[0], SB_INIT_ARGV0_GATED));

        (void) S2(NR_prctl, PR_SET_DUMPABLE, 0);
        (void) S3(NR_fcntl, SB_INIT_REPORT_FD, F_SETFD, FD_CLOEXEC);
        (void) S3(NR_fcntl, SB_INIT_STATUS_FD, F_SETFD, FD_CLOEXEC);
        if (gated)
                (void) S3(NR_fcntl, SB_INIT_GATE_FD, F_SETFD, FD_CLOEXEC);

        /* argv: SB_INIT_ARGV0, path..., SB_INIT_SEP, function argv... */
        paths = argv + 1;
        for (long i = 1; i < argc; i++)
                if (streq(argv[i], SB_INIT_SEP)) {
                        argv[i] = 0; /* ends the list of paths */
                        fn_argv = argv + i + 1;
                        break;
                }
        if (argc < 1 || !fn_argv || !paths[0] || !fn_argv[0])
                report_failure(SB_STEP_INIT_ARGS, -E_INVAL);

        /* Every signal waits for sigtimedwait below, from before the fork, so
         * none is lost between the fork and the first wait: a signal blocked
         * by pid 1 is queued, not dropped as an unhandled one would be. */
        (void) S4(NR_rt_sigprocmask, SIG_SETMASK, &all, 0, SIGSET_SIZE);
        if (gated)
                wait_gate(paths, call);
        if (call)
                envp = call_envp;

        pid = S5(NR_clone, SIGCHLD, 0, 0, 0, 0);
        if (pid == 0)
                exec_function(paths, fn_argv, envp);
        if (pid < 0)
                report_failure(SB_STEP_INIT_FORK, pid);

        /* The function holds its stdio and the report pipe alone from here. */
        for (int fd = 0; fd <= SB_INIT_REPORT_FD; fd++)
                (void) S1(NR_close, fd);

        for (;;) {
                int sig = (int) S4(NR_rt_sigtimedwait, &all, 0, 0, SIGSET_SIZE);
                if (sig == -E_INTR)
                        continue; /* a stop and continue of pid 1 */
                if (sig < 0)
                        reap_only(pid); /* cannot happen under the policy; never spin */
                if (sig != SIGCHLD) {
                        if (sig < 64 && (forwarded & SIGBIT(sig)))
                                (void) S2(NR_kill, pid, sig);
                        continue; /* anything else is dropped, as pid 1 always did */
                }
                /* Orphans of the function included: no zombie stays. */
                for (;;) {
                        int status = 0;
                        r = S4(NR_wait4, -1, &status, WNOHANG | WALL, 0);
                        if (r <= 0)
                                break;
                        if (r == pid)
                                finish(status);
                }
        }
}
