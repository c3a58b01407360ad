/* SPDX-License-Identifier: MIT */
/*
 * sfaasd image import|list|rm|prune: the image store of a gateway. Argument
 * parsing and printing only, split into steps as client_cmd.h says; the tar
 * of a layout directory and the progress bar are in client_image.c.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cmd/client.h"
#include "cmd/client_cmd.h"
#include "cmd/client_http.h"
#include "cmd/client_image.h"
#include "cmd/commands.h"
#include "core/base/cleanup.h"
#include "core/base/util.h"

#define IMAGE_REF_MAX 512 /* image rm REF: a name, a name:tag, an id or name@digest */

static const char image_help[] =
        "usage: sfaasd image import FILE|DIR [--name NAME:TAG] [-n NS] [OPTIONS]\n"
        "       sfaasd image pull REF [-n NS] [OPTIONS]\n"
        "       sfaasd image list [--json] [-n NS] [OPTIONS]\n"
        "       sfaasd image rm REF [-n NS] [OPTIONS]\n"
        "       sfaasd image prune [OPTIONS]\n"
        "\n"
        "Import an image archive (docker save tar, OCI archive tar, or an OCI image\n"
        "layout directory, sent as a tar) into the gateway's image store, or list\n"
        "the images it holds. A progress bar is drawn on stderr when it is a terminal.\n"
        "pull fetches REF (registry/name:tag or registry/name@sha256:...) from its\n"
        "registry into the store and waits for it (no --timeout unless given; the\n"
        "gateway's log and GET /system/images/pulls show the progress); a deploy\n"
        "of such a name pulls it too when the namespace lacks it.\n"
        "rm removes a name (REF a tag) or every name of the namespace for an image\n"
        "(REF an id), and the image once nothing refers to it; an image a function\n"
        "uses is refused. prune (the admin's) removes every image of every namespace\n"
        "without a name or a function that is not shared.\n"
        "Image names are per namespace (a tenant): a function finds only the names\n"
        "of its own namespace; the same image imported into two namespaces is\n"
        "stored and unpacked once.\n"
        "\n"
        "      --name NAME:TAG       tag the imported image (import)\n"
        "      --json                print the gateway's JSON as is (list)\n"
        "  -n, --namespace NS        the namespace (import, pull, list, rm; default: the gateway's,\n"
        "                            or the tenant's own with a tenant's token)\n" COMMON_HELP;


/* "image import FILE|DIR [--name NAME:TAG]" */
struct import_cmd {
        struct common co;
        const char *cmd; /* "image import", for messages */
        const char *file, *tag, *ns;
        FILE *f;         /* the archive, or the tar made of a layout directory */
        off_t body_len;
        char *q;         /* the query "name=TAG", NULL without --name */
        char *qns;       /* the query "namespace=NS", NULL without -n */
};

static void import_cmd_release(struct import_cmd *m)
{
        if (m->f)
                (void) fclose(m->f);
        free(m->q);
        free(m->qns);
}

static int import_option(struct import_cmd *m, int c, char **argv)
{
        switch (c) {
        case 'h':
                fputs(image_help, stdout);
                return CLI_PARSE_HELP;
        case OPT_NAME: m->tag = optarg; return 0;
        case 'n': m->ns = optarg; return 0;
        default: return cli_common_option(&m->co, m->cmd, c, argv);
        }
}

static int import_parse(struct import_cmd *m, int argc, char **argv)
{
        static const struct option opts[] = {
                { "name", required_argument, NULL, OPT_NAME },
                { "namespace", required_argument, NULL, 'n' },
                COMMON_LONGOPTS,
                {},
        };
        int c, r;

        optind = 0;
        opterr = 0;
        while ((c = getopt_long(argc, argv, COMMON_SHORTOPTS "n:", opts, NULL)) != -1) {
                r = import_option(m, c, argv);
                if (r != 0)
                        return r;
        }
        return 0;
}

static int import_validate(struct import_cmd *m, int argc, char **argv)
{
        if (optind >= argc)
                return cli_usage_error(m->cmd, "an archive FILE is required");
        if (optind + 1 < argc)
                return cli_usage_error(m->cmd, "unexpected argument '%s'", argv[optind + 1]);
        m->file = argv[optind];
        if (m->tag && (!*m->tag || strpbrk(m->tag, " \t\r\n")))
                return cli_usage_error(m->cmd, "invalid image name '%s'", m->tag);
        if (m->ns && !client_name_valid(m->ns))
                return cli_usage_error(m->cmd, "invalid namespace '%s'", m->ns);
        return 0;
}

