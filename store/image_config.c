/* SPDX-License-Identifier: MIT */
/*
 * Image config validation (SECURITY.md: "Validate the image config the same
 * way"), parsing the stored config back, and User resolution against the
 * image's own /etc/passwd and /etc/group.
 *
 * The config comes from a hostile image. Only the fields the launcher
 * applies are kept (Entrypoint, Cmd, Env, WorkingDir, User) plus two
 * informational ones (Labels, ExposedPorts), each checked and cleaned; the
 * rest is dropped so nothing unchecked reaches the database.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/base/cleanup.h"
#include "core/base/util.h"
#include "store/image_internal.h"

#define CONFIG_MAX_ARGS 4096
#define CONFIG_MAX_STRING (128U << 10)
#define CONFIG_MAX_LABELS 1024
#define CONFIG_MAX_PORTS 1024
#define USER_DB_MAX_BYTES (4U << 20)
/* A User string ("name:group"). */
#define USER_MAX_LEN 256
/* Digits of an id in /etc/passwd or /etc/group (leading zeros count). */
#define ID_MAX_DIGITS 15
/* Fields of a passwd or group line looked at: name, password, id, gid;
 * the last one takes the rest of the line. */
#define USER_DB_FIELDS 5

bool image_user_valid(const char *user)
{
        size_t part_len = 0;
        bool colon = false;

        if (!user || !*user)
                return false;
        for (const char *p = user; *p; p++) {
                if (*p == ':') {
                        if (colon || part_len == 0)
                                return false;
                        colon = true;
                        part_len = 0;
                        continue;
                }
                if (!isalnum((unsigned char) *p) && *p != '_' && *p != '.' && *p != '-')
                        return false;
                part_len++;
        }
        return part_len > 0 && strlen(user) <= USER_MAX_LEN;
}

int image_clean_abs_path(const char *in, char **ret)
{
        _cleanup_free_ char *rel = NULL;
        char *out;
        int r;

        if (!in || in[0] != '/')
                return -EBADMSG;
        /* The same rule as entry names (no "..", "." and "//" dropped), rooted. */
        r = image_path_normalize(in, IMAGE_PATH_ENTRY, &rel);
        if (r < 0)
                return r;
        out = xasprintf("/%s", rel);
        if (!out)
                return -ENOMEM;
        *ret = out;
        return 0;
}

/* A JSON string that is short enough and holds no NUL (jansson rejects
 * \u0000 unless asked, but the check costs nothing). */
static const char *json_plain_string(const json_t *v)
{
        const char *s;

        if (!json_is_string(v))
                return NULL;
        s = json_string_value(v);
        if (strlen(s) != json_string_length(v) || json_string_length(v) > CONFIG_MAX_STRING)
                return NULL;
        return s;
}

static bool env_valid(const char *s)
{
        const char *eq = strchr(s, '=');

        if (!eq || eq == s)
                return false;
        if (!isalpha((unsigned char) s[0]) && s[0] != '_')
                return false;
        for (const char *p = s; p < eq; p++)
                if (!isalnum((unsigned char) *p) && *p != '_')
                        return false;
        return true;
}

