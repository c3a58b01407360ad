/* SPDX-License-Identifier: MIT */
/*
 * Format recognition and verification. From the staged entries, find the
 * one image the archive holds, and check every blob it references before
 * anything is unpacked:
 *   OCI layout:  index.json -> (nested index ->) manifest -> config + layers,
 *                each blob's sha256 and size against its descriptor;
 *   docker save: manifest.json -> config (its file name is its digest) +
 *                layers (checked against config.rootfs.diff_ids while
 *                unpacking, as for OCI).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/cleanup.h"
#include "core/base/util.h"
#include "store/image_internal.h"

#define TAG_MAX_LEN 255

#define MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define MT_OCI_CONFIG "application/vnd.oci.image.config.v1+json"
#define MT_DOCKER_CONFIG "application/vnd.docker.container.image.v1+json"
/* "layer <n>", for messages. */
#define LAYER_LABEL_SIZE 32

#if defined(__x86_64__)
#define HOST_ARCH "amd64"
#elif defined(__aarch64__)
#define HOST_ARCH "arm64"
#elif defined(__i386__)
#define HOST_ARCH "386"
#elif defined(__arm__)
#define HOST_ARCH "arm"
#elif defined(__riscv) && __riscv_xlen == 64
#define HOST_ARCH "riscv64"
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define HOST_ARCH "ppc64le"
#elif defined(__s390x__)
#define HOST_ARCH "s390x"
#else
#define HOST_ARCH "unknown"
#endif


/* Parse a whole staged JSON file (capped, duplicate keys rejected). */
static int load_json(int stage_fd, const struct staged_entry *e, const char *what, json_t **ret,
                     struct sf_err *err)
{
        _cleanup_free_ char *buf = NULL;
        json_error_t jerr;
        size_t len;
        json_t *j;
        int r;

        if (e->size > IMAGE_MAX_JSON_BYTES)
                return sf_err_set(err, -EBADMSG, "%s is larger than %u bytes", what, IMAGE_MAX_JSON_BYTES);
        r = read_file_at(stage_fd, e->file, IMAGE_MAX_JSON_BYTES, &buf, &len);
        if (r < 0)
                return sf_err_errno(err, r, "cannot read the staged %s", what);
        j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
        if (!j)
                return sf_err_set(err, -EBADMSG, "%s: bad JSON at line %d: %s", what, jerr.line, jerr.text);
        *ret = j;
        return 0;
}

struct desc {
        const char *media_type;   /* NULL when absent */
        const char *digest;
        json_int_t size;
        const json_t *platform;
        const json_t *annotations;
};

static int desc_parse(const json_t *d, const char *what, struct desc *ret, struct sf_err *err)
{
        const json_t *mt, *dg, *sz;

        if (!json_is_object(d))
                return sf_err_set(err, -EBADMSG, "%s: descriptor is not an object", what);
        mt = json_object_get(d, "mediaType");
        dg = json_object_get(d, "digest");
        sz = json_object_get(d, "size");
        if (mt && !json_is_string(mt))
                return sf_err_set(err, -EBADMSG, "%s: mediaType is not a string", what);
        if (!json_is_string(dg) || !image_digest_valid(json_string_value(dg)))
                return sf_err_set(err, -EBADMSG, "%s: digest is missing or not sha256:<hex>", what);
        if (!json_is_integer(sz) || json_integer_value(sz) < 0)
                return sf_err_set(err, -EBADMSG, "%s: size is missing or negative", what);
        *ret = (struct desc){
                .media_type = mt ? json_string_value(mt) : NULL,
                .digest = json_string_value(dg),
                .size = json_integer_value(sz),
                .platform = json_object_get(d, "platform"),
                .annotations = json_object_get(d, "annotations"),
        };
        return 0;
}

/* Find blobs/sha256/<hex> and check it against a descriptor (size < 0:
 * unknown, docker save). */
/* Note a blob the set lacks (plan->collect_missing): -EAGAIN. */
static int missing_add(struct image_plan *plan, const char *digest, json_int_t size, bool manifest, bool config)
{
        struct image_missing *nv;

        for (size_t i = 0; i < plan->n_missing; i++)
                if (strcmp(plan->missing[i].digest, digest) == 0)
                        return -EAGAIN;
        nv = reallocarray(plan->missing, plan->n_missing + 1, sizeof *nv);
        if (!nv)
                return -ENOMEM;
        plan->missing = nv;
        nv = &plan->missing[plan->n_missing++];
        memset(nv, 0, sizeof *nv);
        memcpy(nv->digest, digest, IMAGE_DIGEST_LEN);
        nv->digest[IMAGE_DIGEST_LEN] = '\0';
        nv->size = size;
        nv->manifest = manifest;
        nv->config = config;
        return -EAGAIN;
}

