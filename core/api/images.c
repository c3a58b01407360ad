/* SPDX-License-Identifier: MIT */
/*
 * Image routes (all take ?namespace=, default openfaas-fn or the tenant's
 * own: image names are per namespace; the content is stored once, by id,
 * and a namespace sees the images it owns and those the admin shared,
 * store/db.h):
 *   GET    /system/images            the namespace's images: id (= digest),
 *                                    name, tags, size, created, usedBy
 *   POST   /system/images[?name=]    import an archive streamed to disk by
 *                                    api_images_head, unpacked on the thread pool
 *   GET    /system/images/{ref}      one image (a tag of the namespace, or
 *                                    an id or unique id prefix)
 *   DELETE /system/images/{ref}      409 naming the functions of the
 *                                    namespace that use it; else removes the
 *                                    tag (an id: every tag of the namespace),
 *                                    and the image when nothing refers to it
 *   POST   /system/images/pull       {"image": REF}: pull from a registry into
 *                                    the namespace (core/api/pull.c)
 *   GET    /system/images/pulls      the namespace's pulls under way
 *   POST   /system/images/prune      (admin) removes every image without a tag
 *                                    or a function that is not shared, and
 *                                    image folders no row refers to:
 *                                    {"removed":[ids],"bytesFreed":N}
 *   GET    /system/shared-images     (admin) the images shared with every tenant
 *   PUT    /system/shared-images/{ref}  (admin) share it (ref: a tag of
 *                                    ?namespace=, or an id): 200 {image}
 *   DELETE /system/shared-images/{ref}  (admin) stop; the namespaces whose
 *                                    functions use it keep it
 *
 * Blobs: imports keep every verified blob in DATA/blobs (store/image.h);
 * after a delete that removed an image, and on every prune, the blobs no
 * remaining image lists are collected on the thread pool (skipped while an
 * import holds the store: the next prune or start collects them).
 *
 * Removing files: the image folder is renamed away on the loop thread
 * (instant, store/image.h image_detach) and deleted on the thread pool. An
 * import that found the image present ("existed") re-checks, on the loop,
 * that the folder is still there before it records the image, so a removal
 * between the two cannot leave a row without its rootfs.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/api/api.h"
#include "core/base/cleanup.h"
#include "core/base/log.h"
#include "core/base/timefmt.h"
#include "core/base/util.h"
#include "core/runtime/metrics.h"
#include "core/runtime/tenants.h"

/* ---- images ---- */

static json_t *image_json(struct sfaasd *sf, const char *ns, const struct store_image *img)
{
        json_t *o = json_object(), *tags = json_array(), *users = json_array();
        _cleanup_strv_free_ char **fns = NULL;
        _cleanup_free_ char *name = NULL;
        char ts[TIME_RFC3339_MAX];
        if (!o || !tags || !users || store_image_users(sf->store, ns, img->id, &fns) < 0) {
                json_decref(o);
                json_decref(tags);
                json_decref(users);
                return NULL;
        }
        for (char **t = img->tags; t && *t; t++)
                (void) json_array_append_new(tags, json_string(*t));
        for (char **f = fns; f && *f; f++)
                (void) json_array_append_new(users, json_string(*f));
        if (img->tags && img->tags[0]) {
                /* "repo/name:tag" -> "repo/name" (the ':' after the last '/') */
                const char *t = img->tags[0], *slash = strrchr(t, '/'), *colon = strrchr(t, ':');
                name = colon && (!slash || colon > slash) ? strndup(t, (size_t) (colon - t)) : strdup(t);
        }
        time_rfc3339(img->created_at, 0, ts);
        (void) json_object_set_new(o, "id", json_string(img->id));
        (void) json_object_set_new(o, "digest", json_string(img->id));
        (void) json_object_set_new(o, "name", name ? json_string(name) : json_null());
        (void) json_object_set_new(o, "tags", tags);
        (void) json_object_set_new(o, "size", json_integer((json_int_t) img->size));
        (void) json_object_set_new(o, "created", json_string(ts));
        (void) json_object_set_new(o, "createdAt", json_string(ts));
        (void) json_object_set_new(o, "usedBy", users);
        (void) json_object_set_new(o, "shared", json_boolean(img->shared));
        return o;
}

