/*
 * test_things.c - unit tests for the registry core and the thing registry:
 * routing over the operation table, the call's error and effects plumbing,
 * the caches (certificate status, attached things, trusted CAs), and every
 * operation of ops_things.c with its error paths. Each request goes through
 * roost_registry_route and roost_registry_call inside a ROOST_STORE_TXN on a
 * real store in a fresh directory, then through apply_effects, as the API
 * layer will do it.
 */
#include "roost_test.h"
#include "registry/registry_int.h"

#include <stdio.h>
#include <stdlib.h>

#define REGION "us-west-2"
#define ACCOUNT "123456789012"
#define OWN_CA "-----BEGIN CERTIFICATE-----\nOWN\n-----END CERTIFICATE-----\n"
#define CERT_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define CERT_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define ARN_PREFIX "arn:aws:iot:" REGION ":" ACCOUNT ":"
#define CERT_A_ARN ARN_PREFIX "cert/" CERT_A
#define CERT_B_ARN ARN_PREFIX "cert/" CERT_B
#define PENDING 12345

/* ==== Environment: a store, a registry, one request at a time ============ */

struct env {
    struct roost_store *st;
    struct roost_registry *reg;
};

static void record_rc(void *ud, int rc)
{
    *(int *)ud = rc;
}

static int run_txn(struct roost_store *st, roost_store_txn_fn fn, void *ud)
{
    int rc = PENDING;
    struct roost_store_op *op = roost_xcalloc(1, sizeof(*op));
    op->type = ROOST_STORE_TXN;
    op->u.txn.fn = fn;
    op->u.txn.ud = ud;
    op->done = record_rc;
    op->done_ud = &rc;
    roost_store_submit(st, op);
    REQUIRE_OK(roost_store_sync(st));
    return rc;
}

static struct roost_registry_config test_cfg(void)
{
    return (struct roost_registry_config){
        .region = REGION,
        .account_id = ACCOUNT,
        .endpoint_host = "localhost:8443",
        .ca_pem = OWN_CA,
    };
}

static struct env env_open(void)
{
    char path[600];
    struct env e = {0};
    snprintf(path, sizeof(path), "%s/roost.db", roost_test_tmpdir());
    REQUIRE_OK(roost_store_open(path, &e.st));
    struct roost_registry_config cfg = test_cfg();
    REQUIRE_OK(roost_registry_create(&cfg, e.st, &e.reg));
    return e;
}

static void env_close(struct env *e)
{
    roost_registry_destroy(e->reg);
    roost_store_close(e->st);
}

/* What the last request answered. */
static char last_code[64];
static char last_msg[512];
static json_t *last_extra;

struct api_req {
    struct roost_registry *reg;
    struct roost_api_call *call;
};

static int api_txn(struct roost_store_txn *txn, void *ud)
{
    struct api_req *r = ud;
    return roost_registry_call(r->reg, txn, r->call);
}

/*
 * One request: method, raw path, query (a JSON object of strings, headers
 * included, or NULL) and body (JSON text or NULL). Returns the HTTP status;
 * *out (if set) gets the result, which the caller releases.
 */
static int api(struct env *e, const char *method, const char *path, const char *query,
               const char *body, json_t **out)
{
    struct roost_api_call call;
    memset(&call, 0, sizeof(call));
    bool known = false;
    last_code[0] = last_msg[0] = '\0';
    json_decref(last_extra);
    last_extra = NULL;
    if (out)
        *out = NULL;
    int rc = roost_registry_route(method, path, strlen(path), &call, &known);
    if (rc) {
        snprintf(last_code, sizeof(last_code), "%s",
                 known ? "MethodNotAllowed" : "UnknownOperationException");
        return known ? 405 : 404;
    }
    call.query = query ? json_loads(query, 0, NULL) : json_object();
    REQUIRE(call.query);
    if (body) {
        call.body = json_loads(body, JSON_DECODE_ANY, NULL);
        REQUIRE(call.body);
        call.raw_body = body;
        call.raw_body_len = strlen(body);
    }
    call.now_ms = roost_wall_ms();
    call.request_id = "test";
    struct api_req req = {e->reg, &call};
    int txn_rc = run_txn(e->st, api_txn, &req);
    int status = call.status;
    if (status == 200) {
        CHECK_OK(txn_rc);
        roost_registry_apply_effects(e->reg, &call.effects);
        if (out)
            *out = call.result ? json_incref(call.result) : json_object();
    } else {
        CHECK(txn_rc != 0);
        CHECK(call.error_code != NULL);
        snprintf(last_code, sizeof(last_code), "%s", call.error_code ? call.error_code : "");
        snprintf(last_msg, sizeof(last_msg), "%s", call.error_message);
        last_extra = call.error_extra ? json_incref(call.error_extra) : NULL;
    }
    json_decref(call.query);
    json_decref(call.body);
    roost_api_call_cleanup(&call);
    return status;
}

/* Status of a request whose result is not needed. */
static int req(struct env *e, const char *method, const char *path, const char *query,
               const char *body)
{
    return api(e, method, path, query, body, NULL);
}

/* A member along a dotted path ("a.b.0.c"), or NULL. */
static json_t *jp(json_t *o, const char *path)
{
    const char *p = path;
    while (o && *p) {
        char tok[128];
        size_t n = strcspn(p, ".");
        snprintf(tok, sizeof(tok), "%.*s", (int)n, p);
        if (json_is_array(o))
            o = json_array_get(o, (size_t)strtoul(tok, NULL, 10));
        else
            o = json_object_get(o, tok);
        p += n;
        if (*p == '.')
            p++;
    }
    return o;
}

static const char *js(json_t *o, const char *path)
{
    return json_string_value(jp(o, path));
}

static long long ji(json_t *o, const char *path)
{
    return (long long)json_integer_value(jp(o, path));
}

/* Writes a raw document (certificates and CAs belong to ops_certs.c). */
struct put_doc {
    const char *kind, *name, *body;
};

static int put_doc_txn(struct roost_store_txn *txn, void *ud)
{
    const struct put_doc *p = ud;
    return roost_store_doc_put(txn, p->kind, p->name, p->body, -1, NULL);
}

static void put_doc(struct env *e, const char *kind, const char *name, const char *body)
{
    struct put_doc p = {kind, name, body};
    REQUIRE_OK(run_txn(e->st, put_doc_txn, &p));
}

static void put_cert(struct env *e, const char *id, const char *status)
{
    char body[256];
    snprintf(body, sizeof(body), "{\"certificateId\":\"%s\",\"status\":\"%s\"}", id, status);
    put_doc(e, "cert", id, body);
}

/* Collects every page of a list: names (or the `key` member of objects). */
static int list_all(struct env *e, const char *path, const char *extra_query,
                    const char *member, const char *key, size_t page, char *out, size_t cap)
{
    char token[600] = "";
    int pages = 0;
    out[0] = '\0';
    for (;;) {
        char query[1024];
        snprintf(query, sizeof(query), "{\"maxResults\":\"%zu\"%s%s%s%s%s}", page,
                 token[0] ? ",\"nextToken\":\"" : "", token, token[0] ? "\"" : "",
                 extra_query ? "," : "", extra_query ? extra_query : "");
        json_t *r = NULL;
        int st = api(e, "GET", path, query, NULL, &r);
        if (st != 200)
            return -st;
        pages++;
        json_t *items = json_object_get(r, member);
        REQUIRE(json_is_array(items));
        CHECK(json_array_size(items) <= page);
        size_t i;
        json_t *it;
        json_array_foreach(items, i, it) {
            const char *s = key ? js(it, key) : json_string_value(it);
            size_t n = strlen(out);
            snprintf(out + n, cap - n, "%s%s", n ? "," : "", s ? s : "?");
        }
        json_t *next = json_object_get(r, "nextToken");
        if (!next) {
            json_decref(r);
            break;
        }
        REQUIRE(json_is_string(next) && json_string_length(next) > 0);
        snprintf(token, sizeof(token), "%s", json_string_value(next));
        json_decref(r);
        REQUIRE(pages < 100);
    }
    return pages;
}

static bool is_uuid(const char *s)
{
    if (!s || strlen(s) != 36)
        return false;
    for (int i = 0; i < 36; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !strchr("0123456789abcdef", s[i]))
            return false;
    }
    return s[14] == '4';
}

/* ==== Routing ============================================================== */

struct route_case {
    const char *method, *path, *op, *l0, *l1;
};

ROOST_TEST(route_matches_every_kind_of_pattern)
{
    static const struct route_case cases[] = {
        {"POST", "/things/lamp-1", "CreateThing", "lamp-1", NULL},
        {"GET", "/things", "ListThings", NULL, NULL},
        {"GET", "/things?maxResults=3", "ListThings", NULL, NULL},
        {"GET", "/things/a%3Ab", "DescribeThing", "a:b", NULL},
        {"PATCH", "/things/t", "UpdateThing", "t", NULL},
        {"DELETE", "/things/t", "DeleteThing", "t", NULL},
        {"PUT", "/thing-groups/addThingToThingGroup", "AddThingToThingGroup", NULL, NULL},
        {"GET", "/thing-groups/addThingToThingGroup", "DescribeThingGroup",
         "addThingToThingGroup", NULL},
        {"GET", "/thing-groups/g/things", "ListThingsInThingGroup", "g", NULL},
        {"GET", "/things/t/thing-groups", "ListThingGroupsForThing", "t", NULL},
        {"PUT", "/things/t/principals", "AttachThingPrincipal", "t", NULL},
        {"GET", "/principals/things", "ListPrincipalThings", NULL, NULL},
        {"POST", "/thing-types/ty/deprecate", "DeprecateThingType", "ty", NULL},
        {"PUT", "/billing-groups/addThingToBillingGroup", "AddThingToBillingGroup", NULL, NULL},
        {"POST", "/keys-and-certificate", "CreateKeysAndCertificate", NULL, NULL},
        {"PUT", "/certificates/" CERT_A, "UpdateCertificate", CERT_A, NULL},
        {"GET", "/certificates-by-ca/" CERT_B, "ListCertificatesByCA", CERT_B, NULL},
        {"POST", "/cacertificate", "RegisterCACertificate", NULL, NULL},
        {"GET", "/registrationcode", "GetRegistrationCode", NULL, NULL},
        {"GET", "/endpoint", "DescribeEndpoint", NULL, NULL},
        {"PATCH", "/policies/p/version/2", "SetDefaultPolicyVersion", "p", "2"},
        {"GET", "/policies/p%40x/version", "ListPolicyVersions", "p@x", NULL},
        {"PUT", "/target-policies/p", "AttachPolicy", "p", NULL},
        {"POST", "/target-policies/p", "DetachPolicy", "p", NULL},
        /* botocore encodes the ARN; a raw '/' works too (greedy label). */
        {"POST", "/attached-policies/arn%3Aaws%3Aiot%3Aus-west-2%3A1%3Acert%2Fabc",
         "ListAttachedPolicies", "arn:aws:iot:us-west-2:1:cert/abc", NULL},
        {"POST", "/attached-policies/arn:aws:iot:r:1:cert/abc", "ListAttachedPolicies",
         "arn:aws:iot:r:1:cert/abc", NULL},
        {"GET", "/things/a+b", "DescribeThing", "a+b", NULL}, /* '+' stays '+' */
    };
    for (size_t i = 0; i < ROOST_ARRAY_LEN(cases); i++) {
        const struct route_case *c = &cases[i];
        struct roost_api_call call;
        memset(&call, 0, sizeof(call));
        bool known = false;
        int rc = roost_registry_route(c->method, c->path, strlen(c->path), &call, &known);
        if (rc) {
            roost_test_fail(__FILE__, __LINE__, "no route for %s %s", c->method, c->path);
            continue;
        }
        CHECK(known);
        CHECK_STR(call.op->name, c->op);
        if (c->l0)
            CHECK_STR(call.labels[0], c->l0);
        else
            CHECK(call.labels[0] == NULL);
        if (c->l1)
            CHECK_STR(call.labels[1], c->l1);
        roost_api_call_cleanup(&call);
        CHECK(call.labels[0] == NULL && call.op == NULL);
    }
}