static int blob_verify(struct image_plan *plan, const struct staged_set *set, const char *digest, json_int_t size,
                       const char *what, const struct staged_entry **ret, struct sf_err *err)
{
        _cleanup_free_ char *name = NULL;
        const struct staged_entry *e;
        const char *hex = digest + STRLEN(IMAGE_DIGEST_PREFIX);

        name = xasprintf("blobs/sha256/%s", hex);
        if (!name)
                return -ENOMEM;
        e = staged_lookup(set, name);
        if (!e && plan->collect_missing)
                return missing_add(plan, digest, size, strcmp(what, "index") == 0 || strcmp(what, "manifest") == 0,
                                   strcmp(what, "config") == 0);
        if (!e)
                return sf_err_set(err, -EBADMSG, "blob %s (%s): missing from the archive", digest, what);
        if (size >= 0 && e->size != (uint64_t) size)
                return sf_err_set(err, -EBADMSG,
                                  "blob %s (%s): size mismatch: the descriptor says %lld bytes, the blob has %llu",
                                  digest, what, (long long) size, (unsigned long long) e->size);
        if (strcmp(e->sha256, hex) != 0)
                return sf_err_set(err, -EBADMSG, "blob %s (%s): digest mismatch (content is sha256:%s)", digest,
                                  what, e->sha256);
        *ret = e;
        return 0;
}

static bool tag_valid(const char *t)
{
        size_t n = strlen(t);

        if (n == 0 || n > TAG_MAX_LEN)
                return false;
        for (const char *p = t; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                      strchr("._/:@-", *p)))
                        return false;
        return true;
}

/* Append a copy of tag to the NULL-terminated vector, skipping duplicates
 * and malformed tags (tags are labels, not trusted input for anything). */
static int tags_add(char ***tags, size_t *n, const char *tag)
{
        char **nv;

        if (!tag || !tag_valid(tag))
                return 0;
        for (size_t i = 0; i < *n; i++)
                if (strcmp((*tags)[i], tag) == 0)
                        return 0;
        nv = reallocarray(*tags, *n + 2, sizeof *nv);
        if (!nv)
                return -ENOMEM;
        *tags = nv;
        nv[*n] = strdup(tag);
        if (!nv[*n])
                return -ENOMEM;
        nv[++*n] = NULL;
        return 0;
}

/* OCI annotations: ref.name may be a whole reference ("busybox:latest") or
 * just a tag ("latest"); containerd adds the full name separately. */
static int oci_tag_from_annotations(const json_t *ann, char ***tags, size_t *n)
{
        const char *ref = json_string_value(json_object_get(ann, "org.opencontainers.image.ref.name"));
        const char *cname = json_string_value(json_object_get(ann, "io.containerd.image.name"));
        _cleanup_free_ char *combined = NULL;

        if (!ref)
                return tags_add(tags, n, cname);
        if (!strchr(ref, ':') && !strchr(ref, '/') && !strchr(ref, '@') && cname && tag_valid(cname)) {
                /* Name part of cname (drop its own tag or digest) + ":" + ref. */
                const char *slash = strrchr(cname, '/');
                const char *at = strchr(cname, '@');
                const char *colon = strrchr(slash ? slash : cname, ':');
                size_t len = at ? (size_t) (at - cname) : colon ? (size_t) (colon - cname) : strlen(cname);

                combined = xasprintf("%.*s:%s", (int) len, cname, ref);
                if (!combined)
                        return -ENOMEM;
                return tags_add(tags, n, combined);
        }
        return tags_add(tags, n, ref);
}

static bool mt_is_index(const char *mt)
{
        return mt && (strcmp(mt, MT_OCI_INDEX) == 0 || strcmp(mt, MT_DOCKER_LIST) == 0);
}

static bool mt_is_manifest(const char *mt)
{
        return !mt || strcmp(mt, MT_OCI_MANIFEST) == 0 || strcmp(mt, MT_DOCKER_MANIFEST) == 0;
}