static void handle_image_list(struct http_request *req)
{
        struct sfaasd *sf = api_sfaasd(req);
        struct store_image **imgs = NULL;
        _cleanup_json_ json_t *arr = json_array();
        char ns[ROUTE_NAME_MAX];
        int r;

        if (api_resolve_namespace(req, NULL, ns, sizeof ns) < 0)
                return;
        r = store_image_list_ns(sf->store, ns, &imgs);
        if (r < 0 || !arr) {
                store_image_list_free(imgs);
                http_respond_error(req, 500, "cannot list images");
                return;
        }
        for (struct store_image **p = imgs; *p; p++) {
                json_t *o = image_json(sf, ns, *p);
                if (!o) {
                        store_image_list_free(imgs);
                        http_respond_error(req, 500, "cannot list images");
                        return;
                }
                (void) json_array_append_new(arr, o);
        }
        store_image_list_free(imgs);
        api_respond_json(req, 200, arr);
}

/* DATA/blobs: the blob store next to the images. */
static int blobs_dir(const struct sfaasd *sf, char *buf, size_t n)
{
        return xsnprintf(buf, n, "%s/blobs", sf->cfg.data_dir);
}

struct import_job {
        uv_work_t work;
        struct sfaasd *sf;
        struct http_request *req;
        int fd;                       /* owned by req (body_fd) */
        char *name;                   /* ?name= tag, or NULL */
        char ns[ROUTE_NAME_MAX];      /* the tags' namespace */
        struct image_import_result *result;
        struct sf_err err;
        int r;
};

/* Thread pool: no loop or store access here. */
static void import_work(uv_work_t *w)
{
        struct import_job *j = w->data;
        char blobs[PATH_MAX];

        if (lseek(j->fd, 0, SEEK_SET) < 0) {
                j->r = sf_err_errno(&j->err, -errno, "cannot rewind the upload");
                return;
        }
        if (blobs_dir(j->sf, blobs, sizeof blobs) < 0) {
                j->r = sf_err_set(&j->err, -ENAMETOOLONG, "data folder path is too long");
                return;
        }
        j->r = image_import(j->sf->images_dir, blobs, j->fd, &j->sf->cfg.image, &j->result, &j->err);
}

