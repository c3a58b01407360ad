/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the blob store and its collector (store/image_blobs.c), of
 * the confinement of the unpacker process (store/image_confine.c) and of
 * the parent's check of the tree it leaves (store/image_helper.c).
 *
 * The images are OCI archives made here with libarchive: each layer an
 * uncompressed tar of one file, so two images can share a base layer byte
 * for byte. Every test works in a fresh private dir with images/ and
 * blobs/ side by side, as the daemon's data folder has them.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/capability.h>
#include <sched.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <cmocka.h>
#include <jansson.h>
#include <openssl/evp.h>

#include "core/base/cleanup.h"
#include "core/base/util.h"
#include "store/image.h"
#include "store/image_internal.h"

/* Remove an image folder at once: what the daemon does in two steps. */
static int remove_image(const char *images, const char *id)
{
        char name[IMAGE_DETACHED_NAME_SIZE];
        int r = image_detach(images, id, name, sizeof name, NULL);

        return r < 0 ? r : image_purge_detached(images, name);
}

struct blob {
        char hex[65];
        unsigned char *data;
        size_t len;
};

struct dirs {
        char top[64];
        char images[96];
        char blobs[96];
};

static void sha256_hex(const void *p, size_t n, char out[65])
{
        unsigned char d[32];
        unsigned int dl = 0;

        assert_int_equal(EVP_Digest(p, n, d, &dl, EVP_sha256(), NULL), 1);
        hex_encode(d, sizeof d, out);
}

static void blob_set(struct blob *b, const void *p, size_t n)
{
        b->data = malloc(n ? n : 1);
        assert_non_null(b->data);
        memcpy(b->data, p, n);
        b->len = n;
        sha256_hex(p, n, b->hex);
}

/* A deterministic tar holding one regular file. */
static void layer_make(struct blob *b, const char *name, const char *content)
{
        size_t cap = 64 << 10, used = 0;
        unsigned char *buf = malloc(cap);
        struct archive *a = archive_write_new();
        struct archive_entry *e = archive_entry_new();

        assert_non_null(buf);
        assert_int_equal(archive_write_set_format_pax_restricted(a), ARCHIVE_OK);
        assert_int_equal(archive_write_open_memory(a, buf, cap, &used), ARCHIVE_OK);
        archive_entry_set_pathname(e, name);
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, 0644);
        archive_entry_set_size(e, (la_int64_t) strlen(content));
        archive_entry_set_mtime(e, 1700000000, 0);
        assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
        assert_int_equal(archive_write_data(a, content, strlen(content)), (la_ssize_t) strlen(content));
        assert_int_equal(archive_write_close(a), ARCHIVE_OK);
        archive_entry_free(e);
        archive_write_free(a);
        blob_set(b, buf, used);
        free(buf);
}

static void tar_add(struct archive *a, const char *name, const void *p, size_t n)
{
        struct archive_entry *e = archive_entry_new();

        archive_entry_set_pathname(e, name);
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, 0644);
        archive_entry_set_size(e, (la_int64_t) n);
        assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
        assert_int_equal(archive_write_data(a, p, n), (la_ssize_t) n);
        archive_entry_free(e);
}

static void tar_add_blob(struct archive *a, const struct blob *b)
{
        _cleanup_free_ char *name = xasprintf("blobs/sha256/%s", b->hex);

        tar_add(a, name, b->data, b->len);
}

/* Write an OCI archive of the layers to path; ret_config: its config
 * blob's hex (the image id), ret_manifest: its manifest's. */
