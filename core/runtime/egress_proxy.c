/* SPDX-License-Identifier: MIT */
/* The egress proxy of one sandbox: see core/runtime/egress_proxy.h. */
#include "core/runtime/egress_proxy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <llhttp.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/http.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <openssl/crypto.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "core/base/buf.h"
#include "core/base/cleanup.h"
#include "core/base/list.h"
#include "core/base/log.h"
#include "core/base/util.h"
#include "core/runtime/egress_tunnel.h"

#define READ_SIZE 65536
#define ADDRS_MAX 16
#define QUEUE_HIGH (1u << 20)   /* stop reading the other side above this many queued bytes */
#define PENDING_MAX (256u << 10) /* bytes from the function held while the destination is not yet connected */
#define TUNNEL_COPY_MAX (64u << 10) /* bytes a tunnel copies before it goes to the splice relay */

struct egress_proxy {
        uv_loop_t *loop;
        uv_tcp_t listener;
        struct egress_grant grant;
        struct egress_policy policy;     /* a copy of the operator's */
        char *resolve_file, *ca_file;
        SSL_CTX *tls;            /* made at the first TLS the proxy originates */
        struct egress_host_cache hosts; /* the host's addresses; fd -1: read at each decision */
        char *ns, *function, *call_id;
        uint64_t max_conns, max_bytes, max_open;
        uint64_t connect_timeout_ms;
        uint64_t n_conns, n_bytes, n_open;
        egress_report_fn report;
        egress_secret_fn secret;
        void *data;
        struct list_head conns;
        struct fwd *fwds;        /* the port forwards' listeners */
        size_t n_fwds;
        int refs;                /* the listeners + live connections */
        bool stopping;
};

enum cstate { C_HEAD = 0, C_RESOLVING, C_CONNECTING, C_RELAY, C_CLOSING };

struct econn {
        struct list_node node;
        struct egress_proxy *px;
        uv_tcp_t client, up;
        bool up_open;
        int refs;                /* open handles + a getaddrinfo in flight */
        enum cstate state;
        llhttp_t parser;
        bool is_connect, head_done, msg_done, chunked;
        struct buf url, field, value, headers; /* headers: the kept ones, as "Name: value\r\n" */
        size_t head_bytes;
        struct buf pending;      /* for the destination, held until it is connected */
        char host[EGRESS_HOST_MAX + 2];
        char path[8192];
        uint16_t port;
        const struct egress_rule *inject; /* the grant entry whose secret goes with this request */
        SSL *ssl;                /* TLS the proxy originates (inject); NULL otherwise */
        bool tls_ready;
        uv_getaddrinfo_t gai;
        struct sockaddr_storage addrs[ADDRS_MAX];
        size_t n_addrs, next_addr;
        char address[INET6_ADDRSTRLEN];
        uv_connect_t creq;
        uv_timer_t timer;        /* the connect timeout (and a TLS handshake's) */
        bool timer_open;
        uint64_t connect_deadline; /* uv_now() ms */
        bool client_eof, up_eof, client_paused, up_paused, reported, answered;
        bool forward;            /* from a port forward: a tunnel to its entry's destination, no head */
        int n_writes;            /* uv_write()s not yet called back */
        bool tunnel_wanted;      /* a byte tunnel: to the splice relay once no write is queued */
        bool tunnel_on;          /* tun holds the sockets; client and up are closed */
        struct egress_tunnel tun;
        uint64_t up_bytes, down_bytes, t0;
        const char *verdict;
        char reason[256];
};

/* A port forward's listener: 127.0.0.1:PORT in the sandbox to one entry. */
struct fwd {
        uv_tcp_t h;
        struct egress_proxy *px;
        size_t rule;
        bool open;
};

struct ewrite {
        uv_write_t w;
        struct econn *c;
        bool to_client;
        char *base;
        size_t len;
};

static llhttp_settings_t settings;

static void conn_close(struct econn *c);
static void up_send(struct econn *c, const char *p, size_t n);

/* ---- lifetime ---- */

static void proxy_unref(struct egress_proxy *px)
{
        if (--px->refs > 0)
                return;
        egress_grant_release(&px->grant);
        egress_policy_release(&px->policy);
        egress_host_cache_close(&px->hosts);
        free(px->resolve_file);
        free(px->ca_file);
        SSL_CTX_free(px->tls);
        free(px->ns);
        free(px->function);
        free(px->call_id);
        free(px->fwds);
        free(px);
}

static void conn_unref(struct econn *c)
{
        struct egress_proxy *px = c->px;

        if (--c->refs > 0)
                return;
        list_del(&c->node);
        px->n_open--;
        buf_release(&c->url);
        buf_release(&c->field);
        buf_release(&c->value);
        buf_wipe(&c->headers);
        buf_wipe(&c->pending);
        SSL_free(c->ssl);
        free(c);
        proxy_unref(px);
}

static void on_handle_closed(uv_handle_t *h)
{
        conn_unref(h->data);
}

static void report(struct econn *c)
{
        struct egress_proxy *px = c->px;
        struct egress_report r;

        if (c->reported || !px->report)
                return;
        c->reported = true;
        r = (struct egress_report) {
                .ns = px->ns, .function = px->function, .call_id = px->call_id, .dest = c->host,
                .address = c->address, .port = c->port, .verdict = c->verdict ? c->verdict : "error",
                .reason = c->reason, .bytes_up = c->up_bytes, .bytes_down = c->down_bytes,
                .seconds = (double) (now_ns() - c->t0) / 1e9, .is_connect = c->is_connect,
        };
        px->report(px->data, &r);
}

static void conn_close(struct econn *c)
{
        if (c->state == C_CLOSING)
                return;
        if (c->state == C_RESOLVING)
                (void) uv_cancel((uv_req_t *) &c->gai);
        c->state = C_CLOSING;
        report(c);
        if (c->tunnel_on)
                egress_tunnel_close(&c->tun);
        if (!uv_is_closing((uv_handle_t *) &c->client))
                uv_close((uv_handle_t *) &c->client, on_handle_closed);
        if (c->up_open && !uv_is_closing((uv_handle_t *) &c->up))
                uv_close((uv_handle_t *) &c->up, on_handle_closed);
        if (c->timer_open && !uv_is_closing((uv_handle_t *) &c->timer))
                uv_close((uv_handle_t *) &c->timer, on_handle_closed);
}

/* ---- writes ---- */

static void on_read_client(uv_stream_t *s, ssize_t n, const uv_buf_t *b);
static void on_read_up(uv_stream_t *s, ssize_t n, const uv_buf_t *b);
static void tunnel_begin(struct econn *c);
static void tunnel_maybe(struct econn *c);

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
        b->base = malloc(READ_SIZE);
        b->len = b->base ? READ_SIZE : 0;
}

