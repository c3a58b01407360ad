/* SPDX-License-Identifier: MIT */
/* Secrets at rest: AES-256-GCM rows in the secrets table (store/secrets.h). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/base/cleanup.h"
#include "core/base/util.h"
#include "store/db_internal.h"
#include "store/secrets.h"

#define KEY_FILE "store.key"
/* Domain separation: AAD = "sfaasd-secret-v1\0" NS "\0" NAME. */
#define AAD_PREFIX "sfaasd-secret-v1"

DEFINE_TRIVIAL_CLEANUP_FUNC(EVP_CIPHER_CTX *, EVP_CIPHER_CTX_free)
#define _cleanup_cipher_ _cleanup_(EVP_CIPHER_CTX_freep)

void secret_key_wipe(struct secret_key *k)
{
        if (k)
                OPENSSL_cleanse(k->bytes, sizeof k->bytes);
}

int secret_key_load(const char *data_dir, struct secret_key *ret, struct sf_err *err)
{
        char dir[PATH_MAX];
        _cleanup_close_ int dfd = -1;
        char *buf = NULL;
        size_t len = 0;
        struct stat st;
        int r;

        r = xsnprintf(dir, sizeof dir, "%s/secrets", data_dir);
        if (r < 0)
                return sf_err_set(err, r, "data folder path is too long");
        if (mkdir(dir, 0700) < 0 && errno != EEXIST)
                return sf_err_errno(err, -errno, "cannot create '%s'", dir);
        dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        if (dfd < 0)
                return sf_err_errno(err, -errno, "cannot open '%s'", dir);
        if (fstatat(dfd, KEY_FILE, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                struct secret_key k;
                if (errno != ENOENT)
                        return sf_err_errno(err, -errno, "cannot read '%s/%s'", dir, KEY_FILE);
                r = random_bytes(k.bytes, sizeof k.bytes);
                if (r >= 0)
                        r = write_file_atomic(dfd, KEY_FILE, k.bytes, sizeof k.bytes, 0600);
                if (r < 0) {
                        secret_key_wipe(&k);
                        return sf_err_errno(err, r, "cannot create the secrets key '%s/%s'", dir, KEY_FILE);
                }
                *ret = k;
                secret_key_wipe(&k);
                return 0;
        }
        if (!S_ISREG(st.st_mode))
                return sf_err_set(err, -EINVAL, "'%s/%s' is not a regular file", dir, KEY_FILE);
        if (st.st_mode & 077)
                return sf_err_set(err, -EPERM, "'%s/%s' has mode %04o: it must be readable by its owner only "
                                  "(chmod 600)", dir, KEY_FILE, (unsigned) (st.st_mode & 07777));
        r = read_file_at(dfd, KEY_FILE, SECRET_KEY_BYTES + 1, &buf, &len);
        if (r < 0)
                return sf_err_errno(err, r, "cannot read '%s/%s'", dir, KEY_FILE);
        if (len != SECRET_KEY_BYTES) {
                OPENSSL_cleanse(buf, len);
                free(buf);
                return sf_err_set(err, -EINVAL, "'%s/%s' must hold exactly %d bytes, it holds %zu", dir,
                                  KEY_FILE, SECRET_KEY_BYTES, len);
        }
        memcpy(ret->bytes, buf, SECRET_KEY_BYTES);
        OPENSSL_cleanse(buf, len);
        free(buf);
        return 0;
}

int secret_key_read_legacy(const char *data_dir, struct secret_key *ret, struct sf_err *err)
{
        char path[PATH_MAX];
        int r = xsnprintf(path, sizeof path, "%s/secrets/%s", data_dir, KEY_FILE);

        if (r < 0)
                return sf_err_set(err, r, "data folder path is too long");
        return secret_key_read(path, ret, err);
}

int secret_key_remove_legacy(const char *data_dir, struct sf_err *err)
{
        char dir[PATH_MAX];
        _cleanup_close_ int dfd = -1;
        int r = xsnprintf(dir, sizeof dir, "%s/secrets", data_dir);

        if (r < 0)
                return sf_err_set(err, r, "data folder path is too long");
        dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        if (dfd < 0)
                return sf_err_errno(err, -errno, "cannot open '%s'", dir);
        if (unlinkat(dfd, KEY_FILE, 0) < 0 && errno != ENOENT)
                return sf_err_errno(err, -errno, "cannot remove '%s/%s'", dir, KEY_FILE);
        if (fsync(dfd) < 0)
                return sf_err_errno(err, -errno, "cannot sync '%s'", dir);
        return 0;
}

int secret_key_read(const char *path, struct secret_key *ret, struct sf_err *err)
{
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
        unsigned char buf[SECRET_KEY_BYTES + 1];
        struct stat st;
        ssize_t n;

        if (fd < 0) {
                if (errno == ENOENT)
                        return -ENOENT;
                return sf_err_errno(err, -errno, "cannot open the secrets key '%s'", path);
        }
        if (fstat(fd, &st) < 0)
                return sf_err_errno(err, -errno, "cannot read the secrets key '%s'", path);
        if (!S_ISREG(st.st_mode))
                return sf_err_set(err, -EINVAL, "the secrets key '%s' is not a regular file", path);
        if (st.st_mode & 077)
                return sf_err_set(err, -EPERM,
                                  "the secrets key '%s' has mode %04o: it must be readable by its owner only "
                                  "(chmod 600)",
                                  path, (unsigned) (st.st_mode & 07777));
        n = read(fd, buf, sizeof buf);
        if (n < 0)
                return sf_err_errno(err, -errno, "cannot read the secrets key '%s'", path);
        if (n != SECRET_KEY_BYTES) {
                OPENSSL_cleanse(buf, sizeof buf);
                return sf_err_set(err, -EINVAL, "the secrets key '%s' must hold exactly %d bytes", path,
                                  SECRET_KEY_BYTES);
        }
        memcpy(ret->bytes, buf, SECRET_KEY_BYTES);
        OPENSSL_cleanse(buf, sizeof buf);
        return 0;
}

int secret_key_write(const char *path, const struct secret_key *k, bool replace, struct sf_err *err)
{
        char dir[PATH_MAX];
        const char *slash = strrchr(path, '/');
        _cleanup_close_ int dfd = -1;
        struct stat st;
        int r;

        if (!slash || slash == path)
                r = xsnprintf(dir, sizeof dir, "%s", slash ? "/" : ".");
        else
                r = xsnprintf(dir, sizeof dir, "%.*s", (int) (slash - path), path);
        if (r < 0)
                return sf_err_set(err, r, "the secrets key path '%s' is too long", path);
        r = mkdir_p(dir, 0700);
        if (r < 0)
                return sf_err_errno(err, r, "cannot create '%s'", dir);
        dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return sf_err_errno(err, -errno, "cannot open '%s'", dir);
        if (!replace && fstatat(dfd, slash ? slash + 1 : path, &st, AT_SYMLINK_NOFOLLOW) == 0)
                return sf_err_set(err, -EEXIST, "the secrets key '%s' exists already", path);
        r = write_file_atomic(dfd, slash ? slash + 1 : path, k->bytes, sizeof k->bytes, 0600);
        if (r >= 0 && fsync(dfd) < 0)
                r = -errno;
        if (r < 0)
                return sf_err_errno(err, r, "cannot write the secrets key '%s'", path);
        return 0;
}

int secret_key_new(struct secret_key *ret)
{
        return random_bytes(ret->bytes, sizeof ret->bytes);
}

void secret_key_id(const struct secret_key *k, char out[9])
{
        static const unsigned char label[] = "sfaasd-secrets-key-id";
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int n = 0;
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();

        if (!ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1 ||
            EVP_DigestUpdate(ctx, label, sizeof label) != 1 ||
            EVP_DigestUpdate(ctx, k->bytes, sizeof k->bytes) != 1 || EVP_DigestFinal_ex(ctx, md, &n) != 1 || n < 4)
                memset(md, 0, 4);
        EVP_MD_CTX_free(ctx);
        hex_encode(md, 4, out);
}

bool secret_name_valid(const char *name)
{
        size_t n = name ? strlen(name) : 0;
        if (n == 0 || n > SECRET_NAME_MAX)
                return false;
        for (size_t i = 0; i < n; i++) {
                char c = name[i];
                bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
                if (!alnum && (i == 0 || (c != '-' && c != '_' && c != '.')))
                        return false;
        }
        return true;
}

/* ---- sealing ---- */

static int crypt_init(EVP_CIPHER_CTX *ctx, bool enc, const struct secret_key *k, const char *ns,
                      const char *name, const unsigned char nonce[SECRET_NONCE_BYTES])
{
        size_t nl = strlen(ns), ml = strlen(name);
        int outl;
        if (nl > SECRET_NAME_MAX + 1 || ml > SECRET_NAME_MAX + 1 || nl > INT_MAX)
                return -EINVAL;
        if (EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL, enc) != 1 ||
            EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, SECRET_NONCE_BYTES, NULL) != 1 ||
            EVP_CipherInit_ex(ctx, NULL, NULL, k->bytes, nonce, enc) != 1 ||
            EVP_CipherUpdate(ctx, NULL, &outl, (const unsigned char *) AAD_PREFIX, (int) sizeof AAD_PREFIX) != 1 ||
            EVP_CipherUpdate(ctx, NULL, &outl, (const unsigned char *) ns, (int) nl + 1) != 1 ||
            EVP_CipherUpdate(ctx, NULL, &outl, (const unsigned char *) name, (int) ml) != 1)
                return -EIO;
        return 0;
}

