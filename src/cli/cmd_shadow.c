/*
 * cmd_shadow.c - `roost shadow get|update|delete`: a thing's device shadow
 * (classic, or named with --name) through roostd's iot-data plane, the
 * routes the AWS CLI's `iot-data get-thing-shadow` etc. use, signed for the
 * service "iotdata" rather than the control plane's "iot". The server's
 * answer is the shadow service's /accepted document; it is printed indented,
 * or compact with --json. An update document given whole (argument or
 * --file) is sent byte for byte, so the server alone judges it.
 */
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

#define SHADOW_FILE_LIMIT (1u << 20) /* far above AWS's 8 KiB document limit */

/* One call on /things/THING/shadow[?name=N] with an optional raw body. */
static int shadow_call(struct cli_ctx *ctx, const struct cli_invocation *inv,
                       const char *method, const char *body, size_t body_len, json_t **out)
{
    const char *thing = inv->pos[0];
    const char *name = cli__flag(inv, "name");
    const char *labels[1] = {thing};
    struct roost_buf path, q;
    roost_buf_init(&path, 0);
    roost_buf_init(&q, 0);
    int rc = cli__path_build(&path, "/things/{}/shadow", labels, 1);
    if (!rc && name)
        rc = cli__query_add(&q, "name", name);
    if (rc) {
        cli__fail(ctx, NULL, "cannot build the request: %s", roost_strerror(rc));
        rc = CLI_EFAIL;
        goto out;
    }
    ctx->service = "iotdata";
    struct cli_request req = {method, (const char *)path.data,
                              name ? (const char *)q.data : NULL, body, body_len, NULL};
    rc = cli__call(ctx, &req, out);
    ctx->service = NULL;
out:
    roost_buf_cleanup(&path);
    roost_buf_cleanup(&q);
    return rc;
}

static int shadow_print(struct cli_ctx *ctx, const json_t *doc)
{
    if (!ctx->json) {
        cli__json_print(ctx, doc);
        return 0;
    }
    char *s = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
    if (s) {
        fprintf(ctx->out, "%s\n", s);
        roost_free(s);
    }
    return 0;
}

int cli__cmd_shadow_get(struct cli_ctx *ctx, const struct cli_invocation *inv)
{
    json_t *doc = NULL;
    int rc = shadow_call(ctx, inv, "GET", NULL, 0, &doc);
    if (!rc)
        rc = shadow_print(ctx, doc);
    json_decref(doc);
    return rc;
}

int cli__cmd_shadow_delete(struct cli_ctx *ctx, const struct cli_invocation *inv)
{
    json_t *doc = NULL;
    int rc = shadow_call(ctx, inv, "DELETE", NULL, 0, &doc);
    if (!rc)
        rc = shadow_print(ctx, doc);
    json_decref(doc);
    return rc;
}

/* Parses a --desired/--reported value into state[section]. */
static int state_add(struct cli_ctx *ctx, json_t *state, const char *section, const char *text)
{
    json_error_t jerr;
    json_t *v = json_loads(text, JSON_DECODE_ANY, &jerr);
    if (!v) {
        cli__fail(ctx, NULL, "--%s is not JSON: %s", section, jerr.text);
        return CLI_EUSAGE;
    }
    json_object_set_new(state, section, v);
    return 0;
}

int cli__cmd_shadow_update(struct cli_ctx *ctx, const struct cli_invocation *inv)
{
    const char *desired = cli__flag(inv, "desired");
    const char *reported = cli__flag(inv, "reported");
    const char *file = cli__flag(inv, "file");
    const char *raw = inv->n_pos > 1 ? inv->pos[1] : NULL;
    char *text = NULL;
    size_t len = 0;
    json_t *state = NULL, *doc = NULL, *answer = NULL;
    int rc = 0;

    int sources = (desired || reported) + !!file + !!raw;
    if (sources != 1) {
        cli__fail(ctx, NULL, "give the update as --desired/--reported, --file or one JSON "
                             "document, and only one of these");
        rc = CLI_EUSAGE;
        goto out;
    }
    if (file) {
        rc = cli__read_file(file, SHADOW_FILE_LIMIT, &text, &len);
        if (rc) {
            cli__fail(ctx, NULL, "cannot read %s: %s", file, roost_strerror(rc));
            rc = CLI_EFAIL;
            goto out;
        }
    } else if (raw) {
        text = roost_xstrdup(raw);
        len = strlen(text);
    } else {
        state = json_object();
        if (desired)
            rc = state_add(ctx, state, "desired", desired);
        if (!rc && reported)
            rc = state_add(ctx, state, "reported", reported);
        if (rc)
            goto out;
        doc = json_pack("{s:O}", "state", state);
        text = doc ? json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
        if (!text) {
            cli__fail(ctx, NULL, "cannot encode the request body");
            rc = CLI_EFAIL;
            goto out;
        }
        len = strlen(text);
    }
    rc = shadow_call(ctx, inv, "POST", text, len, &answer);
    if (!rc)
        rc = shadow_print(ctx, answer);
out:
    roost_free(text);
    json_decref(state);
    json_decref(doc);
    json_decref(answer);
    return rc;
}
