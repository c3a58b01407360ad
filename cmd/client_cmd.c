/* SPDX-License-Identifier: MIT */
/* The steps every client subcommand shares; see cmd/client_cmd.h. */
#include "cmd/client_cmd.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/commands.h"
#include "core/base/cleanup.h"
#include "core/base/util.h"

#define TIMEOUT_MAX_MS (24ULL * 3600 * 1000) /* --timeout */

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
        va_list ap;

        fprintf(stderr, "sfaasd: %s: ", cmd);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fprintf(stderr, " (see 'sfaasd %s --help')\n", cmd);
        return -EINVAL;
}

int cli_args_exit(int r)
{
        if (r >= 0)
                return EXIT_SUCCESS;
        return r == -EINVAL ? EXIT_USAGE : EXIT_FAILURE;
}

int cli_common_option(struct common *co, const char *cmd, int c, char **argv)
{
        uint64_t ms;

        switch (c) {
        case 'g':
                co->gateway = optarg;
                return 0;
        case 'u':
                co->user = optarg;
                return 0;
        case OPT_CACERT:
                co->cacert = optarg;
                return 0;
        case OPT_TLS_PIN:
                co->tls_pin = optarg;
                return 0;
        case OPT_PASSWORD_FILE:
                co->password_file = optarg;
                return 0;
        case OPT_TIMEOUT:
                if (parse_duration_ms(optarg, &ms) < 0 || ms > TIMEOUT_MAX_MS)
                        return cli_usage_error(cmd, "invalid timeout '%s': use e.g. 30s or 2m", optarg);
                co->timeout_ms = (long) ms;
                return 0;
        case ':':
                return cli_usage_error(cmd, "option '%s' needs a value", argv[optind - 1]);
        case '?':
                if (optopt)
                        return cli_usage_error(cmd, "unknown option '-%c'", optopt);
                return cli_usage_error(cmd, "unknown option '%s'", argv[optind - 1]);
        default:
                return cli_usage_error(cmd, "unexpected option");
        }
}

int cli_fail(int r, const struct sf_err *e)
{
        if (e && e->msg[0])
                fprintf(stderr, "sfaasd: %s\n", e->msg);
        else
                fprintf(stderr, "sfaasd: %s\n", strerror(-r));
        return r;
}

int cli_fail_response(const struct client_response *resp, bool auth, const char *what)
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

int cli_gateway_check(const struct common *co)
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
                return cli_fail(r, &e);
        return 0;
}

int cli_connect(struct client *cl, const struct common *co, bool need_password)
{
        struct sf_err e = {};
        int r;

        r = client_init(cl, co->gateway, co->user, co->password_file, need_password, co->timeout_ms, &e);
        if (r >= 0)
                r = client_set_tls(cl, co->cacert, co->tls_pin, &e);
        if (r < 0)
                return cli_fail(r, &e);
        return 0;
}

int cli_parse_answer(const struct client_response *resp, const char *what, json_t **ret)
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

int cli_parse_array_answer(const struct client_response *resp, const char *what, json_t **ret)
{
        _cleanup_(json_decrefp) json_t *j = NULL;
        int r;

        r = cli_parse_answer(resp, what, &j);
        if (r < 0)
                return r;
        if (!json_is_array(j)) {
                fprintf(stderr, "sfaasd: %s: the gateway's answer is not a JSON array\n", what);
                return -EBADMSG;
        }
        *ret = TAKE_PTR(j);
        return 0;
}

const char *cli_str_or(json_t *o, const char *key, const char *dflt)
{
        const char *s = json_string_value(json_object_get(o, key));
        return s ? s : dflt;
}

void cli_print_raw_json(const struct client_response *resp)
{
        (void) fwrite(resp->body, 1, resp->len, stdout);
        if (resp->len == 0 || resp->body[resp->len - 1] != '\n')
                putchar('\n');
}

int cli_flush_stdout(void)
{
        int r;

        if (fflush(stdout) != 0 || ferror(stdout)) {
                r = errno > 0 ? -errno : -EIO;
                fprintf(stderr, "sfaasd: cannot write to standard output: %s\n", strerror(-r));
                return r;
        }
        return 0;
}
