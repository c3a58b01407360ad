/* SPDX-License-Identifier: MIT */
/*
 * Enforcing the route table's policies (core/api/access.h). The answer of
 * every policy for every kind of caller:
 *
 *   policy      anonymous  invalid  admin  tenant A, A's ns   tenant A, other ns
 *   public      yes        yes      yes    yes                yes
 *   invoke      yes        yes      yes    yes                yes   (open: the default)
 *   invoke      401        401      yes    yes (A's keys too) 403   (closed by the tenant or
 *                                                                    the function's annotation)
 *   metrics     yes / 401  yes/401  yes    yes / 403          -     (without / with metrics_auth)
 *   credential  401        401      yes    yes                -
 *   tenant      401        401      yes    yes                403
 *   admin       401        401      yes    403                403
 *
 * Public and open invocation never read the Authorization header: an
 * invocation's header belongs to the function (OpenFaaS passes it on), and
 * a public route must answer whatever a client sends. An invoke key is a
 * credential for closed calls only: anywhere else it is 401.
 */
#include <errno.h>
#include <openssl/crypto.h>
#include <string.h>

#include "core/api/access.h"
#include "core/api/api.h"
#include "core/api/auth.h"
#include "core/api/throttle.h"
#include "core/base/cleanup.h"
#include "core/base/util.h"
#include "core/model/recipe.h"
#include "core/runtime/pool.h"
#include "core/runtime/tenants.h"

const struct api_caller *api_caller(struct http_request *req)
{
        static const struct api_caller nobody = { .kind = CALLER_ANONYMOUS };
        const struct routed *rd = req->app;
        return rd ? &rd->access.caller : &nobody;
}

static void refuse(struct access *a, int status, const char *why)
{
        a->status = status;
        (void) xsnprintf(a->why, sizeof a->why, "%s", why);
}

/* A tenant naming namespace ns: its own, or 403. */
static void check_ns(struct access *a, const char *ns)
{
        char why[sizeof a->why];

        if (a->status || a->caller.kind != CALLER_TENANT || !ns || !*ns || strcmp(ns, a->caller.ns) == 0)
                return;
        (void) xsnprintf(why, sizeof why, "forbidden: namespace '%.64s' is not yours", ns);
        refuse(a, 403, why);
}

/*
 * A call to a tenant's function: its invocation rate, and for synchronous
 * calls its concurrency, from the head to the request's end (answered, or
 * its client gone: api_on_request_free). Calls that name an invalid
 * function are left to the handler's 404.
 */
/* Whether a call to ns/name needs a credential: the function's annotation
 * com.sfaasd.invoke-auth ("true" or "false") if it has one, else its
 * tenant's setting. */
static bool invoke_closed(struct sfaasd *sf, const char *ns, const char *name)
{
        struct sf_err err = { 0 };
        int status = 0;
        struct pool *p = pool_get(sf, ns, name, &status, &err);
        const char *v = p ? fn_recipe_meta(pool_recipe(p), "com.sfaasd.invoke-auth") : NULL;

        if (v && (strcmp(v, "true") == 0 || strcmp(v, "false") == 0))
                return strcmp(v, "true") == 0;
        return tenants_invoke_closed(sf, ns);
}

/*
 * A closed call: the admin, a token of the function's tenant, or an invoke
 * key of it (for this function or all of them). The credential is the
 * gateway's, not the function's: it is taken off the request before the
 * function sees it.
 */
static void check_invoker(struct sfaasd *sf, struct http_request *req, const char *ns, const char *name,
                          struct access *a)
{
        char why[sizeof a->why];
        const struct api_caller *c = &a->caller;

        auth_identify(sf, req, &a->caller);
        if (c->kind == CALLER_ANONYMOUS || c->kind == CALLER_INVALID) {
                refuse(a, 401, "invalid credentials: calls to this function need a token or an invoke key");
                return;
        }
        if (c->kind != CALLER_ADMIN &&
            (strcmp(c->ns, ns) != 0 || (c->kind == CALLER_KEY && c->function[0] && strcmp(c->function, name) != 0))) {
                (void) xsnprintf(why, sizeof why, "forbidden: the credential does not open calls to '%.64s.%.64s'",
                                 name, ns);
                refuse(a, 403, why);
                return;
        }
        http_request_remove_header(req, "Authorization");
}

