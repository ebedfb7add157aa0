/*
 * route.c - the publish path. A PUBLISH is matched against the publishing
 * shard's own replica of the subscription tree; sessions homed on this shard
 * get their delivery at once, the others through one batch per target shard
 * posted once per loop iteration. QoS 1/2 messages bound for persistent
 * sessions are written to the store (group commit) and the publisher's
 * acknowledgement waits for that commit. Also here: retained messages and
 * the propagation of subscription changes to every replica.
 */
#include "broker_int.h"

/* ==== Matching and delivery ============================================== */

struct route_ctx {
    struct match_sink sink;
    struct shard *sh;
    struct roost_msg *msg;
    struct roost_store_queued *rows;
    size_t n_rows, cap_rows;
    size_t id_bytes;          /* total client-id bytes referenced by rows */
    uint64_t matched;
    struct session *congested; /* first congested QoS 1/2 target (a reference) */
};

static void batch_push(struct shard *sh, struct session *s, struct roost_msg *msg, uint8_t qos,
                       uint32_t sub_id, bool retain_flag, bool stored)
{
    struct delivery_batch *b = &sh->out[s->home->index];
    if (b->n == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 64;
        b->items = roost_xrealloc(b->items, b->cap * sizeof(*b->items));
    }
    roost_ref_get(&s->ref);
    b->items[b->n++] = (struct delivery_item){s, broker__msg_ref(msg), sub_id, qos, retain_flag,
                                              stored};
}

static void on_match(struct match_sink *sink, const struct sub_entry *e, bool shared)
{
    struct route_ctx *rc = (struct route_ctx *)sink;
    struct roost_msg *msg = rc->msg;
    struct session *s = e->session;
    ROOST_UNUSED(shared);
    if (atomic_load_explicit(&s->dead, memory_order_relaxed))
        return;
    if (e->opts.no_local && msg->origin && msg->origin == s->uid)
        return;
    if (msg->only_to && msg->only_to != s->uid)
        return;
    uint8_t qos = msg->qos < e->opts.qos ? msg->qos : e->opts.qos;
    bool retain_flag = e->opts.retain_as_published ? msg->retain : false;
    bool stored = false;
    if (qos > 0 && atomic_load_explicit(&s->persistent, memory_order_relaxed) &&
        rc->sh->broker->store) {
        if (rc->n_rows == rc->cap_rows) {
            rc->cap_rows = rc->cap_rows ? rc->cap_rows * 2 : 8;
            rc->rows = roost_xrealloc(rc->rows, rc->cap_rows * sizeof(*rc->rows));
        }
        rc->rows[rc->n_rows++] = (struct roost_store_queued){
            .client_id = s->client_id, .msg_id = 0, .qos = qos, .sub_id = e->sub_id,
            .retain_flag = retain_flag};
        rc->id_bytes += s->client_id_len + 1;
        stored = true;
    }
    rc->matched++;
    if (qos > 0 && !rc->congested &&
        atomic_load_explicit(&s->congested, memory_order_relaxed)) {
        roost_ref_get(&s->ref);
        rc->congested = s;
    }
    if (stored && !msg->id)
        msg->id = atomic_fetch_add(&rc->sh->broker->next_msg_id, 1);
    if (s->home == rc->sh)
        broker__session_deliver(s, msg, qos, e->sub_id, retain_flag, stored);
    else
        batch_push(rc->sh, s, msg, qos, e->sub_id, retain_flag, stored);
}

/* What the store's completion needs to find the publisher again. */
struct durable_ack {
    struct roost_store_op op;
    struct shard *sh;
    uint64_t client_uid;
    uint16_t packet_id;
    uint8_t ack_type;
    struct roost_msg *msg;    /* keeps topic/payload alive until commit */
};

/* The acknowledgement, bounced from the writer thread to the publisher's loop. */
struct ack_post {
    struct shard *sh;
    uint64_t client_uid;
    uint16_t packet_id;
    uint8_t ack_type;
};

static void ack_on_loop(void *arg)
{
    struct ack_post *ap = arg;
    broker__client_send_ack_ready(ap->sh, ap->client_uid, ap->packet_id, ap->ack_type);
    roost_free(ap);
}

static void on_durable(void *ud, int rc)
{
    struct durable_ack *da = ud;
    if (rc)
        roost_log_error("broker", "store write for message failed: %s", roost_strerror(rc));
    if (!da->packet_id)
        return;
    struct ack_post *ap = roost_xmalloc(sizeof(*ap));
    *ap = (struct ack_post){da->sh, da->client_uid, da->packet_id, da->ack_type};
    roost_loop_post(da->sh->loop, ack_on_loop, ap);
}

