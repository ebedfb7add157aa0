/*
 * test_ws.c - unit tests for src/net/ws.c: the upgrade handshake (accept
 * key from RFC 6455 section 1.3's example, subprotocol choice, path, query,
 * refusals)
 * and hand-built masked frames: lengths of 7, 16 and 64 bits,
 * fragmentation with control frames in between, input split at every byte,
 * ping/pong, close, and each protocol violation with its close code.
 */
#include "roost_test.h"
#include "net/net_int.h"

#include <stdio.h>
#include <stdlib.h>

static const uint8_t test_mask[4] = {0x37, 0xfa, 0x21, 0x3d};

/* A client frame: masked with test_mask unless `unmasked`. */
static void client_frame(struct roost_buf *out, uint8_t first_byte, const void *payload, size_t n,
                         bool unmasked)
{
    uint8_t hdr[14];
    size_t h = 0;
    uint8_t m = unmasked ? 0 : 0x80;
    hdr[h++] = first_byte;
    if (n < 126) {
        hdr[h++] = (uint8_t)(m | n);
    } else if (n <= 0xffff) {
        hdr[h++] = m | 126;
        hdr[h++] = (uint8_t)(n >> 8);
        hdr[h++] = (uint8_t)n;
    } else {
        hdr[h++] = m | 127;
        for (int i = 7; i >= 0; i--)
            hdr[h++] = (uint8_t)((uint64_t)n >> (8 * i));
    }
    if (!unmasked) {
        memcpy(hdr + h, test_mask, 4);
        h += 4;
    }
    REQUIRE_OK(roost_buf_append(out, hdr, h));
    const uint8_t *p = payload;
    for (size_t i = 0; i < n; i++) {
        uint8_t b = unmasked ? p[i] : (uint8_t)(p[i] ^ test_mask[i & 3]);
        REQUIRE_OK(roost_buf_append(out, &b, 1));
    }
}

static char *request(const char *path, const char *extra_headers)
{
    static char buf[4096];
    snprintf(buf, sizeof(buf),
             "GET %s HTTP/1.1\r\n"
             "Host: localhost:8443\r\n"
             "Upgrade: websocket\r\n"
             "Connection: Upgrade\r\n"
             "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
             "Sec-WebSocket-Version: 13\r\n"
             "%s\r\n",
             path, extra_headers);
    return buf;
}

struct fixture {
    struct net_ws *ws;
    struct roost_buf app_in, to_peer;
    struct net_ws_request req;
};

static void fx_init(struct fixture *f)
{
    memset(f, 0, sizeof(*f));
    REQUIRE_OK(net_ws_create(&f->ws));
    roost_buf_init(&f->app_in, 0);
    roost_buf_init(&f->to_peer, 0);
}

static void fx_cleanup(struct fixture *f)
{
    net_ws_destroy(f->ws);
    roost_buf_cleanup(&f->app_in);
    roost_buf_cleanup(&f->to_peer);
}

static int fx_feed(struct fixture *f, const void *p, size_t n, size_t *out_consumed)
{
    size_t consumed = 0;
    int rc = net_ws_feed(f->ws, p, n, &consumed, &f->app_in, &f->to_peer, &f->req);
    CHECK(consumed <= n);
    if (out_consumed)
        *out_consumed = consumed;
    return rc;
}

/* The peer's output as a C string (handshake responses). */
static const char *peer_text(struct fixture *f)
{
    static char text[2048];
    size_t n = ROOST_MIN(roost_buf_size(&f->to_peer), sizeof(text) - 1);
    memcpy(text, roost_buf_head(&f->to_peer), n);
    text[n] = '\0';
    return text;
}

static void fx_open(struct fixture *f)
{
    fx_init(f);
    const char *req = request("/mqtt", "Sec-WebSocket-Protocol: mqtt\r\n");
    size_t consumed = 0;
    REQUIRE_OK(fx_feed(f, req, strlen(req), &consumed));
    REQUIRE_EQ(consumed, strlen(req));
    REQUIRE_EQ(net_ws_state(f->ws), NET_WS_OPEN);
    roost_buf_clear(&f->to_peer);
}

/* ==== Handshake ========================================================== */

