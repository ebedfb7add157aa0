/*
 * test_merge.c - the merge, metadata and delta rules: null deletes, nested
 * nulls, emptied objects, arrays as whole values, type changes, "state":
 * null and "desired": null, key order, versions, the delta appearing and
 * disappearing, and the stored form's round trip.
 */
#include "shadow_test_util.h"

/* The stored shadow, structurally, against {"state":..,"metadata":..}. */
static bool stored_is(const char *file, int line, struct sim *s, const char *expected)
{
    struct roost_buf b;
    json_error_t err;
    roost_buf_init(&b, 0);
    REQUIRE(s->cur != NULL);
    roost_shadow_serialize(s->cur, &b);
    json_t *a = json_loadb((const char *)roost_buf_head(&b), roost_buf_size(&b), 0, &err);
    json_t *e = json_loads(expected, 0, &err);
    json_object_del(a, "version");
    json_object_del(a, "timestamp");
    bool same = a && e && json_equal(a, e);
    if (!same)
        roost_test_fail(file, line, "stored shadow differs:\n    expected %s\n    actual   %s",
                        expected, buf_text(&b));
    json_decref(a);
    json_decref(e);
    roost_buf_cleanup(&b);
    return same;
}
#define CHECK_STORED(s, expected) stored_is(__FILE__, __LINE__, (s), (expected))

ROOST_TEST(null_deletes_a_key_and_its_metadata)
{
    struct sim s;
    sim_init(&s, "t", NULL);
    CHECK_OK(sim_update(&s, "{\"state\":{\"desired\":{\"a\":1,\"b\":2}}}", 10));
    CHECK_OK(sim_update(&s, "{\"state\":{\"desired\":{\"a\":null}}}", 20));
    CHECK_STORED(&s, "{\"state\":{\"desired\":{\"b\":2}},"
                     "\"metadata\":{\"desired\":{\"b\":{\"timestamp\":10}}}}");
    /* Deleting what is not there is no error. */
    CHECK_OK(sim_update(&s, "{\"state\":{\"desired\":{\"zz\":null}}}", 30));
    CHECK_STORED(&s, "{\"state\":{\"desired\":{\"b\":2}},"
                     "\"metadata\":{\"desired\":{\"b\":{\"timestamp\":10}}}}");
    sim_cleanup(&s);
}

ROOST_TEST(emptied_section_disappears_but_nested_empty_objects_stay)
{
    struct sim s;
    sim_init(&s, "t", NULL);
    CHECK_OK(sim_update(&s, "{\"state\":{\"desired\":{\"mystate\":{\"mysub\":\"123\"}},"
                            "\"reported\":{\"x\":1}}}", 10));
    /* AWS keeps the emptied parent object. */
    CHECK_OK(sim_update(&s, "{\"state\":{\"desired\":{\"mystate\":{\"mysub\":null}}}}", 20));
    CHECK_STORED(&s, "{\"state\":{\"desired\":{\"mystate\":{}},\"reported\":{\"x\":1}},"
                     "\"metadata\":{\"desired\":{\"mystate\":{}},"
                     "\"reported\":{\"x\":{\"timestamp\":10}}}}");
    /* A section left with no keys is removed, metadata and all. */
    CHECK_OK(sim_update(&s, "{\"state\":{\"desired\":{\"mystate\":null}}}", 30));
    CHECK_STORED(&s, "{\"state\":{\"reported\":{\"x\":1}},"
                     "\"metadata\":{\"reported\":{\"x\":{\"timestamp\":10}}}}");
    CHECK_OK(sim_get(&s, "", 40));
    CHECK_BYTES("{\"state\":{\"reported\":{\"x\":1}},\"metadata\":{\"reported\":{\"x\":"
                "{\"timestamp\":10}}},\"version\":3,\"timestamp\":40}",
                s.res.reply);
    sim_cleanup(&s);
}

