/*
 * cmd_device.c - `roost device create|ls|rm`: a device is a thing with a
 * certificate that carries a policy, which is what it takes for a device to
 * connect. `create` makes all of it in one go (CreateThing,
 * CreateKeysAndCertificate, AttachThingPrincipal, AttachPolicy, with the
 * default policy `roost-default-device` made on first use) and writes the
 * device's files; when a step fails it takes back what it made, so a failed
 * create leaves nothing half-made behind. `rm` is the reverse.
 */
#include "cli/cli.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULT_POLICY "roost-default-device"

/* The thing's own topics, its shadows and a client id equal to its name. The
 * ARN prefix ("arn:aws:iot:us-east-1:123456789012:") comes from the thing's
 * ARN, so the policy matches the server's region and account. */
static json_t *default_policy_doc(const char *arn_prefix)
{
    static const char var[] = "${iot:Connection.Thing.ThingName}";
    char client[512], topic[512], shadow[512], filter[512], shadow_filter[512];
    snprintf(client, sizeof(client), "%sclient/%s", arn_prefix, var);
    snprintf(topic, sizeof(topic), "%stopic/things/%s/*", arn_prefix, var);
    snprintf(shadow, sizeof(shadow), "%stopic/$aws/things/%s/shadow/*", arn_prefix, var);
    snprintf(filter, sizeof(filter), "%stopicfilter/things/%s/*", arn_prefix, var);
    snprintf(shadow_filter, sizeof(shadow_filter), "%stopicfilter/$aws/things/%s/shadow/*",
             arn_prefix, var);
    return json_pack("{s:s, s:[{s:s, s:s, s:s}, {s:s, s:[s,s], s:[s,s]}, {s:s, s:s, s:[s,s]}]}",
                     "Version", "2012-10-17", "Statement",
                     "Effect", "Allow", "Action", "iot:Connect", "Resource", client,
                     "Effect", "Allow", "Action", "iot:Publish", "iot:Receive",
                     "Resource", topic, shadow,
                     "Effect", "Allow", "Action", "iot:Subscribe",
                     "Resource", filter, shadow_filter);
}

/* AWS's thingName rule; it also keeps the file names below plain. */
static bool thing_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 128)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == ':' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

static char *path_join(const char *dir, const char *name, const char *suffix)
{
    size_t n = strlen(dir) + strlen(name) + strlen(suffix) + 2;
    char *p = roost_xmalloc(n);
    snprintf(p, n, "%s/%s%s", dir, name, suffix);
    return p;
}

static bool is_error(const struct cli_ctx *ctx, int rc, const char *type)
{
    return rc == CLI_EAPI && strcmp(ctx->err_type, type) == 0;
}

/* "arn:aws:iot:r:a:cert/ID" -> "ID" (the ARN itself for other principals). */
static const char *cert_id_of(const char *arn)
{
    const char *p = strstr(arn, ":cert/");
    return p ? p + 6 : NULL;
}

/* ---- create -------------------------------------------------------------- */

/* What `create` has made so far, for taking it back. */
struct made {
    const char *name;
    const char *policy;
    bool thing;
    char *cert_arn;
    char *cert_id;
    bool principal_attached;
    bool policy_attached;
    char *files[3];
};

static void undo_step(struct cli_ctx *ctx, int rc, const char *what, bool *all_ok)
{
    if (rc == 0) {
        fprintf(stderr, "roost: undo: %s\n", what);
        return;
    }
    *all_ok = false;
    fprintf(stderr, "roost: undo: could not %s: %s%s%s\n", what, ctx->err_type,
            ctx->err_type[0] ? ": " : "", ctx->err_msg);
}

