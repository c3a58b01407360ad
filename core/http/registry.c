/* SPDX-License-Identifier: MIT */
/* The distribution API v2 client (core/http/registry.h). */
#include "core/http/registry.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <netdb.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/base/buf.h"
#include "core/base/cleanup.h"
#include "core/base/util.h"

#define MANIFEST_MAX (8u << 20)      /* as store/'s IMAGE_MAX_JSON_BYTES */
#define TOKEN_MAX (64u << 10)        /* a token answer */
#define REDIRECTS_MAX 5
#define REGISTRY_VERIFY_HINT "trust its CA with the config's registry_ca_file"
#define REF_MAX 512
#define DOCKER_HUB "docker.io"
#define DOCKER_HUB_API "registry-1.docker.io"

static const char accept_manifests[] =
        "Accept: application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, "
        "application/vnd.docker.distribution.manifest.list.v2+json, "
        "application/vnd.docker.distribution.manifest.v2+json";

/* ---- references --------------------------------------------------------- */

static bool repo_char(char c)
{
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-' || c == '/';
}

/* Path components of lower-case letters and digits, separated inside by
 * '.', '_' or '-' (the distribution spec's grammar, loosely): no empty
 * component, none starting or ending with a separator. */
static bool repo_ok(const char *r)
{
        const char *c = r;

        if (!*r)
                return false;
        for (;;) {
                size_t n = strcspn(c, "/");

                if (n == 0 || !isalnum((unsigned char) c[0]) || !isalnum((unsigned char) c[n - 1]))
                        return false;
                if (!c[n])
                        return true;
                c += n + 1;
        }
}

static bool tag_ok(const char *t)
{
        size_t n = strlen(t);

        if (n == 0 || n > 128 || !(isalnum((unsigned char) t[0]) || t[0] == '_'))
                return false;
        for (; *t; t++)
                if (!isalnum((unsigned char) *t) && !strchr("._-", *t))
                        return false;
        return true;
}

static bool digest_ok(const char *d)
{
        if (strncmp(d, "sha256:", 7) != 0 || strlen(d) != 7 + 64)
                return false;
        for (d += 7; *d; d++)
                if (!((*d >= '0' && *d <= '9') || (*d >= 'a' && *d <= 'f')))
                        return false;
        return true;
}

static bool host_ok(const char *h)
{
        if (!*h || strlen(h) > 255)
                return false;
        for (; *h; h++)
                if (!isalnum((unsigned char) *h) && !strchr(".-:[]", *h))
                        return false;
        return true;
}

bool registry_ref_has_registry(const char *s)
{
        const char *slash = strchr(s, '/');
        size_t n;

        if (!slash)
                return false;
        n = (size_t) (slash - s);
        return memchr(s, '.', n) || memchr(s, ':', n) || (n == 9 && strncmp(s, "localhost", 9) == 0);
}

void registry_ref_release(struct registry_ref *r)
{
        if (!r)
                return;
        free(r->registry);
        free(r->repository);
        free(r->tag);
        free(r->digest);
        *r = (struct registry_ref) {};
}

