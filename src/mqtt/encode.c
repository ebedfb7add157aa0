/*
 * encode.c - the MQTT 3.1.1 / 5.0 packet encoders and the v5 property
 * encoder. Each packet body is described once, by a function run twice over
 * an emitter: first with no destination to measure, then for real into space
 * reserved up front. So sizes and bytes cannot disagree, and a packet that
 * does not fit leaves the output buffer exactly as it was.
 *
 * Encoders check what would make the packet undecodable (QoS 3, packet id 0
 * where one is needed, strings over 65535 bytes, an empty SUBSCRIBE) and
 * return ROOST_EINVAL; they do not re-validate UTF-8 or topic syntax, which
 * is the caller's business. Properties are written in ascending identifier
 * order; props_raw in a publish is ignored (the encoder writes `props`).
 * v5 failure codes given for 3.1.1 CONNACK and SUBACK are mapped to the
 * 3.1.1 codes, so callers may think in v5 reason codes throughout.
 */
#include "mqtt.h"

#define MQTT_STR_MAX 65535u

/* ==== Varints and the emitter ============================================ */

size_t roost_mqtt_varint_size(uint32_t v)
{
    if (v < 128u)
        return 1;
    if (v < 16384u)
        return 2;
    if (v < 2097152u)
        return 3;
    return 4;
}

uint8_t *roost_mqtt_varint_write(uint8_t *dst, uint32_t v)
{
    ROOST_ASSERT(v <= ROOST_MQTT_MAX_REMAINING);
    do {
        uint8_t b = v & 0x7F;
        v >>= 7;
        if (v)
            b |= 0x80;
        *dst++ = b;
    } while (v);
    return dst;
}

/* Writes to p when it is set; always counts. */
struct emit {
    uint8_t *p;
    size_t n;
};

static inline void em_u8(struct emit *e, uint8_t v)
{
    if (e->p)
        *e->p++ = v;
    e->n += 1;
}

static inline void em_u16(struct emit *e, uint16_t v)
{
    if (e->p) {
        e->p[0] = (uint8_t)(v >> 8);
        e->p[1] = (uint8_t)v;
        e->p += 2;
    }
    e->n += 2;
}

static inline void em_u32(struct emit *e, uint32_t v)
{
    if (e->p) {
        e->p[0] = (uint8_t)(v >> 24);
        e->p[1] = (uint8_t)(v >> 16);
        e->p[2] = (uint8_t)(v >> 8);
        e->p[3] = (uint8_t)v;
        e->p += 4;
    }
    e->n += 4;
}

static inline void em_varint(struct emit *e, uint32_t v)
{
    if (e->p)
        e->p = roost_mqtt_varint_write(e->p, v);
    e->n += roost_mqtt_varint_size(v);
}

static inline void em_raw(struct emit *e, const void *p, size_t n)
{
    if (e->p && n) {
        memcpy(e->p, p, n);
        e->p += n;
    }
    e->n += n;
}

/* Two-byte length and bytes; the length was checked by the caller. */
static inline void em_str(struct emit *e, struct roost_str s)
{
    em_u16(e, (uint16_t)s.n);
    em_raw(e, s.p, s.n);
}

/* ==== Properties ========================================================== */

static bool props_empty(const struct roost_mqtt_props *p)
{
    return p->present == 0 && p->n_sub_ids == 0 && p->n_user == 0;
}

#define HAS(p, id) roost_mqtt_prop_has((p), ROOST_PROP_##id)

