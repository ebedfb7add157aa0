/*
 * test_codec.c - unit tests for the MQTT packet codec (src/mqtt/decode.c,
 * encode.c): hex vectors of every packet type in 3.1.1 and 5.0 that must
 * decode and re-encode to the same bytes and report ROOST_EAGAIN at every
 * truncation, the decoded fields of the richer vectors, a table of
 * malformed and illegal packets with the error and reason code each must
 * give, remaining-length edge cases, and encoder failure behaviour.
 *
 * The vectors were written from the specifications' packet layouts
 * (MQTT 3.1.1 chapter 3, MQTT 5.0 chapter 3); v5 properties appear in
 * ascending identifier order, which is the order the encoder writes.
 */
#include "roost_test.h"
#include "mqtt/mqtt.h"

#include <stdio.h>
#include <stdlib.h>

#define C true  /* from_client */
#define S false /* from server */

struct vec {
    const char *name;
    uint8_t version; /* connection version to decode with; 0 for CONNECT */
    bool from_client;
    const char *hex;
};

static const struct vec good[] = {
    /* ---- 3.1.1 ---- */
    {"connect311_min", 0, C, "10 0C 00 04 4D 51 54 54 04 02 00 3C 00 00"},
    {"connect311_full", 0, C,
     "10 20 00 04 4D 51 54 54 04 EE 00 1E 00 04 64 65 76 31 00 03 61 2F 62 00 03 62 79 65"
     " 00 01 75 00 01 70"},
    {"connect31_mqisdp", 0, C, "10 11 00 06 4D 51 49 73 64 70 03 02 00 3C 00 03 61 62 63"},
    {"connack311", 4, S, "20 02 01 00"},
    {"connack311_rejected", 4, S, "20 02 00 05"},
    {"publish311_qos0", 4, C, "30 0A 00 03 61 2F 62 68 65 6C 6C 6F"},
    {"publish311_qos1_dup_retain", 4, C, "3B 09 00 03 61 2F 62 00 0A 00 FF"},
    {"publish311_qos2_empty_payload", 4, S, "34 05 00 01 78 FF FF"},
    {"publish311_qos0_dup", 4, C, "38 04 00 01 78 41"}, /* tolerated in 3.1.1 */
    {"publish311_sys", 4, S,
     "31 16 00 12 24 53 59 53 2F 62 72 6F 6B 65 72 2F 75 70 74 69 6D 65 34 32"},
    {"puback311", 4, C, "40 02 00 0A"},
    {"pubrec311", 4, S, "50 02 00 0A"},
    {"pubrel311", 4, C, "62 02 00 0A"},
    {"pubcomp311", 4, S, "70 02 00 0A"},
    {"subscribe311", 4, C,
     "82 15 00 01 00 03 61 2F 62 01 00 01 23 02 00 06 24 53 59 53 2F 23 00"},
    {"suback311", 4, S, "90 05 00 01 01 80 02"},
    {"unsubscribe311", 4, C, "A2 0C 00 02 00 03 61 2F 62 00 03 2B 2F 23"},
    {"unsuback311", 4, S, "B0 02 00 02"},
    {"pingreq311", 4, C, "C0 00"},
    {"pingresp311", 4, S, "D0 00"},
    {"disconnect311", 4, C, "E0 00"},
    {"disconnect31", 3, C, "E0 00"},
    /* ---- 5.0 ---- */
    {"connect5_min", 0, C, "10 0D 00 04 4D 51 54 54 05 02 00 3C 00 00 00"},
    {"connect5_full", 0, C,
     "10 83 01 00 04 4D 51 54 54 05 D4 00 00 28 11 00 00 0E 10 15 00 05 53 43 52 41 4D 16"
     " 00 02 01 02 17 00 19 01 21 00 14 22 00 0A 26 00 01 6B 00 01 76 27 00 01 00 00 00 06"
     " 64 65 76 2D C3 BC 2D 01 01 02 00 00 00 78 03 00 0A 74 65 78 74 2F 70 6C 61 69 6E 08"
     " 00 03 72 2F 74 09 00 02 00 01 18 00 00 00 05 26 00 02 77 6B 00 02 77 76 00 06 77 69"
     " 6C 6C 2F 74 00 05 00 67 6F 6E 65 00 04 75 73 65 72 00 03 00 70 77"},
    {"connect5_password_only", 0, C,
     "10 14 00 04 4D 51 54 54 05 42 00 3C 00 00 02 69 64 00 03 74 6F 6B"},
    {"connack5_full", 5, S,
     "20 52 01 00 4F 11 00 00 00 00 12 00 06 61 75 74 6F 2D 31 13 00 1E 1A 00 04 72 65 73"
     " 70 1C 00 0A 6F 74 68 65 72 3A 31 38 38 33 1F 00 04 66 69 6E 65 21 00 64 22 00 08 24"
     " 01 25 00 26 00 01 61 00 01 62 26 00 01 61 00 01 63 27 00 10 00 00 28 01 29 00 2A 01"},
    {"connack5_rejected", 5, S, "20 03 00 87 00"},
    {"publish5_qos0", 5, C, "30 08 00 03 61 2F 62 00 68 69"},
    {"publish5_qos1_props", 5, C,
     "33 36 00 03 74 2F 31 00 4D 27 01 01 02 00 00 00 3C 03 00 04 6A 73 6F 6E 08 00 07 72"
     " 65 70 6C 79 2F 31 09 00 02 DE AD 23 00 07 26 00 01 78 00 01 79 7B 22 61 22 3A 31 7D"},
    {"publish5_sub_ids", 5, S,
     "34 12 00 03 74 2F 32 00 4E 0A 0B 01 0B AC 02 0B FF FF FF 7F"},
    {"publish5_alias_only", 5, C, "30 0A 00 00 03 23 00 05 64 61 74 61"},
    {"puback5_short", 5, C, "40 02 00 0A"},
    {"puback5_reason", 5, S, "40 03 00 0A 10"},
    {"puback5_props", 5, S,
     "40 13 00 0A 97 0F 1F 00 05 71 75 6F 74 61 26 00 01 6B 00 01 76"},
    {"pubrec5", 5, S, "50 03 00 0B 80"},
    {"pubrel5", 5, C, "62 03 00 0C 92"},
    {"pubcomp5", 5, S, "70 02 00 0C"},
    {"subscribe5", 5, C,
     "82 27 00 01 09 0B 05 26 00 01 6B 00 01 76 00 03 61 2F 62 1D 00 0C 24 73 68 61 72 65"
     " 2F 67 2F 78 2F 23 22 00 03 2B 2F 2B 08"},
    {"suback5", 5, S, "90 0C 00 01 05 1F 00 02 6F 6B 01 02 8F A2"},
    {"unsubscribe5", 5, C, "A2 0D 00 02 00 00 03 61 2F 62 00 03 2B 2F 23"},
    {"unsuback5", 5, S, "B0 05 00 02 00 00 11"},
    {"pingreq5", 5, C, "C0 00"},
    {"pingresp5", 5, S, "D0 00"},
    {"disconnect5_short", 5, C, "E0 00"},
    {"disconnect5_reason_only", 5, C, "E0 01 04"},
    {"disconnect5_server", 5, S,
     "E0 13 9C 11 1C 00 06 62 3A 38 38 38 33 1F 00 05 6D 6F 76 65 64"},
    {"disconnect5_client_expiry", 5, C, "E0 07 00 05 11 00 00 00 00"},
    {"auth5_short", 5, C, "F0 00"},
    {"auth5", 5, S, "F0 10 18 0E 15 00 05 53 43 52 41 4D 16 00 03 01 02 03"},
};

/* ==== Helpers ============================================================= */

static size_t unhex(const char *hex, uint8_t *out, size_t cap)
{
    long n = roost_test_unhex(hex, out, cap);
    REQUIRE(n >= 0);
    return (size_t)n;
}

/* The encoder matching a decoded packet's type. */
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

