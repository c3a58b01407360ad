/* SPDX-License-Identifier: MIT */
/*
 * The function registry: GET/POST/PUT/DELETE /system/functions and
 * GET /system/function/{name} (OpenFaaS FunctionDeployment in,
 * FunctionStatus out). A deploy is committed to the store before it is
 * answered; the runtime's function table then reloads the function.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "core/api/api.h"
#include "core/api/router.h"
#include "core/api/ui.h"
#include "core/base/buf.h"
#include "core/base/cleanup.h"
#include "core/base/log.h"
#include "core/base/timefmt.h"
#include "core/base/util.h"
#include "core/model/egress_grant.h"
#include "core/http/registry.h"
#include "core/model/secret_files.h"
#include "core/runtime/logs.h"
#include "core/runtime/metrics.h"
#include "core/model/quota.h"
#include "core/runtime/pool.h"
#include "core/runtime/stock.h"
#include "core/runtime/tenants.h"
#include "core/runtime/usage.h"
#include "core/sfaasd.h"
#include "store/secrets.h"
#include "store/tenants.h"



/* ---- FunctionDeployment validation ---- */

static const char *check_string_map(json_t *v)
{
        const char *k;
        json_t *e;
        if (!json_is_object(v))
                return "must be an object of strings";
        json_object_foreach(v, k, e) if (!json_is_string(e)) return "must be an object of strings";
        return NULL;
}

static const char *check_string_array(json_t *v)
{
        size_t i;
        json_t *e;
        if (!json_is_array(v))
                return "must be an array of strings";
        json_array_foreach(v, i, e) if (!json_is_string(e)) return "must be an array of strings";
        return NULL;
}

static const char *check_resources(json_t *v)
{
        const char *k;
        json_t *e;
        if (!json_is_object(v))
                return "must be an object";
        json_object_foreach(v, k, e) {
                uint64_t n;
                if (!json_is_string(e) && !json_is_null(e))
                        return "values must be strings";
                if (json_is_null(e))
                        continue;
                if (strcmp(k, "memory") == 0 && (parse_size(json_string_value(e), &n) < 0 || n < (4u << 20)))
                        return "has a bad memory quantity (e.g. \"128Mi\", at least 4Mi)";
                if (strcmp(k, "cpu") == 0 && (parse_cpu_millis(json_string_value(e), &n) < 0 || n == 0))
                        return "has a bad cpu quantity (e.g. \"100m\" or \"0.5\")";
        }
        return NULL;
}

/*
 * Validate a FunctionDeployment and build the normalised spec that is
 * stored: known keys only, null maps dropped. Unknown keys are ignored (the
 * UI sends "network", old clients "registryAuth"). Answers 400 on error.
 */
static json_t *deployment_normalize(struct http_request *req, json_t *body, const char *ns)
{
        static const struct {
                const char *key;
                const char *(*check)(json_t *);
        } fields[] = {
                { "envVars", check_string_map },     { "labels", check_string_map },
                { "annotations", check_string_map }, { "constraints", check_string_array },
                { "secrets", check_string_array },   { "limits", check_resources },
                { "requests", check_resources },
        };
        _cleanup_json_ json_t *spec = json_object();
        json_t *v;

        if (!spec) {
                http_respond_error(req, 500, "out of memory");
                return NULL;
        }
        v = json_object_get(body, "service");
        if (!v || !json_is_string(v) || !*json_string_value(v)) {
                http_respond_error(req, 400, "field 'service' (the function name) is required and must be a string");
                return NULL;
        }
        if (!route_valid_name(json_string_value(v))) {
                http_respond_error(req, 400,
                                   "invalid function name '%.64s': use letters, digits, '-' and '_' (at most 63)",
                                   json_string_value(v));
                return NULL;
        }
        (void) json_object_set(spec, "service", v);
        v = json_object_get(body, "image");
        if (!v || !json_is_string(v) || !*json_string_value(v)) {
                http_respond_error(req, 400, "field 'image' is required and must be a string");
                return NULL;
        }
        (void) json_object_set(spec, "image", v);
        (void) json_object_set_new(spec, "namespace", json_string(ns));
        v = json_object_get(body, "envProcess");
        if (v && !json_is_null(v)) {
                if (!json_is_string(v)) {
                        http_respond_error(req, 400, "field 'envProcess' must be a string");
                        return NULL;
                }
                if (*json_string_value(v))
                        (void) json_object_set(spec, "envProcess", v);
        }
        for (size_t i = 0; i < ELEMENTSOF(fields); i++) {
                const char *why;
                v = json_object_get(body, fields[i].key);
                if (!v || json_is_null(v))
                        continue;
                why = fields[i].check(v);
                if (why) {
                        http_respond_error(req, 400, "field '%s' %s", fields[i].key, why);
                        return NULL;
                }
                (void) json_object_set(spec, fields[i].key, v);
        }
        v = json_object_get(body, "readOnlyRootFilesystem");
        if (v && !json_is_null(v)) {
                if (!json_is_boolean(v)) {
                        http_respond_error(req, 400, "field 'readOnlyRootFilesystem' must be true or false");
                        return NULL;
                }
                if (json_is_true(v))
                        (void) json_object_set(spec, "readOnlyRootFilesystem", v);
        }
        return json_incref(spec);
}

