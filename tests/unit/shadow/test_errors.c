/*
 * test_errors.c - every rejection the shadow core produces, with AWS's code
 * and text, the clientToken echoed when it is valid, and the current shadow
 * left untouched: invalid JSON and encodings, the request's shape, versions,
 * client tokens, nesting depth, nulls in arrays, size limits, names, 404s,
 * and the rejections a caller decides (401, 403, 429, 500).
 */
#include "shadow_test_util.h"

#define TOKEN ",\"clientToken\":\"tok-1\""

/* Update rejected with code and message; the shadow did not change. */
static void expect_update_rejected(const char *file, int line, struct sim *s, const char *payload,
                                   int code, const char *message, bool echo_token)
{
    uint64_t before = s->cur ? roost_shadow_version(s->cur) : 0;
    struct roost_shadow *cur = s->cur;
    int rc = sim_update(s, payload, 777);
    char want[512];
    if (rc == 0 || s->res.code != code || strcmp(s->res.message, message) != 0) {
        roost_test_fail(file, line, "payload %s: rc %d code %d message \"%s\", want %d \"%s\"",
                        payload, rc, s->res.code, s->res.message, code, message);
        return;
    }
    if (s->cur != cur || (cur && roost_shadow_version(cur) != before))
        roost_test_fail(file, line, "rejected update changed the shadow");
    if (s->res.shadow || roost_buf_size(&s->res.delta) || roost_buf_size(&s->res.documents) ||
        roost_buf_size(&s->res.stored))
        roost_test_fail(file, line, "rejected update produced update outputs");
    snprintf(want, sizeof(want), "{\"code\":%d,\"message\":\"%s\"%s%s}", code, message,
             code == 404 || code == 409 ? "" : ",\"timestamp\":777",
             echo_token ? ",\"clientToken\":\"tok-1\"" : "");
    if (strcmp(buf_text(&s->res.reply), want) != 0)
        roost_test_fail(file, line, "rejection payload\n    expected %s\n    actual   %s", want,
                        buf_text(&s->res.reply));
}
#define EXPECT_REJECTED(s, payload, code, message, echo)                                           \
    expect_update_rejected(__FILE__, __LINE__, (s), (payload), (code), (message), (echo))

ROOST_TEST(invalid_json_and_encoding)
{
    static const char *bad[] = {"", "nope", "{\"state\":", "{\"state\":{}} x", "[1]", "\"str\"",
                                "{\"state\":{\"desired\":{\"a\":\"\\u0000\"}}}"};
    struct sim s;
    sim_init(&s, "t", NULL);
    for (size_t i = 0; i < ROOST_ARRAY_LEN(bad); i++)
        EXPECT_REJECTED(&s, bad[i], 400, "Payload contains invalid json", false);
    EXPECT_REJECTED(&s, "{\"state\":{\"desired\":{\"a\":\"\xff\"}}}", 415,
                    "Unsupported documented encoding; supported encoding is UTF-8", false);
    CHECK_EQ(s.rc, ROOST_EUTF8);
    sim_cleanup(&s);
}

ROOST_TEST(request_shape)
{
    struct sim s;
    sim_init(&s, "t", NULL);
    CHECK_OK(sim_update(&s, "{\"state\":{\"reported\":{\"a\":1}}}", 1));
    EXPECT_REJECTED(&s, "{\"clientToken\":\"tok-1\"}", 400, "Missing required node: state", true);
    CHECK_EQ(s.rc, ROOST_EMALFORMED);
    EXPECT_REJECTED(&s, "{\"state\":5" TOKEN "}", 400, "State node must be an object", true);
    EXPECT_REJECTED(&s, "{\"state\":[]" TOKEN "}", 400, "State node must be an object", true);
    EXPECT_REJECTED(&s, "{\"state\":\"x\"" TOKEN "}", 400, "State node must be an object", true);
    EXPECT_REJECTED(&s, "{\"state\":{\"delta\":{}}" TOKEN "}", 400, "State contains an invalid node",
                    true);
    EXPECT_REJECTED(&s, "{\"state\":{\"desired\":{},\"other\":1}" TOKEN "}", 400,
                    "State contains an invalid node", true);
    EXPECT_REJECTED(&s, "{\"state\":{\"desired\":5}" TOKEN "}", 400, "Desired node must be an object",
                    true);
    EXPECT_REJECTED(&s, "{\"state\":{\"desired\":[1]}" TOKEN "}", 400,
                    "Desired node must be an object", true);
    EXPECT_REJECTED(&s, "{\"state\":{\"reported\":\"x\"}" TOKEN "}", 400,
                    "Reported node must be an object", true);
    /* Content outside state is ignored. */
    CHECK_OK(sim_update(&s, "{\"state\":{},\"other\":{\"x\":[null]}}", 2));
    sim_cleanup(&s);
}

