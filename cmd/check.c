/* SPDX-License-Identifier: MIT */
/*
 * sfaasd check [--json] [--data DIR]
 *
 * Reports what this host offers for sandboxing, each feature actually
 * tried (a namespace is unshared, an idmapped mount is made on a temporary
 * directory, a seccomp filter is loaded in a throwaway child), and the
 * hardening sysctls with one line of advice when weak. Exit status 1 when
 * something the launcher REQUIRES is missing, else 0. Not root: one
 * failure that says so, and nothing tried (every probe would fail with
 * EPERM and blame the kernel). --quiet prints only warnings and failures
 * and the verdict: the service runs it before every start
 * (ExecStartPre=), where a full report at each start would bury the
 * reason of a refusal.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/filter.h>
#include <linux/landlock.h>
#include <linux/openat2.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cmd/commands.h"
#include "core/base/cleanup.h"
#include "core/base/util.h"
#include "sandbox/sandbox.h"

#define CHECK_DETAIL_MAX 1024 /* one item's detail line; a longer one is cut */
#define CHECK_NAME_MAX 64      /* one item's name, e.g. "namespace cgroup" */
#define SECCOMP_ACTIONS_MAX 256 /* the names of the seccomp actions the kernel has */
#define SYSCTL_VALUE_MAX 64     /* a /proc/sys file read for its number */
#define CHECK_UID_BASE (1u << 30) /* host uid mapped to 0 in the idmap test's user namespace */
/* "/proc/<pid>/uid_map", "/proc/<pid>/ns/user", and one line of a uid map */
#define PROC_PID_FILE_MAX sizeof("/proc/-2147483648/gid_map")
#define ID_MAP_LINE_MAX sizeof("4294967295 4294967295 4294967295\n")

enum level { LV_OK, LV_WARN, LV_FAIL, LV_INFO };

struct report {
        bool json;
        bool quiet;
        bool first;
        int failures, warnings;
};

static void json_str(const char *s)
{
        putchar('"');
        for (; *s; s++) {
                unsigned char ch = (unsigned char) *s;
                if (ch == '"' || ch == '\\')
                        printf("\\%c", ch);
                else if (ch < 0x20)
                        printf("\\u%04x", ch);
                else
                        putchar(ch);
        }
        putchar('"');
}

__attribute__((format(printf, 5, 6))) static void item(struct report *rep, enum level lv, const char *name,
                                                       const char *advice, const char *fmt, ...)
{
        static const char *const tags[] = { "ok", "warn", "FAIL", "info" };
        char detail[CHECK_DETAIL_MAX];
        va_list ap;

        va_start(ap, fmt);
        (void) vsnprintf(detail, sizeof detail, fmt, ap); /* a truncated detail line is acceptable */
        va_end(ap);
        if (lv == LV_FAIL)
                rep->failures++;
        if (lv == LV_WARN)
                rep->warnings++;
        if (rep->json) {
                printf("%s\n  {\"name\": ", rep->first ? "" : ",");
                json_str(name);
                printf(", \"status\": \"%s\", \"detail\": ", lv == LV_FAIL ? "fail" : tags[lv]);
                json_str(detail);
                if (advice && lv != LV_OK && lv != LV_INFO) {
                        printf(", \"advice\": ");
                        json_str(advice);
                }
                printf("}");
                rep->first = false;
                return;
        }
        if (rep->quiet && lv != LV_WARN && lv != LV_FAIL)
                return;
        printf("%-5s %-34s %s\n", tags[lv], name, detail);
        if (advice && (lv == LV_WARN || lv == LV_FAIL))
                printf("      -> %s\n", advice);
}

/* Run fn in a fork()ed child; returns 0 or the child's -errno. */
static int in_child(int (*fn)(void *), void *arg)
{
        int status;
        pid_t pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0) {
                int r = fn(arg);
                _exit(r < 0 ? (-r & 0xff) : 0);
        }
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return -errno;
        if (WIFEXITED(status))
                return -WEXITSTATUS(status);
        return -ECHILD;
}

