/*
 * test_provision.c - unit tests for the registry side of provisioning
 * (src/registry/ops_templates.c, ops_provision.c): the provisioning
 * template control plane and its errors, RegisterThing with each
 * OverrideSettings choice, JITR/JITP of a device certificate made by the
 * openssl CLI under a registered CA, the CA information cache, and fleet
 * provisioning's ownership tokens (single use, expiry, purge). Everything
 * runs the way the API and src/provision run it: one store transaction per
 * call on a real store, effects applied after commit.
 */
#include "registry_env.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

/* ==== Harness ============================================================== */

static int last_status;
static char last_code[64];
static char last_msg[512];
static json_t *last_result;
static size_t last_n_events;
static char last_event_topic[256];
static char last_event_payload[1024];

static size_t slurp_len;

static uint8_t *slurp_bin(const char *name)
{
    char path[700];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = roost_xmalloc((size_t)n + 1);
    slurp_len = fread(buf, 1, (size_t)n, f);
    fclose(f);
    return buf;
}

static void env_close(void)
{
    json_decref(last_result);
    last_result = NULL;
    env_close_registry();
}

/* One call of any kind: an API operation (routed) or a provisioning function. */
enum kind { K_API, K_AUTO, K_FLEET_CREATE, K_PREPARE, K_REGISTER, K_PURGE };

struct req {
    enum kind kind;
    const uint8_t *der;
    size_t der_len;
    const char *ca_id;
    bool apply_template;
    const char *csr;
    const char *tpl;
    const char *token;
    const json_t *params;
    struct roost_api_call *call;
    int rc;
};

static int req_txn(struct roost_store_txn *txn, void *ud)
{
    struct req *r = ud;
    switch (r->kind) {
    case K_API:
        r->rc = roost_registry_call(reg, txn, r->call);
        break;
    case K_AUTO:
        r->rc = roost_registry_auto_register(reg, txn, r->der, r->der_len, r->ca_id,
                                             r->apply_template, r->call);
        break;
    case K_FLEET_CREATE:
        r->rc = roost_registry_fleet_create_certificate(reg, txn, r->csr, r->call);
        break;
    case K_PREPARE:
        r->rc = roost_registry_fleet_prepare(reg, txn, r->tpl, r->token, r->call);
        break;
    case K_REGISTER:
        r->rc = roost_registry_fleet_register_thing(reg, txn, r->tpl, r->token, r->params, r->call);
        break;
    case K_PURGE:
        r->rc = roost_registry_fleet_purge(reg, txn, r->call);
        break;
    }
    return r->rc;
}

/* Runs `r` on `call` with the clock at now_ms (0: the wall clock); the
 * answer goes to the last_* variables, effects are applied after commit.
 * Returns the status. Takes call->query and call->body. */
static int run(struct req *r, struct roost_api_call *call, uint64_t now_ms)
{
    json_decref(last_result);
    last_result = NULL;
    last_code[0] = last_msg[0] = last_event_topic[0] = last_event_payload[0] = '\0';
    call->request_id = "test";
    call->now_ms = now_ms ? now_ms : roost_wall_ms();
    r->call = call;
    run_txn(req_txn, r);
    last_status = call->status;
    if (call->error_code)
        snprintf(last_code, sizeof(last_code), "%s", call->error_code);
    snprintf(last_msg, sizeof(last_msg), "%s", call->error_message);
    last_result = call->result;
    call->result = NULL;
    last_n_events = call->effects.n_events;
    if (last_n_events) {
        snprintf(last_event_topic, sizeof(last_event_topic), "%s", call->effects.events[0].topic);
        snprintf(last_event_payload, sizeof(last_event_payload), "%s",
                 call->effects.events[0].payload);
    }
    if (r->rc == 0)
        roost_registry_apply_effects(reg, &call->effects);
    json_decref(call->query);
    json_decref(call->body);
    roost_api_call_cleanup(call);
    if (last_status != 200 && getenv("TEST_VERBOSE"))
        fprintf(stderr, "  -> %d %s: %s\n", last_status, last_code, last_msg);
    return last_status;
}

/* An API operation: `query` "k=v&k=v", `body` a JSON object (taken) or NULL. */
static int api(const char *method, const char *path, const char *query, json_t *body)
{
    struct roost_api_call call = {0};
    bool known = false;
    if (roost_registry_route(method, path, strlen(path), &call, &known) != 0) {
        fprintf(stderr, "  no route for %s %s\n", method, path);
        json_decref(body);
        return last_status = -1;
    }
    call.query = json_object();
    if (query) {
        char *q = roost_xstrdup(query);
        for (char *save = NULL, *kv = strtok_r(q, "&", &save); kv;
             kv = strtok_r(NULL, "&", &save)) {
            char *eq = strchr(kv, '=');
            if (!eq)
                continue;
            *eq = '\0';
            json_object_set_new(call.query, kv, json_string(eq + 1));
        }
        roost_free(q);
    }
    call.body = body;
    struct req r = {.kind = K_API};
    return run(&r, &call, 0);
}

static int api_text(const char *method, const char *path, const char *query, const char *body)
{
    return api(method, path, query, body ? json_loads(body, 0, NULL) : NULL);
}

static const char *rs(const char *key)
{
    return json_string_value(json_object_get(last_result, key));
}

/* Template text written with ' for " (readability). Caller frees. */
static char *q(const char *s)
{
    char *o = roost_xstrdup(s);
    for (char *p = o; *p; p++)
        if (*p == '\'')
            *p = '"';
    return o;
}

/* CreateProvisioningTemplate with a body written with quotes swapped. */
static int create_template(const char *name, const char *type, bool enabled, const char *tbody,
                           const char *hook_target)
{
    char *b = q(tbody);
    json_t *o = json_pack("{s:s,s:s,s:s,s:b}", "templateName", name, "templateBody", b,
                          "provisioningRoleArn", "arn:aws:iam::123456789012:role/Provisioning",
                          "enabled", enabled);
    if (type)
        json_object_set_new(o, "type", json_string(type));
    if (hook_target)
        json_object_set_new(o, "preProvisioningHook", json_pack("{s:s}", "targetArn", hook_target));
    roost_free(b);
    return api("POST", "/provisioning-templates", NULL, o);
}

static int register_thing(const char *tbody, json_t *params)
{
    char *b = q(tbody);
    json_t *o = json_pack("{s:s}", "templateBody", b);
    roost_free(b);
    if (params)
        json_object_set_new(o, "parameters", params);
    return api("POST", "/things", NULL, o);
}

static void new_cert(bool active, char out[65])
{
    REQUIRE_EQ(api("POST", "/keys-and-certificate", active ? "setAsActive=true" : NULL, NULL), 200);
    snprintf(out, 65, "%s", rs("certificateId"));
}

