/* SPDX-License-Identifier: MIT */
/* The outbound address policy: see core/http/egress.h. */
#include "core/http/egress.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/base/cleanup.h"
#include "core/base/util.h"

enum aclass {
        A_PUBLIC = 0,
        A_PRIVATE,      /* opened by any allowlist range holding it */
        A_SPECIAL,      /* loopback, link-local, metadata, the host: opened only by an exact entry */
        A_NEVER,        /* unspecified, multicast, broadcast, reserved */
};

static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

static void map4(uint8_t out[16], uint32_t a_host_order)
{
        uint32_t be = htonl(a_host_order);
        memcpy(out, v4mapped, 12);
        memcpy(out + 12, &be, 4);
}

static bool in_net(const uint8_t a[16], const struct egress_net *n)
{
        unsigned full = n->prefix / 8, rest = n->prefix % 8;

        if (memcmp(a, n->addr, full) != 0)
                return false;
        return rest == 0 || ((a[full] ^ n->addr[full]) & (uint8_t) (0xff << (8 - rest))) == 0;
}

int egress_policy_parse(const char *list, bool allow_loopback, struct egress_policy *ret, struct sf_err *err)
{
        struct egress_policy p = { .allow_loopback = allow_loopback };
        const char *s = list ? list : "";

        while (*s) {
                char item[128], *slash;
                size_t n = strcspn(s, ",");
                struct egress_net net = { .prefix = 128 };
                uint64_t bits;
                struct in_addr a4;
                struct in6_addr a6;
                bool v4;

                while (n > 0 && (*s == ' ')) {
                        s++;
                        n--;
                }
                if (n == 0 || n >= sizeof item) {
                        egress_policy_release(&p);
                        return sf_err_set(err, -EINVAL, "egress_allow: empty or overlong entry in '%s'", list);
                }
                memcpy(item, s, n);
                item[n] = '\0';
                while (n > 0 && item[n - 1] == ' ')
                        item[--n] = '\0';
                slash = strchr(item, '/');
                if (slash)
                        *slash = '\0';
                v4 = inet_pton(AF_INET, item, &a4) == 1;
                if (!v4 && inet_pton(AF_INET6, item, &a6) != 1) {
                        egress_policy_release(&p);
                        return sf_err_set(err, -EINVAL, "egress_allow: '%s' is not an IPv4 or IPv6 address", item);
                }
                if (v4) {
                        map4(net.addr, ntohl(a4.s_addr));
                        net.prefix = 128;
                } else {
                        memcpy(net.addr, &a6, 16);
                }
                if (slash) {
                        if (parse_u64(slash + 1, &bits) < 0 || bits > (v4 ? 32u : 128u)) {
                                egress_policy_release(&p);
                                return sf_err_set(err, -EINVAL, "egress_allow: bad prefix length in '%s/%s'", item,
                                                  slash + 1);
                        }
                        net.prefix = (unsigned) bits + (v4 ? 96u : 0u);
                }
                /* Host bits set beyond the prefix are cleared, as routers do. */
                for (unsigned i = net.prefix; i < 128; i++)
                        net.addr[i / 8] &= (uint8_t) ~(0x80u >> (i % 8));
                {
                        struct egress_net *na = realloc(p.allow, (p.n_allow + 1) * sizeof *na);
                        if (!na) {
                                egress_policy_release(&p);
                                return -ENOMEM;
                        }
                        p.allow = na;
                        p.allow[p.n_allow++] = net;
                }
                s += strcspn(s, ",");
                if (*s == ',')
                        s++;
        }
        *ret = p;
        return 0;
}

void egress_policy_release(struct egress_policy *p)
{
        if (!p)
                return;
        free(p->allow);
        p->allow = NULL;
        p->n_allow = 0;
}

