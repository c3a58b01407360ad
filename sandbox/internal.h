/* SPDX-License-Identifier: MIT */
/*
 * Private to sandbox/: the spawn plan shared by the parent (launcher.c) and
 * the child (child.c), the seccomp compiler (seccomp.c) and the cgroup code
 * (cgroup.c).
 *
 * Ownership: a struct sb_plan lives on the parent's stack for the duration
 * of one sandbox_spawn(). Every string and fd in it is prepared BEFORE the
 * clone, because the child shares the parent's memory (CLONE_VM) and may
 * only make raw system calls (see child.c).
 */
#pragma once

#include <linux/audit.h>
#include <linux/filter.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "sandbox/init/protocol.h"
#include "sandbox/sandbox.h"

/* enum sb_step and struct sb_child_error: sandbox/init/protocol.h, shared
 * with the sandbox init. */
const char *sb_step_name(int step);


/* SB_CTRL_CPUACCT is v1 only and accounting only: no limits, no leaf per
 * sandbox; a sandbox with a group joins the group's directory there (see
 * sb_cgroup_create), which is all sandbox_group_usage() needs. When cpuacct
 * is co-mounted with cpu ("cpu,cpuacct"), the cpu leaves carry it. */
enum sb_ctrl { SB_CTRL_MEMORY = 0, SB_CTRL_PIDS, SB_CTRL_CPU, SB_CTRL_CPUACCT, SB_CTRL_MAX_ };

#define SB_CGROUP_INIT { .dir_fd = -1, .tasks_fd = { -1, -1, -1, -1 } }

#define SB_MAX_BINDS 64
#define SB_MAX_EXEC_PATHS 64
#define SB_MAX_RLIMITS 24
#define SB_MAX_MOUNTS 64
#define SB_MAX_SYSCTLS 64

struct sb_bind_plan {
        int mnt_fd;           /* detached read-only tree of the source (parent's namespace) */
        int parent_index;     /* index into sb_plan.bind_parents */
        const char *name;     /* last component of the destination */
        bool is_dir;
};

/* A spec mount (sandbox_spec.mounts) as the child makes it. */
struct sb_mount_plan {
        int type;             /* enum sandbox_mount_type */
        int mnt_fd;           /* BIND: detached tree of the source, flags set already */
        const char *dst;      /* absolute inside the root */
        bool is_dir;          /* the destination to make: a directory, else a file */
        unsigned attrs;       /* TMPFS: MOUNT_ATTR_* */
        char size[24], mode[8], inodes[24];   /* TMPFS */
};

/* A sysctl the child writes: path below /proc ("sys/net/...") and value. */
struct sb_sysctl_plan {
        const char *path;
        const char *value;
};

/* Who the command runs as: ids, capabilities (sandbox_spec.caps), the
 * rest of its process attributes. Applied by sb_drop_privileges(). */
struct sb_creds {
        uint32_t uid, gid;
        uint32_t groups[SANDBOX_MAX_GROUPS];   /* supplementary groups; [0] = gid when none given */
        size_t n_groups;
        uint64_t caps, caps_ambient;
        bool set_umask;
        uint32_t umask;
        bool detached;         /* no parent-death signal */
        int last_cap;
};

struct sb_rlimit_plan {
        int resource;
        uint64_t cur, max;
};

struct sb_plan {
        /* fds in the parent's table; the child gets copies (no CLONE_FILES) */
        int sync_fd;          /* socket: one byte once the id maps are written */
        int sync_peer_fd;     /* the launcher's end, which the child closes: EOF if the launcher dies */
        int err_fd;           /* write end, CLOEXEC: EOF once the function is exec'd,
                               * sb_child_error on failure (protocol.h) */
        int status_fd;        /* write end of the exit-status pipe (protocol.h) */
        int init_fd;          /* the launcher's sealed memfd of the init (initfd.c) */
        int root_mnt_fd;      /* detached idmapped tree of the rootfs */
        bool late_root;       /* root_mnt_fd is made after clone3, idmapped with the
                               * child's own user namespace, and sent with the sync
                               * byte (SCM_RIGHTS); the child ignores root_mnt_fd */
        int stdio[3];         /* -1 = /dev/null inside */