ROOST_TEST(accept_key_rfc_example_and_mqtt)
{
    struct fixture f;
    fx_init(&f);
    CHECK_EQ(net_ws_state(f.ws), NET_WS_HANDSHAKE);
    const char *req = request("/mqtt", "Sec-WebSocket-Protocol: mqtt\r\nOrigin: http://x\r\n");
    size_t consumed = 0;
    CHECK_OK(fx_feed(&f, req, strlen(req), &consumed));
    CHECK_EQ(consumed, strlen(req));
    CHECK_EQ(net_ws_state(f.ws), NET_WS_OPEN);
    CHECK_STR(peer_text(&f), "HTTP/1.1 101 Switching Protocols\r\n"
                             "Upgrade: websocket\r\n"
                             "Connection: Upgrade\r\n"
                             "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
                             "Sec-WebSocket-Protocol: mqtt\r\n\r\n");
    CHECK_STR(f.req.path, "/mqtt");
    CHECK_STR(f.req.query, "");
    CHECK_STR(f.req.subprotocol, "mqtt");
    fx_cleanup(&f);
}

static void subprotocol_case(const char *header, int want_rc, const char *want_proto)
{
    struct fixture f;
    fx_init(&f);
    const char *req = request("/mqtt", header);
    size_t consumed = 0;
    CHECK_EQ(fx_feed(&f, req, strlen(req), &consumed), want_rc);
    if (want_rc == 0) {
        CHECK_STR(f.req.subprotocol, want_proto);
        char line[64];
        snprintf(line, sizeof(line), "Sec-WebSocket-Protocol: %s\r\n", want_proto);
        if (want_proto[0])
            CHECK(strstr(peer_text(&f), line) != NULL);
        else
            CHECK(strstr(peer_text(&f), "Sec-WebSocket-Protocol") == NULL);
    } else {
        CHECK(strncmp(peer_text(&f), "HTTP/1.1 400 ", 13) == 0);
        CHECK(strstr(peer_text(&f), "Connection: close\r\n") != NULL);
        CHECK_EQ(net_ws_state(f.ws), NET_WS_CLOSED);
    }
    fx_cleanup(&f);
}

ROOST_TEST(handshake_subprotocols)
{
    subprotocol_case("Sec-WebSocket-Protocol: mqtt\r\n", 0, "mqtt");
    subprotocol_case("Sec-WebSocket-Protocol: mqttv3.1\r\n", 0, "mqttv3.1");
    subprotocol_case("Sec-WebSocket-Protocol: mqttv3.1, mqtt\r\n", 0, "mqtt");
    subprotocol_case("Sec-WebSocket-Protocol: chat\r\nSec-WebSocket-Protocol: mqttv3.1\r\n", 0,
                     "mqttv3.1");
    subprotocol_case("", 0, ""); /* none offered: accepted, not echoed */
    subprotocol_case("Sec-WebSocket-Protocol: chat, superchat\r\n", ROOST_EPROTO, "");
    subprotocol_case("Sec-WebSocket-Protocol: MQTT\r\n", ROOST_EPROTO, ""); /* case-sensitive */
}

ROOST_TEST(handshake_path_and_query)
{
    struct fixture f;
    fx_init(&f);
    const char *req = request("/other", "Sec-WebSocket-Protocol: mqtt\r\n");
    size_t consumed = 0;
    CHECK_EQ(fx_feed(&f, req, strlen(req), &consumed), ROOST_EPROTO);
    CHECK(strncmp(peer_text(&f), "HTTP/1.1 404 Not Found\r\n", 24) == 0);
    CHECK_STR(f.req.path, "/other");
    CHECK_EQ(net_ws_state(f.ws), NET_WS_CLOSED);
    CHECK_EQ(fx_feed(&f, "x", 1, &consumed), ROOST_ECLOSED);
    fx_cleanup(&f);

    fx_init(&f);
    const char *q = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIA%2F20240101%2Fus-east-1"
                    "%2Fiotdevicegateway%2Faws4_request&X-Amz-Signature=abc";
    char path[512];
    snprintf(path, sizeof(path), "/mqtt?%s", q);
    req = request(path, "Sec-WebSocket-Protocol: mqtt\r\n");
    CHECK_OK(fx_feed(&f, req, strlen(req), &consumed));
    CHECK_STR(f.req.path, "/mqtt");
    CHECK_STR(f.req.query, q);
    fx_cleanup(&f);

    fx_init(&f);
    req = request("/mqtt/", "");
    CHECK_EQ(fx_feed(&f, req, strlen(req), &consumed), ROOST_EPROTO);
    CHECK(strncmp(peer_text(&f), "HTTP/1.1 404 ", 13) == 0);
    fx_cleanup(&f);
}

