/*
 * test_cond.c - every Condition operator, the IAM rules for several values
 * (OR), several keys and operators (AND), missing keys, IfExists,
 * ForAnyValue/ForAllValues, IPv4/IPv6 CIDRs, dates, and the
 * iot:ConnectAttributes examples of the AWS IoT developer guide.
 */
#include "authz/authz_int.h"
#include "authz_test_util.h"

/* Allow iot:Connect on * under one Condition block. */
#define CONNECT_IF(cond)                                                       \
    TU_DOC("{`Effect`:`Allow`,`Action`:`iot:Connect`,`Resource`:`*`,`Condition`:" cond "}")

static int conn(const char *doc, const struct roost_authz_ctx *ctx)
{
    return tu_allows(doc, ctx, ROOST_AUTHZ_CONNECT, ROOST_AUTHZ_RES_CLIENT, "c");
}

static int conn_id(const char *cond, const char *client_id)
{
    struct roost_authz_ctx ctx = {.client_id = client_id};
    return conn(cond, &ctx);
}

ROOST_TEST(string_operators)
{
    CHECK_EQ(conn_id(CONNECT_IF("{`StringEquals`:{`iot:ClientId`:`dev1`}}"), "dev1"), 1);
    CHECK_EQ(conn_id(CONNECT_IF("{`StringEquals`:{`iot:ClientId`:`dev1`}}"), "DEV1"), 0);
    CHECK_EQ(conn_id(CONNECT_IF("{`StringEquals`:{`iot:ClientId`:[`a`,`dev1`]}}"), "dev1"), 1);
    CHECK_EQ(conn_id(CONNECT_IF("{`StringEquals`:{`iot:ClientId`:`d*`}}"), "dev1"), 0);
    CHECK_EQ(conn_id(CONNECT_IF("{`StringNotEquals`:{`iot:ClientId`:[`a`,`b`]}}"), "dev1"), 1);
    CHECK_EQ(conn_id(CONNECT_IF("{`StringNotEquals`:{`iot:ClientId`:[`a`,`dev1`]}}"), "dev1"), 0);
    CHECK_EQ(conn_id(CONNECT_IF("{`StringEqualsIgnoreCase`:{`iot:ClientId`:`DeV1`}}"), "dev1"), 1);
    CHECK_EQ(conn_id(CONNECT_IF("{`StringEqualsIgnoreCase`:{`iot:ClientId`:`dev2`}}"), "dev1"), 0);
    CHECK_EQ(conn_id(CONNECT_IF("{`StringNotEqualsIgnoreCase`:{`iot:ClientId`:`DEV1`}}"), "dev1"),
             0);
    CHECK_EQ(conn_id(CONNECT_IF("{`StringLike`:{`iot:ClientId`:`d?v*`}}"), "dev1"), 1);
    CHECK_EQ(conn_id(CONNECT_IF("{`StringLike`:{`iot:ClientId`:`x*`}}"), "dev1"), 0);
    CHECK_EQ(conn_id(CONNECT_IF("{`StringLike`:{`iot:ClientId`:`a${*}`}}"), "a*"), 1);
    CHECK_EQ(conn_id(CONNECT_IF("{`StringLike`:{`iot:ClientId`:`a${*}`}}"), "ab"), 0);
    CHECK_EQ(conn_id(CONNECT_IF("{`StringNotLike`:{`iot:ClientId`:[`x*`,`y*`]}}"), "dev1"), 1);
    CHECK_EQ(conn_id(CONNECT_IF("{`StringNotLike`:{`iot:ClientId`:[`x*`,`d*`]}}"), "dev1"), 0);
    /* Operator names are read without regard to case. */
    CHECK_EQ(conn_id(CONNECT_IF("{`stringequals`:{`iot:clientid`:`dev1`}}"), "dev1"), 1);
}

