/* SPDX-License-Identifier: MIT */
/*
 * An OCI runtime spec (config.json) mapped onto the sandbox, field by
 * field. Three answers, never a fourth:
 *
 *   honoured  as runc would (args, env, cwd, user and groups, umask,
 *             hostname, rlimits, bind and tmpfs mounts, read-only root,
 *             memory/pids/cpu limits, cgroupsPath, namespaced sysctls, a
 *             network namespace the engine made, the spec's seccomp profile
 *             stacked on the built-in one, host-side hooks, terminal);
 *   narrowed  the sandbox keeps its own, stricter answer (its own user,
 *             cgroup, ipc and uts namespaces; its own /proc, /dev, /tmp;
 *             no /sys, /dev/pts or /dev/mqueue; no_new_privs always;
 *             RLIMIT_CORE 0; NET_RAW, MKNOD and AUDIT_WRITE dropped;
 *             apparmor, selinux and oom_score_adj ignored);
 *   refused   with the reason: privileged capabilities, host namespaces,
 *             devices, mounts of other filesystems or below /proc and /dev,
 *             uid/gid mappings of the engine's, masks sfaasd does not make,
 *             hooks that would run inside the container, seccomp agents.
 *
 * README.md "Beyond one host" is the user-facing table of this file.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd/oci.h"
#include "core/base/cleanup.h"
#include "core/base/util.h"

static const char *const cap_names[] = {
        "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID", "SETPCAP",
        "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER",
        "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT", "SYS_NICE",
        "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP",
        "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF",
        "CHECKPOINT_RESTORE",
};
/* In the default sets of Docker and containerd, useless or risky inside a
 * user namespace: dropped without a word. NET_RAW: raw sockets have been a
 * steady source of kernel bugs; MKNOD: no device can be made in a user
 * namespace anyway; AUDIT_WRITE: the audit log is the host's. */
#define CAPS_DROPPED ((1ULL << 13) | (1ULL << 27) | (1ULL << 29))

