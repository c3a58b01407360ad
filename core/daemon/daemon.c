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
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/api/api.h"
#include "core/api/auth.h"
#include "core/api/throttle.h"
#include "core/base/cleanup.h"
#include "core/base/log.h"
#include "core/base/notify.h"
#include "core/base/util.h"
#include "core/daemon/daemon.h"
#include "core/daemon/datadir.h"
#include "core/daemon/uidrange.h"
#include "core/daemon/keys.h"
#include "core/http/tls.h"
#include "core/runtime/admit.h"
#include "core/runtime/async.h"
#include "core/runtime/history.h"
#include "core/runtime/invoke.h"
#include "core/runtime/logs.h"
#include "core/runtime/metrics.h"
#include "core/runtime/pool.h"
#include "core/runtime/stock.h"
#include "core/runtime/tenants.h"
#include "core/sfaasd.h"

static void on_http_closed(struct http_server *s)
{
        struct sfaasd *sf = http_server_data(s);
        sf->http_closed = true;
}

/*
 * Draining: from the first SIGTERM on, a prepare handle reads the engines'
 * counters at the start of every loop turn, before the loop would block, and
 * finishes once nothing is in flight. Work ends in ordinary callbacks and in
 * close callbacks (the last handle of an instance or an invocation); either
 * way the next turn sees it, so no engine has to call back into the daemon.
 */
static void on_drain(uv_prepare_t *h)
{
        struct sfaasd *sf = h->data;

        if (!sf->http_closed || sf->n_invocations > 0 || sf->n_imports > 0 || async_busy(sf) > 0 ||
            pools_busy(sf) > 0 || stock_busy(sf) > 0 || sf->finished)
                return;
        sf->finished = true;
        (void) uv_prepare_stop(&sf->drain);
        uv_close((uv_handle_t *) &sf->drain, NULL);
        pools_close(sf);
        stock_close(sf);
        admit_close(sf);
        history_sampler_close(sf);
        /* Queued calls and pending callbacks stay in the store for the next start. */
        async_close(sf);
        /* Everything acknowledged is committed; close what is left. */
        (void) uv_timer_stop(&sf->grace_timer);
        uv_close((uv_handle_t *) &sf->grace_timer, NULL);
        uv_close((uv_handle_t *) &sf->watchdog, NULL);
        uv_close((uv_handle_t *) &sf->sigterm, NULL);
        uv_close((uv_handle_t *) &sf->sigint, NULL);
        uv_close((uv_handle_t *) &sf->sighup, NULL);
}

static void on_http_response(struct http_request *req, int status)
{
        struct sfaasd *sf = http_server_data(req->server);
        metrics_http_response(sf->metrics, req->method[0] ? req->method : "UNKNOWN", status);
        api_on_response(req, status);
}

/* Every sandbox slot is taken and a call waits (admit.h): a parked exec
 * sandbox goes first, else a warm instance idle above its floor. */
static void reclaim_slot(struct sfaasd *sf)
{
        if (!stock_reclaim(sf))
                pools_reclaim_idle(sf);
}

