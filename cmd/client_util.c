/* SPDX-License-Identifier: MIT */
/* Pure helpers of the client subcommands; see cmd/client.h. */
#include "cmd/client.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/cleanup.h"
#include "core/api/router.h"
#include "core/base/util.h"

#define ERROR_LINE_MAX 300

int client_gateway_normalise(const char *url, char **ret, struct sf_err *err)
{
        _cleanup_free_ char *s = NULL;
        const char *host;
        size_t len;

        if (!url || !*url)
                return sf_err_set(err, -EINVAL, "empty gateway URL");
        for (const char *p = url; *p; p++)
                if ((unsigned char) *p <= ' ' || *p == 0x7f)
                        return sf_err_set(err, -EINVAL, "gateway URL '%s' holds a blank or control character", url);
        if (strstr(url, "://"))
                s = strdup(url);
        else
                s = xasprintf("http://%s", url);
        if (!s)
                return -ENOMEM;
        for (char *p = s; *p; p++)
                *p = (char) tolower((unsigned char) *p);
        len = strlen(s);
        while (len > 0 && s[len - 1] == '/')
                s[--len] = '\0';
        if (str_startswith(s, "http://"))
                host = s + STRLEN("http://");
        else if (str_startswith(s, "https://"))
                host = s + STRLEN("https://");
        else
                return sf_err_set(err, -EINVAL, "gateway URL '%s': only http:// and https:// are supported", url);
        if (*host == '\0' || *host == '/')
                return sf_err_set(err, -EINVAL, "gateway URL '%s' has no host", url);
        *ret = TAKE_PTR(s);
        return 0;
}

int client_kv_parse(const char *s, const char *what, char **ret_key, char **ret_value, struct sf_err *err)
{
        _cleanup_free_ char *key = NULL, *value = NULL;
        const char *eq;

        eq = s ? strchr(s, '=') : NULL;
        if (!eq)
                return sf_err_set(err, -EINVAL, "%s '%s' is not in the form KEY=VALUE", what, s ? s : "");
        if (eq == s)
                return sf_err_set(err, -EINVAL, "%s '%s' has an empty key", what, s);
        key = strndup(s, (size_t) (eq - s));
        value = strdup(eq + 1);
        if (!key || !value)
                return -ENOMEM;
        *ret_key = TAKE_PTR(key);
        *ret_value = TAKE_PTR(value);
        return 0;
}

