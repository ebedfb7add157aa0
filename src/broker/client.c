/*
 * client.c - one MQTT connection: decodes packets with the shared codec and
 * handles each type. CONNECT moves the connection to the shard that owns its
 * client id, then attaches it to its session (takeover, clean start, resume).
 * Protocol errors end the connection the way the version demands: a v5
 * DISCONNECT with the reason code, or closing the socket for 3.1.1.
 */
#include "broker_int.h"

#include <stdio.h>

/* Returned by handlers: stop reading this connection for now (its CONNECT
 * waits for the session's loop), without an error. */
#define CLIENT_PAUSED 1

static uint32_t server_max_packet(const struct roost_broker *b)
{
    /* Payload limit plus room for the topic and properties. */
    return b->cfg.max_payload + b->cfg.max_topic + 8192;
}

/* ==== Output helpers ====================================================== */

static void send_disconnect(struct client *c, uint8_t reason, const char *text)
{
    if (c->version != ROOST_MQTT_V5)
        return;
    struct roost_mqtt_disconnect d = {.reason = reason};
    if (text) {
        d.props.reason_string = roost_str_c(text);
        roost_mqtt_prop_set(&d.props, ROOST_PROP_REASON_STRING);
    }
    roost_mqtt_encode_disconnect(roost_conn_out(c->conn), c->version, &d);
    roost_conn_flush(c->conn);
}

void broker__client_kick(struct client *c, uint8_t reason)
{
    if (c->closing)
        return;
    send_disconnect(c, reason, NULL);
    c->closing = true;
    roost_conn_close(c->conn, true);
}

static void send_connack(struct client *c, uint8_t reason, bool session_present,
                         const struct roost_mqtt_props *props)
{
    struct roost_mqtt_connack ca = {.session_present = session_present, .reason = reason};
    if (props)
        ca.props = *props;
    roost_mqtt_encode_connack(roost_conn_out(c->conn), c->version ? c->version : ROOST_MQTT_V311,
                              &ca);
    roost_conn_flush(c->conn);
}

static void refuse_connect(struct client *c, uint8_t v5_reason, uint8_t v3_code)
{
    send_connack(c, c->version == ROOST_MQTT_V5 ? v5_reason : v3_code, false, NULL);
    c->closing = true;
    roost_conn_close(c->conn, true);
}

/* Acks leave in PUBLISH order; a durable one holds back those behind it. */
static void acks_flush(struct client *c)
{
    while (c->acks_count) {
        struct pending_ack *a = &c->acks[c->acks_head];
        if (!a->ready)
            break;
        struct roost_mqtt_ack ack = {.packet_id = a->packet_id, .reason = a->reason};
        roost_mqtt_encode_ack(roost_conn_out(c->conn), c->version, a->type, &ack);
        if (a->type == ROOST_MQTT_PUBACK && c->inbound_unacked)
            c->inbound_unacked--;
        c->acks_head = (c->acks_head + 1) % c->acks_cap;
        c->acks_count--;
    }
    roost_conn_flush(c->conn);
}

static void acks_push(struct client *c, uint16_t packet_id, uint8_t type, uint8_t reason,
                      bool ready)
{
    if (c->acks_count == c->acks_cap) {
        size_t cap = c->acks_cap ? c->acks_cap * 2 : 8;
        struct pending_ack *v = roost_xmalloc(cap * sizeof(*v));
        for (size_t i = 0; i < c->acks_count; i++)
            v[i] = c->acks[(c->acks_head + i) % c->acks_cap];
        roost_free(c->acks);
        c->acks = v;
        c->acks_cap = cap;
        c->acks_head = 0;
    }
    c->acks[(c->acks_head + c->acks_count) % c->acks_cap] =
        (struct pending_ack){packet_id, type, reason, ready};
    c->acks_count++;
    if (ready && c->acks_count == 1)
        acks_flush(c);
}

void broker__client_send_ack_ready(struct shard *sh, uint64_t client_uid, uint16_t packet_id,
                                   uint8_t type)
{
    struct client *c = roost_map_get(&sh->clients_by_uid, &client_uid, sizeof(client_uid));
    if (!c || c->closing)
        return;
    for (size_t i = 0; i < c->acks_count; i++) {
        struct pending_ack *a = &c->acks[(c->acks_head + i) % c->acks_cap];
        if (a->packet_id == packet_id && a->type == type && !a->ready) {
            a->ready = true;
            break;
        }
    }
    acks_flush(c);
}

/* ==== Shard membership ==================================================== */

static void client_link(struct shard *sh, struct client *c)
{
    c->shard = sh;
    c->prev = NULL;
    c->next = sh->clients;
    if (sh->clients)
        sh->clients->prev = c;
    sh->clients = c;
    roost_map_put(&sh->clients_by_uid, &c->uid, sizeof(c->uid), c);
}

static void client_unlink(struct client *c)
{
    struct shard *sh = c->shard;
    if (c->prev)
        c->prev->next = c->next;
    else if (sh->clients == c)
        sh->clients = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->next = c->prev = NULL;
    roost_map_del(&sh->clients_by_uid, &c->uid, sizeof(c->uid));
}

/* ==== CONNECT ============================================================= */

static struct roost_msg *make_will(struct client *c, const struct roost_mqtt_connect *ck)
{
    struct roost_mqtt_props fwd = ck->will_props;
    uint32_t expiry = 0;
    bool has_expiry = roost_mqtt_prop_has(&fwd, ROOST_PROP_MESSAGE_EXPIRY);
    if (has_expiry)
        expiry = fwd.message_expiry;
    fwd.present &= ~((1ull << ROOST_PROP_MESSAGE_EXPIRY) | (1ull << ROOST_PROP_WILL_DELAY));
    size_t plen = c->version == ROOST_MQTT_V5 ? roost_mqtt_props_size(&fwd) : 0;
    uint8_t *pbuf = plen ? roost_xmalloc(plen) : NULL;
    if (plen)
        roost_mqtt_props_write(pbuf, &fwd);
    struct roost_msg *m = broker__msg_create(ck->will_topic.p, ck->will_topic.n,
                                             ck->will_payload.p, ck->will_payload.n, pbuf, plen,
                                             ck->will_qos, ck->will_retain);
    roost_free(pbuf);
    if (has_expiry)
        m->expiry_at_ms = roost_wall_ms() + (uint64_t)expiry * 1000;
    return m;
}

