/* SPDX-License-Identifier: MIT */
/*
 * Maps method + path to a route of the OpenFaaS gateway API (see
 * docs/OPENFAAS-COMPAT.md section 2.1) plus sfaasd's own /system/images.
 * Pure: no I/O, unit-tested in tests/unit/test_router.c.
 */
#pragma once

#include <stdbool.h>

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
        ROUTE_METRICS,         /* GET /metrics (Prometheus), no auth */
        ROUTE_SCALE,           /* /system/scale-function/{name} */
        ROUTE_SECRETS,         /* /system/secrets */
        ROUTE_LOGS,            /* /system/logs */
        ROUTE_INVOKE,          /* any /function/{name}[.{ns}][/rest] */
        ROUTE_ASYNC_INVOKE,    /* POST /async-function/... */
        ROUTE_ASYNC_STATUS,    /* GET /system/async/{call-id} (sfaasd): name = the call id */
};

#define ROUTE_NAME_MAX 64

struct route {
        enum route_id id;
        bool auth;                  /* Basic auth required */
        bool method_allowed;        /* false -> 405 */
        char name[ROUTE_NAME_MAX];  /* function or namespace name from the path */
        char ns[ROUTE_NAME_MAX];    /* namespace from "name.ns", "" if none */
        const char *rest;           /* invoke: the rest of the path ("/" if none);
                                       ui: the file name ("" for index) */
        const char *allow;          /* the Allow header value for 405 */
};

/* Returns 0 and fills ret; -ENOENT for an unknown path; -EINVAL for a bad
 * name in the path (ret->id is still set so the caller can say which). */
int route_match(const char *method, const char *path, struct route *ret);

/* A function or namespace name: [a-zA-Z0-9][-a-zA-Z0-9_]{0,62}; no '.' because
 * the last '.' in /function/NAME.NS separates the namespace. */
bool route_valid_name(const char *name);
