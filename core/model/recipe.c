/* SPDX-License-Identifier: MIT */
#include "core/model/recipe.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/cleanup.h"
#include "core/base/util.h"
#include "core/model/group.h"

int svec_push(struct svec *s, char *str)
{
        if (!str)
                return -ENOMEM;
        if (s->n + 2 > s->cap) {
                size_t nc = s->cap ? s->cap * 2 : 16;
                char **nv = realloc(s->v, nc * sizeof *nv);
                if (!nv) {
                        free(str);
                        return -ENOMEM;
                }
                s->v = nv;
                s->cap = nc;
        }
        s->v[s->n++] = str;
        s->v[s->n] = NULL;
        return 0;
}

int svec_setenv(struct svec *env, const char *k, const char *v)
{
        size_t kl = strlen(k);
        char *e = xasprintf("%s=%s", k, v);
        if (!e)
                return -ENOMEM;
        for (size_t i = 0; i < env->n; i++)
                if (strncmp(env->v[i], k, kl) == 0 && env->v[i][kl] == '=') {
                        free(env->v[i]);
                        env->v[i] = e;
                        return 0;
                }
        return svec_push(env, e);
}

int svec_split_words(struct svec *argv, const char *s)
{
        const char *p = s;
        while (*p) {
                const char *e;
                int r;
                while (*p == ' ' || *p == '\t')
                        p++;
                if (!*p)
                        break;
                e = p;
                while (*e && *e != ' ' && *e != '\t')
                        e++;
                r = svec_push(argv, strndup(p, (size_t) (e - p)));
                if (r < 0)
                        return r;
                p = e;
        }
        return argv->n > 0 ? 0 : -EINVAL;
}

void svec_free(struct svec *s)
{
        strv_free(s->v);
        s->v = NULL;
        s->n = s->cap = 0;
}

/* The first "N/tcp" key of the image config's ExposedPorts. */
static uint16_t exposed_tcp_port(const char *config_json)
{
        json_t *cfg = json_loads(config_json ? config_json : "{}", 0, NULL);
        const char *k;
        json_t *v;
        unsigned best = 0;

        json_object_foreach(json_object_get(cfg, "ExposedPorts"), k, v) {
                char *end;
                unsigned long p = strtoul(k, &end, 10);
                (void) v;
                if (end == k || p == 0 || p > 65535)
                        continue;
                if (*end != '\0' && strcmp(end, "/tcp") != 0)
                        continue;
                /* The lowest, so the choice does not depend on key order. */
                if (!best || p < best)
                        best = (unsigned) p;
        }
        json_decref(cfg);
        return (uint16_t) best;
}

const char *fn_recipe_meta(const struct fn_recipe *r, const char *key)
{
        const char *v = json_string_value(json_object_get(json_object_get(r->spec, "annotations"), key));
        if (v)
                return v;
        return json_string_value(json_object_get(json_object_get(r->spec, "labels"), key));
}

int fn_recipe_load(struct sfaasd *sf, const char *ns, const char *name, struct fn_recipe *r, int *ret_status,
                   struct sf_err *err)
{
        struct store_namespace *nsrec = NULL;
        json_t *v;
        int ret;

        memset(r, 0, sizeof *r);
        *ret_status = 500;
        ret = store_function_get(sf->store, ns, name, &r->fn);
        if (ret == -ENOENT) {
                *ret_status = 404;
                return sf_err_set(err, ret, "function '%s' not found in namespace '%s'", name, ns);
        }
        if (ret < 0)
                return sf_err_set(err, ret, "cannot read function: %s", strerror(-ret));
        r->spec = json_loads(r->fn->spec_json, 0, NULL);
        /* The image the deploy resolved, by its full id, whoever owns it now. */
        ret = store_image_resolve_all(sf->store, ns, r->fn->image_id, &r->img);
        if (!r->spec || ret < 0)
                return sf_err_set(err, ret < 0 ? ret : -EINVAL, "function '%s.%s': image %s is unavailable", name,
                                  ns, r->fn->image_id);
        ret = image_config_parse(r->img->config_json, &r->icfg, err);
        if (ret < 0) {
                char why[sizeof err->msg];
                (void) xsnprintf(why, sizeof why, "%s", err->msg);
                return sf_err_set(err, ret, "function '%s.%s': bad image config: %s", name, ns, why);
        }
        r->rootfs = r->img->rootfs;
        r->workdir = r->icfg->workdir;
        r->exposed_port = exposed_tcp_port(r->img->config_json);

