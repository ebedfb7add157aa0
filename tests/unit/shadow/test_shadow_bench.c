/*
 * test_shadow_bench.c - what one shadow update costs in the core: merge,
 * metadata, delta and all four payloads (accepted, delta, documents, stored
 * form) for a typical small device document of about ten leaves per section,
 * with the current shadow cached in memory or parsed from its stored text
 * first. Prints microseconds per operation; asserts only correctness, never
 * time (build with -O2 for numbers that mean anything).
 */
#include "shadow_test_util.h"

#include <stdlib.h>
#include <time.h>

/* CPU time of this thread: the machine is shared, wall time is not ours. */
static uint64_t cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Enough to measure in an optimized build, few enough for the unit label's
 * time budget under sanitizers; ROOST_SHADOW_BENCH_N overrides. */
#if defined(__SANITIZE_ADDRESS__)
#define DEFAULT_ITERATIONS 200
#else
#define DEFAULT_ITERATIONS 5000
#endif
static int ITERATIONS = DEFAULT_ITERATIONS;

static const char *stored_doc(void)
{
    return "{\"state\":{\"desired\":{\"power\":\"on\",\"brightness\":80,\"color\":{\"r\":255,\"g\":128,"
           "\"b\":0},\"mode\":\"auto\",\"schedule\":[\"07:00\",\"22:30\"],\"fan\":2},"
           "\"reported\":{\"power\":\"on\",\"brightness\":75,\"color\":{\"r\":255,\"g\":128,\"b\":0},"
           "\"mode\":\"auto\",\"schedule\":[\"07:00\",\"22:30\"],\"fan\":2,\"temp\":21.5,\"rssi\":-61,\"firmware\":\"1.4.2\","
           "\"uptime\":86400}},"
           "\"metadata\":{\"desired\":{\"power\":{\"timestamp\":1700000000},\"brightness\":"
           "{\"timestamp\":1700000000},\"color\":{\"r\":{\"timestamp\":1700000000},\"g\":"
           "{\"timestamp\":1700000000},\"b\":{\"timestamp\":1700000000}},\"mode\":{\"timestamp\":"
           "1700000000},\"schedule\":[{\"timestamp\":1700000000},{\"timestamp\":1700000000}],"
           "\"fan\":{\"timestamp\":1700000000}},\"reported\":{\"power\":{\"timestamp\":1700000100},"
           "\"brightness\":{\"timestamp\":1700000100},\"color\":{\"r\":{\"timestamp\":1700000100},"
           "\"g\":{\"timestamp\":1700000100},\"b\":{\"timestamp\":1700000100}},\"mode\":"
           "{\"timestamp\":1700000100},\"schedule\":[{\"timestamp\":1700000100},{\"timestamp\":"
           "1700000100}],\"fan\":{\"timestamp\":1700000100},\"temp\":{\"timestamp\":"
           "1700000100},\"rssi\":{\"timestamp\":1700000100},\"firmware\":{\"timestamp\":1700000100},"
           "\"uptime\":{\"timestamp\":1700000100}}},\"version\":42,\"timestamp\":1700000100}";
}

static const char *const update_payload =
    "{\"state\":{\"reported\":{\"temp\":21.7,\"uptime\":86460,\"brightness\":80}},"
    "\"clientToken\":\"5741d710-fe6b-7f4f-ece1-7767498a38c8\",\"version\":42}";

