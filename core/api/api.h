/* SPDX-License-Identifier: MIT */
/*
 * The HTTP API. core/api/api.c holds the entry points (api_on_head,
 * api_on_request) and the table of handlers, one per route of
 * core/api/router.h; each group of routes lives in its own core/api/<group>.c
 * with its handlers declared here; core/api/common.c holds what they share.
 * Every handler answers its request exactly once (or holds it and answers
 * later from the loop thread).
 */
#pragma once

#include <jansson.h>

#include "core/api/auth.h"
#include "core/api/router.h"
#include "core/base/cleanup.h"
#include "core/sfaasd.h"


struct sfaasd *api_sfaasd(struct http_request *req);
/* Answer with v as compact JSON. */
void api_respond_json(struct http_request *req, int status, json_t *v);
/* Who made req (core/api/auth.h), as the dispatcher found at its head;
 * anonymous for a route that does not read credentials. */
const struct api_caller *api_caller(struct http_request *req);
/* The body as a JSON object; answers 400 (with the parse position) and
 * returns NULL otherwise. */
json_t *api_parse_body_object(struct http_request *req);
/* Namespace from the body's "namespace", then ?namespace=, then the default
 * (a tenant's own namespace for a tenant, else openfaas-fn); answers 400
 * and returns -1 when invalid or unknown, 403 when a tenant names another
 * namespace (the dispatcher refused that already: a second lock). */
int api_resolve_namespace(struct http_request *req, json_t *body, char *buf, size_t size);

/* The request entry points given to the HTTP server (api.c). */
int api_on_head(struct http_request *req);
void api_on_request(struct http_request *req);
/* audit.c: called for every answer (the server's response hook): appends
 * refusals and control-plane changes to the audit trail. */
void api_on_response(struct http_request *req, int status);
/* access.c: called when a request is freed: ends what its head counted
 * (a call in its tenant's concurrency). */
void api_on_request_free(struct http_request *req);
/* audit.c: what the handler did, in the request's audit record. */
void api_audit_note(struct http_request *req, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* audit.c: GET /system/audit. */
void api_audit(struct http_request *req, const struct route *rt);

/* functions.c: GET/POST/PUT/DELETE /system/functions, GET /system/function/{name}. */
void api_functions(struct http_request *req, const struct route *rt);
void api_function_get(struct http_request *req, const struct route *rt);
/* invoke.c: /function/{name}[.{ns}][/path]; the head decides exec or http mode. */
int api_invoke_head(struct http_request *req, const struct route *rt);
void api_invoke(struct http_request *req, const struct route *rt);
/* system.c: GET /system/namespaces (a tenant sees its own), GET
 * /system/info, GET /system/whoami, the UI's files. */
void api_namespaces_list(struct http_request *req, const struct route *rt);
void api_whoami(struct http_request *req, const struct route *rt);
void api_info(struct http_request *req, const struct route *rt);
void api_ui(struct http_request *req, const struct route *rt);
/* images.c: GET/POST /system/images, GET/DELETE /system/images/{ref}; the
 * head streams an upload to a temporary file. */
int api_images_head(struct http_request *req, const struct route *rt);
void api_images(struct http_request *req, const struct route *rt);
/* Record an imported or pulled image in ns with its own tags and
 * extra_tags (NULL-terminated, may be NULL): *ret_json its answer object
 * ("existed" included). -errno with *ret_status and msg for the answer. */
struct image_import_result;
int api_image_record(struct sfaasd *sf, const char *ns, const struct image_import_result *res,
                     const char *const *extra_tags, json_t **ret_json, int *ret_status, char *msg, size_t msg_size);
/* Whether namespace ns already owns as many image bytes as its imageBytes
 * quota allows (nothing new may come in): the reason in msg. */
bool api_image_quota_full(struct sfaasd *sf, const char *ns, char *msg, size_t size);
/* pull.c: POST /system/images/pull {"image": REF}, and the pull a deploy
 * of a registry reference starts (api_pull_start). */
void api_image_pull(struct http_request *req);
/* Pull ref into ns on the thread pool; progress lines go to the daemon's
 * log and, with fn, to that function's logs. done runs on the loop with
 * the outcome: r < 0 with status and msg for an answer; else the image's
 * answer object (borrowed). */
typedef void (*api_pull_done_fn)(struct sfaasd *sf, void *data, int r, int status, const char *msg, json_t *image);
int api_pull_start(struct sfaasd *sf, const char *ref, const char *ns, const char *fn, api_pull_done_fn done,
                   void *data);
/* Add "pull": {image, progress, seconds} to a function's "sfaasd" status
 * object while a pull for it runs: 1 added, 0 none, -ENOMEM. */
int api_pull_status(struct sfaasd *sf, const char *ns, const char *fn, json_t *sfaasd_obj);
/* A pull for function fn of ns is under way (its status has "pull"). */
bool api_pull_pending(struct sfaasd *sf, const char *ns, const char *fn);
/* GET /system/images/pulls. */
void api_image_pulls(struct http_request *req);
/* core/api/namespaces.c: GET/POST/PUT/DELETE /system/namespace/{name}
 * (tenant CRUD; POST takes the name from the body). */
void api_namespace(struct http_request *req, const struct route *rt);
/* core/api/namespaces.c: POST /system/scale-function/{name}; 200 or 404
 * (exec mode has no instances to scale: nothing is recorded). */
void api_scale(struct http_request *req, const struct route *rt);
/* core/api/tenants.c: /system/tenants[/{ns}[/tokens[/{id}]]]: tenants,
 * their tokens (shown once) and revocation. */
void api_tenants(struct http_request *req, const struct route *rt);
/* core/api/secrets.c: /system/secrets. */
void api_secrets(struct http_request *req, const struct route *rt);
/* core/api/registry_auth.c: /system/registry-auth, a namespace's registry
 * credentials (a Docker config.json, sealed like a secret). */
void api_registry_auth(struct http_request *req, const struct route *rt);
/* The namespace's credentials document (cleartext, wipe and free it), or
 * NULL with 0 when it has none; -errno. Loop thread. */
int api_registry_auth_get(struct sfaasd *sf, const char *ns, char **ret, size_t *ret_len);
/* core/api/async.c: POST /async-function/..., GET /system/async/{call-id}. */
void api_async_invoke(struct http_request *req, const struct route *rt);
void api_async_status(struct http_request *req, const struct route *rt);
/* history.c: GET /system/function/{name}/history, /system/history/functions
 * and /system/history (core/runtime/history.h). */
void api_history(struct http_request *req, const struct route *rt);
/* core/api/logs.c: GET /system/logs. */
void api_logs(struct http_request *req);
/* metrics.c: GET /metrics (Prometheus text format). */
void api_metrics(struct http_request *req, const struct route *rt);
/* usage.c: ?usage=1 (or true) on GET /system/function(s). */
bool api_usage_requested(struct http_request *req);
/* Add "usage": {"cpu": CPU seconds, "totalMemoryBytes": N} from the
 * function's cgroup group to status (zeros when no sandbox of it ran since
 * the start; the key stays absent when the daemon runs without cgroups or
 * cannot read them, which is logged). -ENOMEM. */
int api_add_usage(struct sfaasd *sf, json_t *status, const char *ns, const char *name);