        /* argv: fprocess when set (classic watchdog), else Entrypoint + Cmd. */
        for (char **p = r->icfg->entrypoint; p && *p; p++)
                if (svec_push(&r->argv, strdup(*p)) < 0)
                        goto oom;
        for (char **p = r->icfg->cmd; p && *p; p++)
                if (svec_push(&r->argv, strdup(*p)) < 0)
                        goto oom;
        v = json_object_get(r->spec, "envProcess");
        r->has_fprocess = v && json_is_string(v);
        if (r->has_fprocess) {
                /* exec mode runs fprocess itself (blank: exec_argv stays empty) */
                if (svec_split_words(&r->exec_argv, json_string_value(v)) == -ENOMEM)
                        goto oom;
        } else {
                for (size_t i = 0; i < r->argv.n; i++)
                        if (svec_push(&r->exec_argv, strdup(r->argv.v[i])) < 0)
                                goto oom;
        }
        /* An http-mode image keeps its entrypoint (a watchdog reads fprocess
         * from the environment); fprocess is its command only without one. */
        if (r->argv.n == 0 && r->has_fprocess && svec_split_words(&r->argv, json_string_value(v)) == -ENOMEM)
                goto oom;

        /* env: PATH, image Env, the function's envVars, fprocess. */
        if (svec_setenv(&r->env, "PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin") < 0)
                goto oom;
        for (char **p = r->icfg->env; p && *p; p++) {
                char *eq = strchr(*p, '=');
                char key[256];
                if (!eq || (size_t) (eq - *p) >= sizeof key)
                        continue;
                memcpy(key, *p, (size_t) (eq - *p));
                key[eq - *p] = '\0';
                if (svec_setenv(&r->env, key, eq + 1) < 0)
                        goto oom;
        }
        {
                const char *k;
                json_t *e;
                json_object_foreach(json_object_get(r->spec, "envVars"), k, e) {
                        if (!*k || strchr(k, '=') || !json_is_string(e))
                                continue;
                        if (svec_setenv(&r->env, k, json_string_value(e)) < 0)
                                goto oom;
                }
        }
        if (v && json_is_string(v) && svec_setenv(&r->env, "fprocess", json_string_value(v)) < 0)
                goto oom;

        /* limits: daemon defaults, then the function's. */
        r->limits = sf->cfg.function;
        r->limits.timeout_ms = 0; /* a long-lived instance; calls have their own timeout */
        r->exec_timeout_ms = sf->cfg.function.timeout_ms;
        {
                const char *t = json_string_value(json_object_get(json_object_get(r->spec, "envVars"), "exec_timeout"));
                uint64_t n;
                if (t && parse_duration_ms(t, &n) == 0 && n > 0)
                        r->exec_timeout_ms = n;
        }
        {
                json_t *lim = json_object_get(r->spec, "limits");
                const char *m = json_string_value(json_object_get(lim, "memory"));
                const char *c = json_string_value(json_object_get(lim, "cpu"));
                uint64_t n;
                if (m && parse_size(m, &n) == 0 && n > 0)
                        r->limits.memory_bytes = n;
                if (c && parse_cpu_millis(c, &n) == 0 && n > 0)
                        r->limits.cpu_millis = n;
        }
        ret = store_namespace_get(sf->store, ns, &nsrec);
        if (ret < 0)
                return sf_err_set(err, ret, "namespace '%s' is unavailable", ns);
        r->uid_base = nsrec->uid_base;
        store_namespace_free(nsrec);
        ret = image_resolve_user(r->img->rootfs, r->icfg->user, &r->uid, &r->gid, err);
        if (ret < 0) {
                char why[sizeof err->msg];
                (void) xsnprintf(why, sizeof why, "%s", err->msg);
                return sf_err_set(err, ret, "function '%s.%s': %s", name, ns, why);
        }
        return 0;
oom:
        return sf_err_set(err, -ENOMEM, "out of memory");
}

void fn_recipe_release(struct fn_recipe *r)
{
        svec_free(&r->argv);
        svec_free(&r->exec_argv);
        svec_free(&r->env);
        image_config_free(r->icfg);
        store_image_free(r->img);
        store_function_free(r->fn);
        json_decref(r->spec);
        memset(r, 0, sizeof *r);
}

void fn_recipe_exec_spec(const struct fn_recipe *rc, const char *name, const char *ns, char *const *envp, char *group,
                         struct sandbox_spec *sp)
{
        sp->limits = rc->limits;
        sp->limits.timeout_ms = rc->exec_timeout_ms;
        sp->uid_base = rc->uid_base;
        sp->uid = rc->uid;
        sp->gid = rc->gid;
        sp->rootfs = rc->rootfs;
        sp->argv = rc->exec_argv.v;
        sp->envp = envp;
        sp->workdir = rc->workdir;
        sp->hostname = name;
        /* Every sandbox of the function in its cgroup NS/NAME, where the
         * kernel sums its usage (GET /system/function/NAME?usage=1). */
        sp->group = fn_group(ns, name, group, FN_GROUP_MAX);
        sp->net = SANDBOX_NET_NONE;
}
