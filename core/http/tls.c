/* SPDX-License-Identifier: MIT */
/* TLS contexts for the HTTP server: see core/http/tls.h. */
#include "core/http/tls.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/base/cleanup.h"
#include "core/base/util.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(SSL_CTX *, SSL_CTX_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(X509 *, X509_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(EVP_PKEY *, EVP_PKEY_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(BIO *, BIO_free)

/* TLS 1.2: ECDHE key exchange and AEAD ciphers only. TLS 1.3's suites are
 * all AEAD and forward secret: OpenSSL's defaults. */
#define TLS12_CIPHERS                                                                                     \
        "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"       \
        "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
#define TLS_GROUPS "X25519:P-256:P-384"

struct http_tls {
        char *cert_path, *key_path;
        SSL_CTX *ctx;
};

/* OpenSSL's error queue as one line (the first, most specific, error). */
static const char *ossl_reason(char *buf, size_t size)
{
        unsigned long e = ERR_peek_last_error();

        if (!e)
                return "unknown error";
        ERR_error_string_n(e, buf, size);
        ERR_clear_error();
        return buf;
}

static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen, const unsigned char *in,
                       unsigned int inlen, void *arg)
{
        static const unsigned char ours[] = { 8, 'h', 't', 't', 'p', '/', '1', '.', '1' };
        unsigned char *sel = NULL;
        unsigned char sel_len = 0;

        (void) ssl;
        (void) arg;
        if (SSL_select_next_proto(&sel, &sel_len, ours, sizeof ours, in, inlen) != OPENSSL_NPN_NEGOTIATED)
                return SSL_TLSEXT_ERR_NOACK;
        *out = sel;
        *outlen = sel_len;
        return SSL_TLSEXT_ERR_OK;
}

static int ctx_build(const char *cert_path, const char *key_path, SSL_CTX **ret, struct sf_err *err)
{
        _cleanup_(SSL_CTX_freep) SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
        char why[256];

        if (!ctx)
                return sf_err_set(err, -ENOMEM, "TLS: cannot create a context: %s", ossl_reason(why, sizeof why));
        if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
            SSL_CTX_set_cipher_list(ctx, TLS12_CIPHERS) != 1 || SSL_CTX_set1_groups_list(ctx, TLS_GROUPS) != 1)
                return sf_err_set(err, -EINVAL, "TLS: cannot set the protocol settings: %s",
                                  ossl_reason(why, sizeof why));
        SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
        /* Memory BIOs: SSL_write always takes the whole buffer. */
        SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
        SSL_CTX_set_alpn_select_cb(ctx, alpn_select, NULL);
        if (SSL_CTX_use_certificate_chain_file(ctx, cert_path) != 1)
                return sf_err_set(err, -EINVAL, "TLS: cannot load the certificate '%s': %s", cert_path,
                                  ossl_reason(why, sizeof why));
        if (SSL_CTX_use_PrivateKey_file(ctx, key_path, SSL_FILETYPE_PEM) != 1)
                return sf_err_set(err, -EINVAL, "TLS: cannot load the key '%s': %s", key_path,
                                  ossl_reason(why, sizeof why));
        if (SSL_CTX_check_private_key(ctx) != 1)
                return sf_err_set(err, -EINVAL, "TLS: the key '%s' does not match the certificate '%s'", key_path,
                                  cert_path);
        *ret = TAKE_PTR(ctx);
        return 0;
}

int http_tls_new(const char *cert_path, const char *key_path, struct http_tls **ret, struct sf_err *err)
{
        struct http_tls *t = calloc(1, sizeof *t);
        int r;

        if (!t)
                return -ENOMEM;
        t->cert_path = strdup(cert_path);
        t->key_path = strdup(key_path);
        if (!t->cert_path || !t->key_path) {
                http_tls_free(t);
                return -ENOMEM;
        }
        r = ctx_build(cert_path, key_path, &t->ctx, err);
        if (r < 0) {
                http_tls_free(t);
                return r;
        }
        *ret = t;
        return 0;
}

