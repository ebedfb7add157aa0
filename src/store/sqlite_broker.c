/*
 * sqlite_broker.c - the broker's tables (sessions, subs, msgs, queue,
 * retained; schema in migrations.c): the writer's statements for each
 * operation type and the start-up loaders.
 *
 * Invariants the writes keep: a subscription or queue row belongs to a stored
 * session (foreign key: SESSION_PUT must come first, otherwise ROOST_ENOTFOUND);
 * a msgs row exists exactly while some queue row names it: the queue_gc
 * trigger (migrations.c) deletes a message with its last queue row, whether
 * QUEUE_DEL removed the row or SESSION_DEL's cascade did. So every
 * operation but a MSG_PUT is one statement, which SQLite makes atomic.
 *
 * Loaders run on the reader connection, serialised by reader_mu, each inside
 * one read transaction (one consistent snapshot, whatever the writer does
 * meanwhile). The structures they pass to callbacks point into SQLite's row
 * buffers: valid during the callback only. A callback must not call another
 * loader (the reader is busy); it may submit.
 */
#include "store/store_int.h"

/* ==== Writes ============================================================= */

/* An UPSERT, not INSERT OR REPLACE: REPLACE deletes the old row first, and
 * the delete would cascade to the session's subscriptions and queue. */
static const char SQL_SESSION_PUT[] =
    "INSERT INTO sessions(client_id, expiry_interval, disconnected_at_ms, protocol_version)"
    " VALUES (?1, ?2, ?3, ?4) ON CONFLICT(client_id) DO UPDATE SET"
    " expiry_interval = excluded.expiry_interval,"
    " disconnected_at_ms = excluded.disconnected_at_ms,"
    " protocol_version = excluded.protocol_version";
/* Cascades to subs and queue; queue_gc then drops orphaned messages. */
static const char SQL_SESSION_DEL[] = "DELETE FROM sessions WHERE client_id = ?1";
static const char SQL_SUB_PUT[] =
    "INSERT INTO subs(client_id, filter, options, sub_id) VALUES (?1, ?2, ?3, ?4)"
    " ON CONFLICT(client_id, filter) DO UPDATE SET"
    " options = excluded.options, sub_id = excluded.sub_id";
static const char SQL_SUB_DEL[] = "DELETE FROM subs WHERE client_id = ?1 AND filter = ?2";
/* A message already stored (the same publish queued by two MSG_PUTs) keeps
 * its row; the new queue rows just name it. */
static const char SQL_MSG_PUT[] =
    "INSERT INTO msgs(id, topic, payload, props, qos, retain, expiry_at_ms)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT(id) DO NOTHING";
static const char SQL_QUEUE_PUT[] =
    "INSERT INTO queue(client_id, msg_id, qos, sub_id, retain_flag) VALUES (?1, ?2, ?3, ?4, ?5)";
static const char SQL_QUEUE_DEL[] = "DELETE FROM queue WHERE client_id = ?1 AND msg_id = ?2";
static const char SQL_RETAIN_PUT[] =
    "INSERT INTO retained(topic, msg_id, payload, props, qos, retain, expiry_at_ms)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT(topic) DO UPDATE SET"
    " msg_id = excluded.msg_id, payload = excluded.payload, props = excluded.props,"
    " qos = excluded.qos, retain = excluded.retain, expiry_at_ms = excluded.expiry_at_ms";
static const char SQL_RETAIN_DEL[] = "DELETE FROM retained WHERE topic = ?1";

static int session_put(struct store_conn *c, const struct roost_store_session *ss)
{
    sqlite3_stmt *s = NULL;
    int rc = store__stmt(c, STORE_STMT_SESSION_PUT, SQL_SESSION_PUT, &s);
    if (rc)
        return rc;
    store__bind_text(s, 1, ss->client_id);
    sqlite3_bind_int64(s, 2, ss->expiry_interval);
    store__bind_u64(s, 3, ss->disconnected_at_ms);
    sqlite3_bind_int(s, 4, ss->protocol_version);
    return store__run(c, s, "session_put");
}

