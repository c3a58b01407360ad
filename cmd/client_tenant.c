/* SPDX-License-Identifier: MIT */
/*
 * Client subcommands for tenants and what they own: tenant, token, secret,
 * and `routes` (the route table with who may call each route; local, no
 * gateway). Argument parsing and printing only; the common options and
 * messages are cmd/client_cli.h's.
 */
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd/client.h"
#include "cmd/client_cmd.h"
#include "cmd/client_http.h"
#include "cmd/commands.h"
#include "core/api/router.h"
#include "core/base/cleanup.h"
#include "core/base/util.h"
#include "store/audit.h"

enum {
        OPT_EXPIRES = OPT_SINCE + 1, /* after cmd/client_cmd.h's (OPT_JSON, OPT_NAME are those) */
        OPT_LITERAL,
        OPT_FROM_FILE,
        OPT_REPLACE,
        OPT_AFTER,
        OPT_LIMIT,
        OPT_DATA,
        OPT_FUNCTION,
};


/* This file's commands were written against an exit-code style of the
 * shared steps; these adapt cmd/client_cmd.h's -errno steps to it. */
#define DEFAULT_TIMEOUT_MS CLI_DEFAULT_TIMEOUT_MS
#define usage_error(...) (cli_usage_error(__VA_ARGS__) < 0 ? EXIT_USAGE : EXIT_USAGE)
#define is_2xx(status) cli_is_2xx(status)

static int common_option(struct common *co, const char *cmd, int c, char **argv)
{
        switch (c) {
        case 'g': case 'u': case OPT_PASSWORD_FILE: case OPT_TIMEOUT: case ':': case '?':
                return cli_common_option(co, cmd, c, argv) < 0 ? -EXIT_USAGE : 1;
        default:
                return 0;
        }
}

static int fail(int r, const struct sf_err *e)
{
        (void) cli_fail(r, e);
        return EXIT_FAILURE;
}

static int fail_response(const struct client_response *resp, bool auth, const char *what)
{
        (void) cli_fail_response(resp, auth, what);
        return EXIT_FAILURE;
}

static int connect_client(struct client *cl, const struct common *co, bool need_password)
{
        int r = cli_gateway_check(co);

        if (r < 0)
                return r == -EINVAL ? EXIT_USAGE : EXIT_FAILURE;
        return cli_connect(cl, co, need_password) < 0 ? EXIT_FAILURE : 0;
}

static json_t *parse_answer(const struct client_response *resp, const char *what)
{
        json_t *j = NULL;
        return cli_parse_answer(resp, what, &j) < 0 ? NULL : j;
}

static void print_raw_json(const struct client_response *resp)
{
        cli_print_raw_json(resp);
}

static int flush_stdout(void)
{
        return cli_flush_stdout() < 0 ? EXIT_FAILURE : 0;
}

#define SECRET_FILE_MAX (512u << 10)

/* What one subcommand was given: common options, -n, --json and the
 * arguments left. */
struct args {
        struct common co;
        const char *ns;
        bool json;
        const char *name;      /* --name */
        const char *expires;   /* --expires */
        const char *literal;   /* --from-literal */
        const char *file;      /* --from-file */
        bool replace;
        const char *after;     /* --after */
        const char *limit;     /* --limit */
        const char *data;      /* --data */
        const char *function;  /* --function */
        char **rest;
        int n_rest;
};

static int parse_args(int argc, char **argv, const char *cmd, const char *help, struct args *a)
{
        static const struct option opts[] = {
                { "namespace", required_argument, NULL, 'n' },
                { "json", no_argument, NULL, OPT_JSON },
                { "name", required_argument, NULL, OPT_NAME },
                { "expires", required_argument, NULL, OPT_EXPIRES },
                { "from-literal", required_argument, NULL, OPT_LITERAL },
                { "from-file", required_argument, NULL, OPT_FROM_FILE },
                { "replace", no_argument, NULL, OPT_REPLACE },
                { "after", required_argument, NULL, OPT_AFTER },
                { "limit", required_argument, NULL, OPT_LIMIT },
                { "data", required_argument, NULL, OPT_DATA },
                { "function", required_argument, NULL, OPT_FUNCTION },
                COMMON_LONGOPTS,
                {},
        };
        int c, r;

        *a = (struct args) { .co = { .timeout_ms = DEFAULT_TIMEOUT_MS } };
        optind = 0;
        opterr = 0;
        while ((c = getopt_long(argc, argv, COMMON_SHORTOPTS "n:", opts, NULL)) != -1) {
                r = common_option(&a->co, cmd, c, argv);
                if (r < 0)
                        return -r;
                if (r > 0)
                        continue;
                switch (c) {
                case 'h': fputs(help, stdout); return -1;
                case 'n': a->ns = optarg; break;
                case OPT_JSON: a->json = true; break;
                case OPT_NAME: a->name = optarg; break;
                case OPT_EXPIRES: a->expires = optarg; break;
                case OPT_LITERAL: a->literal = optarg; break;
                case OPT_FROM_FILE: a->file = optarg; break;
                case OPT_REPLACE: a->replace = true; break;
                case OPT_AFTER: a->after = optarg; break;
                case OPT_LIMIT: a->limit = optarg; break;
                case OPT_DATA: a->data = optarg; break;
                case OPT_FUNCTION: a->function = optarg; break;
                default: return usage_error(cmd, "unexpected option");
                }
        }
        if (a->ns && !client_name_valid(a->ns))
                return usage_error(cmd, "invalid namespace '%s'", a->ns);
        a->rest = argv + optind;
        a->n_rest = argc - optind;
        return 0;
}

