/*
 * store.c - the SQLite store's life cycle and its writer: opening the
 * database (WAL, synchronous=FULL, foreign keys, migrations), the queue that
 * roost_store_submit feeds from any thread, and the one writer thread that
 * turns everything queued into a single transaction (group commit).
 *
 * The writer takes up to STORE_BATCH_MAX queued operations, runs BEGIN
 * IMMEDIATE, applies them in submission order, COMMITs, and only then calls
 * every operation's `done` and releases it. A failing operation is undone
 * alone and the others still commit (apply_pass says how, cheaply). A completion therefore
 * always reports a fact that is on disk (fsync'd WAL). If the transaction as
 * a whole fails, every operation of the batch completes with ROOST_EDB.
 *
 * Loaders and roost_store_max_msg_id use a second connection (see
 * sqlite_broker.c) so that they never touch the writer's; a third belongs
 * to the checkpointer thread, which keeps WAL checkpoints out of commits.
 */
#include "store/store_int.h"

#include <stdio.h>

#define SUB "store"

/* How long a statement waits for a lock held by another connection (the
 * reader during start-up, or a sqlite3 shell) before failing. */
#define STORE_BUSY_TIMEOUT_MS 5000
/* After a checkpoint the WAL is truncated back to this size, so one burst
 * does not leave a huge file behind. */
#define STORE_JOURNAL_SIZE_LIMIT (64 * 1024 * 1024)
/* WAL pages after which the checkpointer is woken (SQLite's own automatic
 * checkpoint uses the same 1000), and after which the writer checkpoints
 * itself because the checkpointer cannot keep up (bounds the WAL). */
#define STORE_CKPT_PAGES 1000
#define STORE_CKPT_WRITER_PAGES 32768

/* ==== Connections and statements ========================================= */

int store__err(struct store_conn *c, int src, const char *what)
{
    switch (src & 0xff) {
    case SQLITE_OK:
    case SQLITE_ROW:
    case SQLITE_DONE:
        return 0;
    case SQLITE_CONSTRAINT:
        roost_log_debug(SUB, "%s: %s: %s", c->role, what, sqlite3_errmsg(c->db));
        switch (src) {
        case SQLITE_CONSTRAINT_FOREIGNKEY:
            return ROOST_ENOTFOUND;
        case SQLITE_CONSTRAINT_PRIMARYKEY:
        case SQLITE_CONSTRAINT_UNIQUE:
            return ROOST_ECONFLICT;
        default:
            return ROOST_EINVAL;
        }
    case SQLITE_NOMEM:
        return ROOST_ENOMEM;
    default:
        roost_log_error(SUB, "%s: %s: %s (%s)", c->role, what, sqlite3_errmsg(c->db),
                        sqlite3_errstr(src));
        return ROOST_EDB;
    }
}

int store__stmt(struct store_conn *c, enum store_stmt_id id, const char *sql,
                sqlite3_stmt **out_stmt)
{
    if (!c->stmts[id]) {
        int src = sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &c->stmts[id],
                                     NULL);
        if (src != SQLITE_OK) {
            c->stmts[id] = NULL;
            return store__err(c, src, sql);
        }
    }
    *out_stmt = c->stmts[id];
    return 0;
}

int store__run(struct store_conn *c, sqlite3_stmt *s, const char *what)
{
    int src;
    do {
        src = sqlite3_step(s);
    } while (src == SQLITE_ROW); /* RETURNING rows nobody asked for */
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return store__err(c, src, what);
}

void store__done(sqlite3_stmt *s)
{
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
}

int store__bind_text(sqlite3_stmt *s, int i, const char *text)
{
    return sqlite3_bind_text(s, i, text ? text : "", -1, SQLITE_STATIC);
}

int store__bind_blob(sqlite3_stmt *s, int i, const void *p, size_t n, bool null_if_empty)
{
    if (n == 0)
        return null_if_empty ? sqlite3_bind_null(s, i) : sqlite3_bind_blob(s, i, "", 0,
                                                                            SQLITE_STATIC);
    return sqlite3_bind_blob64(s, i, p, n, SQLITE_STATIC);
}

