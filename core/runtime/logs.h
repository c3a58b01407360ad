/* SPDX-License-Identifier: MIT */
/*
 * Function logs: what a function wrote to stderr (one record per line,
 * instance = the call id in exec mode) and the daemon's lines about it,
 * kept per function in DATA/logs/<namespace>/<name>.ndjson with a size cap
 * (one rotated generation, .ndjson.1). Records are stored in the exact
 * wire format of GET /system/logs (OpenFaaS logs.Message):
 *   {"name","namespace","instance","timestamp","text"}
 * with RFC 3339 UTC timestamps of fixed width (nanoseconds), so that
 * "since" compares as text. Followers (follow=true) get new records as they
 * are appended. Loop thread only.
 */
#pragma once

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "core/http/server.h"

struct sfaasd;
struct log_follower;

#define LOGS_OPEN_MAX 32
#define LOGS_PATH_MAX (PATH_MAX + 2 * 64 + 32) /* DATA/logs/NS/NAME.ndjson.1 */

/* An open log file (a warm instance may log a line per request: opening
 * the file for each would cost four system calls a line). */
struct log_file {
        char ns[64], name[64];
        int fd;                       /* -1: free slot */
        uint64_t size;
        uint64_t used;                /* for least-recently-used eviction */
};

struct logs {
        char dir[PATH_MAX];           /* DATA/logs */
        size_t cap_bytes;             /* per generation */
        struct log_follower *followers;
        struct log_file files[LOGS_OPEN_MAX];
        uint64_t tick;
};

int logs_init(struct logs *l, const char *data_dir, size_t cap_bytes);
/* End every follower's stream (shutdown). */
void logs_shutdown(struct logs *l);

/* Append text (may hold many lines; a trailing partial line is kept as a
 * line). Lines longer than 16 KiB are cut. Best effort: a failure to log
 * never fails the caller's work. */
void logs_append(struct logs *l, const char *ns, const char *name, const char *instance, const char *text,
                 size_t len);
/* Append one daemon line ("sfaasd: ..."), printf-style. */
void logs_daemon(struct logs *l, const char *ns, const char *name, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
/* Forget a function's logs (after it is deleted). */
void logs_remove(struct logs *l, const char *ns, const char *name);

/* Write the stored records of a function to req, whose stream has begun:
 * those of instance (all when "") at or after since (all when ""), the last
 * tail of them when tail > 0. Returns what the last stream write did. */
int logs_write_stored(struct logs *l, struct http_request *req, const char *ns, const char *name,
                      const char *instance, const char *since, long tail);
/* Keep req's stream open and write the function's new records (of instance,
 * all when "") to it as they are appended, until the client goes, falls
 * more than 1 MiB behind, or logs_shutdown(). -ENOMEM: the caller ends it. */
int logs_follow(struct logs *l, struct http_request *req, const char *ns, const char *name, const char *instance);
