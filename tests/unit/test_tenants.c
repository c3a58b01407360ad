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
#include "core/model/quota.h"
#include "store/audit.h"
#include "store/tenants.h"
#include <sqlite3.h>
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

static void append(struct store *s, const char *actor, const char *tenant, int status)
{
        struct store_audit_record r = { .actor = (char *) actor, .tenant = (char *) tenant, .credential = "c1",
                                        .address = "127.0.0.1:1", .method = "POST", .path = "/system/x",
                                        .status = status, .detail = "d" };
        assert_int_equal(store_audit_append(s, &r), 0);
        assert_true(r.seq > 0);
        assert_int_equal(strlen(r.hash), 64);
}

static void test_audit_chain(void **state)
{
        struct fixture *f = *state;
        struct store_audit_record **v = NULL;
        struct store_audit_verify ver;
        struct sf_err err = { 0 };
        const char *db = f->path;
        sqlite3 *raw = NULL;

        assert_int_equal(store_audit_verify_file(db, &ver, &err), 0);
        assert_int_equal(ver.records, 0);
        assert_int_equal(ver.bad_seq, 0);
        append(f->s, "admin", "a", 201);
        append(f->s, "tenant", "b", 200);
        append(f->s, "invalid", "a", 401);
        assert_int_equal(store_audit_list(f->s, NULL, 0, 10, &v), 0);
        assert_int_equal(v[0]->seq, 1);
        assert_string_equal(v[0]->prev_hash, "0000000000000000000000000000000000000000000000000000000000000000");
        assert_string_equal(v[1]->prev_hash, v[0]->hash);
        assert_string_equal(v[2]->prev_hash, v[1]->hash);
        assert_null(v[3]);
        store_audit_list_free(TAKE_PTR(v));
        assert_int_equal(store_audit_list(f->s, "a", 0, 10, &v), 0);
        assert_int_equal(v[0]->seq, 1);
        assert_int_equal(v[1]->seq, 3);
        assert_null(v[2]);
        store_audit_list_free(TAKE_PTR(v));
        assert_int_equal(store_audit_list(f->s, NULL, 1, 1, &v), 0);
        assert_int_equal(v[0]->seq, 2);
        assert_null(v[1]);
        store_audit_list_free(TAKE_PTR(v));

        assert_int_equal(store_audit_verify_file(db, &ver, &err), 0);
        assert_int_equal(ver.records, 3);
        assert_int_equal(ver.bad_seq, 0);
        assert_int_equal(ver.head_seq, 3);
        /* A field changed behind the store's back. */
        assert_int_equal(sqlite3_open(db, &raw), SQLITE_OK);
        assert_int_equal(sqlite3_exec(raw, "UPDATE audit SET detail = 'e' WHERE seq = 2", NULL, NULL, NULL), SQLITE_OK);
        assert_int_equal(store_audit_verify_file(db, &ver, &err), 0);
        assert_int_equal(ver.bad_seq, 2);
        assert_non_null(strstr(err.msg, "record 2"));
        /* Put back, then a record removed. */
        assert_int_equal(sqlite3_exec(raw, "UPDATE audit SET detail = 'd' WHERE seq = 2", NULL, NULL, NULL), SQLITE_OK);
        assert_int_equal(store_audit_verify_file(db, &ver, &err), 0);
        assert_int_equal(ver.bad_seq, 0);
        assert_int_equal(sqlite3_exec(raw, "DELETE FROM audit WHERE seq = 2", NULL, NULL, NULL), SQLITE_OK);
        assert_int_equal(store_audit_verify_file(db, &ver, &err), 0);
        assert_int_equal(ver.bad_seq, 3);
        sqlite3_close(raw);
}

static void test_quota_model(void **state)
{
        struct tenant_quota d = { .functions = 1000, .secrets = 1000 }, q;
        struct function_ceilings c = { .memory_bytes = 4ULL << 30, .cpu_millis = 4000, .timeout_ms = 3600000,
                                       .scale_max = 100 };
        struct sf_err err = { 0 };
        json_t *o = json_object(), *ch, *spec;
        char *s;

        ch = json_pack("{s:i,s:s,s:s,s:i}", "functions", 5, "memory", "1Gi", "cpu", "1500m", "pids", 0);
        assert_int_equal(tenant_quota_merge(o, ch, &err), 0);
        json_decref(ch);
        s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
        assert_int_equal(tenant_quota_effective(&d, s, &q, &err), 0);
        free(s);
        assert_int_equal(q.functions, 5);
        assert_int_equal(q.memory_bytes, 1ULL << 30);
        assert_int_equal(q.cpu_millis, 1500);
        assert_int_equal(q.pids, 0);
        assert_int_equal(q.secrets, 1000);
        /* null goes back to the default; bad keys and values refused */
        ch = json_pack("{s:n}", "functions");
        assert_int_equal(tenant_quota_merge(o, ch, &err), 0);
        json_decref(ch);
        assert_null(json_object_get(o, "functions"));
        ch = json_pack("{s:i}", "bogus", 1);
        assert_int_equal(tenant_quota_merge(o, ch, &err), -EINVAL);
        json_decref(ch);
        ch = json_pack("{s:s}", "memory", "lots");
        assert_int_equal(tenant_quota_merge(o, ch, &err), -EINVAL);
        json_decref(ch);
        ch = json_pack("{s:i}", "cpu", 2); /* a bare number is CPUs */
        assert_int_equal(tenant_quota_merge(o, ch, &err), 0);
        json_decref(ch);
        s = json_dumps(o, JSON_COMPACT);
        assert_int_equal(tenant_quota_effective(&d, s, &q, &err), 0);
        free(s);
        assert_int_equal(q.cpu_millis, 2000);
        json_decref(o);

        spec = json_pack("{s:{s:s}}", "limits", "memory", "4Gi");
        assert_int_equal(function_check_ceilings(&c, spec, &err), 0);
        json_decref(spec);
        spec = json_pack("{s:{s:s}}", "limits", "memory", "64Gi");
        assert_int_equal(function_check_ceilings(&c, spec, &err), -E2BIG);
        assert_non_null(strstr(err.msg, "limits.memory '64Gi'"));
        assert_non_null(strstr(err.msg, "function_max_memory"));
        json_decref(spec);
        spec = json_pack("{s:{s:s}}", "annotations", "com.openfaas.scale.max", "101");
        assert_int_equal(function_check_ceilings(&c, spec, &err), -E2BIG);
        json_decref(spec);
        spec = json_pack("{s:{s:s}}", "envVars", "exec_timeout", "61m");
        assert_int_equal(function_check_ceilings(&c, spec, &err), -E2BIG);
        json_decref(spec);
        c = (struct function_ceilings) { 0 }; /* no ceilings */
        spec = json_pack("{s:{s:s}}", "limits", "memory", "64Gi");
        assert_int_equal(function_check_ceilings(&c, spec, &err), 0);
        json_decref(spec);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_tokens, test_store_setup, test_store_teardown),
                cmocka_unit_test_setup_teardown(test_audit_chain, test_store_setup, test_store_teardown),
                cmocka_unit_test(test_quota_model),
        };
        return cmocka_run_group_tests_name("tenants", tests, NULL, NULL);
}
