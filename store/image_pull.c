/* SPDX-License-Identifier: MIT */
/*
 * Import from blobs fetched one by one (a registry pull; store/image.h has
 * the interface). The caller (core/runtime/pull.c) does the network; every
 * byte it hands over is written to a private staging directory and hashed
 * as it streams, and a blob whose digest or size is not the one asked for
 * is refused at its end and removed, before anything reads it. What a pull
 * stages is then an OCI image layout: a synthetic index.json naming the
 * top manifest, and blobs/sha256/<hex> for the manifests, the config and
 * the layers, so the plan, its checks, the blob store and the confined
 * unpack are the very ones of an archive import (store/image.c).
 *
 * Layers the blob store holds already are not fetched: their staged entry
 * names the stored copy, which blob_store_put_plan() re-hashes before the
 * unpacker reads it (a corrupt copy fails the pull, and the next collection
 * or import replaces it). The store's lock is held shared from the start of
 * the pull, so the collector cannot remove such a blob in between.
 *
 * Threads: blob sinks of one pull may be written from several threads at
 * once (concurrent layer fetches); the staged set is guarded by a mutex.
 * Everything else is called from one thread.
 */
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/base/cleanup.h"
#include "core/base/util.h"
#include "store/image_internal.h"

/* A staged entry for a blob the store holds: never opened in the stage. */
#define STORED_MARK "stored"

struct image_pull {
        char *images_dir;
        int dir_fd, stage_fd;
        char stage_name[IMAGE_PRIVATE_NAME_SIZE];
        struct blob_store bs;
        struct image_limits lim;
        pthread_mutex_t mu;          /* guards set and fetched */
        struct staged_set set;
        uint64_t fetched;            /* bytes staged, against max_archive_bytes */
        struct image_plan plan;      /* the last image_pull_missing() */
        bool planned;                /* plan is complete */
        unsigned seq;                /* staging file names */
};

struct image_blob_sink {
        struct image_pull *p;
        char digest[IMAGE_DIGEST_LEN + 1];
        uint64_t size, got;
        char file[IMAGE_PRIVATE_NAME_SIZE];
        int fd;
        EVP_MD_CTX *md;
};

int image_pull_new(const char *images_dir, const char *blobs_dir, const struct image_limits *limits,
                   struct image_pull **ret, struct sf_err *err)
{
        struct image_pull *p;
        int r;

        if (!images_dir || images_dir[0] != '/' || !blobs_dir || blobs_dir[0] != '/')
                return sf_err_set(err, -EINVAL, "image pull: bad arguments");
        p = calloc(1, sizeof *p);
        if (!p)
                return -ENOMEM;
        p->dir_fd = p->stage_fd = -1;
        p->bs = (struct blob_store) { .dir_fd = -1, .sha_fd = -1, .lock_fd = -1 };
        p->mu = (pthread_mutex_t) PTHREAD_MUTEX_INITIALIZER;
        image_limits_effective(limits, &p->lim);
        p->images_dir = strdup(images_dir);
        if (!p->images_dir) {
                image_pull_free(p);
                return -ENOMEM;
        }
        p->dir_fd = open(images_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (p->dir_fd < 0) {
                r = sf_err_errno(err, -errno, "cannot open the image store '%s'", images_dir);
                image_pull_free(p);
                return r;
        }
        r = blob_store_open(blobs_dir, &p->bs);
        if (r >= 0)
                r = blob_store_lock(&p->bs, LOCK_SH);
        if (r < 0) {
                r = sf_err_errno(err, r, "cannot open the blob store '%s'", blobs_dir);
                image_pull_free(p);
                return r;
        }
        r = image_dir_private_new(p->dir_fd, IMAGE_STAGE_PREFIX, p->stage_name, sizeof p->stage_name, &p->stage_fd);
        if (r < 0) {
                r = sf_err_errno(err, r, "cannot create a staging directory in '%s'", images_dir);
                image_pull_free(p);
                return r;
        }
        *ret = p;
        return 0;
}

void image_pull_free(struct image_pull *p)
{
        if (!p)
                return;
        image_plan_release(&p->plan);
        staged_set_release(&p->set);
        if (p->stage_fd >= 0)
                (void) close(p->stage_fd);
        if (p->dir_fd >= 0) {
                if (p->stage_name[0])
                        (void) rm_rf_at(p->dir_fd, p->stage_name);
                (void) close(p->dir_fd);
        }
        blob_store_close(&p->bs);
        free(p->images_dir);
        free(p);
}

/* Add an entry to the staged set (under the lock). name and file are
 * copied; link none. */
static int set_add_locked(struct image_pull *p, const char *name, const char *file, uint64_t size, const char *hex)
{
        struct staged_entry *e;

        if (p->set.n == p->set.cap) {
                size_t ncap = p->set.cap ? p->set.cap * 2 : 16;
                struct staged_entry *nv = reallocarray(p->set.v, ncap, sizeof *nv);
                if (!nv)
                        return -ENOMEM;
                p->set.v = nv;
                p->set.cap = ncap;
        }
        e = &p->set.v[p->set.n];
        memset(e, 0, sizeof *e);
        e->name = strdup(name);
        e->file = strdup(file);
        if (!e->name || !e->file) {
                free(e->name);
                free(e->file);
                return -ENOMEM;
        }
        e->size = size;
        memcpy(e->sha256, hex, IMAGE_HEX_SIZE);
        p->set.n++;
        return 0;
}

static bool set_has_locked(const struct image_pull *p, const char *name)
{
        for (size_t i = 0; i < p->set.n; i++)
                if (strcmp(p->set.v[i].name, name) == 0)
                        return true;
        return false;
}

/* Stage whole bytes under name (index.json, oci-layout) or as a blob. */
static int stage_bytes(struct image_pull *p, const char *name, const void *data, size_t len, const char *hex,
                       struct sf_err *err)
{
        char file[IMAGE_PRIVATE_NAME_SIZE];
        int r;

