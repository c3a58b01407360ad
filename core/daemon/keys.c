/* SPDX-License-Identifier: MIT */
/* The secrets key's source, move and rotation: see core/daemon/keys.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/base/cleanup.h"
#include "core/base/log.h"
#include "core/base/util.h"
#include "core/daemon/keys.h"
#include "store/secrets.h"

/* path (absolute) lies inside dir (absolute, resolved)? The path's folder
 * is resolved when it exists, so a symlink into the data folder counts. */
static bool path_inside(const char *path, const char *dir)
{
        char folder[PATH_MAX], real[PATH_MAX];
        const char *slash = strrchr(path, '/');
        const char *p = path;
        size_t n = strlen(dir);

        if (slash && slash != path && xsnprintf(folder, sizeof folder, "%.*s", (int) (slash - path), path) >= 0 &&
            realpath(folder, real)) {
                size_t rl = strlen(real);
                if (xsnprintf(real + rl, sizeof real - rl, "%s", slash) >= 0)
                        p = real;
        }
        return strncmp(p, dir, n) == 0 && (p[n] == '/' || p[n] == '\0');
}

int keys_source(const struct sfaasd_config *cfg, struct keys_source *ret, struct sf_err *err)
{
        const char *creds = getenv("CREDENTIALS_DIRECTORY");
        struct keys_source src = { 0 };
        char cwd[PATH_MAX];
        int r;

        if (creds && *creds) {
                r = xsnprintf(src.path, sizeof src.path, "%s/%s", creds, KEYS_CREDENTIAL);
                if (r >= 0 && access(src.path, F_OK) == 0) {
                        src.credential = true;
                        *ret = src;
                        return 0;
                }
        }
        if (cfg->secrets_key_file[0] == '/')
                r = xsnprintf(src.path, sizeof src.path, "%s", cfg->secrets_key_file);
        else if (cfg->secrets_key_file[0])
                r = getcwd(cwd, sizeof cwd) ? xsnprintf(src.path, sizeof src.path, "%s/%s", cwd, cfg->secrets_key_file)
                                            : -errno;
        else
                r = xsnprintf(src.path, sizeof src.path, "%s.secrets-key", cfg->data_dir);
        if (r < 0)
                return sf_err_errno(err, r, "the secrets key path is too long");
        if (path_inside(src.path, cfg->data_dir))
                return sf_err_set(err, -EINVAL,
                                  "the secrets key '%s' is inside the data folder '%s': a copy of the folder would "
                                  "carry it; keep it elsewhere (secrets_key_file)",
                                  src.path, cfg->data_dir);
        *ret = src;
        return 0;
}

/* The rotation's new key, when only it opens the secrets: the rename that
 * did not happen. */
static int finish_rotation(const struct keys_source *src, struct store *store, struct secret_key *ret)
{
        char next[PATH_MAX + 8];
        struct secret_key k;
        struct sf_err e = { 0 };

        if (src->credential || xsnprintf(next, sizeof next, "%s.new", src->path) < 0 ||
            secret_key_read(next, &k, &e) < 0)
                return -ENOENT;
        if (store_secrets_key_check(store, &k, NULL) < 0 || rename(next, src->path) < 0) {
                secret_key_wipe(&k);
                return -ENOENT;
        }
        log_notice("finished an interrupted key rotation: '%s' is the secrets key now", src->path);
        *ret = k;
        secret_key_wipe(&k);
        return 0;
}

