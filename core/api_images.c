/* SPDX-License-Identifier: MIT */
/*
 * Image routes: GET /system/images (list), POST /system/images (import of a
 * docker-save or OCI archive streamed to disk by api_on_head, unpacked on
 * the libuv thread pool), GET/DELETE /system/images/{ref}.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/api.h"
#include "core/base/cleanup.h"
#include "core/base/log.h"
#include "core/base/util.h"

/* ---- images ---- */

static json_t *image_json(const struct store_image *img)
{
        json_t *o = json_object(), *tags = json_array();
        char ts[64];
        struct tm tm;
        time_t secs = (time_t) (img->created_at / 1000000000LL);
        if (!o || !tags) {
                json_decref(o);
                json_decref(tags);
                return NULL;
        }
        for (char **t = img->tags; t && *t; t++)
                (void) json_array_append_new(tags, json_string(*t));
        (void) gmtime_r(&secs, &tm);
        (void) strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
        (void) json_object_set_new(o, "id", json_string(img->id));
        (void) json_object_set_new(o, "tags", tags);
        (void) json_object_set_new(o, "size", json_integer((json_int_t) img->size));
        (void) json_object_set_new(o, "createdAt", json_string(ts));
        return o;
}

static void handle_image_list(struct http_request *req)
{
        struct sfaasd *sf = api_sfaasd(req);
        struct store_image **imgs = NULL;
        _cleanup_json_ json_t *arr = json_array();
        int r = store_image_list(sf->store, &imgs);
        if (r < 0 || !arr) {
                store_image_list_free(imgs);
                http_respond_error(req, 500, "cannot list images");
                return;
        }
        for (struct store_image **p = imgs; *p; p++) {
                json_t *o = image_json(*p);
                if (o)
                        (void) json_array_append_new(arr, o);
        }
        store_image_list_free(imgs);
        api_respond_json(req, 200, arr);
}

struct import_job {
        uv_work_t work;
        struct sfaasd *sf;
        struct http_request *req;
        int fd;                       /* owned by req (body_fd) */
        char *name;                   /* ?name= tag, or NULL */
        struct image_import_result *result;
        struct sf_err err;
        int r;
};

/* Thread pool: no loop or store access here. */
static void import_work(uv_work_t *w)
{
        struct import_job *j = w->data;
        if (lseek(j->fd, 0, SEEK_SET) < 0) {
                j->r = sf_err_errno(&j->err, -errno, "cannot rewind the upload");
                return;
        }
        j->r = image_import_fd(j->sf->images_dir, j->fd, &j->sf->cfg.image, &j->result, &j->err);
}

static void import_done(uv_work_t *w, int status)
{
        struct import_job *j = w->data;
        struct sfaasd *sf = j->sf;
        struct http_request *req = j->req;
        struct image_import_result *res = j->result;
        _cleanup_json_ json_t *o = NULL;
        struct store_image *img = NULL;
        int r;

        sf->n_imports--;
        if (status < 0 || j->r < 0) {
                int code = j->r == -EFBIG ? 413 : (j->r == -EBADMSG || j->r == -EINVAL) ? 400
                                                  : j->r == -ENOSPC                    ? 507
                                                                                       : 500;
                if (status < 0)
                        http_respond_error(req, 500, "image import was cancelled");
                else
                        http_respond_error(req, code, "image import failed: %s",
                                           j->err.msg[0] ? j->err.msg : strerror(-j->r));
                goto out;
        }
        {
                /* Tags from the archive plus ?name=, in one transaction. */
                size_t n = 0;
                _cleanup_free_ char **tags = NULL;
                for (char **t = res->tags; t && *t; t++)
                        n++;
                tags = calloc(n + 2, sizeof *tags);
                if (!tags) {
                        http_respond_error(req, 500, "out of memory");
                        goto out;
                }
                for (size_t i = 0; i < n; i++)
                        tags[i] = res->tags[i];
                if (j->name)
                        tags[n++] = j->name;
                r = store_image_put(sf->store, res->id, res->config_json, res->rootfs, res->size, tags);
        }
        if (r < 0) {
                http_respond_error(req, 500, "cannot record image: %s", strerror(-r));
                goto out;
        }
        r = store_image_resolve(sf->store, res->id, &img);
        if (r < 0 || !(o = image_json(img))) {
                store_image_free(img);
                http_respond_error(req, 500, "cannot read back image");
                goto out;
        }
        store_image_free(img);
        (void) json_object_set_new(o, "existed", json_boolean(res->existed));
        log_info("imported image %s (%s)", res->id, res->existed ? "already present" : "unpacked");
        if (!res->existed)
                metrics_images_changed(sf);
        api_respond_json(req, 200, o);
out:
        image_import_result_free(res);
        free(j->name);
        free(j);
        sfaasd_maybe_finish(sf);
}

static void handle_image_import(struct http_request *req)
{
        struct sfaasd *sf = api_sfaasd(req);
        struct import_job *j;
        _cleanup_free_ char *name = http_query_param(req, "name");

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

void api_images(struct http_request *req, const struct route *rt)
{
        if (rt->id == ROUTE_IMAGES) {
                if (strcmp(req->method, "GET") == 0)
                        handle_image_list(req);
                else
                        handle_image_import(req);
                return;
        }
        http_respond_error(req, 501, "%s /system/images/{ref} is not implemented yet", req->method);
}