ROOST_TEST(route_refuses_unknown_paths_and_methods)
{
    struct roost_api_call call;
    memset(&call, 0, sizeof(call));
    bool known = true;
    CHECK_EQ(roost_registry_route("GET", "/nothing", 8, &call, &known), ROOST_ENOTFOUND);
    CHECK(!known);
    CHECK_EQ(roost_registry_route("PUT", "/things/t", 9, &call, &known), ROOST_ENOTFOUND);
    CHECK(known); /* 405: the path exists with other methods */
    CHECK_EQ(roost_registry_route("GET", "/things/", 8, &call, &known), ROOST_ENOTFOUND);
    CHECK_EQ(roost_registry_route("GET", "/things/t/", 10, &call, &known), ROOST_ENOTFOUND);
    CHECK_EQ(roost_registry_route("GET", "/things/a/b", 11, &call, &known), ROOST_ENOTFOUND);
    CHECK_EQ(roost_registry_route("GET", "things", 6, &call, &known), ROOST_ENOTFOUND);
    CHECK_EQ(roost_registry_route("GET", "", 0, &call, &known), ROOST_ENOTFOUND);
    CHECK_EQ(roost_registry_route("GET", "/things/a%2", 11, &call, &known), ROOST_EMALFORMED);
    CHECK_EQ(roost_registry_route("GET", "/things/a%zz", 12, &call, &known), ROOST_EMALFORMED);
    CHECK_EQ(roost_registry_route("GET", "/things/a%00", 12, &call, &known), ROOST_EMALFORMED);
    CHECK(call.op == NULL);
    /* Only the given length counts. */
    CHECK_OK(roost_registry_route("GET", "/things/tXYZ", 9, &call, &known));
    CHECK_STR(call.labels[0], "t");
    roost_api_call_cleanup(&call);
}

ROOST_TEST(call_errors_and_effects_plumbing)
{
    struct roost_api_call call;
    memset(&call, 0, sizeof(call));
    call.result = json_object();
    CHECK_EQ(ROOST_API_NOT_FOUND(&call, "x %d", 1), ROOST_ENOTFOUND);
    CHECK_EQ(call.status, 404);
    CHECK_STR(call.error_code, "ResourceNotFoundException");
    CHECK_STR(call.error_message, "x 1");
    CHECK(call.result == NULL);
    CHECK_EQ(ROOST_API_INVALID(&call, "bad"), ROOST_EINVAL);
    CHECK_EQ(call.status, 400);
    CHECK_EQ(ROOST_API_EXISTS(&call, "dup"), ROOST_ECONFLICT);
    CHECK(roost_api_fail(&call, 406, "CertificateStateException", "s") != 0);
    CHECK(roost_api_fail(&call, 410, "LimitExceededException", "l") != 0);
    CHECK(roost_api_fail(&call, 500, "InternalFailureException", "i") != 0);

    roost_api_effects_cert(&call, CERT_A);
    roost_api_effects_cert(&call, CERT_B);
    roost_api_effects_cert(&call, CERT_A);
    roost_api_effects_cert(&call, "short");
    for (int i = 0; i < 10; i++) {
        char id[65];
        memset(id, 'c' + 0, 64);
        id[0] = (char)('0' + i);
        id[64] = '\0';
        roost_api_effects_cert(&call, id);
    }
    CHECK_EQ(call.effects.n_certs, 12);
    CHECK_STR(call.effects.certs[0], CERT_A);
    CHECK_STR(call.effects.certs[1], CERT_B);
    call.labels[0] = roost_xstrdup("owned");
    call.error_extra = json_object();
    roost_api_call_cleanup(&call);
    CHECK(call.effects.certs == NULL && call.effects.n_certs == 0);
    CHECK(call.error_extra == NULL && call.labels[0] == NULL);
    roost_api_call_cleanup(&call); /* twice is fine */
}

ROOST_TEST(call_refuses_non_object_bodies_and_arn_format)
{
    struct env e = env_open();
    CHECK_EQ(req(&e, "POST", "/things/t", NULL, "[1,2]"), 400);
    CHECK_STR(last_code, "InvalidRequestException");
    CHECK_EQ(req(&e, "POST", "/things/t", NULL, "\"x\""), 400);
    CHECK_EQ(req(&e, "GET", "/things/t", NULL, NULL), 404); /* nothing was created */

    char arn[128];
    CHECK_OK(roost_registry_arn(e.reg, "thing", "lamp", arn, sizeof(arn)));
    CHECK_STR(arn, "arn:aws:iot:us-west-2:123456789012:thing/lamp");
    CHECK_OK(roost_registry_arn(e.reg, "cert", CERT_A, arn, sizeof(arn)));
    CHECK_STR(arn, CERT_A_ARN);
    CHECK_EQ(roost_registry_arn(e.reg, "thing", "lamp", arn, 20), ROOST_ETOOBIG);

    char id[65];
    CHECK_OK(registry__cert_id_from_arn(CERT_A_ARN, id));
    CHECK_STR(id, CERT_A);
    CHECK_OK(registry__cert_id_from_arn("arn:aws-cn:iot:cn-north-1:1:cert/" CERT_B, id));
    CHECK_STR(id, CERT_B);
    static const char *const bad[] = {
        NULL,
        "",
        CERT_A,
        "arn:aws:iot:r:1:thing/" CERT_A,
        "arn:aws:s3:r:1:cert/" CERT_A,
        "arn:aws:iot:r:cert/" CERT_A,
        "arn:aws:iot:r:1:cert/" CERT_A "0",
        "arn:aws:iot:r:1:cert/" CERT_A "/x",
        "arn:aws:iot:r:1:cert/gggggggggggggggggggggggggggggggggggggggggggggggggggggggggggggggg",
        "urn:aws:iot:r:1:cert/" CERT_A,
    };
    for (size_t i = 0; i < ROOST_ARRAY_LEN(bad); i++)
        CHECK_EQ(registry__cert_id_from_arn(bad[i], id), ROOST_EINVAL);
    env_close(&e);

    struct roost_registry *reg = NULL;
    struct roost_registry_config cfg = test_cfg();
    cfg.account_id = NULL;
    CHECK_EQ(roost_registry_create(&cfg, NULL, &reg), ROOST_EINVAL);
    CHECK(reg == NULL);
    roost_registry_destroy(NULL);
}

/* ==== Caches =============================================================== */

struct link_req {
    const char *thing, *cert;
};

static int add_principal_link(struct roost_store_txn *txn, void *ud)
{
    const struct link_req *l = ud;
    struct roost_store_link link = {"principal", "thing", l->thing, "cert", l->cert};
    return roost_store_link_add(txn, &link);
}

ROOST_TEST(caches_load_at_create_and_follow_effects)
{
    struct env e = env_open();
    put_cert(&e, CERT_A, "ACTIVE");
    put_cert(&e, CERT_B, "REVOKED");
    put_doc(&e, "cacert", "c1",
            "{\"status\":\"ACTIVE\",\"certificatePem\":\"-----BEGIN CERTIFICATE-----\\nC1\\n"
            "-----END CERTIFICATE-----\"}");
    put_doc(&e, "cacert", "c2", "{\"status\":\"INACTIVE\",\"certificatePem\":\"C2\\n\"}");
    put_doc(&e, "cacert", "c0", "{\"status\":\"ACTIVE\",\"certificatePem\":\"C0\\n\"}");
    struct link_req l1 = {"lamp", CERT_A}, l2 = {"desk", CERT_A};
    REQUIRE_OK(run_txn(e.st, add_principal_link, &l1));
    REQUIRE_OK(run_txn(e.st, add_principal_link, &l2));
    /* A registry created now sees all of it. */
    roost_registry_destroy(e.reg);
    struct roost_registry_config cfg = test_cfg();
    REQUIRE_OK(roost_registry_create(&cfg, e.st, &e.reg));
    CHECK_EQ(roost_registry_cert_status(e.reg, CERT_A), ROOST_CERT_ACTIVE);
    CHECK_EQ(roost_registry_cert_status(e.reg, CERT_B), ROOST_CERT_REVOKED);
    CHECK_EQ(roost_registry_cert_status(e.reg, "nope"), ROOST_CERT_UNKNOWN);
    CHECK_EQ(roost_registry_cert_status(e.reg, NULL), ROOST_CERT_UNKNOWN);
    char names[4][129];
    CHECK_EQ(roost_registry_cert_things(e.reg, CERT_A, names, 4), 2);
    CHECK_STR(names[0], "desk");
    CHECK_STR(names[1], "lamp");
    CHECK_EQ(roost_registry_cert_things(e.reg, CERT_A, names, 1), 1);
    CHECK_EQ(roost_registry_cert_things(e.reg, CERT_B, names, 4), 0);
    char *pem = NULL;
    uint64_t gen = roost_registry_trusted_cas(e.reg, &pem);
    CHECK_STR(pem, OWN_CA "C0\n-----BEGIN CERTIFICATE-----\nC1\n-----END CERTIFICATE-----\n");
    roost_free(pem);

    /* Changes reach the caches through effects only. */
    put_cert(&e, CERT_A, "INACTIVE");
    put_doc(&e, "cacert", "c2", "{\"status\":\"ACTIVE\",\"certificatePem\":\"C2\\n\"}");
    CHECK_EQ(roost_registry_cert_status(e.reg, CERT_A), ROOST_CERT_ACTIVE);
    struct roost_api_call call;
    memset(&call, 0, sizeof(call));
    roost_api_effects_cert(&call, CERT_A);
    call.effects.cas_changed = true;
    roost_registry_apply_effects(e.reg, &call.effects);
    CHECK_EQ(roost_registry_cert_status(e.reg, CERT_A), ROOST_CERT_INACTIVE);
    uint64_t gen2 = roost_registry_trusted_cas(e.reg, &pem);
    CHECK(gen2 != gen);
    CHECK(strstr(pem, "C2\n") != NULL);
    roost_free(pem);
    /* Nothing changed: same generation. */
    roost_registry_apply_effects(e.reg, &call.effects);
    CHECK_EQ(roost_registry_trusted_cas(e.reg, NULL), gen2);
    roost_api_call_cleanup(&call);

    env_close(&e);
}

