/*
 * main.c - `roost`, the admin command line: the command table, and the one
 * place where an outcome becomes an exit status (0 ok, 1 the server refused
 * or a local step failed, 2 bad usage or configuration, 3 the server cannot
 * be reached). Everything a command prints as an error goes out once, here
 * or in the command that had more to say (device create's undo).
 */
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

static const struct cli_flag device_create_flags[] = {
    {"out", "DIR", "where the device's files go (default .)"},
    {"policy", "NAME", "policy to attach (default roost-default-device)"},
    {"force", NULL, "overwrite the device's files if they exist"},
    {NULL, NULL, NULL},
};

static const struct cli_flag thing_ls_flags[] = {
    {"type", "TYPE", "only things of this thing type"},
    {"attribute", "K=V", "only things whose attribute K is V"},
    {NULL, NULL, NULL},
};

static const struct cli_flag endpoint_flags[] = {
    {"type", "TYPE", "endpoint type (default iot:Data-ATS)"},
    {NULL, NULL, NULL},
};

static const struct cli_flag shadow_flags[] = {
    {"name", "N", "a named shadow (default: the classic shadow)"},
    {NULL, NULL, NULL},
};

static const struct cli_flag shadow_update_flags[] = {
    {"name", "N", "a named shadow (default: the classic shadow)"},
    {"desired", "JSON", "the desired state to merge in"},
    {"reported", "JSON", "the reported state to merge in"},
    {"file", "FILE", "the whole request document from FILE (- = stdin)"},
    {NULL, NULL, NULL},
};

static const char shadow_update_help[] =
    "Sends {\"state\":{\"desired\":...,\"reported\":...}} built from --desired and\n"
    "--reported, or a whole request document (JSON, or --file) as it is, and\n"
    "prints the accepted document. A null value deletes a key (or a section).";

static const char device_create_help[] =
    "Creates thing NAME, a new key pair and certificate (active), attaches the\n"
    "certificate to the thing and the policy to the certificate, and writes the\n"
    "certificate, its private key (mode 0600) and the root CA into --out. The\n"
    "default policy lets a device connect with its own name as client id and\n"
    "use things/NAME/... and its shadow topics. If a step fails, what was made\n"
    "is taken back. Prints the thing ARN, the certificate id and a mosquitto_pub\n"
    "command that connects as the device.";

static const char device_rm_help[] =
    "Detaches every certificate from thing NAME, detaches their policies,\n"
    "deactivates and deletes them (a certificate still attached to another thing\n"
    "is kept), then deletes the thing.";

static const char cert_help[] =
    "ID is the full certificate id or a unique prefix of at least 4 hex digits.";

static const char ca_register_help[] =
    "Registers the device CA in CA.pem, proving possession of CA.key (PEM,\n"
    "not encrypted) the way AWS asks: GetRegistrationCode, a verification\n"
    "certificate with that code as its CN signed with CA.key (made here; the key\n"
    "is not sent), RegisterCACertificate ACTIVE with auto-registration (JITR) on\n"
    "unless --no-auto-registration. --jitp-template FILE adds a JITP template\n"
    "body (registrationConfig), --jitp-template-name NAME names a JITP template\n"
    "made with `roost template create --type JITP`; --first-connect says whether\n"
    "a JITP device's first connection is kept (accept) or closed after it is\n"
    "provisioned (reject, as in AWS). Prints the CA certificate id.";

static const char ca_id_help[] =
    "ID is the full CA certificate id or a unique prefix of at least 4 hex digits.";

static const char template_create_help[] =
    "Creates provisioning template NAME from the template body in FILE (JSON;\n"
    "- reads stdin), enabled unless --disabled. --hook URL (http or https) or\n"
    "exec:/path sets the pre-provisioning hook (payload version 2020-04-01).";

static const char template_update_help[] =
    "--file FILE adds a new version of the body and makes it the default;\n"
    "--enable/--disable, --hook/--no-hook and --description change the template.";

