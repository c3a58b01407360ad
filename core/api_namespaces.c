/* SPDX-License-Identifier: MIT */
/*
 * Namespace (tenant) CRUD and scale-function, as faas-cli and the gateway
 * drive them (docs/OPENFAAS-COMPAT.md §2.1, §2.3, §2.4, §3.2):
 *
 *   POST   /system/namespace/        {"name","labels","annotations"}
 *                                    201; 409 when it exists
 *   GET    /system/namespace/NAME    200 {"name","labels","annotations"}; 404
 *   PUT    /system/namespace/NAME    same body; 202; 404 when absent
 *   DELETE /system/namespace/NAME    202; 404 when absent; 409 while it still
 *                                    has functions; 403 for openfaas-fn
 *   POST   /system/scale-function/NAME
 *                                    {"serviceName","replicas","namespace"?}
 *                                    200; 404 when the function is absent
 *
 * Create and update require the label openfaas: "1", as faasd does: it marks
 * the namespaces OpenFaaS may use. labels and annotations are objects of
 * strings, or null (Go's map pointers); stored as JSON text.
 *
 * Deleting the default namespace is refused with 403, not 409: 409 says "fix
 * the state and retry", while no state of openfaas-fn makes it deletable
 * (every unqualified /function/NAME and every request without a namespace
 * lands there).
 *
 * A namespace's secrets go with it: the secrets table references namespaces
 * ON DELETE CASCADE (store/db.c, foreign_keys=ON), inside the same DELETE.
 *
 * scale-function lives here because it is the other half of the tenant and
 * registry surface that had no handler; it shares nothing with the rest.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/api.h"
#include "core/pool.h"
#include "core/base/cleanup.h"
#include "core/base/log.h"

/* NULL when v is an object of strings (or null, or absent), else why not. */
static const char *check_string_map(json_t *v)
{
        const char *k;
        json_t *e;
        if (!v || json_is_null(v))
                return NULL;
        if (!json_is_object(v))
                return "must be an object of strings or null";
        json_object_foreach(v, k, e)
        {
                if (!json_is_string(e))
                        return "must be an object of strings or null";
        }
        return NULL;
}

/* v (an object, null or absent) as compact sorted JSON text; "{}" for
 * null/absent. NULL on ENOMEM. */
static char *map_dump(json_t *v)
{
        if (!v || json_is_null(v))
                return strdup("{}");
        return json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
}

/*
 * The namespace name of a POST/PUT: the body's "name" and the path's must
 * agree when both are given; POST /system/namespace/ takes it from the body.
 * Answers 400 and returns NULL when missing or invalid.
 */
static const char *body_ns_name(struct http_request *req, json_t *body, const struct route *rt)
{
        json_t *v = json_object_get(body, "name");
        const char *name = rt->name[0] ? rt->name : NULL;

        if (v && !json_is_null(v)) {
                if (!json_is_string(v)) {
                        http_respond_error(req, 400, "field 'name' must be a string");
                        return NULL;
                }
                if (*json_string_value(v)) {
                        if (name && strcmp(name, json_string_value(v)) != 0) {
                                http_respond_error(req, 400,
                                                   "field 'name' ('%.64s') does not match the path ('%s')",
                                                   json_string_value(v), name);
                                return NULL;
                        }
                        name = json_string_value(v);
                }
        }
        if (!name) {
                http_respond_error(req, 400, "field 'name' (the namespace) is required");
                return NULL;
        }
        if (!route_valid_name(name)) {
                http_respond_error(
                    req, 400,
                    "invalid namespace name '%.64s': use letters, digits, '-' and '_', starting "
                    "with a letter or digit (at most %d)",
                    name, ROUTE_NAME_MAX - 1);
                return NULL;
        }
        return name;
}

static void handle_write(struct http_request *req, const struct route *rt, bool update)
{
        struct sfaasd *sf = api_sfaasd(req);
        _cleanup_json_ json_t *body = NULL;
        _cleanup_free_ char *labels = NULL;
        _cleanup_free_ char *annotations = NULL;
        const char *name, *why;
        json_t *lv, *mark;
        int r;

        if (update && !rt->name[0]) {
                http_respond_error(req, 400, "PUT needs the namespace in the path: /system/namespace/NAME");
                return;
        }
        body = api_parse_body_object(req);
        if (!body)
                return;
        name = body_ns_name(req, body, rt);
        if (!name)
                return;
        lv = json_object_get(body, "labels");
        if ((why = check_string_map(lv))) {
                http_respond_error(req, 400, "field 'labels' %s", why);
                return;
        }
        if ((why = check_string_map(json_object_get(body, "annotations")))) {
                http_respond_error(req, 400, "field 'annotations' %s", why);
                return;
        }
        /* faasd only lets OpenFaaS touch namespaces that carry this label. */
        mark = json_object_get(lv, "openfaas");
        if (!mark || !json_is_string(mark) || strcmp(json_string_value(mark), "1") != 0) {
                http_respond_error(req, 400, "namespace '%s' must carry the label openfaas: \"1\"", name);
                return;
        }
        labels = map_dump(lv);
        annotations = map_dump(json_object_get(body, "annotations"));
        if (!labels || !annotations) {
                http_respond_error(req, 500, "out of memory");
                return;
        }
        r = update ? store_namespace_update(sf->store, name, labels, annotations)
                   : store_namespace_create(sf->store, name, labels, annotations);
        if (r == -ENOENT) {
                http_respond_error(req, 404, "namespace '%s' not found", name);
                return;
        }
        if (r == -EEXIST) {
                http_respond_error(req, 409, "namespace '%s' already exists", name);
                return;
        }
        if (r < 0) {
                http_respond_error(req, 500, "cannot %s namespace '%s': %s", update ? "update" : "create",
                                   name, strerror(-r));
                return;
        }
        log_info("%s namespace '%s'", update ? "updated" : "created", name);
        http_respond(req, update ? 202 : 201, NULL, NULL, NULL, 0);
}

