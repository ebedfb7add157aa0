/*
 * test_store.c - unit tests for the SQLite store: every operation type
 * round-trips through the loaders and a reopen, queue order, cascades and
 * orphaned messages, one failing operation inside a batch, a batch whose
 * transaction fails, sync, the id high-water mark, migrations, and a child
 * killed with SIGKILL that must lose nothing it had been told was stored.
 */
#include "roost_test.h"
#include "store/store.h"

#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#define PENDING 12345 /* an rc slot no completion has written yet */

/* ==== Helpers ============================================================ */

static void db_path(char *out, size_t cap)
{
    snprintf(out, cap, "%s/roost.db", roost_test_tmpdir());
}

static void record_rc(void *ud, int rc)
{
    *(int *)ud = rc;
}

static struct roost_store_op *op_new(enum roost_store_op_type type, int *rc_slot)
{
    struct roost_store_op *op = roost_xcalloc(1, sizeof(*op));
    op->type = type;
    if (rc_slot) {
        *rc_slot = PENDING;
        op->done = record_rc;
        op->done_ud = rc_slot;
    }
    return op;
}

static void session_put(struct roost_store *st, const char *client, uint32_t expiry,
                        uint64_t disc, int *rc)
{
    struct roost_store_op *op = op_new(ROOST_STORE_SESSION_PUT, rc);
    op->u.session = (struct roost_store_session){client, expiry, disc, 5};
    roost_store_submit(st, op);
}

static void session_del(struct roost_store *st, const char *client, int *rc)
{
    struct roost_store_op *op = op_new(ROOST_STORE_SESSION_DEL, rc);
    op->u.session.client_id = client;
    roost_store_submit(st, op);
}

static void sub_op(struct roost_store *st, enum roost_store_op_type type, const char *client,
                   const char *filter, uint8_t options, uint32_t sub_id, int *rc)
{
    struct roost_store_op *op = op_new(type, rc);
    op->u.sub = (struct roost_store_sub){client, filter, options, sub_id};
    roost_store_submit(st, op);
}

/* A MSG_PUT and its queue rows in one allocation; the op comes first, so the
 * store's default roost_free(op) frees the whole thing. */
struct msg_op {
    struct roost_store_op op;
    struct roost_store_queued q[8];
};

static void msg_put(struct roost_store *st, uint64_t id, const char *topic, const char *payload,
                    const char *const *clients, size_t n, int *rc)
{
    struct msg_op *mo = roost_xcalloc(1, sizeof(*mo));
    REQUIRE(n <= ROOST_ARRAY_LEN(mo->q));
    mo->op.type = ROOST_STORE_MSG_PUT;
    if (rc) {
        *rc = PENDING;
        mo->op.done = record_rc;
        mo->op.done_ud = rc;
    }
    mo->op.u.m.msg = (struct roost_store_msg){
        .id = id, .topic = topic, .payload = (const uint8_t *)payload,
        .payload_len = strlen(payload), .qos = 1, .expiry_at_ms = 0};
    for (size_t i = 0; i < n; i++)
        mo->q[i] = (struct roost_store_queued){clients[i], id, 1, (uint32_t)i, false};
    mo->op.u.m.queued = mo->q;
    mo->op.u.m.n_queued = n;
    roost_store_submit(st, &mo->op);
}

static void queue_del(struct roost_store *st, const char *client, uint64_t id, int *rc)
{
    struct roost_store_op *op = op_new(ROOST_STORE_QUEUE_DEL, rc);
    op->u.queued.client_id = client;
    op->u.queued.msg_id = id;
    roost_store_submit(st, op);
}

