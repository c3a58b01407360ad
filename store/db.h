/* SPDX-License-Identifier: MIT */
/*
 * SQLite state: tenants (OpenFaaS namespaces), images and their tags,
 * functions. WAL journal, schema migrations keyed on PRAGMA user_version.
 * Every mutating call returns only after its transaction has committed, so
 * whatever the daemon acknowledges survives a crash.
 *
 * One connection, used from the daemon's loop thread only. Knows nothing of
 * HTTP; includes only the core base.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../core/base/error.h"

#define STORE_DEFAULT_NAMESPACE "openfaas-fn"
/* Host uid/gid ranges of tenants: the tenant with slot k owns [base +
 * k*RANGE, +RANGE); base is chosen at the first start (the config's
 * uid_base, or the first free window from STORE_UID_BASE on: see
 * core/daemon/uidrange.c) and slots are never reused. */
#define STORE_UID_BASE 1073741824u
#define STORE_UID_RANGE 65536u

struct store;

int store_open(const char *path, struct store **ret, struct sf_err *err);
void store_close(struct store *s);
/* Give up to max_pages free pages back to the file system; the file
 * shrinks. *ret_free_pages (may be NULL): free pages still in the file. */
int store_reclaim(struct store *s, unsigned max_pages, uint64_t *ret_free_pages);

struct store_namespace {
        char *name;
        char *labels_json;       /* object, "{}" when none */
        char *annotations_json;  /* object, "{}" when none */
        uint32_t uid_base;       /* 0 when the range is outside the uid space (refused at start) */
        uint64_t uid_slot;
        int64_t created_at;      /* unix nanoseconds */
};
void store_namespace_free(struct store_namespace *n);

/* The uid ranges' window: base (0 until the first start chose one), how
 * many ranges it has (0: not set) and the next slot to give out. */
int store_uid_alloc_get(struct store *s, uint64_t *ret_base, uint64_t *ret_ranges, uint64_t *ret_next);
int store_uid_alloc_set(struct store *s, uint64_t base, uint64_t ranges);

/* Create a namespace; -EEXIST if it exists; -ENOSPC when the window has
 * no uid range left. The uid range is allocated here, never one given out
 * before. */
int store_namespace_create(struct store *s, const char *name, const char *labels_json,
                           const char *annotations_json);
int store_namespace_update(struct store *s, const char *name, const char *labels_json,
                           const char *annotations_json);
/* -ENOENT if absent, -ENOTEMPTY if it still has functions. */
int store_namespace_delete(struct store *s, const char *name);
int store_namespace_get(struct store *s, const char *name, struct store_namespace **ret);
/* NULL-terminated list of names, sorted. */
int store_namespace_list(struct store *s, char ***ret);

struct store_image {
        char *id;                /* "sha256:<hex>" */
        char *config_json;
        char *rootfs;
        uint64_t size;
        int64_t created_at;
        bool shared;             /* the admin shared it with every tenant */
        char **tags;             /* NULL-terminated */
};
void store_image_free(struct store_image *i);

/*
 * Images per tenant. Image names (tags) are per namespace: "busybox:latest"
 * in namespace a and in namespace b are two names, possibly for two
 * images. The content (the images row, its rootfs and blobs) is stored
 * once, by id, but a namespace sees an image only when it owns it (it
 * imported it, or the admin deployed it there) or the admin shared it
 * with every tenant (a base image). An image another namespace owns is,
 * for ns, exactly like an image nobody has. The functions without _ns
 * work in STORE_DEFAULT_NAMESPACE.
 */

/* Insert or keep the image (idempotent), make ns an owner, and point each
 * tag in ns at it. */
int store_image_put_ns(struct store *s, const char *ns, const char *id, const char *config_json,
                       const char *rootfs, uint64_t size, char *const *tags);
/* ref is "sha256:<hex>" (or a unique prefix of at least 12 hex digits)
 * among the images ns may see, or a tag of ns, normalised with
 * image_ref_normalize(). ->tags are ns's. -ENOENT if unknown or not ns's;
 * -ENOTUNIQ for an ambiguous prefix. */
int store_image_resolve_ns(struct store *s, const char *ns, const char *ref, struct store_image **ret);
/* The same with digests among all images (the admin's view); tags are
 * still ns's. */
int store_image_resolve_all(struct store *s, const char *ns, const char *ref, struct store_image **ret);
int store_image_resolve(struct store *s, const char *ref, struct store_image **ret);
/* Make ns an owner of image id (unless it is shared): the admin deployed
 * it there. */
int store_image_own(struct store *s, const char *ns, const char *id);
/* Share image id with every tenant, or stop; -ENOENT when absent. */
int store_image_set_shared(struct store *s, const char *id, bool shared);
/* Bytes of the images ns owns (shared ones not counted). */
int store_image_owned_bytes(struct store *s, const char *ns, uint64_t *ret);
/* Images newest first, NULL-terminated, each with its tags in ns: those ns
 * may see (owned or shared). ns NULL: every image with every tag. */
int store_image_list_ns(struct store *s, const char *ns, struct store_image ***ret);
int store_image_list(struct store *s, struct store_image ***ret);
/* "name.namespace" of each function (of ns; NULL: of all) that uses id. */
int store_image_users(struct store *s, const char *ns, const char *id, char ***ret);
/* Remove tag (NULL: every tag) of image id in ns; ns stops owning it when
 * it has no name and no function of ns uses it; then the image row goes
 * too when it has no owner, tag or function and is not shared (*ret_gone:
 * the caller removes its files). */
int store_image_untag(struct store *s, const char *ns, const char *id, const char *tag, bool *ret_gone);
/* Every image id (for finding folders no row refers to). */
int store_image_ids(struct store *s, char ***ret);
/* Remove the rows of images without tags and functions that are not
 * shared; *ret lists their ids (the caller removes their files). */
int store_image_prune(struct store *s, char ***ret);
void store_image_list_free(struct store_image **v);

/* "busybox" -> "busybox:latest"; "docker.io/library/x:1" -> "x:1";
 * "docker.io/u/x" -> "u/x:latest"; digests "name@sha256:.." kept. Returns
 * a new string, NULL on ENOMEM or an invalid reference. */
char *image_ref_normalize(const char *ref);

struct store_function {
        char *namespace;
        char *name;
        char *image;             /* as given by the client */
        char *image_id;          /* resolved at deploy */
        char *spec_json;         /* the normalised FunctionDeployment */
        int64_t created_at;      /* unix nanoseconds */
        int64_t updated_at;
};
void store_function_free(struct store_function *f);

/* create: -EEXIST if present; update: -ENOENT if absent. */
int store_function_create(struct store *s, const struct store_function *f);
int store_function_update(struct store *s, const struct store_function *f);
int store_function_get(struct store *s, const char *ns, const char *name, struct store_function **ret);
/* NULL-terminated, sorted by name. */
int store_function_list(struct store *s, const char *ns, struct store_function ***ret);
void store_function_list_free(struct store_function **v);
int store_function_delete(struct store *s, const char *ns, const char *name);
