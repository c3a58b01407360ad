/* SPDX-License-Identifier: MIT */
/*
 * Tenants and their tokens (sfaasd; who may call what: core/api/router.c):
 *
 *   GET    /system/tenants                    admin: [{"name","createdAt","tokens"}]
 *   POST   /system/tenants                    admin: {"name","quotas"?} -> 201 {"name"};
 *                                             409 when it exists
 *   GET    /system/tenants/NS                 the admin, or NS itself:
 *                                             {"name","createdAt","uidBase","tokens",
 *                                             "quotas","usage"}
 *   PUT    /system/tenants/NS                 admin: {"quotas":{KEY: value|null}}
 *   DELETE /system/tenants/NS                 admin: 200; 404; 409 while it has
 *                                             functions; 403 for openfaas-fn
 *   GET    /system/tenants/NS/tokens          admin: [{"id","name","createdAt",
 *                                             "expiresAt","revokedAt","active"}]
 *   POST   /system/tenants/NS/tokens          admin: {"name"?,"expiresIn"?} -> 201
 *                                             {"id","name","namespace","token",...}:
 *                                             the token, shown this once
 *   DELETE /system/tenants/NS/tokens/ID       admin: revoke -> 200; 404
 *   GET    /system/tenants/NS/invoke          tenant: {"namespace","auth"}
 *   PUT    /system/tenants/NS/invoke          tenant: {"auth": bool}: calls need a credential
 *   GET    /system/tenants/NS/keys            tenant: the invoke keys (as tokens, + "function")
 *   POST   /system/tenants/NS/keys            tenant: {"name"?,"function"?,"expiresIn"?} -> 201
 *                                             with "key", shown once
 *   DELETE /system/tenants/NS/keys/ID         tenant: revoke
 *   GET    /system/tenants/NS/egress          tenant: {"namespace","ceiling":[ENTRY...]}
 *   PUT    /system/tenants/NS/egress          admin: {"ceiling": "ENTRY, ..." | [ENTRY...]}:
 *                                             the most its functions' egress grants
 *                                             may name (core/model/egress_grant.h)
 *
 * A tenant is an OpenFaaS namespace (POST /system/namespace/ makes one
 * too); its tokens work as HTTP Basic (user NS) and as Bearer
 * (core/api/auth.h). A revocation or a removal empties the credentials
 * cache, so the token is refused from the next request on.
 */
#include <errno.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "core/api/api.h"
#include "core/api/auth.h"
#include "core/base/cleanup.h"
#include "core/base/log.h"
#include "core/base/timefmt.h"
#include "core/base/util.h"
#include "core/model/egress_grant.h"
#include "core/model/quota.h"
#include "core/runtime/stock.h"
#include "core/runtime/tenants.h"
#include "store/tenants.h"

#define TOKEN_EXPIRES_MAX_MS (3650ULL * 24 * 3600 * 1000) /* ten years */

static json_t *time_or_null(int64_t ns)
{
        char ts[TIME_RFC3339_MAX];
        if (!ns)
                return json_null();
        time_rfc3339(ns, 0, ts);
        return json_string(ts);
}

/* Tokens that work now: not revoked, not expired. */
static size_t count_active(struct store_token **v, int64_t now)
{
        size_t n = 0;
        for (struct store_token **t = v; t && *t; t++)
                if (!(*t)->revoked_at && (!(*t)->expires_at || (*t)->expires_at > now))
                        n++;
        return n;
}

static json_t *token_json(const struct store_token *t, int64_t now)
{
        if (t->kind && strcmp(t->kind, "invoke") == 0)
                return json_pack("{s:s,s:s,s:s,s:o,s:o,s:o,s:b,s:o}", "id", t->id, "name", t->name, "namespace",
                                 t->namespace, "createdAt", time_or_null(t->created_at), "expiresAt",
                                 time_or_null(t->expires_at), "revokedAt", time_or_null(t->revoked_at), "active",
                                 !t->revoked_at && (!t->expires_at || t->expires_at > now), "function",
                                 t->function && *t->function ? json_string(t->function) : json_null());
        return json_pack("{s:s,s:s,s:s,s:o,s:o,s:o,s:b}", "id", t->id, "name", t->name, "namespace", t->namespace,
                         "createdAt", time_or_null(t->created_at), "expiresAt", time_or_null(t->expires_at),
                         "revokedAt", time_or_null(t->revoked_at), "active",
                         !t->revoked_at && (!t->expires_at || t->expires_at > now));
}