static int del_cert_txn(struct roost_store_txn *txn, void *ud)
{
    return roost_store_doc_del(txn, "cert", ud);
}

ROOST_TEST(cache_forgets_deleted_certificates)
{
    struct env e = env_open();
    put_cert(&e, CERT_A, "ACTIVE");
    CHECK_EQ(req(&e, "POST", "/things/lamp", NULL, NULL), 200);
    CHECK_EQ(req(&e, "PUT", "/things/lamp/principals", "{\"x-amzn-principal\":\"" CERT_A_ARN "\"}",
                 NULL),
             200);
    char names[2][129];
    CHECK_EQ(roost_registry_cert_status(e.reg, CERT_A), ROOST_CERT_ACTIVE); /* by the effect */
    CHECK_EQ(roost_registry_cert_things(e.reg, CERT_A, names, 2), 1);
    REQUIRE_OK(run_txn(e.st, del_cert_txn, CERT_A));
    struct roost_api_call call;
    memset(&call, 0, sizeof(call));
    roost_api_effects_cert(&call, CERT_A);
    roost_registry_apply_effects(e.reg, &call.effects);
    roost_api_call_cleanup(&call);
    CHECK_EQ(roost_registry_cert_status(e.reg, CERT_A), ROOST_CERT_UNKNOWN);
    CHECK_EQ(roost_registry_cert_things(e.reg, CERT_A, names, 2), 0);
    env_close(&e);
}

/* ==== Things =============================================================== */

ROOST_TEST(create_and_describe_thing)
{
    struct env e = env_open();
    json_t *r = NULL;
    CHECK_EQ(api(&e, "POST", "/things/lamp-1", NULL,
                 "{\"attributePayload\":{\"attributes\":{\"color\":\"red\",\"room\":\"k1\"}}}",
                 &r),
             200);
    CHECK_STR(js(r, "thingName"), "lamp-1");
    CHECK_STR(js(r, "thingArn"), ARN_PREFIX "thing/lamp-1");
    CHECK(is_uuid(js(r, "thingId")));
    char id[40];
    snprintf(id, sizeof(id), "%s", js(r, "thingId"));
    json_decref(r);

    CHECK_EQ(api(&e, "GET", "/things/lamp-1", NULL, NULL, &r), 200);
    CHECK_STR(js(r, "thingName"), "lamp-1");
    CHECK_STR(js(r, "defaultClientId"), "lamp-1");
    CHECK_STR(js(r, "thingId"), id);
    CHECK_STR(js(r, "thingArn"), ARN_PREFIX "thing/lamp-1");
    CHECK(json_is_integer(jp(r, "version")));
    CHECK_EQ(ji(r, "version"), 1);
    CHECK_STR(js(r, "attributes.color"), "red");
    CHECK_STR(js(r, "attributes.room"), "k1");
    CHECK(jp(r, "thingTypeName") == NULL);
    CHECK(jp(r, "billingGroupName") == NULL);
    json_decref(r);

    /* Same configuration: the same ids again. */
    CHECK_EQ(api(&e, "POST", "/things/lamp-1", NULL,
                 "{\"attributePayload\":{\"attributes\":{\"room\":\"k1\",\"color\":\"red\"}}}",
                 &r),
             200);
    CHECK_STR(js(r, "thingId"), id);
    json_decref(r);
    /* Different: 409 with the resource's id and ARN. */
    CHECK_EQ(req(&e, "POST", "/things/lamp-1", NULL, NULL), 409);
    CHECK_STR(last_code, "ResourceAlreadyExistsException");
    CHECK_STR(js(last_extra, "resourceId"), id);
    CHECK_STR(js(last_extra, "resourceArn"), ARN_PREFIX "thing/lamp-1");
    CHECK_EQ(req(&e, "POST", "/things/lamp-1", NULL,
                 "{\"attributePayload\":{\"attributes\":{\"color\":\"blue\",\"room\":\"k1\"}}}"),
             409);

    /* An empty thing, then its idempotent repeat with an empty body. */
    CHECK_EQ(api(&e, "POST", "/things/bare", NULL, NULL, &r), 200);
    json_decref(r);
    CHECK_EQ(api(&e, "POST", "/things/bare", NULL, "{}", &r), 200);
    json_decref(r);
    CHECK_EQ(api(&e, "GET", "/things/bare", NULL, NULL, &r), 200);
    CHECK(json_is_object(jp(r, "attributes")) && json_object_size(jp(r, "attributes")) == 0);
    json_decref(r);

    CHECK_EQ(req(&e, "GET", "/things/ghost", NULL, NULL), 404);
    CHECK_STR(last_code, "ResourceNotFoundException");
    CHECK_STR(last_msg, "Thing ghost cannot be found.");
    env_close(&e);
}

ROOST_TEST(create_thing_validates_input)
{
    struct env e = env_open();
    char long_name[140];
    memset(long_name, 'n', 129);
    long_name[129] = '\0';
    char path[200];
    snprintf(path, sizeof(path), "/things/%s", long_name);
    CHECK_EQ(req(&e, "POST", path, NULL, NULL), 400);
    CHECK(strstr(last_msg, "length") != NULL);
    long_name[128] = '\0';
    snprintf(path, sizeof(path), "/things/%s", long_name);
    CHECK_EQ(req(&e, "POST", path, NULL, NULL), 200); /* 128 is fine */
    CHECK_EQ(req(&e, "POST", "/things/bad%20name", NULL, NULL), 400);
    CHECK(strstr(last_msg, "[a-zA-Z0-9:_-]+") != NULL);
    CHECK_EQ(req(&e, "POST", "/things/a.b", NULL, NULL), 400);
    CHECK_EQ(req(&e, "POST", "/things/t", NULL, "{\"thingTypeName\":5}"), 400);
    CHECK_EQ(req(&e, "POST", "/things/t", NULL, "{\"thingTypeName\":\"a b\"}"), 400);
    CHECK_EQ(req(&e, "POST", "/things/t", NULL, "{\"attributePayload\":[]}"), 400);
    CHECK_EQ(req(&e, "POST", "/things/t", NULL, "{\"attributePayload\":{\"attributes\":1}}"),
             400);
    CHECK_EQ(req(&e, "POST", "/things/t", NULL,
                 "{\"attributePayload\":{\"attributes\":{\"a\":1}}}"),
             400);
    CHECK_EQ(req(&e, "POST", "/things/t", NULL,
                 "{\"attributePayload\":{\"attributes\":{\"a b\":\"x\"}}}"),
             400);
    CHECK_EQ(req(&e, "POST", "/things/t", NULL,
                 "{\"attributePayload\":{\"attributes\":{\"a\":\"x y\"}}}"),
             400);
    CHECK_EQ(req(&e, "POST", "/things/t", NULL,
                 "{\"attributePayload\":{\"attributes\":{\"a\":\"[x]=y,@/:#._-\"}}}"),
             200);
    CHECK_EQ(req(&e, "POST", "/things/t2", NULL,
                 "{\"attributePayload\":{\"attributes\":{},\"merge\":\"yes\"}}"),
             400);
    CHECK_EQ(req(&e, "POST", "/things/t2", NULL, "{\"billingGroupName\":\"nope\"}"), 404);
    CHECK_STR(last_code, "ResourceNotFoundException");
    CHECK_EQ(req(&e, "POST", "/things/t2", NULL, "{\"thingTypeName\":\"nope\"}"), 404);
    /* Failed creates left nothing behind. */
    CHECK_EQ(req(&e, "GET", "/things/t2", NULL, NULL), 404);
    env_close(&e);
}

ROOST_TEST(thing_attribute_limits)
{
    struct env e = env_open();
    const char *four = "{\"attributePayload\":{\"attributes\":{\"a\":\"1\",\"b\":\"2\","
                       "\"c\":\"3\",\"d\":\"4\"}}%s}";
    char body[256];
    snprintf(body, sizeof(body), four, "");
    CHECK_EQ(req(&e, "POST", "/things/t", NULL, body), 400); /* untyped: 3 */
    CHECK(strstr(last_msg, "3") != NULL);
    CHECK_EQ(req(&e, "POST", "/thing-types/ty", NULL, NULL), 200);
    snprintf(body, sizeof(body), four, ",\"thingTypeName\":\"ty\"");
    CHECK_EQ(req(&e, "POST", "/things/t", NULL, body), 200); /* typed: 50 */
    /* Removing the type with 4 attributes would break the rule. */
    CHECK_EQ(req(&e, "PATCH", "/things/t", NULL, "{\"removeThingType\":true}"), 400);
    char big[4096];
    size_t n = (size_t)snprintf(big, sizeof(big), "{\"thingTypeName\":\"ty\",\"attributePayload\""
                                                  ":{\"attributes\":{");
    for (int i = 0; i < 51; i++)
        n += (size_t)snprintf(big + n, sizeof(big) - n, "%s\"k%d\":\"v\"", i ? "," : "", i);
    snprintf(big + n, sizeof(big) - n, "}}}");
    CHECK_EQ(req(&e, "POST", "/things/t51", NULL, big), 400);
    env_close(&e);
}

