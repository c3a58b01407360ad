/* SPDX-License-Identifier: MIT */
/* sfaasd secrets rotate-key: re-seal every secret under a new key, with the
 * daemon stopped (core/daemon/keys.h). */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/commands.h"
#include "core/base/log.h"
#include "core/base/util.h"
#include "core/daemon/config.h"
#include "core/daemon/datadir.h"
#include "core/daemon/keys.h"
#include "core/sfaasd.h"
#include "store/db.h"
#include "store/secrets.h"

static void secrets_usage(FILE *f)
{
        fprintf(f, "usage: sfaasd secrets rotate-key [--config FILE] [--data DIR] [--secrets-key FILE] [--out FILE]\n\n"
                   "Re-seal every stored secret under a new random key, in one transaction, and replace the key\n"
                   "file with it (a copy of the old key then opens nothing). The daemon must be stopped.\n\n"
                   "  --config FILE       the daemon's configuration (data folder, secrets_key_file)\n"
                   "  --data DIR          the data folder (default from the config, else ./.sfaasd-data)\n"
                   "  --secrets-key FILE  the key file (default from the config, else beside the data folder)\n"
                   "  --out FILE          write the new key here instead (needed when the key is a systemd\n"
                   "                      credential: then make FILE the credential)\n");
}

int cmd_secrets(int argc, char **argv)
{
        static const struct option opts[] = {
                { "config", required_argument, NULL, 'c' }, { "data", required_argument, NULL, 'd' },
                { "secrets-key", required_argument, NULL, 'k' }, { "out", required_argument, NULL, 'o' },
                { "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
        };
        struct sfaasd_config cfg;
        struct datadir dd = { .lock_fd = -1 };
        struct store *store = NULL;
        struct sf_err err = { 0 };
        const char *config = NULL, *data = NULL, *key = NULL, *out = NULL;
        char real[PATH_MAX], dbpath[PATH_MAX + 16], id[9];
        size_t n = 0;
        int c, r;

        if (argc < 2 || strcmp(argv[1], "rotate-key") != 0) {
                if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
                        secrets_usage(stdout);
                        return 0;
                }
                secrets_usage(stderr);
                return 2;
        }
        optind = 2;
        while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
                switch (c) {
                case 'c': config = optarg; break;
                case 'd': data = optarg; break;
                case 'k': key = optarg; break;
                case 'o': out = optarg; break;
                case 'h': secrets_usage(stdout); return 0;
                default: secrets_usage(stderr); return 2;
                }
        }
        config_defaults(&cfg);
        if (config && config_load_file(&cfg, config, &err) < 0) {
                fprintf(stderr, "sfaasd secrets: %s\n", err.msg);
                return 1;
        }
        if ((data && xsnprintf(cfg.data_dir, sizeof cfg.data_dir, "%s", data) < 0) ||
            (key && xsnprintf(cfg.secrets_key_file, sizeof cfg.secrets_key_file, "%s", key) < 0)) {
                fprintf(stderr, "sfaasd secrets: a path is too long\n");
                return 2;
        }
        if (!realpath(cfg.data_dir, real)) {
                fprintf(stderr, "sfaasd secrets: cannot find the data folder '%s': %s\n", cfg.data_dir,
                        strerror(errno));
                return 1;
        }
        (void) xsnprintf(cfg.data_dir, sizeof cfg.data_dir, "%s", real);
        /* The daemon holds this lock while it runs: rotate only without it. */
        r = datadir_open(real, &dd, &err);
        if (r < 0) {
                fprintf(stderr, "sfaasd secrets: %s%s\n", err.msg,
                        r == -EBUSY ? ": stop the daemon first, then rotate" : "");
                return 1;
        }
        (void) xsnprintf(dbpath, sizeof dbpath, "%s/sfaasd.db", real);
        r = store_open(dbpath, &store, &err);
        if (r >= 0)
                r = keys_rotate(&cfg, store, out, &n, id, &err);
        if (r < 0)
                fprintf(stderr, "sfaasd secrets: %s\n", err.msg[0] ? err.msg : strerror(-r));
        else
                printf("re-sealed %zu secret(s) under a new key (id %s)%s%s%s\n", n, id, out ? " written to '" : "",
                       out ? out : "", out ? "'" : "");
        store_close(store);
        datadir_close(&dd);
        return r < 0 ? 1 : 0;
}
