/*
 * store.h - Roost's durable state behind one interface. The SQLite backend
 * (WAL mode, one file in the data dir) is the default; a PostgreSQL backend
 * will implement the same functions. No other subsystem speaks SQL.
 *
 * Writes are operations submitted from any thread and applied by one writer
 * thread, which commits them in groups: it takes every operation queued
 * since the last commit, applies them in submission order inside one
 * transaction, commits, and only then runs their completion callbacks (on
 * the writer thread; callers bounce them to their own loop). So a caller that
 * acknowledges in its completion has acknowledged a durable fact, and a
 * thousand concurrent QoS 1 publishes cost one fsync, not a thousand.
 *
 * Reads used at start-up (roost_store_load_*) are synchronous and must run
 * before the writer is started or from a thread that owns no loop.
 */
#ifndef ROOST_STORE_H
#define ROOST_STORE_H

#include "common/common.h"

struct roost_store;

/* Opens (creating if needed) the database at `path`, applies migrations in
 * one transaction, starts the writer thread. */
int roost_store_open(const char *path, struct roost_store **out_store);
/* Applies every submitted operation, stops the writer and closes. NULL ok. */
void roost_store_close(struct roost_store *st);

/* ==== Broker state: sessions, subscriptions, queued messages, retained ==== */

struct roost_store_session {
    const char *client_id;
    uint32_t expiry_interval;      /* seconds; UINT32_MAX = never */
    uint64_t disconnected_at_ms;   /* wall clock, 0 while connected */
    uint8_t protocol_version;
};

struct roost_store_sub {
    const char *client_id;
    const char *filter;            /* as subscribed, including $share/... */
    uint8_t options;               /* v5 subscription options byte */
    uint32_t sub_id;               /* 0 = none */
};

/* A stored application message. Shared by every queue row that names it;
 * retained messages are kept separately (one per topic). */
struct roost_store_msg {
    uint64_t id;                   /* assigned by the broker, unique, > 0 */
    const char *topic;
    const uint8_t *payload;
    size_t payload_len;
    const uint8_t *props;          /* forwardable v5 properties, encoded */
    size_t props_len;
    uint8_t qos;
    bool retain;
    uint64_t expiry_at_ms;         /* wall clock, 0 = never */
};

/* One queued delivery of a message to a session. */
struct roost_store_queued {
    const char *client_id;
    uint64_t msg_id;
    uint8_t qos;                   /* delivery QoS */
    uint32_t sub_id;               /* subscription identifier to send, 0 none */
    bool retain_flag;              /* RETAIN bit to send */
};

enum roost_store_op_type {
    ROOST_STORE_SESSION_PUT,       /* insert or replace: session */
    ROOST_STORE_SESSION_DEL,       /* session and its subs and queue rows */
    ROOST_STORE_SUB_PUT,           /* insert or replace: sub */
    ROOST_STORE_SUB_DEL,           /* sub.client_id + sub.filter */
    ROOST_STORE_MSG_PUT,           /* msg plus `n_queued` queue rows */
    ROOST_STORE_QUEUE_DEL,         /* queued.client_id + queued.msg_id; the message
                                      row goes when no queue row needs it */
    ROOST_STORE_RETAIN_PUT,        /* msg (topic key) */
    ROOST_STORE_RETAIN_DEL,        /* msg.topic */
    ROOST_STORE_BARRIER,           /* nothing; completes after everything before it */
};

typedef void (*roost_store_done_fn)(void *ud, int rc);

/* One write. The caller fills it, passes ownership with roost_store_submit;
 * the store copies nothing, so every pointer inside must stay valid until
 * `done` runs (or, with done NULL, until the store calls `release`).
 * After `done` the store calls `release(op)` if set, else roost_free(op). */
struct roost_store_op {
    enum roost_store_op_type type;
    union {
        struct roost_store_session session;
        struct roost_store_sub sub;
        struct {
            struct roost_store_msg msg;
            const struct roost_store_queued *queued; /* MSG_PUT */
            size_t n_queued;
        } m;
        struct roost_store_queued queued;            /* QUEUE_DEL */
    } u;
    roost_store_done_fn done;      /* runs on the writer thread after commit */
    void *done_ud;
    void (*release)(struct roost_store_op *op);
    struct roost_store_op *next;   /* private to the store */
};

/* Queues an operation for the writer. Thread-safe, never blocks on I/O. */
void roost_store_submit(struct roost_store *st, struct roost_store_op *op);

/* Blocks until everything submitted so far is committed. For shutdown and tests. */
int roost_store_sync(struct roost_store *st);

/* ---- start-up loaders (synchronous) ---- */
typedef int (*roost_store_session_fn)(void *ud, const struct roost_store_session *s);
typedef int (*roost_store_sub_fn)(void *ud, const struct roost_store_sub *s);
/* Queued rows in delivery order (per session, by msg id), joined with their message. */
typedef int (*roost_store_queued_fn)(void *ud, const struct roost_store_queued *q,
                                     const struct roost_store_msg *m);
typedef int (*roost_store_msg_fn)(void *ud, const struct roost_store_msg *m);

int roost_store_load_sessions(struct roost_store *st, roost_store_session_fn fn, void *ud);
int roost_store_load_subs(struct roost_store *st, roost_store_sub_fn fn, void *ud);
int roost_store_load_queued(struct roost_store *st, roost_store_queued_fn fn, void *ud);
int roost_store_load_retained(struct roost_store *st, roost_store_msg_fn fn, void *ud);
/* Largest message id ever stored (0 if none), so new ids never reuse one. */
int roost_store_max_msg_id(struct roost_store *st, uint64_t *out_id);

/* Counters for /metrics and the bench: commits and operations applied. */
struct roost_store_stats {
    uint64_t commits;
    uint64_t ops;
};
void roost_store_get_stats(struct roost_store *st, struct roost_store_stats *out);

#endif /* ROOST_STORE_H */
