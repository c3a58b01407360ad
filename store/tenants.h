/* SPDX-License-Identifier: MIT */
/*
 * What the store keeps of tenants beyond their namespace row (store/db.h):
 * their tokens. A token is random bytes shown once to the admin who made
 * it; the store never sees it, only its SHA-256 (a fast hash is right for
 * 256 random bits: nothing to guess, so nothing to slow down), and finds a
 * token by that hash (a UNIQUE index). Revoked tokens stay listed with
 * their revocation time; all go with their namespace.
 *
 * Loop thread only, like the rest of the store; knows nothing of HTTP.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "store/db.h"

#define STORE_TOKEN_HASH_SIZE 32
#define STORE_TOKEN_ID_MAX 32   /* ids are made by the caller: short, printable */
#define STORE_TOKEN_NAME_MAX 64

struct store_token {
        char *id;                /* public handle, e.g. "7f3a09c2d1e4" */
        char *namespace;
        char *name;              /* what the admin called it */
        char *kind;              /* "tenant" (the tenant's credential) or "invoke" (calls only) */
        char *function;          /* "invoke": the one function it calls, "" for all of the tenant's */
        unsigned char hash[STORE_TOKEN_HASH_SIZE];
        int64_t created_at;      /* unix nanoseconds */
        int64_t expires_at;      /* 0: never */
        int64_t revoked_at;      /* 0: not revoked */
};
void store_token_free(struct store_token *t);
void store_token_list_free(struct store_token **v);

/* Record a token of ns; -ENOENT when ns does not exist, -EEXIST when the id
 * or the hash is taken (the caller makes new random ones). */
int store_token_create(struct store *s, const char *ns, const char *id, const char *name,
                       const unsigned char hash[STORE_TOKEN_HASH_SIZE], int64_t expires_at);
/* The same for an invoke key of ns: function NULL or "" for every one. */
int store_invoke_key_create(struct store *s, const char *ns, const char *id, const char *name, const char *function,
                            const unsigned char hash[STORE_TOKEN_HASH_SIZE], int64_t expires_at);
/* The token whose hash is hash, revoked and expired ones included (the
 * caller decides); -ENOENT when none. */
int store_token_lookup(struct store *s, const unsigned char hash[STORE_TOKEN_HASH_SIZE],
                       struct store_token **ret);
/* Tokens of ns of kind ("tenant" or "invoke"), oldest first, NULL-terminated. */
int store_token_list(struct store *s, const char *ns, struct store_token ***ret);
int store_token_list_kind(struct store *s, const char *ns, const char *kind, struct store_token ***ret);
/* Mark token id of ns revoked now; -ENOENT when ns has no such token. A
 * token revoked already keeps its first revocation time (0 returned). */
int store_token_revoke(struct store *s, const char *ns, const char *id);
int store_token_revoke_kind(struct store *s, const char *ns, const char *kind, const char *id);

/* Whether calls to ns's functions need a credential. */
int store_tenant_invoke_auth_get(struct store *s, const char *ns, bool *ret);
int store_tenant_invoke_auth_set(struct store *s, const char *ns, bool on);
/* The tenant's egress ceiling, as the admin wrote it ("" = nothing); -ENOENT. */
int store_tenant_egress_get(struct store *s, const char *ns, char **ret);
int store_tenant_egress_set(struct store *s, const char *ns, const char *ceiling);

/* A tenant's quota overrides: a JSON object as text ("{}" when none). */
int store_tenant_quotas_get(struct store *s, const char *ns, char **ret_json);
int store_tenant_quotas_set(struct store *s, const char *ns, const char *json);

/* What a tenant holds now, counted in the store. */
struct store_tenant_usage {
        uint64_t functions;
        uint64_t secrets;
        uint64_t image_bytes;    /* unpacked size of the images it owns, shared ones not counted */
        uint64_t async_queued;   /* async calls queued or running */
};
int store_tenant_usage(struct store *s, const char *ns, struct store_tenant_usage *ret);
