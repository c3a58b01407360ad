/* SPDX-License-Identifier: MIT */
/*
 * Staging of the outer archive. The input is read once, sequentially (it
 * may be a pipe), and the index of an OCI layout may come after its blobs,
 * so every accepted entry is copied into a private staging directory under
 * a flat name derived from its archive name, hashed as it streams.
 *
 * Only the names an image archive has are accepted:
 *   manifest.json, index.json, oci-layout, repositories
 *   blobs/sha256/<hex>                         (OCI layout, docker 25+)
 *   <hex>.json, <hex>.tar                      (docker save configs, skopeo layers)
 *   <hex>/layer.tar, <hex>/json, <hex>/VERSION (docker save, legacy)
 * Directories are ignored (nothing is created from them). Symlinks and hard
 * links (docker save uses them for identical layers) become aliases that
 * are resolved by name inside the staged set, never on the filesystem.
 * Anything else (another name, a device, a FIFO) rejects the archive.
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/base/cleanup.h"
#include "core/base/util.h"
#include "store/image_internal.h"

#define STAGE_BUF_SIZE (128U << 10)
#define ALIAS_MAX_HOPS 8

struct stage_reader {
        int fd;
        uint64_t bytes;
        uint64_t cap;
        int error;            /* set by the callback: -errno or -EFBIG */
        unsigned char *buf;   /* raw input; libarchive points into it */
        unsigned char *data;  /* entry data copied out of libarchive */
};

static la_ssize_t stage_read_cb(struct archive *a, void *data, const void **ret_buf)
{
        struct stage_reader *rd = data;

        for (;;) {
                ssize_t n = read(rd->fd, rd->buf, STAGE_BUF_SIZE);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        rd->error = -errno;
                        archive_set_error(a, errno, "read error");
                        return -1;
                }
                rd->bytes += (uint64_t) n;
                if (rd->bytes > rd->cap) {
                        rd->error = -EFBIG;
                        archive_set_error(a, EFBIG, "archive too large");
                        return -1;
                }
                *ret_buf = rd->buf;
                return n;
        }
}

/* Turn a libarchive failure into an sf_err. */
static int stage_archive_error(struct archive *a, const struct stage_reader *rd, const struct image_limits *l,
                               struct sf_err *err)
{
        const char *m = archive_error_string(a);
        char pbuf[IMAGE_PRINTABLE_SIZE];

        if (rd->error == -EFBIG)
                return sf_err_set(err, -EFBIG, "archive is larger than the limit of %llu bytes",
                                  (unsigned long long) l->max_archive_bytes);
        if (rd->error < 0)
                return sf_err_errno(err, rd->error, "cannot read the archive");
        if (m && strcasestr(m, "truncated"))
                return sf_err_set(err, -EBADMSG, "truncated archive");
        return sf_err_set(err, -EBADMSG, "not a valid image archive: %s",
                          m ? image_printable(m, pbuf, sizeof pbuf) : "unknown error");
}

/* Is name "<64 hex><suffix>"? */
static bool hex_then(const char *name, const char *suffix)
{
        char tmp[IMAGE_HEX_SIZE];

        if (strlen(name) != IMAGE_HEX_LEN + strlen(suffix) || strcmp(name + IMAGE_HEX_LEN, suffix) != 0)
                return false;
        memcpy(tmp, name, IMAGE_HEX_LEN);
        tmp[IMAGE_HEX_LEN] = '\0';
        return image_is_hex64(tmp);
}

/* Map an accepted archive name to its staged file name, in *ret_file
 * (NULL: accepted but not needed, data skipped). -EBADMSG when the name is
 * not one an image archive has. */
static int outer_classify(const char *name, char **ret_file)
{
        static const char *const meta[] = { "manifest.json", "index.json", "oci-layout", "repositories" };
        char hex[IMAGE_HEX_SIZE];
        char *f = NULL;

        for (size_t i = 0; i < ELEMENTSOF(meta); i++)
                if (strcmp(name, meta[i]) == 0) {
                        f = xasprintf("m-%s", name);
                        goto found;
                }
        if (str_startswith(name, "blobs/sha256/") && image_is_hex64(name + STRLEN("blobs/sha256/"))) {
                f = xasprintf("b-%s", name + STRLEN("blobs/sha256/"));
                goto found;
        }
        if (strlen(name) < IMAGE_HEX_LEN)
                return -EBADMSG;
        memcpy(hex, name, IMAGE_HEX_LEN);
        hex[IMAGE_HEX_LEN] = '\0';
        if (hex_then(name, ".json"))
                f = xasprintf("c-%s", hex);
        else if (hex_then(name, ".tar"))
                f = xasprintf("t-%s", hex);
        else if (hex_then(name, "/layer.tar"))
                f = xasprintf("l-%s", hex);
        else if (hex_then(name, "/json") || hex_then(name, "/VERSION")) {
                *ret_file = NULL;
                return 0;
        } else
                return -EBADMSG;
found:
        if (!f)
                return -ENOMEM;
        *ret_file = f;
        return 0;
}

