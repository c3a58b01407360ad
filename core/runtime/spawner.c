/* SPDX-License-Identifier: MIT */
/* Sandboxes made off the loop: see spawner.h. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>

#include "core/base/util.h"
#include "core/runtime/spawner.h"

struct spawner {
        uv_async_t async;              /* results are back */
        struct sandbox_launcher *launcher;
        bool async_open;
        size_t out;                    /* loop: submitted, done not run yet */
        pthread_t thread;
        bool thread_started;
        pthread_mutex_t mu;
        pthread_cond_t cv;
        struct list_head queue, done;   /* under mu */
        bool quit;                     /* under mu */
};

/* Every signal is blocked on this thread (set before it was made): no
 * handler of the daemon runs here. */
static void *spawner_thread(void *arg)
{
        struct spawner *s = arg;

        (void) pthread_mutex_lock(&s->mu);
        for (;;) {
                struct spawn_req *req;

                while (!s->quit && list_empty(&s->queue))
                        (void) pthread_cond_wait(&s->cv, &s->mu);
                if (list_empty(&s->queue))
                        break; /* quit, and nothing left to do */
                req = list_first(&s->queue, struct spawn_req, node);
                list_del(&req->node);
                (void) pthread_mutex_unlock(&s->mu);

                req->ret = sandbox_spawn(s->launcher, req->sp, &req->sb, &req->err);
                req->done_ns = now_ns();

                (void) pthread_mutex_lock(&s->mu);
                list_add_tail(&s->done, &req->node);
                (void) uv_async_send(&s->async);
        }
        (void) pthread_mutex_unlock(&s->mu);
        return NULL;
}

static void on_done(uv_async_t *h)
{
        struct spawner *s = h->data;

        for (;;) {
                struct spawn_req *req = NULL;

                (void) pthread_mutex_lock(&s->mu);
                if (!list_empty(&s->done)) {
                        req = list_first(&s->done, struct spawn_req, node);
                        list_del(&req->node);
                }
                (void) pthread_mutex_unlock(&s->mu);
                if (!req)
                        break;
                if (--s->out == 0)
                        uv_unref((uv_handle_t *) &s->async);
                req->done(req);
        }
}

static void spawner_closed(uv_handle_t *h)
{
        free(h->data);
}

int spawner_new(uv_loop_t *loop, struct sandbox_launcher *launcher, struct spawner **ret)
{
        struct spawner *s = calloc(1, sizeof *s);
        sigset_t all, old;
        int r;

        if (!s)
                return -ENOMEM;
        s->launcher = launcher;
        list_init(&s->queue);
        list_init(&s->done);
        (void) pthread_mutex_init(&s->mu, NULL);
        (void) pthread_cond_init(&s->cv, NULL);
        r = uv_async_init(loop, &s->async, on_done);
        if (r < 0) {
                free(s);
                return r;
        }
        s->async.data = s;
        s->async_open = true;
        /* Only the submitted spawns keep the loop alive (spawner_busy). */
        uv_unref((uv_handle_t *) &s->async);
        (void) sigfillset(&all);
        (void) pthread_sigmask(SIG_SETMASK, &all, &old);
        r = -pthread_create(&s->thread, NULL, spawner_thread, s);
        (void) pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (r < 0) {
                uv_close((uv_handle_t *) &s->async, spawner_closed);
                return r;
        }
        s->thread_started = true;
        *ret = s;
        return 0;
}

void spawner_submit(struct spawner *s, struct spawn_req *req)
{
        req->sb = NULL;
        req->ret = 0;
        req->err = (struct sf_err) { 0 };
        s->out++;
        if (s->out == 1)
                uv_ref((uv_handle_t *) &s->async);
        (void) pthread_mutex_lock(&s->mu);
        list_add_tail(&s->queue, &req->node);
        (void) pthread_cond_signal(&s->cv);
        (void) pthread_mutex_unlock(&s->mu);
}

size_t spawner_busy(const struct spawner *s)
{
        return s ? s->out : 0;
}

void spawner_close(struct spawner *s)
{
        if (s && s->async_open) {
                s->async_open = false;
                uv_close((uv_handle_t *) &s->async, NULL);
        }
}

void spawner_free(struct spawner *s)
{
        if (!s)
                return;
        if (s->thread_started) {
                (void) pthread_mutex_lock(&s->mu);
                s->quit = true;
                (void) pthread_cond_signal(&s->cv);
                (void) pthread_mutex_unlock(&s->mu);
                (void) pthread_join(s->thread, NULL);
        }
        (void) pthread_mutex_destroy(&s->mu);
        (void) pthread_cond_destroy(&s->cv);
        free(s);
}
