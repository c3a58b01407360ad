/* SPDX-License-Identifier: MIT */
/*
 * The audit trail's side of the API (store/audit.h has the chain):
 *
 *   - api_on_response(), called for every answer, appends a record for
 *     every refused request (401, 403) and every request that tries to
 *     change the control plane (a method other than GET/HEAD on a route
 *     of policy credential, tenant or admin), with who (actor and
 *     credential), from where, what (method and target), the status, and
 *     the handler's note or the refusal's reason;
 *   - GET /system/audit[?namespace=&after=SEQ&limit=N]: the admin reads
 *     every record (or one tenant's), a tenant its own.
 *
 * A record belongs to a tenant: the tenant who made the request, or, for
 * the admin and for callers without a valid credential, the namespace the
 * request named. So a tenant sees what was done to it and by it, never
 * another tenant's attempts on a third.
 */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/api/access.h"
#include "core/api/api.h"
#include "core/base/cleanup.h"
#include "core/base/log.h"
#include "core/base/timefmt.h"
#include "core/base/util.h"
#include "store/audit.h"

#define AUDIT_PATH_MAX 1024
#define AUDIT_LIST_DEFAULT 100
#define AUDIT_LIST_MAX 1000
#define AUDIT_BODY_PEEK (64u << 10) /* bodies read for a namespace name, at most */

void api_audit_note(struct http_request *req, const char *fmt, ...)
{
        struct routed *rd = req->app;
        va_list ap;

        if (!rd)
                return;
        va_start(ap, fmt);
        if (vsnprintf(rd->note, sizeof rd->note, fmt, ap) < 0)
                rd->note[0] = '\0';
        va_end(ap);
}

static bool is_read(const char *method)
{
        return strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
}

static const char *actor_name(enum caller_kind k)
{
        switch (k) {
        case CALLER_ADMIN: return "admin";
        case CALLER_TENANT: return "tenant";
        case CALLER_INVALID: return "invalid";
        default: return "anonymous";
        }
}

/* The namespace a request names in its JSON body ("namespace", or "name"
 * where the body makes a namespace). */
static void body_namespace(const struct http_request *req, const struct route *rt, char *buf, size_t size)
{
        json_t *body, *v;

        if (!req->body || req->body_len == 0 || req->body_len > AUDIT_BODY_PEEK)
                return;
        body = json_loadb(req->body, req->body_len, 0, NULL);
        if (!json_is_object(body)) {
                json_decref(body);
                return;
        }
        v = json_object_get(body, "namespace");
        if (!json_is_string(v) && (rt->id == ROUTE_TENANTS || rt->id == ROUTE_NAMESPACE))
                v = json_object_get(body, "name");
        if (json_is_string(v) && route_valid_name(json_string_value(v)))
                (void) xsnprintf(buf, size, "%s", json_string_value(v));
        json_decref(body);
}

/* Whose record this is (see the top of the file). */
static void record_tenant(const struct http_request *req, const struct routed *rd, char *buf, size_t size)
{
        const struct api_caller *c = &rd->access.caller;

        buf[0] = '\0';
        if (c->kind == CALLER_TENANT) {
                (void) xsnprintf(buf, size, "%s", c->ns);
                return;
        }
        if (rd->rt.ns[0]) {
                (void) xsnprintf(buf, size, "%s", rd->rt.ns);
                return;
        }
        {
                _cleanup_free_ char *q = http_query_param(req, "namespace");
                if (q && route_valid_name(q)) {
                        (void) xsnprintf(buf, size, "%s", q);
                        return;
                }
        }
        body_namespace(req, &rd->rt, buf, size);
        if (!buf[0] && rd->rt.policy == POLICY_TENANT && c->kind == CALLER_ADMIN)
                (void) xsnprintf(buf, size, "%s", STORE_DEFAULT_NAMESPACE);
}

