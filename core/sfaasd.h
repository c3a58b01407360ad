/* SPDX-License-Identifier: MIT */
/*
 * The daemon's one context. Everything the daemon owns hangs off struct
 * sfaasd, reached through loop.data or passed in: no hidden globals.
 * All fields are used from the loop thread only, except where noted.
 *
 * This header holds the context and the configuration only: the engines it
 * points to are declared forward here and each module's functions are in
 * that module's own header (core/<layer>/<module>.h). Its includes are of
 * lower layers only (limits structs embedded in the configuration).
 */
#pragma once

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "core/base/list.h"
#include "core/base/notify.h"
#include "core/http/server.h"
#include "sandbox/sandbox.h"
#include "store/db.h"
#include "store/image.h"
#include "store/secrets.h"

/*
 * A tenant's quotas (README "Tenants"): the config's tenant_* keys are the
 * defaults, PUT /system/tenants/NS overrides them per tenant. 0: no limit.
 */
struct tenant_quota {
        uint64_t functions;          /* functions deployed */
        uint64_t instances;          /* warm instances and exec sandboxes running at once */
        uint64_t memory_bytes;       /* the tenant's cgroup level: memory of all its sandboxes */
        uint64_t cpu_millis;         /* ... CPU */
        uint64_t pids;               /* ... processes */
        uint64_t image_bytes;        /* unpacked size of the images it owns */
        uint64_t secrets;
        uint64_t async_queued;       /* async calls queued or running */
        uint64_t invoke_rate;        /* calls per second (a bucket of as many) */
        uint64_t invoke_concurrency; /* calls in flight */
};

/* The operator's ceilings on what one function may ask (0: none). */
struct function_ceilings {
        uint64_t memory_bytes;       /* limits.memory, requests.memory */
        uint64_t cpu_millis;         /* limits.cpu, requests.cpu */
        uint64_t timeout_ms;         /* envVars.exec_timeout, com.sfaasd.timeout */
        uint64_t scale_max;          /* com.openfaas.scale.max and .min */
};

#define SFAASD_REGISTRIES_MAX 32
#define SFAASD_REGISTRY_NAME_MAX 256

