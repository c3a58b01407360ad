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

/*
 * The route table: what each route is, which methods it has, and who may
 * call it (router.h, enum route_policy). Decided here once for every
 * route; core/api/access.c enforces it, tests/integration/test_authz.py
 * checks every route and method of it (listed by `sfaasd routes`) for the
 * anonymous caller, the admin, two tenants and revoked and expired tokens.
 */
static const struct route_rule rules[ROUTE__COUNT] = {
        [ROUTE_ROOT] = { "/", "GET, HEAD", POLICY_PUBLIC, POLICY_PUBLIC },
        [ROUTE_HEALTHZ] = { "/healthz", "GET, HEAD", POLICY_PUBLIC, POLICY_PUBLIC },
        [ROUTE_UI] = { "/ui/{file}", "GET, HEAD", POLICY_PUBLIC, POLICY_PUBLIC },
        [ROUTE_METRICS] = { "/metrics", "GET, HEAD", POLICY_METRICS, POLICY_METRICS },
        [ROUTE_INVOKE] = { "/function/{name}.{ns}/{rest}", "GET, POST, PUT, PATCH, DELETE, OPTIONS, HEAD",
                           POLICY_INVOKE, POLICY_INVOKE },
        [ROUTE_ASYNC_INVOKE] = { "/async-function/{name}.{ns}/{rest}", "POST", POLICY_INVOKE, POLICY_INVOKE },
        [ROUTE_FUNCTIONS] = { "/system/functions", "GET, POST, PUT, DELETE", POLICY_TENANT, POLICY_TENANT },
        [ROUTE_FUNCTION] = { "/system/function/{name}", "GET, HEAD", POLICY_TENANT, POLICY_TENANT },
        [ROUTE_FUNCTION_HISTORY] = { "/system/function/{name}/history", "GET, HEAD", POLICY_TENANT,
                                     POLICY_TENANT },
        [ROUTE_HISTORY_FUNCTIONS] = { "/system/history/functions", "GET, HEAD", POLICY_TENANT, POLICY_TENANT },
        [ROUTE_HISTORY] = { "/system/history", "GET, HEAD", POLICY_ADMIN, POLICY_ADMIN },
        [ROUTE_NAMESPACES] = { "/system/namespaces", "GET, HEAD", POLICY_CREDENTIAL, POLICY_CREDENTIAL },
        /* A tenant reads its own namespace; creating, changing and
         * deleting tenants is the admin's. */
        [ROUTE_NAMESPACE] = { "/system/namespace/{ns}", "GET, POST, PUT, DELETE", POLICY_TENANT, POLICY_ADMIN },
        [ROUTE_INFO] = { "/system/info", "GET, HEAD", POLICY_CREDENTIAL, POLICY_CREDENTIAL },
        [ROUTE_WHOAMI] = { "/system/whoami", "GET, HEAD", POLICY_CREDENTIAL, POLICY_CREDENTIAL },
        [ROUTE_IMAGES] = { "/system/images", "GET, POST", POLICY_TENANT, POLICY_TENANT },
        [ROUTE_IMAGE] = { "/system/images/{ref}", "GET, DELETE", POLICY_TENANT, POLICY_TENANT },
        /* Prune removes images of every namespace. */
        [ROUTE_IMAGE_PRUNE] = { "/system/images/prune", "POST", POLICY_ADMIN, POLICY_ADMIN },
        /* A pull lands in the caller's namespace (a tenant's own), with
         * that namespace's credentials, registries and imageBytes quota. */
        [ROUTE_IMAGE_PULL] = { "/system/images/pull", "POST", POLICY_TENANT, POLICY_TENANT },
        [ROUTE_IMAGE_PULLS] = { "/system/images/pulls", "GET, HEAD", POLICY_TENANT, POLICY_TENANT },
        [ROUTE_SCALE] = { "/system/scale-function/{name}", "POST", POLICY_TENANT, POLICY_TENANT },
        [ROUTE_SECRETS] = { "/system/secrets", "GET, POST, PUT, DELETE", POLICY_TENANT, POLICY_TENANT },
        /* A tenant's own registry credentials; the answer never shows
         * one (core/api/registry_auth.c). */
        [ROUTE_REGISTRY_AUTH] = { "/system/registry-auth", "GET, POST, PUT, DELETE", POLICY_TENANT,
                                  POLICY_TENANT },
        [ROUTE_LOGS] = { "/system/logs", "GET, HEAD", POLICY_TENANT, POLICY_TENANT },
        /* The call's namespace is in its row: the handler answers 404 for
         * another tenant's call, as for one that does not exist. */
        [ROUTE_ASYNC_STATUS] = { "/system/async/{id}", "GET, HEAD", POLICY_TENANT, POLICY_TENANT },
        [ROUTE_TENANTS] = { "/system/tenants", "GET, POST", POLICY_ADMIN, POLICY_ADMIN },
        /* A tenant reads its own quotas and use. */
        [ROUTE_TENANT] = { "/system/tenants/{ns}", "GET, PUT, DELETE", POLICY_TENANT, POLICY_ADMIN },
        [ROUTE_TENANT_TOKENS] = { "/system/tenants/{ns}/tokens", "GET, POST", POLICY_ADMIN, POLICY_ADMIN },
        [ROUTE_TENANT_TOKEN] = { "/system/tenants/{ns}/tokens/{id}", "DELETE", POLICY_ADMIN, POLICY_ADMIN },
        /* Base images the admin shares with every tenant. */
        [ROUTE_SHARED_IMAGES] = { "/system/shared-images", "GET, HEAD", POLICY_ADMIN, POLICY_ADMIN },
        [ROUTE_SHARED_IMAGE] = { "/system/shared-images/{ref}", "PUT, DELETE", POLICY_ADMIN, POLICY_ADMIN },
        /* The admin reads every record, a tenant its own (core/api/audit.c). */
        [ROUTE_AUDIT] = { "/system/audit", "GET, HEAD", POLICY_TENANT, POLICY_TENANT },
        /* A tenant closes its own calls and issues its own invoke keys. */
        [ROUTE_TENANT_INVOKE] = { "/system/tenants/{ns}/invoke", "GET, PUT", POLICY_TENANT, POLICY_TENANT },
        [ROUTE_TENANT_KEYS] = { "/system/tenants/{ns}/keys", "GET, POST", POLICY_TENANT, POLICY_TENANT },
        [ROUTE_TENANT_KEY] = { "/system/tenants/{ns}/keys/{id}", "DELETE", POLICY_TENANT, POLICY_TENANT },
        /* A tenant reads its egress ceiling; only the admin sets it: a
         * tenant's grants may not go beyond it (core/model/egress_grant.h). */
        [ROUTE_TENANT_EGRESS] = { "/system/tenants/{ns}/egress", "GET, PUT", POLICY_TENANT, POLICY_ADMIN },
};

