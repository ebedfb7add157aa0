/*
 * test_aws_examples.c - the example policies of the AWS IoT developer guide
 * (connect, publish/subscribe, thing, shadow, jobs, certificate and
 * retained-message examples), each checked for the requests the guide says
 * they allow and a few it implies they refuse.
 */
#include "authz_test_util.h"

enum who {
    THING,      /* client "thingOne" = an attached thing, with type and attribute */
    NO_THING,   /* client "thingOne", certificate attached to no thing */
    CLIENT1,    /* client "client1", no thing */
    ORG_OK,     /* thingOne, certificate O = Example Corp, AnyCompany */
    ORG_BAD,    /* thingOne, certificate O = Example Corp, Evil Inc */
    HTTPS,      /* no MQTT connection: no client ID */
};

static void make_ctx(enum who w, struct roost_authz_ctx *ctx, struct roost_authz_cert *cert)
{
    static const struct roost_authz_attr attrs[] = {{"attributeName", "attributeValue"}};
    memset(ctx, 0, sizeof(*ctx));
    memset(cert, 0, sizeof(*cert));
    ctx->client_id = "thingOne";
    ctx->cert = cert;
    cert->subject[ROOST_AUTHZ_DN_COMMON_NAME] = (struct roost_authz_values){{"thingOne"}, 1};
    switch (w) {
    case THING:
    case ORG_OK:
    case ORG_BAD:
        ctx->thing_name = "thingOne";
        ctx->thing_type = "Thing_Type_Name";
        ctx->thing_attached = true;
        ctx->thing_attrs = attrs;
        ctx->n_thing_attrs = 1;
        break;
    case NO_THING:
        break;
    case CLIENT1:
        ctx->client_id = "client1";
        break;
    case HTTPS:
        ctx->client_id = NULL;
        break;
    }
    if (w == ORG_OK)
        cert->subject[ROOST_AUTHZ_DN_ORGANIZATION] =
            (struct roost_authz_values){{"Example Corp", "AnyCompany"}, 2};
    if (w == ORG_BAD)
        cert->subject[ROOST_AUTHZ_DN_ORGANIZATION] =
            (struct roost_authz_values){{"Example Corp", "Evil Inc"}, 2};
}

#define A "arn:aws:iot:us-east-1:123456789012:"

static const char *const connect_client1 =
    TU_DOC("{`Effect`:`Allow`,`Action`:[`iot:Connect`],`Resource`:[`" A "client/client1`]}");

static const char *const deny_two_allow_thing = TU_DOC(
    "{`Effect`:`Deny`,`Action`:[`iot:Connect`],`Resource`:[`" A "client/client1`,`" A
    "client/client2`]},"
    "{`Effect`:`Allow`,`Action`:[`iot:Connect`],`Resource`:[`" A
    "client/${iot:Connection.Thing.ThingName}`]}");

static const char *const registered_subscribe = TU_DOC(
    "{`Effect`:`Allow`,`Action`:[`iot:Connect`],`Resource`:[`" A
    "client/${iot:Connection.Thing.ThingName}`]},"
    "{`Effect`:`Allow`,`Action`:[`iot:Subscribe`],`Resource`:[`" A
    "topicfilter/my/topic/filter`]}");

static const char *const attached_connect = TU_DOC(
    "{`Effect`:`Allow`,`Action`:[`iot:Connect`],`Resource`:[`*`],"
    "`Condition`:{`Bool`:{`iot:Connection.Thing.IsAttached`:[`true`]}}}");

static const char *const type_and_attribute = TU_DOC(
    "{`Effect`:`Allow`,`Action`:[`iot:Publish`],`Resource`:`" A "topic/device/stats`,"
    "`Condition`:{`StringEquals`:{`iot:Connection.Thing.Attributes[attributeName]`:"
    "`attributeValue`,`iot:Connection.Thing.ThingTypeName`:`Thing_Type_Name`},"
    "`Bool`:{`iot:Connection.Thing.IsAttached`:`true`}}}");

static const char *const attribute_topic = TU_DOC(
    "{`Effect`:`Allow`,`Action`:[`iot:Publish`],`Resource`:`" A
    "topic/${iot:Connection.Thing.Attributes[attributeName]}/*`}");