static void release_durable(struct roost_store_op *op)
{
    struct durable_ack *da = (struct durable_ack *)op;
    broker__msg_unref(&da->msg);
    roost_free(da);
}

static struct durable_ack *durable_op_new(struct shard *sh, struct roost_msg *msg,
                                          uint64_t client_uid, uint16_t packet_id,
                                          uint8_t ack_type, size_t extra)
{
    struct durable_ack *da = roost_xcalloc(1, sizeof(*da) + extra);
    da->sh = sh;
    da->client_uid = client_uid;
    da->packet_id = packet_id;
    da->ack_type = ack_type;
    da->msg = broker__msg_ref(msg);
    da->op.u.m.msg = (struct roost_store_msg){
        .id = msg->id, .topic = msg->topic, .payload = msg->payload,
        .payload_len = msg->payload_len, .props = msg->props, .props_len = msg->props_len,
        .qos = msg->qos, .retain = msg->retain, .expiry_at_ms = msg->expiry_at_ms};
    da->op.done = on_durable;
    da->op.done_ud = da;
    da->op.release = release_durable;
    return da;
}

bool broker__route(struct shard *sh, struct roost_msg *msg, uint64_t client_uid,
                   uint16_t packet_id, uint8_t ack_type, struct session **out_congested)
{
    struct roost_broker *b = sh->broker;
    struct route_ctx rc = {.sink = {on_match}, .sh = sh, .msg = msg};
    bool retain_write = false;

    atomic_fetch_add_explicit(&b->stat_received, 1, memory_order_relaxed);
    if (msg->retain)
        broker__retain_set(b, msg, &retain_write);
    broker__tree_match(&sh->tree, msg->topic, msg->topic_len, &rc.sink);
    if (out_congested)
        *out_congested = rc.congested;
    else
        broker__session_unref(&rc.congested);

    struct durable_ack *last = NULL;
    if (rc.n_rows) {
        /* One block: the op, then the rows, then copies of the client ids
         * (sessions may be gone before the commit). */
        size_t rows_bytes = rc.n_rows * sizeof(struct roost_store_queued);
        struct durable_ack *da = durable_op_new(sh, msg, client_uid, 0, ack_type,
                                                rows_bytes + rc.id_bytes);
        struct roost_store_queued *rows = (struct roost_store_queued *)(da + 1);
        char *ids = (char *)rows + rows_bytes;
        for (size_t i = 0; i < rc.n_rows; i++) {
            rows[i] = rc.rows[i];
            rows[i].msg_id = msg->id;
            size_t n = strlen(rc.rows[i].client_id) + 1;
            memcpy(ids, rc.rows[i].client_id, n);
            rows[i].client_id = ids;
            ids += n;
        }
        da->op.type = ROOST_STORE_MSG_PUT;
        da->op.u.m.msg.id = msg->id;
        da->op.u.m.queued = rows;
        da->op.u.m.n_queued = rc.n_rows;
        last = da;
    }
    roost_free(rc.rows);
    if (retain_write) {
        struct durable_ack *ra = durable_op_new(sh, msg, client_uid, 0, ack_type, 0);
        ra->op.type = msg->payload_len ? ROOST_STORE_RETAIN_PUT : ROOST_STORE_RETAIN_DEL;
        if (last)
            roost_store_submit(b->store, &last->op);
        last = ra;
    }
    if (!last)
        return false;
    /* Only the last op acknowledges: the writer commits in submission order. */
    last->packet_id = packet_id;
    roost_store_submit(b->store, &last->op);
    return packet_id != 0;
}

/* ==== Cross-shard batches ================================================ */

struct posted_batch {
    struct delivery_item *items;
    size_t n;
};

static void deliver_batch_on_loop(void *arg)
{
    struct posted_batch *pb = arg;
    for (size_t i = 0; i < pb->n; i++) {
        struct delivery_item *it = &pb->items[i];
        broker__session_deliver(it->session, it->msg, it->qos, it->sub_id, it->retain_flag,
                                it->stored);
        broker__msg_unref(&it->msg);
        broker__session_unref(&it->session);
    }
    roost_free(pb->items);
    roost_free(pb);
}

void broker__flush_batches(void *arg)
{
    struct shard *sh = arg;
    for (unsigned i = 0; i < sh->broker->n_shards; i++) {
        struct delivery_batch *b = &sh->out[i];
        if (!b->n)
            continue;
        struct posted_batch *pb = roost_xmalloc(sizeof(*pb));
        pb->items = b->items;
        pb->n = b->n;
        b->items = NULL;
        b->n = b->cap = 0;
        roost_loop_post(sh->broker->shards[i]->loop, deliver_batch_on_loop, pb);
    }
}