ROOST_TEST(versions_and_client_tokens)
{
    struct sim s;
    sim_init(&s, "t", NULL);
    static const char *bad_versions[] = {"\"1\"", "1.5", "-1", "true", "{}", "[1]"};
    for (size_t i = 0; i < ROOST_ARRAY_LEN(bad_versions); i++) {
        char p[128];
        snprintf(p, sizeof(p), "{\"state\":{},\"version\":%s" TOKEN "}", bad_versions[i]);
        EXPECT_REJECTED(&s, p, 400, "Invalid version", true);
    }
    char tok64[65], p[256];
    memset(tok64, 'k', 64);
    tok64[64] = '\0';
    snprintf(p, sizeof(p), "{\"state\":{},\"clientToken\":\"%s\"}", tok64);
    CHECK_OK(sim_update(&s, p, 1));
    CHECK(strstr(buf_text(&s.res.reply), tok64) != NULL);
    snprintf(p, sizeof(p), "{\"state\":{},\"clientToken\":\"%sk\"}", tok64);
    EXPECT_REJECTED(&s, p, 400, "Invalid clientToken", false);
    EXPECT_REJECTED(&s, "{\"state\":{},\"clientToken\":42}", 400, "Invalid clientToken", false);
    EXPECT_REJECTED(&s, "{\"state\":{},\"clientToken\":null}", 400, "Invalid clientToken", false);
    /* A token is echoed escaped, exactly as it reads. */
    CHECK_OK(sim_update(&s, "{\"state\":{},\"clientToken\":\"a\\\"b\\\\c\\u00e9\"}", 2));
    CHECK(strstr(buf_text(&s.res.reply), ",\"clientToken\":\"a\\\"b\\\\c\xc3\xa9\"}") != NULL);
    sim_cleanup(&s);
}

ROOST_TEST(nesting_depth)
{
    struct sim s;
    sim_init(&s, "t", NULL);
    /* The developer guide's deepest allowed document: desired plus five. */
    CHECK_OK(sim_update(&s, "{\"state\":{\"desired\":{\"one\":{\"two\":{\"three\":{\"four\":"
                            "{\"five\":{}}}}}}}}", 1));
    CHECK_OK(sim_update(&s, "{\"state\":{\"reported\":{\"one\":{\"two\":{\"three\":{\"four\":"
                            "{\"five\":[],\"5\":1}}}}}}}", 1));
    const char *msg = "JSON contains too many levels of nesting; maximum is 6";
    EXPECT_REJECTED(&s, "{\"state\":{\"desired\":{\"one\":{\"two\":{\"three\":{\"four\":"
                        "{\"five\":{\"six\":1}}}}}}}" TOKEN "}", 400, msg, true);
    EXPECT_REJECTED(&s, "{\"state\":{\"reported\":{\"one\":{\"two\":{\"three\":{\"four\":"
                        "{\"five\":[1]}}}}}}" TOKEN "}", 400, msg, true);
    /* Configurable, and the message follows. */
    s.lim.max_depth = 8;
    CHECK_OK(sim_update(&s, "{\"state\":{\"desired\":{\"1\":{\"2\":{\"3\":{\"4\":{\"5\":{\"6\":"
                            "{\"7\":{}}}}}}}}}}", 2));
    EXPECT_REJECTED(&s, "{\"state\":{\"desired\":{\"1\":{\"2\":{\"3\":{\"4\":{\"5\":{\"6\":"
                        "{\"7\":{\"8\":1}}}}}}}}}}", 400,
                    "JSON contains too many levels of nesting; maximum is 8", false);
    sim_cleanup(&s);
}

ROOST_TEST(nulls_inside_arrays)
{
    struct sim s;
    sim_init(&s, "t", NULL);
    EXPECT_REJECTED(&s, "{\"state\":{\"desired\":{\"colors\":[null,\"RED\",\"GREEN\"]}}" TOKEN "}",
                    400, "Payload contains invalid json", true);
    EXPECT_REJECTED(&s, "{\"state\":{\"desired\":{\"a\":[{\"b\":null}]}}}", 400,
                    "Payload contains invalid json", false);
    EXPECT_REJECTED(&s, "{\"state\":{\"reported\":{\"a\":[[1,null]]}}}", 400,
                    "Payload contains invalid json", false);
    CHECK(s.cur == NULL);
    sim_cleanup(&s);
}

