/* SPDX-License-Identifier: MIT */
/*
 * See cmd/client_image.h.
 *
 * The tar is written by libarchive (pax restricted: plain ustar headers for
 * the names and sizes a layout has, so every header is one block), 512-byte
 * blocks and no padding of the last one, so its length is known before the
 * first byte is sent: the tar is streamed straight into the upload with an
 * exact Content-Length, no temporary copy of the layout. libarchive pushes
 * (a write callback); the upload pulls (a FILE read): tar_read() turns one
 * into the other through a small buffer. Names are at most 99 bytes of
 * [A-Za-z0-9._-/] and sizes below 8 GiB, so nothing needs a pax extension.
 */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cmd/client.h"
#include "cmd/client_image.h"
#include "core/base/cleanup.h"
#include "core/base/util.h"

#define LAYOUT_MAX_DEPTH 3    /* blobs/<algorithm>/<encoded> */
#define LAYOUT_MAX_FILES 100000
#define USTAR_NAME_MAX 99
#define USTAR_SIZE_MAX 077777777777LL /* 11 octal digits */
#define BLOCK 512
#define TAR_CHUNK 65536          /* bytes of a file handed to libarchive at a time */
#define PROGRESS_BAR_WIDTH 30
#define PROGRESS_REDRAW_MS 200   /* at most one redraw this often, unless the percentage moved */

struct layout_file {
        char *name;
        off_t size;
};

struct layout_tar {
        int dir_fd;
        struct layout_file *v;
        size_t n, cap;
        off_t total;
        /* streaming state */
        struct archive *ar; /* the tar writer, pushing into out */
        size_t idx;        /* next file to send */
        int fd;            /* the file being sent, -1 between files */
        off_t left;        /* its data bytes not yet given to the writer */
        bool closed;       /* the end blocks are written */
        char *out;         /* written by libarchive, not yet read by the upload */
        size_t out_len, out_off, out_cap;
};

static void layout_tar_free(struct layout_tar *t)
{
        if (t && t->ar)
                (void) archive_write_free(t->ar);
        if (t)
                free(t->out);
        if (!t)
                return;
        for (size_t i = 0; i < t->n; i++)
                free(t->v[i].name);
        free(t->v);
        if (t->fd >= 0)
                (void) close(t->fd);
        if (t->dir_fd >= 0)
                (void) close(t->dir_fd);
        free(t);
}
DEFINE_TRIVIAL_CLEANUP_FUNC(struct layout_tar *, layout_tar_free)

static bool name_ok(const char *s)
{
        if (strlen(s) > USTAR_NAME_MAX || !*s || s[0] == '.')
                return false;
        for (; *s; s++)
                if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
                      *s == '.' || *s == '_' || *s == '-' || *s == '/'))
                        return false;
        return true;
}

static int add_file(struct layout_tar *t, const char *name, const struct stat *sb, struct sf_err *err)
{
        if (!name_ok(name))
                return sf_err_set(err, -EBADMSG, "'%.120s' is not a name an OCI layout holds", name);
        if (sb->st_size > USTAR_SIZE_MAX)
                return sf_err_set(err, -EFBIG, "'%s' is larger than 8 GiB", name);
        if (t->n >= LAYOUT_MAX_FILES)
                return sf_err_set(err, -EFBIG, "the layout has more than %u files", LAYOUT_MAX_FILES);
        if (t->n == t->cap) {
                size_t ncap = t->cap ? t->cap * 2 : 16;
                struct layout_file *nv = realloc(t->v, ncap * sizeof *nv);
                if (!nv)
                        return -ENOMEM;
                t->v = nv;
                t->cap = ncap;
        }
        t->v[t->n].name = strdup(name);
        if (!t->v[t->n].name)
                return -ENOMEM;
        t->v[t->n].size = sb->st_size;
        t->n++;
        if (__builtin_add_overflow(t->total, BLOCK + ((sb->st_size + BLOCK - 1) / BLOCK) * BLOCK, &t->total))
                return -EFBIG;
        return 0;
}

