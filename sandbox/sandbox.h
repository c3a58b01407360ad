/* SPDX-License-Identifier: MIT */
/*
 * The sandbox launcher. Knows nothing of HTTP or SQL; includes only the core
 * base (core/base/). Used by the daemon (exec and, later, http mode) and by
 * the one-shot `sfaasd run` command.
 *
 * Lifecycle:
 *   sandbox_launcher_new()   once at start: checks that the seccomp program
 *                            built in at build time is for this architecture,
 *                            finds the cgroup hierarchy (v1 or v2), removes
 *                            the subtrees of dead launchers and creates the
 *                            launcher's own cgroup subtree under the
 *                            caller's cgroup (names and cleanup: below).
 *   sandbox_spawn()          per sandbox: clone into fresh namespaces, apply
 *                            the whole default policy, exec the sandbox init
 *                            (pid 1: sandbox/init/), which execs the command.
 *                            Returns only when the command has been exec'd
 *                            (>= 0) or the start failed (< 0, err names the
 *                            step and the errno). Never half-protected.
 *   sandbox_pidfd()          poll it (uv_poll / poll) for exit. The pid and
 *                            pidfd are the init's: a signal sent there that a
 *                            supervisor uses (SIGTERM, SIGINT, SIGHUP,
 *                            SIGQUIT, SIGUSR1/2, SIGWINCH, SIGCONT) is passed
 *                            on to the command; the init ends when the
 *                            command does, and sandbox_reap() reports the
 *                            command's own wait status.
 *   sandbox_kill()           SIGKILL every process of the sandbox.
 *   sandbox_reap()           collect the exit status once the pidfd is readable.
 *   sandbox_free()           kill if still running, reap, remove the cgroup.
 *   sandbox_group_usage()    CPU and memory the kernel accounts to a group.
 *   sandbox_group_remove()   remove a group nothing runs in any more.
 *   sandbox_launcher_free()  remove the launcher's cgroup subtree and its
 *                            lock file.
 *
 * Ownership: the caller owns the fds it passes in spec->stdio[]; spawn does
 * not close them (the caller closes its copies of the child ends after
 * sandbox_spawn returns). struct sandbox owns its pidfd and cgroup.
 *
 * Parked sandboxes (spec->parked, the daemon's exec stock): made up to the
 * last step, each waits for exactly one call, which sandbox_hand_call()
 * gives it (environment and stdio); only then does its init fork and exec
 * the command. The policy is the same as for any spawn: everything,
 * seccomp included, is in place before the init runs at all.
 *
 * Threading: the launcher's own state is behind a mutex, so sandbox_spawn,
 * sandbox_netns_new and the sandbox_group_* calls may come from several
 * threads (the daemon spawns from the loop thread and parks sandboxes from
 * a thread of its own). A struct sandbox is used by one thread at a time.
 * The parent-death signal of a sandbox is tied to the THREAD that spawned
 * it (prctl(2) PR_SET_PDEATHSIG): that thread must outlive the sandbox.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "../core/base/error.h"

#define SANDBOX_UID_COUNT 65536u

/* The one table of a sandbox's default limits: the launcher fills in what a
 * spec leaves 0 with these, and the daemon's configuration starts from them
 * (core/daemon/config.c: function_memory, function_pids, ...). */
#define SANDBOX_DEFAULT_MEMORY_BYTES (128ULL << 20)
#define SANDBOX_DEFAULT_PIDS 64
#define SANDBOX_DEFAULT_CPU_MILLIS 1000
#define SANDBOX_DEFAULT_TMPFS_BYTES (64ULL << 20)
#define SANDBOX_DEFAULT_TMPFS_INODES 4096
#define SANDBOX_DEFAULT_NOFILE 1024
#define SANDBOX_SHM_MAX_BYTES (64ULL << 20) /* /dev/shm: the tmpfs size, at most this */

