/* SPDX-License-Identifier: MIT */
/* Pull an image from a registry into the image store (core/runtime/pull.h). */
#include "core/runtime/pull.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/cleanup.h"
#include "core/base/util.h"
#include "core/http/registry.h"

#define DEFAULT_CONCURRENCY 3
#define MAX_CONCURRENCY 16
#define DEFAULT_ATTEMPTS 3
#define DEFAULT_TIMEOUT_MS 60000
#define DEFAULT_IDLE_MS 30000
#define DEFAULT_RETRY_MS 500
/* Rounds of planning: the top manifest, a nested index or two, then the
 * config and layers. */
#define PLAN_ROUNDS_MAX 8
#define PROGRESS_LINE_MAX 512
#define MIRRORS_MAX 16

/* The outbound policy of one pull, shared by its fetching threads: the
 * host's addresses are read once at its start (a pull takes seconds; the
 * async callbacks read them per callback for the same reason). */
struct pull_policy {
        const struct egress_policy *policy;
        struct egress_host host;
        pthread_mutex_t mu;
        char refused[160];           /* the first refusal, "10.1.2.3 is a private address" (under mu) */
};

struct pull {
        const struct pull_request *pr;
        struct pull_policy pol;
        struct registry_ref ref;
        char *name;
        char *user, *password;       /* the credentials of the session's host */
        struct registry_session s;
        struct image_pull *ip;
        uint64_t start_ns;
};

