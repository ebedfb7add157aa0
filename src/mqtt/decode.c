/*
 * decode.c - the MQTT 3.1.1 / 5.0 packet decoder and the v5 property
 * decoder. Pure over the caller's buffer: decoded strings are views into it,
 * and only variable-length arrays (user properties, SUBSCRIBE and UNSUBSCRIBE
 * lists) come from the caller's arena.
 *
 * Every rule is checked here so the broker can trust a decoded packet: flag
 * bits, lengths, UTF-8, topic and filter syntax, which properties a packet
 * may carry, reason codes, and which side may send which packet. Errors that
 * the fixed header alone reveals (bad flags, wrong direction, too big) are
 * reported before the body arrives, and in the same order whatever the
 * amount of input, so a stream fed byte by byte fails exactly as a whole one.
 */
#include "mqtt.h"

/* ==== Reading primitives ================================================== */

/* Zeroes a decoded struct. Compilers expand a constant-size memset of a few
 * hundred bytes into `rep stos`, whose start-up cost was half the time of
 * decoding a small PUBLISH; hiding the size makes them call the C library's
 * vectorised memset instead. */
static inline void zero(void *p, size_t n)
{
    __asm__("" : "+r"(n));
    memset(p, 0, n);
}

/* A bounded cursor over one packet's body. Running out is malformed: the
 * whole packet is present before the body is parsed. */
struct rd {
    const uint8_t *p;
    const uint8_t *end;
};

static inline size_t rd_left(const struct rd *r)
{
    return (size_t)(r->end - r->p);
}

static inline int rd_u8(struct rd *r, uint8_t *out_v)
{
    if (r->p >= r->end)
        return ROOST_EMALFORMED;
    *out_v = *r->p++;
    return 0;
}

static inline int rd_u16(struct rd *r, uint16_t *out_v)
{
    if (rd_left(r) < 2)
        return ROOST_EMALFORMED;
    *out_v = (uint16_t)((r->p[0] << 8) | r->p[1]);
    r->p += 2;
    return 0;
}

static inline int rd_u32(struct rd *r, uint32_t *out_v)
{
    if (rd_left(r) < 4)
        return ROOST_EMALFORMED;
    *out_v = ((uint32_t)r->p[0] << 24) | ((uint32_t)r->p[1] << 16) | ((uint32_t)r->p[2] << 8) |
             r->p[3];
    r->p += 4;
    return 0;
}

static inline int rd_varint(struct rd *r, uint32_t *out_v)
{
    int n = roost_mqtt_varint_read(r->p, rd_left(r), out_v);
    if (n < 0)
        return ROOST_EMALFORMED;
    r->p += n;
    return 0;
}

/* Two-byte length then bytes: Binary Data. */
static inline int rd_bin(struct rd *r, struct roost_str *out_s)
{
    uint16_t n;
    int rc = rd_u16(r, &n);
    if (rc)
        return rc;
    if (rd_left(r) < n)
        return ROOST_EMALFORMED;
    out_s->p = (const char *)r->p;
    out_s->n = n;
    r->p += n;
    return 0;
}

/* A UTF-8 Encoded String. */
static inline int rd_str(struct rd *r, struct roost_str *out_s)
{
    int rc = rd_bin(r, out_s);
    if (rc)
        return rc;
    if (!roost_mqtt_utf8_valid(out_s->p, out_s->n))
        return ROOST_EUTF8;
    return 0;
}

int roost_mqtt_varint_read(const uint8_t *p, size_t len, uint32_t *out_v)
{
    uint32_t v = 0;
    for (size_t i = 0; i < 4; i++) {
        if (i >= len)
            return ROOST_EAGAIN;
        uint8_t b = p[i];
        v |= (uint32_t)(b & 0x7F) << (7 * i);
        if (!(b & 0x80)) {
            /* A zero final byte after a continuation adds nothing: the
             * encoding is not minimal [MQTT-1.5.5-1]. */
            if (b == 0 && i > 0)
                return ROOST_EMALFORMED;
            *out_v = v;
            return (int)i + 1;
        }
    }
    return ROOST_EMALFORMED;
}

int roost_mqtt_peek_header(const uint8_t *buf, size_t len, uint8_t *out_type_flags,
                           uint32_t *out_remaining)
{
    if (len < 2)
        return ROOST_EAGAIN;
    uint32_t rem;
    int n = roost_mqtt_varint_read(buf + 1, len - 1, &rem);
    if (n < 0)
        return n;
    *out_type_flags = buf[0];
    *out_remaining = rem;
    return n + 1;
}

/* ==== Properties ========================================================== */

enum prop_kind { PK_BYTE, PK_U16, PK_U32, PK_VARINT, PK_STR, PK_BIN, PK_PAIR };

/* Bit 0 stands for will properties (there is no packet type 0). */
#define IN_WILL (1u << 0)
#define IN(t) (1u << ROOST_MQTT_##t)
#define IN_ACKS (IN(PUBACK) | IN(PUBREC) | IN(PUBREL) | IN(PUBCOMP))

struct prop_info {
    uint8_t kind;
    uint16_t allowed; /* packet types (and IN_WILL) that may carry it; 0 = unknown id */
};

