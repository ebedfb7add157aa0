/*
 * test_cli_provision.c - unit tests for the provisioning commands of `roost`
 * (src/cli/provision.c): the command lines of `ca register`, `template
 * create|update` and `claim create` parsed with the flags the real command
 * table uses, and the exact AWS requests built from them (the
 * RegisterCACertificate query and body, CreateProvisioningTemplate and
 * UpdateProvisioningTemplate bodies, the preProvisioningHook, the claim
 * policy), plus the account and ARN helpers. Like test_cli.c it compiles the
 * pure files in; none of them uses curl.
 */
#include "roost_test.h"

#include "../../../src/cli/args.c"
#include "../../../src/cli/provision.c"
#include "../../../src/cli/request.c"

static int dummy_run(struct cli_ctx *ctx, const struct cli_invocation *inv)
{
    ROOST_UNUSED(ctx);
    ROOST_UNUSED(inv);
    return 0;
}

/* The provisioning part of main.c's table, with the same flag arrays. */
static const struct cli_command p_cmds[] = {
    {"ca", "register", "CA.pem CA.key", 2, 2, cli__ca_register_flags, "r", NULL, dummy_run},
    {"ca", "ls", "", 0, 0, NULL, "l", NULL, dummy_run},
    {"template", "create", "NAME FILE", 2, 2, cli__template_create_flags, "c", NULL, dummy_run},
    {"template", "update", "NAME", 1, 1, cli__template_update_flags, "u", NULL, dummy_run},
    {"claim", "create", "", 0, 0, cli__claim_create_flags, "c", NULL, dummy_run},
};

static int parse(struct cli_invocation *inv, char *err, size_t errlen, ...)
{
    char *argv[32];
    int argc = 0;
    va_list ap;
    argv[argc++] = "roost";
    va_start(ap, errlen);
    for (char *a = va_arg(ap, char *); a && argc < 31; a = va_arg(ap, char *))
        argv[argc++] = a;
    va_end(ap);
    argv[argc] = NULL;
    return cli__parse_args(argc, argv, p_cmds, ROOST_ARRAY_LEN(p_cmds), inv, err, errlen);
}

/* The JSON text of a value with sorted keys, for whole-body comparisons. */
static char *dump(const json_t *v)
{
    return json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
}

#define CHECK_JSON(v, expect)                                                  \
    do {                                                                       \
        char *s_ = dump(v);                                                    \
        CHECK_STR(s_, expect);                                                 \
        free(s_);                                                              \
    } while (0)

/* ==== command lines ========================================================= */

ROOST_TEST(args_ca_register)
{
    struct cli_invocation inv;
    char err[256];
    REQUIRE_OK(parse(&inv, err, sizeof(err), "ca", "register", "ca.pem", "ca.key",
                     "--jitp-template", "t.json", "--first-connect=accept",
                     "--no-auto-registration", NULL));
    REQUIRE(inv.cmd == &p_cmds[0]);
    CHECK_EQ(inv.n_pos, 2);
    CHECK_STR(inv.pos[0], "ca.pem");
    CHECK_STR(inv.pos[1], "ca.key");
    CHECK_STR(cli__flag(&inv, "jitp-template"), "t.json");
    CHECK_STR(cli__flag(&inv, "first-connect"), "accept");
    CHECK_STR(cli__flag(&inv, "no-auto-registration"), "");

    REQUIRE_OK(parse(&inv, err, sizeof(err), "ca", "register", "a", "b", NULL));
    CHECK(cli__flag(&inv, "jitp-template") == NULL);
    CHECK(cli__flag(&inv, "no-auto-registration") == NULL);

    CHECK_EQ(parse(&inv, err, sizeof(err), "ca", "register", "a", NULL), CLI_EUSAGE);
    CHECK_STR(err, "missing argument: ca register CA.pem CA.key");
    CHECK_EQ(parse(&inv, err, sizeof(err), "ca", "register", "a", "b", "--first-connect", NULL),
             CLI_EUSAGE);
    CHECK_STR(err, "option '--first-connect' needs a value (accept|reject)");
    CHECK_EQ(parse(&inv, err, sizeof(err), "ca", "register", "a", "b", "--no-auto-registration=1",
                   NULL),
             CLI_EUSAGE);
    CHECK_STR(err, "option '--no-auto-registration' takes no value");
    CHECK_EQ(parse(&inv, err, sizeof(err), "ca", "ls", "x", NULL), CLI_EUSAGE);
    CHECK_STR(err, "unexpected argument 'x'");
}