/* Decodes one vector, which must be a whole packet. */
static void decode_vec(const struct vec *v, uint8_t *buf, size_t *out_n,
                       struct roost_mqtt_packet *pkt, struct roost_arena *a)
{
    size_t n = unhex(v->hex, buf, 4096);
    uint8_t reason = 0xEE;
    int rc = roost_mqtt_decode(buf, n, v->version, 0, v->from_client, pkt, a, &reason);
    if (rc != (int)n)
        roost_test_fail(__FILE__, __LINE__, "%s: decode gave %d (%s), want %zu", v->name, rc,
                        roost_errname(rc), n);
    REQUIRE_EQ(rc, n);
    CHECK_EQ(reason, 0);
    *out_n = n;
}

static const struct vec *find_vec(const char *name)
{
    for (size_t i = 0; i < ROOST_ARRAY_LEN(good); i++) {
        if (strcmp(good[i].name, name) == 0)
            return &good[i];
    }
    REQUIRE(!"no such vector");
    return NULL;
}

/* ==== Round trips ========================================================= */

ROOST_TEST(vectors_roundtrip)
{
    static uint8_t buf[4096], trunc[4096];
    for (size_t i = 0; i < ROOST_ARRAY_LEN(good); i++) {
        const struct vec *v = &good[i];
        struct roost_arena a;
        struct roost_mqtt_packet pkt;
        size_t n;
        roost_arena_init(&a, NULL, 0);
        decode_vec(v, buf, &n, &pkt, &a);

        /* Decoding the prefix of a longer stream consumes just the packet. */
        memcpy(trunc, buf, n);
        trunc[n] = 0xC0;
        CHECK_EQ(roost_mqtt_decode(trunc, n + 1, v->version, 0, v->from_client, &pkt, &a, NULL),
                 n);

        /* The encoder reproduces the vector byte for byte. */
        struct roost_buf out;
        roost_buf_init(&out, 0);
        uint8_t version = v->version ? v->version : pkt.u.connect.protocol_level;
        int rc = encode_packet(&out, version, &pkt);
        if (rc != 0 || roost_buf_size(&out) != n || memcmp(roost_buf_head(&out), buf, n) != 0) {
            char hex[8193];
            size_t on = ROOST_MIN(roost_buf_size(&out), (size_t)4096);
            roost_hex_encode(roost_buf_head(&out), on, hex);
            roost_test_fail(__FILE__, __LINE__, "%s: re-encode rc %d gave %s", v->name, rc, hex);
        }
        roost_buf_cleanup(&out);

        /* Every truncation asks for more bytes, from a buffer of exactly that
         * size so ASan sees any read past it. */
        for (size_t k = 0; k < n; k++) {
            uint8_t *part = roost_xmalloc(k ? k : 1);
            memcpy(part, buf, k);
            uint8_t reason = 0xEE;
            rc = roost_mqtt_decode(part, k, v->version, 0, v->from_client, &pkt, &a, &reason);
            if (rc != ROOST_EAGAIN)
                roost_test_fail(__FILE__, __LINE__, "%s: prefix %zu gave %d", v->name, k, rc);
            CHECK_EQ(reason, 0);
            roost_free(part);
        }
        roost_arena_cleanup(&a);
    }
}

/* ==== Decoded fields ====================================================== */

ROOST_TEST(connect311_fields)
{
    uint8_t buf[4096];
    size_t n;
    struct roost_mqtt_packet p;
    struct roost_arena a;
    roost_arena_init(&a, NULL, 0);
    decode_vec(find_vec("connect311_full"), buf, &n, &p, &a);
    const struct roost_mqtt_connect *c = &p.u.connect;
    CHECK_EQ(p.type, ROOST_MQTT_CONNECT);
    CHECK_EQ(p.remaining_length, 0x20);
    CHECK_EQ(c->protocol_level, 4);
    CHECK(c->clean_start);
    CHECK_EQ(c->keep_alive, 30);
    CHECK(roost_str_eq_c(c->client_id, "dev1"));
    CHECK(c->has_will);
    CHECK_EQ(c->will_qos, 1);
    CHECK(c->will_retain);
    CHECK(roost_str_eq_c(c->will_topic, "a/b"));
    CHECK(roost_str_eq_c(c->will_payload, "bye"));
    CHECK(c->has_username && roost_str_eq_c(c->username, "u"));
    CHECK(c->has_password && roost_str_eq_c(c->password, "p"));
    /* Views point into the input. */
    CHECK((const uint8_t *)c->client_id.p > buf && (const uint8_t *)c->client_id.p < buf + n);
    roost_arena_cleanup(&a);
}

ROOST_TEST(connect5_fields)
{
    uint8_t buf[4096];
    size_t n;
    struct roost_mqtt_packet p;
    struct roost_arena a;
    roost_arena_init(&a, NULL, 0);
    decode_vec(find_vec("connect5_full"), buf, &n, &p, &a);
    const struct roost_mqtt_connect *c = &p.u.connect;
    CHECK_EQ(c->protocol_level, 5);
    CHECK(!c->clean_start);
    CHECK_EQ(c->keep_alive, 0);
    CHECK(roost_str_eq_c(c->client_id, "dev-\xC3\xBC"));
    CHECK_EQ(c->props.session_expiry, 3600);
    CHECK(roost_str_eq_c(c->props.auth_method, "SCRAM"));
    CHECK(roost_str_eq(c->props.auth_data, ((struct roost_str){"\x01\x02", 2})));
    CHECK(roost_mqtt_prop_has(&c->props, ROOST_PROP_REQUEST_PROBLEM_INFO));
    CHECK_EQ(c->props.request_problem_info, 0);
    CHECK_EQ(c->props.request_response_info, 1);
    CHECK_EQ(c->props.receive_maximum, 20);
    CHECK_EQ(c->props.topic_alias_maximum, 10);
    CHECK_EQ(c->props.maximum_packet_size, 65536);
    REQUIRE_EQ(c->props.n_user, 1);
    CHECK(roost_str_eq_c(c->props.user[0].key, "k"));
    CHECK(roost_str_eq_c(c->props.user[0].value, "v"));
    CHECK(!roost_mqtt_prop_has(&c->props, ROOST_PROP_USER_PROPERTY));
    CHECK(!roost_mqtt_prop_has(&c->props, ROOST_PROP_SERVER_KEEP_ALIVE));
    CHECK(c->has_will);
    CHECK_EQ(c->will_qos, 2);
    CHECK(!c->will_retain);
    CHECK_EQ(c->will_props.payload_format, 1);
    CHECK_EQ(c->will_props.message_expiry, 120);
    CHECK(roost_str_eq_c(c->will_props.content_type, "text/plain"));
    CHECK(roost_str_eq_c(c->will_props.response_topic, "r/t"));
    CHECK_EQ(c->will_props.correlation_data.n, 2);
    CHECK_EQ(c->will_props.will_delay, 5);
    REQUIRE_EQ(c->will_props.n_user, 1);
    CHECK(roost_str_eq_c(c->will_props.user[0].key, "wk"));
    CHECK(roost_str_eq_c(c->will_topic, "will/t"));
    CHECK(roost_str_eq(c->will_payload, ((struct roost_str){"\0gone", 5})));
    CHECK(roost_str_eq_c(c->username, "user"));
    CHECK(roost_str_eq(c->password, ((struct roost_str){"\0pw", 3})));

    decode_vec(find_vec("connect5_password_only"), buf, &n, &p, &a);
    CHECK(!p.u.connect.has_username);
    CHECK(p.u.connect.has_password);
    CHECK(roost_str_eq_c(p.u.connect.password, "tok"));
    roost_arena_cleanup(&a);
}

