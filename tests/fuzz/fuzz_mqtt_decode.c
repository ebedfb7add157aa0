/*
 * fuzz_mqtt_decode.c - libFuzzer target for roost_mqtt_decode. The first
 * byte picks the connection version (0, 3.1, 3.1.1, 5), the direction and a
 * size limit; the rest is decoded packet after packet, as a connection would.
 * Whatever decodes is re-encoded, decoded again and compared field by field,
 * and re-encoding that must give the same bytes. Errors must carry a reason
 * code, and no decode may depend on bytes past the packet it reports.
 */
#include "mqtt/mqtt.h"

#include <stdio.h>
#include <stdlib.h>

#define FUZZ_CHECK(cond)                                                       \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            abort();                                                           \
        }                                                                      \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool str_same(struct roost_str a, struct roost_str b)
{
    return roost_str_eq(a, b);
}

static bool props_same(const struct roost_mqtt_props *a, const struct roost_mqtt_props *b)
{
    if (a->present != b->present || a->n_sub_ids != b->n_sub_ids || a->n_user != b->n_user)
        return false;
    if (a->n_sub_ids && memcmp(a->sub_ids, b->sub_ids, a->n_sub_ids * sizeof(a->sub_ids[0])))
        return false;
    for (size_t i = 0; i < a->n_user; i++) {
        if (!str_same(a->user[i].key, b->user[i].key) ||
            !str_same(a->user[i].value, b->user[i].value))
            return false;
    }
    /* Absent fields are zero after decoding, so comparing all is exact. */
    return a->payload_format == b->payload_format && a->message_expiry == b->message_expiry &&
           str_same(a->content_type, b->content_type) &&
           str_same(a->response_topic, b->response_topic) &&
           str_same(a->correlation_data, b->correlation_data) &&
           a->session_expiry == b->session_expiry &&
           str_same(a->assigned_client_id, b->assigned_client_id) &&
           a->server_keep_alive == b->server_keep_alive &&
           str_same(a->auth_method, b->auth_method) && str_same(a->auth_data, b->auth_data) &&
           a->request_problem_info == b->request_problem_info &&
           a->will_delay == b->will_delay &&
           a->request_response_info == b->request_response_info &&
           str_same(a->response_info, b->response_info) &&
           str_same(a->server_reference, b->server_reference) &&
           str_same(a->reason_string, b->reason_string) &&
           a->receive_maximum == b->receive_maximum &&
           a->topic_alias_maximum == b->topic_alias_maximum && a->topic_alias == b->topic_alias &&
           a->maximum_qos == b->maximum_qos && a->retain_available == b->retain_available &&
           a->maximum_packet_size == b->maximum_packet_size &&
           a->wildcard_sub_available == b->wildcard_sub_available &&
           a->sub_id_available == b->sub_id_available &&
           a->shared_sub_available == b->shared_sub_available;
}

