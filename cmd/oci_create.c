/* SPDX-License-Identifier: MIT */
/*
 * create, start, run.
 *
 * create: the sandbox is made in full (namespaces, id-mapped rootfs,
 * mounts, cgroup, ids, capabilities, seccomp) and its init, already pid 1
 * under every protection, waits at the start gate (sandbox_spec.gated):
 * a FIFO in the state folder it holds open for reading and writing. create
 * returns once the init waits there (its pid in --pid-file), and the init
 * lives on as a child of whoever reaps for the engine (conmon, the
 * containerd shim: both are subreapers). start writes one byte into the
 * FIFO and removes it; the init then starts the container's process.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/nsfs.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd/oci.h"
#include "core/base/cleanup.h"
#include "core/base/timefmt.h"
#include "core/base/util.h"

struct create_opts {
        const char *bundle;
        const char *console_socket;
        const char *pid_file;
        bool detach;     /* run -d */
        bool keep;       /* run --keep */
};

struct created {
        struct oci_config cfg;
        struct oci_spec spec;
        struct sandbox_launcher *l;
        struct sandbox *sb;
        json_t *state;
        int dir_fd, gate_fd, netns_fd, tty;
        uint32_t uid_base;
        bool have_uid;
};

static void created_release(struct created *c)
{
        sandbox_free(c->sb);
        sandbox_launcher_free(c->l);
        oci_spec_release(&c->spec);
        json_decref(c->state);
        if (c->dir_fd >= 0)
                (void) close(c->dir_fd);
        if (c->gate_fd >= 0)
                (void) close(c->gate_fd);
        if (c->netns_fd >= 0)
                (void) close(c->netns_fd);
        if (c->tty >= 0)
                (void) close(c->tty);
        memset(c, 0, sizeof *c);
        c->dir_fd = c->gate_fd = c->netns_fd = c->tty = -1;
}

static int parse_flags(struct oci_ctx *ctx, int argc, char **argv, bool run, struct create_opts *o, const char **id)
{
        static const struct option opts[] = {
                { "bundle", required_argument, NULL, 'b' },   { "console-socket", required_argument, NULL, 'c' },
                { "pid-file", required_argument, NULL, 'p' }, { "no-pivot", no_argument, NULL, 'N' },
                { "no-new-keyring", no_argument, NULL, 'K' }, { "preserve-fds", required_argument, NULL, 'f' },
                { "detach", no_argument, NULL, 'd' },         { "keep", no_argument, NULL, 'k' },
                { "no-subreaper", no_argument, NULL, 'S' },   { NULL, 0, NULL, 0 },
        };
        uint64_t n;
        int c;

        memset(o, 0, sizeof *o);
        o->bundle = ".";
        optind = 1;
        opterr = 0;
        while ((c = getopt_long(argc, argv, "+b:d", opts, NULL)) != -1) {
                switch (c) {
                case 'b': o->bundle = optarg; break;
                case 'c': o->console_socket = optarg; break;
                case 'p': o->pid_file = optarg; break;
                case 'N': /* pivot_root always: nothing to give up */
                case 'K': /* keyctl is refused by seccomp anyway */
                case 'S': break;
                case 'f':
                        if (parse_u64(optarg, &n) < 0)
                                return oci_error(ctx, "bad --preserve-fds '%s'", optarg);
                        if (n > 0)
                                return oci_error(ctx, "--preserve-fds %s: passing extra fds into a container "
                                                 "is not supported by sfaasd-runc", optarg);
                        break;
                case 'd':
                        if (!run)
                                return oci_error(ctx, "unknown option '-d' for %s", argv[0]);
                        o->detach = true;
                        break;
                case 'k':
                        if (!run)
                                return oci_error(ctx, "unknown option '--keep' for %s", argv[0]);
                        o->keep = true;
                        break;
                default: return oci_error(ctx, "%s: unknown or incomplete option '%s'", argv[0], argv[optind - 1]);
                }
        }
        if (optind != argc - 1)
                return oci_error(ctx, "%s needs exactly one container id", argv[0]);
        *id = argv[optind];
        return 0;
}