ROOST_TEST(connack5_fields)
{
    uint8_t buf[4096];
    size_t n;
    struct roost_mqtt_packet p;
    struct roost_arena a;
    roost_arena_init(&a, NULL, 0);
    decode_vec(find_vec("connack5_full"), buf, &n, &p, &a);
    const struct roost_mqtt_connack *c = &p.u.connack;
    CHECK(c->session_present);
    CHECK_EQ(c->reason, 0);
    CHECK(roost_mqtt_prop_has(&c->props, ROOST_PROP_SESSION_EXPIRY));
    CHECK_EQ(c->props.session_expiry, 0);
    CHECK(roost_str_eq_c(c->props.assigned_client_id, "auto-1"));
    CHECK_EQ(c->props.server_keep_alive, 30);
    CHECK(roost_str_eq_c(c->props.response_info, "resp"));
    CHECK(roost_str_eq_c(c->props.server_reference, "other:1883"));
    CHECK(roost_str_eq_c(c->props.reason_string, "fine"));
    CHECK_EQ(c->props.receive_maximum, 100);
    CHECK_EQ(c->props.topic_alias_maximum, 8);
    CHECK_EQ(c->props.maximum_qos, 1);
    CHECK(roost_mqtt_prop_has(&c->props, ROOST_PROP_RETAIN_AVAILABLE));
    CHECK_EQ(c->props.retain_available, 0);
    REQUIRE_EQ(c->props.n_user, 2); /* a key may repeat */
    CHECK(roost_str_eq_c(c->props.user[1].key, "a"));
    CHECK(roost_str_eq_c(c->props.user[1].value, "c"));
    CHECK_EQ(c->props.maximum_packet_size, 1048576);
    CHECK_EQ(c->props.wildcard_sub_available, 1);
    CHECK_EQ(c->props.sub_id_available, 0);
    CHECK_EQ(c->props.shared_sub_available, 1);

    /* A v5 CONNACK without the property length is tolerated. */
    uint8_t short_ca[] = {0x20, 0x02, 0x00, 0x00};
    CHECK_EQ(roost_mqtt_decode(short_ca, 4, 5, 0, false, &p, &a, NULL), 4);
    CHECK_EQ(p.u.connack.props.present, 0);
    roost_arena_cleanup(&a);
}

ROOST_TEST(publish_fields)
{
    uint8_t buf[4096];
    size_t n;
    struct roost_mqtt_packet p;
    struct roost_arena a;
    roost_arena_init(&a, NULL, 0);

    decode_vec(find_vec("publish311_qos1_dup_retain"), buf, &n, &p, &a);
    CHECK(p.u.publish.dup && p.u.publish.retain);
    CHECK_EQ(p.u.publish.qos, 1);
    CHECK_EQ(p.u.publish.packet_id, 10);
    CHECK(roost_str_eq(p.u.publish.payload, ((struct roost_str){"\0\xff", 2})));
    CHECK_EQ(p.u.publish.props_raw.n, 0);

    decode_vec(find_vec("publish5_qos1_props"), buf, &n, &p, &a);
    const struct roost_mqtt_publish *pub = &p.u.publish;
    CHECK(roost_str_eq_c(pub->topic, "t/1"));
    CHECK_EQ(pub->qos, 1);
    CHECK(pub->retain && !pub->dup);
    CHECK_EQ(pub->packet_id, 77);
    CHECK_EQ(pub->props.payload_format, 1);
    CHECK_EQ(pub->props.message_expiry, 60);
    CHECK(roost_str_eq_c(pub->props.content_type, "json"));
    CHECK(roost_str_eq_c(pub->props.response_topic, "reply/1"));
    CHECK(roost_str_eq(pub->props.correlation_data, ((struct roost_str){"\xde\xad", 2})));
    CHECK_EQ(pub->props.topic_alias, 7);
    CHECK_EQ(pub->props.n_user, 1);
    CHECK(roost_str_eq_c(pub->payload, "{\"a\":1}"));
    /* props_raw is exactly the property bytes, after the length varint. */
    CHECK_EQ(pub->props_raw.n, 0x27);
    CHECK((const uint8_t *)pub->props_raw.p == buf + 10);
    CHECK_EQ(roost_mqtt_props_size(&pub->props), pub->props_raw.n);
    uint8_t re[64];
    CHECK(roost_mqtt_props_write(re, &pub->props) == re + pub->props_raw.n);
    CHECK_MEM(re, pub->props_raw.p, pub->props_raw.n);

    decode_vec(find_vec("publish5_sub_ids"), buf, &n, &p, &a);
    REQUIRE_EQ(p.u.publish.props.n_sub_ids, 3);
    CHECK_EQ(p.u.publish.props.sub_ids[0], 1);
    CHECK_EQ(p.u.publish.props.sub_ids[1], 300);
    CHECK_EQ(p.u.publish.props.sub_ids[2], ROOST_MQTT_MAX_REMAINING);
    CHECK_EQ(p.u.publish.payload.n, 0);

    /* An alias-only PUBLISH comes back with an empty topic. */
    decode_vec(find_vec("publish5_alias_only"), buf, &n, &p, &a);
    CHECK_EQ(p.u.publish.topic.n, 0);
    CHECK_EQ(p.u.publish.props.topic_alias, 5);
    CHECK(roost_str_eq_c(p.u.publish.payload, "data"));
    roost_arena_cleanup(&a);
}

ROOST_TEST(subscribe_fields)
{
    uint8_t buf[4096];
    size_t n;
    struct roost_mqtt_packet p;
    struct roost_arena a;
    uint8_t inline_buf[256];
    roost_arena_init(&a, inline_buf, sizeof(inline_buf));

    decode_vec(find_vec("subscribe311"), buf, &n, &p, &a);
    REQUIRE_EQ(p.u.subscribe.n_topics, 3);
    CHECK_EQ(p.u.subscribe.packet_id, 1);
    CHECK(roost_str_eq_c(p.u.subscribe.topics[1].filter, "#"));
    CHECK_EQ(p.u.subscribe.topics[1].opts.qos, 2);
    CHECK(roost_str_eq_c(p.u.subscribe.topics[2].filter, "$SYS/#"));

    decode_vec(find_vec("subscribe5"), buf, &n, &p, &a);
    const struct roost_mqtt_subscribe *s = &p.u.subscribe;
    REQUIRE_EQ(s->n_topics, 3);
    REQUIRE_EQ(s->props.n_sub_ids, 1);
    CHECK_EQ(s->props.sub_ids[0], 5);
    CHECK_EQ(s->props.n_user, 1);
    CHECK(roost_str_eq_c(s->topics[0].filter, "a/b"));
    CHECK_EQ(s->topics[0].opts.qos, 1);
    CHECK(s->topics[0].opts.no_local);
    CHECK(s->topics[0].opts.retain_as_published);
    CHECK_EQ(s->topics[0].opts.retain_handling, 1);
    CHECK(roost_str_eq_c(s->topics[1].filter, "$share/g/x/#"));
    CHECK_EQ(s->topics[1].opts.qos, 2);
    CHECK(!s->topics[1].opts.no_local);
    CHECK_EQ(s->topics[1].opts.retain_handling, 2);
    CHECK_EQ(s->topics[2].opts.qos, 0);
    CHECK(s->topics[2].opts.retain_as_published);

    decode_vec(find_vec("unsubscribe5"), buf, &n, &p, &a);
    REQUIRE_EQ(p.u.unsubscribe.n_filters, 2);
    CHECK(roost_str_eq_c(p.u.unsubscribe.filters[1], "+/#"));

    decode_vec(find_vec("suback5"), buf, &n, &p, &a);
    REQUIRE_EQ(p.u.suback.n_reasons, 4);
    CHECK_EQ(p.u.suback.reasons[2], ROOST_RC_TOPIC_FILTER_INVALID);
    CHECK(roost_str_eq_c(p.u.suback.props.reason_string, "ok"));

    decode_vec(find_vec("unsuback311"), buf, &n, &p, &a);
    CHECK_EQ(p.u.suback.n_reasons, 0);
    CHECK_EQ(p.u.suback.packet_id, 2);
    roost_arena_cleanup(&a);
}