struct sfaasd_config {
        char listen[128];              /* plain HTTP: "127.0.0.1:8080"; "" = none */
        char tls_listen[128];          /* HTTPS: "0.0.0.0:8443"; "" = none (default when a pair is set) */
        char tls_cert[PATH_MAX];       /* PEM chain, leaf first (core/http/tls.h) */
        char tls_key[PATH_MAX];        /* PEM key */
        bool tls_self_signed;          /* make a self-signed pair at these paths when neither exists */
        char secrets_key_file[PATH_MAX]; /* the secrets key, outside the data folder (core/daemon/keys.h) */
        char data_dir[PATH_MAX];       /* absolute after config_finish() */
        struct http_limits http;
        struct image_limits image;
        struct sandbox_limits function; /* defaults for every function */
        uint64_t max_output_bytes;     /* a function's stdout cap (default 16 MiB) */
        uint64_t max_stderr_bytes;     /* kept for errors/logs (default 64 KiB) */
        uint64_t shutdown_grace_ms;    /* in-flight work on SIGTERM (default 30 s) */
        uint64_t log_bytes;            /* per function and generation (default 1 MiB) */
        bool cgroups;                  /* false only for tests on hosts without them */
        /* async invocation (core/runtime/async.h) */
        uint64_t async_concurrency;    /* calls of one function at once (default 1) */
        uint64_t async_max_running;    /* calls of all functions at once (default 8) */
        uint64_t async_callback_retries; /* retries after a failed callback (default 5) */
        uint64_t async_callback_timeout_ms; /* one callback attempt (default 10 s) */
        uint64_t async_result_bytes;   /* result body kept in the table (default 64 KiB) */
        bool async_callback_allow_loopback; /* callbacks to 127/8 and ::1 (default false) */
        char egress_allow[1024];       /* "CIDR,..." outbound requests may reach (core/http/egress.h) */
        char egress_resolve_file[PATH_MAX]; /* pinned answers for the egress proxy's names (JSON); "" none */
        char egress_ca_file[PATH_MAX]; /* CAs for the TLS the egress proxy originates; "" the system's */
        uint64_t egress_max_connections; /* per sandbox, over its life (default 1000; 0: none) */
        uint64_t egress_max_bytes;     /* per sandbox, both ways (default 1 GiB; 0: none) */
        uint64_t egress_max_open;      /* per sandbox, open at once (default 64; 0: none) */
        uint64_t egress_connect_timeout_ms; /* to connect to a destination, all its addresses (default 10 s) */
        uint64_t async_queue_max;      /* calls queued or running, all functions (default 100000) */
        uint64_t async_queue_max_bytes; /* their request bytes (default 1 GiB) */
        uint64_t async_function_queue_max; /* calls queued or running, one function (default 10000) */
        uint64_t async_function_queue_max_bytes; /* their request bytes (default 256 MiB) */
        /* http-mode functions (core/runtime/pool.h); labels and annotations override */
        uint64_t http_idle_ms;         /* idle instance stops (default 5 min) */
        uint64_t http_grace_ms;        /* SIGTERM to SIGKILL (default 10 s) */
        uint64_t http_timeout_ms;      /* one proxied call (default 60 s) */
        uint64_t http_ready_timeout_ms; /* start to ready (default 30 s) */
        uint64_t http_queue_max;       /* calls waiting per function (default 1000) */
        uint64_t http_max_instances;   /* com.openfaas.scale.max default (20) */
        uint64_t scale_down_window_ms; /* autoscaler's scale-down window (default 30 s; core/runtime/scale.c) */
        uint64_t async_retention_ms;   /* finished calls kept this long, then purged (default 24 h) */
        bool metrics_auth;             /* GET /metrics needs the admin's Basic auth (default false) */
        uint64_t uid_base;             /* tenants' uid window start; 0: the first free one (core/daemon/uidrange.h) */
        uint64_t uid_ranges;           /* ranges of 65536 ids in the window (default 1024) */
        char subuid_file[PATH_MAX];    /* checked for overlaps at start (default /etc/subuid) */
        char subgid_file[PATH_MAX];
        char passwd_file[PATH_MAX];
        char group_file[PATH_MAX];
        struct tenant_quota tenant;    /* every tenant's quotas unless set per tenant */
        struct function_ceilings ceiling;
        /* admission (core/runtime/admit.h); 0 = derived from the host */
        uint64_t max_sandboxes;        /* sandboxes alive at once, exec and http together */
        uint64_t sandboxes_memory;     /* memory limit of all sandboxes together (cgroup subtree) */
        uint64_t sandboxes_pids;       /* pids limit of all sandboxes together (cgroup subtree) */
        uint64_t exec_max_inflight;    /* exec calls of one function at once (default 16) */
        uint64_t exec_queue_max;       /* exec calls of one function waiting (default 100) */
        uint64_t exec_stock_max;       /* parked sandboxes per exec function at most (default 2; 0 off;
                                          core/runtime/stock.h) */
        uint64_t exec_stock_idle_ms;   /* a function's stock is dropped after this long without a call (60 s) */
        /* authentication failures per client address (core/api/throttle.h) */
        uint64_t auth_throttle_after;  /* failures in a row before blocks begin (default 5) */
        uint64_t auth_throttle_max_ms; /* longest block (default 10 min) */
        /* registry pulls (core/runtime/pull.h) */
        char insecure_registries[SFAASD_REGISTRIES_MAX][SFAASD_REGISTRY_NAME_MAX]; /* "host[:port]": http://, trusted */
        size_t n_insecure_registries;
        char registry_auth_file[PATH_MAX]; /* a Docker config.json: the operator's registry credentials ("" none) */
        char registry_ca_file[PATH_MAX]; /* PEM CA certificates trusted for registries besides the system's ("" none) */
        /* registry_mirrors: {"registry": ["mirror host[:port]", ...]}, flattened
         * in order: [i][0] the registry, [i][1] a mirror of it, tried first */
        char registry_mirrors[SFAASD_REGISTRIES_MAX][2][SFAASD_REGISTRY_NAME_MAX];
        size_t n_registry_mirrors;
        uint64_t registry_concurrency; /* blobs fetched at once per pull (default 3) */
        uint64_t registry_attempts;    /* per blob (default 3) */
        uint64_t registry_timeout_ms;  /* manifests and tokens (default 60 s) */
        uint64_t registry_idle_timeout_ms; /* a stalled blob transfer (default 30 s) */
        uint64_t registry_retry_delay_ms; /* before a blob's second attempt, doubled after (default 500 ms) */
        bool pull_on_deploy;           /* a deploy pulls a registry reference the store lacks (default true) */
        bool registry_allow_loopback;  /* pulls may reach 127/8 and ::1 on a registry not in
                                          insecure_registries, a token realm or a redirect (default false) */
};

