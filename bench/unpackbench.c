/* SPDX-License-Identifier: MIT */
/*
 * bench/unpackbench: one import of an image archive through the project's
 * own store/image*.c, as the daemon runs it (image_import() into an images
 * dir with the blob store next to it, layers unpacked by the confined
 * helper process, fsync/syncfs included), in a process of its own so that
 * the caller's wait4() reports this import's peak RSS alone (the helper is
 * a child of this process: GNU time's ru_maxrss is the larger of the two,
 * as RUSAGE_CHILDREN reports the largest descendant).
 *
 *   unpackbench ARCHIVE DIR     DIR must not exist; DIR/images, DIR/blobs
 *
 * Prints one JSON line: {"ok":true,"seconds":S,"size":BYTES,"id":"sha256:.."}.
 * Built by bench/unpackbench.mk from the library objects.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/base/util.h"
#include "store/image.h"

int main(int argc, char **argv)
{
        char images[4096], blobs[4096];
        struct image_import_result *res = NULL;
        struct sf_err err = { 0 };
        uint64_t t0, t1;
        int fd, r;

        if (argc != 3 || argv[2][0] != '/') {
                fprintf(stderr, "usage: unpackbench ARCHIVE /ABS/DIR\n");
                return 2;
        }
        if (xsnprintf(images, sizeof images, "%s/images", argv[2]) < 0 ||
            xsnprintf(blobs, sizeof blobs, "%s/blobs", argv[2]) < 0)
                return 2;
        if (mkdir(argv[2], 0700) < 0 || mkdir(images, 0700) < 0) {
                perror("mkdir");
                return 1;
        }
        fd = open(argv[1], O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
                perror(argv[1]);
                return 1;
        }
        t0 = now_ns();
        r = image_import(images, blobs, fd, NULL, &res, &err);
        t1 = now_ns();
        if (r < 0) {
                fprintf(stderr, "import failed: %s (%s)\n", err.msg, strerror(-r));
                return 1;
        }
        printf("{\"ok\":true,\"seconds\":%.6f,\"size\":%llu,\"id\":\"%s\"}\n", (double) (t1 - t0) / 1e9,
               (unsigned long long) res->size, res->id);
        image_import_result_free(res);
        (void) close(fd);
        return 0;
}