ROOST_TEST(keys_and_operators_are_anded)
{
    struct roost_authz_ctx ctx = {.client_id = "dev1", .thing_name = "dev1", .thing_type = "lamp"};
    const char *two_keys = CONNECT_IF("{`StringEquals`:{`iot:ClientId`:`dev1`,"
                                      "`iot:Connection.Thing.ThingTypeName`:`lamp`}}");
    CHECK_EQ(conn(two_keys, &ctx), 1);
    struct roost_authz_ctx fan = {.client_id = "dev1", .thing_name = "dev1", .thing_type = "fan"};
    CHECK_EQ(conn(two_keys, &fan), 0);
    const char *two_ops = CONNECT_IF("{`StringEquals`:{`iot:ClientId`:`dev1`},"
                                     "`StringLike`:{`iot:Connection.Thing.ThingTypeName`:`l*`}}");
    CHECK_EQ(conn(two_ops, &ctx), 1);
    CHECK_EQ(conn(two_ops, &fan), 0);
}

ROOST_TEST(missing_keys_and_if_exists)
{
    struct roost_authz_ctx ctx = {.client_id = "dev1"}; /* no thing, no IP */
    CHECK_EQ(conn(CONNECT_IF("{`StringEquals`:{`iot:Connection.Thing.ThingTypeName`:`x`}}"), &ctx),
             0);
    CHECK_EQ(conn(CONNECT_IF("{`StringNotEquals`:{`iot:Connection.Thing.ThingTypeName`:`x`}}"),
                  &ctx),
             1);
    CHECK_EQ(conn(CONNECT_IF("{`StringEqualsIfExists`:{`iot:Connection.Thing.ThingTypeName`:"
                             "`x`}}"),
                  &ctx),
             1);
    struct roost_authz_ctx typed = {.client_id = "d", .thing_name = "d", .thing_type = "y"};
    CHECK_EQ(conn(CONNECT_IF("{`StringEqualsIfExists`:{`iot:Connection.Thing.ThingTypeName`:"
                             "`x`}}"),
                  &typed),
             0);
    CHECK_EQ(conn(CONNECT_IF("{`IpAddress`:{`aws:SourceIp`:`0.0.0.0/0`}}"), &ctx), 0);
    CHECK_EQ(conn(CONNECT_IF("{`NotIpAddress`:{`aws:SourceIp`:`10.0.0.0/8`}}"), &ctx), 1);
    CHECK_EQ(conn(CONNECT_IF("{`StringEquals`:{`iot:UnknownKey`:`x`}}"), &ctx), 0);
    CHECK_EQ(conn(CONNECT_IF("{`ForAllValues:StringEquals`:{`iot:UnknownKey`:`x`}}"), &ctx), 1);
    CHECK_EQ(conn(CONNECT_IF("{`ForAnyValue:StringEquals`:{`iot:UnknownKey`:`x`}}"), &ctx), 0);
}

ROOST_TEST(null_operator)
{
    struct roost_authz_ctx bare = {.client_id = "d"};
    struct roost_authz_ctx typed = {.client_id = "d", .thing_name = "d", .thing_type = "t"};
    const char *is_null = CONNECT_IF("{`Null`:{`iot:Connection.Thing.ThingTypeName`:`true`}}");
    const char *not_null = CONNECT_IF("{`Null`:{`iot:Connection.Thing.ThingTypeName`:false}}");
    CHECK_EQ(conn(is_null, &bare), 1);
    CHECK_EQ(conn(is_null, &typed), 0);
    CHECK_EQ(conn(not_null, &bare), 0);
    CHECK_EQ(conn(not_null, &typed), 1);
    /* An empty ConnectAttributes set counts as null. */
    struct roost_authz_ctx clean = {.client_id = "d", .has_connect_attrs = true};
    CHECK_EQ(conn(CONNECT_IF("{`Null`:{`iot:ConnectAttributes`:`true`}}"), &clean), 1);
}