/* After a failed stat() or fopen() of file: say so; -errno. */
static int cannot_open(const char *file)
{
        int r = errno > 0 ? -errno : -EIO;

        fprintf(stderr, "sfaasd: cannot open '%s': %s\n", file, strerror(-r));
        return r;
}

/* FILE as it is sent: an archive as it is, a layout directory as a tar made
 * while it is read. */
static int import_open(struct import_cmd *m)
{
        struct sf_err e = {};
        struct stat st;
        int r;

        if (stat(m->file, &st) < 0)
                return cannot_open(m->file);
        if (S_ISDIR(st.st_mode)) {
                r = client_tar_oci_dir(m->file, &m->f, &m->body_len, &e);
                return r < 0 ? cli_fail(r, &e) : 0;
        }
        m->f = fopen(m->file, "re");
        if (!m->f)
                return cannot_open(m->file);
        if (fstat(fileno(m->f), &st) < 0 || !S_ISREG(st.st_mode)) {
                fprintf(stderr, "sfaasd: '%s' is not a regular file or a directory\n", m->file);
                return -EINVAL;
        }
        m->body_len = st.st_size;
        return 0;
}

static int import_plan(struct import_cmd *m)
{
        if ((m->tag && !(m->q = xasprintf("name=%s", m->tag))) ||
            (m->ns && !(m->qns = xasprintf("namespace=%s", m->ns))))
                return cli_fail(-ENOMEM, NULL);
        return 0;
}

/* "imported ID TAG,TAG..." (or "pulled ...") from the gateway's answer. */
static int print_imported(json_t *ans, const char *verb)
{
        json_t *t = json_object_get(ans, "tags"), *v;
        _cleanup_free_ char *tags = NULL;
        size_t i, len = 0;
        char *p;

        json_array_foreach(t, i, v)
                if (json_is_string(v))
                        len += json_string_length(v) + 1;
        tags = calloc(len + 1, 1);
        if (!tags)
                return cli_fail(-ENOMEM, NULL);
        p = tags;
        json_array_foreach(t, i, v) {
                if (!json_is_string(v))
                        continue;
                if (p != tags)
                        *p++ = ',';
                memcpy(p, json_string_value(v), json_string_length(v));
                p += json_string_length(v);
        }
        printf("%s %s %s\n", verb, cli_str_or(ans, "id", "?"), *tags ? tags : "<none>");
        return cli_flush_stdout();
}

static int import_call(const struct import_cmd *m)
{
        _cleanup_(client_release) struct client cl = {};
        _cleanup_(client_response_release) struct client_response resp = {};
        _cleanup_(json_decrefp) json_t *ans = NULL;
        struct sf_err e = {};
        int wrapped = 0, r;
        FILE *up;

        r = cli_connect(&cl, &m->co, true);
        if (r < 0)
                return r;
        up = client_progress_wrap(m->f, m->body_len, "uploading", &wrapped);
        r = client_do(&cl,
                      &(struct client_request) {
                              .method = "POST",
                              .path = "/system/images",
                              .query = m->q ? (const char *const[]) { m->q, m->qns }
                                            : (const char *const[]) { m->qns },
                              .n_query = (m->q ? 1 : 0) + (m->qns ? 1 : 0),
                              .auth = true,
                              .content_type = "application/x-tar",
                              .upload = up,
                              .upload_len = m->body_len,
                      },
                      &resp, &e);
        if (wrapped)
                (void) fclose(up);
        if (r < 0)
                return cli_fail(r, &e);
        if (!cli_is_2xx(resp.status))
                return cli_fail_response(&resp, true, m->cmd);
        r = cli_parse_answer(&resp, m->cmd, &ans);
        if (r < 0)
                return r;
        return print_imported(ans, "imported");
}