static void props_emit(struct emit *e, const struct roost_mqtt_props *p)
{
    if (props_empty(p))
        return;
    if (HAS(p, PAYLOAD_FORMAT)) {
        em_u8(e, ROOST_PROP_PAYLOAD_FORMAT);
        em_u8(e, p->payload_format);
    }
    if (HAS(p, MESSAGE_EXPIRY)) {
        em_u8(e, ROOST_PROP_MESSAGE_EXPIRY);
        em_u32(e, p->message_expiry);
    }
    if (HAS(p, CONTENT_TYPE)) {
        em_u8(e, ROOST_PROP_CONTENT_TYPE);
        em_str(e, p->content_type);
    }
    if (HAS(p, RESPONSE_TOPIC)) {
        em_u8(e, ROOST_PROP_RESPONSE_TOPIC);
        em_str(e, p->response_topic);
    }
    if (HAS(p, CORRELATION_DATA)) {
        em_u8(e, ROOST_PROP_CORRELATION_DATA);
        em_str(e, p->correlation_data);
    }
    for (size_t i = 0; i < p->n_sub_ids; i++) {
        em_u8(e, ROOST_PROP_SUBSCRIPTION_ID);
        em_varint(e, p->sub_ids[i]);
    }
    if (HAS(p, SESSION_EXPIRY)) {
        em_u8(e, ROOST_PROP_SESSION_EXPIRY);
        em_u32(e, p->session_expiry);
    }
    if (HAS(p, ASSIGNED_CLIENT_ID)) {
        em_u8(e, ROOST_PROP_ASSIGNED_CLIENT_ID);
        em_str(e, p->assigned_client_id);
    }
    if (HAS(p, SERVER_KEEP_ALIVE)) {
        em_u8(e, ROOST_PROP_SERVER_KEEP_ALIVE);
        em_u16(e, p->server_keep_alive);
    }
    if (HAS(p, AUTH_METHOD)) {
        em_u8(e, ROOST_PROP_AUTH_METHOD);
        em_str(e, p->auth_method);
    }
    if (HAS(p, AUTH_DATA)) {
        em_u8(e, ROOST_PROP_AUTH_DATA);
        em_str(e, p->auth_data);
    }
    if (HAS(p, REQUEST_PROBLEM_INFO)) {
        em_u8(e, ROOST_PROP_REQUEST_PROBLEM_INFO);
        em_u8(e, p->request_problem_info);
    }
    if (HAS(p, WILL_DELAY)) {
        em_u8(e, ROOST_PROP_WILL_DELAY);
        em_u32(e, p->will_delay);
    }
    if (HAS(p, REQUEST_RESPONSE_INFO)) {
        em_u8(e, ROOST_PROP_REQUEST_RESPONSE_INFO);
        em_u8(e, p->request_response_info);
    }
    if (HAS(p, RESPONSE_INFO)) {
        em_u8(e, ROOST_PROP_RESPONSE_INFO);
        em_str(e, p->response_info);
    }
    if (HAS(p, SERVER_REFERENCE)) {
        em_u8(e, ROOST_PROP_SERVER_REFERENCE);
        em_str(e, p->server_reference);
    }
    if (HAS(p, REASON_STRING)) {
        em_u8(e, ROOST_PROP_REASON_STRING);
        em_str(e, p->reason_string);
    }
    if (HAS(p, RECEIVE_MAXIMUM)) {
        em_u8(e, ROOST_PROP_RECEIVE_MAXIMUM);
        em_u16(e, p->receive_maximum);
    }
    if (HAS(p, TOPIC_ALIAS_MAXIMUM)) {
        em_u8(e, ROOST_PROP_TOPIC_ALIAS_MAXIMUM);
        em_u16(e, p->topic_alias_maximum);
    }
    if (HAS(p, TOPIC_ALIAS)) {
        em_u8(e, ROOST_PROP_TOPIC_ALIAS);
        em_u16(e, p->topic_alias);
    }
    if (HAS(p, MAXIMUM_QOS)) {
        em_u8(e, ROOST_PROP_MAXIMUM_QOS);
        em_u8(e, p->maximum_qos);
    }
    if (HAS(p, RETAIN_AVAILABLE)) {
        em_u8(e, ROOST_PROP_RETAIN_AVAILABLE);
        em_u8(e, p->retain_available);
    }
    for (size_t i = 0; i < p->n_user; i++) {
        em_u8(e, ROOST_PROP_USER_PROPERTY);
        em_str(e, p->user[i].key);
        em_str(e, p->user[i].value);
    }
    if (HAS(p, MAXIMUM_PACKET_SIZE)) {
        em_u8(e, ROOST_PROP_MAXIMUM_PACKET_SIZE);
        em_u32(e, p->maximum_packet_size);
    }
    if (HAS(p, WILDCARD_SUB_AVAILABLE)) {
        em_u8(e, ROOST_PROP_WILDCARD_SUB_AVAILABLE);
        em_u8(e, p->wildcard_sub_available);
    }
    if (HAS(p, SUB_ID_AVAILABLE)) {
        em_u8(e, ROOST_PROP_SUB_ID_AVAILABLE);
        em_u8(e, p->sub_id_available);
    }
    if (HAS(p, SHARED_SUB_AVAILABLE)) {
        em_u8(e, ROOST_PROP_SHARED_SUB_AVAILABLE);
        em_u8(e, p->shared_sub_available);
    }
}

