/*
 * shadow.c - roost-bench's device-shadow load (roostd only: other brokers
 * have no shadows). T things, each with its own device connection (client id
 * = thing name) subscribed to its /update/accepted, /update/rejected and
 * /update/delta; devices publish reported-state updates (about ten leaves)
 * at a total --rate, or flat out within a per-device window; one or more app
 * connections set desired state on random things, one app update per
 * 1/--desired-fraction device updates.
 *
 * Every update carries a unique clientToken: "<seq>" from a device (its
 * window slot gives the send time), "a<n>" from an app (an entry in the
 * app-update table). The device of the thing sees every answer on its
 * topics, the app's too, so all accounting happens there: each token must
 * get exactly one accepted or rejected, and each accepted app update exactly
 * one delta carrying its token (the app sets a fresh "target" value the
 * device has never reported; the device adopts it in its next reports, so
 * the delta stops). Latency: device update -> its /accepted, and app update
 * -> /update/delta on the device.
 */
#include "bench.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#define KIND_DEV 1
#define KIND_APP 2
#define SHADOW_MAX_INFLIGHT 10u  /* roostd's (and AWS's) per-client quota */
#define RING 64u                 /* > SHADOW_MAX_INFLIGHT, a power of two */
#define SUB_PID 2                /* our own SUBSCRIBE (the loop's uses 1) */
#define SETUP_TIMEOUT_NS (120ull * 1000000000u)
#define CONNECT_TIMEOUT_NS (30ull * 1000000000u)
#define DRAIN_IDLE_NS (1000ull * 1000000u)

struct slot {
    uint64_t seq;   /* the update's sequence */
    uint64_t t;     /* ns when it was encoded */
    bool out;       /* waiting for its answer */
};

struct dev {
    struct bench_conn c;      /* must stay first */
    char cid[64];             /* client id = thing name */
    char topic[128];          /* $aws/things/<t>/shadow/update */
    size_t topic_len;
    uint64_t seq;             /* next sequence */
    unsigned inflight;        /* updates without an answer */
    uint64_t target;          /* the desired "target" last adopted (0 = none) */
    bool subscribed;          /* SUBACK for the three answer topics arrived */
    struct slot ring[RING];
};

struct app {
    struct bench_conn c;      /* must stay first */
    char cid[64];
    unsigned inflight;        /* app updates without an answer */
};

struct app_upd {
    uint64_t t;               /* ns when it was encoded */
    uint32_t thing;           /* which device */
    uint16_t app;             /* which app connection sent it */
    bool answered;
    bool accepted;
    bool delta;
};

struct shadow {
    const struct bench_opts *o;
    struct bench_loop *l;
    struct bench_result *r;
    struct dev *devs;
    struct app *apps;
    struct bench_conn **all;
    unsigned n_all;
    unsigned window;              /* per-device window */
    uint32_t tag;                 /* keeps thing names unique across runs */
    uint64_t t0, t_end;
    bool publishing;
    uint64_t dev_sent;            /* device updates encoded */
    uint64_t dev_sent_window;     /* ... of which inside the window */
    uint64_t answered;            /* device updates answered */
    uint64_t accepted_window;     /* accepts (any update) inside the window */
    struct app_upd *upd;          /* app updates, indexed by n of "a<n>" */
    uint64_t n_upd, cap_upd;
    uint64_t app_answered;
    unsigned next_app;            /* round-robin */
    unsigned cursor;              /* rate mode: next device to send */
    uint64_t rng;                 /* xorshift state for the app's thing choice */
    uint64_t protocol_errors;
    uint64_t duplicates;          /* answers for tokens not outstanding */
    uint64_t skips;               /* rate mode: devices passed over, window full */
    uint64_t last_progress;
    unsigned ready, failed, subscribed;
    uint16_t pid;                 /* QoS 1 packet ids (the window keeps them unique) */
};

static void proto_error(struct shadow *sh, const char *what)
{
    if (sh->protocol_errors++ < 5)
        fprintf(stderr, "roost-bench: %s\n", what);
}

static uint16_t next_pid(struct shadow *sh)
{
    if (++sh->pid == 0)
        sh->pid = 1;
    return sh->pid;
}

