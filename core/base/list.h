/* SPDX-License-Identifier: MIT */
/*
 * One intrusive doubly linked list for every list of the daemon
 * (connections, invocations, instances, upstream connections, wait queues):
 * a struct list_node embedded in each element, a struct list_head in the
 * owner. A head must be list_init()ed before use; a node that is in no list
 * has next == NULL (zeroed memory is "unlinked"), and list_del() puts it back
 * in that state, so removing twice is harmless.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct list_node {
        struct list_node *prev, *next;
};

struct list_head {
        struct list_node n; /* n.next: the first node, n.prev: the last; &n when empty */
};

#define list_entry(ptr, type, member) ((type *) (void *) ((char *) (ptr) - offsetof(type, member)))

static inline void list_init(struct list_head *h)
{
        h->n.prev = h->n.next = &h->n;
}

static inline bool list_empty(const struct list_head *h)
{
        return h->n.next == &h->n;
}

static inline bool list_linked(const struct list_node *n)
{
        return n->next != NULL;
}

static inline void list_insert_between(struct list_node *n, struct list_node *prev, struct list_node *next)
{
        n->prev = prev;
        n->next = next;
        prev->next = n;
        next->prev = n;
}

static inline void list_add_head(struct list_head *h, struct list_node *n)
{
        list_insert_between(n, &h->n, h->n.next);
}

static inline void list_add_tail(struct list_head *h, struct list_node *n)
{
        list_insert_between(n, h->n.prev, &h->n);
}

static inline void list_del(struct list_node *n)
{
        if (!n->next)
                return;
        n->prev->next = n->next;
        n->next->prev = n->prev;
        n->prev = n->next = NULL;
}

/* The first node's element, or NULL. */
#define list_first(h, type, member) (list_empty(h) ? NULL : list_entry((h)->n.next, type, member))

/* The element after pos in h, or NULL. */
#define list_next(h, pos, member) \
        ((pos)->member.next == &(h)->n ? NULL : list_entry((pos)->member.next, __typeof__(*(pos)), member))

#define LIST_CAT_(a, b) a##b
#define LIST_CAT(a, b) LIST_CAT_(a, b)
#define LIST_N_ LIST_CAT(list_n_, __LINE__)
#define LIST_X_ LIST_CAT(list_x_, __LINE__)

/* Every element, in order; pos may be removed (or freed) in the body. */
#define list_for_each_safe(pos, h, member)                                                          \
        for (struct list_node *LIST_N_ = (h)->n.next, *LIST_X_ = LIST_N_->next;                     \
             LIST_N_ != &(h)->n && ((pos) = list_entry(LIST_N_, __typeof__(*(pos)), member), 1); \
             LIST_N_ = LIST_X_, LIST_X_ = LIST_N_->next)
