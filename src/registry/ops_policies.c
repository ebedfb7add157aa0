/*
 * ops_policies.c - AWS IoT policies: CreatePolicy and its versions (at most
 * five, one of them the default), policy document validation, and the
 * attachments of policies to targets (certificates and thing groups):
 * AttachPolicy, DetachPolicy, ListAttachedPolicies, ListTargetsForPolicy.
 *
 * Documents: "policy"/<policyName> holds GetPolicy's members, including the
 * default version's policyDocument, so that whoever compiles policies for
 * connections reads one document per policy; it also keeps lastVersionId,
 * so version ids are never reused after DeletePolicyVersion (as on AWS).
 * "policyversion"/<policyName>/<versionId> holds each version. Whether a
 * version is the default is computed from the policy, never stored twice.
 * Attachments are "policy" links from cert/<id> or thinggroup/<name>.
 */
#include "registry/registry_int.h"

#include <stdio.h>
#include <stdlib.h>

#define POLICY_NAME_MAX 128
#define POLICY_DOC_CHARS_MAX 2048  /* AWS: characters excluding whitespace */
#define POLICY_DOC_RAW_MAX 404600  /* the model's PolicyDocument max length */
#define POLICY_VERSIONS_MAX 5
#define POLICIES_PER_TARGET_MAX 10 /* AWS: policies attached to one certificate */
#define GROUP_DEPTH_MAX 16         /* AWS allows 7 levels; more means a cycle */
#define VERSION_KEY_MAX (POLICY_NAME_MAX + 16)

/* ==== Policy documents ==================================================== */

static bool string_or_list(const json_t *v)
{
    if (json_is_string(v))
        return json_string_length(v) > 0;
    if (!json_is_array(v) || json_array_size(v) == 0)
        return false;
    size_t i;
    const json_t *e;
    json_array_foreach(v, i, e) {
        if (!json_is_string(e) || json_string_length(e) == 0)
            return false;
    }
    return true;
}

/* Condition: {operator: {key: string | [strings] | bool | number}}. */
static bool condition_ok(const json_t *cond)
{
    if (!json_is_object(cond))
        return false;
    const char *op;
    const json_t *keys;
    json_object_foreach((json_t *)cond, op, keys) {
        if (!json_is_object(keys) || json_object_size(keys) == 0)
            return false;
        const char *k;
        const json_t *v;
        json_object_foreach((json_t *)keys, k, v) {
            if (json_is_array(v)) {
                size_t i;
                const json_t *e;
                json_array_foreach(v, i, e) {
                    if (!json_is_string(e) && !json_is_boolean(e) && !json_is_number(e))
                        return false;
                }
            } else if (!json_is_string(v) && !json_is_boolean(v) && !json_is_number(v)) {
                return false;
            }
        }
    }
    return true;
}

static int statement_check(const json_t *st, size_t idx, char *err, size_t errcap)
{
    if (!json_is_object(st)) {
        snprintf(err, errcap, "Statement %zu is not an object", idx);
        return ROOST_EMALFORMED;
    }
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)st, key, v) {
        if (strcmp(key, "Sid") && strcmp(key, "Effect") && strcmp(key, "Action") &&
            strcmp(key, "NotAction") && strcmp(key, "Resource") && strcmp(key, "NotResource") &&
            strcmp(key, "Condition")) {
            snprintf(err, errcap, "Statement %zu has an unknown element: %.64s", idx, key);
            return ROOST_EMALFORMED;
        }
    }
    const json_t *sid = json_object_get(st, "Sid");
    if (sid && !json_is_string(sid)) {
        snprintf(err, errcap, "Statement %zu: Sid must be a string", idx);
        return ROOST_EMALFORMED;
    }
    const char *effect = json_string_value(json_object_get(st, "Effect"));
    if (!effect || (strcmp(effect, "Allow") != 0 && strcmp(effect, "Deny") != 0)) {
        snprintf(err, errcap, "Statement %zu: Effect must be \"Allow\" or \"Deny\"", idx);
        return ROOST_EMALFORMED;
    }
    const json_t *act = json_object_get(st, "Action"), *nact = json_object_get(st, "NotAction");
    if ((act != NULL) == (nact != NULL) || !string_or_list(act ? act : nact)) {
        snprintf(err, errcap,
                 "Statement %zu needs exactly one of Action and NotAction: a string or a list "
                 "of strings",
                 idx);
        return ROOST_EMALFORMED;
    }
    const json_t *res = json_object_get(st, "Resource"), *nres = json_object_get(st, "NotResource");
    if ((res != NULL) == (nres != NULL) || !string_or_list(res ? res : nres)) {
        snprintf(err, errcap,
                 "Statement %zu needs exactly one of Resource and NotResource: a string or a "
                 "list of strings",
                 idx);
        return ROOST_EMALFORMED;
    }
    const json_t *cond = json_object_get(st, "Condition");
    if (cond && !condition_ok(cond)) {
        snprintf(err, errcap, "Statement %zu: Condition must map operators to objects of keys",
                 idx);
        return ROOST_EMALFORMED;
    }
    return 0;
}