static int publish(struct shadow *sh, struct bench_conn *c, const char *topic, size_t topic_len,
                   const char *payload, size_t n)
{
    struct roost_mqtt_publish m;
    memset(&m, 0, sizeof(m));
    m.qos = sh->o->qos;
    m.packet_id = m.qos ? next_pid(sh) : 0;
    m.topic = (struct roost_str){topic, topic_len};
    m.payload = (struct roost_str){payload, n};
    int rc = roost_mqtt_encode_publish(&c->out, sh->o->version, &m);
    if (rc) {
        bench__conn_close(sh->l, c, rc);
        return rc;
    }
    bench__conn_dirty(sh->l, c);
    return 0;
}

/* One reported-state update: ten leaves, some of them changing every time. */
static bool dev_send(struct shadow *sh, struct dev *d)
{
    char buf[512];
    if (d->c.state != BC_READY || !d->subscribed || d->inflight >= sh->window)
        return false;
    uint64_t s = d->seq;
    int n = snprintf(buf, sizeof(buf),
                     "{\"state\":{\"reported\":{\"temp\":%u.%u,\"hum\":%u,\"bat\":%u,"
                     "\"rssi\":-%u,\"fw\":\"1.4.2\",\"uptime\":%llu,\"led\":\"%s\","
                     "\"mode\":\"auto\",\"lat\":52.52,\"target\":%llu}},"
                     "\"clientToken\":\"%llu\"}",
                     (unsigned)(18 + s % 7), (unsigned)(s % 10), (unsigned)(35 + s % 20),
                     (unsigned)(100 - s % 50), (unsigned)(50 + s % 30), (unsigned long long)s,
                     s & 1 ? "on" : "off", (unsigned long long)d->target,
                     (unsigned long long)s);
    struct slot *sl = &d->ring[s & (RING - 1)];
    if (sl->out)
        return false; /* an old update is still unanswered (429s are not ordered): wait */
    if (publish(sh, &d->c, d->topic, d->topic_len, buf, (size_t)n))
        return false;
    sl->seq = s;
    sl->t = bench__now_ns();
    sl->out = true;
    d->seq++;
    d->inflight++;
    sh->dev_sent++;
    if (sh->publishing)
        sh->dev_sent_window++;
    return true;
}

static uint64_t rng_next(struct shadow *sh)
{
    uint64_t x = sh->rng;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    sh->rng = x;
    return x;
}

/* Sends app updates until they are floor(device updates x fraction) or every
 * app's window is full. */
static void app_fill(struct shadow *sh)
{
    const struct bench_opts *o = sh->o;
    if (!sh->publishing || o->apps == 0 || o->desired_fraction <= 0)
        return;
    uint64_t due = (uint64_t)floor((double)sh->dev_sent * o->desired_fraction);
    while (sh->n_upd < due) {
        struct app *a = NULL;
        for (unsigned k = 0; k < o->apps; k++) {
            struct app *c = &sh->apps[(sh->next_app + k) % o->apps];
            if (c->c.state == BC_READY && c->inflight < sh->window) {
                a = c;
                sh->next_app = (sh->next_app + k + 1) % o->apps;
                break;
            }
        }
        if (!a)
            return; /* an answer will make room */
        if (sh->n_upd == sh->cap_upd) {
            sh->cap_upd = sh->cap_upd ? sh->cap_upd * 2 : 1024;
            sh->upd = roost_xrealloc(sh->upd, sh->cap_upd * sizeof(*sh->upd));
        }
        uint32_t thing = (uint32_t)(rng_next(sh) % o->things);
        uint64_t n = sh->n_upd;
        char payload[160];
        int pn = snprintf(payload, sizeof(payload),
                          "{\"state\":{\"desired\":{\"target\":%llu}},\"clientToken\":\"a%llu\"}",
                          (unsigned long long)(n + 1), (unsigned long long)n);
        struct dev *d = &sh->devs[thing];
        if (publish(sh, &a->c, d->topic, d->topic_len, payload, (size_t)pn))
            return;
        struct app_upd *u = &sh->upd[n];
        memset(u, 0, sizeof(*u));
        u->t = bench__now_ns();
        u->thing = thing;
        u->app = (uint16_t)(a - sh->apps);
        sh->n_upd++;
        a->inflight++;
    }
}