static void on_grace_expired(uv_timer_t *t)
{
        struct sfaasd *sf = t->data;
        log_warning("shutdown grace period over: killing %zu running sandbox(es)",
                    sf->n_invocations + pools_busy(sf));
        sf->grace_over = true;
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
        (void) uv_prepare_start(&sf->drain, on_drain);
        /* Log followers would hold their connections open for ever. */
        logs_shutdown(sf->logs);
        async_shutdown(sf);
        if (sf->pull_cancel_fd >= 0)
                (void) eventfd_write(sf->pull_cancel_fd, 1);
        /* Parked exec sandboxes go now; warm instances get SIGTERM and
         * their grace period. */
        stock_shutdown(sf);
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

/* SIGHUP: the TLS pair is read again (a renewed certificate); connections
 * keep the pair they started with, none is dropped (core/http/tls.h). */
static void on_sighup(uv_signal_t *h, int signum)
{
        struct sfaasd *sf = h->data;
        struct sf_err err = { 0 };
        char fp[HTTP_TLS_FINGERPRINT_MAX], until[32] = "?";

        (void) signum;
        if (!sf->tls) {
                log_info("SIGHUP: no TLS pair to reload");
                return;
        }
        if (http_tls_reload(sf->tls, &err) < 0) {
                log_error("SIGHUP: %s; keeping the pair in use", err.msg);
                return;
        }
        (void) http_tls_not_after(sf->tls, until, sizeof until);
        if (http_tls_fingerprint(sf->tls, fp) >= 0)
                log_notice("TLS: reloaded '%s', SHA-256 fingerprint %s, valid until %s", sf->cfg.tls_cert, fp, until);
}

/* The TLS pair, made first when asked (tls_self_signed) and missing. */
static int tls_setup(struct sfaasd *sf, struct sf_err *err)
{
        struct sfaasd_config *c = &sf->cfg;
        int r;

        if (!c->tls_cert[0] && !c->tls_key[0]) {
                if (c->tls_listen[0])
                        return sf_err_set(err, -EINVAL, "tls_listen '%s' needs tls_cert and tls_key", c->tls_listen);
                return 0;
        }
        if (!c->tls_cert[0] || !c->tls_key[0])
                return sf_err_set(err, -EINVAL, "TLS needs both tls_cert and tls_key (--tls-cert, --tls-key)");
        if (!c->tls_listen[0])
                (void) xsnprintf(c->tls_listen, sizeof c->tls_listen, "0.0.0.0:8443");
        if (c->tls_self_signed) {
                char host[256] = "localhost";
                (void) gethostname(host, sizeof host - 1);
                r = http_tls_generate(c->tls_cert, c->tls_key, host, err);
                if (r < 0)
                        return r;
                if (r > 0)
                        log_notice("TLS: made a self-signed certificate for '%s' at '%s' (key '%s'); clients pin "
                                   "its fingerprint (below) or trust it with --cacert",
                                   host, c->tls_cert, c->tls_key);
        }
        return http_tls_new(c->tls_cert, c->tls_key, &sf->tls, err);
}

/* "127.0.0.1:8080", "[::1]:80", "localhost:8080": only this host reaches it. */
static bool listen_is_loopback(const char *addr)
{
        return strncmp(addr, "127.", 4) == 0 || strncmp(addr, "[::1]:", 6) == 0 ||
               strncmp(addr, "localhost:", 10) == 0;
}

/* One line per listener; the plain one first (tests read its port). */
static void log_listeners(struct sfaasd *sf, bool created)
{
        char host[128];
        size_t i = 0;
        const char *colon;

        if (sf->cfg.listen[0]) {
                colon = strrchr(sf->cfg.listen, ':');
                (void) xsnprintf(host, sizeof host, "%.*s", (int) (colon - sf->cfg.listen), sf->cfg.listen);
                log_info("sfaasd %s listening on http://%s:%d/ (data '%s')", SFAASD_VERSION, host,
                         http_server_port_of(sf->http, i++), sf->cfg.data_dir);
                if (!listen_is_loopback(sf->cfg.listen))
                        log_warning("plain HTTP on '%s', not only loopback: passwords and tokens cross the network "
                                    "readable%s",
                                    sf->cfg.listen, sf->tls ? " (HTTPS is on too: set \"listen\" to 127.0.0.1)"
                                                            : "; set tls_cert and tls_key (README, \"Running it "
                                                              "on a network\")");
        }
        if (sf->tls) {
                char fp[HTTP_TLS_FINGERPRINT_MAX] = "?", until[32] = "?";
                (void) http_tls_fingerprint(sf->tls, fp);
                (void) http_tls_not_after(sf->tls, until, sizeof until);
                colon = strrchr(sf->cfg.tls_listen, ':');
                (void) xsnprintf(host, sizeof host, "%.*s", (int) (colon - sf->cfg.tls_listen), sf->cfg.tls_listen);
                log_info("sfaasd %s listening on https://%s:%d/ (data '%s')", SFAASD_VERSION, host,
                         http_server_port_of(sf->http, i), sf->cfg.data_dir);
                log_info("TLS: certificate '%s', SHA-256 fingerprint %s, valid until %s", sf->cfg.tls_cert, fp, until);
        }
        log_info("%s user 'admin', password: cat %s/secrets/basic-auth-password",
                 created ? "created credentials:" : "credentials:", sf->cfg.data_dir);
        if (sf->cfg.listen[0]) {
                colon = strrchr(sf->cfg.listen, ':');
                (void) xsnprintf(host, sizeof host, "%.*s", (int) (colon - sf->cfg.listen), sf->cfg.listen);
                log_info("web UI: http://%s:%d/ui/", host, http_server_port_of(sf->http, 0));
        } else {
                colon = strrchr(sf->cfg.tls_listen, ':');
                (void) xsnprintf(host, sizeof host, "%.*s", (int) (colon - sf->cfg.tls_listen), sf->cfg.tls_listen);
                log_info("web UI: https://%s:%d/ui/", host, http_server_port_of(sf->http, 0));
        }
}

/* READY=1 with a STATUS naming the listeners' addresses and real ports
 * ("listening on 127.0.0.1:8080, 0.0.0.0:8443 (HTTPS)"), as `systemctl
 * status` shows it. */
static void notify_ready(struct sfaasd *sf)
{
        char plain[160] = "", tls[160] = "";
        const char *colon;
        size_t i = 0;

        if (sf->cfg.listen[0]) {
                colon = strrchr(sf->cfg.listen, ':');
                (void) xsnprintf(plain, sizeof plain, "%.*s:%d", (int) (colon - sf->cfg.listen), sf->cfg.listen,
                                 http_server_port_of(sf->http, i++));
        }
        if (sf->tls) {
                colon = strrchr(sf->cfg.tls_listen, ':');
                (void) xsnprintf(tls, sizeof tls, "%.*s:%d (HTTPS)", (int) (colon - sf->cfg.tls_listen),
                                 sf->cfg.tls_listen, http_server_port_of(sf->http, i));
        }
        (void) notify_send(&sf->notify, "READY=1\nSTATUS=listening on %s%s%s", plain, plain[0] && tls[0] ? ", " : "",
                           tls);
}

/* The data folder, locked for us (core/daemon/datadir.h), with what a killed
 * daemon left in it removed into *ret_res. */
static int prepare_data_dir(struct sfaasd *sf, struct datadir_residue *ret_res, struct sf_err *err)
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
        /* Before anything else touches the folder: a second daemon on it
         * would take the first one's imports in progress for garbage. */
        r = datadir_open(real, sf->datadir, err);
        if (r < 0)
                return r;
        if ((r = xsnprintf(sf->images_dir, sizeof sf->images_dir, "%s/images", real)) < 0 ||
            (r = xsnprintf(sf->tmp_dir, sizeof sf->tmp_dir, "%s/tmp", real)) < 0)
                return sf_err_set(err, r, "data folder path is too long");
        if (mkdir(sf->images_dir, 0700) < 0 && errno != EEXIST)
                return sf_err_errno(err, -errno, "cannot create '%s'", sf->images_dir);
        if (mkdir(sf->tmp_dir, 0700) < 0 && errno != EEXIST)
                return sf_err_errno(err, -errno, "cannot create '%s'", sf->tmp_dir);
        datadir_clean(real, ret_res);
        return 0;
}

