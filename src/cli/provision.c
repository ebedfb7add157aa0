/*
 * provision.c - the requests behind `roost ca register`, `roost template
 * create|update` and `roost claim create`, built from the command line
 * without sending anything: the RegisterCACertificate query and body, the
 * provisioning template bodies with their preProvisioningHook, the claim
 * certificate's policy, and the account and ARN prefix those need. Pure (no
 * I/O, no curl), so tests/unit/cli/test_cli_provision.c compiles it in and
 * checks the exact AWS shapes; cmd_ca.c and cmd_template.c send them.
 */
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

/* The flags shared by the command table (main.c) and the unit test. */
const struct cli_flag cli__ca_register_flags[] = {
    {"jitp-template", "FILE", "JITP template body (registrationConfig.templateBody)"},
    {"jitp-template-name", "NAME", "a JITP template made with `template create --type JITP`"},
    {"first-connect", "accept|reject", "what a JITP device's first connection gets"},
    {"no-auto-registration", NULL, "do not register unknown device certificates (JITR/JITP)"},
    {NULL, NULL, NULL},
};

const struct cli_flag cli__template_create_flags[] = {
    {"type", "TYPE", "FLEET_PROVISIONING (default) or JITP"},
    {"description", "D", "a description"},
    {"disabled", NULL, "create it disabled (RegisterThing is refused)"},
    {"hook", "URL|exec:/path", "pre-provisioning hook"},
    {NULL, NULL, NULL},
};

const struct cli_flag cli__template_update_flags[] = {
    {"enable", NULL, "enable the template"},
    {"disable", NULL, "disable the template"},
    {"file", "FILE", "a new template body, made the default version"},
    {"hook", "URL|exec:/path", "set the pre-provisioning hook"},
    {"no-hook", NULL, "remove the pre-provisioning hook"},
    {"description", "D", "a new description"},
    {NULL, NULL, NULL},
};

const struct cli_flag cli__claim_create_flags[] = {
    {"template", "NAME", "the fleet provisioning template the claim may use"},
    {"out", "DIR", "where claim.pem, claim.key and root-ca.pem go (default .)"},
    {"force", NULL, "overwrite claim.pem and claim.key if they exist"},
    {NULL, NULL, NULL},
};

static void prov_err(char *err, size_t errlen, const char *msg)
{
    if (errlen)
        snprintf(err, errlen, "%s", msg);
}

int cli__arn_prefix(const char *arn, char *out, size_t len)
{
    /* arn:aws:iot:REGION:ACCOUNT:rest - five colons end the prefix. */
    static const char head[] = "arn:aws:iot:";
    if (strncmp(arn, head, sizeof(head) - 1) != 0)
        return ROOST_EINVAL;
    const char *p = arn + sizeof(head) - 1;
    const char *region_end = strchr(p, ':');
    if (!region_end || region_end == p)
        return ROOST_EINVAL;
    const char *account_end = strchr(region_end + 1, ':');
    if (!account_end || account_end == region_end + 1)
        return ROOST_EINVAL;
    size_t n = (size_t)(account_end - arn) + 1;
    if (n + 1 > len)
        return ROOST_ETOOBIG;
    memcpy(out, arn, n);
    out[n] = '\0';
    return 0;
}

