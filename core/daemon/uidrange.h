/* SPDX-License-Identifier: MIT */
/*
 * The host uid/gid ranges of a data folder's tenants (core/daemon/uidrange.c).
 *
 * Each tenant gets 65536 host ids, [base + slot x 65536, +65536), from a
 * window of uid_ranges ranges that starts at base. Slots come from a counter
 * that only goes up (store/db.h), so a range is never given to a second
 * tenant, whatever of the first may still exist. base is chosen at the
 * first start: the config's uid_base, or, when it is 0 (the default), the
 * first free window from 2^30 on; it is kept in the store and a later start
 * with another uid_base is refused.
 *
 * At every start the daemon refuses to serve when its window (or a range
 * already given out) overlaps /etc/subuid or /etc/subgid, a user or group
 * of /etc/passwd or /etc/group, or the window of another running sfaasd on
 * the host. A running daemon holds a claim, the lock file
 * /run/sfaasd/uids-<data folder id>.claim with "START END" (END exclusive)
 * in it, for its whole life; a claim nobody holds is stale and removed.
 */
#pragma once

#include "core/base/error.h"
#include "core/sfaasd.h"

/* Choose or check the window, refuse overlaps, take the claim
 * (sf->uid_claim_fd). -errno with the reason in err. */
int uidrange_setup(struct sfaasd *sf, struct sf_err *err);
/* Let go of the claim (at exit). */
void uidrange_release(struct sfaasd *sf);
