/* SPDX-License-Identifier: MIT */
/*
 * Replays a saved fuzz corpus without libFuzzer (after systemd's
 * src/fuzz/fuzz-main.c): every regular file in each directory (or each
 * file) named on the command line is fed to LLVMFuzzerTestOneInput() once,
 * in name order so that runs are reproducible. A finding aborts, as it
 * would under libFuzzer; the exit status is 0 only when every input ran
 * and at least one did.
 *
 *   build/tests/fuzz_image_import tests/fuzz/corpus/image_import
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/base/cleanup.h"
#include "core/base/util.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Inputs larger than libFuzzer's -max_len used for the corpus are a mistake. */
#define REPLAY_MAX_INPUT (8U << 20)

static int replay_file(const char *path)
{
        _cleanup_free_ char *buf = NULL;
        size_t len = 0;
        int r;

        r = read_file_at(AT_FDCWD, path, REPLAY_MAX_INPUT, &buf, &len);
        if (r < 0) {
                fprintf(stderr, "%s: %s\n", path, strerror(-r));
                return r;
        }
        printf("%s (%zu bytes)\n", path, len);
        fflush(stdout);
        (void) LLVMFuzzerTestOneInput((const uint8_t *) buf, len);
        return 0;
}

static int names_cmp(const struct dirent **a, const struct dirent **b)
{
        return strcmp((*a)->d_name, (*b)->d_name);
}

int main(int argc, char **argv)
{
        unsigned ran = 0, failed = 0;

        if (argc < 2) {
                fprintf(stderr, "usage: %s DIR|FILE...\n", argv[0]);
                return 2;
        }
        (void) LLVMFuzzerInitialize(&argc, &argv);
        for (int i = 1; i < argc; i++) {
                struct dirent **names = NULL;
                struct stat sb;
                int n;

                if (stat(argv[i], &sb) < 0) {
                        fprintf(stderr, "%s: %s\n", argv[i], strerror(errno));
                        failed++;
                        continue;
                }
                if (!S_ISDIR(sb.st_mode)) {
                        if (replay_file(argv[i]) < 0)
                                failed++;
                        else
                                ran++;
                        continue;
                }
                n = scandir(argv[i], &names, NULL, names_cmp);
                if (n < 0) {
                        fprintf(stderr, "%s: %s\n", argv[i], strerror(errno));
                        failed++;
                        continue;
                }
                for (int j = 0; j < n; j++) {
                        _cleanup_free_ char *p = NULL;
                        if (names[j]->d_name[0] != '.') {
                                p = xasprintf("%s/%s", argv[i], names[j]->d_name);
                                if (!p || stat(p, &sb) < 0 || !S_ISREG(sb.st_mode))
                                        ;
                                else if (replay_file(p) < 0)
                                        failed++;
                                else
                                        ran++;
                        }
                        free(names[j]);
                }
                free(names);
        }
        printf("%u inputs replayed, %u unreadable\n", ran, failed);
        return failed || ran == 0 ? 1 : 0;
}
