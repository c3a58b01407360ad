/* SPDX-License-Identifier: MIT */
/*
 * The unpacker process: the parent side starts it and judges what it did,
 * the helper side unpacks. store/image_confine.c explains why a separate,
 * re-executed process and how it is confined.
 *
 * Parent (image_unpack_isolated(), on the import's worker thread):
 * posix_spawn() of /proc/self/exe (glibc's is a CLONE_VM|CLONE_VFORK child
 * that only dup2()s, opens /dev/null and execs: safe in the multithreaded
 * daemon) with
 *     argv  "sfaasd-unpack" HELPER_ARG <parent pid> <layers> <5 limits>
 *           <diff_id of each layer>
 *     fds   0-2 /dev/null (2 is kept under ASan, for its reports),
 *           3 the write end of the report pipe, 4 the rootfs (O_PATH),
 *           5.. the layer blobs, read-only, in order; nothing else
 *     env   empty (kept under ASan, for ASAN_OPTIONS)
 * in a session of its own, default signal dispositions and an empty mask.
 * It then reads one struct unpack_report, reaps the helper, and walks the
 * tree it left (image_rootfs_check()).
 *
 * Helper: an ELF constructor, run by every binary that links store/ (the
 * daemon, the unit tests, the fuzz replay, bench/unpackbench) before main(),
 * recognises HELPER_ARG in argv[1] (glibc passes argc/argv/envp to
 * constructors), runs the unpack and _exit()s, so no binary's main()
 * needs to know. runc's nsexec runs its pre-Go setup from a constructor
 * the same way.
 *
 * The report is one write of less than PIPE_BUF bytes (atomic); anything
 * else (no report, a short or long one, a bad magic, a code outside
 * -4095..0) is the helper's failure, with the reason taken from how it
 * ended. Its text is made printable again before use: the helper is not
 * trusted, even to describe its own failure.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <iconv.h>
#include <jansson.h>
#include <langinfo.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/base/cleanup.h"
#include "core/base/util.h"
#include "store/image_internal.h"

#define HELPER_ARG "--sfaasd-unpack-helper-v1"
#define HELPER_NAME "sfaasd-unpack"
#define FD_REPORT 3
#define FD_ROOT 4
#define FD_LAYER0 5
#define REPORT_MAGIC 0x50554653u /* "SFUP" */
/* A report's code is 0 or -errno, -MAX_ERRNO at most (as the kernel's). */
#define MAX_ERRNO 4095

/* The numbers on the helper's command line, after HELPER_ARG. */
enum helper_num {
        NUM_PPID,
        NUM_LAYERS,
        NUM_MAX_ARCHIVE_BYTES,
        NUM_MAX_UNPACKED_BYTES,
        NUM_MAX_ENTRIES,
        NUM_MAX_PATH_LEN,
        NUM_MAX_LAYERS,
        HELPER_NUMS,
};
/* argv: name, HELPER_ARG, the HELPER_NUMS numbers; then the diff_ids. */
#define ARGV_FIXED (2 + HELPER_NUMS)

#if defined(__SANITIZE_ADDRESS__)
#define HELPER_UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HELPER_UNDER_ASAN 1
#endif
#endif

extern char **environ;

struct unpack_report {
        uint32_t magic;
        int32_t code;                /* 0 or -errno */
        uint32_t flags;              /* UNPACK_CONFINED_* */
        uint32_t reserved;
        uint64_t bytes;              /* file bytes written */
        uint64_t dropped;            /* devices, sockets */
        char msg[sizeof(((struct sf_err *) 0)->msg)];
};

_Static_assert(sizeof(struct unpack_report) <= 4096, "the report must be one atomic pipe write");

/* ---- helper side ------------------------------------------------------- */

struct helper_args {
        pid_t ppid;
        size_t n_layers;
        struct image_limits lim;
        char *const *diff_ids;
};

