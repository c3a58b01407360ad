/* SPDX-License-Identifier: MIT */
/* The data folder's uid window: chosen once, checked, claimed (core/daemon/uidrange.h). */
#include "core/daemon/uidrange.h"
#include "core/daemon/datadir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/base/cleanup.h"
#include "core/base/lockfile.h"
#include "core/base/log.h"
#include "core/base/util.h"

#define RANGE ((uint64_t) STORE_UID_RANGE)
#define ID_END 4294967295ULL /* (uid_t) -1 is no id: a window ends at or below it */
#define CLAIM_PREFIX "uids-"
#define CLAIM_SUFFIX ".claim"

DEFINE_TRIVIAL_CLEANUP_FUNC(DIR *, closedir)

struct window {
        uint64_t start, end; /* [start, end) */
};

static bool overlaps(struct window w, uint64_t start, uint64_t end)
{
        return start < w.end && w.start < end;
}

/* subuid/subgid: "owner:start:count" lines. */
static int check_subid(const char *path, struct window w, struct sf_err *err)
{
        _cleanup_free_ char *text = NULL;
        int r = read_file_at(AT_FDCWD, path, 16u << 20, &text, NULL);

        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return sf_err_errno(err, r, "cannot read '%s'", path);
        for (char *line = text, *next; line && *line; line = next) {
                char *nl = strchr(line, '\n'), *c1, *c2;
                uint64_t start, count;
                next = nl ? nl + 1 : NULL;
                if (nl)
                        *nl = '\0';
                c1 = strchr(line, ':');
                c2 = c1 ? strchr(c1 + 1, ':') : NULL;
                if (!c2 || line[0] == '#')
                        continue;
                *c2 = '\0';
                if (parse_u64(c1 + 1, &start) < 0 || parse_u64(c2 + 1, &count) < 0)
                        continue;
                *c1 = '\0';
                if (overlaps(w, start, start + count))
                        return sf_err_set(err, -EADDRINUSE,
                                          "the tenants' uid window %" PRIu64 "-%" PRIu64 " overlaps '%s' of '%s' (%" PRIu64
                                          "-%" PRIu64 "): set uid_base in the config to a free window",
                                          w.start, w.end - 1, line, path, start, start + count - 1);
        }
        return 0;
}

/* passwd/group: the id is the third field. */
static int check_ids(const char *path, const char *what, struct window w, struct sf_err *err)
{
        _cleanup_free_ char *text = NULL;
        int r = read_file_at(AT_FDCWD, path, 64u << 20, &text, NULL);

        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return sf_err_errno(err, r, "cannot read '%s'", path);
        for (char *line = text, *next; line && *line; line = next) {
                char *nl = strchr(line, '\n'), *c1, *c2, *c3;
                uint64_t id;
                next = nl ? nl + 1 : NULL;
                if (nl)
                        *nl = '\0';
                c1 = strchr(line, ':');
                c2 = c1 ? strchr(c1 + 1, ':') : NULL;
                c3 = c2 ? strchr(c2 + 1, ':') : NULL;
                if (!c3 || line[0] == '#')
                        continue;
                *c3 = '\0';
                if (parse_u64(c2 + 1, &id) < 0 || !overlaps(w, id, id + 1))
                        continue;
                *c1 = '\0';
                return sf_err_set(err, -EADDRINUSE,
                                  "the tenants' uid window %" PRIu64 "-%" PRIu64 " holds %s '%s' (%" PRIu64
                                  ") of '%s': set uid_base in the config to a free window",
                                  w.start, w.end - 1, what, line, id, path);
        }
        return 0;
}

/* The windows other live daemons claim; stale claims are removed. */
static int check_claims(int dfd, const char *own, struct window w, struct sf_err *err)
{
        _cleanup_(closedirp) DIR *d = NULL;
        struct dirent *de;
        /* A new open file description, not a dup: a dup shares the offset,
         * and each window's check must read the folder from its start. */
        int dup_fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        if (dup_fd < 0)
                return sf_err_errno(err, -errno, "cannot read '%s'", SANDBOX_LOCK_DIR);
        d = fdopendir(dup_fd);
        if (!d) {
                (void) close(dup_fd);
                return sf_err_errno(err, -errno, "cannot read '%s'", SANDBOX_LOCK_DIR);
        }
        while ((de = readdir(d))) {
                _cleanup_free_ char *text = NULL;
                uint64_t start, end;
                int fd = -1, r;
                if (!str_startswith(de->d_name, CLAIM_PREFIX) || strcmp(de->d_name, own) == 0)
                        continue;
                r = lockfile_take_abandoned(dfd, de->d_name, &fd);
                if (r == 0) {
                        /* Its daemon is gone. */
                        lockfile_remove(dfd, de->d_name, fd);
                        continue;
                }
                if (r != -EAGAIN)
                        continue;
                if (read_file_at(dfd, de->d_name, 4096, &text, NULL) < 0 ||
                    sscanf(text, "%" SCNu64 " %" SCNu64, &start, &end) != 2)
                        continue; /* being written: its daemon checks us in turn */
                if (overlaps(w, start, end))
                        return sf_err_set(err, -EADDRINUSE,
                                          "the tenants' uid window %" PRIu64 "-%" PRIu64 " overlaps the one of another "
                                          "running sfaasd (%" PRIu64 "-%" PRIu64 ", %s/%s): give each data folder its "
                                          "own uid_base, or leave it 0 for a free one",
                                          w.start, w.end - 1, start, end - 1, SANDBOX_LOCK_DIR, de->d_name);
        }
        return 0;
}

