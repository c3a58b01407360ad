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

static void serve_usage(FILE *f)
{
        fprintf(f, "usage: sfaasd serve [--listen ADDR:PORT] [--data DIR] [--config FILE] [--print-config]\n"
                   "                    [--log-level error|warning|info|debug]\n\n"
                   "  --listen ADDR:PORT  address to serve on (default 127.0.0.1:8080)\n"
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
                { NULL, 0, NULL, 0 },
        };
        struct sfaasd_config cfg;
        const char *listen = NULL, *data = NULL, *config = NULL;
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
                                return 2;
                        }
                        break;
                case 'h': serve_usage(stdout); return 0;
                default: serve_usage(stderr); return 2;
                }
        }
        if (optind < argc) {
                fprintf(stderr, "sfaasd serve: unexpected argument '%s'\n", argv[optind]);
                return 2;
        }
        if (config) {
                struct sf_err err = { 0 };
                if (config_load_file(&cfg, config, &err) < 0) {
                        fprintf(stderr, "sfaasd serve: %s\n", err.msg);
                        return 1;
                }
        }
        if (listen && xsnprintf(cfg.listen, sizeof cfg.listen, "%s", listen) < 0) {
                fprintf(stderr, "sfaasd serve: --listen value is too long\n");
                return 2;
        }
        if (data && xsnprintf(cfg.data_dir, sizeof cfg.data_dir, "%s", data) < 0) {
                fprintf(stderr, "sfaasd serve: --data value is too long\n");
                return 2;
        }
        if (print) {
                char *s = config_to_json(&cfg);
                if (!s)
                        return 1;
                printf("%s\n", s);
                free(s);
                return 0;
        }
        if (geteuid() != 0) {
                fprintf(stderr, "sfaasd serve: run as root: the daemon creates user namespaces, idmapped mounts and "
                                "cgroups for every sandbox (running as uid %u)\n", (unsigned) geteuid());
                return 1;
        }
        return sfaasd_run(&cfg) < 0 ? 1 : 0;
}
