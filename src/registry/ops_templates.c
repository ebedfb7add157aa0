/*
 * ops_templates.c - AWS IoT's provisioning template control plane
 * (Create/Describe/List/Update/DeleteProvisioningTemplate and their
 * versions) and RegisterThing, the operator-side use of a template.
 *
 * A template is one document "provtemplate"/<templateName> holding the
 * DescribeProvisioningTemplate members plus its versions (at most
 * TEMPLATE_VERSIONS_MAX, AWS's quota, so the document stays small):
 *   {templateName, templateArn, description, enabled, provisioningRoleArn,
 *    preProvisioningHook?, type, tags?, creationDate, lastModifiedDate (epoch
 *    seconds), defaultVersionId, nextVersionId,
 *    versions: {"<id>": {templateBody, creationDate}}}
 * Every body is parsed with the template engine when it is stored (type
 * FLEET for FLEET_PROVISIONING, JITP for JITP), so a stored template can
 * only fail later because of a request's parameters. The engine's one-line
 * error goes into the InvalidRequestException as it is.
 *
 * Roost runs pre-provisioning hooks itself instead of calling Lambda:
 * targetArn is an http(s):// URL or "exec:/absolute/path" (src/provision).
 */
#include "registry/registry_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#define TEMPLATE_DESCRIPTION_MAX     500
#define TEMPLATE_VERSIONS_MAX        5 /* AWS: versions per provisioning template */
#define ROLE_ARN_MIN                 20
#define ROLE_ARN_MAX                 2048
#define HOOK_TARGET_MAX              2048
#define HOOK_PAYLOAD_VERSION_DEFAULT "2020-04-01"
#define HOOK_PAYLOAD_VERSION_MAX     32

/* ==== Shared with ops_provision.c and ops_certs.c (registry_int.h) ======== */


int registry__template_load(struct roost_api_call *call, struct roost_store_txn *txn,
                            const char *name, json_t **out_doc, int64_t *out_version)
{
    return registry__doc_load(call, txn, REGISTRY_TEMPLATE_KIND, name, out_doc, out_version);
}

const char *registry__template_body(const json_t *doc, int64_t version_id)
{
    char key[24];
    if (version_id <= 0)
        version_id = (int64_t)json_integer_value(json_object_get(doc, "defaultVersionId"));
    snprintf(key, sizeof(key), "%" PRId64, version_id);
    const json_t *v = json_object_get(json_object_get(doc, "versions"), key);
    return json_string_value(json_object_get(v, "templateBody"));
}

int registry__template_check_body(struct roost_api_call *call, const char *body,
                                  enum roost_template_type type, const char *prefix)
{
    struct roost_template *t = NULL;
    char err[400] = "";
    int rc = roost_template_parse(body, strlen(body), type, &t, err, sizeof(err));
    roost_template_destroy(t);
    if (rc == 0)
        return 0;
    if (rc == ROOST_ETOOBIG)
        return ROOST_API_INVALID(call, "%s: the template body is longer than %d characters", prefix,
                                 ROOST_TEMPLATE_BODY_MAX);
    if (rc == ROOST_EMALFORMED)
        return ROOST_API_INVALID(call, "%s: the template body is not a JSON object%s%s", prefix,
                                 err[0] ? ": " : "", err);
    return ROOST_API_INVALID(call, "%s: %s", prefix, err[0] ? err : "invalid template");
}

/* ==== Validation ========================================================== */

static int check_template_name(struct roost_api_call *call, const char *name)
{
    if (roost_template_name_valid(name, strlen(name)))
        return 0;
    return ROOST_API_INVALID(call,
                             "1 validation error detected: Value '%.80s' at 'templateName' failed "
                             "to satisfy constraint: Member must have length between 1 and 36 and "
                             "satisfy regular expression pattern: ^[0-9A-Za-z_-]+$",
                             name ? name : "null");
}

static int check_description(struct roost_api_call *call, const char *s)
{
    if (!s)
        return 0;
    size_t chars = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p & 0xC0) != 0x80)
            chars++;
        if (*p < 0x20 || *p == 0x7f)
            return ROOST_API_INVALID(call, "1 validation error detected: Value at 'description' "
                                           "failed to satisfy constraint: Member must satisfy "
                                           "regular expression pattern: [^\\p{C}]*");
    }
    if (chars > TEMPLATE_DESCRIPTION_MAX)
        return ROOST_API_INVALID(call, "1 validation error detected: Value at 'description' failed "
                                       "to satisfy constraint: Member must have length less than "
                                       "or equal to 500");
    return 0;
}

