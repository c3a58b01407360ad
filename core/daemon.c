/* SPDX-License-Identifier: MIT */
/*
 * Daemon lifecycle. Start: data folder, credentials, database, sandbox
 * launcher, HTTP listener. SIGTERM/SIGINT: stop accepting, let in-flight
 * requests and imports finish (up to shutdown_grace, then kill the
 * sandboxes), close the database, exit 0. Signals are loop events
 * (uv_signal_t); no work happens in a signal handler.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/base/cleanup.h"
#include "core/base/log.h"
#include "core/base/util.h"
#include "core/pool.h"
#include "core/sfaasd.h"

static void on_http_closed(struct http_server *s)
{
        struct sfaasd *sf = http_server_data(s);
        sf->http_closed = true;
        sfaasd_maybe_finish(sf);
}

void sfaasd_maybe_finish(struct sfaasd *sf)
{
        if (!sf->stopping || !sf->http_closed || sf->n_invocations > 0 || sf->n_imports > 0 ||
            async_busy(sf) > 0 || pools_busy(sf) > 0 || sf->finished)
                return;
        sf->finished = true;
        pools_close(sf);
        /* Queued calls and pending callbacks stay in the store for the next start. */
        async_close(sf);
        /* Everything acknowledged is committed; close what is left. */
        (void) uv_timer_stop(&sf->grace_timer);
        uv_close((uv_handle_t *) &sf->grace_timer, NULL);
        uv_close((uv_handle_t *) &sf->watchdog, NULL);
        uv_close((uv_handle_t *) &sf->sigterm, NULL);
        uv_close((uv_handle_t *) &sf->sigint, NULL);
}

static void on_http_response(struct http_request *req, int status)
{
        struct sfaasd *sf = http_server_data(req->server);
        metrics_http_response(&sf->metrics, req->method[0] ? req->method : "UNKNOWN", status);
}

static void on_grace_expired(uv_timer_t *t)
{
        struct sfaasd *sf = t->data;
        log_warning("shutdown grace period over: killing %zu running sandbox(es)",
                    sf->n_invocations + pools_busy(sf));
        invoke_kill_all(sf);
        pools_kill_all(sf);
}

static void on_signal(uv_signal_t *h, int signum)
{
        struct sfaasd *sf = h->data;
        if (sf->stopping) {
                log_notice("second signal: killing running sandboxes now");
                invoke_kill_all(sf);
                pools_kill_all(sf);
                return;
        }
        log_info("received %s: finishing %zu request(s), then exiting", strsignal(signum),
                 http_server_connections(sf->http));
        sf->stopping = true;
        (void) notify_send(&sf->notify, "STOPPING=1");
        /* Log followers would hold their connections open for ever. */
        logs_shutdown(&sf->logs);
        async_shutdown(sf);
        /* Warm instances get SIGTERM and their grace period. */
        pools_shutdown(sf);
        (void) uv_timer_start(&sf->grace_timer, on_grace_expired, sf->cfg.shutdown_grace_ms, 0);
        http_server_shutdown(sf->http, on_http_closed);
}

/* The watchdog pings from a loop timer: a loop that stops turning (a
 * callback that never returns, a timer re-armed for ever) stops the pings
 * and systemd restarts the service. */
static void on_watchdog(uv_timer_t *t)
{
        struct sfaasd *sf = t->data;
        (void) notify_send(&sf->notify, "WATCHDOG=1");
}

static int prepare_data_dir(struct sfaasd *sf, struct sf_err *err)
{
        char real[PATH_MAX];
        int r;

        r = mkdir_p(sf->cfg.data_dir, 0700);
        if (r < 0)
                return sf_err_errno(err, r, "cannot create data folder '%s'", sf->cfg.data_dir);
        if (!realpath(sf->cfg.data_dir, real))
                return sf_err_errno(err, -errno, "cannot resolve data folder '%s'", sf->cfg.data_dir);
        (void) xsnprintf(sf->cfg.data_dir, sizeof sf->cfg.data_dir, "%s", real);
        (void) chmod(real, 0700);
        if ((r = xsnprintf(sf->images_dir, sizeof sf->images_dir, "%s/images", real)) < 0 ||
            (r = xsnprintf(sf->tmp_dir, sizeof sf->tmp_dir, "%s/tmp", real)) < 0)
                return sf_err_set(err, r, "data folder path is too long");
        if (mkdir(sf->images_dir, 0700) < 0 && errno != EEXIST)
                return sf_err_errno(err, -errno, "cannot create '%s'", sf->images_dir);
        if (mkdir(sf->tmp_dir, 0700) < 0 && errno != EEXIST)
                return sf_err_errno(err, -errno, "cannot create '%s'", sf->tmp_dir);
        /* Half-written imports from a crash are garbage: nothing refers to them. */
        r = image_gc_partial(sf->images_dir);
        if (r < 0)
                log_warning_errno(r, "cannot clean partial imports in '%s'", sf->images_dir);
        /* Then the blobs they (or a delete before a crash) left behind. */
        {
                char blobs[PATH_MAX + 8];
                r = xsnprintf(blobs, sizeof blobs, "%s/blobs", real);
                if (r >= 0)
                        r = image_blobs_gc(sf->images_dir, blobs, NULL, NULL);
                if (r < 0)
                        log_warning_errno(r, "cannot collect unreferenced blobs in '%s/blobs'", real);
        }
        return 0;
}

static void close_walk(uv_handle_t *h, void *arg)
{
        if (!uv_is_closing(h))
                uv_close(h, NULL);
}