static void on_written(uv_write_t *w, int status)
{
        struct ewrite *ew = (struct ewrite *) w;
        struct econn *c = ew->c;
        bool to_client = ew->to_client;

        /* Bytes for the destination may hold an injected secret. */
        if (!to_client)
                OPENSSL_cleanse(ew->base, ew->len);
        free(ew->base);
        free(ew);
        c->n_writes--;
        if (c->state == C_CLOSING)
                return;
        if (status < 0) {
                conn_close(c);
                return;
        }
        if (c->tunnel_wanted) {
                if (c->n_writes == 0)
                        tunnel_begin(c);
                return;
        }
        /* Below the mark again: the side that was paused reads on. */
        if (to_client && c->up_paused && c->client.write_queue_size < QUEUE_HIGH / 4) {
                c->up_paused = false;
                (void) uv_read_start((uv_stream_t *) &c->up, alloc_cb, on_read_up);
        } else if (!to_client && c->client_paused && c->up.write_queue_size < QUEUE_HIGH / 4) {
                c->client_paused = false;
                (void) uv_read_start((uv_stream_t *) &c->client, alloc_cb, on_read_client);
        }
}

/* Write base[0, n) (owned from now on, freed after) to one side. */
static int send_owned(struct econn *c, bool to_client, char *base, size_t n)
{
        struct ewrite *ew;
        uv_buf_t b = uv_buf_init(base, (unsigned) n);
        int r;

        if (n == 0) {
                free(base);
                return 0;
        }
        ew = calloc(1, sizeof *ew);
        if (!ew) {
                free(base);
                return -ENOMEM;
        }
        ew->c = c;
        ew->to_client = to_client;
        ew->base = base;
        ew->len = n;
        r = uv_write(&ew->w, (uv_stream_t *) (to_client ? &c->client : &c->up), &b, 1, on_written);
        if (r < 0) {
                free(base);
                free(ew);
                return r;
        }
        c->n_writes++;
        return 0;
}

static int send_copy(struct econn *c, bool to_client, const char *p, size_t n)
{
        char *copy;

        if (n == 0)
                return 0;
        copy = malloc(n);
        if (!copy)
                return -ENOMEM;
        memcpy(copy, p, n);
        return send_owned(c, to_client, copy, n);
}

/* What TLS has for the destination goes out. */
static int tls_flush(struct econn *c)
{
        BIO *w = SSL_get_wbio(c->ssl);
        size_t n;

        while ((n = BIO_ctrl_pending(w)) > 0) {
                char *b = malloc(n);
                int got;
                if (!b)
                        return -ENOMEM;
                got = BIO_read(w, b, (int) n);
                if (got <= 0) {
                        free(b);
                        return -EIO;
                }
                if (send_owned(c, false, b, (size_t) got) < 0)
                        return -EIO;
        }
        return 0;
}

/* Bytes for the connected destination (owned; wiped and freed after):
 * through TLS when the proxy originates it. */
static int up_write_owned(struct econn *c, char *base, size_t n)
{
        int r;

        if (!c->ssl)
                return send_owned(c, false, base, n);
        r = n == 0 || SSL_write(c->ssl, base, (int) n) == (int) n ? tls_flush(c) : -EIO;
        OPENSSL_cleanse(base, n);
        free(base);
        return r;
}

/* Count bytes against the proxy's cap; false (the connection closed) past it. */
static bool account(struct econn *c, size_t n, bool up)
{
        struct egress_proxy *px = c->px;

        if (up)
                c->up_bytes += n;
        else
                c->down_bytes += n;
        px->n_bytes += n;
        if (px->max_bytes && px->n_bytes > px->max_bytes) {
                c->verdict = "cap";
                (void) xsnprintf(c->reason, sizeof c->reason, "the function's egress byte cap (%llu) is reached",
                                 (unsigned long long) px->max_bytes);
                conn_close(c);
                return false;
        }
        return true;
}

/* Bytes for the destination: held until it is connected, then written. */
static void up_send(struct econn *c, const char *p, size_t n)
{
        if (c->state == C_CLOSING || n == 0)
                return;
        if (c->state != C_RELAY) {
                if (buf_append(&c->pending, p, n) < 0)
                        conn_close(c);
                return;
        }
        if (!account(c, n, true))
                return;
        {
                char *copy = malloc(n);
                if (!copy) {
                        conn_close(c);
                        return;
                }
                memcpy(copy, p, n);
                if (up_write_owned(c, copy, n) < 0)
                        conn_close(c);
        }
}

/* An answer of the proxy itself, then the end of the connection. */
static void on_answer_shutdown(uv_shutdown_t *s, int status)
{
        struct econn *c = s->data;
        free(s);
        conn_close(c);
        conn_unref(c);
}