static int check_role_arn(struct roost_api_call *call, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n < ROLE_ARN_MIN || n > ROLE_ARN_MAX)
        return ROOST_API_INVALID(call, "1 validation error detected: Value at "
                                       "'provisioningRoleArn' failed to satisfy constraint: Member "
                                       "must have length between 20 and 2048");
    return 0;
}

static bool digits_dashes(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || *s == '-'))
            return false;
    return true;
}

/* preProvisioningHook {targetArn, payloadVersion}: *out a cleaned copy with
 * the default payloadVersion filled in (NULL when absent). */
static int parse_hook(struct roost_api_call *call, json_t **out)
{
    json_t *hook = NULL;
    const char *target = NULL, *pv = NULL;
    *out = NULL;
    int rc = registry__member_object(call, call->body, "preProvisioningHook", &hook);
    if (rc || !hook)
        return rc;
    rc = registry__member_string(call, hook, "targetArn", &target);
    if (!rc)
        rc = registry__member_string(call, hook, "payloadVersion", &pv);
    if (rc)
        return rc;
    if (!target)
        return ROOST_API_INVALID(call, "1 validation error detected: Value null at "
                                       "'preProvisioningHook.targetArn' failed to satisfy "
                                       "constraint: Member must not be null");
    if (strlen(target) > HOOK_TARGET_MAX)
        return ROOST_API_INVALID(call, "preProvisioningHook.targetArn is longer than 2048");
    bool http = strncmp(target, "http://", 7) == 0 && target[7];
    bool https = strncmp(target, "https://", 8) == 0 && target[8];
    bool exec = strncmp(target, "exec:/", 6) == 0 && target[6];
    if (!http && !https && !exec)
        return ROOST_API_INVALID(call,
                                 "preProvisioningHook.targetArn '%.200s' is not supported: Roost "
                                 "runs pre-provisioning hooks as an HTTP(S) webhook "
                                 "(\"http://...\" or \"https://...\") or a local command "
                                 "(\"exec:/absolute/path\"), not as a Lambda function",
                                 target);
    if (!pv)
        pv = HOOK_PAYLOAD_VERSION_DEFAULT;
    if (strlen(pv) > HOOK_PAYLOAD_VERSION_MAX || !digits_dashes(pv))
        return ROOST_API_INVALID(call,
                                 "1 validation error detected: Value '%.40s' at "
                                 "'preProvisioningHook.payloadVersion' failed to satisfy "
                                 "constraint: Member must satisfy regular expression pattern: "
                                 "^[0-9-]+$",
                                 pv);
    *out = json_pack("{s:s,s:s}", "targetArn", target, "payloadVersion", pv);
    return 0;
}

static int parse_tags(struct roost_api_call *call, json_t **out)
{
    json_t *tags = NULL, *t;
    size_t i;
    *out = NULL;
    int rc = registry__member_array(call, call->body, "tags", &tags);
    if (rc || !tags)
        return rc;
    json_array_foreach(tags, i, t)
    {
        const char *k = NULL, *v = NULL;
        if (!json_is_object(t))
            return ROOST_API_INVALID(call, "tags[%zu] must be an object {Key, Value}", i);
        rc = registry__member_string(call, t, "Key", &k);
        if (!rc)
            rc = registry__member_string(call, t, "Value", &v);
        if (rc)
            return rc;
        if (!k || !*k || strlen(k) > 128)
            return ROOST_API_INVALID(call, "tags[%zu].Key must have length between 1 and 128", i);
        if (v && strlen(v) > 256)
            return ROOST_API_INVALID(call, "tags[%zu].Value must be at most 256 characters", i);
    }
    *out = json_deep_copy(tags);
    return 0;
}

