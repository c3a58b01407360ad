/* SPDX-License-Identifier: MIT */
/*
 * Safe layer unpacking. Layers are hostile (SECURITY.md): their entries try
 * to write outside the root ("../x", "/x", through a symlink planted by an
 * earlier entry or layer, through a hard link), to plant device nodes and
 * setuid files, and to exhaust the disk.
 *
 * libarchive only reads; every write is a *at() call relative to a
 * directory fd obtained with openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)
 * from the rootfs fd, so symlinks in parent components resolve as they
 * would inside the container (confined to the root, like docker's chroot
 * unpack) and can never reach the host. The final component is never
 * followed: it is removed and created with O_EXCL | O_NOFOLLOW, and
 * metadata is applied through the new fd or with AT_SYMLINK_NOFOLLOW.
 * archive_write_disk is not used: it relies on the process-wide cwd.
 *
 * Policy:
 *   - names: a leading "/" or "./" is stripped; any ".." component rejects
 *     the image, as does a hard link whose target has one;
 *   - devices and sockets are dropped and counted; a 0:0 character device
 *     is an overlayfs-style whiteout and removes the path;
 *   - FIFOs are kept, as Docker and containerd keep them (images ship
 *     them, e.g. for a supervisor's control pipe): made with mknodat()
 *     like any other entry, nothing else than S_IFIFO (the helper's seccomp
 *     filter allows mknodat for that type only). Whoever reads a file from
 *     a rootfs on the host side opens it O_NONBLOCK and checks S_ISREG
 *     (store/image_config.c's passwd reader), so a FIFO planted at a path
 *     the daemon reads cannot block it;
 *   - setuid and setgid bits are stripped, sticky kept on directories only;
 *     xattrs and ACLs are never applied (no file capabilities, no security.*);
 *   - owners are the in-image ids, which must be below 65536;
 *   - OCI whiteouts are applied per layer, in order: ".wh.NAME" removes NAME
 *     from lower layers, ".wh..wh..opq" removes from its directory what
 *     lower layers put there and keeps what this layer adds, wherever the
 *     marker sits in the layer's tar; other ".wh..wh." names, ".wh.",
 *     ".wh.." and ".wh..." reject the image;
 *   - caps: entries, name length, unpacked bytes (checked against each
 *     file's declared size before writing), decompressed stream bytes, and
 *     the real depth of directories: entries written through symlinks can
 *     nest deeper than their names say, and every tool that walks the tree
 *     (rm -rf on failure or removal included) holds an fd per level.
 */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "core/base/cleanup.h"
#include "core/base/util.h"
#include "store/image_internal.h"

#define UNPACK_BUF_SIZE (128U << 10)
#define OPEN_RETRIES 8
/* Per entry allowance for tar headers and padding in the stream cap. */
#define STREAM_BYTES_PER_ENTRY 8192ULL
/* Bytes allowed after a layer tar's end marker (record padding). */
#define MAX_TRAILING_BYTES (1U << 20)
/* Memory held for names (the layer's path set, directory times): names
 * compress well, so an archive of a few MiB could otherwise ask for GiBs. */
#define MAX_NAME_BYTES (64ULL << 20)
#define NAME_OVERHEAD 64

struct layer_stream;
static int layer_archive_error(struct unpack_state *st, struct archive *a, struct layer_stream *ls);
static bool layer_stream_ended(const struct layer_stream *ls);

struct dir_time {
        char *path;
        struct timespec mtime;
};

struct unpack_state {
        int root_fd;                 /* O_PATH rootfs, borrowed */
        struct image_limits lim;
        uint64_t bytes;              /* file bytes written */
        uint64_t stream_bytes;       /* decompressed layer bytes */
        uint64_t stream_cap;
        uint64_t entries;
        uint64_t dropped;            /* devices, sockets */
        struct dir_time *dirs;       /* directory mtimes, applied at the end */
        size_t n_dirs, cap_dirs;
        json_t *layer_paths;         /* set of paths the current layer wrote */
        json_t *dir_depth;           /* directory inode -> depth below the root */
        uint64_t dir_name_bytes;     /* held by dirs[] */
        uint64_t layer_name_bytes;   /* held by layer_paths */
        unsigned char *buf;
        unsigned layer;              /* 1-based, for messages */
        struct sf_err *err;          /* never NULL while unpacking */
        struct layer_stream *ls;     /* the current layer's stream */
};

/* What the current entry is, for messages. */
struct entry_ctx {
        const char *raw;             /* name as in the tar */
        char pname[IMAGE_PRINTABLE_SIZE]; /* printable copy */
};

int unpack_state_new(int root_fd, const struct image_limits *limits, struct unpack_state **ret)
{
        struct unpack_state *st = calloc(1, sizeof *st);
        uint64_t extra;

        if (!st)
                return -ENOMEM;
        st->root_fd = root_fd;
        image_limits_effective(limits, &st->lim);
        if (__builtin_mul_overflow(st->lim.max_entries, STREAM_BYTES_PER_ENTRY, &extra) ||
            __builtin_add_overflow(st->lim.max_unpacked_bytes, extra, &st->stream_cap))
                st->stream_cap = UINT64_MAX;
        st->layer_paths = json_object();
        st->dir_depth = json_object();
        st->buf = malloc(UNPACK_BUF_SIZE);
        if (!st->layer_paths || !st->dir_depth || !st->buf) {
                unpack_state_free(st);
                return -ENOMEM;
        }
        {
                struct stat sb;
                char key[IMAGE_U64_DEC_SIZE];
                if (fstat(root_fd, &sb) < 0 || xsnprintf(key, sizeof key, "%llu", (unsigned long long) sb.st_ino) < 0 ||
                    json_object_set_new(st->dir_depth, key, json_integer(0)) < 0) {
                        unpack_state_free(st);
                        return -ENOMEM;
                }
        }
        *ret = st;
        return 0;
}

void unpack_state_free(struct unpack_state *st)
{
        if (!st)
                return;
        for (size_t i = 0; i < st->n_dirs; i++)
                free(st->dirs[i].path);
        free(st->dirs);
        json_decref(st->layer_paths);
        json_decref(st->dir_depth);
        free(st->buf);
        free(st);
}

uint64_t unpack_state_bytes(const struct unpack_state *st) { return st->bytes; }
uint64_t unpack_state_dropped(const struct unpack_state *st) { return st->dropped; }

/* openat2 in the root; RESOLVE_IN_ROOT may answer EAGAIN when a rename
 * raced the walk of "..": retry a few times. */
