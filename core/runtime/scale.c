/* SPDX-License-Identifier: MIT */
/*
 * The autoscaler of the http-mode pools (core/runtime/pool.h), one of the
 * pool module's files: it measures each pool's load on the pools' 100 ms
 * tick and says how many instances the pool should run. pool.c starts and
 * stops them; the admission cap and the tenant's instances quota bound
 * what it starts (pool_ensure), so the scaler only ever asks.
 *
 * Labels, as OpenFaaS defines them:
 *   com.openfaas.scale.type              rps | capacity | cpu
 *   com.openfaas.scale.target            load per instance: calls/s, calls
 *                                        in flight (queued ones included),
 *                                        millicores
 *   com.openfaas.scale.target-proportion of the target, (0, 1]
 * desired = ceil(load / (target * proportion)), within min and max.
 *
 * Load is measured over a sliding window of the last second (10 ticks), so
 * a new load is answered within about a second. Going down is held by a
 * stabilisation window (config scale_down_window, label
 * com.sfaasd.scale.down-window): desired is the most the load asked for
 * over that window, so a square-wave load holds its peak instead of
 * starting and stopping instances every period. Scale to zero is separate
 * (pool.c's floor and com.openfaas.scale.zero-duration): below one
 * instance only after the function has been idle that long.
 *
 * Everything runs on the loop thread.
 */

#include "core/runtime/pool_internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/cleanup.h"
#include "core/base/log.h"
#include "core/base/util.h"
#include "core/model/group.h"
#include "core/model/recipe.h"
#include "core/runtime/logs.h"
#include "core/sfaasd.h"

/* Without com.openfaas.scale.type sfaasd follows calls in flight: an
 * instance is one server in one sandbox, and concurrency is what fills it
 * whatever a call costs. Two calls per instance (at 90 %) gives a second
 * instance as soon as two callers overlap steadily. With a type but no
 * target, OpenFaaS's default target (50) applies to rps and capacity;
 * cpu's default is half a core per instance. */
#define SCALE_DEFAULT_CAPACITY_TARGET 2.0
#define SCALE_OPENFAAS_TARGET 50.0
#define SCALE_DEFAULT_CPU_TARGET 500.0
#define SCALE_DEFAULT_PROPORTION 0.90
#define SCALE_TARGET_MAX 1000000.0
#define SCALE_LOG_EVERY_NS 1000000000ULL

const char *scale_type_name(enum scale_type t)
{
        switch (t) {
        case SCALE_RPS: return "rps";
        case SCALE_CAPACITY: return "capacity";
        case SCALE_CPU: return "cpu";
        }
        return "capacity";
}

static int parse_type(const char *s, enum scale_type *ret)
{
        static const enum scale_type types[] = { SCALE_RPS, SCALE_CAPACITY, SCALE_CPU };
        for (size_t i = 0; i < ELEMENTSOF(types); i++)
                if (strcmp(s, scale_type_name(types[i])) == 0) {
                        *ret = types[i];
                        return 0;
                }
        return -EINVAL;
}

/* A finite decimal number, the whole string (strtod: no parser of our own;
 * its hex, "inf" and "nan" forms are not numbers a label means). */
static int parse_number(const char *s, double *ret)
{
        char *end = NULL;
        double v;

        if (!*s || strlen(s) > 32 || s[strspn(s, "0123456789.eE+-")] != '\0')
                return -EINVAL;
        errno = 0;
        v = strtod(s, &end);
        if (errno || !end || *end || !isfinite(v))
                return -EINVAL;
        *ret = v;
        return 0;
}

