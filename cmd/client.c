/* SPDX-License-Identifier: MIT */
/*
 * The client subcommands deploy, list, invoke and rm (image is cmd/image.c):
 * argument parsing and printing only; the steps they share are in
 * client_cmd.c (see client_cmd.h for how a command is split and where its
 * exit code is made), the JSON and URL helpers in client_util.c, the HTTP
 * call in client_http.c. Every failure is one line on stderr starting
 * "sfaasd: " and exit code 1 (2 for usage errors).
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd/client.h"
#include "cmd/client_cmd.h"
#include "cmd/client_http.h"
#include "cmd/commands.h"
#include "core/base/cleanup.h"
#include "core/base/util.h"

#define INVOKE_BODY_MAX (256u << 20) /* stdin read into memory when it is not a regular file */
#define INVOKE_BODY_FIRST_ALLOC 65536 /* read_stdin()'s first buffer, doubled as it fills */

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
                return cli_fail(-ENOMEM, NULL);
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
                return CLI_PARSE_HELP;
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
        default: return cli_common_option(&d->co, argv[0], c, argv);
        }
}

/* 0 once the options are read, CLI_PARSE_HELP, or -errno (said). */
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
                return cli_usage_error(argv[0], "unexpected argument '%s'", argv[optind]);
        if (!d->spec.name)
                return cli_usage_error(argv[0], "--name is required");
        if (!d->spec.image)
                return cli_usage_error(argv[0], "--image is required");
        d->spec.env = d->env;
        d->spec.labels = d->labels;
        d->spec.annotations = d->annotations;
        d->spec.secrets = d->secrets;
        r = client_deployment_json(&d->spec, &d->body, &e);
        if (r == -ENOMEM)
                return cli_fail(r, &e);
        if (r < 0)
                return cli_usage_error(argv[0], "%s", e.msg);
        return 0;
}

static int deploy_plan(struct deploy_cmd *d)
{
        int r;

        d->json = json_dumps(d->body, JSON_COMPACT);
        r = client_function_path(d->spec.name, d->spec.namespace, &d->fpath);
        d->what = xasprintf("deploy '%s'", d->spec.name);
        if (!d->json || r < 0 || !d->what)
                return cli_fail(-ENOMEM, NULL);
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

        r = cli_connect(&cl, &d->co, true);
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
                return cli_fail(r, &e);
        if (!cli_is_2xx(resp.status))
                return cli_fail_response(&resp, true, d->what);
        printf("Deployed. %ld %s.\n", resp.status, client_status_reason(resp.status));
        printf("URL: %s%s\n", cl.gateway, d->fpath);
        return cli_flush_stdout();
}

int cmd_deploy(int argc, char **argv)
{
        _cleanup_(deploy_cmd_release) struct deploy_cmd d = { .co = COMMON_INIT };
        int r;

        if (deploy_cmd_init(&d, argc) < 0)
                return EXIT_FAILURE;
        r = deploy_parse(&d, argc, argv);
        if (r != 0)
                return cli_args_exit(r);
        r = deploy_validate(&d, argc, argv);
        if (r < 0)
                return cli_args_exit(r);
        if (deploy_plan(&d) < 0)
                return EXIT_FAILURE;
        r = cli_gateway_check(&d.co);
        if (r < 0)
                return cli_args_exit(r);
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
                size_t ln = strlen(cli_str_or(rows[i], "name", "")), li = strlen(cli_str_or(rows[i], "image", ""));
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
                        printf("%-*s  %-*s  %11.0f  %8lld\n", (int) wname, cli_str_or(rows[i], "name", ""), (int) wimage,
                               cli_str_or(rows[i], "image", ""), invocations, replicas);
                else
                        printf("%-*s  %11.0f  %8lld\n", (int) wname, cli_str_or(rows[i], "name", ""), invocations,
                               replicas);
        }
        return 0;
}

static int list_option(struct list_cmd *l, int c, char **argv)
{
        switch (c) {
        case 'h':
                fputs(list_help, stdout);
                return CLI_PARSE_HELP;
        case 'n': l->ns = optarg; return 0;
        case 'v': l->verbose = true; return 0;
        case OPT_JSON: l->as_json = true; return 0;
        default: return cli_common_option(&l->co, argv[0], c, argv);
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
                return cli_usage_error(argv[0], "unexpected argument '%s'", argv[optind]);
        if (l->ns && !client_name_valid(l->ns))
                return cli_usage_error(argv[0], "invalid namespace '%s'", l->ns);
        if (l->ns && !(l->q = xasprintf("namespace=%s", l->ns)))
                return cli_fail(-ENOMEM, NULL);
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

        r = cli_connect(&cl, &l->co, true);
        if (r < 0)
                return r;
        r = client_do(&cl, &req, &resp, &e);
        if (r < 0)
                return cli_fail(r, &e);
        if (!cli_is_2xx(resp.status))
                return cli_fail_response(&resp, true, "list");
        if (l->as_json) {
                cli_print_raw_json(&resp);
                return cli_flush_stdout();
        }
        r = cli_parse_array_answer(&resp, "list", &arr);
        if (r < 0)
                return r;
        r = print_functions(arr, l->verbose);
        if (r < 0)
                return cli_fail(r, NULL);
        return cli_flush_stdout();
}

int cmd_list(int argc, char **argv)
{
        _cleanup_(list_cmd_release) struct list_cmd l = { .co = COMMON_INIT };
        int r;

        r = list_parse(&l, argc, argv);
        if (r != 0)
                return cli_args_exit(r);
        r = list_validate(&l, argc, argv);
        if (r < 0)
                return cli_args_exit(r);
        r = cli_gateway_check(&l.co);
        if (r < 0)
                return cli_args_exit(r);
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
                return cli_fail(-ENOMEM, NULL);
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
                        size_t ncap = cap ? cap * 2 : INVOKE_BODY_FIRST_ALLOC;
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
                return cli_fail(-ENOMEM, NULL);
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
                return cli_fail(r, &e);
        if (r < 0)
                return cli_usage_error(cmd, "%s", e.msg);
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
                return CLI_PARSE_HELP;
        case 'n': v->ns = optarg; return 0;
        case 'm': return invoke_set_method(v, optarg);
        case 'H': return invoke_add_header(v, optarg, argv[0]);
        case OPT_QUERY:
                if (!strchr(optarg, '=') || optarg[0] == '=')
                        return cli_usage_error(argv[0], "query '%s' is not in the form KEY=VALUE", optarg);
                v->query[v->n_query++] = optarg;
                return 0;
        case OPT_CONTENT_TYPE:
                if (!*optarg || strpbrk(optarg, "\r\n"))
                        return cli_usage_error(argv[0], "invalid content type '%s'", optarg);
                v->ctype = optarg;
                return 0;
        default: return cli_common_option(&v->co, argv[0], c, argv);
        }
}