/* "quotas" (effective; 0: no limit) and "usage" (what it holds now: the
 * store's counts, the engines' instances and calls in flight, the kernel's
 * memory and CPU seconds of its cgroup level). */
static int add_quotas(struct sfaasd *sf, const char *ns, json_t *o)
{
        struct tenant_quota q;
        struct store_tenant_usage u;
        struct sandbox_usage cg = { 0 };
        struct sf_err err = { 0 };
        uint64_t instances = 0, inflight = 0;
        json_t *usage;
        int r;

        if ((r = tenants_quota(sf, ns, &q)) < 0 || (r = store_tenant_usage(sf->store, ns, &u)) < 0)
                return r;
        tenants_counts(sf, ns, &instances, &inflight);
        (void) sandbox_group_usage(sf->launcher, ns, &cg, &err);
        usage = json_pack("{s:I,s:I,s:I,s:f,s:I,s:I,s:I,s:I}", "functions", (json_int_t) u.functions, "instances",
                          (json_int_t) instances, "memory", (json_int_t) cg.memory_bytes, "cpu",
                          (double) cg.cpu_usec / 1e6, "imageBytes", (json_int_t) u.image_bytes, "secrets",
                          (json_int_t) u.secrets, "asyncQueued", (json_int_t) u.async_queued, "invokeConcurrency",
                          (json_int_t) inflight);
        if (!usage || json_object_set_new(o, "quotas", tenant_quota_json(&q)) < 0 ||
            json_object_set_new(o, "usage", usage) < 0)
                return -ENOMEM;
        return 0;
}

/* The tenant's summary; NULL on ENOMEM or a store error (logged). */
static json_t *tenant_json(struct sfaasd *sf, const struct store_namespace *n, bool detail)
{
        struct store_token **toks = NULL;
        json_t *o;
        int r = store_token_list(sf->store, n->name, &toks);

        if (r < 0) {
                log_error_errno(r, "cannot list the tokens of '%s'", n->name);
                return NULL;
        }
        o = json_pack("{s:s,s:o,s:I}", "name", n->name, "createdAt", time_or_null(n->created_at), "tokens",
                      (json_int_t) count_active(toks, time_unix_ns()));
        store_token_list_free(toks);
        if (o && detail) {
                (void) json_object_set_new(o, "uidBase", json_integer((json_int_t) n->uid_base));
                if (add_quotas(sf, n->name, o) < 0) {
                        json_decref(o);
                        return NULL;
                }
        }
        return o;
}

static void tenants_list(struct http_request *req)
{
        struct sfaasd *sf = api_sfaasd(req);
        _cleanup_strv_free_ char **names = NULL;
        _cleanup_json_ json_t *arr = json_array();
        int r = store_namespace_list(sf->store, &names);

        if (r < 0 || !arr) {
                http_respond_error(req, 500, "cannot list tenants");
                return;
        }
        for (char **name = names; *name; name++) {
                struct store_namespace *n = NULL;
                json_t *o;
                if (store_namespace_get(sf->store, *name, &n) < 0)
                        continue; /* removed in between */
                o = tenant_json(sf, n, false);
                store_namespace_free(n);
                if (!o || json_array_append_new(arr, o) < 0) {
                        http_respond_error(req, 500, "cannot list tenants");
                        return;
                }
        }
        api_respond_json(req, 200, arr);
}

