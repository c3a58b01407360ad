/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the image import and safe unpacker (store/image*.c).
 *
 * The fixture images are built by tests/fixtures/mkimages.sh (offline:
 * busybox-static, umoci, skopeo, python3) into $SFAASD_FIXTURES or
 * tests/fixtures/out (shared with the integration tests); the script skips
 * the work when it is up to date. Every
 * import goes to a fresh images dir under a private temp dir, next to a
 * canary dir that no import may touch.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <cmocka.h>
#include <openssl/evp.h>

#include "core/base/cleanup.h"
#include "core/base/util.h"
#include "store/db.h"
#include "store/image.h"
#include "store/image_internal.h"

/* Remove an image folder at once: what the daemon does in two steps. */
static int remove_image(const char *images, const char *id)
{
        char name[IMAGE_DETACHED_NAME_SIZE];
        int r = image_detach(images, id, name, sizeof name, NULL);

        return r < 0 ? r : image_purge_detached(images, name);
}

extern char **environ;

struct fx {
        char tmp[64];          /* private temp dir */
        char fixtures[512];    /* where mkimages.sh wrote the archives */
        char canary[128];      /* tmp/canary, must stay as created */
        unsigned n;            /* images dirs made so far */
};

static struct fx *F;

static int run(char *const argv[])
{
        pid_t pid;
        int status;

        if (posix_spawn(&pid, argv[0], NULL, NULL, argv, environ) != 0)
                return -1;
        if (waitpid(pid, &status, 0) < 0)
                return -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int setup_all(void **state)
{
        const char *env = getenv("SFAASD_FIXTURES");
        char *argv[] = { (char *) "/bin/bash", (char *) "tests/fixtures/mkimages.sh", NULL, NULL };
        int fd;

        F = calloc(1, sizeof *F);
        if (!F)
                return -1;
        if (xsnprintf(F->fixtures, sizeof F->fixtures, "%s", env && *env ? env : "tests/fixtures/out") < 0)
                return -1;
        argv[2] = F->fixtures;
        if (run(argv) != 0) {
                fprintf(stderr, "tests/fixtures/mkimages.sh %s failed\n", F->fixtures);
                return -1;
        }
        memcpy(F->tmp, "/tmp/sfaasd-test-image.XXXXXX", sizeof "/tmp/sfaasd-test-image.XXXXXX");
        if (!mkdtemp(F->tmp))
                return -1;
        (void) xsnprintf(F->canary, sizeof F->canary, "%s/canary", F->tmp);
        if (mkdir(F->canary, 0755) < 0)
                return -1;
        fd = open(F->canary, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0 || write_file_atomic(fd, "file", "canary\n", 7, 0644) < 0)
                return -1;
        close(fd);
        *state = F;
        return 0;
}

static int teardown_all(void **state)
{
        if (F) {
                (void) rm_rf_at(AT_FDCWD, F->tmp);
                free(F);
                F = NULL;
        }
        return 0;
}

/* A fresh, empty images dir. */
static char *images_dir_new(void)
{
        char *p = xasprintf("%s/images%u", F->tmp, F->n++);
        assert_non_null(p);
        assert_int_equal(mkdir(p, 0755), 0);
        return p;
}

static char *fixture(const char *name)
{
        char *p = xasprintf("%s/%s", F->fixtures, name);
        assert_non_null(p);
        return p;
}

static int import_file(const char *images, const char *name, const struct image_limits *lim,
                       struct image_import_result **ret, struct sf_err *err)
{
        _cleanup_free_ char *path = fixture(name);
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        return image_import(images, NULL, fd, lim, ret, err);
}

static struct image_import_result *import_ok(const char *images, const char *name)
{
        struct image_import_result *res = NULL;
        struct sf_err err = { 0 };
        int r = import_file(images, name, NULL, &res, &err);

        if (r < 0)
                fail_msg("import of %s failed: %d %s", name, r, err.msg);
        assert_non_null(res);
        return res;
}

static bool strv_contains(char **v, const char *s)
{
        for (; v && *v; v++)
                if (strcmp(*v, s) == 0)
                        return true;
        return false;
}

static size_t dir_count(const char *path)
{
        DIR *d = opendir(path);
        struct dirent *de;
        size_t n = 0;

        assert_non_null(d);
        while ((de = readdir(d)))
                if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
                        n++;
        closedir(d);
        return n;
}

/* Only <hex> dirs in images_dir: no staging or unpack leftovers. */
static void assert_no_leftovers(const char *images)
{
        DIR *d = opendir(images);
        struct dirent *de;

        assert_non_null(d);
        while ((de = readdir(d))) {
                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                        continue;
                if (!image_is_hex64(de->d_name))
                        fail_msg("leftover '%s' in %s", de->d_name, images);
        }
        closedir(d);
}

static void assert_canary_intact(void)
{
        _cleanup_free_ char *buf = NULL;
        int fd = open(F->canary, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        assert_true(fd >= 0);
        assert_int_equal(read_file_at(fd, "file", 64, &buf, NULL), 0);
        close(fd);
        assert_string_equal(buf, "canary\n");
        assert_int_equal(dir_count(F->canary), 1);
        /* The fixtures try these names outside the root. */
        assert_int_equal(access("/tmp/sfaasd-fixture-escape", F_OK), -1);
        assert_int_equal(access("/tmp/sfaasd-fixture-escape2", F_OK), -1);
        assert_int_equal(access("/sfaasd-fixture-abs", F_OK), -1);
        assert_int_equal(access("/escape", F_OK), -1);
        assert_int_equal(access("/tmp/sfaasd-fixture-dot", F_OK), -1);
        assert_int_equal(access("/sfaasd-fixture-dot2", F_OK), -1);
        assert_int_equal(access("/sfaasd-fixture-xlayer", F_OK), -1);
        assert_int_equal(access("/tmp/sfaasd-fixture-xlayer2", F_OK), -1);
}

static void lstat_in(const char *rootfs, const char *rel, struct stat *sb)
{
        _cleanup_free_ char *p = xasprintf("%s/%s", rootfs, rel);
        assert_non_null(p);
        if (lstat(p, sb) < 0)
                fail_msg("'%s' is missing: %s", rel, strerror(errno));
}

static bool exists_in(const char *rootfs, const char *rel)
{
        _cleanup_free_ char *p = xasprintf("%s/%s", rootfs, rel);
        struct stat sb;
        assert_non_null(p);
        return lstat(p, &sb) == 0;
}

static void assert_content(const char *rootfs, const char *rel, const char *want)
{
        _cleanup_free_ char *buf = NULL;
        int fd = open(rootfs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        assert_true(fd >= 0);
        assert_int_equal(read_file_at(fd, rel, 4096, &buf, NULL), 0);
        close(fd);
        assert_string_equal(buf, want);
}

/* ---- good images ------------------------------------------------------- */

static void check_busybox_rootfs(const char *rootfs)
{
        struct stat sb;
        char target[64];
        ssize_t n;
        _cleanup_free_ char *link = xasprintf("%s/bin/sh", rootfs);

        lstat_in(rootfs, "bin/busybox", &sb);
        assert_true(S_ISREG(sb.st_mode));
        assert_true(sb.st_size > 100000);
        assert_int_equal(sb.st_mode & 07777, 0755);

        lstat_in(rootfs, "bin/sh", &sb);
        assert_true(S_ISLNK(sb.st_mode));
        n = readlink(link, target, sizeof target - 1);
        assert_true(n > 0);
        target[n] = '\0';
        assert_string_equal(target, "/bin/busybox");
        lstat_in(rootfs, "bin/cat", &sb);
        assert_true(S_ISLNK(sb.st_mode));

        /* Owners preserved, setuid stripped. */
        lstat_in(rootfs, "home/app", &sb);
        assert_true(S_ISDIR(sb.st_mode));
        if (geteuid() == 0) { /* owners can only be set by root */
                assert_int_equal(sb.st_uid, 1000);
                assert_int_equal(sb.st_gid, 1000);
        }
        assert_int_equal(sb.st_mode & 07777, 0750);
        lstat_in(rootfs, "usr/local/bin/setuid-probe", &sb);
        assert_int_equal(sb.st_mode & 07777, 0755);
        lstat_in(rootfs, "usr/local/bin/echo-env", &sb);
        assert_int_equal(sb.st_mode & 07777, 0755);

        /* Real directories for the launcher. */
        lstat_in(rootfs, "tmp", &sb);
        assert_true(S_ISDIR(sb.st_mode));
        assert_int_equal(sb.st_mode & 07777, 01777);
        lstat_in(rootfs, "proc", &sb);
        assert_true(S_ISDIR(sb.st_mode));
        lstat_in(rootfs, "dev", &sb);
        assert_true(S_ISDIR(sb.st_mode));
        assert_content(rootfs, "etc/passwd",
                       "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n"
                       "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n");
}

static void check_busybox_config(const char *config_json)
{
        struct image_config *c = NULL;
        struct sf_err err = { 0 };

        assert_int_equal(image_config_parse(config_json, &c, &err), 0);
        assert_null(c->entrypoint);
        assert_non_null(c->cmd);
        assert_string_equal(c->cmd[0], "/bin/cat");
        assert_null(c->cmd[1]);
        assert_string_equal(c->user, "app");
        assert_string_equal(c->workdir, "/home/app");
        assert_non_null(c->env);
        assert_true(strv_contains(c->env, "FIXTURE=busybox"));
        assert_true(strv_contains(c->env, "PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"));
        image_config_free(c);
}

static void test_busybox_oci_and_docker(void **state)
{
        _cleanup_free_ char *images = images_dir_new(), *images2 = images_dir_new();
        _cleanup_free_ char *complete = NULL, *config = NULL;
        struct image_import_result *oci, *docker, *docker2;
        struct stat sb;

        oci = import_ok(images, "busybox-oci.tar");
        assert_false(oci->existed);
        assert_true(image_digest_valid(oci->id));
        assert_true(image_digest_valid(oci->manifest_digest));
        assert_true(strv_contains(oci->tags, "busybox:latest"));
        assert_true(oci->size > 1000000);
        assert_int_equal(oci->dropped, 0);
        assert_true(str_startswith(oci->rootfs, images));
        check_busybox_rootfs(oci->rootfs);
        check_busybox_config(oci->config_json);
        complete = xasprintf("%s/%s/.complete", images, oci->id + 7);
        config = xasprintf("%s/%s/config.json", images, oci->id + 7);
        assert_int_equal(stat(complete, &sb), 0);
        assert_int_equal(stat(config, &sb), 0);
        assert_no_leftovers(images);

        /* The docker-save export of the same image has the same id. */
        docker = import_ok(images, "busybox-docker.tar");
        assert_string_equal(docker->id, oci->id);
        assert_true(docker->existed);
        assert_int_equal(docker->size, oci->size);
        assert_string_equal(docker->config_json, oci->config_json);
        assert_true(strv_contains(docker->tags, "docker.io/library/busybox:latest"));
        assert_string_equal(docker->manifest_digest, "");

        /* Unpacked from the docker format alone, it is the same tree. */
        docker2 = import_ok(images2, "busybox-docker.tar");
        assert_false(docker2->existed);
        assert_string_equal(docker2->id, oci->id);
        assert_int_equal(docker2->size, oci->size);
        check_busybox_rootfs(docker2->rootfs);
        assert_no_leftovers(images2);

        image_import_result_free(oci);
        image_import_result_free(docker);
        image_import_result_free(docker2);
}

static void test_import_twice_existed(void **state)
{
        _cleanup_free_ char *images = images_dir_new();
        struct image_import_result *a = import_ok(images, "busybox-oci.tar");
        struct image_import_result *b = import_ok(images, "busybox-oci.tar");

        assert_false(a->existed);
        assert_true(b->existed);
        assert_string_equal(a->id, b->id);
        assert_string_equal(a->rootfs, b->rootfs);
        assert_int_equal(a->size, b->size);
        assert_true(strv_contains(b->tags, "busybox:latest"));
        assert_int_equal(dir_count(images), 1);
        image_import_result_free(a);
        image_import_result_free(b);
}

/* A gzip-compressed docker save, read from a pipe. */
static void test_compressed_from_pipe(void **state)
{
        _cleanup_free_ char *images = images_dir_new(), *path = fixture("busybox-docker.tar.gz");
        struct image_import_result *res = NULL;
        struct sf_err err = { 0 };
        int p[2], status;
        pid_t pid;

        assert_int_equal(pipe2(p, O_CLOEXEC), 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                int fd = open(path, O_RDONLY | O_CLOEXEC);
                char buf[65536];
                ssize_t n;
                close(p[0]);
                while (fd >= 0 && (n = read(fd, buf, sizeof buf)) > 0)
                        if (write_all(p[1], buf, (size_t) n) < 0)
                                _exit(1);
                _exit(0);
        }
        close(p[1]);
        assert_int_equal(image_import(images, NULL, p[0], NULL, &res, &err), 0);
        close(p[0]);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_false(res->existed);
        check_busybox_rootfs(res->rootfs);
        assert_no_leftovers(images);
        image_import_result_free(res);
}

static void test_whiteouts_umoci(void **state)
{
        _cleanup_free_ char *images = images_dir_new();
        struct image_import_result *res = import_ok(images, "layers-oci.tar");
        struct stat sb;

        assert_true(strv_contains(res->tags, "layers:latest"));
        assert_false(exists_in(res->rootfs, "data/gone"));
        assert_content(res->rootfs, "data/keep", "keep\n");
        assert_content(res->rootfs, "data/added", "added\n");
        lstat_in(res->rootfs, "dir2file", &sb);
        assert_true(S_ISREG(sb.st_mode));
        assert_content(res->rootfs, "dir2file", "now a file\n");
        lstat_in(res->rootfs, "file2dir", &sb);
        assert_true(S_ISDIR(sb.st_mode));
        assert_content(res->rootfs, "file2dir/new", "now in a dir\n");
        image_import_result_free(res);
}

static void test_opaque_and_replacements(void **state)
{
        _cleanup_free_ char *images = images_dir_new();
        struct image_import_result *res = import_ok(images, "crafted-opaque.tar");
        _cleanup_free_ char *o2 = xasprintf("%s/o2", res->rootfs);
        struct stat sb;

        /* d is opaque in layer 2: lower d/a and d/sub/b are gone, this
         * layer's d/c (before the marker) and d/sub/new (after) stay. */
        assert_false(exists_in(res->rootfs, "d/a"));
        assert_false(exists_in(res->rootfs, "d/sub/b"));
        assert_content(res->rootfs, "d/c", "c");
        assert_content(res->rootfs, "d/sub/new", "new");
        assert_false(exists_in(res->rootfs, "gone"));
        assert_content(res->rootfs, "keep/x", "x");
        lstat_in(res->rootfs, "f2d", &sb);
        assert_true(S_ISDIR(sb.st_mode));
        assert_content(res->rootfs, "f2d/inner", "inner");
        lstat_in(res->rootfs, "d2f", &sb);
        assert_true(S_ISREG(sb.st_mode));
        assert_content(res->rootfs, "dot-prefixed", "dot");
        assert_content(res->rootfs, "slash-prefixed", "slash");
        assert_int_equal(dir_count(o2), 0);
        image_import_result_free(res);
}

static void test_nested_index(void **state)
{
        _cleanup_free_ char *images = images_dir_new();
        struct image_import_result *res = import_ok(images, "crafted-nested.tar");

        assert_true(strv_contains(res->tags, "docker.io/library/multi:latest"));
        assert_true(image_digest_valid(res->manifest_digest));
#if defined(__x86_64__)
        assert_content(res->rootfs, "arch", "amd64\n");
#elif defined(__aarch64__)
        assert_content(res->rootfs, "arch", "arm64\n");
#endif
        image_import_result_free(res);
}

static void test_docker_legacy(void **state)
{
        _cleanup_free_ char *images = images_dir_new();
        struct image_import_result *res = import_ok(images, "crafted-legacy.tar");
        struct image_config *c = NULL;

        assert_true(strv_contains(res->tags, "legacy:1.0"));
        assert_true(strv_contains(res->tags, "docker.io/library/legacy:latest"));
        assert_string_equal(res->manifest_digest, "");
        assert_content(res->rootfs, "etc/hostname", "legacy\n");
        assert_int_equal(image_config_parse(res->config_json, &c, NULL), 0);
        assert_string_equal(c->cmd[0], "/bin/true");
        assert_string_equal(c->env[0], "A=1");
        assert_null(c->user);
        assert_null(c->workdir);
        image_config_free(c);
        image_import_result_free(res);
}

static void test_docker25(void **state)
{
        _cleanup_free_ char *images = images_dir_new();
        struct image_import_result *res = import_ok(images, "crafted-docker25.tar");

        assert_true(strv_contains(res->tags, "docker25:latest"));
        assert_content(res->rootfs, "etc/hostname", "docker25\n");
        image_import_result_free(res);
}

/* Layers that end right after the last entry's data (umoci insert): read
 * to a clean end, every entry there, as Go's archive/tar reads them. */
static void test_layers_without_padding(void **state)
{
        _cleanup_free_ char *images = images_dir_new();
        struct image_import_result *res;
        struct stat sb;

        res = import_ok(images, "crafted-nopad.tar");
        assert_content(res->rootfs, "d/first", "first\n");
        assert_content(res->rootfs, "d/last", "abc");
        lstat_in(res->rootfs, "d/plain", &sb);
        assert_int_equal(sb.st_size, 24 * 7);
        lstat_in(res->rootfs, "e/empty", &sb);
        assert_true(S_ISREG(sb.st_mode));
        assert_int_equal(sb.st_size, 0);
        image_import_result_free(res);

        res = import_ok(images, "umoci-insert-oci.tar");
        assert_content(res->rootfs, "inserted", "inserted\n");
        check_busybox_rootfs(res->rootfs);
        image_import_result_free(res);
        assert_no_leftovers(images);
}

/* ---- zstd layer in an xz-compressed outer archive ---------------------- */

/* Write one archive to memory with libarchive: format raw (one entry's
 * bytes) or pax; optional filter. */
static size_t mem_archive(bool raw, int filter, const char *const *names, const void *const *datas,
                          const size_t *sizes, size_t n, unsigned char *out, size_t cap)
{
        struct archive *a = archive_write_new();
        size_t used = 0;

        assert_non_null(a);
        assert_int_equal(raw ? archive_write_set_format_raw(a) : archive_write_set_format_pax_restricted(a),
                         ARCHIVE_OK);
        if (filter == ARCHIVE_FILTER_ZSTD)
                assert_int_equal(archive_write_add_filter_zstd(a), ARCHIVE_OK);
        else if (filter == ARCHIVE_FILTER_XZ)
                assert_int_equal(archive_write_add_filter_xz(a), ARCHIVE_OK);
        assert_int_equal(archive_write_set_bytes_in_last_block(a, 1), ARCHIVE_OK);
        assert_int_equal(archive_write_open_memory(a, out, cap, &used), ARCHIVE_OK);
        for (size_t i = 0; i < n; i++) {
                struct archive_entry *e = archive_entry_new();
                archive_entry_set_pathname(e, names[i]);
                archive_entry_set_filetype(e, AE_IFREG);
                archive_entry_set_perm(e, 0644);
                archive_entry_set_size(e, (la_int64_t) sizes[i]);
                assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
                assert_int_equal(archive_write_data(a, datas[i], sizes[i]), (la_ssize_t) sizes[i]);
                archive_entry_free(e);
        }
        assert_int_equal(archive_write_close(a), ARCHIVE_OK);
        archive_write_free(a);
        return used;
}

static void sha256_hex(const void *p, size_t n, char out[65])
{
        unsigned char d[32];
        unsigned int len = 0;
        assert_int_equal(EVP_Digest(p, n, d, &len, EVP_sha256(), NULL), 1);
        hex_encode(d, sizeof d, out);
}

static void test_zstd_layer_xz_outer(void **state)
{
        _cleanup_free_ char *images = images_dir_new(), *path = NULL, *cfg = NULL, *man = NULL, *idx = NULL;
        _cleanup_free_ char *n_cfg = NULL, *n_man = NULL, *n_layer = NULL;
        _cleanup_free_ unsigned char *tar = malloc(1 << 16), *zst = malloc(1 << 16), *outer = malloc(1 << 18);
        static const char content[] = "zstd\n";
        const char *layout = "{\"imageLayoutVersion\":\"1.0.0\"}";
        char h_tar[65], h_zst[65], h_cfg[65], h_man[65];
        struct image_import_result *res = NULL;
        struct sf_err err = { 0 };
        size_t n_tar, n_zst, n_outer;
        int fd;

        {
                const char *names[] = { "zstd-file" };
                const void *datas[] = { content };
                size_t sizes[] = { sizeof content - 1 };
                n_tar = mem_archive(false, 0, names, datas, sizes, 1, tar, 1 << 16);
        }
        {
                const char *names[] = { "data" };
                const void *datas[] = { tar };
                size_t sizes[] = { n_tar };
                n_zst = mem_archive(true, ARCHIVE_FILTER_ZSTD, names, datas, sizes, 1, zst, 1 << 16);
        }
        sha256_hex(tar, n_tar, h_tar);
        sha256_hex(zst, n_zst, h_zst);
        cfg = xasprintf("{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{\"Cmd\":[\"/zstd-file\"]},"
                        "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"sha256:%s\"]}}",
                        h_tar);
        sha256_hex(cfg, strlen(cfg), h_cfg);
        man = xasprintf("{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
                        "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\","
                        "\"digest\":\"sha256:%s\",\"size\":%zu},\"layers\":[{\"mediaType\":"
                        "\"application/vnd.oci.image.layer.v1.tar+zstd\",\"digest\":\"sha256:%s\",\"size\":%zu}]}",
                        h_cfg, strlen(cfg), h_zst, n_zst);
        sha256_hex(man, strlen(man), h_man);
        idx = xasprintf("{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":"
                        "\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"sha256:%s\",\"size\":%zu,"
                        "\"annotations\":{\"org.opencontainers.image.ref.name\":\"zstd:1\"}}]}",
                        h_man, strlen(man));
        n_cfg = xasprintf("blobs/sha256/%s", h_cfg);
        n_man = xasprintf("blobs/sha256/%s", h_man);
        n_layer = xasprintf("./blobs/sha256/%s", h_zst);
        {
                const char *names[] = { n_layer, n_cfg, n_man, "./index.json", "oci-layout" };
                const void *datas[] = { zst, cfg, man, idx, layout };
                size_t sizes[] = { n_zst, strlen(cfg), strlen(man), strlen(idx), strlen(layout) };
                n_outer = mem_archive(false, ARCHIVE_FILTER_XZ, names, datas, sizes, 5, outer, 1 << 18);
        }
        path = xasprintf("%s/zstd.tar.xz", F->tmp);
        fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        assert_true(fd >= 0);
        assert_int_equal(write_all(fd, outer, n_outer), 0);
        assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
        assert_int_equal(image_import(images, NULL, fd, NULL, &res, &err), 0);
        close(fd);
        unlink(path);
        assert_true(strv_contains(res->tags, "zstd:1"));
        assert_content(res->rootfs, "zstd-file", "zstd\n");
        assert_string_equal(res->id + 7, h_cfg);
        image_import_result_free(res);
}

static size_t count_fds(void)
{
        return dir_count("/proc/self/fd");
}

/* Every fd the import opens is closed again, on success and on failure. */
static void test_no_fd_leak(void **state)
{
        _cleanup_free_ char *images = images_dir_new();
        static const char *const files[] = { "busybox-oci.tar", "busybox-oci.tar", "crafted-opaque.tar",
                                             "hostile-dotdot.tar", "hostile-digest.tar", "hostile-truncated.tar" };
        size_t before = count_fds();

        for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                struct image_import_result *res = NULL;
                struct sf_err err = { 0 };
                (void) import_file(images, files[i], NULL, &res, &err);
                image_import_result_free(res);
        }
        assert_int_equal(count_fds(), before);
}

/* Two worker threads import the same image at once: both succeed, one
 * unpacks and publishes, the other finds it (or loses the rename). */
struct import_thread {
        const char *images;
        struct image_import_result *res;
        struct sf_err err;
        int r;
};

static void *import_thread_main(void *data)
{
        struct import_thread *t = data;
        _cleanup_free_ char *path = fixture("busybox-oci.tar");
        int fd = open(path, O_RDONLY | O_CLOEXEC);

        t->r = fd < 0 ? -errno : image_import(t->images, NULL, fd, NULL, &t->res, &t->err);
        if (fd >= 0)
                close(fd);
        return NULL;
}

static void test_concurrent_imports(void **state)
{
        _cleanup_free_ char *images = images_dir_new();
        struct import_thread t[2] = { { .images = images }, { .images = images } };
        pthread_t th[2];

        for (int i = 0; i < 2; i++)
                assert_int_equal(pthread_create(&th[i], NULL, import_thread_main, &t[i]), 0);
        for (int i = 0; i < 2; i++)
                assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(t[0].r, 0);
        assert_int_equal(t[1].r, 0);
        assert_string_equal(t[0].res->id, t[1].res->id);
        assert_true(t[0].res->existed != t[1].res->existed);
        assert_int_equal(dir_count(images), 1);
        check_busybox_rootfs(t[0].res->rootfs);
        image_import_result_free(t[0].res);
        image_import_result_free(t[1].res);
}

/* ---- hostile images ---------------------------------------------------- */

struct hostile_case {
        const char *file;
        int code;
        const char *msg;              /* substring of err.msg */
        struct image_limits limits;
};

static void test_hostile_rejected(void **state)
{
        static const struct hostile_case cases[] = {
                { "hostile-dotdot.tar", -EBADMSG, "'a/../../escape': escapes the root", { 0 } },
                { "hostile-hardlink.tar", -EBADMSG, "hard link target is not in the image", { 0 } },
                { "hostile-hardlink-dotdot.tar", -EBADMSG, "hard link target escapes the root", { 0 } },
                { "hostile-uid.tar", -EBADMSG, "0..65535", { 0 } },
                { "hostile-digest.tar", -EBADMSG, "(layer 1): digest mismatch", { 0 } },
                { "hostile-size.tar", -EBADMSG, "(layer 1): size mismatch", { 0 } },
                { "hostile-diffid.tar", -EBADMSG, "layer 1: diff_id mismatch", { 0 } },
                { "hostile-truncated.tar", -EBADMSG, "truncated archive", { 0 } },
                /* Only the padding after the last entry may be missing. */
                { "hostile-entry-truncated.tar", -EBADMSG, "layer 1: truncated tar", { 0 } },
                { "hostile-header-truncated.tar", -EBADMSG, "layer 1: truncated tar", { 0 } },
                { "hostile-bomb.tar", -EFBIG, "unpacked size exceeds the limit",
                  { .max_unpacked_bytes = 16 << 20 } },
                { "hostile-trailing.tar", -EBADMSG, "bytes after the end of the tar", { 0 } },
                { "hostile-entries.tar", -EFBIG, "more than 1000 entries", { .max_entries = 1000 } },
                { "hostile-longpath.tar", -EFBIG, "entry name longer than 4096", { 0 } },
                { "hostile-deep.tar", -EFBIG, "nested deeper than 256 levels", { 0 } },
                { "hostile-wh-empty.tar", -EBADMSG, "malformed whiteout", { 0 } },
                { "hostile-wh-meta.tar", -EBADMSG, "malformed whiteout", { 0 } },
                { "hostile-wh-dotdot.tar", -EBADMSG, "malformed whiteout", { 0 } },
                { "hostile-outer-name.tar", -EBADMSG, "unexpected archive entry", { 0 } },
                { "hostile-outer-symlink.tar", -EBADMSG, "points outside the image", { 0 } },
                { "hostile-config-workdir.tar", -EBADMSG, "WorkingDir", { 0 } },
                { "hostile-config-user.tar", -EBADMSG, "User 'root;id'", { 0 } },
                { "hostile-config-env.tar", -EBADMSG, "Env entry '1BAD=x'", { 0 } },
                { "hostile-config-uid-range.tar", -EBADMSG, "User '2147483648' has an id out of range (0..65535)",
                  { 0 } },
                { "hostile-config-gid-range.tar", -EBADMSG, "User 'app:4294967296' has an id out of range", { 0 } },
                { "hostile-config-nul.tar", -EBADMSG, "image config", { 0 } },
                /* A symlink named "." would replace the root by a link. */
                { "hostile-symlink-dot.tar", -EBADMSG, "entry '.': replaces the root directory", { 0 } },
                { "hostile-symlink-dotdot.tar", -EBADMSG, "entry 'a/..': escapes the root", { 0 } },
                /* Bad JSON: every blob's digest matches its bad bytes. */
                { "hostile-json-index-truncated.tar", -EBADMSG, "index.json: bad JSON", { 0 } },
                { "hostile-json-index-type.tar", -EBADMSG, "index.json: \"manifests\" is not an array", { 0 } },
                { "hostile-json-index-dupkey.tar", -EBADMSG, "index.json: bad JSON at line 1: duplicate object key",
                  { 0 } },
                { "hostile-json-manifest-truncated.tar", -EBADMSG, "manifest: bad JSON", { 0 } },
                { "hostile-json-manifest-layers-type.tar", -EBADMSG, "manifest: \"layers\" is not an array", { 0 } },
                { "hostile-json-manifest-size-type.tar", -EBADMSG, "manifest config: size is missing", { 0 } },
                { "hostile-json-manifest-dupkey.tar", -EBADMSG, "manifest: bad JSON at line 1: duplicate object key",
                  { 0 } },
                { "hostile-json-config-truncated.tar", -EBADMSG, "image config: bad JSON", { 0 } },
                { "hostile-json-config-diffids-type.tar", -EBADMSG, "image config: rootfs.diff_ids is not an array",
                  { 0 } },
                { "hostile-json-config-config-type.tar", -EBADMSG, "image config: \"config\" is not an object",
                  { 0 } },
                { "hostile-json-config-dupkey.tar", -EBADMSG, "image config: bad JSON at line 1: duplicate object key",
                  { 0 } },
                { "hostile-json-docker-truncated.tar", -EBADMSG, "manifest.json: bad JSON", { 0 } },
                { "hostile-json-docker-type.tar", -EBADMSG, "manifest.json: not a non-empty array", { 0 } },
                { "layers-oci.tar", -EFBIG, "2 layers, more than the limit of 1", { .max_layers = 1 } },
                { "busybox-oci.tar", -EFBIG, "larger than the limit", { .max_archive_bytes = 100000 } },
                { "busybox-docker.tar.gz", -EFBIG, "expands beyond the limit", { .max_archive_bytes = 1200000 } },
        };
        _cleanup_free_ char *images = images_dir_new();

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                const struct hostile_case *c = &cases[i];
                struct image_import_result *res = NULL;
                struct sf_err err = { 0 };
                int r;

                r = import_file(images, c->file, &c->limits, &res, &err);
                if (r != c->code || !strstr(err.msg, c->msg))
                        fail_msg("%s: got %d '%s', want %d '...%s...'", c->file, r, err.msg, c->code, c->msg);
                assert_null(res);
                assert_int_equal(err.code, c->code);
                /* Nothing left behind, nothing outside touched. */
                if (dir_count(images) != 0)
                        fail_msg("%s left something in the images dir", c->file);
                assert_canary_intact();
                assert_int_equal(dir_count(F->tmp), F->n + 1);
        }
}

static void test_not_an_archive(void **state)
{
        _cleanup_free_ char *images = images_dir_new();
        struct image_import_result *res = NULL;
        struct sf_err err = { 0 };
        char path[128];
        int fd;

        fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        assert_int_equal(image_import(images, NULL, fd, NULL, &res, &err), -EBADMSG);
        close(fd);
        assert_true(err.msg[0] != '\0');

        (void) xsnprintf(path, sizeof path, "%s/junk", F->tmp);
        fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        assert_true(fd >= 0);
        assert_int_equal(write_all(fd, "this is not a tar archive at all\n", 33), 0);
        assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
        assert_int_equal(image_import(images, NULL, fd, NULL, &res, &err), -EBADMSG);
        close(fd);
        unlink(path);
        assert_null(res);
        assert_int_equal(dir_count(images), 0);

        assert_int_equal(image_import("relative/dir", NULL, 0, NULL, &res, &err), -EINVAL);
}

static void test_hostile_confined(void **state)
{
        _cleanup_free_ char *images = images_dir_new();
        struct image_import_result *res;
        struct stat sb;
        char list[64];

        (void) unlink("/tmp/sfaasd-fixture-escape");
        (void) unlink("/tmp/sfaasd-fixture-escape2");

        /* "/x" is stripped to "x": inside the root. */
        res = import_ok(images, "hostile-abspath.tar");
        assert_content(res->rootfs, "sfaasd-fixture-abs", "abs");
        image_import_result_free(res);

        /* Writes through symlinks to "../../..../tmp" and "/tmp" land in
         * the root's own /tmp, as inside the container. */
        res = import_ok(images, "hostile-symlink.tar");
        assert_content(res->rootfs, "tmp/sfaasd-fixture-escape", "x");
        assert_content(res->rootfs, "tmp/sfaasd-fixture-escape2", "x");
        lstat_in(res->rootfs, "esc", &sb);
        assert_true(S_ISLNK(sb.st_mode));
        image_import_result_free(res);

        /* Devices dropped; the FIFO kept (Docker keeps it), a FIFO with
         * the entry's mode, nothing that could be opened as a device. */
        res = import_ok(images, "hostile-device.tar");
        assert_int_equal(res->dropped, 2);
        assert_false(exists_in(res->rootfs, "dev/mem"));
        assert_false(exists_in(res->rootfs, "dev/sda"));
        lstat_in(res->rootfs, "fifo", &sb);
        assert_true(S_ISFIFO(sb.st_mode));
        assert_int_equal(sb.st_mode & 07777, 0666);
        assert_content(res->rootfs, "after-devices", "ok");
        image_import_result_free(res);

        res = import_ok(images, "hostile-setuid.tar");
        lstat_in(res->rootfs, "suid", &sb);
        assert_int_equal(sb.st_mode & 07777, 0755);
        lstat_in(res->rootfs, "sgid", &sb);
        assert_int_equal(sb.st_mode & 07777, 0755);
        lstat_in(res->rootfs, "sgiddir", &sb);
        assert_int_equal(sb.st_mode & 07777, 0775);
        lstat_in(res->rootfs, "stickydir", &sb);
        assert_int_equal(sb.st_mode & 07777, 01777);
        {
                _cleanup_free_ char *p = xasprintf("%s/capfile", res->rootfs);
                assert_int_equal(llistxattr(p, list, sizeof list), 0);
        }
        image_import_result_free(res);

        /* /proc -> /, /dev a file, /tmp and /etc symlinks: all replaced. */
        res = import_ok(images, "hostile-sysdirs.tar");
        lstat_in(res->rootfs, "proc", &sb);
        assert_true(S_ISDIR(sb.st_mode));
        assert_int_equal(sb.st_mode & 07777, 0755);
        lstat_in(res->rootfs, "dev", &sb);
        assert_true(S_ISDIR(sb.st_mode));
        lstat_in(res->rootfs, "tmp", &sb);
        assert_true(S_ISDIR(sb.st_mode));
        assert_int_equal(sb.st_mode & 07777, 01777);
        lstat_in(res->rootfs, "etc", &sb);
        assert_true(S_ISDIR(sb.st_mode));
        {
                _cleanup_free_ char *p = xasprintf("%s/proc", res->rootfs);
                assert_int_equal(dir_count(p), 0);
        }
        image_import_result_free(res);

        assert_no_leftovers(images);
        assert_canary_intact();
}

static void assert_no_xattrs(const char *rootfs, const char *rel)
{
        _cleanup_free_ char *p = xasprintf("%s/%s", rootfs, rel);
        char list[256];
        ssize_t n;

        assert_non_null(p);
        n = llistxattr(p, list, sizeof list);
        if (n != 0)
                fail_msg("'%s' has xattrs (%zd bytes of names: '%s')", rel, n, n > 0 ? list : "");
}

/* Capability, SELinux and overlay xattrs and ACLs in PAX headers are never
 * applied; setuid/setgid bits on the same files are stripped. */
static void test_hostile_xattrs(void **state)
{
        _cleanup_free_ char *images = images_dir_new();
        struct image_import_result *res;
        static const char *const files[] = { "cap-schily", "cap-libarchive", "selinux", "acl" };
        struct stat sb;

        res = import_ok(images, "hostile-xattrs.tar");
        for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                lstat_in(res->rootfs, files[i], &sb);
                assert_true(S_ISREG(sb.st_mode));
                if (sb.st_mode & (S_ISUID | S_ISGID | S_ISVTX))
                        fail_msg("'%s' kept mode %04o", files[i], sb.st_mode & 07777);
                assert_no_xattrs(res->rootfs, files[i]);
        }
        lstat_in(res->rootfs, "cap-schily", &sb);
        assert_int_equal(sb.st_mode & 07777, 0755);
        assert_no_xattrs(res->rootfs, ".");
        image_import_result_free(res);

        /* trusted.overlay.opaque on a layer-2 dir: not applied, and not
         * taken for an opaque marker (layer 1's file stays). */
        res = import_ok(images, "hostile-xattrs-overlay.tar");
        assert_content(res->rootfs, "ovl/lower", "lower");
        assert_content(res->rootfs, "ovl/upper", "upper");
        assert_no_xattrs(res->rootfs, "ovl");
        image_import_result_free(res);

        assert_no_leftovers(images);
        assert_canary_intact();
}