static void take_over(struct client *old)
{
    /* The old connection loses the session but still publishes its will
     * (it did not disconnect cleanly). */
    roost_log_info("broker", "client %s taken over", old->session->client_id);
    old->session = NULL;
    old->disconnect_reason = "DUPLICATE_CLIENTID";
    broker__client_kick(old, ROOST_RC_SESSION_TAKEN_OVER);
}

static int handle_connect_on_home(struct client *c, const struct roost_mqtt_connect *ck)
{
    struct shard *sh = c->shard;
    struct roost_broker *b = sh->broker;
    const char *id = c->assigned_id;
    size_t id_len = strlen(id);
    bool v5 = c->version == ROOST_MQTT_V5;

    if (!broker__client_allowed(c, ROOST_AUTHZ_CONNECT, ROOST_AUTHZ_RES_CLIENT, id, id_len)) {
        /* As AWS: no CONNACK, the connection just closes; the reason is ours. */
        const struct roost_peer *peer = roost_conn_peer(c->conn);
        roost_log_info("broker", "%s: CONNECT as %s refused: iot:Connect not allowed for %s",
                       peer->addr, id, peer->has_cert ? peer->cert_id : "anonymous");
        c->closing = true;
        roost_conn_close(c->conn, false);
        return 0;
    }

    uint32_t expiry;
    bool capped = false;
    if (v5) {
        expiry = roost_mqtt_prop_has(&ck->props, ROOST_PROP_SESSION_EXPIRY) ? ck->props.session_expiry : 0;
        if (expiry != UINT32_MAX && expiry > b->cfg.session_expiry_max) {
            expiry = b->cfg.session_expiry_max;
            capped = true;
        }
    } else {
        expiry = ck->clean_start ? 0 : b->cfg.session_expiry_default;
    }

    struct session *s = roost_map_get(&sh->sessions, id, id_len);
    if (s && s->client)
        take_over(s->client);
    bool present = false;
    if (s && ck->clean_start) {
        broker__session_destroy(s);
        s = NULL;
    }
    if (s) {
        present = true;
        broker__session_attach_online(s);
    } else {
        s = broker__session_create(sh, id, id_len);
        atomic_store(&s->online, true);
    }
    s->version = c->version;
    s->expiry_interval = expiry;
    atomic_store(&s->persistent, expiry > 0);
    s->client = c;
    c->session = s;
    c->connected = true;
    atomic_fetch_add(&b->stat_connected, 1);
    if (expiry > 0)
        broker__session_store_put(s);
    else if (s->stored)
        broker__session_store_put(s); /* expiry changed to 0: row goes at disconnect */

    if (ck->has_will) {
        c->will = make_will(c, ck);
        c->will->origin = s->uid;
        c->will_delay = v5 && roost_mqtt_prop_has(&ck->will_props, ROOST_PROP_WILL_DELAY)
                            ? ck->will_props.will_delay
                            : 0;
    }

    struct roost_mqtt_props props = {0};
    if (v5) {
        if (capped) {
            props.session_expiry = expiry;
            roost_mqtt_prop_set(&props, ROOST_PROP_SESSION_EXPIRY);
        }
        props.receive_maximum = (uint16_t)ROOST_MIN(b->cfg.receive_maximum, 65535u);
        roost_mqtt_prop_set(&props, ROOST_PROP_RECEIVE_MAXIMUM);
        props.maximum_packet_size = server_max_packet(b);
        roost_mqtt_prop_set(&props, ROOST_PROP_MAXIMUM_PACKET_SIZE);
        props.topic_alias_maximum = b->cfg.topic_alias_maximum;
        roost_mqtt_prop_set(&props, ROOST_PROP_TOPIC_ALIAS_MAXIMUM);
        if (ck->client_id.n == 0) {
            props.assigned_client_id = roost_str_c(id);
            roost_mqtt_prop_set(&props, ROOST_PROP_ASSIGNED_CLIENT_ID);
        }
        if (b->cfg.keepalive_max && (ck->keep_alive == 0 || ck->keep_alive > b->cfg.keepalive_max)) {
            c->keep_alive = (uint16_t)b->cfg.keepalive_max;
            props.server_keep_alive = c->keep_alive;
            roost_mqtt_prop_set(&props, ROOST_PROP_SERVER_KEEP_ALIVE);
        }
    }
    send_connack(c, 0, present, &props);
    broker__event_connected(c);
    roost_log_debug("broker", "%s connected as %s (v%u, clean=%d, expiry=%u, present=%d)",
                    roost_conn_peer(c->conn)->addr, id, c->version, ck->clean_start, expiry,
                    present);
    broker__session_resume(s);
    return 0;
}

static void defer_connect(struct client *c);

