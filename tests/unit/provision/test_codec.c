/*
 * test_codec.c - fleet provisioning's pure codec (src/provision/codec.c):
 * which topics are requests, JSON and CBOR request payloads, and answers
 * encoded in the request's format (CBOR bytes checked against RFC 8949's
 * encoding by hand).
 */
#include "provision/provision.h"
#include "roost_test.h"

static int parse(const char *topic, const void *payload, size_t len, struct roost_fleet_request *r,
                 char *err)
{
    return roost_fleet_request_parse(topic, strlen(topic), payload, len, r, err, 256);
}

ROOST_TEST(topics_name_requests_only)
{
    struct roost_fleet_request r;
    char err[256];
    static const struct {
        const char *topic;
        enum roost_fleet_op op;
        bool cbor;
    } cases[] = {
        {"$aws/certificates/create/json", ROOST_FLEET_CREATE_KEYS, false},
        {"$aws/certificates/create/cbor", ROOST_FLEET_CREATE_KEYS, true},
        {"$aws/certificates/create-from-csr/json", ROOST_FLEET_CREATE_FROM_CSR, false},
        {"$aws/certificates/create-from-csr/cbor", ROOST_FLEET_CREATE_FROM_CSR, true},
        {"$aws/certificates/create/json/accepted", ROOST_FLEET_NONE, false},
        {"$aws/certificates/create/json/rejected", ROOST_FLEET_NONE, false},
        {"$aws/certificates/create/xml", ROOST_FLEET_NONE, false},
        {"$aws/certificates/create", ROOST_FLEET_NONE, false},
        {"$aws/certificates/registered/abc", ROOST_FLEET_NONE, false},
        {"$aws/provisioning-templates/t1/provision/json/accepted", ROOST_FLEET_NONE, false},
        {"$aws/provisioning-templates/t1/provision", ROOST_FLEET_NONE, false},
        {"$aws/provisioning-templates//x/provision/json", ROOST_FLEET_NONE, false},
    };
    for (size_t i = 0; i < ROOST_ARRAY_LEN(cases); i++) {
        /* an empty payload: valid for any request but CreateCertificateFromCsr */
        int rc = parse(cases[i].topic, "", 0, &r, err);
        CHECK_EQ(rc, cases[i].op == ROOST_FLEET_CREATE_FROM_CSR ? ROOST_EPROTO : 0);
        CHECK_EQ(r.op, cases[i].op);
        if (r.op)
            CHECK_EQ(r.cbor, cases[i].cbor);
        roost_fleet_request_cleanup(&r);
    }
}

ROOST_TEST(register_thing_json)
{
    struct roost_fleet_request r;
    char err[256];
    const char *body = "{\"certificateOwnershipToken\":\"tok\",\"parameters\":{\"SerialNumber\":\"42\"}}";
    REQUIRE_OK(parse("$aws/provisioning-templates/My_Tpl-1/provision/json", body, strlen(body), &r,
                     err));
    CHECK_EQ(r.op, ROOST_FLEET_REGISTER_THING);
    CHECK_STR(r.template_name, "My_Tpl-1");
    CHECK_STR(r.token, "tok");
    REQUIRE(r.parameters);
    CHECK_STR(json_string_value(json_object_get(r.parameters, "SerialNumber")), "42");
    roost_fleet_request_cleanup(&r);
}

