/* SPDX-License-Identifier: MIT */
/*
 * sfaasd run (--rootfs DIR | --image REF) [options] -- CMD [ARGS...]
 *
 * One command in one sandbox with the default policy. Exit status: the
 * command's (128+N when killed by signal N), 125 when the launcher failed,
 * 2 for a usage error (as crun and docker do).
 *
 * The caller's stdio is passed through as is when it is a pipe, socket or
 * file; a terminal is never passed in (TIOCSTI/TIOCLINUX injection into the
 * caller's session): it is relayed through a pipe by the poll loop below.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cmd/commands.h"
#include "core/base/cleanup.h"
#include "core/base/log.h"
#include "core/base/util.h"
#include "cmd/run_egress.h"
#include "sandbox/sandbox.h"

#define RUN_EXIT_LAUNCHER 125
#define RUN_HELP 1 /* run_parse(): the help was printed; exit 0 */
#define RUN_MAX_ENV 1024
/* --env values, the PATH and HOME defaults, the egress proxy's, the NULL end */
#define RUN_ENV_SLOTS (RUN_MAX_ENV + 3 + EGRESS_PROXY_ENV_N)
#define RUN_MAX_BINDS 64
#define RUN_DEFAULT_UID_BASE (1u << 30)
#define RUN_DEFAULT_DATA "./.sfaasd-data"
#define RUN_DEFAULT_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define RUN_MEMORY_MIN (1u << 20)
#define RUN_TMPFS_MIN 4096
#define RUN_USER_ARG_MAX 64 /* --user UID[:GID]; a longer value is refused as bad */
#define RUN_N_STDIO 3       /* stdin, stdout, stderr */
#define RELAY_BUF_SIZE 65536
#define IMAGE_ID_HEX_LEN 64 /* sha256, lower-case hex */

static void run_usage(FILE *f)
{
        fprintf(f,
                "usage: sfaasd run (--rootfs DIR | --image sha256:ID) [options] -- CMD [ARGS...]\n"
                "\n"
                "options:\n"
                "  --rootfs DIR        root filesystem (read-only, shared)\n"
                "  --image REF         image from the data dir: sha256:<id>\n"
                "  --data DIR          daemon data dir for --image (default ./.sfaasd-data)\n"
                "  --memory SIZE       memory limit (default 128Mi)\n"
                "  --pids N            max processes (default 64)\n"
                "  --cpu CPUS          cpu quota, e.g. 0.5 or 500m (default 1)\n"
                "  --timeout DURATION  wall clock limit, e.g. 10s (default none)\n"
                "  --tmpfs-size SIZE   size of /tmp (default 64Mi)\n"
                "  --env K=V           environment (repeatable)\n"
                "  --workdir DIR       working directory inside (default /)\n"
                "  --user UID[:GID]    user inside (default 0:0, without capabilities)\n"
                "  --uid-base N        host uid/gid mapped to 0 inside (default %u; never 0)\n"
                "  --hostname NAME     hostname inside (default sandbox)\n"
                "  --bind SRC:DST      read-only bind mount of a host path (repeatable)\n"
                "  --net none          network mode (only none: loopback only)\n"
                "  --egress GRANT      reach these destinations through a proxy in the sandbox's\n"
                "                      namespace (\"api.example.com:443, 10.0.0.0/8:5432\"; README \"Egress\")\n"
                "  --egress-allow CIDRS private ranges names may resolve to (as egress_allow)\n"
                "  --egress-resolve FILE pinned answers for names: {\"name\": [\"addr\", ...]}\n",
                RUN_DEFAULT_UID_BASE);
}

/* Say what is wrong with the command line; -EINVAL, which cmd_run() turns
 * into EXIT_USAGE. */
__attribute__((format(printf, 1, 2))) static int usage_error(const char *fmt, ...)
{
        va_list ap;
        fprintf(stderr, "sfaasd run: ");
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fprintf(stderr, " (see 'sfaasd run --help')\n");
        return -EINVAL;
}