ROOST_TEST(size_limits)
{
    struct sim s;
    sim_init(&s, "t", NULL);
    /* {"desired":{"k":"..."}} is 20 bytes plus the string: 8172 fills 8 KB. */
    static char p[9000];
    char *fill = roost_xmalloc(8200);
    memset(fill, 'x', 8173);
    fill[8172] = '\0';
    snprintf(p, sizeof(p), "{\"state\":{\"desired\":{\"k\":\"%s\"}}}", fill);
    CHECK_OK(sim_update(&s, p, 1));
    fill[8172] = 'x';
    fill[8173] = '\0';
    snprintf(p, sizeof(p), "{\"state\":{\"desired\":{\"k\":\"%s\"}}" TOKEN "}", fill);
    EXPECT_REJECTED(&s, p, 413, "The payload exceeds the maximum size allowed", true);
    CHECK_EQ(s.rc, ROOST_ETOOBIG);
    /* The limit applies to the merged document, not the request alone. */
    CHECK_OK(sim_update(&s, "{\"state\":{\"desired\":{\"k\":null}}}", 2));
    fill[4000] = '\0';
    snprintf(p, sizeof(p), "{\"state\":{\"desired\":{\"a\":\"%s\"}}}", fill);
    CHECK_OK(sim_update(&s, p, 3));
    snprintf(p, sizeof(p), "{\"state\":{\"reported\":{\"b\":\"%s\"}}}", fill);
    CHECK_OK(sim_update(&s, p, 4));
    /* 8040 bytes stored; ,"c":"..." adds 7 plus the string. */
    snprintf(p, sizeof(p), "{\"state\":{\"reported\":{\"c\":\"%.145s\"}}}", fill);
    CHECK_OK(sim_update(&s, p, 5));
    snprintf(p, sizeof(p), "{\"state\":{\"reported\":{\"c\":\"%.146s\"}}}", fill);
    EXPECT_REJECTED(&s, p, 413, "The payload exceeds the maximum size allowed", false);
    /* Deleting makes room again; metadata never counts. */
    CHECK_OK(sim_update(&s, "{\"state\":{\"reported\":{\"b\":null}}}", 5));
    /* Requests over the request cap are refused unread. */
    s.lim.max_request_bytes = 64;
    EXPECT_REJECTED(&s, "{\"state\":{\"reported\":{\"x\":1}},\"clientToken\":\"tok-1\",\"pad\":\"......\"}",
                    413, "The payload exceeds the maximum size allowed", false);
    roost_free(fill);
    sim_cleanup(&s);
}

ROOST_TEST(not_found_and_conflicts_on_get_and_delete)
{
    struct sim s;
    sim_init(&s, "myThing", NULL);
    CHECK_EQ(sim_delete(&s, "{\"clientToken\":\"tok-1\"}", 5), ROOST_ENOTFOUND);
    CHECK_BYTES("{\"code\":404,\"message\":\"No shadow exists with name: 'myThing'\","
                "\"clientToken\":\"tok-1\"}",
                s.res.reply);
    CHECK_STR(s.res.message, "No shadow exists with name: 'myThing'");
    CHECK_OK(sim_update(&s, "{\"state\":{\"reported\":{\"a\":1}}}", 6));
    CHECK_EQ(sim_delete(&s, "{\"version\":7,\"clientToken\":\"tok-1\"}", 7), ROOST_ECONFLICT);
    CHECK_BYTES("{\"code\":409,\"message\":\"Version conflict\",\"clientToken\":\"tok-1\"}", s.res.reply);
    CHECK_EQ(sim_delete(&s, "{\"version\":\"x\"}", 7), ROOST_EMALFORMED);
    CHECK_STR(s.res.message, "Invalid version");
    CHECK_OK(sim_delete(&s, "{\"version\":1}", 8));
    CHECK_BYTES("{\"version\":1,\"timestamp\":8}", s.res.reply);
    sim_cleanup(&s);

    sim_init(&s, "myThing", "config-1");
    CHECK_EQ(sim_get(&s, "{\"clientToken\":\"tok-1\"}", 5), ROOST_ENOTFOUND);
    CHECK_BYTES("{\"code\":404,\"message\":\"No shadow exists with name: 'config-1'\","
                "\"clientToken\":\"tok-1\"}",
                s.res.reply);
    sim_cleanup(&s);
}

