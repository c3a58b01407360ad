/* SPDX-License-Identifier: MIT */
/* The durable async call queue: the async_calls table (store/async.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/cleanup.h"
#include "core/base/util.h"
#include "store/async.h"
#include "store/db_internal.h"

#define CALL_COLUMNS                                                                                           \
        "seq, id, namespace, function, function_name, method, path, query, headers, body, callback_url, state, attempts, "  \
        "created_at, started_at, finished_at, status, duration, result_headers, result_body, callback_state, " \
        "callback_attempts, callback_status, callback_error, callback_next_at, callback_receiver"

/* NULL for SQL NULL, else a copy. *ok is cleared on ENOMEM. */
static char *col_text(sqlite3_stmt *st, int i, bool *ok)
{
        const unsigned char *t = sqlite3_column_text(st, i);
        char *c;
        if (!t)
                return NULL;
        c = strdup((const char *) t);
        if (!c)
                *ok = false;
        return c;
}

/* A blob as a NUL-terminated copy (empty for NULL). */
static char *col_blob(sqlite3_stmt *st, int i, size_t *ret_len, bool *ok)
{
        const void *b = sqlite3_column_blob(st, i);
        size_t n = (size_t) sqlite3_column_bytes(st, i);
        char *c = malloc(n + 1);
        if (!c) {
                *ok = false;
                return NULL;
        }
        if (n)
                memcpy(c, b, n);
        c[n] = '\0';
        *ret_len = n;
        return c;
}

static struct store_async_call *row_to_call(sqlite3_stmt *st)
{
        struct store_async_call *c = calloc(1, sizeof *c);
        bool ok = true;
        if (!c)
                return NULL;
        c->seq = sqlite3_column_int64(st, 0);
        c->id = col_text(st, 1, &ok);
        c->namespace = col_text(st, 2, &ok);
        c->function = col_text(st, 3, &ok);
        c->function_name = col_text(st, 4, &ok);
        c->method = col_text(st, 5, &ok);
        c->path = col_text(st, 6, &ok);
        c->query = col_text(st, 7, &ok);
        c->headers_json = col_text(st, 8, &ok);
        c->body = col_blob(st, 9, &c->body_len, &ok);
        c->callback_url = col_text(st, 10, &ok);
        c->state = col_text(st, 11, &ok);
        c->attempts = sqlite3_column_int(st, 12);
        c->created_at = sqlite3_column_int64(st, 13);
        c->started_at = sqlite3_column_int64(st, 14);
        c->finished_at = sqlite3_column_int64(st, 15);
        c->status = sqlite3_column_int(st, 16);
        c->duration = sqlite3_column_double(st, 17);
        c->result_headers_json = col_text(st, 18, &ok);
        c->result_body = col_blob(st, 19, &c->result_body_len, &ok);
        c->callback_state = col_text(st, 20, &ok);
        c->callback_attempts = sqlite3_column_int(st, 21);
        c->callback_status = sqlite3_column_int(st, 22);
        c->callback_error = col_text(st, 23, &ok);
        c->callback_next_at = sqlite3_column_int64(st, 24);
        c->callback_receiver = col_text(st, 25, &ok);
        if (!ok || !c->id || !c->namespace || !c->function || !c->function_name || !c->method || !c->path || !c->query ||
            !c->headers_json || !c->state) {
                store_async_call_free(c);
                return NULL;
        }
        return c;
}

void store_async_call_free(struct store_async_call *c)
{
        if (!c)
                return;
        free(c->id);
        free(c->namespace);
        free(c->function);
        free(c->function_name);
        free(c->method);
        free(c->path);
        free(c->query);
        free(c->headers_json);
        free(c->body);
        free(c->callback_url);
        free(c->state);
        free(c->result_headers_json);
        free(c->result_body);
        free(c->callback_state);
        free(c->callback_error);
        free(c->callback_receiver);
        free(c);
}

void store_async_call_list_free(struct store_async_call **v)
{
        if (!v)
                return;
        for (struct store_async_call **p = v; *p; p++)
                store_async_call_free(*p);
        free(v);
}