int secret_seal(const struct secret_key *k, const char *ns, const char *name,
                const unsigned char nonce[SECRET_NONCE_BYTES], const void *in, size_t len, unsigned char *out)
{
        _cleanup_cipher_ EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
        int outl = 0, fin = 0, r;

        if (!ctx)
                return -ENOMEM;
        if (len > SECRET_VALUE_MAX)
                return -EFBIG;
        r = crypt_init(ctx, true, k, ns, name, nonce);
        if (r < 0)
                return r;
        if ((len > 0 && EVP_EncryptUpdate(ctx, out, &outl, in, (int) len) != 1) ||
            EVP_EncryptFinal_ex(ctx, out + outl, &fin) != 1 || (size_t) (outl + fin) != len ||
            EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, SECRET_TAG_BYTES, out + len) != 1)
                return -EIO;
        return 0;
}

int secret_open(const struct secret_key *k, const char *ns, const char *name,
                const unsigned char nonce[SECRET_NONCE_BYTES], const unsigned char *in, size_t len,
                unsigned char *out)
{
        _cleanup_cipher_ EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
        unsigned char tag[SECRET_TAG_BYTES];
        size_t clen;
        int outl = 0, fin = 0, r;

        if (!ctx)
                return -ENOMEM;
        if (len < SECRET_TAG_BYTES || len - SECRET_TAG_BYTES > SECRET_VALUE_MAX)
                return -EBADMSG;
        clen = len - SECRET_TAG_BYTES;
        memcpy(tag, in + clen, SECRET_TAG_BYTES);
        r = crypt_init(ctx, false, k, ns, name, nonce);
        if (r < 0)
                return r;
        if ((clen > 0 && EVP_DecryptUpdate(ctx, out, &outl, in, (int) clen) != 1) ||
            EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, SECRET_TAG_BYTES, tag) != 1)
                return -EIO;
        if (EVP_DecryptFinal_ex(ctx, out + outl, &fin) != 1) {
                OPENSSL_cleanse(out, clen);
                return -EBADMSG;
        }
        return 0;
}