static int cmp_str(const void *a, const void *b)
{
        return strcmp(*(char *const *) a, *(char *const *) b);
}

/* Collect the regular files under dir_fd (prefix is its name in the tar),
 * sorted, so the same layout gives the same tar. */
static int walk(struct layout_tar *t, int dir_fd, const char *prefix, int depth, struct sf_err *err)
{
        _cleanup_strv_free_ char **names = NULL;
        size_t n = 0, cap = 0;
        struct dirent *de;
        DIR *d;
        int fd, r = 0;

        fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return sf_err_errno(err, -errno, "cannot open '%s'", prefix[0] ? prefix : ".");
        d = fdopendir(fd);
        if (!d) {
                (void) close(fd);
                return -ENOMEM;
        }
        while ((de = readdir(d))) {
                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                        continue;
                /* At the top only what an OCI layout holds: editor and OS
                 * droppings are left behind rather than sent. */
                if (depth == 0 && strcmp(de->d_name, "oci-layout") != 0 && strcmp(de->d_name, "index.json") != 0 &&
                    strcmp(de->d_name, "blobs") != 0)
                        continue;
                if (n + 2 > cap) {
                        size_t ncap = cap ? cap * 2 : 16;
                        char **nv = realloc(names, ncap * sizeof *nv);
                        if (!nv) {
                                r = -ENOMEM;
                                break;
                        }
                        names = nv;
                        cap = ncap;
                }
                names[n] = strdup(de->d_name);
                if (!names[n]) {
                        r = -ENOMEM;
                        break;
                }
                names[++n] = NULL;
        }
        (void) closedir(d);
        if (r < 0)
                return r;
        if (n)
                qsort(names, n, sizeof *names, cmp_str);
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *name = prefix[0] ? xasprintf("%s/%s", prefix, names[i]) : strdup(names[i]);
                _cleanup_close_ int cfd = -1;
                struct stat sb;

                if (!name)
                        return -ENOMEM;
                cfd = openat(dir_fd, names[i], O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
                if (cfd < 0) {
                        if (errno == ELOOP)
                                return sf_err_set(err, -EBADMSG, "'%s' is a symlink: an OCI layout holds only files",
                                                  name);
                        return sf_err_errno(err, -errno, "cannot open '%s'", name);
                }
                if (fstat(cfd, &sb) < 0)
                        return sf_err_errno(err, -errno, "cannot stat '%s'", name);
                if (S_ISDIR(sb.st_mode)) {
                        if (depth + 1 >= LAYOUT_MAX_DEPTH)
                                return sf_err_set(err, -EBADMSG, "'%s' is nested too deep for an OCI layout", name);
                        r = walk(t, cfd, name, depth + 1, err);
                } else if (S_ISREG(sb.st_mode)) {
                        r = add_file(t, name, &sb, err);
                } else {
                        return sf_err_set(err, -EBADMSG, "'%s' is not a regular file", name);
                }
                if (r < 0)
                        return r;
        }
        return 0;
}

/* libarchive's output lands here, for tar_read() to hand out. */
static la_ssize_t tar_push(struct archive *a, void *cookie, const void *buf, size_t n)
{
        struct layout_tar *t = cookie;
        if (t->out_len + n > t->out_cap) {
                size_t cap = t->out_cap ? t->out_cap : TAR_CHUNK;
                char *nb;
                while (cap < t->out_len + n)
                        cap *= 2;
                nb = realloc(t->out, cap);
                if (!nb) {
                        archive_set_error(a, ENOMEM, "out of memory");
                        return -1;
                }
                t->out = nb;
                t->out_cap = cap;
        }
        memcpy(t->out + t->out_len, buf, n);
        t->out_len += n;
        return (la_ssize_t) n;
}

