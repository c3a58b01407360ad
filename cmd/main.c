/* SPDX-License-Identifier: MIT */
/* sfaasd: the command table. No logic here beyond picking the subcommand. */
#include <stdio.h>
#include <string.h>

#include "cmd/commands.h"
#include "core/base/cleanup.h"
#include "core/base/log.h"

struct command {
        const char *name;
        int (*fn)(int argc, char **argv);
        const char *summary;
};

static const struct command commands[] = {
        { "serve", cmd_serve, "run the daemon (HTTP API, registry, sandboxes)" },
        { "run", cmd_run, "run one command in a sandbox: run (--rootfs DIR|--image REF) [opts] -- CMD..." },
        { "check", cmd_check, "report what this host offers for sandboxing" },
        { "deploy", cmd_deploy, "deploy or update a function on a gateway" },
        { "list", cmd_list, "list functions on a gateway" },
        { "invoke", cmd_invoke, "invoke a function (body from stdin)" },
        { "rm", cmd_rm, "remove a function" },
        { "logs", cmd_logs, "print a function's logs (-f to follow)" },
        { "image", cmd_image, "image import FILE [--name NAME:TAG]: import an image archive" },
        { "backup", cmd_backup, "backup [--data DIR] DEST: snapshot the database and secrets, daemon running" },
        { "version", cmd_version, "print the version" },
};

static void usage(FILE *f)
{
        fprintf(f, "usage: sfaasd COMMAND [OPTIONS]\n\ncommands:\n");
        for (size_t i = 0; i < ELEMENTSOF(commands); i++)
                fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
        fprintf(f, "\nrun 'sfaasd COMMAND --help' for a command's options.\n");
}

int main(int argc, char **argv)
{
        log_open();
        if (argc < 2) {
                usage(stderr);
                return 2;
        }
        if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
                usage(stdout);
                return 0;
        }
        if (strcmp(argv[1], "--version") == 0)
                return cmd_version(argc - 1, argv + 1);
        for (size_t i = 0; i < ELEMENTSOF(commands); i++)
                if (strcmp(argv[1], commands[i].name) == 0)
                        return commands[i].fn(argc - 1, argv + 1);
        fprintf(stderr, "sfaasd: unknown command '%s'\n", argv[1]);
        usage(stderr);
        return 2;
}
