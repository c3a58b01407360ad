/* SPDX-License-Identifier: MIT */
/*
 * Image import and safe unpacking. Knows nothing of HTTP or SQL: the caller
 * records the result in the database. Runs on a worker thread (no globals,
 * no chdir, no process-wide state).
 *
 * Accepted inputs (auto-detected, optionally gzip/zstd/xz/bzip2 compressed):
 *   - `docker save` tarballs (manifest.json + layer tars, legacy and the
 *     newer OCI-flavoured layout docker 25+ writes),
 *   - OCI image-layout tars (oci-layout + index.json + blobs/sha256/...),
 *     as written by `skopeo copy ... oci-archive:` or `tar -C layout -c .`.
 *
 * Store layout under images_dir (an absolute directory owned by the daemon):
 *   images_dir/<hex>/rootfs/       the unpacked, read-only root filesystem
 *   images_dir/<hex>/config.json   the image config (OCI "config" object)
 *   images_dir/<hex>/.complete     written last; a folder without it is garbage
 *   images_dir/<hex>/blobs.json    the blobs the image uses (with a blob store)
 * where <hex> is the image id: the sha256 of the image config blob (what
 * `docker images` shows as IMAGE ID). One rootfs per image id: importing
 * the same image again does not unpack again. .complete holds the unpacked
 * size in bytes (decimal, newline).
 *
 * Blob store under blobs_dir (the daemon uses DATA/blobs next to
 * DATA/images; same filesystem, so storing a blob is a rename):
 *   blobs_dir/sha256/<hex>   every verified blob (config, manifests and
 *                            indexes, layers as received), once, mode 0444
 *   blobs_dir/.lock          imports share it, the collector takes it alone
 * The unpacker reads the layers from there. An image's references are its
 * blobs.json, published with it; image_blobs_gc() removes the blobs no
 * complete image lists. store/image_blobs.c has the details.
 *
 * The layers are decompressed, parsed and written by a throwaway helper
 * process (the running binary re-executed) confined to the new rootfs:
 * namespaces, chroot, only CAP_CHOWN/CAP_DAC_OVERRIDE/CAP_FOWNER,
 * no_new_privs, rlimits, Landlock and a seccomp allowlist; the caller's
 * thread waits for it and then re-checks the tree it left
 * (store/image_confine.c has the design and the residual risk,
 * store/image_helper.c the protocol).
 *
 * What the rootfs holds (see store/image_unpack.c for the why):
 *   - every entry resolved inside the root: names with ".." and hard links
 *     leaving the root reject the image; a leading "/" or "./" is stripped;
 *     writes through symlinked parents are confined to the root (as inside
 *     the container, like docker's chroot unpack);
 *   - no device nodes or sockets (dropped, counted in ->dropped); FIFOs
 *     are kept, as Docker keeps them (never opened by the daemon);
 *   - no setuid/setgid bits, no xattrs (so no file capabilities);
 *   - owners are the in-image ids (0..65535; others reject the image);
 *   - /proc, /dev, /sys, /tmp and /etc are real directories (an image's
 *     symlink or file there is replaced by an empty directory).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../core/base/error.h"

/* The defaults of struct image_limits: the one table, which the daemon's
 * config (core/config.c) starts from too. */
#define IMAGE_DEFAULT_MAX_ARCHIVE_BYTES (2ULL << 30)  /* 2 GiB */
#define IMAGE_DEFAULT_MAX_UNPACKED_BYTES (4ULL << 30) /* 4 GiB */
#define IMAGE_DEFAULT_MAX_ENTRIES 200000ULL
#define IMAGE_DEFAULT_MAX_PATH_LEN 4096ULL
#define IMAGE_DEFAULT_MAX_LAYERS 128ULL

/* A zero field means its default. */
struct image_limits {
        uint64_t max_archive_bytes;   /* whole input */
        uint64_t max_unpacked_bytes;  /* sum of file sizes unpacked */
        uint64_t max_entries;         /* entries over all layers */
        uint64_t max_path_len;        /* per entry */
        uint64_t max_layers;
};