static const struct {
        const char *name;
        int res;
} rlimit_names[] = {
        { "RLIMIT_CPU", RLIMIT_CPU },         { "RLIMIT_FSIZE", RLIMIT_FSIZE },
        { "RLIMIT_DATA", RLIMIT_DATA },       { "RLIMIT_STACK", RLIMIT_STACK },
        { "RLIMIT_CORE", RLIMIT_CORE },       { "RLIMIT_RSS", RLIMIT_RSS },
        { "RLIMIT_NPROC", RLIMIT_NPROC },     { "RLIMIT_NOFILE", RLIMIT_NOFILE },
        { "RLIMIT_MEMLOCK", RLIMIT_MEMLOCK }, { "RLIMIT_AS", RLIMIT_AS },
        { "RLIMIT_LOCKS", RLIMIT_LOCKS },     { "RLIMIT_SIGPENDING", RLIMIT_SIGPENDING },
        { "RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE }, { "RLIMIT_NICE", RLIMIT_NICE },
        { "RLIMIT_RTPRIO", RLIMIT_RTPRIO },   { "RLIMIT_RTTIME", RLIMIT_RTTIME },
};

/* The /proc entries the launcher masks or makes read-only (sandbox/child.c). */
static const char *const proc_covered[] = {
        "kcore", "keys", "timer_list", "timer_stats", "sched_debug", "latency_stats", "sysrq-trigger", "kallsyms",
        "kmsg", "kpagecount", "kpageflags", "kpagecgroup", "config.gz", "acpi", "scsi", "asound", "firmware",
        "driver", "pressure", "sys", "irq", "bus", "fs",
};

/* A refusal: -EPERM and the reason. */
#define refuse(err, ...) sf_err_set((err), -EPERM, __VA_ARGS__)

static bool str_in(const char *s, const char *const *list, size_t n)
{
        for (size_t i = 0; i < n; i++)
                if (strcmp(s, list[i]) == 0)
                        return true;
        return false;
}

/* A string array (at most max entries) as a NULL-terminated copy. */
static int string_array(json_t *a, size_t max, const char *what, char ***ret, struct sf_err *err)
{
        char **v;
        size_t n;

        if (!json_is_array(a))
                return sf_err_set(err, -EINVAL, "%s must be an array of strings", what);
        n = json_array_size(a);
        if (n > max)
                return sf_err_set(err, -E2BIG, "%s: too many entries (max %zu)", what, max);
        v = calloc(n + 1, sizeof *v);
        if (!v)
                return sf_err_set(err, -ENOMEM, "out of memory");
        for (size_t i = 0; i < n; i++) {
                json_t *s = json_array_get(a, i);
                if (!json_is_string(s) || strlen(json_string_value(s)) != json_string_length(s) ||
                    !(v[i] = strdup(json_string_value(s)))) {
                        strv_free(v);
                        return sf_err_set(err, -EINVAL, "%s must be an array of strings without NUL", what);
                }
        }
        *ret = v;
        return 0;
}

static int cap_number(const char *name)
{
        if (strncmp(name, "CAP_", 4) == 0)
                name += 4;
        for (size_t i = 0; i < ELEMENTSOF(cap_names); i++)
                if (strcasecmp(name, cap_names[i]) == 0)
                        return (int) i;
        return -1;
}

static int cap_set(json_t *caps, const char *set, uint64_t *ret, struct sf_err *err)
{
        json_t *a = json_object_get(caps, set), *v;
        size_t i;

        *ret = 0;
        if (!a)
                return 0;
        if (!json_is_array(a))
                return sf_err_set(err, -EINVAL, "process.capabilities.%s must be an array", set);
        json_array_foreach(a, i, v) {
                int c = json_is_string(v) ? cap_number(json_string_value(v)) : -1;
                if (c < 0)
                        return sf_err_set(err, -EINVAL, "process.capabilities.%s: unknown capability '%.64s'", set,
                                          json_is_string(v) ? json_string_value(v) : "?");
                *ret |= 1ULL << c;
        }
        return 0;
}

/* bounding -> what a root process holds; ambient -> what another uid
 * holds. Every set is checked: a privileged spec may name SYS_ADMIN in
 * its effective set only. */
static int parse_caps(json_t *caps, struct oci_spec *s, struct sf_err *err)
{
        static const char *const sets[] = { "bounding", "ambient", "effective", "permitted", "inheritable" };
        uint64_t v[ELEMENTSOF(sets)], all = 0, extra;
        int r;

        if (!caps)
                return 0;
        if (!json_is_object(caps))
                return sf_err_set(err, -EINVAL, "process.capabilities must be an object");
        for (size_t i = 0; i < ELEMENTSOF(sets); i++) {
                if ((r = cap_set(caps, sets[i], &v[i], err)) < 0)
                        return r;
                v[i] &= ~CAPS_DROPPED;
                all |= v[i];
        }
        extra = all & ~SANDBOX_CAPS_ALLOWED;
        if (extra) {
                /* name the one that makes a container privileged first */
                int c = (extra & (1ULL << 21)) ? 21 : __builtin_ctzll(extra);
                return sf_err_set(err, -EPERM, "the spec grants CAP_%s: sfaasd-runc refuses privileged containers "
                                  "(podman --privileged or --cap-add, a Kubernetes securityContext adding it); "
                                  "it keeps at most CHOWN, DAC_OVERRIDE, FOWNER, FSETID, KILL, SETGID, SETUID, "
                                  "SETPCAP, NET_BIND_SERVICE, SYS_CHROOT and SETFCAP, inside the container's own "
                                  "user namespace", c < (int) ELEMENTSOF(cap_names) ? cap_names[c] : "?");
        }
        s->sb.caps = json_object_get(caps, "bounding") ? v[0] : v[2] | v[3];
        s->sb.caps_ambient = v[1] & s->sb.caps;
        return 0;
}

static int parse_rlimits(json_t *a, struct oci_spec *s, struct sf_err *err)
{
        size_t i, n = 0;
        json_t *v;

        if (!a)
                return 0;
        if (!json_is_array(a) || json_array_size(a) > OCI_MAX_RLIMITS)
                return sf_err_set(err, -EINVAL, "process.rlimits must be an array of at most %d", OCI_MAX_RLIMITS);
        json_array_foreach(a, i, v) {
                const char *type = json_string_value(json_object_get(v, "type"));
                json_t *hard = json_object_get(v, "hard"), *soft = json_object_get(v, "soft");
                size_t k;
                for (k = 0; type && k < ELEMENTSOF(rlimit_names); k++)
                        if (strcmp(type, rlimit_names[k].name) == 0)
                                break;
                if (!type || k == ELEMENTSOF(rlimit_names) || !json_is_integer(hard) || !json_is_integer(soft))
                        return sf_err_set(err, -EINVAL, "process.rlimits: bad entry '%.64s'", type ? type : "?");
                if (rlimit_names[k].res == RLIMIT_CORE)
                        continue; /* narrowed: core dumps stay off */
                s->rlimits[n++] = (struct sandbox_rlimit) {
                        .resource = rlimit_names[k].res,
                        /* JSON cannot hold 2^64-1 in jansson's int: negative = unlimited */
                        .cur = json_integer_value(soft) < 0 ? RLIM_INFINITY : (uint64_t) json_integer_value(soft),
                        .max = json_integer_value(hard) < 0 ? RLIM_INFINITY : (uint64_t) json_integer_value(hard),
                };
        }
        s->sb.rlimits = s->rlimits;
        s->sb.n_rlimits = n;
        return 0;
}

static int id_value(json_t *v, const char *what, uint32_t *ret, struct sf_err *err)
{
        if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) >= SANDBOX_UID_COUNT)
                return sf_err_set(err, -ERANGE, "%s must be an id below %u (the container's user namespace maps "
                                  "0..%u)", what, SANDBOX_UID_COUNT, SANDBOX_UID_COUNT - 1);
        *ret = (uint32_t) json_integer_value(v);
        return 0;
}

