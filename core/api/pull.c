/* SPDX-License-Identifier: MIT */
/*
 * Registry pulls from the API (core/runtime/pull.h does the pulling):
 *   POST /system/images/pull {"image": "REF"}[?namespace=]
 *                         pull REF, tag it in the namespace (as written and
 *                         as registry/repository:tag), answer as an import
 *   GET /system/images/pulls[?namespace=]
 *                         the namespace's pulls under way: image, function,
 *                         the last progress line, seconds so far
 *   a deploy of a registry reference the namespace lacks (functions.c)
 *                         pulls first, through api_pull_start(); while it
 *                         runs, the function's status (when it exists: an
 *                         update) has "sfaasd": {"pull": {...}}.
 *
 * A pull runs on the thread pool, like an import (it counts in n_imports,
 * so a shutdown waits for it and a prune leaves its folder alone). Its
 * progress lines cross to the loop through a uv_async_t: they go to the
 * daemon's log and, for a deploy, to the function's logs (GET /system/logs),
 * as they happen. Credentials: the namespace's own (core/api/registry_auth.c,
 * unsealed here on the loop), then the operator's Docker config.json named
 * by registry_auth_file (read on the worker). The admin may limit the
 * registries a namespace pulls from with its annotation
 * "com.sfaasd.registries": "host[:port],...".
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/api/api.h"
#include "core/base/buf.h"
#include "core/base/cleanup.h"
#include "core/base/log.h"
#include "core/base/util.h"
#include "core/http/egress.h"
#include "core/runtime/logs.h"
#include "core/runtime/pull.h"

#define AUTH_FILE_MAX (1u << 20)
#define PULL_MSG_MAX 600

struct pull_job {
        struct list_node node;        /* in sf->pulls while it runs */
        uv_work_t work;
        uv_async_t wake;              /* progress lines to the loop */
        uv_mutex_t mu;
        struct buf lines;             /* under mu: '\n'-separated lines not yet logged */
        struct sfaasd *sf;
        char ns[ROUTE_NAME_MAX];
        char fn[ROUTE_NAME_MAX];      /* "" none */
        char *ref;
        char *tenant_auths;           /* the namespace's credentials (cleartext, wiped at the end) */
        size_t tenant_auths_len;
        char **allowed;               /* com.sfaasd.registries of the namespace, or NULL */
        api_pull_done_fn done;
        void *data;
        char last[PULL_MSG_MAX];      /* the last progress line (loop side), for the status */
        uint64_t started_ns;
        /* the worker's outcome */
        struct image_import_result *result;
        char *name;
        struct sf_err err;
        int r;
};

static void on_progress(void *data, const char *line)
{
        struct pull_job *j = data;

        uv_mutex_lock(&j->mu);
        (void) buf_appends(&j->lines, line);
        (void) buf_append(&j->lines, "\n", 1);
        uv_mutex_unlock(&j->mu);
        (void) uv_async_send(&j->wake);
}

/* Loop: log what the worker said so far. */
static void flush_lines(struct pull_job *j)
{
        struct buf b;
        char *p, *nl;

        uv_mutex_lock(&j->mu);
        b = j->lines;
        j->lines = (struct buf) {};
        uv_mutex_unlock(&j->mu);
        for (p = b.p; p && p < b.p + b.len; p = nl + 1) {
                nl = memchr(p, '\n', (size_t) (b.p + b.len - p));
                if (!nl)
                        break;
                *nl = '\0';
                (void) xsnprintf(j->last, sizeof j->last, "%s", p);
                log_info("%s", p);
                if (j->fn[0])
                        logs_daemon(j->sf->logs, j->ns, j->fn, "%s", p);
        }
        free(b.p);
}

static void on_wake(uv_async_t *h)
{
        flush_lines(h->data);
}

