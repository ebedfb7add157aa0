/*
 * cmd_template.c - `roost template create|ls|show|update|rm` (AWS's
 * provisioning templates: fleet provisioning and JITP) and `roost claim
 * create`, the claim certificate a fleet of devices ships with: it may do
 * nothing but ask for its own certificate ($aws/certificates/create...) and
 * run one template's RegisterThing ($aws/provisioning-templates/NAME/
 * provision/...). The bodies are built in provision.c; this file sends
 * them, reads and writes the files, and takes back a half-made claim.
 */
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define TEMPLATE_FILE_LIMIT (10u << 10) /* AWS: templateBody at most 10240 characters */

static bool is_error(const struct cli_ctx *ctx, int rc, const char *type)
{
    return rc == CLI_EAPI && strcmp(ctx->err_type, type) == 0;
}

/* Reads a template body file ("-" = stdin) and checks it is a JSON object. */
static int read_template(struct cli_ctx *ctx, const char *file, char **out, size_t *out_len)
{
    char err[512];
    int rc = cli__read_file(file, TEMPLATE_FILE_LIMIT, out, out_len);
    if (rc) {
        cli__fail(ctx, NULL, "cannot read the template %s: %s", file, roost_strerror(rc));
        return CLI_EFAIL;
    }
    rc = cli__template_body_check(file, *out, *out_len, err, sizeof(err));
    if (rc) {
        cli__fail(ctx, NULL, "%s", err);
        roost_free(*out);
        *out = NULL;
    }
    return rc;
}

static int name_check(struct cli_ctx *ctx, const char *name)
{
    if (roost_template_name_valid(name, strlen(name)))
        return 0;
    cli__fail(ctx, NULL, "invalid template name '%s': 1-36 characters of a-z A-Z 0-9 _ -", name);
    return CLI_EUSAGE;
}

/* ---- create ------------------------------------------------------------------ */

int cli__cmd_template_create(struct cli_ctx *ctx, const struct cli_invocation *inv)
{
    const char *name = inv->pos[0], *file = inv->pos[1];
    char *text = NULL;
    size_t len = 0;
    json_t *body = NULL, *answer = NULL;
    char account[CLI_ACCOUNT_LEN + 1], err[512];
    int rc = name_check(ctx, name);
    if (!rc)
        rc = read_template(ctx, file, &text, &len);
    if (!rc)
        rc = cli__account_id(ctx, account);
    if (rc)
        goto out;
    struct cli_template_create t = {.name = name, .body = text, .body_len = len,
                                    .type = cli__flag(inv, "type"),
                                    .description = cli__flag(inv, "description"),
                                    .enabled = !cli__flag(inv, "disabled"),
                                    .hook = cli__flag(inv, "hook"), .account = account};
    rc = cli__template_create_body(&t, &body, err, sizeof(err));
    if (rc) {
        cli__fail(ctx, NULL, "%s", err);
        goto out;
    }
    rc = cli__api(ctx, "POST", "/provisioning-templates", NULL, NULL, body, NULL, &answer);
    if (rc)
        goto out;
    if (ctx->json) {
        cli__json_print(ctx, answer);
    } else {
        json_t *v = json_object_get(answer, "defaultVersionId");
        fprintf(ctx->out, "Created template %s (%s), version %lld%s\n", name,
                cli__jstr(answer, "templateArn"), (long long)json_integer_value(v),
                t.enabled ? "" : ", disabled");
    }
out:
    roost_free(text);
    json_decref(body);
    json_decref(answer);
    return rc;
}

/* ---- ls / show ---------------------------------------------------------------- */