static bool prov_all_digits(const char *s, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

int cli__account_of_arn(const char *arn, char out[CLI_ACCOUNT_LEN + 1])
{
    char prefix[256];
    if (cli__arn_prefix(arn, prefix, sizeof(prefix)))
        return ROOST_EINVAL;
    /* prefix is "arn:aws:iot:REGION:ACCOUNT:" */
    size_t n = strlen(prefix);
    const char *end = prefix + n - 1;
    const char *start = end;
    while (start > prefix && start[-1] != ':')
        start--;
    size_t alen = (size_t)(end - start);
    if (alen != CLI_ACCOUNT_LEN || !prov_all_digits(start, alen))
        return ROOST_EINVAL;
    memcpy(out, start, alen);
    out[alen] = '\0';
    return 0;
}

struct conf_account {
    char *out;
    bool found;
};

static int conf_account_kv(void *ud, const char *key, const char *value)
{
    struct conf_account *a = ud;
    if (strcmp(key, "account_id") != 0)
        return 0;
    size_t n = strlen(value);
    if (n != CLI_ACCOUNT_LEN || !prov_all_digits(value, n))
        return ROOST_EMALFORMED;
    memcpy(a->out, value, n + 1);
    a->found = true;
    return 0;
}

int cli__conf_account(const char *text, size_t len, char out[CLI_ACCOUNT_LEN + 1])
{
    struct conf_account a = {.out = out, .found = false};
    int line = 0;
    int rc = roost_config_parse(text, len, conf_account_kv, &a, &line);
    if (rc)
        return ROOST_EMALFORMED;
    return a.found ? 0 : ROOST_ENOTFOUND;
}

/* A hook target: an http(s) URL with a host, or exec: and an absolute path. */
int cli__hook_build(const char *spec, json_t **out, char *err, size_t errlen)
{
    *out = NULL;
    bool ok = false;
    if (strncmp(spec, "https://", 8) == 0)
        ok = spec[8] != '\0' && spec[8] != '/';
    else if (strncmp(spec, "http://", 7) == 0)
        ok = spec[7] != '\0' && spec[7] != '/';
    else if (strncmp(spec, "exec:", 5) == 0)
        ok = spec[5] == '/' && spec[6] != '\0';
    for (const char *p = spec; ok && *p; p++)
        if ((unsigned char)*p <= ' ' || *p == 0x7f)
            ok = false;
    if (!ok || strlen(spec) > CLI_HOOK_MAX) {
        prov_err(err, errlen, "--hook takes an http:// or https:// URL or exec:/absolute/path "
                             "(no spaces, at most 2048 characters)");
        return CLI_EUSAGE;
    }
    *out = json_pack("{s:s, s:s}", "targetArn", spec, "payloadVersion", CLI_HOOK_PAYLOAD_VERSION);
    return 0;
}

/* Checks that a template body is a JSON object before it is sent, so that a
 * typo is reported with its line and column. */
int cli__template_body_check(const char *file, const char *text, size_t len, char *err,
                             size_t errlen)
{
    json_error_t jerr;
    json_t *parsed = json_loadb(text, len, 0, &jerr);
    int rc = 0;
    if (!parsed) {
        if (errlen)
            snprintf(err, errlen, "%s:%d:%d: not JSON: %s", file, jerr.line, jerr.column,
                     jerr.text);
        rc = CLI_EFAIL;
    } else if (!json_is_object(parsed)) {
        if (errlen)
            snprintf(err, errlen, "%s: a template body is a JSON object", file);
        rc = CLI_EFAIL;
    }
    json_decref(parsed);
    return rc;
}

int cli__ca_register_request(const struct cli_ca_register *r, struct roost_buf *query,
                             json_t **out_body, char *err, size_t errlen)
{
    json_t *body = NULL;
    int rc = 0;
    *out_body = NULL;
    if (r->first_connect && strcmp(r->first_connect, "accept") != 0 &&
        strcmp(r->first_connect, "reject") != 0) {
        prov_err(err, errlen, "--first-connect takes accept or reject");
        return CLI_EUSAGE;
    }
    if (r->template_body && r->template_name) {
        prov_err(err, errlen, "give --jitp-template or --jitp-template-name, not both");
        return CLI_EUSAGE;
    }
    if (r->template_name && !roost_template_name_valid(r->template_name, strlen(r->template_name))) {
        prov_err(err, errlen, "--jitp-template-name: 1-36 characters of a-z A-Z 0-9 _ -");
        return CLI_EUSAGE;
    }
    if (r->first_connect && !r->template_body && !r->template_name) {
        prov_err(err, errlen, "--first-connect is about JITP devices: give --jitp-template too");
        return CLI_EUSAGE;
    }
    rc = cli__query_add(query, "setAsActive", "true");
    if (!rc)
        rc = cli__query_add(query, "allowAutoRegistration",
                            r->auto_registration ? "true" : "false");
    if (rc)
        return rc;
    body = json_pack("{s:s, s:s}", "caCertificate", r->ca_pem, "verificationCertificate",
                     r->verification_pem);
    if (!body) {
        prov_err(err, errlen, "the certificates are not UTF-8 text");
        return CLI_EFAIL;
    }
    if (r->template_body) {
        char role[64];
        snprintf(role, sizeof(role), "arn:aws:iam::%s:role/%s", r->account, CLI_JITP_ROLE);
        json_t *cfg = json_pack("{s:s%, s:s}", "templateBody", r->template_body,
                                r->template_len, "roleArn", role);
        if (!cfg) {
            prov_err(err, errlen, "the JITP template is not UTF-8 text");
            rc = CLI_EFAIL;
            goto out;
        }
        json_object_set_new(body, "registrationConfig", cfg);
    } else if (r->template_name) {
        json_object_set_new(body, "registrationConfig",
                            json_pack("{s:s}", "templateName", r->template_name));
    }
    if (r->first_connect)
        json_object_set_new(body, "tags",
                            json_pack("[{s:s, s:s}]", "Key", CLI_FIRST_CONNECT_TAG, "Value",
                                      r->first_connect));
    *out_body = body;
    body = NULL;
out:
    json_decref(body);
    return rc;
}

static bool prov_type_ok(const char *t)
{
    return strcmp(t, "FLEET_PROVISIONING") == 0 || strcmp(t, "JITP") == 0;
}

int cli__template_create_body(const struct cli_template_create *t, json_t **out, char *err,
                              size_t errlen)
{
    json_t *body = NULL, *hook = NULL;
    char role[64];
    int rc;
    *out = NULL;
    if (!roost_template_name_valid(t->name, strlen(t->name))) {
        if (errlen)
            snprintf(err, errlen, "invalid template name '%.64s': 1-36 characters of a-z A-Z "
                     "0-9 _ -", t->name);
        return CLI_EUSAGE;
    }
    if (t->type && !prov_type_ok(t->type)) {
        prov_err(err, errlen, "--type takes FLEET_PROVISIONING or JITP");
        return CLI_EUSAGE;
    }
    if (t->hook) {
        rc = cli__hook_build(t->hook, &hook, err, errlen);
        if (rc)
            return rc;
    }
    snprintf(role, sizeof(role), "arn:aws:iam::%s:role/%s", t->account, CLI_PROVISIONING_ROLE);
    body = json_pack("{s:s, s:s%, s:b, s:s}", "templateName", t->name, "templateBody",
                     t->body, t->body_len, "enabled", t->enabled, "provisioningRoleArn", role);
    if (!body) {
        prov_err(err, errlen, "the template body is not UTF-8 text");
        rc = CLI_EFAIL;
        goto out;
    }
    if (t->type)
        json_object_set_new(body, "type", json_string(t->type));
    if (t->description)
        json_object_set_new(body, "description", json_string(t->description));
    if (hook) {
        json_object_set_new(body, "preProvisioningHook", hook);
        hook = NULL;
    }
    *out = body;
    body = NULL;
    rc = 0;
out:
    json_decref(hook);
    json_decref(body);
    return rc;
}

int cli__template_update_body(const struct cli_template_update *u, json_t **out, char *err,
                              size_t errlen)
{
    json_t *body = NULL;
    int rc;
    *out = NULL;
    if (u->enable && u->disable) {
        prov_err(err, errlen, "--enable and --disable contradict each other");
        return CLI_EUSAGE;
    }
    if (u->hook && u->no_hook) {
        prov_err(err, errlen, "--hook and --no-hook contradict each other");
        return CLI_EUSAGE;
    }
    if (!u->enable && !u->disable && !u->hook && !u->no_hook && !u->file && !u->description) {
        prov_err(err, errlen, "nothing to update: give --enable, --disable, --file, --hook, "
                             "--no-hook or --description");
        return CLI_EUSAGE;
    }
    body = json_object();
    if (u->enable || u->disable)
        json_object_set_new(body, "enabled", json_boolean(u->enable));
    if (u->description)
        json_object_set_new(body, "description", json_string(u->description));
    if (u->hook) {
        json_t *hook = NULL;
        rc = cli__hook_build(u->hook, &hook, err, errlen);
        if (rc)
            goto out;
        json_object_set_new(body, "preProvisioningHook", hook);
    }
    if (u->no_hook)
        json_object_set_new(body, "removePreProvisioningHook", json_true());
    *out = body;
    body = NULL;
    rc = 0;
out:
    json_decref(body);
    return rc;
}

json_t *cli__claim_policy_doc(const char *arn_prefix, const char *template_name)
{
    char client[300], topics[3][300], filters[3][300];
    char provision[128];
    snprintf(provision, sizeof(provision), "$aws/provisioning-templates/%.40s/provision/*",
             template_name);
    const char *names[3] = {"$aws/certificates/create/*", "$aws/certificates/create-from-csr/*",
                            provision};
    snprintf(client, sizeof(client), "%.160sclient/*", arn_prefix);
    for (int i = 0; i < 3; i++) {
        snprintf(topics[i], sizeof(topics[i]), "%.160stopic/%s", arn_prefix, names[i]);
        snprintf(filters[i], sizeof(filters[i]), "%.160stopicfilter/%s", arn_prefix, names[i]);
    }
    return json_pack("{s:s, s:[{s:s, s:s, s:s}, {s:s, s:[s,s], s:[s,s,s]}, "
                     "{s:s, s:s, s:[s,s,s]}]}",
                     "Version", "2012-10-17", "Statement",
                     "Effect", "Allow", "Action", "iot:Connect", "Resource", client,
                     "Effect", "Allow", "Action", "iot:Publish", "iot:Receive",
                     "Resource", topics[0], topics[1], topics[2],
                     "Effect", "Allow", "Action", "iot:Subscribe",
                     "Resource", filters[0], filters[1], filters[2]);
}