ROOST_TEST(bad_payloads_are_rejected_with_a_reason)
{
    struct roost_fleet_request r;
    char err[256];
    const char *tpl = "$aws/provisioning-templates/t/provision/json";
    CHECK_EQ(parse(tpl, "{", 1, &r, err), ROOST_EMALFORMED);
    CHECK_EQ(r.op, ROOST_FLEET_REGISTER_THING); /* the caller knows where to answer */
    CHECK(strstr(err, "JSON"));
    roost_fleet_request_cleanup(&r);
    CHECK_EQ(parse(tpl, "[]", 2, &r, err), ROOST_EMALFORMED);
    roost_fleet_request_cleanup(&r);
    const char *nums = "{\"parameters\":{\"a\":1}}";
    CHECK_EQ(parse(tpl, nums, strlen(nums), &r, err), ROOST_EPROTO);
    CHECK(strstr(err, "parameters"));
    roost_fleet_request_cleanup(&r);
    const char *tok = "{\"certificateOwnershipToken\":5}";
    CHECK_EQ(parse(tpl, tok, strlen(tok), &r, err), ROOST_EPROTO);
    roost_fleet_request_cleanup(&r);
    CHECK_EQ(parse("$aws/certificates/create-from-csr/json", "{}", 2, &r, err), ROOST_EPROTO);
    CHECK(strstr(err, "certificateSigningRequest"));
    roost_fleet_request_cleanup(&r);
    /* a name AWS could not have created */
    CHECK_EQ(parse("$aws/provisioning-templates/a.b/provision/json", "{}", 2, &r, err),
             ROOST_EPROTO);
    CHECK_EQ(r.op, ROOST_FLEET_REGISTER_THING);
    roost_fleet_request_cleanup(&r);
    /* duplicate keys are ambiguous: refused */
    const char *dup = "{\"certificateOwnershipToken\":\"a\",\"certificateOwnershipToken\":\"b\"}";
    CHECK_EQ(parse(tpl, dup, strlen(dup), &r, err), ROOST_EMALFORMED);
    roost_fleet_request_cleanup(&r);
}

ROOST_TEST(empty_payload_is_an_empty_request)
{
    struct roost_fleet_request r;
    char err[256];
    CHECK_OK(parse("$aws/certificates/create/json", "", 0, &r, err));
    CHECK_EQ(r.op, ROOST_FLEET_CREATE_KEYS);
    roost_fleet_request_cleanup(&r);
}

ROOST_TEST(register_thing_cbor)
{
    /* {"certificateOwnershipToken": "tok", "parameters": {"k": "v"}} */
    static const uint8_t body[] = {
        0xa2, 0x78, 0x19, 'c', 'e', 'r', 't', 'i', 'f', 'i', 'c', 'a', 't', 'e', 'O', 'w', 'n',
        'e', 'r', 's', 'h', 'i', 'p', 'T', 'o', 'k', 'e', 'n', 0x63, 't', 'o', 'k', 0x6a,
        'p', 'a', 'r', 'a', 'm', 'e', 't', 'e', 'r', 's', 0xa1, 0x61, 'k', 0x61, 'v'};
    struct roost_fleet_request r;
    char err[256];
    REQUIRE_OK(parse("$aws/provisioning-templates/t/provision/cbor", body, sizeof(body), &r, err));
    CHECK(r.cbor);
    CHECK_STR(r.token, "tok");
    CHECK_STR(json_string_value(json_object_get(r.parameters, "k")), "v");
    roost_fleet_request_cleanup(&r);
    /* trailing garbage, a byte string, a truncated map */
    uint8_t bad[sizeof(body) + 1];
    memcpy(bad, body, sizeof(body));
    bad[sizeof(body)] = 0x00;
    CHECK_EQ(parse("$aws/provisioning-templates/t/provision/cbor", bad, sizeof(bad), &r, err),
             ROOST_EMALFORMED);
    roost_fleet_request_cleanup(&r);
    static const uint8_t bytes[] = {0xa1, 0x61, 'k', 0x41, 0x00};
    CHECK_EQ(parse("$aws/certificates/create/cbor", bytes, sizeof(bytes), &r, err),
             ROOST_EMALFORMED);
    roost_fleet_request_cleanup(&r);
    CHECK_EQ(parse("$aws/provisioning-templates/t/provision/cbor", body, 10, &r, err),
             ROOST_EMALFORMED);
    roost_fleet_request_cleanup(&r);
}