ROOST_TEST(ack_and_disconnect_fields)
{
    uint8_t buf[4096];
    size_t n;
    struct roost_mqtt_packet p;
    struct roost_arena a;
    roost_arena_init(&a, NULL, 0);

    decode_vec(find_vec("puback5_short"), buf, &n, &p, &a);
    CHECK_EQ(p.u.ack.packet_id, 10);
    CHECK_EQ(p.u.ack.reason, 0);
    decode_vec(find_vec("puback5_props"), buf, &n, &p, &a);
    CHECK_EQ(p.u.ack.reason, ROOST_RC_QUOTA_EXCEEDED);
    CHECK(roost_str_eq_c(p.u.ack.props.reason_string, "quota"));
    decode_vec(find_vec("pubrel5"), buf, &n, &p, &a);
    CHECK_EQ(p.type, ROOST_MQTT_PUBREL);
    CHECK_EQ(p.flags, 2);
    CHECK_EQ(p.u.ack.reason, ROOST_RC_PACKET_ID_NOT_FOUND);

    decode_vec(find_vec("disconnect5_reason_only"), buf, &n, &p, &a);
    CHECK_EQ(p.u.disconnect.reason, ROOST_RC_DISCONNECT_WITH_WILL);
    decode_vec(find_vec("disconnect5_server"), buf, &n, &p, &a);
    CHECK_EQ(p.u.disconnect.reason, ROOST_RC_USE_ANOTHER_SERVER);
    CHECK(roost_str_eq_c(p.u.disconnect.props.server_reference, "b:8883"));
    decode_vec(find_vec("auth5"), buf, &n, &p, &a);
    CHECK_EQ(p.type, ROOST_MQTT_AUTH);
    CHECK_EQ(p.u.disconnect.reason, ROOST_RC_CONTINUE_AUTH);
    CHECK(roost_str_eq_c(p.u.disconnect.props.auth_method, "SCRAM"));
    roost_arena_cleanup(&a);
}

/* ==== Malformed and illegal packets ======================================= */

struct bad {
    const char *name;
    uint8_t version;
    bool from_client;
    const char *hex;
    int rc;
    uint8_t reason;
};

#define MAL ROOST_EMALFORMED, ROOST_RC_MALFORMED
#define PROTO ROOST_EPROTO, ROOST_RC_PROTOCOL_ERROR
#define BADUTF8 ROOST_EUTF8, ROOST_RC_MALFORMED
#define BADTOPIC ROOST_ETOPIC, ROOST_RC_TOPIC_NAME_INVALID
#define BADFILTER ROOST_ETOPIC, ROOST_RC_TOPIC_FILTER_INVALID
#define BADVER ROOST_EVERSION, ROOST_RC_UNSUPPORTED_VERSION

