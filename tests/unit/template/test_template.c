/*
 * test_template.c - unit tests for the provisioning template engine
 * (src/template/template*.c): AWS's documented JITP, bulk and fleet
 * templates produce the plans AWS describes; every intrinsic function, alone
 * and nested, with its errors; conditions; parameter types, defaults and
 * constraints; limits; and the wording of validation errors.
 *
 * Templates are written with ' for " (q() swaps them back) so they stay
 * readable; the JITP request is AWS's own text, escapes and all.
 */
#include "roost_test.h"
#include "template/template.h"
#include "template/template_int.h"

#include <stdio.h>
#include <stdlib.h>

/* ==== Helpers ============================================================== */

/* ' <-> " in a rotating set of buffers, so a few may be live at once. */
static const char *q(const char *s)
{
    static char bufs[4][65536];
    static int next;
    char *b = bufs[next++ % 4];
    size_t n = strlen(s);
    REQUIRE(n < sizeof(bufs[0]));
    for (size_t i = 0; i <= n; i++)
        b[i] = s[i] == '\'' ? '"' : s[i] == '"' ? '\'' : s[i];
    return b;
}

static struct roost_template *parse_at(const char *file, int line, enum roost_template_type type,
                                       const char *body)
{
    char err[512];
    struct roost_template *t = NULL;
    const char *b = q(body);
    int rc = roost_template_parse(b, strlen(b), type, &t, err, sizeof(err));
    if (rc || !t) {
        roost_test_fail(file, line, "parse failed (%s): %s", roost_errname(rc), err);
        roost_test_abort();
    }
    return t;
}
#define PARSE(type, body) parse_at(__FILE__, __LINE__, (type), (body))

static void parse_err_at(const char *file, int line, enum roost_template_type type,
                         const char *body, int want_rc, const char *want)
{
    char err[512];
    struct roost_template *t = (struct roost_template *)1;
    const char *b = q(body);
    int rc = roost_template_parse(b, strlen(b), type, &t, err, sizeof(err));
    if (rc != want_rc)
        roost_test_fail(file, line, "parse gave %s (%s), want %s", roost_errname(rc),
                        rc ? err : "", roost_errname(want_rc));
    else if (!strstr(err, want))
        roost_test_fail(file, line, "error \"%s\" lacks \"%s\"", err, want);
    if (t != NULL)
        roost_test_fail(file, line, "*out_t not NULL on failure");
}
#define PARSE_ERR(type, body, rc, want)                                                            \
    parse_err_at(__FILE__, __LINE__, (type), (body), (rc), (want))

static struct roost_template_plan *apply_at(const char *file, int line,
                                            const struct roost_template *t, const char *params)
{
    char err[512];
    json_t *p = NULL;
    if (params) {
        json_error_t jerr;
        p = json_loads(q(params), 0, &jerr);
        if (!p) {
            roost_test_fail(file, line, "test params are not JSON: %s", jerr.text);
            roost_test_abort();
        }
    }
    struct roost_template_plan *plan = NULL;
    int rc = roost_template_apply(t, p, &plan, err, sizeof(err));
    json_decref(p);
    if (rc || !plan) {
        roost_test_fail(file, line, "apply failed (%s): %s", roost_errname(rc), err);
        roost_test_abort();
    }
    return plan;
}
#define APPLY(t, params) apply_at(__FILE__, __LINE__, (t), (params))

static void apply_err_at(const char *file, int line, const struct roost_template *t,
                         const char *params, int want_rc, const char *want)
{
    char err[512];
    json_t *p = params ? json_loads(q(params), 0, NULL) : NULL;
    struct roost_template_plan *plan = (struct roost_template_plan *)1;
    int rc = roost_template_apply(t, p, &plan, err, sizeof(err));
    json_decref(p);
    if (rc != want_rc)
        roost_test_fail(file, line, "apply gave %s (%s), want %s", roost_errname(rc),
                        rc ? err : "", roost_errname(want_rc));
    else if (!strstr(err, want))
        roost_test_fail(file, line, "error \"%s\" lacks \"%s\"", err, want);
    if (plan != NULL)
        roost_test_fail(file, line, "*out_plan not NULL on failure");
}
#define APPLY_ERR(t, params, rc, want) apply_err_at(__FILE__, __LINE__, (t), (params), (rc), (want))

/* Evaluates `expr` as DeviceConfiguration.v of a template made of `sections`
 * (may be "") and no resources: a flat string, so any function can be tried
 * without thing-name rules in the way. Returns 0 and the value in out, or
 * the error code and message in out. */
static int dc_eval(const char *sections, const char *expr, const char *params, char *out,
                   size_t cap)
{
    static char body[12288];
    snprintf(body, sizeof(body), "{%s 'Resources': {}, 'DeviceConfiguration': {'v': %s}}",
             sections, expr);
    const char *b = q(body);
    struct roost_template *t = NULL;
    int rc = roost_template_parse(b, strlen(b), ROOST_TEMPLATE_FLEET, &t, out, cap);
    if (rc)
        return rc;
    json_t *p = params ? json_loads(q(params), 0, NULL) : NULL;
    struct roost_template_plan *plan = NULL;
    rc = roost_template_apply(t, p, &plan, out, cap);
    if (rc == 0) {
        const json_t *v = json_object_get(plan->device_configuration, "v");
        snprintf(out, cap, "%s", v ? json_string_value(v) : "(no value)");
    }
    json_decref(p);
    roost_template_plan_free(plan);
    roost_template_destroy(t);
    return rc;
}

static void dc_at(const char *file, int line, const char *sections, const char *expr,
                  const char *params, const char *want)
{
    char out[2048];
    int rc = dc_eval(sections, expr, params, out, sizeof(out));
    if (rc)
        roost_test_fail(file, line, "%s failed (%s): %s", expr, roost_errname(rc), out);
    else if (strcmp(out, want) != 0)
        roost_test_fail(file, line, "%s gave \"%s\", want \"%s\"", expr, out, want);
}
#define DC(sections, expr, params, want)                                                           \
    dc_at(__FILE__, __LINE__, (sections), (expr), (params), (want))

static void dc_err_at(const char *file, int line, const char *sections, const char *expr,
                      const char *params, int want_rc, const char *want)
{
    char out[2048];
    int rc = dc_eval(sections, expr, params, out, sizeof(out));
    if (rc != want_rc)
        roost_test_fail(file, line, "%s gave %s (%s), want %s", expr, roost_errname(rc), out,
                        roost_errname(want_rc));
    else if (!strstr(out, want))
        roost_test_fail(file, line, "error \"%s\" lacks \"%s\"", out, want);
}
#define DC_ERR(sections, expr, params, rc, want)                                                   \
    dc_err_at(__FILE__, __LINE__, (sections), (expr), (params), (rc), (want))

static const char *group(const struct roost_template_thing *th, size_t i)
{
    return json_string_value(json_array_get(th->groups, i));
}

static const char *attr(const struct roost_template_thing *th, const char *k)
{
    return json_string_value(json_object_get(th->attributes, k));
}

/* ==== AWS's documented templates ========================================== */

/* The JITP example of the developer guide ("Just-in-time provisioning"), as
 * the registrationConfig it is given in: the template an escaped string. */
static const char jitp_doc_request[] =
    "{ \n"
    "  \"templateBody\" : \"{\\r\\n    \\\"Parameters\\\" : {\\r\\n        \\\"AWS::IoT::C"
    "ertificate::CommonName\\\": {\\r\\n            \\\"Type\\\": \\\"String\\\"\\r\\n    "
    "    },\\r\\n        \\\"AWS::IoT::Certificate::SerialNumber\\\": {\\r\\n            \\"
    "\"Type\\\": \\\"String\\\"\\r\\n        },\\r\\n        \\\"AWS::IoT::Certificate::Co"
    "untry\\\": {\\r\\n            \\\"Type\\\": \\\"String\\\"\\r\\n        },\\r\\n     "
    "   \\\"AWS::IoT::Certificate::Id\\\": {\\r\\n            \\\"Type\\\": \\\"String\\\""
    "\\r\\n        }\\r\\n    },\\r\\n    \\\"Resources\\\": {\\r\\n        \\\"thing\\\":"
    " {\\r\\n            \\\"Type\\\": \\\"AWS::IoT::Thing\\\",\\r\\n            \\\"Prope"
    "rties\\\": {\\r\\n                \\\"ThingName\\\": {\\r\\n                    \\\"R"
    "ef\\\": \\\"AWS::IoT::Certificate::CommonName\\\"\\r\\n                },\\r\\n      "
    "          \\\"AttributePayload\\\": {\\r\\n                    \\\"version\\\": \\\"v"
    "1\\\",\\r\\n                    \\\"serialNumber\\\": {\\r\\n                        "
    "\\\"Ref\\\": \\\"AWS::IoT::Certificate::SerialNumber\\\"\\r\\n                    }\\"
    "r\\n                },\\r\\n                \\\"ThingTypeName\\\": \\\"lightBulb-vers"
    "ionA\\\",\\r\\n                \\\"ThingGroups\\\": [\\r\\n                    \\\"v1"
    "-lightbulbs\\\",\\r\\n                    {\\r\\n                        \\\"Ref\\\":"
    " \\\"AWS::IoT::Certificate::Country\\\"\\r\\n                    }\\r\\n             "
    "   ]\\r\\n            },\\r\\n            \\\"OverrideSettings\\\": {\\r\\n          "
    "      \\\"AttributePayload\\\": \\\"MERGE\\\",\\r\\n                \\\"ThingTypeName"
    "\\\": \\\"REPLACE\\\",\\r\\n                \\\"ThingGroups\\\": \\\"DO_NOTHING\\\"\\"
    "r\\n            }\\r\\n        },\\r\\n        \\\"certificate\\\": {\\r\\n          "
    "  \\\"Type\\\": \\\"AWS::IoT::Certificate\\\",\\r\\n            \\\"Properties\\\": {"
    "\\r\\n                \\\"CertificateId\\\": {\\r\\n                    \\\"Ref\\\": "
    "\\\"AWS::IoT::Certificate::Id\\\"\\r\\n                },\\r\\n                \\\"St"
    "atus\\\": \\\"ACTIVE\\\"\\r\\n            },\\r\\n            \\\"OverrideSettings\\\""
    ": {\\r\\n                \\\"Status\\\": \\\"DO_NOTHING\\\"\\r\\n            }\\r\\n "
    "       },\\r\\n        \\\"policy\\\": {\\r\\n            \\\"Type\\\": \\\"AWS::IoT:"
    ":Policy\\\",\\r\\n            \\\"Properties\\\": {\\r\\n                \\\"PolicyDo"
    "cument\\\": \\\"{ \\\\\\\"Version\\\\\\\": \\\\\\\"2012-10-17\\\\\\\", \\\\\\\"Statem"
    "ent\\\\\\\": [{ \\\\\\\"Effect\\\\\\\": \\\\\\\"Allow\\\\\\\", \\\\\\\"Action\\\\\\\""
    ":[\\\\\\\"iot:Publish\\\\\\\"], \\\\\\\"Resource\\\\\\\": [\\\\\\\"arn:aws:iot:us-eas"
    "t-1:123456789012:topic\\\\\\/foo\\\\\\/bar\\\\\\\"] }] }\\\"\\r\\n            }\\r\\n"
    "        }\\r\\n    }\\r\\n}\",\n"
    "  \"roleArn\" : \"arn:aws:iam::123456789012:role/JITPRole\"\n"
    "}\n";

