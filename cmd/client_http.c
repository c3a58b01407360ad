/* SPDX-License-Identifier: MIT */
/* The client's HTTP calls over libcurl; see cmd/client_http.h. */
#include "cmd/client_http.h"

#include <curl/curl.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/client.h"
#include "core/base/cleanup.h"
#include "core/base/util.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(CURL *, curl_easy_cleanup)
DEFINE_TRIVIAL_CLEANUP_FUNC(struct curl_slist *, curl_slist_free_all)

/* Ceilings (STYLE.md rule 9): what the gateway may make us hold in memory. */
#define RESPONSE_MAX (64u << 20)  /* an API answer (function and image lists) */
#define ERROR_BODY_MAX (64u << 10) /* an error body of a sunk call: only its first line is shown */
#define PASSWORD_MAX 4096

static bool curl_ready;

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

int client_init(struct client *c, const char *gateway, const char *password_file, bool need_password,
                long timeout_ms, struct sf_err *err)
{
        _cleanup_free_ char *gw = NULL, *pw = NULL;
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
        if (need_password) {
                r = load_password(password_file, &pw, err);
                if (r < 0)
                        return r;
        }
        if (!curl_ready) {
                if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
                        return sf_err_set(err, -EIO, "cannot initialise libcurl");
                curl_ready = true;
        }
        c->gateway = TAKE_PTR(gw);
        c->password = TAKE_PTR(pw);
        c->timeout_ms = timeout_ms;
        return 0;
}

void client_release(struct client *c)
{
        if (!c)
                return;
        free(c->gateway);
        if (c->password) {
                explicit_bzero(c->password, strlen(c->password));
                free(c->password);
        }
        c->gateway = c->password = NULL;
        if (curl_ready) {
                curl_global_cleanup();
                curl_ready = false;
        }
}

void client_response_release(struct client_response *r)
{
        if (!r)
                return;
        free(r->body);
        r->body = NULL;
        r->len = 0;
}

/* Where the body goes: decided at the first byte, when the status is known. */
struct receiver {
        CURL *h;
        FILE *sink;
        bool decided, to_sink;
        char *buf;
        size_t len, cap, max;
        bool truncated, too_large;
        int write_errno;
};

static size_t on_body(char *data, size_t size, size_t nmemb, void *userdata)
{
        struct receiver *rc = userdata;
        size_t n = size * nmemb; /* curl guarantees size == 1 */

        if (!rc->decided) {
                long code = 0;
                (void) curl_easy_getinfo(rc->h, CURLINFO_RESPONSE_CODE, &code);
                rc->to_sink = rc->sink && code >= 200 && code < 300;
                rc->max = rc->sink ? ERROR_BODY_MAX : RESPONSE_MAX;
                rc->decided = true;
        }
        if (rc->to_sink) {
                if (fwrite(data, 1, n, rc->sink) != n) {
                        rc->write_errno = errno ? errno : EIO;
                        return 0;
                }
                return n;
        }
        if (n > rc->max - rc->len) {
                if (!rc->sink) {
                        rc->too_large = true;
                        return 0; /* abort: CURLE_WRITE_ERROR */
                }
                rc->truncated = true;
                n = rc->max - rc->len; /* keep the start, swallow the rest */
                if (n == 0)
                        return size * nmemb;
        }
        if (rc->len + n + 1 > rc->cap) {
                size_t cap = rc->cap ? rc->cap : 4096;
                char *nb;
                while (cap < rc->len + n + 1)
                        cap *= 2;
                nb = realloc(rc->buf, cap);
                if (!nb) {
                        rc->write_errno = ENOMEM;
                        return 0;
                }
                rc->buf = nb;
                rc->cap = cap;
        }
        memcpy(rc->buf + rc->len, data, n);
        rc->len += n;
        rc->buf[rc->len] = '\0';
        return size * nmemb;
}

struct sender {
        FILE *f;
        int read_errno;
};

static size_t on_upload(char *buf, size_t size, size_t nitems, void *userdata)
{
        struct sender *s = userdata;
        size_t n = fread(buf, 1, size * nitems, s->f);

        if (n == 0 && ferror(s->f)) {
                s->read_errno = errno ? errno : EIO;
                return CURL_READFUNC_ABORT;
        }
        return n;
}

