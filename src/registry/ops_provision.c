/*
 * ops_provision.c - the registry side of provisioning: applying an
 * evaluated provisioning template (registry__template_apply, shared by
 * RegisterThing, JITP and fleet provisioning), just-in-time registration
 * and provisioning of a device certificate (roost_registry_auto_register),
 * and fleet provisioning's certificates, ownership tokens and RegisterThing
 * (roost_registry_fleet_*). src/provision runs the flows around them.
 *
 * Templates are applied through the operation functions the API runs
 * (CreateThing, UpdateThing, AttachPolicy, ...), each as a nested call
 * whose effects and registry events are folded into the caller's, so a
 * provisioned thing behaves exactly like one made by hand. The whole
 * application happens in the caller's transaction: it applies whole or the
 * call fails and nothing of it stays.
 *
 * Ownership tokens are 256 random bits in hex, handed to the device once.
 * Only their SHA-256 is stored, as the document name of
 * "fleettoken"/<sha256 hex> = {certificateId, creationDate (ms), expiresAt
 * (ms)}, so a copy of the store does not hold usable tokens.
 */
#include "registry/registry_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <strings.h>
#include <time.h>

#include <openssl/evp.h>

#define TOKEN_BYTES  32              /* 256 bits */
#define TOKEN_TTL_MS (3600u * 1000u) /* AWS: one hour */
#define TOKEN_MAX    256             /* longest token string looked up */

/* ==== Nested operation calls ============================================== */

static const char *str_or(const char *s, const char *dflt)
{
    return s ? s : dflt;
}

/* Folds a nested call's effects into the caller's. */
static void merge_effects(struct roost_api_call *call, struct roost_api_call *sub)
{
    struct roost_registry_effects *fx = &call->effects, *sx = &sub->effects;
    for (size_t i = 0; i < sx->n_certs; i++)
        roost_api_effects_cert(call, sx->certs[i]);
    fx->cas_changed |= sx->cas_changed;
    fx->policies_changed |= sx->policies_changed;
    fx->things_changed |= sx->things_changed;
    for (size_t i = 0; i < sx->n_events; i++) {
        if (fx->n_events == fx->cap_events) {
            fx->cap_events = fx->cap_events ? fx->cap_events * 2 : 4;
            fx->events = roost_xrealloc(fx->events, fx->cap_events * sizeof(*fx->events));
        }
        fx->events[fx->n_events++] = sx->events[i];
    }
    sx->n_events = 0; /* moved */
}

/*
 * Runs operation `fn` as the API would, with path label `label` (or NULL),
 * `query` and `body` (both taken; NULL = none). On success its effects join
 * the caller's and *out_result (when wanted) gets its result. On failure
 * the caller fails with the same status and code and the message
 * "<what>: <the operation's message>".
 */
static int run_op(struct roost_registry *reg, struct roost_store_txn *txn,
                  struct roost_api_call *call, roost_registry_op_fn fn, const char *label,
                  json_t *query, json_t *body, const char *what, json_t **out_result)
{
    struct roost_api_call sub = {0};
    sub.labels[0] = label ? roost_xstrdup(label) : NULL;
    sub.query = query ? query : json_object();
    sub.body = body;
    sub.request_id = call->request_id;
    sub.now_ms = call->now_ms;
    sub.status = 200;
    int rc = fn(reg, txn, &sub);
    if (rc && !sub.error_code)
        roost_api_fail(&sub, 500, "InternalFailureException", "An unexpected error has occurred");
    if (rc) {
        rc = roost_api_fail(call, sub.status, sub.error_code, "%s: %s", what, sub.error_message);
    } else {
        merge_effects(call, &sub);
        if (out_result) {
            *out_result = sub.result;
            sub.result = NULL;
        }
    }
    json_decref(sub.query);
    json_decref(sub.body);
    roost_api_call_cleanup(&sub);
    return rc;
}

/*
 * The end of every public function here, as roost_registry_call ends an
 * operation: a failure carries an AWS error (500 when the function named
 * none) and keeps neither result nor effects, since its transaction rolls
 * back; success answers 200.
 */
static int finish(struct roost_api_call *call, int rc)
{
    if (!rc) {
        call->status = 200;
        return 0;
    }
    if (!call->error_code)
        roost_api_fail(call, 500, "InternalFailure", "An unexpected error has occurred");
    json_decref(call->result);
    call->result = NULL;
    call->effects.n_certs = 0;
    call->effects.cas_changed = false;
    call->effects.policies_changed = false;
    call->effects.things_changed = false;
    registry__events_clear(&call->effects);
    return rc;
}

static int conflict(struct roost_api_call *call, const char *fmt, const char *logical,
                    const char *detail)
{
    return roost_api_fail(call, 409, "ResourceConflictsException", fmt, logical, detail);
}

static int doc_exists(struct roost_api_call *call, struct roost_store_txn *txn, const char *kind,
                      const char *name, bool *out)
{
    struct roost_store_doc d;
    int rc = roost_store_doc_get(txn, kind, name, &d);
    *out = rc == 0;
    if (rc == 0 || rc == ROOST_ENOTFOUND)
        return 0;
    return registry__store_fail(call, rc, kind);
}

/* ==== Applying a plan: the thing ========================================== */

static int collect_to_names(void *ud, const struct roost_store_link *l)
{
    json_array_append_new(ud, json_string(l->to_name));
    return 0;
}

static bool array_has(const json_t *arr, const char *s)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        if (strcmp(json_string_value(v), s) == 0)
            return true;
    }
    return false;
}

/* Items of a not in b, as a new array. */
static json_t *array_minus(const json_t *a, const json_t *b)
{
    json_t *out = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v)
    {
        if (!array_has(b, json_string_value(v)) && !array_has(out, json_string_value(v)))
            json_array_append(out, v);
    }
    return out;
}

