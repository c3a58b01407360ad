/* SPDX-License-Identifier: MIT */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static int log_level = LOG_INFO;
static int log_timestamps;

void log_set_level(int level) { log_level = level; }
void log_set_timestamps(int on) { log_timestamps = on; }

static const char *level_name(int level)
{
        switch (level) {
        case LOG_EMERG: case LOG_ALERT: case LOG_CRIT: case LOG_ERR: return "error";
        case LOG_WARNING: return "warning";
        case LOG_NOTICE: return "notice";
        case LOG_INFO: return "info";
        default: return "debug";
        }
}

static void log_write(int level, int err, const char *fmt, va_list ap)
{
        char msg[2048];
        char ts[40] = "";

        if (level > log_level)
                return;
        (void) vsnprintf(msg, sizeof msg, fmt, ap); /* truncation of a log line is acceptable */
        if (log_timestamps) {
                struct timespec now;
                struct tm tm;
                (void) clock_gettime(CLOCK_REALTIME, &now);
                (void) gmtime_r(&now.tv_sec, &tm);
                (void) strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ ", &tm);
        }
        if (err != 0)
                fprintf(stderr, "%s%s: %s: %s\n", ts, level_name(level), msg, strerror(err < 0 ? -err : err));
        else
                fprintf(stderr, "%s%s: %s\n", ts, level_name(level), msg);
}

void log_internal(int level, int err, const char *fmt, ...)
{
        va_list ap;
        int saved = errno;
        va_start(ap, fmt);
        log_write(level, err, fmt, ap);
        va_end(ap);
        errno = saved;
}

int log_internal_errno(int level, int err, const char *fmt, ...)
{
        va_list ap;
        int saved = errno;
        va_start(ap, fmt);
        log_write(level, err, fmt, ap);
        va_end(ap);
        errno = saved;
        return err < 0 ? err : -err;
}
