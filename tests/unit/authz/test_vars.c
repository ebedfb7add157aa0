/*
 * test_vars.c - every policy variable: substituted in Resource and in
 * Condition values, certificate attributes by index and as lists, the
 * values AWS refuses to substitute, IAM defaults, and statements that are
 * skipped (Allow and Deny alike) when a variable cannot be resolved.
 */
#include "authz_test_util.h"

/* Allow Publish on topic/<suffix> for a connection. */
#define PUB_DOC(suffix)                                                        \
    TU_DOC("{`Effect`:`Allow`,`Action`:`iot:Publish`,`Resource`:`" TU_ARN "topic/" suffix "`}")

static int pub(const char *doc, const struct roost_authz_ctx *ctx, const char *topic)
{
    return tu_allows(doc, ctx, ROOST_AUTHZ_PUBLISH, ROOST_AUTHZ_RES_TOPIC, topic);
}

static struct roost_authz_cert test_cert(void)
{
    struct roost_authz_cert c;
    memset(&c, 0, sizeof(c));
    c.subject[ROOST_AUTHZ_DN_COMMON_NAME] = (struct roost_authz_values){{"dev-1"}, 1};
    c.subject[ROOST_AUTHZ_DN_ORGANIZATION] =
        (struct roost_authz_values){{"Example Corp", "AnyCompany", "Third"}, 3};
    c.subject[ROOST_AUTHZ_DN_COUNTRY] = (struct roost_authz_values){{"US"}, 1};
    c.issuer[ROOST_AUTHZ_DN_COMMON_NAME] = (struct roost_authz_values){{"Roost CA"}, 1};
    c.issuer[ROOST_AUTHZ_DN_ORGANIZATION] = (struct roost_authz_values){{"Roost"}, 1};
    c.subject_alt[ROOST_AUTHZ_ALT_DNS_NAME] =
        (struct roost_authz_values){{"dev-1.example.com", "alt.example.com"}, 2};
    c.subject_alt[ROOST_AUTHZ_ALT_IP_ADDRESS] = (struct roost_authz_values){{"10.1.2.3"}, 1};
    c.subject_alt[ROOST_AUTHZ_ALT_RFC822_NAME] =
        (struct roost_authz_values){{"ops@example.com"}, 1};
    c.subject_alt[ROOST_AUTHZ_ALT_URI] =
        (struct roost_authz_values){{"spiffe://example/dev-1"}, 1};
    c.subject_alt[ROOST_AUTHZ_ALT_DIRECTORY_NAME] =
        (struct roost_authz_values){{"CN=dir,O=Example"}, 1};
    c.issuer_alt[ROOST_AUTHZ_ALT_RFC822_NAME] = (struct roost_authz_values){{"ca@example.com"}, 1};
    c.serial = "9212_85CB";
    c.has_validity = true;
    c.not_before = 1711423540; /* 2024-03-26T03:25:40Z */
    c.not_after = 1745811940;  /* 2025-04-28T03:45:40Z */
    return c;
}

ROOST_TEST(client_id)
{
    struct roost_authz_ctx ctx = {.client_id = "dev1"};
    const char *doc = TU_DOC("{`Effect`:`Allow`,`Action`:`iot:Connect`,`Resource`:`" TU_ARN
                             "client/${iot:ClientId}`}");
    CHECK_EQ(tu_allows(doc, &ctx, ROOST_AUTHZ_CONNECT, ROOST_AUTHZ_RES_CLIENT, "dev1"), 1);
    CHECK_EQ(tu_allows(doc, &ctx, ROOST_AUTHZ_CONNECT, ROOST_AUTHZ_RES_CLIENT, "dev2"), 0);
    CHECK_EQ(pub(PUB_DOC("my/topic/${iot:ClientId}"), &ctx, "my/topic/dev1"), 1);
    /* Key names are case-insensitive. */
    CHECK_EQ(pub(PUB_DOC("my/${IOT:clientid}"), &ctx, "my/dev1"), 1);
    /* Without a client ID (HTTPS) the statement is skipped. */
    struct roost_authz_ctx none = {0};
    CHECK_EQ(tu_bound_count(doc, &none), 0);
    CHECK_EQ(tu_allows(doc, &none, ROOST_AUTHZ_CONNECT, ROOST_AUTHZ_RES_CLIENT, ""), 0);
}

