/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/cleanup.h"
#include "core/base/log.h"
#include "core/base/util.h"
#include "store/db.h"
#include "store/db_internal.h"

/* "PRAGMA user_version = N" and "PRAGMA incremental_vacuum(N)". */
#define PRAGMA_SQL_SIZE 64

/*
 * Migrations: entry i moves the schema from version i to i+1. Never edit a
 * released entry; append a new one.
 */
static const char *const migrations[] = {
        /* 0 -> 1: the foundation schema */
        "CREATE TABLE namespaces ("
        "  name TEXT PRIMARY KEY,"
        "  labels TEXT NOT NULL DEFAULT '{}',"
        "  annotations TEXT NOT NULL DEFAULT '{}',"
        "  uid_slot INTEGER NOT NULL UNIQUE,"
        "  created_at INTEGER NOT NULL);"
        "CREATE TABLE images ("
        "  id TEXT PRIMARY KEY,"
        "  config TEXT NOT NULL,"
        "  rootfs TEXT NOT NULL,"
        "  size INTEGER NOT NULL,"
        "  created_at INTEGER NOT NULL);"
        "CREATE TABLE image_tags ("
        "  name TEXT PRIMARY KEY,"
        "  image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE);"
        "CREATE TABLE functions ("
        "  namespace TEXT NOT NULL REFERENCES namespaces(name),"
        "  name TEXT NOT NULL,"
        "  image TEXT NOT NULL,"
        "  image_id TEXT NOT NULL REFERENCES images(id),"
        "  spec TEXT NOT NULL,"
        "  created_at INTEGER NOT NULL,"
        "  updated_at INTEGER NOT NULL,"
        "  PRIMARY KEY (namespace, name));",
        /* 1 -> 2: secrets, sealed by store/secrets.c (never cleartext) */
        "CREATE TABLE secrets ("
        "  namespace TEXT NOT NULL REFERENCES namespaces(name) ON DELETE CASCADE,"
        "  name TEXT NOT NULL,"
        "  nonce BLOB NOT NULL,"
        "  ciphertext BLOB NOT NULL,"
        "  created_at INTEGER NOT NULL,"
        "  updated_at INTEGER NOT NULL,"
        "  PRIMARY KEY (namespace, name));",
        /* 2 -> 3: image names are per namespace (the content stays shared);
         * existing tags belong to the default namespace. */
        "CREATE TABLE image_tags_ns ("
        "  namespace TEXT NOT NULL,"
        "  name TEXT NOT NULL,"
        "  image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,"
        "  PRIMARY KEY (namespace, name));"
        "INSERT INTO image_tags_ns(namespace, name, image_id)"
        "  SELECT '" STORE_DEFAULT_NAMESPACE "', name, image_id FROM image_tags;"
        "DROP TABLE image_tags;"
        "ALTER TABLE image_tags_ns RENAME TO image_tags;"
        "CREATE INDEX image_tags_by_image ON image_tags(image_id);"
        "CREATE INDEX functions_by_image ON functions(image_id);",
        /* 3 -> 4: the durable async call queue (store/async.c) */
        "CREATE TABLE async_calls ("
        "  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
        "  id TEXT NOT NULL UNIQUE,"
        "  namespace TEXT NOT NULL,"
        "  function TEXT NOT NULL,"
        "  function_name TEXT NOT NULL,"
        "  method TEXT NOT NULL,"
        "  path TEXT NOT NULL,"
        "  query TEXT NOT NULL,"
        "  headers TEXT NOT NULL,"
        "  body BLOB NOT NULL,"
        "  callback_url TEXT,"
        "  state TEXT NOT NULL,"
        "  attempts INTEGER NOT NULL DEFAULT 0,"
        "  created_at INTEGER NOT NULL,"
        "  started_at INTEGER,"
        "  finished_at INTEGER,"
        "  status INTEGER,"
        "  duration REAL,"
        "  result_headers TEXT,"
        "  result_body BLOB,"
        "  callback_state TEXT,"
        "  callback_attempts INTEGER NOT NULL DEFAULT 0,"
        "  callback_status INTEGER,"
        "  callback_error TEXT,"
        "  callback_next_at INTEGER);"
        "CREATE INDEX async_calls_queue ON async_calls(state, namespace, function, seq);"
        "CREATE INDEX async_calls_callbacks ON async_calls(callback_state, callback_next_at);",
        /* 4 -> 5: finished async calls are purged by age (store_async_purge) */
        "CREATE INDEX async_calls_finished ON async_calls(state, finished_at);",
        /* 5 -> 6: callbacks are limited per receiver ("host:port", filled in
         * by the daemon for older rows); the due scan reads the index only. */
        "ALTER TABLE async_calls ADD COLUMN callback_receiver TEXT;"
        "DROP INDEX async_calls_callbacks;"
        "CREATE INDEX async_calls_callbacks ON async_calls(callback_state, callback_next_at, callback_receiver);",
        /* 6 -> 7: tenants' tokens (store/tenants.c): only a SHA-256 of each
         * token is kept, looked up by that hash; revoked ones stay listed.
         * They go with their namespace. */
        "CREATE TABLE tokens ("
        "  id TEXT PRIMARY KEY,"
        "  namespace TEXT NOT NULL REFERENCES namespaces(name) ON DELETE CASCADE,"
        "  name TEXT NOT NULL,"
        "  hash BLOB NOT NULL UNIQUE,"
        "  created_at INTEGER NOT NULL,"
        "  expires_at INTEGER,"
        "  revoked_at INTEGER);"
        "CREATE INDEX tokens_by_namespace ON tokens(namespace, created_at);",
        /* 7 -> 8: images per tenant. The content stays shared on disk, but
         * a namespace sees an image only when it owns it (imported it, or
         * the admin deployed it there) or the admin shared it with every
         * tenant. Existing images belong to the namespaces that name or use
         * them; the rest to the default namespace, which saw them. */
        "CREATE TABLE image_owners ("
        "  namespace TEXT NOT NULL,"
        "  image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,"
        "  PRIMARY KEY (namespace, image_id));"
        "CREATE INDEX image_owners_by_image ON image_owners(image_id);"
        "ALTER TABLE images ADD COLUMN shared INTEGER NOT NULL DEFAULT 0;"
        "INSERT OR IGNORE INTO image_owners(namespace, image_id) SELECT namespace, image_id FROM image_tags;"
        "INSERT OR IGNORE INTO image_owners(namespace, image_id) SELECT namespace, image_id FROM functions;"
        "INSERT OR IGNORE INTO image_owners(namespace, image_id) SELECT '" STORE_DEFAULT_NAMESPACE "', id FROM images "
        "  WHERE id NOT IN (SELECT image_id FROM image_owners);",
        /* 8 -> 9: the hash-chained audit trail (store/audit.c); never
         * pruned with a namespace. */
        "CREATE TABLE audit ("
        "  seq INTEGER PRIMARY KEY,"
        "  time INTEGER NOT NULL,"
        "  actor TEXT NOT NULL,"
        "  tenant TEXT NOT NULL,"
        "  credential TEXT NOT NULL,"
        "  address TEXT NOT NULL,"
        "  method TEXT NOT NULL,"
        "  path TEXT NOT NULL,"
        "  status INTEGER NOT NULL,"
        "  detail TEXT NOT NULL,"
        "  prev_hash TEXT NOT NULL,"
        "  hash TEXT NOT NULL);"
        "CREATE INDEX audit_by_tenant ON audit(tenant, seq);",
        /* 9 -> 10: a tenant's quotas set by the admin (JSON object of the
         * keys it overrides; core/model/quota.h). */
        "ALTER TABLE namespaces ADD COLUMN quotas TEXT NOT NULL DEFAULT '{}';",
        /* 10 -> 11: closing invocation. A tenant may require a credential
         * on its functions' calls; invoke keys are tokens good for calls
         * only (of one function, or of every function of the tenant). */
        "ALTER TABLE namespaces ADD COLUMN invoke_auth INTEGER NOT NULL DEFAULT 0;"
        "ALTER TABLE tokens ADD COLUMN kind TEXT NOT NULL DEFAULT 'tenant';"
        "ALTER TABLE tokens ADD COLUMN function TEXT;",
        /* 11 -> 12: tenants' uid ranges are never reused: slots come from a
         * counter that only goes up, within the window [base, base + ranges
         * x 65536) chosen at the first start (core/daemon/uidrange.c). A
         * database with tenants already has ranges from the old fixed base. */
        "CREATE TABLE uid_alloc ("
        "  id INTEGER PRIMARY KEY CHECK (id = 0),"
        "  base INTEGER,"
        "  ranges INTEGER,"
        "  next_slot INTEGER NOT NULL);"
        "INSERT INTO uid_alloc(id, base, ranges, next_slot) SELECT 0, "
        "  CASE WHEN COUNT(*) > 0 THEN 1073741824 END, NULL, COALESCE(MAX(uid_slot) + 1, 0) FROM namespaces;",
        /* 12 -> 13: a tenant's egress ceiling, set by the admin: the
         * destinations its functions' grants may name (core/model/egress_grant.h). */
        "ALTER TABLE namespaces ADD COLUMN egress_ceiling TEXT NOT NULL DEFAULT '';",
};

