/* SPDX-License-Identifier: MIT */
/* For store/ files that keep their own tables in the one SQLite connection
 * (store/secrets.c). Not for use outside store/. */
#pragma once

#include <sqlite3.h>

#include "db.h"

sqlite3 *store_sqlite(struct store *s);
/* An SQLite result code as -errno (constraint violations are -EEXIST). */
int store_sql_errno(int rc);
