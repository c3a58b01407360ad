/* SPDX-License-Identifier: MIT */
/*
 * sfaasd backup [--data DIR] DEST
 *
 * A backup of a data folder, taken while the daemon runs: DEST (a new
 * folder, mode 0700) gets
 *   sfaasd.db     a consistent snapshot of the state database (store_backup:
 *                 VACUUM INTO on a read-only connection of its own),
 *   secrets/      the admin credentials and the key that seals
 *                 /system/secrets (as sensitive as the data folder itself),
 *   backup.json   what was taken, from where, when, at which schema.
 * Image content (images/ unpacked trees, blobs/ verified layers) is not
 * copied: it is large, write-once, and can be copied as files or imported
 * again (README, "Backup and restore"). Function logs are not copied.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cmd/commands.h"
#include "core/base/cleanup.h"
#include "core/base/util.h"
#include "store/backup.h"

#define SECRET_FILE_MAX (64 * 1024)

/* Every regular file of DATA/secrets into DEST/secrets, mode 0600. */
static int copy_secrets(const char *data, int dest_fd, json_t *contains, size_t *ret_n, struct sf_err *err)
{
        char dir[PATH_MAX];
        _cleanup_close_ int sfd = -1, dfd = -1;
        DIR *d;
        struct dirent *de;
        size_t n = 0;
        int r = 0;

        if (xsnprintf(dir, sizeof dir, "%s/secrets", data) < 0)
                return sf_err_set(err, -ENAMETOOLONG, "data folder path is too long");
        sfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        if (sfd < 0)
                return sf_err_errno(err, -errno, "cannot open '%s'", dir);
        if (mkdirat(dest_fd, "secrets", 0700) < 0)
                return sf_err_errno(err, -errno, "cannot create the backup's secrets folder");
        dfd = openat(dest_fd, "secrets", O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        if (dfd < 0)
                return sf_err_errno(err, -errno, "cannot open the backup's secrets folder");
        d = fdopendir(fcntl(sfd, F_DUPFD_CLOEXEC, 3));
        if (!d)
                return sf_err_errno(err, -errno, "cannot list '%s'", dir);
        while ((errno = 0, de = readdir(d))) {
                _cleanup_free_ char *buf = NULL;
                char rel[NAME_MAX + 16];
                size_t len = 0;
                struct stat st;

                if (de->d_name[0] == '.' || strstr(de->d_name, ".tmp-"))
                        continue;
                if (fstatat(sfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
                        continue;
                r = read_file_at(sfd, de->d_name, SECRET_FILE_MAX, &buf, &len);
                if (r < 0) {
                        r = sf_err_errno(err, r, "cannot read '%s/%s'", dir, de->d_name);
                        break;
                }
                r = write_file_atomic(dfd, de->d_name, buf, len, 0600);
                if (r < 0) {
                        r = sf_err_errno(err, r, "cannot write the backup's copy of '%s'", de->d_name);
                        break;
                }
                (void) xsnprintf(rel, sizeof rel, "secrets/%s", de->d_name);
                (void) json_array_append_new(contains, json_string(rel));
                n++;
        }
        if (r == 0 && errno != 0)
                r = sf_err_errno(err, -errno, "cannot list '%s'", dir);
        (void) closedir(d);
        if (r == 0 && fsync(dfd) < 0)
                r = sf_err_errno(err, -errno, "cannot sync the backup's secrets folder");
        if (r == 0)
                *ret_n = n;
        return r;
}

static int write_manifest(int dest_fd, const char *data, int schema, json_t *contains, struct sf_err *err)
{
        char when[40];
        struct timespec now;
        struct tm tm;
        _cleanup_free_ char *s = NULL;
        json_t *o;
        int r;

        (void) clock_gettime(CLOCK_REALTIME, &now);
        (void) gmtime_r(&now.tv_sec, &tm);
        (void) strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
        o = json_pack("{s:s, s:s, s:s, s:i, s:O, s:s}", "sfaasd", SFAASD_VERSION, "created", when, "data", data,
                      "schema", schema, "contains", contains, "notContained",
                      "images/ and blobs/ (image content), logs/ (function logs), tmp/");
        s = o ? json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
        json_decref(o);
        if (!s)
                return sf_err_set(err, -ENOMEM, "out of memory");
        r = write_file_atomic(dest_fd, "backup.json", s, strlen(s), 0600);
        if (r < 0)
                return sf_err_errno(err, r, "cannot write backup.json");
        return fsync(dest_fd) < 0 ? sf_err_errno(err, -errno, "cannot sync the backup folder") : 0;
}

static int take_backup(const char *data, const char *dest, int dest_fd, struct sf_err *err)
{
        char db[PATH_MAX], out[PATH_MAX];
        json_t *contains = json_array();
        size_t n_secrets = 0;
        int schema = 0, r;

        if (!contains)
                return sf_err_set(err, -ENOMEM, "out of memory");
        if (xsnprintf(db, sizeof db, "%s/sfaasd.db", data) < 0 || xsnprintf(out, sizeof out, "%s/sfaasd.db", dest) < 0)
                r = sf_err_set(err, -ENAMETOOLONG, "path too long");
        else
                r = store_backup(db, out, &schema, err);
        if (r >= 0 && fchmodat(dest_fd, "sfaasd.db", 0600, 0) < 0)
                r = sf_err_errno(err, -errno, "cannot set the mode of '%s'", out);
        if (r >= 0) {
                (void) json_array_append_new(contains, json_string("sfaasd.db"));
                r = copy_secrets(data, dest_fd, contains, &n_secrets, err);
        }
        if (r >= 0)
                r = write_manifest(dest_fd, data, schema, contains, err);
        json_decref(contains);
        if (r >= 0)
                printf("backup of '%s' in '%s': database (schema %d), %zu secret file(s); image content not "
                       "included\n", data, dest, schema, n_secrets);
        return r;
}

int cmd_backup(int argc, char **argv)
{
        static const struct option opts[] = {
                { "data", required_argument, NULL, 'd' },
                { "help", no_argument, NULL, 'h' },
                { NULL, 0, NULL, 0 },
        };
        const char *data = "./.sfaasd-data", *dest;
        char real[PATH_MAX];
        _cleanup_close_ int dest_fd = -1;
        struct sf_err err = { 0 };
        int c, r;

        optind = 1;
        opterr = 0;
        while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
                switch (c) {
                case 'd': data = optarg; break;
                case 'h':
                        printf("usage: sfaasd backup [--data DIR] DEST\n"
                               "Copy the state database (a consistent snapshot, the daemon may run) and the\n"
                               "secrets of DIR (default ./.sfaasd-data; the service's is /var/lib/sfaasd) into\n"
                               "DEST, a new folder. Image content is not included.\n");
                        return 0;
                default:
                        fprintf(stderr, "sfaasd backup: unknown or incomplete option '%s'\n", argv[optind - 1]);
                        return 2;
                }
        }
        if (optind + 1 != argc) {
                fprintf(stderr, "usage: sfaasd backup [--data DIR] DEST\n");
                return 2;
        }
        dest = argv[optind];
        if (!realpath(data, real)) {
                fprintf(stderr, "sfaasd backup: cannot use data folder '%s': %s\n", data, strerror(errno));
                return 1;
        }
        if (mkdir(dest, 0700) < 0) {
                fprintf(stderr, "sfaasd backup: cannot create '%s'%s: %s\n", dest,
                        errno == EEXIST ? " (give a folder that does not exist yet)" : "", strerror(errno));
                return 1;
        }
        dest_fd = open(dest, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        r = dest_fd < 0 ? sf_err_errno(&err, -errno, "cannot open '%s'", dest) : take_backup(real, dest, dest_fd, &err);
        if (r < 0) {
                /* Ours from the mkdir above: a half backup must not pass for one. */
                (void) rm_rf_at(AT_FDCWD, dest);
                fprintf(stderr, "sfaasd backup: %s\n", err.msg);
                return 1;
        }
        return 0;
}