int sfaasd_run(struct sfaasd_config *cfg)
{
        _cleanup_free_ struct sfaasd *sf = calloc(1, sizeof *sf);
        struct sandbox_launcher_config lc = { 0 };
        struct sf_err err = { 0 };
        char dbpath[PATH_MAX + 16];
        bool created = false;
        struct sigaction sa = { .sa_handler = SIG_IGN };
        int r;

        if (!sf)
                return log_error_errno(-ENOMEM, "out of memory");
        sf->cfg = *cfg;
        sf->tmp_fd = -1;
        r = notify_init(&sf->notify);
        if (r < 0)
                log_warning_errno(r, "ignoring $NOTIFY_SOCKET");
        metrics_init(&sf->metrics);
        /* A closed client socket must be an error return, not a fatal signal. */
        (void) sigaction(SIGPIPE, &sa, NULL);

        r = prepare_data_dir(sf, &err);
        if (r < 0)
                return log_error("%s", err.msg), r;
        r = auth_ensure_credentials(sf->cfg.data_dir, &sf->password, &created, &err);
        if (r < 0)
                return log_error("%s", err.msg), r;
        r = secret_key_load(sf->cfg.data_dir, &sf->secret_key, &err);
        if (r < 0)
                return log_error("%s", err.msg), r;
        (void) xsnprintf(dbpath, sizeof dbpath, "%s/sfaasd.db", sf->cfg.data_dir);
        r = logs_init(&sf->logs, sf->cfg.data_dir, sf->cfg.log_bytes);
        if (r < 0)
                return log_error_errno(r, "cannot create '%s/logs'", sf->cfg.data_dir);
        r = store_open(dbpath, &sf->store, &err);
        if (r < 0) {
                log_error("%s", err.msg);
                goto out;
        }
        lc.no_cgroups = !sf->cfg.cgroups;
        /* Fresh network namespaces made ahead of time, off the spawn path. */
        lc.netns_pool = true;
        r = sandbox_launcher_new(&lc, &sf->launcher, &err);
        if (r < 0) {
                log_error("cannot start the sandbox launcher: %s", err.msg);
                goto out;
        }

        r = uv_loop_init(&sf->loop);
        if (r < 0) {
                log_error("cannot init event loop: %s", uv_strerror(r));
                goto out;
        }
        sf->loop.data = sf;
        r = pools_new(sf);
        if (r < 0) {
                log_error_errno(r, "cannot set up the instance pools");
                goto out_loop;
        }
        metrics_images_changed(sf);
        r = async_start(sf);
        if (r < 0)
                goto out_loop;
        r = http_server_new(&sf->loop, &sf->cfg.http, api_on_head, api_on_request, sf, &sf->http);
        if (r < 0)
                goto out_loop;
        http_server_on_response(sf->http, on_http_response);
        r = http_server_listen(sf->http, sf->cfg.listen);
        if (r < 0) {
                log_error("cannot listen on '%s': %s", sf->cfg.listen, r == -EINVAL ? "bad address" : uv_strerror(r));
                goto out_loop;
        }
        uv_signal_init(&sf->loop, &sf->sigterm);
        uv_signal_init(&sf->loop, &sf->sigint);
        uv_timer_init(&sf->loop, &sf->grace_timer);
        uv_timer_init(&sf->loop, &sf->watchdog);
        sf->sigterm.data = sf->sigint.data = sf->grace_timer.data = sf->watchdog.data = sf;
        (void) uv_signal_start(&sf->sigterm, on_signal, SIGTERM);
        (void) uv_signal_start(&sf->sigint, on_signal, SIGINT);
        pools_start(sf);

        {
                char host[128];
                const char *colon = strrchr(sf->cfg.listen, ':');
                (void) xsnprintf(host, sizeof host, "%.*s", (int) (colon - sf->cfg.listen), sf->cfg.listen);
                log_info("sfaasd %s listening on http://%s:%d/ (data '%s')", SFAASD_VERSION, host,
                         http_server_port(sf->http), sf->cfg.data_dir);
                log_info("%s user 'admin', password: cat %s/secrets/basic-auth-password",
                         created ? "created credentials:" : "credentials:", sf->cfg.data_dir);
                log_info("web UI: http://%s:%d/ui/", host, http_server_port(sf->http));
                /* Ready means accepting: the listener is up, the store open,
                 * the queue recovered. systemd starts what is ordered after
                 * sfaasd.service only now (Type=notify). */
                (void) notify_send(&sf->notify, "READY=1\nSTATUS=listening on %s:%d", host,
                                   http_server_port(sf->http));
        }
        if (sf->notify.watchdog_usec) {
                uint64_t ms = sf->notify.watchdog_usec / 2000;
                (void) notify_send(&sf->notify, "WATCHDOG=1");
                (void) uv_timer_start(&sf->watchdog, on_watchdog, ms ? ms : 1, ms ? ms : 1);
        }
        (void) fflush(stderr);

        r = uv_run(&sf->loop, UV_RUN_DEFAULT);
        r = 0;
        log_info("stopped");
out_loop:
        uv_walk(&sf->loop, close_walk, NULL);
        (void) uv_run(&sf->loop, UV_RUN_DEFAULT);
        (void) uv_loop_close(&sf->loop);
        http_server_free(sf->http);
        pools_free(sf);
out:
        sandbox_launcher_free(sf->launcher);
        store_close(sf->store);
        metrics_release(&sf->metrics);
        free(sf->password);
        secret_key_wipe(&sf->secret_key);
        notify_release(&sf->notify);
        return r;
}