int egress_host_read(struct egress_host *ret)
{
        struct ifaddrs *ifs = NULL;
        struct egress_host h = { 0 };
        size_t cap = 0;

        if (getifaddrs(&ifs) < 0)
                return -errno;
        for (struct ifaddrs *i = ifs; i; i = i->ifa_next) {
                uint8_t a[16];
                if (!i->ifa_addr)
                        continue;
                if (i->ifa_addr->sa_family == AF_INET)
                        map4(a, ntohl(((struct sockaddr_in *) i->ifa_addr)->sin_addr.s_addr));
                else if (i->ifa_addr->sa_family == AF_INET6)
                        memcpy(a, &((struct sockaddr_in6 *) i->ifa_addr)->sin6_addr, 16);
                else
                        continue;
                if (h.n == cap) {
                        size_t nc = cap ? cap * 2 : 16;
                        uint8_t (*na)[16] = realloc(h.addr, nc * sizeof *na);
                        if (!na) {
                                freeifaddrs(ifs);
                                egress_host_release(&h);
                                return -ENOMEM;
                        }
                        h.addr = na;
                        cap = nc;
                }
                memcpy(h.addr[h.n++], a, 16);
        }
        freeifaddrs(ifs);
        *ret = h;
        return 0;
}

void egress_host_release(struct egress_host *h)
{
        if (!h)
                return;
        free(h->addr);
        h->addr = NULL;
        h->n = 0;
}

int egress_host_cache_open(struct egress_host_cache *c)
{
        struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_groups = RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR };

        *c = (struct egress_host_cache) { .fd = -1 };
        c->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE);
        if (c->fd < 0)
                return -errno;
        if (bind(c->fd, (struct sockaddr *) &sa, sizeof sa) < 0) {
                int r = -errno;
                egress_host_cache_close(c);
                return r;
        }
        return 0;
}

int egress_host_cache_get(struct egress_host_cache *c, const struct egress_host **ret)
{
        struct egress_host h;
        bool changed = !c->valid;
        int r;

        if (c->fd < 0)
                return -EBADF;
        /* Drain first, read after: a change announced between the two is
         * read now and seen again (harmlessly) at the next get. */
        for (;;) {
                char msg[4096];
                ssize_t n = recv(c->fd, msg, sizeof msg, MSG_DONTWAIT | MSG_TRUNC);
                if (n >= 0 || errno == ENOBUFS) {
                        /* Any announcement, or so many that some were lost. */
                        changed = true;
                        continue;
                }
                if (errno == EAGAIN)
                        break;
                if (errno != EINTR)
                        return -errno;
        }
        if (changed) {
                c->valid = false;
                r = egress_host_read(&h);
                if (r < 0)
                        return r;
                egress_host_release(&c->host);
                c->host = h;
                c->valid = true;
        }
        *ret = &c->host;
        return 0;
}

void egress_host_cache_close(struct egress_host_cache *c)
{
        if (!c)
                return;
        if (c->fd >= 0)
                (void) close(c->fd);
        c->fd = -1;
        c->valid = false;
        egress_host_release(&c->host);
}

/* The class of an IPv4 address (host order) and why, in words. */
static enum aclass class4(uint32_t a, const char **why)
{
        static const struct {
                uint32_t net, mask;
                enum aclass c;
                const char *why;
        } t[] = {
                { 0x7f000000, 0xff000000, A_SPECIAL, "a loopback address" },
                { 0xa9fea9fe, 0xffffffff, A_SPECIAL, "a cloud metadata address" },
                { 0x64646464, 0xffffffff, A_SPECIAL, "a cloud metadata address" },
                { 0xa83f8110, 0xffffffff, A_SPECIAL, "a cloud metadata address" },
                { 0xa9fe0000, 0xffff0000, A_SPECIAL, "a link-local address" },
                { 0x00000000, 0xff000000, A_NEVER, "an unspecified address" },
                { 0xe0000000, 0xf0000000, A_NEVER, "a multicast address" },
                { 0xf0000000, 0xf0000000, A_NEVER, "a reserved or broadcast address" },
                { 0x0a000000, 0xff000000, A_PRIVATE, "a private address" },
                { 0xac100000, 0xfff00000, A_PRIVATE, "a private address" },
                { 0xc0a80000, 0xffff0000, A_PRIVATE, "a private address" },
                { 0x64400000, 0xffc00000, A_PRIVATE, "a shared (carrier-grade NAT) address" },
                { 0xc6120000, 0xfffe0000, A_PRIVATE, "a benchmarking network address" },
                { 0xc0000000, 0xffffff00, A_PRIVATE, "an IETF protocol assignment address" },
        };
        for (size_t i = 0; i < ELEMENTSOF(t); i++)
                if ((a & t[i].mask) == t[i].net) {
                        *why = t[i].why;
                        return t[i].c;
                }
        *why = NULL;
        return A_PUBLIC;
}