static void answer(struct econn *c, int status, const char *verdict, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
static void answer(struct econn *c, int status, const char *verdict, const char *fmt, ...)
{
        const char *text = status == 403 ? "Forbidden" : status == 400 ? "Bad Request" : status == 429 ? "Too Many Requests"
                           : status == 502 ? "Bad Gateway" : status == 504 ? "Gateway Timeout" : "Error";
        char *msg = NULL;
        uv_shutdown_t *sd;
        va_list ap;

        if (c->state == C_CLOSING)
                return;
        va_start(ap, fmt);
        (void) vsnprintf(c->reason, sizeof c->reason, fmt, ap);
        va_end(ap);
        c->verdict = verdict;
        log_debug("egress %s.%s: %s", c->px->function, c->px->ns, c->reason);
        msg = xasprintf("HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nConnection: close\r\n"
                        "Content-Length: %zu\r\nX-Sfaasd-Egress: %s\r\n\r\n%s\n",
                        status, text, strlen(c->reason) + 1, verdict, c->reason);
        report(c);
        if (c->forward) {
                /* A forward's client speaks no HTTP: the end is the answer. */
                free(msg);
                conn_close(c);
                return;
        }
        c->answered = true; /* nothing more is read */
        (void) uv_read_stop((uv_stream_t *) &c->client);
        if (!msg || send_owned(c, true, msg, strlen(msg)) < 0 || !(sd = calloc(1, sizeof *sd))) {
                conn_close(c);
                return;
        }
        sd->data = c;
        c->refs++;
        if (uv_shutdown(sd, (uv_stream_t *) &c->client, on_answer_shutdown) < 0) {
                free(sd);
                conn_unref(c);
                conn_close(c);
        }
}

/* ---- the request head (llhttp) ---- */

static struct econn *conn_of(llhttp_t *p)
{
        return p->data;
}

static int on_url(llhttp_t *p, const char *at, size_t n)
{
        return buf_append(&conn_of(p)->url, at, n) < 0 ? -1 : 0;
}

static int on_field(llhttp_t *p, const char *at, size_t n)
{
        return buf_append(&conn_of(p)->field, at, n) < 0 ? -1 : 0;
}

static int on_value(llhttp_t *p, const char *at, size_t n)
{
        return buf_append(&conn_of(p)->value, at, n) < 0 ? -1 : 0;
}

/* Hop-by-hop headers and those the proxy sets itself go; the rest is kept. */
static int on_value_complete(llhttp_t *p)
{
        static const char *const drop[] = { "Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authorization",
                                            "Proxy-Authenticate", "TE", "Upgrade", "Host", "Trailer" };
        struct econn *c = conn_of(p);
        const char *f = c->field.p ? c->field.p : "";
        bool keep = true;

        for (size_t i = 0; i < ELEMENTSOF(drop); i++)
                if (strcasecmp(f, drop[i]) == 0)
                        keep = false;
        /* The grant's injected header is the proxy's alone: a copy the
         * function sends is dropped for every destination. */
        for (size_t i = 0; keep && i < c->px->grant.n; i++) {
                const struct egress_rule *r = &c->px->grant.v[i];
                if (r->secret[0] && strcasecmp(f, r->header[0] ? r->header : "Authorization") == 0)
                        keep = false;
        }
        if (keep && buf_printf(&c->headers, "%s: %s\r\n", f, c->value.p ? c->value.p : "") < 0)
                return -1;
        buf_reset(&c->field);
        buf_reset(&c->value);
        return 0;
}

static int on_headers_complete(llhttp_t *p)
{
        struct econn *c = conn_of(p);

        c->head_done = true;
        c->is_connect = p->method == HTTP_CONNECT;
        c->chunked = (p->flags & F_CHUNKED) != 0;
        return 0;
}

static int on_body(llhttp_t *p, const char *at, size_t n)
{
        struct econn *c = conn_of(p);
        char size[24];

        if (c->chunked) {
                (void) xsnprintf(size, sizeof size, "%zx\r\n", n);
                up_send(c, size, strlen(size));
                up_send(c, at, n);
                up_send(c, "\r\n", 2);
        } else {
                up_send(c, at, n);
        }
        return c->state == C_CLOSING ? -1 : 0;
}

static int on_message_complete(llhttp_t *p)
{
        struct econn *c = conn_of(p);

        if (c->chunked)
                up_send(c, "0\r\n\r\n", 5);
        if (c->is_connect)
                return 0; /* llhttp stops with HPE_PAUSED_UPGRADE: the tunnel's bytes follow */
        c->msg_done = true;
        /* One request per connection: anything after it is not parsed (a
         * second request could name another host than the one checked). */
        return HPE_PAUSED;
}

static void settings_init(void)
{
        static bool done;

        if (done)
                return;
        llhttp_settings_init(&settings);
        settings.on_url = on_url;
        settings.on_header_field = on_field;
        settings.on_header_value = on_value;
        settings.on_header_value_complete = on_value_complete;
        settings.on_headers_complete = on_headers_complete;
        settings.on_body = on_body;
        settings.on_message_complete = on_message_complete;
        done = true;
}

/* ---- the decision ---- */

/* The ranges of the grant that apply on port. */
static size_t granted_nets(const struct egress_grant *g, uint16_t port, struct egress_net *out, size_t max)
{
        size_t n = 0;
        for (size_t i = 0; i < g->n && n < max; i++)
                if (g->v[i].kind == EGRESS_NET && (g->v[i].port == 0 || g->v[i].port == port))
                        out[n++] = g->v[i].net;
        return n;
}

static void addr_text(const struct sockaddr *sa, char out[INET6_ADDRSTRLEN])
{
        const void *a = sa->sa_family == AF_INET ? (const void *) &((const struct sockaddr_in *) sa)->sin_addr
                                                 : (const void *) &((const struct sockaddr_in6 *) sa)->sin6_addr;
        if (!inet_ntop(sa->sa_family, a, out, INET6_ADDRSTRLEN))
                (void) xsnprintf(out, INET6_ADDRSTRLEN, "?");
}

static socklen_t sa_len(const struct sockaddr *sa)
{
        return sa->sa_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
}

/* Every address of the answer passes, or the destination is refused. */
static bool check_addresses(struct econn *c)
{
        struct egress_proxy *px = c->px;
        struct egress_net nets[EGRESS_ENTRIES_MAX];
        size_t nn = granted_nets(&px->grant, c->port, nets, ELEMENTSOF(nets));
        struct egress_host fresh = { 0 };
        const struct egress_host *host = &fresh;
        bool ok = true;
        int r;

        /* The host's addresses now: one added a moment ago counts (the
         * cache hears of it before this). Unreadable: refuse rather than
         * guess. */
        r = px->hosts.fd >= 0 ? egress_host_cache_get(&px->hosts, &host) : egress_host_read(&fresh);
        if (r < 0) {
                answer(c, 403, "denied", "egress to %s:%u denied: cannot read this host's addresses", c->host,
                       (unsigned) c->port);
                return false;
        }
        for (size_t i = 0; ok && i < c->n_addrs; i++) {
                const struct sockaddr *sa = (const struct sockaddr *) &c->addrs[i];
                const char *why = egress_refused_grant(&px->policy, host, nets, nn, sa, sa_len(sa));
                if (why) {
                        char a[INET6_ADDRSTRLEN];
                        addr_text(sa, a);
                        (void) xsnprintf(c->address, sizeof c->address, "%s", a);
                        answer(c, 403, "denied", "egress to %s:%u denied: %s is %s", c->host, (unsigned) c->port, a,
                               why);
                        ok = false;
                }
        }
        egress_host_release(&fresh);
        return ok;
}

static void try_connect(struct econn *c);
static void half_close(struct econn *c, bool to_client);

/* Pinned answers: the operator's file {"name": ["addr", ...]}; -ENOENT when
 * the name is not in it (or there is no file). */
static int resolve_pinned(struct econn *c)
{
        _cleanup_json_ json_t *j = NULL;
        json_t *list, *e;
        size_t i;

        if (!c->px->resolve_file)
                return -ENOENT;
        j = json_load_file(c->px->resolve_file, JSON_REJECT_DUPLICATES, NULL);
        list = json_object_get(j, c->host);
        if (!json_is_array(list))
                return -ENOENT;
        c->n_addrs = 0;
        json_array_foreach(list, i, e) {
                const char *s = json_string_value(e);
                struct sockaddr_in *s4 = (struct sockaddr_in *) &c->addrs[c->n_addrs];
                struct sockaddr_in6 *s6 = (struct sockaddr_in6 *) &c->addrs[c->n_addrs];
                if (!s || c->n_addrs >= ADDRS_MAX)
                        continue;
                memset(&c->addrs[c->n_addrs], 0, sizeof c->addrs[0]);
                if (inet_pton(AF_INET, s, &s4->sin_addr) == 1) {
                        s4->sin_family = AF_INET;
                        s4->sin_port = htons(c->port);
                        c->n_addrs++;
                } else if (inet_pton(AF_INET6, s, &s6->sin6_addr) == 1) {
                        s6->sin6_family = AF_INET6;
                        s6->sin6_port = htons(c->port);
                        c->n_addrs++;
                }
        }
        return 0;
}

static void on_resolved(uv_getaddrinfo_t *g, int status, struct addrinfo *res)
{
        struct econn *c = g->data;

        if (c->state == C_CLOSING) {
                uv_freeaddrinfo(res);
                conn_unref(c);
                return;
        }
        c->n_addrs = 0;
        for (struct addrinfo *a = status == 0 ? res : NULL; a && c->n_addrs < ADDRS_MAX; a = a->ai_next) {
                if ((a->ai_family != AF_INET && a->ai_family != AF_INET6) || a->ai_addrlen > sizeof c->addrs[0])
                        continue;
                memcpy(&c->addrs[c->n_addrs++], a->ai_addr, a->ai_addrlen);
        }
        uv_freeaddrinfo(res);
        c->state = C_HEAD;
        if (c->n_addrs == 0)
                answer(c, 502, "error", "egress to %s:%u: the name does not resolve (%s)", c->host, (unsigned) c->port,
                       status < 0 ? uv_strerror(status) : "no address");
        else if (check_addresses(c))
                try_connect(c);
        conn_unref(c);
}

/* The request head is complete: decide, then resolve and connect. */
static void route(struct econn *c);

static void decide(struct econn *c)
{
        char *scheme = NULL, *user = NULL, *host = NULL, *port = NULL, *path = NULL, *query = NULL, *frag = NULL;
        const char *url = c->url.p ? c->url.p : "";
        int portnum = 0;

        if (!c->is_connect && !str_startswith(url, "http://") && !str_startswith(url, "HTTP://")) {
                if (url[0] == '/')
                        answer(c, 400, "denied",
                               "egress: a request through the proxy names its destination in the URL "
                               "(http://HOST/...), never in a Host header");
                else
                        answer(c, 400, "denied", "egress: only CONNECT and plain http:// URLs are served");
                return;
        }
        if (!OSSL_parse_url(url, &scheme, &user, &host, &port, &portnum, &path, &query, &frag) || (user && *user) ||
            !host || !*host || strlen(host) >= sizeof c->host - 2 ||
            (c->is_connect ? (scheme && *scheme) || !port || !*port : strcasecmp(scheme, "http") != 0)) {
                answer(c, 400, "denied", "egress: a bad destination '%.200s'", url);
                goto out;
        }
        c->port = (uint16_t) (portnum ? portnum : 80);
        {
                /* [v6] without its brackets, names in lower case */
                size_t n = strlen(host);
                if (host[0] == '[' && n > 2 && host[n - 1] == ']')
                        (void) xsnprintf(c->host, sizeof c->host, "%.*s", (int) (n - 2), host + 1);
                else
                        (void) xsnprintf(c->host, sizeof c->host, "%s", host);
                for (char *p = c->host; *p; p++)
                        if (*p >= 'A' && *p <= 'Z')
                                *p = (char) (*p - 'A' + 'a');
        }
        if (!c->is_connect && xsnprintf(c->path, sizeof c->path, "%s%s%s", path && *path ? path : "/",
                                        query && *query ? "?" : "", query ? query : "") < 0) {
                answer(c, 400, "denied", "egress: the URL is too long");
                goto out;
        }
        route(c);
out:
        OPENSSL_free(scheme);
        OPENSSL_free(user);
        OPENSSL_free(host);
        OPENSSL_free(port);
        OPENSSL_free(path);
        OPENSSL_free(query);
        OPENSSL_free(frag);
}

/* The destination (c->host, c->port) is known: is it granted, where does it
 * resolve to, may those addresses be reached; then connect. */
static void route(struct econn *c)
{
        struct egress_proxy *px = c->px;
        struct sockaddr_storage lit;
        bool literal = false, granted = false;

        memset(&lit, 0, sizeof lit);
        {
                struct sockaddr_in *s4 = (struct sockaddr_in *) &lit;
                struct sockaddr_in6 *s6 = (struct sockaddr_in6 *) &lit;
                if (inet_pton(AF_INET, c->host, &s4->sin_addr) == 1) {
                        s4->sin_family = AF_INET;
                        s4->sin_port = htons(c->port);
                        literal = true;
                } else if (inet_pton(AF_INET6, c->host, &s6->sin6_addr) == 1) {
                        s6->sin6_family = AF_INET6;
                        s6->sin6_port = htons(c->port);
                        literal = true;
                }
        }
        c->inject = NULL;
        /* A plain request to a name whose entry carries a secret: to the
         * entry's port, over TLS the proxy originates. */
        for (size_t i = 0; !c->is_connect && !literal && i < px->grant.n; i++) {
                const struct egress_rule *r = &px->grant.v[i];
                uint16_t tls_port = r->port ? r->port : 443;
                if (r->secret[0] && r->kind == EGRESS_NAME && strcasecmp(r->host, c->host) == 0 &&
                    (c->port == 80 || c->port == tls_port)) {
                        c->inject = r;
                        c->port = tls_port;
                        granted = true;
                        break;
                }
        }
        for (size_t i = 0; !granted && i < px->grant.n; i++) {
                const struct egress_rule *r = &px->grant.v[i];
                bool m = literal ? egress_rule_match_addr(r, (struct sockaddr *) &lit, sa_len((struct sockaddr *) &lit),
                                                          c->port)
                                 : egress_rule_match_name(r, c->host, c->port);
                if (m)
                        granted = true;
        }
        if (!granted) {
                answer(c, 403, "denied", "egress to %s:%u denied: not granted to this function", c->host,
                       (unsigned) c->port);
                return;
        }
        if (!literal && !egress_name_valid(c->host)) {
                answer(c, 403, "denied", "egress to %s:%u denied: not a host name", c->host, (unsigned) c->port);
                return;
        }
        if (px->max_conns && px->n_conns > px->max_conns) {
                answer(c, 429, "cap", "egress to %s:%u refused: the function's egress connection cap (%llu) is reached",
                       c->host, (unsigned) c->port, (unsigned long long) px->max_conns);
                return;
        }
        if (literal) {
                c->addrs[0] = lit;
                c->n_addrs = 1;
                if (check_addresses(c))
                        try_connect(c);
                return;
        }
        if (resolve_pinned(c) == 0) {
                if (c->n_addrs == 0)
                        answer(c, 502, "error", "egress to %s:%u: the name does not resolve", c->host,
                               (unsigned) c->port);
                else if (check_addresses(c))
                        try_connect(c);
                return;
        }
        {
                struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_family = AF_UNSPEC };
                char service[8];
                (void) xsnprintf(service, sizeof service, "%u", (unsigned) c->port);
                c->gai.data = c;
                c->state = C_RESOLVING;
                c->refs++;
                if (uv_getaddrinfo(px->loop, &c->gai, on_resolved, c->host, service, &hints) < 0) {
                        c->refs--;
                        c->state = C_HEAD;
                        answer(c, 502, "error", "egress to %s:%u: cannot resolve", c->host, (unsigned) c->port);
                }
        }
}