/* ---- the table ---- */

/* Seal value and run sql with ?1 ns, ?2 name, ?3 nonce, ?4 ciphertext, ?5 now. */
static int secret_write(struct store *s, const struct secret_key *k, const char *sql, const char *ns,
                        const char *name, const void *value, size_t len)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        _cleanup_free_ unsigned char *ct = NULL;
        unsigned char nonce[SECRET_NONCE_BYTES];
        int r, rc;

        if (len > SECRET_VALUE_MAX)
                return -EFBIG;
        /* ".NAME": sfaasd's own sealed rows (a namespace's registry
         * credentials); the API accepts no secret name with a '.' first. */
        if (!secret_name_valid(name) && !(name[0] == '.' && secret_name_valid(name + 1)))
                return -EINVAL;
        ct = malloc(len + SECRET_TAG_BYTES);
        if (!ct)
                return -ENOMEM;
        /* A nonce is never reused under one key: 96 random bits per write. */
        r = random_bytes(nonce, sizeof nonce);
        if (r < 0)
                return r;
        r = secret_seal(k, ns, name, nonce, value, len, ct);
        if (r < 0)
                return r;
        r = store_sql_prepare(s, sql, &st);
        if (r < 0)
                return r;
        sqlite3_bind_text(st, 1, ns, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
        sqlite3_bind_blob(st, 3, nonce, sizeof nonce, SQLITE_STATIC);
        sqlite3_bind_blob(st, 4, ct, (int) (len + SECRET_TAG_BYTES), SQLITE_STATIC);
        sqlite3_bind_int64(st, 5, time_unix_ns());
        rc = sqlite3_step(st);
        if (rc == SQLITE_CONSTRAINT_FOREIGNKEY)
                return -ENOENT;
        if (rc != SQLITE_DONE)
                return store_sql_errno(rc);
        return sqlite3_changes(s->db) == 0 ? -ENOENT : 0;
}