ROOST_TEST(substituted_values_are_literal)
{
    /* A client ID full of wildcards matches only itself. */
    struct roost_authz_ctx star = {.client_id = "a*"};
    CHECK_EQ(pub(PUB_DOC("${iot:ClientId}"), &star, "a*"), 1);
    CHECK_EQ(pub(PUB_DOC("${iot:ClientId}"), &star, "abc"), 0);
    struct roost_authz_ctx q = {.client_id = "a?"};
    CHECK_EQ(pub(PUB_DOC("${iot:ClientId}"), &q, "ab"), 0);
    CHECK_EQ(pub(PUB_DOC("${iot:ClientId}"), &q, "a?"), 1);
    /* "+" as a client ID: the AWS doc's warning about topicfilter/my/${iot:ClientId}. */
    struct roost_authz_ctx plus = {.client_id = "+"};
    const char *sub = TU_DOC("{`Effect`:`Allow`,`Action`:`iot:Subscribe`,`Resource`:`" TU_ARN
                             "topicfilter/my/${iot:ClientId}/topic`}");
    CHECK_EQ(tu_allows(sub, &plus, ROOST_AUTHZ_SUBSCRIBE, ROOST_AUTHZ_RES_TOPICFILTER,
                       "my/+/topic"),
             1);
    /* Bytes that would pose as compiled wildcards make a value unusable. */
    struct roost_authz_ctx evil = {.client_id = "x\xff"};
    CHECK_EQ(pub(PUB_DOC("${iot:ClientId}"), &evil, "xyz"), 0);
    CHECK_EQ(pub(PUB_DOC("${iot:ClientId}"), &evil, "x\xff"), 0);
    /* Wildcards in the policy around a variable still work. */
    struct roost_authz_ctx c = {.client_id = "dev1"};
    CHECK_EQ(pub(PUB_DOC("*/${iot:ClientId}/?"), &c, "a/b/dev1/x"), 1);
    CHECK_EQ(pub(PUB_DOC("*/${iot:ClientId}/?"), &c, "a/b/dev2/x"), 0);
}

ROOST_TEST(thing_variables)
{
    struct roost_authz_attr attrs[] = {{"color", "red"}, {"Floor", "3"}};
    struct roost_authz_ctx ctx = {
        .client_id = "t1",
        .thing_name = "t1",
        .thing_type = "lamp",
        .thing_attached = true,
        .thing_attrs = attrs,
        .n_thing_attrs = 2,
    };
    CHECK_EQ(pub(PUB_DOC("things/${iot:Connection.Thing.ThingName}/*"), &ctx, "things/t1/x"), 1);
    CHECK_EQ(pub(PUB_DOC("things/${iot:Connection.Thing.ThingName}/*"), &ctx, "things/t2/x"), 0);
    CHECK_EQ(pub(PUB_DOC("types/${iot:Connection.Thing.ThingTypeName}"), &ctx, "types/lamp"), 1);
    CHECK_EQ(pub(PUB_DOC("c/${iot:Connection.Thing.Attributes[color]}"), &ctx, "c/red"), 1);
    CHECK_EQ(pub(PUB_DOC("f/${iot:Connection.Thing.Attributes[Floor]}"), &ctx, "f/3"), 1);
    /* The attribute's name is case-sensitive, the rest of the key is not. */
    CHECK_EQ(pub(PUB_DOC("c/${iot:Connection.Thing.Attributes[Color]}"), &ctx, "c/red"), 0);
    CHECK_EQ(pub(PUB_DOC("c/${IOT:CONNECTION.THING.ATTRIBUTES[color]}"), &ctx, "c/red"), 1);
    CHECK_EQ(pub(PUB_DOC("c/${iot:Connection.Thing.Attributes[size]}"), &ctx, "c/"), 0);
    CHECK_EQ(pub(PUB_DOC("a/${iot:Connection.Thing.IsAttached}"), &ctx, "a/true"), 1);

    /* No thing: every thing variable is unresolved (IsAttached is false). */
    struct roost_authz_ctx bare = {.client_id = "t1", .thing_type = "lamp",
                                   .thing_attrs = attrs, .n_thing_attrs = 2};
    CHECK_EQ(pub(PUB_DOC("things/${iot:Connection.Thing.ThingName}/*"), &bare, "things//x"), 0);
    CHECK_EQ(pub(PUB_DOC("types/${iot:Connection.Thing.ThingTypeName}"), &bare, "types/lamp"), 0);
    CHECK_EQ(pub(PUB_DOC("c/${iot:Connection.Thing.Attributes[color]}"), &bare, "c/red"), 0);
    CHECK_EQ(pub(PUB_DOC("a/${iot:Connection.Thing.IsAttached}"), &bare, "a/false"), 1);
    /* A thing without a type. */
    struct roost_authz_ctx untyped = {.client_id = "t1", .thing_name = "t1"};
    CHECK_EQ(pub(PUB_DOC("types/${iot:Connection.Thing.ThingTypeName}"), &untyped, "types/"), 0);
    CHECK_EQ(pub(PUB_DOC("a/${iot:Connection.Thing.IsAttached}"), &untyped, "a/false"), 1);
}

