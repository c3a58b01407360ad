/* SPDX-License-Identifier: MIT */
/* Admission of sandboxes: see core/runtime/admit.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/cleanup.h"
#include "core/base/log.h"
#include "core/base/util.h"
#include "core/runtime/admit.h"
#include "core/runtime/tenants.h"

struct admit_fn {
        struct admit_fn *next;
        struct admit_fn_counts counts;
        char ns[64], name[64];
};

#define ADMIT_FN_BUCKETS 256u

/* "MemTotal: N kB" of /proc/meminfo in bytes; 0 when unreadable. */
static uint64_t host_memory(void)
{
        _cleanup_free_ char *buf = NULL;
        const char *p;
        uint64_t kb = 0;

        if (read_file_at(AT_FDCWD, "/proc/meminfo", 65536, &buf, NULL) < 0)
                return 0;
        p = strstr(buf, "MemTotal:");
        if (!p)
                return 0;
        for (p += STRLEN("MemTotal:"); *p == ' ' || *p == '\t'; p++)
                ;
        for (; *p >= '0' && *p <= '9' && kb < (UINT64_MAX >> 11); p++)
                kb = kb * 10 + (uint64_t) (*p - '0');
        return kb * 1024;
}

static uint64_t read_proc_u64(const char *path)
{
        _cleanup_free_ char *buf = NULL;
        uint64_t v = 0;

        if (read_file_at(AT_FDCWD, path, 64, &buf, NULL) < 0)
                return 0;
        buf[strcspn(buf, "\n")] = '\0';
        return parse_u64(buf, &v) < 0 ? 0 : v;
}

void admit_host_budget(const struct sfaasd_config *cfg, uint64_t *ret_memory, uint64_t *ret_pids)
{
        uint64_t mem = cfg->sandboxes_memory, pids = cfg->sandboxes_pids;

        /* A quarter of the memory and half of the pids stay the host's own:
         * its services, the daemon, the page cache of the images. */
        if (!mem)
                mem = host_memory() / 4 * 3;
        if (!pids) {
                uint64_t pid_max = read_proc_u64("/proc/sys/kernel/pid_max");
                uint64_t threads = read_proc_u64("/proc/sys/kernel/threads-max");
                if (threads && (!pid_max || threads < pid_max))
                        pid_max = threads;
                pids = pid_max / 2;
        }
        *ret_memory = mem;
        *ret_pids = pids;
}

size_t admit_cap(const struct sfaasd_config *cfg, uint64_t memory, uint64_t pids)
{
        uint64_t cap = UINT64_MAX;

        if (cfg->max_sandboxes)
                return (size_t) cfg->max_sandboxes;
        if (memory && cfg->function.memory_bytes)
                cap = memory / cfg->function.memory_bytes;
        if (pids && cfg->function.pids && pids / cfg->function.pids < cap)
                cap = pids / cfg->function.pids;
        if (cap == UINT64_MAX)
                cap = 64; /* nothing known about the host: a modest default */
        return cap < 1 ? 1 : (size_t) cap;
}

int admit_init(struct sfaasd *sf, uint64_t memory, uint64_t pids)
{
        struct admit *a = sf->admit;

        a->max = admit_cap(&sf->cfg, memory, pids);
        a->memory_budget = memory;
        a->pids_budget = pids;
        a->fns = calloc(ADMIT_FN_BUCKETS, sizeof *a->fns);
        if (!a->fns)
                return -ENOMEM;
        a->fn_mask = ADMIT_FN_BUCKETS - 1;
        uv_timer_init(&sf->loop, &a->wake);
        a->wake.data = sf;
        a->wake_open = true;
        return 0;
}

void admit_close(struct sfaasd *sf)
{
        struct admit *a = sf->admit;

        if (a->wake_open) {
                uv_close((uv_handle_t *) &a->wake, NULL);
                a->wake_open = false;
        }
}

void admit_release_all(struct sfaasd *sf)
{
        struct admit *a = sf->admit;

        if (!a->fns)
                return;
        for (size_t i = 0; i <= a->fn_mask; i++) {
                struct admit_fn *f = a->fns[i], *next;
                for (; f; f = next) {
                        next = f->next;
                        free(f);
                }
        }
        free(a->fns);
        a->fns = NULL;
}

static void on_wake(uv_timer_t *t);

/* Walk the waiters soon: from a timer armed here, never from inside the
 * code that freed the slot (nor at 0 ms from the timer's own callback: a
 * walk under way goes round again instead). */
static void schedule_wake(struct admit *a)
{
        if (a->waking) {
                a->again = true;
                return;
        }
        if (a->wake_open && a->head && !uv_is_active((uv_handle_t *) &a->wake))
                (void) uv_timer_start(&a->wake, on_wake, 0, 0);
}

static void unlink_waiter(struct admit *a, struct admit_waiter *w)
{
        if (w->prev)
                w->prev->next = w->next;
        else
                a->head = w->next;
        if (w->next)
                w->next->prev = w->prev;
        else
                a->tail = w->prev;
        w->prev = w->next = NULL;
        w->waiting = false;
        a->waiting--;
}