/* One authenticated call; *ret holds the answer (release it). body may be
 * NULL. Returns 0, or the exit code after printing why not. */
static int call(const struct args *a, const char *method, const char *path, const char *query, json_t *body,
                struct client_response *ret)
{
        _cleanup_free_ char *json = body ? json_dumps(body, JSON_COMPACT) : NULL;
        struct client cl = {};
        struct sf_err e = {};
        int r;

        if (body && !json)
                return fail(-ENOMEM, &e);
        r = connect_client(&cl, &a->co, true);
        if (r > 0)
                return r;
        r = client_do(&cl,
                      &(struct client_request) {
                              .method = method,
                              .path = path,
                              .query = (const char *const[]) { query },
                              .n_query = query ? 1 : 0,
                              .auth = true,
                              .content_type = json ? "application/json" : NULL,
                              .has_body = json != NULL,
                              .body = json,
                              .body_len = json ? strlen(json) : 0,
                      },
                      ret, &e);
        client_release(&cl);
        if (r < 0)
                return fail(r, &e);
        return 0;
}

/* The call, then: a non-2xx answer reported; a 2xx one parsed when asked
 * (ret_json non-NULL). Returns 0 or the exit code. */
static int call_ok(const struct args *a, const char *what, const char *method, const char *path,
                   const char *query, json_t *body, json_t **ret_json, bool print_raw)
{
        struct client_response resp = {};
        int r = call(a, method, path, query, body, &resp);

        if (r)
                return r;
        if (!is_2xx(resp.status))
                r = fail_response(&resp, true, what);
        else if (print_raw) {
                print_raw_json(&resp);
                r = flush_stdout();
        } else if (ret_json && !(*ret_json = parse_answer(&resp, what)))
                r = 1;
        client_response_release(&resp);
        return r;
}

static const char *str_of(json_t *o, const char *key)
{
        const char *s = json_string_value(json_object_get(o, key));
        return s ? s : "-";
}

/* ---- tenant ------------------------------------------------------------ */

static const char tenant_help[] =
        "usage: sfaasd tenant create NAME [OPTIONS]\n"
        "       sfaasd tenant list [--json] [OPTIONS]\n"
        "       sfaasd tenant show NAME [OPTIONS]\n"
        "       sfaasd tenant rm NAME [OPTIONS]\n"
        "       sfaasd tenant quota NAME [KEY=VALUE...] [OPTIONS]\n"
        "       sfaasd tenant invoke-auth NAME [on|off] [OPTIONS]\n"
        "\n"
        "Tenants are OpenFaaS namespaces with credentials of their own (see 'sfaasd\n"
        "token'). create, list and rm need the admin; a tenant may show itself.\n"
        "rm refuses a tenant that still has functions; its secrets and tokens go\n"
        "with it.\n"
        "quota shows a tenant's quotas and what it uses; with KEY=VALUE pairs the\n"
        "admin sets them (VALUE 0: no limit; \"default\": the config's). Keys:\n"
        "functions, instances, memory (e.g. 2Gi), cpu (e.g. 1500m), pids, imageBytes,\n"
        "secrets, asyncQueued, invokeRate (calls per second), invokeConcurrency.\n"
        "invoke-auth shows or sets whether calls to the tenant's functions need a\n"
        "credential (the tenant's token, or an invoke key: see 'sfaasd key'); the\n"
        "tenant may set it too.\n"
        "\n"
        "      --json                print the gateway's JSON as is (list, quota)\n" COMMON_HELP;