/* A stored document as JSON, or NULL (caller frees). */
static json_t *get_doc_json(const char *kind, const char *name)
{
    char *body = get_doc(kind, name);
    json_t *j = body ? json_loads(body, 0, NULL) : NULL;
    roost_free(body);
    return j;
}

static const char *member(const json_t *doc, const char *key)
{
    return json_string_value(json_object_get(doc, key));
}

static char *cert_status(const char *id)
{
    json_t *d = get_doc_json("cert", id);
    char *s = roost_xstrdup(d ? member(d, "status") : "(none)");
    json_decref(d);
    return s;
}

#define CHECK_CERT_STATUS(id, want)                                                                \
    do {                                                                                           \
        char *s_ = cert_status(id);                                                                \
        CHECK_STR(s_, want);                                                                       \
        roost_free(s_);                                                                            \
    } while (0)

static bool msg_has(const char *needle)
{
    bool ok = strstr(last_msg, needle) != NULL;
    if (!ok)
        fprintf(stderr, "  message '%s' lacks '%s'\n", last_msg, needle);
    return ok;
}

/* ==== Template control plane ============================================== */

static const char *const FLEET_TPL =
    "{'Parameters': {'SerialNumber': {'Type': 'String'},"
    "                'AWS::IoT::Certificate::Id': {'Type': 'String'}},"
    " 'Resources': {"
    "  'thing': {'Type': 'AWS::IoT::Thing', 'Properties': {"
    "     'ThingName': {'Fn::Join': ['', ['dev-', {'Ref': 'SerialNumber'}]]},"
    "     'AttributePayload': {'serial': {'Ref': 'SerialNumber'}}}},"
    "  'certificate': {'Type': 'AWS::IoT::Certificate', 'Properties': {"
    "     'CertificateId': {'Ref': 'AWS::IoT::Certificate::Id'}, 'Status': 'Active'}},"
    "  'policy': {'Type': 'AWS::IoT::Policy', 'Properties': {'PolicyDocument':"
    "     {'Version': '2012-10-17', 'Statement': [{'Effect': 'Allow',"
    "      'Action': 'iot:Connect', 'Resource': '*'}]}}}},"
    " 'DeviceConfiguration': {'serial': {'Ref': 'SerialNumber'}, 'fixed': 'yes'}}";

ROOST_TEST(template_create_describe_list)
{
    env_open();
    REQUIRE_EQ(create_template("fleet-1", NULL, true, FLEET_TPL, NULL), 200);
    CHECK_STR(rs("templateName"), "fleet-1");
    CHECK_STR(rs("templateArn"), "arn:aws:iot:us-east-1:123456789012:provisioningtemplate/fleet-1");
    CHECK_EQ(json_integer_value(json_object_get(last_result, "defaultVersionId")), 1);

    REQUIRE_EQ(api("GET", "/provisioning-templates/fleet-1", NULL, NULL), 200);
    CHECK_STR(rs("type"), "FLEET_PROVISIONING");
    CHECK(json_is_true(json_object_get(last_result, "enabled")));
    CHECK_STR(rs("provisioningRoleArn"), "arn:aws:iam::123456789012:role/Provisioning");
    char *want_body = q(FLEET_TPL);
    CHECK_STR(rs("templateBody"), want_body);
    roost_free(want_body);
    CHECK(json_is_number(json_object_get(last_result, "creationDate")));
    CHECK(json_is_number(json_object_get(last_result, "lastModifiedDate")));
    CHECK(json_object_get(last_result, "preProvisioningHook") == NULL);

    /* The same name again. */
    CHECK_EQ(create_template("fleet-1", NULL, true, FLEET_TPL, NULL), 409);
    CHECK_STR(last_code, "ResourceAlreadyExistsException");
    CHECK(msg_has("already exists"));

    /* Names, roles, types, bodies. */
    CHECK_EQ(create_template("bad name", NULL, true, FLEET_TPL, NULL), 400);
    CHECK_STR(last_code, "InvalidRequestException");
    CHECK_EQ(create_template("x1234567890123456789012345678901234567", NULL, true, FLEET_TPL, NULL),
             400);
    CHECK_EQ(create_template("t-type", "BULK", true, FLEET_TPL, NULL), 400);
    CHECK(msg_has("FLEET_PROVISIONING, JITP"));
    CHECK_EQ(api_text("POST", "/provisioning-templates", NULL,
                      "{\"templateName\":\"norole\",\"templateBody\":\"{\\\"Resources\\\":{}}\"}"),
             400);
    CHECK(msg_has("provisioningRoleArn"));
    CHECK_EQ(create_template("t-undecl", NULL, true,
                             "{'Resources': {'thing': {'Type': 'AWS::IoT::Thing', 'Properties': "
                             "{'ThingName': {'Ref': 'Missing'}}}}}",
                             NULL),
             400);
    CHECK_STR(last_code, "InvalidRequestException");
    CHECK(msg_has("Resources.thing.Properties.ThingName"));
    CHECK(msg_has("Missing"));
    CHECK_EQ(create_template("t-json", NULL, true, "not json", NULL), 400);
    CHECK(msg_has("JSON"));
    /* A fleet template may only name the certificate being provisioned. */
    CHECK_EQ(create_template("t-csr", NULL, true,
                             "{'Parameters': {'Csr': {'Type': 'String'}}, 'Resources': {'c': "
                             "{'Type': 'AWS::IoT::Certificate', 'Properties': "
                             "{'CertificateSigningRequest': {'Ref': 'Csr'}}}}}",
                             NULL),
             400);
    CHECK(msg_has("Resources.c"));

    /* Hooks: webhook or local command only. */
    CHECK_EQ(create_template("t-lambda", NULL, true, FLEET_TPL,
                             "arn:aws:lambda:us-east-1:123456789012:function:hook"),
             400);
    CHECK(msg_has("webhook"));
    CHECK(msg_has("exec:/absolute/path"));
    CHECK_EQ(create_template("t-rel", NULL, true, FLEET_TPL, "exec:hook.sh"), 400);
    REQUIRE_EQ(create_template("t-hook", NULL, false, FLEET_TPL, "https://hooks.example/p"), 200);
    REQUIRE_EQ(api("GET", "/provisioning-templates/t-hook", NULL, NULL), 200);
    CHECK_STR(json_string_value(json_object_get(json_object_get(last_result, "preProvisioningHook"),
                                                "payloadVersion")),
              "2020-04-01");
    CHECK(json_is_false(json_object_get(last_result, "enabled")));
    json_t *o = json_pack("{s:s,s:s,s:s,s:{s:s,s:s}}", "templateName", "t-pv", "templateBody",
                          "{\"Resources\":{}}", "provisioningRoleArn",
                          "arn:aws:iam::123456789012:role/Provisioning", "preProvisioningHook",
                          "targetArn", "exec:/bin/true", "payloadVersion", "v1");
    CHECK_EQ(api("POST", "/provisioning-templates", NULL, o), 400);
    CHECK(msg_has("payloadVersion"));
    /* JITP templates take no hook. */
    CHECK_EQ(create_template("t-jitp-hook", "JITP", true, "{'Resources': {}}", "exec:/bin/true"),
             400);
    REQUIRE_EQ(create_template("jitp-1", "JITP", false, "{'Resources': {}}", NULL), 200);

    /* List, one per page. */
    REQUIRE_EQ(api("GET", "/provisioning-templates", "maxResults=1", NULL), 200);
    CHECK_EQ(json_array_size(json_object_get(last_result, "templates")), 1);
    CHECK_STR(member(json_array_get(json_object_get(last_result, "templates"), 0), "templateName"),
              "fleet-1");
    char token[64];
    snprintf(token, sizeof(token), "nextToken=%s&maxResults=1", rs("nextToken"));
    REQUIRE_EQ(api("GET", "/provisioning-templates", token, NULL), 200);
    CHECK_STR(member(json_array_get(json_object_get(last_result, "templates"), 0), "templateName"),
              "jitp-1");
    REQUIRE_EQ(api("GET", "/provisioning-templates", NULL, NULL), 200);
    CHECK_EQ(json_array_size(json_object_get(last_result, "templates")), 3);
    CHECK(json_object_get(last_result, "nextToken") == NULL);
    CHECK_STR(member(json_array_get(json_object_get(last_result, "templates"), 1), "type"), "JITP");
    CHECK_EQ(api("GET", "/provisioning-templates", "maxResults=0", NULL), 400);
    CHECK_EQ(api("GET", "/provisioning-templates/nope", NULL, NULL), 404);
    CHECK_STR(last_code, "ResourceNotFoundException");
    env_close();
}

