/* SPDX-License-Identifier: MIT */
/* The SQL helpers of the store/ tables (store/db_internal.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/cleanup.h"
#include "core/base/log.h"
#include "store/db_internal.h"

int store_sql_errno(int rc)
{
        switch (rc & 0xff) {
        case SQLITE_OK: case SQLITE_DONE: case SQLITE_ROW: return 0;
        case SQLITE_NOMEM: return -ENOMEM;
        case SQLITE_BUSY: case SQLITE_LOCKED: return -EBUSY;
        case SQLITE_CONSTRAINT: return -EEXIST;
        case SQLITE_FULL: return -ENOSPC;
        case SQLITE_READONLY: case SQLITE_PERM: case SQLITE_AUTH: return -EACCES;
        case SQLITE_CANTOPEN: return -ENOENT;
        case SQLITE_TOOBIG: return -EFBIG;
        default: return -EIO;
        }
}

int store_sql_exec(struct store *s, const char *sql)
{
        char *msg = NULL;
        int rc = sqlite3_exec(s->db, sql, NULL, NULL, &msg);

        if (rc != SQLITE_OK) {
                log_error("sqlite: %s", msg ? msg : sqlite3_errstr(rc));
                sqlite3_free(msg);
                return store_sql_errno(rc);
        }
        return 0;
}

int store_sql_prepare(struct store *s, const char *sql, sqlite3_stmt **ret)
{
        int rc = sqlite3_prepare_v2(s->db, sql, -1, ret, NULL);

        if (rc != SQLITE_OK) {
                log_error("sqlite: cannot prepare '%s': %s", sql, sqlite3_errmsg(s->db));
                return store_sql_errno(rc);
        }
        return 0;
}

int store_sql_step_done(sqlite3_stmt *st)
{
        int rc = sqlite3_step(st);

        if (rc == SQLITE_DONE)
                return 0;
        if ((rc & 0xff) != SQLITE_CONSTRAINT)
                log_error("sqlite: %s", sqlite3_errmsg(sqlite3_db_handle(st)));
        return store_sql_errno(rc);
}

char *store_sql_column_strdup(sqlite3_stmt *st, int i)
{
        const unsigned char *t = sqlite3_column_text(st, i);

        return strdup(t ? (const char *) t : "");
}

int store_sql_collect_strings(sqlite3_stmt *st, char ***ret)
{
        _cleanup_strv_free_ char **v = NULL;
        size_t n = 0, cap = 0;
        int rc;

        v = calloc(1, sizeof *v);
        if (!v)
                return -ENOMEM;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                if (n + 1 >= cap) {
                        char **nv;
                        cap = cap ? cap * 2 : 8;
                        nv = realloc(v, cap * sizeof *v);
                        if (!nv)
                                return -ENOMEM;
                        v = nv;
                }
                v[n] = store_sql_column_strdup(st, 0);
                if (!v[n])
                        return -ENOMEM;
                v[++n] = NULL;
        }
        if (rc != SQLITE_DONE)
                return store_sql_errno(rc);
        *ret = TAKE_PTR(v);
        return 0;
}
