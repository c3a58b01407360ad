/* SPDX-License-Identifier: MIT */
/* The last hour in memory: per-function and host rings (core/runtime/history.h). */
#include "core/runtime/history.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/base/cleanup.h"
#include "core/base/util.h"

/* Bucket 0 holds latencies up to HIST_MIN_S; bucket i up to
 * HIST_MIN_S * 2^(i/2); the last one everything above. */
#define HIST_MIN_S 1e-4

void history_init(struct history *h)
{
        memset(h, 0, sizeof *h);
}

int64_t history_now(void)
{
        return (int64_t) time(NULL);
}

void history_release(struct history *h)
{
        while (h->fns) {
                struct history_fn *n = h->fns->next;
                free(h->fns);
                h->fns = n;
        }
        htab_release(&h->by_name);
}

/* No libm: the bounds are powers of two, times sqrt(2) for odd i. */
double history_bucket_bound(unsigned i)
{
        if (i + 1 >= HISTORY_BUCKETS)
                return INFINITY;
        return HIST_MIN_S * (double) (1ULL << (i / 2)) * (i & 1 ? M_SQRT2 : 1.0);
}

unsigned history_bucket(double seconds)
{
        unsigned lo = 0, hi = HISTORY_BUCKETS - 1;
        if (!(seconds > HIST_MIN_S)) /* NaN and negatives (a clock step) too */
                return 0;
        /* The first bucket whose bound is >= seconds. */
        while (lo < hi) {
                unsigned mid = (lo + hi) / 2;
                if (seconds <= history_bucket_bound(mid))
                        hi = mid;
                else
                        lo = mid + 1;
        }
        return lo;
}

double history_quantile(const uint32_t *hist, double q)
{
        uint64_t total = 0, cum = 0;
        double rank;

        for (unsigned i = 0; i < HISTORY_BUCKETS; i++)
                total += hist[i];
        if (total == 0)
                return -1;
        rank = q * (double) total;
        for (unsigned i = 0; i < HISTORY_BUCKETS; i++) {
                double lo, hi;
                if (hist[i] == 0 || (double) (cum + hist[i]) < rank) {
                        cum += hist[i];
                        continue;
                }
                lo = i ? history_bucket_bound(i - 1) : 0;
                if (i == HISTORY_BUCKETS - 1)
                        return lo; /* no upper bound: the lowest it can be */
                hi = history_bucket_bound(i);
                return lo + (hi - lo) * ((rank - (double) cum) / (double) hist[i]);
        }
        return history_bucket_bound(HISTORY_BUCKETS - 2);
}

/* The same for 64-bit counts (the totals since the start). */
static double quantile64(const uint64_t *hist, double q)
{
        uint32_t scaled[HISTORY_BUCKETS];
        uint64_t max = 0;
        unsigned shift = 0;
        for (unsigned i = 0; i < HISTORY_BUCKETS; i++)
                if (hist[i] > max)
                        max = hist[i];
        while ((max >> shift) > UINT32_MAX)
                shift++;
        /* Dividing every bucket alike keeps the ranks; a bucket scaled
         * to 0 from a tiny count moves a quantile by less than 1 / 2^32. */
        for (unsigned i = 0; i < HISTORY_BUCKETS; i++)
                scaled[i] = (uint32_t) (hist[i] >> shift);
        return history_quantile(scaled, q);
}

static int64_t slot_of(int64_t now)
{
        return now > 0 ? now / HISTORY_STEP_S : 1;
}

static void slot_clear(struct history_slot *s)
{
        memset(s, 0, sizeof *s);
        s->p50 = s->p99 = -1;
}

static void host_slot_clear(struct history_host_slot *s)
{
        memset(s, 0, sizeof *s);
        s->cpu = -1;
}

/* Move the ring's head to now's slot (never back), closing the old head:
 * its quantiles are kept and the slots skipped over are cleared. */
static struct history_slot *ring_at(struct history_ring *r, int64_t now)
{
        int64_t s = slot_of(now);
        if (r->head == 0) {
                for (size_t i = 0; i < HISTORY_SLOTS; i++)
                        slot_clear(&r->slots[i]);
                memset(r->hist, 0, sizeof r->hist);
                r->head = s;
        } else if (s > r->head) {
                struct history_slot *old = &r->slots[r->head % HISTORY_SLOTS];
                int64_t gap = s - r->head;
                old->p50 = (float) history_quantile(r->hist, 0.5);
                old->p99 = (float) history_quantile(r->hist, 0.99);
                memset(r->hist, 0, sizeof r->hist);
                for (int64_t k = 1; k <= gap && k <= HISTORY_SLOTS; k++)
                        slot_clear(&r->slots[(r->head + k) % HISTORY_SLOTS]);
                r->head = s;
        }
        return &r->slots[r->head % HISTORY_SLOTS];
}