/* The ranges of live sfaasd-runc containers (sandbox/sandbox.h). */
static int check_oci(struct window w, struct sf_err *err)
{
        _cleanup_close_ int dfd = open(SANDBOX_OCI_UID_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        _cleanup_free_ char *text = NULL;
        _cleanup_(closedirp) DIR *d = NULL;
        struct dirent *de;
        uint64_t start, end;
        int fd;

        if (dfd < 0)
                return 0; /* no container ever ran here */
        /* Shared: the runtime holds it exclusively while it gives out a slot. */
        while (flock(dfd, LOCK_SH) < 0)
                if (errno != EINTR)
                        return sf_err_errno(err, -errno, "cannot lock '%s'", SANDBOX_OCI_UID_DIR);
        if (read_file_at(dfd, SANDBOX_OCI_WINDOW_FILE, 64, &text, NULL) < 0 ||
            sscanf(text, "%" SCNu64 " %" SCNu64, &start, &end) != 2 || !overlaps(w, start, end))
                return 0;
        fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0 || !(d = fdopendir(fd))) {
                if (fd >= 0)
                        (void) close(fd);
                return sf_err_errno(err, -errno, "cannot read '%s'", SANDBOX_OCI_UID_DIR);
        }
        while ((de = readdir(d))) {
                _cleanup_free_ char *owner = NULL;
                struct stat st;
                uint64_t slot, lo;
                if (parse_u64(de->d_name, &slot) < 0)
                        continue;
                lo = start + slot * RANGE;
                if (!overlaps(w, lo, lo + RANGE) || read_file_at(dfd, de->d_name, 8192, &owner, NULL) < 0)
                        continue;
                owner[strcspn(owner, "\n")] = '\0';
                if (owner[0] == '/' && stat(owner, &st) < 0 && errno == ENOENT)
                        continue; /* its container is gone */
                return sf_err_set(err, -EADDRINUSE,
                                  "the tenants' uid window %" PRIu64 "-%" PRIu64 " holds the ids of a running "
                                  "sfaasd-runc container (%" PRIu64 "-%" PRIu64 ", %s): set uid_base to a free "
                                  "window, or leave it 0 for one",
                                  w.start, w.end - 1, lo, lo + RANGE - 1, owner);
        }
        return 0;
}

static int check_all(struct sfaasd *sf, int dfd, const char *own, struct window w, struct sf_err *err)
{
        int r;

        if (w.start == 0 || w.end > ID_END)
                return sf_err_set(err, -ERANGE,
                                  "the tenants' uid window %" PRIu64 "-%" PRIu64 " is outside 1-%llu: lower uid_base "
                                  "or uid_ranges",
                                  w.start, w.end - 1, ID_END - 1);
        if ((r = check_subid(sf->cfg.subuid_file, w, err)) < 0 || (r = check_subid(sf->cfg.subgid_file, w, err)) < 0 ||
            (r = check_ids(sf->cfg.passwd_file, "user", w, err)) < 0 ||
            (r = check_ids(sf->cfg.group_file, "group", w, err)) < 0)
                return r;
        if ((r = check_claims(dfd, own, w, err)) < 0)
                return r;
        return check_oci(w, err);
}

static int write_claim(int fd, struct window w)
{
        char buf[64];
        int r = xsnprintf(buf, sizeof buf, "%" PRIu64 " %" PRIu64 "\n", w.start, w.end);
        if (r < 0)
                return r;
        if (ftruncate(fd, 0) < 0)
                return -errno;
        if (pwrite(fd, buf, strlen(buf), 0) != (ssize_t) strlen(buf))
                return -EIO;
        return 0;
}