/* MQTT 5 section 2.2.2.2. */
static const struct prop_info prop_table[ROOST_PROP_SHARED_SUB_AVAILABLE + 1] = {
    [ROOST_PROP_PAYLOAD_FORMAT] = {PK_BYTE, IN_WILL | IN(PUBLISH)},
    [ROOST_PROP_MESSAGE_EXPIRY] = {PK_U32, IN_WILL | IN(PUBLISH)},
    [ROOST_PROP_CONTENT_TYPE] = {PK_STR, IN_WILL | IN(PUBLISH)},
    [ROOST_PROP_RESPONSE_TOPIC] = {PK_STR, IN_WILL | IN(PUBLISH)},
    [ROOST_PROP_CORRELATION_DATA] = {PK_BIN, IN_WILL | IN(PUBLISH)},
    [ROOST_PROP_SUBSCRIPTION_ID] = {PK_VARINT, IN(PUBLISH) | IN(SUBSCRIBE)},
    [ROOST_PROP_SESSION_EXPIRY] = {PK_U32, IN(CONNECT) | IN(CONNACK) | IN(DISCONNECT)},
    [ROOST_PROP_ASSIGNED_CLIENT_ID] = {PK_STR, IN(CONNACK)},
    [ROOST_PROP_SERVER_KEEP_ALIVE] = {PK_U16, IN(CONNACK)},
    [ROOST_PROP_AUTH_METHOD] = {PK_STR, IN(CONNECT) | IN(CONNACK) | IN(AUTH)},
    [ROOST_PROP_AUTH_DATA] = {PK_BIN, IN(CONNECT) | IN(CONNACK) | IN(AUTH)},
    [ROOST_PROP_REQUEST_PROBLEM_INFO] = {PK_BYTE, IN(CONNECT)},
    [ROOST_PROP_WILL_DELAY] = {PK_U32, IN_WILL},
    [ROOST_PROP_REQUEST_RESPONSE_INFO] = {PK_BYTE, IN(CONNECT)},
    [ROOST_PROP_RESPONSE_INFO] = {PK_STR, IN(CONNACK)},
    [ROOST_PROP_SERVER_REFERENCE] = {PK_STR, IN(CONNACK) | IN(DISCONNECT)},
    [ROOST_PROP_REASON_STRING] = {PK_STR, IN(CONNACK) | IN_ACKS | IN(SUBACK) | IN(UNSUBACK) |
                                              IN(DISCONNECT) | IN(AUTH)},
    [ROOST_PROP_RECEIVE_MAXIMUM] = {PK_U16, IN(CONNECT) | IN(CONNACK)},
    [ROOST_PROP_TOPIC_ALIAS_MAXIMUM] = {PK_U16, IN(CONNECT) | IN(CONNACK)},
    [ROOST_PROP_TOPIC_ALIAS] = {PK_U16, IN(PUBLISH)},
    [ROOST_PROP_MAXIMUM_QOS] = {PK_BYTE, IN(CONNACK)},
    [ROOST_PROP_RETAIN_AVAILABLE] = {PK_BYTE, IN(CONNACK)},
    [ROOST_PROP_USER_PROPERTY] = {PK_PAIR, IN_WILL | IN(CONNECT) | IN(CONNACK) | IN(PUBLISH) |
                                               IN_ACKS | IN(SUBSCRIBE) | IN(SUBACK) |
                                               IN(UNSUBSCRIBE) | IN(UNSUBACK) |
                                               IN(DISCONNECT) | IN(AUTH)},
    [ROOST_PROP_MAXIMUM_PACKET_SIZE] = {PK_U32, IN(CONNECT) | IN(CONNACK)},
    [ROOST_PROP_WILDCARD_SUB_AVAILABLE] = {PK_BYTE, IN(CONNACK)},
    [ROOST_PROP_SUB_ID_AVAILABLE] = {PK_BYTE, IN(CONNACK)},
    [ROOST_PROP_SHARED_SUB_AVAILABLE] = {PK_BYTE, IN(CONNACK)},
};

/* A byte property that is a boolean: anything but 0 or 1 is a protocol error. */
static inline int rd_flag_byte(struct rd *r, uint8_t *out_v)
{
    int rc = rd_u8(r, out_v);
    if (rc == 0 && *out_v > 1)
        rc = ROOST_EPROTO;
    return rc;
}

/* Reads one property value into `out`. Called once per property, after the
 * id was checked against the packet type and for duplicates. */
static int prop_read_value(struct rd *r, uint8_t id, enum roost_mqtt_type type,
                           struct roost_mqtt_props *out, uint8_t *out_reason)
{
    int rc = 0;
    uint32_t v32;

