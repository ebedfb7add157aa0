/*
 * test_events.c - unit tests for registry events (ops_events.c): Update/
 * DescribeEventConfigurations (merge, unknown types and bad shapes refused),
 * THING, THING_TYPE, THING_GROUP (created/updated/deleted),
 * THING_TYPE_ASSOCIATION, THING_GROUP_MEMBERSHIP and THING_GROUP_HIERARCHY
 * events with AWS's topics and payloads in the call's effects, Roost's own
 * POLICY, CERTIFICATE and CA_CERTIFICATE events (including certificates
 * made by JITR, JITP and fleet provisioning), nothing when disabled, and
 * nothing left in the effects of a call that failed (rolled back). Each
 * request goes through roost_registry_route and roost_registry_call (or a
 * provisioning entry point) inside a ROOST_STORE_TXN on a real store.
 */
#include "roost_test.h"
#include "registry/registry_int.h"

#include <stdio.h>

#define ACCOUNT "123456789012"
#define PENDING 12345

struct env {
    struct roost_store *st;
    struct roost_registry *reg;
    struct roost_pki_ca *ca; /* env_open_pki only */
};

static void record_rc(void *ud, int rc)
{
    *(int *)ud = rc;
}

/* What a request runs in its transaction: an API operation, or one of the
 * registry's provisioning entry points (JITR/JITP, fleet certificates). */
enum req_kind { REQ_API, REQ_AUTO_REGISTER, REQ_FLEET_CREATE, REQ_FLEET_PURGE };

struct api_req {
    struct roost_registry *reg;
    struct roost_api_call *call;
    enum req_kind kind;
    const char *pem;   /* REQ_AUTO_REGISTER: the device certificate */
    const char *ca_id; /* REQ_AUTO_REGISTER */
    bool apply;        /* REQ_AUTO_REGISTER: run the CA's JITP template */
};

