/* SPDX-License-Identifier: MIT */
/*
 * The HTTP API's shared pieces. core/api.c holds the entry points (on_head,
 * on_request), the route dispatch and the function registry; each other
 * group of routes lives in its own core/api_<group>.c with one entry point
 * declared here. Every handler answers its request exactly once (or holds it
 * and answers later from the loop thread).
 */
#pragma once

#include <jansson.h>

#include "core/router.h"
#include "core/sfaasd.h"

/* jansson provides json_decrefp (json_auto_t). */
#define _cleanup_json_ _cleanup_(json_decrefp)

struct sfaasd *api_sfaasd(struct http_request *req);
/* Answer with v as compact JSON. */
void api_respond_json(struct http_request *req, int status, json_t *v);
/* The body as a JSON object; answers 400 (with the parse position) and
 * returns NULL otherwise. */
json_t *api_parse_body_object(struct http_request *req);
/* Namespace from the body's "namespace", then ?namespace=, then the default;
 * answers 400 and returns -1 when invalid or unknown. */
int api_resolve_namespace(struct http_request *req, json_t *body, char *buf, size_t size);

/* core/api_images.c: GET/POST /system/images, GET/DELETE /system/images/{ref}. */
void api_images(struct http_request *req, const struct route *rt);
/* core/api_namespaces.c: GET/POST/PUT/DELETE /system/namespace/{name}
 * (tenant CRUD; POST takes the name from the body). */
void api_namespace(struct http_request *req, const struct route *rt);
/* core/api_namespaces.c: POST /system/scale-function/{name}; 200 or 404
 * (exec mode has no instances to scale: nothing is recorded). */
void api_scale(struct http_request *req, const struct route *rt);
/* core/api_secrets.c: /system/secrets. */
void api_secrets(struct http_request *req, const struct route *rt);
/* core/metrics.c: GET /metrics (Prometheus text format). */
void api_metrics(struct http_request *req, const struct route *rt);
/* core/api_history.c: GET /system/function/{name}/history,
 * /system/history/functions and /system/history (core/history.h). */
void api_history(struct http_request *req, const struct route *rt);
/* core/api_usage.c: ?usage=1 (or true) on GET /system/function(s). */
bool api_usage_requested(struct http_request *req);
/* Add "usage": {"cpu": CPU seconds, "totalMemoryBytes": N} from the
 * function's cgroup group to status (zeros when no sandbox of it ran since
 * the start; the key stays absent when the daemon runs without cgroups or
 * cannot read them, which is logged). -ENOMEM. */
int api_add_usage(struct sfaasd *sf, json_t *status, const char *ns, const char *name);
/* The function was removed: remove its cgroup group unless a sandbox of it
 * still runs (then it stays until the daemon exits). Logs, never fails. */
void api_function_group_remove(struct sfaasd *sf, const char *ns, const char *name);