static bool platform_is_host(const json_t *p)
{
        const char *os = json_string_value(json_object_get(p, "os"));
        const char *arch = json_string_value(json_object_get(p, "architecture"));

        return os && arch && strcmp(os, "linux") == 0 && strcmp(arch, HOST_ARCH) == 0;
}

/* Choose one entry of an index's manifests: the only image, or the one for
 * this host's platform. Returns its position in the array. */
static int index_choose(const json_t *index, const char *what, size_t *ret, struct sf_err *err)
{
        const json_t *arr = json_object_get(index, "manifests");
        const char *first_digest = NULL;
        size_t i, chosen = 0, distinct = 0, host_match = 0, with_platform = 0;
        json_t *d;
        int r;

        if (!json_is_array(arr))
                return sf_err_set(err, -EBADMSG, "%s: \"manifests\" is not an array", what);
        json_array_foreach(arr, i, d) {
                struct desc de;

                r = desc_parse(d, what, &de, err);
                if (r < 0)
                        return r;
                if (!mt_is_index(de.media_type) && !mt_is_manifest(de.media_type))
                        continue; /* artifacts, attestations */
                if (!first_digest) {
                        first_digest = de.digest;
                        chosen = i;
                        distinct = 1;
                } else if (strcmp(first_digest, de.digest) != 0)
                        distinct++;
                if (json_is_object(de.platform))
                        with_platform++;
        }
        if (distinct == 0)
                return sf_err_set(err, -EBADMSG, "%s lists no image", what);
        if (distinct == 1) {
                *ret = chosen;
                return 0;
        }
        json_array_foreach(arr, i, d) {
                const char *mt = json_string_value(json_object_get(d, "mediaType"));

                if ((mt_is_index(mt) || mt_is_manifest(mt)) && platform_is_host(json_object_get(d, "platform"))) {
                        if (host_match++ == 0)
                                chosen = i;
                }
        }
        if (host_match > 0) {
                *ret = chosen;
                return 0;
        }
        if (with_platform == 0)
                return sf_err_set(err, -EBADMSG, "%s lists %zu different images; import one at a time", what,
                                  distinct);
        return sf_err_set(err, -EBADMSG, "%s has no image for linux/%s", what, HOST_ARCH);
}

/* oci-layout, when present, must name its version. */
static int oci_layout_check(const struct staged_set *set, int stage_fd, struct sf_err *err)
{
        _cleanup_json_ json_t *lj = NULL;
        const struct staged_entry *layout = staged_lookup(set, "oci-layout");
        int r;

        if (!layout)
                return 0;
        r = load_json(stage_fd, layout, "oci-layout", &lj, err);
        if (r < 0)
                return r;
        if (!json_is_string(json_object_get(lj, "imageLayoutVersion")))
                return sf_err_set(err, -EBADMSG, "oci-layout: no imageLayoutVersion");
        return 0;
}

/* index.json: the image it holds (*ret_top, pointing into *ret_index),
 * and the tags of every top-level entry naming that image. */
static int oci_index_load(const struct staged_set *set, int stage_fd, struct image_plan *plan,
                          json_t **ret_index, struct desc *ret_top, struct sf_err *err)
{
        _cleanup_json_ json_t *index = NULL;
        const json_t *d;
        struct desc top;
        size_t pick, i, ntags = 0;
        int r;

        r = load_json(stage_fd, staged_lookup(set, "index.json"), "index.json", &index, err);
        if (r < 0)
                return r;
        r = index_choose(index, "index.json", &pick, err);
        if (r < 0)
                return r;
        r = desc_parse(json_array_get(json_object_get(index, "manifests"), pick), "index.json", &top, err);
        if (r < 0)
                return r;
        json_array_foreach(json_object_get(index, "manifests"), i, d) {
                const char *dg = json_string_value(json_object_get(d, "digest"));
                if (dg && strcmp(dg, top.digest) == 0) {
                        r = oci_tag_from_annotations(json_object_get(d, "annotations"), &plan->tags, &ntags);
                        if (r < 0)
                                return r;
                }
        }
        *ret_top = top;
        *ret_index = TAKE_PTR(index);
        return 0;
}

/* From the chosen descriptor, follow nested indexes down to a manifest,
 * verifying each blob on the way (plan->manifests); *ret: the manifest. */
