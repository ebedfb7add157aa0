/*
 * test_match.c - resources and actions: IAM globs over the whole ARN (`*`
 * across '/', `?` as one character, MQTT's + and # as plain characters,
 * the ${*} ${?} ${$} escapes, wildcards in the region and account), the
 * resource types kept apart, NotResource and NotAction, case-insensitive
 * actions, Deny over Allow within and across policies, the decision's
 * report, and sharing a bound form between threads.
 */
#include "authz/authz_int.h"
#include "authz_test_util.h"

#include <pthread.h>

static const struct roost_authz_ctx no_ctx = {.client_id = "c1"};

/* Allow <action> on <resource pattern>. */
#define ALLOW1(action, res)                                                    \
    TU_DOC("{`Effect`:`Allow`,`Action`:`" action "`,`Resource`:`" res "`}")

#define PUB(doc, topic) tu_allows((doc), &no_ctx, ROOST_AUTHZ_PUBLISH, ROOST_AUTHZ_RES_TOPIC, (topic))
#define SUB(doc, filter)                                                       \
    tu_allows((doc), &no_ctx, ROOST_AUTHZ_SUBSCRIBE, ROOST_AUTHZ_RES_TOPICFILTER, (filter))

ROOST_TEST(star_crosses_slashes)
{
    const char *doc = ALLOW1("iot:Publish", TU_ARN "topic/a/*");
    CHECK_EQ(PUB(doc, "a/b"), 1);
    CHECK_EQ(PUB(doc, "a/b/c/d"), 1);
    CHECK_EQ(PUB(doc, "a/"), 1);
    CHECK_EQ(PUB(doc, "a"), 0);
    CHECK_EQ(PUB(doc, "ab"), 0);
    CHECK_EQ(PUB(doc, "b/a/x"), 0);
    const char *mid = ALLOW1("iot:Publish", TU_ARN "topic/a*z");
    CHECK_EQ(PUB(mid, "az"), 1);
    CHECK_EQ(PUB(mid, "a/b/c/z"), 1);
    CHECK_EQ(PUB(mid, "a/b/c/zz"), 1);
    CHECK_EQ(PUB(mid, "a/b/c/za"), 0);
    const char *two = ALLOW1("iot:Publish", TU_ARN "topic/*/status/*");
    CHECK_EQ(PUB(two, "dev/1/status/online"), 1);
    CHECK_EQ(PUB(two, "dev/status"), 0);
}

ROOST_TEST(question_mark_is_one_character)
{
    const char *doc = ALLOW1("iot:Publish", TU_ARN "topic/a?c");
    CHECK_EQ(PUB(doc, "abc"), 1);
    CHECK_EQ(PUB(doc, "a/c"), 1);
    CHECK_EQ(PUB(doc, "a\xc3\xa9" "c"), 1); /* é: two bytes, one character */
    CHECK_EQ(PUB(doc, "a\xf0\x9f\x90\x93" "c"), 1); /* four bytes */
    CHECK_EQ(PUB(doc, "ac"), 0);
    CHECK_EQ(PUB(doc, "abbc"), 0);
    const char *two = ALLOW1("iot:Publish", TU_ARN "topic/*??");
    CHECK_EQ(PUB(two, "\xc3\xa9"), 0); /* one character cannot fill two ?s */
    CHECK_EQ(PUB(two, "\xc3\xa9\xc3\xa9"), 1);
}

ROOST_TEST(mqtt_wildcards_are_literal)
{
    const char *plus = ALLOW1("iot:Subscribe", TU_ARN "topicfilter/a/+/b");
    CHECK_EQ(SUB(plus, "a/+/b"), 1);
    CHECK_EQ(SUB(plus, "a/x/b"), 0);
    const char *hash = ALLOW1("iot:Subscribe", TU_ARN "topicfilter/a/#");
    CHECK_EQ(SUB(hash, "a/#"), 1);
    CHECK_EQ(SUB(hash, "a/b"), 0);
    CHECK_EQ(SUB(hash, "a/b/#"), 0);
    /* A topic policy with `#` allows publishing to no real topic. */
    const char *pubhash = ALLOW1("iot:Publish", TU_ARN "topic/a/#");
    CHECK_EQ(PUB(pubhash, "a/b"), 0);
    /* A Deny on topicfilter/a/restricted/... does not reach messages that an
     * allowed a/# subscription delivers: only Receive does (spec 5). */
    const char *doc = TU_DOC(
        "{`Effect`:`Allow`,`Action`:[`iot:Subscribe`],`Resource`:`" TU_ARN "topicfilter/a/*`},"
        "{`Effect`:`Allow`,`Action`:[`iot:Receive`],`Resource`:`" TU_ARN "topic/a/*`},"
        "{`Effect`:`Deny`,`Action`:[`iot:Subscribe`],`Resource`:`" TU_ARN
        "topicfilter/a/restricted/*`}");
    CHECK_EQ(SUB(doc, "a/#"), 1);
    CHECK_EQ(SUB(doc, "a/restricted/#"), 0);
    CHECK_EQ(tu_allows(doc, &no_ctx, ROOST_AUTHZ_RECEIVE, ROOST_AUTHZ_RES_TOPIC, "a/restricted/x"),
             1);
}

