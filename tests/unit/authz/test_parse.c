/*
 * test_parse.c - policy documents that must parse, and every way a
 * document can be malformed, each with the message MalformedPolicyException
 * carries (which statement, which element, what is wrong).
 */
#include "authz_test_util.h"

static void expect_ok(const char *file, int line, const char *doc)
{
    char *json = tu_json(doc);
    char err[512] = "";
    int rc = roost_authz_validate(json, strlen(json), err, sizeof(err));
    if (rc != 0)
        roost_test_fail(file, line, "validate(%s) = %d: %s", json, rc, err);
    roost_free(json);
}
#define EXPECT_OK(doc) expect_ok(__FILE__, __LINE__, (doc))

static void expect_bad(const char *file, int line, const char *doc, const char *needle)
{
    char *json = tu_json(doc);
    char err[512] = "";
    int rc = roost_authz_validate(json, strlen(json), err, sizeof(err));
    if (rc != ROOST_EMALFORMED)
        roost_test_fail(file, line, "validate(%s) = %d, want ROOST_EMALFORMED", json, rc);
    else if (!strstr(err, needle))
        roost_test_fail(file, line, "message \"%s\" lacks \"%s\"", err, needle);
    roost_free(json);
}
#define EXPECT_BAD(doc, needle) expect_bad(__FILE__, __LINE__, (doc), (needle))

#define ST(body) "{`Version`:`2012-10-17`,`Statement`:" body "}"

ROOST_TEST(good_documents)
{
    /* Statement as an object, strings instead of lists. */
    EXPECT_OK(ST("{`Effect`:`Allow`,`Action`:`iot:Connect`,`Resource`:`*`}"));
    /* Lists, Sid, Id, several statements. */
    EXPECT_OK("{`Version`:`2012-10-17`,`Id`:`x`,`Statement`:["
              "{`Sid`:`a`,`Effect`:`Allow`,`Action`:[`iot:Publish`,`iot:Receive`],"
              "`Resource`:[`" TU_ARN "topic/a`,`" TU_ARN "topic/b/*`]},"
              "{`Effect`:`Deny`,`NotAction`:`iot:Connect`,`NotResource`:`" TU_ARN "topic/x`}]}");
    /* The older version. */
    EXPECT_OK("{`Version`:`2008-10-17`,`Statement`:{`Effect`:`Allow`,`Action`:`*`,"
              "`Resource`:`*`}}");
    /* Conditions with every value type, an empty list, and variables. */
    EXPECT_OK(ST("{`Effect`:`Allow`,`Action`:`iot:Connect`,`Resource`:`*`,`Condition`:{"
                 "`Bool`:{`iot:Connection.Thing.IsAttached`:true},"
                 "`NumericLessThan`:{`iot:Connection.Thing.Attributes[v]`:[3, 4.5, `7`]},"
                 "`ForAllValues:StringEquals`:{`iot:ConnectAttributes`:[]},"
                 "`DateGreaterThan`:{`iot:Certificate.Validity.NotAfter`:`2030-01-01T00:00:00Z`},"
                 "`IpAddress`:{`aws:SourceIp`:[`10.0.0.0/8`,`2001:db8::/32`,`192.0.2.1`]},"
                 "`StringEqualsIfExists`:{`iot:Connection.Thing.ThingTypeName`:`${iot:ClientId}`},"
                 "`NumericEquals`:{`iot:Connection.Thing.Attributes[v]`:`${iot:ClientId}`},"
                 "`Null`:{`iot:Connection.Thing.ThingTypeName`:`false`}}}"));
    /* Unknown actions and condition keys are accepted, as IAM does. */
    EXPECT_OK(ST("{`Effect`:`Allow`,`Action`:[`s3:GetObject`,`iot:Nothing`],`Resource`:`*`,"
                 "`Condition`:{`StringEquals`:{`iot:NoSuchKey`:`x`}}}"));
}

