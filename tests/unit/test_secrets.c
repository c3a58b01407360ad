/* SPDX-License-Identifier: MIT */
/* Unit tests for store/secrets.c: sealing, the table, the key file. */
#include <errno.h>
#include <fcntl.h>
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
#include "store/db.h"
#include "store/secrets.h"

#include <sqlite3.h>

struct fixture {
        char dir[64];
        char path[128];
        struct store *s;
        struct secret_key key;
};

static int setup(void **state)
{
        struct fixture *f = calloc(1, sizeof *f);
        struct sf_err err = { 0 };
        (void) xsnprintf(f->dir, sizeof f->dir, "/tmp/sfaasd-secrets-XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        (void) xsnprintf(f->path, sizeof f->path, "%s/test.db", f->dir);
        assert_int_equal(store_open(f->path, &f->s, &err), 0);
        assert_int_equal(secret_key_load(f->dir, &f->key, &err), 0);
        *state = f;
        return 0;
}

static int teardown(void **state)
{
        struct fixture *f = *state;
        store_close(f->s);
        (void) rm_rf_at(AT_FDCWD, f->dir);
        free(f);
        return 0;
}

static void check_value(struct fixture *f, const char *ns, const char *name, const void *want, size_t wlen)
{
        unsigned char *v = NULL;
        size_t len = 0;
        assert_int_equal(store_secret_get(f->s, &f->key, ns, name, &v, &len), 0);
        assert_int_equal(len, wlen);
        assert_memory_equal(v, want, wlen);
        assert_int_equal(v[len], '\0');
        secret_value_free(v, len);
}

static void test_round_trip(void **state)
{
        struct fixture *f = *state;
        static const unsigned char bin[] = { 0, 1, 2, 0xff, 0, 'x' };
        _cleanup_strv_free_ char **names = NULL;

        assert_int_equal(store_secret_create(f->s, &f->key, "openfaas-fn", "api-key", "s3cr3t", 6), 0);
        assert_int_equal(store_secret_create(f->s, &f->key, "openfaas-fn", "api-key", "x", 1), -EEXIST);
        assert_int_equal(store_secret_create(f->s, &f->key, "openfaas-fn", "bin.v1", bin, sizeof bin), 0);
        assert_int_equal(store_secret_create(f->s, &f->key, "openfaas-fn", "empty", "", 0), 0);
        check_value(f, "openfaas-fn", "api-key", "s3cr3t", 6);
        check_value(f, "openfaas-fn", "bin.v1", bin, sizeof bin);
        check_value(f, "openfaas-fn", "empty", "", 0);

        assert_int_equal(store_secret_update(f->s, &f->key, "openfaas-fn", "api-key", "new value", 9), 0);
        check_value(f, "openfaas-fn", "api-key", "new value", 9);
        assert_int_equal(store_secret_update(f->s, &f->key, "openfaas-fn", "nope", "x", 1), -ENOENT);

        assert_int_equal(store_secret_list(f->s, "openfaas-fn", &names), 0);
        assert_string_equal(names[0], "api-key");
        assert_string_equal(names[1], "bin.v1");
        assert_string_equal(names[2], "empty");
        assert_null(names[3]);

        assert_int_equal(store_secret_exists(f->s, "openfaas-fn", "empty"), 0);
        assert_int_equal(store_secret_delete(f->s, "openfaas-fn", "empty"), 0);
        assert_int_equal(store_secret_delete(f->s, "openfaas-fn", "empty"), -ENOENT);
        assert_int_equal(store_secret_exists(f->s, "openfaas-fn", "empty"), -ENOENT);
        {
                unsigned char *v = NULL;
                size_t len = 0;
                assert_int_equal(store_secret_get(f->s, &f->key, "openfaas-fn", "empty", &v, &len), -ENOENT);
                assert_null(v);
        }
}

static void test_limits_and_names(void **state)
{
        struct fixture *f = *state;
        _cleanup_free_ char *big = calloc(1, SECRET_VALUE_MAX + 1);

        assert_non_null(big);
        assert_int_equal(store_secret_create(f->s, &f->key, "openfaas-fn", "big", big, SECRET_VALUE_MAX + 1), -EFBIG);
        assert_int_equal(store_secret_create(f->s, &f->key, "openfaas-fn", "big", big, SECRET_VALUE_MAX), 0);
        /* a namespace that does not exist */
        assert_int_equal(store_secret_create(f->s, &f->key, "no-such-ns", "a", "x", 1), -ENOENT);
        assert_int_equal(store_secret_create(f->s, &f->key, "openfaas-fn", "../x", "x", 1), -EINVAL);

        assert_true(secret_name_valid("api-key"));
        assert_true(secret_name_valid("A_b.c-1"));
        assert_true(secret_name_valid("a"));
        assert_false(secret_name_valid(""));
        assert_false(secret_name_valid("."));
        assert_false(secret_name_valid(".."));
        assert_false(secret_name_valid(".hidden"));
        assert_false(secret_name_valid("-x"));
        assert_false(secret_name_valid("a/b"));
        assert_false(secret_name_valid("a b"));
        assert_true(secret_name_valid("x23456789012345678901234567890123456789012345678901234567890123"));
        assert_false(secret_name_valid("x234567890123456789012345678901234567890123456789012345678901234"));
}

/* Rows read straight from SQLite: the ciphertext is not the value and does
 * not contain it. */
static void test_no_cleartext_in_db(void **state)
{
        struct fixture *f = *state;
        static const char value[] = "cleartext-marker-0123456789";
        sqlite3 *db = NULL;
        sqlite3_stmt *st = NULL;
        _cleanup_free_ char *file = NULL;
        size_t flen = 0;

        assert_int_equal(store_secret_create(f->s, &f->key, "openfaas-fn", "m", value, strlen(value)), 0);
        assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
        assert_int_equal(sqlite3_prepare_v2(db, "SELECT nonce, ciphertext FROM secrets WHERE name = 'm'", -1, &st,
                                            NULL), SQLITE_OK);
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        assert_int_equal(sqlite3_column_bytes(st, 0), 12);
        assert_int_equal(sqlite3_column_bytes(st, 1), (int) strlen(value) + 16);
        assert_null(memmem(sqlite3_column_blob(st, 1), (size_t) sqlite3_column_bytes(st, 1), value, 8));
        sqlite3_finalize(st);
        sqlite3_close(db);
        /* nor the database file (WAL checkpointed on close of the 2nd handle or not: check both) */
        assert_int_equal(read_file_at(AT_FDCWD, f->path, 64 << 20, &file, &flen), 0);
        assert_null(memmem(file, flen, value, strlen(value)));
}

static void test_wrong_key_fails(void **state)
{
        struct fixture *f = *state;
        struct secret_key other;
        unsigned char *v = NULL;
        size_t len = 0;

        assert_int_equal(store_secret_create(f->s, &f->key, "openfaas-fn", "k", "value", 5), 0);
        other = f->key;
        other.bytes[0] ^= 1;
        assert_int_equal(store_secret_get(f->s, &other, "openfaas-fn", "k", &v, &len), -EBADMSG);
        assert_null(v);
}

/* Tampered ciphertext, tag or nonce, and a row moved to another name or
 * namespace (the AAD binds both), never open. */
static void test_tamper_and_aad(void **state)
{
        struct fixture *f = *state;
        unsigned char nonce[12] = { 1, 2, 3 };
        unsigned char ct[5 + 16], bad[5 + 16], out[5];

        assert_int_equal(secret_seal(&f->key, "ns1", "name", nonce, "hello", 5, ct), 0);
        assert_int_equal(secret_open(&f->key, "ns1", "name", nonce, ct, sizeof ct, out), 0);
        assert_memory_equal(out, "hello", 5);
        for (size_t i = 0; i < sizeof ct; i++) {
                memcpy(bad, ct, sizeof ct);
                bad[i] ^= 0x80;
                assert_int_equal(secret_open(&f->key, "ns1", "name", nonce, bad, sizeof bad, out), -EBADMSG);
        }
        nonce[0] ^= 1;
        assert_int_equal(secret_open(&f->key, "ns1", "name", nonce, ct, sizeof ct, out), -EBADMSG);
        nonce[0] ^= 1;
        assert_int_equal(secret_open(&f->key, "ns2", "name", nonce, ct, sizeof ct, out), -EBADMSG);
        assert_int_equal(secret_open(&f->key, "ns1", "name2", nonce, ct, sizeof ct, out), -EBADMSG);
        /* the separator: ("ns1", "name") is not ("ns1n", "ame") */
        assert_int_equal(secret_open(&f->key, "ns1n", "ame", nonce, ct, sizeof ct, out), -EBADMSG);
        assert_int_equal(secret_open(&f->key, "ns1", "name", nonce, ct, 15, out), -EBADMSG);

        /* the same swap through the table: copy a's row onto b */
        {
                sqlite3 *db = NULL;
                unsigned char *v = NULL;
                size_t len = 0;
                assert_int_equal(store_secret_create(f->s, &f->key, "openfaas-fn", "a", "AAAA", 4), 0);
                assert_int_equal(store_secret_create(f->s, &f->key, "openfaas-fn", "b", "BBBB", 4), 0);
                assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
                assert_int_equal(sqlite3_exec(db,
                                              "UPDATE secrets SET (nonce, ciphertext) = (SELECT nonce, ciphertext "
                                              "FROM secrets WHERE name = 'a') WHERE name = 'b'",
                                              NULL, NULL, NULL),
                                 SQLITE_OK);
                sqlite3_close(db);
                assert_int_equal(store_secret_get(f->s, &f->key, "openfaas-fn", "b", &v, &len), -EBADMSG);
                check_value(f, "openfaas-fn", "a", "AAAA", 4);
        }
}

static void test_namespaces_isolated(void **state)
{
        struct fixture *f = *state;
        _cleanup_strv_free_ char **a = NULL;
        _cleanup_strv_free_ char **b = NULL;

        assert_int_equal(store_namespace_create(f->s, "tenant-b", NULL, NULL), 0);
        assert_int_equal(store_secret_create(f->s, &f->key, "openfaas-fn", "db", "value-a", 7), 0);
        assert_int_equal(store_secret_create(f->s, &f->key, "tenant-b", "db", "value-b", 7), 0);
        assert_int_equal(store_secret_create(f->s, &f->key, "tenant-b", "only-b", "x", 1), 0);
        check_value(f, "openfaas-fn", "db", "value-a", 7);
        check_value(f, "tenant-b", "db", "value-b", 7);
        assert_int_equal(store_secret_exists(f->s, "openfaas-fn", "only-b"), -ENOENT);
        assert_int_equal(store_secret_list(f->s, "openfaas-fn", &a), 0);
        assert_int_equal(store_secret_list(f->s, "tenant-b", &b), 0);
        assert_string_equal(a[0], "db");
        assert_null(a[1]);
        assert_string_equal(b[0], "db");
        assert_string_equal(b[1], "only-b");
        assert_null(b[2]);
        assert_int_equal(store_secret_delete(f->s, "openfaas-fn", "only-b"), -ENOENT);
        assert_int_equal(store_secret_delete(f->s, "tenant-b", "db"), 0);
        check_value(f, "openfaas-fn", "db", "value-a", 7);
        /* deleting the tenant deletes its secrets */
        assert_int_equal(store_namespace_delete(f->s, "tenant-b"), 0);
        assert_int_equal(store_namespace_create(f->s, "tenant-b", NULL, NULL), 0);
        assert_int_equal(store_secret_exists(f->s, "tenant-b", "only-b"), -ENOENT);
}

static void test_key_file(void **state)
{
        struct fixture *f = *state;
        struct secret_key again, k2;
        struct sf_err err = { 0 };
        char path[160];
        struct stat st;
        int fd;

        (void) xsnprintf(path, sizeof path, "%s/secrets/store.key", f->dir);
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0600);
        assert_int_equal(st.st_size, 32);
        /* read back, the same key */
        assert_int_equal(secret_key_load(f->dir, &again, &err), 0);
        assert_memory_equal(again.bytes, f->key.bytes, 32);
        /* a readable-by-others key is refused */
        assert_int_equal(chmod(path, 0644), 0);
        assert_int_equal(secret_key_load(f->dir, &k2, &err), -EPERM);
        assert_non_null(strstr(err.msg, "chmod 600"));
        assert_int_equal(chmod(path, 0600), 0);
        /* so is a short one */
        fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, "short", 5), 5);
        (void) close(fd);
        assert_int_equal(secret_key_load(f->dir, &k2, &err), -EINVAL);
        /* a missing one is made anew, different */
        assert_int_equal(unlink(path), 0);
        assert_int_equal(secret_key_load(f->dir, &k2, &err), 0);
        assert_memory_not_equal(k2.bytes, f->key.bytes, 32);
        secret_key_wipe(&k2);
}