/* The plan's thing type, groups and billing group must exist. */
static int thing_refs_exist(struct roost_api_call *call, struct roost_store_txn *txn,
                            const struct roost_template_thing *th)
{
    bool found = false;
    int rc = 0;
    if (th->type_name) {
        rc = doc_exists(call, txn, "thingtype", th->type_name, &found);
        if (!rc && !found)
            return ROOST_API_NOT_FOUND(call, "Resources.%s: thing type %s does not exist",
                                       th->logical_name, th->type_name);
    }
    size_t i;
    json_t *g;
    json_array_foreach(th->groups, i, g)
    {
        rc = doc_exists(call, txn, "thinggroup", json_string_value(g), &found);
        if (!rc && !found)
            return ROOST_API_NOT_FOUND(call, "Resources.%s: thing group %s does not exist",
                                       th->logical_name, json_string_value(g));
        if (rc)
            return rc;
    }
    if (!rc && th->billing_group) {
        rc = doc_exists(call, txn, "billinggroup", th->billing_group, &found);
        if (!rc && !found)
            return ROOST_API_NOT_FOUND(call, "Resources.%s: billing group %s does not exist",
                                       th->logical_name, th->billing_group);
    }
    return rc;
}

static int add_to_groups(struct roost_registry *reg, struct roost_store_txn *txn,
                         struct roost_api_call *call, const char *thing, const json_t *groups,
                         const char *what)
{
    size_t i;
    json_t *g;
    json_array_foreach(groups, i, g)
    {
        json_t *body = json_pack("{s:O,s:s}", "thingGroupName", g, "thingName", thing);
        int rc = run_op(reg, txn, call, registry__op_add_thing_to_thing_group, NULL, NULL, body,
                        what, NULL);
        if (rc)
            return rc;
    }
    return 0;
}

static int create_thing(struct roost_registry *reg, struct roost_store_txn *txn,
                        struct roost_api_call *call, const struct roost_template_thing *th,
                        const char *what)
{
    json_t *body = json_object();
    if (th->type_name)
        json_object_set_new(body, "thingTypeName", json_string(th->type_name));
    if (th->billing_group)
        json_object_set_new(body, "billingGroupName", json_string(th->billing_group));
    if (th->attributes)
        json_object_set_new(body, "attributePayload",
                            json_pack("{s:O}", "attributes", th->attributes));
    int rc = run_op(reg, txn, call, registry__op_create_thing, th->name, NULL, body, what, NULL);
    if (!rc && th->groups)
        rc = add_to_groups(reg, txn, call, th->name, th->groups, what);
    return rc;
}

/* The attributes of `cur` after MERGE with `given` (empty values remove). */
static json_t *attrs_merged(const json_t *cur, const json_t *given)
{
    json_t *out = cur ? json_deep_copy(cur) : json_object();
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)given, k, v)
    {
        if (json_string_length(v) == 0)
            json_object_del(out, k);
        else
            json_object_set(out, k, v);
    }
    return out;
}

static json_t *attrs_without_empty(const json_t *given)
{
    return attrs_merged(NULL, given);
}

static int update_existing_thing(struct roost_registry *reg, struct roost_store_txn *txn,
                                 struct roost_api_call *call, const struct roost_template_thing *th,
                                 const json_t *doc, const char *what)
{
    const char *ln = th->logical_name;
    int rc = 0;
    /* Attributes. */
    if (th->attributes && th->attributes_override != ROOST_OVERRIDE_DO_NOTHING) {
        const json_t *cur = json_object_get(doc, "attributes");
        json_t *empty = json_object();
        json_t *want = th->attributes_override == ROOST_OVERRIDE_MERGE
                           ? attrs_merged(cur, th->attributes)
                           : attrs_without_empty(th->attributes);
        bool same = json_equal(want, cur ? cur : empty);
        json_decref(empty);
        if (!same && th->attributes_override == ROOST_OVERRIDE_FAIL) {
            json_decref(want);
            return conflict(call,
                            "Resources.%s: thing %s has other attributes than the "
                            "template's (OverrideSettings AttributePayload FAIL)",
                            ln, th->name);
        }
        if (!same) {
            json_t *body =
                json_pack("{s:{s:O,s:b}}", "attributePayload", "attributes", th->attributes,
                          "merge", th->attributes_override == ROOST_OVERRIDE_MERGE);
            rc =
                run_op(reg, txn, call, registry__op_update_thing, th->name, NULL, body, what, NULL);
        }
        json_decref(want);
        if (rc)
            return rc;
    }
    /* Thing type. */
    const char *cur_type = json_string_value(json_object_get(doc, "thingTypeName"));
    if (th->type_name && (!cur_type || strcmp(cur_type, th->type_name) != 0)) {
        if (th->type_override == ROOST_OVERRIDE_FAIL)
            return conflict(call,
                            "Resources.%s: thing %s has another thing type than the "
                            "template's (OverrideSettings ThingTypeName FAIL)",
                            ln, th->name);
        if (th->type_override == ROOST_OVERRIDE_REPLACE) {
            json_t *body = json_pack("{s:s}", "thingTypeName", th->type_name);
            rc =
                run_op(reg, txn, call, registry__op_update_thing, th->name, NULL, body, what, NULL);
            if (rc)
                return rc;
        }
    }
    /* Thing groups. */
    if (th->groups && th->groups_override != ROOST_OVERRIDE_DO_NOTHING) {
        json_t *cur = json_array();
        rc = roost_store_link_list(txn, "member", "thing", th->name, "thinggroup", NULL, NULL, 0,
                                   collect_to_names, cur);
        if (rc) {
            json_decref(cur);
            return registry__store_fail(call, rc, "thing groups");
        }
        json_t *add = array_minus(th->groups, cur);
        json_t *del = array_minus(cur, th->groups);
        bool same = json_array_size(add) == 0 && json_array_size(del) == 0;
        if (!same && th->groups_override == ROOST_OVERRIDE_FAIL)
            rc = conflict(call,
                          "Resources.%s: thing %s is in other thing groups than the "
                          "template's (OverrideSettings ThingGroups FAIL)",
                          ln, th->name);
        else if (th->groups_override == ROOST_OVERRIDE_MERGE)
            rc = add_to_groups(reg, txn, call, th->name, add, what);
        else if (!same && th->groups_override == ROOST_OVERRIDE_REPLACE)
            rc = run_op(reg, txn, call, registry__op_update_thing_groups_for_thing, NULL, NULL,
                        json_pack("{s:s,s:O,s:O}", "thingName", th->name, "thingGroupsToAdd", add,
                                  "thingGroupsToRemove", del),
                        what, NULL);
        json_decref(add);
        json_decref(del);
        json_decref(cur);
        if (rc)
            return rc;
    }
    /* Billing group: set when the thing has none (no override setting exists). */
    if (th->billing_group) {
        json_t *cur = json_array();
        rc = roost_store_link_list(txn, "billing", "thing", th->name, "billinggroup", NULL, NULL, 1,
                                   collect_to_names, cur);
        bool none = json_array_size(cur) == 0;
        json_decref(cur);
        if (rc)
            return registry__store_fail(call, rc, "thing billing group");
        if (none)
            rc = run_op(reg, txn, call, registry__op_add_thing_to_billing_group, NULL, NULL,
                        json_pack("{s:s,s:s}", "billingGroupName", th->billing_group, "thingName",
                                  th->name),
                        what, NULL);
    }
    return rc;
}