ROOST_TEST(get_and_delete_ignore_content_but_check_tokens)
{
    struct sim s;
    sim_init(&s, "t", NULL);
    CHECK_OK(sim_update(&s, "{\"state\":{\"reported\":{\"a\":1}}}", 1));
    CHECK_OK(sim_get(&s, "not json at all", 2));
    CHECK_OK(sim_get(&s, "[1,2]", 2));
    CHECK_OK(sim_get(&s, "{\"version\":\"ignored on get\"}", 2));
    CHECK_EQ(sim_get(&s, "{\"clientToken\":7}", 2), ROOST_EMALFORMED);
    CHECK_BYTES("{\"code\":400,\"message\":\"Invalid clientToken\",\"timestamp\":2}", s.res.reply);
    CHECK_OK(sim_get(&s, "{\"clientToken\":\"abc\"}", 3));
    CHECK(strstr(buf_text(&s.res.reply), ",\"clientToken\":\"abc\"}") != NULL);
    CHECK_OK(sim_delete(&s, "garbage", 4));
    CHECK_BYTES("{\"version\":1,\"timestamp\":4}", s.res.reply);
    sim_cleanup(&s);
}

ROOST_TEST(invalid_names)
{
    struct sim s;
    sim_init(&s, "bad name", NULL);
    EXPECT_REJECTED(&s, "{\"state\":{}" TOKEN "}", 400, "Invalid thing name", true);
    CHECK_EQ(sim_get(&s, "", 1), ROOST_EMALFORMED);
    sim_cleanup(&s);
    sim_init(&s, "good", "bad/name");
    EXPECT_REJECTED(&s, "{\"state\":{}" TOKEN "}", 400, "Invalid shadow name", true);
    CHECK_EQ(sim_delete(&s, "", 1), ROOST_EMALFORMED);
    sim_cleanup(&s);
}

ROOST_TEST(caller_decided_rejections)
{
    struct roost_shadow_result r;
    roost_shadow_result_init(&r);
    CHECK_EQ(roost_shadow_reject(403, ROOST_SHADOW_MSG_FORBIDDEN, ROOST_STR_LIT("c1"), 9, &r),
             ROOST_EAUTH);
    CHECK_BYTES("{\"code\":403,\"message\":\"Forbidden\",\"timestamp\":9,\"clientToken\":\"c1\"}",
                r.reply);
    CHECK_EQ(roost_shadow_reject(401, ROOST_SHADOW_MSG_UNAUTHORIZED, (struct roost_str){0}, 9, &r),
             ROOST_EAUTH);
    CHECK_BYTES("{\"code\":401,\"message\":\"Unauthorized\",\"timestamp\":9}", r.reply);
    CHECK_EQ(roost_shadow_reject(429, ROOST_SHADOW_MSG_THROTTLED, (struct roost_str){0}, 9, &r),
             -EBUSY);
    CHECK_EQ(r.code, 429);
    CHECK_EQ(roost_shadow_reject(500, ROOST_SHADOW_MSG_INTERNAL, (struct roost_str){0}, 9, &r), -EIO);
    CHECK_BYTES("{\"code\":500,\"message\":\"Internal service failure\",\"timestamp\":9}", r.reply);
    roost_shadow_result_cleanup(&r);

    char tok[65];
    const char *p = "{\"state\":{},\"clientToken\":\"my-token\"}";
    CHECK_EQ(roost_shadow_client_token(p, strlen(p), tok, sizeof(tok)), 8);
    CHECK_STR(tok, "my-token");
    CHECK_EQ(roost_shadow_client_token(p, strlen(p), tok, 8), 0); /* does not fit */
    CHECK_STR(tok, "");
    CHECK_EQ(roost_shadow_client_token("x", 1, tok, sizeof(tok)), 0);
    CHECK_EQ(roost_shadow_client_token("{\"clientToken\":1}", 17, tok, sizeof(tok)), 0);
}

ROOST_TEST(result_is_reusable)
{
    struct sim s;
    sim_init(&s, "t", NULL);
    CHECK_OK(sim_update(&s, "{\"state\":{\"desired\":{\"a\":1}}}", 1));
    CHECK(roost_buf_size(&s.res.delta) > 0);
    CHECK_EQ(sim_update(&s, "{}", 2), ROOST_EMALFORMED);
    CHECK_EQ(roost_buf_size(&s.res.delta), 0);
    CHECK_EQ(s.res.version, 0);
    CHECK_OK(sim_get(&s, "", 3));
    CHECK_EQ(s.res.code, 0);
    CHECK_STR(s.res.message, "");
    CHECK_EQ(s.res.version, 1);
    sim_cleanup(&s);
}
