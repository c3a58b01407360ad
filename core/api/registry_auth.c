/* SPDX-License-Identifier: MIT */
/*
 * A namespace's registry credentials (issue 14 point 3):
 *   PUT|POST /system/registry-auth[?namespace=]   body: a Docker config.json
 *            ({"auths": {"host[:port]": {"auth": base64("user:password")}
 *            or {"username", "password"}}}), as `docker login`, Kubernetes
 *            image pull secrets (.dockerconfigjson) and skopeo write it;
 *            replaces the namespace's document
 *   GET      {"namespace", "registries": [hosts]}: never a credential
 *   DELETE   forgets them
 *
 * Stored as the secret ".registry-auth" of the namespace: sealed with the
 * store key like every secret (store/secrets.h), gone with the namespace,
 * never listed by /system/secrets, never mountable (no secret name starts
 * with '.'). A pull in the namespace uses these first, then the operator's
 * registry_auth_file. Which registries a namespace may pull from at all is
 * the admin's annotation "com.sfaasd.registries" on the namespace (core/api/pull.c).
 */
#include <errno.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "core/api/api.h"
#include "core/base/cleanup.h"
#include "core/base/log.h"
#include "core/base/util.h"
#include "store/secrets.h"

#define REGISTRY_AUTH_NAME ".registry-auth"
#define REGISTRY_AUTH_MAX (64u << 10)
#define REGISTRY_AUTH_ENTRIES_MAX 64

int api_registry_auth_get(struct sfaasd *sf, const char *ns, char **ret, size_t *ret_len)
{
        unsigned char *v = NULL;
        size_t len = 0;
        char *copy;
        int r;

        r = store_secret_get(sf->store, &sf->secret_key, ns, REGISTRY_AUTH_NAME, &v, &len);
        if (r == -ENOENT) {
                *ret = NULL;
                *ret_len = 0;
                return 0;
        }
        if (r < 0)
                return r;
        copy = malloc(len + 1);
        if (!copy) {
                secret_value_free(v, len);
                return -ENOMEM;
        }
        memcpy(copy, v, len);
        copy[len] = '\0';
        secret_value_free(v, len);
        *ret = copy;
        *ret_len = len;
        return 0;
}

/* The document must be what a pull can use: an "auths" object of at most
 * REGISTRY_AUTH_ENTRIES_MAX registries, each with "auth" or "username" and
 * "password" strings. The reason in msg. */
static bool auths_valid(const json_t *doc, char *msg, size_t n)
{
        const json_t *auths = json_object_get(doc, "auths"), *e;
        const char *k;

        if (!json_is_object(auths)) {
                (void) xsnprintf(msg, n, "the body must be a Docker config.json with an \"auths\" object");
                return false;
        }
        if (json_object_size(auths) > REGISTRY_AUTH_ENTRIES_MAX) {
                (void) xsnprintf(msg, n, "more than %d registries in \"auths\"", REGISTRY_AUTH_ENTRIES_MAX);
                return false;
        }
        json_object_foreach((json_t *) auths, k, e) {
                bool basic = json_is_string(json_object_get(e, "auth"));
                bool up = json_is_string(json_object_get(e, "username")) &&
                          json_is_string(json_object_get(e, "password"));

                if (!*k || strlen(k) > 255 || strpbrk(k, " \t\r\n") || (!basic && !up)) {
                        (void) xsnprintf(msg, n,
                                         "\"auths\" entry '%.64s' needs \"auth\" (base64 of user:password) or "
                                         "\"username\" and \"password\"",
                                         k);
                        return false;
                }
        }
        return true;
}

/* Wipe every string of a parsed document in place (jansson frees without
 * wiping): the credentials are in them. Depth is bounded by the parser's. */
static void json_strings_wipe(json_t *v)
{
        const char *k;
        json_t *e;
        size_t i;

        if (json_is_string(v)) {
                OPENSSL_cleanse((char *) json_string_value(v), json_string_length(v));
        } else if (json_is_object(v)) {
                json_object_foreach(v, k, e)
                        json_strings_wipe(e);
        } else if (json_is_array(v)) {
                json_array_foreach(v, i, e)
                        json_strings_wipe(e);
        }
}

