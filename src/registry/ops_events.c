/*
 * ops_events.c - AWS IoT registry events: UpdateEventConfigurations and
 * DescribeEventConfigurations (the account's switches, one registry
 * document "eventconfig"/"current"), and the events themselves, built
 * inside the operation's transaction into the call's effects so that
 * roostd publishes them only after the change committed (a rolled-back
 * call drops them, registry.c). Events are off until enabled, as on AWS.
 *
 * Emitted: THING, THING_TYPE, THING_GROUP (created/updated/deleted),
 * THING_TYPE_ASSOCIATION, THING_GROUP_MEMBERSHIP and THING_GROUP_HIERARCHY,
 * with the topics and payloads of the AWS IoT developer guide ("Registry
 * events"). JOB and JOB_EXECUTION belong to jobs. POLICY, CERTIFICATE and
 * CA_CERTIFICATE are switches AWS accepts but documents no MQTT event for:
 * Roost publishes its own events for them, on $aws/events/policy/...,
 * $aws/events/certificate/... and $aws/events/caCertificate/..., with the
 * same payload skeleton as the guide's (docs/internals/AUTHZ.md).
 */
#include "registry/registry_int.h"

#include <stdio.h>

#define EVENTCONFIG_KIND "eventconfig"
#define EVENTCONFIG_NAME "current"

/* Every event type AWS's UpdateEventConfigurations accepts. */
static const char *const event_types[] = {
    "THING", "THING_GROUP", "THING_TYPE", "THING_GROUP_MEMBERSHIP", "THING_GROUP_HIERARCHY",
    "THING_TYPE_ASSOCIATION", "JOB", "JOB_EXECUTION", "POLICY", "CERTIFICATE", "CA_CERTIFICATE",
};

static bool known_type(const char *t)
{
    for (size_t i = 0; i < ROOST_ARRAY_LEN(event_types); i++)
        if (strcmp(event_types[i], t) == 0)
            return true;
    return false;
}

void registry__events_clear(struct roost_registry_effects *fx)
{
    for (size_t i = 0; i < fx->n_events; i++) {
        roost_free(fx->events[i].topic);
        roost_free(fx->events[i].payload);
    }
    roost_free(fx->events);
    fx->events = NULL;
    fx->n_events = fx->cap_events = 0;
}

/* PATCH /event-configurations {eventConfigurations: {TYPE: {Enabled}}}:
 * the types given are set, the others keep their setting. */
int registry__op_update_event_configurations(struct roost_registry *reg,
                                             struct roost_store_txn *txn,
                                             struct roost_api_call *call)
{
    json_t *given = NULL, *doc = NULL, *v;
    const char *type;
    int64_t version = 0;
    ROOST_UNUSED(reg);
    int rc = registry__member_object(call, call->body, "eventConfigurations", &given);
    if (rc)
        goto out;
    json_object_foreach(given, type, v) {
        bool enabled = false;
        if (!known_type(type)) {
            rc = ROOST_API_INVALID(call, "Unknown event type: %s", type);
            goto out;
        }
        if (!json_is_object(v)) {
            rc = ROOST_API_INVALID(call, "Invalid configuration for event type %s", type);
            goto out;
        }
        rc = registry__member_bool(call, v, "Enabled", false, &enabled);
        if (rc)
            goto out;
    }
    rc = registry__doc_load(call, txn, EVENTCONFIG_KIND, EVENTCONFIG_NAME, &doc, &version);
    if (rc == ROOST_ENOTFOUND) {
        doc = json_object();
        json_object_set_new(doc, "eventConfigurations", json_object());
        json_object_set_new(doc, "creationDate", json_integer((json_int_t)call->now_ms));
        version = 0;
        rc = 0;
    }
    if (rc)
        goto out;
    json_t *cur = json_object_get(doc, "eventConfigurations");
    if (!json_is_object(cur)) {
        cur = json_object();
        json_object_set_new(doc, "eventConfigurations", cur);
    }
    json_object_foreach(given, type, v) {
        bool enabled = json_is_true(json_object_get(v, "Enabled"));
        json_t *e = json_object();
        json_object_set_new(e, "Enabled", json_boolean(enabled));
        json_object_set_new(cur, type, e);
    }
    json_object_set_new(doc, "lastModifiedDate", json_integer((json_int_t)call->now_ms));
    rc = registry__doc_store(call, txn, EVENTCONFIG_KIND, EVENTCONFIG_NAME, doc, version, NULL);
    if (rc == ROOST_ECONFLICT || rc == ROOST_ENOTFOUND)
        rc = registry__store_fail(call, rc, EVENTCONFIG_KIND); /* same transaction */
out:
    json_decref(doc);
    return rc;
}

