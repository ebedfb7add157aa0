/*
 * broker_int.h - the broker's internal types, shared by its files only:
 * messages, sessions, clients (connections speaking MQTT), shards and the
 * subscription tree replica. See broker.h for the threading model and
 * docs/internals/BROKER.md for the state machines.
 */
#ifndef ROOST_BROKER_INT_H
#define ROOST_BROKER_INT_H

#include "broker.h"
#include "mqtt/mqtt.h"

#include <pthread.h>

struct shard;
struct session;

/* ==== Messages =========================================================== */

/* One application message, immutable once routed, shared by every queue
 * that holds it (refcounted; the count is atomic because queues live on
 * different loops). topic/payload/props point into the same allocation. */
struct roost_msg {
    struct roost_ref ref;
    uint64_t id;              /* store id, 0 when not persisted */
    uint64_t origin;          /* uid of the publishing session (no-local), 0 none */
    uint64_t only_to;         /* uid of the one session it is for (a service's private
                                 answer), 0 = every matching subscriber */
    uint64_t expiry_at_ms;    /* wall clock, 0 = never */
    uint64_t created_ms;      /* wall clock when published (retained lastModifiedTime) */
    uint32_t payload_len;
    uint32_t props_len;       /* forwardable v5 properties, encoded */
    uint16_t topic_len;
    uint8_t qos;
    bool retain;
    char *topic;              /* NUL-terminated */
    uint8_t *payload;
    uint8_t *props;
};

struct roost_msg *broker__msg_create(const char *topic, size_t topic_len, const void *payload,
                                     size_t payload_len, const void *props, size_t props_len,
                                     uint8_t qos, bool retain);
static inline struct roost_msg *broker__msg_ref(struct roost_msg *m)
{
    roost_ref_get(&m->ref);
    return m;
}
/* Drops a reference and clears the caller's pointer. */
void broker__msg_unref(struct roost_msg **m);
bool broker__msg_expired(const struct roost_msg *m, uint64_t now_wall_ms);

/* ==== Sessions =========================================================== */

/* One delivery of a message to a session. */
struct delivery {
    struct roost_msg *msg;
    uint32_t sub_id;
    uint16_t packet_id;       /* 0 until sent */
    uint8_t qos;
    uint8_t state;            /* DELIVERY_* */
    bool retain_flag;
    bool stored;              /* a queue row exists in the store */
};

enum {
    DELIVERY_QUEUED = 0,
    DELIVERY_PUBLISH_SENT,    /* waiting for PUBACK / PUBREC */
    DELIVERY_PUBREL_SENT,     /* QoS 2: waiting for PUBCOMP */
    DELIVERY_DONE,
};

/* A growable FIFO of deliveries. */
struct delivery_queue {
    struct delivery *items;
    size_t head, count, cap;
};

struct sub_record {           /* one subscription of a session */
    char *filter;
    struct roost_mqtt_sub_opts opts;
    uint32_t sub_id;
};

struct session {
    struct roost_ref ref;     /* home table + replica entries + in-flight posts */
    uint64_t uid;
    char *client_id;
    size_t client_id_len;
    struct shard *home;
    struct client *client;    /* the live connection, or NULL (home thread only) */
    atomic_bool online;       /* read by other shards for shared subscriptions */
    atomic_bool persistent;   /* outlives its connection; read by publishers */
    atomic_bool dead;         /* destroyed; deliveries are dropped */
    uint32_t expiry_interval; /* seconds, UINT32_MAX never */
    uint64_t offline_since_ms;/* monotonic, 0 while online */
    uint8_t version;
    struct roost_map subs;    /* filter -> struct sub_record */
    struct delivery_queue inflight; /* sent, unacknowledged (in send order) */
    struct delivery_queue pending;  /* not yet sent */
    uint16_t next_packet_id;
    uint16_t *qos2_in;        /* incoming QoS 2 ids awaiting PUBREL */
    size_t n_qos2_in, cap_qos2_in;
    struct roost_msg *will;   /* delayed will waiting to fire */
    uint64_t will_at_ms;      /* monotonic */
    bool stored;              /* a session row exists in the store */
    struct session *next_offline, *prev_offline; /* shard's offline list */
    /* Back-pressure: set while the pending queue is past its high watermark
     * with the client online; publishers that hit it pause until it drains. */
    atomic_bool congested;
    struct congestion_waiter *waiters; /* home thread only */
    size_t n_waiters, cap_waiters;
};