static int oci_manifest_find(const struct staged_set *set, int stage_fd, const struct desc *top,
                             struct image_plan *plan, json_t **ret, struct sf_err *err)
{
        _cleanup_json_ json_t *cur = NULL;
        struct desc de = *top;
        const char *mt;
        size_t pick;
        int r;

        /* de points into the document that named it: copy what outlives it. */
        for (unsigned depth = 0;; depth++) {
                const struct staged_entry *blob;
                json_t *doc;
                bool is_index = mt_is_index(de.media_type);

                if (depth >= IMAGE_INDEX_MAX_DEPTH)
                        return sf_err_set(err, -EBADMSG, "index.json: indexes nested more than %d deep",
                                          IMAGE_INDEX_MAX_DEPTH);
                r = blob_verify(plan, set, de.digest, de.size, is_index ? "index" : "manifest", &blob, err);
                if (r < 0)
                        return r;
                plan->manifests[plan->n_manifests++] = blob;
                r = xsnprintf(plan->manifest_digest, sizeof plan->manifest_digest, "%s", de.digest);
                if (r < 0)
                        return r;
                r = load_json(stage_fd, blob, is_index ? "index" : "manifest", &doc, err);
                if (r < 0)
                        return r;
                json_decref(cur);
                cur = doc;
                memset(&de, 0, sizeof de);
                if (!is_index) {
                        mt = json_string_value(json_object_get(doc, "mediaType"));
                        /* Some writers omit the descriptor's mediaType: look inside. */
                        if (!mt_is_index(mt))
                                break;
                }
                r = index_choose(cur, "nested index", &pick, err);
                if (r < 0)
                        return r;
                r = desc_parse(json_array_get(json_object_get(cur, "manifests"), pick), "nested index", &de, err);
                if (r < 0)
                        return r;
        }
        mt = json_string_value(json_object_get(cur, "mediaType"));
        if (mt && !mt_is_manifest(mt))
                return sf_err_set(err, -EBADMSG, "manifest %s: unsupported media type", plan->manifest_digest);
        *ret = TAKE_PTR(cur);
        return 0;
}

/* The manifest's config descriptor: an image config, present and intact. */
static int oci_config_verify(const struct staged_set *set, const json_t *manifest, struct image_plan *plan,
                             struct sf_err *err)
{
        struct desc de;
        int r;

        r = desc_parse(json_object_get(manifest, "config"), "manifest config", &de, err);
        if (r < 0)
                return r;
        if (de.media_type && strcmp(de.media_type, MT_OCI_CONFIG) != 0 &&
            strcmp(de.media_type, MT_DOCKER_CONFIG) != 0)
                return sf_err_set(err, -EBADMSG, "manifest: config media type is not an image config");
        r = blob_verify(plan, set, de.digest, de.size, "config", &plan->config, err);
        if (r < 0)
                return r;
        memcpy(plan->config_digest, de.digest, IMAGE_DIGEST_LEN + 1);
        return 0;
}

/* The manifest's layers: within the limit, of a layer media type, each
 * blob present and intact. */
static int oci_layers_verify(const struct staged_set *set, const json_t *manifest, const struct image_limits *l,
                             struct image_plan *plan, struct sf_err *err)
{
        static const char *const ok[] = {
                "application/vnd.oci.image.layer.v1.tar",
                "application/vnd.oci.image.layer.v1.tar+gzip",
                "application/vnd.oci.image.layer.v1.tar+zstd",
                "application/vnd.oci.image.layer.nondistributable.v1.tar",
                "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
                "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
                "application/vnd.docker.image.rootfs.diff.tar.gzip",
                "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
                "application/vnd.docker.image.rootfs.diff.tar",
        };
        const json_t *arr = json_object_get(manifest, "layers"), *d;
        bool missing = false;
        size_t i;
        int r;

