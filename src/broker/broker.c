/*
 * broker.c - creates the shards (one per event loop), restores persisted
 * state at start-up, runs the per-shard tick (keep-alive, CONNECT deadline,
 * session expiry, delayed wills) and tears everything down at shutdown.
 */
#include "broker_int.h"

#include <stdlib.h>

void roost_broker_config_defaults(struct roost_broker_config *cfg)
{
    *cfg = (struct roost_broker_config){
        .max_payload = 128 * 1024,
        .max_client_id = 128,
        .max_topic = 256,
        .max_inflight = 100,
        .max_queued = 1000,
        .receive_maximum = 100,
        .topic_alias_maximum = 8,
        .connect_timeout_s = 10,
        .session_expiry_default = 3600,
        .session_expiry_max = 7 * 24 * 3600,
        .keepalive_max = 0,
        .max_output_backlog = 4 * 1024 * 1024,
    };
}

struct shard *broker__shard_for_client_id(struct roost_broker *b, const char *id, size_t n)
{
    return b->shards[roost_hash_bytes(id, n) % b->n_shards];
}

static void shard_tick(void *ud)
{
    struct shard *sh = ud;
    uint64_t now = roost_now_ms();
    broker__clients_tick(sh, now);
    broker__session_tick(sh, now);
}

/* ==== Restoring persisted state =========================================== */

struct load_ctx {
    struct roost_broker *b;
    struct roost_map msgs;    /* id (8 bytes) -> struct roost_msg, during loading */
    uint64_t now_wall, now_mono;
    size_t sessions, subs, queued, retained, expired;
};

static struct session *find_session(struct roost_broker *b, const char *id)
{
    size_t n = strlen(id);
    struct shard *sh = broker__shard_for_client_id(b, id, n);
    return roost_map_get(&sh->sessions, id, n);
}

static int load_session(void *ud, const struct roost_store_session *row)
{
    struct load_ctx *lc = ud;
    struct roost_broker *b = lc->b;
    size_t n = strlen(row->client_id);
    uint64_t gone_ms = row->disconnected_at_ms && lc->now_wall > row->disconnected_at_ms
                           ? lc->now_wall - row->disconnected_at_ms
                           : 0;
    struct shard *sh = broker__shard_for_client_id(b, row->client_id, n);
    struct session *s = broker__session_create(sh, row->client_id, n);
    s->expiry_interval = row->expiry_interval;
    s->version = row->protocol_version;
    s->stored = true;
    atomic_store(&s->persistent, true);
    /* Offline since it disconnected (or since the server stopped). */
    s->offline_since_ms = lc->now_mono > gone_ms ? lc->now_mono - gone_ms : 1;
    s->next_offline = sh->offline;
    if (sh->offline)
        sh->offline->prev_offline = s;
    sh->offline = s;
    lc->sessions++;
    return 0;
}

static int load_sub(void *ud, const struct roost_store_sub *row)
{
    struct load_ctx *lc = ud;
    struct session *s = find_session(lc->b, row->client_id);
    if (!s)
        return 0;
    struct sub_record *r = roost_xcalloc(1, sizeof(*r));
    r->filter = roost_xstrdup(row->filter);
    r->opts.qos = row->options & 3;
    r->opts.no_local = row->options & 0x04;
    r->opts.retain_as_published = row->options & 0x08;
    r->opts.retain_handling = (row->options >> 4) & 3;
    r->sub_id = row->sub_id;
    roost_map_put(&s->subs, row->filter, strlen(row->filter), r);
    for (unsigned i = 0; i < lc->b->n_shards; i++)
        broker__tree_add(&lc->b->shards[i]->tree, r->filter, s, r->opts, r->sub_id);
    lc->subs++;
    return 0;
}

static struct roost_msg *msg_from_row(const struct roost_store_msg *m)
{
    struct roost_msg *msg = broker__msg_create(m->topic, strlen(m->topic), m->payload,
                                               m->payload_len, m->props, m->props_len, m->qos,
                                               m->retain);
    msg->id = m->id;
    msg->expiry_at_ms = m->expiry_at_ms;
    return msg;
}

static int load_queued(void *ud, const struct roost_store_queued *q,
                       const struct roost_store_msg *m)
{
    struct load_ctx *lc = ud;
    struct session *s = find_session(lc->b, q->client_id);
    if (!s)
        return 0;
    struct roost_msg *msg = roost_map_get(&lc->msgs, &m->id, sizeof(m->id));
    if (!msg) {
        msg = msg_from_row(m);
        roost_map_put(&lc->msgs, &m->id, sizeof(m->id), msg);
    }
    broker__session_deliver(s, msg, q->qos, q->sub_id, q->retain_flag, true);
    lc->queued++;
    return 0;
}