static void undo(struct cli_ctx *ctx, struct made *m)
{
    bool ok = true;
    char what[512];
    for (size_t i = 0; i < ROOST_ARRAY_LEN(m->files); i++)
        if (m->files[i])
            unlink(m->files[i]);
    if (m->policy_attached) {
        json_t *body = json_pack("{s:s}", "target", m->cert_arn);
        int rc = cli__api(ctx, "POST", "/target-policies/{}", m->policy, NULL, body, NULL, NULL);
        json_decref(body);
        snprintf(what, sizeof(what), "detached policy %s", m->policy);
        undo_step(ctx, rc, what, &ok);
    }
    if (m->principal_attached) {
        int rc = cli__api(ctx, "DELETE", "/things/{}/principals", m->name, NULL, NULL,
                          m->cert_arn, NULL);
        snprintf(what, sizeof(what), "detached the certificate from thing %s", m->name);
        undo_step(ctx, rc, what, &ok);
    }
    if (m->cert_id) {
        int rc = cli__api(ctx, "PUT", "/certificates/{}", m->cert_id, "newStatus=INACTIVE", NULL,
                          NULL, NULL);
        snprintf(what, sizeof(what), "deactivated certificate %s", m->cert_id);
        undo_step(ctx, rc, what, &ok);
        rc = cli__api(ctx, "DELETE", "/certificates/{}", m->cert_id, NULL, NULL, NULL, NULL);
        snprintf(what, sizeof(what), "deleted certificate %s", m->cert_id);
        undo_step(ctx, rc, what, &ok);
    }
    if (m->thing) {
        int rc = cli__api(ctx, "DELETE", "/things/{}", m->name, NULL, NULL, NULL, NULL);
        snprintf(what, sizeof(what), "deleted thing %s", m->name);
        undo_step(ctx, rc, what, &ok);
    }
    if (ok)
        fprintf(stderr, "roost: device %s was not created; nothing of it is left\n", m->name);
    else
        fprintf(stderr, "roost: device %s was not created, and some of it is left (see above); "
                "`roost device rm %s` may clean it up\n", m->name, m->name);
    ctx->reported = true; /* the first failure was printed before undoing */
}

/* Writes a whole file: `exclusive` refuses an existing one. */
int cli__write_file(const char *path, const char *data, mode_t mode, bool exclusive)
{
    int flags = O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW | (exclusive ? O_EXCL : O_TRUNC);
    int rc = 0;
    int fd = open(path, flags, mode);
    if (fd < 0)
        return -errno;
    /* An existing file keeps its mode on O_TRUNC: a key must not stay readable. */
    if (fchmod(fd, mode) != 0) {
        rc = -errno;
        goto out;
    }
    size_t len = strlen(data), off = 0;
    while (off < len) {
        ssize_t n = write(fd, data + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = -errno;
            goto out;
        }
        off += (size_t)n;
    }
out:
    if (close(fd) != 0 && !rc)
        rc = -errno;
    return rc;
}

int cli__out_dir_prepare(struct cli_ctx *ctx, const char *dir)
{
    struct stat st;
    if (stat(dir, &st) == 0) {
        if (S_ISDIR(st.st_mode))
            return 0;
        cli__fail(ctx, NULL, "--out %s is not a directory", dir);
        return CLI_EUSAGE;
    }
    if (errno == ENOENT && mkdir(dir, 0755) == 0)
        return 0;
    cli__fail(ctx, NULL, "cannot use --out %s: %s", dir, strerror(errno));
    return CLI_EFAIL;
}

static void print_created(struct cli_ctx *ctx, const char *name, const char *thing_arn,
                          const char *thing_id, const struct made *m, bool policy_created,
                          const char *out_dir, const char *mosq)
{
    if (ctx->json) {
        json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:b, s:{s:s, s:s, s:s}, s:s, s:s}",
                              "thingName", name, "thingArn", thing_arn, "thingId", thing_id,
                              "certificateId", m->cert_id, "certificateArn", m->cert_arn,
                              "policyName", m->policy, "policyCreated", policy_created,
                              "files", "certificate", m->files[0], "privateKey", m->files[1],
                              "rootCA", m->files[2], "directory", out_dir, "mosquittoPub",
                              mosq);
        cli__json_print(ctx, o);
        json_decref(o);
        return;
    }
    char policy[300], files[1024];
    snprintf(policy, sizeof(policy), "%s%s", m->policy, policy_created ? " (created)" : "");
    snprintf(files, sizeof(files), "%s, %s (0600), %s", m->files[0], m->files[1], m->files[2]);
    struct cli_table t;
    cli__table_init(&t, 2, NULL);
    cli__table_kv(&t, "thing", thing_arn);
    cli__table_kv(&t, "certificate", m->cert_id);
    cli__table_kv(&t, "policy", policy);
    cli__table_kv(&t, "files", files);
    fprintf(ctx->out, "Created device %s\n", name);
    cli__table_print(&t, ctx->out);
    cli__table_cleanup(&t);
    if (strcmp(out_dir, ".") == 0)
        fprintf(ctx->out, "\nTry it:\n");
    else
        fprintf(ctx->out, "\nTry it (in %s):\n", out_dir);
    fprintf(ctx->out, "%s\n", mosq);
}

