/* SPDX-License-Identifier: MIT */
/*
 * sfaasd logs NAME [-n NS] [-f] [--tail N] [--since TIME] [--json]:
 * GET /system/logs (NDJSON, OpenFaaS logs.Message per line), printed as
 * "TIMESTAMP NAME (INSTANCE) TEXT" like faas-cli, or raw with --json. The
 * body is written to a stdio cookie stream as it arrives, so -f shows lines
 * as they come.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/client.h"
#include "cmd/client_http.h"
#include "cmd/commands.h"
#include "core/base/cleanup.h"
#include "core/base/util.h"

struct line_printer {
        char *buf;      /* an incomplete line carried over */
        size_t len;
        bool raw;
};

static void print_record(const struct line_printer *lp, const char *line, size_t n)
{
        json_t *o;
        if (lp->raw) {
                fwrite(line, 1, n, stdout);
                fputc('\n', stdout);
                return;
        }
        o = json_loadb(line, n, 0, NULL);
        if (!o) {
                fwrite(line, 1, n, stdout); /* not a record: show it as it is */
                fputc('\n', stdout);
                return;
        }
        printf("%s %s (%s) %s\n", json_string_value(json_object_get(o, "timestamp")) ?: "?",
               json_string_value(json_object_get(o, "name")) ?: "?",
               json_string_value(json_object_get(o, "instance")) ?: "?",
               json_string_value(json_object_get(o, "text")) ?: "");
        json_decref(o);
}

/* fopencookie write: split what arrives into lines. */
static ssize_t printer_write(void *cookie, const char *data, size_t size)
{
        struct line_printer *lp = cookie;
        const char *p = data, *end = data + size;
        while (p < end) {
                const char *nl = memchr(p, '\n', (size_t) (end - p));
                size_t n = nl ? (size_t) (nl - p) : (size_t) (end - p);
                char *nb;
                if (lp->len + n > (16u << 20))
                        return -1; /* a line this long is not a log record */
                nb = realloc(lp->buf, lp->len + n + 1);
                if (!nb)
                        return -1;
                lp->buf = nb;
                memcpy(lp->buf + lp->len, p, n);
                lp->len += n;
                if (!nl)
                        break;
                print_record(lp, lp->buf, lp->len);
                lp->len = 0;
                p = nl + 1;
        }
        (void) fflush(stdout);
        return (ssize_t) size;
}

static const char logs_help[] =
        "usage: sfaasd logs NAME [OPTIONS]\n\n"
        "Print a function's logs (its stderr and the daemon's lines about it).\n\n"
        "  -n, --namespace NS        namespace (default openfaas-fn)\n"
        "  -f, --follow              keep printing new lines\n"
        "      --tail N              only the last N lines (default all)\n"
        "      --since TIME          only lines at or after TIME (RFC 3339)\n"
        "      --json                print the NDJSON records as they are\n"
        "  -g, --gateway URL         gateway (default $OPENFAAS_URL, else " CLIENT_DEFAULT_GATEWAY ")\n"
        "      --password-file FILE  password of user admin (default $SFAASD_PASSWORD, else none)\n"
        "      --cacert FILE         https: trust these CA certificates (default $SFAASD_CACERT)\n"
        "      --tls-fingerprint FP  https: trust the certificate with this SHA-256 fingerprint\n"
        "  -h, --help                show this help\n";