static int load_retained(void *ud, const struct roost_store_msg *m)
{
    struct load_ctx *lc = ud;
    if (m->expiry_at_ms && m->expiry_at_ms <= lc->now_wall)
        return 0;
    struct roost_msg *msg = msg_from_row(m);
    msg->retain = true;
    struct roost_msg *old = roost_map_put(&lc->b->retained.by_topic, msg->topic, msg->topic_len, msg);
    broker__msg_unref(&old);
    lc->retained++;
    return 0;
}

static int load_state(struct roost_broker *b)
{
    struct load_ctx lc = {.b = b, .now_wall = roost_wall_ms(), .now_mono = roost_now_ms()};
    roost_map_init(&lc.msgs);
    uint64_t max_id = 0;
    int rc = roost_store_max_msg_id(b->store, &max_id);
    if (rc)
        goto out;
    atomic_store(&b->next_msg_id, max_id + 1);
    rc = roost_store_load_sessions(b->store, load_session, &lc);
    if (!rc)
        rc = roost_store_load_subs(b->store, load_sub, &lc);
    if (!rc)
        rc = roost_store_load_queued(b->store, load_queued, &lc);
    if (!rc)
        rc = roost_store_load_retained(b->store, load_retained, &lc);
    if (rc)
        goto out;
    roost_log_info("broker", "restored %zu sessions, %zu subscriptions, %zu queued and %zu "
                   "retained messages", lc.sessions, lc.subs, lc.queued, lc.retained);
out:;
    size_t pos = 0;
    void *v;
    while (roost_map_next(&lc.msgs, &pos, NULL, &v)) {
        struct roost_msg *m = v;
        broker__msg_unref(&m);
    }
    roost_map_cleanup(&lc.msgs);
    return rc;
}

/* ==== Life cycle ========================================================== */

int roost_broker_create(const struct roost_broker_config *cfg, struct roost_net *net,
                        struct roost_store *store, struct roost_broker **out_broker)
{
    struct roost_broker *b = roost_xcalloc(1, sizeof(*b));
    int rc = 0;
    b->cfg = *cfg;
    b->net = net;
    b->store = store;
    atomic_init(&b->next_uid, 1);
    atomic_init(&b->next_msg_id, 1);
    pthread_mutex_init(&b->retained.lock, NULL);
    roost_map_init(&b->retained.by_topic);
    b->n_shards = roost_net_loop_count(net);
    b->shards = roost_xcalloc(b->n_shards, sizeof(*b->shards));
    for (unsigned i = 0; i < b->n_shards; i++) {
        struct shard *sh = roost_xcalloc(1, sizeof(*sh));
        b->shards[i] = sh;
        sh->broker = b;
        sh->index = i;
        sh->loop = roost_net_loop(net, i);
        roost_map_init(&sh->sessions);
        roost_map_init(&sh->clients_by_uid);
        broker__tree_init(&sh->tree);
        sh->out = roost_xcalloc(b->n_shards, sizeof(*sh->out));
        roost_loop_set_user(sh->loop, sh);
        roost_loop_set_tick(sh->loop, 250, shard_tick, sh);
        roost_loop_set_before_flush(sh->loop, broker__flush_batches, sh);
    }
    broker__client_handler_init(b, &b->handler);
    if (store) {
        rc = load_state(b);
        if (rc) {
            roost_log_error("broker", "cannot restore state: %s", roost_strerror(rc));
            roost_broker_destroy(b);
            b = NULL;
        }
    }
    *out_broker = b;
    return rc;
}

const struct roost_conn_handler *roost_broker_handler(struct roost_broker *b)
{
    return &b->handler;
}

void roost_broker_begin_shutdown(struct roost_broker *b)
{
    atomic_store(&b->shutting_down, true);
}

static void session_free_final(struct session *s)
{
    size_t pos = 0;
    void *v;
    while (roost_map_next(&s->subs, &pos, NULL, &v)) {
        struct sub_record *r = v;
        roost_free(r->filter);
        roost_free(r);
    }
    roost_map_cleanup(&s->subs);
    struct delivery_queue *qs[2] = {&s->inflight, &s->pending};
    for (int k = 0; k < 2; k++) {
        struct delivery_queue *q = qs[k];
        for (size_t i = 0; i < q->count; i++)
            broker__msg_unref(&q->items[(q->head + i) % q->cap].msg);
        roost_free(q->items);
    }
    roost_free(s->qos2_in);
    broker__msg_unref(&s->will);
    broker__session_unref(&s);
}