ROOST_TEST(update_thing)
{
    struct env e = env_open();
    json_t *r = NULL;
    CHECK_EQ(req(&e, "POST", "/things/t", NULL,
                 "{\"attributePayload\":{\"attributes\":{\"a\":\"1\",\"b\":\"2\"}}}"),
             200);
    /* merge: set one, remove one with an empty value */
    CHECK_EQ(req(&e, "PATCH", "/things/t", NULL,
                 "{\"attributePayload\":{\"attributes\":{\"a\":\"9\",\"b\":\"\",\"c\":\"3\"},"
                 "\"merge\":true}}"),
             200);
    CHECK_EQ(api(&e, "GET", "/things/t", NULL, NULL, &r), 200);
    CHECK_STR(js(r, "attributes.a"), "9");
    CHECK(jp(r, "attributes.b") == NULL);
    CHECK_STR(js(r, "attributes.c"), "3");
    CHECK_EQ(ji(r, "version"), 2);
    json_decref(r);
    /* without merge: replaced */
    CHECK_EQ(req(&e, "PATCH", "/things/t", NULL,
                 "{\"attributePayload\":{\"attributes\":{\"z\":\"1\"}},\"expectedVersion\":2}"),
             200);
    CHECK_EQ(api(&e, "GET", "/things/t", NULL, NULL, &r), 200);
    CHECK_EQ(json_object_size(jp(r, "attributes")), 1);
    CHECK_STR(js(r, "attributes.z"), "1");
    CHECK_EQ(ji(r, "version"), 3);
    json_decref(r);
    /* stale expectedVersion */
    CHECK_EQ(req(&e, "PATCH", "/things/t", NULL, "{\"expectedVersion\":2}"), 409);
    CHECK_STR(last_code, "VersionConflictException");
    CHECK_STR(last_msg, "The version for thing t does not match the expected version.");
    CHECK_EQ(req(&e, "PATCH", "/things/t", NULL, "{\"expectedVersion\":\"3\"}"), 400);
    /* thing types */
    CHECK_EQ(req(&e, "PATCH", "/things/t", NULL, "{\"thingTypeName\":\"ty\"}"), 404);
    CHECK_EQ(req(&e, "POST", "/thing-types/ty", NULL, NULL), 200);
    CHECK_EQ(req(&e, "POST", "/thing-types/ty2", NULL, NULL), 200);
    CHECK_EQ(req(&e, "PATCH", "/things/t", NULL, "{\"thingTypeName\":\"ty\"}"), 200);
    CHECK_EQ(api(&e, "GET", "/things/t", NULL, NULL, &r), 200);
    CHECK_STR(js(r, "thingTypeName"), "ty");
    json_decref(r);
    CHECK_EQ(req(&e, "PATCH", "/things/t", NULL,
                 "{\"thingTypeName\":\"ty2\",\"removeThingType\":true}"),
             400);
    CHECK_EQ(req(&e, "POST", "/thing-types/ty2/deprecate", NULL, NULL), 200);
    CHECK_EQ(req(&e, "PATCH", "/things/t", NULL, "{\"thingTypeName\":\"ty2\"}"), 400);
    CHECK(strstr(last_msg, "depreciated") != NULL);
    CHECK_EQ(req(&e, "POST", "/thing-types/ty2/deprecate", NULL, "{\"undoDeprecate\":true}"),
             200);
    CHECK_EQ(req(&e, "PATCH", "/things/t", NULL, "{\"thingTypeName\":\"ty2\"}"), 200);
    /* the old type is free again, the new one in use */
    CHECK_EQ(req(&e, "POST", "/thing-types/ty/deprecate", NULL, NULL), 200);
    CHECK_EQ(req(&e, "DELETE", "/thing-types/ty", NULL, NULL), 200);
    CHECK_EQ(req(&e, "PATCH", "/things/t", NULL, "{\"removeThingType\":true}"), 200);
    CHECK_EQ(api(&e, "GET", "/things/t", NULL, NULL, &r), 200);
    CHECK(jp(r, "thingTypeName") == NULL);
    json_decref(r);
    CHECK_EQ(req(&e, "POST", "/thing-types/ty2/deprecate", NULL, NULL), 200);
    CHECK_EQ(req(&e, "DELETE", "/thing-types/ty2", NULL, NULL), 200);
    /* an empty body still bumps the version (AWS counts every update) */
    CHECK_EQ(req(&e, "PATCH", "/things/t", NULL, NULL), 200);
    CHECK_EQ(req(&e, "PATCH", "/things/ghost", NULL, "{}"), 404);
    CHECK_EQ(req(&e, "PATCH", "/things/b%21d", NULL, "{}"), 400);
    env_close(&e);
}

ROOST_TEST(delete_thing)
{
    struct env e = env_open();
    CHECK_EQ(req(&e, "DELETE", "/things/ghost", NULL, NULL), 200); /* missing: success */
    CHECK_EQ(req(&e, "POST", "/things/t", NULL, NULL), 200);
    CHECK_EQ(req(&e, "DELETE", "/things/t", "{\"expectedVersion\":\"5\"}", NULL), 409);
    CHECK_STR(last_code, "VersionConflictException");
    CHECK_EQ(req(&e, "DELETE", "/things/t", "{\"expectedVersion\":\"x\"}", NULL), 400);
    put_cert(&e, CERT_A, "ACTIVE");
    const char *hdr = "{\"x-amzn-principal\":\"" CERT_A_ARN "\"}";
    CHECK_EQ(req(&e, "PUT", "/things/t/principals", hdr, NULL), 200);
    CHECK_EQ(req(&e, "DELETE", "/things/t", NULL, NULL), 400);
    CHECK_STR(last_code, "InvalidRequestException");
    CHECK_STR(last_msg, "Cannot delete. Thing t is still attached to one or more principals");
    CHECK_EQ(req(&e, "DELETE", "/things/t/principals", hdr, NULL), 200);
    /* memberships go with the thing */
    CHECK_EQ(req(&e, "POST", "/thing-groups/g", NULL, NULL), 200);
    CHECK_EQ(req(&e, "POST", "/billing-groups/b", NULL, NULL), 200);
    CHECK_EQ(req(&e, "PUT", "/thing-groups/addThingToThingGroup", NULL,
                 "{\"thingGroupName\":\"g\",\"thingName\":\"t\"}"),
             200);
    CHECK_EQ(req(&e, "PUT", "/billing-groups/addThingToBillingGroup", NULL,
                 "{\"billingGroupName\":\"b\",\"thingName\":\"t\"}"),
             200);
    CHECK_EQ(req(&e, "DELETE", "/things/t", "{\"expectedVersion\":\"1\"}", NULL), 200);
    CHECK_EQ(req(&e, "GET", "/things/t", NULL, NULL), 404);
    char out[256];
    CHECK_EQ(list_all(&e, "/thing-groups/g/things", NULL, "things", NULL, 10, out, sizeof(out)),
             1);
    CHECK_STR(out, "");
    CHECK_EQ(list_all(&e, "/billing-groups/b/things", NULL, "things", NULL, 10, out,
                      sizeof(out)),
             1);
    CHECK_STR(out, "");
    env_close(&e);
}

ROOST_TEST(list_things_pages_and_filters)
{
    struct env e = env_open();
    CHECK_EQ(req(&e, "POST", "/thing-types/lamp", NULL, NULL), 200);
    static const char *const bodies[] = {
        "{\"attributePayload\":{\"attributes\":{\"room\":\"kitchen\"}}}",
        "{\"attributePayload\":{\"attributes\":{\"room\":\"kids\"}},\"thingTypeName\":\"lamp\"}",
        "{\"attributePayload\":{\"attributes\":{\"room\":\"hall\"}}}",
        "{\"thingTypeName\":\"lamp\"}",
        "{}",
    };
    static const char *const names[] = {"e", "d", "c", "b", "a"};
    for (int i = 0; i < 5; i++) {
        char path[64];
        snprintf(path, sizeof(path), "/things/%s", names[i]);
        CHECK_EQ(req(&e, "POST", path, NULL, bodies[i]), 200);
    }
    char out[512];
    CHECK_EQ(list_all(&e, "/things", NULL, "things", "thingName", 2, out, sizeof(out)), 3);
    CHECK_STR(out, "a,b,c,d,e");
    CHECK_EQ(list_all(&e, "/things", NULL, "things", "thingName", 5, out, sizeof(out)), 1);
    CHECK_EQ(list_all(&e, "/things", NULL, "things", "thingName", 250, out, sizeof(out)), 1);
    CHECK_EQ(list_all(&e, "/things", "\"thingTypeName\":\"lamp\"", "things", "thingName", 1, out,
                      sizeof(out)),
             2);
    CHECK_STR(out, "b,d");
    CHECK_EQ(list_all(&e, "/things", "\"attributeName\":\"room\"", "things", "thingName", 2, out,
                      sizeof(out)),
             2);
    CHECK_STR(out, "c,d,e");
    CHECK_EQ(list_all(&e, "/things", "\"attributeName\":\"room\",\"attributeValue\":\"ki\"",
                      "things", "thingName", 2, out, sizeof(out)),
             1);
    CHECK_STR(out, "");
    CHECK_EQ(list_all(&e, "/things",
                      "\"attributeName\":\"room\",\"attributeValue\":\"ki\","
                      "\"usePrefixAttributeValue\":\"true\"",
                      "things", "thingName", 1, out, sizeof(out)),
             2);
    CHECK_STR(out, "d,e");
    CHECK_EQ(list_all(&e, "/things",
                      "\"attributeName\":\"room\",\"attributeValue\":\"kids\","
                      "\"thingTypeName\":\"lamp\"",
                      "things", "thingName", 2, out, sizeof(out)),
             1);
    CHECK_STR(out, "d");

    json_t *r = NULL;
    CHECK_EQ(api(&e, "GET", "/things", "{\"thingTypeName\":\"lamp\"}", NULL, &r), 200);
    CHECK_STR(js(r, "things.0.thingName"), "b");
    CHECK_STR(js(r, "things.0.thingTypeName"), "lamp");
    CHECK_STR(js(r, "things.0.thingArn"), ARN_PREFIX "thing/b");
    CHECK_EQ(ji(r, "things.0.version"), 1);
    CHECK(json_is_object(jp(r, "things.0.attributes")));
    CHECK(jp(r, "nextToken") == NULL);
    json_decref(r);

    CHECK_EQ(req(&e, "GET", "/things", "{\"maxResults\":\"0\"}", NULL), 400);
    CHECK_EQ(req(&e, "GET", "/things", "{\"maxResults\":\"251\"}", NULL), 400);
    CHECK_EQ(req(&e, "GET", "/things", "{\"maxResults\":\"two\"}", NULL), 400);
    CHECK_EQ(req(&e, "GET", "/things", "{\"nextToken\":\"a b\"}", NULL), 400);
    CHECK_EQ(req(&e, "GET", "/things", "{\"usePrefixAttributeValue\":\"maybe\"}", NULL), 400);
    CHECK_EQ(req(&e, "GET", "/things", "{\"attributeValue\":\"x\"}", NULL), 400);
    CHECK_EQ(req(&e, "GET", "/things", "{\"attributeName\":\"a b\"}", NULL), 400);
    CHECK_EQ(req(&e, "GET", "/things", "{\"thingTypeName\":\"a b\"}", NULL), 400);
    env_close(&e);
}