/* Turn a transport failure into the one line a person needs. */
static int transport_error(struct client *c, CURL *h, CURLcode cc, const char *errbuf,
                           const struct receiver *rc, const struct sender *sd, struct sf_err *err)
{
        const char *detail = errbuf[0] ? errbuf : curl_easy_strerror(cc);
        long os_errno = 0;

        switch (cc) {
        case CURLE_COULDNT_CONNECT:
                (void) curl_easy_getinfo(h, CURLINFO_OS_ERRNO, &os_errno);
                if (os_errno > 0)
                        return sf_err_set(err, -ECONNREFUSED, "cannot reach gateway %s: %s", c->gateway,
                                          strerror((int) os_errno));
                return sf_err_set(err, -ECONNREFUSED, "cannot reach gateway %s: %s", c->gateway, detail);
        case CURLE_COULDNT_RESOLVE_HOST:
                return sf_err_set(err, -EHOSTUNREACH, "cannot reach gateway %s: cannot resolve host", c->gateway);
        case CURLE_OPERATION_TIMEDOUT:
                return sf_err_set(err, -ETIMEDOUT, "gateway %s did not answer within %ld.%03ld s (see --timeout)",
                                  c->gateway, c->timeout_ms / 1000, c->timeout_ms % 1000);
        case CURLE_WRITE_ERROR:
                if (rc->too_large)
                        return sf_err_set(err, -EFBIG, "the answer of gateway %s is larger than %u MiB",
                                          c->gateway, RESPONSE_MAX >> 20);
                if (rc->write_errno == ENOMEM)
                        return -ENOMEM;
                return sf_err_set(err, -rc->write_errno, "cannot write the answer: %s",
                                  strerror(rc->write_errno));
        case CURLE_READ_ERROR:
        case CURLE_ABORTED_BY_CALLBACK:
                if (sd->read_errno)
                        return sf_err_set(err, -sd->read_errno, "cannot read the request body: %s",
                                          strerror(sd->read_errno));
                return sf_err_set(err, -EIO, "gateway %s: %s", c->gateway, detail);
        case CURLE_GOT_NOTHING:
        case CURLE_RECV_ERROR:
        case CURLE_SEND_ERROR:
        case CURLE_PARTIAL_FILE:
                return sf_err_set(err, -ECONNRESET, "gateway %s broke the connection: %s", c->gateway, detail);
        default:
                return sf_err_set(err, -EIO, "gateway %s: %s", c->gateway, detail);
        }
}

int client_do(struct client *c, const struct client_request *req, struct client_response *ret, struct sf_err *err)
{
        _cleanup_(curl_easy_cleanupp) CURL *h = NULL;
        _cleanup_(curl_slist_free_allp) struct curl_slist *hdrs = NULL;
        _cleanup_free_ char *url = NULL, *ctype = NULL;
        struct receiver rc = { .sink = req->sink };
        struct sender sd = { .f = req->upload };
        char errbuf[CURL_ERROR_SIZE] = "";
        struct curl_slist *t;
        CURLcode cc;
        long status = 0;
        double secs = 0;
        int r;

        r = client_url(c->gateway, req->path, req->query, req->n_query, &url);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return sf_err_set(err, r, "cannot build a URL from gateway '%s' and '%s'", c->gateway, req->path);

        h = curl_easy_init();
        if (!h)
                return -ENOMEM;
        rc.h = h;

        /* "Expect:" off: the body goes at once, no 100-continue round trip. */
        t = curl_slist_append(hdrs, "Expect:");
        if (!t)
                return -ENOMEM;
        hdrs = t;
        if (req->content_type) {
                ctype = xasprintf("Content-Type: %s", req->content_type);
                if (!ctype || !(t = curl_slist_append(hdrs, ctype)))
                        return -ENOMEM;
                hdrs = t;
        }
        for (size_t i = 0; i < req->n_headers; i++) {
                if (!(t = curl_slist_append(hdrs, req->headers[i])))
                        return -ENOMEM;
                hdrs = t;
        }

        (void) curl_easy_setopt(h, CURLOPT_URL, url);
        (void) curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
        (void) curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
        (void) curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        (void) curl_easy_setopt(h, CURLOPT_USERAGENT, "sfaasd/" SFAASD_VERSION);
        (void) curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
        (void) curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
        (void) curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->timeout_ms);
        (void) curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                                c->timeout_ms > 0 && c->timeout_ms < 10000 ? c->timeout_ms : 10000L);
        (void) curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
        (void) curl_easy_setopt(h, CURLOPT_WRITEDATA, &rc);
        if (req->auth && c->password) {
                (void) curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long) CURLAUTH_BASIC);
                (void) curl_easy_setopt(h, CURLOPT_USERNAME, "admin");
                (void) curl_easy_setopt(h, CURLOPT_PASSWORD, c->password);
        }

        if (req->upload) {
                (void) curl_easy_setopt(h, CURLOPT_POST, 1L);
                (void) curl_easy_setopt(h, CURLOPT_READFUNCTION, on_upload);
                (void) curl_easy_setopt(h, CURLOPT_READDATA, &sd);
                (void) curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) req->upload_len);
                if (strcmp(req->method, "POST") != 0)
                        (void) curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req->method);
        } else if (req->has_body) {
                (void) curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) req->body_len);
                (void) curl_easy_setopt(h, CURLOPT_POSTFIELDS, req->body ? req->body : "");
                if (strcmp(req->method, "POST") != 0)
                        (void) curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req->method);
        } else if (strcmp(req->method, "HEAD") == 0) {
                (void) curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
        } else if (strcmp(req->method, "GET") != 0) {
                (void) curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req->method);
        }

        cc = curl_easy_perform(h);
        if (cc != CURLE_OK) {
                free(rc.buf);
                return transport_error(c, h, cc, errbuf, &rc, &sd, err);
        }
        (void) curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        (void) curl_easy_getinfo(h, CURLINFO_TOTAL_TIME, &secs);
        if (!rc.buf) {
                rc.buf = strdup("");
                if (!rc.buf)
                        return -ENOMEM;
        }
        *ret = (struct client_response) {
                .status = status,
                .body = rc.buf,
                .len = rc.len,
                .truncated = rc.truncated,
                .seconds = secs,
        };
        return 0;
}
