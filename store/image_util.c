/* SPDX-License-Identifier: MIT */
/*
 * The lowest layer of the image code (store/image_internal.h has the
 * order): limits, digests, the one normaliser of the names an image
 * carries, printable copies of hostile strings, private names, and
 * libarchive's decompression filters. Uses nothing of store/ but types.
 */
#include <archive.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/base/cleanup.h"
#include "core/base/util.h"
#include "store/image_internal.h"

/* Random bytes in a private name: 16 hex digits. */
#define RANDOM_NAME_BYTES 8

void image_limits_effective(const struct image_limits *in, struct image_limits *out)
{
        static const struct image_limits defaults = {
                .max_archive_bytes = IMAGE_DEFAULT_MAX_ARCHIVE_BYTES,
                .max_unpacked_bytes = IMAGE_DEFAULT_MAX_UNPACKED_BYTES,
                .max_entries = IMAGE_DEFAULT_MAX_ENTRIES,
                .max_path_len = IMAGE_DEFAULT_MAX_PATH_LEN,
                .max_layers = IMAGE_DEFAULT_MAX_LAYERS,
        };

        *out = in ? *in : defaults;
        if (!out->max_archive_bytes)
                out->max_archive_bytes = defaults.max_archive_bytes;
        if (!out->max_unpacked_bytes)
                out->max_unpacked_bytes = defaults.max_unpacked_bytes;
        if (!out->max_entries)
                out->max_entries = defaults.max_entries;
        if (!out->max_path_len)
                out->max_path_len = defaults.max_path_len;
        if (!out->max_layers)
                out->max_layers = defaults.max_layers;
}

bool image_is_hex64(const char *s)
{
        size_t i;

        for (i = 0; i < IMAGE_HEX_LEN; i++)
                if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
                        return false;
        return s[IMAGE_HEX_LEN] == '\0';
}

bool image_digest_valid(const char *s)
{
        return s && str_startswith(s, IMAGE_DIGEST_PREFIX) && image_is_hex64(s + STRLEN(IMAGE_DIGEST_PREFIX));
}

int image_path_normalize(const char *in, enum image_path_mode mode, char **ret)
{
        _cleanup_free_ char *out = NULL;
        size_t o = 0;
        const char *p = in;

        if (mode != IMAGE_PATH_ENTRY && in[0] == '/')
                return -EBADMSG;
        out = malloc(strlen(in) + 1);
        if (!out)
                return -ENOMEM;
        while (*p) {
                const char *c;
                size_t n;

                while (*p == '/')
                        p++;
                if (!*p)
                        break;
                c = p;
                while (*p && *p != '/')
                        p++;
                n = (size_t) (p - c);
                if (n == 1 && c[0] == '.')
                        continue;
                if (n == 2 && c[0] == '.' && c[1] == '.') {
                        /* Up one component, never above the root. */
                        if (mode != IMAGE_PATH_ARCHIVE_LINK || o == 0)
                                return -EBADMSG;
                        while (o > 0 && out[o - 1] != '/')
                                o--;
                        if (o > 0)
                                o--;
                        continue;
                }
                if (o > 0)
                        out[o++] = '/';
                memcpy(out + o, c, n);
                o += n;
        }
        out[o] = '\0';
        *ret = TAKE_PTR(out);
        return 0;
}

const char *image_printable(const char *s, char *buf, size_t n)
{
        size_t o = 0;

        if (n == 0)
                return "";
        for (; *s && o + 1 < n; s++)
                buf[o++] = (*s >= 0x20 && *s < 0x7f) ? *s : '?';
        if (*s && n >= 4) {
                memcpy(buf + n - 4, "...", 3);
                o = n - 1;
        }
        buf[o] = '\0';
        return buf;
}

int image_random_name(const char *prefix, char *buf, size_t n)
{
        unsigned char rnd[RANDOM_NAME_BYTES];
        char hex[2 * RANDOM_NAME_BYTES + 1];
        int r;

        r = random_bytes(rnd, sizeof rnd);
        if (r < 0)
                return r;
        hex_encode(rnd, sizeof rnd, hex);
        r = xsnprintf(buf, n, "%s%s", prefix, hex);
        return r < 0 ? r : 0;
}

int image_opendir_at(int dir_fd, DIR **ret)
{
        int fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        DIR *d;

        if (fd < 0)
                return -errno;
        d = fdopendir(fd);
        if (!d) {
                int r = -errno;
                (void) close(fd);
                return r;
        }
        *ret = d;
        return 0;
}

int image_archive_support_filters(struct archive *a)
{
        if (!archive_zlib_version() || archive_read_support_filter_gzip(a) != ARCHIVE_OK)
                return -ENOTSUP;
        if (archive_libzstd_version() && archive_read_support_filter_zstd(a) != ARCHIVE_OK)
                return -ENOTSUP;
        if (archive_liblzma_version() && archive_read_support_filter_xz(a) != ARCHIVE_OK)
                return -ENOTSUP;
        if (archive_bzlib_version() && archive_read_support_filter_bzip2(a) != ARCHIVE_OK)
                return -ENOTSUP;
        return 0;
}
