/*
 * pubsub.c - roost-bench's publish/subscribe load: P publishers and S
 * subscribers, either in pairs (publisher i -> <prefix>/i -> subscriber i)
 * or all on one topic (fan-out 1->S, or an N->N mesh with P=S=N).
 *
 * Every payload starts with its send time (CLOCK_MONOTONIC ns), then the
 * publisher's index and a per-publisher sequence number, so subscribers
 * measure latency and spot duplicates without any per-message state. The run
 * is: connect and subscribe everyone (all SUBACKs in), connect publishers,
 * publish for --duration (flat out, or --rate per publisher; QoS 1/2 keep at
 * most --inflight unacknowledged), then drain for up to --drain seconds.
 */
#include "bench.h"

#include <math.h>
#include <stdio.h>

#define KIND_PUB 1
#define KIND_SUB 2
#define OUT_HIGH (64u * 1024u) /* flat out: refill the output buffer up to this */
#define BATCH_MAX 1024u        /* at most this many PUBLISHes per publisher per pass */
#define SETUP_TIMEOUT_NS (120ull * 1000000000u)  /* all connections */
#define CONNECT_TIMEOUT_NS (30ull * 1000000000u) /* one connection's setup */
#define DRAIN_IDLE_NS (1000ull * 1000000u) /* drain ends after this long without progress */
#define TRACK_MAX_PAIRS (4u << 20)         /* sequence trackers, 16 bytes each */
#define HDR_LEN 20                         /* ts(8) publisher(4) seq(8) */

struct pub {
    struct bench_conn c;      /* must stay first */
    char cid[48];             /* client id */
    char topic[128];          /* where it publishes */
    size_t topic_len;
    uint64_t seq;             /* next sequence number */
    uint64_t sent;            /* PUBLISH packets encoded */
    unsigned inflight;        /* QoS 1/2 packets not yet acknowledged */
    uint16_t next_pid;        /* where the packet id search starts */
    uint64_t *pids;           /* bitmap of ids in use (QoS 1/2) */
    unsigned fanout;          /* subscribers that get each of its messages */
};

struct sub {
    struct bench_conn c;      /* must stay first */
    char cid[48];             /* client id */
    char filter[128];         /* what it subscribes to */
    struct bench_seq *seqs;   /* one per publisher it hears (NULL: no tracking) */
    unsigned n_seqs;
};

struct pubsub {
    const struct bench_opts *o;
    struct bench_loop *l;
    struct pub *pubs;
    struct sub *subs;
    struct bench_conn **all;     /* pubs then subs, for keepalive and disconnect */
    bool fanout;                 /* all on one topic */
    bool track;                  /* payloads carry publisher and sequence */
    uint8_t *payload;            /* template, HDR_LEN bytes patched per message */
    uint64_t t0, t_end;          /* the publishing window, ns */
    bool publishing;
    uint64_t received;           /* unique deliveries */
    uint64_t received_window;    /* ... that arrived inside the window */
    uint64_t duplicates;
    uint64_t protocol_errors;    /* unknown acks, messages where none belong */
    uint64_t last_progress;      /* ns of the last delivery or ack */
    unsigned ready;              /* connections that reached BC_READY */
    unsigned failed;             /* connections that failed during setup */
    struct bench_hist *lat;
};

static void proto_error(struct pubsub *ps, const char *what)
{
    if (ps->protocol_errors++ < 5)
        fprintf(stderr, "roost-bench: %s\n", what);
}

static uint16_t pid_alloc(struct pub *p)
{
    for (;;) {
        uint16_t id = p->next_pid++;
        if (p->next_pid == 0)
            p->next_pid = 1;
        if (id == 0)
            continue;
        uint64_t bit = 1ull << (id & 63);
        if (p->pids[id >> 6] & bit)
            continue;
        p->pids[id >> 6] |= bit;
        return id;
    }
}

static bool pid_free(struct pub *p, uint16_t id)
{
    uint64_t bit = 1ull << (id & 63);
    if (!(p->pids[id >> 6] & bit))
        return false;
    p->pids[id >> 6] &= ~bit;
    p->inflight--;
    return true;
}