/* The schema version this binary migrates to. */
static int store_schema_version(void)
{
        return (int) ELEMENTSOF(migrations);
}

static int migrate(struct store *s, struct sf_err *err)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int version, r;

        r = store_sql_prepare(s, "PRAGMA user_version", &st);
        if (r < 0)
                return sf_err_errno(err, r, "cannot read schema version");
        if (sqlite3_step(st) != SQLITE_ROW)
                return sf_err_set(err, -EIO, "cannot read schema version: %s", sqlite3_errmsg(s->db));
        version = sqlite3_column_int(st, 0);
        /* A statement still stepping holds a read lock on the schema:
         * a migration's DROP TABLE would fail "database table is locked". */
        sqlite3_reset(st);
        if (version > store_schema_version())
                return sf_err_set(err, -EPROTO,
                                  "database schema version %d is newer than this sfaasd supports (%d)",
                                  version, store_schema_version());
        for (int v = version; v < store_schema_version(); v++) {
                char pragma[PRAGMA_SQL_SIZE];
                r = store_sql_exec(s, "BEGIN IMMEDIATE");
                if (r < 0)
                        return sf_err_errno(err, r, "cannot begin migration %d", v + 1);
                (void) xsnprintf(pragma, sizeof pragma, "PRAGMA user_version = %d", v + 1);
                if ((r = store_sql_exec(s, migrations[v])) < 0 || (r = store_sql_exec(s, pragma)) < 0 ||
                    (r = store_sql_exec(s, "COMMIT")) < 0) {
                        (void) store_sql_exec(s, "ROLLBACK");
                        return sf_err_errno(err, r, "migration to schema version %d failed", v + 1);
                }
                log_debug("store: migrated schema to version %d", v + 1);
        }
        return 0;
}

static int pragma_int(struct store *s, const char *sql, int64_t *ret)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int rc, r = store_sql_prepare(s, sql, &st);

        if (r < 0)
                return r;
        rc = sqlite3_step(st);
        if (rc != SQLITE_ROW)
                return store_sql_errno(rc == SQLITE_DONE ? SQLITE_ERROR : rc);
        *ret = sqlite3_column_int64(st, 0);
        return 0;
}

