/*
 * net.c - event loops (one libuv loop per thread), listeners and
 * connections. A connection owns its socket handle, an optional TLS engine
 * and WebSocket framer (tls.c, ws.c: both sans-I/O), and four buffers:
 *   in    plaintext received, not yet consumed by the handler
 *   out   plaintext the handler queued for sending
 *   wsout WebSocket frames (and the upgrade response) waiting for TLS/socket
 *   wire  bytes ready for the socket; wire_busy is what uv_write is writing
 * Output is flushed once per loop iteration from a prepare handle, so a
 * handler that answers fifty packets from one read costs one write.
 *
 * Lifetime: a connection is freed only from its handle's close callback,
 * after the handler's `closed`; nothing is freed inside its own callback.
 */
#include "net.h"
#include "net_int.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#define NET_READ_CHUNK (64 * 1024)
#define NET_MAX_LISTENERS 8

struct net_post {
    void (*fn)(void *arg);
    void *arg;
};

struct net_listener {
    uv_tcp_t handle;
    struct roost_loop *loop;
    const struct listener_def *def;
};

/* One listener definition, shared by the per-loop listening sockets. */
struct listener_def {
    struct roost_listener_config cfg;
    char name[32];
    struct net_tls_ctx *tls_ctx;
};

struct roost_loop {
    struct roost_net *net;
    unsigned index;
    uv_loop_t uv;
    uv_thread_t thread;
    uv_async_t wakeup;
    uv_prepare_t flusher;
    uv_check_t deferrer;
    struct net_post *deferred;
    size_t n_deferred, cap_deferred;
    uv_timer_t tick_timer;
    uv_timer_t sweep_timer;
    void (*tick_fn)(void *ud);
    void *tick_ud;
    uint32_t tick_period_ms;
    void (*before_flush_fn)(void *ud);
    void *before_flush_ud;
    void *user;

    pthread_mutex_t post_lock;
    struct net_post *posts;       /* guarded by post_lock */
    size_t n_posts, cap_posts;
    struct net_post *running;     /* swapped out for processing */
    size_t cap_running;

    struct net_listener listeners[NET_MAX_LISTENERS];
    size_t n_listeners;
    struct roost_conn *conns;     /* all connections on this loop */
    struct roost_conn *dirty;     /* connections with output to flush */
    uint8_t read_buf[NET_READ_CHUNK];
    bool read_buf_busy;
    bool stopping;
};

struct roost_net {
    struct roost_net_config cfg;
    struct roost_loop **loops;
    unsigned n_loops;
    struct listener_def defs[NET_MAX_LISTENERS];
    size_t n_defs;
    struct net_tls_ctx *tls_ctx_mtls;
    struct net_tls_ctx *tls_ctx_plain;
    bool started;
    atomic_uint_fast64_t accepted, open, hs_ok, hs_failed, bytes_in, bytes_out;
};

struct roost_conn {
    struct roost_loop *loop;
    uv_tcp_t *tcp;
    const struct listener_def *def;
    struct net_tls *tls;
    struct net_ws *ws;
    struct roost_buf in, out, wsout, wire, wire_busy;
    struct roost_buf wsin;            /* WebSocket bytes not yet a whole frame */
    uv_write_t wreq;
    void *state;
    const struct roost_conn_handler *handler; /* chosen at open */
    const struct roost_conn_handler *upgrade_to; /* after a WebSocket upgrade */
    struct roost_peer peer;
    uint64_t created_ms;
    uint64_t last_io_ms;              /* last read or write, for the idle trim */
    struct roost_loop *migrate_to;
    struct roost_conn *next, *prev;   /* loop->conns */
    struct roost_conn *dirty_next;
    int close_rc;
    bool opened;
    bool writing;
    bool dirty;
    bool closing;
    bool close_when_flushed;
    bool handler_closed;
    bool paused;
    bool migrating;
};

static _Thread_local struct roost_loop *current_loop;

static void conn_flush(struct roost_conn *c);
static void conn_start_read(struct roost_conn *c);
static void conn_do_close(struct roost_conn *c, int rc);
static void conn_maybe_migrate(struct roost_conn *c);
static int conn_finish_upgrade(struct roost_conn *c);
static int conn_deliver(struct roost_conn *c);

/* ==== Posting work between loops ========================================= */

void roost_loop_post(struct roost_loop *l, void (*fn)(void *arg), void *arg)
{
    pthread_mutex_lock(&l->post_lock);
    if (l->n_posts == l->cap_posts) {
        l->cap_posts = l->cap_posts ? l->cap_posts * 2 : 64;
        l->posts = roost_xrealloc(l->posts, l->cap_posts * sizeof(*l->posts));
    }
    l->posts[l->n_posts++] = (struct net_post){fn, arg};
    bool first = l->n_posts == 1;
    pthread_mutex_unlock(&l->post_lock);
    if (first)
        uv_async_send(&l->wakeup);
}

static void on_wakeup(uv_async_t *h)
{
    struct roost_loop *l = h->data;
    for (;;) {
        pthread_mutex_lock(&l->post_lock);
        struct net_post *batch = l->posts;
        size_t n = l->n_posts;
        size_t cap = l->cap_posts;
        l->posts = l->running;
        l->cap_posts = l->cap_running;
        l->n_posts = 0;
        l->running = batch;
        l->cap_running = cap;
        pthread_mutex_unlock(&l->post_lock);
        if (n == 0)
            return;
        for (size_t i = 0; i < n; i++)
            batch[i].fn(batch[i].arg);
    }
}