/* GET /event-configurations: every type, Enabled false unless switched on. */
int registry__op_describe_event_configurations(struct roost_registry *reg,
                                               struct roost_store_txn *txn,
                                               struct roost_api_call *call)
{
    json_t *doc = NULL;
    ROOST_UNUSED(reg);
    int rc = registry__doc_load(call, txn, EVENTCONFIG_KIND, EVENTCONFIG_NAME, &doc, NULL);
    if (rc && rc != ROOST_ENOTFOUND)
        return rc;
    const json_t *cur = doc ? json_object_get(doc, "eventConfigurations") : NULL;
    json_t *all = json_object();
    for (size_t i = 0; i < ROOST_ARRAY_LEN(event_types); i++) {
        json_t *e = json_object();
        bool on = json_is_true(json_object_get(json_object_get(cur, event_types[i]), "Enabled"));
        json_object_set_new(e, "Enabled", json_boolean(on));
        json_object_set_new(all, event_types[i], e);
    }
    call->result = json_object();
    json_object_set_new(call->result, "eventConfigurations", all);
    if (doc) {
        json_t *c = json_object_get(doc, "creationDate");
        json_t *m = json_object_get(doc, "lastModifiedDate");
        if (json_is_integer(c))
            json_object_set_new(call->result, "creationDate",
                                registry__timestamp((uint64_t)json_integer_value(c)));
        if (json_is_integer(m))
            json_object_set_new(call->result, "lastModifiedDate",
                                registry__timestamp((uint64_t)json_integer_value(m)));
    }
    json_decref(doc);
    return 0;
}

/* Is event type `type` switched on? Read in the same transaction, so a
 * configuration change and an operation never disagree. */
static int enabled(struct roost_api_call *call, struct roost_store_txn *txn, const char *type,
                   bool *out)
{
    json_t *doc = NULL;
    *out = false;
    int rc = registry__doc_load(call, txn, EVENTCONFIG_KIND, EVENTCONFIG_NAME, &doc, NULL);
    if (rc == ROOST_ENOTFOUND)
        return 0;
    if (rc)
        return rc;
    *out = json_is_true(
        json_object_get(json_object_get(json_object_get(doc, "eventConfigurations"), type),
                        "Enabled"));
    json_decref(doc);
    return 0;
}

/* Adds the common members (eventType, eventId, timestamp in ms,
 * operation), serializes and queues the event. Takes `payload`. The
 * thing type association event is the one without accountId. */
static void push_event_plain(struct roost_api_call *call, const char *topic,
                             const char *event_type, const char *operation, json_t *payload)
{
    struct roost_registry_effects *fx = &call->effects;
    char id[37];
    registry__uuid(id);
    json_object_set_new(payload, "eventType", json_string(event_type));
    json_object_set_new(payload, "eventId", json_string(id));
    json_object_set_new(payload, "timestamp", json_integer((json_int_t)call->now_ms));
    json_object_set_new(payload, "operation", json_string(operation));
    size_t len = json_dumpb(payload, NULL, 0, JSON_COMPACT);
    char *buf = roost_xmalloc(len + 1);
    json_dumpb(payload, buf, len, JSON_COMPACT);
    buf[len] = '\0';
    json_decref(payload);
    if (fx->n_events == fx->cap_events) {
        fx->cap_events = fx->cap_events ? fx->cap_events * 2 : 4;
        fx->events = roost_xrealloc(fx->events, fx->cap_events * sizeof(*fx->events));
    }
    fx->events[fx->n_events].topic = roost_xstrdup(topic);
    fx->events[fx->n_events].payload = buf;
    fx->events[fx->n_events].payload_len = len;
    fx->n_events++;
}