ROOST_TEST(answers_in_the_request_format)
{
    json_t *a = json_pack("{s:i,s:s}", "statusCode", 400, "errorCode", "X");
    uint8_t *out = NULL;
    size_t n = 0;
    REQUIRE_OK(roost_fleet_encode(a, false, &out, &n));
    json_t *back = json_loadb((const char *)out, n, 0, NULL);
    CHECK(json_equal(a, back));
    json_decref(back);
    roost_free(out);
    REQUIRE_OK(roost_fleet_encode(a, true, &out, &n));
    json_t *decoded = NULL;
    REQUIRE_OK(roost_fleet_cbor_decode(out, n, &decoded));
    CHECK(json_equal(a, decoded));
    json_decref(decoded);
    roost_free(out);
    json_decref(a);
    /* exact bytes: {"k": "v"} is a1 61 6b 61 76 */
    json_t *kv = json_pack("{s:s}", "k", "v");
    REQUIRE_OK(roost_fleet_encode(kv, true, &out, &n));
    static const uint8_t want[] = {0xa1, 0x61, 'k', 0x61, 'v'};
    REQUIRE_EQ(n, sizeof(want));
    CHECK(memcmp(out, want, n) == 0);
    roost_free(out);
    json_decref(kv);
    /* negative integers and nesting survive the round trip */
    json_t *neg = json_pack("{s:i,s:{s:[b,n]}}", "n", -7, "o", "a", 1);
    REQUIRE_OK(roost_fleet_encode(neg, true, &out, &n));
    REQUIRE_OK(roost_fleet_cbor_decode(out, n, &decoded));
    CHECK(json_equal(neg, decoded));
    json_decref(decoded);
    roost_free(out);
    json_decref(neg);
}

ROOST_TEST(cbor_sizes_must_fit_the_input)
{
    json_t *j = NULL;
    /* a map that declares 0xbabababa pairs in five bytes: refused without
     * allocating for them (libFuzzer found cbor_load doing just that) */
    static const uint8_t huge_map[] = {0xba, 0xba, 0xba, 0xba, 0xba, 0x61, 'k'};
    CHECK_EQ(roost_fleet_cbor_decode(huge_map, sizeof(huge_map), &j), ROOST_EMALFORMED);
    static const uint8_t huge_array[] = {0x9b, 0, 0, 0, 1, 0, 0, 0, 0};
    CHECK_EQ(roost_fleet_cbor_decode(huge_array, sizeof(huge_array), &j), ROOST_EMALFORMED);
    CHECK(!j);
}

ROOST_TEST(cbor_indefinite_containers_and_refusals)
{
    json_t *j = NULL;
    /* {_ "a": [_ 1, 2]} with indefinite map and array */
    static const uint8_t indef[] = {0xbf, 0x61, 'a', 0x9f, 0x01, 0x02, 0xff, 0xff};
    REQUIRE_OK(roost_fleet_cbor_decode(indef, sizeof(indef), &j));
    json_t *want = json_pack("{s:[i,i]}", "a", 1, 2);
    CHECK(json_equal(j, want));
    json_decref(want);
    json_decref(j);
    j = NULL;
    static const uint8_t tagged[] = {0xc0, 0x61, 'x'};           /* tag 0 */
    static const uint8_t bytes[] = {0x41, 0x00};                  /* byte string */
    static const uint8_t int_key[] = {0xa1, 0x01, 0x02};          /* {1: 2} */
    static const uint8_t stray_break[] = {0xff};
    static const uint8_t two_items[] = {0x01, 0x02};
    static const uint8_t bad_utf8[] = {0x62, 0xc3, 0x28};
    const struct {
        const uint8_t *p;
        size_t n;
    } bad[] = {{tagged, sizeof(tagged)},         {bytes, sizeof(bytes)},
               {int_key, sizeof(int_key)},       {stray_break, sizeof(stray_break)},
               {two_items, sizeof(two_items)},   {bad_utf8, sizeof(bad_utf8)}};
    for (size_t i = 0; i < ROOST_ARRAY_LEN(bad); i++) {
        CHECK_EQ(roost_fleet_cbor_decode(bad[i].p, bad[i].n, &j), ROOST_EMALFORMED);
        CHECK(!j);
    }
}