/* ---- connecting and relaying ---- */

static void relay_reads(struct econn *c);

static void start_relay(struct econn *c)
{
        struct egress_proxy *px = c->px;
        _cleanup_free_ char *head = NULL;
        char *pend;
        size_t plen;

        c->state = C_RELAY;
        c->verdict = "allowed";
        uv_timer_stop(&c->timer);
        (void) uv_tcp_nodelay(&c->up, 1);
        if (c->is_connect) {
                static const char ok[] = "HTTP/1.1 200 Connection established\r\n\r\n";
                if (!c->forward && send_copy(c, true, ok, sizeof ok - 1) < 0) {
                        conn_close(c);
                        return;
                }
        } else {
                struct buf secret = BUF_INIT(8192);
                _cleanup_free_ char *inj = NULL;
                char hostport[EGRESS_HOST_MAX + 16];
                bool v6 = strchr(c->host, ':') != NULL;
                if (c->port == (c->ssl ? 443 : 80))
                        (void) xsnprintf(hostport, sizeof hostport, v6 ? "[%s]" : "%s", c->host);
                else
                        (void) xsnprintf(hostport, sizeof hostport, v6 ? "[%s]:%u" : "%s:%u", c->host,
                                         (unsigned) c->port);
                if (c->inject) {
                        const char *h = c->inject->header[0] ? c->inject->header : "Authorization";
                        if (!px->secret || px->secret(px->data, c->inject->secret, &secret) < 0 || !secret.p ||
                            strpbrk(secret.p, "\r\n") || strlen(secret.p) != secret.len) {
                                buf_wipe(&secret);
                                answer(c, 502, "error", "egress to %s:%u: secret '%s' is missing or not a header value",
                                       c->host, (unsigned) c->port, c->inject->secret);
                                return;
                        }
                        inj = xasprintf("%s: %s%s\r\n", h, c->inject->header[0] ? "" : "Bearer ", secret.p);
                        buf_wipe(&secret);
                        if (!inj) {
                                conn_close(c);
                                return;
                        }
                        (void) xsnprintf(c->reason, sizeof c->reason, "secret '%s' injected over verified TLS",
                                         c->inject->secret);
                }
                head = xasprintf("%s %s HTTP/1.1\r\nHost: %s\r\n%s%sConnection: close\r\n\r\n",
                                 llhttp_method_name((llhttp_method_t) c->parser.method), c->path, hostport,
                                 c->headers.p ? c->headers.p : "", inj ? inj : "");
                if (inj)
                        OPENSSL_cleanse(inj, strlen(inj));
                if (!head) {
                        conn_close(c);
                        return;
                }
                {
                        size_t hl = strlen(head);
                        if (!account(c, hl, true))
                                return;
                        if (up_write_owned(c, TAKE_PTR(head), hl) < 0) {
                                conn_close(c);
                                return;
                        }
                        /* The head may hold the secret: on_written wipes it. */
                }
        }
        plen = c->pending.len;
        pend = buf_steal(&c->pending, &plen);
        if (pend && plen) {
                if (!account(c, plen, true)) {
                        OPENSSL_cleanse(pend, plen);
                        free(pend);
                        return;
                }
                if (up_write_owned(c, pend, plen) < 0) {
                        conn_close(c);
                        return;
                }
        } else {
                free(pend);
        }
        relay_reads(c);
}

