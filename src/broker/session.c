/*
 * session.c - MQTT sessions on their home shard: outgoing QoS state
 * (in-flight window, pending queue, packet ids), offline queueing for
 * persistent sessions, expiry, delayed wills, and the session's rows in
 * the store. Every function here runs on the session's home loop.
 */
#include "broker_int.h"

#include <stdio.h>

/* ==== Delivery queues ===================================================== */

static void dq_push(struct delivery_queue *q, struct delivery d)
{
    if (q->count == q->cap) {
        size_t cap = q->cap ? q->cap * 2 : 8;
        struct delivery *items = roost_xmalloc(cap * sizeof(*items));
        for (size_t i = 0; i < q->count; i++)
            items[i] = q->items[(q->head + i) % q->cap];
        roost_free(q->items);
        q->items = items;
        q->cap = cap;
        q->head = 0;
    }
    q->items[(q->head + q->count) % q->cap] = d;
    q->count++;
}

static struct delivery *dq_at(struct delivery_queue *q, size_t i)
{
    return &q->items[(q->head + i) % q->cap];
}

static struct delivery dq_pop(struct delivery_queue *q)
{
    struct delivery d = q->items[q->head];
    q->head = (q->head + 1) % q->cap;
    q->count--;
    return d;
}

/* Removes element i, keeping order. */
static void dq_remove(struct delivery_queue *q, size_t i)
{
    if (i == 0) {
        dq_pop(q);
        return;
    }
    for (size_t k = i; k + 1 < q->count; k++)
        *dq_at(q, k) = *dq_at(q, k + 1);
    q->count--;
}

static void dq_cleanup(struct delivery_queue *q)
{
    for (size_t i = 0; i < q->count; i++)
        broker__msg_unref(&dq_at(q, i)->msg);
    roost_free(q->items);
    memset(q, 0, sizeof(*q));
}

/* ==== Store rows ========================================================== */

static struct roost_store *store_of(struct session *s)
{
    return s->home->broker->store;
}

struct op_with_id {
    struct roost_store_op op;
    char id[];
};

static struct roost_store_op *op_for_session(struct session *s, enum roost_store_op_type type)
{
    struct op_with_id *o = roost_xcalloc(1, sizeof(*o) + s->client_id_len + 1);
    memcpy(o->id, s->client_id, s->client_id_len + 1);
    o->op.type = type;
    return &o->op;
}

void broker__session_store_put(struct session *s)
{
    if (!store_of(s))
        return;
    struct roost_store_op *op = op_for_session(s, ROOST_STORE_SESSION_PUT);
    op->u.session.client_id = ((struct op_with_id *)op)->id;
    op->u.session.expiry_interval = s->expiry_interval;
    op->u.session.disconnected_at_ms = s->client ? 0 : roost_wall_ms();
    op->u.session.protocol_version = s->version;
    roost_store_submit(store_of(s), op);
    s->stored = true;
}

static void store_queue_del(struct session *s, uint64_t msg_id)
{
    if (!store_of(s) || !s->stored)
        return;
    struct roost_store_op *op = op_for_session(s, ROOST_STORE_QUEUE_DEL);
    op->u.queued.client_id = ((struct op_with_id *)op)->id;
    op->u.queued.msg_id = msg_id;
    roost_store_submit(store_of(s), op);
}

static void delivery_finish(struct session *s, struct delivery *d)
{
    if (d->stored && d->msg->id)
        store_queue_del(s, d->msg->id);
    broker__msg_unref(&d->msg);
}

/* ==== Lifetime ============================================================ */

static void uncongest(struct session *s);
static void check_congestion(struct session *s);

struct session *broker__session_create(struct shard *sh, const char *client_id, size_t len)
{
    struct session *s = roost_xcalloc(1, sizeof(*s));
    roost_ref_init(&s->ref);
    s->uid = atomic_fetch_add(&sh->broker->next_uid, 1);
    s->client_id = roost_xstrndup(client_id, len);
    s->client_id_len = len;
    s->home = sh;
    atomic_init(&s->online, false);
    atomic_init(&s->persistent, false);
    atomic_init(&s->dead, false);
    roost_map_init(&s->subs);
    s->next_packet_id = 1;
    roost_map_put(&sh->sessions, client_id, len, s);
    atomic_fetch_add(&sh->broker->stat_sessions, 1);
    return s;
}