static unsigned pub_window(const struct pubsub *ps, const struct pub *p)
{
    if (ps->o->qos == 0)
        return UINT32_MAX;
    unsigned w = ROOST_MIN(ps->o->inflight, (unsigned)p->c.recv_max);
    return w > p->inflight ? w - p->inflight : 0;
}

static void send_ack(struct pubsub *ps, struct bench_conn *c, enum roost_mqtt_type type,
                     uint16_t id)
{
    struct roost_mqtt_ack a;
    memset(&a, 0, sizeof(a));
    a.packet_id = id;
    int rc = roost_mqtt_encode_ack(&c->out, ps->o->version, type, &a);
    if (rc) {
        bench__conn_close(ps->l, c, rc);
        return;
    }
    bench__conn_dirty(ps->l, c);
}

/* Encodes up to n messages; returns how many. */
static uint64_t pub_send(struct pubsub *ps, struct pub *p, uint64_t n, bool flat_out)
{
    const struct bench_opts *o = ps->o;
    struct roost_mqtt_publish m;
    uint32_t idx = p->c.idx;
    uint64_t done = 0;
    memset(&m, 0, sizeof(m));
    m.qos = o->qos;
    m.topic = (struct roost_str){p->topic, p->topic_len};
    m.payload = (struct roost_str){(const char *)ps->payload, o->payload};
    uint64_t now = bench__now_ns();
    while (done < n) {
        if (flat_out && roost_buf_size(&p->c.out) >= OUT_HIGH)
            break;
        memcpy(ps->payload, &now, 8);
        if (ps->track) {
            memcpy(ps->payload + 8, &idx, 4);
            memcpy(ps->payload + 12, &p->seq, 8);
        }
        m.packet_id = o->qos ? pid_alloc(p) : 0;
        int rc = roost_mqtt_encode_publish(&p->c.out, o->version, &m);
        if (rc) {
            bench__conn_close(ps->l, &p->c, rc);
            break;
        }
        p->seq++;
        p->sent++;
        if (o->qos)
            p->inflight++;
        done++;
    }
    if (done)
        bench__conn_dirty(ps->l, &p->c);
    return done;
}

/* One pass over the publishers: encode what is due, write it, and return the
 * ns until one of them can send again (0 = at once). The write happens here,
 * not at the start of the next poll, so a publisher whose socket took
 * everything is refilled at once instead of after a sleep. */
static uint64_t pump(struct pubsub *ps, uint64_t now)
{
    const struct bench_opts *o = ps->o;
    double per_msg_ns = o->rate > 0 ? 1e9 / o->rate : 0;
    uint64_t total = o->rate > 0 ? (uint64_t)floor(o->duration * o->rate) : UINT64_MAX;
    for (unsigned i = 0; i < o->pubs; i++) {
        struct pub *p = &ps->pubs[i];
        if (p->c.state != BC_READY)
            continue;
        uint64_t win = pub_window(ps, p);
        if (win == 0)
            continue; /* an ack will wake us */
        if (o->rate <= 0) {
            pub_send(ps, p, ROOST_MIN(win, (uint64_t)BATCH_MAX), true);
            continue;
        }
        uint64_t target = (uint64_t)((double)(now - ps->t0) / per_msg_ns) + 1;
        if (target > total)
            target = total;
        if (target > p->sent)
            pub_send(ps, p, ROOST_MIN(ROOST_MIN(target - p->sent, win), (uint64_t)BATCH_MAX),
                     false);
    }
    bench__loop_flush(ps->l);

    uint64_t wait = 100000000u; /* 100 ms; events wake us sooner */
    for (unsigned i = 0; i < o->pubs && wait > 0; i++) {
        struct pub *p = &ps->pubs[i];
        if (p->c.state != BC_READY || pub_window(ps, p) == 0)
            continue;
        if (o->rate <= 0) {
            /* Room left after the write: go again. A full buffer means the
             * socket pushed back; EPOLLOUT wakes us. */
            if (roost_buf_size(&p->c.out) < OUT_HIGH)
                wait = 0;
            continue;
        }
        if (p->sent >= total)
            continue;
        uint64_t due = ps->t0 + (uint64_t)((double)p->sent * per_msg_ns);
        uint64_t w = due > now ? due - now : 0;
        if (w < wait)
            wait = w;
    }
    return wait;
}

