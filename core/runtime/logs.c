/* SPDX-License-Identifier: MIT */
#include "core/model/group.h"
#include "core/runtime/logs.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/base/cleanup.h"
#include "core/base/log.h"
#include "core/base/timefmt.h"
#include "core/base/util.h"
#include "core/sfaasd.h"

#define LOG_LINE_MAX 16384
/* A follower further behind than this is dropped: a slow reader must not
 * make the daemon buffer without bound. */
#define FOLLOWER_MAX_PENDING (1u << 20)

struct log_follower {
        struct log_follower *next;
        struct logs *logs;
        struct http_request *req;
        char ns[FN_NAME_MAX], name[FN_NAME_MAX], instance[128];
};

int logs_init(struct logs *l, const char *data_dir, size_t cap_bytes)
{
        int r = xsnprintf(l->dir, sizeof l->dir, "%s/logs", data_dir);
        if (r < 0)
                return r;
        l->cap_bytes = cap_bytes ? cap_bytes : (1u << 20);
        l->followers = NULL;
        for (size_t i = 0; i < LOGS_OPEN_MAX; i++)
                l->files[i].fd = -1;
        if (mkdir(l->dir, 0700) < 0 && errno != EEXIST)
                return -errno;
        return 0;
}

static void follower_drop(struct log_follower *f)
{
        struct log_follower **pp;
        for (pp = &f->logs->followers; *pp; pp = &(*pp)->next)
                if (*pp == f) {
                        *pp = f->next;
                        break;
                }
        f->req->data = NULL;
        f->req->on_abort = NULL;
        http_stream_end(f->req);
        free(f);
}

void logs_shutdown(struct logs *l)
{
        while (l->followers)
                follower_drop(l->followers);
}

static int log_path(const struct logs *l, const char *ns, const char *name, const char *suffix, char *buf,
                    size_t size)
{
        return xsnprintf(buf, size, "%s/%s/%s.ndjson%s", l->dir, ns, name, suffix);
}

/* Fixed-width RFC 3339 UTC: 2026-01-02T03:04:05.123456789Z (compares as text). */
static void timestamp_now(char out[TIME_RFC3339_MAX])
{
        time_rfc3339(time_unix_ns(), 9, out);
}

/* A JSON string of bytes that may not be UTF-8. */
static json_t *json_text(const char *s, size_t n)
{
        json_t *v = json_stringn(s, n);
        _cleanup_free_ char *copy = NULL;
        if (v)
                return v;
        copy = malloc(n ? n : 1);
        if (!copy)
                return NULL;
        for (size_t i = 0; i < n; i++)
                copy[i] = ((unsigned char) s[i] >= 0x80 || s[i] == '\0') ? '?' : s[i];
        return json_stringn(copy, n);
}

static void notify_followers(struct logs *l, const char *ns, const char *name, const char *instance,
                             const char *line, size_t len)
{
        struct log_follower *f = l->followers, *next;
        for (; f; f = next) {
                next = f->next;
                if (strcmp(f->ns, ns) != 0 || strcmp(f->name, name) != 0 ||
                    (f->instance[0] && strcmp(f->instance, instance) != 0))
                        continue;
                if (http_stream_write(f->req, line, len) < 0 || http_stream_pending(f->req) > FOLLOWER_MAX_PENDING)
                        follower_drop(f);
        }
}

/* One record, newline-terminated, in *ret (malloc'ed). */
static int format_record(const char *ns, const char *name, const char *instance, const char *text, size_t len,
                         char **ret, size_t *ret_len)
{
        char ts[TIME_RFC3339_MAX];
        json_t *o;
        char *line;
        size_t n;

        timestamp_now(ts);
        o = json_pack("{s:s,s:s,s:s,s:s,s:o*}", "name", name, "namespace", ns, "instance", instance, "timestamp",
                      ts, "text", json_text(text, len));
        if (!o)
                return -ENOMEM;
        line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
        json_decref(o);
        if (!line)
                return -ENOMEM;
        n = strlen(line);
        line[n++] = '\n'; /* json_dumps leaves room: the NUL is replaced, length is explicit */
        *ret = line;
        *ret_len = n;
        return 0;
}

static void file_close(struct log_file *f)
{
        if (f->fd >= 0)
                (void) close(f->fd);
        f->fd = -1;
        f->ns[0] = f->name[0] = '\0';
}