static void tenant_create(struct http_request *req)
{
        struct sfaasd *sf = api_sfaasd(req);
        _cleanup_json_ json_t *body = api_parse_body_object(req);
        _cleanup_json_ json_t *quotas = NULL;
        _cleanup_free_ char *quotas_s = NULL;
        const char *name;
        json_t *v;
        int r;

        if (!body)
                return;
        v = json_object_get(body, "name");
        if (!json_is_string(v) || !route_valid_name(json_string_value(v))) {
                http_respond_error(req, 400,
                                   "field 'name' must be a tenant name: letters, digits, '-' and '_', starting "
                                   "with a letter or digit (at most %d)",
                                   ROUTE_NAME_MAX - 1);
                return;
        }
        name = json_string_value(v);
        if (strcmp(name, AUTH_ADMIN_USER) == 0) {
                http_respond_error(req, 400, "tenant name '%s' is reserved", name);
                return;
        }
        v = json_object_get(body, "quotas");
        if (v && !json_is_null(v)) {
                struct sf_err err = { 0 };
                quotas = json_object();
                if (!quotas || tenant_quota_merge(quotas, v, &err) < 0 ||
                    !(quotas_s = json_dumps(quotas, JSON_COMPACT | JSON_SORT_KEYS))) {
                        http_respond_error(req, quotas ? 400 : 500, "%s", err.msg[0] ? err.msg : "out of memory");
                        return;
                }
        }
        r = store_namespace_create(sf->store, name, "{\"openfaas\":\"1\"}", "{}");
        if (r == -EEXIST) {
                http_respond_error(req, 409, "tenant '%s' already exists", name);
                return;
        }
        if (r == -ENOSPC) {
                http_respond_error(req, 507, "no uid range is left for a new tenant: raise uid_ranges");
                return;
        }
        if (r >= 0 && quotas_s)
                r = store_tenant_quotas_set(sf->store, name, quotas_s);
        if (r < 0) {
                http_respond_error(req, 500, "cannot create tenant '%s': %s", name, strerror(-r));
                return;
        }
        /* Its cgroup level with its limits, before its first sandbox. */
        tenants_changed(sf, name);
        log_info("created tenant '%s'", name);
        api_audit_note(req, "created tenant '%s'", name);
        {
                _cleanup_json_ json_t *o = json_pack("{s:s}", "name", name);
                if (!o) {
                        http_respond_error(req, 500, "out of memory");
                        return;
                }
                api_respond_json(req, 201, o);
        }
}

static void tenant_get(struct http_request *req, const char *ns)
{
        struct sfaasd *sf = api_sfaasd(req);
        struct store_namespace *n = NULL;
        _cleanup_json_ json_t *o = NULL;
        int r = store_namespace_get(sf->store, ns, &n);

        if (r == -ENOENT) {
                http_respond_error(req, 404, "tenant '%s' not found", ns);
                return;
        }
        if (r < 0) {
                http_respond_error(req, 500, "cannot read tenant '%s': %s", ns, strerror(-r));
                return;
        }
        o = tenant_json(sf, n, true);
        store_namespace_free(n);
        if (!o) {
                http_respond_error(req, 500, "cannot read tenant '%s'", ns);
                return;
        }
        api_respond_json(req, 200, o);
}

static void tenant_delete(struct http_request *req, const char *ns)
{
        struct sfaasd *sf = api_sfaasd(req);
        int r;

        if (strcmp(ns, STORE_DEFAULT_NAMESPACE) == 0) {
                http_respond_error(req, 403, "tenant '%s' is the default namespace and cannot be removed", ns);
                return;
        }
        r = store_namespace_delete(sf->store, ns);
        if (r == -ENOENT) {
                http_respond_error(req, 404, "tenant '%s' not found", ns);
                return;
        }
        if (r == -ENOTEMPTY) {
                http_respond_error(req, 409, "tenant '%s' still has functions: remove them first", ns);
                return;
        }
        if (r < 0) {
                http_respond_error(req, 500, "cannot remove tenant '%s': %s", ns, strerror(-r));
                return;
        }
        auth_forget(sf->auth);
        tenants_changed(sf, ns);
        stock_drop_namespace(sf, ns);
        log_info("removed tenant '%s' with its secrets and tokens", ns);
        api_audit_note(req, "removed tenant '%s'", ns);
        http_respond(req, 200, NULL, NULL, NULL, 0);
}