ROOST_TEST(new_objects_merge_into_nothing)
{
    struct sim s;
    sim_init(&s, "t", NULL);
    CHECK_OK(sim_update(&s, "{\"state\":{\"reported\":{\"x\":{\"y\":null,\"z\":1},\"w\":{\"v\":null}}}}",
                        10));
    CHECK_STORED(&s, "{\"state\":{\"reported\":{\"x\":{\"z\":1},\"w\":{}}},"
                     "\"metadata\":{\"reported\":{\"x\":{\"z\":{\"timestamp\":10}},\"w\":{}}}}");
    /* The accepted document echoes the request, nulls and all. */
    CHECK_BYTES("{\"state\":{\"reported\":{\"x\":{\"y\":null,\"z\":1},\"w\":{\"v\":null}}},"
                "\"metadata\":{\"reported\":{\"x\":{\"y\":{\"timestamp\":10},\"z\":{\"timestamp\":10}},"
                "\"w\":{\"v\":{\"timestamp\":10}}}},\"version\":1,\"timestamp\":10}",
                s.res.reply);
    sim_cleanup(&s);
}

ROOST_TEST(empty_objects_are_values_but_empty_sections_are_ignored)
{
    struct sim s;
    sim_init(&s, "t", NULL);
    CHECK_OK(sim_update(&s, "{\"state\":{\"reported\":{}}}", 10));
    CHECK_EQ(s.res.version, 1);
    CHECK_OK(sim_get(&s, "", 11));
    CHECK_BYTES("{\"state\":{},\"metadata\":{},\"version\":1,\"timestamp\":11}", s.res.reply);
    CHECK_OK(sim_update(&s, "{\"state\":{\"reported\":{\"attr\":{}}}}", 12));
    CHECK_BYTES("{\"state\":{\"reported\":{\"attr\":{}}},\"metadata\":{\"reported\":{\"attr\":{}}},"
                "\"version\":2,\"timestamp\":12}",
                s.res.reply);
    CHECK_STORED(&s, "{\"state\":{\"reported\":{\"attr\":{}}},\"metadata\":{\"reported\":{\"attr\":{}}}}");
    /* Merging {} into an object changes nothing. */
    CHECK_OK(sim_update(&s, "{\"state\":{\"reported\":{\"attr\":{\"k\":1}}}}", 13));
    CHECK_OK(sim_update(&s, "{\"state\":{\"reported\":{\"attr\":{}}}}", 14));
    CHECK_STORED(&s, "{\"state\":{\"reported\":{\"attr\":{\"k\":1}}},"
                     "\"metadata\":{\"reported\":{\"attr\":{\"k\":{\"timestamp\":13}}}}}");
    /* {"state":{}} is accepted and still counts as a version. */
    CHECK_OK(sim_update(&s, "{\"state\":{}}", 15));
    CHECK_BYTES("{\"state\":{},\"metadata\":{},\"version\":5,\"timestamp\":15}", s.res.reply);
    sim_cleanup(&s);
}

ROOST_TEST(arrays_replace_whole_and_carry_metadata_per_element)
{
    struct sim s;
    sim_init(&s, "t", NULL);
    CHECK_OK(sim_update(&s, "{\"state\":{\"desired\":{\"colors\":[\"RED\",\"GREEN\",\"BLUE\"]}}}", 10));
    CHECK_OK(sim_update(&s, "{\"state\":{\"desired\":{\"colors\":[\"RED\"]}}}", 20));
    CHECK_STORED(&s, "{\"state\":{\"desired\":{\"colors\":[\"RED\"]}},"
                     "\"metadata\":{\"desired\":{\"colors\":[{\"timestamp\":20}]}}}");
    CHECK_OK(sim_update(&s, "{\"state\":{\"desired\":{\"mix\":[{\"a\":1,\"b\":[true]},2,[],{}]}}}", 30));
    CHECK_STORED(&s, "{\"state\":{\"desired\":{\"colors\":[\"RED\"],\"mix\":[{\"a\":1,\"b\":[true]},2,[],{}]}},"
                     "\"metadata\":{\"desired\":{\"colors\":[{\"timestamp\":20}],\"mix\":["
                     "{\"a\":{\"timestamp\":30},\"b\":[{\"timestamp\":30}]},{\"timestamp\":30},[],{}]}}}");
    /* An object inside an array is a value: no merging into it. */
    CHECK_OK(sim_update(&s, "{\"state\":{\"desired\":{\"mix\":[{\"c\":3}]}}}", 40));
    CHECK_STORED(&s, "{\"state\":{\"desired\":{\"colors\":[\"RED\"],\"mix\":[{\"c\":3}]}},"
                     "\"metadata\":{\"desired\":{\"colors\":[{\"timestamp\":20}],"
                     "\"mix\":[{\"c\":{\"timestamp\":40}}]}}}");
    sim_cleanup(&s);
}

