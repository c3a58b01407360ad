/* SPDX-License-Identifier: MIT */
/* The data folder's lock and identity, and the cleanup after a killed
 * daemon (core/daemon/datadir.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/base/cleanup.h"
#include "core/base/lockfile.h"
#include "core/base/log.h"
#include "core/base/util.h"
#include "core/daemon/datadir.h"
#include "store/image.h"

#define LOCK_FILE "sfaasd.lock"
#define ID_FILE "sfaasd.id"
/* write_file_atomic()'s temporary names: "<name>.tmp-<12 hex>". */
#define TMP_SUFFIX_HEX 12

DEFINE_TRIVIAL_CLEANUP_FUNC(DIR *, closedir)

/* The lock can outlive a killed daemon by a moment: a child it was
 * starting (a sandbox between clone and exec, sandbox/child.c) shares the
 * open file until it exits, which it does as soon as it finds its parent
 * gone. flock() has no timeout, so try again with a growing pause, for at
 * most 2 s, before calling the folder taken. */
static int lock_folder(int dfd, int *ret_fd)
{
        uint64_t deadline = now_ns() + 2000000000ULL;
        long delay_ns = 1000000;

        for (;;) {
                struct timespec ts;
                int r = lockfile_acquire(dfd, LOCK_FILE, false, ret_fd);
                if (r != -EAGAIN || now_ns() >= deadline)
                        return r;
                ts = (struct timespec) { .tv_sec = 0, .tv_nsec = delay_ns };
                (void) nanosleep(&ts, NULL);
                if (delay_ns < 100000000)
                        delay_ns *= 2;
        }
}

static bool is_hex(const char *s, size_t n)
{
        for (size_t i = 0; i < n; i++)
                if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
                        return false;
        return true;
}

/* "<16 hex> <dev> <ino>\n" naming this folder (st), into id. */
static bool id_valid(char *buf, const struct stat *st, char *id)
{
        char *sp1, *sp2;
        uint64_t dev, ino;

        buf[strcspn(buf, "\n")] = '\0';
        if (strlen(buf) < DATADIR_ID_LEN + 4 || buf[DATADIR_ID_LEN] != ' ' || !is_hex(buf, DATADIR_ID_LEN))
                return false;
        sp1 = buf + DATADIR_ID_LEN;
        *sp1 = '\0';
        if (!(sp2 = strchr(sp1 + 1, ' ')))
                return false;
        *sp2 = '\0';
        if (parse_u64(sp1 + 1, &dev) < 0 || parse_u64(sp2 + 1, &ino) < 0)
                return false;
        if (dev != (uint64_t) st->st_dev || ino != (uint64_t) st->st_ino)
                return false;
        memcpy(id, buf, DATADIR_ID_LEN + 1);
        return true;
}

static int load_id(int dfd, struct datadir *d)
{
        _cleanup_free_ char *buf = NULL;
        unsigned char rnd[DATADIR_ID_LEN / 2];
        char line[DATADIR_ID_LEN + 48];
        struct stat st;
        int r;

        if (fstat(dfd, &st) < 0)
                return -errno;
        r = read_file_at(dfd, ID_FILE, 256, &buf, NULL);
        if (r >= 0 && id_valid(buf, &st, d->id))
                return 0;
        if (r < 0 && r != -ENOENT)
                return r;
        /* None yet, or made for another folder (this is a copy of it). */
        r = random_bytes(rnd, sizeof rnd);
        if (r < 0)
                return r;
        hex_encode(rnd, sizeof rnd, d->id);
        r = xsnprintf(line, sizeof line, "%s %llu %llu\n", d->id, (unsigned long long) st.st_dev,
                      (unsigned long long) st.st_ino);
        if (r >= 0)
                r = write_file_atomic(dfd, ID_FILE, line, strlen(line), 0644);
        if (r < 0)
                return r;
        d->new_id = true;
        return 0;
}