ROOST_TEST(doc_jitp_example)
{
    json_t *req = json_loads(jitp_doc_request, 0, NULL);
    REQUIRE(req);
    const char *body = json_string_value(json_object_get(req, "templateBody"));
    REQUIRE(body);
    char err[512];
    struct roost_template *t = NULL;
    REQUIRE_OK(roost_template_parse(body, strlen(body), ROOST_TEMPLATE_JITP, &t, err, sizeof(err)));
    CHECK_EQ(roost_template_get_type(t), ROOST_TEMPLATE_JITP);

    /* What JITP takes from a device certificate, and the certificate id. */
    struct roost_template_plan *p =
        APPLY(t, "{'AWS::IoT::Certificate::Id': 'c0ffee', 'AWS::IoT::Certificate::CommonName': "
                 "'lamp-7', 'AWS::IoT::Certificate::SerialNumber': '0A1B', "
                 "'AWS::IoT::Certificate::Country': 'NL', 'AWS::IoT::Certificate::Organization': "
                 "'Acme'}");
    REQUIRE(p->thing);
    CHECK_STR(p->thing->logical_name, "thing");
    CHECK_STR(p->thing->name, "lamp-7");
    CHECK_STR(p->thing->type_name, "lightBulb-versionA");
    CHECK(p->thing->billing_group == NULL);
    CHECK_EQ(json_object_size(p->thing->attributes), 2);
    CHECK_STR(attr(p->thing, "version"), "v1");
    CHECK_STR(attr(p->thing, "serialNumber"), "0A1B");
    CHECK_EQ(json_array_size(p->thing->groups), 2);
    CHECK_STR(group(p->thing, 0), "v1-lightbulbs");
    CHECK_STR(group(p->thing, 1), "NL");
    CHECK_EQ(p->thing->attributes_override, ROOST_OVERRIDE_MERGE);
    CHECK_EQ(p->thing->type_override, ROOST_OVERRIDE_REPLACE);
    CHECK_EQ(p->thing->groups_override, ROOST_OVERRIDE_DO_NOTHING);
    REQUIRE(p->cert);
    CHECK_EQ(p->cert->source, ROOST_TEMPLATE_CERT_ID);
    CHECK_STR(p->cert->value, "c0ffee");
    CHECK(p->cert->active);
    CHECK_EQ(p->cert->status_override, ROOST_OVERRIDE_DO_NOTHING);
    REQUIRE_EQ(p->n_policies, 1);
    CHECK_STR(p->policies[0].logical_name, "policy");
    CHECK_STR(p->policies[0].document,
              "{ \"Version\": \"2012-10-17\", \"Statement\": [{ \"Effect\": \"Allow\", "
              "\"Action\":[\"iot:Publish\"], \"Resource\": "
              "[\"arn:aws:iot:us-east-1:123456789012:topic/foo/bar\"] }] }");
    /* AWS: the name "defaults to a hash of the policy document". */
    CHECK(p->policies[0].name_generated);
    CHECK_STR(p->policies[0].name,
              "7a9846ac0719dcaa92632014a6107805dd9ef561b0e74a47e33c8fc5a8debdc0");
    CHECK_EQ(json_object_size(p->device_configuration), 0);
    roost_template_plan_free(p);

    /* "the device provisioning fails if the certificate doesn't have all of
     * the properties mentioned in the Parameters section" */
    APPLY_ERR(t,
              "{'AWS::IoT::Certificate::Id': 'c0ffee', 'AWS::IoT::Certificate::CommonName': "
              "'lamp-7', 'AWS::IoT::Certificate::SerialNumber': '0A1B'}",
              ROOST_EPROTO,
              "Parameters.AWS::IoT::Certificate::Country: parameter "
              "'AWS::IoT::Certificate::Country' has no value: the device certificate lacks this "
              "field");
    /* JITP provisions the certificate that connected, no other. */
    APPLY_ERR(t,
              "{'AWS::IoT::Certificate::Id': 'c0ffee', 'AWS::IoT::Certificate::CommonName': "
              "'lamp 7', 'AWS::IoT::Certificate::SerialNumber': '0A1B', "
              "'AWS::IoT::Certificate::Country': 'NL'}",
              ROOST_EPROTO, "Resources.thing.Properties.ThingName: 'lamp 7' is not a valid name");
    roost_template_destroy(t);
    json_decref(req);
}

/* The bulk registration example ("Provisioning templates"), with a CSR. */
static const char bulk_csr_template[] =
    "{'Parameters': {'ThingName': {'Type': 'String'}, 'SerialNumber': {'Type': 'String'},"
    "  'Location': {'Type': 'String', 'Default': 'WA'}, 'CSR': {'Type': 'String'}},"
    " 'Resources': {"
    "  'thing': {'Type': 'AWS::IoT::Thing', 'Properties': {"
    "    'ThingName': {'Ref': 'ThingName'},"
    "    'AttributePayload': {'version': 'v1', 'serialNumber': {'Ref': 'SerialNumber'}},"
    "    'ThingTypeName': 'lightBulb-versionA',"
    "    'ThingGroups': ['v1-lightbulbs', {'Ref': 'Location'}]}},"
    "  'certificate': {'Type': 'AWS::IoT::Certificate', 'Properties': {"
    "    'CertificateSigningRequest': {'Ref': 'CSR'}, 'Status': 'ACTIVE'}},"
    "  'policy': {'Type': 'AWS::IoT::Policy', 'Properties': {"
    "    'PolicyDocument': '{ \\'Version\\': \\'2012-10-17\\', \\'Statement\\': [{ "
    "\\'Effect\\': \\'Allow\\', \\'Action\\':[\\'iot:Publish\\'], \\'Resource\\': "
    "[\\'arn:aws:iot:us-east-1:123456789012:topic/foo/bar\\'] }] }'}}}}";

ROOST_TEST(doc_bulk_csr_example)
{
    struct roost_template *t = PARSE(ROOST_TEMPLATE_REGISTER, bulk_csr_template);
    struct roost_template_plan *p =
        APPLY(t, "{'ThingName': 'bulb-1', 'SerialNumber': '123', 'CSR': '-----BEGIN CERTIFICATE "
                 "REQUEST-----\\nMIIB\\n-----END CERTIFICATE REQUEST-----\\n'}");
    REQUIRE(p->thing && p->cert);
    CHECK_STR(p->thing->name, "bulb-1");
    CHECK_STR(group(p->thing, 1), "WA"); /* Location's Default */
    CHECK_EQ(p->thing->attributes_override, ROOST_OVERRIDE_DO_NOTHING);
    CHECK_EQ(p->cert->source, ROOST_TEMPLATE_CERT_CSR);
    CHECK(strstr(p->cert->value, "BEGIN CERTIFICATE REQUEST") != NULL);
    CHECK(p->cert->active);
    /* The same document text as the JITP example: the same generated name. */
    CHECK_STR(p->policies[0].name,
              "7a9846ac0719dcaa92632014a6107805dd9ef561b0e74a47e33c8fc5a8debdc0");
    roost_template_plan_free(p);

    p = APPLY(t, "{'ThingName': 'bulb-1', 'SerialNumber': '123', 'CSR': 'x', 'Location': 'OR'}");
    CHECK_STR(group(p->thing, 1), "OR"); /* a value beats the Default */
    roost_template_plan_free(p);

    APPLY_ERR(t, "{'ThingName': 'bulb-1', 'CSR': 'x'}", ROOST_EPROTO,
              "Resources.thing.Properties.AttributePayload.serialNumber.Ref: parameter "
              "'SerialNumber' has no value: it was not provided and has no Default");
    roost_template_destroy(t);

    /* Fleet provisioning and JITP name the certificate by id only. */
    PARSE_ERR(ROOST_TEMPLATE_FLEET, bulk_csr_template, ROOST_EPROTO,
              "Resources.certificate.Properties: FLEET_PROVISIONING templates name the "
              "certificate by CertificateId only");
}

/* The fleet provisioning example ("Provisioning templates", Fleet
 * provisioning), with the ThingName its later revisions added. */
static const char fleet_template[] =
    "{'Parameters': {'ThingName': {'Type': 'String'}, 'SerialNumber': {'Type': 'String'},"
    "  'DeviceLocation': {'Type': 'String'}},"
    " 'Mappings': {'LocationTable': {'Seattle': {'LocationUrl': 'https://example.aws'}}},"
    " 'Resources': {"
    "  'thing': {'Type': 'AWS::IoT::Thing', 'Properties': {"
    "    'ThingName': {'Ref': 'ThingName'},"
    "    'AttributePayload': {'version': 'v1', 'serialNumber': 'serialNumber'},"
    "    'ThingTypeName': {'Fn::Join': ['', ['ThingPrefix_', {'Ref': 'SerialNumber'}]]},"
    "    'ThingGroups': ['v1-lightbulbs', 'WA'],"
    "    'BillingGroup': 'LightBulbBillingGroup'},"
    "   'OverrideSettings': {'AttributePayload': 'MERGE', 'ThingTypeName': 'REPLACE',"
    "    'ThingGroups': 'DO_NOTHING'}},"
    "  'certificate': {'Type': 'AWS::IoT::Certificate', 'Properties': {"
    "    'CertificateId': {'Ref': 'AWS::IoT::Certificate::Id'}, 'Status': 'Active'}},"
    "  'policy': {'Type': 'AWS::IoT::Policy', 'Properties': {"
    "    'PolicyDocument': {'Version': '2012-10-17', 'Statement': [{'Effect': 'Allow',"
    "      'Action': ['iot:Publish'],"
    "      'Resource': ['arn:aws:iot:us-east-1:123456789012:topic/foo/bar']}]}}}},"
    " 'DeviceConfiguration': {'FallbackUrl': 'https://www.example.com/test-site',"
    "  'LocationUrl': {'Fn::FindInMap': ['LocationTable', {'Ref': 'DeviceLocation'}, "
    "'LocationUrl']}}}";

