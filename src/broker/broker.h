/*
 * broker.h - the MQTT 3.1.1/5.0 broker: sessions, subscriptions, routing,
 * retained messages, QoS 1/2 state, wills, keep-alive and persistence.
 *
 * Sharding: the broker keeps one shard per event loop. A client id belongs
 * to shard hash(client id) % loops; the connection moves there after its
 * CONNECT (roost_conn_migrate), so a session and everything about it lives
 * on one thread and needs no lock. Every shard holds a replica of the whole
 * subscription tree, so a PUBLISH is matched on the publisher's own loop
 * without a lock; deliveries to sessions on other loops go through per-loop
 * batches posted once per iteration. A SUBACK is sent only when every
 * replica has the new subscription.
 */
#ifndef ROOST_BROKER_H
#define ROOST_BROKER_H

#include "common/common.h"
#include "net/net.h"
#include "store/store.h"
#include "authz/authz.h"

struct roost_broker;

struct roost_broker_config {
    uint32_t max_payload;            /* bytes of PUBLISH payload (AWS: 128 KiB) */
    uint32_t max_client_id;          /* bytes (AWS: 128) */
    uint32_t max_topic;              /* bytes of topic name or filter (AWS: 256) */
    uint32_t max_inflight;           /* unacked outgoing QoS 1/2 per session (AWS: 100) */
    uint32_t max_queued;             /* queued messages per session, oldest dropped */
    uint32_t receive_maximum;        /* unacked incoming QoS 1/2 we accept (v5 CONNACK) */
    uint16_t topic_alias_maximum;    /* incoming topic aliases per connection */
    uint32_t connect_timeout_s;      /* CONNECT must arrive within this */
    uint32_t session_expiry_default; /* 3.1.1 persistent sessions, seconds */
    uint32_t session_expiry_max;     /* cap for v5 Session Expiry Interval */
    uint32_t keepalive_max;          /* 0 = none; else v5 Server Keep Alive caps it */
    size_t max_output_backlog;       /* QoS 0 dropped for a client beyond this */
};

void roost_broker_config_defaults(struct roost_broker_config *cfg);

/* Creates the broker over `net` (one shard per loop) and `store`, loads the
 * persisted sessions, subscriptions, queued and retained messages. Call
 * before roost_net_start. */
int roost_broker_create(const struct roost_broker_config *cfg, struct roost_net *net,
                        struct roost_store *store, struct roost_broker **out_broker);
/* The connection handler for MQTT listeners. */
const struct roost_conn_handler *roost_broker_handler(struct roost_broker *b);
/* Marks the broker as shutting down: connections closing from now on keep
 * their sessions and publish no wills. Call before roost_net_stop. */
void roost_broker_begin_shutdown(struct roost_broker *b);
/* After roost_net_stop: persists what must survive and frees everything. */
void roost_broker_destroy(struct roost_broker *b);

/* Closes every live connection authenticated with certificate `cert_id`
 * (it was deactivated or revoked): v5 clients get DISCONNECT 0x98
 * (administrative action). Thread-safe; takes effect within a loop turn. */
void roost_broker_disconnect_cert(struct roost_broker *b, const char *cert_id);

/* ==== Services on reserved topics ========================================= */

/* What a service learns about a PUBLISH it intercepts. Valid during the call. */
struct roost_broker_request {
    const char *topic;
    size_t topic_len;
    const uint8_t *payload;
    size_t payload_len;
    uint8_t qos;
    const char *client_id;        /* the publishing client */
    const char *cert_id;          /* its certificate id, or NULL (plain listener) */
    uint64_t session_uid;         /* its session, for roost_broker_publish_to */
};

/* Called on the publisher's loop for every PUBLISH whose topic starts with
 * the service's prefix (e.g. "$aws/things/"), before normal routing (the
 * message is still routed to subscribers, as AWS does). Must not block:
 * hand work to the store and answer later with roost_broker_publish. */
typedef void (*roost_broker_service_fn)(void *ud, const struct roost_broker_request *req);

/* Registers a service for a topic prefix; at most 8. Call before
 * roost_net_start. */
int roost_broker_add_service(struct roost_broker *b, const char *prefix, roost_broker_service_fn fn,
                             void *ud);

/* The same for requests that must reach the service alone: the PUBLISH is
 * acknowledged but not routed to subscribers (fleet provisioning's requests
 * carry ownership tokens and CSRs that other devices of the fleet, which
 * share the claim's policy, must not see). */
int roost_broker_add_private_service(struct roost_broker *b, const char *prefix,
                                     roost_broker_service_fn fn, void *ud);

/* Publishes a message as the server (services' answers, events). Thread-safe:
 * may be called from any thread, including the store's writer; the message
 * is routed on a loop soon after. QoS 0 or 1; retain as given. Dropped once
 * roost_broker_begin_shutdown has been called. */
