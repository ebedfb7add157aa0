/*
 * test_events.c - unit tests for registry events (ops_events.c): Update/
 * DescribeEventConfigurations (merge, unknown types and bad shapes refused),
 * THING, THING_TYPE, THING_GROUP (created/updated/deleted),
 * THING_TYPE_ASSOCIATION, THING_GROUP_MEMBERSHIP and THING_GROUP_HIERARCHY
 * events with AWS's topics and payloads in the call's effects, nothing when
 * disabled, and nothing left in the effects of a call that failed (rolled
 * back). Each request goes through roost_registry_route and
 * roost_registry_call inside a ROOST_STORE_TXN on a real store.
 */
#include "roost_test.h"
#include "registry/registry_int.h"

#include <stdio.h>

#define ACCOUNT "123456789012"
#define PENDING 12345

struct env {
    struct roost_store *st;
    struct roost_registry *reg;
};

static void record_rc(void *ud, int rc)
{
    *(int *)ud = rc;
}

struct api_req {
    struct roost_registry *reg;
    struct roost_api_call *call;
};

static int api_txn(struct roost_store_txn *txn, void *ud)
{
    struct api_req *r = ud;
    return roost_registry_call(r->reg, txn, r->call);
}

static struct env env_open(void)
{
    char path[600];
    struct env e = {0};
    snprintf(path, sizeof(path), "%s/roost.db", roost_test_tmpdir());
    REQUIRE_OK(roost_store_open(path, &e.st));
    struct roost_registry_config cfg = {
        .region = "us-east-1", .account_id = ACCOUNT, .endpoint_host = "localhost:8443",
        .ca_pem = "-----BEGIN CERTIFICATE-----\nOWN\n-----END CERTIFICATE-----\n"};
    REQUIRE_OK(roost_registry_create(&cfg, e.st, &e.reg));
    return e;
}

static void env_close(struct env *e)
{
    roost_registry_destroy(e->reg);
    roost_store_close(e->st);
}

/* Events of the last request: [[topic, payload object]...]. */
static json_t *last_events;
static char last_code[64];

/* One request; returns the HTTP status, *out (if set) gets the result. */
static int api(struct env *e, const char *method, const char *path, const char *body,
               json_t **out)
{
    struct roost_api_call call;
    memset(&call, 0, sizeof(call));
    bool known = false;
    json_decref(last_events);
    last_events = json_array();
    last_code[0] = '\0';
    if (out)
        *out = NULL;
    REQUIRE_OK(roost_registry_route(method, path, strlen(path), &call, &known));
    call.query = json_object();
    if (body) {
        call.body = json_loads(body, 0, NULL);
        REQUIRE(call.body);
        call.raw_body = body;
        call.raw_body_len = strlen(body);
    }
    call.now_ms = roost_wall_ms();
    call.request_id = "test";
    struct api_req r = {e->reg, &call};
    int rc = PENDING;
    struct roost_store_op *op = roost_xcalloc(1, sizeof(*op));
    op->type = ROOST_STORE_TXN;
    op->u.txn.fn = api_txn;
    op->u.txn.ud = &r;
    op->done = record_rc;
    op->done_ud = &rc;
    roost_store_submit(e->st, op);
    REQUIRE_OK(roost_store_sync(e->st));
    CHECK_EQ(rc == 0, call.status == 200);
    if (call.status != 200) {
        CHECK_EQ(call.effects.n_events, 0);
        snprintf(last_code, sizeof(last_code), "%s", call.error_code ? call.error_code : "");
    }
    for (size_t i = 0; i < call.effects.n_events; i++) {
        const struct roost_registry_event *ev = &call.effects.events[i];
        json_t *p = json_loadb(ev->payload, ev->payload_len, 0, NULL);
        REQUIRE(p);
        json_array_append_new(last_events, json_pack("[so]", ev->topic, p));
    }
    if (out && call.status == 200)
        *out = call.result ? json_incref(call.result) : json_object();
    int status = call.status;
    json_decref(call.query);
    json_decref(call.body);
    roost_api_call_cleanup(&call);
    return status;
}

