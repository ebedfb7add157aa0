/*
 * cmd_ca.c - `roost ca register|ls|show|activate|deactivate|rm`: the device
 * CAs whose certificates roostd accepts (JITR, JITP, RegisterCertificate).
 * `register` does AWS's proof of possession on the operator's machine:
 * GetRegistrationCode, then a fresh key pair and a verification certificate
 * whose subject CN is that code, signed with the CA's private key (through
 * src/pki, the same OpenSSL code roostd issues with), then
 * RegisterCACertificate. The CA key never leaves this process. Everything
 * that can be found wrong locally (an unreadable file, a key that does not
 * belong to the certificate, a certificate that is not a CA) is reported
 * before the first request.
 */
#include "cli/cli.h"
#include "pki/pki.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define TEMPLATE_FILE_LIMIT (10u << 10) /* AWS: templateBody at most 10240 characters */
#define VERIFICATION_DAYS 1             /* it only has to be valid while the server looks */

int cli__account_id(struct cli_ctx *ctx, char out[CLI_ACCOUNT_LEN + 1])
{
    size_t n = strlen(ctx->cfg.data_dir) + sizeof("/roost.conf");
    char *path = roost_xmalloc(n);
    char *text = NULL;
    size_t len = 0;
    snprintf(path, n, "%s/roost.conf", ctx->cfg.data_dir);
    int rc = cli__read_file(path, 1u << 20, &text, &len);
    if (rc == -ENOENT) {
        snprintf(out, CLI_ACCOUNT_LEN + 1, "%s", CLI_DEFAULT_ACCOUNT);
        rc = 0;
        goto out;
    }
    if (rc) {
        cli__fail(ctx, NULL, "cannot read %s: %s", path, roost_strerror(rc));
        rc = CLI_EFAIL;
        goto out;
    }
    rc = cli__conf_account(text, len, out);
    if (rc == ROOST_ENOTFOUND) {
        snprintf(out, CLI_ACCOUNT_LEN + 1, "%s", CLI_DEFAULT_ACCOUNT);
        rc = 0;
    } else if (rc) {
        cli__fail(ctx, NULL, "%s: account_id is not 12 digits, or the file is not roostd's "
                  "key = value settings", path);
        rc = CLI_EFAIL;
    }
out:
    roost_free(text);
    roost_free(path);
    return rc;
}

/* A full CA certificate id, or a unique prefix of at least 4 hex digits
 * (as `ca ls` shows them), as for device certificates. */
static int ca_resolve(struct cli_ctx *ctx, const char *id_or_prefix, char **out_id)
{
    return cli__certificate_resolve(ctx, "/cacertificates", "CA certificate", id_or_prefix,
                                    out_id);
}

/* ---- register -------------------------------------------------------------- */

/* An encrypted key would make OpenSSL prompt on the terminal: refuse it. */
static int no_password(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)u;
    return -1;
}

/* The local checks, each with its own message: the certificate reads and is
 * a CA, the key reads and is the certificate's. */
static int check_ca_pair(struct cli_ctx *ctx, const char *cert_file, const char *cert_pem,
                         size_t cert_len, const char *key_file, const char *key_pem,
                         size_t key_len)
{
    X509 *cert = NULL;
    EVP_PKEY *key = NULL;
    int rc = CLI_EFAIL;
    BIO *bio = BIO_new_mem_buf(cert_pem, (int)cert_len);
    if (bio)
        cert = PEM_read_bio_X509(bio, NULL, no_password, NULL);
    BIO_free(bio);
    if (!cert) {
        cli__fail(ctx, NULL, "%s holds no PEM certificate", cert_file);
        goto out;
    }
    if (X509_check_ca(cert) == 0) {
        cli__fail(ctx, NULL, "%s is not a CA certificate (basicConstraints CA:TRUE, keyUsage "
                  "keyCertSign)", cert_file);
        goto out;
    }
    bio = BIO_new_mem_buf(key_pem, (int)key_len);
    if (bio)
        key = PEM_read_bio_PrivateKey(bio, NULL, no_password, NULL);
    BIO_free(bio);
    if (!key) {
        cli__fail(ctx, NULL, "%s holds no readable PEM private key (an encrypted key must be "
                  "decrypted first: openssl pkey -in %s -out plain.key)", key_file, key_file);
        goto out;
    }
    if (X509_check_private_key(cert, key) != 1) {
        cli__fail(ctx, NULL, "the key in %s does not match the certificate in %s", key_file,
                  cert_file);
        goto out;
    }
    rc = 0;
out:
    ERR_clear_error();
    X509_free(cert);
    EVP_PKEY_free(key);
    return rc;
}

