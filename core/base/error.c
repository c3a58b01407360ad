/* SPDX-License-Identifier: MIT */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int sf_err_set(struct sf_err *err, int code, const char *fmt, ...)
{
        va_list ap;
        if (err) {
                err->code = code;
                va_start(ap, fmt);
                (void) vsnprintf(err->msg, sizeof err->msg, fmt, ap);
                va_end(ap);
        }
        return code;
}

int sf_err_errno(struct sf_err *err, int code, const char *fmt, ...)
{
        va_list ap;
        if (err) {
                size_t n;
                err->code = code;
                va_start(ap, fmt);
                (void) vsnprintf(err->msg, sizeof err->msg, fmt, ap);
                va_end(ap);
                n = strlen(err->msg);
                if (n < sizeof err->msg)
                        (void) snprintf(err->msg + n, sizeof err->msg - n, ": %s",
                                        strerror(code < 0 ? -code : code));
        }
        return code;
}

void sf_err_clear(struct sf_err *err)
{
        if (err) {
                err->code = 0;
                err->msg[0] = '\0';
        }
}