int cli__cmd_device_create(struct cli_ctx *ctx, const struct cli_invocation *inv)
{
    const char *name = inv->pos[0];
    const char *out_dir = cli__flag(inv, "out");
    const char *policy_flag = cli__flag(inv, "policy");
    bool force = cli__flag(inv, "force") != NULL;
    struct made m = {.name = name, .policy = policy_flag ? policy_flag : DEFAULT_POLICY};
    char *paths[3] = {NULL, NULL, NULL};
    char *ca_pem = NULL;
    size_t ca_len = 0;
    json_t *thing = NULL, *keys = NULL, *doc = NULL, *body = NULL;
    bool create_policy = false;
    int rc = 0;

    if (!out_dir || !out_dir[0])
        out_dir = ".";
    if (!thing_name_ok(name)) {
        cli__fail(ctx, NULL, "invalid device name '%s': 1-128 characters of a-z A-Z 0-9 : _ -",
                  name);
        rc = CLI_EUSAGE;
        goto out;
    }

    /* Everything that can fail locally fails before anything is created. */
    rc = cli__out_dir_prepare(ctx, out_dir);
    if (rc)
        goto out;
    paths[0] = path_join(out_dir, name, ".cert.pem");
    paths[1] = path_join(out_dir, name, ".private.key");
    paths[2] = path_join(out_dir, "root-ca", ".pem");
    for (int i = 0; i < 2 && !force; i++) {
        if (access(paths[i], F_OK) == 0) {
            cli__fail(ctx, NULL, "%s exists (--force overwrites it)", paths[i]);
            rc = CLI_EFAIL;
            goto out;
        }
    }
    rc = cli__read_file(ctx->cfg.ca_file, 1u << 20, &ca_pem, &ca_len);
    if (rc) {
        cli__fail(ctx, NULL, "cannot read the CA %s for the device: %s", ctx->cfg.ca_file,
                  roost_strerror(rc));
        rc = CLI_EFAIL;
        goto out;
    }

    /* CreateThing succeeds for an existing thing with the same settings;
     * that thing is not ours to undo, so refuse it first. */
    rc = cli__api(ctx, "GET", "/things/{}", name, NULL, NULL, NULL, NULL);
    if (rc == 0) {
        cli__fail(ctx, "ResourceAlreadyExistsException",
                  "thing %s already exists (`roost device rm %s` removes it)", name, name);
        rc = CLI_EAPI;
        goto out;
    }
    if (!is_error(ctx, rc, "ResourceNotFoundException"))
        goto out;

    rc = cli__api(ctx, "GET", "/policies/{}", m.policy, NULL, NULL, NULL, NULL);
    if (rc && !policy_flag && is_error(ctx, rc, "ResourceNotFoundException"))
        create_policy = true;
    else if (rc)
        goto out;
    rc = 0;

    /* From here on a failure undoes what was made. */
    body = json_object();
    rc = cli__api(ctx, "POST", "/things/{}", name, NULL, body, NULL, &thing);
    if (rc)
        goto fail;
    m.thing = true;
    const char *thing_arn = cli__jstr(thing, "thingArn");
    const char *thing_id = cli__jstr(thing, "thingId");

    if (create_policy) {
        const char *colon = strstr(thing_arn, ":thing/");
        char prefix[256];
        if (colon && (size_t)(colon - thing_arn) + 2 < sizeof(prefix))
            snprintf(prefix, sizeof(prefix), "%.*s:", (int)(colon - thing_arn), thing_arn);
        else
            snprintf(prefix, sizeof(prefix), "arn:aws:iot:*:*:");
        doc = default_policy_doc(prefix);
        char *text = json_dumps(doc, JSON_COMPACT);
        json_decref(body);
        body = json_pack("{s:s}", "policyDocument", text);
        roost_free(text);
        rc = cli__api(ctx, "POST", "/policies/{}", m.policy, NULL, body, NULL, NULL);
        if (is_error(ctx, rc, "ResourceAlreadyExistsException"))
            rc = 0; /* made meanwhile by someone else: as good */
        else if (rc)
            goto fail;
        else
            fprintf(stderr, "roost: created the default device policy %s\n", m.policy);
    }

    rc = cli__api(ctx, "POST", "/keys-and-certificate", NULL, "setAsActive=true", NULL, NULL,
                  &keys);
    if (rc)
        goto fail;
    const char *cert_pem = cli__jstr(keys, "certificatePem");
    const char *key_pem = cli__jstr(json_object_get(keys, "keyPair"), "PrivateKey");
    if (cli__jstr(keys, "certificateArn")[0])
        m.cert_arn = roost_xstrdup(cli__jstr(keys, "certificateArn"));
    if (cli__jstr(keys, "certificateId")[0])
        m.cert_id = roost_xstrdup(cli__jstr(keys, "certificateId"));
    if (!m.cert_arn || !m.cert_id || !cert_pem[0] || !key_pem[0]) {
        cli__fail(ctx, NULL, "CreateKeysAndCertificate answered without certificateArn, "
                  "certificateId, certificatePem or keyPair.PrivateKey");
        rc = CLI_EFAIL;
        goto fail;
    }

    rc = cli__api(ctx, "PUT", "/things/{}/principals", name, NULL, NULL, m.cert_arn, NULL);
    if (rc)
        goto fail;
    m.principal_attached = true;

    json_decref(body);
    body = json_pack("{s:s}", "target", m.cert_arn);
    rc = cli__api(ctx, "PUT", "/target-policies/{}", m.policy, NULL, body, NULL, NULL);
    if (rc)
        goto fail;
    m.policy_attached = true;

    const char *contents[3] = {cert_pem, key_pem, ca_pem};
    const mode_t modes[3] = {0644, 0600, 0644};
    for (int i = 0; i < 3; i++) {
        rc = cli__write_file(paths[i], contents[i], modes[i], !force && i < 2);
        if (rc) {
            cli__fail(ctx, NULL, "cannot write %s: %s", paths[i], roost_strerror(rc));
            rc = CLI_EFAIL;
            goto fail;
        }
        m.files[i] = paths[i];
    }

    char mosq[1024];
    snprintf(mosq, sizeof(mosq),
             "mosquitto_pub -h %s -p %d --cafile root-ca.pem --cert %s.cert.pem --key "
             "%s.private.key -i %s -t things/%s/hello -m hi",
             ctx->cfg.host, ctx->cfg.mqtt_port, name, name, name, name);
    print_created(ctx, name, thing_arn, thing_id, &m, create_policy, out_dir, mosq);
    goto out;

fail:
    cli__report(ctx);
    undo(ctx, &m);
out:
    for (int i = 0; i < 3; i++)
        roost_free(paths[i]);
    if (ca_pem)
        roost_free(ca_pem);
    if (keys) {
        /* The only copy of the private key besides the file: wipe it. */
        json_t *kp = json_object_get(keys, "keyPair");
        const char *k = cli__jstr(kp, "PrivateKey");
        if (k[0])
            memset((char *)k, 0, strlen(k));
    }
    json_decref(keys);
    json_decref(thing);
    json_decref(doc);
    json_decref(body);
    roost_free(m.cert_arn);
    roost_free(m.cert_id);
    return rc;
}

