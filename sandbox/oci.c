/* SPDX-License-Identifier: MIT */
/*
 * What the OCI runtime (cmd/oci*) needs of the launcher beyond a spawn, for
 * sandboxes that live on between commands: a process started inside a
 * running sandbox (sandbox_join, whose child is sb_join_child in child.c),
 * the layers of an engine's overlay rootfs, and the cgroup at a path of the
 * engine's choosing (processes, removal).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/base/cleanup.h"
#include "core/base/util.h"
#include "sandbox/internal.h"

#ifndef OVERLAYFS_SUPER_MAGIC
#define OVERLAYFS_SUPER_MAGIC 0x794c7630
#endif
#ifndef P_PIDFD
#define P_PIDFD 3
#endif

void sandbox_strv_free(char **v)
{
        if (!v)
                return;
        for (char **p = v; *p; p++)
                free(*p);
        free(v);
}

/* The value of "key=" in a mountinfo super-options field ("rw,lowerdir=..."),
 * copied into a fresh string; NULL when absent. */
static char *opt_value(const char *opts, const char *key)
{
        size_t klen = strlen(key);

        for (const char *p = opts; p && *p;) {
                size_t len = strcspn(p, ",");
                if (len > klen && strncmp(p, key, klen) == 0 && p[klen] == '=')
                        return strndup(p + klen + 1, len - klen - 1);
                p += len;
                if (*p == ',')
                        p++;
        }
        return NULL;
}

static bool opt_has(const char *opts, const char *word)
{
        size_t n = strlen(word);
        for (const char *p = opts; p && *p;) {
                size_t len = strcspn(p, ",");
                if (len == n && strncmp(p, word, n) == 0)
                        return true;
                p += len;
                if (*p == ',')
                        p++;
        }
        return false;
}

int sandbox_overlay_layers(const char *path, char ***ret_layers, size_t *ret_n, struct sf_err *err)
{
        _cleanup_fclose_ FILE *f = NULL;
        _cleanup_free_ char *line = NULL, *real = NULL, *lower = NULL, *upper = NULL, *found_opts = NULL;
        char **v = NULL;
        size_t cap = 0, n = 0, count = 1;
        struct statfs sfs;
        struct stat st;
        bool found = false;

        sf_err_clear(err);
        *ret_layers = NULL;
        *ret_n = 0;
        real = realpath(path, NULL);
        if (!real)
                return sf_err_errno(err, -errno, "rootfs '%s'", path);
        if (statfs(real, &sfs) < 0 || stat(real, &st) < 0)
                return sf_err_errno(err, -errno, "rootfs '%s'", real);
        if (sfs.f_type != OVERLAYFS_SUPER_MAGIC)
                return 0;
        f = fopen("/proc/self/mountinfo", "re");
        if (!f)
                return sf_err_errno(err, -errno, "cannot read /proc/self/mountinfo");
        /* The last mount at that point is the one on top. */
        while (getline(&line, &cap, f) > 0) {
                char *sep = strstr(line, " - "), *save = NULL, *fields[6] = { NULL }, *type, *opts;
                size_t k = 0;
                if (!sep)
                        continue;
                *sep = '\0';
                for (char *p = strtok_r(line, " ", &save); p && k < 6; p = strtok_r(NULL, " ", &save))
                        fields[k++] = p;
                if (k < 5 || strcmp(fields[4], real) != 0 || strcmp(fields[3], "/") != 0)
                        continue;
                type = strtok_r(sep + 3, " ", &save);
                (void) strtok_r(NULL, " ", &save);
                opts = strtok_r(NULL, " \n", &save);
                found = type && opts && strcmp(type, "overlay") == 0;
                free(found_opts);
                found_opts = found ? strdup(opts) : NULL;
                if (found && !found_opts)
                        return sf_err_set(err, -ENOMEM, "out of memory");
        }
        if (!found)
                return sf_err_set(err, -EOPNOTSUPP, "rootfs '%s' is on an overlayfs but not the root of one; "
                                  "give the overlay's mount point", real);
        /* Escapes (\, for a comma, octal for spaces) and data-only layers
         * ("::") or metadata-only copy-ups would not be read back as the
         * engine meant them: refuse rather than show another tree. */
        if (strchr(found_opts, '\\') || strstr(found_opts, "::") || opt_has(found_opts, "metacopy=on") ||
            opt_has(found_opts, "volatile"))
                return sf_err_set(err, -EOPNOTSUPP, "the overlay at '%s' (%.200s) uses options sfaasd cannot "
                                  "rebuild (escaped names, data-only layers, metacopy)", real, found_opts);
        lower = opt_value(found_opts, "lowerdir");
        upper = opt_value(found_opts, "upperdir");
        if (!lower || lower[0] != '/')
                return sf_err_set(err, -EOPNOTSUPP, "the overlay at '%s' has no absolute lowerdir", real);
        for (const char *p = lower; *p; p++)
                count += *p == ':';
        v = calloc(count + 2, sizeof *v);
        if (!v)
                return sf_err_set(err, -ENOMEM, "out of memory");
        if (upper) {
                if (upper[0] != '/') {
                        sandbox_strv_free(v);
                        return sf_err_set(err, -EOPNOTSUPP, "the overlay at '%s' has a relative upperdir", real);
                }
                v[n++] = TAKE_PTR(upper);
        }
        for (char *p = lower; p && *p;) {
                size_t len = strcspn(p, ":");
                if (len == 0 || p[0] != '/' || !(v[n] = strndup(p, len))) {
                        sandbox_strv_free(v);
                        return sf_err_set(err, -EOPNOTSUPP, "the overlay at '%s' has a bad lowerdir", real);
                }
                n++;
                p += len;
                if (*p == ':')
                        p++;
        }
        *ret_layers = v;
        *ret_n = n;
        return 0;
}