static int session_del(struct store_conn *c, const char *client_id)
{
    sqlite3_stmt *s = NULL;
    int rc = store__stmt(c, STORE_STMT_SESSION_DEL, SQL_SESSION_DEL, &s);
    if (rc)
        return rc;
    store__bind_text(s, 1, client_id);
    return store__run(c, s, "session_del");
}

static int sub_put(struct store_conn *c, const struct roost_store_sub *sub)
{
    sqlite3_stmt *s = NULL;
    int rc = store__stmt(c, STORE_STMT_SUB_PUT, SQL_SUB_PUT, &s);
    if (rc)
        return rc;
    store__bind_text(s, 1, sub->client_id);
    store__bind_text(s, 2, sub->filter);
    sqlite3_bind_int(s, 3, sub->options);
    sqlite3_bind_int64(s, 4, sub->sub_id);
    return store__run(c, s, "sub_put");
}

static int sub_del(struct store_conn *c, const struct roost_store_sub *sub)
{
    sqlite3_stmt *s = NULL;
    int rc = store__stmt(c, STORE_STMT_SUB_DEL, SQL_SUB_DEL, &s);
    if (rc)
        return rc;
    store__bind_text(s, 1, sub->client_id);
    store__bind_text(s, 2, sub->filter);
    return store__run(c, s, "sub_del");
}

/* Binds ?1..?7 of SQL_MSG_PUT / SQL_RETAIN_PUT; `key_first` puts the topic
 * first (retained is keyed by topic). */
static void bind_msg(sqlite3_stmt *s, const struct roost_store_msg *m, bool key_first)
{
    store__bind_u64(s, key_first ? 2 : 1, m->id);
    store__bind_text(s, key_first ? 1 : 2, m->topic);
    store__bind_blob(s, 3, m->payload, m->payload_len, false);
    store__bind_blob(s, 4, m->props, m->props_len, true);
    sqlite3_bind_int(s, 5, m->qos);
    sqlite3_bind_int(s, 6, m->retain);
    store__bind_u64(s, 7, m->expiry_at_ms);
}

/* The message row, then one queue row per session. queued[i].msg_id is not
 * read: the rows name m.msg.id. */
static int msg_put(struct store_conn *c, const struct roost_store_op *op)
{
    if (op->u.m.n_queued == 0)
        return 0; /* nobody to deliver to: nothing to keep */
    sqlite3_stmt *s = NULL;
    int rc = store__stmt(c, STORE_STMT_MSG_PUT, SQL_MSG_PUT, &s);
    if (rc)
        return rc;
    bind_msg(s, &op->u.m.msg, false);
    rc = store__run(c, s, "msg_put");
    if (rc)
        return rc;
    rc = store__stmt(c, STORE_STMT_QUEUE_PUT, SQL_QUEUE_PUT, &s);
    if (rc)
        return rc;
    for (size_t i = 0; i < op->u.m.n_queued && !rc; i++) {
        const struct roost_store_queued *q = &op->u.m.queued[i];
        store__bind_text(s, 1, q->client_id);
        store__bind_u64(s, 2, op->u.m.msg.id);
        sqlite3_bind_int(s, 3, q->qos);
        sqlite3_bind_int64(s, 4, q->sub_id);
        sqlite3_bind_int(s, 5, q->retain_flag);
        rc = store__run(c, s, "queue_put");
    }
    return rc;
}

/* Deleting a queue row that is not there is not an error (the delivery
 * is done either way). */
static int queue_del(struct store_conn *c, const struct roost_store_queued *q)
{
    sqlite3_stmt *s = NULL;
    int rc = store__stmt(c, STORE_STMT_QUEUE_DEL, SQL_QUEUE_DEL, &s);
    if (rc)
        return rc;
    store__bind_text(s, 1, q->client_id);
    store__bind_u64(s, 2, q->msg_id);
    return store__run(c, s, "queue_del");
}

static int retain_put(struct store_conn *c, const struct roost_store_msg *m)
{
    sqlite3_stmt *s = NULL;
    int rc = store__stmt(c, STORE_STMT_RETAIN_PUT, SQL_RETAIN_PUT, &s);
    if (rc)
        return rc;
    bind_msg(s, m, true);
    return store__run(c, s, "retain_put");
}