static int try_unshare(void *arg)
{
        return unshare((int) (intptr_t) arg) < 0 ? -errno : 0;
}

static int try_seccomp(void *arg)
{
        struct sock_filter f[] = { BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW) };
        struct sock_fprog prog = { .len = 1, .filter = f };
        (void) arg;
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                return -errno;
        return syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0 ? -errno : 0;
}

static void check_namespaces(struct report *rep)
{
        static const struct { const char *name; int flag; bool required; } ns[] = {
                { "user", CLONE_NEWUSER, true }, { "pid", CLONE_NEWPID, true },
                { "mount", CLONE_NEWNS, true },  { "net", CLONE_NEWNET, true },
                { "ipc", CLONE_NEWIPC, false },  { "uts", CLONE_NEWUTS, false },
                { "cgroup", CLONE_NEWCGROUP, false },
        };
        char name[CHECK_NAME_MAX];
        for (size_t i = 0; i < ELEMENTSOF(ns); i++) {
                int r = in_child(try_unshare, (void *) (intptr_t) ns[i].flag);
                (void) xsnprintf(name, sizeof name, "namespace %s", ns[i].name);
                if (r == 0)
                        item(rep, LV_OK, name, NULL, "available");
                else
                        item(rep, ns[i].required ? LV_FAIL : LV_WARN, name,
                             "enable CONFIG_*_NS in the kernel and check user.max_*_namespaces",
                             "unshare failed: %s", strerror(-r));
        }
}

static void check_seccomp(struct report *rep)
{
        static const struct { const char *name; uint32_t action; } acts[] = {
                { "kill_process", SECCOMP_RET_KILL_PROCESS }, { "kill_thread", SECCOMP_RET_KILL_THREAD },
                { "trap", SECCOMP_RET_TRAP },                 { "errno", SECCOMP_RET_ERRNO },
                { "user_notif", SECCOMP_RET_USER_NOTIF },     { "trace", SECCOMP_RET_TRACE },
                { "log", SECCOMP_RET_LOG },                   { "allow", SECCOMP_RET_ALLOW },
        };
        char avail[SECCOMP_ACTIONS_MAX] = "";
        size_t n = 0, insns = 0;
        bool need_ok = true;
        struct sf_err err = { 0 };
        int r;

        for (size_t i = 0; i < ELEMENTSOF(acts); i++) {
                uint32_t a = acts[i].action;
                bool ok = syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &a) == 0;
                if (ok) {
                        r = xsnprintf(avail + n, sizeof avail - n, "%s%s", n ? " " : "", acts[i].name);
                        if (r > 0)
                                n += (size_t) r;
                } else if (a == SECCOMP_RET_KILL_PROCESS || a == SECCOMP_RET_ERRNO || a == SECCOMP_RET_ALLOW)
                        need_ok = false;
        }
        r = in_child(try_seccomp, NULL);
        if (r < 0)
                item(rep, LV_FAIL, "seccomp filter", "enable CONFIG_SECCOMP_FILTER", "cannot load a filter: %s",
                     strerror(-r));
        else
                item(rep, need_ok ? LV_OK : LV_FAIL, "seccomp filter", "kernel >= 4.14 needed for KILL_PROCESS",
                     "actions: %s", avail);
        r = sandbox_seccomp_probe(&insns, &err);
        if (r < 0)
                item(rep, LV_FAIL, "seccomp policy", "rebuild sfaasd on this architecture", "%s", err.msg);
        else
                item(rep, LV_OK, "seccomp policy", NULL, "built-in default policy: %zu BPF instructions", insns);
        {
                size_t bytes = 0;
                r = sandbox_init_probe(&bytes, &err);
                if (r < 0)
                        item(rep, LV_FAIL, "sandbox init", "allow executable memfds (vm.memfd_noexec 0 or 1)", "%s",
                             err.msg);
                else
                        item(rep, LV_OK, "sandbox init", NULL, "pid 1 of every sandbox: %zu-byte static binary in a "
                             "sealed memfd", bytes);
        }
}