static void refused(const char *raw, const char *status)
{
    struct fixture f;
    fx_init(&f);
    size_t consumed = 0;
    CHECK_EQ(fx_feed(&f, raw, strlen(raw), &consumed), ROOST_EPROTO);
    CHECK(strncmp(peer_text(&f), status, strlen(status)) == 0);
    CHECK_EQ(net_ws_state(f.ws), NET_WS_CLOSED);
    fx_cleanup(&f);
}

ROOST_TEST(handshake_refusals)
{
    const char *no_key = "GET /mqtt HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                         "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n";
    refused(no_key, "HTTP/1.1 400 ");
    const char *bad_key = "GET /mqtt HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                          "Connection: Upgrade\r\nSec-WebSocket-Key: short==\r\n"
                          "Sec-WebSocket-Version: 13\r\n\r\n";
    refused(bad_key, "HTTP/1.1 400 ");
    const char *v8 = "GET /mqtt HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     "Sec-WebSocket-Version: 8\r\n\r\n";
    refused(v8, "HTTP/1.1 400 ");
    const char *no_upgrade = "GET /mqtt HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n"
                             "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                             "Sec-WebSocket-Version: 13\r\n\r\n";
    refused(no_upgrade, "HTTP/1.1 400 ");
    const char *post = "POST /mqtt HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                       "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                       "Sec-WebSocket-Version: 13\r\n\r\n";
    refused(post, "HTTP/1.1 400 ");
    const char *http10 = "GET /mqtt HTTP/1.0\r\nUpgrade: websocket\r\n"
                         "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                         "Sec-WebSocket-Version: 13\r\n\r\n";
    refused(http10, "HTTP/1.1 400 ");
    refused("\x16\x03\x01\x02\x05hello\r\n\r\n", "HTTP/1.1 400 ");
    refused(request("/mqtt", "Content-Length: 5\r\n"), "HTTP/1.1 400 ");

    /* Version refusals say which version we speak (RFC 6455 4.4). */
    struct fixture f;
    fx_init(&f);
    size_t consumed = 0;
    CHECK_EQ(fx_feed(&f, v8, strlen(v8), &consumed), ROOST_EPROTO);
    CHECK(strstr(peer_text(&f), "Sec-WebSocket-Version: 13\r\n") != NULL);
    fx_cleanup(&f);
}

ROOST_TEST(handshake_token_lists_and_case)
{
    struct fixture f;
    fx_init(&f);
    const char *req = "GET /mqtt HTTP/1.1\r\nhost: x\r\nupgrade: WebSocket\r\n"
                      "connection: keep-alive, Upgrade\r\n"
                      "sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                      "sec-websocket-version: 13\r\nsec-websocket-protocol: mqtt\r\n\r\n";
    size_t consumed = 0;
    CHECK_OK(fx_feed(&f, req, strlen(req), &consumed));
    CHECK_EQ(net_ws_state(f.ws), NET_WS_OPEN);
    fx_cleanup(&f);
}

