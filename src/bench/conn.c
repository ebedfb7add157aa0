/*
 * conn.c - roost-bench's client event loop: non-blocking TCP or TLS
 * connections driven by one level-triggered epoll set, and the MQTT client
 * handshake (CONNECT/CONNACK, optional SUBSCRIBE/SUBACK) before a connection
 * is handed to the mode.
 *
 * Efficiency rules, so the generator is rarely the bottleneck: one shared
 * 256 KiB read buffer, many packets decoded per read, packets appended to a
 * per-connection output buffer and written once per loop iteration (the
 * dirty list), TCP_NODELAY on every socket. Only a partial packet at the end
 * of a read is copied into the connection's own input buffer.
 */
#include "bench.h"

#include <arpa/inet.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#define READ_CAP (256u * 1024u)
#define IN_LIMIT (64u << 20)   /* a partial packet larger than this is a broker bug */
#define TLS_READS_PER_EVENT 16 /* then yield; the pending list resumes it */
#define ERRORS_SHOWN 5         /* print the first few failures, count the rest */

uint64_t bench__now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Prints why a connection failed, for the first few failures only: a storm of
 * 10,000 identical messages hides the first one, which is the useful one. */
static void report_failure(struct bench_loop *l, const char *what, int rc)
{
    if (l->errors >= ERRORS_SHOWN)
        return;
    fprintf(stderr, "roost-bench: %s: %s\n", what, roost_strerror(rc));
    if (rc == ROOST_ETLS) {
        unsigned long e;
        char msg[256];
        while ((e = ERR_get_error()) != 0) {
            ERR_error_string_n(e, msg, sizeof(msg));
            fprintf(stderr, "roost-bench:   %s\n", msg);
        }
    }
    if (l->errors + 1 == ERRORS_SHOWN)
        fprintf(stderr, "roost-bench: (further connection errors are only counted)\n");
}

static int ssl_ctx_create(const struct bench_opts *o, SSL_CTX **out_ctx)
{
    int rc = ROOST_ETLS;
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx)
        goto out;
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    /* Our output buffer moves when it grows and may be longer on a retry. */
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    /* Every connect is a full handshake: that is what the storm measures. */
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    /* Pull many records per read() instead of a header and a body each. */
    SSL_CTX_set_read_ahead(ctx, 1);
    if (o->cafile && !o->insecure) {
        if (SSL_CTX_load_verify_locations(ctx, o->cafile, NULL) != 1) {
            fprintf(stderr, "roost-bench: cannot load CA file %s\n", o->cafile);
            goto out;
        }
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    } else {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    }
    if (o->transport == BENCH_MTLS) {
        if (SSL_CTX_use_certificate_chain_file(ctx, o->cert) != 1 ||
            SSL_CTX_use_PrivateKey_file(ctx, o->key, SSL_FILETYPE_PEM) != 1 ||
            SSL_CTX_check_private_key(ctx) != 1) {
            fprintf(stderr, "roost-bench: cannot load client certificate %s / key %s\n",
                    o->cert, o->key);
            goto out;
        }
    }
    *out_ctx = ctx;
    ctx = NULL;
    rc = 0;
out:
    if (rc)
        ERR_print_errors_fp(stderr);
    SSL_CTX_free(ctx);
    return rc;
}

