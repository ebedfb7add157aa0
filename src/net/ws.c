/*
 * ws.c - the server side of RFC 6455 for MQTT over WebSocket, sans I/O: the
 * HTTP/1.1 upgrade request in, the 101 (or 400/404) out, then binary frames
 * carrying the MQTT byte stream. It never touches a socket.
 *
 * The request is parsed with http-parser once it is complete (the blank
 * line seen, within 8 KB), straight from the caller's bytes: nothing is
 * copied or kept between calls but how far the search for the blank line
 * got.
 *
 * The framing is our own rather than wslay's: wslay_frame_* pulls input
 * through callbacks into its own 4 KB buffer, and its event API reassembles
 * whole messages in memory; MQTT over WebSocket is a byte stream, so frame
 * boundaries carry no meaning here. This decoder unmasks each payload
 * piece directly into `app_in` as it arrives, whatever the frame's size,
 * and waits (by not consuming) only for incomplete frame headers and
 * control frames (at most 2 + 4 + 125 bytes). State between calls is the
 * position inside the current frame: remaining length, mask, mask phase.
 */
#include "net/net_int.h"

#include <limits.h>
#include <stdio.h>
#include <strings.h>

#include <http_parser.h>
#include <openssl/evp.h>

#define WS_MAX_REQUEST 8192          /* the whole upgrade request */
#define WS_MAX_FRAME (1024u * 1024u) /* payload of one frame */
#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

enum {
    OP_CONT = 0x0,
    OP_TEXT = 0x1,
    OP_BINARY = 0x2,
    OP_CLOSE = 0x8,
    OP_PING = 0x9,
    OP_PONG = 0xA,
};

enum {
    CLOSE_NORMAL = 1000,
    CLOSE_PROTOCOL = 1002,
    CLOSE_UNSUPPORTED = 1003,
    CLOSE_TOO_BIG = 1009,
};

struct net_ws {
    enum net_ws_state state;
    size_t scanned;       /* HANDSHAKE: request bytes already searched for CRLFCRLF */
    bool in_payload;      /* inside a data frame's payload */
    bool fragmented;      /* a binary message's continuation frames are due */
    bool close_sent;
    uint64_t remaining;   /* payload bytes of the current data frame still due */
    uint8_t mask[4];      /* its masking key */
    unsigned mask_phase;  /* index into mask for the next payload byte */
};

int net_ws_create(struct net_ws **out_ws)
{
    struct net_ws *ws = roost_xcalloc(1, sizeof(*ws));
    ws->state = NET_WS_HANDSHAKE;
    *out_ws = ws;
    return 0;
}

void net_ws_destroy(struct net_ws *ws)
{
    roost_free(ws);
}

enum net_ws_state net_ws_state(const struct net_ws *ws)
{
    return ws->state;
}

/* ==== Handshake ========================================================== */

/* What the request said, as views into the caller's bytes. */
struct ws_req {
    struct roost_str url;
    struct roost_str field, value; /* the header being read */
    struct roost_str key;
    bool in_value;
    bool headers_done;
    bool bad;                      /* malformed in a way http-parser allows */
    bool upgrade_ws, conn_upgrade, version_13, version_seen, key_seen;
    bool proto_offered, proto_mqtt, proto_mqtt31;
};

static struct roost_str str_trim(struct roost_str s)
{
    while (s.n && (s.p[0] == ' ' || s.p[0] == '\t'))
        s.p++, s.n--;
    while (s.n && (s.p[s.n - 1] == ' ' || s.p[s.n - 1] == '\t'))
        s.n--;
    return s;
}

static bool str_ieq(struct roost_str s, const char *c)
{
    size_t n = strlen(c);
    return s.n == n && strncasecmp(s.p, c, n) == 0;
}

