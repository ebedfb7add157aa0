/*
 * ops_events.c - AWS IoT registry events: UpdateEventConfigurations and
 * DescribeEventConfigurations (the account's switches, one registry
 * document "eventconfig"/"current"), and the events themselves, built
 * inside the operation's transaction into the call's effects so that
 * roostd publishes them only after the change committed (a rolled-back
 * call drops them, registry.c). Events are off until enabled, as on AWS.
 *
 * Emitted so far: THING (created/updated/deleted) and
 * THING_GROUP_MEMBERSHIP (added/removed). The other types are accepted and
 * stored so clients can switch them, but publish nothing yet.
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

/* Adds the common members (eventType, eventId, timestamp in ms, operation,
 * accountId), serializes and queues the event. Takes `payload`. */
static void push_event(struct roost_registry *reg, struct roost_api_call *call,
                       const char *topic, const char *event_type, const char *operation,
                       json_t *payload)
{
    struct roost_registry_effects *fx = &call->effects;
    char id[37];
    registry__uuid(id);
    json_object_set_new(payload, "eventType", json_string(event_type));
    json_object_set_new(payload, "eventId", json_string(id));
    json_object_set_new(payload, "timestamp", json_integer((json_int_t)call->now_ms));
    json_object_set_new(payload, "operation", json_string(operation));
    json_object_set_new(payload, "accountId", json_string(reg->account_id));
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

/* "CREATED" -> "created" for the topic's last level. */
static void lower(const char *s, char *out, size_t cap)
{
    size_t i = 0;
    for (; s[i] && i + 1 < cap; i++)
        out[i] = (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] - 'A' + 'a' : s[i]);
    out[i] = '\0';
}

int registry__event_thing(struct roost_registry *reg, struct roost_store_txn *txn,
                          struct roost_api_call *call, const char *operation, const char *name)
{
    bool on = false;
    json_t *doc = NULL;
    int64_t version = 0;
    int rc = enabled(call, txn, "THING", &on);
    if (rc || !on)
        return rc;
    rc = registry__doc_load(call, txn, "thing", name, &doc, &version);
    if (rc == ROOST_ENOTFOUND)
        return 0; /* nothing to report (a delete of a missing thing) */
    if (rc)
        return rc;
    json_t *p = json_object();
    json_object_set(p, "thingId", json_object_get(doc, "thingId"));
    json_object_set_new(p, "thingName", json_string(name));
    json_object_set_new(p, "versionNumber", json_integer(version));
    json_t *type = json_object_get(doc, "thingTypeName");
    json_object_set_new(p, "thingTypeName", type ? json_incref(type) : json_null());
    json_t *attrs = json_object_get(doc, "attributes");
    json_object_set_new(p, "attributes", attrs ? json_incref(attrs) : json_object());
    char op[16], topic[REGISTRY_NAME_MAX + 64];
    lower(operation, op, sizeof(op));
    snprintf(topic, sizeof(topic), "$aws/events/thing/%s/%s", name, op);
    push_event(reg, call, topic, "THING_EVENT", operation, p);
    json_decref(doc);
    return 0;
}

int registry__event_membership(struct roost_registry *reg, struct roost_store_txn *txn,
                               struct roost_api_call *call, const char *operation,
                               const char *thing, const char *group)
{
    bool on = false;
    json_t *tdoc = NULL, *gdoc = NULL;
    int rc = enabled(call, txn, "THING_GROUP_MEMBERSHIP", &on);
    if (rc || !on)
        return rc;
    rc = registry__doc_load(call, txn, "thing", thing, &tdoc, NULL);
    if (!rc)
        rc = registry__doc_load(call, txn, "thinggroup", group, &gdoc, NULL);
    if (rc == ROOST_ENOTFOUND) {
        rc = 0; /* callers checked both exist; nothing to report otherwise */
        goto out;
    }
    if (rc)
        goto out;
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
out:
    json_decref(tdoc);
    json_decref(gdoc);
    return rc;
}