/* The subset of the OCI image config the launcher applies. */
struct image_config {
        char **entrypoint;   /* NULL-terminated or NULL */
        char **cmd;          /* NULL-terminated or NULL */
        char **env;          /* "K=V", NULL-terminated or NULL */
        char *workdir;       /* NULL = "/" */
        char *user;          /* "uid[:gid]" or "name[:group]", NULL = root */
};

/* An image id or digest, "sha256:" and 64 hex digits, and its NUL. */
#define IMAGE_ID_SIZE 72

struct image_import_result {
        char id[IMAGE_ID_SIZE];               /* "sha256:<64 hex>" config digest */
        char manifest_digest[IMAGE_ID_SIZE];  /* "sha256:<64 hex>"; for docker-save legacy,
                                      the digest of a synthesised manifest is not
                                      computed: empty string */
        char **tags;               /* repo tags found in the archive ("name:tag"),
                                      NULL-terminated, possibly empty */
        char *config_json;         /* the image config's "config" object, compact JSON */
        char *rootfs;              /* absolute path images_dir/<hex>/rootfs */
        uint64_t size;             /* bytes unpacked */
        bool existed;              /* already present, nothing unpacked */
        uint64_t dropped;          /* device nodes and sockets left out
                                      (0 when existed) */
};

/* Import the archive read from fd (a regular file or a pipe; read once,
 * sequentially) into images_dir, keeping its verified blobs in blobs_dir
 * (absolute; created when missing). blobs_dir NULL: no blob store, the
 * layers are unpacked from the staged copy, which is dropped afterwards;
 * no blobs.json. On failure nothing is left in images_dir (blobs already
 * stored stay until the next image_blobs_gc()), and err says what was
 * wrong with the input (e.g. "layer sha256:ab..: digest mismatch",
 * "truncated archive", "entry '../x' escapes the root"). Returns -EBADMSG
 * for bad input, -EFBIG for a cap exceeded, other -errno for I/O trouble. */
int image_import(const char *images_dir, const char *blobs_dir, int fd, const struct image_limits *limits,
                 struct image_import_result **ret, struct sf_err *err);
void image_import_result_free(struct image_import_result *r);

/* ---- import of blobs fetched one by one (a registry pull) ---------------
 *
 * The caller does the network (core/runtime/pull.c), store/ the rest: each
 * byte handed over is staged and hashed as it streams; a blob that is not
 * the one asked for (digest or size) is refused at its end; then the plan,
 * the blob store and the confined unpack of an archive import. A pull:
 *   image_pull_new(); add the top manifest (image_pull_add_manifest);
 *   loop: image_pull_missing() lists what the plan lacks (the manifest an
 *         index names for this host, then the config and the layers):
 *         fetch each (image_pull_have_blob() first for layers: a stored
 *         one is used as it is), as a manifest or through a blob sink;
 *   until it lists nothing; image_pull_finish(); image_pull_free().
 * Blob sinks of one pull may be used from several threads at once. */
struct image_pull;
struct image_blob_sink;

/* What the plan lacks (image_pull_missing). */
struct image_missing {
        char digest[IMAGE_ID_SIZE];
        int64_t size;
        bool manifest;   /* an index or a manifest: fetched as a manifest */
        bool config;     /* the image config: fetched as a blob, never taken from the store */
};

int image_pull_new(const char *images_dir, const char *blobs_dir, const struct image_limits *limits,
                   struct image_pull **ret, struct sf_err *err);
void image_pull_free(struct image_pull *p);
/* Stage a manifest or index document fetched whole; want_digest (may be
 * NULL: a tag) must match its content. *ret_digest: its digest. */
int image_pull_add_manifest(struct image_pull *p, const void *data, size_t len, const char *want_digest,
                            char ret_digest[IMAGE_ID_SIZE], struct sf_err *err);
/* 1 (and staged from the store) when the blob store holds digest with
 * this size, 0 when it must be fetched. */
