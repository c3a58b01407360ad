/* SPDX-License-Identifier: MIT */
/*
 * The secrets key (store/secrets.h): where it comes from, its move out of
 * the data folder, and its rotation (core/daemon/keys.c).
 *
 * Where, first found wins:
 *  1. a systemd credential named "secrets-key" ($CREDENTIALS_DIRECTORY/
 *     secrets-key: LoadCredential=, LoadCredentialEncrypted=,
 *     SetCredential=), read-only;
 *  2. the file named by secrets_key_file (config) or --secrets-key;
 *  3. the file "<data folder>.secrets-key" beside the data folder, never
 *     in it (./.sfaasd-data.secrets-key for `make run`).
 * A key file inside the data folder is refused: a copy of the folder would
 * carry it.
 *
 * At start (keys_open): a key that is missing is made (random, 0600) when
 * the data folder holds no secret; when it holds some, the start stops with
 * the reason: a data folder copied without its key decrypts nothing. Every
 * stored secret must open with the key, else the start stops too. An older
 * installation's DATA/secrets/store.key is moved to the key file (or, with
 * a credential, its secrets are re-sealed under the credential's key) and
 * removed from the data folder, with a notice.
 *
 * Rotation (keys_rotate, `sfaasd secrets rotate-key`, with the daemon
 * stopped): a new key goes to "<key file>.new", every secret is re-sealed
 * under it in one transaction, then the new file is renamed over the old.
 * Interrupted after the transaction, the next start finds that only the
 * ".new" key opens the secrets and finishes the rename; before it, the old
 * key still opens them and ".new" is ignored (and replaced by the next
 * rotation).
 */
#pragma once

#include <limits.h>
#include <stdbool.h>

#include "core/base/error.h"
#include "core/sfaasd.h"

#define KEYS_CREDENTIAL "secrets-key"

struct keys_source {
        char path[PATH_MAX];
        bool credential;            /* a systemd credential: never written */
};

/* Where the key is (cfg->data_dir absolute and resolved). */
int keys_source(const struct sfaasd_config *cfg, struct keys_source *ret, struct sf_err *err);
/* The key that opens the store's secrets, after the start's checks, moves
 * and repairs above; what was done is logged. */
int keys_open(const struct sfaasd_config *cfg, struct store *store, struct secret_key *ret, struct sf_err *err);
/* Re-seal everything under a new key, written to out_path (NULL: the key
 * file itself; required when the key is a credential). *ret_count: the
 * secrets re-sealed. */
int keys_rotate(const struct sfaasd_config *cfg, struct store *store, const char *out_path, size_t *ret_count,
                char new_id[9], struct sf_err *err);
