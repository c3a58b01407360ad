/* SPDX-License-Identifier: MIT */
/*
 * A container between commands: ROOT/ID/ holds
 *
 *   state.json   what create recorded (pid and its start time, bundle,
 *                rootfs, cgroup path, uid range, annotations, created)
 *   gate         a FIFO the sandbox init holds open (read and write) until
 *                `start` writes its byte into it; start removes it
 *
 * and the status is read from the world, as runc does: "created" while the
 * init lives and the gate is there, "running" while it lives after start,
 * "stopped" once it is gone (or a zombie, or its pid now names another
 * process: the start time recorded at create tells them apart). Every
 * command takes an exclusive flock on ROOT/ID for its whole run, so two of
 * them never act on one container at once.
 *
 * Uid ranges: each container gets a host range of its own (65536 ids from
 * uid_base + slot * 65536, oci_config), so an escape from one lands on ids
 * no other container or tenant shares. OCI_UID_DIR/<slot> names the state
 * folder that owns the slot; a slot whose folder is gone is free again.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cmd/oci.h"
#include "core/base/cleanup.h"
#include "core/base/util.h"

bool oci_id_valid(const char *id)
{
        size_t n = id ? strlen(id) : 0;

        if (n == 0 || n > 1024 || strcmp(id, ".") == 0 || strcmp(id, "..") == 0)
                return false;
        for (const char *c = id; *c; c++)
                if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '_' ||
                      *c == '+' || *c == '-' || *c == '.'))
                        return false;
        return true;
}

const char *oci_status_name(enum oci_status s)
{
        return s == OCI_CREATED ? "created" : s == OCI_RUNNING ? "running" : "stopped";
}

int oci_pid_start(pid_t pid, uint64_t *ret)
{
        _cleanup_free_ char *buf = NULL;
        char path[64], *p;
        uint64_t v;
        int r;

        (void) xsnprintf(path, sizeof path, "/proc/%d/stat", (int) pid);
        r = read_file_at(AT_FDCWD, path, 4096, &buf, NULL);
        if (r < 0)
                return r == -ENOENT ? -ESRCH : r;
        /* "pid (comm) S ppid ...": comm may hold anything, so from the last ')' */
        p = strrchr(buf, ')');
        if (!p || p[1] != ' ' || !p[2])
                return -EIO;
        if (p[2] == 'Z' || p[2] == 'X')
                return -ESRCH;
        /* state is field 3; starttime field 22: 19 more spaces */
        p += 2;
        for (int i = 0; i < 19 && p; i++) {
                p = strchr(p, ' ');
                if (p)
                        p++;
        }
        if (!p)
                return -EIO;
        p[strcspn(p, " ")] = '\0';
        if (parse_u64(p, &v) < 0)
                return -EIO;
        *ret = v;
        return 0;
}

