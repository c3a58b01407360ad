/* SPDX-License-Identifier: MIT */
/* Lock files (core/base/lockfile.h). */
#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/base/cleanup.h"
#include "core/base/lockfile.h"

/* After a retry this many times in a row, something keeps replacing the
 * file under us; give up rather than spin. */
#define LOCKFILE_TRIES 16

static int lock_fd(int fd, int how)
{
        while (flock(fd, how) < 0)
                if (errno != EINTR)
                        return errno == EWOULDBLOCK ? -EAGAIN : -errno;
        return 0;
}

/* 0 when dirfd/name is still the file open as fd, -ENOENT when it is gone
 * or is another file now. */
static int still_linked(int dirfd, const char *name, int fd)
{
        struct stat a, b;

        if (fstat(fd, &a) < 0)
                return -errno;
        if (fstatat(dirfd, name, &b, AT_SYMLINK_NOFOLLOW) < 0)
                return errno == ENOENT ? -ENOENT : -errno;
        if (a.st_dev != b.st_dev || a.st_ino != b.st_ino || a.st_nlink == 0)
                return -ENOENT;
        return 0;
}

int lockfile_acquire(int dirfd, const char *name, bool wait, int *ret_fd)
{
        for (int i = 0; i < LOCKFILE_TRIES; i++) {
                _cleanup_close_ int fd = openat(dirfd, name, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
                int r;

                if (fd < 0)
                        return -errno;
                r = lock_fd(fd, wait ? LOCK_EX : LOCK_EX | LOCK_NB);
                if (r < 0)
                        return r;
                r = still_linked(dirfd, name, fd);
                if (r == -ENOENT)
                        continue; /* the holder we waited for removed it: make a new one */
                if (r < 0)
                        return r;
                *ret_fd = TAKE_FD(fd);
                return 0;
        }
        return -EBUSY;
}

int lockfile_take_abandoned(int dirfd, const char *name, int *ret_fd)
{
        _cleanup_close_ int fd = openat(dirfd, name, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
        int r;

        if (fd < 0)
                return -errno;
        r = lock_fd(fd, LOCK_EX | LOCK_NB);
        if (r < 0)
                return r;
        r = still_linked(dirfd, name, fd);
        if (r < 0)
                return r;
        *ret_fd = TAKE_FD(fd);
        return 0;
}

void lockfile_remove(int dirfd, const char *name, int fd)
{
        if (fd < 0)
                return;
        (void) unlinkat(dirfd, name, 0);
        (void) close(fd);
}