ROOST_TEST(args_template_and_claim)
{
    struct cli_invocation inv;
    char err[256];
    REQUIRE_OK(parse(&inv, err, sizeof(err), "template", "create", "fleet", "t.json", "--type",
                     "JITP", "--description", "a b", "--disabled", "--hook",
                     "exec:/usr/local/bin/hook", NULL));
    REQUIRE(inv.cmd == &p_cmds[2]);
    CHECK_STR(cli__flag(&inv, "type"), "JITP");
    CHECK_STR(cli__flag(&inv, "description"), "a b");
    CHECK_STR(cli__flag(&inv, "disabled"), "");
    CHECK_STR(cli__flag(&inv, "hook"), "exec:/usr/local/bin/hook");

    REQUIRE_OK(parse(&inv, err, sizeof(err), "template", "update", "fleet", "--disable",
                     "--no-hook", "--file", "v2.json", NULL));
    REQUIRE(inv.cmd == &p_cmds[3]);
    CHECK_STR(cli__flag(&inv, "disable"), "");
    CHECK_STR(cli__flag(&inv, "no-hook"), "");
    CHECK_STR(cli__flag(&inv, "file"), "v2.json");
    CHECK(cli__flag(&inv, "enable") == NULL);

    REQUIRE_OK(parse(&inv, err, sizeof(err), "claim", "create", "--template", "fleet", "--out",
                     "dir", NULL));
    REQUIRE(inv.cmd == &p_cmds[4]);
    CHECK_STR(cli__flag(&inv, "template"), "fleet");
    CHECK_STR(cli__flag(&inv, "out"), "dir");
    CHECK_EQ(parse(&inv, err, sizeof(err), "claim", "create", "extra", NULL), CLI_EUSAGE);
    CHECK_STR(err, "unexpected argument 'extra'");
    CHECK_EQ(parse(&inv, err, sizeof(err), "template", "create", "n", "f", "--enable", NULL),
             CLI_EUSAGE);
    CHECK_STR(err, "unknown option '--enable' for 'template create'");
}

/* ==== RegisterCACertificate ==================================================== */

ROOST_TEST(ca_register_request_full)
{
    struct roost_buf q;
    json_t *body = NULL;
    char err[256] = "";
    static const char tpl[] = "{\"Resources\":{}}";
    roost_buf_init(&q, 0);
    struct cli_ca_register r = {.ca_pem = "CA", .verification_pem = "VER", .template_body = tpl,
                                .template_len = sizeof(tpl) - 1, .first_connect = "accept",
                                .auto_registration = true, .account = "123456789012"};
    REQUIRE_OK(cli__ca_register_request(&r, &q, &body, err, sizeof(err)));
    CHECK_STR((const char *)q.data, "setAsActive=true&allowAutoRegistration=true");
    CHECK_JSON(body, "{\"caCertificate\":\"CA\",\"registrationConfig\":{\"roleArn\":"
                     "\"arn:aws:iam::123456789012:role/roost-jitp\",\"templateBody\":"
                     "\"{\\\"Resources\\\":{}}\"},\"tags\":[{\"Key\":\"roost:jitp_first_connect\","
                     "\"Value\":\"accept\"}],\"verificationCertificate\":\"VER\"}");
    json_decref(body);
    roost_buf_cleanup(&q);
}

