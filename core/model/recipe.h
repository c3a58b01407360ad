/* SPDX-License-Identifier: MIT */
/*
 * How a function's sandbox is made, read once from the store: the image,
 * the command (envProcess as fprocess, else Entrypoint + Cmd), the base
 * environment (PATH, image Env, envVars, fprocess), the limits (daemon
 * defaults, then the function's), the user and the tenant's uid range.
 * Used by the warm pools (core/runtime/pool.c) for every instance they start; the
 * exec path (core/runtime/invoke.c) adds the per-request Http_* variables itself.
 */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/sfaasd.h"

/* A growable NULL-terminated string vector (argv, envp). */
struct svec {
        char **v;
        size_t n, cap;
};
/* Append str (owned from now on; freed on failure). -ENOMEM. */
int svec_push(struct svec *s, char *str);
/* Set K=V in an environment, replacing an existing K. */
int svec_setenv(struct svec *env, const char *k, const char *v);
/* Split an fprocess string at blanks, as the classic watchdog does. */
int svec_split_words(struct svec *argv, const char *s);
void svec_free(struct svec *s);

struct fn_recipe {
        struct store_function *fn;
        struct store_image *img;
        struct image_config *icfg;
        json_t *spec;                 /* the deployment (owned) */
        struct svec argv;             /* http mode: Entrypoint + Cmd, else fprocess */
        struct svec exec_argv;        /* exec mode: fprocess when set (classic watchdog), else Entrypoint + Cmd */
        bool has_fprocess;            /* envProcess given (exec_argv empty: it was blank) */
        uint64_t exec_timeout_ms;     /* exec mode: envVars exec_timeout, else the daemon's function_timeout */
        struct svec env;
        struct sandbox_limits limits;
        uint32_t uid, gid, uid_base;
        const char *rootfs;           /* img->rootfs */
        const char *workdir;          /* icfg->workdir or NULL */
        uint16_t exposed_port;        /* first TCP port the image exposes, 0 if none */
        /* Which load of the function this is: set by the function table
         * (core/runtime/pool.c), never the same for two loads; sandboxes
         * made ahead of a call (core/runtime/stock.h) carry it. */
        uint64_t generation;
};

/* Read function ns/name and everything its sandboxes need (a command may
 * be missing: argv/exec_argv empty, the caller says so). On failure
 * *ret_status is the HTTP status to answer (404 unknown function, else 500)
 * and err says why. */
int fn_recipe_load(struct sfaasd *sf, const char *ns, const char *name, struct fn_recipe *r, int *ret_status,
                   struct sf_err *err);
void fn_recipe_release(struct fn_recipe *r);

/* The sandbox of an exec call of function name.ns made from r, with
 * environment envp: the one spec every exec sandbox gets, made fresh for
 * the call (core/runtime/invoke.c) or ahead of it (core/runtime/stock.c).
 * group is a buffer of FN_GROUP_MAX (core/model/group.h) the spec points
 * into; every other pointer is into r, name and envp. */
struct sandbox_spec;
void fn_recipe_exec_spec(const struct fn_recipe *r, const char *name, const char *ns, char *const *envp, char *group,
                         struct sandbox_spec *sp);

/* Labels and annotations: the value of key in either (annotations win), or NULL. */
const char *fn_recipe_meta(const struct fn_recipe *r, const char *key);