struct congestion_waiter {
    struct shard *sh;         /* the publisher's shard */
    uint64_t client_uid;
};

/* ==== Clients ============================================================ */

/* A QoS 1/2 acknowledgement to send once the message is durable; kept in
 * arrival order because MQTT requires acks in the order of the PUBLISHes. */
struct pending_ack {
    uint16_t packet_id;
    uint8_t type;             /* ROOST_MQTT_PUBACK or ROOST_MQTT_PUBREC */
    uint8_t reason;
    bool ready;
};

struct client {
    uint64_t uid;
    struct roost_conn *conn;
    struct shard *shard;
    struct session *session;
    uint8_t version;
    bool connected;           /* CONNECT accepted */
    bool closing;
    bool graceful;            /* DISCONNECT received (will suppressed) */
    bool detached;            /* session and will handled (client_detach) */
    const char *disconnect_reason; /* lifecycle event's disconnectReason, set where known */
    uint16_t keep_alive;      /* seconds, as granted */
    uint64_t last_rx_ms;
    uint64_t created_ms;
    uint16_t client_receive_max;
    uint32_t client_max_packet;
    uint16_t inbound_unacked;
    char **aliases;           /* incoming topic aliases [1..topic_alias_maximum] */
    struct roost_msg *will;
    uint32_t will_delay;
    uint8_t *saved_connect;   /* CONNECT bytes carried across a migration */
    size_t saved_connect_len;
    char *assigned_id;
    struct pending_ack *acks;
    size_t acks_head, acks_count, acks_cap;
    struct client *next, *prev;
    struct roost_authz_bound *authz; /* bound policies (a reference), or NULL */
    bool authz_all;           /* not subject to policies */
    bool authz_ready;         /* a resolve completed at least once */
    uint32_t authz_gen;       /* which resolve is current (policy changes start new ones) */
    bool congestion_paused;   /* reading paused until a congested session drains */
    uint64_t paused_at_ms;
    struct roost_arena arena;
    uint8_t arena_inline[256];
};

/* ==== Subscription tree replica ========================================== */

struct sub_entry {
    struct session *session;  /* holds a reference */
    struct roost_mqtt_sub_opts opts;
    uint32_t sub_id;
};

struct shared_group {
    char *name;
    struct sub_entry *members;
    size_t n, cap;
    size_t next;              /* round-robin position (this replica's own) */
    struct shared_group *link;
};

struct tnode {
    struct roost_map children;   /* level -> struct tnode */
    struct tnode *plus, *hash;
    struct tnode *parent;
    char *level;
    struct sub_entry *subs;
    size_t n_subs, cap_subs;
    struct shared_group *groups;
};

struct match_sink;
typedef void (*match_fn)(struct match_sink *sink, const struct sub_entry *e, bool shared);
struct match_sink {
    match_fn fn;
};

void broker__tree_init(struct tnode *root);
void broker__tree_cleanup(struct tnode *root);
/* Adds or replaces the subscription of `s` to `filter` (shared filters
 * included). Takes a session reference for a new entry. */
void broker__tree_add(struct tnode *root, const char *filter, struct session *s,
                      struct roost_mqtt_sub_opts opts, uint32_t sub_id);
/* Removes it; returns true if it existed. Drops the entry's reference. */
bool broker__tree_remove(struct tnode *root, const char *filter, struct session *s);
/* Calls sink->fn for each matching entry; for shared groups, one member
 * chosen round-robin (preferring online sessions). */
void broker__tree_match(struct tnode *root, const char *topic, size_t topic_len,
                        struct match_sink *sink);

/* ==== Retained messages (global, guarded) ================================ */

struct retained_store {
    pthread_mutex_t lock;
    struct roost_map by_topic;   /* topic -> struct roost_msg (a reference) */
};

/* ==== Shards ============================================================= */

struct delivery_item {
    struct session *session;  /* a reference */
    struct roost_msg *msg;    /* a reference */
    uint32_t sub_id;
    uint8_t qos;
    bool retain_flag;
    bool stored;
};

struct delivery_batch {
    struct shard *target;
    struct delivery_item *items;
    size_t n, cap;
};

struct shard {
    struct roost_broker *broker;
    struct roost_loop *loop;
    unsigned index;
    struct roost_map sessions;   /* client id -> session homed here */
    struct tnode tree;           /* this shard's replica of all subscriptions */
    struct client *clients;      /* connections on this loop */
    struct roost_map clients_by_uid; /* uid bytes -> client, for deferred acks */
    struct session *offline;     /* persistent sessions without connection */
    struct delivery_batch *out;  /* per target shard, flushed each iteration */
};

