/* SPDX-License-Identifier: MIT */
#include "core/api/router.h"

#include <errno.h>
#include <string.h>

#include "core/base/cleanup.h"
#include "core/base/util.h"

bool route_valid_name(const char *name)
{
        size_t n = strlen(name);
        if (n == 0 || n >= ROUTE_NAME_MAX)
                return false;
        for (size_t i = 0; i < n; i++) {
                char c = name[i];
                bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
                if (!alnum && (i == 0 || (c != '-' && c != '_')))
                        return false;
        }
        return true;
}

static bool method_in(const char *method, const char *const *list)
{
        for (; *list; list++)
                if (strcmp(method, *list) == 0)
                        return true;
        return false;
}

/* Copy segment [s, s+n) into buf; false if it does not fit. */
static bool copy_seg(char *buf, size_t size, const char *s, size_t n)
{
        if (n >= size)
                return false;
        memcpy(buf, s, n);
        buf[n] = '\0';
        return true;
}

/* "/function/NAME[.NS][/rest]" after the prefix. */
static int match_invoke(const char *p, struct route *r)
{
        const char *slash = strchr(p, '/');
        size_t n = slash ? (size_t) (slash - p) : strlen(p);
        const char *dot;
        char full[2 * ROUTE_NAME_MAX];

        r->rest = slash ? slash : "/";
        if (n == 0 || !copy_seg(full, sizeof full, p, n))
                return -EINVAL;
        dot = strrchr(full, '.');
        if (dot) {
                if (!copy_seg(r->name, sizeof r->name, full, (size_t) (dot - full)) ||
                    !copy_seg(r->ns, sizeof r->ns, dot + 1, strlen(dot + 1)))
                        return -EINVAL;
                if (!route_valid_name(r->ns))
                        return -EINVAL;
        } else if (!copy_seg(r->name, sizeof r->name, full, n)) {
                return -EINVAL;
        }
        return route_valid_name(r->name) ? 0 : -EINVAL;
}

int route_match(const char *method, const char *path, struct route *r)
{
        static const char *const get_head[] = { "GET", "HEAD", NULL };
        static const char *const crud[] = { "GET", "POST", "PUT", "DELETE", NULL };
        static const char *const get_post[] = { "GET", "POST", NULL };
        static const char *const post[] = { "POST", NULL };
        static const char *const get_delete[] = { "GET", "DELETE", NULL };
        static const char *const get_post_delete[] = { "GET", "POST", "DELETE", NULL };
        static const char *const invoke[] = { "GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD", NULL };
        static const char *const ns_crud[] = { "GET", "POST", "PUT", "DELETE", NULL };
        const char *const *allowed = get_head;
        const char *p;

        memset(r, 0, sizeof *r);
        r->rest = "";
        if (strcmp(path, "/") == 0) {
                r->id = ROUTE_ROOT;
        } else if (strcmp(path, "/healthz") == 0) {
                r->id = ROUTE_HEALTHZ;
        } else if (strcmp(path, "/metrics") == 0) {
                r->id = ROUTE_METRICS;
        } else if (strcmp(path, "/ui") == 0 || str_startswith(path, "/ui/")) {
                r->id = ROUTE_UI;
                r->rest = path[3] ? path + 4 : "";
                if (strchr(r->rest, '/'))
                        return -ENOENT;
        } else if (str_startswith(path, "/function/")) {
                int q;
                r->id = ROUTE_INVOKE;
                allowed = invoke;
                q = match_invoke(path + STRLEN("/function/"), r);
                r->method_allowed = method_in(method, allowed);
                r->allow = "GET, POST, PUT, PATCH, DELETE, OPTIONS, HEAD";
                return q;
        } else if (str_startswith(path, "/async-function/")) {
                int q;
                r->id = ROUTE_ASYNC_INVOKE;
                q = match_invoke(path + STRLEN("/async-function/"), r);
                r->method_allowed = method_in(method, post);
                r->allow = "POST";
                return q;
        } else if (str_startswith(path, "/system/")) {
                p = path + STRLEN("/system/");
                r->auth = true;
                if (strcmp(p, "functions") == 0) {
                        r->id = ROUTE_FUNCTIONS;
                        allowed = crud;
                } else if (str_startswith(p, "function/")) {
                        const char *n = p + 9, *slash = strchr(n, '/');
                        r->id = ROUTE_FUNCTION;
                        if (slash && strcmp(slash, "/history") == 0)
                                r->id = ROUTE_FUNCTION_HISTORY;
                        if (!copy_seg(r->name, sizeof r->name, n,
                                      r->id == ROUTE_FUNCTION ? strlen(n) : (size_t) (slash - n)) ||
                            !route_valid_name(r->name))
                                return -EINVAL;
                } else if (strcmp(p, "history") == 0) {
                        r->id = ROUTE_HISTORY;
                } else if (strcmp(p, "history/functions") == 0) {
                        r->id = ROUTE_HISTORY_FUNCTIONS;
                } else if (strcmp(p, "namespaces") == 0) {
                        r->id = ROUTE_NAMESPACES;
                } else if (strcmp(p, "namespace") == 0 || str_startswith(p, "namespace/")) {
                        const char *n = p[9] ? p + 10 : "";
                        r->id = ROUTE_NAMESPACE;
                        allowed = ns_crud;
                        if (*n && (!copy_seg(r->name, sizeof r->name, n, strlen(n)) || !route_valid_name(r->name)))
                                return -EINVAL;
                } else if (strcmp(p, "info") == 0) {
                        r->id = ROUTE_INFO;
                } else if (strcmp(p, "images") == 0) {
                        r->id = ROUTE_IMAGES;
                        allowed = get_post;
                } else if (str_startswith(p, "images/") && p[7]) {
                        /* A reference has '/', ':' and '@' in it: the rest is it. */
                        r->id = ROUTE_IMAGE;
                        r->rest = p + 7;
                        /* POST /system/images/prune; GET and DELETE of it
                         * are the image "prune:latest" as usual. */
                        allowed = strcmp(r->rest, "prune") == 0 || strcmp(r->rest, "pull") == 0 ? get_post_delete
                                                                                             : get_delete;
                } else if (str_startswith(p, "scale-function/")) {
                        r->id = ROUTE_SCALE;
                        allowed = post;
                        if (!copy_seg(r->name, sizeof r->name, p + 15, strlen(p + 15)) || !route_valid_name(r->name))
                                return -EINVAL;
                } else if (strcmp(p, "secrets") == 0) {
                        r->id = ROUTE_SECRETS;
                        allowed = crud;
                } else if (strcmp(p, "registry-auth") == 0) {
                        r->id = ROUTE_REGISTRY_AUTH;
                        allowed = crud;
                } else if (strcmp(p, "logs") == 0) {
                        r->id = ROUTE_LOGS;
                } else if (str_startswith(p, "async/")) {
                        r->id = ROUTE_ASYNC_STATUS;
                        if (!copy_seg(r->name, sizeof r->name, p + 6, strlen(p + 6)) || !r->name[0] ||
                            strchr(r->name, '/'))
                                return -EINVAL;
                } else {
                        return -ENOENT;
                }
        } else {
                return -ENOENT;
        }
        r->method_allowed = method_in(method, allowed);
        r->allow = allowed == crud ? "GET, POST, PUT, DELETE"
                   : allowed == get_post ? "GET, POST"
                   : allowed == post ? "POST"
                   : allowed == ns_crud ? "GET, POST, PUT, DELETE"
                   : allowed == get_delete ? "GET, DELETE"
                   : allowed == get_post_delete ? "GET, POST, DELETE"
                                        : "GET, HEAD";
        return 0;
}
