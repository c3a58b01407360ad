/* SPDX-License-Identifier: MIT */
/*
 * Image import: stage, verify, unpack, publish. See store/image.h for the
 * store layout and store/image_internal.h for how the steps are split.
 *
 * Crash and concurrency safety: everything is built in private dot-named
 * directories inside images_dir (".tmp-<rand>" for the staged archive,
 * ".unpack-<rand>" for the new image) and published with one
 * renameat2(RENAME_NOREPLACE) once config.json and .complete are written and
 * synced, so images_dir/<hex> is either absent or complete. Two threads
 * importing the same image both unpack; the second rename loses and its
 * copy is dropped. image_gc_partial() removes what a crash left behind.
 */
#include <archive.h>
#include <errno.h>
#include <fcntl.h>
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

DEFINE_TRIVIAL_CLEANUP_FUNC(struct image_import_result *, image_import_result_free)

/* The layer blobs of a plan, open for the unpacker, in order. */
struct layer_fds {
        int *v;
        size_t n;
};

static void layer_fds_close(struct layer_fds *f)
{
        for (size_t i = 0; f->v && i < f->n; i++)
                if (f->v[i] >= 0)
                        (void) close(f->v[i]);
        free(f->v);
        f->v = NULL;
        f->n = 0;
}

/* Open the plan's layers: from the blob store (bs), or the staged copies
 * without one. */