/* The clientToken of an answer, or an empty string. */
static struct roost_str find_token(struct roost_str p)
{
    static const char key[] = "\"clientToken\":\"";
    const char *at = memmem(p.p, p.n, key, sizeof(key) - 1);
    if (!at)
        return (struct roost_str){"", 0};
    const char *s = at + sizeof(key) - 1;
    const char *e = memchr(s, '"', (size_t)(p.p + p.n - s));
    if (!e)
        return (struct roost_str){"", 0};
    return (struct roost_str){s, (size_t)(e - s)};
}

/* The number after `key` (e.g. "\"code\":"), or -1. */
static long long find_number(struct roost_str p, const char *key)
{
    size_t kn = strlen(key);
    const char *at = memmem(p.p, p.n, key, kn);
    if (!at)
        return -1;
    long long v = 0;
    const char *s = at + kn;
    const char *end = p.p + p.n;
    if (s >= end || *s < '0' || *s > '9')
        return -1;
    while (s < end && *s >= '0' && *s <= '9' && v < (1ll << 50))
        v = v * 10 + (*s++ - '0');
    return v;
}

static bool parse_u64(struct roost_str s, uint64_t *out)
{
    uint64_t v = 0;
    if (s.n == 0 || s.n > 19)
        return false;
    for (size_t i = 0; i < s.n; i++) {
        if (s.p[i] < '0' || s.p[i] > '9')
            return false;
        v = v * 10 + (uint64_t)(s.p[i] - '0');
    }
    *out = v;
    return true;
}

static bool ends_with(struct roost_str s, const char *suffix)
{
    size_t n = strlen(suffix);
    return s.n >= n && memcmp(s.p + s.n - n, suffix, n) == 0;
}

static void count_answer(struct shadow *sh, bool accepted, struct roost_str payload)
{
    struct bench_result *r = sh->r;
    if (accepted) {
        r->accepted++;
        if (sh->l->now <= sh->t_end)
            sh->accepted_window++;
        return;
    }
    r->rejected++;
    long long code = find_number(payload, "\"code\":");
    r->rejected_by_code[code > 0 && code < 600 ? code : 0]++;
}

static void on_answer(struct shadow *sh, struct dev *d, bool accepted,
                      const struct roost_mqtt_publish *m)
{
    struct roost_str tok = find_token(m->payload);
    uint64_t n;
    if (tok.n > 1 && tok.p[0] == 'a' && parse_u64((struct roost_str){tok.p + 1, tok.n - 1}, &n)) {
        if (n >= sh->n_upd || sh->upd[n].thing != d->c.idx || sh->upd[n].answered) {
            sh->duplicates++;
            return;
        }
        struct app_upd *u = &sh->upd[n];
        u->answered = true;
        u->accepted = accepted;
        sh->app_answered++;
        sh->apps[u->app].inflight--;
        count_answer(sh, accepted, m->payload);
        app_fill(sh);
        return;
    }
    if (!parse_u64(tok, &n)) {
        proto_error(sh, "an answer without a clientToken of ours");
        return;
    }
    struct slot *sl = &d->ring[n & (RING - 1)];
    if (!sl->out || sl->seq != n) {
        sh->duplicates++;
        return;
    }
    sl->out = false;
    d->inflight--;
    sh->answered++;
    if (accepted)
        bench__hist_add(&sh->r->lat, sh->l->now > sl->t ? sh->l->now - sl->t : 0);
    count_answer(sh, accepted, m->payload);
    if (sh->publishing && sh->o->rate <= 0) {
        /* Flat out: refill the window at once. */
        while (dev_send(sh, d))
            ;
        app_fill(sh);
    }
}