static void oci_make(const char *path, const struct blob *layers, size_t n, const char *tag, char ret_config[65],
                     char ret_manifest[65])
{
        _cleanup_json_ json_t *cfg = json_pack("{s:s, s:s, s:{s:s, s:[]}, s:{s:[s]}}", "architecture", "amd64",
                                               "os", "linux", "rootfs", "type", "layers", "diff_ids", "config",
                                               "Cmd", "/bin/sh");
        _cleanup_json_ json_t *man = NULL, *idx = NULL;
        _cleanup_free_ char *cfg_s = NULL, *man_s = NULL, *idx_s = NULL;
        json_t *ids = json_object_get(json_object_get(cfg, "rootfs"), "diff_ids"), *ls = json_array();
        struct blob cb, mb;
        struct archive *a;

        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *d = xasprintf("sha256:%s", layers[i].hex);
                assert_int_equal(json_array_append_new(ids, json_string(d)), 0);
                assert_int_equal(json_array_append_new(ls, json_pack("{s:s, s:s, s:I}", "mediaType",
                                                                     "application/vnd.oci.image.layer.v1.tar",
                                                                     "digest", d, "size", (json_int_t) layers[i].len)),
                                 0);
        }
        cfg_s = json_dumps(cfg, JSON_COMPACT | JSON_SORT_KEYS);
        blob_set(&cb, cfg_s, strlen(cfg_s));
        {
                _cleanup_free_ char *d = xasprintf("sha256:%s", cb.hex);
                man = json_pack("{s:i, s:s, s:{s:s, s:s, s:I}, s:o}", "schemaVersion", 2, "mediaType",
                                "application/vnd.oci.image.manifest.v1+json", "config", "mediaType",
                                "application/vnd.oci.image.config.v1+json", "digest", d, "size",
                                (json_int_t) cb.len, "layers", ls);
        }
        man_s = json_dumps(man, JSON_COMPACT | JSON_SORT_KEYS);
        blob_set(&mb, man_s, strlen(man_s));
        {
                _cleanup_free_ char *d = xasprintf("sha256:%s", mb.hex);
                idx = json_pack("{s:i, s:[{s:s, s:s, s:I, s:{s:s}}]}", "schemaVersion", 2, "manifests",
                                "mediaType", "application/vnd.oci.image.manifest.v1+json", "digest", d, "size",
                                (json_int_t) mb.len, "annotations", "org.opencontainers.image.ref.name", tag);
        }
        idx_s = json_dumps(idx, JSON_COMPACT);
        assert_non_null(idx_s);

        a = archive_write_new();
        assert_int_equal(archive_write_set_format_pax_restricted(a), ARCHIVE_OK);
        assert_int_equal(archive_write_open_filename(a, path), ARCHIVE_OK);
        tar_add(a, "oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}", 30);
        tar_add(a, "index.json", idx_s, strlen(idx_s));
        tar_add_blob(a, &cb);
        tar_add_blob(a, &mb);
        for (size_t i = 0; i < n; i++)
                tar_add_blob(a, &layers[i]);
        assert_int_equal(archive_write_close(a), ARCHIVE_OK);
        archive_write_free(a);
        memcpy(ret_config, cb.hex, 65);
        memcpy(ret_manifest, mb.hex, 65);
        free(cb.data);
        free(mb.data);
}

static void dirs_new(struct dirs *d)
{
        memcpy(d->top, "/tmp/sfaasd-test-blobs.XXXXXX", sizeof "/tmp/sfaasd-test-blobs.XXXXXX");
        assert_non_null(mkdtemp(d->top));
        assert_true(xsnprintf(d->images, sizeof d->images, "%s/images", d->top) >= 0);
        assert_true(xsnprintf(d->blobs, sizeof d->blobs, "%s/blobs", d->top) >= 0);
        assert_int_equal(mkdir(d->images, 0700), 0);
}

static void dirs_free(struct dirs *d) { (void) rm_rf_at(AT_FDCWD, d->top); }

static void import_path(const struct dirs *d, const char *path, struct image_import_result **ret)
{
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        struct sf_err err = { 0 };
        int r;

        assert_true(fd >= 0);
        r = image_import(d->images, d->blobs, fd, NULL, ret, &err);
        if (r < 0)
                fail_msg("import of %s: %d %s", path, r, err.msg);
}

/* The names in blobs/sha256, each checked: regular, 0444, named by the
 * sha256 of its content. */