/* Calls fn on each trimmed element of a comma-separated header value. */
static void each_token(struct roost_str v, struct ws_req *r,
                       void (*fn)(struct ws_req *r, struct roost_str tok))
{
    while (v.n) {
        const char *comma = memchr(v.p, ',', v.n);
        size_t len = comma ? (size_t)(comma - v.p) : v.n;
        struct roost_str tok = str_trim((struct roost_str){v.p, len});
        if (tok.n)
            fn(r, tok);
        v.p += comma ? len + 1 : len;
        v.n -= comma ? len + 1 : len;
    }
}

static void tok_upgrade(struct ws_req *r, struct roost_str tok)
{
    if (str_ieq(tok, "websocket"))
        r->upgrade_ws = true;
}

static void tok_connection(struct ws_req *r, struct roost_str tok)
{
    if (str_ieq(tok, "upgrade"))
        r->conn_upgrade = true;
}

static void tok_protocol(struct ws_req *r, struct roost_str tok)
{
    r->proto_offered = true;
    /* Subprotocol names are case-sensitive tokens (RFC 6455 4.1). */
    if (roost_str_eq_c(tok, "mqtt"))
        r->proto_mqtt = true;
    else if (roost_str_eq_c(tok, "mqttv3.1"))
        r->proto_mqtt31 = true;
}

static void end_header(struct ws_req *r)
{
    struct roost_str v = str_trim(r->value);
    if (str_ieq(r->field, "Upgrade")) {
        each_token(v, r, tok_upgrade);
    } else if (str_ieq(r->field, "Connection")) {
        each_token(v, r, tok_connection);
    } else if (str_ieq(r->field, "Sec-WebSocket-Version")) {
        r->version_13 = (!r->version_seen || r->version_13) && roost_str_eq_c(v, "13");
        r->version_seen = true;
    } else if (str_ieq(r->field, "Sec-WebSocket-Key")) {
        if (r->key_seen)
            r->bad = true;
        r->key = v;
        r->key_seen = true;
    } else if (str_ieq(r->field, "Sec-WebSocket-Protocol")) {
        each_token(v, r, tok_protocol); /* an empty value offers nothing */
    }
    r->field = r->value = (struct roost_str){NULL, 0};
    r->in_value = false;
}

/* The request is complete in one buffer, so each element normally comes in
 * one piece; a second, adjacent piece extends it, and anything else (an
 * obsolete folded header line) is refused. */
static int extend(struct ws_req *r, struct roost_str *s, const char *at, size_t n)
{
    if (s->p && s->p + s->n != at) {
        r->bad = true;
        return 0;
    }
    if (!s->p)
        s->p = at;
    s->n += n;
    return 0;
}

static int on_url(http_parser *hp, const char *at, size_t n)
{
    struct ws_req *r = hp->data;
    return extend(r, &r->url, at, n);
}

static int on_header_field(http_parser *hp, const char *at, size_t n)
{
    struct ws_req *r = hp->data;
    if (r->in_value)
        end_header(r);
    return extend(r, &r->field, at, n);
}

static int on_header_value(http_parser *hp, const char *at, size_t n)
{
    struct ws_req *r = hp->data;
    r->in_value = true;
    return extend(r, &r->value, at, n);
}

static int on_headers_complete(http_parser *hp)
{
    struct ws_req *r = hp->data;
    if (r->field.p)
        end_header(r);
    r->headers_done = true;
    return 0;
}

/* RFC 6455 4.2.2: base64(SHA-1(key ++ GUID)); out gets 28 chars + NUL. */
static int accept_key(struct roost_str key, char out[29])
{
    char buf[64 + sizeof(WS_GUID)];
    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned md_len = 0;
    if (key.n > 64)
        return ROOST_EINVAL;
    memcpy(buf, key.p, key.n);
    memcpy(buf + key.n, WS_GUID, sizeof(WS_GUID) - 1);
    if (!EVP_Digest(buf, key.n + sizeof(WS_GUID) - 1, md, &md_len, EVP_sha1(), NULL) ||
        md_len != 20)
        return ROOST_ETLS;
    EVP_EncodeBlock((unsigned char *)out, md, 20);
    return 0;
}

