/* SPDX-License-Identifier: MIT */
/*
 * Call ids: the X-Call-Id of every invocation (sync, proxied, async). sfaasd
 * makes UUID v4s; it accepts a caller's id when it is 1..CALL_ID_MAX-1 of
 * [A-Za-z0-9-] (so it is safe in a header, a log line and a URL path).
 */
#pragma once

#include <stdbool.h>

#define CALL_ID_MAX 40 /* a call id's buffer, NUL included */

/* A new UUID v4 into out. */
void call_id_make(char out[CALL_ID_MAX]);
/* Whether s is an id sfaasd accepts from a caller. */
bool call_id_valid(const char *s);