/* ==== Connection output ================================================== */

struct roost_loop *roost_conn_loop(const struct roost_conn *c) { return c->loop; }
const struct roost_peer *roost_conn_peer(const struct roost_conn *c) { return &c->peer; }
struct roost_buf *roost_conn_out(struct roost_conn *c) { return &c->out; }

size_t roost_conn_backlog(const struct roost_conn *c)
{
    return roost_buf_size(&c->out) + roost_buf_size(&c->wsout) + roost_buf_size(&c->wire) +
           roost_buf_size(&c->wire_busy);
}

void roost_conn_flush(struct roost_conn *c)
{
    if (c->dirty || c->handler_closed)
        return;
    c->dirty = true;
    c->dirty_next = c->loop->dirty;
    c->loop->dirty = c;
}

static void on_write_done(uv_write_t *req, int status)
{
    struct roost_conn *c = req->data;
    c->writing = false;
    roost_buf_clear(&c->wire_busy);
    roost_buf_relax(&c->wire_busy);
    if (status < 0) {
        if (!c->handler_closed)
            conn_do_close(c, status);
        return;
    }
    if (c->handler_closed)
        return;
    conn_flush(c);
}

/* Moves handler output through WebSocket framing and TLS onto the wire,
 * then writes as much as the socket takes now; the rest goes to uv_write. */
static void conn_flush(struct roost_conn *c)
{
    struct roost_net *net = c->loop->net;
    int rc = 0;
    if (c->handler_closed)
        return;
    if (roost_buf_size(&c->out)) {
        if (c->ws) {
            rc = net_ws_wrap(c->ws, roost_buf_head(&c->out), roost_buf_size(&c->out), &c->wsout);
            if (rc)
                goto fail;
        } else {
            if (c->tls) {
                rc = net_tls_write(c->tls, roost_buf_head(&c->out), roost_buf_size(&c->out));
            } else if (roost_buf_size(&c->wire) == 0 && !c->writing) {
                /* Plain TCP, nothing queued: write straight from `out`. */
                uv_buf_t b = uv_buf_init((char *)roost_buf_head(&c->out),
                                         (unsigned)roost_buf_size(&c->out));
                int n = uv_try_write((uv_stream_t *)c->tcp, &b, 1);
                if (n > 0) {
                    atomic_fetch_add(&net->bytes_out, (uint64_t)n);
                    roost_buf_consume(&c->out, (size_t)n);
                } else if (n != UV_EAGAIN) {
                    rc = n;
                    goto fail;
                }
                if (roost_buf_size(&c->out))
                    rc = roost_buf_append(&c->wire, roost_buf_head(&c->out),
                                          roost_buf_size(&c->out));
            } else {
                rc = roost_buf_append(&c->wire, roost_buf_head(&c->out), roost_buf_size(&c->out));
            }
            if (rc)
                goto fail;
        }
        roost_buf_clear(&c->out);
        roost_buf_relax(&c->out);
    }
    if (roost_buf_size(&c->wsout)) {
        if (c->tls)
            rc = net_tls_write(c->tls, roost_buf_head(&c->wsout), roost_buf_size(&c->wsout));
        else
            rc = roost_buf_append(&c->wire, roost_buf_head(&c->wsout), roost_buf_size(&c->wsout));
        if (rc)
            goto fail;
        roost_buf_clear(&c->wsout);
        roost_buf_relax(&c->wsout);
    }
    if (c->tls) {
        rc = net_tls_take_output(c->tls, &c->wire);
        if (rc)
            goto fail;
    }
    if (!c->writing && roost_buf_size(&c->wire)) {
        uv_buf_t b = uv_buf_init((char *)roost_buf_head(&c->wire), (unsigned)roost_buf_size(&c->wire));
        int n = uv_try_write((uv_stream_t *)c->tcp, &b, 1);
        if (n > 0) {
            atomic_fetch_add(&net->bytes_out, (uint64_t)n);
            roost_buf_consume(&c->wire, (size_t)n);
        } else if (n != UV_EAGAIN) {
            rc = n;
            goto fail;
        }
        if (roost_buf_size(&c->wire)) {
            struct roost_buf tmp = c->wire_busy;
            c->wire_busy = c->wire;
            c->wire = tmp;
            b = uv_buf_init((char *)roost_buf_head(&c->wire_busy),
                            (unsigned)roost_buf_size(&c->wire_busy));
            c->wreq.data = c;
            rc = uv_write(&c->wreq, (uv_stream_t *)c->tcp, &b, 1, on_write_done);
            if (rc)
                goto fail;
            atomic_fetch_add(&net->bytes_out, b.len);
            c->writing = true;
        }
        roost_buf_relax(&c->wire);
    }
    if (net->cfg.max_output && roost_conn_backlog(c) > net->cfg.max_output) {
        roost_log_warn("net", "%s: output backlog over %zu bytes, closing", c->peer.addr,
                       net->cfg.max_output);
        rc = ROOST_ETOOBIG;
        goto fail;
    }
    if (c->closing && c->close_when_flushed && !c->writing && !roost_buf_size(&c->wire))
        conn_do_close(c, c->close_rc);
    else if (c->migrating && !c->writing)
        conn_maybe_migrate(c);
    return;
fail:
    conn_do_close(c, rc);
}