struct admit;
struct async;
struct auth;
struct datadir;
struct history;
struct invocation;
struct logs;
struct metrics;
struct pools;
struct stock;
struct tenants;
struct throttle;

struct sfaasd {
        uv_loop_t loop;
        struct sfaasd_config cfg;
        struct store *store;
        struct sandbox_launcher *launcher;
        struct datadir *datadir;       /* the data folder's lock and identity (core/daemon/datadir.h) */
        struct http_server *http;
        char *password;                /* admin password (basic-auth-password) */
        struct auth *auth;             /* who requests are: the credentials cache (core/api/auth.h) */
        int uid_claim_fd;              /* our claim on the tenants' uid window (core/daemon/uidrange.h) */
        struct secret_key secret_key;  /* seals /system/secrets (core/daemon/keys.h) */
        char images_dir[PATH_MAX];
        char tmp_dir[PATH_MAX];
        int tmp_fd;
        uv_signal_t sigterm, sigint, sighup;
        struct http_tls *tls;          /* the HTTPS listener's pair, reloaded on SIGHUP; NULL = none */
        uv_timer_t grace_timer;
        uv_prepare_t drain;            /* while stopping: finish once nothing is in flight */
        struct notify notify;          /* systemd's READY/STOPPING/WATCHDOG (core/base/notify.h) */
        uv_timer_t watchdog;           /* WATCHDOG=1 at half of $WATCHDOG_USEC */
        bool stopping;
        bool grace_over;               /* the shutdown grace period ran out (not a second signal) */
        bool http_closed;
        bool finished;                 /* the loop's last handles are closing */
        struct list_head invocations;     /* live exec-mode invocations (core/runtime/invoke.c) */
        size_t n_invocations;
        size_t n_imports;                 /* image imports and pulls on the thread pool */
        int pull_cancel_fd;               /* an eventfd: readable from the first SIGTERM, ends pulls (-1 none) */
        struct list_head pulls;           /* registry pulls under way (core/api/pull.c) */
        struct metrics *metrics;          /* core/runtime/metrics.h */
        struct history *history;          /* the last hour for the console's charts (core/runtime/history.h) */
        struct logs *logs;                /* per-function logs and their followers (core/runtime/logs.h) */
        struct async *async;              /* the async call queue (core/runtime/async.h) */
        struct pools *pools;              /* warm http-mode instances (core/runtime/pool.h) */
        struct tenants *tenants;          /* tenants' quotas in the engines (core/runtime/tenants.h) */
        struct admit *admit;              /* sandbox slots and exec queues (core/runtime/admit.h) */
        struct stock *stock;              /* exec sandboxes made ahead of calls (core/runtime/stock.h) */
        struct throttle *throttle;        /* failed sign-ins per address (core/api/throttle.h) */
        int exit_code;
};