static int root_open(int root_fd, const char *path, int flags)
{
        int fd = -EAGAIN;

        for (int i = 0; i < OPEN_RETRIES && fd == -EAGAIN; i++)
                fd = open_in_root(root_fd, *path ? path : ".", flags, 0);
        return fd;
}

static int entry_fail(struct unpack_state *st, const struct entry_ctx *ec, int code, const char *why)
{
        return sf_err_set(st->err, code, "layer %u: entry '%s': %s", st->layer, ec->pname, why);
}

static int entry_fail_errno(struct unpack_state *st, const struct entry_ctx *ec, int code, const char *what)
{
        return sf_err_errno(st->err, code, "layer %u: entry '%s': %s", st->layer, ec->pname, what);
}

/* ---- the set of paths this layer wrote (for opaque directories) -------- */

/* jansson's object is a ready hash table; tar names need not be UTF-8,
 * hence the _nocheck setter. Adding a path adds its ancestors too, which
 * this layer implicitly keeps. */
static int name_budget(struct unpack_state *st, uint64_t *counter, size_t len)
{
        *counter += len + NAME_OVERHEAD;
        if (st->dir_name_bytes + st->layer_name_bytes > MAX_NAME_BYTES)
                return sf_err_set(st->err, -EFBIG, "layer %u: more than %llu MiB of entry names to track",
                                  st->layer, MAX_NAME_BYTES >> 20);
        return 0;
}

static int layer_paths_add(struct unpack_state *st, const char *path)
{
        _cleanup_free_ char *p = strdup(path);
        int r;

        if (!p)
                return -ENOMEM;
        for (;;) {
                char *slash;

                if (!*p || json_object_get(st->layer_paths, p))
                        return 0;
                r = name_budget(st, &st->layer_name_bytes, strlen(p));
                if (r < 0)
                        return r;
                if (json_object_set_new_nocheck(st->layer_paths, p, json_true()) < 0)
                        return -ENOMEM;
                slash = strrchr(p, '/');
                if (!slash)
                        return 0;
                *slash = '\0';
        }
}

static bool layer_paths_has(const struct unpack_state *st, const char *path)
{
        return json_object_get(st->layer_paths, path) != NULL;
}

static char *path_join(const char *dir, const char *name)
{
        return *dir ? xasprintf("%s/%s", dir, name) : strdup(name);
}

/* ---- directories ------------------------------------------------------- */

/* Record the depth of a directory just created in parent_fd, and refuse
 * to go deeper than IMAGE_MAX_DIR_DEPTH. Every directory in the rootfs was
 * created here, so its parent is always known; an unknown one counts as
 * too deep. */
static int dir_depth_note(struct unpack_state *st, const struct entry_ctx *ec, int parent_fd, int dir_fd)
{
        struct stat psb, sb;
        char key[IMAGE_U64_DEC_SIZE];
        json_t *d;
        json_int_t depth;

        if (fstat(parent_fd, &psb) < 0 || fstat(dir_fd, &sb) < 0)
                return entry_fail_errno(st, ec, -errno, "cannot inspect a directory");
        if (xsnprintf(key, sizeof key, "%llu", (unsigned long long) psb.st_ino) < 0)
                return -EINVAL;
        d = json_object_get(st->dir_depth, key);
        depth = json_is_integer(d) ? json_integer_value(d) + 1 : IMAGE_MAX_DIR_DEPTH + 1;
        if (depth > IMAGE_MAX_DIR_DEPTH)
                return sf_err_set(st->err, -EFBIG, "layer %u: entry '%s': directories nested deeper than %d levels",
                                  st->layer, ec->pname, IMAGE_MAX_DIR_DEPTH);
        if (xsnprintf(key, sizeof key, "%llu", (unsigned long long) sb.st_ino) < 0)
                return -EINVAL;
        if (json_object_set_new(st->dir_depth, key, json_integer(depth)) < 0)
                return -ENOMEM;
        return 0;
}

static int dir_time_add(struct unpack_state *st, const char *path, const struct timespec *mtime)
{
        int r = name_budget(st, &st->dir_name_bytes, strlen(path));

        if (r < 0)
                return r;
        if (st->n_dirs == st->cap_dirs) {
                size_t ncap = st->cap_dirs ? st->cap_dirs * 2 : 64;
                struct dir_time *nv = reallocarray(st->dirs, ncap, sizeof *nv);
                if (!nv)
                        return -ENOMEM;
                st->dirs = nv;
                st->cap_dirs = ncap;
        }
        st->dirs[st->n_dirs].path = strdup(path);
        if (!st->dirs[st->n_dirs].path)
                return -ENOMEM;
        st->dirs[st->n_dirs++].mtime = *mtime;
        return 0;
}

/* Set owner and mode on a fresh or existing directory fd. */
static int apply_owner_mode(int fd, uid_t uid, gid_t gid, mode_t mode)
{
        if (fchown(fd, uid, gid) < 0 && !(errno == EPERM && geteuid() != 0))
                return -errno;
        /* After chown, which may clear setuid/setgid anyway. */
        if (fchmod(fd, mode) < 0)
                return -errno;
        return 0;
}

/* Open path (relative to the root) as a directory, O_PATH. With create,
 * missing components are made (0755 root:root), each resolved from the
 * root again so symlinks stay confined. */