ROOST_TEST(type_changes_replace_value_and_metadata)
{
    struct sim s;
    sim_init(&s, "t", NULL);
    CHECK_OK(sim_update(&s, "{\"state\":{\"reported\":{\"a\":{\"x\":1},\"b\":5,\"c\":[1]}}}", 10));
    CHECK_OK(sim_update(&s, "{\"state\":{\"reported\":{\"a\":7,\"b\":{\"y\":2},\"c\":{\"z\":[3]}}}}",
                        20));
    CHECK_STORED(&s, "{\"state\":{\"reported\":{\"a\":7,\"b\":{\"y\":2},\"c\":{\"z\":[3]}}},"
                     "\"metadata\":{\"reported\":{\"a\":{\"timestamp\":20},\"b\":{\"y\":{\"timestamp\":20}},"
                     "\"c\":{\"z\":[{\"timestamp\":20}]}}}}");
    sim_cleanup(&s);
}

ROOST_TEST(state_null_and_section_null)
{
    struct sim s;
    sim_init(&s, "t", NULL);
    CHECK_OK(sim_update(&s, "{\"state\":{\"desired\":{\"a\":1},\"reported\":{\"a\":2}}}", 10));
    CHECK_OK(sim_update(&s, "{\"state\":{\"reported\":{\"color\":\"red\"},\"desired\":null}}", 20));
    CHECK_BYTES("{\"state\":{\"reported\":{\"color\":\"red\"},\"desired\":null},"
                "\"metadata\":{\"reported\":{\"color\":{\"timestamp\":20}},\"desired\":{\"timestamp\":20}},"
                "\"version\":2,\"timestamp\":20}",
                s.res.reply);
    CHECK_EQ(roost_buf_size(&s.res.delta), 0);
    CHECK_STORED(&s, "{\"state\":{\"reported\":{\"a\":2,\"color\":\"red\"}},"
                     "\"metadata\":{\"reported\":{\"a\":{\"timestamp\":10},\"color\":{\"timestamp\":20}}}}");
    CHECK_OK(sim_update(&s, "{\"state\":null}", 30));
    CHECK_STORED(&s, "{\"state\":{},\"metadata\":{}}");
    CHECK_EQ(s.res.version, 3);
    /* Setting everything to null does not delete the shadow. */
    CHECK_OK(sim_get(&s, "", 31));
    CHECK_OK(sim_update(&s, "{\"state\":{\"desired\":{\"n\":1}}}", 40));
    CHECK_EQ(s.res.version, 4);
    sim_cleanup(&s);
}

ROOST_TEST(key_order_is_stable)
{
    struct sim s;
    sim_init(&s, "t", NULL);
    CHECK_OK(sim_update(&s, "{\"state\":{\"reported\":{\"z\":1,\"a\":2,\"m\":{\"q\":1,\"b\":2}}}}", 10));
    CHECK_OK(sim_update(&s, "{\"state\":{\"reported\":{\"new\":0,\"a\":3,\"m\":{\"c\":3,\"q\":null}}}}",
                        20));
    CHECK_BYTES("{\"state\":{\"reported\":{\"z\":1,\"a\":3,\"m\":{\"b\":2,\"c\":3},\"new\":0}},"
                "\"metadata\":{\"reported\":{\"z\":{\"timestamp\":10},\"a\":{\"timestamp\":20},"
                "\"m\":{\"b\":{\"timestamp\":10},\"c\":{\"timestamp\":20}},\"new\":{\"timestamp\":20}}},"
                "\"version\":2,\"timestamp\":20}",
                s.res.stored);
    sim_cleanup(&s);
}

