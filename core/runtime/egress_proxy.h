/* SPDX-License-Identifier: MIT */
/*
 * The egress proxy of one sandbox (issue 16; README "Egress"): the only way
 * out of a sandbox whose function was granted egress (core/model/egress_grant.h).
 *
 * The daemon listens INSIDE the sandbox's network namespace, on
 * 127.0.0.1:EGRESS_PROXY_PORT: the loop thread enters the namespace only to
 * make the socket (setns, socket, bind, setns back), as the upstream sockets
 * of http mode are made (core/runtime/pool.c). The namespace has no route
 * and no device but loopback; there is no veth and no bridge. The function
 * gets HTTP_PROXY, HTTPS_PROXY (and lower-case) pointing there. Everything
 * else runs on the daemon's loop:
 *
 *  - CONNECT host:port: the TLS stream (or anything) passes through untouched
 *    once the destination is allowed;
 *  - absolute-form plain HTTP ("GET http://host/path HTTP/1.1"): one
 *    request per client connection, forwarded in origin form with the Host
 *    header of the URL and "Connection: close"; the client's Host header
 *    is replaced, never consulted. An origin-form request is refused;
 *  - credential injection: a plain request to a name whose grant entry
 *    carries secret=NAME (http://api.example.com/..., port 80 or the
 *    entry's) goes to the entry's port over TLS the proxy originates
 *    (OpenSSL, memory BIOs on the loop; the peer's certificate verified
 *    against ca_file or the system's CAs, and its name against the host),
 *    with the header the entry names carrying the secret. The function
 *    never holds it; a header of that name it sends is dropped for every
 *    destination;
 *  - the decision is made on the destination the proxy itself connects to:
 *    an address literal must lie in a range of the grant, a name must match
 *    a name or wildcard of the grant, then the proxy resolves the name
 *    itself (uv_getaddrinfo, or the operator's pinned answers) and every
 *    address of the answer must pass egress_refused_grant() (no loopback,
 *    link-local, metadata, the host's own addresses; private ranges only
 *    when granted by range or opened by the operator's egress_allow). It
 *    connects to those addresses and to nothing it has not checked, so an
 *    answer that changes between a check and a connect (DNS rebinding)
 *    changes nothing.
 *
 * Ownership: the proxy and its connections are freed in the close callbacks
 * of their handles; egress_proxy_stop() closes everything and the proxy
 * goes when its last handle has closed. Loop thread only.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "core/base/buf.h"
#include "core/base/error.h"
#include "core/http/egress.h"
#include "core/model/egress_grant.h"

#define EGRESS_PROXY_PORT 3128
#define EGRESS_PROXY_HEAD_MAX 16384
#define EGRESS_CONNECT_TIMEOUT_MS 10000

/* One connection, when it ends (accounting). */
struct egress_report {
        const char *ns, *function, *call_id;
        const char *dest;        /* host (name or address) asked for; "" when none could be read */
        const char *address;     /* the address connected to; "" when none */
        uint16_t port;
        const char *verdict;     /* "allowed", "denied", "cap", "error" */
        const char *reason;      /* why, when not simply allowed; "" otherwise */
        uint64_t bytes_up;       /* function -> destination */
        uint64_t bytes_down;     /* destination -> function */
        double seconds;
        bool is_connect;
};

typedef void (*egress_report_fn)(void *data, const struct egress_report *rep);

/* The value of the tenant secret name (for a grant entry's secret=),
 * appended to out (which the proxy wipes); -ENOENT when there is none. */
typedef int (*egress_secret_fn)(void *data, const char *name, struct buf *out);

struct egress_proxy_params {
        uv_loop_t *loop;
        int netns_fd;                         /* the sandbox's network namespace */
        int self_netns_fd;                    /* the loop thread's own */
        uint16_t port;                        /* 0: EGRESS_PROXY_PORT */
        const struct egress_grant *grant;     /* copied */
        const struct egress_policy *policy;   /* the operator's egress_allow (copied); NULL: none */
        const char *resolve_file;             /* pinned answers (JSON {"name": ["addr", ...]}); NULL/"" none */
        const char *ca_file;                  /* CAs for the TLS the proxy originates; NULL/"": the system's */
        const char *ns, *function, *call_id;  /* copied */
        uint64_t max_conns;                   /* connections over the proxy's life; 0: no cap */
        uint64_t max_bytes;                   /* bytes both ways over its life; 0: no cap */
        uint64_t max_open;                    /* connections open at once (the daemon's fds); 0: no cap */
        uint64_t connect_timeout_ms;          /* to connect to a destination, over all its addresses
                                               * (each gets an equal share of what is left); 0: the default */
        egress_report_fn report;
        egress_secret_fn secret;
        void *data;
};

struct egress_proxy;

/* Listen in the namespace; the listener is ready (connections queue in the
 * kernel) when this returns. */
int egress_proxy_start(const struct egress_proxy_params *p, struct egress_proxy **ret, struct sf_err *err);
/* Close the listener and every connection; NULL is fine. */
void egress_proxy_stop(struct egress_proxy *px);
/* What the function's environment gets, as NAME=VALUE: HTTP_PROXY,
 * HTTPS_PROXY, http_proxy, https_proxy (http://127.0.0.1:PORT), NO_PROXY
 * and no_proxy (localhost,127.0.0.1,::1). */
#define EGRESS_PROXY_ENV_N 6
void egress_proxy_env(uint16_t port, char out[EGRESS_PROXY_ENV_N][64]);
