/* SPDX-License-Identifier: MIT */
/*
 * Who a request is (core/api/auth.h). Admin credentials are created on
 * the first start the way faasd does: DATA/secrets/basic-auth-user
 * ("admin") and basic-auth-password (random, mode 0600). Basic auth
 * compares the password in constant time (SHA-256 of both sides, so not
 * even the length leaks); tenants' tokens are found by their SHA-256.
 */
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "core/api/auth.h"
#include "core/base/cleanup.h"
#include "core/base/log.h"
#include "core/base/util.h"
#include "core/sfaasd.h"
#include "store/tenants.h"


static void trim(char *s)
{
        size_t n = strlen(s);
        while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
                s[--n] = '\0';
}

int auth_ensure_credentials(const char *data_dir, char **ret_password, bool *ret_created, struct sf_err *err)
{
        char dir[PATH_MAX];
        _cleanup_close_ int dfd = -1;
        _cleanup_free_ char *pw = NULL;
        bool created = false;
        int r;

        r = xsnprintf(dir, sizeof dir, "%s/secrets", data_dir);
        if (r < 0)
                return sf_err_set(err, r, "data folder path is too long");
        if (mkdir(dir, 0700) < 0 && errno != EEXIST)
                return sf_err_errno(err, -errno, "cannot create '%s'", dir);
        dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        if (dfd < 0)
                return sf_err_errno(err, -errno, "cannot open '%s'", dir);
        (void) fchmod(dfd, 0700);
        r = read_file_at(dfd, "basic-auth-password", 4096, &pw, NULL);
        if (r == -ENOENT) {
                unsigned char rnd[24];
                char hex[49];
                r = random_bytes(rnd, sizeof rnd);
                if (r < 0)
                        return sf_err_errno(err, r, "cannot generate a password");
                hex_encode(rnd, sizeof rnd, hex);
                r = write_file_atomic(dfd, "basic-auth-password", hex, strlen(hex), 0600);
                if (r < 0)
                        return sf_err_errno(err, r, "cannot write '%s/basic-auth-password'", dir);
                r = write_file_atomic(dfd, "basic-auth-user", AUTH_ADMIN_USER, STRLEN(AUTH_ADMIN_USER), 0600);
                if (r < 0)
                        return sf_err_errno(err, r, "cannot write '%s/basic-auth-user'", dir);
                pw = strdup(hex);
                if (!pw)
                        return sf_err_set(err, -ENOMEM, "out of memory");
                created = true;
        } else if (r < 0) {
                return sf_err_errno(err, r, "cannot read '%s/basic-auth-password'", dir);
        }
        trim(pw);
        if (!*pw)
                return sf_err_set(err, -EINVAL, "'%s/basic-auth-password' is empty", dir);
        *ret_password = TAKE_PTR(pw);
        if (ret_created)
                *ret_created = created;
        return 0;
}

/* ---- the cache of known credentials ---- */

#define AUTH_CACHE_SIZE 256 /* direct-mapped; a collision replaces the older entry */

struct auth_entry {
        unsigned char key[SHA256_DIGEST_LENGTH]; /* SHA-256 of the Authorization header's value */
        bool used;
        enum caller_kind kind;                   /* CALLER_ADMIN, _TENANT or _KEY: only good ones */
        char ns[ROUTE_NAME_MAX];
        char function[ROUTE_NAME_MAX];
        char credential[AUTH_TOKEN_ID_MAX];
        int64_t expires_at;                      /* unix ns, 0: never */
};

struct auth {
        struct auth_entry e[AUTH_CACHE_SIZE];
};

int auth_new(struct auth **ret)
{
        struct auth *a = calloc(1, sizeof *a);
        if (!a)
                return -ENOMEM;
        *ret = a;
        return 0;
}

void auth_free(struct auth *a)
{
        if (!a)
                return;
        OPENSSL_cleanse(a, sizeof *a);
        free(a);
}

void auth_forget(struct auth *a)
{
        if (a)
                OPENSSL_cleanse(a->e, sizeof a->e);
}

/* ---- parsing the Authorization header ---- */

/* Decode "Basic base64(user:pass)" into buf; user and pass point into it. */
static bool decode_basic(const char *h, char *buf, size_t size, const char **ret_user, const char **ret_pass)
{
        size_t in_len;
        int n, pad = 0;
        char *colon;

        while (*h == ' ')
                h++;
        in_len = strlen(h);
        if (in_len == 0 || in_len % 4 != 0 || in_len / 4 * 3 >= size)
                return false;
        n = EVP_DecodeBlock((unsigned char *) buf, (const unsigned char *) h, (int) in_len);
        if (n < 0)
                return false;
        /* EVP_DecodeBlock counts padding bytes as data: take them off. */
        if (h[in_len - 1] == '=')
                pad++;
        if (h[in_len - 2] == '=')
                pad++;
        n -= pad;
        buf[n] = '\0';
        if (memchr(buf, '\0', (size_t) n))
                return false;
        colon = strchr(buf, ':');
        if (!colon)
                return false;
        *colon = '\0';
        *ret_user = buf;
        *ret_pass = colon + 1;
        return true;
}

