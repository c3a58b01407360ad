/* SPDX-License-Identifier: MIT */
/*
 * The client subcommands: deploy, list, invoke, rm, image. Argument parsing
 * and printing only; the JSON and URL helpers are in client_util.c, the HTTP
 * call in client_http.c. Every failure is one line on stderr starting
 * "sfaasd: " and exit code 1 (2 for usage errors).
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd/client.h"
#include "cmd/client_http.h"
#include "cmd/client_image.h"
#include "cmd/commands.h"
#include "core/base/cleanup.h"
#include "core/base/util.h"

#define DEFAULT_TIMEOUT_MS 60000L
#define INVOKE_BODY_MAX (256u << 20) /* stdin read into memory when it is not a regular file */

enum {
        OPT_PASSWORD_FILE = 0x100,
        OPT_TIMEOUT,
        OPT_NAME,
        OPT_IMAGE,
        OPT_FPROCESS,
        OPT_ANNOTATION,
        OPT_SECRET,
        OPT_MEMORY,
        OPT_CPU,
        OPT_READONLY,
        OPT_VERBOSE,
        OPT_JSON,
        OPT_QUERY,
        OPT_CONTENT_TYPE,
        OPT_CACERT,
        OPT_TLS_PIN,
};

#define COMMON_SHORTOPTS ":g:h"
#define COMMON_LONGOPTS                                                        \
        { "gateway", required_argument, NULL, 'g' },                           \
        { "password-file", required_argument, NULL, OPT_PASSWORD_FILE },       \
        { "timeout", required_argument, NULL, OPT_TIMEOUT },                   \
        { "cacert", required_argument, NULL, OPT_CACERT },                     \
        { "tls-fingerprint", required_argument, NULL, OPT_TLS_PIN },           \
        { "help", no_argument, NULL, 'h' }

#define COMMON_HELP                                                                                \
        "  -g, --gateway URL         gateway (default $OPENFAAS_URL, else " CLIENT_DEFAULT_GATEWAY ")\n" \
        "      --password-file FILE  password of user admin (default $SFAASD_PASSWORD, else none)\n"    \
        "      --timeout DURATION    whole request, e.g. 30s, 2m, 0 for none (default 60s)\n"          \
        "      --cacert FILE         https: trust these CA certificates (default $SFAASD_CACERT, else the system's)\n" \
        "      --tls-fingerprint FP  https: trust the certificate with this SHA-256 fingerprint\n"        \
        "                            (default $SFAASD_TLS_FINGERPRINT; what a self-signed sfaasd logs)\n" \
        "  -h, --help                show this help\n"

struct common {
        const char *gateway;
        const char *password_file;
        long timeout_ms;
        const char *cacert;
        const char *tls_pin;
};

static void free_constp(const char ***p) { free((void *) *p); }
#define _cleanup_argv_ _cleanup_(free_constp)

static int usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int usage_error(const char *cmd, const char *fmt, ...)
{
        va_list ap;

        fprintf(stderr, "sfaasd: %s: ", cmd);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fprintf(stderr, " (see 'sfaasd %s --help')\n", cmd);
        return 2;
}

/* Handle what getopt_long() returned when it is shared by every command.
 * Returns 1 when handled, 0 when the command must handle c, or an exit code
 * (2) after printing a usage error; help is printed by the caller. */
static int common_option(struct common *co, const char *cmd, int c, char **argv)
{
        uint64_t ms;

        switch (c) {
        case 'g':
                co->gateway = optarg;
                return 1;
        case OPT_PASSWORD_FILE:
                co->password_file = optarg;
                return 1;
        case OPT_CACERT:
                co->cacert = optarg;
                return 1;
        case OPT_TLS_PIN:
                co->tls_pin = optarg;
                return 1;
        case OPT_TIMEOUT:
                if (parse_duration_ms(optarg, &ms) < 0 || ms > 24ULL * 3600 * 1000)
                        return -usage_error(cmd, "invalid timeout '%s': use e.g. 30s or 2m", optarg);
                co->timeout_ms = (long) ms;
                return 1;
        case ':':
                return -usage_error(cmd, "option '%s' needs a value", argv[optind - 1]);
        case '?':
                if (optopt)
                        return -usage_error(cmd, "unknown option '-%c'", optopt);
                return -usage_error(cmd, "unknown option '%s'", argv[optind - 1]);
        default:
                return 0;
        }
}

static int fail(int r, const struct sf_err *e)
{
        if (e->msg[0])
                fprintf(stderr, "sfaasd: %s\n", e->msg);
        else
                fprintf(stderr, "sfaasd: %s\n", strerror(-r));
        return 1;
}

/* Report a non-success HTTP answer as one line. */
static int fail_response(const struct client_response *resp, bool auth, const char *what)
{
        _cleanup_free_ char *msg = NULL;

        if (auth && resp->status == 401) {
                fprintf(stderr, "sfaasd: unauthorized: check --password-file or SFAASD_PASSWORD\n");
                return 1;
        }
        msg = client_error_message(resp->body, resp->len);
        if (!msg && *client_status_reason(resp->status))
                msg = strdup(client_status_reason(resp->status));
        if (msg)
                fprintf(stderr, "sfaasd: %s: HTTP %ld: %s\n", what, resp->status, msg);
        else
                fprintf(stderr, "sfaasd: %s: HTTP %ld\n", what, resp->status);
        return 1;
}

