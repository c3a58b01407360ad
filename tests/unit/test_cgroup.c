/* SPDX-License-Identifier: MIT */
/*
 * Per-function cgroup groups (sandbox/cgroup.c): "NS/FUNCTION" below the
 * launcher's subtree in every hierarchy, the CPU time and memory the kernel
 * accounts there (sandbox_group_usage), removal of an empty function group
 * (sandbox_group_remove), the names of launcher subtrees and the start-up
 * sweep of dead launchers' subtrees (by owner id, by abandoned lock file,
 * and the old "sfaasd-<pid>" names). Real sandboxes in a busybox rootfs made here; the
 * file readers are also checked against fake v1 and v2 directories, since
 * a host offers only one of the two. Need root (skipped otherwise).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <dirent.h>

#include "core/base/cleanup.h"
#include "core/base/lockfile.h"
#include "core/base/util.h"
#include "sandbox/internal.h"
#include "sandbox/sandbox.h"
#include "tests/unit/helpers.h"

#define UID_BASE (1u << 30)

DEFINE_TRIVIAL_CLEANUP_FUNC(DIR *, closedir)

struct fixture {
        char root[PATH_MAX];
        char subtree[64];
        struct sandbox_launcher *l;
        char *own[SB_CTRL_MAX_]; /* our cgroup directory per hierarchy used (v2: [0]) */
        bool v2;
};

static int make_rootfs(char *root, size_t size)
{
        static const char *const applets[] = { "sh", "true", "sleep", "dd", "echo", "cat", NULL };
        return test_make_rootfs(root, size, "cgroup", NULL, applets);
}

static int setup(void **state)
{
        struct sandbox_launcher_config cfg = { 0 };
        struct sb_cgroup_root root;
        struct sf_err err = { 0 };
        struct fixture *f;

        if (geteuid() != 0) {
                print_message("skipping: cgroup tests need root\n");
                skip();
        }
        if (access("/bin/busybox", X_OK) < 0) {
                print_message("skipping: /bin/busybox (busybox-static) is missing\n");
                skip();
        }
        f = calloc(1, sizeof *f);
        assert_non_null(f);
        assert_int_equal(make_rootfs(f->root, sizeof f->root), 0);
        if (sb_cgroup_detect(&root, &err) < 0)
                fail_msg("detect: %s", err.msg);
        f->v2 = root.mode == SB_CGROUP_V2;
        for (int c = 0; c < SB_CTRL_MAX_; c++) {
                const char *d = f->v2 ? (c == 0 ? root.own_v2 : NULL) : root.own[c];
                f->own[c] = d ? strdup(d) : NULL;
        }
        sb_cgroup_root_release(&root);
        (void) xsnprintf(f->subtree, sizeof f->subtree, "sfaasd-test-cg-%d", (int) getpid());
        cfg.cgroup_subtree = f->subtree;
        if (sandbox_launcher_new(&cfg, &f->l, &err) < 0)
                fail_msg("launcher: %s", err.msg);
        *state = f;
        return 0;
}

static int teardown(void **state)
{
        struct fixture *f = *state;
        if (!f)
                return 0;
        sandbox_launcher_free(f->l);
        for (int c = 0; c < SB_CTRL_MAX_; c++)
                free(f->own[c]);
        (void) rm_rf_at(AT_FDCWD, f->root);
        free(f);
        return 0;
}

static char *env_default[] = { "PATH=/bin", "HOME=/", NULL };

static bool group_dir_exists(struct fixture *f, int c, const char *rel)
{
        char p[PATH_MAX];
        (void) xsnprintf(p, sizeof p, "%s/%s/%s", f->own[c], f->subtree, rel);
        return access(p, F_OK) == 0;
}

/* Spawn argv in group with stdout on a pipe; *ret_out is the read end. */
static struct sandbox *spawn_in(struct fixture *f, const char *group, char **argv, int *ret_out)
{
        struct sandbox_spec s = {
                .rootfs = f->root, .argv = argv, .envp = env_default, .uid_base = UID_BASE,
                .stdio = { -1, -1, -1 }, .group = group,
        };
        struct sandbox *sb = NULL;
        struct sf_err err = { 0 };
        int p[2];

        assert_int_equal(pipe2(p, O_CLOEXEC), 0);
        s.stdio[1] = p[1];
        if (sandbox_spawn(f->l, &s, &sb, &err) < 0)
                fail_msg("spawn in '%s': %s", group, err.msg);
        (void) close(p[1]);
        *ret_out = p[0];
        return sb;
}

/* Read until the marker line arrives (the sandbox reached that point). */
static void wait_marker(int fd, const char *marker)
{
        char buf[256];
        size_t len = 0;
        ssize_t n;

        while (len + 1 < sizeof buf && (n = read(fd, buf + len, sizeof buf - 1 - len)) > 0) {
                len += (size_t) n;
                buf[len] = '\0';
                if (strstr(buf, marker))
                        return;
        }
        fail_msg("no '%s' from the sandbox (got '%.*s')", marker, (int) len, buf);
}

/* utime + stime of pid in microseconds (clock ticks from /proc/PID/stat). */
static uint64_t proc_cpu_usec(pid_t pid)
{
        _cleanup_free_ char *st = NULL;
        char path[64], *p;
        unsigned long long ut = 0, stime = 0;
        long hz = sysconf(_SC_CLK_TCK);

        (void) xsnprintf(path, sizeof path, "/proc/%d/stat", (int) pid);
        assert_int_equal(read_file_at(AT_FDCWD, path, 4096, &st, NULL), 0);
        p = strrchr(st, ')');
        assert_non_null(p);
        /* ") S ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime" */
        assert_int_equal(sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &stime), 2);
        return (ut + stime) * 1000000ULL / (unsigned long long) hz;
}

/* The function of a sandbox: the only child of its init (sandbox_pid). */
static pid_t function_pid(pid_t init)
{
        _cleanup_free_ char *kids = NULL;
        char path[64];
        long v;

        (void) xsnprintf(path, sizeof path, "/proc/%d/task/%d/children", (int) init, (int) init);
        assert_int_equal(read_file_at(AT_FDCWD, path, 4096, &kids, NULL), 0);
        v = strtol(kids, NULL, 10);
        assert_true(v > 0);
        return (pid_t) v;
}

