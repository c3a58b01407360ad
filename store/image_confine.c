/* SPDX-License-Identifier: MIT */
/*
 * Least privilege for the layer extractor.
 *
 * Layers are hostile, and the code that reads them (libarchive, zlib, zstd,
 * xz, bzip2, and image_unpack.c itself) is large C that parses attacker
 * bytes. image_unpack.c's openat2(RESOLVE_IN_ROOT) discipline stops path
 * escapes; what is here contains the rest: a memory-corruption bug that
 * gives code execution must reach only the new rootfs, and nothing of the
 * daemon.
 *
 * Design. All layers of one image are unpacked by a throwaway process:
 * store/image_helper.c re-executes the running binary (/proc/self/exe) as
 * "sfaasd-unpack" with a fixed set of fds (a result pipe, the empty rootfs
 * directory, the layer blobs read-only) and the plan on its command line.
 * The helper confines itself with image_confine_process() before it reads
 * a byte of any layer, unpacks, writes one fixed-size report to the pipe
 * and _exit()s. The parent (a thread-pool worker of the daemon) keeps the
 * database, the blob store, the digests of the compressed blobs, the
 * publish, and re-checks the tree the helper left (image_rootfs_check()).
 *
 * Why exec and not fork: a fork()ed child of the daemon would carry a copy
 * of the daemon's memory: the admin password, the key that seals secrets at
 * rest, other tenants' requests in flight. An extractor exploited by a
 * layer could copy them into the rootfs, which the attacker's own function
 * then reads and returns over HTTP. A fork of a multithreaded process also
 * inherits the locks other threads held (OpenSSL's method store, for one),
 * and STYLE.md allows only async-signal-safe calls there. A fresh image of
 * the binary holds only what it is given. The price is one exec of the
 * sfaasd binary (libcrypto, SQLite, jansson and libarchive are linked
 * statically, so the loader maps five shared libraries) and two cheap
 * namespaces: about 2-3 ms per imported image, measured in bench/RESULTS.md.
 *
 * The steps, in the order STYLE.md rule 11 asks (image_helper.c does step
 * 0, image_confine_process() the rest):
 *   0. before any layer byte: PR_SET_PDEATHSIG, every fd but the expected
 *      ones closed, OpenSSL initialised WITHOUT its config file and SHA-256
 *      fetched, jansson's hash seed drawn, the seccomp filter compiled.
 *      Everything that reads files lazily from "/" does it now, from the
 *      host: after the chroot "/" is the image, and a library that then
 *      opens a config or loads a module by absolute path would take it
 *      from the attacker (sudo's chroot bug CVE-2025-32463 loaded an NSS
 *      module that way). The seccomp filter also refuses executable
 *      mappings, so a dlopen() from the image cannot map code anyway.
 *   1. unshare(CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS):
 *      no network but a down loopback, no host SysV IPC or hostname, and
 *      mount changes (there are none) invisible to the host. A new netns
 *      costs ~0.5 ms here, the others nothing measurable.
 *   2. fchdir(rootfs) + chroot("."): "/" is the new, empty rootfs. With
 *      CAP_SYS_CHROOT gone (3), chroot, pivot_root and mount refused by
 *      seccomp (7), no directory fd outside the root and no procfs inside,
 *      none of the classic chroot escapes is open.
 *   3. capabilities: the bounding set is cut to CAP_CHOWN, CAP_DAC_OVERRIDE
 *      and CAP_FOWNER, securebits locked (no root or setuid fix-ups, no
 *      ambient raise), ambient set cleared, permitted = effective = those
 *      three, inheritable empty. They are what reproducing an image's
 *      ownership and modes needs: chown to the image's uids (CHOWN),
 *      filling directories the image made 0555 or owned by another uid
 *      (DAC_OVERRIDE), chmod, utimens and hard links (fs.protected_hardlinks)
 *      on files owned by image uids (FOWNER). Not CAP_FSETID: setuid and
 *      setgid are stripped anyway. No CAP_MKNOD, CAP_SYS_ADMIN,
 *      CAP_SYS_CHROOT, CAP_SETFCAP, CAP_KILL or any other.
 *   4. PR_SET_NO_NEW_PRIVS; not dumpable (no core of hostile data, no
 *      ptrace by other processes of the same uid).
 *   5. rlimits: RLIMIT_NOFILE (the fds it holds plus two per directory
 *      level for rm -rf and opaque directories, ~600), RLIMIT_FSIZE (the
 *      unpacked-bytes cap: no single file beyond it), RLIMIT_AS 2 GiB
 *      (decompressors need at most a 128 MiB zstd window or a 64 MiB xz
 *      dictionary; not under ASan, whose shadow is terabytes of address
 *      space), RLIMIT_CPU one hour, RLIMIT_CORE 0.
 *   6. Landlock (when the kernel has it): below the rootfs only reading,
 *      writing, truncating, making directories, regular files and symlinks,
 *      removing, and REFER (hard links inside); no execute, no device,
 *      FIFO or socket nodes, no device ioctls; TCP bind/connect denied
 *      (ABI >= 4), abstract unix sockets and signals scoped (ABI >= 6).
 *      Redundant with the chroot for paths, but it also holds where the
 *      daemon runs without root (see below) and if the chroot had a hole.
 *   7. seccomp last: an allowlist of the ~45 calls the unpack makes; known
 *      dangerous ones (socket, exec, fork, vfork, ptrace, the mount family,
 *      namespaces, chroot, kill, mknod, ioctl, prctl, bpf, keyctl,
 *      io_uring, ...) EPERM, everything else ENOSYS, another architecture
 *      killed. clone only with pthread_create's exact flags (the unpacker
 *      decompresses on a second thread, which shares all of the above);
 *      any other clone, and clone3 (flags out of a filter's sight), gets
 *      ENOSYS. mmap and mprotect only without PROT_EXEC; tgkill only within
 *      this process (abort()). x32 numbers fall to the default (ENOSYS):
 *      none of them equals an allowed number.
 *
 * Why real root with three capabilities, and not a user namespace with a
 * mapped uid: the rootfs on disk must hold the image's raw uids and gids
 * (0..65535), because one rootfs is shared by every tenant and the launcher
 * maps those ids to each tenant's host range at mount time through an
 * idmapped mount (sandbox/, uid_map "0 <tenant base> 65536"). An unpacker
 * in a user namespace would write shifted ids that the launcher would have
 * to shift back, and some range of host uids would own the shared files.
 * Root confined to the new tree by the chroot, Landlock and seccomp, with
 * only the three ownership capabilities, reaches the same files and no
 * more.
 *
 * Without root (a developer's unit test run), steps 1-3 are skipped: there
 * is nothing to drop and no way to chroot; 4-7 still apply and the caller
 * is told (UNPACK_CONFINED_NOCHROOT). Any other failure of a step fails the
 * import: the unpacker never runs less confined than planned.
 *
 * Residual risk, with the helper compromised: it can write anything below
 * the new rootfs, the tree it exists to write, including setuid files,
 * foreign owners, devices it cannot make (no CAP_MKNOD) or a /proc symlink;
 * the parent refuses such a tree afterwards (image_rootfs_check() in
 * store/image_helper.c). It can report that the layers' diff_ids matched
 * when they did not: re-checking them would mean decompressing in the
 * daemon, the very thing this avoids, and a helper that can forge the
 * report can equally write any content; the digests that name the
 * compressed blobs are verified by the parent. It can use its rlimits,
 * fill the disk (no quota), and hold its import open (futex waits) until
 * the daemon exits, when PR_SET_PDEATHSIG kills it.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/landlock.h>
#include <linux/securebits.h>
#include <sched.h>
#include <seccomp.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/base/cleanup.h"
#include "store/image_internal.h"

/* The installed uapi header may predate these (they are stable ABI). */
#ifndef LANDLOCK_ACCESS_FS_REFER
#define LANDLOCK_ACCESS_FS_REFER (1ULL << 13)
#endif
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14)
#endif
#ifndef LANDLOCK_ACCESS_FS_IOCTL_DEV
#define LANDLOCK_ACCESS_FS_IOCTL_DEV (1ULL << 15)
#endif
#define LL_NET_BIND_TCP (1ULL << 0)
#define LL_NET_CONNECT_TCP (1ULL << 1)
#define LL_SCOPE_ABSTRACT_UNIX_SOCKET (1ULL << 0)
#define LL_SCOPE_SIGNAL (1ULL << 1)

