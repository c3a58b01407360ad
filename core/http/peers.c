/* SPDX-License-Identifier: MIT */
#include "core/http/peers.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/util.h"

struct client_entry {
        struct client_entry *next;
        struct http_client_key key;
        size_t n;
};

struct http_clients {
        struct client_entry **buckets;
        size_t mask;       /* buckets - 1, a power of two minus one */
        uint64_t seed[2];
};

int http_client_key_from_sockaddr(const struct sockaddr *sa, struct http_client_key *ret)
{
        struct http_client_key k = { { 0 } };

        if (sa->sa_family == AF_INET) {
                const struct sockaddr_in *in = (const struct sockaddr_in *) sa;
                k.b[10] = k.b[11] = 0xff;
                memcpy(&k.b[12], &in->sin_addr, 4);
        } else if (sa->sa_family == AF_INET6) {
                /* IPv4-mapped addresses already have the form used for IPv4. */
                memcpy(k.b, &((const struct sockaddr_in6 *) sa)->sin6_addr, 16);
        } else {
                return -EAFNOSUPPORT;
        }
        *ret = k;
        return 0;
}

int http_clients_new(size_t expected, struct http_clients **ret)
{
        struct http_clients *t;
        size_t n = 16;
        int r;

        /* About one bucket per connection, within sane bounds. */
        while (n < expected && n < (1u << 16))
                n <<= 1;
        t = calloc(1, sizeof *t);
        if (!t)
                return -ENOMEM;
        t->buckets = calloc(n, sizeof *t->buckets);
        if (!t->buckets) {
                free(t);
                return -ENOMEM;
        }
        t->mask = n - 1;
        r = random_bytes(t->seed, sizeof t->seed);
        if (r < 0) {
                http_clients_free(t);
                return r;
        }
        *ret = t;
        return 0;
}

void http_clients_free(struct http_clients *t)
{
        if (!t)
                return;
        for (size_t i = 0; i <= t->mask; i++) {
                struct client_entry *e = t->buckets[i], *next;
                for (; e; e = next) {
                        next = e->next;
                        free(e);
                }
        }
        free(t->buckets);
        free(t);
}

/* Two 64-bit halves mixed with the secret seed (multiply, xor-shift). */
static size_t bucket_of(const struct http_clients *t, const struct http_client_key *k)
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

static struct client_entry **find(const struct http_clients *t, const struct http_client_key *k)
{
        struct client_entry **pp = &t->buckets[bucket_of(t, k)];
        while (*pp && memcmp((*pp)->key.b, k->b, sizeof k->b) != 0)
                pp = &(*pp)->next;
        return pp;
}

int http_clients_add(struct http_clients *t, const struct http_client_key *k, size_t *ret_count)
{
        struct client_entry **pp = find(t, k);
        if (!*pp) {
                struct client_entry *e = calloc(1, sizeof *e);
                if (!e)
                        return -ENOMEM;
                e->key = *k;
                *pp = e;
        }
        (*pp)->n++;
        *ret_count = (*pp)->n;
        return 0;
}

void http_clients_remove(struct http_clients *t, const struct http_client_key *k)
{
        struct client_entry **pp = find(t, k), *e = *pp;
        if (!e)
                return;
        if (--e->n == 0) {
                *pp = e->next;
                free(e);
        }
}

size_t http_clients_count(const struct http_clients *t, const struct http_client_key *k)
{
        struct client_entry **pp = find(t, k);
        return *pp ? (*pp)->n : 0;
}
