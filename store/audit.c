/* SPDX-License-Identifier: MIT */
/* The hash-chained audit trail (store/audit.h). */
#include <errno.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/cleanup.h"
#include "core/base/util.h"
#include "store/audit.h"
#include "store/db_internal.h"

#define GENESIS "0000000000000000000000000000000000000000000000000000000000000000"
#define AUDIT_COLUMNS "seq, time, actor, tenant, credential, address, method, path, status, detail, prev_hash, hash"

void store_audit_record_free(struct store_audit_record *r)
{
        if (!r)
                return;
        free(r->actor);
        free(r->tenant);
        free(r->credential);
        free(r->address);
        free(r->method);
        free(r->path);
        free(r->detail);
        free(r);
}

void store_audit_list_free(struct store_audit_record **v)
{
        if (!v)
                return;
        for (struct store_audit_record **p = v; *p; p++)
                store_audit_record_free(*p);
        free(v);
}

static const char *or_empty(const char *s)
{
        return s ? s : "";
}

static int field(EVP_MD_CTX *ctx, const char *s, size_t n)
{
        char len[32];
        int k = snprintf(len, sizeof len, "%zu:", n);
        if (k < 0 || (size_t) k >= sizeof len)
                return -EINVAL;
        return EVP_DigestUpdate(ctx, len, (size_t) k) == 1 && EVP_DigestUpdate(ctx, s, n) == 1 ? 0 : -EIO;
}

static int field_str(EVP_MD_CTX *ctx, const char *s)
{
        return field(ctx, or_empty(s), strlen(or_empty(s)));
}

static int field_num(EVP_MD_CTX *ctx, int64_t v)
{
        char num[32];
        int k = snprintf(num, sizeof num, "%" PRId64, v);
        if (k < 0 || (size_t) k >= sizeof num)
                return -EINVAL;
        return field(ctx, num, (size_t) k);
}

/* The record's hash from prev (64 hex) and its fields, as hex into out. */
static int record_hash(const struct store_audit_record *r, const char *prev, char out[STORE_AUDIT_HASH_HEX])
{
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int n = 0;
        int ret = -EIO;

        if (!ctx)
                return -ENOMEM;
        if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1 || EVP_DigestUpdate(ctx, prev, strlen(prev)) != 1)
                goto out;
        if ((ret = field_num(ctx, r->seq)) < 0 || (ret = field_num(ctx, r->time)) < 0 ||
            (ret = field_str(ctx, r->actor)) < 0 || (ret = field_str(ctx, r->tenant)) < 0 ||
            (ret = field_str(ctx, r->credential)) < 0 || (ret = field_str(ctx, r->address)) < 0 ||
            (ret = field_str(ctx, r->method)) < 0 || (ret = field_str(ctx, r->path)) < 0 ||
            (ret = field_num(ctx, r->status)) < 0 || (ret = field_str(ctx, r->detail)) < 0)
                goto out;
        ret = -EIO;
        if (EVP_DigestFinal_ex(ctx, md, &n) != 1 || n != 32)
                goto out;
        hex_encode(md, n, out);
        ret = 0;
out:
        EVP_MD_CTX_free(ctx);
        return ret;
}

int store_audit_append(struct store *s, struct store_audit_record *rec)
{
        _cleanup_stmt_ sqlite3_stmt *last = NULL;
        _cleanup_stmt_ sqlite3_stmt *ins = NULL;
        char prev[STORE_AUDIT_HASH_HEX] = GENESIS;
        int64_t seq = 1;
        int r, rc;

        r = store_sql_exec(s, "BEGIN IMMEDIATE");
        if (r < 0)
                return r;
        r = store_sql_prepare(s, "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1", &last);
        if (r < 0)
                goto fail;
        rc = sqlite3_step(last);
        if (rc == SQLITE_ROW) {
                const unsigned char *h = sqlite3_column_text(last, 1);
                seq = sqlite3_column_int64(last, 0) + 1;
                if (!h || strlen((const char *) h) != 64) {
                        r = -EBADMSG;
                        goto fail;
                }
                memcpy(prev, h, 65);
        } else if (rc != SQLITE_DONE) {
                r = store_sql_errno(rc);
                goto fail;
        }
        rec->seq = seq;
        rec->time = time_unix_ns();
        memcpy(rec->prev_hash, prev, sizeof prev);
        r = record_hash(rec, prev, rec->hash);
        if (r < 0)
                goto fail;
        r = store_sql_prepare(s, "INSERT INTO audit(" AUDIT_COLUMNS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                              &ins);
        if (r < 0)
                goto fail;
        sqlite3_bind_int64(ins, 1, rec->seq);
        sqlite3_bind_int64(ins, 2, rec->time);
        sqlite3_bind_text(ins, 3, or_empty(rec->actor), -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 4, or_empty(rec->tenant), -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 5, or_empty(rec->credential), -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 6, or_empty(rec->address), -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 7, or_empty(rec->method), -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 8, or_empty(rec->path), -1, SQLITE_STATIC);
        sqlite3_bind_int(ins, 9, rec->status);
        sqlite3_bind_text(ins, 10, or_empty(rec->detail), -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 11, rec->prev_hash, -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 12, rec->hash, -1, SQLITE_STATIC);
        r = store_sql_step_done(ins);
        if (r < 0)
                goto fail;
        return store_sql_exec(s, "COMMIT");
fail:
        (void) store_sql_exec(s, "ROLLBACK");
        return r;
}

