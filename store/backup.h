/* SPDX-License-Identifier: MIT */
/*
 * A consistent copy of the state database while the daemon runs and writes
 * to it (`sfaasd backup`, the package's pre-upgrade backup).
 */
#pragma once

#include "../core/base/error.h"

/* Write a snapshot of the database at db_path to dest_path (which must not
 * exist) and sync it to disk. The snapshot is taken by VACUUM INTO on a
 * read-only connection of its own, inside one read transaction: in WAL mode
 * it neither waits for the daemon's writers nor blocks them, and it holds
 * every transaction committed before it began and none after. It is then
 * opened and checked (PRAGMA quick_check). *ret_schema (may be NULL): the
 * snapshot's schema version (PRAGMA user_version). The source is never
 * migrated or written. */
int store_backup(const char *db_path, const char *dest_path, int *ret_schema, struct sf_err *err);
