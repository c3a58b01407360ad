/* SPDX-License-Identifier: MIT */
/*
 * Admin credentials, created on first start the way faasd does:
 * DATA/secrets/basic-auth-user ("admin") and basic-auth-password (random,
 * mode 0600). Basic auth compares the password in constant time (SHA-256
 * of both sides, so not even the length leaks).
 */
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "core/base/cleanup.h"
#include "core/base/log.h"
#include "core/base/util.h"
#include "core/sfaasd.h"

#define AUTH_USER "admin"

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
                r = write_file_atomic(dfd, "basic-auth-user", AUTH_USER, STRLEN(AUTH_USER), 0600);
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

bool auth_check_basic(const struct sfaasd *sf, const struct http_request *req)
{
        const char *h = http_request_header(req, "Authorization");
        unsigned char decoded[512];
        unsigned char want[SHA256_DIGEST_LENGTH], got[SHA256_DIGEST_LENGTH];
        size_t in_len;
        int n, pad = 0;
        char *colon;

        if (!h || strncasecmp(h, "Basic ", 6) != 0)
                return false;
        h += 6;
        while (*h == ' ')
                h++;
        in_len = strlen(h);
        if (in_len == 0 || in_len % 4 != 0 || in_len / 4 * 3 >= sizeof decoded)
                return false;
        n = EVP_DecodeBlock(decoded, (const unsigned char *) h, (int) in_len);
        if (n < 0)
                return false;
        /* EVP_DecodeBlock counts padding bytes as data: take them off. */
        if (h[in_len - 1] == '=')
                pad++;
        if (h[in_len - 2] == '=')
                pad++;
        n -= pad;
        decoded[n] = '\0';
        if (memchr(decoded, '\0', (size_t) n))
                return false;
        colon = strchr((char *) decoded, ':');
        if (!colon)
                return false;
        *colon = '\0';
        (void) SHA256((const unsigned char *) sf->password, strlen(sf->password), want);
        (void) SHA256((const unsigned char *) colon + 1, strlen(colon + 1), got);
        return (strcmp((char *) decoded, AUTH_USER) == 0) & (CRYPTO_memcmp(want, got, sizeof want) == 0);
}

/* The user name of a Basic Authorization header, for the log: printable
 * ASCII only (the rest becomes '?'), at most 32 bytes; "" when unreadable. */
static void basic_user(const char *h, char *out, size_t size)
{
        unsigned char decoded[512];
        size_t in_len, i;
        int n;

        out[0] = '\0';
        if (!h || strncasecmp(h, "Basic ", 6) != 0)
                return;
        for (h += 6; *h == ' '; h++)
                ;
        in_len = strlen(h);
        if (in_len == 0 || in_len % 4 != 0 || in_len / 4 * 3 >= sizeof decoded)
                return;
        n = EVP_DecodeBlock(decoded, (const unsigned char *) h, (int) in_len);
        for (i = 0; n > 0 && i < (size_t) n && i + 1 < size && i < 32 && decoded[i] != ':'; i++)
                out[i] = decoded[i] >= 0x20 && decoded[i] < 0x7f ? (char) decoded[i] : '?';
        out[i < size ? i : size - 1] = '\0';
}

void auth_respond_unauthorized(struct http_request *req)
{
        static const char body[] = "{\"error\":\"invalid credentials\"}\n";
        const char *authz = http_request_header(req, "Authorization");
        /* The web UI signs in with its own form and marks its requests with
         * X-Requested-With; a challenge would make the browser pop its own
         * password prompt over the form. */
        const char *xrw = http_request_header(req, "X-Requested-With");

        /* Logged once per refused request, here where every 401 is made:
         * wrong credentials are a failed login (warning: someone tries
         * passwords), none at all a denied request (notice). The peer is
         * the TCP peer: behind a proxy, its address. */
        if (authz) {
                char user[40];
                basic_user(authz, user, sizeof user);
                log_warning("failed login as '%s' from %s: %s %.128s", user, req->remote, req->method, req->path);
        } else {
                log_notice("denied %s %.128s from %s: no credentials", req->method, req->path, req->remote);
        }
        http_respond(req, 401, "application/json",
                     xrw ? NULL : "WWW-Authenticate: Basic realm=\"Restricted\"\r\n", body, sizeof body - 1);
}