static int handle_connect(struct client *c, const struct roost_mqtt_packet *pkt,
                          const uint8_t *raw, size_t raw_len)
{
    const struct roost_mqtt_connect *ck = &pkt->u.connect;
    struct roost_broker *b = c->shard->broker;
    c->version = ck->protocol_level == ROOST_MQTT_V5 ? ROOST_MQTT_V5 : ROOST_MQTT_V311;
    c->keep_alive = ck->keep_alive;

    if (ck->client_id.n > b->cfg.max_client_id) {
        roost_log_info("broker", "%s: client id of %zu bytes refused",
                       roost_conn_peer(c->conn)->addr, ck->client_id.n);
        refuse_connect(c, ROOST_RC_CLIENT_ID_INVALID, ROOST_CONNACK311_ID_REJECTED);
        return 0;
    }
    if (ck->client_id.n == 0 && c->version != ROOST_MQTT_V5 && !ck->clean_start) {
        refuse_connect(c, ROOST_RC_CLIENT_ID_INVALID, ROOST_CONNACK311_ID_REJECTED);
        return 0;
    }
    if (c->version == ROOST_MQTT_V5 && roost_mqtt_prop_has(&ck->props, ROOST_PROP_AUTH_METHOD)) {
        refuse_connect(c, ROOST_RC_BAD_AUTH_METHOD, ROOST_CONNACK311_NOT_AUTHORIZED);
        return 0;
    }
    if (ck->has_will) {
        if (ck->will_topic.n > b->cfg.max_topic || ck->will_payload.n > b->cfg.max_payload) {
            refuse_connect(c, ck->will_topic.n > b->cfg.max_topic ? ROOST_RC_TOPIC_NAME_INVALID
                                                                   : ROOST_RC_PACKET_TOO_LARGE,
                           ROOST_CONNACK311_NOT_AUTHORIZED);
            return 0;
        }
    }
    if (c->version == ROOST_MQTT_V5) {
        if (roost_mqtt_prop_has(&ck->props, ROOST_PROP_RECEIVE_MAXIMUM))
            c->client_receive_max = ck->props.receive_maximum;
        if (roost_mqtt_prop_has(&ck->props, ROOST_PROP_MAXIMUM_PACKET_SIZE))
            c->client_max_packet = ck->props.maximum_packet_size;
    }
    if (!c->assigned_id) {
        if (ck->client_id.n) {
            c->assigned_id = roost_xstrndup(ck->client_id.p, ck->client_id.n);
        } else {
            uint8_t rnd[12];
            char hex[25];
            roost_random_bytes(rnd, sizeof(rnd));
            roost_hex_encode(rnd, sizeof(rnd), hex);
            c->assigned_id = roost_xmalloc(32);
            snprintf(c->assigned_id, 32, "roost-%s", hex);
        }
    }
    /* The session is handled on its home loop, and only after that loop has
     * read everything the kernel already holds: a DISCONNECT or PUBACK the
     * previous connection of this client id sent before this one connected
     * must be seen first. Reading stops until then. */
    c->saved_connect = roost_xmemdup(raw, raw_len);
    c->saved_connect_len = raw_len;
    roost_conn_pause(c->conn, true);
    struct shard *home = broker__shard_for_client_id(b, c->assigned_id, strlen(c->assigned_id));
    if (home != c->shard) {
        client_unlink(c);
        roost_conn_migrate(c->conn, home->loop);
    } else {
        defer_connect(c);
    }
    return CLIENT_PAUSED;
}

struct deferred_connect {
    struct shard *sh;
    uint64_t client_uid;
};

static void request_policies(struct client *c, const struct roost_mqtt_connect *ck);

/* Decodes the CONNECT kept across the wait again (its views point into
 * saved_connect) and carries on: policies first when enforcement is on. */
static void continue_connect(struct client *c)
{
    struct roost_mqtt_packet pkt;
    uint8_t reason;
    roost_arena_reset(&c->arena);
    int n = roost_mqtt_decode(c->saved_connect, c->saved_connect_len, 0,
                              server_max_packet(c->shard->broker), true, &pkt, &c->arena, &reason);
    ROOST_ASSERT(n > 0); /* it decoded before */
    if (c->shard->broker->resolve && !c->authz_ready) {
        request_policies(c, &pkt.u.connect);
        return; /* roost_broker_authz_done brings us back */
    }
    handle_connect_on_home(c, &pkt.u.connect);
    roost_free(c->saved_connect);
    c->saved_connect = NULL;
    if (!c->closing)
        roost_conn_pause(c->conn, false);
}

static void run_deferred_connect(void *arg)
{
    struct deferred_connect *d = arg;
    struct client *c = roost_map_get(&d->sh->clients_by_uid, &d->client_uid, sizeof(d->client_uid));
    roost_free(d);
    if (!c || c->closing || !c->saved_connect)
        return; /* gone meanwhile */
    continue_connect(c);
}

static void defer_connect(struct client *c)
{
    struct deferred_connect *d = roost_xmalloc(sizeof(*d));
    d->sh = c->shard;
    d->client_uid = c->uid;
    roost_loop_defer(c->shard->loop, run_deferred_connect, d);
}

/* ==== PUBLISH and acknowledgements ======================================== */

static bool qos2_in_has(struct session *s, uint16_t id)
{
    for (size_t i = 0; i < s->n_qos2_in; i++)
        if (s->qos2_in[i] == id)
            return true;
    return false;
}

static void qos2_in_add(struct session *s, uint16_t id)
{
    if (s->n_qos2_in == s->cap_qos2_in) {
        s->cap_qos2_in = s->cap_qos2_in ? s->cap_qos2_in * 2 : 8;
        s->qos2_in = roost_xrealloc(s->qos2_in, s->cap_qos2_in * sizeof(*s->qos2_in));
    }
    s->qos2_in[s->n_qos2_in++] = id;
}

static bool qos2_in_remove(struct session *s, uint16_t id)
{
    for (size_t i = 0; i < s->n_qos2_in; i++) {
        if (s->qos2_in[i] == id) {
            s->qos2_in[i] = s->qos2_in[--s->n_qos2_in];
            return true;
        }
    }
    return false;
}

/* Protocol violations answered with a v5 DISCONNECT reason (or a close). */
static int violation(struct client *c, uint8_t reason, const char *why)
{
    roost_log_info("broker", "%s (%s): %s, disconnecting", roost_conn_peer(c->conn)->addr,
                   c->session ? c->session->client_id : "-", why);
    if (!c->disconnect_reason)
        c->disconnect_reason = reason == ROOST_RC_NOT_AUTHORIZED ? "AUTHORIZATION_FAILURE"
                                                                 : "CLIENT_ERROR";
    send_disconnect(c, reason, why);
    c->closing = true;
    roost_conn_close(c->conn, true);
    return 0;
}