static const char claim_create_help[] =
    "Creates a claim certificate for fleet provisioning with template NAME: a\n"
    "new active certificate with policy NAME-claim (made on first use), which\n"
    "allows connecting and the $aws/certificates/create/..., create-from-csr/...\n"
    "and $aws/provisioning-templates/NAME/provision/... topics, nothing else.\n"
    "Writes claim.pem, claim.key (0600) and root-ca.pem into --out.";

static const struct cli_command commands[] = {
    {"device", "create", "NAME", 1, 1, device_create_flags,
     "create a thing with a certificate, key and policy", device_create_help,
     cli__cmd_device_create},
    {"device", "ls", "", 0, 0, NULL, "list devices (things) with their certificates", NULL,
     cli__cmd_device_ls},
    {"device", "rm", "NAME", 1, 1, NULL, "remove a thing and its certificates", device_rm_help,
     cli__cmd_device_rm},
    {"thing", "ls", "", 0, 0, thing_ls_flags, "list things (every page)", NULL,
     cli__cmd_thing_ls},
    {"thing", "show", "NAME", 1, 1, NULL, "describe a thing and its principals", NULL,
     cli__cmd_thing_show},
    {"cert", "ls", "", 0, 0, NULL, "list certificates", NULL, cli__cmd_cert_ls},
    {"cert", "show", "ID", 1, 1, NULL, "describe a certificate, its things and policies",
     cert_help, cli__cmd_cert_show},
    {"cert", "revoke", "ID", 1, 1, NULL, "revoke a certificate (devices using it are cut off)",
     cert_help, cli__cmd_cert_revoke},
    {"cert", "deactivate", "ID", 1, 1, NULL, "set a certificate INACTIVE", cert_help,
     cli__cmd_cert_deactivate},
    {"cert", "activate", "ID", 1, 1, NULL, "set a certificate ACTIVE", cert_help,
     cli__cmd_cert_activate},
    {"policy", "ls", "", 0, 0, NULL, "list policies", NULL, cli__cmd_policy_ls},
    {"policy", "show", "NAME", 1, 1, NULL, "show a policy and its document", NULL,
     cli__cmd_policy_show},
    {"policy", "create", "NAME FILE", 2, 2, NULL, "create a policy from a JSON file (- = stdin)",
     NULL, cli__cmd_policy_create},
    {"policy", "rm", "NAME", 1, 1, NULL, "delete a policy", NULL, cli__cmd_policy_rm},
    {"policy", "attach", "NAME TARGET", 2, 2, NULL,
     "attach a policy to a certificate (id or prefix), an ARN or \"anonymous\"", NULL,
     cli__cmd_policy_attach},
    {"policy", "detach", "NAME TARGET", 2, 2, NULL, "detach a policy from a target", NULL,
     cli__cmd_policy_detach},
    {"policy", "targets", "NAME", 1, 1, NULL, "list what a policy is attached to", NULL,
     cli__cmd_policy_targets},
    {"shadow", "get", "THING", 1, 1, shadow_flags, "print a thing's shadow document", NULL,
     cli__cmd_shadow_get},
    {"shadow", "update", "THING [JSON]", 1, 2, shadow_update_flags,
     "update a thing's shadow (desired or reported state)", shadow_update_help,
     cli__cmd_shadow_update},
    {"shadow", "delete", "THING", 1, 1, shadow_flags, "delete a thing's shadow", NULL,
     cli__cmd_shadow_delete},
    {"ca", "register", "CA.pem CA.key", 2, 2, cli__ca_register_flags,
     "register a device CA (proof of possession done here)", ca_register_help,
     cli__cmd_ca_register},
    {"ca", "ls", "", 0, 0, NULL, "list CA certificates", NULL, cli__cmd_ca_ls},
    {"ca", "show", "ID", 1, 1, NULL, "describe a CA certificate and its JITP settings",
     ca_id_help, cli__cmd_ca_show},
    {"ca", "activate", "ID", 1, 1, NULL, "set a CA certificate ACTIVE", ca_id_help,
     cli__cmd_ca_activate},
    {"ca", "deactivate", "ID", 1, 1, NULL, "set a CA certificate INACTIVE", ca_id_help,
     cli__cmd_ca_deactivate},
    {"ca", "rm", "ID", 1, 1, NULL, "deactivate and delete a CA certificate", ca_id_help,
     cli__cmd_ca_rm},
    {"template", "create", "NAME FILE", 2, 2, cli__template_create_flags,
     "create a provisioning template", template_create_help, cli__cmd_template_create},
    {"template", "ls", "", 0, 0, NULL, "list provisioning templates", NULL,
     cli__cmd_template_ls},
    {"template", "show", "NAME", 1, 1, NULL, "describe a provisioning template and its body",
     NULL, cli__cmd_template_show},
    {"template", "update", "NAME", 1, 1, cli__template_update_flags,
     "enable, disable or change a provisioning template", template_update_help,
     cli__cmd_template_update},
    {"template", "rm", "NAME", 1, 1, NULL, "delete a provisioning template", NULL,
     cli__cmd_template_rm},
    {"claim", "create", "", 0, 0, cli__claim_create_flags,
     "create a fleet provisioning claim certificate", claim_create_help,
     cli__cmd_claim_create},
    {"endpoint", NULL, "", 0, 0, endpoint_flags, "print the device data endpoint", NULL,
     cli__cmd_endpoint},
};

