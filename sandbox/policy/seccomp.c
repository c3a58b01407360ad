/* SPDX-License-Identifier: MIT */
/*
 * The seccomp policy and its compiler. Build-time only: tools/gen_seccomp
 * links this file with libseccomp and writes the raw BPF program to
 * $(BUILD)/seccomp_policy.c, which the launcher uses (sandbox/seccomp.c);
 * sfaasd itself never links libseccomp nor compiles a policy at run time.
 * The unit tests link it too, to check the generated program is exactly what
 * this file compiles to. The program is for the build machine's native
 * architecture (libseccomp's native arch must equal SB_AUDIT_ARCH).
 *
 * The program is a short hand-written prefix followed by what libseccomp
 * generates:
 *
 *   prefix: wrong architecture -> KILL_PROCESS (the i386 `int 0x80` entry
 *           reports AUDIT_ARCH_I386); on x86_64 any syscall number with
 *           __X32_SYSCALL_BIT set -> KILL_PROCESS (x32 shares
 *           AUDIT_ARCH_X86_64, and libseccomp would send those numbers to
 *           the default action instead of killing); ioctl TIOCSTI/TIOCLINUX
 *           -> EPERM; socket families other than AF_UNIX/INET/INET6 and
 *           NETLINK_ROUTE -> EAFNOSUPPORT; personality() other than the
 *           harmless values -> EPERM; setsockopt(SOL_TCP, TCP_ULP) -> EPERM
 *           (kernel TLS and the other upper-layer protocols: below).
 *           The socket and personality rules need "every other value -> action", which
 *           libseccomp cannot say for a syscall that also has an
 *           unconditional rule (the unconditional rule replaces the
 *           conditional ones), and which must never be written with NE.
 *   libseccomp: default ERRNO(ENOSYS) so libc falls back (clone3 -> clone);
 *           an allowlist; known-dangerous calls ERRNO(EPERM); clone with
 *           any namespace flag EPERM. Every argument rule compares the low
 *           32 bits (SCMP_CMP_MASKED_EQ, one rule per value), never LT/GT/NE.
 *
 * All compares in the prefix load only the low 32 bits of an argument
 * (seccomp_data.args[i] at offset 16 + 8*i on little-endian), the same
 * discipline: an int argument with garbage in the upper half still matches.
 */
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/netlink.h>
#include <netinet/tcp.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/base/cleanup.h"
#include "sandbox/internal.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

#if defined(__x86_64__)
#define SB_X32_BIT 0x40000000u
#endif

DEFINE_TRIVIAL_CLEANUP_FUNC(scmp_filter_ctx, seccomp_release)