int api_image_record(struct sfaasd *sf, const char *ns, const struct image_import_result *res,
                     const char *const *extra_tags, json_t **ret_json, int *ret_status, char *msg, size_t msg_size)
{
        _cleanup_free_ char **tags = NULL;
        struct store_image *img = NULL;
        bool visible = false;
        size_t n = 0, extra = 0;
        json_t *o;
        int r;

        {
                /* "existed" says whether the namespace could see the image
                 * before (its own, or shared), never whether another tenant
                 * has it: the content is stored once for all, silently. */
                struct store_image *before = NULL;
                visible = store_image_resolve_ns(sf->store, ns, res->id, &before) >= 0;
                store_image_free(before);
        }
        if (!visible) {
                /* A new image for the namespace: within its storage quota. */
                struct tenant_quota q;
                uint64_t owned = 0;
                if (tenants_quota(sf, ns, &q) >= 0 && q.image_bytes &&
                    store_image_owned_bytes(sf->store, ns, &owned) >= 0 && owned + res->size > q.image_bytes) {
                        *ret_status = 409;
                        (void) xsnprintf(msg, msg_size,
                                         "image %s (%llu bytes) would take namespace '%s' over its imageBytes "
                                         "quota (%llu of %llu bytes used)",
                                         res->id, (unsigned long long) res->size, ns, (unsigned long long) owned,
                                         (unsigned long long) q.image_bytes);
                        return -EDQUOT;
                }
        }
        /* Tags from the archive plus the caller's, in one transaction. */
        for (char **t = res->tags; t && *t; t++)
                n++;
        for (const char *const *t = extra_tags; t && *t; t++)
                extra++;
        tags = calloc(n + extra + 1, sizeof *tags);
        if (!tags) {
                *ret_status = 500;
                (void) xsnprintf(msg, msg_size, "out of memory");
                return -ENOMEM;
        }
        for (size_t i = 0; i < n; i++)
                tags[i] = res->tags[i];
        for (const char *const *t = extra_tags; t && *t; t++)
                tags[n++] = (char *) *t;
        r = store_image_put_ns(sf->store, ns, res->id, res->config_json, res->rootfs, res->size, tags);
        if (r >= 0 && res->existed) {
                /* The folder the worker found may have been removed since
                 * (DELETE or prune on this loop): never record a row
                 * without its rootfs. */
                struct stat sb;
                _cleanup_free_ char *complete = xasprintf("%s/../.complete", res->rootfs);
                if (!complete) {
                        r = -ENOMEM;
                } else if (stat(complete, &sb) < 0) {
                        bool gone = false;
                        (void) store_image_untag(sf->store, ns, res->id, NULL, &gone);
                        *ret_status = 503;
                        (void) xsnprintf(msg, msg_size, "image %s was removed while it was imported; retry", res->id);
                        return -EAGAIN;
                }
        }
        if (r < 0) {
                *ret_status = 500;
                (void) xsnprintf(msg, msg_size, "cannot record image: %s", strerror(-r));
                return r;
        }
        r = store_image_resolve_ns(sf->store, ns, res->id, &img);
        if (r < 0 || !(o = image_json(sf, ns, img))) {
                store_image_free(img);
                *ret_status = 500;
                (void) xsnprintf(msg, msg_size, "cannot read back image");
                return r < 0 ? r : -ENOMEM;
        }
        store_image_free(img);
        (void) json_object_set_new(o, "existed", json_boolean(visible));
        if (!res->existed)
                metrics_images_changed(sf);
        *ret_json = o;
        return 0;
}

static void import_done(uv_work_t *w, int status)
{
        struct import_job *j = w->data;
        struct sfaasd *sf = j->sf;
        struct http_request *req = j->req;
        struct image_import_result *res = j->result;
        _cleanup_json_ json_t *o = NULL;
        char msg[512];
        int r, code;

        sf->n_imports--;
        if (status < 0 || j->r < 0) {
                code = j->r == -EFBIG ? 413 : (j->r == -EBADMSG || j->r == -EINVAL) ? 400
                                              : j->r == -ENOSPC                    ? 507
                                                                                   : 500;
                if (status < 0)
                        http_respond_error(req, 500, "image import was cancelled");
                else
                        http_respond_error(req, code, "image import failed: %s",
                                           j->err.msg[0] ? j->err.msg : strerror(-j->r));
                goto out;
        }
        r = api_image_record(sf, j->ns, res, (const char *const[]) { j->name, NULL }, &o, &code, msg, sizeof msg);
        if (r < 0) {
                http_respond_error(req, code, "%s", msg);
                goto out;
        }
        log_info("imported image %s (%s)", res->id, res->existed ? "already present" : "unpacked");
        api_respond_json(req, 200, o);
out:
        image_import_result_free(res);
        free(j->name);
        free(j);
}

bool api_image_quota_full(struct sfaasd *sf, const char *ns, char *msg, size_t size)
{
        struct tenant_quota q;
        uint64_t owned = 0;

        if (tenants_quota(sf, ns, &q) < 0 || !q.image_bytes || store_image_owned_bytes(sf->store, ns, &owned) < 0 ||
            owned < q.image_bytes)
                return false;
        (void) xsnprintf(msg, size, "namespace '%s' uses its whole imageBytes quota (%llu bytes)", ns,
                         (unsigned long long) q.image_bytes);
        return true;
}

