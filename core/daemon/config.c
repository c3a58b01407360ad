/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "core/base/cleanup.h"
#include "core/base/util.h"
#include "core/daemon/config.h"
#include "core/sfaasd.h"
#include "store/image.h"

void config_defaults(struct sfaasd_config *cfg)
{
        memset(cfg, 0, sizeof *cfg);
        (void) xsnprintf(cfg->listen, sizeof cfg->listen, "127.0.0.1:8080");
        (void) xsnprintf(cfg->data_dir, sizeof cfg->data_dir, "./.sfaasd-data");
        cfg->http.max_header_bytes = 16384;
        cfg->http.max_headers = 100;
        cfg->http.max_url_bytes = 8192;
        cfg->http.max_body_bytes = 8u << 20;
        cfg->http.max_stream_bytes = 2ULL << 30;
        cfg->http.max_connections = 1024;
        cfg->http.max_connections_per_client = 256;
        cfg->http.header_timeout_ms = 10000;
        cfg->http.idle_timeout_ms = 60000;
        cfg->http.first_byte_timeout_ms = 5000;
        cfg->http.request_timeout_ms = 60000;
        cfg->http.body_timeout_ms = 10000;
        cfg->http.body_min_rate = 1024;
        cfg->image.max_archive_bytes = IMAGE_DEFAULT_MAX_ARCHIVE_BYTES;
        cfg->image.max_unpacked_bytes = IMAGE_DEFAULT_MAX_UNPACKED_BYTES;
        cfg->image.max_entries = IMAGE_DEFAULT_MAX_ENTRIES;
        cfg->image.max_path_len = IMAGE_DEFAULT_MAX_PATH_LEN;
        cfg->image.max_layers = IMAGE_DEFAULT_MAX_LAYERS;
        cfg->function.memory_bytes = SANDBOX_DEFAULT_MEMORY_BYTES;
        cfg->function.pids = SANDBOX_DEFAULT_PIDS;
        cfg->function.cpu_millis = SANDBOX_DEFAULT_CPU_MILLIS;
        cfg->function.tmpfs_bytes = SANDBOX_DEFAULT_TMPFS_BYTES;
        cfg->function.tmpfs_inodes = SANDBOX_DEFAULT_TMPFS_INODES;
        cfg->function.nofile = SANDBOX_DEFAULT_NOFILE;
        cfg->function.timeout_ms = 60000;
        cfg->max_output_bytes = 16ULL << 20;
        cfg->max_stderr_bytes = 64ULL << 10;
        cfg->shutdown_grace_ms = 30000;
        cfg->log_bytes = 1u << 20;
        cfg->cgroups = true;
        cfg->async_concurrency = 1;
        cfg->async_max_running = 8;
        cfg->async_callback_retries = 5;
        cfg->async_callback_timeout_ms = 10000;
        cfg->async_result_bytes = 64u << 10;
        cfg->async_callback_allow_loopback = false;
        cfg->async_queue_max = 100000;
        cfg->egress_max_connections = 1000;
        cfg->egress_max_bytes = 1ULL << 30;
        cfg->egress_max_open = 64;
        cfg->egress_connect_timeout_ms = 10000;
        cfg->async_queue_max_bytes = 1ULL << 30;
        cfg->async_function_queue_max = 10000;
        cfg->async_function_queue_max_bytes = 256ULL << 20;
        cfg->http_idle_ms = 5 * 60 * 1000;
        cfg->http_grace_ms = 10000;
        cfg->http_timeout_ms = 60000;
        cfg->http_ready_timeout_ms = 30000;
        cfg->http_queue_max = 1000;
        cfg->http_max_instances = 20;
        cfg->scale_down_window_ms = 30000;
        cfg->async_retention_ms = 24ULL * 3600 * 1000;
        cfg->metrics_auth = false;
        /* Tenants: counts that stop a runaway, not a capacity plan; the
         * kernel-held ones (memory, cpu, pids) are the operator's call. */
        cfg->tenant.functions = 1000;
        cfg->tenant.secrets = 1000;
        cfg->ceiling.memory_bytes = 4ULL << 30;
        cfg->ceiling.cpu_millis = 4000;
        cfg->ceiling.timeout_ms = 3600ULL * 1000;
        cfg->ceiling.scale_max = 100;
        cfg->uid_base = 0;
        cfg->uid_ranges = 1024;
        (void) xsnprintf(cfg->subuid_file, sizeof cfg->subuid_file, "/etc/subuid");
        (void) xsnprintf(cfg->subgid_file, sizeof cfg->subgid_file, "/etc/subgid");
        (void) xsnprintf(cfg->passwd_file, sizeof cfg->passwd_file, "/etc/passwd");
        (void) xsnprintf(cfg->group_file, sizeof cfg->group_file, "/etc/group");
        /* /metrics names every tenant's functions and their traffic: closed
         * unless the operator opens it ("metrics_auth": false). */
        cfg->metrics_auth = true;
        cfg->max_sandboxes = 0;    /* from the host (admit_cap) */
        cfg->sandboxes_memory = 0; /* 3/4 of MemTotal */
        cfg->sandboxes_pids = 0;   /* half of pid_max */
        cfg->exec_max_inflight = 16;
        cfg->exec_queue_max = 100;
        cfg->exec_stock_max = 2;
        cfg->exec_stock_idle_ms = 60000;
        cfg->auth_throttle_after = 5;
        cfg->auth_throttle_max_ms = 10 * 60 * 1000;
        cfg->registry_concurrency = 3;
        cfg->registry_attempts = 3;
        cfg->registry_timeout_ms = 60000;
        cfg->registry_idle_timeout_ms = 30000;
        cfg->registry_retry_delay_ms = 500;
        cfg->pull_on_deploy = true;
        cfg->registry_allow_loopback = false;
}