static int image_import(int argc, char **argv, const char *cmd)
{
        _cleanup_(import_cmd_release) struct import_cmd m = { .co = COMMON_INIT, .cmd = cmd };
        int r;

        r = import_parse(&m, argc, argv);
        if (r != 0)
                return cli_args_exit(r);
        r = import_validate(&m, argc, argv);
        if (r < 0)
                return cli_args_exit(r);
        if (import_open(&m) < 0 || import_plan(&m) < 0)
                return EXIT_FAILURE;
        r = cli_gateway_check(&m.co);
        if (r < 0)
                return cli_args_exit(r);
        return import_call(&m) < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* "image list [--json]" */
struct image_list_cmd {
        struct common co;
        const char *cmd; /* "image list" */
        const char *ns;
        char *q;         /* the query "namespace=NS", NULL without -n */
        bool as_json;
};

static void image_list_cmd_release(struct image_list_cmd *l)
{
        free(l->q);
}

static int image_list_option(struct image_list_cmd *l, int c, char **argv)
{
        switch (c) {
        case 'h':
                fputs(image_help, stdout);
                return CLI_PARSE_HELP;
        case OPT_JSON: l->as_json = true; return 0;
        case 'n': l->ns = optarg; return 0;
        default: return cli_common_option(&l->co, l->cmd, c, argv);
        }
}

static int image_list_parse(struct image_list_cmd *l, int argc, char **argv)
{
        static const struct option opts[] = {
                { "json", no_argument, NULL, OPT_JSON },
                { "namespace", required_argument, NULL, 'n' },
                COMMON_LONGOPTS,
                {},
        };
        int c, r;

        optind = 0;
        opterr = 0;
        while ((c = getopt_long(argc, argv, COMMON_SHORTOPTS "n:", opts, NULL)) != -1) {
                r = image_list_option(l, c, argv);
                if (r != 0)
                        return r;
        }
        if (optind < argc)
                return cli_usage_error(l->cmd, "unexpected argument '%s'", argv[optind]);
        if (l->ns && !client_name_valid(l->ns))
                return cli_usage_error(l->cmd, "invalid namespace '%s'", l->ns);
        if (l->ns && !(l->q = xasprintf("namespace=%s", l->ns)))
                return cli_fail(-ENOMEM, NULL);
        return 0;
}

static int print_images(json_t *arr)
{
        size_t i, j;
        json_t *img, *t, *tv;

        printf("%-12s  %-10s  %-20s  %s\n", "ID", "SIZE", "CREATED", "TAGS");
        json_array_foreach(arr, i, img) {
                const char *id = cli_str_or(img, "id", "");
                json_t *sz = json_object_get(img, "size");
                char size[CLIENT_SIZE_TEXT_MAX] = "?";

                if (str_startswith(id, "sha256:"))
                        id += STRLEN("sha256:");
                if (json_is_integer(sz) && json_integer_value(sz) >= 0)
                        (void) client_format_size((unsigned long long) json_integer_value(sz), size,
                                                  sizeof size);
                printf("%-12.12s  %-10s  %-20.20s  ", id, size, cli_str_or(img, "createdAt", ""));
                t = json_object_get(img, "tags");
                if (json_array_size(t) == 0)
                        fputs("<none>", stdout);
                json_array_foreach(t, j, tv)
                        printf("%s%s", j ? "," : "", json_is_string(tv) ? json_string_value(tv) : "?");
                putchar('\n');
        }
        return cli_flush_stdout();
}

static int image_list_call(const struct image_list_cmd *l)
{
        _cleanup_(client_release) struct client cl = {};
        _cleanup_(client_response_release) struct client_response resp = {};
        _cleanup_(json_decrefp) json_t *arr = NULL;
        struct sf_err e = {};
        int r;

        r = cli_connect(&cl, &l->co, true);
        if (r < 0)
                return r;
        r = client_do(&cl,
                      &(struct client_request) { .method = "GET", .path = "/system/images", .auth = true,
                                                 .query = (const char *const[]) { l->q }, .n_query = l->q ? 1 : 0 },
                      &resp, &e);
        if (r < 0)
                return cli_fail(r, &e);
        if (!cli_is_2xx(resp.status))
                return cli_fail_response(&resp, true, l->cmd);
        if (l->as_json) {
                cli_print_raw_json(&resp);
                return cli_flush_stdout();
        }
        r = cli_parse_array_answer(&resp, l->cmd, &arr);
        if (r < 0)
                return r;
        return print_images(arr);
}

static int image_list(int argc, char **argv, const char *cmd)
{
        _cleanup_(image_list_cmd_release) struct image_list_cmd l = { .co = COMMON_INIT, .cmd = cmd };
        int r;

        r = image_list_parse(&l, argc, argv);
        if (r != 0)
                return cli_args_exit(r);
        r = cli_gateway_check(&l.co);
        if (r < 0)
                return cli_args_exit(r);
        return image_list_call(&l) < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}

static bool image_ref_chars_ok(const char *s)
{
        if (!*s || strlen(s) > IMAGE_REF_MAX)
                return false;
        for (; *s; s++)
                if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
                      strchr("._-/:@", *s)))
                        return false;
        return true;
}