/* The usual case: with the account id. Takes `payload`. */
static void push_event(struct roost_registry *reg, struct roost_api_call *call,
                       const char *topic, const char *event_type, const char *operation,
                       json_t *payload)
{
    json_object_set_new(payload, "accountId", json_string(reg->account_id));
    push_event_plain(call, topic, event_type, operation, payload);
}

/* "CREATED" -> "created" for the topic's last level. */
static void lower(const char *s, char *out, size_t cap)
{
    size_t i = 0;
    for (; s[i] && i + 1 < cap; i++)
        out[i] = (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] - 'A' + 'a' : s[i]);
    out[i] = '\0';
}

/* The document an event reports, when events of `type` are enabled: 1 and
 * *out_doc (and its store version), 0 when they are off or the document is
 * gone (a delete of something missing reports nothing), or an error. */
static int event_doc(struct roost_api_call *call, struct roost_store_txn *txn, const char *type,
                     const char *kind, const char *name, json_t **out_doc, int64_t *out_version)
{
    bool on = false;
    *out_doc = NULL;
    int rc = enabled(call, txn, type, &on);
    if (rc || !on)
        return rc;
    rc = registry__doc_load(call, txn, kind, name, out_doc, out_version);
    if (rc == ROOST_ENOTFOUND)
        return 0;
    return rc ? rc : 1;
}

/* The same for events about two documents (memberships, hierarchies):
 * 1 with both, 0 when off or either is gone, or an error. */
static int event_docs(struct roost_api_call *call, struct roost_store_txn *txn, const char *type,
                      const char *kind_a, const char *name_a, json_t **out_a,
                      const char *kind_b, const char *name_b, json_t **out_b)
{
    *out_b = NULL;
    int rc = event_doc(call, txn, type, kind_a, name_a, out_a, NULL);
    if (rc <= 0)
        return rc;
    rc = registry__doc_load(call, txn, kind_b, name_b, out_b, NULL);
    if (rc == 0)
        return 1;
    json_decref(*out_a);
    *out_a = NULL;
    return rc == ROOST_ENOTFOUND ? 0 : rc;
}

/* Queues the event of one resource on "<base>/<name>/<operation in lower
 * case>" (AWS's shape for things, types and groups; Roost's for policies
 * and certificates). Takes `payload`. */
static void push_named_event(struct roost_registry *reg, struct roost_api_call *call,
                             const char *base, const char *name, const char *event_type,
                             const char *operation, json_t *payload)
{
    char op[16], topic[REGISTRY_ARN_MAX];
    lower(operation, op, sizeof(op));
    snprintf(topic, sizeof(topic), "%s/%.128s/%s", base, name, op);
    push_event(reg, call, topic, event_type, operation, payload);
}

int registry__event_thing(struct roost_registry *reg, struct roost_store_txn *txn,
                          struct roost_api_call *call, const char *operation, const char *name)
{
    json_t *doc = NULL;
    int64_t version = 0;
    int rc = event_doc(call, txn, "THING", "thing", name, &doc, &version);
    if (rc <= 0)
        return rc;
    json_t *p = json_object();
    json_object_set(p, "thingId", json_object_get(doc, "thingId"));
    json_object_set_new(p, "thingName", json_string(name));
    json_object_set_new(p, "versionNumber", json_integer(version));
    json_t *type = json_object_get(doc, "thingTypeName");
    json_object_set_new(p, "thingTypeName", type ? json_incref(type) : json_null());
    json_t *attrs = json_object_get(doc, "attributes");
    json_object_set_new(p, "attributes", attrs ? json_incref(attrs) : json_object());
    push_named_event(reg, call, "$aws/events/thing", name, "THING_EVENT", operation, p);
    json_decref(doc);
    return 0;
}