static void deliver(struct pubsub *ps, struct sub *s, const struct roost_mqtt_publish *m)
{
    uint64_t now = ps->l->now;
    if (ps->track && m->payload.n >= HDR_LEN && s->seqs) {
        uint32_t pidx;
        uint64_t seq;
        memcpy(&pidx, m->payload.p + 8, 4);
        memcpy(&seq, m->payload.p + 12, 8);
        unsigned slot = ps->fanout ? pidx : 0;
        if (pidx >= ps->o->pubs || slot >= s->n_seqs || (!ps->fanout && pidx != s->c.idx)) {
            proto_error(ps, "a message from a publisher this subscriber does not follow");
        } else if (bench__seq_record(&s->seqs[slot], seq)) {
            ps->duplicates++;
            return;
        }
    }
    if (m->payload.n >= 8) {
        uint64_t ts;
        memcpy(&ts, m->payload.p, 8);
        bench__hist_add(ps->lat, now > ts ? now - ts : 0);
    }
    ps->received++;
    if (now <= ps->t_end)
        ps->received_window++;
    ps->last_progress = now;
}

static void on_packet(struct bench_loop *l, struct bench_conn *c, const struct roost_mqtt_packet *p)
{
    struct pubsub *ps = l->ud;
    if (c->kind == KIND_SUB) {
        struct sub *s = (struct sub *)c;
        switch (p->type) {
        case ROOST_MQTT_PUBLISH:
            deliver(ps, s, &p->u.publish);
            if (p->u.publish.qos == 1)
                send_ack(ps, c, ROOST_MQTT_PUBACK, p->u.publish.packet_id);
            else if (p->u.publish.qos == 2)
                send_ack(ps, c, ROOST_MQTT_PUBREC, p->u.publish.packet_id);
            return;
        case ROOST_MQTT_PUBREL:
            send_ack(ps, c, ROOST_MQTT_PUBCOMP, p->u.ack.packet_id);
            return;
        default:
            proto_error(ps, "unexpected packet to a subscriber");
            return;
        }
    }
    struct pub *pb = (struct pub *)c;
    switch (p->type) {
    case ROOST_MQTT_PUBACK:
    case ROOST_MQTT_PUBCOMP:
        if (!pid_free(pb, p->u.ack.packet_id))
            proto_error(ps, "acknowledgement for a packet id not in flight");
        if (p->u.ack.reason >= 0x80)
            proto_error(ps, "PUBLISH refused by the broker");
        ps->last_progress = l->now;
        return;
    case ROOST_MQTT_PUBREC:
        if (p->u.ack.reason >= 0x80) {
            proto_error(ps, "PUBLISH refused by the broker");
            pid_free(pb, p->u.ack.packet_id);
            return;
        }
        send_ack(ps, c, ROOST_MQTT_PUBREL, p->u.ack.packet_id);
        ps->last_progress = l->now;
        return;
    default:
        proto_error(ps, "unexpected packet to a publisher");
        return;
    }
}

static void on_ready(struct bench_loop *l, struct bench_conn *c)
{
    struct pubsub *ps = l->ud;
    ps->ready++;
}

static void on_close(struct bench_loop *l, struct bench_conn *c, int rc)
{
    struct pubsub *ps = l->ud;
    if (rc < 0 && !ps->publishing && ps->t_end == 0)
        ps->failed++;
}

/* Starts connections from conns[*next..n) while fewer than --concurrency
 * are in setup, and waits until all of them are ready or failed. */
static int connect_all(struct pubsub *ps, struct bench_conn **conns, unsigned n)
{
    struct bench_loop *l = ps->l;
    unsigned next = 0;
    unsigned target = ps->ready + n;
    uint64_t deadline = bench__now_ns() + SETUP_TIMEOUT_NS;
    while (ps->ready + ps->failed < target) {
        while (next < n && l->connecting < ps->o->concurrency)
            bench__conn_start(l, conns[next++]);
        if (ps->failed)
            return ROOST_ECLOSED;
        if (bench__loop_poll(l, 100000000u) < 0)
            return -EINTR;
        bench__loop_expire(l, conns, next, CONNECT_TIMEOUT_NS);
        if (bench__now_ns() > deadline) {
            fprintf(stderr, "roost-bench: setup timed out (%u of %u ready)\n", ps->ready, target);
            return -ETIMEDOUT;
        }
    }
    return ps->failed ? ROOST_ECLOSED : 0;
}