void broker__session_unref(struct session **ps)
{
    struct session *s = *ps;
    if (!s)
        return;
    *ps = NULL;
    if (!roost_ref_put(&s->ref))
        return;
    roost_free(s->client_id);
    roost_free(s);
}

static void offline_unlink(struct session *s)
{
    struct shard *sh = s->home;
    if (!s->offline_since_ms)
        return;
    if (s->prev_offline)
        s->prev_offline->next_offline = s->next_offline;
    else if (sh->offline == s)
        sh->offline = s->next_offline;
    if (s->next_offline)
        s->next_offline->prev_offline = s->prev_offline;
    s->next_offline = s->prev_offline = NULL;
    s->offline_since_ms = 0;
}

static void publish_will(struct shard *sh, struct roost_msg **will)
{
    if (!*will)
        return;
    broker__route(sh, *will, 0, 0, 0, NULL);
    broker__msg_unref(will);
}

void broker__session_destroy(struct session *s)
{
    struct shard *sh = s->home;
    struct roost_broker *b = sh->broker;
    atomic_store(&s->dead, true);
    atomic_store(&s->online, false);
    uncongest(s);
    roost_free(s->waiters);
    s->waiters = NULL;
    s->cap_waiters = 0;
    offline_unlink(s);
    if (s->will && !atomic_load(&b->shutting_down))
        publish_will(sh, &s->will);
    broker__msg_unref(&s->will);
    roost_map_del(&sh->sessions, s->client_id, s->client_id_len);
    size_t pos = 0;
    void *v;
    while (roost_map_next(&s->subs, &pos, NULL, &v)) {
        struct sub_record *r = v;
        broker__sub_propagate(sh, s, r->filter, false, r->opts, 0, NULL, NULL, NULL);
        roost_free(r->filter);
        roost_free(r);
    }
    roost_map_cleanup(&s->subs);
    dq_cleanup(&s->inflight);
    dq_cleanup(&s->pending);
    roost_free(s->qos2_in);
    s->qos2_in = NULL;
    s->n_qos2_in = s->cap_qos2_in = 0;
    if (s->stored && b->store) {
        struct roost_store_op *op = op_for_session(s, ROOST_STORE_SESSION_DEL);
        op->u.session.client_id = ((struct op_with_id *)op)->id;
        roost_store_submit(b->store, op);
        s->stored = false;
    }
    atomic_fetch_sub(&b->stat_sessions, 1);
    broker__session_unref(&s);
}

/* ==== Sending ============================================================= */

static uint16_t next_packet_id(struct session *s)
{
    for (;;) {
        uint16_t id = s->next_packet_id++;
        if (s->next_packet_id == 0)
            s->next_packet_id = 1;
        if (id == 0)
            continue;
        bool used = false;
        for (size_t i = 0; i < s->inflight.count && !used; i++)
            used = dq_at(&s->inflight, i)->packet_id == id;
        if (!used)
            return id;
    }
}

/* Encodes the PUBLISH for `d` into the client's output. Returns
 * ROOST_ETOOBIG when it exceeds the client's Maximum Packet Size (the
 * message is then dropped for this client, as MQTT 5 requires). */