/* One line with what the start removed of a killed predecessor's (or a
 * killed `sfaasd run`'s) leftovers, when there was any. */
static void log_cleanup(const struct sandbox_sweep *sw, const struct datadir_residue *res)
{
        if (sw->lock_error)
                log_warning_errno(sw->lock_error,
                                  "no lock file in '%s' for the cgroup subtree: if this daemon is "
                                  "killed, only the next daemon on this data folder removes its cgroups",
                                  SANDBOX_LOCK_DIR);
        if (!sw->subtrees && !sw->busy && !sw->lock_files && !res->imports && !res->blobs && !res->tmp_files)
                return;
        log_notice("cleaned up after a killed run: %u cgroup subtree(s) (%u directories, %u process(es) "
                   "killed, %u lock file(s))%s, %u partial import(s), %u blob(s), %u temporary file(s)",
                   sw->subtrees, sw->dirs, sw->procs, sw->lock_files,
                   sw->busy ? ", some still busy and left for the next start" : "", res->imports, res->blobs,
                   res->tmp_files);
}

static void close_walk(uv_handle_t *h, void *arg)
{
        if (!uv_is_closing(h))
                uv_close(h, NULL);
}

/* The context and the engines it points to, in one allocation. */
struct sfaasd_owned {
        struct sfaasd sf;
        struct datadir datadir;
        struct metrics metrics;
        struct history history;
        struct logs logs;
        struct async async;
        struct admit admit;
};

/* Each warm instance holds six fds in the daemon (its pidfd, its init's
 * status pipe, stdout and stderr, its network namespace, a kept-alive
 * upstream connection) and each client connection one: a soft
 * RLIMIT_NOFILE of 1024, a login's or a unit's default, runs out at about
 * 150 instances (bench/density). The soft limit goes up to the hard one
 * (libuv uses epoll, no FD_SETSIZE; every sandbox sets its own,
 * function_nofile); a hard limit below what the caps may need is said. */
