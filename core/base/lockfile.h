/* SPDX-License-Identifier: MIT */
/*
 * Lock files: a file whose flock() tells whether the process that holds it
 * still lives. A flock lock belongs to an open file description and goes
 * when the last fd of it is closed, so it is released however its holder
 * ends (kill -9 included) and it means the same in every pid namespace: the
 * kernel tracks the file, not a pid, where kill(pid, 0) answers for a pid
 * of the caller's namespace that may belong to anyone.
 *
 * Removing a lock file races with a process that opened the name before the
 * unlink and locks it after: it would hold a lock nobody can find. So both
 * lockfile_acquire() and lockfile_take_abandoned() check, once locked, that
 * the name still leads to the inode they locked; the acquirer then retries
 * with a new file, the taker gives up.
 *
 * Every fd is O_CLOEXEC; a child that does not exec (fork, CLONE_VM) still
 * shares the lock until it exits or closes its copy.
 */
#pragma once

#include <stdbool.h>

/* Create dirfd/name if needed (mode 0600, never through a symlink) and lock
 * it exclusively. wait: block until the holder lets go; else -EAGAIN at once
 * while another open file description holds it. The fd (CLOEXEC) is the
 * lock: keep it open for as long as the lock must hold. */
int lockfile_acquire(int dirfd, const char *name, bool wait, int *ret_fd);

/* Lock dirfd/name only if it exists and nobody holds it, that is, its
 * holder is gone. Never creates it. 0 with the lock's fd in *ret_fd;
 * -ENOENT when there is no such file (or it was removed meanwhile);
 * -EAGAIN while a live process holds it. */
int lockfile_take_abandoned(int dirfd, const char *name, int *ret_fd);

/* Remove dirfd/name and close fd, whose lock we hold. Unlink first: a
 * waiter in lockfile_acquire() then finds the name gone and makes a new
 * file. Accepts fd < 0 (nothing to do). */
void lockfile_remove(int dirfd, const char *name, int fd);