/* glibc's pthread_create (sysdeps/unix/sysv/linux/createthread.c). */
#define UNPACK_THREAD_FLAGS                                                                                 \
        (CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SYSVSEM | CLONE_SIGHAND | CLONE_THREAD | CLONE_SETTLS | \
         CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID)

#define UNPACK_AS_LIMIT (2ULL << 30)
#define UNPACK_CPU_SECONDS 3600
/* Beyond the fixed fds: two per directory level (rm -rf and opaque
 * directories walk with an fd per level), and some slack. */
#define UNPACK_NOFILE_SLACK 64

#if defined(__SANITIZE_ADDRESS__)
#define UNPACK_UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNPACK_UNDER_ASAN 1
#endif
#endif

DEFINE_TRIVIAL_CLEANUP_FUNC(scmp_filter_ctx, seccomp_release)

/* struct landlock_ruleset_attr as of ABI 6; the size passed tells the
 * kernel which fields exist (an older kernel rejects unknown non-zero
 * ones), so it is chosen by ABI. */
struct ll_ruleset_attr {
        uint64_t handled_access_fs;
        uint64_t handled_access_net;
        uint64_t scoped;
};

/* Restrict the calling thread (the whole process when it has one thread)
 * with Landlock to the tree below root_fd. 1 confined, 0 Landlock
 * unavailable, -errno on failure. */