/* A kept v1 leaf (sandbox/cgroup_spare.c): named "spare-N", and empty. */
static bool spare_leaf(const char *dir, const char *name)
{
        _cleanup_free_ char *procs = NULL;
        char p[PATH_MAX];

        if (strncmp(name, "spare-", 6) != 0)
                return false;
        (void) xsnprintf(p, sizeof p, "%s/%s/cgroup.procs", dir, name);
        return read_file_at(AT_FDCWD, p, 4096, &procs, NULL) >= 0 && procs[0] == '\0';
}

static void finish(struct sandbox *sb, int fd)
{
        int status;
        (void) sandbox_kill(sb);
        assert_int_equal(sandbox_wait(sb, &status, NULL), 0);
        sandbox_free(sb);
        (void) close(fd);
}

/* Two functions of one tenant: each gets NS/FUNCTION in every hierarchy,
 * the leaf goes with its sandbox, the function directory stays, and the
 * usage read there is the kernel's for exactly that function. */
static void test_function_group_layout_and_usage(void **state)
{
        struct fixture *f = *state;
        /* A busy loop in sh itself (no fork), then 8 MiB into the sandbox's
         * /tmp (tmpfs pages are charged to the writer's memory cgroup). */
        char *busy[] = { "sh", "-c",
                         "i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done; "
                         "dd if=/dev/zero of=/tmp/f bs=1048576 count=8 2>/dev/null; echo ready; sleep 100",
                         NULL };
        char *idle[] = { "sh", "-c", "echo ready; sleep 100", NULL };
        struct sandbox_usage a = { 0 }, b = { 0 }, ns = { 0 }, after = { 0 };
        struct sf_err err = { 0 };
        struct sandbox *sa, *sb;
        uint64_t fn_usec;
        int fa, fb;

        sa = spawn_in(f, "tenant-x/fn-a", busy, &fa);
        sb = spawn_in(f, "tenant-x/fn-b", idle, &fb);
        wait_marker(fa, "ready");
        wait_marker(fb, "ready");

        for (int c = 0; c < SB_CTRL_MAX_; c++) {
                if (!f->own[c])
                        continue;
                assert_true(group_dir_exists(f, c, "tenant-x/fn-a"));
                assert_true(group_dir_exists(f, c, "tenant-x/fn-b"));
        }

        fn_usec = proc_cpu_usec(function_pid(sandbox_pid(sa)));
        if (sandbox_group_usage(f->l, "tenant-x/fn-a", &a, &err) < 0)
                fail_msg("usage: %s", err.msg);
        assert_int_equal(sandbox_group_usage(f->l, "tenant-x/fn-b", &b, &err), 0);
        assert_int_equal(sandbox_group_usage(f->l, "tenant-x", &ns, &err), 0);
        print_message("fn-a: %llu us cpu (its function: %llu us), %llu bytes; fn-b: %llu us, %llu bytes\n",
                      (unsigned long long) a.cpu_usec, (unsigned long long) fn_usec,
                      (unsigned long long) a.memory_bytes, (unsigned long long) b.cpu_usec,
                      (unsigned long long) b.memory_bytes);

        /* The loop ran in fn-a's function (sh): the group holds at least its time
         * (ticks of 1/HZ s: one tick of slack) and not much more (start-up,
         * dd, echo). v1 without any cpuacct hierarchy cannot say. */
        if (f->v2 || f->own[SB_CTRL_CPUACCT] || a.cpu_usec) {
                uint64_t tick = 1000000ULL / (uint64_t) sysconf(_SC_CLK_TCK);
                assert_true(fn_usec > 0);
                assert_true(a.cpu_usec + tick >= fn_usec);
                assert_true(a.cpu_usec <= fn_usec + 500000);
                assert_true(b.cpu_usec < a.cpu_usec);
                /* the tenant sums its functions */
                assert_true(ns.cpu_usec >= a.cpu_usec + b.cpu_usec);
        }
        /* 8 MiB on fn-a's tmpfs, charged to fn-a only */
        assert_true(a.memory_bytes >= 8ULL << 20);
        assert_true(b.memory_bytes < 8ULL << 20);
        assert_true(ns.memory_bytes >= a.memory_bytes);

        finish(sa, fa);
        finish(sb, fb);
        /* The leaves are gone (or kept empty as "spare-N" for the next
         * sandbox, v1: sandbox/cgroup_spare.c), the function directories
         * stay, and the CPU time of the sandboxes that ended is still
         * counted there. */
        for (int c = 0; c < SB_CTRL_MAX_; c++) {
                char leafdir[PATH_MAX];
                _cleanup_(closedirp) DIR *d = NULL;
                struct dirent *de;
                if (!f->own[c])
                        continue;
                (void) xsnprintf(leafdir, sizeof leafdir, "%s/%s/tenant-x/fn-a", f->own[c], f->subtree);
                d = opendir(leafdir);
                assert_non_null(d);
                while ((de = readdir(d)))
                        if (de->d_type == DT_DIR && de->d_name[0] != '.' && !spare_leaf(leafdir, de->d_name))
                                fail_msg("leaf '%s/%s' left after sandbox_free", leafdir, de->d_name);
        }
        assert_int_equal(sandbox_group_usage(f->l, "tenant-x/fn-a", &after, &err), 0);
        assert_true(after.cpu_usec >= a.cpu_usec);
        /* the tmpfs went with the sandbox's mount namespace */
        assert_true(after.memory_bytes < a.memory_bytes);
}

