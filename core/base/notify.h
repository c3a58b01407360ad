/* SPDX-License-Identifier: MIT */
/*
 * The service manager's notification protocol (sd_notify(3)), without
 * libsystemd: one datagram of "KEY=VALUE\n..." to the AF_UNIX socket named
 * by $NOTIFY_SOCKET (a path, or "@name" for the abstract namespace).
 * systemd's Type=notify waits for READY=1; with WatchdogSec= it expects
 * WATCHDOG=1 at least every $WATCHDOG_USEC. Without $NOTIFY_SOCKET (a
 * terminal, `make run`, the tests) every call is a no-op.
 *
 * libsystemd's sd_notify() would be one more shared library that every
 * subcommand, `sfaasd run` included, loads at start (see the Makefile on
 * static linking) for these few lines; the protocol is documented as
 * stable for use without it.
 */
#pragma once

#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>

struct notify {
        int fd;                   /* -1: nobody to notify */
        struct sockaddr_un addr;
        socklen_t addr_len;
        uint64_t watchdog_usec;   /* 0: no watchdog asked for */
};

/* Read $NOTIFY_SOCKET, $WATCHDOG_USEC and $WATCHDOG_PID (the watchdog is
 * ours only when that pid is ours, or unset), then remove them from the
 * environment so no child process can speak for the daemon. -errno for a
 * malformed $NOTIFY_SOCKET (n is then inert); 0 otherwise. */
int notify_init(struct notify *n);
/* Send one state message (not newline-terminated: "READY=1\nSTATUS=..."):
 * 1 sent, 0 nobody to notify, -errno (never blocks: MSG_DONTWAIT). */
int notify_send(struct notify *n, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void notify_release(struct notify *n);
