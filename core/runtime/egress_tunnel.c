/* SPDX-License-Identifier: MIT */
/* A zero-copy byte tunnel: see core/runtime/egress_tunnel.h. */
#include "core/runtime/egress_tunnel.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

static void on_poll(uv_poll_t *h, int status, int events);

static void on_poll_closed(uv_handle_t *h)
{
        struct egress_tunnel *t = h->data;
        int side = (uv_poll_t *) h == &t->poll[0] ? 0 : 1;

        (void) close(t->fd[side]);
        t->fd[side] = -1;
        t->n_open--;
        t->ops->closed(t->data);
}

static void pipes_close(struct egress_tunnel *t)
{
        for (int d = 0; d < 2; d++)
                for (int i = 0; i < 2; i++)
                        if (t->dir[d].pipe[i] >= 0) {
                                (void) close(t->dir[d].pipe[i]);
                                t->dir[d].pipe[i] = -1;
                        }
}

int egress_tunnel_init(struct egress_tunnel *t, uv_loop_t *loop, int fd_a, int fd_b, bool a_eof,
                       const struct egress_tunnel_ops *ops, void *data)
{
        int r = 0;

        *t = (struct egress_tunnel) { .fd = { fd_a, fd_b }, .ops = ops, .data = data };
        for (int d = 0; d < 2; d++)
                t->dir[d].pipe[0] = t->dir[d].pipe[1] = -1;
        t->pipe_size = SIZE_MAX;
        for (int d = 0; d < 2 && r == 0; d++) {
                int got;
                if (pipe2(t->dir[d].pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
                        r = -errno;
                        break;
                }
                /* Bigger than the default 64 KiB: fewer wake-ups per byte
                 * (bench/egress). Refused (a user's pipe quota): the default. */
                got = fcntl(t->dir[d].pipe[1], F_SETPIPE_SZ, (int) EGRESS_TUNNEL_PIPE_SIZE);
                if (got < 0)
                        got = fcntl(t->dir[d].pipe[1], F_GETPIPE_SZ);
                if (got <= 0)
                        r = got < 0 ? -errno : -EIO;
                else if ((size_t) got < t->pipe_size)
                        t->pipe_size = (size_t) got;
        }
        if (r < 0) {
                pipes_close(t);
                (void) close(fd_a);
                (void) close(fd_b);
                t->fd[0] = t->fd[1] = -1;
                return r;
        }
        for (int side = 0; side < 2; side++) {
                r = uv_poll_init(loop, &t->poll[side], t->fd[side]);
                if (r < 0) {
                        /* The inited one closes its descriptor in its callback. */
                        for (int s = side; s < 2; s++) {
                                (void) close(t->fd[s]);
                                t->fd[s] = -1;
                        }
                        egress_tunnel_close(t);
                        return r;
                }
                t->poll[side].data = t;
                t->n_open++;
        }
        t->dir[TUNNEL_UP].eof = a_eof;
        return 0;
}

void egress_tunnel_close(struct egress_tunnel *t)
{
        if (t->closing)
                return;
        t->closing = true;
        pipes_close(t);
        for (int side = 0; side < t->n_open; side++)
                uv_close((uv_handle_t *) &t->poll[side], on_poll_closed);
}

/* Move what can move in direction d without blocking: out of the pipe when
 * can_write, into it when can_read. 0, 1 when the owner closed the tunnel,
 * -errno. */
static int pump(struct egress_tunnel *t, int d, bool can_read, bool can_write)
{
        struct egress_tunnel_dir *p = &t->dir[d];
        int src = t->fd[d], dst = t->fd[1 - d];

        for (;;) {
                bool progress = false;
                if (can_write && p->held > 0) {
                        ssize_t n = splice(p->pipe[0], NULL, dst, NULL, p->held, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
                        if (n > 0) {
                                p->held -= (size_t) n;
                                /* A pipe that was full: its source likely has
                                 * more, take it in now rather than after a
                                 * round through the poll. */
                                if (p->full && !p->eof)
                                        can_read = true;
                                p->full = false;
                                progress = true;
                        } else if (n < 0 && errno == EAGAIN) {
                                can_write = false;
                        } else if (n < 0 && errno != EINTR) {
                                return -errno;
                        }
                }
                if (can_read && !p->eof && !p->full) {
                        size_t room = t->pipe_size - p->held, budget = t->ops->budget(t->data);
                        /* Never more than the cap allows (plus the one byte
                         * that tells it was passed): nothing beyond reaches
                         * the destination. */
                        size_t want = room < budget ? room : budget;
                        ssize_t n = splice(src, NULL, p->pipe[1], NULL, want, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
                        if (n > 0) {
                                p->held += (size_t) n;
                                if (p->held >= t->pipe_size)
                                        p->full = true;
                                if (!t->ops->moved(t->data, d, (size_t) n))
                                        return 1;
                                progress = can_write = true;
                                /* Less than asked: the socket is empty for
                                 * now (the poll says when it is not), so no
                                 * splice that would only answer EAGAIN. */
                                if ((size_t) n < want)
                                        can_read = false;
                        } else if (n == 0) {
                                p->eof = true;
                        } else if (errno == EAGAIN) {
                                /* The socket is empty, or the pipe has no slot
                                 * left (a slot holds a page or less: it can
                                 * fill before pipe_size bytes). Holding bytes,
                                 * the pipe may be full: polling the source
                                 * again would spin; wait for a write out. */
                                if (p->held > 0)
                                        p->full = true;
                                can_read = false;
                        } else if (errno != EINTR) {
                                return -errno;
                        }
                }
                if (!progress)
                        break;
        }
        if (p->eof && p->held == 0 && !p->shut) {
                p->shut = true;
                if (shutdown(dst, SHUT_WR) < 0 && errno != ENOTCONN)
                        return -errno;
        }
        return 0;
}

/* Poll for what the two directions wait for now; the end when both ended. */
static void rearm(struct egress_tunnel *t)
{
        for (int side = 0; side < 2; side++) {
                const struct egress_tunnel_dir *out = &t->dir[side], *in = &t->dir[1 - side];
                int ev = 0, r = 0;
                if (!out->eof && !out->full)
                        ev |= UV_READABLE;
                if (in->held > 0)
                        ev |= UV_WRITABLE;
                if (ev == t->events[side])
                        continue;
                if (ev)
                        r = uv_poll_start(&t->poll[side], ev, on_poll);
                else
                        r = uv_poll_stop(&t->poll[side]);
                if (r < 0) {
                        t->ended = true;
                        t->ops->ended(t->data, r);
                        return;
                }
                t->events[side] = ev;
        }
        if (t->dir[0].shut && t->dir[1].shut && !t->ended) {
                t->ended = true;
                t->ops->ended(t->data, 0);
        }
}

static void on_poll(uv_poll_t *h, int status, int events)
{
        struct egress_tunnel *t = h->data;
        int side = h == &t->poll[0] ? 0 : 1, r;

        if (t->closing || t->ended)
                return;
        if (status < 0) {
                /* POLLERR: the socket's own error says more. */
                int err = 0;
                socklen_t len = sizeof err;
                if (getsockopt(t->fd[side], SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err)
                        status = -err;
                t->ended = true;
                t->ops->ended(t->data, status);
                return;
        }
        /* This side readable: its outgoing direction takes in; writable:
         * the incoming one gives out. */
        r = pump(t, side, events & UV_READABLE, false);
        if (r == 0)
                r = pump(t, 1 - side, false, events & UV_WRITABLE);
        if (r == 1 || t->closing)
                return;
        if (r < 0) {
                t->ended = true;
                t->ops->ended(t->data, r);
                return;
        }
        rearm(t);
}

void egress_tunnel_run(struct egress_tunnel *t)
{
        if (t->closing)
                return;
        /* A source that ended before: its destination is shut now. */
        for (int d = 0; d < 2; d++) {
                int r = pump(t, d, false, false);
                if (r < 0) {
                        t->ended = true;
                        t->ops->ended(t->data, r);
                        return;
                }
        }
        rearm(t);
}
