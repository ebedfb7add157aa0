/*
 * hist.c - fixed-size latency histogram and the sequence window roost-bench
 * uses to spot duplicate deliveries. Both are O(1) memory per series: a run
 * of hours records as cheaply as a run of seconds.
 */
#include "bench.h"

#include <stdio.h>

void bench__hist_init(struct bench_hist *h)
{
    memset(h, 0, sizeof(*h));
    h->min = UINT64_MAX;
}

/* Bucket layout: values below BENCH_HIST_SUB each have their own bucket; a
 * value with highest set bit e >= 5 lands in row e-4, column given by its
 * next five bits. Rows continue the exact range seamlessly (row 1 is 32..63). */
unsigned bench__hist_bucket(uint64_t v)
{
    if (v < BENCH_HIST_SUB)
        return (unsigned)v;
    unsigned e = 63u - (unsigned)__builtin_clzll(v);
    return (e - 4u) * BENCH_HIST_SUB + (unsigned)((v >> (e - 5u)) - BENCH_HIST_SUB);
}

uint64_t bench__hist_bucket_low(unsigned b)
{
    if (b < BENCH_HIST_SUB)
        return b;
    unsigned e = b / BENCH_HIST_SUB + 4u;
    uint64_t m = b % BENCH_HIST_SUB + BENCH_HIST_SUB;
    return m << (e - 5u);
}

void bench__hist_add(struct bench_hist *h, uint64_t v)
{
    h->buckets[bench__hist_bucket(v)]++;
    h->count++;
    h->sum += (double)v;
    if (v < h->min)
        h->min = v;
    if (v > h->max)
        h->max = v;
}

uint64_t bench__hist_quantile(const struct bench_hist *h, double q)
{
    if (h->count == 0)
        return 0;
    if (q < 0)
        q = 0;
    if (q > 1)
        q = 1;
    uint64_t rank = (uint64_t)(q * (double)h->count + 0.999999);
    if (rank == 0)
        rank = 1;
    if (rank >= h->count)
        return h->max; /* the top sample is known exactly */
    uint64_t seen = 0;
    for (unsigned b = 0; b < BENCH_HIST_BUCKETS; b++) {
        seen += h->buckets[b];
        if (seen < rank)
            continue;
        uint64_t low = bench__hist_bucket_low(b);
        uint64_t width = 1;
        if (b >= BENCH_HIST_SUB && b + 1 < BENCH_HIST_BUCKETS)
            width = bench__hist_bucket_low(b + 1) - low;
        uint64_t v = low + width / 2;
        if (v < h->min)
            v = h->min;
        if (v > h->max)
            v = h->max;
        return v;
    }
    return h->max;
}

bool bench__seq_record(struct bench_seq *s, uint64_t seq)
{
    if (seq >= s->next) {
        uint64_t shift = seq + 1 - s->next;
        /* Bit 0 stands for next-1; moving next up shifts history left. */
        s->window = shift >= 64 ? 0 : s->window << shift;
        s->window |= 1;
        s->next = seq + 1;
        return false;
    }
    uint64_t age = s->next - 1 - seq;
    if (age >= 64)
        return false;
    uint64_t bit = 1ull << age;
    if (s->window & bit)
        return true;
    s->window |= bit;
    return false;
}

/* ==== Self-test ============================================================ */

#define SELFTEST_CHECK(cond)                                                   \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "selftest: %s:%d: %s\n", __FILE__, __LINE__, #cond); \
            failed++;                                                          \
        }                                                                      \
    } while (0)

/* The histogram and sequence window are the only arithmetic in roost-bench
 * that a run cannot show to be wrong, so `roost-bench selftest` checks them. */
int bench__selftest(void)
{
    int failed = 0;
    static struct bench_hist h;

    /* Buckets: contiguous, increasing, and every value within 1/32. */
    for (unsigned b = 0; b + 1 < BENCH_HIST_BUCKETS; b++) {
        uint64_t lo = bench__hist_bucket_low(b);
        SELFTEST_CHECK(bench__hist_bucket(lo) == b);
        SELFTEST_CHECK(bench__hist_bucket_low(b + 1) > lo);
        SELFTEST_CHECK(bench__hist_bucket(bench__hist_bucket_low(b + 1) - 1) == b);
        if (b >= BENCH_HIST_SUB)
            SELFTEST_CHECK((bench__hist_bucket_low(b + 1) - lo) * 32 <= lo);
    }
    SELFTEST_CHECK(bench__hist_bucket(UINT64_MAX) == BENCH_HIST_BUCKETS - 1);
    SELFTEST_CHECK(bench__hist_bucket(0) == 0 && bench__hist_bucket(31) == 31);

    /* Quantiles of 1..100000 land within 3.2 % of the truth. */
    bench__hist_init(&h);
    SELFTEST_CHECK(bench__hist_quantile(&h, 0.5) == 0);
    for (uint64_t v = 1; v <= 100000; v++)
        bench__hist_add(&h, v);
    static const double qs[] = {0.01, 0.5, 0.9, 0.99, 0.999};
    for (size_t i = 0; i < sizeof(qs) / sizeof(qs[0]); i++) {
        double want = qs[i] * 100000.0;
        double got = (double)bench__hist_quantile(&h, qs[i]);
        SELFTEST_CHECK(got >= want * 0.968 && got <= want * 1.032);
    }
    SELFTEST_CHECK(bench__hist_quantile(&h, 0) == 1);
    SELFTEST_CHECK(bench__hist_quantile(&h, 1) == 100000);
    SELFTEST_CHECK(h.count == 100000 && h.min == 1 && h.max == 100000);

    /* One sample: every quantile is that sample. */
    bench__hist_init(&h);
    bench__hist_add(&h, 123456789);
    SELFTEST_CHECK(bench__hist_quantile(&h, 0.5) == 123456789);
    SELFTEST_CHECK(bench__hist_quantile(&h, 0.999) == 123456789);

    /* Sequence window. */
    struct bench_seq s = {0, 0};
    for (uint64_t i = 0; i < 1000; i++)
        SELFTEST_CHECK(!bench__seq_record(&s, i));
    SELFTEST_CHECK(bench__seq_record(&s, 999));
    SELFTEST_CHECK(bench__seq_record(&s, 950));
    SELFTEST_CHECK(!bench__seq_record(&s, 1002)); /* a gap: 1000, 1001 late */
    SELFTEST_CHECK(!bench__seq_record(&s, 1000));
    SELFTEST_CHECK(!bench__seq_record(&s, 1001));
    SELFTEST_CHECK(bench__seq_record(&s, 1001));
    SELFTEST_CHECK(bench__seq_record(&s, 1002));
    SELFTEST_CHECK(!bench__seq_record(&s, 5000)); /* a jump clears the window */
    SELFTEST_CHECK(!bench__seq_record(&s, 4999));
    SELFTEST_CHECK(bench__seq_record(&s, 4999));
    SELFTEST_CHECK(!bench__seq_record(&s, 10)); /* too old to tell: taken as new */

    fprintf(stderr, "selftest: %s\n", failed ? "FAILED" : "ok");
    return failed ? 1 : 0;
}