/* ==== Thing types ========================================================== */

ROOST_TEST(thing_types_life_cycle)
{
    struct env e = env_open();
    json_t *r = NULL;
    const char *props = "{\"thingTypeProperties\":{\"thingTypeDescription\":\"a lamp\","
                        "\"searchableAttributes\":[\"room\",\"watts\"]},"
                        "\"tags\":[{\"Key\":\"k\",\"Value\":\"v\"}]}";
    CHECK_EQ(api(&e, "POST", "/thing-types/lamp", NULL, props, &r), 200);
    CHECK_STR(js(r, "thingTypeName"), "lamp");
    CHECK_STR(js(r, "thingTypeArn"), ARN_PREFIX "thingtype/lamp");
    CHECK(is_uuid(js(r, "thingTypeId")));
    char id[40];
    snprintf(id, sizeof(id), "%s", js(r, "thingTypeId"));
    json_decref(r);
    CHECK_EQ(api(&e, "POST", "/thing-types/lamp", NULL, props, &r), 200);
    CHECK_STR(js(r, "thingTypeId"), id);
    json_decref(r);
    CHECK_EQ(req(&e, "POST", "/thing-types/lamp", NULL, NULL), 409);
    CHECK_STR(js(last_extra, "resourceId"), id);

    CHECK_EQ(api(&e, "GET", "/thing-types/lamp", NULL, NULL, &r), 200);
    CHECK_STR(js(r, "thingTypeId"), id);
    CHECK_STR(js(r, "thingTypeProperties.thingTypeDescription"), "a lamp");
    CHECK_STR(js(r, "thingTypeProperties.searchableAttributes.1"), "watts");
    CHECK(json_is_false(jp(r, "thingTypeMetadata.deprecated")));
    CHECK(json_is_number(jp(r, "thingTypeMetadata.creationDate")));
    CHECK(json_number_value(jp(r, "thingTypeMetadata.creationDate")) > 1.6e9);
    CHECK(jp(r, "thingTypeMetadata.deprecationDate") == NULL);
    CHECK(jp(r, "tags") == NULL);
    json_decref(r);

    CHECK_EQ(req(&e, "POST", "/thing-types/fan", NULL,
                 "{\"thingTypeProperties\":{\"mqtt5Configuration\":{\"propagatingAttributes\":"
                 "[{\"userPropertyKey\":\"k\",\"thingAttribute\":\"room\"}]}}}"),
             200);
    char out[256];
    CHECK_EQ(list_all(&e, "/thing-types", NULL, "thingTypes", "thingTypeName", 1, out,
                      sizeof(out)),
             2);
    CHECK_STR(out, "fan,lamp");
    CHECK_EQ(list_all(&e, "/thing-types", "\"thingTypeName\":\"lamp\"", "thingTypes",
                      "thingTypeName", 5, out, sizeof(out)),
             1);
    CHECK_STR(out, "lamp");
    CHECK_EQ(list_all(&e, "/thing-types", "\"thingTypeName\":\"none\"", "thingTypes",
                      "thingTypeName", 5, out, sizeof(out)),
             1);
    CHECK_STR(out, "");
    CHECK_EQ(api(&e, "GET", "/thing-types", NULL, NULL, &r), 200);
    CHECK_STR(js(r, "thingTypes.1.thingTypeArn"), ARN_PREFIX "thingtype/lamp");
    CHECK(json_is_boolean(jp(r, "thingTypes.1.thingTypeMetadata.deprecated")));
    CHECK_STR(js(r, "thingTypes.0.thingTypeProperties.mqtt5Configuration."
                    "propagatingAttributes.0.userPropertyKey"),
              "k");
    json_decref(r);

    /* delete: deprecated first, and unused */
    CHECK_EQ(req(&e, "DELETE", "/thing-types/lamp", NULL, NULL), 400);
    CHECK(strstr(last_msg, "deprecate") != NULL);
    CHECK_EQ(req(&e, "POST", "/things/t", NULL, "{\"thingTypeName\":\"lamp\"}"), 200);
    CHECK_EQ(req(&e, "POST", "/thing-types/lamp/deprecate", NULL, "{\"undoDeprecate\":false}"),
             200);
    CHECK_EQ(api(&e, "GET", "/thing-types/lamp", NULL, NULL, &r), 200);
    CHECK(json_is_true(jp(r, "thingTypeMetadata.deprecated")));
    CHECK(json_is_number(jp(r, "thingTypeMetadata.deprecationDate")));
    json_decref(r);
    CHECK_EQ(req(&e, "POST", "/things/t2", NULL, "{\"thingTypeName\":\"lamp\"}"), 400);
    CHECK_EQ(req(&e, "DELETE", "/thing-types/lamp", NULL, NULL), 400);
    CHECK(strstr(last_msg, "things") != NULL);
    CHECK_EQ(req(&e, "DELETE", "/things/t", NULL, NULL), 200);
    CHECK_EQ(req(&e, "DELETE", "/thing-types/lamp", NULL, NULL), 200);
    CHECK_EQ(req(&e, "GET", "/thing-types/lamp", NULL, NULL), 404);
    CHECK_EQ(req(&e, "DELETE", "/thing-types/lamp", NULL, NULL), 404);
    CHECK_EQ(req(&e, "POST", "/thing-types/lamp/deprecate", NULL, NULL), 404);

    /* validation */
    CHECK_EQ(req(&e, "POST", "/thing-types/x", NULL,
                 "{\"thingTypeProperties\":{\"searchableAttributes\":[\"a\",\"b\",\"c\",\"d\"]}}"),
             400);
    CHECK_EQ(req(&e, "POST", "/thing-types/x", NULL,
                 "{\"thingTypeProperties\":{\"searchableAttributes\":[\"a b\"]}}"),
             400);
    CHECK_EQ(req(&e, "POST", "/thing-types/x", NULL,
                 "{\"thingTypeProperties\":{\"thingTypeDescription\":\"a\\nb\"}}"),
             400);
    CHECK_EQ(req(&e, "POST", "/thing-types/x", NULL, "{\"thingTypeProperties\":\"p\"}"), 400);
    CHECK_EQ(req(&e, "POST", "/thing-types/x", NULL, "{\"tags\":[{\"Value\":\"v\"}]}"), 400);
    CHECK_EQ(req(&e, "POST", "/thing-types/x", NULL, "{\"tags\":{}}"), 400);
    CHECK_EQ(req(&e, "POST", "/thing-types/x", NULL,
                 "{\"thingTypeProperties\":{\"mqtt5Configuration\":{\"propagatingAttributes\":"
                 "[{\"userPropertyKey\":\"k\"}]}}}"),
             400);
    CHECK_EQ(req(&e, "POST", "/thing-types/x", NULL, "{\"undoDeprecate\":1}"), 200);
    CHECK_EQ(req(&e, "POST", "/thing-types/x/deprecate", NULL, "{\"undoDeprecate\":1}"), 400);
    CHECK_EQ(req(&e, "GET", "/thing-types/b%2Fd", NULL, NULL), 400);
    env_close(&e);
}

/* ==== Thing groups ========================================================= */