int registry_ref_parse(const char *s, struct registry_ref *ret, struct sf_err *err)
{
        _cleanup_free_ char *copy = NULL;
        struct registry_ref r = {};
        char *name, *at, *colon, *slash;

        if (!s || !*s || strlen(s) > REF_MAX)
                return sf_err_set(err, -EINVAL, "image reference is empty or too long");
        copy = strdup(s);
        if (!copy)
                return -ENOMEM;
        at = strchr(copy, '@');
        if (at) {
                *at++ = '\0';
                if (!digest_ok(at))
                        return sf_err_set(err, -EINVAL, "image reference '%.200s': the digest is not sha256:<64 hex>", s);
                r.digest = strdup(at);
                if (!r.digest)
                        goto oom;
        }
        name = copy;
        if (registry_ref_has_registry(name)) {
                slash = strchr(name, '/');
                *slash = '\0';
                r.registry = strdup(name);
                name = slash + 1;
        } else
                r.registry = strdup(DOCKER_HUB);
        if (!r.registry)
                goto oom;
        slash = strrchr(name, '/');
        colon = strrchr(name, ':');
        if (colon && (!slash || colon > slash)) {
                *colon++ = '\0';
                if (!tag_ok(colon)) {
                        registry_ref_release(&r);
                        return sf_err_set(err, -EINVAL, "image reference '%.200s': invalid tag", s);
                }
                r.tag = strdup(colon);
                if (!r.tag)
                        goto oom;
        } else if (!r.digest) {
                r.tag = strdup("latest");
                if (!r.tag)
                        goto oom;
        }
        if (strcmp(r.registry, DOCKER_HUB) == 0 && !strchr(name, '/'))
                r.repository = xasprintf("library/%s", name);
        else
                r.repository = strdup(name);
        if (!r.repository)
                goto oom;
        for (const char *p = r.repository; *p; p++)
                if (!repo_char(*p)) {
                        registry_ref_release(&r);
                        return sf_err_set(err, -EINVAL,
                                          "image reference '%.200s': a repository is lower-case letters, digits "
                                          "and . _ - /",
                                          s);
                }
        if (!repo_ok(r.repository) || !host_ok(r.registry)) {
                registry_ref_release(&r);
                return sf_err_set(err, -EINVAL, "image reference '%.200s' is not registry/repository[:tag][@digest]", s);
        }
        *ret = r;
        return 0;
oom:
        registry_ref_release(&r);
        return -ENOMEM;
}

char *registry_ref_name(const struct registry_ref *r)
{
        if (r->tag)
                return xasprintf("%s/%s:%s", r->registry, r->repository, r->tag);
        return xasprintf("%s/%s@%s", r->registry, r->repository, r->digest);
}

/* ---- session ------------------------------------------------------------ */

int registry_session_init(struct registry_session *s, const struct registry_ref *ref,
                          const struct registry_options *o, struct sf_err *err)
{
        const char *host = strcmp(ref->registry, DOCKER_HUB) == 0 ? DOCKER_HUB_API : ref->registry;

        *s = (struct registry_session) { .o = *o };
        if (!s->o.transport)
                s->o.transport = httpc_do;
        s->mu = (pthread_mutex_t) PTHREAD_MUTEX_INITIALIZER;
        s->registry = strdup(ref->registry);
        s->repository = strdup(ref->repository);
        s->base = xasprintf("%s://%s", o->insecure ? "http" : "https", host);
        if (!s->registry || !s->repository || !s->base) {
                registry_session_release(s);
                return -ENOMEM;
        }
        (void) err;
        return 0;
}

void registry_session_release(struct registry_session *s)
{
        if (!s)
                return;
        free(s->registry);
        free(s->repository);
        free(s->base);
        if (s->authorization)
                explicit_bzero(s->authorization, strlen(s->authorization));
        free(s->authorization);
        s->registry = s->repository = s->base = s->authorization = NULL;
}

/* "Authorization: Basic base64(user:password)". */
static char *basic_header(const char *user, const char *password)
{
        _cleanup_free_ char *plain = xasprintf("%s:%s", user, password);
        _cleanup_free_ unsigned char *enc = NULL;
        char *h;
        size_t n;

        if (!plain)
                return NULL;
        n = strlen(plain);
        enc = malloc((n + 2) / 3 * 4 + 1);
        if (!enc) {
                explicit_bzero(plain, n);
                return NULL;
        }
        (void) EVP_EncodeBlock(enc, (const unsigned char *) plain, (int) n);
        explicit_bzero(plain, n);
        h = xasprintf("Authorization: Basic %s", enc);
        explicit_bzero(enc, strlen((char *) enc));
        return h;
}

static char *auth_get(struct registry_session *s)
{
        char *a;

        (void) pthread_mutex_lock(&s->mu);
        a = s->authorization ? strdup(s->authorization) : NULL;
        (void) pthread_mutex_unlock(&s->mu);
        return a;
}

static void auth_set(struct registry_session *s, char *a)
{
        (void) pthread_mutex_lock(&s->mu);
        if (s->authorization)
                explicit_bzero(s->authorization, strlen(s->authorization));
        free(s->authorization);
        s->authorization = a;
        (void) pthread_mutex_unlock(&s->mu);
}