int keys_open(const struct sfaasd_config *cfg, struct store *store, struct secret_key *ret, struct sf_err *err)
{
        struct keys_source src;
        struct secret_key key, legacy;
        char kid[9], lid[9];
        bool have_key, have_legacy;
        size_t n = 0;
        int r;

        r = keys_source(cfg, &src, err);
        if (r < 0)
                return r;
        r = secret_key_read(src.path, &key, err);
        if (r < 0 && r != -ENOENT)
                return r;
        have_key = r >= 0;
        r = secret_key_read_legacy(cfg->data_dir, &legacy, err);
        if (r < 0 && r != -ENOENT)
                return r;
        have_legacy = r >= 0;

        if (have_legacy) {
                /* An older installation: its key sits beside the secrets. */
                secret_key_id(&legacy, lid);
                if (!have_key) {
                        r = secret_key_write(src.path, &legacy, false, err);
                        if (r < 0)
                                goto out;
                        key = legacy;
                        have_key = true;
                        log_notice("moved the secrets key (id %s) out of the data folder, from '%s/secrets/store.key' "
                                   "to '%s': copies of the data folder made from now on decrypt nothing; copies made "
                                   "before still hold the key, 'sfaasd secrets rotate-key' makes them useless",
                                   lid, cfg->data_dir, src.path);
                }
                secret_key_id(&key, kid);
                if (store_secrets_key_check(store, &key, &n) >= 0) {
                        /* The key in use opens everything: the old file is stale. */
                } else if ((r = store_secrets_key_check(store, &legacy, NULL)) >= 0) {
                        r = store_secrets_reseal(store, &legacy, &key, &n);
                        if (r < 0) {
                                sf_err_errno(err, r, "cannot re-seal the secrets under the key '%s'", src.path);
                                goto out;
                        }
                        log_notice("re-sealed %zu secret(s) from the data folder's old key (id %s) under the key "
                                   "'%s' (id %s)", n, lid, src.path, kid);
                } else {
                        r = sf_err_set(err, -EBADMSG,
                                       "neither the secrets key '%s' (id %s) nor the data folder's old key (id %s) "
                                       "opens the secrets stored in '%s'",
                                       src.path, kid, lid, cfg->data_dir);
                        goto out;
                }
                r = secret_key_remove_legacy(cfg->data_dir, err);
                if (r < 0)
                        goto out;
                log_notice("removed the old secrets key from the data folder '%s'", cfg->data_dir);
        } else if (!have_key) {
                /* The first start, or a data folder that came without its key. */
                r = secret_key_new(&key);
                if (r < 0) {
                        sf_err_errno(err, r, "cannot make a secrets key");
                        goto out;
                }
                r = store_secrets_key_check(store, &key, &n);
                if (r == -EBADMSG) {
                        r = sf_err_set(err, -ENOKEY,
                                       "no secrets key at '%s', but the data folder '%s' holds secrets sealed under "
                                       "one: give that key (secrets_key_file, or the systemd credential '%s'); a data "
                                       "folder copied without its key decrypts nothing",
                                       src.path, cfg->data_dir, KEYS_CREDENTIAL);
                        goto out;
                }
                if (r < 0) {
                        sf_err_errno(err, r, "cannot read the stored secrets");
                        goto out;
                }
                r = secret_key_write(src.path, &key, false, err);
                if (r < 0)
                        goto out;
                have_key = true;
                secret_key_id(&key, kid);
                log_notice("made a new secrets key (id %s) at '%s', outside the data folder: keep it safe, and with "
                           "the backups of the data folder but apart from them",
                           kid, src.path);
        } else if ((r = store_secrets_key_check(store, &key, &n)) < 0) {
                if (r == -EBADMSG && finish_rotation(&src, store, &key) >= 0) {
                        r = 0;
                } else {
                        secret_key_id(&key, kid);
                        r = r == -EBADMSG ? sf_err_set(err, -EBADMSG,
                                                       "the secrets key '%s' (id %s) does not open the secrets stored "
                                                       "in '%s': they were sealed under another key",
                                                       src.path, kid, cfg->data_dir)
                                          : sf_err_errno(err, r, "cannot read the stored secrets");
                        goto out;
                }
        }
        secret_key_id(&key, kid);
        log_info("secrets key: %s '%s' (id %s)", src.credential ? "systemd credential" : "file", src.path, kid);
        *ret = key;
        r = 0;
out:
        secret_key_wipe(&key);
        if (have_legacy)
                secret_key_wipe(&legacy);
        return r;
}

int keys_rotate(const struct sfaasd_config *cfg, struct store *store, const char *out_path, size_t *ret_count,
                char new_id[9], struct sf_err *err)
{
        struct keys_source src;
        struct secret_key old, fresh;
        char target[PATH_MAX], next[PATH_MAX + 8];
        int r;

        r = keys_source(cfg, &src, err);
        if (r < 0)
                return r;
        if (src.credential && !out_path)
                return sf_err_set(err, -EROFS,
                                  "the secrets key is the systemd credential '%s': give --out FILE for the new key, "
                                  "then make that file the credential",
                                  src.path);
        r = keys_open(cfg, store, &old, err);
        if (r < 0)
                return r;
        if (xsnprintf(target, sizeof target, "%s", out_path ? out_path : src.path) < 0 ||
            xsnprintf(next, sizeof next, "%s.new", target) < 0) {
                secret_key_wipe(&old);
                return sf_err_set(err, -ENAMETOOLONG, "the key path is too long");
        }
        if (out_path && path_inside(target, cfg->data_dir)) {
                secret_key_wipe(&old);
                return sf_err_set(err, -EINVAL, "'%s' is inside the data folder: keep the key elsewhere", target);
        }
        r = secret_key_new(&fresh);
        if (r >= 0)
                r = secret_key_write(next, &fresh, true, err);
        if (r >= 0) {
                r = store_secrets_reseal(store, &old, &fresh, ret_count);
                if (r < 0) {
                        (void) unlink(next);
                        sf_err_errno(err, r, "cannot re-seal the secrets (nothing changed)");
                }
        }
        if (r >= 0 && rename(next, target) < 0)
                r = sf_err_errno(err, -errno,
                                 "the secrets are sealed under the new key '%s' but it could not be renamed to '%s': "
                                 "rename it by hand",
                                 next, target);
        if (r >= 0)
                secret_key_id(&fresh, new_id);
        secret_key_wipe(&old);
        secret_key_wipe(&fresh);
        return r;
}