static int parse_user(const char *s, uint32_t *uid, uint32_t *gid)
{
        char buf[RUN_USER_ARG_MAX];
        char *colon;
        uint64_t u, g;

        if (xsnprintf(buf, sizeof buf, "%s", s) < 0)
                return -EINVAL;
        colon = strchr(buf, ':');
        if (colon)
                *colon = '\0';
        if (parse_u64(buf, &u) < 0 || u >= SANDBOX_UID_COUNT)
                return -EINVAL;
        g = u;
        if (colon && (parse_u64(colon + 1, &g) < 0 || g >= SANDBOX_UID_COUNT))
                return -EINVAL;
        *uid = (uint32_t) u;
        *gid = (uint32_t) g;
        return 0;
}

/* sha256:<64 hex> -> <data>/images/<hex>/rootfs (absolute, complete). */
static int resolve_image(const char *ref, const char *data, char **ret)
{
        char path[PATH_MAX], done[PATH_MAX];
        const char *hex;
        char *abs;

        if (!str_startswith(ref, "sha256:")) {
                fprintf(stderr, "sfaasd run: --image by name needs the daemon's database; use sha256:ID or --rootfs\n");
                return -EINVAL;
        }
        hex = ref + STRLEN("sha256:");
        if (strlen(hex) != IMAGE_ID_HEX_LEN || strspn(hex, "0123456789abcdef") != IMAGE_ID_HEX_LEN) {
                fprintf(stderr, "sfaasd run: bad image id '%s' (want sha256:<64 lower-case hex>)\n", ref);
                return -EINVAL;
        }
        if (xsnprintf(path, sizeof path, "%s/images/%s/rootfs", data, hex) < 0 ||
            xsnprintf(done, sizeof done, "%s/images/%s/.complete", data, hex) < 0) {
                fprintf(stderr, "sfaasd run: data dir path too long\n");
                return -ENAMETOOLONG;
        }
        if (access(done, F_OK) < 0 || !(abs = realpath(path, NULL))) {
                fprintf(stderr, "sfaasd run: image '%s' not found in '%s'\n", ref, data);
                return -ENOENT;
        }
        *ret = abs;
        return 0;
}

/* ---- options ------------------------------------------------------------ */

/* What the command line asked for; spec points into the rest once
 * run_defaults() has run. */
struct run_opts {
        struct sandbox_spec spec;
        char *rootfs; /* realpath of --rootfs, or of --image's rootfs */
        const char *image, *data;
        char **env;   /* RUN_ENV_SLOTS, NULL-terminated */
        size_t n_env;
        bool have_path, have_home;
        struct sandbox_bind binds[RUN_MAX_BINDS];
        size_t n_binds;
        const char *egress, *egress_allow, *egress_resolve;
        char egress_vars[EGRESS_PROXY_ENV_N][64];
};

static int run_opts_init(struct run_opts *o)
{
        *o = (struct run_opts) {
                .spec = { .stdio = { 0, 1, 2 }, .uid_base = RUN_DEFAULT_UID_BASE },
                .data = RUN_DEFAULT_DATA,
        };
        o->env = calloc(RUN_ENV_SLOTS, sizeof *o->env);
        if (!o->env) {
                fprintf(stderr, "sfaasd run: out of memory\n");
                return -ENOMEM;
        }
        return 0;
}

static void run_opts_release(struct run_opts *o)
{
        free(o->rootfs);
        free(o->env);
        o->rootfs = NULL;
        o->env = NULL;
}

/* The options whose value is a number, a quantity or an id. 1 when c is
 * one of them and its value is good, 0 when c is another option,
 * -EINVAL (said) for a bad value. */
