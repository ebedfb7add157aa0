/*
 * test_common.c - unit tests for src/common: buffers, arenas, config parsing,
 * number parsing and error names.
 */
#include "roost_test.h"
#include "common/common.h"

#include <stdio.h>

ROOST_TEST(buf_append_respects_limit)
{
    struct roost_buf b;
    roost_buf_init(&b, 16);
    CHECK_OK(roost_buf_append(&b, "0123456789", 10));
    CHECK_EQ(roost_buf_append(&b, "0123456789", 10), ROOST_ETOOBIG);
    CHECK_EQ(roost_buf_size(&b), 10);
    roost_buf_consume(&b, 8);
    CHECK_OK(roost_buf_append(&b, "abcdefghij", 10)); /* compaction makes room */
    CHECK_EQ(roost_buf_size(&b), 12);
    CHECK_MEM(roost_buf_head(&b), "89abcdefghij", 12);
    roost_buf_cleanup(&b);
}

ROOST_TEST(arena_uses_inline_then_heap)
{
    uint8_t inline_buf[64];
    struct roost_arena a;
    roost_arena_init(&a, inline_buf, sizeof(inline_buf));
    void *p = roost_arena_alloc(&a, 32);
    CHECK((uint8_t *)p >= inline_buf && (uint8_t *)p < inline_buf + 64);
    void *q = roost_arena_alloc(&a, 100);
    CHECK(!((uint8_t *)q >= inline_buf && (uint8_t *)q < inline_buf + 64));
    memset(q, 1, 100);
    char *s = roost_arena_strndup(&a, "hello", 5);
    CHECK_STR(s, "hello");
    roost_arena_cleanup(&a);
}

struct kv_seen {
    int n;
    char last_key[64];
    char last_value[64];
};

static int record_kv(void *ud, const char *key, const char *value)
{
    struct kv_seen *seen = ud;
    seen->n++;
    snprintf(seen->last_key, sizeof(seen->last_key), "%s", key);
    snprintf(seen->last_value, sizeof(seen->last_value), "%s", value);
    return 0;
}

ROOST_TEST(config_parses_comments_and_quotes)
{
    const char *text = "# comment\n\nmqtt_port = 1883 # trailing\nname = \"a # b\"\n";
    struct kv_seen seen = {0};
    int line = -1;
    CHECK_OK(roost_config_parse(text, strlen(text), record_kv, &seen, &line));
    CHECK_EQ(seen.n, 2);
    CHECK_STR(seen.last_key, "name");
    CHECK_STR(seen.last_value, "a # b");
}

ROOST_TEST(config_reports_bad_line)
{
    const char *text = "a = 1\nthis line has no equals\n";
    struct kv_seen seen = {0};
    int line = 0;
    CHECK_EQ(roost_config_parse(text, strlen(text), record_kv, &seen, &line), ROOST_ECONFIG);
    CHECK_EQ(line, 2);
}

ROOST_TEST(parse_u64_bounds)
{
    uint64_t v = 0;
    CHECK_OK(roost_parse_u64("65535", 0, 65535, &v));
    CHECK_EQ(v, 65535);
    CHECK_EQ(roost_parse_u64("65536", 0, 65535, &v), ROOST_EINVAL);
    CHECK_EQ(roost_parse_u64("12a", 0, 100, &v), ROOST_EINVAL);
    CHECK_EQ(roost_parse_u64("", 0, 100, &v), ROOST_EINVAL);
    CHECK_EQ(roost_parse_u64("99999999999999999999999", 0, UINT64_MAX, &v), ROOST_EINVAL);
}

ROOST_TEST(error_names)
{
    CHECK_STR(roost_errname(ROOST_ETOOBIG), "ETOOBIG");
    CHECK_STR(roost_errname(ROOST_EAGAIN), "EAGAIN");
    CHECK_STR(roost_strerror(0), "ok");
}

ROOST_TEST(map_put_get_delete_iterate)
{
    struct roost_map m;
    roost_map_init(&m);
    char key[32];
    static int values[1000];
    for (int i = 0; i < 1000; i++) {
        int n = snprintf(key, sizeof(key), "key-%d", i);
        CHECK(roost_map_put(&m, key, (size_t)n, &values[i]) == NULL);
    }
    CHECK_EQ(m.count, 1000);
    for (int i = 0; i < 1000; i += 2) {
        int n = snprintf(key, sizeof(key), "key-%d", i);
        CHECK(roost_map_del(&m, key, (size_t)n) == &values[i]);
    }
    for (int i = 0; i < 1000; i++) {
        int n = snprintf(key, sizeof(key), "key-%d", i);
        void *v = roost_map_get(&m, key, (size_t)n);
        CHECK(i % 2 ? v == &values[i] : v == NULL);
    }
    size_t pos = 0, seen = 0;
    struct roost_str k;
    void *v;
    while (roost_map_next(&m, &pos, &k, &v))
        seen++;
    CHECK_EQ(seen, 500);
    CHECK(roost_map_put(&m, "key-1", 5, &values[0]) == &values[1]);
    roost_map_cleanup(&m);
}
