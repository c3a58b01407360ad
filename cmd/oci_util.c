/* SPDX-License-Identifier: MIT */
/*
 * Helpers of the OCI commands (cmd/oci.h): errors to stderr and --log, the
 * operator's config, signal names, the console socket, pid files. The
 * bottom of cmd/oci*: it uses none of the others.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include "cmd/oci.h"
#include "core/base/cleanup.h"
#include "core/base/timefmt.h"
#include "core/base/util.h"

static void log_line(const struct oci_ctx *ctx, const char *level, const char *msg)
{
        char now[TIME_RFC3339_MAX];
        _cleanup_close_ int fd = -1;

        fprintf(stderr, "sfaasd-runc: %s\n", msg);
        if (!ctx || !ctx->log_path)
                return;
        fd = open(ctx->log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
        if (fd < 0)
                return;
        time_rfc3339(time_unix_ns(), 9, now);
        if (ctx->log_json) {
                _cleanup_free_ char *line = NULL;
                json_t *o = json_pack("{s:s, s:s, s:s}", "level", level, "msg", msg, "time", now);
                if (o) {
                        line = json_dumps(o, JSON_COMPACT);
                        json_decref(o);
                }
                if (line) {
                        (void) write_all(fd, line, strlen(line));
                        (void) write_all(fd, "\n", 1);
                }
        } else {
                _cleanup_free_ char *line = xasprintf("time=\"%s\" level=%s msg=\"%s\"\n", now, level, msg);
                if (line)
                        (void) write_all(fd, line, strlen(line));
        }
}

int oci_error(const struct oci_ctx *ctx, const char *fmt, ...)
{
        char msg[1024];
        va_list ap;

        va_start(ap, fmt);
        (void) vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        log_line(ctx, "error", msg);
        return OCI_EXIT_FAIL;
}

void oci_warn(const struct oci_ctx *ctx, const char *fmt, ...)
{
        char msg[1024];
        va_list ap;

        if (!ctx || !ctx->debug)
                return;
        va_start(ap, fmt);
        (void) vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        log_line(ctx, "warning", msg);
}

/* Sizes in the config: a number of bytes or a string ("256Mi"). */
static int config_size(json_t *o, const char *key, uint64_t *v, struct sf_err *err)
{
        json_t *j = json_object_get(o, key);

        if (!j)
                return 0;
        if (json_is_integer(j) && json_integer_value(j) > 0) {
                *v = (uint64_t) json_integer_value(j);
                return 0;
        }
        if (json_is_string(j) && parse_size(json_string_value(j), v) == 0 && *v > 0)
                return 0;
        return sf_err_set(err, -EINVAL, "oci config: bad '%s'", key);
}

int oci_config_load(const struct oci_ctx *ctx, struct oci_config *ret, struct sf_err *err)
{
        const char *path = ctx && ctx->config ? ctx->config : getenv("SFAASD_OCI_CONFIG");
        struct oci_config c = {
                .uid_base = 1u << 31, .uid_slots = 16384, .memory_bytes = 256ULL << 20, .pids = 1024,
                .cpu_millis = 1000, .rootfs_bytes = 256ULL << 20, .tmp_bytes = 64ULL << 20,
        };
        _cleanup_json_ json_t *o = NULL;
        json_error_t je;
        const char *key;
        json_t *v;
        int r = 0;

        if (!path)
                path = "/etc/sfaasd/oci.json";
        o = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
        if (!o) {
                if (access(path, F_OK) < 0 && errno == ENOENT) {
                        *ret = c;
                        return 0;
                }
                return sf_err_set(err, -EINVAL, "oci config '%s': %s (line %d)", path, je.text, je.line);
        }
        json_object_foreach(o, key, v) {
                if (strcmp(key, "uid_base") == 0 || strcmp(key, "uid_slots") == 0) {
                        uint64_t n = json_is_integer(v) && json_integer_value(v) > 0 ? (uint64_t) json_integer_value(v)
                                                                                        : 0;
                        if (n == 0 || n > UINT32_MAX)
                                return sf_err_set(err, -EINVAL, "oci config '%s': bad '%s'", path, key);
                        if (key[4] == 'b')
                                c.uid_base = (uint32_t) n;
                        else
                                c.uid_slots = (uint32_t) n;
                } else if (strcmp(key, "cpu") == 0) {
                        if (!json_is_string(v) || parse_cpu_millis(json_string_value(v), &c.cpu_millis) < 0 ||
                            c.cpu_millis == 0)
                                return sf_err_set(err, -EINVAL, "oci config '%s': bad 'cpu'", path);
                } else if (strcmp(key, "pids") == 0) {
                        if (!json_is_integer(v) || json_integer_value(v) <= 0)
                                return sf_err_set(err, -EINVAL, "oci config '%s': bad 'pids'", path);
                        c.pids = (uint64_t) json_integer_value(v);
                } else if (strcmp(key, "memory") == 0)
                        r = config_size(o, key, &c.memory_bytes, err);
                else if (strcmp(key, "rootfs_tmpfs") == 0)
                        r = config_size(o, key, &c.rootfs_bytes, err);
                else if (strcmp(key, "tmp_tmpfs") == 0)
                        r = config_size(o, key, &c.tmp_bytes, err);
                else
                        return sf_err_set(err, -EINVAL, "oci config '%s': unknown key '%s'", path, key);
                if (r < 0)
                        return r;
        }
        /* Host root is never mapped, and ranges stay inside uid_t. */
        if (c.uid_base == 0 || (uint64_t) c.uid_base + (uint64_t) c.uid_slots * SANDBOX_UID_COUNT > UINT32_MAX - 1)
                return sf_err_set(err, -EINVAL, "oci config '%s': uid_base %u + %u ranges of %u ids do not fit "
                                  "(and uid_base 0 would map host root)", path, c.uid_base, c.uid_slots,
                                  SANDBOX_UID_COUNT);
        *ret = c;
        return 0;
}