/* tenant quota NAME [K=V...]: a table of quota and use, after setting the pairs. */
static int tenant_quota(const struct args *a)
{
        _cleanup_free_ char *path = NULL;
        _cleanup_(json_decrefp) json_t *ans = NULL, *body = NULL;
        json_t *quotas, *usage, *v;
        const char *k;
        int r;

        if (a->n_rest < 1 || !client_name_valid(a->rest[0]))
                return usage_error("tenant quota", "a tenant NAME is required");
        path = xasprintf("/system/tenants/%s", a->rest[0]);
        if (!path)
                return fail(-ENOMEM, &(struct sf_err) {});
        if (a->n_rest > 1) {
                json_t *q = json_object();
                body = json_pack("{s:o}", "quotas", q);
                if (!body)
                        return fail(-ENOMEM, &(struct sf_err) {});
                for (int i = 1; i < a->n_rest; i++) {
                        const char *eq = strchr(a->rest[i], '=');
                        _cleanup_free_ char *key = eq ? strndup(a->rest[i], (size_t) (eq - a->rest[i])) : NULL;
                        if (!eq || !key || !*key || !eq[1])
                                return usage_error("tenant quota", "'%s' is not KEY=VALUE", a->rest[i]);
                        if (json_object_set_new(q, key, strcmp(eq + 1, "default") == 0 ? json_null()
                                                                                       : json_string(eq + 1)) < 0)
                                return fail(-ENOMEM, &(struct sf_err) {});
                }
        }
        r = call_ok(a, "tenant quota", body ? "PUT" : "GET", path, NULL, body, &ans, false);
        if (r)
                return r;
        if (a->json) {
                _cleanup_(json_decrefp) json_t *out = json_pack("{s:O,s:O}", "quotas", json_object_get(ans, "quotas"),
                                                                "usage", json_object_get(ans, "usage"));
                if (!out)
                        return fail(-ENOMEM, &(struct sf_err) {});
                json_dumpf(out, stdout, JSON_INDENT(2));
                putchar('\n');
                return flush_stdout();
        }
        quotas = json_object_get(ans, "quotas");
        usage = json_object_get(ans, "usage");
        printf("%-18s  %-14s  %s\n", "QUOTA", "LIMIT", "USED");
        json_object_foreach(quotas, k, v) {
                json_t *u = json_object_get(usage, k);
                char lim[32], used[32] = "-";
                if (json_is_integer(v) && json_integer_value(v) == 0)
                        (void) xsnprintf(lim, sizeof lim, "none");
                else if (json_is_integer(v))
                        (void) xsnprintf(lim, sizeof lim, "%lld", (long long) json_integer_value(v));
                else
                        (void) xsnprintf(lim, sizeof lim, "%s", json_string_value(v) ? json_string_value(v) : "?");
                if (json_is_integer(u))
                        (void) xsnprintf(used, sizeof used, "%lld", (long long) json_integer_value(u));
                else if (json_is_real(u))
                        (void) xsnprintf(used, sizeof used, "%.3fs", json_real_value(u));
                printf("%-18s  %-14s  %s\n", k, lim, used);
        }
        return flush_stdout();
}