ROOST_TEST(bad_document_level)
{
    EXPECT_BAD("{`Version`:", "not valid JSON");
    EXPECT_BAD("[1,2]", "must be a JSON object");
    EXPECT_BAD("{`Version`:`2012-10-17`,`Statement`:[],`Foo`:1}", "unknown element: \"Foo\"");
    EXPECT_BAD("{`Statement`:{`Effect`:`Allow`,`Action`:`*`,`Resource`:`*`}}",
               "needs a Version");
    EXPECT_BAD("{`Version`:`2020-01-01`,`Statement`:{`Effect`:`Allow`,`Action`:`*`,"
               "`Resource`:`*`}}",
               "needs a Version");
    EXPECT_BAD("{`Version`:`2012-10-17`}", "needs a Statement");
    EXPECT_BAD(ST("[]"), "needs a Statement");
    EXPECT_BAD(ST("`x`"), "needs a Statement");
    EXPECT_BAD("{`Version`:`2012-10-17`,`Id`:5,`Statement`:{`Effect`:`Allow`,`Action`:`*`,"
               "`Resource`:`*`}}",
               "Id must be a string");
    EXPECT_BAD("{`Version`:`2012-10-17`,`Version`:`2012-10-17`,`Statement`:[]}", "duplicate");
}

ROOST_TEST(bad_statements)
{
    EXPECT_BAD(ST("[1]"), "Statement[0]: a statement must be an object");
    EXPECT_BAD(ST("[{`Effect`:`Allow`,`Action`:`*`,`Resource`:`*`},{`Action`:`*`,"
                  "`Resource`:`*`}]"),
               "Statement[1]: Effect is missing");
    EXPECT_BAD(ST("{`Effect`:`allow`,`Action`:`*`,`Resource`:`*`}"),
               "Effect \"allow\" must be \"Allow\" or \"Deny\"");
    EXPECT_BAD(ST("{`Sid`:5,`Effect`:`Allow`,`Action`:`*`,`Resource`:`*`}"),
               "Sid must be a string");
    EXPECT_BAD(ST("{`Effect`:`Allow`,`Action`:`*`,`Resource`:`*`,`Principal`:`*`}"),
               "unknown element \"Principal\"");
    EXPECT_BAD(ST("{`Effect`:`Allow`,`Action`:`*`,`NotAction`:`*`,`Resource`:`*`}"),
               "has both Action and NotAction");
    EXPECT_BAD(ST("{`Effect`:`Allow`,`Resource`:`*`}"), "needs an Action or a NotAction");
    EXPECT_BAD(ST("{`Effect`:`Allow`,`Action`:5,`Resource`:`*`}"),
               "Action must be a string or a non-empty list of strings");
    EXPECT_BAD(ST("{`Effect`:`Allow`,`Action`:[],`Resource`:`*`}"),
               "Action must be a string or a non-empty list of strings");
    EXPECT_BAD(ST("{`Effect`:`Allow`,`NotAction`:[`iot:Publish`,3],`Resource`:`*`}"),
               "NotAction[1] is not a string");
    EXPECT_BAD(ST("{`Effect`:`Allow`,`Action`:`Publish`,`Resource`:`*`}"),
               "Action \"Publish\" must be \"*\" or <service>:<action>");
    EXPECT_BAD(ST("{`Effect`:`Allow`,`Action`:`iot:`,`Resource`:`*`}"), "<service>:<action>");
    EXPECT_BAD(ST("{`Effect`:`Allow`,`Action`:`*`}"), "needs a Resource or a NotResource");
    EXPECT_BAD(ST("{`Effect`:`Allow`,`Action`:`*`,`Resource`:`*`,`NotResource`:`*`}"),
               "has both Resource and NotResource");
    EXPECT_BAD(ST("{`Effect`:`Allow`,`Action`:`*`,`Resource`:[`*`,``]}"), "Resource[1] is empty");
    EXPECT_BAD(ST("{`Effect`:`Allow`,`Action`:`*`,`NotResource`:{}}"),
               "NotResource must be a string or a non-empty list of strings");
    /* The Sid names the statement in every message. */
    EXPECT_BAD(ST("[{`Effect`:`Allow`,`Action`:`*`,`Resource`:`*`},"
                  "{`Sid`:`second`,`Effect`:`Deny`,`Action`:`*`}]"),
               "Statement[1] (Sid \"second\"): needs a Resource");
}

