/* SPDX-License-Identifier: MIT */
/*
 * A client of the OCI distribution API v2 (what Docker Hub, GHCR, Harbor
 * and the reference registry speak): image references, manifests by tag or
 * digest, blobs streamed to a sink, and the authentication flows, Basic and
 * the bearer-token flow (a 401 with WWW-Authenticate: Bearer realm=...,
 * service=..., scope=... sends us to the realm for a token). Blocking: run
 * it on a worker thread, never on the loop.
 *
 * Every request goes through one transport function (struct
 * registry_options.transport, httpc_do() by default). A registry is
 * reached over https:// (TLS 1.2 or 1.3, its certificate verified against
 * the system's CA store and registry_ca_file, core/http/client.h) unless
 * the operator lists it in insecure_registries, which means plain http://.
 * Blob redirects are followed to https:// URLs only, with the outbound
 * address policy applied to the address connected to and no credentials
 * sent along.
 *
 * Digests are not checked here: the bytes go to the image store, which
 * hashes them as they stream (store/image.h, image_pull_*).
 */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/base/error.h"
#include "core/http/client.h"

/* "registry/repository[:tag][@digest]", split. A name without a registry
 * is Docker Hub's ("busybox" is docker.io/library/busybox:latest). */
struct registry_ref {
        char *registry;    /* "127.0.0.1:5000", "ghcr.io", "docker.io" */
        char *repository;  /* "library/busybox" */
        char *tag;         /* "latest" when neither tag nor digest is given; NULL with a digest only */
        char *digest;      /* "sha256:<hex>" or NULL */
};

int registry_ref_parse(const char *s, struct registry_ref *ret, struct sf_err *err);
void registry_ref_release(struct registry_ref *r);
/* Does s name a registry explicitly ("host.name/...", "host:port/...",
 * "localhost/...")? A deploy pulls only such references. */
bool registry_ref_has_registry(const char *s);
/* "registry/repository:tag" (or "@digest" without a tag): the name the
 * image gets in the store. Allocated. */
char *registry_ref_name(const struct registry_ref *r);

typedef int (*registry_transport_fn)(const struct httpc_request *req, struct httpc_response *ret,
                                     struct sf_err *err);

struct registry_options {
        registry_transport_fn transport;  /* NULL: httpc_do */
        bool insecure;                    /* http:// to this registry (insecure_registries) */
        /* The registry's own address: NULL when the operator listed it
         * (insecure_registries), else the outbound policy. Token realms
         * and blob redirects are always checked with redirect_addr_ok. */
        bool (*addr_ok)(const struct sockaddr *sa, socklen_t len, void *data);
        bool (*redirect_addr_ok)(const struct sockaddr *sa, socklen_t len, void *data);
        void *addr_data;
        /* Hosts ("host:port") the operator trusts (insecure_registries): a
         * token realm there is reached over http:// and wherever it is. */
        const char *const *trusted;
        const char *user, *password;      /* Basic credentials for the registry and its token realm; may be NULL */
        const char *cacert;               /* https: CA certificates trusted besides the system's (PEM); may be NULL */
        long timeout_ms;                  /* manifests and tokens, whole request */
        long idle_timeout_ms;             /* blobs: give up when nothing arrives this long */
        int cancel_fd;                    /* > 0: readable aborts (the daemon's shutdown) */
};

/* One registry and repository, shared by the threads of one pull. */
struct registry_session {
        struct registry_options o;
        char *registry, *repository;
        char *base;              /* "http://host:port" or "https://host" */
        pthread_mutex_t mu;
        char *authorization;     /* "Authorization: ..." learned from a 401, under mu */
};

int registry_session_init(struct registry_session *s, const struct registry_ref *ref,
                          const struct registry_options *o, struct sf_err *err);
void registry_session_release(struct registry_session *s);

/* GET the manifest or index `reference` (a tag or a digest). *ret_body
 * (NUL-terminated, at most 8 MiB) and *ret_media_type (the Content-Type,
 * else the document's mediaType) are allocated; *ret_digest (may be NULL:
 * not wanted) the registry's Docker-Content-Digest, NULL when it sent none.
 * -ENOENT: not found (404);
 * -EACCES: credentials missing or refused; -EPROTO: other answers; the
 * reason in err, naming the registry. */
int registry_get_manifest(struct registry_session *s, const char *reference, char **ret_body, size_t *ret_len,
                          char **ret_media_type, char **ret_digest, struct sf_err *err);

/* GET a blob, its body to sink as it arrives (a negative return from sink
 * ends the request). Follows redirects as said above. One attempt: the
 * caller retries. */
int registry_get_blob(struct registry_session *s, const char *digest, int (*sink)(void *data, const void *buf, size_t n),
                      void *sink_data, struct sf_err *err);

/* Credentials for registry in a Docker config.json document ({"auths":
 * {"host[:port]": {"auth": base64("user:password")} or {"username",
 * "password"}}}; docker.io also under "https://index.docker.io/v1/").
 * 1 found (*ret_user, *ret_password allocated), 0 none, -errno. */
int registry_auths_lookup(const char *config_json, const char *registry, char **ret_user, char **ret_password);