int bench__loop_init(struct bench_loop *l, const struct bench_opts *o)
{
    int rc = 0;
    struct addrinfo hints, *res = NULL;
    memset(l, 0, sizeof(*l));
    l->o = o;
    l->epfd = -1;
    roost_arena_init(&l->arena, l->arena_inline, sizeof(l->arena_inline));
    l->rcap = READ_CAP;
    l->rbuf = roost_xmalloc(l->rcap);

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    int gai = getaddrinfo(o->host, o->port, &hints, &res);
    if (gai != 0) {
        fprintf(stderr, "roost-bench: cannot resolve %s:%s: %s\n", o->host, o->port,
                gai_strerror(gai));
        rc = ROOST_EINVAL;
        goto out;
    }
    memcpy(&l->addr, res->ai_addr, res->ai_addrlen);
    l->addrlen = res->ai_addrlen;

    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (l->epfd < 0) {
        rc = -errno;
        goto out;
    }
    if (o->transport != BENCH_TCP) {
        rc = ssl_ctx_create(o, &l->ssl_ctx);
        if (rc)
            goto out;
    }
    /* Stop signals stay blocked except while the loop sleeps in
     * epoll_pwait2, so a SIGTERM can never slip in between a check of the
     * stop flag and the wait. */
    sigset_t cur;
    pthread_sigmask(SIG_BLOCK, NULL, &cur);
    l->waitmask = cur;
    sigdelset(&l->waitmask, SIGINT);
    sigdelset(&l->waitmask, SIGTERM);
out:
    if (res)
        freeaddrinfo(res);
    return rc;
}

void bench__loop_cleanup(struct bench_loop *l)
{
    if (l->epfd >= 0)
        close(l->epfd);
    l->epfd = -1;
    SSL_CTX_free(l->ssl_ctx);
    l->ssl_ctx = NULL;
    roost_free(l->rbuf);
    l->rbuf = NULL;
    roost_arena_cleanup(&l->arena);
}

static int set_events(struct bench_loop *l, struct bench_conn *c, uint32_t events)
{
    if (c->events == events)
        return 0;
    struct epoll_event ev = {.events = events, .data.ptr = c};
    int op = c->events ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    if (epoll_ctl(l->epfd, op, c->fd, &ev) < 0)
        return -errno;
    c->events = events;
    return 0;
}

void bench__conn_dirty(struct bench_loop *l, struct bench_conn *c)
{
    if (c->dirty)
        return;
    c->dirty = true;
    c->next_dirty = l->dirty;
    l->dirty = c;
}

void bench__conn_close(struct bench_loop *l, struct bench_conn *c, int rc)
{
    if (c->state == BC_CLOSED || c->state == BC_NEW)
        return;
    if (c->state != BC_READY)
        l->connecting--;
    if (c->ssl)
        SSL_free(c->ssl);
    c->ssl = NULL;
    if (c->fd >= 0)
        close(c->fd); /* also leaves the epoll set */
    c->fd = -1;
    c->events = 0;
    c->state = BC_CLOSED;
    roost_buf_cleanup(&c->in);
    roost_buf_cleanup(&c->out);
    if (rc < 0)
        l->errors++;
    if (l->hooks.on_close)
        l->hooks.on_close(l, c, rc);
}

static void conn_fail(struct bench_loop *l, struct bench_conn *c, const char *what, int rc)
{
    report_failure(l, what, rc);
    bench__conn_close(l, c, rc);
}

static void send_connect(struct bench_loop *l, struct bench_conn *c)
{
    struct roost_mqtt_connect m;
    memset(&m, 0, sizeof(m));
    m.protocol_level = l->o->version;
    m.clean_start = true;
    m.keep_alive = (uint16_t)l->o->keepalive;
    m.client_id = roost_str_c(c->client_id);
    int rc = roost_mqtt_encode_connect(&c->out, &m);
    if (rc) {
        conn_fail(l, c, "encode CONNECT", rc);
        return;
    }
    c->state = BC_MQTT_CONNECTING;
    rc = set_events(l, c, EPOLLIN);
    if (rc) {
        conn_fail(l, c, "epoll_ctl", rc);
        return;
    }
    bench__conn_dirty(l, c);
}

static void tls_step(struct bench_loop *l, struct bench_conn *c)
{
    ERR_clear_error();
    int r = SSL_do_handshake(c->ssl);
    if (r == 1) {
        send_connect(l, c);
        return;
    }
    int err = SSL_get_error(c->ssl, r);
    int rc;
    if (err == SSL_ERROR_WANT_READ)
        rc = set_events(l, c, EPOLLIN);
    else if (err == SSL_ERROR_WANT_WRITE)
        rc = set_events(l, c, EPOLLIN | EPOLLOUT);
    else if (err == SSL_ERROR_SYSCALL && errno)
        rc = -errno;
    else
        rc = ROOST_ETLS;
    if (rc)
        conn_fail(l, c, "TLS handshake", rc);
}

