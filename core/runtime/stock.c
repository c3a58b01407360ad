/* SPDX-License-Identifier: MIT */
/*
 * The exec stock: see core/runtime/stock.h.
 *
 * Ownership: struct stock hangs off sf->stock; one struct stock_fn per
 * function that had a stocked-eligible call, in st->fns, freed when it is
 * idle with nothing parked or being made. A refill is a struct stock_job,
 * made on the loop (spec, copies of the recipe's strings: the recipe may be
 * replaced while the job runs, secrets), spawned on the stock's thread,
 * and handed back through st->done and the uv_async; the loop hands its
 * sandbox to the oldest call waiting for one of its function (e->waiters,
 * never more than e->filling), parks it, or frees it. Each parked sandbox
 * and each job holds one admit slot and one tenant instance (stock.h,
 * "Admission"), which go to the call that takes it.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/list.h"
#include "core/base/log.h"
#include "core/base/util.h"
#include "core/model/egress_grant.h"
#include "core/model/group.h"
#include "core/model/recipe.h"
#include "core/model/secret_files.h"
#include "core/runtime/admit.h"
#include "core/runtime/metrics.h"
#include "core/runtime/pool.h"
#include "core/runtime/stock.h"
#include "core/runtime/tenants.h"
#include "sandbox/sandbox.h"

#define STOCK_TICK_MS 1000
#define STOCK_BACKOFF_MS 10000 /* after a failed refill, none for this long */

struct stock_fn {
        struct list_node node;         /* in st->fns */
        char ns[FN_NAME_MAX], name[FN_NAME_MAX];
        uint64_t gen;                  /* recipe generation of what is parked (0: none yet) */
        uint64_t epoch;                /* drops so far: a job made before one is not parked */
        struct sandbox *parked[STOCK_BOUND];
        unsigned n_parked;
        unsigned filling;              /* jobs under way */
        struct list_head waiters;      /* calls waiting for them (struct stock_waiter), oldest first */
        unsigned n_waiters;            /* at most filling */
        unsigned bound;                /* exec_stock_max or the function's annotation */
        uint64_t last_call_ns;
        uint64_t backoff_until_ns;
        /* demand: the most calls in flight at once, per second, for the
         * last STOCK_WINDOW_S seconds (slot = second % STOCK_WINDOW_S) */
        uint32_t peak[STOCK_WINDOW_S];
        uint64_t peak_sec[STOCK_WINDOW_S];
};

struct stock_job {
        struct list_node node;         /* in st->jobs, then st->done */
        char ns[FN_NAME_MAX], name[FN_NAME_MAX];
        uint64_t gen, epoch;
        struct svec argv, env;
        char *rootfs, *workdir;
        char group[FN_GROUP_MAX];
        struct sandbox_spec sp;
        struct secret_files secrets;
        /* the result, from the thread */
        struct sandbox *sb;
        int r;
        char msg[256];
        double seconds;
};

struct stock {
        struct sfaasd *sf;
        struct list_head fns;
        uv_timer_t tick;               /* demand, idle drops */
        uv_timer_t fill;               /* refills, after the call that asked for them */
        uv_async_t async;              /* jobs done */
        bool handles_open, stopping;
        /* with the thread */
        pthread_t thread;
        bool thread_started;
        pthread_mutex_t mu;
        pthread_cond_t cv;
        struct list_head jobs, done;   /* under mu */
        bool quit;                     /* under mu */
        size_t jobs_out;               /* loop: jobs not back yet */
        struct stock_counts counts;
};

/* ---- the thread ---- */

static void job_free(struct stock_job *j)
{
        if (!j)
                return;
        secret_files_release(&j->secrets);
        svec_free(&j->argv);
        svec_free(&j->env);
        free(j->rootfs);
        free(j->workdir);
        free(j);
}

/* Spawns jobs one after another. Every signal is blocked here (set before
 * the thread was made): no handler of the daemon runs on this thread,
 * whose stack the sandbox child does not share anyway (it runs on the
 * launcher's). */