/* Hand libarchive the next chunk of the file being sent. */
static int tar_feed_data(struct layout_tar *t)
{
        char chunk[TAR_CHUNK];
        size_t want = (off_t) sizeof chunk < t->left ? sizeof chunk : (size_t) t->left;
        ssize_t n = read(t->fd, chunk, want);

        if (n < 0)
                return errno == EINTR ? 0 : -errno;
        if (n == 0)
                return -EIO; /* a file shrank under us */
        if (archive_write_data(t->ar, chunk, (size_t) n) != n)
                return -EIO;
        t->left -= n;
        return 0;
}

static int tar_end_entry(struct layout_tar *t)
{
        (void) close(TAKE_FD(t->fd));
        if (archive_write_finish_entry(t->ar) != ARCHIVE_OK)
                return -EIO;
        return 0;
}

/* Open the next file of the list and have its header written. */
static int tar_begin_entry(struct layout_tar *t)
{
        const struct layout_file *f = &t->v[t->idx++];
        struct archive_entry *e;
        struct stat sb;
        int r;

        t->fd = openat(t->dir_fd, f->name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (t->fd < 0)
                return -errno;
        if (fstat(t->fd, &sb) < 0 || !S_ISREG(sb.st_mode) || sb.st_size != f->size)
                return -EIO; /* changed since it was listed */
        e = archive_entry_new();
        if (!e)
                return -ENOMEM;
        archive_entry_set_pathname(e, f->name);
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, 0644);
        archive_entry_set_size(e, f->size);
        archive_entry_set_mtime(e, 0, 0); /* the tar is reproducible */
        r = archive_write_header(t->ar, e);
        archive_entry_free(e);
        t->left = f->size;
        return r == ARCHIVE_OK ? 0 : -EIO;
}

/* Have libarchive write the next piece: a data chunk, the end of an entry,
 * the next header, or the end of the tar. 0 or -errno. */
static int tar_produce(struct layout_tar *t)
{
        t->out_len = t->out_off = 0;
        if (t->fd >= 0 && t->left > 0)
                return tar_feed_data(t);
        if (t->fd >= 0)
                return tar_end_entry(t);
        if (t->idx < t->n)
                return tar_begin_entry(t);
        if (!t->closed) {
                t->closed = true;
                if (archive_write_close(t->ar) != ARCHIVE_OK)
                        return -EIO;
        }
        return 0;
}

static ssize_t tar_read(void *cookie, char *buf, size_t size)
{
        struct layout_tar *t = cookie;
        size_t done = 0;
        int r;

        while (done < size) {
                if (t->out_off < t->out_len) {
                        size_t k = t->out_len - t->out_off < size - done ? t->out_len - t->out_off : size - done;
                        memcpy(buf + done, t->out + t->out_off, k);
                        t->out_off += k;
                        done += k;
                        continue;
                }
                if (t->closed)
                        break;
                r = tar_produce(t);
                if (r < 0) {
                        errno = -r; /* a cookie read function fails as read(2) does */
                        return done ? (ssize_t) done : -1;
                }
        }
        return (ssize_t) done;
}

static int tar_close(void *cookie)
{
        layout_tar_free(cookie);
        return 0;
}