ROOST_TEST(handshake_incremental_and_size_limit)
{
    struct fixture f;
    fx_init(&f);
    const char *req = request("/mqtt", "Sec-WebSocket-Protocol: mqttv3.1\r\n");
    size_t len = strlen(req), consumed = 0;
    /* The caller re-offers what was not consumed, plus one more byte. */
    for (size_t n = 1; n < len; n++) {
        REQUIRE_OK(fx_feed(&f, req, n, &consumed));
        REQUIRE_EQ(consumed, 0);
        REQUIRE_EQ(roost_buf_size(&f.to_peer), 0);
    }
    CHECK_OK(fx_feed(&f, req, len, &consumed));
    CHECK_EQ(consumed, len);
    CHECK_EQ(net_ws_state(f.ws), NET_WS_OPEN);
    CHECK_STR(f.req.subprotocol, "mqttv3.1");
    fx_cleanup(&f);

    /* No blank line within 8 KB: refused. */
    fx_init(&f);
    size_t big = 9000;
    char *junk = roost_xmalloc(big);
    const char *start = "GET /mqtt HTTP/1.1\r\nX-Pad: ";
    memcpy(junk, start, strlen(start));
    memset(junk + strlen(start), 'a', big - strlen(start));
    CHECK_OK(fx_feed(&f, junk, 8000, &consumed));
    CHECK_EQ(consumed, 0);
    CHECK_EQ(fx_feed(&f, junk, big, &consumed), ROOST_EPROTO);
    CHECK(strncmp(peer_text(&f), "HTTP/1.1 400 ", 13) == 0);
    roost_free(junk);
    fx_cleanup(&f);
}

ROOST_TEST(frame_right_after_request)
{
    struct fixture f;
    fx_init(&f);
    struct roost_buf in;
    roost_buf_init(&in, 0);
    const char *req = request("/mqtt", "Sec-WebSocket-Protocol: mqtt\r\n");
    REQUIRE_OK(roost_buf_append(&in, req, strlen(req)));
    client_frame(&in, 0x82, "\x10\x0c", 2, false);
    size_t consumed = 0;
    CHECK_OK(fx_feed(&f, roost_buf_head(&in), roost_buf_size(&in), &consumed));
    CHECK_EQ(consumed, roost_buf_size(&in));
    CHECK_EQ(roost_buf_size(&f.app_in), 2);
    CHECK_MEM(roost_buf_head(&f.app_in), "\x10\x0c", 2);
    roost_buf_cleanup(&in);
    fx_cleanup(&f);
}

/* ==== Frames ============================================================= */

static uint8_t *pattern(size_t n)
{
    uint8_t *p = roost_xmalloc(n);
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(i * 13 + (i >> 8));
    return p;
}

ROOST_TEST(lengths_7_16_64_bits)
{
    size_t sizes[] = {0, 1, 125, 126, 300, 65535, 65536, 70000};
    for (size_t s = 0; s < ROOST_ARRAY_LEN(sizes); s++) {
        struct fixture f;
        fx_open(&f);
        uint8_t *data = pattern(sizes[s]);
        struct roost_buf in;
        roost_buf_init(&in, 0);
        client_frame(&in, 0x82, data, sizes[s], false);
        size_t consumed = 0;
        CHECK_OK(fx_feed(&f, roost_buf_head(&in), roost_buf_size(&in), &consumed));
        CHECK_EQ(consumed, roost_buf_size(&in));
        REQUIRE_EQ(roost_buf_size(&f.app_in), sizes[s]);
        CHECK(sizes[s] == 0 || memcmp(roost_buf_head(&f.app_in), data, sizes[s]) == 0);
        CHECK_EQ(roost_buf_size(&f.to_peer), 0);
        roost_buf_cleanup(&in);
        roost_free(data);
        fx_cleanup(&f);
    }
}

/* A stream exercising everything that is not an error: fragments with a
 * ping and a pong between them, a 16-bit-length frame, an empty frame. */
static void build_stream(struct roost_buf *in, struct roost_buf *want_app,
                         struct roost_buf *want_peer)
{
    uint8_t *big = pattern(400);
    client_frame(in, 0x02, "abc", 3, false);        /* binary, FIN=0 */
    client_frame(in, 0x89, "hi", 2, false);         /* ping in between */
    client_frame(in, 0x00, "defg", 4, false);       /* continuation */
    client_frame(in, 0x8a, "ignored", 7, false);    /* pong: ignored */
    client_frame(in, 0x80, "h", 1, false);          /* last continuation */
    client_frame(in, 0x82, big, 400, false);        /* 16-bit length */
    client_frame(in, 0x82, "", 0, false);           /* empty */
    client_frame(in, 0x89, "", 0, false);           /* empty ping */
    client_frame(in, 0x82, "\xe0\x00", 2, false);
    REQUIRE_OK(roost_buf_append(want_app, "abcdefgh", 8));
    REQUIRE_OK(roost_buf_append(want_app, big, 400));
    REQUIRE_OK(roost_buf_append(want_app, "\xe0\x00", 2));
    REQUIRE_OK(roost_buf_append(want_peer, "\x8a\x02hi\x8a\x00", 6));
    roost_free(big);
}