ROOST_TEST(delta_appears_and_disappears)
{
    struct sim s;
    sim_init(&s, "t", NULL);
    CHECK_OK(sim_update(&s, "{\"state\":{\"reported\":{\"only_reported\":1,\"n\":1}}}", 10));
    CHECK_EQ(roost_buf_size(&s.res.delta), 0);
    /* 1 and 1.0 are the same number. */
    CHECK_OK(sim_update(&s, "{\"state\":{\"desired\":{\"n\":1.0}}}", 20));
    CHECK_EQ(roost_buf_size(&s.res.delta), 0);
    CHECK_OK(sim_update(&s, "{\"state\":{\"desired\":{\"arr\":[1,2],\"o\":{\"p\":1,\"q\":2}}}}", 30));
    CHECK_BYTES("{\"version\":3,\"timestamp\":30,\"state\":{\"arr\":[1,2],\"o\":{\"p\":1,\"q\":2}},"
                "\"metadata\":{\"arr\":[{\"timestamp\":30},{\"timestamp\":30}],"
                "\"o\":{\"p\":{\"timestamp\":30},\"q\":{\"timestamp\":30}}}}",
                s.res.delta);
    /* Arrays compare whole; objects recurse and keep only what differs. */
    CHECK_OK(sim_update(&s, "{\"state\":{\"reported\":{\"arr\":[2,1],\"o\":{\"p\":1,\"q\":3}}}}", 40));
    CHECK_BYTES("{\"version\":4,\"timestamp\":40,\"state\":{\"arr\":[1,2],\"o\":{\"q\":2}},"
                "\"metadata\":{\"arr\":[{\"timestamp\":30},{\"timestamp\":30}],"
                "\"o\":{\"q\":{\"timestamp\":30}}}}",
                s.res.delta);
    CHECK_OK(sim_update(&s, "{\"state\":{\"reported\":{\"arr\":[1,2],\"o\":{\"q\":2}}}}", 50));
    CHECK_EQ(roost_buf_size(&s.res.delta), 0);
    CHECK_OK(sim_get(&s, "", 51));
    CHECK(strstr(buf_text(&s.res.reply), "\"delta\"") == NULL);
    /* Deleting a reported key that desired still has brings it back. */
    CHECK_OK(sim_update(&s, "{\"state\":{\"reported\":{\"o\":null}}}", 60));
    CHECK_BYTES("{\"version\":6,\"timestamp\":60,\"state\":{\"o\":{\"p\":1,\"q\":2}},"
                "\"metadata\":{\"o\":{\"p\":{\"timestamp\":30},\"q\":{\"timestamp\":30}}}}",
                s.res.delta);
    /* An object against a scalar: the whole desired object. */
    CHECK_OK(sim_update(&s, "{\"state\":{\"reported\":{\"o\":\"flat\"}}}", 70));
    CHECK(strstr(buf_text(&s.res.delta), "\"state\":{\"o\":{\"p\":1,\"q\":2}}") != NULL);
    sim_cleanup(&s);
}

ROOST_TEST(delta_of_empty_desired_object)
{
    struct sim s;
    sim_init(&s, "t", NULL);
    CHECK_OK(sim_update(&s, "{\"state\":{\"desired\":{\"e\":{}}}}", 10));
    CHECK_BYTES("{\"version\":1,\"timestamp\":10,\"state\":{\"e\":{}},\"metadata\":{\"e\":{}}}",
                s.res.delta);
    CHECK_OK(sim_update(&s, "{\"state\":{\"reported\":{\"e\":{}}}}", 20));
    CHECK_EQ(roost_buf_size(&s.res.delta), 0);
    sim_cleanup(&s);
}

ROOST_TEST(versions_count_every_accepted_update)
{
    struct sim s;
    sim_init(&s, "t", NULL);
    CHECK_OK(sim_update(&s, "{\"state\":{\"reported\":{\"a\":1}},\"version\":0}", 1));
    CHECK_EQ(s.res.version, 1);
    CHECK_OK(sim_update(&s, "{\"state\":{\"reported\":{\"a\":1}}}", 2)); /* no change, still a version */
    CHECK_EQ(s.res.version, 2);
    CHECK_OK(sim_update(&s, "{\"state\":{\"reported\":{\"a\":1}},\"version\":2}", 3));
    CHECK_EQ(s.res.version, 3);
    CHECK_EQ(sim_update(&s, "{\"state\":{\"reported\":{\"a\":1}},\"version\":2}", 4), ROOST_ECONFLICT);
    CHECK_EQ(sim_update(&s, "{\"state\":{\"reported\":{\"a\":1}},\"version\":4}", 4), ROOST_ECONFLICT);
    CHECK_OK(sim_update(&s, "{\"state\":{\"reported\":{\"a\":1}},\"version\":null}", 5));
    CHECK_EQ(roost_shadow_version(s.cur), 4);
    CHECK_EQ(roost_shadow_timestamp(s.cur), 5);
    sim_cleanup(&s);

    /* A version on a shadow that does not exist must match the last one. */
    sim_init(&s, "t", NULL);
    CHECK_EQ(sim_update(&s, "{\"state\":{},\"version\":3}", 1), ROOST_ECONFLICT);
    s.base_version = 3;
    CHECK_OK(sim_update(&s, "{\"state\":{},\"version\":3}", 1));
    CHECK_EQ(s.res.version, 4);
    CHECK(roost_buf_size(&s.res.documents) > 0);
    CHECK(strstr(buf_text(&s.res.documents), "\"previous\"") == NULL);
    sim_cleanup(&s);
}