/* Characters (not bytes) outside JSON whitespace: AWS's 2048 limit. */
static size_t chars_excluding_whitespace(const char *s)
{
    size_t n = 0;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || (c & 0xC0) == 0x80)
            continue;
        n++;
    }
    return n;
}

int registry__policy_check(const char *doc, char *err, size_t errcap)
{
    json_error_t jerr;
    json_t *root = NULL;
    int rc = ROOST_EMALFORMED;
    size_t chars = chars_excluding_whitespace(doc);
    if (chars == 0 || chars > POLICY_DOC_CHARS_MAX || strlen(doc) > POLICY_DOC_RAW_MAX) {
        snprintf(err, errcap,
                 "The policy document must hold 1 to 2048 characters excluding whitespace "
                 "(it has %zu)",
                 chars);
        rc = ROOST_ETOOBIG;
        goto out;
    }
    root = json_loads(doc, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        snprintf(err, errcap, "The policy document is not valid JSON: %s (line %d)", jerr.text,
                 jerr.line);
        goto out;
    }
    if (!json_is_object(root)) {
        snprintf(err, errcap, "The policy document must be a JSON object");
        goto out;
    }
    const char *key;
    const json_t *v;
    json_object_foreach(root, key, v) {
        if (strcmp(key, "Version") && strcmp(key, "Statement") && strcmp(key, "Id")) {
            snprintf(err, errcap, "The policy document has an unknown element: %.64s", key);
            goto out;
        }
    }
    const char *version = json_string_value(json_object_get(root, "Version"));
    if (!version || (strcmp(version, "2012-10-17") != 0 && strcmp(version, "2008-10-17") != 0)) {
        snprintf(err, errcap, "The policy document needs a Version: \"2012-10-17\"");
        goto out;
    }
    const json_t *st = json_object_get(root, "Statement");
    if (json_is_object(st)) {
        rc = statement_check(st, 0, err, errcap);
        goto out;
    }
    if (!json_is_array(st) || json_array_size(st) == 0) {
        snprintf(err, errcap, "The policy document needs a Statement: an object or a non-empty "
                              "list of objects");
        goto out;
    }
    size_t i;
    json_array_foreach(st, i, v) {
        rc = statement_check(v, i, err, errcap);
        if (rc)
            goto out;
    }
    rc = 0;
out:
    json_decref(root);
    return rc;
}

/* ==== Names, documents ==================================================== */

static int check_policy_name(struct roost_api_call *call, const char *name)
{
    size_t n = name ? strlen(name) : 0;
    bool ok = n >= 1 && n <= POLICY_NAME_MAX;
    for (size_t i = 0; ok && i < n; i++) {
        char c = name[i];
        ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
             strchr("_+=,.@-", c) != NULL;
    }
    if (!ok)
        return ROOST_API_INVALID(call,
                                 "1 validation error detected: Value '%.140s' at 'policyName' "
                                 "failed to satisfy constraint: Member must satisfy regular "
                                 "expression pattern: [\\w+=,.@-]+ and have length between 1 and "
                                 "128",
                                 name ? name : "null");
    return 0;
}

static int check_version_id(struct roost_api_call *call, const char *vid)
{
    size_t n = vid ? strlen(vid) : 0;
    bool ok = n >= 1 && n <= 10;
    for (size_t i = 0; ok && i < n; i++)
        ok = vid[i] >= '0' && vid[i] <= '9';
    if (!ok)
        return ROOST_API_INVALID(call,
                                 "1 validation error detected: Value '%.20s' at "
                                 "'policyVersionId' failed to satisfy constraint: Member must "
                                 "satisfy regular expression pattern: [0-9]+",
                                 vid ? vid : "null");
    return 0;
}

static void version_key(char out[VERSION_KEY_MAX], const char *policy, const char *vid)
{
    snprintf(out, VERSION_KEY_MAX, "%s/%s", policy, vid);
}

static int policy_arn(struct roost_registry *reg, struct roost_api_call *call, const char *name,
                      char out[REGISTRY_ARN_MAX])
{
    int rc = roost_registry_arn(reg, "policy", name, out, REGISTRY_ARN_MAX);
    return rc ? registry__store_fail(call, rc, "policy arn") : 0;
}

static int load_policy(struct roost_api_call *call, struct roost_store_txn *txn, const char *name,
                       json_t **out_body, int64_t *out_version)
{
    int rc = registry__doc_load(call, txn, "policy", name, out_body, out_version);
    if (rc == ROOST_ENOTFOUND)
        return ROOST_API_NOT_FOUND(call, "The policy %s does not exist", name);
    return rc;
}

static int required_document(struct roost_api_call *call, const char **out)
{
    int rc = registry__member_string(call, call->body, "policyDocument", out);
    if (rc)
        return rc;
    if (!*out)
        return ROOST_API_INVALID(call, "1 validation error detected: Value null at "
                                       "'policyDocument' failed to satisfy constraint: Member "
                                       "must not be null");
    return 0;
}