static int helper_parse(int argc, char **argv, struct helper_args *a)
{
        uint64_t v[HELPER_NUMS];

        if (argc < ARGV_FIXED)
                return -EINVAL;
        for (int i = 0; i < HELPER_NUMS; i++)
                if (parse_u64(argv[2 + i], &v[i]) < 0)
                        return -EINVAL;
        if (v[NUM_PPID] == 0 || v[NUM_PPID] > INT32_MAX || v[NUM_LAYERS] != (uint64_t) (argc - ARGV_FIXED) ||
            v[NUM_LAYERS] > v[NUM_MAX_LAYERS])
                return -EINVAL;
        a->ppid = (pid_t) v[NUM_PPID];
        a->n_layers = (size_t) v[NUM_LAYERS];
        a->lim = (struct image_limits){
                .max_archive_bytes = v[NUM_MAX_ARCHIVE_BYTES],
                .max_unpacked_bytes = v[NUM_MAX_UNPACKED_BYTES],
                .max_entries = v[NUM_MAX_ENTRIES],
                .max_path_len = v[NUM_MAX_PATH_LEN],
                .max_layers = v[NUM_MAX_LAYERS],
        };
        for (int i = ARGV_FIXED; i < argc; i++)
                if (!image_digest_valid(argv[i]))
                        return -EINVAL;
        a->diff_ids = argv + ARGV_FIXED;
        return 0;
}

static int helper_fds_check(size_t n_layers)
{
        struct stat sb;

        if (fstat(FD_ROOT, &sb) < 0 || !S_ISDIR(sb.st_mode))
                return -EBADF;
        for (size_t i = 0; i < n_layers; i++)
                if (fstat(FD_LAYER0 + (int) i, &sb) < 0 || !S_ISREG(sb.st_mode))
                        return -EBADF;
        /* posix_spawn closed the rest already; this also covers a caller
         * that passed something by mistake. */
        if (syscall(SYS_close_range, (unsigned) FD_LAYER0 + n_layers, ~0U, 0) < 0 && errno != ENOSYS)
                return -errno;
        return 0;
}

/* Everything that would read a file or draw randomness on first use does
 * it now, from the host's "/" (store/image_confine.c, step 0). */
static int helper_warm_up(EVP_MD **ret_md)
{
        iconv_t cd;

        /* No openssl.cnf: a config can load provider modules. */
        if (OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG, NULL) != 1)
                return -ENOMEM;
        *ret_md = EVP_MD_fetch(NULL, "SHA256", NULL);
        if (!*ret_md)
                return -ENOMEM;
        json_object_seed(0);
        /* libarchive converts pax (UTF-8) names to the locale's charset
         * with iconv; glibc reads its gconv module list on the first
         * iconv_open() of the process, by absolute path. UTF-8 and ASCII
         * are built into glibc: no module is loaded afterwards. */
        cd = iconv_open(nl_langinfo(CODESET), "UTF-8");
        if (cd != (iconv_t) -1)
                (void) iconv_close(cd);
        return 0;
}

static int helper_run(int argc, char **argv, struct unpack_report *rep, struct sf_err *err)
{
        struct unpack_state *st = NULL;
        struct helper_args a;
        struct unpack_confinement c;
        EVP_MD *md = NULL;
        void *filter = NULL;
        unsigned flags = 0;
        int r;

        /* Die with the thread that waits for us. */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
                return sf_err_errno(err, -errno, "unpacker: cannot set the parent-death signal");
        r = helper_parse(argc, argv, &a);
        if (r < 0)
                return sf_err_set(err, r, "unpacker: bad arguments");
        if (getppid() != a.ppid)
                return sf_err_set(err, -ESRCH, "unpacker: the parent is gone");
        r = helper_fds_check(a.n_layers);
        if (r < 0)
                return sf_err_errno(err, r, "unpacker: bad file descriptors");
        r = helper_warm_up(&md);
        if (r < 0)
                return sf_err_errno(err, r, "unpacker: cannot initialise SHA-256");
        r = image_confine_seccomp_new(getpid(), &filter);
        if (r < 0)
                return sf_err_errno(err, r, "cannot confine the unpacker: seccomp filter");
        r = unpack_state_new(FD_ROOT, &a.lim, &st);
        if (r < 0)
                return sf_err_errno(err, r, "unpacker: cannot start");

        c = (struct unpack_confinement){ .root_fd = FD_ROOT,
                                         .max_fd = FD_LAYER0 + (int) a.n_layers - 1,
                                         .max_file_bytes = a.lim.max_unpacked_bytes };
        r = image_confine_process(&c, filter, &flags, err);
        if (r < 0)
                return r;
        rep->flags = flags;

        /* From here on, every byte read is hostile. */
        for (size_t i = 0; i < a.n_layers; i++) {
                r = image_unpack_layer(st, FD_LAYER0 + (int) i, (unsigned) (i + 1), a.diff_ids[i], err);
                if (r < 0)
                        return r;
        }
        r = image_unpack_finish(st, err);
        if (r < 0)
                return r;
        rep->bytes = unpack_state_bytes(st);
        rep->dropped = unpack_state_dropped(st);
        /* st, md and filter die with the process. */
        return 0;
}