static int read_input(struct cli_ctx *ctx, const char *file, size_t limit, const char *what,
                      char **out, size_t *out_len)
{
    int rc = cli__read_file(file, limit, out, out_len);
    if (rc) {
        cli__fail(ctx, NULL, "cannot read the %s %s: %s", what, file, roost_strerror(rc));
        return CLI_EFAIL;
    }
    return 0;
}

int cli__cmd_ca_register(struct cli_ctx *ctx, const struct cli_invocation *inv)
{
    const char *cert_file = inv->pos[0], *key_file = inv->pos[1];
    const char *tpl_file = cli__flag(inv, "jitp-template");
    char *cert_pem = NULL, *key_pem = NULL, *tpl = NULL;
    size_t cert_len = 0, key_len = 0, tpl_len = 0;
    struct roost_pki_ca *ca = NULL;
    struct roost_pki_issued ver = {0};
    json_t *code_answer = NULL, *body = NULL, *answer = NULL;
    struct roost_buf query;
    char account[CLI_ACCOUNT_LEN + 1], err[512];
    int rc;
    roost_buf_init(&query, 0);

    /* The flags are checked first (with stand-ins for what the files and the
     * server give), so that a usage error is told before anything else. */
    struct cli_ca_register r = {.ca_pem = "", .verification_pem = "",
                                .template_body = tpl_file ? "{}" : NULL,
                                .template_name = cli__flag(inv, "jitp-template-name"),
                                .first_connect = cli__flag(inv, "first-connect"),
                                .auto_registration = !cli__flag(inv, "no-auto-registration"),
                                .account = CLI_DEFAULT_ACCOUNT};
    rc = cli__ca_register_request(&r, &query, &body, err, sizeof(err));
    if (rc) {
        cli__fail(ctx, NULL, "%s", err);
        goto out;
    }
    json_decref(body);
    body = NULL;
    roost_buf_clear(&query);

    rc = read_input(ctx, cert_file, ROOST_PKI_CERT_MAX, "CA certificate", &cert_pem, &cert_len);
    if (!rc)
        rc = read_input(ctx, key_file, 64u << 10, "CA key", &key_pem, &key_len);
    if (!rc && tpl_file)
        rc = read_input(ctx, tpl_file, TEMPLATE_FILE_LIMIT, "JITP template", &tpl, &tpl_len);
    if (rc)
        goto out;
    if (tpl && cli__template_body_check(tpl_file, tpl, tpl_len, err, sizeof(err))) {
        cli__fail(ctx, NULL, "%s", err);
        rc = CLI_EFAIL;
        goto out;
    }
    rc = check_ca_pair(ctx, cert_file, cert_pem, cert_len, key_file, key_pem, key_len);
    if (rc)
        goto out;
    rc = cli__account_id(ctx, account);
    if (rc)
        goto out;
    r.ca_pem = cert_pem;
    r.template_body = tpl;
    r.template_len = tpl_len;
    r.account = account;

    rc = cli__api(ctx, "GET", "/registrationcode", NULL, NULL, NULL, NULL, &code_answer);
    if (rc)
        goto out;
    const char *code = cli__jstr(code_answer, "registrationCode");
    if (!code[0]) {
        cli__fail(ctx, NULL, "GetRegistrationCode answered without registrationCode");
        rc = CLI_EFAIL;
        goto out;
    }
    rc = roost_pki_ca_from_pem(cert_pem, cert_len, key_pem, key_len, &ca);
    if (!rc)
        rc = roost_pki_issue_keypair(ca, code, VERIFICATION_DAYS, 0, &ver);
    if (rc) {
        cli__fail(ctx, NULL, "cannot make the verification certificate with %s: %s (has the "
                  "CA expired?)", cert_file, roost_strerror(rc));
        rc = CLI_EFAIL;
        goto out;
    }
    r.verification_pem = ver.cert_pem;
    rc = cli__ca_register_request(&r, &query, &body, err, sizeof(err));
    if (rc) {
        cli__fail(ctx, NULL, "%s", err);
        goto out;
    }
    rc = cli__api(ctx, "POST", "/cacertificate", NULL, (const char *)query.data, body, NULL,
                  &answer);
    if (rc)
        goto out;
    const char *id = cli__jstr(answer, "certificateId");
    if (ctx->json) {
        cli__json_print(ctx, answer);
        goto out;
    }
    fprintf(ctx->out, "Registered CA certificate %s\n", id);
    struct cli_table t;
    cli__table_init(&t, 2, NULL);
    cli__table_kv(&t, "arn", cli__jstr(answer, "certificateArn"));
    cli__table_kv(&t, "status", "ACTIVE");
    cli__table_kv(&t, "auto-registration", r.auto_registration ? "ENABLE" : "DISABLE");
    cli__table_kv(&t, "jitp template", tpl_file ? tpl_file : r.template_name);
    if (r.first_connect)
        cli__table_kv(&t, "first connect", r.first_connect);
    cli__table_print(&t, ctx->out);
    cli__table_cleanup(&t);
out:
    roost_buf_cleanup(&query);
    roost_pki_issued_cleanup(&ver);
    roost_pki_ca_free(ca);
    roost_free(cert_pem);
    if (key_pem) {
        memset(key_pem, 0, key_len); /* the CA's secret */
        roost_free(key_pem);
    }
    roost_free(tpl);
    json_decref(code_answer);
    json_decref(body);
    json_decref(answer);
    return rc;
}

