/* SPDX-License-Identifier: MIT */
/*
 * state, kill, delete, exec, ps, list, features: each opens the state
 * folder (locked), reads the status from the world (oci_state_open) and
 * acts, with runc's messages where engines match on them ("container does
 * not exist", "container not running", "cannot delete container ID that
 * is not stopped: running").
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cmd/oci.h"
#include "core/base/cleanup.h"
#include "core/base/util.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif
#define OCI_MAX_PIDS 65536

static int print_json(json_t *o)
{
        _cleanup_free_ char *text = o ? json_dumps(o, JSON_INDENT(2)) : NULL;

        json_decref(o);
        if (!text)
                return -ENOMEM;
        printf("%s\n", text);
        return fflush(stdout) == 0 ? 0 : -EIO;
}

int oci_cmd_state(struct oci_ctx *ctx, int argc, char **argv)
{
        struct oci_state st;
        struct sf_err err = { 0 };
        int r;

        if (argc != 2)
                return oci_error(ctx, "state needs exactly one container id");
        r = oci_state_open(ctx, argv[1], &st, &err);
        if (r >= 0 && print_json(oci_state_public(&st)) < 0)
                r = sf_err_set(&err, -EIO, "cannot print the state");
        oci_state_release(&st);
        return r < 0 ? oci_error(ctx, "%s", err.msg) : 0;
}

static int send_signal(pid_t pid, int sig)
{
        int fd = (int) syscall(SYS_pidfd_open, pid, 0), r = 0;

        if (fd < 0)
                return -errno;
        if (syscall(SYS_pidfd_send_signal, fd, sig, NULL, 0) < 0)
                r = -errno;
        (void) close(fd);
        return r;
}

int oci_cmd_kill(struct oci_ctx *ctx, int argc, char **argv)
{
        static const struct option opts[] = { { "all", no_argument, NULL, 'a' }, { NULL, 0, NULL, 0 } };
        struct oci_state st;
        struct sf_err err = { 0 };
        bool all = false;
        int c, r, sig = SIGTERM;

        optind = 1;
        opterr = 0;
        while ((c = getopt_long(argc, argv, "+a", opts, NULL)) != -1) {
                if (c != 'a')
                        return oci_error(ctx, "kill: unknown option '%s'", argv[optind - 1]);
                all = true;
        }
        if (optind >= argc || argc - optind > 2)
                return oci_error(ctx, "usage: kill [--all] ID [SIGNAL]");
        if (argc - optind == 2 && (sig = oci_parse_signal(argv[optind + 1])) < 0)
                return oci_error(ctx, "unknown signal '%s'", argv[optind + 1]);
        r = oci_state_open(ctx, argv[optind], &st, &err);
        if (r >= 0 && st.status == OCI_STOPPED)
                r = sf_err_set(&err, -ESRCH, "container not running");
        if (r >= 0 && all && st.cgroup_path) {
                _cleanup_free_ pid_t *pids = calloc(OCI_MAX_PIDS, sizeof *pids);
                size_t n = 0;
                r = pids ? sandbox_cgroup_procs(st.cgroup_path, pids, OCI_MAX_PIDS, &n, &err)
                         : sf_err_set(&err, -ENOMEM, "out of memory");
                for (size_t i = 0; r >= 0 && i < n; i++)
                        (void) send_signal(pids[i], sig);
        }
        if (r >= 0 && syscall(SYS_pidfd_send_signal, st.pidfd, sig, NULL, 0) < 0 && !(all && errno == ESRCH))
                r = sf_err_errno(&err, -errno, "cannot signal the container");
        oci_state_release(&st);
        return r < 0 ? oci_error(ctx, "%s", err.msg) : 0;
}

/* Wait (at most timeout_ms) for a process we do not parent to end. */
static bool wait_gone(int pidfd, int timeout_ms)
{
        struct pollfd p = { .fd = pidfd, .events = POLLIN };
        int n;

        while ((n = poll(&p, 1, timeout_ms)) < 0 && errno == EINTR)
                ;
        return n > 0;
}

