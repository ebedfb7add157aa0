/*
 * net.h - Roost's I/O layer: one libuv event loop per thread, listeners,
 * and connections that hand a protocol handler a plaintext byte stream
 * whatever the transport (TCP, TLS, WebSocket, WebSocket over TLS).
 *
 * Threading: a connection lives on one loop and every callback about it runs
 * on that loop's thread. Work for another loop goes through roost_loop_post.
 * A connection can be moved to another loop once (roost_conn_migrate), which
 * the broker uses to bring every client id to the loop that owns its session.
 *
 * Output: handlers append plaintext to roost_conn_out() and call
 * roost_conn_flush(); bytes are encrypted/framed and written once per loop
 * iteration (one writev per connection), never one write per packet.
 */
#ifndef ROOST_NET_H
#define ROOST_NET_H

#include "common/common.h"

struct roost_net;
struct roost_loop;
struct roost_conn;

enum roost_transport {
    ROOST_TRANSPORT_TCP = 0,
    ROOST_TRANSPORT_TLS,
    ROOST_TRANSPORT_WS,
    ROOST_TRANSPORT_WSS,
};

/* What is known about the peer once the transport is open. */
struct roost_peer {
    enum roost_transport transport;
    bool has_cert;               /* a verified client certificate */
    char cert_id[65];            /* SHA-256 of its DER, hex */
    char subject[256];           /* RFC 2253 subject */
    char addr[64];               /* "ip:port" */
    char alpn[32];               /* negotiated ALPN, "" if none */
};

/* A protocol on top of a connection (MQTT for now, HTTP later). All
 * callbacks run on the connection's loop thread. */
struct roost_conn_handler {
    /* The transport is ready (TLS handshake done, WebSocket upgraded).
     * Returns the protocol state for this connection, or NULL to close it. */
    void *(*open)(void *handler_ud, struct roost_conn *c);
    /* Plaintext arrived in `in`; consume what can be used (roost_buf_consume)
     * and leave partial packets. Return 0, or an error to close the connection
     * (after flushing what was queued). */
    int (*data)(void *state, struct roost_conn *c, struct roost_buf *in);
    /* The connection is gone (peer closed, error, or roost_conn_close). Last
     * call for this state; `rc` is why (0 = closed by us on request). */
    void (*closed)(void *state, int rc);
    /* After roost_conn_migrate: now running on the new loop. */
    void (*migrated)(void *state, struct roost_conn *c);
    void *ud;
    /* Close a connection that neither sent nor was sent anything for this
     * long (slow or abandoned HTTP clients); 0 = the protocol keeps its own
     * time (MQTT keep-alive). */
    uint32_t idle_timeout_ms;
};

/* The verdict of the certificate verifier (roostd: the registry decides). */
enum roost_net_verdict {
    ROOST_NET_ACCEPT = 0,
    ROOST_NET_REJECT_UNKNOWN_CA,   /* alert unknown_ca */
    ROOST_NET_REJECT_REVOKED,      /* alert certificate_revoked */
    ROOST_NET_REJECT_EXPIRED,      /* alert certificate_expired */
    ROOST_NET_REJECT_BAD,          /* alert bad_certificate */
};

/* What OpenSSL's own chain verification said about the client's chain. */
enum roost_net_chain {
    ROOST_NET_CHAIN_OK = 0,        /* anchored in the trust store */
    ROOST_NET_CHAIN_UNKNOWN_ISSUER,
    ROOST_NET_CHAIN_EXPIRED,       /* expired or not yet valid */
    ROOST_NET_CHAIN_BAD,           /* bad signature, malformed, ... */
};

struct roost_net_client_cert {
    char id[65];                 /* SHA-256 of the leaf's DER */
    char issuer_id[65];          /* the trust anchor's id when chain == OK, else "" */
    enum roost_net_chain chain;
    const uint8_t *leaf_der;     /* valid during the call */
    size_t leaf_der_len;
    const char *chain_error;     /* OpenSSL's text when chain != OK */
};

/* Called during the handshake on the connection's loop thread; must be
 * fast and must not block (it reads caches). */
typedef enum roost_net_verdict (*roost_net_verify_fn)(void *ud, const struct roost_net_client_cert *cert,
                                                  char *why, size_t why_cap);

/* A protocol picked by the ALPN the client negotiated (e.g. "x-amzn-mqtt-ca"
 * on the HTTPS port). */
struct roost_alpn_route {
    const char *alpn;
    const struct roost_conn_handler *handler;
    bool require_client_cert;    /* close at once when no certificate was verified */
};

#define ROOST_MAX_ALPN_ROUTES 4

struct roost_listener_config {
    const char *name;            /* "mqtt", "mqtt_plain", "ws_plain", "https" */
    const char *bind;            /* address, NULL = all (::) */
    uint16_t port;               /* 0 = pick a free one */
    bool tls;
    bool require_client_cert;    /* with tls */
    bool websocket;              /* speak WebSocket first (path /mqtt) */
    const struct roost_conn_handler *handler;   /* default protocol */
    struct roost_alpn_route alpn_routes[ROOST_MAX_ALPN_ROUTES]; /* tried first (TLS only) */
};