int scale_check_meta(const struct fn_recipe *r, struct sf_err *err)
{
        const char *v;
        enum scale_type t;
        double d;
        uint64_t ms;

        v = fn_recipe_meta(r, "com.openfaas.scale.type");
        if (v && parse_type(v, &t) < 0)
                return sf_err_set(err, -EINVAL,
                                  "com.openfaas.scale.type must be 'rps', 'capacity' or 'cpu', not '%.32s'", v);
        v = fn_recipe_meta(r, "com.openfaas.scale.target");
        if (v && (parse_number(v, &d) < 0 || d <= 0 || d > SCALE_TARGET_MAX))
                return sf_err_set(err, -EINVAL,
                                  "com.openfaas.scale.target must be a number above 0 (at most %.0f), not '%.32s'",
                                  SCALE_TARGET_MAX, v);
        v = fn_recipe_meta(r, "com.openfaas.scale.target-proportion");
        if (v && (parse_number(v, &d) < 0 || d <= 0 || d > 1))
                return sf_err_set(err, -EINVAL,
                                  "com.openfaas.scale.target-proportion must be a number in (0, 1] such as "
                                  "'0.9', not '%.32s'",
                                  v);
        v = fn_recipe_meta(r, "com.sfaasd.scale.down-window");
        if (v && (parse_duration_ms(v, &ms) < 0 || ms > 3600ULL * 1000))
                return sf_err_set(err, -EINVAL,
                                  "com.sfaasd.scale.down-window must be a duration of at most 1h such as '30s', "
                                  "not '%.32s'",
                                  v);
        return 0;
}

void scale_configure(struct pool *p, const struct fn_recipe *r)
{
        struct scaler *sc = &p->sc;
        const char *v;
        double d;
        uint64_t ms;

        sc->type = SCALE_CAPACITY;
        sc->type_default = true;
        v = fn_recipe_meta(r, "com.openfaas.scale.type");
        if (v && parse_type(v, &sc->type) == 0)
                sc->type_default = false;
        if (sc->type_default)
                sc->target = SCALE_DEFAULT_CAPACITY_TARGET;
        else
                sc->target = sc->type == SCALE_CPU ? SCALE_DEFAULT_CPU_TARGET : SCALE_OPENFAAS_TARGET;
        v = fn_recipe_meta(r, "com.openfaas.scale.target");
        if (v && parse_number(v, &d) == 0 && d > 0 && d <= SCALE_TARGET_MAX)
                sc->target = d;
        sc->proportion = SCALE_DEFAULT_PROPORTION;
        v = fn_recipe_meta(r, "com.openfaas.scale.target-proportion");
        if (v && parse_number(v, &d) == 0 && d > 0 && d <= 1)
                sc->proportion = d;
        sc->down_window_ms = p->sf->cfg.scale_down_window_ms;
        v = fn_recipe_meta(r, "com.sfaasd.scale.down-window");
        if (v && parse_duration_ms(v, &ms) == 0)
                sc->down_window_ms = ms;
        /* A new version starts measuring afresh; the idle clock starts now. */
        sc->head = sc->filled = 0;
        memset(sc->down_max, 0, sizeof sc->down_max);
        sc->down_bucket = 0;
        sc->raw = 0;
        sc->load = 0;
        sc->desired = p->floor;
        sc->last_call_ns = now_ns();
}

/* Bring the integral of calls over time up to now. */
static void busy_update(struct pool *p, uint64_t now)
{
        struct scaler *sc = &p->sc;

        if (sc->busy_at_ns && now > sc->busy_at_ns)
                sc->busy_area += (double) p->calls * (double) (now - sc->busy_at_ns);
        sc->busy_at_ns = now;
}

void scale_note_calls(struct pool *p, bool began)
{
        uint64_t now = now_ns();

        busy_update(p, now);
        p->sc.last_call_ns = now;
        if (began)
                p->sc.arrivals++;
}

/* The function's CPU time so far (its cgroup group, every instance). */
static uint64_t cpu_usec(struct pool *p)
{
        char group[FN_GROUP_MAX];
        struct sandbox_usage u = { 0 };
        struct sf_err err = { 0 };

        if (!fn_group(p->ns, p->name, group, sizeof group) ||
            sandbox_group_usage(p->sf->launcher, group, &u, &err) < 0)
                return 0;
        return u.cpu_usec;
}