static void progress(const struct pull *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void progress(const struct pull *p, const char *fmt, ...)
{
        char line[PROGRESS_LINE_MAX];
        va_list ap;

        if (!p->pr->progress)
                return;
        va_start(ap, fmt);
        (void) vsnprintf(line, sizeof line, fmt, ap);
        va_end(ap);
        p->pr->progress(p->pr->progress_data, line);
}

static void free_secret_pair(char **user, char **password)
{
        free(*user);
        if (*password)
                explicit_bzero(*password, strlen(*password));
        free(*password);
        *user = *password = NULL;
}

static double mib(uint64_t n)
{
        return (double) n / (1024.0 * 1024.0);
}

static bool listed(const char *const *list, const char *hostport)
{
        for (; list && *list; list++)
                if (strcasecmp(*list, hostport) == 0)
                        return true;
        return false;
}

/* The outbound policy (core/http/egress.h), for the registry when the
 * operator did not list it, and always for token realms on other hosts
 * and blob redirects. Called by the client before each connect(), on the
 * address it is about to connect to, from any of the pull's threads. */
static bool addr_strict(const struct sockaddr *sa, socklen_t len, void *data)
{
        struct pull_policy *pp = data;
        const char *why;

        if (!pp->policy)
                return false; /* no policy given: refuse rather than guess */
        why = egress_refused(pp->policy, &pp->host, sa, len);
        if (why) {
                char ip[INET6_ADDRSTRLEN] = "?";

                if (sa->sa_family == AF_INET)
                        (void) inet_ntop(AF_INET, &((const struct sockaddr_in *) sa)->sin_addr, ip, sizeof ip);
                else if (sa->sa_family == AF_INET6)
                        (void) inet_ntop(AF_INET6, &((const struct sockaddr_in6 *) sa)->sin6_addr, ip, sizeof ip);
                (void) pthread_mutex_lock(&pp->mu);
                if (!pp->refused[0])
                        (void) xsnprintf(pp->refused, sizeof pp->refused, "%s is %s", ip, why);
                (void) pthread_mutex_unlock(&pp->mu);
        }
        return why == NULL;
}

/* ---- blobs -------------------------------------------------------------- */

struct blob_job {
        struct image_missing m;
        int r;
        struct sf_err err;
};

struct fetcher {
        struct pull *p;
        struct blob_job *jobs;
        size_t n, next, done;
        uint64_t done_bytes, total_bytes;
        pthread_mutex_t mu;
        bool failed;
};

static int sink_write(void *data, const void *buf, size_t n)
{
        return image_blob_sink_write(data, buf, n);
}

static bool retryable(int r)
{
        return r == -ETIMEDOUT || r == -ECONNRESET || r == -EAGAIN || r == -ECONNREFUSED || r == -EPIPE ||
               r == -EPROTO || r == -EHOSTUNREACH || r == -ENETUNREACH;
}

/* Wait ms, or less when the pull is cancelled: -ECANCELED. */
static int pause_ms(const struct pull_request *pr, long ms)
{
        struct pollfd pfd = { .fd = pr->cancel_fd, .events = POLLIN };

        if (pr->cancel_fd <= 0) {
                struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
                while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                        ;
                return 0;
        }
        return poll(&pfd, 1, (int) ms) > 0 ? -ECANCELED : 0;
}

static int fetch_blob(struct pull *p, struct blob_job *j)
{
        const struct pull_request *pr = p->pr;
        unsigned attempts = pr->attempts ? pr->attempts : DEFAULT_ATTEMPTS;
        long delay = pr->retry_delay_ms > 0 ? pr->retry_delay_ms : DEFAULT_RETRY_MS;
        struct image_blob_sink *sink = NULL;
        int r;

        r = image_blob_sink_begin(p->ip, j->m.digest, (uint64_t) j->m.size, &sink, &j->err);
        if (r < 0)
                return r;
        for (unsigned a = 1;; a++) {
                struct sf_err e = {};

                r = registry_get_blob(&p->s, j->m.digest, sink_write, sink, &e);
                if (r >= 0)
                        return image_blob_sink_end(sink, &j->err);
                if (r == -EFBIG) {
                        image_blob_sink_abort(sink);
                        return sf_err_set(&j->err, -EBADMSG,
                                          "blob %s: the registry sent more than the %lld bytes its manifest says",
                                          j->m.digest, (long long) j->m.size);
                }
                if (r == -E2BIG) {
                        image_blob_sink_abort(sink);
                        return sf_err_set(&j->err, -EFBIG, "image is larger than the limit of %llu bytes",
                                          (unsigned long long) pr->limits->max_archive_bytes);
                }
                if (!retryable(r) || a >= attempts) {
                        image_blob_sink_abort(sink);
                        if (retryable(r))
                                return sf_err_set(&j->err, r, "blob %s: %s (after %u attempts)", j->m.digest, e.msg,
                                                  attempts);
                        j->err = e;
                        return r;
                }
                progress(p, "pulling %s: blob %.19s: %s; attempt %u of %u", p->name, j->m.digest, e.msg, a + 1,
                         attempts);
                if (pause_ms(pr, delay) < 0) {
                        image_blob_sink_abort(sink);
                        return sf_err_set(&j->err, -ECANCELED, "the pull was cancelled");
                }
                delay *= 2;
                image_blob_sink_restart(sink);
        }
}

static void *fetcher_main(void *data)
{
        struct fetcher *f = data;

        for (;;) {
                struct blob_job *j;
                int r;

                (void) pthread_mutex_lock(&f->mu);
                if (f->failed || f->next >= f->n) {
                        (void) pthread_mutex_unlock(&f->mu);
                        return NULL;
                }
                j = &f->jobs[f->next++];
                (void) pthread_mutex_unlock(&f->mu);
                r = fetch_blob(f->p, j);
                j->r = r;
                (void) pthread_mutex_lock(&f->mu);
                if (r < 0)
                        f->failed = true;
                else {
                        f->done++;
                        f->done_bytes += (uint64_t) j->m.size;
                        progress(f->p, "pulling %s: %zu of %zu blobs, %.1f of %.1f MiB", f->p->name, f->done, f->n,
                                 mib(f->done_bytes), mib(f->total_bytes));
                }
                (void) pthread_mutex_unlock(&f->mu);
        }
}

/* Fetch the jobs, at most concurrency at once; the first failure stops
 * the others from starting new blobs and is the one reported. */
static int fetch_all(struct pull *p, struct blob_job *jobs, size_t n, uint64_t total, struct sf_err *err)
{
        unsigned want = p->pr->concurrency ? p->pr->concurrency : DEFAULT_CONCURRENCY;
        struct fetcher f = { .p = p, .jobs = jobs, .n = n, .total_bytes = total };
        pthread_t th[MAX_CONCURRENCY];
        size_t started = 0;

        f.mu = (pthread_mutex_t) PTHREAD_MUTEX_INITIALIZER;
        if (want > MAX_CONCURRENCY)
                want = MAX_CONCURRENCY;
        if (want > n)
                want = (unsigned) n;
        /* This thread fetches too; want - 1 more. */
        for (unsigned i = 1; i < want; i++)
                if (pthread_create(&th[started], NULL, fetcher_main, &f) == 0)
                        started++;
        (void) fetcher_main(&f);
        for (size_t i = 0; i < started; i++)
                (void) pthread_join(th[i], NULL);
        for (size_t i = 0; i < n; i++)
                if (jobs[i].r < 0) {
                        *err = jobs[i].err;
                        if (!err->msg[0])
                                (void) sf_err_errno(err, jobs[i].r, "blob %s", jobs[i].m.digest);
                        return jobs[i].r;
                }
        return 0;
}

/* ---- the pull ----------------------------------------------------------- */

/* One planning round's fetches: the manifests an index names first (the
 * next round plans past them), else the config and the layers. */
static int fetch_missing(struct pull *p, const struct image_missing *miss, size_t n, struct sf_err *err)
{
        _cleanup_free_ struct blob_job *jobs = NULL;
        size_t nj = 0, stored = 0;
        uint64_t total = 0;
        bool manifests = false;
        int r;

        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *body = NULL, *mt = NULL;
                size_t len = 0;

                if (!miss[i].manifest)
                        continue;
                manifests = true;
                r = registry_get_manifest(&p->s, miss[i].digest, &body, &len, &mt, NULL, err);
                if (r < 0)
                        return r;
                r = image_pull_add_manifest(p->ip, body, len, miss[i].digest, NULL, err);
                if (r < 0)
                        return r;
                progress(p, "pulling %s: manifest %s", p->name, miss[i].digest);
        }
        if (manifests)
                return 0;

        jobs = calloc(n, sizeof *jobs);
        if (!jobs)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                if (miss[i].size < 0)
                        return sf_err_set(err, -EBADMSG, "blob %s: negative size", miss[i].digest);
                if (!miss[i].config) {
                        r = image_pull_have_blob(p->ip, miss[i].digest, (uint64_t) miss[i].size);
                        if (r < 0)
                                return sf_err_errno(err, r, "cannot look into the blob store");
                        if (r > 0) {
                                stored++;
                                continue;
                        }
                }
                jobs[nj++].m = miss[i];
                total += (uint64_t) miss[i].size;
        }
        if (total > p->pr->limits->max_archive_bytes)
                return sf_err_set(err, -EFBIG, "image is larger than the limit of %llu bytes (%.1f MiB to fetch)",
                                  (unsigned long long) p->pr->limits->max_archive_bytes, mib(total));
        progress(p, "pulling %s: %zu blobs to fetch (%.1f MiB), %zu layers already stored", p->name, nj, mib(total),
                 stored);
        return nj ? fetch_all(p, jobs, nj, total, err) : 0;
}