struct sandbox_limits {
        uint64_t memory_bytes;   /* cgroup memory limit; 0 = SANDBOX_DEFAULT_MEMORY_BYTES */
        uint64_t pids;           /* cgroup pids.max; 0 = SANDBOX_DEFAULT_PIDS */
        uint64_t cpu_millis;     /* cgroup cpu quota in millicores; 0 = SANDBOX_DEFAULT_CPU_MILLIS */
        uint64_t tmpfs_bytes;    /* size of /tmp; 0 = SANDBOX_DEFAULT_TMPFS_BYTES */
        uint64_t tmpfs_inodes;   /* inodes of /tmp; 0 = SANDBOX_DEFAULT_TMPFS_INODES */
        uint64_t nofile;         /* RLIMIT_NOFILE; 0 = SANDBOX_DEFAULT_NOFILE */
        uint64_t fsize;          /* RLIMIT_FSIZE; 0 = default (= tmpfs size) */
        uint64_t timeout_ms;     /* wall clock, enforced by the caller's loop or
                                    sandbox_wait(); 0 = none */
};

enum sandbox_net {
        SANDBOX_NET_NONE = 0,    /* own netns, loopback only (the default) */
        SANDBOX_NET_GIVEN,       /* born in spec.netns_fd, from sandbox_netns_new():
                                    the caller has made sockets in it (the
                                    egress proxy's listeners) before the spawn */
};

/* A read-only bind mount of a host file or directory into the sandbox
 * (secrets at /var/openfaas/secrets/NAME). dst is created on a tmpfs if
 * needed; src must be absolute. */
struct sandbox_bind {
        const char *src;
        const char *dst;
};

/* A mount asked for by an OCI bundle (sandbox_spec.mounts). Every one is
 * nosuid and nodev. A bind is NOT id-mapped: inside, its files show the
 * host's owners through the sandbox's user namespace (host root's as
 * nobody), and the sandbox writes only where the host lets its
 * unprivileged host uid write. An idmapped bind would let the sandbox's
 * root write host-root-owned (setuid) files into a host folder. */
enum sandbox_mount_type { SANDBOX_MOUNT_BIND = 0, SANDBOX_MOUNT_TMPFS };
struct sandbox_mount {
        enum sandbox_mount_type type;
        const char *src;             /* BIND: absolute host path, a file or a directory */
        const char *dst;             /* absolute, without "." or ".."; made inside the root
                                        when missing, which needs rootfs_writable */
        bool readonly;
        bool noexec;
        bool recursive;              /* BIND: with the mounts below src (rbind) */
        uint64_t tmpfs_bytes;        /* TMPFS: size; 0 = 64 MiB */
        uint32_t tmpfs_mode;         /* TMPFS: mode of its root; 0 = 01777 */
        uint64_t tmpfs_inodes;       /* TMPFS: inodes; 0 = 16384 */
};

/* An rlimit set after the launcher's defaults (sandbox_spec.rlimits). A
 * value above the launcher's own hard limit is lowered to it. */
struct sandbox_rlimit {
        int resource;                /* RLIMIT_* */
        uint64_t cur, max;
};

/* Capabilities a spec may keep inside its user namespace (sandbox_spec.caps,
 * bit 1 << CAP_*): they act only on what that namespace owns (its own files
 * through the id-mapped rootfs, its own processes, ports in its own network
 * namespace). Anything else is refused by sandbox_spawn. */
#define SANDBOX_CAPS_ALLOWED                                                                      \
        ((1ULL << 0) /* CHOWN */ | (1ULL << 1) /* DAC_OVERRIDE */ | (1ULL << 3) /* FOWNER */ |     \
         (1ULL << 4) /* FSETID */ | (1ULL << 5) /* KILL */ | (1ULL << 6) /* SETGID */ |            \
         (1ULL << 7) /* SETUID */ | (1ULL << 8) /* SETPCAP */ | (1ULL << 10) /* NET_BIND_SERVICE */ | \
         (1ULL << 18) /* SYS_CHROOT */ | (1ULL << 31) /* SETFCAP */)