    switch (id) {
    case ROOST_PROP_PAYLOAD_FORMAT:
        rc = rd_flag_byte(r, &out->payload_format);
        break;
    case ROOST_PROP_MESSAGE_EXPIRY:
        rc = rd_u32(r, &out->message_expiry);
        break;
    case ROOST_PROP_CONTENT_TYPE:
        rc = rd_str(r, &out->content_type);
        break;
    case ROOST_PROP_RESPONSE_TOPIC:
        rc = rd_str(r, &out->response_topic);
        /* A topic name: no wildcards [MQTT-3.3.2-14], not empty. */
        if (rc == 0 && !roost_mqtt_topic_valid(out->response_topic))
            rc = ROOST_EPROTO;
        break;
    case ROOST_PROP_CORRELATION_DATA:
        rc = rd_bin(r, &out->correlation_data);
        break;
    case ROOST_PROP_SUBSCRIPTION_ID:
        rc = rd_varint(r, &v32);
        if (rc)
            break;
        if (v32 == 0 || (type == ROOST_MQTT_SUBSCRIBE && out->n_sub_ids > 0)) {
            rc = ROOST_EPROTO;
            break;
        }
        /* More than the array holds is legal but absurd; extras are dropped. */
        if (out->n_sub_ids < ROOST_MQTT_MAX_SUB_IDS)
            out->sub_ids[out->n_sub_ids++] = v32;
        break;
    case ROOST_PROP_SESSION_EXPIRY:
        rc = rd_u32(r, &out->session_expiry);
        break;
    case ROOST_PROP_ASSIGNED_CLIENT_ID:
        rc = rd_str(r, &out->assigned_client_id);
        break;
    case ROOST_PROP_SERVER_KEEP_ALIVE:
        rc = rd_u16(r, &out->server_keep_alive);
        break;
    case ROOST_PROP_AUTH_METHOD:
        rc = rd_str(r, &out->auth_method);
        break;
    case ROOST_PROP_AUTH_DATA:
        rc = rd_bin(r, &out->auth_data);
        break;
    case ROOST_PROP_REQUEST_PROBLEM_INFO:
        rc = rd_flag_byte(r, &out->request_problem_info);
        break;
    case ROOST_PROP_WILL_DELAY:
        rc = rd_u32(r, &out->will_delay);
        break;
    case ROOST_PROP_REQUEST_RESPONSE_INFO:
        rc = rd_flag_byte(r, &out->request_response_info);
        break;
    case ROOST_PROP_RESPONSE_INFO:
        rc = rd_str(r, &out->response_info);
        break;
    case ROOST_PROP_SERVER_REFERENCE:
        rc = rd_str(r, &out->server_reference);
        break;
    case ROOST_PROP_REASON_STRING:
        rc = rd_str(r, &out->reason_string);
        break;
    case ROOST_PROP_RECEIVE_MAXIMUM:
        rc = rd_u16(r, &out->receive_maximum);
        if (rc == 0 && out->receive_maximum == 0)
            rc = ROOST_EPROTO;
        break;
    case ROOST_PROP_TOPIC_ALIAS_MAXIMUM:
        rc = rd_u16(r, &out->topic_alias_maximum);
        break;
    case ROOST_PROP_TOPIC_ALIAS:
        rc = rd_u16(r, &out->topic_alias);
        if (rc == 0 && out->topic_alias == 0) {
            rc = ROOST_EPROTO;
            *out_reason = ROOST_RC_TOPIC_ALIAS_INVALID;
        }
        break;
    case ROOST_PROP_MAXIMUM_QOS:
        rc = rd_flag_byte(r, &out->maximum_qos);
        break;
    case ROOST_PROP_RETAIN_AVAILABLE:
        rc = rd_flag_byte(r, &out->retain_available);
        break;
    case ROOST_PROP_USER_PROPERTY: {
        struct roost_str k, v;
        rc = rd_str(r, &k);
        if (rc == 0)
            rc = rd_str(r, &v);
        out->n_user++; /* stored by the second pass, once the count is known */
        break;
    }
    case ROOST_PROP_MAXIMUM_PACKET_SIZE:
        rc = rd_u32(r, &out->maximum_packet_size);
        if (rc == 0 && out->maximum_packet_size == 0)
            rc = ROOST_EPROTO;
        break;
    case ROOST_PROP_WILDCARD_SUB_AVAILABLE:
        rc = rd_flag_byte(r, &out->wildcard_sub_available);
        break;
    case ROOST_PROP_SUB_ID_AVAILABLE:
        rc = rd_flag_byte(r, &out->sub_id_available);
        break;
    case ROOST_PROP_SHARED_SUB_AVAILABLE:
        rc = rd_flag_byte(r, &out->shared_sub_available);
        break;
    default:
        rc = ROOST_EMALFORMED;
        break;
    }
    return rc;
}

/* Skips a value already validated by the first pass. */
static void prop_skip_value(struct rd *r, uint8_t kind)
{
    struct roost_str s;
    uint32_t v;
    switch (kind) {
    case PK_BYTE:
        r->p += 1;
        break;
    case PK_U16:
        r->p += 2;
        break;
    case PK_U32:
        r->p += 4;
        break;
    case PK_VARINT:
        (void)rd_varint(r, &v);
        break;
    case PK_STR:
    case PK_BIN:
        (void)rd_bin(r, &s);
        break;
    case PK_PAIR:
        (void)rd_bin(r, &s);
        (void)rd_bin(r, &s);
        break;
    }
}