/* The function's egress grant (annotation, else label, com.sfaasd.egress)
 * must parse and stay within its tenant's ceiling, which only the admin
 * sets: a tenant cannot grant itself more. -EINVAL (400) with err naming
 * the entry; other errors are the store's. */
static int check_egress(struct sfaasd *sf, const char *ns, json_t *spec, struct sf_err *err)
{
        const char *list = json_string_value(json_object_get(json_object_get(spec, "annotations"), EGRESS_ANNOTATION));
        _cleanup_free_ char *stored = NULL;
        struct egress_grant g = { 0 }, ceiling = { 0 };
        const struct egress_rule *out;
        int r;

        if (!list)
                list = json_string_value(json_object_get(json_object_get(spec, "labels"), EGRESS_ANNOTATION));
        if (!list)
                return 0;
        r = egress_grant_parse(list, false, &g, err);
        if (r < 0)
                return r;
        r = store_tenant_egress_get(sf->store, ns, &stored);
        if (r >= 0)
                r = egress_grant_parse(stored, true, &ceiling, err);
        if (r < 0) {
                egress_grant_release(&g);
                return r == -EINVAL ? -EIO : sf_err_errno(err, r, "cannot read the egress ceiling of '%s'", ns);
        }
        out = egress_grant_outside(&g, &ceiling);
        if (out)
                r = sf_err_set(err, -EINVAL,
                               "%s: '%.200s' is beyond the egress ceiling of namespace '%s' (the admin sets it: "
                               "PUT /system/tenants/%s/egress)",
                               EGRESS_ANNOTATION, out->text, ns, ns);
        /* A secret to inject must be the tenant's (its value is read only
         * by the proxy, when a request needs it). */
        for (size_t i = 0; !out && r >= 0 && i < g.n; i++)
                if (g.v[i].secret[0] && store_secret_exists(sf->store, ns, g.v[i].secret) < 0)
                        r = sf_err_set(err, -EINVAL, "%s: entry '%.200s' names secret '%s', which namespace '%s' has not",
                                       EGRESS_ANNOTATION, g.v[i].text, g.v[i].secret, ns);
        egress_grant_release(&g);
        egress_grant_release(&ceiling);
        return r;
}

static void functions_deploy_run(struct http_request *req, bool update, bool pulled);

/* A deploy waiting for its pull (deploy_pull). */
struct deploy_wait {
        struct http_request *req;
        bool update;
        char ns[ROUTE_NAME_MAX];
};

static void deploy_pulled(struct sfaasd *sf, void *data, int r, int status, const char *msg, json_t *image)
{
        struct deploy_wait *w = data;
        struct http_request *req = w->req;
        bool update = w->update;
        char ns[ROUTE_NAME_MAX];

        (void) sf;
        (void) status;
        (void) image;
        memcpy(ns, w->ns, sizeof ns);
        free(w);
        if (r < 0) {
                /* 400 whatever the cause: a 404 would tell faas-cli's PUT
                 * that the function does not exist. */
                http_respond_error(req, 400, "image not in the image store of namespace '%s'; %s", ns,
                                   msg);
                return;
        }
        functions_deploy_run(req, update, true);
}

/* Deploy by reference (faas-cli deploy --image REGISTRY/NAME:TAG, faas-cli
 * up): an image the namespace lacks whose name says which registry it is
 * in is pulled first; the deploy goes on when it is in the store, and a
 * failed pull is its answer. Progress goes to the function's logs. 0 when
 * the request is held for the pull. */