static int handle_publish(struct client *c, struct roost_mqtt_publish *p)
{
    struct roost_broker *b = c->shard->broker;
    struct session *s = c->session;
    struct roost_str topic = p->topic;
    bool v5 = c->version == ROOST_MQTT_V5;

    if (v5 && roost_mqtt_prop_has(&p->props, ROOST_PROP_TOPIC_ALIAS)) {
        uint16_t alias = p->props.topic_alias;
        if (alias == 0 || alias > b->cfg.topic_alias_maximum)
            return violation(c, ROOST_RC_TOPIC_ALIAS_INVALID, "topic alias out of range");
        if (!c->aliases)
            c->aliases = roost_xcalloc(b->cfg.topic_alias_maximum + 1u, sizeof(char *));
        if (topic.n) {
            roost_free(c->aliases[alias]);
            c->aliases[alias] = roost_xstrndup(topic.p, topic.n);
        } else if (c->aliases[alias]) {
            topic = roost_str_c(c->aliases[alias]);
        } else {
            return violation(c, ROOST_RC_PROTOCOL_ERROR, "unknown topic alias");
        }
    }
    if (topic.n == 0)
        return violation(c, ROOST_RC_PROTOCOL_ERROR, "empty topic");
    if (topic.n > b->cfg.max_topic)
        return violation(c, ROOST_RC_TOPIC_NAME_INVALID, "topic too long");
    if (p->payload.n > b->cfg.max_payload)
        return violation(c, ROOST_RC_PACKET_TOO_LARGE, "payload too large");
    if (!broker__client_allowed(c, ROOST_AUTHZ_PUBLISH, ROOST_AUTHZ_RES_TOPIC, topic.p, topic.n) ||
        (p->retain && !broker__client_allowed(c, ROOST_AUTHZ_RETAIN_PUBLISH, ROOST_AUTHZ_RES_TOPIC,
                                              topic.p, topic.n))) {
        roost_log_info("broker", "%s: PUBLISH to %.*s not allowed", c->assigned_id, (int)topic.n,
                       topic.p);
        if (!v5 || p->qos == 0)
            return violation(c, ROOST_RC_NOT_AUTHORIZED, "publish not authorized");
        /* MQTT 5 QoS 1/2: refuse this message, keep the connection. */
        if (p->qos == 1)
            c->inbound_unacked++; /* acks_flush gives it back */
        acks_push(c, p->packet_id, p->qos == 2 ? ROOST_MQTT_PUBREC : ROOST_MQTT_PUBACK,
                  ROOST_RC_NOT_AUTHORIZED, true);
        return 0;
    }
    if (p->qos > 0) {
        if (v5 && c->inbound_unacked + s->n_qos2_in >= b->cfg.receive_maximum)
            return violation(c, ROOST_RC_RECEIVE_MAX_EXCEEDED, "receive maximum exceeded");
        if (p->qos == 2 && qos2_in_has(s, p->packet_id)) {
            acks_push(c, p->packet_id, ROOST_MQTT_PUBREC, 0, true);
            return 0;
        }
    }

    uint8_t props_buf[512];
    uint8_t *props = NULL;
    size_t props_len = 0;
    uint64_t expiry_at = 0;
    if (v5 && p->props.present | p->props.n_user) {
        struct roost_mqtt_props fwd = p->props;
        if (roost_mqtt_prop_has(&fwd, ROOST_PROP_MESSAGE_EXPIRY))
            expiry_at = roost_wall_ms() + (uint64_t)fwd.message_expiry * 1000;
        fwd.present &= ~((1ull << ROOST_PROP_TOPIC_ALIAS) | (1ull << ROOST_PROP_MESSAGE_EXPIRY) |
                         (1ull << ROOST_PROP_SUBSCRIPTION_ID));
        fwd.n_sub_ids = 0;
        props_len = roost_mqtt_props_size(&fwd);
        props = props_len <= sizeof(props_buf) ? props_buf : roost_xmalloc(props_len);
        roost_mqtt_props_write(props, &fwd);
    }
    struct roost_msg *m = broker__msg_create(topic.p, topic.n, p->payload.p, p->payload.n, props,
                                             props_len, p->qos, p->retain);
    if (props && props != props_buf)
        roost_free(props);
    m->expiry_at_ms = expiry_at;
    m->origin = s->uid;

    bool consumed = false;
    for (size_t i = 0; i < b->n_services; i++) {
        if (topic.n >= b->services[i].prefix_len &&
            memcmp(topic.p, b->services[i].prefix, b->services[i].prefix_len) == 0) {
            const struct roost_peer *peer = roost_conn_peer(c->conn);
            struct roost_broker_request req = {
                .topic = m->topic, .topic_len = m->topic_len, .payload = m->payload,
                .payload_len = m->payload_len, .qos = p->qos, .client_id = s->client_id,
                .cert_id = peer->has_cert ? peer->cert_id : NULL, .session_uid = s->uid};
            b->services[i].fn(b->services[i].ud, &req);
            consumed |= b->services[i].consume;
        }
    }
    uint8_t ack_type = p->qos == 2 ? ROOST_MQTT_PUBREC : ROOST_MQTT_PUBACK;
    struct session *congested = NULL;
    bool deferred = !consumed && broker__route(c->shard, m, c->uid, p->qos ? p->packet_id : 0,
                                               ack_type, &congested);
    broker__msg_unref(&m);
    if (p->qos == 1) {
        c->inbound_unacked++;
        acks_push(c, p->packet_id, ROOST_MQTT_PUBACK, 0, !deferred);
    } else if (p->qos == 2) {
        qos2_in_add(s, p->packet_id);
        acks_push(c, p->packet_id, ROOST_MQTT_PUBREC, 0, !deferred);
    }
    if (congested) {
        /* A subscriber cannot keep up: stop reading this publisher (TCP pushes
         * back to it) until that session drains, for at most a second. */
        broker__session_wait_drain(congested, c->shard, c->uid);
        broker__session_unref(&congested);
        c->congestion_paused = true;
        c->paused_at_ms = roost_now_ms();
        roost_conn_pause(c->conn, true);
        return CLIENT_PAUSED;
    }
    return 0;
}

void broker__client_resume(struct shard *sh, uint64_t client_uid)
{
    struct client *c = roost_map_get(&sh->clients_by_uid, &client_uid, sizeof(client_uid));
    if (!c || !c->congestion_paused || c->closing)
        return;
    c->congestion_paused = false;
    roost_conn_pause(c->conn, false);
}

static int handle_ack(struct client *c, const struct roost_mqtt_packet *pkt)
{
    struct session *s = c->session;
    uint16_t id = pkt->u.ack.packet_id;
    if (pkt->type == ROOST_MQTT_PUBREL) {
        bool known = qos2_in_remove(s, id);
        struct roost_mqtt_ack a = {.packet_id = id,
                                   .reason = known ? 0 : ROOST_RC_PACKET_ID_NOT_FOUND};
        roost_mqtt_encode_ack(roost_conn_out(c->conn), c->version, ROOST_MQTT_PUBCOMP, &a);
        roost_conn_flush(c->conn);
        return 0;
    }
    if (pkt->type == ROOST_MQTT_PUBREC && pkt->u.ack.reason >= 0x80) {
        /* The receiver refused it: the QoS 2 flow ends here. */
        broker__session_ack(s, id, ROOST_MQTT_PUBCOMP);
        return 0;
    }
    int rc = broker__session_ack(s, id, pkt->type);
    if (rc == ROOST_EPROTO)
        return violation(c, ROOST_RC_PROTOCOL_ERROR, "acknowledgement of the wrong type");
    if (rc == ROOST_ENOTFOUND && pkt->type == ROOST_MQTT_PUBREC) {
        struct roost_mqtt_ack a = {.packet_id = id, .reason = ROOST_RC_PACKET_ID_NOT_FOUND};
        roost_mqtt_encode_ack(roost_conn_out(c->conn), c->version, ROOST_MQTT_PUBREL, &a);
        roost_conn_flush(c->conn);
    }
    return 0;
}