static int props_decode(const uint8_t *p, size_t n, enum roost_mqtt_type type, bool will,
                        struct roost_mqtt_props *out, struct roost_arena *arena,
                        uint8_t *out_reason)
{
    int rc = 0;
    struct rd r = {p, p + n};
    uint32_t mask = will ? IN_WILL : (1u << type);
    const uint8_t *first_user = NULL;

    zero(out, sizeof(*out));
    while (r.p < r.end) {
        /* Identifiers are varints, but all defined ones are below 0x80, so
         * a byte with the high bit set can only start an unknown one. */
        uint8_t id = *r.p;
        if (id >= ROOST_ARRAY_LEN(prop_table) || prop_table[id].allowed == 0) {
            rc = ROOST_EMALFORMED;
            goto out;
        }
        if (!(prop_table[id].allowed & mask)) {
            rc = ROOST_EPROTO;
            goto out;
        }
        if (id == ROOST_PROP_USER_PROPERTY) {
            if (!first_user)
                first_user = r.p;
        } else if (id != ROOST_PROP_SUBSCRIPTION_ID) {
            if (roost_mqtt_prop_has(out, (enum roost_mqtt_prop_id)id)) {
                rc = ROOST_EPROTO; /* single-valued property repeated */
                goto out;
            }
            roost_mqtt_prop_set(out, (enum roost_mqtt_prop_id)id);
        }
        r.p++;
        rc = prop_read_value(&r, id, type, out, out_reason);
        if (rc)
            goto out;
    }
    if (roost_mqtt_prop_has(out, ROOST_PROP_AUTH_DATA) &&
        !roost_mqtt_prop_has(out, ROOST_PROP_AUTH_METHOD)) {
        rc = ROOST_EPROTO;
        goto out;
    }
    if (out->n_user) {
        if (!arena) {
            rc = ROOST_EINVAL;
            goto out;
        }
        struct roost_mqtt_user_prop *u = roost_arena_alloc(arena, out->n_user * sizeof(*u));
        size_t i = 0;
        r.p = first_user;
        while (r.p < r.end) {
            uint8_t id = *r.p++;
            if (id == ROOST_PROP_USER_PROPERTY) {
                (void)rd_bin(&r, &u[i].key);
                (void)rd_bin(&r, &u[i].value);
                i++;
            } else {
                prop_skip_value(&r, prop_table[id].kind);
            }
        }
        ROOST_ASSERT(i == out->n_user);
        out->user = u;
    }
out:
    return rc;
}

int roost_mqtt_decode_props(const uint8_t *p, size_t n, enum roost_mqtt_type type, bool will,
                            struct roost_mqtt_props *out, struct roost_arena *arena)
{
    uint8_t reason = 0;
    if ((unsigned)type > ROOST_MQTT_AUTH)
        return ROOST_EINVAL;
    return props_decode(p, n, type, will, out, arena, &reason);
}

/* ==== Packets ============================================================= */

struct dec {
    struct rd r;                /* the packet body */
    bool v5;                    /* MQTT 5 layout */
    bool from_client;
    uint8_t flags;              /* fixed-header low nibble */
    struct roost_arena *arena;
    uint8_t reason;             /* specific reason code for the error, or 0 */
};

/* A property block: length varint, then the properties. */
static int rd_props(struct dec *d, enum roost_mqtt_type type, bool will,
                    struct roost_mqtt_props *out, struct roost_str *out_raw)
{
    uint32_t n;
    int rc = rd_varint(&d->r, &n);
    if (rc)
        return rc;
    if (n > rd_left(&d->r))
        return ROOST_EMALFORMED;
    rc = props_decode(d->r.p, n, type, will, out, d->arena, &d->reason);
    if (rc)
        return rc;
    if (out_raw) {
        out_raw->p = (const char *)d->r.p;
        out_raw->n = n;
    }
    d->r.p += n;
    return 0;
}

static inline int rd_packet_id(struct rd *r, uint16_t *out_id)
{
    int rc = rd_u16(r, out_id);
    if (rc == 0 && *out_id == 0)
        rc = ROOST_EPROTO; /* [MQTT-2.2.1-3] */
    return rc;
}

static inline int expect_end(const struct dec *d)
{
    return d->r.p == d->r.end ? 0 : ROOST_EMALFORMED;
}

/* MQTT 5 reason codes each packet type may carry (sections 3.x.2.1). */
static const uint8_t rc_connack[] = {0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86,
                                     0x87, 0x88, 0x89, 0x8A, 0x8C, 0x90, 0x95, 0x97,
                                     0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9F};
static const uint8_t rc_puback[] = {0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99};
static const uint8_t rc_pubrel[] = {0x00, 0x92};
static const uint8_t rc_suback[] = {0x00, 0x01, 0x02, 0x80, 0x83, 0x87,
                                    0x8F, 0x91, 0x97, 0x9E, 0xA1, 0xA2};
static const uint8_t rc_suback311[] = {0x00, 0x01, 0x02, 0x80};
static const uint8_t rc_unsuback[] = {0x00, 0x11, 0x80, 0x83, 0x87, 0x8F, 0x91};
static const uint8_t rc_disconnect[] = {0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89,
                                        0x8B, 0x8D, 0x8E, 0x8F, 0x90, 0x93, 0x94, 0x95,
                                        0x96, 0x97, 0x98, 0x99, 0x9A, 0x9B, 0x9C, 0x9D,
                                        0x9E, 0x9F, 0xA0, 0xA1, 0xA2};
static const uint8_t rc_auth[] = {0x00, 0x18, 0x19};