/* From the top manifest (body, len, mt; said: the digest the registry gave
 * for it, or NULL) down to the unpacked image. */
static int pull_run(struct pull *p, const char *body, size_t len, const char *mt, const char *said,
                    struct image_import_result **ret, struct sf_err *err)
{
        char top[IMAGE_ID_SIZE];
        int r;

        if (strstr(mt, "distribution.manifest.v1") || strstr(mt, "prettyjws"))
                return sf_err_set(err, -EBADMSG, "%s: a Docker schema 1 manifest (%s), which is not supported; push "
                                  "the image again with a current client", p->name, mt);
        /* By digest, the content must hash to it; by tag, to the digest
         * the registry says it has, when it says one. */
        r = image_pull_add_manifest(p->ip, body, len, p->ref.digest ? p->ref.digest : said, top, err);
        if (r < 0)
                return r;
        progress(p, "pulling %s: %s %s", p->name, strstr(mt, "index") || strstr(mt, "list") ? "index" : "manifest",
                 top);
        for (unsigned round = 0;; round++) {
                struct image_missing *miss = NULL, *copy;
                size_t n = 0;

                if (round >= PLAN_ROUNDS_MAX)
                        return sf_err_set(err, -EBADMSG, "%s: indexes nested too deep", p->name);
                r = image_pull_missing(p->ip, top, mt, (uint64_t) len, p->name, &miss, &n, err);
                if (r < 0)
                        return r;
                if (n == 0)
                        break;
                /* The list lives in the plan, which the next round replaces. */
                copy = malloc(n * sizeof *copy);
                if (!copy)
                        return -ENOMEM;
                memcpy(copy, miss, n * sizeof *copy);
                r = fetch_missing(p, copy, n, err);
                free(copy);
                if (r < 0)
                        return r;
        }
        progress(p, "pulling %s: unpacking", p->name);
        return image_pull_finish(p->ip, ret, err);
}

/* A session with host (the reference's registry or a mirror of it): http
 * when the operator listed the host, its credentials (the namespace's
 * first, then the operator's), the outbound policy unless listed. */
static int session_open(struct pull *p, const char *host, struct sf_err *err)
{
        const struct pull_request *pr = p->pr;
        struct registry_ref ref = p->ref; /* shallow: only the host differs */
        struct registry_options o;
        int r = 0;

        free_secret_pair(&p->user, &p->password);
        if (pr->tenant_auths_json)
                r = registry_auths_lookup(pr->tenant_auths_json, host, &p->user, &p->password);
        if (r == 0 && pr->auths_json)
                r = registry_auths_lookup(pr->auths_json, host, &p->user, &p->password);
        if (r < 0)
                return sf_err_errno(err, r, "the registry credentials for %s are unreadable", host);
        o = (struct registry_options) {
                .insecure = listed(pr->insecure, host),
                .redirect_addr_ok = addr_strict,
                .addr_data = &p->pol,
                .trusted = pr->insecure,
                .user = p->user,
                .password = p->password,
                .cacert = pr->ca_file,
                .timeout_ms = pr->timeout_ms > 0 ? pr->timeout_ms : DEFAULT_TIMEOUT_MS,
                .idle_timeout_ms = pr->idle_timeout_ms > 0 ? pr->idle_timeout_ms : DEFAULT_IDLE_MS,
                .cancel_fd = pr->cancel_fd,
        };
        /* A registry the operator listed is reached wherever it is; any
         * other through the outbound policy. */
        o.addr_ok = o.insecure ? NULL : addr_strict;
        ref.registry = (char *) host;
        return registry_session_init(&p->s, &ref, &o, err);
}