static void free_secret(char *p)
{
        if (p) {
                explicit_bzero(p, strlen(p));
                free(p);
        }
}

DEFINE_TRIVIAL_CLEANUP_FUNC(char *, free_secret)

/* ---- WWW-Authenticate --------------------------------------------------- */

/* The value of key in 'Scheme k1="v1",k2=v2': allocated, NULL if absent. */
static char *challenge_param(const char *h, const char *key)
{
        const char *p = h;
        size_t kl = strlen(key);

        while (*p && *p != ' ')
                p++; /* the scheme */
        while (*p) {
                const char *k, *v;
                size_t klen, vlen;
                bool quoted;

                while (*p == ' ' || *p == ',')
                        p++;
                k = p;
                while (*p && *p != '=' && *p != ',')
                        p++;
                klen = (size_t) (p - k);
                if (*p != '=')
                        continue;
                p++;
                quoted = *p == '"';
                if (quoted)
                        p++;
                v = p;
                while (*p && (quoted ? *p != '"' : *p != ','))
                        p++;
                vlen = (size_t) (p - v);
                if (quoted && *p == '"')
                        p++;
                if (klen == kl && strncasecmp(k, key, kl) == 0)
                        return strndup(v, vlen);
        }
        return NULL;
}

/* Append s to b percent-encoded (a query value). */
static int url_encode(struct buf *b, const char *s)
{
        static const char hex[] = "0123456789ABCDEF";

        for (; *s; s++) {
                unsigned char c = (unsigned char) *s;
                int r;

                if (isalnum(c) || strchr("-._~", c))
                        r = buf_append(b, (const char *) &c, 1);
                else {
                        char e[3] = { '%', hex[c >> 4], hex[c & 15] };
                        r = buf_append(b, e, 3);
                }
                if (r < 0)
                        return r;
        }
        return 0;
}

/* The bearer flow: GET realm?service=...&scope=... (Basic credentials when
 * we have some) for {"token"} or {"access_token"}. */