/* ---- ls ------------------------------------------------------------------- */

int cli__cmd_device_ls(struct cli_ctx *ctx, const struct cli_invocation *inv)
{
    json_t *things = NULL, *certs = NULL, *status = json_object(), *devices = json_array();
    struct cli_table t;
    static const char *const headers[] = {"NAME", "TYPE", "CERTIFICATE", "STATUS"};
    int rc;
    cli__table_init(&t, 4, headers);

    struct cli_list lt = {.tmpl = "/things", .items_key = "things", .token_in = "nextToken",
                          .token_out = "nextToken"};
    rc = cli__list_all(ctx, &lt, &things);
    if (rc)
        goto out;
    struct cli_list lc = {.tmpl = "/certificates", .items_key = "certificates",
                          .token_in = "marker", .token_out = "nextMarker"};
    rc = cli__list_all(ctx, &lc, &certs);
    if (rc)
        goto out;
    size_t i;
    json_t *v;
    json_array_foreach(certs, i, v)
        json_object_set(status, cli__jstr(v, "certificateId"), json_object_get(v, "status"));

    json_array_foreach(things, i, v) {
        const char *name = cli__jstr(v, "thingName");
        json_t *principals = NULL;
        struct cli_list lp = {.tmpl = "/things/{}/principals", .label = name,
                              .items_key = "principals", .token_in = "nextToken",
                              .token_out = "nextToken"};
        rc = cli__list_all(ctx, &lp, &principals);
        if (rc == CLI_EAPI && strcmp(ctx->err_type, "ResourceNotFoundException") == 0) {
            rc = 0; /* removed since it was listed */
            continue;
        }
        if (rc)
            goto out;
        json_t *dev_certs = json_array();
        size_t j;
        json_t *p;
        json_array_foreach(principals, j, p) {
            const char *arn = json_string_value(p);
            const char *id = arn ? cert_id_of(arn) : NULL;
            const char *st = id ? json_string_value(json_object_get(status, id)) : NULL;
            char shortid[13];
            snprintf(shortid, sizeof(shortid), "%s", id ? id : (arn ? arn : ""));
            cli__table_add(&t, (const char *[]){j == 0 ? name : "",
                                                j == 0 ? cli__jstr(v, "thingTypeName") : "",
                                                shortid, st ? st : ""});
            json_array_append_new(dev_certs,
                                  json_pack("{s:s, s:s, s:s}", "certificateArn", arn ? arn : "",
                                            "certificateId", id ? id : "", "status",
                                            st ? st : ""));
        }
        if (json_array_size(principals) == 0)
            cli__table_add(&t, (const char *[]){name, cli__jstr(v, "thingTypeName"), "-", ""});
        json_array_append_new(devices,
                              json_pack("{s:s, s:s, s:s, s:o}", "thingName", name, "thingArn",
                                        cli__jstr(v, "thingArn"), "thingTypeName",
                                        cli__jstr(v, "thingTypeName"), "certificates",
                                        dev_certs));
        json_decref(principals);
    }
    if (ctx->json) {
        json_t *o = json_pack("{s:O}", "devices", devices);
        cli__json_print(ctx, o);
        json_decref(o);
    } else {
        cli__table_print(&t, ctx->out);
    }
out:
    cli__table_cleanup(&t);
    json_decref(things);
    json_decref(certs);
    json_decref(status);
    json_decref(devices);
    return rc;
}

