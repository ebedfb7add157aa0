/*
 * storm.c - roost-bench's connection loads. `connect`: open --connections
 * connections as fast as possible, at most --concurrency in setup at once,
 * each one closed (DISCONNECT) as soon as its CONNACK arrives; reports
 * connects/s and the latency from connect() to CONNACK (TLS handshake
 * included). `idle`: open them the same way but keep them, print a line
 * "ready <ok> <failed>" and hold them (keepalive pings only) for --hold
 * seconds or until SIGTERM, so a script can read the broker's memory.
 */
#include "bench.h"

#include <stdio.h>

#define SETUP_TIMEOUT_NS (600ull * 1000000000u)  /* the whole storm */
#define CONNECT_TIMEOUT_NS (30ull * 1000000000u) /* one connection's setup */

struct storm {
    const struct bench_opts *o;
    struct bench_conn *conns;    /* connect: --concurrency slots; idle: all */
    struct bench_conn **ptrs;    /* the same, as pointers */
    char (*cids)[40];            /* client id per slot */
    unsigned n;                  /* slots */
    bool keep;                   /* idle: keep connections after CONNACK */
    uint64_t done;               /* connections that got their CONNACK */
    uint64_t failed;             /* connections that failed in setup */
    struct bench_hist *lat;      /* connect latency, ns */
};

static void on_ready(struct bench_loop *l, struct bench_conn *c)
{
    struct storm *st = l->ud;
    st->done++;
    bench__hist_add(st->lat, l->now - c->t_start);
    if (st->keep)
        return;
    struct roost_mqtt_disconnect d;
    memset(&d, 0, sizeof(d));
    if (roost_mqtt_encode_disconnect(&c->out, l->o->version, &d) == 0)
        bench__conn_flush(l, c);
    bench__conn_close(l, c, 0);
}

static void on_close(struct bench_loop *l, struct bench_conn *c, int rc)
{
    struct storm *st = l->ud;
    if (rc < 0 && (!st->keep || st->done + st->failed < st->o->connections))
        st->failed++;
}

static void on_packet(struct bench_loop *l, struct bench_conn *c,
                      const struct roost_mqtt_packet *p)
{
    ROOST_UNUSED(p);
    /* Nothing is subscribed: anything but a PINGRESP is a broker bug. */
    bench__conn_close(l, c, ROOST_EPROTO);
}

static int run(const struct bench_opts *o, volatile sig_atomic_t *stop, struct bench_result *out,
               bool keep)
{
    struct bench_loop loop;
    struct storm st;
    int rc;
    memset(&st, 0, sizeof(st));
    st.o = o;
    st.keep = keep;
    st.lat = &out->lat;
    st.n = keep ? o->connections : ROOST_MIN(o->connections, o->concurrency);
    out->mode = keep ? "idle" : "connect";

    rc = bench__loop_init(&loop, o);
    if (rc)
        goto out;
    loop.stop = stop;
    loop.ud = &st;
    loop.hooks.on_ready = on_ready;
    loop.hooks.on_packet = on_packet;
    loop.hooks.on_close = on_close;
    st.conns = roost_xcalloc(st.n ? st.n : 1, sizeof(*st.conns));
    st.ptrs = roost_xcalloc(st.n ? st.n : 1, sizeof(*st.ptrs));
    st.cids = roost_xcalloc(st.n ? st.n : 1, sizeof(*st.cids));
    for (unsigned i = 0; i < st.n; i++) {
        st.conns[i].fd = -1;
        st.conns[i].idx = i;
        st.conns[i].client_id = st.cids[i];
        st.ptrs[i] = &st.conns[i];
    }

    uint32_t tag = 0;
    roost_random_bytes(&tag, sizeof(tag));
    uint64_t started = 0;
    unsigned scan = 0;
    uint64_t t0 = bench__now_ns();
    uint64_t deadline = t0 + SETUP_TIMEOUT_NS;
    bool stopped = false;
    uint64_t next_expire = t0 + 1000000000u;
    while (st.done + st.failed < o->connections) {
        /* Refill free slots; a slot is free once its connection closed. */
        for (unsigned k = 0; k < st.n && started < o->connections &&
                             loop.connecting < o->concurrency;
             k++) {
            struct bench_conn *c = &st.conns[scan];
            scan = (scan + 1) % st.n;
            if (c->state != BC_NEW && c->state != BC_CLOSED)
                continue;
            if (keep && c->state == BC_CLOSED)
                continue; /* idle: a dead slot stays dead */
            snprintf(st.cids[c->idx], sizeof(st.cids[0]), "rb%08x-c%llu", tag,
                     (unsigned long long)started);
            bench__conn_start(&loop, c);
            started++;
        }
        if (bench__loop_poll(&loop, 100000000u) < 0) {
            stopped = true;
            break;
        }
        if (loop.now >= next_expire) {
            bench__loop_expire(&loop, st.ptrs, st.n, CONNECT_TIMEOUT_NS);
            next_expire = loop.now + 1000000000u;
        }
        if (loop.now > deadline) {
            fprintf(stderr, "roost-bench: connections timed out (%llu done, %llu failed)\n",
                    (unsigned long long)st.done, (unsigned long long)st.failed);
            break;
        }
    }
    uint64_t t1 = bench__now_ns();
    out->elapsed_s = (double)(t1 - t0) / 1e9;
    out->connections = st.done;
    out->connects_per_s = out->elapsed_s > 0 ? (double)st.done / out->elapsed_s : 0;

    if (keep && !stopped) {
        printf("ready %llu %llu\n", (unsigned long long)st.done, (unsigned long long)st.failed);
        fflush(stdout);
        uint64_t hold_end = o->hold > 0 ? t1 + (uint64_t)(o->hold * 1e9) : UINT64_MAX;
        uint64_t now = t1;
        while (now < hold_end) {
            uint64_t wait = ROOST_MIN(hold_end - now, 1000000000ull);
            if (bench__loop_poll(&loop, wait) < 0)
                break;
            now = loop.now;
            bench__loop_keepalive(&loop, st.ptrs, st.n);
        }
        /* Connections the broker dropped while idle. */
        uint64_t open = 0;
        for (unsigned i = 0; i < st.n; i++)
            open += st.conns[i].state == BC_READY;
        if (!o->quiet)
            fprintf(stderr, "roost-bench: %llu of %llu connections still open\n",
                    (unsigned long long)open, (unsigned long long)st.done);
    }
    bench__loop_disconnect_all(&loop, st.ptrs, st.n);
    out->errors = loop.errors;
out:
    bench__loop_cleanup(&loop);
    roost_free(st.conns);
    roost_free(st.ptrs);
    roost_free(st.cids);
    return rc;
}

int bench__run_connect(const struct bench_opts *o, volatile sig_atomic_t *stop,
                       struct bench_result *out)
{
    return run(o, stop, out, false);
}

int bench__run_idle(const struct bench_opts *o, volatile sig_atomic_t *stop,
                    struct bench_result *out)
{
    return run(o, stop, out, true);
}