        (void) pthread_mutex_lock(&p->mu);
        if (set_has_locked(p, name)) {
                (void) pthread_mutex_unlock(&p->mu);
                return 0;
        }
        r = xsnprintf(file, sizeof file, "d-%u", p->seq++);
        (void) pthread_mutex_unlock(&p->mu);
        if (r < 0)
                return r;
        r = write_file_atomic(p->stage_fd, file, data, len, 0600);
        if (r < 0)
                return sf_err_errno(err, r, "cannot write a staging file");
        (void) pthread_mutex_lock(&p->mu);
        r = set_has_locked(p, name) ? 0 : set_add_locked(p, name, file, len, hex);
        (void) pthread_mutex_unlock(&p->mu);
        return r;
}

static void sha256_hex(const void *data, size_t len, char hex[IMAGE_HEX_SIZE])
{
        unsigned char d[SHA256_DIGEST_LENGTH];
        unsigned int n = 0;

        (void) EVP_Digest(data, len, d, &n, EVP_sha256(), NULL);
        hex_encode(d, sizeof d, hex);
}

int image_pull_add_manifest(struct image_pull *p, const void *data, size_t len, const char *want_digest,
                            char ret_digest[IMAGE_ID_SIZE], struct sf_err *err)
{
        _cleanup_free_ char *name = NULL;
        char hex[IMAGE_HEX_SIZE];

        if (len > IMAGE_MAX_JSON_BYTES)
                return sf_err_set(err, -EBADMSG, "manifest is larger than %u bytes", IMAGE_MAX_JSON_BYTES);
        sha256_hex(data, len, hex);
        if (want_digest && strcmp(want_digest + STRLEN(IMAGE_DIGEST_PREFIX), hex) != 0)
                return sf_err_set(err, -EBADMSG, "manifest %s: digest mismatch (content is sha256:%s)", want_digest,
                                  hex);
        name = xasprintf("blobs/sha256/%s", hex);
        if (!name)
                return -ENOMEM;
        if (ret_digest && xsnprintf(ret_digest, IMAGE_ID_SIZE, IMAGE_DIGEST_PREFIX "%s", hex) < 0)
                return -ENOMEM;
        return stage_bytes(p, name, data, len, hex, err);
}

int image_pull_have_blob(struct image_pull *p, const char *digest, uint64_t size)
{
        _cleanup_free_ char *name = NULL;
        _cleanup_close_ int fd = -1;
        const char *hex;
        struct stat sb;
        int r;

        if (!image_digest_valid(digest))
                return -EINVAL;
        hex = digest + STRLEN(IMAGE_DIGEST_PREFIX);
        fd = openat(p->bs.sha_fd, hex, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0)
                return errno == ENOENT ? 0 : -errno;
        /* The size here; the content is re-hashed when the plan is stored. */
        if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) || (uint64_t) sb.st_size != size)
                return 0;
        name = xasprintf("blobs/sha256/%s", hex);
        if (!name)
                return -ENOMEM;
        (void) pthread_mutex_lock(&p->mu);
        r = set_has_locked(p, name) ? 0 : set_add_locked(p, name, STORED_MARK, size, hex);
        (void) pthread_mutex_unlock(&p->mu);
        return r < 0 ? r : 1;
}