int cmd_tenant(int argc, char **argv)
{
        struct args a;
        _cleanup_free_ char *path = NULL;
        _cleanup_(json_decrefp) json_t *ans = NULL;
        const char *sub;
        int r;

        if (argc < 2)
                return usage_error("tenant", "a subcommand is required: create, list, show or rm");
        sub = argv[1];
        if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0 || strcmp(sub, "help") == 0) {
                fputs(tenant_help, stdout);
                return 0;
        }
        r = parse_args(argc - 1, argv + 1, "tenant", tenant_help, &a);
        if (r)
                return r < 0 ? 0 : r;
        if (strcmp(sub, "list") == 0 || strcmp(sub, "ls") == 0) {
                size_t i;
                json_t *t;
                if (a.n_rest)
                        return usage_error("tenant list", "unexpected argument '%s'", a.rest[0]);
                r = call_ok(&a, "tenant list", "GET", "/system/tenants", NULL, NULL, &ans, a.json);
                if (r || a.json)
                        return r;
                printf("%-24s  %6s  %s\n", "NAME", "TOKENS", "CREATED");
                json_array_foreach(ans, i, t)
                        printf("%-24s  %6lld  %s\n", str_of(t, "name"),
                               (long long) json_integer_value(json_object_get(t, "tokens")), str_of(t, "createdAt"));
                return flush_stdout();
        }
        if (strcmp(sub, "quota") == 0)
                return tenant_quota(&a);
        if (strcmp(sub, "invoke-auth") == 0) {
                _cleanup_(json_decrefp) json_t *body = NULL;
                if (a.n_rest < 1 || a.n_rest > 2 || !client_name_valid(a.rest[0]) ||
                    (a.n_rest == 2 && strcmp(a.rest[1], "on") != 0 && strcmp(a.rest[1], "off") != 0))
                        return usage_error("tenant", "invoke-auth needs a tenant NAME and on, off or nothing");
                path = xasprintf("/system/tenants/%s/invoke", a.rest[0]);
                if (a.n_rest == 2)
                        body = json_pack("{s:b}", "auth", strcmp(a.rest[1], "on") == 0);
                if (!path || (a.n_rest == 2 && !body))
                        return fail(-ENOMEM, &(struct sf_err) {});
                r = call_ok(&a, "tenant invoke-auth", body ? "PUT" : "GET", path, NULL, body, &ans, false);
                if (r)
                        return r;
                printf("calls to %s's functions %s\n", a.rest[0],
                       json_is_true(json_object_get(ans, "auth")) ? "need a credential (a token or an invoke key)"
                                                                  : "are open");
                return flush_stdout();
        }
        if (strcmp(sub, "create") != 0 && strcmp(sub, "show") != 0 && strcmp(sub, "rm") != 0 &&
            strcmp(sub, "remove") != 0)
                return usage_error("tenant", "unknown subcommand '%s'", sub);
        if (a.n_rest != 1)
                return usage_error("tenant", "%s needs one tenant NAME", sub);
        if (!client_name_valid(a.rest[0]))
                return usage_error("tenant", "invalid tenant name '%s'", a.rest[0]);
        if (strcmp(sub, "create") == 0) {
                _cleanup_(json_decrefp) json_t *body = json_pack("{s:s}", "name", a.rest[0]);
                if (!body)
                        return fail(-ENOMEM, &(struct sf_err) {});
                r = call_ok(&a, "tenant create", "POST", "/system/tenants", NULL, body, NULL, false);
                if (!r)
                        printf("created tenant %s; give it a token: sfaasd token create %s\n", a.rest[0], a.rest[0]);
                return r ? r : flush_stdout();
        }
        path = xasprintf("/system/tenants/%s", a.rest[0]);
        if (!path)
                return fail(-ENOMEM, &(struct sf_err) {});
        if (strcmp(sub, "show") == 0) {
                r = call_ok(&a, "tenant show", "GET", path, NULL, NULL, &ans, false);
                if (r)
                        return r;
                json_dumpf(ans, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
                putchar('\n');
                return flush_stdout();
        }
        r = call_ok(&a, "tenant rm", "DELETE", path, NULL, NULL, NULL, false);
        if (!r)
                printf("removed tenant %s\n", a.rest[0]);
        return r ? r : flush_stdout();
}

/* ---- token ------------------------------------------------------------- */

static const char key_help[] =
        "usage: sfaasd key create TENANT [--function F] [--name NAME] [--expires DURATION] [OPTIONS]\n"
        "       sfaasd key list TENANT [--json] [OPTIONS]\n"
        "       sfaasd key revoke TENANT ID [OPTIONS]\n"
        "\n"
        "Invoke keys open calls to a tenant's functions once it closed them ('sfaasd\n"
        "tenant invoke-auth TENANT on'): of one function (--function) or of all of\n"
        "them. The tenant issues them itself (or the admin); they are good for\n"
        "nothing else. create prints the key once; callers send it as\n"
        "'Authorization: Bearer KEY' (sfaasd invoke -H 'Authorization: Bearer KEY').\n"
        "\n"
        "      --function F          the one function the key calls (default: all)\n"
        "      --name NAME           what the key is for (default \"key\")\n"
        "      --expires DURATION    e.g. 12h or 90d (default: never)\n"
        "      --json                print the gateway's JSON as is (list)\n" COMMON_HELP;