static int confine_landlock(int root_fd)
{
        struct ll_ruleset_attr attr = { 0 };
        struct landlock_path_beneath_attr pb = { 0 };
        _cleanup_close_ int ruleset = -1;
        size_t attr_size;
        long abi;

        abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
        if (abi < 0)
                return errno == ENOSYS || errno == EOPNOTSUPP ? 0 : -errno;

        attr.handled_access_fs = (LANDLOCK_ACCESS_FS_MAKE_SYM << 1) - 1; /* ABI 1: bits 0..12 */
        pb.allowed_access = LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR |
                            LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_REMOVE_DIR |
                            LANDLOCK_ACCESS_FS_REMOVE_FILE | LANDLOCK_ACCESS_FS_MAKE_DIR |
                            LANDLOCK_ACCESS_FS_MAKE_REG | LANDLOCK_ACCESS_FS_MAKE_SYM |
                            LANDLOCK_ACCESS_FS_MAKE_FIFO;
        if (abi >= 2) {
                attr.handled_access_fs |= LANDLOCK_ACCESS_FS_REFER;
                pb.allowed_access |= LANDLOCK_ACCESS_FS_REFER;
        }
        if (abi >= 3) {
                attr.handled_access_fs |= LANDLOCK_ACCESS_FS_TRUNCATE;
                pb.allowed_access |= LANDLOCK_ACCESS_FS_TRUNCATE;
        }
        if (abi >= 5)
                attr.handled_access_fs |= LANDLOCK_ACCESS_FS_IOCTL_DEV;
        attr_size = sizeof attr.handled_access_fs;
        if (abi >= 4) {
                attr.handled_access_net = LL_NET_BIND_TCP | LL_NET_CONNECT_TCP;
                attr_size = offsetof(struct ll_ruleset_attr, scoped);
        }
        if (abi >= 6) {
                attr.scoped = LL_SCOPE_ABSTRACT_UNIX_SOCKET | LL_SCOPE_SIGNAL;
                attr_size = sizeof attr;
        }

        ruleset = (int) syscall(SYS_landlock_create_ruleset, &attr, attr_size, 0);
        if (ruleset < 0)
                return -errno;
        pb.parent_fd = root_fd;
        if (syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &pb, 0) < 0)
                return -errno;
        /* Required unless CAP_SYS_ADMIN; set again (harmlessly) here so the
         * function stands alone. */
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                return -errno;
        if (syscall(SYS_landlock_restrict_self, ruleset, 0) < 0)
                return -errno;
        return 1;
}

/* ---- seccomp ----------------------------------------------------------- */

/* What image_unpack.c, libarchive, the decompressors, OpenSSL's SHA-256,
 * jansson and glibc's malloc call once the helper is confined (checked with
 * strace over the fixtures, the hostile corpus and the bench image). */
static const char *const unpack_allowed[] = {
        "brk", "clock_gettime", "close", "exit", "exit_group", "fchmod", "fchown", "fchownat", "fcntl",
        "fchmodat", "fstat", "ftruncate", "futex", "getdents64", "getpid", "getrandom", "gettid", "gettimeofday", "linkat", "lseek",
        "madvise", "mkdirat", "mremap", "munmap", "newfstatat", "openat", "openat2", "pread64", "read",
        "readv", "restart_syscall", "rseq", "rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "sched_yield",
        "set_robust_list", "sigaltstack", "statx", "symlinkat", "unlinkat", "utimensat", "write", "writev",
};

/* Known dangerous: EPERM rather than ENOSYS, so nothing "falls back".
 * clone is handled apart (threads only); clone3 is left to the default
 * ENOSYS, so that glibc's pthread_create falls back to clone, whose flags
 * a filter can see (clone3's are in memory). */