/* SQLite integers are signed 64-bit; ids and times stay below 2^63, and the
 * cast back on load restores the value for anything that does not. */
int store__bind_u64(sqlite3_stmt *s, int i, uint64_t v)
{
    return sqlite3_bind_int64(s, i, (sqlite3_int64)v);
}

/* Runs one cached statement that takes no parameters. */
static int run_cached(struct store_conn *c, enum store_stmt_id id, const char *sql)
{
    sqlite3_stmt *s = NULL;
    int rc = store__stmt(c, id, sql, &s);
    if (rc)
        return rc;
    return store__run(c, s, sql);
}

static int exec_sql(struct store_conn *c, const char *sql)
{
    char *msg = NULL;
    int src = sqlite3_exec(c->db, sql, NULL, NULL, &msg);
    if (src != SQLITE_OK)
        roost_log_error(SUB, "%s: %s: %s", c->role, sql, msg ? msg : sqlite3_errstr(src));
    sqlite3_free(msg);
    return src == SQLITE_OK ? 0 : ROOST_EDB;
}

static void conn_close(struct store_conn *c)
{
    for (size_t i = 0; i < STORE_STMT_COUNT; i++) {
        sqlite3_finalize(c->stmts[i]);
        c->stmts[i] = NULL;
    }
    if (c->db && sqlite3_close(c->db) != SQLITE_OK)
        roost_log_error(SUB, "%s: close: %s", c->role, sqlite3_errmsg(c->db));
    c->db = NULL;
}

/* Opens one connection with the settings every connection needs. NOMUTEX:
 * each connection is used by one thread at a time (store_int.h), so
 * SQLite's per-connection mutex would only cost. */
static int conn_open(struct store_conn *c, const char *path, const char *role)
{
    int rc = 0;
    c->role = role;
    int src = sqlite3_open_v2(path, &c->db,
                              SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                              NULL);
    if (src != SQLITE_OK) {
        roost_log_error(SUB, "open %s: %s", path,
                        c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(src));
        rc = ROOST_EDB;
        goto out;
    }
    sqlite3_extended_result_codes(c->db, 1);
    sqlite3_busy_timeout(c->db, STORE_BUSY_TIMEOUT_MS);

    /* journal_mode answers with the mode it got: a database that cannot do
     * WAL (e.g. on a network file system) must not silently run without. */
    sqlite3_stmt *s = NULL;
    src = sqlite3_prepare_v2(c->db, "PRAGMA journal_mode=WAL", -1, &s, NULL);
    if (src == SQLITE_OK)
        src = sqlite3_step(s);
    if (src != SQLITE_ROW || sqlite3_stricmp((const char *)sqlite3_column_text(s, 0), "wal")) {
        roost_log_error(SUB, "%s: cannot switch to WAL mode: %s", path, sqlite3_errmsg(c->db));
        sqlite3_finalize(s);
        rc = ROOST_EDB;
        goto out;
    }
    sqlite3_finalize(s);

    char pragmas[256];
    snprintf(pragmas, sizeof(pragmas),
             "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; PRAGMA temp_store=MEMORY;"
             "PRAGMA journal_size_limit=%d;",
             STORE_JOURNAL_SIZE_LIMIT);
    rc = exec_sql(c, pragmas);
out:
    if (rc)
        conn_close(c);
    return rc;
}

/* ==== The writer ========================================================= */

static int apply_op(struct store_conn *c, const struct roost_store_op *op)
{
    if (op->type == ROOST_STORE_TXN)
        return store__txn_run(c, op->u.txn.fn, op->u.txn.ud, false);
    return store__broker_apply(c, op);
}

/* Applies one operation under its own savepoint, so that its failure is
 * undone alone whatever it had changed before failing. */