/* What props_emit needs to produce something decodable. */
static int props_check(const struct roost_mqtt_props *p)
{
    if (props_empty(p))
        return 0;
    const struct roost_str *strs[] = {
        &p->content_type, &p->response_topic, &p->correlation_data, &p->assigned_client_id,
        &p->auth_method,  &p->auth_data,      &p->response_info,    &p->server_reference,
        &p->reason_string,
    };
    for (size_t i = 0; i < ROOST_ARRAY_LEN(strs); i++) {
        if (strs[i]->n > MQTT_STR_MAX)
            return ROOST_EINVAL;
    }
    if (p->n_sub_ids > ROOST_MQTT_MAX_SUB_IDS)
        return ROOST_EINVAL;
    for (size_t i = 0; i < p->n_sub_ids; i++) {
        if (p->sub_ids[i] == 0 || p->sub_ids[i] > ROOST_MQTT_MAX_REMAINING)
            return ROOST_EINVAL;
    }
    if (p->n_user && !p->user)
        return ROOST_EINVAL;
    for (size_t i = 0; i < p->n_user; i++) {
        if (p->user[i].key.n > MQTT_STR_MAX || p->user[i].value.n > MQTT_STR_MAX)
            return ROOST_EINVAL;
    }
    return 0;
}

size_t roost_mqtt_props_size(const struct roost_mqtt_props *p)
{
    struct emit e = {NULL, 0};
    props_emit(&e, p);
    return e.n;
}

uint8_t *roost_mqtt_props_write(uint8_t *dst, const struct roost_mqtt_props *p)
{
    struct emit e = {dst, 0};
    props_emit(&e, p);
    return e.p;
}

/* The length varint and the properties. */
static void props_block(struct emit *e, const struct roost_mqtt_props *p)
{
    size_t n = roost_mqtt_props_size(p);
    em_varint(e, (uint32_t)ROOST_MIN(n, (size_t)ROOST_MQTT_MAX_REMAINING));
    props_emit(e, p);
}

/* ==== Packet framing ====================================================== */

/* A packet body, described once for both measuring and writing. */
typedef void (*body_fn)(struct emit *e, const void *pkt, bool v5);

/* Measures the body, reserves the whole packet, writes header and body. */
static int emit_packet(struct roost_buf *out, uint8_t first, body_fn body, const void *pkt,
                       bool v5)
{
    struct emit e = {NULL, 0};
    body(&e, pkt, v5);
    size_t rem = e.n;
    if (rem > ROOST_MQTT_MAX_REMAINING)
        return ROOST_ETOOBIG;
    size_t total = 1 + roost_mqtt_varint_size((uint32_t)rem) + rem;
    int rc = roost_buf_reserve(out, total);
    if (rc)
        return rc;
    e.p = out->data + out->len;
    e.n = 0;
    em_u8(&e, first);
    em_varint(&e, (uint32_t)rem);
    body(&e, pkt, v5);
    ROOST_ASSERT(e.n == total);
    out->len += total;
    return 0;
}

static inline bool str_fits(struct roost_str s)
{
    return s.n <= MQTT_STR_MAX;
}

/* ==== CONNECT and CONNACK ================================================= */

