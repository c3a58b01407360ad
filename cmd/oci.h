/* SPDX-License-Identifier: MIT */
/*
 * sfaasd oci (also run as sfaasd-runc): the runc command-line contract on
 * top of the sandbox launcher, private to cmd/oci*.c.
 *
 *   oci.c          global flags, the subcommand table, main
 *   oci_util.c     errors and --log, the operator's config, signal names,
 *                  the console socket, pid files (uses no other oci file)
 *   oci_spec.c     config.json and process.json -> struct sandbox_spec,
 *                  with the policy: what is honoured, narrowed, refused
 *   oci_seccomp.c  the spec's own seccomp profile, compiled to a second
 *                  filter stacked on the built-in one
 *   oci_state.c    the state folder of a container, its status, uid ranges
 *   oci_create.c   create, start, run
 *   oci_cmds.c     state, kill, delete, exec, ps, list, features
 *
 * Ownership: struct oci_spec owns every string and array it points to and
 * the parsed JSON (released by oci_spec_release); struct oci_state owns its
 * strings and its JSON.
 */
#pragma once

#include <jansson.h>
#include <linux/filter.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/base/error.h"
#include "sandbox/sandbox.h"

#define OCI_DEFAULT_ROOT "/run/sfaasd-runc"
#define OCI_VERSION "1.0.2"
#define OCI_MAX_CONFIG (4u << 20)
#define OCI_MAX_MOUNTS 64
#define OCI_MAX_ENV 4096
#define OCI_MAX_ARGS 4096
#define OCI_MAX_RLIMITS 16
#define OCI_MAX_SYSCTLS 64
#define OCI_EXIT_FAIL 1
#define OCI_EXIT_USAGE 2

/* Global flags, as runc takes them before the subcommand. */
struct oci_ctx {
        const char *root;        /* --root: the folder of state folders */
        const char *log_path;    /* --log: errors are also appended here */
        bool log_json;           /* --log-format json */
        bool systemd_cgroup;     /* --systemd-cgroup: cgroupsPath is "slice:prefix:name" */
        bool debug;
        const char *config;      /* --config FILE (podman: --runtime-flag config=FILE) */
        const char *command;     /* the subcommand, for messages */
};

/* One line to stderr ("sfaasd-runc: MSG") and to --log (a JSON object
 * {"level","msg","time"} with --log-format json, as containerd reads it).
 * Returns OCI_EXIT_FAIL. */