/* The copying relay reads from both sides (plain HTTP, TLS the proxy
 * originates, a tunnel until it goes to the splice relay or when that
 * could not take it). */
static void relay_reads(struct econn *c)
{
        if (!c->ssl && uv_read_start((uv_stream_t *) &c->up, alloc_cb, on_read_up) < 0) {
                conn_close(c);
                return;
        }
        if (c->client_eof) {
                if (c->is_connect)
                        half_close(c, false);
        } else if (c->client_paused) {
                c->client_paused = false;
                if (uv_read_start((uv_stream_t *) &c->client, alloc_cb, on_read_client) < 0)
                        conn_close(c);
        }
}

/* ---- byte tunnels: the splice relay (core/runtime/egress_tunnel.h) ---- */

static size_t tunnel_budget(void *data)
{
        const struct egress_proxy *px = ((struct econn *) data)->px;
        uint64_t left;

        if (!px->max_bytes)
                return SIZE_MAX;
        left = px->n_bytes < px->max_bytes ? px->max_bytes - px->n_bytes : 0;
        return left < SIZE_MAX ? (size_t) left + 1 : SIZE_MAX;
}

static bool tunnel_moved(void *data, int dir, size_t n)
{
        return account(data, n, dir == TUNNEL_UP);
}

static void tunnel_ended(void *data, int err)
{
        conn_close(data);
}

static void tunnel_closed(void *data)
{
        conn_unref(data);
}

static const struct egress_tunnel_ops tunnel_ops = {
        .budget = tunnel_budget,
        .moved = tunnel_moved,
        .ended = tunnel_ended,
        .closed = tunnel_closed,
};

/* A byte tunnel (CONNECT, a port forward) that has moved TUNNEL_COPY_MAX
 * bytes by copying goes to the splice relay: the switch costs some twenty
 * syscalls, more than copying the few bytes of a short exchange (a TLS
 * handshake, a request and its answer), far less than copying a transfer.
 * Both sides still open: a half-closed tunnel ends on the copying path.
 * Reads stop now; the switch happens once libuv holds no write of the
 * connection (here or in on_written). */
static void tunnel_maybe(struct econn *c)
{
        if (!c->is_connect || c->ssl || c->state != C_RELAY || c->tunnel_wanted || c->tunnel_on || c->client_eof ||
            c->up_eof || c->up_bytes + c->down_bytes < TUNNEL_COPY_MAX)
                return;
        (void) uv_read_stop((uv_stream_t *) &c->client);
        (void) uv_read_stop((uv_stream_t *) &c->up);
        c->client_paused = true; /* relay_reads() resumes it if the switch cannot be made */
        c->up_paused = false;
        c->tunnel_wanted = true;
        if (c->n_writes == 0)
                tunnel_begin(c);
}

/* The tunnel's sockets go from libuv's streams (no write queued, no read
 * on) to the splice relay: duplicates of them, the streams closed. Short
 * of descriptors, the copying relay goes on instead. */
static void tunnel_begin(struct econn *c)
{
        uv_os_fd_t a, b;
        int da = -1, db = -1;

        c->tunnel_wanted = false;
        if (uv_fileno((uv_handle_t *) &c->client, &a) == 0 && uv_fileno((uv_handle_t *) &c->up, &b) == 0 &&
            (da = fcntl(a, F_DUPFD_CLOEXEC, 3)) >= 0 && (db = fcntl(b, F_DUPFD_CLOEXEC, 3)) >= 0) {
                int r = egress_tunnel_init(&c->tun, c->px->loop, da, db, c->client_eof, &tunnel_ops, c);
                c->refs += c->tun.n_open;
                if (r == 0) {
                        c->tunnel_on = true;
                        uv_close((uv_handle_t *) &c->client, on_handle_closed);
                        uv_close((uv_handle_t *) &c->up, on_handle_closed);
                        egress_tunnel_run(&c->tun);
                        return;
                }
                log_debug("egress %s.%s: no splice relay (%s): copying", c->px->function, c->px->ns, strerror(-r));
        } else if (da >= 0) {
                (void) close(da);
        }
        relay_reads(c);
}

static SSL_CTX *tls_ctx(struct egress_proxy *px)
{
        SSL_CTX *ctx;

        if (px->tls)
                return px->tls;
        ctx = SSL_CTX_new(TLS_client_method());
        if (!ctx)
                return NULL;
        (void) SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
        if ((px->ca_file ? SSL_CTX_load_verify_locations(ctx, px->ca_file, NULL)
                         : SSL_CTX_set_default_verify_paths(ctx)) != 1) {
                SSL_CTX_free(ctx);
                return NULL;
        }
        px->tls = ctx;
        return ctx;
}

/* A TLS error from OpenSSL's queue, for the answer and the log. */
static const char *tls_why(struct econn *c, char *buf, size_t size)
{
        long v = c->ssl ? SSL_get_verify_result(c->ssl) : X509_V_OK;
        unsigned long e = ERR_get_error();

        if (v != X509_V_OK)
                (void) xsnprintf(buf, size, "certificate: %s", X509_verify_cert_error_string(v));
        else if (e)
                ERR_error_string_n(e, buf, size);
        else
                (void) xsnprintf(buf, size, "handshake failed");
        ERR_clear_error();
        return buf;
}

