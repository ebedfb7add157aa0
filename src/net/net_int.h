/*
 * net_int.h - internals shared by the files of src/net (not for other
 * subsystems): the sans-I/O TLS adapter over OpenSSL and the sans-I/O
 * WebSocket framing. The connection code (conn.c) moves bytes between the
 * socket and these; neither touches a socket or a loop itself.
 *
 * Only tls.c and ws.c (SHA-1 and base64 for the handshake) include OpenSSL
 * headers in src/net. ws.c frames by hand rather than with wslay: payload is
 * unmasked straight into the caller's buffer, so frames of any size stream.
 */
#ifndef ROOST_NET_INT_H
#define ROOST_NET_INT_H

#include "common/common.h"
#include "net/net.h"

/* ==== TLS (tls.c) ======================================================== */

struct net_tls_config {
    const char *cert_file;        /* server certificate chain, PEM */
    const char *key_file;         /* its private key, PEM */
    const char *client_ca_file;   /* CA bundle for client certificates, or NULL */
    bool require_client_cert;     /* mTLS: fail the handshake without a valid one */
    /* ALPN protocols the server accepts, most preferred first (e.g.
     * "x-amzn-mqtt-ca", "mqtt", "http/1.1"); NULL-terminated, may be NULL. */
    const char *const *alpn;
    /* Optional: decides on every client certificate after OpenSSL's chain
     * check (which alone decides when NULL). */
    roost_net_verify_fn verify;
    void *verify_ud;
};



struct net_tls_ctx;   /* one per listener kind; shared by all loops (read-only) */
struct net_tls;       /* one per connection */

/* Builds an SSL_CTX: TLS 1.2 minimum, session tickets on, server cipher
 * preference, SSL_MODE_RELEASE_BUFFERS (idle memory), the certificate and
 * key loaded once. */
int net_tls_ctx_create(const struct net_tls_config *cfg, struct net_tls_ctx **out_ctx);
void net_tls_ctx_destroy(struct net_tls_ctx *ctx);
/* Adds a trust anchor (PEM, one or more certificates) to the context's
 * store, for CAs registered while running. Thread-safe. */
int net_tls_ctx_add_trusted(struct net_tls_ctx *ctx, const char *pem, size_t len);

int net_tls_create(struct net_tls_ctx *ctx, struct net_tls **out_tls);
void net_tls_destroy(struct net_tls *t);

/* Hands ciphertext received from the socket to the TLS engine. */
int net_tls_feed(struct net_tls *t, const uint8_t *p, size_t n);

/* Advances the handshake and decrypts. Appends plaintext to `plain` (which
 * may hit its limit: ROOST_ETOOBIG). Returns 0 when it made all the progress
 * it can (call again after the next feed), ROOST_ECLOSED after the peer's
 * close_notify, ROOST_ETLS on a fatal TLS error (the alert to send, if any,
 * is in the pending output). */
int net_tls_read(struct net_tls *t, struct roost_buf *plain);

/* Encrypts plaintext for sending; the records land in the pending output. */
int net_tls_write(struct net_tls *t, const uint8_t *p, size_t n);

/* Moves all pending ciphertext (handshake records, alerts, application
 * records) to the end of `out`. */
int net_tls_take_output(struct net_tls *t, struct roost_buf *out);

/* Queues a close_notify. */
void net_tls_shutdown(struct net_tls *t);

bool net_tls_handshake_done(const struct net_tls *t);
/* The negotiated ALPN protocol ("" when none); valid for the connection's life. */
const char *net_tls_alpn(const struct net_tls *t);
/* The SNI host name the client sent, or NULL. */
const char *net_tls_sni(const struct net_tls *t);
/* Short text for the last failure, for logs ("certificate verify failed"). */
const char *net_tls_last_error(const struct net_tls *t);

/* The verified peer certificate, if any: SHA-256 of its DER as 64 lowercase
 * hex chars (the AWS certificate id), and its subject in RFC 2253 form.
 * Returns ROOST_ENOTFOUND without a client certificate. */
int net_tls_peer_cert_id(const struct net_tls *t, char out_id[65]);
int net_tls_peer_subject(const struct net_tls *t, char *out, size_t cap);

/* ==== WebSocket (ws.c) ==================================================== */

/* Server side of RFC 6455 for MQTT over WebSocket: the HTTP/1.1 upgrade
 * request, then binary frames carrying the MQTT byte stream. */

struct net_ws;

enum net_ws_state {
    NET_WS_HANDSHAKE,             /* waiting for the whole upgrade request */
    NET_WS_OPEN,
    NET_WS_CLOSED,
};

struct net_ws_request {           /* what the upgrade request asked for */
    char path[256];               /* e.g. "/mqtt" (query string stripped) */
    char query[8192];             /* raw query string without '?', for SigV4 (STS tokens are long) */
    char subprotocol[32];         /* chosen: "mqtt" or "mqttv3.1" */
};

int net_ws_create(struct net_ws **out_ws);
void net_ws_destroy(struct net_ws *ws);
enum net_ws_state net_ws_state(const struct net_ws *ws);

/*
 * Consumes bytes from the peer. In HANDSHAKE it parses the upgrade request;
 * once complete it validates it (GET, Upgrade: websocket, Connection:
 * upgrade, Sec-WebSocket-Version: 13, a key, a subprotocol among "mqtt" and
 * "mqttv3.1", path "/mqtt"), appends the 101 response (or a 400/404 with
 * Connection: close, returning ROOST_EPROTO) to `to_peer`, and fills
 * *out_req. In OPEN it unmasks data frames, appending their payload to
 * `app_in` (MQTT bytes), answers pings with pongs in `to_peer`, and on a
 * close frame echoes it and returns ROOST_ECLOSED. Text frames (close 1003),
 * unmasked client frames and bad opcodes (close 1002) are ROOST_EPROTO. Returns 0 or an error; *out_consumed says how many input bytes
 * were used (the rest must be offered again with more data).
 */
int net_ws_feed(struct net_ws *ws, const uint8_t *p, size_t n, size_t *out_consumed,
                struct roost_buf *app_in, struct roost_buf *to_peer,
                struct net_ws_request *out_req);

/* Frames MQTT bytes as one binary frame (server frames are unmasked). */
int net_ws_wrap(struct net_ws *ws, const uint8_t *p, size_t n, struct roost_buf *to_peer);

/* Queues a close frame with `code`. */
int net_ws_close(struct net_ws *ws, uint16_t code, struct roost_buf *to_peer);

#endif /* ROOST_NET_INT_H */