static const char token_help[] =
        "usage: sfaasd token create TENANT [--name NAME] [--expires DURATION] [OPTIONS]\n"
        "       sfaasd token list TENANT [--json] [OPTIONS]\n"
        "       sfaasd token revoke TENANT ID [OPTIONS]\n"
        "\n"
        "Tokens are a tenant's credentials (the admin issues and revokes them). create\n"
        "prints the token on standard output, once: the gateway keeps only its hash.\n"
        "Use it as the password of user TENANT (faas-cli login -u TENANT\n"
        "--password-stdin, or SFAASD_USER=TENANT SFAASD_PASSWORD=TOKEN for sfaasd), or\n"
        "as 'Authorization: Bearer TOKEN'. A revoked or expired token is refused at once.\n"
        "\n"
        "      --name NAME           what the token is for (default \"token\")\n"
        "      --expires DURATION    e.g. 12h or 90d (default: never)\n"
        "      --json                print the gateway's JSON as is (list)\n" COMMON_HELP;

static int tokens_cmd(int argc, char **argv, bool key)
{
        const char *cmd = key ? "key" : "token", *what = key ? "keys" : "tokens";
        const char *help = key ? key_help : token_help;
        struct args a;
        _cleanup_free_ char *path = NULL;
        _cleanup_(json_decrefp) json_t *ans = NULL;
        const char *sub;
        int r;

        if (argc < 2)
                return usage_error(cmd, "a subcommand is required: create, list or revoke");
        sub = argv[1];
        if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0 || strcmp(sub, "help") == 0) {
                fputs(help, stdout);
                return 0;
        }
        r = parse_args(argc - 1, argv + 1, cmd, help, &a);
        if (r)
                return r < 0 ? 0 : r;
        if (a.n_rest < 1 || !client_name_valid(a.rest[0]))
                return usage_error(cmd, "%s needs a TENANT", sub);
        if (strcmp(sub, "create") == 0) {
                _cleanup_(json_decrefp) json_t *body = json_object();
                if (a.n_rest != 1)
                        return usage_error(cmd, "create: unexpected argument '%s'", a.rest[1]);
                path = xasprintf("/system/tenants/%s/%s", a.rest[0], what);
                if (!body || !path || (a.name && json_object_set_new(body, "name", json_string(a.name)) < 0) ||
                    (a.expires && json_object_set_new(body, "expiresIn", json_string(a.expires)) < 0) ||
                    (key && a.function && json_object_set_new(body, "function", json_string(a.function)) < 0))
                        return fail(-ENOMEM, &(struct sf_err) {});
                r = call_ok(&a, cmd, "POST", path, NULL, body, &ans, false);
                if (r)
                        return r;
                fprintf(stderr, "%s %s for tenant %s%s%s (shown once; expires %s)\n", key ? "invoke key" : "token",
                        str_of(ans, "id"), a.rest[0], key && a.function ? ", function " : "",
                        key && a.function ? a.function : "",
                        json_is_string(json_object_get(ans, "expiresAt")) ? str_of(ans, "expiresAt") : "never");
                printf("%s\n", str_of(ans, key ? "key" : "token"));
                return flush_stdout();
        }
        if (strcmp(sub, "list") == 0 || strcmp(sub, "ls") == 0) {
                size_t i;
                json_t *t;
                if (a.n_rest != 1)
                        return usage_error(cmd, "list: unexpected argument '%s'", a.rest[1]);
                path = xasprintf("/system/tenants/%s/%s", a.rest[0], what);
                if (!path)
                        return fail(-ENOMEM, &(struct sf_err) {});
                r = call_ok(&a, cmd, "GET", path, NULL, NULL, &ans, a.json);
                if (r || a.json)
                        return r;
                printf("%-12s  %-20s  %-20s  %-20s  %s\n", "ID", "NAME", "CREATED", "EXPIRES", "STATE");
                json_array_foreach(ans, i, t) {
                        const char *state = json_is_true(json_object_get(t, "active")) ? "active"
                                            : json_is_string(json_object_get(t, "revokedAt")) ? "revoked"
                                                                                              : "expired";
                        printf("%-12s  %-20s  %-20s  %-20s  %s\n", str_of(t, "id"), str_of(t, "name"),
                               str_of(t, "createdAt"),
                               json_is_string(json_object_get(t, "expiresAt")) ? str_of(t, "expiresAt") : "never",
                               state);
                }
                return flush_stdout();
        }
        if (strcmp(sub, "revoke") == 0) {
                if (a.n_rest != 2)
                        return usage_error(cmd, "revoke needs a TENANT and an ID");
                path = xasprintf("/system/tenants/%s/%s/%s", a.rest[0], what, a.rest[1]);
                if (!path)
                        return fail(-ENOMEM, &(struct sf_err) {});
                if (strspn(a.rest[1], "0123456789abcdef") != strlen(a.rest[1]) || !*a.rest[1])
                        return usage_error(cmd, "invalid ID '%s'", a.rest[1]);
                r = call_ok(&a, cmd, "DELETE", path, NULL, NULL, NULL, false);
                if (!r)
                        printf("revoked %s %s of tenant %s\n", key ? "invoke key" : "token", a.rest[1], a.rest[0]);
                return r ? r : flush_stdout();
        }
        return usage_error(cmd, "unknown subcommand '%s'", sub);
}