static const char *const allowed[] = {
        "accept", "accept4", "access", "alarm", "arch_prctl", "bind", "brk", "cachestat", "capget",
        "capset", "chdir", "chmod", "chown", "clock_getres", "clock_gettime", "clock_nanosleep",
        "close", "close_range", "connect", "copy_file_range", "creat", "dup", "dup2", "dup3",
        "epoll_create", "epoll_create1", "epoll_ctl", "epoll_pwait", "epoll_pwait2", "epoll_wait",
        "eventfd", "eventfd2", "execve", "execveat", "exit", "exit_group", "faccessat", "faccessat2",
        "fadvise64", "fallocate", "fchdir", "fchmod", "fchmodat", "fchmodat2", "fchown", "fchownat",
        "fcntl", "fdatasync", "fgetxattr", "flistxattr", "flock", "fork", "fremovexattr", "fsetxattr",
        "fstat", "fstatfs", "fsync", "ftruncate", "futex", "futex_requeue", "futex_wait", "futex_waitv",
        "futex_wake", "futimesat", "get_robust_list", "getcpu", "getcwd", "getdents", "getdents64",
        "getegid", "geteuid", "getgid", "getgroups", "getitimer", "getpeername", "getpgid", "getpgrp",
        "getpid", "getppid", "getpriority", "getrandom", "getresgid", "getresuid", "getrlimit",
        "getrusage", "getsid", "getsockname", "getsockopt", "gettid", "gettimeofday", "getuid",
        "getxattr", "inotify_add_watch", "inotify_init", "inotify_init1", "inotify_rm_watch",
        "io_cancel", "io_destroy", "io_getevents", "io_pgetevents", "io_setup", "io_submit",
        "ioctl", "ioprio_get", "ioprio_set", "kill", "landlock_add_rule", "landlock_create_ruleset",
        "landlock_restrict_self", "lchown", "lgetxattr", "link", "linkat", "listen", "listxattr",
        "llistxattr", "lremovexattr", "lseek", "lsetxattr", "lstat", "madvise", "membarrier",
        "memfd_create", "mincore", "mkdir", "mkdirat", "mknod", "mknodat", "mlock", "mlock2",
        "mlockall", "mmap", "mprotect", "mq_getsetattr", "mq_notify", "mq_open", "mq_timedreceive",
        "mq_timedsend", "mq_unlink", "mremap", "mseal", "msgctl", "msgget", "msgrcv", "msgsnd", "msync",
        "munlock", "munlockall", "munmap", "nanosleep", "newfstatat", "open", "openat", "openat2",
        "pause", "pidfd_open", "pidfd_send_signal", "pipe", "pipe2", "pkey_alloc", "pkey_free",
        "pkey_mprotect", "poll", "ppoll", "prctl", "pread64", "preadv", "preadv2", "prlimit64",
        "pselect6", "pwrite64", "pwritev", "pwritev2", "read", "readahead", "readlink", "readlinkat",
        "readv", "recvfrom", "recvmmsg", "recvmsg", "remap_file_pages", "removexattr", "rename",
        "renameat", "renameat2", "restart_syscall", "rmdir", "rseq", "rt_sigaction", "rt_sigpending",
        "rt_sigprocmask", "rt_sigqueueinfo", "rt_sigreturn", "rt_sigsuspend", "rt_sigtimedwait",
        "rt_tgsigqueueinfo", "sched_get_priority_max", "sched_get_priority_min", "sched_getaffinity",
        "sched_getattr", "sched_getparam", "sched_getscheduler", "sched_rr_get_interval",
        "sched_setaffinity", "sched_setattr", "sched_setparam", "sched_setscheduler", "sched_yield",
        "seccomp", "select", "semctl", "semget", "semop", "semtimedop", "sendfile", "sendmmsg",
        "sendmsg", "sendto", "set_robust_list", "set_tid_address", "setfsgid", "setfsuid", "setgid",
        "setgroups", "setitimer", "setpgid", "setpriority", "setregid", "setresgid", "setresuid",
        "setreuid", "setrlimit", "setsid", "setsockopt", "setuid", "setxattr", "shmat", "shmctl",
        "shmdt", "shmget", "shutdown", "sigaltstack", "signalfd", "signalfd4", "socket", "socketpair",
        "splice", "stat", "statfs", "statx", "symlink", "symlinkat", "sync", "sync_file_range",
        "syncfs", "sysinfo", "tee", "tgkill", "time", "timer_create", "timer_delete",
        "timer_getoverrun", "timer_gettime", "timer_settime", "timerfd_create", "timerfd_gettime",
        "timerfd_settime", "times", "tkill", "truncate", "umask", "uname", "unlink", "unlinkat",
        "utime", "utimensat", "utimes", "vfork", "wait4", "waitid", "write", "writev",
};

/* Known and dangerous: a clear EPERM instead of ENOSYS. */
static const char *const denied[] = {
        "acct", "add_key", "adjtimex", "bpf", "chroot", "clock_adjtime", "clock_settime",
        "create_module", "delete_module", "fanotify_init", "finit_module", "fsconfig", "fsmount",
        "fsopen", "fspick", "get_kernel_syms", "get_mempolicy", "init_module", "io_uring_enter",
        "io_uring_register", "io_uring_setup", "ioperm", "iopl", "kcmp", "kexec_file_load",
        "kexec_load", "keyctl", "lookup_dcookie", "mbind", "memfd_secret", "migrate_pages",
        "modify_ldt", "mount", "mount_setattr", "move_mount", "move_pages", "name_to_handle_at",
        "nfsservctl", "open_by_handle_at", "open_tree", "perf_event_open", "pidfd_getfd",
        "pivot_root", "process_madvise", "process_vm_readv", "process_vm_writev", "ptrace",
        "query_module", "quotactl", "quotactl_fd", "reboot", "request_key", "set_mempolicy",
        "set_mempolicy_home_node", "setns", "settimeofday", "stime", "swapoff", "swapon", "_sysctl",
        "syslog", "umount", "umount2", "unshare", "uselib", "userfaultfd", "ustat", "vhangup",
        "vm86", "vm86old",
};

