/*
 * mqtt.h - the MQTT 3.1.1 and 5.0 packet codec, topic names and filters.
 *
 * Sans-I/O: every function here is pure over caller buffers, with no sockets,
 * no globals and no threads, so the broker, roost-bench, the agent and the
 * fuzzers share one implementation. Decoded strings are views into the input
 * buffer (valid while it is); anything that needs allocation (user-property
 * arrays, subscription lists) comes from the caller's arena.
 *
 * Versions: ROOST_MQTT_V311 (protocol level 4) and ROOST_MQTT_V5 (level 5).
 * Level 3 (MQTT 3.1, "MQIsdp") is decoded as 3.1.1 for CONNECT purposes.
 */
#ifndef ROOST_MQTT_H
#define ROOST_MQTT_H

#include "common/common.h"

#define ROOST_MQTT_V31 3
#define ROOST_MQTT_V311 4
#define ROOST_MQTT_V5 5

/* The largest remaining length the 4-byte varint can express. */
#define ROOST_MQTT_MAX_REMAINING 268435455u

enum roost_mqtt_type {
    ROOST_MQTT_CONNECT = 1,
    ROOST_MQTT_CONNACK = 2,
    ROOST_MQTT_PUBLISH = 3,
    ROOST_MQTT_PUBACK = 4,
    ROOST_MQTT_PUBREC = 5,
    ROOST_MQTT_PUBREL = 6,
    ROOST_MQTT_PUBCOMP = 7,
    ROOST_MQTT_SUBSCRIBE = 8,
    ROOST_MQTT_SUBACK = 9,
    ROOST_MQTT_UNSUBSCRIBE = 10,
    ROOST_MQTT_UNSUBACK = 11,
    ROOST_MQTT_PINGREQ = 12,
    ROOST_MQTT_PINGRESP = 13,
    ROOST_MQTT_DISCONNECT = 14,
    ROOST_MQTT_AUTH = 15,
};

/* MQTT 5 reason codes (also the 3.1.1 CONNACK codes 1..5 where noted). */
enum roost_mqtt_reason {
    ROOST_RC_SUCCESS = 0x00, /* also: normal disconnection, granted QoS 0 */
    ROOST_RC_GRANTED_QOS1 = 0x01,
    ROOST_RC_GRANTED_QOS2 = 0x02,
    ROOST_RC_DISCONNECT_WITH_WILL = 0x04,
    ROOST_RC_NO_MATCHING_SUBSCRIBERS = 0x10,
    ROOST_RC_NO_SUBSCRIPTION_EXISTED = 0x11,
    ROOST_RC_CONTINUE_AUTH = 0x18,
    ROOST_RC_REAUTHENTICATE = 0x19,
    ROOST_RC_UNSPECIFIED = 0x80,
    ROOST_RC_MALFORMED = 0x81,
    ROOST_RC_PROTOCOL_ERROR = 0x82,
    ROOST_RC_IMPL_SPECIFIC = 0x83,
    ROOST_RC_UNSUPPORTED_VERSION = 0x84,
    ROOST_RC_CLIENT_ID_INVALID = 0x85,
    ROOST_RC_BAD_USER_PASS = 0x86,
    ROOST_RC_NOT_AUTHORIZED = 0x87,
    ROOST_RC_SERVER_UNAVAILABLE = 0x88,
    ROOST_RC_SERVER_BUSY = 0x89,
    ROOST_RC_BANNED = 0x8A,
    ROOST_RC_SERVER_SHUTTING_DOWN = 0x8B,
    ROOST_RC_BAD_AUTH_METHOD = 0x8C,
    ROOST_RC_KEEP_ALIVE_TIMEOUT = 0x8D,
    ROOST_RC_SESSION_TAKEN_OVER = 0x8E,
    ROOST_RC_TOPIC_FILTER_INVALID = 0x8F,
    ROOST_RC_TOPIC_NAME_INVALID = 0x90,
    ROOST_RC_PACKET_ID_IN_USE = 0x91,
    ROOST_RC_PACKET_ID_NOT_FOUND = 0x92,
    ROOST_RC_RECEIVE_MAX_EXCEEDED = 0x93,
    ROOST_RC_TOPIC_ALIAS_INVALID = 0x94,
    ROOST_RC_PACKET_TOO_LARGE = 0x95,
    ROOST_RC_MESSAGE_RATE_TOO_HIGH = 0x96,
    ROOST_RC_QUOTA_EXCEEDED = 0x97,
    ROOST_RC_ADMIN_ACTION = 0x98,
    ROOST_RC_PAYLOAD_FORMAT_INVALID = 0x99,
    ROOST_RC_RETAIN_NOT_SUPPORTED = 0x9A,
    ROOST_RC_QOS_NOT_SUPPORTED = 0x9B,
    ROOST_RC_USE_ANOTHER_SERVER = 0x9C,
    ROOST_RC_SERVER_MOVED = 0x9D,
    ROOST_RC_SHARED_SUBS_NOT_SUPPORTED = 0x9E,
    ROOST_RC_CONNECTION_RATE_EXCEEDED = 0x9F,
    ROOST_RC_MAX_CONNECT_TIME = 0xA0,
    ROOST_RC_SUB_IDS_NOT_SUPPORTED = 0xA1,
    ROOST_RC_WILDCARD_SUBS_NOT_SUPPORTED = 0xA2,
};