int store_secret_create(struct store *s, const struct secret_key *k, const char *ns, const char *name,
                        const void *value, size_t len)
{
        return secret_write(s, k,
                            "INSERT INTO secrets(namespace, name, nonce, ciphertext, created_at, updated_at) "
                            "VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
                            ns, name, value, len);
}

int store_secret_update(struct store *s, const struct secret_key *k, const char *ns, const char *name,
                        const void *value, size_t len)
{
        return secret_write(s, k,
                            "UPDATE secrets SET nonce = ?3, ciphertext = ?4, updated_at = ?5 "
                            "WHERE namespace = ?1 AND name = ?2",
                            ns, name, value, len);
}

int store_secret_delete(struct store *s, const char *ns, const char *name)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = store_sql_prepare(s, "DELETE FROM secrets WHERE namespace = ?1 AND name = ?2", &st);
        if (r < 0)
                return r;
        sqlite3_bind_text(st, 1, ns, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
        r = store_sql_step_done(st);
        if (r < 0)
                return r;
        return sqlite3_changes(s->db) == 0 ? -ENOENT : 0;
}

int store_secret_exists(struct store *s, const char *ns, const char *name)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = store_sql_prepare(s, "SELECT 1 FROM secrets WHERE namespace = ?1 AND name = ?2", &st), rc;
        if (r < 0)
                return r;
        sqlite3_bind_text(st, 1, ns, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW)
                return 0;
        return rc == SQLITE_DONE ? -ENOENT : store_sql_errno(rc);
}

int store_secret_list(struct store *s, const char *ns, char ***ret)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = store_sql_prepare(s, "SELECT name FROM secrets WHERE namespace = ?1 ORDER BY name", &st);

        if (r < 0)
                return r;
        sqlite3_bind_text(st, 1, ns, -1, SQLITE_STATIC);
        return store_sql_collect_strings(st, ret);
}

void secret_value_free(unsigned char *v, size_t len)
{
        if (!v)
                return;
        OPENSSL_cleanse(v, len + 1);
        free(v);
}

