/* SPDX-License-Identifier: MIT */
/*
 * sfaasd backup [--config FILE] [--data DIR] [--secrets-key FILE] DEST
 *
 * A backup of a data folder, taken while the daemon runs: DEST (a new
 * folder, mode 0700) gets
 *   sfaasd.db     a consistent snapshot of the state database (store_backup:
 *                 VACUUM INTO on a read-only connection of its own),
 *   secrets/      the admin credentials (and an older installation's
 *                 store.key, which the next start moves out of the folder),
 *   secrets.key   the key that seals /system/secrets, which lives outside
 *                 the data folder (core/daemon/keys.h: the config's
 *                 secrets_key_file, else DATA.secrets-key beside it, or a
 *                 systemd credential); this makes the backup as sensitive
 *                 as the data folder and its key together,
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
#include "core/daemon/config.h"
#include "core/daemon/keys.h"
#include "core/sfaasd.h"
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

/* The secrets key, wherever the daemon finds it (keys_source), into
 * DEST/secrets.key (0600). A missing key is not an error: a data folder
 * that never held a secret may have none yet, and an older installation's
 * is DATA/secrets/store.key (copied with secrets/); *ret_from is then "". */
static int copy_key(const struct sfaasd_config *cfg, int dest_fd, json_t *contains, char *ret_from,
                    size_t size, struct sf_err *err)
{
        struct keys_source src;
        _cleanup_free_ char *buf = NULL;
        size_t len = 0;
        int r;

        ret_from[0] = '\0';
        r = keys_source(cfg, &src, err);
        if (r < 0)
                return r;
        r = read_file_at(AT_FDCWD, src.path, SECRET_FILE_MAX, &buf, &len);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return sf_err_errno(err, r, "cannot read the secrets key '%s'", src.path);
        r = write_file_atomic(dest_fd, "secrets.key", buf, len, 0600);
        explicit_bzero(buf, len);
        if (r < 0)
                return sf_err_errno(err, r, "cannot write the backup's copy of the secrets key");
        (void) json_array_append_new(contains, json_string("secrets.key"));
        (void) xsnprintf(ret_from, size, "%s", src.path);
        return 0;
}

static int write_manifest(int dest_fd, const char *data, const char *key_from, int schema, json_t *contains,
                          struct sf_err *err)
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
        o = json_pack("{s:s, s:s, s:s, s:i, s:O, s:s?, s:s}", "sfaasd", SFAASD_VERSION, "created", when,
                      "data", data, "schema", schema, "contains", contains, "secretsKeyFrom",
                      key_from[0] ? key_from : NULL, "notContained",
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

static int take_backup(const struct sfaasd_config *cfg, const char *dest, int dest_fd, struct sf_err *err)
{
        const char *data = cfg->data_dir;
        char db[PATH_MAX], out[PATH_MAX], key_from[PATH_MAX];
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
                r = copy_key(cfg, dest_fd, contains, key_from, sizeof key_from, err);
        if (r >= 0)
                r = write_manifest(dest_fd, data, key_from, schema, contains, err);
        json_decref(contains);
        if (r < 0)
                return r;
        printf("backup of '%s' in '%s': database (schema %d), %zu secret file(s), ", data, dest, schema,
               n_secrets);
        if (key_from[0])
                printf("the secrets key from '%s'; image content not included\n", key_from);
        else
                printf("no secrets key outside the data folder; image content not included\n");
        return 0;
}

static void backup_usage(FILE *f)
{
        fprintf(f, "usage: sfaasd backup [--config FILE] [--data DIR] [--secrets-key FILE] DEST\n\n"
                   "Copy the state database (a consistent snapshot, the daemon may run), the admin credentials\n"
                   "and the key that seals the secrets into DEST, a new folder. Image content is not included.\n\n"
                   "  --config FILE       the daemon's configuration (data folder, secrets_key_file); the\n"
                   "                      service's is /etc/sfaasd/config.json\n"
                   "  --data DIR          the data folder (default from the config, else ./.sfaasd-data; the\n"
                   "                      service's is /var/lib/sfaasd)\n"
                   "  --secrets-key FILE  the key file (default from the config, else beside the data folder)\n");
}

int cmd_backup(int argc, char **argv)
{
        static const struct option opts[] = {
                { "config", required_argument, NULL, 'c' }, { "data", required_argument, NULL, 'd' },
                { "secrets-key", required_argument, NULL, 'k' }, { "help", no_argument, NULL, 'h' },
                { NULL, 0, NULL, 0 },
        };
        struct sfaasd_config cfg;
        const char *config = NULL, *data = NULL, *key = NULL, *dest;
        char real[PATH_MAX];
        _cleanup_close_ int dest_fd = -1;
        struct sf_err err = { 0 };
        int c, r;

        optind = 1;
        opterr = 0;
        while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
                switch (c) {
                case 'c': config = optarg; break;
                case 'd': data = optarg; break;
                case 'k': key = optarg; break;
                case 'h': backup_usage(stdout); return EXIT_SUCCESS;
                default:
                        fprintf(stderr, "sfaasd backup: unknown or incomplete option '%s'\n", argv[optind - 1]);
                        return EXIT_USAGE;
                }
        }
        if (optind + 1 != argc) {
                backup_usage(stderr);
                return EXIT_USAGE;
        }
        dest = argv[optind];
        config_defaults(&cfg);
        if (config && config_load_file(&cfg, config, &err) < 0) {
                fprintf(stderr, "sfaasd backup: %s\n", err.msg);
                return EXIT_FAILURE;
        }
        if ((data && xsnprintf(cfg.data_dir, sizeof cfg.data_dir, "%s", data) < 0) ||
            (key && xsnprintf(cfg.secrets_key_file, sizeof cfg.secrets_key_file, "%s", key) < 0)) {
                fprintf(stderr, "sfaasd backup: a path is too long\n");
                return EXIT_USAGE;
        }
        if (!realpath(cfg.data_dir, real)) {
                fprintf(stderr, "sfaasd backup: cannot use data folder '%s': %s\n", cfg.data_dir, strerror(errno));
                return EXIT_FAILURE;
        }
        (void) xsnprintf(cfg.data_dir, sizeof cfg.data_dir, "%s", real);
        if (mkdir(dest, 0700) < 0) {
                fprintf(stderr, "sfaasd backup: cannot create '%s'%s: %s\n", dest,
                        errno == EEXIST ? " (give a folder that does not exist yet)" : "", strerror(errno));
                return EXIT_FAILURE;
        }
        dest_fd = open(dest, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        r = dest_fd < 0 ? sf_err_errno(&err, -errno, "cannot open '%s'", dest) : take_backup(&cfg, dest, dest_fd, &err);
        if (r < 0) {
                /* Ours from the mkdir above: a half backup must not pass for one. */
                (void) rm_rf_at(AT_FDCWD, dest);
                fprintf(stderr, "sfaasd backup: %s\n", err.msg);
                return EXIT_FAILURE;
        }
        return EXIT_SUCCESS;
}