int sandbox_cgroup_procs(const char *cgroup_path, pid_t *pids, size_t max, size_t *ret_n, struct sf_err *err)
{
        char *dirs[SB_CTRL_MAX_];
        bool v2;
        int r;

        sf_err_clear(err);
        *ret_n = 0;
        r = sb_cgroup_path_dirs(cgroup_path, dirs, &v2, err);
        if (r < 0)
                return r;
        r = -ENOENT;
        for (int c = 0; c < SB_CTRL_MAX_ && r == -ENOENT; c++) {
                _cleanup_free_ char *buf = NULL;
                char p[PATH_MAX];
                size_t n = 0;
                if (!dirs[c] || xsnprintf(p, sizeof p, "%s/cgroup.procs", dirs[c]) < 0)
                        continue;
                r = read_file_at(AT_FDCWD, p, 1 << 20, &buf, NULL);
                if (r == -ENOENT)
                        continue;
                if (r < 0)
                        break;
                for (char *line = buf; *line && n < max;) {
                        size_t len = strcspn(line, "\n");
                        uint64_t v;
                        line[len] = '\0';
                        if (len && parse_u64(line, &v) == 0 && v > 0 && v < INT32_MAX)
                                pids[n++] = (pid_t) v;
                        line += len + (line[len + 1] || len ? 1 : 0);
                        if (!len)
                                break;
                }
                *ret_n = n;
                r = 0;
        }
        for (int c = 0; c < SB_CTRL_MAX_; c++)
                free(dirs[c]);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return sf_err_errno(err, r, "cgroup: cannot read the processes of '%s'", cgroup_path);
        return 0;
}

int sandbox_cgroup_remove(const char *cgroup_path, struct sf_err *err)
{
        char *dirs[SB_CTRL_MAX_];
        bool v2;
        int r, ret = 0;

        sf_err_clear(err);
        r = sb_cgroup_path_dirs(cgroup_path, dirs, &v2, err);
        if (r < 0)
                return r;
        for (int c = 0; c < SB_CTRL_MAX_; c++) {
                char kill_file[PATH_MAX];
                if (!dirs[c])
                        continue;
                r = xsnprintf(kill_file, sizeof kill_file, "%s/cgroup.kill", dirs[c]);
                r = sb_cgroup_remove_tree(dirs[c], v2, v2 && r >= 0 && access(kill_file, F_OK) == 0, 0, NULL);
                if (r < 0 && r != -ENOENT && ret == 0)
                        ret = sf_err_errno(err, r, "cgroup: cannot remove '%s'", dirs[c]);
                free(dirs[c]);
        }
        return ret;
}

/* The init's own rlimits, for a process joining its sandbox: the same
 * limits as everything else in there. */
