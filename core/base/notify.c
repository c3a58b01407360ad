/* SPDX-License-Identifier: MIT */
#include "core/base/notify.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/base/util.h"

int notify_init(struct notify *n)
{
        const char *sock = getenv("NOTIFY_SOCKET");
        const char *usec = getenv("WATCHDOG_USEC");
        const char *pid = getenv("WATCHDOG_PID");
        uint64_t v, p;
        size_t len;
        int r = 0;

        memset(n, 0, sizeof *n);
        n->fd = -1;
        n->addr.sun_family = AF_UNIX;
        if (usec && parse_u64(usec, &v) == 0 && v > 0 &&
            (!pid || (parse_u64(pid, &p) == 0 && p == (uint64_t) getpid())))
                n->watchdog_usec = v;
        if (sock && *sock) {
                len = strlen(sock);
                /* "@name": abstract namespace, sun_path[0] = '\0' and no NUL
                 * at the end: the address length says where the name ends. */
                if ((sock[0] != '/' && sock[0] != '@') || len > sizeof n->addr.sun_path ||
                    (sock[0] == '/' && len == sizeof n->addr.sun_path)) {
                        r = -EINVAL;
                } else {
                        memcpy(n->addr.sun_path, sock, len);
                        if (sock[0] == '@')
                                n->addr.sun_path[0] = '\0';
                        n->addr_len = (socklen_t) (offsetof(struct sockaddr_un, sun_path) + len);
                        n->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
                        if (n->fd < 0)
                                r = -errno;
                }
        }
        (void) unsetenv("NOTIFY_SOCKET");
        (void) unsetenv("WATCHDOG_USEC");
        (void) unsetenv("WATCHDOG_PID");
        if (n->fd < 0) {
                n->watchdog_usec = 0;
                n->addr_len = 0;
        }
        return r;
}

int notify_send(struct notify *n, const char *fmt, ...)
{
        char msg[512];
        va_list ap;
        int len;

        if (!n || n->fd < 0)
                return 0;
        va_start(ap, fmt);
        len = vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        if (len < 0 || (size_t) len >= sizeof msg)
                return -ENAMETOOLONG;
        if (sendto(n->fd, msg, (size_t) len, MSG_DONTWAIT | MSG_NOSIGNAL, (const struct sockaddr *) &n->addr,
                   n->addr_len) < 0)
                return -errno;
        return 1;
}

void notify_release(struct notify *n)
{
        if (!n)
                return;
        if (n->fd >= 0)
                (void) close(n->fd);
        n->fd = -1;
}