/* Loaders append one line per row to a buffer, so a test compares a dump. */
static void dump_printf(struct roost_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void dump_printf(struct roost_buf *b, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    roost_buf_append(b, line, (size_t)ROOST_MIN(n, (int)sizeof(line) - 1));
}

static int dump_session(void *ud, const struct roost_store_session *s)
{
    dump_printf(ud, "%s %u %llu %u\n", s->client_id, s->expiry_interval,
                (unsigned long long)s->disconnected_at_ms, s->protocol_version);
    return 0;
}

static int dump_sub(void *ud, const struct roost_store_sub *s)
{
    dump_printf(ud, "%s %s %u %u\n", s->client_id, s->filter, s->options, s->sub_id);
    return 0;
}

static void dump_msg(struct roost_buf *b, const struct roost_store_msg *m)
{
    dump_printf(b, "#%llu %s '%.*s' props=%zu q%u r%d exp=%llu", (unsigned long long)m->id,
                m->topic, (int)m->payload_len, m->payload ? (const char *)m->payload : "",
                m->props_len, m->qos, m->retain, (unsigned long long)m->expiry_at_ms);
    for (size_t i = 0; i < m->props_len; i++)
        dump_printf(b, "%s%02x", i ? "" : ":", m->props[i]);
}

static int dump_queued(void *ud, const struct roost_store_queued *q,
                       const struct roost_store_msg *m)
{
    dump_printf(ud, "%s q%u s%u r%d ", q->client_id, q->qos, q->sub_id, q->retain_flag);
    if (q->msg_id != m->id)
        dump_printf(ud, "MISMATCH ");
    dump_msg(ud, m);
    dump_printf(ud, "\n");
    return 0;
}

static int dump_retained(void *ud, const struct roost_store_msg *m)
{
    dump_msg(ud, m);
    dump_printf(ud, "\n");
    return 0;
}

enum dump_what { DUMP_SESSIONS, DUMP_SUBS, DUMP_QUEUED, DUMP_RETAINED };

/* The loader's rows as text (static buffer, valid until the next call). */
static const char *dump(struct roost_store *st, enum dump_what what)
{
    static char text[8192];
    struct roost_buf b;
    roost_buf_init(&b, 0);
    int rc = 0;
    switch (what) {
    case DUMP_SESSIONS: rc = roost_store_load_sessions(st, dump_session, &b); break;
    case DUMP_SUBS: rc = roost_store_load_subs(st, dump_sub, &b); break;
    case DUMP_QUEUED: rc = roost_store_load_queued(st, dump_queued, &b); break;
    case DUMP_RETAINED: rc = roost_store_load_retained(st, dump_retained, &b); break;
    }
    if (rc)
        snprintf(text, sizeof(text), "error %d", rc);
    else
        snprintf(text, sizeof(text), "%.*s", (int)roost_buf_size(&b), (const char *)b.data);
    roost_buf_cleanup(&b);
    return text;
}

static uint64_t max_id(struct roost_store *st)
{
    uint64_t id = 0;
    CHECK_OK(roost_store_max_msg_id(st, &id));
    return id;
}

/* ==== Tests ============================================================== */

ROOST_TEST(open_close_empty)
{
    char path[600];
    db_path(path, sizeof(path));
    struct roost_store *st = NULL;
    REQUIRE_OK(roost_store_open(path, &st));
    CHECK_STR(dump(st, DUMP_SESSIONS), "");
    CHECK_STR(dump(st, DUMP_SUBS), "");
    CHECK_STR(dump(st, DUMP_QUEUED), "");
    CHECK_STR(dump(st, DUMP_RETAINED), "");
    CHECK_EQ(max_id(st), 0);
    CHECK_OK(roost_store_sync(st));
    struct roost_store_stats stats;
    roost_store_get_stats(st, &stats);
    CHECK_EQ(stats.ops, 0);
    roost_store_close(st);
    roost_store_close(NULL);

    /* Reopening an existing, empty database works and does not migrate twice. */
    REQUIRE_OK(roost_store_open(path, &st));
    CHECK_STR(dump(st, DUMP_SESSIONS), "");
    roost_store_close(st);
}

/* Commits never checkpoint: the checkpointer thread does, once the WAL
 * passes its threshold, and the data stays whole across a reopen. */
ROOST_TEST(wal_is_checkpointed_off_the_commit_path)
{
    char path[600];
    db_path(path, sizeof(path));
    struct roost_store *st = NULL;
    REQUIRE_OK(roost_store_open(path, &st));
    /* ~6 MB of messages: past the 1000-page (4 MB) threshold */
    static char payload[8192];
    memset(payload, 'x', sizeof(payload) - 1);
    const char *clients[] = {"ckpt"};
    session_put(st, "ckpt", 3600, 0, NULL);
    for (uint64_t id = 1; id <= 750; id++)
        msg_put(st, id, "t/ckpt", payload, clients, 1, NULL);
    REQUIRE_OK(roost_store_sync(st));
    struct roost_store_stats stats;
    uint64_t deadline = roost_now_us() + 10u * 1000u * 1000u;
    do {
        roost_store_get_stats(st, &stats);
    } while (stats.checkpoints == 0 && roost_now_us() < deadline);
    CHECK(stats.checkpoints > 0);
    CHECK_EQ(max_id(st), 750);
    roost_store_close(st);
    REQUIRE_OK(roost_store_open(path, &st));
    CHECK_EQ(max_id(st), 750);
    roost_store_close(st);
}

ROOST_TEST(open_fails_cleanly_on_bad_path)
{
    struct roost_store *st = (struct roost_store *)1;
    CHECK_EQ(roost_store_open("/nonexistent-dir/x/roost.db", &st), ROOST_EDB);
    CHECK(st == NULL);
}

ROOST_TEST(every_op_round_trips_and_survives_reopen)
{
    char path[600];
    db_path(path, sizeof(path));
    struct roost_store *st = NULL;
    REQUIRE_OK(roost_store_open(path, &st));
    int rc[16];
    session_put(st, "dev-1", UINT32_MAX, 0, &rc[0]);
    session_put(st, "dev-2", 60, 1700000000123ULL, &rc[1]);
    sub_op(st, ROOST_STORE_SUB_PUT, "dev-1", "a/+/c", 0x01, 0, &rc[2]);
    sub_op(st, ROOST_STORE_SUB_PUT, "dev-1", "$share/g/x/#", 0x2e, 268435455, &rc[3]);
    sub_op(st, ROOST_STORE_SUB_PUT, "dev-2", "z", 0, 0, &rc[4]);
    sub_op(st, ROOST_STORE_SUB_PUT, "dev-2", "z", 2, 7, &rc[5]); /* replaces */

    /* A message with properties, an empty payload and an expiry. */
    static const uint8_t props[] = {0x01, 0x01, 0x23, 0x00, 0x05};
    struct msg_op *mo = roost_xcalloc(1, sizeof(*mo));
    mo->op.type = ROOST_STORE_MSG_PUT;
    mo->op.done = record_rc;
    mo->op.done_ud = &rc[6];
    rc[6] = PENDING;
    mo->op.u.m.msg = (struct roost_store_msg){.id = 41, .topic = "t/1", .payload = NULL,
                                              .payload_len = 0, .props = props,
                                              .props_len = sizeof(props), .qos = 2,
                                              .retain = true, .expiry_at_ms = 99};
    mo->q[0] = (struct roost_store_queued){"dev-1", 41, 2, 9, true};
    mo->q[1] = (struct roost_store_queued){"dev-2", 41, 0, 0, false};
    mo->op.u.m.queued = mo->q;
    mo->op.u.m.n_queued = 2;
    roost_store_submit(st, &mo->op);

    struct roost_store_op *op = op_new(ROOST_STORE_RETAIN_PUT, &rc[7]);
    op->u.m.msg = (struct roost_store_msg){.id = 40, .topic = "r/a", .payload = (const uint8_t *)"on",
                                           .payload_len = 2, .props = props, .props_len = 2,
                                           .qos = 1, .retain = true, .expiry_at_ms = 5};
    roost_store_submit(st, op);
    op = op_new(ROOST_STORE_RETAIN_PUT, &rc[8]);
    op->u.m.msg = (struct roost_store_msg){.id = 42, .topic = "r/b", .payload = (const uint8_t *)"x",
                                           .payload_len = 1, .qos = 0, .retain = true};
    roost_store_submit(st, op);
    op = op_new(ROOST_STORE_RETAIN_PUT, &rc[9]); /* replaces r/b */
    op->u.m.msg = (struct roost_store_msg){.id = 43, .topic = "r/b", .payload = (const uint8_t *)"yy",
                                           .payload_len = 2, .qos = 1, .retain = true};
    roost_store_submit(st, op);
    op = op_new(ROOST_STORE_RETAIN_PUT, &rc[10]);
    op->u.m.msg = (struct roost_store_msg){.id = 44, .topic = "r/c", .payload = (const uint8_t *)"z",
                                           .payload_len = 1, .qos = 1, .retain = true};
    roost_store_submit(st, op);
    op = op_new(ROOST_STORE_RETAIN_DEL, &rc[11]);
    op->u.m.msg.topic = "r/c";
    roost_store_submit(st, op);
    sub_op(st, ROOST_STORE_SUB_DEL, "dev-1", "a/+/c", 0, 0, &rc[12]);
    session_put(st, "dev-1", 3600, 5, &rc[13]); /* update keeps subs and queue */
    CHECK_OK(roost_store_sync(st));
    for (int i = 0; i < 14; i++)
        CHECK_EQ(rc[i], 0);

    const char *sessions = "dev-1 3600 5 5\ndev-2 60 1700000000123 5\n";
    const char *subs = "dev-1 $share/g/x/# 46 268435455\ndev-2 z 2 7\n";
    const char *queued = "dev-1 q2 s9 r1 #41 t/1 '' props=5 q2 r1 exp=99:0101230005\n"
                         "dev-2 q0 s0 r0 #41 t/1 '' props=5 q2 r1 exp=99:0101230005\n";
    const char *retained = "#40 r/a 'on' props=2 q1 r1 exp=5:0101\n"
                           "#43 r/b 'yy' props=0 q1 r1 exp=0\n";
    CHECK_STR(dump(st, DUMP_SESSIONS), sessions);
    CHECK_STR(dump(st, DUMP_SUBS), subs);
    CHECK_STR(dump(st, DUMP_QUEUED), queued);
    CHECK_STR(dump(st, DUMP_RETAINED), retained);
    CHECK_EQ(max_id(st), 44);
    struct roost_store_stats stats;
    roost_store_get_stats(st, &stats);
    CHECK_EQ(stats.ops, 14);
    CHECK(stats.commits >= 1);
    roost_store_close(st);

    REQUIRE_OK(roost_store_open(path, &st));
    CHECK_STR(dump(st, DUMP_SESSIONS), sessions);
    CHECK_STR(dump(st, DUMP_SUBS), subs);
    CHECK_STR(dump(st, DUMP_QUEUED), queued);
    CHECK_STR(dump(st, DUMP_RETAINED), retained);
    CHECK_EQ(max_id(st), 44);
    roost_store_close(st);
}

ROOST_TEST(queue_loads_per_session_in_msg_id_order)
{
    char path[600];
    db_path(path, sizeof(path));
    struct roost_store *st = NULL;
    REQUIRE_OK(roost_store_open(path, &st));
    session_put(st, "b", 0, 0, NULL);
    session_put(st, "a", 0, 0, NULL);
    const char *a[] = {"a"}, *b[] = {"b"}, *ab[] = {"b", "a"};
    /* Submitted out of id order, as several loops might. */
    msg_put(st, 30, "t", "m30", a, 1, NULL);
    msg_put(st, 10, "t", "m10", ab, 2, NULL);
    msg_put(st, 20, "t", "m20", b, 1, NULL);
    msg_put(st, 5, "t", "m5", a, 1, NULL);
    CHECK_OK(roost_store_sync(st));
    CHECK_STR(dump(st, DUMP_QUEUED), "a q1 s0 r0 #5 t 'm5' props=0 q1 r0 exp=0\n"
                                     "a q1 s1 r0 #10 t 'm10' props=0 q1 r0 exp=0\n"
                                     "a q1 s0 r0 #30 t 'm30' props=0 q1 r0 exp=0\n"
                                     "b q1 s0 r0 #10 t 'm10' props=0 q1 r0 exp=0\n"
                                     "b q1 s0 r0 #20 t 'm20' props=0 q1 r0 exp=0\n");
    roost_store_close(st);
}

/* Reads how many rows a table has, through a connection of the test's own. */
static long count_rows(const char *path, const char *table)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    char sql[128];
    long n = -1;
    snprintf(sql, sizeof(sql), "SELECT COUNT(*) FROM %s", table);
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW)
        n = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    sqlite3_close(db);
    return n;
}