static void *stock_thread(void *arg)
{
        struct stock *st = arg;

        (void) pthread_mutex_lock(&st->mu);
        for (;;) {
                struct stock_job *j;
                struct sf_err err = { 0 };
                uint64_t t0;

                while (!st->quit && list_empty(&st->jobs))
                        (void) pthread_cond_wait(&st->cv, &st->mu);
                if (list_empty(&st->jobs))
                        break; /* quit, and nothing left to do */
                j = list_first(&st->jobs, struct stock_job, node);
                list_del(&j->node);
                (void) pthread_mutex_unlock(&st->mu);

                t0 = now_ns();
                j->r = sandbox_spawn(st->sf->launcher, &j->sp, &j->sb, &err);
                j->seconds = (double) (now_ns() - t0) / 1e9;
                if (j->r < 0)
                        (void) xsnprintf(j->msg, sizeof j->msg, "%s", err.msg);

                (void) pthread_mutex_lock(&st->mu);
                list_add_tail(&st->done, &j->node);
                (void) uv_async_send(&st->async);
        }
        (void) pthread_mutex_unlock(&st->mu);
        return NULL;
}

/* ---- the functions ---- */

static struct stock_fn *fn_find(struct stock *st, const char *ns, const char *name)
{
        struct stock_fn *e;

        list_for_each_safe(e, &st->fns, node)
                if (strcmp(e->name, name) == 0 && strcmp(e->ns, ns) == 0)
                        return e;
        return NULL;
}

/* Give back what a parked sandbox (or a job) held. */
static void release_hold(struct sfaasd *sf, const char *ns)
{
        tenants_instance_end(sf, ns);
        admit_release(sf);
}

static void drop_parked(struct stock *st, struct stock_fn *e)
{
        e->epoch++;
        while (e->n_parked > 0) {
                struct sandbox *sb = e->parked[--e->n_parked];
                e->parked[e->n_parked] = NULL;
                sandbox_free(sb);
                release_hold(st->sf, e->ns);
                st->counts.parked--;
                st->counts.dropped++;
        }
}

static void fn_free_if_idle(struct stock *st, struct stock_fn *e)
{
        if (e->n_parked || e->filling || e->n_waiters)
                return;
        list_del(&e->node);
        free(e);
}

/* One more than the calls of e in flight at once at most over the window
 * (the spare is what serves the next call while the one just taken is
 * being replaced: a sandbox takes longer to make than a short call to
 * run), at most its bound; 0 when it has been idle for exec_stock_idle. */
static unsigned fn_target(const struct stock *st, const struct stock_fn *e, uint64_t now)
{
        uint64_t sec = now / 1000000000ULL;
        uint32_t peak = 0;

        if (st->stopping || !e->last_call_ns || now - e->last_call_ns >= st->sf->cfg.exec_stock_idle_ms * 1000000ULL)
                return 0;
        for (unsigned i = 0; i < STOCK_WINDOW_S; i++)
                if (e->peak_sec[i] + STOCK_WINDOW_S > sec && e->peak[i] > peak)
                        peak = e->peak[i];
        peak++;
        return peak < e->bound ? peak : e->bound;
}

/* Room for one more sandbox that nobody calls yet: a slot and a tenant
 * instance, with one of each left over for a call. */
static bool room_for_one(struct sfaasd *sf, const char *ns)
{
        struct admit *a = sf->admit;
        struct tenant_quota q = { 0 };
        uint64_t instances = 0, inflight = 0;

        if (a->head || a->running + 1 >= a->max)
                return false;
        if (tenants_quota(sf, ns, &q) < 0)
                return false;
        tenants_counts(sf, ns, &instances, &inflight);
        return !q.instances || instances + 1 < q.instances;
}

/* One refill of e from the function's current recipe: made here, spawned
 * on the thread. */