static void raise_nofile(const struct sfaasd *sf)
{
        uint64_t need = (uint64_t) sf->admit->max * 6 + sf->cfg.http.max_connections + 256;
        struct rlimit rl;

        if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
                return;
        if (rl.rlim_cur < rl.rlim_max) {
                struct rlimit up = { .rlim_cur = rl.rlim_max, .rlim_max = rl.rlim_max };
                if (setrlimit(RLIMIT_NOFILE, &up) == 0)
                        rl.rlim_cur = rl.rlim_max;
        }
        if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need)
                log_warning("open files: at most %llu (RLIMIT_NOFILE), fewer than %zu sandboxes and %llu client "
                            "connections may need (about %llu): raise the hard limit (LimitNOFILE= in a unit)",
                            (unsigned long long) rl.rlim_cur, sf->admit->max,
                            (unsigned long long) sf->cfg.http.max_connections, (unsigned long long) need);
}

/* Logs a failed start step's message (its errno when it left none) and
 * returns r. */
static int start_failed(int r, const char *what, const struct sf_err *err)
{
        log_error("%s%s", what, err->msg[0] ? err->msg : strerror(-r));
        return r;
}

/* The context's pointers into its one allocation, and what must be set
 * before anything can fail (every release below is safe on it). */
static void context_init(struct sfaasd_owned *owned, const struct sfaasd_config *cfg)
{
        struct sfaasd *sf = &owned->sf;
        struct sigaction sa = { .sa_handler = SIG_IGN };
        int r;

        sf->cfg = *cfg;
        sf->datadir = &owned->datadir;
        sf->metrics = &owned->metrics;
        sf->history = &owned->history;
        sf->logs = &owned->logs;
        sf->async = &owned->async;
        sf->admit = &owned->admit;
        sf->tmp_fd = -1;
        /* Pulls wait on registries: the shutdown ends them at their next wait. */
        sf->pull_cancel_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        r = notify_init(&sf->notify);
        if (r < 0)
                log_warning_errno(r, "ignoring $NOTIFY_SOCKET");
        list_init(&sf->invocations);
        list_init(&sf->pulls);
        sf->uid_claim_fd = -1;
        sf->datadir->lock_fd = -1;
        metrics_init(sf->metrics);
        history_init(sf->history);
        sf->metrics->history = sf->history;
        /* A closed client socket must be an error return, not a fatal signal. */
        (void) sigaction(SIGPIPE, &sa, NULL);
}

/* What the daemon keeps on disk and in memory before it runs anything: the
 * locked data folder (its leftovers into *residue), the admin credentials
 * (*created when made now), the TLS pair, logs, the store and its key.
 * Logs its own failure. */
static int open_state(struct sfaasd *sf, struct datadir_residue *residue, bool *created)
{
        struct sf_err err = { 0 };
        char dbpath[PATH_MAX + 16];
        int r;

        r = prepare_data_dir(sf, residue, &err);
        if (r < 0)
                return start_failed(r, "", &err);
        r = auth_ensure_credentials(sf->cfg.data_dir, &sf->password, created, &err);
        if (r < 0)
                return start_failed(r, "", &err);
        r = auth_new(&sf->auth);
        if (r >= 0)
                r = tenants_new(&sf->tenants);
        if (r < 0)
                return log_error_errno(r, "out of memory");
        r = tls_setup(sf, &err);
        if (r < 0)
                return start_failed(r, "", &err);
        (void) xsnprintf(dbpath, sizeof dbpath, "%s/sfaasd.db", sf->cfg.data_dir);
        r = logs_init(sf->logs, sf->cfg.data_dir, sf->cfg.log_bytes);
        if (r < 0)
                return log_error_errno(r, "cannot create '%s/logs'", sf->cfg.data_dir);
        r = throttle_new(sf->cfg.auth_throttle_after, sf->cfg.auth_throttle_max_ms, &sf->throttle);
        if (r < 0)
                return log_error_errno(r, "out of memory");
        r = store_open(dbpath, &sf->store, &err);
        if (r < 0)
                return start_failed(r, "", &err);
        /* After the store: the key must open what it holds (keys.h). */
        r = keys_open(&sf->cfg, sf->store, &sf->secret_key, &err);
        if (r < 0)
                return start_failed(r, "", &err);
        return 0;
}