ROOST_TEST(fragments_and_control_frames)
{
    struct fixture f;
    fx_open(&f);
    struct roost_buf in, want_app, want_peer;
    roost_buf_init(&in, 0);
    roost_buf_init(&want_app, 0);
    roost_buf_init(&want_peer, 0);
    build_stream(&in, &want_app, &want_peer);
    size_t consumed = 0;
    CHECK_OK(fx_feed(&f, roost_buf_head(&in), roost_buf_size(&in), &consumed));
    CHECK_EQ(consumed, roost_buf_size(&in));
    REQUIRE_EQ(roost_buf_size(&f.app_in), roost_buf_size(&want_app));
    CHECK_MEM(roost_buf_head(&f.app_in), roost_buf_head(&want_app), roost_buf_size(&want_app));
    REQUIRE_EQ(roost_buf_size(&f.to_peer), roost_buf_size(&want_peer));
    CHECK_MEM(roost_buf_head(&f.to_peer), roost_buf_head(&want_peer), roost_buf_size(&want_peer));
    roost_buf_cleanup(&in);
    roost_buf_cleanup(&want_app);
    roost_buf_cleanup(&want_peer);
    fx_cleanup(&f);
}

/* Feeds `in` as a caller would: bytes arrive in pieces split at `cut`
 * (or one at a time when cut == 0); unconsumed bytes are offered again. */
static void feed_split(struct fixture *f, const struct roost_buf *in, size_t cut)
{
    const uint8_t *p = roost_buf_head(in);
    size_t total = roost_buf_size(in);
    struct roost_buf pending;
    roost_buf_init(&pending, 0);
    size_t pos = 0;
    while (pos < total) {
        size_t step = cut == 0 ? 1 : (pos < cut ? cut - pos : total - pos);
        REQUIRE_OK(roost_buf_append(&pending, p + pos, step));
        pos += step;
        size_t consumed = 0;
        REQUIRE_OK(fx_feed(f, roost_buf_head(&pending), roost_buf_size(&pending), &consumed));
        roost_buf_consume(&pending, consumed);
    }
    CHECK_EQ(roost_buf_size(&pending), 0);
    roost_buf_cleanup(&pending);
}

ROOST_TEST(split_at_every_byte)
{
    struct roost_buf in, want_app, want_peer;
    roost_buf_init(&in, 0);
    roost_buf_init(&want_app, 0);
    roost_buf_init(&want_peer, 0);
    build_stream(&in, &want_app, &want_peer);
    for (size_t cut = 0; cut < roost_buf_size(&in); cut++) {
        struct fixture f;
        fx_open(&f);
        feed_split(&f, &in, cut);
        REQUIRE_EQ(roost_buf_size(&f.app_in), roost_buf_size(&want_app));
        CHECK_MEM(roost_buf_head(&f.app_in), roost_buf_head(&want_app),
                  roost_buf_size(&want_app));
        REQUIRE_EQ(roost_buf_size(&f.to_peer), roost_buf_size(&want_peer));
        CHECK_MEM(roost_buf_head(&f.to_peer), roost_buf_head(&want_peer),
                  roost_buf_size(&want_peer));
        fx_cleanup(&f);
    }
    roost_buf_cleanup(&in);
    roost_buf_cleanup(&want_app);
    roost_buf_cleanup(&want_peer);
}

