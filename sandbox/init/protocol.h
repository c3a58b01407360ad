/* SPDX-License-Identifier: MIT */
/*
 * The contract between the launcher (sandbox/launcher.c, sandbox/child.c)
 * and the sandbox init (sandbox/init/sfaasd-init.c), pid 1 of every sandbox.
 * Freestanding: the init includes this header without any libc.
 *
 * How a sandbox starts:
 *
 *   launcher child (CLONE_VM, daemon memory)      ... mounts, ids, caps,
 *       no_new_privs, fds 3 and 4 placed, seccomp,
 *       execveat(init memfd, "", argv, envp, AT_EMPTY_PATH)
 *   init (pid 1, its own small memory)
 *       fork -> child: setsid, empty signal mask, execve(function)
 *       init: closes 0..3, waits for signals and children
 *
 * argv of the init: SB_INIT_ARGV0, the candidate paths of the function's
 * executable (each contains a '/'; the launcher resolved PATH before the
 * clone), SB_INIT_SEP, then the function's argv as given. envp is the
 * function's environment, passed through untouched.
 *
 * fds the init inherits (every other one is closed on exec):
 *   0..2                  the function's stdio; the init closes its copies
 *                         once the function is forked, so the function is
 *                         the only holder, as it was when it was pid 1
 *   SB_INIT_REPORT_FD     write end of the launcher's start-report pipe:
 *                         EOF (every copy closed) once the function has
 *                         been exec'd, a struct sb_child_error when a step
 *                         failed (fork: SB_STEP_INIT_FORK, the function's
 *                         execve: SB_STEP_EXEC, both with the errno). The
 *                         init makes it close-on-exec before it forks, so
 *                         the function's exec closes the child's copy.
 *   SB_INIT_STATUS_FD     write end of the exit-status pipe: just before it
 *                         exits, the init writes one struct sb_init_status
 *                         with the function's raw wait status. Close-on-exec
 *                         too: the function never holds it.
 *   SB_INIT_GATE_FD       gated inits only (SB_INIT_ARGV0_GATED): the start
 *                         gate, closed before the function is forked. For
 *                         a parked init (SB_INIT_ARGV0_CALL) the call
 *                         socket, closed the same way.
 *
 * A function whose fd 0 is a terminal (OCI process.terminal: a pty made
 * for this sandbox; the launcher refuses any other terminal) gets it as
 * its controlling terminal after its setsid().
 *
 * Why a status record and not the init's exit code alone: the init exits
 * with the function's code, or 128+N when a signal N killed it (as a shell
 * reports it), so "exit 137" and "killed by SIGKILL" look the same from
 * outside. The record carries the wait status itself; sandbox_reap() returns
 * it, so callers see what they saw when the function was pid 1. No record
 * (the daemon or the kernel killed the init itself: sandbox_kill, the OOM
 * killer, a cgroup kill) leaves the init's own wait status, which is then
 * "killed by SIGKILL" as before.
 */
#pragma once

#include <stdint.h>

#define SB_INIT_ARGV0 "sfaasd-init"
/* argv[0] of an init that waits at the start gate (sandbox_spec.gated):
 * before it forks the function it checks that one of the candidate paths
 * is executable (else it reports SB_STEP_EXEC with ENOENT or EACCES),
 * writes a struct sb_child_error with step SB_STEP_READY on
 * SB_INIT_REPORT_FD, closes that fd, and waits for one byte on
 * SB_INIT_GATE_FD. A terminating signal (SIGTERM, SIGINT, SIGHUP, SIGQUIT)
 * that arrives first ends it as if the function had been killed by it.
 * Start failures after the gate (the function's execve) are then only an
 * exit status: 127. */