int registry__event_membership(struct roost_registry *reg, struct roost_store_txn *txn,
                               struct roost_api_call *call, const char *operation,
                               const char *thing, const char *group)
{
    json_t *tdoc = NULL, *gdoc = NULL;
    int rc = event_docs(call, txn, "THING_GROUP_MEMBERSHIP", "thing", thing, &tdoc, "thinggroup",
                        group, &gdoc);
    if (rc <= 0)
        return rc; /* callers checked both exist; nothing to report otherwise */
    json_t *p = json_object();
    json_object_set(p, "groupArn", json_object_get(gdoc, "thingGroupArn"));
    json_object_set(p, "groupId", json_object_get(gdoc, "thingGroupId"));
    json_object_set(p, "thingArn", json_object_get(tdoc, "thingArn"));
    json_object_set(p, "thingId", json_object_get(tdoc, "thingId"));
    char mid[37];
    registry__uuid(mid);
    json_object_set_new(p, "membershipId", json_string(mid));
    char op[16], topic[2 * REGISTRY_NAME_MAX + 96];
    lower(operation, op, sizeof(op));
    snprintf(topic, sizeof(topic), "$aws/events/thingGroupMembership/thingGroup/%s/thing/%s/%s",
             group, thing, op);
    push_event(reg, call, topic, "THING_GROUP_MEMBERSHIP_EVENT", operation, p);
    json_decref(tdoc);
    json_decref(gdoc);
    return 0;
}

/* A stored AWS timestamp (epoch seconds, JSON number) as event
 * milliseconds; null when absent. */
static json_t *event_ms(const json_t *seconds)
{
    if (!json_is_number(seconds))
        return json_null();
    return json_integer((json_int_t)(json_number_value(seconds) * 1000.0 + 0.5));
}

/* A string member, or JSON null. */
static json_t *string_or_null(const json_t *v)
{
    return json_is_string(v) ? json_incref((json_t *)v) : json_null();
}

int registry__event_thing_type(struct roost_registry *reg, struct roost_store_txn *txn,
                               struct roost_api_call *call, const char *operation,
                               const char *name)
{
    json_t *doc = NULL;
    int rc = event_doc(call, txn, "THING_TYPE", "thingtype", name, &doc, NULL);
    if (rc <= 0)
        return rc;
    const json_t *props = json_object_get(doc, "thingTypeProperties");
    const json_t *md = json_object_get(doc, "thingTypeMetadata");
    const json_t *searchable = json_object_get(props, "searchableAttributes");
    json_t *p = json_object();
    json_object_set(p, "thingTypeId", json_object_get(doc, "thingTypeId"));
    json_object_set_new(p, "thingTypeName", json_string(name));
    json_object_set_new(p, "isDeprecated", json_boolean(json_is_true(json_object_get(md,
                                                                                 "deprecated"))));
    json_object_set_new(p, "deprecationDate", event_ms(json_object_get(md, "deprecationDate")));
    json_object_set_new(p, "searchableAttributes",
                        json_is_array(searchable) ? json_deep_copy(searchable) : json_array());
    json_object_set_new(p, "description",
                        string_or_null(json_object_get(props, "thingTypeDescription")));
    push_named_event(reg, call, "$aws/events/thingType", name, "THING_TYPE_EVENT", operation, p);
    json_decref(doc);
    return 0;
}

int registry__event_type_association(struct roost_registry *reg, struct roost_store_txn *txn,
                                     struct roost_api_call *call, const char *operation,
                                     const char *thing, const char *type)
{
    json_t *doc = NULL;
    ROOST_UNUSED(reg);
    int rc = event_doc(call, txn, "THING_TYPE_ASSOCIATION", "thing", thing, &doc, NULL);
    if (rc <= 0)
        return rc;
    json_t *p = json_object();
    json_object_set(p, "thingId", json_object_get(doc, "thingId"));
    json_object_set_new(p, "thingName", json_string(thing));
    json_object_set_new(p, "thingTypeName", json_string(type));
    char topic[2 * REGISTRY_NAME_MAX + 64];
    /* The guide's topic has no operation level: CREATED and DELETED share it. */
    snprintf(topic, sizeof(topic), "$aws/events/thingTypeAssociation/thing/%s/%s", thing, type);
    push_event_plain(call, topic, "THING_TYPE_ASSOCIATION_EVENT", operation, p);
    json_decref(doc);
    return 0;
}

/* rootToParentThingGroups: {groupArn, groupId} from the root down to the
 * group's parent, or null for a root group. */
