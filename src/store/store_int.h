/*
 * store_int.h - internals shared by the SQLite store's files: the store
 * object, a connection with its cache of named prepared statements, the
 * SQLite-to-Roost error mapping, and the entry points of the broker tables
 * (sqlite_broker.c) and the migrations (migrations.c). Nothing outside
 * src/store includes this.
 *
 * Invariant: a struct store_conn is used by one thread at a time. The writer
 * connection belongs to the writer thread once it runs; the reader
 * connection is serialised by roost_store.reader_mu.
 *
 * Files: store.c (life cycle, writer, group commit), sqlite_broker.c (broker
 * tables), sqlite_registry.c (documents and links, transaction functions),
 * migrations.c (schema).
 */
#ifndef ROOST_STORE_INT_H
#define ROOST_STORE_INT_H

#include "store/store.h"

#include <pthread.h>
#include <sqlite3.h>

/* Most operations one transaction applies, so a commit (and the callbacks
 * waiting on it) is never held back by an unbounded backlog. */
#define STORE_BATCH_MAX 4096

/* Every cached statement has a slot here; its SQL lives next to the code that
 * binds it. A later migration's tables add their slots at the end. */
enum store_stmt_id {
    /* store.c: transaction control and bookkeeping */
    STORE_STMT_BEGIN,
    STORE_STMT_COMMIT,
    STORE_STMT_ROLLBACK,
    STORE_STMT_SAVEPOINT,
    STORE_STMT_RELEASE,
    STORE_STMT_ROLLBACK_TO,
    STORE_STMT_HWM_SET,
    /* sqlite_broker.c: writes */
    STORE_STMT_SESSION_PUT,
    STORE_STMT_SESSION_DEL,
    STORE_STMT_SUB_PUT,
    STORE_STMT_SUB_DEL,
    STORE_STMT_MSG_PUT,
    STORE_STMT_QUEUE_PUT,
    STORE_STMT_QUEUE_DEL,
    STORE_STMT_RETAIN_PUT,
    STORE_STMT_RETAIN_DEL,
    /* sqlite_broker.c: start-up reads */
    STORE_STMT_LOAD_SESSIONS,
    STORE_STMT_LOAD_SUBS,
    STORE_STMT_LOAD_QUEUED,
    STORE_STMT_LOAD_RETAINED,
    STORE_STMT_MAX_MSG_ID,
    /* sqlite_registry.c */
    STORE_STMT_BEGIN_READ,
    STORE_STMT_DOC_GET,
    STORE_STMT_DOC_INSERT,
    STORE_STMT_DOC_UPDATE,
    STORE_STMT_DOC_UPSERT,
    STORE_STMT_DOC_DEL,
    STORE_STMT_DOC_DEL_LINKS_FROM,
    STORE_STMT_DOC_DEL_LINKS_TO,
    STORE_STMT_DOC_LIST,
    STORE_STMT_LINK_ADD,
    STORE_STMT_LINK_DEL,
    STORE_STMT_LINK_LIST_FROM,
    STORE_STMT_LINK_LIST_TO,
    STORE_STMT_COUNT
};

/* One SQLite connection and the statements prepared on it. */
struct store_conn {
    sqlite3 *db;
    const char *role;                         /* "writer" or "reader", for logs */
    sqlite3_stmt *stmts[STORE_STMT_COUNT];    /* prepared on first use, kept */
};

struct roost_store {
    char *path;                               /* database file */
    struct store_conn w;                      /* writer thread's connection */
    struct store_conn r;                      /* loaders' connection */
    pthread_mutex_t reader_mu;                /* serialises use of `r` */

    pthread_mutex_t mu;                       /* guards the fields below */
    pthread_cond_t work_cv;                   /* writer waits for ops or stop */
    pthread_cond_t sync_cv;                   /* roost_store_sync waits for its barrier */
    struct roost_store_op *head;              /* submitted, not yet taken */
    struct roost_store_op **tail;
    bool writer_idle;                         /* writer is (about to be) in work_cv */
    bool stopping;                            /* close asked; drain then exit */

    pthread_t writer;
    bool writer_started;

    /* The checkpointer: copies the WAL into the database on its own thread
     * and connection, so that no commit waits for a checkpoint. */
    struct store_conn c;
    pthread_t checkpointer;
    bool checkpointer_started;
    pthread_mutex_t ckpt_mu;                  /* guards the two below */
    pthread_cond_t ckpt_cv;
    bool ckpt_wanted;                         /* the WAL passed STORE_CKPT_PAGES */
    bool ckpt_stopping;
    _Atomic uint64_t checkpoints;
    uint64_t hwm;                             /* largest msg id in store_meta (writer) */
    int batch_rc[STORE_BATCH_MAX];            /* per-op results of the current batch */

    _Atomic uint64_t commits;
    _Atomic uint64_t ops;
};

/* ---- store.c ---- */

/* Maps a SQLite result code to a Roost error, logging real failures once:
 * foreign key -> ROOST_ENOTFOUND (the session a row belongs to is missing),
 * primary key/unique -> ROOST_ECONFLICT, other constraints -> ROOST_EINVAL,
 * everything else -> ROOST_EDB. */
int store__err(struct store_conn *c, int src, const char *what);
/* The cached statement `id` (SQL `sql`), prepared on first use. */
int store__stmt(struct store_conn *c, enum store_stmt_id id, const char *sql,
                sqlite3_stmt **out_stmt);
/* Steps a bound statement to completion, then resets it and clears its
 * bindings (which point into caller memory). */
int store__run(struct store_conn *c, sqlite3_stmt *s, const char *what);
/* Resets and clears a statement after reading rows from it. */
void store__done(sqlite3_stmt *s);
/* sqlite3_bind_* helpers: SQLITE_STATIC, since every statement is cleared
 * before the memory it points at can go away. */
int store__bind_text(sqlite3_stmt *s, int i, const char *text);
int store__bind_blob(sqlite3_stmt *s, int i, const void *p, size_t n, bool null_if_empty);
int store__bind_u64(sqlite3_stmt *s, int i, uint64_t v);

/* ---- migrations.c ---- */

/* Brings the schema to the newest version in one transaction. */
int store__migrate(struct store_conn *c);
/* The schema version this build writes. */
int store__schema_version(void);

/* ---- sqlite_broker.c ---- */

/* Applies one broker operation inside the writer's open transaction. A
 * failure may leave the changes of the operation's earlier statements
 * behind; the writer detects that (sqlite3_total_changes64) and undoes them
 * (see store.c), so appliers write only with INSERT, UPDATE and DELETE. */
int store__broker_apply(struct store_conn *c, const struct roost_store_op *op);
/* Message id the operation stores, 0 if none (for the id high-water mark). */
uint64_t store__broker_op_msg_id(const struct roost_store_op *op);

/* ---- sqlite_registry.c ---- */

/* Runs a transaction function on `c`, whose transaction (or savepoint) the
 * caller has opened and will close. */
int store__txn_run(struct store_conn *c, roost_store_txn_fn fn, void *ud, bool read_only);

#endif /* ROOST_STORE_INT_H */