/* A link target in the outer archive, relative to dir ("" or NULL: the
 * top), normalised; ".." may climb, never above the archive's root. */
static int link_target_normalize(const char *dir, const char *target, char **ret)
{
        _cleanup_free_ char *joined = NULL;

        if (target[0] == '/')
                return -EBADMSG;
        joined = dir && *dir ? xasprintf("%s/%s", dir, target) : strdup(target);
        if (!joined)
                return -ENOMEM;
        return image_path_normalize(joined, IMAGE_PATH_ARCHIVE_LINK, ret);
}

static const struct staged_entry *staged_find(const struct staged_set *set, const char *name)
{
        for (size_t i = 0; i < set->n; i++)
                if (strcmp(set->v[i].name, name) == 0)
                        return &set->v[i];
        return NULL;
}

const struct staged_entry *staged_lookup(const struct staged_set *set, const char *name)
{
        const struct staged_entry *e = staged_find(set, name);

        for (unsigned hops = 0; e && e->link; hops++) {
                if (hops >= ALIAS_MAX_HOPS)
                        return NULL;
                e = staged_find(set, e->link);
        }
        return e && e->file ? e : NULL;
}

void staged_set_release(struct staged_set *set)
{
        if (!set)
                return;
        for (size_t i = 0; i < set->n; i++) {
                free(set->v[i].name);
                free(set->v[i].file);
                free(set->v[i].link);
        }
        free(set->v);
        set->v = NULL;
        set->n = set->cap = 0;
}

static int staged_add(struct staged_set *set, struct staged_entry **ret)
{
        if (set->n == set->cap) {
                size_t ncap = set->cap ? set->cap * 2 : 16;
                struct staged_entry *nv = reallocarray(set->v, ncap, sizeof *nv);
                if (!nv)
                        return -ENOMEM;
                set->v = nv;
                set->cap = ncap;
        }
        *ret = &set->v[set->n++];
        memset(*ret, 0, sizeof **ret);
        return 0;
}