#define SANDBOX_MAX_GROUPS 64

struct sock_fprog;

struct sandbox_spec {
        const char *rootfs;          /* absolute path to the image rootfs (read-only, shared) */
        char *const *argv;           /* argv[0] without '/' is looked up in PATH from envp */
        char *const *envp;           /* complete environment */
        const char *workdir;         /* inside the root; NULL = "/" */
        uint32_t uid, gid;           /* user inside the sandbox (from image User) */
        uint32_t uid_base;           /* host uid/gid that maps to 0 inside; must be > 0
                                        (host root is never mapped) */
        const char *hostname;        /* NULL = "sandbox" */
        const char *name;            /* cgroup leaf name, unique among live sandboxes
                                        ([A-Za-z0-9_.-]+); NULL = generated */
        const char *group;           /* optional cgroup parent below the launcher's
                                        subtree: "NS" (the tenant) or "NS/FUNCTION"
                                        (each level a [A-Za-z0-9_.-]+ name, made on
                                        demand); NULL = none */
        struct sandbox_limits limits;
        enum sandbox_net net;
        int stdio[3];                /* fds dup'ed to 0,1,2 in the child; -1 = /dev/null */
        const struct sandbox_bind *binds;
        size_t n_binds;

        /* For OCI bundles (cmd/oci*). Zero values keep the defaults above. */
        /* The rootfs becomes writable: an overlay of its layers, id-mapped,
         * under an upper directory on a tmpfs of rootfs_upper_bytes (in
         * memory, charged to the sandbox's memory limit, gone when it ends).
         * Nothing is ever written to the rootfs on disk. The layers are
         * rootfs_layers (top first, each a directory; an engine's overlay
         * taken apart with sandbox_overlay_layers), or rootfs itself. */
        bool rootfs_writable;
        const char *const *rootfs_layers;
        size_t n_rootfs_layers;
        uint64_t rootfs_upper_bytes; /* 0 = limits.tmpfs_bytes */
        bool rootfs_readonly;        /* with rootfs_writable: read-only once mounts are made */
        const struct sandbox_mount *mounts;
        size_t n_mounts;
        /* Capabilities inside the user namespace (SANDBOX_CAPS_ALLOWED at
         * most), as runc gives an OCI process its sets: a command running as
         * uid 0 holds caps (the bounding set), any other uid caps_ambient
         * (a subset). 0 = none in any set and securebits locked, the
         * default. */
        uint64_t caps;
        uint64_t caps_ambient;
        const uint32_t *groups;      /* supplementary groups (< 65536); none = gid alone */
        size_t n_groups;
        bool set_umask;
        uint32_t umask;
        const struct sandbox_rlimit *rlimits;
        size_t n_rlimits;
        /* A second seccomp filter, attached after the built-in one: the
         * kernel runs both and takes the stricter answer, so it can only
         * refuse more. It must allow what the sandbox init calls. */
        const struct sock_fprog *extra_seccomp;
        /* "key=value" sysctls of the sandbox's own namespaces (net.*, the
         * IPC ones: sandbox_sysctl_allowed); anything else is refused. */
        const char *const *sysctls;
        size_t n_sysctls;
        /* Run in this network namespace (a container engine's, set up by
         * it) instead of a new loopback-only one. Its net.* sysctls are then
         * written by the launcher, which owns the namespace, not by the
         * sandbox, which has no capability over it. */
        bool join_netns;
        /* The namespace of join_netns or of SANDBOX_NET_GIVEN (the caller's
         * to close); unused otherwise. */
        int netns_fd;
        /* OCI create/start: the init waits for one byte on gate_fd before
         * it starts the command (a terminating signal sent meanwhile ends
         * it); sandbox_spawn returns once it waits, after checking that the
         * command's executable exists. */
        bool gated;
        int gate_fd;
        /* The sandbox may outlive the process that spawned it (OCI create):
         * no parent-death signal; see sandbox_detach(). */
        bool detached;
        /* stdio[] is the slave of a pseudo-terminal made for this sandbox
         * alone (OCI process.terminal), not the caller's terminal: it is
         * allowed as stdio and becomes the command's controlling terminal.
         * TIOCSTI/TIOCLINUX stay refused by seccomp. */
        bool terminal;
        /* Park the sandbox for one call (see the top of this file): the
         * init checks the command's executable, then waits for its call;
         * sandbox_spawn returns once it waits. Its stdio until then are
         * stdio[] (normally -1, /dev/null), replaced by the call's. Not
         * with gated, detached or terminal. */
        bool parked;
};