ROOST_TEST(queue_del_drops_message_with_its_last_queue_row)
{
    char path[600];
    db_path(path, sizeof(path));
    struct roost_store *st = NULL;
    REQUIRE_OK(roost_store_open(path, &st));
    session_put(st, "a", 0, 0, NULL);
    session_put(st, "b", 0, 0, NULL);
    const char *ab[] = {"a", "b"};
    msg_put(st, 1, "t", "one", ab, 2, NULL);
    msg_put(st, 2, "t", "two", ab, 2, NULL);
    int rc[4];
    queue_del(st, "a", 1, &rc[0]);
    CHECK_OK(roost_store_sync(st));
    CHECK_EQ(count_rows(path, "msgs"), 2); /* b still needs #1 */
    queue_del(st, "b", 1, &rc[1]);
    queue_del(st, "b", 1, &rc[2]); /* again: nothing to do, not an error */
    queue_del(st, "zz", 2, &rc[3]);
    CHECK_OK(roost_store_sync(st));
    for (int i = 0; i < 4; i++)
        CHECK_EQ(rc[i], 0);
    CHECK_EQ(count_rows(path, "msgs"), 1);
    CHECK_EQ(count_rows(path, "queue"), 2);
    CHECK_STR(dump(st, DUMP_QUEUED), "a q1 s0 r0 #2 t 'two' props=0 q1 r0 exp=0\n"
                                     "b q1 s1 r0 #2 t 'two' props=0 q1 r0 exp=0\n");
    CHECK_EQ(max_id(st), 2);
    queue_del(st, "a", 2, NULL);
    queue_del(st, "b", 2, NULL);
    CHECK_OK(roost_store_sync(st));
    CHECK_EQ(count_rows(path, "msgs"), 0);
    CHECK_EQ(max_id(st), 2); /* ids are never handed out twice */
    roost_store_close(st);

    REQUIRE_OK(roost_store_open(path, &st));
    CHECK_EQ(max_id(st), 2);
    roost_store_close(st);
}