static int run_option_number(struct run_opts *o, int c, const char *arg)
{
        struct sandbox_limits *lim = &o->spec.limits;
        uint64_t v;

        switch (c) {
        case 'm':
                if (parse_size(arg, &lim->memory_bytes) < 0 || lim->memory_bytes < RUN_MEMORY_MIN)
                        return usage_error("bad --memory '%s' (at least 1Mi)", arg);
                return 1;
        case 'p':
                if (parse_u64(arg, &lim->pids) < 0 || lim->pids == 0)
                        return usage_error("bad --pids '%s'", arg);
                return 1;
        case 'c':
                if (parse_cpu_millis(arg, &lim->cpu_millis) < 0 || lim->cpu_millis == 0)
                        return usage_error("bad --cpu '%s'", arg);
                return 1;
        case 't':
                if (parse_duration_ms(arg, &lim->timeout_ms) < 0 || lim->timeout_ms == 0)
                        return usage_error("bad --timeout '%s'", arg);
                return 1;
        case 'T':
                if (parse_size(arg, &lim->tmpfs_bytes) < 0 || lim->tmpfs_bytes < RUN_TMPFS_MIN)
                        return usage_error("bad --tmpfs-size '%s'", arg);
                return 1;
        case 'u':
                if (parse_user(arg, &o->spec.uid, &o->spec.gid) < 0)
                        return usage_error("bad --user '%s' (want UID[:GID] below 65536)", arg);
                return 1;
        case 'b':
                if (parse_u64(arg, &v) < 0 || v == 0 || v + SANDBOX_UID_COUNT > UINT32_MAX)
                        return usage_error("bad --uid-base '%s' (host root is never mapped: must be > 0)", arg);
                o->spec.uid_base = (uint32_t) v;
                return 1;
        default:
                return 0;
        }
}

/* --rootfs is resolved at once, so a bad one is reported before any later
 * option (exit RUN_EXIT_LAUNCHER, as a launcher failure). realpath() fails
 * with EINVAL only for a NULL path, so its error never reads as a usage
 * error. */
static int run_set_rootfs(struct run_opts *o, const char *arg)
{
        int r;

        free(o->rootfs);
        o->rootfs = realpath(arg, NULL);
        if (!o->rootfs) {
                r = -errno;
                fprintf(stderr, "sfaasd run: rootfs '%s': %s\n", arg, strerror(-r));
                return r;
        }
        return 0;
}

static int run_add_env(struct run_opts *o, char *arg)
{
        if (!strchr(arg, '=') || arg[0] == '=')
                return usage_error("bad --env '%s' (want K=V)", arg);
        if (o->n_env >= RUN_MAX_ENV)
                return usage_error("too many --env (max %d)", RUN_MAX_ENV);
        o->have_path |= str_startswith(arg, "PATH=");
        o->have_home |= str_startswith(arg, "HOME=");
        o->env[o->n_env++] = arg;
        return 0;
}

/* SRC:DST, split in place at the first ':'. */
static int run_add_bind(struct run_opts *o, char *arg)
{
        char *colon = strchr(arg, ':');

        if (!colon || colon == arg || !colon[1] || o->n_binds >= RUN_MAX_BINDS)
                return usage_error("bad --bind '%s' (want SRC:DST)", arg);
        *colon = '\0';
        o->binds[o->n_binds++] = (struct sandbox_bind) { .src = arg, .dst = colon + 1 };
        return 0;
}

/* Every other option; 0 or -errno (said). */
static int run_option(struct run_opts *o, int c, char **argv)
{
        switch (c) {
        case 'r': return run_set_rootfs(o, optarg);
        case 'i': o->image = optarg; return 0;
        case 'D': o->data = optarg; return 0;
        case 'e': return run_add_env(o, optarg);
        case 'w':
                if (optarg[0] != '/')
                        return usage_error("--workdir '%s' must be absolute", optarg);
                o->spec.workdir = optarg;
                return 0;
        case 'n':
                if (strcmp(optarg, "none") != 0)
                        return usage_error("--net '%s': only 'none' is supported", optarg);
                return 0;
        case 'H': o->spec.hostname = optarg; return 0;
        case 'E': o->egress = optarg; return 0;
        case 'A': o->egress_allow = optarg; return 0;
        case 'R': o->egress_resolve = optarg; return 0;
        case 'B': return run_add_bind(o, optarg);
        default:
                return usage_error("unknown or incomplete option '%s'", argv[optind - 1]);
        }
}

