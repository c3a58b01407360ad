/* SPDX-License-Identifier: MIT */
/* The intrusive hash table of core/base/htab.h. */
#include "core/base/htab.h"

#include <errno.h>
#include <stdlib.h>

#define HTAB_MIN_BUCKETS 16

uint64_t htab_hash2(const char *a, const char *b)
{
        uint64_t h = 14695981039346656037ULL;

        for (const unsigned char *p = (const unsigned char *) a; *p; p++)
                h = (h ^ *p) * 1099511628211ULL;
        h = (h ^ 0) * 1099511628211ULL; /* "ab","c" and "a","bc" differ */
        for (const unsigned char *p = (const unsigned char *) b; *p; p++)
                h = (h ^ *p) * 1099511628211ULL;
        return h;
}

/* Double the buckets; on ENOMEM the table keeps its size. */
static void htab_grow(struct htab *t)
{
        size_t nb = (t->mask + 1) * 2;
        struct htab_node **b = calloc(nb, sizeof *b);

        if (!b)
                return;
        for (size_t i = 0; i <= t->mask; i++) {
                struct htab_node *n = t->b[i], *next;
                for (; n; n = next) {
                        next = n->next;
                        n->next = b[n->hash & (nb - 1)];
                        b[n->hash & (nb - 1)] = n;
                }
        }
        free(t->b);
        t->b = b;
        t->mask = nb - 1;
}

int htab_add(struct htab *t, struct htab_node *n, uint64_t hash)
{
        struct htab_node **slot;

        if (!t->b) {
                t->b = calloc(HTAB_MIN_BUCKETS, sizeof *t->b);
                if (!t->b)
                        return -ENOMEM;
                t->mask = HTAB_MIN_BUCKETS - 1;
        } else if (t->n >= t->mask + 1) {
                htab_grow(t);
        }
        n->hash = hash;
        slot = &t->b[hash & t->mask];
        n->next = *slot;
        *slot = n;
        t->n++;
        return 0;
}

void htab_del(struct htab *t, struct htab_node *n)
{
        if (!t->b)
                return;
        for (struct htab_node **pp = &t->b[n->hash & t->mask]; *pp; pp = &(*pp)->next)
                if (*pp == n) {
                        *pp = n->next;
                        n->next = NULL;
                        t->n--;
                        return;
                }
}

void htab_release(struct htab *t)
{
        free(t->b);
        t->b = NULL;
        t->mask = 0;
        t->n = 0;
}

struct htab_node *htab_first(const struct htab *t, uint64_t hash)
{
        struct htab_node *n;

        if (!t->b)
                return NULL;
        for (n = t->b[hash & t->mask]; n && n->hash != hash; n = n->next)
                ;
        return n;
}

struct htab_node *htab_next(const struct htab_node *n, uint64_t hash)
{
        struct htab_node *m = n->next;

        while (m && m->hash != hash)
                m = m->next;
        return m;
}