static const char *ev_topic(size_t i)
{
    return json_string_value(json_array_get(json_array_get(last_events, i), 0));
}

static json_t *ev_body(size_t i)
{
    return json_array_get(json_array_get(last_events, i), 1);
}

static const char *ev_str(size_t i, const char *key)
{
    return json_string_value(json_object_get(ev_body(i), key));
}

ROOST_TEST(event_configurations_update_and_describe)
{
    struct env e = env_open();
    json_t *r = NULL;
    CHECK_EQ(api(&e, "GET", "/event-configurations", NULL, &r), 200);
    json_t *cfg = json_object_get(r, "eventConfigurations");
    CHECK_EQ(json_object_size(cfg), 11);
    CHECK(json_is_false(json_object_get(json_object_get(cfg, "THING"), "Enabled")));
    CHECK(json_object_get(r, "creationDate") == NULL);
    json_decref(r);

    CHECK_EQ(api(&e, "PATCH", "/event-configurations",
                 "{\"eventConfigurations\":{\"THING\":{\"Enabled\":true}}}", NULL),
             200);
    CHECK_EQ(api(&e, "PATCH", "/event-configurations",
                 "{\"eventConfigurations\":{\"POLICY\":{\"Enabled\":true}}}", NULL),
             200);
    CHECK_EQ(api(&e, "GET", "/event-configurations", NULL, &r), 200);
    cfg = json_object_get(r, "eventConfigurations");
    CHECK(json_is_true(json_object_get(json_object_get(cfg, "THING"), "Enabled")));
    CHECK(json_is_true(json_object_get(json_object_get(cfg, "POLICY"), "Enabled")));
    CHECK(json_is_false(json_object_get(json_object_get(cfg, "JOB"), "Enabled")));
    CHECK(json_is_number(json_object_get(r, "creationDate")));
    CHECK(json_is_number(json_object_get(r, "lastModifiedDate")));
    json_decref(r);

    /* Refused, and nothing changes. */
    CHECK_EQ(api(&e, "PATCH", "/event-configurations",
                 "{\"eventConfigurations\":{\"THING\":{\"Enabled\":false},\"BOGUS\":{\"Enabled\":"
                 "true}}}",
                 NULL),
             400);
    CHECK_STR(last_code, "InvalidRequestException");
    CHECK_EQ(api(&e, "PATCH", "/event-configurations",
                 "{\"eventConfigurations\":{\"THING\":{\"Enabled\":\"yes\"}}}", NULL),
             400);
    CHECK_EQ(api(&e, "PATCH", "/event-configurations", "{\"eventConfigurations\":{\"THING\":1}}",
                 NULL),
             400);
    CHECK_EQ(api(&e, "PATCH", "/event-configurations", "{\"eventConfigurations\":[]}", NULL),
             400);
    CHECK_EQ(api(&e, "GET", "/event-configurations", NULL, &r), 200);
    cfg = json_object_get(r, "eventConfigurations");
    CHECK(json_is_true(json_object_get(json_object_get(cfg, "THING"), "Enabled")));
    json_decref(r);
    env_close(&e);
}