static int apply_thing(struct roost_registry *reg, struct roost_store_txn *txn,
                       struct roost_api_call *call, const struct roost_template_thing *th,
                       json_t *applied)
{
    char what[320], arn[REGISTRY_ARN_MAX];
    json_t *doc = NULL;
    snprintf(what, sizeof(what), "Resources.%.60s (thing %.128s)", th->logical_name, th->name);
    int rc = thing_refs_exist(call, txn, th);
    if (rc)
        return rc;
    rc = registry__doc_load(call, txn, "thing", th->name, &doc, NULL);
    if (rc == ROOST_ENOTFOUND)
        rc = create_thing(reg, txn, call, th, what);
    else if (rc == 0)
        rc = update_existing_thing(reg, txn, call, th, doc, what);
    json_decref(doc);
    if (rc)
        return rc;
    rc = roost_registry_arn(reg, "thing", th->name, arn, sizeof(arn));
    if (rc)
        return registry__store_fail(call, rc, "thing arn");
    json_object_set_new(applied, "thingName", json_string(th->name));
    json_object_set_new(applied, "thingArn", json_string(arn));
    return 0;
}

/* ==== Applying a plan: the certificate ==================================== */

static int set_cert_status(struct roost_registry *reg, struct roost_store_txn *txn,
                           struct roost_api_call *call, const char *id, const char *status,
                           const char *what)
{
    return run_op(reg, txn, call, registry__op_update_certificate, id,
                  json_pack("{s:s}", "newStatus", status), NULL, what, NULL);
}

/* An existing certificate by id. */
static int apply_cert_by_id(struct roost_registry *reg, struct roost_store_txn *txn,
                            struct roost_api_call *call, const struct roost_template_cert *c,
                            const char *id, bool provisioned, const char *what)
{
    json_t *doc = NULL;
    int rc = registry__doc_load(call, txn, "cert", id, &doc, NULL);
    if (rc == ROOST_ENOTFOUND)
        return ROOST_API_NOT_FOUND(call, "Resources.%s: certificate %s does not exist",
                                   c->logical_name, id);
    if (rc)
        return rc;
    const char *want = c->active ? "ACTIVE" : "INACTIVE";
    const char *cur = json_string_value(json_object_get(doc, "status"));
    char cur_copy[32];
    snprintf(cur_copy, sizeof(cur_copy), "%s", cur ? cur : "");
    json_decref(doc);
    if (strcmp(cur_copy, want) == 0)
        return 0;
    if (!provisioned && strcmp(cur_copy, "PENDING_ACTIVATION") != 0) {
        if (c->status_override == ROOST_OVERRIDE_DO_NOTHING)
            return 0;
        if (c->status_override == ROOST_OVERRIDE_FAIL)
            return roost_api_fail(call, 409, "ResourceConflictsException",
                                  "Resources.%s: certificate %s is %s, the template sets %s "
                                  "(OverrideSettings Status FAIL)",
                                  c->logical_name, id, cur_copy, want);
    }
    return set_cert_status(reg, txn, call, id, want, what);
}