/* 3.1.1 CONNACK return codes. */
enum roost_mqtt311_connack {
    ROOST_CONNACK311_ACCEPTED = 0,
    ROOST_CONNACK311_BAD_VERSION = 1,
    ROOST_CONNACK311_ID_REJECTED = 2,
    ROOST_CONNACK311_SERVER_UNAVAILABLE = 3,
    ROOST_CONNACK311_BAD_USER_PASS = 4,
    ROOST_CONNACK311_NOT_AUTHORIZED = 5,
};

/* ==== MQTT 5 properties ================================================== */

/* Property identifiers (MQTT 5 section 2.2.2.2). */
enum roost_mqtt_prop_id {
    ROOST_PROP_PAYLOAD_FORMAT = 0x01,
    ROOST_PROP_MESSAGE_EXPIRY = 0x02,
    ROOST_PROP_CONTENT_TYPE = 0x03,
    ROOST_PROP_RESPONSE_TOPIC = 0x08,
    ROOST_PROP_CORRELATION_DATA = 0x09,
    ROOST_PROP_SUBSCRIPTION_ID = 0x0B,
    ROOST_PROP_SESSION_EXPIRY = 0x11,
    ROOST_PROP_ASSIGNED_CLIENT_ID = 0x12,
    ROOST_PROP_SERVER_KEEP_ALIVE = 0x13,
    ROOST_PROP_AUTH_METHOD = 0x15,
    ROOST_PROP_AUTH_DATA = 0x16,
    ROOST_PROP_REQUEST_PROBLEM_INFO = 0x17,
    ROOST_PROP_WILL_DELAY = 0x18,
    ROOST_PROP_REQUEST_RESPONSE_INFO = 0x19,
    ROOST_PROP_RESPONSE_INFO = 0x1A,
    ROOST_PROP_SERVER_REFERENCE = 0x1C,
    ROOST_PROP_REASON_STRING = 0x1F,
    ROOST_PROP_RECEIVE_MAXIMUM = 0x21,
    ROOST_PROP_TOPIC_ALIAS_MAXIMUM = 0x22,
    ROOST_PROP_TOPIC_ALIAS = 0x23,
    ROOST_PROP_MAXIMUM_QOS = 0x24,
    ROOST_PROP_RETAIN_AVAILABLE = 0x25,
    ROOST_PROP_USER_PROPERTY = 0x26,
    ROOST_PROP_MAXIMUM_PACKET_SIZE = 0x27,
    ROOST_PROP_WILDCARD_SUB_AVAILABLE = 0x28,
    ROOST_PROP_SUB_ID_AVAILABLE = 0x29,
    ROOST_PROP_SHARED_SUB_AVAILABLE = 0x2A,
};