static uint64_t expected_count(const struct pubsub *ps)
{
    uint64_t e = 0;
    for (unsigned i = 0; i < ps->o->pubs; i++)
        e += ps->pubs[i].sent * ps->pubs[i].fanout;
    return e;
}

static unsigned inflight_total(const struct pubsub *ps)
{
    unsigned n = 0;
    for (unsigned i = 0; i < ps->o->pubs; i++)
        if (ps->pubs[i].c.state == BC_READY)
            n += ps->pubs[i].inflight;
    return n;
}

int bench__run_pubsub(const struct bench_opts *o, volatile sig_atomic_t *stop,
                      struct bench_result *out)
{
    struct bench_loop loop;
    struct pubsub ps;
    int rc;
    unsigned n_all = o->pubs + o->subs;
    memset(&ps, 0, sizeof(ps));
    ps.o = o;
    ps.l = &loop;
    ps.lat = &out->lat;
    out->mode = "pubsub";

    rc = bench__loop_init(&loop, o);
    if (rc)
        goto out;
    loop.stop = stop;
    loop.ud = &ps;
    loop.hooks.on_ready = on_ready;
    loop.hooks.on_packet = on_packet;
    loop.hooks.on_close = on_close;

    ps.fanout = o->layout == BENCH_LAYOUT_FANOUT;
    ps.track = o->payload >= HDR_LEN && (uint64_t)o->pubs * o->subs <= TRACK_MAX_PAIRS;
    ps.payload = roost_xcalloc(1, o->payload);
    for (size_t i = HDR_LEN; i < o->payload; i++)
        ps.payload[i] = (uint8_t)('a' + i % 26);
    ps.pubs = roost_xcalloc(o->pubs ? o->pubs : 1, sizeof(*ps.pubs));
    ps.subs = roost_xcalloc(o->subs ? o->subs : 1, sizeof(*ps.subs));
    ps.all = roost_xcalloc(n_all ? n_all : 1, sizeof(*ps.all));

    /* A short random tag keeps client ids unique across concurrent runs. */
    uint32_t tag = 0;
    roost_random_bytes(&tag, sizeof(tag));
    for (unsigned i = 0; i < o->subs; i++) {
        struct sub *s = &ps.subs[i];
        s->c.kind = KIND_SUB;
        s->c.idx = i;
        s->c.fd = -1;
        snprintf(s->cid, sizeof(s->cid), "rb%08x-s%u", tag, i);
        if (o->layout == BENCH_LAYOUT_THINGS) /* the publisher's own topic */
            snprintf(s->filter, sizeof(s->filter), "things/rb%08x-p%u/%.80s/%u", tag, i,
                     o->topic_prefix, i);
        else
            snprintf(s->filter, sizeof(s->filter), "%s/%u", o->topic_prefix, ps.fanout ? 0 : i);
        s->c.client_id = s->cid;
        s->c.sub_filter = s->filter;
        if (ps.track) {
            s->n_seqs = ps.fanout ? o->pubs : 1;
            s->seqs = roost_xcalloc(s->n_seqs, sizeof(*s->seqs));
        }
        ps.all[o->pubs + i] = &s->c;
    }
    for (unsigned i = 0; i < o->pubs; i++) {
        struct pub *p = &ps.pubs[i];
        p->c.kind = KIND_PUB;
        p->c.idx = i;
        p->c.fd = -1;
        snprintf(p->cid, sizeof(p->cid), "rb%08x-p%u", tag, i);
        int tl = o->layout == BENCH_LAYOUT_THINGS
                     ? snprintf(p->topic, sizeof(p->topic), "things/%s/%.80s/%u", p->cid,
                                o->topic_prefix, i)
                     : snprintf(p->topic, sizeof(p->topic), "%s/%u", o->topic_prefix,
                                ps.fanout ? 0 : i);
        p->topic_len = (size_t)tl;
        p->c.client_id = p->cid;
        p->next_pid = 1;
        if (o->qos)
            p->pids = roost_xcalloc(1024, sizeof(uint64_t));
        p->fanout = ps.fanout ? o->subs : (i < o->subs ? 1 : 0);
        ps.all[i] = &p->c;
    }