static int deploy_pull(struct http_request *req, const char *image, const char *ns, const char *fn, bool update)
{
        struct sfaasd *sf = api_sfaasd(req);
        struct deploy_wait *w;
        int r;

        if (!sf->cfg.pull_on_deploy || !registry_ref_has_registry(image))
                return -ENOENT;
        {
                /* Nothing new fits the namespace's images: no pull (400, as
                 * every failed pull of a deploy is). */
                char msg[160];
                if (api_image_quota_full(sf, ns, msg, sizeof msg)) {
                        http_respond_error(req, 400, "image not in the image store of namespace '%s'; %s", ns, msg);
                        return 0;
                }
        }
        w = calloc(1, sizeof *w);
        if (!w)
                return -ENOMEM;
        w->req = req;
        w->update = update;
        (void) xsnprintf(w->ns, sizeof w->ns, "%s", ns);
        http_request_hold(req);
        logs_daemon(sf->logs, ns, fn, "pulling image '%s' for the deploy", image);
        r = api_pull_start(sf, image, ns, fn, deploy_pulled, w);
        if (r < 0) {
                free(w);
                http_respond_error(req, 500, "cannot start the pull of '%s': %s", image, strerror(-r));
        }
        return 0;
}

static void functions_deploy(struct http_request *req, bool update)
{
        functions_deploy_run(req, update, false);
}