/* Pages freed by deletes (finished async calls with their bodies) go back
 * to the file system a batch at a time (store_reclaim) instead of staying
 * in the file for ever: auto_vacuum=INCREMENTAL. A new database gets it
 * before its first table; an older one is rebuilt once with VACUUM, which
 * the setting needs to take effect. */
static int auto_vacuum_incremental(struct store *s)
{
        int64_t mode = 0, pages = 0;
        int r = pragma_int(s, "PRAGMA auto_vacuum", &mode);

        if (r < 0 || mode == 2)
                return r;
        if ((r = pragma_int(s, "PRAGMA page_count", &pages)) < 0 ||
            (r = store_sql_exec(s, "PRAGMA auto_vacuum=INCREMENTAL")) < 0)
                return r;
        if (pages == 0)
                return 0;
        log_info("store: converting the database to incremental auto-vacuum (once; %lld pages)", (long long) pages);
        return store_sql_exec(s, "VACUUM");
}

int store_reclaim(struct store *s, unsigned max_pages, uint64_t *ret_free_pages)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        char sql[PRAGMA_SQL_SIZE];
        int64_t left = 0;
        int rc, r;

        (void) xsnprintf(sql, sizeof sql, "PRAGMA incremental_vacuum(%u)", max_pages);
        r = store_sql_prepare(s, sql, &st);
        if (r < 0)
                return r;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW)
                ;
        if (rc != SQLITE_DONE)
                return store_sql_errno(rc);
        r = pragma_int(s, "PRAGMA freelist_count", &left);
        if (r < 0)
                return r;
        /* With WAL the file shrinks at a checkpoint: one now, once the free
         * pages are all given back. */
        if (left == 0 && (r = store_sql_exec(s, "PRAGMA wal_checkpoint(TRUNCATE)")) < 0)
                return r;
        if (ret_free_pages)
                *ret_free_pages = (uint64_t) left;
        return 0;
}

int store_open(const char *path, struct store **ret, struct sf_err *err)
{
        _cleanup_free_ struct store *s = calloc(1, sizeof *s);
        int rc, r;

        if (!s)
                return sf_err_set(err, -ENOMEM, "out of memory");
        rc = sqlite3_open_v2(path, &s->db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX |
                                     SQLITE_OPEN_EXRESCODE,
                             NULL);
        if (rc != SQLITE_OK) {
                r = sf_err_set(err, store_sql_errno(rc), "cannot open database '%s': %s", path,
                               s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
                sqlite3_close(s->db);
                return r;
        }
        (void) sqlite3_busy_timeout(s->db, 5000);
        /* WAL + synchronous=FULL: a commit is on disk before we answer. */
        if ((r = auto_vacuum_incremental(s)) < 0) {
                sf_err_errno(err, r, "cannot set up space reclaim in database '%s'", path);
                sqlite3_close(s->db);
                return r;
        }
        if ((r = store_sql_exec(s, "PRAGMA journal_mode=WAL")) < 0 ||
            (r = store_sql_exec(s, "PRAGMA synchronous=FULL")) < 0 ||
            (r = store_sql_exec(s, "PRAGMA foreign_keys=ON")) < 0 || (r = migrate(s, err)) < 0) {
                if (err && err->code == 0)
                        sf_err_errno(err, r, "cannot initialise database '%s'", path);
                sqlite3_close(s->db);
                return r;
        }
        /* The default tenant always exists. */
        r = store_namespace_create(s, STORE_DEFAULT_NAMESPACE, "{\"openfaas\":\"1\"}", "{}");
        if (r < 0 && r != -EEXIST) {
                sqlite3_close(s->db);
                return sf_err_errno(err, r, "cannot create the default namespace");
        }
        *ret = TAKE_PTR(s);
        return 0;
}

void store_close(struct store *s)
{
        if (!s)
                return;
        (void) sqlite3_close(s->db);
        free(s);
}

void store_namespace_free(struct store_namespace *n)
{
        if (!n)
                return;
        free(n->name);
        free(n->labels_json);
        free(n->annotations_json);
        free(n);
}

int store_namespace_create(struct store *s, const char *name, const char *labels_json,
                           const char *annotations_json)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        _cleanup_stmt_ sqlite3_stmt *next = NULL;
        _cleanup_stmt_ sqlite3_stmt *bump = NULL;
        int64_t slot, ranges;
        int r, rc;

        /* The slot is the counter's next, never one a deleted tenant had:
         * nothing of an old tenant (a process, a file) can ever be taken
         * for a new one's. */
        r = store_sql_exec(s, "BEGIN IMMEDIATE");
        if (r < 0)
                return r;
        r = store_sql_prepare(s, "SELECT next_slot, COALESCE(ranges, 0) FROM uid_alloc WHERE id = 0", &next);
        if (r < 0)
                goto fail;
        rc = sqlite3_step(next);
        if (rc != SQLITE_ROW) {
                r = store_sql_errno(rc == SQLITE_DONE ? SQLITE_ERROR : rc);
                goto fail;
        }
        slot = sqlite3_column_int64(next, 0);
        ranges = sqlite3_column_int64(next, 1);
        if (ranges > 0 && slot >= ranges) {
                r = -ENOSPC;
                goto fail;
        }
        r = store_sql_prepare(s,
                              "INSERT INTO namespaces(name, labels, annotations, uid_slot, created_at) "
                              "VALUES (?1, ?2, ?3, ?5, ?4)",
                              &st);
        if (r < 0)
                goto fail;
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, labels_json ? labels_json : "{}", -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, annotations_json ? annotations_json : "{}", -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, time_unix_ns());
        sqlite3_bind_int64(st, 5, slot);
        r = store_sql_step_done(st);
        if (r < 0)
                goto fail;
        r = store_sql_prepare(s, "UPDATE uid_alloc SET next_slot = next_slot + 1 WHERE id = 0", &bump);
        if (r < 0)
                goto fail;
        r = store_sql_step_done(bump);
        if (r < 0)
                goto fail;
        return store_sql_exec(s, "COMMIT");
