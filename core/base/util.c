/* SPDX-License-Identifier: MIT */

#include "cleanup.h"
#include "util.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int parse_u64(const char *s, uint64_t *ret)
{
        char *end;
        unsigned long long v;

        if (!s || !isdigit((unsigned char) s[0]))
                return -EINVAL;
        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno == ERANGE)
                return -ERANGE;
        if (*end != '\0')
                return -EINVAL;
        *ret = v;
        return 0;
}

/* Parse "<digits>[.<digits>]" into a value scaled by 10^9 (nano units). */
static int parse_decimal_nano(const char *s, const char **ret_end, uint64_t *ret)
{
        uint64_t ip = 0, frac = 0, scale = 1000000000ULL;
        const char *p = s;
        bool any = false;

        while (isdigit((unsigned char) *p)) {
                if (__builtin_mul_overflow(ip, 10, &ip) || __builtin_add_overflow(ip, (uint64_t) (*p - '0'), &ip))
                        return -ERANGE;
                p++;
                any = true;
        }
        if (*p == '.') {
                p++;
                while (isdigit((unsigned char) *p)) {
                        if (scale > 1) {
                                scale /= 10;
                                frac += (uint64_t) (*p - '0') * scale;
                        }
                        p++;
                        any = true;
                }
        }
        if (!any)
                return -EINVAL;
        if (__builtin_mul_overflow(ip, 1000000000ULL, &ip) || __builtin_add_overflow(ip, frac, &ip))
                return -ERANGE;
        *ret_end = p;
        *ret = ip;
        return 0;
}

int parse_size(const char *s, uint64_t *ret)
{
        static const struct { const char *suffix; uint64_t mult; } units[] = {
                { "", 1 }, { "k", 1000ULL }, { "K", 1000ULL }, { "M", 1000000ULL }, { "G", 1000000000ULL },
                { "T", 1000000000000ULL }, { "Ki", 1ULL << 10 }, { "Mi", 1ULL << 20 }, { "Gi", 1ULL << 30 },
                { "Ti", 1ULL << 40 }, { "m", 1000000ULL }, { "g", 1000000000ULL },
                { "KB", 1000ULL }, { "MB", 1000000ULL }, { "GB", 1000000000ULL },
        };
        const char *end;
        uint64_t nano, v;
        int r;

        if (!s)
                return -EINVAL;
        r = parse_decimal_nano(s, &end, &nano);
        if (r < 0)
                return r;
        for (size_t i = 0; i < ELEMENTSOF(units); i++) {
                if (strcmp(end, units[i].suffix) != 0)
                        continue;
                /* value = nano * mult / 1e9, computed without overflow where possible */
                unsigned __int128 x = (unsigned __int128) nano * units[i].mult / 1000000000ULL;
                if (x > UINT64_MAX)
                        return -ERANGE;
                v = (uint64_t) x;
                *ret = v;
                return 0;
        }
        return -EINVAL;
}

int parse_cpu_millis(const char *s, uint64_t *ret)
{
        const char *end;
        uint64_t nano;
        int r;

        if (!s)
                return -EINVAL;
        r = parse_decimal_nano(s, &end, &nano);
        if (r < 0)
                return r;
        if (strcmp(end, "m") == 0) {
                *ret = nano / 1000000000ULL;
                return 0;
        }
        if (*end != '\0')
                return -EINVAL;
        *ret = nano / 1000000ULL;
        return 0;
}