/* ---- ls / show ------------------------------------------------------------- */

int cli__cmd_ca_ls(struct cli_ctx *ctx, const struct cli_invocation *inv)
{
    ROOST_UNUSED(inv);
    return cli__certificate_ls(ctx, "/cacertificates", "CA CERTIFICATE ID");
}

int cli__cmd_ca_show(struct cli_ctx *ctx, const struct cli_invocation *inv)
{
    char *id = NULL;
    json_t *desc = NULL;
    int rc = ca_resolve(ctx, inv->pos[0], &id);
    if (rc)
        goto out;
    rc = cli__api(ctx, "GET", "/cacertificate/{}", id, NULL, NULL, NULL, &desc);
    if (rc)
        goto out;
    if (ctx->json) {
        cli__json_print(ctx, desc);
        goto out;
    }
    const json_t *d = json_object_get(desc, "certificateDescription");
    const json_t *cfg = json_object_get(desc, "registrationConfig");
    char created[32], modified[32], nb[32], na[32], valid[80], jitp[160];
    const json_t *validity = json_object_get(d, "validity");
    cli__time_format(json_object_get(d, "creationDate"), created);
    cli__time_format(json_object_get(d, "lastModifiedDate"), modified);
    cli__time_format(json_object_get(validity, "notBefore"), nb);
    cli__time_format(json_object_get(validity, "notAfter"), na);
    snprintf(valid, sizeof(valid), "%s%s%s", nb, nb[0] || na[0] ? " to " : "", na);
    if (cli__jstr(cfg, "templateName")[0])
        snprintf(jitp, sizeof(jitp), "template %.100s", cli__jstr(cfg, "templateName"));
    else if (cli__jstr(cfg, "templateBody")[0])
        snprintf(jitp, sizeof(jitp), "template body (%zu characters; --json shows it)",
                 strlen(cli__jstr(cfg, "templateBody")));
    else
        jitp[0] = '\0';

    struct cli_table t;
    cli__table_init(&t, 2, NULL);
    cli__table_kv(&t, "id", cli__jstr(d, "certificateId"));
    cli__table_kv(&t, "arn", cli__jstr(d, "certificateArn"));
    cli__table_kv(&t, "status", cli__jstr(d, "status"));
    cli__table_kv(&t, "auto-registration", cli__jstr(d, "autoRegistrationStatus"));
    cli__table_kv(&t, "mode", cli__jstr(d, "certificateMode"));
    cli__table_kv(&t, "created", created);
    cli__table_kv(&t, "modified", modified);
    cli__table_kv(&t, "valid", valid);
    cli__table_kv(&t, "jitp", jitp);
    cli__table_kv(&t, "role", cli__jstr(cfg, "roleArn"));
    cli__table_print(&t, ctx->out);
    cli__table_cleanup(&t);
out:
    roost_free(id);
    json_decref(desc);
    return rc;
}