static int apply_savepointed(struct store_conn *c, const struct roost_store_op *op)
{
    int rc = run_cached(c, STORE_STMT_SAVEPOINT, "SAVEPOINT op");
    if (rc)
        return rc;
    rc = apply_op(c, op);
    if (rc && !sqlite3_get_autocommit(c->db))
        run_cached(c, STORE_STMT_ROLLBACK_TO, "ROLLBACK TO op");
    if (!sqlite3_get_autocommit(c->db)) {
        int rrc = run_cached(c, STORE_STMT_RELEASE, "RELEASE op");
        if (!rc)
            rc = rrc;
    }
    return rc;
}

enum pass_result {
    PASS_OK,      /* every operation applied or cleanly refused */
    PASS_REDO,    /* a failed operation left changes behind: redo carefully */
    PASS_LOST,    /* the transaction is gone (I/O error, full disk...) */
};

/*
 * Applies the batch inside the open transaction. The fast pass runs the
 * broker's operations bare: SQLite undoes a failing statement by itself, so
 * an operation that fails before it changed anything leaves nothing behind,
 * and every one but a MSG_PUT is a single statement. Only a failure that
 * follows changes of the same operation (a MSG_PUT whose second queue row is
 * refused) needs the careful pass, one savepoint per operation, which costs
 * about a fifth of the throughput and so runs only when needed. A TXN op
 * (registry) always gets its savepoint: its function may fail anywhere.
 */
static enum pass_result apply_pass(struct roost_store *st, struct roost_store_op *first, size_t n,
                                   bool careful, uint64_t *hwm)
{
    struct store_conn *c = &st->w;
    size_t i = 0;
    for (struct roost_store_op *op = first; i < n; op = op->next, i++) {
        int rc = 0;
        if (op->type != ROOST_STORE_BARRIER) {
            *hwm = ROOST_MAX(*hwm, store__broker_op_msg_id(op));
            if (careful || op->type == ROOST_STORE_TXN) {
                rc = apply_savepointed(c, op);
            } else {
                sqlite3_int64 before = sqlite3_total_changes64(c->db);
                rc = apply_op(c, op);
                if (rc && !sqlite3_get_autocommit(c->db) &&
                    sqlite3_total_changes64(c->db) != before)
                    return PASS_REDO;
            }
        }
        st->batch_rc[i] = rc;
        /* An I/O error or a full disk rolls back the whole transaction:
         * the operations before this one are gone too. */
        if (sqlite3_get_autocommit(c->db))
            return PASS_LOST;
    }
    return PASS_OK;
}

/* Records the largest message id stored so far, once per transaction. */
static int write_hwm(struct store_conn *c, uint64_t hwm)
{
    sqlite3_stmt *s = NULL;
    int rc = store__stmt(c, STORE_STMT_HWM_SET,
                         "UPDATE store_meta SET value = ?1 WHERE key = 'msg_id_hwm' AND value < ?1",
                         &s);
    if (rc)
        return rc;
    store__bind_u64(s, 1, hwm);
    return store__run(c, s, "msg_id_hwm");
}

/* One transaction over the `n` operations starting at `first`. Returns
 * whether it committed. Results go to st->batch_rc. */
static bool apply_batch(struct roost_store *st, struct roost_store_op *first, size_t n)
{
    struct store_conn *c = &st->w;
    uint64_t hwm;
    enum pass_result res;
    bool careful = false;
    for (;;) {
        hwm = st->hwm;
        if (run_cached(c, STORE_STMT_BEGIN, "BEGIN IMMEDIATE")) {
            res = PASS_LOST;
            break;
        }
        res = apply_pass(st, first, n, careful, &hwm);
        if (res != PASS_REDO || careful)
            break;
        roost_log_debug("store", "batch of %zu redone with savepoints", n);
        run_cached(c, STORE_STMT_ROLLBACK, "ROLLBACK");
        careful = true;
    }
    bool ok = res == PASS_OK;
    if (ok && hwm > st->hwm)
        ok = write_hwm(c, hwm) == 0;
    if (ok)
        ok = run_cached(c, STORE_STMT_COMMIT, "COMMIT") == 0;
    if (ok) {
        st->hwm = hwm;
        return true;
    }
    if (!sqlite3_get_autocommit(c->db))
        run_cached(c, STORE_STMT_ROLLBACK, "ROLLBACK");
    for (size_t i = 0; i < n; i++)
        st->batch_rc[i] = ROOST_EDB;
    return false;
}