static int open_dir(struct unpack_state *st, const struct entry_ctx *ec, const char *path, bool create,
                    int *ret_fd)
{
        _cleanup_free_ char *prefix = NULL;
        int fd;
        char *p;

        fd = root_open(st->root_fd, path, O_PATH | O_DIRECTORY);
        if (fd >= 0 || fd != -ENOENT || !create)
                goto out;

        prefix = strdup(path);
        if (!prefix)
                return -ENOMEM;
        p = prefix;
        for (;;) {
                char *slash = strchr(p, '/');
                _cleanup_close_ int pfd = -1, dfd = -1;
                const char *name;
                char saved = '\0';
                int r;

                if (slash) {
                        saved = *slash;
                        *slash = '\0';
                }
                dfd = root_open(st->root_fd, prefix, O_PATH | O_DIRECTORY);
                if (dfd == -ENOENT) {
                        char *last = strrchr(prefix, '/');
                        if (last) {
                                *last = '\0';
                                pfd = root_open(st->root_fd, prefix, O_PATH | O_DIRECTORY);
                                *last = '/';
                                name = last + 1;
                        } else {
                                pfd = root_open(st->root_fd, "", O_PATH | O_DIRECTORY);
                                name = prefix;
                        }
                        if (pfd < 0) {
                                fd = pfd;
                                goto out;
                        }
                        /* Implied directories count as entries: one deep
                         * name must not create hundreds of them unchecked. */
                        if (++st->entries > st->lim.max_entries)
                                return sf_err_set(st->err, -EFBIG, "image has more than %llu entries",
                                                  (unsigned long long) st->lim.max_entries);
                        if (mkdirat(pfd, name, 0700) < 0) {
                                /* EEXIST here: a dangling symlink, confined but
                                 * pointing nowhere. Do not create its target. */
                                fd = errno == EEXIST ? -ENOENT : -errno;
                                goto out;
                        }
                        dfd = openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        if (dfd < 0) {
                                fd = -errno;
                                goto out;
                        }
                        r = dir_depth_note(st, ec, pfd, dfd);
                        if (r < 0)
                                return r;
                        r = apply_owner_mode(dfd, 0, 0, 0755);
                        if (r < 0) {
                                fd = r;
                                goto out;
                        }
                        r = layer_paths_add(st, prefix);
                        if (r < 0)
                                return r;
                } else if (dfd < 0) {
                        fd = dfd;
                        goto out;
                }
                if (!slash) {
                        fd = root_open(st->root_fd, prefix, O_PATH | O_DIRECTORY);
                        goto out;
                }
                *slash = saved;
                p = slash + 1;
        }
out:
        if (fd >= 0) {
                *ret_fd = fd;
                return 0;
        }
        switch (fd) {
        case -ENOMEM:
                return fd;
        case -ENOTDIR:
                return entry_fail(st, ec, -EBADMSG, "a parent is not a directory");
        case -ENOENT:
                return entry_fail(st, ec, -EBADMSG, "a parent is a dangling symlink");
        case -ELOOP:
                return entry_fail(st, ec, -EBADMSG, "too many levels of symlinks in a parent");
        case -ENAMETOOLONG:
                return entry_fail(st, ec, -EBADMSG, "name too long");
        default:
                return entry_fail_errno(st, ec, fd, "cannot open a parent directory");
        }
}

/* Make room for a new entry at dfd/name: keep an existing directory when
 * a directory is wanted, remove anything else (never following it). */
static int make_room(int dfd, const char *name, bool want_dir, bool *ret_kept_dir)
{
        struct stat sb;

        *ret_kept_dir = false;
        if (fstatat(dfd, name, &sb, AT_SYMLINK_NOFOLLOW) < 0)
                return errno == ENOENT ? 0 : -errno;
        if (want_dir && S_ISDIR(sb.st_mode)) {
                *ret_kept_dir = true;
                return 0;
        }
        return rm_rf_at(dfd, name);
}

/* ---- whiteouts --------------------------------------------------------- */