static int fetch_token(struct registry_session *s, const char *challenge, struct sf_err *err)
{
        _cleanup_free_ char *realm = challenge_param(challenge, "realm");
        _cleanup_free_ char *service = challenge_param(challenge, "service");
        _cleanup_free_ char *scope = challenge_param(challenge, "scope");
        _cleanup_(free_secretp) char *basic = NULL;
        _cleanup_(json_decrefp) json_t *doc = NULL;
        struct httpc_response resp = {};
        struct buf url = {};
        const char *tok;
        char *hdr;
        const char *hdrs[1];
        bool realm_trusted = false;
        int r;

        if (!realm || !*realm)
                return sf_err_set(err, -EPROTO, "registry %s: a Bearer challenge without a realm", s->registry);
        {
                char rcv[300];
                bool trusted = false;

                if (httpc_url_receiver(realm, rcv, sizeof rcv) >= 0)
                        for (const char *const *t = s->o.trusted; t && *t; t++)
                                trusted = trusted || strcasecmp(*t, rcv) == 0;
                if (strncasecmp(realm, "https://", 8) != 0 && !trusted)
                        return sf_err_set(err, -EACCES,
                                          "registry %s: token realm '%.200s' refused: a realm is https://, or a "
                                          "host listed in insecure_registries",
                                          s->registry, realm);
                realm_trusted = trusted;
        }
        if (!scope && !(scope = xasprintf("repository:%s:pull", s->repository)))
                return -ENOMEM;
        r = buf_appends(&url, realm);
        if (r >= 0)
                r = buf_appends(&url, strchr(realm, '?') ? "&" : "?");
        if (r >= 0 && service) {
                r = buf_appends(&url, "service=");
                if (r >= 0)
                        r = url_encode(&url, service);
                if (r >= 0)
                        r = buf_appends(&url, "&");
        }
        if (r >= 0)
                r = buf_appends(&url, "scope=");
        if (r >= 0)
                r = url_encode(&url, scope);
        if (r >= 0)
                r = buf_append(&url, "", 1);
        if (r < 0) {
                free(url.p);
                return -ENOMEM;
        }
        if (s->o.user && s->o.password && !(basic = basic_header(s->o.user, s->o.password))) {
                free(url.p);
                return -ENOMEM;
        }
        hdrs[0] = basic;
        {
                _cleanup_free_ char *peer = xasprintf("the token service of registry %s", s->registry);
                struct httpc_request req = {
                        .method = "GET",
                        .url = url.p,
                        .peer = peer ? peer : "a token service",
                        .headers = hdrs,
                        .n_headers = basic ? 1 : 0,
                        .timeout_ms = s->o.timeout_ms,
                        .cancel_fd = s->o.cancel_fd,
                        .max_body = TOKEN_MAX,
                        .addr_ok = realm_trusted ? NULL : s->o.redirect_addr_ok,
                        .addr_data = s->o.addr_data,
                        .cacert = s->o.cacert,
                        .cacert_and_system = true,
                        .verify_hint = REGISTRY_VERIFY_HINT,
                };
                r = s->o.transport(&req, &resp, err);
        }
        free(url.p);
        if (r < 0)
                return r;
        if (resp.status == 401 || resp.status == 403) {
                httpc_response_release(&resp);
                return sf_err_set(err, -EACCES, "registry %s: the token service refused %s (%ld)", s->registry,
                                  s->o.user ? "the credentials" : "an anonymous pull; credentials are needed",
                                  resp.status);
        }
        if (resp.status != 200) {
                httpc_response_release(&resp);
                return sf_err_set(err, -EPROTO, "registry %s: the token service answered %ld", s->registry,
                                  resp.status);
        }
        doc = json_loadb(resp.body, resp.len, 0, NULL);
        if (resp.body)
                explicit_bzero(resp.body, resp.len);
        httpc_response_release(&resp);
        tok = json_string_value(json_object_get(doc, "token"));
        if (!tok || !*tok)
                tok = json_string_value(json_object_get(doc, "access_token"));
        if (!tok || !*tok || strpbrk(tok, "\r\n"))
                return sf_err_set(err, -EPROTO, "registry %s: the token service gave no token", s->registry);
        hdr = xasprintf("Authorization: Bearer %s", tok);
        if (!hdr)
                return -ENOMEM;
        auth_set(s, hdr);
        return 0;
}

/* React to a 401: learn Basic or fetch a bearer token. -EACCES when there
 * is nothing (more) to try. */
static int authenticate(struct registry_session *s, const char *challenge, bool retried, struct sf_err *err)
{
        if (retried)
                return sf_err_set(err, -EACCES, "registry %s refused %s (401)", s->registry,
                                  s->o.user ? "the credentials" : "an anonymous pull; credentials are needed");
        if (challenge && strncasecmp(challenge, "Bearer", 6) == 0)
                return fetch_token(s, challenge, err);
        if (!s->o.user || !s->o.password)
                return sf_err_set(err, -EACCES, "registry %s asks for credentials (401) and none are configured for it",
                                  s->registry);
        {
                char *h = basic_header(s->o.user, s->o.password);
                if (!h)
                        return -ENOMEM;
                auth_set(s, h);
        }
        return 0;
}

/* ---- requests ----------------------------------------------------------- */

enum { CAP_WWW_AUTH, CAP_LOCATION, CAP_CONTENT_TYPE, CAP_DIGEST };
static const char *const captures[] = { "WWW-Authenticate", "Location", "Content-Type", "Docker-Content-Digest" };