/* Every row of a prepared SELECT of CALL_COLUMNS, NULL-terminated. */
static int collect(sqlite3_stmt *st, struct store_async_call ***ret)
{
        struct store_async_call **v = calloc(1, sizeof *v);
        size_t n = 0;
        int rc;

        if (!v)
                return -ENOMEM;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                struct store_async_call **nv = realloc(v, (n + 2) * sizeof *v);
                if (!nv) {
                        store_async_call_list_free(v);
                        return -ENOMEM;
                }
                v = nv;
                v[n] = row_to_call(st);
                if (!v[n]) {
                        store_async_call_list_free(v);
                        return -ENOMEM;
                }
                v[++n] = NULL;
        }
        if (rc != SQLITE_DONE) {
                store_async_call_list_free(v);
                return store_sql_errno(rc);
        }
        *ret = v;
        return 0;
}

int store_async_insert(struct store *s, const struct store_async_call *c)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = store_sql_prepare(s,
                                  "INSERT INTO async_calls(id, namespace, function, method, path, query, headers, body, "
                                  "callback_url, state, created_at, function_name, callback_receiver) "
                                  "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'queued', ?10, ?11, ?12)",
                                  &st);
        if (r < 0)
                return r;
        sqlite3_bind_text(st, 1, c->id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, c->namespace, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, c->function, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, c->method, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 5, c->path, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 6, c->query, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 7, c->headers_json, -1, SQLITE_STATIC);
        sqlite3_bind_blob64(st, 8, c->body ? c->body : "", c->body ? c->body_len : 0, SQLITE_STATIC);
        if (c->callback_url)
                sqlite3_bind_text(st, 9, c->callback_url, -1, SQLITE_STATIC);
        else
                sqlite3_bind_null(st, 9);
        sqlite3_bind_int64(st, 10, c->created_at ? c->created_at : time_unix_ns());
        sqlite3_bind_text(st, 11, c->function_name, -1, SQLITE_STATIC);
        if (c->callback_receiver)
                sqlite3_bind_text(st, 12, c->callback_receiver, -1, SQLITE_STATIC);
        else
                sqlite3_bind_null(st, 12);
        return store_sql_step_done(st);
}

int store_async_get(struct store *s, const char *id, struct store_async_call **ret)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        struct store_async_call *c;
        int rc, r = store_sql_prepare(s, "SELECT " CALL_COLUMNS " FROM async_calls WHERE id = ?1", &st);
        if (r < 0)
                return r;
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
        if (rc == SQLITE_DONE)
                return -ENOENT;
        if (rc != SQLITE_ROW)
                return store_sql_errno(rc);
        c = row_to_call(st);
        if (!c)
                return -ENOMEM;
        *ret = c;
        return 0;
}

int store_async_recover(struct store *s, int *ret_calls, int *ret_callbacks)
{
        int r, calls, cbs;

        r = store_sql_exec(s, "BEGIN IMMEDIATE");
        if (r < 0)
                return r;
        r = store_sql_exec(s, "UPDATE async_calls SET state = 'queued' WHERE state = 'running'");
        calls = sqlite3_changes(s->db);
        if (r >= 0)
                r = store_sql_exec(s, "UPDATE async_calls SET callback_state = 'pending' WHERE callback_state = 'sending'");
        cbs = sqlite3_changes(s->db);
        if (r >= 0)
                r = store_sql_exec(s, "COMMIT");
        if (r < 0) {
                (void) store_sql_exec(s, "ROLLBACK");
                return r;
        }
        if (ret_calls)
                *ret_calls = calls;
        if (ret_callbacks)
                *ret_callbacks = cbs;
        return 0;
}