static void check_cgroups(struct report *rep)
{
        char desc[CHECK_DETAIL_MAX];
        struct sf_err err = { 0 };
        int r = sandbox_cgroup_probe(desc, sizeof desc, &err);
        if (r < 0)
                item(rep, LV_FAIL, "cgroups", "delegate a cgroup with memory and pids controllers to sfaasd",
                     "%s (host: %s)", err.msg, desc);
        else
                item(rep, LV_OK, "cgroups", NULL, "sandboxes use v%d; host: %s", r, desc);
}

static int make_userns_fd(int *ret_fd)
{
        int pfd[2], status, r = 0, fd = -1;
        char path[PROC_PID_FILE_MAX], map[ID_MAP_LINE_MAX];
        pid_t pid;

        if (pipe2(pfd, O_CLOEXEC) < 0)
                return -errno;
        pid = (pid_t) syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, NULL, NULL, NULL, NULL);
        if (pid < 0) {
                r = -errno;
                (void) close(pfd[0]);
                (void) close(pfd[1]);
                return r;
        }
        if (pid == 0) {
                char c;
                (void) close(pfd[1]);
                while (read(pfd[0], &c, 1) < 0 && errno == EINTR)
                        ;
                _exit(0);
        }
        (void) close(pfd[0]);
        (void) xsnprintf(map, sizeof map, "0 %u %u\n", CHECK_UID_BASE, SANDBOX_UID_COUNT);
        (void) xsnprintf(path, sizeof path, "/proc/%d/uid_map", (int) pid);
        r = write_string_file(path, map);
        if (r >= 0) {
                (void) xsnprintf(path, sizeof path, "/proc/%d/gid_map", (int) pid);
                r = write_string_file(path, map);
        }
        if (r >= 0) {
                (void) xsnprintf(path, sizeof path, "/proc/%d/ns/user", (int) pid);
                fd = open(path, O_RDONLY | O_CLOEXEC);
                if (fd < 0)
                        r = -errno;
        }
        (void) close(pfd[1]);
        (void) waitpid(pid, &status, 0);
        if (r >= 0)
                *ret_fd = fd;
        return r;
}

static int try_idmap(const char *dir)
{
        _cleanup_close_ int uns = -1, tree = -1;
        struct mount_attr a = { .attr_set = MOUNT_ATTR_IDMAP | MOUNT_ATTR_RDONLY, .propagation = MS_PRIVATE };
        int r = make_userns_fd(&uns);
        if (r < 0)
                return r;
        a.userns_fd = (uint64_t) uns;
        tree = (int) syscall(SYS_open_tree, AT_FDCWD, dir, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
        if (tree < 0)
                return -errno;
        if (syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH, &a, sizeof a) < 0)
                return -errno;
        return 0;
}

static void check_idmap(struct report *rep, const char *data)
{
        char tmpl[] = "/tmp/sfaasd-check-XXXXXX";
        char *dir = mkdtemp(tmpl);
        int r;

        if (!dir) {
                item(rep, LV_FAIL, "idmapped mounts", NULL, "cannot create a temporary directory: %s", strerror(errno));
                return;
        }
        r = try_idmap(dir);
        (void) rmdir(dir);
        if (r < 0)
                item(rep, LV_FAIL, "idmapped mounts", "kernel >= 5.12 with idmap support in the rootfs filesystem",
                     "on /tmp: %s", strerror(-r));
        else
                item(rep, LV_OK, "idmapped mounts", NULL, "work on /tmp");
        if (data && access(data, F_OK) == 0) {
                r = try_idmap(data);
                if (r < 0)
                        item(rep, LV_FAIL, "idmapped mounts (data dir)",
                             "put the data dir on ext4, xfs, btrfs or tmpfs", "on '%s': %s", data, strerror(-r));
                else
                        item(rep, LV_OK, "idmapped mounts (data dir)", NULL, "work on '%s'", data);
        }
}

