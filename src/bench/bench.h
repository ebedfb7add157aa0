/*
 * bench.h - roost-bench internals shared by its files: the options, the
 * latency histogram, and the single-threaded epoll client loop whose
 * connections go TCP -> (TLS) -> CONNECT/CONNACK -> (SUBSCRIBE/SUBACK) ->
 * ready before a mode (pubsub.c, storm.c, shadow.c, jitp.c) drives them.
 *
 * The generator is deliberately one thread: on the 2-core machines we measure
 * on, the broker owns one core and roost-bench the other. Connections are
 * owned by the mode (arrays of structs embedding struct bench_conn), never
 * freed by the loop, so closing one inside a callback is always safe.
 */
#ifndef ROOST_BENCH_H
#define ROOST_BENCH_H

#include "common/common.h"
#include "mqtt/mqtt.h"

#include <openssl/ssl.h>
#include <signal.h>
#include <sys/socket.h>

enum bench_mode {
    BENCH_MODE_PUBSUB,
    BENCH_MODE_CONNECT,
    BENCH_MODE_IDLE,
    BENCH_MODE_SHADOW,
    BENCH_MODE_JITP,
};
enum bench_transport { BENCH_TCP, BENCH_TLS, BENCH_MTLS };
/* THINGS: pairs on AWS's per-thing topics, things/<publisher client id>/... */
enum bench_layout {
    BENCH_LAYOUT_AUTO,
    BENCH_LAYOUT_PAIRS,
    BENCH_LAYOUT_FANOUT,
    BENCH_LAYOUT_THINGS,
};

struct bench_opts {
    enum bench_mode mode;
    enum bench_transport transport;
    const char *host;          /* broker address, numeric or a name */
    const char *port;          /* service string for getaddrinfo */
    uint8_t version;           /* ROOST_MQTT_V311 or ROOST_MQTT_V5 */
    const char *cert;          /* mTLS client certificate chain (PEM) */
    const char *key;           /* mTLS client key (PEM) */
    const char *cafile;        /* verify the server against this; NULL = no check */
    bool insecure;             /* skip server verification even with cafile */
    unsigned pubs;             /* publishers */
    unsigned subs;             /* subscribers */
    enum bench_layout layout;  /* how publishers and subscribers share topics */
    const char *topic_prefix;  /* topics are <prefix>/<n> */
    uint8_t qos;               /* publish and subscribe QoS */
    size_t payload;            /* bytes per message, >= 8 */
    double rate;               /* messages/s per publisher; 0 = flat out */
    unsigned inflight;         /* QoS 1/2 unacknowledged window per publisher */
    double duration;           /* publishing seconds */
    double drain;              /* seconds to wait for stragglers at the end */
    unsigned connections;      /* connect/idle: how many connections */
    unsigned concurrency;      /* connections being set up at once */
    double hold;               /* idle: seconds to hold; 0 = until SIGTERM */
    unsigned keepalive;        /* MQTT keepalive seconds (0 = none) */
    unsigned sndbuf;           /* SO_SNDBUF bytes (0 = the kernel's autotuning) */
    bool require_no_loss;      /* exit 1 on any lost message */
    unsigned things;           /* shadow: things, one device connection each */
    unsigned apps;             /* shadow: app connections changing desired */
    double desired_fraction;   /* shadow: app desired updates per device update */
    const char *ca_cert;       /* jitp: the registered CA that signs the devices (PEM) */
    const char *ca_key;        /* jitp: its private key (PEM) */
    const char *name_prefix;   /* jitp: device CN = client id = <prefix>-<i>; NULL = random */
    const char *write_certs;   /* jitp: also write each device's chain and key here */
    double timeout;            /* jitp: seconds until a device that never connected fails */
    bool quiet;                /* only the RESULT line */
};

/* ==== Latency histogram =================================================== */

/* Log-linear buckets like HdrHistogram: exact below 32, then 32 sub-buckets
 * per power of two, so any recorded value is reported within 1/32 (3 %).
 * Fixed size: recording never allocates. Values are nanoseconds. */
#define BENCH_HIST_SUB 32u
#define BENCH_HIST_BUCKETS ((64u - 4u) * BENCH_HIST_SUB)

struct bench_hist {
    uint64_t count;                          /* samples recorded */
    uint64_t min;                            /* smallest sample */
    uint64_t max;                            /* largest sample */
    double sum;                              /* for the mean */
    uint64_t buckets[BENCH_HIST_BUCKETS];    /* sample counts per bucket */
};

void bench__hist_init(struct bench_hist *h);
void bench__hist_add(struct bench_hist *h, uint64_t v);
/* The value at quantile q in [0, 1] (bucket midpoint, clamped to min/max);
 * 0 when empty. */