/* ==== SUBSCRIBE / UNSUBSCRIBE ============================================= */

struct sub_op {
    struct shard *sh;
    uint64_t client_uid;
    struct session *session;   /* a reference */
    uint16_t packet_id;
    bool unsubscribe;
    int pending;
    size_t n;                  /* reason codes to send */
    size_t n_items;            /* SUBSCRIBE filters kept for retained delivery */
    uint8_t *reasons;
    struct {
        char *filter;
        struct roost_mqtt_sub_opts opts;
        uint32_t sub_id;
        bool is_new;
        bool ok;
    } *items;
};

static void sub_op_finish(void *ud)
{
    struct sub_op *op = ud;
    struct client *c = roost_map_get(&op->sh->clients_by_uid, &op->client_uid,
                                     sizeof(op->client_uid));
    if (c && !c->closing && c->session == op->session) {
        struct roost_mqtt_suback sa = {.packet_id = op->packet_id, .reasons = op->reasons,
                                       .n_reasons = op->n};
        if (op->unsubscribe)
            roost_mqtt_encode_unsuback(roost_conn_out(c->conn), c->version, &sa);
        else
            roost_mqtt_encode_suback(roost_conn_out(c->conn), c->version, &sa);
        roost_conn_flush(c->conn);
        if (!op->unsubscribe) {
            for (size_t i = 0; i < op->n_items; i++) {
                struct roost_str g, f;
                if (!op->items[i].ok || roost_mqtt_filter_shared(roost_str_c(op->items[i].filter), &g, &f))
                    continue;
                uint8_t rh = op->items[i].opts.retain_handling;
                if (rh == 0 || (rh == 1 && op->items[i].is_new))
                    broker__retain_deliver(op->sh, op->session, op->items[i].filter,
                                           op->items[i].opts, op->items[i].sub_id);
            }
        }
    }
    for (size_t i = 0; i < op->n_items; i++)
        roost_free(op->items[i].filter);
    roost_free(op->items);
    roost_free(op->reasons);
    broker__session_unref(&op->session);
    roost_free(op);
}

static void store_sub(struct session *s, const char *filter, bool put, uint8_t options,
                      uint32_t sub_id)
{
    struct roost_store *st = s->home->broker->store;
    if (!st || !atomic_load(&s->persistent))
        return;
    size_t flen = strlen(filter);
    struct roost_store_op *op = roost_xcalloc(1, sizeof(*op) + s->client_id_len + flen + 2);
    char *cid = (char *)(op + 1);
    memcpy(cid, s->client_id, s->client_id_len + 1);
    char *f = cid + s->client_id_len + 1;
    memcpy(f, filter, flen + 1);
    op->type = put ? ROOST_STORE_SUB_PUT : ROOST_STORE_SUB_DEL;
    op->u.sub.client_id = cid;
    op->u.sub.filter = f;
    op->u.sub.options = options;
    op->u.sub.sub_id = sub_id;
    roost_store_submit(st, op);
}

static uint8_t options_byte(struct roost_mqtt_sub_opts o)
{
    return (uint8_t)(o.qos | (o.no_local ? 0x04 : 0) | (o.retain_as_published ? 0x08 : 0) |
                     (o.retain_handling << 4));
}

static int handle_subscribe(struct client *c, const struct roost_mqtt_subscribe *sub)
{
    struct roost_broker *b = c->shard->broker;
    struct session *s = c->session;
    bool v5 = c->version == ROOST_MQTT_V5;
    uint32_t sub_id = v5 && sub->props.n_sub_ids ? sub->props.sub_ids[0] : 0;

    struct sub_op *op = roost_xcalloc(1, sizeof(*op));
    op->sh = c->shard;
    op->client_uid = c->uid;
    roost_ref_get(&s->ref);
    op->session = s;
    op->packet_id = sub->packet_id;
    op->n = op->n_items = sub->n_topics;
    op->reasons = roost_xcalloc(op->n, 1);
    op->items = roost_xcalloc(op->n, sizeof(*op->items));
    for (size_t i = 0; i < sub->n_topics; i++) {
        const struct roost_mqtt_topic_req *t = &sub->topics[i];
        op->items[i].filter = roost_xstrndup(t->filter.p, t->filter.n);
        op->items[i].opts = t->opts;
        op->items[i].sub_id = sub_id;
        if (t->filter.n > b->cfg.max_topic) {
            op->reasons[i] = v5 ? ROOST_RC_TOPIC_FILTER_INVALID : 0x80;
            continue;
        }
        if (!broker__client_allowed(c, ROOST_AUTHZ_SUBSCRIBE, ROOST_AUTHZ_RES_TOPICFILTER,
                                    t->filter.p, t->filter.n)) {
            roost_log_info("broker", "%s: SUBSCRIBE to %.*s not allowed", c->assigned_id,
                           (int)t->filter.n, t->filter.p);
            op->reasons[i] = v5 ? ROOST_RC_NOT_AUTHORIZED : 0x80;
            continue;
        }
        op->reasons[i] = t->opts.qos;
        op->items[i].ok = true;
        struct sub_record *r = roost_map_get(&s->subs, t->filter.p, t->filter.n);
        op->items[i].is_new = r == NULL;
        if (!r) {
            r = roost_xcalloc(1, sizeof(*r));
            r->filter = roost_xstrdup(op->items[i].filter);
            roost_map_put(&s->subs, t->filter.p, t->filter.n, r);
        }
        r->opts = t->opts;
        r->sub_id = sub_id;
        store_sub(s, r->filter, true, options_byte(t->opts), sub_id);
        broker__sub_propagate(c->shard, s, r->filter, true, t->opts, sub_id, &op->pending,
                              sub_op_finish, op);
    }
    const char *granted[64];
    size_t n_granted = 0;
    for (size_t i = 0; i < op->n_items && n_granted < ROOST_ARRAY_LEN(granted); i++)
        if (op->items[i].ok)
            granted[n_granted++] = op->items[i].filter;
    broker__event_subscriptions(c, true, granted, n_granted);
    if (op->pending == 0)
        sub_op_finish(op);
    return 0;
}

