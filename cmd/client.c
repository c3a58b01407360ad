/* SPDX-License-Identifier: MIT */
/*
 * The client subcommands: deploy, list, invoke, rm, image. Argument parsing
 * and printing only; the JSON and URL helpers are in client_util.c, the HTTP
 * call in client_http.c. Every failure is one line on stderr starting
 * "sfaasd: " and exit code 1 (2 for usage errors).
 *
 * Each command runs named steps over one struct of its own: parse (the
 * options, getopt_long), validate (the operands and values), plan (what to
 * send), gateway_check, then call (connect, send, print the answer). A step
 * returns >= 0 or -errno, having said why on stderr; the command, the
 * boundary, maps the step that failed to the exit code: args_exit() after
 * the steps that check what was typed (-EINVAL is a usage error there),
 * EXIT_FAILURE after the others.
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
#define TIMEOUT_MAX_MS (24ULL * 3600 * 1000) /* --timeout */
#define INVOKE_BODY_MAX (256u << 20) /* stdin read into memory when it is not a regular file */
#define PARSE_HELP 1                 /* a parse step printed the help: exit 0 */

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
};

#define COMMON_SHORTOPTS ":g:h"
#define COMMON_LONGOPTS                                                        \
        { "gateway", required_argument, NULL, 'g' },                           \
        { "password-file", required_argument, NULL, OPT_PASSWORD_FILE },       \
        { "timeout", required_argument, NULL, OPT_TIMEOUT },                   \
        { "help", no_argument, NULL, 'h' }

#define COMMON_HELP                                                                                \
        "  -g, --gateway URL         gateway (default $OPENFAAS_URL, else " CLIENT_DEFAULT_GATEWAY ")\n" \
        "      --password-file FILE  password of user admin (default $SFAASD_PASSWORD, else none)\n"    \
        "      --timeout DURATION    whole request, e.g. 30s, 2m, 0 for none (default 60s)\n"          \
        "  -h, --help                show this help\n"

struct common {
        const char *gateway;
        const char *password_file;
        long timeout_ms;
};
#define COMMON_INIT { .timeout_ms = DEFAULT_TIMEOUT_MS }

/* Say what is wrong with the command line, as one line. Returns -EINVAL,
 * which args_exit() turns into EXIT_USAGE. */
static int usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int usage_error(const char *cmd, const char *fmt, ...)
{
        va_list ap;

        fprintf(stderr, "sfaasd: %s: ", cmd);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fprintf(stderr, " (see 'sfaasd %s --help')\n", cmd);
        return -EINVAL;
}

/* The exit code after a step that checks what was typed (parse, validate,
 * gateway_check) ended with r, having said why: PARSE_HELP 0, -EINVAL (a
 * usage error) EXIT_USAGE, anything else (no memory) EXIT_FAILURE. */
static int args_exit(int r)
{
        if (r >= 0)
                return EXIT_SUCCESS;
        return r == -EINVAL ? EXIT_USAGE : EXIT_FAILURE;
}

/* The options every command shares, and the errors getopt_long() reports;
 * a command's option step hands it what it does not know itself. 0, or
 * -EINVAL after saying why. */
static int common_option(struct common *co, const char *cmd, int c, char **argv)
{
        uint64_t ms;

        switch (c) {
        case 'g':
                co->gateway = optarg;
                return 0;
        case OPT_PASSWORD_FILE:
                co->password_file = optarg;
                return 0;
        case OPT_TIMEOUT:
                if (parse_duration_ms(optarg, &ms) < 0 || ms > TIMEOUT_MAX_MS)
                        return usage_error(cmd, "invalid timeout '%s': use e.g. 30s or 2m", optarg);
                co->timeout_ms = (long) ms;
                return 0;
        case ':':
                return usage_error(cmd, "option '%s' needs a value", argv[optind - 1]);
        case '?':
                if (optopt)
                        return usage_error(cmd, "unknown option '-%c'", optopt);
                return usage_error(cmd, "unknown option '%s'", argv[optind - 1]);
        default:
                return usage_error(cmd, "unexpected option");
        }
}

/* Say why a step failed: e's message (e may be NULL), else r's. Returns r. */
static int fail(int r, const struct sf_err *e)
{
        if (e && e->msg[0])
                fprintf(stderr, "sfaasd: %s\n", e->msg);
        else
                fprintf(stderr, "sfaasd: %s\n", strerror(-r));
        return r;
}

/* Say why the gateway refused, as one line; -EREMOTEIO. */
static int fail_response(const struct client_response *resp, bool auth, const char *what)
{
        _cleanup_free_ char *msg = NULL;

        if (auth && resp->status == 401) {
                fprintf(stderr, "sfaasd: unauthorized: check --password-file or SFAASD_PASSWORD\n");
                return -EREMOTEIO;
        }
        msg = client_error_message(resp->body, resp->len);
        if (!msg && *client_status_reason(resp->status))
                msg = strdup(client_status_reason(resp->status));
        if (msg)
                fprintf(stderr, "sfaasd: %s: HTTP %ld: %s\n", what, resp->status, msg);
        else
                fprintf(stderr, "sfaasd: %s: HTTP %ld\n", what, resp->status);
        return -EREMOTEIO;
}

static bool is_2xx(long status) { return status >= 200 && status < 300; }

