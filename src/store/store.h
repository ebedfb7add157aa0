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
 * Reads used at start-up (roost_store_load_*) are synchronous; they use
 * their own read-only connection, so they may run while the writer works,
 * from any thread that owns no event loop.
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
    ROOST_STORE_TXN,               /* run u.txn.fn inside the transaction (registry) */
};

struct roost_store_txn;            /* a transaction in progress on the writer thread */
/* Runs on the writer thread inside its own savepoint: a non-zero return
 * rolls back everything fn did and becomes the op's done() code. */
typedef int (*roost_store_txn_fn)(struct roost_store_txn *txn, void *ud);

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
        struct {
            roost_store_txn_fn fn;
            void *ud;
        } txn;                                       /* TXN */
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
    uint64_t checkpoints;          /* WAL checkpoints run (off the commit path) */
};
void roost_store_get_stats(struct roost_store *st, struct roost_store_stats *out);

/* ==== Registry: documents and links ====================================== */

/*
 * The registry (things, thing types, thing groups, billing groups,
 * certificates, CA certificates, policies and their versions, provisioning
 * templates, ...) is stored as JSON documents keyed by (kind, name), plus
 * links between documents (attachments, memberships). The API layer owns
 * the meaning; the store only keeps them, transactionally, with optimistic
 * versions. Everything here runs inside a ROOST_STORE_TXN op on the writer
 * thread, so a whole API call is one transaction and reads are consistent.
 */

struct roost_store_doc {
    const char *kind;              /* "thing", "cert", "policy", ... */
    const char *name;              /* unique within kind */
    const char *body;              /* JSON text */
    int64_t version;               /* 1 on create, +1 on each put */
    uint64_t created_ms;           /* wall clock */
    uint64_t updated_ms;
};

/* Loads one document. Strings in *out stay valid until the txn function
 * returns. ROOST_ENOTFOUND when absent. */
int roost_store_doc_get(struct roost_store_txn *txn, const char *kind, const char *name,
                        struct roost_store_doc *out);
/* Inserts (expected_version 0: must not exist, else ROOST_ECONFLICT) or
 * updates (expected_version > 0 must equal the stored version, else
 * ROOST_ECONFLICT; -1: insert or overwrite whatever is there). Sets
 * version/created/updated. Returns the new version in *out_version. */
int roost_store_doc_put(struct roost_store_txn *txn, const char *kind, const char *name,
                        const char *body, int64_t expected_version, int64_t *out_version);
/* Deletes a document and every link that names it. ROOST_ENOTFOUND if absent. */
int roost_store_doc_del(struct roost_store_txn *txn, const char *kind, const char *name);

typedef int (*roost_store_doc_fn)(void *ud, const struct roost_store_doc *doc);
/* Documents of `kind` in name order, starting after `after` (NULL or "" =
 * from the start), at most `limit` (0 = no limit), names starting with
 * `prefix` (NULL = all). A non-zero return from fn stops with that code. */
int roost_store_doc_list(struct roost_store_txn *txn, const char *kind, const char *prefix,
                         const char *after, size_t limit, roost_store_doc_fn fn, void *ud);

/* Links are directed pairs (from_kind/from_name -> to_kind/to_name) with a
 * relation name ("principal", "policy", "member", "billing", ...). Adding an
 * existing link succeeds (idempotent); deleting a missing one is ROOST_ENOTFOUND. */
struct roost_store_link {
    const char *rel;
    const char *from_kind;
    const char *from_name;
    const char *to_kind;
    const char *to_name;
};
int roost_store_link_add(struct roost_store_txn *txn, const struct roost_store_link *l);
int roost_store_link_del(struct roost_store_txn *txn, const struct roost_store_link *l);
typedef int (*roost_store_link_fn)(void *ud, const struct roost_store_link *l);
/* Links with relation `rel` from (from_kind, from_name), or, with from_name
 * NULL and to_name set, to (to_kind, to_name). Ordered by the other end's
 * name, starting after `after`, at most `limit` (0 = all). */
int roost_store_link_list(struct roost_store_txn *txn, const char *rel, const char *from_kind,
                          const char *from_name, const char *to_kind, const char *to_name,
                          const char *after, size_t limit, roost_store_link_fn fn, void *ud);

/* Runs fn inside one read transaction on a reader connection, synchronously
 * on the calling thread (for start-up caches, tools and tests; never from an
 * event loop). */
int roost_store_read(struct roost_store *st, roost_store_txn_fn fn, void *ud);

#endif /* ROOST_STORE_H */