static bool is_redirect(long status)
{
        return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

/* A request to the registry with the session's authorization, once more
 * after a 401. The answer's status is the caller's to judge. */
static int request(struct registry_session *s, const char *url, bool manifest, int (*sink)(void *, const void *, size_t),
                   void *sink_data, struct httpc_response *resp, struct sf_err *err)
{
        for (bool retried = false;; retried = true) {
                _cleanup_(free_secretp) char *auth = auth_get(s);
                _cleanup_free_ char *peer = xasprintf("registry %s", s->registry);
                const char *hdrs[2];
                size_t nh = 0;
                int r;

                if (manifest)
                        hdrs[nh++] = accept_manifests;
                if (auth)
                        hdrs[nh++] = auth;
                struct httpc_request req = {
                        .method = "GET",
                        .url = url,
                        .peer = peer ? peer : "the registry",
                        .headers = hdrs,
                        .n_headers = nh,
                        .timeout_ms = manifest ? s->o.timeout_ms : 0,
                        .idle_timeout_ms = s->o.idle_timeout_ms,
                        .cancel_fd = s->o.cancel_fd,
                        .max_body = manifest ? MANIFEST_MAX : 0,
                        .sink_fn = sink,
                        .sink_data = sink_data,
                        .capture = captures,
                        .n_capture = ELEMENTSOF(captures),
                        .addr_ok = s->o.addr_ok,
                        .addr_data = s->o.addr_data,
                        .cacert = s->o.cacert,
                        .cacert_and_system = true,
                        .verify_hint = REGISTRY_VERIFY_HINT,
                };
                *resp = (struct httpc_response) {};
                r = s->o.transport(&req, resp, err);
                if (r < 0)
                        return r;
                if (resp->status != 401)
                        return 0;
                r = authenticate(s, resp->captured[CAP_WWW_AUTH], retried, err);
                httpc_response_release(resp);
                if (r < 0)
                        return r;
        }
}

/* The first line of an error body, for a message. */
static const char *body_excerpt(const struct httpc_response *resp, char *buf, size_t n)
{
        size_t len = 0;

        if (!resp->body)
                return "";
        while (len < resp->len && len + 1 < n && resp->body[len] != '\n' && resp->body[len] != '\r') {
                unsigned char c = (unsigned char) resp->body[len];
                buf[len] = c >= ' ' && c < 0x7f ? (char) c : '?';
                len++;
        }
        buf[len] = '\0';
        return buf;
}

static int status_error(struct registry_session *s, const char *what, const struct httpc_response *resp,
                        struct sf_err *err)
{
        char ex[160];

        if (resp->status == 404)
                return sf_err_set(err, -ENOENT, "registry %s: %s not found (404)", s->registry, what);
        if (resp->status == 403)
                return sf_err_set(err, -EACCES, "registry %s: %s: access denied (403)", s->registry, what);
        return sf_err_set(err, resp->status >= 500 ? -EAGAIN : -EPROTO, "registry %s: %s: status %ld %s", s->registry,
                          what, resp->status, body_excerpt(resp, ex, sizeof ex));
}

int registry_get_manifest(struct registry_session *s, const char *reference, char **ret_body, size_t *ret_len,
                          char **ret_media_type, char **ret_digest, struct sf_err *err)
{
        _cleanup_free_ char *url = xasprintf("%s/v2/%s/manifests/%s", s->base, s->repository, reference);
        _cleanup_free_ char *what = xasprintf("manifest %s:%s", s->repository, reference);
        _cleanup_(json_decrefp) json_t *doc = NULL;
        struct httpc_response resp = {};
        const char *ct, *mt;
        char *semi;
        int r;

        if (!url || !what)
                return -ENOMEM;
        r = request(s, url, true, NULL, NULL, &resp, err);
        if (r < 0)
                return r;
        if (resp.status != 200) {
                r = status_error(s, what, &resp, err);
                httpc_response_release(&resp);
                return r;
        }
        ct = resp.captured[CAP_CONTENT_TYPE];
        doc = json_loadb(resp.body, resp.len, 0, NULL);
        mt = json_string_value(json_object_get(doc, "mediaType"));
        if (!mt || !*mt)
                mt = ct && strstr(ct, "+json") ? ct : "application/vnd.oci.image.manifest.v1+json";
        *ret_media_type = strdup(mt);
        if (!*ret_media_type) {
                httpc_response_release(&resp);
                return -ENOMEM;
        }
        semi = strchr(*ret_media_type, ';');
        if (semi)
                *semi = '\0';
        if (ret_digest) {
                const char *d = resp.captured[CAP_DIGEST];
                *ret_digest = d && digest_ok(d) ? strdup(d) : NULL;
        }
        *ret_body = TAKE_PTR(resp.body);
        *ret_len = resp.len;
        httpc_response_release(&resp);
        return 0;
}

/* Resolve a Location against the URL it came from: absolute, or
 * "/path" on the same origin. */
static char *location_resolve(const char *from, const char *loc)
{
        const char *p;

        if (strncasecmp(loc, "http://", 7) == 0 || strncasecmp(loc, "https://", 8) == 0)
                return strdup(loc);
        if (loc[0] != '/' || loc[1] == '/')
                return NULL;
        p = strstr(from, "://");
        p = p ? strchr(p + 3, '/') : NULL;
        return p ? xasprintf("%.*s%s", (int) (p - from), from, loc) : xasprintf("%s%s", from, loc);
}

/* Does url's host resolve to at least one address the policy allows? The
 * transport checks the address it connects to again (a name cannot answer
 * differently in between); this check says why up front, whatever the
 * transport can do with the scheme. 1 yes, 0 no, -errno. */
static int url_host_allowed(const char *url, bool (*ok)(const struct sockaddr *, socklen_t, void *), void *data)
{
        _cleanup_free_ char *host = NULL;
        struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *ais = NULL;
        const char *h = strstr(url, "://"), *end;
        int n = 0;

        if (!ok)
                return 1;
        if (!h)
                return -EINVAL;
        h += 3;
        if (*h == '[') {
                end = strchr(++h, ']');
        } else {
                end = h + strcspn(h, ":/?#");
        }
        if (!end || end == h)
                return -EINVAL;
        host = strndup(h, (size_t) (end - h));
        if (!host)
                return -ENOMEM;
        if (getaddrinfo(host, NULL, &hints, &ais) != 0)
                return 1; /* unresolvable: the transport says so */
        for (const struct addrinfo *ai = ais; ai; ai = ai->ai_next)
                n += ok(ai->ai_addr, ai->ai_addrlen, data) ? 1 : 0;
        freeaddrinfo(ais);
        return n > 0;
}

/* A blob redirect: https only, the outbound policy on its address, no
 * credentials. Follows further redirects the same way. */
static int follow_redirects(struct registry_session *s, const char *digest, char *location, const char *from,
                            int (*sink)(void *, const void *, size_t), void *sink_data, struct sf_err *err)
{
        _cleanup_free_ char *url = location_resolve(from, location);

        for (int hops = 0;; hops++) {
                struct httpc_response resp = {};
                char *next;
                int r;

                if (!url)
                        return sf_err_set(err, -EPROTO, "registry %s: blob %s: a redirect to a bad location", s->registry,
                                          digest);
                if (hops >= REDIRECTS_MAX)
                        return sf_err_set(err, -EPROTO, "registry %s: blob %s: more than %d redirects", s->registry,
                                          digest, REDIRECTS_MAX);
                if (strncasecmp(url, "https://", 8) != 0)
                        return sf_err_set(err, -EACCES,
                                          "registry %s: blob %s: redirect to '%.200s' refused: blob redirects are "
                                          "followed to https:// only",
                                          s->registry, digest, url);
                r = url_host_allowed(url, s->o.redirect_addr_ok, s->o.addr_data);
                if (r < 0)
                        return sf_err_set(err, -EPROTO, "registry %s: blob %s: a redirect to a bad location",
                                          s->registry, digest);
                if (r == 0)
                        return sf_err_set(err, -EACCES,
                                          "registry %s: blob %s: redirect to '%.200s' refused: its address is not "
                                          "allowed",
                                          s->registry, digest, url);
                {
                        _cleanup_free_ char *peer = xasprintf("the blob location of registry %s", s->registry);
                        struct httpc_request req = {
                                .method = "GET",
                                .url = url,
                                .peer = peer ? peer : "a blob location",
                                .idle_timeout_ms = s->o.idle_timeout_ms,
                                .cancel_fd = s->o.cancel_fd,
                                .sink_fn = sink,
                                .sink_data = sink_data,
                                .capture = captures,
                                .n_capture = ELEMENTSOF(captures),
                                .addr_ok = s->o.redirect_addr_ok,
                                .addr_data = s->o.addr_data,
                                .cacert = s->o.cacert,
                                .cacert_and_system = true,
                                .verify_hint = REGISTRY_VERIFY_HINT,
                        };
                        r = s->o.transport(&req, &resp, err);
                }
                if (r == -EACCES)
                        return sf_err_set(err, r, "registry %s: blob %s: redirect to '%.200s' refused: its address is "
                                          "not allowed",
                                          s->registry, digest, url);
                if (r < 0)
                        return r;
                if (resp.status == 200) {
                        httpc_response_release(&resp);
                        return 0;
                }
                if (!is_redirect(resp.status) || !resp.captured[CAP_LOCATION]) {
                        r = status_error(s, digest, &resp, err);
                        httpc_response_release(&resp);
                        return r;
                }
                next = location_resolve(url, resp.captured[CAP_LOCATION]);
                httpc_response_release(&resp);
                free(url);
                url = next;
        }
}

int registry_get_blob(struct registry_session *s, const char *digest, int (*sink)(void *data, const void *buf, size_t n),
                      void *sink_data, struct sf_err *err)
{
        _cleanup_free_ char *url = xasprintf("%s/v2/%s/blobs/%s", s->base, s->repository, digest);
        _cleanup_free_ char *what = xasprintf("blob %s", digest);
        struct httpc_response resp = {};
        int r;

        if (!url || !what)
                return -ENOMEM;
        r = request(s, url, false, sink, sink_data, &resp, err);
        if (r < 0)
                return r;
        if (resp.status == 200) {
                httpc_response_release(&resp);
                return 0;
        }
        if (is_redirect(resp.status) && resp.captured[CAP_LOCATION]) {
                _cleanup_free_ char *loc = strdup(resp.captured[CAP_LOCATION]);
                httpc_response_release(&resp);
                if (!loc)
                        return -ENOMEM;
                return follow_redirects(s, digest, loc, url, sink, sink_data, err);
        }
        r = status_error(s, what, &resp, err);
        httpc_response_release(&resp);
        return r;
}

/* ---- credentials -------------------------------------------------------- */

static int auth_entry(const json_t *e, char **ret_user, char **ret_password)
{
        const char *auth = json_string_value(json_object_get(e, "auth"));
        const char *u = json_string_value(json_object_get(e, "username"));
        const char *p = json_string_value(json_object_get(e, "password"));

        if (auth && *auth) {
                size_t n = strlen(auth);
                _cleanup_(free_secretp) char *plain = calloc(n / 4 * 3 + 4, 1);
                char *colon;
                int len;

                if (!plain)
                        return -ENOMEM;
                len = EVP_DecodeBlock((unsigned char *) plain, (const unsigned char *) auth, (int) n);
                if (len < 0)
                        return -EINVAL;
                colon = strchr(plain, ':');
                if (!colon)
                        return -EINVAL;
                *colon = '\0';
                *ret_user = strdup(plain);
                *ret_password = strdup(colon + 1);
        } else if (u && p) {
                *ret_user = strdup(u);
                *ret_password = strdup(p);
        } else
                return 0;
        if (!*ret_user || !*ret_password) {
                free(*ret_user);
                free_secret(*ret_password);
                return -ENOMEM;
        }
        return 1;
}

int registry_auths_lookup(const char *config_json, const char *registry, char **ret_user, char **ret_password)
{
        _cleanup_(json_decrefp) json_t *doc = json_loads(config_json ? config_json : "{}", 0, NULL);
        const json_t *auths = json_object_get(doc, "auths");
        const char *k;
        json_t *v;

        if (!doc)
                return -EINVAL;
        json_object_foreach((json_t *) auths, k, v) {
                const char *key = k;
                size_t n;

                /* "https://host/v1/" and "host" name the same registry. */
                if (strncmp(key, "https://", 8) == 0)
                        key += 8;
                else if (strncmp(key, "http://", 7) == 0)
                        key += 7;
                n = strcspn(key, "/");
                if ((n == strlen(registry) && strncmp(key, registry, n) == 0) ||
                    (strcmp(registry, DOCKER_HUB) == 0 && n == 15 && strncmp(key, "index.docker.io", 15) == 0))
                        return auth_entry(v, ret_user, ret_password);
        }
        return 0;
}