static int api_txn(struct roost_store_txn *txn, void *ud)
{
    struct api_req *r = ud;
    switch (r->kind) {
    case REQ_AUTO_REGISTER:
        return roost_registry_auto_register(r->reg, txn, (const uint8_t *)r->pem, strlen(r->pem),
                                            r->ca_id, r->apply, r->call);
    case REQ_FLEET_CREATE:
        return roost_registry_fleet_create_certificate(r->reg, txn, NULL, r->call);
    case REQ_FLEET_PURGE:
        return roost_registry_fleet_purge(r->reg, txn, r->call);
    case REQ_API:
        break;
    }
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

/* With a real certificate authority (a bootstrapped Roost PKI), for the
 * certificate operations. */
static struct env env_open_pki(void)
{
    char path[600], cert[700], key[700];
    struct env e = {0};
    bool created = false;
    snprintf(path, sizeof(path), "%s/roost.db", roost_test_tmpdir());
    REQUIRE_OK(roost_store_open(path, &e.st));
    snprintf(path, sizeof(path), "%s/pki", roost_test_tmpdir());
    REQUIRE_OK(roost_pki_bootstrap(path, NULL, 0, &created));
    snprintf(cert, sizeof(cert), "%s/%s", path, ROOST_PKI_ROOT_CERT);
    snprintf(key, sizeof(key), "%s/%s", path, ROOST_PKI_ROOT_KEY);
    REQUIRE_OK(roost_pki_ca_load(cert, key, &e.ca));
    struct roost_registry_config cfg = {.region = "us-east-1",
                                        .account_id = ACCOUNT,
                                        .endpoint_host = "localhost:8443",
                                        .ca = e.ca,
                                        .ca_pem = roost_pki_ca_pem(e.ca)};
    REQUIRE_OK(roost_registry_create(&cfg, e.st, &e.reg));
    return e;
}

static void env_close(struct env *e)
{
    roost_registry_destroy(e->reg);
    roost_store_close(e->st);
    roost_pki_ca_free(e->ca);
}

/* Events of the last request: [[topic, payload object]...]. */
static json_t *last_events;
static char last_code[64];

/* "a=1&b=2" as the call's query object (no escapes needed in these tests). */
static json_t *query_object(const char *query)
{
    json_t *q = json_object();
    char buf[512];
    snprintf(buf, sizeof(buf), "%s", query ? query : "");
    for (char *save = NULL, *kv = strtok_r(buf, "&", &save); kv; kv = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(kv, '=');
        if (eq)
            *eq = '\0';
        json_object_set_new(q, kv, json_string(eq ? eq + 1 : ""));
    }
    return q;
}

static int run_req(struct env *e, struct api_req *r, json_t **out);

/* One request with query string `query` (or NULL); returns the HTTP
 * status, *out (if set) gets the result. */
static int api_q(struct env *e, const char *method, const char *path, const char *query,
                 const char *body, json_t **out)
{
    struct roost_api_call call;
    memset(&call, 0, sizeof(call));
    bool known = false;
    REQUIRE_OK(roost_registry_route(method, path, strlen(path), &call, &known));
    call.query = query_object(query);
    if (body) {
        call.body = json_loads(body, 0, NULL);
        REQUIRE(call.body);
        call.raw_body = body;
        call.raw_body_len = strlen(body);
    }
    call.now_ms = roost_wall_ms();
    call.request_id = "test";
    struct api_req r = {e->reg, &call, REQ_API, NULL, NULL, false};
    return run_req(e, &r, out);
}

/* Runs `r` in a transaction; last_events and last_code get what it left in
 * its effects; returns the HTTP status and cleans the call up. */
static int run_req(struct env *e, struct api_req *r, json_t **out)
{
    struct roost_api_call *c = r->call;
    json_decref(last_events);
    last_events = json_array();
    last_code[0] = '\0';
    if (out)
        *out = NULL;
    int rc = PENDING;
    struct roost_store_op *op = roost_xcalloc(1, sizeof(*op));
    op->type = ROOST_STORE_TXN;
    op->u.txn.fn = api_txn;
    op->u.txn.ud = r;
    op->done = record_rc;
    op->done_ud = &rc;
    roost_store_submit(e->st, op);
    REQUIRE_OK(roost_store_sync(e->st));
    CHECK_EQ(rc == 0, c->status == 200);
    if (c->status != 200) {
        CHECK_EQ(c->effects.n_events, 0);
        snprintf(last_code, sizeof(last_code), "%s", c->error_code ? c->error_code : "");
    }
    for (size_t i = 0; i < c->effects.n_events; i++) {
        const struct roost_registry_event *ev = &c->effects.events[i];
        json_t *p = json_loadb(ev->payload, ev->payload_len, 0, NULL);
        REQUIRE(p);
        json_array_append_new(last_events, json_pack("[so]", ev->topic, p));
    }
    if (out && c->status == 200)
        *out = c->result ? json_incref(c->result) : json_object();
    int status = c->status;
    json_decref(c->query);
    json_decref(c->body);
    roost_api_call_cleanup(c);
    return status;
}

static int api(struct env *e, const char *method, const char *path, const char *body,
               json_t **out)
{
    return api_q(e, method, path, NULL, body, out);
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

/* The index of the event on `topic` in last_events, or -1. */
static int ev_find(const char *topic)
{
    for (size_t i = 0; i < json_array_size(last_events); i++)
        if (strcmp(ev_topic(i), topic) == 0)
            return (int)i;
    return -1;
}

static char *policy_body(const char *action)
{
    char doc[256];
    snprintf(doc, sizeof(doc),
             "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":"
             "\"%s\",\"Resource\":\"*\"}]}",
             action);
    json_t *b = json_pack("{s:s}", "policyDocument", doc);
    char *text = json_dumps(b, JSON_COMPACT);
    json_decref(b);
    return text;
}

ROOST_TEST(policy_events)
{
    struct env e = env_open();
    char *doc1 = policy_body("iot:Connect"), *doc2 = policy_body("iot:Publish");
    CHECK_EQ(api(&e, "POST", "/policies/quiet", doc1, NULL), 200);
    CHECK_EQ(json_array_size(last_events), 0); /* POLICY not enabled */
    CHECK_EQ(api(&e, "PATCH", "/event-configurations",
                 "{\"eventConfigurations\":{\"POLICY\":{\"Enabled\":true}}}", NULL),
             200);

    json_t *r = NULL;
    CHECK_EQ(api(&e, "POST", "/policies/pol", doc1, &r), 200);
    REQUIRE_EQ(json_array_size(last_events), 1);
    CHECK_STR(ev_topic(0), "$aws/events/policy/pol/created");
    CHECK_STR(ev_str(0, "eventType"), "POLICY_EVENT");
    CHECK_STR(ev_str(0, "operation"), "CREATED");
    CHECK_STR(ev_str(0, "accountId"), ACCOUNT);
    CHECK_EQ(strlen(ev_str(0, "eventId")), 36);
    CHECK(ev_int(0, "timestamp") > 1600000000000LL);
    CHECK_STR(ev_str(0, "policyName"), "pol");
    CHECK_STR(ev_str(0, "policyArn"), json_string_value(json_object_get(r, "policyArn")));
    CHECK_STR(ev_str(0, "defaultVersionId"), "1");
    CHECK(json_object_get(ev_body(0), "policyVersionId") == NULL);
    json_decref(r);
    /* Already exists: refused, nothing published. */
    CHECK_EQ(api(&e, "POST", "/policies/pol", doc1, NULL), 409);
    CHECK_EQ(json_array_size(last_events), 0);

    /* Versions: a new non-default one, made default, the old one deleted. */
    CHECK_EQ(api_q(&e, "POST", "/policies/pol/version", "setAsDefault=false", doc2, NULL), 200);
    REQUIRE_EQ(json_array_size(last_events), 1);
    CHECK_STR(ev_topic(0), "$aws/events/policy/pol/updated");
    CHECK_STR(ev_str(0, "operation"), "UPDATED");
    CHECK_STR(ev_str(0, "policyVersionId"), "2");
    CHECK(json_is_false(json_object_get(ev_body(0), "isDefaultVersion")));
    CHECK_STR(ev_str(0, "defaultVersionId"), "1");
    CHECK_EQ(api_q(&e, "POST", "/policies/pol/version", "setAsDefault=true", doc2, NULL), 200);
    REQUIRE_EQ(json_array_size(last_events), 1);
    CHECK_STR(ev_str(0, "policyVersionId"), "3");
    CHECK(json_is_true(json_object_get(ev_body(0), "isDefaultVersion")));
    CHECK_STR(ev_str(0, "defaultVersionId"), "3");
    CHECK_EQ(api(&e, "PATCH", "/policies/pol/version/2", NULL, NULL), 200);
    REQUIRE_EQ(json_array_size(last_events), 1);
    CHECK_STR(ev_topic(0), "$aws/events/policy/pol/updated");
    CHECK_STR(ev_str(0, "policyVersionId"), "2");
    CHECK(json_is_true(json_object_get(ev_body(0), "isDefaultVersion")));
    CHECK_STR(ev_str(0, "defaultVersionId"), "2");
    /* Already the default: nothing changes. */
    CHECK_EQ(api(&e, "PATCH", "/policies/pol/version/2", NULL, NULL), 200);
    CHECK_EQ(json_array_size(last_events), 0);
    CHECK_EQ(api(&e, "DELETE", "/policies/pol/version/1", NULL, NULL), 200);
    REQUIRE_EQ(json_array_size(last_events), 1);
    CHECK_STR(ev_str(0, "policyVersionId"), "1");
    CHECK(json_is_false(json_object_get(ev_body(0), "isDefaultVersion")));
    CHECK_STR(ev_str(0, "defaultVersionId"), "2");
    /* Refused: the default version, a missing one, a malformed document. */
    CHECK_EQ(api(&e, "DELETE", "/policies/pol/version/2", NULL, NULL), 409);
    CHECK_EQ(json_array_size(last_events), 0);
    CHECK_EQ(api(&e, "DELETE", "/policies/pol/version/1", NULL, NULL), 404);
    CHECK_EQ(json_array_size(last_events), 0);
    CHECK_EQ(api(&e, "POST", "/policies/pol/version", "{\"policyDocument\":\"{nope\"}", NULL),
             400);
    CHECK_EQ(json_array_size(last_events), 0);

    /* Attachments: to the anonymous principal and to a thing group whose
     * ARN is typed with another region (the event has the canonical one). */
    CHECK_EQ(api(&e, "POST", "/thing-groups/grp", NULL, &r), 200);
    CHECK_EQ(api(&e, "PUT", "/target-policies/pol", "{\"target\":\"anonymous\"}", NULL), 200);
    REQUIRE_EQ(json_array_size(last_events), 1);
    CHECK_STR(ev_topic(0), "$aws/events/policy/pol/attached");
    CHECK_STR(ev_str(0, "eventType"), "POLICY_EVENT");
    CHECK_STR(ev_str(0, "operation"), "ATTACHED");
    CHECK_STR(ev_str(0, "target"), "anonymous");
    CHECK_STR(ev_str(0, "policyName"), "pol");
    CHECK_STR(ev_str(0, "defaultVersionId"), "2");
    CHECK_EQ(api(&e, "PUT", "/target-policies/pol", "{\"target\":\"anonymous\"}", NULL), 200);
    CHECK_EQ(json_array_size(last_events), 0); /* attached already */
    CHECK_EQ(api(&e, "PUT", "/target-policies/pol",
                 "{\"target\":\"arn:aws:iot:eu-west-1:" ACCOUNT ":thinggroup/grp\"}", NULL),
             200);
    REQUIRE_EQ(json_array_size(last_events), 1);
    CHECK_STR(ev_str(0, "target"), json_string_value(json_object_get(r, "thingGroupArn")));
    CHECK_EQ(api(&e, "PUT", "/target-policies/pol",
                 "{\"target\":\"arn:aws:iot:us-east-1:" ACCOUNT ":thinggroup/none\"}", NULL),
             404);
    CHECK_EQ(json_array_size(last_events), 0);
    json_decref(r);
    /* Attached: the delete is refused and publishes nothing. */
    CHECK_EQ(api(&e, "DELETE", "/policies/pol", NULL, NULL), 409);
    CHECK_EQ(json_array_size(last_events), 0);
    CHECK_EQ(api(&e, "POST", "/target-policies/pol", "{\"target\":\"anonymous\"}", NULL), 200);
    REQUIRE_EQ(json_array_size(last_events), 1);
    CHECK_STR(ev_topic(0), "$aws/events/policy/pol/detached");
    CHECK_STR(ev_str(0, "operation"), "DETACHED");
    CHECK_STR(ev_str(0, "target"), "anonymous");
    CHECK_EQ(api(&e, "POST", "/target-policies/pol", "{\"target\":\"anonymous\"}", NULL), 200);
    CHECK_EQ(json_array_size(last_events), 0); /* not attached: nothing changed */
    CHECK_EQ(api(&e, "POST", "/target-policies/pol",
                 "{\"target\":\"arn:aws:iot:us-east-1:" ACCOUNT ":thinggroup/grp\"}", NULL),
             200);
    REQUIRE_EQ(json_array_size(last_events), 1);
    CHECK_STR(ev_str(0, "operation"), "DETACHED");

    /* Other versions block the delete. */
    CHECK_EQ(api(&e, "DELETE", "/policies/pol", NULL, NULL), 409);
    CHECK_EQ(json_array_size(last_events), 0);
    CHECK_EQ(api(&e, "DELETE", "/policies/pol/version/3", NULL, NULL), 200);
    REQUIRE_EQ(json_array_size(last_events), 1);
    CHECK_STR(ev_str(0, "policyVersionId"), "3");
    CHECK_EQ(api(&e, "DELETE", "/policies/pol", NULL, NULL), 200);
    REQUIRE_EQ(json_array_size(last_events), 1);
    CHECK_STR(ev_topic(0), "$aws/events/policy/pol/deleted");
    CHECK_STR(ev_str(0, "operation"), "DELETED");
    CHECK_STR(ev_str(0, "defaultVersionId"), "2");
    CHECK_EQ(api(&e, "DELETE", "/policies/pol", NULL, NULL), 404);
    CHECK_EQ(json_array_size(last_events), 0);

    CHECK_EQ(api(&e, "PATCH", "/event-configurations",
                 "{\"eventConfigurations\":{\"POLICY\":{\"Enabled\":false}}}", NULL),
             200);
    CHECK_EQ(api(&e, "DELETE", "/policies/quiet", NULL, NULL), 200);
    CHECK_EQ(json_array_size(last_events), 0);
    free(doc1);
    free(doc2);
    env_close(&e);
}

ROOST_TEST(certificate_events)
{
    struct env e = env_open_pki();
    json_t *r = NULL;
    CHECK_EQ(api_q(&e, "POST", "/keys-and-certificate", "setAsActive=true", NULL, NULL), 200);
    CHECK_EQ(json_array_size(last_events), 0); /* CERTIFICATE not enabled */
    CHECK_EQ(api(&e, "PATCH", "/event-configurations",
                 "{\"eventConfigurations\":{\"CERTIFICATE\":{\"Enabled\":true}}}", NULL),
             200);

    CHECK_EQ(api_q(&e, "POST", "/keys-and-certificate", "setAsActive=true", NULL, &r), 200);
    const char *id = json_string_value(json_object_get(r, "certificateId"));
    REQUIRE(id);
    char topic[200], path[200];
    snprintf(topic, sizeof(topic), "$aws/events/certificate/%s/created", id);
    REQUIRE_EQ(json_array_size(last_events), 1);
    CHECK_STR(ev_topic(0), topic);
    CHECK_STR(ev_str(0, "eventType"), "CERTIFICATE_EVENT");
    CHECK_STR(ev_str(0, "operation"), "CREATED");
    CHECK_STR(ev_str(0, "accountId"), ACCOUNT);
    CHECK_EQ(strlen(ev_str(0, "eventId")), 36);
    CHECK(ev_int(0, "timestamp") > 1600000000000LL);
    CHECK_STR(ev_str(0, "certificateId"), id);
    CHECK_STR(ev_str(0, "certificateArn"), json_string_value(json_object_get(r, "certificateArn")));
    CHECK_STR(ev_str(0, "status"), "ACTIVE");
    CHECK(json_is_null(json_object_get(ev_body(0), "caCertificateId")));
    CHECK_STR(ev_str(0, "certificateMode"), "DEFAULT");
    CHECK(json_object_get(ev_body(0), "previousStatus") == NULL);

    snprintf(path, sizeof(path), "/certificates/%s", id);
    snprintf(topic, sizeof(topic), "$aws/events/certificate/%s/updated", id);
    CHECK_EQ(api_q(&e, "PUT", path, "newStatus=INACTIVE", NULL, NULL), 200);
    REQUIRE_EQ(json_array_size(last_events), 1);
    CHECK_STR(ev_topic(0), topic);
    CHECK_STR(ev_str(0, "operation"), "UPDATED");
    CHECK_STR(ev_str(0, "status"), "INACTIVE");
    CHECK_STR(ev_str(0, "previousStatus"), "ACTIVE");
    CHECK_EQ(api_q(&e, "PUT", path, "newStatus=INACTIVE", NULL, NULL), 200);
    CHECK_EQ(json_array_size(last_events), 0); /* unchanged */
    CHECK_EQ(api_q(&e, "PUT", path, "newStatus=PENDING_TRANSFER", NULL, NULL), 400);
    CHECK_EQ(json_array_size(last_events), 0);
    CHECK_EQ(api_q(&e, "PUT", path, "newStatus=ACTIVE", NULL, NULL), 200);
    REQUIRE_EQ(json_array_size(last_events), 1);
    CHECK_STR(ev_str(0, "previousStatus"), "INACTIVE");
    /* Refused while ACTIVE. */
    CHECK_EQ(api(&e, "DELETE", path, NULL, NULL), 406);
    CHECK_EQ(json_array_size(last_events), 0);
    CHECK_EQ(api_q(&e, "PUT", path, "newStatus=REVOKED", NULL, NULL), 200);
    REQUIRE_EQ(json_array_size(last_events), 1);
    CHECK_STR(ev_str(0, "status"), "REVOKED");
    CHECK_STR(ev_str(0, "previousStatus"), "ACTIVE");
    CHECK_EQ(api_q(&e, "PUT", path, "newStatus=ACTIVE", NULL, NULL), 406); /* stays revoked */
    CHECK_EQ(json_array_size(last_events), 0);

    CHECK_EQ(api(&e, "DELETE", path, NULL, NULL), 200);
    snprintf(topic, sizeof(topic), "$aws/events/certificate/%s/deleted", id);
    REQUIRE_EQ(json_array_size(last_events), 1);
    CHECK_STR(ev_topic(0), topic);
    CHECK_STR(ev_str(0, "operation"), "DELETED");
    CHECK_STR(ev_str(0, "status"), "REVOKED");
    CHECK_EQ(api(&e, "DELETE", path, NULL, NULL), 404);
    CHECK_EQ(json_array_size(last_events), 0);
    json_decref(r);

    /* A forced delete takes the policy links along: one DETACHED each. */
    CHECK_EQ(api(&e, "PATCH", "/event-configurations",
                 "{\"eventConfigurations\":{\"POLICY\":{\"Enabled\":true}}}", NULL),
             200);
    char *doc = policy_body("iot:Connect");
    CHECK_EQ(api(&e, "POST", "/policies/devpol", doc, NULL), 200);
    free(doc);
    CHECK_EQ(api_q(&e, "POST", "/keys-and-certificate", "setAsActive=false", NULL, &r), 200);
    id = json_string_value(json_object_get(r, "certificateId"));
    const char *arn = json_string_value(json_object_get(r, "certificateArn"));
    REQUIRE(id && arn);
    char target[300];
    snprintf(target, sizeof(target), "{\"target\":\"%s\"}", arn);
    CHECK_EQ(api(&e, "PUT", "/target-policies/devpol", target, NULL), 200);
    REQUIRE_EQ(json_array_size(last_events), 1);
    CHECK_STR(ev_topic(0), "$aws/events/policy/devpol/attached");
    CHECK_STR(ev_str(0, "target"), arn);
    snprintf(path, sizeof(path), "/certificates/%s", id);
    CHECK_EQ(api(&e, "DELETE", path, NULL, NULL), 409); /* policies attached */
    CHECK_EQ(json_array_size(last_events), 0);
    CHECK_EQ(api_q(&e, "DELETE", path, "forceDelete=true", NULL, NULL), 200);
    REQUIRE_EQ(json_array_size(last_events), 2);
    snprintf(topic, sizeof(topic), "$aws/events/certificate/%s/deleted", id);
    CHECK_STR(ev_topic(0), topic);
    CHECK_STR(ev_topic(1), "$aws/events/policy/devpol/detached");
    CHECK_STR(ev_str(1, "operation"), "DETACHED");
    CHECK_STR(ev_str(1, "target"), arn);
    json_decref(r);

    /* Fleet provisioning's certificate, and the purge of it once its
     * ownership token expired unused. */
    struct roost_api_call call;
    memset(&call, 0, sizeof(call));
    struct api_req q = {e.reg, &call, REQ_FLEET_CREATE, NULL, NULL, false};
    CHECK_EQ(run_req(&e, &q, &r), 200);
    id = json_string_value(json_object_get(r, "certificateId"));
    REQUIRE(id);
    snprintf(topic, sizeof(topic), "$aws/events/certificate/%s/created", id);
    REQUIRE_EQ(json_array_size(last_events), 1);
    CHECK_STR(ev_topic(0), topic);
    CHECK_STR(ev_str(0, "status"), "PENDING_ACTIVATION");
    memset(&call, 0, sizeof(call));
    call.now_ms = roost_wall_ms() + 2 * 3600 * 1000;
    q.kind = REQ_FLEET_PURGE;
    CHECK_EQ(run_req(&e, &q, NULL), 200);
    snprintf(topic, sizeof(topic), "$aws/events/certificate/%s/deleted", id);
    REQUIRE_EQ(json_array_size(last_events), 1);
    CHECK_STR(ev_topic(0), topic);
    CHECK_STR(ev_str(0, "status"), "PENDING_ACTIVATION");
    json_decref(r);
    env_close(&e);
}

/* A JITP template that only activates the certificate. */
static const char JITP_BODY[] =
    "{\"Parameters\":{\"AWS::IoT::Certificate::Id\":{\"Type\":\"String\"}},"
    "\"Resources\":{\"certificate\":{\"Type\":\"AWS::IoT::Certificate\",\"Properties\":{"
    "\"CertificateId\":{\"Ref\":\"AWS::IoT::Certificate::Id\"},\"Status\":\"ACTIVE\"}}}}";

ROOST_TEST(ca_certificate_and_auto_registration_events)
{
    struct env e = env_open_pki();
    json_t *r = NULL;
    const char *ca_id = roost_pki_ca_id(e.ca);
    char topic[200], path[200];
    CHECK_EQ(api(&e, "PATCH", "/event-configurations",
                 "{\"eventConfigurations\":{\"CA_CERTIFICATE\":{\"Enabled\":true},"
                 "\"CERTIFICATE\":{\"Enabled\":true}}}",
                 NULL),
             200);
    json_t *b = json_pack("{s:s,s:s,s:{s:s,s:s}}", "caCertificate", roost_pki_ca_pem(e.ca),
                          "certificateMode", "SNI_ONLY", "registrationConfig", "templateBody",
                          JITP_BODY, "roleArn", "arn:aws:iam::" ACCOUNT ":role/JITPRole");
    char *body = json_dumps(b, JSON_COMPACT);
    json_decref(b);
    CHECK_EQ(api_q(&e, "POST", "/cacertificate", "setAsActive=true&allowAutoRegistration=true",
                   body, &r),
             200);
    snprintf(topic, sizeof(topic), "$aws/events/caCertificate/%s/created", ca_id);
    REQUIRE_EQ(json_array_size(last_events), 1);
    CHECK_STR(ev_topic(0), topic);
    CHECK_STR(ev_str(0, "eventType"), "CA_CERTIFICATE_EVENT");
    CHECK_STR(ev_str(0, "operation"), "CREATED");
    CHECK_STR(ev_str(0, "accountId"), ACCOUNT);
    CHECK_EQ(strlen(ev_str(0, "eventId")), 36);
    CHECK_STR(ev_str(0, "caCertificateId"), ca_id);
    CHECK_STR(ev_str(0, "certificateArn"), json_string_value(json_object_get(r, "certificateArn")));
    CHECK_STR(ev_str(0, "status"), "ACTIVE");
    CHECK_STR(ev_str(0, "autoRegistrationStatus"), "ENABLE");
    CHECK_STR(ev_str(0, "certificateMode"), "SNI_ONLY");
    json_decref(r);
    /* Registered already: refused, nothing published. */
    CHECK_EQ(api_q(&e, "POST", "/cacertificate", "setAsActive=true", body, NULL), 409);
    CHECK_EQ(json_array_size(last_events), 0);
    free(body);

    /* JITR: the device certificate is CREATED as PENDING_ACTIVATION under
     * the CA, next to AWS's own registered event. */
    struct roost_pki_issued dev = {0};
    REQUIRE_OK(roost_pki_issue_keypair(e.ca, "sensor-1", 10, 0, &dev));
    struct roost_api_call call;
    memset(&call, 0, sizeof(call));
    struct api_req q = {e.reg, &call, REQ_AUTO_REGISTER, dev.cert_pem, ca_id, false};
    CHECK_EQ(run_req(&e, &q, NULL), 200);
    snprintf(topic, sizeof(topic), "$aws/events/certificates/registered/%s", ca_id);
    CHECK(ev_find(topic) >= 0);
    snprintf(topic, sizeof(topic), "$aws/events/certificate/%s/created", dev.id);
    int i = ev_find(topic);
    REQUIRE(i >= 0);
    CHECK_STR(ev_str((size_t)i, "status"), "PENDING_ACTIVATION");
    CHECK_STR(ev_str((size_t)i, "caCertificateId"), ca_id);
    CHECK_STR(ev_str((size_t)i, "certificateMode"), "SNI_ONLY");
    /* JITP activates it: an UPDATED event from PENDING_ACTIVATION. */
    memset(&call, 0, sizeof(call));
    q.apply = true;
    CHECK_EQ(run_req(&e, &q, NULL), 200);
    snprintf(topic, sizeof(topic), "$aws/events/certificate/%s/created", dev.id);
    CHECK_EQ(ev_find(topic), -1);
    snprintf(topic, sizeof(topic), "$aws/events/certificate/%s/updated", dev.id);
    i = ev_find(topic);
    REQUIRE(i >= 0);
    CHECK_STR(ev_str((size_t)i, "status"), "ACTIVE");
    CHECK_STR(ev_str((size_t)i, "previousStatus"), "PENDING_ACTIVATION");
    roost_pki_issued_cleanup(&dev);

    snprintf(path, sizeof(path), "/cacertificate/%s", ca_id);
    snprintf(topic, sizeof(topic), "$aws/events/caCertificate/%s/updated", ca_id);
    CHECK_EQ(api_q(&e, "PUT", path, "newStatus=BOGUS", NULL, NULL), 400);
    CHECK_EQ(json_array_size(last_events), 0);
    CHECK_EQ(api(&e, "DELETE", path, NULL, NULL), 406); /* ACTIVE */
    CHECK_EQ(json_array_size(last_events), 0);
    CHECK_EQ(api_q(&e, "PUT", path, "newStatus=INACTIVE&newAutoRegistrationStatus=DISABLE", NULL,
                   NULL),
             200);
    REQUIRE_EQ(json_array_size(last_events), 1);
    CHECK_STR(ev_topic(0), topic);
    CHECK_STR(ev_str(0, "operation"), "UPDATED");
    CHECK_STR(ev_str(0, "status"), "INACTIVE");
    CHECK_STR(ev_str(0, "autoRegistrationStatus"), "DISABLE");
    CHECK_EQ(api(&e, "DELETE", path, NULL, NULL), 200);
    snprintf(topic, sizeof(topic), "$aws/events/caCertificate/%s/deleted", ca_id);
    REQUIRE_EQ(json_array_size(last_events), 1);
    CHECK_STR(ev_topic(0), topic);
    CHECK_STR(ev_str(0, "operation"), "DELETED");
    CHECK_STR(ev_str(0, "status"), "INACTIVE");

    /* Switched off: a new CA publishes nothing. */
    CHECK_EQ(api(&e, "PATCH", "/event-configurations",
                 "{\"eventConfigurations\":{\"CA_CERTIFICATE\":{\"Enabled\":false}}}", NULL),
             200);
    b = json_pack("{s:s,s:s}", "caCertificate", roost_pki_ca_pem(e.ca), "certificateMode",
                  "SNI_ONLY");
    body = json_dumps(b, JSON_COMPACT);
    json_decref(b);
    CHECK_EQ(api(&e, "POST", "/cacertificate", body, NULL), 200);
    CHECK_EQ(json_array_size(last_events), 0);
    free(body);
    json_decref(last_events);
    last_events = NULL;
    env_close(&e);
}