/* The gateway (--gateway, else $OPENFAAS_URL, else the default) must be an
 * http(s) URL; a bad one is a usage error (-EINVAL), said without the
 * --help hint. */
static int gateway_check(const struct common *co)
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
                return r;
        }
        if (r < 0)
                return fail(r, &e);
        return 0;
}

static int client_connect(struct client *cl, const struct common *co, bool need_password)
{
        struct sf_err e = {};
        int r;

        r = client_init(cl, co->gateway, co->password_file, need_password, co->timeout_ms, &e);
        if (r < 0)
                return fail(r, &e);
        return 0;
}

/* Parse JSON of a response, or say the gateway answered nonsense. */
static int parse_answer(const struct client_response *resp, const char *what, json_t **ret)
{
        json_error_t je;
        json_t *j = json_loadb(resp->body, resp->len, 0, &je);

        if (!j) {
                fprintf(stderr, "sfaasd: %s: the gateway answered invalid JSON: %s\n", what, je.text);
                return -EBADMSG;
        }
        *ret = j;
        return 0;
}

static int parse_array_answer(const struct client_response *resp, const char *what, json_t **ret)
{
        _cleanup_(json_decrefp) json_t *j = NULL;
        int r;

        r = parse_answer(resp, what, &j);
        if (r < 0)
                return r;
        if (!json_is_array(j)) {
                fprintf(stderr, "sfaasd: %s: the gateway's answer is not a JSON array\n", what);
                return -EBADMSG;
        }
        *ret = TAKE_PTR(j);
        return 0;
}

static const char *str_or(json_t *o, const char *key, const char *dflt)
{
        const char *s = json_string_value(json_object_get(o, key));
        return s ? s : dflt;
}

static void print_raw_json(const struct client_response *resp)
{
        (void) fwrite(resp->body, 1, resp->len, stdout);
        if (resp->len == 0 || resp->body[resp->len - 1] != '\n')
                putchar('\n');
}