static struct history_host_slot *host_at(struct history_host *hh, int64_t now)
{
        int64_t s = slot_of(now);
        if (hh->head == 0) {
                for (size_t i = 0; i < HISTORY_SLOTS; i++)
                        host_slot_clear(&hh->slots[i]);
                hh->head = s;
        } else if (s > hh->head) {
                for (int64_t k = 1; k <= s - hh->head && k <= HISTORY_SLOTS; k++)
                        host_slot_clear(&hh->slots[(hh->head + k) % HISTORY_SLOTS]);
                hh->head = s;
        }
        return &hh->slots[hh->head % HISTORY_SLOTS];
}

struct history_fn *history_find(struct history *h, const char *ns, const char *name)
{
        uint64_t hash = htab_hash2(ns, name);
        struct htab_node *n;

        htab_for_each_hash(n, &h->by_name, hash) {
                struct history_fn *f = htab_entry(n, struct history_fn, hnode);
                if (strcmp(f->name, name) == 0 && strcmp(f->ns, ns) == 0)
                        return f;
        }
        return NULL;
}

static struct history_fn *fn_get(struct history *h, const char *ns, const char *name)
{
        struct history_fn *f = history_find(h, ns, name);
        if (f)
                return f;
        f = calloc(1, sizeof *f);
        if (!f)
                return NULL;
        if (xsnprintf(f->ns, sizeof f->ns, "%s", ns) < 0 ||
            xsnprintf(f->name, sizeof f->name, "%s", name) < 0 ||
            htab_add(&h->by_name, &f->hnode, htab_hash2(ns, name)) < 0) {
                free(f);
                return NULL;
        }
        f->next = h->fns;
        h->fns = f;
        return f;
}

static uint16_t u16_sat(uint64_t v)
{
        return v > UINT16_MAX ? UINT16_MAX : (uint16_t) v;
}

void history_call_started(struct history *h, const char *ns, const char *name, int64_t now)
{
        struct history_fn *f = fn_get(h, ns, name);
        struct history_slot *s;
        if (!f)
                return;
        f->inflight++;
        s = ring_at(&f->ring, now);
        if (f->inflight > s->inflight)
                s->inflight = u16_sat(f->inflight);
}

void history_call_finished(struct history *h, const char *ns, const char *name, int code, double seconds,
                           int64_t now)
{
        struct history_fn *f = fn_get(h, ns, name);
        struct history_slot *s;
        struct history_host_slot *hs = host_at(&h->host, now);
        unsigned b = history_bucket(seconds);
        bool error = code >= 500;

        hs->calls++;
        hs->errors += error;
        if (!f)
                return;
        if (f->inflight)
                f->inflight--;
        s = ring_at(&f->ring, now);
        s->calls++;
        s->errors += error;
        f->ring.hist[b]++;
        f->total_calls++;
        f->total_errors += error;
        f->total_hist[b]++;
        f->last_call = now;
}

void history_instances(struct history *h, const char *ns, const char *name, uint32_t n, int64_t now)
{
        struct history_fn *f = n ? fn_get(h, ns, name) : history_find(h, ns, name);
        struct history_slot *s;
        if (!f)
                return;
        s = ring_at(&f->ring, now);
        if (n > s->instances)
                s->instances = u16_sat(n);
        /* A call that lasts across slots is in flight in each of them. */
        if (f->inflight > s->inflight)
                s->inflight = u16_sat(f->inflight);
}

void history_host_sample(struct history *h, uint32_t sandboxes, double cpu, uint64_t mem_used,
                         uint64_t mem_total, int64_t now)
{
        struct history_host_slot *s = host_at(&h->host, now);
        if (sandboxes > s->sandboxes)
                s->sandboxes = sandboxes;
        if (cpu >= 0)
                s->cpu = (float) cpu;
        if (mem_used > s->mem_used)
                s->mem_used = mem_used;
        if (mem_total)
                h->host.mem_total = mem_total;
}

void history_forget(struct history *h, const char *ns, const char *name)
{
        for (struct history_fn **pp = &h->fns; *pp; pp = &(*pp)->next)
                if (strcmp((*pp)->name, name) == 0 && strcmp((*pp)->ns, ns) == 0) {
                        struct history_fn *f = *pp;
                        *pp = f->next;
                        htab_del(&h->by_name, &f->hnode);
                        free(f);
                        return;
                }
}

/* ---- JSON ---- */

static json_t *num_or_null(double v)
{
        return v < 0 || isnan(v) ? json_null() : json_real(v);
}

/* One array of HISTORY_SLOTS values per key, oldest first. */
struct columns {
        const char *key;
        json_t *arr;
};

