/* SPDX-License-Identifier: MIT */
/*
 * What core/runtime/pool.c and core/runtime/proxy.c share (the pools and the
 * proxy are one module in two files): instances, upstream connections and
 * proxied calls. Nothing else includes this.
 */
#pragma once

#include <llhttp.h>

#include "core/runtime/fn_egress.h"
#include "core/base/buf.h"
#include "core/base/htab.h"
#include "core/base/list.h"
#include "core/model/callid.h"
#include "core/runtime/admit.h"
#include "core/runtime/pool.h"

struct fn_recipe;

enum inst_state { INST_STARTING, INST_READY, INST_STOPPING };

/* Why the daemon stopped an instance (pool.c stop_words): an instance that
 * ends while stopping, and the calls it drops, are described by it rather
 * than by its signal alone. */
enum inst_stop {
        INST_STOP_NONE = 0,
        INST_STOP_IDLE,        /* idle for com.openfaas.scale.zero-duration */
        INST_STOP_SCALE,       /* scale-function below the instances alive */
        INST_STOP_CHANGED,     /* the function was updated */
        INST_STOP_REMOVED,     /* the function was removed */
        INST_STOP_SHUTDOWN,    /* sfaasd is shutting down */
        INST_STOP_NOT_READY,   /* not ready within http_ready_timeout */
        INST_STOP_AUTOSCALE,   /* the autoscaler wants fewer (core/runtime/scale.c) */
};

/* The autoscaler of one pool (core/runtime/scale.c): what it measures on
 * the pools' 100 ms tick and what it wants. */
enum scale_type { SCALE_RPS, SCALE_CAPACITY, SCALE_CPU };

#define SCALE_RATE_SLOTS 10 /* ticks in the load's sliding window (1 s) */
#define SCALE_DOWN_SLOTS 30 /* buckets of the scale-down window */

struct scaler {
        enum scale_type type;
        bool type_default;         /* no com.openfaas.scale.type: sfaasd's default */
        double target;             /* load one instance should carry */
        double proportion;         /* of the target, before another instance starts */
        uint64_t down_window_ms;   /* desired = the most wanted over this long */
        /* what the pool counts as calls come and go */
        uint64_t arrivals;         /* calls since the pool was made */
        double busy_area;          /* calls (queued or in flight) x ns */
        uint64_t busy_at_ns;       /* busy_area is up to date to here */
        uint64_t last_call_ns;     /* last call began or ended (idle time) */
        /* the last SCALE_RATE_SLOTS ticks' cumulative counts */
        uint64_t t_ns[SCALE_RATE_SLOTS], arr[SCALE_RATE_SLOTS], cpu_usec[SCALE_RATE_SLOTS];
        double area[SCALE_RATE_SLOTS];
        unsigned head, filled;
        double load;               /* over the window: calls/s, calls, millicores */
        uint32_t raw;              /* instances the load asks for now */
        /* the most wanted per bucket of down_window_ms / SCALE_DOWN_SLOTS */
        uint32_t down_max[SCALE_DOWN_SLOTS];
        uint64_t down_bucket;      /* index of the current bucket (time / width) */
        uint32_t desired;          /* what it wants: min <= desired <= max */
        const char *held;          /* why fewer run than desired (NULL: nothing holds it) */
        uint64_t ups, downs;       /* decisions since the pool was made */
        /* decisions are logged at most once a second */
        uint64_t log_ns;
        uint32_t log_from;         /* desired when the last line was written */
        bool log_pending;
        char log_why[160];
};

/* com.openfaas.health.http.path, its NUL included. */
#define POOL_HEALTH_PATH_MAX 128

/* A line of an instance's output being received: the buffer only while a
 * partial line waits for its end (a quiet instance holds none: 8 KiB less
 * per instance, bench/density). Lines are cut at LINEBUF_MAX. */
#define LINEBUF_MAX 4096
struct linebuf {
        char *buf;                 /* LINEBUF_MAX bytes, or NULL while len is 0 */
        size_t len;
};