__attribute__((noreturn)) static void helper_main(int argc, char **argv)
{
        struct unpack_report rep;
        struct sf_err err;
        int r;

        memset(&rep, 0, sizeof rep);
        sf_err_clear(&err);
        r = helper_run(argc, argv, &rep, &err);
        if (r < 0 && !err.msg[0])
                (void) sf_err_errno(&err, r, "unpack failed");
        rep.magic = REPORT_MAGIC;
        rep.code = r < 0 ? r : 0;
        if (r < 0)
                memcpy(rep.msg, err.msg, sizeof rep.msg);
        rep.msg[sizeof rep.msg - 1] = '\0';
        _exit(write_all(FD_REPORT, &rep, sizeof rep) < 0 ? 3 : 0);
}

/* See the top of the file. Every binary has this constructor; it returns
 * at once unless argv[1] is HELPER_ARG. */
__attribute__((constructor)) static void image_helper_ctor(int argc, char **argv, char **envp)
{
        (void) envp;
        if (argc >= 2 && argv && argv[1] && strcmp(argv[1], HELPER_ARG) == 0)
                helper_main(argc, argv);
}

/* ---- parent side ------------------------------------------------------- */

static int report_read(int fd, struct unpack_report *rep, size_t *ret_n)
{
        char extra;
        size_t got = 0;

        while (got < sizeof *rep) {
                ssize_t n = read(fd, (char *) rep + got, sizeof *rep - got);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        break;
                got += (size_t) n;
        }
        *ret_n = got;
        /* Exactly one report, then EOF when the helper is gone. */
        for (;;) {
                ssize_t n = read(fd, &extra, 1);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n > 0)
                        *ret_n = sizeof *rep + 1;
                return 0;
        }
}

static int helper_reap(pid_t pid, int *ret_status)
{
        while (waitpid(pid, ret_status, 0) < 0) {
                if (errno != EINTR)
                        return -errno;
        }
        return 0;
}

static int helper_ended_badly(int status, size_t got, struct sf_err *err)
{
        if (WIFSIGNALED(status))
                return sf_err_set(err, -EBADMSG, "the unpacker was killed by signal %d (%s); image refused",
                                  WTERMSIG(status), strsignal(WTERMSIG(status)));
        if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
                return sf_err_set(err, -EBADMSG, "the unpacker exited with status %d; image refused",
                                  WEXITSTATUS(status));
        return sf_err_set(err, -EBADMSG, "the unpacker sent a malformed report (%zu bytes); image refused", got);
}

struct spawn_ctx {
        posix_spawn_file_actions_t fa;
        posix_spawnattr_t attr;
        bool fa_ok, attr_ok;
};

static void spawn_ctx_release(struct spawn_ctx *s)
{
        if (s->fa_ok)
                (void) posix_spawn_file_actions_destroy(&s->fa);
        if (s->attr_ok)
                (void) posix_spawnattr_destroy(&s->attr);
}

static int spawn_ctx_init(struct spawn_ctx *s, const int *src, int n_fds)
{
        sigset_t none, all;
        int r;

        r = posix_spawn_file_actions_init(&s->fa);
        if (r != 0)
                return -r;
        s->fa_ok = true;
        r = posix_spawnattr_init(&s->attr);
        if (r != 0)
                return -r;
        s->attr_ok = true;
        /* Every source is above the target range (see the caller), so no
         * dup2 overwrites a source still to be copied. */
        for (int i = 0; i < n_fds && r == 0; i++)
                r = posix_spawn_file_actions_adddup2(&s->fa, src[i], FD_REPORT + i);
        if (r == 0)
                r = posix_spawn_file_actions_addopen(&s->fa, 0, "/dev/null", O_RDONLY, 0);
        if (r == 0)
                r = posix_spawn_file_actions_addopen(&s->fa, 1, "/dev/null", O_WRONLY, 0);
#ifndef HELPER_UNDER_ASAN
        if (r == 0)
                r = posix_spawn_file_actions_addopen(&s->fa, 2, "/dev/null", O_WRONLY, 0);
#endif
        if (r == 0)
                r = posix_spawn_file_actions_addclosefrom_np(&s->fa, FD_REPORT + n_fds);
        if (r != 0)
                return -r;
        (void) sigemptyset(&none);
        (void) sigfillset(&all);
        (void) sigdelset(&all, SIGKILL);
        (void) sigdelset(&all, SIGSTOP);
        r = posix_spawnattr_setsigmask(&s->attr, &none);
        if (r == 0)
                r = posix_spawnattr_setsigdefault(&s->attr, &all);
        /* A session of its own: a terminal's ^C to a foreground daemon
         * must not kill in-flight unpacks it is about to finish. */
        if (r == 0)
                r = posix_spawnattr_setflags(&s->attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
                                                              POSIX_SPAWN_SETSID);
        return -r;
}

