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

#include "core/async.h"
#include "core/http.h"
#include "core/logs.h"
#include "core/metrics.h"
#include "core/notify.h"
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
        /* async invocation (core/async.h) */
        uint64_t async_concurrency;    /* calls of one function at once (default 1) */
        uint64_t async_max_running;    /* calls of all functions at once (default 8) */
        uint64_t async_callback_retries; /* retries after a failed callback (default 5) */
        uint64_t async_callback_timeout_ms; /* one callback attempt (default 10 s) */
        uint64_t async_result_bytes;   /* result body kept in the table (default 64 KiB) */
        bool async_callback_allow_loopback; /* callbacks to 127/8 and ::1 (default false) */
        uint64_t async_queue_max;      /* calls queued or running, all functions (default 100000) */
        uint64_t async_queue_max_bytes; /* their request bytes (default 1 GiB) */
        uint64_t async_function_queue_max; /* calls queued or running, one function (default 10000) */
        uint64_t async_function_queue_max_bytes; /* their request bytes (default 256 MiB) */
        /* http-mode functions (core/pool.h); labels and annotations override */
        uint64_t http_idle_ms;         /* idle instance stops (default 5 min) */
        uint64_t http_grace_ms;        /* SIGTERM to SIGKILL (default 10 s) */
        uint64_t http_timeout_ms;      /* one proxied call (default 60 s) */
        uint64_t http_ready_timeout_ms; /* start to ready (default 30 s) */
        uint64_t http_queue_max;       /* calls waiting per function (default 1000) */
        uint64_t http_max_instances;   /* com.openfaas.scale.max default (20) */
        uint64_t async_retention_ms;   /* finished calls kept this long, then purged (default 24 h) */
        bool metrics_auth;             /* GET /metrics needs the admin's Basic auth (default false) */
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
        struct notify notify;             /* systemd's READY/STOPPING/WATCHDOG (core/notify.h) */
        uv_timer_t watchdog;              /* WATCHDOG=1 at half of $WATCHDOG_USEC */
        bool stopping;
        bool http_closed;
        bool finished;                 /* the loop's last handles are closing */
        struct invocation *invocations;   /* live exec-mode invocations */
        size_t n_invocations;
        size_t n_imports;                 /* image imports on the thread pool */
        struct metrics metrics;           /* core/metrics.h */
        struct logs logs;                 /* per-function logs and their followers (core/logs.h) */
        struct async async;               /* the async call queue (core/async.h) */
        struct pools *pools;              /* warm http-mode instances (core/pool.h) */
        int exit_code;
};

/* daemon.c: start everything; run the loop until shutdown. */
int sfaasd_run(struct sfaasd_config *cfg);
/* Called when some in-flight work ended; finishes a pending shutdown. */
void sfaasd_maybe_finish(struct sfaasd *sf);

/* api_usage.c: the cgroup group "NS/NAME" of function name in namespace ns,
 * written into buf. Every sandbox of the function is spawned with it as
 * sandbox_spec.group (exec calls, async calls, instances), so the kernel sums
 * their CPU time and memory for GET /system/function/NAME?usage=1. Returns
 * buf, or NULL when it does not fit: never for names route_valid_name()
 * accepts (at most 63 bytes each) and a buffer of API_FUNCTION_GROUP_MAX. */
#define API_FUNCTION_GROUP_MAX 128
const char *api_function_group(const char *ns, const char *name, char *buf, size_t size);

/* auth.c */
int auth_ensure_credentials(const char *data_dir, char **ret_password, bool *ret_created, struct sf_err *err);
bool auth_check_basic(const struct sfaasd *sf, const struct http_request *req);
void auth_respond_unauthorized(struct http_request *req);

/* api.c: the request entry points given to the HTTP server. */
int api_on_head(struct http_request *req);
void api_on_request(struct http_request *req);

/* invoke.c: exec-mode invocation (classic watchdog semantics). */

/* One call to run. Borrowed: everything but body is copied by invoke_run();
 * body must stay alive until the result has been delivered. */
struct invoke_call {
        const char *method;
        const char *path;                 /* as the function sees it: "/" or "/sub/path" */
        const char *query;                /* raw, without '?'; "" if none */
        const struct http_header *headers;
        size_t n_headers;
        const char *body;
        size_t body_len;
        const char *call_id;              /* NULL: X-Call-Id when valid, else a new one */
};

/* What a call produced: the function's answer, or sfaasd's JSON error when
 * it failed (exit status, timeout, output cap, or before a sandbox ran).
 * Valid only during the callback. */
struct invoke_result {
        int status;
        const char *content_type;
        const char *extra_headers;        /* "Name: value\r\n..." (X-Call-Id, X-Duration-Seconds); may be NULL */
        const char *body;
        size_t body_len;
        double seconds;
        const char *call_id;              /* NULL when it failed before one was chosen */
        bool ran;                         /* a sandbox ran (false: an early failure) */
};
typedef void (*invoke_done_fn)(const struct invoke_result *res, void *data);

/* Run call against function name in namespace ns in a fresh sandbox.
 * done is called exactly once: from the loop when the sandbox is done, or
 * before invoke_run() returns when the call fails early (unknown function
 * 404, shutting down 503, a sandbox that cannot start 500). */
void invoke_run(struct sfaasd *sf, const char *name, const char *ns, const struct invoke_call *call,
                invoke_done_fn done, void *data);
/* The synchronous HTTP path: runs the request and answers it. */
void invoke_exec(struct sfaasd *sf, struct http_request *req, const char *name, const char *ns,
                 const char *subpath);
/* A call id as sfaasd makes them (a UUID v4) and the ones it accepts from
 * clients (1..39 of [A-Za-z0-9-]). */
void invoke_make_call_id(char out[40]);
bool invoke_valid_call_id(const char *s);
/* Kill every live sandbox (shutdown after the grace period). */
void invoke_kill_all(struct sfaasd *sf);