static bool is_2xx(long status) { return status >= 200 && status < 300; }

/* Returns 0, or the exit code after printing why not: 2 for a bad --gateway
 * or $OPENFAAS_URL (a usage error), 1 for anything else. */
static int connect_client(struct client *cl, const struct common *co, bool need_password)
{
        _cleanup_free_ char *gw = NULL;
        const char *g = co->gateway;
        struct sf_err e = {};
        int r;

        if (!g) {
                g = getenv("OPENFAAS_URL");
                if (!g || !*g)
                        g = CLIENT_DEFAULT_GATEWAY;
        }
        r = client_gateway_normalise(g, &gw, &e);
        if (r == -EINVAL) {
                fprintf(stderr, "sfaasd: %s\n", e.msg);
                return 2;
        }
        if (r < 0)
                return fail(r, &e);
        r = client_init(cl, gw, co->password_file, need_password, co->timeout_ms, &e);
        if (r >= 0)
                r = client_set_tls(cl, co->cacert, co->tls_pin, &e);
        if (r < 0)
                return fail(r, &e);
        return 0;
}

/* Parse JSON of a response, or say the gateway answered nonsense. */
static json_t *parse_answer(const struct client_response *resp, const char *what)
{
        json_error_t je;
        json_t *j = json_loadb(resp->body, resp->len, 0, &je);

        if (!j)
                fprintf(stderr, "sfaasd: %s: the gateway answered invalid JSON: %s\n", what, je.text);
        return j;
}

static void print_raw_json(const struct client_response *resp)
{
        (void) fwrite(resp->body, 1, resp->len, stdout);
        if (resp->len == 0 || resp->body[resp->len - 1] != '\n')
                putchar('\n');
}

static int flush_stdout(void)
{
        if (fflush(stdout) != 0 || ferror(stdout)) {
                fprintf(stderr, "sfaasd: cannot write to standard output: %s\n", strerror(errno));
                return 1;
        }
        return 0;
}

/* ---- deploy ------------------------------------------------------------ */

static const char deploy_help[] =
        "usage: sfaasd deploy --name NAME --image REF [OPTIONS]\n"
        "\n"
        "Deploy a function, or update it if it exists (PUT, then POST on 404).\n"
        "\n"
        "      --name NAME           function name (letters, digits, '-', '_')\n"
        "      --image REF           image, e.g. busybox:latest (see 'sfaasd image list')\n"
        "  -n, --namespace NS        namespace (default: the gateway's, " CLIENT_DEFAULT_NAMESPACE ")\n"
        "      --fprocess CMD        command the watchdog runs (env fprocess)\n"
        "  -e, --env K=V             environment variable (repeatable)\n"
        "  -l, --label K=V           label (repeatable)\n"
        "      --annotation K=V      annotation (repeatable)\n"
        "      --secret NAME         secret mounted at /var/openfaas/secrets/NAME (repeatable)\n"
        "      --memory QTY          memory limit, e.g. 128Mi\n"
        "      --cpu QTY             cpu limit, e.g. 100m\n"
        "      --readonly            read-only root filesystem\n" COMMON_HELP;