int broker__session_send_publish(struct session *s, const struct delivery *d, bool dup)
{
    struct client *c = s->client;
    struct roost_msg *m = d->msg;
    struct roost_buf *out = roost_conn_out(c->conn);
    bool v5 = c->version == ROOST_MQTT_V5;
    /* iot:Receive on every delivery: a policy change silences a live
     * subscription at once. */
    if (!broker__client_allowed(c, ROOST_AUTHZ_RECEIVE, ROOST_AUTHZ_RES_TOPIC, m->topic,
                                m->topic_len))
        return ROOST_EAUTH;
    uint8_t props_hdr[16];
    size_t props_hdr_len = 0;

    if (v5) {
        if (m->expiry_at_ms) {
            uint64_t now = roost_wall_ms();
            uint32_t left = m->expiry_at_ms > now ? (uint32_t)((m->expiry_at_ms - now + 999) / 1000) : 0;
            props_hdr[props_hdr_len++] = ROOST_PROP_MESSAGE_EXPIRY;
            props_hdr[props_hdr_len++] = (uint8_t)(left >> 24);
            props_hdr[props_hdr_len++] = (uint8_t)(left >> 16);
            props_hdr[props_hdr_len++] = (uint8_t)(left >> 8);
            props_hdr[props_hdr_len++] = (uint8_t)left;
        }
        if (d->sub_id) {
            props_hdr[props_hdr_len++] = ROOST_PROP_SUBSCRIPTION_ID;
            uint8_t *e = roost_mqtt_varint_write(props_hdr + props_hdr_len, d->sub_id);
            props_hdr_len = (size_t)(e - props_hdr);
        }
    }
    size_t props_len = props_hdr_len + (v5 ? m->props_len : 0);
    size_t remaining = 2 + (size_t)m->topic_len + (d->qos ? 2 : 0) +
                       (v5 ? roost_mqtt_varint_size((uint32_t)props_len) + props_len : 0) +
                       m->payload_len;
    size_t total = 1 + roost_mqtt_varint_size((uint32_t)remaining) + remaining;
    if (c->client_max_packet && total > c->client_max_packet)
        return ROOST_ETOOBIG;
    int rc = roost_buf_reserve(out, total);
    if (rc)
        return rc;
    uint8_t *p = out->data + out->len;
    *p++ = (uint8_t)(0x30 | (dup ? 0x08 : 0) | (d->qos << 1) | (d->retain_flag ? 1 : 0));
    p = roost_mqtt_varint_write(p, (uint32_t)remaining);
    *p++ = (uint8_t)(m->topic_len >> 8);
    *p++ = (uint8_t)m->topic_len;
    memcpy(p, m->topic, m->topic_len);
    p += m->topic_len;
    if (d->qos) {
        *p++ = (uint8_t)(d->packet_id >> 8);
        *p++ = (uint8_t)d->packet_id;
    }
    if (v5) {
        p = roost_mqtt_varint_write(p, (uint32_t)props_len);
        memcpy(p, props_hdr, props_hdr_len);
        p += props_hdr_len;
        if (m->props_len)
            memcpy(p, m->props, m->props_len);
        p += m->props_len;
    }
    if (m->payload_len)
        memcpy(p, m->payload, m->payload_len);
    p += m->payload_len;
    out->len = (size_t)(p - out->data);
    roost_conn_flush(c->conn);
    atomic_fetch_add_explicit(&s->home->broker->stat_sent, 1, memory_order_relaxed);
    return 0;
}

static void send_pubrel(struct session *s, uint16_t packet_id)
{
    struct roost_mqtt_ack a = {.packet_id = packet_id};
    roost_mqtt_encode_ack(roost_conn_out(s->client->conn), s->client->version, ROOST_MQTT_PUBREL,
                          &a);
    roost_conn_flush(s->client->conn);
}

static size_t send_window(const struct session *s)
{
    size_t w = s->home->broker->cfg.max_inflight;
    if (s->client && s->client->client_receive_max && s->client->client_receive_max < w)
        w = s->client->client_receive_max;
    return w ? w : 1;
}

static void count_drop(struct session *s)
{
    atomic_fetch_add_explicit(&s->home->broker->stat_dropped, 1, memory_order_relaxed);
}