static void connect_body(struct emit *e, const void *pkt, bool v5)
{
    const struct roost_mqtt_connect *c = pkt;
    uint8_t flags = 0;

    if (c->protocol_level == ROOST_MQTT_V31)
        em_str(e, ROOST_STR_LIT("MQIsdp"));
    else
        em_str(e, ROOST_STR_LIT("MQTT"));
    em_u8(e, c->protocol_level);
    if (c->clean_start)
        flags |= 0x02;
    if (c->has_will) {
        flags |= 0x04 | (uint8_t)(c->will_qos << 3);
        if (c->will_retain)
            flags |= 0x20;
    }
    if (c->has_password)
        flags |= 0x40;
    if (c->has_username)
        flags |= 0x80;
    em_u8(e, flags);
    em_u16(e, c->keep_alive);
    if (v5)
        props_block(e, &c->props);
    em_str(e, c->client_id);
    if (c->has_will) {
        if (v5)
            props_block(e, &c->will_props);
        em_str(e, c->will_topic);
        em_str(e, c->will_payload);
    }
    if (c->has_username)
        em_str(e, c->username);
    if (c->has_password)
        em_str(e, c->password);
}

int roost_mqtt_encode_connect(struct roost_buf *out, const struct roost_mqtt_connect *c)
{
    int rc = ROOST_EINVAL;
    bool v5 = c->protocol_level == ROOST_MQTT_V5;

    if (c->protocol_level != ROOST_MQTT_V31 && c->protocol_level != ROOST_MQTT_V311 && !v5)
        goto out;
    if (!str_fits(c->client_id) || (c->has_username && !str_fits(c->username)) ||
        (c->has_password && !str_fits(c->password)))
        goto out;
    if (!v5 && c->has_password && !c->has_username)
        goto out;
    if (c->has_will && (c->will_qos > 2 || !str_fits(c->will_topic) ||
                        !str_fits(c->will_payload)))
        goto out;
    if (v5 && (props_check(&c->props) || (c->has_will && props_check(&c->will_props))))
        goto out;
    rc = emit_packet(out, ROOST_MQTT_CONNECT << 4, connect_body, c, v5);
out:
    return rc;
}

/* 3.1.1 has six return codes; a v5 reason code given for a 3.1.1 client is
 * mapped to the nearest one, so callers can think in v5 codes. */
static uint8_t connack311_code(uint8_t reason)
{
    if (reason < 0x80)
        return reason;
    switch (reason) {
    case ROOST_RC_UNSUPPORTED_VERSION:
        return ROOST_CONNACK311_BAD_VERSION;
    case ROOST_RC_CLIENT_ID_INVALID:
        return ROOST_CONNACK311_ID_REJECTED;
    case ROOST_RC_BAD_USER_PASS:
        return ROOST_CONNACK311_BAD_USER_PASS;
    case ROOST_RC_NOT_AUTHORIZED:
    case ROOST_RC_BANNED:
        return ROOST_CONNACK311_NOT_AUTHORIZED;
    default:
        return ROOST_CONNACK311_SERVER_UNAVAILABLE;
    }
}

static void connack_body(struct emit *e, const void *pkt, bool v5)
{
    const struct roost_mqtt_connack *c = pkt;
    em_u8(e, c->session_present ? 1 : 0);
    em_u8(e, v5 ? c->reason : connack311_code(c->reason));
    if (v5)
        props_block(e, &c->props);
}

int roost_mqtt_encode_connack(struct roost_buf *out, uint8_t version,
                              const struct roost_mqtt_connack *c)
{
    bool v5 = version == ROOST_MQTT_V5;
    if ((c->session_present && c->reason != 0) || (v5 && props_check(&c->props)))
        return ROOST_EINVAL;
    return emit_packet(out, ROOST_MQTT_CONNACK << 4, connack_body, c, v5);
}

/* ==== PUBLISH and its acknowledgements ==================================== */

static void publish_body(struct emit *e, const void *pkt, bool v5)
{
    const struct roost_mqtt_publish *p = pkt;
    em_str(e, p->topic);
    if (p->qos > 0)
        em_u16(e, p->packet_id);
    if (v5)
        props_block(e, &p->props);
    em_raw(e, p->payload.p, p->payload.n);
}