static bool packet_same(const struct roost_mqtt_packet *a, const struct roost_mqtt_packet *b)
{
    if (a->type != b->type || a->flags != b->flags)
        return false;
    switch (a->type) {
    case ROOST_MQTT_CONNECT: {
        const struct roost_mqtt_connect *x = &a->u.connect, *y = &b->u.connect;
        return x->protocol_level == y->protocol_level && x->clean_start == y->clean_start &&
               x->keep_alive == y->keep_alive && str_same(x->client_id, y->client_id) &&
               x->has_will == y->has_will && x->will_qos == y->will_qos &&
               x->will_retain == y->will_retain && str_same(x->will_topic, y->will_topic) &&
               str_same(x->will_payload, y->will_payload) &&
               props_same(&x->will_props, &y->will_props) &&
               x->has_username == y->has_username && str_same(x->username, y->username) &&
               x->has_password == y->has_password && str_same(x->password, y->password) &&
               props_same(&x->props, &y->props);
    }
    case ROOST_MQTT_CONNACK:
        return a->u.connack.session_present == b->u.connack.session_present &&
               a->u.connack.reason == b->u.connack.reason &&
               props_same(&a->u.connack.props, &b->u.connack.props);
    case ROOST_MQTT_PUBLISH: {
        const struct roost_mqtt_publish *x = &a->u.publish, *y = &b->u.publish;
        return x->dup == y->dup && x->qos == y->qos && x->retain == y->retain &&
               str_same(x->topic, y->topic) && x->packet_id == y->packet_id &&
               props_same(&x->props, &y->props) && str_same(x->payload, y->payload);
    }
    case ROOST_MQTT_PUBACK:
    case ROOST_MQTT_PUBREC:
    case ROOST_MQTT_PUBREL:
    case ROOST_MQTT_PUBCOMP:
        return a->u.ack.packet_id == b->u.ack.packet_id && a->u.ack.reason == b->u.ack.reason &&
               props_same(&a->u.ack.props, &b->u.ack.props);
    case ROOST_MQTT_SUBSCRIBE: {
        const struct roost_mqtt_subscribe *x = &a->u.subscribe, *y = &b->u.subscribe;
        if (x->packet_id != y->packet_id || x->n_topics != y->n_topics ||
            !props_same(&x->props, &y->props))
            return false;
        for (size_t i = 0; i < x->n_topics; i++) {
            const struct roost_mqtt_topic_req *s = &x->topics[i], *t = &y->topics[i];
            if (!str_same(s->filter, t->filter) || s->opts.qos != t->opts.qos ||
                s->opts.no_local != t->opts.no_local ||
                s->opts.retain_as_published != t->opts.retain_as_published ||
                s->opts.retain_handling != t->opts.retain_handling)
                return false;
        }
        return true;
    }
    case ROOST_MQTT_SUBACK:
    case ROOST_MQTT_UNSUBACK: {
        const struct roost_mqtt_suback *x = &a->u.suback, *y = &b->u.suback;
        return x->packet_id == y->packet_id && x->n_reasons == y->n_reasons &&
               (x->n_reasons == 0 || memcmp(x->reasons, y->reasons, x->n_reasons) == 0) &&
               props_same(&x->props, &y->props);
    }
    case ROOST_MQTT_UNSUBSCRIBE: {
        const struct roost_mqtt_unsubscribe *x = &a->u.unsubscribe, *y = &b->u.unsubscribe;
        if (x->packet_id != y->packet_id || x->n_filters != y->n_filters ||
            !props_same(&x->props, &y->props))
            return false;
        for (size_t i = 0; i < x->n_filters; i++) {
            if (!str_same(x->filters[i], y->filters[i]))
                return false;
        }
        return true;
    }
    case ROOST_MQTT_PINGREQ:
    case ROOST_MQTT_PINGRESP:
        return true;
    case ROOST_MQTT_DISCONNECT:
    case ROOST_MQTT_AUTH:
        return a->u.disconnect.reason == b->u.disconnect.reason &&
               props_same(&a->u.disconnect.props, &b->u.disconnect.props);
    }
    return false;
}

static int encode_packet(struct roost_buf *b, uint8_t version, const struct roost_mqtt_packet *p)
{
    switch (p->type) {
    case ROOST_MQTT_CONNECT:
        return roost_mqtt_encode_connect(b, &p->u.connect);
    case ROOST_MQTT_CONNACK:
        return roost_mqtt_encode_connack(b, version, &p->u.connack);
    case ROOST_MQTT_PUBLISH:
        return roost_mqtt_encode_publish(b, version, &p->u.publish);
    case ROOST_MQTT_PUBACK:
    case ROOST_MQTT_PUBREC:
    case ROOST_MQTT_PUBREL:
    case ROOST_MQTT_PUBCOMP:
        return roost_mqtt_encode_ack(b, version, p->type, &p->u.ack);
    case ROOST_MQTT_SUBSCRIBE:
        return roost_mqtt_encode_subscribe(b, version, &p->u.subscribe);
    case ROOST_MQTT_SUBACK:
        return roost_mqtt_encode_suback(b, version, &p->u.suback);
    case ROOST_MQTT_UNSUBSCRIBE:
        return roost_mqtt_encode_unsubscribe(b, version, &p->u.unsubscribe);
    case ROOST_MQTT_UNSUBACK:
        return roost_mqtt_encode_unsuback(b, version, &p->u.suback);
    case ROOST_MQTT_PINGREQ:
        return roost_mqtt_encode_pingreq(b);
    case ROOST_MQTT_PINGRESP:
        return roost_mqtt_encode_pingresp(b);
    case ROOST_MQTT_DISCONNECT:
        return roost_mqtt_encode_disconnect(b, version, &p->u.disconnect);
    case ROOST_MQTT_AUTH:
        return roost_mqtt_encode_auth(b, &p->u.disconnect);
    }
    return ROOST_EINVAL;
}

static bool inside(struct roost_str s, const uint8_t *buf, size_t n)
{
    return s.n == 0 || ((const uint8_t *)s.p >= buf && (const uint8_t *)s.p + s.n <= buf + n);
}

