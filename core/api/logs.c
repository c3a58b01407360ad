/* SPDX-License-Identifier: MIT */
/*
 * GET /system/logs?name=&namespace=&instance=&tail=&since=&follow= : a
 * function's stored log records as NDJSON (OpenFaaS logs.Message), then,
 * with follow=true, new ones as they come (core/runtime/logs.h).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/api/api.h"
#include "core/base/cleanup.h"
#include "core/base/timefmt.h"
#include "core/base/util.h"
#include "core/runtime/logs.h"
#include "core/sfaasd.h"

/* strconv.ParseBool's spellings (faas-cli sends true/false, go-sdk 1/0). */
static int parse_bool(const char *s, bool *ret)
{
        static const char *const yes[] = { "1", "t", "T", "TRUE", "true", "True" };
        static const char *const no[] = { "0", "f", "F", "FALSE", "false", "False" };
        for (size_t i = 0; i < ELEMENTSOF(yes); i++)
                if (strcmp(s, yes[i]) == 0) {
                        *ret = true;
                        return 0;
                }
        for (size_t i = 0; i < ELEMENTSOF(no); i++)
                if (strcmp(s, no[i]) == 0) {
                        *ret = false;
                        return 0;
                }
        return -EINVAL;
}

/* RFC 3339 ("2026-01-02T03:04:05Z", fraction and offset optional) to the
 * fixed-width UTC form the records use. */
static int parse_since(const char *s, char out[TIME_RFC3339_MAX])
{
        struct tm tm = { 0 };
        const char *p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
        long frac = 0, scale = 100000000;
        time_t t;

        if (!p)
                return -EINVAL;
        if (*p == '.') {
                p++;
                if (*p < '0' || *p > '9')
                        return -EINVAL;
                for (; *p >= '0' && *p <= '9'; p++) {
                        frac += (long) (*p - '0') * scale;
                        scale /= 10;
                }
        }
        t = timegm(&tm);
        if (*p == 'Z' || *p == 'z') {
                p++;
        } else if ((*p == '+' || *p == '-') && p[1] >= '0' && p[1] <= '9' && p[2] >= '0' && p[2] <= '9' &&
                   p[3] == ':' && p[4] >= '0' && p[4] <= '9' && p[5] >= '0' && p[5] <= '9') {
                int off = ((p[1] - '0') * 10 + (p[2] - '0')) * 3600 + ((p[4] - '0') * 10 + (p[5] - '0')) * 60;
                t -= *p == '+' ? off : -off;
                p += 6;
        } else {
                return -EINVAL;
        }
        if (*p != '\0')
                return -EINVAL;
        time_rfc3339_ts(t, frac, 9, out);
        return 0;
}

void api_logs(struct http_request *req)
{
        struct sfaasd *sf = api_sfaasd(req);
        _cleanup_free_ char *name = http_query_param(req, "name");
        _cleanup_free_ char *instance = http_query_param(req, "instance");
        _cleanup_free_ char *tail_s = http_query_param(req, "tail");
        _cleanup_free_ char *follow_s = http_query_param(req, "follow");
        _cleanup_free_ char *since_s = http_query_param(req, "since");
        struct store_function *fn = NULL;
        char ns[ROUTE_NAME_MAX], since[TIME_RFC3339_MAX] = "";
        bool follow = false;
        long tail = -1;
        int r;

        if (!name || !*name) {
                http_respond_error(req, 400, "query parameter 'name' is required");
                return;
        }
        if (!route_valid_name(name)) {
                http_respond_error(req, 400, "invalid function name '%.64s'", name);
                return;
        }
        if (tail_s && *tail_s) {
                char *end;
                errno = 0;
                tail = strtol(tail_s, &end, 10);
                if (errno || *end) {
                        http_respond_error(req, 422, "query parameter 'tail' must be an integer");
                        return;
                }
        }
        if (follow_s && *follow_s && parse_bool(follow_s, &follow) < 0) {
                http_respond_error(req, 422, "query parameter 'follow' must be true/false or 1/0");
                return;
        }
        if (since_s && *since_s && parse_since(since_s, since) < 0) {
                http_respond_error(req, 422, "query parameter 'since' must be an RFC 3339 time");
                return;
        }
        if (instance && strlen(instance) >= 128) {
                http_respond_error(req, 400, "query parameter 'instance' is too long");
                return;
        }
        if (api_resolve_namespace(req, NULL, ns, sizeof ns) < 0)
                return;
        r = store_function_get(sf->store, ns, name, &fn);
        store_function_free(fn);
        if (r == -ENOENT) {
                http_respond_error(req, 404, "function '%s' not found in namespace '%s'", name, ns);
                return;
        }
        if (r < 0) {
                http_respond_error(req, 500, "cannot read function: %s", strerror(-r));
                return;
        }

        r = http_stream_begin(req, 200, "application/x-ndjson", NULL);
        if (r >= 0)
                r = logs_write_stored(sf->logs, req, ns, name, instance ? instance : "", since, tail);
        if (r >= 0 && follow && !sf->stopping && logs_follow(sf->logs, req, ns, name, instance ? instance : "") >= 0)
                return;
        http_stream_end(req);
}