ROOST_TEST(numeric_operators)
{
    struct roost_authz_attr attrs[] = {{"version", "7"}, {"ratio", "0.5"}, {"name", "abc"}};
    struct roost_authz_ctx ctx = {.client_id = "t", .thing_name = "t", .thing_attrs = attrs,
                                  .n_thing_attrs = 3};
#define V "`iot:Connection.Thing.Attributes[version]`"
    CHECK_EQ(conn(CONNECT_IF("{`NumericEquals`:{" V ":7}}"), &ctx), 1);
    CHECK_EQ(conn(CONNECT_IF("{`NumericEquals`:{" V ":`7.0`}}"), &ctx), 1);
    CHECK_EQ(conn(CONNECT_IF("{`NumericEquals`:{" V ":[1,2]}}"), &ctx), 0);
    CHECK_EQ(conn(CONNECT_IF("{`NumericNotEquals`:{" V ":[1,2]}}"), &ctx), 1);
    CHECK_EQ(conn(CONNECT_IF("{`NumericNotEquals`:{" V ":[1,7]}}"), &ctx), 0);
    CHECK_EQ(conn(CONNECT_IF("{`NumericLessThan`:{" V ":10}}"), &ctx), 1);
    CHECK_EQ(conn(CONNECT_IF("{`NumericLessThan`:{" V ":7}}"), &ctx), 0);
    CHECK_EQ(conn(CONNECT_IF("{`NumericLessThanEquals`:{" V ":7}}"), &ctx), 1);
    CHECK_EQ(conn(CONNECT_IF("{`NumericGreaterThan`:{" V ":`6.99`}}"), &ctx), 1);
    CHECK_EQ(conn(CONNECT_IF("{`NumericGreaterThan`:{" V ":7}}"), &ctx), 0);
    CHECK_EQ(conn(CONNECT_IF("{`NumericGreaterThanEquals`:{" V ":7}}"), &ctx), 1);
    CHECK_EQ(conn(CONNECT_IF("{`NumericGreaterThanEquals`:{" V ":`-1e3`}}"), &ctx), 1);
    CHECK_EQ(conn(CONNECT_IF("{`NumericLessThan`:{`iot:Connection.Thing.Attributes[ratio]`:1}}"),
                  &ctx),
             1);
    /* A context value that is no number matches nothing. */
    CHECK_EQ(conn(CONNECT_IF("{`NumericLessThan`:{`iot:Connection.Thing.Attributes[name]`:1}}"),
                  &ctx),
             0);
    CHECK_EQ(conn(CONNECT_IF("{`NumericNotEquals`:{`iot:Connection.Thing.Attributes[name]`:1}}"),
                  &ctx),
             1);
#undef V
}