/* The key check and the re-seal of keys.h: all rows move to the new key in
 * one transaction; a wrong old key changes nothing. */
static void test_key_check_and_reseal(void **state)
{
        struct fixture *f = *state;
        struct secret_key k2, k3;
        struct sf_err err = { 0 };
        char path[160], id1[9], id2[9];
        size_t n = 99;

        assert_int_equal(secret_key_new(&k2), 0);
        assert_int_equal(secret_key_new(&k3), 0);
        /* no secrets: any key opens them */
        assert_int_equal(store_secrets_key_check(f->s, &k2, &n), 0);
        assert_int_equal(n, 0);
        assert_int_equal(store_secret_create(f->s, &f->key, "openfaas-fn", "a", "one", 3), 0);
        assert_int_equal(store_secret_create(f->s, &f->key, "openfaas-fn", "b", "two", 3), 0);
        assert_int_equal(store_secrets_key_check(f->s, &f->key, &n), 0);
        assert_int_equal(n, 2);
        assert_int_equal(store_secrets_key_check(f->s, &k2, &n), -EBADMSG);
        /* the wrong old key: nothing moves */
        assert_int_equal(store_secrets_reseal(f->s, &k3, &k2, &n), -EBADMSG);
        assert_int_equal(store_secrets_key_check(f->s, &f->key, NULL), 0);
        assert_int_equal(store_secrets_reseal(f->s, &f->key, &k2, &n), 0);
        assert_int_equal(n, 2);
        assert_int_equal(store_secrets_key_check(f->s, &f->key, NULL), -EBADMSG);
        f->key = k2;
        check_value(f, "openfaas-fn", "a", "one", 3);
        check_value(f, "openfaas-fn", "b", "two", 3);
        /* key files: written 0600, read back, ids differ per key */
        (void) xsnprintf(path, sizeof path, "%s/sub/k", f->dir);
        assert_int_equal(secret_key_write(path, &k3, false, &err), 0);
        assert_int_equal(secret_key_write(path, &k3, false, &err), -EEXIST);
        assert_int_equal(secret_key_read(path, &k2, &err), 0);
        assert_memory_equal(k2.bytes, k3.bytes, SECRET_KEY_BYTES);
        secret_key_id(&k2, id1);
        secret_key_id(&f->key, id2);
        assert_int_equal(strlen(id1), 8);
        assert_string_not_equal(id1, id2);
        assert_int_equal(chmod(path, 0640), 0);
        assert_int_equal(secret_key_read(path, &k2, &err), -EPERM);
        (void) xsnprintf(path, sizeof path, "%s/absent", f->dir);
        assert_int_equal(secret_key_read(path, &k2, &err), -ENOENT);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
                cmocka_unit_test_setup_teardown(test_limits_and_names, setup, teardown),
                cmocka_unit_test_setup_teardown(test_no_cleartext_in_db, setup, teardown),
                cmocka_unit_test_setup_teardown(test_wrong_key_fails, setup, teardown),
                cmocka_unit_test_setup_teardown(test_tamper_and_aad, setup, teardown),
                cmocka_unit_test_setup_teardown(test_namespaces_isolated, setup, teardown),
                cmocka_unit_test_setup_teardown(test_key_file, setup, teardown),
                cmocka_unit_test_setup_teardown(test_key_check_and_reseal, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
