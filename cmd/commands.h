/* SPDX-License-Identifier: MIT */
/*
 * One function per subcommand, each in its own cmd/<name>.c. argv[0] is the
 * subcommand name. Each returns the process exit code: 0 success, 1 failure
 * (one clear line on stderr), 2 usage error; `run` returns the command's code.
 */
#pragma once

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
int cmd_backup(int argc, char **argv);   /* "backup [--data DIR] DEST" */