struct instance {
        struct list_node node;     /* in its pool's instances */
        struct list_node snode;    /* in the pools' starting instances while INST_STARTING */
        struct pool *pool;
        char id[96];
        struct sandbox *sb;
        pid_t pid;
        int netns_fd;              /* the sandbox's (sandbox_netns_fd), or netns_own */
        int netns_own;             /* /proc/PID/ns/net opened here (a launcher without the netns pool), or -1 */
        enum inst_state state;
        unsigned inflight;
        uint64_t start_ns, ready_ns, last_used_ns;
        uv_poll_t exit_poll;
        uv_pipe_t out, err;
        struct linebuf outl, errl;
        uv_timer_t timer;          /* readiness retries, then the grace period */
        int open_handles;
        struct list_head conns;    /* every upstream connection to it (struct upconn anode) */
        struct upconn *idle;       /* kept-alive upstream connections */
        size_t n_idle;
        struct upconn *probe;      /* readiness probe under way */
        unsigned probes;
        bool fast_wait;            /* waits for the fast probe tick */
        bool health_ok;            /* the watchdog is healthy: now its upstream is probed */
        bool exited, gone;
        bool failed_start;         /* stopped for not getting ready in time */
        bool outdated;             /* the function changed: stop when idle */
        enum inst_stop stop;       /* why it is stopping (INST_STOP_NONE: it is not) */
        uint64_t grace_ms;         /* the SIGTERM grace it was given */
        bool killed;               /* we sent SIGKILL: at once or when the grace ran out */
        bool counted;              /* in its tenant's instances (core/runtime/tenants.h) */
        int wait_status;
        struct fn_egress egress;   /* its egress proxy, when the function has a grant */
};

/* Everything pools_status() prints for a pool without instances, and the
 * API's own input (the invocation count), as one value compared with
 * memcmp: zeroed before it is filled, strings copied up to their NUL. */
struct pool_live_key {
        uint64_t extra;
        enum fn_mode mode;
        uint16_t port;
        size_t n_starting, n_ready, queued;
        uint64_t restarts;
        char last_error[256];
        enum scale_type type;
        bool type_default;
        double target, proportion, load;
        uint32_t desired, floor, max;
        uint64_t down_window_ms, ups, downs;
        const char *held;          /* static strings (scale_held) */
};

struct pool {
        struct pool *next;
        struct htab_node hnode;    /* in the pools' table by (ns, name), while in their list */
        struct list_node tnode;    /* in its slice of the pools' tick, while in their list */
        struct sfaasd *sf;
        char ns[64], name[64];
        enum fn_mode mode;
        bool removed;
        struct fn_recipe *recipe;  /* http mode: how instances are made */
        uint16_t port;
        bool watchdog;
        /* Readiness (pool.c "readiness"): the path a function names
         * (com.openfaas.health.http.path; "" none), and the upstream port
         * of an of-watchdog in http mode (0 none). */
        char health_path[POOL_HEALTH_PATH_MAX];
        uint16_t upstream_port;
        uint64_t initial_delay_ms; /* com.openfaas.health.http.initialDelay: the first probe waits */
        uint32_t min, max, max_inflight, queue_max, floor;
        /* The floor is OpenFaaS's one replica by default, not a number the
         * function or the operator asked for (com.openfaas.scale.min, POST
         * /system/scale-function): it yields to the hard bounds. Its
         * instance is given up when a call waits for a sandbox slot or its
         * tenant's instances quota, and kept again once a call has started
         * one (pool.c "admission"). */
        bool floor_default;
        bool scale_zero;
        uint64_t idle_ms, timeout_ms, grace_ms;
        struct list_head instances;
        size_t n_starting, n_ready, n_stopping;
        struct list_head queue;    /* calls waiting for capacity (struct pcall qnode), oldest first */
        size_t queued;
        size_t calls;              /* pcalls that refer to this pool */
        size_t n_structs;          /* instance structs not yet freed (gone ones close their handles) */
        uint64_t seq;
        uint64_t restarts;         /* crashed instances replaced */
        uint64_t restart_at_ns;    /* backoff: no start before this */
        uint64_t backoff_ms;
        char last_error[256];      /* why the last start failed */
        /* pools_status_text(): the API's text of the function's stored
         * record, the spec it was made from and the record's creation. */
        char *st_text, *st_src;
        int64_t st_created;
        /* pools_status_live_text(): the text of the live part for the
         * inputs it was made from. */
        struct pool_live_key *st_live_key;
        char *st_live_text;
        struct admit_waiter waiter; /* for a sandbox slot (core/runtime/admit.h) */
        bool slot_reserved;        /* a slot taken for the next instance_start */
        struct scaler sc;
};

/* Upstream HTTP connection to one instance. */
struct upconn {
        struct upconn *next;        /* in the instance's idle list */
        struct list_node anode;       /* in the instance's list of all its connections */
        bool idle;
        struct instance *inst;      /* NULL once the instance is gone */
        struct pcall *call;         /* the call using it, if any */
        uv_tcp_t tcp;
        uv_connect_t creq;
        llhttp_t parser;
        bool connected, closing, probe, reusable;
        int probe_status;
};

