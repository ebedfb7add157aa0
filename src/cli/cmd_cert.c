/*
 * cmd_cert.c - `roost cert ls|show|revoke|activate|deactivate`. A certificate
 * id is 64 hex digits; like git, the commands also take a unique prefix of
 * at least 4 (what `device ls` shows is 12), resolved through
 * ListCertificates. Revoking (UpdateCertificate newStatus=REVOKED) is final
 * in AWS and cuts the device off at once in Roost.
 */
#include "cli/cli.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define CERT_ID_LEN 64
#define MIN_PREFIX 4

static bool all_hex(const char *s)
{
    for (; *s; s++)
        if (!isxdigit((unsigned char)*s))
            return false;
    return true;
}

/* Every certificate the server lists at `path` ("/certificates",
 * "/cacertificates"): both answer {certificates: [...], nextMarker}. */
static int list_certificates(struct cli_ctx *ctx, const char *path, json_t **out)
{
    struct cli_list l = {.tmpl = path, .items_key = "certificates", .token_in = "marker",
                         .token_out = "nextMarker"};
    return cli__list_all(ctx, &l, out);
}

int cli__certificate_resolve(struct cli_ctx *ctx, const char *list_path, const char *what,
                             const char *id_or_prefix, char **out_id)
{
    size_t n = strlen(id_or_prefix);
    json_t *certs = NULL;
    char *found = NULL;
    int matches = 0, rc = 0;
    *out_id = NULL;

    /* Anything but a short hex prefix goes to the server as it is, which
     * then answers in AWS's words. */
    if (n >= CERT_ID_LEN || n < MIN_PREFIX || !all_hex(id_or_prefix)) {
        *out_id = roost_xstrdup(id_or_prefix);
        for (char *p = *out_id; n == CERT_ID_LEN && *p; p++)
            *p = (char)tolower((unsigned char)*p);
        return 0;
    }
    rc = list_certificates(ctx, list_path, &certs);
    if (rc)
        goto out;
    size_t i;
    json_t *v;
    json_array_foreach(certs, i, v) {
        const char *id = cli__jstr(v, "certificateId");
        if (strncasecmp(id, id_or_prefix, n) == 0 && matches++ == 0)
            found = roost_xstrdup(id);
    }
    if (matches == 1) {
        *out_id = found;
        found = NULL;
    } else if (matches == 0) {
        cli__fail(ctx, NULL, "no %s id starts with %s", what, id_or_prefix);
        rc = CLI_EFAIL;
    } else {
        cli__fail(ctx, NULL, "%d %s ids start with %s: give more digits", matches, what,
                  id_or_prefix);
        rc = CLI_EUSAGE;
    }
out:
    roost_free(found);
    json_decref(certs);
    return rc;
}

int cli__cert_resolve(struct cli_ctx *ctx, const char *id_or_prefix, char **out_id)
{
    return cli__certificate_resolve(ctx, "/certificates", "certificate", id_or_prefix, out_id);
}

int cli__certificate_ls(struct cli_ctx *ctx, const char *list_path, const char *id_header)
{
    json_t *certs = NULL;
    int rc = list_certificates(ctx, list_path, &certs);
    if (rc)
        return rc;
    if (ctx->json) {
        json_t *o = json_pack("{s:O}", "certificates", certs);
        cli__json_print(ctx, o);
        json_decref(o);
    } else {
        const char *headers[] = {id_header, "STATUS", "CREATED"};
        struct cli_table t;
        cli__table_init(&t, 3, headers);
        size_t i;
        json_t *v;
        json_array_foreach(certs, i, v) {
            char created[32];
            cli__time_format(json_object_get(v, "creationDate"), created);
            cli__table_add(&t, (const char *[]){cli__jstr(v, "certificateId"),
                                                cli__jstr(v, "status"), created});
        }
        cli__table_print(&t, ctx->out);
        cli__table_cleanup(&t);
    }
    json_decref(certs);
    return 0;
}

int cli__cert_delete(struct cli_ctx *ctx, const char *cert_arn, const char *cert_id, bool quiet)
{
    json_t *policies = NULL, *desc = NULL, *body = NULL;
    int rc;

    struct cli_list l = {.method = "POST", .tmpl = "/attached-policies/{}", .label = cert_arn,
                         .items_key = "policies", .token_in = "marker",
                         .token_out = "nextMarker"};
    rc = cli__list_all(ctx, &l, &policies);
    if (rc)
        goto out;
    body = json_pack("{s:s}", "target", cert_arn);
    size_t i;
    json_t *p;
    json_array_foreach(policies, i, p) {
        const char *pname = cli__jstr(p, "policyName");
        rc = cli__api(ctx, "POST", "/target-policies/{}", pname, NULL, body, NULL, NULL);
        if (rc)
            goto out;
        if (!quiet)
            fprintf(stderr, "roost: detached policy %s from certificate %s\n", pname, cert_id);
    }

    rc = cli__api(ctx, "GET", "/certificates/{}", cert_id, NULL, NULL, NULL, &desc);
    if (rc)
        goto out;
    const char *status = cli__jstr(json_object_get(desc, "certificateDescription"), "status");
    if (strcmp(status, "ACTIVE") == 0) {
        rc = cli__api(ctx, "PUT", "/certificates/{}", cert_id, "newStatus=INACTIVE", NULL, NULL,
                      NULL);
        if (rc)
            goto out;
    }
    rc = cli__api(ctx, "DELETE", "/certificates/{}", cert_id, NULL, NULL, NULL, NULL);
    if (rc)
        goto out;
    if (!quiet)
        fprintf(stderr, "roost: deleted certificate %s\n", cert_id);
out:
    json_decref(policies);
    json_decref(desc);
    json_decref(body);
    return rc;
}