/* A valid key is 16 random bytes in base64: 22 characters and "==". */
static bool key_valid(struct roost_str k)
{
    if (k.n != 24 || k.p[22] != '=' || k.p[23] != '=')
        return false;
    for (size_t i = 0; i < 22; i++) {
        char c = k.p[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '+' || c == '/'))
            return false;
    }
    return true;
}

static int reject(struct net_ws *ws, struct roost_buf *to_peer, int status)
{
    const char *text = status == 404 ? "404 Not Found" : "400 Bad Request";
    char resp[256];
    /* RFC 6455 4.4: say which version we speak. */
    int n = snprintf(resp, sizeof(resp),
                     "HTTP/1.1 %s\r\nConnection: close\r\nContent-Length: 0\r\n"
                     "Sec-WebSocket-Version: 13\r\n\r\n",
                     text);
    ws->state = NET_WS_CLOSED;
    int rc = roost_buf_append(to_peer, resp, (size_t)n);
    return rc ? rc : ROOST_EPROTO;
}

static void copy_str(char *dst, size_t cap, struct roost_str s)
{
    size_t k = ROOST_MIN(s.n, cap - 1);
    memcpy(dst, s.p, k);
    dst[k] = '\0';
}

/* Validates the complete request in p[0, n) and answers it. */
static int handle_request(struct net_ws *ws, const uint8_t *p, size_t n, struct roost_buf *to_peer,
                          struct net_ws_request *out_req)
{
    static const http_parser_settings settings = {
        .on_url = on_url,
        .on_header_field = on_header_field,
        .on_header_value = on_header_value,
        .on_headers_complete = on_headers_complete,
    };
    struct ws_req r = {0};
    struct net_ws_request req = {0};
    http_parser hp;
    http_parser_init(&hp, HTTP_REQUEST);
    hp.data = &r;
    size_t parsed = http_parser_execute(&hp, &settings, (const char *)p, n);
    if (HTTP_PARSER_ERRNO(&hp) != HPE_OK || !r.headers_done || r.bad || parsed != n ||
        !r.url.p)
        return reject(ws, to_peer, 400);

    struct http_parser_url u;
    http_parser_url_init(&u);
    if (http_parser_parse_url(r.url.p, r.url.n, 0, &u) != 0 || !(u.field_set & (1 << UF_PATH)))
        return reject(ws, to_peer, 400);
    struct roost_str path = {r.url.p + u.field_data[UF_PATH].off, u.field_data[UF_PATH].len};
    struct roost_str query = {"", 0};
    if (u.field_set & (1 << UF_QUERY))
        query = (struct roost_str){r.url.p + u.field_data[UF_QUERY].off,
                                   u.field_data[UF_QUERY].len};
    if (path.n >= sizeof(req.path) || query.n >= sizeof(req.query))
        return reject(ws, to_peer, 400);
    copy_str(req.path, sizeof(req.path), path);
    copy_str(req.query, sizeof(req.query), query);
    if (out_req)
        *out_req = req; /* path and query help the caller log even a refusal */
    if (!roost_str_eq_c(path, "/mqtt"))
        return reject(ws, to_peer, 404);

    bool has_body = (hp.flags & F_CHUNKED) ||
                    (hp.content_length != 0 && hp.content_length != ULLONG_MAX);
    if (hp.method != HTTP_GET || hp.http_major != 1 || hp.http_minor < 1 || has_body ||
        !r.upgrade_ws || !r.conn_upgrade || !r.version_13 || !key_valid(r.key))
        return reject(ws, to_peer, 400);
    /* Offering no subprotocol at all is tolerated (some clients do);
     * offering only ones we do not speak is not. */
    const char *proto = r.proto_mqtt ? "mqtt" : r.proto_mqtt31 ? "mqttv3.1" : NULL;
    if (r.proto_offered && !proto)
        return reject(ws, to_peer, 400);