/* ---- status changes and rm -------------------------------------------------- */

static int set_status(struct cli_ctx *ctx, const char *id, const char *status)
{
    struct roost_buf q;
    roost_buf_init(&q, 0);
    int rc = cli__query_add(&q, "newStatus", status);
    if (!rc)
        rc = cli__api(ctx, "PUT", "/cacertificate/{}", id, (const char *)q.data, NULL, NULL,
                      NULL);
    roost_buf_cleanup(&q);
    return rc;
}

static int status_cmd(struct cli_ctx *ctx, const struct cli_invocation *inv, const char *status)
{
    char *id = NULL;
    int rc = ca_resolve(ctx, inv->pos[0], &id);
    if (!rc)
        rc = set_status(ctx, id, status);
    if (!rc) {
        if (ctx->json) {
            json_t *o = json_pack("{s:s, s:s}", "certificateId", id, "status", status);
            cli__json_print(ctx, o);
            json_decref(o);
        } else {
            fprintf(ctx->out, "CA certificate %s is now %s\n", id, status);
        }
    }
    roost_free(id);
    return rc;
}

int cli__cmd_ca_activate(struct cli_ctx *ctx, const struct cli_invocation *inv)
{
    return status_cmd(ctx, inv, "ACTIVE");
}

int cli__cmd_ca_deactivate(struct cli_ctx *ctx, const struct cli_invocation *inv)
{
    return status_cmd(ctx, inv, "INACTIVE");
}

/* DeleteCACertificate wants the CA INACTIVE: an ACTIVE one is deactivated
 * first, as an operator who says "remove" means. */
int cli__cmd_ca_rm(struct cli_ctx *ctx, const struct cli_invocation *inv)
{
    char *id = NULL;
    json_t *desc = NULL;
    int rc = ca_resolve(ctx, inv->pos[0], &id);
    if (rc)
        goto out;
    rc = cli__api(ctx, "GET", "/cacertificate/{}", id, NULL, NULL, NULL, &desc);
    if (rc)
        goto out;
    const char *status = cli__jstr(json_object_get(desc, "certificateDescription"), "status");
    if (strcmp(status, "ACTIVE") == 0) {
        rc = set_status(ctx, id, "INACTIVE");
        if (rc)
            goto out;
        if (!ctx->json)
            fprintf(stderr, "roost: deactivated CA certificate %s\n", id);
    }
    rc = cli__api(ctx, "DELETE", "/cacertificate/{}", id, NULL, NULL, NULL, NULL);
    if (rc)
        goto out;
    if (ctx->json) {
        json_t *o = json_pack("{s:s}", "deletedCertificateId", id);
        cli__json_print(ctx, o);
        json_decref(o);
    } else {
        fprintf(ctx->out, "Deleted CA certificate %s\n", id);
    }
out:
    roost_free(id);
    json_decref(desc);
    return rc;
}