ROOST_TEST(stored_form_round_trips)
{
    struct sim s;
    sim_init(&s, "t", NULL);
    CHECK_OK(sim_update(&s, "{\"state\":{\"desired\":{\"r\":0.1,\"w\":2.0,\"big\":1e300,\"neg\":-0.5,"
                            "\"i\":-9007199254740993,\"s\":\"q\\\"b\\\\s\\n\\u0001\\u00e9/\\ud83d\\ude00\","
                            "\"t\":true,\"f\":false},\"reported\":{\"x\":[]}}}",
                        10));
    const char *expect =
        "{\"state\":{\"desired\":{\"r\":0.1,\"w\":2.0,\"big\":1e+300,\"neg\":-0.5,"
        "\"i\":-9007199254740993,\"s\":\"q\\\"b\\\\s\\n\\u0001\xc3\xa9/\xf0\x9f\x98\x80\","
        "\"t\":true,\"f\":false},\"reported\":{\"x\":[]}},";
    const char *got = buf_text(&s.res.stored);
    if (strlen(got) < strlen(expect) || memcmp(got, expect, strlen(expect)) != 0)
        roost_test_fail(__FILE__, __LINE__, "stored form\n    expected %s...\n    actual   %s",
                        expect, got);

    struct roost_shadow *copy = NULL;
    struct roost_buf again;
    roost_buf_init(&again, 0);
    REQUIRE_OK(roost_shadow_parse(roost_buf_head(&s.res.stored), roost_buf_size(&s.res.stored), &copy));
    roost_shadow_serialize(copy, &again);
    CHECK_EQ(roost_buf_size(&again), roost_buf_size(&s.res.stored));
    CHECK_MEM(roost_buf_head(&again), roost_buf_head(&s.res.stored), roost_buf_size(&again));
    CHECK_EQ(roost_shadow_version(copy), 1);
    CHECK_EQ(roost_shadow_timestamp(copy), 10);

    /* An update against the parsed copy answers like one against the original. */
    struct roost_shadow_req req = sim_req(&s, "{\"state\":{\"reported\":{\"r\":0.1}}}", 20);
    struct roost_shadow_result r2;
    roost_shadow_result_init(&r2);
    CHECK_OK(roost_shadow_update(NULL, copy, &req, &r2));
    CHECK_OK(sim_update(&s, "{\"state\":{\"reported\":{\"r\":0.1}}}", 20));
    CHECK_EQ(roost_buf_size(&r2.documents), roost_buf_size(&s.res.documents));
    CHECK_MEM(roost_buf_head(&r2.documents), roost_buf_head(&s.res.documents),
              roost_buf_size(&r2.documents));
    CHECK_MEM(roost_buf_head(&r2.delta), roost_buf_head(&s.res.delta), roost_buf_size(&r2.delta));
    roost_shadow_result_cleanup(&r2);
    roost_shadow_destroy(copy);
    roost_buf_cleanup(&again);
    sim_cleanup(&s);
}