ROOST_TEST(date_operators)
{
    struct roost_authz_cert cert;
    memset(&cert, 0, sizeof(cert));
    cert.has_validity = true;
    cert.not_before = 1704067200; /* 2024-01-01T00:00:00Z */
    cert.not_after = 1735689600;  /* 2025-01-01T00:00:00Z */
    struct roost_authz_ctx ctx = {.client_id = "c", .cert = &cert};
#define NA "`iot:Certificate.Validity.NotAfter`"
#define NB "`iot:Certificate.Validity.NotBefore`"
    CHECK_EQ(conn(CONNECT_IF("{`DateEquals`:{" NA ":`2025-01-01T00:00:00Z`}}"), &ctx), 1);
    CHECK_EQ(conn(CONNECT_IF("{`DateEquals`:{" NA ":`2025-01-01`}}"), &ctx), 1);
    CHECK_EQ(conn(CONNECT_IF("{`DateEquals`:{" NA ":1735689600}}"), &ctx), 1);
    CHECK_EQ(conn(CONNECT_IF("{`DateEquals`:{" NA ":`2025-01-01T01:00:00+01:00`}}"), &ctx), 1);
    CHECK_EQ(conn(CONNECT_IF("{`DateEquals`:{" NA ":`2024-12-31T19:00:00-0500`}}"), &ctx), 1);
    CHECK_EQ(conn(CONNECT_IF("{`DateNotEquals`:{" NA ":`2025-01-02`}}"), &ctx), 1);
    CHECK_EQ(conn(CONNECT_IF("{`DateLessThan`:{" NA ":`2025-01-01T00:00:00.001Z`}}"), &ctx), 1);
    CHECK_EQ(conn(CONNECT_IF("{`DateLessThan`:{" NA ":`2025-01-01T00:00:00Z`}}"), &ctx), 0);
    CHECK_EQ(conn(CONNECT_IF("{`DateLessThanEquals`:{" NA ":`2025-01-01T00:00:00Z`}}"), &ctx), 1);
    CHECK_EQ(conn(CONNECT_IF("{`DateGreaterThan`:{" NB ":`2023-12-31T23:59:59Z`}}"), &ctx), 1);
    CHECK_EQ(conn(CONNECT_IF("{`DateGreaterThan`:{" NB ":`2024-01-01T00:00:00Z`}}"), &ctx), 0);
    CHECK_EQ(conn(CONNECT_IF("{`DateGreaterThanEquals`:{" NB ":`2024-01-01T00:00Z`}}"), &ctx), 1);
    struct roost_authz_ctx nocert = {.client_id = "c"};
    CHECK_EQ(conn(CONNECT_IF("{`DateGreaterThan`:{" NB ":`2000-01-01`}}"), &nocert), 0);
#undef NA
#undef NB
    int64_t ms = 0;
    CHECK(authz__parse_date("1970-01-01T00:00:00Z", 20, &ms));
    CHECK_EQ(ms, 0);
    CHECK(authz__parse_date("2000-02-29", 10, &ms));
    CHECK_EQ(ms, 951782400000LL);
    CHECK(!authz__parse_date("1900-02-29", 10, &ms));
    CHECK(!authz__parse_date("2024-13-01", 10, &ms));
    CHECK(!authz__parse_date("2024-01-01T25:00", 16, &ms));
    CHECK(!authz__parse_date("2024-01-01T10:00:00Zjunk", 24, &ms));
    char s[32];
    authz__format_date(951782400, s);
    CHECK_STR(s, "2000-02-29T00:00:00Z");
    authz__format_date(-1, s);
    CHECK_STR(s, "1969-12-31T23:59:59Z");
}

ROOST_TEST(bool_operator)
{
    struct roost_authz_ctx attached = {.client_id = "t", .thing_name = "t", .thing_attached = true};
    struct roost_authz_ctx detached = {.client_id = "t", .thing_name = "t"};
    struct roost_authz_ctx nothing = {.client_id = "t"};
    const char *t = CONNECT_IF("{`Bool`:{`iot:Connection.Thing.IsAttached`:[`true`]}}");
    const char *tj = CONNECT_IF("{`Bool`:{`iot:Connection.Thing.IsAttached`:true}}");
    const char *f = CONNECT_IF("{`Bool`:{`iot:Connection.Thing.IsAttached`:`FALSE`}}");
    CHECK_EQ(conn(t, &attached), 1);
    CHECK_EQ(conn(tj, &attached), 1);
    CHECK_EQ(conn(t, &detached), 0);
    CHECK_EQ(conn(t, &nothing), 0);
    CHECK_EQ(conn(f, &detached), 1);
    CHECK_EQ(conn(f, &nothing), 1);
    CHECK_EQ(conn(f, &attached), 0);
}