static void poststop(struct oci_ctx *ctx, struct oci_state *st)
{
        _cleanup_free_ char *path = st->bundle[0] ? xasprintf("%s/config.json", st->bundle) : NULL;
        json_t *config = path ? json_load_file(path, 0, NULL) : NULL, *pub;
        struct sf_err err = { 0 };

        if (!config)
                return;
        pub = oci_state_public(st);
        if (pub && oci_run_hooks(ctx, config, "poststop", pub, &err) < 0)
                oci_warn(ctx, "%s", err.msg);
        json_decref(pub);
        json_decref(config);
}

int oci_cmd_delete(struct oci_ctx *ctx, int argc, char **argv)
{
        static const struct option opts[] = { { "force", no_argument, NULL, 'f' }, { NULL, 0, NULL, 0 } };
        struct oci_state st;
        struct oci_config cfg;
        struct sf_err err = { 0 };
        bool force = false;
        json_t *v;
        int c, r;

        optind = 1;
        opterr = 0;
        while ((c = getopt_long(argc, argv, "+f", opts, NULL)) != -1) {
                if (c != 'f')
                        return oci_error(ctx, "delete: unknown option '%s'", argv[optind - 1]);
                force = true;
        }
        if (optind != argc - 1)
                return oci_error(ctx, "delete needs exactly one container id");
        r = oci_state_open(ctx, argv[optind], &st, &err);
        if (r == -ENOENT) {
                /* a create that died half-way leaves a folder without state */
                if (st.dir_fd >= 0)
                        (void) oci_state_remove(ctx, argv[optind], st.dir_fd);
                oci_state_release(&st);
                return force ? 0 : oci_error(ctx, "container does not exist");
        }
        if (r < 0) {
                oci_state_release(&st);
                return oci_error(ctx, "%s", err.msg);
        }
        if (st.status == OCI_RUNNING && !force) {
                (void) oci_error(ctx, "cannot delete container %s that is not stopped: running", st.id);
                oci_state_release(&st);
                return OCI_EXIT_FAIL;
        }
        if (st.status != OCI_STOPPED) {
                (void) syscall(SYS_pidfd_send_signal, st.pidfd, SIGKILL, NULL, 0);
                if (!wait_gone(st.pidfd, 10000)) {
                        (void) oci_error(ctx, "container %s did not die within 10 s of SIGKILL", st.id);
                        oci_state_release(&st);
                        return OCI_EXIT_FAIL;
                }
                st.status = OCI_STOPPED;
        }
        if (st.cgroup_path && sandbox_cgroup_remove(st.cgroup_path, &err) < 0)
                oci_warn(ctx, "%s", err.msg);
        poststop(ctx, &st);
        v = json_object_get(st.json, "uid_base");
        if (json_is_integer(v) && oci_config_load(ctx, &cfg, &err) >= 0)
                oci_uid_free(&cfg, (uint32_t) json_integer_value(v));
        r = oci_state_remove(ctx, st.id, st.dir_fd);
        oci_state_release(&st);
        if (r < 0)
                return oci_error(ctx, "cannot remove the state of '%s': %s", argv[optind], strerror(-r));
        return 0;
}

static json_t *load_config(const char *bundle, struct sf_err *err)
{
        _cleanup_free_ char *path = xasprintf("%s/config.json", bundle);
        json_error_t je;
        json_t *o = path ? json_load_file(path, JSON_REJECT_DUPLICATES, &je) : NULL;

        if (!o)
                sf_err_set(err, -EIO, "cannot read the bundle's config.json ('%s'): %s", bundle,
                           path ? je.text : "out of memory");
        return o;
}

struct exec_opts {
        const char *process, *pid_file, *console_socket, *cwd, *user;
        bool detach, tty;
        json_t *env;   /* -e K=V, appended */
        json_t *caps;  /* --cap */
};