static int retain_del(struct store_conn *c, const char *topic)
{
    sqlite3_stmt *s = NULL;
    int rc = store__stmt(c, STORE_STMT_RETAIN_DEL, SQL_RETAIN_DEL, &s);
    if (rc)
        return rc;
    store__bind_text(s, 1, topic);
    return store__run(c, s, "retain_del");
}

int store__broker_apply(struct store_conn *c, const struct roost_store_op *op)
{
    switch (op->type) {
    case ROOST_STORE_SESSION_PUT:
        return session_put(c, &op->u.session);
    case ROOST_STORE_SESSION_DEL:
        return session_del(c, op->u.session.client_id);
    case ROOST_STORE_SUB_PUT:
        return sub_put(c, &op->u.sub);
    case ROOST_STORE_SUB_DEL:
        return sub_del(c, &op->u.sub);
    case ROOST_STORE_MSG_PUT:
        return msg_put(c, op);
    case ROOST_STORE_QUEUE_DEL:
        return queue_del(c, &op->u.queued);
    case ROOST_STORE_RETAIN_PUT:
        return retain_put(c, &op->u.m.msg);
    case ROOST_STORE_RETAIN_DEL:
        return retain_del(c, op->u.m.msg.topic);
    case ROOST_STORE_BARRIER:
        return 0;
    case ROOST_STORE_TXN:
        break; /* store.c runs it (sqlite_registry.c) */
    }
    return ROOST_EINVAL;
}

uint64_t store__broker_op_msg_id(const struct roost_store_op *op)
{
    if (op->type == ROOST_STORE_MSG_PUT || op->type == ROOST_STORE_RETAIN_PUT)
        return op->u.m.msg.id;
    return 0;
}

/* ==== Start-up reads ===================================================== */

static int load_begin(struct roost_store *st, enum store_stmt_id id, const char *sql,
                      sqlite3_stmt **out_stmt)
{
    pthread_mutex_lock(&st->reader_mu);
    int rc = store__stmt(&st->r, id, sql, out_stmt);
    if (rc)
        pthread_mutex_unlock(&st->reader_mu);
    return rc;
}

/* `rc` is the callback's verdict, `src` the last step's result. */
static int load_end(struct roost_store *st, sqlite3_stmt *s, int rc, int src, const char *what)
{
    if (!rc && src != SQLITE_DONE)
        rc = store__err(&st->r, src, what);
    store__done(s);
    pthread_mutex_unlock(&st->reader_mu);
    return rc;
}

static const char *col_text(sqlite3_stmt *s, int i)
{
    const char *t = (const char *)sqlite3_column_text(s, i);
    return t ? t : "";
}

/* Reads columns i..i+6 (id, topic, payload, props, qos, retain, expiry). */
static void col_msg(sqlite3_stmt *s, int i, struct roost_store_msg *m)
{
    m->id = (uint64_t)sqlite3_column_int64(s, i);
    m->topic = col_text(s, i + 1);
    m->payload = sqlite3_column_blob(s, i + 2);
    m->payload_len = (size_t)sqlite3_column_bytes(s, i + 2);
    m->props = sqlite3_column_blob(s, i + 3);
    m->props_len = (size_t)sqlite3_column_bytes(s, i + 3);
    m->qos = (uint8_t)sqlite3_column_int(s, i + 4);
    m->retain = sqlite3_column_int(s, i + 5) != 0;
    m->expiry_at_ms = (uint64_t)sqlite3_column_int64(s, i + 6);
}

/*
 * Start-up loaders: each calls `fn` once per row and stops at the first
 * non-zero return, which it passes back. Otherwise 0 or ROOST_EDB. They read
 * what is committed: sync first to include operations still queued.
 */
int roost_store_load_sessions(struct roost_store *st, roost_store_session_fn fn, void *ud)
{
    sqlite3_stmt *s = NULL;
    int rc = load_begin(st, STORE_STMT_LOAD_SESSIONS,
                        "SELECT client_id, expiry_interval, disconnected_at_ms, protocol_version"
                        " FROM sessions ORDER BY client_id",
                        &s);
    if (rc)
        return rc;
    int src = SQLITE_DONE;
    while (!rc && (src = sqlite3_step(s)) == SQLITE_ROW) {
        struct roost_store_session ss = {
            .client_id = col_text(s, 0),
            .expiry_interval = (uint32_t)sqlite3_column_int64(s, 1),
            .disconnected_at_ms = (uint64_t)sqlite3_column_int64(s, 2),
            .protocol_version = (uint8_t)sqlite3_column_int(s, 3),
        };
        rc = fn(ud, &ss);
    }
    return load_end(st, s, rc, src, "load sessions");
}