/* Commits, counts, then completes and releases every operation of the
 * batch. The counters move before the callbacks so that whoever a
 * completion wakes (roost_store_sync) already sees them. */
static void run_batch(struct roost_store *st, struct roost_store_op *first, size_t n)
{
    bool committed = apply_batch(st, first, n);
    struct roost_store_op *op, *next;
    size_t i;
    if (committed) {
        uint64_t applied = 0;
        for (op = first, i = 0; i < n; op = op->next, i++)
            applied += op->type != ROOST_STORE_BARRIER && st->batch_rc[i] == 0;
        atomic_fetch_add_explicit(&st->commits, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&st->ops, applied, memory_order_relaxed);
    }
    for (op = first, i = 0; i < n; op = next, i++) {
        next = op->next;
        op->next = NULL;
        if (op->done)
            op->done(op->done_ud, st->batch_rc[i]);
        if (op->release)
            op->release(op);
        else
            roost_free(op);
    }
}

static void *writer_main(void *arg)
{
    struct roost_store *st = arg;
    pthread_mutex_lock(&st->mu);
    for (;;) {
        while (!st->head && !st->stopping) {
            st->writer_idle = true;
            pthread_cond_wait(&st->work_cv, &st->mu);
        }
        st->writer_idle = false;
        if (!st->head)
            break; /* stopping, and everything is applied */
        struct roost_store_op *first = st->head, *last = first;
        size_t n = 1;
        while (n < STORE_BATCH_MAX && last->next) {
            last = last->next;
            n++;
        }
        st->head = last->next;
        if (!st->head)
            st->tail = &st->head;
        last->next = NULL;
        pthread_mutex_unlock(&st->mu);
        run_batch(st, first, n);
        pthread_mutex_lock(&st->mu);
    }
    pthread_mutex_unlock(&st->mu);
    return NULL;
}

/* ==== The checkpointer ==================================================== */

/*
 * SQLite's automatic checkpoint runs inside the COMMIT that crosses the WAL
 * threshold: that commit copies ~4 MB into the database file and fsyncs it
 * before its operations complete. Under a steady load (10k shadow updates/s
 * grow the WAL by megabytes a second) that made every few hundredth batch
 * wait tens of milliseconds, which was the p99 of every acknowledged write.
 * Instead the writer's connection never checkpoints by itself: its WAL hook
 * wakes this thread, which runs a PASSIVE checkpoint on its own connection
 * (copying what no reader still needs, never blocking the writer). Only if
 * the WAL grows past STORE_CKPT_WRITER_PAGES does the writer checkpoint too.
 */
static int wal_hook(void *ud, sqlite3 *db, const char *schema, int pages)
{
    struct roost_store *st = ud;
    ROOST_UNUSED(schema);
    if (pages >= STORE_CKPT_WRITER_PAGES) {
        sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
        atomic_fetch_add_explicit(&st->checkpoints, 1, memory_order_relaxed);
    } else if (pages >= STORE_CKPT_PAGES) {
        pthread_mutex_lock(&st->ckpt_mu);
        if (!st->ckpt_wanted) {
            st->ckpt_wanted = true;
            pthread_cond_signal(&st->ckpt_cv);
        }
        pthread_mutex_unlock(&st->ckpt_mu);
    }
    return SQLITE_OK;
}