/* Encode, decode again, compare; then encoding is a fixed point. */
static void check_roundtrip(const struct roost_mqtt_packet *p, uint8_t version, bool from_client)
{
    struct roost_buf b1, b2;
    struct roost_arena a;
    struct roost_mqtt_packet q;
    uint8_t enc_version = p->type == ROOST_MQTT_CONNECT ? p->u.connect.protocol_level : version;
    uint8_t dec_version = p->type == ROOST_MQTT_CONNECT ? 0 : version;

    roost_buf_init(&b1, 0);
    roost_buf_init(&b2, 0);
    roost_arena_init(&a, NULL, 0);
    FUZZ_CHECK(encode_packet(&b1, enc_version, p) == 0);
    int rc = roost_mqtt_decode(roost_buf_head(&b1), roost_buf_size(&b1), dec_version, 0,
                               from_client, &q, &a, NULL);
    FUZZ_CHECK(rc == (int)roost_buf_size(&b1));
    FUZZ_CHECK(packet_same(p, &q));
    FUZZ_CHECK(encode_packet(&b2, enc_version, &q) == 0);
    FUZZ_CHECK(roost_buf_size(&b1) == roost_buf_size(&b2));
    FUZZ_CHECK(memcmp(roost_buf_head(&b1), roost_buf_head(&b2), roost_buf_size(&b1)) == 0);
    roost_buf_cleanup(&b1);
    roost_buf_cleanup(&b2);
    roost_arena_cleanup(&a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint8_t versions[4] = {0, ROOST_MQTT_V311, ROOST_MQTT_V5, ROOST_MQTT_V31};
    if (size < 1)
        return 0;
    uint8_t sel = data[0];
    uint8_t version = versions[sel & 3];
    bool from_client = !(sel & 4);
    uint32_t max_packet = (sel & 8) ? 64 : 0;
    const uint8_t *buf = data + 1;
    size_t len = size - 1;

    uint8_t inline_buf[512];
    struct roost_arena a;
    roost_arena_init(&a, inline_buf, sizeof(inline_buf));
    size_t off = 0;
    while (off < len) {
        struct roost_mqtt_packet p;
        uint8_t reason = 0xEE;
        int rc = roost_mqtt_decode(buf + off, len - off, version, max_packet, from_client, &p,
                                   &a, &reason);
        if (rc == ROOST_EAGAIN) {
            FUZZ_CHECK(reason == 0);
            break;
        }
        if (rc < 0) {
            FUZZ_CHECK(rc == ROOST_EMALFORMED || rc == ROOST_EPROTO || rc == ROOST_ETOOBIG ||
                       rc == ROOST_EVERSION || rc == ROOST_EUTF8 || rc == ROOST_ETOPIC);
            FUZZ_CHECK(reason >= 0x80);
            break;
        }
        FUZZ_CHECK(reason == 0);
        FUZZ_CHECK((size_t)rc <= len - off);
        FUZZ_CHECK(!max_packet || (size_t)rc <= max_packet);
        /* The same packet alone decodes the same way. */
        struct roost_mqtt_packet alone;
        FUZZ_CHECK(roost_mqtt_decode(buf + off, (size_t)rc, version, max_packet, from_client,
                                     &alone, &a, NULL) == rc);
        FUZZ_CHECK(packet_same(&p, &alone));
        if (p.type == ROOST_MQTT_PUBLISH) {
            FUZZ_CHECK(inside(p.u.publish.topic, buf + off, (size_t)rc));
            FUZZ_CHECK(inside(p.u.publish.payload, buf + off, (size_t)rc));
            FUZZ_CHECK(inside(p.u.publish.props_raw, buf + off, (size_t)rc));
            FUZZ_CHECK(p.u.publish.topic.n == 0 || roost_mqtt_topic_valid(p.u.publish.topic));
        } else if (p.type == ROOST_MQTT_SUBSCRIBE) {
            for (size_t i = 0; i < p.u.subscribe.n_topics; i++)
                FUZZ_CHECK(roost_mqtt_filter_valid(p.u.subscribe.topics[i].filter));
        }
        check_roundtrip(&p, version, from_client);
        if (p.type == ROOST_MQTT_CONNECT)
            version = p.u.connect.protocol_level;
        off += (size_t)rc;
        roost_arena_reset(&a);
    }
    roost_arena_cleanup(&a);
    return 0;
}