int cmd_deploy(int argc, char **argv)
{
        static const struct option opts[] = {
                { "name", required_argument, NULL, OPT_NAME },
                { "image", required_argument, NULL, OPT_IMAGE },
                { "namespace", required_argument, NULL, 'n' },
                { "fprocess", required_argument, NULL, OPT_FPROCESS },
                { "env", required_argument, NULL, 'e' },
                { "label", required_argument, NULL, 'l' },
                { "annotation", required_argument, NULL, OPT_ANNOTATION },
                { "secret", required_argument, NULL, OPT_SECRET },
                { "memory", required_argument, NULL, OPT_MEMORY },
                { "cpu", required_argument, NULL, OPT_CPU },
                { "readonly", no_argument, NULL, OPT_READONLY },
                COMMON_LONGOPTS,
                {},
        };
        struct common co = { .timeout_ms = DEFAULT_TIMEOUT_MS };
        struct deploy_spec spec = {};
        _cleanup_argv_ const char **env = calloc((size_t) argc + 1, sizeof(char *));
        _cleanup_argv_ const char **labels = calloc((size_t) argc + 1, sizeof(char *));
        _cleanup_argv_ const char **annotations = calloc((size_t) argc + 1, sizeof(char *));
        _cleanup_argv_ const char **secrets = calloc((size_t) argc + 1, sizeof(char *));
        _cleanup_(json_decrefp) json_t *body = NULL;
        _cleanup_free_ char *json = NULL, *fpath = NULL, *what = NULL;
        struct client cl = {};
        struct client_response resp = {};
        struct client_request req;
        struct sf_err e = {};
        int c, r;

        if (!env || !labels || !annotations || !secrets)
                return fail(-ENOMEM, &e);
        optind = 0;
        opterr = 0;
        while ((c = getopt_long(argc, argv, COMMON_SHORTOPTS "n:e:l:", opts, NULL)) != -1) {
                r = common_option(&co, argv[0], c, argv);
                if (r < 0)
                        return -r;
                if (r > 0)
                        continue;
                switch (c) {
                case 'h':
                        fputs(deploy_help, stdout);
                        return 0;
                case OPT_NAME: spec.name = optarg; break;
                case OPT_IMAGE: spec.image = optarg; break;
                case 'n': spec.namespace = optarg; break;
                case OPT_FPROCESS: spec.fprocess = optarg; break;
                case 'e': env[spec.n_env++] = optarg; break;
                case 'l': labels[spec.n_labels++] = optarg; break;
                case OPT_ANNOTATION: annotations[spec.n_annotations++] = optarg; break;
                case OPT_SECRET: secrets[spec.n_secrets++] = optarg; break;
                case OPT_MEMORY: spec.memory = optarg; break;
                case OPT_CPU: spec.cpu = optarg; break;
                case OPT_READONLY: spec.readonly = true; break;
                default: return usage_error(argv[0], "unexpected option");
                }
        }
        if (optind < argc)
                return usage_error(argv[0], "unexpected argument '%s'", argv[optind]);
        if (!spec.name)
                return usage_error(argv[0], "--name is required");
        if (!spec.image)
                return usage_error(argv[0], "--image is required");
        spec.env = env;
        spec.labels = labels;
        spec.annotations = annotations;
        spec.secrets = secrets;

        r = client_deployment_json(&spec, &body, &e);
        if (r == -ENOMEM)
                return fail(r, &e);
        if (r < 0)
                return usage_error(argv[0], "%s", e.msg);
        json = json_dumps(body, JSON_COMPACT);
        r = client_function_path(spec.name, spec.namespace, &fpath);
        what = xasprintf("deploy '%s'", spec.name);
        if (!json || r < 0 || !what)
                return fail(-ENOMEM, &e);

        r = connect_client(&cl, &co, true);
        if (r > 0)
                return r;
        req = (struct client_request) {
                .method = "PUT",
                .path = "/system/functions",
                .auth = true,
                .content_type = "application/json",
                .has_body = true,
                .body = json,
                .body_len = strlen(json),
        };
        r = client_do(&cl, &req, &resp, &e);
        if (r >= 0 && resp.status == 404) {
                /* Not there yet: create it, as faas-cli does. */
                client_response_release(&resp);
                req.method = "POST";
                r = client_do(&cl, &req, &resp, &e);
        }
        if (r < 0)
                r = fail(r, &e);
        else if (!is_2xx(resp.status))
                r = fail_response(&resp, true, what);
        else {
                printf("Deployed. %ld %s.\n", resp.status, client_status_reason(resp.status));
                printf("URL: %s%s\n", cl.gateway, fpath);
                r = flush_stdout();
        }
        client_response_release(&resp);
        client_release(&cl);
        return r;
}

/* ---- list -------------------------------------------------------------- */

static const char list_help[] =
        "usage: sfaasd list [OPTIONS]\n"
        "\n"
        "List the functions of a namespace.\n"
        "\n"
        "  -n, --namespace NS        namespace (default: the gateway's)\n"
        "  -v, --verbose             also show the image\n"
        "      --json                print the gateway's JSON as is\n" COMMON_HELP;

static int cmp_by_name(const void *a, const void *b)
{
        const char *x = json_string_value(json_object_get(*(json_t *const *) a, "name"));
        const char *y = json_string_value(json_object_get(*(json_t *const *) b, "name"));
        return strcmp(x ? x : "", y ? y : "");
}

static const char *str_or(json_t *o, const char *key, const char *dflt)
{
        const char *s = json_string_value(json_object_get(o, key));
        return s ? s : dflt;
}

static int print_functions(json_t *arr, bool verbose)
{
        size_t n = json_array_size(arr), wname = STRLEN("NAME"), wimage = STRLEN("IMAGE");
        _cleanup_free_ json_t **rows = calloc(n + 1, sizeof(json_t *));

        if (!rows)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                rows[i] = json_array_get(arr, i);
                size_t ln = strlen(str_or(rows[i], "name", "")), li = strlen(str_or(rows[i], "image", ""));
                wname = ln > wname ? ln : wname;
                wimage = li > wimage ? li : wimage;
        }
        qsort(rows, n, sizeof *rows, cmp_by_name);
        if (verbose)
                printf("%-*s  %-*s  %11s  %8s\n", (int) wname, "NAME", (int) wimage, "IMAGE", "INVOCATIONS",
                       "REPLICAS");
        else
                printf("%-*s  %11s  %8s\n", (int) wname, "NAME", "INVOCATIONS", "REPLICAS");
        for (size_t i = 0; i < n; i++) {
                json_t *inv = json_object_get(rows[i], "invocationCount");
                json_t *rep = json_object_get(rows[i], "replicas");
                double invocations = json_is_number(inv) ? json_number_value(inv) : 0;
                long long replicas = json_is_integer(rep) ? (long long) json_integer_value(rep) : 0;

                if (verbose)
                        printf("%-*s  %-*s  %11.0f  %8lld\n", (int) wname, str_or(rows[i], "name", ""), (int) wimage,
                               str_or(rows[i], "image", ""), invocations, replicas);
                else
                        printf("%-*s  %11.0f  %8lld\n", (int) wname, str_or(rows[i], "name", ""), invocations,
                               replicas);
        }
        return 0;
}