static bool reason_allowed(enum roost_mqtt_type type, bool v5, uint8_t rc)
{
    const uint8_t *set;
    size_t n;
    switch (type) {
    case ROOST_MQTT_CONNACK:
        if (!v5)
            return rc <= ROOST_CONNACK311_NOT_AUTHORIZED;
        set = rc_connack, n = sizeof(rc_connack);
        break;
    case ROOST_MQTT_PUBACK:
    case ROOST_MQTT_PUBREC:
        set = rc_puback, n = sizeof(rc_puback);
        break;
    case ROOST_MQTT_PUBREL:
    case ROOST_MQTT_PUBCOMP:
        set = rc_pubrel, n = sizeof(rc_pubrel);
        break;
    case ROOST_MQTT_SUBACK:
        if (v5)
            set = rc_suback, n = sizeof(rc_suback);
        else
            set = rc_suback311, n = sizeof(rc_suback311);
        break;
    case ROOST_MQTT_UNSUBACK:
        set = rc_unsuback, n = sizeof(rc_unsuback);
        break;
    case ROOST_MQTT_DISCONNECT:
        set = rc_disconnect, n = sizeof(rc_disconnect);
        break;
    case ROOST_MQTT_AUTH:
        set = rc_auth, n = sizeof(rc_auth);
        break;
    default:
        return false;
    }
    return memchr(set, rc, n) != NULL;
}

static bool is_str(struct roost_str s, const char *lit, size_t n)
{
    return s.n == n && memcmp(s.p, lit, n) == 0;
}

static int decode_connect(struct dec *d, struct roost_mqtt_connect *c)
{
    int rc;
    struct roost_str name;
    uint8_t flags;

    zero(c, sizeof(*c));
    rc = rd_bin(&d->r, &name);
    if (rc == 0)
        rc = rd_u8(&d->r, &c->protocol_level);
    if (rc)
        goto out;
    if (!(is_str(name, "MQTT", 4) &&
          (c->protocol_level == ROOST_MQTT_V311 || c->protocol_level == ROOST_MQTT_V5)) &&
        !(is_str(name, "MQIsdp", 6) && c->protocol_level == ROOST_MQTT_V31)) {
        rc = ROOST_EVERSION;
        goto out;
    }
    d->v5 = c->protocol_level == ROOST_MQTT_V5;

    rc = rd_u8(&d->r, &flags);
    if (rc)
        goto out;
    c->clean_start = flags & 0x02;
    c->has_will = flags & 0x04;
    c->will_qos = (flags >> 3) & 0x03;
    c->will_retain = flags & 0x20;
    c->has_password = flags & 0x40;
    c->has_username = flags & 0x80;
    /* Reserved bit, QoS 3, and will QoS/retain without a will are all
     * malformed flags [MQTT-3.1.2-3, -11, -13]. */
    if ((flags & 0x01) || c->will_qos == 3 ||
        (!c->has_will && (c->will_qos != 0 || c->will_retain))) {
        rc = ROOST_EMALFORMED;
        goto out;
    }
    if (!d->v5 && c->has_password && !c->has_username) {
        rc = ROOST_EPROTO; /* 3.1.1 [MQTT-3.1.2-22]; v5 allows it */
        goto out;
    }
    rc = rd_u16(&d->r, &c->keep_alive);
    if (rc == 0 && d->v5)
        rc = rd_props(d, ROOST_MQTT_CONNECT, false, &c->props, NULL);
    if (rc == 0)
        rc = rd_str(&d->r, &c->client_id);
    if (rc)
        goto out;
    if (c->has_will) {
        if (d->v5)
            rc = rd_props(d, ROOST_MQTT_CONNECT, true, &c->will_props, NULL);
        if (rc == 0)
            rc = rd_str(&d->r, &c->will_topic);
        if (rc)
            goto out;
        if (memchr(c->will_topic.p, '+', c->will_topic.n) ||
            memchr(c->will_topic.p, '#', c->will_topic.n) || c->will_topic.n == 0) {
            rc = ROOST_ETOPIC;
            goto out;
        }
        rc = rd_bin(&d->r, &c->will_payload);
        if (rc)
            goto out;
    }
    if (c->has_username) {
        rc = rd_str(&d->r, &c->username);
        if (rc)
            goto out;
    }
    if (c->has_password) {
        rc = rd_bin(&d->r, &c->password);
        if (rc)
            goto out;
    }
    rc = expect_end(d);
out:
    return rc;
}

static int decode_connack(struct dec *d, struct roost_mqtt_connack *c)
{
    int rc;
    uint8_t flags;

    zero(c, sizeof(*c));
    rc = rd_u8(&d->r, &flags);
    if (rc == 0)
        rc = rd_u8(&d->r, &c->reason);
    if (rc)
        goto out;
    if (flags & 0xFE) {
        rc = ROOST_EMALFORMED; /* reserved acknowledge flags */
        goto out;
    }
    c->session_present = flags & 0x01;
    if (!reason_allowed(ROOST_MQTT_CONNACK, d->v5, c->reason) ||
        (c->session_present && c->reason != 0)) {
        rc = ROOST_EPROTO; /* [MQTT-3.2.2-6] */
        goto out;
    }
    /* Some v5 servers omit an empty property block; tolerate it. */
    if (d->v5 && rd_left(&d->r) > 0)
        rc = rd_props(d, ROOST_MQTT_CONNACK, false, &c->props, NULL);
    if (rc == 0)
        rc = expect_end(d);
out:
    return rc;
}

