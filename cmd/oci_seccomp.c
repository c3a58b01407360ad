/* SPDX-License-Identifier: MIT */
/*
 * The spec's own seccomp profile (linux.seccomp), compiled with libseccomp
 * into a second BPF program that the launcher attaches after its built-in
 * allowlist (sandbox_spec.extra_seccomp). The kernel runs every attached
 * filter and takes the most restrictive answer, so the container gets the
 * intersection: the spec can refuse more than sfaasd does, never less.
 * That is also why argument comparisons of any kind (NE, LT, GT) are fine
 * here, unlike in the built-in policy: a comparison that lets too much
 * through only falls back on sfaasd's own answer.
 *
 * Only the native architecture is compiled in: the built-in filter kills
 * every other one first. SCMP_ACT_NOTIFY (a user-space agent deciding
 * syscalls) is refused: it would hand decisions to a process outside the
 * sandbox that sfaasd does not know.
 */
#include <errno.h>
#include <linux/filter.h>
#include <seccomp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cmd/oci.h"
#include "core/base/cleanup.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(scmp_filter_ctx, seccomp_release)

static int action(const char *name, json_t *errno_ret, uint32_t *ret, struct sf_err *err)
{
        int e = json_is_integer(errno_ret) ? (int) json_integer_value(errno_ret) : EPERM;

        if (!name)
                return sf_err_set(err, -EINVAL, "linux.seccomp: an action is missing");
        if (e < 0 || e > 4095)
                return sf_err_set(err, -EINVAL, "linux.seccomp: bad errnoRet %d", e);
        if (strcmp(name, "SCMP_ACT_ALLOW") == 0)
                *ret = SCMP_ACT_ALLOW;
        else if (strcmp(name, "SCMP_ACT_ERRNO") == 0)
                *ret = SCMP_ACT_ERRNO((uint32_t) e);
        else if (strcmp(name, "SCMP_ACT_KILL") == 0 || strcmp(name, "SCMP_ACT_KILL_THREAD") == 0)
                *ret = SCMP_ACT_KILL_THREAD;
        else if (strcmp(name, "SCMP_ACT_KILL_PROCESS") == 0)
                *ret = SCMP_ACT_KILL_PROCESS;
        else if (strcmp(name, "SCMP_ACT_TRAP") == 0)
                *ret = SCMP_ACT_TRAP;
        else if (strcmp(name, "SCMP_ACT_TRACE") == 0)
                *ret = SCMP_ACT_TRACE((uint32_t) e);
        else if (strcmp(name, "SCMP_ACT_LOG") == 0)
                *ret = SCMP_ACT_LOG;
        else if (strcmp(name, "SCMP_ACT_NOTIFY") == 0)
                return sf_err_set(err, -EPERM, "linux.seccomp: SCMP_ACT_NOTIFY refused (a seccomp agent outside "
                                  "the sandbox would decide its system calls)");
        else
                return sf_err_set(err, -EINVAL, "linux.seccomp: unknown action '%.64s'", name);
        return 0;
}