ROOST_TEST(certificate_subject_and_issuer)
{
    struct roost_authz_cert cert = test_cert();
    struct roost_authz_ctx ctx = {.client_id = "c", .cert = &cert};
    CHECK_EQ(pub(PUB_DOC("${iot:Certificate.Subject.CommonName}"), &ctx, "dev-1"), 1);
    CHECK_EQ(pub(PUB_DOC("${iot:Certificate.Subject.Organization}"), &ctx, "Example Corp"), 1);
    CHECK_EQ(pub(PUB_DOC("${iot:Certificate.Subject.Organization.1}"), &ctx, "AnyCompany"), 1);
    CHECK_EQ(pub(PUB_DOC("${iot:Certificate.Subject.Organization.2}"), &ctx, "Third"), 1);
    CHECK_EQ(pub(PUB_DOC("${iot:Certificate.Subject.Organization.0}"), &ctx, "Example Corp"), 1);
    /* An index past the values: no substitution, authorization fails. */
    CHECK_EQ(pub(PUB_DOC("x${iot:Certificate.Subject.Organization.3}"), &ctx, "x"), 0);
    CHECK_EQ(pub(PUB_DOC("x${iot:Certificate.Subject.Organization.99}"), &ctx, "x"), 0);
    /* .List is for conditions, never a substitution. */
    CHECK_EQ(pub(PUB_DOC("${iot:Certificate.Subject.Organization.List}"), &ctx, "Example Corp"), 0);
    CHECK_EQ(pub(PUB_DOC("${iot:Certificate.Issuer.CommonName}"), &ctx, "Roost CA"), 1);
    CHECK_EQ(pub(PUB_DOC("${iot:Certificate.Issuer.Organization}"), &ctx, "Roost"), 1);
    CHECK_EQ(pub(PUB_DOC("x${iot:Certificate.Issuer.Country}"), &ctx, "x"), 0); /* absent */
    CHECK_EQ(pub(PUB_DOC("${iot:Certificate.SerialNumber}"), &ctx, "9212_85CB"), 1);
    CHECK_EQ(pub(PUB_DOC("${iot:Certificate.Validity.NotBefore}"), &ctx, "2024-03-26T03:25:40Z"),
             1);
    CHECK_EQ(pub(PUB_DOC("${iot:Certificate.Validity.NotAfter}"), &ctx, "2025-04-28T03:45:40Z"), 1);
    /* Unknown attribute names are unknown variables. */
    CHECK_EQ(pub(PUB_DOC("x${iot:Certificate.Subject.Colour}"), &ctx, "x"), 0);
    /* Without a certificate nothing resolves. */
    struct roost_authz_ctx nocert = {.client_id = "c"};
    CHECK_EQ(pub(PUB_DOC("${iot:Certificate.Subject.CommonName}"), &nocert, "dev-1"), 0);
    CHECK_EQ(pub(PUB_DOC("x${iot:Certificate.SerialNumber}"), &nocert, "x"), 0);
}