struct roost_mqtt_user_prop {
    struct roost_str key;
    struct roost_str value;
};

/* Max subscription identifiers carried by one outgoing PUBLISH. */
#define ROOST_MQTT_MAX_SUB_IDS 16

/* Decoded (or to-be-encoded) property set. `present` has bit (1ull << id)
 * set for every single-valued property that appeared; user properties and
 * subscription identifiers are counted instead. The decoder rejects
 * properties not allowed in the packet type, and duplicates of
 * single-valued ones (ROOST_EPROTO). */
struct roost_mqtt_props {
    uint64_t present;
    uint8_t payload_format;          /* 0 bytes, 1 UTF-8 */
    uint32_t message_expiry;         /* seconds */
    struct roost_str content_type;
    struct roost_str response_topic;
    struct roost_str correlation_data; /* binary */
    uint32_t sub_ids[ROOST_MQTT_MAX_SUB_IDS];
    size_t n_sub_ids;
    uint32_t session_expiry;
    struct roost_str assigned_client_id;
    uint16_t server_keep_alive;
    struct roost_str auth_method;
    struct roost_str auth_data;
    uint8_t request_problem_info;
    uint32_t will_delay;
    uint8_t request_response_info;
    struct roost_str response_info;
    struct roost_str server_reference;
    struct roost_str reason_string;
    uint16_t receive_maximum;
    uint16_t topic_alias_maximum;
    uint16_t topic_alias;
    uint8_t maximum_qos;
    uint8_t retain_available;
    uint32_t maximum_packet_size;
    uint8_t wildcard_sub_available;
    uint8_t sub_id_available;
    uint8_t shared_sub_available;
    const struct roost_mqtt_user_prop *user; /* arena or caller storage */
    size_t n_user;
};

static inline bool roost_mqtt_prop_has(const struct roost_mqtt_props *p, enum roost_mqtt_prop_id id)
{
    return (p->present >> id) & 1u;
}
static inline void roost_mqtt_prop_set(struct roost_mqtt_props *p, enum roost_mqtt_prop_id id)
{
    p->present |= 1ull << id;
}

/* ==== Decoded packets ==================================================== */

struct roost_mqtt_connect {
    uint8_t protocol_level;        /* 3, 4 or 5 */
    bool clean_start;
    uint16_t keep_alive;
    struct roost_str client_id;    /* may be empty */
    bool has_will;
    uint8_t will_qos;
    bool will_retain;
    struct roost_str will_topic;
    struct roost_str will_payload;
    struct roost_mqtt_props will_props; /* v5 */
    bool has_username;
    struct roost_str username;
    bool has_password;
    struct roost_str password;
    struct roost_mqtt_props props;  /* v5 */
};

struct roost_mqtt_connack {
    bool session_present;
    uint8_t reason;                 /* v5 reason code or 3.1.1 return code */
    struct roost_mqtt_props props;
};

struct roost_mqtt_publish {
    bool dup;
    uint8_t qos;
    bool retain;
    struct roost_str topic;         /* may be empty in v5 when a topic alias is used */
    uint16_t packet_id;             /* 0 for QoS 0 */
    struct roost_mqtt_props props;
    struct roost_str props_raw;     /* the encoded property bytes (v5), for forwarding */
    struct roost_str payload;
};

/* PUBACK, PUBREC, PUBREL, PUBCOMP. */
struct roost_mqtt_ack {
    uint16_t packet_id;
    uint8_t reason;                 /* 0 when absent */
    struct roost_mqtt_props props;
};

/* Subscription options byte (v5 3.8.3.1; v3 uses only qos). */
struct roost_mqtt_sub_opts {
    uint8_t qos;
    bool no_local;
    bool retain_as_published;
    uint8_t retain_handling;        /* 0, 1 or 2 */
};

struct roost_mqtt_topic_req {
    struct roost_str filter;
    struct roost_mqtt_sub_opts opts;
};