/* RFC 9110 token characters. */
static bool is_tchar(char c)
{
        return isalnum((unsigned char) c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

int client_header_parse(const char *s, char **ret_name, char **ret_value, struct sf_err *err)
{
        _cleanup_free_ char *name = NULL, *value = NULL;
        const char *colon, *v, *end;

        colon = s ? strchr(s, ':') : NULL;
        if (!colon || colon == s)
                return sf_err_set(err, -EINVAL, "header '%s' is not in the form 'Name: value'", s ? s : "");
        for (const char *p = s; p < colon; p++)
                if (!is_tchar(*p))
                        return sf_err_set(err, -EINVAL, "header '%s' has an invalid name", s);
        for (const char *p = colon; *p; p++)
                if (*p == '\r' || *p == '\n')
                        return sf_err_set(err, -EINVAL, "header '%s' holds a line break", s);
        v = colon + 1;
        while (*v == ' ' || *v == '\t')
                v++;
        end = v + strlen(v);
        while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
                end--;
        name = strndup(s, (size_t) (colon - s));
        value = strndup(v, (size_t) (end - v));
        if (!name || !value)
                return -ENOMEM;
        *ret_name = TAKE_PTR(name);
        *ret_value = TAKE_PTR(value);
        return 0;
}

bool client_name_valid(const char *s)
{
        /* The daemon's own rule (core/api/router.c), so that the client
         * refuses, naming the problem, what the gateway would refuse. */
        return s && route_valid_name(s);
}

/* Fill a JSON object from "K=V" strings; later keys win, as in faas-cli. */
static int kv_object(const char *const *items, size_t n, const char *what, json_t **ret, struct sf_err *err)
{
        _cleanup_(json_decrefp) json_t *obj = json_object();

        if (!obj)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *k = NULL, *v = NULL;
                int r = client_kv_parse(items[i], what, &k, &v, err);
                if (r < 0)
                        return r;
                if (json_object_set_new(obj, k, json_string(v)) < 0)
                        return sf_err_set(err, -EINVAL, "%s '%s' is not valid UTF-8", what, items[i]);
        }
        *ret = TAKE_PTR(obj);
        return 0;
}

static int set_string(json_t *obj, const char *key, const char *value, struct sf_err *err)
{
        if (json_object_set_new(obj, key, json_string(value)) < 0)
                return sf_err_set(err, -EINVAL, "%s '%s' is not valid UTF-8", key, value);
        return 0;
}

int client_deployment_json(const struct deploy_spec *spec, json_t **ret, struct sf_err *err)
{
        _cleanup_(json_decrefp) json_t *d = NULL, *env = NULL, *labels = NULL, *annotations = NULL;
        uint64_t u;
        int r;

        if (!spec->name || !client_name_valid(spec->name))
                return sf_err_set(err, -EINVAL, "invalid function name '%s': use letters, digits, '-' and '_'",
                                  spec->name ? spec->name : "");
        if (!spec->image || !*spec->image)
                return sf_err_set(err, -EINVAL, "an image is required (--image)");
        if (spec->namespace && !client_name_valid(spec->namespace))
                return sf_err_set(err, -EINVAL, "invalid namespace '%s'", spec->namespace);
        if (spec->memory && parse_size(spec->memory, &u) < 0)
                return sf_err_set(err, -EINVAL, "invalid memory '%s': use a quantity such as 128Mi or 1G",
                                  spec->memory);
        if (spec->cpu && parse_cpu_millis(spec->cpu, &u) < 0)
                return sf_err_set(err, -EINVAL, "invalid cpu '%s': use a quantity such as 100m or 0.5", spec->cpu);

        d = json_object();
        if (!d)
                return -ENOMEM;
        if ((r = set_string(d, "service", spec->name, err)) < 0 || (r = set_string(d, "image", spec->image, err)) < 0)
                return r;
        if (spec->namespace && (r = set_string(d, "namespace", spec->namespace, err)) < 0)
                return r;
        if (spec->fprocess && *spec->fprocess && (r = set_string(d, "envProcess", spec->fprocess, err)) < 0)
                return r;

        r = kv_object(spec->env, spec->n_env, "env", &env, err);
        if (r < 0)
                return r;
        if (json_object_size(env) > 0 && json_object_set(d, "envVars", env) < 0)
                return -ENOMEM;

        if (spec->n_secrets > 0) {
                json_t *secrets = json_array();
                if (!secrets || json_object_set_new(d, "secrets", secrets) < 0)
                        return -ENOMEM;
                for (size_t i = 0; i < spec->n_secrets; i++) {
                        if (!client_name_valid(spec->secrets[i]))
                                return sf_err_set(err, -EINVAL, "invalid secret name '%s'", spec->secrets[i]);
                        if (json_array_append_new(secrets, json_string(spec->secrets[i])) < 0)
                                return -ENOMEM;
                }
        }

        /* faas-cli always sends labels and annotations, {} when none. */
        r = kv_object(spec->labels, spec->n_labels, "label", &labels, err);
        if (r < 0)
                return r;
        r = kv_object(spec->annotations, spec->n_annotations, "annotation", &annotations, err);
        if (r < 0)
                return r;
        if (json_object_set(d, "labels", labels) < 0 || json_object_set(d, "annotations", annotations) < 0)
                return -ENOMEM;

        if (spec->memory || spec->cpu) {
                json_t *limits = json_object();
                if (!limits || json_object_set_new(d, "limits", limits) < 0)
                        return -ENOMEM;
                if (spec->memory && (r = set_string(limits, "memory", spec->memory, err)) < 0)
                        return r;
                if (spec->cpu && (r = set_string(limits, "cpu", spec->cpu, err)) < 0)
                        return r;
        }
        if (spec->readonly && json_object_set_new(d, "readOnlyRootFilesystem", json_true()) < 0)
                return -ENOMEM;

        *ret = TAKE_PTR(d);
        return 0;
}

/* Append s to b, URL-encoded as a query parameter: unreserved bytes as they
 * are, ' ' as '+', the first '=' kept (it splits key from value), every
 * other byte as %xx, so a value can never start another parameter. */
static char *query_encode(char *b, const char *s)
{
        static const char hex[] = "0123456789abcdef";
        bool eq = true;

        for (; *s; s++) {
                unsigned char ch = (unsigned char) *s;

                if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                    ch == '-' || ch == '.' || ch == '_' || ch == '~' || (ch == '=' && eq)) {
                        *b++ = (char) ch;
                        eq = eq && ch != '=';
                } else if (ch == ' ') {
                        *b++ = '+';
                } else {
                        *b++ = '%';
                        *b++ = hex[ch >> 4];
                        *b++ = hex[ch & 15];
                }
        }
        return b;
}

