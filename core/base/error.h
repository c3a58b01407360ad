/* SPDX-License-Identifier: MIT */
/*
 * Error convention: functions return int, >= 0 on success and -errno on
 * failure. Where a human needs the reason (a bad manifest, a failed sandbox
 * step), the function also takes a `struct sf_err *err` (may be NULL) and
 * fills it with a message; the boundary prints or returns that message.
 */
#pragma once

#include <stddef.h>

struct sf_err {
        int code;        /* negative errno, 0 when unset */
        char msg[512];   /* human text, no trailing newline */
};

/* Fill err (if not NULL) and return code (a negative errno). */
int sf_err_set(struct sf_err *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Same, with ": strerror(code)" appended. */
int sf_err_errno(struct sf_err *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void sf_err_clear(struct sf_err *err);
