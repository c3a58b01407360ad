/* SPDX-License-Identifier: MIT */
/*
 * The daemon's one context. Everything the daemon owns hangs off struct
 * sfaasd, reached through loop.data or passed in: no hidden globals.
 * All fields are used from the loop thread only, except where noted.
 */
#pragma once

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "core/http.h"
#include "core/logs.h"
#include "core/metrics.h"
#include "sandbox/sandbox.h"
#include "store/db.h"
#include "store/image.h"
#include "store/secrets.h"

struct sfaasd_config {
        char listen[128];              /* "127.0.0.1:8080" */
        char data_dir[PATH_MAX];       /* absolute after config_finish() */
        struct http_limits http;
        struct image_limits image;
        struct sandbox_limits function; /* defaults for every function */
        uint64_t max_output_bytes;     /* a function's stdout cap (default 16 MiB) */
        uint64_t max_stderr_bytes;     /* kept for errors/logs (default 64 KiB) */
        uint64_t shutdown_grace_ms;    /* in-flight work on SIGTERM (default 30 s) */
        uint64_t log_bytes;            /* per function and generation (default 1 MiB) */
        bool cgroups;                  /* false only for tests on hosts without them */
};

/* Fill cfg with the embedded defaults (the values `make run` uses). */
void config_defaults(struct sfaasd_config *cfg);
/* Apply a JSON config file; unknown keys and wrong types are errors. */
int config_load_file(struct sfaasd_config *cfg, const char *path, struct sf_err *err);
/* Print the effective configuration as JSON (for --print-config). */
char *config_to_json(const struct sfaasd_config *cfg);

struct invocation;

struct sfaasd {
        uv_loop_t loop;
        struct sfaasd_config cfg;
        struct store *store;
        struct sandbox_launcher *launcher;
        struct http_server *http;
        char *password;                /* admin password (basic-auth-password) */
        struct secret_key secret_key;  /* seals /system/secrets (DATA/secrets/store.key) */
        char images_dir[PATH_MAX];
        char tmp_dir[PATH_MAX];
        int tmp_fd;
        uv_signal_t sigterm, sigint;
        uv_timer_t grace_timer;
        bool stopping;
        bool http_closed;
        bool finished;                 /* the loop's last handles are closing */
        struct invocation *invocations;   /* live exec-mode invocations */
        size_t n_invocations;
        size_t n_imports;                 /* image imports on the thread pool */
        struct metrics metrics;           /* core/metrics.h */
        struct logs logs;                 /* per-function logs and their followers (core/logs.h) */
        int exit_code;
};

/* daemon.c: start everything; run the loop until shutdown. */
int sfaasd_run(struct sfaasd_config *cfg);
/* Called when some in-flight work ended; finishes a pending shutdown. */
void sfaasd_maybe_finish(struct sfaasd *sf);

/* auth.c */
int auth_ensure_credentials(const char *data_dir, char **ret_password, bool *ret_created, struct sf_err *err);
bool auth_check_basic(const struct sfaasd *sf, const struct http_request *req);
void auth_respond_unauthorized(struct http_request *req);

/* api.c: the request entry points given to the HTTP server. */
int api_on_head(struct http_request *req);
void api_on_request(struct http_request *req);

/* invoke.c: exec-mode invocation (classic watchdog semantics). */
void invoke_exec(struct sfaasd *sf, struct http_request *req, const char *name, const char *ns,
                 const char *subpath);
/* Kill every live sandbox (shutdown after the grace period). */
void invoke_kill_all(struct sfaasd *sf);