/* PER_LINUX, PER_LINUX32, UNAME26, both, and the 0xffffffff query (as Docker's
 * default profile); never ADDR_NO_RANDOMIZE or READ_IMPLIES_EXEC. */
static const uint32_t personality_ok[] = { 0x0, 0x0008, 0x20000, 0x20008, 0xffffffff };
static const uint32_t socket_families_ok[] = { AF_UNIX, AF_INET, AF_INET6 };

#define CLONE_NS_FLAGS                                                                             \
        (CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | \
         CLONE_NEWNET | CLONE_NEWTIME)

#define ARG_LO(i) ((uint32_t) (offsetof(struct seccomp_data, args) + 8 * (i)))

struct bpf_buf {
        struct sock_filter insn[64];
        size_t n;
};

static void emit(struct bpf_buf *b, uint16_t code, uint8_t jt, uint8_t jf, uint32_t k)
{
        if (b->n < ELEMENTSOF(b->insn))
                b->insn[b->n] = (struct sock_filter) { code, jt, jf, k };
        b->n++;
}

static uint8_t rel(size_t from, size_t to)
{
        return (uint8_t) (to - from - 1);
}

static void build_prefix(struct bpf_buf *b)
{
        size_t start, end;
        uint32_t eperm = SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA);
        uint32_t eafno = SECCOMP_RET_ERRNO | (EAFNOSUPPORT & SECCOMP_RET_DATA);

        emit(b, BPF_LD | BPF_W | BPF_ABS, 0, 0, offsetof(struct seccomp_data, arch));
        emit(b, BPF_JMP | BPF_JEQ | BPF_K, 1, 0, SB_AUDIT_ARCH);
        emit(b, BPF_RET | BPF_K, 0, 0, SECCOMP_RET_KILL_PROCESS);
        emit(b, BPF_LD | BPF_W | BPF_ABS, 0, 0, offsetof(struct seccomp_data, nr));
#ifdef SB_X32_BIT
        emit(b, BPF_JMP | BPF_JGE | BPF_K, 0, 1, SB_X32_BIT);
        emit(b, BPF_RET | BPF_K, 0, 0, SECCOMP_RET_KILL_PROCESS);