struct roost_mqtt_subscribe {
    uint16_t packet_id;
    struct roost_mqtt_props props;  /* sub id (at most one), user props */
    struct roost_mqtt_topic_req *topics; /* arena */
    size_t n_topics;                /* >= 1 */
};

struct roost_mqtt_suback {          /* SUBACK and UNSUBACK */
    uint16_t packet_id;
    struct roost_mqtt_props props;
    const uint8_t *reasons;
    size_t n_reasons;               /* 3.1.1 UNSUBACK has none */
};

struct roost_mqtt_unsubscribe {
    uint16_t packet_id;
    struct roost_mqtt_props props;
    struct roost_str *filters;      /* arena */
    size_t n_filters;               /* >= 1 */
};

struct roost_mqtt_disconnect {      /* DISCONNECT and AUTH */
    uint8_t reason;
    struct roost_mqtt_props props;
};

struct roost_mqtt_packet {
    enum roost_mqtt_type type;
    uint8_t flags;                  /* low nibble of the fixed header */
    uint32_t remaining_length;
    union {
        struct roost_mqtt_connect connect;
        struct roost_mqtt_connack connack;
        struct roost_mqtt_publish publish;
        struct roost_mqtt_ack ack;
        struct roost_mqtt_subscribe subscribe;
        struct roost_mqtt_suback suback;
        struct roost_mqtt_unsubscribe unsubscribe;
        struct roost_mqtt_disconnect disconnect; /* also AUTH */
    } u;
};

/* ==== Decoding =========================================================== */

/*
 * Decodes one packet from the front of buf[0..len).
 *  version     protocol version of the connection; 0 before CONNECT (only a
 *              CONNECT is accepted then, and its own level is decoded).
 *  max_packet  largest whole packet accepted (fixed header included); 0 = wire max.
 *  from_client true when decoding what a client sent (the broker); false for
 *              what a server sent (bench, agent). Direction decides which
 *              packet types are legal.
 * Returns the number of bytes consumed (> 0), ROOST_EAGAIN when more bytes
 * are needed, or an error:
 *  ROOST_EMALFORMED  bad varint, length mismatch, bad flags (PUBLISH QoS 3 too) ...
 *  ROOST_EPROTO      legal encoding breaking a rule (e.g. packet id 0,
 *                    property not allowed here, duplicate property)
 *  ROOST_ETOOBIG     remaining length beyond max_packet (detected from the
 *                    header alone, before the body arrives)
 *  ROOST_EVERSION    CONNECT with an unknown protocol name/level (the level
 *                    received is in out->u.connect.protocol_level)
 *  ROOST_EUTF8       a string that is not valid MQTT UTF-8
 *  ROOST_ETOPIC      invalid topic name in PUBLISH / filter in (UN)SUBSCRIBE
 * out_reason, if not NULL, receives the MQTT 5 reason code to send for the error.
 */
int roost_mqtt_decode(const uint8_t *buf, size_t len, uint8_t version, uint32_t max_packet,
                      bool from_client, struct roost_mqtt_packet *out, struct roost_arena *arena,
                      uint8_t *out_reason);

/* Reads only the fixed header: type, flags and total packet size. Returns
 * header length (>0), ROOST_EAGAIN, ROOST_EMALFORMED. */
int roost_mqtt_peek_header(const uint8_t *buf, size_t len, uint8_t *out_type_flags,
                           uint32_t *out_remaining);

/* Decodes a v5 property block (after its length varint) for packet type `type`. */
int roost_mqtt_decode_props(const uint8_t *p, size_t n, enum roost_mqtt_type type, bool will,
                            struct roost_mqtt_props *out, struct roost_arena *arena);

/* ==== Encoding =========================================================== */

/* Each encoder appends one whole packet to `out` and returns 0, or
 * ROOST_ETOOBIG if the buffer limit is hit (nothing is appended then) or the
 * packet exceeds the wire maximum. `version` picks 3.1.1 or 5 layout;
 * properties are written only for v5. */