static const struct bad bad[] = {
    /* Fixed header: reserved types and flag bits. */
    {"type0", 4, C, "00 00", MAL},
    {"auth_in_311", 4, C, "F0 00", MAL},
    {"publish_qos3", 4, C, "36 05 00 01 78 00 01", MAL},
    {"publish_qos3_v5", 5, S, "37 06 00 01 78 00 01 00", MAL},
    {"publish5_dup_qos0", 5, C, "38 04 00 01 78 00", MAL},
    {"pubrel_flags0", 4, C, "60 02 00 01", MAL},
    {"subscribe_flags0", 4, C, "80 06 00 01 00 01 61 00", MAL},
    {"unsubscribe_flags3", 4, C, "A3 05 00 01 00 01 61", MAL},
    {"puback_flags", 4, C, "42 02 00 01", MAL},
    {"pingreq_flags", 4, C, "C1 00", MAL},
    {"connect_flags", 0, C, "12 0C 00 04 4D 51 54 54 04 02 00 3C 00 00", MAL},
    {"varint_5_bytes", 4, C, "30 FF FF FF FF 01", MAL},
    {"varint_non_minimal", 4, C, "30 80 00", MAL},
    {"varint_non_minimal_3", 4, C, "30 FF 80 00", MAL},
    /* Direction and sequence. */
    {"client_sends_connack", 4, C, "20 02 00 00", PROTO},
    {"client_sends_suback", 4, C, "90 03 00 01 00", PROTO},
    {"client_sends_unsuback", 4, C, "B0 02 00 01", PROTO},
    {"client_sends_pingresp", 5, C, "D0 00", PROTO},
    {"server_sends_connect", 4, S, "10 0C 00 04 4D 51 54 54 04 02 00 3C 00 00", PROTO},
    {"server_sends_subscribe", 4, S, "82 06 00 01 00 01 61 00", PROTO},
    {"server_sends_unsubscribe", 4, S, "A2 05 00 01 00 01 61", PROTO},
    {"server_sends_pingreq", 5, S, "C0 00", PROTO},
    {"publish_before_connect", 0, C, "30 04 00 01 78 41", PROTO},
    {"pingreq_before_connect", 0, C, "C0 00", PROTO},
    {"second_connect", 4, C, "10 0C 00 04 4D 51 54 54 04 02 00 3C 00 00", PROTO},
    /* CONNECT. */
    {"connect_bad_name", 0, C, "10 0C 00 04 4D 51 54 58 04 02 00 3C 00 00", BADVER},
    {"connect_mqtt_level3", 0, C, "10 0C 00 04 4D 51 54 54 03 02 00 3C 00 00", BADVER},
    {"connect_level6", 0, C, "10 0C 00 04 4D 51 54 54 06 02 00 3C 00 00", BADVER},
    {"connect_mqisdp_level4", 0, C,
     "10 0E 00 06 4D 51 49 73 64 70 04 02 00 3C 00 00", BADVER},
    {"connect_reserved_flag", 0, C, "10 0C 00 04 4D 51 54 54 04 03 00 3C 00 00", MAL},
    {"connect_will_qos3", 0, C,
     "10 14 00 04 4D 51 54 54 04 1E 00 3C 00 00 00 01 74 00 03 62 79 65", MAL},
    {"connect_will_qos_no_will", 0, C, "10 0C 00 04 4D 51 54 54 04 0A 00 3C 00 00", MAL},
    {"connect_will_retain_no_will", 0, C, "10 0C 00 04 4D 51 54 54 04 22 00 3C 00 00", MAL},
    {"connect311_password_no_user", 0, C,
     "10 0F 00 04 4D 51 54 54 04 42 00 3C 00 00 00 01 70", PROTO},
    {"connect_trailing", 0, C, "10 0D 00 04 4D 51 54 54 04 02 00 3C 00 00 00", MAL},
    {"connect_short_client_id", 0, C, "10 0C 00 04 4D 51 54 54 04 02 00 3C 00 05", MAL},
    {"connect_truncated_header", 0, C, "10 06 00 04 4D 51 54 54", MAL},
    {"connect_client_id_overlong", 0, C,
     "10 0E 00 04 4D 51 54 54 04 02 00 3C 00 02 C0 80", BADUTF8},
    {"connect_client_id_nul", 0, C, "10 0E 00 04 4D 51 54 54 04 02 00 3C 00 02 61 00",
     BADUTF8},
    {"connect_will_topic_wildcard", 0, C,
     "10 14 00 04 4D 51 54 54 04 06 00 3C 00 00 00 01 23 00 03 62 79 65", BADTOPIC},
    {"connect_will_topic_empty", 0, C,
     "10 13 00 04 4D 51 54 54 04 06 00 3C 00 00 00 00 00 03 62 79 65", BADTOPIC},
    {"connect5_prop_not_allowed", 0, C,
     "10 10 00 04 4D 51 54 54 05 02 00 3C 03 23 00 01 00 00", PROTO},
    {"connect5_dup_session_expiry", 0, C,
     "10 17 00 04 4D 51 54 54 05 02 00 3C 0A 11 00 00 00 01 11 00 00 00 02 00 00", PROTO},
    {"connect5_receive_max_0", 0, C,
     "10 10 00 04 4D 51 54 54 05 02 00 3C 03 21 00 00 00 00", PROTO},
    {"connect5_max_packet_0", 0, C,
     "10 12 00 04 4D 51 54 54 05 02 00 3C 05 27 00 00 00 00 00 00", PROTO},
    {"connect5_unknown_prop", 0, C, "10 0F 00 04 4D 51 54 54 05 02 00 3C 02 04 00 00 00", MAL},
    {"connect5_prop_id_high", 0, C, "10 0F 00 04 4D 51 54 54 05 02 00 3C 02 80 01 00 00", MAL},
    {"connect5_auth_data_no_method", 0, C,
     "10 11 00 04 4D 51 54 54 05 02 00 3C 04 16 00 01 AA 00 00", PROTO},
    {"connect5_problem_info_2", 0, C,
     "10 0F 00 04 4D 51 54 54 05 02 00 3C 02 17 02 00 00", PROTO},
    {"connect5_props_overrun", 0, C, "10 0D 00 04 4D 51 54 54 05 02 00 3C 09 00 00", MAL},
    {"connect5_prop_value_short", 0, C, "10 0E 00 04 4D 51 54 54 05 02 00 3C 03 11 00 00",
     MAL},
    {"connect5_will_delay_in_connect", 0, C,
     "10 12 00 04 4D 51 54 54 05 02 00 3C 05 18 00 00 00 05 00 00", PROTO},
    {"connect5_session_expiry_in_will", 0, C,
     "10 19 00 04 4D 51 54 54 05 06 00 3C 00 00 00 05 11 00 00 00 05 00 01 74 00 01 62",
     PROTO},
    {"connect5_user_prop_bad_utf8", 0, C,
     "10 14 00 04 4D 51 54 54 05 02 00 3C 07 26 00 01 FF 00 01 61 00 00", BADUTF8},
    {"connect5_will_response_topic_wild", 0, C,
     "10 18 00 04 4D 51 54 54 05 06 00 3C 00 00 00 04 08 00 01 23 00 01 74 00 01 62", PROTO},
    /* CONNACK. */
    {"connack_reserved_flags", 4, S, "20 02 02 00", MAL},
    {"connack311_code6", 4, S, "20 02 00 06", PROTO},
    {"connack_session_present_error", 4, S, "20 02 01 05", PROTO},
    {"connack311_trailing", 4, S, "20 03 00 00 00", MAL},
    {"connack_short", 4, S, "20 01 00", MAL},
    {"connack5_bad_reason", 5, S, "20 03 00 10 00", PROTO},
    {"connack5_max_qos_2", 5, S, "20 05 00 00 02 24 02", PROTO},
    {"connack5_topic_alias_prop", 5, S, "20 06 00 00 03 23 00 01", PROTO},
    /* PUBLISH. */
    {"publish_topic_plus", 4, C, "30 03 00 01 2B", BADTOPIC},
    {"publish_topic_hash", 4, C, "30 05 00 03 61 2F 23", BADTOPIC},
    {"publish311_empty_topic", 4, C, "30 02 00 00", BADTOPIC},
    {"publish_topic_surrogate", 4, C, "30 05 00 03 ED A0 80", BADUTF8},
    {"publish_topic_nul", 4, C, "30 04 00 02 61 00", BADUTF8},
    {"publish_topic_overrun", 4, C, "30 03 00 05 61", MAL},
    {"publish_qos1_no_id", 4, C, "32 03 00 01 78", MAL},
    {"publish_qos1_id0", 4, C, "32 05 00 01 78 00 00", PROTO},
    {"publish5_empty_topic_no_alias", 5, C, "30 03 00 00 00", PROTO},
    {"publish5_topic_alias_0", 5, C, "30 06 00 00 03 23 00 00", ROOST_EPROTO,
     ROOST_RC_TOPIC_ALIAS_INVALID},
    {"publish5_client_sub_id", 5, C, "30 06 00 01 78 02 0B 01", PROTO},
    {"publish5_sub_id_0", 5, S, "30 06 00 01 78 02 0B 00", PROTO},
    {"publish5_session_expiry", 5, C, "30 09 00 01 78 05 11 00 00 00 01", PROTO},
    {"publish5_payload_format_2", 5, C, "30 06 00 01 78 02 01 02", PROTO},
    {"publish5_dup_alias", 5, C, "30 0A 00 01 78 06 23 00 01 23 00 02", PROTO},
    {"publish5_response_topic_wild", 5, C, "30 09 00 01 78 05 08 00 02 61 2B", PROTO},
    {"publish5_props_missing", 5, C, "30 03 00 01 78", MAL},
    {"publish5_content_type_bad_utf8", 5, C, "30 08 00 01 78 04 03 00 01 80", BADUTF8},
    /* PUBACK family. */
    {"puback311_trailing", 4, C, "40 03 00 01 00", MAL},
    {"puback_id0", 4, C, "40 02 00 00", PROTO},
    {"puback_short", 4, C, "40 01 00", MAL},
    {"puback5_bad_reason", 5, C, "40 03 00 01 92", PROTO},
    {"pubrel5_bad_reason", 5, C, "62 03 00 01 10", PROTO},
    {"pubcomp5_bad_reason", 5, S, "70 03 00 01 80", PROTO},
    {"puback5_alias_prop", 5, C, "40 07 00 01 00 03 23 00 01", PROTO},
    {"puback5_props_overrun", 5, C, "40 05 00 01 00 05 1F", MAL},
    /* SUBSCRIBE. */
    {"subscribe_empty", 4, C, "82 02 00 01", PROTO},
    {"subscribe5_empty", 5, C, "82 03 00 01 00", PROTO},
    {"subscribe_id0", 4, C, "82 06 00 00 00 01 61 00", PROTO},
    {"subscribe311_reserved_opts", 4, C, "82 06 00 01 00 01 61 04", MAL},
    {"subscribe311_qos3", 4, C, "82 06 00 01 00 01 61 03", MAL},
    {"subscribe_no_opts", 4, C, "82 05 00 01 00 01 61", MAL},
    {"subscribe_bad_hash", 4, C, "82 0A 00 01 00 05 61 2F 23 2F 62 00", BADFILTER},
    {"subscribe_plus_in_level", 4, C, "82 07 00 01 00 02 61 2B 00", BADFILTER},
    {"subscribe_empty_filter", 4, C, "82 05 00 01 00 00 00", BADFILTER},
    {"subscribe_bad_utf8", 4, C, "82 07 00 01 00 02 C3 28 00", BADUTF8},
    {"subscribe5_reserved_opts", 5, C, "82 07 00 01 00 00 01 61 40", MAL},
    {"subscribe5_qos3", 5, C, "82 07 00 01 00 00 01 61 03", PROTO},
    {"subscribe5_retain_handling3", 5, C, "82 07 00 01 00 00 01 61 30", PROTO},
    {"subscribe5_no_local_shared", 5, C,
     "82 10 00 01 00 00 0A 24 73 68 61 72 65 2F 67 2F 61 04", PROTO},
    {"subscribe5_share_no_filter", 5, C,
     "82 0E 00 01 00 00 08 24 73 68 61 72 65 2F 67 00", BADFILTER},
    {"subscribe5_two_sub_ids", 5, C, "82 0B 00 01 04 0B 01 0B 02 00 01 61 00", PROTO},
    {"subscribe5_sub_id_0", 5, C, "82 09 00 01 02 0B 00 00 01 61 00", PROTO},
    {"subscribe5_sub_id_non_minimal", 5, C, "82 0A 00 01 03 0B 81 00 00 01 61 00", MAL},
    {"subscribe5_reason_string", 5, C, "82 0B 00 01 04 1F 00 01 78 00 01 61 00", PROTO},
    /* SUBACK, UNSUBSCRIBE, UNSUBACK. */
    {"suback311_bad_code", 4, S, "90 03 00 01 03", PROTO},
    {"suback311_empty", 4, S, "90 02 00 01", PROTO},
    {"suback5_bad_code", 5, S, "90 04 00 01 00 11", PROTO},
    {"suback5_id0", 5, S, "90 04 00 00 00 00", PROTO},
    {"unsubscribe_empty", 4, C, "A2 02 00 01", PROTO},
    {"unsubscribe_bad_filter", 4, C, "A2 06 00 01 00 02 23 61", BADFILTER},
    {"unsubscribe5_sub_id", 5, C, "A2 08 00 01 02 0B 01 00 01 61", PROTO},
    {"unsuback311_payload", 4, S, "B0 03 00 01 00", MAL},
    {"unsuback5_empty", 5, S, "B0 03 00 01 00", PROTO},
    {"unsuback5_bad_code", 5, S, "B0 04 00 01 00 01", PROTO},
    /* PING, DISCONNECT, AUTH. */
    {"pingreq_body", 4, C, "C0 01 00", MAL},
    {"pingresp_body", 5, S, "D0 01 00", MAL},
    {"disconnect311_body", 4, C, "E0 01 00", MAL},
    {"disconnect5_bad_reason", 5, C, "E0 01 05", PROTO},
    {"disconnect5_server_session_expiry", 5, S, "E0 07 00 05 11 00 00 00 01", PROTO},
    {"disconnect5_alias_prop", 5, C, "E0 05 00 03 23 00 01", PROTO},
    {"disconnect5_trailing", 5, C, "E0 03 00 00 00", MAL},
    {"auth5_bad_reason", 5, C, "F0 02 01 00", PROTO},
    {"auth5_session_expiry", 5, C, "F0 07 18 05 11 00 00 00 01", PROTO},
};

