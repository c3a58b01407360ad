/* SPDX-License-Identifier: MIT */
/*
 * Small helpers: checked arithmetic, number parsing, fd and path helpers.
 * All return >= 0 on success, -errno on failure; out-parameters are written
 * only on success.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

static inline int size_add(size_t a, size_t b, size_t *ret)
{
        return __builtin_add_overflow(a, b, ret) ? -75 /* -EOVERFLOW */ : 0;
}
static inline int size_mul(size_t a, size_t b, size_t *ret)
{
        return __builtin_mul_overflow(a, b, ret) ? -75 : 0;
}

/* Parse a whole decimal unsigned number (no sign, no spaces). */
int parse_u64(const char *s, uint64_t *ret);
/* Parse a size: "123", "64k", "128M", "128Mi", "1G", "1Gi", "500000000" (bytes).
 * Kubernetes quantities are accepted (k, M, G, T = 10^n; Ki, Mi, Gi, Ti = 2^n;
 * single-letter K/m lower-case units as OpenFaaS users write them). */
int parse_size(const char *s, uint64_t *ret);
/* Parse a CPU quantity into millicores: "100m", "0.5", "2". */
int parse_cpu_millis(const char *s, uint64_t *ret);
/* Parse a duration into milliseconds: "30", "30s", "500ms", "2m", "1h", "1.5s". */
int parse_duration_ms(const char *s, uint64_t *ret);

/* The one way sizes, CPU quantities and durations are written back (the
 * config printed by `serve --print-config`, the shipped config file, error
 * texts): the largest unit that divides the value exactly, so the parser
 * above reads back the same number. Durations: "24h", "5m", "30s", "500ms"
 * ("0s"). Sizes: binary units first ("2Gi", "128Mi", "16Ki"), then decimal
 * ("500M", "1k"), else bytes ("1001"). CPU: cores ("1", "2") or millicores
 * ("500m"). -ENAMETOOLONG when buf is too small. */
int format_duration_ms(uint64_t ms, char *buf, size_t size);
int format_size(uint64_t bytes, char *buf, size_t size);
int format_cpu_millis(uint64_t millis, char *buf, size_t size);

/* Read a whole small file (at most max bytes) into a NUL-terminated buffer. */
int read_file_at(int dirfd, const char *path, size_t max, char **ret, size_t *ret_len);
/* Write all of buf, retrying on EINTR and short writes. */
int write_all(int fd, const void *buf, size_t len);
/* Write a string to a file at path (O_WRONLY|O_CLOEXEC, no create, no truncate).
 * Used for /proc and cgroup control files. */
int write_string_file(const char *path, const char *s);
/* Create a file atomically (tmp + fsync + rename) with the given mode. */
int write_file_atomic(int dirfd, const char *name, const void *buf, size_t len, mode_t mode);

/* mkdir -p with mode for each created component (absolute path). */
int mkdir_p(const char *path, mode_t mode);
/* Remove a directory tree below dirfd/name without following symlinks. */
int rm_rf_at(int dirfd, const char *name);

/* Open path beneath root_fd with openat2(RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS). */
int open_in_root(int root_fd, const char *path, int flags, mode_t mode);

/* Fill buf with n random bytes from getrandom(). */
int random_bytes(void *buf, size_t n);
/* Lower-case hex of n bytes into out (2n+1 bytes). */
void hex_encode(const unsigned char *in, size_t n, char *out);

/* Monotonic clock in nanoseconds. */
uint64_t now_ns(void);
/* Wall clock (CLOCK_REALTIME) in nanoseconds since the Unix epoch: for
 * timestamps that are stored or shown, never for measuring intervals. */
int64_t time_unix_ns(void);

bool str_startswith(const char *s, const char *prefix);
/* Safe snprintf: returns -ENAMETOOLONG on truncation, -EINVAL on error. */
int xsnprintf(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Allocating printf; NULL on ENOMEM. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
