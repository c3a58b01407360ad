/* SPDX-License-Identifier: MIT */
/*
 * The image folders in images_dir (store/image.h has the layout): the
 * .complete marker that makes images_dir/<hex> an image, the private
 * dot-named folders an import builds in, and what the daemon does to the
 * folders besides importing: list them, detach and purge one, and remove
 * what an interrupted import left.
 *
 * Names starting with "." are never images: ".tmp-<rand>" (a staged
 * archive), ".unpack-<rand>" (an image being built), ".rm-<rand>" (a
 * detached image waiting for its purge).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/base/cleanup.h"
#include "core/base/util.h"
#include "store/image_internal.h"

/* .complete holds a decimal size and a newline. */
#define COMPLETE_MAX_BYTES 64
/* Random names tried before giving up (a collision means a broken RNG). */
#define PRIVATE_DIR_TRIES 8
#define DETACHED_PREFIX ".rm-"

/* Accept "sha256:<hex>" or "<hex>"; return the hex part. */
static const char *id_hex(const char *id)
{
        if (!id)
                return NULL;
        if (str_startswith(id, IMAGE_DIGEST_PREFIX))
                id += STRLEN(IMAGE_DIGEST_PREFIX);
        return image_is_hex64(id) ? id : NULL;
}

int image_dir_private_new(int dir_fd, const char *prefix, char *ret_name, size_t n, int *ret_fd)
{
        for (int i = 0; i < PRIVATE_DIR_TRIES; i++) {
                int fd, r;

                r = image_random_name(prefix, ret_name, n);
                if (r < 0)
                        return r;
                if (mkdirat(dir_fd, ret_name, 0700) < 0) {
                        if (errno == EEXIST)
                                continue;
                        return -errno;
                }
                fd = openat(dir_fd, ret_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (fd < 0) {
                        r = -errno;
                        (void) unlinkat(dir_fd, ret_name, AT_REMOVEDIR);
                        return r;
                }
                *ret_fd = fd;
                return 0;
        }
        return -EEXIST;
}

int image_dir_complete(int dir_fd, const char *hex, uint64_t *ret_size)
{
        _cleanup_free_ char *path = NULL, *buf = NULL;
        _cleanup_close_ int fd = -1;
        struct stat sb;
        uint64_t size = 0;
        char *nl;

        path = xasprintf("%s/.complete", hex);
        if (!path)
                return -ENOMEM;
        fd = openat(dir_fd, path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
        if (fd < 0)
                return errno == ENOENT || errno == ENOTDIR ? 0 : -errno;
        if (fstat(fd, &sb) < 0)
                return -errno;
        if (!S_ISREG(sb.st_mode))
                return 0;
        if (read_file_at(dir_fd, path, COMPLETE_MAX_BYTES, &buf, NULL) == 0) {
                nl = strchr(buf, '\n');
                if (nl)
                        *nl = '\0';
                if (parse_u64(buf, &size) < 0)
                        size = 0;
        }
        if (ret_size)
                *ret_size = size;
        return 1;
}

int image_detach(const char *images_dir, const char *id, char *ret_name, size_t n, uint64_t *ret_size)
{
        _cleanup_close_ int dir_fd = -1;
        const char *hex = id_hex(id);
        uint64_t size = 0;
        int r;

        if (!images_dir || !hex)
                return -EINVAL;
        dir_fd = open(images_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dir_fd < 0)
                return -errno;
        (void) image_dir_complete(dir_fd, hex, &size);
        r = image_random_name(DETACHED_PREFIX, ret_name, n);
        if (r < 0)
                return r;
        if (renameat2(dir_fd, hex, dir_fd, ret_name, RENAME_NOREPLACE) < 0)
                return -errno;
        (void) fsync(dir_fd);
        if (ret_size)
                *ret_size = size;
        return 0;
}

int image_purge_detached(const char *images_dir, const char *name)
{
        _cleanup_close_ int dir_fd = -1;

        if (!str_startswith(name, DETACHED_PREFIX) || strchr(name, '/'))
                return -EINVAL;
        dir_fd = open(images_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dir_fd < 0)
                return -errno;
        return rm_rf_at(dir_fd, name);
}

int image_list_complete(const char *images_dir, char ***ret)
{
        _cleanup_close_ int dir_fd = -1;
        _cleanup_strv_free_ char **v = NULL;
        _cleanup_(closedirp) DIR *d = NULL;
        size_t n = 0;
        struct dirent *de;
        int r;

        dir_fd = open(images_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dir_fd < 0)
                return -errno;
        r = image_opendir_at(dir_fd, &d);
        if (r < 0)
                return r;
        v = calloc(1, sizeof *v);
        if (!v)
                return -ENOMEM;
        while ((de = readdir(d))) {
                char **nv;

                if (!image_is_hex64(de->d_name) || image_dir_complete(dir_fd, de->d_name, NULL) <= 0)
                        continue;
                nv = realloc(v, (n + 2) * sizeof *v);
                if (!nv)
                        return -ENOMEM;
                v = nv;
                v[n] = xasprintf(IMAGE_DIGEST_PREFIX "%s", de->d_name);
                if (!v[n])
                        return -ENOMEM;
                v[++n] = NULL;
        }
        *ret = TAKE_PTR(v);
        return 0;
}

int image_gc_partial(const char *images_dir, unsigned *ret_removed)
{
        _cleanup_close_ int dir_fd = -1;
        _cleanup_(closedirp) DIR *d = NULL;
        struct dirent *de;
        unsigned removed = 0;
        int r;

        dir_fd = open(images_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dir_fd < 0)
                return -errno;
        r = image_opendir_at(dir_fd, &d);
        if (r < 0)
                return r;
        while ((de = readdir(d))) {
                bool junk = str_startswith(de->d_name, IMAGE_STAGE_PREFIX) ||
                            str_startswith(de->d_name, IMAGE_UNPACK_PREFIX) ||
                            str_startswith(de->d_name, DETACHED_PREFIX);

                if (!junk && image_is_hex64(de->d_name))
                        junk = image_dir_complete(dir_fd, de->d_name, NULL) == 0;
                if (junk) {
                        int q = rm_rf_at(dir_fd, de->d_name);
                        if (q < 0 && r == 0)
                                r = q;
                        else if (q >= 0)
                                removed++;
                }
        }
        if (r >= 0 && ret_removed)
                *ret_removed = removed;
        return r;
}