static void handle_image_import(struct http_request *req)
{
        struct sfaasd *sf = api_sfaasd(req);
        struct import_job *j;
        _cleanup_free_ char *name = http_query_param(req, "name");
        char ns[ROUTE_NAME_MAX], msg[160];

        if (api_resolve_namespace(req, NULL, ns, sizeof ns) < 0)
                return;
        if (api_image_quota_full(sf, ns, msg, sizeof msg)) {
                http_respond_error(req, 409, "%s", msg);
                return;
        }
        if (req->body_fd < 0 || req->body_file_len == 0) {
                http_respond_error(req, 400, "request body must be an image archive (docker save or OCI layout tar)");
                return;
        }
        if (name) {
                char *norm = image_ref_normalize(name);
                if (!norm) {
                        http_respond_error(req, 400, "invalid image name '%.128s'", name);
                        return;
                }
                free(norm);
        }
        j = calloc(1, sizeof *j);
        if (!j) {
                http_respond_error(req, 500, "out of memory");
                return;
        }
        j->sf = sf;
        j->req = req;
        j->fd = req->body_fd;
        j->name = TAKE_PTR(name);
        memcpy(j->ns, ns, sizeof ns);
        j->work.data = j;
        http_request_hold(req);
        if (uv_queue_work(&sf->loop, &j->work, import_work, import_done) < 0) {
                free(j->name);
                free(j);
                http_respond_error(req, 500, "cannot queue the import");
                return;
        }
        sf->n_imports++;
}

/* ---- removing ---- */

/* Folders renamed away on the loop, deleted here. */
struct purge_job {
        uv_work_t work;
        struct sfaasd *sf;
        struct http_request *req;     /* answered when done, or NULL */
        json_t *answer;
        char **names;                 /* ".rm-<hex>" */
        bool collect;                 /* then collect unreferenced blobs */
};

static void purge_work(uv_work_t *w)
{
        struct purge_job *j = w->data;
        for (char **n = j->names; n && *n; n++) {
                int r = image_purge_detached(j->sf->images_dir, *n);
                if (r < 0)
                        log_warning("cannot remove image folder '%s': %s (the next start removes it)", *n,
                                    strerror(-r));
        }
        if (j->collect) {
                /* The answer is ours until purge_done. */
                char blobs[PATH_MAX];
                uint64_t removed = 0, bytes = 0;
                json_int_t freed = json_integer_value(json_object_get(j->answer, "bytesFreed"));
                int r = blobs_dir(j->sf, blobs, sizeof blobs);

                if (r >= 0)
                        r = image_blobs_gc(j->sf->images_dir, blobs, &removed, &bytes);
                if (r == -EBUSY)
                        log_info("blob store busy with an import: unreferenced blobs are collected later");
                else if (r < 0)
                        log_warning_errno(r, "cannot collect unreferenced blobs");
                else if (removed)
                        log_info("removed %llu unreferenced blobs (%llu bytes)", (unsigned long long) removed,
                                 (unsigned long long) bytes);
                (void) json_object_set_new(j->answer, "blobsRemoved", json_integer((json_int_t) removed));
                (void) json_object_set_new(j->answer, "bytesFreed", json_integer(freed + (json_int_t) bytes));
        }
}

static void purge_done(uv_work_t *w, int status)
{
        struct purge_job *j = w->data;
        struct sfaasd *sf = j->sf;

        sf->n_imports--;
        if (j->req)
                api_respond_json(j->req, 200, j->answer);
        json_decref(j->answer);
        strv_free(j->names);
        free(j);
}

/* Detach the folders of ids (on the loop), then delete them on the pool
 * and answer with answer (taken). Adds "bytesFreed", and with collect
 * (also when a folder was removed) "blobsRemoved". */