/* The template's type: `type` member, FLEET_PROVISIONING by default. */
static int parse_type(struct roost_api_call *call, const char **out_name,
                      enum roost_template_type *out_type)
{
    const char *s = NULL;
    int rc = registry__member_string(call, call->body, "type", &s);
    if (rc)
        return rc;
    if (!s)
        s = "FLEET_PROVISIONING";
    if (roost_template_type_parse(s, out_type) != 0)
        return ROOST_API_INVALID(call,
                                 "1 validation error detected: Value '%.40s' at 'type' failed to "
                                 "satisfy constraint: Member must satisfy enum value set: "
                                 "[FLEET_PROVISIONING, JITP]",
                                 s);
    *out_name = roost_template_type_name(*out_type);
    return 0;
}

static int doc_type(const json_t *doc, enum roost_template_type *out)
{
    const char *s = json_string_value(json_object_get(doc, "type"));
    return roost_template_type_parse(s ? s : "FLEET_PROVISIONING", out);
}

static int template_not_found(struct roost_api_call *call, const char *name)
{
    return ROOST_API_NOT_FOUND(call, "The provisioning template %s does not exist", name);
}

/* Loads the template of the path label, or fails the call. */
static int load_labeled(struct roost_api_call *call, struct roost_store_txn *txn, json_t **doc,
                        int64_t *version)
{
    const char *name = call->labels[0];
    int rc = check_template_name(call, name);
    if (rc)
        return rc;
    rc = registry__template_load(call, txn, name, doc, version);
    if (rc == ROOST_ENOTFOUND)
        return template_not_found(call, name);
    return rc;
}

static int store_template(struct roost_api_call *call, struct roost_store_txn *txn,
                          const char *name, const json_t *doc, int64_t version)
{
    int rc = registry__doc_store(call, txn, REGISTRY_TEMPLATE_KIND, name, doc, version, NULL);
    if (rc == ROOST_ECONFLICT || rc == ROOST_ENOTFOUND)
        rc = registry__store_fail(call, rc, "provtemplate put");
    return rc;
}

/* ==== CreateProvisioningTemplate ========================================== */

/* POST /provisioning-templates {templateName, description, templateBody,
 * enabled, provisioningRoleArn, preProvisioningHook, tags, type} */
int registry__op_create_provisioning_template(struct roost_registry *reg,
                                              struct roost_store_txn *txn,
                                              struct roost_api_call *call)
{
    const char *name = NULL, *desc = NULL, *body = NULL, *role = NULL, *type_name = NULL;
    bool enabled = false;
    enum roost_template_type type;
    json_t *hook = NULL, *tags = NULL, *doc = NULL;
    struct roost_store_doc existing;
    char arn[REGISTRY_ARN_MAX];
    int rc = registry__member_string(call, call->body, "templateName", &name);
    if (!rc)
        rc = check_template_name(call, name);
    if (!rc)
        rc = registry__member_string(call, call->body, "description", &desc);
    if (!rc)
        rc = check_description(call, desc);
    if (!rc)
        rc = registry__member_string(call, call->body, "templateBody", &body);
    if (!rc && !body)
        rc = ROOST_API_INVALID(call, "1 validation error detected: Value null at 'templateBody' "
                                     "failed to satisfy constraint: Member must not be null");
    if (!rc)
        rc = registry__member_string(call, call->body, "provisioningRoleArn", &role);
    if (!rc)
        rc = check_role_arn(call, role);
    if (!rc)
        rc = registry__member_bool(call, call->body, "enabled", false, &enabled);
    if (!rc)
        rc = parse_type(call, &type_name, &type);
    if (!rc)
        rc = parse_hook(call, &hook);
    if (!rc && hook && type != ROOST_TEMPLATE_FLEET)
        rc = ROOST_API_INVALID(call, "A preProvisioningHook is only supported by "
                                     "FLEET_PROVISIONING templates");
    if (!rc)
        rc = parse_tags(call, &tags);
    if (!rc)
        rc = registry__template_check_body(call, body, type, "Invalid provisioning template");
    if (rc)
        goto out;
    rc = roost_registry_arn(reg, "provisioningtemplate", name, arn, sizeof(arn));
    if (rc) {
        rc = registry__store_fail(call, rc, "template arn");
        goto out;
    }
    rc = roost_store_doc_get(txn, REGISTRY_TEMPLATE_KIND, name, &existing);
    if (rc == 0) {
        rc = registry__fail_exists(call, name, arn, "Template with name %s already exists", name);
        goto out;
    }
    if (rc != ROOST_ENOTFOUND) {
        rc = registry__store_fail(call, rc, "provtemplate get");
        goto out;
    }
    doc = json_object();
    json_object_set_new(doc, "templateName", json_string(name));
    json_object_set_new(doc, "templateArn", json_string(arn));
    if (desc)
        json_object_set_new(doc, "description", json_string(desc));
    json_object_set_new(doc, "enabled", json_boolean(enabled));
    json_object_set_new(doc, "provisioningRoleArn", json_string(role));
    if (hook)
        json_object_set(doc, "preProvisioningHook", hook);
    json_object_set_new(doc, "type", json_string(type_name));
    if (tags)
        json_object_set(doc, "tags", tags);
    json_object_set_new(doc, "creationDate", registry__timestamp(call->now_ms));
    json_object_set_new(doc, "lastModifiedDate", registry__timestamp(call->now_ms));
    json_object_set_new(doc, "defaultVersionId", json_integer(1));
    json_object_set_new(doc, "nextVersionId", json_integer(2));
    json_object_set_new(doc, "versions",
                        json_pack("{s:{s:s,s:o}}", "1", "templateBody", body, "creationDate",
                                  registry__timestamp(call->now_ms)));
    rc = store_template(call, txn, name, doc, 0);
    if (rc)
        goto out;
    call->result =
        json_pack("{s:s,s:s,s:i}", "templateArn", arn, "templateName", name, "defaultVersionId", 1);
out:
    json_decref(hook);
    json_decref(tags);
    json_decref(doc);
    return rc;
}

