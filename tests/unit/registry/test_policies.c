/*
 * test_policies.c - unit tests for src/registry/ops_policies.c: policy
 * documents (what MalformedPolicyException refuses), CreatePolicy and its
 * versions (limits, default version, ids never reused), DeletePolicy's
 * conflicts, and attachments to certificates and thing groups (limits,
 * recursion up the group tree, paging), run through roost_registry_route and
 * roost_registry_call inside ROOST_STORE_TXN ops on a real store.
 */
#define REGISTRY_ENV_API
#include "registry_env.h"

#include <stdio.h>
#include <stdlib.h>

/* ==== Harness: a store, a registry, one API call at a time ================= */

/* Percent-encodes a path label the way botocore does (safe: -._~). */
static void pct(const char *s, char *out, size_t cap)
{
    size_t o = 0;
    for (; *s && o + 4 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            strchr("-._~", c))
            out[o++] = (char)c;
        else
            o += (size_t)snprintf(out + o, cap - o, "%%%02X", c);
    }
    out[o] = '\0';
}

#define DOC_ALLOW_ALL                                                          \
    "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\","       \
    "\"Action\":\"iot:*\",\"Resource\":\"*\"}]}"
#define DOC_CONNECT                                                            \
    "{\"Version\":\"2012-10-17\",\"Statement\":{\"Effect\":\"Allow\","        \
    "\"Action\":[\"iot:Connect\"],\"Resource\":[\"arn:aws:iot:*:*:client/${iot:ClientId}\"]}}"

/* {"policyDocument": doc} as JSON text (caller frees). */
static char *doc_body(const char *doc)
{
    json_t *o = json_pack("{s:s}", "policyDocument", doc);
    char *s = json_dumps(o, 0);
    json_decref(o);
    return s;
}

static int create_policy(const char *name, const char *doc)
{
    char path[300];
    snprintf(path, sizeof(path), "/policies/%s", name);
    char *b = doc_body(doc);
    int status = api("POST", path, NULL, b);
    free(b);
    return status;
}

static void cert_arn(const char *id, char *out, size_t cap)
{
    snprintf(out, cap, "arn:aws:iot:us-east-1:123456789012:cert/%.64s", id);
}

static int attach(const char *policy, const char *target_arn)
{
    char path[300];
    snprintf(path, sizeof(path), "/target-policies/%s", policy);
    json_t *o = json_pack("{s:s}", "target", target_arn);
    char *b = json_dumps(o, 0);
    json_decref(o);
    int status = api("PUT", path, NULL, b);
    free(b);
    return status;
}

static int detach(const char *policy, const char *target_arn)
{
    char path[300];
    snprintf(path, sizeof(path), "/target-policies/%s", policy);
    json_t *o = json_pack("{s:s}", "target", target_arn);
    char *b = json_dumps(o, 0);
    json_decref(o);
    int status = api("POST", path, NULL, b);
    free(b);
    return status;
}

/* ListAttachedPolicies as "a,b,c" (names of one page) into out. */
static int attached(const char *target_arn, const char *query, char *out, size_t cap)
{
    char enc[600], path[700];
    pct(target_arn, enc, sizeof(enc));
    snprintf(path, sizeof(path), "/attached-policies/%s", enc);
    int status = api("POST", path, query, NULL);
    out[0] = '\0';
    size_t i;
    const json_t *it;
    json_array_foreach(json_object_get(last_result, "policies"), i, it) {
        size_t n = strlen(out);
        snprintf(out + n, cap - n, "%s%s", n ? "," : "",
                 json_string_value(json_object_get(it, "policyName")));
        CHECK(json_is_string(json_object_get(it, "policyArn")));
    }
    return status;
}

static void new_cert(char out[65])
{
    REQUIRE_EQ(api("POST", "/keys-and-certificate", NULL, NULL), 200);
    snprintf(out, 65, "%s", rs("certificateId"));
}