        const char *rootfs;   /* where the child attaches root_mnt_fd in its own namespace */
        bool unshare_cgroupns; /* v1: the cgroup namespace is made after we joined the leaf */
        int cg_tasks_fd[SB_CTRL_MAX_]; /* v1: the child writes "0" to each to join its leaf */
        bool pooled_netns;    /* netns from the pool: loopback is up, and not ours to configure */
        int dev_tmpl_fd;      /* launcher's /dev template (templates.c), or -1: build /dev */
        int mask_tmpl_fd;     /* launcher's /proc mask template, or -1: a tmpfs per mask */

        const char *hostname;
        size_t hostname_len;
        char tmp_size[24], tmp_inodes[24], shm_size[24];

        const char *workdir;  /* absolute, resolved inside the root */

        const char *bind_parents[SB_MAX_BINDS];   /* absolute directories in the image */
        size_t n_bind_parents;
        struct sb_bind_plan binds[SB_MAX_BINDS];
        size_t n_binds;

        struct sb_rlimit_plan rlimits[SB_MAX_RLIMITS];
        size_t n_rlimits;

        struct sb_mount_plan mounts[SB_MAX_MOUNTS];
        size_t n_mounts;
        bool root_writable;    /* the root is an overlay with its upper in memory (rootfs_writable) */
        bool rootfs_readonly;  /* make that root read-only after the mounts */
        struct sb_sysctl_plan sysctls[SB_MAX_SYSCTLS];
        size_t n_sysctls;

        struct sb_creds creds;
        bool gated;            /* the init waits at the start gate (gate_fd) */
        int gate_fd;
        const struct sock_fprog *seccomp;
        const struct sock_fprog *extra_seccomp;   /* stacked after seccomp, or NULL */

        /* The init's argv (protocol.h): the function's executable candidates
         * (PATH resolved here) and argv; envp is the function's. */
        char *const *init_argv;
        char *const *envp;
};

/* The exec child (sandbox_join, join.c; runs join_main in child.c): a
 * plain fork of a small process, but written like the spawn child (raw
 * system calls, {step, errno} on err_fd) because it shares its steps. */
struct sb_join_plan {
        int err_fd;            /* CLOEXEC write end: EOF once exec'd */
        int pidfd;             /* the sandbox init's: setns() into all its namespaces */
        int cg_fd[SB_CTRL_MAX_];   /* "cgroup.procs" (v2) / "tasks" (v1) of the sandbox's leaves, or -1 */
        int stdio[3];          /* -1 = /dev/null */
        bool terminal;
        const char *cwd;
        struct sb_creds creds;
        struct sb_rlimit_plan rlimits[SB_MAX_RLIMITS];
        size_t n_rlimits;
        const struct sock_fprog *seccomp;
        const struct sock_fprog *extra_seccomp;
        const char *const *exec_paths;   /* candidates, NULL-terminated */
        char *const *argv;
        char *const *envp;
};
__attribute__((noreturn)) void sb_join_child(const struct sb_join_plan *p);

/* launcher.c: the paths execve will try for name: itself when it has a
 * '/', else each directory of envp's PATH (a default without one); into
 * paths[SB_MAX_EXEC_PATHS + 1], NULL-terminated, with the strings in
 * *ret_buf (free it; NULL when none was needed). */
int sb_exec_candidates(const char *name, char *const *envp, const char **paths, char **ret_buf, struct sf_err *err);
/* launcher.c: the highest capability number of this kernel. */
int sb_last_cap(void);

/* child.c: clone3 with CLONE_VM on a dedicated stack, child runs sb_child_main.
 * Returns the pid in the parent, -errno on failure. */
long sb_clone3_vm(void *clone_args, size_t size, void *stack, size_t stack_size,
                  struct sb_plan *plan);

/* templates.c: detached mount trees made once per launcher and cloned by
 * each child (see the file's comment). Return the tree's fd (CLOEXEC). */
int sb_template_dev(int *ret_fd);
int sb_template_mask(int *ret_fd);

/* initfd.c: the sandbox init in a sealed, execute-only memfd (CLOEXEC). */
int sb_init_memfd(int *ret_fd, struct sf_err *err);
/* $(BUILD)/init_image.c, written by tools/embed_blob.py at build time from
 * sandbox/init/sfaasd-init.c. */
extern const unsigned char sb_init_image[];
extern const size_t sb_init_image_len;

