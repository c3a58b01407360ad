/* SPDX-License-Identifier: MIT */
/*
 * The route table's decision for one request (core/api/access.c): who the
 * caller is (core/api/auth.h) and whether the policy of its route
 * (core/api/router.h, enum route_policy) lets it make this request with
 * the namespace it names. The dispatcher (core/api/api.c) asks once at the
 * head, before any handler runs, and once more when a JSON body is in,
 * since a body may name a namespace too.
 *
 * A tenant's request that names no namespace is about the tenant's own
 * (handlers take it from api_resolve_namespace()); one that names another
 * namespace, whether it exists or not, is 403 with the same words, so
 * nothing of other namespaces can be learnt from the answer.
 */
#pragma once

#include <jansson.h>

#include "core/api/auth.h"
#include "core/api/router.h"
#include "core/sfaasd.h"

struct access {
        struct api_caller caller;
        int status;            /* 0: allowed; else 401, 403 or 429 (or 500) to answer */
        char why[192];         /* the refusal, for the answer and the audit */
        uint64_t retry_s;      /* 429: Retry-After */
        bool admitted;         /* a call counted in its tenant's concurrency (ended at free) */
        char admitted_ns[ROUTE_NAME_MAX];
};

/* A request's route, from its head to its handler (req->app, made by
 * api_on_head in core/api/api.c). */
struct routed {
        int match;                /* route_match()'s result */
        struct route rt;
        struct access access;     /* who is asking, and the route table's answer */
        char note[256];           /* what the handler did, for the audit (api_audit_note) */
};

/* At the head: identify the caller when the policy needs to, and decide
 * on the namespace the path or the query names. */
void access_decide(struct sfaasd *sf, struct http_request *req, const struct route *rt, struct access *ret);
/* When the body is in: a tenant's JSON body must not name another
 * namespace ("namespace"). Sets ret->status like access_decide(). */
void access_check_body(struct http_request *req, const struct route *rt, struct access *a);
/* Answer a refusal (a->status != 0): 401 with the Basic challenge, or a
 * JSON error. */
void access_respond(struct http_request *req, const struct access *a);
