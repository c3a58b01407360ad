/* SPDX-License-Identifier: MIT */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd/commands.h"
#include "core/base/log.h"
#include "core/base/util.h"
#include "core/sfaasd.h"
#include "core/daemon/config.h"
#include "core/daemon/daemon.h"

static void serve_usage(FILE *f)
{
        fprintf(f, "usage: sfaasd serve [--listen ADDR:PORT] [--data DIR] [--config FILE] [--print-config]\n"
                   "                    [--tls-cert FILE --tls-key FILE [--tls-listen ADDR:PORT]]\n"
                   "                    [--log-level error|warning|info|debug]\n\n"
                   "  --listen ADDR:PORT  plain HTTP on this address (default 127.0.0.1:8080; \"\" for none)\n"
                   "  --tls-cert FILE     HTTPS with this certificate (PEM chain, leaf first) ...\n"
                   "  --tls-key FILE      ... and this key (PEM); SIGHUP reloads both\n"
                   "  --tls-listen ADDR:PORT  address of HTTPS (default 0.0.0.0:8443 when a pair is given)\n"
                   "  --secrets-key FILE  the key sealing secrets, outside the data folder (default: beside it,\n"
                   "                      DATA.secrets-key; a systemd credential 'secrets-key' wins)\n"
                   "  --data DIR          state folder (default ./.sfaasd-data; the service uses /var/lib/sfaasd)\n"
                   "  --config FILE       JSON configuration; command-line options win over it\n"
                   "  --print-config      print the effective configuration and exit\n");
}

int cmd_serve(int argc, char **argv)
{
        static const struct option opts[] = {
                { "listen", required_argument, NULL, 'l' }, { "data", required_argument, NULL, 'd' },
                { "config", required_argument, NULL, 'c' }, { "print-config", no_argument, NULL, 'p' },
                { "log-level", required_argument, NULL, 'v' }, { "help", no_argument, NULL, 'h' },
                { "tls-cert", required_argument, NULL, 'C' }, { "tls-key", required_argument, NULL, 'K' },
                { "tls-listen", required_argument, NULL, 'L' }, { "secrets-key", required_argument, NULL, 'S' },
                { NULL, 0, NULL, 0 },
        };
        struct sfaasd_config cfg;
        const char *listen = NULL, *data = NULL, *config = NULL, *tls_cert = NULL, *tls_key = NULL,
                   *tls_listen = NULL, *secrets_key = NULL;
        bool print = false;
        int c;

        config_defaults(&cfg);
        log_set_timestamps(1);
        while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
                switch (c) {
                case 'l': listen = optarg; break;
                case 'd': data = optarg; break;
                case 'c': config = optarg; break;
                case 'p': print = true; break;
                case 'C': tls_cert = optarg; break;
                case 'K': tls_key = optarg; break;
                case 'L': tls_listen = optarg; break;
                case 'S': secrets_key = optarg; break;
                case 'v':
                        if (strcmp(optarg, "debug") == 0)
                                log_set_level(LOG_DEBUG);
                        else if (strcmp(optarg, "info") == 0)
                                log_set_level(LOG_INFO);
                        else if (strcmp(optarg, "warning") == 0)
                                log_set_level(LOG_WARNING);
                        else if (strcmp(optarg, "error") == 0)
                                log_set_level(LOG_ERR);
                        else {
                                fprintf(stderr, "sfaasd serve: unknown log level '%s'\n", optarg);
                                return EXIT_USAGE;
                        }
                        break;
                case 'h': serve_usage(stdout); return EXIT_SUCCESS;
                default: serve_usage(stderr); return EXIT_USAGE;
                }
        }
        if (optind < argc) {
                fprintf(stderr, "sfaasd serve: unexpected argument '%s'\n", argv[optind]);
                return EXIT_USAGE;
        }
        if (config) {
                struct sf_err err = { 0 };
                if (config_load_file(&cfg, config, &err) < 0) {
                        fprintf(stderr, "sfaasd serve: %s\n", err.msg);
                        return EXIT_FAILURE;
                }
        }
        if (listen && xsnprintf(cfg.listen, sizeof cfg.listen, "%s", listen) < 0) {
                fprintf(stderr, "sfaasd serve: --listen value is too long\n");
                return EXIT_USAGE;
        }
        if ((tls_cert && xsnprintf(cfg.tls_cert, sizeof cfg.tls_cert, "%s", tls_cert) < 0) ||
            (tls_key && xsnprintf(cfg.tls_key, sizeof cfg.tls_key, "%s", tls_key) < 0) ||
            (tls_listen && xsnprintf(cfg.tls_listen, sizeof cfg.tls_listen, "%s", tls_listen) < 0) ||
            (secrets_key && xsnprintf(cfg.secrets_key_file, sizeof cfg.secrets_key_file, "%s", secrets_key) < 0)) {
                fprintf(stderr, "sfaasd serve: a --tls-* value is too long\n");
                return 2;
        }
        if (data && xsnprintf(cfg.data_dir, sizeof cfg.data_dir, "%s", data) < 0) {
                fprintf(stderr, "sfaasd serve: --data value is too long\n");
                return EXIT_USAGE;
        }
        if (print) {
                char *s = config_to_json(&cfg);
                if (!s)
                        return EXIT_FAILURE;
                printf("%s\n", s);
                free(s);
                return EXIT_SUCCESS;
        }
        if (geteuid() != 0) {
                fprintf(stderr, "sfaasd serve: run as root: the daemon creates user namespaces, idmapped mounts and "
                                "cgroups for every sandbox (running as uid %u)\n", (unsigned) geteuid());
                return EXIT_FAILURE;
        }
        return sfaasd_run(&cfg) < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