int cmd_token(int argc, char **argv)
{
        return tokens_cmd(argc, argv, false);
}

int cmd_key(int argc, char **argv)
{
        return tokens_cmd(argc, argv, true);
}

/* ---- secret ------------------------------------------------------------ */

static const char secret_help[] =
        "usage: sfaasd secret create NAME (--from-literal VALUE | --from-file FILE) [--replace] [OPTIONS]\n"
        "       sfaasd secret list [--json] [OPTIONS]\n"
        "       sfaasd secret rm NAME [OPTIONS]\n"
        "\n"
        "A namespace's secrets, mounted read-only at /var/openfaas/secrets/NAME in\n"
        "the functions that list them. Values are never shown back. With no value\n"
        "option, create reads the value from standard input.\n"
        "\n"
        "  -n, --namespace NS        namespace (default: the gateway's, or the tenant's own)\n"
        "      --from-literal VALUE  the value\n"
        "      --from-file FILE      the value is this file's content (at most 512 KiB)\n"
        "      --replace             replace a secret that exists (create)\n"
        "      --json                print the gateway's JSON as is (list)\n" COMMON_HELP;

/* The value of `secret create`: literal, file or stdin, as base64 rawValue
 * for bytes, value for a literal. */
static int secret_body(const struct args *a, const char *name, json_t **ret)
{
        _cleanup_free_ char *data = NULL;
        _cleanup_(json_decrefp) json_t *o = json_pack("{s:s}", "name", name);
        size_t len = 0;
        int r;

        if (!o || (a->ns && json_object_set_new(o, "namespace", json_string(a->ns)) < 0))
                return -ENOMEM;
        if (a->literal) {
                if (json_object_set_new(o, "value", json_string(a->literal)) < 0)
                        return -EINVAL; /* not UTF-8: use --from-file */
                *ret = TAKE_PTR(o);
                return 0;
        }
        r = read_file_at(AT_FDCWD, a->file ? a->file : "/dev/stdin", SECRET_FILE_MAX, &data, &len);
        if (r < 0)
                return r;
        {
                size_t enc_len = (len + 2) / 3 * 4 + 1;
                _cleanup_free_ unsigned char *enc = malloc(enc_len);
                if (!enc)
                        return -ENOMEM;
                (void) EVP_EncodeBlock(enc, (const unsigned char *) data, (int) len);
                explicit_bzero(data, len);
                r = json_object_set_new(o, "rawValue", json_string((const char *) enc));
                explicit_bzero(enc, enc_len);
                if (r < 0)
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(o);
        return 0;
}

int cmd_secret(int argc, char **argv)
{
        struct args a;
        _cleanup_free_ char *q = NULL;
        _cleanup_(json_decrefp) json_t *ans = NULL;
        const char *sub;
        int r;

        if (argc < 2)
                return usage_error("secret", "a subcommand is required: create, list or rm");
        sub = argv[1];
        if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0 || strcmp(sub, "help") == 0) {
                fputs(secret_help, stdout);
                return 0;
        }
        r = parse_args(argc - 1, argv + 1, "secret", secret_help, &a);
        if (r)
                return r < 0 ? 0 : r;
        if (a.ns && !(q = xasprintf("namespace=%s", a.ns)))
                return fail(-ENOMEM, &(struct sf_err) {});
        if (strcmp(sub, "list") == 0 || strcmp(sub, "ls") == 0) {
                size_t i;
                json_t *t;
                if (a.n_rest)
                        return usage_error("secret list", "unexpected argument '%s'", a.rest[0]);
                r = call_ok(&a, "secret list", "GET", "/system/secrets", q, NULL, &ans, a.json);
                if (r || a.json)
                        return r;
                printf("%-32s  %s\n", "NAME", "NAMESPACE");
                json_array_foreach(ans, i, t)
                        printf("%-32s  %s\n", str_of(t, "name"), str_of(t, "namespace"));
                return flush_stdout();
        }
        if (a.n_rest != 1)
                return usage_error("secret", "%s needs one secret NAME", sub);
        if (strcmp(sub, "create") == 0) {
                _cleanup_(json_decrefp) json_t *body = NULL;
                struct client_response resp = {};
                if (a.literal && a.file)
                        return usage_error("secret create", "give --from-literal or --from-file, not both");
                r = secret_body(&a, a.rest[0], &body);
                if (r == -EINVAL)
                        return usage_error("secret create", "the literal value is not UTF-8: use --from-file");
                if (r < 0) {
                        fprintf(stderr, "sfaasd: secret create: cannot read the value: %s\n", strerror(-r));
                        return 1;
                }
                r = call(&a, "POST", "/system/secrets", NULL, body, &resp);
                if (!r && resp.status == 409 && a.replace) {
                        client_response_release(&resp);
                        r = call(&a, "PUT", "/system/secrets", NULL, body, &resp);
                }
                if (!r && !is_2xx(resp.status))
                        r = fail_response(&resp, true, "secret create");
                else if (!r)
                        printf("created secret %s\n", a.rest[0]);
                client_response_release(&resp);
                return r ? r : flush_stdout();
        }
        if (strcmp(sub, "rm") == 0 || strcmp(sub, "remove") == 0) {
                _cleanup_(json_decrefp) json_t *body = json_pack("{s:s}", "name", a.rest[0]);
                if (!body || (a.ns && json_object_set_new(body, "namespace", json_string(a.ns)) < 0))
                        return fail(-ENOMEM, &(struct sf_err) {});
                r = call_ok(&a, "secret rm", "DELETE", "/system/secrets", NULL, body, NULL, false);
                if (!r)
                        printf("removed secret %s\n", a.rest[0]);
                return r ? r : flush_stdout();
        }
        return usage_error("secret", "unknown subcommand '%s'", sub);
}