ROOST_TEST(ca_register_request_plain_and_refusals)
{
    struct roost_buf q;
    json_t *body = NULL;
    char err[256] = "";
    roost_buf_init(&q, 0);
    struct cli_ca_register r = {.ca_pem = "CA", .verification_pem = "VER",
                                .auto_registration = false, .account = "111122223333"};
    REQUIRE_OK(cli__ca_register_request(&r, &q, &body, err, sizeof(err)));
    CHECK_STR((const char *)q.data, "setAsActive=true&allowAutoRegistration=false");
    CHECK_JSON(body, "{\"caCertificate\":\"CA\",\"verificationCertificate\":\"VER\"}");
    json_decref(body);
    body = NULL;

    /* --first-connect: only accept|reject, and only with a JITP template. */
    roost_buf_clear(&q);
    r.first_connect = "reject";
    CHECK_EQ(cli__ca_register_request(&r, &q, &body, err, sizeof(err)), CLI_EUSAGE);
    CHECK_STR(err, "--first-connect is about JITP devices: give --jitp-template too");
    CHECK(body == NULL);
    r.template_body = "{}";
    r.template_len = 2;
    r.first_connect = "maybe";
    CHECK_EQ(cli__ca_register_request(&r, &q, &body, err, sizeof(err)), CLI_EUSAGE);
    CHECK_STR(err, "--first-connect takes accept or reject");
    r.first_connect = "reject";
    roost_buf_clear(&q);
    REQUIRE_OK(cli__ca_register_request(&r, &q, &body, err, sizeof(err)));
    CHECK_JSON(json_object_get(body, "tags"),
               "[{\"Key\":\"roost:jitp_first_connect\",\"Value\":\"reject\"}]");
    CHECK_STR(json_string_value(json_object_get(json_object_get(body, "registrationConfig"),
                                                "roleArn")),
              "arn:aws:iam::111122223333:role/roost-jitp");
    json_decref(body);
    body = NULL;

    /* A template by name instead of a body; not both. */
    roost_buf_clear(&q);
    r.template_body = NULL;
    r.template_len = 0;
    r.template_name = "plant-jitp";
    REQUIRE_OK(cli__ca_register_request(&r, &q, &body, err, sizeof(err)));
    CHECK_JSON(json_object_get(body, "registrationConfig"), "{\"templateName\":\"plant-jitp\"}");
    json_decref(body);
    body = NULL;
    r.template_body = "{}";
    r.template_len = 2;
    CHECK_EQ(cli__ca_register_request(&r, &q, &body, err, sizeof(err)), CLI_EUSAGE);
    CHECK_STR(err, "give --jitp-template or --jitp-template-name, not both");
    r.template_body = NULL;
    r.template_name = "no/slash";
    CHECK_EQ(cli__ca_register_request(&r, &q, &body, err, sizeof(err)), CLI_EUSAGE);
    CHECK(body == NULL);
    roost_buf_cleanup(&q);
}

/* ==== provisioning templates =================================================== */

ROOST_TEST(template_create_body)
{
    json_t *body = NULL;
    char err[256] = "";
    static const char tpl[] = "{\"Parameters\":{}}";
    struct cli_template_create t = {.name = "fleet_1-a", .body = tpl, .body_len = sizeof(tpl) - 1,
                                    .enabled = true, .account = "123456789012"};
    REQUIRE_OK(cli__template_create_body(&t, &body, err, sizeof(err)));
    CHECK_JSON(body, "{\"enabled\":true,\"provisioningRoleArn\":"
                     "\"arn:aws:iam::123456789012:role/roost-provisioning\",\"templateBody\":"
                     "\"{\\\"Parameters\\\":{}}\",\"templateName\":\"fleet_1-a\"}");
    json_decref(body);

    t.type = "JITP";
    t.description = "for the plant";
    t.enabled = false;
    t.hook = "https://hooks.example.com/pre?x=1";
    REQUIRE_OK(cli__template_create_body(&t, &body, err, sizeof(err)));
    CHECK_JSON(body, "{\"description\":\"for the plant\",\"enabled\":false,"
                     "\"preProvisioningHook\":{\"payloadVersion\":\"2020-04-01\",\"targetArn\":"
                     "\"https://hooks.example.com/pre?x=1\"},\"provisioningRoleArn\":"
                     "\"arn:aws:iam::123456789012:role/roost-provisioning\",\"templateBody\":"
                     "\"{\\\"Parameters\\\":{}}\",\"templateName\":\"fleet_1-a\",\"type\":\"JITP\"}");
    json_decref(body);
    body = NULL;

    t.type = "jitp"; /* AWS's enum is case-sensitive */
    CHECK_EQ(cli__template_create_body(&t, &body, err, sizeof(err)), CLI_EUSAGE);
    CHECK_STR(err, "--type takes FLEET_PROVISIONING or JITP");
    t.type = NULL;
    t.name = "has space";
    CHECK_EQ(cli__template_create_body(&t, &body, err, sizeof(err)), CLI_EUSAGE);
    CHECK_STR(err, "invalid template name 'has space': 1-36 characters of a-z A-Z 0-9 _ -");
    t.name = "a234567890123456789012345678901234567"; /* 37 */
    CHECK_EQ(cli__template_create_body(&t, &body, err, sizeof(err)), CLI_EUSAGE);
    t.name = "ok";
    t.hook = "exec:relative/hook";
    CHECK_EQ(cli__template_create_body(&t, &body, err, sizeof(err)), CLI_EUSAGE);
    CHECK(strstr(err, "--hook takes") == err);
    CHECK(body == NULL);
}