/* Layer 1 plants "escdir" -> "/" and "escdir2" -> "../../../../../../tmp";
 * layer 2 writes through them: the files land inside the root. */
static void test_hostile_symlink_across_layers(void **state)
{
        _cleanup_free_ char *images = images_dir_new();
        struct image_import_result *res = import_ok(images, "hostile-xlayer-symlink.tar");
        struct stat sb;

        lstat_in(res->rootfs, "escdir", &sb);
        assert_true(S_ISLNK(sb.st_mode));
        assert_content(res->rootfs, "sfaasd-fixture-xlayer", "xl");
        assert_content(res->rootfs, "tmp/sfaasd-fixture-xlayer2", "xl2");
        image_import_result_free(res);
        assert_no_leftovers(images);
        assert_canary_intact();
}

/* A layer's compression label is not trusted: libarchive picks the
 * decompressor by content (gzip, zstd, xz, bzip2 or none), and the
 * diff_id check covers the uncompressed tar whatever the label says. All
 * four unpack to the same image. */
static void test_mislabelled_compression(void **state)
{
        static const char *const files[] = { "mislabel-gz-is-zstd.tar", "mislabel-gz-is-plain.tar",
                                             "mislabel-plain-is-gz.tar", "mislabel-zstd-is-gz.tar" };
        _cleanup_free_ char *first = NULL;

        for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                _cleanup_free_ char *images = images_dir_new();
                struct image_import_result *res = import_ok(images, files[i]);

                assert_false(res->existed);
                assert_content(res->rootfs, "mislabel", "m\n");
                if (!first)
                        first = strdup(res->id);
                else
                        assert_string_equal(res->id, first);
                image_import_result_free(res);
                assert_no_leftovers(images);
        }
        assert_canary_intact();
}