/* Without --process: the container's own process, with the command line's
 * args, env, cwd, user and tty (as runc exec does). */
static json_t *cli_process(json_t *config, const struct exec_opts *o, char **args, int n_args, struct sf_err *err)
{
        json_t *p = json_deep_copy(json_object_get(config, "process")), *a = json_array(), *env;
        size_t i;
        json_t *v;

        if (!p || !a) {
                json_decref(p);
                json_decref(a);
                sf_err_set(err, -ENOMEM, "out of memory");
                return NULL;
        }
        for (int k = 0; k < n_args; k++)
                (void) json_array_append_new(a, json_string(args[k]));
        (void) json_object_set_new(p, "args", a);
        env = json_object_get(p, "env");
        if (!json_is_array(env)) {
                env = json_array();
                (void) json_object_set_new(p, "env", env);
        }
        json_array_foreach(o->env, i, v)
                (void) json_array_append(env, v);
        if (o->cwd)
                (void) json_object_set_new(p, "cwd", json_string(o->cwd));
        (void) json_object_set_new(p, "terminal", json_boolean(o->tty));
        if (o->user) {
                unsigned long uid, gid;
                char *end;
                uid = strtoul(o->user, &end, 10);
                gid = *end == ':' ? strtoul(end + 1, &end, 10) : uid;
                if (*end || uid >= SANDBOX_UID_COUNT || gid >= SANDBOX_UID_COUNT) {
                        json_decref(p);
                        sf_err_set(err, -EINVAL, "bad --user '%s' (UID[:GID])", o->user);
                        return NULL;
                }
                (void) json_object_set_new(p, "user", json_pack("{s:I, s:I}", "uid", (json_int_t) uid, "gid",
                                                                (json_int_t) gid));
        }
        if (json_array_size(o->caps)) {
                json_t *caps = json_object_get(p, "capabilities");
                if (!json_is_object(caps)) {
                        caps = json_object();
                        (void) json_object_set_new(p, "capabilities", caps);
                }
                for (const char *const *set = (const char *const[]) { "bounding", "effective", "permitted", NULL };
                     *set; set++) {
                        json_t *s = json_object_get(caps, *set);
                        if (!json_is_array(s)) {
                                s = json_array();
                                (void) json_object_set_new(caps, *set, s);
                        }
                        json_array_foreach(o->caps, i, v)
                                (void) json_array_append(s, v);
                }
        }
        return p;
}

static int wait_exec(int pidfd, pid_t pid)
{
        _cleanup_close_ int sfd = -1;
        siginfo_t si;

        sfd = oci_forward_signals();
        for (;;) {
                struct pollfd p[2] = { { .fd = pidfd, .events = POLLIN }, { .fd = sfd, .events = POLLIN } };
                memset(&si, 0, sizeof si);
                if (waitid((idtype_t) P_PIDFD, (id_t) pidfd, &si, WEXITED | WNOHANG) == 0 && si.si_pid != 0)
                        break;
                if (poll(p, sfd >= 0 ? 2 : 1, -1) < 0 && errno != EINTR)
                        return OCI_EXIT_FAIL;
                if (sfd >= 0 && (p[1].revents & POLLIN)) {
                        struct signalfd_siginfo ss;
                        if (read(sfd, &ss, sizeof ss) == (ssize_t) sizeof ss)
                                (void) syscall(SYS_pidfd_send_signal, pidfd, (int) ss.ssi_signo, NULL, 0);
                }
        }
        (void) pid;
        return si.si_code == CLD_EXITED ? si.si_status : 128 + si.si_status;
}