static void json_decref_wiped(json_t **v)
{
        if (*v) {
                json_strings_wipe(*v);
                json_decref(*v);
        }
}

static void handle_put(struct http_request *req, const char *ns)
{
        struct sfaasd *sf = api_sfaasd(req);
        _cleanup_(json_decref_wiped) json_t *body = api_parse_body_object(req);
        _cleanup_json_ json_t *kept = NULL;
        _cleanup_free_ char *doc = NULL;
        char msg[256];
        size_t len;
        int r;

        /* Parsed (or refused): the raw body holds the credentials too, and
         * answering may free the request. */
        if (req->body && req->body_len)
                OPENSSL_cleanse(req->body, req->body_len);
        if (!body)
                return;
        if (!auths_valid(body, msg, sizeof msg)) {
                http_respond_error(req, 400, "%s", msg);
                return;
        }
        /* Only what a pull reads is kept. */
        kept = json_pack("{s:O}", "auths", json_object_get(body, "auths"));
        doc = kept ? json_dumps(kept, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
        if (!doc) {
                http_respond_error(req, 500, "out of memory");
                return;
        }
        len = strlen(doc);
        if (len > REGISTRY_AUTH_MAX) {
                explicit_bzero(doc, len);
                http_respond_error(req, 413, "registry credentials larger than %u bytes", REGISTRY_AUTH_MAX);
                return;
        }
        r = store_secret_update(sf->store, &sf->secret_key, ns, REGISTRY_AUTH_NAME, doc, len);
        if (r == -ENOENT)
                r = store_secret_create(sf->store, &sf->secret_key, ns, REGISTRY_AUTH_NAME, doc, len);
        explicit_bzero(doc, len);
        if (r < 0) {
                http_respond_error(req, 500, "cannot store the registry credentials: %s", strerror(-r));
                return;
        }
        log_info("registry credentials of namespace '%s' set (%zu registries)", ns,
                 json_object_size(json_object_get(body, "auths")));
        api_audit_note(req, "registry credentials set for %zu registries", json_object_size(json_object_get(body, "auths")));
        http_respond(req, 200, NULL, NULL, NULL, 0);
}

static void handle_get(struct http_request *req, const char *ns)
{
        struct sfaasd *sf = api_sfaasd(req);
        _cleanup_(json_decref_wiped) json_t *doc = NULL;
        _cleanup_json_ json_t *hosts = json_array(), *answer = NULL;
        char *s = NULL;
        size_t len = 0;
        const char *k;
        json_t *v;
        int r;

        r = api_registry_auth_get(sf, ns, &s, &len);
        if (r < 0 || !hosts) {
                http_respond_error(req, 500, "cannot read the registry credentials: %s", strerror(r < 0 ? -r : ENOMEM));
                return;
        }
        if (s) {
                doc = json_loads(s, 0, NULL);
                explicit_bzero(s, len);
                free(s);
        }
        json_object_foreach(json_object_get(doc, "auths"), k, v)
                (void) json_array_append_new(hosts, json_string(k));
        answer = json_pack("{s:s, s:O}", "namespace", ns, "registries", hosts);
        if (!answer) {
                http_respond_error(req, 500, "out of memory");
                return;
        }
        api_respond_json(req, 200, answer);
}

void api_registry_auth(struct http_request *req, const struct route *rt)
{
        struct sfaasd *sf = api_sfaasd(req);
        char ns[ROUTE_NAME_MAX];
        int r;

        (void) rt;
        if (api_resolve_namespace(req, NULL, ns, sizeof ns) < 0)
                return;
        if (strcmp(req->method, "GET") == 0) {
                handle_get(req, ns);
        } else if (strcmp(req->method, "DELETE") == 0) {
                r = store_secret_delete(sf->store, ns, REGISTRY_AUTH_NAME);
                if (r < 0 && r != -ENOENT) {
                        http_respond_error(req, 500, "cannot remove the registry credentials: %s", strerror(-r));
                        return;
                }
                log_info("registry credentials of namespace '%s' removed", ns);
                api_audit_note(req, "registry credentials removed");
                http_respond(req, 200, NULL, NULL, NULL, 0);
        } else {
                handle_put(req, ns);
        }
}
