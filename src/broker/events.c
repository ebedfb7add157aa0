/*
 * events.c - AWS IoT lifecycle events, published by the broker like any
 * message (so subscribing to them is subject to policy like any topic):
 *   $aws/events/presence/connected/{clientId}
 *   $aws/events/presence/disconnected/{clientId}   (with disconnectReason)
 *   $aws/events/subscriptions/subscribed|unsubscribed/{clientId}
 * with AWS's payloads.
 */
#include "broker_int.h"

#include <inttypes.h>
#include <stdio.h>

/* Appends `s` as a JSON string (quotes included). */
static void json_str(struct roost_buf *b, const char *s)
{
    roost_buf_append(b, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char esc[8];
        if (*p == '"' || *p == '\\') {
            esc[0] = '\\';
            esc[1] = (char)*p;
            roost_buf_append(b, esc, 2);
        } else if (*p < 0x20) {
            int n = snprintf(esc, sizeof(esc), "\\u%04x", *p);
            roost_buf_append(b, esc, (size_t)n);
        } else {
            roost_buf_append(b, p, 1);
        }
    }
    roost_buf_append(b, "\"", 1);
}

static void json_raw(struct roost_buf *b, const char *s)
{
    roost_buf_append(b, s, strlen(s));
}

/* The fields every event has: clientId, timestamp, eventType,
 * sessionIdentifier, principalIdentifier. */
static void event_head(struct roost_buf *b, struct client *c, const char *type)
{
    const struct roost_peer *peer = roost_conn_peer(c->conn);
    char num[64];
    json_raw(b, "{\"clientId\":");
    json_str(b, c->assigned_id ? c->assigned_id : "");
    snprintf(num, sizeof(num), ",\"timestamp\":%" PRIu64 ",\"eventType\":", roost_wall_ms());
    json_raw(b, num);
    json_str(b, type);
    /* AWS uses a UUID per connection; the client's unique id in that shape. */
    snprintf(num, sizeof(num), ",\"sessionIdentifier\":\"00000000-0000-4000-8000-%012" PRIx64 "\"",
             (uint64_t)(c->uid & 0xffffffffffffull));
    json_raw(b, num);
    json_raw(b, ",\"principalIdentifier\":");
    json_str(b, peer->has_cert ? peer->cert_id : "anonymous");
}

static void publish_event(struct client *c, const char *kind, struct roost_buf *b)
{
    char topic[512];
    snprintf(topic, sizeof(topic), "$aws/events/%s/%s", kind, c->assigned_id);
    roost_broker_publish(c->shard->broker, topic, roost_buf_head(b), roost_buf_size(b), 1, false);
    roost_buf_cleanup(b);
}

void broker__event_connected(struct client *c)
{
    struct roost_buf b;
    char ip[64], num[48];
    roost_buf_init(&b, 0);
    event_head(&b, c, "connected");
    json_raw(&b, ",\"ipAddress\":");
    json_str(&b, broker__client_ip(c, ip, sizeof(ip)));
    snprintf(num, sizeof(num), ",\"versionNumber\":%" PRIu64 "}", c->uid);
    json_raw(&b, num);
    publish_event(c, "presence/connected", &b);
}

void broker__event_disconnected(struct client *c)
{
    struct roost_buf b;
    char num[48];
    const char *reason = c->disconnect_reason ? c->disconnect_reason : "CONNECTION_LOST";
    roost_buf_init(&b, 0);
    event_head(&b, c, "disconnected");
    json_raw(&b, ",\"clientInitiatedDisconnect\":");
    json_raw(&b, strcmp(reason, "CLIENT_INITIATED_DISCONNECT") == 0 ? "true" : "false");
    json_raw(&b, ",\"disconnectReason\":");
    json_str(&b, reason);
    snprintf(num, sizeof(num), ",\"versionNumber\":%" PRIu64 "}", c->uid);
    json_raw(&b, num);
    publish_event(c, "presence/disconnected", &b);
}

void broker__event_subscriptions(struct client *c, bool subscribed, const char *const *filters,
                                 size_t n)
{
    if (!n)
        return;
    struct roost_buf b;
    roost_buf_init(&b, 0);
    event_head(&b, c, subscribed ? "subscribed" : "unsubscribed");
    json_raw(&b, ",\"topics\":[");
    for (size_t i = 0; i < n; i++) {
        if (i)
            json_raw(&b, ",");
        json_str(&b, filters[i]);
    }
    json_raw(&b, "]}");
    publish_event(c, subscribed ? "subscriptions/subscribed" : "subscriptions/unsubscribed", &b);
}