/* ==== Describe, List ====================================================== */

static void copy_members(json_t *to, const json_t *from, const char *const *keys, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_object_get(from, keys[i]);
        if (v)
            json_object_set(to, keys[i], v);
    }
}

/* GET /provisioning-templates/{templateName} */
int registry__op_describe_provisioning_template(struct roost_registry *reg,
                                                struct roost_store_txn *txn,
                                                struct roost_api_call *call)
{
    static const char *const keys[] = {
        "templateArn",  "templateName",        "description",
        "creationDate", "lastModifiedDate",    "defaultVersionId",
        "enabled",      "provisioningRoleArn", "preProvisioningHook",
        "type",
    };
    json_t *doc = NULL;
    ROOST_UNUSED(reg);
    int rc = load_labeled(call, txn, &doc, NULL);
    if (rc)
        return rc;
    call->result = json_object();
    copy_members(call->result, doc, keys, ROOST_ARRAY_LEN(keys));
    const char *body = registry__template_body(doc, 0);
    if (body)
        json_object_set_new(call->result, "templateBody", json_string(body));
    json_decref(doc);
    return 0;
}

struct list_templates {
    json_t *items;
    size_t max;
    bool more;
    char last[ROOST_TEMPLATE_NAME_MAX + 1];
};

static int list_templates_cb(void *ud, const struct roost_store_doc *d)
{
    static const char *const keys[] = {"templateArn",  "templateName",     "description",
                                       "creationDate", "lastModifiedDate", "enabled",
                                       "type"};
    struct list_templates *lt = ud;
    if (json_array_size(lt->items) == lt->max) {
        lt->more = true;
        return 1;
    }
    json_t *doc = json_loads(d->body, 0, NULL);
    if (!doc)
        return 0;
    json_t *item = json_object();
    copy_members(item, doc, keys, ROOST_ARRAY_LEN(keys));
    json_array_append_new(lt->items, item);
    snprintf(lt->last, sizeof(lt->last), "%s", d->name);
    json_decref(doc);
    return 0;
}

/* GET /provisioning-templates?maxResults=&nextToken= : name order; the
 * token is the last name of the page. */
