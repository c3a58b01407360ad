/* SPDX-License-Identifier: MIT */
/*
 * The seccomp program the launcher attaches: generated once at build time
 * (tools/gen_seccomp compiles sandbox/policy/seccomp.c with libseccomp into
 * $(BUILD)/seccomp_policy.c), so a launcher start costs no compilation
 * (~2 ms of libseccomp per `sfaasd run` before) and sfaasd does not link
 * libseccomp at all.
 *
 * The program is architecture-specific: its first instructions kill every
 * syscall whose seccomp_data.arch is not the one it was generated for, and
 * the syscall numbers in it are that architecture's. A program generated
 * for another architecture than the one this binary runs as would kill
 * every sandbox at its first syscall (or, worse, allow the wrong numbers),
 * so the launcher refuses to start instead.
 */
#include <errno.h>
#include <limits.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>

#include "sandbox/internal.h"

int sb_seccomp_builtin(struct sock_fprog *ret, struct sf_err *err)
{
        const struct sock_filter *p = sb_seccomp_policy;
        size_t n = sb_seccomp_policy_len;

        if (sb_seccomp_policy_arch != SB_AUDIT_ARCH)
                return sf_err_set(err, -ENOEXEC,
                                  "seccomp: the built-in policy was generated for %s (audit arch %#x) but this "
                                  "binary runs as %s (%#x); rebuild sfaasd on the target architecture",
                                  sb_seccomp_policy_arch_name, sb_seccomp_policy_arch, SB_ARCH_NAME,
                                  (unsigned) SB_AUDIT_ARCH);
        /* The arch check must be the program's first test (policy/seccomp.c
         * build_prefix): ld seccomp_data.arch; jeq ARCH, +1; ret KILL_PROCESS. */
        if (n < 3 || n > BPF_MAXINSNS || n > USHRT_MAX || p[0].code != (BPF_LD | BPF_W | BPF_ABS) ||
            p[0].k != offsetof(struct seccomp_data, arch) || p[1].code != (BPF_JMP | BPF_JEQ | BPF_K) ||
            p[1].k != SB_AUDIT_ARCH || p[1].jt != 1 || p[1].jf != 0 || p[2].code != (BPF_RET | BPF_K) ||
            p[2].k != SECCOMP_RET_KILL_PROCESS)
                return sf_err_set(err, -ENOEXEC, "seccomp: the built-in policy does not start with the %s "
                                  "architecture check; rebuild sfaasd", SB_ARCH_NAME);
        /* The kernel only reads the program (it copies it in seccomp()). */
        *ret = (struct sock_fprog) { .len = (unsigned short) n, .filter = (struct sock_filter *) p };
        return 0;
}

int sandbox_seccomp_probe(size_t *ret_insns, struct sf_err *err)
{
        struct sock_fprog prog;
        int r;

        sf_err_clear(err);
        r = sb_seccomp_builtin(&prog, err);
        if (r < 0)
                return r;
        if (ret_insns)
                *ret_insns = prog.len;
        return 0;
}
