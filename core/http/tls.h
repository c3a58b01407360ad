/* SPDX-License-Identifier: MIT */
/*
 * TLS for the HTTP server (core/http/tls.c; OpenSSL 3): the certificate
 * and key, the protocol settings, reload, and a self-signed pair for a
 * first start.
 *
 * Settings: TLS 1.2 and 1.3 only; for 1.2 only ECDHE with AES-GCM or
 * ChaCha20-Poly1305 (forward secret, AEAD: Mozilla's "intermediate" list
 * without DHE); 1.3's default suites; groups X25519, P-256, P-384; no
 * compression, no renegotiation (client-initiated renegotiation costs the
 * server a handshake per request); ALPN "http/1.1" when the client offers
 * it (a client offering only h2 goes on without ALPN).
 *
 * Reload (SIGHUP): a new context is built from the same files; when that
 * fails the old one stays. Connections keep the context they started with
 * (an SSL holds a reference to its SSL_CTX), so none is dropped; new ones
 * get the new pair.
 *
 * The server side of a connection (memory BIOs between the socket and
 * OpenSSL, llhttp on the plaintext) is in core/http/server.c.
 */
#pragma once

#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/base/error.h"

struct http_tls;

/* Load cert (a PEM chain, leaf first) and key (PEM). */
int http_tls_new(const char *cert_path, const char *key_path, struct http_tls **ret, struct sf_err *err);
void http_tls_free(struct http_tls *t);
/* Build a new context from the same files; the old one stays on failure. */
int http_tls_reload(struct http_tls *t, struct sf_err *err);
/* The current context, for a new connection's SSL_new(). */
SSL_CTX *http_tls_ctx(const struct http_tls *t);
/* "AB:CD:..." (95 bytes + NUL): SHA-256 of the leaf certificate's DER, what
 * `sfaasd ... --tls-fingerprint` pins. */
#define HTTP_TLS_FINGERPRINT_MAX 96
int http_tls_fingerprint(const struct http_tls *t, char buf[HTTP_TLS_FINGERPRINT_MAX]);
/* The leaf certificate's notAfter, as "YYYY-MM-DD" (for the log). */
int http_tls_not_after(const struct http_tls *t, char *buf, size_t size);

/* Make a self-signed pair when neither file exists: an ECDSA P-256 key
 * (mode 0600) and a certificate for hostname, localhost, 127.0.0.1 and ::1,
 * valid ten years (its trust comes from its fingerprint, not its dates).
 * Both are written atomically (a temporary name, fsync, rename). 1 when
 * made, 0 when both existed, -EEXIST with err when only one does. */
int http_tls_generate(const char *cert_path, const char *key_path, const char *hostname, struct sf_err *err);

/* SHA-256 fingerprint of a DER certificate as "AB:CD:..." (for the client). */
int http_tls_cert_fingerprint(X509 *cert, char buf[HTTP_TLS_FINGERPRINT_MAX]);