/* netns.c: pre-made network namespaces (see the file's comment). */
struct sb_netns_pool {
        int sock;      /* receives netns fds (SCM_RIGHTS) from the helper */
        pid_t helper;
        int orig_fd;   /* the launcher's own netns, to return to after clone3 */
};
int sb_netns_pool_start(struct sb_netns_pool *pool, struct sf_err *err);
/* A fresh netns fd (CLOEXEC), or -EAGAIN when none is ready. */
int sb_netns_pool_take(struct sb_netns_pool *pool);
void sb_netns_pool_stop(struct sb_netns_pool *pool);
/* A new netns with loopback up, made the helper's way (owned by our user
 * namespace) on this thread, which stays in its own: for when the pool has
 * none ready. An fd (CLOEXEC), or -errno. */
int sb_netns_make(void);

/* The architecture this code is built for, as seccomp_data.arch reports it. */
#if defined(__x86_64__)
#define SB_AUDIT_ARCH AUDIT_ARCH_X86_64
#define SB_ARCH_NAME "x86_64"
#elif defined(__aarch64__)
#define SB_AUDIT_ARCH AUDIT_ARCH_AARCH64
#define SB_ARCH_NAME "aarch64"
#else
#error "sandbox: unsupported architecture"
#endif

/* policy/seccomp.c (build time and tests only; needs libseccomp): compile
 * the default policy to raw BPF for the native architecture. */
int sb_seccomp_compile(struct sock_filter **ret, size_t *ret_len, struct sf_err *err);

/* $(BUILD)/seccomp_policy.c, written by tools/gen_seccomp at build time. */
extern const struct sock_filter sb_seccomp_policy[];
extern const size_t sb_seccomp_policy_len;
extern const uint32_t sb_seccomp_policy_arch;   /* AUDIT_ARCH_* it was generated for */
extern const char sb_seccomp_policy_arch_name[];

/* seccomp.c: the generated program, after checking it was generated for the
 * architecture this binary runs as. */
int sb_seccomp_builtin(struct sock_fprog *ret, struct sf_err *err);

/* cgroup.c */
enum sb_cgroup_mode { SB_CGROUP_NONE = 0, SB_CGROUP_V1, SB_CGROUP_V2 };


struct sb_cgroup_root {
        enum sb_cgroup_mode mode;
        /* v1: our own cgroup directory per controller (NULL = absent) */
        char *own[SB_CTRL_MAX_];
        /* created by sb_cgroup_root_init: v2 [0] only; v1 one per controller */
        char *subtree[SB_CTRL_MAX_];
        char *self_leaf;      /* v2: the leaf we moved ourselves into, or NULL */
        char *own_v2;         /* v2: our original cgroup directory */
        bool enabled_own;     /* v2: we wrote +controllers into own subtree_control */
        bool has_kill;        /* v2: cgroup.kill exists */
        bool has_swap;        /* v2 memory.swap.max / v1 memory.memsw.limit_in_bytes */
        bool cpuacct_in_cpu;  /* v1: cpuacct is co-mounted with cpu (own[SB_CTRL_CPUACCT] is NULL) */
        char *name;           /* the subtree's name */
        int lock_dir_fd;      /* the lock folder (SANDBOX_LOCK_DIR), or -1 */
        int lock_fd;          /* our "<name>.lock" in it, held; or -1 */
        uint64_t limit_memory; /* on the subtree itself: all sandboxes together (0: none) */
        uint64_t limit_pids;
        /* the mount point of each hierarchy (v2: [0]); from sb_cgroup_detect */
        char *mnt[SB_CTRL_MAX_];
        /* subtree[] is the parent of a cgroup path of the caller's choosing
         * (sandbox_launcher_config.cgroup_path): not ours to remove, and
         * v1 cpuacct gets a leaf like the other controllers */
        bool external;
};

struct sb_spares;

struct sb_cgroup {
        enum sb_cgroup_mode mode;
        char *path[SB_CTRL_MAX_];   /* leaf directories (v2: [0] only; never [SB_CTRL_CPUACCT]) */
        int dir_fd;                 /* v2: leaf directory for CLONE_INTO_CGROUP */
        int tasks_fd[SB_CTRL_MAX_]; /* v1: each leaf's "tasks", opened by us (see sb_cgroup_create) */
        bool has_kill;
        /* A leaf that may be kept for the next sandbox (cgroup_spare.c):
         * the cache it goes back to (a reference), and its key. */
        struct sb_spares *spares;
        char *group;
        uint64_t key_memory, key_pids, key_cpu;
};