uint64_t bench__hist_quantile(const struct bench_hist *h, double q);
/* Bucket index of v and the smallest value of bucket b; for tests. */
unsigned bench__hist_bucket(uint64_t v);
uint64_t bench__hist_bucket_low(unsigned b);

/* Checks the histogram and the sequence window; prints and returns 1 on
 * failure (`roost-bench selftest`). */
int bench__selftest(void);

/* ==== Duplicate detection ================================================ */

/* Per (publisher, subscriber) pair: the highest sequence seen and a 64-wide
 * window below it. Detects redeliveries without storing every sequence. */
struct bench_seq {
    uint64_t next;   /* highest sequence seen + 1 (0 = none yet) */
    uint64_t window; /* bit i: sequence next-1-i was seen */
};

/* Records sequence `seq`; returns true when it was already seen. Sequences
 * older than the window are taken as new (they cannot be told apart). */
bool bench__seq_record(struct bench_seq *s, uint64_t seq);

/* ==== The client loop ===================================================== */

enum bench_conn_state {
    BC_NEW,             /* not started (or finished and reusable) */
    BC_TCP_CONNECTING,  /* non-blocking connect() in progress */
    BC_TLS_HANDSHAKE,   /* SSL_connect() in progress */
    BC_MQTT_CONNECTING, /* CONNECT sent, waiting for CONNACK */
    BC_SUBSCRIBING,     /* SUBSCRIBE sent, waiting for SUBACK */
    BC_READY,           /* the mode owns it now */
    BC_CLOSED,          /* closed; fd is -1 */
};

struct bench_conn {
    int fd;                       /* -1 when not open */
    SSL *ssl;                     /* NULL for plain TCP */
    enum bench_conn_state state;  /* see enum */
    uint32_t events;              /* epoll mask registered (0 = not registered) */
    bool dirty;                   /* on the loop's flush list */
    bool tls_pending;             /* on the loop's list of TLS reads to finish */
    bool tls_write_wants_read;    /* SSL_write said WANT_READ */
    struct roost_buf in;          /* a partial packet carried between reads */
    struct roost_buf out;         /* encoded packets waiting for write() */
    uint64_t t_start;             /* ns: when connect() was called */
    uint64_t t_last_tx;           /* ns: last write, for keepalive pings */
    uint16_t recv_max;            /* server's receive maximum (v5), else 65535 */
    const char *client_id;        /* NUL-terminated, owned by the mode */
    uint8_t kind;                 /* the mode's tag (publisher, subscriber ...) */
    unsigned idx;                 /* the mode's index of this connection */
    const char *sub_filter;       /* if set, SUBSCRIBE to this after CONNACK */
    struct bench_conn *next_dirty;   /* flush list link */
    struct bench_conn *next_pending; /* TLS read list link */
};

struct bench_loop;

/* Mode callbacks. on_ready: the connection reached BC_READY. on_packet: a
 * packet for a ready connection (PINGRESP is eaten by the loop). on_close:
 * the connection failed or was closed (rc 0 = closed on purpose). on_tls
 * (optional): the connection's SSL object exists and its handshake has not
 * started, so a mode can give each connection its own client certificate;
 * non-zero fails the connection. */
struct bench_hooks {
    int (*on_tls)(struct bench_loop *l, struct bench_conn *c, SSL *ssl);
    void (*on_ready)(struct bench_loop *l, struct bench_conn *c);
    void (*on_packet)(struct bench_loop *l, struct bench_conn *c,
                      const struct roost_mqtt_packet *p);
    void (*on_close)(struct bench_loop *l, struct bench_conn *c, int rc);
};

struct bench_loop {
    const struct bench_opts *o;      /* options, borrowed */
    struct bench_hooks hooks;        /* mode callbacks */
    void *ud;                        /* the mode's state */
    int epfd;                        /* the epoll instance */
    SSL_CTX *ssl_ctx;                /* one context for every connection */
    struct sockaddr_storage addr;    /* the broker */
    socklen_t addrlen;
    uint8_t *rbuf;                   /* shared read buffer */
    size_t rcap;
    struct bench_conn *dirty;        /* connections with output to flush */
    struct bench_conn *pending;      /* TLS connections with decrypted bytes left */
    struct roost_arena arena;        /* per decoded packet */
    uint8_t arena_inline[2048];
    uint64_t now;                    /* ns, refreshed after every read */
    unsigned connecting;             /* connections between connect() and ready */
    uint64_t errors;                 /* connections that failed, protocol errors */
    sigset_t waitmask;               /* signals unblocked only while waiting */
    volatile sig_atomic_t *stop;     /* set by SIGINT/SIGTERM */
};

uint64_t bench__now_ns(void);

/* Sets up epoll, the broker address and (for TLS) the SSL_CTX. */
int bench__loop_init(struct bench_loop *l, const struct bench_opts *o);
void bench__loop_cleanup(struct bench_loop *l);