static const struct {
    int rc;
    int exit_code;
} exit_codes[] = {
    {0, CLI_EXIT_OK},
    {CLI_EUSAGE, CLI_EXIT_USAGE},
    {CLI_EAPI, CLI_EXIT_API},
    {CLI_EREACH, CLI_EXIT_UNREACHABLE},
    {CLI_EFAIL, CLI_EXIT_API},
};

int cli__exit_code(int rc)
{
    for (size_t i = 0; i < ROOST_ARRAY_LEN(exit_codes); i++)
        if (exit_codes[i].rc == rc)
            return exit_codes[i].exit_code;
    return CLI_EXIT_API; /* any other failure of a command */
}

static void usage_hint(const struct cli_invocation *inv)
{
    if (inv->cmd)
        fprintf(stderr, "Try 'roost %s%s%s --help'.\n", inv->cmd->group,
                inv->cmd->verb ? " " : "", inv->cmd->verb ? inv->cmd->verb : "");
    else
        fprintf(stderr, "Try 'roost --help'.\n");
}

int main(int argc, char **argv)
{
    struct cli_invocation inv;
    struct cli_ctx ctx;
    char err[1024];
    int rc;

    memset(&ctx, 0, sizeof(ctx));
    /* One allocator for everything, so jansson's strings are roost_free'd. */
    json_set_alloc_funcs(roost_xmalloc, roost_free);

    rc = cli__parse_args(argc, argv, commands, ROOST_ARRAY_LEN(commands), &inv, err,
                         sizeof(err));
    if (rc) {
        fprintf(stderr, "roost: %s\n", err);
        usage_hint(&inv);
        return cli__exit_code(rc);
    }
    if (inv.g.help) {
        cli__help_print(stdout, commands, ROOST_ARRAY_LEN(commands), inv.help_group, inv.cmd);
        return CLI_EXIT_OK;
    }
    if (inv.g.version) {
        printf("roost %s\n", ROOST_VERSION);
        return CLI_EXIT_OK;
    }

    ctx.json = inv.g.json;
    ctx.out = stdout;
    rc = cli__config_resolve(&inv.g, &ctx.cfg, err, sizeof(err));
    if (rc) {
        fprintf(stderr, "roost: %s\n", err);
        return cli__exit_code(rc);
    }
    rc = cli__ctx_init(&ctx);
    if (rc) {
        fprintf(stderr, "roost: cannot start libcurl\n");
        goto out;
    }
    rc = inv.cmd->run(&ctx, &inv);
    if (rc) {
        cli__report(&ctx);
        if (rc == CLI_EUSAGE)
            usage_hint(&inv);
    }
out:
    cli__ctx_cleanup(&ctx);
    if (fflush(stdout) != 0 && rc == 0) {
        fprintf(stderr, "roost: cannot write the output: %s\n", strerror(errno));
        rc = CLI_EFAIL;
    }
    return cli__exit_code(rc);
}