ROOST_TEST(template_update_versions_delete)
{
    env_open();
    REQUIRE_EQ(create_template("tpl", NULL, false, FLEET_TPL, "exec:/bin/true"), 200);
    REQUIRE_EQ(api_text("PATCH", "/provisioning-templates/tpl", NULL,
                        "{\"description\":\"fleet devices\",\"enabled\":true,"
                        "\"removePreProvisioningHook\":true}"),
               200);
    REQUIRE_EQ(api("GET", "/provisioning-templates/tpl", NULL, NULL), 200);
    CHECK_STR(rs("description"), "fleet devices");
    CHECK(json_is_true(json_object_get(last_result, "enabled")));
    CHECK(json_object_get(last_result, "preProvisioningHook") == NULL);
    CHECK_EQ(api_text("PATCH", "/provisioning-templates/tpl", NULL, "{\"type\":\"JITP\"}"), 400);
    CHECK(msg_has("cannot be changed"));
    CHECK_EQ(api_text("PATCH", "/provisioning-templates/tpl", NULL,
                      "{\"preProvisioningHook\":{\"targetArn\":\"exec:/bin/true\"},"
                      "\"removePreProvisioningHook\":true}"),
             400);
    CHECK_EQ(api_text("PATCH", "/provisioning-templates/tpl", NULL, "{\"defaultVersionId\":7}"),
             404);
    CHECK_EQ(api_text("PATCH", "/provisioning-templates/tpl", NULL, "{\"enabled\":\"yes\"}"), 400);
    CHECK_EQ(api_text("PATCH", "/provisioning-templates/none", NULL, "{\"enabled\":true}"), 404);

    /* Versions: 2 becomes the default; the default cannot be deleted. */
    char *b = q("{'Resources': {}}");
    REQUIRE_EQ(api("POST", "/provisioning-templates/tpl/versions", "setAsDefault=true",
                   json_pack("{s:s}", "templateBody", b)),
               200);
    CHECK_EQ(json_integer_value(json_object_get(last_result, "versionId")), 2);
    CHECK(json_is_true(json_object_get(last_result, "isDefaultVersion")));
    CHECK_STR(rs("templateName"), "tpl");
    REQUIRE_EQ(api("GET", "/provisioning-templates/tpl", NULL, NULL), 200);
    CHECK_EQ(json_integer_value(json_object_get(last_result, "defaultVersionId")), 2);
    CHECK_STR(rs("templateBody"), b);
    REQUIRE_EQ(api("GET", "/provisioning-templates/tpl/versions/1", NULL, NULL), 200);
    CHECK(json_is_false(json_object_get(last_result, "isDefaultVersion")));
    CHECK(strstr(rs("templateBody"), "SerialNumber") != NULL);
    CHECK_EQ(api("GET", "/provisioning-templates/tpl/versions/9", NULL, NULL), 404);
    CHECK_EQ(api("GET", "/provisioning-templates/tpl/versions/x", NULL, NULL), 400);
    CHECK_EQ(api("DELETE", "/provisioning-templates/tpl/versions/2", NULL, NULL), 409);
    CHECK_STR(last_code, "DeleteConflictException");
    CHECK(msg_has("default version"));
    /* A bad body for a new version names the problem. */
    CHECK_EQ(api_text("POST", "/provisioning-templates/tpl/versions", NULL,
                      "{\"templateBody\":\"{\\\"Resourcez\\\":{}}\"}"),
             400);
    CHECK_STR(last_code, "InvalidRequestException");
    CHECK(msg_has("Resourcez"));
    /* At most 5 versions. */
    for (int i = 3; i <= 5; i++)
        REQUIRE_EQ(api("POST", "/provisioning-templates/tpl/versions", NULL,
                       json_pack("{s:s}", "templateBody", b)),
                   200);
    CHECK_EQ(api("POST", "/provisioning-templates/tpl/versions", NULL,
                 json_pack("{s:s}", "templateBody", b)),
             409);
    CHECK_STR(last_code, "VersionsLimitExceededException");
    REQUIRE_EQ(api("GET", "/provisioning-templates/tpl/versions", "maxResults=2", NULL), 200);
    CHECK_EQ(json_array_size(json_object_get(last_result, "versions")), 2);
    CHECK_STR(rs("nextToken"), "2");
    REQUIRE_EQ(api("GET", "/provisioning-templates/tpl/versions", "nextToken=2", NULL), 200);
    CHECK_EQ(json_array_size(json_object_get(last_result, "versions")), 3);
    CHECK_EQ(json_integer_value(json_object_get(
                 json_array_get(json_object_get(last_result, "versions"), 0), "versionId")),
             3);
    REQUIRE_EQ(api("DELETE", "/provisioning-templates/tpl/versions/1", NULL, NULL), 200);
    CHECK_EQ(api("GET", "/provisioning-templates/tpl/versions/1", NULL, NULL), 404);
    /* Numbers are not reused. */
    REQUIRE_EQ(api("POST", "/provisioning-templates/tpl/versions", NULL,
                   json_pack("{s:s}", "templateBody", b)),
               200);
    CHECK_EQ(json_integer_value(json_object_get(last_result, "versionId")), 6);
    roost_free(b);

    REQUIRE_EQ(api("DELETE", "/provisioning-templates/tpl", NULL, NULL), 200);
    CHECK_EQ(api("GET", "/provisioning-templates/tpl", NULL, NULL), 404);
    CHECK_EQ(api("DELETE", "/provisioning-templates/tpl", NULL, NULL), 404);
    env_close();
}