enum kind { K_STR, K_SIZE, K_COUNT, K_MS, K_CPU, K_BOOL, K_REGISTRIES, K_MIRRORS };

struct key {
        const char *name;
        enum kind kind;
        size_t off;
        size_t width; /* sizeof the field */
        uint64_t min, max; /* numbers: the accepted range (in the field's unit); 0 = none */
        bool zero_ok;      /* 0 is a value (no limit, or derived at start), outside min..max */
};

#define F(field) .off = offsetof(struct sfaasd_config, field), .width = sizeof(((struct sfaasd_config *) 0)->field)
static const struct key keys[] = {
        { "listen", K_STR, F(listen) },
        { "tls_listen", K_STR, F(tls_listen) },
        { "tls_cert", K_STR, F(tls_cert) },
        { "tls_key", K_STR, F(tls_key) },
        { "tls_self_signed", K_BOOL, F(tls_self_signed) },
        { "secrets_key_file", K_STR, F(secrets_key_file) },
        { "data", K_STR, F(data_dir) },
        { "max_header_bytes", K_SIZE, F(http.max_header_bytes) },
        { "max_headers", K_COUNT, F(http.max_headers) },
        { "max_url_bytes", K_SIZE, F(http.max_url_bytes) },
        { "max_body_bytes", K_SIZE, F(http.max_body_bytes) },
        { "max_upload_bytes", K_SIZE, F(http.max_stream_bytes) },
        { "max_connections", K_COUNT, F(http.max_connections) },
        { "max_connections_per_client", K_COUNT, F(http.max_connections_per_client) },
        { "header_timeout", K_MS, F(http.header_timeout_ms) },
        { "idle_timeout", K_MS, F(http.idle_timeout_ms) },
        { "first_byte_timeout", K_MS, F(http.first_byte_timeout_ms) },
        { "request_timeout", K_MS, F(http.request_timeout_ms) },
        { "body_timeout", K_MS, F(http.body_timeout_ms) },
        /* bytes per second ("1Ki" or 1024) */
        { "body_min_rate", K_SIZE, F(http.body_min_rate) },
        { "max_image_bytes", K_SIZE, F(image.max_archive_bytes) },
        { "max_unpacked_bytes", K_SIZE, F(image.max_unpacked_bytes) },
        { "max_image_entries", K_COUNT, F(image.max_entries) },
        { "function_memory", K_SIZE, F(function.memory_bytes) },
        { "function_pids", K_COUNT, F(function.pids) },
        { "function_cpu", K_CPU, F(function.cpu_millis) },
        { "function_tmpfs", K_SIZE, F(function.tmpfs_bytes) },
        { "function_tmpfs_inodes", K_COUNT, F(function.tmpfs_inodes) },
        { "function_nofile", K_COUNT, F(function.nofile) },
        { "function_timeout", K_MS, F(function.timeout_ms) },
        { "max_output_bytes", K_SIZE, F(max_output_bytes) },
        { "shutdown_grace", K_MS, F(shutdown_grace_ms) },
        { "log_bytes", K_SIZE, F(log_bytes) },
        { "cgroups", K_BOOL, F(cgroups) },
        { "async_concurrency", K_COUNT, F(async_concurrency) },
        { "async_max_running", K_COUNT, F(async_max_running) },
        { "async_callback_retries", K_COUNT, F(async_callback_retries) },
        { "async_callback_timeout", K_MS, F(async_callback_timeout_ms) },
        { "async_result_bytes", K_SIZE, F(async_result_bytes) },
        { "async_callback_allow_loopback", K_BOOL, F(async_callback_allow_loopback) },
        { "egress_allow", K_STR, F(egress_allow) },
        { "egress_resolve_file", K_STR, F(egress_resolve_file) },
        { "egress_ca_file", K_STR, F(egress_ca_file) },
        { "egress_max_connections", K_COUNT, F(egress_max_connections), .zero_ok = true },
        { "egress_max_bytes", K_SIZE, F(egress_max_bytes), .zero_ok = true },
        { "egress_max_open", K_COUNT, F(egress_max_open), .zero_ok = true },
        /* at most an hour: a connect the kernel has long given up on */
        { "egress_connect_timeout", K_MS, F(egress_connect_timeout_ms), .min = 1, .max = 3600ULL * 1000 },
        { "async_queue_max", K_COUNT, F(async_queue_max), .min = 1 },
        { "async_queue_max_bytes", K_SIZE, F(async_queue_max_bytes), .min = 1 },
        { "async_function_queue_max", K_COUNT, F(async_function_queue_max), .min = 1 },
        { "async_function_queue_max_bytes", K_SIZE, F(async_function_queue_max_bytes), .min = 1 },
        { "http_idle", K_MS, F(http_idle_ms) },
        { "http_grace", K_MS, F(http_grace_ms) },
        { "http_timeout", K_MS, F(http_timeout_ms) },
        { "http_ready_timeout", K_MS, F(http_ready_timeout_ms) },
        { "http_queue_max", K_COUNT, F(http_queue_max) },
        { "http_max_instances", K_COUNT, F(http_max_instances) },
        /* at most an hour: the window's buckets stay meaningful */
        { "scale_down_window", K_MS, F(scale_down_window_ms), .zero_ok = true, .max = 3600ULL * 1000 },
        /* at least 1 s; at most ten years, so that now minus it stays far from
         * int64 nanoseconds' limits */
        { "async_retention", K_MS, F(async_retention_ms), .min = 1000, .max = 3650ULL * 24 * 3600 * 1000 },
        { "metrics_auth", K_BOOL, F(metrics_auth) },
        { "tenant_functions", K_COUNT, F(tenant.functions), .zero_ok = true },
        { "tenant_instances", K_COUNT, F(tenant.instances), .zero_ok = true },
        { "tenant_memory", K_SIZE, F(tenant.memory_bytes), .zero_ok = true },
        { "tenant_cpu", K_CPU, F(tenant.cpu_millis), .zero_ok = true },
        { "tenant_pids", K_COUNT, F(tenant.pids), .zero_ok = true },
        { "tenant_image_bytes", K_SIZE, F(tenant.image_bytes), .zero_ok = true },
        { "tenant_secrets", K_COUNT, F(tenant.secrets), .zero_ok = true },
        { "tenant_async_queued", K_COUNT, F(tenant.async_queued), .zero_ok = true },
        { "tenant_invoke_rate", K_COUNT, F(tenant.invoke_rate), .zero_ok = true },
        { "tenant_invoke_concurrency", K_COUNT, F(tenant.invoke_concurrency), .zero_ok = true },
        { "function_max_memory", K_SIZE, F(ceiling.memory_bytes), .zero_ok = true },
        { "function_max_cpu", K_CPU, F(ceiling.cpu_millis), .zero_ok = true },
        { "function_max_timeout", K_MS, F(ceiling.timeout_ms), .zero_ok = true },
        { "function_max_scale", K_COUNT, F(ceiling.scale_max), .zero_ok = true },
        /* a multiple of 65536, or 0: the first free window (core/daemon/uidrange.h) */
        { "uid_base", K_COUNT, F(uid_base), .zero_ok = true, .max = 4294901760ULL },
        { "uid_ranges", K_COUNT, F(uid_ranges), .min = 1, .max = 65535 },
        { "subuid_file", K_STR, F(subuid_file) },
        { "subgid_file", K_STR, F(subgid_file) },
        { "passwd_file", K_STR, F(passwd_file) },
        { "group_file", K_STR, F(group_file) },
        /* absent or 0 (as --print-config writes it): derived from the host at start */
        { "max_sandboxes", K_COUNT, F(max_sandboxes), .zero_ok = true },
        { "sandboxes_memory", K_SIZE, F(sandboxes_memory), .min = 64ULL << 20, .zero_ok = true },
        { "sandboxes_pids", K_COUNT, F(sandboxes_pids), .min = 64, .zero_ok = true },
        { "exec_max_inflight", K_COUNT, F(exec_max_inflight) },
        { "exec_queue_max", K_COUNT, F(exec_queue_max) },
        /* 0 turns the exec stock off; STOCK_BOUND (core/runtime/stock.h) at most */
        { "exec_stock_max", K_COUNT, F(exec_stock_max), .max = 8, .zero_ok = true },
        { "exec_stock_idle", K_MS, F(exec_stock_idle_ms), .min = 1000 },
        { "auth_throttle_after", K_COUNT, F(auth_throttle_after) },
        { "auth_throttle_max", K_MS, F(auth_throttle_max_ms), .min = 1000, .max = 24ULL * 3600 * 1000 },
        { "insecure_registries", K_REGISTRIES, F(insecure_registries) },
        { "registry_auth_file", K_STR, F(registry_auth_file) },
        { "registry_ca_file", K_STR, F(registry_ca_file) },
        { "registry_mirrors", K_MIRRORS, F(registry_mirrors) },
        { "registry_concurrency", K_COUNT, F(registry_concurrency), .min = 1, .max = 16 },
        { "registry_attempts", K_COUNT, F(registry_attempts), .min = 1, .max = 10 },
        { "registry_timeout", K_MS, F(registry_timeout_ms) },
        { "registry_idle_timeout", K_MS, F(registry_idle_timeout_ms) },
        { "registry_retry_delay", K_MS, F(registry_retry_delay_ms) },
        { "pull_on_deploy", K_BOOL, F(pull_on_deploy) },
        { "registry_allow_loopback", K_BOOL, F(registry_allow_loopback) },
};
#undef F

