/* SPDX-License-Identifier: MIT */
/*
 * Who a request is (core/api/auth.c): the admin (HTTP Basic, user "admin"
 * and the password made at the first start), a tenant (one of its tokens,
 * as HTTP Basic with the tenant's name as the user, which is what
 * `faas-cli login -u TENANT` sends, or as "Authorization: Bearer TOKEN"),
 * nobody (no Authorization header), or a credential that is not valid
 * (wrong password, unknown, revoked or expired token, a token given with
 * another tenant's name).
 *
 * Tokens: "sfa_" + base64url of 32 random bytes, shown once (invoke keys,
 * good for calls only: "sfk_"); the store
 * keeps their SHA-256 only (store/tenants.h). A small cache keyed by the
 * SHA-256 of the whole Authorization header keeps the check of a known
 * credential to one hash and one table probe; it is emptied whenever a
 * token is revoked or a tenant removed, and an entry carries its token's
 * expiry, so a revoked or expired token is refused on its next use.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "core/api/router.h"
#include "core/base/error.h"
#include "core/sfaasd.h"

#define AUTH_ADMIN_USER "admin"
#define AUTH_TOKEN_PREFIX "sfa_"
#define AUTH_KEY_PREFIX "sfk_"    /* invoke keys */
#define AUTH_TOKEN_BYTES 32
/* "sfa_" + 43 base64url characters + NUL */
#define AUTH_TOKEN_TEXT_MAX (4 + 44 + 1)
#define AUTH_TOKEN_ID_MAX 16 /* 12 hex digits + NUL */

enum caller_kind {
        CALLER_ANONYMOUS = 0,  /* no Authorization header */
        CALLER_ADMIN,
        CALLER_TENANT,
        CALLER_INVALID,        /* an Authorization header that names nobody */
        CALLER_KEY,            /* an invoke key: calls to its tenant's functions only */
};

struct api_caller {
        enum caller_kind kind;
        char ns[ROUTE_NAME_MAX];          /* CALLER_TENANT, CALLER_KEY: its namespace */
        char function[ROUTE_NAME_MAX];    /* CALLER_KEY: the one function it calls, "" for all */
        char credential[AUTH_TOKEN_ID_MAX]; /* "password" (admin), the token id, or "" */
        const char *why;                  /* CALLER_INVALID: a short reason, for the audit */
};

/* The daemon's authentication state: the cache of known credentials. */
struct auth;

int auth_new(struct auth **ret);
void auth_free(struct auth *a);
/* Forget every cached credential (after a revocation or a tenant's removal). */
void auth_forget(struct auth *a);

int auth_ensure_credentials(const char *data_dir, char **ret_password, bool *ret_created, struct sf_err *err);

/* Who req is. Never fails: a store error makes the caller CALLER_INVALID
 * (logged), so nothing is let through on an error. */
void auth_identify(struct sfaasd *sf, const struct http_request *req, struct api_caller *ret);

/* A new token: its text (shown once) in ret_text, its SHA-256 in ret_hash
 * and a new public id in ret_id. -errno when no randomness. */
int auth_token_new(const char *prefix, char ret_text[AUTH_TOKEN_TEXT_MAX], unsigned char ret_hash[32],
                   char ret_id[AUTH_TOKEN_ID_MAX]);

/* The 401 answer (with a Basic challenge unless the web UI asked), logged:
 * a failed login (warning, with why, the caller's reason, when known) when
 * the request carried credentials, a denied request (notice) when none. */
void auth_respond_unauthorized(struct http_request *req, const char *why);