static int apply_cert(struct roost_registry *reg, struct roost_store_txn *txn,
                      struct roost_api_call *call, const struct roost_template_cert *c,
                      const char *provisioned_cert, json_t *applied)
{
    char id[65] = "", what[160], member[120], arn[REGISTRY_ARN_MAX];
    json_t *res = NULL, *doc = NULL;
    int rc = 0;
    snprintf(what, sizeof(what), "Resources.%.60s (certificate)", c->logical_name);
    switch (c->source) {
    case ROOST_TEMPLATE_CERT_ID:
        snprintf(member, sizeof(member), "Resources.%.60s.Properties.CertificateId",
                 c->logical_name);
        rc = registry__check_cert_id(call, member, c->value, id);
        if (rc)
            return rc;
        if (provisioned_cert && strcmp(id, provisioned_cert) != 0)
            return ROOST_API_INVALID(call,
                                     "Resources.%s: the certificate must be the one being "
                                     "provisioned (%s), not %s",
                                     c->logical_name, provisioned_cert, id);
        rc = apply_cert_by_id(reg, txn, call, c, id, provisioned_cert != NULL, what);
        break;
    case ROOST_TEMPLATE_CERT_CSR:
        rc = run_op(reg, txn, call, registry__op_create_certificate_from_csr, NULL,
                    json_pack("{s:s}", "setAsActive", c->active ? "true" : "false"),
                    json_pack("{s:s}", "certificateSigningRequest", c->value), what, &res);
        if (!rc)
            snprintf(id, sizeof(id), "%s",
                     str_or(json_string_value(json_object_get(res, "certificateId")), ""));
        break;
    case ROOST_TEMPLATE_CERT_PEM:
        if (roost_pki_cert_id_from_pem(c->value, strlen(c->value), id) != 0)
            return roost_api_fail(call, 400, "CertificateValidationException",
                                  "Resources.%s: CertificatePem is not a valid X.509 certificate",
                                  c->logical_name);
        bool known = false;
        rc = doc_exists(call, txn, "cert", id, &known);
        if (rc)
            return rc;
        if (known) {
            rc = apply_cert_by_id(reg, txn, call, c, id, false, what);
            break;
        }
        json_t *body = json_pack("{s:s,s:s}", "certificatePem", c->value, "status",
                                 c->active ? "ACTIVE" : "INACTIVE");
        if (c->ca_pem)
            json_object_set_new(body, "caCertificatePem", json_string(c->ca_pem));
        rc =
            run_op(reg, txn, call, registry__op_register_certificate, NULL, NULL, body, what, NULL);
        break;
    default:
        rc = roost_api_fail(call, 500, "InternalFailureException", "Unknown certificate source");
    }
    json_decref(res);
    if (rc)
        return rc;
    rc = registry__doc_load(call, txn, "cert", id, &doc, NULL);
    if (rc == ROOST_ENOTFOUND)
        rc = registry__store_fail(call, rc, "provisioned cert");
    if (rc)
        return rc;
    rc = roost_registry_arn(reg, "cert", id, arn, sizeof(arn));
    if (!rc) {
        json_object_set_new(applied, "certificateId", json_string(id));
        json_object_set_new(applied, "certificateArn", json_string(arn));
        json_object_set(applied, "certificatePem", json_object_get(doc, "certificatePem"));
    } else {
        rc = registry__store_fail(call, rc, "cert arn");
    }
    json_decref(doc);
    return rc;
}

/* ==== Applying a plan: policies =========================================== */

static int apply_policy(struct roost_registry *reg, struct roost_store_txn *txn,
                        struct roost_api_call *call, const struct roost_template_policy *p,
                        const char *cert_arn, json_t *applied)
{
    char what[320], arn[REGISTRY_ARN_MAX], err[300] = "";
    bool found = false;
    snprintf(what, sizeof(what), "Resources.%.60s (policy %.128s)", p->logical_name, p->name);
    int rc = doc_exists(call, txn, "policy", p->name, &found);
    if (rc)
        return rc;
    if (!found && !p->document)
        return ROOST_API_NOT_FOUND(call, "Resources.%s: policy %s does not exist", p->logical_name,
                                   p->name);
    if (!found) {
        if (registry__policy_check(p->document, err, sizeof(err)) != 0)
            return roost_api_fail(call, 400, "MalformedPolicyException",
                                  "Resources.%s: the policy document is not valid: %s",
                                  p->logical_name, err);
        rc = run_op(reg, txn, call, registry__op_create_policy, p->name, NULL,
                    json_pack("{s:s}", "policyDocument", p->document), what, NULL);
        if (rc)
            return rc;
    }
    if (cert_arn) {
        rc = run_op(reg, txn, call, registry__op_attach_policy, p->name, NULL,
                    json_pack("{s:s}", "target", cert_arn), what, NULL);
        if (rc)
            return rc;
    }
    rc = roost_registry_arn(reg, "policy", p->name, arn, sizeof(arn));
    if (rc)
        return registry__store_fail(call, rc, "policy arn");
    json_t *arns = json_object_get(applied, "policyArns");
    if (!arns) {
        arns = json_array();
        json_object_set_new(applied, "policyArns", arns);
    }
    json_array_append_new(arns, json_string(arn));
    return 0;
}

int registry__template_apply(struct roost_registry *reg, struct roost_store_txn *txn,
                             struct roost_api_call *call, const struct roost_template_plan *plan,
                             const char *provisioned_cert, json_t **out_applied)
{
    json_t *applied = json_object();
    int rc = 0;
    *out_applied = NULL;
    if (plan->thing)
        rc = apply_thing(reg, txn, call, plan->thing, applied);
    if (!rc && plan->cert)
        rc = apply_cert(reg, txn, call, plan->cert, provisioned_cert, applied);
    const char *cert_arn = json_string_value(json_object_get(applied, "certificateArn"));
    for (size_t i = 0; !rc && i < plan->n_policies; i++)
        rc = apply_policy(reg, txn, call, &plan->policies[i], cert_arn, applied);
    if (!rc && plan->thing && cert_arn) {
        char what[320];
        snprintf(what, sizeof(what), "Resources.%.60s (attaching the certificate to thing %.128s)",
                 plan->thing->logical_name, plan->thing->name);
        rc = run_op(reg, txn, call, registry__op_attach_thing_principal, plan->thing->name,
                    json_pack("{s:s}", "x-amzn-principal", cert_arn), NULL, what, NULL);
    }
    if (rc) {
        json_decref(applied);
        return rc;
    }
    *out_applied = applied;
    return 0;
}

/* ==== JITR / JITP ========================================================= */

/* The AWS::IoT::Certificate::<Name> parameters JITP takes from the subject. */
static const struct {
    const char *param;
    enum roost_pki_attr attr;
} jitp_fields[] = {
    {"AWS::IoT::Certificate::CommonName", ROOST_PKI_ATTR_COMMON_NAME},
    {"AWS::IoT::Certificate::Country", ROOST_PKI_ATTR_COUNTRY},
    {"AWS::IoT::Certificate::Organization", ROOST_PKI_ATTR_ORGANIZATION},
    {"AWS::IoT::Certificate::OrganizationalUnit", ROOST_PKI_ATTR_ORGANIZATIONAL_UNIT},
    {"AWS::IoT::Certificate::DistinguishedNameQualifier", ROOST_PKI_ATTR_DN_QUALIFIER},
    {"AWS::IoT::Certificate::StateName", ROOST_PKI_ATTR_STATE},
    {"AWS::IoT::Certificate::Locality", ROOST_PKI_ATTR_LOCALITY},
    {"AWS::IoT::Certificate::Title", ROOST_PKI_ATTR_TITLE},
    {"AWS::IoT::Certificate::SerialNumber", ROOST_PKI_ATTR_SERIAL_NUMBER},
    {"AWS::IoT::Certificate::Email", ROOST_PKI_ATTR_EMAIL},
};