/*
 * Cgroup subtree names, and the cleanup after a killed launcher.
 *
 * A launcher makes one subtree below its own cgroup in every hierarchy it
 * uses (each v1 controller, or v2), named so that a later start can tell
 * whether the launcher that made it is gone:
 *
 *   sfaasd-<owner id>-<pid>      a daemon: <owner id> identifies its data
 *                                folder (16 hex, core/daemon/datadir.h), whose
 *                                lock the daemon holds for its whole life
 *   sfaasd-run-<pid>-<random>    any other launcher (`sfaasd run`, tests):
 *                                8 random hex, so names never repeat
 *   <name>-daemon                v2 only: the leaf the launcher moved itself
 *                                into (see cgroup.c); goes with <name>
 *
 * and holds the lock file SANDBOX_LOCK_DIR/<name>.lock (flock, core/base/
 * lockfile.h) from before the subtree exists until after it is removed.
 * A lock is released however its holder ends, kill -9 included, and means
 * the same across pid namespaces, where a pid in a name does not.
 *
 * At start, before making its own, a launcher kills whatever still runs in
 * the subtrees below its own cgroup whose launcher is provably gone, and
 * removes them depth-first in every hierarchy, with their lock files:
 *   - with owner_id: every "sfaasd-<owner_id>-<pid>" (any pid, ours too).
 *     The caller holds the data folder's lock, as every daemon that used
 *     the folder did, so none of them is alive;
 *   - any "sfaasd-<id>-<pid>" or "sfaasd-run-<pid>-<r>" whose lock file
 *     exists and is held by nobody (its launcher died; the lock file stays
 *     behind, as a claim ticket, exactly when a launcher did not get to
 *     remove its subtree);
 *   - a daemon's launcher (not one_shot) also "sfaasd-<pid>", the names of
 *     older versions, by their old rule: only when the pid is dead in our
 *     pid namespace and the subtree's processes are provably orphans of it.
 * A name without a lock file (another mount namespace's /run, or no
 * usable lock folder) or with a held one stays, and so does every name
 * that is not one of these. Nothing outside the launcher's own cgroup
 * directories is looked at: a daemon restarted from another cgroup does not
 * find its predecessor's subtree (systemd restarts a unit in the same one).
 */
#define SANDBOX_LOCK_DIR "/run/sfaasd"

/* Host uid windows in use on this host, so that no two users of sandboxes
 * hand out the same ids:
 *   SANDBOX_LOCK_DIR/uids-<id>.claim  a daemon's tenants' window, "START END\n"
 *                                     (END exclusive), flock'ed while it runs
 *                                     (core/daemon/uidrange.c)
 *   SANDBOX_OCI_UID_DIR/window        "START END\n": sfaasd-runc's window
 *   SANDBOX_OCI_UID_DIR/<slot>        one container's 65536 ids from START +
 *                                     slot * 65536; the file names the
 *                                     container's state folder (gone = free)
 * A daemon refuses a window that holds a live container's range; sfaasd-runc
 * never gives a container a range inside a running daemon's window. The
 * folder's flock (exclusive for the runtime, shared for a daemon's check)
 * orders the two. */