int store_async_queued_functions(struct store *s, char ***ret_ns, char ***ret_fn)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        _cleanup_strv_free_ char **ns = calloc(1, sizeof *ns);
        _cleanup_strv_free_ char **fn = calloc(1, sizeof *fn);
        size_t n = 0;
        int rc, r;

        if (!ns || !fn)
                return -ENOMEM;
        r = store_sql_prepare(s,
                              "SELECT namespace, function, MIN(seq) AS first FROM async_calls WHERE state = 'queued' "
                              "GROUP BY namespace, function ORDER BY first",
                              &st);
        if (r < 0)
                return r;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                char **a = realloc(ns, (n + 2) * sizeof *ns), **b;
                if (!a)
                        return -ENOMEM;
                ns = a;
                ns[n] = ns[n + 1] = NULL;
                b = realloc(fn, (n + 2) * sizeof *fn);
                if (!b)
                        return -ENOMEM;
                fn = b;
                fn[n] = fn[n + 1] = NULL;
                ns[n] = strdup((const char *) sqlite3_column_text(st, 0));
                fn[n] = strdup((const char *) sqlite3_column_text(st, 1));
                if (!ns[n] || !fn[n])
                        return -ENOMEM;
                n++;
        }
        if (rc != SQLITE_DONE)
                return store_sql_errno(rc);
        *ret_ns = TAKE_PTR(ns);
        *ret_fn = TAKE_PTR(fn);
        return 0;
}

int store_async_take(struct store *s, const char *ns, const char *fn, size_t max, struct store_async_call ***ret)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL, *up = NULL;
        struct store_async_call **v = NULL;
        int64_t now = time_unix_ns();
        int r;

        r = store_sql_exec(s, "BEGIN IMMEDIATE");
        if (r < 0)
                return r;
        r = store_sql_prepare(s,
                              "SELECT " CALL_COLUMNS " FROM async_calls WHERE state = 'queued' AND namespace = ?1 AND "
                              "function = ?2 ORDER BY seq LIMIT ?3",
                              &st);
        if (r < 0)
                goto fail;
        sqlite3_bind_text(st, 1, ns, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, fn, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, (sqlite3_int64) max);
        r = collect(st, &v);
        if (r < 0)
                goto fail;
        r = store_sql_prepare(s,
                              "UPDATE async_calls SET state = 'running', attempts = attempts + 1, started_at = ?2 "
                              "WHERE id = ?1",
                              &up);
        if (r < 0)
                goto fail;
        for (struct store_async_call **p = v; *p; p++) {
                sqlite3_reset(up);
                sqlite3_bind_text(up, 1, (*p)->id, -1, SQLITE_STATIC);
                sqlite3_bind_int64(up, 2, now);
                r = store_sql_step_done(up);
                if (r < 0)
                        goto fail;
                (*p)->attempts++;
                (*p)->started_at = now;
        }
        r = store_sql_exec(s, "COMMIT");
        if (r < 0)
                goto fail;
        *ret = v;
        return 0;
fail:
        (void) store_sql_exec(s, "ROLLBACK");
        store_async_call_list_free(v);
        return r;
}

int store_async_finish(struct store *s, const char *id, const char *state, int status, double duration,
                       const char *result_headers_json, const char *body, size_t body_len)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int64_t now = time_unix_ns();
        int r = store_sql_prepare(s,
                                  "UPDATE async_calls SET state = ?2, status = ?3, duration = ?4, result_headers = ?5, "
                                  "result_body = ?6, finished_at = ?7, body = x'', callback_state = CASE WHEN "
                                  "callback_url IS NULL THEN NULL ELSE 'pending' END, callback_next_at = ?7 WHERE id = ?1",
                                  &st);
        if (r < 0)
                return r;
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, state, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 3, status);
        sqlite3_bind_double(st, 4, duration);
        sqlite3_bind_text(st, 5, result_headers_json ? result_headers_json : "{}", -1, SQLITE_STATIC);
        sqlite3_bind_blob64(st, 6, body ? body : "", body ? body_len : 0, SQLITE_STATIC);
        sqlite3_bind_int64(st, 7, now);
        return store_sql_step_done(st);
}