struct roost_net_config {
    unsigned threads;            /* event loops, >= 1 */
    const char *tls_cert_file;   /* server certificate and key for TLS listeners */
    const char *tls_key_file;
    const char *client_ca_file;  /* trust anchor for client certificates */
    uint32_t handshake_timeout_ms; /* TLS/WebSocket must be open by then */
    size_t max_input;            /* bound on buffered unparsed input per connection */
    size_t max_output;           /* bound on unwritten output before the conn is dropped */
    roost_net_verify_fn verify;  /* optional: the registry's word on client certificates */
    void *verify_ud;
};

int roost_net_create(const struct roost_net_config *cfg, struct roost_net **out_net);
/* Binds a listener on every loop (SO_REUSEPORT, kernel-balanced accepts).
 * Returns the bound port in *out_port. Call before roost_net_start. */
int roost_net_listen(struct roost_net *net, const struct roost_listener_config *lc,
                     uint16_t *out_port);
/* Starts the loop threads. */
int roost_net_start(struct roost_net *net);
/* Stops accepting, closes every connection (handlers get `closed`), stops
 * and joins the threads. */
void roost_net_stop(struct roost_net *net);
void roost_net_destroy(struct roost_net *net);

/* Trusts one more CA (PEM) for client certificates from now on. Thread-safe. */
int roost_net_add_trusted_ca(struct roost_net *net, const char *pem, size_t len);

unsigned roost_net_loop_count(const struct roost_net *net);
struct roost_loop *roost_net_loop(struct roost_net *net, unsigned index);

/* ---- loops ---- */
unsigned roost_loop_index(const struct roost_loop *l);
struct roost_loop *roost_loop_current(void); /* the calling thread's loop, or NULL */
/* Runs fn(arg) on loop `l`'s thread, soon. Thread-safe. FIFO per sender. */
void roost_loop_post(struct roost_loop *l, void (*fn)(void *arg), void *arg);
/* Calls fn(ud) every `period_ms` on the loop. Set before roost_net_start. */
void roost_loop_set_tick(struct roost_loop *l, uint32_t period_ms, void (*fn)(void *ud), void *ud);
/* Calls fn(ud) once per loop iteration, before output is flushed (for
 * batching work queued during the iteration). Set before roost_net_start. */
void roost_loop_set_before_flush(struct roost_loop *l, void (*fn)(void *ud), void *ud);
/* Runs fn(arg) on this loop after the current poll phase, i.e. after every
 * I/O event the kernel had already reported. Loop thread only. */
void roost_loop_defer(struct roost_loop *l, void (*fn)(void *arg), void *arg);
/* Per-loop pointer for the layer above (the broker's shard). */
void roost_loop_set_user(struct roost_loop *l, void *user);
void *roost_loop_user(const struct roost_loop *l);

/* ---- connections ---- */
struct roost_loop *roost_conn_loop(const struct roost_conn *c);
const struct roost_peer *roost_conn_peer(const struct roost_conn *c);
/* Plaintext output; append then call roost_conn_flush. */
struct roost_buf *roost_conn_out(struct roost_conn *c);
void roost_conn_flush(struct roost_conn *c);
/* Bytes accepted for sending but not yet written to the socket. */
size_t roost_conn_backlog(const struct roost_conn *c);
/* Closes after flushing queued output (graceful) or at once. The handler's
 * `closed` runs later, from the loop, never inside this call. */
void roost_conn_close(struct roost_conn *c, bool flush_first);
/* Moves the connection to loop `to` after the current callback returns.
 * Input already buffered goes along and is handed to `data` there. */
void roost_conn_migrate(struct roost_conn *c, struct roost_loop *to);
/* From inside `data`: the bytes still in `in` (an HTTP upgrade request the
 * caller has authenticated and not consumed) are a WebSocket handshake; the
 * connection becomes WebSocket, answered by the WebSocket layer, and speaks
 * `h` from then on (its `open` runs once the upgrade is done). */
int roost_conn_upgrade_websocket(struct roost_conn *c, const struct roost_conn_handler *h);
/* Stops/resumes reading (back-pressure). Resuming also hands the handler
 * any input that was already buffered. */
void roost_conn_pause(struct roost_conn *c, bool paused);

/* Process-wide counters (atomic), for /metrics and logs. */
struct roost_net_stats {
    uint64_t accepted;
    uint64_t open;
    uint64_t handshakes_ok;
    uint64_t handshakes_failed;
    uint64_t bytes_in;
    uint64_t bytes_out;
};
void roost_net_get_stats(const struct roost_net *net, struct roost_net_stats *out);

#endif /* ROOST_NET_H */