static const char *const unpack_denied[] = {
        "accept", "accept4", "add_key", "bind", "bpf", "capset", "chdir", "chroot", "connect", "delete_module", "execve", "execveat", "fchdir", "finit_module", "fork", "fsconfig",
        "fsetxattr", "fsmount", "fsopen", "fspick", "init_module", "io_uring_enter", "io_uring_register",
        "io_uring_setup", "ioctl", "kexec_file_load", "kexec_load", "keyctl", "kill", "landlock_add_rule",
        "landlock_create_ruleset", "landlock_restrict_self", "lsetxattr", "listen", "memfd_create", "mknod",
        "mount", "mount_setattr", "move_mount", "name_to_handle_at", "open_by_handle_at",
        "open_tree", "perf_event_open", "personality", "pidfd_getfd", "pidfd_open", "pidfd_send_signal",
        "pivot_root", "pkey_mprotect", "prctl", "process_vm_readv", "process_vm_writev", "ptrace",
        "recvfrom", "recvmmsg", "recvmsg", "request_key", "rt_sigqueueinfo", "rt_tgsigqueueinfo",
        "seccomp", "sendmmsg", "sendmsg", "sendto", "setgid", "setgroups", "setns", "setregid",
        "setresgid", "setresuid", "setreuid", "setuid", "setxattr", "socket", "socketpair", "tkill",
        "umount2", "unshare", "userfaultfd", "vfork",
};

static int seccomp_add_names(scmp_filter_ctx ctx, uint32_t action, const char *const *names, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                int nr = seccomp_syscall_resolve_name(names[i]);
                int r;

                if (nr == __NR_SCMP_ERROR)
                        continue; /* unknown to this libseccomp: the default applies */
                r = seccomp_rule_add(ctx, action, nr, 0);
                if (r < 0)
                        return r;
        }
        return 0;
}

int image_confine_seccomp_new(pid_t self, void **ret)
{
        _cleanup_(seccomp_releasep) scmp_filter_ctx ctx = NULL;
        static const char *const maps[] = { "mmap", "mprotect" };
        int r;

        ctx = seccomp_init(SCMP_ACT_ERRNO(ENOSYS));
        if (!ctx)
                return -ENOMEM;
        r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
        if (r < 0)
                return r;
        r = seccomp_add_names(ctx, SCMP_ACT_ALLOW, unpack_allowed, ELEMENTSOF(unpack_allowed));
        if (r < 0)
                return r;
        r = seccomp_add_names(ctx, SCMP_ACT_ERRNO(EPERM), unpack_denied, ELEMENTSOF(unpack_denied));
        if (r < 0)
                return r;
        /* Memory, never executable: no code mapped after the filter (a
         * dlopen() from the image root, or shellcode made executable). */
        for (size_t i = 0; i < ELEMENTSOF(maps); i++) {
                int nr = seccomp_syscall_resolve_name(maps[i]);

                r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1, SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
                if (r < 0)
                        return r;
                r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 1,
                                     SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, PROT_EXEC));
                if (r < 0)
                        return r;
        }
        /* FIFOs (store/image_unpack.c keeps them), and no other node: the
         * type bits of the mode compared, the low 32 bits (SECURITY.md). No
         * capability would allow a device anyway (CAP_MKNOD is dropped);
         * this says so twice. */
        r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mknodat), 1,
                             SCMP_A2(SCMP_CMP_MASKED_EQ, (scmp_datum_t) S_IFMT, (scmp_datum_t) S_IFIFO));
        if (r < 0)
                return r;
        r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(mknodat), 1,
                             SCMP_A2(SCMP_CMP_MASKED_EQ, (scmp_datum_t) S_IFMT, (scmp_datum_t) S_IFCHR));
        if (r < 0)
                return r;
        r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(mknodat), 1,
                             SCMP_A2(SCMP_CMP_MASKED_EQ, (scmp_datum_t) S_IFMT, (scmp_datum_t) S_IFBLK));
        if (r < 0)
                return r;
        r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(mknodat), 1,
                             SCMP_A2(SCMP_CMP_MASKED_EQ, (scmp_datum_t) S_IFMT, (scmp_datum_t) S_IFSOCK));
        if (r < 0)
                return r;
        r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(mknodat), 1,
                             SCMP_A2(SCMP_CMP_MASKED_EQ, (scmp_datum_t) S_IFMT, (scmp_datum_t) S_IFREG));
        if (r < 0)
                return r;
        /* abort() signals the calling thread: only this process (tgid ==
         * self). Low 32 bits compared (SECURITY.md). */
        r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 1,
                             SCMP_A0(SCMP_CMP_MASKED_EQ, 0xffffffffULL, (scmp_datum_t) (uint32_t) self));
        if (r < 0)
                return r;
        /* A thread (image_unpack.c decompresses on one): exactly the flags
         * glibc's pthread_create passes; it shares this process's
         * namespaces, root, credentials, Landlock domain and this filter.
         * fork(), vfork() and any other flag set stay refused. */
        r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
                             SCMP_A0(SCMP_CMP_MASKED_EQ, 0xffffffffULL, (scmp_datum_t) UNPACK_THREAD_FLAGS));
        if (r < 0)
                return r;
        *ret = TAKE_PTR(ctx);
        return 0;
}