int oci_cmd_exec(struct oci_ctx *ctx, int argc, char **argv)
{
        static const struct option opts[] = {
                { "process", required_argument, NULL, 'p' },   { "detach", no_argument, NULL, 'd' },
                { "pid-file", required_argument, NULL, 'P' },  { "console-socket", required_argument, NULL, 'c' },
                { "tty", no_argument, NULL, 't' },             { "cwd", required_argument, NULL, 'w' },
                { "env", required_argument, NULL, 'e' },       { "user", required_argument, NULL, 'u' },
                { "additional-gids", required_argument, NULL, 'g' }, { "cap", required_argument, NULL, 'C' },
                { "no-new-privs", no_argument, NULL, 'n' },    { "preserve-fds", required_argument, NULL, 'f' },
                { "process-label", required_argument, NULL, 'L' }, { "apparmor", required_argument, NULL, 'A' },
                { "ignore-paused", no_argument, NULL, 'I' },   { "cgroup", required_argument, NULL, 'G' },
                { NULL, 0, NULL, 0 },
        };
        struct exec_opts o = { 0 };
        _cleanup_json_ json_t *env = json_array(), *caps = json_array(), *config = NULL, *process = NULL;
        struct oci_spec spec;
        struct oci_state st;
        struct sandbox_join_spec js;
        struct sf_err err = { 0 };
        _cleanup_close_ int tty = -1;
        int c, r, pidfd = -1;
        pid_t pid = 0;
        uint64_t n;

        memset(&spec, 0, sizeof spec);
        o.env = env;
        o.caps = caps;
        optind = 1;
        opterr = 0;
        while ((c = getopt_long(argc, argv, "+p:dte:u:w:g:c:", opts, NULL)) != -1) {
                switch (c) {
                case 'p': o.process = optarg; break;
                case 'd': o.detach = true; break;
                case 'P': o.pid_file = optarg; break;
                case 'c': o.console_socket = optarg; break;
                case 't': o.tty = true; break;
                case 'w': o.cwd = optarg; break;
                case 'e': (void) json_array_append_new(env, json_string(optarg)); break;
                case 'u': o.user = optarg; break;
                case 'C': (void) json_array_append_new(caps, json_string(optarg)); break;
                case 'f':
                        if (parse_u64(optarg, &n) < 0 || n > 0)
                                return oci_error(ctx, "--preserve-fds %s: passing extra fds into a container is "
                                                 "not supported by sfaasd-runc", optarg);
                        break;
                case 'g': return oci_error(ctx, "exec --additional-gids: give them in --process");
                case 'n': case 'L': case 'A': case 'I': case 'G': break;
                default: return oci_error(ctx, "exec: unknown or incomplete option '%s'", argv[optind - 1]);
                }
        }
        if (optind >= argc)
                return oci_error(ctx, "exec needs a container id");
        if (!o.process && optind + 1 >= argc)
                return oci_error(ctx, "exec needs --process or a command");
        r = oci_state_open(ctx, argv[optind], &st, &err);
        if (r >= 0 && st.status != OCI_RUNNING)
                r = sf_err_set(&err, -ESRCH, "cannot exec in a %s container", oci_status_name(st.status));
        if (r >= 0 && !(config = load_config(st.bundle, &err)))
                r = -EIO;
        if (r >= 0 && o.process) {
                json_error_t je;
                process = json_load_file(o.process, JSON_REJECT_DUPLICATES, &je);
                if (!process)
                        r = sf_err_set(&err, -EINVAL, "--process '%s': %s", o.process, je.text);
        } else if (r >= 0 && !(process = cli_process(config, &o, argv + optind + 1, argc - optind - 1, &err)))
                r = -EINVAL;
        if (r >= 0)
                r = oci_process_load(process, &spec, &err);
        if (r >= 0 && json_object_get(json_object_get(config, "linux"), "seccomp")) {
                r = oci_seccomp_compile(json_object_get(json_object_get(config, "linux"), "seccomp"), &spec.seccomp,
                                        &err);
                if (r >= 0)
                        spec.sb.extra_seccomp = &spec.seccomp;
        }
        if (r >= 0 && spec.terminal) {
                if (!o.console_socket)
                        r = sf_err_set(&err, -EINVAL, "a terminal needs --console-socket");
                else
                        r = oci_console(o.console_socket, spec.rows, spec.cols, &tty, &err);
        }
        if (r < 0) {
                oci_spec_release(&spec);
                oci_state_release(&st);
                return oci_error(ctx, "%s", err.msg);
        }
        js = (struct sandbox_join_spec) {
                .pid = st.pid, .pidfd = st.pidfd, .cgroup_path = st.cgroup_path, .argv = spec.argv,
                .envp = spec.envp, .cwd = spec.cwd, .uid = spec.sb.uid, .gid = spec.sb.gid, .groups = spec.sb.groups,
                .n_groups = spec.sb.n_groups, .caps = spec.sb.caps, .caps_ambient = spec.sb.caps_ambient,
                .set_umask = spec.sb.set_umask, .umask = spec.sb.umask, .rlimits = spec.sb.rlimits,
                .n_rlimits = spec.sb.n_rlimits, .extra_seccomp = spec.sb.extra_seccomp, .terminal = spec.terminal,
                .detached = o.detach,
        };
        for (int i = 0; i < 3; i++)
                js.stdio[i] = spec.terminal ? tty : fcntl(i, F_GETFD) < 0 ? -1 : i;
        r = sandbox_join(&js, &pid, o.detach ? NULL : &pidfd, &err);
        if (r >= 0 && o.pid_file)
                r = oci_write_pid_file(o.pid_file, pid, &err);
        /* The container's lock is not held while its process runs. */
        oci_spec_release(&spec);
        oci_state_release(&st);
        if (r < 0) {
                if (pidfd >= 0) {
                        (void) syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
                        (void) close(pidfd);
                }
                return oci_error(ctx, "%s", err.msg);
        }
        if (o.detach)
                return 0;
        if (tty >= 0)
                (void) close(TAKE_FD(tty));
        r = wait_exec(pidfd, pid);
        (void) close(pidfd);
        return r;
}