int cli__cmd_template_ls(struct cli_ctx *ctx, const struct cli_invocation *inv)
{
    json_t *templates = NULL;
    struct cli_list l = {.tmpl = "/provisioning-templates", .items_key = "templates",
                         .token_in = "nextToken", .token_out = "nextToken"};
    int rc = cli__list_all(ctx, &l, &templates);
    if (rc)
        return rc;
    if (ctx->json) {
        json_t *o = json_pack("{s:O}", "templates", templates);
        cli__json_print(ctx, o);
        json_decref(o);
    } else {
        static const char *const headers[] = {"NAME", "TYPE", "ENABLED", "DESCRIPTION"};
        struct cli_table t;
        cli__table_init(&t, 4, headers);
        size_t i;
        json_t *v;
        json_array_foreach(templates, i, v) {
            const char *type = cli__jstr(v, "type");
            cli__table_add(&t, (const char *[]){cli__jstr(v, "templateName"),
                                                type[0] ? type : "FLEET_PROVISIONING",
                                                json_is_true(json_object_get(v, "enabled"))
                                                    ? "yes"
                                                    : "no",
                                                cli__jstr(v, "description")});
        }
        cli__table_print(&t, ctx->out);
        cli__table_cleanup(&t);
    }
    json_decref(templates);
    return 0;
}

int cli__cmd_template_show(struct cli_ctx *ctx, const struct cli_invocation *inv)
{
    json_t *tpl = NULL, *doc = NULL;
    int rc = cli__api(ctx, "GET", "/provisioning-templates/{}", inv->pos[0], NULL, NULL, NULL,
                      &tpl);
    if (rc)
        goto out;
    if (ctx->json) {
        cli__json_print(ctx, tpl);
        goto out;
    }
    char created[32], modified[32], version[32];
    cli__time_format(json_object_get(tpl, "creationDate"), created);
    cli__time_format(json_object_get(tpl, "lastModifiedDate"), modified);
    json_t *v = json_object_get(tpl, "defaultVersionId");
    if (json_is_integer(v))
        snprintf(version, sizeof(version), "%lld", (long long)json_integer_value(v));
    else
        version[0] = '\0';
    const json_t *hook = json_object_get(tpl, "preProvisioningHook");
    const char *type = cli__jstr(tpl, "type");
    struct cli_table t;
    cli__table_init(&t, 2, NULL);
    cli__table_kv(&t, "name", cli__jstr(tpl, "templateName"));
    cli__table_kv(&t, "arn", cli__jstr(tpl, "templateArn"));
    cli__table_kv(&t, "type", type[0] ? type : "FLEET_PROVISIONING");
    cli__table_kv(&t, "enabled", json_is_true(json_object_get(tpl, "enabled")) ? "yes" : "no");
    cli__table_kv(&t, "description", cli__jstr(tpl, "description"));
    cli__table_kv(&t, "version", version);
    cli__table_kv(&t, "hook", cli__jstr(hook, "targetArn"));
    cli__table_kv(&t, "role", cli__jstr(tpl, "provisioningRoleArn"));
    cli__table_kv(&t, "created", created);
    cli__table_kv(&t, "modified", modified);
    cli__table_print(&t, ctx->out);
    cli__table_cleanup(&t);

    const char *text = cli__jstr(tpl, "templateBody");
    doc = json_loads(text, 0, NULL);
    fputc('\n', ctx->out);
    if (doc)
        cli__json_print(ctx, doc);
    else
        fprintf(ctx->out, "%s\n", text);
out:
    json_decref(tpl);
    json_decref(doc);
    return rc;
}

/* ---- update / rm ------------------------------------------------------------------ */

