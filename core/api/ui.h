/* SPDX-License-Identifier: MIT */
/* The web UI's files, embedded at build time by web/embed.py. */
#pragma once

#include <stddef.h>

struct web_asset {
        const char *name;          /* file name, e.g. "index.html" */
        const char *content_type;
        const unsigned char *data;
        size_t size;
};

/* Terminated by an entry whose name is NULL. */
extern const struct web_asset web_assets[];

/* Find an asset by file name; NULL if none. */
const struct web_asset *web_asset_find(const char *name);
