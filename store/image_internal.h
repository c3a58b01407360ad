/* SPDX-License-Identifier: MIT */
/*
 * Internals shared by store/image*.c. Not for other modules: the public
 * interface is store/image.h.
 *
 * The image code in layers, bottom first; each file uses only files listed
 * before it (tools/layers.py checks the objects):
 *   image_util.c      limits, digests, the one path normaliser, printable
 *                     copies of hostile strings, private names;
 *   image_dir.c       the image folders: the .complete marker, private
 *                     folders, listing, detach and purge, leftovers;
 *   image_stage.c     read the outer archive once, sequentially, and stage
 *                     each accepted entry under a flat name in a private
 *                     directory, hashing as it streams;
 *   image_config.c    validate the image config, parse it back, resolve
 *                     users against the image's /etc/passwd;
 *   image_manifest.c  recognise the format (docker save or OCI layout),
 *                     pick the image, verify every blob it references: the
 *                     plan;
 *   image_blobs.c     the content-addressed blob store and its collector;
 *   image_unpack.c    unpack the layers safely into a new rootfs, checking
 *                     each layer's uncompressed digest against the config
 *                     (run by the helper);
 *   image_confine.c   confine the helper process;
 *   image_helper.c    the helper process (its entry, the parent's spawn and
 *                     report) and the parent's check of the tree it left;
 *   image.c           the import: stage, plan, store the blobs, unpack in
 *                     the helper, publish;
 *   image_pull.c      the import of blobs a caller fetches one by one (a
 *                     registry pull): staged and hashed as they stream,
 *                     then planned and unpacked as an archive is.
 */
#pragma once

#include <archive.h>
#include <dirent.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/base/cleanup.h"
#include "store/image.h"

/* The libraries' cleanups, once for every image file. jansson ships
 * json_decrefp. */