static int compare_op(const char *op, enum scmp_compare *ret)
{
        static const struct {
                const char *name;
                enum scmp_compare op;
        } ops[] = {
                { "SCMP_CMP_NE", SCMP_CMP_NE }, { "SCMP_CMP_LT", SCMP_CMP_LT },
                { "SCMP_CMP_LE", SCMP_CMP_LE }, { "SCMP_CMP_EQ", SCMP_CMP_EQ },
                { "SCMP_CMP_GE", SCMP_CMP_GE }, { "SCMP_CMP_GT", SCMP_CMP_GT },
                { "SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ },
        };
        for (size_t i = 0; op && i < ELEMENTSOF(ops); i++)
                if (strcmp(op, ops[i].name) == 0) {
                        *ret = ops[i].op;
                        return 0;
                }
        return -EINVAL;
}

static int add_rule(scmp_filter_ctx ctx, uint32_t def, json_t *rule, struct sf_err *err)
{
        json_t *names = json_object_get(rule, "names"), *args = json_object_get(rule, "args"), *v;
        struct scmp_arg_cmp cmp[6];
        unsigned n_cmp = 0;
        uint32_t act;
        size_t i;
        int r;

        r = action(json_string_value(json_object_get(rule, "action")), json_object_get(rule, "errnoRet"), &act, err);
        if (r < 0)
                return r;
        if (json_is_string(json_object_get(rule, "name")) && !names)
                names = json_pack("[O]", json_object_get(rule, "name"));
        else
                json_incref(names);
        if (!json_is_array(names)) {
                json_decref(names);
                return sf_err_set(err, -EINVAL, "linux.seccomp: a rule without names");
        }
        if (args && (!json_is_array(args) || json_array_size(args) > ELEMENTSOF(cmp))) {
                json_decref(names);
                return sf_err_set(err, -EINVAL, "linux.seccomp: bad args");
        }
        json_array_foreach(args, i, v) {
                json_t *idx = json_object_get(v, "index"), *val = json_object_get(v, "value"),
                       *two = json_object_get(v, "valueTwo");
                enum scmp_compare op;
                if (!json_is_integer(idx) || json_integer_value(idx) < 0 || json_integer_value(idx) > 5 ||
                    !json_is_integer(val) || compare_op(json_string_value(json_object_get(v, "op")), &op) < 0) {
                        json_decref(names);
                        return sf_err_set(err, -EINVAL, "linux.seccomp: bad argument comparison");
                }
                cmp[n_cmp++] = (struct scmp_arg_cmp) {
                        .arg = (unsigned) json_integer_value(idx), .op = op,
                        .datum_a = (scmp_datum_t) json_integer_value(val),
                        .datum_b = json_is_integer(two) ? (scmp_datum_t) json_integer_value(two) : 0,
                };
        }
        r = 0;
        json_array_foreach(names, i, v) {
                int nr = json_is_string(v) ? seccomp_syscall_resolve_name(json_string_value(v)) : __NR_SCMP_ERROR;
                if (nr == __NR_SCMP_ERROR || act == def)
                        continue; /* not on this architecture, or what happens anyway */
                r = seccomp_rule_add_array(ctx, act, nr, n_cmp, cmp);
                /* libseccomp refuses some argument rules on multiplexed
                 * calls; such a rule can only have narrowed further. */
                if (r == -EINVAL && n_cmp)
                        r = 0;
                if (r < 0) {
                        sf_err_errno(err, r, "linux.seccomp: rule for '%s'", json_string_value(v));
                        break;
                }
        }
        json_decref(names);
        return r;
}

int oci_seccomp_compile(json_t *sc, struct sock_fprog *ret, struct sf_err *err)
{
        _cleanup_(seccomp_releasep) scmp_filter_ctx ctx = NULL;
        _cleanup_close_ int fd = -1;
        struct sock_filter *prog;
        uint32_t def;
        off_t size;
        json_t *v;
        size_t i;
        int r;

        if (!json_is_object(sc))
                return sf_err_set(err, -EINVAL, "linux.seccomp must be an object");
        if (json_object_get(sc, "listenerPath"))
                return sf_err_set(err, -EPERM, "linux.seccomp.listenerPath refused (a seccomp agent outside the "
                                  "sandbox would decide its system calls)");
        r = action(json_string_value(json_object_get(sc, "defaultAction")), json_object_get(sc, "defaultErrnoRet"),
                   &def, err);
        if (r < 0)
                return r;
        ctx = seccomp_init(def);
        if (!ctx)
                return sf_err_set(err, -ENOMEM, "linux.seccomp: cannot start a filter");
        /* no_new_privs is the launcher's; the built-in filter kills other
         * architectures before this one runs. */
        (void) seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
        (void) seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
        v = json_object_get(sc, "syscalls");
        if (v && !json_is_array(v))
                return sf_err_set(err, -EINVAL, "linux.seccomp.syscalls must be an array");
        json_array_foreach(v, i, sc) {
                r = add_rule(ctx, def, sc, err);
                if (r < 0)
                        return r;
        }
        fd = memfd_create("sfaasd-oci-seccomp", MFD_CLOEXEC);
        if (fd < 0)
                return sf_err_errno(err, -errno, "linux.seccomp: memfd_create");
        r = seccomp_export_bpf(ctx, fd);
        if (r < 0)
                return sf_err_errno(err, r, "linux.seccomp: cannot compile the profile");
        size = lseek(fd, 0, SEEK_END);
        if (size <= 0 || size % (off_t) sizeof(struct sock_filter) != 0 ||
            size / (off_t) sizeof(struct sock_filter) > BPF_MAXINSNS)
                return sf_err_set(err, -E2BIG, "linux.seccomp: the profile compiles to a bad program");
        prog = malloc((size_t) size);
        if (!prog)
                return sf_err_set(err, -ENOMEM, "out of memory");
        if (pread(fd, prog, (size_t) size, 0) != size) {
                free(prog);
                return sf_err_errno(err, -EIO, "linux.seccomp: read back");
        }
        ret->filter = prog;
        ret->len = (unsigned short) (size / (off_t) sizeof(struct sock_filter));
        return 0;
}