ROOST_TEST(every_dn_attribute_name)
{
    static const char *const names[ROOST_AUTHZ_DN_COUNT] = {
        "CommonName", "Country", "Organization", "OrganizationalUnit",
        "DistinguishedNameQualifier", "State", "Locality", "Title", "SerialNumber",
        "Surname", "GivenName", "Initials", "Pseudonym", "GenerationQualifier"};
    for (int i = 0; i < ROOST_AUTHZ_DN_COUNT; i++) {
        CHECK_EQ(roost_authz_dn_attr_lookup(names[i], strlen(names[i])), i);
        struct roost_authz_cert cert;
        memset(&cert, 0, sizeof(cert));
        char sv[32], iv[32];
        snprintf(sv, sizeof(sv), "s-%d", i);
        snprintf(iv, sizeof(iv), "i-%d", i);
        cert.subject[i] = (struct roost_authz_values){{sv, "second"}, 2};
        cert.issuer[i] = (struct roost_authz_values){{iv}, 1};
        struct roost_authz_ctx ctx = {.cert = &cert};
        char doc[512];
        snprintf(doc, sizeof(doc),
                 PUB_DOC("${iot:Certificate.Subject.%s}/${iot:Certificate.Issuer.%s}/"
                         "${iot:Certificate.Subject.%s.1}"),
                 names[i], names[i], names[i]);
        char want[96];
        snprintf(want, sizeof(want), "%s/%s/second", sv, iv);
        if (pub(doc, &ctx, want) != 1)
            roost_test_fail(__FILE__, __LINE__, "attribute %s did not substitute", names[i]);
    }
}

ROOST_TEST(certificate_alternative_names)
{
    struct roost_authz_cert cert = test_cert();
    struct roost_authz_ctx ctx = {.cert = &cert};
    CHECK_EQ(pub(PUB_DOC("${iot:Certificate.Subject.AlternativeName.DNSName}"), &ctx,
                 "dev-1.example.com"),
             1);
    CHECK_EQ(pub(PUB_DOC("${iot:Certificate.Subject.AlternativeName.DNSName.1}"), &ctx,
                 "alt.example.com"),
             1);
    CHECK_EQ(pub(PUB_DOC("${iot:Certificate.Subject.AlternativeName.IPAddress}"), &ctx,
                 "10.1.2.3"),
             1);
    CHECK_EQ(pub(PUB_DOC("${iot:Certificate.Subject.AlternativeName.RFC822Name}"), &ctx,
                 "ops@example.com"),
             1);
    CHECK_EQ(pub(PUB_DOC("${iot:Certificate.Subject.AlternativeName.UniformResourceIdentifier}"),
                 &ctx, "spiffe://example/dev-1"),
             1);
    CHECK_EQ(pub(PUB_DOC("${iot:Certificate.Subject.AlternativeName.DirectoryName}"), &ctx,
                 "CN=dir,O=Example"),
             1);
    CHECK_EQ(pub(PUB_DOC("${iot:Certificate.Issuer.AlternativeName.RFC822Name}"), &ctx,
                 "ca@example.com"),
             1);
    CHECK_EQ(pub(PUB_DOC("x${iot:Certificate.Issuer.AlternativeName.DNSName}"), &ctx, "x"), 0);
    /* .List of a SAN in a condition. */
    const char *doc = TU_DOC("{`Effect`:`Allow`,`Action`:`iot:Connect`,`Resource`:`*`,"
                             "`Condition`:{`ForAnyValue:StringLike`:{"
                             "`iot:Certificate.Subject.AlternativeName.DNSName.List`:"
                             "`alt.*`}}}");
    CHECK_EQ(tu_allows(doc, &ctx, ROOST_AUTHZ_CONNECT, ROOST_AUTHZ_RES_CLIENT, "c"), 1);
}