/* Go on with the handshake; on its end, the request. */
static void tls_step(struct econn *c)
{
        int r = SSL_do_handshake(c->ssl);
        char why[256];

        if (tls_flush(c) < 0) {
                conn_close(c);
                return;
        }
        if (r == 1) {
                c->tls_ready = true;
                start_relay(c);
                return;
        }
        if (SSL_get_error(c->ssl, r) != SSL_ERROR_WANT_READ)
                answer(c, 502, "error", "egress to %s:%u: TLS to the destination failed: %s", c->host,
                       (unsigned) c->port, tls_why(c, why, sizeof why));
}

static void tls_begin(struct econn *c)
{
        SSL_CTX *ctx = tls_ctx(c->px);
        BIO *rb, *wb;

        if (!ctx || !(c->ssl = SSL_new(ctx)) || !(rb = BIO_new(BIO_s_mem())) || !(wb = BIO_new(BIO_s_mem()))) {
                answer(c, 502, "error", "egress to %s:%u: cannot set up TLS", c->host, (unsigned) c->port);
                return;
        }
        SSL_set_bio(c->ssl, rb, wb);
        SSL_set_connect_state(c->ssl);
        /* SNI and the name the certificate must carry: the checked one. */
        if (SSL_set_tlsext_host_name(c->ssl, c->host) != 1 || SSL_set1_host(c->ssl, c->host) != 1) {
                answer(c, 502, "error", "egress to %s:%u: cannot set up TLS", c->host, (unsigned) c->port);
                return;
        }
        /* Still C_CONNECTING until the handshake is over: the function's
         * bytes wait in pending. */
        if (uv_read_start((uv_stream_t *) &c->up, alloc_cb, on_read_up) < 0) {
                conn_close(c);
                return;
        }
        tls_step(c);
}

static void on_up_closed_retry(uv_handle_t *h);

/* This address failed (err) or took its share of the time (err 0): the
 * next checked address, or the answer when none is left. */
static void connect_failed(struct econn *c, int err)
{
        if (c->next_addr < c->n_addrs && uv_now(c->px->loop) < c->connect_deadline) {
                /* A fresh handle for the next one, once this one closed. */
                uv_timer_stop(&c->timer);
                uv_close((uv_handle_t *) &c->up, on_up_closed_retry);
                return;
        }
        uv_timer_stop(&c->timer);
        if (err)
                answer(c, 502, "error", "egress to %s:%u: cannot connect to %s: %s", c->host, (unsigned) c->port,
                       c->address, uv_strerror(err));
        else
                answer(c, 504, "error", "egress to %s:%u: connecting to %s timed out (egress_connect_timeout %llu ms)",
                       c->host, (unsigned) c->port, c->address, (unsigned long long) c->px->connect_timeout_ms);
}

static void on_up_closed_retry(uv_handle_t *h)
{
        struct econn *c = h->data;

        c->up_open = false;
        if (c->state != C_CLOSING)
                try_connect(c);
        conn_unref(c);
}

static void on_connect_timeout(uv_timer_t *t)
{
        struct econn *c = t->data;

        if (c->state != C_CONNECTING)
                return;
        if (c->ssl) {
                answer(c, 504, "error", "egress to %s:%u: the TLS handshake with %s timed out", c->host,
                       (unsigned) c->port, c->address);
                return;
        }
        connect_failed(c, 0);
}

static void on_up_connected(uv_connect_t *req, int status)
{
        struct econn *c = req->data;

        /* Closed meanwhile: the connection, or this attempt (its time was up). */
        if (c->state == C_CLOSING || uv_is_closing((uv_handle_t *) &c->up))
                return;
        if (status < 0) {
                connect_failed(c, status);
                return;
        }
        if (c->inject) {
                tls_begin(c); /* the timer runs on until the handshake is over */
                return;
        }
        start_relay(c); /* stops the timer */
}

/* Connect to the next address of c->addrs, every one of them checked, in
 * its share of what is left of egress_connect_timeout. */
static void try_connect(struct econn *c)
{
        struct egress_proxy *px = c->px;
        const struct sockaddr *sa;
        uint64_t now = uv_now(px->loop), share;
        int r;

        if (c->next_addr >= c->n_addrs) {
                answer(c, 502, "error", "egress to %s:%u: no address to connect to", c->host, (unsigned) c->port);
                return;
        }
        if (!c->timer_open) {
                (void) uv_timer_init(px->loop, &c->timer);
                c->timer.data = c;
                c->timer_open = true;
                c->refs++;
                c->connect_deadline = now + px->connect_timeout_ms;
        }
        sa = (const struct sockaddr *) &c->addrs[c->next_addr++];
        addr_text(sa, c->address);
        if (sa->sa_family == AF_INET)
                ((struct sockaddr_in *) &c->addrs[c->next_addr - 1])->sin_port = htons(c->port);
        else
                ((struct sockaddr_in6 *) &c->addrs[c->next_addr - 1])->sin6_port = htons(c->port);
        /* In the daemon's own network namespace: the loop thread is there. */
        (void) uv_tcp_init(px->loop, &c->up);
        c->up.data = c;
        c->up_open = true;
        c->refs++;
        c->state = C_CONNECTING;
        c->creq.data = c;
        r = uv_tcp_connect(&c->creq, &c->up, sa, on_up_connected);
        if (r < 0) {
                connect_failed(c, r);
                return;
        }
        share = c->connect_deadline > now ? (c->connect_deadline - now) / (c->n_addrs - c->next_addr + 1) : 0;
        (void) uv_timer_start(&c->timer, on_connect_timeout, share ? share : 1, 0);
}

static void on_shutdown_done(uv_shutdown_t *s, int status)
{
        struct econn *c = s->data;

        free(s);
        if (c->state != C_CLOSING && ((c->client_eof && c->up_eof) || (!c->is_connect && c->up_eof)))
                conn_close(c);
        conn_unref(c);
}

/* The other side's reads are over: pass the end on once its queue is written. */
static void half_close(struct econn *c, bool to_client)
{
        uv_shutdown_t *sd = calloc(1, sizeof *sd);

        if (!sd) {
                conn_close(c);
                return;
        }
        sd->data = c;
        c->refs++;
        if (uv_shutdown(sd, (uv_stream_t *) (to_client ? &c->client : &c->up), on_shutdown_done) < 0) {
                free(sd);
                c->refs--;
                conn_close(c);
        }
}

static void on_read_up(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
        struct econn *c = s->data;

        if (n <= 0 || c->state == C_CLOSING) {
                free(b->base);
                if (c->state == C_CLOSING || n == 0)
                        return;
                if (n == UV_EOF) {
                        (void) uv_read_stop(s);
                        c->up_eof = true;
                        half_close(c, true);
                } else {
                        conn_close(c);
                }
                return;
        }
        if (c->ssl) {
                int w = BIO_write(SSL_get_rbio(c->ssl), b->base, (int) n);
                free(b->base);
                if (w != (int) n) {
                        conn_close(c);
                        return;
                }
                if (!c->tls_ready) {
                        tls_step(c);
                        return;
                }
                for (;;) {
                        char *plain = malloc(READ_SIZE);
                        int got;
                        if (!plain) {
                                conn_close(c);
                                return;
                        }
                        got = SSL_read(c->ssl, plain, READ_SIZE);
                        if (got <= 0) {
                                int e = SSL_get_error(c->ssl, got);
                                free(plain);
                                if (e == SSL_ERROR_ZERO_RETURN) {
                                        c->up_eof = true;
                                        (void) uv_read_stop(s);
                                        half_close(c, true);
                                } else if (e != SSL_ERROR_WANT_READ) {
                                        conn_close(c);
                                }
                                (void) tls_flush(c);
                                return;
                        }
                        if (!account(c, (size_t) got, false)) {
                                free(plain);
                                return;
                        }
                        if (send_owned(c, true, plain, (size_t) got) < 0) {
                                conn_close(c);
                                return;
                        }
                }
        }
        if (!account(c, (size_t) n, false)) {
                free(b->base);
                return;
        }
        if (send_owned(c, true, b->base, (size_t) n) < 0) {
                conn_close(c);
                return;
        }
        if (c->client.write_queue_size > QUEUE_HIGH) {
                c->up_paused = true;
                (void) uv_read_stop(s);
        }
        tunnel_maybe(c);
}