ROOST_TEST(bench_update_get)
{
    const char *env = getenv("ROOST_SHADOW_BENCH_N");
    long n = env ? strtol(env, NULL, 10) : 0;
    if (n > 0 && n < 10000000)
        ITERATIONS = (int)n;
    const char *text = stored_doc();
    struct roost_shadow *cur = NULL;
    REQUIRE_OK(roost_shadow_parse(text, strlen(text), &cur));
    struct roost_shadow_result res;
    roost_shadow_result_init(&res);
    struct roost_shadow_req req = {
        .thing = ROOST_STR_LIT("lamp-0001"),
        .payload = update_payload,
        .len = strlen(update_payload),
        .now = 1700000200,
    };

    /* Correctness of the measured path, once. */
    REQUIRE_OK(roost_shadow_update(NULL, cur, &req, &res));
    CHECK_EQ(res.version, 43);
    CHECK(roost_buf_size(&res.delta) == 0); /* brightness now matches */
    CHECK(roost_buf_size(&res.documents) > 0);
    size_t payload_bytes = roost_buf_size(&res.reply) + roost_buf_size(&res.documents) +
                           roost_buf_size(&res.stored);

    /* 1. Cached shadow: the service keeps the parsed shadow in memory. */
    uint64_t t0 = cpu_ns();
    for (int i = 0; i < ITERATIONS; i++) {
        req.now++;
        int rc = roost_shadow_update(NULL, cur, &req, &res);
        if (rc)
            roost_test_fail(__FILE__, __LINE__, "update failed: %d", rc);
    }
    uint64_t t1 = cpu_ns();

    /* 2. Same update with a desired change, so a delta is produced too. */
    const char *with_delta = "{\"state\":{\"desired\":{\"brightness\":90,\"color\":{\"g\":0}}},"
                             "\"clientToken\":\"5741d710-fe6b-7f4f-ece1-7767498a38c8\"}";
    req.payload = with_delta;
    req.len = strlen(with_delta);
    REQUIRE_OK(roost_shadow_update(NULL, cur, &req, &res));
    CHECK(roost_buf_size(&res.delta) > 0);
    uint64_t t2 = cpu_ns();
    for (int i = 0; i < ITERATIONS; i++) {
        req.now++;
        (void)roost_shadow_update(NULL, cur, &req, &res);
    }
    uint64_t t3 = cpu_ns();

    /* 3. No cache: parse the stored text first, then update. */
    req.payload = update_payload;
    req.len = strlen(update_payload);
    for (int i = 0; i < ITERATIONS; i++) {
        struct roost_shadow *fresh = NULL;
        req.now++;
        if (roost_shadow_parse(text, strlen(text), &fresh) == 0)
            (void)roost_shadow_update(NULL, fresh, &req, &res);
        roost_shadow_destroy(fresh);
    }
    uint64_t t4 = cpu_ns();

    /* 4. get on the cached shadow. */
    req.payload = "{\"clientToken\":\"abc\"}";
    req.len = strlen(req.payload);
    for (int i = 0; i < ITERATIONS; i++)
        (void)roost_shadow_get(NULL, cur, &req, &res);
    uint64_t t5 = cpu_ns();

    /* 5. The request's JSON parse alone (jansson), part of every update. */
    char tok[80];
    for (int i = 0; i < ITERATIONS; i++)
        (void)roost_shadow_client_token(update_payload, strlen(update_payload), tok, sizeof(tok));
    uint64_t t6 = cpu_ns();

    printf("# shadow core, CPU time per operation, %d iterations each, ~10 leaves per section, %zu payload bytes:\n",
           ITERATIONS, payload_bytes);
    printf("#   update (cached shadow, no delta):   %6.2f us\n", (double)(t1 - t0) / ITERATIONS / 1000);
    printf("#   update (cached shadow, with delta): %6.2f us\n", (double)(t3 - t2) / ITERATIONS / 1000);
    printf("#   parse stored text + update:         %6.2f us\n", (double)(t4 - t3) / ITERATIONS / 1000);
    printf("#   get (cached shadow):                %6.2f us\n", (double)(t5 - t4) / ITERATIONS / 1000);
    printf("#   of which request parse (jansson):   %6.2f us\n", (double)(t6 - t5) / ITERATIONS / 1000);

    roost_shadow_result_cleanup(&res);
    roost_shadow_destroy(cur);
}