    uint64_t t_setup = bench__now_ns();
    rc = connect_all(&ps, ps.all + o->pubs, o->subs);
    if (rc == 0)
        rc = connect_all(&ps, ps.all, o->pubs);
    if (rc) {
        if (rc != -EINTR)
            fprintf(stderr, "roost-bench: setup failed: %u of %u connections ready\n", ps.ready,
                    n_all);
        goto done;
    }
    if (!o->quiet)
        fprintf(stderr, "roost-bench: %u subscribers and %u publishers ready in %.2f s\n",
                o->subs, o->pubs, (double)(bench__now_ns() - t_setup) / 1e9);

    ps.t0 = bench__now_ns();
    ps.t_end = ps.t0 + (uint64_t)(o->duration * 1e9);
    ps.publishing = true;
    uint64_t now = ps.t0;
    uint64_t next_keepalive = now + 1000000000u;
    while (now < ps.t_end) {
        uint64_t wait = pump(&ps, now);
        if (wait > ps.t_end - now)
            wait = ps.t_end - now;
        if (bench__loop_poll(&loop, wait) < 0) {
            ps.t_end = bench__now_ns(); /* stopped early: the window ends here */
            break;
        }
        now = loop.now;
        if (now >= next_keepalive) {
            bench__loop_keepalive(&loop, ps.all, n_all);
            next_keepalive = now + 1000000000u;
        }
    }
    ps.publishing = false;
    /* A first SIGINT/SIGTERM only ends the window early: the drain still
     * runs, so what was in flight is not reported lost. A second one ends
     * the drain too. */
    *stop = 0;

    /* Drain: until everything expected arrived and every publish is acked,
     * nothing moved for DRAIN_IDLE_NS, or --drain ran out. */
    ps.last_progress = bench__now_ns();
    uint64_t drain_end = ps.last_progress + (uint64_t)(o->drain * 1e9);
    uint64_t drain_start = ps.last_progress;
    const char *why = "complete";
    for (;;) {
        now = bench__now_ns();
        if (ps.received >= expected_count(&ps) && inflight_total(&ps) == 0)
            break;
        why = now >= drain_end ? "--drain ran out" : "nothing moved for 1 s";
        if (now >= drain_end || now - ps.last_progress >= DRAIN_IDLE_NS)
            break;
        why = "stopped";
        if (bench__loop_poll(&loop, 20000000u) < 0)
            break;
        why = "complete";
    }
    if (!o->quiet)
        fprintf(stderr, "roost-bench: drain %s after %.2f s (%llu of %llu delivered, %u unacked)\n",
                why, (double)(bench__now_ns() - drain_start) / 1e9,
                (unsigned long long)ps.received, (unsigned long long)expected_count(&ps),
                inflight_total(&ps));
    rc = 0;

done:
    out->elapsed_s = ps.t_end > ps.t0 ? (double)(ps.t_end - ps.t0) / 1e9 : 0;
    for (unsigned i = 0; i < o->pubs; i++)
        out->sent += ps.pubs[i].sent;
    out->expected = expected_count(&ps);
    out->received = ps.received;
    out->duplicates = ps.duplicates;
    out->lost = out->expected > out->received ? out->expected - out->received : 0;
    out->msgs_per_s = out->elapsed_s > 0 ? (double)ps.received_window / out->elapsed_s : 0;
    bench__loop_disconnect_all(&loop, ps.all, n_all);
    out->errors = loop.errors + ps.protocol_errors;
out:
    bench__loop_cleanup(&loop);
    for (unsigned i = 0; ps.pubs && i < o->pubs; i++)
        roost_free(ps.pubs[i].pids);
    for (unsigned i = 0; ps.subs && i < o->subs; i++)
        roost_free(ps.subs[i].seqs);
    roost_free(ps.pubs);
    roost_free(ps.subs);
    roost_free(ps.all);
    roost_free(ps.payload);
    return rc;
}