static json_t *group_chain(struct roost_api_call *call, struct roost_store_txn *txn,
                           const char *parent)
{
    if (!parent)
        return json_null();
    json_t *chain = json_array();
    char cur[REGISTRY_NAME_MAX + 1];
    snprintf(cur, sizeof(cur), "%s", parent);
    /* A corrupt store could hold a cycle: stop after a bound. */
    for (int depth = 0; cur[0] && depth < 64; depth++) {
        json_t *g = NULL;
        if (registry__doc_load(call, txn, "thinggroup", cur, &g, NULL) != 0)
            break;
        json_array_insert_new(chain, 0,
                              json_pack("{s:O?,s:O?}", "groupArn",
                                        json_object_get(g, "thingGroupArn"), "groupId",
                                        json_object_get(g, "thingGroupId")));
        const char *up = json_string_value(
            json_object_get(json_object_get(g, "thingGroupMetadata"), "parentGroupName"));
        snprintf(cur, sizeof(cur), "%s", up ? up : "");
        json_decref(g);
    }
    return chain;
}

int registry__event_thing_group(struct roost_registry *reg, struct roost_store_txn *txn,
                                struct roost_api_call *call, const char *operation,
                                const char *name)
{
    json_t *doc = NULL, *parent_doc = NULL;
    int64_t version = 0;
    int rc = event_doc(call, txn, "THING_GROUP", "thinggroup", name, &doc, &version);
    if (rc <= 0)
        return rc;
    const json_t *props = json_object_get(doc, "thingGroupProperties");
    const char *parent = json_string_value(
        json_object_get(json_object_get(doc, "thingGroupMetadata"), "parentGroupName"));
    if (parent && registry__doc_load(call, txn, "thinggroup", parent, &parent_doc, NULL) != 0)
        parent_doc = NULL;
    json_t *attrs = json_object_get(json_object_get(props, "attributePayload"), "attributes");
    json_t *p = json_object();
    json_object_set(p, "thingGroupId", json_object_get(doc, "thingGroupId"));
    json_object_set_new(p, "thingGroupName", json_string(name));
    json_object_set_new(p, "versionNumber", json_integer(version));
    json_object_set_new(p, "parentGroupName", parent ? json_string(parent) : json_null());
    json_object_set_new(p, "parentGroupId",
                        string_or_null(json_object_get(parent_doc, "thingGroupId")));
    json_object_set_new(p, "description",
                        string_or_null(json_object_get(props, "thingGroupDescription")));
    json_object_set_new(p, "rootToParentThingGroups", group_chain(call, txn, parent));
    json_object_set_new(p, "attributes", json_is_object(attrs) ? json_deep_copy(attrs)
                                                               : json_object());
    json_object_set_new(p, "dynamicGroupMappingId", json_null()); /* static groups only */
    push_named_event(reg, call, "$aws/events/thingGroup", name, "THING_GROUP_EVENT", operation, p);
    json_decref(doc);
    json_decref(parent_doc);
    return 0;
}

int registry__event_hierarchy(struct roost_registry *reg, struct roost_store_txn *txn,
                              struct roost_api_call *call, const char *operation,
                              const char *parent, const char *child)
{
    json_t *pdoc = NULL, *cdoc = NULL;
    int rc = event_docs(call, txn, "THING_GROUP_HIERARCHY", "thinggroup", parent, &pdoc,
                        "thinggroup", child, &cdoc);
    if (rc <= 0)
        return rc; /* callers checked both exist; nothing to report otherwise */
    json_t *p = json_object();
    json_object_set(p, "thingGroupId", json_object_get(pdoc, "thingGroupId"));
    json_object_set_new(p, "thingGroupName", json_string(parent));
    json_object_set(p, "childGroupId", json_object_get(cdoc, "thingGroupId"));
    json_object_set_new(p, "childGroupName", json_string(child));
    char op[16], topic[2 * REGISTRY_NAME_MAX + 96];
    lower(operation, op, sizeof(op));
    snprintf(topic, sizeof(topic),
             "$aws/events/thingGroupHierarchy/thingGroup/%s/childThingGroup/%s/%s", parent, child,
             op);
    push_event(reg, call, topic, "THING_GROUP_HIERARCHY_EVENT", operation, p);
    json_decref(pdoc);
    json_decref(cdoc);
    return 0;
}

/* ---- Roost's own events: POLICY, CERTIFICATE, CA_CERTIFICATE ---- */