static void remove_and_answer(struct http_request *req, char *const *ids, json_t *answer, bool collect)
{
        struct sfaasd *sf = api_sfaasd(req);
        struct purge_job *j = calloc(1, sizeof *j);
        uint64_t freed = 0;
        size_t n = 0;

        for (char *const *p = ids; p && *p; p++)
                n++;
        if (!j || !(j->names = calloc(n + 1, sizeof *j->names))) {
                free(j);
                json_decref(answer);
                http_respond_error(req, 500, "out of memory");
                return;
        }
        n = 0;
        for (char *const *p = ids; p && *p; p++) {
                char name[64];
                uint64_t size = 0;
                int r = image_detach(sf->images_dir, *p, name, sizeof name, &size);
                if (r == -ENOENT)
                        continue;
                if (r < 0) {
                        log_warning("cannot remove image %s: %s", *p, strerror(-r));
                        continue;
                }
                freed += size;
                j->names[n] = strdup(name);
                if (j->names[n])
                        n++;
        }
        (void) json_object_set_new(answer, "bytesFreed", json_integer((json_int_t) freed));
        j->collect = collect || n > 0;
        j->sf = sf;
        j->req = req;
        j->answer = answer;
        j->work.data = j;
        http_request_hold(req);
        if (uv_queue_work(&sf->loop, &j->work, purge_work, purge_done) < 0) {
                /* The folders are detached: the next start removes them. */
                api_respond_json(req, 200, answer);
                json_decref(answer);
                strv_free(j->names);
                free(j);
                return;
        }
        sf->n_imports++;
}

static int resolve_or_answer(struct http_request *req, const char *ns, const char *ref, struct store_image **ret)
{
        struct sfaasd *sf = api_sfaasd(req);
        /* A tenant names its own images and shared ones only; the admin
         * any image by id (its names are still the namespace's). */
        int r = api_caller(req)->kind == CALLER_TENANT ? store_image_resolve_ns(sf->store, ns, ref, ret)
                                                       : store_image_resolve_all(sf->store, ns, ref, ret);
        if (r == -ENOENT)
                http_respond_error(req, 404, "image '%.256s' not found in namespace '%s'", ref, ns);
        else if (r == -EINVAL)
                http_respond_error(req, 400, "invalid image reference '%.256s'", ref);
        else if (r == -ENOTUNIQ)
                http_respond_error(req, 400, "image id prefix '%.256s' is ambiguous", ref);
        else if (r < 0)
                http_respond_error(req, 500, "cannot resolve image: %s", strerror(-r));
        return r;
}

static void handle_image_get(struct http_request *req, const char *ref)
{
        struct sfaasd *sf = api_sfaasd(req);
        struct store_image *img = NULL;
        json_t *o;
        char ns[ROUTE_NAME_MAX];

        if (api_resolve_namespace(req, NULL, ns, sizeof ns) < 0)
                return;
        if (resolve_or_answer(req, ns, ref, &img) < 0)
                return;
        o = image_json(sf, ns, img);
        store_image_free(img);
        if (!o) {
                http_respond_error(req, 500, "cannot read the image");
                return;
        }
        api_respond_json(req, 200, o);
        json_decref(o);
}

