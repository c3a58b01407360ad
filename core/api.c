/* SPDX-License-Identifier: MIT */
/*
 * The HTTP API: OpenFaaS gateway routes (docs/OPENFAAS-COMPAT.md) plus
 * sfaasd's /system/images. Handlers answer in the loop thread, except image
 * import, which runs on the libuv thread pool and answers from its
 * after-work callback. State changes are committed before they are answered.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "core/base/cleanup.h"
#include "core/base/log.h"
#include "core/base/util.h"
#include "core/router.h"
#include "core/sfaasd.h"
#include "core/api.h"
#include "core/pool.h"
#include "core/secret_files.h"
#include "core/ui.h"


struct sfaasd *api_sfaasd(struct http_request *req)
{
        return http_server_data(req->server);
}

void api_respond_json(struct http_request *req, int status, json_t *v)
{
        char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        if (!s) {
                http_respond_error(req, 500, "out of memory");
                return;
        }
        http_respond(req, status, "application/json", NULL, s, strlen(s));
        free(s);
}

/* ---- request body and namespace helpers ---- */

/* Parse the body as a JSON object, answering 400 with the position on error. */
json_t *api_parse_body_object(struct http_request *req)
{
        json_error_t je;
        json_t *v;
        if (req->body_len == 0) {
                http_respond_error(req, 400, "request body must be a JSON object, got an empty body");
                return NULL;
        }
        v = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &je);
        if (!v) {
                http_respond_error(req, 400, "malformed JSON at line %d column %d: %s", je.line, je.column, je.text);
                return NULL;
        }
        if (!json_is_object(v)) {
                json_decref(v);
                http_respond_error(req, 400, "request body must be a JSON object");
                return NULL;
        }
        return v;
}

/* Namespace: body field first, then ?namespace=, then the default. Writes
 * into buf; answers and returns -1 when it is invalid or unknown. */
int api_resolve_namespace(struct http_request *req, json_t *body, char *buf, size_t size)
{
        struct sfaasd *sf = api_sfaasd(req);
        const char *ns = NULL;
        _cleanup_free_ char *q = NULL;
        struct store_namespace *n = NULL;
        int r;

        if (body) {
                json_t *v = json_object_get(body, "namespace");
                if (v && !json_is_null(v)) {
                        if (!json_is_string(v)) {
                                http_respond_error(req, 400, "field 'namespace' must be a string");
                                return -1;
                        }
                        ns = json_string_value(v);
                }
        }
        if (!ns || !*ns) {
                q = http_query_param(req, "namespace");
                ns = q;
        }
        if (!ns || !*ns)
                ns = STORE_DEFAULT_NAMESPACE;
        if (!route_valid_name(ns)) {
                http_respond_error(req, 400, "invalid namespace '%.64s'", ns);
                return -1;
        }
        r = store_namespace_get(sf->store, ns, &n);
        if (r == -ENOENT) {
                http_respond_error(req, 400, "namespace '%s' does not exist", ns);
                return -1;
        }
        if (r < 0) {
                http_respond_error(req, 500, "cannot read namespace '%s': %s", ns, strerror(-r));
                return -1;
        }
        store_namespace_free(n);
        (void) xsnprintf(buf, size, "%s", ns);
        return 0;
}

/* ---- FunctionDeployment validation ---- */

static const char *check_string_map(json_t *v)
{
        const char *k;
        json_t *e;
        if (!json_is_object(v))
                return "must be an object of strings";
        json_object_foreach(v, k, e) if (!json_is_string(e)) return "must be an object of strings";
        return NULL;
}

static const char *check_string_array(json_t *v)
{
        size_t i;
        json_t *e;
        if (!json_is_array(v))
                return "must be an array of strings";
        json_array_foreach(v, i, e) if (!json_is_string(e)) return "must be an array of strings";
        return NULL;
}

static const char *check_resources(json_t *v)
{
        const char *k;
        json_t *e;
        if (!json_is_object(v))
                return "must be an object";
        json_object_foreach(v, k, e) {
                uint64_t n;
                if (!json_is_string(e) && !json_is_null(e))
                        return "values must be strings";
                if (json_is_null(e))
                        continue;
                if (strcmp(k, "memory") == 0 && (parse_size(json_string_value(e), &n) < 0 || n < (4u << 20)))
                        return "has a bad memory quantity (e.g. \"128Mi\", at least 4Mi)";
                if (strcmp(k, "cpu") == 0 && (parse_cpu_millis(json_string_value(e), &n) < 0 || n == 0))
                        return "has a bad cpu quantity (e.g. \"100m\" or \"0.5\")";
        }
        return NULL;
}

