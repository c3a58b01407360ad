/* SPDX-License-Identifier: MIT */
/* GET /system/namespaces, GET /system/info and the web UI's files. */
#include <jansson.h>
#include <string.h>
#include <sys/utsname.h>

#include "core/api/api.h"
#include "core/api/auth.h"
#include "core/api/ui.h"
#include "core/base/cleanup.h"
#include "core/sfaasd.h"

/* The namespaces the caller may see, as a JSON array: every one for the
 * admin, its own for a tenant. NULL on an error. */
static json_t *visible_namespaces(struct http_request *req)
{
        struct sfaasd *sf = api_sfaasd(req);
        const struct api_caller *c = api_caller(req);
        _cleanup_strv_free_ char **names = NULL;
        json_t *arr = json_array();

        if (!arr)
                return NULL;
        if (c->kind == CALLER_TENANT) {
                if (json_array_append_new(arr, json_string(c->ns)) < 0) {
                        json_decref(arr);
                        return NULL;
                }
                return arr;
        }
        if (store_namespace_list(sf->store, &names) < 0) {
                json_decref(arr);
                return NULL;
        }
        for (char **n = names; *n; n++)
                if (json_array_append_new(arr, json_string(*n)) < 0) {
                        json_decref(arr);
                        return NULL;
                }
        return arr;
}

void api_namespaces_list(struct http_request *req, const struct route *rt)
{
        _cleanup_json_ json_t *arr = visible_namespaces(req);
        if (!arr) {
                http_respond_error(req, 500, "cannot list namespaces");
                return;
        }
        api_respond_json(req, 200, arr);
}

/* {"user", "admin", "namespaces"}: what the web console shows and lets
 * the caller switch between. */
void api_whoami(struct http_request *req, const struct route *rt)
{
        const struct api_caller *c = api_caller(req);
        json_t *arr = visible_namespaces(req);
        _cleanup_json_ json_t *o = NULL;

        if (!arr) {
                http_respond_error(req, 500, "cannot list namespaces");
                return;
        }
        /* "o" steals arr, also on failure. */
        o = json_pack("{s:s,s:b,s:o,s:s}", "user", c->kind == CALLER_TENANT ? c->ns : AUTH_ADMIN_USER, "admin",
                      c->kind == CALLER_ADMIN, "namespaces", arr, "credential", c->credential);
        if (!o) {
                http_respond_error(req, 500, "out of memory");
                return;
        }
        api_respond_json(req, 200, o);
}

void api_info(struct http_request *req, const struct route *rt)
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

void api_ui(struct http_request *req, const struct route *rt)
{
        const char *file = rt->rest;
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