int cmd_list(int argc, char **argv)
{
        static const struct option opts[] = {
                { "namespace", required_argument, NULL, 'n' },
                { "verbose", no_argument, NULL, 'v' },
                { "json", no_argument, NULL, OPT_JSON },
                COMMON_LONGOPTS,
                {},
        };
        struct common co = { .timeout_ms = DEFAULT_TIMEOUT_MS };
        const char *ns = NULL;
        bool verbose = false, as_json = false;
        _cleanup_free_ char *q = NULL;
        _cleanup_(json_decrefp) json_t *arr = NULL;
        struct client cl = {};
        struct client_response resp = {};
        struct sf_err e = {};
        int c, r;

        optind = 0;
        opterr = 0;
        while ((c = getopt_long(argc, argv, COMMON_SHORTOPTS "n:v", opts, NULL)) != -1) {
                r = common_option(&co, argv[0], c, argv);
                if (r < 0)
                        return -r;
                if (r > 0)
                        continue;
                switch (c) {
                case 'h':
                        fputs(list_help, stdout);
                        return 0;
                case 'n': ns = optarg; break;
                case 'v': verbose = true; break;
                case OPT_JSON: as_json = true; break;
                default: return usage_error(argv[0], "unexpected option");
                }
        }
        if (optind < argc)
                return usage_error(argv[0], "unexpected argument '%s'", argv[optind]);
        if (ns && !client_name_valid(ns))
                return usage_error(argv[0], "invalid namespace '%s'", ns);
        if (ns && !(q = xasprintf("namespace=%s", ns)))
                return fail(-ENOMEM, &e);

        r = connect_client(&cl, &co, true);
        if (r > 0)
                return r;
        r = client_do(&cl,
                      &(struct client_request) {
                              .method = "GET",
                              .path = "/system/functions",
                              .query = (const char *const[]) { q },
                              .n_query = q ? 1 : 0,
                              .auth = true,
                      },
                      &resp, &e);
        if (r < 0)
                r = fail(r, &e);
        else if (!is_2xx(resp.status))
                r = fail_response(&resp, true, "list");
        else if (as_json) {
                print_raw_json(&resp);
                r = flush_stdout();
        } else if (!(arr = parse_answer(&resp, "list")))
                r = 1;
        else if (!json_is_array(arr)) {
                fprintf(stderr, "sfaasd: list: the gateway's answer is not a JSON array\n");
                r = 1;
        } else {
                r = print_functions(arr, verbose);
                r = r < 0 ? fail(r, &e) : flush_stdout();
        }
        client_response_release(&resp);
        client_release(&cl);
        return r;
}

/* ---- invoke ------------------------------------------------------------ */

static const char invoke_help[] =
        "usage: sfaasd invoke NAME [OPTIONS] < BODY\n"
        "\n"
        "Call a function; the request body is read from standard input (empty when\n"
        "it is a terminal) and the function's answer is written to standard output.\n"
        "NAME may be written NAME.NAMESPACE. No credentials are sent to functions.\n"
        "\n"
        "  -n, --namespace NS        namespace (default: the gateway's)\n"
        "  -m, --method METHOD       GET, POST, PUT, PATCH, DELETE, HEAD or OPTIONS (default POST)\n"
        "  -H, --header 'K: V'       request header (repeatable)\n"
        "      --query K=V           query parameter (repeatable)\n"
        "      --content-type TYPE   Content-Type of the body (default text/plain)\n" COMMON_HELP;

/* Read all of stdin (not a regular file) into memory, with a ceiling. */
static int read_stdin(char **ret, size_t *ret_len, struct sf_err *e)
{
        _cleanup_free_ char *buf = NULL;
        size_t len = 0, cap = 0;

        for (;;) {
                ssize_t n;
                if (len == cap) {
                        size_t ncap = cap ? cap * 2 : 65536;
                        char *nb;
                        if (cap >= INVOKE_BODY_MAX)
                                return sf_err_set(e, -EFBIG, "the request body is larger than %u MiB; "
                                                  "redirect it from a file instead", INVOKE_BODY_MAX >> 20);
                        if (ncap > INVOKE_BODY_MAX)
                                ncap = INVOKE_BODY_MAX;
                        nb = realloc(buf, ncap);
                        if (!nb)
                                return -ENOMEM;
                        buf = nb;
                        cap = ncap;
                }
                n = read(STDIN_FILENO, buf + len, cap - len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return sf_err_errno(e, -errno, "cannot read standard input");
                }
                if (n == 0)
                        break;
                len += (size_t) n;
        }
        *ret = TAKE_PTR(buf);
        *ret_len = len;
        return 0;
}

static bool method_valid(const char *m)
{
        static const char *const methods[] = { "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS" };
        for (size_t i = 0; i < ELEMENTSOF(methods); i++)
                if (strcmp(m, methods[i]) == 0)
                        return true;
        return false;
}