fail:
        (void) store_sql_exec(s, "ROLLBACK");
        return r;
}

int store_uid_alloc_get(struct store *s, uint64_t *ret_base, uint64_t *ret_ranges, uint64_t *ret_next)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int rc, r = store_sql_prepare(s, "SELECT COALESCE(base, 0), COALESCE(ranges, 0), next_slot FROM uid_alloc "
                                         "WHERE id = 0",
                                      &st);
        if (r < 0)
                return r;
        rc = sqlite3_step(st);
        if (rc != SQLITE_ROW)
                return store_sql_errno(rc == SQLITE_DONE ? SQLITE_ERROR : rc);
        *ret_base = (uint64_t) sqlite3_column_int64(st, 0);
        *ret_ranges = (uint64_t) sqlite3_column_int64(st, 1);
        *ret_next = (uint64_t) sqlite3_column_int64(st, 2);
        return 0;
}

int store_uid_alloc_set(struct store *s, uint64_t base, uint64_t ranges)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = store_sql_prepare(s, "UPDATE uid_alloc SET base = ?1, ranges = ?2 WHERE id = 0", &st);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, (sqlite3_int64) base);
        sqlite3_bind_int64(st, 2, (sqlite3_int64) ranges);
        return store_sql_step_done(st);
}

int store_namespace_update(struct store *s, const char *name, const char *labels_json,
                           const char *annotations_json)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = store_sql_prepare(s, "UPDATE namespaces SET labels = ?2, annotations = ?3 WHERE name = ?1", &st);
        if (r < 0)
                return r;
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, labels_json ? labels_json : "{}", -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, annotations_json ? annotations_json : "{}", -1, SQLITE_STATIC);
        r = store_sql_step_done(st);
        if (r < 0)
                return r;
        return sqlite3_changes(s->db) == 0 ? -ENOENT : 0;
}

int store_namespace_delete(struct store *s, const char *name)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        _cleanup_stmt_ sqlite3_stmt *cnt = NULL;
        _cleanup_stmt_ sqlite3_stmt *tags = NULL;
        _cleanup_stmt_ sqlite3_stmt *owners = NULL;
        int r, changed;

        r = store_sql_exec(s, "BEGIN IMMEDIATE");
        if (r < 0)
                return r;
        r = store_sql_prepare(s, "SELECT COUNT(*) FROM functions WHERE namespace = ?1", &cnt);
        if (r < 0)
                goto fail;
        sqlite3_bind_text(cnt, 1, name, -1, SQLITE_STATIC);
        if (sqlite3_step(cnt) == SQLITE_ROW && sqlite3_column_int(cnt, 0) > 0) {
                r = -ENOTEMPTY;
                goto fail;
        }
        /* The tenant's image names and ownership go with it: a namespace
         * made again later under the same name must not see them (the
         * content stays shared, and unreferenced images are collected by
         * prune). Secrets and tokens go by their foreign keys. */
        r = store_sql_prepare(s, "DELETE FROM image_tags WHERE namespace = ?1", &tags);
        if (r < 0)
                goto fail;
        sqlite3_bind_text(tags, 1, name, -1, SQLITE_STATIC);
        r = store_sql_step_done(tags);
        if (r < 0)
                goto fail;
        r = store_sql_prepare(s, "DELETE FROM image_owners WHERE namespace = ?1", &owners);
        if (r < 0)
                goto fail;
        sqlite3_bind_text(owners, 1, name, -1, SQLITE_STATIC);
        r = store_sql_step_done(owners);
        if (r < 0)
                goto fail;
        r = store_sql_prepare(s, "DELETE FROM namespaces WHERE name = ?1", &st);
        if (r < 0)
                goto fail;
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        r = store_sql_step_done(st);
        if (r < 0)
                goto fail;
        changed = sqlite3_changes(s->db);
        if (changed == 0) {
                r = -ENOENT;
                goto fail;
        }
        return store_sql_exec(s, "COMMIT");
fail:
        (void) store_sql_exec(s, "ROLLBACK");
        return r;
}

int store_namespace_get(struct store *s, const char *name, struct store_namespace **ret)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        struct store_namespace *n;
        int r, rc;

        r = store_sql_prepare(s,
                              "SELECT name, labels, annotations, uid_slot, created_at, "
                              "(SELECT COALESCE(base, 1073741824) FROM uid_alloc WHERE id = 0) " /* STORE_UID_BASE */
                              "FROM namespaces WHERE name = ?1",
                              &st);
        if (r < 0)
                return r;
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
        if (rc == SQLITE_DONE)
                return -ENOENT;
        if (rc != SQLITE_ROW)
                return store_sql_errno(rc);
        n = calloc(1, sizeof *n);
        if (!n)
                return -ENOMEM;
        n->name = store_sql_column_strdup(st, 0);
        n->labels_json = store_sql_column_strdup(st, 1);
        n->annotations_json = store_sql_column_strdup(st, 2);
        {
                uint64_t base = (uint64_t) sqlite3_column_int64(st, 5), slot = (uint64_t) sqlite3_column_int64(st, 3);
                uint64_t start = base + slot * STORE_UID_RANGE;
                /* Checked at start (core/daemon/uidrange.c); never wraps. */
                n->uid_base = start + STORE_UID_RANGE <= UINT32_MAX ? (uint32_t) start : 0;
                n->uid_slot = slot;
        }
        n->created_at = sqlite3_column_int64(st, 4);
        if (!n->name || !n->labels_json || !n->annotations_json) {
                store_namespace_free(n);
                return -ENOMEM;
        }
        *ret = n;
        return 0;
}


