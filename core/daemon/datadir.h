/* SPDX-License-Identifier: MIT */
/*
 * The daemon's hold on its data folder, and the cleanup after a daemon
 * that was killed there.
 *
 *   DATA/sfaasd.lock   flock()ed (exclusive) for the daemon's whole life: a
 *                      second daemon on the same folder is refused. Holds
 *                      the holder's pid as text, for that message only.
 *   DATA/sfaasd.id     "<16 hex> <st_dev> <st_ino>\n": the folder's
 *                      identity, random, made at the first start. It names
 *                      the daemon's cgroup subtree ("sfaasd-<id>-<pid>",
 *                      sandbox/sandbox.h), so that a later daemon on the
 *                      same folder, holding the lock, knows every subtree
 *                      with this id to be a dead predecessor's.
 *
 * The identity is only valid for the folder it was made in: a copy of the
 * folder (cp -a, a restored backup) would carry the same id, and a daemon
 * on the copy would take the original's live subtree for a dead one. So
 * the file also records the folder's device and inode; when they differ
 * the folder gets a new id (and leftovers of the old one are no longer
 * recognised as its own; their lock files still let any launcher remove
 * them, see sandbox.h).
 */
#pragma once

#include <stdbool.h>

#include "core/base/error.h"

#define DATADIR_ID_LEN 16

struct datadir {
        int lock_fd;                    /* DATA/sfaasd.lock, held; -1 when closed */
        char id[DATADIR_ID_LEN + 1];    /* lower-case hex */
        bool new_id;                    /* made (or remade) by this start */
};

/* Lock the data folder (an existing, absolute, resolved path) for this
 * process and read or make its identity. -EBUSY, with the holder's pid in
 * err, while another daemon has it. The lock's fd is CLOEXEC. */
int datadir_open(const char *data_dir, struct datadir *ret, struct sf_err *err);
/* Let go of the lock (the daemon's last step). Accepts a closed one. */
void datadir_close(struct datadir *d);

/* What a killed daemon left in the data folder, removed at the next start. */
struct datadir_residue {
        /* images/: staging, unpack and half-removed folders, images without .complete */
        unsigned imports;
        /* blobs/sha256/: temporary copies, and blobs no image lists */
        unsigned blobs;
        /* "<name>.tmp-<hex>" of atomic writes in DATA and DATA/secrets; entries in DATA/tmp */
        unsigned tmp_files;
};
/* Remove it. Only with the folder's lock held (nothing else may be
 * importing). Best effort: what cannot be removed is logged and left. */
void datadir_clean(const char *data_dir, struct datadir_residue *ret);