/* Copy the current entry's data into stage_fd/file, hashing it. */
static int stage_copy(struct archive *a, const struct stage_reader *rd, int stage_fd, struct staged_entry *e,
                      uint64_t *total, const struct image_limits *l, struct sf_err *err)
{
        _cleanup_close_ int fd = -1;
        _cleanup_(EVP_MD_CTX_freep) EVP_MD_CTX *md = NULL;
        unsigned char digest[SHA256_DIGEST_LENGTH];
        unsigned int dlen = 0;
        int r;

        fd = openat(stage_fd, e->file, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
                return sf_err_errno(err, -errno, "cannot create a staging file");
        md = EVP_MD_CTX_new();
        if (!md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1)
                return -ENOMEM;
        for (;;) {
                la_ssize_t n = archive_read_data(a, rd->data, STAGE_BUF_SIZE);
                if (n < 0)
                        return stage_archive_error(a, rd, l, err);
                if (n == 0)
                        break;
                e->size += (uint64_t) n;
                *total += (uint64_t) n;
                /* The outer archive may be compressed: cap what it expands to. */
                if (*total > l->max_archive_bytes)
                        return sf_err_set(err, -EFBIG, "archive expands beyond the limit of %llu bytes",
                                          (unsigned long long) l->max_archive_bytes);
                if (EVP_DigestUpdate(md, rd->data, (size_t) n) != 1)
                        return -ENOMEM;
                r = write_all(fd, rd->data, (size_t) n);
                if (r < 0)
                        return sf_err_errno(err, r, "cannot write a staging file");
        }
        if (EVP_DigestFinal_ex(md, digest, &dlen) != 1 || dlen != sizeof digest)
                return -ENOMEM;
        hex_encode(digest, sizeof digest, e->sha256);
        return 0;
}

int image_stage_archive(int fd, int stage_fd, const struct image_limits *l, struct staged_set *set,
                        struct sf_err *err)
{
        _cleanup_(archive_read_freep) struct archive *a = NULL;
        _cleanup_free_ unsigned char *buf = NULL, *data = NULL;
        struct stage_reader rd = { .fd = fd, .cap = l->max_archive_bytes };
        struct archive_entry *ae;
        uint64_t total = 0, entries = 0;
        size_t files = 0;
        int r;

        buf = malloc(STAGE_BUF_SIZE);
        data = malloc(STAGE_BUF_SIZE);
        a = archive_read_new();
        if (!buf || !data || !a)
                return -ENOMEM;
        rd.buf = buf;
        rd.data = data;
        if (archive_read_support_format_tar(a) != ARCHIVE_OK || image_archive_support_filters(a) < 0)
                return sf_err_set(err, -ENOTSUP, "libarchive lacks tar support");
        if (archive_read_open(a, &rd, NULL, stage_read_cb, NULL) != ARCHIVE_OK)
                return stage_archive_error(a, &rd, l, err);

        for (;;) {
                _cleanup_free_ char *name = NULL, *file = NULL;
                const char *raw;
                struct staged_entry *e;
                char pbuf[IMAGE_PRINTABLE_SIZE];
                mode_t type;

                r = archive_read_next_header(a, &ae);
                if (r == ARCHIVE_EOF)
                        break;
                if (r < ARCHIVE_WARN)
                        return stage_archive_error(a, &rd, l, err);
                if (++entries > l->max_entries)
                        return sf_err_set(err, -EFBIG, "archive has more than %llu entries",
                                          (unsigned long long) l->max_entries);
                raw = archive_entry_pathname(ae);
                if (!raw)
                        raw = archive_entry_pathname_utf8(ae);
                if (!raw || strlen(raw) > l->max_path_len)
                        return sf_err_set(err, -EBADMSG, "archive entry with a missing or too long name");
                type = archive_entry_filetype(ae);
                r = image_path_normalize(raw, IMAGE_PATH_ARCHIVE, &name);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        return sf_err_set(err, -EBADMSG, "unexpected archive entry '%s'",
                                          image_printable(raw, pbuf, sizeof pbuf));
                if (type == AE_IFDIR && !archive_entry_hardlink(ae))
                        continue;
                r = outer_classify(name, &file);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        return sf_err_set(err, -EBADMSG, "unexpected archive entry '%s'",
                                          image_printable(raw, pbuf, sizeof pbuf));
                if (staged_find(set, name))
                        return sf_err_set(err, -EBADMSG, "duplicate archive entry '%s'",
                                          image_printable(raw, pbuf, sizeof pbuf));
                if (++files > IMAGE_MAX_OUTER_FILES)
                        return sf_err_set(err, -EFBIG, "archive has more than %u files", IMAGE_MAX_OUTER_FILES);

                r = staged_add(set, &e);
                if (r < 0)
                        return r;
                e->name = TAKE_PTR(name);

                if (archive_entry_hardlink(ae) || type == AE_IFLNK) {
                        const char *target = archive_entry_hardlink(ae);
                        _cleanup_free_ char *dir = NULL;
                        char *slash;
                        _cleanup_free_ char *tfile = NULL;

                        if (!file)
                                continue; /* a name we do not use: ignore where it points */
                        if (!target) {
                                /* A symlink is relative to its own directory. */
                                target = archive_entry_symlink(ae);
                                dir = strdup(e->name);
                                if (!dir)
                                        return -ENOMEM;
                                slash = strrchr(dir, '/');
                                if (slash)
                                        *slash = '\0';
                                else
                                        dir[0] = '\0';
                        }
                        r = target ? link_target_normalize(dir, target, &e->link) : -EBADMSG;
                        /* The alias must name another accepted, staged name. */
                        if (r >= 0)
                                r = outer_classify(e->link, &tfile);
                        if (r == -ENOMEM)
                                return r;
                        if (r < 0 || !tfile)
                                return sf_err_set(err, -EBADMSG, "archive link '%s' points outside the image",
                                                  image_printable(raw, pbuf, sizeof pbuf));
                        continue;
                }
                if (type != AE_IFREG)
                        return sf_err_set(err, -EBADMSG, "unexpected archive entry type for '%s'",
                                          image_printable(raw, pbuf, sizeof pbuf));
                if (!file) {
                        if (archive_read_data_skip(a) < ARCHIVE_WARN)
                                return stage_archive_error(a, &rd, l, err);
                        continue;
                }
                e->file = TAKE_PTR(file);
                r = stage_copy(a, &rd, stage_fd, e, &total, l, err);
                if (r < 0)
                        return r;
        }
        return 0;
}
