/* SPDX-License-Identifier: MIT */
/*
 * The content-addressed blob store (see store/image.h for the layout).
 *
 * Every blob an import verified (image config, manifests and nested
 * indexes, layers as received, compressed or not) is kept as
 * blobs_dir/sha256/<hex>, mode 0444. The staged copy, already hashed while
 * it streamed in and checked against its descriptor, is fsync()ed and
 * renamed into place (RENAME_NOREPLACE): no second write of the data. A
 * blob already present is not written again, but it is re-hashed first: a
 * copy that no longer matches its name (disk corruption, tampering) is
 * replaced by the verified bytes just received, with a warning, instead of
 * being used. The unpacker then reads the layers from the store; what it
 * extracts is bound to the config by the diff_id check of the
 * uncompressed stream.
 *
 * References: images_dir/<hex>/blobs.json lists the blobs of that image
 * ({"config": digest, "manifests": [...], "layers": [...]}). It is written
 * inside the private unpack directory and published by the same rename as
 * the rootfs, so an image and its references appear and disappear
 * together, and a blob is garbage exactly when no complete image folder
 * lists it. Not a SQL table: store/ knows no SQL, image folders without a
 * row exist (prune collects them), and the collector runs on the thread
 * pool where the daemon's database is not used.
 *
 * Concurrency: blobs_dir/.lock is flock()ed shared by every import from its
 * first stored blob until its image is published (or it failed), and
 * exclusive by the collector, which gives up (-EBUSY) rather than wait.
 * flock locks belong to open file descriptions, so two threads of one
 * process each opening the file exclude each other as two processes would.
 * A crash leaves at worst unreferenced blobs and ".tmp-" copies, which the
 * next collection removes.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/base/cleanup.h"
#include "core/base/log.h"
#include "core/base/util.h"
#include "store/image_internal.h"

#define BLOB_BUF_SIZE (256U << 10)
#define BLOBS_JSON_MAX_BYTES (1U << 20)
/* A copy being written (blobs_dir/sha256/.tmp-<rand>). */
#define BLOB_TMP_PREFIX ".tmp-"