ROOST_TEST(escapes_are_literal)
{
    const char *star = ALLOW1("iot:Publish", TU_ARN "topic/a${*}");
    CHECK_EQ(PUB(star, "a*"), 1);
    CHECK_EQ(PUB(star, "ab"), 0);
    const char *q = ALLOW1("iot:Publish", TU_ARN "topic/what${?}");
    CHECK_EQ(PUB(q, "what?"), 1);
    CHECK_EQ(PUB(q, "whatX"), 0);
    const char *dollar = ALLOW1("iot:Publish", TU_ARN "topic/${$}{iot:ClientId}");
    CHECK_EQ(PUB(dollar, "${iot:ClientId}"), 1);
    CHECK_EQ(PUB(dollar, "c1"), 0);
    /* A `$` without a brace is just a character ($aws topics). */
    const char *aws = ALLOW1("iot:Publish", TU_ARN "topic/$aws/things/t/shadow/*");
    CHECK_EQ(PUB(aws, "$aws/things/t/shadow/update"), 1);
    /* Plain `*` and `?` next to escapes still glob. */
    const char *mix = ALLOW1("iot:Publish", TU_ARN "topic/${*}*");
    CHECK_EQ(PUB(mix, "*anything"), 1);
    CHECK_EQ(PUB(mix, "anything"), 0);
}

ROOST_TEST(resource_types_are_separate)
{
    const char *doc = ALLOW1("*", TU_ARN "topic/x");
    CHECK_EQ(PUB(doc, "x"), 1);
    CHECK_EQ(SUB(doc, "x"), 0);
    CHECK_EQ(tu_allows(doc, &no_ctx, ROOST_AUTHZ_CONNECT, ROOST_AUTHZ_RES_CLIENT, "x"), 0);
    CHECK_EQ(tu_allows(doc, &no_ctx, ROOST_AUTHZ_GET_THING_SHADOW, ROOST_AUTHZ_RES_THING, "x"), 0);
    /* A glob over the whole ARN: topic* also covers topicfilter/. */
    const char *glob = ALLOW1("*", TU_ARN "topic*");
    CHECK_EQ(PUB(glob, "a"), 1);
    CHECK_EQ(SUB(glob, "a/#"), 1);
    CHECK_EQ(tu_allows(glob, &no_ctx, ROOST_AUTHZ_CONNECT, ROOST_AUTHZ_RES_CLIENT, "a"), 0);
    /* The whole ARN can be checked as it is (TestAuthorization). */
    CHECK_EQ(tu_allows(doc, &no_ctx, ROOST_AUTHZ_PUBLISH, ROOST_AUTHZ_RES_RAW, TU_ARN "topic/x"),
             1);
    CHECK_EQ(tu_allows(doc, &no_ctx, ROOST_AUTHZ_PUBLISH, ROOST_AUTHZ_RES_RAW, TU_ARN "topic/y"),
             0);
    /* Actions without a resource use "*". */
    const char *any = ALLOW1("iot:ListRetainedMessages", "*");
    CHECK_EQ(tu_allows(any, &no_ctx, ROOST_AUTHZ_LIST_RETAINED_MESSAGES, ROOST_AUTHZ_RES_RAW, "*"),
             1);
    CHECK_EQ(tu_allows(doc, &no_ctx, ROOST_AUTHZ_LIST_RETAINED_MESSAGES, ROOST_AUTHZ_RES_RAW, "*"),
             0);
}