static void on_delta(struct shadow *sh, struct dev *d, const struct roost_mqtt_publish *m)
{
    long long target = find_number(m->payload, "\"target\":");
    if (target > 0 && (uint64_t)target > d->target)
        d->target = (uint64_t)target; /* adopt it: reported catches up */
    struct roost_str tok = find_token(m->payload);
    uint64_t n;
    if (tok.n > 1 && tok.p[0] == 'a' && parse_u64((struct roost_str){tok.p + 1, tok.n - 1}, &n)) {
        if (n >= sh->n_upd || sh->upd[n].thing != d->c.idx || sh->upd[n].delta) {
            sh->duplicates++;
            return;
        }
        sh->upd[n].delta = true;
        sh->r->deltas++;
        bench__hist_add(&sh->r->lat2, sh->l->now > sh->upd[n].t ? sh->l->now - sh->upd[n].t : 0);
        return;
    }
    sh->r->deltas_other++;
}

static void on_packet(struct bench_loop *l, struct bench_conn *c, const struct roost_mqtt_packet *p)
{
    struct shadow *sh = l->ud;
    if (p->type == ROOST_MQTT_PUBACK)
        return; /* QoS 1 updates: the answer topics are what counts */
    if (c->kind == KIND_APP) {
        proto_error(sh, "unexpected packet to an app connection");
        return;
    }
    struct dev *d = (struct dev *)c;
    if (p->type == ROOST_MQTT_SUBACK && p->u.suback.packet_id == SUB_PID && !d->subscribed) {
        for (size_t i = 0; i < p->u.suback.n_reasons; i++)
            if (p->u.suback.reasons[i] >= 0x80) {
                bench__conn_close(l, c, ROOST_EAUTH);
                return;
            }
        d->subscribed = true;
        sh->subscribed++;
        return;
    }
    if (p->type != ROOST_MQTT_PUBLISH) {
        proto_error(sh, "unexpected packet to a device");
        return;
    }
    const struct roost_mqtt_publish *m = &p->u.publish;
    sh->last_progress = l->now;
    if (m->qos == 1) {
        struct roost_mqtt_ack a;
        memset(&a, 0, sizeof(a));
        a.packet_id = m->packet_id;
        if (roost_mqtt_encode_ack(&c->out, sh->o->version, ROOST_MQTT_PUBACK, &a) == 0)
            bench__conn_dirty(l, c);
    }
    if (ends_with(m->topic, "/update/accepted"))
        on_answer(sh, d, true, m);
    else if (ends_with(m->topic, "/update/rejected"))
        on_answer(sh, d, false, m);
    else if (ends_with(m->topic, "/update/delta"))
        on_delta(sh, d, m);
    else
        proto_error(sh, "a message on a topic we did not subscribe to");
}

/* Devices subscribe to their three answer topics in one SUBSCRIBE. */
static void on_ready(struct bench_loop *l, struct bench_conn *c)
{
    struct shadow *sh = l->ud;
    sh->ready++;
    if (c->kind != KIND_DEV)
        return;
    struct dev *d = (struct dev *)c;
    static const char *const sfx[3] = {"/accepted", "/rejected", "/delta"};
    char filters[3][160];
    struct roost_mqtt_topic_req req[3];
    struct roost_mqtt_subscribe s;
    memset(req, 0, sizeof(req));
    memset(&s, 0, sizeof(s));
    for (int i = 0; i < 3; i++) {
        snprintf(filters[i], sizeof(filters[i]), "%s%s", d->topic, sfx[i]);
        req[i].filter = roost_str_c(filters[i]);
        req[i].opts.qos = sh->o->qos;
    }
    s.packet_id = SUB_PID;
    s.topics = req;
    s.n_topics = 3;
    int rc = roost_mqtt_encode_subscribe(&c->out, sh->o->version, &s);
    if (rc) {
        bench__conn_close(l, c, rc);
        return;
    }
    bench__conn_dirty(l, c);
}

static void on_close(struct bench_loop *l, struct bench_conn *c, int rc)
{
    struct shadow *sh = l->ud;
    ROOST_UNUSED(c);
    if (rc < 0 && !sh->publishing && sh->t_end == 0)
        sh->failed++;
}

