/* SPDX-License-Identifier: MIT */
/* Unit tests for store/tenants.c (tokens) against a real SQLite file. */
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
#include "store/tenants.h"
#define TEST_STORE_FIXTURE
#include "tests/unit/helpers.h"

static void hash_of(unsigned char h[STORE_TOKEN_HASH_SIZE], unsigned char seed)
{
        memset(h, seed, STORE_TOKEN_HASH_SIZE);
}

static void test_tokens(void **state)
{
        struct fixture *f = *state;
        unsigned char h1[STORE_TOKEN_HASH_SIZE], h2[STORE_TOKEN_HASH_SIZE], h3[STORE_TOKEN_HASH_SIZE];
        struct store_token *t = NULL, **v = NULL;

        hash_of(h1, 1);
        hash_of(h2, 2);
        hash_of(h3, 3);
        assert_int_equal(store_namespace_create(f->s, "alpha", "{}", "{}"), 0);
        assert_int_equal(store_token_create(f->s, "alpha", "aaaa", "ci", h1, 0), 0);
        assert_int_equal(store_token_create(f->s, "alpha", "bbbb", "laptop", h2, 4102444800LL * 1000000000LL), 0);
        /* Unknown namespace, taken id, taken hash. */
        assert_int_equal(store_token_create(f->s, "nobody", "cccc", "x", h3, 0), -ENOENT);
        assert_int_equal(store_token_create(f->s, "alpha", "aaaa", "x", h3, 0), -EEXIST);
        assert_int_equal(store_token_create(f->s, "alpha", "cccc", "x", h1, 0), -EEXIST);

        assert_int_equal(store_token_lookup(f->s, h1, &t), 0);
        assert_string_equal(t->id, "aaaa");
        assert_string_equal(t->namespace, "alpha");
        assert_string_equal(t->name, "ci");
        assert_memory_equal(t->hash, h1, sizeof h1);
        assert_int_equal(t->expires_at, 0);
        assert_int_equal(t->revoked_at, 0);
        store_token_free(TAKE_PTR(t));
        assert_int_equal(store_token_lookup(f->s, h3, &t), -ENOENT);

        assert_int_equal(store_token_list(f->s, "alpha", &v), 0);
        assert_non_null(v[0]);
        assert_non_null(v[1]);
        assert_null(v[2]);
        assert_int_equal(v[1]->expires_at, 4102444800LL * 1000000000LL);
        store_token_list_free(TAKE_PTR(v));

        /* Revocation keeps the row, with its first time. */
        assert_int_equal(store_token_revoke(f->s, "alpha", "aaaa"), 0);
        assert_int_equal(store_token_lookup(f->s, h1, &t), 0);
        assert_true(t->revoked_at > 0);
        {
                int64_t first = t->revoked_at;
                store_token_free(TAKE_PTR(t));
                assert_int_equal(store_token_revoke(f->s, "alpha", "aaaa"), 0);
                assert_int_equal(store_token_lookup(f->s, h1, &t), 0);
                assert_int_equal(t->revoked_at, first);
                store_token_free(TAKE_PTR(t));
        }
        /* Another tenant cannot revoke it: not its token. */
        assert_int_equal(store_namespace_create(f->s, "beta", "{}", "{}"), 0);
        assert_int_equal(store_token_revoke(f->s, "beta", "bbbb"), -ENOENT);
        assert_int_equal(store_token_revoke(f->s, "alpha", "zzzz"), -ENOENT);

        /* The tokens go with their namespace. */
        assert_int_equal(store_namespace_delete(f->s, "alpha"), 0);
        assert_int_equal(store_token_lookup(f->s, h2, &t), -ENOENT);
        assert_int_equal(store_token_list(f->s, "alpha", &v), 0);
        assert_null(v[0]);
        store_token_list_free(v);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_tokens, test_store_setup, test_store_teardown),
        };
        return cmocka_run_group_tests_name("tenants", tests, NULL, NULL);
}