int roost_mqtt_encode_publish(struct roost_buf *out, uint8_t version,
                              const struct roost_mqtt_publish *p)
{
    bool v5 = version == ROOST_MQTT_V5;
    if (p->qos > 2 || (p->qos > 0 && p->packet_id == 0) || !str_fits(p->topic) ||
        (!v5 && p->topic.n == 0) || (v5 && p->dup && p->qos == 0) ||
        (v5 && props_check(&p->props)))
        return ROOST_EINVAL;
    if (p->payload.n > ROOST_MQTT_MAX_REMAINING)
        return ROOST_ETOOBIG;
    uint8_t first = (uint8_t)((ROOST_MQTT_PUBLISH << 4) | (p->dup ? 0x08 : 0) |
                              (p->qos << 1) | (p->retain ? 0x01 : 0));
    return emit_packet(out, first, publish_body, p, v5);
}

static void ack_body(struct emit *e, const void *pkt, bool v5)
{
    const struct roost_mqtt_ack *a = pkt;
    em_u16(e, a->packet_id);
    if (!v5 || (a->reason == 0 && props_empty(&a->props)))
        return;
    em_u8(e, a->reason);
    if (!props_empty(&a->props))
        props_block(e, &a->props);
}

int roost_mqtt_encode_ack(struct roost_buf *out, uint8_t version, enum roost_mqtt_type type,
                          const struct roost_mqtt_ack *a)
{
    bool v5 = version == ROOST_MQTT_V5;
    if (type < ROOST_MQTT_PUBACK || type > ROOST_MQTT_PUBCOMP || a->packet_id == 0 ||
        (v5 && props_check(&a->props)))
        return ROOST_EINVAL;
    uint8_t first = (uint8_t)((type << 4) | (type == ROOST_MQTT_PUBREL ? 0x02 : 0));
    return emit_packet(out, first, ack_body, a, v5);
}

/* ==== SUBSCRIBE, UNSUBSCRIBE and their acknowledgements =================== */

static void subscribe_body(struct emit *e, const void *pkt, bool v5)
{
    const struct roost_mqtt_subscribe *s = pkt;
    em_u16(e, s->packet_id);
    if (v5)
        props_block(e, &s->props);
    for (size_t i = 0; i < s->n_topics; i++) {
        const struct roost_mqtt_sub_opts *o = &s->topics[i].opts;
        uint8_t b = o->qos;
        if (v5) {
            b |= (uint8_t)((o->no_local ? 0x04 : 0) | (o->retain_as_published ? 0x08 : 0) |
                           (o->retain_handling << 4));
        }
        em_str(e, s->topics[i].filter);
        em_u8(e, b);
    }
}

int roost_mqtt_encode_subscribe(struct roost_buf *out, uint8_t version,
                                const struct roost_mqtt_subscribe *s)
{
    bool v5 = version == ROOST_MQTT_V5;
    if (s->packet_id == 0 || s->n_topics == 0 || !s->topics || (v5 && props_check(&s->props)))
        return ROOST_EINVAL;
    for (size_t i = 0; i < s->n_topics; i++) {
        const struct roost_mqtt_sub_opts *o = &s->topics[i].opts;
        if (!str_fits(s->topics[i].filter) || o->qos > 2 || (v5 && o->retain_handling > 2))
            return ROOST_EINVAL;
    }
    return emit_packet(out, (ROOST_MQTT_SUBSCRIBE << 4) | 0x02, subscribe_body, s, v5);
}

static void unsubscribe_body(struct emit *e, const void *pkt, bool v5)
{
    const struct roost_mqtt_unsubscribe *u = pkt;
    em_u16(e, u->packet_id);
    if (v5)
        props_block(e, &u->props);
    for (size_t i = 0; i < u->n_filters; i++)
        em_str(e, u->filters[i]);
}

int roost_mqtt_encode_unsubscribe(struct roost_buf *out, uint8_t version,
                                  const struct roost_mqtt_unsubscribe *u)
{
    bool v5 = version == ROOST_MQTT_V5;
    if (u->packet_id == 0 || u->n_filters == 0 || !u->filters || (v5 && props_check(&u->props)))
        return ROOST_EINVAL;
    for (size_t i = 0; i < u->n_filters; i++) {
        if (!str_fits(u->filters[i]))
            return ROOST_EINVAL;
    }
    return emit_packet(out, (ROOST_MQTT_UNSUBSCRIBE << 4) | 0x02, unsubscribe_body, u, v5);
}