int client_tar_oci_dir(const char *dir, FILE **ret, off_t *ret_len, struct sf_err *err)
{
        static const cookie_io_functions_t io = { .read = tar_read, .close = tar_close };
        _cleanup_(layout_tar_freep) struct layout_tar *t = NULL;
        struct stat sb;
        FILE *f;
        int r;

        t = calloc(1, sizeof *t);
        if (!t)
                return -ENOMEM;
        t->fd = -1;
        t->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (t->dir_fd < 0)
                return sf_err_errno(err, -errno, "cannot open '%s'", dir);
        if (fstatat(t->dir_fd, "oci-layout", &sb, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(sb.st_mode) ||
            fstatat(t->dir_fd, "index.json", &sb, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(sb.st_mode))
                return sf_err_set(err, -EBADMSG,
                                  "'%s' is not an OCI image layout (no oci-layout and index.json files)", dir);
        r = walk(t, t->dir_fd, "", 0, err);
        if (r < 0)
                return r;
        /* Two zero blocks end a tar. */
        if (__builtin_add_overflow(t->total, 2 * BLOCK, &t->total))
                return -EFBIG;
        t->ar = archive_write_new();
        if (!t->ar || archive_write_set_format_pax_restricted(t->ar) != ARCHIVE_OK ||
            archive_write_add_filter_none(t->ar) != ARCHIVE_OK ||
            archive_write_set_bytes_per_block(t->ar, BLOCK) != ARCHIVE_OK ||
            archive_write_set_bytes_in_last_block(t->ar, 1) != ARCHIVE_OK ||
            archive_write_open(t->ar, t, NULL, tar_push, NULL) != ARCHIVE_OK)
                return sf_err_set(err, -EIO, "cannot start the tar writer: %s",
                                  t->ar ? archive_error_string(t->ar) : "out of memory");
        f = fopencookie(t, "r", io);
        if (!f)
                return -errno;
        *ret_len = t->total;
        TAKE_PTR(t);
        *ret = f;
        return 0;
}

/* ---- progress ---------------------------------------------------------- */

struct progress {
        FILE *f;
        off_t total, done;
        const char *label;
        struct timespec last;
        int last_pct;
        bool finished;
};

static void progress_draw(struct progress *p, bool final)
{
        char a[CLIENT_SIZE_TEXT_MAX], b[CLIENT_SIZE_TEXT_MAX];
        int pct = p->total > 0 ? (int) (p->done * 100 / p->total) : 100;
        struct timespec now;
        long ms;

        if (p->finished)
                return;
        (void) clock_gettime(CLOCK_MONOTONIC, &now);
        ms = (now.tv_sec - p->last.tv_sec) * 1000 + (now.tv_nsec - p->last.tv_nsec) / 1000000;
        /* A terminal redraw per chunk would cost more than the upload. */
        if (!final && pct == p->last_pct && ms < PROGRESS_REDRAW_MS)
                return;
        p->last = now;
        p->last_pct = pct;
        p->finished = final;
        (void) client_format_size((unsigned long long) p->done, a, sizeof a);
        (void) client_format_size((unsigned long long) p->total, b, sizeof b);
        {
                char bar[PROGRESS_BAR_WIDTH + 1];
                int fill = pct * PROGRESS_BAR_WIDTH / 100;
                memset(bar, '#', (size_t) fill);
                memset(bar + fill, ' ', (size_t) (PROGRESS_BAR_WIDTH - fill));
                bar[PROGRESS_BAR_WIDTH] = '\0';
                fprintf(stderr, "\r%s [%s] %3d%%  %s / %s\033[K%s", p->label, bar, pct, a, b, final ? "\n" : "");
        }
}

static ssize_t progress_read(void *cookie, char *buf, size_t size)
{
        struct progress *p = cookie;
        size_t n = fread(buf, 1, size, p->f);

        if (n == 0 && ferror(p->f))
                return -1;
        p->done += (off_t) n;
        progress_draw(p, n == 0 || p->done >= p->total);
        return (ssize_t) n;
}

static int progress_close(void *cookie)
{
        struct progress *p = cookie;
        if (!p->finished)
                fputc('\n', stderr); /* leave the bar where it stopped */
        free(p);
        return 0;
}

FILE *client_progress_wrap(FILE *f, off_t total, const char *label, int *ret_wrapped)
{
        static const cookie_io_functions_t io = { .read = progress_read, .close = progress_close };
        struct progress *p;
        FILE *w;

        *ret_wrapped = 0;
        if (!isatty(STDERR_FILENO) || total <= 0)
                return f;
        p = calloc(1, sizeof *p);
        if (!p)
                return f;
        p->f = f;
        p->total = total;
        p->label = label;
        p->last_pct = -1;
        w = fopencookie(p, "r", io);
        if (!w) {
                free(p);
                return f;
        }
        *ret_wrapped = 1;
        return w;
}

