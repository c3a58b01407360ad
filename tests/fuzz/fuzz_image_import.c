/* SPDX-License-Identifier: MIT */
/*
 * Fuzz harness over the whole image import path (store/image*.c): the
 * input is an archive as a client would upload it (docker save or OCI
 * layout, optionally compressed). It is written to a memfd and imported
 * with image_import() (no blob store) into a fresh images dir, with small
 * limits so that one input stays cheap. Afterwards:
 *   - success: the images dir holds exactly <hex>/{rootfs,config.json,
 *     .complete} for the returned id, and nothing else;
 *   - failure: no result, an error message, and an empty images dir;
 *   - always: the canary next to the images dir is as it was, the work dir
 *     holds nothing new, and no fd leaked.
 * Any violation aborts (a crash for libFuzzer).
 *
 * Every blob is content-addressed, so a mutated layer or config in a whole
 * archive almost always dies at the digest check. A second input form
 * reaches the JSON checks and the layer unpacker with mutated content:
 *
 *   "SFZL" CONFIG ( "\n--sfz-layer--\n" LAYER ){1..8}
 *
 * CONFIG (the image config's "config" object, empty for {}) and each LAYER
 * blob are wrapped here into a valid OCI layout tar with correct digests
 * and sizes; the diff_ids are the layers' own sha256 (right for
 * uncompressed layers; a compressed one unpacks, then fails the diff_id).
 *
 * Two builds: `make fuzz` links this with libFuzzer (clang
 * -fsanitize=fuzzer,address); `make test` links it with
 * tests/fuzz/replay_main.c (gcc) and replays tests/fuzz/corpus/image_import/.
 *
 * The work dir lives in /dev/shm when it is writable: the import calls
 * syncfs(), which on a disk file system would flush the whole disk once per
 * input. $SFAASD_FUZZ_TMPDIR overrides.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <openssl/evp.h>

#include "core/base/util.h"
#include "store/image.h"
#include "store/image_internal.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CANARY_TEXT "canary\n"

static bool verbose;         /* $SFAASD_FUZZ_VERBOSE: print each result */
static char work[256];      /* private work dir: canary/ and images/ */
static char images[300];
static char canary[300];
static const struct image_limits limits = {
        .max_archive_bytes = 1U << 20,
        .max_unpacked_bytes = 4U << 20,
        .max_entries = 2000,
        .max_path_len = 1024,
        .max_layers = 8,
};