static int layer_fds_open(const struct image_plan *plan, int stage_fd, const struct blob_store *bs,
                          struct layer_fds *fds, struct sf_err *err)
{
        fds->v = malloc((plan->n_layers ? plan->n_layers : 1) * sizeof *fds->v);
        if (!fds->v)
                return -ENOMEM;
        fds->n = plan->n_layers;
        for (size_t i = 0; i < fds->n; i++)
                fds->v[i] = -1;
        for (size_t i = 0; i < fds->n; i++) {
                const struct staged_entry *e = plan->layers[i].blob;
                int r;

                if (bs) {
                        r = blob_store_open_blob(bs, e, &fds->v[i], err);
                        if (r < 0)
                                return r;
                        continue;
                }
                fds->v[i] = openat(stage_fd, e->file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
                if (fds->v[i] < 0)
                        return sf_err_errno(err, -errno, "cannot open the staged layer %zu", i + 1);
        }
        return 0;
}

/* Make the empty rootfs (0755) in the private image folder; *ret_fd is an
 * O_PATH fd of it, for the unpacker. */
static int rootfs_new(int unpack_fd, int *ret_fd, struct sf_err *err)
{
        _cleanup_close_ int rfd = -1;
        int fd;

        if (mkdirat(unpack_fd, "rootfs", 0700) < 0)
                return sf_err_errno(err, -errno, "cannot create the rootfs directory");
        rfd = openat(unpack_fd, "rootfs", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (rfd < 0 || fchmod(rfd, 0755) < 0)
                return sf_err_errno(err, -errno, "cannot open the rootfs directory");
        fd = openat(unpack_fd, "rootfs", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return sf_err_errno(err, -errno, "cannot open the rootfs directory");
        *ret_fd = fd;
        return 0;
}

/* The layers are hostile: decompressed, parsed and written by a throwaway
 * confined process (store/image_confine.c). A confinement step the
 * environment made impossible is logged, once per image. */
static int unpack_layers(int root_fd, const struct image_plan *plan, const struct layer_fds *fds,
                         const struct image_limits *lim, uint64_t *ret_size, uint64_t *ret_dropped,
                         struct sf_err *err)
{
        unsigned flags = 0;
        int r = image_unpack_isolated(root_fd, plan, fds->v, lim, ret_size, ret_dropped, &flags, err);

        if (r < 0) {
                if (!err->msg[0])
                        (void) sf_err_errno(err, r, "cannot run the confined unpacker");
                return r;
        }
        if (flags & UNPACK_CONFINED_NOCHROOT)
                log_warning("image %s: not running as root; layers unpacked without the namespaces, chroot "
                            "and capability cut (Landlock, seccomp and rlimits only)",
                            plan->config_digest);
        if (flags & UNPACK_CONFINED_NOLANDLOCK)
                log_warning("image %s: Landlock is unavailable; layers unpacked without it", plan->config_digest);
        return 0;
}

/* The image folder's files beside the rootfs: the data first, synced,
 * then the .complete marker, so that a folder with the marker is whole. */
static int image_files_write(int unpack_fd, const char *config_json, const char *blobs_json, uint64_t size,
                             struct sf_err *err)
{
        _cleanup_free_ char *config_file = xasprintf("%s\n", config_json);
        _cleanup_free_ char *complete = xasprintf("%llu\n", (unsigned long long) size);
        int r;

        if (!config_file || !complete)
                return -ENOMEM;
        r = write_file_atomic(unpack_fd, "config.json", config_file, strlen(config_file), 0644);
        if (r < 0)
                return sf_err_errno(err, r, "cannot write config.json");
        if (blobs_json) {
                r = write_file_atomic(unpack_fd, "blobs.json", blobs_json, strlen(blobs_json), 0644);
                if (r < 0)
                        return sf_err_errno(err, r, "cannot write blobs.json");
        }
        if (syncfs(unpack_fd) < 0)
                return sf_err_errno(err, -errno, "cannot sync the unpacked image");
        r = write_file_atomic(unpack_fd, ".complete", complete, strlen(complete), 0644);
        if (r < 0)
                return sf_err_errno(err, r, "cannot write .complete");
        if (fchmod(unpack_fd, 0755) < 0 || fsync(unpack_fd) < 0)
                return sf_err_errno(err, -errno, "cannot finish the image directory");
        return 0;
}

/* What publish() did, or -errno. */
enum publish_result {
        PUBLISHED,              /* images_dir/<hex> is ours */
        PUBLISHED_BY_ANOTHER,   /* another import of the image won: ours is a duplicate to remove */
};

/* Rename the finished private folder name to <hex>. */
static int publish(int dir_fd, const char *name, const char *hex, struct sf_err *err)
{
        for (int attempt = 0;; attempt++) {
                int r;

                if (renameat2(dir_fd, name, dir_fd, hex, RENAME_NOREPLACE) == 0)
                        break;
                if ((errno != EEXIST && errno != ENOTEMPTY) || attempt > 0)
                        return sf_err_errno(err, -errno, "cannot publish image %s", hex);
                if (image_dir_complete(dir_fd, hex, NULL) > 0)
                        return PUBLISHED_BY_ANOTHER;
                /* A leftover without .complete is garbage from a crash. */
                r = rm_rf_at(dir_fd, hex);
                if (r < 0)
                        return sf_err_errno(err, r, "cannot remove the incomplete image %s", hex);
        }
        (void) fsync(dir_fd);
        return PUBLISHED;
}

/* Unpack the planned layers into a new private dir and publish it as
 * images_dir/<hex>. With a blob store (bs), the plan's blobs are stored
 * first, the layers read from the store, and blobs.json published with the
 * image. Sets *ret_existed when another import won the race. */
static int unpack_and_publish(int dir_fd, const struct image_plan *plan, int stage_fd, struct blob_store *bs,
                              const struct image_limits *lim, const char *config_json, uint64_t *ret_size,
                              uint64_t *ret_dropped, bool *ret_existed, struct sf_err *err)
{
        _cleanup_(layer_fds_close) struct layer_fds fds = { .v = NULL };
        _cleanup_close_ int unpack_fd = -1, root_fd = -1;
        _cleanup_free_ char *blobs_json = NULL;
        const char *hex = plan->config_digest + STRLEN(IMAGE_DIGEST_PREFIX);
        char name[IMAGE_PRIVATE_NAME_SIZE];
        uint64_t size = 0, dropped = 0;
        int r;

        if (bs) {
                r = blob_store_put_plan(bs, stage_fd, plan, err);
                if (r < 0)
                        return r;
                r = image_blobs_json(plan, &blobs_json);
                if (r < 0)
                        return r;
        }
        r = layer_fds_open(plan, stage_fd, bs, &fds, err);
        if (r < 0)
                return r;
        r = image_dir_private_new(dir_fd, IMAGE_UNPACK_PREFIX, name, sizeof name, &unpack_fd);
        if (r < 0)
                return sf_err_errno(err, r, "cannot create an unpack directory");

        r = rootfs_new(unpack_fd, &root_fd, err);
        if (r >= 0)
                r = unpack_layers(root_fd, plan, &fds, lim, &size, &dropped, err);
        layer_fds_close(&fds);
        if (r >= 0)
                r = image_files_write(unpack_fd, config_json, blobs_json, size, err);
        if (r >= 0)
                r = publish(dir_fd, name, hex, err);
        if (r < 0 || r == PUBLISHED_BY_ANOTHER) {
                (void) rm_rf_at(dir_fd, name);
                if (r < 0)
                        return r;
                *ret_existed = true;
                return 0;
        }
        *ret_size = size;
        *ret_dropped = dropped;
        return 0;
}

int image_import_planned(const char *images_dir, int dir_fd, int stage_fd, struct blob_store *bs,
                         const struct image_limits *lim, struct image_plan *plan,
                         struct image_import_result **ret, struct sf_err *err)
{
        _cleanup_(image_import_result_freep) struct image_import_result *res = NULL;
        const char *hex = plan->config_digest + STRLEN(IMAGE_DIGEST_PREFIX);
        uint64_t dropped = 0;
        int r;

        res = calloc(1, sizeof *res);
        if (!res) {
                r = -ENOMEM;
                goto out;
        }
        memcpy(res->id, plan->config_digest, sizeof plan->config_digest);
        memcpy(res->manifest_digest, plan->manifest_digest, sizeof plan->manifest_digest);
        res->tags = TAKE_PTR(plan->tags);
        res->config_json = json_dumps(plan->config_clean, JSON_COMPACT | JSON_SORT_KEYS);
        res->rootfs = xasprintf("%s/%s/rootfs", images_dir, hex);
        if (!res->config_json || !res->rootfs) {
                r = -ENOMEM;
                goto out;
        }

        r = image_dir_complete(dir_fd, hex, &res->size);
        if (r < 0) {
                r = sf_err_errno(err, r, "cannot inspect the image store");
                goto out;
        }
        if (r > 0) {
                res->existed = true;
        } else {
                /* Held until the image (and its blobs.json) is published
                 * or the import failed: the collector waits for neither. */
                if (bs) {
                        r = blob_store_lock(bs, LOCK_SH);
                        if (r < 0) {
                                r = sf_err_errno(err, r, "cannot lock the blob store");
                                goto out;
                        }
                }
                r = unpack_and_publish(dir_fd, plan, stage_fd, bs, lim, res->config_json, &res->size, &dropped,
                                       &res->existed, err);
                if (r < 0)
                        goto out;
                if (res->existed)
                        (void) image_dir_complete(dir_fd, hex, &res->size);
        }
        res->dropped = dropped;
        *ret = TAKE_PTR(res);
        r = 0;
out:
        return r;
}

static int import_staged(const char *images_dir, int dir_fd, int fd, int stage_fd, struct blob_store *bs,
                         const struct image_limits *lim, struct image_import_result **ret, struct sf_err *err)
{
        struct staged_set set = { 0 };
        struct image_plan plan;
        int r;

        memset(&plan, 0, sizeof plan);
        r = image_stage_archive(fd, stage_fd, lim, &set, err);
        if (r >= 0)
                r = image_plan_load(&set, stage_fd, lim, &plan, err);
        if (r >= 0)
                r = image_import_planned(images_dir, dir_fd, stage_fd, bs, lim, &plan, ret, err);
        image_plan_release(&plan);
        staged_set_release(&set);
        return r;
}

int image_import(const char *images_dir, const char *blobs_dir, int fd, const struct image_limits *limits,
                 struct image_import_result **ret, struct sf_err *err)
{
        _cleanup_close_ int dir_fd = -1, stage_fd = -1;
        _cleanup_free_ char *dir = NULL;
        struct blob_store bs = { .dir_fd = -1, .sha_fd = -1, .lock_fd = -1 };
        struct image_limits lim;
        struct sf_err local;
        char stage_name[IMAGE_PRIVATE_NAME_SIZE];
        size_t len;
        int r;

        /* The internals write their reasons into err unconditionally. */
        if (!err)
                err = &local;
        sf_err_clear(err);
        if (!images_dir || images_dir[0] != '/' || (blobs_dir && blobs_dir[0] != '/') || fd < 0 || !ret)
                return sf_err_set(err, -EINVAL, "image import: bad arguments");
        dir = strdup(images_dir);
        if (!dir)
                return -ENOMEM;
        for (len = strlen(dir); len > 1 && dir[len - 1] == '/'; len--)
                dir[len - 1] = '\0';
        image_limits_effective(limits, &lim);

        dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dir_fd < 0)
                return sf_err_errno(err, -errno, "cannot open the image store '%s'", dir);
        if (blobs_dir) {
                r = blob_store_open(blobs_dir, &bs);
                if (r < 0)
                        return sf_err_errno(err, r, "cannot open the blob store '%s'", blobs_dir);
        }
        r = image_dir_private_new(dir_fd, IMAGE_STAGE_PREFIX, stage_name, sizeof stage_name, &stage_fd);
        if (r < 0) {
                blob_store_close(&bs);
                return sf_err_errno(err, r, "cannot create a staging directory in '%s'", dir);
        }

        r = import_staged(dir, dir_fd, fd, stage_fd, blobs_dir ? &bs : NULL, &lim, ret, err);
        blob_store_close(&bs);
        if (r < 0 && !err->msg[0])
                (void) sf_err_errno(err, r, "image import failed");
        if (r >= 0 && (*ret)->dropped > 0)
                log_info("image %s: dropped %llu device nodes and sockets", (*ret)->id,
                         (unsigned long long) (*ret)->dropped);

        (void) rm_rf_at(dir_fd, stage_name);
        return r;
}

void image_import_result_free(struct image_import_result *r)
{
        if (!r)
                return;
        strv_free(r->tags);
        free(r->config_json);
        free(r->rootfs);
        free(r);
}