/* ---- config, users, paths ---------------------------------------------- */

static void test_config_parse(void **state)
{
        struct image_config *c = NULL;
        struct sf_err err = { 0 };

        assert_int_equal(image_config_parse("{\"Entrypoint\":[\"/bin/sh\",\"-c\"],\"Cmd\":[\"echo hi\"],"
                                            "\"WorkingDir\":\"//srv/./app/\",\"User\":\"1000:1000\","
                                            "\"Env\":[\"A=b=c\",\"_X=\"]}",
                                            &c, &err),
                         0);
        assert_string_equal(c->entrypoint[0], "/bin/sh");
        assert_string_equal(c->entrypoint[1], "-c");
        assert_null(c->entrypoint[2]);
        assert_string_equal(c->cmd[0], "echo hi");
        assert_string_equal(c->workdir, "/srv/app");
        assert_string_equal(c->user, "1000:1000");
        assert_string_equal(c->env[0], "A=b=c");
        assert_string_equal(c->env[1], "_X=");
        image_config_free(c);

        assert_int_equal(image_config_parse("{}", &c, &err), 0);
        assert_null(c->cmd);
        assert_null(c->user);
        image_config_free(c);

        static const char *const bad[] = {
                "[]",
                "{\"Cmd\":\"/bin/sh\"}",
                "{\"Cmd\":[1]}",
                "{\"Cmd\":[\"a\\u0000b\"]}",
                "{\"Env\":[\"NOEQUALS\"]}",
                "{\"Env\":[\"=v\"]}",
                "{\"Env\":[\"A-B=v\"]}",
                "{\"WorkingDir\":\"relative\"}",
                "{\"WorkingDir\":\"/a/../b\"}",
                "{\"User\":\"a:b:c\"}",
                "{\"User\":\"us er\"}",
                "{\"User\":\":0\"}",
                "{\"Cmd\":[\"a\"],\"Cmd\":[\"b\"]}",
                "not json",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                c = NULL;
                if (image_config_parse(bad[i], &c, &err) != -EBADMSG)
                        fail_msg("accepted bad config %s", bad[i]);
                assert_null(c);
        }
}

