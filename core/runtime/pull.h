/* SPDX-License-Identifier: MIT */
/*
 * Pull an image from a registry into the image store: the distribution API
 * client (core/http/registry.h) fetches, the store (store/image.h,
 * image_pull_*) verifies every digest as the bytes stream in and unpacks in
 * its confined helper, exactly as for an archive import; the helper never
 * sees the network. Blocking: call it on a worker thread (the thread pool,
 * like imports), never on the loop.
 *
 * What happens, in order: the reference is parsed; the top manifest (by tag
 * or digest) is fetched, and an index leads to this host's platform; the
 * config and the layers the blob store lacks are fetched, at most
 * concurrency at once, each retried (attempts in all) after a broken
 * connection, a stalled transfer or a 5xx; then store, unpack, publish.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/base/error.h"
#include "core/http/egress.h"
#include "store/image.h"

struct pull_request {
        const char *ref;               /* as written: "127.0.0.1:5000/fn/hello:v1", "ghcr.io/x/y@sha256:..." */
        const char *images_dir, *blobs_dir;
        const struct image_limits *limits;
        const char *const *insecure;   /* registries ("host[:port]") reached over http:// (NULL-terminated) */
        /* Registry mirrors as pairs, NULL-terminated: "registry",
         * "mirror host[:port]", ... The mirrors of the reference's registry
         * are tried in order before it (edge boxes pull through a local
         * cache); one that fails the top manifest is skipped with a
         * progress line; the blobs come from the one that answered. */
        const char *const *mirrors;
        /* Where a registry the operator did not list, a token realm on
         * another host and a blob redirect may be reached
         * (core/http/egress.h: egress_allow, and registry_allow_loopback
         * for loopback); checked on the address connected to. */
        const struct egress_policy *egress;
        const char *tenant_auths_json; /* the namespace's Docker config.json (looked in first); may be NULL */
        const char *auths_json;        /* the operator's Docker config.json; may be NULL */
        const char *ca_file;           /* https: CA certificates trusted besides the system's; may be NULL */
        /* Registries ("host[:port]") the namespace may pull from, NULL-
         * terminated; NULL: any. namespace names it in the refusal. */
        const char *const *allowed;
        const char *namespace;
        unsigned concurrency;          /* blobs fetched at once (0: 3) */
        unsigned attempts;             /* per blob (0: 3) */
        long timeout_ms;               /* manifests and tokens (0: 60 s) */
        long idle_timeout_ms;          /* a blob transfer that stalls this long fails the attempt (0: 30 s) */
        long retry_delay_ms;           /* before the second attempt, doubled after (0: 500 ms) */
        int cancel_fd;                 /* > 0: readable aborts the pull */
        /* Progress lines ("pulling ...: 2 of 3 layers, 12.3 MiB"), from the
         * pulling thread; may be NULL. */
        void (*progress)(void *data, const char *line);
        void *progress_data;
};

/* *ret: the store's result; *ret_name: the name to tag it with
 * ("registry/repository:tag", or "@digest" without a tag). -errno with
 * err: -EINVAL a bad reference, -ENOENT not found, -EACCES credentials or a
 * refused address, -EBADMSG a digest or size mismatch or a bad image,
 * -EPROTO a broken answer or TLS session, -ETIMEDOUT/-ECONNRESET a
 * transfer that failed every attempt. */
int pull_image(const struct pull_request *pr, struct image_import_result **ret, char **ret_name, struct sf_err *err);