static void job_free(uv_handle_t *h)
{
        struct pull_job *j = h->data;

        uv_mutex_destroy(&j->mu);
        free(j->lines.p);
        if (j->tenant_auths)
                explicit_bzero(j->tenant_auths, j->tenant_auths_len);
        free(j->tenant_auths);
        strv_free(j->allowed);
        free(j->ref);
        free(j->name);
        free(j);
}

/* Thread pool. */
static void pull_work(uv_work_t *w)
{
        struct pull_job *j = w->data;
        const struct sfaasd_config *cfg = &j->sf->cfg;
        _cleanup_free_ char *auths = NULL;
        const char *insecure[SFAASD_REGISTRIES_MAX + 1] = { NULL };
        const char *mirrors[2 * SFAASD_REGISTRIES_MAX + 1] = { NULL };
        struct egress_policy egress = {};
        char blobs[PATH_MAX];
        size_t len = 0;
        int r;

        for (size_t i = 0; i < cfg->n_insecure_registries; i++)
                insecure[i] = cfg->insecure_registries[i];
        for (size_t i = 0; i < cfg->n_registry_mirrors; i++) {
                mirrors[2 * i] = cfg->registry_mirrors[i][0];
                mirrors[2 * i + 1] = cfg->registry_mirrors[i][1];
        }
        if (xsnprintf(blobs, sizeof blobs, "%s/blobs", cfg->data_dir) < 0) {
                j->r = sf_err_set(&j->err, -ENAMETOOLONG, "data folder path is too long");
                return;
        }
        /* What the daemon may reach for a tenant (core/http/egress.h): the
         * operator's egress_allow, loopback only with registry_allow_loopback.
         * A registry in insecure_registries is the operator's own choice and
         * is reached wherever it is (core/runtime/pull.c). */
        r = egress_policy_parse(cfg->egress_allow, cfg->registry_allow_loopback, &egress, &j->err);
        if (r < 0) {
                j->r = r;
                return;
        }
        if (cfg->registry_auth_file[0]) {
                r = read_file_at(AT_FDCWD, cfg->registry_auth_file, AUTH_FILE_MAX, &auths, &len);
                if (r < 0) {
                        egress_policy_release(&egress);
                        j->r = sf_err_errno(&j->err, r, "cannot read registry_auth_file '%s'", cfg->registry_auth_file);
                        return;
                }
        }
        j->r = pull_image(
                &(struct pull_request) {
                        .ref = j->ref,
                        .images_dir = j->sf->images_dir,
                        .blobs_dir = blobs,
                        .limits = &cfg->image,
                        .insecure = insecure,
                        .mirrors = mirrors,
                        .egress = &egress,
                        .tenant_auths_json = j->tenant_auths,
                        .auths_json = auths,
                        .ca_file = cfg->registry_ca_file[0] ? cfg->registry_ca_file : NULL,
                        .allowed = (const char *const *) j->allowed,
                        .namespace = j->ns,
                        .concurrency = (unsigned) cfg->registry_concurrency,
                        .attempts = (unsigned) cfg->registry_attempts,
                        .timeout_ms = (long) cfg->registry_timeout_ms,
                        .idle_timeout_ms = (long) cfg->registry_idle_timeout_ms,
                        .retry_delay_ms = (long) cfg->registry_retry_delay_ms,
                        .cancel_fd = j->sf->pull_cancel_fd > 0 ? j->sf->pull_cancel_fd : 0,
                        .progress = on_progress,
                        .progress_data = j,
                },
                &j->result, &j->name, &j->err);
        if (auths)
                explicit_bzero(auths, len);
        egress_policy_release(&egress);
}

/* The answer status for a failed pull. */
static int pull_status(int r)
{
        switch (r) {
        case -EINVAL: return 400;
        case -ENOENT: return 404;
        case -EACCES: return 403;
        case -EBADMSG: return 422;
        case -EFBIG: return 413;
        case -ENOSPC: return 507;
        default: return 502;
        }
}