static void set_uint(void *p, size_t width, uint64_t v)
{
        if (width == sizeof(uint64_t))
                *(uint64_t *) p = v;
        else if (width == sizeof(uint32_t))
                *(uint32_t *) p = (uint32_t) v;
}

static int apply_key(struct sfaasd_config *cfg, const struct key *k, json_t *v, struct sf_err *err)
{
        char *field = (char *) cfg + k->off;
        uint64_t n = 0;
        int r = 0;

        if (k->kind == K_BOOL) {
                if (!json_is_boolean(v))
                        return sf_err_set(err, -EINVAL, "config: '%s' must be true or false", k->name);
                *(bool *) field = json_is_true(v);
                return 0;
        }
        if (k->kind == K_REGISTRIES) {
                size_t i;
                json_t *e;

                if (!json_is_array(v) || json_array_size(v) > SFAASD_REGISTRIES_MAX)
                        return sf_err_set(err, -EINVAL, "config: '%s' must be a list of at most %d \"host[:port]\"",
                                          k->name, SFAASD_REGISTRIES_MAX);
                json_array_foreach(v, i, e) {
                        const char *h = json_string_value(e);
                        if (!h || !*h || strpbrk(h, "/ \t\r\n@") ||
                            xsnprintf(cfg->insecure_registries[i], SFAASD_REGISTRY_NAME_MAX, "%s", h) < 0)
                                return sf_err_set(err, -EINVAL, "config: '%s': item %zu is not \"host[:port]\"",
                                                  k->name, i);
                }
                cfg->n_insecure_registries = json_array_size(v);
                return 0;
        }
        if (k->kind == K_MIRRORS) {
                const char *reg;
                json_t *list, *e;
                size_t i, nm = 0;

                if (!json_is_object(v))
                        return sf_err_set(err, -EINVAL, "config: '%s' must map a registry to a list of mirrors",
                                          k->name);
                json_object_foreach(v, reg, list) {
                        if (!json_is_array(list))
                                return sf_err_set(err, -EINVAL, "config: '%s': '%.64s' needs a list of mirrors",
                                                  k->name, reg);
                        json_array_foreach(list, i, e) {
                                const char *m = json_string_value(e);
                                if (nm >= SFAASD_REGISTRIES_MAX)
                                        return sf_err_set(err, -EINVAL, "config: '%s': more than %d mirrors",
                                                          k->name, SFAASD_REGISTRIES_MAX);
                                if (!m || !*m || strpbrk(m, "/ \t\r\n@") || !*reg || strpbrk(reg, "/ \t\r\n@") ||
                                    xsnprintf(cfg->registry_mirrors[nm][0], SFAASD_REGISTRY_NAME_MAX, "%s", reg) < 0 ||
                                    xsnprintf(cfg->registry_mirrors[nm][1], SFAASD_REGISTRY_NAME_MAX, "%s", m) < 0)
                                        return sf_err_set(err, -EINVAL,
                                                          "config: '%s': registries and mirrors are \"host[:port]\"",
                                                          k->name);
                                nm++;
                        }
                }
                cfg->n_registry_mirrors = nm;
                return 0;
        }
        if (k->kind == K_STR) {
                if (!json_is_string(v))
                        return sf_err_set(err, -EINVAL, "config: '%s' must be a string", k->name);
                if (xsnprintf(field, k->width, "%s", json_string_value(v)) < 0)
                        return sf_err_set(err, -EINVAL, "config: '%s' is too long", k->name);
                return 0;
        }
        if (json_is_integer(v) && json_integer_value(v) >= 0) {
                n = (uint64_t) json_integer_value(v);
                /* K_MS: a bare number of seconds; K_CPU: of cores */
                if ((k->kind == K_MS || k->kind == K_CPU) && __builtin_mul_overflow(n, 1000, &n))
                        r = -ERANGE;
        } else if (json_is_string(v)) {
                const char *s = json_string_value(v);
                switch (k->kind) {
                case K_SIZE: r = parse_size(s, &n); break;
                case K_COUNT: r = parse_u64(s, &n); break;
                case K_MS: r = parse_duration_ms(s, &n); break;
                case K_CPU: r = parse_cpu_millis(s, &n); break;
                default: r = -EINVAL;
                }
        } else {
                r = -EINVAL;
        }
        if (r < 0 || (n == 0 && !k->zero_ok))
                return sf_err_set(err, -EINVAL, "config: '%s' has a bad value", k->name);
        if (!(n == 0 && k->zero_ok) && ((k->min && n < k->min) || (k->max && n > k->max))) {
                char lo[32], hi[32]; /* any uint64_t with a unit fits */
                if (k->kind == K_MS) {
                        (void) format_duration_ms(k->min, lo, sizeof lo);
                        (void) format_duration_ms(k->max, hi, sizeof hi);
                } else {
                        (void) xsnprintf(lo, sizeof lo, "%llu", (unsigned long long) k->min);
                        (void) xsnprintf(hi, sizeof hi, "%llu", (unsigned long long) k->max);
                }
                return sf_err_set(err, -ERANGE, "config: '%s' must be between %s and %s", k->name, lo, hi);
        }
        set_uint(field, k->width, n);
        return 0;
}