ROOST_TEST(malformed_table)
{
    static uint8_t buf[512];
    struct roost_arena a;
    roost_arena_init(&a, NULL, 0);
    for (size_t i = 0; i < ROOST_ARRAY_LEN(bad); i++) {
        const struct bad *b = &bad[i];
        size_t n = unhex(b->hex, buf, sizeof(buf));
        struct roost_mqtt_packet p;
        uint8_t reason = 0;
        int rc = roost_mqtt_decode(buf, n, b->version, 0, b->from_client, &p, &a, &reason);
        if (rc != b->rc || reason != b->reason)
            roost_test_fail(__FILE__, __LINE__, "%s: got %s reason 0x%02x, want %s 0x%02x",
                            b->name, roost_errname(rc), reason, roost_errname(b->rc),
                            b->reason);
        /* Prefixes never give a different error: either more input is
         * needed, or the same error is already visible. */
        for (size_t k = 0; k < n; k++) {
            int prc = roost_mqtt_decode(buf, k, b->version, 0, b->from_client, &p, &a, NULL);
            if (prc != ROOST_EAGAIN && prc != b->rc)
                roost_test_fail(__FILE__, __LINE__, "%s: prefix %zu gave %s", b->name, k,
                                roost_errname(prc));
        }
        roost_arena_reset(&a);
    }
    roost_arena_cleanup(&a);
}

ROOST_TEST(version_error_reports_level)
{
    uint8_t buf[64];
    size_t n = unhex("10 0C 00 04 4D 51 54 54 07 02 00 3C 00 00", buf, sizeof(buf));
    struct roost_mqtt_packet p;
    uint8_t reason = 0;
    CHECK_EQ(roost_mqtt_decode(buf, n, 0, 0, true, &p, NULL, &reason), ROOST_EVERSION);
    CHECK_EQ(reason, ROOST_RC_UNSUPPORTED_VERSION);
    CHECK_EQ(p.type, ROOST_MQTT_CONNECT);
    CHECK_EQ(p.u.connect.protocol_level, 7);
}

ROOST_TEST(header_errors_before_body)
{
    /* A PUBLISH announcing 268435455 bytes, only its header present. */
    uint8_t hdr[] = {0x30, 0xFF, 0xFF, 0xFF, 0x7F};
    struct roost_mqtt_packet p;
    uint8_t reason = 0;
    CHECK_EQ(roost_mqtt_decode(hdr, sizeof(hdr), 4, 1 << 20, true, &p, NULL, &reason),
             ROOST_ETOOBIG);
    CHECK_EQ(reason, ROOST_RC_PACKET_TOO_LARGE);
    CHECK_EQ(p.remaining_length, ROOST_MQTT_MAX_REMAINING);
    /* No limit: just wait for the body. */
    CHECK_EQ(roost_mqtt_decode(hdr, sizeof(hdr), 4, 0, true, &p, NULL, &reason), ROOST_EAGAIN);
    CHECK_EQ(reason, 0);
    /* Until the varint ends, nothing is known. */
    CHECK_EQ(roost_mqtt_decode(hdr, 4, 4, 16, true, &p, NULL, NULL), ROOST_EAGAIN);
    CHECK_EQ(roost_mqtt_decode(hdr, 1, 4, 16, true, &p, NULL, NULL), ROOST_EAGAIN);
    CHECK_EQ(roost_mqtt_decode(hdr, 0, 4, 16, true, &p, NULL, NULL), ROOST_EAGAIN);

    /* The limit counts the whole packet, fixed header included. */
    uint8_t pub[] = {0x30, 0x04, 0x00, 0x01, 'x', 'y'};
    CHECK_EQ(roost_mqtt_decode(pub, sizeof(pub), 4, 6, true, &p, NULL, NULL), 6);
    CHECK_EQ(roost_mqtt_decode(pub, sizeof(pub), 4, 5, true, &p, NULL, NULL), ROOST_ETOOBIG);
    CHECK_EQ(roost_mqtt_decode(pub, 2, 4, 5, true, &p, NULL, NULL), ROOST_ETOOBIG);

    /* Bad flags are reported from the first two bytes. */
    uint8_t sub[] = {0x80, 0x10};
    CHECK_EQ(roost_mqtt_decode(sub, sizeof(sub), 4, 0, true, &p, NULL, NULL), ROOST_EMALFORMED);

    /* An unknown connection version is the caller's mistake. */
    CHECK_EQ(roost_mqtt_decode(pub, sizeof(pub), 6, 0, true, &p, NULL, NULL), ROOST_EINVAL);
}

ROOST_TEST(peek_header)
{
    uint8_t tf = 0;
    uint32_t rem = 0;
    uint8_t a[] = {0x32, 0x80, 0x01};
    CHECK_EQ(roost_mqtt_peek_header(a, 3, &tf, &rem), 3);
    CHECK_EQ(tf, 0x32);
    CHECK_EQ(rem, 128);
    CHECK_EQ(roost_mqtt_peek_header(a, 2, &tf, &rem), ROOST_EAGAIN);
    CHECK_EQ(roost_mqtt_peek_header(a, 1, &tf, &rem), ROOST_EAGAIN);
    uint8_t b[] = {0x32, 0xFF, 0xFF, 0xFF, 0xFF};
    CHECK_EQ(roost_mqtt_peek_header(b, 5, &tf, &rem), ROOST_EMALFORMED);
}

/* ==== Variable byte integers ============================================== */

ROOST_TEST(varint_edges)
{
    static const struct {
        uint32_t v;
        const char *hex;
    } cases[] = {
        {0, "00"},
        {127, "7F"},
        {128, "80 01"},
        {16383, "FF 7F"},
        {16384, "80 80 01"},
        {2097151, "FF FF 7F"},
        {2097152, "80 80 80 01"},
        {268435455, "FF FF FF 7F"},
    };
    for (size_t i = 0; i < ROOST_ARRAY_LEN(cases); i++) {
        uint8_t want[4], got[8];
        size_t n = unhex(cases[i].hex, want, sizeof(want));
        CHECK_EQ(roost_mqtt_varint_size(cases[i].v), n);
        CHECK(roost_mqtt_varint_write(got, cases[i].v) == got + n);
        CHECK_MEM(got, want, n);
        uint32_t v = 0xdeadbeef;
        CHECK_EQ(roost_mqtt_varint_read(want, n, &v), n);
        CHECK_EQ(v, cases[i].v);
        for (size_t k = 0; k < n; k++)
            CHECK_EQ(roost_mqtt_varint_read(want, k, &v), ROOST_EAGAIN);
    }
    uint32_t v;
    uint8_t five[] = {0xFF, 0xFF, 0xFF, 0xFF, 0x7F};
    CHECK_EQ(roost_mqtt_varint_read(five, 5, &v), ROOST_EMALFORMED);
    CHECK_EQ(roost_mqtt_varint_read(five, 4, &v), ROOST_EMALFORMED);
    uint8_t five0[] = {0x80, 0x80, 0x80, 0x80, 0x00};
    CHECK_EQ(roost_mqtt_varint_read(five0, 5, &v), ROOST_EMALFORMED);
    uint8_t nonmin[] = {0x80, 0x80, 0x00};
    CHECK_EQ(roost_mqtt_varint_read(nonmin, 3, &v), ROOST_EMALFORMED);
    uint8_t nonmin4[] = {0xFF, 0xFF, 0x80, 0x00};
    CHECK_EQ(roost_mqtt_varint_read(nonmin4, 4, &v), ROOST_EMALFORMED);
}

/* PUBLISH packets whose remaining length sits on each varint boundary go
 * through encode and decode intact. */