int store_namespace_list(struct store *s, char ***ret)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = store_sql_prepare(s, "SELECT name FROM namespaces ORDER BY name", &st);
        if (r < 0)
                return r;
        return store_sql_collect_strings(st, ret);
}

void store_image_free(struct store_image *i)
{
        if (!i)
                return;
        free(i->id);
        free(i->config_json);
        free(i->rootfs);
        strv_free(i->tags);
        free(i);
}

void store_image_list_free(struct store_image **v)
{
        if (!v)
                return;
        for (struct store_image **p = v; *p; p++)
                store_image_free(*p);
        free(v);
}

static bool valid_ref_char(char c)
{
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
               c == '-' || c == '_' || c == '/' || c == ':' || c == '@';
}

char *image_ref_normalize(const char *ref)
{
        const char *p = ref, *last_slash, *colon;
        size_t len;

        if (!ref || !*ref || strlen(ref) > 512)
                return NULL;
        for (const char *c = ref; *c; c++)
                if (!valid_ref_char(*c))
                        return NULL;
        if (str_startswith(p, "docker.io/library/"))
                p += STRLEN("docker.io/library/");
        else if (str_startswith(p, "docker.io/"))
                p += STRLEN("docker.io/");
        else if (str_startswith(p, "index.docker.io/library/"))
                p += STRLEN("index.docker.io/library/");
        else if (str_startswith(p, "library/"))
                p += STRLEN("library/");
        if (!*p)
                return NULL;
        if (strchr(p, '@'))
                return strdup(p);
        last_slash = strrchr(p, '/');
        colon = strrchr(p, ':');
        if (colon && (!last_slash || colon > last_slash)) {
                if (colon[1] == '\0')
                        return NULL;
                return strdup(p);
        }
        len = strlen(p);
        return xasprintf("%.*s:latest", (int) len, p);
}

static bool is_hex(const char *s, size_t min, size_t max)
{
        size_t n = strlen(s);
        if (n < min || n > max)
                return false;
        for (; *s; s++)
                if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
                        return false;
        return true;
}

/* The tags of an image in namespace ns (NULL: in every namespace), sorted. */
static int image_tags(struct store *s, const char *ns, const char *id, char ***ret)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = store_sql_prepare(s,
                                  "SELECT name FROM image_tags WHERE image_id = ?1 AND (?2 IS NULL OR namespace = ?2) "
                                  "ORDER BY name",
                                  &st);
        if (r < 0)
                return r;
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        if (ns)
                sqlite3_bind_text(st, 2, ns, -1, SQLITE_STATIC);
        return store_sql_collect_strings(st, ret);
}

static int image_from_row_ns(struct store *s, const char *ns, sqlite3_stmt *st, struct store_image **ret)
{
        struct store_image *i = calloc(1, sizeof *i);
        int r;
        if (!i)
                return -ENOMEM;
        i->id = store_sql_column_strdup(st, 0);
        i->config_json = store_sql_column_strdup(st, 1);
        i->rootfs = store_sql_column_strdup(st, 2);
        i->size = (uint64_t) sqlite3_column_int64(st, 3);
        i->created_at = sqlite3_column_int64(st, 4);
        i->shared = sqlite3_column_int(st, 5) != 0;
        if (!i->id || !i->config_json || !i->rootfs) {
                store_image_free(i);
                return -ENOMEM;
        }
        r = image_tags(s, ns, i->id, &i->tags);
        if (r < 0) {
                store_image_free(i);
                return r;
        }
        *ret = i;
        return 0;
}

int store_image_put_ns(struct store *s, const char *ns, const char *id, const char *config_json,
                       const char *rootfs, uint64_t size, char *const *tags)
{
        _cleanup_stmt_ sqlite3_stmt *ins = NULL;
        _cleanup_stmt_ sqlite3_stmt *own = NULL;
        _cleanup_stmt_ sqlite3_stmt *tag = NULL;
        int r;

        r = store_sql_exec(s, "BEGIN IMMEDIATE");
        if (r < 0)
                return r;
        r = store_sql_prepare(s,
                              "INSERT INTO images(id, config, rootfs, size, created_at) VALUES (?1, ?2, ?3, ?4, ?5) "
                              "ON CONFLICT(id) DO NOTHING",
                              &ins);
        if (r < 0)
                goto fail;
        sqlite3_bind_text(ins, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 2, config_json, -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 3, rootfs, -1, SQLITE_STATIC);
        sqlite3_bind_int64(ins, 4, (sqlite3_int64) size);
        sqlite3_bind_int64(ins, 5, time_unix_ns());
        r = store_sql_step_done(ins);
        if (r < 0)
                goto fail;
        r = store_sql_prepare(s, "INSERT OR IGNORE INTO image_owners(namespace, image_id) VALUES (?1, ?2)", &own);
        if (r < 0)
                goto fail;
        sqlite3_bind_text(own, 1, ns, -1, SQLITE_STATIC);
        sqlite3_bind_text(own, 2, id, -1, SQLITE_STATIC);
        r = store_sql_step_done(own);
        if (r < 0)
                goto fail;
        r = store_sql_prepare(s,
                              "INSERT INTO image_tags(namespace, name, image_id) VALUES (?3, ?1, ?2) "
                              "ON CONFLICT(namespace, name) DO UPDATE SET image_id = excluded.image_id",
                              &tag);
        if (r < 0)
                goto fail;
        for (char *const *t = tags; t && *t; t++) {
                _cleanup_free_ char *norm = image_ref_normalize(*t);
                if (!norm)
                        continue; /* an unusable tag in an archive is skipped, not fatal */
                sqlite3_reset(tag);
                sqlite3_bind_text(tag, 1, norm, -1, SQLITE_TRANSIENT);
                sqlite3_bind_text(tag, 2, id, -1, SQLITE_STATIC);
                sqlite3_bind_text(tag, 3, ns, -1, SQLITE_STATIC);
                r = store_sql_step_done(tag);
                if (r < 0)
                        goto fail;
        }
        r = store_sql_exec(s, "COMMIT");
        if (r < 0)
                goto fail;
        return 0;
fail:
        (void) store_sql_exec(s, "ROLLBACK");
        return r;
}