int uidrange_setup(struct sfaasd *sf, struct sf_err *err)
{
        uint64_t base = 0, ranges = 0, next = 0, want = sf->cfg.uid_ranges;
        char own[64];
        _cleanup_close_ int dfd = -1;
        struct window w;
        int r;

        r = store_uid_alloc_get(sf->store, &base, &ranges, &next);
        if (r < 0)
                return sf_err_errno(err, r, "cannot read the uid ranges from the store");
        if (base && sf->cfg.uid_base && sf->cfg.uid_base != base)
                return sf_err_set(err, -EINVAL,
                                  "uid_base in the config (%" PRIu64 ") is not this data folder's (%" PRIu64
                                  "), whose tenants have their ranges there: remove uid_base or set it to %" PRIu64,
                                  sf->cfg.uid_base, base, base);
        if (sf->cfg.uid_base % RANGE)
                return sf_err_set(err, -EINVAL, "uid_base must be a multiple of %" PRIu64, RANGE);
        /* Never smaller than what was given out. */
        if (ranges > want)
                want = ranges;
        if (next > want)
                want = next;
        r = xsnprintf(own, sizeof own, CLAIM_PREFIX "%s" CLAIM_SUFFIX, sf->datadir->id);
        if (r < 0)
                return sf_err_set(err, r, "data folder id too long");
        if (mkdir(SANDBOX_LOCK_DIR, 0700) < 0 && errno != EEXIST)
                return sf_err_errno(err, -errno, "cannot create '%s'", SANDBOX_LOCK_DIR);
        dfd = open(SANDBOX_LOCK_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        if (dfd < 0)
                return sf_err_errno(err, -errno, "cannot open '%s'", SANDBOX_LOCK_DIR);
        /* Claim first (our file, locked), then check the others: two
         * daemons starting at once each see the other's claim at least
         * once it is written, and one of them refuses. */
        /* Not waiting for ever: only a check of another daemon's, or of
         * sfaasd-runc's, holds our claim, and for a moment. */
        for (int i = 0; (r = lockfile_acquire(dfd, own, false, &sf->uid_claim_fd)) == -EAGAIN && i < 100; i++)
                (void) usleep(10000);
        if (r < 0)
                return sf_err_errno(err, r, "cannot take the uid claim '%s/%s'", SANDBOX_LOCK_DIR, own);
        if (base || sf->cfg.uid_base) {
                w.start = base ? base : sf->cfg.uid_base;
                w.end = w.start + want * RANGE;
                if ((r = write_claim(sf->uid_claim_fd, w)) < 0 || (r = check_all(sf, dfd, own, w, err)) < 0)
                        goto fail;
        } else {
                /* The first free window from 2^30 on. */
                struct sf_err why = { 0 };
                r = -EADDRINUSE;
                for (w.start = STORE_UID_BASE; w.start + want * RANGE <= ID_END; w.start += want * RANGE) {
                        w.end = w.start + want * RANGE;
                        sf_err_clear(&why);
                        if ((r = write_claim(sf->uid_claim_fd, w)) < 0)
                                break;
                        r = check_all(sf, dfd, own, w, &why);
                        if (r != -EADDRINUSE)
                                break;
                }
                if (r < 0) {
                        sf_err_set(err, r, "no free window of %" PRIu64 " uid ranges from %u on (last: %s)", want,
                                   STORE_UID_BASE, why.msg);
                        goto fail;
                }
        }
        if (base != w.start || ranges != want) {
                r = store_uid_alloc_set(sf->store, w.start, want);
                if (r < 0) {
                        sf_err_errno(err, r, "cannot record the uid window");
                        goto fail;
                }
        }
        log_info("tenants' uid ranges: %" PRIu64 "-%" PRIu64 " (%" PRIu64 " of 65536 ids, %" PRIu64 " given out)",
                 w.start, w.end - 1, want, next);
        return 0;
fail:
        lockfile_remove(dfd, own, sf->uid_claim_fd);
        sf->uid_claim_fd = -1;
        return r;
}

void uidrange_release(struct sfaasd *sf)
{
        char own[64];
        _cleanup_close_ int dfd = -1;

        if (sf->uid_claim_fd < 0)
                return;
        dfd = open(SANDBOX_LOCK_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        if (dfd >= 0 && xsnprintf(own, sizeof own, CLAIM_PREFIX "%s" CLAIM_SUFFIX, sf->datadir->id) >= 0)
                lockfile_remove(dfd, own, sf->uid_claim_fd);
        else
                (void) close(sf->uid_claim_fd);
        sf->uid_claim_fd = -1;
}