static int malformed(struct roost_api_call *call, const char *doc)
{
    char err[300];
    if (registry__policy_check(doc, err, sizeof(err)) == 0)
        return 0;
    return roost_api_fail(call, 400, "MalformedPolicyException", "%s", err);
}

static const char *body_str(const json_t *body, const char *key)
{
    return json_string_value(json_object_get(body, key));
}

static int store_version(struct roost_api_call *call, struct roost_store_txn *txn,
                         const char *policy, const char *arn, const char *vid, const char *doc)
{
    char key[VERSION_KEY_MAX];
    char gen[37];
    registry__uuid(gen);
    version_key(key, policy, vid);
    json_t *v = json_object();
    json_object_set_new(v, "policyName", json_string(policy));
    json_object_set_new(v, "policyArn", json_string(arn));
    json_object_set_new(v, "policyDocument", json_string(doc));
    json_object_set_new(v, "versionId", json_string(vid));
    json_object_set_new(v, "creationDate", registry__timestamp(call->now_ms));
    json_object_set_new(v, "lastModifiedDate", registry__timestamp(call->now_ms));
    json_object_set_new(v, "generationId", json_string(gen));
    int rc = registry__doc_store(call, txn, "policyversion", key, v, -1, NULL);
    json_decref(v);
    if (rc == ROOST_ECONFLICT || rc == ROOST_ENOTFOUND)
        rc = registry__store_fail(call, rc, "policy version put");
    return rc;
}

/* The version ids of one policy, numerically descending (newest first). */
struct version_list {
    char prefix[POLICY_NAME_MAX + 2];
    unsigned long ids[64];
    size_t n;
};

static int version_collect(void *ud, const struct roost_store_doc *doc)
{
    struct version_list *vl = ud;
    if (vl->n == ROOST_ARRAY_LEN(vl->ids))
        return 0;
    const char *vid = doc->name + strlen(vl->prefix);
    char *end = NULL;
    unsigned long id = strtoul(vid, &end, 10);
    if (*vid && end && *end == '\0')
        vl->ids[vl->n++] = id;
    return 0;
}