static bool password_is_admins(const struct sfaasd *sf, const char *pass)
{
        unsigned char want[SHA256_DIGEST_LENGTH], got[SHA256_DIGEST_LENGTH];
        /* Hashes of both sides: not even the length leaks. */
        (void) SHA256((const unsigned char *) sf->password, strlen(sf->password), want);
        (void) SHA256((const unsigned char *) pass, strlen(pass), got);
        return CRYPTO_memcmp(want, got, sizeof want) == 0;
}

/* Look token up; user (NULL for Bearer) must be its namespace. */
static void identify_token(struct sfaasd *sf, const char *user, const char *token, struct api_caller *c,
                           int64_t *ret_expires)
{
        unsigned char hash[SHA256_DIGEST_LENGTH];
        struct store_token *t = NULL;
        size_t n = strlen(token);
        int r;

        c->kind = CALLER_INVALID;
        if (n < STRLEN(AUTH_TOKEN_PREFIX) || n >= 256 ||
            !(str_startswith(token, AUTH_TOKEN_PREFIX) || str_startswith(token, AUTH_KEY_PREFIX))) {
                c->why = "not a token";
                return;
        }
        (void) SHA256((const unsigned char *) token, n, hash);
        r = store_token_lookup(sf->store, hash, &t);
        if (r == -ENOENT) {
                c->why = "unknown token";
                return;
        }
        if (r < 0) {
                log_error_errno(r, "cannot look a token up");
                c->why = "token lookup failed";
                return;
        }
        /* The index found the row by its hash; compare it as a secret all
         * the same (constant time), the one check that decides. */
        if (CRYPTO_memcmp(t->hash, hash, sizeof hash) != 0) {
                c->why = "unknown token";
        } else if (t->revoked_at) {
                c->why = "revoked token";
        } else if (t->expires_at && t->expires_at <= time_unix_ns()) {
                c->why = "expired token";
        } else if (user && strcmp(user, t->namespace) != 0) {
                c->why = "token of another tenant";
        } else if (xsnprintf(c->ns, sizeof c->ns, "%s", t->namespace) >= 0 &&
                   xsnprintf(c->credential, sizeof c->credential, "%s", t->id) >= 0 &&
                   xsnprintf(c->function, sizeof c->function, "%s", t->function) >= 0) {
                /* An invoke key is no credential of the tenant's: it opens
                 * calls to its functions, nothing else (core/api/access.c). */
                c->kind = strcmp(t->kind, "invoke") == 0 ? CALLER_KEY : CALLER_TENANT;
                *ret_expires = t->expires_at;
        } else {
                c->why = "stored token is malformed";
        }
        store_token_free(t);
}

void auth_identify(struct sfaasd *sf, const struct http_request *req, struct api_caller *c)
{
        const char *h = http_request_header(req, "Authorization");
        unsigned char key[SHA256_DIGEST_LENGTH];
        struct auth_entry *e;
        char buf[512];
        const char *user, *pass;
        int64_t expires = 0;

        memset(c, 0, sizeof *c);
        if (!h) {
                c->kind = CALLER_ANONYMOUS;
                return;
        }
        (void) SHA256((const unsigned char *) h, strlen(h), key);
        e = &sf->auth->e[(key[0] | (unsigned) key[1] << 8) % AUTH_CACHE_SIZE];
        if (e->used && CRYPTO_memcmp(e->key, key, sizeof key) == 0) {
                if (e->expires_at && e->expires_at <= time_unix_ns()) {
                        OPENSSL_cleanse(e, sizeof *e);
                        c->kind = CALLER_INVALID;
                        c->why = "expired token";
                        return;
                }
                c->kind = e->kind;
                memcpy(c->ns, e->ns, sizeof c->ns);
                memcpy(c->function, e->function, sizeof c->function);
                memcpy(c->credential, e->credential, sizeof c->credential);
                return;
        }
        c->kind = CALLER_INVALID;
        if (strncasecmp(h, "Basic ", 6) == 0) {
                if (!decode_basic(h + 6, buf, sizeof buf, &user, &pass)) {
                        c->why = "malformed Basic credentials";
                } else if (strcmp(user, AUTH_ADMIN_USER) == 0) {
                        if (password_is_admins(sf, pass)) {
                                c->kind = CALLER_ADMIN;
                                (void) xsnprintf(c->credential, sizeof c->credential, "password");
                        } else {
                                c->why = "wrong admin password";
                        }
                } else {
                        identify_token(sf, user, pass, c, &expires);
                }
                OPENSSL_cleanse(buf, sizeof buf);
        } else if (strncasecmp(h, "Bearer ", 7) == 0) {
                const char *t = h + 7;
                while (*t == ' ')
                        t++;
                identify_token(sf, NULL, t, c, &expires);
        } else {
                c->why = "unsupported authorization scheme";
        }
        if (c->kind == CALLER_ADMIN || c->kind == CALLER_TENANT || c->kind == CALLER_KEY) {
                memcpy(e->key, key, sizeof key);
                e->used = true;
                e->kind = c->kind;
                memcpy(e->ns, c->ns, sizeof e->ns);
                memcpy(e->function, c->function, sizeof e->function);
                memcpy(e->credential, c->credential, sizeof e->credential);
                e->expires_at = expires;
        }
}