/* The function's log file, from the cache or opened (least recently used
 * one evicted). NULL when it cannot be opened. */
static struct log_file *file_get(struct logs *l, const char *ns, const char *name)
{
        struct log_file *f, *victim = &l->files[0];
        char path[4200], dir[4200];
        struct stat st;

        for (size_t i = 0; i < LOGS_OPEN_MAX; i++) {
                f = &l->files[i];
                if (f->fd >= 0 && strcmp(f->name, name) == 0 && strcmp(f->ns, ns) == 0) {
                        f->used = ++l->tick;
                        return f;
                }
                if (f->fd < 0 || (victim->fd >= 0 && f->used < victim->used))
                        victim = f;
        }
        file_close(victim);
        if (xsnprintf(dir, sizeof dir, "%s/%s", l->dir, ns) < 0 || log_path(l, ns, name, "", path, sizeof path) < 0)
                return NULL;
        if (mkdir(dir, 0700) < 0 && errno != EEXIST)
                return NULL;
        victim->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (victim->fd < 0)
                return NULL;
        if (fstat(victim->fd, &st) < 0) {
                file_close(victim);
                return NULL;
        }
        victim->size = (uint64_t) st.st_size;
        (void) xsnprintf(victim->ns, sizeof victim->ns, "%s", ns);
        (void) xsnprintf(victim->name, sizeof victim->name, "%s", name);
        victim->used = ++l->tick;
        return victim;
}

/* Append n bytes of whole records, rotating whenever the next records
 * would pass the cap (a batch is cut at record boundaries). */
static void file_write(struct logs *l, const char *ns, const char *name, const char *data, size_t n)
{
        while (n > 0) {
                struct log_file *f = file_get(l, ns, name);
                size_t take = n;
                if (!f)
                        return;
                if (f->size + n > l->cap_bytes) {
                        /* The whole records that still fit; at least one into an empty file. */
                        size_t room = f->size < l->cap_bytes ? l->cap_bytes - f->size : 0, fit = 0;
                        const char *p = data, *end = data + n;
                        while (p < end) {
                                const char *nl = memchr(p, '\n', (size_t) (end - p));
                                size_t rl = nl ? (size_t) (nl - p) + 1 : (size_t) (end - p);
                                if (fit + rl > room && !(fit == 0 && f->size == 0))
                                        break;
                                fit += rl;
                                p += rl;
                                if (f->size == 0 && fit >= room)
                                        break;
                        }
                        take = fit;
                }
                if (take > 0) {
                        if (write_all(f->fd, data, take) < 0)
                                return;
                        f->size += take;
                        data += take;
                        n -= take;
                }
                if (n > 0) {
                        char path[LOGS_PATH_MAX], old[LOGS_PATH_MAX];
                        /* Keep one older generation: at most twice the cap per function. */
                        if (log_path(l, ns, name, "", path, sizeof path) < 0 ||
                            log_path(l, ns, name, ".1", old, sizeof old) < 0 || rename(path, old) < 0)
                                return;
                        file_close(f);
                }
        }
}

static void append_record(struct logs *l, const char *ns, const char *name, const char *instance, const char *text,
                          size_t len)
{
        char *line;
        size_t n;

        if (format_record(ns, name, instance, text, len, &line, &n) < 0)
                return;
        file_write(l, ns, name, line, n);
        notify_followers(l, ns, name, instance, line, n);
        free(line);
}

void logs_append(struct logs *l, const char *ns, const char *name, const char *instance, const char *text,
                 size_t len)
{
        const char *p = text, *end = text + len;
        char *batch = NULL;
        size_t blen = 0, bcap = 0;

        /* Every line of one read in one write. */
        while (p < end) {
                const char *nl = memchr(p, '\n', (size_t) (end - p));
                size_t n = nl ? (size_t) (nl - p) : (size_t) (end - p), rn;
                char *rec;
                if (format_record(ns, name, instance, p, n > LOG_LINE_MAX ? LOG_LINE_MAX : n, &rec, &rn) == 0) {
                        notify_followers(l, ns, name, instance, rec, rn);
                        if (blen + rn > bcap) {
                                size_t nc = bcap ? bcap * 2 : 4096;
                                char *nb;
                                while (nc < blen + rn)
                                        nc *= 2;
                                nb = realloc(batch, nc);
                                if (!nb) {
                                        file_write(l, ns, name, rec, rn);
                                        free(rec);
                                        p += n + (nl ? 1 : 0);
                                        continue;
                                }
                                batch = nb;
                                bcap = nc;
                        }
                        memcpy(batch + blen, rec, rn);
                        blen += rn;
                        free(rec);
                }
                p += n + (nl ? 1 : 0);
        }
        if (blen)
                file_write(l, ns, name, batch, blen);
        free(batch);
}