/* ==== Retained messages ================================================== */

void broker__retain_set(struct roost_broker *b, struct roost_msg *msg, bool *out_store_write)
{
    struct retained_store *rs = &b->retained;
    struct roost_msg *old;
    pthread_mutex_lock(&rs->lock);
    if (msg->payload_len == 0) {
        old = roost_map_del(&rs->by_topic, msg->topic, msg->topic_len);
    } else {
        old = roost_map_put(&rs->by_topic, msg->topic, msg->topic_len, broker__msg_ref(msg));
    }
    pthread_mutex_unlock(&rs->lock);
    *out_store_write = b->store && (msg->payload_len || old);
    broker__msg_unref(&old);
}

void broker__retain_deliver(struct shard *sh, struct session *s, const char *filter,
                            struct roost_mqtt_sub_opts opts, uint32_t sub_id)
{
    struct roost_broker *b = sh->broker;
    struct retained_store *rs = &b->retained;
    struct roost_str f = roost_str_c(filter);
    struct roost_msg **found = NULL;
    size_t n = 0, cap = 0;
    uint64_t now = roost_wall_ms();
    bool wild = strpbrk(filter, "+#") != NULL;

    pthread_mutex_lock(&rs->lock);
    if (!wild) {
        struct roost_msg *m = roost_map_get(&rs->by_topic, f.p, f.n);
        if (m) {
            found = roost_xmalloc(sizeof(*found));
            found[n++] = broker__msg_ref(m);
        }
    } else {
        size_t pos = 0;
        void *v;
        struct roost_str key;
        while (roost_map_next(&rs->by_topic, &pos, &key, &v)) {
            if (!roost_mqtt_topic_matches(f, key))
                continue;
            if (n == cap) {
                cap = cap ? cap * 2 : 16;
                found = roost_xrealloc(found, cap * sizeof(*found));
            }
            found[n++] = broker__msg_ref(v);
        }
    }
    pthread_mutex_unlock(&rs->lock);

    for (size_t i = 0; i < n; i++) {
        struct roost_msg *m = found[i];
        if (!broker__msg_expired(m, now)) {
            uint8_t qos = m->qos < opts.qos ? m->qos : opts.qos;
            broker__session_deliver(s, m, qos, sub_id, true, false);
        }
        broker__msg_unref(&found[i]);
    }
    roost_free(found);
}

/* ==== Subscription changes to every replica =============================== */

struct sub_change {
    struct session *session;  /* a reference */
    char *filter;
    struct roost_mqtt_sub_opts opts;
    uint32_t sub_id;
    bool add;
    struct shard *origin;
    int *pending;
    sub_done_fn done;
    void *done_ud;
};

static void sub_change_acked(void *arg)
{
    struct sub_change *sc = arg;
    if (sc->pending && --*sc->pending == 0 && sc->done)
        sc->done(sc->done_ud);
    broker__session_unref(&sc->session);
    roost_free(sc->filter);
    roost_free(sc);
}

static void sub_change_apply(void *arg)
{
    struct sub_change *sc = arg;
    struct shard *sh = roost_loop_user(roost_loop_current());
    if (sc->add)
        broker__tree_add(&sh->tree, sc->filter, sc->session, sc->opts, sc->sub_id);
    else
        broker__tree_remove(&sh->tree, sc->filter, sc->session);
    roost_loop_post(sc->origin->loop, sub_change_acked, sc);
}

void broker__sub_propagate(struct shard *sh, struct session *s, const char *filter, bool add,
                           struct roost_mqtt_sub_opts opts, uint32_t sub_id, int *pending,
                           sub_done_fn done, void *done_ud)
{
    struct roost_broker *b = sh->broker;
    if (add)
        broker__tree_add(&sh->tree, filter, s, opts, sub_id);
    else
        broker__tree_remove(&sh->tree, filter, s);
    for (unsigned i = 0; i < b->n_shards; i++) {
        struct shard *other = b->shards[i];
        if (other == sh)
            continue;
        struct sub_change *sc = roost_xcalloc(1, sizeof(*sc));
        roost_ref_get(&s->ref);
        sc->session = s;
        sc->filter = roost_xstrdup(filter);
        sc->opts = opts;
        sc->sub_id = sub_id;
        sc->add = add;
        sc->origin = sh;
        sc->pending = pending;
        sc->done = done;
        sc->done_ud = done_ud;
        if (pending)
            (*pending)++;
        roost_loop_post(other->loop, sub_change_apply, sc);
    }
}
