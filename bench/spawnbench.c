/* SPDX-License-Identifier: MIT */
/*
 * spawnbench: the sandbox launcher measured inside one long-lived process,
 * the way the daemon uses it, without exec'ing any runtime binary.
 *
 *   spawnbench --rootfs DIR [-n N] [-w WARMUP] [-p PAR] [--netns-pool] [--no-cgroups]
 *              [--mode seq|proc|thread|oneshot|once] [-o OUT.json] [-- CMD ARGS...]
 *
 * Each worker calls sandbox_launcher_new() once, then loops:
 *   t0  sandbox_spawn(CMD)          (default policy, every protection on)
 *   t1  spawn returned: the command has been exec'd
 *       poll(pidfd) + sandbox_reap  (the command ran and exited)
 *   t2  exited and reaped           -> "spawn-to-exit" = t2 - t0
 *       sandbox_free                (cgroup leaf removed)
 *   t3                              -> "cycle" = t3 - t0
 * Throughput is counted over the whole measured loop (spawns / wall time,
 * every cost included). Warm-up iterations are run and discarded.
 *
 * Parallel modes: "proc" forks PAR worker processes (each with its own
 * launcher, as separate daemons would); "thread" runs PAR threads in this
 * process, each with its own launcher and cgroup subtree. The workers start
 * together on a barrier (a pipe closed by the parent) and the rate is the
 * total of measured spawns over (last end - first start).
 *
 * "oneshot" mode is what one `sfaasd run` does, minus loading the binary:
 * each iteration forks a fresh process that calls sandbox_launcher_new,
 * spawns, waits, frees the sandbox and the launcher, timing each phase (so
 * the per-launcher costs, seccomp compilation, the cgroup subtree and the
 * id-mapping user namespace, are paid every time). It also times
 * sandbox_seccomp_probe() alone: the policy compilation with libseccomp in
 * builds that compile it at run time, only a check of the built-in program
 * in builds that generate it at build time.
 *
 * "once" mode is one launcher, one sandbox, no output: exactly the launcher
 * calls of `sfaasd run`, from a binary that links only libc, libseccomp and
 * libcap (bench/coldstart times it as the diagnostic runner "launcher-min",
 * to separate the launcher's cost from loading the sfaasd binary).
 *
 * Output: a human summary on stdout; raw samples (ns) as JSON with -o.
 * Exit status 0 only when every spawn ran CMD to a zero exit.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/base/error.h"
#include "core/base/util.h"
#include "sandbox/sandbox.h"

#define MAX_PAR 16

/* --no-cgroups: a diagnostic only (what the cgroup work costs); the launcher
 * documents no_cgroups as "for tests only, never the default". */
static bool no_cgroups;

struct worker {
        int index;
        const char *rootfs;
        char *const *argv;
        bool netns_pool;
        int barrier_fd;      /* read end; EOF = go; -1 = no barrier */
        long warmup, n;
        /* results (in shared memory for proc mode) */
        uint64_t *to_exit;   /* n samples */
        uint64_t *spawn;     /* n samples: until sandbox_spawn returned */
        uint64_t *cycle;     /* n samples: including sandbox_free */
        uint64_t start_ns, end_ns;
        long failures;
        char errmsg[640];
};

static uint64_t mono_ns(void)
{
        struct timespec ts;
        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000000ULL + (uint64_t) ts.tv_nsec;
}