#define SANDBOX_OCI_UID_DIR "/run/sfaasd-runc.uids"
#define SANDBOX_OCI_WINDOW_FILE "window"

struct sandbox_launcher_config {
        /* Name of the launcher's cgroup subtree, created under the calling
         * process's own cgroup in every hierarchy used. NULL = the names
         * above (from owner_id). A name of another form gets no lock file
         * and is never swept by anyone (tests). */
        const char *cgroup_subtree;
        /* The identity of the data folder whose exclusive lock the caller
         * holds for the launcher's life (16 lower-case hex); see above. */
        const char *owner_id;
        /* Where the lock files live; NULL = SANDBOX_LOCK_DIR (made if
         * missing, mode 0700; refused unless ours and not writable by
         * others). Without it there are no lock files: the subtree is then
         * removed after a kill only by the next daemon on the same folder. */
        const char *lock_dir;
        bool no_cgroups;             /* for tests only; never the default */
        /* Keep fresh network namespaces made ahead of time by a helper
         * process, so a spawn need not create one (~0.5 ms). For long-lived
         * launchers (the daemon); a one-shot `run` gains nothing. Each netns
         * is used once; when none is ready, spawn makes its own as usual. */
        bool netns_pool;
        /* Put the sandbox's cgroup at this path below the root of every
         * hierarchy (an OCI cgroupsPath such as "/libpod_parent/libpod-ID",
         * each level [A-Za-z0-9_.@:-]+), its parents made as needed, instead
         * of in a subtree of the launcher's own: no subtree, no sweep, no
         * lock file, and nothing removed when the launcher is freed. The
         * leaf's name is the path's last level (spec->name and spec->group
         * must be NULL). One sandbox per launcher. */
        const char *cgroup_path;
        /* One sandbox and exit (`sfaasd run`): skip the sweep of the old
         * "sfaasd-<pid>" names (it walks their trees and reads /proc for
         * each, ~1 ms per start on a host with many); the lock-file sweep
         * costs a readdir and an flock per subtree and is done. Also: the
         * rootfs is idmapped with the sandbox's own user namespace rather
         * than a cached template one (see launcher.c). */
        bool one_shot;
        /* Limits on the launcher's subtree itself, so that all its
         * sandboxes together stay within them whatever each one's own
         * limits say (the kernel charges every leaf to its ancestors): v2
         * memory.max and pids.max, v1 memory.limit_in_bytes (and memsw) and
         * pids.max. 0 = none. */
        uint64_t subtree_memory_bytes;
        uint64_t subtree_pids;
};

/* What the start-up sweep removed (sandbox_launcher_sweep). */
struct sandbox_sweep {
        unsigned subtrees;    /* dead launchers' subtrees removed */
        unsigned dirs;        /* cgroup directories removed with them, every hierarchy */
        unsigned procs;       /* processes that were still running in them, killed */
        unsigned lock_files;  /* their lock files removed */
        unsigned busy;        /* subtrees that could not be removed (left for the next start) */
        int lock_error;       /* -errno: the lock folder or our lock file is unusable; 0 */
};

struct sandbox_launcher;
struct sandbox;

int sandbox_launcher_new(const struct sandbox_launcher_config *cfg, struct sandbox_launcher **ret,
                         struct sf_err *err);
void sandbox_launcher_free(struct sandbox_launcher *l);
/* What sandbox_launcher_new() swept, for the caller's log. */
void sandbox_launcher_sweep(const struct sandbox_launcher *l, struct sandbox_sweep *ret);
/* "v1 DIR, DIR, ..." or "v2 DIR": where the subtree is in every hierarchy,
 * for the log (v1 cpuacct's is made with the first group, spec->group);
 * "none" without cgroups. */
int sandbox_launcher_describe_cgroups(const struct sandbox_launcher *l, char *buf, size_t size);