int oci_process_load(json_t *p, struct oci_spec *s, struct sf_err *err)
{
        json_t *user, *v, *cs;
        size_t i;
        int r;

        if (!json_is_object(p))
                return sf_err_set(err, -EINVAL, "no process object");
        r = string_array(json_object_get(p, "args"), OCI_MAX_ARGS, "process.args", &s->argv, err);
        if (r < 0)
                return r;
        if (!s->argv[0] || !s->argv[0][0])
                return sf_err_set(err, -EINVAL, "process.args is empty");
        v = json_object_get(p, "env");
        if (v)
                r = string_array(v, OCI_MAX_ENV, "process.env", &s->envp, err);
        else if (!(s->envp = calloc(1, sizeof *s->envp)))
                r = sf_err_set(err, -ENOMEM, "out of memory");
        if (r < 0)
                return r;
        v = json_object_get(p, "cwd");
        if (v && (!json_is_string(v) || json_string_value(v)[0] != '/'))
                return sf_err_set(err, -EINVAL, "process.cwd must be an absolute path");
        s->cwd = strdup(v ? json_string_value(v) : "/");
        if (!s->cwd)
                return sf_err_set(err, -ENOMEM, "out of memory");
        user = json_object_get(p, "user");
        if (user) {
                if (json_object_get(user, "username"))
                        return sf_err_set(err, -EINVAL, "process.user.username is for Windows containers");
                if ((r = id_value(json_object_get(user, "uid"), "process.user.uid", &s->sb.uid, err)) < 0 ||
                    (r = id_value(json_object_get(user, "gid"), "process.user.gid", &s->sb.gid, err)) < 0)
                        return r;
                v = json_object_get(user, "umask");
                if (v) {
                        if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 0777)
                                return sf_err_set(err, -EINVAL, "process.user.umask must be 0..0777");
                        s->sb.set_umask = true;
                        s->sb.umask = (uint32_t) json_integer_value(v);
                }
                v = json_object_get(user, "additionalGids");
                if (v) {
                        if (!json_is_array(v) || json_array_size(v) >= SANDBOX_MAX_GROUPS)
                                return sf_err_set(err, -E2BIG, "process.user.additionalGids: at most %d",
                                                  SANDBOX_MAX_GROUPS - 1);
                        /* the primary gid first, as setgroups() after runc's */
                        s->groups[0] = s->sb.gid;
                        s->sb.n_groups = 1;
                        json_array_foreach(v, i, cs) {
                                r = id_value(cs, "process.user.additionalGids[]", &s->groups[s->sb.n_groups], err);
                                if (r < 0)
                                        return r;
                                if (s->groups[s->sb.n_groups] != s->sb.gid)
                                        s->sb.n_groups++;
                        }
                        s->sb.groups = s->groups;
                }
        }
        v = json_object_get(p, "terminal");
        s->terminal = json_is_true(v);
        cs = json_object_get(p, "consoleSize");
        if (cs) {
                json_t *h = json_object_get(cs, "height"), *w = json_object_get(cs, "width");
                if (json_is_integer(h) && json_is_integer(w) && json_integer_value(h) > 0 &&
                    json_integer_value(h) < 65536 && json_integer_value(w) > 0 && json_integer_value(w) < 65536) {
                        s->rows = (unsigned short) json_integer_value(h);
                        s->cols = (unsigned short) json_integer_value(w);
                }
        }
        r = parse_caps(json_object_get(p, "capabilities"), s, err);
        if (r < 0)
                return r;
        r = parse_rlimits(json_object_get(p, "rlimits"), s, err);
        if (r < 0)
                return r;
        s->sb.argv = s->argv;
        s->sb.envp = s->envp;
        s->sb.workdir = s->cwd;
        return 0;
}