static int fn_fill_one(struct stock *st, struct stock_fn *e, const struct fn_recipe *rc)
{
        struct sfaasd *sf = st->sf;
        struct stock_job *j;
        struct sf_err err = { 0 };
        int r;

        j = calloc(1, sizeof *j);
        if (!j)
                return -ENOMEM;
        secret_files_init(&j->secrets);
        (void) xsnprintf(j->ns, sizeof j->ns, "%s", e->ns);
        (void) xsnprintf(j->name, sizeof j->name, "%s", e->name);
        j->gen = rc->generation;
        j->epoch = e->epoch;
        j->rootfs = strdup(rc->rootfs);
        j->workdir = rc->workdir ? strdup(rc->workdir) : NULL;
        if (!j->rootfs || (rc->workdir && !j->workdir))
                goto oom;
        for (size_t i = 0; i < rc->exec_argv.n; i++)
                if (svec_push(&j->argv, strdup(rc->exec_argv.v[i])) < 0)
                        goto oom;
        for (size_t i = 0; i < rc->env.n; i++)
                if (svec_push(&j->env, strdup(rc->env.v[i])) < 0)
                        goto oom;
        /* The same spec as a fresh call's (fn_recipe_exec_spec), its strings ours;
         * the init's own environment is the function's, without any call's
         * variables: the call brings its own. */
        {
                static char *const no_env[] = { NULL };
                fn_recipe_exec_spec(rc, j->name, j->ns, j->env.v ? j->env.v : no_env, j->group, &j->sp);
        }
        j->sp.rootfs = j->rootfs;
        j->sp.argv = j->argv.v;
        j->sp.workdir = j->workdir;
        j->sp.stdio[0] = j->sp.stdio[1] = j->sp.stdio[2] = -1;
        j->sp.parked = true;
        r = secret_files_prepare(sf, e->ns, json_object_get(rc->spec, "secrets"), &j->secrets, &err);
        if (r < 0) {
                log_warning("function '%s.%s': no sandbox kept in stock: %s", e->name, e->ns, err.msg);
                job_free(j);
                return r;
        }
        j->sp.binds = j->secrets.binds;
        j->sp.n_binds = j->secrets.n;

        (void) pthread_mutex_lock(&st->mu);
        list_add_tail(&st->jobs, &j->node);
        (void) pthread_cond_signal(&st->cv);
        (void) pthread_mutex_unlock(&st->mu);
        st->jobs_out++;
        st->counts.filling++;
        e->filling++;
        return 0;
oom:
        job_free(j);
        return -ENOMEM;
}

/* Bring e up to its target, as far as admission leaves room. */
static void fn_fill(struct stock *st, struct stock_fn *e, const struct fn_recipe *rc, uint64_t now)
{
        struct sfaasd *sf = st->sf;
        unsigned target = fn_target(st, e, now);

        if (rc->generation != e->gen || now < e->backoff_until_ns)
                return;
        while (e->n_parked + e->filling < target && room_for_one(sf, e->ns)) {
                if (!admit_take(sf))
                        return;
                if (tenants_instance_begin(sf, e->ns) < 0) {
                        admit_release(sf);
                        return;
                }
                if (fn_fill_one(st, e, rc) < 0) {
                        release_hold(sf, e->ns);
                        e->backoff_until_ns = now + STOCK_BACKOFF_MS * 1000000ULL;
                        return;
                }
        }
}

/* Every function's stock to its target: more where calls came, fewer
 * where demand fell, none where it has been idle. Runs from the fill timer
 * (after the call that asked for it) and the tick. */
static void fill_all(struct stock *st)
{
        struct sfaasd *sf = st->sf;
        uint64_t now = now_ns();
        struct stock_fn *e;

        list_for_each_safe(e, &st->fns, node) {
                unsigned target = fn_target(st, e, now);
                struct pool *pool;
                int status;
                struct sf_err err = { 0 };

                while (e->n_parked > target) {
                        struct sandbox *sb = e->parked[--e->n_parked];
                        e->parked[e->n_parked] = NULL;
                        sandbox_free(sb);
                        release_hold(sf, e->ns);
                        st->counts.parked--;
                        st->counts.dropped++;
                }
                if (target == 0) {
                        fn_free_if_idle(st, e);
                        continue;
                }
                if (e->n_parked + e->filling >= target)
                        continue;
                /* The current recipe: the function may have changed. */
                pool = pool_get(sf, e->ns, e->name, &status, &err);
                if (!pool || pool_mode(pool) != FN_MODE_EXEC || !stock_eligible(sf, pool_recipe(pool))) {
                        drop_parked(st, e);
                        e->last_call_ns = 0;
                        fn_free_if_idle(st, e);
                        continue;
                }
                if (pool_recipe(pool)->generation != e->gen) {
                        drop_parked(st, e);
                        e->gen = pool_recipe(pool)->generation;
                }
                fn_fill(st, e, pool_recipe(pool), now);
        }
}

static void on_fill(uv_timer_t *t)
{
        fill_all(t->data);
}

static void on_tick(uv_timer_t *t)
{
        struct stock *st = t->data;

        fill_all(st);
        if (list_empty(&st->fns))
                (void) uv_timer_stop(&st->tick);
}