static void suback_body(struct emit *e, const void *pkt, bool v5)
{
    const struct roost_mqtt_suback *s = pkt;
    em_u16(e, s->packet_id);
    if (v5) {
        props_block(e, &s->props);
        em_raw(e, s->reasons, s->n_reasons);
        return;
    }
    /* 3.1.1 knows a single failure code, 0x80: v5 failures map to it. */
    for (size_t i = 0; i < s->n_reasons; i++)
        em_u8(e, s->reasons[i] >= 0x80 ? 0x80 : s->reasons[i]);
}

static int encode_suback_common(struct roost_buf *out, uint8_t first, bool v5,
                                const struct roost_mqtt_suback *s)
{
    if (s->packet_id == 0 || s->n_reasons == 0 || !s->reasons || (v5 && props_check(&s->props)))
        return ROOST_EINVAL;
    if (s->n_reasons > ROOST_MQTT_MAX_REMAINING)
        return ROOST_ETOOBIG;
    return emit_packet(out, first, suback_body, s, v5);
}

int roost_mqtt_encode_suback(struct roost_buf *out, uint8_t version, const struct roost_mqtt_suback *s)
{
    return encode_suback_common(out, ROOST_MQTT_SUBACK << 4, version == ROOST_MQTT_V5, s);
}

static void unsuback311_body(struct emit *e, const void *pkt, bool v5)
{
    const struct roost_mqtt_suback *s = pkt;
    em_u16(e, s->packet_id);
}

int roost_mqtt_encode_unsuback(struct roost_buf *out, uint8_t version,
                               const struct roost_mqtt_suback *s)
{
    if (version == ROOST_MQTT_V5)
        return encode_suback_common(out, ROOST_MQTT_UNSUBACK << 4, true, s);
    if (s->packet_id == 0)
        return ROOST_EINVAL;
    return emit_packet(out, ROOST_MQTT_UNSUBACK << 4, unsuback311_body, s, false);
}

/* ==== PINGREQ, PINGRESP, DISCONNECT, AUTH ================================= */

static int encode_empty(struct roost_buf *out, uint8_t first)
{
    uint8_t pkt[2] = {first, 0};
    return roost_buf_append(out, pkt, sizeof(pkt));
}

int roost_mqtt_encode_pingreq(struct roost_buf *out)
{
    return encode_empty(out, ROOST_MQTT_PINGREQ << 4);
}

int roost_mqtt_encode_pingresp(struct roost_buf *out)
{
    return encode_empty(out, ROOST_MQTT_PINGRESP << 4);
}

/* Reason, then properties; each omitted from the end when it is the
 * default (3.14.2.1). AUTH keeps the property length whenever it has a
 * reason, as its section has no "less than 2" rule. */
static void disconnect_body(struct emit *e, const void *pkt, bool always_props)
{
    const struct roost_mqtt_disconnect *d = pkt;
    bool empty = props_empty(&d->props);
    if (d->reason == 0 && empty)
        return;
    em_u8(e, d->reason);
    if (!empty || always_props)
        props_block(e, &d->props);
}

int roost_mqtt_encode_disconnect(struct roost_buf *out, uint8_t version,
                                 const struct roost_mqtt_disconnect *d)
{
    if (version != ROOST_MQTT_V5)
        return encode_empty(out, ROOST_MQTT_DISCONNECT << 4);
    if (props_check(&d->props))
        return ROOST_EINVAL;
    return emit_packet(out, ROOST_MQTT_DISCONNECT << 4, disconnect_body, d, false);
}

int roost_mqtt_encode_auth(struct roost_buf *out, const struct roost_mqtt_disconnect *a)
{
    if (props_check(&a->props))
        return ROOST_EINVAL;
    return emit_packet(out, ROOST_MQTT_AUTH << 4, disconnect_body, a, true);
}
