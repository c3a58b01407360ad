/* SPDX-License-Identifier: MIT */
/*
 * /system/secrets, as faas-cli drives it (docs/OPENFAAS-COMPAT.md §2.3,
 * §2.4, §3.2):
 *
 *   GET    ?namespace=NS          200 [{"name","namespace"}...]; never values
 *   POST   {"name","namespace"?,"value"?|"rawValue"?}
 *                                 200 created; 409 when it exists (faas-cli
 *                                 then PUTs with --replace)
 *   PUT    same body              200 replaced; 404 when absent
 *   DELETE {"name","namespace"?}  200 (never 204: faas-cli rejects it); 404
 *
 * Namespace: body, then ?namespace=, then the default (api_resolve_namespace).
 * rawValue (standard base64 with padding, Go's []byte) wins over value when
 * non-empty, as in faasd. Values over SECRET_VALUE_MAX get 413. Names: see
 * secret_name_valid() in store/secrets.h.
 *
 * Values are sealed by store/secrets.c before they reach SQLite; the request
 * body and the parsed copies are wiped once the value is stored.
 */
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "core/api/api.h"
#include "core/base/cleanup.h"
#include "core/base/log.h"
#include "core/runtime/stock.h"
#include "core/runtime/tenants.h"
#include "store/secrets.h"
#include "store/tenants.h"

/* Wipe a parsed JSON string in place (jansson frees without wiping). */
static void json_string_wipe(json_t *v)
{
        if (v && json_is_string(v))
                OPENSSL_cleanse((char *) json_string_value(v), json_string_length(v));
}

/* The request body holds the cleartext too. Wiped right after parsing:
 * answering may free the request. */
static void body_wipe(struct http_request *req)
{
        if (req->body && req->body_len)
                OPENSSL_cleanse(req->body, req->body_len);
}

/* Strict standard base64 with padding, as Go encodes []byte in JSON. */
static int base64_decode(const char *in, size_t len, unsigned char **ret, size_t *ret_len)
{
        unsigned char *out;
        size_t pad = 0;
        int n;

        if (len % 4 != 0 || len > (size_t) SECRET_VALUE_MAX / 3 * 4 + 8)
                return len % 4 != 0 ? -EINVAL : -EFBIG;
        for (size_t i = 0; i < len; i++) {
                char c = in[i];
                bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
                          c == '/';
                if (c == '=' && i + 2 >= len && (i + 1 == len || in[i + 1] == '=')) {
                        pad++;
                        continue;
                }
                if (!ok || pad)
                        return -EINVAL;
        }
        out = malloc(len / 4 * 3 + 1);
        if (!out)
                return -ENOMEM;
        n = len ? EVP_DecodeBlock(out, (const unsigned char *) in, (int) len) : 0;
        if (n < 0 || (size_t) n < pad) {
                free(out);
                return -EINVAL;
        }
        *ret = out;
        *ret_len = (size_t) n - pad;
        return 0;
}

static const char *body_name(struct http_request *req, json_t *body)
{
        json_t *v = json_object_get(body, "name");
        if (!v || !json_is_string(v) || !*json_string_value(v)) {
                http_respond_error(req, 400, "field 'name' is required and must be a string");
                return NULL;
        }
        if (!secret_name_valid(json_string_value(v))) {
                http_respond_error(req, 400,
                                   "invalid secret name '%.64s': use letters, digits, '-', '_' and '.', starting "
                                   "with a letter or digit (at most %d)",
                                   json_string_value(v), SECRET_NAME_MAX);
                return NULL;
        }
        return json_string_value(v);
}

static void handle_list(struct http_request *req)
{
        struct sfaasd *sf = api_sfaasd(req);
        _cleanup_strv_free_ char **names = NULL;
        _cleanup_json_ json_t *arr = json_array();
        char ns[ROUTE_NAME_MAX];
        int r;

        if (api_resolve_namespace(req, NULL, ns, sizeof ns) < 0)
                return;
        r = store_secret_list(sf->store, ns, &names);
        if (r < 0 || !arr) {
                http_respond_error(req, 500, "cannot list secrets: %s", strerror(r < 0 ? -r : ENOMEM));
                return;
        }
        for (char **n = names; *n; n++)
                if (**n != '.' && /* sfaasd's own rows (.registry-auth): no name a secret can have */
                    json_array_append_new(arr, json_pack("{s:s,s:s}", "name", *n, "namespace", ns)) < 0) {
                        http_respond_error(req, 500, "out of memory");
                        return;
                }
        api_respond_json(req, 200, arr);
}

