/* SPDX-License-Identifier: MIT */
/* Tenants' tokens (store/tenants.h). */
#include <errno.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/cleanup.h"
#include "core/base/util.h"
#include "store/db_internal.h"
#include "store/tenants.h"

#define TOKEN_COLUMNS \
        "id, namespace, name, created_at, COALESCE(expires_at, 0), COALESCE(revoked_at, 0), hash, kind, " \
        "COALESCE(function, '')"

void store_token_free(struct store_token *t)
{
        if (!t)
                return;
        free(t->id);
        free(t->namespace);
        free(t->name);
        free(t->kind);
        free(t->function);
        free(t);
}

void store_token_list_free(struct store_token **v)
{
        if (!v)
                return;
        for (struct store_token **p = v; *p; p++)
                store_token_free(*p);
        free(v);
}

static int token_from_row(sqlite3_stmt *st, struct store_token **ret)
{
        struct store_token *t = calloc(1, sizeof *t);

        if (!t)
                return -ENOMEM;
        t->id = store_sql_column_strdup(st, 0);
        t->namespace = store_sql_column_strdup(st, 1);
        t->name = store_sql_column_strdup(st, 2);
        t->created_at = sqlite3_column_int64(st, 3);
        t->expires_at = sqlite3_column_int64(st, 4);
        t->revoked_at = sqlite3_column_int64(st, 5);
        if (sqlite3_column_bytes(st, 6) == STORE_TOKEN_HASH_SIZE && sqlite3_column_blob(st, 6))
                memcpy(t->hash, sqlite3_column_blob(st, 6), STORE_TOKEN_HASH_SIZE);
        t->kind = store_sql_column_strdup(st, 7);
        t->function = store_sql_column_strdup(st, 8);
        if (!t->id || !t->namespace || !t->name || !t->kind || !t->function) {
                store_token_free(t);
                return -ENOMEM;
        }
        *ret = t;
        return 0;
}

static int token_insert(struct store *s, const char *ns, const char *id, const char *name, const char *kind,
                        const char *function, const unsigned char hash[STORE_TOKEN_HASH_SIZE], int64_t expires_at);

int store_token_create(struct store *s, const char *ns, const char *id, const char *name,
                       const unsigned char hash[STORE_TOKEN_HASH_SIZE], int64_t expires_at)
{
        return token_insert(s, ns, id, name, "tenant", NULL, hash, expires_at);
}

int store_invoke_key_create(struct store *s, const char *ns, const char *id, const char *name, const char *function,
                            const unsigned char hash[STORE_TOKEN_HASH_SIZE], int64_t expires_at)
{
        return token_insert(s, ns, id, name, "invoke", function && *function ? function : NULL, hash, expires_at);
}

static int token_insert(struct store *s, const char *ns, const char *id, const char *name, const char *kind,
                        const char *function, const unsigned char hash[STORE_TOKEN_HASH_SIZE], int64_t expires_at)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        struct store_namespace *n = NULL;
        int r;

        /* The foreign key would answer -EEXIST (a constraint) for a missing
         * namespace too: ask first, on the same thread, so the two differ. */
        r = store_namespace_get(s, ns, &n);
        if (r < 0)
                return r;
        store_namespace_free(n);
        r = store_sql_prepare(s,
                              "INSERT INTO tokens(id, namespace, name, hash, created_at, expires_at, kind, function) "
                              "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                              &st);
        if (r < 0)
                return r;
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, ns, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, name, -1, SQLITE_STATIC);
        sqlite3_bind_blob(st, 4, hash, STORE_TOKEN_HASH_SIZE, SQLITE_STATIC);
        sqlite3_bind_int64(st, 5, time_unix_ns());
        if (expires_at > 0)
                sqlite3_bind_int64(st, 6, expires_at);
        sqlite3_bind_text(st, 7, kind, -1, SQLITE_STATIC);
        if (function)
                sqlite3_bind_text(st, 8, function, -1, SQLITE_STATIC);
        return store_sql_step_done(st);
}

int store_token_lookup(struct store *s, const unsigned char hash[STORE_TOKEN_HASH_SIZE], struct store_token **ret)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r, rc;

        r = store_sql_prepare(s, "SELECT " TOKEN_COLUMNS " FROM tokens WHERE hash = ?1", &st);
        if (r < 0)
                return r;
        sqlite3_bind_blob(st, 1, hash, STORE_TOKEN_HASH_SIZE, SQLITE_STATIC);
        rc = sqlite3_step(st);
        if (rc == SQLITE_DONE)
                return -ENOENT;
        if (rc != SQLITE_ROW)
                return store_sql_errno(rc);
        return token_from_row(st, ret);
}

int store_token_list(struct store *s, const char *ns, struct store_token ***ret)
{
        return store_token_list_kind(s, ns, "tenant", ret);
}

int store_token_list_kind(struct store *s, const char *ns, const char *kind, struct store_token ***ret)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        struct store_token **v;
        size_t n = 0;
        int r, rc;

        r = store_sql_prepare(s,
                              "SELECT " TOKEN_COLUMNS " FROM tokens WHERE namespace = ?1 AND kind = ?2 "
                              "ORDER BY created_at, id",
                              &st);
        if (r < 0)
                return r;
        sqlite3_bind_text(st, 1, ns, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, kind, -1, SQLITE_STATIC);
        v = calloc(1, sizeof *v);
        if (!v)
                return -ENOMEM;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                struct store_token **nv = realloc(v, (n + 2) * sizeof *v);
                if (!nv) {
                        store_token_list_free(v);
                        return -ENOMEM;
                }
                v = nv;
                v[n] = NULL;
                r = token_from_row(st, &v[n]);
                if (r < 0) {
                        store_token_list_free(v);
                        return r;
                }
                v[++n] = NULL;
        }
        if (rc != SQLITE_DONE) {
                store_token_list_free(v);
                return store_sql_errno(rc);
        }
        *ret = v;
        return 0;
}

