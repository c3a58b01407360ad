/* SPDX-License-Identifier: MIT */
/*
 * The data folder's lock and identity, and the cleanup of what a killed
 * daemon left in it (core/daemon/datadir.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/base/cleanup.h"
#include "core/base/util.h"
#include "core/daemon/datadir.h"

static void put(const char *dir, const char *name, const char *text)
{
        char p[PATH_MAX];
        _cleanup_close_ int fd = -1;
        (void) xsnprintf(p, sizeof p, "%s/%s", dir, name);
        fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        assert_true(fd >= 0);
        assert_int_equal(write_all(fd, text, strlen(text)), 0);
}

static bool exists(const char *dir, const char *name)
{
        char p[PATH_MAX];
        (void) xsnprintf(p, sizeof p, "%s/%s", dir, name);
        return access(p, F_OK) == 0;
}

/* The id is made once and kept; a second holder is refused (naming the
 * first one's pid); a copy of the folder (another inode) gets an id of
 * its own. */
static void test_lock_and_identity(void **state)
{
        char dir[] = "/tmp/sfaasd-test-datadir-XXXXXX", copy[PATH_MAX], id[DATADIR_ID_LEN + 1];
        struct datadir a = { .lock_fd = -1 }, b = { .lock_fd = -1 };
        struct sf_err err = { 0 };
        char *text = NULL;
        (void) state;

        assert_non_null(mkdtemp(dir));
        assert_int_equal(datadir_open(dir, &a, &err), 0);
        assert_true(a.new_id);
        assert_int_equal(strlen(a.id), DATADIR_ID_LEN);
        assert_int_equal(strspn(a.id, "0123456789abcdef"), DATADIR_ID_LEN);
        memcpy(id, a.id, sizeof id);

        /* another open file description: the lock is taken (after the
         * bounded wait for a dying holder) */
        assert_int_equal(datadir_open(dir, &b, &err), -EBUSY);
        assert_non_null(strstr(err.msg, "in use by another sfaasd"));
        {
                char pid[24];
                (void) xsnprintf(pid, sizeof pid, "(pid %d)", (int) getpid());
                assert_non_null(strstr(err.msg, pid));
        }
        datadir_close(&a);
        datadir_close(&a); /* closed already: nothing */

        assert_int_equal(datadir_open(dir, &a, &err), 0);
        assert_false(a.new_id);
        assert_string_equal(a.id, id);
        datadir_close(&a);

        /* a copy carries the file, but not the inode it names */
        (void) xsnprintf(copy, sizeof copy, "%s-copy", dir);
        assert_int_equal(mkdir(copy, 0700), 0);
        {
                char p[PATH_MAX];
                (void) xsnprintf(p, sizeof p, "%s/sfaasd.id", dir);
                assert_int_equal(read_file_at(AT_FDCWD, p, 256, &text, NULL), 0);
        }
        put(copy, "sfaasd.id", text);
        free(text);
        assert_int_equal(datadir_open(copy, &b, &err), 0);
        assert_true(b.new_id);
        assert_string_not_equal(b.id, id);
        datadir_close(&b);
        /* garbage is replaced too */
        put(copy, "sfaasd.id", "not an id\n");
        assert_int_equal(datadir_open(copy, &b, &err), 0);
        assert_true(b.new_id);
        datadir_close(&b);

        (void) rm_rf_at(AT_FDCWD, copy);
        (void) rm_rf_at(AT_FDCWD, dir);
}

/* What an interrupted run leaves, and what the cleanup must keep. */
static void test_clean(void **state)
{
        char dir[] = "/tmp/sfaasd-test-datadir-XXXXXX", p[PATH_MAX];
        struct datadir_residue res = { 7, 7, 7 };
        (void) state;

        assert_non_null(mkdtemp(dir));
        (void) xsnprintf(p, sizeof p, "%s/images/.tmp-0011/x", dir);
        assert_int_equal(mkdir_p(p, 0700), 0);
        (void) xsnprintf(p, sizeof p, "%s/images/.unpack-2233/rootfs/etc", dir);
        assert_int_equal(mkdir_p(p, 0700), 0);
        (void) xsnprintf(p, sizeof p, "%s/blobs/sha256", dir);
        assert_int_equal(mkdir_p(p, 0700), 0);
        put(p, ".tmp-0123456789abcdef", "half a blob");
        (void) xsnprintf(p, sizeof p, "%s/secrets", dir);
        assert_int_equal(mkdir(p, 0700), 0);
        put(p, "basic-auth-password", "keep");
        put(p, "basic-auth-password.tmp-0123456789ab", "half");
        put(p, "notes.tmp-xyz", "not ours: keep");
        put(dir, "sfaasd.id.tmp-abcdef012345", "half");
        put(dir, "sfaasd.db", "keep");
        (void) xsnprintf(p, sizeof p, "%s/tmp/left/over", dir);
        assert_int_equal(mkdir_p(p, 0700), 0);

        datadir_clean(dir, &res);
        assert_int_equal(res.imports, 2);
        assert_int_equal(res.blobs, 1);
        assert_int_equal(res.tmp_files, 3);
        assert_false(exists(dir, "images/.tmp-0011"));
        assert_false(exists(dir, "images/.unpack-2233"));
        assert_false(exists(dir, "blobs/sha256/.tmp-0123456789abcdef"));
        assert_false(exists(dir, "secrets/basic-auth-password.tmp-0123456789ab"));
        assert_false(exists(dir, "sfaasd.id.tmp-abcdef012345"));
        assert_false(exists(dir, "tmp/left"));
        assert_true(exists(dir, "tmp"));
        assert_true(exists(dir, "images"));
        assert_true(exists(dir, "secrets/basic-auth-password"));
        assert_true(exists(dir, "secrets/notes.tmp-xyz"));
        assert_true(exists(dir, "sfaasd.db"));

        /* nothing left: all zero */
        datadir_clean(dir, &res);
        assert_int_equal(res.imports + res.blobs + res.tmp_files, 0);
        (void) rm_rf_at(AT_FDCWD, dir);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_lock_and_identity),
                cmocka_unit_test(test_clean),
        };
        return cmocka_run_group_tests_name("datadir", tests, NULL, NULL);
}