static __attribute__((noreturn, format(printf, 1, 2))) void die(const char *fmt, ...)
{
        va_list ap;

        fputs("fuzz_image_import: ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
        abort();
}

static void cleanup_work(void)
{
        if (work[0])
                (void) rm_rf_at(AT_FDCWD, work);
}

static size_t count_entries(const char *path)
{
        DIR *d = opendir(path);
        struct dirent *de;
        size_t n = 0;

        if (!d)
                die("cannot open %s: %s", path, strerror(errno));
        while ((de = readdir(d)))
                if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
                        n++;
        closedir(d);
        return n;
}

static void setup_once(void)
{
        const char *base = getenv("SFAASD_FUZZ_TMPDIR");
        int fd;

        if (work[0])
                return;
        verbose = getenv("SFAASD_FUZZ_VERBOSE") != NULL;
        if (!base || !*base)
                base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
        if (xsnprintf(work, sizeof work, "%s/sfaasd-fuzz.XXXXXX", base) < 0 || !mkdtemp(work))
                die("cannot create a work dir under %s: %s", base, strerror(errno));
        atexit(cleanup_work);
        (void) xsnprintf(images, sizeof images, "%s/images", work);
        (void) xsnprintf(canary, sizeof canary, "%s/canary", work);
        if (mkdir(canary, 0755) < 0)
                die("mkdir %s: %s", canary, strerror(errno));
        fd = open(canary, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0 || write_file_atomic(fd, "file", CANARY_TEXT, strlen(CANARY_TEXT), 0644) < 0)
                die("cannot write the canary");
        close(fd);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        setup_once();
        return 0;
}

static void check_canary(void)
{
        _cleanup_free_ char *buf = NULL;
        int fd = open(canary, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        if (fd < 0 || read_file_at(fd, "file", 64, &buf, NULL) < 0)
                die("canary unreadable");
        close(fd);
        if (strcmp(buf, CANARY_TEXT) != 0)
                die("canary changed");
        if (count_entries(canary) != 1)
                die("something appeared in the canary dir");
        /* The work dir holds canary/ and images/, nothing else. */
        if (count_entries(work) != 2)
                die("something appeared next to the images dir");
}

/* The one complete image the import reported, and nothing else. */
static void check_complete(const struct image_import_result *res)
{
        static const char *const want[] = { "rootfs", "config.json", ".complete" };
        _cleanup_free_ char *dir = NULL, *rootfs = NULL;
        struct stat sb;

        if (!res || !image_digest_valid(res->id) || !res->config_json || !res->rootfs || !res->tags)
                die("success without a well-formed result");
        if (res->existed)
                die("an import into an empty dir found an existing image");
        if (count_entries(images) != 1)
                die("success left %zu entries in the images dir", count_entries(images));
        dir = xasprintf("%s/%s", images, res->id + STRLEN("sha256:"));
        rootfs = xasprintf("%s/rootfs", dir);
        if (!dir || !rootfs)
                abort();
        if (strcmp(rootfs, res->rootfs) != 0)
                die("rootfs '%s' is not '%s'", res->rootfs, rootfs);
        if (count_entries(dir) != ELEMENTSOF(want))
                die("the image dir holds %zu entries", count_entries(dir));
        for (size_t i = 0; i < ELEMENTSOF(want); i++) {
                _cleanup_free_ char *p = xasprintf("%s/%s", dir, want[i]);
                if (!p || lstat(p, &sb) < 0)
                        die("%s missing from the image dir", want[i]);
                if (i == 0 ? !S_ISDIR(sb.st_mode) : !S_ISREG(sb.st_mode))
                        die("%s has the wrong type", want[i]);
        }
}

#define WRAP_MAGIC "SFZL"
#define WRAP_SEP "\n--sfz-layer--\n"
#define WRAP_MAX_LAYERS 8

static void sha256_hex(const void *p, size_t n, char out[65])
{
        unsigned char d[32];
        unsigned int len = 0;

        if (EVP_Digest(p, n, d, &len, EVP_sha256(), NULL) != 1)
                die("EVP_Digest failed");
        hex_encode(d, sizeof d, out);
}

static const void *memmem_or_end(const void *h, size_t hn, const char *needle, size_t *ret_len)
{
        const char *e = memmem(h, hn, needle, strlen(needle));
        *ret_len = e ? (size_t) (e - (const char *) h) : hn;
        return e;
}

struct blob {
        const void *p;
        size_t n;
        char hex[65];
        char *owned;
};

static void tar_add(struct archive *a, const char *name, const void *p, size_t n)
{
        struct archive_entry *e = archive_entry_new();

        if (!e)
                abort();
        archive_entry_set_pathname(e, name);
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, 0644);
        archive_entry_set_size(e, (la_int64_t) n);
        if (archive_write_header(a, e) != ARCHIVE_OK || archive_write_data(a, p, n) != (la_ssize_t) n)
                die("archive write: %s", archive_error_string(a));
        archive_entry_free(e);
}

/* Wrap a "SFZL" input into an OCI layout tar; *ret is malloc'ed. */
static size_t wrap_layers(const uint8_t *data, size_t size, unsigned char **ret)
{
        struct blob layers[WRAP_MAX_LAYERS], cfg = { 0 }, man = { 0 };
        _cleanup_free_ char *cfg_obj = NULL, *ids = NULL, *descs = NULL, *index = NULL;
        const char *p = (const char *) data + STRLEN(WRAP_MAGIC), *end = (const char *) data + size;
        size_t n_layers = 0, len, cap, used = 0;
        unsigned char *out;
        struct archive *a;

        memmem_or_end(p, (size_t) (end - p), WRAP_SEP, &len);
        cfg_obj = len ? strndup(p, len) : strdup("{}");
        if (!cfg_obj)
                abort();
        p += len;
        while (p < end && n_layers < WRAP_MAX_LAYERS) {
                p += STRLEN(WRAP_SEP);
                if (p > end)
                        break;
                memmem_or_end(p, (size_t) (end - p), WRAP_SEP, &len);
                layers[n_layers].p = p;
                layers[n_layers].n = len;
                sha256_hex(p, len, layers[n_layers].hex);
                n_layers++;
                p += len;
        }
        ids = strdup("");
        descs = strdup("");
        for (size_t i = 0; ids && descs && i < n_layers; i++) {
                char *ni = xasprintf("%s%s\"sha256:%s\"", ids, i ? "," : "", layers[i].hex);
                char *nd = xasprintf("%s%s{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\","
                                     "\"digest\":\"sha256:%s\",\"size\":%zu}",
                                     descs, i ? "," : "", layers[i].hex, layers[i].n);
                free(ids);
                free(descs);
                ids = ni;
                descs = nd;
        }
        if (!ids || !descs)
                abort();
        cfg.owned = xasprintf("{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":%s,"
                              "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[%s]}}",
                              cfg_obj, ids);
        if (!cfg.owned)
                abort();
        cfg.p = cfg.owned;
        cfg.n = strlen(cfg.owned);
        sha256_hex(cfg.p, cfg.n, cfg.hex);
        man.owned = xasprintf("{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
                              "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\","
                              "\"digest\":\"sha256:%s\",\"size\":%zu},\"layers\":[%s]}",
                              cfg.hex, cfg.n, descs);
        if (!man.owned)
                abort();
        man.p = man.owned;
        man.n = strlen(man.owned);
        sha256_hex(man.p, man.n, man.hex);
        index = xasprintf("{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":"
                          "\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"sha256:%s\","
                          "\"size\":%zu,\"annotations\":{\"org.opencontainers.image.ref.name\":\"fuzz\"}}]}",
                          man.hex, man.n);
        if (!index)
                abort();

        cap = size + 2 * (size_t) WRAP_MAX_LAYERS * 1024 + strlen(cfg.owned) + strlen(man.owned) +
              strlen(index) + 16384;
        out = malloc(cap);
        a = archive_write_new();
        if (!out || !a || archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
            archive_write_set_bytes_in_last_block(a, 1) != ARCHIVE_OK ||
            archive_write_open_memory(a, out, cap, &used) != ARCHIVE_OK)
                die("archive_write setup failed");
        tar_add(a, "oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}", 30);
        tar_add(a, "index.json", index, strlen(index));
        for (size_t i = 0; i < n_layers; i++) {
                char name[96];
                bool dup = false;
                for (size_t j = 0; j < i; j++)
                        dup = dup || strcmp(layers[j].hex, layers[i].hex) == 0;
                if (dup)
                        continue;
                (void) xsnprintf(name, sizeof name, "blobs/sha256/%s", layers[i].hex);
                tar_add(a, name, layers[i].p, layers[i].n);
        }
        {
                char name[96];
                (void) xsnprintf(name, sizeof name, "blobs/sha256/%s", cfg.hex);
                tar_add(a, name, cfg.p, cfg.n);
                (void) xsnprintf(name, sizeof name, "blobs/sha256/%s", man.hex);
                if (strcmp(man.hex, cfg.hex) != 0)
                        tar_add(a, name, man.p, man.n);
        }
        if (archive_write_close(a) != ARCHIVE_OK)
                die("archive_write_close: %s", archive_error_string(a));
        archive_write_free(a);
        free(cfg.owned);
        free(man.owned);
        *ret = out;
        return used;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        _cleanup_free_ unsigned char *wrapped = NULL;
        struct image_import_result *res = NULL;
        struct sf_err err = { 0 };
        size_t fds_before;
        int fd, r;

        setup_once();
        if (size >= STRLEN(WRAP_MAGIC) && memcmp(data, WRAP_MAGIC, STRLEN(WRAP_MAGIC)) == 0) {
                size = wrap_layers(data, size, &wrapped);
                data = wrapped;
        }
        fds_before = count_entries("/proc/self/fd");
        if (mkdir(images, 0755) < 0)
                die("mkdir %s: %s", images, strerror(errno));
        fd = memfd_create("fuzz-input", MFD_CLOEXEC);
        if (fd < 0 || write_all(fd, data, size) < 0 || lseek(fd, 0, SEEK_SET) != 0)
                die("cannot fill the memfd: %s", strerror(errno));

        r = image_import(images, NULL, fd, &limits, &res, &err);
        close(fd);
        if (verbose)
                fprintf(stderr, "fuzz_image_import: %d %s%s\n", r, r < 0 ? err.msg : "imported ",
                        r < 0 ? "" : res->id);

        if (r == 0) {
                check_complete(res);
        } else {
                if (r > 0)
                        die("positive return %d", r);
                if (res)
                        die("failure %d with a result", r);
                if (err.code != r)
                        die("err.code %d but returned %d", err.code, r);
                if (!err.msg[0])
                        die("failure %d without a message", r);
                if (count_entries(images) != 0)
                        die("failure %d (%s) left something in the images dir", r, err.msg);
        }
        check_canary();
        image_import_result_free(res);

        if (rm_rf_at(AT_FDCWD, images) < 0)
                die("cannot remove %s", images);
        if (count_entries("/proc/self/fd") != fds_before)
                die("fd leak: %zu open before, %zu after", fds_before, count_entries("/proc/self/fd"));
        return 0;
}