int roost_mqtt_encode_connect(struct roost_buf *out, const struct roost_mqtt_connect *c);
int roost_mqtt_encode_connack(struct roost_buf *out, uint8_t version,
                              const struct roost_mqtt_connack *c);
/* Writes p->props; p->props_raw is ignored. */
int roost_mqtt_encode_publish(struct roost_buf *out, uint8_t version,
                              const struct roost_mqtt_publish *p);
/* type: PUBACK, PUBREC, PUBREL or PUBCOMP. v5 omits reason and props when
 * reason is 0 and there are no props (the short form). */
int roost_mqtt_encode_ack(struct roost_buf *out, uint8_t version, enum roost_mqtt_type type,
                          const struct roost_mqtt_ack *a);
int roost_mqtt_encode_subscribe(struct roost_buf *out, uint8_t version,
                                const struct roost_mqtt_subscribe *s);
int roost_mqtt_encode_suback(struct roost_buf *out, uint8_t version, const struct roost_mqtt_suback *s);
int roost_mqtt_encode_unsubscribe(struct roost_buf *out, uint8_t version,
                                  const struct roost_mqtt_unsubscribe *u);
int roost_mqtt_encode_unsuback(struct roost_buf *out, uint8_t version,
                               const struct roost_mqtt_suback *s);
int roost_mqtt_encode_pingreq(struct roost_buf *out);
int roost_mqtt_encode_pingresp(struct roost_buf *out);
/* v3: two bytes, reason ignored; v5: reason + props (short form when 0 and empty). */
int roost_mqtt_encode_disconnect(struct roost_buf *out, uint8_t version,
                                 const struct roost_mqtt_disconnect *d);
int roost_mqtt_encode_auth(struct roost_buf *out, const struct roost_mqtt_disconnect *a);

/* Size of the v5 property block (without its length prefix) and encoder into
 * raw memory of at least that size. For callers that build packets by hand
 * (the broker's fast PUBLISH path). */
size_t roost_mqtt_props_size(const struct roost_mqtt_props *p);
uint8_t *roost_mqtt_props_write(uint8_t *dst, const struct roost_mqtt_props *p);

/* Variable byte integer helpers. */
size_t roost_mqtt_varint_size(uint32_t v);            /* 1..4 */
uint8_t *roost_mqtt_varint_write(uint8_t *dst, uint32_t v);
/* Returns bytes used (1..4), ROOST_EAGAIN, or ROOST_EMALFORMED. */
int roost_mqtt_varint_read(const uint8_t *p, size_t len, uint32_t *out_v);

/* ==== Strings, topics and filters ======================================== */

/* MQTT UTF-8 rules: well-formed UTF-8, no U+0000, no surrogates,
 * no overlongs. (Control characters and non-characters are allowed.) */
bool roost_mqtt_utf8_valid(const char *s, size_t n);

/* A topic name: non-empty, no '+' or '#', no NUL, valid UTF-8. */
bool roost_mqtt_topic_valid(struct roost_str topic);

/* A topic filter: non-empty, '#' only as the last whole level, '+' only as a
 * whole level, valid UTF-8. Accepts `$share/<group>/<filter>` (group non-empty,
 * without '+', '#' or '/'; filter non-empty and valid). */
bool roost_mqtt_filter_valid(struct roost_str filter);

/* Splits `$share/group/filter`; returns false for non-shared filters. */
bool roost_mqtt_filter_shared(struct roost_str filter, struct roost_str *out_group,
                              struct roost_str *out_filter);

/* Does `filter` match `topic`? Spec semantics: '+' one level, '#' this level
 * and below (including the parent: `a/#` matches `a`), and filters starting
 * with a wildcard do not match topics starting with '$'. */
bool roost_mqtt_topic_matches(struct roost_str filter, struct roost_str topic);

/* Reason code name for logs ("Not authorized"). */
const char *roost_mqtt_reason_text(uint8_t reason);
const char *roost_mqtt_type_name(enum roost_mqtt_type type);

#endif /* ROOST_MQTT_H */