/* Feed the function's bytes to the parser (the head; then, for a plain
 * request, its body); false when the connection was answered or closed. */
static bool parse(struct econn *c, const char *p, size_t n)
{
        enum llhttp_errno e;

        if (c->msg_done)
                return true; /* one request per connection: the rest is dropped */
        e = llhttp_execute(&c->parser, p, n);
        if (c->state == C_CLOSING || c->answered)
                return false;
        if (!c->head_done)
                c->head_bytes += n;
        if (e == HPE_PAUSED_UPGRADE && c->is_connect && c->head_done) {
                /* After a CONNECT's head: bytes of the tunnel already. */
                const char *end = llhttp_get_error_pos(&c->parser);
                if (end && end >= p && end <= p + n)
                        up_send(c, end, (size_t) (p + n - end));
                c->msg_done = true;
                return c->state != C_CLOSING;
        }
        if (e != HPE_OK && e != HPE_PAUSED) {
                answer(c, 400, "denied", "egress: a malformed request (%s)", llhttp_errno_name(e));
                return false;
        }
        if (!c->head_done && c->head_bytes > EGRESS_PROXY_HEAD_MAX) {
                answer(c, 400, "denied", "egress: a request head above %d bytes", EGRESS_PROXY_HEAD_MAX);
                return false;
        }
        return true;
}

static void on_read_client(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
        struct econn *c = s->data;
        bool had_head;

        if (n <= 0 || c->state == C_CLOSING || c->answered) {
                free(b->base);
                if (c->state == C_CLOSING || c->answered || n == 0)
                        return;
                (void) uv_read_stop(s);
                if (n == UV_EOF && (c->state == C_RELAY || c->msg_done)) {
                        /* The function has said all (a CONNECT's end is passed
                         * on, once connected); the answer still comes. */
                        c->client_eof = true;
                        if (c->is_connect && c->state == C_RELAY)
                                half_close(c, false);
                        return;
                }
                conn_close(c);
                return;
        }
        if (c->is_connect && c->msg_done && c->state != C_RELAY) {
                /* Tunnel bytes before the destination is connected: held. */
                up_send(c, b->base, (size_t) n);
                free(b->base);
                if (c->state != C_CLOSING && c->pending.len > PENDING_MAX) {
                        c->client_paused = true;
                        (void) uv_read_stop(s);
                }
                return;
        }
        if (c->state == C_RELAY && c->is_connect) {
                /* The tunnel: bytes pass as they are. */
                if (!account(c, (size_t) n, true)) {
                        free(b->base);
                        return;
                }
                if (send_owned(c, false, b->base, (size_t) n) < 0) {
                        conn_close(c);
                        return;
                }
                if (c->up.write_queue_size > QUEUE_HIGH) {
                        c->client_paused = true;
                        (void) uv_read_stop(s);
                }
                tunnel_maybe(c);
                return;
        }
        had_head = c->head_done;
        if (!parse(c, b->base, (size_t) n)) {
                free(b->base);
                return;
        }
        free(b->base);
        if (!had_head && c->head_done)
                decide(c);
        if (c->state != C_CLOSING && !c->answered && c->state != C_RELAY && c->pending.len > PENDING_MAX) {
                c->client_paused = true;
                (void) uv_read_stop(s);
        }
}

/* ---- the listener ---- */

static struct econn *conn_accept(struct egress_proxy *px, uv_stream_t *l)
{
        struct econn *c = calloc(1, sizeof *c);

        if (!c)
                return NULL;
        c->px = px;
        c->t0 = now_ns();
        c->url.max = 8192;
        c->field.max = 1024;
        c->value.max = 8192;
        c->headers.max = EGRESS_PROXY_HEAD_MAX;
        c->pending.max = PENDING_MAX + READ_SIZE;
        (void) uv_tcp_init(px->loop, &c->client);
        c->client.data = c;
        c->refs = 1;
        px->refs++;
        px->n_open++;
        list_add_tail(&px->conns, &c->node);
        if (uv_accept(l, (uv_stream_t *) &c->client) < 0) {
                c->reported = true;
                conn_close(c);
                return NULL;
        }
        px->n_conns++;
        /* Connections open at once are the daemon's file descriptors: a
         * function may not hold more than its share. */
        if (px->max_open && px->n_open > px->max_open) {
                c->verdict = "cap";
                (void) xsnprintf(c->reason, sizeof c->reason, "more than %llu egress connections open at once",
                                 (unsigned long long) px->max_open);
                conn_close(c);
                return NULL;
        }
        return c;
}

static void on_conn(uv_stream_t *l, int status)
{
        struct egress_proxy *px = l->data;
        struct econn *c;

        if (status < 0 || px->stopping || !(c = conn_accept(px, l)))
                return;
        llhttp_init(&c->parser, HTTP_REQUEST, &settings);
        c->parser.data = c;
        (void) uv_tcp_nodelay(&c->client, 1);
        if (uv_read_start((uv_stream_t *) &c->client, alloc_cb, on_read_client) < 0)
                conn_close(c);
}

static void on_listener_closed(uv_handle_t *h)
{
        proxy_unref(h->data);
}

static int listen_in(int netns_fd, int self_fd, uint16_t port);

static void on_fwd_closed(uv_handle_t *h)
{
        proxy_unref(((struct fwd *) h->data)->px);
}

/* A connection to a port forward: a tunnel to its entry's destination,
 * decided like a CONNECT to it. */
static void on_fwd_conn(uv_stream_t *l, int status)
{
        struct fwd *f = l->data;
        struct egress_proxy *px = f->px;
        const struct egress_rule *r = &px->grant.v[f->rule];
        struct econn *c;

        if (status < 0 || px->stopping || !(c = conn_accept(px, l)))
                return;
        c->forward = c->is_connect = c->head_done = c->msg_done = true;
        (void) xsnprintf(c->host, sizeof c->host, "%.*s", (int) strcspn(r->host, "/"), r->host);
        c->port = r->port;
        if (c->px->max_conns && c->px->n_conns > c->px->max_conns) {
                answer(c, 429, "cap", "egress forward to %s:%u refused: the connection cap is reached", c->host,
                       (unsigned) c->port);
                return;
        }
        (void) uv_tcp_nodelay(&c->client, 1);
        if (uv_read_start((uv_stream_t *) &c->client, alloc_cb, on_read_client) < 0) {
                conn_close(c);
                return;
        }
        route(c);
}

