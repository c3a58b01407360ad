/* SPDX-License-Identifier: MIT */
/* Unit tests for store/async.c (the durable async queue) against a real
 * SQLite file in a temp folder: the life of a call, recovery after a crash,
 * and the purge of finished calls by age (store_async_purge). */
#include <errno.h>
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
#include "store/async.h"
#include "store/db.h"
#define TEST_STORE_FIXTURE
#include "tests/unit/helpers.h"

#include <sqlite3.h>

static void insert(struct store *s, const char *id, const char *fn, const char *callback)
{
        struct store_async_call c = {
                .id = (char *) id, .namespace = "openfaas-fn", .function = (char *) fn,
                .function_name = (char *) fn, .method = "POST", .path = "/", .query = "",
                .headers_json = "[]", .body = "in", .body_len = 2, .callback_url = (char *) callback,
        };
        assert_int_equal(store_async_insert(s, &c), 0);
}

/* Take the function's queued calls and finish each with state. */
static void run_all(struct store *s, const char *fn, const char *state)
{
        struct store_async_call **v = NULL;
        assert_int_equal(store_async_take(s, "openfaas-fn", fn, 100, &v), 0);
        for (struct store_async_call **p = v; *p; p++)
                assert_int_equal(store_async_finish(s, (*p)->id, state, strcmp(state, "done") == 0 ? 200 : 500,
                                                    0.01, "{}", "out", 3),
                                 0);
        store_async_call_list_free(v);
}

static int64_t finished_at(struct store *s, const char *id)
{
        struct store_async_call *c = NULL;
        int64_t t;
        assert_int_equal(store_async_get(s, id, &c), 0);
        t = c->finished_at;
        store_async_call_free(c);
        return t;
}

static bool exists(struct store *s, const char *id)
{
        struct store_async_call *c = NULL;
        int r = store_async_get(s, id, &c);
        assert_true(r == 0 || r == -ENOENT);
        store_async_call_free(c);
        return r == 0;
}

static void test_lifecycle_and_recover(void **state)
{
        struct fixture *f = *state;
        struct store_async_call **v = NULL, *c = NULL;
        int calls = -1, cbs = -1;
        uint64_t n = 0;

        insert(f->s, "a1", "fa", NULL);
        insert(f->s, "a2", "fa", "http://127.0.0.1:1/cb");
        assert_int_equal(store_async_count(f->s, "queued", &n), 0);
        assert_int_equal(n, 2);
        assert_int_equal(store_async_take(f->s, "openfaas-fn", "fa", 1, &v), 0);
        assert_non_null(v[0]);
        assert_string_equal(v[0]->id, "a1"); /* FIFO */
        assert_null(v[1]);
        store_async_call_list_free(v);
        /* a crash with a1 running puts it back in line */
        assert_int_equal(store_async_recover(f->s, &calls, &cbs), 0);
        assert_int_equal(calls, 1);
        assert_int_equal(cbs, 0);
        run_all(f->s, "fa", "done");
        assert_int_equal(store_async_get(f->s, "a1", &c), 0);
        assert_string_equal(c->state, "done");
        assert_int_equal(c->attempts, 2);
        assert_null(c->callback_state);
        assert_int_equal(c->body_len, 0); /* the request body is dropped once finished */
        store_async_call_free(c);
        assert_int_equal(store_async_get(f->s, "a2", &c), 0);
        assert_string_equal(c->callback_state, "pending");
        store_async_call_free(c);
}

/* Only finished calls whose callback is over go, oldest first, before the
 * cutoff only, at most max per call. */