/* ---- audit ------------------------------------------------------------- */

static const char audit_help[] =
        "usage: sfaasd audit [list] [-n NS] [--after SEQ] [--limit N] [--json] [OPTIONS]\n"
        "       sfaasd audit verify [--data DIR]\n"
        "\n"
        "The audit trail: every control-plane change and every refused request, with\n"
        "who, which credential, from where, what, the answer and when. The admin reads\n"
        "every record (or one namespace's with -n), a tenant its own.\n"
        "verify walks the hash chain of the records in the data folder's database\n"
        "(read-only, beside a running daemon too) and prints the head; keep the head\n"
        "elsewhere to notice records cut off the end.\n"
        "\n"
        "      --after SEQ           records after this one (list)\n"
        "      --limit N             at most N records (list; default 100, at most 1000)\n"
        "      --data DIR            the data folder (verify; default ./.sfaasd-data)\n"
        "      --json                print the gateway's JSON as is (list)\n" COMMON_HELP;

static int audit_verify(const struct args *a)
{
        _cleanup_free_ char *db = xasprintf("%s/sfaasd.db", a->data ? a->data : "./.sfaasd-data");
        struct store_audit_verify v;
        struct sf_err e = {};
        int r;

        if (!db)
                return fail(-ENOMEM, &e);
        if (access(db, R_OK) < 0) {
                fprintf(stderr, "sfaasd: audit verify: cannot read '%s': %s\n", db, strerror(errno));
                return 1;
        }
        r = store_audit_verify_file(db, &v, &e);
        if (r < 0)
                return fail(r, &e);
        if (v.bad_seq) {
                fprintf(stderr, "sfaasd: %s (%llu records read)\n", e.msg, (unsigned long long) v.records);
                return 1;
        }
        if (v.records)
                printf("audit chain intact: %llu records, head %lld %s\n", (unsigned long long) v.records,
                       (long long) v.head_seq, v.head);
        else
                printf("audit chain intact: no records\n");
        return flush_stdout();
}