/* The address as 16 bytes and its class; an IPv6 address carrying an
 * IPv4 one is that IPv4 address. */
static enum aclass classify(const uint8_t in[16], uint8_t out[16], const char **why)
{
        static const uint8_t nat64[12] = { 0x00, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0 };
        uint32_t v4;

        memcpy(out, in, 16);
        if (memcmp(in, v4mapped, 12) == 0 || memcmp(in, nat64, 12) == 0 ||
            (memcmp(in, v4mapped, 10) == 0 && in[10] == 0 && in[11] == 0 && (in[12] | in[13] | in[14]) != 0)) {
                /* ::ffff:a.b.c.d, 64:ff9b::a.b.c.d, ::a.b.c.d (deprecated compatible) */
                memcpy(&v4, in + 12, 4);
                map4(out, ntohl(v4));
                return class4(ntohl(v4), why);
        }
        if (in[0] == 0x20 && in[1] == 0x02) {
                /* 6to4: 2002:AABB:CCDD::/48 is a.b.c.d's */
                memcpy(&v4, in + 2, 4);
                map4(out, ntohl(v4));
                return class4(ntohl(v4), why);
        }
        if (memcmp(in, in6addr_loopback.s6_addr, 16) == 0) {
                *why = "a loopback address";
                return A_SPECIAL;
        }
        if (memcmp(in, in6addr_any.s6_addr, 16) == 0) {
                *why = "an unspecified address";
                return A_NEVER;
        }
        if (in[0] == 0xff) {
                *why = "a multicast address";
                return A_NEVER;
        }
        if (in[0] == 0xfe && (in[1] & 0xc0) == 0x80) {
                *why = "a link-local address";
                return A_SPECIAL;
        }
        if (in[0] == 0xfd && in[1] == 0x00 && in[2] == 0x0e && in[3] == 0xc2) {
                /* fd00:ec2::254 and its neighbours: AWS's metadata over IPv6 */
                *why = "a cloud metadata address";
                return A_SPECIAL;
        }
        if ((in[0] & 0xfe) == 0xfc) {
                *why = "a private (unique local) address";
                return A_PRIVATE;
        }
        if (in[0] == 0xfe && (in[1] & 0xc0) == 0xc0) {
                *why = "a site-local address";
                return A_PRIVATE;
        }
        *why = NULL;
        return A_PUBLIC;
}

const char *egress_refused(const struct egress_policy *p, const struct egress_host *host, const struct sockaddr *sa,
                           socklen_t len)
{
        uint8_t raw[16], a[16];
        const char *why = NULL;
        enum aclass c;
        bool exact = false, ranged = false;

        if (sa->sa_family == AF_INET && len >= (socklen_t) sizeof(struct sockaddr_in))
                map4(raw, ntohl(((const struct sockaddr_in *) sa)->sin_addr.s_addr));
        else if (sa->sa_family == AF_INET6 && len >= (socklen_t) sizeof(struct sockaddr_in6))
                memcpy(raw, &((const struct sockaddr_in6 *) sa)->sin6_addr, 16);
        else
                return "not an IP address";
        c = classify(raw, a, &why);
        if (c == A_NEVER)
                return why;
        for (size_t i = 0; host && c != A_SPECIAL && i < host->n; i++) {
                uint8_t h[16];
                const char *hw;
                (void) classify(host->addr[i], h, &hw);
                if (memcmp(h, a, 16) == 0) {
                        c = A_SPECIAL;
                        why = "an address of this host";
                        break;
                }
        }
        if (c == A_PUBLIC)
                return NULL;
        if (p) {
                if (p->allow_loopback && strcmp(why, "a loopback address") == 0)
                        return NULL;
                for (size_t i = 0; i < p->n_allow; i++)
                        if (in_net(a, &p->allow[i]) || in_net(raw, &p->allow[i])) {
                                if (p->allow[i].prefix == 128)
                                        exact = true;
                                else
                                        ranged = true;
                        }
        }
        if (exact || (ranged && c == A_PRIVATE))
                return NULL;
        return why;
}

