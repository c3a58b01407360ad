/* SPDX-License-Identifier: MIT */
/*
 * POST /async-function/NAME[.NS][/path]: the request is stored (the
 * runtime's async queue, core/runtime/async.h) and answered 202 with
 * X-Call-Id after the commit; GET /system/async/CALL-ID reads a call back.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/api/api.h"
#include "core/base/cleanup.h"
#include "core/base/timefmt.h"
#include "core/base/util.h"
#include "core/model/callid.h"
#include "core/runtime/async.h"
#include "core/runtime/tenants.h"
#include "core/sfaasd.h"
#include "store/async.h"
#include "store/tenants.h"

#define RETRY_AFTER_S "5" /* Retry-After of a 429 for a full queue */

void api_async_invoke(struct http_request *req, const struct route *rt)
{
        struct sfaasd *sf = api_sfaasd(req);
        const char *ns = rt->ns[0] ? rt->ns : STORE_DEFAULT_NAMESPACE;
        struct store_function *fn = NULL;
        const char *cb_url = http_request_header(req, "X-Callback-Url");
        const char *given = http_request_header(req, "X-Call-Id");
        _cleanup_json_ json_t *hdrs = json_array();
        _cleanup_free_ char *hdrs_s = NULL, *fname = NULL;
        struct store_async_call c = { 0 };
        struct sf_err err = { 0 };
        char id[CALL_ID_MAX], why[600], extra[96];
        bool existing = false;
        int r;

        if (sf->stopping) {
                http_respond_error(req, 503, "sfaasd is shutting down");
                return;
        }
        r = store_function_get(sf->store, ns, rt->name, &fn);
        if (r == -ENOENT) {
                http_respond_error(req, 404, "function '%s' not found in namespace '%s'", rt->name, ns);
                return;
        }
        if (r < 0) {
                http_respond_error(req, 500, "cannot read function: %s", strerror(-r));
                return;
        }
        store_function_free(fn);
        {
                /* The tenant's queue: its own quota before the global caps. */
                struct tenant_quota q;
                struct store_tenant_usage u;
                if (tenants_quota(sf, ns, &q) >= 0 && q.async_queued &&
                    store_tenant_usage(sf->store, ns, &u) >= 0 && u.async_queued >= q.async_queued) {
                        http_respond_error_with(req, 429, "Retry-After: " RETRY_AFTER_S "\r\n",
                                                "namespace '%s' has %llu async calls queued or running, its "
                                                "asyncQueued quota",
                                                ns, (unsigned long long) q.async_queued);
                        return;
                }
        }
        if (cb_url && !async_callback_url_valid(cb_url, why, sizeof why)) {
                http_respond_error(req, 400, "X-Callback-Url is not a valid absolute http URL: %s", why);
                return;
        }
        if (!hdrs) {
                http_respond_error(req, 500, "out of memory");
                return;
        }
        /* The function sees the headers as a synchronous call would; the
         * caller's credentials are not stored. */
        for (size_t i = 0; i < req->n_headers; i++) {
                if (strcasecmp(req->headers[i].name, "Authorization") == 0)
                        continue;
                if (json_array_append_new(hdrs, json_pack("[s,s]", req->headers[i].name, req->headers[i].value)) < 0)
                        json_array_append_new(hdrs, json_pack("[s,s]", req->headers[i].name, "")); /* not UTF-8 */
        }
        hdrs_s = json_dumps(hdrs, JSON_COMPACT);
        fname = rt->ns[0] ? xasprintf("%s.%s", rt->name, rt->ns) : strdup(rt->name);
        if (!hdrs_s || !fname) {
                http_respond_error(req, 500, "out of memory");
                return;
        }
        if (given && call_id_valid(given))
                (void) xsnprintf(id, sizeof id, "%s", given);
        else
                call_id_make(id);
        c.id = id;
        c.namespace = (char *) ns;
        c.function = (char *) rt->name;
        c.function_name = fname;
        c.method = req->method;
        c.path = (char *) rt->rest;
        c.query = req->query;
        c.headers_json = hdrs_s;
        c.body = req->body;
        c.body_len = req->body_len;
        c.callback_url = (char *) cb_url;
        r = async_submit(sf, &c, &existing, &err);
        if (r == -EDQUOT) {
                http_respond_error_with(req, 429, "Retry-After: " RETRY_AFTER_S "\r\n", "%s", err.msg);
                return;
        }
        if (r == -EINVAL) {
                http_respond_error(req, 400, "%s", err.msg);
                return;
        }
        if (r < 0) {
                http_respond_error(req, 500, "%s: %s", err.msg, strerror(-r));
                return;
        }
        (void) xsnprintf(extra, sizeof extra, "X-Call-Id: %s\r\n", id);
        http_respond(req, 202, NULL, extra, NULL, 0);
}

static json_t *ts_or_null(int64_t ns)
{
        char ts[TIME_RFC3339_MAX];
        if (!ns)
                return json_null();
        time_rfc3339(ns, 9, ts);
        return json_string(ts);
}

void api_async_status(struct http_request *req, const struct route *rt)
{
        struct sfaasd *sf = api_sfaasd(req);
        struct store_async_call *c = NULL;
        _cleanup_json_ json_t *o = NULL;
        int r;

        if (!call_id_valid(rt->name)) {
                http_respond_error(req, 404, "no async call '%.64s'", rt->name);
                return;
        }
        r = store_async_get(sf->store, rt->name, &c);
        if (r >= 0 && api_caller(req)->kind == CALLER_TENANT && strcmp(c->namespace, api_caller(req)->ns) != 0) {
                /* Another tenant's call: the same answer as for no call. */
                store_async_call_free(TAKE_PTR(c));
                r = -ENOENT;
        }
        if (r == -ENOENT) {
                http_respond_error(req, 404, "no async call '%s'", rt->name);
                return;
        }
        if (r < 0) {
                http_respond_error(req, 500, "cannot read async call: %s", strerror(-r));
                return;
        }
        o = json_object();
        if (o) {
                (void) json_object_set_new(o, "callId", json_string(c->id));
                (void) json_object_set_new(o, "function", json_string(c->function));
                (void) json_object_set_new(o, "namespace", json_string(c->namespace));
                (void) json_object_set_new(o, "state", json_string(c->state));
                (void) json_object_set_new(o, "status", c->status ? json_integer(c->status) : json_null());
                (void) json_object_set_new(o, "attempts", json_integer(c->attempts));
                (void) json_object_set_new(o, "createdAt", ts_or_null(c->created_at));
                (void) json_object_set_new(o, "finishedAt", ts_or_null(c->finished_at));
                (void) json_object_set_new(o, "durationSeconds",
                                           c->finished_at ? json_real(c->duration) : json_null());
                (void) json_object_set_new(o, "callbackUrl",
                                           c->callback_url ? json_string(c->callback_url) : json_null());
                (void) json_object_set_new(o, "callbackState",
                                           c->callback_state ? json_string(c->callback_state) : json_null());
                (void) json_object_set_new(o, "callbackStatus",
                                           c->callback_status ? json_integer(c->callback_status) : json_null());
                (void) json_object_set_new(o, "callbackAttempts", json_integer(c->callback_attempts));
                (void) json_object_set_new(o, "callbackError",
                                           c->callback_error ? json_string(c->callback_error) : json_null());
        }
        store_async_call_free(c);
        if (!o) {
                http_respond_error(req, 500, "out of memory");
                return;
        }
        api_respond_json(req, 200, o);
}