static void tcp_connected(struct bench_loop *l, struct bench_conn *c)
{
    int err = 0;
    socklen_t len = sizeof(err);
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        err = errno;
    if (err) {
        conn_fail(l, c, "connect", -err);
        return;
    }
    if (!l->ssl_ctx) {
        send_connect(l, c);
        return;
    }
    c->ssl = SSL_new(l->ssl_ctx);
    if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1) {
        conn_fail(l, c, "SSL_new", ROOST_ETLS);
        return;
    }
    if (l->hooks.on_tls && l->hooks.on_tls(l, c, c->ssl) != 0) {
        conn_fail(l, c, "client certificate", ROOST_ETLS);
        return;
    }
    const char *host = l->o->host;
    unsigned char ip[sizeof(struct in6_addr)];
    bool is_ip = inet_pton(AF_INET, host, ip) == 1 || inet_pton(AF_INET6, host, ip) == 1;
    if (!is_ip)
        SSL_set_tlsext_host_name(c->ssl, host);
    if (l->o->cafile && !l->o->insecure) {
        X509_VERIFY_PARAM *vp = SSL_get0_param(c->ssl);
        int ok = is_ip ? X509_VERIFY_PARAM_set1_ip_asc(vp, host) : SSL_set1_host(c->ssl, host);
        if (ok != 1) {
            conn_fail(l, c, "TLS host check setup", ROOST_ETLS);
            return;
        }
    }
    SSL_set_connect_state(c->ssl);
    c->state = BC_TLS_HANDSHAKE;
    tls_step(l, c);
}