#endif

        /* ioctl(fd, TIOCSTI | TIOCLINUX, ...) -> EPERM: terminal injection. Block
         * layout: jeq nr; ld arg1; jeq TIOCSTI; jeq TIOCLINUX; ja end; ret EPERM. */
        start = b->n;
        end = start + 7;
        emit(b, BPF_LD | BPF_W | BPF_ABS, 0, 0, offsetof(struct seccomp_data, nr));
        emit(b, BPF_JMP | BPF_JEQ | BPF_K, 0, rel(start + 1, end), __NR_ioctl);
        emit(b, BPF_LD | BPF_W | BPF_ABS, 0, 0, ARG_LO(1));
        emit(b, BPF_JMP | BPF_JEQ | BPF_K, rel(start + 3, end - 1), 0, TIOCSTI);
        emit(b, BPF_JMP | BPF_JEQ | BPF_K, rel(start + 4, end - 1), 0, TIOCLINUX);
        emit(b, BPF_JMP | BPF_JA, 0, 0, 1);
        emit(b, BPF_RET | BPF_K, 0, 0, eperm);

        /* socket(family, type, proto): families AF_UNIX/INET/INET6 and
         * AF_NETLINK/NETLINK_ROUTE only; the rest -> EAFNOSUPPORT. Layout:
         * ld nr; jeq socket; ld a0; jeq x3 -> end; jeq NETLINK -> nl; ret E;
         * nl: ld a2; jeq ROUTE -> end; ret E. */
        start = b->n;
        end = start + 11;
        emit(b, BPF_LD | BPF_W | BPF_ABS, 0, 0, offsetof(struct seccomp_data, nr));
        emit(b, BPF_JMP | BPF_JEQ | BPF_K, 0, rel(start + 1, end), __NR_socket);
        emit(b, BPF_LD | BPF_W | BPF_ABS, 0, 0, ARG_LO(0));
        for (size_t i = 0; i < ELEMENTSOF(socket_families_ok); i++)
                emit(b, BPF_JMP | BPF_JEQ | BPF_K, rel(start + 3 + i, end), 0, socket_families_ok[i]);
        emit(b, BPF_JMP | BPF_JEQ | BPF_K, 1, 0, AF_NETLINK);
        emit(b, BPF_RET | BPF_K, 0, 0, eafno);
        emit(b, BPF_LD | BPF_W | BPF_ABS, 0, 0, ARG_LO(2));
        emit(b, BPF_JMP | BPF_JEQ | BPF_K, 1, 0, NETLINK_ROUTE);
        emit(b, BPF_RET | BPF_K, 0, 0, eafno);

        /* personality(persona): the allowed values fall through, the rest EPERM. */
        start = b->n;
        end = start + 4 + ELEMENTSOF(personality_ok);
        emit(b, BPF_LD | BPF_W | BPF_ABS, 0, 0, offsetof(struct seccomp_data, nr));
        emit(b, BPF_JMP | BPF_JEQ | BPF_K, 0, rel(start + 1, end), __NR_personality);
        emit(b, BPF_LD | BPF_W | BPF_ABS, 0, 0, ARG_LO(0));
        for (size_t i = 0; i < ELEMENTSOF(personality_ok); i++)
                emit(b, BPF_JMP | BPF_JEQ | BPF_K, rel(start + 3 + i, end), 0, personality_ok[i]);
        emit(b, BPF_RET | BPF_K, 0, 0, eperm);

        /* setsockopt(fd, SOL_TCP, TCP_ULP, name, len) -> EPERM. An upper-layer
         * protocol attached to a TCP socket (kernel TLS, "tls"; "espintcp"
         * where built) runs a large, young kernel parser on data the function
         * controls: CVE-2023-0461 (a use-after-free through a listening ULP
         * socket, a root exploit from an unprivileged user namespace),
         * CVE-2024-26582, -26583, -26584, -26585 and more in the tls module.
         * No function needs it: TLS in user space works unchanged. Only this
         * (level, optname) pair is refused; every other setsockopt stays
         * allowed. The level and optname are ints: their low 32 bits are
         * compared, so garbage in the upper half still matches. Layout:
         * ld nr; jeq setsockopt; ld a1; jeq SOL_TCP; ld a2; jeq TCP_ULP; ret E. */
        start = b->n;
        end = start + 7;
        emit(b, BPF_LD | BPF_W | BPF_ABS, 0, 0, offsetof(struct seccomp_data, nr));
        emit(b, BPF_JMP | BPF_JEQ | BPF_K, 0, rel(start + 1, end), __NR_setsockopt);
        emit(b, BPF_LD | BPF_W | BPF_ABS, 0, 0, ARG_LO(1));
        emit(b, BPF_JMP | BPF_JEQ | BPF_K, 0, rel(start + 3, end), SOL_TCP);
        emit(b, BPF_LD | BPF_W | BPF_ABS, 0, 0, ARG_LO(2));
        emit(b, BPF_JMP | BPF_JEQ | BPF_K, 0, rel(start + 5, end), TCP_ULP);
        emit(b, BPF_RET | BPF_K, 0, 0, eperm);
}