static void handle_get(struct http_request *req, const char *name)
{
        struct sfaasd *sf = api_sfaasd(req);
        struct store_namespace *n = NULL;
        _cleanup_json_ json_t *o = NULL;
        json_t *labels, *annotations;
        int r;

        r = store_namespace_get(sf->store, name, &n);
        if (r == -ENOENT) {
                http_respond_error(req, 404, "namespace '%s' not found", name);
                return;
        }
        if (r < 0) {
                http_respond_error(req, 500, "cannot read namespace '%s': %s", name, strerror(-r));
                return;
        }
        labels = json_loads(n->labels_json, 0, NULL);
        annotations = json_loads(n->annotations_json, 0, NULL);
        store_namespace_free(n);
        if (!json_is_object(labels) || !json_is_object(annotations)) {
                json_decref(labels);
                json_decref(annotations);
                http_respond_error(req, 500, "stored labels or annotations of namespace '%s' are unreadable",
                                   name);
                return;
        }
        /* "o" steals both references, also on failure. */
        o = json_pack("{s:s,s:o,s:o}", "name", name, "labels", labels, "annotations", annotations);
        if (!o) {
                http_respond_error(req, 500, "out of memory");
                return;
        }
        api_respond_json(req, 200, o);
}

static void handle_delete(struct http_request *req, const char *name)
{
        struct sfaasd *sf = api_sfaasd(req);
        int r;

        if (strcmp(name, STORE_DEFAULT_NAMESPACE) == 0) {
                http_respond_error(req, 403, "namespace '%s' is the default namespace and cannot be deleted",
                                   name);
                return;
        }
        r = store_namespace_delete(sf->store, name);
        if (r == -ENOENT) {
                http_respond_error(req, 404, "namespace '%s' not found", name);
                return;
        }
        if (r == -ENOTEMPTY) {
                http_respond_error(req, 409,
                                   "namespace '%s' still has functions: remove them first (GET "
                                   "/system/functions?namespace=%s lists them)",
                                   name, name);
                return;
        }
        if (r < 0) {
                http_respond_error(req, 500, "cannot delete namespace '%s': %s", name, strerror(-r));
                return;
        }
        log_info("deleted namespace '%s' and its secrets", name);
        http_respond(req, 202, NULL, NULL, NULL, 0);
}

void api_namespace(struct http_request *req, const struct route *rt)
{
        if (strcmp(req->method, "POST") == 0) {
                handle_write(req, rt, false);
                return;
        }
        if (strcmp(req->method, "PUT") == 0) {
                handle_write(req, rt, true);
                return;
        }
        if (!rt->name[0]) {
                http_respond_error(req, 400, "%s needs the namespace in the path: /system/namespace/NAME",
                                   req->method);
                return;
        }
        if (strcmp(req->method, "GET") == 0)
                handle_get(req, rt->name);
        else
                handle_delete(req, rt->name);
}

void api_scale(struct http_request *req, const struct route *rt)
{
        struct sfaasd *sf = api_sfaasd(req);
        _cleanup_json_ json_t *body = api_parse_body_object(req);
        struct store_function *f = NULL;
        char ns[ROUTE_NAME_MAX];
        json_t *v;
        int r;

        if (!body)
                return;
        /* serviceName, not service (openfaas/faas#1713). The path names the
         * function; a body that names another one is a client bug. */
        v = json_object_get(body, "serviceName");
        if (v && !json_is_null(v)) {
                if (!json_is_string(v)) {
                        http_respond_error(req, 400, "field 'serviceName' must be a string");
                        return;
                }
                if (*json_string_value(v) && strcmp(json_string_value(v), rt->name) != 0) {
                        http_respond_error(req, 400,
                                           "field 'serviceName' ('%.64s') does not match the path ('%s')",
                                           json_string_value(v), rt->name);
                        return;
                }
        }
        /* replicas is a Go uint64: absent decodes as 0; negative or
         * fractional numbers fail to decode. */
        v = json_object_get(body, "replicas");
        if (v && !json_is_null(v) && (!json_is_integer(v) || json_integer_value(v) < 0)) {
                http_respond_error(req, 400, "field 'replicas' must be a non-negative integer");
                return;
        }
        if (api_resolve_namespace(req, body, ns, sizeof ns) < 0)
                return;
        r = store_function_get(sf->store, ns, rt->name, &f);
        if (r == -ENOENT) {
                http_respond_error(req, 404, "function '%s' not found in namespace '%s'", rt->name, ns);
                return;
        }
        if (r < 0) {
                http_respond_error(req, 500, "cannot read function: %s", strerror(-r));
                return;
        }
        store_function_free(f);
        /*
         * http mode: the pool's floor becomes replicas (clamped to
         * com.openfaas.scale.max) and instances start or stop now; the floor
         * holds until the next deploy or daemon restart. Exec mode: every
         * call gets a fresh sandbox, there is no pool to size; accepted.
         */
        {
                struct sf_err err = { 0 };
                uint64_t n = v && json_is_integer(v) ? (uint64_t) json_integer_value(v) : 0;
                r = pools_scale(sf, ns, rt->name, n, &err);
                if (r == -ENOENT) {
                        http_respond_error(req, 404, "function '%s' not found in namespace '%s'", rt->name, ns);
                        return;
                }
                if (r < 0) {
                        http_respond_error(req, 500, "cannot scale '%s.%s': %s", rt->name, ns, err.msg);
                        return;
                }
        }
        http_respond(req, 200, NULL, NULL, NULL, 0);
}
