/* SPDX-License-Identifier: MIT */
/* Times as text (core/base/timefmt.h). */
#include "core/base/timefmt.h"

#include <stdio.h>

void time_rfc3339_ts(time_t secs, long nsec, int digits, char out[TIME_RFC3339_MAX])
{
        char base[24];
        struct tm tm;

        (void) gmtime_r(&secs, &tm);
        (void) strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
        if (digits <= 0) {
                (void) snprintf(out, TIME_RFC3339_MAX, "%sZ", base);
                return;
        }
        if (digits > 9)
                digits = 9;
        for (int i = digits; i < 9; i++)
                nsec /= 10;
        (void) snprintf(out, TIME_RFC3339_MAX, "%s.%0*ldZ", base, digits, nsec);
}

void time_rfc3339(int64_t unix_ns, int digits, char out[TIME_RFC3339_MAX])
{
        time_t secs = (time_t) (unix_ns / 1000000000LL);
        long nsec = (long) (unix_ns % 1000000000LL);

        if (nsec < 0) {
                nsec += 1000000000L;
                secs--;
        }
        time_rfc3339_ts(secs, nsec, digits, out);
}

void time_http_date(time_t t, char out[TIME_HTTP_MAX])
{
        struct tm tm;

        (void) gmtime_r(&t, &tm);
        (void) strftime(out, TIME_HTTP_MAX, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}
