/* SPDX-License-Identifier: MIT */
/*
 * Sandboxes made off the loop (issue 18: nothing slow on the loop thread).
 *
 * A spawn (sandbox_spawn: clone to the command's exec) takes one to a few
 * milliseconds; made on the loop thread, it stops every other call for
 * that long. The spawner makes them on a thread of its own, one after
 * another (the launcher serialises spawns anyway: sandbox/sandbox.h,
 * "Threading"), and hands each result back to the loop, where its done
 * callback runs.
 *
 * Not the libuv thread pool: its four threads also run image imports,
 * pulls and the egress proxy's name lookups, and a multi-second import
 * there would hold an instance's start behind it.
 *
 * The thread lives until spawner_free(), which the daemon calls after every
 * sandbox is gone: their parent-death signal is tied to it.
 */
#pragma once

#include <stdint.h>
#include <uv.h>

#include "core/base/error.h"
#include "core/base/list.h"
#include "sandbox/sandbox.h"

struct spawner;
struct spawn_req;

typedef void (*spawn_done_fn)(struct spawn_req *req);

struct spawn_req {
        struct list_node node;         /* the spawner's */
        const struct sandbox_spec *sp; /* valid until done runs */
        spawn_done_fn done;            /* on the loop */
        void *data;
        /* results, set on the spawner's thread */
        struct sandbox *sb;
        int ret;
        struct sf_err err;
        uint64_t done_ns;              /* now_ns() when the spawn returned */
};

int spawner_new(uv_loop_t *loop, struct sandbox_launcher *launcher, struct spawner **ret);
/* Queue req; its done callback runs on the loop once it is made (or failed). */
void spawner_submit(struct spawner *s, struct spawn_req *req);
/* Spawns queued or under way whose done callback has not run. */
size_t spawner_busy(const struct spawner *s);
/* Close the loop's handle (the loop's end: nothing may be busy). */
void spawner_close(struct spawner *s);
/* Stop and join the thread, free s. After spawner_close and the loop's last run. */
void spawner_free(struct spawner *s);
