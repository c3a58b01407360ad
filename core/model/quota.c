/* SPDX-License-Identifier: MIT */
/* Quotas and ceilings as data (core/model/quota.h). */
#include "core/model/quota.h"

#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <string.h>

#include "core/base/cleanup.h"
#include "core/base/util.h"

enum qkind { Q_COUNT, Q_SIZE, Q_CPU };

static const struct {
        const char *key;
        enum qkind kind;
        size_t off;
} qkeys[] = {
        { "functions", Q_COUNT, offsetof(struct tenant_quota, functions) },
        { "instances", Q_COUNT, offsetof(struct tenant_quota, instances) },
        { "memory", Q_SIZE, offsetof(struct tenant_quota, memory_bytes) },
        { "cpu", Q_CPU, offsetof(struct tenant_quota, cpu_millis) },
        { "pids", Q_COUNT, offsetof(struct tenant_quota, pids) },
        { "imageBytes", Q_SIZE, offsetof(struct tenant_quota, image_bytes) },
        { "secrets", Q_COUNT, offsetof(struct tenant_quota, secrets) },
        { "asyncQueued", Q_COUNT, offsetof(struct tenant_quota, async_queued) },
        { "invokeRate", Q_COUNT, offsetof(struct tenant_quota, invoke_rate) },
        { "invokeConcurrency", Q_COUNT, offsetof(struct tenant_quota, invoke_concurrency) },
};

static int qkey_index(const char *key)
{
        for (size_t i = 0; i < ELEMENTSOF(qkeys); i++)
                if (strcmp(qkeys[i].key, key) == 0)
                        return (int) i;
        return -1;
}

/* A value of key i: a non-negative integer, or a string in the key's
 * unit ("1Gi", "500m", "12"). */
static int qvalue(int i, json_t *v, uint64_t *ret)
{
        if (json_is_integer(v) && json_integer_value(v) >= 0) {
                uint64_t n = (uint64_t) json_integer_value(v);
                /* A bare number of CPUs, as in the config. */
                if (qkeys[i].kind == Q_CPU && __builtin_mul_overflow(n, 1000, &n))
                        return -ERANGE;
                *ret = n;
                return 0;
        }
        if (!json_is_string(v))
                return -EINVAL;
        switch (qkeys[i].kind) {
        case Q_SIZE: return parse_size(json_string_value(v), ret);
        case Q_CPU: return parse_cpu_millis(json_string_value(v), ret);
        default: return parse_u64(json_string_value(v), ret);
        }
}

int tenant_quota_effective(const struct tenant_quota *defaults, const char *overrides_json,
                           struct tenant_quota *ret, struct sf_err *err)
{
        json_t *o = json_loads(overrides_json ? overrides_json : "{}", 0, NULL);
        struct tenant_quota q = *defaults;
        const char *k;
        json_t *v;

        if (!json_is_object(o)) {
                json_decref(o);
                return sf_err_set(err, -EINVAL, "stored quotas are not a JSON object");
        }
        json_object_foreach(o, k, v) {
                int i = qkey_index(k);
                uint64_t n;
                if (i < 0 || qvalue(i, v, &n) < 0) {
                        json_decref(o);
                        return sf_err_set(err, -EINVAL, "stored quota '%s' is not valid", k);
                }
                *(uint64_t *) ((char *) &q + qkeys[i].off) = n;
        }
        json_decref(o);
        *ret = q;
        return 0;
}

int tenant_quota_merge(json_t *overrides, json_t *changes, struct sf_err *err)
{
        const char *k;
        json_t *v;

        if (!json_is_object(changes))
                return sf_err_set(err, -EINVAL, "'quotas' must be an object");
        json_object_foreach(changes, k, v) {
                int i = qkey_index(k);
                uint64_t n;
                if (i < 0)
                        return sf_err_set(err, -EINVAL,
                                          "unknown quota '%.64s' (functions, instances, memory, cpu, pids, imageBytes, "
                                          "secrets, asyncQueued, invokeRate, invokeConcurrency)",
                                          k);
                if (json_is_null(v)) {
                        (void) json_object_del(overrides, k);
                        continue;
                }
                if (qvalue(i, v, &n) < 0)
                        return sf_err_set(err, -EINVAL, "quota '%s' has a bad value: use a number%s (0: no limit)",
                                          k,
                                          qkeys[i].kind == Q_SIZE  ? " of bytes or a size such as \"1Gi\""
                                          : qkeys[i].kind == Q_CPU ? " of CPUs or a quantity such as \"500m\""
                                                                   : "");
                /* Stored in a form qvalue() reads back as the same value:
                 * a bare number is CPUs for cpu, so millicores go as "Nm". */
                if (qkeys[i].kind == Q_CPU) {
                        char buf[32];
                        (void) xsnprintf(buf, sizeof buf, "%" PRIu64 "m", n);
                        v = json_string(buf);
                } else {
                        v = json_integer((json_int_t) n);
                }
                if (json_object_set_new(overrides, k, v) < 0)
                        return -ENOMEM;
        }
        return 0;
}