static const char *const per_thing_pubsub = TU_DOC(
    "{`Effect`:`Allow`,`Action`:[`iot:Connect`],`Resource`:[`" A
    "client/${iot:Connection.Thing.ThingName}`]},"
    "{`Effect`:`Allow`,`Action`:[`iot:Publish`],`Resource`:[`" A
    "topic/${iot:Connection.Thing.ThingName}`]},"
    "{`Effect`:`Allow`,`Action`:[`iot:Subscribe`],`Resource`:[`" A
    "topicfilter/${iot:Connection.Thing.ThingName}/*`]},"
    "{`Effect`:`Allow`,`Action`:[`iot:Receive`],`Resource`:[`" A
    "topic/${iot:Connection.Thing.ThingName}/*`]}");

static const char *const client_id_topics = TU_DOC(
    "{`Effect`:`Allow`,`Action`:[`iot:Connect`],`Resource`:[`" A "client/${iot:ClientId}`]},"
    "{`Effect`:`Allow`,`Action`:[`iot:Publish`],`Resource`:[`" A
    "topic/my/topic/${iot:ClientId}`]}");

static const char *const shadow_mqtt = TU_DOC(
    "{`Effect`:`Allow`,`Action`:[`iot:Publish`],`Resource`:[`" A
    "topic/$aws/things/${iot:Connection.Thing.ThingName}/shadow/update`,`" A
    "topic/$aws/things/${iot:Connection.Thing.ThingName}/shadow/get`]},"
    "{`Effect`:`Allow`,`Action`:[`iot:Subscribe`],`Resource`:[`" A
    "topicfilter/$aws/things/${iot:Connection.Thing.ThingName}/shadow/*`]},"
    "{`Effect`:`Allow`,`Action`:[`iot:Receive`],`Resource`:[`" A
    "topic/$aws/things/${iot:Connection.Thing.ThingName}/shadow/*`]}");

static const char *const shadow_https = TU_DOC(
    "{`Effect`:`Allow`,`Action`:[`iot:UpdateThingShadow`,`iot:GetThingShadow`],"
    "`Resource`:[`" A "thing/thingOne`,`" A "thing/thingOne/*`]},"
    "{`Effect`:`Deny`,`Action`:[`iot:DeleteThingShadow`],`Resource`:[`" A "thing/*`]}");

static const char *const jobs_mqtt = TU_DOC(
    "{`Effect`:`Allow`,`Action`:[`iot:Publish`,`iot:Receive`],`Resource`:[`" A
    "topic/$aws/things/${iot:Connection.Thing.ThingName}/jobs/*`]},"
    "{`Effect`:`Allow`,`Action`:[`iot:Subscribe`],`Resource`:[`" A
    "topicfilter/$aws/things/${iot:Connection.Thing.ThingName}/jobs/*`]},"
    "{`Effect`:`Allow`,`Action`:[`iot:DescribeJobExecution`,`iot:GetPendingJobExecutions`,"
    "`iot:StartNextPendingJobExecution`,`iot:UpdateJobExecution`],"
    "`Resource`:[`" A "thing/${iot:Connection.Thing.ThingName}`]}");

static const char *const org_list = TU_DOC(
    "{`Effect`:`Allow`,`Action`:[`iot:Connect`],`Resource`:[`" A
    "client/${iot:Connection.Thing.ThingName}`]},"
    "{`Effect`:`Allow`,`Action`:[`iot:Publish`],`Resource`:[`" A
    "topic/my/topic/${iot:Connection.Thing.ThingName}`],"
    "`Condition`:{`ForAllValues:StringEquals`:{`iot:Certificate.Subject.Organization.List`:"
    "[`Example Corp`,`AnyCompany`]}}}");

static const char *const retained_will = TU_DOC(
    "{`Effect`:`Allow`,`Action`:[`iot:Connect`],`Resource`:[`" A "client/*`],"
    "`Condition`:{`ForAllValues:StringEquals`:{`iot:ConnectAttributes`:[`LastWill`]}}},"
    "{`Effect`:`Allow`,`Action`:[`iot:Publish`,`iot:RetainPublish`],`Resource`:[`" A
    "topic/will`]},"
    "{`Effect`:`Allow`,`Action`:[`iot:GetRetainedMessage`],`Resource`:[`" A "topic/some/*`]},"
    "{`Effect`:`Allow`,`Action`:[`iot:ListRetainedMessages`],`Resource`:[`*`]}");

static const char *const cert_cn_topics = TU_DOC(
    "{`Effect`:`Allow`,`Action`:[`iot:Publish`,`iot:Receive`],`Resource`:[`" A
    "topic/${iot:Certificate.Subject.CommonName}/*`]}");