/* Starts connecting `c` (state must be BC_NEW or BC_CLOSED; its client_id and
 * sub_filter set). Failures are reported through on_close. Not from inside
 * a hook: a hook may run while the loop still parses that connection's input. */
void bench__conn_start(struct bench_loop *l, struct bench_conn *c);

/* Closes `c` now (rc < 0 counts as an error) and calls on_close. Safe inside
 * callbacks; idempotent. */
void bench__conn_close(struct bench_loop *l, struct bench_conn *c, int rc);

/* Writes as much of c->out as the socket takes now. */
void bench__conn_flush(struct bench_loop *l, struct bench_conn *c);

/* Queues `c` for a flush at the end of this loop iteration. Call after
 * appending packets to c->out. */
void bench__conn_dirty(struct bench_loop *l, struct bench_conn *c);

/* Writes every dirty connection's output now (also done by every poll). */
void bench__loop_flush(struct bench_loop *l);

/* Waits up to timeout_ns for events, handles them, then flushes every dirty
 * connection once. Returns 0, or -EINTR when a stop signal arrived. */
int bench__loop_poll(struct bench_loop *l, uint64_t timeout_ns);

/* Sends PINGREQ on ready connections idle longer than half the keepalive. */
void bench__loop_keepalive(struct bench_loop *l, struct bench_conn *const *conns, size_t n);

/* Fails connections still in setup (connect, TLS, CONNACK, SUBACK) after
 * max_age_ns with -ETIMEDOUT. Call about once a second. */
void bench__loop_expire(struct bench_loop *l, struct bench_conn *const *conns, size_t n,
                        uint64_t max_age_ns);

/* Sends DISCONNECT on every open connection, flushes briefly, closes all. */
void bench__loop_disconnect_all(struct bench_loop *l, struct bench_conn *const *conns, size_t n);

/* ==== Modes and results =================================================== */

struct bench_result {
    const char *mode;
    uint64_t sent;
    uint64_t received;        /* unique deliveries */
    uint64_t expected;
    uint64_t lost;
    uint64_t duplicates;
    double msgs_per_s;        /* deliveries in the publishing window / its length */
    double elapsed_s;         /* length of the measured window */
    struct bench_hist lat;    /* message latency (pubsub) or connect latency */
    double connects_per_s;
    uint64_t connections;     /* connect/idle: connections that completed */
    uint64_t errors;
    /* shadow only */
    struct bench_hist lat2;   /* app desired update -> /update/delta on the device */
    uint64_t accepted;        /* /update/accepted for our updates (devices and app) */
    uint64_t rejected;        /* /update/rejected for our updates */
    uint64_t rejected_by_code[600]; /* by the answer's "code" (0: unreadable) */
    uint64_t app_sent;        /* desired updates the apps sent */
    uint64_t deltas;          /* /update/delta carrying an app's clientToken */
    uint64_t deltas_lost;     /* accepted app updates whose delta never came */
    uint64_t deltas_other;    /* deltas caused by device updates (desired not yet adopted) */
    /* jitp only (connections = devices that got CONNACK 0, lat = first attempt -> CONNACK) */
    uint64_t attempts;        /* connection attempts of all devices */
    uint64_t attempts_max;    /* most attempts one device needed */
    uint64_t refused;         /* attempts the server refused or closed before CONNACK */
    uint64_t refused_connack; /* attempts answered with a non-zero CONNACK */
    uint64_t timeouts;        /* attempts without an answer in time */
    double gen_s;             /* seconds spent making the device certificates (untimed) */
};

int bench__run_pubsub(const struct bench_opts *o, volatile sig_atomic_t *stop,
                      struct bench_result *out);
int bench__run_connect(const struct bench_opts *o, volatile sig_atomic_t *stop,
                       struct bench_result *out);
int bench__run_idle(const struct bench_opts *o, volatile sig_atomic_t *stop,
                    struct bench_result *out);
int bench__run_shadow(const struct bench_opts *o, volatile sig_atomic_t *stop,
                      struct bench_result *out);
/* The shadow mode's summary (stderr) and RESULT line (stdout). */
void bench__print_shadow(const struct bench_opts *o, const struct bench_result *r);
int bench__run_jitp(const struct bench_opts *o, volatile sig_atomic_t *stop,
                    struct bench_result *out);
/* The jitp mode's summary (stderr) and RESULT line (stdout). */
void bench__print_jitp(const struct bench_opts *o, const struct bench_result *r);
/* Checks the device certificate maker against an in-memory CA; prints and
 * returns 1 on failure (part of `roost-bench selftest`). */
int bench__jitp_selftest(void);

#endif /* ROOST_BENCH_H */