/* ==== RegisterThing and the overrides ===================================== */

static const char *const REG_TPL =
    "{'Parameters': {'Name': {'Type': 'String'}, 'CertId': {'Type': 'String'},"
    "                'Color': {'Type': 'String', 'Default': 'red'},"
    "                'Group': {'Type': 'String', 'Default': 'g1'}},"
    " 'Resources': {"
    "  'thing': {'Type': 'AWS::IoT::Thing',"
    "    'OverrideSettings': {'AttributePayload': '%s', 'ThingGroups': '%s',"
    "                         'ThingTypeName': '%s'},"
    "    'Properties': {'ThingName': {'Ref': 'Name'}, 'ThingTypeName': 'T1',"
    "      'ThingGroups': [{'Ref': 'Group'}], 'AttributePayload': {'color': {'Ref': 'Color'}}}},"
    "  'certificate': {'Type': 'AWS::IoT::Certificate', 'OverrideSettings': {'Status': 'REPLACE'},"
    "     'Properties': {'CertificateId': {'Ref': 'CertId'}, 'Status': 'ACTIVE'}},"
    "  'policy': {'Type': 'AWS::IoT::Policy', 'Properties': {'PolicyName': 'P1'}}}}";

static int reg_with(const char *attr_o, const char *group_o, const char *type_o, const char *name,
                    const char *cert, const char *color, const char *group)
{
    char tpl[2048];
    snprintf(tpl, sizeof(tpl), REG_TPL, attr_o, group_o, type_o);
    json_t *p = json_pack("{s:s,s:s}", "Name", name, "CertId", cert);
    if (color)
        json_object_set_new(p, "Color", json_string(color));
    if (group)
        json_object_set_new(p, "Group", json_string(group));
    return register_thing(tpl, p);
}

static json_t *thing_groups(const char *thing)
{
    char path[200];
    snprintf(path, sizeof(path), "/things/%s/thing-groups", thing);
    if (api("GET", path, NULL, NULL) != 200)
        return json_array();
    json_t *names = json_array();
    size_t i;
    json_t *g;
    json_array_foreach(json_object_get(last_result, "thingGroups"), i, g)
        json_array_append(names, json_object_get(g, "groupName"));
    return names;
}

ROOST_TEST(register_thing_and_overrides)
{
    env_open();
    char cert[65];
    new_cert(false, cert);
    REQUIRE_EQ(api_text("POST", "/thing-types/T1", NULL, "{}"), 200);
    REQUIRE_EQ(api_text("POST", "/thing-types/T2", NULL, "{}"), 200);
    REQUIRE_EQ(api_text("POST", "/thing-groups/g1", NULL, "{}"), 200);
    REQUIRE_EQ(api_text("POST", "/thing-groups/g2", NULL, "{}"), 200);

    /* Missing things the template names: each failure names the resource. */
    CHECK_EQ(reg_with("REPLACE", "REPLACE", "REPLACE", "dev1", cert, NULL, NULL), 404);
    CHECK(msg_has("Resources.policy"));
    CHECK(msg_has("P1"));
    REQUIRE_EQ(api_text("POST", "/policies/P1", NULL,
                        "{\"policyDocument\":\"{\\\"Version\\\":\\\"2012-10-17\\\","
                        "\\\"Statement\\\":[{\\\"Effect\\\":\\\"Allow\\\",\\\"Action\\\":"
                        "\\\"iot:*\\\",\\\"Resource\\\":\\\"*\\\"}]}\"}"),
               200);
    CHECK_EQ(reg_with("REPLACE", "REPLACE", "REPLACE", "dev1", cert, NULL, "nogroup"), 404);
    CHECK(msg_has("Resources.thing"));
    CHECK(msg_has("nogroup"));
    /* Nothing of the failed calls stayed. */
    CHECK_EQ(api("GET", "/things/dev1", NULL, NULL), 404);
    CHECK_CERT_STATUS(cert, "INACTIVE");
    char bad_cert[65];
    memset(bad_cert, 'a', 64);
    bad_cert[64] = '\0';
    CHECK_EQ(reg_with("REPLACE", "REPLACE", "REPLACE", "dev1", bad_cert, NULL, NULL), 404);
    CHECK(msg_has("Resources.certificate"));
    CHECK_EQ(reg_with("REPLACE", "REPLACE", "REPLACE", "dev1", "short", NULL, NULL), 400);

    /* Created: thing, type, group, attributes; certificate ACTIVE, policy and thing attached. */
    REQUIRE_EQ(reg_with("REPLACE", "REPLACE", "REPLACE", "dev1", cert, NULL, NULL), 200);
    const json_t *arns = json_object_get(last_result, "resourceArns");
    CHECK_STR(member(arns, "thing"), "arn:aws:iot:us-east-1:123456789012:thing/dev1");
    CHECK_STR(member(arns, "policy"), "arn:aws:iot:us-east-1:123456789012:policy/P1");
    CHECK(strstr(member(arns, "certificate"), cert) != NULL);
    CHECK(rs("certificatePem") != NULL);
    CHECK_CERT_STATUS(cert, "ACTIVE");
    CHECK_EQ(roost_registry_cert_status(reg, cert), ROOST_CERT_ACTIVE);
    char names[4][129];
    REQUIRE_EQ(roost_registry_cert_things(reg, cert, names, 4), 1);
    CHECK_STR(names[0], "dev1");
    REQUIRE_EQ(api("GET", "/things/dev1", NULL, NULL), 200);
    CHECK_STR(rs("thingTypeName"), "T1");
    CHECK_STR(member(json_object_get(last_result, "attributes"), "color"), "red");
    json_t *g = thing_groups("dev1");
    CHECK_EQ(json_array_size(g), 1);
    CHECK_STR(json_string_value(json_array_get(g, 0)), "g1");
    json_decref(g);
    char arn[200];
    snprintf(arn, sizeof(arn), "arn:aws:iot:us-east-1:123456789012:cert/%s", cert);
    char ap_path[300];
    snprintf(ap_path, sizeof(ap_path), "/attached-policies/%s", arn);
    REQUIRE_EQ(api("POST", ap_path, NULL, NULL), 200);
    CHECK_EQ(json_array_size(json_object_get(last_result, "policies")), 1);
    CHECK_STR(member(json_array_get(json_object_get(last_result, "policies"), 0), "policyName"),
              "P1");

    /* Again, the same values: nothing to change, still 200. */
    REQUIRE_EQ(reg_with("FAIL", "FAIL", "FAIL", "dev1", cert, NULL, NULL), 200);
    /* FAIL with other values: ResourceConflictsException. */
    CHECK_EQ(reg_with("FAIL", "DO_NOTHING", "DO_NOTHING", "dev1", cert, "blue", NULL), 409);
    CHECK_STR(last_code, "ResourceConflictsException");
    CHECK(msg_has("AttributePayload"));
    CHECK_EQ(reg_with("DO_NOTHING", "FAIL", "DO_NOTHING", "dev1", cert, NULL, "g2"), 409);
    CHECK(msg_has("ThingGroups"));
    /* DO_NOTHING keeps the existing values. */
    REQUIRE_EQ(reg_with("DO_NOTHING", "DO_NOTHING", "DO_NOTHING", "dev1", cert, "blue", "g2"), 200);
    REQUIRE_EQ(api("GET", "/things/dev1", NULL, NULL), 200);
    CHECK_STR(member(json_object_get(last_result, "attributes"), "color"), "red");
    g = thing_groups("dev1");
    CHECK_EQ(json_array_size(g), 1);
    json_decref(g);
    /* MERGE adds the group; REPLACE swaps the attributes. */
    REQUIRE_EQ(reg_with("REPLACE", "MERGE", "DO_NOTHING", "dev1", cert, "blue", "g2"), 200);
    REQUIRE_EQ(api("GET", "/things/dev1", NULL, NULL), 200);
    CHECK_STR(member(json_object_get(last_result, "attributes"), "color"), "blue");
    g = thing_groups("dev1");
    CHECK_EQ(json_array_size(g), 2);
    json_decref(g);
    /* REPLACE on groups leaves exactly the template's. */
    REQUIRE_EQ(reg_with("DO_NOTHING", "REPLACE", "DO_NOTHING", "dev1", cert, NULL, "g1"), 200);
    g = thing_groups("dev1");
    CHECK_EQ(json_array_size(g), 1);
    CHECK_STR(json_string_value(json_array_get(g, 0)), "g1");
    json_decref(g);
    /* Thing type: FAIL when it differs, REPLACE changes it. */
    REQUIRE_EQ(api_text("PATCH", "/things/dev1", NULL, "{\"thingTypeName\":\"T2\"}"), 200);
    CHECK_EQ(reg_with("DO_NOTHING", "DO_NOTHING", "FAIL", "dev1", cert, NULL, NULL), 409);
    CHECK(msg_has("ThingTypeName"));
    REQUIRE_EQ(reg_with("DO_NOTHING", "DO_NOTHING", "REPLACE", "dev1", cert, NULL, NULL), 200);
    REQUIRE_EQ(api("GET", "/things/dev1", NULL, NULL), 200);
    CHECK_STR(rs("thingTypeName"), "T1");
    env_close();
}