void roost_loop_defer(struct roost_loop *l, void (*fn)(void *arg), void *arg)
{
    if (l->n_deferred == l->cap_deferred) {
        l->cap_deferred = l->cap_deferred ? l->cap_deferred * 2 : 16;
        l->deferred = roost_xrealloc(l->deferred, l->cap_deferred * sizeof(*l->deferred));
    }
    l->deferred[l->n_deferred++] = (struct net_post){fn, arg};
}

static void on_check(uv_check_t *h)
{
    struct roost_loop *l = h->data;
    /* Callbacks may defer more; those run in this pass too. */
    for (size_t i = 0; i < l->n_deferred; i++)
        l->deferred[i].fn(l->deferred[i].arg);
    l->n_deferred = 0;
}

static void on_prepare(uv_prepare_t *h)
{
    struct roost_loop *l = h->data;
    if (l->before_flush_fn)
        l->before_flush_fn(l->before_flush_ud);
    while (l->dirty) {
        struct roost_conn *c = l->dirty;
        l->dirty = c->dirty_next;
        c->dirty = false;
        c->dirty_next = NULL;
        conn_flush(c);
    }
}

/* ==== Connection lifetime ================================================= */

static void conn_link(struct roost_loop *l, struct roost_conn *c)
{
    c->loop = l;
    c->prev = NULL;
    c->next = l->conns;
    if (l->conns)
        l->conns->prev = c;
    l->conns = c;
}

static void conn_unlink(struct roost_conn *c)
{
    struct roost_loop *l = c->loop;
    if (c->prev)
        c->prev->next = c->next;
    else
        l->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->next = c->prev = NULL;
    /* Remove from the dirty list too. */
    if (c->dirty) {
        struct roost_conn **pp = &l->dirty;
        while (*pp && *pp != c)
            pp = &(*pp)->dirty_next;
        if (*pp)
            *pp = c->dirty_next;
        c->dirty = false;
    }
}

static void conn_free(struct roost_conn *c)
{
    net_tls_destroy(c->tls);
    net_ws_destroy(c->ws);
    roost_buf_cleanup(&c->in);
    roost_buf_cleanup(&c->out);
    roost_buf_cleanup(&c->wsout);
    roost_buf_cleanup(&c->wire);
    roost_buf_cleanup(&c->wire_busy);
    roost_buf_cleanup(&c->wsin);
    roost_free(c);
}

static void on_tcp_closed(uv_handle_t *h)
{
    struct roost_conn *c = h->data;
    roost_free(h);
    if (!c)
        return; /* a handle left behind by a migration */
    atomic_fetch_sub(&c->loop->net->open, 1);
    conn_unlink(c);
    if (c->opened && c->handler->closed)
        c->handler->closed(c->state, c->close_rc);
    conn_free(c);
}

static void conn_do_close(struct roost_conn *c, int rc)
{
    if (c->handler_closed)
        return;
    c->handler_closed = true;
    c->closing = true;
    if (!c->close_rc)
        c->close_rc = rc;
    if (!uv_is_closing((uv_handle_t *)c->tcp))
        uv_close((uv_handle_t *)c->tcp, on_tcp_closed);
}

void roost_conn_close(struct roost_conn *c, bool flush_first)
{
    if (c->closing)
        return;
    c->closing = true;
    if (flush_first) {
        /* The flush that is due anyway closes the socket once output is out. */
        c->close_when_flushed = true;
        uv_read_stop((uv_stream_t *)c->tcp);
        roost_conn_flush(c);
    } else {
        conn_do_close(c, 0);
    }
}

void roost_conn_pause(struct roost_conn *c, bool paused)
{
    if (c->paused == paused || c->closing)
        return;
    c->paused = paused;
    if (paused) {
        uv_read_stop((uv_stream_t *)c->tcp);
        return;
    }
    conn_start_read(c);
    int rc = conn_deliver(c);
    if (rc && !c->closing)
        roost_conn_close(c, true);
    roost_conn_flush(c);
}

/* ==== Reading ============================================================ */

static void fill_peer_after_handshake(struct roost_conn *c)
{
    if (!c->tls)
        return;
    if (net_tls_peer_cert_id(c->tls, c->peer.cert_id) == 0) {
        c->peer.has_cert = true;
        net_tls_peer_subject(c->tls, c->peer.subject, sizeof(c->peer.subject));
    }
    snprintf(c->peer.alpn, sizeof(c->peer.alpn), "%s", net_tls_alpn(c->tls));
}

/* The protocol: by negotiated ALPN when a route names it, else the default. */
static const struct roost_conn_handler *conn_pick_handler(struct roost_conn *c, bool *out_need_cert)
{
    *out_need_cert = false;
    for (size_t i = 0; i < ROOST_MAX_ALPN_ROUTES && c->def->cfg.alpn_routes[i].alpn; i++) {
        const struct roost_alpn_route *r = &c->def->cfg.alpn_routes[i];
        if (strcmp(r->alpn, c->peer.alpn) == 0) {
            *out_need_cert = r->require_client_cert;
            return r->handler;
        }
    }
    return c->def->cfg.handler;
}