void bench__conn_start(struct bench_loop *l, struct bench_conn *c)
{
    int rc;
    ROOST_ASSERT(c->state == BC_NEW || c->state == BC_CLOSED);
    c->fd = -1;
    c->ssl = NULL;
    c->events = 0;
    c->tls_write_wants_read = false;
    roost_buf_init(&c->in, IN_LIMIT);
    roost_buf_init(&c->out, 0);
    c->t_start = bench__now_ns();
    c->t_last_tx = c->t_start;
    c->recv_max = 65535;
    c->state = BC_TCP_CONNECTING;
    l->connecting++;

    c->fd = socket(l->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        rc = -errno;
        goto fail;
    }
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (l->o->sndbuf) {
        int sz = (int)l->o->sndbuf;
        setsockopt(c->fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
    }
    if (connect(c->fd, (const struct sockaddr *)&l->addr, l->addrlen) == 0) {
        rc = set_events(l, c, EPOLLIN);
        if (rc)
            goto fail;
        tcp_connected(l, c);
        return;
    }
    if (errno != EINPROGRESS) {
        rc = -errno;
        goto fail;
    }
    rc = set_events(l, c, EPOLLOUT);
    if (rc)
        goto fail;
    return;
fail:
    conn_fail(l, c, "connect", rc);
}

static void become_ready(struct bench_loop *l, struct bench_conn *c)
{
    c->state = BC_READY;
    l->connecting--;
    if (l->hooks.on_ready)
        l->hooks.on_ready(l, c);
}

static void send_subscribe(struct bench_loop *l, struct bench_conn *c)
{
    struct roost_mqtt_topic_req req;
    struct roost_mqtt_subscribe s;
    memset(&req, 0, sizeof(req));
    memset(&s, 0, sizeof(s));
    req.filter = roost_str_c(c->sub_filter);
    req.opts.qos = l->o->qos;
    s.packet_id = 1;
    s.topics = &req;
    s.n_topics = 1;
    int rc = roost_mqtt_encode_subscribe(&c->out, l->o->version, &s);
    if (rc) {
        conn_fail(l, c, "encode SUBSCRIBE", rc);
        return;
    }
    c->state = BC_SUBSCRIBING;
    bench__conn_dirty(l, c);
}

static void handle_packet(struct bench_loop *l, struct bench_conn *c,
                          const struct roost_mqtt_packet *p)
{
    switch (c->state) {
    case BC_MQTT_CONNECTING:
        if (p->type != ROOST_MQTT_CONNACK) {
            conn_fail(l, c, "expected CONNACK", ROOST_EPROTO);
            return;
        }
        if (p->u.connack.reason != 0) {
            if (l->errors < ERRORS_SHOWN)
                fprintf(stderr, "roost-bench: CONNACK refused: 0x%02x %s\n",
                        p->u.connack.reason,
                        l->o->version == ROOST_MQTT_V5 ? roost_mqtt_reason_text(p->u.connack.reason)
                                                       : "");
            conn_fail(l, c, "CONNECT", ROOST_EAUTH);
            return;
        }
        if (l->o->version == ROOST_MQTT_V5 &&
            roost_mqtt_prop_has(&p->u.connack.props, ROOST_PROP_RECEIVE_MAXIMUM))
            c->recv_max = p->u.connack.props.receive_maximum;
        if (c->sub_filter)
            send_subscribe(l, c);
        else
            become_ready(l, c);
        return;
    case BC_SUBSCRIBING:
        if (p->type == ROOST_MQTT_PINGRESP)
            return;
        if (p->type != ROOST_MQTT_SUBACK || p->u.suback.packet_id != 1 ||
            p->u.suback.n_reasons != 1) {
            conn_fail(l, c, "expected SUBACK", ROOST_EPROTO);
            return;
        }
        if (p->u.suback.reasons[0] >= 0x80) {
            conn_fail(l, c, "SUBSCRIBE refused", ROOST_EAUTH);
            return;
        }
        become_ready(l, c);
        return;
    case BC_READY:
        if (p->type == ROOST_MQTT_PINGRESP)
            return;
        if (p->type == ROOST_MQTT_DISCONNECT) {
            if (l->errors < ERRORS_SHOWN)
                fprintf(stderr, "roost-bench: server DISCONNECT: 0x%02x %s\n",
                        p->u.disconnect.reason, roost_mqtt_reason_text(p->u.disconnect.reason));
            conn_fail(l, c, "server disconnected", ROOST_ECLOSED);
            return;
        }
        if (l->hooks.on_packet)
            l->hooks.on_packet(l, c, p);
        return;
    default:
        conn_fail(l, c, "unexpected packet", ROOST_EPROTO);
        return;
    }
}

/* Decodes every whole packet in data[0..n) (after any carried partial one).
 * Returns 0, or an error when the connection was closed meanwhile. */
static int conn_parse(struct bench_loop *l, struct bench_conn *c, const uint8_t *data, size_t n)
{
    const uint8_t *p = data;
    size_t len = n;
    bool carried = roost_buf_size(&c->in) > 0;
    int rc;
    if (carried) {
        rc = roost_buf_append(&c->in, data, n);
        if (rc) {
            conn_fail(l, c, "input buffer", rc);
            return rc;
        }
        p = roost_buf_head(&c->in);
        len = roost_buf_size(&c->in);
    }
    size_t off = 0;
    while (off < len) {
        struct roost_mqtt_packet pkt;
        roost_arena_reset(&l->arena);
        rc = roost_mqtt_decode(p + off, len - off, l->o->version, 0, false, &pkt, &l->arena, NULL);
        if (rc == ROOST_EAGAIN)
            break;
        if (rc < 0) {
            conn_fail(l, c, "decode", rc);
            return rc;
        }
        off += (size_t)rc;
        handle_packet(l, c, &pkt);
        if (c->state == BC_CLOSED)
            return ROOST_ECLOSED;
    }
    if (carried) {
        roost_buf_consume(&c->in, off);
    } else if (off < len) {
        rc = roost_buf_append(&c->in, p + off, len - off);
        if (rc) {
            conn_fail(l, c, "input buffer", rc);
            return rc;
        }
    }
    return 0;
}

static void conn_read(struct bench_loop *l, struct bench_conn *c)
{
    if (!c->ssl) {
        ssize_t n = read(c->fd, l->rbuf, l->rcap);
        if (n < 0) {
            if (errno != EAGAIN && errno != EINTR)
                conn_fail(l, c, "read", -errno);
            return;
        }
        if (n == 0) {
            conn_fail(l, c, "broker closed the connection", ROOST_ECLOSED);
            return;
        }
        l->now = bench__now_ns();
        conn_parse(l, c, l->rbuf, (size_t)n);
        return;
    }
    for (int i = 0; i < TLS_READS_PER_EVENT; i++) {
        ERR_clear_error();
        int r = SSL_read(c->ssl, l->rbuf, (int)ROOST_MIN(l->rcap, (size_t)INT_MAX));
        if (r <= 0) {
            int err = SSL_get_error(c->ssl, r);
            if (err == SSL_ERROR_WANT_READ)
                return;
            if (err == SSL_ERROR_WANT_WRITE) {
                int rc = set_events(l, c, EPOLLIN | EPOLLOUT);
                if (rc)
                    conn_fail(l, c, "epoll_ctl", rc);
                return;
            }
            if (err == SSL_ERROR_ZERO_RETURN ||
                (err == SSL_ERROR_SYSCALL && ERR_peek_error() == 0))
                conn_fail(l, c, "broker closed the connection", ROOST_ECLOSED);
            else
                conn_fail(l, c, "TLS read", ROOST_ETLS);
            return;
        }
        l->now = bench__now_ns();
        if (conn_parse(l, c, l->rbuf, (size_t)r) < 0)
            return;
    }
    /* Decrypted or read-ahead bytes stay inside OpenSSL where epoll cannot
     * see them: come back to this connection on the next iteration. */
    if (SSL_has_pending(c->ssl) && !c->tls_pending) {
        c->tls_pending = true;
        c->next_pending = l->pending;
        l->pending = c;
    }
}

void bench__conn_flush(struct bench_loop *l, struct bench_conn *c)
{
    if (c->fd < 0 || c->state == BC_TCP_CONNECTING || c->state == BC_TLS_HANDSHAKE)
        return;
    bool blocked = false;
    while (roost_buf_size(&c->out) > 0) {
        size_t n = roost_buf_size(&c->out);
        if (c->ssl) {
            ERR_clear_error();
            int r = SSL_write(c->ssl, roost_buf_head(&c->out), (int)ROOST_MIN(n, (size_t)INT_MAX));
            if (r <= 0) {
                int err = SSL_get_error(c->ssl, r);
                if (err == SSL_ERROR_WANT_WRITE) {
                    blocked = true;
                    break;
                }
                if (err == SSL_ERROR_WANT_READ) {
                    c->tls_write_wants_read = true;
                    break;
                }
                conn_fail(l, c, "TLS write", err == SSL_ERROR_SYSCALL && errno ? -errno : ROOST_ETLS);
                return;
            }
            roost_buf_consume(&c->out, (size_t)r);
        } else {
            ssize_t r = send(c->fd, roost_buf_head(&c->out), n, MSG_NOSIGNAL);
            if (r < 0) {
                if (errno == EINTR)
                    continue;
                if (errno == EAGAIN) {
                    blocked = true;
                    break;
                }
                conn_fail(l, c, "write", -errno);
                return;
            }
            roost_buf_consume(&c->out, (size_t)r);
        }
        c->t_last_tx = l->now;
    }
    int rc = set_events(l, c, EPOLLIN | (blocked ? EPOLLOUT : 0));
    if (rc)
        conn_fail(l, c, "epoll_ctl", rc);
}

static void conn_event(struct bench_loop *l, struct bench_conn *c, uint32_t ev)
{
    switch (c->state) {
    case BC_NEW:
    case BC_CLOSED:
        return;
    case BC_TCP_CONNECTING:
        tcp_connected(l, c);
        return;
    case BC_TLS_HANDSHAKE:
        tls_step(l, c);
        return;
    default:
        break;
    }
    if (ev & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
        conn_read(l, c);
        if (c->state == BC_CLOSED)
            return;
        if (c->tls_write_wants_read) {
            c->tls_write_wants_read = false;
            bench__conn_flush(l, c);
            return;
        }
    }
    if (ev & EPOLLOUT) {
        if (c->ssl)
            conn_read(l, c); /* an SSL_read may have wanted to write */
        if (c->state != BC_CLOSED)
            bench__conn_flush(l, c);
    }
}

void bench__loop_flush(struct bench_loop *l)
{
    struct bench_conn *d = l->dirty;
    l->dirty = NULL;
    while (d) {
        struct bench_conn *next = d->next_dirty;
        d->dirty = false;
        if (d->state != BC_CLOSED && d->state != BC_NEW)
            bench__conn_flush(l, d);
        d = next;
    }
}

int bench__loop_poll(struct bench_loop *l, uint64_t timeout_ns)
{
    struct epoll_event evs[256];
    /* What the mode queued since the last poll goes out before we sleep;
     * what the events below produce goes out before we return. */
    bench__loop_flush(l);
    if (l->pending)
        timeout_ns = 0;
    struct timespec ts = {
        .tv_sec = (time_t)(timeout_ns / 1000000000u),
        .tv_nsec = (long)(timeout_ns % 1000000000u),
    };
    int n = epoll_pwait2(l->epfd, evs, (int)ROOST_ARRAY_LEN(evs), &ts, &l->waitmask);
    if (n < 0)
        n = 0; /* EINTR: a signal; the stop flag says what to do */
    l->now = bench__now_ns();
    for (int i = 0; i < n; i++)
        conn_event(l, evs[i].data.ptr, evs[i].events);

    struct bench_conn *p = l->pending;
    l->pending = NULL;
    while (p) {
        struct bench_conn *next = p->next_pending;
        p->tls_pending = false;
        if (p->state != BC_CLOSED && p->state != BC_NEW && p->ssl)
            conn_read(l, p);
        p = next;
    }

    bench__loop_flush(l);
    return l->stop && *l->stop ? -EINTR : 0;
}

void bench__loop_keepalive(struct bench_loop *l, struct bench_conn *const *conns, size_t n)
{
    if (l->o->keepalive == 0)
        return;
    uint64_t idle = (uint64_t)l->o->keepalive * 1000000000u / 2;
    uint64_t now = bench__now_ns();
    for (size_t i = 0; i < n; i++) {
        struct bench_conn *c = conns[i];
        if (c->state != BC_READY || now - c->t_last_tx < idle)
            continue;
        if (roost_mqtt_encode_pingreq(&c->out) == 0) {
            c->t_last_tx = now;
            bench__conn_dirty(l, c);
        }
    }
}

void bench__loop_expire(struct bench_loop *l, struct bench_conn *const *conns, size_t n,
                        uint64_t max_age_ns)
{
    uint64_t now = bench__now_ns();
    for (size_t i = 0; i < n; i++) {
        struct bench_conn *c = conns[i];
        if (c->state == BC_NEW || c->state == BC_CLOSED || c->state == BC_READY)
            continue;
        if (now - c->t_start > max_age_ns)
            conn_fail(l, c, "connection setup", -ETIMEDOUT);
    }
}

void bench__loop_disconnect_all(struct bench_loop *l, struct bench_conn *const *conns, size_t n)
{
    struct roost_mqtt_disconnect d;
    memset(&d, 0, sizeof(d));
    for (size_t i = 0; i < n; i++) {
        struct bench_conn *c = conns[i];
        if (c->state != BC_READY)
            continue;
        if (roost_mqtt_encode_disconnect(&c->out, l->o->version, &d) == 0)
            bench__conn_flush(l, c);
    }
    for (size_t i = 0; i < n; i++)
        bench__conn_close(l, conns[i], 0);
}
