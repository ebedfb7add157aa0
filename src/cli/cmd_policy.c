/*
 * cmd_policy.c - `roost policy ls|show|create|rm|attach|detach|targets`.
 * `create` reads the policy document from a file (or "-" for stdin) and
 * checks that it is JSON before sending it, so that a typo is reported with
 * its line rather than as a bare MalformedPolicyException; what the policy
 * means is the server's call. `attach` takes a certificate id (or prefix),
 * an ARN, or "anonymous" (the plain listeners' principal).
 */
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

#define POLICY_FILE_LIMIT (64u << 10) /* AWS allows 2048 characters without blanks */

int cli__cmd_policy_ls(struct cli_ctx *ctx, const struct cli_invocation *inv)
{
    json_t *policies = NULL;
    struct cli_list l = {.tmpl = "/policies", .items_key = "policies", .token_in = "marker",
                         .token_out = "nextMarker"};
    int rc = cli__list_all(ctx, &l, &policies);
    if (rc)
        return rc;
    if (ctx->json) {
        json_t *o = json_pack("{s:O}", "policies", policies);
        cli__json_print(ctx, o);
        json_decref(o);
    } else {
        static const char *const headers[] = {"NAME", "ARN"};
        struct cli_table t;
        cli__table_init(&t, 2, headers);
        size_t i;
        json_t *v;
        json_array_foreach(policies, i, v)
            cli__table_add(&t,
                           (const char *[]){cli__jstr(v, "policyName"), cli__jstr(v, "policyArn")});
        cli__table_print(&t, ctx->out);
        cli__table_cleanup(&t);
    }
    json_decref(policies);
    return 0;
}

int cli__cmd_policy_show(struct cli_ctx *ctx, const struct cli_invocation *inv)
{
    json_t *policy = NULL, *doc = NULL;
    int rc = cli__api(ctx, "GET", "/policies/{}", inv->pos[0], NULL, NULL, NULL, &policy);
    if (rc)
        goto out;
    if (ctx->json) {
        cli__json_print(ctx, policy);
        goto out;
    }
    char created[32], modified[32];
    cli__time_format(json_object_get(policy, "creationDate"), created);
    cli__time_format(json_object_get(policy, "lastModifiedDate"), modified);
    struct cli_table t;
    cli__table_init(&t, 2, NULL);
    cli__table_kv(&t, "name", cli__jstr(policy, "policyName"));
    cli__table_kv(&t, "arn", cli__jstr(policy, "policyArn"));
    cli__table_kv(&t, "version", cli__jstr(policy, "defaultVersionId"));
    cli__table_kv(&t, "created", created);
    cli__table_kv(&t, "modified", modified);
    cli__table_print(&t, ctx->out);
    cli__table_cleanup(&t);

    const char *text = cli__jstr(policy, "policyDocument");
    doc = json_loads(text, 0, NULL);
    fputc('\n', ctx->out);
    if (doc)
        cli__json_print(ctx, doc);
    else
        fprintf(ctx->out, "%s\n", text);
out:
    json_decref(policy);
    json_decref(doc);
    return rc;
}

int cli__cmd_policy_create(struct cli_ctx *ctx, const struct cli_invocation *inv)
{
    const char *name = inv->pos[0];
    const char *file = inv->pos[1];
    char *text = NULL;
    size_t len = 0;
    json_t *parsed = NULL, *body = NULL, *answer = NULL;
    json_error_t jerr;
    int rc = cli__read_file(file, POLICY_FILE_LIMIT, &text, &len);
    if (rc) {
        cli__fail(ctx, NULL, "cannot read %s: %s", file, roost_strerror(rc));
        rc = CLI_EFAIL;
        goto out;
    }
    parsed = json_loadb(text, len, 0, &jerr);
    if (!json_is_object(parsed)) {
        if (parsed)
            cli__fail(ctx, NULL, "%s: a policy document is a JSON object", file);
        else
            cli__fail(ctx, NULL, "%s:%d:%d: not JSON: %s", file, jerr.line, jerr.column,
                      jerr.text);
        rc = CLI_EFAIL;
        goto out;
    }
    body = json_pack("{s:s%}", "policyDocument", text, len);
    if (!body) {
        cli__fail(ctx, NULL, "%s is not UTF-8", file);
        rc = CLI_EFAIL;
        goto out;
    }
    rc = cli__api(ctx, "POST", "/policies/{}", name, NULL, body, NULL, &answer);
    if (rc)
        goto out;
    if (ctx->json)
        cli__json_print(ctx, answer);
    else
        fprintf(ctx->out, "Created policy %s (%s)\n", cli__jstr(answer, "policyName"),
                cli__jstr(answer, "policyArn"));
out:
    roost_free(text);
    json_decref(parsed);
    json_decref(body);
    json_decref(answer);
    return rc;
}