int cli__cmd_template_update(struct cli_ctx *ctx, const struct cli_invocation *inv)
{
    const char *name = inv->pos[0];
    struct cli_template_update u = {.enable = cli__flag(inv, "enable") != NULL,
                                    .disable = cli__flag(inv, "disable") != NULL,
                                    .no_hook = cli__flag(inv, "no-hook") != NULL,
                                    .hook = cli__flag(inv, "hook"),
                                    .file = cli__flag(inv, "file"),
                                    .description = cli__flag(inv, "description")};
    char *text = NULL;
    size_t len = 0;
    json_t *patch = NULL, *vbody = NULL, *version = NULL, *result = json_object();
    char err[512];
    int rc = name_check(ctx, name);
    if (rc)
        goto out;
    rc = cli__template_update_body(&u, &patch, err, sizeof(err));
    if (rc) {
        cli__fail(ctx, NULL, "%s", err);
        goto out;
    }
    if (u.file) {
        rc = read_template(ctx, u.file, &text, &len);
        if (rc)
            goto out;
        vbody = json_pack("{s:s%}", "templateBody", text, len);
        if (!vbody) {
            cli__fail(ctx, NULL, "%s is not UTF-8 text", u.file);
            rc = CLI_EFAIL;
            goto out;
        }
        rc = cli__api(ctx, "POST", "/provisioning-templates/{}/versions", name,
                      "setAsDefault=true", vbody, NULL, &version);
        if (rc)
            goto out;
        json_object_set(result, "version", version);
        if (!ctx->json)
            fprintf(ctx->out, "Template %s: version %lld is the default now\n", name,
                    (long long)json_integer_value(json_object_get(version, "versionId")));
    }
    if (json_object_size(patch) > 0) {
        rc = cli__api(ctx, "PATCH", "/provisioning-templates/{}", name, NULL, patch, NULL, NULL);
        if (rc)
            goto out;
        json_object_set(result, "update", patch);
        if (!ctx->json) {
            fprintf(ctx->out, "Template %s:", name);
            if (u.enable || u.disable)
                fprintf(ctx->out, " %s", u.enable ? "enabled" : "disabled");
            if (u.hook)
                fprintf(ctx->out, " hook %s", u.hook);
            if (u.no_hook)
                fprintf(ctx->out, " hook removed");
            if (u.description)
                fprintf(ctx->out, " description set");
            fputc('\n', ctx->out);
        }
    }
    if (ctx->json) {
        json_object_set_new(result, "templateName", json_string(name));
        cli__json_print(ctx, result);
    }
out:
    roost_free(text);
    json_decref(patch);
    json_decref(vbody);
    json_decref(version);
    json_decref(result);
    return rc;
}

int cli__cmd_template_rm(struct cli_ctx *ctx, const struct cli_invocation *inv)
{
    int rc = cli__api(ctx, "DELETE", "/provisioning-templates/{}", inv->pos[0], NULL, NULL, NULL,
                      NULL);
    if (rc)
        return rc;
    if (ctx->json) {
        json_t *o = json_pack("{s:s}", "deletedTemplateName", inv->pos[0]);
        cli__json_print(ctx, o);
        json_decref(o);
    } else {
        fprintf(ctx->out, "Deleted template %s\n", inv->pos[0]);
    }
    return 0;
}

/* ---- claim create --------------------------------------------------------------- */

static char *path_join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = roost_xmalloc(n);
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

/* The claim's template must exist and be a fleet provisioning one: a JITP
 * template cannot be run over MQTT, and a typo would make a useless claim. */
static int claim_template_check(struct cli_ctx *ctx, const char *name)
{
    json_t *tpl = NULL;
    int rc = cli__api(ctx, "GET", "/provisioning-templates/{}", name, NULL, NULL, NULL, &tpl);
    if (is_error(ctx, rc, "ResourceNotFoundException")) {
        cli__fail(ctx, "ResourceNotFoundException",
                  "template %s does not exist (`roost template create %s FILE` makes it)", name,
                  name);
    } else if (!rc && strcmp(cli__jstr(tpl, "type"), "JITP") == 0) {
        cli__fail(ctx, NULL, "template %s is a JITP template; a claim certificate needs a "
                  "FLEET_PROVISIONING one", name);
        rc = CLI_EFAIL;
    }
    else if (!rc && !json_is_true(json_object_get(tpl, "enabled")) && !ctx->json)
        fprintf(stderr, "roost: note: template %s is disabled: its RegisterThing is refused "
                "until `roost template update %s --enable`\n", name, name);
    json_decref(tpl);
    return rc;
}