static void handle_image_delete(struct http_request *req, const char *ref)
{
        struct sfaasd *sf = api_sfaasd(req);
        struct store_image *img = NULL;
        _cleanup_strv_free_ char **users = NULL;
        _cleanup_free_ char *tag = NULL;
        char ns[ROUTE_NAME_MAX];
        char *ids[2] = { NULL, NULL };
        json_t *o;
        bool gone = false;
        int r;

        if (api_resolve_namespace(req, NULL, ns, sizeof ns) < 0)
                return;
        if (resolve_or_answer(req, ns, ref, &img) < 0)
                return;
        r = store_image_users(sf->store, ns, img->id, &users);
        if (r < 0) {
                store_image_free(img);
                http_respond_error(req, 500, "cannot list the image's functions: %s", strerror(-r));
                return;
        }
        if (users[0]) {
                json_t *e = json_object(), *arr = json_array();
                size_t len = 0;
                _cleanup_free_ char *list = NULL;
                for (char **u = users; *u; u++) {
                        len += strlen(*u) + 2;
                        (void) json_array_append_new(arr, json_string(*u));
                }
                list = calloc(len + 1, 1);
                for (char **u = users; list && *u; u++) {
                        if (u != users)
                                memcpy(list + strlen(list), ", ", 3);
                        memcpy(list + strlen(list), *u, strlen(*u) + 1);
                }
                {
                        _cleanup_free_ char *msg = xasprintf("image '%.256s' is used by %s: %s", ref,
                                                             users[1] ? "functions" : "function", list ? list : "?");
                        (void) json_object_set_new(e, "error", json_string(msg ? msg : "image is in use"));
                }
                (void) json_object_set_new(e, "usedBy", arr);
                store_image_free(img);
                api_respond_json(req, 409, e);
                json_decref(e);
                return;
        }
        /* A tag removes that name; an id every name the namespace has for it. */
        if (!str_startswith(ref, "sha256:")) {
                tag = image_ref_normalize(ref);
                if (!tag) {
                        store_image_free(img);
                        http_respond_error(req, 500, "out of memory");
                        return;
                }
        }
        r = store_image_untag(sf->store, ns, img->id, tag, &gone);
        if (r < 0) {
                store_image_free(img);
                http_respond_error(req, 500, "cannot remove the image: %s", strerror(-r));
                return;
        }
        o = json_object();
        (void) json_object_set_new(o, "id", json_string(img->id));
        {
                json_t *untagged = json_array();
                if (tag)
                        (void) json_array_append_new(untagged, json_string(tag));
                for (char **t = img->tags; !tag && t && *t; t++)
                        (void) json_array_append_new(untagged, json_string(*t));
                (void) json_object_set_new(o, "untagged", untagged);
        }
        (void) json_object_set_new(o, "removed", json_boolean(gone));
        log_info("image %s: untagged %s in namespace %s%s", img->id, tag ? tag : "every name", ns,
                 gone ? "; removing the image" : "");
        ids[0] = gone ? img->id : NULL;
        remove_and_answer(req, ids, o, false);
        store_image_free(img);
}

static void handle_image_prune(struct http_request *req)
{
        struct sfaasd *sf = api_sfaasd(req);
        _cleanup_strv_free_ char **pruned = NULL, **known = NULL, **present = NULL;
        _cleanup_free_ char **all = NULL;
        json_t *o, *arr;
        size_t n = 0;
        int r;

        r = store_image_prune(sf->store, &pruned);
        if (r < 0) {
                http_respond_error(req, 500, "cannot prune images: %s", strerror(-r));
                return;
        }
        /* Folders no row refers to (an import recorded nowhere, a crash
         * between a delete's commit and its removal). Not while an import
         * runs: its folder is published before its row is written. */
        if (sf->n_imports == 0) {
                r = store_image_ids(sf->store, &known);
                if (r >= 0)
                        r = image_list_complete(sf->images_dir, &present);
                if (r < 0) {
                        http_respond_error(req, 500, "cannot list the image store: %s", strerror(-r));
                        return;
                }
        }
        for (char **p = pruned; *p; p++)
                n++;
        for (char **p = present; p && *p; p++)
                n++;
        all = calloc(n + 1, sizeof *all);
        o = json_object();
        arr = json_array();
        if (!all || !o || !arr) {
                json_decref(o);
                json_decref(arr);
                http_respond_error(req, 500, "out of memory");
                return;
        }
        n = 0;
        for (char **p = pruned; *p; p++) {
                all[n++] = *p;
                (void) json_array_append_new(arr, json_string(*p));
        }
        for (char **p = present; p && *p; p++) {
                bool keep = false;
                for (char **k = known; k && *k && !keep; k++)
                        keep = strcmp(*k, *p) == 0;
                for (char **k = pruned; *k && !keep; k++)
                        keep = strcmp(*k, *p) == 0; /* listed already */
                if (keep)
                        continue;
                all[n++] = *p;
                (void) json_array_append_new(arr, json_string(*p));
        }
        (void) json_object_set_new(o, "removed", arr);
        if (n)
                log_info("image prune: removing %zu images", n);
        remove_and_answer(req, all, o, true);
}