#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
/* libFuzzer (`make fuzz`, which defines the macro, as OSS-Fuzz does) sees
 * coverage in its own process only: its builds unpack in-process and
 * UNCONFINED, so that mutations are guided through image_unpack.c too. The
 * corpus replay of `make test` and every product build use the helper. */
static int unpack_in_process(int root_fd, const struct image_plan *plan, const int *blob_fds,
                             const struct image_limits *lim, uint64_t *ret_bytes, uint64_t *ret_dropped,
                             struct sf_err *err)
{
        struct unpack_state *st = NULL;
        int r = unpack_state_new(root_fd, lim, &st);

        for (size_t i = 0; r >= 0 && i < plan->n_layers; i++)
                r = image_unpack_layer(st, blob_fds[i], (unsigned) (i + 1), plan->layers[i].diff_id, err);
        if (r >= 0)
                r = image_unpack_finish(st, err);
        if (r >= 0) {
                *ret_bytes = unpack_state_bytes(st);
                *ret_dropped = unpack_state_dropped(st);
        }
        unpack_state_free(st);
        return r;
}
#endif

/* The helper's command line (see the top of the file); argv points into
 * nums and into the plan. */
struct helper_cmdline {
        char **argv;
        char nums[HELPER_NUMS][IMAGE_U64_DEC_SIZE];
};

static void helper_cmdline_release(struct helper_cmdline *c)
{
        free(c->argv);
        c->argv = NULL;
}

static int helper_cmdline_build(struct helper_cmdline *c, const struct image_plan *plan,
                                const struct image_limits *lim)
{
        const uint64_t vals[HELPER_NUMS] = {
                [NUM_PPID] = (uint64_t) getpid(),
                [NUM_LAYERS] = plan->n_layers,
                [NUM_MAX_ARCHIVE_BYTES] = lim->max_archive_bytes,
                [NUM_MAX_UNPACKED_BYTES] = lim->max_unpacked_bytes,
                [NUM_MAX_ENTRIES] = lim->max_entries,
                [NUM_MAX_PATH_LEN] = lim->max_path_len,
                [NUM_MAX_LAYERS] = lim->max_layers,
        };

        c->argv = calloc(ARGV_FIXED + plan->n_layers + 1, sizeof *c->argv);
        if (!c->argv)
                return -ENOMEM;
        c->argv[0] = (char *) HELPER_NAME;
        c->argv[1] = (char *) HELPER_ARG;
        for (int i = 0; i < HELPER_NUMS; i++) {
                int r = xsnprintf(c->nums[i], sizeof c->nums[i], "%llu", (unsigned long long) vals[i]);
                if (r < 0)
                        return r;
                c->argv[2 + i] = c->nums[i];
        }
        for (size_t i = 0; i < plan->n_layers; i++)
                c->argv[ARGV_FIXED + i] = (char *) plan->layers[i].diff_id;
        return 0;
}

/* Start the helper with argv, the rootfs and the n_layers blobs at their
 * fds; *ret_report: the read end of its report pipe. */