/* ---- capabilities and limits ------------------------------------------- */

#define KEEP_CAPS ((1ULL << CAP_CHOWN) | (1ULL << CAP_DAC_OVERRIDE) | (1ULL << CAP_FOWNER))
/* Capability sets are 64 bits (two 32-bit words for capset()). */
#define CAP_SET_BITS 64

static int caps_reduce(void)
{
        struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
        struct __user_cap_data_struct data[2];

        /* The bounding set first: PR_CAPBSET_DROP needs CAP_SETPCAP, which
         * the capset below gives up. EINVAL past the kernel's last cap. */
        for (unsigned long c = 0; c < CAP_SET_BITS; c++) {
                if ((KEEP_CAPS >> c) & 1)
                        continue;
                if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0) {
                        if (errno == EINVAL)
                                break;
                        return -errno;
                }
        }
        if (prctl(PR_SET_SECUREBITS,
                  SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP | SECBIT_NO_SETUID_FIXUP_LOCKED |
                          SECBIT_KEEP_CAPS_LOCKED | SECBIT_NO_CAP_AMBIENT_RAISE | SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED,
                  0, 0, 0) < 0)
                return -errno;
        if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
                return -errno;
        memset(data, 0, sizeof data);
        data[0].effective = data[0].permitted = (uint32_t) KEEP_CAPS;
        data[1].effective = data[1].permitted = (uint32_t) (KEEP_CAPS >> 32);
        if (syscall(SYS_capset, &hdr, data) < 0)
                return -errno;
        return 0;
}

static int limit(int resource, uint64_t v)
{
        struct rlimit rl = { .rlim_cur = (rlim_t) v, .rlim_max = (rlim_t) v };

        return setrlimit(resource, &rl) < 0 ? -errno : 0;
}

static int limits_set(const struct unpack_confinement *c)
{
        int r;

        r = limit(RLIMIT_NOFILE, c->max_fd + 1 + 2 * IMAGE_MAX_DIR_DEPTH + UNPACK_NOFILE_SLACK);
        if (r >= 0)
                r = limit(RLIMIT_FSIZE, c->max_file_bytes);
        if (r >= 0)
                r = limit(RLIMIT_CORE, 0);
        if (r >= 0)
                r = limit(RLIMIT_CPU, UNPACK_CPU_SECONDS);
#ifndef UNPACK_UNDER_ASAN
        if (r >= 0)
                r = limit(RLIMIT_AS, UNPACK_AS_LIMIT);
#endif
        return r;
}

/* ---- the whole sequence ------------------------------------------------ */

static int step_fail(struct sf_err *err, int r, const char *step)
{
        return sf_err_errno(err, r, "cannot confine the unpacker: %s", step);
}

int image_confine_process(const struct unpack_confinement *c, void *filter, unsigned *ret_flags,
                          struct sf_err *err)
{
        unsigned flags = 0;
        int r;

        if (geteuid() == 0) {
                if (unshare(CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS) < 0)
                        return step_fail(err, -errno, "unshare");
                if (fchdir(c->root_fd) < 0)
                        return step_fail(err, -errno, "fchdir to the rootfs");
                if (chroot(".") < 0)
                        return step_fail(err, -errno, "chroot");
                if (chdir("/") < 0)
                        return step_fail(err, -errno, "chdir");
                r = caps_reduce();
                if (r < 0)
                        return step_fail(err, r, "capabilities");
        } else
                flags |= UNPACK_CONFINED_NOCHROOT;
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                return step_fail(err, -errno, "no_new_privs");
        if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
                return step_fail(err, -errno, "dumpable");
        r = limits_set(c);
        if (r < 0)
                return step_fail(err, r, "rlimits");
        r = confine_landlock(c->root_fd);
        if (r < 0)
                return step_fail(err, r, "landlock");
        if (r == 0)
                flags |= UNPACK_CONFINED_NOLANDLOCK;
        r = seccomp_load(filter);
        if (r < 0)
                return step_fail(err, r, "seccomp");
        *ret_flags = flags;
        return 0;
}