int cmd_invoke(int argc, char **argv)
{
        static const struct option opts[] = {
                { "namespace", required_argument, NULL, 'n' },
                { "method", required_argument, NULL, 'm' },
                { "header", required_argument, NULL, 'H' },
                { "query", required_argument, NULL, OPT_QUERY },
                { "content-type", required_argument, NULL, OPT_CONTENT_TYPE },
                COMMON_LONGOPTS,
                {},
        };
        struct common co = { .timeout_ms = DEFAULT_TIMEOUT_MS };
        _cleanup_argv_ const char **headers = calloc((size_t) argc + 1, sizeof(char *));
        _cleanup_argv_ const char **query = calloc((size_t) argc + 1, sizeof(char *));
        _cleanup_free_ char *name = NULL, *fpath = NULL, *body = NULL, *method = NULL;
        const char *ns = NULL, *ctype = NULL;
        bool header_ctype = false;
        size_t n_headers = 0, n_query = 0, body_len = 0;
        struct client cl = {};
        struct client_response resp = {};
        struct client_request req = {};
        struct sf_err e = {};
        struct stat st;
        char *dot;
        int c, r;

        if (!headers || !query)
                return fail(-ENOMEM, &e);
        optind = 0;
        opterr = 0;
        while ((c = getopt_long(argc, argv, COMMON_SHORTOPTS "n:m:H:", opts, NULL)) != -1) {
                r = common_option(&co, argv[0], c, argv);
                if (r < 0)
                        return -r;
                if (r > 0)
                        continue;
                switch (c) {
                case 'h':
                        fputs(invoke_help, stdout);
                        return 0;
                case 'n': ns = optarg; break;
                case 'm':
                        free(method);
                        method = strdup(optarg);
                        if (!method)
                                return fail(-ENOMEM, &e);
                        for (char *p = method; *p; p++)
                                *p = (char) (*p >= 'a' && *p <= 'z' ? *p - 'a' + 'A' : *p);
                        break;
                case 'H': {
                        _cleanup_free_ char *hn = NULL, *hv = NULL;
                        if (client_header_parse(optarg, &hn, &hv, &e) < 0)
                                return usage_error(argv[0], "%s", e.msg);
                        if (strcasecmp(hn, "Content-Type") == 0)
                                header_ctype = true;
                        headers[n_headers++] = optarg;
                        break;
                }
                case OPT_QUERY:
                        if (!strchr(optarg, '=') || optarg[0] == '=')
                                return usage_error(argv[0], "query '%s' is not in the form KEY=VALUE", optarg);
                        query[n_query++] = optarg;
                        break;
                case OPT_CONTENT_TYPE:
                        if (!*optarg || strpbrk(optarg, "\r\n"))
                                return usage_error(argv[0], "invalid content type '%s'", optarg);
                        ctype = optarg;
                        break;
                default: return usage_error(argv[0], "unexpected option");
                }
        }
        if (optind >= argc)
                return usage_error(argv[0], "a function name is required");
        if (optind + 1 < argc)
                return usage_error(argv[0], "unexpected argument '%s'", argv[optind + 1]);
        if (method && !method_valid(method))
                return usage_error(argv[0], "unsupported method '%s'", method);
        if (ctype && header_ctype) {
                /* --content-type beats -H 'Content-Type: ...': drop the header. */
                size_t k = 0;
                for (size_t i = 0; i < n_headers; i++)
                        if (strncasecmp(headers[i], "Content-Type:", STRLEN("Content-Type:")) != 0)
                                headers[k++] = headers[i];
                n_headers = k;
        } else if (!ctype && !header_ctype) {
                ctype = "text/plain"; /* as faas-cli */
        }

        name = strdup(argv[optind]);
        if (!name)
                return fail(-ENOMEM, &e);
        dot = strrchr(name, '.');
        if (dot) {
                if (ns)
                        return usage_error(argv[0], "give the namespace either as NAME.NAMESPACE or with --namespace");
                *dot = '\0';
                ns = dot + 1;
        }
        if (!client_name_valid(name))
                return usage_error(argv[0], "invalid function name '%s'", argv[optind]);
        if (ns && !client_name_valid(ns))
                return usage_error(argv[0], "invalid namespace '%s'", ns);
        r = client_function_path(name, ns, &fpath);
        if (r < 0)
                return fail(r, &e);

        req = (struct client_request) {
                .method = method ? method : "POST",
                .path = fpath,
                .query = query,
                .n_query = n_query,
                .auth = false, /* gateway credentials are never sent to functions */
                .content_type = ctype,
                .headers = headers,
                .n_headers = n_headers,
                .sink = stdout,
        };
        if (isatty(STDIN_FILENO) || fstat(STDIN_FILENO, &st) < 0) {
                req.has_body = true; /* empty */
        } else if (S_ISREG(st.st_mode)) {
                off_t pos = lseek(STDIN_FILENO, 0, SEEK_CUR);
                req.upload = stdin;
                req.upload_len = st.st_size - (pos > 0 ? pos : 0);
        } else {
                r = read_stdin(&body, &body_len, &e);
                if (r < 0)
                        return fail(r, &e);
                req.has_body = true;
                req.body = body;
                req.body_len = body_len;
        }
        /* GET and HEAD with nothing to send go without a body. */
        if (req.has_body && body_len == 0 && (strcmp(req.method, "GET") == 0 || strcmp(req.method, "HEAD") == 0))
                req.has_body = false;
        if (req.upload && req.upload_len == 0 && strcmp(req.method, "GET") == 0)
                req.upload = NULL;
        if (req.upload && strcmp(req.method, "HEAD") == 0)
                req.upload = NULL;

        r = connect_client(&cl, &co, false);
        if (r > 0)
                return r;
        r = client_do(&cl, &req, &resp, &e);
        if (r < 0)
                r = fail(r, &e);
        else if (!is_2xx(resp.status))
                r = fail_response(&resp, false, argv[optind]);
        else
                r = flush_stdout();
        client_response_release(&resp);
        client_release(&cl);
        return r;
}