static void *checkpointer_main(void *arg)
{
    struct roost_store *st = arg;
    pthread_mutex_lock(&st->ckpt_mu);
    for (;;) {
        while (!st->ckpt_wanted && !st->ckpt_stopping)
            pthread_cond_wait(&st->ckpt_cv, &st->ckpt_mu);
        if (st->ckpt_stopping)
            break;
        st->ckpt_wanted = false;
        pthread_mutex_unlock(&st->ckpt_mu);
        int log = 0, done = 0;
        int src = sqlite3_wal_checkpoint_v2(st->c.db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log,
                                            &done);
        if (src != SQLITE_OK && src != SQLITE_BUSY)
            roost_log_warn(SUB, "checkpoint: %s", sqlite3_errmsg(st->c.db));
        atomic_fetch_add_explicit(&st->checkpoints, 1, memory_order_relaxed);
        pthread_mutex_lock(&st->ckpt_mu);
    }
    pthread_mutex_unlock(&st->ckpt_mu);
    return NULL;
}

/* ==== Public interface =================================================== */

static pthread_once_t sqlite_config_once = PTHREAD_ONCE_INIT;

/* Process-wide SQLite settings, which only take before SQLite initialises
 * (if something initialised it first, the call fails and costs nothing).
 * Memory statistics take a global mutex around every SQLite allocation;
 * nothing reads them, and turning them off is worth some 15% of writer
 * throughput. */