ROOST_TEST(parse_rejects_what_is_not_a_stored_shadow)
{
    static const char *bad[] = {
        "", "[]", "{}", "{\"version\":-1}", "{\"version\":\"1\"}", "{\"version\":1,\"state\":[]}",
        "{\"version\":1,\"metadata\":5}", "{\"version\":1,\"timestamp\":\"x\"}", "{\"version\":1",
    };
    for (size_t i = 0; i < ROOST_ARRAY_LEN(bad); i++) {
        struct roost_shadow *sh = (struct roost_shadow *)&bad; /* must be reset to NULL */
        CHECK_EQ(roost_shadow_parse(bad[i], strlen(bad[i]), &sh), ROOST_EMALFORMED);
        CHECK(sh == NULL);
    }
    /* Inconsistent metadata is repaired as the document is used. */
    const char *odd = "{\"state\":{\"desired\":{\"a\":1,\"b\":{\"c\":2}},\"reported\":{}},"
                      "\"metadata\":{\"desired\":{\"b\":7}},\"version\":4,\"timestamp\":99}";
    struct roost_shadow *sh = NULL;
    REQUIRE_OK(roost_shadow_parse(odd, strlen(odd), &sh));
    struct roost_shadow_req req = {.thing = ROOST_STR_LIT("t"),
                                   .payload = "{\"state\":{\"desired\":{\"b\":{\"d\":3}}}}",
                                   .now = 100};
    req.len = strlen(req.payload);
    struct roost_shadow_result r;
    roost_shadow_result_init(&r);
    CHECK_OK(roost_shadow_update(NULL, sh, &req, &r));
    CHECK_BYTES("{\"state\":{\"desired\":{\"a\":1,\"b\":{\"c\":2,\"d\":3}}},"
                "\"metadata\":{\"desired\":{\"a\":{\"timestamp\":99},\"b\":{\"c\":{\"timestamp\":99},"
                "\"d\":{\"timestamp\":100}}}},\"version\":5,\"timestamp\":100}",
                r.stored);
    roost_shadow_result_cleanup(&r);
    roost_shadow_destroy(sh);
}

/* Every real written reads back as the same double, in as few digits as
 * the common cases allow. */
ROOST_TEST(reals_round_trip_exactly)
{
    struct roost_buf doc, out;
    roost_buf_init(&doc, 0);
    roost_buf_init(&out, 0);
    static const double fixed[] = {0.1, 21.7, -0.25, 1e-7, 123456789.125, 1e15, 9.999999999999998e14,
                                   -0.0, 5e-324, 1.7976931348623157e308, 2.0, 1e300, 0.3, 1.0 / 3};
    enum { N_RANDOM = 2000 };
    double vals[ROOST_ARRAY_LEN(fixed) + N_RANDOM];
    size_t nv = 0;
    for (size_t i = 0; i < ROOST_ARRAY_LEN(fixed); i++)
        vals[nv++] = fixed[i];
    uint64_t x = 88172645463325252ull;
    while (nv < ROOST_ARRAY_LEN(vals)) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        double d;
        if (nv % 2) { /* any finite bit pattern */
            memcpy(&d, &x, sizeof(d));
            if (d != d || d - d != 0)
                continue;
        } else { /* a short decimal, the sensor kind */
            d = (double)(int64_t)(x % 2000001) / 1000.0 - 1000.0;
        }
        vals[nv++] = d;
    }
    roost_buf_append(&doc, "{\"state\":{\"reported\":{\"v\":[", 27);
    for (size_t i = 0; i < nv; i++) {
        char t[40];
        int n = snprintf(t, sizeof(t), "%s%.17g", i ? "," : "", vals[i]);
        if (!strpbrk(t + (i ? 1 : 0), ".en"))
            n += snprintf(t + n, sizeof(t) - (size_t)n, ".0");
        roost_buf_append(&doc, t, (size_t)n);
    }
    roost_buf_append(&doc, "]}},\"version\":1}", 16);
    struct roost_shadow *sh = NULL;
    REQUIRE_OK(roost_shadow_parse(roost_buf_head(&doc), roost_buf_size(&doc), &sh));
    roost_shadow_serialize(sh, &out);
    json_error_t err;
    json_t *back = json_loadb((const char *)roost_buf_head(&out), roost_buf_size(&out), 0, &err);
    REQUIRE(back != NULL);
    json_t *arr = json_object_get(json_object_get(json_object_get(back, "state"), "reported"), "v");
    REQUIRE_EQ(json_array_size(arr), nv);
    for (size_t i = 0; i < nv; i++) {
        json_t *v = json_array_get(arr, i);
        double d = json_real_value(v);
        if (!json_is_real(v) || memcmp(&d, &vals[i], sizeof(d)) != 0)
            roost_test_fail(__FILE__, __LINE__, "%.17g came back as %.17g", vals[i], d);
    }
    const char *head = "[0.1,21.7,-0.25,0.0000001,123456789.125,1e+15,999999999999999.8,-0.0,4.94065645841247e-324,1.7976931348623157e+308,2.0,1e+300,0.3,0.3333333333333333,";
    if (!strstr(buf_text(&out), head))
        roost_test_fail(__FILE__, __LINE__, "reals written as %.300s", strstr(buf_text(&out), "[0.1"));
    json_decref(back);
    roost_shadow_destroy(sh);
    roost_buf_cleanup(&doc);
    roost_buf_cleanup(&out);
}