    char accept[29];
    int rc = accept_key(r.key, accept);
    if (rc)
        return rc;
    char resp[256];
    int len = snprintf(resp, sizeof(resp),
                       "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                       "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n%s%s%s\r\n",
                       accept, proto ? "Sec-WebSocket-Protocol: " : "", proto ? proto : "",
                       proto ? "\r\n" : "");
    rc = roost_buf_append(to_peer, resp, (size_t)len);
    if (rc)
        return rc;
    snprintf(req.subprotocol, sizeof(req.subprotocol), "%s", proto ? proto : "");
    if (out_req)
        *out_req = req;
    ws->state = NET_WS_OPEN;
    return 0;
}

/* Looks for the end of the request; returns its length, 0 if not yet
 * complete, or ROOST_ETOOBIG past WS_MAX_REQUEST. */
static long request_length(struct net_ws *ws, const uint8_t *p, size_t n)
{
    size_t lim = ROOST_MIN(n, (size_t)WS_MAX_REQUEST);
    size_t from = ws->scanned > 3 ? ws->scanned - 3 : 0;
    for (size_t i = from; i + 4 <= lim; i++) {
        if (p[i] == '\r' && p[i + 1] == '\n' && p[i + 2] == '\r' && p[i + 3] == '\n')
            return (long)(i + 4);
    }
    ws->scanned = lim;
    return n >= WS_MAX_REQUEST ? ROOST_ETOOBIG : 0;
}

/* ==== Frames ============================================================= */

static int put_frame(struct roost_buf *to_peer, uint8_t opcode, const uint8_t *p, size_t n)
{
    uint8_t hdr[10];
    size_t h = 0;
    hdr[h++] = (uint8_t)(0x80 | opcode);
    if (n < 126) {
        hdr[h++] = (uint8_t)n;
    } else if (n <= 0xffff) {
        hdr[h++] = 126;
        hdr[h++] = (uint8_t)(n >> 8);
        hdr[h++] = (uint8_t)n;
    } else {
        hdr[h++] = 127;
        for (int i = 7; i >= 0; i--)
            hdr[h++] = (uint8_t)((uint64_t)n >> (8 * i));
    }
    int rc = roost_buf_reserve(to_peer, h + n);
    if (rc)
        return rc;
    roost_buf_append(to_peer, hdr, h);
    return roost_buf_append(to_peer, p, n);
}

/* Queues our close frame (once) and closes. */
static int send_close(struct net_ws *ws, uint16_t code, struct roost_buf *to_peer)
{
    int rc = 0;
    if (!ws->close_sent && ws->state == NET_WS_OPEN) {
        uint8_t payload[2] = {(uint8_t)(code >> 8), (uint8_t)code};
        /* 1005 and 1006 must never be sent: they mean "no code". */
        bool with_code = code != 0 && code != 1005 && code != 1006;
        rc = put_frame(to_peer, OP_CLOSE, payload, with_code ? 2 : 0);
    }
    ws->close_sent = true;
    ws->state = NET_WS_CLOSED;
    return rc;
}

static int fail(struct net_ws *ws, uint16_t code, int err, struct roost_buf *to_peer)
{
    int rc = send_close(ws, code, to_peer);
    return rc ? rc : err;
}

static bool close_code_valid(unsigned c)
{
    if (c >= 3000 && c <= 4999)
        return true;
    return c >= 1000 && c <= 1014 && c != 1004 && c != 1005 && c != 1006;
}

/* A complete control frame's unmasked payload. */
static int handle_control(struct net_ws *ws, uint8_t opcode, const uint8_t *pl, size_t n,
                          struct roost_buf *to_peer)
{
    switch (opcode) {
    case OP_PING:
        return put_frame(to_peer, OP_PONG, pl, n);
    case OP_PONG:
        return 0;
    default: /* OP_CLOSE: echo the code (RFC 6455 5.5.1), then we are done */
        if (n == 1)
            return fail(ws, CLOSE_PROTOCOL, ROOST_EPROTO, to_peer);
        uint16_t code = 0;
        if (n >= 2) {
            code = (uint16_t)(pl[0] << 8 | pl[1]);
            if (!close_code_valid(code))
                return fail(ws, CLOSE_PROTOCOL, ROOST_EPROTO, to_peer);
        }
        int rc = send_close(ws, code, to_peer);
        return rc ? rc : ROOST_ECLOSED;
    }
}