static void sqlite_config(void)
{
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

/* Reads the id high-water mark the writer keeps in store_meta. */
static int read_hwm(struct store_conn *c, uint64_t *out_hwm)
{
    sqlite3_stmt *s = NULL;
    int src = sqlite3_prepare_v2(c->db, "SELECT value FROM store_meta WHERE key = 'msg_id_hwm'",
                                 -1, &s, NULL);
    if (src == SQLITE_OK)
        src = sqlite3_step(s);
    *out_hwm = src == SQLITE_ROW ? (uint64_t)sqlite3_column_int64(s, 0) : 0;
    int rc = store__err(c, src, "read msg_id_hwm");
    sqlite3_finalize(s);
    return rc;
}

/*
 * Opens (creating if needed) the database file at `path`: the writer
 * connection, migrations in one transaction, the reader connection, then the
 * writer thread. `path` must name a file (":memory:" cannot be shared by two
 * connections). On success *out_store owns everything; close it with
 * roost_store_close. Returns 0, ROOST_EDB or ROOST_EVERSION (schema newer
 * than this build).
 */
int roost_store_open(const char *path, struct roost_store **out_store)
{
    int rc = 0;
    struct roost_store *st = roost_xcalloc(1, sizeof(*st));
    st->path = roost_xstrdup(path);
    st->tail = &st->head;
    pthread_mutex_init(&st->mu, NULL);
    pthread_mutex_init(&st->reader_mu, NULL);
    pthread_mutex_init(&st->ckpt_mu, NULL);
    pthread_cond_init(&st->ckpt_cv, NULL);
    pthread_cond_init(&st->work_cv, NULL);
    pthread_cond_init(&st->sync_cv, NULL);
    atomic_init(&st->commits, 0);
    atomic_init(&st->ops, 0);
    atomic_init(&st->checkpoints, 0);

    pthread_once(&sqlite_config_once, sqlite_config);
    rc = conn_open(&st->w, path, "writer");
    if (rc)
        goto out;
    rc = store__migrate(&st->w);
    if (rc)
        goto out;
    rc = read_hwm(&st->w, &st->hwm);
    if (rc)
        goto out;
    rc = conn_open(&st->r, path, "reader");
    if (rc)
        goto out;
    rc = exec_sql(&st->r, "PRAGMA query_only=ON");
    if (rc)
        goto out;
    rc = conn_open(&st->c, path, "checkpointer");
    if (rc)
        goto out;
    int err = pthread_create(&st->checkpointer, NULL, checkpointer_main, st);
    if (err) {
        roost_log_error(SUB, "checkpointer thread: %s", strerror(err));
        rc = -err;
        goto out;
    }
    st->checkpointer_started = true;
    /* From now on commits leave checkpoints to the checkpointer. */
    sqlite3_wal_autocheckpoint(st->w.db, 0);
    sqlite3_wal_hook(st->w.db, wal_hook, st);
    err = pthread_create(&st->writer, NULL, writer_main, st);
    if (err) {
        roost_log_error(SUB, "writer thread: %s", strerror(err));
        rc = -err;
        goto out;
    }
    st->writer_started = true;
out:
    if (rc) {
        roost_store_close(st);
        st = NULL;
    }
    *out_store = st;
    return rc;
}

/*
 * Applies every operation submitted so far (their callbacks run), stops the
 * writer, finalizes the statements and closes both connections; the last
 * close checkpoints the WAL into the database file. NULL is a no-op. No
 * thread may submit once close has returned.
 */
void roost_store_close(struct roost_store *st)
{
    if (!st)
        return;
    if (st->writer_started) {
        pthread_mutex_lock(&st->mu);
        st->stopping = true;
        pthread_cond_signal(&st->work_cv);
        pthread_mutex_unlock(&st->mu);
        pthread_join(st->writer, NULL);
    }
    ROOST_ASSERT(!st->head);
    if (st->checkpointer_started) {
        pthread_mutex_lock(&st->ckpt_mu);
        st->ckpt_stopping = true;
        pthread_cond_signal(&st->ckpt_cv);
        pthread_mutex_unlock(&st->ckpt_mu);
        pthread_join(st->checkpointer, NULL);
    }
    conn_close(&st->c);
    conn_close(&st->r);
    conn_close(&st->w);
    pthread_cond_destroy(&st->ckpt_cv);
    pthread_mutex_destroy(&st->ckpt_mu);
    pthread_cond_destroy(&st->sync_cv);
    pthread_cond_destroy(&st->work_cv);
    pthread_mutex_destroy(&st->reader_mu);
    pthread_mutex_destroy(&st->mu);
    roost_free(st->path);
    roost_free(st);
}

/*
 * Queues `op` (ownership passes to the store) for the writer. Thread-safe,
 * O(1), never touches the disk: the lock is held for a few pointer moves and
 * the writer is signalled only when it is waiting.
 */
void roost_store_submit(struct roost_store *st, struct roost_store_op *op)
{
    op->next = NULL;
    pthread_mutex_lock(&st->mu);
    *st->tail = op;
    st->tail = &op->next;
    bool wake = st->writer_idle;
    st->writer_idle = false;
    pthread_mutex_unlock(&st->mu);
    if (wake)
        pthread_cond_signal(&st->work_cv);
}

struct sync_wait {
    struct roost_store *st;
    bool done;
    int rc;
};

static void sync_done(void *ud, int rc)
{
    struct sync_wait *w = ud;
    struct roost_store *st = w->st;
    pthread_mutex_lock(&st->mu);
    w->rc = rc;
    w->done = true;
    pthread_cond_broadcast(&st->sync_cv);
    pthread_mutex_unlock(&st->mu);
}

/*
 * Blocks until every operation submitted before the call has been committed
 * and completed, by queueing a barrier behind them. Returns 0, or ROOST_EDB
 * when the transaction holding the barrier failed. Must not be called from a
 * completion callback (the writer would wait for itself).
 */
int roost_store_sync(struct roost_store *st)
{
    ROOST_ASSERT(!st->writer_started || !pthread_equal(pthread_self(), st->writer));
    struct sync_wait w = {.st = st};
    struct roost_store_op *op = roost_xcalloc(1, sizeof(*op));
    op->type = ROOST_STORE_BARRIER;
    op->done = sync_done;
    op->done_ud = &w;
    roost_store_submit(st, op);
    pthread_mutex_lock(&st->mu);
    while (!w.done)
        pthread_cond_wait(&st->sync_cv, &st->mu);
    pthread_mutex_unlock(&st->mu);
    return w.rc;
}

/* Commits and applied operations since open (relaxed counters). */
void roost_store_get_stats(struct roost_store *st, struct roost_store_stats *out)
{
    out->commits = atomic_load_explicit(&st->commits, memory_order_relaxed);
    out->ops = atomic_load_explicit(&st->ops, memory_order_relaxed);
    out->checkpoints = atomic_load_explicit(&st->checkpoints, memory_order_relaxed);
}
