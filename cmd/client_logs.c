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
#include "cmd/client_cmd.h"
#include "cmd/client_http.h"
#include "cmd/commands.h"
#include "core/base/cleanup.h"
#include "core/base/util.h"

#define LOG_LINE_MAX (16u << 20) /* a longer line is not a log record */
#define LOGS_QUERY_MAX 5         /* name, namespace, tail, since, follow */

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
                if (lp->len + n > LOG_LINE_MAX)
                        return -1;
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
        "  -u, --user USER           admin, or a tenant's name (default $SFAASD_USER, else admin)\n"
        "      --password-file FILE  the user's password or token (default $SFAASD_PASSWORD, else none)\n"
        "      --cacert FILE         https: trust these CA certificates (default $SFAASD_CACERT)\n"
        "      --tls-fingerprint FP  https: trust the certificate with this SHA-256 fingerprint\n"
        "  -h, --help                show this help\n";

struct logs_cmd {
        const char *name, *ns, *gateway, *user, *pwfile, *tail, *since, *cacert, *pin;
        bool follow;
        struct line_printer lp;
        char *q_name, *q_ns, *q_tail, *q_since;
        const char *query[LOGS_QUERY_MAX];
        size_t nq;
};

static void logs_cmd_release(struct logs_cmd *g)
{
        free(g->lp.buf);
        free(g->q_name);
        free(g->q_ns);
        free(g->q_tail);
        free(g->q_since);
}

/* 0 once the options are read, CLI_PARSE_HELP, or -EINVAL (said). */
static int logs_parse(struct logs_cmd *g, int argc, char **argv)
{
        static const struct option opts[] = {
                { "namespace", required_argument, NULL, 'n' }, { "follow", no_argument, NULL, 'f' },
                { "tail", required_argument, NULL, OPT_TAIL }, { "since", required_argument, NULL, OPT_SINCE },
                { "json", no_argument, NULL, OPT_JSON },       { "gateway", required_argument, NULL, 'g' },
                { "password-file", required_argument, NULL, OPT_PASSWORD_FILE }, { "help", no_argument, NULL, 'h' },
                { "user", required_argument, NULL, 'u' },
                { "cacert", required_argument, NULL, OPT_CACERT }, { "tls-fingerprint", required_argument, NULL, OPT_TLS_PIN },                        { NULL, 0, NULL, 0 },
        };
        int c;

        optind = 0;
        opterr = 0;
        while ((c = getopt_long(argc, argv, ":n:fg:hu:", opts, NULL)) != -1) {
                switch (c) {
                case 'n': g->ns = optarg; break;
                case 'f': g->follow = true; break;
                case 'g': g->gateway = optarg; break;
                case 'u': g->user = optarg; break;
                case OPT_CACERT: g->cacert = optarg; break;
                case OPT_TLS_PIN: g->pin = optarg; break;
                case OPT_PASSWORD_FILE: g->pwfile = optarg; break;
                case OPT_TAIL: g->tail = optarg; break;
                case OPT_SINCE: g->since = optarg; break;
                case OPT_JSON: g->lp.raw = true; break;
                case 'h': fputs(logs_help, stdout); return CLI_PARSE_HELP;
                case ':':
                        fprintf(stderr, "sfaasd: logs: option '%s' needs a value\n", argv[optind - 1]);
                        return -EINVAL;
                default:
                        fprintf(stderr, "sfaasd: logs: unknown option '%s'\n", argv[optind - 1]);
                        return -EINVAL;
                }
        }
        return 0;
}

static int logs_validate(struct logs_cmd *g, int argc, char **argv)
{
        uint64_t t;

        if (optind + 1 != argc) {
                fprintf(stderr, "sfaasd: logs: expected one function name (see 'sfaasd logs --help')\n");
                return -EINVAL;
        }
        g->name = argv[optind];
        if (!client_name_valid(g->name) || (g->ns && !client_name_valid(g->ns))) {
                fprintf(stderr, "sfaasd: logs: invalid function or namespace name\n");
                return -EINVAL;
        }
        if (g->tail && parse_u64(g->tail, &t) < 0) {
                fprintf(stderr, "sfaasd: logs: --tail needs a number\n");
                return -EINVAL;
        }
        return 0;
}