void roost_broker_destroy(struct roost_broker *b)
{
    if (!b)
        return;
    if (b->store)
        roost_store_sync(b->store);
    for (unsigned i = 0; i < b->n_shards; i++) {
        struct shard *sh = b->shards[i];
        if (!sh)
            continue;
        for (unsigned k = 0; k < b->n_shards; k++) {
            struct delivery_batch *db = &sh->out[k];
            for (size_t j = 0; j < db->n; j++) {
                broker__msg_unref(&db->items[j].msg);
                broker__session_unref(&db->items[j].session);
            }
            roost_free(db->items);
        }
        roost_free(sh->out);
        broker__tree_cleanup(&sh->tree);
    }
    for (unsigned i = 0; i < b->n_shards; i++) {
        struct shard *sh = b->shards[i];
        if (!sh)
            continue;
        size_t pos = 0;
        void *v;
        while (roost_map_next(&sh->sessions, &pos, NULL, &v))
            session_free_final(v);
        roost_map_cleanup(&sh->sessions);
        roost_map_cleanup(&sh->clients_by_uid);
        roost_free(sh);
    }
    size_t pos = 0;
    void *v;
    while (roost_map_next(&b->retained.by_topic, &pos, NULL, &v)) {
        struct roost_msg *m = v;
        broker__msg_unref(&m);
    }
    roost_map_cleanup(&b->retained.by_topic);
    pthread_mutex_destroy(&b->retained.lock);
    for (size_t i = 0; i < b->n_services; i++)
        roost_free(b->services[i].prefix);
    roost_free(b->shards);
    roost_free(b);
}

void roost_broker_get_stats(struct roost_broker *b, struct roost_broker_stats *out)
{
    out->clients_connected = atomic_load(&b->stat_connected);
    out->msgs_received = atomic_load(&b->stat_received);
    out->msgs_sent = atomic_load(&b->stat_sent);
    out->msgs_dropped = atomic_load(&b->stat_dropped);
    out->sessions = atomic_load(&b->stat_sessions);
    pthread_mutex_lock(&b->retained.lock);
    out->retained = b->retained.by_topic.count;
    pthread_mutex_unlock(&b->retained.lock);
}

/* ==== Services ============================================================ */

int roost_broker_add_service(struct roost_broker *b, const char *prefix, roost_broker_service_fn fn,
                             void *ud)
{
    if (b->n_services == ROOST_ARRAY_LEN(b->services) || !prefix || !*prefix || !fn)
        return ROOST_EINVAL;
    b->services[b->n_services].prefix = roost_xstrdup(prefix);
    b->services[b->n_services].prefix_len = strlen(prefix);
    b->services[b->n_services].fn = fn;
    b->services[b->n_services].ud = ud;
    b->n_services++;
    return 0;
}

int roost_broker_add_private_service(struct roost_broker *b, const char *prefix,
                                     roost_broker_service_fn fn, void *ud)
{
    int rc = roost_broker_add_service(b, prefix, fn, ud);
    if (!rc)
        b->services[b->n_services - 1].consume = true;
    return rc;
}

struct server_publish {
    struct roost_msg *msg;
    struct shard *sh;
};

static void server_publish_on_loop(void *arg)
{
    struct server_publish *sp = arg;
    broker__route(sp->sh, sp->msg, 0, 0, 0, NULL);
    broker__msg_unref(&sp->msg);
    roost_free(sp);
}

void roost_broker_publish(struct roost_broker *b, const char *topic, const void *payload,
                          size_t payload_len, uint8_t qos, bool retain)
{
    if (atomic_load(&b->shutting_down))
        return; /* the loops are stopping: nobody is left to receive it */
    struct server_publish *sp = roost_xmalloc(sizeof(*sp));
    sp->msg = broker__msg_create(topic, strlen(topic), payload, payload_len, NULL, 0,
                                 qos > 1 ? 1 : qos, retain);
    struct roost_loop *here = roost_loop_current();
    if (here && roost_loop_user(here)) {
        sp->sh = roost_loop_user(here);
    } else {
        unsigned i = atomic_fetch_add(&b->next_publish_shard, 1) % b->n_shards;
        sp->sh = b->shards[i];
    }
    /* Always through the post queue, never inside the caller's stack: a
     * service answering from inside a delivery must not re-enter routing. */
    roost_loop_post(sp->sh->loop, server_publish_on_loop, sp);
}