ROOST_TEST(region_and_account_globs)
{
    CHECK_EQ(PUB(ALLOW1("iot:Publish", "arn:aws:iot:*:*:topic/x"), "x"), 1);
    CHECK_EQ(PUB(ALLOW1("iot:Publish", "arn:aws:iot:us-east-1:*:topic/x"), "x"), 1);
    CHECK_EQ(PUB(ALLOW1("iot:Publish", "arn:aws:iot:us-east-?:123456789012:topic/x"), "x"), 1);
    CHECK_EQ(PUB(ALLOW1("iot:Publish", "arn:aws:iot:eu-west-1:123456789012:topic/x"), "x"), 0);
    CHECK_EQ(PUB(ALLOW1("iot:Publish", "arn:aws:iot:us-east-1:999999999999:topic/x"), "x"), 0);
    CHECK_EQ(PUB(ALLOW1("iot:Publish", "arn:aws:iot:*"), "any/thing"), 1);
    CHECK_EQ(PUB(ALLOW1("iot:Publish", "arn:aws:iot:us-east-1:123456789012:*"), "y"), 1);
    CHECK_EQ(PUB(ALLOW1("iot:Publish", "*"), "z"), 1);
    CHECK_EQ(PUB(ALLOW1("iot:Publish", "*x"), "x"), 1);
    CHECK_EQ(PUB(ALLOW1("iot:Publish", "*x"), "y"), 0);
    /* A star inside the prefix that may also reach into the name. */
    CHECK_EQ(PUB(ALLOW1("iot:Publish", "arn:aws:iot:*/b"), "a/b"), 1);
    CHECK_EQ(PUB(ALLOW1("iot:Publish", "arn:aws:iot:*/b"), "b"), 1); /* topic/b */
    CHECK_EQ(PUB(ALLOW1("iot:Publish", "arn:aws:iot:*/b"), "a/c"), 0);
    CHECK_EQ(PUB(ALLOW1("iot:Publish", "arn:*:iot:*:*:topic/a"), "a"), 1);
    /* Starts inside the region/account stars are tried only when the name
     * holds the literal after them (':' here), yet still count when it does. */
    const char *wild = ALLOW1("iot:Publish", "arn:aws:iot:*:*:topic/things/x/*");
    CHECK_EQ(PUB(wild, "things/x/a"), 1);
    CHECK_EQ(PUB(wild, "things/x/"), 1);
    CHECK_EQ(PUB(wild, "things/x"), 0);
    CHECK_EQ(PUB(wild, "things/y/a"), 0);
    CHECK_EQ(PUB(wild, "q:topic/things/x/z"), 1); /* the account star takes "...:topic/q" */
    CHECK_EQ(PUB(wild, "q/topic/things/x/z"), 0);
    CHECK_EQ(PUB(ALLOW1("iot:Publish", "arn:aws:iot:*:*:topic/a?"), "a:"), 1);
    CHECK_EQ(PUB(ALLOW1("iot:Publish", "arn:aws:iot:*:*?topic/b"), "x:topic/b"), 1);
    /* The prefix can end inside the pattern's literal tail: "*" + "/abc"
     * matches ".../topic" + "/abc". */
    CHECK_EQ(PUB(ALLOW1("iot:Publish", "*/abc"), "abc"), 1);
    CHECK_EQ(PUB(ALLOW1("iot:Publish", "*/abc"), "x/abc"), 1);
    CHECK_EQ(PUB(ALLOW1("iot:Publish", "*/abc"), "bc"), 0);
    /* Wrong case is another resource. */
    CHECK_EQ(PUB(ALLOW1("iot:Publish", TU_ARN "topic/A"), "a"), 0);
    CHECK_EQ(PUB(ALLOW1("iot:Publish", "ARN:aws:iot:*"), "a"), 0);
}