int registry__op_list_provisioning_templates(struct roost_registry *reg,
                                             struct roost_store_txn *txn,
                                             struct roost_api_call *call)
{
    size_t max = 0;
    ROOST_UNUSED(reg);
    int rc = registry__max_results(call, &max);
    if (rc)
        return rc;
    const char *token = registry__query(call, "nextToken");
    if (token && !roost_template_name_valid(token, strlen(token)))
        return ROOST_API_INVALID(call, "The nextToken is not valid");
    struct list_templates lt = {.items = json_array(), .max = max};
    rc = roost_store_doc_list(txn, REGISTRY_TEMPLATE_KIND, NULL, token, max + 1, list_templates_cb,
                              &lt);
    if (rc && rc != 1) {
        json_decref(lt.items);
        return registry__store_fail(call, rc, "provtemplate list");
    }
    call->result = json_object();
    json_object_set_new(call->result, "templates", lt.items);
    if (lt.more)
        json_object_set_new(call->result, "nextToken", json_string(lt.last));
    return 0;
}

/* ==== UpdateProvisioningTemplate ========================================== */

/* PATCH /provisioning-templates/{templateName} {description, enabled,
 * defaultVersionId, provisioningRoleArn, preProvisioningHook,
 * removePreProvisioningHook}. `type` cannot change. */
int registry__op_update_provisioning_template(struct roost_registry *reg,
                                              struct roost_store_txn *txn,
                                              struct roost_api_call *call)
{
    const char *desc = NULL, *role = NULL, *type_given = NULL;
    json_t *doc = NULL, *hook = NULL, *enabled_v = NULL;
    bool remove_hook = false, has_default = false;
    int64_t default_id = 0, version = 0;
    ROOST_UNUSED(reg);
    int rc = registry__member_string(call, call->body, "description", &desc);
    if (!rc)
        rc = check_description(call, desc);
    if (!rc)
        rc = registry__member_string(call, call->body, "provisioningRoleArn", &role);
    if (!rc && role)
        rc = check_role_arn(call, role);
    if (!rc)
        rc = registry__member_int(call, call->body, "defaultVersionId", &has_default, &default_id);
    if (!rc)
        rc = registry__member_bool(call, call->body, "removePreProvisioningHook", false,
                                   &remove_hook);
    if (!rc)
        rc = parse_hook(call, &hook);
    if (!rc)
        rc = registry__member_string(call, call->body, "type", &type_given);
    if (rc)
        goto out;
    enabled_v = call->body ? json_object_get(call->body, "enabled") : NULL;
    if (enabled_v && !json_is_boolean(enabled_v)) {
        rc = ROOST_API_INVALID(call, "Member enabled must be a boolean");
        goto out;
    }
    if (hook && remove_hook) {
        rc = ROOST_API_INVALID(call, "preProvisioningHook and removePreProvisioningHook cannot "
                                     "be given together");
        goto out;
    }
    rc = load_labeled(call, txn, &doc, &version);
    if (rc)
        goto out;
    const char *cur_type = json_string_value(json_object_get(doc, "type"));
    if (type_given && (!cur_type || strcmp(type_given, cur_type) != 0)) {
        rc = ROOST_API_INVALID(call,
                               "The type of provisioning template %s is %s and cannot be "
                               "changed",
                               call->labels[0], cur_type ? cur_type : "FLEET_PROVISIONING");
        goto out;
    }
    if (hook && cur_type && strcmp(cur_type, "FLEET_PROVISIONING") != 0) {
        rc = ROOST_API_INVALID(call, "A preProvisioningHook is only supported by "
                                     "FLEET_PROVISIONING templates");
        goto out;
    }
    if (has_default) {
        if (!registry__template_body(doc, default_id) || default_id <= 0) {
            rc = ROOST_API_NOT_FOUND(call,
                                     "Version %" PRId64 " of provisioning template %s "
                                     "does not exist",
                                     default_id, call->labels[0]);
            goto out;
        }
        json_object_set_new(doc, "defaultVersionId", json_integer((json_int_t)default_id));
    }
    if (desc)
        json_object_set_new(doc, "description", json_string(desc));
    if (role)
        json_object_set_new(doc, "provisioningRoleArn", json_string(role));
    if (enabled_v)
        json_object_set(doc, "enabled", enabled_v);
    if (hook)
        json_object_set(doc, "preProvisioningHook", hook);
    if (remove_hook)
        json_object_del(doc, "preProvisioningHook");
    json_object_set_new(doc, "lastModifiedDate", registry__timestamp(call->now_ms));
    rc = store_template(call, txn, call->labels[0], doc, version);
out:
    json_decref(hook);
    json_decref(doc);
    return rc;
}