static int handle_unsubscribe(struct client *c, const struct roost_mqtt_unsubscribe *u)
{
    struct session *s = c->session;
    struct sub_op *op = roost_xcalloc(1, sizeof(*op));
    op->sh = c->shard;
    op->client_uid = c->uid;
    roost_ref_get(&s->ref);
    op->session = s;
    op->packet_id = u->packet_id;
    op->unsubscribe = true;
    op->n = c->version == ROOST_MQTT_V5 ? u->n_filters : 0;
    op->reasons = roost_xcalloc(u->n_filters, 1);
    for (size_t i = 0; i < u->n_filters; i++) {
        struct sub_record *r = roost_map_del(&s->subs, u->filters[i].p, u->filters[i].n);
        if (!r) {
            op->reasons[i] = ROOST_RC_NO_SUBSCRIPTION_EXISTED;
            continue;
        }
        store_sub(s, r->filter, false, 0, 0);
        broker__sub_propagate(c->shard, s, r->filter, false, r->opts, 0, &op->pending,
                              sub_op_finish, op);
        const char *gone = r->filter;
        broker__event_subscriptions(c, false, &gone, 1);
        roost_free(r->filter);
        roost_free(r);
    }
    if (op->pending == 0)
        sub_op_finish(op);
    return 0;
}

/* ==== DISCONNECT ========================================================== */

static void client_detach(struct client *c, int rc);

static int handle_disconnect(struct client *c, const struct roost_mqtt_disconnect *d)
{
    struct session *s = c->session;
    if (c->version == ROOST_MQTT_V5 && roost_mqtt_prop_has(&d->props, ROOST_PROP_SESSION_EXPIRY)) {
        if (s->expiry_interval == 0 && d->props.session_expiry != 0)
            return violation(c, ROOST_RC_PROTOCOL_ERROR, "session expiry set after 0");
        s->expiry_interval = ROOST_MIN(d->props.session_expiry, c->shard->broker->cfg.session_expiry_max);
        atomic_store(&s->persistent, s->expiry_interval > 0);
    }
    c->graceful = !(c->version == ROOST_MQTT_V5 && d->reason == ROOST_RC_DISCONNECT_WITH_WILL);
    c->disconnect_reason = "CLIENT_INITIATED_DISCONNECT";
    c->closing = true;
    /* Leave the session now, not when the socket is gone: a reconnect may
     * already be queued behind this packet. */
    client_detach(c, 0);
    roost_conn_close(c->conn, true);
    return 0;
}

/* ==== Packet dispatch ===================================================== */

static int handle_packet(struct client *c, struct roost_mqtt_packet *pkt, const uint8_t *raw,
                         size_t raw_len)
{
    if (pkt->type == ROOST_MQTT_CONNECT) {
        if (c->connected)
            return violation(c, ROOST_RC_PROTOCOL_ERROR, "second CONNECT");
        return handle_connect(c, pkt, raw, raw_len);
    }
    if (!c->connected)
        return violation(c, ROOST_RC_PROTOCOL_ERROR, "packet before CONNECT");
    switch (pkt->type) {
    case ROOST_MQTT_PUBLISH:
        return handle_publish(c, &pkt->u.publish);
    case ROOST_MQTT_PUBACK:
    case ROOST_MQTT_PUBREC:
    case ROOST_MQTT_PUBREL:
    case ROOST_MQTT_PUBCOMP:
        return handle_ack(c, pkt);
    case ROOST_MQTT_SUBSCRIBE:
        return handle_subscribe(c, &pkt->u.subscribe);
    case ROOST_MQTT_UNSUBSCRIBE:
        return handle_unsubscribe(c, &pkt->u.unsubscribe);
    case ROOST_MQTT_PINGREQ:
        roost_mqtt_encode_pingresp(roost_conn_out(c->conn));
        roost_conn_flush(c->conn);
        return 0;
    case ROOST_MQTT_DISCONNECT:
        return handle_disconnect(c, &pkt->u.disconnect);
    case ROOST_MQTT_AUTH:
        return violation(c, ROOST_RC_BAD_AUTH_METHOD, "enhanced authentication not supported");
    default:
        return violation(c, ROOST_RC_PROTOCOL_ERROR, "unexpected packet type");
    }
}

static int process_packet_bytes(struct client *c, const uint8_t *buf, size_t len,
                                size_t *out_used)
{
    struct roost_broker *b = c->shard->broker;
    struct roost_mqtt_packet pkt;
    uint8_t reason = ROOST_RC_MALFORMED;
    roost_arena_reset(&c->arena);
    int n = roost_mqtt_decode(buf, len, c->connected ? c->version : 0, server_max_packet(b), true,
                              &pkt, &c->arena, &reason);
    if (n == ROOST_EAGAIN) {
        *out_used = 0;
        return ROOST_EAGAIN;
    }
    if (n < 0) {
        if (n == ROOST_EVERSION && !c->connected) {
            /* Unknown protocol level: the 3.1.1 refusal, which every version reads. */
            c->version = ROOST_MQTT_V311;
            refuse_connect(c, ROOST_RC_UNSUPPORTED_VERSION, ROOST_CONNACK311_BAD_VERSION);
            return n;
        }
        roost_log_info("broker", "%s: bad packet (%s), reason 0x%02x",
                       roost_conn_peer(c->conn)->addr, roost_errname(n), reason);
        if (c->connected)
            send_disconnect(c, reason, roost_strerror(n));
        c->closing = true;
        roost_conn_close(c->conn, true);
        return n;
    }
    *out_used = (size_t)n;
    c->last_rx_ms = roost_now_ms();
    return handle_packet(c, &pkt, buf, (size_t)n);
}

/* ==== Connection handler callbacks ======================================== */

