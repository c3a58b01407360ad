/* SPDX-License-Identifier: MIT */
/*
 * Times as text: RFC 3339 UTC ("2026-12-06T12:34:56.123456789Z", the API's
 * and the logs' form; fixed width, so strings compare as times) and the
 * HTTP date (RFC 9110 IMF-fixdate, "Sun, 06 Dec 2026 12:34:56 GMT").
 */
#pragma once

#include <stdint.h>
#include <time.h>

#define TIME_RFC3339_MAX 40 /* "YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ" and a NUL, with room */
#define TIME_HTTP_MAX 32    /* "Www, DD Mon YYYY HH:MM:SS GMT" and a NUL */

/* unix_ns (nanoseconds since the epoch) as RFC 3339 UTC with `digits`
 * fraction digits (0: none, 9: nanoseconds). */
void time_rfc3339(int64_t unix_ns, int digits, char out[TIME_RFC3339_MAX]);
/* The same from seconds and nanoseconds: for times past 2262 (int64
 * nanoseconds' end), such as a far "since" a client sends. */
void time_rfc3339_ts(time_t secs, long nsec, int digits, char out[TIME_RFC3339_MAX]);
/* t as an HTTP date. */
void time_http_date(time_t t, char out[TIME_HTTP_MAX]);