/*
 * Validate a FunctionDeployment and build the normalised spec that is
 * stored: known keys only, null maps dropped. Unknown keys are ignored (the
 * UI sends "network", old clients "registryAuth"). Answers 400 on error.
 */
static json_t *deployment_normalize(struct http_request *req, json_t *body, const char *ns)
{
        static const struct {
                const char *key;
                const char *(*check)(json_t *);
        } fields[] = {
                { "envVars", check_string_map },     { "labels", check_string_map },
                { "annotations", check_string_map }, { "constraints", check_string_array },
                { "secrets", check_string_array },   { "limits", check_resources },
                { "requests", check_resources },
        };
        _cleanup_json_ json_t *spec = json_object();
        json_t *v;

        if (!spec) {
                http_respond_error(req, 500, "out of memory");
                return NULL;
        }
        v = json_object_get(body, "service");
        if (!v || !json_is_string(v) || !*json_string_value(v)) {
                http_respond_error(req, 400, "field 'service' (the function name) is required and must be a string");
                return NULL;
        }
        if (!route_valid_name(json_string_value(v))) {
                http_respond_error(req, 400,
                                   "invalid function name '%.64s': use letters, digits, '-' and '_' (at most 63)",
                                   json_string_value(v));
                return NULL;
        }
        (void) json_object_set(spec, "service", v);
        v = json_object_get(body, "image");
        if (!v || !json_is_string(v) || !*json_string_value(v)) {
                http_respond_error(req, 400, "field 'image' is required and must be a string");
                return NULL;
        }
        (void) json_object_set(spec, "image", v);
        (void) json_object_set_new(spec, "namespace", json_string(ns));
        v = json_object_get(body, "envProcess");
        if (v && !json_is_null(v)) {
                if (!json_is_string(v)) {
                        http_respond_error(req, 400, "field 'envProcess' must be a string");
                        return NULL;
                }
                if (*json_string_value(v))
                        (void) json_object_set(spec, "envProcess", v);
        }
        for (size_t i = 0; i < ELEMENTSOF(fields); i++) {
                const char *why;
                v = json_object_get(body, fields[i].key);
                if (!v || json_is_null(v))
                        continue;
                why = fields[i].check(v);
                if (why) {
                        http_respond_error(req, 400, "field '%s' %s", fields[i].key, why);
                        return NULL;
                }
                (void) json_object_set(spec, fields[i].key, v);
        }
        v = json_object_get(body, "readOnlyRootFilesystem");
        if (v && !json_is_null(v)) {
                if (!json_is_boolean(v)) {
                        http_respond_error(req, 400, "field 'readOnlyRootFilesystem' must be true or false");
                        return NULL;
                }
                if (json_is_true(v))
                        (void) json_object_set(spec, "readOnlyRootFilesystem", v);
        }
        return json_incref(spec);
}