ROOST_TEST(ip_operators)
{
    struct roost_authz_ctx v4 = {.client_id = "c", .source_ip = "203.0.113.7"};
    struct roost_authz_ctx v6 = {.client_id = "c", .source_ip = "2001:db8:1234::5"};
    struct roost_authz_ctx mapped = {.client_id = "c", .source_ip = "::ffff:203.0.113.7"};
    struct roost_authz_ctx junk = {.client_id = "c", .source_ip = "not-an-ip"};
    const char *net24 = CONNECT_IF("{`IpAddress`:{`aws:SourceIp`:`203.0.113.0/24`}}");
    CHECK_EQ(conn(net24, &v4), 1);
    CHECK_EQ(conn(net24, &mapped), 1);
    CHECK_EQ(conn(net24, &v6), 0);
    CHECK_EQ(conn(net24, &junk), 0);
    CHECK_EQ(conn(CONNECT_IF("{`IpAddress`:{`aws:SourceIp`:`203.0.113.0/25`}}"), &v4), 1);
    CHECK_EQ(conn(CONNECT_IF("{`IpAddress`:{`aws:SourceIp`:`203.0.113.128/25`}}"), &v4), 0);
    CHECK_EQ(conn(CONNECT_IF("{`IpAddress`:{`aws:SourceIp`:`203.0.113.7`}}"), &v4), 1);
    CHECK_EQ(conn(CONNECT_IF("{`IpAddress`:{`aws:SourceIp`:`203.0.113.8/32`}}"), &v4), 0);
    CHECK_EQ(conn(CONNECT_IF("{`IpAddress`:{`aws:SourceIp`:`0.0.0.0/0`}}"), &v4), 1);
    CHECK_EQ(conn(CONNECT_IF("{`IpAddress`:{`aws:SourceIp`:[`10.0.0.0/8`,`203.0.0.0/13`]}}"), &v4),
             1);
    const char *net6 = CONNECT_IF("{`IpAddress`:{`aws:SourceIp`:`2001:DB8:1234::/48`}}");
    CHECK_EQ(conn(net6, &v6), 1);
    CHECK_EQ(conn(net6, &v4), 0);
    CHECK_EQ(conn(CONNECT_IF("{`IpAddress`:{`aws:SourceIp`:`2001:db8:1235::/48`}}"), &v6), 0);
    CHECK_EQ(conn(CONNECT_IF("{`IpAddress`:{`aws:SourceIp`:`2001:db8:1234::/47`}}"), &v6), 1);
    CHECK_EQ(conn(CONNECT_IF("{`NotIpAddress`:{`aws:SourceIp`:`203.0.113.0/24`}}"), &v4), 0);
    CHECK_EQ(conn(CONNECT_IF("{`NotIpAddress`:{`aws:SourceIp`:`198.51.100.0/24`}}"), &v4), 1);
    CHECK_EQ(conn(CONNECT_IF("{`NotIpAddress`:{`aws:SourceIp`:`2001:db8::/32`}}"), &v6), 0);
}

ROOST_TEST(arn_operators)
{
    struct roost_authz_ctx will = {.client_id = "c", .has_connect_attrs = true,
                                   .connect_attrs = ROOST_AUTHZ_CONNECT_LAST_WILL,
                                   .last_will_topic = "my/lastwill/topicName"};
    struct roost_authz_ctx other = {.client_id = "c", .has_connect_attrs = true,
                                    .connect_attrs = ROOST_AUTHZ_CONNECT_LAST_WILL,
                                    .last_will_topic = "other"};
    struct roost_authz_ctx no_will = {.client_id = "c", .has_connect_attrs = true};
    const char *eq = CONNECT_IF("{`ArnEquals`:{`iot:LastWillTopic`:"
                                "`arn:aws:iot:*:*:topic/my/lastwill/topicName`}}");
    CHECK_EQ(conn(eq, &will), 1);
    CHECK_EQ(conn(eq, &other), 0);
    CHECK_EQ(conn(eq, &no_will), 0);
    CHECK_EQ(conn(CONNECT_IF("{`ArnLike`:{`iot:LastWillTopic`:`" TU_ARN "topic/my/*`}}"), &will),
             1);
    /* Each of the six parts is matched on its own: * stops at ':'. */
    CHECK_EQ(conn(CONNECT_IF("{`ArnLike`:{`iot:LastWillTopic`:`arn:aws:iot:*:topic/my/*`}}"),
                  &will),
             0);
    CHECK_EQ(conn(CONNECT_IF("{`ArnLike`:{`iot:LastWillTopic`:`arn:aws:*`}}"), &will), 0);
    CHECK_EQ(conn(CONNECT_IF("{`ArnLike`:{`iot:LastWillTopic`:`arn:*:*:*:*:*`}}"), &will), 1);
    CHECK_EQ(conn(CONNECT_IF("{`ArnNotLike`:{`iot:LastWillTopic`:`" TU_ARN "topic/x*`}}"), &will),
             1);
    CHECK_EQ(conn(CONNECT_IF("{`ArnNotEquals`:{`iot:LastWillTopic`:`" TU_ARN
                             "topic/my/lastwill/topicName`}}"),
                  &will),
             0);
    /* The resource part keeps further colons. */
    CHECK_EQ(conn(CONNECT_IF("{`ArnLike`:{`iot:ClientId`:`arn:aws:iot:r:a:x:y`}}"),
                  &(struct roost_authz_ctx){.client_id = "arn:aws:iot:r:a:x:y"}),
             1);
}