ROOST_TEST(bad_conditions)
{
#define COND(c) ST("{`Effect`:`Allow`,`Action`:`*`,`Resource`:`*`,`Condition`:" c "}")
    EXPECT_BAD(COND("`x`"), "Condition must be an object");
    EXPECT_BAD(COND("{`StringEqual`:{`iot:ClientId`:`a`}}"),
               "unknown Condition operator \"StringEqual\"");
    EXPECT_BAD(COND("{`ForAllValues:Null`:{`iot:ClientId`:`true`}}"),
               "unknown Condition operator \"ForAllValues:Null\"");
    EXPECT_BAD(COND("{`NullIfExists`:{`iot:ClientId`:`true`}}"), "unknown Condition operator");
    EXPECT_BAD(COND("{`StringEquals`:{}}"), "Condition StringEquals must be a non-empty object");
    EXPECT_BAD(COND("{`StringEquals`:`x`}"), "must be a non-empty object");
    EXPECT_BAD(COND("{`StringEquals`:{``:`a`}}"), "has an empty key");
    EXPECT_BAD(COND("{`StringEquals`:{`iot:ClientId`:null}}"),
               "must be a string, a boolean, a number or a list of them");
    EXPECT_BAD(COND("{`StringEquals`:{`iot:ClientId`:[`a`,{}]}}"), "must be a string");
    EXPECT_BAD(COND("{`NumericLessThan`:{`iot:Connection.Thing.Attributes[v]`:`abc`}}"),
               "value \"abc\" for iot:Connection.Thing.Attributes[v] is not a number");
    EXPECT_BAD(COND("{`NumericEquals`:{`k`:`1.`}}"), "is not a number");
    EXPECT_BAD(COND("{`DateLessThan`:{`iot:Certificate.Validity.NotAfter`:`yesterday`}}"),
               "is not an ISO 8601 date");
    EXPECT_BAD(COND("{`DateEquals`:{`k`:`2024-02-30`}}"), "is not an ISO 8601 date");
    EXPECT_BAD(COND("{`Bool`:{`iot:Connection.Thing.IsAttached`:`yes`}}"),
               "must be \"true\" or \"false\"");
    EXPECT_BAD(COND("{`Null`:{`iot:ClientId`:1}}"), "must be \"true\" or \"false\"");
    EXPECT_BAD(COND("{`IpAddress`:{`aws:SourceIp`:`300.1.1.1/8`}}"),
               "is not an IP address or CIDR block");
    EXPECT_BAD(COND("{`NotIpAddress`:{`aws:SourceIp`:`10.0.0.0/33`}}"), "is not an IP address");
    EXPECT_BAD(COND("{`IpAddress`:{`aws:SourceIp`:`2001:db8::/129`}}"), "is not an IP address");
#undef COND
}