static void handle_deploy(struct http_request *req, bool update)
{
        struct sfaasd *sf = api_sfaasd(req);
        _cleanup_json_ json_t *body = NULL;
        _cleanup_json_ json_t *spec = NULL;
        _cleanup_free_ char *spec_s = NULL;
        struct store_image *img = NULL;
        struct store_function f = { 0 };
        char ns[ROUTE_NAME_MAX];
        json_t *secrets;
        int r;

        body = api_parse_body_object(req);
        if (!body)
                return;
        if (api_resolve_namespace(req, body, ns, sizeof ns) < 0)
                return;
        spec = deployment_normalize(req, body, ns);
        if (!spec)
                return;
        {
                /* The warm-pool settings in labels and annotations (core/pool.h). */
                struct sf_err err = { 0 };
                if (pools_check_meta(spec, &err) < 0) {
                        http_respond_error(req, 400, "%s", err.msg);
                        return;
                }
        }
        /* Every secret listed must exist in the function's namespace (faasd:
         * 400 "unable to find secret: X"); core/secret_files.c mounts them. */
        secrets = json_object_get(spec, "secrets");
        if (json_array_size(secrets) > SECRET_FILES_MAX) {
                http_respond_error(req, 400, "field 'secrets' lists more than %d secrets", SECRET_FILES_MAX);
                return;
        }
        for (size_t i = 0; i < json_array_size(secrets); i++) {
                const char *sname = json_string_value(json_array_get(secrets, i));
                r = secret_name_valid(sname) ? store_secret_exists(sf->store, ns, sname) : -ENOENT;
                if (r == -ENOENT) {
                        http_respond_error(req, 400, "unable to find secret: %.64s", sname);
                        return;
                }
                if (r < 0) {
                        http_respond_error(req, 500, "cannot read secret '%s': %s", sname, strerror(-r));
                        return;
                }
        }
        r = store_image_resolve_ns(sf->store, ns, json_string_value(json_object_get(spec, "image")), &img);
        if (r == -ENOENT || r == -EINVAL || r == -ENOTUNIQ) {
                http_respond_error(req, 400,
                                   "image '%s' %s: import it first (POST /system/images or 'sfaasd image import')",
                                   json_string_value(json_object_get(spec, "image")),
                                   r == -ENOTUNIQ ? "is ambiguous" : r == -EINVAL ? "is not a valid reference"
                                                                                : "is not in the image store");
                return;
        }
        if (r < 0) {
                http_respond_error(req, 500, "cannot resolve image: %s", strerror(-r));
                return;
        }
        spec_s = json_dumps(spec, JSON_COMPACT | JSON_SORT_KEYS);
        if (!spec_s) {
                store_image_free(img);
                http_respond_error(req, 500, "out of memory");
                return;
        }
        f.namespace = ns;
        f.name = (char *) json_string_value(json_object_get(spec, "service"));
        f.image = (char *) json_string_value(json_object_get(spec, "image"));
        f.image_id = img->id;
        f.spec_json = spec_s;
        r = update ? store_function_update(sf->store, &f) : store_function_create(sf->store, &f);
        store_image_free(img);
        if (r == -ENOENT) {
                http_respond_error(req, 404, "function '%s' not found in namespace '%s'", f.name, ns);
                return;
        }
        if (r == -EEXIST) {
                http_respond_error(req, 409, "function '%s' already exists in namespace '%s'", f.name, ns);
                return;
        }
        if (r < 0) {
                http_respond_error(req, 500, "cannot store function: %s", strerror(-r));
                return;
        }
        log_info("%s function '%s.%s' image '%s'", update ? "updated" : "deployed", f.name, ns, f.image);
        logs_daemon(&sf->logs, ns, f.name, "%s with image '%s'", update ? "updated" : "deployed", f.image);
        /* Committed: warm instances of an old version are replaced, scale.min starts. */
        pools_function_changed(sf, ns, f.name);
        http_respond(req, update ? 200 : 202, NULL, NULL, NULL, 0);
}

static void handle_delete(struct http_request *req)
{
        struct sfaasd *sf = api_sfaasd(req);
        _cleanup_json_ json_t *body = api_parse_body_object(req);
        char ns[ROUTE_NAME_MAX];
        json_t *v;
        const char *name;
        int r;

        if (!body)
                return;
        v = json_object_get(body, "functionName");
        if (!v || !json_is_string(v) || !*json_string_value(v)) {
                http_respond_error(req, 400, "field 'functionName' is required and must be a string");
                return;
        }
        name = json_string_value(v);
        if (api_resolve_namespace(req, body, ns, sizeof ns) < 0)
                return;
        r = store_function_delete(sf->store, ns, name);
        if (r == -ENOENT) {
                http_respond_error(req, 404, "function %.64s.%s not found", name, ns);
                return;
        }
        if (r < 0) {
                http_respond_error(req, 500, "cannot delete function: %s", strerror(-r));
                return;
        }
        metrics_forget_function(&sf->metrics, name, ns);
        pools_function_removed(sf, ns, name);
        api_function_group_remove(sf, ns, name);
        log_info("removed function '%s.%s'", name, ns);
        logs_remove(&sf->logs, ns, name);
        http_respond(req, 200, NULL, NULL, NULL, 0);
}

static json_t *function_status(struct sfaasd *sf, const struct store_function *f, bool with_count,
                               bool with_available)
{
        json_t *spec = json_loads(f->spec_json, 0, NULL);
        json_t *st;
        char ts[64];
        struct tm tm;
        time_t secs = (time_t) (f->created_at / 1000000000LL);
        const char *k;
        json_t *v;

        if (!spec)
                return NULL;
        st = json_object();
        if (!st) {
                json_decref(spec);
                return NULL;
        }
        json_object_foreach(spec, k, v) {
                (void) json_object_set(st, strcmp(k, "service") == 0 ? "name" : k, v);
        }
        json_decref(spec);
        (void) json_object_set_new(st, "namespace", json_string(f->namespace));
        /* replicas/availableReplicas: the warm instances (http mode); exec
         * mode is always ready (core/pool.h). */
        pools_status(sf, f->namespace, f->name, st);
        if (!with_available)
                (void) json_object_del(st, "availableReplicas");
        if (with_count)
                (void) json_object_set_new(
                        st, "invocationCount",
                        json_real((double) metrics_invocation_count(&sf->metrics, f->name, f->namespace)));
        (void) gmtime_r(&secs, &tm);
        (void) strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
        {
                char full[96];
                (void) xsnprintf(full, sizeof full, "%s.%09lldZ", ts, (long long) (f->created_at % 1000000000LL));
                (void) json_object_set_new(st, "createdAt", json_string(full));
        }
        return st;
}