ROOST_TEST(session_del_cascades_and_drops_orphaned_messages)
{
    char path[600];
    db_path(path, sizeof(path));
    struct roost_store *st = NULL;
    REQUIRE_OK(roost_store_open(path, &st));
    session_put(st, "a", 0, 0, NULL);
    session_put(st, "b", 0, 0, NULL);
    sub_op(st, ROOST_STORE_SUB_PUT, "a", "x/#", 1, 0, NULL);
    sub_op(st, ROOST_STORE_SUB_PUT, "a", "y", 1, 0, NULL);
    sub_op(st, ROOST_STORE_SUB_PUT, "b", "x/#", 1, 0, NULL);
    const char *a[] = {"a"}, *ab[] = {"a", "b"};
    msg_put(st, 1, "x/1", "only a", a, 1, NULL);
    msg_put(st, 2, "x/2", "shared", ab, 2, NULL);
    msg_put(st, 3, "x/3", "only a", a, 1, NULL);
    int rc[2];
    session_del(st, "a", &rc[0]);
    session_del(st, "never-existed", &rc[1]);
    CHECK_OK(roost_store_sync(st));
    CHECK_EQ(rc[0], 0);
    CHECK_EQ(rc[1], 0);
    CHECK_STR(dump(st, DUMP_SESSIONS), "b 0 0 5\n");
    CHECK_STR(dump(st, DUMP_SUBS), "b x/# 1 0\n");
    CHECK_STR(dump(st, DUMP_QUEUED), "b q1 s1 r0 #2 x/2 'shared' props=0 q1 r0 exp=0\n");
    CHECK_EQ(count_rows(path, "msgs"), 1);
    CHECK_EQ(max_id(st), 3);
    roost_store_close(st);
}