void http_tls_free(struct http_tls *t)
{
        if (!t)
                return;
        SSL_CTX_free(t->ctx);
        free(t->cert_path);
        free(t->key_path);
        free(t);
}

int http_tls_reload(struct http_tls *t, struct sf_err *err)
{
        SSL_CTX *ctx = NULL;
        int r = ctx_build(t->cert_path, t->key_path, &ctx, err);

        if (r < 0)
                return r;
        /* Live connections hold their own reference to the old context. */
        SSL_CTX_free(t->ctx);
        t->ctx = ctx;
        return 0;
}

SSL_CTX *http_tls_ctx(const struct http_tls *t)
{
        return t->ctx;
}

int http_tls_cert_fingerprint(X509 *cert, char buf[HTTP_TLS_FINGERPRINT_MAX])
{
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int n = 0;
        static const char hex[] = "0123456789ABCDEF";

        if (!cert || X509_digest(cert, EVP_sha256(), md, &n) != 1 || n != 32)
                return -EINVAL;
        for (unsigned i = 0; i < n; i++) {
                buf[i * 3] = hex[md[i] >> 4];
                buf[i * 3 + 1] = hex[md[i] & 15];
                buf[i * 3 + 2] = i + 1 < n ? ':' : '\0';
        }
        return 0;
}

int http_tls_fingerprint(const struct http_tls *t, char buf[HTTP_TLS_FINGERPRINT_MAX])
{
        return http_tls_cert_fingerprint(SSL_CTX_get0_certificate(t->ctx), buf);
}

int http_tls_not_after(const struct http_tls *t, char *buf, size_t size)
{
        X509 *cert = SSL_CTX_get0_certificate(t->ctx);
        struct tm tm;

        if (!cert || ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm) != 1)
                return -EINVAL;
        return xsnprintf(buf, size, "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday) < 0 ? -ENOBUFS
                                                                                                       : 0;
}

/* ---- a self-signed pair ---- */

static int add_ext(X509 *cert, int nid, const char *value)
{
        X509V3_CTX v3;
        X509_EXTENSION *ext;
        int ok;

        X509V3_set_ctx_nodb(&v3);
        X509V3_set_ctx(&v3, cert, cert, NULL, NULL, 0);
        ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
        if (!ext)
                return -EINVAL;
        ok = X509_add_ext(cert, ext, -1);
        X509_EXTENSION_free(ext);
        return ok == 1 ? 0 : -EINVAL;
}

/* PEM of what write_pem() is given, in memory. */
static int bio_contents(BIO *b, char **ret, size_t *ret_len)
{
        char *p;
        long n = BIO_get_mem_data(b, &p);
        char *copy;

        if (n <= 0)
                return -EINVAL;
        copy = malloc((size_t) n);
        if (!copy)
                return -ENOMEM;
        memcpy(copy, p, (size_t) n);
        *ret = copy;
        *ret_len = (size_t) n;
        return 0;
}

/* Write data at path atomically, making its folder (0700) when missing. */
static int write_at_path(const char *path, const char *data, size_t len, mode_t mode)
{
        char dir[PATH_MAX];
        const char *slash = strrchr(path, '/');
        _cleanup_close_ int dfd = -1;
        int r;

        if (!slash)
                r = xsnprintf(dir, sizeof dir, ".");
        else if (slash == path)
                r = xsnprintf(dir, sizeof dir, "/");
        else
                r = xsnprintf(dir, sizeof dir, "%.*s", (int) (slash - path), path);
        if (r < 0)
                return r;
        r = mkdir_p(dir, 0700);
        if (r < 0)
                return r;
        dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return -errno;
        r = write_file_atomic(dfd, slash ? slash + 1 : path, data, len, mode);
        if (r >= 0 && fsync(dfd) < 0)
                r = -errno;
        return r;
}