int cmd_logs(int argc, char **argv)
{
        enum { OPT_PW = 0x100, OPT_TAIL, OPT_SINCE, OPT_JSON, OPT_CACERT, OPT_PIN };
        static const struct option opts[] = {
                { "namespace", required_argument, NULL, 'n' }, { "follow", no_argument, NULL, 'f' },
                { "tail", required_argument, NULL, OPT_TAIL }, { "since", required_argument, NULL, OPT_SINCE },
                { "json", no_argument, NULL, OPT_JSON },       { "gateway", required_argument, NULL, 'g' },
                { "password-file", required_argument, NULL, OPT_PW }, { "help", no_argument, NULL, 'h' },
                { "cacert", required_argument, NULL, OPT_CACERT },
                { "tls-fingerprint", required_argument, NULL, OPT_PIN },
                { NULL, 0, NULL, 0 },
        };
        const char *ns = NULL, *gateway = NULL, *pwfile = NULL, *tail = NULL, *since = NULL, *name,
                   *cacert = NULL, *pin = NULL;
        struct line_printer lp = { 0 };
        struct client cl = { 0 };
        struct client_response resp = { 0 };
        struct sf_err e = { 0 };
        const char *query[5];
        _cleanup_free_ char *q_name = NULL, *q_ns = NULL, *q_tail = NULL, *q_since = NULL;
        size_t nq = 0;
        bool follow = false;
        FILE *sink;
        int c, r, rc = 1;

        optind = 0;
        opterr = 0;
        while ((c = getopt_long(argc, argv, ":n:fg:h", opts, NULL)) != -1) {
                switch (c) {
                case 'n': ns = optarg; break;
                case 'f': follow = true; break;
                case 'g': gateway = optarg; break;
                case OPT_PW: pwfile = optarg; break;
                case OPT_CACERT: cacert = optarg; break;
                case OPT_PIN: pin = optarg; break;
                case OPT_TAIL: tail = optarg; break;
                case OPT_SINCE: since = optarg; break;
                case OPT_JSON: lp.raw = true; break;
                case 'h': fputs(logs_help, stdout); return 0;
                case ':': fprintf(stderr, "sfaasd: logs: option '%s' needs a value\n", argv[optind - 1]); return 2;
                default: fprintf(stderr, "sfaasd: logs: unknown option '%s'\n", argv[optind - 1]); return 2;
                }
        }
        if (optind + 1 != argc) {
                fprintf(stderr, "sfaasd: logs: expected one function name (see 'sfaasd logs --help')\n");
                return 2;
        }
        name = argv[optind];
        if (!client_name_valid(name) || (ns && !client_name_valid(ns))) {
                fprintf(stderr, "sfaasd: logs: invalid function or namespace name\n");
                return 2;
        }
        if (tail) {
                uint64_t t;
                if (parse_u64(tail, &t) < 0) {
                        fprintf(stderr, "sfaasd: logs: --tail needs a number\n");
                        return 2;
                }
        }
        q_name = xasprintf("name=%s", name);
        q_ns = ns ? xasprintf("namespace=%s", ns) : NULL;
        q_tail = tail ? xasprintf("tail=%s", tail) : NULL;
        q_since = since ? xasprintf("since=%s", since) : NULL;
        if (!q_name || (ns && !q_ns) || (tail && !q_tail) || (since && !q_since))
                return 1;
        query[nq++] = q_name;
        if (q_ns)
                query[nq++] = q_ns;
        if (q_tail)
                query[nq++] = q_tail;
        if (q_since)
                query[nq++] = q_since;
        query[nq++] = follow ? "follow=true" : "follow=false";

        /* Following has no end: no timeout then. */
        r = client_init(&cl, gateway, pwfile, true, follow ? 0 : 60000, &e);
        if (r >= 0)
                r = client_set_tls(&cl, cacert, pin, &e);
        if (r < 0) {
                fprintf(stderr, "sfaasd: %s\n", e.msg[0] ? e.msg : strerror(-r));
                return 1;
        }
        sink = fopencookie(&lp, "w", (cookie_io_functions_t){ .write = printer_write });
        if (!sink) {
                client_release(&cl);
                return 1;
        }
        setvbuf(sink, NULL, _IONBF, 0); /* every chunk reaches the printer at once */
        {
                struct client_request req = { .method = "GET", .path = "/system/logs", .query = query,
                                              .n_query = nq, .auth = true, .sink = sink };
                r = client_do(&cl, &req, &resp, &e);
        }
        (void) fclose(sink);
        if (lp.len) /* a last line without its newline */
                print_record(&lp, lp.buf, lp.len);
        free(lp.buf);
        if (r < 0) {
                fprintf(stderr, "sfaasd: %s\n", e.msg[0] ? e.msg : strerror(-r));
        } else if (resp.status == 401) {
                fprintf(stderr, "sfaasd: unauthorized: check --password-file or SFAASD_PASSWORD\n");
        } else if (resp.status < 200 || resp.status >= 300) {
                _cleanup_free_ char *msg = client_error_message(resp.body, resp.len);
                fprintf(stderr, "sfaasd: logs %s: HTTP %ld: %s\n", name, resp.status,
                        msg ? msg : client_status_reason(resp.status));
        } else {
                rc = 0;
        }
        client_response_release(&resp);
        client_release(&cl);
        return rc;
}
