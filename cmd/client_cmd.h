/* SPDX-License-Identifier: MIT */
/*
 * What the client subcommands share (deploy, list, invoke and rm in
 * cmd/client.c, image in cmd/image.c): the common options, and the steps
 * that check the gateway, connect to it and report what went wrong.
 *
 * Each command runs named steps over one struct of its own: parse (the
 * options, getopt_long), validate (the operands and values), plan (what to
 * send), cli_gateway_check(), then call (connect, send, print the answer).
 * A step returns >= 0 or -errno, having said why on stderr as one line that
 * starts "sfaasd: "; the command (cmd_*(), the boundary) maps the step that
 * failed to the exit code: cli_args_exit() after the steps that check what
 * was typed (-EINVAL is a usage error there), EXIT_FAILURE after the others.
 */
#pragma once

#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>

#include "cmd/client.h"
#include "cmd/client_http.h"
#include "core/base/error.h"

#define CLI_DEFAULT_TIMEOUT_MS 60000L
#define CLI_PARSE_HELP 1 /* a parse step printed the help: exit 0 */

/* getopt_long() values of the long options without a short one. */
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
        OPT_TAIL,
        OPT_SINCE,
        OPT_CACERT,
        OPT_TLS_PIN,
};

/* Every client command takes these (COMMON_HELP says what they do). */
#define COMMON_SHORTOPTS ":g:hu:"
#define COMMON_LONGOPTS                                                        \
        { "gateway", required_argument, NULL, 'g' },                           \
        { "user", required_argument, NULL, 'u' },                              \
        { "password-file", required_argument, NULL, OPT_PASSWORD_FILE },       \
        { "timeout", required_argument, NULL, OPT_TIMEOUT },                   \
        { "cacert", required_argument, NULL, OPT_CACERT },                     \
        { "tls-fingerprint", required_argument, NULL, OPT_TLS_PIN },           \
        { "help", no_argument, NULL, 'h' }

#define COMMON_HELP                                                                                \
        "  -g, --gateway URL         gateway (default $OPENFAAS_URL, else " CLIENT_DEFAULT_GATEWAY ")\n" \
        "  -u, --user USER           admin, or a tenant's name (default $SFAASD_USER, else admin)\n"   \
        "      --password-file FILE  the user's password or token (default $SFAASD_PASSWORD, else none)\n" \
        "      --timeout DURATION    whole request, e.g. 30s, 2m, 0 for none (default 60s)\n"          \
        "      --cacert FILE         https: trust these CA certificates (default $SFAASD_CACERT, else the system's)\n" \
        "      --tls-fingerprint FP  https: trust the certificate with this SHA-256 fingerprint\n"        \
        "                            (default $SFAASD_TLS_FINGERPRINT; what a self-signed sfaasd logs)\n" \
        "  -h, --help                show this help\n"

struct common {
        const char *gateway;
        const char *user;
        const char *password_file;
        long timeout_ms;
        const char *cacert;
        const char *tls_pin;
};
#define COMMON_INIT { .timeout_ms = CLI_DEFAULT_TIMEOUT_MS }

/* Say what is wrong with the command line, as one line naming cmd and its
 * --help. Returns -EINVAL, which cli_args_exit() turns into EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The exit code after a step that checks what was typed (parse, validate,
 * cli_gateway_check) ended with r, having said why: CLI_PARSE_HELP
 * EXIT_SUCCESS, -EINVAL (a usage error) EXIT_USAGE, anything else (no
 * memory) EXIT_FAILURE. */
int cli_args_exit(int r);

/* The options every command shares, and the errors getopt_long() reports;
 * a command's option step hands it every c it does not know itself. 0, or
 * -EINVAL after saying why. */
int cli_common_option(struct common *co, const char *cmd, int c, char **argv);

/* Say why a step failed: e's message (e may be NULL), else r's. Returns r. */
int cli_fail(int r, const struct sf_err *e);

/* Say why the gateway refused (a 401 with auth: the credentials), as one
 * line naming what; returns -EREMOTEIO. */
int cli_fail_response(const struct client_response *resp, bool auth, const char *what);

static inline bool cli_is_2xx(long status)
{
        return status >= 200 && status < 300;
}

/* The gateway (--gateway, else $OPENFAAS_URL, else the default) must be an
 * http(s) URL; a bad one is a usage error (-EINVAL), said without the
 * --help hint. */
int cli_gateway_check(const struct common *co);

/* client_init() with co's gateway, user, password file and timeout. */
int cli_connect(struct client *cl, const struct common *co, bool need_password);

/* The JSON of a 2xx answer; -EBADMSG when the gateway answered something
 * else (any JSON value; _array: a JSON array). */
int cli_parse_answer(const struct client_response *resp, const char *what, json_t **ret);
int cli_parse_array_answer(const struct client_response *resp, const char *what, json_t **ret);

/* The string member key of o, else dflt. */
const char *cli_str_or(json_t *o, const char *key, const char *dflt);

/* The answer's body on stdout as it is, ended by a newline. */
void cli_print_raw_json(const struct client_response *resp);

/* Flush stdout; a failed write (a closed pipe, a full disk) is said. */
int cli_flush_stdout(void);