/*
 * Decodes one frame header at p[0, n). Returns the header length, 0 when
 * incomplete, or an error after queueing the close frame it deserves.
 */
static long frame_header(struct net_ws *ws, const uint8_t *p, size_t n, uint8_t *out_opcode,
                         bool *out_fin, uint64_t *out_len, struct roost_buf *to_peer)
{
    if (n < 2)
        return 0;
    bool fin = p[0] & 0x80;
    uint8_t opcode = p[0] & 0x0f;
    bool masked = p[1] & 0x80;
    uint64_t len = p[1] & 0x7f;
    size_t h = 2;
    if (len == 126) {
        if (n < 4)
            return 0;
        len = (uint64_t)p[2] << 8 | p[3];
        h = 4;
    } else if (len == 127) {
        if (n < 10)
            return 0;
        len = 0;
        for (int i = 0; i < 8; i++)
            len = len << 8 | p[2 + i];
        h = 10;
        if (len >> 63)
            return fail(ws, CLOSE_PROTOCOL, ROOST_EPROTO, to_peer);
    }
    if (p[0] & 0x70) /* RSV bits: no extension was negotiated */
        return fail(ws, CLOSE_PROTOCOL, ROOST_EPROTO, to_peer);
    if (!masked) /* RFC 6455 5.1: clients must mask */
        return fail(ws, CLOSE_PROTOCOL, ROOST_EPROTO, to_peer);
    switch (opcode) {
    case OP_TEXT: /* MQTT is binary: 1003 "cannot accept this data type" */
        return fail(ws, CLOSE_UNSUPPORTED, ROOST_EPROTO, to_peer);
    case OP_BINARY:
        if (ws->fragmented)
            return fail(ws, CLOSE_PROTOCOL, ROOST_EPROTO, to_peer);
        break;
    case OP_CONT:
        if (!ws->fragmented)
            return fail(ws, CLOSE_PROTOCOL, ROOST_EPROTO, to_peer);
        break;
    case OP_CLOSE:
    case OP_PING:
    case OP_PONG:
        if (!fin || len > 125)
            return fail(ws, CLOSE_PROTOCOL, ROOST_EPROTO, to_peer);
        break;
    default:
        return fail(ws, CLOSE_PROTOCOL, ROOST_EPROTO, to_peer);
    }
    if (len > WS_MAX_FRAME)
        return fail(ws, CLOSE_TOO_BIG, ROOST_ETOOBIG, to_peer);
    if (n < h + 4)
        return 0;
    memcpy(ws->mask, p + h, 4);
    *out_opcode = opcode;
    *out_fin = fin;
    *out_len = len;
    return (long)(h + 4);
}

/* Room left in `b` before its limit (SIZE_MAX when unlimited). */
static size_t buf_room(const struct roost_buf *b)
{
    return b->limit ? b->limit - roost_buf_size(b) : SIZE_MAX;
}

/* Unmasks up to `n` payload bytes into app_in; returns how many it took. */
static int take_payload(struct net_ws *ws, const uint8_t *p, size_t n, struct roost_buf *app_in,
                        size_t *out_taken)
{
    size_t k = (size_t)ROOST_MIN((uint64_t)n, ws->remaining);
    k = ROOST_MIN(k, buf_room(app_in));
    *out_taken = 0;
    if (k == 0)
        return 0;
    int rc = roost_buf_reserve(app_in, k);
    if (rc)
        return rc;
    uint8_t *dst = app_in->data + app_in->len;
    unsigned ph = ws->mask_phase;
    for (size_t i = 0; i < k; i++) {
        dst[i] = p[i] ^ ws->mask[ph];
        ph = (ph + 1) & 3;
    }
    ws->mask_phase = ph;
    app_in->len += k;
    ws->remaining -= k;
    if (ws->remaining == 0)
        ws->in_payload = false;
    *out_taken = k;
    return 0;
}