static void close_case(const void *payload, size_t n, int want_rc, const char *want_peer,
                       size_t want_len)
{
    struct fixture f;
    fx_open(&f);
    struct roost_buf in;
    roost_buf_init(&in, 0);
    client_frame(&in, 0x88, payload, n, false);
    size_t consumed = 0;
    CHECK_EQ(fx_feed(&f, roost_buf_head(&in), roost_buf_size(&in), &consumed), want_rc);
    CHECK_EQ(net_ws_state(f.ws), NET_WS_CLOSED);
    REQUIRE_EQ(roost_buf_size(&f.to_peer), want_len);
    CHECK_MEM(roost_buf_head(&f.to_peer), want_peer, want_len);
    CHECK_EQ(fx_feed(&f, roost_buf_head(&in), roost_buf_size(&in), &consumed), ROOST_ECLOSED);
    CHECK_EQ(consumed, 0);
    CHECK_EQ(net_ws_wrap(f.ws, (const uint8_t *)"x", 1, &f.to_peer), ROOST_ECLOSED);
    roost_buf_cleanup(&in);
    fx_cleanup(&f);
}

ROOST_TEST(close_is_echoed)
{
    close_case("\x03\xe8" "bye", 5, ROOST_ECLOSED, "\x88\x02\x03\xe8", 4);  /* 1000 */
    close_case("\x0f\xa0", 2, ROOST_ECLOSED, "\x88\x02\x0f\xa0", 4);        /* 4000 */
    close_case("", 0, ROOST_ECLOSED, "\x88\x00", 2);                        /* no code */
    close_case("\x03", 1, ROOST_EPROTO, "\x88\x02\x03\xea", 4);             /* 1 byte */
    close_case("\x03\xed", 2, ROOST_EPROTO, "\x88\x02\x03\xea", 4);         /* 1005 */
    close_case("\x00\x01", 2, ROOST_EPROTO, "\x88\x02\x03\xea", 4);         /* 1 */
}

/* One bad frame after the handshake: error, close code, CLOSED. */
static void violation(const struct roost_buf *in, int want_rc, uint16_t want_code)
{
    struct fixture f;
    fx_open(&f);
    size_t consumed = 0;
    CHECK_EQ(fx_feed(&f, roost_buf_head(in), roost_buf_size(in), &consumed), want_rc);
    CHECK_EQ(net_ws_state(f.ws), NET_WS_CLOSED);
    uint8_t want[4] = {0x88, 0x02, (uint8_t)(want_code >> 8), (uint8_t)want_code};
    REQUIRE_EQ(roost_buf_size(&f.to_peer), 4);
    CHECK_MEM(roost_buf_head(&f.to_peer), want, 4);
    fx_cleanup(&f);
}

ROOST_TEST(protocol_violations)
{
    struct roost_buf in;
    roost_buf_init(&in, 0);

    client_frame(&in, 0x81, "{}", 2, false); /* text */
    violation(&in, ROOST_EPROTO, 1003);
    roost_buf_clear(&in);
    client_frame(&in, 0x82, "ab", 2, true); /* unmasked */
    violation(&in, ROOST_EPROTO, 1002);
    roost_buf_clear(&in);
    client_frame(&in, 0x83, "ab", 2, false); /* reserved opcode */
    violation(&in, ROOST_EPROTO, 1002);
    roost_buf_clear(&in);
    client_frame(&in, 0x8b, "ab", 2, false); /* reserved control opcode */
    violation(&in, ROOST_EPROTO, 1002);
    roost_buf_clear(&in);
    client_frame(&in, 0xc2, "ab", 2, false); /* RSV1 without an extension */
    violation(&in, ROOST_EPROTO, 1002);
    roost_buf_clear(&in);
    client_frame(&in, 0x80, "ab", 2, false); /* continuation of nothing */
    violation(&in, ROOST_EPROTO, 1002);
    roost_buf_clear(&in);
    client_frame(&in, 0x02, "ab", 2, false); /* new message inside a fragmented one */
    client_frame(&in, 0x82, "cd", 2, false);
    violation(&in, ROOST_EPROTO, 1002);
    roost_buf_clear(&in);
    client_frame(&in, 0x09, "ab", 2, false); /* fragmented ping */
    violation(&in, ROOST_EPROTO, 1002);
    roost_buf_clear(&in);
    uint8_t *big = pattern(126);
    client_frame(&in, 0x89, big, 126, false); /* ping over 125 bytes */
    violation(&in, ROOST_EPROTO, 1002);
    roost_buf_clear(&in);
    roost_free(big);

    /* Over 1 MB: judged from the header alone, 1009. */
    const uint8_t huge[] = {0x82, 0xff, 0, 0, 0, 0, 0, 0x20, 0, 0};
    REQUIRE_OK(roost_buf_append(&in, huge, sizeof(huge)));
    violation(&in, ROOST_ETOOBIG, 1009);
    roost_buf_clear(&in);
    const uint8_t neg[] = {0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4};
    REQUIRE_OK(roost_buf_append(&in, neg, sizeof(neg)));
    violation(&in, ROOST_EPROTO, 1002);
    roost_buf_cleanup(&in);
}