static void test_usage_of_unknown_and_bad_groups(void **state)
{
        struct fixture *f = *state;
        static const char *const bad[] = { "a/b/c", "../x", "a/..", "a/", "/a", "a//b", "", "a/.", "a b" };
        struct sandbox_usage u = { .cpu_usec = 7, .memory_bytes = 7 };
        struct sf_err err = { 0 };

        assert_int_equal(sandbox_group_usage(f->l, "never-ran/fn", &u, &err), -ENOENT);
        assert_int_equal(u.cpu_usec, 0);
        assert_int_equal(u.memory_bytes, 0);
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                assert_int_equal(sandbox_group_usage(f->l, bad[i], &u, &err), -EINVAL);
                assert_int_equal(sandbox_group_remove(f->l, bad[i], &err), -EINVAL);
        }
        {
                char *argv[] = { "true", NULL };
                struct sandbox_spec s = {
                        .rootfs = f->root, .argv = argv, .envp = env_default, .uid_base = UID_BASE,
                        .stdio = { -1, -1, -1 }, .group = "a/b/c",
                };
                struct sandbox *sb = NULL;
                assert_int_equal(sandbox_spawn(f->l, &s, &sb, &err), -EINVAL);
                assert_null(sb);
        }
}

/* sandbox_group_remove: -EBUSY (and nothing killed) while a sandbox of the
 * function runs; afterwards the function level goes in every hierarchy and
 * the tenant level stays. */
static void test_group_remove(void **state)
{
        struct fixture *f = *state;
        char *argv[] = { "sh", "-c", "echo ready; sleep 100", NULL };
        struct sandbox_usage u;
        struct sf_err err = { 0 };
        struct sandbox *sb;
        int fd, status;

        sb = spawn_in(f, "tenant-r/fn", argv, &fd);
        wait_marker(fd, "ready");
        assert_int_equal(sandbox_group_remove(f->l, "tenant-r/fn", &err), -EBUSY);
        assert_int_equal(sandbox_reap(sb, &status), -EAGAIN); /* still running */
        finish(sb, fd);
        assert_int_equal(sandbox_group_remove(f->l, "tenant-r/fn", &err), 0);
        for (int c = 0; c < SB_CTRL_MAX_; c++) {
                if (!f->own[c])
                        continue;
                assert_false(group_dir_exists(f, c, "tenant-r/fn"));
                assert_true(group_dir_exists(f, c, "tenant-r"));
        }
        assert_int_equal(sandbox_group_usage(f->l, "tenant-r/fn", &u, &err), -ENOENT);
        /* gone already, or never made: not an error */
        assert_int_equal(sandbox_group_remove(f->l, "tenant-r/fn", &err), 0);
        assert_int_equal(sandbox_group_remove(f->l, "tenant-never/fn", &err), 0);
        /* made again on the next spawn */
        sb = spawn_in(f, "tenant-r/fn", argv, &fd);
        wait_marker(fd, "ready");
        finish(sb, fd);
        assert_int_equal(sandbox_group_usage(f->l, "tenant-r/fn", &u, &err), 0);
}

/* The directories in SUBTREE/rel of hierarchy c: spares (sandbox/cgroup_spare.c)
 * into *ret_spares, the others returned. */
static int count_leaves(struct fixture *f, int c, const char *rel, int *ret_spares)
{
        _cleanup_(closedirp) DIR *d = NULL;
        struct dirent *de;
        char p[PATH_MAX];
        int n = 0;

        *ret_spares = 0;
        (void) xsnprintf(p, sizeof p, "%s/%s/%s", f->own[c], f->subtree, rel);
        d = opendir(p);
        assert_non_null(d);
        while ((de = readdir(d)))
                if (de->d_type == DT_DIR && de->d_name[0] != '.') {
                        if (strncmp(de->d_name, "spare-", 6) == 0)
                                ++*ret_spares;
                        else
                                n++;
                }
        return n;
}

/* v1 spare leaves: the leaf of a sandbox that ended cleanly is kept, empty,
 * and the next sandbox of the group gets it (no new directory), with its
 * peak memory reset; a leaf whose sandbox hit pids.max is not kept (the
 * counter would show in the next one's stats); new limits on a group and
 * sandbox_group_remove take the spares with them. v2 keeps none. */
static void test_spare_leaves(void **state)
{
        struct fixture *f = *state;
        char *idle[] = { "sh", "-c", "echo ready; sleep 100", NULL };
        /* sh gives up at the first fork pids.max refuses, and the sandbox ends */
        char *forks[] = { "sh", "-c", "for i in 1 2 3 4 5 6 7 8 9 10; do sleep 100 & done; sleep 100", NULL };
        struct sandbox_stats st;
        struct sf_err err = { 0 };
        struct sandbox *sb;
        int fd, spares, c = f->v2 ? 0 : SB_CTRL_MEMORY;

        sb = spawn_in(f, "tenant-s/fn", idle, &fd);
        wait_marker(fd, "ready");
        finish(sb, fd);
        assert_int_equal(count_leaves(f, c, "tenant-s/fn", &spares), 0);
        assert_int_equal(spares, f->v2 ? 0 : 1);
        if (f->v2)
                return;

        sb = spawn_in(f, "tenant-s/fn", idle, &fd);
        wait_marker(fd, "ready");
        assert_int_equal(count_leaves(f, c, "tenant-s/fn", &spares), 1);
        assert_int_equal(spares, 0); /* the spare became this sandbox's leaf */
        assert_int_equal(sandbox_stats(sb, &st), 0);
        assert_int_equal(st.oom_kills, 0);
        assert_int_equal(st.pids_max_hits, 0);
        finish(sb, fd);

        {
                struct sandbox_spec s = {
                        .rootfs = f->root, .argv = forks, .envp = env_default, .uid_base = UID_BASE,
                        .stdio = { -1, -1, -1 }, .group = "tenant-s/fn", .limits = { .pids = 4 },
                };
                int status;
                if (sandbox_spawn(f->l, &s, &sb, &err) < 0)
                        fail_msg("spawn: %s", err.msg);
                assert_int_equal(sandbox_wait(sb, &status, NULL), 0);
                assert_int_equal(sandbox_stats(sb, &st), 0);
                assert_true(st.pids_max_hits > 0);
                sandbox_free(sb);
        }
        /* that leaf went; the spare of the other limits stays */
        assert_int_equal(count_leaves(f, c, "tenant-s/fn", &spares), 0);
        assert_int_equal(spares, 1);
        /* new limits on the tenant: the spares below it go */
        {
                struct sandbox_limits lim = { .cpu_millis = 500 };
                assert_int_equal(sandbox_group_set_limits(f->l, "tenant-s", &lim, &err), 0);
        }
        assert_int_equal(count_leaves(f, c, "tenant-s/fn", &spares), 0);
        assert_int_equal(spares, 0);
        sb = spawn_in(f, "tenant-s/fn", idle, &fd);
        wait_marker(fd, "ready");
        finish(sb, fd);
        assert_int_equal(sandbox_group_remove(f->l, "tenant-s/fn", &err), 0);
        assert_false(group_dir_exists(f, c, "tenant-s/fn"));
}