ROOST_TEST(remaining_length_boundaries)
{
    static const uint32_t rems[] = {127, 128, 16383, 16384, 2097151, 2097152};
    for (size_t i = 0; i < ROOST_ARRAY_LEN(rems); i++) {
        size_t payload_n = rems[i] - 5; /* topic "t" (3) + packet id (2) */
        char *payload = roost_xcalloc(1, payload_n);
        struct roost_mqtt_publish pub = {
            .qos = 1, .topic = ROOST_STR_LIT("t"), .packet_id = 9,
            .payload = {payload, payload_n},
        };
        struct roost_buf b;
        roost_buf_init(&b, 0);
        REQUIRE_OK(roost_mqtt_encode_publish(&b, 4, &pub));
        size_t hl = 1 + roost_mqtt_varint_size(rems[i]);
        CHECK_EQ(roost_buf_size(&b), hl + rems[i]);
        struct roost_mqtt_packet p;
        CHECK_EQ(roost_mqtt_decode(roost_buf_head(&b), roost_buf_size(&b), 4, 0, true, &p, NULL,
                                   NULL),
                 roost_buf_size(&b));
        CHECK_EQ(p.remaining_length, rems[i]);
        CHECK_EQ(p.u.publish.payload.n, payload_n);
        CHECK_EQ(roost_mqtt_decode(roost_buf_head(&b), roost_buf_size(&b) - 1, 4, 0, true, &p,
                                   NULL, NULL),
                 ROOST_EAGAIN);
        roost_buf_cleanup(&b);
        roost_free(payload);
    }
}

/* ==== Encoders ============================================================ */

ROOST_TEST(encode_from_structs)
{
    struct roost_buf b;
    roost_buf_init(&b, 0);

    struct roost_mqtt_connect c = {
        .protocol_level = 4, .clean_start = true, .keep_alive = 60,
        .client_id = ROOST_STR_LIT(""),
    };
    CHECK_OK(roost_mqtt_encode_connect(&b, &c));
    uint8_t want[64];
    size_t n = unhex("10 0C 00 04 4D 51 54 54 04 02 00 3C 00 00", want, sizeof(want));
    CHECK_EQ(roost_buf_size(&b), n);
    CHECK_MEM(roost_buf_head(&b), want, n);
    roost_buf_clear(&b);

    struct roost_mqtt_topic_req topics[] = {
        {ROOST_STR_LIT("a/b"), {.qos = 1, .no_local = true, .retain_handling = 2}},
    };
    struct roost_mqtt_subscribe s = {.packet_id = 7, .topics = topics, .n_topics = 1};
    CHECK_OK(roost_mqtt_encode_subscribe(&b, 4, &s));
    n = unhex("82 08 00 07 00 03 61 2F 62 01", want, sizeof(want));
    CHECK_EQ(roost_buf_size(&b), n);
    CHECK_MEM(roost_buf_head(&b), want, n);
    roost_buf_clear(&b);
    CHECK_OK(roost_mqtt_encode_subscribe(&b, 5, &s));
    n = unhex("82 09 00 07 00 00 03 61 2F 62 25", want, sizeof(want));
    CHECK_EQ(roost_buf_size(&b), n);
    CHECK_MEM(roost_buf_head(&b), want, n);
    roost_buf_clear(&b);

    struct roost_str filters[] = {ROOST_STR_LIT("a/#")};
    struct roost_mqtt_unsubscribe u = {.packet_id = 8, .filters = filters, .n_filters = 1};
    CHECK_OK(roost_mqtt_encode_unsubscribe(&b, 4, &u));
    n = unhex("A2 07 00 08 00 03 61 2F 23", want, sizeof(want));
    CHECK_EQ(roost_buf_size(&b), n);
    CHECK_MEM(roost_buf_head(&b), want, n);
    roost_buf_clear(&b);

    /* v5 acknowledgements use the shortest form the spec allows. */
    struct roost_mqtt_ack ack = {.packet_id = 3};
    CHECK_OK(roost_mqtt_encode_ack(&b, 5, ROOST_MQTT_PUBREL, &ack));
    n = unhex("62 02 00 03", want, sizeof(want));
    CHECK_EQ(roost_buf_size(&b), n);
    CHECK_MEM(roost_buf_head(&b), want, n);
    roost_buf_clear(&b);
    ack.reason = ROOST_RC_NO_MATCHING_SUBSCRIBERS;
    CHECK_OK(roost_mqtt_encode_ack(&b, 4, ROOST_MQTT_PUBACK, &ack)); /* reason ignored */
    CHECK_OK(roost_mqtt_encode_ack(&b, 5, ROOST_MQTT_PUBACK, &ack));
    n = unhex("40 02 00 03 40 03 00 03 10", want, sizeof(want));
    CHECK_EQ(roost_buf_size(&b), n);
    CHECK_MEM(roost_buf_head(&b), want, n);
    roost_buf_clear(&b);

    struct roost_mqtt_disconnect d = {.reason = ROOST_RC_SERVER_SHUTTING_DOWN};
    CHECK_OK(roost_mqtt_encode_disconnect(&b, 4, &d));
    CHECK_OK(roost_mqtt_encode_disconnect(&b, 5, &d));
    d.reason = 0;
    CHECK_OK(roost_mqtt_encode_disconnect(&b, 5, &d));
    CHECK_OK(roost_mqtt_encode_auth(&b, &d));
    d.reason = ROOST_RC_REAUTHENTICATE;
    CHECK_OK(roost_mqtt_encode_auth(&b, &d));
    CHECK_OK(roost_mqtt_encode_pingreq(&b));
    CHECK_OK(roost_mqtt_encode_pingresp(&b));
    n = unhex("E0 00 E0 01 8B E0 00 F0 00 F0 02 19 00 C0 00 D0 00", want, sizeof(want));
    CHECK_EQ(roost_buf_size(&b), n);
    CHECK_MEM(roost_buf_head(&b), want, n);
    roost_buf_clear(&b);

    /* v5 failure codes become their 3.1.1 equivalents. */
    struct roost_mqtt_connack ca = {.reason = ROOST_RC_NOT_AUTHORIZED};
    CHECK_OK(roost_mqtt_encode_connack(&b, 4, &ca));
    ca.reason = ROOST_RC_BAD_USER_PASS;
    CHECK_OK(roost_mqtt_encode_connack(&b, 4, &ca));
    ca.reason = ROOST_RC_SERVER_BUSY;
    CHECK_OK(roost_mqtt_encode_connack(&b, 4, &ca));
    ca.reason = ROOST_CONNACK311_ID_REJECTED;
    CHECK_OK(roost_mqtt_encode_connack(&b, 4, &ca));
    ca.reason = ROOST_RC_UNSUPPORTED_VERSION;
    CHECK_OK(roost_mqtt_encode_connack(&b, 4, &ca));
    CHECK_OK(roost_mqtt_encode_connack(&b, 5, &ca));
    ca.session_present = true;
    CHECK_EQ(roost_mqtt_encode_connack(&b, 5, &ca), ROOST_EINVAL);
    uint8_t codes[] = {ROOST_RC_GRANTED_QOS1, ROOST_RC_NOT_AUTHORIZED, ROOST_RC_SUCCESS};
    struct roost_mqtt_suback sa = {.packet_id = 5, .reasons = codes, .n_reasons = 3};
    CHECK_OK(roost_mqtt_encode_suback(&b, 4, &sa));
    CHECK_OK(roost_mqtt_encode_suback(&b, 5, &sa));
    n = unhex("20 02 00 05 20 02 00 04 20 02 00 03 20 02 00 02 20 02 00 01 20 03 00 84 00"
              " 90 05 00 05 01 80 00 90 06 00 05 00 01 87 00", want, sizeof(want));
    CHECK_EQ(roost_buf_size(&b), n);
    CHECK_MEM(roost_buf_head(&b), want, n);
    roost_buf_clear(&b);

    /* User properties and subscription ids from caller storage. */
    struct roost_mqtt_user_prop up[] = {{ROOST_STR_LIT("k"), ROOST_STR_LIT("v")}};
    struct roost_mqtt_publish pub = {
        .topic = ROOST_STR_LIT("t"), .payload = ROOST_STR_LIT("p"),
    };
    pub.props.user = up;
    pub.props.n_user = 1;
    pub.props.sub_ids[0] = 128;
    pub.props.n_sub_ids = 1;
    roost_mqtt_prop_set(&pub.props, ROOST_PROP_TOPIC_ALIAS);
    pub.props.topic_alias = 2;
    CHECK_OK(roost_mqtt_encode_publish(&b, 5, &pub));
    n = unhex("30 12 00 01 74 0D 0B 80 01 23 00 02 26 00 01 6B 00 01 76 70", want, sizeof(want));
    CHECK_EQ(roost_buf_size(&b), n);
    CHECK_MEM(roost_buf_head(&b), want, n);
    roost_buf_cleanup(&b);
}