int cli__cmd_claim_create(struct cli_ctx *ctx, const struct cli_invocation *inv)
{
    const char *tpl = cli__flag(inv, "template");
    const char *out_dir = cli__flag(inv, "out");
    bool force = cli__flag(inv, "force") != NULL;
    char *paths[3] = {NULL, NULL, NULL};
    char *ca_pem = NULL, *policy = NULL, *cert_arn = NULL, *cert_id = NULL;
    size_t ca_len = 0;
    json_t *keys = NULL, *doc = NULL, *body = NULL;
    bool policy_created = false, written[3] = {false, false, false};
    char prefix[256];
    int rc = 0;

    if (!tpl || !tpl[0]) {
        cli__fail(ctx, NULL, "claim create needs --template NAME");
        rc = CLI_EUSAGE;
        goto out;
    }
    rc = name_check(ctx, tpl);
    if (rc)
        goto out;
    if (!out_dir || !out_dir[0])
        out_dir = ".";
    rc = cli__out_dir_prepare(ctx, out_dir);
    if (rc)
        goto out;
    paths[0] = path_join(out_dir, "claim.pem");
    paths[1] = path_join(out_dir, "claim.key");
    paths[2] = path_join(out_dir, "root-ca.pem");
    for (int i = 0; i < 2 && !force; i++) {
        if (access(paths[i], F_OK) == 0) {
            cli__fail(ctx, NULL, "%s exists (--force overwrites it)", paths[i]);
            rc = CLI_EFAIL;
            goto out;
        }
    }
    /* The root CA is a convenience: without it the claim is still whole. */
    if (cli__read_file(ctx->cfg.ca_file, 1u << 20, &ca_pem, &ca_len) != 0) {
        fprintf(stderr, "roost: no root-ca.pem written: cannot read %s\n", ctx->cfg.ca_file);
        ca_pem = NULL;
    }
    size_t plen = strlen(tpl) + sizeof("-claim");
    policy = roost_xmalloc(plen);
    snprintf(policy, plen, "%s-claim", tpl);

    rc = claim_template_check(ctx, tpl);
    if (rc)
        goto out;

    rc = cli__api(ctx, "POST", "/keys-and-certificate", NULL, "setAsActive=true", NULL, NULL,
                  &keys);
    if (rc)
        goto out;
    const char *cert_pem = cli__jstr(keys, "certificatePem");
    const char *key_pem = cli__jstr(json_object_get(keys, "keyPair"), "PrivateKey");
    if (cli__jstr(keys, "certificateArn")[0])
        cert_arn = roost_xstrdup(cli__jstr(keys, "certificateArn"));
    if (cli__jstr(keys, "certificateId")[0])
        cert_id = roost_xstrdup(cli__jstr(keys, "certificateId"));
    if (!cert_arn || !cert_id || !cert_pem[0] || !key_pem[0] ||
        cli__arn_prefix(cert_arn, prefix, sizeof(prefix)) != 0) {
        cli__fail(ctx, NULL, "CreateKeysAndCertificate answered without certificateArn, "
                  "certificateId, certificatePem or keyPair.PrivateKey");
        rc = CLI_EFAIL;
        goto fail;
    }

    /* From here on a failure deletes the certificate again. */
    rc = cli__api(ctx, "GET", "/policies/{}", policy, NULL, NULL, NULL, NULL);
    if (is_error(ctx, rc, "ResourceNotFoundException")) {
        doc = cli__claim_policy_doc(prefix, tpl);
        char *text = json_dumps(doc, JSON_COMPACT);
        body = json_pack("{s:s}", "policyDocument", text);
        roost_free(text);
        rc = cli__api(ctx, "POST", "/policies/{}", policy, NULL, body, NULL, NULL);
        if (is_error(ctx, rc, "ResourceAlreadyExistsException"))
            rc = 0; /* made meanwhile: as good */
        else if (!rc)
            policy_created = true;
        json_decref(body);
        body = NULL;
    }
    if (rc)
        goto fail;
    if (!policy_created && !ctx->json)
        fprintf(stderr, "roost: using the existing policy %s\n", policy);

    body = json_pack("{s:s}", "target", cert_arn);
    rc = cli__api(ctx, "PUT", "/target-policies/{}", policy, NULL, body, NULL, NULL);
    if (rc)
        goto fail;

    const char *contents[3] = {cert_pem, key_pem, ca_pem};
    const mode_t modes[3] = {0644, 0600, 0644};
    for (int i = 0; i < 3; i++) {
        if (!contents[i])
            continue;
        rc = cli__write_file(paths[i], contents[i], modes[i], !force && i < 2);
        if (rc) {
            cli__fail(ctx, NULL, "cannot write %s: %s", paths[i], roost_strerror(rc));
            rc = CLI_EFAIL;
            goto fail;
        }
        written[i] = true;
    }

    char rr[1024];
    snprintf(rr, sizeof(rr),
             "mosquitto_rr -h %s -p %d%s --cert claim.pem --key claim.key -i claim-1 "
             "-t '$aws/certificates/create/json' -e '$aws/certificates/create/json/accepted' "
             "-m '{}'",
             ctx->cfg.host, ctx->cfg.mqtt_port, ca_pem ? " --cafile root-ca.pem" : "");
    if (ctx->json) {
        json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:b, s:{s:s, s:s, s:s?}, s:s, s:s}",
                              "templateName", tpl, "certificateId", cert_id, "certificateArn",
                              cert_arn, "policyName", policy, "policyCreated", policy_created,
                              "files", "certificate", paths[0], "privateKey", paths[1],
                              "rootCA", ca_pem ? paths[2] : NULL, "directory", out_dir,
                              "mosquittoRr", rr);
        cli__json_print(ctx, o);
        json_decref(o);
        goto out;
    }
    char pol[300], files[1024];
    snprintf(pol, sizeof(pol), "%s%s", policy, policy_created ? " (created)" : "");
    snprintf(files, sizeof(files), "%s, %s (0600)%s%s", paths[0], paths[1], ca_pem ? ", " : "",
             ca_pem ? paths[2] : "");
    struct cli_table t;
    cli__table_init(&t, 2, NULL);
    cli__table_kv(&t, "template", tpl);
    cli__table_kv(&t, "certificate", cert_id);
    cli__table_kv(&t, "policy", pol);
    cli__table_kv(&t, "files", files);
    fprintf(ctx->out, "Created claim certificate for template %s\n", tpl);
    cli__table_print(&t, ctx->out);
    cli__table_cleanup(&t);
    fprintf(ctx->out,
            "\nThe claim may only connect, get a certificate and run template %s: a device\n"
            "publishes to $aws/certificates/create/json (or create-from-csr/json), then to\n"
            "$aws/provisioning-templates/%s/provision/json. The AWS IoT Device SDK's fleet\n"
            "provisioning sample takes --cert claim.pem --key claim.key%s --template_name %s.\n"
            "Try the first step%s%s%s:\n%s\n",
            tpl, tpl, ca_pem ? " --ca_file root-ca.pem" : "", tpl,
            strcmp(out_dir, ".") == 0 ? "" : " (in ", strcmp(out_dir, ".") == 0 ? "" : out_dir,
            strcmp(out_dir, ".") == 0 ? "" : ")", rr);
    goto out;

fail:
    cli__report(ctx);
    for (int i = 0; i < 3; i++)
        if (written[i])
            unlink(paths[i]);
    if (cert_arn && cert_id) {
        if (cli__cert_delete(ctx, cert_arn, cert_id, true) == 0)
            fprintf(stderr, "roost: undo: deleted certificate %s; no claim was made\n", cert_id);
        else
            fprintf(stderr, "roost: undo: could not delete certificate %s: %s%s%s\n", cert_id,
                    ctx->err_type, ctx->err_type[0] ? ": " : "", ctx->err_msg);
    }
    ctx->reported = true;
out:
    for (int i = 0; i < 3; i++)
        roost_free(paths[i]);
    roost_free(ca_pem);
    roost_free(policy);
    roost_free(cert_arn);
    roost_free(cert_id);
    if (keys) {
        /* The only copy of the private key besides the file: wipe it. */
        const char *k = cli__jstr(json_object_get(keys, "keyPair"), "PrivateKey");
        if (k[0])
            memset((char *)k, 0, strlen(k));
    }
    json_decref(keys);
    json_decref(doc);
    json_decref(body);
    return rc;
}