#define P ROOST_AUTHZ_PUBLISH
#define S ROOST_AUTHZ_SUBSCRIBE
#define R ROOST_AUTHZ_RECEIVE
#define C ROOST_AUTHZ_CONNECT
#define T_TOPIC ROOST_AUTHZ_RES_TOPIC
#define T_FILTER ROOST_AUTHZ_RES_TOPICFILTER
#define T_CLIENT ROOST_AUTHZ_RES_CLIENT
#define T_THING ROOST_AUTHZ_RES_THING

static const struct {
    const char *const *doc;
    enum who who;
    enum roost_authz_action action;
    enum roost_authz_rtype type;
    const char *resource;
    int allowed;
} cases[] = {
    {&connect_client1, CLIENT1, C, T_CLIENT, "client1", 1},
    {&connect_client1, CLIENT1, C, T_CLIENT, "client2", 0},
    {&connect_client1, CLIENT1, P, T_TOPIC, "client1", 0},

    {&deny_two_allow_thing, THING, C, T_CLIENT, "thingOne", 1},
    {&deny_two_allow_thing, THING, C, T_CLIENT, "client1", 0},
    {&deny_two_allow_thing, NO_THING, C, T_CLIENT, "thingOne", 0},
    {&deny_two_allow_thing, CLIENT1, C, T_CLIENT, "client1", 0},

    {&registered_subscribe, THING, C, T_CLIENT, "thingOne", 1},
    {&registered_subscribe, THING, S, T_FILTER, "my/topic/filter", 1},
    {&registered_subscribe, THING, S, T_FILTER, "my/topic/#", 0},
    {&registered_subscribe, NO_THING, C, T_CLIENT, "thingOne", 0},

    {&attached_connect, THING, C, T_CLIENT, "thingOne", 1},
    {&attached_connect, NO_THING, C, T_CLIENT, "thingOne", 0},

    {&type_and_attribute, THING, P, T_TOPIC, "device/stats", 1},
    {&type_and_attribute, NO_THING, P, T_TOPIC, "device/stats", 0},
    {&type_and_attribute, THING, P, T_TOPIC, "device/other", 0},

    {&attribute_topic, THING, P, T_TOPIC, "attributeValue/x", 1},
    {&attribute_topic, THING, P, T_TOPIC, "other/x", 0},
    {&attribute_topic, NO_THING, P, T_TOPIC, "attributeValue/x", 0},

    {&per_thing_pubsub, THING, C, T_CLIENT, "thingOne", 1},
    {&per_thing_pubsub, THING, P, T_TOPIC, "thingOne", 1},
    {&per_thing_pubsub, THING, P, T_TOPIC, "thingOne/x", 0},
    {&per_thing_pubsub, THING, P, T_TOPIC, "thingTwo", 0},
    {&per_thing_pubsub, THING, S, T_FILTER, "thingOne/#", 1},
    {&per_thing_pubsub, THING, S, T_FILTER, "thingOne/+/status", 1},
    {&per_thing_pubsub, THING, S, T_FILTER, "#", 0},
    {&per_thing_pubsub, THING, R, T_TOPIC, "thingOne/a/b", 1},
    {&per_thing_pubsub, THING, R, T_TOPIC, "thingTwo/a", 0},
    {&per_thing_pubsub, NO_THING, P, T_TOPIC, "thingOne", 0},

    {&client_id_topics, CLIENT1, C, T_CLIENT, "client1", 1},
    {&client_id_topics, CLIENT1, P, T_TOPIC, "my/topic/client1", 1},
    {&client_id_topics, CLIENT1, P, T_TOPIC, "my/topic/client2", 0},
    {&client_id_topics, HTTPS, P, T_TOPIC, "my/topic/", 0},

    {&shadow_mqtt, THING, P, T_TOPIC, "$aws/things/thingOne/shadow/update", 1},
    {&shadow_mqtt, THING, P, T_TOPIC, "$aws/things/thingOne/shadow/get", 1},
    {&shadow_mqtt, THING, P, T_TOPIC, "$aws/things/thingOne/shadow/delete", 0},
    {&shadow_mqtt, THING, P, T_TOPIC, "$aws/things/thingTwo/shadow/update", 0},
    {&shadow_mqtt, THING, S, T_FILTER, "$aws/things/thingOne/shadow/update/accepted", 1},
    {&shadow_mqtt, THING, S, T_FILTER, "$aws/things/thingOne/shadow/#", 1},
    {&shadow_mqtt, THING, R, T_TOPIC, "$aws/things/thingOne/shadow/update/delta", 1},
    {&shadow_mqtt, THING, R, T_TOPIC, "$aws/things/thingOne/shadow/name/n/update/delta", 1},
    {&shadow_mqtt, NO_THING, P, T_TOPIC, "$aws/things/thingOne/shadow/update", 0},

    {&shadow_https, HTTPS, ROOST_AUTHZ_GET_THING_SHADOW, T_THING, "thingOne", 1},
    {&shadow_https, HTTPS, ROOST_AUTHZ_UPDATE_THING_SHADOW, T_THING, "thingOne/config", 1},
    {&shadow_https, HTTPS, ROOST_AUTHZ_GET_THING_SHADOW, T_THING, "thingTwo", 0},
    {&shadow_https, HTTPS, ROOST_AUTHZ_DELETE_THING_SHADOW, T_THING, "thingOne", 0},
    {&shadow_https, HTTPS, ROOST_AUTHZ_LIST_NAMED_SHADOWS, T_THING, "thingOne", 0},

    {&jobs_mqtt, THING, P, T_TOPIC, "$aws/things/thingOne/jobs/get", 1},
    {&jobs_mqtt, THING, R, T_TOPIC, "$aws/things/thingOne/jobs/notify-next", 1},
    {&jobs_mqtt, THING, S, T_FILTER, "$aws/things/thingOne/jobs/+/get/accepted", 1},
    {&jobs_mqtt, THING, P, T_TOPIC, "$aws/things/thingTwo/jobs/get", 0},
    {&jobs_mqtt, THING, ROOST_AUTHZ_DESCRIBE_JOB_EXECUTION, T_THING, "thingOne", 1},
    {&jobs_mqtt, THING, ROOST_AUTHZ_UPDATE_JOB_EXECUTION, T_THING, "thingTwo", 0},

    {&org_list, ORG_OK, C, T_CLIENT, "thingOne", 1},
    {&org_list, ORG_OK, P, T_TOPIC, "my/topic/thingOne", 1},
    {&org_list, ORG_BAD, C, T_CLIENT, "thingOne", 1},
    {&org_list, ORG_BAD, P, T_TOPIC, "my/topic/thingOne", 0},

    {&retained_will, CLIENT1, P, T_TOPIC, "will", 1},
    {&retained_will, CLIENT1, ROOST_AUTHZ_RETAIN_PUBLISH, T_TOPIC, "will", 1},
    {&retained_will, CLIENT1, ROOST_AUTHZ_RETAIN_PUBLISH, T_TOPIC, "other", 0},
    {&retained_will, CLIENT1, ROOST_AUTHZ_GET_RETAINED_MESSAGE, T_TOPIC, "some/topic", 1},
    {&retained_will, CLIENT1, ROOST_AUTHZ_LIST_RETAINED_MESSAGES, ROOST_AUTHZ_RES_RAW, "*", 1},

    {&cert_cn_topics, THING, P, T_TOPIC, "thingOne/data", 1},
    {&cert_cn_topics, CLIENT1, R, T_TOPIC, "thingOne/cmd", 1},
    {&cert_cn_topics, CLIENT1, R, T_TOPIC, "client1/cmd", 0},
};