void roost_broker_publish(struct roost_broker *b, const char *topic, const void *payload,
                          size_t payload_len, uint8_t qos, bool retain);
/* The same, routed on the loop chosen by order_key: messages published from
 * one thread with the same key reach every subscriber in publication order
 * (roost_broker_publish may spread them over loops). */
void roost_broker_publish_ordered(struct roost_broker *b, const char *topic, const void *payload,
                                  size_t payload_len, uint8_t qos, bool retain, uint64_t order_key);

/* The same with MQTT 5 properties (the HTTPS Publish's payload format,
 * content type, response topic, correlation data, user properties and
 * message expiry, in seconds). Subscribers on MQTT 5 get them, 3.1.1 ones
 * the message alone. Topic alias and subscription ids in `props` are
 * ignored. Thread-safe like roost_broker_publish. */
struct roost_mqtt_props;
void roost_broker_publish_props(struct roost_broker *b, const char *topic, const void *payload,
                                size_t payload_len, uint8_t qos, bool retain,
                                const struct roost_mqtt_props *props);

/* The same, delivered only to the session `session_uid` (a service's
 * roost_broker_request.session_uid) if it has a matching subscription: for
 * answers that must reach the requester alone, like fleet provisioning's
 * private keys on a topic every device of a fleet subscribes to. A session
 * that is gone (or was taken over) gets nothing. */
void roost_broker_publish_to(struct roost_broker *b, uint64_t session_uid, const char *topic,
                             const void *payload, size_t payload_len, uint8_t qos);

/* ==== Authorization ======================================================== */

/* Who is connecting, for the policy resolver. Valid during the call. */
struct roost_broker_identity {
    const char *client_id;
    const char *cert_id;          /* NULL: no certificate (plain listeners: "anonymous") */
    const char *source_ip;        /* aws:SourceIp */
    bool persistent;              /* iot:ConnectAttributes PersistentConnect */
    const char *will_topic;       /* NULL: no will (LastWill) */
};

struct roost_broker_authz_request; /* opaque: hand it back to roost_broker_authz_done */

/* Finds and binds the policies of a connecting (or, after a policy change,
 * connected) client, without blocking; then calls roost_broker_authz_done
 * once, from any thread. */
typedef void (*roost_broker_resolve_fn)(void *ud, const struct roost_broker_identity *id,
                                        struct roost_broker_authz_request *req);

/* Turns enforcement on: every CONNECT waits for its policies; Connect,
 * Publish (and RetainPublish), Subscribe and Receive are checked. Call
 * before roost_net_start. */
void roost_broker_set_authorizer(struct roost_broker *b, roost_broker_resolve_fn fn, void *ud);
/* Completes a request: `bound` (its reference is taken; NULL with
 * allow_all false denies everything) or allow_all for principals that are
 * not subject to policies (development settings). */
void roost_broker_authz_done(struct roost_broker_authz_request *req, struct roost_authz_bound *bound,
                             bool allow_all);
/* Policies, attachments or group memberships changed: every connected
 * client's policies are resolved again; a client whose iot:Connect no
 * longer holds is disconnected. Thread-safe. */
void roost_broker_policies_changed(struct roost_broker *b);
/* The same for the clients of one certificate only (its own attachments
 * changed: a policy attached or detached, a thing attached): a fleet being
 * provisioned does not make every live connection resolve again. */
void roost_broker_policies_changed_cert(struct roost_broker *b, const char *cert_id);

/* ==== Retained messages for the HTTPS data plane ========================= */

struct roost_broker_retained {
    char *topic;
    uint8_t *payload;
    size_t payload_len;
    uint8_t qos;
    uint64_t last_modified_ms;    /* wall clock of the PUBLISH that set it */
};

/* Copies the retained message of `topic` into *out (free with
 * roost_broker_retained_cleanup). ROOST_ENOTFOUND when there is none.
 * Thread-safe. */
int roost_broker_retained_get(struct roost_broker *b, const char *topic,
                              struct roost_broker_retained *out);
/* Retained topics in byte order after `after` (NULL = from the start), at
 * most `limit`; fn gets each (payload included) and may stop the walk with a
 * non-zero return. Thread-safe (copies taken under the lock, fn runs after). */
typedef int (*roost_broker_retained_fn)(void *ud, const struct roost_broker_retained *r);
int roost_broker_retained_list(struct roost_broker *b, const char *after, size_t limit,
                               roost_broker_retained_fn fn, void *ud);
void roost_broker_retained_cleanup(struct roost_broker_retained *r);

struct roost_broker_stats {
    uint64_t clients_connected;
    uint64_t msgs_received;
    uint64_t msgs_sent;
    uint64_t msgs_dropped;
    uint64_t sessions;
    uint64_t retained;
};
void roost_broker_get_stats(struct roost_broker *b, struct roost_broker_stats *out);

#endif /* ROOST_BROKER_H */