/* ---- ls / show --------------------------------------------------------------- */

int cli__cmd_cert_ls(struct cli_ctx *ctx, const struct cli_invocation *inv)
{
    ROOST_UNUSED(inv);
    return cli__certificate_ls(ctx, "/certificates", "CERTIFICATE ID");
}

/* "a, b, c" from an array of strings or of objects' `key` members. */
static void join_names(const json_t *arr, const char *key, char *out, size_t len)
{
    size_t used = 0;
    size_t i;
    const json_t *v;
    out[0] = '\0';
    json_array_foreach(arr, i, v) {
        const char *s = key ? cli__jstr(v, key) : json_string_value(v);
        int w = snprintf(out + used, len - used, "%s%s", used ? ", " : "", s ? s : "");
        if (w < 0 || (size_t)w >= len - used)
            break;
        used += (size_t)w;
    }
}

int cli__cmd_cert_show(struct cli_ctx *ctx, const struct cli_invocation *inv)
{
    char *id = NULL;
    json_t *desc = NULL, *things = NULL, *policies = NULL;
    int rc = cli__cert_resolve(ctx, inv->pos[0], &id);
    if (rc)
        goto out;
    rc = cli__api(ctx, "GET", "/certificates/{}", id, NULL, NULL, NULL, &desc);
    if (rc)
        goto out;
    if (ctx->json) {
        cli__json_print(ctx, desc);
        goto out;
    }
    const json_t *d = json_object_get(desc, "certificateDescription");
    const char *arn = cli__jstr(d, "certificateArn");
    struct cli_list lt = {.tmpl = "/principals/things", .principal = arn, .items_key = "things",
                          .token_in = "nextToken", .token_out = "nextToken"};
    rc = cli__list_all(ctx, &lt, &things);
    if (rc)
        goto out;
    struct cli_list lp = {.method = "POST", .tmpl = "/attached-policies/{}", .label = arn,
                          .items_key = "policies", .token_in = "marker",
                          .token_out = "nextMarker"};
    rc = cli__list_all(ctx, &lp, &policies);
    if (rc)
        goto out;

    char created[32], modified[32], nb[32], na[32], valid[80], thing_list[1024],
        policy_list[1024];
    const json_t *validity = json_object_get(d, "validity");
    cli__time_format(json_object_get(d, "creationDate"), created);
    cli__time_format(json_object_get(d, "lastModifiedDate"), modified);
    cli__time_format(json_object_get(validity, "notBefore"), nb);
    cli__time_format(json_object_get(validity, "notAfter"), na);
    snprintf(valid, sizeof(valid), "%s%s%s", nb, nb[0] || na[0] ? " to " : "", na);
    join_names(things, NULL, thing_list, sizeof(thing_list));
    join_names(policies, "policyName", policy_list, sizeof(policy_list));

    struct cli_table t;
    cli__table_init(&t, 2, NULL);
    cli__table_kv(&t, "id", cli__jstr(d, "certificateId"));
    cli__table_kv(&t, "arn", arn);
    cli__table_kv(&t, "status", cli__jstr(d, "status"));
    cli__table_kv(&t, "created", created);
    cli__table_kv(&t, "modified", modified);
    cli__table_kv(&t, "valid", valid);
    cli__table_kv(&t, "ca", cli__jstr(d, "caCertificateId"));
    cli__table_kv(&t, "things", thing_list);
    cli__table_kv(&t, "policies", policy_list);
    cli__table_print(&t, ctx->out);
    cli__table_cleanup(&t);
out:
    roost_free(id);
    json_decref(desc);
    json_decref(things);
    json_decref(policies);
    return rc;
}

/* ---- status changes ---------------------------------------------------------- */

static int set_status(struct cli_ctx *ctx, const struct cli_invocation *inv, const char *status)
{
    char *id = NULL;
    json_t *answer = NULL;
    struct roost_buf q;
    roost_buf_init(&q, 0);
    int rc = cli__cert_resolve(ctx, inv->pos[0], &id);
    if (rc)
        goto out;
    rc = cli__query_add(&q, "newStatus", status);
    if (rc)
        goto out;
    rc = cli__api(ctx, "PUT", "/certificates/{}", id, (const char *)q.data, NULL, NULL, &answer);
    if (rc)
        goto out;
    if (ctx->json)
        cli__json_print(ctx, answer);
    else
        fprintf(ctx->out, "Certificate %s is now %s\n", id, status);
out:
    roost_buf_cleanup(&q);
    roost_free(id);
    json_decref(answer);
    return rc;
}

int cli__cmd_cert_revoke(struct cli_ctx *ctx, const struct cli_invocation *inv)
{
    return set_status(ctx, inv, "REVOKED");
}

int cli__cmd_cert_activate(struct cli_ctx *ctx, const struct cli_invocation *inv)
{
    return set_status(ctx, inv, "ACTIVE");
}

int cli__cmd_cert_deactivate(struct cli_ctx *ctx, const struct cli_invocation *inv)
{
    return set_status(ctx, inv, "INACTIVE");
}