/* ==== DeleteProvisioningTemplate ========================================== */

struct ca_user {
    const char *name;
    char ca_id[65];
    bool found;
};

static int ca_uses_template_cb(void *ud, const struct roost_store_doc *d)
{
    struct ca_user *u = ud;
    json_t *doc = json_loads(d->body, 0, NULL);
    const char *tn = json_string_value(
        json_object_get(json_object_get(doc, "registrationConfig"), "templateName"));
    if (tn && strcmp(tn, u->name) == 0) {
        snprintf(u->ca_id, sizeof(u->ca_id), "%s", d->name);
        u->found = true;
    }
    json_decref(doc);
    return u->found ? 1 : 0;
}

/* DELETE /provisioning-templates/{templateName}: not while a CA
 * certificate's registrationConfig names it (JITP would break). */
int registry__op_delete_provisioning_template(struct roost_registry *reg,
                                              struct roost_store_txn *txn,
                                              struct roost_api_call *call)
{
    json_t *doc = NULL;
    ROOST_UNUSED(reg);
    int rc = load_labeled(call, txn, &doc, NULL);
    if (rc)
        return rc;
    json_decref(doc);
    struct ca_user u = {.name = call->labels[0]};
    rc = roost_store_doc_list(txn, "cacert", NULL, NULL, 0, ca_uses_template_cb, &u);
    if (rc && rc != 1)
        return registry__store_fail(call, rc, "cacert list");
    if (u.found)
        return roost_api_fail(call, 409, "DeleteConflictException",
                              "The provisioning template %s is used by the registrationConfig of "
                              "CA certificate %s",
                              call->labels[0], u.ca_id);
    rc = roost_store_doc_del(txn, REGISTRY_TEMPLATE_KIND, call->labels[0]);
    if (rc)
        return registry__store_fail(call, rc, "provtemplate delete");
    return 0;
}

/* ==== Versions ============================================================ */

/* The versionId path label: a positive integer. */
static int label_version(struct roost_api_call *call, int64_t *out)
{
    const char *s = call->labels[1];
    char *end = NULL;
    long long v = s ? strtoll(s, &end, 10) : 0;
    if (!s || !*s || *end || v <= 0 || v > INT32_MAX)
        return ROOST_API_INVALID(call, "versionId '%.40s' is not a valid version number",
                                 s ? s : "null");
    *out = v;
    return 0;
}

/* POST /provisioning-templates/{templateName}/versions?setAsDefault=
 * {templateBody} */
int registry__op_create_provisioning_template_version(struct roost_registry *reg,
                                                      struct roost_store_txn *txn,
                                                      struct roost_api_call *call)
{
    const char *body = NULL;
    bool set_default = false;
    json_t *doc = NULL;
    int64_t version = 0;
    enum roost_template_type type;
    char key[24];
    ROOST_UNUSED(reg);
    int rc = registry__member_string(call, call->body, "templateBody", &body);
    if (!rc && !body)
        rc = ROOST_API_INVALID(call, "1 validation error detected: Value null at 'templateBody' "
                                     "failed to satisfy constraint: Member must not be null");
    if (!rc)
        rc = registry__query_bool(call, "setAsDefault", false, &set_default);
    if (!rc)
        rc = load_labeled(call, txn, &doc, &version);
    if (rc)
        goto out;
    if (doc_type(doc, &type) != 0) {
        rc = registry__store_fail(call, ROOST_EINVAL, "provtemplate type");
        goto out;
    }
    rc = registry__template_check_body(call, body, type, "Invalid provisioning template");
    if (rc)
        goto out;
    json_t *versions = json_object_get(doc, "versions");
    if (!json_is_object(versions)) {
        versions = json_object();
        json_object_set_new(doc, "versions", versions);
    }
    if (json_object_size(versions) >= TEMPLATE_VERSIONS_MAX) {
        rc = roost_api_fail(call, 409, "VersionsLimitExceededException",
                            "The provisioning template %s already has the maximum number of "
                            "versions (%d)",
                            call->labels[0], TEMPLATE_VERSIONS_MAX);
        goto out;
    }
    int64_t id = (int64_t)json_integer_value(json_object_get(doc, "nextVersionId"));
    if (id <= 0)
        id = (int64_t)json_object_size(versions) + 1;
    snprintf(key, sizeof(key), "%" PRId64, id);
    json_object_set_new(versions, key,
                        json_pack("{s:s,s:o}", "templateBody", body, "creationDate",
                                  registry__timestamp(call->now_ms)));
    json_object_set_new(doc, "nextVersionId", json_integer((json_int_t)(id + 1)));
    if (set_default)
        json_object_set_new(doc, "defaultVersionId", json_integer((json_int_t)id));
    json_object_set_new(doc, "lastModifiedDate", registry__timestamp(call->now_ms));
    rc = store_template(call, txn, call->labels[0], doc, version);
    if (rc)
        goto out;
    call->result = json_pack("{s:O,s:s,s:I,s:b}", "templateArn",
                             json_object_get(doc, "templateArn"), "templateName", call->labels[0],
                             "versionId", (json_int_t)id, "isDefaultVersion", set_default);
out:
    json_decref(doc);
    return rc;
}

