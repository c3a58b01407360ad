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
#include "sandbox/sandbox.h"

#define RUN_EXIT_LAUNCHER 125
#define RUN_EXIT_USAGE 2
#define RUN_MAX_ENV 1024
#define RUN_MAX_BINDS 64
#define RUN_DEFAULT_UID_BASE (1u << 30)

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
                "  --net none          network mode (only none: loopback only)\n",
                RUN_DEFAULT_UID_BASE);
}

__attribute__((format(printf, 1, 2))) static int usage_error(const char *fmt, ...)
{
        va_list ap;
        fprintf(stderr, "sfaasd run: ");
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fprintf(stderr, " (see 'sfaasd run --help')\n");
        return RUN_EXIT_USAGE;
}

static int parse_user(const char *s, uint32_t *uid, uint32_t *gid)
{
        char buf[64];
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
        hex = ref + 7;
        if (strlen(hex) != 64 || strspn(hex, "0123456789abcdef") != 64) {
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

/* One direction of a terminal relay with a small buffer. */
struct relay {
        int in, out;
        char buf[65536];
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

int cmd_run(int argc, char **argv)
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
                { NULL, 0, NULL, 0 },
        };
        struct sandbox_spec spec = { .stdio = { 0, 1, 2 }, .uid_base = RUN_DEFAULT_UID_BASE };
        _cleanup_free_ char **env = NULL;
        _cleanup_free_ char *rootfs = NULL;
        struct sandbox_bind binds[RUN_MAX_BINDS];
        const char *image = NULL, *data = "./.sfaasd-data";
        size_t n_env = 0, n_binds = 0;
        bool have_path = false, have_home = false;
        struct relay relays[3];
        int pipes[3][2] = { { -1, -1 }, { -1, -1 }, { -1, -1 } };
        struct sandbox_launcher *l = NULL;
        struct sandbox *sb = NULL;
        struct sf_err err = { 0 };
        _cleanup_close_ int sfd = -1;
        sigset_t sigs, oldsigs;
        uint64_t v, deadline = 0;
        int c, r, status = 0, exit_code = RUN_EXIT_LAUNCHER, got_signal = 0;
        bool timed_out = false;

        env = calloc(RUN_MAX_ENV + 3, sizeof *env);
        if (!env) {
                fprintf(stderr, "sfaasd run: out of memory\n");
                return RUN_EXIT_LAUNCHER;
        }
        optind = 1;
        opterr = 0;
        while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
                switch (c) {
                case 'r':
                        free(rootfs);
                        rootfs = realpath(optarg, NULL);
                        if (!rootfs) {
                                fprintf(stderr, "sfaasd run: rootfs '%s': %s\n", optarg, strerror(errno));
                                return RUN_EXIT_LAUNCHER;
                        }
                        break;
                case 'i': image = optarg; break;
                case 'D': data = optarg; break;
                case 'm':
                        if (parse_size(optarg, &spec.limits.memory_bytes) < 0 || spec.limits.memory_bytes < (1u << 20))
                                return usage_error("bad --memory '%s' (at least 1Mi)", optarg);
                        break;
                case 'p':
                        if (parse_u64(optarg, &spec.limits.pids) < 0 || spec.limits.pids == 0)
                                return usage_error("bad --pids '%s'", optarg);
                        break;
                case 'c':
                        if (parse_cpu_millis(optarg, &spec.limits.cpu_millis) < 0 || spec.limits.cpu_millis == 0)
                                return usage_error("bad --cpu '%s'", optarg);
                        break;
                case 't':
                        if (parse_duration_ms(optarg, &spec.limits.timeout_ms) < 0 || spec.limits.timeout_ms == 0)
                                return usage_error("bad --timeout '%s'", optarg);
                        break;
                case 'T':
                        if (parse_size(optarg, &spec.limits.tmpfs_bytes) < 0 || spec.limits.tmpfs_bytes < 4096)
                                return usage_error("bad --tmpfs-size '%s'", optarg);
                        break;
                case 'e':
                        if (!strchr(optarg, '=') || optarg[0] == '=')
                                return usage_error("bad --env '%s' (want K=V)", optarg);
                        if (n_env >= RUN_MAX_ENV)
                                return usage_error("too many --env (max %d)", RUN_MAX_ENV);
                        have_path |= str_startswith(optarg, "PATH=");
                        have_home |= str_startswith(optarg, "HOME=");
                        env[n_env++] = optarg;
                        break;
                case 'w':
                        if (optarg[0] != '/')
                                return usage_error("--workdir '%s' must be absolute", optarg);
                        spec.workdir = optarg;
                        break;
                case 'u':
                        if (parse_user(optarg, &spec.uid, &spec.gid) < 0)
                                return usage_error("bad --user '%s' (want UID[:GID] below 65536)", optarg);
                        break;
                case 'b':
                        if (parse_u64(optarg, &v) < 0 || v == 0 || v + SANDBOX_UID_COUNT > UINT32_MAX)
                                return usage_error("bad --uid-base '%s' (host root is never mapped: must be > 0)",
                                                   optarg);
                        spec.uid_base = (uint32_t) v;
                        break;
                case 'n':
                        if (strcmp(optarg, "none") != 0)
                                return usage_error("--net '%s': only 'none' is supported", optarg);
                        break;
                case 'H': spec.hostname = optarg; break;
                case 'B': {
                        char *colon = strchr(optarg, ':');
                        if (!colon || colon == optarg || !colon[1] || n_binds >= RUN_MAX_BINDS)
                                return usage_error("bad --bind '%s' (want SRC:DST)", optarg);
                        *colon = '\0';
                        binds[n_binds++] = (struct sandbox_bind) { .src = optarg, .dst = colon + 1 };
                        break;
                }
                case 'h': run_usage(stdout); return 0;
                default:
                        return usage_error("unknown or incomplete option '%s'", argv[optind - 1]);
                }
        }
        if (optind >= argc)
                return usage_error("no command given");
        if (!!rootfs == !!image)
                return usage_error("give exactly one of --rootfs and --image");
        if (image && resolve_image(image, data, &rootfs) < 0)
                return RUN_EXIT_LAUNCHER;
        if (!have_path)
                env[n_env++] = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
        if (!have_home)
                env[n_env++] = "HOME=/";
        spec.rootfs = rootfs;
        spec.argv = argv + optind;
        spec.envp = env;
        spec.binds = binds;
        spec.n_binds = n_binds;

        /* stdio: closed -> /dev/null; terminal -> relayed pipe. */
        memset(relays, 0, sizeof relays);
        for (int i = 0; i < 3; i++) {
                if (fcntl(i, F_GETFD) < 0) {
                        spec.stdio[i] = -1;
                        continue;
                }
                if (!isatty(i))
                        continue;
                if (pipe2(pipes[i], O_CLOEXEC) < 0) {
                        fprintf(stderr, "sfaasd run: pipe: %s\n", strerror(errno));
                        goto out;
                }
                relays[i].active = true;
                if (i == 0) {
                        relays[i].in = 0;
                        relays[i].out = pipes[i][1];
                        spec.stdio[i] = pipes[i][0];
                        (void) fcntl(pipes[i][1], F_SETFL, O_NONBLOCK);
                } else {
                        relays[i].in = pipes[i][0];
                        relays[i].out = i;
                        spec.stdio[i] = pipes[i][1];
                }
        }

        /* Signals become events; the sandbox is killed and cleaned up first. */
        (void) sigemptyset(&sigs);
        (void) sigaddset(&sigs, SIGINT);
        (void) sigaddset(&sigs, SIGTERM);
        (void) sigaddset(&sigs, SIGHUP);
        (void) sigaddset(&sigs, SIGQUIT);
        (void) sigprocmask(SIG_BLOCK, &sigs, &oldsigs);
        sfd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK);
        if (sfd < 0) {
                fprintf(stderr, "sfaasd run: signalfd: %s\n", strerror(errno));
                goto out;
        }

        r = sandbox_launcher_new(&(struct sandbox_launcher_config) { .one_shot = true }, &l, &err);
        if (r < 0) {
                fprintf(stderr, "sfaasd run: %s\n", err.msg);
                goto out;
        }
        r = sandbox_spawn(l, &spec, &sb, &err);
        if (r < 0) {
                fprintf(stderr, "sfaasd run: %s\n", err.msg);
                goto out;
        }
        /* Our copies of the sandbox's pipe ends go, so EOF can happen. */
        if (pipes[0][0] >= 0)
                (void) close(TAKE_FD(pipes[0][0]));
        for (int i = 1; i < 3; i++)
                if (pipes[i][1] >= 0)
                        (void) close(TAKE_FD(pipes[i][1]));

        if (spec.limits.timeout_ms)
                deadline = now_ns() + spec.limits.timeout_ms * 1000000ULL;
        for (;;) {
                struct pollfd pfd[8];
                struct relay *owner[8] = { NULL };
                bool is_in[8] = { false };
                nfds_t n = 0;
                int timeout = -1;

                r = sandbox_reap(sb, &status);
                if (r == 0)
                        break;
                pfd[n++] = (struct pollfd) { .fd = sandbox_pidfd(sb), .events = POLLIN };
                pfd[n++] = (struct pollfd) { .fd = sfd, .events = POLLIN };
                for (int i = 0; i < 3; i++) {
                        struct relay *rl = &relays[i];
                        if (!rl->active || rl->eof)
                                continue;
                        owner[n] = rl;
                        is_in[n] = rl->len == 0;
                        pfd[n++] = (struct pollfd) { .fd = rl->len == 0 ? rl->in : rl->out,
                                                     .events = rl->len == 0 ? POLLIN : POLLOUT };
                }
                if (deadline && !timed_out) {
                        uint64_t now = now_ns();
                        if (now >= deadline) {
                                timed_out = true;
                                (void) sandbox_kill(sb);
                                continue;
                        }
                        timeout = (int) ((deadline - now + 999999) / 1000000);
                }
                if (poll(pfd, n, timeout) < 0 && errno != EINTR) {
                        fprintf(stderr, "sfaasd run: poll: %s\n", strerror(errno));
                        goto out;
                }
                if (pfd[1].revents & POLLIN) {
                        struct signalfd_siginfo si;
                        if (read(sfd, &si, sizeof si) == (ssize_t) sizeof si) {
                                got_signal = (int) si.ssi_signo;
                                (void) sandbox_kill(sb);
                        }
                }
                for (nfds_t k = 2; k < n; k++)
                        if (owner[k] && pfd[k].revents)
                                relay_pump(owner[k], is_in[k] ? pfd[k].revents : 0, is_in[k] ? 0 : pfd[k].revents);
                /* End of terminal input: the sandbox sees EOF on its stdin. */
                if (relays[0].active && relays[0].eof && pipes[0][1] >= 0)
                        (void) close(TAKE_FD(pipes[0][1]));
        }
        for (int i = 1; i < 3; i++)
                relay_drain(&relays[i]);
        if (timed_out)
                fprintf(stderr, "sfaasd run: timed out after %llu ms; killed\n",
                        (unsigned long long) spec.limits.timeout_ms);
        exit_code = got_signal ? 128 + got_signal : sandbox_exit_code(status);
out:
        sandbox_free(sb);
        sandbox_launcher_free(l);
        for (int i = 0; i < 3; i++)
                for (int j = 0; j < 2; j++)
                        if (pipes[i][j] >= 0)
                                (void) close(pipes[i][j]);
        return exit_code;
}