/* ---- rm ---------------------------------------------------------------- */

static const char rm_help[] =
        "usage: sfaasd rm NAME [OPTIONS]\n"
        "\n"
        "Remove a function.\n"
        "\n"
        "  -n, --namespace NS        namespace (default: the gateway's)\n" COMMON_HELP;

int cmd_rm(int argc, char **argv)
{
        static const struct option opts[] = {
                { "namespace", required_argument, NULL, 'n' },
                COMMON_LONGOPTS,
                {},
        };
        struct common co = { .timeout_ms = DEFAULT_TIMEOUT_MS };
        const char *ns = NULL, *name;
        _cleanup_(json_decrefp) json_t *body = NULL;
        _cleanup_free_ char *json = NULL, *what = NULL;
        struct client cl = {};
        struct client_response resp = {};
        struct sf_err e = {};
        int c, r;

        optind = 0;
        opterr = 0;
        while ((c = getopt_long(argc, argv, COMMON_SHORTOPTS "n:", opts, NULL)) != -1) {
                r = common_option(&co, argv[0], c, argv);
                if (r < 0)
                        return -r;
                if (r > 0)
                        continue;
                switch (c) {
                case 'h':
                        fputs(rm_help, stdout);
                        return 0;
                case 'n': ns = optarg; break;
                default: return usage_error(argv[0], "unexpected option");
                }
        }
        if (optind >= argc)
                return usage_error(argv[0], "a function name is required");
        if (optind + 1 < argc)
                return usage_error(argv[0], "unexpected argument '%s'", argv[optind + 1]);
        name = argv[optind];
        if (!client_name_valid(name))
                return usage_error(argv[0], "invalid function name '%s'", name);
        if (ns && !client_name_valid(ns))
                return usage_error(argv[0], "invalid namespace '%s'", ns);

        body = ns ? json_pack("{s:s, s:s}", "functionName", name, "namespace", ns)
                  : json_pack("{s:s}", "functionName", name);
        json = body ? json_dumps(body, JSON_COMPACT) : NULL;
        what = xasprintf("rm '%s'", name);
        if (!json || !what)
                return fail(-ENOMEM, &e);

        r = connect_client(&cl, &co, true);
        if (r > 0)
                return r;
        r = client_do(&cl,
                      &(struct client_request) {
                              .method = "DELETE",
                              .path = "/system/functions",
                              .auth = true,
                              .content_type = "application/json",
                              .has_body = true,
                              .body = json,
                              .body_len = strlen(json),
                      },
                      &resp, &e);
        if (r < 0)
                r = fail(r, &e);
        else if (resp.status == 404) {
                if (ns)
                        fprintf(stderr, "sfaasd: no such function '%s' in namespace '%s'\n", name, ns);
                else
                        fprintf(stderr, "sfaasd: no such function '%s'\n", name);
                r = 1;
        } else if (!is_2xx(resp.status))
                r = fail_response(&resp, true, what);
        else {
                printf("Removed %s%s%s.\n", name, ns ? "." : "", ns ? ns : "");
                r = flush_stdout();
        }
        client_response_release(&resp);
        client_release(&cl);
        return r;
}

/* ---- image ------------------------------------------------------------- */

static const char image_help[] =
        "usage: sfaasd image import FILE|DIR [--name NAME:TAG] [OPTIONS]\n"
        "       sfaasd image list [--json] [OPTIONS]\n"
        "       sfaasd image rm REF [-n NS] [OPTIONS]\n"
        "       sfaasd image prune [OPTIONS]\n"
        "\n"
        "Import an image archive (docker save tar, OCI archive tar, or an OCI image\n"
        "layout directory, sent as a tar) into the gateway's image store, or list\n"
        "the images it holds. A progress bar is drawn on stderr when it is a terminal.\n"
        "rm removes a name (REF a tag) or every name of the namespace for an image\n"
        "(REF an id), and the image once nothing refers to it; an image a function\n"
        "uses is refused. prune removes every image without a name or a function.\n"
        "\n"
        "      --name NAME:TAG       tag the imported image (import)\n"
        "      --json                print the gateway's JSON as is (list)\n"
        "  -n, --namespace NS        namespace of the name (rm; default: the gateway's)\n" COMMON_HELP;

