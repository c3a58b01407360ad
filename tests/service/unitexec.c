/* SPDX-License-Identifier: MIT */
/*
 * unitexec: load the seccomp filters a systemd unit's settings make, then
 * exec a command. Test tool for tests/service/as-unit.sh, which reads
 * packaging/sfaasd.service and runs the daemon (or `sfaasd run`) the way
 * systemd would, on a host whose PID 1 is not systemd.
 *
 *   unitexec [--deny NAME]... [--errno N] [--families AF_A,AF_B,...]
 *            [--restrict-suid-sgid] [--restrict-realtime] [--lock-personality]
 *            [--native-only] -- CMD [ARG...]
 *
 *   --deny NAME            SystemCallFilter=~NAME...: NAME fails with --errno
 *                          (SystemCallErrorNumber=, default EPERM); names the
 *                          kernel does not have on this architecture are
 *                          skipped, as systemd skips them
 *   --families LIST        RestrictAddressFamilies=LIST: socket() of any other
 *                          family fails with EAFNOSUPPORT
 *   --restrict-suid-sgid   RestrictSUIDSGID=yes: chmod/mkdir/mknod/open(O_CREAT)
 *                          and their *at forms with S_ISUID or S_ISGID -> EPERM
 *   --restrict-realtime    RestrictRealtime=yes: sched_setscheduler() to
 *                          SCHED_FIFO/RR/DEADLINE -> EPERM
 *   --lock-personality     LockPersonality=yes: personality() to anything but
 *                          PER_LINUX -> EPERM
 *   --native-only          SystemCallArchitectures=native: only the native ABI
 *
 * The rules follow systemd's src/shared/seccomp-util.c in what they match
 * and answer, not in how the BPF is laid out. Each set is its own filter,
 * loaded in the order systemd loads them; the caller has set no_new_privs
 * (setpriv --no-new-privs), as NoNewPrivileges=yes does.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sched.h>
#include <seccomp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef SCHED_DEADLINE
#define SCHED_DEADLINE 6
#endif

static const struct { const char *name; int af; } families[] = {
        { "AF_UNIX", AF_UNIX },       { "AF_INET", AF_INET },   { "AF_INET6", AF_INET6 },
        { "AF_NETLINK", AF_NETLINK }, { "AF_PACKET", AF_PACKET },
};

static void die(const char *what, int r)
{
        fprintf(stderr, "unitexec: %s: %s\n", what, strerror(r < 0 ? -r : r));
        exit(127);
}

static scmp_filter_ctx new_filter(bool native_only)
{
        scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
        if (!ctx)
                die("seccomp_init", ENOMEM);
        /* The caller set no_new_privs; do not depend on libseccomp doing it. */
        (void) seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
        if (!native_only) {
                /* Without SystemCallArchitectures=native, systemd adds the
                 * secondary ABIs (x32, i386 on x86_64) to every filter. */
                (void) seccomp_arch_add(ctx, SCMP_ARCH_X32);
                (void) seccomp_arch_add(ctx, SCMP_ARCH_X86);
        }
        return ctx;
}

static void load(scmp_filter_ctx ctx, const char *what)
{
        int r = seccomp_load(ctx);
        if (r < 0)
                die(what, r);
        seccomp_release(ctx);
}

static void rule(scmp_filter_ctx ctx, int action, const char *name, unsigned n, const struct scmp_arg_cmp *cmp)
{
        int nr = seccomp_syscall_resolve_name(name);
        int r;
        if (nr == __NR_SCMP_ERROR)
                return;
        r = seccomp_rule_add_array(ctx, action, nr, n, cmp);
        if (r < 0 && r != -EOPNOTSUPP)
                die(name, r);
}

static void suid_sgid(scmp_filter_ctx ctx)
{
        /* mode argument index per call; open* also need O_CREAT/O_TMPFILE */
        static const struct { const char *name; unsigned mode_arg; int flags_arg; } calls[] = {
                { "chmod", 1, -1 },  { "fchmod", 1, -1 },  { "fchmodat", 2, -1 }, { "fchmodat2", 2, -1 },
                { "mkdir", 1, -1 },  { "mkdirat", 2, -1 }, { "mknod", 1, -1 },    { "mknodat", 2, -1 },
                { "creat", 1, -1 },  { "open", 2, 1 },     { "openat", 3, 2 },
        };
        static const unsigned bits[] = { S_ISUID, S_ISGID };
        for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++)
                for (size_t b = 0; b < 2; b++) {
                        struct scmp_arg_cmp c[2] = {
                                SCMP_CMP(calls[i].mode_arg, SCMP_CMP_MASKED_EQ, bits[b], bits[b]),
                        };
                        if (calls[i].flags_arg < 0) {
                                rule(ctx, SCMP_ACT_ERRNO(EPERM), calls[i].name, 1, c);
                                continue;
                        }
                        c[1] = SCMP_CMP((unsigned) calls[i].flags_arg, SCMP_CMP_MASKED_EQ, O_CREAT, O_CREAT);
                        rule(ctx, SCMP_ACT_ERRNO(EPERM), calls[i].name, 2, c);
                        c[1] = SCMP_CMP((unsigned) calls[i].flags_arg, SCMP_CMP_MASKED_EQ, O_TMPFILE, O_TMPFILE);
                        rule(ctx, SCMP_ACT_ERRNO(EPERM), calls[i].name, 2, c);
                }
}