ROOST_TEST(doc_fleet_example)
{
    struct roost_template *t = PARSE(ROOST_TEMPLATE_FLEET, fleet_template);
    struct roost_template_plan *p =
        APPLY(t, "{'ThingName': 'bulb-9', 'SerialNumber': '42', 'DeviceLocation': 'Seattle',"
                 " 'AWS::IoT::Certificate::Id': 'abc123'}");
    REQUIRE(p->thing && p->cert);
    CHECK_STR(p->thing->name, "bulb-9");
    CHECK_STR(p->thing->type_name, "ThingPrefix_42");
    CHECK_STR(p->thing->billing_group, "LightBulbBillingGroup");
    CHECK_STR(attr(p->thing, "serialNumber"), "serialNumber");
    CHECK_EQ(p->thing->attributes_override, ROOST_OVERRIDE_MERGE);
    CHECK_EQ(p->thing->type_override, ROOST_OVERRIDE_REPLACE);
    CHECK_STR(p->cert->value, "abc123");
    CHECK(p->cert->active); /* "Active": AWS's own example, any case */
    REQUIRE_EQ(p->n_policies, 1);
    CHECK_STR(p->policies[0].document,
              "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":["
              "\"iot:Publish\"],\"Resource\":[\"arn:aws:iot:us-east-1:123456789012:topic/foo/"
              "bar\"]}]}");
    char want[65];
    template__sha256_hex(p->policies[0].document, strlen(p->policies[0].document), want);
    CHECK_STR(p->policies[0].name, want);
    CHECK_EQ(json_object_size(p->device_configuration), 2);
    CHECK_STR(json_string_value(json_object_get(p->device_configuration, "FallbackUrl")),
              "https://www.example.com/test-site");
    CHECK_STR(json_string_value(json_object_get(p->device_configuration, "LocationUrl")),
              "https://example.aws");
    roost_template_plan_free(p);

    APPLY_ERR(t,
              "{'ThingName': 'b', 'SerialNumber': '42', 'DeviceLocation': 'Boston',"
              " 'AWS::IoT::Certificate::Id': 'abc123'}",
              ROOST_EPROTO,
              "DeviceConfiguration.LocationUrl.Fn::FindInMap: mapping 'LocationTable' has no "
              "key 'Boston'");
    APPLY_ERR(t, "{'ThingName': 'b', 'SerialNumber': '42', 'DeviceLocation': 'Seattle'}",
              ROOST_EPROTO,
              "Resources.certificate.Properties.CertificateId.Ref: parameter "
              "'AWS::IoT::Certificate::Id' has no value");
    roost_template_destroy(t);
}

ROOST_TEST(fleet_certificate_must_be_the_provisioned_one)
{
    struct roost_template *t = PARSE(
        ROOST_TEMPLATE_FLEET,
        "{'Resources': {'c': {'Type': 'AWS::IoT::Certificate', 'Properties': {"
        "'CertificateId': 'someone-elses'}}}}");
    APPLY_ERR(t, "{'AWS::IoT::Certificate::Id': 'mine'}", ROOST_EPROTO,
              "Resources.c.Properties.CertificateId: 'someone-elses' is not the certificate "
              "being provisioned");
    roost_template_destroy(t);
    /* RegisterThing may name any existing certificate. */
    t = PARSE(ROOST_TEMPLATE_REGISTER,
              "{'Resources': {'c': {'Type': 'AWS::IoT::Certificate', 'Properties': {"
              "'CertificateID': 'someone-elses', 'Status': 'inactive'},"
              " 'OverrideSettings': {'Status': 'REPLACE'}}}}");
    struct roost_template_plan *p = APPLY(t, "{'AWS::IoT::Certificate::Id': 'mine'}");
    CHECK_STR(p->cert->value, "someone-elses");
    CHECK(!p->cert->active);
    CHECK_EQ(p->cert->status_override, ROOST_OVERRIDE_REPLACE);
    CHECK(p->thing == NULL);
    CHECK_EQ(p->n_policies, 0);
    roost_template_plan_free(p);
    roost_template_destroy(t);
}

ROOST_TEST(certificate_pem_and_policy_by_name)
{
    struct roost_template *t = PARSE(
        ROOST_TEMPLATE_REGISTER,
        "{'Parameters': {'Pem': {'Type': 'String'}},"
        " 'Resources': {'c': {'Type': 'AWS::IoT::Certificate', 'Properties': {"
        "  'CertificatePem': {'Ref': 'Pem'}, 'CACertificatePem': 'CA'}},"
        " 'p1': {'Type': 'AWS::IoT::Policy', 'Properties': {'PolicyName': 'existing'}},"
        " 'p2': {'Type': 'AWS::IoT::Policy', 'Properties': {'PolicyName': 'named',"
        "  'PolicyDocument': {'Version': '2012-10-17', 'Statement': []}}}}}");
    struct roost_template_plan *p = APPLY(t, "{'Pem': 'PEM'}");
    CHECK_EQ(p->cert->source, ROOST_TEMPLATE_CERT_PEM);
    CHECK_STR(p->cert->value, "PEM");
    CHECK_STR(p->cert->ca_pem, "CA");
    REQUIRE_EQ(p->n_policies, 2);
    CHECK_STR(p->policies[0].name, "existing");
    CHECK(p->policies[0].document == NULL);
    CHECK(!p->policies[0].name_generated);
    CHECK_STR(p->policies[1].name, "named");
    CHECK_STR(p->policies[1].document, "{\"Version\":\"2012-10-17\",\"Statement\":[]}");
    CHECK(!p->policies[1].name_generated);
    roost_template_plan_free(p);
    roost_template_destroy(t);
}

/* ==== Intrinsic functions ================================================== */

#define P_STR "'Parameters': {'P': {'Type': 'String'}, 'Q': {'Type': 'String', 'Default': 'q'}},"

ROOST_TEST(fn_ref)
{
    DC(P_STR, "{'Ref': 'P'}", "{'P': 'hello'}", "hello");
    DC(P_STR, "{'Ref': 'Q'}", NULL, "q");
    DC(P_STR, "{'Ref': 'P'}", "{'P': 12}", "12"); /* numbers arrive as text */
    DC(P_STR, "{'Ref': 'P'}", "{'P': true}", "true");
    DC("", "{'Ref': 'AWS::IoT::Certificate::CommonName'}",
       "{'AWS::IoT::Certificate::CommonName': 'cn'}", "cn");
    DC("", "{'Ref': 'AWS::Region'}", "{'AWS::Region': 'eu-west-1'}", "eu-west-1");
    DC("", "{'Ref': 'AWS::NoValue'}", NULL, "(no value)");
    DC_ERR(P_STR, "{'Ref': 'P'}", NULL, ROOST_EPROTO,
           "DeviceConfiguration.v.Ref: parameter 'P' has no value");
    DC_ERR(P_STR, "{'Ref': 'Nope'}", NULL, ROOST_EPROTO,
           "DeviceConfiguration.v.Ref: Ref to undeclared parameter 'Nope'");
    DC_ERR("", "{'Ref': 'AWS::IoT::Certificate::Id'}", NULL, ROOST_EPROTO,
           "parameter 'AWS::IoT::Certificate::Id' has no value");
    DC_ERR(P_STR, "{'Ref': ['P']}", NULL, ROOST_EPROTO, "Ref takes the name of a parameter");
    PARSE_ERR(ROOST_TEMPLATE_FLEET,
              "{'Resources': {'t': {'Type': 'AWS::IoT::Thing', 'Properties': {"
              "'ThingName': {'Ref': 'p'}}}, 'p': {'Type': 'AWS::IoT::Policy', 'Properties': {"
              "'PolicyName': 'x'}}}}",
              ROOST_EPROTO,
              "Resources.t.Properties.ThingName.Ref: Ref to resource 'p': provisioning "
              "templates can only Ref parameters");
}

ROOST_TEST(fn_join)
{
    DC(P_STR, "{'Fn::Join': ['-', ['a', {'Ref': 'P'}, 3, 'c']]}", "{'P': 'b'}", "a-b-3-c");
    DC("", "{'Fn::Join': ['', []]}", NULL, "");
    DC("", "{'Fn::Join': [', ', ['only']]}", NULL, "only");
    DC("", "{'Fn::Join': ['+', {'Fn::Split': [',', 'x,y,z']}]}", NULL, "x+y+z");
    DC(P_STR, "{'Fn::Join': ['/', ['a', {'Ref': 'AWS::NoValue'}, 'b']]}", NULL, "a/b");
    DC_ERR("", "{'Fn::Join': ['-', ['a', ['b']]]}", NULL, ROOST_EPROTO,
           "DeviceConfiguration.v.Fn::Join[1]: Fn::Join item 1 is a list, not a string");
    DC_ERR("", "{'Fn::Join': ['-']}", NULL, ROOST_EPROTO,
           "DeviceConfiguration.v.Fn::Join: Fn::Join takes [\"delimiter\", [values...]]");
    DC_ERR("", "{'Fn::Join': ['-', ['a'], 'extra']}", NULL, ROOST_EPROTO, "Fn::Join takes");
    DC_ERR("", "{'Fn::Join': [1, ['a']]}", NULL, ROOST_EPROTO, "Fn::Join takes");
    DC_ERR("", "{'Fn::Join': ['-', 'not a list']}", NULL, ROOST_EPROTO,
           "Fn::Join[1]: expected a list");
    DC_ERR(P_STR, "{'Fn::Join': ['-', {'Ref': 'P'}]}", "{'P': 'x'}", ROOST_EPROTO,
           "Fn::Join[1]: expected a list, got a string");
}

ROOST_TEST(fn_select)
{
    DC("", "{'Fn::Select': ['1', ['apples', 'grapes', 'oranges']]}", NULL, "grapes");
    DC("", "{'Fn::Select': [0, ['apples', 'grapes']]}", NULL, "apples");
    DC(P_STR, "{'Fn::Select': [{'Ref': 'P'}, {'Fn::Split': ['.', 'a.b.c']}]}", "{'P': '2'}",
       "c");
    DC_ERR("", "{'Fn::Select': ['3', ['a', 'b', 'c']]}", NULL, ROOST_EPROTO,
           "DeviceConfiguration.v.Fn::Select: Fn::Select index 3 is out of range: the list has "
           "3 items");
    DC_ERR("", "{'Fn::Select': [0, []]}", NULL, ROOST_EPROTO, "the list has 0 items");
    DC_ERR("", "{'Fn::Select': [0, [null]]}", NULL, ROOST_EPROTO, "picked a null value");
    DC_ERR("", "{'Fn::Select': [-1, ['a']]}", NULL, ROOST_EPROTO, "must not be negative");
    DC_ERR("", "{'Fn::Select': ['x', ['a']]}", NULL, ROOST_EPROTO, "'x' is not a whole number");
    DC_ERR("", "{'Fn::Select': [1.5, ['a']]}", NULL, ROOST_EPROTO, "must be a whole number");
    DC_ERR(P_STR, "{'Fn::Select': [{'Ref': 'P'}, ['a']]}", "{'P': 'one'}", ROOST_EPROTO,
           "Fn::Select[0]: Fn::Select index 'one' is not a whole number");
    DC_ERR("", "{'Fn::Select': [0]}", NULL, ROOST_EPROTO, "Fn::Select takes [index, [values...]]");
}

ROOST_TEST(fn_split)
{
    DC("", "{'Fn::Join': ['|', {'Fn::Split': [', ', 'a, b,c, d']}]}", NULL, "a|b,c|d");
    DC("", "{'Fn::Join': ['|', {'Fn::Split': [',', '']}]}", NULL, "");
    DC("", "{'Fn::Select': [2, {'Fn::Split': [',', 'a,,c,']}]}", NULL, "c");
    DC("", "{'Fn::Select': [3, {'Fn::Split': [',', 'a,,c,']}]}", NULL, "");
    DC_ERR("", "{'Fn::Split': ['', 'abc']}", NULL, ROOST_EPROTO, "non-empty delimiter");
    DC_ERR("", "{'Fn::Split': [',', ['a']]}", NULL, ROOST_EPROTO,
           "Fn::Split[1]: Fn::Split's source must be a string");
    /* A list where DeviceConfiguration wants a string. */
    DC_ERR("", "{'Fn::Split': [',', 'a,b']}", NULL, ROOST_EPROTO,
           "DeviceConfiguration.v: DeviceConfiguration is flat: values must be strings, not a "
           "list");
}

ROOST_TEST(fn_sub)
{
    DC(P_STR, "{'Fn::Sub': 'thing-${P}-${Q}'}", "{'P': 'x'}", "thing-x-q");
    DC("", "{'Fn::Sub': 'id=${AWS::IoT::Certificate::Id}'}",
       "{'AWS::IoT::Certificate::Id': 'abc'}", "id=abc");
    DC(P_STR,
       "{'Fn::Sub': ['${Greeting}, ${P}!', {'Greeting': {'Fn::Join': ['', ['he', 'llo']]}}]}",
       "{'P': 'world'}", "hello, world!");
    /* A variable of the two-argument form hides a parameter of the same name. */
    DC(P_STR, "{'Fn::Sub': ['${P}', {'P': 'local'}]}", "{'P': 'param'}", "local");
    DC("", "{'Fn::Sub': 'literal ${!Literal} and $ and { }'}", NULL,
       "literal ${Literal} and $ and { }");
    /* IoT policy variables pass through for the policy engine. */
    DC("", "{'Fn::Sub': 'topic/${iot:Connection.Thing.ThingName}/${aws:SourceIp}'}", NULL,
       "topic/${iot:Connection.Thing.ThingName}/${aws:SourceIp}");
    DC_ERR("", "{'Fn::Sub': 'a ${Nope} b'}", NULL, ROOST_EPROTO,
           "DeviceConfiguration.v.Fn::Sub: Fn::Sub variable '${Nope}' is not a declared "
           "parameter");
    DC_ERR("", "{'Fn::Sub': '${thing.Arn}'}", NULL, ROOST_EPROTO, "names a resource attribute");
    DC_ERR("", "{'Fn::Sub': 'a ${P'}", NULL, ROOST_EPROTO, "unterminated '${'");
    DC_ERR("", "{'Fn::Sub': 'a ${}'}", NULL, ROOST_EPROTO, "empty '${}'");
    DC_ERR(P_STR, "{'Fn::Sub': '${P}'}", NULL, ROOST_EPROTO, "parameter 'P' has no value");
    DC_ERR("", "{'Fn::Sub': ['${V}', {'V': ['a']}]}", NULL, ROOST_EPROTO,
           "Fn::Sub[1].V: an Fn::Sub variable must be a string");
    DC_ERR("", "{'Fn::Sub': ['${V}', {'V': {'Fn::Split': [',', 'a']}}]}", NULL, ROOST_EPROTO,
           "Fn::Sub[1].V: the Fn::Sub variable must be a string, not a list");
    DC_ERR("", "{'Fn::Sub': ['x', 'y', 'z']}", NULL, ROOST_EPROTO,
           "Fn::Sub takes a string or [string, {name: value}]");
    DC_ERR("'Parameters': {'L': {'Type': 'CommaDelimitedList'}},", "{'Fn::Sub': '${L}'}",
           "{'L': 'a,b'}", ROOST_EPROTO, "'${L}' is a list parameter");
}

#define MAPS "'Mappings': {'Region': {'eu': {'Url': 'https://eu', 'Zones': ['a', 'b']}," \
             " 'us': {'Url': 'https://us', 'Port': 8883}}},"

ROOST_TEST(fn_findinmap)
{
    DC(MAPS P_STR, "{'Fn::FindInMap': ['Region', {'Ref': 'P'}, 'Url']}", "{'P': 'us'}",
       "https://us");
    DC(MAPS, "{'Fn::FindInMap': ['Region', 'us', 'Port']}", NULL, "8883");
    DC(MAPS, "{'Fn::Join': [',', {'Fn::FindInMap': ['Region', 'eu', 'Zones']}]}", NULL, "a,b");
    DC_ERR(MAPS P_STR, "{'Fn::FindInMap': ['Region', {'Ref': 'P'}, 'Url']}", "{'P': 'ap'}",
           ROOST_EPROTO, "Fn::FindInMap: mapping 'Region' has no key 'ap'");
    DC_ERR(MAPS, "{'Fn::FindInMap': ['Region', 'eu', 'Port']}", NULL, ROOST_EPROTO,
           "mapping 'Region' has no key 'Port' under 'eu'");
    DC_ERR(MAPS, "{'Fn::FindInMap': ['Nope', 'eu', 'Url']}", NULL, ROOST_EPROTO,
           "no mapping named 'Nope' in Mappings");
    DC_ERR(MAPS P_STR, "{'Fn::FindInMap': [{'Ref': 'P'}, 'eu', 'Url']}", "{'P': 'Nope'}",
           ROOST_EPROTO, "no mapping named 'Nope'");
    DC_ERR(MAPS, "{'Fn::FindInMap': ['Region', 'eu']}", NULL, ROOST_EPROTO,
           "Fn::FindInMap takes [map, key, key]");
    DC_ERR(MAPS, "{'Fn::FindInMap': ['Region', ['eu'], 'Url']}", NULL, ROOST_EPROTO,
           "Fn::FindInMap[1]: an Fn::FindInMap key must be a string");
    DC_ERR("'Mappings': {'M': {'a': {'b': {'Ref': 'P'}}}},", "'x'", NULL, ROOST_EPROTO,
           "Mappings.M.a.b: mapping values must be strings or lists of strings (no functions "
           "in Mappings)");
    DC_ERR("'Mappings': {'M': {'a': 'flat'}},", "'x'", NULL, ROOST_EPROTO,
           "Mappings.M.a: a mapping's first-level value must be an object");
}

#define CONDS                                                                                      \
    "'Parameters': {'Env': {'Type': 'String', 'Default': 'prod'}, 'N': {'Type': 'String', "       \
    "'Default': '1'}},"                                                                            \
    "'Conditions': {'IsProd': {'Fn::Equals': [{'Ref': 'Env'}, 'prod']},"                           \
    " 'IsTest': {'Fn::Not': [{'Condition': 'IsProd'}]},"                                           \
    " 'ProdOne': {'Fn::And': [{'Condition': 'IsProd'}, {'Fn::Equals': [{'Ref': 'N'}, 1]}]},"       \
    " 'Either': {'Fn::Or': [{'Condition': 'IsTest'}, {'Condition': 'ProdOne'}, false]},"          \
    " 'FromParam': {'Fn::Equals': ['true', 'true']}},"

ROOST_TEST(fn_if_and_conditions)
{
    DC(CONDS, "{'Fn::If': ['IsProd', 'p', 't']}", NULL, "p");
    DC(CONDS, "{'Fn::If': ['IsProd', 'p', 't']}", "{'Env': 'test'}", "t");
    DC(CONDS, "{'Fn::If': ['IsTest', 'yes', 'no']}", "{'Env': 'test'}", "yes");
    DC(CONDS, "{'Fn::If': ['ProdOne', 'yes', 'no']}", NULL, "yes"); /* "1" equals 1 */
    DC(CONDS, "{'Fn::If': ['ProdOne', 'yes', 'no']}", "{'N': '2'}", "no");
    DC(CONDS, "{'Fn::If': ['Either', 'yes', 'no']}", "{'N': '2'}", "no");
    DC(CONDS, "{'Fn::If': ['Either', 'yes', 'no']}", "{'Env': 'dev', 'N': '2'}", "yes");
    DC(CONDS, "{'Fn::If': ['IsProd', {'Ref': 'AWS::NoValue'}, 'x']}", NULL, "(no value)");
    /* Only the chosen branch is evaluated. */
    DC(CONDS, "{'Fn::If': ['IsProd', 'ok', {'Fn::Select': [9, []]}]}", NULL, "ok");
    /* Condition functions give booleans, and booleans read as text. */
    DC(CONDS, "{'Fn::Equals': ['a', 'a']}", NULL, "true");
    DC(CONDS, "{'Fn::Not': [{'Fn::Equals': ['a', 'a']}]}", NULL, "false");
    DC(CONDS, "{'Fn::And': [true, 'TRUE']}", NULL, "true");
    DC(CONDS, "{'Fn::Or': [false, 'false']}", NULL, "false");
    DC(CONDS, "{'Fn::Equals': [['a'], ['a']]}", NULL, "true");
    DC(CONDS, "{'Fn::Equals': [{'Ref': 'AWS::NoValue'}, '']}", NULL, "false");

    DC_ERR(CONDS, "{'Fn::If': ['Nope', 'a', 'b']}", NULL, ROOST_EPROTO,
           "DeviceConfiguration.v.Fn::If[0]: no condition named 'Nope' in Conditions");
    DC_ERR(CONDS, "{'Fn::If': ['IsProd', 'a']}", NULL, ROOST_EPROTO,
           "Fn::If takes [condition, value if true, value if false]");
    DC_ERR(CONDS, "{'Fn::If': [{'Condition': 'IsProd'}, 'a', 'b']}", NULL, ROOST_EPROTO,
           "a condition reference must be the name of a condition");
    DC_ERR(CONDS, "{'Fn::Not': [true, false]}", NULL, ROOST_EPROTO, "Fn::Not takes [condition]");
    DC_ERR(CONDS, "{'Fn::And': [true]}", NULL, ROOST_EPROTO,
           "Fn::And takes a list of 2 to 10 conditions");
    DC_ERR(CONDS, "{'Fn::Or': [1,2,3,4,5,6,7,8,9,10,11]}", NULL, ROOST_EPROTO,
           "Fn::Or takes a list of 2 to 10 conditions");
    DC_ERR(CONDS, "{'Fn::Equals': ['a']}", NULL, ROOST_EPROTO, "Fn::Equals takes [value, value]");
    DC_ERR(CONDS, "{'Fn::And': [true, 'maybe']}", NULL, ROOST_EPROTO,
           "Fn::And[1]: expected a condition (true or false), got a string");
    DC_ERR(CONDS, "{'Fn::Not': [{'Condition': 'Ghost'}]}", NULL, ROOST_EPROTO,
           "Fn::Not[0].Condition: no condition named 'Ghost' in Conditions");
    DC_ERR("'Conditions': {'C': {'Fn::Equals': [{'Ref': 'X'}, 'a']}},", "'v'", NULL,
           ROOST_EPROTO, "Conditions.C.Fn::Equals[0].Ref: Ref to undeclared parameter 'X'");
    DC_ERR("'Conditions': {'C': {'Condition': 'D'}},", "'v'", NULL, ROOST_EPROTO,
           "Conditions.C.Condition: no condition named 'D' in Conditions");
    DC_ERR("'Conditions': {'C': 'yes'},", "{'Fn::If': ['C', 'a', 'b']}", NULL, ROOST_EPROTO,
           "Conditions.C: expected a condition (true or false), got a string");
}

ROOST_TEST(conditions_circular)
{
    DC_ERR("'Conditions': {'A': {'Condition': 'A'}},", "'v'", NULL, ROOST_EPROTO,
           "Conditions.A.Condition: circular reference: condition 'A' depends on itself");
    DC_ERR("'Conditions': {'A': {'Fn::Not': [{'Condition': 'B'}]}, 'B': {'Fn::And': [true, "
           "{'Condition': 'A'}]}},",
           "'v'", NULL, ROOST_EPROTO,
           "Conditions.B.Fn::And[1].Condition: circular reference: condition 'A' depends on "
           "itself");
    DC_ERR("'Conditions': {'A': {'Fn::Equals': [{'Fn::If': ['A', 'x', 'y']}, 'x']}},", "'v'",
           NULL, ROOST_EPROTO, "circular reference: condition 'A'");
}

/* A chain of n conditions, c0 -> c1 -> ... -> c(n-1) = true, listed from
 * the end when `reversed` (each then refers to one already checked). */
static void condition_chain(char *out, size_t cap, int n, bool reversed)
{
    size_t off = (size_t)snprintf(out, cap, "'Conditions': {");
    for (int k = 0; k < n; k++) {
        int i = reversed ? n - 1 - k : k;
        if (i == n - 1)
            off += (size_t)snprintf(out + off, cap - off, "'c%d': {'Fn::Equals': [1, 1]}%s", i,
                                    k == n - 1 ? "" : ",");
        else
            off += (size_t)snprintf(out + off, cap - off, "'c%d': {'Condition': 'c%d'}%s", i,
                                    i + 1, k == n - 1 ? "" : ",");
    }
    snprintf(out + off, cap - off, "},");
}

/* expr -> {'Fn::Join': ['', [expr]]}, in place. */
static void wrap_join(char *expr, size_t cap)
{
    static const char pre[] = "{'Fn::Join': ['', [", post[] = "]]}";
    size_t n = strlen(expr);
    REQUIRE(n + sizeof(pre) + sizeof(post) < cap);
    memmove(expr + sizeof(pre) - 1, expr, n);
    memcpy(expr, pre, sizeof(pre) - 1);
    memcpy(expr + sizeof(pre) - 1 + n, post, sizeof(post));
}

ROOST_TEST(nesting_depth_is_bounded)
{
    char sections[4096];
    condition_chain(sections, sizeof(sections), 5, false);
    DC(sections, "{'Fn::If': ['c0', 'deep', 'no']}", NULL, "deep");
    for (int reversed = 0; reversed < 2; reversed++) {
        condition_chain(sections, sizeof(sections), 40, reversed);
        DC_ERR(sections, "'v'", NULL, ROOST_EPROTO, "nest more than 32 levels deep");
    }
    /* Checked from the end, a short chain is fine alone but too deep under a
     * deeply nested Fn::If. */
    condition_chain(sections, sizeof(sections), 14, true);
    DC(sections, "{'Fn::If': ['c0', 'ok', 'no']}", NULL, "ok");
    char expr[2048] = "{'Fn::If': ['c0', 'ok', 'no']}";
    for (int i = 0; i < 8; i++)
        wrap_join(expr, sizeof(expr));
    DC_ERR(sections, expr, NULL, ROOST_EPROTO, "nest more than 32 levels deep");

    char deep[4096] = "'x'";
    for (int i = 0; i < 20; i++)
        wrap_join(deep, sizeof(deep));
    DC_ERR("", deep, NULL, ROOST_EPROTO, "nest more than 32 levels deep");
}

ROOST_TEST(fn_base64)
{
    DC("", "{'Fn::Base64': 'hello'}", NULL, "aGVsbG8=");
    DC("", "{'Fn::Base64': ''}", NULL, "");
    DC("", "{'Fn::Base64': 'ab'}", NULL, "YWI=");
    DC("", "{'Fn::Base64': 'abc'}", NULL, "YWJj");
    DC(P_STR, "{'Fn::Base64': {'Fn::Sub': '${P}:${Q}'}}", "{'P': 'user'}", "dXNlcjpx");
    DC_ERR("", "{'Fn::Base64': ['a']}", NULL, ROOST_EPROTO,
           "Fn::Base64: Fn::Base64's argument must be a string");
}

ROOST_TEST(functions_nest)
{
    /* Serial "ACME-0042-EU": thing "eu-0042", from several functions deep. */
    DC("'Parameters': {'Serial': {'Type': 'String'}},"
       "'Mappings': {'Zones': {'EU': {'Name': 'eu'}}},",
       "{'Fn::Join': ['-', [{'Fn::FindInMap': ['Zones', {'Fn::Select': [2, {'Fn::Split': ['-', "
       "{'Ref': 'Serial'}]}]}, 'Name']}, {'Fn::Select': ['1', {'Fn::Split': ['-', {'Fn::Sub': "
       "'${Serial}'}]}]}]]}",
       "{'Serial': 'ACME-0042-EU'}", "eu-0042");
}

ROOST_TEST(function_object_rules)
{
    DC_ERR("", "{'Fn::GetAtt': ['thing', 'Arn']}", NULL, ROOST_EPROTO,
           "DeviceConfiguration.v.Fn::GetAtt: unknown or unsupported function 'Fn::GetAtt'");
    DC_ERR("", "{'Fn::Frobnicate': 'x'}", NULL, ROOST_EPROTO, "unknown or unsupported function");
    DC_ERR(P_STR, "{'Ref': 'P', 'Extra': 1}", NULL, ROOST_EPROTO,
           "DeviceConfiguration.v: an object calling 'Ref' must have no other member");
    /* Deep inside a literal, a call is still found and checked. */
    PARSE_ERR(ROOST_TEMPLATE_FLEET,
              "{'Resources': {'p': {'Type': 'AWS::IoT::Policy', 'Properties': {"
              "'PolicyDocument': {'Statement': [{'Resource': [{'Fn::Sub': '${Missing}'}]}]}}}}}",
              ROOST_EPROTO,
              "Resources.p.Properties.PolicyDocument.Statement[0].Resource[0].Fn::Sub: Fn::Sub "
              "variable '${Missing}' is not a declared parameter");
}

/* ==== Conditions on resources ============================================== */

static const char conditional_template[] =
    "{'Parameters': {'Name': {'Type': 'String'}, 'Kind': {'Type': 'String', 'Default': 'a'}},"
    " 'Conditions': {'IsA': {'Fn::Equals': [{'Ref': 'Kind'}, 'a']},"
    "  'IsB': {'Fn::Not': [{'Condition': 'IsA'}]}},"
    " 'Resources': {"
    "  'thingA': {'Type': 'AWS::IoT::Thing', 'Condition': 'IsA', 'Properties': {"
    "   'ThingName': {'Fn::Sub': 'a-${Name}'},"
    "   'AttributePayload': {'kind': 'a', 'opt': {'Fn::If': ['IsA', {'Ref': 'AWS::NoValue'}, "
    "'x']}},"
    "   'ThingGroups': ['all', {'Fn::If': ['IsA', 'as', {'Ref': 'AWS::NoValue'}]}]}},"
    "  'thingB': {'Type': 'AWS::IoT::Thing', 'Condition': 'IsB', 'Properties': {"
    "   'ThingName': {'Fn::Sub': 'b-${Name}'}, 'ThingTypeName': {'Ref': 'AWS::NoValue'}}},"
    "  'extra': {'Type': 'AWS::IoT::Policy', 'Condition': 'IsB', 'Properties': {"
    "   'PolicyName': 'b-policy'}}}}";

ROOST_TEST(conditions_skip_resources)
{
    struct roost_template *t = PARSE(ROOST_TEMPLATE_REGISTER, conditional_template);
    struct roost_template_plan *p = APPLY(t, "{'Name': 'n1'}");
    REQUIRE(p->thing);
    CHECK_STR(p->thing->logical_name, "thingA");
    CHECK_STR(p->thing->name, "a-n1");
    CHECK_EQ(json_object_size(p->thing->attributes), 1); /* opt removed by AWS::NoValue */
    CHECK_EQ(json_array_size(p->thing->groups), 2);
    CHECK_EQ(p->n_policies, 0);
    CHECK(p->cert == NULL);
    roost_template_plan_free(p);

    p = APPLY(t, "{'Name': 'n1', 'Kind': 'b'}");
    REQUIRE(p->thing);
    CHECK_STR(p->thing->logical_name, "thingB");
    CHECK_STR(p->thing->name, "b-n1");
    CHECK(p->thing->type_name == NULL);
    CHECK(p->thing->attributes == NULL);
    CHECK(p->thing->groups == NULL);
    REQUIRE_EQ(p->n_policies, 1);
    CHECK_STR(p->policies[0].name, "b-policy");
    roost_template_plan_free(p);
    roost_template_destroy(t);

    /* Two things that both apply are refused when they do. */
    t = PARSE(ROOST_TEMPLATE_REGISTER,
              "{'Conditions': {'On': {'Fn::Equals': [1, 1]}},"
              " 'Resources': {'t1': {'Type': 'AWS::IoT::Thing', 'Properties': {'ThingName': 'a'}},"
              " 't2': {'Type': 'AWS::IoT::Thing', 'Condition': 'On', 'Properties': {"
              "'ThingName': 'b'}}}}");
    APPLY_ERR(t, NULL, ROOST_EPROTO,
              "Resources.t2.Properties: a second AWS::IoT::Thing applies (besides 't1')");
    roost_template_destroy(t);
    PARSE_ERR(ROOST_TEMPLATE_REGISTER,
              "{'Resources': {'t': {'Type': 'AWS::IoT::Thing', 'Condition': 'Nope', "
              "'Properties': {'ThingName': 'a'}}}}",
              ROOST_EPROTO, "Resources.t.Condition: no condition named 'Nope' in Conditions");
}

/* ==== Parameters ============================================================ */

ROOST_TEST(parameter_types)
{
    const char *num = "'Parameters': {'N': {'Type': 'Number', 'Default': 5, 'MinValue': 1, "
                      "'MaxValue': 10}},";
    DC(num, "{'Ref': 'N'}", NULL, "5");
    DC(num, "{'Ref': 'N'}", "{'N': '7.5'}", "7.5");
    DC(num, "{'Ref': 'N'}", "{'N': 3}", "3");
    DC_ERR(num, "{'Ref': 'N'}", "{'N': 'seven'}", ROOST_EPROTO,
           "Parameters.N: parameter 'N' value 'seven' is not a number");
    DC_ERR(num, "{'Ref': 'N'}", "{'N': '11'}", ROOST_EPROTO, "outside its MinValue/MaxValue");
    DC_ERR(num, "{'Ref': 'N'}", "{'N': ['1']}", ROOST_EPROTO, "must be a string, not a list");

    const char *list = "'Parameters': {'L': {'Type': 'CommaDelimitedList', 'Default': "
                       "'10.0.48.0/24, 10.0.112.0/24, 10.0.176.0/24'}},";
    DC(list, "{'Fn::Select': [1, {'Ref': 'L'}]}", NULL, "10.0.112.0/24"); /* trimmed */
    DC(list, "{'Fn::Join': ['|', {'Ref': 'L'}]}", "{'L': 'a,b'}", "a|b");
    DC(list, "{'Fn::Join': ['|', {'Ref': 'L'}]}", "{'L': ['x', 'y z']}", "x|y z");
    DC_ERR(list, "{'Ref': 'L'}", NULL, ROOST_EPROTO,
           "DeviceConfiguration is flat: values must be strings, not a list");
    DC("'Parameters': {'L': {'Type': 'List<String>'}},", "{'Fn::Select': [0, {'Ref': 'L'}]}",
       "{'L': 'only'}", "only");
    const char *nums = "'Parameters': {'L': {'Type': 'List<Number>'}},";
    DC(nums, "{'Fn::Join': ['+', {'Ref': 'L'}]}", "{'L': '1, 2,3'}", "1+2+3");
    DC_ERR(nums, "{'Fn::Join': ['+', {'Ref': 'L'}]}", "{'L': '1,two'}", ROOST_EPROTO,
           "parameter 'L' value 'two' is not a number");
}

ROOST_TEST(parameter_constraints)
{
    const char *allowed = "'Parameters': {'Color': {'Type': 'String', 'AllowedValues': "
                          "['red', 'green']}},";
    DC(allowed, "{'Ref': 'Color'}", "{'Color': 'green'}", "green");
    DC_ERR(allowed, "{'Ref': 'Color'}", "{'Color': 'blue'}", ROOST_EPROTO,
           "Parameters.Color: parameter 'Color' value 'blue' is not one of its AllowedValues");
    const char *pattern = "'Parameters': {'Serial': {'Type': 'String', 'AllowedPattern': "
                          "'[A-Z]{4}-[0-9]+', 'MinLength': 6, 'MaxLength': 12}},";
    DC(pattern, "{'Ref': 'Serial'}", "{'Serial': 'ACME-42'}", "ACME-42");
    DC_ERR(pattern, "{'Ref': 'Serial'}", "{'Serial': 'ACME-42x'}", ROOST_EPROTO,
           "does not match its AllowedPattern"); /* anchored at both ends */
    DC_ERR(pattern, "{'Ref': 'Serial'}", "{'Serial': 'xACME-42'}", ROOST_EPROTO,
           "does not match its AllowedPattern");
    /* Anchored by the match's span, so an alternation cannot slip out. */
    const char *alt = "'Parameters': {'S': {'Type': 'String', 'AllowedPattern': 'a)|(b)'}},";
    DC(alt, "{'Ref': 'S'}", "{'S': 'a)'}", "a)");
    DC_ERR(alt, "{'Ref': 'S'}", "{'S': 'b)'}", ROOST_EPROTO, "does not match its AllowedPattern");
    DC_ERR(alt, "{'Ref': 'S'}", "{'S': 'xb'}", ROOST_EPROTO, "does not match its AllowedPattern");
    DC_ERR(pattern, "{'Ref': 'Serial'}", "{'Serial': 'ACME-123456789'}", ROOST_EPROTO,
           "is 14 characters long, outside its MinLength/MaxLength");
    /* The constraints hold for a Default too, and for unreferenced parameters. */
    DC_ERR("'Parameters': {'C': {'Type': 'String', 'Default': 'x', 'AllowedValues': ['y']}},",
           "'v'", NULL, ROOST_EPROTO, "value 'x' is not one of its AllowedValues");
    DC_ERR("'Parameters': {'C': {'Type': 'String', 'AllowedPattern': '(a)\\\\1'}},", "'v'", NULL,
           ROOST_EPROTO, "without back references");
    DC_ERR("'Parameters': {'C': {'Type': 'String', 'AllowedPattern': '(unclosed'}},", "'v'",
           NULL, ROOST_EPROTO, "AllowedPattern must be a POSIX extended regular expression");
}

ROOST_TEST(parameter_declarations)
{
    DC_ERR("'Parameters': {'P': {'Default': 'x'}},", "'v'", NULL, ROOST_EPROTO,
           "Parameters.P: Type is required");
    DC_ERR("'Parameters': {'P': {'Type': 'AWS::EC2::VPC::Id'}},", "'v'", NULL, ROOST_EPROTO,
           "Parameters.P: unsupported Type 'AWS::EC2::VPC::Id'");
    DC_ERR("'Parameters': {'P': {'Type': 'String', 'Defualt': 'x'}},", "'v'", NULL,
           ROOST_EPROTO, "Parameters.P: unknown parameter attribute 'Defualt'");
    DC_ERR("'Parameters': {'P': {'Type': 'String', 'Default': {'a': 1}}},", "'v'", NULL,
           ROOST_EPROTO, "Default must be a string");
    DC_ERR("'Parameters': {'P': {'Type': 'String', 'AllowedValues': []}},", "'v'", NULL,
           ROOST_EPROTO, "AllowedValues must be a non-empty list");
    DC_ERR("'Parameters': {'P': {'Type': 'String', 'MinLength': -1}},", "'v'", NULL,
           ROOST_EPROTO, "MinLength must be a non-negative integer");
    DC_ERR("'Parameters': {'P': 'String'},", "'v'", NULL, ROOST_EPROTO,
           "a parameter declaration must be an object");
    DC_ERR("'Parameters': {'': {'Type': 'String'}},", "'v'", NULL, ROOST_EPROTO,
           "a parameter needs a name");
    DC("'Parameters': {'P': {'Type': 'String', 'Description': 'd', 'NoEcho': true}},", "'v'",
       NULL, "v");
}

ROOST_TEST(request_parameters_must_be_strings)
{
    DC_ERR(P_STR, "{'Ref': 'Q'}", "{'P': {'nested': 1}}", ROOST_EMALFORMED,
           "parameter 'P' must be a string, not an object");
    DC_ERR(P_STR, "{'Ref': 'Q'}", "{'P': [{'x': 1}]}", ROOST_EMALFORMED,
           "parameter 'P' must be a string or a list of strings");
    DC_ERR(P_STR, "{'Ref': 'Q'}", "['P']", ROOST_EMALFORMED,
           "the parameters must be a JSON object");
    DC(P_STR, "{'Ref': 'Q'}", "{'Q': null}", "q"); /* null is absent */
    DC(P_STR, "{'Ref': 'Q'}", "{'Unrelated': 'x'}", "q");
}

/* ==== Resources and values ================================================= */

#define THING(props) "{'Resources': {'t': {'Type': 'AWS::IoT::Thing', 'Properties': {" props "}}}}"

ROOST_TEST(thing_values_follow_aws_rules)
{
    struct roost_template *t = PARSE(
        ROOST_TEMPLATE_REGISTER,
        "{'Parameters': {'N': {'Type': 'String'}, 'V': {'Type': 'String', 'Default': 'ok'}},"
        " 'Resources': {'t': {'Type': 'AWS::IoT::Thing', 'Properties': {"
        "  'ThingName': {'Ref': 'N'}, 'AttributePayload': {'a': {'Ref': 'V'}, 'n': 7},"
        "  'ThingGroups': [{'Ref': 'N'}]}}}}");
    struct roost_template_plan *p = APPLY(t, "{'N': 'dev_01:x'}");
    CHECK_STR(p->thing->name, "dev_01:x");
    CHECK_STR(attr(p->thing, "n"), "7");
    roost_template_plan_free(p);
    APPLY_ERR(t, "{'N': 'has space'}", ROOST_EPROTO,
              "Resources.t.Properties.ThingName: 'has space' is not a valid name");
    APPLY_ERR(t, "{'N': 'ok', 'V': 'bad value'}", ROOST_EPROTO,
              "Resources.t.Properties.AttributePayload.a: 'bad value' is not a valid attribute "
              "value");
    char longname[200];
    memset(longname, 'x', 129);
    longname[129] = '\0';
    char params[300];
    snprintf(params, sizeof(params), "{'N': '%s'}", longname);
    APPLY_ERR(t, params, ROOST_EPROTO, "is not a valid name");
    roost_template_destroy(t);

    /* CreateThing's {"attributes": {...}} shape is taken as well. */
    t = PARSE(ROOST_TEMPLATE_REGISTER,
              THING("'ThingName': 'x', 'AttributePayload': {'Attributes': {'k': 'v'}}"));
    p = APPLY(t, NULL);
    CHECK_STR(attr(p->thing, "k"), "v");
    roost_template_plan_free(p);
    roost_template_destroy(t);

    t = PARSE(ROOST_TEMPLATE_REGISTER,
              THING("'ThingName': 'x', 'ThingGroups': {'Fn::Split': [',', 'g1,bad group']}"));
    APPLY_ERR(t, NULL, ROOST_EPROTO,
              "Resources.t.Properties.ThingGroups[1]: 'bad group' is not a valid thing group "
              "name");
    roost_template_destroy(t);
    t = PARSE(ROOST_TEMPLATE_REGISTER,
              THING("'ThingName': 'x', 'AttributePayload': {'Fn::Join': ['', ['a']]}"));
    APPLY_ERR(t, NULL, ROOST_EPROTO,
              "Resources.t.Properties.AttributePayload: must be an object of name-value pairs, "
              "not a string");
    roost_template_destroy(t);
    t = PARSE(ROOST_TEMPLATE_REGISTER, THING("'ThingName': {'Ref': 'AWS::NoValue'}"));
    APPLY_ERR(t, NULL, ROOST_EPROTO, "ThingName is required and has no value");
    roost_template_destroy(t);
}

ROOST_TEST(resource_validation)
{
    PARSE_ERR(ROOST_TEMPLATE_REGISTER, THING("'ThingTypeName': 'x'"), ROOST_EPROTO,
              "Resources.t.Properties: ThingName is required");
    PARSE_ERR(ROOST_TEMPLATE_REGISTER, THING("'ThingName': 'x', 'Color': 'red'"), ROOST_EPROTO,
              "Resources.t.Properties: unknown thing property 'Color'");
    PARSE_ERR(ROOST_TEMPLATE_REGISTER, THING("'ThingName': ['x']"), ROOST_EPROTO,
              "Resources.t.Properties.ThingName: must be a string");
    PARSE_ERR(ROOST_TEMPLATE_REGISTER, THING("'ThingName': 'x', 'ThingGroups': 'g'"),
              ROOST_EPROTO, "Resources.t.Properties.ThingGroups: must be a list of strings");
    PARSE_ERR(ROOST_TEMPLATE_REGISTER, THING("'ThingName': 'x', 'AttributePayload': 'a=b'"),
              ROOST_EPROTO, "AttributePayload: must be an object of name-value pairs");
    PARSE_ERR(ROOST_TEMPLATE_REGISTER,
              "{'Resources': {'t': {'Type': 'AWS::IoT::Thing', 'Properties': {'ThingName': 'x'},"
              " 'OverrideSettings': {'ThingTypeName': 'MERGE'}}}}",
              ROOST_EPROTO,
              "Resources.t.OverrideSettings.ThingTypeName: MERGE is only for AttributePayload "
              "and ThingGroups");
    PARSE_ERR(ROOST_TEMPLATE_REGISTER,
              "{'Resources': {'t': {'Type': 'AWS::IoT::Thing', 'Properties': {'ThingName': 'x'},"
              " 'OverrideSettings': {'ThingGroups': 'IGNORE'}}}}",
              ROOST_EPROTO, "must be DO_NOTHING, REPLACE, FAIL or MERGE");
    PARSE_ERR(ROOST_TEMPLATE_REGISTER,
              "{'Resources': {'t': {'Type': 'AWS::IoT::Thing', 'Properties': {'ThingName': 'x'},"
              " 'OverrideSettings': {'BillingGroup': 'REPLACE'}}}}",
              ROOST_EPROTO, "OverrideSettings.BillingGroup: no override setting for this property");
    struct roost_template *t =
        PARSE(ROOST_TEMPLATE_REGISTER,
              "{'Resources': {'t': {'Type': 'AWS::IoT::Thing', 'Properties': {'ThingName': 'x'},"
              " 'OverrideSettings': {'ATTRIBUTE_PAYLOAD': 'MERGE', 'THING_GROUPS': 'FAIL'}}}}");
    struct roost_template_plan *p = APPLY(t, NULL);
    CHECK_EQ(p->thing->attributes_override, ROOST_OVERRIDE_MERGE);
    CHECK_EQ(p->thing->groups_override, ROOST_OVERRIDE_FAIL);
    CHECK_EQ(p->thing->type_override, ROOST_OVERRIDE_DO_NOTHING);
    roost_template_plan_free(p);
    roost_template_destroy(t);

    PARSE_ERR(ROOST_TEMPLATE_REGISTER,
              "{'Resources': {'c': {'Type': 'AWS::IoT::Certificate', 'Properties': {"
              "'CertificateId': 'a', 'CertificateSigningRequest': 'b'}}}}",
              ROOST_EPROTO,
              "Resources.c.Properties: exactly one of CertificateId, CertificateSigningRequest "
              "and CertificatePem is required");
    PARSE_ERR(ROOST_TEMPLATE_REGISTER,
              "{'Resources': {'c': {'Type': 'AWS::IoT::Certificate', 'Properties': {}}}}",
              ROOST_EPROTO, "exactly one of CertificateId");
    PARSE_ERR(ROOST_TEMPLATE_REGISTER,
              "{'Resources': {'c': {'Type': 'AWS::IoT::Certificate', 'Properties': {"
              "'CertificateId': 'a', 'CACertificatePem': 'b'}}}}",
              ROOST_EPROTO, "CACertificatePem goes only with CertificatePem");
    PARSE_ERR(ROOST_TEMPLATE_REGISTER,
              "{'Resources': {'c': {'Type': 'AWS::IoT::Certificate', 'Properties': {"
              "'CertificateId': 'a', 'Status': 'REVOKED'}}}}",
              ROOST_EPROTO, "Resources.c.Properties.Status: must be ACTIVE or INACTIVE");
    PARSE_ERR(ROOST_TEMPLATE_REGISTER,
              "{'Resources': {'c': {'Type': 'AWS::IoT::Certificate', 'Properties': {"
              "'CertificateId': 'a'}, 'OverrideSettings': {'Status': 'MERGE'}}}}",
              ROOST_EPROTO, "MERGE is only for AttributePayload and ThingGroups");
    t = PARSE(ROOST_TEMPLATE_REGISTER,
              "{'Parameters': {'S': {'Type': 'String'}}, 'Resources': {'c': {'Type': "
              "'AWS::IoT::Certificate', 'Properties': {'CertificateId': 'a', 'Status': "
              "{'Ref': 'S'}}}}}");
    APPLY_ERR(t, "{'S': 'PENDING'}", ROOST_EPROTO,
              "Resources.c.Properties.Status: must be ACTIVE or INACTIVE, not 'PENDING'");
    roost_template_destroy(t);

    PARSE_ERR(ROOST_TEMPLATE_REGISTER,
              "{'Resources': {'p': {'Type': 'AWS::IoT::Policy', 'Properties': {}}}}",
              ROOST_EPROTO,
              "Resources.p.Properties: Neither PolicyName nor PolicyDocument is present");
    PARSE_ERR(ROOST_TEMPLATE_REGISTER,
              "{'Resources': {'p': {'Type': 'AWS::IoT::Policy', 'Properties': {"
              "'PolicyDocument': '{not json'}}}}",
              ROOST_EPROTO, "PolicyDocument: the policy document is not a JSON object");
    PARSE_ERR(ROOST_TEMPLATE_REGISTER,
              "{'Resources': {'p': {'Type': 'AWS::IoT::Policy', 'Properties': {"
              "'PolicyName': 'x'}, 'OverrideSettings': {}}}}",
              ROOST_EPROTO, "override settings are not available for policies");
    t = PARSE(ROOST_TEMPLATE_REGISTER,
              "{'Parameters': {'D': {'Type': 'String'}}, 'Resources': {'p': {'Type': "
              "'AWS::IoT::Policy', 'Properties': {'PolicyDocument': {'Ref': 'D'}}}}}");
    p = APPLY(t, "{'D': '{\\'Version\\': \\'2012-10-17\\'}'}");
    CHECK_STR(p->policies[0].document, "{\"Version\": \"2012-10-17\"}");
    CHECK(p->policies[0].name_generated);
    roost_template_plan_free(p);
    APPLY_ERR(t, "{'D': '[1]'}", ROOST_EPROTO,
              "Resources.p.Properties.PolicyDocument: the policy document is not a JSON object");
    roost_template_destroy(t);
    t = PARSE(ROOST_TEMPLATE_REGISTER,
              "{'Parameters': {'N': {'Type': 'String'}}, 'Resources': {'p': {'Type': "
              "'AWS::IoT::Policy', 'Properties': {'PolicyName': {'Ref': 'N'}}}}}");
    APPLY_ERR(t, "{'N': 'a/b'}", ROOST_EPROTO, "'a/b' is not a valid policy name");
    roost_template_destroy(t);

    PARSE_ERR(ROOST_TEMPLATE_REGISTER,
              "{'Resources': {'x': {'Type': 'AWS::IoT::Topic', 'Properties': {}}}}",
              ROOST_EPROTO, "Resources.x: unsupported resource Type 'AWS::IoT::Topic'");
    PARSE_ERR(ROOST_TEMPLATE_REGISTER,
              "{'Resources': {'x': {'Type': 'AWS::IoT::Thing', 'Properties': {'ThingName': 'a'},"
              " 'DependsOn': 'y'}}}",
              ROOST_EPROTO, "Resources.x: unknown resource member 'DependsOn'");
    PARSE_ERR(ROOST_TEMPLATE_REGISTER, "{'Resources': {'x': {'Type': 'AWS::IoT::Thing'}}}",
              ROOST_EPROTO, "Resources.x.Properties: an object of properties is required");

    char many[4096];
    size_t off = (size_t)snprintf(many, sizeof(many), "{'Resources': {");
    for (int i = 0; i < 11; i++)
        off += (size_t)snprintf(many + off, sizeof(many) - off,
                                "%s'p%d': {'Type': 'AWS::IoT::Policy', 'Properties': {"
                                "'PolicyName': 'p%d'}}",
                                i ? "," : "", i, i);
    snprintf(many + off, sizeof(many) - off, "}}");
    t = PARSE(ROOST_TEMPLATE_REGISTER, many);
    APPLY_ERR(t, NULL, ROOST_EPROTO, "Resources.p10.Properties: more than 10 policies apply");
    roost_template_destroy(t);
}

ROOST_TEST(template_sections)
{
    PARSE_ERR(ROOST_TEMPLATE_FLEET, "{'Parameters': {}}", ROOST_EPROTO,
              "the template has no Resources section");
    PARSE_ERR(ROOST_TEMPLATE_FLEET, "{'Resources': {}, 'Mapping': {}}", ROOST_EPROTO,
              "Mapping: unknown template section");
    PARSE_ERR(ROOST_TEMPLATE_FLEET, "{'Resources': []}", ROOST_EPROTO,
              "Resources: the section must be an object");
    PARSE_ERR(ROOST_TEMPLATE_FLEET, "{'Resources': {'x': 1}}", ROOST_EPROTO,
              "Resources.x: a resource must be an object");
    PARSE_ERR(ROOST_TEMPLATE_FLEET, "{'Resources': {}, 'DeviceConfiguration': {'a': {'b': 'c'}}}",
              ROOST_EPROTO,
              "DeviceConfiguration.a: DeviceConfiguration is flat: values must be strings");
    struct roost_template *t =
        PARSE(ROOST_TEMPLATE_FLEET,
              "{'AWSTemplateFormatVersion': '2010-09-09', 'Description': 'd', 'Resources': {},"
              " 'DeviceConfiguration': {'n': 3, 'b': false, 'gone': {'Ref': 'AWS::NoValue'}}}");
    struct roost_template_plan *p = APPLY(t, NULL);
    CHECK(p->thing == NULL && p->cert == NULL && p->n_policies == 0);
    CHECK_EQ(json_object_size(p->device_configuration), 2);
    CHECK_STR(json_string_value(json_object_get(p->device_configuration, "n")), "3");
    CHECK_STR(json_string_value(json_object_get(p->device_configuration, "b")), "false");
    roost_template_plan_free(p);
    roost_template_destroy(t);
}

/* ==== Limits and malformed input ============================================ */

/* A valid template padded with spaces to exactly `chars` characters, the
 * padding made of `pad` (one character, possibly several bytes). */
static char *padded_template(size_t chars, const char *pad)
{
    const char *head = "{\"Description\": \"";
    const char *tail = "\", \"Resources\": {}}";
    size_t fixed = strlen(head) + strlen(tail);
    size_t n = chars - fixed;
    char *b = malloc(fixed + n * strlen(pad) + 1);
    size_t off = 0;
    memcpy(b, head, strlen(head));
    off += strlen(head);
    for (size_t i = 0; i < n; i++, off += strlen(pad))
        memcpy(b + off, pad, strlen(pad));
    strcpy(b + off, tail);
    return b;
}

ROOST_TEST(body_size_limit)
{
    char err[256];
    struct roost_template *t = NULL;
    char *b = padded_template(ROOST_TEMPLATE_BODY_MAX, "x");
    CHECK_OK(roost_template_parse(b, strlen(b), ROOST_TEMPLATE_FLEET, &t, err, sizeof(err)));
    roost_template_destroy(t);
    free(b);
    /* Characters, not bytes: 10240 two-byte characters are fine. */
    b = padded_template(ROOST_TEMPLATE_BODY_MAX, "\xc3\xa9");
    CHECK(strlen(b) > ROOST_TEMPLATE_BODY_MAX);
    CHECK_OK(roost_template_parse(b, strlen(b), ROOST_TEMPLATE_FLEET, &t, err, sizeof(err)));
    roost_template_destroy(t);
    free(b);
    b = padded_template(ROOST_TEMPLATE_BODY_MAX + 1, "x");
    CHECK_EQ(roost_template_parse(b, strlen(b), ROOST_TEMPLATE_FLEET, &t, err, sizeof(err)),
             ROOST_ETOOBIG);
    CHECK(t == NULL);
    CHECK_STR(err, "the template body is 10241 characters; the limit is 10240");
    free(b);
}

ROOST_TEST(malformed_bodies)
{
    char err[256];
    struct roost_template *t = NULL;
    const char *cases[] = {"", "{", "{\"Resources\": {}", "[]", "\"Resources\"", "null",
                           "{\"Resources\": {}} trailing",
                           "{\"Resources\": {}, \"Resources\": {}}"};
    for (size_t i = 0; i < ROOST_ARRAY_LEN(cases); i++) {
        int rc = roost_template_parse(cases[i], strlen(cases[i]), ROOST_TEMPLATE_FLEET, &t, err,
                                      sizeof(err));
        if (rc != ROOST_EMALFORMED)
            roost_test_fail(__FILE__, __LINE__, "case %zu: %s (%s)", i, roost_errname(rc), err);
        CHECK(t == NULL);
        CHECK(err[0] != '\0');
    }
    CHECK_EQ(roost_template_parse("{\"Resources\": {}}", 17, ROOST_TEMPLATE_FLEET, &t, NULL, 0),
             0);
    roost_template_destroy(t);
    /* A NUL inside the length is not the end of the body. */
    CHECK_EQ(roost_template_parse("{\"Resources\": {}}\0x", 19, ROOST_TEMPLATE_FLEET, &t, err,
                                  sizeof(err)),
             ROOST_EMALFORMED);
    CHECK_STR(roost_template_type_name(ROOST_TEMPLATE_JITP), "JITP");
    enum roost_template_type type;
    CHECK_OK(roost_template_type_parse("FLEET_PROVISIONING", &type));
    CHECK_EQ(type, ROOST_TEMPLATE_FLEET);
    CHECK_EQ(roost_template_type_parse("fleet", &type), ROOST_EINVAL);
    CHECK_STR(roost_override_name(ROOST_OVERRIDE_MERGE), "MERGE");
}

ROOST_TEST(evaluation_output_is_bounded)
{
    char tpl[2048];
    size_t off = (size_t)snprintf(tpl, sizeof(tpl), "{'Fn::Join': ['', [");
    for (int i = 0; i < 40; i++)
        off += (size_t)snprintf(tpl + off, sizeof(tpl) - off, "%s{'Ref': 'P'}", i ? "," : "");
    snprintf(tpl + off, sizeof(tpl) - off, "]]}");
    char *params = malloc(40100);
    strcpy(params, "{'P': '");
    memset(params + 7, 'a', 30000);
    strcpy(params + 30007, "'}");
    DC_ERR(P_STR, tpl, params, ROOST_ETOOBIG, "produces more than 1048576 bytes");
    free(params);
}

ROOST_TEST(errors_are_truncated_not_overrun)
{
    char err[16];
    struct roost_template *t = NULL;
    memset(err, 'z', sizeof(err));
    const char *b = q("{'Resources': {'a-rather-long-resource-name': {'Type': 'Nope'}}}");
    CHECK_EQ(roost_template_parse(b, strlen(b), ROOST_TEMPLATE_FLEET, &t, err, sizeof(err)),
             ROOST_EPROTO);
    CHECK_EQ(strlen(err), sizeof(err) - 1);
    CHECK_MEM(err, "Resources.a-rat", 15);

    /* A path too long for the buffer is cut, not overrun. */
    char deep[2048];
    char key[201];
    memset(key, 'k', 200);
    key[200] = '\0';
    snprintf(deep, sizeof(deep),
             "{'Resources': {'p': {'Type': 'AWS::IoT::Policy', 'Properties': {'PolicyDocument': "
             "{'%s': {'%s': {'Ref': 'Nope'}}}}}}}",
             key, key);
    char big[1024];
    b = q(deep);
    CHECK_EQ(roost_template_parse(b, strlen(b), ROOST_TEMPLATE_FLEET, &t, big, sizeof(big)),
             ROOST_EPROTO);
    if (!strstr(big, "Resources.p.Properties.PolicyDocument.kkk") ||
        !strstr(big, "k...: Ref to undeclared parameter 'Nope'") || strlen(big) > 350)
        roost_test_fail(__FILE__, __LINE__, "error: %s", big);
}

ROOST_TEST(more_value_errors)
{
    struct roost_template *t =
        PARSE(ROOST_TEMPLATE_REGISTER,
              "{'Parameters': {'G': {'Type': 'String'}},"
              " 'Resources': {'t': {'Type': 'AWS::IoT::Thing', 'Properties': {'ThingName': 'x',"
              "  'ThingGroups': {'Ref': 'G'}}}}}");
    APPLY_ERR(t, "{'G': 'one'}", ROOST_EPROTO,
              "Resources.t.Properties.ThingGroups: must be a list of thing group names, not a "
              "string");
    roost_template_destroy(t);
    t = PARSE(ROOST_TEMPLATE_REGISTER,
              "{'Parameters': {'K': {'Type': 'String', 'Default': 'k'}},"
              " 'Conditions': {'C': {'Fn::Equals': [{'Ref': 'K'}, 'yes']}},"
              " 'Resources': {'t': {'Type': 'AWS::IoT::Thing', 'Properties': {'ThingName': 'x',"
              "  'AttributePayload': {'Fn::If': ['C', {'bad key': 'v'}, {'l': ['x']}]}}}}}");
    APPLY_ERR(t, NULL, ROOST_EPROTO,
              "Resources.t.Properties.AttributePayload.l: attribute values must be strings, not "
              "a list");
    APPLY_ERR(t, "{'K': 'yes'}", ROOST_EPROTO,
              "Resources.t.Properties.AttributePayload.bad key: not a valid attribute name");
    roost_template_destroy(t);

    t = PARSE(ROOST_TEMPLATE_REGISTER,
              "{'Parameters': {'K': {'Type': 'String', 'Default': 'k'}},"
              " 'Conditions': {'C': {'Fn::Equals': [{'Ref': 'K'}, 'yes']}},"
              " 'Resources': {'t': {'Type': 'AWS::IoT::Thing', 'Properties': {'ThingName': 'x',"
              "  'AttributePayload': {'n': 1.5, 'b': true, 'i': -3}}},"
              "  'c1': {'Type': 'AWS::IoT::Certificate', 'Properties': {'CertificateId': 'a'}},"
              "  'c2': {'Type': 'AWS::IoT::Certificate', 'Condition': 'C', 'Properties': {"
              "'CertificateId': {'Fn::Split': [',', 'a,b']}}},"
              "  'p': {'Type': 'AWS::IoT::Policy', 'Properties': {'PolicyDocument': {'Fn::If': "
              "['C', {'Ref': 'AWS::NoValue'}, {'Fn::Split': [',', 'a']}]}}}}}");
    APPLY_ERR(t, NULL, ROOST_EPROTO,
              "Resources.p.Properties.PolicyDocument: must be a policy document (an object or a "
              "JSON string), not a list");
    roost_template_destroy(t);
    t = PARSE(ROOST_TEMPLATE_REGISTER,
              "{'Resources': {'t': {'Type': 'AWS::IoT::Thing', 'Properties': {'ThingName': 'x',"
              "  'AttributePayload': {'n': 1.5, 'b': true, 'i': -3}}},"
              "  'c1': {'Type': 'AWS::IoT::Certificate', 'Properties': {'CertificateId': 'a'}},"
              "  'c2': {'Type': 'AWS::IoT::Certificate', 'Properties': {"
              "'CertificateId': {'Fn::Split': [',', 'a,b']}}}}}");
    APPLY_ERR(t, NULL, ROOST_EPROTO,
              "Resources.c2.Properties: a second AWS::IoT::Certificate applies (besides 'c1')");
    roost_template_destroy(t);
    t = PARSE(ROOST_TEMPLATE_REGISTER,
              "{'Resources': {'t': {'Type': 'AWS::IoT::Thing', 'Properties': {'ThingName': 'x',"
              "  'AttributePayload': {'n': 1.5, 'b': true, 'i': -3}}},"
              "  'c2': {'Type': 'AWS::IoT::Certificate', 'Properties': {"
              "'CertificateId': {'Fn::Split': [',', 'a,b']}}}}}");
    APPLY_ERR(t, NULL, ROOST_EPROTO,
              "Resources.c2.Properties.CertificateId: must be a string, not a list");
    roost_template_destroy(t);
    t = PARSE(ROOST_TEMPLATE_REGISTER,
              "{'Resources': {'t': {'Type': 'AWS::IoT::Thing', 'Properties': {'ThingName': 'x',"
              "  'AttributePayload': {'n': 1.5, 'b': true, 'i': -3}}}}}");
    struct roost_template_plan *p = APPLY(t, NULL);
    CHECK_STR(attr(p->thing, "n"), "1.5");
    CHECK_STR(attr(p->thing, "b"), "true");
    CHECK_STR(attr(p->thing, "i"), "-3");
    roost_template_plan_free(p);
    roost_template_destroy(t);

    t = PARSE(ROOST_TEMPLATE_REGISTER,
              "{'Resources': {'p': {'Type': 'AWS::IoT::Policy', 'Properties': {"
              "'PolicyDocument': {'Ref': 'AWS::NoValue'}}}}}");
    APPLY_ERR(t, NULL, ROOST_EPROTO,
              "Resources.p.Properties: Neither PolicyName nor PolicyDocument is present");
    roost_template_destroy(t);

    /* A request value with a NUL inside would be cut short: refused. */
    t = PARSE(ROOST_TEMPLATE_REGISTER,
              "{'Parameters': {'P': {'Type': 'String'}}, 'Resources': {}}");
    json_t *params = json_pack("{s:s%}", "P", "a\0b", (size_t)3);
    struct roost_template_plan *plan = NULL;
    char err[256];
    CHECK_EQ(roost_template_apply(t, params, &plan, err, sizeof(err)), ROOST_EMALFORMED);
    CHECK(strstr(err, "parameter 'P' must be a string, not one with a NUL character") != NULL);
    json_decref(params);
    roost_template_destroy(t);

    char many[8192];
    size_t off = (size_t)snprintf(many, sizeof(many), "{'Resources': {");
    for (int i = 0; i < ROOST_TEMPLATE_MAX_RESOURCES + 1; i++)
        off += (size_t)snprintf(many + off, sizeof(many) - off,
                                "%s'p%d': {'Type': 'AWS::IoT::Policy', 'Properties': {"
                                "'PolicyName': 'p'}}",
                                i ? "," : "", i);
    snprintf(many + off, sizeof(many) - off, "}}");
    PARSE_ERR(ROOST_TEMPLATE_REGISTER, many, ROOST_EPROTO,
              "Resources: 33 resources; a template may declare at most 32");

    char longvar[400];
    memset(longvar, 'v', 300);
    longvar[300] = '\0';
    char expr[512];
    snprintf(expr, sizeof(expr), "{'Fn::Sub': '${%s}'}", longvar);
    DC_ERR("", expr, NULL, ROOST_EPROTO, "is too long");
    DC_ERR("'Parameters': {'P': {'Type': 'String', 'MaxValue': 'x'}},", "'v'", NULL, ROOST_EPROTO,
           "MaxValue must be a number");
    DC_ERR("'Mappings': {'M': []},", "'v'", NULL, ROOST_EPROTO,
           "Mappings.M: a mapping must be an object of objects");
    DC_ERR("'Parameters': {'P': {'Type': 'String'}},", "{'Fn::Base64': {'Fn::Foo': 1}}", NULL,
           ROOST_EPROTO, "Fn::Base64.Fn::Foo: unknown or unsupported function 'Fn::Foo'");
    DC_ERR("", "{'Fn::Base64': {'a': 1}}", NULL, ROOST_EPROTO,
           "Fn::Base64's argument must be a string");
    enum roost_template_type type;
    CHECK_OK(roost_template_type_parse("JITP", &type));
    CHECK_EQ(type, ROOST_TEMPLATE_JITP);
    CHECK_STR(roost_template_type_name(ROOST_TEMPLATE_REGISTER), "REGISTER_THING");
}

ROOST_TEST(sha256_vectors)
{
    char hex[65];
    template__sha256_hex("", 0, hex);
    CHECK_STR(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    template__sha256_hex("abc", 3, hex);
    CHECK_STR(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    template__sha256_hex(two, strlen(two), hex);
    CHECK_STR(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    char *million = malloc(1000000);
    memset(million, 'a', 1000000);
    template__sha256_hex(million, 1000000, hex);
    CHECK_STR(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    free(million);
    /* Lengths around the padding boundary (55, 56, 63, 64 bytes). */
    const size_t lens[] = {55, 56, 63, 64};
    const char *want[] = {"9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318",
                          "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a",
                          "7d3e74a05d7db15bce4ad9ec0658ea98e3f06eeecf16b4c6fff2da457ddc2f34",
                          "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb"};
    char as[64];
    memset(as, 'a', sizeof(as));
    for (size_t i = 0; i < 4; i++) {
        template__sha256_hex(as, lens[i], hex);
        CHECK_STR(hex, want[i]);
    }
}
