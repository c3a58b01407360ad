/* SPDX-License-Identifier: MIT */
/*
 * Egress grants: where a function may connect through the egress proxy
 * (core/runtime/egress_proxy.h), and the tenant's ceiling that bounds them.
 *
 * A list is entries separated by ',' (blanks around them ignored):
 *
 *     DEST:PORT [OPTION ...]
 *
 * DEST is one of
 *   api.example.com         a host name (letters, digits, '-', '.'; compared
 *                           without case; its last label not all digits)
 *   *.payments.example      any name with exactly one more label in front
 *   10.1.2.3, 2001:db8::1   an address ([2001:db8::1]:443 with a port)
 *   10.1.2.0/24             a range (CIDR); an address is a /32 or /128
 * and PORT a TCP port or '*' (any). OPTIONs (grants only, not ceilings):
 *   secret=NAME             inject the tenant secret NAME on plain-HTTP
 *                           requests to this destination (a name, not a
 *                           wildcard or a range); the proxy originates TLS
 *   header=NAME             the header it goes in (default Authorization,
 *                           as "Bearer <secret>"; another header gets the
 *                           secret as it is)
 *   forward=PORT            also listen on 127.0.0.1:PORT in the sandbox and
 *                           relay every connection there to DEST:PORT (a
 *                           name or an address, one port)
 *
 * A grant is within a ceiling when every entry is covered by one entry of
 * the ceiling: a name by the same name or a wildcard one label above it, a
 * wildcard by the same wildcard, an address or range by a range holding it;
 * a port by the same port or '*'. Options are not part of the comparison.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "core/base/error.h"
#include "core/http/egress.h"

#define EGRESS_HOST_MAX 254
#define EGRESS_ENTRY_MAX 512
#define EGRESS_ENTRIES_MAX 64
#define EGRESS_HEADER_MAX 64

enum egress_kind {
        EGRESS_NAME = 0,
        EGRESS_WILDCARD,   /* host holds the suffix after "*." */
        EGRESS_NET,
};

struct egress_rule {
        enum egress_kind kind;
        char host[EGRESS_HOST_MAX];   /* lower case; EGRESS_NET: the address as written */
        struct egress_net net;        /* EGRESS_NET */
        uint16_t port;                /* 0: any */
        char secret[64];              /* "" = none */
        char header[EGRESS_HEADER_MAX];
        uint16_t forward;             /* 0 = none */
        char text[EGRESS_ENTRY_MAX];  /* DEST:PORT as written, for messages */
};

struct egress_grant {
        struct egress_rule *v;
        size_t n;
};

/* The annotation (or label) that holds a function's grant. */
#define EGRESS_ANNOTATION "com.sfaasd.egress"

/* Parse list ("" or NULL: nothing granted). A ceiling takes no options.
 * -EINVAL with err naming the bad entry. */
int egress_grant_parse(const char *list, bool ceiling, struct egress_grant *ret, struct sf_err *err);
void egress_grant_release(struct egress_grant *g);

/* The first entry of g that no entry of ceiling covers, or NULL. */
const struct egress_rule *egress_grant_outside(const struct egress_grant *g, const struct egress_grant *ceiling);
/* Whether rule r (of a grant) is covered by some entry of ceiling. */
bool egress_rule_within(const struct egress_rule *r, const struct egress_grant *ceiling);

/* Whether name (any case) on port matches rule r by name (a name or
 * wildcard rule). */
bool egress_rule_match_name(const struct egress_rule *r, const char *name, uint16_t port);
/* Whether the address sa on port lies in range rule r. */
bool egress_rule_match_addr(const struct egress_rule *r, const struct sockaddr *sa, socklen_t len, uint16_t port);

/* Whether s is a valid host name as grants take them (no wildcard). */
bool egress_name_valid(const char *s);