        if (!json_is_array(arr))
                return sf_err_set(err, -EBADMSG, "manifest: \"layers\" is not an array");
        if (json_array_size(arr) > l->max_layers)
                return sf_err_set(err, -EFBIG, "image has %zu layers, more than the limit of %llu",
                                  json_array_size(arr), (unsigned long long) l->max_layers);
        plan->n_layers = json_array_size(arr);
        plan->layers = calloc(plan->n_layers ? plan->n_layers : 1, sizeof *plan->layers);
        if (!plan->layers)
                return -ENOMEM;
        json_array_foreach(arr, i, d) {
                struct desc de;
                bool known = false;
                char what[LAYER_LABEL_SIZE];

                r = desc_parse(d, "manifest layer", &de, err);
                if (r < 0)
                        return r;
                for (size_t k = 0; de.media_type && k < ELEMENTSOF(ok); k++)
                        known = known || strcmp(de.media_type, ok[k]) == 0;
                if (de.media_type && !known)
                        return sf_err_set(err, -EBADMSG, "layer %zu: unsupported media type", i + 1);
                (void) xsnprintf(what, sizeof what, "layer %zu", i + 1);
                r = blob_verify(plan, set, de.digest, de.size, what, &plan->layers[i].blob, err);
                if (r == -EAGAIN) {
                        missing = true; /* every missing layer is listed */
                        continue;
                }
                if (r < 0)
                        return r;
        }
        return missing ? -EAGAIN : 0;
}

/* An OCI image layout: oci-layout, index.json, then the verified chain of
 * blobs down to the config and the layers. */
static int oci_load(const struct staged_set *set, int stage_fd, const struct image_limits *l,
                    struct image_plan *plan, struct sf_err *err)
{
        _cleanup_json_ json_t *index = NULL, *manifest = NULL;
        struct desc top;
        int r;

        r = oci_layout_check(set, stage_fd, err);
        if (r >= 0)
                r = oci_index_load(set, stage_fd, plan, &index, &top, err);
        if (r >= 0)
                r = oci_manifest_find(set, stage_fd, &top, plan, &manifest, err);
        if (r >= 0) {
                /* The config and the layers are fetched together. */
                int rc = oci_config_verify(set, manifest, plan, err);
                r = rc == -EAGAIN || rc >= 0 ? oci_layers_verify(set, manifest, l, plan, err) : rc;
                if (r >= 0 && rc == -EAGAIN)
                        r = rc;
        }
        return r;
}

/* The hex digest a docker-save config file is named after. */
static const char *docker_config_hex(const char *name)
{
        if (str_startswith(name, "blobs/sha256/"))
                return name + STRLEN("blobs/sha256/");
        if (strlen(name) == IMAGE_HEX_LEN + STRLEN(".json") && strcmp(name + IMAGE_HEX_LEN, ".json") == 0)
                return name;
        return NULL;
}

static int docker_load(const struct staged_set *set, int stage_fd, const struct image_limits *l,
                       struct image_plan *plan, struct sf_err *err)
{
        _cleanup_json_ json_t *man = NULL;
        const json_t *entry, *cfg0, *layers, *item;
        const char *hex;
        char pbuf[IMAGE_PRINTABLE_SIZE];
        size_t i, k, ntags = 0;
        int r;

        r = load_json(stage_fd, staged_lookup(set, "manifest.json"), "manifest.json", &man, err);
        if (r < 0)
                return r;
        if (!json_is_array(man) || json_array_size(man) == 0)
                return sf_err_set(err, -EBADMSG, "manifest.json: not a non-empty array");
        entry = json_array_get(man, 0);
        cfg0 = json_object_get(entry, "Config");
        if (!json_is_string(cfg0))
                return sf_err_set(err, -EBADMSG, "manifest.json: Config is not a string");
        /* `docker save a b` puts several images in one archive: refuse;
         * several tags of one image are fine. */
        json_array_foreach(man, i, entry) {
                const json_t *c = json_object_get(entry, "Config"), *t = json_object_get(entry, "RepoTags");
                if (!json_is_string(c) || strcmp(json_string_value(c), json_string_value(cfg0)) != 0)
                        return sf_err_set(err, -EBADMSG,
                                          "manifest.json lists %zu different images; import one at a time",
                                          json_array_size(man));
                if (t && !json_is_null(t) && !json_is_array(t))
                        return sf_err_set(err, -EBADMSG, "manifest.json: RepoTags is not an array");
                json_array_foreach(t, k, item) {
                        r = tags_add(&plan->tags, &ntags, json_string_value(item));
                        if (r < 0)
                                return r;
                }
        }
        entry = json_array_get(man, 0);

