/* SPDX-License-Identifier: MIT */
/*
 * Open connections per client address, for the HTTP server's per-client cap
 * (core/http/server.c, max_connections_per_client).
 *
 * An address is 16 bytes: IPv6 as it is, IPv4 as the IPv4-mapped IPv6
 * address ::ffff:a.b.c.d, so a client reaching a dual-stack listener counts
 * the same whichever way its connections arrive. Entries live only while a
 * client has connections open; the table holds at most one entry per open
 * connection.
 *
 * The hash is keyed with random bytes drawn at creation: a client cannot
 * choose addresses (an IPv6 /64 offers plenty) that all land in one chain.
 * A chain is in any case no longer than the number of open connections.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct http_client_key {
        uint8_t b[16];
};

/* The key of a peer address (AF_INET or AF_INET6); -EAFNOSUPPORT for others. */
int http_client_key_from_sockaddr(const struct sockaddr *sa, struct http_client_key *ret);

struct http_clients;

/* A table sized for about `expected` connections open at once. */
int http_clients_new(size_t expected, struct http_clients **ret);
void http_clients_free(struct http_clients *t);
/* One more connection of k: its new count in *ret_count. -ENOMEM. */
int http_clients_add(struct http_clients *t, const struct http_client_key *k, size_t *ret_count);
/* One connection of k fewer (a key with no count is ignored). */
void http_clients_remove(struct http_clients *t, const struct http_client_key *k);
/* The open connections of k. */
size_t http_clients_count(const struct http_clients *t, const struct http_client_key *k);