ROOST_TEST(app_in_limit_is_backpressure)
{
    struct fixture f;
    fx_open(&f);
    roost_buf_cleanup(&f.app_in);
    roost_buf_init(&f.app_in, 100);
    uint8_t *data = pattern(1000);
    struct roost_buf in, got;
    roost_buf_init(&in, 0);
    roost_buf_init(&got, 0);
    client_frame(&in, 0x82, data, 600, false);
    client_frame(&in, 0x82, data + 600, 400, false);
    int calls = 0;
    while (roost_buf_size(&in) && calls++ < 100) {
        size_t consumed = 0;
        int rc = fx_feed(&f, roost_buf_head(&in), roost_buf_size(&in), &consumed);
        REQUIRE(rc == 0 || rc == ROOST_ETOOBIG);
        CHECK_EQ(net_ws_state(f.ws), NET_WS_OPEN);
        roost_buf_consume(&in, consumed);
        REQUIRE_OK(roost_buf_append(&got, roost_buf_head(&f.app_in), roost_buf_size(&f.app_in)));
        roost_buf_clear(&f.app_in);
    }
    REQUIRE_EQ(roost_buf_size(&got), 1000);
    CHECK_MEM(roost_buf_head(&got), data, 1000);
    CHECK(calls >= 10);
    roost_buf_cleanup(&got);
    roost_buf_cleanup(&in);
    roost_free(data);
    fx_cleanup(&f);
}

ROOST_TEST(wrap_and_close_frames)
{
    struct fixture f;
    fx_init(&f);
    CHECK_EQ(net_ws_wrap(f.ws, (const uint8_t *)"x", 1, &f.to_peer), ROOST_EINVAL);
    fx_cleanup(&f);

    fx_open(&f);
    CHECK_OK(net_ws_wrap(f.ws, (const uint8_t *)"\x20\x02\x00\x00", 4, &f.to_peer));
    REQUIRE_EQ(roost_buf_size(&f.to_peer), 6);
    CHECK_MEM(roost_buf_head(&f.to_peer), "\x82\x04\x20\x02\x00\x00", 6);
    roost_buf_clear(&f.to_peer);

    uint8_t *data = pattern(70000);
    CHECK_OK(net_ws_wrap(f.ws, data, 300, &f.to_peer));
    REQUIRE_EQ(roost_buf_size(&f.to_peer), 304);
    CHECK_MEM(roost_buf_head(&f.to_peer), "\x82\x7e\x01\x2c", 4);
    CHECK_MEM(roost_buf_head(&f.to_peer) + 4, data, 300);
    roost_buf_clear(&f.to_peer);
    CHECK_OK(net_ws_wrap(f.ws, data, 70000, &f.to_peer));
    REQUIRE_EQ(roost_buf_size(&f.to_peer), 70010);
    CHECK_MEM(roost_buf_head(&f.to_peer), "\x82\x7f\x00\x00\x00\x00\x00\x01\x11\x70", 10);
    CHECK_MEM(roost_buf_head(&f.to_peer) + 10, data, 70000);
    roost_buf_clear(&f.to_peer);
    roost_free(data);

    CHECK_OK(net_ws_close(f.ws, 1001, &f.to_peer));
    CHECK_EQ(net_ws_state(f.ws), NET_WS_CLOSED);
    CHECK_OK(net_ws_close(f.ws, 1000, &f.to_peer)); /* only one close frame */
    REQUIRE_EQ(roost_buf_size(&f.to_peer), 4);
    CHECK_MEM(roost_buf_head(&f.to_peer), "\x88\x02\x03\xe9", 4);
    fx_cleanup(&f);
}