ROOST_TEST(thing_groups_create_describe_update_delete)
{
    struct env e = env_open();
    json_t *r = NULL;
    CHECK_EQ(api(&e, "POST", "/thing-groups/root", NULL,
                 "{\"thingGroupProperties\":{\"thingGroupDescription\":\"top\","
                 "\"attributePayload\":{\"attributes\":{\"site\":\"a\"}}},"
                 "\"tags\":[{\"Key\":\"env\",\"Value\":\"prod\"}]}",
                 &r),
             200);
    CHECK_STR(js(r, "thingGroupName"), "root");
    CHECK_STR(js(r, "thingGroupArn"), ARN_PREFIX "thinggroup/root");
    CHECK(is_uuid(js(r, "thingGroupId")));
    json_decref(r);
    CHECK_EQ(req(&e, "POST", "/thing-groups/mid", NULL, "{\"parentGroupName\":\"root\"}"), 200);
    CHECK_EQ(req(&e, "POST", "/thing-groups/leaf", NULL, "{\"parentGroupName\":\"mid\"}"), 200);
    CHECK_EQ(req(&e, "POST", "/thing-groups/x", NULL, "{\"parentGroupName\":\"nope\"}"), 404);
    /* idempotent, then different */
    CHECK_EQ(req(&e, "POST", "/thing-groups/leaf", NULL, "{\"parentGroupName\":\"mid\"}"), 200);
    CHECK_EQ(req(&e, "POST", "/thing-groups/leaf", NULL, "{\"parentGroupName\":\"root\"}"), 409);
    CHECK_STR(last_code, "ResourceAlreadyExistsException");
    CHECK(js(last_extra, "resourceArn") != NULL);
    CHECK_EQ(req(&e, "POST", "/thing-groups/leaf", NULL, NULL), 409);

    CHECK_EQ(api(&e, "GET", "/thing-groups/leaf", NULL, NULL, &r), 200);
    CHECK_EQ(ji(r, "version"), 1);
    CHECK_STR(js(r, "status"), "ACTIVE");
    CHECK_STR(js(r, "thingGroupMetadata.parentGroupName"), "mid");
    CHECK_STR(js(r, "thingGroupMetadata.rootToParentThingGroups.0.groupName"), "root");
    CHECK_STR(js(r, "thingGroupMetadata.rootToParentThingGroups.0.groupArn"),
              ARN_PREFIX "thinggroup/root");
    CHECK_STR(js(r, "thingGroupMetadata.rootToParentThingGroups.1.groupName"), "mid");
    CHECK(jp(r, "thingGroupMetadata.rootToParentThingGroups.2") == NULL);
    CHECK(json_is_number(jp(r, "thingGroupMetadata.creationDate")));
    json_decref(r);
    CHECK_EQ(api(&e, "GET", "/thing-groups/root", NULL, NULL, &r), 200);
    CHECK_STR(js(r, "thingGroupProperties.thingGroupDescription"), "top");
    CHECK_STR(js(r, "thingGroupProperties.attributePayload.attributes.site"), "a");
    CHECK(jp(r, "thingGroupMetadata.parentGroupName") == NULL);
    CHECK(jp(r, "tags") == NULL);
    json_decref(r);
    CHECK_EQ(req(&e, "GET", "/thing-groups/nope", NULL, NULL), 404);

    /* update */
    CHECK_EQ(api(&e, "PATCH", "/thing-groups/root", NULL,
                 "{\"thingGroupProperties\":{\"attributePayload\":{\"attributes\":"
                 "{\"floor\":\"2\",\"site\":\"\"},\"merge\":true}},\"expectedVersion\":1}",
                 &r),
             200);
    CHECK_EQ(ji(r, "version"), 2);
    json_decref(r);
    CHECK_EQ(api(&e, "GET", "/thing-groups/root", NULL, NULL, &r), 200);
    CHECK_STR(js(r, "thingGroupProperties.attributePayload.attributes.floor"), "2");
    CHECK(jp(r, "thingGroupProperties.attributePayload.attributes.site") == NULL);
    CHECK_STR(js(r, "thingGroupProperties.thingGroupDescription"), "top"); /* kept */
    CHECK_EQ(ji(r, "version"), 2);
    json_decref(r);
    CHECK_EQ(api(&e, "PATCH", "/thing-groups/root", NULL,
                 "{\"thingGroupProperties\":{\"thingGroupDescription\":\"\"}}", &r),
             200);
    CHECK_EQ(ji(r, "version"), 3);
    json_decref(r);
    CHECK_EQ(req(&e, "PATCH", "/thing-groups/root", NULL,
                 "{\"thingGroupProperties\":{},\"expectedVersion\":1}"),
             409);
    CHECK_STR(last_code, "VersionConflictException");
    CHECK_EQ(req(&e, "PATCH", "/thing-groups/root", NULL, "{}"), 400);
    CHECK_EQ(req(&e, "PATCH", "/thing-groups/nope", NULL, "{\"thingGroupProperties\":{}}"), 404);

    /* delete: children first; missing is success */
    CHECK_EQ(req(&e, "DELETE", "/thing-groups/mid", NULL, NULL), 400);
    CHECK_STR(last_msg, "Cannot delete thing group : mid when there are still child groups "
                        "attached to it");
    CHECK_EQ(req(&e, "DELETE", "/thing-groups/leaf", "{\"expectedVersion\":\"2\"}", NULL), 409);
    CHECK_EQ(req(&e, "DELETE", "/thing-groups/leaf", "{\"expectedVersion\":\"1\"}", NULL), 200);
    CHECK_EQ(req(&e, "DELETE", "/thing-groups/mid", NULL, NULL), 200);
    CHECK_EQ(req(&e, "DELETE", "/thing-groups/mid", NULL, NULL), 200);
    CHECK_EQ(req(&e, "GET", "/thing-groups/mid", NULL, NULL), 404);
    env_close(&e);
}

ROOST_TEST(thing_group_depth_limit)
{
    struct env e = env_open();
    CHECK_EQ(req(&e, "POST", "/thing-groups/g1", NULL, NULL), 200);
    for (int i = 2; i <= 8; i++) {
        char path[64], body[64];
        snprintf(path, sizeof(path), "/thing-groups/g%d", i);
        snprintf(body, sizeof(body), "{\"parentGroupName\":\"g%d\"}", i - 1);
        CHECK_EQ(req(&e, "POST", path, NULL, body), i <= 7 ? 200 : 400);
    }
    env_close(&e);
}

ROOST_TEST(list_thing_groups)
{
    struct env e = env_open();
    CHECK_EQ(req(&e, "POST", "/thing-groups/a", NULL, NULL), 200);
    CHECK_EQ(req(&e, "POST", "/thing-groups/b", NULL, NULL), 200);
    CHECK_EQ(req(&e, "POST", "/thing-groups/a1", NULL, "{\"parentGroupName\":\"a\"}"), 200);
    CHECK_EQ(req(&e, "POST", "/thing-groups/a2", NULL, "{\"parentGroupName\":\"a\"}"), 200);
    CHECK_EQ(req(&e, "POST", "/thing-groups/a1x", NULL, "{\"parentGroupName\":\"a1\"}"), 200);
    char out[256];
    CHECK_EQ(list_all(&e, "/thing-groups", NULL, "thingGroups", "groupName", 2, out,
                      sizeof(out)),
             3);
    CHECK_STR(out, "a,a1,a1x,a2,b");
    CHECK_EQ(list_all(&e, "/thing-groups", "\"recursive\":\"false\"", "thingGroups",
                      "groupName", 1, out, sizeof(out)),
             2);
    CHECK_STR(out, "a,b");
    CHECK_EQ(list_all(&e, "/thing-groups", "\"parentGroup\":\"a\"", "thingGroups", "groupName",
                      2, out, sizeof(out)),
             2);
    CHECK_STR(out, "a1,a1x,a2");
    CHECK_EQ(list_all(&e, "/thing-groups", "\"parentGroup\":\"a\",\"recursive\":\"false\"",
                      "thingGroups", "groupName", 2, out, sizeof(out)),
             1);
    CHECK_STR(out, "a1,a2");
    CHECK_EQ(list_all(&e, "/thing-groups", "\"parentGroup\":\"a\",\"namePrefixFilter\":\"a1\"",
                      "thingGroups", "groupName", 2, out, sizeof(out)),
             1);
    CHECK_STR(out, "a1,a1x");
    CHECK_EQ(list_all(&e, "/thing-groups", "\"namePrefixFilter\":\"a1\"", "thingGroups",
                      "groupName", 1, out, sizeof(out)),
             2);
    CHECK_STR(out, "a1,a1x");
    json_t *r = NULL;
    CHECK_EQ(api(&e, "GET", "/thing-groups", "{\"namePrefixFilter\":\"b\"}", NULL, &r), 200);
    CHECK_STR(js(r, "thingGroups.0.groupArn"), ARN_PREFIX "thinggroup/b");
    json_decref(r);
    CHECK_EQ(req(&e, "GET", "/thing-groups", "{\"parentGroup\":\"zz\"}", NULL), 404);
    CHECK_EQ(req(&e, "GET", "/thing-groups", "{\"recursive\":\"1\"}", NULL), 400);
    CHECK_EQ(req(&e, "GET", "/thing-groups", "{\"namePrefixFilter\":\"a b\"}", NULL), 400);
    env_close(&e);
}

