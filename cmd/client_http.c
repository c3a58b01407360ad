/* SPDX-License-Identifier: MIT */
/*
 * The client's HTTP calls; see cmd/client_http.h. The transport (socket,
 * request serialisation, llhttp parsing, one deadline) is core/http/client.c;
 * this file adds the gateway, its credentials and the client's messages.
 */
#include "cmd/client_http.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/client.h"
#include "core/base/cleanup.h"
#include "core/base/util.h"
#include "core/http/client.h"

#define PASSWORD_MAX 4096

/* Trim blanks at both ends in place, as OpenFaaS does for its secrets. */
static void trim(char *s)
{
        size_t n = strlen(s), i = 0;

        while (n > 0 && isspace((unsigned char) s[n - 1]))
                s[--n] = '\0';
        while (isspace((unsigned char) s[i]))
                i++;
        memmove(s, s + i, n - i + 1);
}

static int load_password(const char *password_file, char **ret, struct sf_err *err)
{
        _cleanup_free_ char *p = NULL;
        const char *env;
        int r;

        if (password_file) {
                r = read_file_at(AT_FDCWD, password_file, PASSWORD_MAX, &p, NULL);
                if (r == -EFBIG)
                        return sf_err_set(err, r, "password file '%s' is larger than %d bytes", password_file,
                                          PASSWORD_MAX);
                if (r < 0)
                        return sf_err_errno(err, r, "cannot read password file '%s'", password_file);
                trim(p);
                if (!*p)
                        return sf_err_set(err, -EINVAL, "password file '%s' is empty", password_file);
        } else {
                env = getenv("SFAASD_PASSWORD");
                if (!env || !*env) {
                        *ret = NULL;
                        return 0;
                }
                p = strdup(env);
                if (!p)
                        return -ENOMEM;
                trim(p);
        }
        if (strpbrk(p, "\r\n"))
                return sf_err_set(err, -EINVAL, "the password holds a line break");
        *ret = TAKE_PTR(p);
        return 0;
}

int client_init(struct client *c, const char *gateway, const char *user, const char *password_file,
                bool need_password, long timeout_ms, struct sf_err *err)
{
        _cleanup_free_ char *gw = NULL, *pw = NULL, *u = NULL;
        const char *g = gateway;
        int r;

        if (!g) {
                g = getenv("OPENFAAS_URL");
                if (!g || !*g)
                        g = CLIENT_DEFAULT_GATEWAY;
        }
        r = client_gateway_normalise(g, &gw, err);
        if (r < 0)
                return r;
        /* Refuse what client_do() cannot reach now, before reading any input. */
        r = httpc_url_check(gw, err);
        if (r == -EINVAL && err && strstr(err->msg, "credentials in the URL")) {
                char why[sizeof err->msg];

                (void) xsnprintf(why, sizeof why, "%s", err->msg);
                return sf_err_set(err, r, "gateway %s; use --password-file", why);
        }
        if (r < 0)
                return r;
        if (need_password) {
                r = load_password(password_file, &pw, err);
                if (r < 0)
                        return r;
        }
        if (!user) {
                user = getenv("SFAASD_USER");
                if (!user || !*user)
                        user = "admin";
        }
        if (!*user || strpbrk(user, ":\r\n"))
                return sf_err_set(err, -EINVAL, "invalid user name '%s'", user);
        u = strdup(user);
        if (!u)
                return -ENOMEM;
        c->gateway = TAKE_PTR(gw);
        c->user = TAKE_PTR(u);
        c->password = TAKE_PTR(pw);
        c->timeout_ms = timeout_ms;
        return client_set_tls(c, getenv("SFAASD_CACERT"), getenv("SFAASD_TLS_FINGERPRINT"), err);
}

int client_set_tls(struct client *c, const char *cacert, const char *pin, struct sf_err *err)
{
        if (pin && *pin) {
                if (httpc_pin_check(pin) < 0)
                        return sf_err_set(err, -EINVAL,
                                          "'%s' is not a SHA-256 fingerprint (64 hex digits, ':' between pairs "
                                          "allowed)", pin);
                free(c->tls_pin);
                if (!(c->tls_pin = strdup(pin)))
                        return -ENOMEM;
        }
        if (cacert && *cacert) {
                free(c->cacert);
                if (!(c->cacert = strdup(cacert)))
                        return -ENOMEM;
        }
        return 0;
}

void client_release(struct client *c)
{
        if (!c)
                return;
        free(c->gateway);
        free(c->user);
        c->user = NULL;
        if (c->password) {
                explicit_bzero(c->password, strlen(c->password));
                free(c->password);
        }
        free(c->cacert);
        free(c->tls_pin);
        c->gateway = c->password = c->cacert = c->tls_pin = NULL;
}

void client_response_release(struct client_response *r)
{
        if (!r)
                return;
        free(r->body);
        r->body = NULL;
        r->len = 0;
}

int client_do(struct client *c, const struct client_request *req, struct client_response *ret,
              struct sf_err *err)
{
        _cleanup_free_ char *url = NULL, *peer = NULL;
        struct httpc_response resp = {};
        int r;

        r = client_url(c->gateway, req->path, req->query, req->n_query, &url);
        if (r == -ENOMEM)
                return r;
        if (r < 0 || !req->path || req->path[0] != '/')
                return sf_err_set(err, -EINVAL, "cannot build a URL from gateway '%s' and '%s'", c->gateway,
                                  req->path ? req->path : "");
        peer = xasprintf("gateway %s", c->gateway);
        if (!peer)
                return -ENOMEM;
        r = httpc_do(&(struct httpc_request) {
                             .method = req->method,
                             .url = url,
                             .peer = peer,
                             .timeout_hint = " (see --timeout)",
                             .user = c->user,
                             .password = req->auth ? c->password : NULL,
                             .content_type = req->content_type,
                             .headers = req->headers,
                             .n_headers = req->n_headers,
                             .has_body = req->has_body,
                             .body = req->body,
                             .body_len = req->body_len,
                             .upload = req->upload,
                             .upload_len = req->upload_len,
                             .sink = req->sink,
                             .timeout_ms = c->timeout_ms,
                             .cacert = c->cacert,
                             .tls_pin = c->tls_pin,
                     },
                     &resp, err);
        if (r < 0)
                return r;
        *ret = (struct client_response) {
                .status = resp.status,
                .body = TAKE_PTR(resp.body),
                .len = resp.len,
                .truncated = resp.truncated,
                .seconds = resp.seconds,
        };
        return 0;
}