static bool is_default(const json_t *doc, int64_t id)
{
    return json_integer_value(json_object_get(doc, "defaultVersionId")) == id;
}

/* GET /provisioning-templates/{templateName}/versions/{versionId} */
int registry__op_describe_provisioning_template_version(struct roost_registry *reg,
                                                        struct roost_store_txn *txn,
                                                        struct roost_api_call *call)
{
    json_t *doc = NULL;
    int64_t id = 0;
    char key[24];
    ROOST_UNUSED(reg);
    int rc = load_labeled(call, txn, &doc, NULL);
    if (!rc)
        rc = label_version(call, &id);
    if (rc)
        goto out;
    snprintf(key, sizeof(key), "%" PRId64, id);
    json_t *v = json_object_get(json_object_get(doc, "versions"), key);
    if (!v) {
        rc = ROOST_API_NOT_FOUND(call,
                                 "Version %" PRId64 " of provisioning template %s does not "
                                 "exist",
                                 id, call->labels[0]);
        goto out;
    }
    call->result =
        json_pack("{s:I,s:O,s:O,s:b}", "versionId", (json_int_t)id, "creationDate",
                  json_object_get(v, "creationDate"), "templateBody",
                  json_object_get(v, "templateBody"), "isDefaultVersion", is_default(doc, id));
out:
    json_decref(doc);
    return rc;
}

static int cmp_int64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* GET /provisioning-templates/{templateName}/versions?maxResults=&nextToken=
 * : ascending version ids; the token is the last id of the page. */
int registry__op_list_provisioning_template_versions(struct roost_registry *reg,
                                                     struct roost_store_txn *txn,
                                                     struct roost_api_call *call)
{
    json_t *doc = NULL;
    size_t max = 0;
    int64_t after = 0;
    ROOST_UNUSED(reg);
    int rc = registry__max_results(call, &max);
    if (rc)
        return rc;
    const char *token = registry__query(call, "nextToken");
    if (token) {
        char *end = NULL;
        after = strtoll(token, &end, 10);
        if (!*token || *end || after <= 0)
            return ROOST_API_INVALID(call, "The nextToken is not valid");
    }
    rc = load_labeled(call, txn, &doc, NULL);
    if (rc)
        return rc;
    json_t *versions = json_object_get(doc, "versions");
    size_t n = 0;
    int64_t ids[TEMPLATE_VERSIONS_MAX * 2 + 8];
    const char *key;
    json_t *v;
    json_object_foreach(versions, key, v)
    {
        if (n < ROOST_ARRAY_LEN(ids))
            ids[n++] = strtoll(key, NULL, 10);
    }
    qsort(ids, n, sizeof(ids[0]), cmp_int64);
    json_t *items = json_array();
    int64_t last = 0;
    bool more = false;
    for (size_t i = 0; i < n; i++) {
        if (ids[i] <= after)
            continue;
        if (json_array_size(items) == max) {
            more = true;
            break;
        }
        char k[24];
        snprintf(k, sizeof(k), "%" PRId64, ids[i]);
        json_t *vv = json_object_get(versions, k);
        json_array_append_new(items, json_pack("{s:I,s:O,s:b}", "versionId", (json_int_t)ids[i],
                                               "creationDate", json_object_get(vv, "creationDate"),
                                               "isDefaultVersion", is_default(doc, ids[i])));
        last = ids[i];
    }
    call->result = json_object();
    json_object_set_new(call->result, "versions", items);
    if (more) {
        char t[24];
        snprintf(t, sizeof(t), "%" PRId64, last);
        json_object_set_new(call->result, "nextToken", json_string(t));
    }
    json_decref(doc);
    return 0;
}