ROOST_TEST(thing_events_only_when_enabled)
{
    struct env e = env_open();
    CHECK_EQ(api(&e, "POST", "/things/before", NULL, NULL), 200);
    CHECK_EQ(json_array_size(last_events), 0);
    CHECK_EQ(api(&e, "PATCH", "/event-configurations",
                 "{\"eventConfigurations\":{\"THING\":{\"Enabled\":true}}}", NULL),
             200);
    CHECK_EQ(api(&e, "POST", "/thing-types/sensor", NULL, NULL), 200);
    CHECK_EQ(json_array_size(last_events), 0); /* THING_TYPE not enabled */

    json_t *r = NULL;
    CHECK_EQ(api(&e, "POST", "/things/dev1",
                 "{\"thingTypeName\":\"sensor\",\"attributePayload\":{\"attributes\":{\"a\":"
                 "\"1\"}}}",
                 &r),
             200);
    REQUIRE_EQ(json_array_size(last_events), 1);
    CHECK_STR(ev_topic(0), "$aws/events/thing/dev1/created");
    CHECK_STR(ev_str(0, "eventType"), "THING_EVENT");
    CHECK_STR(ev_str(0, "operation"), "CREATED");
    CHECK_STR(ev_str(0, "accountId"), ACCOUNT);
    CHECK_STR(ev_str(0, "thingName"), "dev1");
    CHECK_STR(ev_str(0, "thingId"), json_string_value(json_object_get(r, "thingId")));
    CHECK_STR(ev_str(0, "thingTypeName"), "sensor");
    CHECK_EQ(strlen(ev_str(0, "eventId")), 36);
    CHECK_EQ(json_integer_value(json_object_get(ev_body(0), "versionNumber")), 1);
    CHECK(json_integer_value(json_object_get(ev_body(0), "timestamp")) > 1600000000000LL);
    CHECK_STR(json_string_value(json_object_get(json_object_get(ev_body(0), "attributes"), "a")),
              "1");
    json_decref(r);

    /* Idempotent CreateThing: nothing was created. */
    CHECK_EQ(api(&e, "POST", "/things/before", NULL, NULL), 200);
    CHECK_EQ(json_array_size(last_events), 0);

    CHECK_EQ(api(&e, "PATCH", "/things/dev1",
                 "{\"removeThingType\":true,\"attributePayload\":{\"attributes\":{\"b\":\"2\"},"
                 "\"merge\":true}}",
                 NULL),
             200);
    REQUIRE_EQ(json_array_size(last_events), 1);
    CHECK_STR(ev_topic(0), "$aws/events/thing/dev1/updated");
    CHECK_STR(ev_str(0, "operation"), "UPDATED");
    CHECK(json_is_null(json_object_get(ev_body(0), "thingTypeName")));
    CHECK_EQ(json_integer_value(json_object_get(ev_body(0), "versionNumber")), 2);
    CHECK_EQ(json_object_size(json_object_get(ev_body(0), "attributes")), 2);

    /* A failed update (version conflict) rolls back: no event. */
    CHECK_EQ(api(&e, "PATCH", "/things/dev1", "{\"expectedVersion\":1}", NULL), 409);
    CHECK_EQ(json_array_size(last_events), 0);

    CHECK_EQ(api(&e, "DELETE", "/things/dev1", NULL, NULL), 200);
    REQUIRE_EQ(json_array_size(last_events), 1);
    CHECK_STR(ev_topic(0), "$aws/events/thing/dev1/deleted");
    CHECK_STR(ev_str(0, "operation"), "DELETED");
    CHECK_EQ(json_integer_value(json_object_get(ev_body(0), "versionNumber")), 2);
    /* Deleting a missing thing succeeds without an event. */
    CHECK_EQ(api(&e, "DELETE", "/things/dev1", NULL, NULL), 200);
    CHECK_EQ(json_array_size(last_events), 0);

    /* Switched off again. */
    CHECK_EQ(api(&e, "PATCH", "/event-configurations",
                 "{\"eventConfigurations\":{\"THING\":{\"Enabled\":false}}}", NULL),
             200);
    CHECK_EQ(api(&e, "POST", "/things/after", NULL, NULL), 200);
    CHECK_EQ(json_array_size(last_events), 0);
    env_close(&e);
}