/* An engine's network namespace: a network namespace, and not the host's. */
static int open_netns(const char *path, int *ret, struct sf_err *err)
{
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        struct stat st, host;

        if (fd < 0)
                return sf_err_errno(err, -errno, "network namespace '%s'", path);
        if (ioctl(fd, NS_GET_NSTYPE) != CLONE_NEWNET)
                return sf_err_set(err, -EINVAL, "'%s' is not a network namespace", path);
        if (fstat(fd, &st) < 0)
                return sf_err_errno(err, -errno, "network namespace '%s'", path);
        if ((stat("/proc/1/ns/net", &host) == 0 && st.st_dev == host.st_dev && st.st_ino == host.st_ino) ||
            (stat("/proc/self/ns/net", &host) == 0 && st.st_dev == host.st_dev && st.st_ino == host.st_ino))
                return sf_err_set(err, -EPERM, "the spec joins the host's network namespace (--network=host): "
                                  "refused, every container gets its own");
        *ret = TAKE_FD(fd);
        return 0;
}

static json_t *make_state(const char *id, const struct created *c, pid_t pid, uint64_t start)
{
        char now[TIME_RFC3339_MAX];
        json_t *annotations = json_object_get(c->spec.json, "annotations");

        time_rfc3339(time_unix_ns(), 9, now);
        /* "o" steals the reference: the spec's annotations get one more */
        annotations = json_is_object(annotations) ? json_incref(annotations) : json_object();
        return json_pack("{s:s, s:s, s:I, s:I, s:s, s:s, s:s, s:s, s:I, s:o}", "ociVersion", OCI_VERSION, "id", id,
                         "pid", (json_int_t) pid, "pid_start", (json_int_t) start, "bundle", c->spec.bundle,
                         "rootfs", c->spec.rootfs, "created", now, "cgroup_path", c->spec.cgroup_path, "uid_base",
                         (json_int_t) c->uid_base, "annotations", annotations);
}

static int do_create(struct oci_ctx *ctx, const struct create_opts *o, const char *id, bool detached,
                     struct created *c)
{
        struct sf_err err = { 0 };
        _cleanup_free_ char *state_path = NULL;
        struct oci_state pub;
        json_t *public;
        uint64_t start = 0;
        int r;

        memset(c, 0, sizeof *c);
        c->dir_fd = c->gate_fd = c->netns_fd = c->tty = -1;
        if (geteuid() != 0) {
                (void) oci_error(ctx, "sfaasd-runc needs root: it makes user namespaces with the container's own "
                                 "uid range and id-mapped mounts (rootless engines are not supported)");
                return -EPERM;
        }
        r = oci_config_load(ctx, &c->cfg, &err);
        if (r >= 0)
                r = oci_state_make(ctx, id, &c->dir_fd, &err);
        if (r < 0) {
                (void) oci_error(ctx, "%s", err.msg);
                return r;
        }
        state_path = xasprintf("%s/%s", ctx->root, id);
        r = state_path ? oci_spec_load(ctx, &c->cfg, o->bundle, id, &c->spec, &err)
                       : sf_err_set(&err, -ENOMEM, "out of memory");
        if (r >= 0)
                r = oci_uid_alloc(&c->cfg, state_path, &c->uid_base, &err);
        if (r < 0)
                goto fail;
        c->have_uid = true;
        c->spec.sb.uid_base = c->uid_base;

        if (c->spec.netns_path) {
                r = open_netns(c->spec.netns_path, &c->netns_fd, &err);
                if (r < 0)
                        goto fail;
                c->spec.sb.join_netns = true;
                c->spec.sb.netns_fd = c->netns_fd;
                /* The engine's namespace belongs to the host's user namespace,
                 * so CAP_NET_BIND_SERVICE inside ours does not reach it: give
                 * it the same meaning there when the process holds it (root
                 * holds the bounding set, another uid the ambient one). */
                if (((c->spec.sb.uid == 0 ? c->spec.sb.caps : c->spec.sb.caps_ambient) & (1ULL << 10)) &&
                    c->spec.n_sysctls < OCI_MAX_SYSCTLS &&
                    !json_object_get(json_object_get(json_object_get(c->spec.json, "linux"), "sysctl"),
                                     "net.ipv4.ip_unprivileged_port_start")) {
                        c->spec.sysctls[c->spec.n_sysctls++] = "net.ipv4.ip_unprivileged_port_start=0";
                        c->spec.sb.sysctls = c->spec.sysctls;
                        c->spec.sb.n_sysctls = c->spec.n_sysctls;
                }
        }