static void schedule_fill(struct stock *st)
{
        if (!st->handles_open || st->stopping)
                return;
        if (!uv_is_active((uv_handle_t *) &st->fill))
                (void) uv_timer_start(&st->fill, on_fill, 0, 0);
        if (!uv_is_active((uv_handle_t *) &st->tick))
                (void) uv_timer_start(&st->tick, on_tick, STOCK_TICK_MS, STOCK_TICK_MS);
}

/* More calls wait than sandboxes are being made for e (one failed, or
 * was of an older recipe): the youngest go and spawn their own. Each is
 * counted as the miss it now is. A waiter's ready() may start other calls
 * (admission), which may wait on e again: the count is read anew each time. */
static void waiters_release(struct stock *st, struct stock_fn *e)
{
        while (e->n_waiters > e->filling) {
                struct stock_waiter *w = list_entry(e->waiters.n.prev, struct stock_waiter, node);
                list_del(&w->node);
                e->n_waiters--;
                st->counts.misses++;
                w->ready(w, NULL);
        }
}

/* Jobs back from the thread: to the calls waiting for them, else parked
 * if still wanted. */
static void on_done(uv_async_t *h)
{
        struct stock *st = h->data;
        struct sfaasd *sf = st->sf;
        struct list_head done;
        struct stock_job *j;

        list_init(&done);
        (void) pthread_mutex_lock(&st->mu);
        list_for_each_safe(j, &st->done, node) {
                list_del(&j->node);
                list_add_tail(&done, &j->node);
        }
        (void) pthread_mutex_unlock(&st->mu);

        list_for_each_safe(j, &done, node) {
                struct stock_fn *e = fn_find(st, j->ns, j->name);

                list_del(&j->node);
                st->jobs_out--;
                st->counts.filling--;
                if (e)
                        e->filling--;
                metrics_sandbox_start(sf->metrics, j->r >= 0, j->seconds);
                if (j->r < 0) {
                        st->counts.fills_failed++;
                        release_hold(sf, j->ns);
                        if (e)
                                e->backoff_until_ns = now_ns() + STOCK_BACKOFF_MS * 1000000ULL;
                        log_warning("function '%s.%s': cannot make a sandbox for the stock (none for %d s): %s",
                                    j->name, j->ns, STOCK_BACKOFF_MS / 1000, j->msg);
                } else if (!e || st->stopping || e->gen != j->gen || e->epoch != j->epoch ||
                           e->n_parked >= STOCK_BOUND) {
                        st->counts.fills_ok++;
                        st->counts.dropped++;
                        sandbox_free(j->sb);
                        release_hold(sf, j->ns);
                } else if (e->n_waiters) {
                        /* A call that came while this was being made. */
                        struct stock_waiter *w = list_first(&e->waiters, struct stock_waiter, node);
                        list_del(&w->node);
                        e->n_waiters--;
                        st->counts.fills_ok++;
                        st->counts.waits++;
                        w->ready(w, j->sb);
                        if (e->n_parked == 0)
                                schedule_fill(st);
                } else {
                        st->counts.fills_ok++;
                        e->parked[e->n_parked++] = j->sb;
                        st->counts.parked++;
                }
                j->sb = NULL;
                if (e) {
                        waiters_release(st, e);
                        fn_free_if_idle(st, e);
                }
                job_free(j);
        }
}

/* ---- the engine's side ---- */

int stock_new(struct sfaasd *sf)
{
        struct stock *st = calloc(1, sizeof *st);
        sigset_t all, old;
        int r;

        if (!st)
                return -ENOMEM;
        st->sf = sf;
        list_init(&st->fns);
        list_init(&st->jobs);
        list_init(&st->done);
        (void) pthread_mutex_init(&st->mu, NULL);
        (void) pthread_cond_init(&st->cv, NULL);
        uv_timer_init(&sf->loop, &st->tick);
        uv_timer_init(&sf->loop, &st->fill);
        r = uv_async_init(&sf->loop, &st->async, on_done);
        if (r < 0) {
                uv_close((uv_handle_t *) &st->tick, NULL);
                uv_close((uv_handle_t *) &st->fill, NULL);
                free(st);
                return r;
        }
        st->tick.data = st->fill.data = st->async.data = st;
        st->handles_open = true;
        sf->stock = st;
        if (!sf->cfg.exec_stock_max)
                return 0; /* off: no thread */
        (void) sigfillset(&all);
        (void) pthread_sigmask(SIG_SETMASK, &all, &old);
        r = -pthread_create(&st->thread, NULL, stock_thread, st);
        (void) pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (r < 0)
                return r;
        st->thread_started = true;
        return 0;
}

