/* SPDX-License-Identifier: MIT */
/* `sfaasd run --egress`: see cmd/run_egress.h. */
#include "cmd/run_egress.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/base/cleanup.h"
#include "core/model/egress_grant.h"

struct run_egress {
        pthread_t thread;
        uv_loop_t loop;
        uv_async_t stop;
        uv_sem_t ready;
        struct egress_grant grant;
        struct egress_policy policy;
        const char *resolve_file;
        int netns_fd, self_fd;
        struct egress_proxy *px;
        int start_r;
        struct sf_err err;
};

static void on_report(void *data, const struct egress_report *r)
{
        fprintf(stderr, "sfaasd run: egress %s dest=%s port=%u address=%s verdict=%s up=%llu down=%llu seconds=%.6f%s%s\n",
                r->is_connect ? "CONNECT" : "HTTP", r->dest[0] ? r->dest : "-", (unsigned) r->port,
                r->address[0] ? r->address : "-", r->verdict, (unsigned long long) r->bytes_up,
                (unsigned long long) r->bytes_down, r->seconds, r->reason[0] ? " reason=" : "", r->reason);
}

static void on_stop(uv_async_t *a)
{
        struct run_egress *e = a->data;

        egress_proxy_stop(e->px);
        e->px = NULL;
        uv_close((uv_handle_t *) &e->stop, NULL);
}

static void *egress_thread(void *arg)
{
        struct run_egress *e = arg;
        struct egress_proxy_params p = {
                .loop = &e->loop,
                .netns_fd = e->netns_fd,
                .grant = &e->grant,
                .policy = &e->policy,
                .resolve_file = e->resolve_file,
                .ns = "",
                .function = "run",
                .call_id = "run",
                .report = on_report,
                .data = e,
        };
        sigset_t sigpipe;

        /* A write or splice to a socket its peer reset is EPIPE for the
         * proxy, never a SIGPIPE that ends `sfaasd run` (the signal goes
         * to the thread that wrote: blocked here, pending forever). */
        (void) sigemptyset(&sigpipe);
        (void) sigaddset(&sigpipe, SIGPIPE);
        (void) pthread_sigmask(SIG_BLOCK, &sigpipe, NULL);
        /* This thread's own namespace, to come back to after the listener. */
        e->self_fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
        p.self_netns_fd = e->self_fd;
        e->start_r = e->self_fd < 0 ? -errno : egress_proxy_start(&p, &e->px, &e->err);
        if (e->start_r < 0) {
                uv_close((uv_handle_t *) &e->stop, NULL);
                (void) uv_run(&e->loop, UV_RUN_DEFAULT);
                uv_sem_post(&e->ready);
                return NULL;
        }
        uv_sem_post(&e->ready);
        (void) uv_run(&e->loop, UV_RUN_DEFAULT);
        return NULL;
}

static void run_egress_free(struct run_egress *e)
{
        (void) uv_loop_close(&e->loop);
        uv_sem_destroy(&e->ready);
        egress_grant_release(&e->grant);
        egress_policy_release(&e->policy);
        if (e->self_fd >= 0)
                (void) close(e->self_fd);
        free(e);
}

int run_egress_start(struct sandbox_launcher *l, const char *grant, const char *resolve_file, const char *allow,
                     struct run_egress **ret, int *ret_netns, char vars[EGRESS_PROXY_ENV_N][64])
{
        struct run_egress *e = calloc(1, sizeof *e);
        struct sf_err err = { 0 };
        int r;

        if (!e)
                return -ENOMEM;
        e->self_fd = e->netns_fd = -1;
        e->resolve_file = resolve_file;
        if ((r = egress_grant_parse(grant, false, &e->grant, &err)) < 0 ||
            (r = egress_policy_parse(allow ? allow : "", false, &e->policy, &err)) < 0) {
                fprintf(stderr, "sfaasd run: --egress: %s\n", err.msg);
                egress_grant_release(&e->grant);
                free(e);
                return r;
        }
        e->netns_fd = sandbox_netns_new(l, &err);
        if (e->netns_fd < 0) {
                fprintf(stderr, "sfaasd run: %s\n", err.msg);
                r = e->netns_fd;
                egress_grant_release(&e->grant);
                egress_policy_release(&e->policy);
                free(e);
                return r;
        }
        if (uv_loop_init(&e->loop) < 0 || uv_sem_init(&e->ready, 0) < 0) {
                (void) close(e->netns_fd);
                free(e);
                return -ENOMEM;
        }
        (void) uv_async_init(&e->loop, &e->stop, on_stop);
        e->stop.data = e;
        if ((r = pthread_create(&e->thread, NULL, egress_thread, e)) != 0) {
                (void) close(e->netns_fd);
                uv_close((uv_handle_t *) &e->stop, NULL);
                (void) uv_run(&e->loop, UV_RUN_DEFAULT);
                run_egress_free(e);
                return -r;
        }
        uv_sem_wait(&e->ready);
        if (e->start_r < 0) {
                fprintf(stderr, "sfaasd run: egress proxy: %s\n", e->err.msg);
                (void) pthread_join(e->thread, NULL);
                (void) close(e->netns_fd);
                r = e->start_r;
                run_egress_free(e);
                return r;
        }
        egress_proxy_env(EGRESS_PROXY_PORT, vars);
        *ret_netns = e->netns_fd;
        e->netns_fd = -1;
        *ret = e;
        return 0;
}

void run_egress_stop(struct run_egress *e)
{
        if (!e)
                return;
        (void) uv_async_send(&e->stop);
        (void) pthread_join(e->thread, NULL);
        run_egress_free(e);
}
