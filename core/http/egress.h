/* SPDX-License-Identifier: MIT */
/*
 * Where requests the daemon makes for tenants may go (core/http/egress.c):
 * async callbacks now, registry pulls later. Tenants choose the URLs, so an
 * outbound request is a weapon aimed at whatever the daemon can reach
 * (SECURITY.md, "Outbound requests made for tenants are weapons").
 *
 * Refused, checked on the address actually connected to (the blocking
 * client asks before each connect(), after DNS: core/http/client.h):
 *  - the host itself: every address of every interface of the daemon's
 *    network namespace, read afresh for each request (getifaddrs; a few
 *    tens of microseconds), so an address added a moment ago counts;
 *  - loopback (127/8, ::1), unspecified (0/8, ::), link-local (169.254/16,
 *    fe80::/10), multicast and broadcast, reserved (240/4);
 *  - metadata services: 169.254.169.254 (AWS, GCP, Azure, OpenStack,
 *    link-local anyway), fd00:ec2::254 (AWS over IPv6), 100.100.100.100
 *    (Alibaba), 168.63.129.16 (Azure's host agent);
 *  - by default the private and shared ranges: 10/8, 172.16/12,
 *    192.168/16, 100.64/10 (carrier-grade NAT), 198.18/15 (benchmarking),
 *    192.0.0/24, fc00::/7 (unique local), fec0::/10 (site-local);
 *  - an IPv6 address that carries an IPv4 one (IPv4-mapped and -compatible,
 *    NAT64 64:ff9b::/96, 6to4 2002::/16) is judged as that IPv4 address.
 *
 * The operator's allowlist (config egress_allow: "CIDR,CIDR,..."): a range
 * opens the private and shared addresses in it (neighbours on a private
 * network); the host's own, loopback, link-local and metadata addresses
 * only by an entry naming that one address (/32 or /128), so allowing
 * 10.0.0.0/8 does not open the host's own 10.0.0.5. Multicast, broadcast
 * and unspecified addresses are never allowed. allow_loopback (config
 * async_callback_allow_loopback) is the same as entries for 127.0.0.0/8
 * and ::1/128 of that kind.
 *
 * No redirect is ever followed: the client returns a 3xx as it is.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "core/base/error.h"

struct egress_net {
        uint8_t addr[16];   /* IPv4 as IPv4-mapped IPv6 */
        unsigned prefix;    /* of the 128 bits */
};

struct egress_policy {
        struct egress_net *allow;
        size_t n_allow;
        bool allow_loopback;
};

/* The addresses of the host's interfaces (IPv4 as IPv4-mapped). */
struct egress_host {
        uint8_t (*addr)[16];
        size_t n;
};

/* Parse "CIDR,CIDR" ("" = none; an address without /N is one address). */
int egress_policy_parse(const char *list, bool allow_loopback, struct egress_policy *ret, struct sf_err *err);
void egress_policy_release(struct egress_policy *p);
/* Read the interfaces' addresses now. */
int egress_host_read(struct egress_host *ret);
void egress_host_release(struct egress_host *h);

/* The host's addresses, read once and again only after the kernel announced
 * a change: a netlink socket subscribed to address changes (IPv4 and IPv6)
 * of the namespace it was opened in is drained at each get(), so an address
 * added before a get() is in its answer, as with egress_host_read(), at one
 * recv() instead of two netlink dumps. */
struct egress_host_cache {
        int fd;                 /* the netlink socket; -1 closed */
        bool valid;
        struct egress_host host;
};

/* In the calling thread's network namespace. */
int egress_host_cache_open(struct egress_host_cache *c);
/* The addresses now (valid until the next get or close). */
int egress_host_cache_get(struct egress_host_cache *c, const struct egress_host **ret);
/* NULL and a closed one are fine. */
void egress_host_cache_close(struct egress_host_cache *c);

/* NULL when sa may be connected to; else why not, in words ("a private
 * address", "an address of this host", ...). host may be NULL (then the
 * host's own addresses are not recognised: only for tests). */
const char *egress_refused(const struct egress_policy *p, const struct egress_host *host, const struct sockaddr *sa,
                           socklen_t len);

/* Parse one address or CIDR ("10.0.0.0/8", "::1"; no blanks). -EINVAL. */
int egress_net_parse(const char *s, struct egress_net *ret);
/* Whether sa (an IPv4-mapped or IPv4-carrying IPv6 address counts as its
 * IPv4 address) lies in n. */
bool egress_net_contains(const struct egress_net *n, const struct sockaddr *sa, socklen_t len);
/* Whether range inner lies wholly inside range outer. */
bool egress_net_within(const struct egress_net *inner, const struct egress_net *outer);

/* The function egress proxy's rule (core/runtime/egress_proxy.h): NULL when
 * sa may be connected to; else why not. As egress_refused() with the
 * operator's policy p, and a private or shared address is also opened by a
 * range the function was granted (granted, n); the host's own addresses,
 * loopback, link-local, metadata, unspecified, multicast and broadcast
 * addresses never are, whatever the grant or the operator's allowlist
 * says, since the daemon, not the function, makes the connection. */
const char *egress_refused_grant(const struct egress_policy *p, const struct egress_host *host,
                                 const struct egress_net *granted, size_t n, const struct sockaddr *sa,
                                 socklen_t len);
