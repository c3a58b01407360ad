/* SPDX-License-Identifier: MIT */
/*
 * Scope-bound cleanup. `_cleanup_free_ char *p = NULL;` frees p when it goes
 * out of scope; TAKE_PTR/TAKE_FD hand ownership out of the scope.
 */
#pragma once

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))

static inline void freep(void *p) { free(*(void **) p); }
#define _cleanup_free_ _cleanup_(freep)

static inline void closep(int *fd)
{
        if (*fd >= 0) {
                int saved = errno;
                (void) close(*fd);
                errno = saved;
        }
}
#define _cleanup_close_ _cleanup_(closep)

static inline void fclosep(FILE **f)
{
        if (*f)
                (void) fclose(*f);
}
#define _cleanup_fclose_ _cleanup_(fclosep)

/* Free a NULL-terminated vector of strings. */
static inline void strv_free(char **v)
{
        if (!v)
                return;
        for (char **p = v; *p; p++)
                free(*p);
        free(v);
}
static inline void strv_freep(char ***v) { strv_free(*v); }
#define _cleanup_strv_free_ _cleanup_(strv_freep)

/* jansson's json_decrefp (json_auto_t); the macro needs <jansson.h> where it is used. */
#define _cleanup_json_ _cleanup_(json_decrefp)

#define TAKE_PTR(p) ({ __typeof__(p) _p = (p); (p) = NULL; _p; })
#define TAKE_FD(fd) ({ int _fd = (fd); (fd) = -1; _fd; })

/* Define a cleanup helper `name##p` for a type with a free function. */
#define DEFINE_TRIVIAL_CLEANUP_FUNC(type, func)          \
        static inline void func##p(type *p)              \
        {                                                \
                if (*p)                                  \
                        func(*p);                        \
        }

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))
#define STRLEN(s) (sizeof(s) - 1)
