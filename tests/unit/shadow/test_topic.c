/*
 * test_topic.c - thing and shadow names, and the reserved shadow topics:
 * which topics are requests, what they name, and the answer topics built
 * from them.
 */
#include "roost_test.h"
#include "shadow/shadow.h"

ROOST_TEST(names)
{
    CHECK(roost_shadow_thing_name_valid(ROOST_STR_LIT("my-Thing_01:a")));
    CHECK(!roost_shadow_thing_name_valid(ROOST_STR_LIT("")));
    CHECK(!roost_shadow_thing_name_valid(ROOST_STR_LIT("a b")));
    CHECK(!roost_shadow_thing_name_valid(ROOST_STR_LIT("a/b")));
    CHECK(!roost_shadow_thing_name_valid(ROOST_STR_LIT("a.b")));
    CHECK(!roost_shadow_thing_name_valid(ROOST_STR_LIT("$a")));
    CHECK(!roost_shadow_thing_name_valid(ROOST_STR_LIT("a+")));
    char long_name[130];
    memset(long_name, 'a', sizeof(long_name));
    CHECK(roost_shadow_thing_name_valid((struct roost_str){long_name, 128}));
    CHECK(!roost_shadow_thing_name_valid((struct roost_str){long_name, 129}));
    CHECK(roost_shadow_name_valid((struct roost_str){long_name, 64}));
    CHECK(!roost_shadow_name_valid((struct roost_str){long_name, 65}));
    CHECK(roost_shadow_name_valid(ROOST_STR_LIT("$config")));
    CHECK(!roost_shadow_name_valid(ROOST_STR_LIT("a#")));
    CHECK(!roost_shadow_name_valid(ROOST_STR_LIT("")));
}

ROOST_TEST(request_topics)
{
    struct roost_shadow_topic t;
    CHECK_OK(roost_shadow_topic_parse(ROOST_STR_LIT("$aws/things/lamp-1/shadow/update"), &t));
    CHECK_EQ(t.op, ROOST_SHADOW_OP_UPDATE);
    CHECK(roost_str_eq_c(t.thing, "lamp-1"));
    CHECK_EQ(t.name.n, 0);

    CHECK_OK(roost_shadow_topic_parse(ROOST_STR_LIT("$aws/things/lamp-1/shadow/get"), &t));
    CHECK_EQ(t.op, ROOST_SHADOW_OP_GET);
    CHECK_OK(roost_shadow_topic_parse(ROOST_STR_LIT("$aws/things/lamp-1/shadow/delete"), &t));
    CHECK_EQ(t.op, ROOST_SHADOW_OP_DELETE);

    CHECK_OK(roost_shadow_topic_parse(ROOST_STR_LIT("$aws/things/lamp-1/shadow/name/cfg/delete"), &t));
    CHECK_EQ(t.op, ROOST_SHADOW_OP_DELETE);
    CHECK(roost_str_eq_c(t.thing, "lamp-1"));
    CHECK(roost_str_eq_c(t.name, "cfg"));

    /* A thing may be called "name" or "shadow". */
    CHECK_OK(roost_shadow_topic_parse(ROOST_STR_LIT("$aws/things/name/shadow/name/shadow/get"), &t));
    CHECK(roost_str_eq_c(t.thing, "name"));
    CHECK(roost_str_eq_c(t.name, "shadow"));
}

ROOST_TEST(not_request_topics)
{
    static const char *topics[] = {
        "$aws/things/t/shadow/update/accepted",
        "$aws/things/t/shadow/update/delta",
        "$aws/things/t/shadow/name/s/get/rejected",
        "$aws/things/t/shadow/name/s",
        "$aws/things/t/shadow/name/update",
        "$aws/things/t/shadow",
        "$aws/things/t/shadow/",
        "$aws/things/t/shadow/list",
        "$aws/things/t/jobs/get",
        "$aws/things/t",
        "$aws/things/",
        "aws/things/t/shadow/update",
        "$aws/things/t/shadow/UPDATE",
        "",
    };
    for (size_t i = 0; i < ROOST_ARRAY_LEN(topics); i++) {
        struct roost_shadow_topic t;
        int rc = roost_shadow_topic_parse(roost_str_c(topics[i]), &t);
        if (rc != ROOST_ENOTFOUND)
            roost_test_fail(__FILE__, __LINE__, "%s: rc %d", topics[i], rc);
    }
    struct roost_shadow_topic t;
    CHECK_EQ(roost_shadow_topic_parse(ROOST_STR_LIT("$aws/things/a.b/shadow/get"), &t), ROOST_ETOPIC);
    CHECK_EQ(roost_shadow_topic_parse(ROOST_STR_LIT("$aws/things//shadow/get"), &t), ROOST_ETOPIC);
    CHECK_EQ(roost_shadow_topic_parse(ROOST_STR_LIT("$aws/things/t/shadow/name//get"), &t),
             ROOST_ETOPIC);
    CHECK_EQ(roost_shadow_topic_parse(ROOST_STR_LIT("$aws/things/t/shadow/name/+/get"), &t),
             ROOST_ETOPIC);
}

ROOST_TEST(answer_topics)
{
    struct roost_buf b;
    roost_buf_init(&b, 0);
    CHECK_OK(roost_shadow_topic_format(&b, ROOST_STR_LIT("lamp"), (struct roost_str){0},
                                       ROOST_SHADOW_OP_UPDATE, "delta"));
    CHECK_EQ(roost_buf_size(&b), strlen("$aws/things/lamp/shadow/update/delta"));
    CHECK_MEM(roost_buf_head(&b), "$aws/things/lamp/shadow/update/delta", roost_buf_size(&b));
    roost_buf_clear(&b);
    CHECK_OK(roost_shadow_topic_format(&b, ROOST_STR_LIT("lamp"), ROOST_STR_LIT("cfg"),
                                       ROOST_SHADOW_OP_GET, "accepted"));
    CHECK_MEM(roost_buf_head(&b), "$aws/things/lamp/shadow/name/cfg/get/accepted",
              roost_buf_size(&b));
    roost_buf_clear(&b);
    CHECK_OK(roost_shadow_topic_format(&b, ROOST_STR_LIT("lamp"), ROOST_STR_LIT("cfg"),
                                       ROOST_SHADOW_OP_DELETE, NULL));
    CHECK_MEM(roost_buf_head(&b), "$aws/things/lamp/shadow/name/cfg/delete", roost_buf_size(&b));
    CHECK_EQ(roost_shadow_topic_format(&b, ROOST_STR_LIT("lamp"), (struct roost_str){0},
                                       (enum roost_shadow_op)7, NULL),
             ROOST_EINVAL);
    roost_buf_cleanup(&b);
}
