/* SPDX-License-Identifier: MIT */
/*
 * Throttling of authentication failures per client address
 * (core/api/throttle.c), wherever a route needs credentials.
 *
 * The admin password is 192 random bits, so guessing it is hopeless; the
 * throttle keeps it hopeless for any credential (tenant tokens a person
 * chose, a password an operator set) and makes a guessing run visible in
 * the log. Per address (IPv4 /32, IPv6 /64: a host holds a whole /64 and
 * could otherwise rotate through it):
 *
 *  - the first auth_throttle_after (5) failures in a row are plain 401s
 *    (a request without any Authorization header is no guess and does
 *    not count);
 *  - every further failure (itself still a 401) blocks the address for a
 *    delay that doubles
 *    (1 s, 2 s, 4 s, ... up to auth_throttle_max, 10 min): while blocked,
 *    every request to a route that needs credentials is answered 429 with
 *    Retry-After before any credential is looked at, so the block cannot
 *    be used to test guesses; the requests made while blocked do not
 *    lengthen it;
 *  - a success clears the address; an address with no failure for twice
 *    auth_throttle_max is forgotten;
 *  - each block is logged (warning) with the address and the count.
 *
 * The credential check itself is unchanged (constant time, auth.c). At
 * most THROTTLE_MAX_ENTRIES addresses are remembered; past that the one
 * whose last failure is oldest is forgotten first. Loop thread only.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "core/sfaasd.h"

#define THROTTLE_MAX_ENTRIES 65536

struct throttle;

int throttle_new(uint64_t after, uint64_t max_delay_ms, struct throttle **ret);
void throttle_free(struct throttle *t);

/* Before credentials are checked: true when req's address may try now;
 * false when it is blocked, and req has been answered 429. */
/* Whether the request's address is blocked now (counted as refused), with
 * the seconds to wait; nothing is answered (the route table's access
 * check answers 429 with Retry-After). */
bool throttle_blocked(struct sfaasd *sf, struct http_request *req, uint64_t *ret_retry_s);
bool throttle_admit(struct sfaasd *sf, struct http_request *req);
/* After the check: records the verdict for req's address and returns it
 * (the caller answers 401 when it is false). */
bool throttle_verdict(struct sfaasd *sf, struct http_request *req, bool ok);
/* Addresses remembered / blocked now, for the metrics. */
void throttle_counts(const struct throttle *t, uint64_t *ret_remembered, uint64_t *ret_blocked,
                     uint64_t *ret_refused_total);