/* 0 once the options are read, CLI_PARSE_HELP, or -errno (said). */
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
                return cli_fail(-ENOMEM, NULL);
        dot = strrchr(v->name, '.');
        if (dot) {
                if (v->ns)
                        return cli_usage_error(cmd, "give the namespace either as NAME.NAMESPACE or with --namespace");
                *dot = '\0';
                v->ns = dot + 1;
        }
        if (!client_name_valid(v->name))
                return cli_usage_error(cmd, "invalid function name '%s'", v->target);
        if (v->ns && !client_name_valid(v->ns))
                return cli_usage_error(cmd, "invalid namespace '%s'", v->ns);
        return 0;
}

static int invoke_validate(struct invoke_cmd *v, int argc, char **argv)
{
        if (optind >= argc)
                return cli_usage_error(argv[0], "a function name is required");
        if (optind + 1 < argc)
                return cli_usage_error(argv[0], "unexpected argument '%s'", argv[optind + 1]);
        if (v->method && !method_valid(v->method))
                return cli_usage_error(argv[0], "unsupported method '%s'", v->method);
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
                        return cli_fail(r, &e);
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
                return cli_fail(r, NULL);
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

        r = cli_connect(&cl, &v->co, false);
        if (r < 0)
                return r;
        r = client_do(&cl, &v->req, &resp, &e);
        if (r < 0)
                return cli_fail(r, &e);
        if (!cli_is_2xx(resp.status))
                return cli_fail_response(&resp, false, v->target);
        return cli_flush_stdout();
}

int cmd_invoke(int argc, char **argv)
{
        _cleanup_(invoke_cmd_release) struct invoke_cmd v = { .co = COMMON_INIT };
        int r;

        if (invoke_cmd_init(&v, argc) < 0)
                return EXIT_FAILURE;
        r = invoke_parse(&v, argc, argv);
        if (r != 0)
                return cli_args_exit(r);
        r = invoke_validate(&v, argc, argv);
        if (r < 0)
                return cli_args_exit(r);
        invoke_defaults(&v);
        if (invoke_plan(&v) < 0)
                return EXIT_FAILURE;
        r = cli_gateway_check(&v.co);
        if (r < 0)
                return cli_args_exit(r);
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
                return CLI_PARSE_HELP;
        case 'n': m->ns = optarg; return 0;
        default: return cli_common_option(&m->co, argv[0], c, argv);
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
                return cli_usage_error(argv[0], "a function name is required");
        if (optind + 1 < argc)
                return cli_usage_error(argv[0], "unexpected argument '%s'", argv[optind + 1]);
        m->name = argv[optind];
        if (!client_name_valid(m->name))
                return cli_usage_error(argv[0], "invalid function name '%s'", m->name);
        if (m->ns && !client_name_valid(m->ns))
                return cli_usage_error(argv[0], "invalid namespace '%s'", m->ns);
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
                return cli_fail(-ENOMEM, NULL);
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

        r = cli_connect(&cl, &m->co, true);
        if (r < 0)
                return r;
        r = client_do(&cl, &req, &resp, &e);
        if (r < 0)
                return cli_fail(r, &e);
        if (resp.status == 404) {
                if (m->ns)
                        fprintf(stderr, "sfaasd: no such function '%s' in namespace '%s'\n", m->name, m->ns);
                else
                        fprintf(stderr, "sfaasd: no such function '%s'\n", m->name);
                return -ENOENT;
        }
        if (!cli_is_2xx(resp.status))
                return cli_fail_response(&resp, true, m->what);
        printf("Removed %s%s%s.\n", m->name, m->ns ? "." : "", m->ns ? m->ns : "");
        return cli_flush_stdout();
}

int cmd_rm(int argc, char **argv)
{
        _cleanup_(rm_cmd_release) struct rm_cmd m = { .co = COMMON_INIT };
        int r;

        r = rm_parse(&m, argc, argv);
        if (r != 0)
                return cli_args_exit(r);
        r = rm_validate(&m, argc, argv);
        if (r < 0)
                return cli_args_exit(r);
        if (rm_plan(&m) < 0)
                return EXIT_FAILURE;
        r = cli_gateway_check(&m.co);
        if (r < 0)
                return cli_args_exit(r);
        return rm_call(&m) < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