static void test_paths(void **state)
{
        static const struct {
                const char *in, *out;
        } good[] = {
                { "a/b", "a/b" }, { "./a/b/", "a/b" }, { "/a//b/./c", "a/b/c" },
                { "./", "" }, { "/", "" }, { "...", "..." }, { "a/..b", "a/..b" },
        };
        static const char *const bad[] = { "..", "../x", "a/../../x", "a/..", "/../x", "./a/./../b" };
        char *out;

        for (size_t i = 0; i < ELEMENTSOF(good); i++) {
                assert_int_equal(image_path_normalize(good[i].in, IMAGE_PATH_ENTRY, &out), 0);
                assert_string_equal(out, good[i].out);
                free(out);
        }
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                assert_int_equal(image_path_normalize(bad[i], IMAGE_PATH_ENTRY, &out), -EBADMSG);

        assert_int_equal(image_clean_abs_path("/", &out), 0);
        assert_string_equal(out, "/");
        free(out);
        assert_int_equal(image_clean_abs_path("/a/./b//", &out), 0);
        assert_string_equal(out, "/a/b");
        free(out);
        assert_int_equal(image_clean_abs_path("a", &out), -EBADMSG);
        assert_int_equal(image_clean_abs_path("/a/..", &out), -EBADMSG);

        assert_true(image_user_valid("app"));
        assert_true(image_user_valid("1000:1000"));
        assert_true(image_user_valid("a.b-c_d:staff"));
        assert_false(image_user_valid(""));
        assert_false(image_user_valid("app:"));
        assert_false(image_user_valid("a b"));
        assert_false(image_user_valid("a\nb"));
}