ROOST_TEST(developer_guide_examples)
{
    for (size_t i = 0; i < ROOST_ARRAY_LEN(cases); i++) {
        struct roost_authz_ctx ctx;
        struct roost_authz_cert cert;
        make_ctx(cases[i].who, &ctx, &cert);
        int got = tu_allows(*cases[i].doc, &ctx, cases[i].action, cases[i].type,
                            cases[i].resource);
        if (got != cases[i].allowed)
            roost_test_fail(__FILE__, __LINE__, "case %zu: %s on %s (who %d): got %d want %d", i,
                            roost_authz_action_name(cases[i].action), cases[i].resource,
                            (int)cases[i].who, got, cases[i].allowed);
    }
}

/* The will example, with connect attributes: a will is allowed, a
 * persistent session is not. */
ROOST_TEST(retained_will_connect)
{
    struct roost_authz_ctx ctx = {.client_id = "client1", .has_connect_attrs = true,
                                  .connect_attrs = ROOST_AUTHZ_CONNECT_LAST_WILL,
                                  .last_will_topic = "will"};
    CHECK_EQ(tu_allows(retained_will, &ctx, C, T_CLIENT, "client1"), 1);
    ctx.connect_attrs |= ROOST_AUTHZ_CONNECT_PERSISTENT;
    CHECK_EQ(tu_allows(retained_will, &ctx, C, T_CLIENT, "client1"), 0);
}