static void add_pseudo_params(const struct roost_registry *reg, json_t *params, const char *cert_id)
{
    json_object_set_new(params, "AWS::IoT::Certificate::Id", json_string(cert_id));
    json_object_set_new(params, "AWS::Region", json_string(reg->region));
    json_object_set_new(params, "AWS::AccountId", json_string(reg->account_id));
    json_object_set_new(params, "AWS::Partition", json_string("aws"));
}

static void push_registered_event(struct roost_registry *reg, struct roost_api_call *call,
                                  const char *cert_id, const char *ca_id, json_int_t created_ms)
{
    struct roost_registry_effects *fx = &call->effects;
    json_t *p =
        json_pack("{s:s,s:s,s:I,s:s,s:s,s:I}", "certificateId", cert_id, "caCertificateId", ca_id,
                  "timestamp", (json_int_t)call->now_ms, "certificateStatus", "PENDING_ACTIVATION",
                  "awsAccountId", reg->account_id, "certificateRegistrationTimestamp", created_ms);
    char topic[128];
    snprintf(topic, sizeof(topic), "$aws/events/certificates/registered/%.64s", ca_id);
    size_t len = json_dumpb(p, NULL, 0, JSON_COMPACT);
    char *buf = roost_xmalloc(len + 1);
    json_dumpb(p, buf, len, JSON_COMPACT);
    buf[len] = '\0';
    json_decref(p);
    if (fx->n_events == fx->cap_events) {
        fx->cap_events = fx->cap_events ? fx->cap_events * 2 : 4;
        fx->events = roost_xrealloc(fx->events, fx->cap_events * sizeof(*fx->events));
    }
    fx->events[fx->n_events].topic = roost_xstrdup(topic);
    fx->events[fx->n_events].payload = buf;
    fx->events[fx->n_events].payload_len = len;
    fx->n_events++;
}

/* The JITP template of a CA document: its registrationConfig's templateBody,
 * or the JITP template it names. *out_t NULL when there is none. */
static int ca_template(struct roost_api_call *call, struct roost_store_txn *txn,
                       const json_t *ca_doc, struct roost_template **out_t)
{
    const json_t *cfg = json_object_get(ca_doc, "registrationConfig");
    const char *body = json_string_value(json_object_get(cfg, "templateBody"));
    const char *name = json_string_value(json_object_get(cfg, "templateName"));
    json_t *tdoc = NULL;
    char err[400] = "";
    int rc = 0;
    *out_t = NULL;
    if (!body && name) {
        rc = registry__template_load(call, txn, name, &tdoc, NULL);
        if (rc == ROOST_ENOTFOUND)
            return ROOST_API_NOT_FOUND(call,
                                       "The JITP template %s of the CA certificate does "
                                       "not exist",
                                       name);
        if (rc)
            return rc;
        const char *type = json_string_value(json_object_get(tdoc, "type"));
        if (!type || strcmp(type, "JITP") != 0) {
            json_decref(tdoc);
            return ROOST_API_INVALID(call,
                                     "The template %s of the CA certificate is not a JITP "
                                     "template",
                                     name);
        }
        body = registry__template_body(tdoc, 0);
    }
    if (body &&
        roost_template_parse(body, strlen(body), ROOST_TEMPLATE_JITP, out_t, err, sizeof(err)) != 0)
        rc = ROOST_API_INVALID(call, "Invalid registration template: %s", err);
    json_decref(tdoc);
    return rc;
}

static int run_jitp(struct roost_registry *reg, struct roost_store_txn *txn,
                    struct roost_api_call *call, const struct roost_template *t,
                    const struct roost_pki_cert_info *info, json_t **out_applied)
{
    struct roost_template_plan *plan = NULL;
    char err[400] = "";
    json_t *params = json_object();
    for (size_t i = 0; i < ROOST_ARRAY_LEN(jitp_fields); i++) {
        const struct roost_pki_values *v = &info->subject.attr[jitp_fields[i].attr];
        if (v->n > 0 && v->v[0])
            json_object_set_new(params, jitp_fields[i].param, json_string(v->v[0]));
    }
    add_pseudo_params(reg, params, info->id);
    int rc = roost_template_apply(t, params, &plan, err, sizeof(err));
    json_decref(params);
    if (rc)
        return ROOST_API_INVALID(call, "JITP of certificate %s failed: %s", info->id, err);
    rc = registry__template_apply(reg, txn, call, plan, info->id, out_applied);
    roost_template_plan_free(plan);
    return rc;
}