void logs_daemon(struct logs *l, const char *ns, const char *name, const char *fmt, ...)
{
        char msg[1024];
        va_list ap;
        int n;
        va_start(ap, fmt);
        n = vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        if (n < 0)
                return;
        append_record(l, ns, name, "sfaasd", msg, strlen(msg));
}

void logs_remove(struct logs *l, const char *ns, const char *name)
{
        char path[LOGS_PATH_MAX];
        for (size_t i = 0; i < LOGS_OPEN_MAX; i++)
                if (l->files[i].fd >= 0 && strcmp(l->files[i].name, name) == 0 && strcmp(l->files[i].ns, ns) == 0)
                        file_close(&l->files[i]);
        if (log_path(l, ns, name, "", path, sizeof path) >= 0)
                (void) unlink(path);
        if (log_path(l, ns, name, ".1", path, sizeof path) >= 0)
                (void) unlink(path);
}

static void follower_aborted(struct http_request *req)
{
        struct log_follower *f = req->data;
        if (f)
                follower_drop(f);
        else
                http_stream_end(req);
}

/* Append the matching records of one file to out (a growing buffer of lines). */
static void collect(const char *path, const char *instance, const char *since, char ***lines, size_t *n,
                    char **bufs, size_t *nbufs)
{
        char *data = NULL;
        size_t len = 0;
        char *p, *nl;

        if (read_file_at(AT_FDCWD, path, 64u << 20, &data, &len) < 0)
                return;
        bufs[(*nbufs)++] = data;
        for (p = data; p < data + len; p = nl + 1) {
                json_t *o;
                const char *inst, *ts;
                char **nv;
                nl = memchr(p, '\n', (size_t) (data + len - p));
                if (!nl)
                        break;
                *nl = '\0';
                o = json_loads(p, 0, NULL);
                inst = json_string_value(json_object_get(o, "instance"));
                ts = json_string_value(json_object_get(o, "timestamp"));
                if (o && inst && ts && (!*instance || strcmp(inst, instance) == 0) &&
                    (!*since || strcmp(ts, since) >= 0) && (nv = realloc(*lines, (*n + 1) * sizeof **lines))) {
                        *lines = nv;
                        (*lines)[(*n)++] = p;
                }
                json_decref(o);
        }
}

int logs_write_stored(struct logs *l, struct http_request *req, const char *ns, const char *name,
                      const char *instance, const char *since, long tail)
{
        char path[LOGS_PATH_MAX];
        char **lines = NULL, *bufs[2] = { NULL, NULL };
        size_t n = 0, nbufs = 0, first = 0;
        int r = 0;

        if (log_path(l, ns, name, ".1", path, sizeof path) >= 0)
                collect(path, instance, since, &lines, &n, bufs, &nbufs);
        if (log_path(l, ns, name, "", path, sizeof path) >= 0)
                collect(path, instance, since, &lines, &n, bufs, &nbufs);
        if (tail > 0 && (size_t) tail < n)
                first = n - (size_t) tail;
        for (size_t i = first; r >= 0 && i < n; i++) {
                size_t len = strlen(lines[i]);
                lines[i][len] = '\n'; /* the NUL put there by collect() */
                r = http_stream_write(req, lines[i], len + 1);
        }
        free(lines);
        free(bufs[0]);
        free(bufs[1]);
        return r;
}

int logs_follow(struct logs *l, struct http_request *req, const char *ns, const char *name, const char *instance)
{
        struct log_follower *f = calloc(1, sizeof *f);

        if (!f)
                return -ENOMEM;
        f->logs = l;
        f->req = req;
        (void) xsnprintf(f->ns, sizeof f->ns, "%s", ns);
        (void) xsnprintf(f->name, sizeof f->name, "%s", name);
        (void) xsnprintf(f->instance, sizeof f->instance, "%s", instance);
        req->data = f;
        req->on_abort = follower_aborted;
        f->next = l->followers;
        l->followers = f;
        return 0;
}