static void pull_done(uv_work_t *w, int status)
{
        struct pull_job *j = w->data;
        struct sfaasd *sf = j->sf;
        _cleanup_json_ json_t *o = NULL;
        char msg[PULL_MSG_MAX];
        int code = 500, r;

        sf->n_imports--;
        list_del(&j->node);
        flush_lines(j);
        if (status < 0) {
                r = -ECANCELED;
                (void) xsnprintf(msg, sizeof msg, "the pull of '%s' was cancelled", j->ref);
        } else if (j->r < 0) {
                r = j->r;
                code = pull_status(r);
                (void) xsnprintf(msg, sizeof msg, "cannot pull '%s': %s", j->ref,
                                 j->err.msg[0] ? j->err.msg : strerror(-r));
                log_warning("%s", msg);
                if (j->fn[0])
                        logs_daemon(sf->logs, j->ns, j->fn, "%s", msg);
        } else {
                /* Named as written and as registry/repository:tag. */
                r = api_image_record(sf, j->ns, j->result, (const char *const[]) { j->ref, j->name, NULL }, &o,
                                     &code, msg, sizeof msg);
        }
        image_import_result_free(j->result);
        j->result = NULL;
        j->done(sf, j->data, r, code, r < 0 ? msg : NULL, r < 0 ? NULL : o);
        uv_close((uv_handle_t *) &j->wake, job_free);
}

/* The admin's annotation "com.sfaasd.registries" on the namespace:
 * "host[:port],host..." it may pull from. *ret NULL: no annotation, any. */
static int allowed_registries(struct sfaasd *sf, const char *ns, char ***ret)
{
        struct store_namespace *n = NULL;
        _cleanup_json_ json_t *ann = NULL;
        const char *v;
        char **list = NULL;
        size_t count = 0;
        int r;

        *ret = NULL;
        r = store_namespace_get(sf->store, ns, &n);
        if (r < 0)
                return r;
        ann = json_loads(n->annotations_json ? n->annotations_json : "{}", 0, NULL);
        store_namespace_free(n);
        v = json_string_value(json_object_get(ann, "com.sfaasd.registries"));
        if (!v)
                return 0;
        list = calloc(strlen(v) + 2, sizeof *list);
        if (!list)
                return -ENOMEM;
        for (const char *p = v; *p;) {
                size_t len;

                p += strspn(p, ", ");
                len = strcspn(p, ", ");
                if (len == 0)
                        break;
                list[count] = strndup(p, len);
                if (!list[count]) {
                        strv_free(list);
                        return -ENOMEM;
                }
                count++;
                p += len;
        }
        *ret = list;
        return 0;
}

int api_pull_start(struct sfaasd *sf, const char *ref, const char *ns, const char *fn, api_pull_done_fn done,
                   void *data)
{
        struct pull_job *j = calloc(1, sizeof *j);
        int r;

        if (!j)
                return -ENOMEM;
        /* On the loop: the store is the loop's. */
        r = api_registry_auth_get(sf, ns, &j->tenant_auths, &j->tenant_auths_len);
        if (r >= 0)
                r = allowed_registries(sf, ns, &j->allowed);
        if (r < 0) {
                if (j->tenant_auths)
                        explicit_bzero(j->tenant_auths, j->tenant_auths_len);
                free(j->tenant_auths);
                strv_free(j->allowed);
                free(j);
                return r;
        }
        j->sf = sf;
        j->done = done;
        j->data = data;
        j->ref = strdup(ref);
        if (!j->ref || xsnprintf(j->ns, sizeof j->ns, "%s", ns) < 0 ||
            xsnprintf(j->fn, sizeof j->fn, "%s", fn ? fn : "") < 0 || uv_mutex_init(&j->mu) < 0) {
                r = -ENOMEM;
                goto fail;
        }
        r = uv_async_init(&sf->loop, &j->wake, on_wake);
        if (r < 0) {
                uv_mutex_destroy(&j->mu);
                goto fail;
        }
        j->wake.data = j;
        j->work.data = j;
        r = uv_queue_work(&sf->loop, &j->work, pull_work, pull_done);
        if (r < 0) {
                uv_close((uv_handle_t *) &j->wake, job_free);
                return r;
        }
        sf->n_imports++;
        j->started_ns = now_ns();
        list_add_tail(&sf->pulls, &j->node);
        return 0;
fail:
        if (j->tenant_auths)
                explicit_bzero(j->tenant_auths, j->tenant_auths_len);
        free(j->tenant_auths);
        strv_free(j->allowed);
        free(j->ref);
        free(j);
        return r;
}

