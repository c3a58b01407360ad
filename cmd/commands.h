/* SPDX-License-Identifier: MIT */
/*
 * One function per subcommand, each in its own cmd/<name>.c. argv[0] is the
 * subcommand name. Each returns the process exit code: 0 success, 1 failure
 * (one clear line on stderr), 2 usage error; `run` returns the command's code.
 *
 * These functions are the boundary where exit codes are made: the steps
 * they call return >= 0 or -errno like every other function, having said
 * why on stderr where a person needs to know, and the command maps the step
 * that failed to its exit code.
 */
#pragma once

#include <stdlib.h> /* EXIT_SUCCESS, EXIT_FAILURE */

#define EXIT_USAGE 2 /* a bad option or argument (as crun and docker) */

int cmd_serve(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_deploy(int argc, char **argv);
int cmd_list(int argc, char **argv);
int cmd_invoke(int argc, char **argv);
int cmd_rm(int argc, char **argv);
int cmd_image(int argc, char **argv);   /* "image import FILE [--name REF]" */
int cmd_logs(int argc, char **argv);
int cmd_version(int argc, char **argv);
int cmd_tenant(int argc, char **argv);  /* "tenant create|list|show|rm" (cmd/client_tenant.c) */
int cmd_token(int argc, char **argv);   /* "token create|list|revoke" */
int cmd_key(int argc, char **argv);     /* "key create|list|revoke": invoke keys */
int cmd_secret(int argc, char **argv);  /* "secret create|list|rm" */
int cmd_routes(int argc, char **argv);  /* the route table and its policies */
int cmd_audit(int argc, char **argv);   /* "audit [list]|verify" */
int cmd_secrets(int argc, char **argv); /* "secrets rotate-key" */
/* sfaasd oci ... (cmd/oci.c): the runc command line; also argv[0] "sfaasd-runc". */
int cmd_oci(int argc, char **argv);
int cmd_backup(int argc, char **argv);   /* "backup [--data DIR] DEST" */