static int connect_all(struct shadow *sh)
{
    struct bench_loop *l = sh->l;
    unsigned next = 0;
    uint64_t deadline = bench__now_ns() + SETUP_TIMEOUT_NS;
    while (sh->ready < sh->n_all || sh->subscribed < sh->o->things) {
        while (next < sh->n_all && l->connecting < sh->o->concurrency)
            bench__conn_start(l, sh->all[next++]);
        if (sh->failed)
            return ROOST_ECLOSED;
        if (bench__loop_poll(l, 100000000u) < 0)
            return -EINTR;
        bench__loop_expire(l, sh->all, next, CONNECT_TIMEOUT_NS);
        if (bench__now_ns() > deadline) {
            fprintf(stderr, "roost-bench: setup timed out (%u of %u ready, %u subscribed)\n",
                    sh->ready, sh->n_all, sh->subscribed);
            return -ETIMEDOUT;
        }
    }
    return 0;
}

/* Rate mode: sends what is due, round-robin over the devices, and returns
 * the ns until the next update is due. */
static uint64_t pump(struct shadow *sh, uint64_t now)
{
    const struct bench_opts *o = sh->o;
    if (o->rate <= 0) {
        bench__loop_flush(sh->l);
        return 100000000u; /* answers drive a flat-out run */
    }
    double per_ns = o->rate / 1e9;
    uint64_t due = (uint64_t)floor((double)(now - sh->t0) * per_ns) + 1;
    unsigned full = 0;
    while (sh->dev_sent < due && full < o->things) {
        struct dev *d = &sh->devs[sh->cursor];
        sh->cursor = (sh->cursor + 1) % o->things;
        if (dev_send(sh, d)) {
            full = 0;
        } else {
            full++;
            sh->skips++;
        }
    }
    app_fill(sh);
    bench__loop_flush(sh->l);
    if (full >= o->things)
        return 100000000u; /* every window is full: an answer wakes us */
    uint64_t next = sh->t0 + (uint64_t)((double)sh->dev_sent / per_ns);
    return next > now ? next - now : 0;
}

static uint64_t outstanding(const struct shadow *sh)
{
    return (sh->dev_sent - sh->answered) + (sh->n_upd - sh->app_answered);
}

static uint64_t deltas_missing(const struct shadow *sh)
{
    uint64_t n = 0;
    for (uint64_t i = 0; i < sh->n_upd; i++)
        if (sh->upd[i].accepted && !sh->upd[i].delta)
            n++;
    return n;
}

int bench__run_shadow(const struct bench_opts *o, volatile sig_atomic_t *stop,
                      struct bench_result *out)
{
    struct bench_loop loop;
    struct shadow sh;
    int rc;
    memset(&sh, 0, sizeof(sh));
    sh.o = o;
    sh.l = &loop;
    sh.r = out;
    out->mode = "shadow";
    bench__hist_init(&out->lat2);

    rc = bench__loop_init(&loop, o);
    if (rc)
        goto out;
    loop.stop = stop;
    loop.ud = &sh;
    loop.hooks.on_ready = on_ready;
    loop.hooks.on_packet = on_packet;
    loop.hooks.on_close = on_close;

    sh.window = ROOST_MIN(o->inflight, SHADOW_MAX_INFLIGHT);
    sh.n_all = o->things + o->apps;
    sh.devs = roost_xcalloc(o->things, sizeof(*sh.devs));
    sh.apps = roost_xcalloc(o->apps ? o->apps : 1, sizeof(*sh.apps));
    sh.all = roost_xcalloc(sh.n_all, sizeof(*sh.all));
    roost_random_bytes(&sh.tag, sizeof(sh.tag));
    roost_random_bytes(&sh.rng, sizeof(sh.rng));
    sh.rng |= 1;
    for (unsigned i = 0; i < o->things; i++) {
        struct dev *d = &sh.devs[i];
        d->c.kind = KIND_DEV;
        d->c.idx = i;
        d->c.fd = -1;
        snprintf(d->cid, sizeof(d->cid), "rb%08x-t%u", sh.tag, i);
        int n = snprintf(d->topic, sizeof(d->topic), "$aws/things/%s/shadow/update", d->cid);
        d->topic_len = (size_t)n;
        d->c.client_id = d->cid;
        sh.all[i] = &d->c;
    }
    for (unsigned i = 0; i < o->apps; i++) {
        struct app *a = &sh.apps[i];
        a->c.kind = KIND_APP;
        a->c.idx = i;
        a->c.fd = -1;
        snprintf(a->cid, sizeof(a->cid), "rb%08x-app%u", sh.tag, i);
        a->c.client_id = a->cid;
        sh.all[o->things + i] = &a->c;
    }