/* The query of GET /system/logs. */
static int logs_plan(struct logs_cmd *g)
{
        g->q_name = xasprintf("name=%s", g->name);
        g->q_ns = g->ns ? xasprintf("namespace=%s", g->ns) : NULL;
        g->q_tail = g->tail ? xasprintf("tail=%s", g->tail) : NULL;
        g->q_since = g->since ? xasprintf("since=%s", g->since) : NULL;
        if (!g->q_name || (g->ns && !g->q_ns) || (g->tail && !g->q_tail) || (g->since && !g->q_since))
                return cli_fail(-ENOMEM, NULL);
        g->query[g->nq++] = g->q_name;
        if (g->q_ns)
                g->query[g->nq++] = g->q_ns;
        if (g->q_tail)
                g->query[g->nq++] = g->q_tail;
        if (g->q_since)
                g->query[g->nq++] = g->q_since;
        g->query[g->nq++] = g->follow ? "follow=true" : "follow=false";
        return 0;
}

static int logs_report(const struct logs_cmd *g, const struct client_response *resp)
{
        _cleanup_free_ char *msg = NULL;

        if (resp->status == 401) {
                fprintf(stderr, "sfaasd: unauthorized: check --password-file or SFAASD_PASSWORD\n");
                return -EREMOTEIO;
        }
        if (!cli_is_2xx(resp->status)) {
                msg = client_error_message(resp->body, resp->len);
                fprintf(stderr, "sfaasd: logs %s: HTTP %ld: %s\n", g->name, resp->status,
                        msg ? msg : client_status_reason(resp->status));
                return -EREMOTEIO;
        }
        return 0;
}

/* The records are printed as they arrive: the body goes to a stdio
 * cookie stream that splits it into lines. */
static int logs_call(struct logs_cmd *g)
{
        _cleanup_(client_release) struct client cl = {};
        _cleanup_(client_response_release) struct client_response resp = {};
        struct sf_err e = {};
        FILE *sink;
        int r;

        /* Following has no end: no timeout then. */
        r = client_init(&cl, g->gateway, g->user, g->pwfile, true, g->follow ? 0 : CLI_DEFAULT_TIMEOUT_MS, &e);
        if (r >= 0)
                r = client_set_tls(&cl, g->cacert, g->pin, &e);
        if (r < 0)
                return cli_fail(r, &e);
        sink = fopencookie(&g->lp, "w", (cookie_io_functions_t){ .write = printer_write });
        if (!sink)
                return -errno;
        setvbuf(sink, NULL, _IONBF, 0); /* every chunk reaches the printer at once */
        r = client_do(&cl,
                      &(struct client_request) { .method = "GET", .path = "/system/logs", .query = g->query,
                                                 .n_query = g->nq, .auth = true, .sink = sink },
                      &resp, &e);
        (void) fclose(sink);
        if (g->lp.len) /* a last line without its newline */
                print_record(&g->lp, g->lp.buf, g->lp.len);
        if (r < 0)
                return cli_fail(r, &e);
        return logs_report(g, &resp);
}

int cmd_logs(int argc, char **argv)
{
        _cleanup_(logs_cmd_release) struct logs_cmd g = { 0 };
        int r;

        r = logs_parse(&g, argc, argv);
        if (r != 0)
                return cli_args_exit(r);
        r = logs_validate(&g, argc, argv);
        if (r < 0)
                return cli_args_exit(r);
        if (logs_plan(&g) < 0 || logs_call(&g) < 0)
                return EXIT_FAILURE;
        return EXIT_SUCCESS;
}