static void test_resolve_user(void **state)
{
        _cleanup_free_ char *images = images_dir_new(), *evil = NULL;
        struct image_import_result *res = import_ok(images, "busybox-oci.tar");
        struct sf_err err = { 0 };
        uint32_t uid = 99, gid = 99;

        assert_int_equal(image_resolve_user(res->rootfs, NULL, &uid, &gid, &err), 0);
        assert_int_equal(uid, 0);
        assert_int_equal(gid, 0);
        assert_int_equal(image_resolve_user(res->rootfs, "app", &uid, &gid, &err), 0);
        assert_int_equal(uid, 1000);
        assert_int_equal(gid, 1000);
        assert_int_equal(image_resolve_user(res->rootfs, "1000", &uid, &gid, &err), 0);
        assert_int_equal(uid, 1000);
        assert_int_equal(gid, 1000);
        assert_int_equal(image_resolve_user(res->rootfs, "app:staff", &uid, &gid, &err), 0);
        assert_int_equal(uid, 1000);
        assert_int_equal(gid, 50);
        assert_int_equal(image_resolve_user(res->rootfs, "1234:5", &uid, &gid, &err), 0);
        assert_int_equal(uid, 1234);
        assert_int_equal(gid, 5);
        assert_int_equal(image_resolve_user(res->rootfs, "1234", &uid, &gid, &err), 0);
        assert_int_equal(gid, 0);
        assert_int_equal(image_resolve_user(res->rootfs, "nobody", &uid, &gid, &err), 0);
        assert_int_equal(uid, 65534);

        uid = gid = 7;
        assert_int_equal(image_resolve_user(res->rootfs, "nosuch", &uid, &gid, &err), -EBADMSG);
        assert_non_null(strstr(err.msg, "'nosuch'"));
        assert_int_equal(image_resolve_user(res->rootfs, "app:nosuch", &uid, &gid, &err), -EBADMSG);
        assert_int_equal(image_resolve_user(res->rootfs, "65536", &uid, &gid, &err), -EBADMSG);
        assert_int_equal(image_resolve_user(res->rootfs, "0:70000", &uid, &gid, &err), -EBADMSG);
        assert_int_equal(image_resolve_user(res->rootfs, "root;id", &uid, &gid, &err), -EBADMSG);
        assert_int_equal(uid, 7);
        assert_int_equal(gid, 7);

        /* Oversized passwd and group files are not read (4 MiB cap), with
         * a clear reason, and are not needed for a full uid:gid; a FIFO at
         * /etc/passwd does not block. */
        {
                _cleanup_free_ char *root = xasprintf("%s/bigroot", F->tmp), *etc = xasprintf("%s/etc", root);
                _cleanup_free_ char *pw = xasprintf("%s/passwd", etc), *gr = xasprintf("%s/group", etc);
                FILE *f;

                assert_int_equal(mkdir_p(etc, 0755), 0);
                f = fopen(pw, "we");
                assert_non_null(f);
                fprintf(f, "app:x:1000:1000::/:/bin/sh\n");
                for (int i = 0; i < 200000; i++)
                        fprintf(f, "user%06d:x:%d:%d::/:/bin/sh\n", i, 2000 + i % 60000, 2000 + i % 60000);
                fclose(f);
                f = fopen(gr, "we");
                assert_non_null(f);
                for (int i = 0; i < 300000; i++)
                        fprintf(f, "group%06d:x:%d:\n", i, 2000 + i % 60000);
                fclose(f);
                uid = gid = 7;
                assert_int_equal(image_resolve_user(root, "1000:1000", &uid, &gid, &err), 0);
                assert_int_equal(uid, 1000);
                assert_int_equal(gid, 1000);
                uid = gid = 7;
                assert_int_equal(image_resolve_user(root, "1000", &uid, &gid, &err), -EBADMSG);
                assert_non_null(strstr(err.msg, "/etc/passwd is larger than 4194304 bytes"));
                assert_int_equal(image_resolve_user(root, "app", &uid, &gid, &err), -EBADMSG);
                assert_non_null(strstr(err.msg, "/etc/passwd is larger than"));
                assert_int_equal(image_resolve_user(root, "1000:staff", &uid, &gid, &err), -EBADMSG);
                assert_non_null(strstr(err.msg, "/etc/group is larger than"));
                assert_int_equal(uid, 7);
                assert_int_equal(unlink(pw), 0);
                assert_int_equal(mkfifo(pw, 0644), 0);
                assert_int_equal(image_resolve_user(root, "app", &uid, &gid, &err), -EBADMSG);
                assert_non_null(strstr(err.msg, "/etc/passwd is not a regular file"));
                (void) rm_rf_at(AT_FDCWD, root);
        }

        /* An /etc/passwd symlink climbing out must not reach the host's. */
        evil = xasprintf("%s/evilroot/etc", F->tmp);
        assert_int_equal(mkdir_p(evil, 0755), 0);
        {
                _cleanup_free_ char *lnk = xasprintf("%s/passwd", evil), *root = xasprintf("%s/evilroot", F->tmp);
                assert_int_equal(symlink("../../../../../../../../etc/passwd", lnk), 0);
                assert_true(image_resolve_user(root, "daemon", &uid, &gid, &err) < 0);
                assert_true(image_resolve_user(root, "root", &uid, &gid, &err) < 0);
                assert_int_equal(uid, 7);
                (void) rm_rf_at(AT_FDCWD, root);
        }
        image_import_result_free(res);
}