static int join_rlimits(struct sb_join_plan *p, pid_t pid, const struct sandbox_join_spec *spec, struct sf_err *err)
{
        for (int res = 0; res < RLIM_NLIMITS && p->n_rlimits < SB_MAX_RLIMITS; res++) {
                struct rlimit rl;
                if (prlimit(pid, (__rlimit_resource_t) res, NULL, &rl) < 0)
                        return sf_err_errno(err, -errno, "cannot read the sandbox's rlimits");
                p->rlimits[p->n_rlimits++] = (struct sb_rlimit_plan) { .resource = res, .cur = rl.rlim_cur,
                                                                       .max = rl.rlim_max };
        }
        for (size_t i = 0; i < spec->n_rlimits; i++)
                for (size_t k = 0; k < p->n_rlimits; k++) {
                        struct sb_rlimit_plan *rp = &p->rlimits[k];
                        if (rp->resource != spec->rlimits[i].resource)
                                continue;
                        if (rp->resource == RLIMIT_CORE)
                                break; /* stays 0, as in the sandbox */
                        /* only lower: the sandbox's own are the ceiling */
                        if (spec->rlimits[i].max < rp->max)
                                rp->max = spec->rlimits[i].max;
                        rp->cur = spec->rlimits[i].cur < rp->max ? spec->rlimits[i].cur : rp->max;
                }
        return 0;
}