/* Put w back where it was: before next (NULL: at the tail). */
static void relink_waiter(struct admit *a, struct admit_waiter *w, struct admit_waiter *next)
{
        w->waiting = true;
        w->next = next;
        w->prev = next ? next->prev : a->tail;
        if (w->prev)
                w->prev->next = w;
        else
                a->head = w;
        if (next)
                next->prev = w;
        else
                a->tail = w;
        a->waiting++;
}

static void on_wake(uv_timer_t *t)
{
        struct sfaasd *sf = t->data;
        struct admit *a = sf->admit;
        uint64_t pass = ++a->pass;

        a->waking = true;
        a->again = false;
        for (;;) {
                struct admit_waiter *w = a->head, *next;

                while (w && w->pass == pass)
                        w = w->next; /* kept its place in this walk already */
                if (!w || a->running >= a->max)
                        break;
                next = w->next;
                unlink_waiter(a, w);
                if (!w->ready(w)) {
                        /* Its function is at its own limit: it keeps its
                         * place and is passed over until the next walk. */
                        w->pass = pass;
                        relink_waiter(a, w, next);
                }
                /* Otherwise it may have run anything (a call that failed at
                 * once, answered, and freed itself or others): from the head
                 * again. */
        }
        a->waking = false;
        if (a->again && a->head)
                (void) uv_timer_start(&a->wake, on_wake, 1, 0); /* not 0 ms from its own callback */
        /* Slots all taken and someone still waits: warm instances idle
         * above their floor make room (their slots come back when they
         * have stopped, which wakes the walk again). */
        if (a->head && a->running >= a->max && a->reclaim)
                a->reclaim(sf);
}

int admit_tenant_instance_begin(struct sfaasd *sf, const char *ns)
{
        int r;

        while ((r = tenants_instance_begin(sf, ns)) < 0 && sf->admit->reclaim_tenant &&
               sf->admit->reclaim_tenant(sf, ns))
                ;
        return r;
}

bool admit_take(struct sfaasd *sf)
{
        struct admit *a = sf->admit;

        if (a->running >= a->max || a->head)
                return false;
        a->running++;
        return true;
}

bool admit_take_waiting(struct sfaasd *sf)
{
        struct admit *a = sf->admit;

        if (a->running >= a->max)
                return false;
        a->running++;
        return true;
}

void admit_release(struct sfaasd *sf)
{
        struct admit *a = sf->admit;

        if (a->running > 0)
                a->running--;
        schedule_wake(a);
}

void admit_kick(struct sfaasd *sf)
{
        schedule_wake(sf->admit);
}

void admit_wait(struct sfaasd *sf, struct admit_waiter *w)
{
        struct admit *a = sf->admit;

        if (!w->waiting) {
                w->waiting = true;
                w->next = NULL;
                w->prev = a->tail;
                if (a->tail)
                        a->tail->next = w;
                else
                        a->head = w;
                a->tail = w;
                a->waiting++;
        }
        schedule_wake(a);
        if (a->running >= a->max && a->reclaim)
                a->reclaim(sf);
}

void admit_unwait(struct sfaasd *sf, struct admit_waiter *w)
{
        if (w->waiting)
                unlink_waiter(sf->admit, w);
}

/* ---- exec calls per function ---- */

static size_t fn_bucket(const struct admit *a, const char *ns, const char *name)
{
        uint64_t h = 1469598103934665603ULL; /* FNV-1a over "ns\0name" */

        for (const char *p = ns; *p; p++)
                h = (h ^ (unsigned char) *p) * 1099511628211ULL;
        h = (h ^ 0) * 1099511628211ULL;
        for (const char *p = name; *p; p++)
                h = (h ^ (unsigned char) *p) * 1099511628211ULL;
        return (size_t) h & a->fn_mask;
}

struct admit_fn_counts *admit_fn_get(struct sfaasd *sf, const char *ns, const char *name)
{
        struct admit *a = sf->admit;
        size_t b;
        struct admit_fn *f;

        if (!a->fns)
                return NULL;
        b = fn_bucket(a, ns, name);
        for (f = a->fns[b]; f; f = f->next)
                if (strcmp(f->ns, ns) == 0 && strcmp(f->name, name) == 0)
                        return &f->counts;
        f = calloc(1, sizeof *f);
        if (!f)
                return NULL;
        (void) xsnprintf(f->ns, sizeof f->ns, "%s", ns);
        (void) xsnprintf(f->name, sizeof f->name, "%s", name);
        f->next = a->fns[b];
        a->fns[b] = f;
        return &f->counts;
}

void admit_fn_put(struct sfaasd *sf, const char *ns, const char *name)
{
        struct admit *a = sf->admit;
        struct admit_fn **pp;

        if (!a->fns)
                return;
        for (pp = &a->fns[fn_bucket(a, ns, name)]; *pp; pp = &(*pp)->next) {
                struct admit_fn *f = *pp;
                if (strcmp(f->ns, ns) == 0 && strcmp(f->name, name) == 0) {
                        if (f->counts.running == 0 && f->counts.queued == 0) {
                                *pp = f->next;
                                free(f);
                        }
                        return;
                }
        }
}