static size_t blobs_count(const struct dirs *d)
{
        _cleanup_free_ char *p = xasprintf("%s/sha256", d->blobs);
        DIR *dir = opendir(p);
        struct dirent *de;
        size_t n = 0;

        assert_non_null(dir);
        while ((de = readdir(dir))) {
                _cleanup_free_ char *buf = NULL;
                size_t len = 0;
                struct stat sb;
                char hex[65];

                if (de->d_name[0] == '.')
                        continue;
                assert_true(image_is_hex64(de->d_name));
                assert_int_equal(fstatat(dirfd(dir), de->d_name, &sb, AT_SYMLINK_NOFOLLOW), 0);
                assert_true(S_ISREG(sb.st_mode));
                assert_int_equal(sb.st_mode & 07777, 0444);
                assert_int_equal(read_file_at(dirfd(dir), de->d_name, 1 << 20, &buf, &len), 0);
                sha256_hex(buf, len, hex);
                assert_string_equal(hex, de->d_name);
                n++;
        }
        closedir(dir);
        return n;
}

static bool blob_present(const struct dirs *d, const char *hex)
{
        _cleanup_free_ char *p = xasprintf("%s/sha256/%s", d->blobs, hex);
        return access(p, F_OK) == 0;
}

struct two {
        struct dirs d;
        struct blob base, a, b;
        char pa[128], pb[128];
        char cfg_a[65], man_a[65], cfg_b[65], man_b[65];
};

static void two_images(struct two *t)
{
        struct blob la[2], lb[2];

        dirs_new(&t->d);
        layer_make(&t->base, "base.txt", "the shared base layer\n");
        layer_make(&t->a, "a.txt", "only in a\n");
        layer_make(&t->b, "b.txt", "only in b\n");
        la[0] = lb[0] = t->base;
        la[1] = t->a;
        lb[1] = t->b;
        assert_true(xsnprintf(t->pa, sizeof t->pa, "%s/a.tar", t->d.top) >= 0);
        assert_true(xsnprintf(t->pb, sizeof t->pb, "%s/b.tar", t->d.top) >= 0);
        oci_make(t->pa, la, 2, "a:1", t->cfg_a, t->man_a);
        oci_make(t->pb, lb, 2, "b:1", t->cfg_b, t->man_b);
}

static void two_free(struct two *t)
{
        free(t->base.data);
        free(t->a.data);
        free(t->b.data);
        dirs_free(&t->d);
}

static void test_shared_layer_stored_once(void **state)
{
        struct two t;
        struct image_import_result *ra = NULL, *rb = NULL;
        _cleanup_free_ char *bj = NULL, *bjpath = NULL;
        _cleanup_json_ json_t *o = NULL;

        two_images(&t);
        import_path(&t.d, t.pa, &ra);
        /* config, manifest, 2 layers */
        assert_int_equal(blobs_count(&t.d), 4);
        import_path(&t.d, t.pb, &rb);
        /* + config, manifest and the top layer of b; the base once */
        assert_int_equal(blobs_count(&t.d), 7);
        assert_true(blob_present(&t.d, t.base.hex));

        /* The rootfs came out of the store right, and blobs.json lists
         * config, manifest and layers in order. */
        {
                _cleanup_free_ char *p = xasprintf("%s/b.txt", rb->rootfs), *c = NULL;
                assert_int_equal(read_file_at(AT_FDCWD, p, 100, &c, NULL), 0);
                assert_string_equal(c, "only in b\n");
        }
        bjpath = xasprintf("%s/%s/blobs.json", t.d.images, t.cfg_a);
        assert_int_equal(read_file_at(AT_FDCWD, bjpath, 1 << 16, &bj, NULL), 0);
        o = json_loads(bj, 0, NULL);
        assert_non_null(o);
        assert_string_equal(json_string_value(json_object_get(o, "config")) + 7, t.cfg_a);
        assert_string_equal(json_string_value(json_array_get(json_object_get(o, "manifests"), 0)) + 7, t.man_a);
        assert_string_equal(json_string_value(json_array_get(json_object_get(o, "layers"), 0)) + 7, t.base.hex);
        assert_string_equal(json_string_value(json_array_get(json_object_get(o, "layers"), 1)) + 7, t.a.hex);

        /* Importing a again stores nothing new. */
        image_import_result_free(ra);
        ra = NULL;
        import_path(&t.d, t.pa, &ra);
        assert_true(ra->existed);
        assert_int_equal(blobs_count(&t.d), 7);

        image_import_result_free(ra);
        image_import_result_free(rb);
        two_free(&t);
}