int parse_duration_ms(const char *s, uint64_t *ret)
{
        /* A bare number is seconds; else Go's time.ParseDuration form, one
         * or more number+unit terms ("500ms", "1m30s", "1.5h"). */
        static const struct { const char *suffix; uint64_t ms; } units[] = {
                { "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 },
        };
        const char *p = s, *end;
        uint64_t nano, total = 0;
        int r;

        if (!s || !*s)
                return -EINVAL;
        r = parse_decimal_nano(p, &end, &nano);
        if (r < 0)
                return r;
        if (*end == '\0') {
                unsigned __int128 x = (unsigned __int128) nano * 1000 / 1000000000ULL;
                if (x > UINT64_MAX)
                        return -ERANGE;
                *ret = (uint64_t) x;
                return 0;
        }
        for (;;) {
                size_t i;
                for (i = 0; i < ELEMENTSOF(units); i++) {
                        size_t l = strlen(units[i].suffix);
                        /* "m" must not take the "m" of "ms" */
                        if (strncmp(end, units[i].suffix, l) == 0 && !(l == 1 && end[0] == 'm' && end[1] == 's'))
                                break;
                }
                if (i == ELEMENTSOF(units))
                        return -EINVAL;
                {
                        unsigned __int128 x = (unsigned __int128) nano * units[i].ms / 1000000000ULL;
                        if (x > UINT64_MAX || total + (uint64_t) x < total)
                                return -ERANGE;
                        total += (uint64_t) x;
                }
                p = end + strlen(units[i].suffix);
                if (*p == '\0')
                        break;
                r = parse_decimal_nano(p, &end, &nano);
                if (r < 0)
                        return r;
        }
        *ret = total;
        return 0;
}

struct unit {
        const char *suffix;
        uint64_t mult;
};

/* value as "<n><suffix>" with the first unit (largest first) that divides it. */
static int format_units(uint64_t v, const struct unit *units, size_t n, char *buf, size_t size)
{
        for (size_t i = 0; i < n; i++)
                if (v % units[i].mult == 0 && (v != 0 || i + 1 == n))
                        return xsnprintf(buf, size, "%llu%s", (unsigned long long) (v / units[i].mult),
                                         units[i].suffix);
        return xsnprintf(buf, size, "%llu", (unsigned long long) v);
}

int format_duration_ms(uint64_t ms, char *buf, size_t size)
{
        static const struct unit units[] = { { "h", 3600000 }, { "m", 60000 }, { "s", 1000 }, { "ms", 1 } };
        if (ms == 0)
                return xsnprintf(buf, size, "0s");
        return format_units(ms, units, ELEMENTSOF(units), buf, size);
}

int format_size(uint64_t bytes, char *buf, size_t size)
{
        static const struct unit units[] = {
                { "Ti", 1ULL << 40 }, { "Gi", 1ULL << 30 }, { "Mi", 1ULL << 20 }, { "Ki", 1ULL << 10 },
                { "T", 1000000000000ULL }, { "G", 1000000000ULL }, { "M", 1000000ULL }, { "k", 1000ULL },
                { "", 1 },
        };
        return format_units(bytes, units, ELEMENTSOF(units), buf, size);
}

int format_cpu_millis(uint64_t millis, char *buf, size_t size)
{
        static const struct unit units[] = { { "", 1000 }, { "m", 1 } };
        return format_units(millis, units, ELEMENTSOF(units), buf, size);
}

int read_file_at(int dirfd, const char *path, size_t max, char **ret, size_t *ret_len)
{
        _cleanup_close_ int fd = -1;
        _cleanup_free_ char *buf = NULL;
        size_t len = 0, cap = 4096;

        fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        buf = malloc(cap + 1);
        if (!buf)
                return -ENOMEM;
        for (;;) {
                ssize_t n;
                if (len == cap) {
                        char *nb;
                        if (cap >= max)
                                return -EFBIG;
                        cap = cap * 2 > max ? max : cap * 2;
                        nb = realloc(buf, cap + 1);
                        if (!nb)
                                return -ENOMEM;
                        buf = nb;
                }
                n = read(fd, buf + len, cap - len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        break;
                len += (size_t) n;
        }
        buf[len] = '\0';
        if (ret_len)
                *ret_len = len;
        *ret = TAKE_PTR(buf);
        return 0;
}

int write_all(int fd, const void *buf, size_t len)
{
        const char *p = buf;
        while (len > 0) {
                ssize_t n = write(fd, p, len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                p += n;
                len -= (size_t) n;
        }
        return 0;
}

int write_string_file(const char *path, const char *s)
{
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        return write_all(fd, s, strlen(s));
}

int write_file_atomic(int dirfd, const char *name, const void *buf, size_t len, mode_t mode)
{
        char tmp[PATH_MAX];
        unsigned char rnd[6];
        char hex[13];
        _cleanup_close_ int fd = -1;
        int r;

        r = random_bytes(rnd, sizeof rnd);
        if (r < 0)
                return r;
        hex_encode(rnd, sizeof rnd, hex);
        r = xsnprintf(tmp, sizeof tmp, "%s.tmp-%s", name, hex);
        if (r < 0)
                return r;
        fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
        if (fd < 0)
                return -errno;
        if (fchmod(fd, mode) < 0 || (r = write_all(fd, buf, len)) < 0 || fsync(fd) < 0) {
                r = r < 0 ? r : -errno;
                (void) unlinkat(dirfd, tmp, 0);
                return r;
        }
        if (renameat(dirfd, tmp, dirfd, name) < 0) {
                r = -errno;
                (void) unlinkat(dirfd, tmp, 0);
                return r;
        }
        return 0;
}

int mkdir_p(const char *path, mode_t mode)
{
        char buf[PATH_MAX];
        int r = xsnprintf(buf, sizeof buf, "%s", path);
        if (r < 0)
                return r;
        for (char *p = buf + 1; *p; p++) {
                if (*p != '/')
                        continue;
                *p = '\0';
                if (mkdir(buf, mode) < 0 && errno != EEXIST)
                        return -errno;
                *p = '/';
        }
        if (mkdir(buf, mode) < 0 && errno != EEXIST)
                return -errno;
        return 0;
}

int rm_rf_at(int parent_fd, const char *name)
{
        _cleanup_close_ int fd = -1;
        DIR *d;
        struct dirent *de;
        int r = 0;

        if (unlinkat(parent_fd, name, 0) == 0)
                return 0;
        if (errno == ENOENT)
                return 0;
        if (errno != EISDIR && errno != EPERM)
                return -errno;
        fd = openat(parent_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        d = fdopendir(fd);
        if (!d)
                return -errno;
        fd = -1; /* owned by d */
        while ((de = readdir(d))) {
                int q;
                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                        continue;
                q = rm_rf_at(dirfd(d), de->d_name);
                if (q < 0 && r == 0)
                        r = q;
        }
        (void) closedir(d);
        if (unlinkat(parent_fd, name, AT_REMOVEDIR) < 0 && r == 0)
                r = -errno;
        return r;
}

int open_in_root(int root_fd, const char *path, int flags, mode_t mode)
{
        struct open_how how = {
                .flags = (uint64_t) (flags | O_CLOEXEC),
                .mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0,
                .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
        };
        long fd = syscall(SYS_openat2, root_fd, path, &how, sizeof how);
        if (fd < 0)
                return -errno;
        return (int) fd;
}

int random_bytes(void *buf, size_t n)
{
        char *p = buf;
        while (n > 0) {
                ssize_t k = getrandom(p, n, 0);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                p += k;
                n -= (size_t) k;
        }
        return 0;
}

void hex_encode(const unsigned char *in, size_t n, char *out)
{
        static const char digits[] = "0123456789abcdef";
        for (size_t i = 0; i < n; i++) {
                out[2 * i] = digits[in[i] >> 4];
                out[2 * i + 1] = digits[in[i] & 15];
        }
        out[2 * n] = '\0';
}

uint64_t now_ns(void)
{
        struct timespec ts;
        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000000ULL + (uint64_t) ts.tv_nsec;
}

int64_t time_unix_ns(void)
{
        struct timespec ts;
        (void) clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t) ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

bool str_startswith(const char *s, const char *prefix)
{
        return strncmp(s, prefix, strlen(prefix)) == 0;
}

int xsnprintf(char *buf, size_t size, const char *fmt, ...)
{
        va_list ap;
        int n;
        va_start(ap, fmt);
        n = vsnprintf(buf, size, fmt, ap);
        va_end(ap);
        if (n < 0)
                return -EINVAL;
        if ((size_t) n >= size)
                return -ENAMETOOLONG;
        return n;
}

char *xasprintf(const char *fmt, ...)
{
        va_list ap;
        char *s = NULL;
        int n;
        va_start(ap, fmt);
        n = vasprintf(&s, fmt, ap);
        va_end(ap);
        return n < 0 ? NULL : s;
}