static void handle_list(struct http_request *req)
{
        struct sfaasd *sf = api_sfaasd(req);
        struct store_function **fs = NULL;
        _cleanup_json_ json_t *arr = json_array();
        char ns[ROUTE_NAME_MAX];
        bool usage = api_usage_requested(req);
        int r;

        if (api_resolve_namespace(req, NULL, ns, sizeof ns) < 0)
                return;
        r = store_function_list(sf->store, ns, &fs);
        if (r < 0 || !arr) {
                store_function_list_free(fs);
                http_respond_error(req, 500, "cannot list functions: %s", strerror(r < 0 ? -r : ENOMEM));
                return;
        }
        for (struct store_function **p = fs; *p; p++) {
                json_t *st = function_status(sf, *p, true, false);
                if (st && usage)
                        (void) api_add_usage(sf, st, (*p)->namespace, (*p)->name);
                if (st)
                        (void) json_array_append_new(arr, st);
        }
        store_function_list_free(fs);
        api_respond_json(req, 200, arr);
}

static void handle_get_function(struct http_request *req, const char *name)
{
        struct sfaasd *sf = api_sfaasd(req);
        struct store_function *f = NULL;
        _cleanup_json_ json_t *st = NULL;
        char ns[ROUTE_NAME_MAX];
        int r;

        if (api_resolve_namespace(req, NULL, ns, sizeof ns) < 0)
                return;
        r = store_function_get(sf->store, ns, name, &f);
        if (r == -ENOENT) {
                http_respond_error(req, 404, "function '%s' not found in namespace '%s'", name, ns);
                return;
        }
        if (r < 0) {
                http_respond_error(req, 500, "cannot read function: %s", strerror(-r));
                return;
        }
        st = function_status(sf, f, false, true);
        if (st && api_usage_requested(req) && api_add_usage(sf, st, f->namespace, f->name) < 0) {
                store_function_free(f);
                http_respond_error(req, 500, "out of memory");
                return;
        }
        store_function_free(f);
        if (!st) {
                http_respond_error(req, 500, "stored function spec is unreadable");
                return;
        }
        api_respond_json(req, 200, st);
}

static void handle_namespaces(struct http_request *req)
{
        struct sfaasd *sf = api_sfaasd(req);
        _cleanup_strv_free_ char **names = NULL;
        _cleanup_json_ json_t *arr = json_array();
        int r = store_namespace_list(sf->store, &names);
        if (r < 0 || !arr) {
                http_respond_error(req, 500, "cannot list namespaces");
                return;
        }
        for (char **n = names; *n; n++)
                (void) json_array_append_new(arr, json_string(*n));
        api_respond_json(req, 200, arr);
}

static void handle_info(struct http_request *req)
{
        struct utsname u;
        _cleanup_json_ json_t *o = NULL;
        (void) uname(&u);
        o = json_pack("{s:{s:s,s:s,s:{s:s,s:s}},s:{s:s,s:s,s:s},s:s}", "provider", "provider", "sfaasd",
                      "orchestration", "sfaasd", "version", "sha", SFAASD_GIT_SHA, "release", SFAASD_VERSION,
                      "version", "commit_message", "", "sha", SFAASD_GIT_SHA, "release", SFAASD_VERSION, "arch",
                      u.machine);
        if (!o) {
                http_respond_error(req, 500, "out of memory");
                return;
        }
        api_respond_json(req, 200, o);
}

/* ---- UI ---- */

static void handle_ui(struct http_request *req, const char *file)
{
        const struct web_asset *a = web_asset_find(*file ? file : "index.html");
        if (strcmp(req->path, "/ui") == 0) {
                http_respond(req, 301, NULL, "Location: /ui/\r\n", NULL, 0);
                return;
        }
        if (!a) {
                http_respond_error(req, 404, "no such file '%s'", file);
                return;
        }
        http_respond(req, 200, a->content_type,
                     "Cache-Control: no-cache\r\nX-Content-Type-Options: nosniff\r\n"
                     "Content-Security-Policy: default-src 'self'; frame-ancestors 'none'\r\n",
                     a->data, a->size);
}