int store_async_callbacks_due(struct store *s, int64_t now, size_t max,
                              bool (*pick)(const char *receiver, void *data), void *data,
                              struct store_async_call ***ret)
{
        _cleanup_stmt_ sqlite3_stmt *scan = NULL, *get = NULL, *up = NULL;
        _cleanup_free_ int64_t *seqs = calloc(max ? max : 1, sizeof *seqs);
        struct store_async_call **v = calloc(max + 1, sizeof *v);
        size_t n = 0, got = 0;
        int rc, r;

        if (!seqs || !v) {
                free(v);
                return -ENOMEM;
        }
        r = store_sql_exec(s, "BEGIN IMMEDIATE");
        if (r < 0) {
                free(v);
                return r;
        }
        /* Covered by the async_calls_callbacks index: no row (and none of
         * its bodies) is read for a callback that is not picked. */
        r = store_sql_prepare(s,
                              "SELECT seq, callback_receiver FROM async_calls WHERE callback_state = 'pending' AND "
                              "callback_next_at <= ?1 ORDER BY callback_next_at",
                              &scan);
        if (r < 0)
                goto fail;
        sqlite3_bind_int64(scan, 1, now);
        while (n < max && (rc = sqlite3_step(scan)) == SQLITE_ROW) {
                const unsigned char *rcv = sqlite3_column_text(scan, 1);
                if (!pick || pick(rcv ? (const char *) rcv : "", data))
                        seqs[n++] = sqlite3_column_int64(scan, 0);
        }
        if (n < max && rc != SQLITE_DONE) {
                r = store_sql_errno(rc);
                goto fail;
        }
        r = store_sql_prepare(s, "SELECT " CALL_COLUMNS " FROM async_calls WHERE seq = ?1", &get);
        if (r < 0)
                goto fail;
        r = store_sql_prepare(s, "UPDATE async_calls SET callback_state = 'sending' WHERE seq = ?1", &up);
        if (r < 0)
                goto fail;
        for (size_t i = 0; i < n; i++) {
                sqlite3_reset(get);
                sqlite3_bind_int64(get, 1, seqs[i]);
                rc = sqlite3_step(get);
                if (rc != SQLITE_ROW) {
                        r = store_sql_errno(rc == SQLITE_DONE ? SQLITE_CORRUPT : rc);
                        goto fail;
                }
                v[got] = row_to_call(get);
                if (!v[got]) {
                        r = -ENOMEM;
                        goto fail;
                }
                got++;
                sqlite3_reset(up);
                sqlite3_bind_int64(up, 1, seqs[i]);
                r = store_sql_step_done(up);
                if (r < 0)
                        goto fail;
        }
        r = store_sql_exec(s, "COMMIT");
        if (r < 0)
                goto fail;
        *ret = v;
        return 0;
fail:
        (void) store_sql_exec(s, "ROLLBACK");
        store_async_call_list_free(v);
        return r;
}

int store_async_callback_next(struct store *s, int64_t after, int64_t *ret_at)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int rc, r = store_sql_prepare(s,
                                      "SELECT MIN(callback_next_at) FROM async_calls WHERE callback_state = 'pending' AND "
                                      "callback_next_at > ?1",
                                      &st);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, after);
        rc = sqlite3_step(st);
        if (rc != SQLITE_ROW)
                return store_sql_errno(rc);
        if (sqlite3_column_type(st, 0) == SQLITE_NULL)
                return -ENOENT;
        *ret_at = sqlite3_column_int64(st, 0);
        return 0;
}