int pull_image(const struct pull_request *pr, struct image_import_result **ret, char **ret_name, struct sf_err *err)
{
        _cleanup_free_ char *top_body = NULL, *top_mt = NULL, *top_said = NULL;
        struct pull p = { .pr = pr, .start_ns = now_ns() };
        size_t top_len = 0;
        int r;

        sf_err_clear(err);
        p.pol.policy = pr->egress;
        p.pol.mu = (pthread_mutex_t) PTHREAD_MUTEX_INITIALIZER;
        /* Unreadable: refuse rather than guess (as the callbacks do). */
        r = egress_host_read(&p.pol.host);
        if (r < 0)
                return sf_err_set(err, -EACCES, "cannot read this host's addresses: %s", strerror(-r));
        r = registry_ref_parse(pr->ref, &p.ref, err);
        if (r < 0)
                goto out;
        p.name = registry_ref_name(&p.ref);
        if (!p.name) {
                r = -ENOMEM;
                goto out;
        }
        if (pr->allowed && !listed(pr->allowed, p.ref.registry)) {
                r = sf_err_set(err, -EACCES,
                               "registry %s is not allowed for namespace '%s' (its annotation com.sfaasd.registries "
                               "lists the registries it may pull from)",
                               p.ref.registry, pr->namespace ? pr->namespace : "?");
                goto out;
        }
        r = image_pull_new(pr->images_dir, pr->blobs_dir, pr->limits, &p.ip, err);
        if (r < 0)
                goto out;
        /* The mirrors first, then the registry itself: the first that
         * answers the top manifest serves the whole pull. */
        {
                const char *hosts[MIRRORS_MAX + 1];
                size_t n = 0;
                bool opened = false;

                for (const char *const *m = pr->mirrors; m && m[0] && m[1]; m += 2)
                        if (strcasecmp(m[0], p.ref.registry) == 0 && n < MIRRORS_MAX)
                                hosts[n++] = m[1];
                for (size_t i = 0; i <= n; i++) {
                        const char *host = i < n ? hosts[i] : p.ref.registry;

                        if (opened)
                                registry_session_release(&p.s);
                        opened = false;
                        r = session_open(&p, host, err);
                        if (r < 0)
                                goto out;
                        opened = true;
                        progress(&p, "pulling %s from %s", p.name, p.s.base);
                        free(top_body);
                        free(top_mt);
                        free(top_said);
                        top_body = top_mt = top_said = NULL;
                        r = registry_get_manifest(&p.s, p.ref.digest ? p.ref.digest : p.ref.tag, &top_body, &top_len,
                                                  &top_mt, &top_said, err);
                        if (r >= 0 || i == n || r == -ENOMEM)
                                break;
                        progress(&p, "pulling %s: mirror %s: %s; trying the next", p.name, host, err->msg);
                        sf_err_clear(err);
                }
                if (r < 0)
                        goto out;
        }
        r = pull_run(&p, top_body, top_len, top_mt, top_said, ret, err);
        if (r >= 0) {
                progress(&p, "pulled %s: image %s, %.1f MiB fetched in %.1f s%s", p.name, (*ret)->id,
                         mib(image_pull_fetched_bytes(p.ip)), (double) (now_ns() - p.start_ns) / 1e9,
                         (*ret)->existed ? " (already unpacked)" : "");
                *ret_name = TAKE_PTR(p.name);
        }
out:
        if (r == -EACCES && p.pol.refused[0]) {
                /* Say which address and why, and what opens it. */
                char msg[sizeof err->msg];

                (void) xsnprintf(msg, sizeof msg,
                                 "%s (%s: the config's egress_allow opens addresses, registry_allow_loopback "
                                 "loopback, insecure_registries a registry the operator trusts)",
                                 err->msg, p.pol.refused);
                (void) sf_err_set(err, r, "%s", msg);
        }
        if (r < 0 && !err->msg[0])
                (void) sf_err_errno(err, r, "pull of %s failed", pr->ref);
        egress_host_release(&p.pol.host);
        image_pull_free(p.ip);
        registry_session_release(&p.s);
        registry_ref_release(&p.ref);
        free(p.name);
        free_secret_pair(&p.user, &p.password);
        return r;
}