int registry__event_policy(struct roost_registry *reg, struct roost_store_txn *txn,
                           struct roost_api_call *call, const char *operation, const char *name,
                           const char *version_id, bool is_default)
{
    json_t *doc = NULL;
    int rc = event_doc(call, txn, "POLICY", "policy", name, &doc, NULL);
    if (rc <= 0)
        return rc;
    json_t *p = json_object();
    json_object_set_new(p, "policyName", json_string(name));
    json_object_set_new(p, "policyArn", string_or_null(json_object_get(doc, "policyArn")));
    json_object_set_new(p, "defaultVersionId",
                        string_or_null(json_object_get(doc, "defaultVersionId")));
    if (version_id) {
        json_object_set_new(p, "policyVersionId", json_string(version_id));
        json_object_set_new(p, "isDefaultVersion", json_boolean(is_default));
    }
    push_named_event(reg, call, "$aws/events/policy", name, "POLICY_EVENT", operation, p);
    json_decref(doc);
    return 0;
}

int registry__event_policy_target(struct roost_registry *reg, struct roost_store_txn *txn,
                                  struct roost_api_call *call, const char *operation,
                                  const char *name, const char *target_kind,
                                  const char *target_name)
{
    json_t *doc = NULL;
    char target[REGISTRY_ARN_MAX];
    int rc = event_doc(call, txn, "POLICY", "policy", name, &doc, NULL);
    if (rc <= 0)
        return rc;
    /* The canonical ARN, not the one the caller typed (any region). */
    if (strcmp(target_kind, "anonymous") == 0) {
        snprintf(target, sizeof(target), "%s", "anonymous");
    } else if (roost_registry_arn(reg, target_kind, target_name, target, sizeof(target)) != 0) {
        json_decref(doc);
        return registry__store_fail(call, ROOST_EINVAL, "policy target arn");
    }
    json_t *p = json_object();
    json_object_set_new(p, "policyName", json_string(name));
    json_object_set_new(p, "policyArn", string_or_null(json_object_get(doc, "policyArn")));
    json_object_set_new(p, "defaultVersionId",
                        string_or_null(json_object_get(doc, "defaultVersionId")));
    json_object_set_new(p, "target", json_string(target));
    push_named_event(reg, call, "$aws/events/policy", name, "POLICY_EVENT", operation, p);
    json_decref(doc);
    return 0;
}

int registry__event_cert(struct roost_registry *reg, struct roost_store_txn *txn,
                         struct roost_api_call *call, const char *operation, const char *id,
                         const char *previous_status)
{
    json_t *doc = NULL;
    int rc = event_doc(call, txn, "CERTIFICATE", "cert", id, &doc, NULL);
    if (rc <= 0)
        return rc;
    json_t *p = json_object();
    json_object_set_new(p, "certificateId", json_string(id));
    json_object_set_new(p, "certificateArn",
                        string_or_null(json_object_get(doc, "certificateArn")));
    json_object_set_new(p, "status", string_or_null(json_object_get(doc, "status")));
    if (previous_status)
        json_object_set_new(p, "previousStatus", json_string(previous_status));
    json_object_set_new(p, "caCertificateId",
                        string_or_null(json_object_get(doc, "caCertificateId")));
    json_object_set_new(p, "certificateMode",
                        string_or_null(json_object_get(doc, "certificateMode")));
    push_named_event(reg, call, "$aws/events/certificate", id, "CERTIFICATE_EVENT", operation, p);
    json_decref(doc);
    return 0;
}

int registry__event_ca_cert(struct roost_registry *reg, struct roost_store_txn *txn,
                            struct roost_api_call *call, const char *operation, const char *id)
{
    json_t *doc = NULL;
    int rc = event_doc(call, txn, "CA_CERTIFICATE", "cacert", id, &doc, NULL);
    if (rc <= 0)
        return rc;
    json_t *p = json_object();
    json_object_set_new(p, "caCertificateId", json_string(id));
    json_object_set_new(p, "certificateArn",
                        string_or_null(json_object_get(doc, "certificateArn")));
    json_object_set_new(p, "status", string_or_null(json_object_get(doc, "status")));
    json_object_set_new(p, "autoRegistrationStatus",
                        string_or_null(json_object_get(doc, "autoRegistrationStatus")));
    json_object_set_new(p, "certificateMode",
                        string_or_null(json_object_get(doc, "certificateMode")));
    push_named_event(reg, call, "$aws/events/caCertificate", id, "CA_CERTIFICATE_EVENT", operation, p);
    json_decref(doc);
    return 0;
}