ROOST_TEST(thing_group_membership)
{
    struct env e = env_open();
    CHECK_EQ(req(&e, "POST", "/thing-groups/top", NULL, NULL), 200);
    CHECK_EQ(req(&e, "POST", "/thing-groups/sub", NULL, "{\"parentGroupName\":\"top\"}"), 200);
    CHECK_EQ(req(&e, "POST", "/things/t1", NULL, NULL), 200);
    CHECK_EQ(req(&e, "POST", "/things/t2", NULL, NULL), 200);
    CHECK_EQ(req(&e, "POST", "/things/t3", NULL, NULL), 200);
    CHECK_EQ(req(&e, "PUT", "/thing-groups/addThingToThingGroup", NULL,
                 "{\"thingGroupName\":\"top\",\"thingName\":\"t1\"}"),
             200);
    CHECK_EQ(req(&e, "PUT", "/thing-groups/addThingToThingGroup", NULL,
                 "{\"thingGroupArn\":\"" ARN_PREFIX "thinggroup/sub\",\"thingArn\":\"" ARN_PREFIX
                 "thing/t2\"}"),
             200);
    CHECK_EQ(req(&e, "PUT", "/thing-groups/addThingToThingGroup", NULL,
                 "{\"thingGroupName\":\"sub\",\"thingName\":\"t3\",\"overrideDynamicGroups\":"
                 "false}"),
             200);
    CHECK_EQ(req(&e, "PUT", "/thing-groups/addThingToThingGroup", NULL,
                 "{\"thingGroupName\":\"sub\",\"thingName\":\"t3\"}"),
             200); /* again: fine */
    CHECK_EQ(req(&e, "PUT", "/thing-groups/addThingToThingGroup", NULL,
                 "{\"thingGroupName\":\"sub\",\"thingName\":\"t1\"}"),
             200);
    char out[256];
    CHECK_EQ(list_all(&e, "/thing-groups/top/things", NULL, "things", NULL, 10, out, sizeof(out)),
             1);
    CHECK_STR(out, "t1");
    CHECK_EQ(list_all(&e, "/thing-groups/top/things", "\"recursive\":\"true\"", "things", NULL,
                      2, out, sizeof(out)),
             2);
    CHECK_STR(out, "t1,t2,t3"); /* t1 once, though in both */
    CHECK_EQ(list_all(&e, "/thing-groups/sub/things", NULL, "things", NULL, 1, out, sizeof(out)),
             3);
    CHECK_STR(out, "t1,t2,t3");
    CHECK_EQ(list_all(&e, "/things/t1/thing-groups", NULL, "thingGroups", "groupName", 1, out,
                      sizeof(out)),
             2);
    CHECK_STR(out, "sub,top");
    json_t *r = NULL;
    CHECK_EQ(api(&e, "GET", "/things/t1/thing-groups", NULL, NULL, &r), 200);
    CHECK_STR(js(r, "thingGroups.0.groupArn"), ARN_PREFIX "thinggroup/sub");
    json_decref(r);

    CHECK_EQ(req(&e, "PUT", "/thing-groups/removeThingFromThingGroup", NULL,
                 "{\"thingGroupName\":\"sub\",\"thingArn\":\"" ARN_PREFIX "thing/t1\"}"),
             200);
    CHECK_EQ(req(&e, "PUT", "/thing-groups/removeThingFromThingGroup", NULL,
                 "{\"thingGroupName\":\"sub\",\"thingName\":\"t1\"}"),
             200); /* not a member: fine */
    CHECK_EQ(list_all(&e, "/things/t1/thing-groups", NULL, "thingGroups", "groupName", 5, out,
                      sizeof(out)),
             1);
    CHECK_STR(out, "top");

    /* errors */
    CHECK_EQ(req(&e, "PUT", "/thing-groups/addThingToThingGroup", NULL,
                 "{\"thingName\":\"t1\"}"),
             400);
    CHECK_EQ(req(&e, "PUT", "/thing-groups/addThingToThingGroup", NULL, NULL), 400);
    CHECK_EQ(req(&e, "PUT", "/thing-groups/addThingToThingGroup", NULL,
                 "{\"thingGroupName\":\"top\",\"thingGroupArn\":\"" ARN_PREFIX
                 "thinggroup/sub\",\"thingName\":\"t1\"}"),
             400);
    CHECK_EQ(req(&e, "PUT", "/thing-groups/addThingToThingGroup", NULL,
                 "{\"thingGroupArn\":\"" ARN_PREFIX "thing/top\",\"thingName\":\"t1\"}"),
             400); /* a thing ARN where a group ARN belongs */
    CHECK_EQ(req(&e, "PUT", "/thing-groups/addThingToThingGroup", NULL,
                 "{\"thingGroupArn\":\"top\",\"thingName\":\"t1\"}"),
             400);
    CHECK_EQ(req(&e, "PUT", "/thing-groups/addThingToThingGroup", NULL,
                 "{\"thingGroupName\":\"nope\",\"thingName\":\"t1\"}"),
             404);
    CHECK_EQ(req(&e, "PUT", "/thing-groups/addThingToThingGroup", NULL,
                 "{\"thingGroupName\":\"top\",\"thingName\":\"nope\"}"),
             404);
    CHECK_EQ(req(&e, "PUT", "/thing-groups/removeThingFromThingGroup", NULL,
                 "{\"thingGroupName\":\"nope\",\"thingName\":\"t1\"}"),
             404);
    CHECK_EQ(req(&e, "GET", "/thing-groups/nope/things", NULL, NULL), 404);
    CHECK_EQ(req(&e, "GET", "/things/nope/thing-groups", NULL, NULL), 404);
    CHECK_EQ(req(&e, "GET", "/thing-groups/top/things", "{\"recursive\":\"x\"}", NULL), 400);

    /* at most 10 groups per thing */
    for (int i = 0; i < 10; i++) {
        char path[64], body[128];
        snprintf(path, sizeof(path), "/thing-groups/many%d", i);
        CHECK_EQ(req(&e, "POST", path, NULL, NULL), 200);
        snprintf(body, sizeof(body), "{\"thingGroupName\":\"many%d\",\"thingName\":\"t3\"}", i);
        CHECK_EQ(req(&e, "PUT", "/thing-groups/addThingToThingGroup", NULL, body),
                 i < 9 ? 200 : 400); /* t3 is in sub already */
    }
    /* a group's deletion takes its memberships along */
    CHECK_EQ(req(&e, "DELETE", "/thing-groups/many0", NULL, NULL), 200);
    CHECK_EQ(req(&e, "PUT", "/thing-groups/addThingToThingGroup", NULL,
                 "{\"thingGroupName\":\"many9\",\"thingName\":\"t3\"}"),
             200);
    env_close(&e);
}

ROOST_TEST(update_thing_groups_for_thing)
{
    struct env e = env_open();
    CHECK_EQ(req(&e, "POST", "/thing-groups/g1", NULL, NULL), 200);
    CHECK_EQ(req(&e, "POST", "/thing-groups/g2", NULL, NULL), 200);
    CHECK_EQ(req(&e, "POST", "/things/t", NULL, NULL), 200);
    CHECK_EQ(req(&e, "PUT", "/thing-groups/updateThingGroupsForThing", NULL,
                 "{\"thingName\":\"t\",\"thingGroupsToAdd\":[\"g1\",\"g2\"]}"),
             200);
    char out[128];
    CHECK_EQ(list_all(&e, "/things/t/thing-groups", NULL, "thingGroups", "groupName", 5, out,
                      sizeof(out)),
             1);
    CHECK_STR(out, "g1,g2");
    CHECK_EQ(req(&e, "PUT", "/thing-groups/updateThingGroupsForThing", NULL,
                 "{\"thingName\":\"t\",\"thingGroupsToRemove\":[\"g1\"]}"),
             200);
    CHECK_EQ(list_all(&e, "/things/t/thing-groups", NULL, "thingGroups", "groupName", 5, out,
                      sizeof(out)),
             1);
    CHECK_STR(out, "g2");
    /* one bad group: nothing of the call happens */
    CHECK_EQ(req(&e, "PUT", "/thing-groups/updateThingGroupsForThing", NULL,
                 "{\"thingName\":\"t\",\"thingGroupsToAdd\":[\"g1\",\"nope\"],"
                 "\"thingGroupsToRemove\":[\"g2\"]}"),
             404);
    CHECK_EQ(list_all(&e, "/things/t/thing-groups", NULL, "thingGroups", "groupName", 5, out,
                      sizeof(out)),
             1);
    CHECK_STR(out, "g2");
    CHECK_EQ(req(&e, "PUT", "/thing-groups/updateThingGroupsForThing", NULL, "{}"), 400);
    CHECK_EQ(req(&e, "PUT", "/thing-groups/updateThingGroupsForThing", NULL,
                 "{\"thingName\":\"nope\"}"),
             404);
    CHECK_EQ(req(&e, "PUT", "/thing-groups/updateThingGroupsForThing", NULL,
                 "{\"thingName\":\"t\",\"thingGroupsToAdd\":[1]}"),
             400);
    CHECK_EQ(req(&e, "PUT", "/thing-groups/updateThingGroupsForThing", NULL,
                 "{\"thingName\":\"t\",\"thingGroupsToAdd\":\"g1\"}"),
             400);
    env_close(&e);
}

/* ==== Billing groups ======================================================= */