int store_secret_get(struct store *s, const struct secret_key *k, const char *ns, const char *name,
                     unsigned char **ret, size_t *ret_len)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        const void *nonce, *ct;
        unsigned char *out;
        size_t clen;
        int r, rc;

        r = store_sql_prepare(s, "SELECT nonce, ciphertext FROM secrets WHERE namespace = ?1 AND name = ?2", &st);
        if (r < 0)
                return r;
        sqlite3_bind_text(st, 1, ns, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
        if (rc == SQLITE_DONE)
                return -ENOENT;
        if (rc != SQLITE_ROW)
                return store_sql_errno(rc);
        nonce = sqlite3_column_blob(st, 0);
        if (!nonce || sqlite3_column_bytes(st, 0) != SECRET_NONCE_BYTES)
                return -EBADMSG;
        ct = sqlite3_column_blob(st, 1);
        clen = (size_t) sqlite3_column_bytes(st, 1);
        if (!ct || clen < SECRET_TAG_BYTES || clen - SECRET_TAG_BYTES > SECRET_VALUE_MAX)
                return -EBADMSG;
        out = malloc(clen - SECRET_TAG_BYTES + 1);
        if (!out)
                return -ENOMEM;
        r = secret_open(k, ns, name, nonce, ct, clen, out);
        if (r < 0) {
                free(out);
                return r;
        }
        out[clen - SECRET_TAG_BYTES] = '\0';
        *ret = out;
        *ret_len = clen - SECRET_TAG_BYTES;
        return 0;
}

/* ---- the key and the table ---- */

/* Each secret's row, opened with k: fn(data, ns, name, value, len) for
 * each, in order; stops at the first failure. */
static int secrets_each(struct store *s, const struct secret_key *k,
                        int (*fn)(void *data, const char *ns, const char *name, const unsigned char *v, size_t len),
                        void *data)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = store_sql_prepare(s, "SELECT namespace, name, nonce, ciphertext FROM secrets ORDER BY rowid", &st),
            rc;

        if (r < 0)
                return r;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                const char *ns = (const char *) sqlite3_column_text(st, 0), *name = (const char *) sqlite3_column_text(st, 1);
                const void *nonce = sqlite3_column_blob(st, 2), *ct = sqlite3_column_blob(st, 3);
                size_t clen = (size_t) sqlite3_column_bytes(st, 3);
                unsigned char *out;

                if (!ns || !name || !nonce || sqlite3_column_bytes(st, 2) != SECRET_NONCE_BYTES || !ct ||
                    clen < SECRET_TAG_BYTES || clen - SECRET_TAG_BYTES > SECRET_VALUE_MAX)
                        return -EBADMSG;
                out = malloc(clen - SECRET_TAG_BYTES + 1);
                if (!out)
                        return -ENOMEM;
                r = secret_open(k, ns, name, nonce, ct, clen, out);
                if (r >= 0 && fn)
                        r = fn(data, ns, name, out, clen - SECRET_TAG_BYTES);
                OPENSSL_cleanse(out, clen - SECRET_TAG_BYTES + 1);
                free(out);
                if (r < 0)
                        return r;
        }
        return rc == SQLITE_DONE ? 0 : store_sql_errno(rc);
}

static int count_one(void *data, const char *ns, const char *name, const unsigned char *v, size_t len)
{
        (*(size_t *) data)++;
        return 0;
}

int store_secrets_key_check(struct store *s, const struct secret_key *k, size_t *ret_count)
{
        size_t n = 0;
        int r = secrets_each(s, k, count_one, &n);

        if (r < 0)
                return r;
        if (ret_count)
                *ret_count = n;
        return 0;
}

struct reseal {
        struct store *s;
        const struct secret_key *k;
        size_t n;
};

static int reseal_one(void *data, const char *ns, const char *name, const unsigned char *v, size_t len)
{
        struct reseal *rs = data;
        int r = store_secret_update(rs->s, rs->k, ns, name, v, len);

        if (r >= 0)
                rs->n++;
        return r;
}

int store_secrets_reseal(struct store *s, const struct secret_key *old, const struct secret_key *new_key,
                         size_t *ret_count)
{
        struct reseal rs = { .s = s, .k = new_key };
        int r = store_sql_exec(s, "BEGIN IMMEDIATE");

        if (r < 0)
                return r;
        /* Updating rows while a SELECT walks them is fine in SQLite (the
         * rowid order does not change: no row is added or removed). */
        r = secrets_each(s, old, reseal_one, &rs);
        if (r >= 0)
                r = store_sql_exec(s, "COMMIT");
        if (r < 0) {
                (void) store_sql_exec(s, "ROLLBACK");
                return r;
        }
        if (ret_count)
                *ret_count = rs.n;
        return 0;
}
