/* SPDX-License-Identifier: MIT */
/*
 * Pure helpers of the client subcommands (deploy, list, invoke, rm, image):
 * gateway URL handling, K=V parsing, request JSON and error text. No I/O and
 * no network here, so tests/unit/test_client.c can check them directly.
 * Same conventions as everywhere: int return, >= 0 success, -errno failure;
 * ret_* written only on success; err (may be NULL) says why for a human.
 */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/base/error.h"

#define CLIENT_DEFAULT_GATEWAY "http://127.0.0.1:8080"
#define CLIENT_DEFAULT_NAMESPACE "openfaas-fn"

/* Normalise a gateway URL as faas-cli does: lower-cased, every trailing '/'
 * trimmed, "http://" prepended when there is no scheme. Only http and https
 * are accepted; an empty URL is -EINVAL. */
int client_gateway_normalise(const char *url, char **ret, struct sf_err *err);

/* Split "KEY=VALUE" at the first '='. The key must be non-empty; the value
 * may be empty. what names the option in the error ("env", "label"). */
int client_kv_parse(const char *s, const char *what, char **ret_key, char **ret_value, struct sf_err *err);

/* Parse a header given as "Name: value" (as -H takes it). The name must be
 * an HTTP token; neither part may hold CR, LF or NUL (header injection). The
 * value has surrounding blanks trimmed. */
int client_header_parse(const char *s, char **ret_name, char **ret_value, struct sf_err *err);

/* True if s is a valid function or namespace name: [-a-zA-Z0-9_]+, at most
 * 63 bytes, starting with a letter or digit: the daemon's rule
 * (route_valid_name). No '.', since the last '.' of /function/NAME.NS
 * separates the namespace. */
bool client_name_valid(const char *s);

/* What `sfaasd deploy` was given. Arrays hold n_* borrowed strings. */
struct deploy_spec {
        const char *name;
        const char *image;
        const char *namespace;  /* NULL: the gateway's default */
        const char *fprocess;   /* NULL: the image's own command */
        const char *const *env; /* "K=V" */
        size_t n_env;
        const char *const *labels;
        size_t n_labels;
        const char *const *annotations;
        size_t n_annotations;
        const char *const *secrets;
        size_t n_secrets;
        const char *memory; /* limits.memory, e.g. "128Mi" */
        const char *cpu;    /* limits.cpu, e.g. "100m" */
        bool readonly;
};

/* Build the FunctionDeployment body (OPENFAAS-COMPAT.md 2.3) for PUT/POST
 * /system/functions, shaped as faas-cli sends it: labels and annotations
 * always present ({} when none), other keys omitted when empty. Validates
 * names, K=V pairs, memory and cpu quantities. */
int client_deployment_json(const struct deploy_spec *spec, json_t **ret, struct sf_err *err);

/* Build the URL gateway + path, then append each "k=v" of query (n of them)
 * URL-encoded. path starts with '/' and is appended as is (callers build it
 * from validated names). */
int client_url(const char *gateway, const char *path, const char *const *query, size_t n, char **ret);

/* The path of a function: "/function/NAME" or "/function/NAME.NS". */
int client_function_path(const char *name, const char *namespace, char **ret);

/* The message to show for a failed response: the "error" string of a JSON
 * object body, else the body's first non-empty line (control characters
 * replaced, at most 300 bytes), else NULL when the body is empty. */
char *client_error_message(const char *body, size_t len);

/* The reason phrase of a status code ("OK", "Accepted", ...), "" if unknown. */
const char *client_status_reason(long code);

/* Format a byte count for people: "512 B", "4.2 MiB". A buffer of
 * CLIENT_SIZE_TEXT_MAX bytes holds any (the longest is "16777216.0 TiB"). */
#define CLIENT_SIZE_TEXT_MAX 32
int client_format_size(unsigned long long bytes, char *buf, size_t size);