ROOST_TEST(membership_events)
{
    struct env e = env_open();
    json_t *t = NULL, *g = NULL;
    CHECK_EQ(api(&e, "POST", "/things/dev", NULL, &t), 200);
    CHECK_EQ(api(&e, "POST", "/thing-groups/grp", NULL, &g), 200);
    CHECK_EQ(api(&e, "PUT", "/thing-groups/addThingToThingGroup",
                 "{\"thingName\":\"dev\",\"thingGroupName\":\"grp\"}", NULL),
             200);
    CHECK_EQ(json_array_size(last_events), 0);
    CHECK_EQ(api(&e, "PATCH", "/event-configurations",
                 "{\"eventConfigurations\":{\"THING_GROUP_MEMBERSHIP\":{\"Enabled\":true}}}",
                 NULL),
             200);
    CHECK_EQ(api(&e, "PUT", "/thing-groups/removeThingFromThingGroup",
                 "{\"thingName\":\"dev\",\"thingGroupName\":\"grp\"}", NULL),
             200);
    REQUIRE_EQ(json_array_size(last_events), 1);
    CHECK_STR(ev_topic(0), "$aws/events/thingGroupMembership/thingGroup/grp/thing/dev/removed");
    CHECK_STR(ev_str(0, "eventType"), "THING_GROUP_MEMBERSHIP_EVENT");
    CHECK_STR(ev_str(0, "operation"), "REMOVED");
    CHECK_STR(ev_str(0, "thingId"), json_string_value(json_object_get(t, "thingId")));
    CHECK_STR(ev_str(0, "thingArn"), json_string_value(json_object_get(t, "thingArn")));
    CHECK_STR(ev_str(0, "groupId"), json_string_value(json_object_get(g, "thingGroupId")));
    CHECK_STR(ev_str(0, "groupArn"), json_string_value(json_object_get(g, "thingGroupArn")));
    CHECK(ev_str(0, "membershipId") != NULL);

    CHECK_EQ(api(&e, "PUT", "/thing-groups/updateThingGroupsForThing",
                 "{\"thingName\":\"dev\",\"thingGroupsToAdd\":[\"grp\"]}", NULL),
             200);
    REQUIRE_EQ(json_array_size(last_events), 1);
    CHECK_STR(ev_topic(0), "$aws/events/thingGroupMembership/thingGroup/grp/thing/dev/added");
    CHECK_STR(ev_str(0, "operation"), "ADDED");
    /* Re-adding a member, or removing a non-member, changes nothing: no event. */
    CHECK_EQ(api(&e, "PUT", "/thing-groups/addThingToThingGroup",
                 "{\"thingName\":\"dev\",\"thingGroupName\":\"grp\"}", NULL),
             200);
    CHECK_EQ(json_array_size(last_events), 0);
    CHECK_EQ(api(&e, "POST", "/thing-groups/other", NULL, NULL), 200);
    CHECK_EQ(api(&e, "PUT", "/thing-groups/removeThingFromThingGroup",
                 "{\"thingName\":\"dev\",\"thingGroupName\":\"other\"}", NULL),
             200);
    CHECK_EQ(json_array_size(last_events), 0);
    /* A failing call (missing group) leaves no events. */
    CHECK_EQ(api(&e, "PUT", "/thing-groups/addThingToThingGroup",
                 "{\"thingName\":\"dev\",\"thingGroupName\":\"nope\"}", NULL),
             404);
    CHECK_EQ(json_array_size(last_events), 0);
    json_decref(t);
    json_decref(g);
    env_close(&e);
}

static json_int_t ev_int(size_t i, const char *key)
{
    return json_integer_value(json_object_get(ev_body(i), key));
}

