/* SPDX-License-Identifier: MIT */
/*
 * The HTTP API's entry points: every request is routed once, at its head
 * (route_match, core/api/router.h), and the route is kept with the request
 * until its handler runs. The table below names the handler of every route;
 * a route without one answers 500, so a new route cannot be forgotten.
 * Who may call a route is the router's table (core/api/router.c), which
 * core/api/access.c enforces here, at the head, before any handler runs.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/api/access.h"
#include "core/api/api.h"
#include "core/api/auth.h"
#include "core/base/log.h"
#include "core/base/util.h"
#include "core/sfaasd.h"

static void api_root(struct http_request *req, const struct route *rt)
{
        http_respond(req, 307, NULL, "Location: /ui/\r\n", NULL, 0);
}

static void api_healthz(struct http_request *req, const struct route *rt)
{
        http_respond(req, 200, NULL, NULL, NULL, 0);
}

static void api_logs_route(struct http_request *req, const struct route *rt)
{
        api_logs(req);
}

/* The handler of each route; head, when set, runs at headers-complete and
 * returns an enum http_head_action (core/http/server.h). */
static const struct {
        int (*head)(struct http_request *req, const struct route *rt);
        void (*handle)(struct http_request *req, const struct route *rt);
} handlers[] = {
        [ROUTE_ROOT] = { NULL, api_root },
        [ROUTE_HEALTHZ] = { NULL, api_healthz },
        [ROUTE_UI] = { NULL, api_ui },
        [ROUTE_FUNCTIONS] = { NULL, api_functions },
        [ROUTE_FUNCTION] = { NULL, api_function_get },
        [ROUTE_NAMESPACES] = { NULL, api_namespaces_list },
        [ROUTE_NAMESPACE] = { NULL, api_namespace },
        [ROUTE_INFO] = { NULL, api_info },
        [ROUTE_IMAGES] = { api_images_head, api_images },
        [ROUTE_IMAGE] = { NULL, api_images },
        [ROUTE_METRICS] = { NULL, api_metrics },
        [ROUTE_SCALE] = { NULL, api_scale },
        [ROUTE_SECRETS] = { NULL, api_secrets },
        [ROUTE_LOGS] = { NULL, api_logs_route },
        [ROUTE_INVOKE] = { api_invoke_head, api_invoke },
        [ROUTE_ASYNC_INVOKE] = { NULL, api_async_invoke },
        [ROUTE_ASYNC_STATUS] = { NULL, api_async_status },
        [ROUTE_FUNCTION_HISTORY] = { NULL, api_history },
        [ROUTE_HISTORY_FUNCTIONS] = { NULL, api_history },
        [ROUTE_HISTORY] = { NULL, api_history },
        [ROUTE_IMAGE_PRUNE] = { NULL, api_images },
        [ROUTE_WHOAMI] = { NULL, api_whoami },
        [ROUTE_TENANTS] = { NULL, api_tenants },
        [ROUTE_TENANT] = { NULL, api_tenants },
        [ROUTE_TENANT_TOKENS] = { NULL, api_tenants },
        [ROUTE_TENANT_TOKEN] = { NULL, api_tenants },
        [ROUTE_SHARED_IMAGES] = { NULL, api_images },
        [ROUTE_SHARED_IMAGE] = { NULL, api_images },
        [ROUTE_AUDIT] = { NULL, api_audit },
        [ROUTE_TENANT_INVOKE] = { NULL, api_tenants },
        [ROUTE_TENANT_KEYS] = { NULL, api_tenants },
        [ROUTE_TENANT_KEY] = { NULL, api_tenants },
        [ROUTE_TENANT_EGRESS] = { NULL, api_tenants },
        [ROUTE_IMAGE_PULL] = { NULL, api_images },
        [ROUTE_IMAGE_PULLS] = { NULL, api_images },
        [ROUTE_REGISTRY_AUTH] = { NULL, api_registry_auth },
};


int api_on_head(struct http_request *req)
{
        struct routed *rd = calloc(1, sizeof *rd);
        struct route *rt;

        if (!rd) {
                http_respond_error(req, 500, "out of memory");
                return HTTP_HEAD_ANSWERED;
        }
        req->app = rd;
        rt = &rd->rt;
        rd->match = route_match(req->method, req->path, rt);
        if (rd->match == -ENOENT)
                return 0;
        access_decide(api_sfaasd(req), req, rt, &rd->access);
        /* A refused upload or call is answered before its body is read;
         * the rest once the (in-memory, capped) body is in, so the
         * connection stays usable. */
        if (rd->access.status && (size_t) rt->id < ELEMENTSOF(handlers) && handlers[rt->id].head) {
                access_respond(req, &rd->access);
                return -1;
        }
        if (rd->match < 0 || !rt->method_allowed || (size_t) rt->id >= ELEMENTSOF(handlers) || !handlers[rt->id].head)
                return HTTP_HEAD_READ_BODY; /* answered from api_on_request */
        return handlers[rt->id].head(req, rt);
}

void api_on_request(struct http_request *req)
{
        struct routed *rd = req->app;
        struct route *rt = rd ? &rd->rt : NULL;
        int r = rd ? rd->match : -EIO;

        if (!rt) {
                http_respond_error(req, 500, "request without a route");
                return;
        }
        if (r == -ENOENT) {
                http_respond_error(req, 404, "no route for %s %s", req->method, req->path);
                return;
        }
        access_check_body(req, rt, &rd->access);
        if (rd->access.status) {
                access_respond(req, &rd->access);
                return;
        }
        if (r == -EINVAL) {
                if (rt->id == ROUTE_INVOKE || rt->id == ROUTE_ASYNC_INVOKE)
                        http_respond_error(req, 404, "invalid function name in path '%.128s'", req->path);
                else
                        http_respond_error(req, 400, "invalid name in path '%.128s'", req->path);
                return;
        }
        if (!rt->method_allowed) {
                char allow[96];
                static const char body[] = "{\"error\":\"method not allowed\"}\n";
                (void) xsnprintf(allow, sizeof allow, "Allow: %s\r\n", rt->allow);
                http_respond(req, 405, "application/json", allow, body, sizeof body - 1);
                return;
        }
        if ((size_t) rt->id >= ELEMENTSOF(handlers) || !handlers[rt->id].handle) {
                /* Every route the router knows has a handler above; reaching
                 * here is a bug in this file, not a missing feature. */
                log_error("no handler for route %d (%s %s)", (int) rt->id, req->method, req->path);
                http_respond_error(req, 500, "no handler for %s %s", req->method, req->path);
                return;
        }
        handlers[rt->id].handle(req, rt);
}