int roost_registry_auto_register(struct roost_registry *reg, struct roost_store_txn *txn,
                                 const uint8_t *der, size_t der_len, const char *ca_id,
                                 bool apply_template, struct roost_api_call *call)
{
    struct roost_pki_cert_info info = {0};
    struct roost_template *t = NULL;
    json_t *ca_doc = NULL, *cert_doc = NULL, *applied = NULL;
    bool registered = false;
    char err[200] = "";
    if (!call->now_ms)
        call->now_ms = roost_wall_ms();
    call->status = 200;
    int rc = registry__doc_load(call, txn, "cacert", ca_id ? ca_id : "", &ca_doc, NULL);
    if (rc == ROOST_ENOTFOUND) {
        rc = ROOST_API_NOT_FOUND(call, "The CA certificate %.64s is not registered",
                                 ca_id ? ca_id : "");
        goto out;
    }
    if (rc)
        goto out;
    const char *ca_status = json_string_value(json_object_get(ca_doc, "status"));
    const char *auto_reg = json_string_value(json_object_get(ca_doc, "autoRegistrationStatus"));
    if (!ca_status || strcmp(ca_status, "ACTIVE") != 0) {
        rc = roost_api_fail(call, 406, "CertificateStateException",
                            "The CA certificate %s is not ACTIVE", ca_id);
        goto out;
    }
    if (!auto_reg || strcmp(auto_reg, "ENABLE") != 0) {
        rc = ROOST_API_INVALID(call, "The CA certificate %s does not allow auto-registration",
                               ca_id);
        goto out;
    }
    if (!der || der_len == 0 || roost_pki_cert_info((const char *)der, der_len, &info) != 0) {
        rc = roost_api_fail(call, 400, "CertificateValidationException",
                            "The device certificate is not a valid X.509 certificate");
        goto out;
    }
    const char *ca_pem = json_string_value(json_object_get(ca_doc, "certificatePem"));
    if (!ca_pem ||
        roost_pki_verify_signed_by(info.pem, strlen(info.pem), ca_pem, strlen(ca_pem),
                                   (time_t)(call->now_ms / 1000), err, sizeof(err)) != 0) {
        rc = roost_api_fail(call, 400, "CertificateValidationException",
                            "The certificate is not signed by CA certificate %s: %s", ca_id, err);
        goto out;
    }
    rc = registry__doc_load(call, txn, "cert", info.id, &cert_doc, NULL);
    if (rc == ROOST_ENOTFOUND) {
        const char *mode = json_string_value(json_object_get(ca_doc, "certificateMode"));
        struct registry__cert_new nc = {
            .id = info.id,
            .pem = info.pem,
            .ca_id = ca_id,
            .status = "PENDING_ACTIVATION",
            .mode = mode ? mode : "DEFAULT",
            .not_before = info.not_before,
            .not_after = info.not_after,
        };
        rc = registry__cert_insert(reg, txn, call, &nc);
        if (rc)
            goto out;
        registered = true;
        push_registered_event(reg, call, info.id, ca_id, (json_int_t)call->now_ms);
    } else if (rc) {
        goto out;
    } else {
        const char *st = json_string_value(json_object_get(cert_doc, "status"));
        if (!st || strcmp(st, "PENDING_ACTIVATION") != 0) {
            /* Registered already and decided on: a repeat of a storm. */
            call->result = json_pack("{s:s,s:s,s:b}", "certificateId", info.id, "certificateStatus",
                                     st ? st : "", "registered", false);
            goto out;
        }
        json_int_t created = json_integer_value(json_object_get(cert_doc, "creationDate"));
        push_registered_event(reg, call, info.id, ca_id, created * 1000);
    }
    if (apply_template) {
        rc = ca_template(call, txn, ca_doc, &t);
        if (!rc && t)
            rc = run_jitp(reg, txn, call, t, &info, &applied);
        if (rc)
            goto out;
        if (t) {
            /* The certificate ends ACTIVE unless the template itself said otherwise. */
            json_t *now = NULL;
            rc = registry__doc_load(call, txn, "cert", info.id, &now, NULL);
            if (rc)
                goto out;
            const char *st = json_string_value(json_object_get(now, "status"));
            bool pending = st && strcmp(st, "PENDING_ACTIVATION") == 0;
            json_decref(now);
            if (pending)
                rc = set_cert_status(reg, txn, call, info.id, "ACTIVE", "JITP");
            if (rc)
                goto out;
        }
    }
    json_decref(cert_doc);
    cert_doc = NULL;
    rc = registry__doc_load(call, txn, "cert", info.id, &cert_doc, NULL);
    if (rc)
        goto out;
    call->result = json_pack("{s:s,s:O,s:b}", "certificateId", info.id, "certificateStatus",
                             json_object_get(cert_doc, "status"), "registered", registered);
    const char *thing = json_string_value(json_object_get(applied, "thingName"));
    if (thing)
        json_object_set_new(call->result, "thingName", json_string(thing));
out:
    json_decref(applied);
    roost_template_destroy(t);
    json_decref(cert_doc);
    json_decref(ca_doc);
    roost_pki_cert_info_cleanup(&info);
    return finish(call, rc);
}

/* ==== Fleet provisioning ================================================== */

static void hex_encode(const uint8_t *p, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * n] = '\0';
}

/* The document name of a token: SHA-256 of its text, lowercase hex. */
static int token_key(const char *token, char out[65])
{
    uint8_t md[32];
    unsigned int n = 0;
    if (!EVP_Digest(token, strlen(token), md, &n, EVP_sha256(), NULL) || n != sizeof(md))
        return ROOST_EPROTO;
    hex_encode(md, sizeof(md), out);
    return 0;
}

static int bad_token(struct roost_api_call *call, const char *msg)
{
    return roost_api_fail(call, 400, "InvalidCertificateOwnershipToken", "%s", msg);
}