ROOST_TEST(register_thing_inline_policy_and_csr)
{
    env_open();
    REQUIRE_OK(sh("openssl ecparam -name prime256v1 -genkey -noout -out d.key && "
                  "openssl req -new -key d.key -subj /CN=bulk-1 -out d.csr"));
    char *csr = file_in_dir("d.csr");
    REQUIRE(csr);
    const char *tpl =
        "{'Parameters': {'Csr': {'Type': 'String'}, 'Name': {'Type': 'String'}},"
        " 'Resources': {"
        "  'thing': {'Type': 'AWS::IoT::Thing', 'Properties': {'ThingName': {'Ref': 'Name'}}},"
        "  'cert': {'Type': 'AWS::IoT::Certificate', 'Properties': {"
        "     'CertificateSigningRequest': {'Ref': 'Csr'}, 'Status': 'INACTIVE'}},"
        "  'policy': {'Type': 'AWS::IoT::Policy', 'Properties': {'PolicyDocument':"
        "     {'Version': '2012-10-17', 'Statement': [{'Effect': 'Allow',"
        "      'Action': 'iot:Connect', 'Resource': '*'}]}}}}}";
    REQUIRE_EQ(register_thing(tpl, json_pack("{s:s,s:s}", "Csr", csr, "Name", "bulk-1")), 200);
    const char *pem = rs("certificatePem");
    REQUIRE(pem);
    char id[65];
    REQUIRE_OK(roost_pki_cert_id_from_pem(pem, strlen(pem), id));
    CHECK_CERT_STATUS(id, "INACTIVE");
    const char *policy_arn = member(json_object_get(last_result, "resourceArns"), "policy");
    REQUIRE(policy_arn);
    const char *pname = strrchr(policy_arn, '/') + 1;
    CHECK_EQ(strlen(pname), 64); /* the SHA-256 of the document */
    char path[200];
    snprintf(path, sizeof(path), "/policies/%s", pname);
    CHECK_EQ(api("GET", path, NULL, NULL), 200);
    /* Running it again reuses the policy (same generated name) and makes another cert. */
    REQUIRE_EQ(register_thing(tpl, json_pack("{s:s,s:s}", "Csr", csr, "Name", "bulk-1")), 200);
    /* An invalid inline policy is refused, naming the resource. */
    const char *bad =
        "{'Resources': {'policy': {'Type': 'AWS::IoT::Policy', 'Properties': {"
        "  'PolicyName': 'bad', 'PolicyDocument': {'Version': '2012-10-17', 'Statement': "
        "  [{'Effect': 'Maybe', 'Action': 'iot:Connect', 'Resource': '*'}]}}}}}";
    CHECK_EQ(register_thing(bad, NULL), 400);
    CHECK_STR(last_code, "MalformedPolicyException");
    CHECK(msg_has("Resources.policy"));
    CHECK_EQ(api("GET", "/policies/bad", NULL, NULL), 404);
    /* A certificate by PEM (issued here by Roost's CA, not yet registered). */
    struct roost_pki_issued iss = {0};
    REQUIRE_OK(roost_pki_issue_keypair(ca, "pem-dev", 0, 0, &iss));
    const char *pem_tpl =
        "{'Parameters': {'Pem': {'Type': 'String'}, 'CaPem': {'Type': 'String'}},"
        " 'Resources': {'cert': {'Type': 'AWS::IoT::Certificate', 'Properties': {"
        "   'CertificatePem': {'Ref': 'Pem'}, 'CACertificatePem': {'Ref': 'CaPem'}}}}}";
    REQUIRE_EQ(register_thing(pem_tpl, json_pack("{s:s,s:s}", "Pem", iss.cert_pem, "CaPem",
                                                 roost_pki_ca_pem(ca))),
               200);
    CHECK(strstr(member(json_object_get(last_result, "resourceArns"), "certificate"), iss.id) !=
          NULL);
    CHECK_CERT_STATUS(iss.id, "ACTIVE");
    /* Registered already: used as by id, no ResourceAlreadyExists. */
    REQUIRE_EQ(register_thing(pem_tpl, json_pack("{s:s,s:s}", "Pem", iss.cert_pem, "CaPem",
                                                 roost_pki_ca_pem(ca))),
               200);
    roost_pki_issued_cleanup(&iss);
    /* A parameter without a value. */
    CHECK_EQ(register_thing(tpl, json_pack("{s:s}", "Name", "x")), 400);
    CHECK_STR(last_code, "InvalidRequestException");
    CHECK(msg_has("Csr"));
    roost_free(csr);
    env_close();
}