int store_async_fill_receivers(struct store *s, int (*key)(const char *url, char *buf, size_t size))
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL, *up = NULL;
        char k[STORE_ASYNC_RECEIVER_MAX];
        int rc, r;

        r = store_sql_exec(s, "BEGIN IMMEDIATE");
        if (r < 0)
                return r;
        r = store_sql_prepare(s,
                              "SELECT seq, callback_url FROM async_calls WHERE callback_url IS NOT NULL AND "
                              "callback_receiver IS NULL AND callback_state IN ('pending', 'sending')",
                              &st);
        if (r >= 0)
                r = store_sql_prepare(s, "UPDATE async_calls SET callback_receiver = ?2 WHERE seq = ?1", &up);
        while (r >= 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
                const unsigned char *url = sqlite3_column_text(st, 1);
                /* A URL that no longer parses still needs a receiver: its own text. */
                if (!url || key((const char *) url, k, sizeof k) < 0)
                        (void) snprintf(k, sizeof k, "%s", url ? (const char *) url : "");
                sqlite3_reset(up);
                sqlite3_bind_int64(up, 1, sqlite3_column_int64(st, 0));
                sqlite3_bind_text(up, 2, k, -1, SQLITE_STATIC);
                r = store_sql_step_done(up);
        }
        if (r >= 0 && rc != SQLITE_DONE)
                r = store_sql_errno(rc);
        if (r >= 0)
                r = store_sql_exec(s, "COMMIT");
        if (r < 0)
                (void) store_sql_exec(s, "ROLLBACK");
        return r;
}

int store_async_queue_totals(struct store *s,
                             void (*each)(const char *ns, const char *fn, uint64_t calls, uint64_t bytes, void *data),
                             void *data)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int rc, r = store_sql_prepare(s,
                                      "SELECT namespace, function, COUNT(*), TOTAL(length(body)) FROM async_calls "
                                      "WHERE state IN ('queued', 'running') GROUP BY namespace, function",
                                      &st);
        if (r < 0)
                return r;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW)
                each((const char *) sqlite3_column_text(st, 0), (const char *) sqlite3_column_text(st, 1),
                     (uint64_t) sqlite3_column_int64(st, 2), (uint64_t) sqlite3_column_double(st, 3), data);
        return rc == SQLITE_DONE ? 0 : store_sql_errno(rc);
}

int store_async_callback_update(struct store *s, const char *id, const char *state, int attempts, int status,
                                const char *error, int64_t next_at, size_t keep_body)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        bool final = strcmp(state, "pending") != 0;
        int r = store_sql_prepare(s,
                                  "UPDATE async_calls SET callback_state = ?2, callback_attempts = ?3, callback_status = ?4, "
                                  "callback_error = ?5, callback_next_at = ?6, result_body = CASE WHEN ?7 AND "
                                  "length(result_body) > ?8 THEN substr(result_body, 1, ?8) ELSE result_body END "
                                  "WHERE id = ?1",
                                  &st);
        if (r < 0)
                return r;
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, state, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 3, attempts);
        sqlite3_bind_int(st, 4, status);
        if (error)
                sqlite3_bind_text(st, 5, error, -1, SQLITE_STATIC);
        else
                sqlite3_bind_null(st, 5);
        sqlite3_bind_int64(st, 6, next_at);
        sqlite3_bind_int(st, 7, final);
        sqlite3_bind_int64(st, 8, (sqlite3_int64) keep_body);
        return store_sql_step_done(st);
}

int store_async_purge(struct store *s, int64_t before, size_t max, size_t *ret_n)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        /* SQLite has no DELETE ... LIMIT by default: choose the rows first
         * (async_calls_finished keeps that a range scan). */
        int r = store_sql_prepare(s,
                                  "DELETE FROM async_calls WHERE seq IN (SELECT seq FROM async_calls WHERE finished_at < ?1 "
                                  "AND state IN ('done', 'failed') AND (callback_state IS NULL OR callback_state IN "
                                  "('delivered', 'failed')) ORDER BY finished_at LIMIT ?2)",
                                  &st);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, before);
        sqlite3_bind_int64(st, 2, (sqlite3_int64) max);
        r = store_sql_step_done(st);
        if (r < 0)
                return r;
        if (ret_n)
                *ret_n = (size_t) sqlite3_changes(s->db);
        return 0;
}

int store_async_count(struct store *s, const char *state, uint64_t *ret)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int rc, r = store_sql_prepare(s, "SELECT COUNT(*) FROM async_calls WHERE state = ?1", &st);
        if (r < 0)
                return r;
        sqlite3_bind_text(st, 1, state, -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
        if (rc != SQLITE_ROW)
                return store_sql_errno(rc);
        *ret = (uint64_t) sqlite3_column_int64(st, 0);
        return 0;
}