static int try_clone3_pidfd(void)
{
        int pidfd = -1;
        struct clone_args args = { .flags = CLONE_PIDFD, .pidfd = (uint64_t) (uintptr_t) &pidfd,
                                   .exit_signal = SIGCHLD };
        siginfo_t si;
        long pid = syscall(SYS_clone3, &args, sizeof args);
        if (pid < 0)
                return -errno;
        if (pid == 0)
                _exit(0);
        if (waitid((idtype_t) 3 /* P_PIDFD */, (id_t) pidfd, &si, WEXITED) < 0) {
                int r = -errno;
                (void) waitpid((pid_t) pid, NULL, 0);
                (void) close(pidfd);
                return r;
        }
        (void) close(pidfd);
        return 0;
}

static void check_syscalls(struct report *rep)
{
        struct open_how how = { .flags = O_PATH | O_CLOEXEC, .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS };
        long fd, abi;
        int r;

        r = try_clone3_pidfd();
        if (r < 0)
                item(rep, LV_FAIL, "clone3 + pidfd", "kernel >= 5.5 needed (5.7 for CLONE_INTO_CGROUP)", "%s",
                     strerror(-r));
        else
                item(rep, LV_OK, "clone3 + pidfd", NULL, "clone3(CLONE_PIDFD) and waitid(P_PIDFD) work");

        fd = syscall(SYS_openat2, AT_FDCWD, "/", &how, sizeof how);
        if (fd < 0)
                item(rep, LV_FAIL, "openat2", "kernel >= 5.6 needed", "%s", strerror(errno));
        else {
                (void) close((int) fd);
                item(rep, LV_OK, "openat2", NULL, "RESOLVE_IN_ROOT works");
        }
        fd = syscall(SYS_fsopen, "tmpfs", FSOPEN_CLOEXEC);
        if (fd < 0)
                item(rep, LV_FAIL, "new mount API", "kernel >= 5.2 needed", "fsopen: %s", strerror(errno));
        else {
                (void) close((int) fd);
                item(rep, LV_OK, "new mount API", NULL, "fsopen/fsmount/move_mount available");
        }
        abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
        if (abi < 0)
                item(rep, LV_INFO, "landlock", NULL, "not available (%s); not required", strerror(errno));
        else
                item(rep, LV_OK, "landlock", NULL, "ABI version %ld", abi);
}

static void check_kernel(struct report *rep)
{
        struct utsname u;
        unsigned major = 0, minor = 0;
        if (uname(&u) < 0) {
                item(rep, LV_WARN, "kernel", NULL, "uname: %s", strerror(errno));
                return;
        }
        (void) sscanf(u.release, "%u.%u", &major, &minor);
        if (major < 5 || (major == 5 && minor < 12))
                item(rep, LV_FAIL, "kernel", "upgrade to a kernel >= 5.15 (idmapped mounts, clone3 into cgroups)",
                     "%s %s", u.release, u.machine);
        else
                item(rep, LV_OK, "kernel", "keep the kernel patched: sfaasd trusts it", "%s %s (keep it patched)",
                     u.release, u.machine);
}

struct sysctl_rule {
        const char *name, *path;
        long min_good;    /* value >= min_good is good ... */
        long max_good;    /* ... and <= max_good */
        const char *advice;
};