ROOST_TEST(glob_internals)
{
    const uint8_t star[] = {AUTHZ_STAR}, qq[] = {'a', AUTHZ_QMARK};
    CHECK(authz__glob(star, 1, (const uint8_t *)"", 0));
    CHECK(authz__glob(star, 1, (const uint8_t *)"abc", 3));
    CHECK(!authz__glob(qq, 2, (const uint8_t *)"a", 1));
    CHECK(authz__glob(qq, 2, (const uint8_t *)"a\xc3\xa9", 3));
    CHECK(!authz__glob((const uint8_t *)"", 0, (const uint8_t *)"a", 1));
    CHECK(authz__glob((const uint8_t *)"", 0, (const uint8_t *)"", 0));
    /* Trailing stars end the match at once, and only once the rest matched. */
    const uint8_t tail2[] = {'a', 'b', AUTHZ_STAR, AUTHZ_STAR};
    CHECK(authz__glob(tail2, 4, (const uint8_t *)"ab", 2));
    CHECK(authz__glob(tail2, 4, (const uint8_t *)"abxyz", 5));
    CHECK(!authz__glob(tail2, 4, (const uint8_t *)"a", 1));
    CHECK(!authz__glob(tail2, 4, (const uint8_t *)"axb", 3));
    const uint8_t mid_star[] = {AUTHZ_STAR, 'b', AUTHZ_STAR};
    CHECK(authz__glob(mid_star, 3, (const uint8_t *)"aab", 3));
    CHECK(!authz__glob(mid_star, 3, (const uint8_t *)"aaa", 3));
    /* Backtracking over a long run of stars and near-misses stays linear. */
    uint8_t pat[64];
    for (int i = 0; i < 64; i++)
        pat[i] = i % 2 ? 'a' : AUTHZ_STAR;
    char subj[4096];
    memset(subj, 'a', sizeof(subj));
    subj[sizeof(subj) - 1] = 'b';
    CHECK(!authz__glob(pat, 64, (const uint8_t *)subj, sizeof(subj)));
    CHECK(authz__glob_icase("IOT:*shadow", 11, "iot:GetThingShadow", 18));
    CHECK(!authz__glob_icase("iot:?", 5, "iot:ab", 6));
}

ROOST_TEST(not_resource_and_not_action)
{
    const char *nr = TU_DOC("{`Effect`:`Allow`,`Action`:`iot:Publish`,`NotResource`:[`" TU_ARN
                            "topic/secret/*`,`" TU_ARN "topic/admin`]}");
    CHECK_EQ(PUB(nr, "telemetry"), 1);
    CHECK_EQ(PUB(nr, "secret/x"), 0);
    CHECK_EQ(PUB(nr, "admin"), 0);
    CHECK_EQ(PUB(nr, "admin/x"), 1);
    /* NotResource is over every type: it allows other types too. */
    CHECK_EQ(tu_allows(nr, &no_ctx, ROOST_AUTHZ_PUBLISH, ROOST_AUTHZ_RES_CLIENT, "x"), 1);

    const char *na = TU_DOC("{`Effect`:`Allow`,`NotAction`:[`iot:Publish`,`iot:Retain*`],"
                            "`Resource`:`*`}");
    CHECK_EQ(PUB(na, "a"), 0);
    CHECK_EQ(SUB(na, "a"), 1);
    CHECK_EQ(tu_allows(na, &no_ctx, ROOST_AUTHZ_RETAIN_PUBLISH, ROOST_AUTHZ_RES_TOPIC, "a"), 0);
    CHECK_EQ(tu_allows(na, &no_ctx, ROOST_AUTHZ_RECEIVE, ROOST_AUTHZ_RES_TOPIC, "a"), 1);

    /* Deny everything but reading one's own shadow. */
    const char *dna = TU_DOC("{`Effect`:`Allow`,`Action`:`*`,`Resource`:`*`},"
                             "{`Effect`:`Deny`,`NotAction`:`iot:GetThingShadow`,`Resource`:`*`}");
    CHECK_EQ(PUB(dna, "a"), 0);
    CHECK_EQ(tu_allows(dna, &no_ctx, ROOST_AUTHZ_GET_THING_SHADOW, ROOST_AUTHZ_RES_THING, "t"), 1);
}