ROOST_TEST(billing_groups)
{
    struct env e = env_open();
    json_t *r = NULL;
    CHECK_EQ(api(&e, "POST", "/billing-groups/b1", NULL,
                 "{\"billingGroupProperties\":{\"billingGroupDescription\":\"first\"}}", &r),
             200);
    CHECK_STR(js(r, "billingGroupName"), "b1");
    CHECK_STR(js(r, "billingGroupArn"), ARN_PREFIX "billinggroup/b1");
    CHECK(is_uuid(js(r, "billingGroupId")));
    char id[40];
    snprintf(id, sizeof(id), "%s", js(r, "billingGroupId"));
    json_decref(r);
    CHECK_EQ(api(&e, "POST", "/billing-groups/b1", NULL,
                 "{\"billingGroupProperties\":{\"billingGroupDescription\":\"first\"}}", &r),
             200);
    CHECK_STR(js(r, "billingGroupId"), id);
    json_decref(r);
    CHECK_EQ(req(&e, "POST", "/billing-groups/b1", NULL, NULL), 409);
    CHECK_STR(js(last_extra, "resourceId"), id);
    CHECK_EQ(req(&e, "POST", "/billing-groups/b2", NULL, "{\"tags\":[]}"), 200);
    CHECK_EQ(req(&e, "POST", "/billing-groups/c3", NULL, NULL), 200);

    CHECK_EQ(api(&e, "GET", "/billing-groups/b1", NULL, NULL, &r), 200);
    CHECK_STR(js(r, "billingGroupId"), id);
    CHECK_EQ(ji(r, "version"), 1);
    CHECK_STR(js(r, "billingGroupProperties.billingGroupDescription"), "first");
    CHECK(json_is_number(jp(r, "billingGroupMetadata.creationDate")));
    json_decref(r);
    CHECK_EQ(req(&e, "GET", "/billing-groups/zz", NULL, NULL), 404);

    char out[256];
    CHECK_EQ(list_all(&e, "/billing-groups", NULL, "billingGroups", "groupName", 2, out,
                      sizeof(out)),
             2);
    CHECK_STR(out, "b1,b2,c3");
    CHECK_EQ(list_all(&e, "/billing-groups", "\"namePrefixFilter\":\"b\"", "billingGroups",
                      "groupName", 2, out, sizeof(out)),
             1);
    CHECK_STR(out, "b1,b2");
    CHECK_EQ(api(&e, "GET", "/billing-groups", NULL, NULL, &r), 200);
    CHECK_STR(js(r, "billingGroups.0.groupArn"), ARN_PREFIX "billinggroup/b1");
    json_decref(r);

    /* update */
    CHECK_EQ(api(&e, "PATCH", "/billing-groups/b1", NULL,
                 "{\"billingGroupProperties\":{\"billingGroupDescription\":\"new\"},"
                 "\"expectedVersion\":1}",
                 &r),
             200);
    CHECK_EQ(ji(r, "version"), 2);
    json_decref(r);
    CHECK_EQ(req(&e, "PATCH", "/billing-groups/b1", NULL,
                 "{\"billingGroupProperties\":{},\"expectedVersion\":1}"),
             409);
    CHECK_EQ(req(&e, "PATCH", "/billing-groups/b1", NULL, "{}"), 400);
    CHECK_EQ(req(&e, "PATCH", "/billing-groups/zz", NULL, "{\"billingGroupProperties\":{}}"),
             404);

    /* membership: one billing group per thing, adding moves */
    CHECK_EQ(req(&e, "POST", "/things/t", NULL, "{\"billingGroupName\":\"b1\"}"), 200);
    CHECK_EQ(api(&e, "GET", "/things/t", NULL, NULL, &r), 200);
    CHECK_STR(js(r, "billingGroupName"), "b1");
    json_decref(r);
    /* idempotent create compares the billing group too */
    CHECK_EQ(req(&e, "POST", "/things/t", NULL, "{\"billingGroupName\":\"b1\"}"), 200);
    CHECK_EQ(req(&e, "POST", "/things/t", NULL, "{\"billingGroupName\":\"b2\"}"), 409);
    CHECK_EQ(req(&e, "PUT", "/billing-groups/addThingToBillingGroup", NULL,
                 "{\"billingGroupArn\":\"" ARN_PREFIX "billinggroup/b2\",\"thingName\":\"t\"}"),
             200);
    CHECK_EQ(api(&e, "GET", "/things/t", NULL, NULL, &r), 200);
    CHECK_STR(js(r, "billingGroupName"), "b2");
    CHECK_EQ(ji(r, "version"), 1); /* membership is not a thing update */
    json_decref(r);
    CHECK_EQ(list_all(&e, "/billing-groups/b1/things", NULL, "things", NULL, 5, out, sizeof(out)),
             1);
    CHECK_STR(out, "");
    CHECK_EQ(req(&e, "POST", "/things/u", NULL, NULL), 200);
    CHECK_EQ(req(&e, "PUT", "/billing-groups/addThingToBillingGroup", NULL,
                 "{\"billingGroupName\":\"b2\",\"thingName\":\"u\"}"),
             200);
    CHECK_EQ(list_all(&e, "/billing-groups/b2/things", NULL, "things", NULL, 1, out, sizeof(out)),
             2);
    CHECK_STR(out, "t,u");
    CHECK_EQ(req(&e, "PUT", "/billing-groups/removeThingFromBillingGroup", NULL,
                 "{\"billingGroupName\":\"b2\",\"thingName\":\"u\"}"),
             200);
    CHECK_EQ(req(&e, "PUT", "/billing-groups/removeThingFromBillingGroup", NULL,
                 "{\"billingGroupName\":\"b2\",\"thingName\":\"u\"}"),
             200);
    CHECK_EQ(list_all(&e, "/billing-groups/b2/things", NULL, "things", NULL, 1, out, sizeof(out)),
             1);
    CHECK_STR(out, "t");
    CHECK_EQ(req(&e, "PUT", "/billing-groups/addThingToBillingGroup", NULL,
                 "{\"thingName\":\"t\"}"),
             400);
    CHECK_EQ(req(&e, "PUT", "/billing-groups/addThingToBillingGroup", NULL,
                 "{\"billingGroupName\":\"zz\",\"thingName\":\"t\"}"),
             404);
    CHECK_EQ(req(&e, "PUT", "/billing-groups/addThingToBillingGroup", NULL,
                 "{\"billingGroupName\":\"b1\",\"thingName\":\"zz\"}"),
             404);
    CHECK_EQ(req(&e, "PUT", "/billing-groups/removeThingFromBillingGroup", NULL,
                 "{\"billingGroupName\":\"b1\",\"thingName\":\"zz\"}"),
             404);
    CHECK_EQ(req(&e, "GET", "/billing-groups/zz/things", NULL, NULL), 404);

    /* delete: missing is success; members simply leave */
    CHECK_EQ(req(&e, "DELETE", "/billing-groups/b2", "{\"expectedVersion\":\"9\"}", NULL), 409);
    CHECK_EQ(req(&e, "DELETE", "/billing-groups/b2", NULL, NULL), 200);
    CHECK_EQ(req(&e, "DELETE", "/billing-groups/b2", NULL, NULL), 200);
    CHECK_EQ(api(&e, "GET", "/things/t", NULL, NULL, &r), 200);
    CHECK(jp(r, "billingGroupName") == NULL);
    json_decref(r);
    CHECK_EQ(req(&e, "POST", "/billing-groups/b9", NULL,
                 "{\"billingGroupProperties\":{\"billingGroupDescription\":7}}"),
             400);
    CHECK_EQ(req(&e, "POST", "/billing-groups/b%2A", NULL, NULL), 400);
    env_close(&e);
}

/* ==== Thing principals ===================================================== */

ROOST_TEST(thing_principals)
{
    struct env e = env_open();
    put_cert(&e, CERT_A, "ACTIVE");
    put_cert(&e, CERT_B, "INACTIVE");
    CHECK_EQ(req(&e, "POST", "/things/t1", NULL, NULL), 200);
    CHECK_EQ(req(&e, "POST", "/things/t2", NULL, NULL), 200);
    const char *ha = "{\"x-amzn-principal\":\"" CERT_A_ARN "\"}";
    const char *hb = "{\"x-amzn-principal\":\"" CERT_B_ARN "\"}";
    CHECK_EQ(req(&e, "PUT", "/things/t1/principals", ha, NULL), 200);
    CHECK_EQ(req(&e, "PUT", "/things/t1/principals", ha, NULL), 200); /* again: fine */
    CHECK_EQ(req(&e, "PUT", "/things/t1/principals", hb, NULL), 200);
    CHECK_EQ(req(&e, "PUT", "/things/t2/principals", ha, NULL), 200);

    char names[4][129];
    CHECK_EQ(roost_registry_cert_things(e.reg, CERT_A, names, 4), 2);
    CHECK_STR(names[0], "t1");
    CHECK_STR(names[1], "t2");
    CHECK_EQ(roost_registry_cert_status(e.reg, CERT_B), ROOST_CERT_INACTIVE);

    char out[512];
    CHECK_EQ(list_all(&e, "/things/t1/principals", NULL, "principals", NULL, 1, out,
                      sizeof(out)),
             2);
    CHECK_STR(out, CERT_A_ARN "," CERT_B_ARN);
    char q[256];
    snprintf(q, sizeof(q), "\"x-amzn-principal\":\"%s\"", CERT_A_ARN);
    CHECK_EQ(list_all(&e, "/principals/things", q, "things", NULL, 1, out, sizeof(out)), 2);
    CHECK_STR(out, "t1,t2");

    /* exclusive attachments */
    CHECK_EQ(req(&e, "POST", "/things/t3", NULL, NULL), 200);
    CHECK_EQ(req(&e, "PUT", "/things/t3/principals",
                 "{\"x-amzn-principal\":\"" CERT_A_ARN "\",\"thingPrincipalType\":"
                 "\"EXCLUSIVE_THING\"}",
                 NULL),
             400); /* t1 and t2 hold it */
    CHECK_EQ(req(&e, "DELETE", "/things/t2/principals", ha, NULL), 200);
    CHECK_EQ(req(&e, "PUT", "/things/t1/principals",
                 "{\"x-amzn-principal\":\"" CERT_A_ARN "\",\"thingPrincipalType\":"
                 "\"EXCLUSIVE_THING\"}",
                 NULL),
             200); /* t1 alone: it may make its own attachment exclusive */
    CHECK_EQ(req(&e, "PUT", "/things/t3/principals", ha, NULL), 400);
    CHECK(strstr(last_msg, "exclusively attached to thing t1") != NULL);
    CHECK_EQ(req(&e, "PUT", "/things/t1/principals",
                 "{\"x-amzn-principal\":\"" CERT_A_ARN "\",\"thingPrincipalType\":"
                 "\"NON_EXCLUSIVE_THING\"}",
                 NULL),
             200);
    CHECK_EQ(req(&e, "PUT", "/things/t3/principals", ha, NULL), 200);
    CHECK_EQ(req(&e, "PUT", "/things/t3/principals",
                 "{\"x-amzn-principal\":\"" CERT_A_ARN "\",\"thingPrincipalType\":\"SOMETIMES\"}",
                 NULL),
             400);
    CHECK_EQ(roost_registry_cert_things(e.reg, CERT_A, names, 4), 2);

    /* detach, including one that is not attached */
    CHECK_EQ(req(&e, "DELETE", "/things/t1/principals", ha, NULL), 200);
    CHECK_EQ(req(&e, "DELETE", "/things/t1/principals", ha, NULL), 200);
    CHECK_EQ(roost_registry_cert_things(e.reg, CERT_A, names, 4), 1);
    CHECK_STR(names[0], "t3");
    CHECK_EQ(list_all(&e, "/things/t1/principals", NULL, "principals", NULL, 5, out,
                      sizeof(out)),
             1);
    CHECK_STR(out, CERT_B_ARN);

    /* errors */
    CHECK_EQ(req(&e, "PUT", "/things/t1/principals", NULL, NULL), 400);
    CHECK_EQ(req(&e, "PUT", "/things/t1/principals",
                 "{\"x-amzn-principal\":\"us-east-1:0f1e2d3c-0000-0000-0000-000000000000\"}",
                 NULL),
             400);
    CHECK_EQ(req(&e, "PUT", "/things/t1/principals",
                 "{\"x-amzn-principal\":\"" ARN_PREFIX "cert/abc\"}", NULL),
             400);
    CHECK_EQ(req(&e, "PUT", "/things/t1/principals",
                 "{\"x-amzn-principal\":\"" ARN_PREFIX "cert/"
                 "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc\"}",
                 NULL),
             404);
    CHECK_EQ(req(&e, "PUT", "/things/nope/principals", ha, NULL), 404);
    CHECK_EQ(req(&e, "DELETE", "/things/nope/principals", ha, NULL), 404);
    CHECK_EQ(req(&e, "DELETE", "/things/t1/principals", NULL, NULL), 400);
    CHECK_EQ(req(&e, "GET", "/things/nope/principals", NULL, NULL), 404);
    CHECK_STR(last_msg, "Failed to list principals for thing nope because the thing does not "
                        "exist in your account");
    CHECK_EQ(req(&e, "GET", "/principals/things", NULL, NULL), 400);
    CHECK_EQ(req(&e, "GET", "/principals/things",
                 "{\"x-amzn-principal\":\"" ARN_PREFIX "cert/"
                 "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd\"}",
                 NULL),
             404);
    /* upper-case hex in the ARN names the same certificate */
    CHECK_EQ(req(&e, "GET", "/principals/things",
                 "{\"x-amzn-principal\":\"" ARN_PREFIX "cert/"
                 "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}",
                 NULL),
             200);
    env_close(&e);
}