static void put(const char *dir, const char *file, const char *text)
{
        char p[PATH_MAX];
        _cleanup_close_ int fd = -1;
        (void) xsnprintf(p, sizeof p, "%s/%s", dir, file);
        fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        assert_int_equal(write_all(fd, text, strlen(text)), 0);
}

/* mkdir -p base/rel; the full path into out. */
static void mkdirs(const char *base, const char *rel, char *out, size_t size)
{
        char p[PATH_MAX];
        (void) xsnprintf(p, sizeof p, "%s/%s", base, rel);
        for (char *s = p + 1; (s = strchr(s, '/')); s++) {
                *s = '\0';
                (void) mkdir(p, 0755);
                *s = '/';
        }
        assert_true(mkdir(p, 0755) == 0 || errno == EEXIST);
        (void) xsnprintf(out, size, "%s", p);
}

/* The readers against fake hierarchies: v2 (cpu.stat usage_usec,
 * memory.current), v1 with cpuacct on its own (cpuacct.usage in ns) and
 * v1 "cpu,cpuacct". This host runs only one of them for real. */
static void test_usage_files_v1_v2(void **state)
{
        char tmpl[] = "/tmp/sfaasd-test-cgfake-XXXXXX", d[PATH_MAX], base[4][PATH_MAX];
        struct sb_cgroup_root root;
        struct sandbox_usage u;
        (void) state;

        assert_non_null(mkdtemp(tmpl));
        for (int i = 0; i < 4; i++) {
                (void) xsnprintf(base[i], sizeof base[i], "%s/h%d", tmpl, i);
                assert_int_equal(mkdir(base[i], 0755), 0);
        }

        /* v2 */
        memset(&root, 0, sizeof root);
        root.mode = SB_CGROUP_V2;
        root.subtree[0] = base[0];
        assert_int_equal(sb_cgroup_group_usage(&root, "ns/fn", &u), -ENOENT);
        mkdirs(base[0], "ns/fn", d, sizeof d);
        put(d, "cpu.stat", "usage_usec 1234567\nuser_usec 1000000\nsystem_usec 234567\n");
        assert_int_equal(sb_cgroup_group_usage(&root, "ns/fn", &u), -EIO); /* memory.current missing */
        put(d, "memory.current", "4096\n");
        assert_int_equal(sb_cgroup_group_usage(&root, "ns/fn", &u), 0);
        assert_int_equal(u.cpu_usec, 1234567);
        assert_int_equal(u.memory_bytes, 4096);
        put(d, "cpu.stat", "user_usec 1\n");
        assert_int_equal(sb_cgroup_group_usage(&root, "ns/fn", &u), -EBADMSG);

        /* v1, cpuacct a hierarchy of its own */
        memset(&root, 0, sizeof root);
        root.mode = SB_CGROUP_V1;
        root.subtree[SB_CTRL_MEMORY] = base[0];
        root.subtree[SB_CTRL_CPU] = base[1];
        root.subtree[SB_CTRL_CPUACCT] = base[2];
        mkdirs(base[0], "ns/fn1", d, sizeof d);
        put(d, "memory.usage_in_bytes", "8192\n");
        /* not in cpuacct yet: no CPU time counted */
        assert_int_equal(sb_cgroup_group_usage(&root, "ns/fn1", &u), 0);
        assert_int_equal(u.cpu_usec, 0);
        assert_int_equal(u.memory_bytes, 8192);
        mkdirs(base[2], "ns/fn1", d, sizeof d);
        put(d, "cpuacct.usage", "2500000000\n");
        assert_int_equal(sb_cgroup_group_usage(&root, "ns/fn1", &u), 0);
        assert_int_equal(u.cpu_usec, 2500000);
        assert_int_equal(sb_cgroup_group_usage(&root, "ns/nope", &u), -ENOENT);

        /* v1 "cpu,cpuacct" */
        root.subtree[SB_CTRL_CPUACCT] = NULL;
        root.cpuacct_in_cpu = true;
        mkdirs(base[1], "ns/fn1", d, sizeof d);
        put(d, "cpuacct.usage", "7000\n");
        assert_int_equal(sb_cgroup_group_usage(&root, "ns/fn1", &u), 0);
        assert_int_equal(u.cpu_usec, 7);
        assert_int_equal(u.memory_bytes, 8192);

        /* v1 without cpuacct at all */
        root.cpuacct_in_cpu = false;
        assert_int_equal(sb_cgroup_group_usage(&root, "ns/fn1", &u), 0);
        assert_int_equal(u.cpu_usec, 0);

        memset(&root, 0, sizeof root);
        assert_int_equal(sb_cgroup_group_usage(&root, "ns/fn1", &u), -EOPNOTSUPP);
        (void) rm_rf_at(AT_FDCWD, tmpl);
}

/* A daemon killed with SIGKILL leaves "sfaasd-<pid>/NS/FUNCTION/leaf" with
 * a process in it; the next launcher kills it and removes all three
 * levels in every hierarchy (cpuacct included, where the process sits in
 * the function directory itself). */
