/* SPDX-License-Identifier: MIT */
/*
 * A function's secrets as files for its sandbox, cleartext kept off disk.
 *
 * Each spawn gets a fresh tmpfs made with fsopen/fsmount and never attached
 * to any path (a detached mount: only this process reaches it, through its
 * fd; mode 0700, noswap where the kernel has it). Every secret is decrypted
 * into a 0444 file there, and the sandbox bind-mounts it read-only at
 * /var/openfaas/secrets/NAME; the source given to the launcher is
 * /proc/self/fd/N of an O_PATH fd on that file, which the launcher opens
 * with open_tree() in this process before cloning. After the spawn
 * secret_files_release() closes every fd: the tmpfs then lives only as long
 * as the sandbox's own mounts of it, and its pages go with the sandbox.
 *
 * Why not a memfd per secret: the kernel refuses open_tree/bind of a memfd
 * (its mount is internal: EINVAL), checked on 6.18. A detached tmpfs works
 * where open_tree(OPEN_TREE_CLONE) accepts detached mounts (checked on 6.18;
 * older kernels answer EINVAL, and the spawn fails with "bind source").
 */
#pragma once

#include <jansson.h>
#include <stddef.h>

#include "core/sfaasd.h"

/* Most secrets one function may list (the launcher's bind limit). */
#define SECRET_FILES_MAX 64
#define SECRET_FILES_DIR "/var/openfaas/secrets"

struct secret_files {
        int mnt_fd;                                   /* the detached tmpfs, or -1 */
        size_t n;
        int fds[SECRET_FILES_MAX];                    /* O_PATH on each file */
        char src[SECRET_FILES_MAX][32];               /* "/proc/self/fd/N" */
        char dst[SECRET_FILES_MAX][sizeof SECRET_FILES_DIR + SECRET_NAME_MAX + 1];
        struct sandbox_bind binds[SECRET_FILES_MAX];
};

/* Zeroed, fds -1: release() is then a no-op. */
void secret_files_init(struct secret_files *sfs);
/* Decrypt the secrets named in the JSON array names (duplicates once) of
 * namespace ns into a fresh detached tmpfs. -ENOENT names the missing
 * secret in err; -EBADMSG one that does not open with the store key. */
int secret_files_prepare(struct sfaasd *sf, const char *ns, json_t *names, struct secret_files *sfs,
                         struct sf_err *err);
/* Close every fd (idempotent). */
void secret_files_release(struct secret_files *sfs);