/* "image rm REF [-n NS]" and "image prune [-n NS]": one call each, the
 * answer summarised. */
struct image_rm_cmd {
        struct common co;
        const char *cmd; /* "image rm" or "image prune" */
        bool prune;      /* prune: no REF */
        const char *ns, *ref;
        char *path, *q;  /* the request's path; the query "namespace=NS", NULL without -n */
};

static void image_rm_cmd_release(struct image_rm_cmd *m)
{
        free(m->path);
        free(m->q);
}

static int image_rm_option(struct image_rm_cmd *m, int c, char **argv)
{
        switch (c) {
        case 'h':
                fputs(image_help, stdout);
                return CLI_PARSE_HELP;
        case 'n': m->ns = optarg; return 0;
        default: return cli_common_option(&m->co, m->cmd, c, argv);
        }
}

static int image_rm_parse(struct image_rm_cmd *m, int argc, char **argv)
{
        static const struct option opts[] = {
                { "namespace", required_argument, NULL, 'n' },
                COMMON_LONGOPTS,
                {},
        };
        int c, r;

        optind = 0;
        opterr = 0;
        while ((c = getopt_long(argc, argv, COMMON_SHORTOPTS "n:", opts, NULL)) != -1) {
                r = image_rm_option(m, c, argv);
                if (r != 0)
                        return r;
        }
        return 0;
}

/* The operands and -n, then the request's path and query. */
static int image_rm_validate(struct image_rm_cmd *m, int argc, char **argv)
{
        if (!m->prune) {
                if (optind >= argc)
                        return cli_usage_error(m->cmd, "an image REF is required");
                m->ref = argv[optind++];
                if (!image_ref_chars_ok(m->ref))
                        return cli_usage_error(m->cmd, "invalid image reference '%s'", m->ref);
        }
        if (optind < argc)
                return cli_usage_error(m->cmd, "unexpected argument '%s'", argv[optind]);
        if (m->ns && !client_name_valid(m->ns))
                return cli_usage_error(m->cmd, "invalid namespace '%s'", m->ns);
        m->path = m->prune ? strdup("/system/images/prune") : xasprintf("/system/images/%s", m->ref);
        if (!m->path || (m->ns && !(m->q = xasprintf("namespace=%s", m->ns))))
                return cli_fail(-ENOMEM, NULL);
        return 0;
}

static int print_removed(json_t *ans, bool prune)
{
        json_t *freed = json_object_get(ans, "bytesFreed"), *v;
        char size[CLIENT_SIZE_TEXT_MAX] = "0 B";
        size_t i;

        if (json_is_integer(freed) && json_integer_value(freed) >= 0)
                (void) client_format_size((unsigned long long) json_integer_value(freed), size, sizeof size);
        if (prune) {
                json_array_foreach(json_object_get(ans, "removed"), i, v)
                        printf("removed %s\n", json_is_string(v) ? json_string_value(v) : "?");
                printf("freed %s\n", size);
        } else {
                json_array_foreach(json_object_get(ans, "untagged"), i, v)
                        printf("untagged %s\n", json_is_string(v) ? json_string_value(v) : "?");
                if (json_is_true(json_object_get(ans, "removed")))
                        printf("removed %s (freed %s)\n", cli_str_or(ans, "id", "?"), size);
        }
        return cli_flush_stdout();
}

static int image_rm_call(const struct image_rm_cmd *m)
{
        _cleanup_(client_release) struct client cl = {};
        _cleanup_(client_response_release) struct client_response resp = {};
        _cleanup_(json_decrefp) json_t *ans = NULL;
        struct sf_err e = {};
        int r;

        r = cli_connect(&cl, &m->co, true);
        if (r < 0)
                return r;
        r = client_do(&cl,
                      &(struct client_request) {
                              .method = m->prune ? "POST" : "DELETE",
                              .path = m->path,
                              .query = (const char *const[]) { m->q },
                              .n_query = m->q ? 1 : 0,
                              .auth = true,
                      },
                      &resp, &e);
        if (r < 0)
                return cli_fail(r, &e);
        if (!cli_is_2xx(resp.status))
                return cli_fail_response(&resp, true, m->cmd);
        r = cli_parse_answer(&resp, m->cmd, &ans);
        if (r < 0)
                return r;
        return print_removed(ans, m->prune);
}

