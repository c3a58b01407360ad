/* SPDX-License-Identifier: MIT */
/*
 * Internals shared by the store/ files that keep tables in the one SQLite
 * connection (store/db.c, store/async.c, store/secrets.c): the connection
 * and the SQL helpers of store/db_sql.c, which all of them use. Not for use
 * outside store/: the public interfaces are store/db.h, store/async.h and
 * store/secrets.h.
 *
 * The helpers return >= 0 on success and -errno on failure (an SQLite
 * result code becomes -errno with store_sql_errno()). A failure that is
 * not the caller's input (a statement that does not prepare, an I/O or
 * corruption error) is logged once here with SQLite's own message, which
 * the -errno loses; constraint violations are not logged, they are
 * answers (-EEXIST).
 */
#pragma once

#include <sqlite3.h>

#include "core/base/cleanup.h"
#include "store/db.h"

struct store {
        sqlite3 *db;
};

DEFINE_TRIVIAL_CLEANUP_FUNC(sqlite3_stmt *, sqlite3_finalize)
#define _cleanup_stmt_ _cleanup_(sqlite3_finalizep)

/* An SQLite result code as -errno (constraint violations are -EEXIST,
 * SQLITE_OK, _ROW and _DONE are 0). */
int store_sql_errno(int rc);
/* Run SQL without results (one or more statements). */
int store_sql_exec(struct store *s, const char *sql);
/* Prepare one statement; finalize it with _cleanup_stmt_. */
int store_sql_prepare(struct store *s, const char *sql, sqlite3_stmt **ret);
/* Step a statement that returns no row (INSERT, UPDATE, DELETE). */
int store_sql_step_done(sqlite3_stmt *st);
/* Column i of the current row as a new string ("" for NULL); NULL on ENOMEM. */
char *store_sql_column_strdup(sqlite3_stmt *st, int i);
/* Step st to the end, collecting column 0 of every row (as
 * store_sql_column_strdup()) into a NULL-terminated vector. */
int store_sql_collect_strings(sqlite3_stmt *st, char ***ret);