int roost_registry_fleet_create_certificate(struct roost_registry *reg, struct roost_store_txn *txn,
                                            const char *csr_pem, struct roost_api_call *call)
{
    struct roost_pki_issued iss = {0};
    uint8_t raw[TOKEN_BYTES];
    char token[TOKEN_BYTES * 2 + 1], key[65], err[256] = "";
    json_t *tdoc = NULL;
    int rc;
    if (!call->now_ms)
        call->now_ms = roost_wall_ms();
    call->status = 200;
    if (!reg->cfg.ca) {
        rc = roost_api_fail(call, 500, "InternalFailure",
                            "This server has no certificate authority configured");
        goto out;
    }
    if (csr_pem) {
        if (!*csr_pem) {
            rc = roost_api_fail(call, 400, "InvalidParameters",
                                "certificateSigningRequest cannot be empty.");
            goto out;
        }
        rc = roost_pki_sign_csr(reg->cfg.ca, csr_pem, strlen(csr_pem), 0, &iss, err, sizeof(err));
        if (rc == ROOST_EINVAL || rc == ROOST_ETOOBIG || rc == ROOST_EAUTH) {
            rc = roost_api_fail(call, 400, "InvalidParameters",
                                "The certificate signing request is not valid: %s",
                                err[0] ? err : "unreadable");
            goto out;
        }
    } else {
        rc = roost_pki_issue_keypair(reg->cfg.ca, NULL, 0, 0, &iss);
    }
    if (rc) {
        rc = roost_api_fail(call, 500, "InternalFailure", "Could not issue a certificate");
        goto out;
    }
    struct registry__cert_new nc = {
        .id = iss.id,
        .pem = iss.cert_pem,
        .status = "PENDING_ACTIVATION",
        .mode = "DEFAULT",
        .not_before = iss.not_before,
        .not_after = iss.not_after,
    };
    rc = registry__cert_insert(reg, txn, call, &nc);
    if (rc)
        goto out;
    rc = roost_random_bytes(raw, sizeof(raw));
    if (!rc) {
        hex_encode(raw, sizeof(raw), token);
        rc = token_key(token, key);
    }
    if (rc) {
        rc = roost_api_fail(call, 500, "InternalFailure", "Could not make an ownership token");
        goto out;
    }
    tdoc =
        json_pack("{s:s,s:I,s:I}", "certificateId", iss.id, "creationDate",
                  (json_int_t)call->now_ms, "expiresAt", (json_int_t)(call->now_ms + TOKEN_TTL_MS));
    rc = registry__doc_store(call, txn, REGISTRY_TOKEN_KIND, key, tdoc, 0, NULL);
    if (rc == ROOST_ECONFLICT || rc == ROOST_ENOTFOUND)
        rc = registry__store_fail(call, rc, "fleettoken put");
    if (rc)
        goto out;
    call->result = json_pack("{s:s,s:s,s:s}", "certificateId", iss.id, "certificatePem",
                             iss.cert_pem, "certificateOwnershipToken", token);
    if (iss.private_key_pem)
        json_object_set_new(call->result, "privateKey", json_string(iss.private_key_pem));
out:
    json_decref(tdoc);
    roost_pki_issued_cleanup(&iss);
    return finish(call, rc);
}

/* The checks RegisterThing makes before and after a hook: the template
 * (loaded into *out_tdoc), the token (its key and document). */
static int fleet_check(struct roost_api_call *call, struct roost_store_txn *txn,
                       const char *template_name, const char *token, json_t **out_tdoc,
                       char key[65], json_t **out_token_doc)
{
    *out_tdoc = NULL;
    *out_token_doc = NULL;
    if (!token || !*token)
        return bad_token(call, "Certificate ownership token cannot be empty.");
    if (!template_name || !roost_template_name_valid(template_name, strlen(template_name)))
        return roost_api_fail(call, 400, "InvalidParameters", "Template name is not valid.");
    int rc = registry__template_load(call, txn, template_name, out_tdoc, NULL);
    if (rc == ROOST_ENOTFOUND)
        return roost_api_fail(call, 404, "ResourceNotFound", "Template %s not found.",
                              template_name);
    if (rc)
        return rc;
    const char *type = json_string_value(json_object_get(*out_tdoc, "type"));
    if (type && strcmp(type, "FLEET_PROVISIONING") != 0)
        return roost_api_fail(call, 400, "InvalidParameters",
                              "Template %s is not a FLEET_PROVISIONING template.", template_name);
    if (!json_is_true(json_object_get(*out_tdoc, "enabled")))
        return roost_api_fail(call, 403, "AccessDenied", "Template %s is disabled.", template_name);
    if (strlen(token) > TOKEN_MAX || token_key(token, key) != 0)
        return bad_token(call, "Certificate ownership token is not valid.");
    rc = registry__doc_load(call, txn, REGISTRY_TOKEN_KIND, key, out_token_doc, NULL);
    if (rc == ROOST_ENOTFOUND)
        return bad_token(call, "Certificate ownership token is not valid.");
    if (rc)
        return rc;
    json_int_t expires = json_integer_value(json_object_get(*out_token_doc, "expiresAt"));
    if ((json_int_t)call->now_ms >= expires)
        return bad_token(call, "Certificate ownership token has expired.");
    return 0;
}

int roost_registry_fleet_prepare(struct roost_registry *reg, struct roost_store_txn *txn,
                                 const char *template_name, const char *token,
                                 struct roost_api_call *call)
{
    json_t *tdoc = NULL, *tok = NULL, *cert = NULL;
    char key[65];
    ROOST_UNUSED(reg);
    if (!call->now_ms)
        call->now_ms = roost_wall_ms();
    call->status = 200;
    int rc = fleet_check(call, txn, template_name, token, &tdoc, key, &tok);
    if (rc)
        goto out;
    const char *cert_id = json_string_value(json_object_get(tok, "certificateId"));
    rc = registry__doc_load(call, txn, "cert", cert_id ? cert_id : "", &cert, NULL);
    if (rc == ROOST_ENOTFOUND) {
        rc = bad_token(call, "Certificate ownership token is not valid.");
        goto out;
    }
    if (rc)
        goto out;
    call->result = json_pack("{s:O,s:s,s:O}", "templateArn", json_object_get(tdoc, "templateArn"),
                             "certificateId", cert_id, "certificatePem",
                             json_object_get(cert, "certificatePem"));
    json_t *hook = json_object_get(tdoc, "preProvisioningHook");
    if (hook && call->result)
        json_object_set(call->result, "preProvisioningHook", hook);
out:
    json_decref(cert);
    json_decref(tok);
    json_decref(tdoc);
    return finish(call, rc);
}