static void test_remove_and_gc(void **state)
{
        _cleanup_free_ char *images = images_dir_new(), *junk1 = NULL, *junk2 = NULL, *junk3 = NULL;
        struct image_import_result *res = import_ok(images, "crafted-legacy.tar");
        struct image_import_result *res2 = import_ok(images, "crafted-opaque.tar");
        unsigned removed = 0;

        assert_int_equal(remove_image(images, res->id), 0);
        assert_false(exists_in(images, res->id + 7));
        assert_int_equal(remove_image(images, res->id), -ENOENT);
        assert_int_equal(remove_image(images, "sha256:xyz"), -EINVAL);
        assert_int_equal(remove_image(images, "../etc"), -EINVAL);

        junk1 = xasprintf("%s/.tmp-0123", images);
        junk2 = xasprintf("%s/.unpack-4567/rootfs", images);
        junk3 = xasprintf("%s/%s/rootfs", images, res->id + 7);
        assert_int_equal(mkdir_p(junk1, 0700), 0);
        assert_int_equal(mkdir_p(junk2, 0700), 0);
        assert_int_equal(mkdir_p(junk3, 0700), 0); /* no .complete */
        assert_int_equal(image_gc_partial(images, &removed), 0);
        assert_int_equal(removed, 3);
        assert_int_equal(dir_count(images), 1);
        assert_true(exists_in(images, res2->id + 7));
        image_import_result_free(res);
        image_import_result_free(res2);
}