/* Record this tick's cumulative counts; the load is the change across the
 * window (rps: calls begun per second; capacity: the mean calls queued or
 * in flight; cpu: millicores). */
static void measure(struct pool *p, uint64_t now)
{
        struct scaler *sc = &p->sc;
        unsigned i = sc->head, oldest;
        double dt;

        busy_update(p, now);
        if (p->calls)
                sc->last_call_ns = now; /* calls under way: not idle */
        sc->t_ns[i] = now;
        sc->arr[i] = sc->arrivals;
        sc->area[i] = sc->busy_area;
        sc->cpu_usec[i] = sc->type == SCALE_CPU ? cpu_usec(p) : 0;
        sc->head = (i + 1) % SCALE_RATE_SLOTS;
        if (sc->filled < SCALE_RATE_SLOTS)
                sc->filled++;
        if (sc->filled < 2) {
                sc->load = sc->type == SCALE_CAPACITY ? (double) p->calls : 0;
                return;
        }
        oldest = sc->filled < SCALE_RATE_SLOTS ? 0 : sc->head;
        dt = (double) (now - sc->t_ns[oldest]);
        if (dt <= 0)
                return;
        switch (sc->type) {
        case SCALE_RPS: sc->load = (double) (sc->arrivals - sc->arr[oldest]) * 1e9 / dt; break;
        case SCALE_CAPACITY: sc->load = (sc->busy_area - sc->area[oldest]) / dt; break;
        case SCALE_CPU:
                sc->load = sc->cpu_usec[i] >= sc->cpu_usec[oldest]
                                   ? (double) (sc->cpu_usec[i] - sc->cpu_usec[oldest]) * 1e6 / dt
                                   : 0; /* the group was made anew */
                break;
        }
}

/* The most the load asked for over the scale-down window. */
static uint32_t window_max(struct scaler *sc, uint64_t now)
{
        uint64_t width = sc->down_window_ms * 1000000ULL / SCALE_DOWN_SLOTS, bucket;
        uint32_t m = 0;

        if (width == 0)
                return sc->raw; /* no window: follow the load down at once */
        bucket = now / width;
        if (bucket != sc->down_bucket) {
                /* Buckets passed over since the last tick saw no load. */
                uint64_t gap = bucket - sc->down_bucket;
                for (uint64_t k = 1; k <= gap && k <= SCALE_DOWN_SLOTS; k++)
                        sc->down_max[(sc->down_bucket + k) % SCALE_DOWN_SLOTS] = 0;
                sc->down_bucket = bucket;
        }
        if (sc->raw > sc->down_max[bucket % SCALE_DOWN_SLOTS])
                sc->down_max[bucket % SCALE_DOWN_SLOTS] = sc->raw;
        for (unsigned k = 0; k < SCALE_DOWN_SLOTS; k++)
                if (sc->down_max[k] > m)
                        m = sc->down_max[k];
        return m;
}

static void log_decision(struct pool *p, uint64_t now, bool force)
{
        struct scaler *sc = &p->sc;

        if (!sc->log_pending || (!force && now - sc->log_ns < SCALE_LOG_EVERY_NS))
                return;
        sc->log_pending = false;
        sc->log_ns = now;
        if (sc->desired == sc->log_from)
                return; /* went and came back within the second */
        logs_daemon(p->sf->logs, p->ns, p->name, "autoscaler: scaling %s from %u to %u instance(s): %s",
                    sc->desired > sc->log_from ? "up" : "down", sc->log_from, sc->desired, sc->log_why);
        log_info("function '%s.%s': scaling %s from %u to %u instance(s): %s", p->name, p->ns,
                 sc->desired > sc->log_from ? "up" : "down", sc->log_from, sc->desired, sc->log_why);
        sc->log_from = sc->desired;
}

