/*
 * msg.c - application messages: one allocation holding the header, topic,
 * forwardable properties and payload, shared by reference across queues.
 */
#include "broker_int.h"

struct roost_msg *broker__msg_create(const char *topic, size_t topic_len, const void *payload,
                                     size_t payload_len, const void *props, size_t props_len,
                                     uint8_t qos, bool retain)
{
    struct roost_msg *m = roost_xmalloc(sizeof(*m) + topic_len + 1 + props_len + payload_len);
    roost_ref_init(&m->ref);
    m->id = 0;
    m->origin = 0;
    m->only_to = 0;
    m->expiry_at_ms = 0;
    m->created_ms = roost_wall_ms();
    m->topic_len = (uint16_t)topic_len;
    m->payload_len = (uint32_t)payload_len;
    m->props_len = (uint32_t)props_len;
    m->qos = qos;
    m->retain = retain;
    m->topic = (char *)(m + 1);
    memcpy(m->topic, topic, topic_len);
    m->topic[topic_len] = '\0';
    m->props = (uint8_t *)m->topic + topic_len + 1;
    if (props_len)
        memcpy(m->props, props, props_len);
    m->payload = m->props + props_len;
    if (payload_len)
        memcpy(m->payload, payload, payload_len);
    return m;
}

void broker__msg_unref(struct roost_msg **m)
{
    if (!*m)
        return;
    if (roost_ref_put(&(*m)->ref))
        roost_free(*m);
    *m = NULL;
}

bool broker__msg_expired(const struct roost_msg *m, uint64_t now_wall_ms)
{
    return m->expiry_at_ms && now_wall_ms >= m->expiry_at_ms;
}