        {
                _cleanup_free_ char *cname = NULL;
                const char *raw = json_string_value(cfg0);

                cname = strdup(str_startswith(raw, "./") ? raw + 2 : raw);
                if (!cname)
                        return -ENOMEM;
                plan->config = staged_lookup(set, cname);
                if (!plan->config)
                        return sf_err_set(err, -EBADMSG, "manifest.json: config '%s' is missing from the archive",
                                          image_printable(raw, pbuf, sizeof pbuf));
                hex = docker_config_hex(cname);
                if (!hex)
                        return sf_err_set(err, -EBADMSG, "manifest.json: config name '%s' is not a digest",
                                          image_printable(raw, pbuf, sizeof pbuf));
                r = xsnprintf(plan->config_digest, sizeof plan->config_digest, IMAGE_DIGEST_PREFIX "%.*s",
                              IMAGE_HEX_LEN, hex);
                if (r < 0)
                        return r;
                if (strncmp(plan->config->sha256, hex, IMAGE_HEX_LEN) != 0)
                        return sf_err_set(err, -EBADMSG, "blob %s (config): digest mismatch (content is sha256:%s)",
                                          plan->config_digest, plan->config->sha256);
        }

        layers = json_object_get(entry, "Layers");
        if (!json_is_array(layers))
                return sf_err_set(err, -EBADMSG, "manifest.json: Layers is not an array");
        if (json_array_size(layers) > l->max_layers)
                return sf_err_set(err, -EFBIG, "image has %zu layers, more than the limit of %llu",
                                  json_array_size(layers), (unsigned long long) l->max_layers);
        plan->n_layers = json_array_size(layers);
        plan->layers = calloc(plan->n_layers ? plan->n_layers : 1, sizeof *plan->layers);
        if (!plan->layers)
                return -ENOMEM;
        json_array_foreach(layers, i, item) {
                const char *raw = json_string_value(item);
                const struct staged_entry *e;

                if (!raw)
                        return sf_err_set(err, -EBADMSG, "manifest.json: Layers[%zu] is not a string", i);
                e = staged_lookup(set, str_startswith(raw, "./") ? raw + 2 : raw);
                if (!e)
                        return sf_err_set(err, -EBADMSG, "layer %zu: '%s' is missing from the archive", i + 1,
                                          image_printable(raw, pbuf, sizeof pbuf));
                /* docker 25+ names layers by their blob digest: check it.
                 * Legacy names are not digests; diff_ids cover those. */
                if (str_startswith(e->name, "blobs/sha256/") &&
                    strcmp(e->sha256, e->name + STRLEN("blobs/sha256/")) != 0)
                        return sf_err_set(err, -EBADMSG, "blob sha256:%s (layer %zu): digest mismatch",
                                          e->name + STRLEN("blobs/sha256/"), i + 1);
                plan->layers[i].blob = e;
        }
        return 0;
}

int image_plan_load(const struct staged_set *set, int stage_fd, const struct image_limits *l,
                    struct image_plan *plan, struct sf_err *err)
{
        const json_t *ids, *id;
        bool collect = plan->collect_missing;
        size_t i;
        int r;

        memset(plan, 0, sizeof *plan);
        plan->collect_missing = collect;
        plan->tags = calloc(1, sizeof *plan->tags);
        if (!plan->tags)
                return -ENOMEM;
        if (staged_lookup(set, "manifest.json"))
                r = docker_load(set, stage_fd, l, plan, err);
        else if (staged_lookup(set, "index.json"))
                r = oci_load(set, stage_fd, l, plan, err);
        else
                r = sf_err_set(err, -EBADMSG,
                               "not an image archive: no manifest.json (docker save) or index.json (OCI layout)");
        if (r < 0)
                return r;

        r = load_json(stage_fd, plan->config, "image config", &plan->config_doc, err);
        if (r < 0)
                return r;
        r = image_config_doc_check(plan->config_doc, &plan->config_clean, err);
        if (r < 0)
                return r;
        ids = json_object_get(json_object_get(plan->config_doc, "rootfs"), "diff_ids");
        if (json_array_size(ids) != plan->n_layers)
                return sf_err_set(err, -EBADMSG, "image config lists %zu diff_ids for %zu layers",
                                  json_array_size(ids), plan->n_layers);
        json_array_foreach(ids, i, id)
                memcpy(plan->layers[i].diff_id, json_string_value(id), IMAGE_DIGEST_LEN + 1);
        return 0;
}

void image_plan_release(struct image_plan *plan)
{
        if (!plan)
                return;
        free(plan->missing);
        json_decref(plan->config_doc);
        json_decref(plan->config_clean);
        free(plan->layers);
        strv_free(plan->tags);
        memset(plan, 0, sizeof *plan);
}
