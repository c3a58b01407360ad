/* SPDX-License-Identifier: MIT */
/* Authentication failures throttled per client address: see throttle.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/api/auth.h"
#include "core/api/throttle.h"
#include "core/base/log.h"
#include "core/base/util.h"

struct tentry {
        struct tentry *hnext;          /* hash chain */
        struct tentry *prev, *next;    /* oldest last failure first */
        struct http_client_key key;
        uint32_t fails;                /* in a row */
        uint64_t last_ns;              /* last failure */
        uint64_t blocked_until_ns;
};

struct throttle {
        struct tentry **buckets;
        size_t mask;
        uint64_t seed[2];
        struct tentry *oldest, *newest;
        size_t n;
        uint64_t after, max_delay_ns;
        uint64_t refused;              /* 429s given */
};

int throttle_new(uint64_t after, uint64_t max_delay_ms, struct throttle **ret)
{
        struct throttle *t = calloc(1, sizeof *t);
        int r;

        if (!t)
                return -ENOMEM;
        t->mask = 4095;
        t->buckets = calloc(t->mask + 1, sizeof *t->buckets);
        if (!t->buckets) {
                free(t);
                return -ENOMEM;
        }
        r = random_bytes(t->seed, sizeof t->seed);
        if (r < 0) {
                throttle_free(t);
                return r;
        }
        t->after = after;
        t->max_delay_ns = max_delay_ms * 1000000;
        *ret = t;
        return 0;
}

void throttle_free(struct throttle *t)
{
        if (!t)
                return;
        while (t->oldest) {
                struct tentry *e = t->oldest;
                t->oldest = e->next;
                free(e);
        }
        free(t->buckets);
        free(t);
}

/* IPv6 by its /64; IPv4 (mapped) as it is. */
static struct http_client_key prefix_of(const struct http_client_key *k)
{
        static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
        struct http_client_key p = *k;

        if (memcmp(k->b, v4mapped, sizeof v4mapped) != 0)
                memset(p.b + 8, 0, 8);
        return p;
}

static size_t bucket_of(const struct throttle *t, const struct http_client_key *k)
{
        uint64_t a, b, h;
        memcpy(&a, k->b, 8);
        memcpy(&b, k->b + 8, 8);
        h = (a ^ t->seed[0]) * 0x9e3779b97f4a7c15ULL;
        h ^= h >> 29;
        h = (h ^ b ^ t->seed[1]) * 0xbf58476d1ce4e5b9ULL;
        h ^= h >> 32;
        return (size_t) h & t->mask;
}

static void lru_unlink(struct throttle *t, struct tentry *e)
{
        if (e->prev)
                e->prev->next = e->next;
        else
                t->oldest = e->next;
        if (e->next)
                e->next->prev = e->prev;
        else
                t->newest = e->prev;
        e->prev = e->next = NULL;
}

static void lru_append(struct throttle *t, struct tentry *e)
{
        e->prev = t->newest;
        e->next = NULL;
        if (t->newest)
                t->newest->next = e;
        else
                t->oldest = e;
        t->newest = e;
}

static void entry_drop(struct throttle *t, struct tentry *e)
{
        struct tentry **pp = &t->buckets[bucket_of(t, &e->key)];
        while (*pp && *pp != e)
                pp = &(*pp)->hnext;
        if (*pp)
                *pp = e->hnext;
        lru_unlink(t, e);
        t->n--;
        free(e);
}

/* Forget addresses quiet for twice the longest delay (at most a few per
 * call: the list is in order of last failure). */
static void expire(struct throttle *t, uint64_t now)
{
        for (int i = 0; i < 8 && t->oldest && now - t->oldest->last_ns > 2 * t->max_delay_ns; i++)
                entry_drop(t, t->oldest);
}

static struct tentry *find(const struct throttle *t, const struct http_client_key *k)
{
        struct tentry *e = t->buckets[bucket_of(t, k)];
        while (e && memcmp(e->key.b, k->b, sizeof k->b) != 0)
                e = e->hnext;
        return e;
}

bool throttle_blocked(struct sfaasd *sf, struct http_request *req, uint64_t *ret_retry_s)
{
        struct throttle *t = sf->throttle;
        struct http_client_key k = prefix_of(&req->client);
        struct tentry *e;
        uint64_t now = now_ns();

        if (!t)
                return false;
        expire(t, now);
        e = find(t, &k);
        if (!e || now >= e->blocked_until_ns)
                return false;
        t->refused++;
        *ret_retry_s = (e->blocked_until_ns - now + 999999999) / 1000000000;
        return true;
}

bool throttle_admit(struct sfaasd *sf, struct http_request *req)
{
        struct throttle *t = sf->throttle;
        struct http_client_key k = prefix_of(&req->client);
        struct tentry *e;
        uint64_t now = now_ns();
        char retry[48];

        if (!t)
                return true;
        expire(t, now);
        e = find(t, &k);
        if (!e || now >= e->blocked_until_ns)
                return true;
        t->refused++;
        (void) xsnprintf(retry, sizeof retry, "Retry-After: %llu\r\n",
                         (unsigned long long) ((e->blocked_until_ns - now + 999999999) / 1000000000));
        http_respond_error_with(req, 429, retry, "too many failed sign-ins from this address, try again later");
        return false;
}

bool throttle_verdict(struct sfaasd *sf, struct http_request *req, bool ok)
{
        struct throttle *t = sf->throttle;
        struct http_client_key k = prefix_of(&req->client);
        struct tentry *e;
        uint64_t now = now_ns();

        if (!t)
                return ok;
        e = find(t, &k);
        if (ok) {
                if (e)
                        entry_drop(t, e); /* a success clears the address */
                return true;
        }
        /* No credentials at all is no guess (a browser's first request, a
         * scraper not configured yet): a 401, not counted. */
        if (!http_request_header(req, "Authorization"))
                return false;
        if (!e) {
                if (t->n >= THROTTLE_MAX_ENTRIES)
                        entry_drop(t, t->oldest);
                e = calloc(1, sizeof *e);
                if (!e)
                        return false; /* still a 401; only the throttle forgets */
                e->key = k;
                e->hnext = t->buckets[bucket_of(t, &k)];
                t->buckets[bucket_of(t, &k)] = e;
                t->n++;
        } else {
                lru_unlink(t, e);
        }
        lru_append(t, e);
        e->last_ns = now;
        if (e->fails < UINT32_MAX)
                e->fails++;
        /* Each failure has its own line already (auth_respond_unauthorized);
         * the throttle says only when it starts refusing. */
        if (e->fails > t->after) {
                uint64_t n = e->fails - t->after - 1, delay = 1000000000;
                while (n-- > 0 && delay < t->max_delay_ns)
                        delay *= 2;
                if (delay > t->max_delay_ns)
                        delay = t->max_delay_ns;
                e->blocked_until_ns = now + delay;
                log_warning("%u failed sign-ins in a row from %s (last: %s %s): refusing it for %llu s",
                            e->fails, req->remote, req->method, req->path,
                            (unsigned long long) (delay / 1000000000));
        }
        return false;
}

void throttle_counts(const struct throttle *t, uint64_t *ret_remembered, uint64_t *ret_blocked,
                     uint64_t *ret_refused_total)
{
        uint64_t now = now_ns(), blocked = 0;

        for (const struct tentry *e = t ? t->oldest : NULL; e; e = e->next)
                if (now < e->blocked_until_ns)
                        blocked++;
        *ret_remembered = t ? t->n : 0;
        *ret_blocked = blocked;
        *ret_refused_total = t ? t->refused : 0;
}
