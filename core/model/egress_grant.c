/* SPDX-License-Identifier: MIT */
/* Egress grants and ceilings: see core/model/egress_grant.h. */
#include "core/model/egress_grant.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/base/util.h"

bool egress_name_valid(const char *s)
{
        size_t n = strlen(s), label = 0;
        bool digits_only = true;

        if (n == 0 || n >= EGRESS_HOST_MAX || s[0] == '.' || s[n - 1] == '.')
                return false;
        for (size_t i = 0; i < n; i++) {
                char c = s[i];
                if (c == '.') {
                        if (label == 0 || s[i - 1] == '-')
                                return false;
                        label = 0;
                        digits_only = true;
                        continue;
                }
                if (!isalnum((unsigned char) c) && c != '-')
                        return false;
                if (label == 0 && c == '-')
                        return false;
                if (!isdigit((unsigned char) c))
                        digits_only = false;
                if (++label > 63)
                        return false;
        }
        /* "10.1" or "0x7f.1" would be an address to inet_aton and libc's
         * resolver: a name's last label is never all digits. */
        return !digits_only && s[n - 1] != '-';
}

static int bad(struct sf_err *err, const char *entry, const char *why)
{
        return sf_err_set(err, -EINVAL, "egress entry '%.200s': %s", entry, why);
}

static int parse_port(const char *s, bool allow_any, uint16_t *ret)
{
        uint64_t v;

        if (allow_any && strcmp(s, "*") == 0) {
                *ret = 0;
                return 0;
        }
        if (parse_u64(s, &v) < 0 || v == 0 || v > 65535)
                return -EINVAL;
        *ret = (uint16_t) v;
        return 0;
}

/* "DEST:PORT" into r (kind, host or net, port, text). */
static int parse_dest(char *d, struct egress_rule *r, struct sf_err *err)
{
        char *port, *host = d;

        if (xsnprintf(r->text, sizeof r->text, "%s", d) < 0)
                return bad(err, d, "too long");
        if (d[0] == '[') {
                char *close = strchr(d, ']');
                if (!close || close[1] != ':')
                        return bad(err, d, "an IPv6 address is written [ADDRESS]:PORT");
                *close = '\0';
                host = d + 1;
                port = close + 2;
        } else {
                port = strrchr(d, ':');
                if (!port)
                        return bad(err, d, "a port is required (HOST:PORT, or HOST:* for any)");
                *port++ = '\0';
                if (strchr(d, ':'))
                        return bad(err, r->text, "an IPv6 address is written [ADDRESS]:PORT");
        }
        if (parse_port(port, true, &r->port) < 0)
                return bad(err, r->text, "the port must be 1 to 65535 or '*'");
        if (egress_net_parse(host, &r->net) == 0) {
                r->kind = EGRESS_NET;
        } else if (str_startswith(host, "*.")) {
                r->kind = EGRESS_WILDCARD;
                host += 2;
                if (!egress_name_valid(host) || !strchr(host, '.'))
                        return bad(err, r->text, "a wildcard is '*.' in front of a name of two labels or more");
        } else if (strchr(host, '*')) {
                return bad(err, r->text, "'*' may only stand for the whole first label ('*.example.com')");
        } else if (strchr(host, '/') || strspn(host, "0123456789.") == strlen(host)) {
                return bad(err, r->text, "not an IPv4 or IPv6 address or range");
        } else if (!egress_name_valid(host)) {
                return bad(err, r->text, "not a host name (letters, digits, '-' and '.')");
        }
        if (xsnprintf(r->host, sizeof r->host, "%s", host) < 0)
                return bad(err, r->text, "too long");
        for (char *c = r->host; *c; c++)
                *c = (char) tolower((unsigned char) *c);
        return 0;
}

static bool secret_name_valid(const char *s)
{
        size_t n = strlen(s);
        if (n == 0 || n >= 64)
                return false;
        for (; *s; s++)
                if (!isalnum((unsigned char) *s) && *s != '-' && *s != '_' && *s != '.')
                        return false;
        return true;
}

static bool header_name_valid(const char *s)
{
        size_t n = strlen(s);
        if (n == 0 || n >= EGRESS_HEADER_MAX)
                return false;
        for (; *s; s++)
                if (!isalnum((unsigned char) *s) && *s != '-')
                        return false;
        return true;
}

static int parse_option(char *o, struct egress_rule *r, struct sf_err *err)
{
        char *eq = strchr(o, '=');
        const char *v;

        if (!eq)
                return bad(err, r->text, "an option is KEY=VALUE (secret=, header=, forward=)");
        *eq = '\0';
        v = eq + 1;
        if (strcmp(o, "secret") == 0) {
                if (!secret_name_valid(v))
                        return bad(err, r->text, "secret= names a secret of the tenant");
                if (r->kind != EGRESS_NAME)
                        return bad(err, r->text, "a secret goes to one host name, not a wildcard or an address");
                (void) xsnprintf(r->secret, sizeof r->secret, "%s", v);
        } else if (strcmp(o, "header") == 0) {
                if (!header_name_valid(v))
                        return bad(err, r->text, "header= is a header name (letters, digits, '-')");
                (void) xsnprintf(r->header, sizeof r->header, "%s", v);
        } else if (strcmp(o, "forward") == 0) {
                if (parse_port(v, false, &r->forward) < 0)
                        return bad(err, r->text, "forward= is a TCP port (1 to 65535)");
                if (r->kind == EGRESS_WILDCARD || r->port == 0 ||
                    (r->kind == EGRESS_NET && r->net.prefix != 128))
                        return bad(err, r->text, "a forward goes to one name or address and one port");
        } else {
                return bad(err, r->text, "unknown option (secret=, header=, forward=)");
        }
        return 0;
}