static int conn_open_handler(struct roost_conn *c)
{
    bool need_cert;
    const struct roost_conn_handler *h = c->upgrade_to ? c->upgrade_to
                                                       : conn_pick_handler(c, &need_cert);
    if (c->upgrade_to) {
        need_cert = false;
        c->upgrade_to = NULL;
    }
    if (need_cert && !c->peer.has_cert) {
        roost_log_info("net", "%s: ALPN %s needs a client certificate", c->peer.addr, c->peer.alpn);
        return ROOST_EAUTH;
    }
    c->handler = h;
    c->opened = true;
    c->state = h->open(h->ud, c);
    if (!c->state) {
        c->opened = false;
        return ROOST_EAUTH;
    }
    return 0;
}

/* Feeds the handler whatever plaintext is buffered. */
static int conn_deliver(struct roost_conn *c)
{
    if (!c->opened || !roost_buf_size(&c->in) || c->closing || c->migrating || c->paused)
        return 0;
    int rc = c->handler->data(c->state, c, &c->in);
    if (roost_buf_size(&c->in) == 0)
        roost_buf_relax(&c->in);
    if (!rc && c->upgrade_to && !c->opened)
        rc = conn_finish_upgrade(c);
    return rc;
}

/* Ciphertext or WebSocket bytes arrived: run them through the layers. */
static int conn_process_input(struct roost_conn *c, const uint8_t *p, size_t n)
{
    struct roost_net *net = c->loop->net;
    int rc = 0;
    struct roost_buf plain_tmp;
    struct roost_buf *plain = &c->in;

    if (c->tls) {
        rc = net_tls_feed(c->tls, p, n);
        if (rc)
            return rc;
        bool was_done = net_tls_handshake_done(c->tls);
        if (c->ws) {
            roost_buf_init(&plain_tmp, net->cfg.max_input);
            plain = &plain_tmp;
        }
        rc = net_tls_read(c->tls, plain);
        if (!was_done && net_tls_handshake_done(c->tls)) {
            atomic_fetch_add(&net->hs_ok, 1);
            fill_peer_after_handshake(c);
        }
        if (rc == ROOST_ETLS) {
            atomic_fetch_add(&net->hs_failed, was_done ? 0 : 1);
            roost_log_info("net", "%s: TLS failed: %s", c->peer.addr, net_tls_last_error(c->tls));
        }
        roost_conn_flush(c); /* handshake records, alerts */
        if (rc && rc != ROOST_ECLOSED)
            goto out;
        if (!net_tls_handshake_done(c->tls))
            goto out;
        if (c->ws) {
            p = roost_buf_head(plain);
            n = roost_buf_size(plain);
        }
    }
    if (c->ws) {
        size_t used = 0;
        struct net_ws_request req;
        bool was_open = net_ws_state(c->ws) == NET_WS_OPEN;
        /* The framer keeps no partial frame of its own: hold the tail here. */
        int wrc = roost_buf_append(&c->wsin, p, n);
        if (c->tls)
            roost_buf_cleanup(&plain_tmp);
        if (!wrc)
            wrc = net_ws_feed(c->ws, roost_buf_head(&c->wsin), roost_buf_size(&c->wsin), &used,
                              &c->in, &c->wsout, &req);
        if (used)
            roost_buf_consume(&c->wsin, used);
        roost_buf_relax(&c->wsin);
        roost_conn_flush(c);
        if (wrc) {
            rc = wrc;
            goto out;
        }
        if (!was_open && net_ws_state(c->ws) == NET_WS_OPEN && !c->opened) {
            rc = conn_open_handler(c);
            if (rc)
                goto out;
        }
    } else if (!c->opened && (!c->tls || net_tls_handshake_done(c->tls))) {
        rc = conn_open_handler(c);
        if (rc)
            goto out;
    }
    if (rc == 0 || rc == ROOST_ECLOSED) {
        int drc = conn_deliver(c);
        if (drc)
            rc = drc;
    }
out:
    return rc;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct roost_conn *c = h->data;
    struct roost_loop *l = c->loop;
    if (!l->read_buf_busy) {
        l->read_buf_busy = true;
        *buf = uv_buf_init((char *)l->read_buf, sizeof(l->read_buf));
        return;
    }
    *buf = uv_buf_init(roost_xmalloc(NET_READ_CHUNK), NET_READ_CHUNK);
}

static void release_read_buf(struct roost_loop *l, const uv_buf_t *buf)
{
    if ((uint8_t *)buf->base == l->read_buf)
        l->read_buf_busy = false;
    else
        roost_free(buf->base);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct roost_conn *c = s->data;
    struct roost_loop *l = c->loop;
    int rc = 0;

    if (nread < 0) {
        release_read_buf(l, buf);
        conn_do_close(c, nread == UV_EOF ? ROOST_ECLOSED : (int)nread);
        return;
    }
    if (nread == 0 || c->closing) {
        release_read_buf(l, buf);
        return;
    }
    atomic_fetch_add(&l->net->bytes_in, (uint64_t)nread);
    c->last_io_ms = uv_now(&l->uv);
    const uint8_t *p = (const uint8_t *)buf->base;
    size_t n = (size_t)nread;

    if (!c->tls && !c->ws && c->opened && roost_buf_size(&c->in) == 0 && !c->migrating) {
        /* Plain TCP fast path: let the handler parse straight out of the
         * read buffer; keep only the unconsumed tail. */
        struct roost_buf view = {(uint8_t *)p, 0, n, n, 0};
        rc = c->handler->data(c->state, c, &view);
        if (roost_buf_size(&view) && !c->closing) {
            /* After a WebSocket upgrade the unread bytes are the handshake. */
            struct roost_buf *rest = c->upgrade_to && !c->opened ? &c->wsin : &c->in;
            int arc = roost_buf_append(rest, roost_buf_head(&view), roost_buf_size(&view));
            if (arc && !rc)
                rc = arc;
        }
        if (!rc && c->upgrade_to && !c->opened)
            rc = conn_finish_upgrade(c);
    } else if (!c->tls && !c->ws) {
        rc = roost_buf_append(&c->in, p, n);
        if (!rc)
            rc = conn_deliver(c);
    } else {
        rc = conn_process_input(c, p, n);
    }
    release_read_buf(l, buf);

    if (rc == ROOST_ECLOSED) {
        roost_conn_close(c, true);
    } else if (rc) {
        if (!c->closing) {
            c->close_rc = rc;
            roost_conn_close(c, true);
        }
    } else if (c->migrating && !c->closing) {
        uv_read_stop(s);
        roost_conn_flush(c);
    }
}

