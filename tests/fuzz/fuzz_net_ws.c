/*
 * fuzz_net_ws.c - libFuzzer target for src/net/ws.c: the input goes through
 * net_ws_feed in chunks the way the connection code would offer it
 * (unconsumed bytes offered again with the next chunk), so the handshake
 * scan, frame headers split across reads and payload streaming are all hit.
 *
 * Input layout: byte 0 = flags (bit 0: prepend a valid upgrade request so
 * the fuzzer reaches framing at once; bit 1: a 64-byte app_in limit to
 * exercise back-pressure; bit 2: echo app data through net_ws_wrap),
 * byte 1 = chunk size (0: everything at once), then the bytes of the peer.
 */
#include "net/net_int.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char upgrade[] = "GET /mqtt?x=1 HTTP/1.1\r\n"
                              "Host: localhost\r\n"
                              "Upgrade: websocket\r\n"
                              "Connection: Upgrade\r\n"
                              "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                              "Sec-WebSocket-Version: 13\r\n"
                              "Sec-WebSocket-Protocol: mqtt\r\n\r\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    uint8_t flags = data[0];
    size_t chunk = data[1] ? data[1] : SIZE_MAX;
    data += 2;
    size -= 2;

    struct net_ws *ws = NULL;
    struct roost_buf input, pending, app_in, to_peer;
    struct net_ws_request req;
    roost_buf_init(&input, 0);
    roost_buf_init(&pending, 0);
    roost_buf_init(&app_in, (flags & 2) ? 64 : 0);
    roost_buf_init(&to_peer, 0);
    if (net_ws_create(&ws) != 0)
        abort();
    if (flags & 1)
        roost_buf_append(&input, upgrade, sizeof(upgrade) - 1);
    roost_buf_append(&input, data, size);

    /* roost_buf_head of a never-allocated buffer would be NULL + 0. */
    static const uint8_t none[1];
    const uint8_t *p = roost_buf_size(&input) ? roost_buf_head(&input) : none;
    size_t total = roost_buf_size(&input), pos = 0;
    int rc = 0;
    unsigned guard = 0;
    while (pos < total || roost_buf_size(&pending)) {
        if (++guard > 4 * total + 100)
            abort(); /* no progress: a livelock in net_ws_feed */
        size_t step = ROOST_MIN(chunk, total - pos);
        roost_buf_append(&pending, p + pos, step);
        pos += step;
        size_t consumed = 0;
        size_t before = roost_buf_size(&pending);
        const uint8_t *head = before ? roost_buf_head(&pending) : none;
        rc = net_ws_feed(ws, head, before, &consumed, &app_in, &to_peer, &req);
        if (consumed > before)
            abort();
        roost_buf_consume(&pending, consumed);
        if ((flags & 4) && net_ws_state(ws) == NET_WS_OPEN && roost_buf_size(&app_in))
            net_ws_wrap(ws, roost_buf_head(&app_in), roost_buf_size(&app_in), &to_peer);
        bool app_full = app_in.limit && roost_buf_size(&app_in) == app_in.limit;
        roost_buf_clear(&app_in);
        roost_buf_clear(&to_peer);
        if (rc == ROOST_ETOOBIG && net_ws_state(ws) == NET_WS_OPEN) {
            if (!app_full)
                abort(); /* back-pressure only when app_in really is full */
            continue;
        }
        if (rc != 0) {
            if (net_ws_state(ws) != NET_WS_CLOSED)
                abort(); /* every error closes the stream */
            break;
        }
        if (pos == total)
            break; /* the rest is an incomplete header or request */
    }
    if (net_ws_state(ws) == NET_WS_CLOSED) {
        size_t consumed = 1;
        if (net_ws_feed(ws, p, total, &consumed, &app_in, &to_peer, &req) != ROOST_ECLOSED ||
            consumed != 0)
            abort();
    }
    net_ws_close(ws, 1000, &to_peer);
    net_ws_destroy(ws);
    roost_buf_cleanup(&input);
    roost_buf_cleanup(&pending);
    roost_buf_cleanup(&app_in);
    roost_buf_cleanup(&to_peer);
    return 0;
}