json_t *tenant_quota_json(const struct tenant_quota *q)
{
        json_t *o = json_object();
        if (!o)
                return NULL;
        for (size_t i = 0; i < ELEMENTSOF(qkeys); i++) {
                uint64_t n = *(const uint64_t *) ((const char *) q + qkeys[i].off);
                json_t *v;
                if (qkeys[i].kind == Q_CPU) {
                        char buf[32];
                        (void) xsnprintf(buf, sizeof buf, "%" PRIu64 "m", n);
                        v = n ? json_string(buf) : json_integer(0);
                } else {
                        v = json_integer((json_int_t) n);
                }
                if (json_object_set_new(o, qkeys[i].key, v) < 0) {
                        json_decref(o);
                        return NULL;
                }
        }
        return o;
}

static const char *meta(json_t *spec, const char *key)
{
        const char *v = json_string_value(json_object_get(json_object_get(spec, "annotations"), key));
        return v ? v : json_string_value(json_object_get(json_object_get(spec, "labels"), key));
}

static int above(struct sf_err *err, const char *what, const char *asked, const char *ceiling, const char *key)
{
        return sf_err_set(err, -E2BIG, "%s '%.64s' is above the ceiling of %s (%s)", what, asked, ceiling, key);
}

int function_check_ceilings(const struct function_ceilings *c, json_t *spec, struct sf_err *err)
{
        static const char *const res[] = { "limits", "requests" };
        char lim[32];
        uint64_t n;

        for (size_t i = 0; i < ELEMENTSOF(res); i++) {
                json_t *r = json_object_get(spec, res[i]);
                const char *m = json_string_value(json_object_get(r, "memory"));
                const char *cpu = json_string_value(json_object_get(r, "cpu"));
                char what[32];
                if (c->memory_bytes && m && parse_size(m, &n) == 0 && n > c->memory_bytes) {
                        (void) xsnprintf(what, sizeof what, "%s.memory", res[i]);
                        (void) xsnprintf(lim, sizeof lim, "%" PRIu64 " bytes", c->memory_bytes);
                        return above(err, what, m, lim, "function_max_memory");
                }
                if (c->cpu_millis && cpu && parse_cpu_millis(cpu, &n) == 0 && n > c->cpu_millis) {
                        (void) xsnprintf(what, sizeof what, "%s.cpu", res[i]);
                        (void) xsnprintf(lim, sizeof lim, "%" PRIu64 "m", c->cpu_millis);
                        return above(err, what, cpu, lim, "function_max_cpu");
                }
        }
        if (c->timeout_ms) {
                const char *t = json_string_value(json_object_get(json_object_get(spec, "envVars"), "exec_timeout"));
                (void) xsnprintf(lim, sizeof lim, "%" PRIu64 "ms", c->timeout_ms);
                if (t && parse_duration_ms(t, &n) == 0 && n > c->timeout_ms)
                        return above(err, "envVars.exec_timeout", t, lim, "function_max_timeout");
                t = meta(spec, "com.sfaasd.timeout");
                if (t && parse_duration_ms(t, &n) == 0 && n > c->timeout_ms)
                        return above(err, "com.sfaasd.timeout", t, lim, "function_max_timeout");
        }
        if (c->scale_max) {
                static const char *const keys[] = { "com.openfaas.scale.max", "com.openfaas.scale.min" };
                (void) xsnprintf(lim, sizeof lim, "%" PRIu64, c->scale_max);
                for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
                        const char *t = meta(spec, keys[i]);
                        if (t && parse_u64(t, &n) == 0 && n > c->scale_max)
                                return above(err, keys[i], t, lim, "function_max_scale");
                }
        }
        return 0;
}