/* Image names are per namespace; content (the images row) is shared; a
 * name's removal takes the image only when nothing refers to it; prune
 * takes untagged, unused images. */
static void test_store_namespaced_names(void **state)
{
        char dir[] = "/tmp/sfaasd-test-nsimg-XXXXXX", path[64];
        static const char A[] = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
        static const char B[] = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
        char *tag_box[] = { (char *) "box:1", NULL };
        struct store *s = NULL;
        struct store_image *img = NULL, **list = NULL;
        char **ids = NULL, **users = NULL;
        struct sf_err err = { 0 };
        bool gone = true;
        (void) state;

        assert_non_null(mkdtemp(dir));
        assert_true(xsnprintf(path, sizeof path, "%s/db", dir) >= 0);
        assert_int_equal(store_open(path, &s, &err), 0);
        assert_int_equal(store_image_put_ns(s, "ns-a", A, "{}", "/x/a", 10, tag_box), 0);
        assert_int_equal(store_image_put_ns(s, "ns-b", B, "{}", "/x/b", 20, tag_box), 0);
        /* the same name, two namespaces, two images */
        assert_int_equal(store_image_resolve_ns(s, "ns-a", "box:1", &img), 0);
        assert_string_equal(img->id, A);
        store_image_free(img);
        assert_int_equal(store_image_resolve_ns(s, "ns-b", "box:1", &img), 0);
        assert_string_equal(img->id, B);
        store_image_free(img);
        assert_int_equal(store_image_resolve_ns(s, "ns-c", "box:1", &img), -ENOENT);
        /* ids resolve everywhere */
        assert_int_equal(store_image_resolve_ns(s, "ns-c", B, &img), 0);
        assert_null(img->tags[0]); /* ns-c has no name for it */
        store_image_free(img);
        /* each namespace lists its own */
        assert_int_equal(store_image_list_ns(s, "ns-a", &list), 0);
        assert_non_null(list[0]);
        assert_string_equal(list[0]->id, A);
        assert_null(list[1]);
        store_image_list_free(list);
        assert_int_equal(store_image_users(s, "ns-a", A, &users), 0);
        assert_null(users[0]);
        strv_free(users);
        /* ns-b also names A: removing ns-a's name keeps the image */
        assert_int_equal(store_image_put_ns(s, "ns-b", A, "{}", "/x/a", 10, (char *[]) { (char *) "other:1", NULL }), 0);
        assert_int_equal(store_image_untag(s, "ns-a", A, "box:1", &gone), 0);
        assert_false(gone);
        assert_int_equal(store_image_untag(s, "ns-b", A, NULL, &gone), 0);
        assert_true(gone);
        assert_int_equal(store_image_resolve_ns(s, "ns-b", A, &img), -ENOENT);
        /* prune: B still named, nothing to take; untag B's row by hand */
        assert_int_equal(store_image_prune(s, &ids), 0);
        assert_null(ids[0]);
        strv_free(ids);
        assert_int_equal(store_image_ids(s, &ids), 0);
        assert_string_equal(ids[0], B);
        assert_null(ids[1]);
        strv_free(ids);
        store_close(s);
        assert_int_equal(rm_rf_at(AT_FDCWD, dir), 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_paths),
                cmocka_unit_test(test_config_parse),
                cmocka_unit_test(test_busybox_oci_and_docker),
                cmocka_unit_test(test_import_twice_existed),
                cmocka_unit_test(test_compressed_from_pipe),
                cmocka_unit_test(test_whiteouts_umoci),
                cmocka_unit_test(test_opaque_and_replacements),
                cmocka_unit_test(test_nested_index),
                cmocka_unit_test(test_docker_legacy),
                cmocka_unit_test(test_docker25),
                cmocka_unit_test(test_zstd_layer_xz_outer),
                cmocka_unit_test(test_layers_without_padding),
                cmocka_unit_test(test_no_fd_leak),
                cmocka_unit_test(test_concurrent_imports),
                cmocka_unit_test(test_hostile_rejected),
                cmocka_unit_test(test_not_an_archive),
                cmocka_unit_test(test_hostile_confined),
                cmocka_unit_test(test_hostile_xattrs),
                cmocka_unit_test(test_hostile_symlink_across_layers),
                cmocka_unit_test(test_mislabelled_compression),
                cmocka_unit_test(test_resolve_user),
                cmocka_unit_test(test_remove_and_gc),
                cmocka_unit_test(test_store_namespaced_names),
        };
        return cmocka_run_group_tests_name("image", tests, setup_all, teardown_all);
}