ROOST_TEST(actions_case_insensitive_and_wildcards)
{
    CHECK_EQ(PUB(ALLOW1("IOT:publish", "*"), "a"), 1);
    CHECK_EQ(PUB(ALLOW1("iot:PUBLISH", "*"), "a"), 1);
    CHECK_EQ(PUB(ALLOW1("iot:*", "*"), "a"), 1);
    CHECK_EQ(PUB(ALLOW1("*", "*"), "a"), 1);
    CHECK_EQ(PUB(ALLOW1("iot:Pub*", "*"), "a"), 1);
    CHECK_EQ(PUB(ALLOW1("iot:P?blish", "*"), "a"), 1);
    CHECK_EQ(PUB(ALLOW1("iot:Publis", "*"), "a"), 0);
    CHECK_EQ(PUB(ALLOW1("s3:*", "*"), "a"), 0);
    CHECK_EQ(PUB(ALLOW1("iotx:Publish", "*"), "a"), 0);
    const char *get = ALLOW1("iot:Get*", "*");
    CHECK_EQ(tu_allows(get, &no_ctx, ROOST_AUTHZ_GET_THING_SHADOW, ROOST_AUTHZ_RES_THING, "t"), 1);
    CHECK_EQ(tu_allows(get, &no_ctx, ROOST_AUTHZ_GET_RETAINED_MESSAGE, ROOST_AUTHZ_RES_TOPIC, "t"),
             1);
    CHECK_EQ(tu_allows(get, &no_ctx, ROOST_AUTHZ_GET_PENDING_JOB_EXECUTIONS,
                       ROOST_AUTHZ_RES_THING, "t"),
             1);
    CHECK_EQ(tu_allows(get, &no_ctx, ROOST_AUTHZ_UPDATE_THING_SHADOW, ROOST_AUTHZ_RES_THING, "t"),
             0);
    CHECK_EQ(PUB(get, "a"), 0);
    const char *shadow = ALLOW1("iot:*thingshadow", "*");
    CHECK_EQ(tu_allows(shadow, &no_ctx, ROOST_AUTHZ_DELETE_THING_SHADOW, ROOST_AUTHZ_RES_THING,
                       "t"),
             1);
    CHECK_EQ(tu_allows(shadow, &no_ctx, ROOST_AUTHZ_LIST_NAMED_SHADOWS, ROOST_AUTHZ_RES_THING,
                       "t"),
             0);
    /* Every action by its own name. */
    for (int a = 0; a < ROOST_AUTHZ_ACTION_COUNT; a++) {
        char doc[256];
        snprintf(doc, sizeof(doc), ALLOW1("%s", "*"),
                 roost_authz_action_name((enum roost_authz_action)a));
        for (int b = 0; b < ROOST_AUTHZ_ACTION_COUNT; b++) {
            int got = tu_allows(doc, &no_ctx, (enum roost_authz_action)b, ROOST_AUTHZ_RES_RAW, "*");
            if (got != (a == b))
                roost_test_fail(__FILE__, __LINE__, "%s allowed action %d: %d", doc, b, got);
        }
    }
}

ROOST_TEST(deny_wins_and_is_reported)
{
    const char *doc = "{`Version`:`2012-10-17`,`Statement`:["
                      "{`Sid`:`all`,`Effect`:`Allow`,`Action`:`iot:*`,`Resource`:`*`},"
                      "{`Effect`:`Allow`,`Action`:`iot:Publish`,`Resource`:`" TU_ARN "topic/a`},"
                      "{`Sid`:`no-a`,`Effect`:`Deny`,`Action`:`iot:Publish`,`Resource`:`" TU_ARN
                      "topic/a`}]}";
    struct roost_authz_policy *p = tu_compile(doc);
    struct roost_authz_bound *b = NULL;
    REQUIRE_OK(roost_authz_bind(p, &no_ctx, &b));
    struct roost_authz_decision d;
    CHECK(!roost_authz_check(b, ROOST_AUTHZ_PUBLISH, ROOST_AUTHZ_RES_TOPIC, "a", 1, &d));
    CHECK(!d.allowed);
    CHECK_EQ(d.effect, ROOST_AUTHZ_DENY);
    CHECK_STR(d.policy, "test-policy");
    CHECK_EQ(d.statement, 2);
    CHECK_STR(d.sid, "no-a");
    CHECK(roost_authz_check(b, ROOST_AUTHZ_PUBLISH, ROOST_AUTHZ_RES_TOPIC, "b", 1, &d));
    CHECK_EQ(d.effect, ROOST_AUTHZ_ALLOW);
    CHECK_EQ(d.statement, 0);
    CHECK_STR(d.sid, "all");
    CHECK(roost_authz_check(b, ROOST_AUTHZ_RECEIVE, ROOST_AUTHZ_RES_TOPIC, "a", 1, &d));
    /* Out-of-range arguments are an implicit deny, never a crash. */
    CHECK(!roost_authz_check(b, ROOST_AUTHZ_ACTION_COUNT, ROOST_AUTHZ_RES_TOPIC, "a", 1, &d));
    CHECK_EQ(d.effect, ROOST_AUTHZ_IMPLICIT_DENY);
    CHECK(!roost_authz_check(b, ROOST_AUTHZ_PUBLISH, ROOST_AUTHZ_RES_COUNT, "a", 1, NULL));
    CHECK(!roost_authz_check(NULL, ROOST_AUTHZ_PUBLISH, ROOST_AUTHZ_RES_TOPIC, "a", 1, NULL));
    /* The bound form keeps the policy alive: drop ours first. */
    roost_authz_policy_unref(&p);
    CHECK(!roost_authz_check(b, ROOST_AUTHZ_PUBLISH, ROOST_AUTHZ_RES_TOPIC, "a", 1, &d));
    CHECK_STR(d.policy, "test-policy");
    struct roost_authz_bound *b2 = roost_authz_bound_ref(b);
    roost_authz_bound_unref(&b);
    CHECK(b == NULL);
    CHECK(roost_authz_check(b2, ROOST_AUTHZ_PUBLISH, ROOST_AUTHZ_RES_TOPIC, "b", 1, NULL));
    roost_authz_bound_unref(&b2);
}

