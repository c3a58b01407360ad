/* SPDX-License-Identifier: MIT */
/* GET /system/namespaces, GET /system/info and the web UI's files. */
#include <jansson.h>
#include <string.h>
#include <sys/utsname.h>

#include "core/api/api.h"
#include "core/api/ui.h"
#include "core/base/cleanup.h"
#include "core/sfaasd.h"

void api_namespaces_list(struct http_request *req, const struct route *rt)
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