/* ==== JITR / JITP ========================================================= */

static int make_ca(const char *name, const char *cn)
{
    return sh("openssl ecparam -name prime256v1 -genkey -noout -out %s.key && "
              "openssl req -x509 -new -key %s.key -subj '/CN=%s/O=Test' -days 30 -out %s.pem "
              "-addext basicConstraints=critical,CA:TRUE "
              "-addext keyUsage=critical,keyCertSign,cRLSign",
              name, name, cn, name);
}

/* Leaf `name` with subject `subj` signed by `ca_name`; also `name`.der. */
static int make_leaf(const char *name, const char *subj, const char *ca_name)
{
    return sh("openssl ecparam -name prime256v1 -genkey -noout -out %s.key && "
              "openssl req -new -key %s.key -subj '%s' -out %s.csr && "
              "printf 'basicConstraints=CA:FALSE\\n' > %s.ext && "
              "openssl x509 -req -in %s.csr -CA %s.pem -CAkey %s.key -CAcreateserial -days 10 "
              "-extfile %s.ext -out %s.pem && openssl x509 -in %s.pem -outform DER -out %s.der",
              name, name, subj, name, name, name, ca_name, ca_name, name, name, name, name);
}

static const char *const JITP_TPL =
    "{'Parameters': {'AWS::IoT::Certificate::CommonName': {'Type': 'String'},"
    "                'AWS::IoT::Certificate::Country': {'Type': 'String'},"
    "                'AWS::IoT::Certificate::Id': {'Type': 'String'}},"
    " 'Resources': {"
    "  'thing': {'Type': 'AWS::IoT::Thing', 'Properties': {"
    "     'ThingName': {'Ref': 'AWS::IoT::Certificate::CommonName'},"
    "     'AttributePayload': {'country': {'Ref': 'AWS::IoT::Certificate::Country'}}}},"
    "  'certificate': {'Type': 'AWS::IoT::Certificate', 'Properties': {"
    "     'CertificateId': {'Ref': 'AWS::IoT::Certificate::Id'}, 'Status': 'ACTIVE'}},"
    "  'policy': {'Type': 'AWS::IoT::Policy', 'Properties': {'PolicyDocument':"
    "     '{\\'Version\\': \\'2012-10-17\\', \\'Statement\\': [{\\'Effect\\': \\'Allow\\',"
    "      \\'Action\\': \\'iot:Connect\\', \\'Resource\\': \\'*\\'}]}'}}}}";

static int auto_register(const uint8_t *der, size_t len, const char *ca_id, bool apply)
{
    struct roost_api_call call = {0};
    struct req r = {
        .kind = K_AUTO, .der = der, .der_len = len, .ca_id = ca_id, .apply_template = apply};
    return run(&r, &call, 0);
}