/* Describe the hierarchy (no side effects). */
int sb_cgroup_detect(struct sb_cgroup_root *root, struct sf_err *err);
/* The same for a cgroup path below the hierarchies' roots (an engine's):
 * v2 when its root offers memory and pids, wherever we sit ourselves. */
int sb_cgroup_detect_external(struct sb_cgroup_root *root, struct sf_err *err);

struct sb_root_opts {
        const char *name;      /* the subtree's name (sb_subtree_name_make, or a test's own) */
        const char *owner_id;  /* sandbox_launcher_config.owner_id, or NULL */
        const char *lock_dir;  /* where launchers keep their lock files; NULL = none */
        bool legacy;           /* also sweep the "sfaasd-<pid>" subtrees of older versions */
        uint64_t memory_bytes; /* sandbox_launcher_config.subtree_memory_bytes */
        uint64_t pids;         /* sandbox_launcher_config.subtree_pids */
        /* instead of all the above: the parent of a cgroup path below the
         * root of every hierarchy ("" for the root itself), made if missing */
        const char *external_parent;
};
/* Take our lock file, sweep what dead launchers left (sb_cgroup_sweep; its
 * counts into rep), then create our subtree in every hierarchy. */
int sb_cgroup_root_init(struct sb_cgroup_root *root, const struct sb_root_opts *o, struct sandbox_sweep *rep,
                        struct sf_err *err);
void sb_cgroup_root_release(struct sb_cgroup_root *root);
/* group: NULL, "NS" or "NS/FUNCTION" (each level created on demand, valid
 * names checked by the caller); name: the leaf below it. */
int sb_cgroup_create(const struct sb_cgroup_root *root, const char *group, const char *name,
                     const struct sandbox_limits *limits, struct sb_cgroup *ret, struct sf_err *err);
/* What the kernel accounts to a group: see sandbox_group_usage(). -ENOENT
 * (and zeros) when the group does not exist. */
int sb_cgroup_group_usage(const struct sb_cgroup_root *root, const char *group, struct sandbox_usage *ret);
/* rmdir the group's last level in every hierarchy; -EBUSY while it holds
 * a sandbox, 0 when it is gone or never existed. */
int sb_cgroup_group_remove(const struct sb_cgroup_root *root, const char *group);
/* Make group (each missing level) and set its memory, pids and cpu limits
 * from lim (0: none), in every hierarchy but cpuacct. */
int sb_cgroup_group_limit(const struct sb_cgroup_root *root, const char *group, const struct sandbox_limits *lim);
/* Close the fds only the spawn needs (dir_fd, tasks_fd). */
void sb_cgroup_close_spawn_fds(struct sb_cgroup *cg);
int sb_cgroup_kill(const struct sb_cgroup *cg);
/* Remove the leaf once its processes are gone (waits briefly for them).
 * Not for a leaf that may be kept: sb_spares_release. */
int sb_cgroup_destroy(struct sb_cgroup *cg);

/* Spare leaves (cgroup_spare.c): v1 leaves of ended sandboxes kept, renamed
 * "spare-N", for the next anonymous sandbox of the same group and limits. */
struct sb_spares *sb_spares_new(void);
/* The launcher's end: no more leaves are kept; those kept are forgotten
 * (sb_cgroup_root_release removes the directories), and the cache is freed
 * with its last reference. */
void sb_spares_close(struct sb_spares *s);
/* A kept leaf of group and limits as *ret, renamed to name, its "tasks"
 * opened: 1; none: 0; < 0 on an error (nothing taken). */
int sb_spares_take(struct sb_spares *s, const struct sb_cgroup_root *root, const char *group, const char *name,
                   const struct sandbox_limits *lim, struct sb_cgroup *ret);
/* Make a new leaf of sb_cgroup_create keepable in s (v1 only; -ENOMEM). */
int sb_spares_adopt(struct sb_spares *s, struct sb_cgroup *cg, const char *group, const struct sandbox_limits *lim);
/* The end of a sandbox's leaf: back to its cache when it is clean, else
 * removed (sb_cgroup_destroy); cg is emptied either way. */
int sb_spares_release(struct sb_cgroup *cg);
/* Drop cg's reference to its cache (cg is being removed or forgotten). */
void sb_spares_unref(struct sb_spares *s);
/* Remove the kept leaves of group and of the groups below it. */
void sb_spares_drop_group(struct sb_spares *s, const char *group);
int sb_cgroup_stats(const struct sb_cgroup *cg, struct sandbox_stats *ret);
/* Open "tasks" of each of cg's leaves (v1), and of group's cpuacct
 * directory, into cg->tasks_fd. */
