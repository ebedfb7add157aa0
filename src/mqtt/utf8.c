/*
 * utf8.c - validation of MQTT UTF-8 strings (MQTT 5 section 1.5.4, 3.1.1
 * section 1.5.3): well-formed UTF-8 as RFC 3629 defines it, so no overlong
 * forms, no surrogates (U+D800..U+DFFF), nothing above U+10FFFF, and in
 * addition no U+0000. Every topic, client id and property string goes through
 * here, so the common all-ASCII case is checked eight bytes at a time.
 */
#include "mqtt.h"

#define HIGH_BITS 0x8080808080808080ull
#define LOW_ONES 0x0101010101010101ull

/* True when any byte of w is 0x00 or has its high bit set. */
static inline bool word_needs_care(uint64_t w)
{
    return ((w | ((w - LOW_ONES) & ~w)) & HIGH_BITS) != 0;
}

bool roost_mqtt_utf8_valid(const char *s, size_t n)
{
    const uint8_t *p = (const uint8_t *)s;
    const uint8_t *end = p + n;

    while (p < end) {
        while (end - p >= 8) {
            uint64_t w;
            memcpy(&w, p, sizeof(w));
            if (word_needs_care(w))
                break;
            p += 8;
        }
        if (p >= end)
            break;
        uint8_t c = *p;
        if (c < 0x80) {
            if (c == 0)
                return false;
            p++;
            continue;
        }
        /* Lead byte decides the length and the range of the first
         * continuation byte; the narrowed ranges exclude overlongs (E0, F0),
         * surrogates (ED) and code points above U+10FFFF (F4). */
        size_t need;
        uint8_t lo = 0x80, hi = 0xBF;
        if (c < 0xC2) {
            return false; /* stray continuation, or overlong 2-byte form */
        } else if (c < 0xE0) {
            need = 1;
        } else if (c < 0xF0) {
            need = 2;
            if (c == 0xE0)
                lo = 0xA0;
            else if (c == 0xED)
                hi = 0x9F;
        } else if (c < 0xF5) {
            need = 3;
            if (c == 0xF0)
                lo = 0x90;
            else if (c == 0xF4)
                hi = 0x8F;
        } else {
            return false;
        }
        if ((size_t)(end - p) <= need)
            return false;
        if (p[1] < lo || p[1] > hi)
            return false;
        for (size_t i = 2; i <= need; i++) {
            if ((p[i] & 0xC0) != 0x80)
                return false;
        }
        p += need + 1;
    }
    return true;
}