    uint64_t t_setup = bench__now_ns();
    rc = connect_all(&sh);
    if (rc) {
        if (rc != -EINTR)
            fprintf(stderr, "roost-bench: setup failed: %u of %u connections ready\n", sh.ready,
                    sh.n_all);
        goto done;
    }
    if (!o->quiet)
        fprintf(stderr, "roost-bench: %u devices (subscribed) and %u apps ready in %.2f s\n",
                o->things, o->apps, (double)(bench__now_ns() - t_setup) / 1e9);

    sh.t0 = bench__now_ns();
    sh.t_end = sh.t0 + (uint64_t)(o->duration * 1e9);
    sh.publishing = true;
    if (o->rate <= 0) {
        for (unsigned i = 0; i < o->things; i++)
            while (dev_send(&sh, &sh.devs[i]))
                ;
        app_fill(&sh);
    }
    uint64_t now = sh.t0;
    uint64_t next_keepalive = now + 1000000000u;
    while (now < sh.t_end) {
        uint64_t wait = pump(&sh, now);
        if (wait > sh.t_end - now)
            wait = sh.t_end - now;
        if (bench__loop_poll(&loop, wait) < 0) {
            sh.t_end = bench__now_ns();
            break;
        }
        now = loop.now;
        if (now >= next_keepalive) {
            bench__loop_keepalive(&loop, sh.all, sh.n_all);
            next_keepalive = now + 1000000000u;
        }
    }
    sh.publishing = false;
    *stop = 0;

    sh.last_progress = bench__now_ns();
    uint64_t drain_start = sh.last_progress;
    uint64_t drain_end = drain_start + (uint64_t)(o->drain * 1e9);
    const char *why = "complete";
    for (;;) {
        now = bench__now_ns();
        if (outstanding(&sh) == 0 && deltas_missing(&sh) == 0)
            break;
        why = now >= drain_end ? "--drain ran out" : "nothing moved for 1 s";
        if (now >= drain_end || now - sh.last_progress >= DRAIN_IDLE_NS)
            break;
        why = "stopped";
        if (bench__loop_poll(&loop, 20000000u) < 0)
            break;
        why = "complete";
    }
    if (!o->quiet)
        fprintf(stderr, "roost-bench: drain %s after %.2f s (%llu unanswered, %llu deltas missing)\n",
                why, (double)(bench__now_ns() - drain_start) / 1e9,
                (unsigned long long)outstanding(&sh), (unsigned long long)deltas_missing(&sh));
    rc = 0;

done:
    out->elapsed_s = sh.t_end > sh.t0 ? (double)(sh.t_end - sh.t0) / 1e9 : 0;
    out->sent = sh.dev_sent + sh.n_upd;
    out->app_sent = sh.n_upd;
    out->expected = out->sent;
    out->received = out->accepted + out->rejected;
    out->lost = outstanding(&sh);
    out->deltas_lost = deltas_missing(&sh);
    out->duplicates = sh.duplicates;
    out->msgs_per_s = out->elapsed_s > 0 ? (double)sh.accepted_window / out->elapsed_s : 0;
    out->connections = sh.ready;
    bench__loop_disconnect_all(&loop, sh.all, sh.n_all);
    out->errors = loop.errors + sh.protocol_errors;
    if (sh.skips && !o->quiet)
        fprintf(stderr, "roost-bench: %llu times a due update found its device's window "
                "full (the broker fell behind the rate)\n",
                (unsigned long long)sh.skips);
out:
    bench__loop_cleanup(&loop);
    roost_free(sh.devs);
    roost_free(sh.apps);
    roost_free(sh.all);
    roost_free(sh.upd);
    return rc;
}