ROOST_TEST(deny_across_policies)
{
    char *allow = tu_json(ALLOW1("iot:*", "*"));
    char *deny = tu_json(TU_DOC("{`Effect`:`Deny`,`Action`:`iot:Connect`,`Resource`:`" TU_ARN
                                "client/bad-*`}"));
    struct roost_authz_doc docs[2] = {{"open", allow, strlen(allow)},
                                      {"blocklist", deny, strlen(deny)}};
    struct roost_authz_policy *p = NULL;
    char err[256];
    REQUIRE_OK(roost_authz_compile(docs, 2, TU_REGION, TU_ACCOUNT, &p, err, sizeof(err)));
    struct roost_authz_decision d;
    CHECK(!roost_authz_evaluate(p, &no_ctx, ROOST_AUTHZ_CONNECT, ROOST_AUTHZ_RES_CLIENT, "bad-1",
                                5, &d));
    CHECK_STR(d.policy, "blocklist");
    CHECK(d.sid == NULL);
    CHECK(roost_authz_evaluate(p, &no_ctx, ROOST_AUTHZ_CONNECT, ROOST_AUTHZ_RES_CLIENT, "good", 4,
                               &d));
    CHECK_STR(d.policy, "open");
    roost_authz_policy_unref(&p);
    roost_free(allow);
    roost_free(deny);
}

struct thread_arg {
    const struct roost_authz_bound *b;
    int wrong;
};

static void *hammer(void *ud)
{
    struct thread_arg *ta = ud;
    for (int i = 0; i < 20000; i++) {
        char topic[32];
        int n = snprintf(topic, sizeof(topic), "things/t1/%d", i);
        if (!roost_authz_check(ta->b, ROOST_AUTHZ_PUBLISH, ROOST_AUTHZ_RES_TOPIC, topic,
                               (size_t)n, NULL))
            ta->wrong++;
        if (roost_authz_check(ta->b, ROOST_AUTHZ_PUBLISH, ROOST_AUTHZ_RES_TOPIC, "things/t2/x", 11,
                              NULL))
            ta->wrong++;
        struct roost_authz_bound *extra = roost_authz_bound_ref((struct roost_authz_bound *)ta->b);
        roost_authz_bound_unref(&extra);
    }
    return NULL;
}

ROOST_TEST(bound_shared_between_threads)
{
    struct roost_authz_policy *p = tu_compile(ALLOW1(
        "iot:Publish", TU_ARN "topic/things/${iot:Connection.Thing.ThingName}/*"));
    struct roost_authz_ctx ctx = {.client_id = "t1", .thing_name = "t1", .thing_attached = true};
    struct roost_authz_bound *b = NULL;
    REQUIRE_OK(roost_authz_bind(p, &ctx, &b));
    roost_authz_policy_unref(&p);
    struct thread_arg args[2] = {{b, 0}, {b, 0}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        REQUIRE_OK(pthread_create(&th[i], NULL, hammer, &args[i]));
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    CHECK_EQ(args[0].wrong + args[1].wrong, 0);
    roost_authz_bound_unref(&b);
}
