/* SPDX-License-Identifier: MIT */
/*
 * OpenFaaS secrets, per namespace, encrypted at rest.
 *
 * Each value is sealed with AES-256-GCM (OpenSSL EVP) under the store key,
 * with a fresh random 96-bit nonce per write and "sfaasd-secret-v1\0" NS
 * "\0" NAME as additional data, so a ciphertext moved to another row (other
 * name or other namespace) no longer opens. The table holds only nonce and
 * ciphertext||tag; cleartext never reaches SQLite or any file.
 *
 * The key is 32 random bytes that live outside the data folder (a key file
 * named in the config, or a systemd credential: core/daemon/keys.h), so a
 * copy of the data folder alone opens nothing. Older versions kept it in
 * DATA/secrets/store.key (secret_key_load, the "legacy" key), from where the
 * daemon moves it at its first start. Losing the key loses every secret;
 * another key makes every stored secret fail to open (-EBADMSG), which the
 * daemon checks at start (store_secrets_key_check).
 *
 * Same threading rule as store/db.h: the loop thread only.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "db.h"

#define SECRET_KEY_BYTES 32
/* AES-256-GCM: a 96-bit nonce per write, a 128-bit tag after the ciphertext. */
#define SECRET_NONCE_BYTES 12
#define SECRET_TAG_BYTES 16
/* Largest secret value accepted (Kubernetes caps a Secret at 1 MiB). */
#define SECRET_VALUE_MAX (512u * 1024u)
/* Longest secret name; see secret_name_valid(). */
#define SECRET_NAME_MAX 63

struct secret_key {
        unsigned char bytes[SECRET_KEY_BYTES];
};

/* Read DATA/secrets/store.key (the legacy place), creating it (0600,
 * random) when absent. A key file of the wrong size or mode wider than 0600
 * is refused: better not to start than to write secrets nobody can open
 * later. */
int secret_key_load(const char *data_dir, struct secret_key *ret, struct sf_err *err);
/* The legacy key when DATA/secrets/store.key exists (-ENOENT otherwise;
 * never made), and its removal (fsync'd). */
int secret_key_read_legacy(const char *data_dir, struct secret_key *ret, struct sf_err *err);
int secret_key_remove_legacy(const char *data_dir, struct sf_err *err);
/* A key file anywhere: a regular file of exactly SECRET_KEY_BYTES bytes,
 * readable by its owner only (systemd's credentials are 0400 and pass).
 * -ENOENT when absent. */
int secret_key_read(const char *path, struct secret_key *ret, struct sf_err *err);
/* Write k to path (0600, a temporary name, fsync, rename, fsync of the
 * folder, made 0700 when missing). replace = false refuses an existing
 * file (-EEXIST). */
int secret_key_write(const char *path, const struct secret_key *k, bool replace, struct sf_err *err);
/* A new random key. */
int secret_key_new(struct secret_key *ret);
/* A short name of a key for messages ("3f9a0c1d"; not secret: the first
 * 4 bytes of SHA-256 over a label and the key). */
void secret_key_id(const struct secret_key *k, char out[9]);
/* Whether k opens the stored secrets: 0 and the number of secrets when it
 * opens every one (0 secrets: any key does), -EBADMSG when one does not. */
int store_secrets_key_check(struct store *s, const struct secret_key *k, size_t *ret_count);
/* Open every secret with old and seal it again with new_key (fresh nonces),
 * in one transaction: all or nothing. *ret_count: how many. */
int store_secrets_reseal(struct store *s, const struct secret_key *old, const struct secret_key *new_key,
                         size_t *ret_count);
/* Wipe a key (OPENSSL_cleanse). */
void secret_key_wipe(struct secret_key *k);

/*
 * Secret names become file names at /var/openfaas/secrets/NAME, so they
 * follow function names plus '.': [a-zA-Z0-9][-a-zA-Z0-9_.]{0,62}. That is
 * a superset of Kubernetes Secret names up to 63 characters (lower-case
 * alphanumerics, '-', '.'): faasd accepts any file name, and upper case and
 * '_' are common there. Never "", ".", ".." or anything with '/'.
 */
bool secret_name_valid(const char *name);
/* The store also keeps rows named "." + a valid name: sfaasd's own sealed
 * values (core/api/registry_auth.c), which no API call can name. */

/* -EEXIST when (ns, name) exists; -ENOENT when ns does not exist;
 * -EFBIG when len > SECRET_VALUE_MAX. */
int store_secret_create(struct store *s, const struct secret_key *k, const char *ns, const char *name,
                        const void *value, size_t len);
/* -ENOENT when (ns, name) does not exist. */
int store_secret_update(struct store *s, const struct secret_key *k, const char *ns, const char *name,
                        const void *value, size_t len);
/* -ENOENT when absent. */
int store_secret_delete(struct store *s, const char *ns, const char *name);
/* 0 when present, -ENOENT when not. */
int store_secret_exists(struct store *s, const char *ns, const char *name);
/* Names in ns, sorted, NULL-terminated (empty list for an unknown ns). */
int store_secret_list(struct store *s, const char *ns, char ***ret);
/*
 * The decrypted value, for mounting only: *ret is len + 1 bytes (NUL
 * appended, not counted). Free it with secret_value_free(), which wipes it.
 * -ENOENT when absent, -EBADMSG when it does not open (wrong key, tampered
 * row, row moved to another name or namespace).
 */
int store_secret_get(struct store *s, const struct secret_key *k, const char *ns, const char *name,
                     unsigned char **ret, size_t *ret_len);
void secret_value_free(unsigned char *v, size_t len);

/* The raw sealing, exposed for tests: out must hold len + SECRET_TAG_BYTES
 * bytes (ciphertext then tag). open writes len - SECRET_TAG_BYTES bytes. */
int secret_seal(const struct secret_key *k, const char *ns, const char *name,
                const unsigned char nonce[SECRET_NONCE_BYTES], const void *in, size_t len, unsigned char *out);
int secret_open(const struct secret_key *k, const char *ns, const char *name,
                const unsigned char nonce[SECRET_NONCE_BYTES], const unsigned char *in, size_t len,
                unsigned char *out);