uint32_t scale_tick(struct pool *p, uint64_t now)
{
        struct scaler *sc = &p->sc;
        size_t alive = p->n_starting + p->n_ready;
        double per = sc->target * sc->proportion, need;
        uint32_t lo = p->floor, want, held_down;
        bool idle;

        measure(p, now);
        need = per > 0 ? ceil(sc->load / per - 1e-9) : 0;
        sc->raw = need > (double) p->max ? p->max : (uint32_t) need;
        held_down = window_max(sc, now);
        want = sc->raw > held_down ? sc->raw : held_down;
        /* Below one instance only when asked (the floor is 0) and after
         * com.openfaas.scale.zero-duration without a call. */
        idle = !p->calls && !p->queued && now - sc->last_call_ns >= p->idle_ms * 1000000ULL;
        if (lo == 0 && alive > 0 && !(p->scale_zero && idle))
                lo = 1;
        if (lo == 0 && idle)
                want = 0;
        if (want < lo)
                want = lo;
        if (want > p->max)
                want = p->max;
        if (want != sc->desired) {
                if (!sc->log_pending) {
                        sc->log_from = sc->desired;
                        sc->log_pending = true;
                }
                if (want > sc->desired)
                        sc->ups++;
                else
                        sc->downs++;
                if (want == 0)
                        (void) xsnprintf(sc->log_why, sizeof sc->log_why, "no call for %llu ms",
                                         (unsigned long long) p->idle_ms);
                else if (want > sc->desired)
                        (void) xsnprintf(sc->log_why, sizeof sc->log_why,
                                         "%s load %.2f against a target of %g x %.2f per instance",
                                         scale_type_name(sc->type), sc->load, sc->target, sc->proportion);
                else if (want > lo)
                        (void) xsnprintf(sc->log_why, sizeof sc->log_why,
                                         "%s load %.2f; %u wanted at most over the %llu ms scale-down window",
                                         scale_type_name(sc->type), sc->load, want,
                                         (unsigned long long) sc->down_window_ms);
                else
                        (void) xsnprintf(sc->log_why, sizeof sc->log_why,
                                         "%s load %.2f, down to the minimum of %u after the %llu ms window",
                                         scale_type_name(sc->type), sc->load, lo,
                                         (unsigned long long) sc->down_window_ms);
                sc->desired = want;
        }
        if (sc->desired <= alive)
                sc->held = NULL;
        log_decision(p, now, false);
        return sc->desired;
}

uint32_t scale_wanted(const struct pool *p)
{
        const struct scaler *sc = &p->sc;
        uint32_t up = sc->raw < sc->desired ? sc->raw : sc->desired;

        /* The window holds instances that run; it starts none. Nor does
         * the scaler start the first one: that is the first call's (or the
         * floor's) to do, so an instance that crashed with no call waiting
         * is not replaced on the strength of the last second's load. */
        if (p->n_starting + p->n_ready == 0 && !p->queued)
                return 0;
        return up;
}

void scale_held(struct pool *p, const char *held)
{
        struct scaler *sc = &p->sc;
        uint64_t now = now_ns();

        if (sc->held != held && now - sc->log_ns >= SCALE_LOG_EVERY_NS) {
                logs_daemon(p->sf->logs, p->ns, p->name, "autoscaler: %u instance(s) wanted, %zu running: %s",
                            sc->desired, p->n_starting + p->n_ready, held);
                sc->log_ns = now;
        }
        sc->held = held;
}

json_t *scale_status(const struct pool *p)
{
        const struct scaler *sc = &p->sc;
        json_t *o = json_pack("{s:s,s:b,s:f,s:f,s:f,s:i,s:i,s:i,s:I,s:I,s:I}", "type", scale_type_name(sc->type),
                              "default", sc->type_default, "target", sc->target, "targetProportion", sc->proportion,
                              "load", sc->load, "desiredReplicas", (int) sc->desired, "minReplicas", (int) p->floor,
                              "maxReplicas", (int) p->max, "downWindowMs", (json_int_t) sc->down_window_ms,
                              "scaleUps", (json_int_t) sc->ups, "scaleDowns", (json_int_t) sc->downs);
        if (o && sc->held)
                (void) json_object_set_new(o, "heldBy", json_string(sc->held));
        return o;
}
