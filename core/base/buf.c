/* SPDX-License-Identifier: MIT */
/* Bounded growable byte buffers (core/base/buf.h). */
#include "core/base/buf.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/util.h"

static int fail(struct buf *b, int r)
{
        b->err = r;
        return r;
}

int buf_reserve(struct buf *b, size_t n)
{
        size_t need, cap;
        char *p;

        if (b->err)
                return b->err;
        if (size_add(b->len, n, &need) < 0 || (b->max && need > b->max))
                return fail(b, -EMSGSIZE);
        if (size_add(need, 1, &need) < 0)
                return fail(b, -EMSGSIZE);
        if (need <= b->cap)
                return 0;
        cap = b->cap ? b->cap : 64;
        while (cap < need)
                if (size_mul(cap, 2, &cap) < 0) {
                        cap = need;
                        break;
                }
        p = realloc(b->p, cap);
        if (!p)
                return fail(b, -ENOMEM);
        b->p = p;
        b->cap = cap;
        return 0;
}

int buf_append(struct buf *b, const void *data, size_t n)
{
        int r = buf_reserve(b, n);

        if (r < 0)
                return r;
        if (n)
                memcpy(b->p + b->len, data, n);
        b->len += n;
        b->p[b->len] = '\0';
        return 0;
}

int buf_appends(struct buf *b, const char *s)
{
        return buf_append(b, s, strlen(s));
}

int buf_appendc(struct buf *b, char c)
{
        return buf_append(b, &c, 1);
}

int buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
        va_list aq;
        int n, r;

        va_copy(aq, ap);
        n = vsnprintf(NULL, 0, fmt, aq);
        va_end(aq);
        if (n < 0)
                return b->err ? b->err : fail(b, -EINVAL);
        r = buf_reserve(b, (size_t) n);
        if (r < 0)
                return r;
        (void) vsnprintf(b->p + b->len, (size_t) n + 1, fmt, ap);
        b->len += (size_t) n;
        return 0;
}

int buf_printf(struct buf *b, const char *fmt, ...)
{
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = buf_vprintf(b, fmt, ap);
        va_end(ap);
        return r;
}

void buf_reset(struct buf *b)
{
        b->len = 0;
        b->err = 0;
        if (b->p)
                b->p[0] = '\0';
}

void buf_release(struct buf *b)
{
        free(b->p);
        b->p = NULL;
        b->len = b->cap = 0;
        b->err = 0;
}

void buf_wipe(struct buf *b)
{
        if (b->p)
                explicit_bzero(b->p, b->cap);
        buf_release(b);
}

char *buf_steal(struct buf *b, size_t *ret_len)
{
        char *p = b->p;

        if (!p && !(p = strdup("")))
                return NULL;
        if (ret_len)
                *ret_len = b->len;
        b->p = NULL;
        b->len = b->cap = 0;
        return p;
}