ROOST_TEST(for_any_and_for_all_values)
{
    struct roost_authz_cert cert;
    memset(&cert, 0, sizeof(cert));
    cert.subject[ROOST_AUTHZ_DN_ORGANIZATION] =
        (struct roost_authz_values){{"Example Corp", "AnyCompany"}, 2};
    cert.subject[ROOST_AUTHZ_DN_COMMON_NAME] = (struct roost_authz_values){{"dev"}, 1};
    struct roost_authz_ctx ctx = {.client_id = "c", .cert = &cert};
#define OL "`iot:Certificate.Subject.Organization.List`"
    CHECK_EQ(conn(CONNECT_IF("{`ForAllValues:StringEquals`:{" OL ":[`Example Corp`,"
                             "`AnyCompany`,`Other`]}}"),
                  &ctx),
             1);
    CHECK_EQ(conn(CONNECT_IF("{`ForAllValues:StringEquals`:{" OL ":[`Example Corp`]}}"), &ctx), 0);
    CHECK_EQ(conn(CONNECT_IF("{`ForAnyValue:StringEquals`:{" OL ":[`AnyCompany`]}}"), &ctx), 1);
    CHECK_EQ(conn(CONNECT_IF("{`ForAnyValue:StringEquals`:{" OL ":[`Nobody`]}}"), &ctx), 0);
    CHECK_EQ(conn(CONNECT_IF("{`ForAnyValue:StringLike`:{" OL ":[`Any*`]}}"), &ctx), 1);
    CHECK_EQ(conn(CONNECT_IF("{`ForAllValues:StringLike`:{" OL ":[`*Co*`]}}"), &ctx), 1);
    CHECK_EQ(conn(CONNECT_IF("{`ForAnyValue:StringNotEquals`:{" OL ":[`AnyCompany`]}}"), &ctx),
             1);
    CHECK_EQ(conn(CONNECT_IF("{`ForAllValues:StringNotEquals`:{" OL ":[`AnyCompany`]}}"), &ctx),
             0);
    /* Without a set operator a list key matches when any value does. */
    CHECK_EQ(conn(CONNECT_IF("{`StringEquals`:{" OL ":[`AnyCompany`]}}"), &ctx), 1);
    CHECK_EQ(conn(CONNECT_IF("{`StringNotEquals`:{" OL ":[`AnyCompany`]}}"), &ctx), 0);
    /* A single-valued key is a set of one. */
    CHECK_EQ(conn(CONNECT_IF("{`ForAllValues:StringEquals`:{"
                             "`iot:Certificate.Subject.CommonName`:[`dev`,`x`]}}"),
                  &ctx),
             1);
    /* AvailableKeys lists the certificate variables that have values. */
    CHECK_EQ(conn(CONNECT_IF("{`ForAnyValue:StringEquals`:{`iot:Certificate.AvailableKeys`:"
                             "`iot:Certificate.Subject.Organization`}}"),
                  &ctx),
             1);
    CHECK_EQ(conn(CONNECT_IF("{`ForAnyValue:StringEquals`:{`iot:Certificate.AvailableKeys`:"
                             "`iot:Certificate.Subject.Country`}}"),
                  &ctx),
             0);
    CHECK_EQ(conn(CONNECT_IF("{`ForAllValues:StringLike`:{`iot:Certificate.AvailableKeys`:"
                             "`iot:Certificate.Subject.*`}}"),
                  &ctx),
             1);
#undef OL
}