int sandbox_spawn(struct sandbox_launcher *l, const struct sandbox_spec *spec, struct sandbox **ret,
                  struct sf_err *err);

/* Hand a parked sandbox its one call: envp (the command's complete
 * environment, at most SB_CALL_MAX bytes and SB_CALL_ENV_MAX strings of
 * sandbox/init/protocol.h: -E2BIG) and the three stdio fds (checked as a
 * spawn checks them; the caller keeps and closes its copies). The init
 * puts them at 0..2 and starts the command; this does not wait for that
 * (a failed start shows in sandbox_start_error). Whatever it returns, the
 * sandbox cannot be handed another call: on failure the caller frees it.
 * Non-blocking. */
int sandbox_hand_call(struct sandbox *sb, char *const *envp, const int stdio[3], struct sf_err *err);
/* Parked and not handed its call yet. */
bool sandbox_parked(const struct sandbox *sb);
/* After sandbox_reap (or a sandbox_peek_status that gave the status) of a
 * sandbox that was handed a call: < 0 with the
 * failed step in err, worded as sandbox_spawn words it ("sandbox step
 * 'execve' failed for 'cmd'"), when its init could not start the command
 * (a malformed call, the fork, the command's execve); 0 when it started,
 * and for every other sandbox. Reads once. */
int sandbox_start_error(struct sandbox *sb, struct sf_err *err);

/* The host pid of the sandbox's init (pid 1 inside), whose namespaces the
 * command shares. */
/* A fresh network namespace with only loopback, up, owned by the
 * launcher's user namespace (as the pooled ones: root in the sandbox holds
 * no CAP_NET_ADMIN over it): an fd (CLOEXEC) for SANDBOX_NET_GIVEN, taken
 * from the pool when there is one. The calling thread enters a new one
 * for a moment when it makes it. */
int sandbox_netns_new(struct sandbox_launcher *l, struct sf_err *err);
pid_t sandbox_pid(const struct sandbox *sb);
int sandbox_pidfd(const struct sandbox *sb);
/* The sandbox's network namespace, for setns() around socket() (the
 * sandbox keeps it; valid until sandbox_free). A launcher with the netns
 * pool always has it; -1 without the pool. /proc/PID/ns/net is no
 * substitute: the init is non-dumpable (initfd.c), so opening its
 * namespaces takes CAP_SYS_PTRACE, which the service does not have. */
int sandbox_netns_fd(const struct sandbox *sb);
/* Kill every process of the sandbox (SIGKILL to its pid 1, which takes the
 * whole pid namespace with it; cgroup.kill where available). Idempotent. */
int sandbox_kill(struct sandbox *sb);
/* Non-blocking: -EAGAIN while running; else the wait status (as from
 * waitpid: use WIFEXITED etc.) in *ret_status. Reaps once. The status is the
 * command's as the init saw it; when the init itself was killed before it
 * could tell (sandbox_kill, the OOM killer), the init's: SIGKILL. */
int sandbox_reap(struct sandbox *sb, int *ret_status);
/* The read end of the sandbox's exit-status pipe (sandbox/init/protocol.h),
 * for polling: readable once the init has written the command's wait
 * status, which it does just before it ends (before the kernel tears the
 * sandbox's namespaces down), or at EOF when the init died without one
 * (killed). Open until the sandbox is reaped (-1 then). */
int sandbox_status_fd(const struct sandbox *sb);
/* Non-blocking: the command's wait status from the init's record, while the
 * init may still be ending: 0 and *ret_status; -EAGAIN not written yet;
 * -ENODATA the init ended (or is ending) without one, when only
 * sandbox_reap can tell. sandbox_reap later reports the same status. */