static void functions_deploy_run(struct http_request *req, bool update, bool pulled)
{
        struct sfaasd *sf = api_sfaasd(req);
        _cleanup_json_ json_t *body = NULL;
        _cleanup_json_ json_t *spec = NULL;
        _cleanup_free_ char *spec_s = NULL;
        struct store_image *img = NULL;
        struct store_function f = { 0 };
        char ns[ROUTE_NAME_MAX];
        json_t *secrets;
        int r;

        body = api_parse_body_object(req);
        if (!body)
                return;
        if (api_resolve_namespace(req, body, ns, sizeof ns) < 0)
                return;
        spec = deployment_normalize(req, body, ns);
        if (!spec)
                return;
        {
                /* The warm-pool settings in labels and annotations (core/runtime/pool.h),
                 * then the operator's ceilings on what one function may ask. */
                struct sf_err err = { 0 };
                if (pools_check_meta(spec, &err) < 0 || function_check_ceilings(&sf->cfg.ceiling, spec, &err) < 0) {
                        http_respond_error(req, 400, "%s", err.msg);
                        return;
                }
                r = check_egress(sf, ns, spec, &err);
                if (r < 0) {
                        http_respond_error(req, r == -EINVAL ? 400 : 500, "%s",
                                           err.msg[0] ? err.msg : "cannot check the egress grant");
                        return;
                }
        }
        if (!update) {
                struct tenant_quota q;
                struct store_tenant_usage u;
                struct store_function *old = NULL;
                if (tenants_quota(sf, ns, &q) >= 0 && q.functions && store_tenant_usage(sf->store, ns, &u) >= 0 &&
                    u.functions >= q.functions &&
                    store_function_get(sf->store, ns, json_string_value(json_object_get(spec, "service")), &old) ==
                            -ENOENT) {
                        http_respond_error(req, 409, "namespace '%s' has %llu functions, its functions quota: remove one first",
                                           ns, (unsigned long long) q.functions);
                        return;
                }
                store_function_free(old);
        }
        /* Every secret listed must exist in the function's namespace (faasd:
         * 400 "unable to find secret: X"); core/model/secret_files.c mounts them. */
        secrets = json_object_get(spec, "secrets");
        if (json_array_size(secrets) > SECRET_FILES_MAX) {
                http_respond_error(req, 400, "field 'secrets' lists more than %d secrets", SECRET_FILES_MAX);
                return;
        }
        for (size_t i = 0; i < json_array_size(secrets); i++) {
                const char *sname = json_string_value(json_array_get(secrets, i));
                r = secret_name_valid(sname) ? store_secret_exists(sf->store, ns, sname) : -ENOENT;
                if (r == -ENOENT) {
                        http_respond_error(req, 400, "unable to find secret: %.64s", sname);
                        return;
                }
                if (r < 0) {
                        http_respond_error(req, 500, "cannot read secret '%s': %s", sname, strerror(-r));
                        return;
                }
        }
        /* A tenant deploys its own images and shared ones; the admin any
         * image, which the namespace then owns (store/db.h). */
        r = api_caller(req)->kind == CALLER_TENANT
                    ? store_image_resolve_ns(sf->store, ns, json_string_value(json_object_get(spec, "image")), &img)
                    : store_image_resolve_all(sf->store, ns, json_string_value(json_object_get(spec, "image")), &img);
        /* A registry reference the namespace lacks is pulled into it. */
        if (r == -ENOENT && !pulled &&
            deploy_pull(req, json_string_value(json_object_get(spec, "image")), ns,
                        json_string_value(json_object_get(spec, "service")), update) == 0)
                return;
        if (r == -ENOENT) {
                /* Image names are per namespace: say which one was searched
                 * and how the image gets there. */
                http_respond_error(req, 400,
                                   "image '%s' is not in the image store of namespace '%s' (image names are per "
                                   "namespace): import it there with 'sfaasd image import -n %s FILE' or "
                                   "POST /system/images?namespace=%s, or pull it ('sfaasd image pull -n %s "
                                   "REGISTRY/NAME:TAG'; a deploy pulls a name that starts with its registry) (an "
                                   "image imported into another namespace is stored once and not unpacked again)",
                                   json_string_value(json_object_get(spec, "image")), ns, ns, ns, ns);
                return;
        }
        if (r == -EINVAL || r == -ENOTUNIQ) {
                http_respond_error(req, 400, "image '%s' %s in namespace '%s'",
                                   json_string_value(json_object_get(spec, "image")),
                                   r == -ENOTUNIQ ? "is ambiguous" : "is not a valid reference", ns);
                return;
        }
        if (r < 0) {
                http_respond_error(req, 500, "cannot resolve image: %s", strerror(-r));
                return;
        }
        spec_s = json_dumps(spec, JSON_COMPACT | JSON_SORT_KEYS);
        if (!spec_s) {
                store_image_free(img);
                http_respond_error(req, 500, "out of memory");
                return;
        }
        f.namespace = ns;
        f.name = (char *) json_string_value(json_object_get(spec, "service"));
        f.image = (char *) json_string_value(json_object_get(spec, "image"));
        f.image_id = img->id;
        f.spec_json = spec_s;
        r = update ? store_function_update(sf->store, &f) : store_function_create(sf->store, &f);
        if (r >= 0 && !img->shared) {
                int k = store_image_own(sf->store, ns, img->id);
                if (k < 0)
                        log_error_errno(k, "cannot record that namespace '%s' owns image %s", ns, img->id);
        }
        if (r >= 0)
                api_audit_note(req, "%s function '%s' image '%.100s' (%s)", update ? "updated" : "deployed", f.name,
                               f.image, img->id);
        store_image_free(img);
        f.image_id = NULL;
        if (r == -ENOENT) {
                http_respond_error(req, 404, "function '%s' not found in namespace '%s'", f.name, ns);
                return;
        }
        if (r == -EEXIST) {
                http_respond_error(req, 409, "function '%s' already exists in namespace '%s'", f.name, ns);
                return;
        }
        if (r < 0) {
                http_respond_error(req, 500, "cannot store function: %s", strerror(-r));
                return;
        }
        log_info("%s function '%s.%s' image '%s'", update ? "updated" : "deployed", f.name, ns, f.image);
        logs_daemon(sf->logs, ns, f.name, "%s with image '%s'", update ? "updated" : "deployed", f.image);
        /* Committed: warm instances of an old version are replaced, scale.min starts. */
        stock_drop(sf, ns, f.name);
        pools_function_changed(sf, ns, f.name);
        http_respond(req, update ? 200 : 202, NULL, NULL, NULL, 0);
}