static int image_import(int argc, char **argv, const char *cmd)
{
        static const struct option opts[] = {
                { "name", required_argument, NULL, OPT_NAME },
                COMMON_LONGOPTS,
                {},
        };
        struct common co = { .timeout_ms = DEFAULT_TIMEOUT_MS };
        const char *file, *tag = NULL;
        _cleanup_fclose_ FILE *f = NULL;
        FILE *up;
        off_t body_len = 0;
        int wrapped = 0;
        _cleanup_free_ char *q = NULL, *tags = NULL;
        _cleanup_(json_decrefp) json_t *ans = NULL;
        struct client cl = {};
        struct client_response resp = {};
        struct sf_err e = {};
        struct stat st;
        int c, r;

        optind = 0;
        opterr = 0;
        while ((c = getopt_long(argc, argv, COMMON_SHORTOPTS, opts, NULL)) != -1) {
                r = common_option(&co, cmd, c, argv);
                if (r < 0)
                        return -r;
                if (r > 0)
                        continue;
                switch (c) {
                case 'h':
                        fputs(image_help, stdout);
                        return 0;
                case OPT_NAME: tag = optarg; break;
                default: return usage_error(cmd, "unexpected option");
                }
        }
        if (optind >= argc)
                return usage_error(cmd, "an archive FILE is required");
        if (optind + 1 < argc)
                return usage_error(cmd, "unexpected argument '%s'", argv[optind + 1]);
        file = argv[optind];
        if (tag && (!*tag || strpbrk(tag, " \t\r\n")))
                return usage_error(cmd, "invalid image name '%s'", tag);

        if (stat(file, &st) < 0) {
                fprintf(stderr, "sfaasd: cannot open '%s': %s\n", file, strerror(errno));
                return 1;
        }
        if (S_ISDIR(st.st_mode)) {
                r = client_tar_oci_dir(file, &f, &body_len, &e);
                if (r < 0)
                        return fail(r, &e);
        } else if (!(f = fopen(file, "re"))) {
                fprintf(stderr, "sfaasd: cannot open '%s': %s\n", file, strerror(errno));
                return 1;
        }
        if (!S_ISDIR(st.st_mode)) {
                if (fstat(fileno(f), &st) < 0 || !S_ISREG(st.st_mode)) {
                        fprintf(stderr, "sfaasd: '%s' is not a regular file or a directory\n", file);
                        return 1;
                }
                body_len = st.st_size;
        }
        if (tag && !(q = xasprintf("name=%s", tag)))
                return fail(-ENOMEM, &e);

        r = connect_client(&cl, &co, true);
        if (r > 0)
                return r;
        up = client_progress_wrap(f, body_len, "uploading", &wrapped);
        r = client_do(&cl,
                      &(struct client_request) {
                              .method = "POST",
                              .path = "/system/images",
                              .query = (const char *const[]) { q },
                              .n_query = q ? 1 : 0,
                              .auth = true,
                              .content_type = "application/x-tar",
                              .upload = up,
                              .upload_len = body_len,
                      },
                      &resp, &e);
        if (wrapped)
                (void) fclose(up);
        if (r < 0)
                r = fail(r, &e);
        else if (!is_2xx(resp.status))
                r = fail_response(&resp, true, "image import");
        else if (!(ans = parse_answer(&resp, "image import")))
                r = 1;
        else {
                json_t *t = json_object_get(ans, "tags"), *v;
                size_t i, len = 0;
                const char *id = str_or(ans, "id", "?");

                json_array_foreach(t, i, v)
                        if (json_is_string(v))
                                len += json_string_length(v) + 1;
                tags = calloc(len + 1, 1);
                if (!tags) {
                        r = fail(-ENOMEM, &e);
                } else {
                        char *p = tags;
                        json_array_foreach(t, i, v) {
                                if (!json_is_string(v))
                                        continue;
                                if (p != tags)
                                        *p++ = ',';
                                memcpy(p, json_string_value(v), json_string_length(v));
                                p += json_string_length(v);
                        }
                        printf("imported %s %s\n", id, *tags ? tags : "<none>");
                        r = flush_stdout();
                }
        }
        client_response_release(&resp);
        client_release(&cl);
        return r;
}

static int image_list(int argc, char **argv, const char *cmd)
{
        static const struct option opts[] = {
                { "json", no_argument, NULL, OPT_JSON },
                COMMON_LONGOPTS,
                {},
        };
        struct common co = { .timeout_ms = DEFAULT_TIMEOUT_MS };
        bool as_json = false;
        _cleanup_(json_decrefp) json_t *arr = NULL;
        struct client cl = {};
        struct client_response resp = {};
        struct sf_err e = {};
        int c, r;

        optind = 0;
        opterr = 0;
        while ((c = getopt_long(argc, argv, COMMON_SHORTOPTS, opts, NULL)) != -1) {
                r = common_option(&co, cmd, c, argv);
                if (r < 0)
                        return -r;
                if (r > 0)
                        continue;
                switch (c) {
                case 'h':
                        fputs(image_help, stdout);
                        return 0;
                case OPT_JSON: as_json = true; break;
                default: return usage_error(cmd, "unexpected option");
                }
        }
        if (optind < argc)
                return usage_error(cmd, "unexpected argument '%s'", argv[optind]);

        r = connect_client(&cl, &co, true);
        if (r > 0)
                return r;
        r = client_do(&cl, &(struct client_request) { .method = "GET", .path = "/system/images", .auth = true },
                      &resp, &e);
        if (r < 0)
                r = fail(r, &e);
        else if (!is_2xx(resp.status))
                r = fail_response(&resp, true, "image list");
        else if (as_json) {
                print_raw_json(&resp);
                r = flush_stdout();
        } else if (!(arr = parse_answer(&resp, "image list")))
                r = 1;
        else if (!json_is_array(arr)) {
                fprintf(stderr, "sfaasd: image list: the gateway's answer is not a JSON array\n");
                r = 1;
        } else {
                size_t i, j;
                json_t *img, *t, *tv;

                printf("%-12s  %-10s  %-20s  %s\n", "ID", "SIZE", "CREATED", "TAGS");
                json_array_foreach(arr, i, img) {
                        const char *id = str_or(img, "id", "");
                        json_t *sz = json_object_get(img, "size");
                        char size[32] = "?";

                        if (str_startswith(id, "sha256:"))
                                id += STRLEN("sha256:");
                        if (json_is_integer(sz) && json_integer_value(sz) >= 0)
                                (void) client_format_size((unsigned long long) json_integer_value(sz), size,
                                                          sizeof size);
                        printf("%-12.12s  %-10s  %-20.20s  ", id, size, str_or(img, "createdAt", ""));
                        t = json_object_get(img, "tags");
                        if (json_array_size(t) == 0)
                                fputs("<none>", stdout);
                        json_array_foreach(t, j, tv)
                                printf("%s%s", j ? "," : "", json_is_string(tv) ? json_string_value(tv) : "?");
                        putchar('\n');
                }
                r = flush_stdout();
        }
        client_response_release(&resp);
        client_release(&cl);
        return r;
}

