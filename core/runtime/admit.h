/* SPDX-License-Identifier: MIT */
/*
 * Admission of sandboxes (core/runtime/admit.c): a caller with no
 * credentials must not be able to take the host by asking for sandboxes.
 *
 *  - One daemon-wide cap, max_sandboxes, on sandboxes alive at once: exec
 *    calls (sync and async) and warm http-mode instances together. Unless
 *    configured it is derived from the host: the sandboxes' memory budget
 *    over the default function memory, and their pid budget over the
 *    default function pids, whichever is smaller (admit_host_budget).
 *  - The same budgets are the kernel's limits on the launcher's cgroup
 *    subtree (memory, pids): whatever the sandboxes ask for one by one,
 *    their sum cannot take the host (sandbox_launcher_config).
 *  - Exec-mode calls of one function run at most max-inflight at once
 *    (annotation com.sfaasd.max-inflight, else exec_max_inflight); the rest
 *    wait in a queue of queue-max (com.sfaasd.queue-max, else
 *    exec_queue_max) and a full queue answers 429 with Retry-After.
 *
 * Waiting is first come, first served across all functions: a sandbox slot
 * that frees up goes to the oldest waiter that may run (one whose function
 * is at its own limit is passed over, not blocking those behind it). A new
 * call does not overtake waiters. Warm instances idle above their floor are
 * stopped early when a waiter finds no slot (the reclaim hook, which the
 * daemon sets to pools_reclaim_idle: admit sits below the pools).
 *
 * Slots are taken right before sandbox_spawn and given back when the
 * sandbox has been freed (reaped, cgroup removed). Everything runs on the
 * loop thread. Waiters are woken from a timer callback, never from inside
 * the caller that gave a slot back (a close callback, a failed spawn).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "core/sfaasd.h"

struct admit_waiter {
        struct admit_waiter *prev, *next;
        bool waiting;
        uint64_t pass;            /* the walk it last kept its place in */
        /* Called when a slot may be free: return true when the waiter is
         * done waiting (it took its slot, or gave up), false to keep its
         * place (it must then have done nothing else). It is off the list while
 * it runs and may queue itself again with admit_wait(). */
        bool (*ready)(struct admit_waiter *w);
};

struct admit_fn; /* exec calls per function */

struct admit {
        size_t max;               /* sandboxes at once */
        size_t running;           /* slots taken */
        size_t waiting;
        struct admit_waiter *head, *tail;
        struct admit_fn **fns;    /* hash table of functions with exec calls running or queued */
        size_t fn_mask;
        uv_timer_t wake;
        bool wake_open, waking, again;
        uint64_t pass;            /* walks of the waiters so far */
        uint64_t refused;         /* 429s for a full exec queue (metrics) */
        size_t exec_queued;       /* exec calls among the waiters (metrics) */
        uint64_t memory_budget;   /* bytes, the cgroup subtree's memory limit (0: none) */
        uint64_t pids_budget;     /* the cgroup subtree's pids limit (0: none) */
        /* Every slot taken and someone waits: make room if possible. */
        void (*reclaim)(struct sfaasd *sf);
        /* A sandbox of ns is refused for its tenant's instances quota: give
         * one of ns's instances back now if something idle holds it (the
         * daemon sets it to the exec stock's, core/runtime/stock.h); true
         * when one was given back. NULL: nothing to give back. */
        bool (*reclaim_tenant)(struct sfaasd *sf, const char *ns);
};

/* What the host can give its sandboxes: memory (3/4 of MemTotal) and pids
 * (half of the smaller of pid_max and threads-max), each replaced by the
 * configured sandboxes_memory / sandboxes_pids when set. */
void admit_host_budget(const struct sfaasd_config *cfg, uint64_t *ret_memory, uint64_t *ret_pids);
/* The cap from the budgets: max_sandboxes when configured, else the
 * smaller of memory / function_memory and pids / function_pids (>= 1). */
size_t admit_cap(const struct sfaasd_config *cfg, uint64_t memory, uint64_t pids);

/* Before the loop runs: the cap and budgets (logged by the daemon). */
int admit_init(struct sfaasd *sf, uint64_t memory, uint64_t pids);
void admit_close(struct sfaasd *sf);
void admit_release_all(struct sfaasd *sf);

/* tenants_instance_begin (core/runtime/tenants.h) for a sandbox of ns,
 * having the reclaim_tenant hook give instances back while the quota is
 * full and it can: 0, or -EAGAIN at the quota. */
int admit_tenant_instance_begin(struct sfaasd *sf, const char *ns);
/* A slot for a sandbox now, unless the cap is reached or others wait. */
bool admit_take(struct sfaasd *sf);
/* A waiter's slot, from its ready() callback: ignores the others waiting
 * (the walk serves them in order). */
bool admit_take_waiting(struct sfaasd *sf);
/* A sandbox that held a slot is gone. */
void admit_release(struct sfaasd *sf);
/* Queue w (once; a waiting w keeps its place) and make sure a wake is due. */
void admit_wait(struct sfaasd *sf, struct admit_waiter *w);
void admit_unwait(struct sfaasd *sf, struct admit_waiter *w);
/* Something a waiter waits for besides a slot (its function's own limit)
 * freed up: walk the waiters again soon. */
void admit_kick(struct sfaasd *sf);

/* Exec calls per function: running and queued counts, kept while either
 * is non-zero. */
struct admit_fn_counts {
        uint32_t running, queued;
};
struct admit_fn_counts *admit_fn_get(struct sfaasd *sf, const char *ns, const char *name);
/* Drop the entry when both counts are 0 (call after changing them). */
void admit_fn_put(struct sfaasd *sf, const char *ns, const char *name);
