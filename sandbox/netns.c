/* SPDX-License-Identifier: MIT */
/*
 * A pool of fresh network namespaces, made ahead of time by a helper
 * process, so that the ~0.5 ms a new netns costs the kernel is off the spawn
 * path (it is most of what clone3 costs).
 *
 * Each namespace is brand new (never reused: sockets, TIME_WAIT entries and
 * abstract unix names must not pass from one sandbox to the next), has only
 * loopback, up, and is owned by the launcher's user namespace, not the
 * sandbox's: root inside the sandbox then holds no CAP_NET_ADMIN over it
 * and cannot reconfigure it at all (netfilter and tc, a recurring source of
 * user-namespace kernel exploits, stay out of reach).
 *
 * The helper is a fork()ed child running only raw system calls: it closes
 * every inherited fd but its socket, dies with the launcher (PDEATHSIG,
 * EPIPE), and blocks on a full socket queue (net.unix.max_dgram_qlen bounds
 * how many namespaces wait).
 */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/base/cleanup.h"
#include "sandbox/internal.h"

static int loopback_up(void)
{
        struct ifreq ifr;
        int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), r = 0;

        if (s < 0)
                return -errno;
        memset(&ifr, 0, sizeof ifr);
        memcpy(ifr.ifr_name, "lo", 3);
        if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
                r = -errno;
        ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
        if (r == 0 && ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
                r = -errno;
        (void) close(s);
        return r;
}

static int send_fd(int sock, int fd)
{
        char c = 'n';
        struct iovec iov = { .iov_base = &c, .iov_len = 1 };
        union {
                struct cmsghdr h;
                char buf[CMSG_SPACE(sizeof(int))];
        } u;
        struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
                              .msg_controllen = sizeof u.buf };
        struct cmsghdr *cm;

        memset(&u, 0, sizeof u);
        cm = CMSG_FIRSTHDR(&msg);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(cm), &fd, sizeof fd);
        while (sendmsg(sock, &msg, MSG_NOSIGNAL) < 0)
                if (errno != EINTR)
                        return -errno;
        return 0;
}

__attribute__((noreturn)) static void helper_main(int sock, pid_t parent)
{
        (void) prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
        if (getppid() != parent)
                _exit(0);
        if (sock != 3) {
                if (dup2(sock, 3) < 0)
                        _exit(1);
                sock = 3;
        }
        (void) syscall(SYS_close_range, 4, ~0U, 0);
        for (;;) {
                int fd;
                if (unshare(CLONE_NEWNET) < 0 || loopback_up() < 0)
                        _exit(1);
                fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
                if (fd < 0)
                        _exit(1);
                if (send_fd(sock, fd) < 0)
                        _exit(0); /* the launcher is gone */
                (void) close(fd);
        }
}

int sb_netns_pool_start(struct sb_netns_pool *pool, struct sf_err *err)
{
        int sv[2];
        pid_t parent = getpid(), pid;

        pool->sock = pool->orig_fd = -1;
        pool->helper = -1;
        pool->orig_fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
        if (pool->orig_fd < 0)
                return sf_err_errno(err, -errno, "netns pool: cannot open our network namespace");
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
                int r = -errno;
                sb_netns_pool_stop(pool);
                return sf_err_errno(err, r, "netns pool: socketpair");
        }
        pid = fork();
        if (pid < 0) {
                int r = -errno;
                (void) close(sv[0]);
                (void) close(sv[1]);
                sb_netns_pool_stop(pool);
                return sf_err_errno(err, r, "netns pool: fork");
        }
        if (pid == 0)
                helper_main(sv[1], parent);
        (void) close(sv[1]);
        pool->sock = sv[0];
        pool->helper = pid;
        return 0;
}

int sb_netns_pool_take(struct sb_netns_pool *pool)
{
        char c;
        struct iovec iov = { .iov_base = &c, .iov_len = 1 };
        union {
                struct cmsghdr h;
                char buf[CMSG_SPACE(sizeof(int))];
        } u;
        struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
                              .msg_controllen = sizeof u.buf };
        struct cmsghdr *cm;
        int fd;

        if (pool->sock < 0)
                return -EAGAIN;
        if (recvmsg(pool->sock, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC) <= 0)
                return -EAGAIN;
        cm = CMSG_FIRSTHDR(&msg);
        if (!cm || cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS ||
            cm->cmsg_len != CMSG_LEN(sizeof(int)))
                return -EBADMSG;
        memcpy(&fd, CMSG_DATA(cm), sizeof fd);
        return fd;
}

int sb_netns_make(struct sb_netns_pool *pool)
{
        int fd = -1, r = 0;

        if (pool->orig_fd < 0)
                return -EBADF;
        if (unshare(CLONE_NEWNET) < 0)
                return -errno;
        r = loopback_up();
        if (r >= 0) {
                fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
                if (fd < 0)
                        r = -errno;
        }
        /* Cannot fail with the privileges that made the namespace; if it
         * did, this thread would stay in a sandbox's netns (see
         * spawn_clone). */
        if (setns(pool->orig_fd, CLONE_NEWNET) < 0)
                abort();
        return r < 0 ? r : fd;
}

void sb_netns_pool_stop(struct sb_netns_pool *pool)
{
        if (pool->sock >= 0)
                (void) close(pool->sock); /* the helper's next send fails: it exits */
        if (pool->helper > 0) {
                (void) kill(pool->helper, SIGKILL);
                while (waitpid(pool->helper, NULL, 0) < 0 && errno == EINTR)
                        ;
        }
        if (pool->orig_fd >= 0)
                (void) close(pool->orig_fd);
        pool->sock = pool->orig_fd = -1;
        pool->helper = -1;
}