int api_images_head(struct http_request *req, const struct route *rt)
{
        struct sfaasd *sf = api_sfaasd(req);
        int fd;

        /* Image uploads are streamed to disk; the rest stays in memory. */
        if (strcmp(req->method, "POST") != 0 || rt->id != ROUTE_IMAGES)
                return HTTP_HEAD_READ_BODY;
        fd = open(sf->tmp_dir, O_RDWR | O_TMPFILE | O_CLOEXEC, 0600);
        if (fd < 0) {
                http_respond_error(req, 500, "cannot store the upload: %s", strerror(errno));
                return HTTP_HEAD_ANSWERED;
        }
        http_body_to_file(req, fd);
        return HTTP_HEAD_BODY_TO_FILE;
}

static void handle_shared_list(struct http_request *req)
{
        struct sfaasd *sf = api_sfaasd(req);
        struct store_image **imgs = NULL;
        _cleanup_json_ json_t *arr = json_array();
        int r = store_image_list_ns(sf->store, NULL, &imgs);

        if (r < 0 || !arr) {
                store_image_list_free(imgs);
                http_respond_error(req, 500, "cannot list images");
                return;
        }
        for (struct store_image **p = imgs; *p; p++) {
                json_t *o;
                if (!(*p)->shared)
                        continue;
                o = image_json(sf, STORE_DEFAULT_NAMESPACE, *p);
                if (!o || json_array_append_new(arr, o) < 0) {
                        store_image_list_free(imgs);
                        http_respond_error(req, 500, "cannot list images");
                        return;
                }
        }
        store_image_list_free(imgs);
        api_respond_json(req, 200, arr);
}

static void handle_share(struct http_request *req, const char *ref, bool shared)
{
        struct sfaasd *sf = api_sfaasd(req);
        struct store_image *img = NULL;
        char ns[ROUTE_NAME_MAX];
        json_t *o;
        int r;

        if (api_resolve_namespace(req, NULL, ns, sizeof ns) < 0)
                return;
        if (resolve_or_answer(req, ns, ref, &img) < 0)
                return;
        r = store_image_set_shared(sf->store, img->id, shared);
        if (r < 0) {
                store_image_free(img);
                http_respond_error(req, r == -ENOENT ? 404 : 500, "cannot change image %s: %s",
                                   r == -ENOENT ? ref : img->id, strerror(-r));
                return;
        }
        log_info("image %s is %s", img->id, shared ? "shared with every tenant" : "no longer shared");
        img->shared = shared;
        o = image_json(sf, ns, img);
        store_image_free(img);
        if (!o) {
                http_respond_error(req, 500, "out of memory");
                return;
        }
        api_respond_json(req, 200, o);
        json_decref(o);
}

void api_images(struct http_request *req, const struct route *rt)
{
        if (rt->id == ROUTE_SHARED_IMAGES) {
                handle_shared_list(req);
                return;
        }
        if (rt->id == ROUTE_SHARED_IMAGE) {
                handle_share(req, rt->rest, strcmp(req->method, "PUT") == 0);
                return;
        }
        if (rt->id == ROUTE_IMAGES) {
                if (strcmp(req->method, "GET") == 0)
                        handle_image_list(req);
                else
                        handle_image_import(req);
                return;
        }
        if (rt->id == ROUTE_IMAGE_PRUNE)
                handle_image_prune(req);
        else if (rt->id == ROUTE_IMAGE_PULL)
                api_image_pull(req);
        else if (rt->id == ROUTE_IMAGE_PULLS)
                api_image_pulls(req);
        else if (strcmp(req->method, "DELETE") == 0)
                handle_image_delete(req, rt->rest);
        else
                handle_image_get(req, rt->rest);
}