void broker__session_pump(struct session *s)
{
    if (!s->client || s->client->closing)
        return;
    uint64_t now = roost_wall_ms();
    size_t window = send_window(s);
    while (s->pending.count && s->inflight.count < window) {
        struct delivery d = dq_pop(&s->pending);
        if (broker__msg_expired(d.msg, now)) {
            delivery_finish(s, &d);
            continue;
        }
        if (d.qos == 0) {
            if (broker__session_send_publish(s, &d, false))
                count_drop(s);
            broker__msg_unref(&d.msg);
            continue;
        }
        d.packet_id = next_packet_id(s);
        d.state = DELIVERY_PUBLISH_SENT;
        if (broker__session_send_publish(s, &d, false)) {
            count_drop(s);
            delivery_finish(s, &d);
            continue;
        }
        dq_push(&s->inflight, d);
    }
    check_congestion(s);
}

/* ==== Back-pressure ======================================================= */

struct waiter_post {
    struct session *session;  /* a reference */
    struct shard *sh;
    uint64_t client_uid;
};

static void resume_on_publisher_loop(void *arg)
{
    struct waiter_post *w = arg;
    broker__client_resume(w->sh, w->client_uid);
    roost_free(w);
}

static void post_resume(struct shard *sh, uint64_t client_uid)
{
    struct waiter_post *w = roost_xcalloc(1, sizeof(*w));
    w->sh = sh;
    w->client_uid = client_uid;
    roost_loop_post(sh->loop, resume_on_publisher_loop, w);
}

/* Clears congestion and lets every waiting publisher read again. */
static void uncongest(struct session *s)
{
    if (!atomic_load_explicit(&s->congested, memory_order_relaxed))
        return;
    atomic_store(&s->congested, false);
    for (size_t i = 0; i < s->n_waiters; i++)
        post_resume(s->waiters[i].sh, s->waiters[i].client_uid);
    s->n_waiters = 0;
}

static void wait_on_home_loop(void *arg)
{
    struct waiter_post *w = arg;
    struct session *s = w->session;
    if (atomic_load(&s->congested) && !atomic_load(&s->dead)) {
        if (s->n_waiters == s->cap_waiters) {
            s->cap_waiters = s->cap_waiters ? s->cap_waiters * 2 : 4;
            s->waiters = roost_xrealloc(s->waiters, s->cap_waiters * sizeof(*s->waiters));
        }
        s->waiters[s->n_waiters++] = (struct congestion_waiter){w->sh, w->client_uid};
    } else {
        post_resume(w->sh, w->client_uid); /* drained meanwhile */
    }
    broker__session_unref(&w->session);
    roost_free(w);
}

void broker__session_wait_drain(struct session *s, struct shard *publisher_shard,
                                uint64_t client_uid)
{
    struct waiter_post *w = roost_xcalloc(1, sizeof(*w));
    roost_ref_get(&s->ref);
    w->session = s;
    w->sh = publisher_shard;
    w->client_uid = client_uid;
    roost_loop_post(s->home->loop, wait_on_home_loop, w);
}

static void check_congestion(struct session *s)
{
    uint32_t limit = s->home->broker->cfg.max_queued;
    size_t high = limit ? limit / 2 : 50000, low = high / 2;
    if (!s->client) {
        uncongest(s); /* offline sessions drop oldest instead (max_queued) */
        return;
    }
    if (s->pending.count >= high)
        atomic_store_explicit(&s->congested, true, memory_order_relaxed);
    else if (s->pending.count < low)
        uncongest(s);
}

static void enqueue_bounded(struct session *s, struct delivery d)
{
    uint32_t limit = s->home->broker->cfg.max_queued;
    if (limit && s->pending.count >= limit) {
        /* Oldest dropped, as the issue and mosquitto's max_queued_messages do. */
        struct delivery old = dq_pop(&s->pending);
        count_drop(s);
        delivery_finish(s, &old);
    }
    dq_push(&s->pending, d);
    if (s->client)
        check_congestion(s);
}