static int id_desc(const void *a, const void *b)
{
    unsigned long x = *(const unsigned long *)a, y = *(const unsigned long *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

static int list_versions(struct roost_api_call *call, struct roost_store_txn *txn,
                         const char *policy, struct version_list *vl)
{
    memset(vl, 0, sizeof(*vl));
    snprintf(vl->prefix, sizeof(vl->prefix), "%s/", policy);
    int rc = roost_store_doc_list(txn, "policyversion", vl->prefix, NULL, 0, version_collect, vl);
    if (rc)
        return registry__store_fail(call, rc, "policy versions");
    if (vl->n)
        qsort(vl->ids, vl->n, sizeof(vl->ids[0]), id_desc);
    return 0;
}

/* Makes version `vid` (whose document is `doc`) the default of `policy`. */
static void set_default(struct roost_api_call *call, json_t *policy, const char *vid,
                        const char *doc)
{
    char gen[37];
    registry__uuid(gen);
    json_object_set_new(policy, "defaultVersionId", json_string(vid));
    json_object_set_new(policy, "policyDocument", json_string(doc));
    json_object_set_new(policy, "lastModifiedDate", registry__timestamp(call->now_ms));
    json_object_set_new(policy, "generationId", json_string(gen));
}

/* ==== CreatePolicy, GetPolicy, ListPolicies, DeletePolicy ================= */

/* POST /policies/{policyName} {policyDocument, tags} */
int registry__op_create_policy(struct roost_registry *reg, struct roost_store_txn *txn,
                               struct roost_api_call *call)
{
    const char *name = call->labels[0];
    const char *doc = NULL;
    json_t *tags = NULL;
    char arn[REGISTRY_ARN_MAX], gen[37];
    int rc = check_policy_name(call, name);
    if (!rc)
        rc = required_document(call, &doc);
    if (!rc)
        rc = registry__member_array(call, call->body, "tags", &tags);
    if (!rc)
        rc = policy_arn(reg, call, name, arn);
    if (!rc)
        rc = malformed(call, doc);
    if (rc)
        return rc;
    registry__uuid(gen);
    json_t *p = json_object();
    json_object_set_new(p, "policyName", json_string(name));
    json_object_set_new(p, "policyArn", json_string(arn));
    json_object_set_new(p, "policyDocument", json_string(doc));
    json_object_set_new(p, "defaultVersionId", json_string("1"));
    json_object_set_new(p, "creationDate", registry__timestamp(call->now_ms));
    json_object_set_new(p, "lastModifiedDate", registry__timestamp(call->now_ms));
    json_object_set_new(p, "generationId", json_string(gen));
    json_object_set_new(p, "lastVersionId", json_integer(1));
    rc = registry__doc_store(call, txn, "policy", name, p, 0, NULL);
    json_decref(p);
    if (rc == ROOST_ECONFLICT)
        return registry__fail_exists(call, name, arn,
                                     "Policy cannot be created - name already exists (name=%s)",
                                     name);
    if (rc == ROOST_ENOTFOUND)
        rc = registry__store_fail(call, rc, "policy put");
    if (!rc)
        rc = store_version(call, txn, name, arn, "1", doc);
    if (!rc)
        rc = registry__event_policy(reg, txn, call, "CREATED", name, NULL, false);
    if (rc)
        return rc;
    /* A new policy is attached to nothing yet: no principal changes. */
    call->result = json_pack("{s:s,s:s,s:s,s:s}", "policyName", name, "policyArn", arn,
                             "policyDocument", doc, "policyVersionId", "1");
    return 0;
}

/* GET /policies/{policyName} */
int registry__op_get_policy(struct roost_registry *reg, struct roost_store_txn *txn,
                            struct roost_api_call *call)
{
    static const char *const keys[] = {"policyName",   "policyArn",        "policyDocument",
                                       "defaultVersionId", "creationDate", "lastModifiedDate",
                                       "generationId"};
    const char *name = call->labels[0];
    json_t *p = NULL;
    int rc = check_policy_name(call, name);
    if (!rc)
        rc = load_policy(call, txn, name, &p, NULL);
    if (rc)
        return rc;
    call->result = json_object();
    for (size_t i = 0; i < ROOST_ARRAY_LEN(keys); i++) {
        json_t *v = json_object_get(p, keys[i]);
        if (v)
            json_object_set(call->result, keys[i], v);
    }
    json_decref(p);
    return 0;
}

static json_t *policy_item(struct roost_registry *reg, const json_t *body)
{
    return json_pack("{s:s?,s:s?}", "policyName", body_str(body, "policyName"), "policyArn",
                     body_str(body, "policyArn"));
}

/* GET /policies?marker=&pageSize=&isAscendingOrder= */
int registry__op_list_policies(struct roost_registry *reg, struct roost_store_txn *txn,
                               struct roost_api_call *call)
{
    return registry__page_by_creation(reg, txn, call, "policy", NULL, NULL, policy_item,
                                      "policies");
}

static int any_link_cb(void *ud, const struct roost_store_link *l)
{
    ROOST_UNUSED(l);
    *(bool *)ud = true;
    return 0;
}

/* DELETE /policies/{policyName}: not while attached, not while it has
 * versions besides the default (which goes with it). */
int registry__op_delete_policy(struct roost_registry *reg, struct roost_store_txn *txn,
                               struct roost_api_call *call)
{
    const char *name = call->labels[0];
    json_t *p = NULL;
    bool attached = false;
    struct version_list vl;
    char key[VERSION_KEY_MAX], vid[24];
    int rc = check_policy_name(call, name);
    if (!rc)
        rc = load_policy(call, txn, name, &p, NULL);
    if (rc)
        goto out;
    rc = roost_store_link_list(txn, "policy", NULL, NULL, "policy", name, NULL, 1, any_link_cb,
                               &attached);
    if (rc) {
        rc = registry__store_fail(call, rc, "policy targets");
        goto out;
    }
    if (attached) {
        rc = roost_api_fail(call, 409, "DeleteConflictException",
                            "The policy cannot be deleted as the policy is attached to one or "
                            "more principals (name=%s)",
                            name);
        goto out;
    }
    rc = list_versions(call, txn, name, &vl);
    if (rc)
        goto out;
    if (vl.n > 1) {
        rc = roost_api_fail(call, 409, "DeleteConflictException",
                            "Cannot delete the policy because it has one or more policy versions "
                            "attached to it (name=%s)",
                            name);
        goto out;
    }
    rc = registry__event_policy(reg, txn, call, "DELETED", name, NULL, false);
    if (rc)
        goto out;
    for (size_t i = 0; i < vl.n; i++) {
        snprintf(vid, sizeof(vid), "%lu", vl.ids[i]);
        version_key(key, name, vid);
        rc = roost_store_doc_del(txn, "policyversion", key);
        if (rc) {
            rc = registry__store_fail(call, rc, "policy version delete");
            goto out;
        }
    }
    rc = roost_store_doc_del(txn, "policy", name);
    if (rc) {
        rc = registry__store_fail(call, rc, "policy delete");
        goto out;
    }
    call->effects.policies_changed = true;
out:
    json_decref(p);
    return rc;
}

/* ==== Policy versions ===================================================== */

/* POST /policies/{policyName}/version?setAsDefault= {policyDocument} */
int registry__op_create_policy_version(struct roost_registry *reg, struct roost_store_txn *txn,
                                       struct roost_api_call *call)
{
    const char *name = call->labels[0];
    const char *doc = NULL;
    json_t *p = NULL;
    int64_t version = 0;
    bool as_default = false;
    struct version_list vl;
    char vid[24];
    int rc = check_policy_name(call, name);
    if (!rc)
        rc = required_document(call, &doc);
    if (!rc)
        rc = registry__query_bool(call, "setAsDefault", false, &as_default);
    if (!rc)
        rc = load_policy(call, txn, name, &p, &version);
    if (!rc)
        rc = malformed(call, doc);
    if (!rc)
        rc = list_versions(call, txn, name, &vl);
    if (rc)
        goto out;
    if (vl.n >= POLICY_VERSIONS_MAX) {
        rc = roost_api_fail(call, 409, "VersionsLimitExceededException",
                            "The policy %s already has the maximum number of versions (%d)", name,
                            POLICY_VERSIONS_MAX);
        goto out;
    }
    json_int_t last = json_integer_value(json_object_get(p, "lastVersionId"));
    if (vl.n && (json_int_t)vl.ids[0] > last)
        last = (json_int_t)vl.ids[0];
    last++;
    snprintf(vid, sizeof(vid), "%lld", (long long)last);
    const char *arn = body_str(p, "policyArn");
    rc = store_version(call, txn, name, arn ? arn : "", vid, doc);
    if (rc)
        goto out;
    json_object_set_new(p, "lastVersionId", json_integer(last));
    if (as_default)
        set_default(call, p, vid, doc);
    rc = registry__doc_store(call, txn, "policy", name, p, version, NULL);
    if (rc == ROOST_ECONFLICT || rc == ROOST_ENOTFOUND)
        rc = registry__store_fail(call, rc, "policy update");
    if (!rc)
        rc = registry__event_policy(reg, txn, call, "UPDATED", name, vid, as_default);
    if (rc)
        goto out;
    if (as_default)
        call->effects.policies_changed = true;
    call->result = json_pack("{s:s,s:s,s:s,s:b}", "policyArn", arn ? arn : "", "policyDocument",
                             doc, "policyVersionId", vid, "isDefaultVersion", as_default);
out:
    json_decref(p);
    return rc;
}

/* GET /policies/{policyName}/version */
int registry__op_list_policy_versions(struct roost_registry *reg, struct roost_store_txn *txn,
                                      struct roost_api_call *call)
{
    const char *name = call->labels[0];
    json_t *p = NULL, *v = NULL;
    struct version_list vl;
    char key[VERSION_KEY_MAX], vid[24];
    int rc = check_policy_name(call, name);
    if (!rc)
        rc = load_policy(call, txn, name, &p, NULL);
    if (!rc)
        rc = list_versions(call, txn, name, &vl);
    if (rc)
        goto out;
    const char *def = body_str(p, "defaultVersionId");
    json_t *list = json_array();
    for (size_t i = 0; i < vl.n; i++) {
        snprintf(vid, sizeof(vid), "%lu", vl.ids[i]);
        version_key(key, name, vid);
        rc = registry__doc_load(call, txn, "policyversion", key, &v, NULL);
        if (rc == ROOST_ENOTFOUND)
            rc = registry__store_fail(call, rc, "policy version reload");
        if (rc) {
            json_decref(list);
            goto out;
        }
        json_t *item = json_pack("{s:s,s:b}", "versionId", vid, "isDefaultVersion",
                                 def && strcmp(def, vid) == 0);
        json_t *cd = json_object_get(v, "creationDate");
        if (cd)
            json_object_set(item, "createDate", cd);
        json_array_append_new(list, item);
        json_decref(v);
        v = NULL;
    }
    call->result = json_object();
    json_object_set_new(call->result, "policyVersions", list);
out:
    json_decref(v);
    json_decref(p);
    return rc;
}

/* Loads the policy and one of its versions, RNF for either. */
static int load_version(struct roost_api_call *call, struct roost_store_txn *txn, json_t **out_p,
                        int64_t *out_pver, json_t **out_v)
{
    const char *name = call->labels[0], *vid = call->labels[1];
    char key[VERSION_KEY_MAX];
    int rc = check_policy_name(call, name);
    if (!rc)
        rc = check_version_id(call, vid);
    if (!rc)
        rc = load_policy(call, txn, name, out_p, out_pver);
    if (rc)
        return rc;
    version_key(key, name, vid);
    rc = registry__doc_load(call, txn, "policyversion", key, out_v, NULL);
    if (rc == ROOST_ENOTFOUND)
        rc = ROOST_API_NOT_FOUND(call, "The policy %s has no version %s", name, vid);
    return rc;
}

/* GET /policies/{policyName}/version/{policyVersionId} */
int registry__op_get_policy_version(struct roost_registry *reg, struct roost_store_txn *txn,
                                    struct roost_api_call *call)
{
    static const char *const keys[] = {"policyArn", "policyName", "policyDocument",
                                       "creationDate", "lastModifiedDate", "generationId"};
    json_t *p = NULL, *v = NULL;
    int rc = load_version(call, txn, &p, NULL, &v);
    if (rc)
        goto out;
    const char *vid = call->labels[1];
    const char *def = body_str(p, "defaultVersionId");
    call->result = json_object();
    for (size_t i = 0; i < ROOST_ARRAY_LEN(keys); i++) {
        json_t *x = json_object_get(v, keys[i]);
        if (x)
            json_object_set(call->result, keys[i], x);
    }
    json_object_set_new(call->result, "policyVersionId", json_string(vid));
    json_object_set_new(call->result, "isDefaultVersion",
                        json_boolean(def && strcmp(def, vid) == 0));
out:
    json_decref(v);
    json_decref(p);
    return rc;
}

/* PATCH /policies/{policyName}/version/{policyVersionId} */
int registry__op_set_default_policy_version(struct roost_registry *reg,
                                            struct roost_store_txn *txn,
                                            struct roost_api_call *call)
{
    json_t *p = NULL, *v = NULL;
    int64_t pver = 0;
    int rc = load_version(call, txn, &p, &pver, &v);
    if (rc)
        goto out;
    const char *vid = call->labels[1];
    const char *def = body_str(p, "defaultVersionId");
    if (def && strcmp(def, vid) == 0)
        goto out;
    set_default(call, p, vid, body_str(v, "policyDocument") ? body_str(v, "policyDocument") : "");
    rc = registry__doc_store(call, txn, "policy", call->labels[0], p, pver, NULL);
    if (rc == ROOST_ECONFLICT || rc == ROOST_ENOTFOUND)
        rc = registry__store_fail(call, rc, "policy update");
    if (!rc)
        rc = registry__event_policy(reg, txn, call, "UPDATED", call->labels[0], vid, true);
    if (rc)
        goto out;
    call->effects.policies_changed = true;
out:
    json_decref(v);
    json_decref(p);
    return rc;
}

/* DELETE /policies/{policyName}/version/{policyVersionId}: never the
 * default (DeletePolicy removes that one). */
int registry__op_delete_policy_version(struct roost_registry *reg, struct roost_store_txn *txn,
                                       struct roost_api_call *call)
{
    json_t *p = NULL, *v = NULL;
    char key[VERSION_KEY_MAX];
    int rc = load_version(call, txn, &p, NULL, &v);
    if (rc)
        goto out;
    const char *vid = call->labels[1];
    const char *def = body_str(p, "defaultVersionId");
    if (def && strcmp(def, vid) == 0) {
        rc = roost_api_fail(call, 409, "DeleteConflictException",
                            "Cannot delete the default version of a policy");
        goto out;
    }
    version_key(key, call->labels[0], vid);
    rc = roost_store_doc_del(txn, "policyversion", key);
    if (rc)
        rc = registry__store_fail(call, rc, "policy version delete");
    else
        rc = registry__event_policy(reg, txn, call, "UPDATED", call->labels[0], vid, false);
out:
    json_decref(v);
    json_decref(p);
    return rc;
}

/* ==== Attachments ========================================================= */

/* A policy target: a certificate or a thing group, from its ARN, or
 * Roost's principal "anonymous" (clients of plain listeners, which have
 * no certificate; roostd's policies.c reads the same links). */
#define ANONYMOUS_TARGET "anonymous"

struct target {
    const char *kind;              /* "cert", "thinggroup" or "anonymous" */
    char name[REGISTRY_NAME_MAX + 1];
};

/* Parses "arn:<partition>:iot:<region>:<account>:cert/<id>" or
 * ".../thinggroup/<name>". Region and account are not compared: ARNs
 * typed by hand with another region still name this server's resources. */
static int parse_target(struct roost_api_call *call, const char *arn, struct target *t)
{
    if (!arn || !*arn)
        return ROOST_API_INVALID(call, "1 validation error detected: Value null at 'target' "
                                       "failed to satisfy constraint: Member must not be null");
    if (strcmp(arn, ANONYMOUS_TARGET) == 0) {
        t->kind = ANONYMOUS_TARGET;
        snprintf(t->name, sizeof(t->name), "%s", ANONYMOUS_TARGET);
        return 0;
    }
    const char *p = arn;
    bool is_arn = strncmp(arn, "arn:", 4) == 0;
    for (int i = 0; is_arn && i < 5; i++) {
        p = strchr(p, ':');
        if (!p)
            break;
        p++;
        if (i == 1 && strncmp(p, "iot:", 4) != 0)
            p = NULL;
        if (!p)
            break;
    }
    if (!is_arn || !p)
        return ROOST_API_INVALID(call,
                                 "The target %.300s is not a certificate or thing group ARN "
                                 "or \"anonymous\" (Cognito identities are not supported)",
                                 arn);
    if (strncmp(p, "cert/", 5) == 0) {
        char id[65];
        int rc = registry__check_cert_id(call, "target", p + 5, id);
        if (rc)
            return rc;
        t->kind = "cert";
        memcpy(t->name, id, sizeof(id));
        return 0;
    }
    if (strncmp(p, "thinggroup/", 11) == 0) {
        int rc = registry__check_name(call, "target", p + 11);
        if (rc)
            return rc;
        t->kind = "thinggroup";
        snprintf(t->name, sizeof(t->name), "%s", p + 11);
        return 0;
    }
    return ROOST_API_INVALID(call, "The target %.300s is not a certificate or thing group ARN",
                             arn);
}

static int target_must_exist(struct roost_api_call *call, struct roost_store_txn *txn,
                             const struct target *t, const char *arn)
{
    struct roost_store_doc doc;
    if (strcmp(t->kind, ANONYMOUS_TARGET) == 0)
        return 0; /* always there: it has no document */
    int rc = roost_store_doc_get(txn, t->kind, t->name, &doc);
    if (rc == ROOST_ENOTFOUND)
        return ROOST_API_NOT_FOUND(call, "The target %.300s does not exist", arn);
    if (rc)
        return registry__store_fail(call, rc, "target get");
    return 0;
}


/* Who recomputes their policies after commit: a certificate's own
 * connections when the target is a certificate (a fleet being provisioned
 * must not make every live connection resolve again), everyone for a thing
 * group or the anonymous principal. */
static void target_changed(struct roost_api_call *call, const struct target *t)
{
    if (strcmp(t->kind, "cert") == 0)
        roost_api_effects_cert(call, t->name);
    else
        call->effects.policies_changed = true;
}

/* What a target's policy links hold: how many, and whether `want` is one. */
struct attached_scan {
    const char *want;
    size_t n;
    bool found;
};

static int attached_cb(void *ud, const struct roost_store_link *l)
{
    struct attached_scan *as = ud;
    as->n++;
    if (as->want && strcmp(l->to_name, as->want) == 0)
        as->found = true;
    return 0;
}

/* The target named by the body's `target`, checked and existing. */
static int body_target(struct roost_api_call *call, struct roost_store_txn *txn, bool must_exist,
                       struct target *t, const char **out_arn)
{
    int rc = registry__member_string(call, call->body, "target", out_arn);
    if (!rc)
        rc = parse_target(call, *out_arn, t);
    if (!rc && must_exist)
        rc = target_must_exist(call, txn, t, *out_arn);
    return rc;
}

/* PUT /target-policies/{policyName} {target}: idempotent; at most
 * POLICIES_PER_TARGET_MAX policies per target (LimitExceededException). */
int registry__op_attach_policy(struct roost_registry *reg, struct roost_store_txn *txn,
                               struct roost_api_call *call)
{
    const char *name = call->labels[0];
    const char *arn = NULL;
    struct target t;
    struct roost_store_doc doc;
    int rc = check_policy_name(call, name);
    if (!rc)
        rc = body_target(call, txn, false, &t, &arn);
    if (rc)
        return rc;
    rc = roost_store_doc_get(txn, "policy", name, &doc);
    if (rc == ROOST_ENOTFOUND)
        return ROOST_API_NOT_FOUND(call, "The policy %s does not exist", name);
    if (rc)
        return registry__store_fail(call, rc, "policy get");
    rc = target_must_exist(call, txn, &t, arn);
    if (rc)
        return rc;
    struct attached_scan as = {.want = name};
    rc = roost_store_link_list(txn, "policy", t.kind, t.name, "policy", NULL, NULL, 0, attached_cb,
                               &as);
    if (rc)
        return registry__store_fail(call, rc, "target policies");
    if (as.found)
        return 0;
    if (as.n >= POLICIES_PER_TARGET_MAX)
        return roost_api_fail(call, 410, "LimitExceededException",
                              "At most %d policies can be attached to %.300s",
                              POLICIES_PER_TARGET_MAX, arn);
    struct roost_store_link l = {"policy", t.kind, t.name, "policy", name};
    rc = roost_store_link_add(txn, &l);
    if (rc)
        return registry__store_fail(call, rc, "policy attach");
    target_changed(call, &t);
    return registry__event_policy_target(reg, txn, call, "ATTACHED", name, t.kind, t.name);
}

/* POST /target-policies/{policyName} {target}: the model has no
 * ResourceNotFoundException here, so detaching what is not attached (or
 * does not exist) succeeds. */
int registry__op_detach_policy(struct roost_registry *reg, struct roost_store_txn *txn,
                               struct roost_api_call *call)
{
    const char *name = call->labels[0];
    const char *arn = NULL;
    struct target t;
    int rc = check_policy_name(call, name);
    if (!rc)
        rc = body_target(call, txn, false, &t, &arn);
    if (rc)
        return rc;
    struct roost_store_link l = {"policy", t.kind, t.name, "policy", name};
    rc = roost_store_link_del(txn, &l);
    if (rc == ROOST_ENOTFOUND)
        return 0;
    if (rc)
        return registry__store_fail(call, rc, "policy detach");
    target_changed(call, &t);
    return registry__event_policy_target(reg, txn, call, "DETACHED", name, t.kind, t.name);
}

/* A growable set of policy names. */
struct name_set {
    char **v;
    size_t n, cap;
};

static int name_set_add_cb(void *ud, const struct roost_store_link *l)
{
    struct name_set *s = ud;
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 16;
        s->v = roost_xrealloc(s->v, s->cap * sizeof(*s->v));
    }
    s->v[s->n++] = roost_xstrdup(l->to_name);
    return 0;
}

static int parent_cb(void *ud, const struct roost_store_link *l)
{
    snprintf(ud, REGISTRY_NAME_MAX + 1, "%s", l->to_name);
    return 0;
}

static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* POST /attached-policies/{target}?recursive=&marker=&pageSize= : with
 * recursive, a thing group's list includes what its ancestors carry. */
int registry__op_list_attached_policies(struct roost_registry *reg, struct roost_store_txn *txn,
                                        struct roost_api_call *call)
{
    struct target t;
    struct name_set s = {0};
    char *after = NULL;
    size_t page = 0;
    bool recursive = false;
    char group[REGISTRY_NAME_MAX + 1];
    json_t *list = NULL;
    int rc = parse_target(call, call->labels[0], &t);
    if (!rc)
        rc = registry__query_bool(call, "recursive", false, &recursive);
    if (!rc)
        rc = registry__marker_params(call, &page, &after);
    if (!rc)
        rc = target_must_exist(call, txn, &t, call->labels[0]);
    if (rc)
        goto out;
    snprintf(group, sizeof(group), "%s", t.name);
    for (int depth = 0; depth < GROUP_DEPTH_MAX; depth++) {
        rc = roost_store_link_list(txn, "policy", t.kind, group, "policy", NULL, NULL, 0,
                                   name_set_add_cb, &s);
        if (rc || !recursive || strcmp(t.kind, "thinggroup") != 0)
            break;
        char parent[REGISTRY_NAME_MAX + 1] = "";
        rc = roost_store_link_list(txn, "parent", "thinggroup", group, "thinggroup", NULL, NULL, 1,
                                   parent_cb, parent);
        if (rc || !parent[0])
            break;
        memcpy(group, parent, sizeof(group));
    }
    if (rc) {
        rc = registry__store_fail(call, rc, "attached policies");
        goto out;
    }
    if (s.n)
        qsort(s.v, s.n, sizeof(*s.v), str_cmp);
    list = json_array();
    const char *last = NULL;
    size_t taken = 0;
    bool more = false;
    for (size_t i = 0; i < s.n; i++) {
        if ((i > 0 && strcmp(s.v[i], s.v[i - 1]) == 0) || (after && strcmp(s.v[i], after) <= 0))
            continue;
        if (taken == page) {
            more = true;
            break;
        }
        char arn[REGISTRY_ARN_MAX];
        rc = policy_arn(reg, call, s.v[i], arn);
        if (rc)
            goto out;
        json_array_append_new(list, json_pack("{s:s,s:s}", "policyName", s.v[i], "policyArn", arn));
        last = s.v[i];
        taken++;
    }
    call->result = json_object();
    json_object_set_new(call->result, "policies", list);
    list = NULL;
    if (more && last) {
        char *m = registry__marker_for(last);
        json_object_set_new(call->result, "nextMarker", json_string(m));
        roost_free(m);
    }
out:
    for (size_t i = 0; i < s.n; i++)
        roost_free(s.v[i]);
    roost_free(s.v);
    roost_free(after);
    json_decref(list);
    return rc;
}

struct targets_page {
    struct roost_registry *reg;
    json_t *list;
    size_t want;
    size_t n;
    char last[REGISTRY_NAME_MAX + 1];
    bool more;
};

static int target_cb(void *ud, const struct roost_store_link *l)
{
    struct targets_page *tp = ud;
    if (tp->n == tp->want) {
        tp->more = true;
        return 0;
    }
    char arn[REGISTRY_ARN_MAX];
    if (strcmp(l->from_kind, ANONYMOUS_TARGET) == 0)
        snprintf(arn, sizeof(arn), "%s", ANONYMOUS_TARGET); /* no ARN: its own name */
    else if (roost_registry_arn(tp->reg, l->from_kind, l->from_name, arn, sizeof(arn)) != 0)
        return ROOST_EINVAL;
    json_array_append_new(tp->list, json_string(arn));
    snprintf(tp->last, sizeof(tp->last), "%s", l->from_name);
    tp->n++;
    return 0;
}

/* POST /policy-targets/{policyName}?marker=&pageSize= : ARNs of the
 * certificates and thing groups the policy is attached to, by name. */
int registry__op_list_targets_for_policy(struct roost_registry *reg, struct roost_store_txn *txn,
                                         struct roost_api_call *call)
{
    const char *name = call->labels[0];
    struct targets_page tp = {.reg = reg};
    char *after = NULL;
    struct roost_store_doc doc;
    int rc = check_policy_name(call, name);
    if (!rc)
        rc = registry__marker_params(call, &tp.want, &after);
    if (rc)
        goto out;
    rc = roost_store_doc_get(txn, "policy", name, &doc);
    if (rc == ROOST_ENOTFOUND) {
        rc = ROOST_API_NOT_FOUND(call, "The policy %s does not exist", name);
        goto out;
    }
    if (rc) {
        rc = registry__store_fail(call, rc, "policy get");
        goto out;
    }
    tp.list = json_array();
    rc = roost_store_link_list(txn, "policy", NULL, NULL, "policy", name, after, tp.want + 1,
                               target_cb, &tp);
    if (rc) {
        rc = registry__store_fail(call, rc, "policy targets");
        goto out;
    }
    call->result = json_object();
    json_object_set_new(call->result, "targets", tp.list);
    tp.list = NULL;
    if (tp.more) {
        char *m = registry__marker_for(tp.last);
        json_object_set_new(call->result, "nextMarker", json_string(m));
        roost_free(m);
    }
out:
    json_decref(tp.list);
    roost_free(after);
    return rc;
}