static int add_rules(scmp_filter_ctx ctx, struct sf_err *err)
{
        int r;

        for (size_t i = 0; i < ELEMENTSOF(allowed); i++) {
                int nr = seccomp_syscall_resolve_name(allowed[i]);
                if (nr == __NR_SCMP_ERROR)
                        continue; /* not on this architecture */
                r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
                if (r < 0)
                        return sf_err_errno(err, r, "seccomp: allow '%s'", allowed[i]);
        }
        for (size_t i = 0; i < ELEMENTSOF(denied); i++) {
                int nr = seccomp_syscall_resolve_name(denied[i]);
                if (nr == __NR_SCMP_ERROR)
                        continue;
                r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0);
                if (r < 0)
                        return sf_err_errno(err, r, "seccomp: deny '%s'", denied[i]);
        }
        /* clone3 passes flags in memory seccomp cannot read: it stays out of
         * the allowlist and gets the default ENOSYS (libseccomp refuses a rule
         * equal to the default action), so libc falls back to clone, whose
         * flags we can check. The unit test asserts the ENOSYS. */
        /* clone: one EPERM rule per namespace bit, one allow for "none of them";
         * together they cover every value without a NE compare. */
        for (unsigned bit = 0; bit < 32; bit++) {
                uint32_t f = 1u << bit;
                if (!(CLONE_NS_FLAGS & f))
                        continue;
                r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
                                     SCMP_A0(SCMP_CMP_MASKED_EQ, f, f));
                if (r < 0)
                        return sf_err_errno(err, r, "seccomp: clone flag %#x", f);
        }
        r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
                             SCMP_A0(SCMP_CMP_MASKED_EQ, (uint32_t) CLONE_NS_FLAGS, 0));
        if (r < 0)
                return sf_err_errno(err, r, "seccomp: clone");
        for (size_t i = 0; i < ELEMENTSOF(personality_ok); i++) {
                r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(personality), 1,
                                     SCMP_A0(SCMP_CMP_MASKED_EQ, 0xffffffffu, personality_ok[i]));
                if (r < 0)
                        return sf_err_errno(err, r, "seccomp: personality");
        }
        return 0;
}

int sb_seccomp_compile(struct sock_filter **ret, size_t *ret_len, struct sf_err *err)
{
        _cleanup_(seccomp_releasep) scmp_filter_ctx ctx = NULL;
        _cleanup_close_ int fd = -1;
        _cleanup_free_ struct sock_filter *prog = NULL;
        struct bpf_buf prefix = { .n = 0 };
        off_t size;
        size_t n_lib, total;
        int r;

        build_prefix(&prefix);
        if (prefix.n > ELEMENTSOF(prefix.insn))
                return sf_err_set(err, -E2BIG, "seccomp: prefix too long");

        /* libseccomp's arch tokens are the AUDIT_ARCH values. */
        if (seccomp_arch_native() != SB_AUDIT_ARCH)
                return sf_err_set(err, -EXDEV, "seccomp: libseccomp's native architecture %#x is not %s",
                                  seccomp_arch_native(), SB_ARCH_NAME);
        ctx = seccomp_init(SCMP_ACT_ERRNO(ENOSYS));
        if (!ctx)
                return sf_err_set(err, -ENOMEM, "seccomp: cannot create filter context");
        r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
        if (r < 0)
                return sf_err_errno(err, r, "seccomp: bad-arch action");
        r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
        if (r < 0)
                return sf_err_errno(err, r, "seccomp: nnp attribute");
        /* Binary tree: fewer instructions for the kernel to check, JIT and
         * emulate when it builds its per-syscall allow cache. Best effort. */
        (void) seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
        r = add_rules(ctx, err);
        if (r < 0)
                return r;

        /* libseccomp 2.5 has no export to memory: go through a memfd. */
        fd = memfd_create("sfaasd-seccomp", MFD_CLOEXEC);
        if (fd < 0)
                return sf_err_errno(err, -errno, "seccomp: memfd_create");
        r = seccomp_export_bpf(ctx, fd);
        if (r < 0)
                return sf_err_errno(err, r, "seccomp: export");
        size = lseek(fd, 0, SEEK_END);
        if (size <= 0 || size % (off_t) sizeof(struct sock_filter) != 0)
                return sf_err_set(err, -EINVAL, "seccomp: exported program has a bad size");
        n_lib = (size_t) size / sizeof(struct sock_filter);
        total = prefix.n + n_lib;
        if (total > BPF_MAXINSNS)
                return sf_err_set(err, -E2BIG, "seccomp: program too long (%zu instructions)", total);
        prog = calloc(total, sizeof *prog);
        if (!prog)
                return sf_err_set(err, -ENOMEM, "seccomp: out of memory");
        memcpy(prog, prefix.insn, prefix.n * sizeof *prog);
        if (pread(fd, prog + prefix.n, (size_t) size, 0) != size)
                return sf_err_errno(err, -EIO, "seccomp: read back");
        *ret = TAKE_PTR(prog);
        *ret_len = total;
        return 0;
}