void api_on_response(struct http_request *req, int status)
{
        struct sfaasd *sf = api_sfaasd(req);
        struct routed *rd = req->app;
        struct store_audit_record rec = { 0 };
        char tenant[ROUTE_NAME_MAX], path[AUDIT_PATH_MAX], detail[sizeof rd->note + sizeof rd->access.why + 64];
        enum route_policy p;
        bool denied, change;
        int r;

        if (!rd || rd->match == -ENOENT || !sf->store)
                return;
        p = rd->rt.policy;
        denied = status == 401 || status == 403;
        change = rd->rt.method_allowed && !is_read(req->method) &&
                 (p == POLICY_CREDENTIAL || p == POLICY_TENANT || p == POLICY_ADMIN);
        if (!denied && !change)
                return;
        record_tenant(req, rd, tenant, sizeof tenant);
        if (xsnprintf(path, sizeof path, "%s", req->url ? req->url : req->path) < 0)
                (void) xsnprintf(path, sizeof path, "%.*s...", (int) sizeof path - 8, req->url);
        if (rd->note[0])
                (void) xsnprintf(detail, sizeof detail, "%s", rd->note);
        else if (rd->access.status && rd->access.caller.why)
                (void) xsnprintf(detail, sizeof detail, "%s (%s)", rd->access.why, rd->access.caller.why);
        else
                (void) xsnprintf(detail, sizeof detail, "%s", rd->access.why);
        rec.actor = (char *) actor_name(rd->access.caller.kind);
        rec.tenant = tenant;
        rec.credential = rd->access.caller.credential;
        rec.address = req->remote;
        rec.method = req->method;
        rec.path = path;
        rec.status = status;
        rec.detail = detail;
        r = store_audit_append(sf->store, &rec);
        if (r < 0)
                log_error_errno(r, "cannot append to the audit trail: %s %s -> %d", req->method, path, status);
}

static json_t *record_json(const struct store_audit_record *r)
{
        char ts[TIME_RFC3339_MAX];
        time_rfc3339(r->time, 9, ts);
        return json_pack("{s:I,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:i,s:s,s:s,s:s}", "seq", (json_int_t) r->seq, "time", ts,
                         "actor", r->actor, "tenant", r->tenant, "credential", r->credential, "address",
                         r->address, "method", r->method, "path", r->path, "status", r->status, "detail",
                         r->detail, "prevHash", r->prev_hash, "hash", r->hash);
}

static int query_u64(struct http_request *req, const char *key, uint64_t dflt, uint64_t *ret)
{
        _cleanup_free_ char *v = http_query_param(req, key);
        if (!v || !*v) {
                *ret = dflt;
                return 0;
        }
        return parse_u64(v, ret);
}

void api_audit(struct http_request *req, const struct route *rt)
{
        struct sfaasd *sf = api_sfaasd(req);
        const struct api_caller *c = api_caller(req);
        _cleanup_free_ char *q = http_query_param(req, "namespace");
        struct store_audit_record **v = NULL;
        _cleanup_json_ json_t *arr = json_array();
        const char *tenant = NULL;
        uint64_t after, limit;
        int r;

        if (query_u64(req, "after", 0, &after) < 0 || after > INT64_MAX) {
                http_respond_error(req, 400, "query parameter 'after' must be a record number");
                return;
        }
        if (query_u64(req, "limit", AUDIT_LIST_DEFAULT, &limit) < 0 || limit == 0 || limit > AUDIT_LIST_MAX) {
                http_respond_error(req, 400, "query parameter 'limit' must be 1 to %d", AUDIT_LIST_MAX);
                return;
        }
        /* A tenant reads its own; the route table refused it any other. */
        if (c->kind == CALLER_TENANT)
                tenant = c->ns;
        else if (q && *q)
                tenant = q;
        r = store_audit_list(sf->store, tenant, (int64_t) after, (size_t) limit, &v);
        if (r < 0 || !arr) {
                store_audit_list_free(v);
                http_respond_error(req, 500, "cannot read the audit trail: %s", strerror(r < 0 ? -r : ENOMEM));
                return;
        }
        for (struct store_audit_record **p = v; *p; p++)
                if (json_array_append_new(arr, record_json(*p)) < 0) {
                        store_audit_list_free(v);
                        http_respond_error(req, 500, "out of memory");
                        return;
                }
        store_audit_list_free(v);
        api_respond_json(req, 200, arr);
}