#define _cleanup_json_ _cleanup_(json_decrefp)
DEFINE_TRIVIAL_CLEANUP_FUNC(DIR *, closedir)
DEFINE_TRIVIAL_CLEANUP_FUNC(EVP_MD_CTX *, EVP_MD_CTX_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(struct archive *, archive_read_free)

/* Metadata files (manifests, indexes, configs) are read whole: cap them. */
#define IMAGE_MAX_JSON_BYTES (8U << 20)
/* Files in the outer archive (not counting directories). */
#define IMAGE_MAX_OUTER_FILES 4096U
/* Digests: IMAGE_DIGEST_PREFIX + IMAGE_HEX_LEN lower-case hex digits
 * (IMAGE_ID_SIZE of store/image.h with the NUL). */
#define IMAGE_DIGEST_PREFIX "sha256:"
#define IMAGE_HEX_LEN 64
#define IMAGE_HEX_SIZE (IMAGE_HEX_LEN + 1)
#define IMAGE_DIGEST_LEN (STRLEN(IMAGE_DIGEST_PREFIX) + IMAGE_HEX_LEN)
_Static_assert(IMAGE_DIGEST_LEN + 1 == IMAGE_ID_SIZE, "IMAGE_ID_SIZE holds a digest");
/* A hostile name or a library's message quoted in an error, through
 * image_printable(). */
#define IMAGE_PRINTABLE_SIZE 160
/* A decimal uint64_t and its NUL. */
#define IMAGE_U64_DEC_SIZE sizeof("18446744073709551615")
/* Owners in an image are its own ids, 0..65535 (the sandbox maps them). */
#define IMAGE_ID_LIMIT 65536U

/* --- image_util.c ------------------------------------------------------- */

/* Fill every zero field of *out from the IMAGE_DEFAULT_* of store/image.h
 * (in may be NULL). */
void image_limits_effective(const struct image_limits *in, struct image_limits *out);

/* Exactly IMAGE_HEX_LEN lower-case hex digits. */
bool image_is_hex64(const char *s);
/* "sha256:<64 lower-case hex>" */
bool image_digest_valid(const char *s);

/* Which names image_path_normalize() accepts. */
enum image_path_mode {
        IMAGE_PATH_ENTRY,        /* a layer entry: a leading "/" is stripped, ".." refused */
        IMAGE_PATH_ARCHIVE,      /* a name in the outer archive: "/..." and ".." refused */
        IMAGE_PATH_ARCHIVE_LINK, /* a link target there: "/..." refused, ".." climbs, never above the root */
};
/* The one normaliser of the names an image carries: collapse "//" and
 * "/./", drop leading "./" and a trailing "/"; "" is the root itself.
 * -EBADMSG for what mode refuses. */
int image_path_normalize(const char *in, enum image_path_mode mode, char **ret);

/* Copy s into buf for a message: at most n-1 bytes, non-printable bytes as
 * '?', "..." when cut. Hostile names must not reach a terminal raw. */
const char *image_printable(const char *s, char *buf, size_t n);

/* prefix + 16 random hex digits into buf (a private name in a folder). */
int image_random_name(const char *prefix, char *buf, size_t n);
/* A directory stream of dir_fd (its own fd; dir_fd stays open). */
int image_opendir_at(int dir_fd, DIR **ret);

/* Enable gzip, zstd, xz and bzip2 decompression, each only when libarchive
 * has the library linked in: never a fallback that runs an external
 * program on hostile input from a worker thread. */
int image_archive_support_filters(struct archive *a);

/* --- image_dir.c -------------------------------------------------------- */

/* Private folders in images_dir, never taken for images. */
#define IMAGE_STAGE_PREFIX ".tmp-"     /* a staged archive */
#define IMAGE_UNPACK_PREFIX ".unpack-" /* an image being built */
/* A private name: the longest prefix and 16 hex digits. */
#define IMAGE_PRIVATE_NAME_SIZE IMAGE_DETACHED_NAME_SIZE

/* Create and open images_dir/<prefix><random> (mode 0700); its name in
 * ret_name (n bytes). */
int image_dir_private_new(int dir_fd, const char *prefix, char *ret_name, size_t n, int *ret_fd);
/* Is images_dir/<hex> a complete image (its .complete present)? 1 with
 * *ret_size (may be NULL) the size it records (0 if unreadable), 0 if not,
 * -errno. */
int image_dir_complete(int dir_fd, const char *hex, uint64_t *ret_size);

/* --- image_stage.c ------------------------------------------------------ */

struct staged_entry {
        char *name;        /* archive name, normalised ("blobs/sha256/<hex>") */
        char *file;        /* file in the staging dir; NULL for links and skipped names */
        char *link;        /* for symlinks and hard links: the archive name aliased */
        uint64_t size;     /* bytes staged */
        char sha256[IMAGE_HEX_SIZE]; /* lower-case hex of the staged bytes */
};

struct staged_set {
        struct staged_entry *v;
        size_t n, cap;
};

/* Read the archive on fd once and stage its accepted entries into stage_fd
 * (an empty private directory). Unexpected names or entry types fail with
 * -EBADMSG; caps with -EFBIG. */
int image_stage_archive(int fd, int stage_fd, const struct image_limits *limits, struct staged_set *set,
                        struct sf_err *err);
/* Find the staged file for an archive name, following link aliases within
 * the staged set (never on the filesystem). NULL when absent. */
const struct staged_entry *staged_lookup(const struct staged_set *set, const char *name);
void staged_set_release(struct staged_set *set);

/* --- image_config.c ----------------------------------------------------- */

/* Validate the whole config blob: os, rootfs.type, rootfs.diff_ids (each
 * "sha256:<hex>"), and its "config" object (NULL or JSON null = empty);
 * *ret_config: a new object holding only the validated, cleaned fields of
 * "config". */
int image_config_doc_check(const json_t *doc, json_t **ret_config, struct sf_err *err);
/* "1000", "app", "app:staff", "0:0": ^[A-Za-z0-9_.-]+(:[A-Za-z0-9_.-]+)?$ */
bool image_user_valid(const char *user);
/* Clean an absolute path: collapse "//" and "/./", drop a trailing "/";
 * reject relative paths and ".." (-EBADMSG). */
int image_clean_abs_path(const char *in, char **ret);

/* --- image_manifest.c --------------------------------------------------- */

struct image_plan_layer {
        const struct staged_entry *blob;
        char diff_id[IMAGE_DIGEST_LEN + 1];  /* from the config, "sha256:<hex>" */
};

/* Indexes nested in an OCI layout, counting the manifest. */
#define IMAGE_INDEX_MAX_DEPTH 4

struct image_plan {
        /* Set by the caller: a blob missing from the set is listed in
         * missing instead of failing the plan; image_plan_load() then
         * returns -EAGAIN when anything is missing. Layers are all
         * listed; a missing index, manifest or config stops the walk
         * there (what it names is not known yet). */
        bool collect_missing;
        struct image_missing *missing;
        size_t n_missing;
        char config_digest[IMAGE_DIGEST_LEN + 1];
        char manifest_digest[IMAGE_DIGEST_LEN + 1];  /* "" for docker save */
        const struct staged_entry *config;
        /* The verified index and manifest blobs followed (OCI), outermost
         * first; none for docker save (its manifest.json is no blob). */
        const struct staged_entry *manifests[IMAGE_INDEX_MAX_DEPTH];
        size_t n_manifests;
        json_t *config_doc;                 /* the whole config blob, parsed */
        json_t *config_clean;               /* its "config" object, validated and cleaned */
        struct image_plan_layer *layers;
        size_t n_layers;
        char **tags;                        /* NULL-terminated, never NULL after load */
};

/* Recognise the format, choose the image, verify the digest and size of
 * every referenced blob (config, manifests, compressed layers) and fill the
 * plan. The layers' uncompressed digests are checked while unpacking. */
int image_plan_load(const struct staged_set *set, int stage_fd, const struct image_limits *limits,
                    struct image_plan *plan, struct sf_err *err);
void image_plan_release(struct image_plan *plan);

/* --- image_blobs.c ------------------------------------------------------ */

/* The content-addressed blob store blobs_dir/sha256/<hex>; see
 * store/image_blobs.c for the protocol. */
struct blob_store {
        int dir_fd;   /* blobs_dir */
        int sha_fd;   /* blobs_dir/sha256 */
        int lock_fd;  /* blobs_dir/.lock, flock()ed */
};

/* Open (creating as needed) the store; blob_store_close() drops any lock. */
int blob_store_open(const char *blobs_dir, struct blob_store *ret);
void blob_store_close(struct blob_store *bs);
/* flock(how) on the store's lock: LOCK_SH while an import stores blobs and
 * publishes, LOCK_EX to collect. -EBUSY when LOCK_NB and held. */
int blob_store_lock(struct blob_store *bs, int how);
/* Store every blob of the plan (staged and verified), each once: moved in
 * from stage_fd, or, when present, re-verified and replaced if corrupt. */
int blob_store_put_plan(struct blob_store *bs, int stage_fd, const struct image_plan *plan, struct sf_err *err);
/* Open a stored blob for reading; its size must be e->size. */
int blob_store_open_blob(const struct blob_store *bs, const struct staged_entry *e, int *ret_fd,
                         struct sf_err *err);
/* The blobs.json of an image folder for the plan. */
int image_blobs_json(const struct image_plan *plan, char **ret);

/* --- image.c ------------------------------------------------------------ */

/* From a loaded plan over the staged blobs in stage_fd: store the blobs
 * (bs; NULL: none), unpack in the confined helper, publish. The plan's
 * tags move to the result. */
int image_import_planned(const char *images_dir, int dir_fd, int stage_fd, struct blob_store *bs,
                         const struct image_limits *lim, struct image_plan *plan,
                         struct image_import_result **ret, struct sf_err *err);

/* --- image_unpack.c ----------------------------------------------------- */

struct unpack_state;

int unpack_state_new(int root_fd, const struct image_limits *limits, struct unpack_state **ret);
void unpack_state_free(struct unpack_state *st);
/* Unpack one layer blob (any compression libarchive knows) into the root,
 * applying whiteouts; the uncompressed stream must hash to diff_id. index
 * is 1-based, for messages. */
int image_unpack_layer(struct unpack_state *st, int blob_fd, unsigned index, const char *diff_id,
                       struct sf_err *err);
/* After the last layer: directory times, and real directories at /proc,
 * /dev, /sys, /tmp and /etc. */
int image_unpack_finish(struct unpack_state *st, struct sf_err *err);
uint64_t unpack_state_bytes(const struct unpack_state *st);
uint64_t unpack_state_dropped(const struct unpack_state *st);

/* --- image_confine.c ---------------------------------------------------- */

/* Real directory depth below a rootfs the unpacker makes (and the
 * parent's check accepts). */
#define IMAGE_MAX_DIR_DEPTH 256

/* The layers are unpacked by a throwaway confined process; see
 * store/image_confine.c for the design. */
struct unpack_confinement {
        int root_fd;              /* the new rootfs: the only tree it may touch */
        int max_fd;               /* highest fd it holds */
        uint64_t max_file_bytes;  /* RLIMIT_FSIZE */
};

/* Flags the helper reports: which confinement steps were not possible. */
#define UNPACK_CONFINED_NOCHROOT 1u   /* not root: no namespaces, chroot, capability cut */
#define UNPACK_CONFINED_NOLANDLOCK 2u /* the kernel has no Landlock */

/* Compile the unpacker's seccomp filter (a scmp_filter_ctx) for process
 * self; image_confine_process() loads it. Meant for a process that ends
 * after the unpack: nothing frees it. */
int image_confine_seccomp_new(pid_t self, void **ret);
/* Confine the calling single-threaded process to c->root_fd: namespaces,
 * chroot, capabilities, no_new_privs, rlimits, Landlock, then the seccomp
 * filter. Any failed step fails (err says which); *ret_flags says which
 * steps the environment made impossible (UNPACK_CONFINED_*). Irreversible:
 * for the helper, and for tests in a forked child. */
int image_confine_process(const struct unpack_confinement *c, void *filter, unsigned *ret_flags,
                          struct sf_err *err);

/* --- image_helper.c ----------------------------------------------------- */

/* Unpack the plan's layers (blob_fds, in order) into the empty rootfs
 * root_fd in a confined helper process, then check the tree it left with
 * image_rootfs_check(). The counters are the helper's. */
int image_unpack_isolated(int root_fd, const struct image_plan *plan, const int *blob_fds,
                          const struct image_limits *lim, uint64_t *ret_bytes, uint64_t *ret_dropped,
                          unsigned *ret_flags, struct sf_err *err);
/* Refuse (-EBADMSG) a rootfs holding what the unpack policy never makes:
 * devices, sockets, setuid/setgid, sticky non-directories, owners
 * outside 0..65535, directories deeper than IMAGE_MAX_DIR_DEPTH, more than
 * the entry limit, or no real directory at /proc /dev /sys /tmp /etc. */
int image_rootfs_check(int root_fd, const struct image_limits *lim, struct sf_err *err);