static void test_stale_three_level_subtree_swept(void **state)
{
        struct fixture *f = *state;
        struct sandbox_launcher *l = NULL;
        struct pollfd pfd = { .fd = -1, .events = POLLIN };
        struct sf_err err = { 0 };
        char p[PATH_MAX], name[64];
        pid_t dead, mid, orphan = 0;
        int ready[2], status;

        dead = fork();
        assert_true(dead >= 0);
        if (dead == 0)
                _exit(0);
        assert_int_equal(waitpid(dead, NULL, 0), dead);
        (void) xsnprintf(name, sizeof name, "sfaasd-%d", (int) dead);
        for (int k = 0; k < SB_CTRL_MAX_; k++) {
                char d[PATH_MAX];
                if (!f->own[k])
                        continue;
                (void) xsnprintf(p, sizeof p, "%s/%s", f->own[k], name);
                mkdirs(p, k == SB_CTRL_CPUACCT ? "openfaas-fn/fn" : "openfaas-fn/fn/leaf", d, sizeof d);
        }
        assert_int_equal(pipe2(ready, O_CLOEXEC), 0);
        mid = fork();
        assert_true(mid >= 0);
        if (mid == 0) {
                pid_t g = fork();
                if (g < 0)
                        _exit(5);
                if (g > 0)
                        _exit(0);
                for (int k = 0; k < SB_CTRL_MAX_; k++) {
                        if (!f->own[k])
                                continue;
                        (void) xsnprintf(p, sizeof p, "%s/%s/openfaas-fn/fn%s/cgroup.procs", f->own[k], name,
                                         k == SB_CTRL_CPUACCT ? "" : "/leaf");
                        if (write_string_file(p, "0") < 0)
                                _exit(3);
                }
                g = getpid();
                if (write(ready[1], &g, sizeof g) != sizeof g)
                        _exit(4);
                for (;;)
                        pause();
        }
        (void) close(ready[1]);
        assert_int_equal(waitpid(mid, &status, 0), mid);
        assert_int_equal(read(ready[0], &orphan, sizeof orphan), (ssize_t) sizeof orphan);
        (void) close(ready[0]);
        pfd.fd = (int) syscall(SYS_pidfd_open, orphan, 0);
        assert_true(pfd.fd >= 0);

        if (sandbox_launcher_new(NULL, &l, &err) < 0)
                fail_msg("launcher: %s", err.msg);
        assert_int_equal(poll(&pfd, 1, 5000), 1); /* the orphan is gone */
        (void) close(pfd.fd);
        for (int k = 0; k < SB_CTRL_MAX_; k++) {
                if (!f->own[k])
                        continue;
                (void) xsnprintf(p, sizeof p, "%s/%s", f->own[k], name);
                if (access(p, F_OK) == 0)
                        fail_msg("stale '%s' not removed", p);
        }
        sandbox_launcher_free(l);
}


/* The names the sweep recognises, and only those. */
static void test_subtree_names(void **state)
{
        struct sb_subtree_name n;
        char buf[64];
        static const char *const foreign[] = {
                "sfaasd", "sfaasd-", "sfaasd-0", "sfaasd-012", "sfaasd-12x", "sfaasd-2147483648",
                "sfaasd-12-daemonx", "sfaasd-12-", "sfaasd-test-cg-12", "sfaasd-run-12",
                "sfaasd-run-12-0123456", "sfaasd-run-12-0123456789", "sfaasd-run-12-0123456G",
                "sfaasd-run-0-01234567", "sfaasd-0123456789abcdef", "sfaasd-0123456789abcdef-",
                "sfaasd-0123456789abcdef-0", "sfaasd-0123456789ABCDEF-12", "sfaasd-0123456789abcde-12",
                "sfaasd-0123456789abcdef0-12", "sfaasd-0123456789abcdef-12-x", "system.slice", "",
                "xsfaasd-12", "sfaasd-run-12-01234567-daemon-daemon",
        };
        (void) state;

        for (size_t i = 0; i < ELEMENTSOF(foreign); i++)
                if (sb_subtree_name_parse(foreign[i], &n) != SB_SUBTREE_FOREIGN)
                        fail_msg("'%s' taken for a launcher's subtree", foreign[i]);

        assert_int_equal(sb_subtree_name_parse("sfaasd-4242", &n), SB_SUBTREE_LEGACY);
        assert_int_equal(n.pid, 4242);
        assert_string_equal(n.base, "sfaasd-4242");
        assert_false(n.self_leaf);
        assert_int_equal(sb_subtree_name_parse("sfaasd-2147483647-daemon", &n), SB_SUBTREE_LEGACY);
        assert_int_equal(n.pid, 2147483647);
        assert_string_equal(n.base, "sfaasd-2147483647");
        assert_true(n.self_leaf);

        assert_int_equal(sb_subtree_name_parse("sfaasd-0123456789abcdef-77", &n), SB_SUBTREE_DAEMON);
        assert_string_equal(n.id, "0123456789abcdef");
        assert_int_equal(n.pid, 77);
        assert_string_equal(n.base, "sfaasd-0123456789abcdef-77");
        assert_int_equal(sb_subtree_name_parse("sfaasd-0123456789abcdef-77-daemon", &n), SB_SUBTREE_DAEMON);
        assert_string_equal(n.base, "sfaasd-0123456789abcdef-77");
        assert_true(n.self_leaf);
        /* an id of digits only is still an id, not a pid */
        assert_int_equal(sb_subtree_name_parse("sfaasd-1234567890123456-5", &n), SB_SUBTREE_DAEMON);
        assert_int_equal(n.pid, 5);

        assert_int_equal(sb_subtree_name_parse("sfaasd-run-31-00c0ffee", &n), SB_SUBTREE_RUN);
        assert_int_equal(n.pid, 31);
        assert_string_equal(n.base, "sfaasd-run-31-00c0ffee");
        assert_int_equal(sb_subtree_name_parse("sfaasd-run-31-00c0ffee-daemon", &n), SB_SUBTREE_RUN);
        assert_true(n.self_leaf);

        /* what the launcher makes is what the sweep recognises */
        assert_true(sb_subtree_name_make(buf, sizeof buf, "00000000deadbeef", 123) >= 0);
        assert_string_equal(buf, "sfaasd-00000000deadbeef-123");
        assert_int_equal(sb_subtree_name_parse(buf, &n), SB_SUBTREE_DAEMON);
        assert_true(sb_subtree_name_make(buf, sizeof buf, NULL, 123) >= 0);
        assert_int_equal(sb_subtree_name_parse(buf, &n), SB_SUBTREE_RUN);
        assert_int_equal(n.pid, 123);
        assert_int_equal(sb_subtree_name_make(buf, sizeof buf, "00000000DEADBEEF", 1), -EINVAL);
        assert_int_equal(sb_subtree_name_make(buf, sizeof buf, "deadbeef", 1), -EINVAL);
        assert_int_equal(sb_subtree_name_make(buf, sizeof buf, "../../../etc/x12", 1), -EINVAL);
}