static void test_purge(void **state)
{
        struct fixture *f = *state;
        size_t n = 99;
        int64_t far = INT64_MAX;

        insert(f->s, "old-done", "fp", NULL);
        run_all(f->s, "fp", "done");
        insert(f->s, "old-failed", "fp", NULL);
        run_all(f->s, "fp", "failed");
        insert(f->s, "cb-pending", "fp", "http://127.0.0.1:1/cb");
        insert(f->s, "cb-sending", "fp", "http://127.0.0.1:1/cb");
        insert(f->s, "cb-delivered", "fp", "http://127.0.0.1:1/cb");
        insert(f->s, "cb-failed", "fp", "http://127.0.0.1:1/cb");
        run_all(f->s, "fp", "done");
        {
                struct store_async_call **due = NULL;
                /* all four pending; take them (-> sending), then settle three */
                assert_int_equal(store_async_callbacks_due(f->s, far, 10, NULL, NULL, &due), 0);
                store_async_call_list_free(due);
                assert_int_equal(store_async_callback_update(f->s, "cb-pending", "pending", 1, 503, NULL, far, 10), 0);
                assert_int_equal(store_async_callback_update(f->s, "cb-delivered", "delivered", 1, 200, NULL, 0, 10),
                                 0);
                assert_int_equal(store_async_callback_update(f->s, "cb-failed", "failed", 6, 500, NULL, 0, 10), 0);
        }
        insert(f->s, "queued", "fq", NULL);
        insert(f->s, "running", "fr", NULL);
        {
                struct store_async_call **v = NULL;
                assert_int_equal(store_async_take(f->s, "openfaas-fn", "fr", 1, &v), 0);
                store_async_call_list_free(v);
        }

        /* a cutoff before everything: nothing */
        assert_int_equal(store_async_purge(f->s, finished_at(f->s, "old-done"), 100, &n), 0);
        assert_int_equal(n, 0);
        /* the cutoff is strict: old-done finished before old-failed's time */
        if (finished_at(f->s, "old-failed") > finished_at(f->s, "old-done")) {
                assert_int_equal(store_async_purge(f->s, finished_at(f->s, "old-failed"), 100, &n), 0);
                assert_int_equal(n, 1);
                assert_false(exists(f->s, "old-done"));
                assert_true(exists(f->s, "old-failed"));
        }
        /* everything due: at most max at a time, the oldest first */
        assert_int_equal(store_async_purge(f->s, far, 1, &n), 0);
        assert_int_equal(n, 1);
        assert_false(exists(f->s, "old-done"));
        assert_false(exists(f->s, "old-failed"));
        assert_int_equal(store_async_purge(f->s, far, 100, &n), 0);
        assert_int_equal(n, 2);
        assert_false(exists(f->s, "cb-delivered"));
        assert_false(exists(f->s, "cb-failed"));
        /* a callback still to send, and unfinished calls, stay */
        assert_true(exists(f->s, "cb-pending"));
        assert_true(exists(f->s, "cb-sending"));
        assert_true(exists(f->s, "queued"));
        assert_true(exists(f->s, "running"));
        assert_int_equal(store_async_purge(f->s, far, 100, &n), 0);
        assert_int_equal(n, 0);
}