static int decode_publish(struct dec *d, struct roost_mqtt_publish *p)
{
    int rc;

    /* Field by field: the properties are zeroed once, by whoever fills them. */
    p->packet_id = 0;
    p->props_raw = (struct roost_str){NULL, 0};
    p->payload = (struct roost_str){NULL, 0};
    if (!d->v5)
        zero(&p->props, sizeof(p->props));
    p->dup = d->flags & 0x08;
    p->qos = (d->flags >> 1) & 0x03;
    p->retain = d->flags & 0x01;
    rc = rd_bin(&d->r, &p->topic);
    if (rc)
        goto out;
    if (p->topic.n > 0) {
        if (!roost_mqtt_utf8_valid(p->topic.p, p->topic.n)) {
            rc = ROOST_EUTF8;
            goto out;
        }
        if (memchr(p->topic.p, '+', p->topic.n) || memchr(p->topic.p, '#', p->topic.n)) {
            rc = ROOST_ETOPIC; /* [MQTT-3.3.2-2] */
            goto out;
        }
    } else if (!d->v5) {
        rc = ROOST_ETOPIC;
        goto out;
    }
    if (p->qos > 0) {
        rc = rd_packet_id(&d->r, &p->packet_id);
        if (rc)
            goto out;
    }
    if (d->v5) {
        rc = rd_props(d, ROOST_MQTT_PUBLISH, false, &p->props, &p->props_raw);
        if (rc)
            goto out;
        /* Clients must not send subscription identifiers [MQTT-3.3.4-6];
         * an empty topic needs an alias (5.0 section 3.3.2.3.4). */
        if ((d->from_client && p->props.n_sub_ids > 0) ||
            (p->topic.n == 0 && !roost_mqtt_prop_has(&p->props, ROOST_PROP_TOPIC_ALIAS))) {
            rc = ROOST_EPROTO;
            goto out;
        }
    }
    p->payload.p = (const char *)d->r.p;
    p->payload.n = rd_left(&d->r);
    d->r.p = d->r.end;
out:
    return rc;
}

/* PUBACK, PUBREC, PUBREL, PUBCOMP. */
static int decode_ack(struct dec *d, enum roost_mqtt_type type, struct roost_mqtt_ack *a)
{
    int rc;

    zero(a, sizeof(*a));
    rc = rd_packet_id(&d->r, &a->packet_id);
    if (rc)
        goto out;
    /* v5: reason and properties may each be omitted from the end. */
    if (d->v5 && rd_left(&d->r) > 0) {
        rc = rd_u8(&d->r, &a->reason);
        if (rc)
            goto out;
        if (!reason_allowed(type, true, a->reason)) {
            rc = ROOST_EPROTO;
            goto out;
        }
        if (rd_left(&d->r) > 0) {
            rc = rd_props(d, type, false, &a->props, NULL);
            if (rc)
                goto out;
        }
    }
    rc = expect_end(d);
out:
    return rc;
}

static int check_sub_opts(const struct dec *d, uint8_t b, struct roost_str filter,
                          struct roost_mqtt_sub_opts *out_opts)
{
    out_opts->qos = b & 0x03;
    out_opts->no_local = b & 0x04;
    out_opts->retain_as_published = b & 0x08;
    out_opts->retain_handling = (b >> 4) & 0x03;
    if (!d->v5) {
        /* 3.1.1: only the QoS bits exist [MQTT-3.8.3-4]. */
        if ((b & 0xFC) || out_opts->qos == 3)
            return ROOST_EMALFORMED;
        return 0;
    }
    if (b & 0xC0)
        return ROOST_EMALFORMED; /* reserved bits [MQTT-3.8.3-5] */
    if (out_opts->qos == 3 || out_opts->retain_handling == 3)
        return ROOST_EPROTO;
    if (out_opts->no_local && roost_mqtt_filter_shared(filter, NULL, NULL))
        return ROOST_EPROTO; /* [MQTT-3.8.3-4] */
    return 0;
}

/* A filter from (UN)SUBSCRIBE: a string, valid UTF-8, valid filter. */
static int rd_filter(struct dec *d, struct roost_str *out_filter)
{
    int rc = rd_str(&d->r, out_filter);
    if (rc == 0 && !roost_mqtt_filter_valid(*out_filter)) {
        rc = ROOST_ETOPIC;
        d->reason = ROOST_RC_TOPIC_FILTER_INVALID;
    }
    return rc;
}

static int decode_subscribe(struct dec *d, struct roost_mqtt_subscribe *s)
{
    int rc;
    size_t n = 0;

    zero(s, sizeof(*s));
    rc = rd_packet_id(&d->r, &s->packet_id);
    if (rc == 0 && d->v5)
        rc = rd_props(d, ROOST_MQTT_SUBSCRIBE, false, &s->props, NULL);
    if (rc)
        goto out;

    /* Validate and count, then allocate exactly and collect. */
    const uint8_t *list = d->r.p;
    while (rd_left(&d->r) > 0) {
        struct roost_str filter;
        struct roost_mqtt_sub_opts opts;
        uint8_t b;
        rc = rd_filter(d, &filter);
        if (rc == 0)
            rc = rd_u8(&d->r, &b);
        if (rc == 0)
            rc = check_sub_opts(d, b, filter, &opts);
        if (rc)
            goto out;
        n++;
    }
    if (n == 0) {
        rc = ROOST_EPROTO; /* [MQTT-3.8.3-2] */
        goto out;
    }
    if (!d->arena) {
        rc = ROOST_EINVAL;
        goto out;
    }
    s->topics = roost_arena_alloc(d->arena, n * sizeof(*s->topics));
    s->n_topics = n;
    struct rd r = {list, d->r.end};
    for (size_t i = 0; i < n; i++) {
        uint8_t b = 0;
        (void)rd_bin(&r, &s->topics[i].filter);
        (void)rd_u8(&r, &b);
        (void)check_sub_opts(d, b, s->topics[i].filter, &s->topics[i].opts);
    }
out:
    return rc;
}