/* Remove from the open directory what this layer did not write. */
static int opaque_clear(struct unpack_state *st, int dfd, const char *relpath)
{
        _cleanup_(closedirp) DIR *d = NULL;
        struct dirent *de;
        int r;

        r = image_opendir_at(dfd, &d);
        if (r < 0)
                return r;
        while ((errno = 0, de = readdir(d))) {
                _cleanup_free_ char *child = NULL;
                struct stat sb;

                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                        continue;
                child = path_join(relpath, de->d_name);
                if (!child)
                        return -ENOMEM;
                if (!layer_paths_has(st, child)) {
                        r = rm_rf_at(dirfd(d), de->d_name);
                        if (r < 0)
                                return r;
                        continue;
                }
                if (fstatat(dirfd(d), de->d_name, &sb, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(sb.st_mode)) {
                        _cleanup_close_ int cfd =
                                openat(dirfd(d), de->d_name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        if (cfd < 0)
                                return -errno;
                        r = opaque_clear(st, cfd, child);
                        if (r < 0)
                                return r;
                }
        }
        return errno > 0 ? -errno : 0;
}

static int apply_whiteout(struct unpack_state *st, const struct entry_ctx *ec, const char *parent,
                          const char *base)
{
        const char *what = base + STRLEN(".wh.");
        _cleanup_close_ int dfd = -1;
        _cleanup_free_ char *victim = NULL;
        int r;

        if (strcmp(what, ".wh..opq") == 0) {
                r = layer_paths_add(st, parent);
                if (r < 0)
                        return r;
                r = open_dir(st, ec, parent, true, &dfd);
                if (r < 0)
                        return r;
                r = opaque_clear(st, dfd, parent);
                if (r < 0)
                        return entry_fail_errno(st, ec, r, "cannot clear the opaque directory");
                return 0;
        }
        if (str_startswith(what, ".wh.") || !*what || strcmp(what, ".") == 0 || strcmp(what, "..") == 0)
                return entry_fail(st, ec, -EBADMSG, "malformed whiteout");

        victim = path_join(parent, what);
        if (!victim)
                return -ENOMEM;
        if (layer_paths_has(st, victim))
                return 0; /* written by this very layer: not a lower entry */
        dfd = root_open(st->root_fd, parent, O_PATH | O_DIRECTORY);
        if (dfd == -ENOENT || dfd == -ENOTDIR)
                return 0; /* nothing below to hide */
        if (dfd < 0)
                return entry_fail_errno(st, ec, dfd, "cannot open the whiteout's directory");
        r = rm_rf_at(dfd, what);
        if (r < 0)
                return entry_fail_errno(st, ec, r, "cannot apply the whiteout");
        return 0;
}

/* ---- entries ----------------------------------------------------------- */

/* What reading an entry's data ended with, or -errno. */
enum entry_data_end {
        DATA_DONE,        /* all of it, and the padding after it */
        DATA_LAYER_END,   /* all of it, then the layer ended inside the padding */
};

/* A read of the entry's data failed: was it only the padding after the
 * last entry that is missing? umoci insert (0.4.7) ends a layer right after
 * the last entry's data, without the padding to a 512-byte block and
 * without the end-of-archive blocks; Go's archive/tar, which Docker and
 * containerd use, reads that to a clean end, and libarchive does not (it
 * asks for the padding and fails: "Truncated input file"). Nothing can
 * hide in 0..511 missing zero bytes, so such a layer is read to its end.
 * Every byte of data the entry declared must have arrived, and the stream
 * must have ended cleanly (decompression finished without error): a
 * truncated entry is still refused. */
static int data_read_failed(struct unpack_state *st, struct archive *a, uint64_t got, uint64_t declared)
{
        if (got == declared && layer_stream_ended(st->ls))
                return DATA_LAYER_END;
        return layer_archive_error(st, a, st->ls);
}

/* The entry's data, block by block: archive_read_data() would drop the
 * bytes of its last block when the read after them fails (its count is
 * lost with the error), and data_read_failed() needs that count. Sparse
 * files come as blocks at offsets; the holes stay holes. */
static int copy_data(struct unpack_state *st, struct archive *a, const struct entry_ctx *ec, int fd,
                     uint64_t declared)
{
        uint64_t end = 0;

        for (;;) {
                const void *blk;
                size_t n;
                la_int64_t off;
                uint64_t blk_end;
                int r = archive_read_data_block(a, &blk, &n, &off);

                if (r == ARCHIVE_EOF)
                        break;
                if (r < ARCHIVE_WARN)
                        return data_read_failed(st, a, end, declared);
                if (off < 0 || __builtin_add_overflow((uint64_t) off, (uint64_t) n, &blk_end) ||
                    blk_end > declared)
                        return entry_fail(st, ec, -EBADMSG, "more data than its declared size");
                if ((uint64_t) off != end && lseek(fd, (off_t) off, SEEK_SET) < 0)
                        return entry_fail_errno(st, ec, -errno, "cannot seek");
                r = write_all(fd, blk, n);
                if (r < 0)
                        return entry_fail_errno(st, ec, r, "cannot write");
                st->bytes += (uint64_t) n;
                if (blk_end > end)
                        end = blk_end;
        }
        /* A sparse file may end in a hole. */
        if (end < declared && ftruncate(fd, (off_t) declared) < 0)
                return entry_fail_errno(st, ec, -errno, "cannot write");
        return DATA_DONE;
}

/* Read and drop what is left of an entry's data (an entry not written as
 * a file: dropped, a whiteout, a link with data), so that its end is
 * judged like a file's (data_read_failed). */
static int drain_data(struct unpack_state *st, struct archive *a, struct archive_entry *ae)
{
        la_int64_t size = archive_entry_size(ae);
        uint64_t end = 0;

        for (;;) {
                const void *blk;
                size_t n;
                la_int64_t off;
                int r = archive_read_data_block(a, &blk, &n, &off);

                if (r == ARCHIVE_EOF)
                        return DATA_DONE;
                if (r < ARCHIVE_WARN)
                        return data_read_failed(st, a, end, size > 0 ? (uint64_t) size : 0);
                if (off >= 0 && (uint64_t) off + n > end)
                        end = (uint64_t) off + n;
        }
}

static int unpack_hardlink(struct unpack_state *st, const struct entry_ctx *ec, int dfd, const char *path,
                           const char *name, const char *raw_target)
{
        _cleanup_free_ char *target = NULL;
        _cleanup_close_ int tfd = -1;
        const char *tname;
        struct stat tsb, sb;
        bool kept;
        int r;

        if (strlen(raw_target) > st->lim.max_path_len)
                return entry_fail(st, ec, -EFBIG, "hard link target name too long");
        r = image_path_normalize(raw_target, IMAGE_PATH_ENTRY, &target);
        if (r == -EBADMSG)
                return entry_fail(st, ec, -EBADMSG, "hard link target escapes the root");
        if (r < 0)
                return r;
        if (!*target)
                return entry_fail(st, ec, -EBADMSG, "hard link to the root directory");
        if (strcmp(target, path) == 0)
                return 0;
        tname = strrchr(target, '/');
        if (tname) {
                target[tname - target] = '\0';
                tname++;
        } else {
                tname = target;
        }
        tfd = root_open(st->root_fd, tname == target ? "" : target, O_PATH | O_DIRECTORY);
        if (tfd < 0 || fstatat(tfd, tname, &tsb, AT_SYMLINK_NOFOLLOW) < 0)
                return entry_fail(st, ec, -EBADMSG, "hard link target is not in the image");
        if (S_ISDIR(tsb.st_mode))
                return entry_fail(st, ec, -EBADMSG, "hard link to a directory");
        if (fstatat(dfd, name, &sb, AT_SYMLINK_NOFOLLOW) == 0 && sb.st_dev == tsb.st_dev &&
            sb.st_ino == tsb.st_ino)
                return 0;
        r = make_room(dfd, name, false, &kept);
        if (r < 0)
                return entry_fail_errno(st, ec, r, "cannot replace the existing entry");
        /* No AT_SYMLINK_FOLLOW: a link to a symlink links the symlink. */
        if (linkat(tfd, tname, dfd, name, 0) < 0)
                return entry_fail_errno(st, ec, -errno, "cannot create the hard link");
        return 0;
}

/* Owner, mode and times of an entry, checked. */
struct entry_meta {
        uid_t uid;
        gid_t gid;
        mode_t mode;                 /* permissions; sticky on directories only; never setuid/setgid */
        struct timespec times[2];    /* atime = mtime, for futimens() */
};

/* Step 1: the entry's name, counted against the caps and normalised into
 * *ret_path ("" for the root itself). */
static int entry_read_name(struct unpack_state *st, struct archive_entry *ae, struct entry_ctx *ec,
                           char **ret_path)
{
        int r;

        ec->raw = archive_entry_pathname(ae);
        if (!ec->raw)
                ec->raw = archive_entry_pathname_utf8(ae);
        if (!ec->raw)
                return sf_err_set(st->err, -EBADMSG, "layer %u: entry with an unreadable name", st->layer);
        (void) image_printable(ec->raw, ec->pname, sizeof ec->pname);

        if (++st->entries > st->lim.max_entries)
                return sf_err_set(st->err, -EFBIG, "image has more than %llu entries",
                                  (unsigned long long) st->lim.max_entries);
        if (strlen(ec->raw) > st->lim.max_path_len)
                return sf_err_set(st->err, -EFBIG, "layer %u: entry name longer than %llu bytes", st->layer,
                                  (unsigned long long) st->lim.max_path_len);
        r = image_path_normalize(ec->raw, IMAGE_PATH_ENTRY, ret_path);
        if (r == -EBADMSG)
                return entry_fail(st, ec, -EBADMSG, "escapes the root");
        return r;
}

/* What entry_whiteout_or_drop() left to do, or -errno. */
enum entry_next {
        ENTRY_WRITE,    /* a file, directory, symlink or hard link to write */
        ENTRY_DONE,     /* a whiteout applied, or a type the policy drops */
};

/* Step 2: whiteouts (".wh." names, and 0:0 character devices as overlayfs
 * writes them) are applied, devices and sockets dropped. */
static int entry_whiteout_or_drop(struct unpack_state *st, const struct entry_ctx *ec, struct archive_entry *ae,
                                  const char *parent, const char *name, const char *hardlink)
{
        mode_t type = archive_entry_filetype(ae);
        int r;

        if (str_startswith(name, ".wh."))
                r = apply_whiteout(st, ec, parent, name);
        else if (hardlink || type == AE_IFREG || type == AE_IFDIR || type == AE_IFLNK || type == AE_IFIFO)
                return ENTRY_WRITE;
        else if (type == AE_IFCHR && archive_entry_rdev(ae) == 0) {
                _cleanup_free_ char *wh = xasprintf(".wh.%s", name);

                if (!wh)
                        return -ENOMEM;
                r = *name ? apply_whiteout(st, ec, parent, wh) : 0;
        } else {
                st->dropped++;
                r = 0;
        }
        return r < 0 ? r : ENTRY_DONE;
}

/* Step 3: the in-image owner (below IMAGE_ID_LIMIT), the mode the policy
 * allows, and the times. */
static int entry_read_meta(struct unpack_state *st, const struct entry_ctx *ec, struct archive_entry *ae,
                           struct entry_meta *ret)
{
        la_int64_t uid = archive_entry_uid(ae), gid = archive_entry_gid(ae);
        mode_t perm = archive_entry_perm(ae);
        struct timespec t = { .tv_sec = archive_entry_mtime(ae), .tv_nsec = archive_entry_mtime_nsec(ae) };

        if (uid < 0 || uid >= IMAGE_ID_LIMIT || gid < 0 || gid >= IMAGE_ID_LIMIT)
                return entry_fail(st, ec, -EBADMSG, "owner ids must be in 0..65535");
        if (t.tv_nsec < 0 || t.tv_nsec >= 1000000000L)
                t.tv_nsec = 0;
        *ret = (struct entry_meta){
                .uid = (uid_t) uid,
                .gid = (gid_t) gid,
                .mode = (perm & 0777) | (archive_entry_filetype(ae) == AE_IFDIR ? (perm & S_ISVTX) : 0),
                .times = { t, t },
        };
        return 0;
}

/* The root itself ("./"): its metadata only. */
static int unpack_root(struct unpack_state *st, const struct entry_ctx *ec, mode_t type, const char *hardlink,
                       const struct entry_meta *m)
{
        _cleanup_close_ int fd = -1;
        int r;

        if (hardlink || type != AE_IFDIR)
                return entry_fail(st, ec, -EBADMSG, "replaces the root directory");
        fd = root_open(st->root_fd, "", O_RDONLY | O_DIRECTORY);
        if (fd < 0)
                return entry_fail_errno(st, ec, fd, "cannot open the root");
        r = apply_owner_mode(fd, m->uid, m->gid, m->mode);
        if (r < 0)
                return entry_fail_errno(st, ec, r, "cannot set owner and mode");
        return dir_time_add(st, ".", &m->times[1]);
}

/* A directory at dfd/name (path from the root): an existing one is kept,
 * anything else there replaced; its time is set after the last layer. */
static int unpack_dir(struct unpack_state *st, const struct entry_ctx *ec, int dfd, const char *path,
                      const char *name, const struct entry_meta *m)
{
        _cleanup_close_ int fd = -1;
        bool kept;
        int r;

        r = make_room(dfd, name, true, &kept);
        if (r < 0)
                return entry_fail_errno(st, ec, r, "cannot replace the existing entry");
        if (!kept && mkdirat(dfd, name, 0700) < 0)
                return entry_fail_errno(st, ec, -errno, "cannot create the directory");
        fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return entry_fail_errno(st, ec, -errno, "cannot open the directory");
        if (!kept) {
                r = dir_depth_note(st, ec, dfd, fd);
                if (r < 0)
                        return r;
        }
        r = apply_owner_mode(fd, m->uid, m->gid, m->mode);
        if (r < 0)
                return entry_fail_errno(st, ec, r, "cannot set owner and mode");
        return dir_time_add(st, path, &m->times[1]);
}

/* A regular file at dfd/name, made new (O_EXCL | O_NOFOLLOW); its declared
 * size is checked against the cap before a byte is written. */
static int unpack_file(struct unpack_state *st, struct archive *a, struct archive_entry *ae,
                       const struct entry_ctx *ec, int dfd, const char *name, const struct entry_meta *m)
{
        _cleanup_close_ int fd = -1;
        la_int64_t size = archive_entry_size(ae);
        uint64_t total;
        bool kept;
        int r, end;

        if (size < 0)
                return entry_fail(st, ec, -EBADMSG, "negative size");
        /* Before writing a byte: a bomb stops at its header. */
        if (__builtin_add_overflow(st->bytes, (uint64_t) size, &total) || total > st->lim.max_unpacked_bytes)
                return sf_err_set(st->err, -EFBIG, "layer %u: unpacked size exceeds the limit of %llu bytes",
                                  st->layer, (unsigned long long) st->lim.max_unpacked_bytes);
        r = make_room(dfd, name, false, &kept);
        if (r < 0)
                return entry_fail_errno(st, ec, r, "cannot replace the existing entry");
        fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
                return entry_fail_errno(st, ec, -errno, "cannot create the file");
        end = copy_data(st, a, ec, fd, (uint64_t) size);
        if (end < 0)
                return end;
        r = apply_owner_mode(fd, m->uid, m->gid, m->mode);
        if (r < 0)
                return entry_fail_errno(st, ec, r, "cannot set owner and mode");
        if (futimens(fd, m->times) < 0)
                return entry_fail_errno(st, ec, -errno, "cannot set the time");
        return end;
}

/* A symlink at dfd/name. The target is stored, never resolved here: it is
 * confined at use by RESOLVE_IN_ROOT and the sandbox. */
static int unpack_symlink(struct unpack_state *st, struct archive_entry *ae, const struct entry_ctx *ec, int dfd,
                          const char *name, const struct entry_meta *m)
{
        const char *target = archive_entry_symlink(ae);
        bool kept;
        int r;

        if (!target)
                target = archive_entry_symlink_utf8(ae);
        if (!target || !*target)
                return entry_fail(st, ec, -EBADMSG, "symlink without a target");
        if (strlen(target) > st->lim.max_path_len)
                return entry_fail(st, ec, -EFBIG, "symlink target too long");
        r = make_room(dfd, name, false, &kept);
        if (r < 0)
                return entry_fail_errno(st, ec, r, "cannot replace the existing entry");
        if (symlinkat(target, dfd, name) < 0)
                return entry_fail_errno(st, ec, -errno, "cannot create the symlink");
        if (fchownat(dfd, name, m->uid, m->gid, AT_SYMLINK_NOFOLLOW) < 0 && !(errno == EPERM && geteuid() != 0))
                return entry_fail_errno(st, ec, -errno, "cannot set the owner");
        if (utimensat(dfd, name, m->times, AT_SYMLINK_NOFOLLOW) < 0)
                return entry_fail_errno(st, ec, -errno, "cannot set the time");
        return 0;
}

/* A FIFO at dfd/name. It is never opened (an open for reading blocks
 * until a writer comes): its metadata is set by name, which mknodat has
 * just made, so no symlink can be there to follow. */
static int unpack_fifo(struct unpack_state *st, const struct entry_ctx *ec, int dfd, const char *name,
                       const struct entry_meta *m)
{
        bool kept;
        int r;

        r = make_room(dfd, name, false, &kept);
        if (r < 0)
                return entry_fail_errno(st, ec, r, "cannot replace the existing entry");
        if (mknodat(dfd, name, S_IFIFO | 0600, 0) < 0)
                return entry_fail_errno(st, ec, -errno, "cannot create the FIFO");
        if (fchownat(dfd, name, m->uid, m->gid, AT_SYMLINK_NOFOLLOW) < 0 && !(errno == EPERM && geteuid() != 0))
                return entry_fail_errno(st, ec, -errno, "cannot set the owner");
        /* After chown, as for files; never setuid/setgid/sticky (m->mode). */
        if (fchmodat(dfd, name, m->mode & 0777, 0) < 0)
                return entry_fail_errno(st, ec, -errno, "cannot set the mode");
        if (utimensat(dfd, name, m->times, AT_SYMLINK_NOFOLLOW) < 0)
                return entry_fail_errno(st, ec, -errno, "cannot set the time");
        return 0;
}

/* One tar entry: name, whiteout or dropped type, metadata, then the parent
 * directory (made as needed, resolved in the root) and the entry itself.
 * Returns an enum entry_data_end (DATA_LAYER_END only from a file's data,
 * which unpack_file reads; the caller drains any other entry's), or -errno. */
static int unpack_entry(struct unpack_state *st, struct archive *a, struct archive_entry *ae)
{
        _cleanup_free_ char *path = NULL;
        _cleanup_close_ int dfd = -1;
        struct entry_ctx ec = { 0 };
        struct entry_meta meta;
        const char *parent, *name, *hardlink;
        mode_t type = archive_entry_filetype(ae);
        char *slash;
        int r;

        r = entry_read_name(st, ae, &ec, &path);
        if (r < 0)
                return r;
        /* Split into parent and name ("" parent is the root). */
        slash = strrchr(path, '/');
        if (slash) {
                *slash = '\0';
                name = slash + 1;
        } else
                name = path;
        parent = slash ? path : "";

        hardlink = archive_entry_hardlink(ae);
        if (!hardlink)
                hardlink = archive_entry_hardlink_utf8(ae);
        r = entry_whiteout_or_drop(st, &ec, ae, parent, name, hardlink);
        if (r < 0 || r == ENTRY_DONE)
                return r < 0 ? r : 0;
        r = entry_read_meta(st, &ec, ae, &meta);
        if (r < 0)
                return r;
        if (!*name)
                return unpack_root(st, &ec, type, hardlink, &meta);

        r = open_dir(st, &ec, parent, true, &dfd);
        if (r < 0)
                return r;
        if (slash)
                *slash = '/';
        r = layer_paths_add(st, path);
        if (r < 0)
                return r;

        if (hardlink)
                return unpack_hardlink(st, &ec, dfd, path, name, hardlink);
        switch (type) {
        case AE_IFDIR:
                return unpack_dir(st, &ec, dfd, path, name, &meta);
        case AE_IFREG:
                return unpack_file(st, a, ae, &ec, dfd, name, &meta);
        case AE_IFLNK:
                return unpack_symlink(st, ae, &ec, dfd, name, &meta);
        case AE_IFIFO:
                return unpack_fifo(st, &ec, dfd, name, &meta);
        default:
                /* Not reached: entry_whiteout_or_drop() let only these through. */
                st->dropped++;
                return 0;
        }
}

/* ---- one layer --------------------------------------------------------- */

/* The tar reader pulls decompressed bytes through layer_read_cb() from a
 * second, raw-format archive that does the decompression, so the diff_id
 * (sha256 of the uncompressed tar) is computed in the same single pass.
 *
 * Decompression and hashing run on a second thread (the "inflater"), one
 * per layer, while this thread parses the tar and makes the files: the
 * way `tar -xz` runs gzip as a child, about 40 % off a large gzip layer on
 * two cores. They hand over LS_BUFS buffers of LS_BUF_SIZE bytes: single
 * producer, single consumer, one mutex and one condition variable, memory
 * fixed whatever the layer's size. The inflater stops at the stream cap on
 * its own (a bomb ends there even if the consumer is slow), and whenever
 * the consumer sets cancel; image_unpack_layer() never returns before the
 * inflater has been joined. Errors travel in order: the consumer sees the
 * bytes produced before a decompression error, then the error. The thread
 * shares the process's confinement (store/image_confine.c allows clone()
 * with exactly pthread_create's flags, nothing else). */
#define LS_BUFS 4
#define LS_BUF_SIZE (256U << 10)

struct layer_stream {
        struct archive *raw;          /* the inflater's only, once started */
        struct unpack_state *st;      /* the consumer's only */
        uint64_t cap;                 /* decompressed bytes the inflater may produce */
        pthread_mutex_t mu;
        pthread_cond_t cv;
        unsigned char *buf[LS_BUFS];
        size_t len[LS_BUFS];
        unsigned head;                /* next buffer the inflater fills */
        unsigned tail;                /* next (or held) buffer the consumer reads */
        unsigned n_full;              /* filled and not yet released, the held one included */
        bool holding;                 /* the consumer holds buf[tail] (libarchive reads it) */
        bool done;                    /* the inflater has finished: EOF or error */
        bool cancel;                  /* the consumer has given up */
        int error;                    /* -EFBIG: stream cap; -EBADMSG: decompression; -ENOMEM */
        char msg[IMAGE_PRINTABLE_SIZE];
        unsigned char digest[SHA256_DIGEST_LENGTH]; /* valid when done without error */
        bool eof;                     /* the consumer saw the end */
};

static void *inflater_main(void *arg)
{
        struct layer_stream *ls = arg;
        _cleanup_(EVP_MD_CTX_freep) EVP_MD_CTX *md = EVP_MD_CTX_new();
        const unsigned char *p = NULL;
        size_t n = 0;
        uint64_t produced = 0;
        unsigned int dlen = 0;
        int error = 0;
        char msg[sizeof ls->msg] = "";
        bool eof = false;

        if (!md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1)
                error = -ENOMEM;
        while (!error && !eof) {
                unsigned char *b;
                size_t fill = 0;
                bool stop;

                (void) pthread_mutex_lock(&ls->mu);
                while (ls->n_full == LS_BUFS && !ls->cancel)
                        (void) pthread_cond_wait(&ls->cv, &ls->mu);
                stop = ls->cancel;
                b = ls->buf[ls->head];
                (void) pthread_mutex_unlock(&ls->mu);
                if (stop)
                        break;

                /* buf[head] is ours until published. */
                while (fill < LS_BUF_SIZE && !error) {
                        size_t k;

                        if (n == 0) {
                                const void *blk;
                                la_int64_t off;
                                int r = archive_read_data_block(ls->raw, &blk, &n, &off);

                                if (r == ARCHIVE_EOF) {
                                        eof = true;
                                        break;
                                }
                                if (r < ARCHIVE_WARN) {
                                        const char *m = archive_error_string(ls->raw);
                                        error = -EBADMSG;
                                        (void) image_printable(m ? m : "unknown error", msg, sizeof msg);
                                        break;
                                }
                                p = blk;
                                produced += n;
                                if (produced > ls->cap) {
                                        error = -EFBIG;
                                        break;
                                }
                                if (n && EVP_DigestUpdate(md, p, n) != 1) {
                                        error = -ENOMEM;
                                        break;
                                }
                                continue;
                        }
                        k = n < LS_BUF_SIZE - fill ? n : LS_BUF_SIZE - fill;
                        memcpy(b + fill, p, k);
                        fill += k;
                        p += k;
                        n -= k;
                }

                (void) pthread_mutex_lock(&ls->mu);
                if (fill > 0) {
                        ls->len[ls->head] = fill;
                        ls->head = (ls->head + 1) % LS_BUFS;
                        ls->n_full++;
                }
                (void) pthread_cond_broadcast(&ls->cv);
                (void) pthread_mutex_unlock(&ls->mu);
        }
        if (!error && eof && (EVP_DigestFinal_ex(md, ls->digest, &dlen) != 1 || dlen != sizeof ls->digest))
                error = -ENOMEM;

        (void) pthread_mutex_lock(&ls->mu);
        ls->error = error;
        memcpy(ls->msg, msg, sizeof msg);
        ls->done = true;
        (void) pthread_cond_broadcast(&ls->cv);
        (void) pthread_mutex_unlock(&ls->mu);
        return NULL;
}

static la_ssize_t layer_read_cb(struct archive *a, void *data, const void **ret_buf)
{
        struct layer_stream *ls = data;
        const unsigned char *b;
        size_t n;
        int error;

        if (ls->eof)
                return 0;
        (void) pthread_mutex_lock(&ls->mu);
        if (ls->holding) {
                /* libarchive is done with the previous buffer. */
                ls->holding = false;
                ls->tail = (ls->tail + 1) % LS_BUFS;
                ls->n_full--;
                (void) pthread_cond_broadcast(&ls->cv);
        }
        while (ls->n_full == 0 && !ls->done)
                (void) pthread_cond_wait(&ls->cv, &ls->mu);
        if (ls->n_full == 0) {
                error = ls->error;
                (void) pthread_mutex_unlock(&ls->mu);
                if (error == 0) {
                        ls->eof = true;
                        return 0;
                }
                archive_set_error(a, error == -EFBIG ? EFBIG : error == -ENOMEM ? ENOMEM : EIO,
                                  "decompression failed");
                return -1;
        }
        ls->holding = true;
        b = ls->buf[ls->tail];
        n = ls->len[ls->tail];
        (void) pthread_mutex_unlock(&ls->mu);

        ls->st->stream_bytes += n;
        if (ls->st->stream_bytes > ls->st->stream_cap) {
                (void) pthread_mutex_lock(&ls->mu);
                ls->error = -EFBIG;
                (void) pthread_mutex_unlock(&ls->mu);
                archive_set_error(a, EFBIG, "stream cap");
                return -1;
        }
        *ret_buf = b;
        return (la_ssize_t) n;
}

/* Has the consumer seen the end of the decompressed stream, clean? */
static bool layer_stream_ended(const struct layer_stream *ls)
{
        return ls->eof;
}

/* The consumer's view of the inflater's error; call only once the stream
 * failed (the error is set before the inflater's last unlock). */
static int layer_stream_error(struct layer_stream *ls, char *msg, size_t n)
{
        int e;

        (void) pthread_mutex_lock(&ls->mu);
        e = ls->error;
        (void) image_printable(ls->msg, msg, n);
        (void) pthread_mutex_unlock(&ls->mu);
        return e;
}

static int layer_archive_error(struct unpack_state *st, struct archive *a, struct layer_stream *ls)
{
        const char *m = archive_error_string(a);
        char pbuf[IMAGE_PRINTABLE_SIZE], lmsg[IMAGE_PRINTABLE_SIZE];
        int e = layer_stream_error(ls, lmsg, sizeof lmsg);

        if (e == -EFBIG)
                return sf_err_set(st->err, -EFBIG, "layer %u: decompressed data exceeds the limit", st->layer);
        if (e == -ENOMEM)
                return -ENOMEM;
        if (e < 0) {
                if (strcasestr(lmsg, "truncated") || strcasestr(lmsg, "premature"))
                        return sf_err_set(st->err, -EBADMSG, "layer %u: truncated compressed data", st->layer);
                return sf_err_set(st->err, -EBADMSG, "layer %u: bad compressed data: %s", st->layer, lmsg);
        }
        if (m && strcasestr(m, "truncated"))
                return sf_err_set(st->err, -EBADMSG, "layer %u: truncated tar", st->layer);
        return sf_err_set(st->err, -EBADMSG, "layer %u: not a valid tar: %s", st->layer,
                          m ? image_printable(m, pbuf, sizeof pbuf) : "unknown error");
}

struct inflater {
        struct layer_stream ls;
        pthread_t thread;
        bool started;
};

static void inflater_stop(struct inflater *inf)
{
        if (inf->started) {
                (void) pthread_mutex_lock(&inf->ls.mu);
                inf->ls.cancel = true;
                (void) pthread_cond_broadcast(&inf->ls.cv);
                (void) pthread_mutex_unlock(&inf->ls.mu);
                (void) pthread_join(inf->thread, NULL);
                inf->started = false;
        }
        for (size_t i = 0; i < LS_BUFS; i++) {
                free(inf->ls.buf[i]);
                inf->ls.buf[i] = NULL;
        }
}

int image_unpack_layer(struct unpack_state *st, int blob_fd, unsigned index, const char *diff_id,
                       struct sf_err *err)
{
        /* Declared before the archives: cleanup runs in reverse, so the
         * inflater is joined before raw, which it reads, is freed. */
        _cleanup_(archive_read_freep) struct archive *raw = NULL, *tar = NULL;
        _cleanup_(inflater_stop) struct inflater inf = { .started = false };
        struct layer_stream *ls = &inf.ls;
        struct archive_entry *ae;
        char hex[IMAGE_HEX_SIZE];
        int r;

        st->layer = index;
        st->err = err;
        json_object_clear(st->layer_paths);
        st->layer_name_bytes = 0;

        raw = archive_read_new();
        tar = archive_read_new();
        if (!raw || !tar)
                return -ENOMEM;
        for (size_t i = 0; i < LS_BUFS; i++) {
                ls->buf[i] = malloc(LS_BUF_SIZE);
                if (!ls->buf[i])
                        return -ENOMEM;
        }
        if (archive_read_support_format_raw(raw) != ARCHIVE_OK || image_archive_support_filters(raw) < 0 ||
            archive_read_support_format_tar(tar) != ARCHIVE_OK ||
            archive_read_support_format_empty(tar) != ARCHIVE_OK)
                return sf_err_set(err, -ENOTSUP, "libarchive lacks raw or tar support");
        if (archive_read_open_fd(raw, blob_fd, UNPACK_BUF_SIZE) != ARCHIVE_OK ||
            archive_read_next_header(raw, &ae) < ARCHIVE_WARN) {
                const char *m = archive_error_string(raw);
                char pbuf[IMAGE_PRINTABLE_SIZE];
                return sf_err_set(err, -EBADMSG, "layer %u: cannot read the blob: %s", index,
                                  m ? image_printable(m, pbuf, sizeof pbuf) : "unknown error");
        }
        ls->raw = raw;
        ls->st = st;
        ls->cap = st->stream_cap >= st->stream_bytes ? st->stream_cap - st->stream_bytes : 0;
        st->ls = ls;
        /* Static initialisers: nothing to destroy, nothing that can fail. */
        ls->mu = (pthread_mutex_t) PTHREAD_MUTEX_INITIALIZER;
        ls->cv = (pthread_cond_t) PTHREAD_COND_INITIALIZER;
        r = pthread_create(&inf.thread, NULL, inflater_main, ls);
        if (r != 0)
                return sf_err_errno(err, -r, "layer %u: cannot start the decompression thread", index);
        inf.started = true;
        if (archive_read_open(tar, ls, NULL, layer_read_cb, NULL) != ARCHIVE_OK)
                return layer_archive_error(st, tar, ls);

        for (;;) {
                r = archive_read_next_header(tar, &ae);
                if (r == ARCHIVE_EOF)
                        break;
                if (r < ARCHIVE_WARN)
                        return layer_archive_error(st, tar, ls);
                r = unpack_entry(st, tar, ae);
                /* Whatever the entry did not read (a file's data is read
                 * already: its next read answers the end at once). */
                if (r == DATA_DONE)
                        r = drain_data(st, tar, ae);
                if (r < 0) {
                        if (!err->msg[0])
                                return sf_err_errno(err, r, "layer %u: unpack failed", index);
                        return r;
                }
                if (r == DATA_LAYER_END)
                        break;
        }

        /* Hash what follows the tar's end marker too: the diff_id covers the
         * whole uncompressed stream. That is padding; a bomb hidden there
         * stops at MAX_TRAILING_BYTES. */
        {
                uint64_t at_end = st->stream_bytes;
                while (!ls->eof) {
                        const void *p;
                        la_ssize_t n = layer_read_cb(tar, ls, &p);
                        if (n < 0)
                                return layer_archive_error(st, tar, ls);
                        if (st->stream_bytes - at_end > MAX_TRAILING_BYTES)
                                return sf_err_set(err, -EBADMSG, "layer %u: more than %u bytes after the end of the tar",
                                                  index, MAX_TRAILING_BYTES);
                }
        }
        /* EOF without error: the inflater has finished the digest. */
        inflater_stop(&inf);
        hex_encode(ls->digest, sizeof ls->digest, hex);
        if (strcmp(hex, diff_id + STRLEN(IMAGE_DIGEST_PREFIX)) != 0)
                return sf_err_set(err, -EBADMSG, "layer %u: diff_id mismatch: the config says %s, the content is sha256:%s",
                                  index, diff_id, hex);
        return 0;
}

/* ---- after the last layer ---------------------------------------------- */

int image_unpack_finish(struct unpack_state *st, struct sf_err *err)
{
        /* The launcher mounts over these; an image must not make them
         * symlinks ("/proc -> /" and friends are classic tricks). */
        static const struct {
                const char *name;
                mode_t mode;
        } sysdirs[] = {
                { "proc", 0755 }, { "dev", 0755 }, { "sys", 0755 }, { "tmp", 01777 }, { "etc", 0755 },
        };
        int r;

        for (size_t i = 0; i < ELEMENTSOF(sysdirs); i++) {
                _cleanup_close_ int fd = -1;
                struct stat sb;

                if (fstatat(st->root_fd, sysdirs[i].name, &sb, AT_SYMLINK_NOFOLLOW) == 0) {
                        if (S_ISDIR(sb.st_mode))
                                continue;
                        r = rm_rf_at(st->root_fd, sysdirs[i].name);
                        if (r < 0)
                                return sf_err_errno(err, r, "cannot remove '/%s' from the image", sysdirs[i].name);
                } else if (errno != ENOENT)
                        return sf_err_errno(err, -errno, "cannot inspect '/%s' in the image", sysdirs[i].name);
                if (mkdirat(st->root_fd, sysdirs[i].name, 0700) < 0)
                        return sf_err_errno(err, -errno, "cannot create '/%s' in the image", sysdirs[i].name);
                fd = openat(st->root_fd, sysdirs[i].name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (fd < 0)
                        return sf_err_errno(err, -errno, "cannot open '/%s' in the image", sysdirs[i].name);
                r = apply_owner_mode(fd, 0, 0, sysdirs[i].mode);
                if (r < 0)
                        return sf_err_errno(err, r, "cannot set the mode of '/%s'", sysdirs[i].name);
        }
        /* Directory times last: creating entries (and the directories
         * above) changed them. Later records of the same path win. */
        for (size_t i = 0; i < st->n_dirs; i++) {
                _cleanup_close_ int fd = root_open(st->root_fd, st->dirs[i].path,
                                                   O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
                struct timespec t[2] = { st->dirs[i].mtime, st->dirs[i].mtime };
                if (fd >= 0)
                        (void) futimens(fd, t); /* best effort: times are cosmetic */
        }
        return 0;
}