static int feed_frames(struct net_ws *ws, const uint8_t *p, size_t n, size_t *io_off,
                       struct roost_buf *app_in, struct roost_buf *to_peer)
{
    size_t off = *io_off;
    int rc = 0;
    while (off < n) {
        if (ws->in_payload) {
            size_t took = 0;
            rc = take_payload(ws, p + off, n - off, app_in, &took);
            off += took;
            if (rc)
                break;
            if (took == 0) {
                /* app_in is full: the caller drains it and offers the rest
                 * again; nothing is lost and the stream stays open. */
                rc = ROOST_ETOOBIG;
                break;
            }
            continue;
        }
        uint8_t opcode = 0;
        bool fin = false;
        uint64_t len = 0;
        long h = frame_header(ws, p + off, n - off, &opcode, &fin, &len, to_peer);
        if (h < 0) {
            rc = (int)h;
            break;
        }
        if (h == 0)
            break; /* incomplete header */
        if (opcode >= OP_CLOSE) {
            if (n - off < (size_t)h + len)
                break; /* wait for the whole control frame */
            uint8_t pl[125];
            for (size_t i = 0; i < len; i++)
                pl[i] = p[off + (size_t)h + i] ^ ws->mask[i & 3];
            off += (size_t)h + len;
            rc = handle_control(ws, opcode, pl, len, to_peer);
            if (rc)
                break;
            continue;
        }
        off += (size_t)h;
        ws->fragmented = !fin;
        ws->remaining = len;
        ws->mask_phase = 0;
        ws->in_payload = len > 0;
    }
    *io_off = off;
    return rc;
}

/*
 * See net_int.h. Beyond it: ROOST_ETOOBIG with the stream still OPEN means
 * `app_in` reached its limit (drain it, offer the unconsumed rest again);
 * ROOST_ETOOBIG with the state CLOSED is a frame over 1 MB (close 1009
 * queued). An upgrade request not complete within 8 KB is refused (400).
 * Bytes after the request are treated as frames in the same call.
 */
int net_ws_feed(struct net_ws *ws, const uint8_t *p, size_t n, size_t *out_consumed,
                struct roost_buf *app_in, struct roost_buf *to_peer,
                struct net_ws_request *out_req)
{
    int rc = 0;
    size_t off = 0;
    if (ws->state == NET_WS_CLOSED) {
        rc = ROOST_ECLOSED;
        goto out;
    }
    if (ws->state == NET_WS_HANDSHAKE) {
        long len = request_length(ws, p, n);
        if (len == ROOST_ETOOBIG) {
            rc = reject(ws, to_peer, 400);
            goto out;
        }
        if (len == 0)
            goto out;
        rc = handle_request(ws, p, (size_t)len, to_peer, out_req);
        off = (size_t)len;
        if (rc)
            goto out;
    }
    rc = feed_frames(ws, p, n, &off, app_in, to_peer);
out:
    *out_consumed = off;
    return rc;
}

/* See net_int.h. ROOST_ECLOSED once closed, ROOST_EINVAL before the
 * handshake. */
int net_ws_wrap(struct net_ws *ws, const uint8_t *p, size_t n, struct roost_buf *to_peer)
{
    if (ws->state == NET_WS_CLOSED)
        return ROOST_ECLOSED;
    if (ws->state != NET_WS_OPEN)
        return ROOST_EINVAL;
    return put_frame(to_peer, OP_BINARY, p, n);
}

/* See net_int.h. Closing before the handshake completed just marks the
 * stream closed (there is no WebSocket to close yet); a second close is a
 * no-op. */
int net_ws_close(struct net_ws *ws, uint16_t code, struct roost_buf *to_peer)
{
    return send_close(ws, code, to_peer);
}