void broker__session_deliver(struct session *s, struct roost_msg *msg, uint8_t qos,
                             uint32_t sub_id, bool retain_flag, bool stored)
{
    if (atomic_load_explicit(&s->dead, memory_order_relaxed))
        return;
    struct delivery d = {.msg = msg, .sub_id = sub_id, .qos = qos, .retain_flag = retain_flag,
                         .stored = stored};
    if (msg->expiry_at_ms && broker__msg_expired(msg, roost_wall_ms())) {
        if (stored)
            store_queue_del(s, msg->id);
        return;
    }
    struct client *c = s->client;
    if (!c || c->closing) {
        if (qos == 0 || !atomic_load(&s->persistent)) {
            if (stored)
                store_queue_del(s, msg->id);
            return;
        }
        broker__msg_ref(msg);
        enqueue_bounded(s, d);
        return;
    }
    if (qos == 0) {
        size_t limit = s->home->broker->cfg.max_output_backlog;
        if ((limit && roost_conn_backlog(c->conn) > limit) ||
            broker__session_send_publish(s, &d, false))
            count_drop(s);
        return;
    }
    broker__msg_ref(msg);
    enqueue_bounded(s, d);
    broker__session_pump(s);
}

void broker__session_resume(struct session *s)
{
    /* Unacknowledged deliveries go again with DUP set, in their order. */
    for (size_t i = 0; i < s->inflight.count; i++) {
        struct delivery *d = dq_at(&s->inflight, i);
        if (d->state == DELIVERY_PUBLISH_SENT)
            broker__session_send_publish(s, d, true);
        else if (d->state == DELIVERY_PUBREL_SENT)
            send_pubrel(s, d->packet_id);
    }
    broker__session_pump(s);
}

int broker__session_ack(struct session *s, uint16_t packet_id, uint8_t type)
{
    for (size_t i = 0; i < s->inflight.count; i++) {
        struct delivery *d = dq_at(&s->inflight, i);
        if (d->packet_id != packet_id)
            continue;
        if (type == ROOST_MQTT_PUBREC) {
            if (d->qos != 2 || d->state != DELIVERY_PUBLISH_SENT)
                return ROOST_EPROTO;
            d->state = DELIVERY_PUBREL_SENT;
            send_pubrel(s, packet_id);
            return 0;
        }
        if (type == ROOST_MQTT_PUBACK && (d->qos != 1))
            return ROOST_EPROTO;
        if (type == ROOST_MQTT_PUBCOMP && d->state != DELIVERY_PUBREL_SENT)
            return ROOST_EPROTO;
        struct delivery done = *d;
        dq_remove(&s->inflight, i);
        delivery_finish(s, &done);
        broker__session_pump(s);
        return 0;
    }
    return ROOST_ENOTFOUND;
}

void broker__session_went_offline(struct session *s)
{
    struct shard *sh = s->home;
    s->client = NULL;
    atomic_store(&s->online, false);
    uncongest(s);
    if (!atomic_load(&s->persistent) || s->expiry_interval == 0) {
        broker__session_destroy(s);
        return;
    }
    /* QoS 0 messages are not kept for offline sessions. */
    for (size_t i = 0; i < s->pending.count;) {
        struct delivery *d = dq_at(&s->pending, i);
        if (d->qos == 0) {
            broker__msg_unref(&d->msg);
            dq_remove(&s->pending, i);
        } else {
            i++;
        }
    }
    s->offline_since_ms = roost_now_ms();
    s->prev_offline = NULL;
    s->next_offline = sh->offline;
    if (sh->offline)
        sh->offline->prev_offline = s;
    sh->offline = s;
    broker__session_store_put(s);
}

/* Expires offline sessions and fires delayed wills. */
void broker__session_tick(struct shard *sh, uint64_t now_ms)
{
    for (struct session *s = sh->offline, *next; s; s = next) {
        next = s->next_offline;
        if (s->will && now_ms >= s->will_at_ms)
            publish_will(sh, &s->will);
        if (s->expiry_interval != UINT32_MAX &&
            now_ms - s->offline_since_ms >= (uint64_t)s->expiry_interval * 1000) {
            roost_log_debug("broker", "session %s expired", s->client_id);
            broker__session_destroy(s);
        }
    }
}

/* Called when a client attaches to an existing offline session. */
void broker__session_attach_online(struct session *s)
{
    offline_unlink(s);
    atomic_store(&s->online, true);
    broker__msg_unref(&s->will); /* reconnecting within the delay cancels it */
}