int image_pull_have_blob(struct image_pull *p, const char *digest, uint64_t size);
/* Stream one blob: begin with the digest and size its descriptor gives;
 * write (-EFBIG past the size, -E2BIG past the pull's max_archive_bytes);
 * restart (a retry from its first byte); end checks size and digest
 * (-EBADMSG, the reason in err) and frees the sink, as abort does. */
int image_blob_sink_begin(struct image_pull *p, const char *digest, uint64_t size, struct image_blob_sink **ret,
                          struct sf_err *err);
int image_blob_sink_write(struct image_blob_sink *b, const void *data, size_t n);
void image_blob_sink_restart(struct image_blob_sink *b);
uint64_t image_blob_sink_bytes(const struct image_blob_sink *b);
int image_blob_sink_end(struct image_blob_sink *b, struct sf_err *err);
void image_blob_sink_abort(struct image_blob_sink *b);
/* Plan from the top manifest (its digest, media type and size), tagged
 * tag ("name:tag" or "name@digest"; may be NULL). Returns how many blobs
 * are missing (*ret points into the pull, valid until the next call), 0
 * when the image is complete, or -errno with err (a bad manifest, no image
 * for this platform, a cap). */
int image_pull_missing(struct image_pull *p, const char *top_digest, const char *top_media_type, uint64_t top_size,
                       const char *tag, struct image_missing **ret, size_t *ret_n, struct sf_err *err);
/* Store the blobs, unpack, publish (as image_import()). */
int image_pull_finish(struct image_pull *p, struct image_import_result **ret, struct sf_err *err);
/* Bytes staged so far (progress). */
uint64_t image_pull_fetched_bytes(struct image_pull *p);

/* Parse a config JSON (as stored in config_json) into its parts. */
int image_config_parse(const char *config_json, struct image_config **ret, struct sf_err *err);
void image_config_free(struct image_config *c);

/* Resolve an image User string ("1000", "1000:1000", "app", "app:staff")
 * against rootfs/etc/passwd and rootfs/etc/group (read with RESOLVE_IN_ROOT).
 * NULL or "" is 0:0. */
int image_resolve_user(const char *rootfs, const char *user, uint32_t *ret_uid, uint32_t *ret_gid,
                       struct sf_err *err);

/* Room for the name image_detach() returns. */
#define IMAGE_DETACHED_NAME_SIZE 32

/* Make images_dir/<hex> (an unreferenced image; id is "sha256:<hex>" or
 * "<hex>") disappear at once: rename it to a private ".rm-<random>" name,
 * returned in ret_name (n >= IMAGE_DETACHED_NAME_SIZE), for
 * image_purge_detached() to delete later (e.g. on a worker thread). An
 * import that starts afterwards unpacks the image anew. *ret_size: the
 * bytes its .complete recorded (0 if unreadable). -ENOENT when absent,
 * -EINVAL for a malformed id. */
int image_detach(const char *images_dir, const char *id, char *ret_name, size_t n, uint64_t *ret_size);
int image_purge_detached(const char *images_dir, const char *name);
/* The ids ("sha256:<hex>") of the complete images in images_dir. */
int image_list_complete(const char *images_dir, char ***ret);

/* Remove what an interrupted import left in images_dir: staging and unpack
 * directories and image folders without .complete; how many in
 * *ret_removed (may be NULL). Call at startup only, never while an import
 * may run (the daemon holds its data folder's lock: core/daemon/datadir.h). */
int image_gc_partial(const char *images_dir, unsigned *ret_removed);

/* Remove the blobs in blobs_dir that no complete image in images_dir lists
 * in its blobs.json, and stale temporary copies. -EBUSY (nothing done)
 * while an import holds the store; -EBADMSG when an image's blobs.json is
 * unreadable (nothing removed rather than a blob still needed).
 * *ret_removed, *ret_bytes (may be NULL): blobs and bytes removed. */
int image_blobs_gc(const char *images_dir, const char *blobs_dir, uint64_t *ret_removed, uint64_t *ret_bytes);