int client_url(const char *gateway, const char *path, const char *const *query, size_t n, char **ret)
{
        size_t len, add;
        char *out, *p;
        bool has_query;

        if (!gateway || !path)
                return -EINVAL;
        if (size_add(strlen(gateway), strlen(path), &len) < 0 || size_add(len, 1, &len) < 0)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) /* '?' or '&', then at most 3 bytes per byte */
                if (size_mul(strlen(query[i]), 3, &add) < 0 || size_add(add, 1, &add) < 0 ||
                    size_add(len, add, &len) < 0)
                        return -ENOMEM;
        out = malloc(len);
        if (!out)
                return -ENOMEM;
        has_query = strchr(gateway, '?') || strchr(path, '?');
        p = stpcpy(stpcpy(out, gateway), path);
        for (size_t i = 0; i < n; i++) {
                *p++ = i == 0 && !has_query ? '?' : '&';
                p = query_encode(p, query[i]);
        }
        *p = '\0';
        *ret = out;
        return 0;
}

int client_function_path(const char *name, const char *namespace, char **ret)
{
        char *p;

        if (!client_name_valid(name) || (namespace && !client_name_valid(namespace)))
                return -EINVAL;
        p = namespace ? xasprintf("/function/%s.%s", name, namespace) : xasprintf("/function/%s", name);
        if (!p)
                return -ENOMEM;
        *ret = p;
        return 0;
}

/* Copy at most max bytes of s, with control characters (and the bytes of an
 * invalid tail) shown as '?', so a hostile body cannot drive the terminal. */
static char *sanitised_line(const char *s, size_t len, size_t max)
{
        size_t n = len < max ? len : max;
        char *out = malloc(n + 1);

        if (!out)
                return NULL;
        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char) s[i];
                out[i] = (c < 0x20 || c == 0x7f) ? '?' : (char) c;
        }
        out[n] = '\0';
        return out;
}

char *client_error_message(const char *body, size_t len)
{
        _cleanup_(json_decrefp) json_t *j = NULL;
        const char *p = body, *end = body + len;

        if (!body || len == 0)
                return NULL;
        j = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
        if (j && json_is_object(j)) {
                json_t *e = json_object_get(j, "error");
                if (!json_is_string(e))
                        e = json_object_get(j, "message");
                if (json_is_string(e) && json_string_length(e) > 0)
                        return sanitised_line(json_string_value(e), json_string_length(e), ERROR_LINE_MAX);
        }
        /* First non-blank line. */
        while (p < end) {
                const char *nl = memchr(p, '\n', (size_t) (end - p));
                const char *line_end = nl ? nl : end, *q = line_end;
                while (q > p && isspace((unsigned char) q[-1]))
                        q--;
                while (p < q && isspace((unsigned char) *p))
                        p++;
                if (q > p)
                        return sanitised_line(p, (size_t) (q - p), ERROR_LINE_MAX);
                p = line_end + (nl ? 1 : 0);
        }
        return NULL;
}

const char *client_status_reason(long code)
{
        static const struct { long code; const char *text; } reasons[] = {
                { 200, "OK" }, { 201, "Created" }, { 202, "Accepted" }, { 204, "No Content" },
                { 400, "Bad Request" }, { 401, "Unauthorized" }, { 403, "Forbidden" }, { 404, "Not Found" },
                { 405, "Method Not Allowed" }, { 408, "Request Timeout" }, { 409, "Conflict" },
                { 413, "Content Too Large" }, { 422, "Unprocessable Content" }, { 429, "Too Many Requests" },
                { 500, "Internal Server Error" }, { 501, "Not Implemented" }, { 502, "Bad Gateway" },
                { 503, "Service Unavailable" }, { 504, "Gateway Timeout" },
        };
        for (size_t i = 0; i < ELEMENTSOF(reasons); i++)
                if (reasons[i].code == code)
                        return reasons[i].text;
        return "";
}

int client_format_size(unsigned long long bytes, char *buf, size_t size)
{
        static const char *const units[] = { "KiB", "MiB", "GiB", "TiB" };
        double v = (double) bytes;
        size_t i = 0;

        if (bytes < 1024)
                return xsnprintf(buf, size, "%llu B", bytes);
        v /= 1024.0;
        while (v >= 1024.0 && i + 1 < ELEMENTSOF(units)) {
                v /= 1024.0;
                i++;
        }
        return xsnprintf(buf, size, "%.1f %s", v, units[i]);
}