void stock_shutdown(struct sfaasd *sf)
{
        struct stock *st = sf->stock;
        struct stock_fn *e;

        if (!st)
                return;
        st->stopping = true;
        list_for_each_safe(e, &st->fns, node) {
                drop_parked(st, e);
                fn_free_if_idle(st, e);
        }
}

size_t stock_busy(const struct sfaasd *sf)
{
        return sf->stock ? sf->stock->jobs_out : 0;
}

void stock_close(struct sfaasd *sf)
{
        struct stock *st = sf->stock;

        if (!st || !st->handles_open)
                return;
        st->handles_open = false;
        (void) uv_timer_stop(&st->tick);
        (void) uv_timer_stop(&st->fill);
        uv_close((uv_handle_t *) &st->tick, NULL);
        uv_close((uv_handle_t *) &st->fill, NULL);
        uv_close((uv_handle_t *) &st->async, NULL);
}

void stock_free(struct sfaasd *sf)
{
        struct stock *st = sf->stock;
        struct stock_fn *e;
        struct stock_job *j;

        if (!st)
                return;
        if (st->thread_started) {
                (void) pthread_mutex_lock(&st->mu);
                st->quit = true;
                (void) pthread_cond_signal(&st->cv);
                (void) pthread_mutex_unlock(&st->mu);
                (void) pthread_join(st->thread, NULL);
        }
        /* A start that failed before the loop ran: nothing parked, but be
         * thorough (the thread is gone: no job runs). */
        list_for_each_safe(j, &st->done, node) {
                list_del(&j->node);
                sandbox_free(j->sb);
                job_free(j);
        }
        list_for_each_safe(e, &st->fns, node) {
                while (e->n_parked > 0)
                        sandbox_free(e->parked[--e->n_parked]);
                list_del(&e->node);
                free(e);
        }
        (void) pthread_mutex_destroy(&st->mu);
        (void) pthread_cond_destroy(&st->cv);
        free(st);
        sf->stock = NULL;
}

bool stock_eligible(struct sfaasd *sf, const struct fn_recipe *rc)
{
        const char *v;
        uint64_t n;

        if (!sf->stock || !sf->stock->thread_started || sf->stock->stopping || sf->stopping || !rc ||
            rc->exec_argv.n == 0)
                return false;
        /* Per-call proxy listeners in the sandbox's network namespace. */
        if (fn_recipe_meta(rc, EGRESS_ANNOTATION))
                return false;
        v = fn_recipe_meta(rc, "com.sfaasd.exec-stock");
        if (v && parse_u64(v, &n) >= 0 && n == 0)
                return false;
        return true;
}

static unsigned fn_bound(struct sfaasd *sf, const struct fn_recipe *rc)
{
        const char *v = fn_recipe_meta(rc, "com.sfaasd.exec-stock");
        uint64_t n, max = sf->cfg.exec_stock_max;

        if (max > STOCK_BOUND)
                max = STOCK_BOUND;
        if (v && parse_u64(v, &n) >= 0 && n < max)
                return (unsigned) n;
        return (unsigned) max;
}

struct sandbox *stock_take(struct sfaasd *sf, const char *ns, const char *name, const struct fn_recipe *rc)
{
        struct stock *st = sf->stock;
        struct stock_fn *e;
        struct sandbox *sb;

        if (!st || !stock_eligible(sf, rc) || !(e = fn_find(st, ns, name)))
                return NULL;
        if (e->gen != rc->generation) {
                drop_parked(st, e);
                e->gen = rc->generation;
                return NULL;
        }
        if (e->n_parked == 0)
                return NULL;
        /* The oldest: a sandbox parked long ago is no worse, and the young
         * ones stay warm in the caches for the next call. */
        sb = e->parked[0];
        memmove(&e->parked[0], &e->parked[1], (e->n_parked - 1) * sizeof *e->parked);
        e->parked[--e->n_parked] = NULL;
        st->counts.parked--;
        if (e->n_parked == 0)
                schedule_fill(st); /* no spare: stock_call_answered would be too late */
        return sb;
}