static void conn_start_read(struct roost_conn *c)
{
    int rc = uv_read_start((uv_stream_t *)c->tcp, on_alloc, on_read);
    if (rc)
        conn_do_close(c, rc);
}

int roost_conn_upgrade_websocket(struct roost_conn *c, const struct roost_conn_handler *h)
{
    if (c->ws || c->closing)
        return ROOST_EINVAL;
    int rc = net_ws_create(&c->ws);
    if (rc)
        return rc;
    /* The request bytes become the WebSocket layer's input; the old
     * protocol's state is closed now, the new one opens after the 101. */
    rc = roost_buf_append(&c->wsin, roost_buf_head(&c->in), roost_buf_size(&c->in));
    if (rc)
        return rc;
    roost_buf_clear(&c->in);
    if (c->handler->closed)
        c->handler->closed(c->state, 0);
    c->state = NULL;
    c->opened = false;
    c->upgrade_to = h;
    c->peer.transport = c->tls ? ROOST_TRANSPORT_WSS : ROOST_TRANSPORT_WS;
    return 0;
}

/* After an upgrade: run the buffered handshake through the WebSocket layer. */
static int conn_finish_upgrade(struct roost_conn *c)
{
    size_t used = 0;
    struct net_ws_request req;
    int rc = net_ws_feed(c->ws, roost_buf_head(&c->wsin), roost_buf_size(&c->wsin), &used, &c->in,
                         &c->wsout, &req);
    if (used)
        roost_buf_consume(&c->wsin, used);
    roost_conn_flush(c);
    if (rc)
        return rc;
    if (net_ws_state(c->ws) == NET_WS_OPEN) {
        const struct roost_conn_handler *h = c->upgrade_to;
        c->upgrade_to = NULL;
        c->handler = h;
        c->opened = true;
        c->state = h->open(h->ud, c);
        if (!c->state) {
            c->opened = false;
            return ROOST_EAUTH;
        }
        return conn_deliver(c);
    }
    return 0;
}

/* ==== Migration between loops =========================================== */

struct migration {
    struct roost_conn *conn;
    uv_os_sock_t fd;
};

static void conn_arrive(void *arg)
{
    struct migration *m = arg;
    struct roost_conn *c = m->conn;
    struct roost_loop *l = roost_loop_current();
    c->migrating = false;
    c->migrate_to = NULL;
    c->tcp = roost_xcalloc(1, sizeof(*c->tcp));
    uv_tcp_init(&l->uv, c->tcp);
    c->tcp->data = c;
    conn_link(l, c);
    int rc = uv_tcp_open(c->tcp, m->fd);
    roost_free(m);
    if (rc) {
        conn_do_close(c, rc);
        return;
    }
    if (c->handler->migrated)
        c->handler->migrated(c->state, c);
    if (c->closing)
        return;
    if (!c->paused)
        conn_start_read(c);
    rc = conn_deliver(c);
    if (rc)
        roost_conn_close(c, true);
    roost_conn_flush(c);
}

static void conn_maybe_migrate(struct roost_conn *c)
{
    if (!c->migrating || c->writing || c->closing)
        return;
    uv_os_fd_t fd;
    int rc = uv_fileno((uv_handle_t *)c->tcp, &fd);
    int dupfd = rc == 0 ? dup(fd) : -1;
    if (dupfd < 0) {
        conn_do_close(c, rc ? rc : -errno);
        return;
    }
    struct roost_loop *to = c->migrate_to;
    uv_read_stop((uv_stream_t *)c->tcp);
    c->tcp->data = NULL;
    uv_close((uv_handle_t *)c->tcp, on_tcp_closed);
    c->tcp = NULL;
    conn_unlink(c);
    struct migration *m = roost_xmalloc(sizeof(*m));
    m->conn = c;
    m->fd = dupfd;
    roost_loop_post(to, conn_arrive, m);
}

void roost_conn_migrate(struct roost_conn *c, struct roost_loop *to)
{
    if (to == c->loop || c->closing)
        return;
    c->migrating = true;
    c->migrate_to = to;
    roost_conn_flush(c);
}

/* ==== Accepting ========================================================== */