/* Copy a null or string array, checking each item. */
static int check_strv(const json_t *v, const char *field, bool env, json_t **ret, struct sf_err *err)
{
        _cleanup_json_ json_t *out = NULL;
        size_t i;
        json_t *item;

        if (!v || json_is_null(v)) {
                *ret = NULL;
                return 0;
        }
        if (!json_is_array(v))
                return sf_err_set(err, -EBADMSG, "image config: %s is not an array of strings", field);
        if (json_array_size(v) > CONFIG_MAX_ARGS)
                return sf_err_set(err, -EBADMSG, "image config: %s has more than %d items", field,
                                  CONFIG_MAX_ARGS);
        out = json_array();
        if (!out)
                return -ENOMEM;
        json_array_foreach(v, i, item) {
                const char *s = json_plain_string(item);
                char pbuf[IMAGE_PRINTABLE_SIZE];

                if (!s)
                        return sf_err_set(err, -EBADMSG, "image config: %s[%zu] is not a plain string", field,
                                          i);
                if (env && !env_valid(s))
                        return sf_err_set(err, -EBADMSG, "image config: Env entry '%s' is not NAME=value",
                                          image_printable(s, pbuf, sizeof pbuf));
                if (json_array_append_new(out, json_string(s)) < 0)
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(out);
        return 0;
}

static bool port_valid(const char *k)
{
        const char *slash = strchr(k, '/');
        size_t digits = slash ? (size_t) (slash - k) : strlen(k);
        uint64_t port = 0;

        if (digits == 0 || digits > 5)
                return false;
        for (size_t i = 0; i < digits; i++) {
                if (!isdigit((unsigned char) k[i]))
                        return false;
                port = port * 10 + (uint64_t) (k[i] - '0');
        }
        if (port == 0 || port > 65535)
                return false;
        return !slash || strcmp(slash, "/tcp") == 0 || strcmp(slash, "/udp") == 0 ||
               strcmp(slash, "/sctp") == 0;
}

static int parse_id(const char *s, size_t n, uint32_t *ret);

/* The numeric parts of a User ("1000", "1000:50", "app:50") must be image
 * ids, 0..65535: a larger one would be cut or wrap somewhere on the way to
 * setresuid() (containerd CVE-2024-40635: "User": "2147483648" ran as
 * root). Refused when the image is imported, not when it first runs. */
static int user_ids_in_range(const char *user)
{
        const char *colon = strchr(user, ':');
        size_t ulen = colon ? (size_t) (colon - user) : strlen(user);
        uint32_t id;

        if (strspn(user, "0123456789") == ulen && parse_id(user, ulen, &id) < 0)
                return -ERANGE;
        if (colon && strspn(colon + 1, "0123456789") == strlen(colon + 1) &&
            parse_id(colon + 1, strlen(colon + 1), &id) < 0)
                return -ERANGE;
        return 0;
}

/* Validate an image config's "config" object (NULL or JSON null = empty)
 * and return a new object holding only the validated, cleaned fields. */
static int config_check(const json_t *config, json_t **ret, struct sf_err *err)
{
        _cleanup_json_ json_t *out = NULL;
        json_t *v, *arr = NULL;
        int r;

        out = json_object();
        if (!out)
                return -ENOMEM;
        if (config && !json_is_null(config) && !json_is_object(config))
                return sf_err_set(err, -EBADMSG, "image config: \"config\" is not an object");
        if (!config || json_is_null(config)) {
                *ret = TAKE_PTR(out);
                return 0;
        }

        static const char *const argv_fields[] = { "Entrypoint", "Cmd", "Env" };
        for (size_t i = 0; i < ELEMENTSOF(argv_fields); i++) {
                r = check_strv(json_object_get(config, argv_fields[i]), argv_fields[i], i == 2, &arr, err);
                if (r < 0)
                        return r;
                if (arr && json_object_set_new(out, argv_fields[i], arr) < 0)
                        return -ENOMEM;
        }

        v = json_object_get(config, "WorkingDir");
        if (v && !json_is_null(v)) {
                const char *s = json_plain_string(v);
                _cleanup_free_ char *clean = NULL;
                char pbuf[IMAGE_PRINTABLE_SIZE];

                if (!s)
                        return sf_err_set(err, -EBADMSG, "image config: WorkingDir is not a plain string");
                if (*s) {
                        if (strlen(s) > IMAGE_DEFAULT_MAX_PATH_LEN)
                                return sf_err_set(err, -EBADMSG, "image config: WorkingDir is too long");
                        r = image_clean_abs_path(s, &clean);
                        if (r == -ENOMEM)
                                return r;
                        if (r < 0)
                                return sf_err_set(err, -EBADMSG,
                                                  "image config: WorkingDir '%s' must be an absolute path "
                                                  "without '..'",
                                                  image_printable(s, pbuf, sizeof pbuf));
                        if (json_object_set_new(out, "WorkingDir", json_string(clean)) < 0)
                                return -ENOMEM;
                }
        }

        v = json_object_get(config, "User");
        if (v && !json_is_null(v)) {
                const char *s = json_plain_string(v);
                char pbuf[IMAGE_PRINTABLE_SIZE];

                if (!s)
                        return sf_err_set(err, -EBADMSG, "image config: User is not a plain string");
                if (*s) {
                        if (!image_user_valid(s))
                                return sf_err_set(err, -EBADMSG,
                                                  "image config: User '%s' is not name or id[:group or id]",
                                                  image_printable(s, pbuf, sizeof pbuf));
                        r = user_ids_in_range(s);
                        if (r < 0)
                                return sf_err_set(err, -EBADMSG,
                                                  "image config: User '%s' has an id out of range (0..%u)",
                                                  image_printable(s, pbuf, sizeof pbuf), IMAGE_ID_LIMIT - 1);
                        if (json_object_set_new(out, "User", json_string(s)) < 0)
                                return -ENOMEM;
                }
        }

        /* Informational: kept when well-formed, dropped silently otherwise. */
        v = json_object_get(config, "Labels");
        if (json_is_object(v) && json_object_size(v) <= CONFIG_MAX_LABELS) {
                _cleanup_json_ json_t *labels = json_object();
                const char *k;
                json_t *lv;

                if (!labels)
                        return -ENOMEM;
                json_object_foreach(v, k, lv) {
                        const char *s = json_plain_string(lv);
                        if (s && json_object_set_new(labels, k, json_string(s)) < 0)
                                return -ENOMEM;
                }
                if (json_object_set_new(out, "Labels", TAKE_PTR(labels)) < 0)
                        return -ENOMEM;
        }
        v = json_object_get(config, "ExposedPorts");
        if (json_is_object(v) && json_object_size(v) <= CONFIG_MAX_PORTS) {
                _cleanup_json_ json_t *ports = json_object();
                const char *k;
                json_t *pv;

                if (!ports)
                        return -ENOMEM;
                json_object_foreach(v, k, pv) {
                        if (port_valid(k) && json_object_set_new(ports, k, json_object()) < 0)
                                return -ENOMEM;
                }
                if (json_object_set_new(out, "ExposedPorts", TAKE_PTR(ports)) < 0)
                        return -ENOMEM;
        }

        *ret = TAKE_PTR(out);
        return 0;
}

int image_config_doc_check(const json_t *doc, json_t **ret_config, struct sf_err *err)
{
        json_t *os, *rootfs, *ids, *id;
        size_t i;

        if (!json_is_object(doc))
                return sf_err_set(err, -EBADMSG, "image config: not a JSON object");
        os = json_object_get(doc, "os");
        if (os && (!json_is_string(os) || strcmp(json_string_value(os), "linux") != 0))
                return sf_err_set(err, -EBADMSG, "image config: os is not \"linux\"");
        rootfs = json_object_get(doc, "rootfs");
        if (!json_is_object(rootfs) || !json_is_string(json_object_get(rootfs, "type")) ||
            strcmp(json_string_value(json_object_get(rootfs, "type")), "layers") != 0)
                return sf_err_set(err, -EBADMSG, "image config: rootfs.type is not \"layers\"");
        ids = json_object_get(rootfs, "diff_ids");
        if (!json_is_array(ids))
                return sf_err_set(err, -EBADMSG, "image config: rootfs.diff_ids is not an array");
        json_array_foreach(ids, i, id) {
                if (!json_is_string(id) || !image_digest_valid(json_string_value(id)))
                        return sf_err_set(err, -EBADMSG, "image config: rootfs.diff_ids[%zu] is not a sha256 digest",
                                          i);
        }
        return config_check(json_object_get(doc, "config"), ret_config, err);
}

static int strv_from_json(const json_t *arr, char ***ret)
{
        _cleanup_strv_free_ char **v = NULL;
        size_t i, n;
        json_t *item;

        if (!arr) {
                *ret = NULL;
                return 0;
        }
        n = json_array_size(arr);
        v = calloc(n + 1, sizeof *v);
        if (!v)
                return -ENOMEM;
        json_array_foreach(arr, i, item) {
                v[i] = strdup(json_string_value(item));
                if (!v[i])
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(v);
        return 0;
}

void image_config_free(struct image_config *c)
{
        if (!c)
                return;
        strv_free(c->entrypoint);
        strv_free(c->cmd);
        strv_free(c->env);
        free(c->workdir);
        free(c->user);
        free(c);
}

DEFINE_TRIVIAL_CLEANUP_FUNC(struct image_config *, image_config_free)

int image_config_parse(const char *config_json, struct image_config **ret, struct sf_err *err)
{
        _cleanup_json_ json_t *doc = NULL, *clean = NULL;
        _cleanup_(image_config_freep) struct image_config *c = NULL;
        json_error_t jerr;
        json_t *v;
        int r;

        if (!config_json)
                return sf_err_set(err, -EINVAL, "no image config");
        doc = json_loads(config_json, JSON_REJECT_DUPLICATES, &jerr);
        if (!doc)
                return sf_err_set(err, -EBADMSG, "image config: bad JSON: %s", jerr.text);
        r = config_check(doc, &clean, err);
        if (r < 0)
                return r;
        c = calloc(1, sizeof *c);
        if (!c)
                return -ENOMEM;
        if (strv_from_json(json_object_get(clean, "Entrypoint"), &c->entrypoint) < 0 ||
            strv_from_json(json_object_get(clean, "Cmd"), &c->cmd) < 0 ||
            strv_from_json(json_object_get(clean, "Env"), &c->env) < 0)
                return -ENOMEM;
        v = json_object_get(clean, "WorkingDir");
        if (v && !(c->workdir = strdup(json_string_value(v))))
                return -ENOMEM;
        v = json_object_get(clean, "User");
        if (v && !(c->user = strdup(json_string_value(v))))
                return -ENOMEM;
        *ret = TAKE_PTR(c);
        return 0;
}

/* ---- users ------------------------------------------------------------- */

/* Read rootfs/<path> (resolved inside the root) as a small regular file.
 * -ENOENT when absent. */
static int read_user_db(int root_fd, const char *path, char **ret)
{
        _cleanup_close_ int fd = -1;
        _cleanup_free_ char *buf = NULL;
        struct stat st;
        size_t len = 0;

        /* O_NONBLOCK: a FIFO planted at /etc/passwd must not block the
         * worker; it is refused by the S_ISREG check below anyway. */
        fd = open_in_root(root_fd, path, O_RDONLY | O_NONBLOCK | O_NOCTTY, 0);
        if (fd < 0)
                return fd;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return -EBADMSG;
        if ((uint64_t) st.st_size > USER_DB_MAX_BYTES)
                return -EFBIG;
        buf = malloc((size_t) st.st_size + 1);
        if (!buf)
                return -ENOMEM;
        while (len < (size_t) st.st_size) {
                ssize_t n = read(fd, buf + len, (size_t) st.st_size - len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        break;
                len += (size_t) n;
        }
        buf[len] = '\0';
        *ret = TAKE_PTR(buf);
        return 0;
}

static int parse_id(const char *s, size_t n, uint32_t *ret)
{
        char tmp[ID_MAX_DIGITS + 1];
        uint64_t v;

        if (n == 0 || n > ID_MAX_DIGITS)
                return -EINVAL;
        memcpy(tmp, s, n);
        tmp[n] = '\0';
        if (parse_u64(tmp, &v) < 0 || v >= IMAGE_ID_LIMIT)
                return -EINVAL;
        *ret = (uint32_t) v;
        return 0;
}

/* Look a record up in a passwd- or group-style file: colon-separated
 * fields, one record a line. Matching by name (field 0) or, when name is
 * NULL, by id (field 2). Returns fields 2 and 3 (3 only for passwd).
 * Malformed lines are skipped, never half-used. */
static int user_db_find(const char *db, bool passwd, const char *name, uint32_t by_id, uint32_t *ret_id,
                        uint32_t *ret_gid)
{
        const char *line = db;

        while (*line) {
                const char *end = strchr(line, '\n');
                const char *f[USER_DB_FIELDS];
                size_t flen[USER_DB_FIELDS], nf = 0, need = passwd ? 4 : 3;
                const char *p = line;
                uint32_t id, gid = 0;

                if (!end)
                        end = line + strlen(line);
                while (nf < ELEMENTSOF(f)) {
                        const char *c = memchr(p, ':', (size_t) (end - p));
                        f[nf] = p;
                        flen[nf] = (size_t) ((c ? c : end) - p);
                        nf++;
                        if (!c)
                                break;
                        p = c + 1;
                }
                line = *end ? end + 1 : end;
                if (nf < need || flen[0] == 0)
                        continue;
                if (parse_id(f[2], flen[2], &id) < 0)
                        continue;
                if (passwd && parse_id(f[3], flen[3], &gid) < 0)
                        continue;
                if (name ? (flen[0] != strlen(name) || memcmp(f[0], name, flen[0]) != 0) : id != by_id)
                        continue;
                *ret_id = id;
                if (ret_gid)
                        *ret_gid = gid;
                return 0;
        }
        return -ESRCH;
}

/* Why /etc/passwd or /etc/group could not be used, for the deploy answer. */
static int user_db_error(struct sf_err *err, const char *path, int r)
{
        if (r == -ENOMEM)
                return r;
        if (r == -EFBIG)
                return sf_err_set(err, -EBADMSG, "the image's %s is larger than %u bytes", path, USER_DB_MAX_BYTES);
        if (r == -EBADMSG)
                return sf_err_set(err, -EBADMSG, "the image's %s is not a regular file", path);
        return sf_err_set(err, -EBADMSG, "the image's %s is unreadable: %s", path, strerror(-r));
}

static bool all_digits(const char *s)
{
        if (!*s)
                return false;
        for (; *s; s++)
                if (!isdigit((unsigned char) *s))
                        return false;
        return true;
}

int image_resolve_user(const char *rootfs, const char *user, uint32_t *ret_uid, uint32_t *ret_gid,
                       struct sf_err *err)
{
        _cleanup_close_ int root_fd = -1;
        _cleanup_free_ char *u = NULL, *passwd = NULL, *group = NULL;
        char *g;
        uint32_t uid = 0, gid = 0;
        char pbuf[IMAGE_PRINTABLE_SIZE];
        int r;

        if (!user || !*user) {
                *ret_uid = 0;
                *ret_gid = 0;
                return 0;
        }
        if (!image_user_valid(user))
                return sf_err_set(err, -EBADMSG, "user '%s' is not name or id[:group or id]",
                                  image_printable(user, pbuf, sizeof pbuf));
        u = strdup(user);
        if (!u)
                return -ENOMEM;
        g = strchr(u, ':');
        if (g)
                *g++ = '\0';

        root_fd = open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (root_fd < 0)
                return sf_err_errno(err, -errno, "cannot open rootfs '%s'", rootfs);

        if (all_digits(u)) {
                if (parse_id(u, strlen(u), &uid) < 0)
                        return sf_err_set(err, -EBADMSG, "uid %s is out of range (0..65535)", u);
                /* Docker semantics: a numeric uid takes its primary group
                 * from passwd when listed there, else 0. With a group
                 * given, passwd is not needed (nor read). */
                if (!g) {
                        r = read_user_db(root_fd, "/etc/passwd", &passwd);
                        if (r < 0 && r != -ENOENT)
                                return user_db_error(err, "/etc/passwd", r);
                        if (passwd)
                                (void) user_db_find(passwd, true, NULL, uid, &uid, &gid);
                }
        } else {
                r = read_user_db(root_fd, "/etc/passwd", &passwd);
                if (r < 0 && r != -ENOENT)
                        return user_db_error(err, "/etc/passwd", r);
                if (!passwd || user_db_find(passwd, true, u, 0, &uid, &gid) < 0)
                        return sf_err_set(err, -EBADMSG, "user '%s' is not in the image's /etc/passwd", u);
        }
        if (g) {
                if (all_digits(g)) {
                        if (parse_id(g, strlen(g), &gid) < 0)
                                return sf_err_set(err, -EBADMSG, "gid %s is out of range (0..65535)", g);
                } else {
                        r = read_user_db(root_fd, "/etc/group", &group);
                        if (r < 0 && r != -ENOENT)
                                return user_db_error(err, "/etc/group", r);
                        if (!group || user_db_find(group, false, g, 0, &gid, NULL) < 0)
                                return sf_err_set(err, -EBADMSG, "group '%s' is not in the image's /etc/group", g);
                }
        }
        *ret_uid = uid;
        *ret_gid = gid;
        return 0;
}