/* The sandbox launcher with the subtree's budget (*sb_memory, *sb_pids),
 * the tenants' uid ranges and cgroup levels, and the sweep of what a killed
 * predecessor left. Logs its own failure. */
static int start_launcher(struct sfaasd *sf, const struct datadir_residue *residue, uint64_t *sb_memory,
                          uint64_t *sb_pids)
{
        struct sandbox_launcher_config lc = { 0 };
        struct sandbox_sweep swept = { 0 };
        struct sf_err err = { 0 };
        char where[4096];
        int r;

        lc.no_cgroups = !sf->cfg.cgroups;
        /* Our cgroup subtree carries the data folder's identity, whose
         * lock we hold: the subtrees of every earlier daemon on this
         * folder are then provably dead ones (sandbox/sandbox.h). */
        lc.owner_id = sf->datadir->id;
        /* Fresh network namespaces made ahead of time, off the spawn path. */
        lc.netns_pool = true;
        /* What all sandboxes together may take of the host (admit.h): the
         * kernel holds the subtree to it, the cap on their number follows. */
        admit_host_budget(&sf->cfg, sb_memory, sb_pids);
        lc.subtree_memory_bytes = *sb_memory;
        lc.subtree_pids = *sb_pids;
        r = sandbox_launcher_new(&lc, &sf->launcher, &err);
        if (r < 0)
                return start_failed(r, "cannot start the sandbox launcher: ", &err);
        /* The tenants' uid ranges: no overlap with the host's users, its
         * subordinate ids or another sfaasd's tenants. */
        r = uidrange_setup(sf, &err);
        if (r < 0)
                return start_failed(r, "refusing to start: ", &err);
        /* Every tenant's cgroup level with its quotas' limits. */
        tenants_apply_all(sf);
        sandbox_launcher_sweep(sf->launcher, &swept);
        log_cleanup(&swept, residue);
        if (sandbox_launcher_describe_cgroups(sf->launcher, where, sizeof where) >= 0)
                log_info("cgroups: %s", where);
        return 0;
}

/* Admission, the pools and the async queue, on the loop. */
static int start_engines(struct sfaasd *sf, uint64_t sb_memory, uint64_t sb_pids)
{
        int r;

        r = admit_init(sf, sb_memory, sb_pids);
        if (r < 0)
                return log_error_errno(r, "cannot set up admission");
        sf->admit->reclaim = reclaim_slot;
        sf->admit->reclaim_tenant = stock_reclaim_tenant;
        log_info("sandboxes: at most %zu at once%s; all together at most %llu MiB of memory and %llu "
                 "pids%s; exec calls of one function: %llu at once, %llu waiting",
                 sf->admit->max, sf->cfg.max_sandboxes ? "" : " (from the host)",
                 (unsigned long long) (sb_memory >> 20), (unsigned long long) sb_pids,
                 sf->cfg.cgroups ? "" : " (not enforced: cgroups are off)",
                 (unsigned long long) sf->cfg.exec_max_inflight, (unsigned long long) sf->cfg.exec_queue_max);
        raise_nofile(sf);
        r = pools_new(sf);
        if (r < 0)
                return log_error_errno(r, "cannot set up the instance pools");
        r = stock_new(sf);
        if (r < 0)
                return log_error_errno(r, "cannot set up the exec stock");
        metrics_images_changed(sf);
        return async_start(sf);
}

/* The HTTP server on the plain and the TLS listeners. */
static int start_listeners(struct sfaasd *sf)
{
        int r;

        r = http_server_new(&sf->loop, &sf->cfg.http, api_on_head, api_on_request, sf, &sf->http);
        if (r < 0)
                return r;
        http_server_on_response(sf->http, on_http_response);
        http_server_on_request_free(sf->http, api_on_request_free);
        if (!sf->cfg.listen[0] && !sf->tls) {
                log_error("nothing to listen on: \"listen\" is empty and there is no TLS pair");
                return -EINVAL;
        }
        if (sf->cfg.listen[0]) {
                r = http_server_listen(sf->http, sf->cfg.listen);
                if (r < 0) {
                        log_error("cannot listen on '%s': %s", sf->cfg.listen,
                                  r == -EINVAL ? "bad address" : uv_strerror(r));
                        return r;
                }
        }
        if (sf->tls) {
                r = http_server_set_tls(sf->http, sf->tls);
                if (r >= 0)
                        r = http_server_listen_tls(sf->http, sf->cfg.tls_listen);
                if (r < 0) {
                        log_error("cannot listen on '%s': %s", sf->cfg.tls_listen,
                                  r == -EINVAL ? "bad address" : uv_strerror(r));
                        return r;
                }
        }
        return 0;
}