int sandbox_peek_status(struct sandbox *sb, int *ret_status);
/* Blocking wait with the spec's timeout (kills on expiry, *ret_timed_out). */
int sandbox_wait(struct sandbox *sb, int *ret_status, bool *ret_timed_out);
/* Resource figures from the cgroup (best effort; 0 when unknown). */
struct sandbox_stats {
        uint64_t memory_peak_bytes;
        uint64_t oom_kills;
        uint64_t pids_max_hits;   /* pids.events max */
};
int sandbox_stats(struct sandbox *sb, struct sandbox_stats *ret);
void sandbox_free(struct sandbox *sb);
/* Let the sandbox run on without us (OCI create; spec->detached): frees
 * the handle and closes its fds, kills nothing, keeps its cgroup. Its
 * init is reparented to our parent (or the nearest subreaper) when we
 * exit. */
void sandbox_detach(struct sandbox *sb);

/* What the kernel accounts to a group of sandboxes (spec->group). */
struct sandbox_usage {
        uint64_t cpu_usec;       /* cumulative CPU time of every process that ran
                                    in the group since it was made (v2 cpu.stat
                                    usage_usec; v1 cpuacct.usage), live or gone */
        uint64_t memory_bytes;   /* memory charged now (v2 memory.current; v1
                                    memory.usage_in_bytes): live sandboxes plus
                                    page cache the kernel has not reclaimed */
};
/* Usage of group ("NS" or "NS/FUNCTION"). -ENOENT, with *ret zeroed, when
 * the group does not exist (no sandbox of it ran since the launcher
 * started, or it was removed); -EOPNOTSUPP without cgroups; -EINVAL for a
 * bad group name. On v1 without a cpuacct hierarchy cpu_usec is 0. */
int sandbox_group_usage(struct sandbox_launcher *l, const char *group, struct sandbox_usage *ret,
                        struct sf_err *err);
/* Remove group's last level ("FUNCTION" of "NS/FUNCTION") in every
 * hierarchy, when no sandbox of it is left: 0 when it is gone (or never
 * existed), -EBUSY while a sandbox of it still runs (it then stays until the
 * launcher is freed, or the next start's sweep of a dead launcher's
 * subtree). Never kills anything. */
int sandbox_group_remove(struct sandbox_launcher *l, const char *group, struct sf_err *err);

/* Aggregate limits of a group level all its sandboxes share ("NS": a
 * tenant), made if missing: memory_bytes, pids and cpu_millis of lim, 0
 * for none (the other fields are ignored). The kernel holds the group to
 * them whatever its sandboxes ask each: v2 memory.max (swap 0), pids.max,
 * cpu.max; v1 memory.limit_in_bytes (and memsw), pids.max,
 * cpu.cfs_quota_us. A no-op without cgroups. */
int sandbox_group_set_limits(struct sandbox_launcher *l, const char *group, const struct sandbox_limits *lim,
                             struct sf_err *err);

/* Exit code as a shell reports it: status, or 128+N when killed by signal N. */
int sandbox_exit_code(int wait_status);

/* How a sandbox that ended with wait_status (from sandbox_reap) ended, and
 * a phrase for it in buf ("exited with status 3", "was killed by signal 15
 * (SIGTERM)"). OOM when the function did not exit 0 and its cgroup counted
 * an OOM kill (v2 memory.events oom_kill, v1 memory.oom_control oom_kill):
 * "ran out of memory (limit 16 MiB) and was killed", or "exited with status
 * 1 after running out of memory ..." when a process of it was the victim
 * and it exited on its own. Call before sandbox_free (the cgroup goes). Who
 * else killed it (a timeout, a shutdown) only the caller knows: it names
 * its own kills first. */
enum sandbox_end { SANDBOX_END_EXITED, SANDBOX_END_SIGNALED, SANDBOX_END_OOM };
enum sandbox_end sandbox_describe_end(struct sandbox *sb, int wait_status, char *buf, size_t size);

/* For `sfaasd check`: which cgroup hierarchy sandbox_launcher_new() would use.
 * Returns 2 (v2) or 1 (v1) and a one-line description of what the host
 * offers in buf, or -errno (with the reason in err) when none is usable. */