int roost_registry_fleet_register_thing(struct roost_registry *reg, struct roost_store_txn *txn,
                                        const char *template_name, const char *token,
                                        const json_t *params, struct roost_api_call *call)
{
    json_t *tdoc = NULL, *tok = NULL, *p = NULL, *applied = NULL;
    struct roost_template *t = NULL;
    struct roost_template_plan *plan = NULL;
    char key[65], err[400] = "", cert_id[65];
    if (!call->now_ms)
        call->now_ms = roost_wall_ms();
    call->status = 200;
    int rc = fleet_check(call, txn, template_name, token, &tdoc, key, &tok);
    if (rc)
        goto out;
    snprintf(cert_id, sizeof(cert_id), "%s",
             str_or(json_string_value(json_object_get(tok, "certificateId")), ""));
    if (params && !json_is_object(params)) {
        rc = roost_api_fail(call, 400, "InvalidParameters", "parameters must be a JSON object.");
        goto out;
    }
    /* The device's parameters, less any AWS::* it sent: it must not name the certificate. */
    p = json_object();
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)params, k, v)
    {
        if (strncmp(k, "AWS::", 5) != 0)
            json_object_set(p, k, v);
    }
    add_pseudo_params(reg, p, cert_id);
    const char *body = registry__template_body(tdoc, 0);
    if (!body) {
        rc = roost_api_fail(call, 500, "InternalFailure", "Template %s has no default version.",
                            template_name);
        goto out;
    }
    if (roost_template_parse(body, strlen(body), ROOST_TEMPLATE_FLEET, &t, err, sizeof(err)) != 0) {
        rc = roost_api_fail(call, 400, "InvalidParameters", "Invalid template %s: %s",
                            template_name, err);
        goto out;
    }
    if (roost_template_apply(t, p, &plan, err, sizeof(err)) != 0) {
        rc = roost_api_fail(call, 400, "InvalidParameters", "%s", err);
        goto out;
    }
    if (!plan->cert) {
        rc = roost_api_fail(call, 400, "InvalidParameters",
                            "Template %s does not provision the certificate (an "
                            "AWS::IoT::Certificate resource with CertificateId "
                            "{\"Ref\": \"AWS::IoT::Certificate::Id\"} applies).",
                            template_name);
        goto out;
    }
    rc = registry__template_apply(reg, txn, call, plan, cert_id, &applied);
    if (rc)
        goto out;
    /* Single use: the token goes with the success. */
    rc = roost_store_doc_del(txn, REGISTRY_TOKEN_KIND, key);
    if (rc) {
        rc = registry__store_fail(call, rc, "fleettoken delete");
        goto out;
    }
    call->result = json_object();
    json_object_set(call->result, "deviceConfiguration", plan->device_configuration);
    const char *thing = json_string_value(json_object_get(applied, "thingName"));
    if (thing)
        json_object_set_new(call->result, "thingName", json_string(thing));
out:
    json_decref(applied);
    roost_template_plan_free(plan);
    roost_template_destroy(t);
    json_decref(p);
    json_decref(tok);
    json_decref(tdoc);
    return finish(call, rc);
}

struct expired_tokens {
    uint64_t now_ms;
    json_t *keys;  /* token document names */
    json_t *certs; /* their certificate ids */
};

static int collect_expired(void *ud, const struct roost_store_doc *d)
{
    struct expired_tokens *e = ud;
    json_t *doc = json_loads(d->body, 0, NULL);
    json_int_t expires = json_integer_value(json_object_get(doc, "expiresAt"));
    if (!doc || (json_int_t)e->now_ms >= expires) {
        json_array_append_new(e->keys, json_string(d->name));
        const char *c = json_string_value(json_object_get(doc, "certificateId"));
        json_array_append_new(e->certs, json_string(c ? c : ""));
    }
    json_decref(doc);
    return 0;
}

int roost_registry_fleet_purge(struct roost_registry *reg, struct roost_store_txn *txn,
                               struct roost_api_call *call)
{
    if (!call->now_ms)
        call->now_ms = roost_wall_ms();
    call->status = 200;
    struct expired_tokens e = {.now_ms = call->now_ms, .keys = json_array(), .certs = json_array()};
    size_t certs_deleted = 0, i;
    json_t *v;
    int rc = roost_store_doc_list(txn, REGISTRY_TOKEN_KIND, NULL, NULL, 0, collect_expired, &e);
    if (rc) {
        rc = registry__store_fail(call, rc, "fleettoken list");
        goto out;
    }
    json_array_foreach(e.keys, i, v)
    {
        rc = roost_store_doc_del(txn, REGISTRY_TOKEN_KIND, json_string_value(v));
        if (rc && rc != ROOST_ENOTFOUND) {
            rc = registry__store_fail(call, rc, "fleettoken delete");
            goto out;
        }
        rc = 0;
        const char *cert_id = json_string_value(json_array_get(e.certs, i));
        json_t *cert = NULL;
        int lrc = registry__doc_load(call, txn, "cert", cert_id, &cert, NULL);
        if (lrc == ROOST_ENOTFOUND)
            continue;
        if (lrc) {
            rc = lrc;
            goto out;
        }
        const char *st = json_string_value(json_object_get(cert, "status"));
        bool pending = st && strcmp(st, "PENDING_ACTIVATION") == 0;
        json_decref(cert);
        if (!pending)
            continue;
        rc = registry__event_cert(reg, txn, call, "DELETED", cert_id, NULL);
        if (rc)
            goto out;
        rc = roost_store_doc_del(txn, "cert", cert_id); /* with any links it has */
        if (rc) {
            rc = registry__store_fail(call, rc, "cert delete");
            goto out;
        }
        roost_api_effects_cert(call, cert_id);
        call->effects.policies_changed = true;
        certs_deleted++;
    }
    call->result = json_pack("{s:I,s:I}", "tokensDeleted", (json_int_t)json_array_size(e.keys),
                             "certificatesDeleted", (json_int_t)certs_deleted);
out:
    json_decref(e.keys);
    json_decref(e.certs);
    return finish(call, rc);
}