int egress_net_parse(const char *s, struct egress_net *ret)
{
        struct egress_policy p = { 0 };
        struct sf_err err = { 0 };
        int r;

        if (!*s || strchr(s, ',') || strchr(s, ' '))
                return -EINVAL;
        r = egress_policy_parse(s, false, &p, &err);
        if (r < 0)
                return r;
        if (p.n_allow != 1) {
                egress_policy_release(&p);
                return -EINVAL;
        }
        *ret = p.allow[0];
        egress_policy_release(&p);
        return 0;
}

/* sa as 16 bytes, an address carrying IPv4 as IPv4-mapped; false if not IP. */
static bool sa_bytes(const struct sockaddr *sa, socklen_t len, uint8_t out[16])
{
        uint8_t raw[16];
        const char *why;

        if (sa->sa_family == AF_INET && len >= (socklen_t) sizeof(struct sockaddr_in))
                map4(raw, ntohl(((const struct sockaddr_in *) sa)->sin_addr.s_addr));
        else if (sa->sa_family == AF_INET6 && len >= (socklen_t) sizeof(struct sockaddr_in6))
                memcpy(raw, &((const struct sockaddr_in6 *) sa)->sin6_addr, 16);
        else
                return false;
        (void) classify(raw, out, &why);
        return true;
}

bool egress_net_contains(const struct egress_net *n, const struct sockaddr *sa, socklen_t len)
{
        uint8_t a[16];
        return sa_bytes(sa, len, a) && in_net(a, n);
}

bool egress_net_within(const struct egress_net *inner, const struct egress_net *outer)
{
        return inner->prefix >= outer->prefix && in_net(inner->addr, outer);
}

const char *egress_refused_grant(const struct egress_policy *p, const struct egress_host *host,
                                 const struct egress_net *granted, size_t n, const struct sockaddr *sa,
                                 socklen_t len)
{
        struct egress_policy none = { 0 };
        uint8_t raw[16], a[16];
        const char *why;
        enum aclass c;

        if (sa->sa_family == AF_INET && len >= (socklen_t) sizeof(struct sockaddr_in))
                map4(raw, ntohl(((const struct sockaddr_in *) sa)->sin_addr.s_addr));
        else if (sa->sa_family == AF_INET6 && len >= (socklen_t) sizeof(struct sockaddr_in6))
                memcpy(raw, &((const struct sockaddr_in6 *) sa)->sin6_addr, 16);
        else
                return "not an IP address";
        c = classify(raw, a, &why);
        if (c == A_NEVER || c == A_SPECIAL)
                return why;
        /* With no allowlist: public addresses pass; the host's own (found
         * by the host list) and private ones do not. */
        why = egress_refused(&none, host, sa, len);
        if (!why)
                return NULL;
        if (strcmp(why, "an address of this host") == 0)
                return why;
        for (size_t i = 0; i < n; i++)
                if (in_net(a, &granted[i]))
                        return NULL;
        if (p) {
                struct egress_policy ranged = *p;
                ranged.allow_loopback = false;
                if (!egress_refused(&ranged, host, sa, len))
                        return NULL;
        }
        return why;
}