ROOST_TEST(hook_targets)
{
    json_t *h = NULL;
    char err[256];
    REQUIRE_OK(cli__hook_build("exec:/opt/hooks/allow.sh", &h, err, sizeof(err)));
    CHECK_JSON(h, "{\"payloadVersion\":\"2020-04-01\",\"targetArn\":\"exec:/opt/hooks/allow.sh\"}");
    json_decref(h);
    REQUIRE_OK(cli__hook_build("http://127.0.0.1:9000/hook", &h, err, sizeof(err)));
    json_decref(h);
    static const char *const bad[] = {"", "exec:", "exec:/", "exec:hook", "ftp://h/x",
                                      "https://", "https:///path", "http://h/a b",
                                      "arn:aws:lambda:us-east-1:123456789012:function:f",
                                      "http://h/\x01"};
    for (size_t i = 0; i < ROOST_ARRAY_LEN(bad); i++) {
        h = (json_t *)1;
        CHECK_EQ(cli__hook_build(bad[i], &h, err, sizeof(err)), CLI_EUSAGE);
        CHECK(h == NULL);
    }
}

ROOST_TEST(template_update_body)
{
    json_t *b = NULL;
    char err[256];
    struct cli_template_update u = {.enable = true};
    REQUIRE_OK(cli__template_update_body(&u, &b, err, sizeof(err)));
    CHECK_JSON(b, "{\"enabled\":true}");
    json_decref(b);

    u = (struct cli_template_update){.disable = true, .no_hook = true, .description = "d"};
    REQUIRE_OK(cli__template_update_body(&u, &b, err, sizeof(err)));
    CHECK_JSON(b, "{\"description\":\"d\",\"enabled\":false,\"removePreProvisioningHook\":true}");
    json_decref(b);

    u = (struct cli_template_update){.hook = "exec:/bin/true"};
    REQUIRE_OK(cli__template_update_body(&u, &b, err, sizeof(err)));
    CHECK_JSON(b, "{\"preProvisioningHook\":{\"payloadVersion\":\"2020-04-01\",\"targetArn\":"
                  "\"exec:/bin/true\"}}");
    json_decref(b);

    /* --file alone: no PATCH body (the new version is its own request). */
    u = (struct cli_template_update){.file = "v2.json"};
    REQUIRE_OK(cli__template_update_body(&u, &b, err, sizeof(err)));
    CHECK_JSON(b, "{}");
    json_decref(b);
    b = NULL;

    u = (struct cli_template_update){.enable = true, .disable = true};
    CHECK_EQ(cli__template_update_body(&u, &b, err, sizeof(err)), CLI_EUSAGE);
    CHECK_STR(err, "--enable and --disable contradict each other");
    u = (struct cli_template_update){.hook = "exec:/x", .no_hook = true};
    CHECK_EQ(cli__template_update_body(&u, &b, err, sizeof(err)), CLI_EUSAGE);
    CHECK_STR(err, "--hook and --no-hook contradict each other");
    u = (struct cli_template_update){0};
    CHECK_EQ(cli__template_update_body(&u, &b, err, sizeof(err)), CLI_EUSAGE);
    CHECK(strstr(err, "nothing to update") == err);
    u = (struct cli_template_update){.hook = "exec:x"};
    CHECK_EQ(cli__template_update_body(&u, &b, err, sizeof(err)), CLI_EUSAGE);
    CHECK(b == NULL);
}