ROOST_TEST(compile_errors_name_the_policy)
{
    const char *good = "{\"Version\":\"2012-10-17\",\"Statement\":{\"Effect\":\"Allow\","
                       "\"Action\":\"*\",\"Resource\":\"*\"}}";
    const char *bad = "{\"Version\":\"2012-10-17\",\"Statement\":{\"Effect\":\"Maybe\","
                      "\"Action\":\"*\",\"Resource\":\"*\"}}";
    struct roost_authz_doc docs[2] = {{"fine", good, strlen(good)}, {"broken", bad, strlen(bad)}};
    struct roost_authz_policy *p = NULL;
    char err[512] = "";
    CHECK_EQ(roost_authz_compile(docs, 2, TU_REGION, TU_ACCOUNT, &p, err, sizeof(err)),
             ROOST_EMALFORMED);
    CHECK(p == NULL);
    CHECK(strstr(err, "Policy \"broken\": Statement[0]: Effect \"Maybe\"") != NULL);

    /* Region and account must be usable ARN parts. */
    CHECK_EQ(roost_authz_compile(docs, 1, "", TU_ACCOUNT, &p, err, sizeof(err)), ROOST_EINVAL);
    CHECK_EQ(roost_authz_compile(docs, 1, TU_REGION, "12:34", &p, err, sizeof(err)),
             ROOST_EINVAL);
    CHECK_EQ(roost_authz_compile(docs, 1, "*", TU_ACCOUNT, &p, err, sizeof(err)), ROOST_EINVAL);

    /* A good set compiles; counts statements over all documents. */
    struct roost_authz_doc two[2] = {{"a", good, strlen(good)}, {"b", good, strlen(good)}};
    REQUIRE_OK(roost_authz_compile(two, 2, TU_REGION, TU_ACCOUNT, &p, err, sizeof(err)));
    CHECK_EQ(roost_authz_policy_statements(p), 2);
    roost_authz_policy_unref(&p);
    CHECK(p == NULL);
    roost_authz_policy_unref(&p); /* NULL is fine */

    /* Documents need not be NUL-terminated. */
    char buf[256];
    memcpy(buf, good, strlen(good));
    memset(buf + strlen(good), 'x', 10);
    struct roost_authz_doc nonul = {"n", buf, strlen(good)};
    REQUIRE_OK(roost_authz_compile(&nonul, 1, TU_REGION, TU_ACCOUNT, &p, err, sizeof(err)));
    roost_authz_policy_unref(&p);
}

ROOST_TEST(empty_set_denies_everything)
{
    struct roost_authz_policy *p = NULL;
    char err[128];
    REQUIRE_OK(roost_authz_compile(NULL, 0, TU_REGION, TU_ACCOUNT, &p, err, sizeof(err)));
    struct roost_authz_ctx ctx = {.client_id = "c"};
    struct roost_authz_decision d;
    CHECK(!roost_authz_evaluate(p, &ctx, ROOST_AUTHZ_CONNECT, ROOST_AUTHZ_RES_CLIENT, "c", 1, &d));
    CHECK_EQ(d.effect, ROOST_AUTHZ_IMPLICIT_DENY);
    CHECK(d.policy == NULL);
    roost_authz_policy_unref(&p);
}

ROOST_TEST(action_names)
{
    CHECK_STR(roost_authz_action_name(ROOST_AUTHZ_PUBLISH), "iot:Publish");
    CHECK_STR(roost_authz_action_name(ROOST_AUTHZ_LIST_NAMED_SHADOWS),
              "iot:ListNamedShadowsForThing");
    CHECK_EQ(roost_authz_action_lookup("IOT:publish", 11), ROOST_AUTHZ_PUBLISH);
    CHECK_EQ(roost_authz_action_lookup("iot:Receive", 11), ROOST_AUTHZ_RECEIVE);
    CHECK_EQ(roost_authz_action_lookup("iot:Pub*", 8), -1);
    CHECK_EQ(roost_authz_action_lookup("iot:Nope", 8), -1);
    for (int a = 0; a < ROOST_AUTHZ_ACTION_COUNT; a++) {
        const char *n = roost_authz_action_name((enum roost_authz_action)a);
        CHECK_EQ(roost_authz_action_lookup(n, strlen(n)), a);
    }
    CHECK_EQ(roost_authz_dn_attr_lookup("CommonName", 10), ROOST_AUTHZ_DN_COMMON_NAME);
    CHECK_EQ(roost_authz_dn_attr_lookup("GenerationQualifier", 19),
             ROOST_AUTHZ_DN_GENERATION_QUALIFIER);
    CHECK_EQ(roost_authz_dn_attr_lookup("commonname", 10), -1);
}