int blob_store_open(const char *blobs_dir, struct blob_store *ret)
{
        struct blob_store bs = { .dir_fd = -1, .sha_fd = -1, .lock_fd = -1 };
        int r;

        if (!blobs_dir || blobs_dir[0] != '/')
                return -EINVAL;
        if (mkdir(blobs_dir, 0700) < 0 && errno != EEXIST)
                return -errno;
        bs.dir_fd = open(blobs_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (bs.dir_fd < 0)
                return -errno;
        if (mkdirat(bs.dir_fd, "sha256", 0700) < 0 && errno != EEXIST)
                goto fail;
        bs.sha_fd = openat(bs.dir_fd, "sha256", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (bs.sha_fd < 0)
                goto fail;
        bs.lock_fd = openat(bs.dir_fd, ".lock", O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (bs.lock_fd < 0)
                goto fail;
        *ret = bs;
        return 0;
fail:
        r = -errno;
        blob_store_close(&bs);
        return r;
}

void blob_store_close(struct blob_store *bs)
{
        if (!bs)
                return;
        /* Closing the lock fd drops the flock. */
        if (bs->lock_fd >= 0)
                (void) close(bs->lock_fd);
        if (bs->sha_fd >= 0)
                (void) close(bs->sha_fd);
        if (bs->dir_fd >= 0)
                (void) close(bs->dir_fd);
        bs->dir_fd = bs->sha_fd = bs->lock_fd = -1;
}

int blob_store_lock(struct blob_store *bs, int how)
{
        while (flock(bs->lock_fd, how) < 0) {
                if (errno == EINTR)
                        continue;
                return errno == EWOULDBLOCK ? -EBUSY : -errno;
        }
        return 0;
}

/* sha256 of the whole file from offset 0; *ret_size: the bytes read. */
static int fd_sha256(int fd, char ret_hex[IMAGE_HEX_SIZE], uint64_t *ret_size)
{
        _cleanup_(EVP_MD_CTX_freep) EVP_MD_CTX *md = EVP_MD_CTX_new();
        _cleanup_free_ unsigned char *buf = malloc(BLOB_BUF_SIZE);
        unsigned char digest[SHA256_DIGEST_LENGTH];
        unsigned int dlen = 0;
        uint64_t size = 0;
        off_t off = 0;

        if (!md || !buf || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1)
                return -ENOMEM;
        for (;;) {
                ssize_t n = pread(fd, buf, BLOB_BUF_SIZE, off);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        break;
                if (EVP_DigestUpdate(md, buf, (size_t) n) != 1)
                        return -ENOMEM;
                off += n;
                size += (uint64_t) n;
        }
        if (EVP_DigestFinal_ex(md, digest, &dlen) != 1 || dlen != sizeof digest)
                return -ENOMEM;
        hex_encode(digest, sizeof digest, ret_hex);
        *ret_size = size;
        return 0;
}

/* Does the open blob hold exactly size bytes hashing to hex? 1 yes, 0 no. */
static int blob_matches(int fd, const char *hex, uint64_t size)
{
        struct stat sb;
        char got[IMAGE_HEX_SIZE];
        uint64_t n = 0;
        int r;

        if (fstat(fd, &sb) < 0)
                return -errno;
        if (!S_ISREG(sb.st_mode) || (uint64_t) sb.st_size != size)
                return 0;
        r = fd_sha256(fd, got, &n);
        if (r < 0)
                return r;
        return n == size && strcmp(got, hex) == 0;
}

/* The store and the staging dir are on different filesystems: copy. */
static int blob_copy_in(struct blob_store *bs, int src_fd, const char *hex, bool replace)
{
        _cleanup_close_ int fd = -1;
        char tmp[IMAGE_PRIVATE_NAME_SIZE];
        off_t off = 0;
        int r;

        r = image_random_name(BLOB_TMP_PREFIX, tmp, sizeof tmp);
        if (r < 0)
                return r;
        fd = openat(bs->sha_fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0444);
        if (fd < 0)
                return -errno;
        for (;;) {
                ssize_t n = copy_file_range(src_fd, &off, fd, NULL, BLOB_BUF_SIZE, 0);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        r = -errno;
                        goto fail;
                }
                if (n == 0)
                        break;
        }
        if (fsync(fd) < 0) {
                r = -errno;
                goto fail;
        }
        if ((replace ? renameat(bs->sha_fd, tmp, bs->sha_fd, hex)
                     : renameat2(bs->sha_fd, tmp, bs->sha_fd, hex, RENAME_NOREPLACE)) < 0) {
                r = -errno;
                goto fail;
        }
        return 0;
fail:
        (void) unlinkat(bs->sha_fd, tmp, 0);
        return r;
}

/* Move the staged, verified copy into the store. -EEXIST: present now. */
static int blob_move_in(struct blob_store *bs, int stage_fd, const struct staged_entry *e, bool replace)
{
        _cleanup_close_ int fd = openat(stage_fd, e->file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        int r;

        if (fd < 0)
                return -errno;
        if (fchmod(fd, 0444) < 0 || fsync(fd) < 0)
                return -errno;
        r = replace ? renameat(stage_fd, e->file, bs->sha_fd, e->sha256)
                    : renameat2(stage_fd, e->file, bs->sha_fd, e->sha256, RENAME_NOREPLACE);
        if (r == 0)
                return 0;
        if (errno != EXDEV)
                return -errno;
        return blob_copy_in(bs, fd, e->sha256, replace);
}

static int blob_store_put(struct blob_store *bs, int stage_fd, const struct staged_entry *e, struct sf_err *err)
{
        for (int attempt = 0; attempt < 2; attempt++) {
                _cleanup_close_ int fd = openat(bs->sha_fd, e->sha256, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
                int r;

                if (fd < 0 && errno != ENOENT)
                        return sf_err_errno(err, -errno, "cannot open blob sha256:%s in the store", e->sha256);
                if (fd >= 0) {
                        r = blob_matches(fd, e->sha256, e->size);
                        if (r < 0)
                                return sf_err_errno(err, r, "cannot verify blob sha256:%s in the store", e->sha256);
                        if (r > 0)
                                return 0;
                        log_warning("blob sha256:%s in the store does not match its digest or size: "
                                    "replacing it with the verified copy just imported",
                                    e->sha256);
                        r = blob_move_in(bs, stage_fd, e, true);
                } else
                        r = blob_move_in(bs, stage_fd, e, false);
                if (r == 0)
                        return 0;
                if (r != -EEXIST)
                        return sf_err_errno(err, r, "cannot store blob sha256:%s", e->sha256);
                /* Another import stored it meanwhile: verify that copy. */
        }
        return sf_err_set(err, -EEXIST, "cannot store blob sha256:%s", e->sha256);
}

static bool plan_blob_seen(const struct staged_entry *const *v, size_t n, const struct staged_entry *e)
{
        for (size_t i = 0; i < n; i++)
                if (strcmp(v[i]->sha256, e->sha256) == 0)
                        return true;
        return false;
}

int blob_store_put_plan(struct blob_store *bs, int stage_fd, const struct image_plan *plan, struct sf_err *err)
{
        _cleanup_free_ const struct staged_entry **v = NULL;
        size_t n = 0, cap = 1 + plan->n_manifests + plan->n_layers;
        int r;

        v = calloc(cap, sizeof *v);
        if (!v)
                return -ENOMEM;
        v[n++] = plan->config;
        for (size_t i = 0; i < plan->n_manifests; i++)
                if (!plan_blob_seen(v, n, plan->manifests[i]))
                        v[n++] = plan->manifests[i];
        for (size_t i = 0; i < plan->n_layers; i++)
                if (!plan_blob_seen(v, n, plan->layers[i].blob))
                        v[n++] = plan->layers[i].blob;
        for (size_t i = 0; i < n; i++) {
                r = blob_store_put(bs, stage_fd, v[i], err);
                if (r < 0)
                        return r;
        }
        if (fsync(bs->sha_fd) < 0)
                return sf_err_errno(err, -errno, "cannot sync the blob store");
        return 0;
}

int blob_store_open_blob(const struct blob_store *bs, const struct staged_entry *e, int *ret_fd, struct sf_err *err)
{
        _cleanup_close_ int fd = openat(bs->sha_fd, e->sha256, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        struct stat sb;

        if (fd < 0)
                return sf_err_errno(err, -errno, "cannot open blob sha256:%s in the store", e->sha256);
        if (fstat(fd, &sb) < 0)
                return sf_err_errno(err, -errno, "cannot open blob sha256:%s in the store", e->sha256);
        if (!S_ISREG(sb.st_mode) || (uint64_t) sb.st_size != e->size)
                return sf_err_set(err, -EBADMSG, "blob sha256:%s in the store has the wrong size", e->sha256);
        *ret_fd = TAKE_FD(fd);
        return 0;
}

int image_blobs_json(const struct image_plan *plan, char **ret)
{
        _cleanup_json_ json_t *o = json_object(), *m = json_array(), *l = json_array();
        char d[IMAGE_DIGEST_LEN + 1];
        char *s;

        if (!o || !m || !l)
                return -ENOMEM;
        if (xsnprintf(d, sizeof d, IMAGE_DIGEST_PREFIX "%s", plan->config->sha256) < 0 ||
            json_object_set_new(o, "config", json_string(d)) < 0)
                return -ENOMEM;
        for (size_t i = 0; i < plan->n_manifests; i++)
                if (xsnprintf(d, sizeof d, IMAGE_DIGEST_PREFIX "%s", plan->manifests[i]->sha256) < 0 ||
                    json_array_append_new(m, json_string(d)) < 0)
                        return -ENOMEM;
        for (size_t i = 0; i < plan->n_layers; i++)
                if (xsnprintf(d, sizeof d, IMAGE_DIGEST_PREFIX "%s", plan->layers[i].blob->sha256) < 0 ||
                    json_array_append_new(l, json_string(d)) < 0)
                        return -ENOMEM;
        if (json_object_set(o, "manifests", m) < 0 || json_object_set(o, "layers", l) < 0)
                return -ENOMEM;
        s = json_dumps(o, JSON_COMPACT);
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

static int refs_add(json_t *refs, const json_t *digest)
{
        const char *s = json_string_value(digest);

        if (!image_digest_valid(s))
                return -EBADMSG;
        return json_object_set_new(refs, s + STRLEN(IMAGE_DIGEST_PREFIX), json_true()) < 0 ? -ENOMEM : 0;
}

/* Add the blobs images_dir/<hex>/blobs.json lists to refs. An image
 * without the file (imported before the blob store existed) has none. */
static int image_refs_add(int dir_fd, const char *hex, json_t *refs)
{
        _cleanup_free_ char *path = xasprintf("%s/blobs.json", hex), *buf = NULL;
        _cleanup_json_ json_t *o = NULL;
        const json_t *v;
        size_t i, len = 0;
        int r;

        if (!path)
                return -ENOMEM;
        r = read_file_at(dir_fd, path, BLOBS_JSON_MAX_BYTES, &buf, &len);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        o = json_loadb(buf, len, 0, NULL);
        if (!json_is_object(o) || !json_is_array(json_object_get(o, "manifests")) ||
            !json_is_array(json_object_get(o, "layers")))
                return -EBADMSG;
        r = refs_add(refs, json_object_get(o, "config"));
        if (r < 0)
                return r;
        json_array_foreach(json_object_get(o, "manifests"), i, v) {
                r = refs_add(refs, v);
                if (r < 0)
                        return r;
        }
        json_array_foreach(json_object_get(o, "layers"), i, v) {
                r = refs_add(refs, v);
                if (r < 0)
                        return r;
        }
        return 0;
}

int image_blobs_gc(const char *images_dir, const char *blobs_dir, uint64_t *ret_removed, uint64_t *ret_bytes)
{
        struct blob_store bs;
        _cleanup_close_ int dir_fd = -1;
        _cleanup_(closedirp) DIR *d = NULL;
        _cleanup_json_ json_t *refs = json_object();
        struct dirent *de;
        uint64_t removed = 0, bytes = 0;
        int r;

        if (!refs)
                return -ENOMEM;
        dir_fd = open(images_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dir_fd < 0)
                return -errno;
        r = blob_store_open(blobs_dir, &bs);
        if (r < 0)
                return r;
        r = blob_store_lock(&bs, LOCK_EX | LOCK_NB);
        if (r < 0)
                goto out;

        /* Under the lock: no import is between storing and publishing. */
        r = image_opendir_at(dir_fd, &d);
        if (r < 0)
                goto out;
        while ((de = readdir(d))) {
                if (!image_is_hex64(de->d_name) || image_dir_complete(dir_fd, de->d_name, NULL) <= 0)
                        continue;
                r = image_refs_add(dir_fd, de->d_name, refs);
                if (r < 0) {
                        /* Never guess: a blob it needs might go. */
                        log_warning_errno(r, "image %s: unreadable blobs.json; not collecting blobs", de->d_name);
                        goto out;
                }
        }
        closedir(TAKE_PTR(d));

        r = image_opendir_at(bs.sha_fd, &d);
        if (r < 0)
                goto out;
        while ((de = readdir(d))) {
                struct stat sb;
                bool junk = str_startswith(de->d_name, BLOB_TMP_PREFIX) ||
                            (image_is_hex64(de->d_name) && !json_object_get(refs, de->d_name));

                if (!junk)
                        continue;
                if (fstatat(bs.sha_fd, de->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0 ||
                    unlinkat(bs.sha_fd, de->d_name, 0) < 0) {
                        if (errno != ENOENT)
                                log_warning("cannot remove blob '%s': %s", de->d_name, strerror(errno));
                        continue;
                }
                removed++;
                bytes += (uint64_t) sb.st_size;
        }
        if (removed)
                (void) fsync(bs.sha_fd);
        if (ret_removed)
                *ret_removed = removed;
        if (ret_bytes)
                *ret_bytes = bytes;
        r = 0;
out:
        blob_store_close(&bs);
        return r;
}