/* PUT /system/tenants/NS {"quotas": {KEY: value or null}}: the admin sets
 * (null: back to the default) a tenant's quotas; the kernel's limits of its
 * cgroup level follow at once. Answers the tenant as GET does. */
static void tenant_set_quotas(struct http_request *req, const char *ns)
{
        struct sfaasd *sf = api_sfaasd(req);
        _cleanup_json_ json_t *body = api_parse_body_object(req);
        _cleanup_json_ json_t *cur = NULL;
        _cleanup_free_ char *stored = NULL, *next = NULL;
        struct sf_err err = { 0 };
        json_t *changes;
        int r;

        if (!body)
                return;
        changes = json_object_get(body, "quotas");
        if (!changes) {
                http_respond_error(req, 400, "field 'quotas' (an object) is required");
                return;
        }
        r = store_tenant_quotas_get(sf->store, ns, &stored);
        if (r == -ENOENT) {
                http_respond_error(req, 404, "tenant '%s' not found", ns);
                return;
        }
        if (r < 0) {
                http_respond_error(req, 500, "cannot read tenant '%s': %s", ns, strerror(-r));
                return;
        }
        cur = json_loads(stored, 0, NULL);
        if (!json_is_object(cur)) {
                json_decref(cur);
                cur = json_object();
        }
        if (!cur) {
                http_respond_error(req, 500, "out of memory");
                return;
        }
        r = tenant_quota_merge(cur, changes, &err);
        if (r < 0) {
                http_respond_error(req, r == -ENOMEM ? 500 : 400, "%s", err.msg[0] ? err.msg : "out of memory");
                return;
        }
        next = json_dumps(cur, JSON_COMPACT | JSON_SORT_KEYS);
        if (!next || (r = store_tenant_quotas_set(sf->store, ns, next)) < 0) {
                http_respond_error(req, 500, "cannot store the quotas of '%s': %s", ns, strerror(next ? -r : ENOMEM));
                return;
        }
        tenants_changed(sf, ns);
        /* Parked sandboxes count in its instances: a lower quota must not
         * find them holding more (they come back within it). */
        stock_drop_namespace(sf, ns);
        log_info("tenant '%s': quotas %s", ns, next);
        api_audit_note(req, "quotas %s", next);
        tenant_get(req, ns);
}

static void tokens_list(struct http_request *req, const char *ns, bool key)
{
        struct sfaasd *sf = api_sfaasd(req);
        struct store_namespace *n = NULL;
        struct store_token **toks = NULL;
        _cleanup_json_ json_t *arr = json_array();
        int64_t now = time_unix_ns();
        int r = store_namespace_get(sf->store, ns, &n);

        store_namespace_free(n);
        if (r == -ENOENT) {
                http_respond_error(req, 404, "tenant '%s' not found", ns);
                return;
        }
        if (r >= 0)
                r = store_token_list_kind(sf->store, ns, key ? "invoke" : "tenant", &toks);
        if (r < 0 || !arr) {
                http_respond_error(req, 500, "cannot list tokens: %s", strerror(r < 0 ? -r : ENOMEM));
                return;
        }
        for (struct store_token **t = toks; *t; t++)
                if (json_array_append_new(arr, token_json(*t, now)) < 0) {
                        store_token_list_free(toks);
                        http_respond_error(req, 500, "out of memory");
                        return;
                }
        store_token_list_free(toks);
        api_respond_json(req, 200, arr);
}

static bool token_name_valid(const char *s)
{
        size_t n = strlen(s);
        if (n == 0 || n > STORE_TOKEN_NAME_MAX)
                return false;
        for (; *s; s++)
                if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
                      *s == '-' || *s == '_' || *s == '.'))
                        return false;
        return true;
}