int oci_cmd_ps(struct oci_ctx *ctx, int argc, char **argv)
{
        static const struct option opts[] = { { "format", required_argument, NULL, 'f' }, { NULL, 0, NULL, 0 } };
        _cleanup_free_ pid_t *pids = NULL;
        struct oci_state st;
        struct sf_err err = { 0 };
        bool json = false;
        size_t n = 0;
        int c, r;

        optind = 1;
        opterr = 0;
        while ((c = getopt_long(argc, argv, "+f:", opts, NULL)) != -1) {
                if (c != 'f' || (strcmp(optarg, "json") != 0 && strcmp(optarg, "table") != 0))
                        return oci_error(ctx, "ps: --format json|table");
                json = strcmp(optarg, "json") == 0;
        }
        if (optind >= argc)
                return oci_error(ctx, "ps needs a container id");
        pids = calloc(OCI_MAX_PIDS, sizeof *pids);
        if (!pids)
                return oci_error(ctx, "out of memory");
        r = oci_state_open(ctx, argv[optind], &st, &err);
        if (r >= 0 && st.cgroup_path)
                r = sandbox_cgroup_procs(st.cgroup_path, pids, OCI_MAX_PIDS, &n, &err);
        oci_state_release(&st);
        if (r < 0)
                return oci_error(ctx, "%s", err.msg);
        if (json) {
                json_t *a = json_array();
                for (size_t i = 0; a && i < n; i++)
                        (void) json_array_append_new(a, json_integer(pids[i]));
                return print_json(a) < 0 ? oci_error(ctx, "cannot print") : 0;
        }
        printf("PID\tCMD\n");
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *comm = NULL;
                char path[64];
                (void) xsnprintf(path, sizeof path, "/proc/%d/comm", (int) pids[i]);
                if (read_file_at(AT_FDCWD, path, 256, &comm, NULL) >= 0)
                        comm[strcspn(comm, "\n")] = '\0';
                printf("%d\t%s\n", (int) pids[i], comm ? comm : "?");
        }
        return 0;
}

