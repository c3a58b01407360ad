/* SPDX-License-Identifier: MIT */
/*
 * One logging module for the whole binary. Lower layers return errors; the
 * boundary (a request handler, a command) logs once. Messages are lower-case
 * with the subject in quotes. Not for use between fork and exec.
 */
#pragma once

#include <stdbool.h>
#include <syslog.h>

/* Look at the environment once, at start (main()): when stderr is the
 * journal ($JOURNAL_STREAM names fd 2's device and inode), lines carry a
 * "<N>" priority prefix and no timestamp of their own; otherwise
 * "[TIMESTAMP ]LEVEL: message". Before it is called, the latter. */
void log_open(void);
bool log_to_journal(void);

/* Minimum level printed (LOG_ERR..LOG_DEBUG); default LOG_INFO. */
void log_set_level(int level);
/* Prefix every line with an ISO timestamp (daemon) or not (CLI); never in
 * the journal, which keeps its own. */
void log_set_timestamps(int on);

void log_internal(int level, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Log and return the negative errno, so the caller can write
 * `return log_error_errno(r, "cannot open '%s'", p);` */
int log_internal_errno(int level, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#define log_debug(...) log_internal(LOG_DEBUG, 0, __VA_ARGS__)
#define log_info(...) log_internal(LOG_INFO, 0, __VA_ARGS__)
#define log_notice(...) log_internal(LOG_NOTICE, 0, __VA_ARGS__)
#define log_warning(...) log_internal(LOG_WARNING, 0, __VA_ARGS__)
#define log_error(...) log_internal(LOG_ERR, 0, __VA_ARGS__)
#define log_error_errno(r, ...) log_internal_errno(LOG_ERR, (r), __VA_ARGS__)
#define log_warning_errno(r, ...) log_internal_errno(LOG_WARNING, (r), __VA_ARGS__)