static bool image_ref_chars_ok(const char *s)
{
        if (!*s || strlen(s) > 512)
                return false;
        for (; *s; s++)
                if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
                      strchr("._-/:@", *s)))
                        return false;
        return true;
}

/* rm (ref set) or prune (ref NULL): one call, the answer summarised. */
static int image_remove_call(int argc, char **argv, const char *cmd, bool prune)
{
        static const struct option opts[] = {
                { "namespace", required_argument, NULL, 'n' },
                COMMON_LONGOPTS,
                {},
        };
        struct common co = { .timeout_ms = DEFAULT_TIMEOUT_MS };
        const char *ns = NULL, *ref = NULL;
        _cleanup_free_ char *path = NULL, *q = NULL;
        _cleanup_(json_decrefp) json_t *ans = NULL;
        struct client cl = {};
        struct client_response resp = {};
        struct sf_err e = {};
        int c, r;

        optind = 0;
        opterr = 0;
        while ((c = getopt_long(argc, argv, COMMON_SHORTOPTS "n:", opts, NULL)) != -1) {
                r = common_option(&co, cmd, c, argv);
                if (r < 0)
                        return -r;
                if (r > 0)
                        continue;
                switch (c) {
                case 'h':
                        fputs(image_help, stdout);
                        return 0;
                case 'n': ns = optarg; break;
                default: return usage_error(cmd, "unexpected option");
                }
        }
        if (!prune) {
                if (optind >= argc)
                        return usage_error(cmd, "an image REF is required");
                ref = argv[optind++];
                if (!image_ref_chars_ok(ref))
                        return usage_error(cmd, "invalid image reference '%s'", ref);
        }
        if (optind < argc)
                return usage_error(cmd, "unexpected argument '%s'", argv[optind]);
        if (ns && !client_name_valid(ns))
                return usage_error(cmd, "invalid namespace '%s'", ns);
        path = prune ? strdup("/system/images/prune") : xasprintf("/system/images/%s", ref);
        if (!path || (ns && !(q = xasprintf("namespace=%s", ns))))
                return fail(-ENOMEM, &e);

        r = connect_client(&cl, &co, true);
        if (r > 0)
                return r;
        r = client_do(&cl,
                      &(struct client_request) {
                              .method = prune ? "POST" : "DELETE",
                              .path = path,
                              .query = (const char *const[]) { q },
                              .n_query = q ? 1 : 0,
                              .auth = true,
                      },
                      &resp, &e);
        if (r < 0)
                r = fail(r, &e);
        else if (!is_2xx(resp.status))
                r = fail_response(&resp, true, cmd);
        else if (!(ans = parse_answer(&resp, cmd)))
                r = 1;
        else {
                json_t *freed = json_object_get(ans, "bytesFreed"), *v;
                char size[32] = "0 B";
                size_t i;

                if (json_is_integer(freed) && json_integer_value(freed) >= 0)
                        (void) client_format_size((unsigned long long) json_integer_value(freed), size, sizeof size);
                if (prune) {
                        json_array_foreach(json_object_get(ans, "removed"), i, v)
                                printf("removed %s\n", json_is_string(v) ? json_string_value(v) : "?");
                        printf("freed %s\n", size);
                } else {
                        json_array_foreach(json_object_get(ans, "untagged"), i, v)
                                printf("untagged %s\n", json_is_string(v) ? json_string_value(v) : "?");
                        if (json_is_true(json_object_get(ans, "removed")))
                                printf("removed %s (freed %s)\n", str_or(ans, "id", "?"), size);
                }
                r = flush_stdout();
        }
        client_response_release(&resp);
        client_release(&cl);
        return r;
}

int cmd_image(int argc, char **argv)
{
        if (argc < 2)
                return usage_error("image", "a subcommand is required: import, list, rm or prune");
        if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
                fputs(image_help, stdout);
                return 0;
        }
        if (strcmp(argv[1], "import") == 0)
                return image_import(argc - 1, argv + 1, "image import");
        if (strcmp(argv[1], "list") == 0 || strcmp(argv[1], "ls") == 0)
                return image_list(argc - 1, argv + 1, "image list");
        if (strcmp(argv[1], "rm") == 0 || strcmp(argv[1], "remove") == 0)
                return image_remove_call(argc - 1, argv + 1, "image rm", false);
        if (strcmp(argv[1], "prune") == 0)
                return image_remove_call(argc - 1, argv + 1, "image prune", true);
        return usage_error("image", "unknown subcommand '%s'", argv[1]);
}