static int decode_unsubscribe(struct dec *d, struct roost_mqtt_unsubscribe *u)
{
    int rc;
    size_t n = 0;

    zero(u, sizeof(*u));
    rc = rd_packet_id(&d->r, &u->packet_id);
    if (rc == 0 && d->v5)
        rc = rd_props(d, ROOST_MQTT_UNSUBSCRIBE, false, &u->props, NULL);
    if (rc)
        goto out;

    const uint8_t *list = d->r.p;
    while (rd_left(&d->r) > 0) {
        struct roost_str filter;
        rc = rd_filter(d, &filter);
        if (rc)
            goto out;
        n++;
    }
    if (n == 0) {
        rc = ROOST_EPROTO; /* [MQTT-3.10.3-2] */
        goto out;
    }
    if (!d->arena) {
        rc = ROOST_EINVAL;
        goto out;
    }
    u->filters = roost_arena_alloc(d->arena, n * sizeof(*u->filters));
    u->n_filters = n;
    struct rd r = {list, d->r.end};
    for (size_t i = 0; i < n; i++)
        (void)rd_bin(&r, &u->filters[i]);
out:
    return rc;
}

/* SUBACK and UNSUBACK. */
static int decode_suback(struct dec *d, enum roost_mqtt_type type, struct roost_mqtt_suback *s)
{
    int rc;

    zero(s, sizeof(*s));
    rc = rd_packet_id(&d->r, &s->packet_id);
    if (rc)
        goto out;
    if (type == ROOST_MQTT_UNSUBACK && !d->v5) {
        rc = expect_end(d); /* 3.1.1 UNSUBACK has no payload */
        goto out;
    }
    if (d->v5) {
        rc = rd_props(d, type, false, &s->props, NULL);
        if (rc)
            goto out;
    }
    s->reasons = d->r.p;
    s->n_reasons = rd_left(&d->r);
    if (s->n_reasons == 0) {
        rc = ROOST_EPROTO; /* one reason per requested filter */
        goto out;
    }
    for (size_t i = 0; i < s->n_reasons; i++) {
        if (!reason_allowed(type, d->v5, s->reasons[i])) {
            rc = ROOST_EPROTO;
            goto out;
        }
    }
    d->r.p = d->r.end;
out:
    return rc;
}

/* DISCONNECT and AUTH. */
static int decode_disconnect(struct dec *d, enum roost_mqtt_type type,
                             struct roost_mqtt_disconnect *x)
{
    int rc = 0;

    zero(x, sizeof(*x));
    /* v5: reason and properties may each be omitted from the end
     * (3.14.2.1, 3.15.2.1). */
    if (d->v5 && rd_left(&d->r) > 0) {
        rc = rd_u8(&d->r, &x->reason);
        if (rc)
            goto out;
        if (!reason_allowed(type, true, x->reason)) {
            rc = ROOST_EPROTO;
            goto out;
        }
        if (rd_left(&d->r) > 0) {
            rc = rd_props(d, type, false, &x->props, NULL);
            if (rc)
                goto out;
        }
        /* The server must not send a session expiry [MQTT-3.14.2-2]. */
        if (type == ROOST_MQTT_DISCONNECT && !d->from_client &&
            roost_mqtt_prop_has(&x->props, ROOST_PROP_SESSION_EXPIRY)) {
            rc = ROOST_EPROTO;
            goto out;
        }
    }
    rc = expect_end(d);
out:
    return rc;
}

/* ==== Entry point ========================================================= */

#define TYPE_BIT(t) (1u << ROOST_MQTT_##t)
/* Packet types each side may send. */
#define FROM_CLIENT_OK                                                                     \
    (TYPE_BIT(CONNECT) | TYPE_BIT(PUBLISH) | TYPE_BIT(PUBACK) | TYPE_BIT(PUBREC) |         \
     TYPE_BIT(PUBREL) | TYPE_BIT(PUBCOMP) | TYPE_BIT(SUBSCRIBE) | TYPE_BIT(UNSUBSCRIBE) |  \
     TYPE_BIT(PINGREQ) | TYPE_BIT(DISCONNECT) | TYPE_BIT(AUTH))
#define FROM_SERVER_OK                                                                     \
    (TYPE_BIT(CONNACK) | TYPE_BIT(PUBLISH) | TYPE_BIT(PUBACK) | TYPE_BIT(PUBREC) |         \
     TYPE_BIT(PUBREL) | TYPE_BIT(PUBCOMP) | TYPE_BIT(SUBACK) | TYPE_BIT(UNSUBACK) |        \
     TYPE_BIT(PINGRESP) | TYPE_BIT(DISCONNECT) | TYPE_BIT(AUTH))

/* Checks everything the fixed header tells: reserved types, flag bits,
 * which side may send the type, and the CONNECT-first rule. */