static int parse_entry(char *e, bool ceiling, struct egress_rule *r, struct sf_err *err)
{
        char *save = NULL, *tok;
        int q;

        memset(r, 0, sizeof *r);
        tok = strtok_r(e, " \t", &save);
        if (!tok)
                return sf_err_set(err, -EINVAL, "egress: an empty entry");
        if ((q = parse_dest(tok, r, err)) < 0)
                return q;
        while ((tok = strtok_r(NULL, " \t", &save))) {
                if (ceiling)
                        return bad(err, r->text, "a ceiling takes no options");
                if ((q = parse_option(tok, r, err)) < 0)
                        return q;
        }
        if (r->header[0] && !r->secret[0])
                return bad(err, r->text, "header= needs secret=");
        return 0;
}

int egress_grant_parse(const char *list, bool ceiling, struct egress_grant *ret, struct sf_err *err)
{
        struct egress_grant g = { 0 };
        const char *s = list ? list : "";

        while (*s) {
                char item[EGRESS_ENTRY_MAX];
                size_t n = strcspn(s, ",");
                int q;

                if (n >= sizeof item) {
                        egress_grant_release(&g);
                        return sf_err_set(err, -EINVAL, "egress: an entry longer than %d bytes",
                                          EGRESS_ENTRY_MAX - 1);
                }
                memcpy(item, s, n);
                item[n] = '\0';
                s += n;
                if (*s == ',')
                        s++;
                if (strspn(item, " \t\r\n") == n) {
                        if (!*s && g.n > 0)
                                break; /* a trailing comma */
                        egress_grant_release(&g);
                        return sf_err_set(err, -EINVAL, "egress: an empty entry");
                }
                for (char *c = item; *c; c++)
                        if (*c == '\r' || *c == '\n')
                                *c = ' ';
                if (g.n >= EGRESS_ENTRIES_MAX) {
                        egress_grant_release(&g);
                        return sf_err_set(err, -EINVAL, "egress: more than %d entries", EGRESS_ENTRIES_MAX);
                }
                {
                        struct egress_rule *nv = realloc(g.v, (g.n + 1) * sizeof *nv);
                        if (!nv) {
                                egress_grant_release(&g);
                                return -ENOMEM;
                        }
                        g.v = nv;
                }
                q = parse_entry(item, ceiling, &g.v[g.n], err);
                if (q < 0) {
                        egress_grant_release(&g);
                        return q;
                }
                for (size_t i = 0; i < g.n; i++)
                        if (g.v[g.n].forward && g.v[i].forward == g.v[g.n].forward) {
                                unsigned port = g.v[i].forward;
                                egress_grant_release(&g);
                                return sf_err_set(err, -EINVAL, "egress: forward=%u is used twice", port);
                        }
                g.n++;
        }
        *ret = g;
        return 0;
}

void egress_grant_release(struct egress_grant *g)
{
        if (!g)
                return;
        free(g->v);
        g->v = NULL;
        g->n = 0;
}

/* name is suffix with exactly one label in front. */
static bool one_label_above(const char *name, const char *suffix)
{
        size_t n = strlen(name), m = strlen(suffix);
        const char *dot;

        if (n < m + 2 || strcasecmp(name + n - m, suffix) != 0 || name[n - m - 1] != '.')
                return false;
        dot = memchr(name, '.', n - m - 1);
        return !dot && n - m - 1 > 0;
}

static bool covers(const struct egress_rule *c, const struct egress_rule *r)
{
        if (c->port != 0 && c->port != r->port)
                return false;
        switch (r->kind) {
        case EGRESS_NAME:
                return (c->kind == EGRESS_NAME && strcasecmp(c->host, r->host) == 0) ||
                       (c->kind == EGRESS_WILDCARD && one_label_above(r->host, c->host));
        case EGRESS_WILDCARD:
                return c->kind == EGRESS_WILDCARD && strcasecmp(c->host, r->host) == 0;
        case EGRESS_NET:
                return c->kind == EGRESS_NET && egress_net_within(&r->net, &c->net);
        }
        return false;
}

bool egress_rule_within(const struct egress_rule *r, const struct egress_grant *ceiling)
{
        for (size_t i = 0; ceiling && i < ceiling->n; i++)
                if (covers(&ceiling->v[i], r))
                        return true;
        return false;
}

const struct egress_rule *egress_grant_outside(const struct egress_grant *g, const struct egress_grant *ceiling)
{
        for (size_t i = 0; i < g->n; i++)
                if (!egress_rule_within(&g->v[i], ceiling))
                        return &g->v[i];
        return NULL;
}

bool egress_rule_match_name(const struct egress_rule *r, const char *name, uint16_t port)
{
        if (r->port != 0 && r->port != port)
                return false;
        if (r->kind == EGRESS_NAME)
                return strcasecmp(r->host, name) == 0;
        if (r->kind == EGRESS_WILDCARD)
                return one_label_above(name, r->host);
        return false;
}

bool egress_rule_match_addr(const struct egress_rule *r, const struct sockaddr *sa, socklen_t len, uint16_t port)
{
        if (r->kind != EGRESS_NET || (r->port != 0 && r->port != port))
                return false;
        return egress_net_contains(&r->net, sa, len);
}
