/* SPDX-License-Identifier: MIT */
/* What every handler of the API uses (core/api/api.h): the daemon behind a
 * request, JSON answers, the body as a JSON object, the namespace asked for. */
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "core/api/api.h"
#include "core/base/cleanup.h"
#include "core/base/util.h"
#include "core/sfaasd.h"

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

/* Namespace: body field first, then ?namespace=, then the caller's default.
 * Writes into buf; answers and returns -1 when it is invalid, unknown or
 * not the tenant's. */
int api_resolve_namespace(struct http_request *req, json_t *body, char *buf, size_t size)
{
        struct sfaasd *sf = api_sfaasd(req);
        const struct api_caller *caller = api_caller(req);
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
                ns = caller->kind == CALLER_TENANT ? caller->ns : STORE_DEFAULT_NAMESPACE;
        if (caller->kind == CALLER_TENANT && strcmp(ns, caller->ns) != 0) {
                http_respond_error(req, 403, "forbidden: namespace '%.64s' is not yours", ns);
                return -1;
        }
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