const struct route_rule *route_rule(enum route_id id)
{
        static const struct route_rule none = { "", "", POLICY_UNSET, POLICY_UNSET };
        if ((int) id <= ROUTE_NONE || id >= ROUTE__COUNT || !rules[id].pattern)
                return &none;
        return &rules[id];
}

const char *route_policy_name(enum route_policy p)
{
        switch (p) {
        case POLICY_PUBLIC: return "public";
        case POLICY_INVOKE: return "invoke";
        case POLICY_METRICS: return "metrics";
        case POLICY_CREDENTIAL: return "credential";
        case POLICY_TENANT: return "tenant";
        case POLICY_ADMIN: return "admin";
        default: return "unset";
        }
}

/* method is one of the comma-separated tokens of list ("GET, POST"). */
static bool method_in(const char *method, const char *list)
{
        size_t n = strlen(method);
        for (const char *p = list; p && *p;) {
                const char *end = strchr(p, ',');
                size_t len = end ? (size_t) (end - p) : strlen(p);
                if (len == n && memcmp(p, method, n) == 0)
                        return true;
                if (!end)
                        break;
                p = end + 1;
                while (*p == ' ')
                        p++;
        }
        return false;
}

static bool is_read(const char *method)
{
        return strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
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

/* A token id: 1-32 lower-case hex digits. */
static bool valid_token_id(const char *s)
{
        size_t n = strlen(s);
        if (n == 0 || n > 32)
                return false;
        for (; *s; s++)
                if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
                        return false;
        return true;
}

/* "/system/tenants/NS[/tokens[/ID]]" after "/system/tenants/". */
static int match_tenant(const char *p, struct route *r)
{
        const char *slash = strchr(p, '/');
        size_t n = slash ? (size_t) (slash - p) : strlen(p);

        r->id = ROUTE_TENANT;
        if (slash) {
                if (strcmp(slash, "/tokens") == 0) {
                        r->id = ROUTE_TENANT_TOKENS;
                } else if (str_startswith(slash, "/tokens/")) {
                        r->id = ROUTE_TENANT_TOKEN;
                        r->rest = slash + STRLEN("/tokens/");
                } else if (strcmp(slash, "/keys") == 0) {
                        r->id = ROUTE_TENANT_KEYS;
                } else if (str_startswith(slash, "/keys/")) {
                        r->id = ROUTE_TENANT_KEY;
                        r->rest = slash + STRLEN("/keys/");
                } else if (strcmp(slash, "/invoke") == 0) {
                        r->id = ROUTE_TENANT_INVOKE;
                } else if (strcmp(slash, "/egress") == 0) {
                        r->id = ROUTE_TENANT_EGRESS;
                } else {
                        return -ENOENT;
                }
        }
        if (!copy_seg(r->name, sizeof r->name, p, n) || !route_valid_name(r->name))
                return -EINVAL;
        memcpy(r->ns, r->name, sizeof r->ns);
        if ((r->id == ROUTE_TENANT_TOKEN || r->id == ROUTE_TENANT_KEY) && !valid_token_id(r->rest))
                return -EINVAL;
        return 0;
}

/* After "/system/": the id and the names of the path. */
static int match_system(const char *method, const char *p, struct route *r)
{
        if (strcmp(p, "functions") == 0) {
                r->id = ROUTE_FUNCTIONS;
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
                if (*n && (!copy_seg(r->name, sizeof r->name, n, strlen(n)) || !route_valid_name(r->name)))
                        return -EINVAL;
                memcpy(r->ns, r->name, sizeof r->ns);
        } else if (strcmp(p, "info") == 0) {
                r->id = ROUTE_INFO;
        } else if (strcmp(p, "whoami") == 0) {
                r->id = ROUTE_WHOAMI;
        } else if (strcmp(p, "images") == 0) {
                r->id = ROUTE_IMAGES;
        } else if (str_startswith(p, "images/") && p[7]) {
                /* A reference has '/', ':' and '@' in it: the rest is it.
                 * GET and DELETE of "prune" and "pull", and DELETE of
                 * "pulls", are the images "prune:latest", "pull:latest"
                 * and "pulls:latest". */
                r->id = ROUTE_IMAGE;
                r->rest = p + 7;
                if (strcmp(r->rest, "prune") == 0 && strcmp(method, "POST") == 0)
                        r->id = ROUTE_IMAGE_PRUNE;
                else if (strcmp(r->rest, "pull") == 0 && strcmp(method, "POST") == 0)
                        r->id = ROUTE_IMAGE_PULL;
                else if (strcmp(r->rest, "pulls") == 0 && is_read(method))
                        r->id = ROUTE_IMAGE_PULLS;
        } else if (str_startswith(p, "scale-function/")) {
                r->id = ROUTE_SCALE;
                if (!copy_seg(r->name, sizeof r->name, p + 15, strlen(p + 15)) || !route_valid_name(r->name))
                        return -EINVAL;
        } else if (strcmp(p, "secrets") == 0) {
                r->id = ROUTE_SECRETS;
        } else if (strcmp(p, "registry-auth") == 0) {
                r->id = ROUTE_REGISTRY_AUTH;
        } else if (strcmp(p, "logs") == 0) {
                r->id = ROUTE_LOGS;
        } else if (str_startswith(p, "async/")) {
                r->id = ROUTE_ASYNC_STATUS;
                if (!copy_seg(r->name, sizeof r->name, p + 6, strlen(p + 6)) || !r->name[0] ||
                    strchr(r->name, '/'))
                        return -EINVAL;
        } else if (strcmp(p, "audit") == 0) {
                r->id = ROUTE_AUDIT;
        } else if (strcmp(p, "shared-images") == 0) {
                r->id = ROUTE_SHARED_IMAGES;
        } else if (str_startswith(p, "shared-images/") && p[14]) {
                r->id = ROUTE_SHARED_IMAGE;
                r->rest = p + 14;
        } else if (strcmp(p, "tenants") == 0) {
                r->id = ROUTE_TENANTS;
        } else if (str_startswith(p, "tenants/")) {
                return match_tenant(p + STRLEN("tenants/"), r);
        } else {
                return -ENOENT;
        }
        return 0;
}

int route_match(const char *method, const char *path, struct route *r)
{
        const struct route_rule *rule;
        int q = 0;

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
                r->id = ROUTE_INVOKE;
                q = match_invoke(path + STRLEN("/function/"), r);
        } else if (str_startswith(path, "/async-function/")) {
                r->id = ROUTE_ASYNC_INVOKE;
                q = match_invoke(path + STRLEN("/async-function/"), r);
        } else if (str_startswith(path, "/system/")) {
                q = match_system(method, path + STRLEN("/system/"), r);
                if (q == -ENOENT)
                        return q;
        } else {
                return -ENOENT;
        }
        rule = route_rule(r->id);
        r->method_allowed = method_in(method, rule->methods);
        r->allow = rule->methods;
        r->policy = is_read(method) ? rule->read : rule->write;
        return q;
}
