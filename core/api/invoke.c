/* SPDX-License-Identifier: MIT */
/*
 * /function/NAME[.NS][/path]: a synchronous call. The one place where the
 * mode of a function decides the path of a call:
 *
 *   http mode  the head callback hands the request to the proxy, which
 *              streams it to a warm instance (core/runtime/proxy.c);
 *   exec mode  the body is read into memory and a fresh sandbox runs the
 *              call (core/runtime/invoke.c), which also answers for a
 *              function that does not exist or cannot be read.
 */
#include "core/api/api.h"
#include "core/base/log.h"
#include "core/runtime/invoke.h"
#include "core/runtime/pool.h"
#include "core/sfaasd.h"

static const char *route_ns(const struct route *rt)
{
        return rt->ns[0] ? rt->ns : STORE_DEFAULT_NAMESPACE;
}

int api_invoke_head(struct http_request *req, const struct route *rt)
{
        struct sfaasd *sf = api_sfaasd(req);
        struct sf_err err = { 0 };
        struct pool *fn;
        int status;

        fn = pool_get(sf, route_ns(rt), rt->name, &status, &err);
        if (!fn && status != 404)
                log_warning("function '%s.%s': %s", rt->name, route_ns(rt), err.msg);
        if (!fn || pool_mode(fn) != FN_MODE_HTTP)
                return HTTP_HEAD_READ_BODY; /* exec mode, or an error that api_invoke() answers */
        if (sf->stopping) {
                http_respond_error(req, 503, "sfaasd is shutting down");
                return HTTP_HEAD_ANSWERED;
        }
        return proxy_start(sf, req, fn);
}

void api_invoke(struct http_request *req, const struct route *rt)
{
        invoke_exec(api_sfaasd(req), req, rt->name, route_ns(rt), rt->rest);
}