int oci_error(const struct oci_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void oci_warn(const struct oci_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Operator settings, /etc/sfaasd/oci.json (or --config FILE, or
 * $SFAASD_OCI_CONFIG; engines pass no environment through): every key
 * optional. */
struct oci_config {
        uint32_t uid_base;           /* first host uid of the container ranges */
        uint32_t uid_slots;          /* how many 65536-id ranges from there */
        uint64_t memory_bytes;       /* a spec without memory.limit gets this */
        uint64_t pids;               /* ... without pids.limit */
        uint64_t cpu_millis;         /* ... without a cpu quota */
        uint64_t rootfs_bytes;       /* the in-memory upper layer of the rootfs */
        uint64_t tmp_bytes;          /* /tmp */
};
int oci_config_load(const struct oci_ctx *ctx, struct oci_config *ret, struct sf_err *err);

/* A config.json (or an exec's process.json) read and checked. */
struct oci_spec {
        json_t *json;                /* the whole document */
        struct sandbox_spec sb;      /* what the launcher gets */
        char *bundle;                /* absolute */
        char *rootfs;                /* absolute */
        char **layers;               /* the rootfs's overlay layers (sandbox_overlay_layers) */
        size_t n_layers;
        char **argv, **envp;
        char *cwd;
        struct sandbox_mount mounts[OCI_MAX_MOUNTS];
        size_t n_mounts;
        uint32_t groups[SANDBOX_MAX_GROUPS];
        struct sandbox_rlimit rlimits[OCI_MAX_RLIMITS];
        const char *sysctls[OCI_MAX_SYSCTLS + 1];
        char *sysctl_buf[OCI_MAX_SYSCTLS];
        size_t n_sysctls;
        char *netns_path;            /* linux.namespaces network path, or NULL */
        char *cgroup_path;           /* the path below each hierarchy's root */
        bool terminal;
        unsigned short rows, cols;   /* consoleSize, 0 = none */
        struct sock_fprog seccomp;   /* the spec's own filter, .filter NULL when none */
};

/* Read BUNDLE/config.json and map it to a sandbox spec (sb.rootfs, argv,
 * limits, mounts, ...); id names the default cgroup. Refusals come back as
 * -EPERM with the reason in err. The caller fills in uid_base, stdio. */
int oci_spec_load(const struct oci_ctx *ctx, const struct oci_config *cfg, const char *bundle, const char *id,
                  struct oci_spec *ret, struct sf_err *err);
/* An exec's process object (a process.json): argv, env, cwd, user,
 * capabilities, rlimits, terminal into ret (its json/sb fields only). */
int oci_process_load(json_t *process, struct oci_spec *ret, struct sf_err *err);
void oci_spec_release(struct oci_spec *s);

/* oci_seccomp.c: compile linux.seccomp (never NULL) into ret->filter
 * (malloc'd). Refuses what would need an agent (SCMP_ACT_NOTIFY). */
int oci_seccomp_compile(json_t *seccomp, struct sock_fprog *ret, struct sf_err *err);

/* A container's state folder, ROOT/ID, and what it records. */
enum oci_status { OCI_CREATED, OCI_RUNNING, OCI_STOPPED };
struct oci_state {
        char *id;
        int dir_fd;                  /* ROOT/ID, locked (flock) while we hold it */
        json_t *json;                /* state.json */
        pid_t pid;                   /* the sandbox init's host pid */
        uint64_t pid_start;          /* its start time (/proc/PID/stat), against pid reuse */
        const char *bundle, *rootfs, *cgroup_path, *created;
        enum oci_status status;
        int pidfd;                   /* a pidfd of the init while it lives, else -1 */
};
/* A container id runc would take: [A-Za-z0-9_+.-]{1,1024}, not "." or "..". */
bool oci_id_valid(const char *id);
/* Open and lock ROOT/ID and read its state: -ENOENT when there is no such
 * container (err says "container does not exist"). */
int oci_state_open(const struct oci_ctx *ctx, const char *id, struct oci_state *ret, struct sf_err *err);
void oci_state_release(struct oci_state *st);
const char *oci_status_name(enum oci_status s);
/* ROOT made if missing (0700); ROOT/ID made (-EEXIST when taken), locked. */
int oci_state_make(const struct oci_ctx *ctx, const char *id, int *ret_dir_fd, struct sf_err *err);
/* Write ROOT/ID/state.json atomically. */
int oci_state_write(int dir_fd, json_t *state, struct sf_err *err);
/* Remove ROOT/ID (after the container is gone). */
int oci_state_remove(const struct oci_ctx *ctx, const char *id, int dir_fd);
/* The state JSON as runc prints it (`state`, and on a hook's stdin). */
json_t *oci_state_public(const struct oci_state *st);
/* The start time of pid (field 22 of /proc/PID/stat); -ESRCH when gone or
 * a zombie. */
int oci_pid_start(pid_t pid, uint64_t *ret);

/* A host uid range of its own for a container: slot files in
 * OCI_UID_DIR name their container's state folder; a slot whose folder is
 * gone is free again. */
#define OCI_UID_DIR SANDBOX_OCI_UID_DIR /* sandbox/sandbox.h says who reads it */
int oci_uid_alloc(const struct oci_config *cfg, const char *state_path, uint32_t *ret_base, struct sf_err *err);
void oci_uid_free(const struct oci_config *cfg, uint32_t base);

/* Host hooks of the spec (prestart, createRuntime, poststart, poststop),
 * each run with the state JSON on stdin. */
int oci_run_hooks(const struct oci_ctx *ctx, json_t *config, const char *kind, json_t *state, struct sf_err *err);

/* Subcommands; argv[0] is the subcommand's name. */
int oci_cmd_create(struct oci_ctx *ctx, int argc, char **argv);
int oci_cmd_run(struct oci_ctx *ctx, int argc, char **argv);
int oci_cmd_start(struct oci_ctx *ctx, int argc, char **argv);
int oci_cmd_state(struct oci_ctx *ctx, int argc, char **argv);
int oci_cmd_kill(struct oci_ctx *ctx, int argc, char **argv);
int oci_cmd_delete(struct oci_ctx *ctx, int argc, char **argv);
int oci_cmd_exec(struct oci_ctx *ctx, int argc, char **argv);
int oci_cmd_ps(struct oci_ctx *ctx, int argc, char **argv);
int oci_cmd_list(struct oci_ctx *ctx, int argc, char **argv);
int oci_cmd_features(struct oci_ctx *ctx, int argc, char **argv);

/* Block the signals a foreground run or exec passes on to the container
 * (TERM, INT, HUP, QUIT, USR1, USR2, WINCH) and return a non-blocking
 * signalfd that reads them; -1 when none could be made (they stay blocked). */
int oci_forward_signals(void);
/* A signal by name ("TERM", "SIGTERM") or number; -EINVAL otherwise. */
int oci_parse_signal(const char *s);
/* Make a pty pair on the host's devpts, send the master to the unix
 * socket at path (SCM_RIGHTS, as runc's --console-socket), return the
 * slave (O_NOCTTY) with the window size set when rows/cols are given. */
int oci_console(const char *socket_path, unsigned short rows, unsigned short cols, int *ret_slave, struct sf_err *err);
/* Write a pid file atomically (tmp + rename), as runc does. */
int oci_write_pid_file(const char *path, pid_t pid, struct sf_err *err);