static int helper_spawn(char **argv, int root_fd, const int *blob_fds, size_t n_layers, pid_t *ret_pid,
                        int *ret_report, struct sf_err *err)
{
        const int n_fds = 2 + (int) n_layers;
        struct spawn_ctx sc = { .fa_ok = false };
        _cleanup_free_ int *src = NULL;
        _cleanup_close_ int rd = -1, wr = -1;
        char *empty_env[] = { NULL };
        char **envp = empty_env;
        int pipefd[2], r;

        src = calloc((size_t) n_fds, sizeof *src);
        if (!src)
                return -ENOMEM;
        for (int i = 0; i < n_fds; i++)
                src[i] = -1;
        if (pipe2(pipefd, O_CLOEXEC) < 0)
                return sf_err_errno(err, -errno, "cannot start the unpacker: pipe");
        rd = pipefd[0];
        wr = pipefd[1];
        /* Copies above the target range 3..3+n_fds-1, CLOEXEC like every
         * fd of the daemon; the dup2 in the child clears the flag. */
        for (int i = 0; i < n_fds; i++) {
                int from = i == 0 ? wr : i == 1 ? root_fd : blob_fds[i - 2];
                src[i] = fcntl(from, F_DUPFD_CLOEXEC, FD_REPORT + n_fds);
                if (src[i] < 0) {
                        r = sf_err_errno(err, -errno, "cannot start the unpacker: dup");
                        goto out;
                }
        }
        r = spawn_ctx_init(&sc, src, n_fds);
        if (r < 0) {
                r = sf_err_errno(err, r, "cannot start the unpacker: spawn attributes");
                goto out;
        }
#ifdef HELPER_UNDER_ASAN
        envp = environ;
#endif
        r = posix_spawn(ret_pid, "/proc/self/exe", &sc.fa, &sc.attr, argv, envp);
        if (r != 0) {
                r = sf_err_errno(err, -r, "cannot start the unpacker");
                goto out;
        }
        *ret_report = TAKE_FD(rd);
        r = 0;
out:
        /* Our copies of what the helper holds (and wr, by its cleanup):
         * EOF on the report pipe comes when the helper exits. */
        for (int i = 0; i < n_fds; i++)
                if (src[i] >= 0)
                        (void) close(src[i]);
        spawn_ctx_release(&sc);
        return r;
}

/* Read the helper's report from fd, reap it, and judge both: the report
 * of a helper that ended cleanly, or why it is refused. */
static int helper_wait(pid_t pid, int fd, struct unpack_report *rep, struct sf_err *err)
{
        size_t got = 0;
        int status = 0, r, q;

        memset(rep, 0, sizeof *rep);
        r = report_read(fd, rep, &got);
        q = helper_reap(pid, &status);
        if (q < 0)
                return sf_err_errno(err, q, "cannot reap the unpacker");
        if (r < 0)
                return sf_err_errno(err, r, "cannot read the unpacker's report");
        if (got != sizeof *rep || rep->magic != REPORT_MAGIC || rep->code > 0 || rep->code < -MAX_ERRNO ||
            !WIFEXITED(status) || WEXITSTATUS(status) != 0)
                return helper_ended_badly(status, got, err);
        if (rep->code < 0) {
                char msg[sizeof rep->msg];

                rep->msg[sizeof rep->msg - 1] = '\0';
                if (rep->msg[0])
                        return sf_err_set(err, rep->code, "%s", image_printable(rep->msg, msg, sizeof msg));
                return sf_err_errno(err, rep->code, "unpack failed");
        }
        return 0;
}

int image_unpack_isolated(int root_fd, const struct image_plan *plan, const int *blob_fds,
                          const struct image_limits *lim, uint64_t *ret_bytes, uint64_t *ret_dropped,
                          unsigned *ret_flags, struct sf_err *err)
{
        _cleanup_(helper_cmdline_release) struct helper_cmdline cmd = { .argv = NULL };
        _cleanup_close_ int report_fd = -1;
        struct unpack_report rep;
        pid_t pid;
        int r;

        if (plan->n_layers > INT32_MAX / 2)
                return -E2BIG;
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
        r = unpack_in_process(root_fd, plan, blob_fds, lim, ret_bytes, ret_dropped, err);
        if (r >= 0)
                r = image_rootfs_check(root_fd, lim, err);
        if (r >= 0)
                *ret_flags = 0; /* no warning per input: not a product build */
        return r;
#endif
        r = helper_cmdline_build(&cmd, plan, lim);
        if (r < 0)
                return r;
        r = helper_spawn(cmd.argv, root_fd, blob_fds, plan->n_layers, &pid, &report_fd, err);
        if (r < 0)
                return r;
        r = helper_wait(pid, report_fd, &rep, err);
        if (r < 0)
                return r;
        /* The helper is gone: check what it left, trusting nothing. */
        r = image_rootfs_check(root_fd, lim, err);
        if (r < 0)
                return r;
        *ret_bytes = rep.bytes;
        *ret_dropped = rep.dropped;
        *ret_flags = rep.flags;
        return 0;
}

/* ---- the parent's check of the tree ------------------------------------ */

/* What the policy (store/image_unpack.c) guarantees and a compromised
 * helper could break, re-checked without trusting the tree: nothing is
 * followed (O_NOFOLLOW, AT_SYMLINK_NOFOLLOW), depth and entries are
 * capped, names are printed through image_printable(). The helper has
 * exited, so nothing changes underneath. xattrs are not walked: the
 * helper lacks CAP_SETFCAP and CAP_SYS_ADMIN (no security.capability, no
 * trusted.*), and user.* or ACLs only matter inside the sandbox. */