#define IMAGE_COLUMNS "i.id, i.config, i.rootfs, i.size, i.created_at, i.shared"
/* An image ns may see: it owns it, or it is shared with every tenant. */
#define IMAGE_VISIBLE_TO(p) "(i.shared = 1 OR EXISTS (SELECT 1 FROM image_owners o WHERE o.image_id = i.id AND o.namespace = " p "))"

int store_image_resolve(struct store *s, const char *ref, struct store_image **ret)
{
        return store_image_resolve_ns(s, STORE_DEFAULT_NAMESPACE, ref, ret);
}

/* Resolve ref for ns; digests among the images visible to ns, or among
 * all of them (all). */
static int image_resolve(struct store *s, const char *ns, const char *ref, bool all, struct store_image **ret)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        _cleanup_free_ char *norm = NULL;
        int r, rc;

        if (str_startswith(ref, "sha256:") && is_hex(ref + 7, 12, 64)) {
                _cleanup_free_ char *pattern = xasprintf("%s*", ref);
                if (!pattern)
                        return -ENOMEM;
                r = store_sql_prepare(s,
                                      all ? "SELECT " IMAGE_COLUMNS " FROM images i WHERE i.id GLOB ?1 LIMIT 2"
                                          : "SELECT " IMAGE_COLUMNS " FROM images i WHERE i.id GLOB ?1 AND "
                                            IMAGE_VISIBLE_TO("?2") " LIMIT 2",
                                      &st);
                if (r < 0)
                        return r;
                sqlite3_bind_text(st, 1, pattern, -1, SQLITE_TRANSIENT); /* pattern dies with this block */
                if (!all)
                        sqlite3_bind_text(st, 2, ns, -1, SQLITE_STATIC);
        } else {
                norm = image_ref_normalize(ref);
                if (!norm)
                        return -EINVAL;
                /* A namespace's names are of images it owns (store_image_put_ns). */
                r = store_sql_prepare(s,
                                      "SELECT " IMAGE_COLUMNS " FROM image_tags t "
                                      "JOIN images i ON i.id = t.image_id WHERE t.namespace = ?2 AND t.name = ?1",
                                      &st);
                if (r < 0)
                        return r;
                sqlite3_bind_text(st, 1, norm, -1, SQLITE_STATIC);
                sqlite3_bind_text(st, 2, ns, -1, SQLITE_STATIC);
        }
        rc = sqlite3_step(st);
        if (rc == SQLITE_DONE)
                return -ENOENT;
        if (rc != SQLITE_ROW)
                return store_sql_errno(rc);
        {
                struct store_image *img;
                r = image_from_row_ns(s, ns, st, &img);
                if (r < 0)
                        return r;
                if (sqlite3_step(st) == SQLITE_ROW) { /* ambiguous digest prefix */
                        store_image_free(img);
                        return -ENOTUNIQ;
                }
                *ret = img;
        }
        return 0;
}

int store_image_resolve_ns(struct store *s, const char *ns, const char *ref, struct store_image **ret)
{
        return image_resolve(s, ns, ref, false, ret);
}

int store_image_resolve_all(struct store *s, const char *ns, const char *ref, struct store_image **ret)
{
        return image_resolve(s, ns, ref, true, ret);
}

int store_image_own(struct store *s, const char *ns, const char *id)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = store_sql_prepare(s,
                                  "INSERT OR IGNORE INTO image_owners(namespace, image_id) "
                                  "SELECT ?1, id FROM images WHERE id = ?2 AND shared = 0",
                                  &st);
        if (r < 0)
                return r;
        sqlite3_bind_text(st, 1, ns, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
        return store_sql_step_done(st);
}

int store_image_set_shared(struct store *s, const char *id, bool shared)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        _cleanup_stmt_ sqlite3_stmt *own = NULL;
        int r;

        r = store_sql_exec(s, "BEGIN IMMEDIATE");
        if (r < 0)
                return r;
        r = store_sql_prepare(s, "UPDATE images SET shared = ?2 WHERE id = ?1", &st);
        if (r < 0)
                goto fail;
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 2, shared ? 1 : 0);
        r = store_sql_step_done(st);
        if (r < 0)
                goto fail;
        if (sqlite3_changes(s->db) == 0) {
                r = -ENOENT;
                goto fail;
        }
        /* No longer shared: the namespaces whose functions use it keep it. */
        if (!shared) {
                r = store_sql_prepare(s,
                                      "INSERT OR IGNORE INTO image_owners(namespace, image_id) "
                                      "SELECT DISTINCT namespace, image_id FROM functions WHERE image_id = ?1",
                                      &own);
                if (r < 0)
                        goto fail;
                sqlite3_bind_text(own, 1, id, -1, SQLITE_STATIC);
                r = store_sql_step_done(own);
                if (r < 0)
                        goto fail;
        }
        return store_sql_exec(s, "COMMIT");
fail:
        (void) store_sql_exec(s, "ROLLBACK");
        return r;
}