int roost_store_load_subs(struct roost_store *st, roost_store_sub_fn fn, void *ud)
{
    sqlite3_stmt *s = NULL;
    int rc = load_begin(st, STORE_STMT_LOAD_SUBS,
                        "SELECT client_id, filter, options, sub_id FROM subs"
                        " ORDER BY client_id, filter",
                        &s);
    if (rc)
        return rc;
    int src = SQLITE_DONE;
    while (!rc && (src = sqlite3_step(s)) == SQLITE_ROW) {
        struct roost_store_sub sub = {
            .client_id = col_text(s, 0),
            .filter = col_text(s, 1),
            .options = (uint8_t)sqlite3_column_int(s, 2),
            .sub_id = (uint32_t)sqlite3_column_int64(s, 3),
        };
        rc = fn(ud, &sub);
    }
    return load_end(st, s, rc, src, "load subs");
}

/* Walks queue in primary-key order: sessions by client id, each session's
 * rows by message id, which is the order they were published in. */
int roost_store_load_queued(struct roost_store *st, roost_store_queued_fn fn, void *ud)
{
    sqlite3_stmt *s = NULL;
    int rc = load_begin(st, STORE_STMT_LOAD_QUEUED,
                        "SELECT q.client_id, q.qos, q.sub_id, q.retain_flag,"
                        " m.id, m.topic, m.payload, m.props, m.qos, m.retain, m.expiry_at_ms"
                        " FROM queue q JOIN msgs m ON m.id = q.msg_id"
                        " ORDER BY q.client_id, q.msg_id",
                        &s);
    if (rc)
        return rc;
    int src = SQLITE_DONE;
    while (!rc && (src = sqlite3_step(s)) == SQLITE_ROW) {
        struct roost_store_msg m;
        col_msg(s, 4, &m);
        struct roost_store_queued q = {
            .client_id = col_text(s, 0),
            .msg_id = m.id,
            .qos = (uint8_t)sqlite3_column_int(s, 1),
            .sub_id = (uint32_t)sqlite3_column_int64(s, 2),
            .retain_flag = sqlite3_column_int(s, 3) != 0,
        };
        rc = fn(ud, &q, &m);
    }
    return load_end(st, s, rc, src, "load queued");
}

int roost_store_load_retained(struct roost_store *st, roost_store_msg_fn fn, void *ud)
{
    sqlite3_stmt *s = NULL;
    int rc = load_begin(st, STORE_STMT_LOAD_RETAINED,
                        "SELECT msg_id, topic, payload, props, qos, retain, expiry_at_ms"
                        " FROM retained ORDER BY topic",
                        &s);
    if (rc)
        return rc;
    int src = SQLITE_DONE;
    while (!rc && (src = sqlite3_step(s)) == SQLITE_ROW) {
        struct roost_store_msg m;
        col_msg(s, 0, &m);
        rc = fn(ud, &m);
    }
    return load_end(st, s, rc, src, "load retained");
}

/* The high-water mark the writer keeps, and for safety the ids still in
 * msgs and retained: whichever is largest. */
int roost_store_max_msg_id(struct roost_store *st, uint64_t *out_id)
{
    sqlite3_stmt *s = NULL;
    *out_id = 0;
    int rc = load_begin(st, STORE_STMT_MAX_MSG_ID,
                        "SELECT MAX(v) FROM ("
                        " SELECT value AS v FROM store_meta WHERE key = 'msg_id_hwm'"
                        " UNION ALL SELECT MAX(id) FROM msgs"
                        " UNION ALL SELECT MAX(msg_id) FROM retained)",
                        &s);
    if (rc)
        return rc;
    int src = sqlite3_step(s);
    if (src == SQLITE_ROW) {
        *out_id = (uint64_t)sqlite3_column_int64(s, 0);
        src = SQLITE_DONE;
    }
    return load_end(st, s, 0, src, "max msg id");
}
