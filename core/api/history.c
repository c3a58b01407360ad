/* SPDX-License-Identifier: MIT */
/*
 * The routes over core/runtime/history.h (the console's charts):
 *
 *   GET /system/function/NAME/history?namespace=NS   the function's last hour
 *   GET /system/history/functions?namespace=NS      totals since the start
 *                                                   of every function of NS
 *   GET /system/history                             the host's last hour
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/api/api.h"
#include "core/base/cleanup.h"
#include "core/base/log.h"
#include "core/base/util.h"
#include "core/runtime/history.h"
#include "core/runtime/pool.h"
#include "core/sfaasd.h"

static void respond(struct http_request *req, json_t *v)
{
        char *s;
        if (!v) {
                http_respond_error(req, 500, "out of memory");
                return;
        }
        s = json_dumps(v, JSON_COMPACT | JSON_REAL_PRECISION(6));
        json_decref(v);
        if (!s) {
                http_respond_error(req, 500, "out of memory");
                return;
        }
        http_respond(req, 200, "application/json", "Cache-Control: no-store\r\n", s, strlen(s));
        free(s);
}

static void handle_function(struct http_request *req, const char *name)
{
        struct sfaasd *sf = api_sfaasd(req);
        struct store_function *f = NULL;
        char ns[ROUTE_NAME_MAX];
        int64_t now = history_now();
        int r;

        if (api_resolve_namespace(req, NULL, ns, sizeof ns) < 0)
                return;
        r = store_function_get(sf->store, ns, name, &f);
        store_function_free(f);
        if (r == -ENOENT) {
                http_respond_error(req, 404, "function '%s' not found in namespace '%s'", name, ns);
                return;
        }
        if (r < 0) {
                http_respond_error(req, 500, "cannot read function: %s", strerror(-r));
                return;
        }
        /* The slot under way shows the instances of this moment. */
        history_sample_function(sf, ns, name, now);
        respond(req, history_function_json(sf->history, ns, name, now));
}

static void handle_totals(struct http_request *req)
{
        struct sfaasd *sf = api_sfaasd(req);
        struct store_function **fs = NULL;
        json_t *o = json_object(), *fns = json_object();
        char ns[ROUTE_NAME_MAX];
        int r;

        if (api_resolve_namespace(req, NULL, ns, sizeof ns) < 0) {
                json_decref(o);
                json_decref(fns);
                return;
        }
        r = store_function_list(sf->store, ns, &fs);
        if (r < 0 || !o || !fns) {
                store_function_list_free(fs);
                json_decref(o);
                json_decref(fns);
                http_respond_error(req, 500, "cannot list functions: %s", strerror(r < 0 ? -r : ENOMEM));
                return;
        }
        for (struct store_function **f = fs; *f; f++) {
                json_t *t = history_totals_json(history_find(sf->history, ns, (*f)->name));
                if (!t || json_object_set_new(fns, (*f)->name, t) < 0) {
                        store_function_list_free(fs);
                        json_decref(o);
                        json_decref(fns);
                        http_respond_error(req, 500, "out of memory");
                        return;
                }
        }
        store_function_list_free(fs);
        /* set_new takes fns even when it fails; o then frees it. */
        if (json_object_set_new(o, "functions", fns) < 0 ||
            json_object_set_new(o, "namespace", json_string(ns)) < 0) {
                json_decref(o);
                http_respond_error(req, 500, "out of memory");
                return;
        }
        respond(req, o);
}

static void handle_host(struct http_request *req)
{
        struct sfaasd *sf = api_sfaasd(req);
        int64_t now = history_now();
        history_sample_host(sf, false, now);
        respond(req, history_host_json(sf->history, now));
}

void api_history(struct http_request *req, const struct route *rt)
{
        if (rt->id == ROUTE_FUNCTION_HISTORY)
                handle_function(req, rt->name);
        else if (rt->id == ROUTE_HISTORY_FUNCTIONS)
                handle_totals(req);
        else
                handle_host(req);
}