/* DELETE /provisioning-templates/{templateName}/versions/{versionId}: not
 * the default version. */
int registry__op_delete_provisioning_template_version(struct roost_registry *reg,
                                                      struct roost_store_txn *txn,
                                                      struct roost_api_call *call)
{
    json_t *doc = NULL;
    int64_t id = 0, version = 0;
    char key[24];
    ROOST_UNUSED(reg);
    int rc = load_labeled(call, txn, &doc, &version);
    if (!rc)
        rc = label_version(call, &id);
    if (rc)
        goto out;
    snprintf(key, sizeof(key), "%" PRId64, id);
    json_t *versions = json_object_get(doc, "versions");
    if (!json_object_get(versions, key)) {
        rc = ROOST_API_NOT_FOUND(call,
                                 "Version %" PRId64 " of provisioning template %s does not "
                                 "exist",
                                 id, call->labels[0]);
        goto out;
    }
    if (is_default(doc, id)) {
        rc = roost_api_fail(call, 409, "DeleteConflictException",
                            "Cannot delete the default version (%" PRId64 ") of provisioning "
                            "template %s",
                            id, call->labels[0]);
        goto out;
    }
    json_object_del(versions, key);
    json_object_set_new(doc, "lastModifiedDate", registry__timestamp(call->now_ms));
    rc = store_template(call, txn, call->labels[0], doc, version);
out:
    json_decref(doc);
    return rc;
}

/* ==== RegisterThing ======================================================= */

/* POST /things {templateBody, parameters}: applies a REGISTER template (the
 * certificate by CertificateId, CSR or PEM) and answers {certificatePem,
 * resourceArns: {thing, certificate, policy}}. */
int registry__op_register_thing(struct roost_registry *reg, struct roost_store_txn *txn,
                                struct roost_api_call *call)
{
    const char *body = NULL;
    json_t *params = NULL, *applied = NULL;
    struct roost_template *t = NULL;
    struct roost_template_plan *plan = NULL;
    char err[400] = "";
    int rc = registry__member_string(call, call->body, "templateBody", &body);
    if (!rc && !body)
        rc = ROOST_API_INVALID(call, "1 validation error detected: Value null at 'templateBody' "
                                     "failed to satisfy constraint: Member must not be null");
    if (!rc)
        rc = registry__member_object(call, call->body, "parameters", &params);
    if (rc)
        goto out;
    rc = roost_template_parse(body, strlen(body), ROOST_TEMPLATE_REGISTER, &t, err, sizeof(err));
    if (rc) {
        rc = ROOST_API_INVALID(call, "Invalid registration template: %s",
                               err[0] ? err : "the template body is not valid");
        goto out;
    }
    rc = roost_template_apply(t, params, &plan, err, sizeof(err));
    if (rc) {
        rc = ROOST_API_INVALID(call, "Invalid parameters: %s",
                               err[0] ? err : "the template could not be evaluated");
        goto out;
    }
    rc = registry__template_apply(reg, txn, call, plan, NULL, &applied);
    if (rc)
        goto out;
    json_t *arns = json_object();
    const char *s;
    if ((s = json_string_value(json_object_get(applied, "thingArn"))))
        json_object_set_new(arns, "thing", json_string(s));
    if ((s = json_string_value(json_object_get(applied, "certificateArn"))))
        json_object_set_new(arns, "certificate", json_string(s));
    if ((s = json_string_value(json_array_get(json_object_get(applied, "policyArns"), 0))))
        json_object_set_new(arns, "policy", json_string(s));
    call->result = json_object();
    if ((s = json_string_value(json_object_get(applied, "certificatePem"))))
        json_object_set_new(call->result, "certificatePem", json_string(s));
    json_object_set_new(call->result, "resourceArns", arns);
out:
    json_decref(applied);
    roost_template_plan_free(plan);
    roost_template_destroy(t);
    return rc;
}