static json_t *columns_object(struct columns *c, size_t n, int64_t head)
{
        json_t *o = json_object();
        bool ok = o != NULL;
        if (ok && json_object_set_new(o, "step", json_integer(HISTORY_STEP_S)) < 0)
                ok = false;
        if (ok &&
            json_object_set_new(o, "start", json_integer((head - HISTORY_SLOTS + 1) * HISTORY_STEP_S)) < 0)
                ok = false;
        for (size_t i = 0; i < n; i++) {
                if (ok && c[i].arr && json_object_set_new(o, c[i].key, c[i].arr) == 0) {
                        c[i].arr = NULL;
                        continue;
                }
                ok = false;
                json_decref(c[i].arr);
                c[i].arr = NULL;
        }
        if (!ok) {
                json_decref(o);
                return NULL;
        }
        return o;
}

static int append(json_t *arr, json_t *v)
{
        return arr && v ? json_array_append_new(arr, v) : (json_decref(v), -1);
}

json_t *history_totals_json(const struct history_fn *f)
{
        char ts[32] = "";
        if (f && f->last_call) {
                time_t t = (time_t) f->last_call;
                struct tm tm;
                if (gmtime_r(&t, &tm))
                        (void) strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
        }
        return json_pack("{s:I,s:I,s:o,s:o,s:o,s:I}", "calls", (json_int_t) (f ? f->total_calls : 0),
                         "errors", (json_int_t) (f ? f->total_errors : 0), "p50",
                         num_or_null(f ? quantile64(f->total_hist, 0.5) : -1), "p99",
                         num_or_null(f ? quantile64(f->total_hist, 0.99) : -1), "lastCall",
                         ts[0] ? json_string(ts) : json_null(), "inflight",
                         (json_int_t) (f ? f->inflight : 0));
}

json_t *history_function_json(struct history *h, const char *ns, const char *name, int64_t now)
{
        struct history_fn *f = history_find(h, ns, name);
        struct columns c[] = {{"calls", json_array()},     {"errors", json_array()},
                              {"p50", json_array()},       {"p99", json_array()},
                              {"instances", json_array()}, {"inflight", json_array()}};
        int64_t head = slot_of(now);
        json_t *o, *totals;
        int bad = 0;

        if (f) {
                (void) ring_at(&f->ring, now);
                head = f->ring.head;
        }
        for (int64_t k = head - HISTORY_SLOTS + 1; k <= head; k++) {
                struct history_slot empty, *s = &empty;
                double p50, p99;
                slot_clear(&empty);
                if (f)
                        s = &f->ring.slots[k % HISTORY_SLOTS];
                p50 = s->p50;
                p99 = s->p99;
                if (f && k == head) { /* under way: from its histogram */
                        p50 = history_quantile(f->ring.hist, 0.5);
                        p99 = history_quantile(f->ring.hist, 0.99);
                }
                bad |= append(c[0].arr, json_integer(s->calls));
                bad |= append(c[1].arr, json_integer(s->errors));
                bad |= append(c[2].arr, num_or_null(p50));
                bad |= append(c[3].arr, num_or_null(p99));
                bad |= append(c[4].arr, json_integer(s->instances));
                bad |= append(c[5].arr, json_integer(s->inflight));
        }
        o = columns_object(c, ELEMENTSOF(c), head);
        if (bad || !o) {
                json_decref(o);
                return NULL;
        }
        /* json_object_set_new() takes the value even when it fails. */
        totals = history_totals_json(f);
        if (!totals || json_object_set_new(o, "totals", totals) < 0 ||
            json_object_set_new(o, "name", json_string(name)) < 0 ||
            json_object_set_new(o, "namespace", json_string(ns)) < 0) {
                json_decref(o);
                return NULL;
        }
        return o;
}

json_t *history_host_json(struct history *h, int64_t now)
{
        struct columns c[] = {{"calls", json_array()},
                              {"errors", json_array()},
                              {"sandboxes", json_array()},
                              {"cpu", json_array()},
                              {"memoryUsed", json_array()}};
        int64_t head;
        json_t *o;
        int bad = 0;

        (void) host_at(&h->host, now);
        head = h->host.head;
        for (int64_t k = head - HISTORY_SLOTS + 1; k <= head; k++) {
                const struct history_host_slot *s = &h->host.slots[k % HISTORY_SLOTS];
                bad |= append(c[0].arr, json_integer(s->calls));
                bad |= append(c[1].arr, json_integer(s->errors));
                bad |= append(c[2].arr, json_integer(s->sandboxes));
                bad |= append(c[3].arr, num_or_null(s->cpu));
                bad |= append(c[4].arr, s->mem_used ? json_integer((json_int_t) s->mem_used) : json_null());
        }
        o = columns_object(c, ELEMENTSOF(c), head);
        if (bad || !o ||
            json_object_set_new(o, "memoryTotal",
                                h->host.mem_total ? json_integer((json_int_t) h->host.mem_total)
                                                  : json_null()) < 0) {
                json_decref(o);
                return NULL;
        }
        return o;
}