int http_tls_generate(const char *cert_path, const char *key_path, const char *hostname, struct sf_err *err)
{
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *key = NULL;
        _cleanup_(X509_freep) X509 *cert = NULL;
        _cleanup_(BIO_freep) BIO *kb = NULL, *cb = NULL;
        _cleanup_free_ char *kpem = NULL, *cpem = NULL, *san = NULL;
        size_t klen = 0, clen = 0;
        unsigned char serial[16];
        BIGNUM *bn;
        X509_NAME *name;
        bool have_cert = access(cert_path, F_OK) == 0, have_key = access(key_path, F_OK) == 0;
        char why[256];
        int r;

        if (have_cert && have_key)
                return 0;
        if (have_cert || have_key)
                return sf_err_set(err, -EEXIST,
                                  "TLS: '%s' exists but '%s' does not: give both, or remove the one left to have a "
                                  "new self-signed pair made",
                                  have_cert ? cert_path : key_path, have_cert ? key_path : cert_path);
        key = EVP_EC_gen("P-256");
        cert = X509_new();
        if (!key || !cert || random_bytes(serial, sizeof serial) < 0)
                return sf_err_set(err, -ENOMEM, "TLS: cannot make a key: %s", ossl_reason(why, sizeof why));
        serial[0] &= 0x7f; /* a positive serial */
        bn = BN_bin2bn(serial, sizeof serial, NULL);
        if (!bn || !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert))) {
                BN_free(bn);
                return sf_err_set(err, -ENOMEM, "TLS: cannot make a serial number");
        }
        BN_free(bn);
        san = xasprintf("DNS:%s,DNS:localhost,IP:127.0.0.1,IP:::1", hostname && *hostname ? hostname : "localhost");
        name = X509_get_subject_name(cert);
        if (!san || X509_set_version(cert, 2) != 1 || !X509_gmtime_adj(X509_getm_notBefore(cert), -3600) ||
            !X509_gmtime_adj(X509_getm_notAfter(cert), 3650L * 24 * 3600) || X509_set_pubkey(cert, key) != 1 ||
            X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                       (const unsigned char *) (hostname && *hostname ? hostname : "localhost"), -1,
                                       -1, 0) != 1 ||
            X509_set_issuer_name(cert, name) != 1 || add_ext(cert, NID_subject_alt_name, san) < 0 ||
            add_ext(cert, NID_basic_constraints, "critical,CA:FALSE") < 0 ||
            add_ext(cert, NID_key_usage, "critical,digitalSignature") < 0 ||
            add_ext(cert, NID_ext_key_usage, "serverAuth") < 0 ||
            add_ext(cert, NID_subject_key_identifier, "hash") < 0 || X509_sign(cert, key, EVP_sha256()) <= 0)
                return sf_err_set(err, -EINVAL, "TLS: cannot make the certificate: %s", ossl_reason(why, sizeof why));
        kb = BIO_new(BIO_s_mem());
        cb = BIO_new(BIO_s_mem());
        if (!kb || !cb || PEM_write_bio_PrivateKey(kb, key, NULL, NULL, 0, NULL, NULL) != 1 ||
            PEM_write_bio_X509(cb, cert) != 1 || bio_contents(kb, &kpem, &klen) < 0 ||
            bio_contents(cb, &cpem, &clen) < 0)
                return sf_err_set(err, -ENOMEM, "TLS: cannot encode the pair");
        /* The key first: a certificate without its key is refused at load. */
        r = write_at_path(key_path, kpem, klen, 0600);
        explicit_bzero(kpem, klen);
        if (r < 0)
                return sf_err_errno(err, r, "TLS: cannot write the key '%s'", key_path);
        r = write_at_path(cert_path, cpem, clen, 0644);
        if (r < 0) {
                (void) unlink(key_path);
                return sf_err_errno(err, r, "TLS: cannot write the certificate '%s'", cert_path);
        }
        return 1;
}