/* "30s", "2h", "90m" (parse_duration_ms) or "30d" (days). */
static int parse_expiry(const char *s, uint64_t *ret_ms)
{
        size_t n = strlen(s);
        uint64_t v;

        if (n > 1 && s[n - 1] == 'd') {
                char num[32];
                if (n >= sizeof num || xsnprintf(num, sizeof num, "%.*s", (int) (n - 1), s) < 0 ||
                    parse_u64(num, &v) < 0 || __builtin_mul_overflow(v, 24ULL * 3600 * 1000, &v))
                        return -EINVAL;
        } else if (parse_duration_ms(s, &v) < 0) {
                return -EINVAL;
        }
        if (v == 0 || v > TOKEN_EXPIRES_MAX_MS)
                return -ERANGE;
        *ret_ms = v;
        return 0;
}

/* Issue a token of ns (key: an invoke key, {"function"?} for one function). */
static void token_create(struct http_request *req, const char *ns, bool key)
{
        struct sfaasd *sf = api_sfaasd(req);
        _cleanup_json_ json_t *body = NULL;
        char text[AUTH_TOKEN_TEXT_MAX], id[AUTH_TOKEN_ID_MAX];
        unsigned char hash[32];
        struct store_token t = { 0 };
        const char *name = key ? "key" : "token", *function = "";
        int64_t expires = 0;
        json_t *v, *o;
        int r;

        /* An empty body takes the defaults. */
        if (req->body_len > 0 && !(body = api_parse_body_object(req)))
                return;
        v = json_object_get(body, "name");
        if (v && !json_is_null(v)) {
                if (!json_is_string(v) || !token_name_valid(json_string_value(v))) {
                        http_respond_error(req, 400,
                                           "field 'name' must be 1-%d letters, digits, '-', '_' or '.'",
                                           STORE_TOKEN_NAME_MAX);
                        return;
                }
                name = json_string_value(v);
        }
        v = json_object_get(body, "function");
        if (key && v && !json_is_null(v)) {
                if (!json_is_string(v) || !route_valid_name(json_string_value(v))) {
                        http_respond_error(req, 400, "field 'function' must be a function name");
                        return;
                }
                function = json_string_value(v);
        }
        v = json_object_get(body, "expiresIn");
        if (v && !json_is_null(v)) {
                uint64_t ms;
                if (!json_is_string(v) || parse_expiry(json_string_value(v), &ms) < 0) {
                        http_respond_error(req, 400,
                                           "field 'expiresIn' must be a duration such as \"12h\" or \"30d\" "
                                           "(at most ten years)");
                        return;
                }
                expires = time_unix_ns() + (int64_t) ms * 1000000;
        }
        /* A clash of random ids or hashes is next to impossible; try again once. */
        for (int attempt = 0; attempt < 2; attempt++) {
                r = auth_token_new(key ? AUTH_KEY_PREFIX : AUTH_TOKEN_PREFIX, text, hash, id);
                if (r < 0) {
                        http_respond_error(req, 500, "cannot make a token: %s", strerror(-r));
                        return;
                }
                r = key ? store_invoke_key_create(sf->store, ns, id, name, function, hash, expires)
                        : store_token_create(sf->store, ns, id, name, hash, expires);
                if (r != -EEXIST)
                        break;
        }
        if (r == -ENOENT) {
                OPENSSL_cleanse(text, sizeof text);
                http_respond_error(req, 404, "tenant '%s' not found", ns);
                return;
        }
        if (r < 0) {
                OPENSSL_cleanse(text, sizeof text);
                http_respond_error(req, 500, "cannot store the token: %s", strerror(-r));
                return;
        }
        t = (struct store_token) { .id = id, .namespace = (char *) ns, .name = (char *) name,
                                   .kind = key ? "invoke" : "tenant", .function = (char *) function,
                                   .created_at = time_unix_ns(), .expires_at = expires };
        o = token_json(&t, t.created_at);
        if (o)
                (void) json_object_set_new(o, key ? "key" : "token", json_string(text));
        OPENSSL_cleanse(text, sizeof text);
        if (!o) {
                http_respond_error(req, 500, "out of memory");
                return;
        }
        log_info("issued %s %s ('%s') to tenant '%s'", key ? "invoke key" : "token", id, name, ns);
        api_audit_note(req, "issued %s %s ('%s')%s%s%s", key ? "invoke key" : "token", id, name,
                       *function ? " for function " : "", function, expires ? " with an expiry" : "");
        api_respond_json(req, 201, o);
        /* The answer's copy of the token is freed with o. */
        {
                json_t *tv = json_object_get(o, key ? "key" : "token");
                if (json_is_string(tv))
                        OPENSSL_cleanse((char *) json_string_value(tv), json_string_length(tv));
        }
        json_decref(o);
}