int store_token_revoke(struct store *s, const char *ns, const char *id)
{
        return store_token_revoke_kind(s, ns, "tenant", id);
}

int store_token_revoke_kind(struct store *s, const char *ns, const char *kind, const char *id)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r;

        r = store_sql_prepare(s,
                              "UPDATE tokens SET revoked_at = COALESCE(revoked_at, ?3) "
                              "WHERE namespace = ?1 AND id = ?2 AND kind = ?4",
                              &st);
        if (r < 0)
                return r;
        sqlite3_bind_text(st, 4, kind, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 1, ns, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, time_unix_ns());
        r = store_sql_step_done(st);
        if (r < 0)
                return r;
        return sqlite3_changes(sqlite3_db_handle(st)) == 0 ? -ENOENT : 0;
}

/* One text column of a namespace's row (sql: "SELECT col ... WHERE name =
 * ?1"): -ENOENT without the namespace. */
static int text_column_get(struct store *s, const char *sql, const char *ns, char **ret)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int rc, r = store_sql_prepare(s, sql, &st);
        char *v;

        if (r < 0)
                return r;
        sqlite3_bind_text(st, 1, ns, -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
        if (rc == SQLITE_DONE)
                return -ENOENT;
        if (rc != SQLITE_ROW)
                return store_sql_errno(rc);
        v = store_sql_column_strdup(st, 0);
        if (!v)
                return -ENOMEM;
        *ret = v;
        return 0;
}

/* Sets it (sql: "UPDATE ... SET col = ?2 WHERE name = ?1"): -ENOENT
 * without the namespace. */
static int text_column_set(struct store *s, const char *sql, const char *ns, const char *value)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = store_sql_prepare(s, sql, &st);

        if (r < 0)
                return r;
        sqlite3_bind_text(st, 1, ns, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
        r = store_sql_step_done(st);
        if (r < 0)
                return r;
        return sqlite3_changes(sqlite3_db_handle(st)) == 0 ? -ENOENT : 0;
}

int store_tenant_quotas_get(struct store *s, const char *ns, char **ret_json)
{
        return text_column_get(s, "SELECT quotas FROM namespaces WHERE name = ?1", ns, ret_json);
}

int store_tenant_quotas_set(struct store *s, const char *ns, const char *json)
{
        return text_column_set(s, "UPDATE namespaces SET quotas = ?2 WHERE name = ?1", ns, json);
}

static int count(struct store *s, const char *sql, const char *ns, uint64_t *ret)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int rc, r = store_sql_prepare(s, sql, &st);

        if (r < 0)
                return r;
        sqlite3_bind_text(st, 1, ns, -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
        if (rc != SQLITE_ROW)
                return store_sql_errno(rc == SQLITE_DONE ? SQLITE_ERROR : rc);
        *ret = (uint64_t) sqlite3_column_int64(st, 0);
        return 0;
}

int store_tenant_usage(struct store *s, const char *ns, struct store_tenant_usage *ret)
{
        struct store_tenant_usage u = { 0 };
        int r;

        if ((r = count(s, "SELECT COUNT(*) FROM functions WHERE namespace = ?1", ns, &u.functions)) < 0 ||
            /* Rows named ".NAME" are sfaasd's own (a namespace's registry
             * credentials, store/secrets.h), not the tenant's secrets. */
            (r = count(s, "SELECT COUNT(*) FROM secrets WHERE namespace = ?1 AND substr(name, 1, 1) <> '.'", ns,
                       &u.secrets)) < 0 ||
            (r = store_image_owned_bytes(s, ns, &u.image_bytes)) < 0 ||
            (r = count(s, "SELECT COUNT(*) FROM async_calls WHERE namespace = ?1 AND state IN ('queued', 'running')",
                       ns, &u.async_queued)) < 0)
                return r;
        *ret = u;
        return 0;
}

int store_tenant_invoke_auth_get(struct store *s, const char *ns, bool *ret)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int rc, r = store_sql_prepare(s, "SELECT invoke_auth FROM namespaces WHERE name = ?1", &st);

        if (r < 0)
                return r;
        sqlite3_bind_text(st, 1, ns, -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
        if (rc == SQLITE_DONE)
                return -ENOENT;
        if (rc != SQLITE_ROW)
                return store_sql_errno(rc);
        *ret = sqlite3_column_int(st, 0) != 0;
        return 0;
}

int store_tenant_invoke_auth_set(struct store *s, const char *ns, bool on)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = store_sql_prepare(s, "UPDATE namespaces SET invoke_auth = ?2 WHERE name = ?1", &st);

        if (r < 0)
                return r;
        sqlite3_bind_text(st, 1, ns, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 2, on ? 1 : 0);
        r = store_sql_step_done(st);
        if (r < 0)
                return r;
        return sqlite3_changes(sqlite3_db_handle(st)) == 0 ? -ENOENT : 0;
}

int store_tenant_egress_get(struct store *s, const char *ns, char **ret)
{
        return text_column_get(s, "SELECT egress_ceiling FROM namespaces WHERE name = ?1", ns, ret);
}

int store_tenant_egress_set(struct store *s, const char *ns, const char *ceiling)
{
        return text_column_set(s, "UPDATE namespaces SET egress_ceiling = ?2 WHERE name = ?1", ns, ceiling);
}
