/*
 * fuzz_mqtt_stream.c - libFuzzer target checking that roost_mqtt_decode
 * gives the same sequence of results however the input is split. Byte 0
 * picks version, direction and size limit as in fuzz_mqtt_decode; byte 1
 * seeds the chunk sizes. The stream is decoded once whole and once as it
 * arrives in chunks, each attempt reading from a buffer holding exactly the
 * bytes received so far, so any read past them is an ASan error.
 */
#include "mqtt/mqtt.h"

#include <stdio.h>
#include <stdlib.h>

#define FUZZ_CHECK(cond)                                                       \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            abort();                                                           \
        }                                                                      \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct result {
    int rc;       /* bytes consumed, or the final error / ROOST_EAGAIN */
    uint8_t type;
    uint8_t reason;
};

struct run {
    struct result *r;
    size_t n;
};

static uint32_t next_rand(uint32_t *s)
{
    /* xorshift32; the seed is never 0. */
    uint32_t x = *s;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *s = x;
    return x;
}

/* Decodes data[0..size) arriving in chunks (chunked) or all at once,
 * recording each result until an error or the end of input. */
static void decode_stream(const uint8_t *data, size_t size, uint8_t version, uint32_t max_packet,
                          bool from_client, bool chunked, uint32_t seed, struct run *out)
{
    uint8_t inline_buf[512];
    struct roost_arena a;
    roost_arena_init(&a, inline_buf, sizeof(inline_buf));
    size_t avail = chunked ? 0 : size;
    size_t off = 0;
    out->n = 0;
    for (;;) {
        size_t have = avail - off;
        uint8_t *copy = roost_xmalloc(have ? have : 1);
        if (have)
            memcpy(copy, data + off, have);
        struct roost_mqtt_packet p;
        uint8_t reason = 0;
        int rc = roost_mqtt_decode(copy, have, version, max_packet, from_client, &p, &a, &reason);
        roost_free(copy);
        roost_arena_reset(&a);
        if (rc == ROOST_EAGAIN && avail < size) {
            /* Mostly small pieces, sometimes a large one. */
            uint32_t r = next_rand(&seed);
            size_t step = (r & 0x300) ? 1 + (r & 0x0F) : 1 + (r & 0xFF);
            avail = ROOST_MIN(size, avail + step);
            continue;
        }
        out->r[out->n++] = (struct result){rc, rc > 0 ? (uint8_t)p.type : 0, reason};
        if (rc <= 0)
            break;
        if (p.type == ROOST_MQTT_CONNECT)
            version = p.u.connect.protocol_level;
        off += (size_t)rc;
    }
    roost_arena_cleanup(&a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint8_t versions[4] = {0, ROOST_MQTT_V311, ROOST_MQTT_V5, ROOST_MQTT_V31};
    if (size < 2)
        return 0;
    uint8_t sel = data[0];
    uint8_t version = versions[sel & 3];
    bool from_client = !(sel & 4);
    uint32_t max_packet = (sel & 8) ? 64 : 0;
    uint32_t seed = 0x9E3779B9u ^ data[1];
    data += 2;
    size -= 2;

    /* At most one result per byte, plus the final one. */
    struct run whole = {roost_xcalloc(size + 1, sizeof(struct result)), 0};
    struct run parts = {roost_xcalloc(size + 1, sizeof(struct result)), 0};
    decode_stream(data, size, version, max_packet, from_client, false, seed, &whole);
    decode_stream(data, size, version, max_packet, from_client, true, seed, &parts);
    FUZZ_CHECK(whole.n == parts.n);
    for (size_t i = 0; i < whole.n; i++) {
        FUZZ_CHECK(whole.r[i].rc == parts.r[i].rc);
        FUZZ_CHECK(whole.r[i].type == parts.r[i].type);
        FUZZ_CHECK(whole.r[i].reason == parts.r[i].reason);
    }
    roost_free(whole.r);
    roost_free(parts.r);
    return 0;
}