int oci_forward_signals(void)
{
        static const int forwarded[] = { SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH };
        sigset_t sigs;

        (void) sigemptyset(&sigs);
        for (size_t i = 0; i < sizeof forwarded / sizeof *forwarded; i++)
                (void) sigaddset(&sigs, forwarded[i]);
        (void) sigprocmask(SIG_BLOCK, &sigs, NULL);
        return signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK);
}

int oci_parse_signal(const char *s)
{
        uint64_t n;

        if (!s || !*s)
                return -EINVAL;
        if (parse_u64(s, &n) == 0)
                return n >= 1 && n <= 64 ? (int) n : -EINVAL;
        if (strncasecmp(s, "SIG", 3) == 0)
                s += 3;
        for (int sig = 1; sig < 32; sig++) {
                const char *name = sigabbrev_np(sig);
                if (name && strcasecmp(name, s) == 0)
                        return sig;
        }
        if (strcasecmp(s, "RTMIN") == 0)
                return SIGRTMIN;
        if (strcasecmp(s, "RTMAX") == 0)
                return SIGRTMAX;
        return -EINVAL;
}

int oci_console(const char *socket_path, unsigned short rows, unsigned short cols, int *ret_slave, struct sf_err *err)
{
        _cleanup_close_ int master = -1, slave = -1, sock = -1;
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        char name[64];
        union {
                struct cmsghdr h;
                char buf[CMSG_SPACE(sizeof(int))];
        } u;
        struct iovec iov;
        struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf };
        struct cmsghdr *h;

        if (strlen(socket_path) >= sizeof sa.sun_path)
                return sf_err_set(err, -ENAMETOOLONG, "console socket path '%s' is too long", socket_path);
        memcpy(sa.sun_path, socket_path, strlen(socket_path) + 1);
        master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (master < 0 || grantpt(master) < 0 || unlockpt(master) < 0 || ptsname_r(master, name, sizeof name) != 0)
                return sf_err_errno(err, -errno, "cannot make a pseudo-terminal");
        slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (slave < 0)
                return sf_err_errno(err, -errno, "cannot open '%s'", name);
        if (rows && cols) {
                struct winsize ws = { .ws_row = rows, .ws_col = cols };
                (void) ioctl(slave, TIOCSWINSZ, &ws);
        }
        sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (sock < 0 || connect(sock, (struct sockaddr *) &sa, sizeof sa) < 0)
                return sf_err_errno(err, -errno, "cannot connect to the console socket '%s'", socket_path);
        /* runc sends the pty's name as the data, which some engines log */
        iov.iov_base = name;
        iov.iov_len = strlen(name);
        memset(u.buf, 0, sizeof u.buf);
        h = CMSG_FIRSTHDR(&m);
        h->cmsg_level = SOL_SOCKET;
        h->cmsg_type = SCM_RIGHTS;
        h->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(h), &master, sizeof(int));
        if (sendmsg(sock, &m, MSG_NOSIGNAL) < 0)
                return sf_err_errno(err, -errno, "cannot send the terminal to '%s'", socket_path);
        *ret_slave = TAKE_FD(slave);
        return 0;
}

int oci_write_pid_file(const char *path, pid_t pid, struct sf_err *err)
{
        _cleanup_free_ char *dir = NULL;
        _cleanup_close_ int dfd = -1;
        const char *base;
        char buf[24];
        int r;

        dir = strdup(path);
        if (!dir)
                return sf_err_set(err, -ENOMEM, "out of memory");
        base = strrchr(path, '/');
        if (base) {
                dir[base - path] = '\0';
                base++;
                dfd = open(dir[0] ? dir : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        } else {
                base = path;
                dfd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        }
        if (dfd < 0)
                return sf_err_errno(err, -errno, "pid file '%s'", path);
        (void) xsnprintf(buf, sizeof buf, "%d", (int) pid);
        r = write_file_atomic(dfd, base, buf, strlen(buf), 0644);
        if (r < 0)
                return sf_err_errno(err, r, "cannot write the pid file '%s'", path);
        return 0;
}