/* The iot:ConnectAttributes examples of the AWS IoT developer guide
 * (connect policy examples, MQTT persistent sessions), each against the
 * four kinds of CONNECT: clean, persistent, with a will, both. */
ROOST_TEST(connect_attributes_examples)
{
#define ATTRS(x) "{`iot:ConnectAttributes`:[" x "]}"
#define ALLOW_C(cond) "{`Effect`:`Allow`,`Action`:[`iot:Connect`],`Resource`:`*`" cond "}"
#define DENY_C(cond) "{`Effect`:`Deny`,`Action`:[`iot:Connect`],`Resource`:`*`" cond "}"
#define C(op, x) ",`Condition`:{`" op "`:" ATTRS(x) "}"
    static const struct {
        const char *what;
        const char *doc;
        int clean, persistent, will, both;
    } cases[] = {
        {"allows PersistentConnect", TU_DOC(ALLOW_C(C("ForAllValues:StringEquals",
                                                      "`PersistentConnect`"))),
         1, 1, 0, 0},
        {"disallows PersistentConnect, others allowed",
         TU_DOC(ALLOW_C(C("ForAllValues:StringNotEquals", "`PersistentConnect`"))), 1, 0, 1, 0},
        {"same with a Deny", TU_DOC(ALLOW_C("") "," DENY_C(C("ForAnyValue:StringEquals",
                                                              "`PersistentConnect`"))),
         1, 0, 1, 0},
        {"PersistentConnect and LastWill, nothing new",
         TU_DOC(ALLOW_C(C("ForAllValues:StringEquals", "`PersistentConnect`,`LastWill`"))), 1, 1,
         1, 1},
        {"clean connect with or without LastWill",
         TU_DOC(ALLOW_C(C("ForAllValues:StringEquals", "`LastWill`"))), 1, 0, 1, 0},
        {"default features only", TU_DOC(ALLOW_C(C("ForAllValues:StringEquals", ""))), 1, 0, 0,
         0},
        {"must use PersistentConnect",
         TU_DOC(ALLOW_C(C("ForAnyValue:StringEquals", "`PersistentConnect`"))), 0, 1, 0, 1},
        {"must have both",
         TU_DOC(ALLOW_C(C("ForAllValues:StringEquals", "`PersistentConnect`,`LastWill`")) ","
                DENY_C(C("ForAllValues:StringEquals", "`PersistentConnect`")) ","
                DENY_C(C("ForAllValues:StringEquals", "`LastWill`")) ","
                DENY_C(C("ForAllValues:StringEquals", ""))),
         0, 0, 0, 1},
        {"no PersistentConnect, LastWill fine",
         TU_DOC(DENY_C(C("ForAnyValue:StringEquals", "`PersistentConnect`")) ","
                ALLOW_C(C("ForAllValues:StringEquals", "`LastWill`"))),
         1, 0, 1, 0},
        {"no ConnectAttributes condition allows all", TU_DOC(ALLOW_C("")), 1, 1, 1, 1},
    };
#undef ATTRS
#undef ALLOW_C
#undef DENY_C
#undef C
    static const unsigned kinds[4] = {0, ROOST_AUTHZ_CONNECT_PERSISTENT,
                                      ROOST_AUTHZ_CONNECT_LAST_WILL,
                                      ROOST_AUTHZ_CONNECT_PERSISTENT |
                                          ROOST_AUTHZ_CONNECT_LAST_WILL};
    for (size_t i = 0; i < ROOST_ARRAY_LEN(cases); i++) {
        int want[4] = {cases[i].clean, cases[i].persistent, cases[i].will, cases[i].both};
        for (int k = 0; k < 4; k++) {
            struct roost_authz_ctx ctx = {.client_id = "c", .has_connect_attrs = true,
                                          .connect_attrs = kinds[k]};
            int got = conn(cases[i].doc, &ctx);
            if (got != want[k])
                roost_test_fail(__FILE__, __LINE__, "\"%s\", connect kind %d: got %d want %d",
                                cases[i].what, k, got, want[k]);
        }
    }
}