ROOST_TEST(template_body_check)
{
    char err[256];
    CHECK_OK(cli__template_body_check("t.json", "{\"Resources\":{}}", 16, err, sizeof(err)));
    CHECK_EQ(cli__template_body_check("t.json", "{\n\"a\": }", 8, err, sizeof(err)), CLI_EFAIL);
    CHECK(strncmp(err, "t.json:2:", 9) == 0);
    CHECK(strstr(err, "not JSON") != NULL);
    CHECK_EQ(cli__template_body_check("t.json", "[]", 2, err, sizeof(err)), CLI_EFAIL);
    CHECK_STR(err, "t.json: a template body is a JSON object");
}

/* ==== the claim policy ======================================================= */

ROOST_TEST(claim_policy_allows_only_provisioning_topics)
{
    json_t *doc = cli__claim_policy_doc("arn:aws:iot:eu-west-1:123456789012:", "fleet");
    REQUIRE(doc != NULL);
    static const char p[] = "arn:aws:iot:eu-west-1:123456789012:";
    char expect[2048];
    snprintf(expect, sizeof(expect),
             "{\"Statement\":["
             "{\"Action\":\"iot:Connect\",\"Effect\":\"Allow\",\"Resource\":\"%sclient/*\"},"
             "{\"Action\":[\"iot:Publish\",\"iot:Receive\"],\"Effect\":\"Allow\",\"Resource\":["
             "\"%stopic/$aws/certificates/create/*\","
             "\"%stopic/$aws/certificates/create-from-csr/*\","
             "\"%stopic/$aws/provisioning-templates/fleet/provision/*\"]},"
             "{\"Action\":\"iot:Subscribe\",\"Effect\":\"Allow\",\"Resource\":["
             "\"%stopicfilter/$aws/certificates/create/*\","
             "\"%stopicfilter/$aws/certificates/create-from-csr/*\","
             "\"%stopicfilter/$aws/provisioning-templates/fleet/provision/*\"]}],"
             "\"Version\":\"2012-10-17\"}",
             p, p, p, p, p, p, p);
    CHECK_JSON(doc, expect);
    json_decref(doc);
}

/* ==== accounts and ARNs ====================================================== */

ROOST_TEST(arn_prefix_and_account)
{
    char prefix[64], account[CLI_ACCOUNT_LEN + 1];
    REQUIRE_OK(cli__arn_prefix("arn:aws:iot:us-east-1:123456789012:cert/abc", prefix,
                               sizeof(prefix)));
    CHECK_STR(prefix, "arn:aws:iot:us-east-1:123456789012:");
    CHECK_EQ(cli__arn_prefix("arn:aws:iam::123456789012:role/x", prefix, sizeof(prefix)),
             ROOST_EINVAL);
    CHECK_EQ(cli__arn_prefix("arn:aws:iot::123:cert/x", prefix, sizeof(prefix)), ROOST_EINVAL);
    CHECK_EQ(cli__arn_prefix("arn:aws:iot:r:123", prefix, sizeof(prefix)), ROOST_EINVAL);
    CHECK_EQ(cli__arn_prefix("arn:aws:iot:us-east-1:123456789012:cert/abc", prefix, 10),
             ROOST_ETOOBIG);

    REQUIRE_OK(cli__account_of_arn("arn:aws:iot:us-east-1:210987654321:thing/t", account));
    CHECK_STR(account, "210987654321");
    CHECK_EQ(cli__account_of_arn("arn:aws:iot:us-east-1:12345:thing/t", account), ROOST_EINVAL);

    static const char conf[] = "# roostd settings\nregion = eu-west-1\naccount_id = 999988887777\n";
    REQUIRE_OK(cli__conf_account(conf, sizeof(conf) - 1, account));
    CHECK_STR(account, "999988887777");
    static const char none[] = "mqtt_port = 8883\n";
    CHECK_EQ(cli__conf_account(none, sizeof(none) - 1, account), ROOST_ENOTFOUND);
    static const char bad[] = "account_id = 12ab\n";
    CHECK_EQ(cli__conf_account(bad, sizeof(bad) - 1, account), ROOST_EMALFORMED);
}
