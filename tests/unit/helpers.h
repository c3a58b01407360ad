/* SPDX-License-Identifier: MIT */
/*
 * Fixtures shared by unit tests (each test binary is one .c file; what they
 * share lives here as static functions):
 *   test_make_rootfs()    a busybox rootfs in a fresh /tmp folder, with the
 *                         standard directories, extra ones and applet links;
 *   store fixture         a fresh SQLite store in a /tmp folder per test
 *                         (cmocka setup/teardown: test_store_setup/teardown).
 */
#pragma once

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/base/cleanup.h"
#include "core/base/util.h"

static inline int test_copy_file(const char *src, const char *dst, mode_t mode)
{
        _cleanup_close_ int in = open(src, O_RDONLY | O_CLOEXEC);
        _cleanup_close_ int out = -1;
        char buf[65536];
        ssize_t n;

        if (in < 0)
                return -errno;
        out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
        if (out < 0)
                return -errno;
        while ((n = read(in, buf, sizeof buf)) > 0)
                if (write_all(out, buf, (size_t) n) < 0)
                        return -EIO;
        return n < 0 ? -errno : 0;
}

/* root receives the path; extra_dirs and applets are NULL-terminated. */
static inline int test_make_rootfs(char *root, size_t size, const char *tag, const char *const *extra_dirs,
                                   const char *const *applets)
{
        static const char *const dirs[] = { "bin", "proc", "dev", "tmp", "etc", NULL };
        char p[PATH_MAX], tmpl[128];

        (void) xsnprintf(tmpl, sizeof tmpl, "/tmp/sfaasd-test-%s-XXXXXX", tag);
        if (!mkdtemp(tmpl))
                return -errno;
        (void) chmod(tmpl, 0755);
        (void) xsnprintf(root, size, "%s", tmpl);
        for (int pass = 0; pass < 2; pass++)
                for (const char *const *d = pass ? extra_dirs : dirs; d && *d; d++) {
                        (void) xsnprintf(p, sizeof p, "%s/%s", root, *d);
                        if (mkdir(p, 0755) < 0)
                                return -errno;
                }
        (void) xsnprintf(p, sizeof p, "%s/bin/busybox", root);
        if (test_copy_file("/bin/busybox", p, 0755) < 0)
                return -ENOENT;
        for (const char *const *a = applets; a && *a; a++) {
                (void) xsnprintf(p, sizeof p, "%s/bin/%s", root, *a);
                if (symlink("busybox", p) < 0)
                        return -errno;
        }
        return 0;
}

#ifdef TEST_STORE_FIXTURE
#include "store/db.h"

struct fixture {
        char dir[64];
        char path[128];
        struct store *s;
};

static int test_store_setup(void **state)
{
        struct fixture *f = calloc(1, sizeof *f);
        struct sf_err err = { 0 };
        (void) xsnprintf(f->dir, sizeof f->dir, "/tmp/sfaasd-store-XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        (void) xsnprintf(f->path, sizeof f->path, "%s/test.db", f->dir);
        assert_int_equal(store_open(f->path, &f->s, &err), 0);
        *state = f;
        return 0;
}

static int test_store_teardown(void **state)
{
        struct fixture *f = *state;
        store_close(f->s);
        (void) rm_rf_at(AT_FDCWD, f->dir);
        free(f);
        return 0;
}
#endif
