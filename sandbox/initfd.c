/* SPDX-License-Identifier: MIT */
/*
 * The sandbox init (sandbox/init/sfaasd-init.c) as an executable memfd, made
 * once per launcher from the bytes the build embedded ($(BUILD)/init_image.c).
 * Every sandbox child execs it with execveat(fd, "", ..., AT_EMPTY_PATH).
 *
 * Why a sealed memfd (the runc answer to CVE-2019-5736): a process inside
 * that reaches /proc/1/exe must find nothing it can change and nothing of
 * the host. The seals forbid any write, resize or later seal, so no sandbox
 * can plant code that the next sandbox would run; the file lives in no
 * filesystem, so it names no host path. Mode 0111 (execute only): the
 * sandbox's uid may exec it but not read it, which makes the kernel mark the
 * exec'd init non-dumpable and tie its mm to the launcher's user namespace
 * (would_dump() in fs/exec.c), so no process inside may ptrace it or open
 * its /proc/1/mem, /proc/1/fd or /proc/1/exe.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/base/cleanup.h"
#include "sandbox/internal.h"

#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U /* Linux 6.3: executable even under vm.memfd_noexec=1 */
#endif
#ifndef F_SEAL_EXEC
#define F_SEAL_EXEC 0x0020 /* Linux 6.3: the mode's exec bits are fixed */
#endif

#define SB_INIT_SEALS (F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE)

int sb_init_memfd(int *ret_fd, struct sf_err *err)
{
        _cleanup_close_ int fd = -1;
        size_t off = 0;
        int seals;

        fd = memfd_create(SB_INIT_ARGV0, MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC);
        if (fd < 0 && errno == EINVAL) /* a kernel before 6.3 knows no MFD_EXEC */
                fd = memfd_create(SB_INIT_ARGV0, MFD_CLOEXEC | MFD_ALLOW_SEALING);
        if (fd < 0)
                return sf_err_errno(err, -errno, "cannot create the memfd of the sandbox init%s",
                                    errno == EACCES ? " (vm.memfd_noexec=2 refuses executable memfds)" : "");
        while (off < sb_init_image_len) {
                ssize_t n = write(fd, sb_init_image + off, sb_init_image_len - off);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return sf_err_errno(err, n < 0 ? -errno : -EIO, "cannot write the sandbox init");
                off += (size_t) n;
        }
        if (fchmod(fd, 0111) < 0)
                return sf_err_errno(err, -errno, "cannot make the sandbox init execute-only");
        if (fcntl(fd, F_ADD_SEALS, SB_INIT_SEALS | F_SEAL_EXEC) < 0 &&
            (errno != EINVAL || fcntl(fd, F_ADD_SEALS, SB_INIT_SEALS) < 0))
                return sf_err_errno(err, -errno, "cannot seal the sandbox init");
        seals = fcntl(fd, F_GET_SEALS);
        if (seals < 0 || (seals & SB_INIT_SEALS) != SB_INIT_SEALS)
                return sf_err_set(err, -EPERM, "the sandbox init memfd is not sealed (seals %#x)", seals);
        /* A caller that runs with 0..2 closed would leave us a stdio number,
         * which the child overwrites with the sandbox's stdio before it execs
         * the init from this fd. */
        if (fd <= 2) {
                int hi = fcntl(fd, F_DUPFD_CLOEXEC, 3);
                if (hi < 0)
                        return sf_err_errno(err, -errno, "cannot move the sandbox init's memfd above stdio");
                (void) close(fd);
                fd = hi;
        }
        *ret_fd = TAKE_FD(fd);
        return 0;
}

int sandbox_init_probe(size_t *ret_bytes, struct sf_err *err)
{
        int fd = -1, r;

        sf_err_clear(err);
        r = sb_init_memfd(&fd, err);
        if (r < 0)
                return r;
        (void) close(fd);
        if (ret_bytes)
                *ret_bytes = sb_init_image_len;
        return 0;
}
