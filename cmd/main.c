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
        { "secret", cmd_secret, "create, list or remove a namespace's secrets" },
        { "tenant", cmd_tenant, "create, list, show or remove tenants (admin)" },
        { "token", cmd_token, "issue, list or revoke a tenant's tokens (admin)" },
        { "key", cmd_key, "issue, list or revoke a tenant's invoke keys" },
        { "audit", cmd_audit, "read the audit trail, or verify its hash chain" },
        { "routes", cmd_routes, "print the route table: who may call each route" },
        { "secrets", cmd_secrets, "secrets rotate-key: re-seal every secret under a new key (daemon stopped)" },
        { "backup", cmd_backup, "backup [--config FILE] DEST: snapshot the database, credentials and secrets key" },
        { "version", cmd_version, "print the version" },
        { "oci", cmd_oci, "the runc command line (create/start/state/kill/delete/...), also as sfaasd-runc" },
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

        const char *base = argc > 0 ? strrchr(argv[0], '/') : NULL;

        /* Installed as a link named sfaasd-runc, it is the OCI runtime: what
         * containerd's runc shim (BinaryName) and Podman (--runtime) exec. */
        base = base ? base + 1 : argc > 0 ? argv[0] : "";
        if (strcmp(base, "sfaasd-runc") == 0)
                return cmd_oci(argc, argv);
        if (argc < 2) {
                usage(stderr);
                return EXIT_USAGE;
        }
        if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
                usage(stdout);
                return EXIT_SUCCESS;
        }
        if (strcmp(argv[1], "--version") == 0)
                return cmd_version(argc - 1, argv + 1);
        for (size_t i = 0; i < ELEMENTSOF(commands); i++)
                if (strcmp(argv[1], commands[i].name) == 0)
                        return commands[i].fn(argc - 1, argv + 1);
        fprintf(stderr, "sfaasd: unknown command '%s'\n", argv[1]);
        usage(stderr);
        return EXIT_USAGE;
}
