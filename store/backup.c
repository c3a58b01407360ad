/* SPDX-License-Identifier: MIT */
#include "store/backup.h"
#include "store/db_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sqlite3.h>
#include <string.h>
#include <unistd.h>

#include "core/base/cleanup.h"

static void sqlite3_closep(sqlite3 **db)
{
        if (*db)
                (void) sqlite3_close_v2(*db);
}
#define _cleanup_sqlite_ _cleanup_(sqlite3_closep)

static int fsync_path(const char *path, int flags)
{
        _cleanup_close_ int fd = open(path, flags | O_RDONLY | O_CLOEXEC);
        if (fd < 0 || fsync(fd) < 0)
                return -errno;
        return 0;
}

/* The folder of path, synced so the new file's name is on disk too. */
static int fsync_parent(const char *path)
{
        char dir[PATH_MAX];
        const char *slash = strrchr(path, '/');
        size_t n = slash ? (size_t) (slash - path) : 0;

        if (!slash)
                return fsync_path(".", O_DIRECTORY);
        if (n == 0)
                return fsync_path("/", O_DIRECTORY);
        if (n >= sizeof dir)
                return -ENAMETOOLONG;
        memcpy(dir, path, n);
        dir[n] = '\0';
        return fsync_path(dir, O_DIRECTORY);
}

static int check_snapshot(const char *path, int *ret_schema, struct sf_err *err)
{
        _cleanup_sqlite_ sqlite3 *db = NULL;
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        const unsigned char *verdict;
        int rc, schema;

        rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL);
        if (rc != SQLITE_OK)
                return sf_err_set(err, store_sql_errno(rc), "cannot open the snapshot '%s': %s", path,
                                  db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        rc = sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL);
        if (rc != SQLITE_OK || sqlite3_step(st) != SQLITE_ROW)
                return sf_err_set(err, -EIO, "snapshot '%s': cannot read its schema version: %s", path,
                                  sqlite3_errmsg(db));
        schema = sqlite3_column_int(st, 0);
        (void) sqlite3_finalize(TAKE_PTR(st));
        rc = sqlite3_prepare_v2(db, "PRAGMA quick_check", -1, &st, NULL);
        if (rc != SQLITE_OK || sqlite3_step(st) != SQLITE_ROW)
                return sf_err_set(err, -EIO, "snapshot '%s': cannot check it: %s", path, sqlite3_errmsg(db));
        verdict = sqlite3_column_text(st, 0);
        if (!verdict || strcmp((const char *) verdict, "ok") != 0)
                return sf_err_set(err, -EBADMSG, "snapshot '%s' fails its check: %s", path,
                                  verdict ? (const char *) verdict : "(no answer)");
        if (ret_schema)
                *ret_schema = schema;
        return 0;
}

int store_backup(const char *db_path, const char *dest_path, int *ret_schema, struct sf_err *err)
{
        _cleanup_sqlite_ sqlite3 *db = NULL;
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int rc, r;

        if (access(db_path, F_OK) < 0)
                return sf_err_errno(err, -errno, "no database at '%s'", db_path);
        /* Read-only: the snapshot can never migrate, checkpoint into or
         * otherwise change the daemon's file. */
        rc = sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL);
        if (rc != SQLITE_OK)
                return sf_err_set(err, store_sql_errno(rc), "cannot open '%s': %s", db_path,
                                  db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        /* A checkpoint or a WAL reset by the daemon can hold the read lock's
         * slot for a moment: wait for it rather than fail. */
        (void) sqlite3_busy_timeout(db, 30000);
        rc = sqlite3_prepare_v2(db, "VACUUM INTO ?1", -1, &st, NULL);
        if (rc == SQLITE_OK)
                rc = sqlite3_bind_text(st, 1, dest_path, -1, SQLITE_STATIC);
        if (rc == SQLITE_OK)
                rc = sqlite3_step(st);
        if (rc != SQLITE_DONE) {
                r = sf_err_set(err, store_sql_errno(rc), "cannot snapshot '%s' into '%s': %s", db_path, dest_path,
                               sqlite3_errmsg(db));
                (void) unlink(dest_path);
                return r;
        }
        /* VACUUM INTO writes without syncing: a backup is for the day the
         * disk or the machine fails, so it is on disk before we say done. */
        if ((r = fsync_path(dest_path, 0)) < 0 || (r = fsync_parent(dest_path)) < 0)
                return sf_err_errno(err, r, "cannot sync '%s'", dest_path);
        return check_snapshot(dest_path, ret_schema, err);
}