/* ---- entry points ---- */

int api_on_head(struct http_request *req)
{
        struct sfaasd *sf = api_sfaasd(req);
        struct route rt;

        if (route_match(req->method, req->path, &rt) < 0)
                return 0;
        /* Calls to http-mode functions stream through the proxy. */
        if (rt.id == ROUTE_INVOKE)
                return proxy_on_head(sf, req, rt.name, rt.ns[0] ? rt.ns : STORE_DEFAULT_NAMESPACE, rt.rest);
        /* Image uploads are streamed to disk; the rest stays in memory. */
        if (strcmp(req->method, "POST") != 0 || rt.id != ROUTE_IMAGES)
                return 0;
        if (!auth_check_basic(sf, req)) {
                auth_respond_unauthorized(req);
                return -1;
        }
        {
                int fd = open(sf->tmp_dir, O_RDWR | O_TMPFILE | O_CLOEXEC, 0600);
                if (fd < 0) {
                        http_respond_error(req, 500, "cannot store the upload: %s", strerror(errno));
                        return -1;
                }
                http_body_to_file(req, fd);
        }
        return 1;
}

void api_on_request(struct http_request *req)
{
        struct sfaasd *sf = api_sfaasd(req);
        struct route rt;
        int r = route_match(req->method, req->path, &rt);

        if (r == -ENOENT) {
                http_respond_error(req, 404, "no route for %s %s", req->method, req->path);
                return;
        }
        if (rt.auth && !auth_check_basic(sf, req)) {
                auth_respond_unauthorized(req);
                return;
        }
        if (r == -EINVAL) {
                if (rt.id == ROUTE_INVOKE || rt.id == ROUTE_ASYNC_INVOKE)
                        http_respond_error(req, 404, "invalid function name in path '%.128s'", req->path);
                else
                        http_respond_error(req, 400, "invalid name in path '%.128s'", req->path);
                return;
        }
        if (!rt.method_allowed) {
                char allow[96];
                (void) xsnprintf(allow, sizeof allow, "Allow: %s\r\n", rt.allow);
                {
                        static const char body[] = "{\"error\":\"method not allowed\"}\n";
                        http_respond(req, 405, "application/json", allow, body, sizeof body - 1);
                }
                return;
        }
        switch (rt.id) {
        case ROUTE_ROOT:
                http_respond(req, 307, NULL, "Location: /ui/\r\n", NULL, 0);
                return;
        case ROUTE_HEALTHZ:
                http_respond(req, 200, NULL, NULL, NULL, 0);
                return;
        case ROUTE_UI:
                handle_ui(req, rt.rest);
                return;
        case ROUTE_FUNCTIONS:
                if (strcmp(req->method, "GET") == 0)
                        handle_list(req);
                else if (strcmp(req->method, "POST") == 0)
                        handle_deploy(req, false);
                else if (strcmp(req->method, "PUT") == 0)
                        handle_deploy(req, true);
                else
                        handle_delete(req);
                return;
        case ROUTE_FUNCTION:
                handle_get_function(req, rt.name);
                return;
        case ROUTE_NAMESPACES:
                handle_namespaces(req);
                return;
        case ROUTE_NAMESPACE:
                api_namespace(req, &rt);
                return;
        case ROUTE_SCALE:
                api_scale(req, &rt);
                return;
        case ROUTE_INFO:
                handle_info(req);
                return;
        case ROUTE_IMAGES:
        case ROUTE_IMAGE:
                api_images(req, &rt);
                return;
        case ROUTE_SECRETS:
                api_secrets(req, &rt);
                return;
        case ROUTE_METRICS:
                api_metrics(req, &rt);
                return;
        case ROUTE_LOGS:
                api_logs(req);
                return;
        case ROUTE_INVOKE: {
                const char *ns = rt.ns[0] ? rt.ns : STORE_DEFAULT_NAMESPACE;
                invoke_exec(sf, req, rt.name, ns, rt.rest);
                return;
        }
        case ROUTE_ASYNC_INVOKE:
                api_async_invoke(req, &rt);
                return;
        case ROUTE_ASYNC_STATUS:
                api_async_status(req, &rt);
                return;
        default:
                /* Every route the router knows has a handler above; reaching
                 * here is a bug in this file, not a missing feature. */
                log_error("no handler for route %d (%s %s)", (int) rt.id, req->method, req->path);
                http_respond_error(req, 500, "no handler for %s %s", req->method, req->path);
                return;
        }
}