int oci_cmd_list(struct oci_ctx *ctx, int argc, char **argv)
{
        static const struct option opts[] = { { "format", required_argument, NULL, 'f' },
                                              { "quiet", no_argument, NULL, 'q' }, { NULL, 0, NULL, 0 } };
        bool json = false, quiet = false;
        json_t *all = json_array();
        struct dirent *de;
        DIR *d;
        int c;

        optind = 1;
        opterr = 0;
        while ((c = getopt_long(argc, argv, "+f:q", opts, NULL)) != -1) {
                if (c == 'q')
                        quiet = true;
                else if (c == 'f' && (strcmp(optarg, "json") == 0 || strcmp(optarg, "table") == 0))
                        json = strcmp(optarg, "json") == 0;
                else {
                        json_decref(all);
                        return oci_error(ctx, "list: [--format json|table] [--quiet]");
                }
        }
        d = opendir(ctx->root);
        if (!quiet && !json)
                printf("ID\tPID\tSTATUS\tBUNDLE\tCREATED\tOWNER\n");
        while (d && (de = readdir(d))) {
                struct oci_state st;
                struct sf_err err = { 0 };
                if (de->d_name[0] == '.' || oci_state_open(ctx, de->d_name, &st, &err) < 0) {
                        oci_state_release(&st);
                        continue;
                }
                if (json)
                        (void) json_array_append_new(all, oci_state_public(&st));
                else if (quiet)
                        printf("%s\n", st.id);
                else
                        printf("%s\t%d\t%s\t%s\t%s\troot\n", st.id, st.status == OCI_STOPPED ? 0 : (int) st.pid,
                               oci_status_name(st.status), st.bundle, st.created);
                oci_state_release(&st);
        }
        if (d)
                (void) closedir(d);
        if (json)
                return print_json(all) < 0 ? oci_error(ctx, "cannot print") : 0;
        json_decref(all);
        return 0;
}

int oci_cmd_features(struct oci_ctx *ctx, int argc, char **argv)
{
        json_t *o = json_pack(
                "{s:s, s:s, s:[s,s,s,s], s:[s,s,s,s,s,s,s,s,s,s,s,s,s,s,s],"
                " s:{s:[s,s,s,s,s,s,s], s:[s,s,s,s,s,s,s,s,s,s,s],"
                "    s:{s:b, s:b, s:b, s:b, s:b},"
                "    s:{s:b, s:[s,s,s,s,s,s,s], s:[s,s,s,s,s,s,s], s:[s]},"
                "    s:{s:b}, s:{s:b}, s:{s:b}},"
                " s:{s:s, s:s, s:s}}",
                "ociVersionMin", "1.0.0", "ociVersionMax", OCI_VERSION,
                "hooks", "prestart", "createRuntime", "poststart", "poststop",
                "mountOptions", "bind", "rbind", "ro", "rro", "rw", "noexec", "exec", "nosuid", "nodev", "private",
                "rprivate", "size", "mode", "strictatime", "relatime",
                "linux",
                "namespaces", "cgroup", "ipc", "mount", "network", "pid", "user", "uts",
                "capabilities", "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
                "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_SETFCAP",
                "cgroup", "v1", 1, "v2", 1, "systemd", 0, "systemdUser", 0, "rdma", 0,
                "seccomp", "enabled", 1,
                "actions", "SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS",
                "SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG", "SCMP_ACT_TRAP",
                "operators", "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE", "SCMP_CMP_LT",
                "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE",
                "archs", "native",
                "apparmor", "enabled", 0, "selinux", "enabled", 0, "intelRdt", "enabled", 0,
                "annotations", "org.sfaasd.runtime", "sfaasd-runc " SFAASD_VERSION,
                "org.sfaasd.user-namespace", "always, host root unmapped",
                "org.sfaasd.seccomp", "built-in allowlist, the spec's profile stacked on it");

        (void) argc;
        (void) argv;
        return print_json(o) < 0 ? oci_error(ctx, "cannot print the features") : 0;
}