ROOST_TEST(encode_failures_leave_buffer_untouched)
{
    struct roost_buf b;
    roost_buf_init(&b, 16);
    REQUIRE_OK(roost_buf_append(&b, "xyz", 3));

    struct roost_mqtt_publish pub = {
        .qos = 0, .topic = ROOST_STR_LIT("a/b"), .payload = ROOST_STR_LIT("0123456789"),
    };
    /* 2 + 5 + 10 = 17 bytes: over the 16-byte limit with what is there. */
    CHECK_EQ(roost_mqtt_encode_publish(&b, 4, &pub), ROOST_ETOOBIG);
    CHECK_EQ(roost_buf_size(&b), 3);
    CHECK_MEM(roost_buf_head(&b), "xyz", 3);
    pub.payload.n = 6; /* 13 bytes fit */
    CHECK_OK(roost_mqtt_encode_publish(&b, 4, &pub));
    CHECK_EQ(roost_buf_size(&b), 16);

    /* Nonsense the decoder would refuse is refused up front. */
    roost_buf_clear(&b);
    pub.qos = 3;
    pub.packet_id = 1;
    CHECK_EQ(roost_mqtt_encode_publish(&b, 4, &pub), ROOST_EINVAL);
    pub.qos = 1;
    pub.packet_id = 0;
    CHECK_EQ(roost_mqtt_encode_publish(&b, 4, &pub), ROOST_EINVAL);
    pub.qos = 0;
    pub.dup = true;
    CHECK_EQ(roost_mqtt_encode_publish(&b, 5, &pub), ROOST_EINVAL);
    pub.dup = false;
    pub.topic.n = 0;
    CHECK_EQ(roost_mqtt_encode_publish(&b, 4, &pub), ROOST_EINVAL);
    struct roost_mqtt_subscribe s = {.packet_id = 1};
    CHECK_EQ(roost_mqtt_encode_subscribe(&b, 4, &s), ROOST_EINVAL);
    struct roost_mqtt_ack ack = {.packet_id = 0};
    CHECK_EQ(roost_mqtt_encode_ack(&b, 4, ROOST_MQTT_PUBACK, &ack), ROOST_EINVAL);
    ack.packet_id = 1;
    CHECK_EQ(roost_mqtt_encode_ack(&b, 4, ROOST_MQTT_PUBLISH, &ack), ROOST_EINVAL);
    b.limit = 0;
    struct roost_mqtt_connect c = {.protocol_level = 6};
    CHECK_EQ(roost_mqtt_encode_connect(&b, &c), ROOST_EINVAL);
    c.protocol_level = 4;
    c.has_password = true;
    CHECK_EQ(roost_mqtt_encode_connect(&b, &c), ROOST_EINVAL);
    c.protocol_level = 5; /* v5 allows a password alone */
    CHECK_OK(roost_mqtt_encode_connect(&b, &c));
    roost_buf_clear(&b);
    char big[70000];
    memset(big, 'a', sizeof(big));
    struct roost_mqtt_connect c2 = {.protocol_level = 4, .client_id = {big, sizeof(big)}};
    CHECK_EQ(roost_mqtt_encode_connect(&b, &c2), ROOST_EINVAL);
    CHECK_EQ(roost_buf_size(&b), 0);
    roost_buf_cleanup(&b);
}

/* Decoding uses caller arena storage for arrays and nothing else. */
ROOST_TEST(arena_only_for_arrays)
{
    uint8_t buf[4096];
    size_t n;
    struct roost_mqtt_packet p;
    struct roost_arena a;
    uint8_t inline_buf[512];
    roost_arena_init(&a, inline_buf, sizeof(inline_buf));
    decode_vec(find_vec("publish5_qos0"), buf, &n, &p, &a);
    decode_vec(find_vec("publish5_sub_ids"), buf, &n, &p, &a);
    decode_vec(find_vec("connack5_rejected"), buf, &n, &p, &a);
    CHECK_EQ(a.inline_used, 0);
    /* Without an arena, packets needing arrays are refused, others work. */
    n = unhex(find_vec("subscribe311")->hex, buf, sizeof(buf));
    CHECK_EQ(roost_mqtt_decode(buf, n, 4, 0, true, &p, NULL, NULL), ROOST_EINVAL);
    n = unhex(find_vec("publish5_qos0")->hex, buf, sizeof(buf));
    CHECK_EQ(roost_mqtt_decode(buf, n, 5, 0, true, &p, NULL, NULL), n);
    roost_arena_cleanup(&a);
}

ROOST_TEST(decode_props_direct)
{
    struct roost_mqtt_props pr;
    struct roost_arena a;
    roost_arena_init(&a, NULL, 0);
    uint8_t will[] = {0x18, 0, 0, 0, 9, 0x26, 0, 1, 'k', 0, 0};
    CHECK_OK(roost_mqtt_decode_props(will, sizeof(will), ROOST_MQTT_CONNECT, true, &pr, &a));
    CHECK_EQ(pr.will_delay, 9);
    CHECK_EQ(pr.n_user, 1);
    CHECK_EQ(pr.user[0].value.n, 0);
    CHECK_EQ(roost_mqtt_decode_props(will, sizeof(will), ROOST_MQTT_CONNECT, false, &pr, &a),
             ROOST_EPROTO);
    CHECK_OK(roost_mqtt_decode_props(will, 0, ROOST_MQTT_PUBACK, false, &pr, &a));
    CHECK_EQ(pr.present, 0);
    /* Other properties between user properties of each value kind. */
    uint8_t mixed[] = {0x26, 0, 1, 'a', 0, 1, '1', 0x0B, 0x80, 0x01, 0x23, 0, 7,
                       0x03, 0, 2, 'c', 't', 0x01, 1, 0x02, 0, 0, 0, 9,
                       0x26, 0, 1, 'b', 0, 2, '2', '2'};
    CHECK_OK(roost_mqtt_decode_props(mixed, sizeof(mixed), ROOST_MQTT_PUBLISH, false, &pr, &a));
    REQUIRE_EQ(pr.n_user, 2);
    CHECK(roost_str_eq_c(pr.user[0].value, "1"));
    CHECK(roost_str_eq_c(pr.user[1].key, "b"));
    CHECK(roost_str_eq_c(pr.user[1].value, "22"));
    CHECK_EQ(pr.sub_ids[0], 128);
    CHECK_EQ(pr.topic_alias, 7);
    CHECK_EQ(pr.message_expiry, 9);
    CHECK_EQ(roost_mqtt_props_size(&pr), sizeof(mixed));
    uint8_t trunc[] = {0x26, 0, 1, 'k', 0};
    CHECK_EQ(roost_mqtt_decode_props(trunc, sizeof(trunc), ROOST_MQTT_PUBACK, false, &pr, &a),
             ROOST_EMALFORMED);
    roost_arena_cleanup(&a);
}

ROOST_TEST(names)
{
    CHECK_STR(roost_mqtt_type_name(ROOST_MQTT_SUBSCRIBE), "SUBSCRIBE");
    CHECK_STR(roost_mqtt_type_name((enum roost_mqtt_type)0), "UNKNOWN");
    CHECK_STR(roost_mqtt_reason_text(ROOST_RC_NOT_AUTHORIZED), "Not authorized");
    CHECK_STR(roost_mqtt_reason_text(0x03), "Unknown reason code");
}