void bench__print_shadow(const struct bench_opts *o, const struct bench_result *r)
{
    double q[3] = {0.50, 0.99, 0.999};
    double a[3], d[3];
    for (int i = 0; i < 3; i++) {
        a[i] = (double)bench__hist_quantile(&r->lat, q[i]) / 1e3;
        d[i] = (double)bench__hist_quantile(&r->lat2, q[i]) / 1e3;
    }
    char codes[256] = "";
    size_t cl = 0;
    for (unsigned c = 0; c < 600; c++) {
        if (!r->rejected_by_code[c] || cl >= sizeof(codes) - 32)
            continue;
        cl += (size_t)snprintf(codes + cl, sizeof(codes) - cl, "%s\"%u\":%llu", cl ? "," : "", c,
                               (unsigned long long)r->rejected_by_code[c]);
    }
    if (!o->quiet)
        fprintf(stderr,
                "shadow qos%u %u things, %u apps, %s: %llu updates sent (%llu by apps), "
                "%llu accepted, %llu rejected {%s}, %llu unanswered, %llu duplicate answers; "
                "%.0f durable updates/s over %.2f s; update->accepted p50 %.1f us, p99 %.1f us, "
                "p99.9 %.1f us; desired->delta p50 %.1f us, p99 %.1f us (%llu deltas, %llu "
                "missing, %llu from device updates); errors %llu\n",
                o->qos, o->things, o->apps, o->rate > 0 ? "rate-limited" : "flat-out",
                (unsigned long long)r->sent, (unsigned long long)r->app_sent,
                (unsigned long long)r->accepted, (unsigned long long)r->rejected, codes,
                (unsigned long long)r->lost, (unsigned long long)r->duplicates, r->msgs_per_s,
                r->elapsed_s, a[0], a[1], a[2], d[0], d[1], (unsigned long long)r->deltas,
                (unsigned long long)r->deltas_lost, (unsigned long long)r->deltas_other,
                (unsigned long long)r->errors);
    printf("RESULT {\"mode\":\"shadow\",\"transport\":\"%s\",\"version\":%u,\"qos\":%u,"
           "\"things\":%u,\"apps\":%u,\"rate\":%.1f,\"inflight\":%u,\"desired_fraction\":%g,"
           "\"sent\":%llu,\"app_sent\":%llu,\"received\":%llu,\"expected\":%llu,"
           "\"accepted\":%llu,\"rejected\":%llu,\"rejected_by_code\":{%s},\"lost\":%llu,"
           "\"duplicates\":%llu,\"msgs_per_s\":%.1f,\"updates_per_s\":%.1f,\"elapsed_s\":%.3f,"
           "\"p50_us\":%.1f,\"p99_us\":%.1f,\"p999_us\":%.1f,\"max_us\":%.1f,"
           "\"latency_samples\":%llu,\"delta_p50_us\":%.1f,\"delta_p99_us\":%.1f,"
           "\"delta_p999_us\":%.1f,\"deltas\":%llu,\"deltas_lost\":%llu,\"deltas_other\":%llu,"
           "\"connections\":%llu,\"errors\":%llu}\n",
           o->transport == BENCH_TCP ? "tcp" : o->transport == BENCH_TLS ? "tls" : "mtls",
           o->version, o->qos, o->things, o->apps, o->rate,
           ROOST_MIN(o->inflight, SHADOW_MAX_INFLIGHT), o->desired_fraction,
           (unsigned long long)r->sent, (unsigned long long)r->app_sent,
           (unsigned long long)r->received, (unsigned long long)r->expected,
           (unsigned long long)r->accepted, (unsigned long long)r->rejected, codes,
           (unsigned long long)r->lost, (unsigned long long)r->duplicates, r->msgs_per_s,
           r->msgs_per_s, r->elapsed_s, a[0], a[1], a[2],
           r->lat.count ? (double)r->lat.max / 1e3 : 0, (unsigned long long)r->lat.count, d[0],
           d[1], d[2], (unsigned long long)r->deltas, (unsigned long long)r->deltas_lost,
           (unsigned long long)r->deltas_other, (unsigned long long)r->connections,
           (unsigned long long)r->errors);
    fflush(stdout);
}