static int check_header(uint8_t type, uint8_t flags, uint8_t version, bool from_client)
{
    bool v5 = version == ROOST_MQTT_V5;

    if (type == 0 || (type == ROOST_MQTT_AUTH && version != 0 && !v5))
        return ROOST_EMALFORMED; /* reserved packet type */
    switch (type) {
    case ROOST_MQTT_PUBLISH: {
        uint8_t qos = (flags >> 1) & 0x03;
        if (qos == 3)
            return ROOST_EMALFORMED; /* [MQTT-3.3.1-4] */
        if (v5 && qos == 0 && (flags & 0x08))
            return ROOST_EMALFORMED; /* DUP on QoS 0 [MQTT-3.3.1-2] */
        break;
    }
    case ROOST_MQTT_PUBREL:
    case ROOST_MQTT_SUBSCRIBE:
    case ROOST_MQTT_UNSUBSCRIBE:
        if (flags != 0x02)
            return ROOST_EMALFORMED;
        break;
    default:
        if (flags != 0)
            return ROOST_EMALFORMED;
        break;
    }
    if (version == 0) {
        /* Before CONNECT only a client's CONNECT is legal. */
        if (!from_client || type != ROOST_MQTT_CONNECT)
            return ROOST_EPROTO;
        return 0;
    }
    if (!((from_client ? FROM_CLIENT_OK : FROM_SERVER_OK) & (1u << type)))
        return ROOST_EPROTO;
    if (type == ROOST_MQTT_CONNECT)
        return ROOST_EPROTO; /* a second CONNECT [MQTT-3.1.0-2] */
    return 0;
}

static uint8_t default_reason(int rc)
{
    switch (rc) {
    case ROOST_EMALFORMED:
    case ROOST_EUTF8:
        return ROOST_RC_MALFORMED;
    case ROOST_EPROTO:
        return ROOST_RC_PROTOCOL_ERROR;
    case ROOST_ETOOBIG:
        return ROOST_RC_PACKET_TOO_LARGE;
    case ROOST_EVERSION:
        return ROOST_RC_UNSUPPORTED_VERSION;
    case ROOST_ETOPIC:
        return ROOST_RC_TOPIC_NAME_INVALID;
    default:
        return ROOST_RC_IMPL_SPECIFIC;
    }
}

int roost_mqtt_decode(const uint8_t *buf, size_t len, uint8_t version, uint32_t max_packet,
                      bool from_client, struct roost_mqtt_packet *out, struct roost_arena *arena,
                      uint8_t *out_reason)
{
    int rc;
    uint8_t tf;
    uint32_t rem;
    struct dec d = {.from_client = from_client, .arena = arena};

    if (version != 0 && version != ROOST_MQTT_V31 && version != ROOST_MQTT_V311 &&
        version != ROOST_MQTT_V5) {
        rc = ROOST_EINVAL;
        goto out;
    }
    rc = roost_mqtt_peek_header(buf, len, &tf, &rem);
    if (rc < 0)
        goto out;
    size_t hlen = (size_t)rc;
    uint8_t type = tf >> 4;
    d.flags = tf & 0x0F;
    out->type = (enum roost_mqtt_type)type;
    out->flags = d.flags;
    out->remaining_length = rem;

    rc = check_header(type, d.flags, version, from_client);
    if (rc)
        goto out;
    size_t total = hlen + rem;
    if (max_packet && total > max_packet) {
        rc = ROOST_ETOOBIG;
        goto out;
    }
    if (len < total) {
        rc = ROOST_EAGAIN;
        goto out;
    }

    d.r.p = buf + hlen;
    d.r.end = buf + total;
    d.v5 = version == ROOST_MQTT_V5;
    switch ((enum roost_mqtt_type)type) {
    case ROOST_MQTT_CONNECT:
        rc = decode_connect(&d, &out->u.connect);
        break;
    case ROOST_MQTT_CONNACK:
        rc = decode_connack(&d, &out->u.connack);
        break;
    case ROOST_MQTT_PUBLISH:
        rc = decode_publish(&d, &out->u.publish);
        break;
    case ROOST_MQTT_PUBACK:
    case ROOST_MQTT_PUBREC:
    case ROOST_MQTT_PUBREL:
    case ROOST_MQTT_PUBCOMP:
        rc = decode_ack(&d, (enum roost_mqtt_type)type, &out->u.ack);
        break;
    case ROOST_MQTT_SUBSCRIBE:
        rc = decode_subscribe(&d, &out->u.subscribe);
        break;
    case ROOST_MQTT_SUBACK:
    case ROOST_MQTT_UNSUBACK:
        rc = decode_suback(&d, (enum roost_mqtt_type)type, &out->u.suback);
        break;
    case ROOST_MQTT_UNSUBSCRIBE:
        rc = decode_unsubscribe(&d, &out->u.unsubscribe);
        break;
    case ROOST_MQTT_PINGREQ:
    case ROOST_MQTT_PINGRESP:
        rc = expect_end(&d);
        break;
    case ROOST_MQTT_DISCONNECT:
    case ROOST_MQTT_AUTH:
        rc = decode_disconnect(&d, (enum roost_mqtt_type)type, &out->u.disconnect);
        break;
    default:
        rc = ROOST_EMALFORMED; /* unreachable: check_header rejected it */
        break;
    }
    if (rc == 0)
        rc = (int)total;
out:
    if (out_reason) {
        if (rc >= 0 || rc == ROOST_EAGAIN)
            *out_reason = 0;
        else
            *out_reason = d.reason ? d.reason : default_reason(rc);
    }
    return rc;
}
