/* SPDX-License-Identifier: MIT */
/*
 * One intrusive hash table for the daemon's per-function tables (pools,
 * metrics series, history rings), which a call looks up by namespace and
 * name: a list scan there cost O(functions) per call and O(functions^2)
 * per function listing (bench/density, issue 18).
 *
 * A struct htab_node embedded in each element holds the next node of its
 * chain and the element's hash; the owner's struct htab holds the buckets,
 * a power of two that doubles as elements are added (load factor 1). The
 * table compares hashes only: a lookup walks one chain with
 * htab_for_each_hash() and compares its own keys. Zeroed memory is an
 * empty table; htab_release() frees the buckets, not the elements.
 * Loop thread only, like everything that uses it.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct htab_node {
        struct htab_node *next;
        uint64_t hash;
};

struct htab {
        struct htab_node **b; /* NULL until the first add */
        size_t mask;          /* buckets - 1 */
        size_t n;             /* elements */
};

/* FNV-1a of a, a NUL, then b: the key (namespace, name). */
uint64_t htab_hash2(const char *a, const char *b);

/* Add n with hash. -ENOMEM only when the first buckets cannot be made
 * (a table that cannot grow keeps working with longer chains). */
int htab_add(struct htab *t, struct htab_node *n, uint64_t hash);
/* Remove n, which must be in t. */
void htab_del(struct htab *t, struct htab_node *n);
void htab_release(struct htab *t);

/* The first node of hash's chain with that hash, and the next one. */
struct htab_node *htab_first(const struct htab *t, uint64_t hash);
struct htab_node *htab_next(const struct htab_node *n, uint64_t hash);

#define htab_entry(ptr, type, member) ((type *) (void *) ((char *) (ptr) - offsetof(type, member)))

/* Every element of t whose hash is h (pos: a struct htab_node pointer);
 * none may be removed in the body. */
#define htab_for_each_hash(pos, t, h) for ((pos) = htab_first((t), (h)); (pos); (pos) = htab_next((pos), (h)))
