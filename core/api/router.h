/* SPDX-License-Identifier: MIT */
/*
 * Maps method + path to a route of the OpenFaaS gateway API (see
 * docs/OPENFAAS-COMPAT.md section 2.1) plus sfaasd's own /system/images.
 * Pure: no I/O, unit-tested in tests/unit/test_router.c.
 */
#pragma once

#include <stdbool.h>

#include "core/model/group.h"

enum route_id {
        ROUTE_NONE = 0,
        ROUTE_ROOT,            /* GET / -> 307 /ui/ */
        ROUTE_HEALTHZ,
        ROUTE_UI,              /* /ui/, /ui/<file> */
        ROUTE_FUNCTIONS,       /* /system/functions */
        ROUTE_FUNCTION,        /* /system/function/{name} */
        ROUTE_NAMESPACES,      /* /system/namespaces */
        ROUTE_NAMESPACE,       /* /system/namespace/{name} */
        ROUTE_INFO,            /* /system/info */
        ROUTE_IMAGES,          /* /system/images (sfaasd) */
        ROUTE_IMAGE,           /* /system/images/{ref} (sfaasd): rest = the reference */
        ROUTE_METRICS,         /* GET /metrics (Prometheus) */
        ROUTE_SCALE,           /* /system/scale-function/{name} */
        ROUTE_SECRETS,         /* /system/secrets */
        ROUTE_LOGS,            /* /system/logs */
        ROUTE_INVOKE,          /* any /function/{name}[.{ns}][/rest] */
        ROUTE_ASYNC_INVOKE,    /* POST /async-function/... */
        ROUTE_ASYNC_STATUS,    /* GET /system/async/{call-id} (sfaasd): name = the call id */
        ROUTE_FUNCTION_HISTORY, /* GET /system/function/{name}/history (sfaasd, core/runtime/history.h) */
        ROUTE_HISTORY_FUNCTIONS, /* GET /system/history/functions (sfaasd) */
        ROUTE_HISTORY,         /* GET /system/history (sfaasd): the host */
        ROUTE_IMAGE_PRUNE,     /* POST /system/images/prune (sfaasd) */
        ROUTE_WHOAMI,          /* GET /system/whoami (sfaasd): who the credentials are */
        ROUTE_TENANTS,         /* /system/tenants (sfaasd) */
        ROUTE_TENANT,          /* /system/tenants/{ns} (sfaasd): name = ns = the tenant */
        ROUTE_TENANT_TOKENS,   /* /system/tenants/{ns}/tokens (sfaasd) */
        ROUTE_TENANT_TOKEN,    /* /system/tenants/{ns}/tokens/{id} (sfaasd): rest = the token id */
        ROUTE_SHARED_IMAGES,   /* GET /system/shared-images (sfaasd) */
        ROUTE_SHARED_IMAGE,    /* /system/shared-images/{ref} (sfaasd): rest = the reference */
        ROUTE_AUDIT,           /* GET /system/audit (sfaasd) */
        ROUTE_TENANT_INVOKE,   /* /system/tenants/{ns}/invoke (sfaasd) */
        ROUTE_TENANT_KEYS,     /* /system/tenants/{ns}/keys (sfaasd) */
        ROUTE_TENANT_KEY,      /* /system/tenants/{ns}/keys/{id} (sfaasd): rest = the key id */
        ROUTE_TENANT_EGRESS,   /* /system/tenants/{ns}/egress (sfaasd): the egress ceiling */
        ROUTE_IMAGE_PULL,      /* POST /system/images/pull (sfaasd) */
        ROUTE_IMAGE_PULLS,     /* GET /system/images/pulls (sfaasd) */
        ROUTE_REGISTRY_AUTH,   /* /system/registry-auth (sfaasd): a namespace's registry credentials */
        ROUTE__COUNT
};

/*
 * Who may call a route: every route of the table below has a policy for
 * reading (GET, HEAD) and one for the other methods, and the dispatcher
 * (core/api/access.c) enforces it before any handler runs. POLICY_UNSET is
 * what a route added without a rule gets: it is refused (and the unit test
 * of the router fails), so no route can exist without saying who may call
 * it.
 */
enum route_policy {
        POLICY_UNSET = 0,
        POLICY_PUBLIC,      /* anyone; credentials are not read */
        POLICY_INVOKE,      /* anyone, unless the tenant closed invocation (then its credentials) */
        POLICY_METRICS,     /* anyone; the admin only with the config's metrics_auth */
        POLICY_CREDENTIAL,  /* the admin or any tenant: answers about the caller */
        POLICY_TENANT,      /* the admin, or a tenant in its own namespace only */
        POLICY_ADMIN,       /* the admin only */
};

struct route_rule {
        const char *pattern;        /* e.g. "/system/function/{name}" (documentation, tests) */
        const char *methods;        /* the Allow header: "GET, POST" */
        enum route_policy read;     /* GET and HEAD */
        enum route_policy write;    /* every other method */
};

#define ROUTE_NAME_MAX FN_NAME_MAX

struct route {
        enum route_id id;
        bool method_allowed;        /* false -> 405 */
        enum route_policy policy;   /* of this method on this route */
        char name[ROUTE_NAME_MAX];  /* function or namespace name from the path */
        char ns[ROUTE_NAME_MAX];    /* the namespace the path names: "name.ns" of a
                                       function, {ns} of /system/namespace/ and
                                       /system/tenants/; "" if none */
        const char *rest;           /* invoke: the rest of the path ("/" if none);
                                       ui: the file name ("" for index); image: the
                                       reference; tenant token: the id */
        const char *allow;          /* the Allow header value for 405 */
};

/* The rule of route id (never NULL for ROUTE_NONE < id < ROUTE__COUNT; its
 * policies are POLICY_UNSET when the table lacks the route). */
const struct route_rule *route_rule(enum route_id id);
/* "public", "invoke", ... for listings; "unset" for POLICY_UNSET. */
const char *route_policy_name(enum route_policy p);

/* Returns 0 and fills ret; -ENOENT for an unknown path; -EINVAL for a bad
 * name in the path (ret->id is still set so the caller can say which). */
int route_match(const char *method, const char *path, struct route *ret);

/* A function or namespace name: [a-zA-Z0-9][-a-zA-Z0-9_]{0,62}; no '.' because
 * the last '.' in /function/NAME.NS separates the namespace. */
bool route_valid_name(const char *name);