/* Signals, the pools' and charts' timers, then ready: listeners up, store
 * open, queue recovered. systemd starts what is ordered after
 * sfaasd.service only now (Type=notify). */
static void start_serving(struct sfaasd *sf, bool created)
{
        uv_signal_init(&sf->loop, &sf->sigterm);
        uv_signal_init(&sf->loop, &sf->sigint);
        uv_signal_init(&sf->loop, &sf->sighup);
        uv_timer_init(&sf->loop, &sf->grace_timer);
        uv_timer_init(&sf->loop, &sf->watchdog);
        uv_prepare_init(&sf->loop, &sf->drain);
        sf->sigterm.data = sf->sigint.data = sf->sighup.data = sf->grace_timer.data = sf->drain.data = sf;
        sf->watchdog.data = sf;
        (void) uv_signal_start(&sf->sigterm, on_signal, SIGTERM);
        (void) uv_signal_start(&sf->sigint, on_signal, SIGINT);
        (void) uv_signal_start(&sf->sighup, on_sighup, SIGHUP);
        pools_start(sf);
        history_sampler_start(sf);

        log_listeners(sf, created);
        notify_ready(sf);
        if (sf->notify.watchdog_usec) {
                uint64_t ms = sf->notify.watchdog_usec / 2000;
                (void) notify_send(&sf->notify, "WATCHDOG=1");
                (void) uv_timer_start(&sf->watchdog, on_watchdog, ms ? ms : 1, ms ? ms : 1);
        }
        (void) fflush(stderr);
}

/* Everything outside the loop, in reverse order; safe on a context whose
 * start failed at any step. */
static void release_all(struct sfaasd *sf)
{
        sandbox_launcher_free(sf->launcher);
        store_close(sf->store);
        metrics_release(sf->metrics);
        history_release(sf->history);
        free(sf->password);
        uidrange_release(sf);
        auth_free(sf->auth);
        tenants_free(sf->tenants);
        http_tls_free(sf->tls); /* when the start failed before the loop */
        throttle_free(sf->throttle);
        secret_key_wipe(&sf->secret_key);
        if (sf->pull_cancel_fd >= 0)
                (void) close(sf->pull_cancel_fd);
        notify_release(&sf->notify);
        /* Last: the lock outlives our cgroup subtree (removed above). */
        datadir_close(sf->datadir);
}

int sfaasd_run(struct sfaasd_config *cfg)
{
        _cleanup_free_ struct sfaasd_owned *owned = calloc(1, sizeof *owned);
        struct sfaasd *sf = owned ? &owned->sf : NULL;
        struct datadir_residue residue = { 0 };
        bool created = false;
        uint64_t sb_memory, sb_pids;
        int r;

        if (!sf)
                return log_error_errno(-ENOMEM, "out of memory");
        context_init(owned, cfg);
        r = open_state(sf, &residue, &created);
        if (r >= 0)
                r = start_launcher(sf, &residue, &sb_memory, &sb_pids);
        if (r < 0)
                goto out;
        r = uv_loop_init(&sf->loop);
        if (r < 0) {
                log_error("cannot init event loop: %s", uv_strerror(r));
                goto out;
        }
        sf->loop.data = sf;
        r = start_engines(sf, sb_memory, sb_pids);
        if (r >= 0)
                r = start_listeners(sf);
        if (r < 0)
                goto out_loop;
        start_serving(sf, created);

        r = uv_run(&sf->loop, UV_RUN_DEFAULT);
        r = 0;
        log_info("stopped");
out_loop:
        admit_close(sf); /* no wake may be armed while the pools are freed */
        uv_walk(&sf->loop, close_walk, NULL);
        (void) uv_run(&sf->loop, UV_RUN_DEFAULT);
        (void) uv_loop_close(&sf->loop);
        http_server_free(sf->http);
        pools_free(sf);
        /* Joins its thread: every sandbox made there is gone by now (the
         * drain waited for every call), as its parent-death signal wants. */
        stock_free(sf);
        http_tls_free(sf->tls);
        sf->tls = NULL;
        admit_release_all(sf);
out:
        release_all(sf);
        return r;
}