/* Listen for every entry's forward= in the namespace. */
static int forwards_start(struct egress_proxy *px, int netns_fd, int self_fd, struct sf_err *err)
{
        size_t n = 0;

        for (size_t i = 0; i < px->grant.n; i++)
                n += px->grant.v[i].forward != 0;
        if (!n)
                return 0;
        px->fwds = calloc(n, sizeof *px->fwds);
        if (!px->fwds)
                return -ENOMEM;
        for (size_t i = 0; i < px->grant.n; i++) {
                struct fwd *f;
                int fd, r;
                if (!px->grant.v[i].forward)
                        continue;
                f = &px->fwds[px->n_fwds];
                fd = listen_in(netns_fd, self_fd, px->grant.v[i].forward);
                if (fd < 0)
                        return sf_err_errno(err, fd, "cannot listen on forward port %u in the sandbox",
                                            (unsigned) px->grant.v[i].forward);
                f->px = px;
                f->rule = i;
                (void) uv_tcp_init(px->loop, &f->h);
                f->h.data = f;
                f->open = true;
                px->n_fwds++;
                px->refs++;
                if ((r = uv_tcp_open(&f->h, fd)) < 0 || (r = uv_listen((uv_stream_t *) &f->h, 128, on_fwd_conn)) < 0) {
                        if (r != 0)
                                (void) close(fd);
                        return sf_err_errno(err, r, "cannot listen on forward port %u in the sandbox",
                                            (unsigned) px->grant.v[i].forward);
                }
        }
        return 0;
}

/* A socket bound to 127.0.0.1:port inside the namespace netns_fd. The loop
 * thread is in it only for socket() and bind(): a socket stays in the
 * namespace it was made in, wherever the thread goes next. */
static int listen_in(int netns_fd, int self_fd, uint16_t port)
{
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port),
                                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        int fd, r = 0, one = 1;

        if (setns(netns_fd, CLONE_NEWNET) < 0)
                return -errno;
        fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
                r = -errno;
        else if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
                 bind(fd, (struct sockaddr *) &sa, sizeof sa) < 0 || listen(fd, 128) < 0)
                r = -errno;
        if (setns(self_fd, CLONE_NEWNET) < 0) {
                /* The loop thread would serve every later client from the
                 * sandbox's namespace: never go on like that. */
                log_error_errno(-errno, "cannot return to the daemon's network namespace");
                abort();
        }
        if (r < 0) {
                if (fd >= 0)
                        (void) close(fd);
                return r;
        }
        return fd;
}

int egress_proxy_start(const struct egress_proxy_params *p, struct egress_proxy **ret, struct sf_err *err)
{
        struct egress_proxy *px;
        int fd, r;

        settings_init();
        px = calloc(1, sizeof *px);
        if (!px)
                return -ENOMEM;
        px->loop = p->loop;
        /* In the loop thread's namespace, where the proxy connects from. */
        if ((r = egress_host_cache_open(&px->hosts)) < 0)
                log_warning("egress: no netlink watch of this host's addresses (%s): read at each connection",
                            strerror(-r));
        if (p->policy && p->policy->n_allow) {
                px->policy.allow = calloc(p->policy->n_allow, sizeof *px->policy.allow);
                if (px->policy.allow) {
                        memcpy(px->policy.allow, p->policy->allow, p->policy->n_allow * sizeof *px->policy.allow);
                        px->policy.n_allow = p->policy->n_allow;
                }
        }
        px->max_conns = p->max_conns;
        px->max_bytes = p->max_bytes;
        px->max_open = p->max_open;
        px->connect_timeout_ms = p->connect_timeout_ms ? p->connect_timeout_ms : EGRESS_CONNECT_TIMEOUT_MS;
        px->report = p->report;
        px->secret = p->secret;
        px->data = p->data;
        list_init(&px->conns);
        px->ns = strdup(p->ns ? p->ns : "");
        px->function = strdup(p->function ? p->function : "");
        px->call_id = strdup(p->call_id ? p->call_id : "");
        px->resolve_file = p->resolve_file && *p->resolve_file ? strdup(p->resolve_file) : NULL;
        px->ca_file = p->ca_file && *p->ca_file ? strdup(p->ca_file) : NULL;
        if (p->grant && p->grant->n) {
                px->grant.v = calloc(p->grant->n, sizeof *px->grant.v);
                if (px->grant.v) {
                        memcpy(px->grant.v, p->grant->v, p->grant->n * sizeof *px->grant.v);
                        px->grant.n = p->grant->n;
                }
        }
        px->refs = 1;
        if (!px->ns || !px->function || !px->call_id || (p->grant && p->grant->n && !px->grant.v) ||
            (p->policy && p->policy->n_allow && !px->policy.allow) ||
            (p->resolve_file && *p->resolve_file && !px->resolve_file) || (p->ca_file && *p->ca_file && !px->ca_file)) {
                proxy_unref(px);
                return -ENOMEM;
        }
        fd = listen_in(p->netns_fd, p->self_netns_fd, p->port ? p->port : EGRESS_PROXY_PORT);
        if (fd < 0) {
                proxy_unref(px);
                return sf_err_errno(err, fd, "cannot listen in the sandbox's network namespace");
        }
        (void) uv_tcp_init(px->loop, &px->listener);
        px->listener.data = px;
        if ((r = uv_tcp_open(&px->listener, fd)) < 0 ||
            (r = uv_listen((uv_stream_t *) &px->listener, 128, on_conn)) < 0) {
                if (r == UV_EBADF || uv_fileno((uv_handle_t *) &px->listener, &(uv_os_fd_t) { 0 }) < 0)
                        (void) close(fd);
                uv_close((uv_handle_t *) &px->listener, on_listener_closed);
                return sf_err_errno(err, r, "cannot listen in the sandbox's network namespace");
        }
        r = forwards_start(px, p->netns_fd, p->self_netns_fd, err);
        if (r < 0) {
                egress_proxy_stop(px);
                return r;
        }
        *ret = px;
        return 0;
}

void egress_proxy_stop(struct egress_proxy *px)
{
        struct econn *c;

        if (!px || px->stopping)
                return;
        px->stopping = true;
        list_for_each_safe(c, &px->conns, node) {
                if (!c->verdict)
                        c->verdict = "error";
                if (!c->reason[0] && c->state != C_RELAY)
                        (void) xsnprintf(c->reason, sizeof c->reason, "the sandbox ended");
                conn_close(c);
        }
        uv_close((uv_handle_t *) &px->listener, on_listener_closed);
        for (size_t i = 0; i < px->n_fwds; i++)
                uv_close((uv_handle_t *) &px->fwds[i].h, on_fwd_closed);
}

void egress_proxy_env(uint16_t port, char out[EGRESS_PROXY_ENV_N][64])
{
        static const char *const names[] = { "HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy" };

        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                (void) xsnprintf(out[i], 64, "%s=http://127.0.0.1:%u", names[i],
                                 (unsigned) (port ? port : EGRESS_PROXY_PORT));
        (void) xsnprintf(out[4], 64, "NO_PROXY=localhost,127.0.0.1,::1");
        (void) xsnprintf(out[5], 64, "no_proxy=localhost,127.0.0.1,::1");
}