struct roost_broker {
    struct roost_broker_config cfg;
    struct roost_net *net;
    struct roost_store *store;
    struct shard **shards;
    unsigned n_shards;
    struct retained_store retained;
    atomic_uint_fast64_t next_uid;
    atomic_uint_fast64_t next_msg_id;
    atomic_bool shutting_down;
    atomic_uint_fast64_t stat_connected, stat_received, stat_sent, stat_dropped, stat_sessions;
    struct roost_conn_handler handler;
    struct {
        char *prefix;
        size_t prefix_len;
        roost_broker_service_fn fn;
        void *ud;
        bool consume;             /* not routed to subscribers */
    } services[8];
    size_t n_services;
    atomic_uint next_publish_shard; /* spreads server publishes over loops */
    roost_broker_resolve_fn resolve;  /* NULL: no enforcement */
    void *resolve_ud;
};

struct shard *broker__shard_for_client_id(struct roost_broker *b, const char *id, size_t n);

/* session.c */
struct session *broker__session_create(struct shard *sh, const char *client_id, size_t len);
void broker__session_destroy(struct session *s); /* removes subs everywhere, drops home ref */
void broker__session_unref(struct session **s);
void broker__session_deliver(struct session *s, struct roost_msg *msg, uint8_t qos,
                             uint32_t sub_id, bool retain_flag, bool stored);
void broker__session_resume(struct session *s);   /* a client attached: resend + pump */
void broker__session_pump(struct session *s);     /* send pending while the window allows */
int broker__session_ack(struct session *s, uint16_t packet_id, uint8_t type);
void broker__session_went_offline(struct session *s);
void broker__session_store_put(struct session *s);
void broker__session_tick(struct shard *sh, uint64_t now_ms);
int broker__session_send_publish(struct session *s, const struct delivery *d, bool dup);
void broker__session_attach_online(struct session *s);
/* Back-pressure (session.c): a publisher waits for `s` to drain. */
void broker__session_wait_drain(struct session *s, struct shard *publisher_shard,
                                uint64_t client_uid);

/* route.c */
/* Routes a message from shard `sh`. When it needs a store write (persistent
 * subscribers, retain) and packet_id is set, the publisher's acknowledgement
 * of type ack_type is sent from `sh`'s loop after the commit and true is
 * returned; false means no write was needed (the caller acknowledges at
 * once). *out_congested, if asked, gets a reference to a congested target. */
bool broker__route(struct shard *sh, struct roost_msg *msg, uint64_t client_uid,
                   uint16_t packet_id, uint8_t ack_type, struct session **out_congested);
void broker__flush_batches(void *shard);
void broker__retain_set(struct roost_broker *b, struct roost_msg *msg, bool *out_store_write);
void broker__retain_deliver(struct shard *sh, struct session *s, const char *filter,
                            struct roost_mqtt_sub_opts opts, uint32_t sub_id);

/* subscribe propagation (route.c) */
typedef void (*sub_done_fn)(void *ud);
void broker__sub_propagate(struct shard *sh, struct session *s, const char *filter, bool add,
                           struct roost_mqtt_sub_opts opts, uint32_t sub_id,
                           int *pending, sub_done_fn done, void *done_ud);

/* client.c */
void broker__client_send_ack_ready(struct shard *sh, uint64_t client_uid, uint16_t packet_id,
                                   uint8_t type);
void broker__client_kick(struct client *c, uint8_t reason);

/* events.c: AWS IoT lifecycle events on $aws/events/... */
void broker__event_connected(struct client *c);
void broker__event_disconnected(struct client *c);
void broker__event_subscriptions(struct client *c, bool subscribed, const char *const *filters,
                                 size_t n);
void broker__client_handler_init(struct roost_broker *b, struct roost_conn_handler *h);
void broker__clients_tick(struct shard *sh, uint64_t now);
void broker__client_resume(struct shard *sh, uint64_t client_uid);
/* The client's IP address as text (no port; IPv4-mapped IPv6 shown as IPv4). */
const char *broker__client_ip(const struct client *c, char *buf, size_t cap);
/* Is the client allowed `action` on the resource? True without enforcement. */
bool broker__client_allowed(const struct client *c, enum roost_authz_action action,
                            enum roost_authz_rtype type, const char *name, size_t len);

#endif /* ROOST_BROKER_INT_H */