int config_load_file(struct sfaasd_config *cfg, const char *path, struct sf_err *err)
{
        json_error_t je;
        json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
        const char *name;
        json_t *v;
        int r = 0;

        if (!root)
                return sf_err_set(err, -EINVAL, "config '%s': line %d: %s", path, je.line, je.text);
        if (!json_is_object(root)) {
                json_decref(root);
                return sf_err_set(err, -EINVAL, "config '%s': must be a JSON object", path);
        }
        json_object_foreach(root, name, v) {
                const struct key *k = NULL;
                for (size_t i = 0; i < ELEMENTSOF(keys); i++)
                        if (strcmp(keys[i].name, name) == 0)
                                k = &keys[i];
                if (!k) {
                        r = sf_err_set(err, -EINVAL, "config '%s': unknown key '%s'", path, name);
                        break;
                }
                r = apply_key(cfg, k, v, err);
                if (r < 0)
                        break;
        }
        json_decref(root);
        return r;
}

char *config_to_json(const struct sfaasd_config *cfg)
{
        json_t *o = json_object();
        char *s;
        if (!o)
                return NULL;
        for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
                const char *field = (const char *) cfg + keys[i].off;
                json_t *v;
                if (keys[i].kind == K_MIRRORS) {
                        v = json_object();
                        for (size_t j = 0; v && j < cfg->n_registry_mirrors; j++) {
                                json_t *l = json_object_get(v, cfg->registry_mirrors[j][0]);
                                if (!l) {
                                        l = json_array();
                                        (void) json_object_set_new(v, cfg->registry_mirrors[j][0], l);
                                }
                                (void) json_array_append_new(l, json_string(cfg->registry_mirrors[j][1]));
                        }
                } else if (keys[i].kind == K_REGISTRIES) {
                        v = json_array();
                        for (size_t j = 0; v && j < cfg->n_insecure_registries; j++)
                                (void) json_array_append_new(v, json_string(cfg->insecure_registries[j]));
                } else if (keys[i].kind == K_STR)
                        v = json_string(field);
                else if (keys[i].kind == K_BOOL)
                        v = json_boolean(*(const bool *) field);
                else {
                        uint64_t n = keys[i].width == sizeof(uint64_t) ? *(const uint64_t *) field
                                                                      : *(const uint32_t *) field;
                        /* As a config file writes them (packaging/config.json),
                         * so the output is a valid config that means the same. */
                        char buf[32];
                        if (keys[i].kind == K_MS)
                                v = format_duration_ms(n, buf, sizeof buf) < 0 ? NULL : json_string(buf);
                        else if (keys[i].kind == K_CPU)
                                v = format_cpu_millis(n, buf, sizeof buf) < 0 ? NULL : json_string(buf);
                        else if (keys[i].kind == K_SIZE)
                                v = format_size(n, buf, sizeof buf) < 0 ? NULL : json_string(buf);
                        else
                                v = json_integer((json_int_t) n);
                }
                (void) json_object_set_new(o, keys[i].name, v);
        }
        s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        json_decref(o);
        return s;
}