static void *client_open(void *ud, struct roost_conn *conn)
{
    struct roost_broker *b = ud;
    struct shard *sh = roost_loop_user(roost_conn_loop(conn));
    struct client *c = roost_xcalloc(1, sizeof(*c));
    c->uid = atomic_fetch_add(&b->next_uid, 1);
    c->conn = conn;
    c->created_ms = c->last_rx_ms = roost_now_ms();
    roost_arena_init(&c->arena, c->arena_inline, sizeof(c->arena_inline));
    client_link(sh, c);
    return c;
}

static int client_data(void *state, struct roost_conn *conn, struct roost_buf *in)
{
    struct client *c = state;
    ROOST_UNUSED(conn);
    while (roost_buf_size(in) && !c->closing) {
        size_t used = 0;
        int rc = process_packet_bytes(c, roost_buf_head(in), roost_buf_size(in), &used);
        if (rc == ROOST_EAGAIN)
            break;
        if (used)
            roost_buf_consume(in, used);
        if (rc == CLIENT_PAUSED)
            return 0;
        if (rc < 0)
            return 0; /* already closing, with the right answer queued */
    }
    return 0;
}

static void client_migrated(void *state, struct roost_conn *conn)
{
    struct client *c = state;
    struct shard *sh = roost_loop_user(roost_conn_loop(conn));
    client_link(sh, c);
    defer_connect(c);
}

/* Ends the client's hold on its session: the will (unless the client said
 * goodbye) and the session going offline or away. Runs once per client. */
static void client_detach(struct client *c, int rc)
{
    struct shard *sh = c->shard;
    struct roost_broker *b = sh->broker;
    bool shutting_down = atomic_load(&b->shutting_down);
    struct session *s = c->session;
    if (c->detached)
        return;
    c->detached = true;
    if (c->connected) {
        if (shutting_down)
            c->disconnect_reason = "SERVER_INITIATED_DISCONNECT";
        broker__event_disconnected(c);
    }
    if (c->connected && !c->graceful && c->will && !shutting_down) {
        roost_log_debug("broker", "%s: connection lost (%s), will goes", c->assigned_id,
                        roost_errname(rc));
        if (s && c->will_delay && atomic_load(&s->persistent) && s->expiry_interval) {
            broker__msg_unref(&s->will);
            s->will = c->will;
            c->will = NULL;
            s->will_at_ms = roost_now_ms() + (uint64_t)c->will_delay * 1000;
        } else {
            broker__route(sh, c->will, 0, 0, 0, NULL);
        }
    }
    broker__msg_unref(&c->will);
    if (s && s->client == c) {
        if (shutting_down && atomic_load(&s->persistent)) {
            s->client = NULL;
            atomic_store(&s->online, false);
            broker__session_store_put(s);
        } else {
            broker__session_went_offline(s);
        }
    }
    c->session = NULL;
}

static void client_closed(void *state, int rc)
{
    struct client *c = state;
    struct shard *sh = c->shard;
    struct roost_broker *b = sh->broker;
    client_unlink(c);
    client_detach(c, rc);
    if (c->connected)
        atomic_fetch_sub(&b->stat_connected, 1);
    if (c->aliases) {
        for (unsigned i = 0; i <= b->cfg.topic_alias_maximum; i++)
            roost_free(c->aliases[i]);
        roost_free(c->aliases);
    }
    roost_authz_bound_unref(&c->authz);
    roost_free(c->acks);
    roost_free(c->saved_connect);
    roost_free(c->assigned_id);
    roost_arena_cleanup(&c->arena);
    roost_free(c);
}

void broker__client_handler_init(struct roost_broker *b, struct roost_conn_handler *h)
{
    h->open = client_open;
    h->data = client_data;
    h->closed = client_closed;
    h->migrated = client_migrated;
    h->ud = b;
}

/* Keep-alive (1.5x) and CONNECT deadline for this shard's connections. */
void broker__clients_tick(struct shard *sh, uint64_t now)
{
    uint32_t connect_timeout_ms = sh->broker->cfg.connect_timeout_s * 1000;
    for (struct client *c = sh->clients, *next; c; c = next) {
        next = c->next;
        if (c->closing)
            continue;
        if (!c->connected) {
            if (connect_timeout_ms && now - c->created_ms > connect_timeout_ms) {
                roost_log_info("broker", "%s: no CONNECT in time, closing",
                               roost_conn_peer(c->conn)->addr);
                c->closing = true;
                roost_conn_close(c->conn, false);
            }
            continue;
        }
        if (c->congestion_paused && now - c->paused_at_ms > 1000)
            broker__client_resume(sh, c->uid); /* a stalled subscriber cannot hold it longer */
        else if (c->congestion_paused)
            c->last_rx_ms = now; /* not reading is our choice, not the client's silence */
        if (c->keep_alive && now - c->last_rx_ms > (uint64_t)c->keep_alive * 1500) {
            roost_log_info("broker", "%s: keep-alive expired", c->assigned_id);
            c->disconnect_reason = "MQTT_KEEP_ALIVE_TIMEOUT";
            broker__client_kick(c, ROOST_RC_KEEP_ALIVE_TIMEOUT);
        }
    }
}

/* ==== Revocation ========================================================== */

struct kick_cert {
    struct roost_broker *b;
    char cert_id[65];
    atomic_int pending;
};

static void kick_cert_on_loop(void *arg)
{
    struct kick_cert *k = arg;
    struct shard *sh = roost_loop_user(roost_loop_current());
    for (struct client *c = sh->clients, *next; c; c = next) {
        next = c->next;
        const struct roost_peer *p = roost_conn_peer(c->conn);
        if (p->has_cert && strcmp(p->cert_id, k->cert_id) == 0) {
            roost_log_info("broker", "%s: certificate %.12s... no longer active, disconnecting",
                           c->assigned_id ? c->assigned_id : p->addr, k->cert_id);
            c->disconnect_reason = "AUTHORIZATION_FAILURE";
            broker__client_kick(c, ROOST_RC_ADMIN_ACTION);
        }
    }
    if (atomic_fetch_sub(&k->pending, 1) == 1)
        roost_free(k);
}

void roost_broker_disconnect_cert(struct roost_broker *b, const char *cert_id)
{
    struct kick_cert *k = roost_xcalloc(1, sizeof(*k));
    k->b = b;
    snprintf(k->cert_id, sizeof(k->cert_id), "%s", cert_id);
    atomic_init(&k->pending, (int)b->n_shards);
    for (unsigned i = 0; i < b->n_shards; i++)
        roost_loop_post(b->shards[i]->loop, kick_cert_on_loop, k);
}

