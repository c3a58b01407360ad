/* SPDX-License-Identifier: MIT */
/*
 * Mount templates, made once per launcher and cloned by every sandbox:
 *
 *   /dev   a small tmpfs holding bind mounts of the host's null, zero, full,
 *          random and urandom (nosuid, noexec), the fd/stdin/stdout/stderr
 *          symlinks and an empty shm directory; read-only, nosuid, noexec.
 *   mask   an empty read-only tmpfs (size 0, one inode) that goes over each
 *          masked /proc directory (acpi, driver, pressure, ...).
 *
 * Why: building /dev costs each child 26 system calls and a new tmpfs
 * superblock, and each masked directory another superblock; the kernel then
 * tears every one down at exit (deactivate_super) on the sandbox's exit
 * path. A template is one open_tree(OPEN_TREE_CLONE | AT_RECURSIVE) in the
 * child: the same mounts with the same flags, sharing one superblock.
 *
 * Sharing is safe because both trees are read-only mounts of filesystems
 * owned by the launcher's (initial) user namespace, over which a sandbox
 * never holds a capability: it can neither remount them read-write nor
 * write to them (and it loses every capability before exec anyway). The
 * per-sandbox writable parts stay per sandbox: the child mounts a fresh
 * /dev/shm tmpfs on the clone's shm directory.
 *
 * The trees are detached (fsmount: never visible in any mount namespace).
 * Since 6.15 a detached tree made by fsmount() may be cloned from any mount
 * namespace; on older kernels the child's clone fails and it builds /dev and
 * the masks itself as before (child.c). A template that cannot be made here
 * is simply -1, with the same fallback.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/base/cleanup.h"
#include "sandbox/internal.h"

static int new_tmpfs(const char *const *kv, unsigned attrs)
{
        _cleanup_close_ int fs = -1;
        int m;

        fs = (int) syscall(SYS_fsopen, "tmpfs", FSOPEN_CLOEXEC);
        if (fs < 0)
                return -errno;
        for (; kv && kv[0]; kv += 2)
                if (syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, kv[0], kv[1], 0) < 0)
                        return -errno;
        if (syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
                return -errno;
        m = (int) syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC, attrs);
        return m < 0 ? -errno : m;
}

static int setattr(int fd, uint64_t set)
{
        struct mount_attr a = { .attr_set = set };
        if (syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH, &a, sizeof a) < 0)
                return -errno;
        return 0;
}

int sb_template_mask(int *ret_fd)
{
        static const char *const kv[] = { "size", "0k", "nr_inodes", "1", "mode", "0555", NULL };
        int m = new_tmpfs(kv, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
        if (m < 0)
                return m;
        *ret_fd = m;
        return 0;
}

int sb_template_dev(int *ret_fd)
{
        static const char *const kv[] = { "size", "64k", "nr_inodes", "64", "mode", "0755", NULL };
        static const char *const nodes[] = { "null", "zero", "full", "random", "urandom", NULL };
        static const char *const host_nodes[] = { "/dev/null", "/dev/zero", "/dev/full", "/dev/random",
                                                  "/dev/urandom", NULL };
        static const char *const links[][2] = {
                { "fd", "/proc/self/fd" },       { "stdin", "/proc/self/fd/0" },
                { "stdout", "/proc/self/fd/1" }, { "stderr", "/proc/self/fd/2" },
        };
        _cleanup_close_ int m = -1;
        int r;

        m = new_tmpfs(kv, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC);
        if (m < 0)
                return m;
        for (size_t i = 0; nodes[i]; i++) {
                _cleanup_close_ int f = -1, node = -1, t = -1;
                struct stat st;

                f = openat(m, nodes[i], O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0666);
                if (f < 0)
                        return -errno;
                /* Only a real character device is bound (a host /dev is trusted,
                 * but a missing node must not become a plain file). */
                node = (int) syscall(SYS_open_tree, AT_FDCWD, host_nodes[i],
                                     OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_SYMLINK_NOFOLLOW);
                if (node < 0)
                        return -errno;
                if (fstat(node, &st) < 0)
                        return -errno;
                if (!S_ISCHR(st.st_mode))
                        return -ENODEV;
                r = setattr(node, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC);
                if (r < 0)
                        return r;
                t = openat(m, nodes[i], O_PATH | O_NOFOLLOW | O_CLOEXEC);
                if (t < 0)
                        return -errno;
                if (syscall(SYS_move_mount, node, "", t, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
                        return -errno;
        }
        for (size_t i = 0; i < sizeof links / sizeof links[0]; i++)
                if (symlinkat(links[i][1], m, links[i][0]) < 0)
                        return -errno;
        if (mkdirat(m, "shm", 01777) < 0 || fchmodat(m, "shm", 01777, 0) < 0)
                return -errno;
        /* /dev itself read-only: nothing new can be planted in it. */
        r = setattr(m, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC);
        if (r < 0)
                return r;
        *ret_fd = TAKE_FD(m);
        return 0;
}