ROOST_TEST(jitp_auto_register)
{
    env_open();
    REQUIRE_EQ(api("GET", "/registrationcode", NULL, NULL), 200);
    char code[65];
    snprintf(code, sizeof(code), "%s", rs("registrationCode"));
    REQUIRE_OK(make_ca("ca", "JITP CA"));
    REQUIRE_OK(make_leaf("ver", "/CN=ver", "ca"));
    REQUIRE_OK(sh("openssl ecparam -name prime256v1 -genkey -noout -out v2.key && "
                  "openssl req -new -key v2.key -subj '/CN=%s' -out v2.csr && "
                  "openssl x509 -req -in v2.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
                  "-days 10 -out v2.pem",
                  code));
    REQUIRE_OK(make_leaf("dev", "/CN=sensor-7/C=DE/O=Acme", "ca"));
    REQUIRE_OK(make_leaf("noc", "/CN=sensor-8/O=Acme", "ca"));
    char *ca_pem = file_in_dir("ca.pem"), *ver = file_in_dir("v2.pem");
    REQUIRE(ca_pem && ver);
    char ca_id[65];
    REQUIRE_OK(roost_pki_cert_id_from_pem(ca_pem, strlen(ca_pem), ca_id));

    /* registrationConfig bodies are checked as JITP templates. */
    char *tb = q(JITP_TPL);
    json_t *o =
        json_pack("{s:s,s:s,s:{s:s,s:s}}", "caCertificate", ca_pem, "verificationCertificate", ver,
                  "registrationConfig", "templateBody", "{\"Resources\":{},\"Mapping\":{}}",
                  "roleArn", "arn:aws:iam::123456789012:role/JITPRole");
    CHECK_EQ(api("POST", "/cacertificate", "setAsActive=true&allowAutoRegistration=true", o), 400);
    CHECK_STR(last_code, "InvalidRequestException");
    CHECK(msg_has("Invalid registration template"));
    CHECK(msg_has("Mapping"));
    o = json_pack("{s:s,s:s,s:{s:s}}", "caCertificate", ca_pem, "verificationCertificate", ver,
                  "registrationConfig", "templateName", "nope");
    CHECK_EQ(api("POST", "/cacertificate", "setAsActive=true&allowAutoRegistration=true", o), 404);
    REQUIRE_EQ(create_template("fleet-only", NULL, true, FLEET_TPL, NULL), 200);
    o = json_pack("{s:s,s:s,s:{s:s}}", "caCertificate", ca_pem, "verificationCertificate", ver,
                  "registrationConfig", "templateName", "fleet-only");
    CHECK_EQ(api("POST", "/cacertificate", "setAsActive=true&allowAutoRegistration=true", o), 400);
    CHECK(msg_has("not a JITP template"));
    o = json_pack("{s:s,s:s,s:{s:s,s:s},s:[{s:s,s:s}]}", "caCertificate", ca_pem,
                  "verificationCertificate", ver, "registrationConfig", "templateBody", tb,
                  "roleArn", "arn:aws:iam::123456789012:role/JITPRole", "tags", "Key",
                  "roost:jitp_first_connect", "Value", "accept");
    REQUIRE_EQ(api("POST", "/cacertificate", "setAsActive=true&allowAutoRegistration=true", o),
               200);
    roost_free(tb);

    /* The CA cache. */
    struct roost_registry_ca_info ci;
    REQUIRE(roost_registry_ca_info(reg, ca_id, &ci));
    CHECK(ci.active);
    CHECK(ci.auto_registration);
    CHECK(ci.has_template);
    CHECK_EQ(ci.first_connect, 1);
    CHECK(!roost_registry_ca_info(reg, roost_pki_ca_id(ca), &ci));
    char path[200];
    snprintf(path, sizeof(path), "/cacertificate/%s", ca_id);
    REQUIRE_EQ(api_text("PUT", path, "newAutoRegistrationStatus=DISABLE",
                        "{\"removeAutoRegistration\":true}"),
               200);
    REQUIRE(roost_registry_ca_info(reg, ca_id, &ci));
    CHECK(!ci.auto_registration);
    CHECK(!ci.has_template);
    uint8_t *der = slurp_bin("dev.der");
    size_t der_len = slurp_len;
    REQUIRE(der);
    CHECK_EQ(auto_register(der, der_len, ca_id, true), 400); /* auto-registration is off */
    tb = q(JITP_TPL);
    o = json_pack("{s:{s:s,s:s}}", "registrationConfig", "templateBody", tb, "roleArn",
                  "arn:aws:iam::123456789012:role/JITPRole");
    roost_free(tb);
    REQUIRE_EQ(api("PUT", path, "newAutoRegistrationStatus=ENABLE", o), 200);
    REQUIRE(roost_registry_ca_info(reg, ca_id, &ci));
    CHECK(ci.auto_registration && ci.has_template);

    /* JITP: thing from the subject, certificate ACTIVE, the registered event. */
    char dev_id[65];
    roost_pki_cert_id_from_der(der, der_len, dev_id);
    REQUIRE_EQ(auto_register(der, der_len, ca_id, true), 200);
    CHECK(json_is_true(json_object_get(last_result, "registered")));
    CHECK_STR(rs("certificateStatus"), "ACTIVE");
    CHECK_STR(rs("thingName"), "sensor-7");
    CHECK_STR(rs("certificateId"), dev_id);
    char topic[200];
    snprintf(topic, sizeof(topic), "$aws/events/certificates/registered/%s", ca_id);
    CHECK_STR(last_event_topic, topic);
    json_t *ev = json_loads(last_event_payload, 0, NULL);
    CHECK_STR(member(ev, "certificateStatus"), "PENDING_ACTIVATION");
    CHECK_STR(member(ev, "caCertificateId"), ca_id);
    CHECK_STR(member(ev, "awsAccountId"), "123456789012");
    CHECK(json_is_integer(json_object_get(ev, "timestamp")));
    json_decref(ev);
    CHECK_EQ(roost_registry_cert_status(reg, dev_id), ROOST_CERT_ACTIVE);
    REQUIRE_EQ(api("GET", "/things/sensor-7", NULL, NULL), 200);
    CHECK_STR(member(json_object_get(last_result, "attributes"), "country"), "DE");
    json_t *cd = get_doc_json("cert", dev_id);
    CHECK_STR(member(cd, "caCertificateId"), ca_id);
    json_decref(cd);
    char names[2][129];
    REQUIRE_EQ(roost_registry_cert_things(reg, dev_id, names, 2), 1);
    CHECK_STR(names[0], "sensor-7");

    /* A storm: the same certificate again changes nothing. */
    REQUIRE_EQ(auto_register(der, der_len, ca_id, true), 200);
    CHECK(json_is_false(json_object_get(last_result, "registered")));
    CHECK_STR(rs("certificateStatus"), "ACTIVE");
    CHECK_EQ(last_n_events, 0);

    /* A certificate without the Country the template declares fails and leaves nothing. */
    uint8_t *noc = slurp_bin("noc.der");
    size_t noc_len = slurp_len;
    REQUIRE(noc);
    char noc_id[65];
    roost_pki_cert_id_from_der(noc, noc_len, noc_id);
    CHECK_EQ(auto_register(noc, noc_len, ca_id, true), 400);
    CHECK(msg_has("Country"));
    CHECK_STR(last_code, "InvalidRequestException");
    CHECK_EQ(last_n_events, 0); /* rolled back: the registered event goes too */
    CHECK_EQ(roost_registry_cert_status(reg, noc_id), ROOST_CERT_UNKNOWN);
    /* Without the template it is registered PENDING_ACTIVATION (JITR), event and all. */
    REQUIRE_EQ(auto_register(noc, noc_len, ca_id, false), 200);
    CHECK(json_is_true(json_object_get(last_result, "registered")));
    CHECK_STR(rs("certificateStatus"), "PENDING_ACTIVATION");
    CHECK_EQ(last_n_events, 1);
    CHECK_EQ(roost_registry_cert_status(reg, noc_id), ROOST_CERT_PENDING_ACTIVATION);
    /* Still pending: each presentation records the event again. */
    REQUIRE_EQ(auto_register(noc, noc_len, ca_id, false), 200);
    CHECK(json_is_false(json_object_get(last_result, "registered")));
    CHECK_EQ(last_n_events, 1);

    /* A certificate of another CA is refused. */
    REQUIRE_OK(make_ca("other", "Other CA"));
    REQUIRE_OK(make_leaf("stranger", "/CN=x/C=US", "other"));
    uint8_t *stranger = slurp_bin("stranger.der");
    size_t stranger_len = slurp_len;
    CHECK_EQ(auto_register(stranger, stranger_len, ca_id, true), 400);
    CHECK_STR(last_code, "CertificateValidationException");
    CHECK_EQ(auto_register(der, der_len,
                           "0000000000000000000000000000000000000000000000000000000000000000",
                           true),
             404);

    /* The CA cache follows the status. */
    REQUIRE_EQ(api("PUT", path, "newStatus=INACTIVE", NULL), 200);
    REQUIRE(roost_registry_ca_info(reg, ca_id, &ci));
    CHECK(!ci.active);
    CHECK_EQ(auto_register(der, der_len, ca_id, true), 406);
    REQUIRE_EQ(api("PUT", path, "newStatus=ACTIVE", NULL), 200);
    REQUIRE(roost_registry_ca_info(reg, ca_id, &ci));
    CHECK(ci.active);

    /* JITP by a template's name. */
    tb = q(JITP_TPL);
    REQUIRE_EQ(create_template("jitp-named", "JITP", false, JITP_TPL, NULL), 200);
    roost_free(tb);
    o = json_pack("{s:{s:s}}", "registrationConfig", "templateName", "jitp-named");
    REQUIRE_EQ(api("PUT", path, NULL, o), 200);
    CHECK_EQ(api("DELETE", "/provisioning-templates/jitp-named", NULL, NULL), 409);
    CHECK_STR(last_code, "DeleteConflictException");
    REQUIRE_OK(make_leaf("dev9", "/CN=sensor-9/C=FR", "ca"));
    uint8_t *d9 = slurp_bin("dev9.der");
    size_t d9_len = slurp_len;
    REQUIRE_EQ(auto_register(d9, d9_len, ca_id, true), 200);
    CHECK_STR(rs("thingName"), "sensor-9");
    CHECK_STR(rs("certificateStatus"), "ACTIVE");

    roost_free(d9);
    roost_free(stranger);
    roost_free(noc);
    roost_free(der);
    roost_free(ca_pem);
    roost_free(ver);
    env_close();
}