int main(int argc, char **argv)
{
        static const struct option opts[] = {
                { "deny", required_argument, NULL, 'd' },       { "errno", required_argument, NULL, 'e' },
                { "families", required_argument, NULL, 'f' },   { "restrict-suid-sgid", no_argument, NULL, 's' },
                { "restrict-realtime", no_argument, NULL, 'r' }, { "lock-personality", no_argument, NULL, 'p' },
                { "native-only", no_argument, NULL, 'n' },      { NULL, 0, NULL, 0 },
        };
        const char *deny[512];
        size_t n_deny = 0;
        char *fam = NULL;
        bool suid = false, rt = false, pers = false, native = false;
        int err_no = EPERM, c;
        scmp_filter_ctx ctx;

        while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
                switch (c) {
                case 'd':
                        if (n_deny == sizeof deny / sizeof deny[0])
                                die("too many --deny", E2BIG);
                        deny[n_deny++] = optarg;
                        break;
                case 'e': {
                        char *end;
                        long v = strtol(optarg, &end, 10);
                        if (*end || v <= 0 || v > 4095)
                                die("--errno", EINVAL);
                        err_no = (int) v;
                        break;
                }
                case 'f': fam = optarg; break;
                case 's': suid = true; break;
                case 'r': rt = true; break;
                case 'p': pers = true; break;
                case 'n': native = true; break;
                default: return 2;
                }
        }
        if (optind >= argc) {
                fprintf(stderr, "usage: unitexec [options] -- CMD [ARG...]\n");
                return 2;
        }

        /* SystemCallArchitectures= plus SystemCallFilter= */
        ctx = new_filter(native);
        for (size_t i = 0; i < n_deny; i++)
                rule(ctx, SCMP_ACT_ERRNO((unsigned) err_no), deny[i], 0, NULL);
        load(ctx, "system call filter");

        if (fam) {
                bool allowed[AF_MAX] = { false };
                ctx = new_filter(native);
                for (char *t = fam, *next; t; t = next) {
                        size_t i;
                        next = strchr(t, ',');
                        if (next)
                                *next++ = '\0';
                        for (i = 0; i < sizeof families / sizeof families[0]; i++)
                                if (strcmp(t, families[i].name) == 0)
                                        break;
                        if (i == sizeof families / sizeof families[0])
                                die(t, EAFNOSUPPORT);
                        allowed[families[i].af] = true;
                }
                for (int af = 0; af < AF_MAX; af++)
                        if (!allowed[af]) {
                                struct scmp_arg_cmp a = SCMP_CMP(0, SCMP_CMP_EQ, (scmp_datum_t) af);
                                rule(ctx, SCMP_ACT_ERRNO(EAFNOSUPPORT), "socket", 1, &a);
                        }
                {
                        struct scmp_arg_cmp a = SCMP_CMP(0, SCMP_CMP_GE, AF_MAX);
                        rule(ctx, SCMP_ACT_ERRNO(EAFNOSUPPORT), "socket", 1, &a);
                }
                load(ctx, "address families");
        }
        if (suid) {
                ctx = new_filter(native);
                suid_sgid(ctx);
                load(ctx, "suid/sgid");
        }
        if (rt) {
                static const int policies[] = { SCHED_FIFO, SCHED_RR, SCHED_DEADLINE };
                ctx = new_filter(native);
                for (size_t i = 0; i < 3; i++) {
                        struct scmp_arg_cmp a = SCMP_CMP(1, SCMP_CMP_EQ, (scmp_datum_t) policies[i]);
                        rule(ctx, SCMP_ACT_ERRNO(EPERM), "sched_setscheduler", 1, &a);
                }
                load(ctx, "realtime");
        }
        if (pers) {
                /* as systemd: every other value, the 0xffffffff query too */
                struct scmp_arg_cmp a = SCMP_CMP(0, SCMP_CMP_NE, PER_LINUX);
                ctx = new_filter(native);
                rule(ctx, SCMP_ACT_ERRNO(EPERM), "personality", 1, &a);
                load(ctx, "personality");
        }
        execvp(argv[optind], argv + optind);
        die(argv[optind], errno);
        return 127;
}