void stock_note_call(struct sfaasd *sf, const char *ns, const char *name, const struct fn_recipe *rc,
                     uint32_t running, enum stock_served served)
{
        struct stock *st = sf->stock;
        struct stock_fn *e;
        uint64_t now = now_ns(), sec = now / 1000000000ULL;
        unsigned slot = (unsigned) (sec % STOCK_WINDOW_S);

        if (!st || !stock_eligible(sf, rc))
                return;
        if (served == STOCK_HIT)
                st->counts.hits++;
        else if (served == STOCK_MISS)
                st->counts.misses++;
        e = fn_find(st, ns, name);
        if (!e) {
                e = calloc(1, sizeof *e);
                if (!e)
                        return; /* no stock: every call spawns, as without one */
                (void) xsnprintf(e->ns, sizeof e->ns, "%s", ns);
                (void) xsnprintf(e->name, sizeof e->name, "%s", name);
                e->gen = rc->generation;
                list_init(&e->waiters);
                list_add_tail(&st->fns, &e->node);
        }
        e->bound = fn_bound(sf, rc);
        e->last_call_ns = now;
        if (e->peak_sec[slot] != sec) {
                e->peak_sec[slot] = sec;
                e->peak[slot] = 0;
        }
        if (running > e->peak[slot])
                e->peak[slot] = running;
}

bool stock_wait(struct sfaasd *sf, const char *ns, const char *name, const struct fn_recipe *rc,
                struct stock_waiter *w)
{
        struct stock *st = sf->stock;
        struct stock_fn *e;

        if (!st || !stock_eligible(sf, rc) || !(e = fn_find(st, ns, name)))
                return false;
        /* One unclaimed sandbox of this recipe on its way. (One made from
         * an older recipe is not handed over: its waiter then spawns.) */
        if (e->gen != rc->generation || e->filling <= e->n_waiters)
                return false;
        w->fn = e;
        list_add_tail(&e->waiters, &w->node);
        e->n_waiters++;
        return true;
}

void stock_unwait(struct sfaasd *sf, struct stock_waiter *w)
{
        struct stock_fn *e = w->fn;

        list_del(&w->node);
        e->n_waiters--;
        w->fn = NULL;
}

void stock_call_answered(struct sfaasd *sf, const char *ns, const char *name)
{
        struct stock *st = sf->stock;

        if (st && fn_find(st, ns, name))
                schedule_fill(st);
}

void stock_drop(struct sfaasd *sf, const char *ns, const char *name)
{
        struct stock *st = sf->stock;
        struct stock_fn *e = st ? fn_find(st, ns, name) : NULL;

        if (!e)
                return;
        drop_parked(st, e);
        e->gen = 0; /* what is being made now is not parked either */
        e->last_call_ns = 0;
        fn_free_if_idle(st, e);
}

void stock_drop_namespace(struct sfaasd *sf, const char *ns)
{
        struct stock *st = sf->stock;
        struct stock_fn *e;

        if (!st)
                return;
        list_for_each_safe(e, &st->fns, node)
                if (strcmp(e->ns, ns) == 0) {
                        drop_parked(st, e);
                        /* Jobs under way were made with the old secrets. */
                        e->gen = 0;
                        fn_free_if_idle(st, e);
                }
}

static bool reclaim_where(struct sfaasd *sf, const char *ns)
{
        struct stock *st = sf->stock;
        struct stock_fn *e, *victim = NULL;

        if (!st)
                return false;
        list_for_each_safe(e, &st->fns, node)
                if (e->n_parked && (!ns || strcmp(e->ns, ns) == 0) &&
                    (!victim || e->last_call_ns < victim->last_call_ns))
                        victim = e;
        if (!victim)
                return false;
        {
                struct sandbox *sb = victim->parked[--victim->n_parked];
                victim->parked[victim->n_parked] = NULL;
                sandbox_free(sb);
                release_hold(sf, victim->ns);
                st->counts.parked--;
                st->counts.dropped++;
        }
        return true;
}

bool stock_reclaim(struct sfaasd *sf)
{
        return reclaim_where(sf, NULL);
}

bool stock_reclaim_tenant(struct sfaasd *sf, const char *ns)
{
        return reclaim_where(sf, ns);
}

void stock_counts(const struct sfaasd *sf, struct stock_counts *ret)
{
        if (!sf->stock) {
                memset(ret, 0, sizeof *ret);
                return;
        }
        *ret = sf->stock->counts;
}