int datadir_open(const char *data_dir, struct datadir *ret, struct sf_err *err)
{
        struct datadir d = { .lock_fd = -1 };
        _cleanup_close_ int dfd = open(data_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        char pid[24];
        int r;

        if (dfd < 0)
                return sf_err_errno(err, -errno, "cannot open data folder '%s'", data_dir);
        r = lock_folder(dfd, &d.lock_fd);
        if (r == -EAGAIN) {
                _cleanup_free_ char *holder = NULL;
                if (read_file_at(dfd, LOCK_FILE, 64, &holder, NULL) >= 0)
                        holder[strcspn(holder, "\n")] = '\0';
                return sf_err_set(err, -EBUSY, "data folder '%s' is in use by another sfaasd (pid %s)",
                                  data_dir, holder && holder[0] ? holder : "unknown");
        }
        if (r < 0)
                return sf_err_errno(err, r, "cannot lock '%s/%s'", data_dir, LOCK_FILE);
        /* For the message above only: the lock, not this pid, decides. */
        (void) xsnprintf(pid, sizeof pid, "%d\n", (int) getpid());
        if (ftruncate(d.lock_fd, 0) < 0 || pwrite(d.lock_fd, pid, strlen(pid), 0) < 0)
                log_debug("cannot write our pid into '%s/%s': %s", data_dir, LOCK_FILE, strerror(errno));
        r = load_id(dfd, &d);
        if (r < 0) {
                datadir_close(&d);
                return sf_err_errno(err, r, "cannot read or make '%s/%s'", data_dir, ID_FILE);
        }
        *ret = d;
        return 0;
}

void datadir_close(struct datadir *d)
{
        if (d && d->lock_fd >= 0)
                (void) close(d->lock_fd);
        if (d)
                d->lock_fd = -1;
}

/* "<name>.tmp-<12 hex>": a write_file_atomic() a crash interrupted. */
static bool is_atomic_tmp(const char *name)
{
        const char *t = strstr(name, ".tmp-");

        if (!t || t == name)
                return false;
        t += 5;
        return strlen(t) == TMP_SUFFIX_HEX && is_hex(t, TMP_SUFFIX_HEX);
}

/* Remove the entries of dir (relative to dfd) that match: the atomic
 * writes' temporary files (match_tmp) or everything. */
static unsigned clean_dir(int dfd, const char *data_dir, const char *dir, bool match_tmp)
{
        _cleanup_(closedirp) DIR *d = NULL;
        struct dirent *de;
        unsigned n = 0;
        int fd = openat(dfd, dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

        if (fd < 0 || !(d = fdopendir(fd))) {
                if (fd >= 0)
                        (void) close(fd);
                return 0;
        }
        while ((de = readdir(d))) {
                int r;
                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                        continue;
                if (match_tmp && (de->d_type != DT_REG || !is_atomic_tmp(de->d_name)))
                        continue;
                r = rm_rf_at(dirfd(d), de->d_name);
                if (r < 0)
                        log_warning_errno(r, "cannot remove '%s/%s/%s'", data_dir, dir, de->d_name);
                else
                        n++;
        }
        return n;
}

void datadir_clean(const char *data_dir, struct datadir_residue *ret)
{
        char images[PATH_MAX], blobs[PATH_MAX];
        _cleanup_close_ int dfd = open(data_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        struct datadir_residue res = { 0 };
        uint64_t removed = 0;
        int r;

        r = xsnprintf(images, sizeof images, "%s/images", data_dir);
        if (r >= 0)
                r = xsnprintf(blobs, sizeof blobs, "%s/blobs", data_dir);
        if (r < 0 || dfd < 0) {
                log_warning_errno(r < 0 ? r : -errno, "cannot clean data folder '%s'", data_dir);
                *ret = res;
                return;
        }
        /* Half-written imports are garbage: nothing refers to them. */
        r = image_gc_partial(images, &res.imports);
        if (r < 0)
                log_warning_errno(r, "cannot clean partial imports in '%s'", images);
        /* Then the blobs they (or a delete before a crash) left behind. */
        r = image_blobs_gc(images, blobs, &removed, NULL);
        if (r < 0)
                log_warning_errno(r, "cannot collect unreferenced blobs in '%s'", blobs);
        res.blobs = (unsigned) removed;
        res.tmp_files = clean_dir(dfd, data_dir, ".", true) + clean_dir(dfd, data_dir, "secrets", true) +
                        clean_dir(dfd, data_dir, "tmp", false);
        *ret = res;
}