static json_t *pull_json(const struct pull_job *j)
{
        return json_pack("{s:s, s:s, s:s?, s:s, s:f}", "image", j->ref, "namespace", j->ns, "function",
                         j->fn[0] ? j->fn : NULL, "progress", j->last, "seconds",
                         (double) (now_ns() - j->started_ns) / 1e9);
}

bool api_pull_pending(struct sfaasd *sf, const char *ns, const char *fn)
{
        struct pull_job *j;

        list_for_each_safe(j, &sf->pulls, node)
                if (strcmp(j->ns, ns) == 0 && strcmp(j->fn, fn) == 0)
                        return true;
        return false;
}

int api_pull_status(struct sfaasd *sf, const char *ns, const char *fn, json_t *sfaasd_obj)
{
        struct pull_job *j;

        list_for_each_safe(j, &sf->pulls, node) {
                if (strcmp(j->ns, ns) != 0 || strcmp(j->fn, fn) != 0)
                        continue;
                if (json_object_set_new(sfaasd_obj, "pull", pull_json(j)) < 0)
                        return -ENOMEM;
                return 1;
        }
        return 0;
}

/* GET /system/images/pulls[?namespace=]: the namespace's pulls under way. */
void api_image_pulls(struct http_request *req)
{
        struct sfaasd *sf = api_sfaasd(req);
        _cleanup_json_ json_t *arr = json_array();
        struct pull_job *j;
        char ns[ROUTE_NAME_MAX];

        if (api_resolve_namespace(req, NULL, ns, sizeof ns) < 0)
                return;
        if (!arr) {
                http_respond_error(req, 500, "out of memory");
                return;
        }
        list_for_each_safe(j, &sf->pulls, node)
                if (strcmp(j->ns, ns) == 0)
                        (void) json_array_append_new(arr, pull_json(j));
        api_respond_json(req, 200, arr);
}

/* ---- POST /system/images/pull ---- */

static void pull_answer(struct sfaasd *sf, void *data, int r, int status, const char *msg, json_t *image)
{
        struct http_request *req = data;

        (void) sf;
        if (r < 0) {
                http_respond_error(req, status, "%s", msg);
                return;
        }
        api_audit_note(req, "pulled image %s", json_string_value(json_object_get(image, "id")));
        api_respond_json(req, 200, image);
}

void api_image_pull(struct http_request *req)
{
        struct sfaasd *sf = api_sfaasd(req);
        _cleanup_json_ json_t *body = api_parse_body_object(req);
        const char *ref;
        char ns[ROUTE_NAME_MAX], msg[160];
        int r;

        if (!body)
                return;
        if (api_resolve_namespace(req, body, ns, sizeof ns) < 0)
                return;
        ref = json_string_value(json_object_get(body, "image"));
        if (!ref || !*ref) {
                http_respond_error(req, 400, "field 'image' must be an image reference (registry/name:tag)");
                return;
        }
        if (api_image_quota_full(sf, ns, msg, sizeof msg)) {
                http_respond_error(req, 409, "%s", msg);
                return;
        }
        http_request_hold(req);
        r = api_pull_start(sf, ref, ns, NULL, pull_answer, req);
        if (r < 0)
                http_respond_error(req, 500, "cannot start the pull: %s", strerror(-r));
}