void roost_broker_publish_props(struct roost_broker *b, const char *topic, const void *payload,
                                size_t payload_len, uint8_t qos, bool retain,
                                const struct roost_mqtt_props *props)
{
    if (atomic_load(&b->shutting_down))
        return;
    struct roost_mqtt_props fwd = *props;
    fwd.present &= (1ull << ROOST_PROP_PAYLOAD_FORMAT) | (1ull << ROOST_PROP_CONTENT_TYPE) |
                   (1ull << ROOST_PROP_RESPONSE_TOPIC) | (1ull << ROOST_PROP_CORRELATION_DATA);
    fwd.n_sub_ids = 0;
    size_t props_len = roost_mqtt_props_size(&fwd);
    uint8_t *enc = roost_xmalloc(props_len ? props_len : 1);
    roost_mqtt_props_write(enc, &fwd);
    struct server_publish *sp = roost_xmalloc(sizeof(*sp));
    sp->msg = broker__msg_create(topic, strlen(topic), payload, payload_len, enc, props_len,
                                 qos > 1 ? 1 : qos, retain);
    roost_free(enc);
    if (roost_mqtt_prop_has(props, ROOST_PROP_MESSAGE_EXPIRY))
        sp->msg->expiry_at_ms = roost_wall_ms() + (uint64_t)props->message_expiry * 1000u;
    unsigned i = atomic_fetch_add(&b->next_publish_shard, 1) % b->n_shards;
    sp->sh = b->shards[i];
    roost_loop_post(sp->sh->loop, server_publish_on_loop, sp);
}

void roost_broker_publish_ordered(struct roost_broker *b, const char *topic, const void *payload,
                                  size_t payload_len, uint8_t qos, bool retain, uint64_t order_key)
{
    if (atomic_load(&b->shutting_down))
        return;
    struct server_publish *sp = roost_xmalloc(sizeof(*sp));
    sp->msg = broker__msg_create(topic, strlen(topic), payload, payload_len, NULL, 0,
                                 qos > 1 ? 1 : qos, retain);
    /* One key, one loop: posts to a loop run in order, and so do that
     * loop's deliveries to any other loop. */
    sp->sh = b->shards[order_key % b->n_shards];
    roost_loop_post(sp->sh->loop, server_publish_on_loop, sp);
}

void roost_broker_publish_to(struct roost_broker *b, uint64_t session_uid, const char *topic,
                             const void *payload, size_t payload_len, uint8_t qos)
{
    if (atomic_load(&b->shutting_down) || !session_uid)
        return;
    struct server_publish *sp = roost_xmalloc(sizeof(*sp));
    sp->msg = broker__msg_create(topic, strlen(topic), payload, payload_len, NULL, 0,
                                 qos > 1 ? 1 : qos, false);
    sp->msg->only_to = session_uid;
    /* Every loop has the whole subscription tree; the answer goes through
     * the usual route and the filter in on_match keeps the one session. */
    sp->sh = b->shards[session_uid % b->n_shards];
    roost_loop_post(sp->sh->loop, server_publish_on_loop, sp);
}

/* ==== Retained messages for the data plane ================================ */

static void retained_copy(const struct roost_msg *m, struct roost_broker_retained *out)
{
    out->topic = roost_xstrndup(m->topic, m->topic_len);
    out->payload = roost_xmemdup(m->payload, m->payload_len ? m->payload_len : 1);
    out->payload_len = m->payload_len;
    out->qos = m->qos;
    out->last_modified_ms = m->created_ms;
}

void roost_broker_retained_cleanup(struct roost_broker_retained *r)
{
    if (!r)
        return;
    roost_free(r->topic);
    roost_free(r->payload);
    memset(r, 0, sizeof(*r));
}

int roost_broker_retained_get(struct roost_broker *b, const char *topic,
                              struct roost_broker_retained *out)
{
    int rc = ROOST_ENOTFOUND;
    memset(out, 0, sizeof(*out));
    pthread_mutex_lock(&b->retained.lock);
    struct roost_msg *m = roost_map_get(&b->retained.by_topic, topic, strlen(topic));
    if (m && !broker__msg_expired(m, roost_wall_ms())) {
        retained_copy(m, out);
        rc = 0;
    }
    pthread_mutex_unlock(&b->retained.lock);
    return rc;
}

static int compare_topics(const void *a, const void *b)
{
    const struct roost_broker_retained *x = a, *y = b;
    return strcmp(x->topic, y->topic);
}

int roost_broker_retained_list(struct roost_broker *b, const char *after, size_t limit,
                               roost_broker_retained_fn fn, void *ud)
{
    struct roost_broker_retained *all = NULL;
    size_t n = 0, cap = 0;
    uint64_t now = roost_wall_ms();
    int rc = 0;
    pthread_mutex_lock(&b->retained.lock);
    size_t pos = 0;
    void *v;
    while (roost_map_next(&b->retained.by_topic, &pos, NULL, &v)) {
        struct roost_msg *m = v;
        if (broker__msg_expired(m, now) || (after && strcmp(m->topic, after) <= 0))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            all = roost_xrealloc(all, cap * sizeof(*all));
        }
        retained_copy(m, &all[n++]);
    }
    pthread_mutex_unlock(&b->retained.lock);
    if (n)
        qsort(all, n, sizeof(*all), compare_topics);
    for (size_t i = 0; i < n; i++) {
        if (!rc && (!limit || i < limit))
            rc = fn(ud, &all[i]);
        roost_broker_retained_cleanup(&all[i]);
    }
    roost_free(all);
    return rc;
}
