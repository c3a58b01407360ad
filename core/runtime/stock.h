/* SPDX-License-Identifier: MIT */
/*
 * The exec stock (issue 18): sandboxes made before they are needed.
 *
 * Per exec-mode function, a few sandboxes prepared up to the last step
 * (namespaces, id-mapped root, mounts, secrets, cgroup leaf, limits,
 * capabilities dropped, seccomp attached) and parked (sandbox.h, "Parked
 * sandboxes"). Each serves exactly one call, which hands it its
 * environment and stdio; only then does its init fork and exec the
 * command. A parked sandbox holds nothing of any call, and none is ever
 * used twice, so a call served from the stock sees what a fresh spawn
 * would: the spec is built by the same function (fn_recipe_exec_spec) from the
 * same recipe.
 *
 * Size: 0 at first; a call of the function sets its target to one more
 * than the most calls of it in flight at once over the last
 * STOCK_WINDOW_S seconds (the spare serves the next call while the one
 * just taken is replaced), at most exec_stock_max (config; 0 turns the stock off) or the function's
 * annotation com.sfaasd.exec-stock (0..exec_stock_max). After
 * exec_stock_idle without a call the function's stock is dropped.
 *
 * Admission: a parked sandbox, and one being made, holds a daemon-wide
 * sandbox slot and one of its tenant's instances, as a running one does,
 * so a stock never takes the host past its caps. A refill leaves at least
 * one slot (and one tenant instance) free; a call that finds every slot
 * taken has parked sandboxes dropped first (stock_reclaim, before warm
 * instances are reclaimed). A call served from the stock takes over the
 * parked sandbox's slot and instance.
 *
 * What is not stocked (the fresh spawn serves it): functions with an
 * egress grant (per-call proxy listeners in the sandbox's own network
 * namespace), calls whose environment is larger than a parked init takes
 * (SB_CALL_MAX), and everything while the daemon stops.
 *
 * Waiting: a call that finds nothing parked while a sandbox of its
 * function is being made, not yet claimed by another call, waits for it
 * (struct stock_waiter below) rather than spawning its own: that spawn
 * would wait for the launcher's mutex behind the one under way, on the
 * loop thread, and take up to two spawns' time. The sandbox it gets is
 * a parked one like any other (same recipe generation, one call).
 *
 * Refill: off the call's path, after the call is answered while a spare
 * is parked (a refill made while the call runs would take the CPU it
 * needs, and the spare serves the next call meanwhile); at once when the
 * call took the last one (the next call would find none, and the thread
 * would idle while this one runs). Sandboxes are spawned on a thread of the
 * stock's own (the launcher serialises spawns: sandbox.h, "Threading"),
 * which lives until every sandbox it made is gone (their parent-death
 * signal is tied to it); the loop prepares each spawn (spec, secrets) and
 * parks the result. A redeploy, update or removal of the function, or a
 * change of its namespace's secrets, drops its stock at once, and a
 * sandbox made from an older recipe is never used (recipe generations).
 *
 * Loop thread only, but for the spawning thread inside stock.c.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "core/base/list.h"
#include "core/sfaasd.h"

struct fn_recipe;
struct sandbox;

/* How a call of a stocked function was served (stock_note_call). */
enum stock_served { STOCK_HIT, STOCK_MISS, STOCK_WAIT };

#define STOCK_BOUND 8      /* exec_stock_max at most */
#define STOCK_WINDOW_S 10  /* seconds of demand the target looks back */

/* After the loop exists (its handles) and before calls come. */
int stock_new(struct sfaasd *sf);
/* SIGTERM: drop every parked sandbox, start no more. */
void stock_shutdown(struct sfaasd *sf);
/* Spawns under way (shutdown waits for 0). */
size_t stock_busy(const struct sfaasd *sf);
/* Close the handles (at exit, once stock_busy() is 0). */
void stock_close(struct sfaasd *sf);
/* Stop the thread and free; every sandbox it made must be gone. */
void stock_free(struct sfaasd *sf);

/* Whether calls of the function recipe rc may be served from a stock. */
bool stock_eligible(struct sfaasd *sf, const struct fn_recipe *rc);
/* A parked sandbox of ns/name made from rc (the same generation), or NULL.
 * It comes with a daemon-wide slot and one of the tenant's instances,
 * which are the caller's from now on. Counts a hit. */
struct sandbox *stock_take(struct sfaasd *sf, const char *ns, const char *name, const struct fn_recipe *rc);
/* A call of ns/name starts with running calls of it in flight (itself
 * included): the demand that sizes the stock. served: from the stock
 * (counted as a hit), spawned fresh (a miss), or waiting for a sandbox
 * being made (counted when it gets one, stock_waiter). */
void stock_note_call(struct sfaasd *sf, const char *ns, const char *name, const struct fn_recipe *rc,
                     uint32_t running, enum stock_served served);
/* A call of ns/name has been answered: refill now (a refill made while
 * the call runs would take the CPU it needs; the spare serves the next
 * call meanwhile; with no spare left the refill started when the call
 * took the last one). */
void stock_call_answered(struct sfaasd *sf, const char *ns, const char *name);
/* The function changed or went: drop its stock now. */
void stock_drop(struct sfaasd *sf, const char *ns, const char *name);
/* Namespace ns's secrets changed: drop the stocks of all its functions. */
void stock_drop_namespace(struct sfaasd *sf, const char *ns);
/* A sandbox slot is wanted: drop one parked sandbox (the one of the
 * function called longest ago). true when one was dropped. */
bool stock_reclaim(struct sfaasd *sf);
/* The same for ns's instances quota. */
bool stock_reclaim_tenant(struct sfaasd *sf, const char *ns);

/* A call that found nothing parked while a sandbox of its function was
 * being made: rather than spawn one of its own (behind the launcher's
 * mutex, which that making holds: twice a spawn's time, on the loop
 * thread), it waits for that sandbox. ready() is called once, on the loop:
 * with the sandbox (it comes with a slot and a tenant instance, as from
 * stock_take), or with NULL when none came for it (the making failed, the
 * function changed, the daemon stops): the call then spawns its own. */
struct stock_waiter {
        struct list_node node;     /* stock.c's */
        void *fn;                  /* stock.c's */
        void (*ready)(struct stock_waiter *w, struct sandbox *sb);
};
/* Wait for a sandbox of ns/name (recipe rc) being made now that no other
 * waiter has claimed. false when there is none (nothing claimed). */
bool stock_wait(struct sfaasd *sf, const char *ns, const char *name, const struct fn_recipe *rc,
                struct stock_waiter *w);
/* Stop waiting (the call went away); ready() is not called. */
void stock_unwait(struct sfaasd *sf, struct stock_waiter *w);


struct stock_counts {
        uint64_t parked;           /* parked now */
        uint64_t filling;          /* being made now */
        uint64_t hits, misses;     /* stocked-eligible calls served from the stock, or not */
        uint64_t waits;            /* calls that waited for a sandbox being made and got it */
        uint64_t fills_ok, fills_failed;
        uint64_t dropped;          /* parked sandboxes dropped unused */
};
void stock_counts(const struct sfaasd *sf, struct stock_counts *ret);