#define SB_INIT_ARGV0_GATED "sfaasd-init+gate"
#define SB_INIT_GATE_FD 5
/* argv[0] of an init parked for one call (sandbox_spec.parked, the exec
 * stock): as a gated one it checks the executable, writes SB_STEP_READY
 * and waits, but on SB_INIT_GATE_FD, a SOCK_SEQPACKET socket, for ONE call
 * message: a struct sb_call_head, then env_bytes of "KEY=VALUE\0" strings
 * (env_count of them, nothing after the last NUL), in one datagram of at
 * most SB_CALL_MAX bytes, with exactly three fds (SCM_RIGHTS): the
 * function's stdin, stdout and stderr. The init puts them at 0..2, closes
 * the socket and forks the function with that environment instead of its
 * own (argv stays the one it was started with). Unlike a gated init it
 * keeps SB_INIT_REPORT_FD until the fork, so a failure after the call came
 * (SB_STEP_CALL for a malformed message, the fork, the function's execve)
 * is still reported as {step, errno}, read by the launcher once the
 * sandbox has ended (sandbox_start_error). EOF on the socket (the daemon
 * dropped the parked sandbox) ends the init with 127; so does a
 * terminating signal before the call. */
#define SB_INIT_ARGV0_CALL "sfaasd-init+call"
#define SB_CALL_MAGIC 0x6c6c6163u /* "call" */
#define SB_CALL_MAX (128u * 1024u)
#define SB_CALL_ENV_MAX 4096u
#define SB_INIT_SEP "--"
#define SB_INIT_REPORT_FD 3
#define SB_INIT_STATUS_FD 4
#define SB_INIT_STATUS_MAGIC 0x74696e69u /* "init" */

/* Steps the child (and the init) report on failure, as {step, errno} over
 * the report pipe. */
enum sb_step {
        SB_STEP_NONE = 0,
        SB_STEP_SIGNALS,
        SB_STEP_SYNC,
        SB_STEP_CGROUP_JOIN,
        SB_STEP_CGROUPNS,
        SB_STEP_PROPAGATION,
        SB_STEP_ROOTFS_ATTACH,
        SB_STEP_PROC,
        SB_STEP_PROC_LIMIT_USERNS,
        SB_STEP_PROC_MASK,
        SB_STEP_PROC_READONLY,
        SB_STEP_DEV,
        SB_STEP_DEV_NODE,
        SB_STEP_DEV_SHM,
        SB_STEP_TMP,
        SB_STEP_BIND,
        SB_STEP_HOSTNAME,
        SB_STEP_LOOPBACK,
        SB_STEP_PIVOT_ROOT,
        SB_STEP_WORKDIR,
        SB_STEP_SETSID,
        SB_STEP_STDIO,
        SB_STEP_RLIMITS,
        SB_STEP_CAP_BOUNDING,
        SB_STEP_CAP_AMBIENT,
        SB_STEP_SECUREBITS,
        SB_STEP_SETGROUPS,
        SB_STEP_SETUID,
        SB_STEP_CAPSET,
        SB_STEP_NO_NEW_PRIVS,
        SB_STEP_CHDIR,
        SB_STEP_CLOSE_FDS,
        SB_STEP_INIT_FDS,     /* the report and status pipes at fds 3 and 4 */
        SB_STEP_SIGMASK,
        SB_STEP_SECCOMP,
        SB_STEP_INIT_EXEC,    /* execveat of the init */
        SB_STEP_INIT_ARGS,    /* the init was given a malformed argv */
        SB_STEP_INIT_FORK,    /* the init could not fork the function */
        SB_STEP_EXEC,         /* execve of the function (by the init's child) */
        SB_STEP_SYSCTL,       /* a sysctl of the spec */
        SB_STEP_MOUNT,        /* a mount of the spec (sandbox_spec.mounts) */
        SB_STEP_ROOTFS_READONLY,
        SB_STEP_UMASK,
        SB_STEP_GATE,         /* the init's wait at the start gate */
        SB_STEP_READY,        /* not a failure: the gated init waits (err 0) */
        SB_STEP_CALL,         /* a parked init got a malformed call message */
        SB_STEP_MAX_,
};

struct sb_child_error {
        int32_t step;
        int32_t err;   /* positive errno */
};

/* Head of the call message of a parked init (SB_INIT_ARGV0_CALL). */
struct sb_call_head {
        uint32_t magic;        /* SB_CALL_MAGIC */
        uint32_t env_count;    /* strings, at most SB_CALL_ENV_MAX */
        uint32_t env_bytes;    /* what follows the head, NULs included */
        uint32_t reserved;     /* 0 */
};

struct sb_init_status {
        uint32_t magic;        /* SB_INIT_STATUS_MAGIC */
        int32_t wait_status;   /* the function's, as wait4() gave it */
};