/* A process that sits in base/<name>/<rel> of every hierarchy until
 * killed: forked twice, so its parent is gone (as a dead launcher's
 * sandbox would be); returned as a pidfd. */
static int orphan_in(struct fixture *f, const char *name, const char *rel)
{
        int ready[2], status, fd;
        pid_t mid, orphan = 0;

        assert_int_equal(pipe2(ready, O_CLOEXEC), 0);
        mid = fork();
        assert_true(mid >= 0);
        if (mid == 0) {
                pid_t g = fork();
                if (g < 0)
                        _exit(5);
                if (g > 0)
                        _exit(0);
                for (int k = 0; k < SB_CTRL_MAX_; k++) {
                        char p[PATH_MAX];
                        if (!f->own[k])
                                continue;
                        (void) xsnprintf(p, sizeof p, "%s/%s/%s/cgroup.procs", f->own[k], name, rel);
                        if (write_string_file(p, "0") < 0)
                                _exit(3);
                }
                g = getpid();
                if (write(ready[1], &g, sizeof g) != sizeof g)
                        _exit(4);
                for (;;)
                        pause();
        }
        (void) close(ready[1]);
        assert_int_equal(waitpid(mid, &status, 0), mid);
        assert_int_equal(read(ready[0], &orphan, sizeof orphan), (ssize_t) sizeof orphan);
        (void) close(ready[0]);
        fd = (int) syscall(SYS_pidfd_open, orphan, 0);
        assert_true(fd >= 0);
        return fd;
}

static void mkdirs(const char *base, const char *rel, char *out, size_t size);

/* name/rel in every hierarchy */
static void make_tree(struct fixture *f, const char *name, const char *rel)
{
        for (int k = 0; k < SB_CTRL_MAX_; k++) {
                char p[PATH_MAX], d[PATH_MAX];
                if (!f->own[k])
                        continue;
                (void) xsnprintf(p, sizeof p, "%s/%s", f->own[k], name);
                mkdirs(p, rel, d, sizeof d);
        }
}

static bool tree_exists(struct fixture *f, const char *name)
{
        for (int k = 0; k < SB_CTRL_MAX_; k++) {
                char p[PATH_MAX];
                if (!f->own[k])
                        continue;
                (void) xsnprintf(p, sizeof p, "%s/%s", f->own[k], name);
                if (access(p, F_OK) == 0)
                        return true;
        }
        return false;
}

static void remove_tree_by_hand(struct fixture *f, const char *name)
{
        for (int k = 0; k < SB_CTRL_MAX_; k++) {
                char p[PATH_MAX];
                if (!f->own[k])
                        continue;
                (void) xsnprintf(p, sizeof p, "%s/%s", f->own[k], name);
                (void) sb_cgroup_remove_tree(p, f->v2, false, SB_CGROUP_TREE_DEPTH, NULL);
        }
}

