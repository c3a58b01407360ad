/* SPDX-License-Identifier: MIT */
/*
 * What the client subcommands share (cmd/client.c, cmd/client_tenant.c):
 * the common options (gateway, user, password file, timeout), connecting,
 * and the one-line messages of a failure. Every failure is one line on
 * stderr starting "sfaasd: " and exit code 1 (2 for usage errors).
 */
#pragma once

#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>

#include "cmd/client.h"
#include "cmd/client_http.h"
#include "core/base/error.h"

#define DEFAULT_TIMEOUT_MS 60000L

enum {
        OPT_PASSWORD_FILE = 0x100,
        OPT_TIMEOUT,
        CLI_OPT_FIRST_OWN, /* a command's own long options start here */
};

#define COMMON_SHORTOPTS ":g:hu:"
#define COMMON_LONGOPTS                                                        \
        { "gateway", required_argument, NULL, 'g' },                           \
        { "user", required_argument, NULL, 'u' },                              \
        { "password-file", required_argument, NULL, OPT_PASSWORD_FILE },       \
        { "timeout", required_argument, NULL, OPT_TIMEOUT },                   \
        { "help", no_argument, NULL, 'h' }

#define COMMON_HELP                                                                                \
        "  -g, --gateway URL         gateway (default $OPENFAAS_URL, else " CLIENT_DEFAULT_GATEWAY ")\n" \
        "  -u, --user USER           admin, or a tenant's name (default $SFAASD_USER, else admin)\n"   \
        "      --password-file FILE  the user's password or token (default $SFAASD_PASSWORD, else none)\n" \
        "      --timeout DURATION    whole request, e.g. 30s, 2m, 0 for none (default 60s)\n"          \
        "  -h, --help                show this help\n"

struct common {
        const char *gateway;
        const char *user;
        const char *password_file;
        long timeout_ms;
};

int usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Handle what getopt_long() returned when it is shared by every command.
 * Returns 1 when handled, 0 when the command must handle c, or minus an
 * exit code (-2) after printing a usage error; help is printed by the caller. */
int common_option(struct common *co, const char *cmd, int c, char **argv);
/* Print why r failed (e's message, else strerror); returns 1. */
int fail(int r, const struct sf_err *e);
/* Report a non-success HTTP answer as one line; returns 1. */
int fail_response(const struct client_response *resp, bool auth, const char *what);
static inline bool is_2xx(long status) { return status >= 200 && status < 300; }
/* Returns 0, or the exit code after printing why not. */
int connect_client(struct client *cl, const struct common *co, bool need_password);
/* Parse JSON of a response, or say the gateway answered nonsense (NULL). */
json_t *parse_answer(const struct client_response *resp, const char *what);
void print_raw_json(const struct client_response *resp);
/* fflush stdout; 0, or 1 after saying why not. */
int flush_stdout(void);