int store_image_owned_bytes(struct store *s, const char *ns, uint64_t *ret)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int rc, r = store_sql_prepare(s,
                                      "SELECT COALESCE(SUM(i.size), 0) FROM images i JOIN image_owners o "
                                      "ON o.image_id = i.id WHERE o.namespace = ?1 AND i.shared = 0",
                                      &st);
        if (r < 0)
                return r;
        sqlite3_bind_text(st, 1, ns, -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
        if (rc != SQLITE_ROW)
                return store_sql_errno(rc == SQLITE_DONE ? SQLITE_ERROR : rc);
        *ret = (uint64_t) sqlite3_column_int64(st, 0);
        return 0;
}

int store_image_list(struct store *s, struct store_image ***ret)
{
        return store_image_list_ns(s, NULL, ret);
}

int store_image_list_ns(struct store *s, const char *ns, struct store_image ***ret)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        struct store_image **v = NULL;
        size_t n = 0;
        int r, rc;

        r = store_sql_prepare(s,
                              "SELECT " IMAGE_COLUMNS " FROM images i WHERE ?1 IS NULL OR " IMAGE_VISIBLE_TO("?1")
                              " ORDER BY i.created_at DESC, i.id",
                              &st);
        if (r < 0)
                return r;
        if (ns)
                sqlite3_bind_text(st, 1, ns, -1, SQLITE_STATIC);
        v = calloc(1, sizeof *v);
        if (!v)
                return -ENOMEM;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                struct store_image **nv = realloc(v, (n + 2) * sizeof *v);
                if (!nv) {
                        store_image_list_free(v);
                        return -ENOMEM;
                }
                v = nv;
                r = image_from_row_ns(s, ns, st, &v[n]);
                if (r < 0) {
                        v[n] = NULL;
                        store_image_list_free(v);
                        return r;
                }
                v[++n] = NULL;
        }
        if (rc != SQLITE_DONE) {
                store_image_list_free(v);
                return store_sql_errno(rc);
        }
        *ret = v;
        return 0;
}

int store_image_users(struct store *s, const char *ns, const char *id, char ***ret)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = store_sql_prepare(s,
                                  "SELECT name || '.' || namespace FROM functions WHERE image_id = ?1 "
                                  "AND (?2 IS NULL OR namespace = ?2) ORDER BY namespace, name",
                                  &st);
        if (r < 0)
                return r;
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        if (ns)
                sqlite3_bind_text(st, 2, ns, -1, SQLITE_STATIC);
        return store_sql_collect_strings(st, ret);
}

int store_image_untag(struct store *s, const char *ns, const char *id, const char *tag, bool *ret_gone)
{
        _cleanup_stmt_ sqlite3_stmt *del = NULL;
        _cleanup_stmt_ sqlite3_stmt *own = NULL;
        _cleanup_stmt_ sqlite3_stmt *img = NULL;
        int r;

        r = store_sql_exec(s, "BEGIN IMMEDIATE");
        if (r < 0)
                return r;
        r = store_sql_prepare(s,
                              "DELETE FROM image_tags WHERE namespace = ?1 AND image_id = ?2 AND (?3 IS NULL OR name = ?3)",
                              &del);
        if (r < 0)
                goto fail;
        sqlite3_bind_text(del, 1, ns, -1, SQLITE_STATIC);
        sqlite3_bind_text(del, 2, id, -1, SQLITE_STATIC);
        if (tag)
                sqlite3_bind_text(del, 3, tag, -1, SQLITE_STATIC);
        r = store_sql_step_done(del);
        if (r < 0)
                goto fail;
        /* Without a name in ns and a function of ns, ns lets go of it. */
        r = store_sql_prepare(s,
                              "DELETE FROM image_owners WHERE namespace = ?1 AND image_id = ?2 "
                              "AND NOT EXISTS (SELECT 1 FROM image_tags WHERE namespace = ?1 AND image_id = ?2) "
                              "AND NOT EXISTS (SELECT 1 FROM functions WHERE namespace = ?1 AND image_id = ?2)",
                              &own);
        if (r < 0)
                goto fail;
        sqlite3_bind_text(own, 1, ns, -1, SQLITE_STATIC);
        sqlite3_bind_text(own, 2, id, -1, SQLITE_STATIC);
        r = store_sql_step_done(own);
        if (r < 0)
                goto fail;
        /* The image row goes with its last owner unless a function pins it
         * or it is shared with every tenant. */
        r = store_sql_prepare(s,
                              "DELETE FROM images WHERE id = ?1 AND shared = 0 "
                              "AND NOT EXISTS (SELECT 1 FROM image_owners WHERE image_id = ?1) "
                              "AND NOT EXISTS (SELECT 1 FROM image_tags WHERE image_id = ?1) "
                              "AND NOT EXISTS (SELECT 1 FROM functions WHERE image_id = ?1)",
                              &img);
        if (r < 0)
                goto fail;
        sqlite3_bind_text(img, 1, id, -1, SQLITE_STATIC);
        r = store_sql_step_done(img);
        if (r < 0)
                goto fail;
        *ret_gone = sqlite3_changes(s->db) > 0;
        r = store_sql_exec(s, "COMMIT");
        if (r < 0)
                goto fail;
        return 0;
fail:
        (void) store_sql_exec(s, "ROLLBACK");
        return r;
}

int store_image_ids(struct store *s, char ***ret)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = store_sql_prepare(s, "SELECT id FROM images ORDER BY id", &st);
        if (r < 0)
                return r;
        return store_sql_collect_strings(st, ret);
}