int oci_state_make(const struct oci_ctx *ctx, const char *id, int *ret_dir_fd, struct sf_err *err)
{
        _cleanup_close_ int root = -1, fd = -1;
        int r;

        if (!oci_id_valid(id))
                return sf_err_set(err, -EINVAL, "invalid container id '%.200s' ([A-Za-z0-9_+.-])", id);
        r = mkdir_p(ctx->root, 0700);
        if (r < 0 && r != -EEXIST)
                return sf_err_errno(err, r, "cannot make --root '%s'", ctx->root);
        root = open(ctx->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (root < 0)
                return sf_err_errno(err, -errno, "--root '%s'", ctx->root);
        if (mkdirat(root, id, 0700) < 0)
                return errno == EEXIST ? sf_err_set(err, -EEXIST, "container with id exists: %s", id)
                                       : sf_err_errno(err, -errno, "cannot make '%s/%s'", ctx->root, id);
        fd = openat(root, id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0 || flock(fd, LOCK_EX) < 0)
                return sf_err_errno(err, -errno, "cannot open '%s/%s'", ctx->root, id);
        *ret_dir_fd = TAKE_FD(fd);
        return 0;
}

int oci_state_write(int dir_fd, json_t *state, struct sf_err *err)
{
        _cleanup_free_ char *text = json_dumps(state, JSON_COMPACT);
        int r;

        if (!text)
                return sf_err_set(err, -ENOMEM, "out of memory");
        r = write_file_atomic(dir_fd, "state.json", text, strlen(text), 0600);
        if (r < 0)
                return sf_err_errno(err, r, "cannot write state.json");
        return 0;
}

int oci_state_remove(const struct oci_ctx *ctx, const char *id, int dir_fd)
{
        _cleanup_close_ int root = open(ctx->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        (void) dir_fd; /* still locked by the caller: removed under the lock */
        if (root < 0)
                return -errno;
        return rm_rf_at(root, id);
}

static const char *jstr(json_t *o, const char *key)
{
        const char *s = json_string_value(json_object_get(o, key));
        return s ? s : "";
}

int oci_state_open(const struct oci_ctx *ctx, const char *id, struct oci_state *st, struct sf_err *err)
{
        _cleanup_free_ char *buf = NULL;
        json_error_t je;
        json_t *v;
        uint64_t start;
        size_t len;
        int r;

        memset(st, 0, sizeof *st);
        st->dir_fd = st->pidfd = -1;
        if (!oci_id_valid(id))
                return sf_err_set(err, -EINVAL, "invalid container id '%.200s'", id);
        {
                _cleanup_close_ int root = open(ctx->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (root >= 0)
                        st->dir_fd = openat(root, id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        }
        if (st->dir_fd < 0)
                return sf_err_set(err, -ENOENT, "container does not exist");
        if (flock(st->dir_fd, LOCK_EX) < 0)
                return sf_err_errno(err, -errno, "cannot lock container '%s'", id);
        r = read_file_at(st->dir_fd, "state.json", 1 << 20, &buf, &len);
        if (r == -ENOENT)
                return sf_err_set(err, -ENOENT, "container does not exist");
        if (r < 0)
                return sf_err_errno(err, r, "cannot read the state of '%s'", id);
        st->json = json_loadb(buf, len, 0, &je);
        if (!json_is_object(st->json))
                return sf_err_set(err, -EIO, "the state of '%s' is corrupt: %s", id, je.text);
        if (!(st->id = strdup(id)))
                return sf_err_set(err, -ENOMEM, "out of memory");
        v = json_object_get(st->json, "pid");
        st->pid = json_is_integer(v) ? (pid_t) json_integer_value(v) : 0;
        v = json_object_get(st->json, "pid_start");
        st->pid_start = json_is_integer(v) ? (uint64_t) json_integer_value(v) : 0;
        st->bundle = jstr(st->json, "bundle");
        st->rootfs = jstr(st->json, "rootfs");
        st->cgroup_path = json_string_value(json_object_get(st->json, "cgroup_path"));
        st->created = jstr(st->json, "created");

        /* Alive, and the same process: a pidfd first, then the start time,
         * so the pidfd cannot name a newer process with the same pid. */
        st->status = OCI_STOPPED;
        if (st->pid > 0) {
                st->pidfd = (int) syscall(SYS_pidfd_open, st->pid, 0);
                if (st->pidfd >= 0 && (oci_pid_start(st->pid, &start) < 0 || start != st->pid_start)) {
                        (void) close(st->pidfd);
                        st->pidfd = -1;
                }
        }
        if (st->pidfd >= 0)
                st->status = faccessat(st->dir_fd, "gate", F_OK, AT_SYMLINK_NOFOLLOW) == 0 ? OCI_CREATED : OCI_RUNNING;
        return 0;
}

void oci_state_release(struct oci_state *st)
{
        if (!st)
                return;
        json_decref(st->json);
        free(st->id);
        if (st->dir_fd >= 0)
                (void) close(st->dir_fd);
        if (st->pidfd >= 0)
                (void) close(st->pidfd);
        memset(st, 0, sizeof *st);
        st->dir_fd = st->pidfd = -1;
}

json_t *oci_state_public(const struct oci_state *st)
{
        json_t *o = json_pack("{s:s, s:s, s:i, s:s, s:s, s:s, s:s, s:s}", "ociVersion", OCI_VERSION, "id", st->id,
                              "pid", st->status == OCI_STOPPED ? 0 : (int) st->pid, "status",
                              oci_status_name(st->status), "bundle", st->bundle, "rootfs", st->rootfs, "created",
                              st->created, "owner", "");
        json_t *a = json_object_get(st->json, "annotations");

        if (o && json_is_object(a) && json_object_size(a) > 0)
                (void) json_object_set(o, "annotations", a);
        return o;
}

#define DAEMON_WINDOWS_MAX 64

struct uid_window {
        uint64_t start, end; /* [start, end) */
};

/* The windows of the daemons running now: their claims in SANDBOX_LOCK_DIR
 * that someone holds (sandbox/sandbox.h). At most max; the count. */
static size_t daemon_windows(struct uid_window *w, size_t max)
{
        _cleanup_close_ int dfd = open(SANDBOX_LOCK_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        DIR *d;
        struct dirent *de;
        size_t n = 0;

        if (dfd < 0)
                return 0;
        d = fdopendir(dfd);
        if (!d)
                return 0;
        dfd = -1; /* the DIR has it */
        while ((de = readdir(d)) && n < max) {
                _cleanup_close_ int fd = -1;
                char buf[64];
                ssize_t len;
                size_t l = strlen(de->d_name);
                if (strncmp(de->d_name, "uids-", 5) != 0 || l < 6 || strcmp(de->d_name + l - 6, ".claim") != 0)
                        continue;
                fd = openat(dirfd(d), de->d_name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
                if (fd < 0)
                        continue;
                if (flock(fd, LOCK_SH | LOCK_NB) == 0)
                        continue; /* held by nobody: its daemon is gone */
                len = pread(fd, buf, sizeof buf - 1, 0);
                if (len <= 0)
                        continue;
                buf[len] = '\0';
                if (sscanf(buf, "%" SCNu64 " %" SCNu64, &w[n].start, &w[n].end) == 2 && w[n].start < w[n].end)
                        n++;
        }
        (void) closedir(d);
        return n;
}

/* Slots: OCI_UID_DIR/<n>, created O_EXCL, holding the owner's state path;
 * never one inside a running daemon's window. */
int oci_uid_alloc(const struct oci_config *cfg, const char *state_path, uint32_t *ret_base, struct sf_err *err)
{
        _cleanup_close_ int dir = -1;
        struct uid_window taken[DAEMON_WINDOWS_MAX];
        size_t ntaken;
        uint32_t start = 0;
        char window[64];
        int r;

        r = mkdir_p(OCI_UID_DIR, 0700);
        if (r < 0 && r != -EEXIST)
                return sf_err_errno(err, r, "cannot make '%s'", OCI_UID_DIR);
        dir = open(OCI_UID_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dir < 0 || flock(dir, LOCK_EX) < 0)
                return sf_err_errno(err, -errno, "cannot lock '%s'", OCI_UID_DIR);
        /* Our window, for the daemons' check; then theirs, for ours. */
        (void) xsnprintf(window, sizeof window, "%u %" PRIu64 "\n", cfg->uid_base,
                         (uint64_t) cfg->uid_base + (uint64_t) cfg->uid_slots * SANDBOX_UID_COUNT);
        r = write_file_atomic(dir, SANDBOX_OCI_WINDOW_FILE, window, strlen(window), 0600);
        if (r < 0)
                return sf_err_errno(err, r, "cannot write '%s/%s'", OCI_UID_DIR, SANDBOX_OCI_WINDOW_FILE);
        ntaken = daemon_windows(taken, DAEMON_WINDOWS_MAX);
        /* Start somewhere random: fewer collisions to walk past. */
        (void) random_bytes(&start, sizeof start);
        for (uint32_t i = 0; i < cfg->uid_slots; i++) {
                uint32_t slot = (start + i) % cfg->uid_slots;
                uint64_t lo = (uint64_t) cfg->uid_base + (uint64_t) slot * SANDBOX_UID_COUNT;
                bool in_daemon = false;
                char name[16];
                int fd;

                for (size_t k = 0; k < ntaken && !in_daemon; k++)
                        in_daemon = lo < taken[k].end && taken[k].start < lo + SANDBOX_UID_COUNT;
                if (in_daemon)
                        continue;
                (void) xsnprintf(name, sizeof name, "%u", slot);
                fd = openat(dir, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
                if (fd < 0 && errno == EEXIST) {
                        _cleanup_free_ char *owner = NULL;
                        struct stat sst;
                        if (read_file_at(dir, name, 8192, &owner, NULL) < 0)
                                continue;
                        owner[strcspn(owner, "\n")] = '\0';
                        if (owner[0] != '/' || stat(owner, &sst) == 0 || errno != ENOENT)
                                continue;
                        (void) unlinkat(dir, name, 0); /* its container is gone */
                        fd = openat(dir, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
                }
                if (fd < 0)
                        continue;
                r = write_all(fd, state_path, strlen(state_path));
                (void) close(fd);
                if (r < 0) {
                        (void) unlinkat(dir, name, 0);
                        return sf_err_errno(err, r, "cannot write '%s/%s'", OCI_UID_DIR, name);
                }
                *ret_base = cfg->uid_base + slot * SANDBOX_UID_COUNT;
                return 0;
        }
        return sf_err_set(err, -ENOSPC, "all %u uid ranges are in use (%s) or inside a running sfaasd's window",
                          cfg->uid_slots, OCI_UID_DIR);
}

void oci_uid_free(const struct oci_config *cfg, uint32_t base)
{
        char path[64];

        if (base < cfg->uid_base || (base - cfg->uid_base) % SANDBOX_UID_COUNT != 0)
                return;
        (void) xsnprintf(path, sizeof path, "%s/%u", OCI_UID_DIR, (base - cfg->uid_base) / SANDBOX_UID_COUNT);
        (void) unlink(path);
}

/* One hook: path, args (args[0] is its argv[0]), env, timeout (seconds),
 * the state JSON on its stdin, its output to our stderr. */
static int run_hook(json_t *hook, const char *state_text, struct sf_err *err)
{
        _cleanup_strv_free_ char **args = NULL, **env = NULL;
        const char *path = json_string_value(json_object_get(hook, "path"));
        json_t *a = json_object_get(hook, "args"), *e = json_object_get(hook, "env"), *t = json_object_get(hook, "timeout");
        int in[2], status = 0, pidfd;
        int timeout_ms = json_is_integer(t) && json_integer_value(t) > 0 ? (int) json_integer_value(t) * 1000 : -1;
        size_t i;
        json_t *v;
        pid_t pid;

        if (!path || path[0] != '/')
                return sf_err_set(err, -EINVAL, "hook path '%s' must be absolute", path ? path : "(none)");
        args = calloc((json_is_array(a) ? json_array_size(a) : 0) + 2, sizeof *args);
        env = calloc((json_is_array(e) ? json_array_size(e) : 0) + 1, sizeof *env);
        if (!args || !env)
                return sf_err_set(err, -ENOMEM, "out of memory");
        json_array_foreach(a, i, v)
                if (!(args[i] = strdup(json_is_string(v) ? json_string_value(v) : "")))
                        return sf_err_set(err, -ENOMEM, "out of memory");
        if (!args[0] && !(args[0] = strdup(path)))
                return sf_err_set(err, -ENOMEM, "out of memory");
        json_array_foreach(e, i, v)
                if (!(env[i] = strdup(json_is_string(v) ? json_string_value(v) : "")))
                        return sf_err_set(err, -ENOMEM, "out of memory");
        if (pipe2(in, O_CLOEXEC) < 0)
                return sf_err_errno(err, -errno, "pipe");
        pid = fork();
        if (pid < 0) {
                (void) close(in[0]);
                (void) close(in[1]);
                return sf_err_errno(err, -errno, "fork");
        }
        if (pid == 0) {
                (void) dup2(in[0], 0);
                (void) dup2(2, 1);
                execve(path, args, env);
                _exit(127);
        }
        (void) close(in[0]);
        (void) write_all(in[1], state_text, strlen(state_text));
        (void) close(in[1]);
        pidfd = (int) syscall(SYS_pidfd_open, pid, 0);
        if (pidfd >= 0) {
                struct pollfd p = { .fd = pidfd, .events = POLLIN };
                int n;
                while ((n = poll(&p, 1, timeout_ms)) < 0 && errno == EINTR)
                        ;
                if (n == 0)
                        (void) kill(pid, SIGKILL);
                (void) close(pidfd);
        }
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                return sf_err_set(err, -EIO, "hook '%s' failed (%s %d)", path,
                                  WIFEXITED(status) ? "exit status" : "signal",
                                  WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
        return 0;
}

int oci_run_hooks(const struct oci_ctx *ctx, json_t *config, const char *kind, json_t *state, struct sf_err *err)
{
        json_t *hooks = json_object_get(json_object_get(config, "hooks"), kind), *h;
        _cleanup_free_ char *text = NULL;
        size_t i;

        if (!json_is_array(hooks) || json_array_size(hooks) == 0)
                return 0;
        text = json_dumps(state, JSON_COMPACT);
        if (!text)
                return sf_err_set(err, -ENOMEM, "out of memory");
        json_array_foreach(hooks, i, h) {
                int r = run_hook(h, text, err);
                if (r < 0)
                        return r;
        }
        (void) ctx;
        return 0;
}