int sandbox_cgroup_probe(char *buf, size_t size, struct sf_err *err);
/* For `sfaasd check`: check the built-in seccomp program (generated at
 * build time for one architecture) fits this binary's architecture, and
 * report its length in BPF instructions. */
int sandbox_seccomp_probe(size_t *ret_insns, struct sf_err *err);
/* For `sfaasd check`: make the sealed memfd of the sandbox init (pid 1 of
 * every sandbox, sandbox/init/) as a launcher would, and report its size.
 * Fails where the host refuses executable memfds (vm.memfd_noexec=2). */
int sandbox_init_probe(size_t *ret_bytes, struct sf_err *err);

/*
 * For the OCI runtime (cmd/oci*): sandboxes whose state lives in files
 * between commands, as containerd and Podman drive them.
 */

/* The directories an overlayfs mounted at path is made of, as the kernel
 * reports them (/proc/self/mountinfo): the upper directory first, then the
 * lower ones in order, as the lower layers of a writable rootfs
 * (spec->rootfs_layers). *ret_n = 0 when path is not the root of an
 * overlay mount. Refused (-EOPNOTSUPP) for overlays whose layers cannot be
 * read back faithfully (data-only layers, metacopy, escaped names). Free
 * with sandbox_strv_free. */
int sandbox_overlay_layers(const char *path, char ***ret_layers, size_t *ret_n, struct sf_err *err);
void sandbox_strv_free(char **v);

/* Whether "key" is a sysctl of a namespace the sandbox owns (net.*, the
 * IPC ones kernel.shm*, kernel.msg*, kernel.sem, fs.mqueue.*). */
bool sandbox_sysctl_allowed(const char *key);

/* The processes in the cgroup at path (a launcher's cgroup_path), from
 * the first hierarchy that has it; at most max into pids. */
int sandbox_cgroup_procs(const char *cgroup_path, pid_t *pids, size_t max, size_t *ret_n, struct sf_err *err);
/* Kill what is left in the cgroup at path and remove it in every
 * hierarchy (not its parents). 0 when it is gone or never existed. */
int sandbox_cgroup_remove(const char *cgroup_path, struct sf_err *err);

/* A process started inside a running sandbox (OCI exec). It joins the
 * sandbox's namespaces (all seven, by the init's pidfd) and cgroup, takes
 * the init's rlimits, and gets the same policy as the command: its uid,
 * no capabilities but caps, no_new_privs, the built-in seccomp filter
 * (and extra_seccomp), only stdio surviving. Until it execs it is
 * non-dumpable, so nothing inside can ptrace it or open its /proc files
 * while it still runs our binary (CVE-2016-9962). */
struct sandbox_join_spec {
        pid_t pid;                   /* the sandbox init's host pid ... */
        int pidfd;                   /* ... and a pidfd of it (the caller checked it) */
        const char *cgroup_path;     /* the launcher's cgroup_path, or NULL */
        char *const *argv;           /* argv[0] without '/' is looked up in PATH from envp */
        char *const *envp;
        const char *cwd;             /* inside the root; NULL = "/" */
        uint32_t uid, gid;           /* < 65536 */
        const uint32_t *groups;
        size_t n_groups;
        uint64_t caps, caps_ambient; /* as in sandbox_spec */
        bool set_umask;
        uint32_t umask;
        const struct sandbox_rlimit *rlimits;
        size_t n_rlimits;
        const struct sock_fprog *extra_seccomp;
        int stdio[3];                /* -1 = /dev/null inside */
        bool terminal;               /* as sandbox_spec.terminal */
        bool detached;               /* may outlive us: no parent-death signal */
};
/* Returns once the process has exec'd (its host pid and a pidfd; the
 * caller reaps it) or failed (err names the step). */
int sandbox_join(const struct sandbox_join_spec *spec, pid_t *ret_pid, int *ret_pidfd, struct sf_err *err);