ROOST_TEST(certificate_values_aws_will_not_substitute)
{
    struct roost_authz_cert cert;
    memset(&cert, 0, sizeof(cert));
    static const char *const bad[] = {"a*b", "a$b", "a+b", "a?b", "a#b"};
    for (size_t i = 0; i < ROOST_ARRAY_LEN(bad); i++) {
        cert.subject[ROOST_AUTHZ_DN_COMMON_NAME] = (struct roost_authz_values){{bad[i]}, 1};
        struct roost_authz_ctx ctx = {.cert = &cert};
        if (pub(PUB_DOC("${iot:Certificate.Subject.CommonName}"), &ctx, bad[i]) != 0)
            roost_test_fail(__FILE__, __LINE__, "%s was substituted", bad[i]);
    }
    char longv[1100];
    memset(longv, 'a', sizeof(longv) - 1);
    longv[sizeof(longv) - 1] = '\0';
    cert.subject[ROOST_AUTHZ_DN_COMMON_NAME] = (struct roost_authz_values){{longv}, 1};
    struct roost_authz_ctx ctx = {.cert = &cert};
    CHECK_EQ(pub(PUB_DOC("${iot:Certificate.Subject.CommonName}"), &ctx, longv), 0);
    longv[1024] = '\0'; /* exactly the limit is fine */
    CHECK_EQ(pub(PUB_DOC("${iot:Certificate.Subject.CommonName}"), &ctx, longv), 1);
}

ROOST_TEST(connection_variables)
{
    struct roost_authz_ctx ctx = {.client_id = "c", .domain = "iot.example.com",
                                  .source_ip = "203.0.113.7"};
    CHECK_EQ(pub(PUB_DOC("d/${iot:Domain}"), &ctx, "d/iot.example.com"), 1);
    CHECK_EQ(pub(PUB_DOC("ip/${aws:SourceIp}"), &ctx, "ip/203.0.113.7"), 1);
    struct roost_authz_ctx none = {.client_id = "c"};
    CHECK_EQ(pub(PUB_DOC("d/${iot:Domain}"), &none, "d/"), 0);
    /* Multi-valued keys never substitute. */
    struct roost_authz_ctx attrs = {.client_id = "c", .has_connect_attrs = true,
                                    .connect_attrs = ROOST_AUTHZ_CONNECT_PERSISTENT};
    CHECK_EQ(pub(PUB_DOC("x${iot:ConnectAttributes}"), &attrs, "xPersistentConnect"), 0);
}

ROOST_TEST(unknown_variables_defaults_and_syntax)
{
    struct roost_authz_ctx ctx = {.client_id = "dev1"};
    CHECK_EQ(pub(PUB_DOC("x/${iot:NoSuchThing}"), &ctx, "x/"), 0);
    CHECK_EQ(pub(PUB_DOC("x/${}"), &ctx, "x/"), 0);
    /* IAM defaults: used when the key has no value. */
    CHECK_EQ(pub(PUB_DOC("x/${iot:NoSuchThing, 'fallback'}"), &ctx, "x/fallback"), 1);
    CHECK_EQ(pub(PUB_DOC("x/${ iot:ClientId , 'fallback' }"), &ctx, "x/dev1"), 1);
    CHECK_EQ(pub(PUB_DOC("x/${iot:Connection.Thing.ThingName,'none'}"), &ctx, "x/none"), 1);
    CHECK_EQ(pub(PUB_DOC("x/${iot:Nope, 'it''s'}"), &ctx, "x/it's"), 1);
    /* A default is literal text: its * is no wildcard. */
    CHECK_EQ(pub(PUB_DOC("x/${iot:Nope, '*'}"), &ctx, "x/*"), 1);
    CHECK_EQ(pub(PUB_DOC("x/${iot:Nope, '*'}"), &ctx, "x/y"), 0);
    /* Unterminated syntax is plain text. */
    CHECK_EQ(pub(PUB_DOC("x/${iot:ClientId"), &ctx, "x/${iot:ClientId"), 1);
    CHECK_EQ(pub(PUB_DOC("x/${iot:Nope, 'open}"), &ctx, "x/${iot:Nope, 'open}"), 1);
    /* Version 2008-10-17 has no variables: the text is literal. */
    const char *old = "{`Version`:`2008-10-17`,`Statement`:{`Effect`:`Allow`,`Action`:"
                      "`iot:Publish`,`Resource`:`" TU_ARN "topic/${iot:ClientId}`}}";
    CHECK_EQ(pub(old, &ctx, "${iot:ClientId}"), 1);
    CHECK_EQ(pub(old, &ctx, "dev1"), 0);
}