int sandbox_join(const struct sandbox_join_spec *spec, pid_t *ret_pid, int *ret_pidfd, struct sf_err *err)
{
        struct sb_join_plan p = { .err_fd = -1 };
        const char *paths[SB_MAX_EXEC_PATHS + 1];
        _cleanup_free_ char *path_buf = NULL;
        _cleanup_close_ int self_pidns = -1;
        char *dirs[SB_CTRL_MAX_] = { NULL };
        struct sock_fprog prog;
        struct clone_args args;
        struct sb_child_error cerr;
        int err_p[2] = { -1, -1 }, pidfd = -1, r;
        bool v2 = false;
        ssize_t n;
        long pid;

        sf_err_clear(err);
        for (int c = 0; c < SB_CTRL_MAX_; c++)
                p.cg_fd[c] = -1;
        if (!spec || !spec->argv || !spec->argv[0] || spec->pidfd < 0 || spec->pid <= 0)
                return sf_err_set(err, -EINVAL, "invalid arguments");
        if (spec->uid >= SANDBOX_UID_COUNT || spec->gid >= SANDBOX_UID_COUNT)
                return sf_err_set(err, -ERANGE, "uid/gid must be below %u", SANDBOX_UID_COUNT);
        if ((spec->caps & ~SANDBOX_CAPS_ALLOWED) || (spec->caps_ambient & ~spec->caps))
                return sf_err_set(err, -EPERM, "capabilities %#llx are beyond what a sandbox may keep",
                                  (unsigned long long) (spec->caps | spec->caps_ambient));
        if (spec->n_groups > SANDBOX_MAX_GROUPS)
                return sf_err_set(err, -E2BIG, "too many supplementary groups (max %d)", SANDBOX_MAX_GROUPS);
        for (size_t i = 0; i < spec->n_groups; i++)
                if (spec->groups[i] >= SANDBOX_UID_COUNT)
                        return sf_err_set(err, -ERANGE, "group %u must be below %u", spec->groups[i], SANDBOX_UID_COUNT);
        if (spec->cwd && spec->cwd[0] != '/')
                return sf_err_set(err, -EINVAL, "working directory '%s' must be absolute", spec->cwd);
        for (int i = 0; i < 3; i++)
                if (spec->stdio[i] >= 0 && isatty(spec->stdio[i]) && !spec->terminal)
                        return sf_err_set(err, -ENOTTY, "stdio %d is a terminal; pass a pipe or socket", i);
        r = sb_seccomp_builtin(&prog, err);
        if (r < 0)
                return r;

        p.pidfd = spec->pidfd;
        p.stdio[0] = spec->stdio[0];
        p.stdio[1] = spec->stdio[1];
        p.stdio[2] = spec->stdio[2];
        p.terminal = spec->terminal;
        p.cwd = spec->cwd ? spec->cwd : "/";
        p.creds = (struct sb_creds) { .uid = spec->uid, .gid = spec->gid, .groups = { spec->gid }, .n_groups = 1,
                                      .caps = spec->caps, .caps_ambient = spec->caps_ambient,
                                      .set_umask = spec->set_umask, .umask = spec->umask,
                                      .detached = spec->detached, .last_cap = sb_last_cap() };
        if (spec->n_groups) {
                memcpy(p.creds.groups, spec->groups, spec->n_groups * sizeof *spec->groups);
                p.creds.n_groups = spec->n_groups;
        }
        p.seccomp = &prog;
        p.extra_seccomp = spec->extra_seccomp;
        p.argv = spec->argv;
        p.envp = spec->envp;
        r = sb_exec_candidates(spec->argv[0], spec->envp, paths, &path_buf, err);
        if (r < 0)
                return r;
        p.exec_paths = paths;
        r = join_rlimits(&p, spec->pid, spec, err);
        if (r < 0)
                return r;

        if (spec->cgroup_path) {
                r = sb_cgroup_path_dirs(spec->cgroup_path, dirs, &v2, err);
                for (int c = 0; c < SB_CTRL_MAX_ && r >= 0; c++) {
                        char f[PATH_MAX];
                        if (!dirs[c])
                                continue;
                        r = xsnprintf(f, sizeof f, "%s/%s", dirs[c], v2 ? "cgroup.procs" : "tasks");
                        if (r >= 0 && (p.cg_fd[c] = open(f, O_WRONLY | O_CLOEXEC)) < 0)
                                r = sf_err_errno(err, -errno, "cannot join the sandbox's cgroup '%s'", dirs[c]);
                }
                if (r < 0)
                        goto out;
        }

        /* Our next child is born in the sandbox's pid namespace; we come
         * back to our own right after the clone. */
        self_pidns = open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC);
        if (self_pidns < 0 || pipe2(err_p, O_CLOEXEC) < 0) {
                r = sf_err_errno(err, -errno, "pipe");
                goto out;
        }
        p.err_fd = err_p[1];
        if (setns(spec->pidfd, CLONE_NEWPID) < 0) {
                r = sf_err_errno(err, -errno, "cannot enter the sandbox's pid namespace");
                goto out;
        }
        memset(&args, 0, sizeof args);
        args.flags = CLONE_PIDFD;
        args.pidfd = (uint64_t) (uintptr_t) &pidfd;
        args.exit_signal = SIGCHLD;
        pid = syscall(SYS_clone3, &args, sizeof args);
        if (pid == 0)
                sb_join_child(&p);
        if (setns(self_pidns, CLONE_NEWPID) < 0)
                abort(); /* cannot happen: it is our own */
        if (pid < 0) {
                r = sf_err_errno(err, -errno, "clone3 into the sandbox's pid namespace");
                goto out;
        }
        (void) close(TAKE_FD(err_p[1]));
        do
                n = read(err_p[0], &cerr, sizeof cerr);
        while (n < 0 && errno == EINTR);
        if (n != 0) {
                siginfo_t si;
                if (n == (ssize_t) sizeof cerr) {
                        r = -(cerr.err ? cerr.err : EIO);
                        if (cerr.step == SB_STEP_EXEC)
                                sf_err_errno(err, r, "exec: '%s'", spec->argv[0]);
                        else
                                sf_err_errno(err, r, "exec step '%s' failed", sb_step_name(cerr.step));
                } else
                        r = sf_err_errno(err, n < 0 ? -errno : -EIO, "reading the exec's start report");
                (void) syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
                while (waitid((idtype_t) P_PIDFD, (id_t) pidfd, &si, WEXITED) < 0 && errno == EINTR)
                        ;
                goto out;
        }
        *ret_pid = (pid_t) pid;
        if (ret_pidfd)
                *ret_pidfd = TAKE_FD(pidfd);
        r = 0;
out:
        for (int c = 0; c < SB_CTRL_MAX_; c++) {
                free(dirs[c]);
                if (p.cg_fd[c] >= 0)
                        (void) close(p.cg_fd[c]);
        }
        for (int i = 0; i < 2; i++)
                if (err_p[i] >= 0)
                        (void) close(err_p[i]);
        if (pidfd >= 0)
                (void) close(pidfd);
        return r;
}
