/*
 * util.c - clocks, number parsing, hex, hashing and randomness: small pieces
 * every subsystem needs and none should write again.
 */
#include "common.h"

#include <stdlib.h>
#include <sys/random.h>
#include <time.h>

uint64_t roost_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint64_t roost_now_ms(void)
{
    return roost_now_us() / 1000u;
}

uint64_t roost_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int roost_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out_v)
{
    if (!s || *s < '0' || *s > '9')
        return ROOST_EINVAL;
    uint64_t v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return ROOST_EINVAL;
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10)
            return ROOST_EINVAL;
        v = v * 10 + d;
    }
    if (v < min || v > max)
        return ROOST_EINVAL;
    *out_v = v;
    return 0;
}

void roost_hex_encode(const uint8_t *p, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * n] = '\0';
}

uint64_t roost_hash_bytes(const void *p, size_t n)
{
    const uint8_t *b = p;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 1099511628211ull;
    }
    return h;
}

int roost_random_bytes(void *p, size_t n)
{
    uint8_t *b = p;
    while (n) {
        ssize_t got = getrandom(b, n, 0);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        b += got;
        n -= (size_t)got;
    }
    return 0;
}