        if (c->spec.terminal) {
                if (!o->console_socket) {
                        r = sf_err_set(&err, -EINVAL, "process.terminal needs --console-socket");
                        goto fail;
                }
                r = oci_console(o->console_socket, c->spec.rows, c->spec.cols, &c->tty, &err);
                if (r < 0)
                        goto fail;
                c->spec.sb.terminal = true;
                for (int i = 0; i < 3; i++)
                        c->spec.sb.stdio[i] = c->tty;
        } else
                for (int i = 0; i < 3; i++)
                        c->spec.sb.stdio[i] = fcntl(i, F_GETFD) < 0 ? -1 : i;

        if (mkfifoat(c->dir_fd, "gate", 0600) < 0 ||
            (c->gate_fd = openat(c->dir_fd, "gate", O_RDWR | O_CLOEXEC | O_NOFOLLOW)) < 0) {
                r = sf_err_errno(&err, -errno, "cannot make the start gate");
                goto fail;
        }
        c->spec.sb.gated = true;
        c->spec.sb.gate_fd = c->gate_fd;
        c->spec.sb.detached = detached;

        r = sandbox_launcher_new(&(struct sandbox_launcher_config) { .one_shot = true,
                                                                     .cgroup_path = c->spec.cgroup_path },
                                 &c->l, &err);
        if (r >= 0)
                r = sandbox_spawn(c->l, &c->spec.sb, &c->sb, &err);
        if (r < 0)
                goto fail;
        (void) oci_pid_start(sandbox_pid(c->sb), &start);
        c->state = make_state(id, c, sandbox_pid(c->sb), start);
        if (!c->state) {
                r = sf_err_set(&err, -ENOMEM, "out of memory");
                goto fail;
        }
        r = oci_state_write(c->dir_fd, c->state, &err);
        if (r >= 0 && o->pid_file)
                r = oci_write_pid_file(o->pid_file, sandbox_pid(c->sb), &err);
        if (r < 0)
                goto fail;

        /* Host hooks, with the state an engine would see now. */
        pub = (struct oci_state) { .id = (char *) id, .json = c->state, .pid = sandbox_pid(c->sb),
                                   .bundle = c->spec.bundle, .rootfs = c->spec.rootfs,
                                   .created = json_string_value(json_object_get(c->state, "created")),
                                   .status = OCI_CREATED };
        public = oci_state_public(&pub);
        r = public ? oci_run_hooks(ctx, c->spec.json, "prestart", public, &err) : -ENOMEM;
        if (r >= 0)
                r = oci_run_hooks(ctx, c->spec.json, "createRuntime", public, &err);
        json_decref(public);
        if (r < 0)
                goto fail;
        return 0;
fail:
        (void) oci_error(ctx, "%s", err.msg[0] ? err.msg : strerror(-r));
        sandbox_free(TAKE_PTR(c->sb));
        if (c->have_uid)
                oci_uid_free(&c->cfg, c->uid_base);
        (void) oci_state_remove(ctx, id, c->dir_fd);
        created_release(c);
        return r == -EPERM ? -EPERM : -EIO;
}

int oci_cmd_create(struct oci_ctx *ctx, int argc, char **argv)
{
        struct create_opts o;
        struct created c;
        const char *id;
        int r = parse_flags(ctx, argc, argv, false, &o, &id);

        if (r != 0)
                return r;
        r = do_create(ctx, &o, id, true, &c);
        if (r < 0)
                return OCI_EXIT_FAIL;
        /* The sandbox runs on without us; our parent (or its subreaper)
         * inherits its init when we exit. */
        sandbox_detach(TAKE_PTR(c.sb));
        created_release(&c);
        return 0;
}

/* Open the gate: one byte, then the FIFO goes (the status is "running"). */
static int open_gate(int dir_fd, struct sf_err *err)
{
        _cleanup_close_ int fd = openat(dir_fd, "gate", O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW);

        if (fd < 0)
                return sf_err_errno(err, -errno, "cannot open the start gate");
        if (write(fd, "1", 1) != 1)
                return sf_err_errno(err, -errno, "cannot open the start gate");
        (void) unlinkat(dir_fd, "gate", 0);
        return 0;
}