/* ==== Fleet provisioning ================================================== */

static int fleet(enum kind k, const char *tpl, const char *token, json_t *params, const char *csr,
                 uint64_t now_ms)
{
    struct roost_api_call call = {0};
    struct req r = {.kind = k, .tpl = tpl, .token = token, .params = params, .csr = csr};
    int status = run(&r, &call, now_ms);
    json_decref(params);
    return status;
}

ROOST_TEST(fleet_tokens)
{
    env_open();
    REQUIRE_EQ(create_template("claim", NULL, true, FLEET_TPL, "https://hooks.example/check"), 200);
    REQUIRE_EQ(fleet(K_FLEET_CREATE, NULL, NULL, NULL, NULL, 0), 200);
    char cert[65], token[200];
    snprintf(cert, sizeof(cert), "%s", rs("certificateId"));
    snprintf(token, sizeof(token), "%s", rs("certificateOwnershipToken"));
    CHECK(rs("privateKey") != NULL);
    CHECK(rs("certificatePem") != NULL);
    CHECK_EQ(strlen(token), 64);
    CHECK_EQ(roost_registry_cert_status(reg, cert), ROOST_CERT_PENDING_ACTIVATION);

    /* Prepare: template, hook and certificate, nothing written. */
    REQUIRE_EQ(fleet(K_PREPARE, "claim", token, NULL, NULL, 0), 200);
    CHECK_STR(rs("certificateId"), cert);
    CHECK_STR(rs("templateArn"), "arn:aws:iot:us-east-1:123456789012:provisioningtemplate/claim");
    CHECK_STR(member(json_object_get(last_result, "preProvisioningHook"), "targetArn"),
              "https://hooks.example/check");
    CHECK_EQ(fleet(K_PREPARE, "claim", "", NULL, NULL, 0), 400);
    CHECK_STR(last_code, "InvalidCertificateOwnershipToken");
    CHECK_STR(last_msg, "Certificate ownership token cannot be empty.");
    CHECK_EQ(fleet(K_PREPARE, "claim", "forged", NULL, NULL, 0), 400);
    CHECK_STR(last_code, "InvalidCertificateOwnershipToken");
    CHECK_EQ(fleet(K_PREPARE, "missing", token, NULL, NULL, 0), 404);

    /* Bad parameters: the template's error, and the token stays usable. */
    CHECK_EQ(fleet(K_REGISTER, "claim", token, json_pack("{s:s}", "Other", "1"), NULL, 0), 400);
    CHECK_STR(last_code, "InvalidParameters");
    CHECK(msg_has("SerialNumber"));
    /* A device naming another certificate is ignored. */
    char other[65];
    new_cert(false, other);
    REQUIRE_EQ(
        fleet(K_REGISTER, "claim", token,
              json_pack("{s:s,s:s}", "SerialNumber", "42", "AWS::IoT::Certificate::Id", other),
              NULL, 0),
        200);
    CHECK_STR(rs("thingName"), "dev-42");
    const json_t *dc = json_object_get(last_result, "deviceConfiguration");
    CHECK_STR(member(dc, "serial"), "42");
    CHECK_STR(member(dc, "fixed"), "yes");
    CHECK_EQ(roost_registry_cert_status(reg, cert), ROOST_CERT_ACTIVE);
    CHECK_EQ(roost_registry_cert_status(reg, other), ROOST_CERT_INACTIVE);
    char names[2][129];
    REQUIRE_EQ(roost_registry_cert_things(reg, cert, names, 2), 1);
    CHECK_STR(names[0], "dev-42");

    /* Single use. */
    CHECK_EQ(fleet(K_REGISTER, "claim", token, json_pack("{s:s}", "SerialNumber", "43"), NULL, 0),
             400);
    CHECK_STR(last_code, "InvalidCertificateOwnershipToken");
    CHECK_EQ(api("GET", "/things/dev-43", NULL, NULL), 404);

    /* Expiry: an hour. */
    REQUIRE_EQ(fleet(K_FLEET_CREATE, NULL, NULL, NULL, NULL, 0), 200);
    char cert2[65], token2[200];
    snprintf(cert2, sizeof(cert2), "%s", rs("certificateId"));
    snprintf(token2, sizeof(token2), "%s", rs("certificateOwnershipToken"));
    uint64_t later = roost_wall_ms() + 3601u * 1000u;
    CHECK_EQ(
        fleet(K_REGISTER, "claim", token2, json_pack("{s:s}", "SerialNumber", "44"), NULL, later),
        400);
    CHECK_STR(last_code, "InvalidCertificateOwnershipToken");
    CHECK(msg_has("expired"));
    /* The purge leaves live tokens alone, then takes the expired ones and their certificates. */
    REQUIRE_EQ(fleet(K_PURGE, NULL, NULL, NULL, NULL, 0), 200);
    CHECK_EQ(json_integer_value(json_object_get(last_result, "tokensDeleted")), 0);
    REQUIRE_EQ(fleet(K_PURGE, NULL, NULL, NULL, NULL, later), 200);
    CHECK_EQ(json_integer_value(json_object_get(last_result, "tokensDeleted")), 1);
    CHECK_EQ(json_integer_value(json_object_get(last_result, "certificatesDeleted")), 1);
    CHECK_EQ(roost_registry_cert_status(reg, cert2), ROOST_CERT_UNKNOWN);
    CHECK_EQ(roost_registry_cert_status(reg, cert), ROOST_CERT_ACTIVE);

    /* A disabled template. */
    REQUIRE_EQ(api_text("PATCH", "/provisioning-templates/claim", NULL, "{\"enabled\":false}"),
               200);
    REQUIRE_EQ(fleet(K_FLEET_CREATE, NULL, NULL, NULL, NULL, 0), 200);
    snprintf(token2, sizeof(token2), "%s", rs("certificateOwnershipToken"));
    CHECK_EQ(fleet(K_REGISTER, "claim", token2, json_pack("{s:s}", "SerialNumber", "45"), NULL, 0),
             403);
    CHECK(msg_has("disabled"));

    /* From a CSR. */
    REQUIRE_OK(sh("openssl ecparam -name prime256v1 -genkey -noout -out f.key && "
                  "openssl req -new -key f.key -subj /CN=fleet-csr -out f.csr"));
    char *csr = file_in_dir("f.csr");
    REQUIRE_EQ(fleet(K_FLEET_CREATE, NULL, NULL, NULL, csr, 0), 200);
    CHECK(rs("privateKey") == NULL);
    CHECK(rs("certificateOwnershipToken") != NULL);
    CHECK_EQ(fleet(K_FLEET_CREATE, NULL, NULL, NULL, "junk", 0), 400);
    CHECK_STR(last_code, "InvalidParameters");
    roost_free(csr);
    env_close();
}
