/* SPDX-License-Identifier: MIT */
/* Call ids (core/model/callid.h). */
#include "core/model/callid.h"

#include <string.h>

#include "core/base/util.h"

void call_id_make(char out[CALL_ID_MAX])
{
        /* One getrandom() per 64 ids: every proxied call makes one. */
        static __thread unsigned char pool[1024];
        static __thread size_t left;
        unsigned char b[16];
        char hex[33];
        if (left < sizeof b) {
                if (random_bytes(pool, sizeof pool) < 0)
                        memset(pool, 0, sizeof pool);
                left = sizeof pool;
        }
        memcpy(b, pool + sizeof pool - left, sizeof b);
        explicit_bzero(pool + sizeof pool - left, sizeof b);
        left -= sizeof b;
        b[6] = (unsigned char) ((b[6] & 0x0f) | 0x40);
        b[8] = (unsigned char) ((b[8] & 0x3f) | 0x80);
        hex_encode(b, sizeof b, hex);
        (void) xsnprintf(out, CALL_ID_MAX, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16, hex + 20);
}

bool call_id_valid(const char *s)
{
        size_t n = strlen(s);
        if (n == 0 || n >= CALL_ID_MAX)
                return false;
        for (; *s; s++)
                if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '-'))
                        return false;
        return true;
}