int cli__cmd_policy_rm(struct cli_ctx *ctx, const struct cli_invocation *inv)
{
    json_t *answer = NULL;
    int rc = cli__api(ctx, "DELETE", "/policies/{}", inv->pos[0], NULL, NULL, NULL, &answer);
    if (rc)
        goto out;
    if (ctx->json)
        cli__json_print(ctx, answer);
    else
        fprintf(ctx->out, "Deleted policy %s\n", inv->pos[0]);
out:
    json_decref(answer);
    return rc;
}

/* ---- attach / detach / targets ------------------------------------------ */

/* What AttachPolicy's `target` should be: "anonymous" (the plain listeners'
 * principal) and ARNs as given; anything else is a certificate id or a
 * unique prefix of one, whose ARN the server tells. */
static int resolve_target(struct cli_ctx *ctx, const char *target, char **out_target)
{
    *out_target = NULL;
    if (strcmp(target, "anonymous") == 0 || strncmp(target, "arn:", 4) == 0) {
        *out_target = roost_xstrdup(target);
        return 0;
    }
    char *id = NULL;
    json_t *desc = NULL;
    int rc = cli__cert_resolve(ctx, target, &id);
    if (!rc)
        rc = cli__api(ctx, "GET", "/certificates/{}", id, NULL, NULL, NULL, &desc);
    if (!rc) {
        const char *arn = cli__jstr(json_object_get(desc, "certificateDescription"),
                                    "certificateArn");
        if (*arn) {
            *out_target = roost_xstrdup(arn);
        } else {
            cli__fail(ctx, NULL, "the server did not name certificate %s's ARN", id);
            rc = CLI_EFAIL;
        }
    }
    json_decref(desc);
    roost_free(id);
    return rc;
}

static int attach_or_detach(struct cli_ctx *ctx, const struct cli_invocation *inv, bool attach)
{
    char *target = NULL;
    int rc = resolve_target(ctx, inv->pos[1], &target);
    if (rc)
        return rc;
    json_t *body = json_pack("{s:s}", "target", target);
    /* AttachPolicy is PUT, DetachPolicy POST, on the same path (AWS's routes) */
    rc = cli__api(ctx, attach ? "PUT" : "POST", "/target-policies/{}", inv->pos[0], NULL, body,
                  NULL, NULL);
    if (!rc && !ctx->json)
        fprintf(ctx->out, "%s policy %s %s %s\n", attach ? "attached" : "detached", inv->pos[0],
                attach ? "to" : "from", target);
    json_decref(body);
    roost_free(target);
    return rc;
}

int cli__cmd_policy_attach(struct cli_ctx *ctx, const struct cli_invocation *inv)
{
    return attach_or_detach(ctx, inv, true);
}

int cli__cmd_policy_detach(struct cli_ctx *ctx, const struct cli_invocation *inv)
{
    return attach_or_detach(ctx, inv, false);
}

int cli__cmd_policy_targets(struct cli_ctx *ctx, const struct cli_invocation *inv)
{
    json_t *targets = NULL;
    struct cli_list l = {.method = "POST", .tmpl = "/policy-targets/{}", .label = inv->pos[0],
                         .items_key = "targets", .token_in = "marker",
                         .token_out = "nextMarker"};
    int rc = cli__list_all(ctx, &l, &targets);
    if (rc)
        return rc;
    if (ctx->json) {
        json_t *o = json_pack("{s:O}", "targets", targets);
        cli__json_print(ctx, o);
        json_decref(o);
    } else {
        size_t i;
        json_t *v;
        json_array_foreach(targets, i, v)
            fprintf(ctx->out, "%s\n", json_string_value(v) ? json_string_value(v) : "");
    }
    json_decref(targets);
    return 0;
}
