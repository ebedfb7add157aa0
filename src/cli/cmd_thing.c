/*
 * cmd_thing.c - `roost thing ls|show` and `roost endpoint`: read-only views
 * of the registry. `thing ls` follows nextToken through every page, so the
 * table (and the --json array) is the whole registry, not its first page.
 */
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

/* "k=v, k2=v2" from an attributes object, keys in the server's order. */
static void attributes_text(const json_t *attrs, char *out, size_t len)
{
    size_t used = 0;
    const char *k;
    const json_t *v;
    out[0] = '\0';
    json_object_foreach((json_t *)attrs, k, v) {
        int w = snprintf(out + used, len - used, "%s%s=%s", used ? ", " : "", k,
                         json_is_string(v) ? json_string_value(v) : "");
        if (w < 0 || (size_t)w >= len - used)
            break;
        used += (size_t)w;
    }
}

int cli__cmd_thing_ls(struct cli_ctx *ctx, const struct cli_invocation *inv)
{
    const char *type = cli__flag(inv, "type");
    const char *attr = cli__flag(inv, "attribute");
    struct roost_buf q;
    json_t *things = NULL;
    char *key = NULL;
    int rc = 0;
    roost_buf_init(&q, 0);

    if (attr) {
        const char *eq = strchr(attr, '=');
        if (!eq || eq == attr) {
            cli__fail(ctx, NULL, "--attribute wants NAME=VALUE, not '%s'", attr);
            rc = CLI_EUSAGE;
            goto out;
        }
        key = roost_xstrndup(attr, (size_t)(eq - attr));
        rc = cli__query_add(&q, "attributeName", key);
        if (!rc)
            rc = cli__query_add(&q, "attributeValue", eq + 1);
    }
    if (!rc && type)
        rc = cli__query_add(&q, "thingTypeName", type);
    if (rc)
        goto out;

    struct cli_list l = {.tmpl = "/things", .query = (const char *)q.data, .items_key = "things",
                         .token_in = "nextToken", .token_out = "nextToken"};
    rc = cli__list_all(ctx, &l, &things);
    if (rc)
        goto out;
    if (ctx->json) {
        json_t *o = json_pack("{s:O}", "things", things);
        cli__json_print(ctx, o);
        json_decref(o);
        goto out;
    }
    static const char *const headers[] = {"NAME", "TYPE", "VERSION", "ATTRIBUTES"};
    struct cli_table t;
    cli__table_init(&t, 4, headers);
    size_t i;
    json_t *v;
    json_array_foreach(things, i, v) {
        char version[32] = "", attrs[1024];
        const json_t *ver = json_object_get(v, "version");
        if (json_is_integer(ver))
            snprintf(version, sizeof(version), "%lld", (long long)json_integer_value(ver));
        attributes_text(json_object_get(v, "attributes"), attrs, sizeof(attrs));
        cli__table_add(&t, (const char *[]){cli__jstr(v, "thingName"),
                                            cli__jstr(v, "thingTypeName"), version, attrs});
    }
    cli__table_print(&t, ctx->out);
    cli__table_cleanup(&t);
out:
    roost_free(key);
    roost_buf_cleanup(&q);
    json_decref(things);
    return rc;
}

int cli__cmd_thing_show(struct cli_ctx *ctx, const struct cli_invocation *inv)
{
    const char *name = inv->pos[0];
    json_t *thing = NULL, *principals = NULL;
    int rc = cli__api(ctx, "GET", "/things/{}", name, NULL, NULL, NULL, &thing);
    if (rc)
        goto out;
    if (ctx->json) {
        cli__json_print(ctx, thing);
        goto out;
    }
    struct cli_list l = {.tmpl = "/things/{}/principals", .label = name,
                         .items_key = "principals", .token_in = "nextToken",
                         .token_out = "nextToken"};
    rc = cli__list_all(ctx, &l, &principals);
    if (rc)
        goto out;

    char version[32] = "", attrs[2048];
    const json_t *ver = json_object_get(thing, "version");
    if (json_is_integer(ver))
        snprintf(version, sizeof(version), "%lld", (long long)json_integer_value(ver));
    attributes_text(json_object_get(thing, "attributes"), attrs, sizeof(attrs));

    struct cli_table t;
    cli__table_init(&t, 2, NULL);
    cli__table_kv(&t, "name", cli__jstr(thing, "thingName"));
    cli__table_kv(&t, "arn", cli__jstr(thing, "thingArn"));
    cli__table_kv(&t, "id", cli__jstr(thing, "thingId"));
    cli__table_kv(&t, "type", cli__jstr(thing, "thingTypeName"));
    cli__table_kv(&t, "version", version);
    cli__table_kv(&t, "attributes", attrs);
    cli__table_kv(&t, "billing group", cli__jstr(thing, "billingGroupName"));
    size_t i;
    json_t *p;
    json_array_foreach(principals, i, p)
        cli__table_add(&t, (const char *[]){i == 0 ? "principals" : "", json_string_value(p)});
    if (json_array_size(principals) == 0)
        cli__table_kv(&t, "principals", "-");
    cli__table_print(&t, ctx->out);
    cli__table_cleanup(&t);
out:
    json_decref(thing);
    json_decref(principals);
    return rc;
}

int cli__cmd_endpoint(struct cli_ctx *ctx, const struct cli_invocation *inv)
{
    const char *type = cli__flag(inv, "type");
    struct roost_buf q;
    json_t *answer = NULL;
    roost_buf_init(&q, 0);
    int rc = cli__query_add(&q, "endpointType", type ? type : "iot:Data-ATS");
    if (rc)
        goto out;
    rc = cli__api(ctx, "GET", "/endpoint", NULL, (const char *)q.data, NULL, NULL, &answer);
    if (rc)
        goto out;
    if (ctx->json)
        cli__json_print(ctx, answer);
    else
        fprintf(ctx->out, "%s\n", cli__jstr(answer, "endpointAddress"));
out:
    roost_buf_cleanup(&q);
    json_decref(answer);
    return rc;
}