ROOST_TEST(thing_type_and_association_events)
{
    struct env e = env_open();
    json_t *ty = NULL, *t = NULL;
    CHECK_EQ(api(&e, "PATCH", "/event-configurations",
                 "{\"eventConfigurations\":{\"THING_TYPE\":{\"Enabled\":true},"
                 "\"THING_TYPE_ASSOCIATION\":{\"Enabled\":true}}}",
                 NULL),
             200);
    CHECK_EQ(api(&e, "POST", "/thing-types/lamp",
                 "{\"thingTypeProperties\":{\"thingTypeDescription\":\"lamps\","
                 "\"searchableAttributes\":[\"watt\"]}}",
                 &ty),
             200);
    REQUIRE_EQ(json_array_size(last_events), 1);
    CHECK_STR(ev_topic(0), "$aws/events/thingType/lamp/created");
    CHECK_STR(ev_str(0, "eventType"), "THING_TYPE_EVENT");
    CHECK_STR(ev_str(0, "operation"), "CREATED");
    CHECK_STR(ev_str(0, "accountId"), ACCOUNT);
    CHECK_STR(ev_str(0, "thingTypeId"), json_string_value(json_object_get(ty, "thingTypeId")));
    CHECK_STR(ev_str(0, "thingTypeName"), "lamp");
    CHECK(json_is_false(json_object_get(ev_body(0), "isDeprecated")));
    CHECK(json_is_null(json_object_get(ev_body(0), "deprecationDate")));
    CHECK_STR(ev_str(0, "description"), "lamps");
    CHECK_STR(json_string_value(json_array_get(json_object_get(ev_body(0), "searchableAttributes"),
                                               0)),
              "watt");
    /* Idempotent re-create: nothing new. */
    CHECK_EQ(api(&e, "POST", "/thing-types/lamp",
                 "{\"thingTypeProperties\":{\"thingTypeDescription\":\"lamps\","
                 "\"searchableAttributes\":[\"watt\"]}}",
                 NULL),
             200);
    CHECK_EQ(json_array_size(last_events), 0);

    CHECK_EQ(api(&e, "POST", "/thing-types/fan", NULL, NULL), 200);
    CHECK(json_is_null(json_object_get(ev_body(0), "description")));
    CHECK_EQ(json_array_size(json_object_get(ev_body(0), "searchableAttributes")), 0);

    /* Association: created with a type, moved to another, type removed. */
    CHECK_EQ(api(&e, "POST", "/things/dev", "{\"thingTypeName\":\"lamp\"}", &t), 200);
    REQUIRE_EQ(json_array_size(last_events), 1); /* THING events are off */
    CHECK_STR(ev_topic(0), "$aws/events/thingTypeAssociation/thing/dev/lamp");
    CHECK_STR(ev_str(0, "eventType"), "THING_TYPE_ASSOCIATION_EVENT");
    CHECK_STR(ev_str(0, "operation"), "CREATED");
    CHECK_STR(ev_str(0, "thingId"), json_string_value(json_object_get(t, "thingId")));
    CHECK_STR(ev_str(0, "thingName"), "dev");
    CHECK_STR(ev_str(0, "thingTypeName"), "lamp");
    CHECK(json_object_get(ev_body(0), "accountId") == NULL); /* as the guide's example */
    CHECK_EQ(api(&e, "PATCH", "/things/dev", "{\"thingTypeName\":\"fan\"}", NULL), 200);
    REQUIRE_EQ(json_array_size(last_events), 2);
    CHECK_STR(ev_topic(0), "$aws/events/thingTypeAssociation/thing/dev/lamp");
    CHECK_STR(ev_str(0, "operation"), "DELETED");
    CHECK_STR(ev_topic(1), "$aws/events/thingTypeAssociation/thing/dev/fan");
    CHECK_STR(ev_str(1, "operation"), "CREATED");
    CHECK_EQ(api(&e, "PATCH", "/things/dev", "{\"thingTypeName\":\"fan\"}", NULL), 200);
    CHECK_EQ(json_array_size(last_events), 0); /* same type: no change */
    CHECK_EQ(api(&e, "PATCH", "/things/dev", "{\"removeThingType\":true}", NULL), 200);
    REQUIRE_EQ(json_array_size(last_events), 1);
    CHECK_STR(ev_topic(0), "$aws/events/thingTypeAssociation/thing/dev/fan");
    CHECK_STR(ev_str(0, "operation"), "DELETED");

    /* Deprecate and undo are updates; delete reports the last state. */
    CHECK_EQ(api(&e, "POST", "/thing-types/lamp/deprecate", "{}", NULL), 200);
    REQUIRE_EQ(json_array_size(last_events), 1);
    CHECK_STR(ev_topic(0), "$aws/events/thingType/lamp/updated");
    CHECK_STR(ev_str(0, "operation"), "UPDATED");
    CHECK(json_is_true(json_object_get(ev_body(0), "isDeprecated")));
    CHECK(ev_int(0, "deprecationDate") > 1600000000000LL);
    CHECK_EQ(api(&e, "POST", "/thing-types/lamp/deprecate", "{\"undoDeprecate\":true}", NULL),
             200);
    REQUIRE_EQ(json_array_size(last_events), 1);
    CHECK(json_is_false(json_object_get(ev_body(0), "isDeprecated")));
    CHECK(json_is_null(json_object_get(ev_body(0), "deprecationDate")));
    /* A refused delete (not deprecated) publishes nothing. */
    CHECK_EQ(api(&e, "DELETE", "/thing-types/lamp", NULL, NULL), 400);
    CHECK_EQ(json_array_size(last_events), 0);
    CHECK_EQ(api(&e, "POST", "/thing-types/lamp/deprecate", "{}", NULL), 200);
    CHECK_EQ(api(&e, "DELETE", "/thing-types/lamp", NULL, NULL), 200);
    REQUIRE_EQ(json_array_size(last_events), 1);
    CHECK_STR(ev_topic(0), "$aws/events/thingType/lamp/deleted");
    CHECK_STR(ev_str(0, "operation"), "DELETED");
    CHECK(json_is_true(json_object_get(ev_body(0), "isDeprecated")));
    json_decref(ty);
    json_decref(t);
    env_close(&e);
}