int store_image_prune(struct store *s, char ***ret)
{
        _cleanup_stmt_ sqlite3_stmt *sel = NULL;
        _cleanup_stmt_ sqlite3_stmt *del = NULL;
        _cleanup_strv_free_ char **ids = NULL;
        int r;

        r = store_sql_exec(s, "BEGIN IMMEDIATE");
        if (r < 0)
                return r;
        r = store_sql_prepare(s,
                              "SELECT id FROM images i WHERE shared = 0 "
                              "AND NOT EXISTS (SELECT 1 FROM image_tags t WHERE t.image_id = i.id) "
                              "AND NOT EXISTS (SELECT 1 FROM functions f WHERE f.image_id = i.id) ORDER BY id",
                              &sel);
        if (r < 0)
                goto fail;
        r = store_sql_collect_strings(sel, &ids);
        if (r < 0)
                goto fail;
        r = store_sql_prepare(s, "DELETE FROM images WHERE id = ?1", &del);
        if (r < 0)
                goto fail;
        for (char **p = ids; *p; p++) {
                sqlite3_reset(del);
                sqlite3_bind_text(del, 1, *p, -1, SQLITE_STATIC);
                r = store_sql_step_done(del);
                if (r < 0)
                        goto fail;
        }
        r = store_sql_exec(s, "COMMIT");
        if (r < 0)
                goto fail;
        *ret = TAKE_PTR(ids);
        return 0;
fail:
        (void) store_sql_exec(s, "ROLLBACK");
        return r;
}

void store_function_free(struct store_function *f)
{
        if (!f)
                return;
        free(f->namespace);
        free(f->name);
        free(f->image);
        free(f->image_id);
        free(f->spec_json);
        free(f);
}

void store_function_list_free(struct store_function **v)
{
        if (!v)
                return;
        for (struct store_function **p = v; *p; p++)
                store_function_free(*p);
        free(v);
}

int store_function_create(struct store *s, const struct store_function *f)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int64_t now = time_unix_ns();
        int r = store_sql_prepare(s,
                                  "INSERT INTO functions(namespace, name, image, image_id, spec, created_at, updated_at) "
                                  "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
                                  &st);
        if (r < 0)
                return r;
        sqlite3_bind_text(st, 1, f->namespace, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, f->name, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, f->image, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, f->image_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 5, f->spec_json, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 6, now);
        return store_sql_step_done(st);
}

int store_function_update(struct store *s, const struct store_function *f)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = store_sql_prepare(s,
                                  "UPDATE functions SET image = ?3, image_id = ?4, spec = ?5, updated_at = ?6 "
                                  "WHERE namespace = ?1 AND name = ?2",
                                  &st);
        if (r < 0)
                return r;
        sqlite3_bind_text(st, 1, f->namespace, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, f->name, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, f->image, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, f->image_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 5, f->spec_json, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 6, time_unix_ns());
        r = store_sql_step_done(st);
        if (r < 0)
                return r;
        return sqlite3_changes(s->db) == 0 ? -ENOENT : 0;
}

static int function_from_row(sqlite3_stmt *st, struct store_function **ret)
{
        struct store_function *f = calloc(1, sizeof *f);
        if (!f)
                return -ENOMEM;
        f->namespace = store_sql_column_strdup(st, 0);
        f->name = store_sql_column_strdup(st, 1);
        f->image = store_sql_column_strdup(st, 2);
        f->image_id = store_sql_column_strdup(st, 3);
        f->spec_json = store_sql_column_strdup(st, 4);
        f->created_at = sqlite3_column_int64(st, 5);
        f->updated_at = sqlite3_column_int64(st, 6);
        if (!f->namespace || !f->name || !f->image || !f->image_id || !f->spec_json) {
                store_function_free(f);
                return -ENOMEM;
        }
        *ret = f;
        return 0;
}

#define FUNCTION_COLUMNS "namespace, name, image, image_id, spec, created_at, updated_at"

int store_function_get(struct store *s, const char *ns, const char *name, struct store_function **ret)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r, rc;

        r = store_sql_prepare(s, "SELECT " FUNCTION_COLUMNS " FROM functions WHERE namespace = ?1 AND name = ?2", &st);
        if (r < 0)
                return r;
        sqlite3_bind_text(st, 1, ns, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
        if (rc == SQLITE_DONE)
                return -ENOENT;
        if (rc != SQLITE_ROW)
                return store_sql_errno(rc);
        return function_from_row(st, ret);
}

int store_function_list(struct store *s, const char *ns, struct store_function ***ret)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        struct store_function **v;
        size_t n = 0;
        int r, rc;

        r = store_sql_prepare(s, "SELECT " FUNCTION_COLUMNS " FROM functions WHERE namespace = ?1 ORDER BY name", &st);
        if (r < 0)
                return r;
        sqlite3_bind_text(st, 1, ns, -1, SQLITE_STATIC);
        v = calloc(1, sizeof *v);
        if (!v)
                return -ENOMEM;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                struct store_function **nv = realloc(v, (n + 2) * sizeof *v);
                if (!nv) {
                        store_function_list_free(v);
                        return -ENOMEM;
                }
                v = nv;
                r = function_from_row(st, &v[n]);
                if (r < 0) {
                        v[n] = NULL;
                        store_function_list_free(v);
                        return r;
                }
                v[++n] = NULL;
        }
        if (rc != SQLITE_DONE) {
                store_function_list_free(v);
                return store_sql_errno(rc);
        }
        *ret = v;
        return 0;
}

int store_function_delete(struct store *s, const char *ns, const char *name)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = store_sql_prepare(s, "DELETE FROM functions WHERE namespace = ?1 AND name = ?2", &st);
        if (r < 0)
                return r;
        sqlite3_bind_text(st, 1, ns, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
        r = store_sql_step_done(st);
        if (r < 0)
                return r;
        return sqlite3_changes(s->db) == 0 ? -ENOENT : 0;
}