static int flush_stdout(void)
{
        int r;

        if (fflush(stdout) != 0 || ferror(stdout)) {
                r = errno > 0 ? -errno : -EIO;
                fprintf(stderr, "sfaasd: cannot write to standard output: %s\n", strerror(-r));
                return r;
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

struct deploy_cmd {
        struct common co;
        struct deploy_spec spec;
        const char **env, **labels, **annotations, **secrets; /* argc + 1 slots each */
        json_t *body;            /* the FunctionDeployment */
        char *json, *fpath, *what;
};

static int deploy_cmd_init(struct deploy_cmd *d, int argc)
{
        size_t n = (size_t) argc + 1;

        d->env = calloc(n, sizeof(char *));
        d->labels = calloc(n, sizeof(char *));
        d->annotations = calloc(n, sizeof(char *));
        d->secrets = calloc(n, sizeof(char *));
        if (!d->env || !d->labels || !d->annotations || !d->secrets)
                return fail(-ENOMEM, NULL);
        return 0;
}

static void deploy_cmd_release(struct deploy_cmd *d)
{
        free(d->env);
        free(d->labels);
        free(d->annotations);
        free(d->secrets);
        json_decref(d->body);
        free(d->json);
        free(d->fpath);
        free(d->what);
}

static int deploy_option(struct deploy_cmd *d, int c, char **argv)
{
        struct deploy_spec *spec = &d->spec;

        switch (c) {
        case 'h':
                fputs(deploy_help, stdout);
                return PARSE_HELP;
        case OPT_NAME: spec->name = optarg; return 0;
        case OPT_IMAGE: spec->image = optarg; return 0;
        case 'n': spec->namespace = optarg; return 0;
        case OPT_FPROCESS: spec->fprocess = optarg; return 0;
        case 'e': d->env[spec->n_env++] = optarg; return 0;
        case 'l': d->labels[spec->n_labels++] = optarg; return 0;
        case OPT_ANNOTATION: d->annotations[spec->n_annotations++] = optarg; return 0;
        case OPT_SECRET: d->secrets[spec->n_secrets++] = optarg; return 0;
        case OPT_MEMORY: spec->memory = optarg; return 0;
        case OPT_CPU: spec->cpu = optarg; return 0;
        case OPT_READONLY: spec->readonly = true; return 0;
        default: return common_option(&d->co, argv[0], c, argv);
        }
}

/* 0 once the options are read, PARSE_HELP, or -errno (said). */
static int deploy_parse(struct deploy_cmd *d, int argc, char **argv)
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
        int c, r;

        optind = 0;
        opterr = 0;
        while ((c = getopt_long(argc, argv, COMMON_SHORTOPTS "n:e:l:", opts, NULL)) != -1) {
                r = deploy_option(d, c, argv);
                if (r != 0)
                        return r;
        }
        return 0;
}

/* The required options, then every value through the body's builder. */
static int deploy_validate(struct deploy_cmd *d, int argc, char **argv)
{
        struct sf_err e = {};
        int r;

        if (optind < argc)
                return usage_error(argv[0], "unexpected argument '%s'", argv[optind]);
        if (!d->spec.name)
                return usage_error(argv[0], "--name is required");
        if (!d->spec.image)
                return usage_error(argv[0], "--image is required");
        d->spec.env = d->env;
        d->spec.labels = d->labels;
        d->spec.annotations = d->annotations;
        d->spec.secrets = d->secrets;
        r = client_deployment_json(&d->spec, &d->body, &e);
        if (r == -ENOMEM)
                return fail(r, &e);
        if (r < 0)
                return usage_error(argv[0], "%s", e.msg);
        return 0;
}

static int deploy_plan(struct deploy_cmd *d)
{
        int r;

        d->json = json_dumps(d->body, JSON_COMPACT);
        r = client_function_path(d->spec.name, d->spec.namespace, &d->fpath);
        d->what = xasprintf("deploy '%s'", d->spec.name);
        if (!d->json || r < 0 || !d->what)
                return fail(-ENOMEM, NULL);
        return 0;
}

static int deploy_call(const struct deploy_cmd *d)
{
        _cleanup_(client_release) struct client cl = {};
        _cleanup_(client_response_release) struct client_response resp = {};
        struct client_request req = {
                .method = "PUT",
                .path = "/system/functions",
                .auth = true,
                .content_type = "application/json",
                .has_body = true,
                .body = d->json,
                .body_len = strlen(d->json),
        };
        struct sf_err e = {};
        int r;

        r = client_connect(&cl, &d->co, true);
        if (r < 0)
                return r;
        r = client_do(&cl, &req, &resp, &e);
        if (r >= 0 && resp.status == 404) {
                /* Not there yet: create it, as faas-cli does. */
                client_response_release(&resp);
                req.method = "POST";
                r = client_do(&cl, &req, &resp, &e);
        }
        if (r < 0)
                return fail(r, &e);
        if (!is_2xx(resp.status))
                return fail_response(&resp, true, d->what);
        printf("Deployed. %ld %s.\n", resp.status, client_status_reason(resp.status));
        printf("URL: %s%s\n", cl.gateway, d->fpath);
        return flush_stdout();
}

int cmd_deploy(int argc, char **argv)
{
        _cleanup_(deploy_cmd_release) struct deploy_cmd d = { .co = COMMON_INIT };
        int r;

        if (deploy_cmd_init(&d, argc) < 0)
                return EXIT_FAILURE;
        r = deploy_parse(&d, argc, argv);
        if (r != 0)
                return args_exit(r);
        r = deploy_validate(&d, argc, argv);
        if (r < 0)
                return args_exit(r);
        if (deploy_plan(&d) < 0)
                return EXIT_FAILURE;
        r = gateway_check(&d.co);
        if (r < 0)
                return args_exit(r);
        return deploy_call(&d) < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
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

struct list_cmd {
        struct common co;
        const char *ns;
        bool verbose, as_json;
        char *q; /* the query "namespace=NS", NULL without -n */
};

static void list_cmd_release(struct list_cmd *l)
{
        free(l->q);
}

static int cmp_by_name(const void *a, const void *b)
{
        const char *x = json_string_value(json_object_get(*(json_t *const *) a, "name"));
        const char *y = json_string_value(json_object_get(*(json_t *const *) b, "name"));
        return strcmp(x ? x : "", y ? y : "");
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

static int list_option(struct list_cmd *l, int c, char **argv)
{
        switch (c) {
        case 'h':
                fputs(list_help, stdout);
                return PARSE_HELP;
        case 'n': l->ns = optarg; return 0;
        case 'v': l->verbose = true; return 0;
        case OPT_JSON: l->as_json = true; return 0;
        default: return common_option(&l->co, argv[0], c, argv);
        }
}

static int list_parse(struct list_cmd *l, int argc, char **argv)
{
        static const struct option opts[] = {
                { "namespace", required_argument, NULL, 'n' },
                { "verbose", no_argument, NULL, 'v' },
                { "json", no_argument, NULL, OPT_JSON },
                COMMON_LONGOPTS,
                {},
        };
        int c, r;

        optind = 0;
        opterr = 0;
        while ((c = getopt_long(argc, argv, COMMON_SHORTOPTS "n:v", opts, NULL)) != -1) {
                r = list_option(l, c, argv);
                if (r != 0)
                        return r;
        }
        return 0;
}

static int list_validate(struct list_cmd *l, int argc, char **argv)
{
        if (optind < argc)
                return usage_error(argv[0], "unexpected argument '%s'", argv[optind]);
        if (l->ns && !client_name_valid(l->ns))
                return usage_error(argv[0], "invalid namespace '%s'", l->ns);
        if (l->ns && !(l->q = xasprintf("namespace=%s", l->ns)))
                return fail(-ENOMEM, NULL);
        return 0;
}

static int list_call(const struct list_cmd *l)
{
        _cleanup_(client_release) struct client cl = {};
        _cleanup_(client_response_release) struct client_response resp = {};
        _cleanup_(json_decrefp) json_t *arr = NULL;
        struct client_request req = {
                .method = "GET",
                .path = "/system/functions",
                .query = (const char *const[]) { l->q },
                .n_query = l->q ? 1 : 0,
                .auth = true,
        };
        struct sf_err e = {};
        int r;

        r = client_connect(&cl, &l->co, true);
        if (r < 0)
                return r;
        r = client_do(&cl, &req, &resp, &e);
        if (r < 0)
                return fail(r, &e);
        if (!is_2xx(resp.status))
                return fail_response(&resp, true, "list");
        if (l->as_json) {
                print_raw_json(&resp);
                return flush_stdout();
        }
        r = parse_array_answer(&resp, "list", &arr);
        if (r < 0)
                return r;
        r = print_functions(arr, l->verbose);
        if (r < 0)
                return fail(r, NULL);
        return flush_stdout();
}

int cmd_list(int argc, char **argv)
{
        _cleanup_(list_cmd_release) struct list_cmd l = { .co = COMMON_INIT };
        int r;

        r = list_parse(&l, argc, argv);
        if (r != 0)
                return args_exit(r);
        r = list_validate(&l, argc, argv);
        if (r < 0)
                return args_exit(r);
        r = gateway_check(&l.co);
        if (r < 0)
                return args_exit(r);
        return list_call(&l) < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
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

struct invoke_cmd {
        struct common co;
        const char *target;      /* the NAME operand as given */
        char *name;              /* NAME without its ".NAMESPACE" */
        const char *ns;          /* -n, or the ".NAMESPACE" of NAME */
        char *method;            /* -m, upper-cased; NULL: POST */
        const char *ctype;       /* --content-type, else the default */
        bool header_ctype;       /* a -H gave Content-Type */
        const char **headers, **query; /* argc + 1 slots each */
        size_t n_headers, n_query;
        char *fpath, *body;      /* the function's path; stdin when read into memory */
        struct client_request req;
};

static int invoke_cmd_init(struct invoke_cmd *v, int argc)
{
        v->headers = calloc((size_t) argc + 1, sizeof(char *));
        v->query = calloc((size_t) argc + 1, sizeof(char *));
        if (!v->headers || !v->query)
                return fail(-ENOMEM, NULL);
        return 0;
}

static void invoke_cmd_release(struct invoke_cmd *v)
{
        free(v->name);
        free(v->method);
        free(v->headers);
        free(v->query);
        free(v->fpath);
        free(v->body);
}

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

static int invoke_set_method(struct invoke_cmd *v, const char *arg)
{
        free(v->method);
        v->method = strdup(arg);
        if (!v->method)
                return fail(-ENOMEM, NULL);
        for (char *p = v->method; *p; p++)
                *p = (char) (*p >= 'a' && *p <= 'z' ? *p - 'a' + 'A' : *p);
        return 0;
}

static int invoke_add_header(struct invoke_cmd *v, char *arg, const char *cmd)
{
        _cleanup_free_ char *hn = NULL, *hv = NULL;
        struct sf_err e = {};
        int r;

        r = client_header_parse(arg, &hn, &hv, &e);
        if (r == -ENOMEM)
                return fail(r, &e);
        if (r < 0)
                return usage_error(cmd, "%s", e.msg);
        if (strcasecmp(hn, "Content-Type") == 0)
                v->header_ctype = true;
        v->headers[v->n_headers++] = arg;
        return 0;
}

static int invoke_option(struct invoke_cmd *v, int c, char **argv)
{
        switch (c) {
        case 'h':
                fputs(invoke_help, stdout);
                return PARSE_HELP;
        case 'n': v->ns = optarg; return 0;
        case 'm': return invoke_set_method(v, optarg);
        case 'H': return invoke_add_header(v, optarg, argv[0]);
        case OPT_QUERY:
                if (!strchr(optarg, '=') || optarg[0] == '=')
                        return usage_error(argv[0], "query '%s' is not in the form KEY=VALUE", optarg);
                v->query[v->n_query++] = optarg;
                return 0;
        case OPT_CONTENT_TYPE:
                if (!*optarg || strpbrk(optarg, "\r\n"))
                        return usage_error(argv[0], "invalid content type '%s'", optarg);
                v->ctype = optarg;
                return 0;
        default: return common_option(&v->co, argv[0], c, argv);
        }
}

/* 0 once the options are read, PARSE_HELP, or -errno (said). */
static int invoke_parse(struct invoke_cmd *v, int argc, char **argv)
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
        int c, r;

        optind = 0;
        opterr = 0;
        while ((c = getopt_long(argc, argv, COMMON_SHORTOPTS "n:m:H:", opts, NULL)) != -1) {
                r = invoke_option(v, c, argv);
                if (r != 0)
                        return r;
        }
        return 0;
}

/* NAME or NAME.NAMESPACE: the last '.' splits them (names hold none). */
static int invoke_split_name(struct invoke_cmd *v, const char *cmd)
{
        char *dot;

        v->name = strdup(v->target);
        if (!v->name)
                return fail(-ENOMEM, NULL);
        dot = strrchr(v->name, '.');
        if (dot) {
                if (v->ns)
                        return usage_error(cmd, "give the namespace either as NAME.NAMESPACE or with --namespace");
                *dot = '\0';
                v->ns = dot + 1;
        }
        if (!client_name_valid(v->name))
                return usage_error(cmd, "invalid function name '%s'", v->target);
        if (v->ns && !client_name_valid(v->ns))
                return usage_error(cmd, "invalid namespace '%s'", v->ns);
        return 0;
}

static int invoke_validate(struct invoke_cmd *v, int argc, char **argv)
{
        if (optind >= argc)
                return usage_error(argv[0], "a function name is required");
        if (optind + 1 < argc)
                return usage_error(argv[0], "unexpected argument '%s'", argv[optind + 1]);
        if (v->method && !method_valid(v->method))
                return usage_error(argv[0], "unsupported method '%s'", v->method);
        v->target = argv[optind];
        return invoke_split_name(v, argv[0]);
}

/* --content-type beats -H 'Content-Type: ...' (the header is dropped);
 * with neither, text/plain, as faas-cli. */
static void invoke_defaults(struct invoke_cmd *v)
{
        if (v->ctype && v->header_ctype) {
                size_t k = 0;
                for (size_t i = 0; i < v->n_headers; i++)
                        if (strncasecmp(v->headers[i], "Content-Type:", STRLEN("Content-Type:")) != 0)
                                v->headers[k++] = v->headers[i];
                v->n_headers = k;
        } else if (!v->ctype && !v->header_ctype) {
                v->ctype = "text/plain";
        }
}

/* The body is stdin: empty from a terminal, streamed from where it stands
 * when it is a regular file, else read into memory. */
static int invoke_plan_body(struct invoke_cmd *v)
{
        struct client_request *req = &v->req;
        struct sf_err e = {};
        struct stat st;
        int r;

        if (isatty(STDIN_FILENO) || fstat(STDIN_FILENO, &st) < 0) {
                req->has_body = true; /* empty */
        } else if (S_ISREG(st.st_mode)) {
                off_t pos = lseek(STDIN_FILENO, 0, SEEK_CUR);
                req->upload = stdin;
                req->upload_len = st.st_size - (pos > 0 ? pos : 0);
        } else {
                r = read_stdin(&v->body, &req->body_len, &e);
                if (r < 0)
                        return fail(r, &e);
                req->has_body = true;
                req->body = v->body;
        }
        /* GET and HEAD with nothing to send go without a body. */
        if (req->has_body && req->body_len == 0 &&
            (strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0))
                req->has_body = false;
        if (req->upload && req->upload_len == 0 && strcmp(req->method, "GET") == 0)
                req->upload = NULL;
        if (req->upload && strcmp(req->method, "HEAD") == 0)
                req->upload = NULL;
        return 0;
}

static int invoke_plan(struct invoke_cmd *v)
{
        int r;

        r = client_function_path(v->name, v->ns, &v->fpath);
        if (r < 0)
                return fail(r, NULL);
        v->req = (struct client_request) {
                .method = v->method ? v->method : "POST",
                .path = v->fpath,
                .query = v->query,
                .n_query = v->n_query,
                .auth = false, /* gateway credentials are never sent to functions */
                .content_type = v->ctype,
                .headers = v->headers,
                .n_headers = v->n_headers,
                .sink = stdout,
        };
        return invoke_plan_body(v);
}

static int invoke_call(const struct invoke_cmd *v)
{
        _cleanup_(client_release) struct client cl = {};
        _cleanup_(client_response_release) struct client_response resp = {};
        struct sf_err e = {};
        int r;

        r = client_connect(&cl, &v->co, false);
        if (r < 0)
                return r;
        r = client_do(&cl, &v->req, &resp, &e);
        if (r < 0)
                return fail(r, &e);
        if (!is_2xx(resp.status))
                return fail_response(&resp, false, v->target);
        return flush_stdout();
}

int cmd_invoke(int argc, char **argv)
{
        _cleanup_(invoke_cmd_release) struct invoke_cmd v = { .co = COMMON_INIT };
        int r;

        if (invoke_cmd_init(&v, argc) < 0)
                return EXIT_FAILURE;
        r = invoke_parse(&v, argc, argv);
        if (r != 0)
                return args_exit(r);
        r = invoke_validate(&v, argc, argv);
        if (r < 0)
                return args_exit(r);
        invoke_defaults(&v);
        if (invoke_plan(&v) < 0)
                return EXIT_FAILURE;
        r = gateway_check(&v.co);
        if (r < 0)
                return args_exit(r);
        return invoke_call(&v) < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* ---- rm ---------------------------------------------------------------- */

static const char rm_help[] =
        "usage: sfaasd rm NAME [OPTIONS]\n"
        "\n"
        "Remove a function.\n"
        "\n"
        "  -n, --namespace NS        namespace (default: the gateway's)\n" COMMON_HELP;

struct rm_cmd {
        struct common co;
        const char *name, *ns;
        char *json, *what; /* the DELETE body; "rm 'NAME'" for messages */
};

static void rm_cmd_release(struct rm_cmd *m)
{
        free(m->json);
        free(m->what);
}

static int rm_option(struct rm_cmd *m, int c, char **argv)
{
        switch (c) {
        case 'h':
                fputs(rm_help, stdout);
                return PARSE_HELP;
        case 'n': m->ns = optarg; return 0;
        default: return common_option(&m->co, argv[0], c, argv);
        }
}

static int rm_parse(struct rm_cmd *m, int argc, char **argv)
{
        static const struct option opts[] = {
                { "namespace", required_argument, NULL, 'n' },
                COMMON_LONGOPTS,
                {},
        };
        int c, r;

        optind = 0;
        opterr = 0;
        while ((c = getopt_long(argc, argv, COMMON_SHORTOPTS "n:", opts, NULL)) != -1) {
                r = rm_option(m, c, argv);
                if (r != 0)
                        return r;
        }
        return 0;
}

static int rm_validate(struct rm_cmd *m, int argc, char **argv)
{
        if (optind >= argc)
                return usage_error(argv[0], "a function name is required");
        if (optind + 1 < argc)
                return usage_error(argv[0], "unexpected argument '%s'", argv[optind + 1]);
        m->name = argv[optind];
        if (!client_name_valid(m->name))
                return usage_error(argv[0], "invalid function name '%s'", m->name);
        if (m->ns && !client_name_valid(m->ns))
                return usage_error(argv[0], "invalid namespace '%s'", m->ns);
        return 0;
}

static int rm_plan(struct rm_cmd *m)
{
        _cleanup_(json_decrefp) json_t *body = NULL;

        body = m->ns ? json_pack("{s:s, s:s}", "functionName", m->name, "namespace", m->ns)
                     : json_pack("{s:s}", "functionName", m->name);
        m->json = body ? json_dumps(body, JSON_COMPACT) : NULL;
        m->what = xasprintf("rm '%s'", m->name);
        if (!m->json || !m->what)
                return fail(-ENOMEM, NULL);
        return 0;
}

static int rm_call(const struct rm_cmd *m)
{
        _cleanup_(client_release) struct client cl = {};
        _cleanup_(client_response_release) struct client_response resp = {};
        struct client_request req = {
                .method = "DELETE",
                .path = "/system/functions",
                .auth = true,
                .content_type = "application/json",
                .has_body = true,
                .body = m->json,
                .body_len = strlen(m->json),
        };
        struct sf_err e = {};
        int r;

        r = client_connect(&cl, &m->co, true);
        if (r < 0)
                return r;
        r = client_do(&cl, &req, &resp, &e);
        if (r < 0)
                return fail(r, &e);
        if (resp.status == 404) {
                if (m->ns)
                        fprintf(stderr, "sfaasd: no such function '%s' in namespace '%s'\n", m->name, m->ns);
                else
                        fprintf(stderr, "sfaasd: no such function '%s'\n", m->name);
                return -ENOENT;
        }
        if (!is_2xx(resp.status))
                return fail_response(&resp, true, m->what);
        printf("Removed %s%s%s.\n", m->name, m->ns ? "." : "", m->ns ? m->ns : "");
        return flush_stdout();
}

int cmd_rm(int argc, char **argv)
{
        _cleanup_(rm_cmd_release) struct rm_cmd m = { .co = COMMON_INIT };
        int r;

        r = rm_parse(&m, argc, argv);
        if (r != 0)
                return args_exit(r);
        r = rm_validate(&m, argc, argv);
        if (r < 0)
                return args_exit(r);
        if (rm_plan(&m) < 0)
                return EXIT_FAILURE;
        r = gateway_check(&m.co);
        if (r < 0)
                return args_exit(r);
        return rm_call(&m) < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
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


/* "image import FILE|DIR [--name NAME:TAG]" */
struct import_cmd {
        struct common co;
        const char *cmd; /* "image import", for messages */
        const char *file, *tag;
        FILE *f;         /* the archive, or the tar made of a layout directory */
        off_t body_len;
        char *q;         /* the query "name=TAG", NULL without --name */
};

static void import_cmd_release(struct import_cmd *m)
{
        if (m->f)
                (void) fclose(m->f);
        free(m->q);
}

static int import_option(struct import_cmd *m, int c, char **argv)
{
        switch (c) {
        case 'h':
                fputs(image_help, stdout);
                return PARSE_HELP;
        case OPT_NAME: m->tag = optarg; return 0;
        default: return common_option(&m->co, m->cmd, c, argv);
        }
}

static int import_parse(struct import_cmd *m, int argc, char **argv)
{
        static const struct option opts[] = {
                { "name", required_argument, NULL, OPT_NAME },
                COMMON_LONGOPTS,
                {},
        };
        int c, r;

        optind = 0;
        opterr = 0;
        while ((c = getopt_long(argc, argv, COMMON_SHORTOPTS, opts, NULL)) != -1) {
                r = import_option(m, c, argv);
                if (r != 0)
                        return r;
        }
        return 0;
}

static int import_validate(struct import_cmd *m, int argc, char **argv)
{
        if (optind >= argc)
                return usage_error(m->cmd, "an archive FILE is required");
        if (optind + 1 < argc)
                return usage_error(m->cmd, "unexpected argument '%s'", argv[optind + 1]);
        m->file = argv[optind];
        if (m->tag && (!*m->tag || strpbrk(m->tag, " \t\r\n")))
                return usage_error(m->cmd, "invalid image name '%s'", m->tag);
        return 0;
}

/* After a failed stat() or fopen() of file: say so; -errno. */
static int cannot_open(const char *file)
{
        int r = errno > 0 ? -errno : -EIO;

        fprintf(stderr, "sfaasd: cannot open '%s': %s\n", file, strerror(-r));
        return r;
}

/* FILE as it is sent: an archive as it is, a layout directory as a tar made
 * while it is read. */
static int import_open(struct import_cmd *m)
{
        struct sf_err e = {};
        struct stat st;
        int r;

        if (stat(m->file, &st) < 0)
                return cannot_open(m->file);
        if (S_ISDIR(st.st_mode)) {
                r = client_tar_oci_dir(m->file, &m->f, &m->body_len, &e);
                return r < 0 ? fail(r, &e) : 0;
        }
        m->f = fopen(m->file, "re");
        if (!m->f)
                return cannot_open(m->file);
        if (fstat(fileno(m->f), &st) < 0 || !S_ISREG(st.st_mode)) {
                fprintf(stderr, "sfaasd: '%s' is not a regular file or a directory\n", m->file);
                return -EINVAL;
        }
        m->body_len = st.st_size;
        return 0;
}

static int import_plan(struct import_cmd *m)
{
        if (m->tag && !(m->q = xasprintf("name=%s", m->tag)))
                return fail(-ENOMEM, NULL);
        return 0;
}

/* "imported ID TAG,TAG..." from the gateway's answer. */
static int print_imported(json_t *ans)
{
        json_t *t = json_object_get(ans, "tags"), *v;
        _cleanup_free_ char *tags = NULL;
        size_t i, len = 0;
        char *p;

        json_array_foreach(t, i, v)
                if (json_is_string(v))
                        len += json_string_length(v) + 1;
        tags = calloc(len + 1, 1);
        if (!tags)
                return fail(-ENOMEM, NULL);
        p = tags;
        json_array_foreach(t, i, v) {
                if (!json_is_string(v))
                        continue;
                if (p != tags)
                        *p++ = ',';
                memcpy(p, json_string_value(v), json_string_length(v));
                p += json_string_length(v);
        }
        printf("imported %s %s\n", str_or(ans, "id", "?"), *tags ? tags : "<none>");
        return flush_stdout();
}

static int import_call(const struct import_cmd *m)
{
        _cleanup_(client_release) struct client cl = {};
        _cleanup_(client_response_release) struct client_response resp = {};
        _cleanup_(json_decrefp) json_t *ans = NULL;
        struct sf_err e = {};
        int wrapped = 0, r;
        FILE *up;

        r = client_connect(&cl, &m->co, true);
        if (r < 0)
                return r;
        up = client_progress_wrap(m->f, m->body_len, "uploading", &wrapped);
        r = client_do(&cl,
                      &(struct client_request) {
                              .method = "POST",
                              .path = "/system/images",
                              .query = (const char *const[]) { m->q },
                              .n_query = m->q ? 1 : 0,
                              .auth = true,
                              .content_type = "application/x-tar",
                              .upload = up,
                              .upload_len = m->body_len,
                      },
                      &resp, &e);
        if (wrapped)
                (void) fclose(up);
        if (r < 0)
                return fail(r, &e);
        if (!is_2xx(resp.status))
                return fail_response(&resp, true, m->cmd);
        r = parse_answer(&resp, m->cmd, &ans);
        if (r < 0)
                return r;
        return print_imported(ans);
}

static int image_import(int argc, char **argv, const char *cmd)
{
        _cleanup_(import_cmd_release) struct import_cmd m = { .co = COMMON_INIT, .cmd = cmd };
        int r;

        r = import_parse(&m, argc, argv);
        if (r != 0)
                return args_exit(r);
        r = import_validate(&m, argc, argv);
        if (r < 0)
                return args_exit(r);
        if (import_open(&m) < 0 || import_plan(&m) < 0)
                return EXIT_FAILURE;
        r = gateway_check(&m.co);
        if (r < 0)
                return args_exit(r);
        return import_call(&m) < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* "image list [--json]" */
struct image_list_cmd {
        struct common co;
        const char *cmd; /* "image list" */
        bool as_json;
};

static int image_list_option(struct image_list_cmd *l, int c, char **argv)
{
        switch (c) {
        case 'h':
                fputs(image_help, stdout);
                return PARSE_HELP;
        case OPT_JSON: l->as_json = true; return 0;
        default: return common_option(&l->co, l->cmd, c, argv);
        }
}

static int image_list_parse(struct image_list_cmd *l, int argc, char **argv)
{
        static const struct option opts[] = {
                { "json", no_argument, NULL, OPT_JSON },
                COMMON_LONGOPTS,
                {},
        };
        int c, r;

        optind = 0;
        opterr = 0;
        while ((c = getopt_long(argc, argv, COMMON_SHORTOPTS, opts, NULL)) != -1) {
                r = image_list_option(l, c, argv);
                if (r != 0)
                        return r;
        }
        if (optind < argc)
                return usage_error(l->cmd, "unexpected argument '%s'", argv[optind]);
        return 0;
}

static int print_images(json_t *arr)
{
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
        return flush_stdout();
}

static int image_list_call(const struct image_list_cmd *l)
{
        _cleanup_(client_release) struct client cl = {};
        _cleanup_(client_response_release) struct client_response resp = {};
        _cleanup_(json_decrefp) json_t *arr = NULL;
        struct sf_err e = {};
        int r;

        r = client_connect(&cl, &l->co, true);
        if (r < 0)
                return r;
        r = client_do(&cl, &(struct client_request) { .method = "GET", .path = "/system/images", .auth = true },
                      &resp, &e);
        if (r < 0)
                return fail(r, &e);
        if (!is_2xx(resp.status))
                return fail_response(&resp, true, l->cmd);
        if (l->as_json) {
                print_raw_json(&resp);
                return flush_stdout();
        }
        r = parse_array_answer(&resp, l->cmd, &arr);
        if (r < 0)
                return r;
        return print_images(arr);
}

static int image_list(int argc, char **argv, const char *cmd)
{
        struct image_list_cmd l = { .co = COMMON_INIT, .cmd = cmd };
        int r;

        r = image_list_parse(&l, argc, argv);
        if (r != 0)
                return args_exit(r);
        r = gateway_check(&l.co);
        if (r < 0)
                return args_exit(r);
        return image_list_call(&l) < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
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

/* "image rm REF [-n NS]" and "image prune [-n NS]": one call each, the
 * answer summarised. */
struct image_rm_cmd {
        struct common co;
        const char *cmd; /* "image rm" or "image prune" */
        bool prune;      /* prune: no REF */
        const char *ns, *ref;
        char *path, *q;  /* the request's path; the query "namespace=NS", NULL without -n */
};

static void image_rm_cmd_release(struct image_rm_cmd *m)
{
        free(m->path);
        free(m->q);
}

static int image_rm_option(struct image_rm_cmd *m, int c, char **argv)
{
        switch (c) {
        case 'h':
                fputs(image_help, stdout);
                return PARSE_HELP;
        case 'n': m->ns = optarg; return 0;
        default: return common_option(&m->co, m->cmd, c, argv);
        }
}

static int image_rm_parse(struct image_rm_cmd *m, int argc, char **argv)
{
        static const struct option opts[] = {
                { "namespace", required_argument, NULL, 'n' },
                COMMON_LONGOPTS,
                {},
        };
        int c, r;

        optind = 0;
        opterr = 0;
        while ((c = getopt_long(argc, argv, COMMON_SHORTOPTS "n:", opts, NULL)) != -1) {
                r = image_rm_option(m, c, argv);
                if (r != 0)
                        return r;
        }
        return 0;
}

/* The operands and -n, then the request's path and query. */
static int image_rm_validate(struct image_rm_cmd *m, int argc, char **argv)
{
        if (!m->prune) {
                if (optind >= argc)
                        return usage_error(m->cmd, "an image REF is required");
                m->ref = argv[optind++];
                if (!image_ref_chars_ok(m->ref))
                        return usage_error(m->cmd, "invalid image reference '%s'", m->ref);
        }
        if (optind < argc)
                return usage_error(m->cmd, "unexpected argument '%s'", argv[optind]);
        if (m->ns && !client_name_valid(m->ns))
                return usage_error(m->cmd, "invalid namespace '%s'", m->ns);
        m->path = m->prune ? strdup("/system/images/prune") : xasprintf("/system/images/%s", m->ref);
        if (!m->path || (m->ns && !(m->q = xasprintf("namespace=%s", m->ns))))
                return fail(-ENOMEM, NULL);
        return 0;
}

static int print_removed(json_t *ans, bool prune)
{
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
        return flush_stdout();
}

static int image_rm_call(const struct image_rm_cmd *m)
{
        _cleanup_(client_release) struct client cl = {};
        _cleanup_(client_response_release) struct client_response resp = {};
        _cleanup_(json_decrefp) json_t *ans = NULL;
        struct sf_err e = {};
        int r;

        r = client_connect(&cl, &m->co, true);
        if (r < 0)
                return r;
        r = client_do(&cl,
                      &(struct client_request) {
                              .method = m->prune ? "POST" : "DELETE",
                              .path = m->path,
                              .query = (const char *const[]) { m->q },
                              .n_query = m->q ? 1 : 0,
                              .auth = true,
                      },
                      &resp, &e);
        if (r < 0)
                return fail(r, &e);
        if (!is_2xx(resp.status))
                return fail_response(&resp, true, m->cmd);
        r = parse_answer(&resp, m->cmd, &ans);
        if (r < 0)
                return r;
        return print_removed(ans, m->prune);
}

static int image_remove(int argc, char **argv, const char *cmd, bool prune)
{
        _cleanup_(image_rm_cmd_release) struct image_rm_cmd m = { .co = COMMON_INIT, .cmd = cmd, .prune = prune };
        int r;

        r = image_rm_parse(&m, argc, argv);
        if (r != 0)
                return args_exit(r);
        r = image_rm_validate(&m, argc, argv);
        if (r < 0)
                return args_exit(r);
        r = gateway_check(&m.co);
        if (r < 0)
                return args_exit(r);
        return image_rm_call(&m) < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}

int cmd_image(int argc, char **argv)
{
        if (argc < 2)
                return args_exit(usage_error("image", "a subcommand is required: import, list, rm or prune"));
        if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
                fputs(image_help, stdout);
                return EXIT_SUCCESS;
        }
        if (strcmp(argv[1], "import") == 0)
                return image_import(argc - 1, argv + 1, "image import");
        if (strcmp(argv[1], "list") == 0 || strcmp(argv[1], "ls") == 0)
                return image_list(argc - 1, argv + 1, "image list");
        if (strcmp(argv[1], "rm") == 0 || strcmp(argv[1], "remove") == 0)
                return image_remove(argc - 1, argv + 1, "image rm", false);
        if (strcmp(argv[1], "prune") == 0)
                return image_remove(argc - 1, argv + 1, "image prune", true);
        return args_exit(usage_error("image", "unknown subcommand '%s'", argv[1]));
}
