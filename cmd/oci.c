/* SPDX-License-Identifier: MIT */
/*
 * sfaasd oci [GLOBAL FLAGS] COMMAND [FLAGS] ID ...   (also: sfaasd-runc ...)
 *
 * The runc command line as containerd's runc shim (io.containerd.runc.v2),
 * Podman's conmon and CRI-O call it, with the sfaasd sandbox underneath:
 * every container gets a user namespace of its own with host root unmapped,
 * no capabilities beyond the safe ones its spec grants (inside that
 * namespace only), no_new_privs, the built-in seccomp allowlist (and the
 * spec's own profile on top of it, never instead), sfaasd's /proc masks, no
 * /sys. A spec that asks for more is refused with the reason; README.md
 * "Beyond one host" lists every field. Global flags: --root DIR (default
 * /run/sfaasd-runc), --log FILE, --log-format text|json, --systemd-cgroup,
 * --debug, --config FILE (the operator's settings, oci_config_load);
 * accepted and ignored: --rootless, --criu. Exit status: 0, or 1
 * with one line on stderr (and in --log), as runc; `run` and `exec` exit
 * with the container process's status.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cmd/commands.h"
#include "cmd/oci.h"
#include "core/base/cleanup.h"

static int unsupported(struct oci_ctx *ctx, int argc, char **argv)
{
        return oci_error(ctx, "'%s' is not supported by sfaasd-runc", argv[0]);
}

struct oci_command {
        const char *name;
        int (*fn)(struct oci_ctx *ctx, int argc, char **argv);
};

static const struct oci_command oci_commands[] = {
        { "create", oci_cmd_create }, { "start", oci_cmd_start },     { "state", oci_cmd_state },
        { "kill", oci_cmd_kill },     { "delete", oci_cmd_delete },   { "run", oci_cmd_run },
        { "exec", oci_cmd_exec },     { "ps", oci_cmd_ps },           { "list", oci_cmd_list },
        { "features", oci_cmd_features },
        /* asked for by engines only when a user asks for them */
        { "pause", unsupported },     { "resume", unsupported },      { "update", unsupported },
        { "checkpoint", unsupported }, { "restore", unsupported },    { "events", unsupported },
};

static void oci_usage(FILE *f)
{
        fprintf(f, "usage: sfaasd-runc [--root DIR] [--log FILE] [--log-format text|json] [--systemd-cgroup]\n"
                   "                   COMMAND [OPTIONS] ID\n\n"
                   "commands: create start state kill delete run exec ps list features\n"
                   "(also: sfaasd oci COMMAND ...). The runc command line on the sfaasd sandbox.\n");
}

static int oci_version(void)
{
        printf("sfaasd-runc version %s\ncommit: %s\nspec: %s\n", SFAASD_VERSION, SFAASD_GIT_SHA, OCI_VERSION);
        return 0;
}

int cmd_oci(int argc, char **argv)
{
        static const struct option opts[] = {
                { "root", required_argument, NULL, 'r' },      { "log", required_argument, NULL, 'l' },
                { "log-format", required_argument, NULL, 'f' }, { "systemd-cgroup", no_argument, NULL, 's' },
                { "debug", no_argument, NULL, 'd' },           { "rootless", required_argument, NULL, 'R' },
                { "criu", required_argument, NULL, 'C' },      { "version", no_argument, NULL, 'v' },
                { "help", no_argument, NULL, 'h' },            { "config", required_argument, NULL, 'c' },
                { NULL, 0, NULL, 0 },
        };
        struct oci_ctx ctx = { .root = OCI_DEFAULT_ROOT };
        int c;

        optind = 1;
        opterr = 0;
        while ((c = getopt_long(argc, argv, "+vh", opts, NULL)) != -1) {
                switch (c) {
                case 'r': ctx.root = optarg; break;
                case 'l': ctx.log_path = optarg; break;
                case 'f':
                        if (strcmp(optarg, "json") != 0 && strcmp(optarg, "text") != 0)
                                return oci_error(&ctx, "bad --log-format '%s' (text or json)", optarg);
                        ctx.log_json = strcmp(optarg, "json") == 0;
                        break;
                case 's': ctx.systemd_cgroup = true; break;
                case 'd': ctx.debug = true; break;
                case 'c': ctx.config = optarg; break;
                case 'R':
                case 'C': break;
                case 'v': return oci_version();
                case 'h': oci_usage(stdout); return 0;
                default: oci_usage(stderr); return OCI_EXIT_USAGE;
                }
        }
        if (optind >= argc) {
                oci_usage(stderr);
                return OCI_EXIT_USAGE;
        }
        if (ctx.root[0] != '/')
                return oci_error(&ctx, "--root '%s' must be absolute", ctx.root);
        ctx.command = argv[optind];
        for (size_t i = 0; i < ELEMENTSOF(oci_commands); i++)
                if (strcmp(argv[optind], oci_commands[i].name) == 0)
                        return oci_commands[i].fn(&ctx, argc - optind, argv + optind);
        if (strcmp(argv[optind], "version") == 0)
                return oci_version();
        oci_usage(stderr);
        return oci_error(&ctx, "unknown command '%s'", argv[optind]);
}