int sb_cgroup_open_tasks(const struct sb_cgroup_root *root, const char *group, struct sb_cgroup *cg);
/* The number in dir/file, or with key: the value of the line "key N". */
int sb_cgroup_read_number(const char *dir, const char *file, const char *key, uint64_t *ret);
/* The directory of cgroup_path (below each hierarchy's root) in every
 * hierarchy the launcher would use, into dirs[SB_CTRL_MAX_] (NULL where
 * none; v2: [0] only; free each). *ret_v2 says which. */
int sb_cgroup_path_dirs(const char *cgroup_path, char *dirs[SB_CTRL_MAX_], bool *ret_v2, struct sf_err *err);
/* A cgroup path a caller may choose: absolute, levels of [A-Za-z0-9_.@:-]+,
 * none "." or "..". */
bool sb_cgroup_path_valid(const char *path);
/* Report for `sfaasd check`: mode and available controllers. */
int sb_cgroup_describe(char *buf, size_t size);
/* Write value into dir/file (a control file: no create, no truncate). */
int sb_cgroup_write(const char *dir, const char *file, const char *value);

/* cgroup_sweep.c: removing trees (see the file's comment). */

/* Depth of a launcher's subtree below it: namespace, function, leaf. */
#define SB_CGROUP_TREE_DEPTH 3
/* Kill what is left in dir and below (depth levels), then rmdir bottom-up,
 * for at most 2 s. Adds the number of directories removed to *removed
 * (may be NULL). -EBUSY when something stayed. */
int sb_cgroup_remove_tree(const char *dir, bool v2, bool has_kill, int depth, unsigned *removed);

/* The names of launcher subtrees (see sandbox.h, "Cgroup subtree names"). */
enum sb_subtree_kind {
        SB_SUBTREE_FOREIGN = 0,  /* not ours: never touched */
        SB_SUBTREE_LEGACY,       /* "sfaasd-<pid>" (versions before these names) */
        SB_SUBTREE_DAEMON,       /* "sfaasd-<owner id>-<pid>" */
        SB_SUBTREE_RUN,          /* "sfaasd-run-<pid>-<random>" */
};
#define SB_OWNER_ID_LEN 16       /* lower-case hex */
#define SB_RUN_RAND_LEN 8        /* lower-case hex */
struct sb_subtree_name {
        enum sb_subtree_kind kind;
        pid_t pid;
        char id[SB_OWNER_ID_LEN + 1];  /* DAEMON: the owner id */
        char base[64];                 /* the name without "-daemon" */
        bool self_leaf;                /* "<base>-daemon": the v2 leaf the launcher moved into */
};
/* Parse a directory name; the kind, and with ret the parts (ret may be NULL). */
enum sb_subtree_kind sb_subtree_name_parse(const char *name, struct sb_subtree_name *ret);
/* Our subtree's name: with owner_id "sfaasd-<owner_id>-<pid>", else
 * "sfaasd-run-<pid>-<8 random hex>". -EINVAL for a malformed owner_id. */
int sb_subtree_name_make(char *buf, size_t size, const char *owner_id, pid_t pid);
/* Open (and make, mode 0700) the lock folder. Refused (-EPERM) unless it
 * is a directory of our own euid that nobody else may write to: a lock
 * file planted there would get a live launcher's subtree swept. */
int sb_lock_dir_open(const char *path);

struct sb_sweep {
        const char *own_name;   /* our subtree's name: its lock is ours */
        const char *owner_id;   /* our owner id (the caller holds its data folder's lock), or NULL */
        int lock_dir_fd;        /* the lock folder, or -1 */
        bool legacy;            /* also the "sfaasd-<pid>" names */
};
/* Kill and remove every subtree under bases (our own cgroup directory of
 * each hierarchy) whose launcher is provably gone, with its lock file:
 *   - "sfaasd-<owner_id>-<any pid>" for our owner_id;
 *   - a recognised name whose lock file is in the lock folder and held by
 *     nobody (lockfile_take_abandoned);
 *   - with legacy, "sfaasd-<pid>" by the old rule (see legacy_dead).
 * Anything else stays. Counts go into rep (may be NULL). */
void sb_cgroup_sweep(char *const bases[], size_t n_bases, bool v2, bool has_kill, const struct sb_sweep *sw,
                     struct sandbox_sweep *rep);