static void on_connection(uv_stream_t *server, int status)
{
    struct net_listener *lst = server->data;
    struct roost_loop *l = lst->loop;
    struct roost_net *net = l->net;
    if (status < 0 || l->stopping)
        return;
    struct roost_conn *c = roost_xcalloc(1, sizeof(*c));
    c->tcp = roost_xcalloc(1, sizeof(*c->tcp));
    uv_tcp_init(&l->uv, c->tcp);
    c->tcp->data = c;
    c->def = lst->def;
    c->created_ms = roost_now_ms();
    c->last_io_ms = uv_now(&l->uv);
    roost_buf_init(&c->in, net->cfg.max_input);
    roost_buf_init(&c->out, 0);
    roost_buf_init(&c->wsout, 0);
    roost_buf_init(&c->wire, 0);
    roost_buf_init(&c->wire_busy, 0);
    roost_buf_init(&c->wsin, net->cfg.max_input);
    conn_link(l, c);
    atomic_fetch_add(&net->open, 1);
    if (uv_accept(server, (uv_stream_t *)c->tcp) != 0) {
        conn_do_close(c, ROOST_ECLOSED);
        return;
    }
    atomic_fetch_add(&net->accepted, 1);
    uv_tcp_nodelay(c->tcp, 1);

    struct sockaddr_storage ss;
    int len = sizeof(ss);
    if (uv_tcp_getpeername(c->tcp, (struct sockaddr *)&ss, &len) == 0) {
        char ip[INET6_ADDRSTRLEN] = "?";
        int port = 0;
        if (ss.ss_family == AF_INET) {
            struct sockaddr_in *a = (struct sockaddr_in *)&ss;
            uv_ip4_name(a, ip, sizeof(ip));
            port = ntohs(a->sin_port);
        } else if (ss.ss_family == AF_INET6) {
            struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
            uv_ip6_name(a, ip, sizeof(ip));
            port = ntohs(a->sin6_port);
        }
        snprintf(c->peer.addr, sizeof(c->peer.addr), "%s:%d", ip, port);
    }
    c->peer.transport = c->def->cfg.tls ? (c->def->cfg.websocket ? ROOST_TRANSPORT_WSS
                                                                 : ROOST_TRANSPORT_TLS)
                                        : (c->def->cfg.websocket ? ROOST_TRANSPORT_WS
                                                                 : ROOST_TRANSPORT_TCP);
    int rc = 0;
    if (c->def->tls_ctx)
        rc = net_tls_create(c->def->tls_ctx, &c->tls);
    if (!rc && c->def->cfg.websocket)
        rc = net_ws_create(&c->ws);
    if (!rc && !c->tls && !c->ws)
        rc = conn_open_handler(c); /* plain TCP: the transport is ready now */
    if (rc) {
        conn_do_close(c, rc);
        return;
    }
    conn_start_read(c);
}

/* An idle connection keeps no empty buffers: at 10,000 idle devices the
 * few KiB each would otherwise hold add up to more than its TLS state. */
static void conn_trim_idle(struct roost_conn *c)
{
    struct roost_buf *bufs[] = {&c->in, &c->out, &c->wsout, &c->wire, &c->wsin};
    for (size_t i = 0; i < ROOST_ARRAY_LEN(bufs); i++)
        roost_buf_trim(bufs[i], 0);
    if (!c->writing)
        roost_buf_trim(&c->wire_busy, 0);
}

/* Handshake deadline for connections whose transport never opened, and the
 * idle trim for the others. */
static void on_sweep(uv_timer_t *t)
{
    struct roost_loop *l = t->data;
    uint64_t now = roost_now_ms();
    uint64_t loop_now = uv_now(&l->uv);
    uint32_t limit = l->net->cfg.handshake_timeout_ms;
    for (struct roost_conn *c = l->conns, *next; c; c = next) {
        next = c->next;
        if (c->opened && loop_now - c->last_io_ms > 1000)
            conn_trim_idle(c);
        if (c->opened && !c->closing && c->handler->idle_timeout_ms &&
            loop_now - c->last_io_ms > c->handler->idle_timeout_ms) {
            roost_log_debug("net", "%s: idle for %u ms, closing", c->peer.addr,
                            c->handler->idle_timeout_ms);
            conn_do_close(c, -ETIMEDOUT);
            continue;
        }
        if (!c->opened && !c->closing && limit && now - c->created_ms > limit) {
            roost_log_debug("net", "%s: handshake timeout", c->peer.addr);
            conn_do_close(c, -ETIMEDOUT);
        }
    }
}

static void on_tick(uv_timer_t *t)
{
    struct roost_loop *l = t->data;
    l->tick_fn(l->tick_ud);
}

/* ==== Loops and the net object =========================================== */

static int make_listen_socket(const char *bind_addr, uint16_t port, uv_os_sock_t *out_fd,
                              uint16_t *out_port)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    int family;
    if (!bind_addr || !*bind_addr || strcmp(bind_addr, "::") == 0) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        uv_ip6_addr("::", port, a);
        family = AF_INET6;
    } else if (strchr(bind_addr, ':')) {
        if (uv_ip6_addr(bind_addr, port, (struct sockaddr_in6 *)&ss))
            return ROOST_ECONFIG;
        family = AF_INET6;
    } else {
        if (uv_ip4_addr(bind_addr, port, (struct sockaddr_in *)&ss))
            return ROOST_ECONFIG;
        family = AF_INET;
    }
    int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int one = 1, zero = 0;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
    if (family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
    socklen_t slen = family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    if (bind(fd, (struct sockaddr *)&ss, slen) != 0) {
        int e = -errno;
        close(fd);
        return e;
    }
    struct sockaddr_storage got;
    socklen_t glen = sizeof(got);
    getsockname(fd, (struct sockaddr *)&got, &glen);
    *out_port = ntohs(family == AF_INET6 ? ((struct sockaddr_in6 *)&got)->sin6_port
                                         : ((struct sockaddr_in *)&got)->sin_port);
    *out_fd = fd;
    return 0;
}

