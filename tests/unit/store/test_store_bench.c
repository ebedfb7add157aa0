/*
 * test_store_bench.c - a throughput measurement of the store's group commit,
 * shaped like QoS 1 traffic to persistent sessions: every message is a
 * MSG_PUT queued to one of 100 sessions, later a QUEUE_DEL when the device
 * acknowledges it. It prints ops/s, commits and the mean batch; it asserts
 * only that every operation succeeded (no timing assertions). The default
 * size keeps it short under ctest; ROOST_STORE_BENCH_N=<messages> scales it.
 */
#include "roost_test.h"
#include "store/store.h"

#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>

#define SESSIONS 100
#define ACK_LAG 64 /* a message is acknowledged this many messages later */

struct bench_op {
    struct roost_store_op op;
    struct roost_store_queued q;
};

struct bench {
    struct roost_store *st;
    sem_t window;            /* operations allowed in flight */
    bool windowed;
    atomic_long ok, failed;
    char clients[SESSIONS][24];
};

static const uint8_t payload[64] = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde";

static void bench_done(void *ud, int rc)
{
    struct bench *b = ud;
    atomic_fetch_add_explicit(rc == 0 ? &b->ok : &b->failed, 1, memory_order_relaxed);
    if (b->windowed)
        sem_post(&b->window);
}

static void bench_submit(struct bench *b, struct bench_op *bo)
{
    if (b->windowed)
        sem_wait(&b->window);
    bo->op.done = bench_done;
    bo->op.done_ud = b;
    roost_store_submit(b->st, &bo->op);
}

static void submit_put(struct bench *b, uint64_t id)
{
    struct bench_op *bo = roost_xcalloc(1, sizeof(*bo));
    bo->op.type = ROOST_STORE_MSG_PUT;
    bo->op.u.m.msg = (struct roost_store_msg){.id = id, .topic = "devices/telemetry",
                                              .payload = payload, .payload_len = sizeof(payload),
                                              .qos = 1};
    bo->q = (struct roost_store_queued){.client_id = b->clients[id % SESSIONS], .qos = 1};
    bo->op.u.m.queued = &bo->q;
    bo->op.u.m.n_queued = 1;
    bench_submit(b, bo);
}

static void submit_del(struct bench *b, uint64_t id)
{
    struct bench_op *bo = roost_xcalloc(1, sizeof(*bo));
    bo->op.type = ROOST_STORE_QUEUE_DEL;
    bo->op.u.queued = (struct roost_store_queued){.client_id = b->clients[id % SESSIONS],
                                                  .msg_id = id};
    bench_submit(b, bo);
}

static long bench_messages(void)
{
    const char *env = getenv("ROOST_STORE_BENCH_N");
    uint64_t n = 20000;
    if (env && roost_parse_u64(env, 1, 100000000, &n))
        n = 20000;
    return (long)n;
}

/* One run: `n` messages through a fresh database; `window` 0 = unbounded. */
static void run(const char *label, long n, unsigned window)
{
    char path[600];
    snprintf(path, sizeof(path), "%s/bench.db", roost_test_tmpdir());
    struct bench *b = roost_xcalloc(1, sizeof(*b));
    REQUIRE_OK(roost_store_open(path, &b->st));
    b->windowed = window > 0;
    if (b->windowed)
        sem_init(&b->window, 0, window);
    for (int i = 0; i < SESSIONS; i++) {
        snprintf(b->clients[i], sizeof(b->clients[i]), "device-%03d", i);
        struct roost_store_op *op = roost_xcalloc(1, sizeof(*op));
        op->type = ROOST_STORE_SESSION_PUT;
        op->u.session = (struct roost_store_session){b->clients[i], UINT32_MAX, 0, 5};
        roost_store_submit(b->st, op);
    }
    REQUIRE_OK(roost_store_sync(b->st));
    struct roost_store_stats s0, s1;
    roost_store_get_stats(b->st, &s0);

    uint64_t t0 = roost_now_us();
    for (long id = 1; id <= n; id++) {
        submit_put(b, (uint64_t)id);
        if (id > ACK_LAG)
            submit_del(b, (uint64_t)(id - ACK_LAG));
    }
    for (long id = ROOST_MAX(1, n - ACK_LAG + 1); id <= n; id++)
        submit_del(b, (uint64_t)id);
    CHECK_OK(roost_store_sync(b->st));
    uint64_t t1 = roost_now_us();
    roost_store_get_stats(b->st, &s1);

    long ops = 2 * n;
    CHECK_EQ(atomic_load(&b->ok), ops);
    CHECK_EQ(atomic_load(&b->failed), 0);
    uint64_t commits = s1.commits - s0.commits;
    double secs = (double)(t1 - t0) / 1e6;
    printf("  %-22s %ld ops in %.3f s: %.0f ops/s, %llu commits, %.1f ops/commit\n", label,
           ops, secs, (double)ops / secs, (unsigned long long)commits,
           commits ? (double)ops / (double)commits : 0.0);
    fflush(stdout);
    uint64_t max = 0;
    CHECK_OK(roost_store_max_msg_id(b->st, &max));
    CHECK_EQ(max, n);
    roost_store_close(b->st);
    if (b->windowed)
        sem_destroy(&b->window);
    roost_free(b);
}

ROOST_TEST(msg_put_queue_del_unbounded)
{
    run("unbounded", bench_messages(), 0);
}

ROOST_TEST(msg_put_queue_del_window_1000)
{
    run("1000 in flight", bench_messages(), 1000);
}

ROOST_TEST(msg_put_queue_del_window_100)
{
    run("100 in flight", bench_messages() / 4, 100);
}
