/* SPDX-License-Identifier: MIT */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

static int log_level = LOG_INFO;
static int log_timestamps;
static bool log_journal;

void log_set_level(int level) { log_level = level; }
void log_set_timestamps(int on) { log_timestamps = on; }
bool log_to_journal(void) { return log_journal; }

/* "DEV:INO" as systemd writes $JOURNAL_STREAM (both decimal). */
static bool parse_journal_stream(const char *s, uint64_t *ret_dev, uint64_t *ret_ino)
{
        char dev[32];
        const char *colon = s ? strchr(s, ':') : NULL;

        if (!colon || (size_t) (colon - s) >= sizeof dev)
                return false;
        memcpy(dev, s, (size_t) (colon - s));
        dev[colon - s] = '\0';
        return parse_u64(dev, ret_dev) == 0 && parse_u64(colon + 1, ret_ino) == 0;
}

void log_open(void)
{
        struct stat st;
        uint64_t dev, ino;

        /* systemd sets $JOURNAL_STREAM when it connects stdout/stderr to the
         * journal. Children inherit the variable with other fds on stderr
         * (a shell redirect, a pipe to a test), so it counts only when fd 2
         * is still the very stream it names (sd_journal_stream_fd(3)). */
        log_journal = parse_journal_stream(getenv("JOURNAL_STREAM"), &dev, &ino) &&
                      fstat(STDERR_FILENO, &st) == 0 && (uint64_t) st.st_dev == dev && (uint64_t) st.st_ino == ino;
}

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
        char msg[2048], line[2300];
        char ts[40] = "";
        int n;

        if (level > log_level)
                return;
        (void) vsnprintf(msg, sizeof msg, fmt, ap); /* truncation of a log line is acceptable */
        /* One event, one line: a newline from a name, a path or an error
         * text must not start a second entry (in the journal, one without
         * priority), nor an escape sequence reach the terminal of whoever
         * reads the log. */
        for (char *p = msg; *p; p++)
                if (*p == '\n' || *p == '\r')
                        *p = ' ';
                else if ((unsigned char) *p < 0x20 && *p != '\t')
                        *p = '?';
                else if (*p == 0x7f)
                        *p = '?';
        if (log_journal) {
                /* The journal adds its own timestamp; "<N>" is the priority
                 * (sd-daemon(3)), which `journalctl -p` filters on. */
                if (err != 0)
                        n = snprintf(line, sizeof line, "<%d>%s: %s\n", level & 7, msg, strerror(err < 0 ? -err : err));
                else
                        n = snprintf(line, sizeof line, "<%d>%s\n", level & 7, msg);
        } else {
                if (log_timestamps) {
                        struct timespec now;
                        struct tm tm;
                        (void) clock_gettime(CLOCK_REALTIME, &now);
                        (void) gmtime_r(&now.tv_sec, &tm);
                        (void) strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ ", &tm);
                }
                if (err != 0)
                        n = snprintf(line, sizeof line, "%s%s: %s: %s\n", ts, level_name(level), msg,
                                     strerror(err < 0 ? -err : err));
                else
                        n = snprintf(line, sizeof line, "%s%s: %s\n", ts, level_name(level), msg);
        }
        if (n < 0)
                return;
        if ((size_t) n >= sizeof line) { /* truncated: keep the line ending */
                n = (int) sizeof line - 1;
                line[n - 1] = '\n';
        }
        /* One write per line: lines of threads and of children sharing the
         * stream do not interleave. */
        (void) write_all(STDERR_FILENO, line, (size_t) n);
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