static void handle_write(struct http_request *req, bool update)
{
        struct sfaasd *sf = api_sfaasd(req);
        _cleanup_json_ json_t *body = api_parse_body_object(req);
        unsigned char *raw = NULL;
        const unsigned char *value = (const unsigned char *) "";
        size_t len = 0;
        char ns[ROUTE_NAME_MAX];
        const char *name;
        json_t *v, *rv;
        int r;

        if (!body)
                goto out; /* answered, and the request may be gone: do not touch it */
        body_wipe(req);   /* parsed: from here the cleartext lives in body only */
        name = body_name(req, body);
        if (!name || api_resolve_namespace(req, body, ns, sizeof ns) < 0)
                goto out;
        v = json_object_get(body, "value");
        rv = json_object_get(body, "rawValue");
        if (v && !json_is_null(v) && !json_is_string(v)) {
                http_respond_error(req, 400, "field 'value' must be a string");
                goto out;
        }
        if (rv && !json_is_null(rv) && !json_is_string(rv)) {
                http_respond_error(req, 400, "field 'rawValue' must be a base64 string");
                goto out;
        }
        if (rv && json_is_string(rv) && json_string_length(rv) > 0) {
                r = base64_decode(json_string_value(rv), json_string_length(rv), &raw, &len);
                if (r == -ENOMEM) {
                        http_respond_error(req, 500, "out of memory");
                        goto out;
                }
                if (r == -EINVAL) {
                        http_respond_error(req, 400, "field 'rawValue' is not standard base64 (with padding)");
                        goto out;
                }
                if (r == -EFBIG)
                        len = (size_t) SECRET_VALUE_MAX + 1;
                else
                        value = raw;
        } else if (v && json_is_string(v)) {
                value = (const unsigned char *) json_string_value(v);
                len = json_string_length(v);
        }
        if (len > SECRET_VALUE_MAX) {
                http_respond_error(req, 413, "secret '%s' is larger than %u bytes", name, SECRET_VALUE_MAX);
                goto out;
        }
        if (!update) {
                struct tenant_quota q;
                struct store_tenant_usage u;
                if (tenants_quota(sf, ns, &q) >= 0 && q.secrets && store_tenant_usage(sf->store, ns, &u) >= 0 &&
                    u.secrets >= q.secrets && store_secret_exists(sf->store, ns, name) == -ENOENT) {
                        http_respond_error(req, 409, "namespace '%s' has %llu secrets, its secrets quota: remove one first",
                                           ns, (unsigned long long) q.secrets);
                        goto out;
                }
        }
        r = update ? store_secret_update(sf->store, &sf->secret_key, ns, name, value, len)
                   : store_secret_create(sf->store, &sf->secret_key, ns, name, value, len);
        if (r == -EEXIST) {
                http_respond_error(req, 409, "secret '%s' already exists in namespace '%s'", name, ns);
                goto out;
        }
        if (r == -ENOENT) {
                http_respond_error(req, 404, "unable to find secret: %s (namespace '%s')", name, ns);
                goto out;
        }
        if (r < 0) {
                http_respond_error(req, 500, "cannot store secret '%s': %s", name, strerror(-r));
                goto out;
        }
        log_info("%s secret '%s' in namespace '%s' (%zu bytes)", update ? "updated" : "created", name, ns, len);
        /* Parked sandboxes hold the secrets as they were. */
        stock_drop_namespace(sf, ns);
        http_respond(req, 200, NULL, NULL, NULL, 0);
out:
        if (raw) {
                OPENSSL_cleanse(raw, len);
                free(raw);
        }
        if (body) {
                json_string_wipe(json_object_get(body, "value"));
                json_string_wipe(json_object_get(body, "rawValue"));
        }
}

static void handle_delete(struct http_request *req)
{
        struct sfaasd *sf = api_sfaasd(req);
        _cleanup_json_ json_t *body = api_parse_body_object(req);
        char ns[ROUTE_NAME_MAX];
        const char *name;
        int r;

        if (!body)
                return;
        name = body_name(req, body);
        if (!name || api_resolve_namespace(req, body, ns, sizeof ns) < 0)
                return;
        r = store_secret_delete(sf->store, ns, name);
        if (r == -ENOENT) {
                http_respond_error(req, 404, "unable to find secret: %s (namespace '%s')", name, ns);
                return;
        }
        if (r < 0) {
                http_respond_error(req, 500, "cannot delete secret '%s': %s", name, strerror(-r));
                return;
        }
        log_info("removed secret '%s' from namespace '%s'", name, ns);
        stock_drop_namespace(sf, ns);
        http_respond(req, 200, NULL, NULL, NULL, 0);
}

void api_secrets(struct http_request *req, const struct route *rt)
{
        (void) rt;
        if (strcmp(req->method, "GET") == 0)
                handle_list(req);
        else if (strcmp(req->method, "POST") == 0 || strcmp(req->method, "PUT") == 0)
                handle_write(req, strcmp(req->method, "PUT") == 0);
        else
                handle_delete(req);
}