static void poststart(struct oci_ctx *ctx, struct oci_state *st)
{
        _cleanup_free_ char *path = xasprintf("%s/config.json", st->bundle);
        json_t *config = path ? json_load_file(path, 0, NULL) : NULL, *pub;
        struct sf_err err = { 0 };

        if (!config)
                return;
        st->status = OCI_RUNNING;
        pub = oci_state_public(st);
        if (pub && oci_run_hooks(ctx, config, "poststart", pub, &err) < 0)
                oci_warn(ctx, "%s", err.msg);
        json_decref(pub);
        json_decref(config);
}

int oci_cmd_start(struct oci_ctx *ctx, int argc, char **argv)
{
        struct oci_state st;
        struct sf_err err = { 0 };
        int r;

        if (argc != 2)
                return oci_error(ctx, "start needs exactly one container id");
        r = oci_state_open(ctx, argv[1], &st, &err);
        if (r >= 0 && st.status == OCI_RUNNING)
                r = sf_err_set(&err, -EBUSY, "cannot start an already running container");
        else if (r >= 0 && st.status == OCI_STOPPED)
                r = sf_err_set(&err, -ESRCH, "cannot start a container that has stopped");
        if (r >= 0)
                r = open_gate(st.dir_fd, &err);
        if (r >= 0)
                poststart(ctx, &st);
        oci_state_release(&st);
        return r < 0 ? oci_error(ctx, "%s", err.msg) : 0;
}

/* run in the foreground: forward what a supervisor sends to the init (which
 * passes it on to the process), wait, report its status. */
static int run_foreground(struct oci_ctx *ctx, struct created *c, int *ret_status)
{
        _cleanup_close_ int sfd = -1;
        int r;

        sfd = oci_forward_signals();
        for (;;) {
                struct pollfd p[2] = { { .fd = sandbox_pidfd(c->sb), .events = POLLIN }, { .fd = sfd, .events = POLLIN } };
                r = sandbox_reap(c->sb, ret_status);
                if (r == 0)
                        return 0;
                if (r != -EAGAIN)
                        return oci_error(ctx, "cannot wait for the container: %s", strerror(-r));
                if (poll(p, sfd >= 0 ? 2 : 1, -1) < 0 && errno != EINTR)
                        return oci_error(ctx, "poll: %s", strerror(errno));
                if (sfd >= 0 && (p[1].revents & POLLIN)) {
                        struct signalfd_siginfo si;
                        if (read(sfd, &si, sizeof si) == (ssize_t) sizeof si)
                                (void) kill(sandbox_pid(c->sb), (int) si.ssi_signo);
                }
        }
}

int oci_cmd_run(struct oci_ctx *ctx, int argc, char **argv)
{
        struct create_opts o;
        struct created c;
        struct sf_err err = { 0 };
        const char *id;
        int r = parse_flags(ctx, argc, argv, true, &o, &id), status = 0;

        if (r != 0)
                return r;
        r = do_create(ctx, &o, id, o.detach, &c);
        if (r < 0)
                return OCI_EXIT_FAIL;
        r = open_gate(c.dir_fd, &err);
        if (r < 0) {
                (void) oci_error(ctx, "%s", err.msg);
                goto remove;
        }
        if (o.detach) {
                sandbox_detach(TAKE_PTR(c.sb));
                created_release(&c);
                return 0;
        }
        /* Others may look at it (state, kill, exec) while it runs. */
        (void) flock(c.dir_fd, LOCK_UN);
        if (run_foreground(ctx, &c, &status) != 0)
                r = -EIO;
        (void) flock(c.dir_fd, LOCK_EX);
        if (o.keep) {
                created_release(&c); /* kills nothing left: the init is gone */
                return r < 0 ? OCI_EXIT_FAIL : sandbox_exit_code(status);
        }
remove:
        sandbox_free(TAKE_PTR(c.sb));
        oci_uid_free(&c.cfg, c.uid_base);
        (void) oci_state_remove(ctx, id, c.dir_fd);
        created_release(&c);
        return r < 0 ? OCI_EXIT_FAIL : sandbox_exit_code(status);
}
