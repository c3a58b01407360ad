/* SPDX-License-Identifier: MIT */
/*
 * A byte tunnel between two connected sockets that user space never copies
 * (issue 16, "Speed"): each direction splice(2)s from its source socket into
 * a pipe and from the pipe into the other socket, both non-blocking, driven
 * by a uv_poll_t per socket on the loop. The egress proxy
 * (core/runtime/egress_proxy.c) hands a CONNECT tunnel or a port forward to
 * it once the tunnel has moved 64 KiB by copying (a short exchange is
 * cheaper to copy than to switch) and libuv holds no queued write of the
 * connection; the TLS it originates and plain HTTP requests stay on its
 * copying path (their bytes are read and rewritten).
 *
 * libuv allows one watcher per file descriptor, so the tunnel works on
 * duplicates of the sockets, made by the owner, whose uv_tcp_t handles are
 * then closed (a socket lives while one descriptor of it is open).
 *
 * Back-pressure: a source is polled for reading only while its pipe has
 * room; a destination for writing only while its pipe holds bytes. End of
 * one direction (EOF of its source, its pipe empty): shutdown(SHUT_WR) of
 * its destination; the owner hears of the end once both directions ended.
 *
 * Ownership: embedded in its owner; egress_tunnel_init() takes the two
 * descriptors (closed on failure too); egress_tunnel_close() closes the
 * pipes at once and the polls (and their descriptors) through uv_close,
 * calling ops->closed once per poll handle that was open (n_open of them
 * after a successful init). Loop thread only.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

/* Directions: TUNNEL_UP is fd[0] -> fd[1], TUNNEL_DOWN fd[1] -> fd[0]. */
enum { TUNNEL_UP = 0, TUNNEL_DOWN = 1 };

struct egress_tunnel_ops {
        /* Bytes either direction may still take in before the owner's cap
         * is passed; SIZE_MAX without a cap. At least 1 while the owner
         * goes on (one byte beyond the cap tells moved() it was passed). */
        size_t (*budget)(void *data);
        /* n bytes of direction dir entered the tunnel (a pipe); false: the
         * owner closed the tunnel (a cap), nothing more is done. */
        bool (*moved)(void *data, int dir, size_t n);
        /* Both directions ended (err 0), or a socket failed (-errno). */
        void (*ended)(void *data, int err);
        /* One poll handle closed. */
        void (*closed)(void *data);
};

struct egress_tunnel_dir {
        int pipe[2];
        size_t held;            /* bytes in the pipe */
        bool eof;               /* the source said all */
        bool full;              /* the pipe took nothing more: wait for a write out */
        bool shut;              /* the destination's write side is shut */
};

struct egress_tunnel {
        uv_poll_t poll[2];
        int fd[2];
        int events[2];          /* what each poll waits for now */
        struct egress_tunnel_dir dir[2];
        size_t pipe_size;
        int n_open;             /* poll handles inited and not closed */
        bool closing, ended;
        const struct egress_tunnel_ops *ops;
        void *data;
};

/* The pipe size the tunnel asks for (F_SETPIPE_SZ; the kernel's default when
 * refused). bench/egress, same run: 64 KiB 1640/1820 MB/s down/up, 256 KiB
 * 1949/1903, 1 MiB 2044/1978. At most 2 MiB in flight per tunnel, as in
 * the copying relay (QUEUE_HIGH, 1 MiB a direction); 1 MiB is also
 * /proc/sys/fs/pipe-max-size's default. */
#ifndef EGRESS_TUNNEL_PIPE_SIZE
#define EGRESS_TUNNEL_PIPE_SIZE (1u << 20)
#endif

/* Take fd_a and fd_b (duplicates the tunnel owns from now on), make the
 * pipes and the polls; nothing moves before egress_tunnel_run(). a_eof: the
 * source fd_a has already said all (its destination is shut at once).
 * -errno, every descriptor closed, when the pipes cannot be made (nothing
 * to close then; n_open is 0). */
int egress_tunnel_init(struct egress_tunnel *t, uv_loop_t *loop, int fd_a, int fd_b, bool a_eof,
                       const struct egress_tunnel_ops *ops, void *data);
/* Start moving bytes. */
void egress_tunnel_run(struct egress_tunnel *t);
/* Stop and close everything; again is fine. */
void egress_tunnel_close(struct egress_tunnel *t);