static int one_spawn(struct sandbox_launcher *l, const struct worker *w, uint64_t *ret_spawn,
                     uint64_t *ret_exit, uint64_t *ret_cycle, struct sf_err *err)
{
        static char *const envp[] = { "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                                      "HOME=/", NULL };
        struct sandbox_spec spec = {
                .rootfs = w->rootfs,
                .argv = w->argv,
                .envp = envp,
                .uid_base = 1u << 30,
                .stdio = { -1, -1, -1 },
        };
        struct sandbox *sb = NULL;
        uint64_t t0, t1, t2, t3;
        int r, status = -1;

        t0 = mono_ns();
        r = sandbox_spawn(l, &spec, &sb, err);
        if (r < 0)
                return r;
        t1 = mono_ns();
        for (;;) {
                struct pollfd pfd = { .fd = sandbox_pidfd(sb), .events = POLLIN };
                r = sandbox_reap(sb, &status);
                if (r == 0)
                        break;
                if (r != -EAGAIN) {
                        sandbox_free(sb);
                        return sf_err_errno(err, r, "sandbox_reap");
                }
                if (poll(&pfd, 1, -1) < 0 && errno != EINTR) {
                        r = -errno;
                        sandbox_free(sb);
                        return sf_err_errno(err, r, "poll");
                }
        }
        t2 = mono_ns();
        sandbox_free(sb);
        t3 = mono_ns();
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                return sf_err_set(err, -EIO, "command exited with wait status 0x%x", (unsigned) status);
        *ret_spawn = t1 - t0;
        *ret_exit = t2 - t0;
        *ret_cycle = t3 - t0;
        return 0;
}

static void *worker_run(void *arg)
{
        struct worker *w = arg;
        struct sandbox_launcher_config cfg = { .netns_pool = w->netns_pool, .no_cgroups = no_cgroups };
        struct sandbox_launcher *l = NULL;
        struct sf_err err = { 0 };
        char subtree[64];
        uint64_t a, b, c;
        int r;

        (void) snprintf(subtree, sizeof subtree, "sfaasd-bench-%d-%d", (int) getpid(), w->index);
        cfg.cgroup_subtree = subtree;
        r = sandbox_launcher_new(&cfg, &l, &err);
        if (r < 0) {
                (void) snprintf(w->errmsg, sizeof w->errmsg, "sandbox_launcher_new: %s", err.msg);
                w->failures = 1;
                return NULL;
        }
        for (long i = 0; i < w->warmup; i++) {
                r = one_spawn(l, w, &a, &b, &c, &err);
                if (r < 0) {
                        (void) snprintf(w->errmsg, sizeof w->errmsg, "warm-up spawn: %s", err.msg);
                        w->failures++;
                        goto out;
                }
        }
        if (w->barrier_fd >= 0) {
                char ch;
                while (read(w->barrier_fd, &ch, 1) < 0 && errno == EINTR)
                        ;
        }
        w->start_ns = mono_ns();
        for (long i = 0; i < w->n; i++) {
                r = one_spawn(l, w, &w->spawn[i], &w->to_exit[i], &w->cycle[i], &err);
                if (r < 0) {
                        (void) snprintf(w->errmsg, sizeof w->errmsg, "spawn %ld: %s", i, err.msg);
                        w->failures++;
                        w->n = i;
                        break;
                }
        }
        w->end_ns = mono_ns();
out:
        sandbox_launcher_free(l);
        return NULL;
}

static int cmp_u64(const void *x, const void *y)
{
        uint64_t a = *(const uint64_t *) x, b = *(const uint64_t *) y;
        return a < b ? -1 : a > b;
}

/* Nearest-rank percentile of a sorted array. */
static double pct_ms(const uint64_t *sorted, long n, double p)
{
        long k;
        if (n <= 0)
                return 0;
        k = (long) (p / 100.0 * (double) n + 0.999999) - 1;
        if (k < 0)
                k = 0;
        if (k >= n)
                k = n - 1;
        return (double) sorted[k] / 1e6;
}

static void json_array(FILE *f, const char *name, const uint64_t *v, long n, bool comma)
{
        fprintf(f, "\"%s\": [", name);
        for (long i = 0; i < n; i++)
                fprintf(f, "%s%llu", i ? "," : "", (unsigned long long) v[i]);
        fprintf(f, "]%s", comma ? ", " : "");
}

/* The config `sfaasd run` uses (NULL: subtree "sfaasd-<pid>") but for the
 * subtree's name: on a shared host, dead processes (killed daemons, tests)
 * leave stale "sfaasd-<pid>" subtrees behind, and a fresh process that
 * reuses such a pid fails sandbox_launcher_new with EEXIST. The bench's
 * own prefix keeps the same work (one mkdir per hierarchy) without that. */
static const struct sandbox_launcher_config *bench_launcher_config(void)
{
        static char name[64];
        static struct sandbox_launcher_config cfg;
        (void) snprintf(name, sizeof name, "sfaasd-bench-%d", (int) getpid());
        /* one_shot as in cmd/run.c: without it every start re-walks the stale
         * subtrees of other launchers on the host (12 ms here), a cost
         * `sfaasd run` does not pay. */
        cfg = (struct sandbox_launcher_config) { .cgroup_subtree = name, .no_cgroups = no_cgroups,
                                                 .one_shot = true };
        return &cfg;
}

enum { PH_NEW, PH_SPAWN, PH_EXIT, PH_FREE, PH_LFREE, PH_TOTAL, PH_SECCOMP, PH_MAX_ };
static const char *const ph_names[PH_MAX_] = {
        [PH_NEW] = "launcher_new_ns",    [PH_SPAWN] = "spawn_returned_ns", [PH_EXIT] = "wait_exit_ns",
        [PH_FREE] = "sandbox_free_ns",   [PH_LFREE] = "launcher_free_ns",  [PH_TOTAL] = "fork_to_reaped_ns",
        [PH_SECCOMP] = "seccomp_probe_ns",
};

/* One `sfaasd run` worth of launcher work in a fresh forked process. */
static int oneshot_child(const struct worker *w, uint64_t *ph)
{
        struct sandbox_launcher *l = NULL;
        struct sf_err err = { 0 };
        uint64_t t0, t1, t2, t3, t4, t5;
        struct sandbox_spec spec;
        static char *const envp[] = { "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                                      "HOME=/", NULL };
        struct sandbox *sb = NULL;
        int status = -1;

        t0 = mono_ns();
        if (sandbox_launcher_new(bench_launcher_config(), &l, &err) < 0) {
                fprintf(stderr, "spawnbench: sandbox_launcher_new: %s\n", err.msg);
                return 1;
        }
        t1 = mono_ns();
        spec = (struct sandbox_spec) { .rootfs = w->rootfs, .argv = w->argv, .envp = envp,
                                       .uid_base = 1u << 30, .stdio = { -1, -1, -1 } };
        if (sandbox_spawn(l, &spec, &sb, &err) < 0) {
                fprintf(stderr, "spawnbench: sandbox_spawn: %s\n", err.msg);
                sandbox_launcher_free(l);
                return 1;
        }
        t2 = mono_ns();
        if (sandbox_wait(sb, &status, NULL) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                fprintf(stderr, "spawnbench: command failed (status 0x%x)\n", (unsigned) status);
                sandbox_free(sb);
                sandbox_launcher_free(l);
                return 1;
        }
        t3 = mono_ns();
        sandbox_free(sb);
        t4 = mono_ns();
        sandbox_launcher_free(l);
        t5 = mono_ns();
        ph[PH_NEW] = t1 - t0;
        ph[PH_SPAWN] = t2 - t1;
        ph[PH_EXIT] = t3 - t2;
        ph[PH_FREE] = t4 - t3;
        ph[PH_LFREE] = t5 - t4;
        return 0;
}

/* `sfaasd run --rootfs R -- CMD` minus argument parsing and stdio relaying;
 * stdio is /dev/null. Exits with the command's exit code, 125 on failure. */
static int run_once(const char *rootfs, char *const *argv)
{
        static char *const envp[] = { "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                                      "HOME=/", NULL };
        struct sandbox_spec spec = { .rootfs = rootfs, .argv = argv, .envp = envp, .uid_base = 1u << 30,
                                     .stdio = { -1, -1, -1 } };
        struct sandbox_launcher *l = NULL;
        struct sandbox *sb = NULL;
        struct sf_err err = { 0 };
        int status = 0, code;

        if (sandbox_launcher_new(bench_launcher_config(), &l, &err) < 0 || sandbox_spawn(l, &spec, &sb, &err) < 0) {
                fprintf(stderr, "spawnbench: %s\n", err.msg);
                sandbox_launcher_free(l);
                return 125;
        }
        code = sandbox_wait(sb, &status, NULL) < 0 ? 125 : sandbox_exit_code(status);
        sandbox_free(sb);
        sandbox_launcher_free(l);
        return code;
}

static int cmp_u64(const void *x, const void *y);
static double pct_ms(const uint64_t *sorted, long n, double p);

static int run_oneshot(struct worker *w, const char *out, const char *label)
{
        long total = w->warmup + w->n, failures = 0;
        uint64_t *ph = mmap(NULL, sizeof(uint64_t) * PH_MAX_ * (size_t) total, PROT_READ | PROT_WRITE,
                            MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        uint64_t *col;
        struct sf_err err = { 0 };

        if (ph == MAP_FAILED) {
                perror("mmap");
                return 1;
        }
        for (long i = 0; i < total; i++) {
                uint64_t *row = ph + i * PH_MAX_, t0, t1;
                size_t insns;
                int st;
                pid_t pid;

                t0 = mono_ns();
                pid = fork();
                if (pid < 0) {
                        perror("fork");
                        return 1;
                }
                if (pid == 0)
                        _exit(oneshot_child(w, row));
                while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
                        ;
                t1 = mono_ns();
                row[PH_TOTAL] = t1 - t0;
                if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
                        failures++;
                        break;
                }
                t0 = mono_ns();
                if (sandbox_seccomp_probe(&insns, &err) < 0) {
                        fprintf(stderr, "spawnbench: seccomp probe: %s\n", err.msg);
                        failures++;
                        break;
                }
                row[PH_SECCOMP] = mono_ns() - t0;
        }
        if (failures)
                return 1;
        /* Column-major copy of the measured rows, then per-phase stats. */
        col = calloc((size_t) w->n, sizeof *col);
        if (!col)
                return 1;
        FILE *f = out ? fopen(out, "we") : NULL;
        if (out && !f) {
                perror(out);
                return 1;
        }
        if (f)
                fprintf(f, "{\"label\": \"%s\", \"mode\": \"oneshot\", \"warmup\": %ld, \"n\": %ld",
                        label ? label : "oneshot", w->warmup, w->n);
        printf("%-22s n=%-6ld (fresh process per sandbox, as `sfaasd run` without loading the binary)\n",
               label ? label : "oneshot", w->n);
        for (int k = 0; k < PH_MAX_; k++) {
                for (long i = 0; i < w->n; i++)
                        col[i] = ph[(w->warmup + i) * PH_MAX_ + (size_t) k];
                if (f) {
                        fprintf(f, ", ");
                        json_array(f, ph_names[k], col, w->n, false);
                }
                qsort(col, (size_t) w->n, sizeof *col, cmp_u64);
                printf("    %-20s median %7.3f ms  p90 %7.3f ms\n", ph_names[k], pct_ms(col, w->n, 50),
                       pct_ms(col, w->n, 90));
        }
        if (f) {
                fprintf(f, "}\n");
                if (fclose(f) != 0) {
                        perror(out);
                        return 1;
                }
        }
        free(col);
        return 0;
}

/* A count argument; -1 (rejected by the caller) when malformed. */
static long parse_count(const char *s)
{
        uint64_t v;
        if (parse_u64(s, &v) < 0 || v > 100000000)
                return -1;
        return (long) v;
}

static void usage(FILE *f)
{
        fprintf(f, "usage: spawnbench --rootfs DIR [-n N] [-w WARMUP] [-p PAR] [--mode seq|proc|thread|oneshot|once]\n"
                   "                  [--netns-pool] [--no-cgroups] [-o OUT.json] [--label TEXT] [-- CMD ARGS...]\n");
}

int main(int argc, char **argv)
{
        static const struct option opts[] = {
                { "rootfs", required_argument, NULL, 'r' }, { "iterations", required_argument, NULL, 'n' },
                { "warmup", required_argument, NULL, 'w' }, { "parallel", required_argument, NULL, 'p' },
                { "mode", required_argument, NULL, 'm' },   { "netns-pool", no_argument, NULL, 'P' },
                { "no-cgroups", no_argument, NULL, 'G' },
                { "out", required_argument, NULL, 'o' },    { "label", required_argument, NULL, 'l' },
                { "help", no_argument, NULL, 'h' },         { NULL, 0, NULL, 0 },
        };
        static char *default_cmd[] = { "/bin/true", NULL };
        const char *rootfs = NULL, *out = NULL, *mode = "seq", *label = NULL;
        long n = 2000, warmup = 50, par = 1, total_n = 0, failures = 0;
        bool pool = false;
        char *const *cmd = default_cmd;
        struct worker *ws;
        uint64_t *all_exit, *all_spawn, *all_cycle, first = UINT64_MAX, last = 0;
        size_t shm_size;
        void *shm;
        int c, barrier[2] = { -1, -1 };

        while ((c = getopt_long(argc, argv, "+r:n:w:p:m:o:l:h", opts, NULL)) != -1) {
                switch (c) {
                case 'r': rootfs = optarg; break;
                case 'n': n = parse_count(optarg); break;
                case 'w': warmup = parse_count(optarg); break;
                case 'p': par = parse_count(optarg); break;
                case 'm': mode = optarg; break;
                case 'P': pool = true; break;
                case 'G': no_cgroups = true; break;
                case 'o': out = optarg; break;
                case 'l': label = optarg; break;
                case 'h': usage(stdout); return 0;
                default: usage(stderr); return 2;
                }
        }
        if (optind < argc)
                cmd = argv + optind;
        if (!rootfs || rootfs[0] != '/' || n <= 0 || warmup < 0 || par < 1 || par > MAX_PAR ||
            (strcmp(mode, "seq") && strcmp(mode, "proc") && strcmp(mode, "thread") && strcmp(mode, "oneshot") &&
             strcmp(mode, "once"))) {
                usage(stderr);
                return 2;
        }
        if (strcmp(mode, "once") == 0)
                return run_once(rootfs, cmd);
        if (strcmp(mode, "seq") == 0 || strcmp(mode, "oneshot") == 0)
                par = 1;
        if (strcmp(mode, "oneshot") == 0) {
                struct worker w = { .rootfs = rootfs, .argv = cmd, .warmup = warmup, .n = n };
                return run_oneshot(&w, out, label);
        }

        /* Workers and their samples in one shared mapping, so forked workers
         * can hand their results back without a serialization step. */
        shm_size = sizeof *ws * (size_t) par + 3 * sizeof(uint64_t) * (size_t) (n * par);
        shm = mmap(NULL, shm_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (shm == MAP_FAILED) {
                perror("mmap");
                return 1;
        }
        ws = shm;
        all_exit = (uint64_t *) (ws + par);
        all_spawn = all_exit + n * par;
        all_cycle = all_spawn + n * par;
        if (par > 1 && pipe2(barrier, O_CLOEXEC) < 0) {
                perror("pipe2");
                return 1;
        }
        for (long i = 0; i < par; i++)
                ws[i] = (struct worker) {
                        .index = (int) i, .rootfs = rootfs, .argv = cmd, .netns_pool = pool,
                        .barrier_fd = barrier[0],
                        .warmup = warmup, .n = n, .to_exit = all_exit + i * n, .spawn = all_spawn + i * n,
                        .cycle = all_cycle + i * n,
                };

        if (strcmp(mode, "seq") == 0) {
                worker_run(&ws[0]);
        } else if (strcmp(mode, "thread") == 0) {
                pthread_t th[MAX_PAR];
                for (long i = 0; i < par; i++)
                        if (pthread_create(&th[i], NULL, worker_run, &ws[i]) != 0) {
                                fprintf(stderr, "pthread_create failed\n");
                                return 1;
                        }
                /* Warm-up is per worker; the barrier opens when all are
                 * started. A worker still warming up starts late, which only
                 * lowers the measured rate (conservative). */
                (void) close(barrier[1]);
                for (long i = 0; i < par; i++)
                        (void) pthread_join(th[i], NULL);
        } else {
                pid_t pids[MAX_PAR];
                for (long i = 0; i < par; i++) {
                        pids[i] = fork();
                        if (pids[i] < 0) {
                                perror("fork");
                                return 1;
                        }
                        if (pids[i] == 0) {
                                (void) close(barrier[1]);
                                worker_run(&ws[i]);
                                _exit(0);
                        }
                }
                (void) close(barrier[1]);
                for (long i = 0; i < par; i++) {
                        int st;
                        while (waitpid(pids[i], &st, 0) < 0 && errno == EINTR)
                                ;
                }
        }

        /* Compact the per-worker samples. */
        for (long i = 0; i < par; i++) {
                struct worker *w = &ws[i];
                if (w->failures)
                        fprintf(stderr, "spawnbench: worker %ld: %s\n", i, w->errmsg);
                failures += w->failures;
                memmove(all_exit + total_n, w->to_exit, sizeof(uint64_t) * (size_t) w->n);
                memmove(all_spawn + total_n, w->spawn, sizeof(uint64_t) * (size_t) w->n);
                memmove(all_cycle + total_n, w->cycle, sizeof(uint64_t) * (size_t) w->n);
                total_n += w->n;
                if (w->n > 0) {
                        if (w->start_ns < first)
                                first = w->start_ns;
                        if (w->end_ns > last)
                                last = w->end_ns;
                }
        }
        if (total_n == 0) {
                fprintf(stderr, "spawnbench: no successful spawn\n");
                return 1;
        }
        {
                double wall_s = (double) (last - first) / 1e9, rate = (double) total_n / wall_s;
                if (out) {
                        FILE *f = fopen(out, "we");
                        if (!f) {
                                perror(out);
                                return 1;
                        }
                        fprintf(f, "{\"label\": \"%s\", \"mode\": \"%s\", \"parallel\": %ld, \"netns_pool\": %s, "
                                   "\"warmup_per_worker\": %ld, \"n\": %ld, \"failures\": %ld, "
                                   "\"wall_ns\": %llu, \"rate_per_s\": %.1f, ",
                                label ? label : mode, mode, par, pool ? "true" : "false", warmup, total_n,
                                failures, (unsigned long long) (last - first), rate);
                        json_array(f, "spawn_to_exit_ns", all_exit, total_n, true);
                        json_array(f, "spawn_returned_ns", all_spawn, total_n, true);
                        json_array(f, "cycle_ns", all_cycle, total_n, false);
                        fprintf(f, "}\n");
                        if (fclose(f) != 0) {
                                perror(out);
                                return 1;
                        }
                }
                qsort(all_exit, (size_t) total_n, sizeof *all_exit, cmp_u64);
                qsort(all_spawn, (size_t) total_n, sizeof *all_spawn, cmp_u64);
                qsort(all_cycle, (size_t) total_n, sizeof *all_cycle, cmp_u64);
                printf("%-22s n=%-6ld spawn-to-exit median %.3f ms p90 %.3f ms | spawn returned (exec'd) "
                       "median %.3f ms | cycle incl. free median %.3f ms | %.0f spawns/s%s\n",
                       label ? label : mode, total_n, pct_ms(all_exit, total_n, 50), pct_ms(all_exit, total_n, 90),
                       pct_ms(all_spawn, total_n, 50), pct_ms(all_cycle, total_n, 50), rate,
                       failures ? " (FAILURES)" : "");
        }
        return failures ? 1 : 0;
}