int roost_net_create(const struct roost_net_config *cfg, struct roost_net **out_net)
{
    int rc = 0;
    struct roost_net *net = roost_xcalloc(1, sizeof(*net));
    net->cfg = *cfg;
    if (net->cfg.threads < 1)
        net->cfg.threads = 1;
    net->n_loops = net->cfg.threads;
    net->loops = roost_xcalloc(net->n_loops, sizeof(*net->loops));
    for (unsigned i = 0; i < net->n_loops; i++) {
        struct roost_loop *l = roost_xcalloc(1, sizeof(*l));
        net->loops[i] = l;
        l->net = net;
        l->index = i;
        uv_loop_init(&l->uv);
        pthread_mutex_init(&l->post_lock, NULL);
        uv_async_init(&l->uv, &l->wakeup, on_wakeup);
        l->wakeup.data = l;
        uv_prepare_init(&l->uv, &l->flusher);
        l->flusher.data = l;
        uv_prepare_start(&l->flusher, on_prepare);
        uv_check_init(&l->uv, &l->deferrer);
        l->deferrer.data = l;
        uv_check_start(&l->deferrer, on_check);
        uv_timer_init(&l->uv, &l->tick_timer);
        l->tick_timer.data = l;
        uv_timer_init(&l->uv, &l->sweep_timer);
        l->sweep_timer.data = l;
    }
    if (cfg->tls_cert_file) {
        const char *alpn_mqtt[] = {"x-amzn-mqtt-ca", "mqtt", NULL};
        struct net_tls_config tc = {
            .cert_file = cfg->tls_cert_file,
            .key_file = cfg->tls_key_file,
            .client_ca_file = cfg->client_ca_file,
            .require_client_cert = true,
            .alpn = alpn_mqtt,
            .verify = cfg->verify,
            .verify_ud = cfg->verify_ud,
        };
        rc = net_tls_ctx_create(&tc, &net->tls_ctx_mtls);
        if (rc)
            goto out;
        const char *alpn_https[] = {"x-amzn-mqtt-ca", "x-amzn-http-ca", "http/1.1", NULL};
        tc.require_client_cert = false;
        tc.alpn = alpn_https;
        rc = net_tls_ctx_create(&tc, &net->tls_ctx_plain);
        if (rc)
            goto out;
    }
out:
    if (rc) {
        roost_net_destroy(net);
        net = NULL;
    }
    *out_net = net;
    return rc;
}

int roost_net_add_trusted_ca(struct roost_net *net, const char *pem, size_t len)
{
    int rc = 0;
    if (net->tls_ctx_mtls)
        rc = net_tls_ctx_add_trusted(net->tls_ctx_mtls, pem, len);
    if (!rc && net->tls_ctx_plain)
        rc = net_tls_ctx_add_trusted(net->tls_ctx_plain, pem, len);
    return rc;
}

int roost_net_listen(struct roost_net *net, const struct roost_listener_config *lc,
                     uint16_t *out_port)
{
    if (net->n_defs == NET_MAX_LISTENERS || net->started)
        return ROOST_EINVAL;
    struct listener_def *def = &net->defs[net->n_defs];
    def->cfg = *lc;
    snprintf(def->name, sizeof(def->name), "%s", lc->name ? lc->name : "listener");
    def->cfg.name = def->name;
    if (lc->tls) {
        def->tls_ctx = lc->require_client_cert ? net->tls_ctx_mtls : net->tls_ctx_plain;
        if (!def->tls_ctx)
            return ROOST_ECONFIG;
    }
    uint16_t port = lc->port;
    for (unsigned i = 0; i < net->n_loops; i++) {
        struct roost_loop *l = net->loops[i];
        uv_os_sock_t fd;
        uint16_t bound;
        int rc = make_listen_socket(lc->bind, port, &fd, &bound);
        if (rc) {
            roost_log_error("net", "%s: cannot bind %s port %u: %s", def->name,
                            lc->bind ? lc->bind : "::", port, roost_strerror(rc));
            return rc;
        }
        port = bound;
        struct net_listener *lst = &l->listeners[l->n_listeners++];
        lst->loop = l;
        lst->def = def;
        uv_tcp_init(&l->uv, &lst->handle);
        lst->handle.data = lst;
        uv_tcp_open(&lst->handle, fd);
        rc = uv_listen((uv_stream_t *)&lst->handle, 1024, on_connection);
        if (rc)
            return rc;
    }
    net->n_defs++;
    *out_port = port;
    return 0;
}

static void loop_thread(void *arg)
{
    struct roost_loop *l = arg;
    current_loop = l;
    uv_run(&l->uv, UV_RUN_DEFAULT);
    current_loop = NULL;
}