void image_blob_sink_abort(struct image_blob_sink *b)
{
        if (!b)
                return;
        if (b->fd >= 0) {
                (void) close(b->fd);
                (void) unlinkat(b->p->stage_fd, b->file, 0);
        }
        EVP_MD_CTX_free(b->md);
        (void) pthread_mutex_lock(&b->p->mu);
        b->p->fetched -= b->got;
        (void) pthread_mutex_unlock(&b->p->mu);
        free(b);
}

int image_blob_sink_begin(struct image_pull *p, const char *digest, uint64_t size, struct image_blob_sink **ret,
                          struct sf_err *err)
{
        struct image_blob_sink *b;
        unsigned seq;

        if (!image_digest_valid(digest))
                return sf_err_set(err, -EINVAL, "blob digest '%.80s' is not sha256:<hex>", digest);
        b = calloc(1, sizeof *b);
        if (!b)
                return -ENOMEM;
        b->p = p;
        b->fd = -1;
        b->size = size;
        memcpy(b->digest, digest, IMAGE_DIGEST_LEN + 1);
        (void) pthread_mutex_lock(&p->mu);
        seq = p->seq++;
        (void) pthread_mutex_unlock(&p->mu);
        if (xsnprintf(b->file, sizeof b->file, "f-%u", seq) < 0) {
                free(b);
                return -ENOMEM;
        }
        b->md = EVP_MD_CTX_new();
        if (!b->md || EVP_DigestInit_ex(b->md, EVP_sha256(), NULL) != 1) {
                image_blob_sink_abort(b);
                return -ENOMEM;
        }
        b->fd = openat(p->stage_fd, b->file, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (b->fd < 0) {
                int r = sf_err_errno(err, -errno, "cannot create a staging file");
                image_blob_sink_abort(b);
                return r;
        }
        *ret = b;
        return 0;
}

int image_blob_sink_write(struct image_blob_sink *b, const void *data, size_t n)
{
        uint64_t total;
        bool over;
        int r;

        if (n > b->size - b->got)
                return -EFBIG; /* more than the descriptor says: not the blob asked for */
        (void) pthread_mutex_lock(&b->p->mu);
        over = __builtin_add_overflow(b->p->fetched, (uint64_t) n, &total) || total > b->p->lim.max_archive_bytes;
        if (!over)
                b->p->fetched = total;
        (void) pthread_mutex_unlock(&b->p->mu);
        if (over)
                return -E2BIG;
        b->got += n;
        if (EVP_DigestUpdate(b->md, data, n) != 1)
                return -ENOMEM;
        r = write_all(b->fd, data, n);
        return r;
}

void image_blob_sink_restart(struct image_blob_sink *b)
{
        (void) pthread_mutex_lock(&b->p->mu);
        b->p->fetched -= b->got;
        (void) pthread_mutex_unlock(&b->p->mu);
        b->got = 0;
        (void) EVP_DigestInit_ex(b->md, EVP_sha256(), NULL);
        if (ftruncate(b->fd, 0) == 0)
                (void) lseek(b->fd, 0, SEEK_SET);
}

uint64_t image_blob_sink_bytes(const struct image_blob_sink *b)
{
        return b->got;
}

int image_blob_sink_end(struct image_blob_sink *b, struct sf_err *err)
{
        _cleanup_free_ char *name = NULL;
        unsigned char d[SHA256_DIGEST_LENGTH];
        unsigned int dlen = 0;
        char hex[IMAGE_HEX_SIZE];
        int r;

        if (EVP_DigestFinal_ex(b->md, d, &dlen) != 1 || dlen != sizeof d) {
                image_blob_sink_abort(b);
                return -ENOMEM;
        }
        hex_encode(d, sizeof d, hex);
        if (b->got != b->size) {
                r = sf_err_set(err, -EBADMSG, "blob %s: size mismatch: the manifest says %llu bytes, %llu arrived",
                               b->digest, (unsigned long long) b->size, (unsigned long long) b->got);
                image_blob_sink_abort(b);
                return r;
        }
        if (strcmp(hex, b->digest + STRLEN(IMAGE_DIGEST_PREFIX)) != 0) {
                r = sf_err_set(err, -EBADMSG, "blob %s: digest mismatch (content is sha256:%s)", b->digest, hex);
                image_blob_sink_abort(b);
                return r;
        }
        if (close(b->fd) < 0) {
                b->fd = -1;
                r = sf_err_errno(err, -errno, "cannot write a staging file");
                (void) unlinkat(b->p->stage_fd, b->file, 0);
                b->fd = -1;
                image_blob_sink_abort(b);
                return r;
        }
        b->fd = -1;
        name = xasprintf("blobs/sha256/%s", hex);
        if (!name) {
                (void) unlinkat(b->p->stage_fd, b->file, 0);
                image_blob_sink_abort(b);
                return -ENOMEM;
        }
        (void) pthread_mutex_lock(&b->p->mu);
        r = set_has_locked(b->p, name) ? 0 : set_add_locked(b->p, name, b->file, b->size, hex);
        (void) pthread_mutex_unlock(&b->p->mu);
        EVP_MD_CTX_free(b->md);
        free(b);
        return r;
}

int image_pull_missing(struct image_pull *p, const char *top_digest, const char *top_media_type, uint64_t top_size,
                       const char *tag, struct image_missing **ret, size_t *ret_n, struct sf_err *err)
{
        _cleanup_json_ json_t *index = NULL, *desc = NULL, *ann = NULL;
        _cleanup_free_ char *index_s = NULL;
        static const char layout[] = "{\"imageLayoutVersion\":\"1.0.0\"}";
        char hex[IMAGE_HEX_SIZE];
        int r;

        if (!image_digest_valid(top_digest))
                return sf_err_set(err, -EINVAL, "bad manifest digest");
        /* index.json: the one image, named by its reference. */
        desc = json_pack("{s:s, s:s, s:I}", "mediaType", top_media_type, "digest", top_digest, "size",
                         (json_int_t) top_size);
        ann = json_object();
        if (!desc || !ann)
                return -ENOMEM;
        if (tag && json_object_set_new(ann, "org.opencontainers.image.ref.name", json_string(tag)) < 0)
                return -ENOMEM;
        if (json_object_set(desc, "annotations", ann) < 0)
                return -ENOMEM;
        index = json_pack("{s:i, s:[O]}", "schemaVersion", 2, "manifests", desc);
        if (!index)
                return -ENOMEM;
        index_s = json_dumps(index, JSON_COMPACT);
        if (!index_s)
                return -ENOMEM;
        sha256_hex(index_s, strlen(index_s), hex);
        /* A pull plans once per round; the index is written anew each time. */
        (void) pthread_mutex_lock(&p->mu);
        for (size_t i = 0; i < p->set.n; i++)
                if (strcmp(p->set.v[i].name, "index.json") == 0) {
                        free(p->set.v[i].name);
                        free(p->set.v[i].file);
                        p->set.v[i] = p->set.v[--p->set.n];
                        break;
                }
        (void) pthread_mutex_unlock(&p->mu);
        r = stage_bytes(p, "index.json", index_s, strlen(index_s), hex, err);
        if (r >= 0) {
                sha256_hex(layout, STRLEN(layout), hex);
                r = stage_bytes(p, "oci-layout", layout, STRLEN(layout), hex, err);
        }
        if (r < 0)
                return r;

        image_plan_release(&p->plan);
        memset(&p->plan, 0, sizeof p->plan);
        p->plan.collect_missing = true;
        p->planned = false;
        r = image_plan_load(&p->set, p->stage_fd, &p->lim, &p->plan, err);
        if (r == -EAGAIN) {
                *ret = p->plan.missing;
                *ret_n = p->plan.n_missing;
                return (int) p->plan.n_missing;
        }
        if (r < 0)
                return r;
        p->planned = true;
        *ret = NULL;
        *ret_n = 0;
        return 0;
}

int image_pull_finish(struct image_pull *p, struct image_import_result **ret, struct sf_err *err)
{
        struct image_import_result *res = NULL;
        int r;

        if (!p->planned)
                return sf_err_set(err, -EINVAL, "image pull: blobs still missing");
        r = image_import_planned(p->images_dir, p->dir_fd, p->stage_fd, &p->bs, &p->lim, &p->plan, &res, err);
        if (r < 0) {
                if (!err->msg[0])
                        (void) sf_err_errno(err, r, "image pull failed");
                return r;
        }
        *ret = res;
        return 0;
}

uint64_t image_pull_fetched_bytes(struct image_pull *p)
{
        uint64_t n;

        (void) pthread_mutex_lock(&p->mu);
        n = p->fetched;
        (void) pthread_mutex_unlock(&p->mu);
        return n;
}