struct tree_check {
        const struct image_limits *lim;
        uint64_t entries;
        struct sf_err *err;
};

static int tree_refuse(struct tree_check *tc, const char *dir, const char *name, const char *why)
{
        char pd[IMAGE_PRINTABLE_SIZE], pn[IMAGE_PRINTABLE_SIZE];

        return sf_err_set(tc->err, -EBADMSG, "the unpacker's output breaks the policy at '/%s%s%s': %s; image refused",
                          image_printable(dir, pd, sizeof pd), *dir ? "/" : "",
                          image_printable(name, pn, sizeof pn), why);
}

/* Takes fd (an O_RDONLY directory): one fd per level, like rm -rf. */
static int tree_check_dir(struct tree_check *tc, int fd, const char *path, unsigned depth)
{
        _cleanup_(closedirp) DIR *d = NULL;
        struct dirent *de;
        int r;

        d = fdopendir(fd);
        if (!d) {
                r = -errno;
                (void) close(fd);
                return sf_err_errno(tc->err, r, "cannot check the unpacked tree");
        }
        while ((errno = 0, de = readdir(d))) {
                struct stat sb;

                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                        continue;
                if (++tc->entries > tc->lim->max_entries + 16)
                        return tree_refuse(tc, path, de->d_name, "more entries than the limit");
                if (fstatat(dirfd(d), de->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0)
                        return sf_err_errno(tc->err, -errno, "cannot check the unpacked tree");
                if (!S_ISREG(sb.st_mode) && !S_ISDIR(sb.st_mode) && !S_ISLNK(sb.st_mode) && !S_ISFIFO(sb.st_mode))
                        return tree_refuse(tc, path, de->d_name, "a device or socket");
                if (sb.st_mode & (S_ISUID | S_ISGID))
                        return tree_refuse(tc, path, de->d_name, "setuid or setgid");
                if (!S_ISDIR(sb.st_mode) && (sb.st_mode & S_ISVTX))
                        return tree_refuse(tc, path, de->d_name, "sticky bit on a non-directory");
                if (sb.st_uid >= IMAGE_ID_LIMIT || sb.st_gid >= IMAGE_ID_LIMIT)
                        return tree_refuse(tc, path, de->d_name, "owner outside 0..65535");
                if (S_ISDIR(sb.st_mode)) {
                        _cleanup_free_ char *child = NULL;
                        int cfd;

                        if (depth + 1 > IMAGE_MAX_DIR_DEPTH)
                                return tree_refuse(tc, path, de->d_name, "nested too deep");
                        child = *path ? xasprintf("%s/%s", path, de->d_name) : strdup(de->d_name);
                        if (!child)
                                return -ENOMEM;
                        cfd = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        if (cfd < 0)
                                return sf_err_errno(tc->err, -errno, "cannot check the unpacked tree");
                        r = tree_check_dir(tc, cfd, child, depth + 1);
                        if (r < 0)
                                return r;
                }
        }
        if (errno > 0)
                return sf_err_errno(tc->err, -errno, "cannot check the unpacked tree");
        return 0;
}

int image_rootfs_check(int root_fd, const struct image_limits *lim, struct sf_err *err)
{
        static const char *const sysdirs[] = { "proc", "dev", "sys", "tmp", "etc" };
        struct tree_check tc = { .lim = lim, .err = err };
        struct stat sb;
        int fd;

        if (fstat(root_fd, &sb) < 0)
                return sf_err_errno(err, -errno, "cannot check the unpacked tree");
        if (!S_ISDIR(sb.st_mode) || (sb.st_mode & (S_ISUID | S_ISGID)) || sb.st_uid >= IMAGE_ID_LIMIT ||
            sb.st_gid >= IMAGE_ID_LIMIT)
                return tree_refuse(&tc, "", "", "bad root directory");
        for (size_t i = 0; i < ELEMENTSOF(sysdirs); i++)
                if (fstatat(root_fd, sysdirs[i], &sb, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(sb.st_mode))
                        return tree_refuse(&tc, "", sysdirs[i], "not a directory");
        fd = openat(root_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return sf_err_errno(err, -errno, "cannot check the unpacked tree");
        return tree_check_dir(&tc, fd, "", 0);
}
