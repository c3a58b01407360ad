/* SPDX-License-Identifier: MIT */
/* Unit tests for store/db.c against a real SQLite file in a temp folder. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/base/cleanup.h"
#include "core/base/util.h"
#include "store/db.h"
#define TEST_STORE_FIXTURE
#include "tests/unit/helpers.h"

#include <sqlite3.h>

static void put_image(struct store *s, const char *id, const char *tag)
{
        char *tags[] = { (char *) tag, NULL };
        assert_int_equal(store_image_put_ns(s, STORE_DEFAULT_NAMESPACE, id, "{\"Cmd\":[\"sh\"]}", "/x/rootfs", 1234,
                                            tag ? tags : NULL),
                         0);
}

/* The number of functions, in every namespace, that use image id. */
static size_t image_user_count(struct store *s, const char *id)
{
        _cleanup_strv_free_ char **v = NULL;
        size_t n = 0;

        assert_int_equal(store_image_users(s, NULL, id, &v), 0);
        while (v[n])
                n++;
        return n;
}

#define ID1 "sha256:1111111111111111111111111111111111111111111111111111111111111111"
#define ID2 "sha256:2222222222222222222222222222222222222222222222222222222222222222"

static void test_default_namespace(void **state)
{
        struct fixture *f = *state;
        struct store_namespace *n = NULL;
        _cleanup_strv_free_ char **names = NULL;

        assert_int_equal(store_namespace_get(f->s, STORE_DEFAULT_NAMESPACE, &n), 0);
        assert_int_equal(n->uid_base, STORE_UID_BASE);
        store_namespace_free(n);
        assert_int_equal(store_namespace_list(f->s, &names), 0);
        assert_string_equal(names[0], STORE_DEFAULT_NAMESPACE);
        assert_null(names[1]);
}

static void test_namespace_uid_ranges(void **state)
{
        struct fixture *f = *state;
        struct store_namespace *a = NULL, *b = NULL, *c = NULL;

        assert_int_equal(store_namespace_create(f->s, "tenant-a", NULL, NULL), 0);
        assert_int_equal(store_namespace_create(f->s, "tenant-b", NULL, NULL), 0);
        assert_int_equal(store_namespace_create(f->s, "tenant-a", NULL, NULL), -EEXIST);
        assert_int_equal(store_namespace_get(f->s, "tenant-a", &a), 0);
        assert_int_equal(store_namespace_get(f->s, "tenant-b", &b), 0);
        /* Each tenant its own 65536-wide range, never overlapping, never root. */
        assert_int_equal(a->uid_base, STORE_UID_BASE + 65536u);
        assert_int_equal(b->uid_base, STORE_UID_BASE + 2 * 65536u);
        /* A freed slot is never given out again (the counter only goes up),
         * not even to a tenant made again under the same name. */
        assert_int_equal(store_namespace_delete(f->s, "tenant-a"), 0);
        assert_int_equal(store_namespace_delete(f->s, "tenant-a"), -ENOENT);
        assert_int_equal(store_namespace_create(f->s, "tenant-c", NULL, NULL), 0);
        assert_int_equal(store_namespace_get(f->s, "tenant-c", &c), 0);
        assert_int_equal(c->uid_base, STORE_UID_BASE + 3 * 65536u);
        {
                struct store_namespace *again = NULL;
                uint64_t base, ranges, next;
                assert_int_equal(store_namespace_create(f->s, "tenant-a", NULL, NULL), 0);
                assert_int_equal(store_namespace_get(f->s, "tenant-a", &again), 0);
                assert_int_equal(again->uid_base, STORE_UID_BASE + 4 * 65536u);
                store_namespace_free(again);
                /* A window of 6 ranges: one left, then none. */
                assert_int_equal(store_uid_alloc_get(f->s, &base, &ranges, &next), 0);
                assert_int_equal(next, 5);
                assert_int_equal(store_uid_alloc_set(f->s, STORE_UID_BASE, 6), 0);
                assert_int_equal(store_namespace_create(f->s, "tenant-d", NULL, NULL), 0);
                assert_int_equal(store_namespace_create(f->s, "tenant-e", NULL, NULL), -ENOSPC);
                assert_int_equal(store_namespace_get(f->s, "tenant-e", &again), -ENOENT);
        }
        {
                struct store_namespace *none = NULL;
                assert_int_equal(store_namespace_get(f->s, "nope", &none), -ENOENT);
                assert_null(none);
        }
        store_namespace_free(a);
        store_namespace_free(b);
        store_namespace_free(c);
}