ROOST_TEST(thing_group_and_hierarchy_events)
{
    struct env e = env_open();
    json_t *root = NULL, *mid = NULL, *leaf = NULL;
    CHECK_EQ(api(&e, "POST", "/thing-groups/root", NULL, &root), 200);
    CHECK_EQ(json_array_size(last_events), 0);
    CHECK_EQ(api(&e, "PATCH", "/event-configurations",
                 "{\"eventConfigurations\":{\"THING_GROUP\":{\"Enabled\":true},"
                 "\"THING_GROUP_HIERARCHY\":{\"Enabled\":true}}}",
                 NULL),
             200);
    CHECK_EQ(api(&e, "POST", "/thing-groups/mid",
                 "{\"parentGroupName\":\"root\",\"thingGroupProperties\":{"
                 "\"thingGroupDescription\":\"floor\",\"attributePayload\":{\"attributes\":{"
                 "\"k\":\"v\"}}}}",
                 &mid),
             200);
    REQUIRE_EQ(json_array_size(last_events), 2);
    CHECK_STR(ev_topic(0), "$aws/events/thingGroup/mid/created");
    CHECK_STR(ev_str(0, "eventType"), "THING_GROUP_EVENT");
    CHECK_STR(ev_str(0, "operation"), "CREATED");
    CHECK_STR(ev_str(0, "accountId"), ACCOUNT);
    CHECK_STR(ev_str(0, "thingGroupId"), json_string_value(json_object_get(mid, "thingGroupId")));
    CHECK_STR(ev_str(0, "thingGroupName"), "mid");
    CHECK_EQ(ev_int(0, "versionNumber"), 1);
    CHECK_STR(ev_str(0, "parentGroupName"), "root");
    CHECK_STR(ev_str(0, "parentGroupId"), json_string_value(json_object_get(root, "thingGroupId")));
    CHECK_STR(ev_str(0, "description"), "floor");
    CHECK_STR(json_string_value(json_object_get(json_object_get(ev_body(0), "attributes"), "k")),
              "v");
    CHECK(json_is_null(json_object_get(ev_body(0), "dynamicGroupMappingId")));
    json_t *chain = json_object_get(ev_body(0), "rootToParentThingGroups");
    REQUIRE_EQ(json_array_size(chain), 1);
    CHECK_STR(json_string_value(json_object_get(json_array_get(chain, 0), "groupArn")),
              json_string_value(json_object_get(root, "thingGroupArn")));
    CHECK_STR(json_string_value(json_object_get(json_array_get(chain, 0), "groupId")),
              json_string_value(json_object_get(root, "thingGroupId")));
    CHECK_STR(ev_topic(1),
              "$aws/events/thingGroupHierarchy/thingGroup/root/childThingGroup/mid/added");
    CHECK_STR(ev_str(1, "eventType"), "THING_GROUP_HIERARCHY_EVENT");
    CHECK_STR(ev_str(1, "operation"), "ADDED");
    CHECK_STR(ev_str(1, "thingGroupName"), "root");
    CHECK_STR(ev_str(1, "thingGroupId"), json_string_value(json_object_get(root, "thingGroupId")));
    CHECK_STR(ev_str(1, "childGroupName"), "mid");
    CHECK_STR(ev_str(1, "childGroupId"), json_string_value(json_object_get(mid, "thingGroupId")));

    CHECK_EQ(api(&e, "POST", "/thing-groups/leaf", "{\"parentGroupName\":\"mid\"}", &leaf), 200);
    REQUIRE_EQ(json_array_size(last_events), 2);
    chain = json_object_get(ev_body(0), "rootToParentThingGroups");
    REQUIRE_EQ(json_array_size(chain), 2); /* root first */
    CHECK_STR(json_string_value(json_object_get(json_array_get(chain, 0), "groupId")),
              json_string_value(json_object_get(root, "thingGroupId")));
    CHECK_STR(json_string_value(json_object_get(json_array_get(chain, 1), "groupId")),
              json_string_value(json_object_get(mid, "thingGroupId")));
    CHECK(json_is_null(json_object_get(ev_body(0), "description")));

    /* A root group: no parent, null chain. */
    CHECK_EQ(api(&e, "POST", "/thing-groups/solo", NULL, NULL), 200);
    REQUIRE_EQ(json_array_size(last_events), 1);
    CHECK(json_is_null(json_object_get(ev_body(0), "parentGroupName")));
    CHECK(json_is_null(json_object_get(ev_body(0), "parentGroupId")));
    CHECK(json_is_null(json_object_get(ev_body(0), "rootToParentThingGroups")));

    CHECK_EQ(api(&e, "PATCH", "/thing-groups/leaf",
                 "{\"thingGroupProperties\":{\"thingGroupDescription\":\"d\"}}", NULL),
             200);
    REQUIRE_EQ(json_array_size(last_events), 1);
    CHECK_STR(ev_topic(0), "$aws/events/thingGroup/leaf/updated");
    CHECK_STR(ev_str(0, "operation"), "UPDATED");
    CHECK_EQ(ev_int(0, "versionNumber"), 2);
    CHECK_STR(ev_str(0, "description"), "d");
    /* Refused: a version conflict, and deleting a group with children. */
    CHECK_EQ(api(&e, "PATCH", "/thing-groups/leaf",
                 "{\"expectedVersion\":1,\"thingGroupProperties\":{}}", NULL),
             409);
    CHECK_EQ(json_array_size(last_events), 0);
    CHECK_EQ(api(&e, "DELETE", "/thing-groups/mid", NULL, NULL), 400);
    CHECK_EQ(json_array_size(last_events), 0);

    CHECK_EQ(api(&e, "DELETE", "/thing-groups/leaf", NULL, NULL), 200);
    REQUIRE_EQ(json_array_size(last_events), 2);
    CHECK_STR(ev_topic(0),
              "$aws/events/thingGroupHierarchy/thingGroup/mid/childThingGroup/leaf/removed");
    CHECK_STR(ev_str(0, "operation"), "REMOVED");
    CHECK_STR(ev_str(0, "childGroupId"), json_string_value(json_object_get(leaf, "thingGroupId")));
    CHECK_STR(ev_topic(1), "$aws/events/thingGroup/leaf/deleted");
    CHECK_STR(ev_str(1, "operation"), "DELETED");
    CHECK_EQ(ev_int(1, "versionNumber"), 2);
    /* Deleting a missing group: success, nothing to report. */
    CHECK_EQ(api(&e, "DELETE", "/thing-groups/leaf", NULL, NULL), 200);
    CHECK_EQ(json_array_size(last_events), 0);
    json_decref(root);
    json_decref(mid);
    json_decref(leaf);
    json_decref(last_events);
    last_events = NULL;
    env_close(&e);
}