/* An absolute path without ".", ".." or empty names, trailing '/' cut. */
static int clean_dst(const char *in, char *out, size_t size)
{
        size_t n;

        if (!in || in[0] != '/' || xsnprintf(out, size, "%s", in) < 0)
                return -EINVAL;
        n = strlen(out);
        while (n > 1 && out[n - 1] == '/')
                out[--n] = '\0';
        for (const char *c = out + 1; *c;) {
                size_t len = strcspn(c, "/");
                if (len == 0 || (len == 1 && c[0] == '.') || (len == 2 && c[0] == '.' && c[1] == '.'))
                        return -EINVAL;
                c += len;
                if (*c == '/')
                        c++;
        }
        return 0;
}

static bool below(const char *path, const char *dir)
{
        size_t n = strlen(dir);
        return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

static bool has_opt(json_t *opts, const char *o)
{
        size_t i;
        json_t *v;
        json_array_foreach(opts, i, v)
                if (json_is_string(v) && strcmp(json_string_value(v), o) == 0)
                        return true;
        return false;
}

static bool regular_file(const char *path)
{
        struct stat st;
        return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int parse_mounts(const struct oci_ctx *ctx, json_t *mounts, struct oci_spec *s, struct sf_err *err)
{
        /* the launcher's own, or none (see the top of the file) */
        static const char *const ours[] = { "/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue" };
        size_t i;
        json_t *m;

        if (!mounts)
                return 0;
        if (!json_is_array(mounts))
                return sf_err_set(err, -EINVAL, "mounts must be an array");
        json_array_foreach(mounts, i, m) {
                const char *type = json_string_value(json_object_get(m, "type"));
                const char *src = json_string_value(json_object_get(m, "source"));
                json_t *opts = json_object_get(m, "options");
                struct sandbox_mount *sm;
                char dst[PATH_MAX];
                bool bind;

                if (clean_dst(json_string_value(json_object_get(m, "destination")), dst, sizeof dst) < 0)
                        return sf_err_set(err, -EINVAL, "mount %zu: destination must be a clean absolute path", i);
                if (opts && !json_is_array(opts))
                        return sf_err_set(err, -EINVAL, "mount '%s': options must be an array", dst);
                bind = (type && strcmp(type, "bind") == 0) || has_opt(opts, "bind") || has_opt(opts, "rbind");
                if (str_in(dst, ours, ELEMENTSOF(ours)) || below(dst, "/sys")) {
                        if (strcmp(dst, "/proc") == 0 && (!type || strcmp(type, "proc") != 0))
                                return refuse(err, "mount over /proc of type '%s' refused: /proc is sfaasd's own",
                                              type ? type : "?");
                        oci_warn(ctx, "mount '%s' (%s): narrowed, the sandbox makes its own or none", dst,
                                 type ? type : "bind");
                        continue;
                }
                /* Kubernetes binds a file of its own at /dev/termination-log
                 * into every container: dropped (narrowed; the pod's
                 * termination message stays empty). A device or a folder
                 * below /dev stays refused. */
                if (below(dst, "/dev") && bind && src && regular_file(src)) {
                        oci_warn(ctx, "mount '%s': narrowed, /dev is the sandbox's own (read-only)", dst);
                        continue;
                }
                if (below(dst, "/proc") || below(dst, "/dev"))
                        return refuse(err, "mount at '%s' refused: nothing is mounted below /proc or /dev", dst);
                if (s->n_mounts == OCI_MAX_MOUNTS)
                        return sf_err_set(err, -E2BIG, "too many mounts (max %d)", OCI_MAX_MOUNTS);
                sm = &s->mounts[s->n_mounts];
                memset(sm, 0, sizeof *sm);
                if (!(sm->dst = strdup(dst)))
                        return sf_err_set(err, -ENOMEM, "out of memory");
                s->n_mounts++;
                sm->readonly = has_opt(opts, "ro") || has_opt(opts, "rro");
                sm->noexec = has_opt(opts, "noexec");
                if (bind) {
                        if (!src || src[0] != '/')
                                return sf_err_set(err, -EINVAL, "bind mount at '%s' needs an absolute source", dst);
                        sm->type = SANDBOX_MOUNT_BIND;
                        sm->recursive = has_opt(opts, "rbind");
                        if (!(sm->src = strdup(src)))
                                return sf_err_set(err, -ENOMEM, "out of memory");
                } else if (type && strcmp(type, "tmpfs") == 0) {
                        json_t *o;
                        size_t k;
                        sm->type = SANDBOX_MOUNT_TMPFS;
                        json_array_foreach(opts, k, o) {
                                const char *ov = json_string_value(o);
                                uint64_t n;
                                if (!ov)
                                        continue;
                                if (str_startswith(ov, "size=")) {
                                        if (parse_size(ov + 5, &n) < 0 || n == 0)
                                                return sf_err_set(err, -EINVAL, "tmpfs '%s': bad %s", dst, ov);
                                        sm->tmpfs_bytes = n;
                                } else if (str_startswith(ov, "nr_inodes=")) {
                                        if (parse_size(ov + 10, &n) < 0 || n == 0)
                                                return sf_err_set(err, -EINVAL, "tmpfs '%s': bad %s", dst, ov);
                                        sm->tmpfs_inodes = n;
                                } else if (str_startswith(ov, "mode=")) {
                                        char *end;
                                        unsigned long mode = strtoul(ov + 5, &end, 8);
                                        if (*end || mode > 07777)
                                                return sf_err_set(err, -EINVAL, "tmpfs '%s': bad %s", dst, ov);
                                        sm->tmpfs_mode = (uint32_t) mode;
                                }
                        }
                } else
                        return refuse(err, "mount of type '%s' at '%s' refused: only bind and tmpfs mounts",
                                      type ? type : "(none)", dst);
        }
        s->sb.mounts = s->mounts;
        s->sb.n_mounts = s->n_mounts;
        return 0;
}

static int parse_namespaces(json_t *a, struct oci_spec *s, struct sf_err *err)
{
        bool seen_pid = false, seen_net = false, seen_ipc = false, seen_uts = false, seen_mnt = false;
        size_t i;
        json_t *n;

        if (!json_is_array(a))
                return sf_err_set(err, -EINVAL, "linux.namespaces must be an array");
        json_array_foreach(a, i, n) {
                const char *type = json_string_value(json_object_get(n, "type"));
                const char *path = json_string_value(json_object_get(n, "path"));
                if (!type)
                        return sf_err_set(err, -EINVAL, "linux.namespaces[%zu] has no type", i);
                if (strcmp(type, "network") == 0) {
                        seen_net = true;
                        if (path && !(s->netns_path = strdup(path)))
                                return sf_err_set(err, -ENOMEM, "out of memory");
                } else if (strcmp(type, "pid") == 0 || strcmp(type, "mount") == 0 || strcmp(type, "user") == 0 ||
                           strcmp(type, "time") == 0) {
                        if (path || strcmp(type, "time") == 0)
                                return refuse(err, "joining an existing %s namespace%s is refused: sfaasd-runc gives "
                                              "every container its own", type, path ? " (by path)" : "");
                        seen_pid |= strcmp(type, "pid") == 0;
                        seen_mnt |= strcmp(type, "mount") == 0;
                } else if (strcmp(type, "ipc") == 0 || strcmp(type, "uts") == 0) {
                        /* narrowed: a pod's shared ipc/uts are not joined */
                        seen_ipc |= type[0] == 'i';
                        seen_uts |= type[0] == 'u';
                } else if (strcmp(type, "cgroup") != 0)
                        return sf_err_set(err, -EINVAL, "unknown namespace type '%.32s'", type);
        }
        if (!seen_pid || !seen_net || !seen_ipc || !seen_uts || !seen_mnt)
                return refuse(err, "the spec shares the host's %s namespace (--%s=host): refused, every container "
                              "gets its own",
                              !seen_pid ? "pid" : !seen_net ? "network" : !seen_ipc ? "ipc" : !seen_uts ? "uts" : "mount",
                              !seen_pid ? "pid" : !seen_net ? "network" : !seen_ipc ? "ipc" : !seen_uts ? "uts" : "mount");
        return 0;
}

/* Masks sfaasd makes anyway (its /proc list; no /sys at all), or refused. */
static int check_masks(json_t *a, const char *what, struct sf_err *err)
{
        size_t i;
        json_t *v;

        if (!a)
                return 0;
        if (!json_is_array(a))
                return sf_err_set(err, -EINVAL, "linux.%s must be an array", what);
        json_array_foreach(a, i, v) {
                const char *p = json_string_value(v);
                char name[256];
                if (!p)
                        return sf_err_set(err, -EINVAL, "linux.%s must hold strings", what);
                if (below(p, "/sys"))
                        continue;
                if (str_startswith(p, "/proc/")) {
                        (void) xsnprintf(name, sizeof name, "%.*s", (int) strcspn(p + 6, "/"), p + 6);
                        if (str_in(name, proc_covered, ELEMENTSOF(proc_covered)))
                                continue;
                }
                return refuse(err, "linux.%s '%s' refused: sfaasd-runc does not make that mask (it masks its own "
                              "list of /proc paths and mounts no /sys)", what, p);
        }
        return 0;
}

static int parse_devices(json_t *a, struct sf_err *err)
{
        static const char *const ours[] = { "/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom" };
        static const char *const skipped[] = { "/dev/tty", "/dev/console", "/dev/ptmx" };
        size_t i;
        json_t *v;

        if (!a)
                return 0;
        json_array_foreach(a, i, v) {
                const char *p = json_string_value(json_object_get(v, "path"));
                if (p && (str_in(p, ours, ELEMENTSOF(ours)) || str_in(p, skipped, ELEMENTSOF(skipped))))
                        continue;
                return refuse(err, "device '%s' refused: a container gets /dev/null, zero, full, random and "
                              "urandom only", p ? p : "?");
        }
        return 0;
}

static int parse_resources(const struct oci_config *cfg, json_t *res, struct oci_spec *s)
{
        json_t *mem = json_object_get(res, "memory"), *pids = json_object_get(res, "pids"),
               *cpu = json_object_get(res, "cpu"), *v;
        struct sandbox_limits *l = &s->sb.limits;

        l->memory_bytes = cfg->memory_bytes;
        l->pids = cfg->pids;
        l->cpu_millis = cfg->cpu_millis;
        v = json_object_get(mem, "limit");
        if (json_is_integer(v) && json_integer_value(v) > 0)
                l->memory_bytes = (uint64_t) json_integer_value(v);
        v = json_object_get(pids, "limit");
        if (json_is_integer(v) && json_integer_value(v) > 0)
                l->pids = (uint64_t) json_integer_value(v);
        {
                json_t *q = json_object_get(cpu, "quota"), *p = json_object_get(cpu, "period");
                if (json_is_integer(q) && json_integer_value(q) > 0) {
                        int64_t period = json_is_integer(p) && json_integer_value(p) > 0 ? json_integer_value(p)
                                                                                          : 100000;
                        uint64_t m = (uint64_t) json_integer_value(q) * 1000 / (uint64_t) period;
                        l->cpu_millis = m ? m : 1;
                }
        }
        return 0;
}

static int parse_sysctls(json_t *o, struct oci_spec *s, struct sf_err *err)
{
        const char *key;
        json_t *v;

        if (!o)
                return 0;
        if (!json_is_object(o))
                return sf_err_set(err, -EINVAL, "linux.sysctl must be an object");
        json_object_foreach(o, key, v) {
                if (!json_is_string(v))
                        return sf_err_set(err, -EINVAL, "linux.sysctl '%s' must be a string", key);
                if (!sandbox_sysctl_allowed(key))
                        return refuse(err, "sysctl '%s' refused: only those of the container's own namespaces "
                                      "(net.*, kernel.shm*, kernel.msg*, kernel.sem, fs.mqueue.*)", key);
                if (s->n_sysctls == OCI_MAX_SYSCTLS)
                        return sf_err_set(err, -E2BIG, "too many sysctls (max %d)", OCI_MAX_SYSCTLS);
                if (!(s->sysctl_buf[s->n_sysctls] = xasprintf("%s=%s", key, json_string_value(v))))
                        return sf_err_set(err, -ENOMEM, "out of memory");
                s->sysctls[s->n_sysctls] = s->sysctl_buf[s->n_sysctls];
                s->n_sysctls++;
        }
        s->sb.sysctls = s->sysctls;
        s->sb.n_sysctls = s->n_sysctls;
        return 0;
}

/* "slice:prefix:name" (systemd) -> the path systemd would give the scope:
 * "/machine.slice/libpod-ID.scope", a nested slice "a-b.slice" under
 * "/a.slice/a-b.slice". sfaasd makes it itself: it does not talk to
 * systemd (README: narrowed). */
static int systemd_path(const char *in, char *out, size_t size)
{
        char slice[256], prefix[256], name[512], parents[1024] = "";
        const char *c1 = strchr(in, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        size_t n = 0;

        if (!c2 || strchr(c2 + 1, ':') || (size_t) (c1 - in) >= sizeof slice)
                return -EINVAL;
        (void) xsnprintf(slice, sizeof slice, "%.*s", (int) (c1 - in), in);
        if (xsnprintf(prefix, sizeof prefix, "%.*s", (int) (c2 - c1 - 1), c1 + 1) < 0 ||
            xsnprintf(name, sizeof name, "%s", c2 + 1) < 0 || !name[0])
                return -EINVAL;
        if (!slice[0])
                (void) xsnprintf(slice, sizeof slice, "system.slice");
        if (!str_startswith(slice + strlen(slice) - (strlen(slice) >= 6 ? 6 : 0), ".slice"))
                return -EINVAL;
        /* every "-" before ".slice" starts a parent slice */
        if (strcmp(slice, "-.slice") != 0)
                for (const char *d = slice; (d = strchr(d, '-')); d++) {
                        int r = xsnprintf(parents + n, sizeof parents - n, "/%.*s.slice", (int) (d - slice), slice);
                        if (r < 0)
                                return r;
                        n += (size_t) r;
                }
        if (strstr(name, ".slice") || strstr(name, ".scope"))
                return xsnprintf(out, size, "%s/%s/%s", parents, slice, name);
        return xsnprintf(out, size, "%s/%s/%s%s%s.scope", parents, slice, prefix, prefix[0] ? "-" : "", name);
}

static int parse_hooks(json_t *hooks, struct sf_err *err)
{
        static const char *const inside[] = { "createContainer", "startContainer" };

        if (!hooks)
                return 0;
        for (size_t i = 0; i < ELEMENTSOF(inside); i++) {
                json_t *a = json_object_get(hooks, inside[i]);
                if (json_is_array(a) && json_array_size(a) > 0)
                        return refuse(err, "%s hooks refused: they would run a host binary inside the container's "
                                      "namespaces as its root", inside[i]);
        }
        return 0;
}

static int load_json(const char *path, json_t **ret, struct sf_err *err)
{
        _cleanup_free_ char *buf = NULL;
        json_error_t je;
        size_t len;
        int r = read_file_at(AT_FDCWD, path, OCI_MAX_CONFIG, &buf, &len);

        if (r < 0)
                return sf_err_errno(err, r, "cannot read '%s'", path);
        *ret = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
        if (!*ret || !json_is_object(*ret)) {
                json_decref(*ret);
                *ret = NULL;
                return sf_err_set(err, -EINVAL, "'%s': %s (line %d)", path, je.text, je.line);
        }
        return 0;
}

int oci_spec_load(const struct oci_ctx *ctx, const struct oci_config *cfg, const char *bundle, const char *id,
                  struct oci_spec *s, struct sf_err *err)
{
        _cleanup_free_ char *cfg_path = NULL, *root_path = NULL;
        json_t *root, *lx, *v;
        const char *ver;
        char cg[PATH_MAX];
        int r;

        memset(s, 0, sizeof *s);
        s->sb.stdio[0] = s->sb.stdio[1] = s->sb.stdio[2] = -1;
        s->bundle = realpath(bundle, NULL);
        if (!s->bundle)
                return sf_err_errno(err, -errno, "bundle '%s'", bundle);
        cfg_path = xasprintf("%s/config.json", s->bundle);
        if (!cfg_path)
                return sf_err_set(err, -ENOMEM, "out of memory");
        r = load_json(cfg_path, &s->json, err);
        if (r < 0)
                return r;
        ver = json_string_value(json_object_get(s->json, "ociVersion"));
        if (!ver || !str_startswith(ver, "1."))
                return sf_err_set(err, -EINVAL, "ociVersion '%s' is not 1.x", ver ? ver : "(none)");

        root = json_object_get(s->json, "root");
        v = json_object_get(root, "path");
        if (!json_is_string(v) || !json_string_value(v)[0])
                return sf_err_set(err, -EINVAL, "root.path is missing");
        root_path = json_string_value(v)[0] == '/' ? strdup(json_string_value(v))
                                                  : xasprintf("%s/%s", s->bundle, json_string_value(v));
        if (!root_path)
                return sf_err_set(err, -ENOMEM, "out of memory");
        s->rootfs = realpath(root_path, NULL);
        if (!s->rootfs)
                return sf_err_errno(err, -errno, "root.path '%s'", root_path);
        r = sandbox_overlay_layers(s->rootfs, &s->layers, &s->n_layers, err);
        if (r < 0)
                return r;
        s->sb.rootfs = s->rootfs;
        s->sb.rootfs_writable = true;
        s->sb.rootfs_layers = (const char *const *) s->layers;
        s->sb.n_rootfs_layers = s->n_layers;
        s->sb.rootfs_upper_bytes = cfg->rootfs_bytes;
        s->sb.rootfs_readonly = json_is_true(json_object_get(root, "readonly"));
        s->sb.limits.tmpfs_bytes = cfg->tmp_bytes;

        r = oci_process_load(json_object_get(s->json, "process"), s, err);
        if (r < 0)
                return r;
        v = json_object_get(s->json, "hostname");
        if (v && json_is_string(v) && json_string_value(v)[0])
                s->sb.hostname = json_string_value(v);
        r = parse_mounts(ctx, json_object_get(s->json, "mounts"), s, err);
        if (r < 0)
                return r;
        r = parse_hooks(json_object_get(s->json, "hooks"), err);
        if (r < 0)
                return r;

        lx = json_object_get(s->json, "linux");
        if (!json_is_object(lx))
                return sf_err_set(err, -EINVAL, "no linux object: sfaasd-runc runs Linux containers");
        if (json_object_get(lx, "uidMappings") || json_object_get(lx, "gidMappings"))
                return refuse(err, "linux.uidMappings/gidMappings refused: sfaasd-runc makes the container's user "
                              "namespace itself, from its own uid ranges (podman: drop --userns/--uidmap)");
        r = parse_namespaces(json_object_get(lx, "namespaces"), s, err);
        if (r < 0)
                return r;
        if ((r = check_masks(json_object_get(lx, "maskedPaths"), "maskedPaths", err)) < 0 ||
            (r = check_masks(json_object_get(lx, "readonlyPaths"), "readonlyPaths", err)) < 0 ||
            (r = parse_devices(json_object_get(lx, "devices"), err)) < 0 ||
            (r = parse_sysctls(json_object_get(lx, "sysctl"), s, err)) < 0)
                return r;
        if (json_object_get(lx, "intelRdt") || json_object_get(lx, "timeOffsets"))
                return refuse(err, "linux.%s refused", json_object_get(lx, "intelRdt") ? "intelRdt" : "timeOffsets");
        v = json_object_get(json_object_get(lx, "personality"), "domain");
        if (v && (!json_is_string(v) || strcmp(json_string_value(v), "LINUX") != 0))
                return refuse(err, "linux.personality '%s' refused", json_is_string(v) ? json_string_value(v) : "?");
        v = json_object_get(lx, "seccomp");
        if (v) {
                r = oci_seccomp_compile(v, &s->seccomp, err);
                if (r < 0)
                        return r;
                s->sb.extra_seccomp = &s->seccomp;
        }
        r = parse_resources(cfg, json_object_get(lx, "resources"), s);
        if (r < 0)
                return r;

        v = json_object_get(lx, "cgroupsPath");
        if (v && json_is_string(v) && json_string_value(v)[0]) {
                const char *p = json_string_value(v);
                if (ctx->systemd_cgroup || (p[0] != '/' && strchr(p, ':')))
                        r = systemd_path(p, cg, sizeof cg);
                else
                        r = xsnprintf(cg, sizeof cg, "%s%s", p[0] == '/' ? "" : "/", p);
        } else
                r = xsnprintf(cg, sizeof cg, "/sfaasd-runc/%s", id);
        if (r < 0 || strcmp(cg, "/") == 0)
                return sf_err_set(err, -EINVAL, "bad linux.cgroupsPath '%.200s'", json_string_value(v));
        if (!(s->cgroup_path = strdup(cg)))
                return sf_err_set(err, -ENOMEM, "out of memory");
        return 0;
}

void oci_spec_release(struct oci_spec *s)
{
        if (!s)
                return;
        json_decref(s->json);
        free(s->bundle);
        free(s->rootfs);
        sandbox_strv_free(s->layers);
        strv_free(s->argv);
        strv_free(s->envp);
        free(s->cwd);
        for (size_t i = 0; i < s->n_mounts; i++) {
                free((char *) s->mounts[i].src);
                free((char *) s->mounts[i].dst);
        }
        for (size_t i = 0; i < s->n_sysctls; i++)
                free(s->sysctl_buf[i]);
        free(s->netns_path);
        free(s->cgroup_path);
        free(s->seccomp.filter);
        memset(s, 0, sizeof *s);
}