static void test_namespace_delete_drops_its_image_names(void **state)
{
        struct fixture *f = *state;
        struct store_image *img = NULL;
        char *tags[] = { "private:v1", NULL };

        assert_int_equal(store_namespace_create(f->s, "tenant-x", NULL, NULL), 0);
        assert_int_equal(store_image_put_ns(f->s, "tenant-x", ID1, "{}", "/x/rootfs", 1, tags), 0);
        assert_int_equal(store_image_resolve_ns(f->s, "tenant-x", "private:v1", &img), 0);
        store_image_free(img);
        img = NULL;
        assert_int_equal(store_namespace_delete(f->s, "tenant-x"), 0);
        /* A tenant made again under the same name starts without the old names. */
        assert_int_equal(store_namespace_create(f->s, "tenant-x", NULL, NULL), 0);
        assert_int_equal(store_image_resolve_ns(f->s, "tenant-x", "private:v1", &img), -ENOENT);
        assert_null(img);
        /* The content itself is still there, by id, for the admin; the new
         * tenant-x does not own it. */
        assert_int_equal(store_image_resolve_ns(f->s, "tenant-x", ID1, &img), -ENOENT);
        assert_int_equal(store_image_resolve_all(f->s, "tenant-x", ID1, &img), 0);
        store_image_free(img);
}

static void test_ref_normalize(void **state)
{
        static const struct { const char *in, *out; } cases[] = {
                { "busybox", "busybox:latest" },
                { "busybox:1.36", "busybox:1.36" },
                { "docker.io/library/busybox:1.36", "busybox:1.36" },
                { "docker.io/openfaas/figlet", "openfaas/figlet:latest" },
                { "ghcr.io/openfaas/figlet:latest", "ghcr.io/openfaas/figlet:latest" },
                { "localhost:5000/app", "localhost:5000/app:latest" },
                { "localhost:5000/app:v2", "localhost:5000/app:v2" },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *n = image_ref_normalize(cases[i].in);
                assert_non_null(n);
                assert_string_equal(n, cases[i].out);
        }
        assert_null(image_ref_normalize(""));
        assert_null(image_ref_normalize("bad ref"));
        assert_null(image_ref_normalize("x:"));
        assert_null(image_ref_normalize("a\nb"));
}

static void test_images(void **state)
{
        struct fixture *f = *state;
        struct store_image *img = NULL;
        struct store_image **all = NULL;

        put_image(f->s, ID1, "docker.io/library/busybox:latest");
        put_image(f->s, ID1, "mybox"); /* same image, second tag: idempotent */
        put_image(f->s, ID2, NULL);

        assert_int_equal(store_image_resolve(f->s, "busybox", &img), 0);
        assert_string_equal(img->id, ID1);
        assert_string_equal(img->tags[0], "busybox:latest");
        assert_string_equal(img->tags[1], "mybox:latest");
        store_image_free(img);
        assert_int_equal(store_image_resolve(f->s, "sha256:222222222222", &img), 0);
        assert_string_equal(img->id, ID2);
        store_image_free(img);
        assert_int_equal(store_image_resolve(f->s, "sha256:2222", &img), -ENOENT); /* too short a prefix */
        assert_int_equal(store_image_resolve(f->s, "other:latest", &img), -ENOENT);
        /* Retagging moves the tag. */
        put_image(f->s, ID2, "mybox");
        assert_int_equal(store_image_resolve(f->s, "mybox:latest", &img), 0);
        assert_string_equal(img->id, ID2);
        store_image_free(img);
        assert_int_equal(store_image_list(f->s, &all), 0);
        assert_non_null(all[0]);
        assert_non_null(all[1]);
        assert_null(all[2]);
        store_image_list_free(all);
}