ROOST_TEST(variables_in_condition_values)
{
    struct roost_authz_ctx ctx = {.client_id = "t1", .thing_name = "t1", .thing_attached = true};
    const char *doc = TU_DOC("{`Effect`:`Allow`,`Action`:`iot:Connect`,`Resource`:`*`,"
                             "`Condition`:{`StringEquals`:{`iot:ClientId`:"
                             "`${iot:Connection.Thing.ThingName}`}}}");
    CHECK_EQ(tu_allows(doc, &ctx, ROOST_AUTHZ_CONNECT, ROOST_AUTHZ_RES_CLIENT, "t1"), 1);
    struct roost_authz_ctx other = {.client_id = "x", .thing_name = "t1"};
    CHECK_EQ(tu_allows(doc, &other, ROOST_AUTHZ_CONNECT, ROOST_AUTHZ_RES_CLIENT, "x"), 0);
    /* Unresolvable in a condition value: skipped even for a negated operator. */
    const char *neg = TU_DOC("{`Effect`:`Allow`,`Action`:`iot:Connect`,`Resource`:`*`,"
                             "`Condition`:{`StringNotEquals`:{`iot:ClientId`:"
                             "`${iot:Connection.Thing.ThingName}`}}}");
    struct roost_authz_ctx nothing = {.client_id = "x"};
    CHECK_EQ(tu_bound_count(neg, &nothing), 0);
    /* In a Like pattern a variable's value is literal, the policy's * is not. */
    const char *like = TU_DOC("{`Effect`:`Allow`,`Action`:`iot:Connect`,`Resource`:`*`,"
                              "`Condition`:{`StringLike`:{`iot:ClientId`:"
                              "`${iot:Connection.Thing.ThingName}-*`}}}");
    struct roost_authz_ctx starthing = {.client_id = "abc-1", .thing_name = "a*"};
    CHECK_EQ(tu_allows(like, &starthing, ROOST_AUTHZ_CONNECT, ROOST_AUTHZ_RES_CLIENT, "c"), 0);
    struct roost_authz_ctx okthing = {.client_id = "abc-1", .thing_name = "abc"};
    CHECK_EQ(tu_allows(like, &okthing, ROOST_AUTHZ_CONNECT, ROOST_AUTHZ_RES_CLIENT, "c"), 1);
}

ROOST_TEST(unresolvable_skips_deny_too)
{
    /* AWS skips the whole statement, so a Deny that names a variable the
     * connection lacks does not deny. */
    const char *doc = TU_DOC(
        "{`Effect`:`Allow`,`Action`:`iot:Publish`,`Resource`:`*`},"
        "{`Effect`:`Deny`,`Action`:`iot:Publish`,`Resource`:`" TU_ARN
        "topic/${iot:Connection.Thing.ThingName}/*`},"
        "{`Effect`:`Deny`,`Action`:`iot:Publish`,`Resource`:[`" TU_ARN "topic/fixed`,`" TU_ARN
        "topic/x/${iot:Connection.Thing.Attributes[zone]}`]}");
    struct roost_authz_ctx thing = {.client_id = "t", .thing_name = "t"};
    struct roost_authz_ctx none = {.client_id = "t"};
    CHECK_EQ(pub(doc, &thing, "t/x"), 0);
    CHECK_EQ(pub(doc, &none, "t/x"), 1);
    /* One unresolvable entry in a Resource list drops the whole statement:
     * "fixed" is not denied either. */
    CHECK_EQ(pub(doc, &thing, "fixed"), 1);
    CHECK_EQ(tu_bound_count(doc, &thing), 2);
    CHECK_EQ(tu_bound_count(doc, &none), 1);
}