/* One proxied call (core/runtime/proxy.c). */
struct pcall {
        struct list_node qnode;        /* in its pool's wait queue */
        bool queued;
        struct pool *pool;
        struct http_request *req;      /* NULL once answered or gone */
        struct instance *inst;
        struct upconn *uc;
        uv_timer_t timer;              /* the call's timeout */
        bool timer_open;
        char call_id[CALL_ID_MAX];
        uint64_t start_unix_ns, start_ns;
        struct buf head;               /* the request head for the instance */
        struct buf pend;               /* body received before the instance was reached */
        bool body_chunked, body_done, body_sent, head_sent, body_paused;
        bool head_req, retried, timed_out, ended, reused, had_body;
        /* the answer */
        int status;
        char reason[64];
        bool resp_begun, resp_done, resp_chunked, resp_close, interim, up_paused, up_keep_alive;
        /* The instance's headers while they arrive: NUL-terminated names
         * and values in rhbuf, found by offsets (no allocation per header). */
        struct rh_ent {
                uint32_t name, value;
        } *rh;
        size_t n_rh, rh_cap;
        struct buf rhbuf;
        int rh_state;                  /* 0 none, 1 field, 2 value */
        struct buf out;                             /* bytes for the client from one read */
        struct pcall *free_next;       /* kept for reuse with its buffers and timer */
};

/* pool.c */
struct pool *pool_lookup(struct sfaasd *sf, const char *ns, const char *name);
/* A pcall (zeroed but for its buffers, timer initialised) and back: ended
 * calls are kept for reuse, buffers and timer included. */
struct pcall *pools_pcall_get(struct sfaasd *sf);
void pools_pcall_put(struct sfaasd *sf, struct pcall *pc);
/* pcalls count toward the daemon's busy work. */
void pools_call_ref(struct sfaasd *sf, struct pool *p);
void pools_call_unref(struct sfaasd *sf, struct pool *p);
/* Dispatch queued calls to instances with room; start instances as needed. */
void pool_dispatch(struct pool *p);
/* A call ended on inst (ok: the instance answered properly). */
void pool_call_done(struct pool *p, struct instance *inst);
/* An upstream connection inside inst's network namespace; NULL + errno on failure. */
struct upconn *upconn_open(struct instance *inst);
/* Write to the instance (copied). */
int upconn_write(struct upconn *uc, const char *a, size_t alen, const char *b, size_t blen, const char *c, size_t clen);
void upconn_pause(struct upconn *uc, bool pause);
void upconn_close(struct upconn *uc);
/* Give uc back to its instance's idle list (or close it). */
void upconn_release(struct upconn *uc);
void pool_unref(struct pool *p);

/* Why inst ended or drops its calls, in words for an answer or a log line:
 * the daemon's own stop first ("instance X was killed after its grace
 * period of N ms (stopping: sfaasd is shutting down)"), else how (from
 * sandbox_describe_end; NULL while it has not ended: "closed the connection
 * before the answer was complete"). Returns the status for a call it drops:
 * 503 when sfaasd is shutting down, else 502. */
int pool_instance_words(const struct instance *inst, const char *how, char *buf, size_t size);

/* Wait queue (pool.c). */
void pool_enqueue(struct pool *p, struct pcall *pc);
void pool_dequeue(struct pool *p, struct pcall *pc);
/* Read callback data for a connection in use by a call (pool.c routes it). */
void proxy_upstream_read(struct pcall *pc, ssize_t n, const char *data);
void proxy_upstream_connected(struct pcall *pc, int status);
/* An upstream write finished; wake a paused client body when drained. */
void proxy_upstream_drained(struct pcall *pc);

/* scale.c: the autoscaler. */
/* Read the scaling labels into p->sc (defaults for the absent ones). */
void scale_configure(struct pool *p, const struct fn_recipe *r);
/* Deploy-time check of the scaling labels: -EINVAL naming the key. */
int scale_check_meta(const struct fn_recipe *r, struct sf_err *err);
/* p->calls is about to change (a call begins: began true). */
void scale_note_calls(struct pool *p, bool began);
/* The 100 ms tick: measure, decide. Returns how many instances the pool
 * keeps (the rest stop when idle). */
uint32_t scale_tick(struct pool *p, uint64_t now);
/* Instances beyond the queue's need that the autoscaler wants started. */
uint32_t scale_wanted(const struct pool *p);
/* An instance the autoscaler wanted could not start (held: why). */
void scale_held(struct pool *p, const char *held);
/* The scaler's part of a function status (the "autoscaling" object). */
json_t *scale_status(const struct pool *p);
const char *scale_type_name(enum scale_type t);

/* proxy.c */
/* Start call pc on instance inst (pool.c, when capacity appears). */
void pcall_attach(struct pcall *pc, struct instance *inst);
/* Answer a call that will not run (shutdown, failed starts) or lost its
 * instance: an error answer, or a cut stream when one has begun. */
void pcall_fail(struct pcall *pc, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
