/* SPDX-License-Identifier: MIT */
/*
 * The audit trail: every control-plane change and every refused request,
 * appended to the `audit` table (store/audit.c). Tamper-evident: each
 * record carries the SHA-256 of its own fields and of the previous
 * record's hash, so changing, removing or inserting a record anywhere but
 * at the end breaks the chain, which store_audit_verify_file() walks (the
 * command `sfaasd audit verify`). Cutting records off the end leaves a
 * valid, shorter chain: keep the head (seq and hash, printed by verify)
 * somewhere else to notice that.
 *
 * The hash of a record is SHA-256 over the previous record's hash (64 hex
 * digits; 64 zeros before the first) and then each field as its decimal
 * length, ':' and its bytes, in this order: seq, time, actor, tenant,
 * credential, address, method, path, status, detail.
 *
 * Loop thread only (append, list); verify opens its own read-only
 * connection, so it also runs beside a live daemon.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/base/error.h"
#include "store/db.h"

#define STORE_AUDIT_HASH_HEX 65 /* 64 hex digits and a NUL */

struct store_audit_record {
        int64_t seq;             /* 1, 2, ...: set by append */
        int64_t time;            /* unix nanoseconds: set by append */
        char *actor;             /* "admin", "tenant", "anonymous", "invalid" */
        char *tenant;            /* the namespace the record belongs to ("" for none) */
        char *credential;        /* "password", a token id, or "" */
        char *address;           /* the client's address */
        char *method;
        char *path;              /* path and query as received (at most 1 KiB) */
        int status;              /* the answer's HTTP status */
        char *detail;            /* what, or why refused */
        char prev_hash[STORE_AUDIT_HASH_HEX];
        char hash[STORE_AUDIT_HASH_HEX];
};
void store_audit_record_free(struct store_audit_record *r);
void store_audit_list_free(struct store_audit_record **v);

/* Append rec (its text fields; NULL is ""): seq, time and the hashes are
 * set in rec on success. Committed before it returns. */
int store_audit_append(struct store *s, struct store_audit_record *rec);
/* Records with seq > after, oldest first, at most limit; of tenant only
 * (NULL: all). NULL-terminated. */
int store_audit_list(struct store *s, const char *tenant, int64_t after, size_t limit,
                     struct store_audit_record ***ret);

struct store_audit_verify {
        uint64_t records;                  /* how many were checked */
        int64_t bad_seq;                   /* 0: the chain holds; else the first record that breaks it */
        char head[STORE_AUDIT_HASH_HEX];   /* the last record's hash ("" when none) */
        int64_t head_seq;
};
/* Walk the chain of the database at db_path (read-only). 0 with
 * ret->bad_seq set when the chain is broken (err says how); -errno when
 * the database cannot be read. */
int store_audit_verify_file(const char *db_path, struct store_audit_verify *ret, struct sf_err *err);
