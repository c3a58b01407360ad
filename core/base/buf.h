/* SPDX-License-Identifier: MIT */
/*
 * A growable byte buffer with a ceiling, for everything a client or a
 * function can make grow (answers, request heads, metrics text, outputs).
 * An append past `max` fails with -EMSGSIZE and leaves the buffer as it was;
 * -ENOMEM when memory runs out. The data is always followed by a NUL that is
 * not counted in len, so text can be used as a C string. Sizes are checked
 * for overflow. Zero-initialise (max 0 means no ceiling but SIZE_MAX) or
 * use BUF_INIT(max).
 *
 * The first failure sticks in err: later appends do nothing and return it,
 * so a long run of appends can be checked once at the end.
 */
#pragma once

#include <stdarg.h>
#include <stddef.h>

struct buf {
        char *p;       /* NULL until the first append */
        size_t len;    /* bytes of data */
        size_t cap;    /* bytes allocated (data + NUL) */
        size_t max;    /* the ceiling for len; 0: none */
        int err;       /* the first failed append's -errno; 0: none */
};

#define BUF_INIT(ceiling) { .max = (ceiling) }

/* Room for n more bytes (and the NUL) without exceeding max. */
int buf_reserve(struct buf *b, size_t n);
int buf_append(struct buf *b, const void *data, size_t n);
int buf_appends(struct buf *b, const char *s);
int buf_appendc(struct buf *b, char c);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* Forget the data and a sticky error, keep the memory. */
void buf_reset(struct buf *b);
/* Free the memory (max is kept). */
void buf_release(struct buf *b);
/* Zero the memory, then free it: for buffers that held credentials. */
void buf_wipe(struct buf *b);
/* The data (NUL-terminated; "" for an empty buffer), now the caller's to
 * free; the buffer is empty. NULL only on -ENOMEM for an empty buffer. */
char *buf_steal(struct buf *b, size_t *ret_len);