static void token_revoke(struct http_request *req, const char *ns, const char *id, bool key)
{
        struct sfaasd *sf = api_sfaasd(req);
        int r = store_token_revoke_kind(sf->store, ns, key ? "invoke" : "tenant", id);

        if (r == -ENOENT) {
                http_respond_error(req, 404, "tenant '%s' has no %s '%s'", ns, key ? "invoke key" : "token", id);
                return;
        }
        if (r < 0) {
                http_respond_error(req, 500, "cannot revoke token '%s': %s", id, strerror(-r));
                return;
        }
        /* Refused from the next request on, cached or not. */
        auth_forget(sf->auth);
        log_info("revoked %s %s of tenant '%s'", key ? "invoke key" : "token", id, ns);
        api_audit_note(req, "revoked %s %s", key ? "invoke key" : "token", id);
        http_respond(req, 200, NULL, NULL, NULL, 0);
}

/* GET/PUT /system/tenants/NS/invoke {"auth": bool}: whether calls to the
 * tenant's functions need a credential (the tenant's own or the admin's
 * choice; a function's annotation com.sfaasd.invoke-auth overrides it). */
static void invoke_setting(struct http_request *req, const char *ns)
{
        struct sfaasd *sf = api_sfaasd(req);
        _cleanup_json_ json_t *o = NULL;
        bool on = false;
        int r;

        if (strcmp(req->method, "PUT") == 0) {
                _cleanup_json_ json_t *body = api_parse_body_object(req);
                json_t *v;
                if (!body)
                        return;
                v = json_object_get(body, "auth");
                if (!json_is_boolean(v)) {
                        http_respond_error(req, 400, "field 'auth' must be true or false");
                        return;
                }
                r = store_tenant_invoke_auth_set(sf->store, ns, json_is_true(v));
                if (r >= 0) {
                        tenants_changed(sf, ns);
                        log_info("tenant '%s': calls %s", ns, json_is_true(v) ? "need a credential" : "are open");
                        api_audit_note(req, "calls %s", json_is_true(v) ? "closed" : "opened");
                }
        }
        r = store_tenant_invoke_auth_get(sf->store, ns, &on);
        if (r == -ENOENT) {
                http_respond_error(req, 404, "tenant '%s' not found", ns);
                return;
        }
        if (r < 0) {
                http_respond_error(req, 500, "cannot read tenant '%s': %s", ns, strerror(-r));
                return;
        }
        o = json_pack("{s:s,s:b}", "namespace", ns, "auth", on);
        if (!o) {
                http_respond_error(req, 500, "out of memory");
                return;
        }
        api_respond_json(req, 200, o);
}

/* The ceiling as a string: a JSON string as it is, an array of strings
 * joined with ", ". NULL (and a 400 answered) for anything else. */
static char *ceiling_text(struct http_request *req, json_t *v)
{
        _cleanup_free_ char *out = NULL;
        size_t i;
        json_t *e;

        if (json_is_string(v))
                return strdup(json_string_value(v));
        if (!json_is_array(v)) {
                http_respond_error(req, 400, "field 'ceiling' must be a string (\"HOST:PORT, ...\") or an array");
                return NULL;
        }
        out = strdup("");
        json_array_foreach(v, i, e) {
                char *next;
                if (!json_is_string(e) || strchr(json_string_value(e), ',')) {
                        http_respond_error(req, 400, "field 'ceiling' must be an array of entries (strings)");
                        return NULL;
                }
                if (!out || !(next = xasprintf("%s%s%s", out, i ? ", " : "", json_string_value(e)))) {
                        http_respond_error(req, 500, "out of memory");
                        return NULL;
                }
                free(out);
                out = next;
        }
        if (!out)
                http_respond_error(req, 500, "out of memory");
        return TAKE_PTR(out);
}