/* ---- rm ------------------------------------------------------------------- */

int cli__cmd_device_rm(struct cli_ctx *ctx, const struct cli_invocation *inv)
{
    const char *name = inv->pos[0];
    json_t *principals = NULL, *deleted = json_array(), *kept = json_array();
    int rc;

    struct cli_list lp = {.tmpl = "/things/{}/principals", .label = name,
                          .items_key = "principals", .token_in = "nextToken",
                          .token_out = "nextToken"};
    rc = cli__list_all(ctx, &lp, &principals);
    if (rc)
        goto out;
    size_t i;
    json_t *p;
    json_array_foreach(principals, i, p) {
        const char *arn = json_string_value(p);
        if (!arn)
            continue;
        rc = cli__api(ctx, "DELETE", "/things/{}/principals", name, NULL, NULL, arn, NULL);
        if (rc)
            goto out;
        const char *id = cert_id_of(arn);
        if (!id) {
            fprintf(stderr, "roost: detached %s\n", arn);
            continue;
        }
        /* A certificate shared with another thing stays for that thing. */
        json_t *others = NULL;
        struct cli_list lo = {.tmpl = "/principals/things", .principal = arn,
                              .items_key = "things", .token_in = "nextToken",
                              .token_out = "nextToken"};
        rc = cli__list_all(ctx, &lo, &others);
        if (rc)
            goto out;
        size_t n_others = json_array_size(others);
        json_decref(others);
        if (n_others > 0) {
            fprintf(stderr, "roost: kept certificate %s: still attached to %zu other thing%s\n",
                    id, n_others, n_others == 1 ? "" : "s");
            json_array_append_new(kept, json_string(id));
            continue;
        }
        rc = cli__cert_delete(ctx, arn, id, ctx->json);
        if (rc)
            goto out;
        json_array_append_new(deleted, json_string(id));
    }
    rc = cli__api(ctx, "DELETE", "/things/{}", name, NULL, NULL, NULL, NULL);
    if (rc)
        goto out;
    if (ctx->json) {
        json_t *o = json_pack("{s:s, s:O, s:O}", "thingName", name, "deletedCertificates",
                              deleted, "keptCertificates", kept);
        cli__json_print(ctx, o);
        json_decref(o);
    } else {
        size_t n = json_array_size(deleted);
        fprintf(ctx->out, "Removed device %s (%zu certificate%s deleted)\n", name, n,
                n == 1 ? "" : "s");
    }
out:
    json_decref(principals);
    json_decref(deleted);
    json_decref(kept);
    return rc;
}