int roost_net_start(struct roost_net *net)
{
    for (unsigned i = 0; i < net->n_loops; i++) {
        struct roost_loop *l = net->loops[i];
        uv_timer_start(&l->sweep_timer, on_sweep, 500, 500);
        if (l->tick_fn)
            uv_timer_start(&l->tick_timer, on_tick, l->tick_period_ms, l->tick_period_ms);
        int rc = uv_thread_create(&l->thread, loop_thread, l);
        if (rc)
            return rc;
    }
    net->started = true;
    return 0;
}

static void close_handle_quiet(uv_handle_t *h)
{
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

/* Runs on each loop: stop accepting and close every connection. */
static void loop_begin_stop(void *arg)
{
    struct roost_loop *l = arg;
    l->stopping = true;
    for (size_t i = 0; i < l->n_listeners; i++)
        close_handle_quiet((uv_handle_t *)&l->listeners[i].handle);
    for (struct roost_conn *c = l->conns, *next; c; c = next) {
        next = c->next;
        conn_do_close(c, ROOST_ECLOSED);
    }
}

static void loop_finish_stop(void *arg)
{
    struct roost_loop *l = arg;
    uv_timer_stop(&l->tick_timer);
    uv_timer_stop(&l->sweep_timer);
    close_handle_quiet((uv_handle_t *)&l->tick_timer);
    close_handle_quiet((uv_handle_t *)&l->sweep_timer);
    close_handle_quiet((uv_handle_t *)&l->flusher);
    close_handle_quiet((uv_handle_t *)&l->deferrer);
    close_handle_quiet((uv_handle_t *)&l->wakeup);
}

static void post_to_all(struct roost_net *net, void (*fn)(void *arg))
{
    for (unsigned i = 0; i < net->n_loops; i++)
        roost_loop_post(net->loops[i], fn, net->loops[i]);
}

/* Runs what other loops posted after a loop stopped, on the caller's thread
 * pretending to be that loop: the threads are joined, so nothing races. */
static void drain_posts(struct roost_net *net)
{
    bool more = true;
    while (more) {
        more = false;
        for (unsigned i = 0; i < net->n_loops; i++) {
            struct roost_loop *l = net->loops[i];
            if (!l->n_posts)
                continue;
            more = true;
            current_loop = l;
            on_wakeup(&l->wakeup);
            uv_run(&l->uv, UV_RUN_NOWAIT);
            current_loop = NULL;
        }
    }
}

void roost_net_stop(struct roost_net *net)
{
    if (!net->started)
        return;
    /* Close connections first: the handlers' `closed` callbacks run in the
     * close phase of the next iteration, before the loop's own handles go. */
    post_to_all(net, loop_begin_stop);
    post_to_all(net, loop_finish_stop);
    for (unsigned i = 0; i < net->n_loops; i++)
        uv_thread_join(&net->loops[i]->thread);
    drain_posts(net);
    net->started = false;
}

void roost_net_destroy(struct roost_net *net)
{
    if (!net)
        return;
    for (unsigned i = 0; i < net->n_loops; i++) {
        struct roost_loop *l = net->loops[i];
        if (!l)
            continue;
        /* Close anything still open (never started, or listeners). */
        for (size_t j = 0; j < l->n_listeners; j++)
            close_handle_quiet((uv_handle_t *)&l->listeners[j].handle);
        close_handle_quiet((uv_handle_t *)&l->tick_timer);
        close_handle_quiet((uv_handle_t *)&l->sweep_timer);
        close_handle_quiet((uv_handle_t *)&l->flusher);
        close_handle_quiet((uv_handle_t *)&l->deferrer);
        close_handle_quiet((uv_handle_t *)&l->wakeup);
        uv_run(&l->uv, UV_RUN_DEFAULT);
        roost_free(l->deferred);
        uv_loop_close(&l->uv);
        pthread_mutex_destroy(&l->post_lock);
        roost_free(l->posts);
        roost_free(l->running);
        roost_free(l);
    }
    net_tls_ctx_destroy(net->tls_ctx_mtls);
    net_tls_ctx_destroy(net->tls_ctx_plain);
    roost_free(net->loops);
    roost_free(net);
}

unsigned roost_net_loop_count(const struct roost_net *net) { return net->n_loops; }
struct roost_loop *roost_net_loop(struct roost_net *net, unsigned i) { return net->loops[i]; }
unsigned roost_loop_index(const struct roost_loop *l) { return l->index; }
struct roost_loop *roost_loop_current(void) { return current_loop; }
void roost_loop_set_user(struct roost_loop *l, void *user) { l->user = user; }
void *roost_loop_user(const struct roost_loop *l) { return l->user; }

void roost_loop_set_tick(struct roost_loop *l, uint32_t period_ms, void (*fn)(void *ud), void *ud)
{
    l->tick_fn = fn;
    l->tick_ud = ud;
    l->tick_period_ms = period_ms;
}

void roost_loop_set_before_flush(struct roost_loop *l, void (*fn)(void *ud), void *ud)
{
    l->before_flush_fn = fn;
    l->before_flush_ud = ud;
}

void roost_net_get_stats(const struct roost_net *net, struct roost_net_stats *out)
{
    out->accepted = atomic_load(&net->accepted);
    out->open = atomic_load(&net->open);
    out->handshakes_ok = atomic_load(&net->hs_ok);
    out->handshakes_failed = atomic_load(&net->hs_failed);
    out->bytes_in = atomic_load(&net->bytes_in);
    out->bytes_out = atomic_load(&net->bytes_out);
}