int auth_token_new(const char *prefix, char ret_text[AUTH_TOKEN_TEXT_MAX], unsigned char ret_hash[32],
                   char ret_id[AUTH_TOKEN_ID_MAX])
{
        unsigned char rnd[AUTH_TOKEN_BYTES], idb[6];
        char b64[64];
        size_t n;
        int r;

        r = random_bytes(rnd, sizeof rnd);
        if (r >= 0)
                r = random_bytes(idb, sizeof idb);
        if (r < 0)
                return r;
        n = (size_t) EVP_EncodeBlock((unsigned char *) b64, rnd, sizeof rnd);
        OPENSSL_cleanse(rnd, sizeof rnd);
        /* base64url without padding: tokens go into URLs, headers and shells. */
        while (n > 0 && b64[n - 1] == '=')
                n--;
        b64[n] = '\0';
        for (char *p = b64; *p; p++)
                *p = *p == '+' ? '-' : *p == '/' ? '_' : *p;
        r = xsnprintf(ret_text, AUTH_TOKEN_TEXT_MAX, "%s%s", prefix, b64);
        OPENSSL_cleanse(b64, sizeof b64);
        if (r < 0)
                return r;
        (void) SHA256((const unsigned char *) ret_text, strlen(ret_text), ret_hash);
        hex_encode(idb, sizeof idb, ret_id);
        return 0;
}

/* Who the credentials of h claim to be, for the log: "as 'USER'" for Basic
 * (printable ASCII only, the rest '?', at most 32 bytes), else the scheme.
 * The password is wiped from the stack. */
static void claimed_user(const char *h, char *out, size_t size)
{
        char buf[512], user[33];
        const char *u, *pass;
        size_t i;

        if (strncasecmp(h, "Basic ", 6) != 0) {
                (void) xsnprintf(out, size, "%s",
                                 strncasecmp(h, "Bearer ", 7) == 0 ? "with a token" : "with another scheme");
                return;
        }
        if (!decode_basic(h + 6, buf, sizeof buf, &u, &pass)) {
                (void) xsnprintf(out, size, "with malformed Basic credentials");
                OPENSSL_cleanse(buf, sizeof buf);
                return;
        }
        for (i = 0; u[i] && i < sizeof user - 1; i++)
                user[i] = (unsigned char) u[i] >= 0x20 && (unsigned char) u[i] < 0x7f ? u[i] : '?';
        user[i] = '\0';
        OPENSSL_cleanse(buf, sizeof buf);
        (void) xsnprintf(out, size, "as '%s'", user);
}

void auth_respond_unauthorized(struct http_request *req, const char *why)
{
        static const char body[] = "{\"error\":\"invalid credentials\"}\n";
        const char *authz = http_request_header(req, "Authorization");
        /* The web UI signs in with its own form and marks its requests with
         * X-Requested-With; a challenge would make the browser pop its own
         * password prompt over the form. */
        const char *xrw = http_request_header(req, "X-Requested-With");

        /* Logged once per refused request, here where every 401 is made:
         * wrong credentials are a failed login (warning: someone tries
         * passwords or tokens), none at all a denied request (notice). The
         * peer is the TCP peer: behind a proxy, its address. Under journald
         * the level is the line's priority (core/base/log.h). */
        if (authz) {
                char who[64];
                claimed_user(authz, who, sizeof who);
                log_warning("failed login %s from %s: %s %.128s%s%s%s", who, req->remote, req->method,
                            req->path, why ? " (" : "", why ? why : "", why ? ")" : "");
        } else {
                log_notice("denied %s %.128s from %s: no credentials", req->method, req->path, req->remote);
        }
        http_respond(req, 401, "application/json",
                     xrw ? NULL : "WWW-Authenticate: Basic realm=\"Restricted\"\r\n", body, sizeof body - 1);
}