static void admit_call(struct sfaasd *sf, struct http_request *req, const struct route *rt, struct access *a)
{
        const char *ns = rt->ns[0] ? rt->ns : STORE_DEFAULT_NAMESPACE;
        bool concurrent = rt->id == ROUTE_INVOKE;
        const char *which = "";
        char why[sizeof a->why];

        if (!rt->method_allowed || !route_valid_name(rt->name) || !route_valid_name(ns))
                return;
        if (invoke_closed(sf, ns, rt->name)) {
                check_invoker(sf, req, ns, rt->name, a);
                if (a->status)
                        return;
        }
        if (tenants_call_begin(sf, ns, concurrent, &a->retry_s, &which) == -EAGAIN) {
                struct tenant_quota q = { 0 };
                (void) tenants_quota(sf, ns, &q);
                (void) xsnprintf(why, sizeof why, "too many calls: namespace '%s' is at its %s quota (%llu%s)", ns,
                                 which,
                                 (unsigned long long) (strcmp(which, "invokeRate") == 0 ? q.invoke_rate
                                                                                        : q.invoke_concurrency),
                                 strcmp(which, "invokeRate") == 0 ? " per second" : " at once");
                refuse(a, 429, why);
                return;
        }
        if (concurrent) {
                a->admitted = true;
                memcpy(a->admitted_ns, ns, strlen(ns) + 1);
        }
}

void api_on_request_free(struct http_request *req)
{
        struct routed *rd = req->app;
        if (rd && rd->access.admitted) {
                rd->access.admitted = false;
                tenants_call_end(api_sfaasd(req), rd->access.admitted_ns);
        }
}

void access_decide(struct sfaasd *sf, struct http_request *req, const struct route *rt, struct access *a)
{
        memset(a, 0, sizeof *a);
        switch (rt->policy) {
        case POLICY_PUBLIC:
                return;
        case POLICY_INVOKE:
                admit_call(sf, req, rt, a);
                return;
        case POLICY_METRICS:
                if (!sf->cfg.metrics_auth)
                        return;
                break;
        case POLICY_CREDENTIAL:
        case POLICY_TENANT:
        case POLICY_ADMIN:
                break;
        default:
                /* A route without a rule in the table (router.c): a bug,
                 * refused rather than guessed at. */
                refuse(a, 500, "route without an access rule");
                return;
        }
        /* Failed sign-ins are throttled per address (core/api/throttle.h). */
        if (throttle_blocked(sf, req, &a->retry_s)) {
                refuse(a, 429, "too many failed sign-ins from this address, try again later");
                return;
        }
        auth_identify(sf, req, &a->caller);
        (void) throttle_verdict(sf, req, a->caller.kind == CALLER_ADMIN || a->caller.kind == CALLER_TENANT);
        if (a->caller.kind == CALLER_ANONYMOUS || a->caller.kind == CALLER_INVALID) {
                refuse(a, 401, "invalid credentials");
                return;
        }
        if (a->caller.kind == CALLER_KEY) {
                /* Good for calls only. */
                a->caller.why = "an invoke key";
                refuse(a, 401, "invalid credentials");
                return;
        }
        if (a->caller.kind == CALLER_ADMIN)
                return;
        /* A tenant from here on. */
        if (rt->policy == POLICY_ADMIN || rt->policy == POLICY_METRICS) {
                refuse(a, 403, "forbidden: only the admin may do this");
                return;
        }
        if (rt->policy == POLICY_TENANT) {
                _cleanup_free_ char *q = http_query_param(req, "namespace");
                check_ns(a, rt->ns);
                check_ns(a, q);
        }
}

void access_check_body(struct http_request *req, const struct route *rt, struct access *a)
{
        json_t *body, *v;

        if (a->status || a->caller.kind != CALLER_TENANT || rt->policy != POLICY_TENANT || !req->body ||
            req->body_len == 0)
                return;
        body = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, NULL);
        if (!body)
                return; /* the handler answers 400 for it */
        v = json_object_get(body, "namespace");
        if (json_is_string(v))
                check_ns(a, json_string_value(v));
        /* The body may hold a secret's value: no copy of it stays behind
         * in freed memory. */
        {
                const char *k;
                json_t *e;
                json_object_foreach(body, k, e)
                        if (json_is_string(e))
                                OPENSSL_cleanse((char *) json_string_value(e), json_string_length(e));
        }
        json_decref(body);
}

void access_respond(struct http_request *req, const struct access *a)
{
        if (a->status == 401) {
                auth_respond_unauthorized(req, a->caller.why);
        } else if (a->status == 429) {
                char retry[48];
                (void) xsnprintf(retry, sizeof retry, "Retry-After: %llu\r\n", (unsigned long long) a->retry_s);
                http_respond_error_with(req, 429, retry, "%s", a->why);
        } else
                http_respond_error(req, a->status, "%s", a->why);
}