/* A completion that holds the writer until the test opens the gate, so the
 * operations submitted meanwhile are certain to form the next batch. */
struct gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool entered, open;
};

static void gate_done(void *ud, int rc)
{
    struct gate *g = ud;
    pthread_mutex_lock(&g->mu);
    g->entered = true;
    pthread_cond_broadcast(&g->cv);
    while (!g->open)
        pthread_cond_wait(&g->cv, &g->mu);
    pthread_mutex_unlock(&g->mu);
}

static void gate_hold_writer(struct roost_store *st, struct gate *g)
{
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, NULL);
    g->entered = g->open = false;
    struct roost_store_op *op = op_new(ROOST_STORE_BARRIER, NULL);
    op->done = gate_done;
    op->done_ud = g;
    roost_store_submit(st, op);
    pthread_mutex_lock(&g->mu);
    while (!g->entered)
        pthread_cond_wait(&g->cv, &g->mu);
    pthread_mutex_unlock(&g->mu);
}

static void gate_open(struct gate *g)
{
    pthread_mutex_lock(&g->mu);
    g->open = true;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

static void gate_cleanup(struct gate *g)
{
    pthread_cond_destroy(&g->cv);
    pthread_mutex_destroy(&g->mu);
}

/* Notes the commit count a completion sees: operations of one batch see
 * the same count (the writer counts a commit before its completions). */
struct seen_commits {
    struct roost_store *st;
    uint64_t commits;
};

static void note_commits(void *ud, int rc)
{
    struct seen_commits *sc = ud;
    struct roost_store_stats stats;
    roost_store_get_stats(sc->st, &stats);
    sc->commits = stats.commits;
}

static void submit_noting_commits(struct roost_store *st, struct seen_commits *sc)
{
    sc->st = st;
    struct roost_store_op *op = op_new(ROOST_STORE_BARRIER, NULL);
    op->done = note_commits;
    op->done_ud = sc;
    roost_store_submit(st, op);
}

ROOST_TEST(failing_op_does_not_break_its_batch)
{
    char path[600];
    db_path(path, sizeof(path));
    struct roost_store *st = NULL;
    REQUIRE_OK(roost_store_open(path, &st));
    struct gate g;
    gate_hold_writer(st, &g);
    struct roost_store_stats before, after;
    roost_store_get_stats(st, &before);

    int rc[8];
    struct seen_commits first_seen, last_seen;
    submit_noting_commits(st, &first_seen);
    session_put(st, "a", 0, 0, &rc[0]);
    sub_op(st, ROOST_STORE_SUB_PUT, "ghost", "x", 0, 0, &rc[1]); /* no session */
    sub_op(st, ROOST_STORE_SUB_PUT, "a", "x", 0, 0, &rc[2]);
    const char *a[] = {"a"}, *a_ghost[] = {"a", "ghost"};
    msg_put(st, 7, "t", "half", a_ghost, 2, &rc[3]); /* second row fails: all undone */
    msg_put(st, 8, "t", "ok", a, 1, &rc[4]);
    msg_put(st, 8, "t", "dup", a, 1, &rc[5]); /* same queue row again */
    sub_op(st, ROOST_STORE_SUB_PUT, "a", "y", 0, 0, &rc[6]);
    submit_noting_commits(st, &last_seen);
    gate_open(&g);
    CHECK_OK(roost_store_sync(st));
    roost_store_get_stats(st, &after);
    gate_cleanup(&g);

    /* All were queued while the writer was held, so one transaction had them. */
    CHECK_EQ(first_seen.commits, before.commits + 1);
    CHECK_EQ(last_seen.commits, first_seen.commits);
    CHECK_EQ(rc[0], 0);
    CHECK_EQ(rc[1], ROOST_ENOTFOUND);
    CHECK_EQ(rc[2], 0);
    CHECK_EQ(rc[3], ROOST_ENOTFOUND);
    CHECK_EQ(rc[4], 0);
    CHECK_EQ(rc[5], ROOST_ECONFLICT);
    CHECK_EQ(rc[6], 0);
    CHECK_EQ(after.ops - before.ops, 4);
    CHECK_STR(dump(st, DUMP_SUBS), "a x 0 0\na y 0 0\n");
    CHECK_STR(dump(st, DUMP_QUEUED), "a q1 s0 r0 #8 t 'ok' props=0 q1 r0 exp=0\n");
    CHECK_EQ(count_rows(path, "msgs"), 1); /* #7 rolled back with its op */
    roost_store_close(st);
}

ROOST_TEST(failed_transaction_fails_every_op_then_recovers)
{
    char path[600];
    db_path(path, sizeof(path));
    struct roost_store *st = NULL;
    REQUIRE_OK(roost_store_open(path, &st));
    /* Another connection holds the write lock past the busy timeout, so
     * the writer's BEGIN IMMEDIATE fails for the whole batch. */
    sqlite3 *other = NULL;
    REQUIRE(sqlite3_open(path, &other) == SQLITE_OK);
    REQUIRE(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK);
    int rc[3];
    session_put(st, "a", 0, 0, &rc[0]);
    session_put(st, "b", 0, 0, &rc[1]);
    CHECK_EQ(roost_store_sync(st), ROOST_EDB);
    CHECK_EQ(rc[0], ROOST_EDB);
    CHECK_EQ(rc[1], ROOST_EDB);
    sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close(other);
    session_put(st, "c", 0, 0, &rc[2]);
    CHECK_OK(roost_store_sync(st));
    CHECK_EQ(rc[2], 0);
    CHECK_STR(dump(st, DUMP_SESSIONS), "c 0 0 5\n");
    roost_store_close(st);
}

/* Four threads each create a session and then queue messages to it: every
 * completion arrives once, after sync, and submission order per thread is
 * kept (a message queued before its session existed would fail). */
struct submitter {
    struct roost_store *st;
    char client[16];
    int base;
    atomic_int ok;
    atomic_int bad;
};

static void count_done(void *ud, int rc)
{
    struct submitter *s = ud;
    atomic_fetch_add(rc == 0 ? &s->ok : &s->bad, 1);
}

#define PER_THREAD 2000

static void *submit_thread(void *arg)
{
    struct submitter *s = arg;
    struct roost_store_op *op = op_new(ROOST_STORE_SESSION_PUT, NULL);
    op->u.session.client_id = s->client;
    op->done = count_done;
    op->done_ud = s;
    roost_store_submit(s->st, op);
    for (int i = 0; i < PER_THREAD; i++) {
        struct msg_op *mo = roost_xcalloc(1, sizeof(*mo));
        mo->op.type = ROOST_STORE_MSG_PUT;
        mo->op.done = count_done;
        mo->op.done_ud = s;
        mo->op.u.m.msg = (struct roost_store_msg){.id = (uint64_t)(s->base + i + 1), .topic = "t",
                                                  .payload = (const uint8_t *)"p",
                                                  .payload_len = 1, .qos = 1};
        mo->q[0] = (struct roost_store_queued){.client_id = s->client, .qos = 1};
        mo->op.u.m.queued = mo->q;
        mo->op.u.m.n_queued = 1;
        roost_store_submit(s->st, &mo->op);
    }
    return NULL;
}

ROOST_TEST(sync_covers_every_thread_submission)
{
    char path[600];
    db_path(path, sizeof(path));
    struct roost_store *st = NULL;
    REQUIRE_OK(roost_store_open(path, &st));
    struct submitter subs[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        subs[i].st = st;
        snprintf(subs[i].client, sizeof(subs[i].client), "c%d", i);
        subs[i].base = i * PER_THREAD;
        atomic_init(&subs[i].ok, 0);
        atomic_init(&subs[i].bad, 0);
        REQUIRE(pthread_create(&th[i], NULL, submit_thread, &subs[i]) == 0);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    CHECK_OK(roost_store_sync(st));
    for (int i = 0; i < 4; i++) {
        CHECK_EQ(atomic_load(&subs[i].ok), PER_THREAD + 1);
        CHECK_EQ(atomic_load(&subs[i].bad), 0);
    }
    CHECK_EQ(count_rows(path, "queue"), 4 * PER_THREAD);
    CHECK_EQ(max_id(st), 4 * PER_THREAD);
    struct roost_store_stats stats;
    roost_store_get_stats(st, &stats);
    CHECK_EQ(stats.ops, 4 * (PER_THREAD + 1));
    roost_store_close(st);
}

static atomic_int released;

static void count_release(struct roost_store_op *op)
{
    atomic_fetch_add(&released, 1);
    roost_free(op);
}

static int order_next;

static void log_done(void *ud, int rc)
{
    int *slot = ud;
    *slot = ++order_next;
}

ROOST_TEST(done_runs_before_release_in_submission_order)
{
    char path[600];
    db_path(path, sizeof(path));
    struct roost_store *st = NULL;
    REQUIRE_OK(roost_store_open(path, &st));
    atomic_store(&released, 0);
    order_next = 0;
    int seq[3] = {0};
    for (int i = 0; i < 3; i++) {
        struct roost_store_op *op = op_new(ROOST_STORE_SESSION_PUT, NULL);
        op->u.session.client_id = "a";
        op->done = log_done;
        op->done_ud = &seq[i];
        op->release = count_release;
        roost_store_submit(st, op);
    }
    struct roost_store_op *op = op_new(ROOST_STORE_BARRIER, NULL); /* no done at all */
    op->release = count_release;
    roost_store_submit(st, op);
    CHECK_OK(roost_store_sync(st));
    CHECK_EQ(seq[0], 1);
    CHECK_EQ(seq[1], 2);
    CHECK_EQ(seq[2], 3);
    CHECK_EQ(atomic_load(&released), 4);
    roost_store_close(st);
}

ROOST_TEST(close_drains_pending_ops)
{
    char path[600];
    db_path(path, sizeof(path));
    struct roost_store *st = NULL;
    REQUIRE_OK(roost_store_open(path, &st));
    int rc[50];
    char names[50][16];
    for (int i = 0; i < 50; i++) {
        snprintf(names[i], sizeof(names[i]), "s%02d", i);
        session_put(st, names[i], 0, 0, &rc[i]);
    }
    roost_store_close(st); /* no sync: close itself must apply them */
    for (int i = 0; i < 50; i++)
        CHECK_EQ(rc[i], 0);
    CHECK_EQ(count_rows(path, "sessions"), 50);
}

ROOST_TEST(msg_put_with_nobody_queued_stores_nothing_but_reserves_id)
{
    char path[600];
    db_path(path, sizeof(path));
    struct roost_store *st = NULL;
    REQUIRE_OK(roost_store_open(path, &st));
    int rc;
    msg_put(st, 77, "t", "p", NULL, 0, &rc);
    CHECK_OK(roost_store_sync(st));
    CHECK_EQ(rc, 0);
    CHECK_EQ(count_rows(path, "msgs"), 0);
    CHECK_EQ(max_id(st), 77);
    roost_store_close(st);
}

static int stop_after_one(void *ud, const struct roost_store_session *s)
{
    (*(int *)ud)++;
    return ROOST_ECLOSED;
}

ROOST_TEST(loader_stops_at_callback_error)
{
    char path[600];
    db_path(path, sizeof(path));
    struct roost_store *st = NULL;
    REQUIRE_OK(roost_store_open(path, &st));
    session_put(st, "a", 0, 0, NULL);
    session_put(st, "b", 0, 0, NULL);
    CHECK_OK(roost_store_sync(st));
    int calls = 0;
    CHECK_EQ(roost_store_load_sessions(st, stop_after_one, &calls), ROOST_ECLOSED);
    CHECK_EQ(calls, 1);
    /* The reader is usable again afterwards. */
    CHECK_STR(dump(st, DUMP_SESSIONS), "a 0 0 5\nb 0 0 5\n");
    roost_store_close(st);
}

ROOST_TEST(schema_version_recorded_and_newer_refused)
{
    char path[600];
    db_path(path, sizeof(path));
    struct roost_store *st = NULL;
    REQUIRE_OK(roost_store_open(path, &st));
    roost_store_close(st);

    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    REQUIRE(sqlite3_open(path, &db) == SQLITE_OK);
    REQUIRE(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, NULL) == SQLITE_OK);
    REQUIRE(sqlite3_step(s) == SQLITE_ROW);
    CHECK_EQ(sqlite3_column_int(s, 0), 2); /* the last step in migrations.c */
    sqlite3_finalize(s);
    s = NULL;
    REQUIRE(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &s, NULL) == SQLITE_OK);
    REQUIRE(sqlite3_step(s) == SQLITE_ROW);
    CHECK_STR((const char *)sqlite3_column_text(s, 0), "wal");
    sqlite3_finalize(s);
    CHECK(sqlite3_exec(db, "PRAGMA user_version = 999", NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(db);

    st = (struct roost_store *)1;
    CHECK_EQ(roost_store_open(path, &st), ROOST_EVERSION);
    CHECK(st == NULL);
}

/* ==== Crash ============================================================== */

#define KILL_AFTER_ACKS 1500
#define KILL_ROUNDS 3
#define KILL_MAX_MSGS 100000 /* per round; ids of round r start at r * this + 1 */

static int ack_fd = -1;
static sem_t kill_window;

/* Runs on the child's writer: the message is durable, tell the parent. */
static void kill_child_done(void *ud, int rc)
{
    uint64_t id = (uint64_t)(uintptr_t)ud;
    if (rc == 0 && write(ack_fd, &id, sizeof(id)) != (ssize_t)sizeof(id))
        _exit(3);
    sem_post(&kill_window);
}

/* Publishes to session "k" as fast as the store takes it, at most 1000
 * operations in flight, until the parent kills it. */
static _Noreturn void kill_child(const char *path, int fd, uint64_t base)
{
    static const char payload[] =
        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    struct roost_store *st = NULL;
    ack_fd = fd;
    sem_init(&kill_window, 0, 1000);
    if (roost_store_open(path, &st))
        _exit(2);
    session_put(st, "k", UINT32_MAX, 0, NULL);
    for (uint64_t id = base + 1; id <= base + KILL_MAX_MSGS; id++) {
        sem_wait(&kill_window);
        struct msg_op *mo = roost_xcalloc(1, sizeof(*mo));
        mo->op.type = ROOST_STORE_MSG_PUT;
        mo->op.done = kill_child_done;
        mo->op.done_ud = (void *)(uintptr_t)id;
        mo->op.u.m.msg = (struct roost_store_msg){.id = id, .topic = "kill/test",
                                                  .payload = (const uint8_t *)payload,
                                                  .payload_len = 64, .qos = 1};
        mo->q[0] = (struct roost_store_queued){.client_id = "k", .qos = 1};
        mo->op.u.m.queued = mo->q;
        mo->op.u.m.n_queued = 1;
        roost_store_submit(st, &mo->op);
    }
    _exit(4); /* the parent kills us long before this */
}

#define KILL_IDS (KILL_ROUNDS * KILL_MAX_MSGS)

struct seen_ids {
    uint8_t *seen;
    long n;
};

static int mark_seen(void *ud, const struct roost_store_queued *q, const struct roost_store_msg *m)
{
    struct seen_ids *s = ud;
    if (q->msg_id >= 1 && q->msg_id <= KILL_IDS && m->payload_len == 64 &&
        strcmp(q->client_id, "k") == 0) {
        s->seen[q->msg_id] = 1;
        s->n++;
    }
    return 0;
}

/* Forks a publisher, kills it with SIGKILL in the middle of its stream, and
 * collects into `acked` every id it reported durable. Returns how many. */
static long kill_round(const char *path, uint64_t base, uint8_t *acked)
{
    int pfd[2];
    REQUIRE(pipe(pfd) == 0);
    fflush(NULL);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        close(pfd[0]);
        kill_child(path, pfd[1], base);
    }
    close(pfd[1]);
    long n_acked = 0;
    bool killed = false;
    uint64_t id;
    /* Acknowledgements still in the pipe after the kill count too: the
     * child reported them before it died. */
    while (read(pfd[0], &id, sizeof(id)) == (ssize_t)sizeof(id)) {
        if (id > base && id <= base + KILL_MAX_MSGS)
            acked[id] = 1;
        if (++n_acked == KILL_AFTER_ACKS) {
            kill(pid, SIGKILL);
            killed = true;
        }
    }
    close(pfd[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(killed);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    return n_acked;
}

ROOST_TEST(sigkill_loses_nothing_acknowledged)
{
    char path[600];
    db_path(path, sizeof(path));
    uint8_t *acked = roost_xcalloc(KILL_IDS + 1, 1);
    long total = 0;
    /* Several rounds, so recovery also runs on a database that was itself
     * recovered from a kill. */
    for (int round = 0; round < KILL_ROUNDS; round++) {
        long n = kill_round(path, (uint64_t)round * KILL_MAX_MSGS, acked);
        CHECK(n >= KILL_AFTER_ACKS);
        total += n;

        struct roost_store *st = NULL;
        REQUIRE_OK(roost_store_open(path, &st));
        struct seen_ids seen = {roost_xcalloc(KILL_IDS + 1, 1), 0};
        CHECK_OK(roost_store_load_queued(st, mark_seen, &seen));
        long missing = 0;
        for (long i = 1; i <= KILL_IDS; i++)
            missing += acked[i] && !seen.seen[i];
        CHECK_EQ(missing, 0);
        CHECK(seen.n >= total);
        uint64_t max = 0;
        CHECK_OK(roost_store_max_msg_id(st, &max));
        CHECK(max >= (uint64_t)round * KILL_MAX_MSGS + (uint64_t)n);
        printf("  round %d: %ld acknowledged in all, %ld found after SIGKILL\n", round, total,
               seen.n);
        roost_store_close(st);
        roost_free(seen.seen);
    }
    roost_free(acked);
}