static void functions_delete(struct http_request *req)
{
        struct sfaasd *sf = api_sfaasd(req);
        _cleanup_json_ json_t *body = api_parse_body_object(req);
        char ns[ROUTE_NAME_MAX];
        json_t *v;
        const char *name;
        int r;

        if (!body)
                return;
        v = json_object_get(body, "functionName");
        if (!v || !json_is_string(v) || !*json_string_value(v)) {
                http_respond_error(req, 400, "field 'functionName' is required and must be a string");
                return;
        }
        name = json_string_value(v);
        if (api_resolve_namespace(req, body, ns, sizeof ns) < 0)
                return;
        r = store_function_delete(sf->store, ns, name);
        if (r == -ENOENT) {
                http_respond_error(req, 404, "function %.64s.%s not found", name, ns);
                return;
        }
        if (r < 0) {
                http_respond_error(req, 500, "cannot delete function: %s", strerror(-r));
                return;
        }
        metrics_forget_function(sf->metrics, name, ns);
        stock_drop(sf, ns, name);
        pools_function_removed(sf, ns, name);
        usage_group_remove(sf, ns, name);
        log_info("removed function '%s.%s'", name, ns);
        logs_remove(sf->logs, ns, name);
        http_respond(req, 200, NULL, NULL, NULL, 0);
}

/* OpenFaaS providers label every function faas_function: NAME. Added to
 * the answer only (the stored spec keeps the user's labels as deployed); a
 * label of that name the user set is answered as the name too, as the
 * providers do. The labels object of the answer is a copy: st holds a
 * reference to the spec's, which must not change under it. */
static void add_faas_function_label(json_t *st, const char *name)
{
        json_t *labels = json_object_get(st, "labels");
        json_t *copy = json_is_object(labels) ? json_copy(labels) : json_object();

        if (!copy)
                return;
        (void) json_object_set_new(copy, "faas_function", json_string(name));
        (void) json_object_set_new(st, "labels", copy);
}

/* The part of a function's status that its stored record alone decides:
 * the spec's fields (service as name), namespace, labels with
 * faas_function, createdAt. NULL when the spec is unreadable. */
static json_t *function_status_stored(const struct store_function *f)
{
        json_t *spec = json_loads(f->spec_json, 0, NULL);
        json_t *st;
        char ts[TIME_RFC3339_MAX];
        const char *k;
        json_t *v;

        if (!spec)
                return NULL;
        st = json_object();
        if (!st) {
                json_decref(spec);
                return NULL;
        }
        json_object_foreach(spec, k, v) {
                (void) json_object_set(st, strcmp(k, "service") == 0 ? "name" : k, v);
        }
        json_decref(spec);
        (void) json_object_set_new(st, "namespace", json_string(f->namespace));
        add_faas_function_label(st, f->name);
        time_rfc3339(f->created_at, 9, ts);
        (void) json_object_set_new(st, "createdAt", json_string(ts));
        return st;
}

/* The part the runtime decides now, added to st: replicas and
 * availableReplicas (the warm instances in http mode; exec mode is always
 * ready: core/runtime/pool.h), the "sfaasd" extension, invocationCount.
 * Its keys are never those of function_status_stored(). */
static void function_status_live(struct sfaasd *sf, const struct store_function *f, json_t *st, bool with_count,
                                 bool with_available)
{
        json_t *x;

        pools_status(sf, f->namespace, f->name, st);
        x = json_object_get(st, "sfaasd");
        if (json_is_object(x))
                (void) api_pull_status(sf, f->namespace, f->name, x);
        if (!with_available)
                (void) json_object_del(st, "availableReplicas");
        if (with_count)
                (void) json_object_set_new(
                        st, "invocationCount",
                        json_real((double) metrics_invocation_count(sf->metrics, f->name, f->namespace)));
}

static json_t *function_status(struct sfaasd *sf, const struct store_function *f, bool with_count,
                               bool with_available)
{
        json_t *st = function_status_stored(f);

        if (st)
                function_status_live(sf, f, st, with_count, with_available);
        return st;
}

/* Append text, a JSON object printed by jansson, to out: whole (open),
 * or without its opening brace after a comma (joined to the object out
 * ends with, whose closing brace was left off). */
static void append_object(struct buf *out, const char *text, bool open)
{
        size_t tl = strlen(text);

        if (open) {
                (void) buf_append(out, text, tl - 1);
                return;
        }
        if (tl > 2)
                (void) buf_appendc(out, ',');
        (void) buf_append(out, text + 1, tl - 1);
}

/* One function of the list, appended to out as one JSON object: the text
 * of its stored part (made once per version of the function and kept with
 * its record: pools_status_text) joined with the text of its live part
 * (kept too while it has no instance: pools_status_live_text). Both are
 * objects printed by jansson, with disjoint keys. 0 when it was appended
 * or its spec is unreadable (left out of the list); -ENOMEM. */
