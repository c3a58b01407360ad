/* SPDX-License-Identifier: MIT */
/*
 * Least privilege for the layer extractor: the unpack runs on a dedicated,
 * short-lived thread that first restricts itself with Landlock to the
 * target rootfs, so that a path-handling bug in image_unpack.c (the
 * openat2(RESOLVE_IN_ROOT) discipline is the first line) cannot create,
 * write, read or remove anything outside the new tree.
 *
 * Why a thread and not a process: the daemon is multithreaded, and the
 * unpacker needs malloc, libarchive and OpenSSL, none of which may run in a
 * fork()ed child of a multithreaded process (STYLE.md: only async-signal-safe
 * calls between fork and exec). A re-exec'd helper would work but costs an
 * exec, a second copy of the static libraries and an fd-passing protocol.
 * Landlock domains, and the no_new_privs bit they need, are per thread
 * (credentials are per task): landlock_restrict_self() without
 * LANDLOCK_RESTRICT_SELF_TSYNC confines the calling thread only, and the
 * domain dies with it. So the import thread (a libuv pool thread that must
 * stay unrestricted for later work) starts a thread, the thread confines
 * itself and runs the unpack, and exits.
 *
 * The domain handles every filesystem right the kernel knows (up to ABI 5)
 * and grants beneath the rootfs only reading, writing, truncating, making
 * directories, regular files and symlinks, removing, and REFER (hard links
 * inside the tree). No execute, no device, FIFO or socket nodes, no device
 * ioctls anywhere. With ABI >= 4 TCP bind/connect are denied, with ABI >= 6
 * abstract unix sockets and signals outside the domain.
 *
 * Residual risk (what this does not contain): Landlock checks opening and
 * creating by path, not operations on fds already open, and the thread
 * shares the daemon's address space and fd table. A memory-corruption bug
 * in libarchive or a decompressor that gives code execution can use any fd
 * of the daemon (the database, sockets) and overwrite other threads'
 * memory, i.e. escape. Containing that needs a separate process (exec of a
 * small helper with only the rootfs and blob fds, under seccomp); see
 * store/image.h. chown/chmod/utimens through the fds the unpacker opens are
 * not Landlock rights either, but those fds are inside the tree by
 * construction.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/landlock.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/prctl.h>
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

/* struct landlock_ruleset_attr as of ABI 6; the size passed tells the
 * kernel which fields exist (an older kernel rejects unknown non-zero
 * ones), so it is chosen by ABI. */
struct ll_ruleset_attr {
        uint64_t handled_access_fs;
        uint64_t handled_access_net;
        uint64_t scoped;
};

int image_confine_thread(int root_fd)
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
                            LANDLOCK_ACCESS_FS_MAKE_REG | LANDLOCK_ACCESS_FS_MAKE_SYM;
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
        /* Per thread, like the domain; required unless CAP_SYS_ADMIN. This
         * thread never execs. */
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                return -errno;
        if (syscall(SYS_landlock_restrict_self, ruleset, 0) < 0)
                return -errno;
        return 1;
}

struct confined_call {
        int root_fd;
        int (*fn)(void *);
        void *arg;
        int r;
        bool confined;
};

static void *confined_main(void *p)
{
        struct confined_call *c = p;
        int r = image_confine_thread(c->root_fd);

        if (r < 0) {
                c->r = r;
                return NULL;
        }
        c->confined = r > 0;
        c->r = c->fn(c->arg);
        return NULL;
}

int image_run_confined(int root_fd, int (*fn)(void *), void *arg, bool *ret_confined)
{
        struct confined_call c = { .root_fd = root_fd, .fn = fn, .arg = arg };
        pthread_t t;
        int r;

        r = pthread_create(&t, NULL, confined_main, &c);
        if (r != 0)
                return -r;
        r = pthread_join(t, NULL);
        if (r != 0)
                return -r;
        if (c.r >= 0 && ret_confined)
                *ret_confined = c.confined;
        return c.r;
}