/* ==== Authorization ======================================================= */

const char *broker__client_ip(const struct client *c, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s", roost_conn_peer(c->conn)->addr);
    char *colon = strrchr(buf, ':'); /* "ip:port"; IPv4-mapped "::ffff:a.b.c.d:port" */
    if (colon)
        *colon = '\0';
    return strncmp(buf, "::ffff:", 7) == 0 ? buf + 7 : buf;
}

bool broker__client_allowed(const struct client *c, enum roost_authz_action action,
                            enum roost_authz_rtype type, const char *name, size_t len)
{
    if (!c->shard->broker->resolve || c->authz_all)
        return true;
    if (!c->authz)
        return false;
    struct roost_authz_decision d;
    return roost_authz_check(c->authz, action, type, name, len, &d);
}

struct roost_broker_authz_request {
    struct roost_broker *b;
    struct shard *sh;
    uint64_t client_uid;
    uint32_t gen;
    struct roost_authz_bound *bound;
    bool allow_all;
};

static void start_resolve(struct client *c, const char *client_id, bool persistent,
                          const char *will_topic)
{
    struct roost_broker *b = c->shard->broker;
    const struct roost_peer *peer = roost_conn_peer(c->conn);
    char ip[64];
    const char *src = broker__client_ip(c, ip, sizeof(ip));
    struct roost_broker_authz_request *req = roost_xcalloc(1, sizeof(*req));
    req->b = b;
    req->sh = c->shard;
    req->client_uid = c->uid;
    req->gen = ++c->authz_gen;
    struct roost_broker_identity id = {
        .client_id = client_id,
        .cert_id = peer->has_cert ? peer->cert_id : NULL,
        .source_ip = src,
        .persistent = persistent,
        .will_topic = will_topic,
    };
    b->resolve(b->resolve_ud, &id, req);
}

static void request_policies(struct client *c, const struct roost_mqtt_connect *ck)
{
    bool persistent = c->version == ROOST_MQTT_V5
                          ? roost_mqtt_prop_has(&ck->props, ROOST_PROP_SESSION_EXPIRY) &&
                                ck->props.session_expiry > 0
                          : !ck->clean_start;
    char *will = ck->has_will ? roost_xstrndup(ck->will_topic.p, ck->will_topic.n) : NULL;
    start_resolve(c, c->assigned_id, persistent, will);
    roost_free(will);
}

static void authz_done_on_loop(void *arg)
{
    struct roost_broker_authz_request *req = arg;
    struct client *c = roost_map_get(&req->sh->clients_by_uid, &req->client_uid,
                                     sizeof(req->client_uid));
    if (!c || c->closing || req->gen != c->authz_gen) {
        roost_authz_bound_unref(&req->bound); /* gone, or a newer resolve is under way */
        roost_free(req);
        return;
    }
    roost_authz_bound_unref(&c->authz);
    c->authz = req->bound;
    c->authz_all = req->allow_all;
    bool first = !c->authz_ready;
    c->authz_ready = true;
    roost_free(req);
    if (first && c->saved_connect) {
        continue_connect(c);
        return;
    }
    if (c->connected && !broker__client_allowed(c, ROOST_AUTHZ_CONNECT, ROOST_AUTHZ_RES_CLIENT,
                                                c->assigned_id, strlen(c->assigned_id))) {
        roost_log_info("broker", "%s: iot:Connect no longer allowed, disconnecting",
                       c->assigned_id);
        c->disconnect_reason = "AUTHORIZATION_FAILURE";
        broker__client_kick(c, ROOST_RC_NOT_AUTHORIZED);
    }
}

void roost_broker_authz_done(struct roost_broker_authz_request *req, struct roost_authz_bound *bound,
                             bool allow_all)
{
    req->bound = bound;
    req->allow_all = allow_all;
    if (atomic_load(&req->b->shutting_down)) {
        roost_authz_bound_unref(&req->bound);
        roost_free(req);
        return;
    }
    roost_loop_post(req->sh->loop, authz_done_on_loop, req);
}

void roost_broker_set_authorizer(struct roost_broker *b, roost_broker_resolve_fn fn, void *ud)
{
    b->resolve = fn;
    b->resolve_ud = ud;
}

/* Re-resolves this loop's connected clients: all, or (cert != NULL) those
 * of one certificate. */
static void reresolve_clients(struct shard *sh, const char *cert)
{
    for (struct client *c = sh->clients; c; c = c->next) {
        if (!c->connected || c->closing || !c->session)
            continue;
        if (cert) {
            const struct roost_peer *p = roost_conn_peer(c->conn);
            if (!p->has_cert || strcmp(p->cert_id, cert) != 0)
                continue;
        }
        start_resolve(c, c->assigned_id, atomic_load(&c->session->persistent),
                      c->will ? c->will->topic : NULL);
    }
}

static void reresolve_on_loop(void *arg)
{
    ROOST_UNUSED(arg);
    reresolve_clients(roost_loop_user(roost_loop_current()), NULL);
}

/* Shared by the loops it is posted to; the last one frees it. */
struct reresolve_cert {
    char cert_id[65];
    atomic_int pending;
};

static void reresolve_cert_on_loop(void *arg)
{
    struct reresolve_cert *r = arg;
    reresolve_clients(roost_loop_user(roost_loop_current()), r->cert_id);
    if (atomic_fetch_sub(&r->pending, 1) == 1)
        roost_free(r);
}

void roost_broker_policies_changed_cert(struct roost_broker *b, const char *cert_id)
{
    if (!b->resolve || atomic_load(&b->shutting_down) || !cert_id)
        return;
    struct reresolve_cert *r = roost_xcalloc(1, sizeof(*r));
    snprintf(r->cert_id, sizeof(r->cert_id), "%s", cert_id);
    atomic_init(&r->pending, (int)b->n_shards);
    for (unsigned i = 0; i < b->n_shards; i++)
        roost_loop_post(b->shards[i]->loop, reresolve_cert_on_loop, r);
}

void roost_broker_policies_changed(struct roost_broker *b)
{
    if (!b->resolve || atomic_load(&b->shutting_down))
        return;
    for (unsigned i = 0; i < b->n_shards; i++)
        roost_loop_post(b->shards[i]->loop, reresolve_on_loop, b);
}