static void test_functions(void **state)
{
        struct fixture *f = *state;
        struct store_function fn = {
                .namespace = STORE_DEFAULT_NAMESPACE, .name = "echo", .image = "busybox",
                .image_id = ID1, .spec_json = "{\"service\":\"echo\"}",
        };
        struct store_function *got = NULL, **list = NULL;

        put_image(f->s, ID1, "busybox");
        assert_int_equal(store_function_update(f->s, &fn), -ENOENT);
        assert_int_equal(store_function_create(f->s, &fn), 0);
        assert_int_equal(store_function_create(f->s, &fn), -EEXIST);
        fn.spec_json = "{\"service\":\"echo\",\"envProcess\":\"cat\"}";
        assert_int_equal(store_function_update(f->s, &fn), 0);
        assert_int_equal(store_function_get(f->s, STORE_DEFAULT_NAMESPACE, "echo", &got), 0);
        assert_string_equal(got->spec_json, fn.spec_json);
        assert_true(got->created_at > 0);
        assert_true(got->updated_at >= got->created_at);
        store_function_free(got);
        assert_int_equal(image_user_count(f->s, ID1), 1);

        /* A namespace with functions cannot be deleted; unknown namespace is refused. */
        fn.namespace = "nope";
        assert_true(store_function_create(f->s, &fn) < 0);
        assert_int_equal(store_namespace_delete(f->s, STORE_DEFAULT_NAMESPACE), -ENOTEMPTY);

        assert_int_equal(store_function_list(f->s, STORE_DEFAULT_NAMESPACE, &list), 0);
        assert_string_equal(list[0]->name, "echo");
        assert_null(list[1]);
        store_function_list_free(list);
        assert_int_equal(store_function_delete(f->s, STORE_DEFAULT_NAMESPACE, "echo"), 0);
        assert_int_equal(store_function_delete(f->s, STORE_DEFAULT_NAMESPACE, "echo"), -ENOENT);
        assert_int_equal(store_function_get(f->s, STORE_DEFAULT_NAMESPACE, "echo", &got), -ENOENT);
}

static void test_persistence_and_wal(void **state)
{
        struct fixture *f = *state;
        struct store_function fn = {
                .namespace = STORE_DEFAULT_NAMESPACE, .name = "keep", .image = "busybox",
                .image_id = ID1, .spec_json = "{}",
        };
        struct store_function *got = NULL;
        struct sf_err err = { 0 };
        char wal[160];

        put_image(f->s, ID1, "busybox");
        assert_int_equal(store_function_create(f->s, &fn), 0);
        /* WAL mode: the -wal file exists while the database is open. */
        (void) xsnprintf(wal, sizeof wal, "%s-wal", f->path);
        assert_int_equal(access(wal, F_OK), 0);
        store_close(f->s);
        assert_int_equal(store_open(f->path, &f->s, &err), 0);
        assert_int_equal(store_function_get(f->s, STORE_DEFAULT_NAMESPACE, "keep", &got), 0);
        store_function_free(got);
}

static void test_newer_schema_refused(void **state)
{
        struct fixture *f = *state;
        struct sf_err err = { 0 };
        sqlite3 *db = NULL;

        /* A database written by a newer sfaasd must not be touched. */
        store_close(f->s);
        f->s = NULL;
        assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
        assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 999", NULL, NULL, NULL), SQLITE_OK);
        sqlite3_close(db);
        assert_int_equal(store_open(f->path, &f->s, &err), -EPROTO);
        assert_non_null(strstr(err.msg, "newer"));
        assert_null(f->s);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_default_namespace, test_store_setup, test_store_teardown),
                cmocka_unit_test_setup_teardown(test_namespace_uid_ranges, test_store_setup, test_store_teardown),
                cmocka_unit_test_setup_teardown(test_namespace_delete_drops_its_image_names, test_store_setup, test_store_teardown),
                cmocka_unit_test(test_ref_normalize),
                cmocka_unit_test_setup_teardown(test_images, test_store_setup, test_store_teardown),
                cmocka_unit_test_setup_teardown(test_functions, test_store_setup, test_store_teardown),
                cmocka_unit_test_setup_teardown(test_persistence_and_wal, test_store_setup, test_store_teardown),
                cmocka_unit_test_setup_teardown(test_newer_schema_refused, test_store_setup, test_store_teardown),
        };
        return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}