/* GET/PUT /system/tenants/NS/egress: the tenant's egress ceiling. A lower
 * ceiling also narrows the grants of functions already deployed: the
 * proxy honours only the entries still within it. */
static void egress_ceiling(struct http_request *req, const char *ns)
{
        struct sfaasd *sf = api_sfaasd(req);
        _cleanup_json_ json_t *o = NULL, *arr = NULL;
        _cleanup_free_ char *stored = NULL;
        struct egress_grant g = { 0 };
        struct sf_err err = { 0 };
        int r;

        if (strcmp(req->method, "PUT") == 0) {
                _cleanup_json_ json_t *body = api_parse_body_object(req);
                _cleanup_free_ char *text = NULL;
                if (!body)
                        return;
                if (!(text = ceiling_text(req, json_object_get(body, "ceiling"))))
                        return;
                r = egress_grant_parse(text, true, &g, &err);
                if (r < 0) {
                        http_respond_error(req, r == -ENOMEM ? 500 : 400, "ceiling: %s",
                                           err.msg[0] ? err.msg : "out of memory");
                        return;
                }
                egress_grant_release(&g);
                r = store_tenant_egress_set(sf->store, ns, text);
                if (r == -ENOENT) {
                        http_respond_error(req, 404, "tenant '%s' not found", ns);
                        return;
                }
                if (r < 0) {
                        http_respond_error(req, 500, "cannot store the egress ceiling of '%s': %s", ns, strerror(-r));
                        return;
                }
                tenants_changed(sf, ns);
                stock_drop_namespace(sf, ns);
                log_info("tenant '%s': egress ceiling '%s'", ns, text);
                api_audit_note(req, "egress ceiling '%.400s'", text);
        }
        r = store_tenant_egress_get(sf->store, ns, &stored);
        if (r == -ENOENT) {
                http_respond_error(req, 404, "tenant '%s' not found", ns);
                return;
        }
        if (r >= 0)
                r = egress_grant_parse(stored, true, &g, &err);
        if (r < 0) {
                http_respond_error(req, 500, "cannot read the egress ceiling of '%s': %s", ns,
                                   err.msg[0] ? err.msg : strerror(-r));
                return;
        }
        arr = json_array();
        for (size_t i = 0; arr && i < g.n; i++)
                if (json_array_append_new(arr, json_string(g.v[i].text)) < 0) {
                        json_decref(TAKE_PTR(arr));
                        break;
                }
        egress_grant_release(&g);
        o = arr ? json_pack("{s:s,s:O}", "namespace", ns, "ceiling", arr) : NULL;
        if (!o) {
                http_respond_error(req, 500, "out of memory");
                return;
        }
        api_respond_json(req, 200, o);
}

void api_tenants(struct http_request *req, const struct route *rt)
{
        bool get = strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0;

        switch (rt->id) {
        case ROUTE_TENANTS:
                if (get)
                        tenants_list(req);
                else
                        tenant_create(req);
                return;
        case ROUTE_TENANT:
                if (get)
                        tenant_get(req, rt->ns);
                else if (strcmp(req->method, "PUT") == 0)
                        tenant_set_quotas(req, rt->ns);
                else
                        tenant_delete(req, rt->ns);
                return;
        case ROUTE_TENANT_TOKENS:
        case ROUTE_TENANT_KEYS:
                if (get)
                        tokens_list(req, rt->ns, rt->id == ROUTE_TENANT_KEYS);
                else
                        token_create(req, rt->ns, rt->id == ROUTE_TENANT_KEYS);
                return;
        case ROUTE_TENANT_INVOKE:
                invoke_setting(req, rt->ns);
                return;
        case ROUTE_TENANT_EGRESS:
                egress_ceiling(req, rt->ns);
                return;
        default:
                token_revoke(req, rt->ns, rt->rest, rt->id == ROUTE_TENANT_KEY);
                return;
        }
}