static void check_sysctls(struct report *rep)
{
        static const struct sysctl_rule rules[] = {
                { "kernel.io_uring_disabled", "/proc/sys/kernel/io_uring_disabled", 2, 2,
                  "sysctl -w kernel.io_uring_disabled=2 (io_uring is a large attack surface)" },
                { "kernel.unprivileged_bpf_disabled", "/proc/sys/kernel/unprivileged_bpf_disabled", 1, 2,
                  "sysctl -w kernel.unprivileged_bpf_disabled=2" },
                { "kernel.perf_event_paranoid", "/proc/sys/kernel/perf_event_paranoid", 2, 4,
                  "sysctl -w kernel.perf_event_paranoid=3 (or at least 2)" },
                { "vm.unprivileged_userfaultfd", "/proc/sys/vm/unprivileged_userfaultfd", 0, 0,
                  "sysctl -w vm.unprivileged_userfaultfd=0 (userfaultfd eases kernel race exploits)" },
                { "kernel.kptr_restrict", "/proc/sys/kernel/kptr_restrict", 1, 2,
                  "sysctl -w kernel.kptr_restrict=1 (hide kernel pointers)" },
                { "kernel.dmesg_restrict", "/proc/sys/kernel/dmesg_restrict", 1, 1,
                  "sysctl -w kernel.dmesg_restrict=1" },
                { "dev.tty.legacy_tiocsti", "/proc/sys/dev/tty/legacy_tiocsti", 0, 0,
                  "sysctl -w dev.tty.legacy_tiocsti=0 (terminal injection)" },
        };
        for (size_t i = 0; i < ELEMENTSOF(rules); i++) {
                _cleanup_free_ char *buf = NULL;
                char *end;
                long v;
                if (read_file_at(AT_FDCWD, rules[i].path, SYSCTL_VALUE_MAX, &buf, NULL) < 0) {
                        item(rep, LV_INFO, rules[i].name, NULL, "not present on this kernel");
                        continue;
                }
                errno = 0;
                v = strtol(buf, &end, 10);
                if (errno || end == buf) {
                        item(rep, LV_WARN, rules[i].name, rules[i].advice, "unreadable value '%s'", buf);
                        continue;
                }
                if (v >= rules[i].min_good && v <= rules[i].max_good)
                        item(rep, LV_OK, rules[i].name, NULL, "%ld", v);
                else
                        item(rep, LV_WARN, rules[i].name, rules[i].advice, "%ld", v);
        }
}

int cmd_check(int argc, char **argv)
{
        static const struct option opts[] = {
                { "json", no_argument, NULL, 'j' },
                { "quiet", no_argument, NULL, 'q' },
                { "data", required_argument, NULL, 'd' },
                { "help", no_argument, NULL, 'h' },
                { NULL, 0, NULL, 0 },
        };
        struct report rep = { .first = true };
        const char *data = "./.sfaasd-data";
        int c;

        optind = 1;
        opterr = 0;
        while ((c = getopt_long(argc, argv, "hq", opts, NULL)) != -1) {
                switch (c) {
                case 'j': rep.json = true; break;
                case 'q': rep.quiet = true; break;
                case 'd': data = optarg; break;
                case 'h':
                        printf("usage: sfaasd check [--json] [--quiet] [--data DIR]\n"
                               "Report what this host offers for sandboxing; exit 1 when a required feature "
                               "is missing.\n"
                               "  --json      one JSON object\n"
                               "  --quiet     only warnings, failures and the verdict\n"
                               "  --data DIR  also try idmapped mounts on the data folder's file system\n");
                        return EXIT_SUCCESS;
                default:
                        fprintf(stderr, "sfaasd check: unknown option '%s'\n", argv[optind - 1]);
                        return EXIT_USAGE;
                }
        }
        if (rep.json)
                printf("{\"checks\": [");
        if (geteuid() != 0) {
                item(&rep, LV_FAIL, "privileges",
                     "run as root: the launcher creates user namespaces, idmapped mounts and cgroups for every "
                     "sandbox (sudo sfaasd check)",
                     "running as uid %u, not root: nothing else tried", (unsigned) geteuid());
        } else {
                check_kernel(&rep);
                check_namespaces(&rep);
                check_seccomp(&rep);
                check_cgroups(&rep);
                check_idmap(&rep, data);
                check_syscalls(&rep);
                check_sysctls(&rep);
        }
        if (rep.json)
                printf("\n], \"failures\": %d, \"warnings\": %d, \"ok\": %s}\n", rep.failures, rep.warnings,
                       rep.failures ? "false" : "true");
        else
                printf("\n%s: %d required feature(s) missing, %d warning(s)\n",
                       rep.failures ? "NOT READY" : "ready", rep.failures, rep.warnings);
        (void) fflush(stdout);
        return rep.failures ? EXIT_FAILURE : EXIT_SUCCESS;
}