static bool lock_exists(int dfd, const char *name)
{
        char l[128];
        (void) xsnprintf(l, sizeof l, "%s.lock", name);
        return faccessat(dfd, l, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
}

/* A lock file held by a child process until it is killed. */
static pid_t hold_lock(int dfd, const char *name)
{
        int ready[2];
        char l[128], c;
        pid_t pid;

        (void) xsnprintf(l, sizeof l, "%s.lock", name);
        assert_int_equal(pipe2(ready, O_CLOEXEC), 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                int fd;
                if (lockfile_acquire(dfd, l, false, &fd) < 0 || write(ready[1], "k", 1) != 1)
                        _exit(1);
                for (;;)
                        pause();
        }
        (void) close(ready[1]);
        assert_int_equal(read(ready[0], &c, 1), 1);
        (void) close(ready[0]);
        return pid;
}

static void abandoned_lock(int dfd, const char *name)
{
        pid_t pid = hold_lock(dfd, name);
        assert_int_equal(kill(pid, SIGKILL), 0);
        assert_int_equal(waitpid(pid, NULL, 0), pid);
}

/* The start-up sweep with an owner id: every subtree of that id goes
 * (processes killed, all levels, every hierarchy, the "-daemon" leaf, our
 * own pid's too); of other launchers only those whose lock file is there
 * and held by nobody; nothing without a lock file, with a held one, or of
 * a foreign name. The launcher's own lock file lives exactly as long as
 * its subtree. */
static void test_sweep_by_owner_and_lock(void **state)
{
        struct fixture *f = *state;
        const char *id = "5eed5eed5eed0001";
        char tmpl[] = "/tmp/sfaasd-test-cglock-XXXXXX";
        char dead_own[64], same_pid[64], dead_own_leaf[80], live_other[64], dead_other[64], dead_run[64],
                nolock_run[64], foreign[64], mine[64];
        struct sandbox_launcher_config cfg = { .owner_id = id };
        struct sandbox_launcher *l = NULL;
        struct sandbox_sweep sw;
        struct sf_err err = { 0 };
        struct pollfd pfd[2] = { { .events = POLLIN }, { .events = POLLIN } };
        pid_t holder;
        int dfd;

        assert_non_null(mkdtemp(tmpl));
        dfd = open(tmpl, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(dfd >= 0);
        cfg.lock_dir = tmpl;

        (void) xsnprintf(dead_own, sizeof dead_own, "sfaasd-%s-%d", id, 999999);
        (void) xsnprintf(dead_own_leaf, sizeof dead_own_leaf, "%s-daemon", dead_own);
        (void) xsnprintf(same_pid, sizeof same_pid, "sfaasd-%s-%d", id, (int) getpid());
        (void) xsnprintf(live_other, sizeof live_other, "sfaasd-5eed5eed5eed0002-%d", 999998);
        (void) xsnprintf(dead_other, sizeof dead_other, "sfaasd-5eed5eed5eed0003-%d", 999997);
        (void) xsnprintf(dead_run, sizeof dead_run, "sfaasd-run-%d-0000beef", 999996);
        (void) xsnprintf(nolock_run, sizeof nolock_run, "sfaasd-run-%d-0000cafe", 999995);
        (void) xsnprintf(foreign, sizeof foreign, "sfaasd-test-foreign-%d", (int) getpid());

        make_tree(f, dead_own, "openfaas-fn/fn/leaf");
        make_tree(f, dead_own_leaf, ".");
        make_tree(f, same_pid, "ns");
        make_tree(f, live_other, "openfaas-fn/fn/leaf");
        make_tree(f, dead_other, "openfaas-fn/fn/leaf");
        make_tree(f, dead_run, "leaf");
        make_tree(f, nolock_run, "leaf");
        make_tree(f, foreign, "leaf");
        /* a dead daemon's sandbox that is still running, and one of a live
         * launcher (which must not be touched) */
        pfd[0].fd = orphan_in(f, dead_own, "openfaas-fn/fn/leaf");
        pfd[1].fd = orphan_in(f, live_other, "openfaas-fn/fn/leaf");
        holder = hold_lock(dfd, live_other);
        abandoned_lock(dfd, dead_other);
        abandoned_lock(dfd, dead_run);
        abandoned_lock(dfd, dead_own); /* goes with its subtree */

        if (sandbox_launcher_new(&cfg, &l, &err) < 0)
                fail_msg("launcher: %s", err.msg);
        sandbox_launcher_sweep(l, &sw);
        print_message("swept %u subtrees, %u dirs, %u procs, %u lock files, %u busy\n", sw.subtrees, sw.dirs,
                      sw.procs, sw.lock_files, sw.busy);

        assert_int_equal(poll(&pfd[0], 1, 5000), 1); /* the dead daemon's orphan is gone */
        assert_int_equal(poll(&pfd[1], 1, 0), 0);    /* the live launcher's is not */
        assert_false(tree_exists(f, dead_own));
        assert_false(tree_exists(f, dead_own_leaf));
        assert_false(tree_exists(f, dead_other));
        assert_false(tree_exists(f, dead_run));
        assert_true(tree_exists(f, live_other));
        assert_true(tree_exists(f, nolock_run));
        assert_true(tree_exists(f, foreign));
        assert_false(lock_exists(dfd, dead_own));
        assert_false(lock_exists(dfd, dead_other));
        assert_false(lock_exists(dfd, dead_run));
        assert_true(lock_exists(dfd, live_other));
        /* ours: the stale one with our pid was replaced by a fresh one */
        (void) xsnprintf(mine, sizeof mine, "%s/ns", same_pid);
        assert_true(tree_exists(f, same_pid));
        assert_false(tree_exists(f, mine));
        assert_true(lock_exists(dfd, same_pid));
        assert_int_equal(sw.subtrees, 4);
        assert_int_equal(sw.procs, 1);
        assert_int_equal(sw.lock_files, 3);
        assert_int_equal(sw.busy, 0);
        assert_int_equal(sw.lock_error, 0);

        sandbox_launcher_free(l);
        assert_false(tree_exists(f, same_pid));
        assert_false(lock_exists(dfd, same_pid));

        (void) kill(holder, SIGKILL);
        (void) waitpid(holder, NULL, 0);
        remove_tree_by_hand(f, live_other); /* kills its orphan */
        assert_int_equal(poll(&pfd[1], 1, 5000), 1);
        remove_tree_by_hand(f, nolock_run);
        remove_tree_by_hand(f, foreign);
        (void) close(pfd[0].fd);
        (void) close(pfd[1].fd);
        (void) close(dfd);
        (void) rm_rf_at(AT_FDCWD, tmpl);
}

/* A one-shot launcher (`sfaasd run`): its own subtree has a random name
 * and a lock file, and a SIGKILLed one's leftovers are removed by the
 * next launcher, owner or not. */
static void test_killed_run_swept_by_next(void **state)
{
        struct fixture *f = *state;
        char tmpl[] = "/tmp/sfaasd-test-cgrun-XXXXXX", name[64] = "";
        int dfd, p[2], status;
        struct sandbox_launcher *l = NULL;
        struct sandbox_sweep sw;
        struct sf_err err = { 0 };
        pid_t child;

        assert_non_null(mkdtemp(tmpl));
        dfd = open(tmpl, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(dfd >= 0);
        assert_int_equal(pipe2(p, O_CLOEXEC), 0);
        child = fork();
        assert_true(child >= 0);
        if (child == 0) {
                struct sandbox_launcher_config c = { .one_shot = true, .lock_dir = tmpl };
                struct sandbox_launcher *cl = NULL;
                struct sb_subtree_name n;
                DIR *d;
                struct dirent *de;
                if (sandbox_launcher_new(&c, &cl, &err) < 0)
                        _exit(1);
                /* tell the parent our subtree's name, then wait to be killed */
                d = opendir(f->own[f->v2 ? 0 : SB_CTRL_MEMORY]);
                while (d && (de = readdir(d)))
                        if (sb_subtree_name_parse(de->d_name, &n) == SB_SUBTREE_RUN && n.pid == getpid() &&
                            write(p[1], n.base, strlen(n.base)) > 0)
                                break;
                for (;;)
                        pause();
        }
        (void) close(p[1]);
        assert_true(read(p[0], name, sizeof name - 1) > 0);
        (void) close(p[0]);
        assert_true(tree_exists(f, name));
        assert_true(lock_exists(dfd, name));
        assert_int_equal(kill(child, SIGKILL), 0);
        assert_int_equal(waitpid(child, &status, 0), child);
        /* left behind: nothing was alive to remove them */
        assert_true(tree_exists(f, name));
        assert_true(lock_exists(dfd, name));

        {
                struct sandbox_launcher_config c = { .one_shot = true, .lock_dir = tmpl };
                if (sandbox_launcher_new(&c, &l, &err) < 0)
                        fail_msg("launcher: %s", err.msg);
        }
        sandbox_launcher_sweep(l, &sw);
        assert_false(tree_exists(f, name));
        assert_false(lock_exists(dfd, name));
        assert_int_equal(sw.subtrees, 1);
        assert_int_equal(sw.lock_files, 1);
        sandbox_launcher_free(l);
        (void) close(dfd);
        (void) rm_rf_at(AT_FDCWD, tmpl);
}

static bool in_base(const char *base, const char *name)
{
        char p[PATH_MAX];
        (void) xsnprintf(p, sizeof p, "%s/%s", base, name);
        return access(p, F_OK) == 0;
}

/* The sweep's decisions over a fake v2 hierarchy (plain directories: no
 * process, so no kill), since this host may offer only one of v1 and v2:
 * a dead predecessor's subtree and its "-daemon" leaf go, as does a
 * subtree with an abandoned lock; held, missing-lock and foreign ones
 * stay; old "sfaasd-<pid>" names only with legacy, and an empty one never. */
static void test_sweep_decisions_v2_layout(void **state)
{
        char tmpl[] = "/tmp/sfaasd-test-cgv2-XXXXXX", base[PATH_MAX], locks[PATH_MAX], p[PATH_MAX];
        static const char *const gone[] = {
                "sfaasd-00000000000000aa-11", "sfaasd-00000000000000aa-11-daemon",
                "sfaasd-00000000000000aa-12-daemon", "sfaasd-00000000000000bb-13",
                "sfaasd-00000000000000bb-13-daemon", "sfaasd-run-14-0000abcd",
        };
        static const char *const kept[] = {
                "sfaasd-00000000000000cc-15", "sfaasd-00000000000000cc-15-daemon", "sfaasd-run-16-0000abcd",
                "sfaasd-2000000000", "sfaasd-test-x", "sfaasd-00000000000000aa", "system.slice",
        };
        char *bases[1] = { base };
        struct sb_sweep sw = { .own_name = "sfaasd-00000000000000aa-99", .owner_id = "00000000000000aa" };
        struct sandbox_sweep rep = { 0 };
        pid_t holder;
        (void) state;

        assert_non_null(mkdtemp(tmpl));
        (void) xsnprintf(base, sizeof base, "%s/own", tmpl);
        (void) xsnprintf(locks, sizeof locks, "%s/locks", tmpl);
        assert_int_equal(mkdir(base, 0755), 0);
        sw.lock_dir_fd = sb_lock_dir_open(locks);
        assert_true(sw.lock_dir_fd >= 0);
        for (size_t i = 0; i < ELEMENTSOF(gone); i++)
                mkdirs(base, gone[i], p, sizeof p);
        for (size_t i = 0; i < ELEMENTSOF(kept); i++)
                mkdirs(base, kept[i], p, sizeof p);
        mkdirs(base, "sfaasd-00000000000000aa-11/ns/fn/leaf", p, sizeof p);
        mkdirs(base, "sfaasd-run-14-0000abcd/leaf", p, sizeof p);
        abandoned_lock(sw.lock_dir_fd, "sfaasd-00000000000000bb-13");
        abandoned_lock(sw.lock_dir_fd, "sfaasd-run-14-0000abcd");
        holder = hold_lock(sw.lock_dir_fd, "sfaasd-00000000000000cc-15");

        sb_cgroup_sweep(bases, 1, true, true, &sw, &rep);
        for (size_t i = 0; i < ELEMENTSOF(gone); i++)
                if (in_base(base, gone[i]))
                        fail_msg("'%s' not swept", gone[i]);
        for (size_t i = 0; i < ELEMENTSOF(kept); i++)
                if (!in_base(base, kept[i]))
                        fail_msg("'%s' swept", kept[i]);
        assert_false(lock_exists(sw.lock_dir_fd, "sfaasd-00000000000000bb-13"));
        assert_false(lock_exists(sw.lock_dir_fd, "sfaasd-run-14-0000abcd"));
        assert_true(lock_exists(sw.lock_dir_fd, "sfaasd-00000000000000cc-15"));
        /* aa-11 (+ its leaf and 3 levels), aa-12's leaf, bb-13 (+ leaf), run-14 (+ leaf) */
        assert_int_equal(rep.subtrees, 4);
        assert_int_equal(rep.dirs, 5 + 1 + 2 + 2);
        assert_int_equal(rep.lock_files, 2);
        assert_int_equal(rep.busy, 0);

        /* an old name: only with legacy, only a dead pid, never when empty */
        sw.legacy = true;
        memset(&rep, 0, sizeof rep);
        sb_cgroup_sweep(bases, 1, true, true, &sw, &rep);
        assert_true(in_base(base, "sfaasd-2000000000"));
        assert_int_equal(rep.subtrees, 0);

        (void) kill(holder, SIGKILL);
        (void) waitpid(holder, NULL, 0);
        (void) close(sw.lock_dir_fd);
        (void) rm_rf_at(AT_FDCWD, tmpl);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_function_group_layout_and_usage),
                cmocka_unit_test(test_usage_of_unknown_and_bad_groups),
                cmocka_unit_test(test_group_remove),
                cmocka_unit_test(test_spare_leaves),
                cmocka_unit_test(test_usage_files_v1_v2),
                cmocka_unit_test(test_stale_three_level_subtree_swept),
                cmocka_unit_test(test_subtree_names),
                cmocka_unit_test(test_sweep_by_owner_and_lock),
                cmocka_unit_test(test_killed_run_swept_by_next),
                cmocka_unit_test(test_sweep_decisions_v2_layout),
        };
        return cmocka_run_group_tests_name("cgroup", tests, setup, teardown);
}