/* The arguments of rm and pull (REF, -n NS, the gateway's options):
 * parsed, checked, the gateway's URL too; 0, or what cli_args_exit takes. */
static int image_ref_args(struct image_rm_cmd *m, int argc, char **argv)
{
        int r = image_rm_parse(m, argc, argv);

        if (r == 0)
                r = image_rm_validate(m, argc, argv);
        if (r == 0)
                r = cli_gateway_check(&m->co);
        return r;
}

static int image_remove(int argc, char **argv, const char *cmd, bool prune)
{
        _cleanup_(image_rm_cmd_release) struct image_rm_cmd m = { .co = COMMON_INIT, .cmd = cmd, .prune = prune };
        int r;

        r = image_ref_args(&m, argc, argv);
        if (r != 0)
                return cli_args_exit(r);
        return image_rm_call(&m) < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* "image pull REF [-n NS]": POST /system/images/pull, answered when the
 * image is in the store. Parsed like rm (REF and -n). */
static int image_pull(int argc, char **argv, const char *cmd)
{
        _cleanup_(image_rm_cmd_release) struct image_rm_cmd m = { .co = COMMON_INIT, .cmd = cmd };
        _cleanup_(client_release) struct client cl = {};
        _cleanup_(client_response_release) struct client_response resp = {};
        _cleanup_(json_decrefp) json_t *ans = NULL, *body = NULL;
        _cleanup_free_ char *body_s = NULL;
        struct sf_err e = {};
        int r;

        /* A pull takes as long as the registry does: no whole-request
         * timeout unless one is given. */
        m.co.timeout_ms = 0;
        r = image_ref_args(&m, argc, argv);
        if (r != 0)
                return cli_args_exit(r);
        body = json_pack("{s:s}", "image", m.ref);
        body_s = body ? json_dumps(body, JSON_COMPACT) : NULL;
        if (!body_s) {
                (void) cli_fail(-ENOMEM, NULL);
                return EXIT_FAILURE;
        }
        r = cli_connect(&cl, &m.co, true);
        if (r < 0)
                return EXIT_FAILURE;
        r = client_do(&cl,
                      &(struct client_request) {
                              .method = "POST",
                              .path = "/system/images/pull",
                              .query = (const char *const[]) { m.q },
                              .n_query = m.q ? 1 : 0,
                              .auth = true,
                              .content_type = "application/json",
                              .has_body = true,
                              .body = body_s,
                              .body_len = strlen(body_s),
                      },
                      &resp, &e);
        if (r < 0) {
                (void) cli_fail(r, &e);
                return EXIT_FAILURE;
        }
        if (!cli_is_2xx(resp.status)) {
                (void) cli_fail_response(&resp, true, m.cmd);
                return EXIT_FAILURE;
        }
        r = cli_parse_answer(&resp, m.cmd, &ans);
        if (r < 0)
                return EXIT_FAILURE;
        return print_imported(ans, "pulled") < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}

int cmd_image(int argc, char **argv)
{
        if (argc < 2)
                return cli_args_exit(cli_usage_error("image", "a subcommand is required: import, pull, list, rm or prune"));
        if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
                fputs(image_help, stdout);
                return EXIT_SUCCESS;
        }
        if (strcmp(argv[1], "import") == 0)
                return image_import(argc - 1, argv + 1, "image import");
        if (strcmp(argv[1], "pull") == 0)
                return image_pull(argc - 1, argv + 1, "image pull");
        if (strcmp(argv[1], "list") == 0 || strcmp(argv[1], "ls") == 0)
                return image_list(argc - 1, argv + 1, "image list");
        if (strcmp(argv[1], "rm") == 0 || strcmp(argv[1], "remove") == 0)
                return image_remove(argc - 1, argv + 1, "image rm", false);
        if (strcmp(argv[1], "prune") == 0)
                return image_remove(argc - 1, argv + 1, "image prune", true);
        return cli_args_exit(cli_usage_error("image", "unknown subcommand '%s'", argv[1]));
}