static int functions_list_one(struct sfaasd *sf, const struct store_function *f, bool usage, bool first,
                              struct buf *out)
{
        const char *text = pools_status_text(sf, f->namespace, f->name, f->spec_json, f->created_at);
        _cleanup_free_ char *made = NULL, *made_live = NULL;
        uint64_t calls = metrics_invocation_count(sf->metrics, f->name, f->namespace);
        bool keep_live = !usage && !api_pull_pending(sf, f->namespace, f->name);
        const char *live = keep_live ? pools_status_live_text(sf, f->namespace, f->name, calls) : NULL;

        if (!text) {
                _cleanup_json_ json_t *st = function_status_stored(f);
                if (!st)
                        return 0;
                made = json_dumps(st, JSON_COMPACT);
                if (!made)
                        return -ENOMEM;
                (void) pools_status_text_keep(sf, f->namespace, f->name, f->spec_json, f->created_at, made);
                text = made;
        }
        if (!live) {
                _cleanup_json_ json_t *o = json_object();
                if (!o)
                        return -ENOMEM;
                function_status_live(sf, f, o, true, false);
                if (usage && api_add_usage(sf, o, f->namespace, f->name) < 0)
                        return -ENOMEM;
                made_live = json_dumps(o, JSON_COMPACT);
                if (!made_live)
                        return -ENOMEM;
                if (keep_live)
                        (void) pools_status_live_keep(sf, f->namespace, f->name, calls, made_live);
                live = made_live;
        }
        if (strlen(text) < 2 || strlen(live) < 2)
                return -EINVAL; /* jansson printed an object: never */
        if (!first)
                (void) buf_appendc(out, ',');
        append_object(out, text, true);
        append_object(out, live, false);
        return out->err;
}

static void functions_list(struct http_request *req)
{
        struct sfaasd *sf = api_sfaasd(req);
        struct store_function **fs = NULL;
        struct buf out = BUF_INIT(0);
        char ns[ROUTE_NAME_MAX];
        bool usage = api_usage_requested(req);
        bool first = true;
        int r;

        if (api_resolve_namespace(req, NULL, ns, sizeof ns) < 0)
                return;
        r = store_function_list(sf->store, ns, &fs);
        if (r < 0) {
                http_respond_error(req, 500, "cannot list functions: %s", strerror(-r));
                return;
        }
        r = buf_appendc(&out, '[');
        for (struct store_function **p = fs; r >= 0 && *p; p++) {
                size_t before = out.len;
                r = functions_list_one(sf, *p, usage, first, &out);
                if (r >= 0 && out.len > before)
                        first = false;
        }
        store_function_list_free(fs);
        if (r >= 0)
                r = buf_appendc(&out, ']');
        if (r < 0) {
                buf_release(&out);
                http_respond_error(req, 500, "cannot list functions: %s", strerror(-r));
                return;
        }
        http_respond(req, 200, "application/json", NULL, out.p, out.len);
        buf_release(&out);
}

void api_function_get(struct http_request *req, const struct route *rt)
{
        const char *name = rt->name;
        struct sfaasd *sf = api_sfaasd(req);
        struct store_function *f = NULL;
        _cleanup_json_ json_t *st = NULL;
        char ns[ROUTE_NAME_MAX];
        int r;

        if (api_resolve_namespace(req, NULL, ns, sizeof ns) < 0)
                return;
        r = store_function_get(sf->store, ns, name, &f);
        if (r == -ENOENT) {
                http_respond_error(req, 404, "function '%s' not found in namespace '%s'", name, ns);
                return;
        }
        if (r < 0) {
                http_respond_error(req, 500, "cannot read function: %s", strerror(-r));
                return;
        }
        st = function_status(sf, f, false, true);
        if (st && api_usage_requested(req) && api_add_usage(sf, st, f->namespace, f->name) < 0) {
                store_function_free(f);
                http_respond_error(req, 500, "out of memory");
                return;
        }
        store_function_free(f);
        if (!st) {
                http_respond_error(req, 500, "stored function spec is unreadable");
                return;
        }
        api_respond_json(req, 200, st);
}

void api_functions(struct http_request *req, const struct route *rt)
{
        if (strcmp(req->method, "GET") == 0)
                functions_list(req);
        else if (strcmp(req->method, "POST") == 0)
                functions_deploy(req, false);
        else if (strcmp(req->method, "PUT") == 0)
                functions_deploy(req, true);
        else
                functions_delete(req);
}