/* The purge's index is in the schema (migration 4 -> 5) and used. */
static void test_purge_uses_an_index(void **state)
{
        struct fixture *f = *state;
        sqlite3 *db = NULL;
        sqlite3_stmt *st = NULL;
        bool indexed = false;

        assert_int_equal(sqlite3_open_v2(f->path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_prepare_v2(db,
                                            "EXPLAIN QUERY PLAN SELECT seq FROM async_calls WHERE finished_at < 5 "
                                            "AND state IN ('done', 'failed') ORDER BY finished_at LIMIT 10",
                                            -1, &st, NULL),
                         SQLITE_OK);
        while (sqlite3_step(st) == SQLITE_ROW)
                if (strstr((const char *) sqlite3_column_text(st, 3), "async_calls_finished"))
                        indexed = true;
        sqlite3_finalize(st);
        sqlite3_close(db);
        assert_true(indexed);
}

/* The receiver of a URL, for these tests: its text up to the path. */
static int url_key(const char *url, char *buf, size_t size)
{
        const char *p = strchr(url + 7, '/');
        return xsnprintf(buf, size, "%.*s", p ? (int) (p - url) : (int) strlen(url), url);
}

/* pick() allows at most two of one receiver: the "host" receiver. */
static bool at_most_two(const char *receiver, void *data)
{
        unsigned *taken = data;
        if (strcmp(receiver, "http://slow") == 0)
                return taken[0]++ < 2;
        taken[1]++;
        return true;
}

/* Callbacks due are offered in due order with their receiver (filled in
 * for rows stored without one), the ones pick refuses stay pending, and a
 * long line to one receiver does not hide the others behind it. */
static void test_callbacks_due_per_receiver(void **state)
{
        struct fixture *f = *state;
        struct store_async_call **due = NULL;
        unsigned taken[2] = { 0, 0 };
        int64_t next = 0;
        size_t n = 0, slow = 0;

        for (int i = 0; i < 6; i++) {
                char id[16];
                (void) xsnprintf(id, sizeof id, "slow-%d", i);
                insert(f->s, id, "fc", "http://slow/cb");
        }
        insert(f->s, "fast-0", "fc", "http://fast/cb");
        run_all(f->s, "fc", "done");
        assert_int_equal(store_async_fill_receivers(f->s, url_key), 0);
        assert_int_equal(store_async_callbacks_due(f->s, INT64_MAX - 1, 5, at_most_two, taken, &due), 0);
        for (struct store_async_call **p = due; *p; p++, n++) {
                assert_string_equal((*p)->callback_state, "pending"); /* as read, before the update */
                if (strcmp((*p)->callback_receiver, "http://slow") == 0)
                        slow++;
        }
        assert_int_equal(n, 3);
        assert_int_equal(slow, 2);
        store_async_call_list_free(due);
        /* the four left are due now, not later */
        assert_int_equal(store_async_callback_next(f->s, INT64_MAX - 1, &next), -ENOENT);
        assert_int_equal(store_async_callback_update(f->s, "slow-0", "pending", 1, 503, NULL, 1000, 10), 0);
        assert_int_equal(store_async_callback_next(f->s, 10, &next), 0);
        assert_int_equal(next, 1000);
}

/* The due scan reads the index only (no row, no body, for a refused one). */
static void test_callbacks_due_uses_a_covering_index(void **state)
{
        struct fixture *f = *state;
        sqlite3 *db = NULL;
        sqlite3_stmt *st = NULL;
        bool covered = false;

        assert_int_equal(sqlite3_open_v2(f->path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_prepare_v2(db,
                                            "EXPLAIN QUERY PLAN SELECT seq, callback_receiver FROM async_calls WHERE "
                                            "callback_state = 'pending' AND callback_next_at <= 5 ORDER BY "
                                            "callback_next_at",
                                            -1, &st, NULL),
                         SQLITE_OK);
        while (sqlite3_step(st) == SQLITE_ROW)
                if (strstr((const char *) sqlite3_column_text(st, 3), "COVERING INDEX async_calls_callbacks"))
                        covered = true;
        sqlite3_finalize(st);
        sqlite3_close(db);
        assert_true(covered);
}

/* Deleted bodies give their pages back: the file shrinks. */
static void test_reclaim_shrinks_the_file(void **state)
{
        struct fixture *f = *state;
        _cleanup_free_ char *big = malloc(1 << 20);
        uint64_t left = 1;
        size_t n = 0;
        struct stat before, after;

        assert_non_null(big);
        memset(big, 'x', 1 << 20);
        for (int i = 0; i < 8; i++) {
                char id[16];
                struct store_async_call c = {
                        .id = id, .namespace = "openfaas-fn", .function = "big", .function_name = "big",
                        .method = "POST", .path = "/", .query = "", .headers_json = "[]", .body = big,
                        .body_len = 1 << 20,
                };
                (void) xsnprintf(id, sizeof id, "big-%d", i);
                assert_int_equal(store_async_insert(f->s, &c), 0);
        }
        assert_int_equal(store_reclaim(f->s, 100000, NULL), 0); /* checkpoint: the rows are in the file */
        assert_int_equal(stat(f->path, &before), 0);
        run_all(f->s, "big", "done");
        assert_int_equal(store_async_purge(f->s, INT64_MAX, 100, &n), 0);
        assert_int_equal(n, 8);
        assert_int_equal(store_reclaim(f->s, 100000, &left), 0);
        assert_int_equal(left, 0);
        assert_int_equal(stat(f->path, &after), 0);
        assert_true(before.st_size > 8 << 20);
        assert_true(after.st_size < 1 << 20);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_lifecycle_and_recover, test_store_setup, test_store_teardown),
                cmocka_unit_test_setup_teardown(test_purge, test_store_setup, test_store_teardown),
                cmocka_unit_test_setup_teardown(test_purge_uses_an_index, test_store_setup, test_store_teardown),
                cmocka_unit_test_setup_teardown(test_callbacks_due_per_receiver, test_store_setup, test_store_teardown),
                cmocka_unit_test_setup_teardown(test_callbacks_due_uses_a_covering_index, test_store_setup,
                                                test_store_teardown),
                cmocka_unit_test_setup_teardown(test_reclaim_shrinks_the_file, test_store_setup, test_store_teardown),
        };
        return cmocka_run_group_tests_name("store_async", tests, NULL, NULL);
}