/* The options up to the command (getopt "+": the first non-option ends
 * them; optind is then the command's index). 0, RUN_HELP after printing the
 * help, -EINVAL for a usage error, another -errno for a --rootfs that cannot
 * be resolved or no memory; each said on stderr. */
static int run_parse(struct run_opts *o, int argc, char **argv)
{
        static const struct option opts[] = {
                { "rootfs", required_argument, NULL, 'r' },  { "image", required_argument, NULL, 'i' },
                { "data", required_argument, NULL, 'D' },    { "memory", required_argument, NULL, 'm' },
                { "pids", required_argument, NULL, 'p' },    { "cpu", required_argument, NULL, 'c' },
                { "timeout", required_argument, NULL, 't' }, { "tmpfs-size", required_argument, NULL, 'T' },
                { "env", required_argument, NULL, 'e' },     { "workdir", required_argument, NULL, 'w' },
                { "user", required_argument, NULL, 'u' },    { "uid-base", required_argument, NULL, 'b' },
                { "net", required_argument, NULL, 'n' },     { "hostname", required_argument, NULL, 'H' },
                { "bind", required_argument, NULL, 'B' },    { "help", no_argument, NULL, 'h' },
                { "egress", required_argument, NULL, 'E' },  { "egress-allow", required_argument, NULL, 'A' },
                { "egress-resolve", required_argument, NULL, 'R' },
                { NULL, 0, NULL, 0 },
        };
        int c, r;

        optind = 1;
        opterr = 0;
        while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
                if (c == 'h') {
                        run_usage(stdout);
                        return RUN_HELP;
                }
                r = run_option_number(o, c, optarg);
                if (r == 0)
                        r = run_option(o, c, argv);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int run_validate(const struct run_opts *o, int argc)
{
        if (optind >= argc)
                return usage_error("no command given");
        if (!!o->rootfs == !!o->image)
                return usage_error("give exactly one of --rootfs and --image");
        return 0;
}

/* PATH and HOME unless given, and the spec's pointers to what o holds. */
static void run_defaults(struct run_opts *o, char **cmd)
{
        if (!o->have_path)
                o->env[o->n_env++] = RUN_DEFAULT_PATH;
        if (!o->have_home)
                o->env[o->n_env++] = "HOME=/";
        o->spec.rootfs = o->rootfs;
        o->spec.argv = cmd;
        o->spec.envp = o->env;
        o->spec.binds = o->binds;
        o->spec.n_binds = o->n_binds;
}

/* ---- stdio -------------------------------------------------------------- */

/* One direction of a terminal relay with a small buffer. */
struct relay {
        int in, out;
        char buf[RELAY_BUF_SIZE];
        size_t len, off;
        bool eof, active;
};

static void relay_pump(struct relay *r, short revents_in, short revents_out)
{
        if (r->len == 0 && (revents_in & (POLLIN | POLLHUP | POLLERR))) {
                ssize_t n = read(r->in, r->buf, sizeof r->buf);
                if (n > 0) {
                        r->len = (size_t) n;
                        r->off = 0;
                } else if (n == 0 || (errno != EINTR && errno != EAGAIN))
                        r->eof = true;
        }
        if (r->len > 0 && (revents_out & (POLLOUT | POLLERR | POLLHUP))) {
                ssize_t n = write(r->out, r->buf + r->off, r->len);
                if (n > 0) {
                        r->off += (size_t) n;
                        r->len -= (size_t) n;
                } else if (n < 0 && errno != EINTR && errno != EAGAIN) {
                        r->len = 0;
                        r->eof = true;
                }
        }
}

/* Copy whatever is left in a sandbox->terminal pipe (all writers are gone
 * once the pid namespace is dead, so this ends). */
static void relay_drain(struct relay *r)
{
        while (r->active && !r->eof) {
                if (r->len == 0)
                        relay_pump(r, POLLIN, 0);
                if (r->len > 0 && write_all(r->out, r->buf + r->off, r->len) < 0)
                        r->eof = true;
                r->len = 0;
        }
}

/* The caller's stdio as the sandbox gets it: a relay and a pipe in place
 * of each terminal. */
struct run_stdio {
        struct relay relays[RUN_N_STDIO];
        int pipes[RUN_N_STDIO][2];
};
#define RUN_STDIO_INIT { .pipes = { { -1, -1 }, { -1, -1 }, { -1, -1 } } }

static void run_stdio_release(struct run_stdio *st)
{
        for (int i = 0; i < RUN_N_STDIO; i++)
                for (int j = 0; j < 2; j++)
                        if (st->pipes[i][j] >= 0)
                                (void) close(TAKE_FD(st->pipes[i][j]));
}

/* stdio: closed -> /dev/null; terminal -> relayed pipe. */
static int run_plan_stdio(struct run_stdio *st, struct sandbox_spec *spec)
{
        int r;

        for (int i = 0; i < RUN_N_STDIO; i++) {
                if (fcntl(i, F_GETFD) < 0) {
                        spec->stdio[i] = -1;
                        continue;
                }
                if (!isatty(i))
                        continue;
                if (pipe2(st->pipes[i], O_CLOEXEC) < 0) {
                        r = -errno;
                        fprintf(stderr, "sfaasd run: pipe: %s\n", strerror(-r));
                        return r;
                }
                st->relays[i].active = true;
                if (i == 0) {
                        st->relays[i].in = 0;
                        st->relays[i].out = st->pipes[i][1];
                        spec->stdio[i] = st->pipes[i][0];
                        (void) fcntl(st->pipes[i][1], F_SETFL, O_NONBLOCK);
                } else {
                        st->relays[i].in = st->pipes[i][0];
                        st->relays[i].out = i;
                        spec->stdio[i] = st->pipes[i][1];
                }
        }
        return 0;
}

/* Our copies of the sandbox's pipe ends go, so EOF can happen. */
static void run_stdio_close_sandbox_ends(struct run_stdio *st)
{
        if (st->pipes[0][0] >= 0)
                (void) close(TAKE_FD(st->pipes[0][0]));
        for (int i = 1; i < RUN_N_STDIO; i++)
                if (st->pipes[i][1] >= 0)
                        (void) close(TAKE_FD(st->pipes[i][1]));
}

/* ---- spawn, wait, report ------------------------------------------------ */

DEFINE_TRIVIAL_CLEANUP_FUNC(struct sandbox *, sandbox_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(struct sandbox_launcher *, sandbox_launcher_free)

/* Signals become events; the sandbox is killed and cleaned up first. */
static int run_signalfd(int *ret_fd)
{
        sigset_t sigs;
        int fd, r;

        (void) sigemptyset(&sigs);
        (void) sigaddset(&sigs, SIGINT);
        (void) sigaddset(&sigs, SIGTERM);
        (void) sigaddset(&sigs, SIGHUP);
        (void) sigaddset(&sigs, SIGQUIT);
        (void) sigprocmask(SIG_BLOCK, &sigs, NULL);
        fd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK);
        if (fd < 0) {
                r = -errno;
                fprintf(stderr, "sfaasd run: signalfd: %s\n", strerror(-r));
                return r;
        }
        *ret_fd = fd;
        return 0;
}

/* A one-shot launcher and the sandbox of o's spec in it; with --egress,
 * its network namespace made first with the proxy listening in it. */
static int run_spawn(struct run_opts *o, struct sandbox_launcher **ret_l, struct sandbox **ret_sb,
                     struct run_egress **ret_eg)
{
        _cleanup_(sandbox_launcher_freep) struct sandbox_launcher *l = NULL;
        _cleanup_close_ int netns = -1;
        struct sandbox_spec *spec = &o->spec;
        struct sf_err err = { 0 };
        int r;

        r = sandbox_launcher_new(&(struct sandbox_launcher_config) { .one_shot = true }, &l, &err);
        if (r < 0) {
                fprintf(stderr, "sfaasd run: %s\n", err.msg);
                return r;
        }
        if (o->egress) {
                r = run_egress_start(l, o->egress, o->egress_resolve, o->egress_allow, ret_eg, &netns,
                                     o->egress_vars);
                if (r < 0)
                        return r;
                for (size_t i = 0; i < EGRESS_PROXY_ENV_N; i++)
                        o->env[o->n_env++] = o->egress_vars[i];
                spec->net = SANDBOX_NET_GIVEN;
                spec->netns_fd = netns;
        }
        r = sandbox_spawn(l, spec, ret_sb, &err);
        if (r < 0) {
                fprintf(stderr, "sfaasd run: %s\n", err.msg);
                return r;
        }
        *ret_l = TAKE_PTR(l);
        return 0;
}

/* A running sandbox and what cmd_run() waits for around it. */
struct run_wait {
        struct sandbox *sb;
        struct run_stdio *st;
        int sfd;           /* the signalfd of run_signalfd() */
        uint64_t deadline; /* now_ns() at which the sandbox is killed; 0: never */
        bool timed_out;
        int got_signal;    /* the signal that made us kill it; 0: none */
        int status;        /* wait status, once reaped */
};

/* What one poll() watches: the pidfd, the signalfd, then each relay in the
 * direction it moves next. */
enum { RUN_POLL_PIDFD, RUN_POLL_SIGNAL, RUN_POLL_RELAYS };
#define RUN_POLL_MAX (RUN_POLL_RELAYS + RUN_N_STDIO)

struct run_pollset {
        struct pollfd pfd[RUN_POLL_MAX];
        struct relay *owner[RUN_POLL_MAX];
        bool is_in[RUN_POLL_MAX];
        nfds_t n;
};

static void run_pollset_fill(struct run_pollset *ps, struct run_wait *w)
{
        *ps = (struct run_pollset) { .n = 0 };
        ps->pfd[ps->n++] = (struct pollfd) { .fd = sandbox_pidfd(w->sb), .events = POLLIN };
        ps->pfd[ps->n++] = (struct pollfd) { .fd = w->sfd, .events = POLLIN };
        for (int i = 0; i < RUN_N_STDIO; i++) {
                struct relay *rl = &w->st->relays[i];
                if (!rl->active || rl->eof)
                        continue;
                ps->owner[ps->n] = rl;
                ps->is_in[ps->n] = rl->len == 0;
                ps->pfd[ps->n++] = (struct pollfd) { .fd = rl->len == 0 ? rl->in : rl->out,
                                                     .events = rl->len == 0 ? POLLIN : POLLOUT };
        }
}

/* Kill the sandbox once its deadline has passed; true when that happens
 * now (the caller then reaps instead of polling). */
static bool run_deadline_passed(struct run_wait *w)
{
        if (!w->deadline || w->timed_out || now_ns() < w->deadline)
                return false;
        w->timed_out = true;
        (void) sandbox_kill(w->sb);
        return true;
}

/* poll()'s timeout: until the deadline (rounded up to a millisecond), else
 * none (-1). */
static int run_poll_timeout(const struct run_wait *w)
{
        uint64_t now;

        if (!w->deadline || w->timed_out)
                return -1;
        now = now_ns();
        return now >= w->deadline ? 0 : (int) ((w->deadline - now + 999999) / 1000000);
}

static void run_poll_events(struct run_wait *w, const struct run_pollset *ps)
{
        struct run_stdio *st = w->st;

        if (ps->pfd[RUN_POLL_SIGNAL].revents & POLLIN) {
                struct signalfd_siginfo si;
                if (read(w->sfd, &si, sizeof si) == (ssize_t) sizeof si) {
                        w->got_signal = (int) si.ssi_signo;
                        (void) sandbox_kill(w->sb);
                }
        }
        for (nfds_t k = RUN_POLL_RELAYS; k < ps->n; k++)
                if (ps->owner[k] && ps->pfd[k].revents)
                        relay_pump(ps->owner[k], ps->is_in[k] ? ps->pfd[k].revents : 0,
                                   ps->is_in[k] ? 0 : ps->pfd[k].revents);
        /* End of terminal input: the sandbox sees EOF on its stdin. */
        if (st->relays[0].active && st->relays[0].eof && st->pipes[0][1] >= 0)
                (void) close(TAKE_FD(st->pipes[0][1]));
}

/* Relay the terminals until the sandbox is reaped; 0, or -errno (said)
 * when poll() fails. */
static int run_wait(struct run_wait *w)
{
        struct run_pollset ps;
        int r;

        for (;;) {
                if (sandbox_reap(w->sb, &w->status) == 0)
                        return 0;
                if (run_deadline_passed(w))
                        continue;
                run_pollset_fill(&ps, w);
                if (poll(ps.pfd, ps.n, run_poll_timeout(w)) < 0 && errno != EINTR) {
                        r = -errno;
                        fprintf(stderr, "sfaasd run: poll: %s\n", strerror(-r));
                        return r;
                }
                run_poll_events(w, &ps);
        }
}

/* The rest of the sandbox's output, and why it was killed. */
static void run_report(struct run_wait *w, const struct sandbox_spec *spec)
{
        for (int i = 1; i < RUN_N_STDIO; i++)
                relay_drain(&w->st->relays[i]);
        if (w->timed_out)
                fprintf(stderr, "sfaasd run: timed out after %llu ms; killed\n",
                        (unsigned long long) spec->limits.timeout_ms);
}

int cmd_run(int argc, char **argv)
{
        _cleanup_(run_opts_release) struct run_opts o = { 0 };
        _cleanup_(run_stdio_release) struct run_stdio st = RUN_STDIO_INIT;
        _cleanup_close_ int sfd = -1;
        _cleanup_(sandbox_launcher_freep) struct sandbox_launcher *l = NULL;
        _cleanup_(sandbox_freep) struct sandbox *sb = NULL;
        struct run_egress *eg = NULL;
        struct run_wait w;
        int r, code;

        if (run_opts_init(&o) < 0)
                return RUN_EXIT_LAUNCHER;
        r = run_parse(&o, argc, argv);
        if (r != 0)
                return r == RUN_HELP ? EXIT_SUCCESS : r == -EINVAL ? EXIT_USAGE : RUN_EXIT_LAUNCHER;
        if (run_validate(&o, argc) < 0)
                return EXIT_USAGE;
        if (o.image && resolve_image(o.image, o.data, &o.rootfs) < 0)
                return RUN_EXIT_LAUNCHER;
        run_defaults(&o, argv + optind);

        if (run_plan_stdio(&st, &o.spec) < 0 || run_signalfd(&sfd) < 0 || run_spawn(&o, &l, &sb, &eg) < 0) {
                run_egress_stop(eg);
                return RUN_EXIT_LAUNCHER;
        }
        run_stdio_close_sandbox_ends(&st);
        w = (struct run_wait) { .sb = sb, .st = &st, .sfd = sfd };
        if (o.spec.limits.timeout_ms)
                w.deadline = now_ns() + o.spec.limits.timeout_ms * 1000000ULL;
        if (run_wait(&w) < 0) {
                run_egress_stop(eg);
                return RUN_EXIT_LAUNCHER;
        }
        run_report(&w, &o.spec);
        run_egress_stop(eg);
        /* The command's exit code as a shell gives it; 128+N when we
         * killed it for our signal N. */
        code = w.got_signal ? 128 + w.got_signal : sandbox_exit_code(w.status);
        return code;
}
