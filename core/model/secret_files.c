/* SPDX-License-Identifier: MIT */
/* A function's secrets on a private detached tmpfs (core/model/secret_files.h). */
#include "core/model/secret_files.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/mount.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/base/cleanup.h"
#include "core/base/util.h"

void secret_files_init(struct secret_files *sfs)
{
        memset(sfs, 0, sizeof *sfs);
        sfs->mnt_fd = -1;
}

void secret_files_release(struct secret_files *sfs)
{
        for (size_t i = 0; i < sfs->n; i++)
                if (sfs->fds[i] >= 0)
                        (void) close(sfs->fds[i]);
        if (sfs->mnt_fd >= 0)
                (void) close(sfs->mnt_fd);
        secret_files_init(sfs);
}

/* A tmpfs sized for the values, mounted nowhere: nosuid, nodev, noexec,
 * root directory 0700. */
static int make_tmpfs(size_t bytes, size_t files, int *ret_fd)
{
        _cleanup_close_ int fs = (int) syscall(SYS_fsopen, "tmpfs", FSOPEN_CLOEXEC);
        char size[32], inodes[32];
        int m;

        if (fs < 0)
                return -errno;
        (void) xsnprintf(size, sizeof size, "%zu", bytes);
        (void) xsnprintf(inodes, sizeof inodes, "%zu", files + 4);
        if (syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, "size", size, 0) < 0 ||
            syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, "nr_inodes", inodes, 0) < 0 ||
            syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, "mode", "0700", 0) < 0)
                return -errno;
        /* Keep the pages out of swap where the kernel can (6.4+). */
        (void) syscall(SYS_fsconfig, fs, FSCONFIG_SET_FLAG, "noswap", NULL, 0);
        if (syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
                return -errno;
        m = (int) syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC,
                          MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
        if (m < 0)
                return -errno;
        *ret_fd = m;
        return 0;
}

static int write_secret(int mnt_fd, const char *name, const unsigned char *v, size_t len, int *ret_path_fd)
{
        _cleanup_close_ int fd = openat(mnt_fd, name, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0444);
        int r, p;

        if (fd < 0)
                return -errno;
        r = write_all(fd, v, len);
        if (r < 0)
                return r;
        if (fchmod(fd, 0444) < 0) /* whatever the umask said */
                return -errno;
        p = openat(mnt_fd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        if (p < 0)
                return -errno;
        *ret_path_fd = p;
        return 0;
}

int secret_files_prepare(struct sfaasd *sf, const char *ns, json_t *names, struct secret_files *sfs,
                         struct sf_err *err)
{
        size_t n = json_array_size(names), bytes = 0, i;
        json_t *e;
        int r;

        secret_files_init(sfs);
        if (n == 0)
                return 0;
        if (n > SECRET_FILES_MAX)
                return sf_err_set(err, -E2BIG, "more than %d secrets", SECRET_FILES_MAX);
        /* Page-rounded sizes plus room for the directory: the values are
         * checked against this again as they are written (ENOSPC). */
        bytes = (n + 2) * 4096 + n * (size_t) SECRET_VALUE_MAX;
        r = make_tmpfs(bytes, n, &sfs->mnt_fd);
        if (r < 0)
                return sf_err_errno(err, r, "cannot make a tmpfs for the secrets");
        json_array_foreach(names, i, e) {
                const char *name = json_string_value(e);
                unsigned char *v = NULL;
                size_t len = 0, k;
                bool dup = false;

                if (!name || !secret_name_valid(name)) {
                        r = sf_err_set(err, -ENOENT, "unable to find secret: %.64s", name ? name : "(not a string)");
                        goto fail;
                }
                for (k = 0; k < i; k++)
                        if (strcmp(json_string_value(json_array_get(names, k)), name) == 0)
                                dup = true;
                if (dup)
                        continue;
                r = store_secret_get(sf->store, &sf->secret_key, ns, name, &v, &len);
                if (r == -ENOENT) {
                        r = sf_err_set(err, r, "unable to find secret: %s", name);
                        goto fail;
                }
                if (r < 0) {
                        r = sf_err_errno(err, r, "cannot open secret '%s'%s", name,
                                         r == -EBADMSG ? " (sealed with another key, or altered)" : "");
                        goto fail;
                }
                sfs->fds[sfs->n] = -1;
                r = write_secret(sfs->mnt_fd, name, v, len, &sfs->fds[sfs->n]);
                secret_value_free(v, len);
                if (r < 0) {
                        r = sf_err_errno(err, r, "cannot write secret '%s' to its tmpfs", name);
                        goto fail;
                }
                (void) xsnprintf(sfs->src[sfs->n], sizeof sfs->src[sfs->n], "/proc/self/fd/%d", sfs->fds[sfs->n]);
                (void) xsnprintf(sfs->dst[sfs->n], sizeof sfs->dst[sfs->n], SECRET_FILES_DIR "/%s", name);
                sfs->binds[sfs->n] = (struct sandbox_bind) { .src = sfs->src[sfs->n], .dst = sfs->dst[sfs->n] };
                sfs->n++;
        }
        return 0;
fail:
        secret_files_release(sfs);
        return r;
}