int cmd_audit(int argc, char **argv)
{
        struct args a;
        const char *sub = "list";
        const char *query[3];
        _cleanup_free_ char *qns = NULL, *qafter = NULL, *qlimit = NULL;
        _cleanup_(json_decrefp) json_t *ans = NULL;
        struct client_response resp = {};
        size_t nq = 0, i;
        json_t *rec;
        int r;

        if (argc >= 2 && argv[1][0] != '-') {
                sub = argv[1];
                argc--;
                argv++;
        } else if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
                fputs(audit_help, stdout);
                return 0;
        }
        r = parse_args(argc, argv, "audit", audit_help, &a);
        if (r)
                return r < 0 ? 0 : r;
        if (a.n_rest)
                return usage_error("audit", "unexpected argument '%s'", a.rest[0]);
        if (strcmp(sub, "verify") == 0)
                return audit_verify(&a);
        if (strcmp(sub, "list") != 0 && strcmp(sub, "ls") != 0)
                return usage_error("audit", "unknown subcommand '%s'", sub);
        if ((a.ns && !(qns = xasprintf("namespace=%s", a.ns))) || (a.after && !(qafter = xasprintf("after=%s", a.after))) ||
            (a.limit && !(qlimit = xasprintf("limit=%s", a.limit))))
                return fail(-ENOMEM, &(struct sf_err) {});
        if (qns)
                query[nq++] = qns;
        if (qafter)
                query[nq++] = qafter;
        if (qlimit)
                query[nq++] = qlimit;
        {
                struct client cl = {};
                struct sf_err e = {};
                r = connect_client(&cl, &a.co, true);
                if (r > 0)
                        return r;
                r = client_do(&cl,
                              &(struct client_request) { .method = "GET", .path = "/system/audit", .query = query,
                                                         .n_query = nq, .auth = true },
                              &resp, &e);
                client_release(&cl);
                if (r < 0)
                        return fail(r, &e);
        }
        if (!is_2xx(resp.status))
                r = fail_response(&resp, true, "audit");
        else if (a.json) {
                print_raw_json(&resp);
                r = flush_stdout();
        } else if (!(ans = parse_answer(&resp, "audit"))) {
                r = 1;
        } else {
                printf("%-6s  %-30s  %-9s  %-16s  %-12s  %-15s  %3s  %s\n", "SEQ", "TIME", "ACTOR", "TENANT",
                       "CREDENTIAL", "ADDRESS", "ST", "REQUEST / DETAIL");
                json_array_foreach(ans, i, rec) {
                        const char *cred = str_of(rec, "credential"), *detail = str_of(rec, "detail");
                        printf("%-6lld  %-30s  %-9s  %-16s  %-12s  %-15s  %3lld  %s %s%s%s\n",
                               (long long) json_integer_value(json_object_get(rec, "seq")), str_of(rec, "time"),
                               str_of(rec, "actor"), *str_of(rec, "tenant") ? str_of(rec, "tenant") : "-",
                               *cred ? cred : "-", str_of(rec, "address"),
                               (long long) json_integer_value(json_object_get(rec, "status")), str_of(rec, "method"),
                               str_of(rec, "path"), *detail ? ": " : "", detail);
                }
                r = flush_stdout();
        }
        client_response_release(&resp);
        return r;
}

/* ---- routes ------------------------------------------------------------ */

static const char routes_help[] =
        "usage: sfaasd routes [--json]\n"
        "\n"
        "Print the gateway's route table: each route's path, methods, and who may\n"
        "call it for reading (GET, HEAD) and for the other methods:\n"
        "  public      anyone\n"
        "  invoke      anyone, unless the tenant closed invocation\n"
        "  metrics     anyone, or the admin only with metrics_auth\n"
        "  credential  the admin or any tenant\n"
        "  tenant      the admin, or a tenant in its own namespace only\n"
        "  admin       the admin only\n";

int cmd_routes(int argc, char **argv)
{
        bool as_json = argc > 1 && strcmp(argv[1], "--json") == 0;
        _cleanup_(json_decrefp) json_t *arr = json_array();

        if (argc > 1 && !as_json) {
                if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
                        fputs(routes_help, stdout);
                        return 0;
                }
                return usage_error("routes", "unexpected argument '%s'", argv[1]);
        }
        if (!arr)
                return fail(-ENOMEM, &(struct sf_err) {});
        if (!as_json)
                printf("%-40s  %-46s  %-10s  %s\n", "PATH", "METHODS", "READ", "WRITE");
        for (int id = ROUTE_NONE + 1; id < ROUTE__COUNT; id++) {
                const struct route_rule *rule = route_rule((enum route_id) id);
                if (as_json) {
                        if (json_array_append_new(arr, json_pack("{s:s,s:s,s:s,s:s}", "pattern", rule->pattern,
                                                                 "methods", rule->methods, "read",
                                                                 route_policy_name(rule->read), "write",
                                                                 route_policy_name(rule->write))) < 0)
                                return fail(-ENOMEM, &(struct sf_err) {});
                } else {
                        printf("%-40s  %-46s  %-10s  %s\n", rule->pattern, rule->methods,
                               route_policy_name(rule->read), route_policy_name(rule->write));
                }
        }
        if (as_json) {
                json_dumpf(arr, stdout, JSON_INDENT(1));
                putchar('\n');
        }
        return flush_stdout();
}