static int record_from_row(sqlite3_stmt *st, struct store_audit_record **ret)
{
        struct store_audit_record *r = calloc(1, sizeof *r);
        const unsigned char *h;

        if (!r)
                return -ENOMEM;
        r->seq = sqlite3_column_int64(st, 0);
        r->time = sqlite3_column_int64(st, 1);
        r->actor = store_sql_column_strdup(st, 2);
        r->tenant = store_sql_column_strdup(st, 3);
        r->credential = store_sql_column_strdup(st, 4);
        r->address = store_sql_column_strdup(st, 5);
        r->method = store_sql_column_strdup(st, 6);
        r->path = store_sql_column_strdup(st, 7);
        r->status = sqlite3_column_int(st, 8);
        r->detail = store_sql_column_strdup(st, 9);
        h = sqlite3_column_text(st, 10);
        (void) xsnprintf(r->prev_hash, sizeof r->prev_hash, "%s", h ? (const char *) h : "");
        h = sqlite3_column_text(st, 11);
        (void) xsnprintf(r->hash, sizeof r->hash, "%s", h ? (const char *) h : "");
        if (!r->actor || !r->tenant || !r->credential || !r->address || !r->method || !r->path || !r->detail) {
                store_audit_record_free(r);
                return -ENOMEM;
        }
        *ret = r;
        return 0;
}

int store_audit_list(struct store *s, const char *tenant, int64_t after, size_t limit,
                     struct store_audit_record ***ret)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        struct store_audit_record **v;
        size_t n = 0;
        int r, rc;

        r = store_sql_prepare(s,
                              "SELECT " AUDIT_COLUMNS " FROM audit WHERE seq > ?1 AND (?2 IS NULL OR tenant = ?2) "
                              "ORDER BY seq LIMIT ?3",
                              &st);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, after);
        if (tenant)
                sqlite3_bind_text(st, 2, tenant, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, (sqlite3_int64) limit);
        v = calloc(1, sizeof *v);
        if (!v)
                return -ENOMEM;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                struct store_audit_record **nv = realloc(v, (n + 2) * sizeof *v);
                if (!nv) {
                        store_audit_list_free(v);
                        return -ENOMEM;
                }
                v = nv;
                v[n] = NULL;
                r = record_from_row(st, &v[n]);
                if (r < 0) {
                        store_audit_list_free(v);
                        return r;
                }
                v[++n] = NULL;
        }
        if (rc != SQLITE_DONE) {
                store_audit_list_free(v);
                return store_sql_errno(rc);
        }
        *ret = v;
        return 0;
}

int store_audit_verify_file(const char *db_path, struct store_audit_verify *ret, struct sf_err *err)
{
        sqlite3 *db = NULL;
        sqlite3_stmt *st = NULL;
        char prev[STORE_AUDIT_HASH_HEX] = GENESIS;
        int64_t want_seq = 1;
        int rc, r = 0;

        memset(ret, 0, sizeof *ret);
        rc = sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL);
        if (rc != SQLITE_OK) {
                r = sf_err_set(err, store_sql_errno(rc), "cannot open database '%s': %s", db_path,
                               db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
                goto out;
        }
        (void) sqlite3_busy_timeout(db, 5000);
        rc = sqlite3_prepare_v2(db, "SELECT " AUDIT_COLUMNS " FROM audit ORDER BY seq", -1, &st, NULL);
        if (rc != SQLITE_OK) {
                r = sf_err_set(err, -ENOENT, "database '%s' has no audit table: %s", db_path, sqlite3_errmsg(db));
                goto out;
        }
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                struct store_audit_record *rec = NULL;
                char want[STORE_AUDIT_HASH_HEX];
                const char *why = NULL;

                r = record_from_row(st, &rec);
                if (r < 0) {
                        sf_err_set(err, r, "out of memory");
                        goto out;
                }
                ret->records++;
                if (rec->seq != want_seq)
                        why = "a record is missing before it (sequence gap)";
                else if (strcmp(rec->prev_hash, prev) != 0)
                        why = "its previous hash is not the hash of the record before it";
                else if (record_hash(rec, prev, want) < 0 || strcmp(want, rec->hash) != 0)
                        why = "its fields do not match its hash (changed after it was written)";
                if (why) {
                        ret->bad_seq = rec->seq ? rec->seq : -1;
                        sf_err_set(err, -EBADMSG, "audit record %" PRId64 " breaks the chain: %s", rec->seq, why);
                        store_audit_record_free(rec);
                        r = 0;
                        goto out;
                }
                memcpy(prev, rec->hash, sizeof prev);
                ret->head_seq = rec->seq;
                want_seq = rec->seq + 1;
                store_audit_record_free(rec);
        }
        if (rc != SQLITE_DONE) {
                r = sf_err_set(err, store_sql_errno(rc), "cannot read the audit table: %s", sqlite3_errmsg(db));
                goto out;
        }
        if (ret->records)
                memcpy(ret->head, prev, sizeof prev);
        r = 0;
out:
        sqlite3_finalize(st);
        sqlite3_close(db);
        return r;
}
