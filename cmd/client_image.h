/* SPDX-License-Identifier: MIT */
/*
 * Helpers of `sfaasd image import`: turning an OCI image layout directory
 * into a tar the gateway can take, and a progress bar for the upload.
 *
 * Why the client tars a directory: the gateway may be on another host and
 * never reads the client's files; POST /system/images takes one archive
 * stream. The tar (uncompressed ustar: the layers inside are compressed
 * already) is produced while it is sent, with its exact length known up
 * front (Content-Length, so the gateway can refuse an oversized upload from
 * its head): no temporary copy of the layout on the client.
 */
#pragma once

#include <stdio.h>
#include <sys/types.h>

#include "core/base/error.h"

/* Open the OCI layout directory dir as a tar stream: *ret reads the tar
 * (produced as it is read), *ret_len is its exact length. Symlinks, devices
 * and other special files in the layout, and names a layout does not have,
 * are refused (-EBADMSG with err). A file that changes size while it is
 * read fails the read (EIO). Returns 0 or -errno. */
int client_tar_oci_dir(const char *dir, FILE **ret, off_t *ret_len, struct sf_err *err);

/* A FILE that reads from f and draws "label  NN%  X MiB / Y MiB" on stderr
 * as it is read, when stderr is a terminal; otherwise f itself is returned
 * unchanged (*ret_wrapped false). Closing the wrapper does not close f. */
FILE *client_progress_wrap(FILE *f, off_t total, const char *label, int *ret_wrapped);