static void test_gc_removes_only_unreferenced(void **state)
{
        struct two t;
        struct image_import_result *ra = NULL, *rb = NULL;
        uint64_t removed = 99, bytes = 0;

        two_images(&t);
        import_path(&t.d, t.pa, &ra);
        import_path(&t.d, t.pb, &rb);

        /* Nothing unreferenced: nothing removed. */
        assert_int_equal(image_blobs_gc(t.d.images, t.d.blobs, &removed, &bytes), 0);
        assert_int_equal(removed, 0);
        assert_int_equal(blobs_count(&t.d), 7);

        /* a gone: its config, manifest and top layer go, the base stays. */
        assert_int_equal(remove_image(t.d.images, ra->id), 0);
        assert_int_equal(image_blobs_gc(t.d.images, t.d.blobs, &removed, &bytes), 0);
        assert_int_equal(removed, 3);
        assert_true(bytes >= t.a.len);
        assert_int_equal(blobs_count(&t.d), 4);
        assert_true(blob_present(&t.d, t.base.hex));
        assert_false(blob_present(&t.d, t.a.hex));
        assert_false(blob_present(&t.d, t.cfg_a));
        assert_true(blob_present(&t.d, t.man_b));

        /* An import in progress holds the store shared: the collector
         * leaves everything alone. */
        {
                _cleanup_free_ char *lp = xasprintf("%s/.lock", t.d.blobs);
                _cleanup_close_ int lfd = open(lp, O_RDWR | O_CLOEXEC);
                assert_true(lfd >= 0);
                assert_int_equal(flock(lfd, LOCK_SH), 0);
                assert_int_equal(remove_image(t.d.images, rb->id), 0);
                assert_int_equal(image_blobs_gc(t.d.images, t.d.blobs, NULL, NULL), -EBUSY);
                assert_int_equal(blobs_count(&t.d), 4);
        }
        /* A stale copy from a crash goes too. */
        {
                _cleanup_free_ char *sp = xasprintf("%s/sha256", t.d.blobs);
                _cleanup_close_ int sfd = open(sp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                assert_int_equal(write_file_atomic(sfd, ".tmp-0123456789abcdef", "x", 1, 0444), 0);
        }
        assert_int_equal(image_blobs_gc(t.d.images, t.d.blobs, &removed, NULL), 0);
        assert_int_equal(removed, 5);
        assert_int_equal(blobs_count(&t.d), 0);

        image_import_result_free(ra);
        image_import_result_free(rb);
        two_free(&t);
}

static void test_gc_refuses_on_bad_blobs_json(void **state)
{
        struct two t;
        struct image_import_result *ra = NULL;
        _cleanup_free_ char *dir = NULL;
        _cleanup_close_ int dfd = -1;

        two_images(&t);
        import_path(&t.d, t.pa, &ra);
        dir = xasprintf("%s/%s", t.d.images, t.cfg_a);
        dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(dfd >= 0);
        assert_int_equal(write_file_atomic(dfd, "blobs.json", "{\"config\":", 10, 0644), 0);
        assert_int_equal(image_blobs_gc(t.d.images, t.d.blobs, NULL, NULL), -EBADMSG);
        assert_int_equal(blobs_count(&t.d), 4);
        image_import_result_free(ra);
        two_free(&t);
}

/* Damage the stored base layer, drop the image, import again: the damaged
 * copy is detected by re-hashing and replaced by the verified bytes; the
 * rootfs is right. */
static void corrupt_and_reimport(bool truncate_it)
{
        struct two t;
        struct image_import_result *ra = NULL;
        _cleanup_free_ char *bp = NULL, *fp = NULL, *c = NULL;

        two_images(&t);
        import_path(&t.d, t.pa, &ra);
        bp = xasprintf("%s/sha256/%s", t.d.blobs, t.base.hex);
        {
                _cleanup_close_ int fd = -1;
                assert_int_equal(chmod(bp, 0644), 0);
                fd = open(bp, O_WRONLY | O_CLOEXEC);
                assert_true(fd >= 0);
                if (truncate_it)
                        assert_int_equal(ftruncate(fd, 512), 0);
                else
                        /* Same size; the file's content byte in the tar. */
                        assert_int_equal(pwrite(fd, "T", 1, 512), 1);
                assert_int_equal(chmod(bp, 0444), 0);
        }
        assert_int_equal(remove_image(t.d.images, ra->id), 0);
        image_import_result_free(ra);
        ra = NULL;

        import_path(&t.d, t.pa, &ra);
        assert_false(ra->existed);
        fp = xasprintf("%s/base.txt", ra->rootfs);
        assert_int_equal(read_file_at(AT_FDCWD, fp, 100, &c, NULL), 0);
        assert_string_equal(c, "the shared base layer\n");
        /* Every blob (the base included) matches its name again. */
        assert_int_equal(blobs_count(&t.d), 4);
        image_import_result_free(ra);
        two_free(&t);
}

static void test_corrupt_blob_replaced(void **state) { corrupt_and_reimport(false); }
static void test_truncated_blob_replaced(void **state) { corrupt_and_reimport(true); }

/* A failed import leaves no image; the collector removes the blobs it
 * stored. */
static void test_failed_import_blobs_collected(void **state)
{
        struct dirs d;
        struct blob l;
        char cfg[65], man[65], path[128];
        struct image_import_result *res = NULL;
        struct sf_err err = { 0 };
        _cleanup_close_ int fd = -1;

        dirs_new(&d);
        /* A layer whose entry escapes: verified blob, refused content. */
        layer_make(&l, "../escape.txt", "x\n");
        assert_true(xsnprintf(path, sizeof path, "%s/bad.tar", d.top) >= 0);
        oci_make(path, &l, 1, "bad:1", cfg, man);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        assert_int_equal(image_import(d.images, d.blobs, fd, NULL, &res, &err), -EBADMSG);
        assert_null(res);
        assert_true(blobs_count(&d) > 0);
        assert_int_equal(image_blobs_gc(d.images, d.blobs, NULL, NULL), 0);
        assert_int_equal(blobs_count(&d), 0);
        free(l.data);
        dirs_free(&d);
}

/* ---- the confined unpacker process (store/image_confine.c) ---- */

/* What the kernel answered inside, as -errno or a count. */
struct probe {
        int passwd;      /* open("/etc/passwd") */
        int root_same;   /* "/" is the rootfs: 1 */
        int sock_inet;   /* socket(AF_INET) */
        int sock_unix;   /* socket(AF_UNIX) */
        int exec;        /* execve("/bin/sh") */
        int write_out;   /* create through a dir fd opened before, outside */
        int mkdir_in;    /* mkdir inside the root: 0 */
        int chown_in;    /* chown inside the root to an image uid: 0 */
        int mknod_fifo;  /* mkfifo inside: allowed (FIFOs are kept) */
        int mknod_chr;   /* a character device inside */
        int mknod_sock;  /* a socket node inside */
        int chroot_up;   /* chroot("..") */
        int kill_parent; /* kill(getppid(), 0) */
        int ptrace;      /* ptrace(PTRACE_ATTACH, getppid()) */
        int mmap_exec;   /* mmap(PROT_EXEC) */
        int unshare;     /* unshare(CLONE_NEWUSER) */
        int confine;     /* image_confine_process() */
        unsigned flags;
};

static int neg_errno(long r) { return r < 0 ? -errno : (int) r; }

/* In the forked child: confine exactly as the helper does, then try. */
__attribute__((noreturn)) static void probe_child(const char *root, const char *outside, int out_fd, int go_fd)
{
        struct probe p;
        struct sf_err err = { 0 };
        struct unpack_confinement c = { .max_file_bytes = 1 << 20 };
        struct stat want, got;
        void *filter = NULL;
        int outside_fd, fd;
        char b;

        memset(&p, 0x7f, sizeof p);
        c.root_fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
        outside_fd = open(outside, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (c.root_fd < 0 || outside_fd < 0 || fstat(c.root_fd, &want) < 0 ||
            image_confine_seccomp_new(getpid(), &filter) < 0)
                _exit(2);
        c.max_fd = out_fd > go_fd ? out_fd : go_fd;
        if (c.max_fd < outside_fd)
                c.max_fd = outside_fd;
        p.confine = image_confine_process(&c, filter, &p.flags, &err);
        if (p.confine == 0) {
                fd = open("/etc/passwd", O_RDONLY | O_CLOEXEC);
                p.passwd = neg_errno(fd);
                p.root_same = stat("/", &got) == 0 && got.st_ino == want.st_ino && got.st_dev == want.st_dev;
                p.sock_inet = neg_errno(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
                p.sock_unix = neg_errno(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
                {
                        char *argv[] = { (char *) "/bin/sh", (char *) "-c", (char *) "true", NULL };
                        char *envp[] = { NULL };
                        p.exec = neg_errno(execve("/bin/sh", argv, envp));
                }
                p.write_out = neg_errno(openat(outside_fd, "made-outside", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
                p.mkdir_in = neg_errno(mkdirat(c.root_fd, "made-inside", 0755));
                p.chown_in = neg_errno(fchownat(c.root_fd, "made-inside", 1234, 1234, AT_SYMLINK_NOFOLLOW));
                p.mknod_fifo = neg_errno(mknodat(c.root_fd, "fifo", S_IFIFO | 0644, 0));
                p.mknod_chr = neg_errno(mknodat(c.root_fd, "null", S_IFCHR | 0666, makedev(1, 3)));
                p.mknod_sock = neg_errno(mknodat(c.root_fd, "sock", S_IFSOCK | 0666, 0));
                p.chroot_up = neg_errno(chroot(".."));
                p.kill_parent = neg_errno(kill(getppid(), 0));
                p.ptrace = neg_errno(ptrace(PTRACE_ATTACH, getppid(), NULL, NULL));
                {
                        void *m = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
                        p.mmap_exec = m == MAP_FAILED ? -errno : 0;
                }
                p.unshare = neg_errno(unshare(CLONE_NEWUSER));
        }
        if (write_all(out_fd, &p, sizeof p) < 0)
                _exit(3);
        /* Stay alive until the parent has read /proc/<pid>/status. */
        _exit(read(go_fd, &b, 1) < 0 ? 4 : 0);
}

/* "CapEff:\t0000000000000000" and friends, from /proc/pid/status. */
static unsigned long long status_field(pid_t pid, const char *key, int base)
{
        _cleanup_free_ char *path = xasprintf("/proc/%d/status", (int) pid), *buf = NULL;
        const char *at;

        assert_int_equal(read_file_at(AT_FDCWD, path, 1 << 16, &buf, NULL), 0);
        at = strstr(buf, key);
        assert_non_null(at);
        return strtoull(at + strlen(key), NULL, base);
}

static void test_confined_process(void **state)
{
        struct dirs d;
        struct probe p;
        _cleanup_free_ char *root = NULL, *outside_file = NULL;
        int out[2], go[2], status = 0;
        unsigned long long want_caps = (1ULL << CAP_CHOWN) | (1ULL << CAP_DAC_OVERRIDE) | (1ULL << CAP_FOWNER);
        struct stat sb;
        pid_t pid;

        dirs_new(&d);
        root = xasprintf("%s/images/rootfs", d.top);
        outside_file = xasprintf("%s/made-outside", d.images);
        assert_int_equal(mkdir(root, 0755), 0);
        /* The host has what the probe must not reach. */
        assert_int_equal(access("/etc/passwd", R_OK), 0);
        assert_int_equal(pipe2(out, O_CLOEXEC), 0);
        assert_int_equal(pipe2(go, O_CLOEXEC), 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                (void) close(out[0]);
                (void) close(go[1]);
                probe_child(root, d.images, out[1], go[0]);
        }
        (void) close(out[1]);
        (void) close(go[0]);
        assert_int_equal(read(out[0], &p, sizeof p), (ssize_t) sizeof p);
        assert_int_equal(p.confine, 0);

        if (geteuid() == 0) {
                /* Only CHOWN, DAC_OVERRIDE and FOWNER, everywhere. */
                assert_int_equal(p.flags & UNPACK_CONFINED_NOCHROOT, 0);
                assert_int_equal(status_field(pid, "CapEff:\t", 16), want_caps);
                assert_int_equal(status_field(pid, "CapPrm:\t", 16), want_caps);
                assert_int_equal(status_field(pid, "CapBnd:\t", 16), want_caps);
                assert_int_equal(status_field(pid, "CapInh:\t", 16), 0);
                assert_int_equal(status_field(pid, "CapAmb:\t", 16), 0);
                assert_int_equal(p.root_same, 1);
                assert_int_equal(p.passwd, -ENOENT);
                assert_int_equal(p.chown_in, 0);
        } else {
                assert_int_equal(p.passwd, -EACCES); /* Landlock */
        }
        assert_int_equal(status_field(pid, "NoNewPrivs:\t", 10), 1);
        assert_int_equal(status_field(pid, "Seccomp:\t", 10), 2);
        (void) close(go[1]);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        (void) close(out[0]);

        assert_int_equal(p.sock_inet, -EPERM);
        assert_int_equal(p.sock_unix, -EPERM);
        assert_int_equal(p.exec, -EPERM);
        assert_int_equal(p.chroot_up, -EPERM);
        assert_int_equal(p.kill_parent, -EPERM);
        assert_int_equal(p.ptrace, -EPERM);
        assert_int_equal(p.mmap_exec, -EPERM);
        assert_int_equal(p.unshare, -EPERM);
        assert_int_equal(p.mknod_fifo, 0);
        assert_int_equal(p.mknod_chr, -EPERM); /* seccomp; no CAP_MKNOD either */
        assert_int_equal(p.mknod_sock, -EPERM);
        if (!(p.flags & UNPACK_CONFINED_NOLANDLOCK))
                assert_int_equal(p.write_out, -EACCES);
        else
                assert_true(p.write_out < 0);
        assert_int_equal(p.mkdir_in, 0);
        /* Host side: inside changed, outside did not. */
        assert_int_equal(lstat(outside_file, &sb), -1);
        {
                _cleanup_free_ char *in = xasprintf("%s/made-inside", root);
                assert_int_equal(lstat(in, &sb), 0);
                assert_true(S_ISDIR(sb.st_mode));
                if (geteuid() == 0)
                        assert_int_equal(sb.st_uid, 1234);
        }
        dirs_free(&d);
}

/* The parent's check refuses what only a compromised unpacker leaves. */
static void test_rootfs_check(void **state)
{
        static const char *const sysdirs[] = { "proc", "dev", "sys", "tmp", "etc" };
        struct image_limits lim;
        struct dirs d;
        _cleanup_free_ char *root = NULL;
        _cleanup_close_ int root_fd = -1;
        struct sf_err err = { 0 };
        int fd;

        image_limits_effective(NULL, &lim);
        dirs_new(&d);
        root = xasprintf("%s/images/rootfs", d.top);
        assert_int_equal(mkdir(root, 0755), 0);
        root_fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
        assert_true(root_fd >= 0);
        /* No /proc & co yet. */
        assert_int_equal(image_rootfs_check(root_fd, &lim, &err), -EBADMSG);
        assert_non_null(strstr(err.msg, "'/proc': not a directory"));
        for (size_t i = 0; i < ELEMENTSOF(sysdirs); i++)
                assert_int_equal(mkdirat(root_fd, sysdirs[i], 0755), 0);
        assert_int_equal(mkdirat(root_fd, "usr", 0755), 0);
        assert_int_equal(mkdirat(root_fd, "usr/bin", 0755), 0);
        fd = openat(root_fd, "usr/bin/su", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0755);
        assert_true(fd >= 0);
        assert_int_equal(symlinkat("/etc/shadow", root_fd, "usr/link"), 0);
        assert_int_equal(image_rootfs_check(root_fd, &lim, &err), 0);

        assert_int_equal(fchmod(fd, 04755), 0);
        assert_int_equal(image_rootfs_check(root_fd, &lim, &err), -EBADMSG);
        assert_non_null(strstr(err.msg, "'/usr/bin/su': setuid or setgid"));
        assert_int_equal(fchmod(fd, 0755), 0);
        if (geteuid() == 0) {
                assert_int_equal(fchown(fd, 70000, 0), 0);
                assert_int_equal(image_rootfs_check(root_fd, &lim, &err), -EBADMSG);
                assert_non_null(strstr(err.msg, "owner outside 0..65535"));
                assert_int_equal(fchown(fd, 0, 0), 0);
        }
        (void) close(fd);
        /* A FIFO is kept (the unpacker makes them); a socket node is not. */
        assert_int_equal(mknodat(root_fd, "usr/fifo", S_IFIFO | 0644, 0), 0);
        assert_int_equal(image_rootfs_check(root_fd, &lim, &err), 0);
        assert_int_equal(mknodat(root_fd, "usr/sock", S_IFSOCK | 0644, 0), 0);
        assert_int_equal(image_rootfs_check(root_fd, &lim, &err), -EBADMSG);
        assert_non_null(strstr(err.msg, "'/usr/sock': a device or socket"));
        assert_int_equal(unlinkat(root_fd, "usr/sock", 0), 0);
        assert_int_equal(unlinkat(root_fd, "usr/fifo", 0), 0);
        assert_int_equal(unlinkat(root_fd, "proc", AT_REMOVEDIR), 0);
        assert_int_equal(symlinkat("/", root_fd, "proc"), 0);
        assert_int_equal(image_rootfs_check(root_fd, &lim, &err), -EBADMSG);
        assert_non_null(strstr(err.msg, "'/proc': not a directory"));
        assert_int_equal(unlinkat(root_fd, "proc", 0), 0);
        assert_int_equal(mkdirat(root_fd, "proc", 0755), 0);
        /* Deeper than the unpacker ever nests. */
        {
                _cleanup_close_ int dfd = openat(root_fd, "usr", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                for (int i = 0; i < IMAGE_MAX_DIR_DEPTH; i++) {
                        int nfd;
                        assert_int_equal(mkdirat(dfd, "d", 0755), 0);
                        nfd = openat(dfd, "d", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                        assert_true(nfd >= 0);
                        (void) close(dfd);
                        dfd = nfd;
                }
        }
        assert_int_equal(image_rootfs_check(root_fd, &lim, &err), -EBADMSG);
        assert_non_null(strstr(err.msg, "nested too deep"));
        dirs_free(&d);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_shared_layer_stored_once),
                cmocka_unit_test(test_gc_removes_only_unreferenced),
                cmocka_unit_test(test_gc_refuses_on_bad_blobs_json),
                cmocka_unit_test(test_corrupt_blob_replaced),
                cmocka_unit_test(test_truncated_blob_replaced),
                cmocka_unit_test(test_failed_import_blobs_collected),
                cmocka_unit_test(test_confined_process),
                cmocka_unit_test(test_rootfs_check),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