/* ==== Policy documents ===================================================== */

ROOST_TEST(policy_document_validation)
{
    static const char *const bad[] = {
        "",
        "   ",
        "not json",
        "[]",
        "{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"iot:*\",\"Resource\":\"*\"}]}",
        "{\"Version\":\"2020-01-01\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"iot:*\","
        "\"Resource\":\"*\"}]}",
        "{\"Version\":\"2012-10-17\"}",
        "{\"Version\":\"2012-10-17\",\"Statement\":[]}",
        "{\"Version\":\"2012-10-17\",\"Statement\":\"x\"}",
        "{\"Version\":\"2012-10-17\",\"Statement\":[5]}",
        "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Maybe\",\"Action\":\"iot:*\","
        "\"Resource\":\"*\"}]}",
        "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Action\":\"iot:*\",\"Resource\":\"*\"}]}",
        "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Resource\":\"*\"}]}",
        "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"iot:*\","
        "\"NotAction\":\"iot:Connect\",\"Resource\":\"*\"}]}",
        "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"iot:*\"}]}",
        "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"iot:*\","
        "\"Resource\":5}]}",
        "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":[],"
        "\"Resource\":\"*\"}]}",
        "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":[\"a\",1],"
        "\"Resource\":\"*\"}]}",
        "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"iot:*\","
        "\"Resource\":\"*\",\"Condition\":\"x\"}]}",
        "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"iot:*\","
        "\"Resource\":\"*\",\"Condition\":{\"StringEquals\":[1]}}]}",
        "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"iot:*\","
        "\"Resource\":\"*\",\"Principal\":\"*\"}]}",
        "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"iot:*\","
        "\"Resource\":\"*\"}],\"Extra\":1}",
        "{\"Version\":\"2012-10-17\",\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":"
        "\"Allow\",\"Action\":\"iot:*\",\"Resource\":\"*\"}]}",
    };
    static const char *const good[] = {
        DOC_ALLOW_ALL,
        DOC_CONNECT,
        "{\"Version\":\"2012-10-17\",\"Id\":\"x\",\"Statement\":[{\"Sid\":\"s1\",\"Effect\":"
        "\"Deny\",\"NotAction\":[\"iot:Publish\",\"iot:Receive\"],\"NotResource\":\"arn:x\","
        "\"Condition\":{\"Bool\":{\"iot:Connection.Thing.IsAttached\":[\"true\"]},"
        "\"ForAllValues:StringEquals\":{\"iot:ConnectAttributes\":[\"PersistentConnect\"]}}}]}",
    };
    char err[300];
    for (size_t i = 0; i < ROOST_ARRAY_LEN(bad); i++) {
        err[0] = '\0';
        int rc = registry__policy_check(bad[i], err, sizeof(err));
        if (rc == 0)
            fprintf(stderr, "  accepted bad document %zu: %s\n", i, bad[i]);
        CHECK(rc != 0);
        CHECK(err[0] != '\0');
    }
    for (size_t i = 0; i < ROOST_ARRAY_LEN(good); i++) {
        int rc = registry__policy_check(good[i], err, sizeof(err));
        if (rc)
            fprintf(stderr, "  refused good document %zu: %s\n", i, err);
        CHECK_OK(rc);
    }
    /* 2048 characters excluding whitespace: whitespace does not count. */
    const char *pre = "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\","
                      "\"Action\":\"iot:*\",\"Resource\":\"";
    const char *post = "\"}]}";
    size_t fixed = strlen(pre) + strlen(post);
    char *doc = roost_xmalloc(8192);
    size_t fill = 2048 - fixed;
    snprintf(doc, 8192, "%s%*s", pre, 0, "");
    memset(doc + strlen(pre), 'a', fill);
    snprintf(doc + strlen(pre) + fill, 8192 - strlen(pre) - fill, "%s", post);
    CHECK_OK(registry__policy_check(doc, err, sizeof(err)));
    char *spaced = roost_xmalloc(8192);
    snprintf(spaced, 8192, "   \n\t%s\n\n      ", doc);
    CHECK_OK(registry__policy_check(spaced, err, sizeof(err)));
    size_t n = strlen(pre) + fill;
    memmove(doc + n + 1, doc + n, strlen(post) + 1);
    doc[n] = 'a'; /* 2049 */
    CHECK_EQ(registry__policy_check(doc, err, sizeof(err)), ROOST_ETOOBIG);
    roost_free(spaced);
    roost_free(doc);

    /* Through the API: MalformedPolicyException 400. */
    env_open();
    for (size_t i = 0; i < ROOST_ARRAY_LEN(bad); i++) {
        CHECK_EQ(create_policy("p", bad[i]), 400);
        CHECK_STR(last_code, "MalformedPolicyException");
    }
    CHECK_EQ(api("GET", "/policies/p", NULL, NULL), 404);
    env_close();
}

/* ==== CreatePolicy, GetPolicy, ListPolicies ================================ */

ROOST_TEST(create_and_get_policy)
{
    env_open();
    REQUIRE_EQ(create_policy("p.1=a,b@c-d+e_f", DOC_ALLOW_ALL), 200);
    CHECK_STR(rs("policyName"), "p.1=a,b@c-d+e_f");
    CHECK_STR(rs("policyArn"), "arn:aws:iot:us-east-1:123456789012:policy/p.1=a,b@c-d+e_f");
    CHECK_STR(rs("policyDocument"), DOC_ALLOW_ALL);
    CHECK_STR(rs("policyVersionId"), "1");
    CHECK(!last_policies_changed); /* attached to nothing yet: nobody's policies change */

    REQUIRE_EQ(api("GET", "/policies/p.1=a,b@c-d+e_f", NULL, NULL), 200);
    CHECK_STR(rs("policyName"), "p.1=a,b@c-d+e_f");
    CHECK_STR(rs("policyDocument"), DOC_ALLOW_ALL);
    CHECK_STR(rs("defaultVersionId"), "1");
    CHECK(json_is_number(json_object_get(last_result, "creationDate")));
    CHECK(json_is_number(json_object_get(last_result, "lastModifiedDate")));
    CHECK(json_is_string(json_object_get(last_result, "generationId")));
    CHECK(json_object_get(last_result, "lastVersionId") == NULL); /* internal */

    CHECK_EQ(create_policy("p.1=a,b@c-d+e_f", DOC_CONNECT), 409);
    CHECK_STR(last_code, "ResourceAlreadyExistsException");
    CHECK_STR(json_string_value(json_object_get(last_extra, "resourceArn")),
              "arn:aws:iot:us-east-1:123456789012:policy/p.1=a,b@c-d+e_f");
    CHECK_STR(json_string_value(json_object_get(last_extra, "resourceId")), "p.1=a,b@c-d+e_f");

    CHECK_EQ(create_policy("bad%20name", DOC_ALLOW_ALL), 400);
    CHECK_STR(last_code, "InvalidRequestException");
    char longname[200];
    memset(longname, 'a', 129);
    longname[129] = '\0';
    CHECK_EQ(create_policy(longname, DOC_ALLOW_ALL), 400);
    CHECK_EQ(api("POST", "/policies/q", NULL, "{}"), 400);
    CHECK_STR(last_code, "InvalidRequestException");
    CHECK_EQ(api("POST", "/policies/q", NULL, NULL), 400);
    CHECK_EQ(api("POST", "/policies/q", NULL, "{\"policyDocument\":{\"Version\":\"x\"}}"), 400);
    CHECK_STR(last_code, "InvalidRequestException");
    CHECK_EQ(api("GET", "/policies/q", NULL, NULL), 404);
    CHECK_STR(last_code, "ResourceNotFoundException");
    CHECK_EQ(api("GET", "/policies/bad%24name", NULL, NULL), 400);
    /* Tags are accepted (and ignored); a non-list is refused. */
    json_t *o = json_pack("{s:s,s:[{s:s,s:s}]}", "policyDocument", DOC_CONNECT, "tags", "Key", "k",
                          "Value", "v");
    char *b = json_dumps(o, 0);
    json_decref(o);
    CHECK_EQ(api("POST", "/policies/tagged", NULL, b), 200);
    free(b);
    CHECK_EQ(api("POST", "/policies/tagged2", NULL,
                 "{\"policyDocument\":\"{}\",\"tags\":\"k=v\"}"),
             400);
    CHECK_STR(last_code, "InvalidRequestException");
    env_close();
}

ROOST_TEST(list_policies_pages)
{
    env_open();
    const char *names[] = {"zeta", "alpha", "mid", "beta", "omega"};
    for (size_t i = 0; i < ROOST_ARRAY_LEN(names); i++) {
        next_ms();
        REQUIRE_EQ(create_policy(names[i], DOC_ALLOW_ALL), 200);
    }
    REQUIRE_EQ(api("GET", "/policies", NULL, NULL), 200);
    const json_t *list = json_object_get(last_result, "policies");
    REQUIRE_EQ(json_array_size(list), 5);
    CHECK(json_object_get(last_result, "nextMarker") == NULL);
    /* Newest first by default, by creation in ascending order. */
    CHECK_STR(json_string_value(json_object_get(json_array_get(list, 0), "policyName")), "omega");
    CHECK_STR(json_string_value(json_object_get(json_array_get(list, 0), "policyArn")),
              "arn:aws:iot:us-east-1:123456789012:policy/omega");
    char seen[200] = "", q[1200];
    char marker[1100] = "";
    int pages = 0;
    do {
        snprintf(q, sizeof(q), "pageSize=2&isAscendingOrder=true%s%s",
                 marker[0] ? "&marker=" : "", marker);
        REQUIRE_EQ(api("GET", "/policies", q, NULL), 200);
        size_t i;
        const json_t *it;
        json_array_foreach(json_object_get(last_result, "policies"), i, it) {
            size_t n = strlen(seen);
            snprintf(seen + n, sizeof(seen) - n, "%s%s", n ? "," : "",
                     json_string_value(json_object_get(it, "policyName")));
        }
        const char *next = rs("nextMarker");
        snprintf(marker, sizeof(marker), "%s", next ? next : "");
        pages++;
    } while (marker[0] && pages < 10);
    CHECK_EQ(pages, 3);
    CHECK_STR(seen, "zeta,alpha,mid,beta,omega");
    CHECK_EQ(api("GET", "/policies", "pageSize=0", NULL), 400);
    CHECK_EQ(api("GET", "/policies", "marker=%%%", NULL), 400);
    env_close();
}

/* ==== Versions ============================================================= */

static const char *version_ids(char *out, size_t cap)
{
    REQUIRE_EQ(api("GET", "/policies/pv/version", NULL, NULL), 200);
    out[0] = '\0';
    size_t i;
    const json_t *it;
    json_array_foreach(json_object_get(last_result, "policyVersions"), i, it) {
        size_t n = strlen(out);
        bool def = json_is_true(json_object_get(it, "isDefaultVersion"));
        CHECK(json_is_boolean(json_object_get(it, "isDefaultVersion")));
        CHECK(json_is_number(json_object_get(it, "createDate")));
        snprintf(out + n, cap - n, "%s%s%s", n ? "," : "",
                 json_string_value(json_object_get(it, "versionId")), def ? "*" : "");
    }
    return out;
}

ROOST_TEST(policy_versions)
{
    env_open();
    char ids[200];
    char *b = doc_body(DOC_CONNECT);
    CHECK_EQ(api("POST", "/policies/pv/version", NULL, b), 404);
    REQUIRE_EQ(create_policy("pv", DOC_ALLOW_ALL), 200);
    CHECK_STR(version_ids(ids, sizeof(ids)), "1*");

    REQUIRE_EQ(api("POST", "/policies/pv/version", NULL, b), 200);
    CHECK_STR(rs("policyVersionId"), "2");
    CHECK(json_is_false(json_object_get(last_result, "isDefaultVersion")));
    CHECK_STR(rs("policyArn"), "arn:aws:iot:us-east-1:123456789012:policy/pv");
    CHECK_STR(rs("policyDocument"), DOC_CONNECT);
    CHECK(!last_policies_changed);
    REQUIRE_EQ(api("POST", "/policies/pv/version", "setAsDefault=true", b), 200);
    CHECK_STR(rs("policyVersionId"), "3");
    CHECK(json_is_true(json_object_get(last_result, "isDefaultVersion")));
    CHECK(last_policies_changed);
    REQUIRE_EQ(api("GET", "/policies/pv", NULL, NULL), 200);
    CHECK_STR(rs("defaultVersionId"), "3");
    CHECK_STR(rs("policyDocument"), DOC_CONNECT);
    CHECK_EQ(api("POST", "/policies/pv/version", "setAsDefault=perhaps", b), 400);
    CHECK_EQ(api("POST", "/policies/pv/version", NULL, "{\"policyDocument\":\"{}\"}"), 400);
    CHECK_STR(last_code, "MalformedPolicyException");
    REQUIRE_EQ(api("POST", "/policies/pv/version", NULL, b), 200);
    REQUIRE_EQ(api("POST", "/policies/pv/version", NULL, b), 200);
    CHECK_STR(version_ids(ids, sizeof(ids)), "5,4,3*,2,1");
    CHECK_EQ(api("POST", "/policies/pv/version", NULL, b), 409);
    CHECK_STR(last_code, "VersionsLimitExceededException");

    /* GetPolicyVersion. */
    REQUIRE_EQ(api("GET", "/policies/pv/version/1", NULL, NULL), 200);
    CHECK_STR(rs("policyVersionId"), "1");
    CHECK_STR(rs("policyName"), "pv");
    CHECK_STR(rs("policyDocument"), DOC_ALLOW_ALL);
    CHECK(json_is_false(json_object_get(last_result, "isDefaultVersion")));
    CHECK(json_is_number(json_object_get(last_result, "creationDate")));
    CHECK(json_is_string(json_object_get(last_result, "generationId")));
    REQUIRE_EQ(api("GET", "/policies/pv/version/3", NULL, NULL), 200);
    CHECK(json_is_true(json_object_get(last_result, "isDefaultVersion")));
    CHECK_EQ(api("GET", "/policies/pv/version/9", NULL, NULL), 404);
    CHECK_STR(last_code, "ResourceNotFoundException");
    CHECK_EQ(api("GET", "/policies/pv/version/x1", NULL, NULL), 400);
    CHECK_EQ(api("GET", "/policies/nope/version/1", NULL, NULL), 404);

    /* SetDefaultPolicyVersion. */
    CHECK_EQ(api("PATCH", "/policies/pv/version/1", NULL, NULL), 200);
    CHECK(last_policies_changed);
    REQUIRE_EQ(api("GET", "/policies/pv", NULL, NULL), 200);
    CHECK_STR(rs("defaultVersionId"), "1");
    CHECK_STR(rs("policyDocument"), DOC_ALLOW_ALL);
    CHECK_EQ(api("PATCH", "/policies/pv/version/1", NULL, NULL), 200); /* again: no-op */
    CHECK(!last_policies_changed);
    CHECK_EQ(api("PATCH", "/policies/pv/version/8", NULL, NULL), 404);
    CHECK_STR(version_ids(ids, sizeof(ids)), "5,4,3,2,1*");

    /* DeletePolicyVersion: never the default; ids are not reused. */
    CHECK_EQ(api("DELETE", "/policies/pv/version/1", NULL, NULL), 409);
    CHECK_STR(last_code, "DeleteConflictException");
    CHECK_EQ(api("DELETE", "/policies/pv/version/5", NULL, NULL), 200);
    CHECK_EQ(api("DELETE", "/policies/pv/version/5", NULL, NULL), 404);
    REQUIRE_EQ(api("POST", "/policies/pv/version", NULL, b), 200);
    CHECK_STR(rs("policyVersionId"), "6");
    CHECK_STR(version_ids(ids, sizeof(ids)), "6,4,3,2,1*");

    /* DeletePolicy waits for the other versions to go. */
    CHECK_EQ(api("DELETE", "/policies/pv", NULL, NULL), 409);
    CHECK_STR(last_code, "DeleteConflictException");
    const char *extra[] = {"6", "4", "3", "2"};
    for (size_t i = 0; i < ROOST_ARRAY_LEN(extra); i++) {
        char path[100];
        snprintf(path, sizeof(path), "/policies/pv/version/%s", extra[i]);
        CHECK_EQ(api("DELETE", path, NULL, NULL), 200);
    }
    CHECK_EQ(api("DELETE", "/policies/pv", NULL, NULL), 200);
    CHECK(last_policies_changed);
    CHECK_EQ(api("GET", "/policies/pv", NULL, NULL), 404);
    CHECK_EQ(api("GET", "/policies/pv/version", NULL, NULL), 404);
    char *v1 = get_doc("policyversion", "pv/1");
    CHECK(v1 == NULL);
    roost_free(v1);
    CHECK_EQ(api("DELETE", "/policies/pv", NULL, NULL), 404);
    /* The name is free again and starts at version 1. */
    REQUIRE_EQ(create_policy("pv", DOC_ALLOW_ALL), 200);
    CHECK_STR(version_ids(ids, sizeof(ids)), "1*");
    free(b);
    env_close();
}

/* ==== Attachments ========================================================== */

ROOST_TEST(attach_detach_certificate)
{
    env_open();
    char id[65], arn[200], other[200], names[400];
    new_cert(id);
    cert_arn(id, arn, sizeof(arn));
    REQUIRE_EQ(create_policy("p1", DOC_ALLOW_ALL), 200);
    REQUIRE_EQ(create_policy("p2", DOC_CONNECT), 200);

    CHECK_EQ(attach("p1", arn), 200);
    CHECK_EQ(last_n_certs, 1);
    CHECK(!last_policies_changed); /* that certificate's connections only, not everyone's */
    CHECK_EQ(attach("p1", arn), 200); /* idempotent */
    CHECK_EQ(attach("p2", arn), 200);
    CHECK_EQ(attached(arn, NULL, names, sizeof(names)), 200);
    CHECK_STR(names, "p1,p2");
    CHECK(json_object_get(last_result, "nextMarker") == NULL);

    /* Unknown policy, unknown certificate, bad targets. */
    CHECK_EQ(attach("nope", arn), 404);
    CHECK_STR(last_code, "ResourceNotFoundException");
    cert_arn("3333333333333333333333333333333333333333333333333333333333333333", other,
             sizeof(other));
    CHECK_EQ(attach("p1", other), 404);
    CHECK_EQ(attached(other, NULL, names, sizeof(names)), 404);
    CHECK_EQ(attach("p1", "arn:aws:iot:us-east-1:123456789012:cert/abc"), 400);
    CHECK_EQ(attach("p1", "arn:aws:iot:us-east-1:123456789012:thing/t1"), 400);
    CHECK_EQ(attach("p1", "arn:aws:s3:::bucket/cert/x"), 400);
    CHECK_EQ(attach("p1", "us-east-1:7d1b0c6e-5c1e-4d7a-9f2e-1a2b3c4d5e6f"), 400);
    CHECK_STR(last_code, "InvalidRequestException");
    CHECK_EQ(api("PUT", "/target-policies/p1", NULL, "{}"), 400);
    CHECK_EQ(api("PUT", "/target-policies/p1", NULL, "{\"target\":7}"), 400);
    /* Another region in the ARN still names this server's certificate. */
    char other_region[200];
    snprintf(other_region, sizeof(other_region), "arn:aws:iot:eu-west-1:999999999999:cert/%s", id);
    CHECK_EQ(attach("p1", other_region), 200);

    /* ListTargetsForPolicy. */
    REQUIRE_EQ(api("POST", "/policy-targets/p1", NULL, NULL), 200);
    const json_t *targets = json_object_get(last_result, "targets");
    REQUIRE_EQ(json_array_size(targets), 1);
    CHECK_STR(json_string_value(json_array_get(targets, 0)), arn);
    CHECK_EQ(api("POST", "/policy-targets/nope", NULL, NULL), 404);

    /* Policies attached block DeletePolicy. */
    CHECK_EQ(api("DELETE", "/policies/p1", NULL, NULL), 409);
    CHECK_STR(last_code, "DeleteConflictException");

    /* DetachPolicy: idempotent, even for unknown names. */
    CHECK_EQ(detach("p1", arn), 200);
    CHECK_EQ(last_n_certs, 1);
    CHECK_EQ(detach("p1", arn), 200);
    CHECK_EQ(last_n_certs, 0);
    CHECK_EQ(detach("nope", arn), 200);
    CHECK_EQ(detach("p1", "junk"), 400);
    CHECK_EQ(attached(arn, NULL, names, sizeof(names)), 200);
    CHECK_STR(names, "p2");
    CHECK_EQ(api("DELETE", "/policies/p1", NULL, NULL), 200);
    CHECK_EQ(attached("junk", NULL, names, sizeof(names)), 400);
    env_close();
}

ROOST_TEST(attach_limit_and_paging)
{
    env_open();
    char id[65], arn[200], names[600];
    new_cert(id);
    cert_arn(id, arn, sizeof(arn));
    for (int i = 0; i < 11; i++) {
        char name[16];
        snprintf(name, sizeof(name), "p%02d", i);
        REQUIRE_EQ(create_policy(name, DOC_ALLOW_ALL), 200);
        CHECK_EQ(attach(name, arn), i < 10 ? 200 : 410);
    }
    CHECK_STR(last_code, "LimitExceededException");
    CHECK_EQ(attach("p00", arn), 200); /* already attached: not a new one */

    /* Pages of 4 by name. */
    char all[600] = "", marker[1100] = "", q[1200];
    int pages = 0;
    do {
        snprintf(q, sizeof(q), "pageSize=4%s%s", marker[0] ? "&marker=" : "", marker);
        REQUIRE_EQ(attached(arn, q, names, sizeof(names)), 200);
        size_t n = strlen(all);
        if (n < sizeof(all) - 1)
            snprintf(all + n, sizeof(all) - n, "%s%.500s", n && names[0] ? "," : "", names);
        const char *next = rs("nextMarker");
        snprintf(marker, sizeof(marker), "%s", next ? next : "");
        pages++;
    } while (marker[0] && pages < 10);
    CHECK_EQ(pages, 3);
    CHECK_STR(all, "p00,p01,p02,p03,p04,p05,p06,p07,p08,p09");
    CHECK_EQ(attached(arn, "pageSize=300", names, sizeof(names)), 400);
    CHECK_EQ(attached(arn, "marker=xyz", names, sizeof(names)), 400);

    /* ListTargetsForPolicy pages too. */
    char ids[3][65];
    for (int i = 0; i < 3; i++) {
        char a[200];
        new_cert(ids[i]);
        cert_arn(ids[i], a, sizeof(a));
        REQUIRE_EQ(attach("p10", a), 200);
    }
    size_t total = 0;
    marker[0] = '\0';
    pages = 0;
    do {
        snprintf(q, sizeof(q), "pageSize=2%s%s", marker[0] ? "&marker=" : "", marker);
        REQUIRE_EQ(api("POST", "/policy-targets/p10", q, NULL), 200);
        total += json_array_size(json_object_get(last_result, "targets"));
        const char *next = rs("nextMarker");
        snprintf(marker, sizeof(marker), "%s", next ? next : "");
        pages++;
    } while (marker[0] && pages < 10);
    CHECK_EQ(total, 3);
    CHECK_EQ(pages, 2);
    env_close();
}

ROOST_TEST(attach_thing_group_recursive)
{
    env_open();
    /* Groups root <- mid <- leaf, made directly in the store. */
    put_doc("thinggroup", "root", "{\"thingGroupName\":\"root\"}");
    put_doc("thinggroup", "mid", "{\"thingGroupName\":\"mid\"}");
    put_doc("thinggroup", "leaf", "{\"thingGroupName\":\"leaf\"}");
    put_link("parent", "thinggroup", "mid", "thinggroup", "root");
    put_link("parent", "thinggroup", "leaf", "thinggroup", "mid");
    const char *g_root = "arn:aws:iot:us-east-1:123456789012:thinggroup/root";
    const char *g_mid = "arn:aws:iot:us-east-1:123456789012:thinggroup/mid";
    const char *g_leaf = "arn:aws:iot:us-east-1:123456789012:thinggroup/leaf";
    REQUIRE_EQ(create_policy("a", DOC_ALLOW_ALL), 200);
    REQUIRE_EQ(create_policy("b", DOC_ALLOW_ALL), 200);
    REQUIRE_EQ(create_policy("c", DOC_ALLOW_ALL), 200);
    CHECK_EQ(attach("c", g_root), 200);
    CHECK_EQ(last_n_certs, 0);
    CHECK(last_policies_changed);
    CHECK_EQ(attach("a", g_mid), 200);
    CHECK_EQ(attach("c", g_mid), 200);
    CHECK_EQ(attach("b", g_leaf), 200);
    CHECK_EQ(attach("a", "arn:aws:iot:us-east-1:123456789012:thinggroup/ghost"), 404);
    CHECK_EQ(attach("a", "arn:aws:iot:us-east-1:123456789012:thinggroup/bad$name"), 400);

    char names[200];
    CHECK_EQ(attached(g_leaf, NULL, names, sizeof(names)), 200);
    CHECK_STR(names, "b");
    CHECK_EQ(attached(g_leaf, "recursive=true", names, sizeof(names)), 200);
    CHECK_STR(names, "a,b,c"); /* c twice up the tree, listed once */
    CHECK_EQ(attached(g_leaf, "recursive=true&pageSize=2", names, sizeof(names)), 200);
    CHECK_STR(names, "a,b");
    CHECK(rs("nextMarker") != NULL);
    CHECK_EQ(attached(g_mid, "recursive=true", names, sizeof(names)), 200);
    CHECK_STR(names, "a,c");
    CHECK_EQ(attached(g_root, "recursive=true", names, sizeof(names)), 200);
    CHECK_STR(names, "c");
    CHECK_EQ(attached(g_root, "recursive=sure", names, sizeof(names)), 400);

    REQUIRE_EQ(api("POST", "/policy-targets/c", NULL, NULL), 200);
    const json_t *t = json_object_get(last_result, "targets");
    REQUIRE_EQ(json_array_size(t), 2);
    CHECK_STR(json_string_value(json_array_get(t, 0)), g_mid);
    CHECK_STR(json_string_value(json_array_get(t, 1)), g_root);
    CHECK_EQ(detach("c", g_mid), 200);
    CHECK_EQ(attached(g_mid, NULL, names, sizeof(names)), 200);
    CHECK_STR(names, "a");
    env_close();
}
