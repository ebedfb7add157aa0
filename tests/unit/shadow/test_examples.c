/*
 * test_examples.c - AWS's own worked examples replayed through the shadow
 * core with the same timestamps: the developer guide's "Simulating Device
 * Shadow service communications" (named shadow simShadow1), the AWS IoT
 * Device SDK's shadow sandbox walkthrough (classic shadow, answers captured
 * from the service), the guide's delta and optimistic-locking examples, and
 * single answers captured from the service in public bug reports. Where the
 * source printed raw service bytes the comparison is byte for byte; where an
 * SDK re-serialized them it is structural.
 */
#include "shadow_test_util.h"

/* Developer guide, "Simulating Device Shadow service communications". */
ROOST_TEST(guide_simulated_device_named_shadow)
{
    struct sim s;
    sim_init(&s, "mySimulatedThing", "simShadow1");

    /* The device asks first; nothing exists yet. */
    CHECK_EQ(sim_get(&s, "", 1591140000), ROOST_ENOTFOUND);
    CHECK_EQ(s.res.code, 404);
    CHECK_BYTES("{\"code\":404,\"message\":\"No shadow exists with name: 'simShadow1'\"}", s.res.reply);

    /* The guide's shadow had reached version 2 before; a deleted shadow's
     * numbering continues, so start from there to get its version 3. */
    s.base_version = 2;
    CHECK_OK(sim_update(&s,
                        "{\"state\":{\"reported\":{\"ID\":\"SmartLamp21\",\"ColorRGB\":[128,128,128]}},"
                        "\"clientToken\":\"426bfd96-e720-46d3-95cd-014e3ef12bb6\"}",
                        1591140517));
    CHECK_BYTES("{\"state\":{\"reported\":{\"ID\":\"SmartLamp21\",\"ColorRGB\":[128,128,128]}},"
                "\"metadata\":{\"reported\":{\"ID\":{\"timestamp\":1591140517},\"ColorRGB\":["
                "{\"timestamp\":1591140517},{\"timestamp\":1591140517},{\"timestamp\":1591140517}]}},"
                "\"version\":3,\"timestamp\":1591140517,"
                "\"clientToken\":\"426bfd96-e720-46d3-95cd-014e3ef12bb6\"}",
                s.res.reply);
    CHECK_EQ(roost_buf_size(&s.res.delta), 0); /* no desired: no delta */

    /* The app reads it with the AWS CLI. */
    CHECK_OK(sim_get(&s, "", 1591141111));
    CHECK_BYTES("{\"state\":{\"reported\":{\"ID\":\"SmartLamp21\",\"ColorRGB\":[128,128,128]}},"
                "\"metadata\":{\"reported\":{\"ID\":{\"timestamp\":1591140517},\"ColorRGB\":["
                "{\"timestamp\":1591140517},{\"timestamp\":1591140517},{\"timestamp\":1591140517}]}},"
                "\"version\":3,\"timestamp\":1591141111}",
                s.res.reply);

    /* The app asks for yellow. */
    CHECK_OK(sim_update(&s,
                        "{\"state\":{\"desired\":{\"ColorRGB\":[255,255,0]}},"
                        "\"clientToken\":\"21b21b21-bfd2-4279-8c65-e2f697ff4fab\"}",
                        1591141596));
    CHECK_BYTES("{\"state\":{\"desired\":{\"ColorRGB\":[255,255,0]}},"
                "\"metadata\":{\"desired\":{\"ColorRGB\":[{\"timestamp\":1591141596},"
                "{\"timestamp\":1591141596},{\"timestamp\":1591141596}]}},"
                "\"version\":4,\"timestamp\":1591141596,"
                "\"clientToken\":\"21b21b21-bfd2-4279-8c65-e2f697ff4fab\"}",
                s.res.reply);
    /* ... and the device sees the delta, version and timestamp first. */
    CHECK_BYTES("{\"version\":4,\"timestamp\":1591141596,\"state\":{\"ColorRGB\":[255,255,0]},"
                "\"metadata\":{\"ColorRGB\":[{\"timestamp\":1591141596},{\"timestamp\":1591141596},"
                "{\"timestamp\":1591141596}]},"
                "\"clientToken\":\"21b21b21-bfd2-4279-8c65-e2f697ff4fab\"}",
                s.res.delta);

    /* The device reports the change. */
    CHECK_OK(sim_update(&s,
                        "{\"state\":{\"reported\":{\"ColorRGB\":[255,255,0]}},"
                        "\"clientToken\":\"a4dc2227-9213-4c6a-a6a5-053304f60258\"}",
                        1591142747));
    CHECK_BYTES("{\"state\":{\"reported\":{\"ColorRGB\":[255,255,0]}},"
                "\"metadata\":{\"reported\":{\"ColorRGB\":[{\"timestamp\":1591142747},"
                "{\"timestamp\":1591142747},{\"timestamp\":1591142747}]}},"
                "\"version\":5,\"timestamp\":1591142747,"
                "\"clientToken\":\"a4dc2227-9213-4c6a-a6a5-053304f60258\"}",
                s.res.reply);
    CHECK_EQ(roost_buf_size(&s.res.delta), 0); /* in sync again */
    CHECK_BYTES(
        "{\"previous\":{\"state\":{\"desired\":{\"ColorRGB\":[255,255,0]},"
        "\"reported\":{\"ID\":\"SmartLamp21\",\"ColorRGB\":[128,128,128]}},"
        "\"metadata\":{\"desired\":{\"ColorRGB\":[{\"timestamp\":1591141596},"
        "{\"timestamp\":1591141596},{\"timestamp\":1591141596}]},"
        "\"reported\":{\"ID\":{\"timestamp\":1591140517},\"ColorRGB\":[{\"timestamp\":1591140517},"
        "{\"timestamp\":1591140517},{\"timestamp\":1591140517}]}},\"version\":4},"
        "\"current\":{\"state\":{\"desired\":{\"ColorRGB\":[255,255,0]},"
        "\"reported\":{\"ID\":\"SmartLamp21\",\"ColorRGB\":[255,255,0]}},"
        "\"metadata\":{\"desired\":{\"ColorRGB\":[{\"timestamp\":1591141596},"
        "{\"timestamp\":1591141596},{\"timestamp\":1591141596}]},"
        "\"reported\":{\"ID\":{\"timestamp\":1591140517},\"ColorRGB\":[{\"timestamp\":1591142747},"
        "{\"timestamp\":1591142747},{\"timestamp\":1591142747}]}},\"version\":5},"
        "\"timestamp\":1591142747,\"clientToken\":\"a4dc2227-9213-4c6a-a6a5-053304f60258\"}",
        s.res.documents);

    /* The app reads the result. */
    CHECK_OK(sim_get(&s, NULL, 1591143269));
    CHECK_BYTES("{\"state\":{\"desired\":{\"ColorRGB\":[255,255,0]},"
                "\"reported\":{\"ID\":\"SmartLamp21\",\"ColorRGB\":[255,255,0]}},"
                "\"metadata\":{\"desired\":{\"ColorRGB\":[{\"timestamp\":1591141596},"
                "{\"timestamp\":1591141596},{\"timestamp\":1591141596}]},"
                "\"reported\":{\"ID\":{\"timestamp\":1591140517},\"ColorRGB\":["
                "{\"timestamp\":1591142747},{\"timestamp\":1591142747},{\"timestamp\":1591142747}]}},"
                "\"version\":5,\"timestamp\":1591143269}",
                s.res.reply);
    sim_cleanup(&s);
}

/*
 * The AWS IoT Device SDK for C++ v2 shadow sandbox walkthrough: answers from
 * the service, printed by the SDK after re-serializing (its own key order;
 * its ShadowUpdated event model has no clientToken, hence the drops).
 */
ROOST_TEST(sdk_sandbox_walkthrough_classic_shadow)
{
    struct sim s;
    sim_init(&s, "sandbox-thing", NULL);

    CHECK_EQ(sim_get(&s, "{\"clientToken\":\"t-get0\"}", 1730481900), ROOST_ENOTFOUND);
    CHECK_JSON("{\"clientToken\":\"t-get0\",\"code\":404,"
               "\"message\":\"No shadow exists with name: 'sandbox-thing'\"}",
               s.res.reply);

    CHECK_OK(sim_update(&s, "{\"clientToken\":\"58de9848-e4db-e2ac-9622-d4c1197a5a14\","
                            "\"state\":{\"reported\":{\"Color\":\"green\"}}}",
                        1730481958));
    CHECK_JSON("{\"clientToken\":\"58de9848-e4db-e2ac-9622-d4c1197a5a14\","
               "\"state\":{\"reported\":{\"Color\":\"green\"}},"
               "\"metadata\":{\"reported\":{\"Color\":{\"timestamp\":1730481958}}},"
               "\"timestamp\":1730481958,\"version\":1}",
               s.res.reply);
    CHECK_JSON_DROP("{\"current\":{\"state\":{\"reported\":{\"Color\":\"green\"}},"
                    "\"metadata\":{\"reported\":{\"Color\":{\"timestamp\":1730481958}}},"
                    "\"version\":1},\"timestamp\":1730481958}",
                    s.res.documents, "clientToken");

    CHECK_OK(sim_update(&s, "{\"clientToken\":\"7f53091e-16a7-74d9-201b-b2d45a4d1ae7\","
                            "\"state\":{\"desired\":{\"Color\":\"green\"}}}",
                        1730482304));
    CHECK_JSON("{\"clientToken\":\"7f53091e-16a7-74d9-201b-b2d45a4d1ae7\","
               "\"state\":{\"desired\":{\"Color\":\"green\"}},"
               "\"metadata\":{\"desired\":{\"Color\":{\"timestamp\":1730482304}}},"
               "\"timestamp\":1730482304,\"version\":2}",
               s.res.reply);
    CHECK_EQ(roost_buf_size(&s.res.delta), 0);

    CHECK_OK(sim_update(&s, "{\"clientToken\":\"35624091-7be2-3ab3-c193-bac8f4c4e9c8\","
                            "\"state\":{\"desired\":{\"Color\":\"red\"}}}",
                        1730482794));
    CHECK_JSON("{\"clientToken\":\"35624091-7be2-3ab3-c193-bac8f4c4e9c8\","
               "\"state\":{\"desired\":{\"Color\":\"red\"}},"
               "\"metadata\":{\"desired\":{\"Color\":{\"timestamp\":1730482794}}},"
               "\"timestamp\":1730482794,\"version\":3}",
               s.res.reply);
    CHECK_JSON_DROP("{\"previous\":{\"state\":{\"desired\":{\"Color\":\"green\"},"
                    "\"reported\":{\"Color\":\"green\"}},\"metadata\":{\"desired\":{\"Color\":"
                    "{\"timestamp\":1730482304}},\"reported\":{\"Color\":{\"timestamp\":1730481958}}},"
                    "\"version\":2},\"current\":{\"state\":{\"desired\":{\"Color\":\"red\"},"
                    "\"reported\":{\"Color\":\"green\"}},\"metadata\":{\"desired\":{\"Color\":"
                    "{\"timestamp\":1730482794}},\"reported\":{\"Color\":{\"timestamp\":1730481958}}},"
                    "\"version\":3},\"timestamp\":1730482794}",
                    s.res.documents, "clientToken");
    CHECK_JSON("{\"state\":{\"Color\":\"red\"},\"metadata\":{\"Color\":{\"timestamp\":1730482794}},"
               "\"timestamp\":1730482794,\"version\":3,"
               "\"clientToken\":\"35624091-7be2-3ab3-c193-bac8f4c4e9c8\"}",
               s.res.delta);

    CHECK_OK(sim_update(&s, "{\"clientToken\":\"5741d710-fe6b-7f4f-ece1-7767498a38c8\","
                            "\"state\":{\"reported\":{\"Color\":\"red\"}}}",
                        1730482948));
    CHECK_JSON("{\"clientToken\":\"5741d710-fe6b-7f4f-ece1-7767498a38c8\","
               "\"state\":{\"reported\":{\"Color\":\"red\"}},"
               "\"metadata\":{\"reported\":{\"Color\":{\"timestamp\":1730482948}}},"
               "\"timestamp\":1730482948,\"version\":4}",
               s.res.reply);
    CHECK_EQ(roost_buf_size(&s.res.delta), 0); /* "no ShadowDeltaUpdated event" */

    CHECK_OK(sim_update(&s, "{\"state\":{\"reported\":{\"Status\":\"Great\"}}}", 1730483062));
    CHECK_OK(sim_update(&s, "{\"state\":{\"desired\":{\"Status\":\"Great\"}}}", 1730483069));
    CHECK_EQ(roost_buf_size(&s.res.delta), 0);
    CHECK_OK(sim_get(&s, "{\"clientToken\":\"2b689730-8144-c20f-07dd-60bdf4e3f2b7\"}", 1730483086));
    CHECK_JSON("{\"clientToken\":\"2b689730-8144-c20f-07dd-60bdf4e3f2b7\","
               "\"state\":{\"desired\":{\"Color\":\"red\",\"Status\":\"Great\"},"
               "\"reported\":{\"Color\":\"red\",\"Status\":\"Great\"}},"
               "\"metadata\":{\"desired\":{\"Color\":{\"timestamp\":1730482794},"
               "\"Status\":{\"timestamp\":1730483069}},\"reported\":{\"Color\":"
               "{\"timestamp\":1730482948},\"Status\":{\"timestamp\":1730483062}}},"
               "\"timestamp\":1730483086,\"version\":6}",
               s.res.reply);

    /* A reported-only update that diverges from desired brings a delta of
     * just the diverging key, dated by desired's metadata. */
    CHECK_OK(sim_update(&s, "{\"clientToken\":\"af54adca-85c9-c4c9-52b0-7349337f57d5\","
                            "\"state\":{\"reported\":{\"Status\":\"Awful\"}}}",
                        1730483858));
    CHECK_JSON("{\"state\":{\"Status\":\"Great\"},\"metadata\":{\"Status\":{\"timestamp\":1730483069}},"
               "\"timestamp\":1730483858,\"version\":7,"
               "\"clientToken\":\"af54adca-85c9-c4c9-52b0-7349337f57d5\"}",
               s.res.delta);
    CHECK_JSON_DROP("{\"previous\":{\"state\":{\"desired\":{\"Color\":\"red\",\"Status\":\"Great\"},"
                    "\"reported\":{\"Color\":\"red\",\"Status\":\"Great\"}},\"metadata\":{\"desired\":"
                    "{\"Color\":{\"timestamp\":1730482794},\"Status\":{\"timestamp\":1730483069}},"
                    "\"reported\":{\"Color\":{\"timestamp\":1730482948},\"Status\":{\"timestamp\":"
                    "1730483062}}},\"version\":6},\"current\":{\"state\":{\"desired\":{\"Color\":"
                    "\"red\",\"Status\":\"Great\"},\"reported\":{\"Color\":\"red\",\"Status\":"
                    "\"Awful\"}},\"metadata\":{\"desired\":{\"Color\":{\"timestamp\":1730482794},"
                    "\"Status\":{\"timestamp\":1730483069}},\"reported\":{\"Color\":{\"timestamp\":"
                    "1730482948},\"Status\":{\"timestamp\":1730483858}}},\"version\":7},"
                    "\"timestamp\":1730483858}",
                    s.res.documents, "clientToken");

    /* Removing a property from both sections. */
    CHECK_OK(sim_update(&s, "{\"state\":{\"reported\":{\"Status\":null}}}", 1730483900));
    CHECK_OK(sim_update(&s, "{\"state\":{\"desired\":{\"Status\":null}}}", 1730483910));
    CHECK_OK(sim_get(&s, "{\"clientToken\":\"2dccc7b8-47ad-80c5-299f-3de5d9b553fa\"}", 1730483940));
    CHECK_JSON("{\"clientToken\":\"2dccc7b8-47ad-80c5-299f-3de5d9b553fa\","
               "\"state\":{\"desired\":{\"Color\":\"red\"},\"reported\":{\"Color\":\"red\"}},"
               "\"metadata\":{\"desired\":{\"Color\":{\"timestamp\":1730482794}},"
               "\"reported\":{\"Color\":{\"timestamp\":1730482948}}},"
               "\"timestamp\":1730483940,\"version\":9}",
               s.res.reply);

    CHECK_OK(sim_delete(&s, "{\"clientToken\":\"495844bb-65c9-58a6-bd16-099fa3021512\"}",
                        1730483990));
    CHECK_BYTES("{\"version\":9,\"timestamp\":1730483990,"
                "\"clientToken\":\"495844bb-65c9-58a6-bd16-099fa3021512\"}",
                s.res.reply);
    CHECK_EQ(s.res.version, 9);

    CHECK_EQ(sim_get(&s, "{\"clientToken\":\"0228fa77-2bbf-bf91-9915-128668692dbb\"}", 1730484000),
             ROOST_ENOTFOUND);
    CHECK_BYTES("{\"code\":404,\"message\":\"No shadow exists with name: 'sandbox-thing'\","
                "\"clientToken\":\"0228fa77-2bbf-bf91-9915-128668692dbb\"}",
                s.res.reply);

    /* Recreated after a delete, the numbering continues. */
    CHECK_OK(sim_update(&s, "{\"state\":{\"reported\":{\"Color\":\"blue\"}}}", 1730484100));
    CHECK_EQ(s.res.version, 10);
    sim_cleanup(&s);
}

/* Developer guide, "Delta state": nested objects keep the path to the root,
 * and only desired keys count. */
ROOST_TEST(guide_delta_state_examples)
{
    struct sim s;
    sim_init(&s, "thing1", NULL);
    CHECK_OK(sim_update(&s, "{\"state\":{\"desired\":{\"color\":\"RED\",\"state\":\"STOP\"},"
                            "\"reported\":{\"color\":\"GREEN\",\"engine\":\"ON\"}}}",
                        12345));
    CHECK_OK(sim_get(&s, "", 123456789));
    CHECK_JSON("{\"state\":{\"desired\":{\"color\":\"RED\",\"state\":\"STOP\"},"
               "\"reported\":{\"color\":\"GREEN\",\"engine\":\"ON\"},"
               "\"delta\":{\"color\":\"RED\",\"state\":\"STOP\"}},"
               "\"metadata\":{\"desired\":{\"color\":{\"timestamp\":12345},\"state\":{\"timestamp\":12345}},"
               "\"reported\":{\"color\":{\"timestamp\":12345},\"engine\":{\"timestamp\":12345}}},"
               "\"version\":1,\"timestamp\":123456789}",
               s.res.reply);
    sim_cleanup(&s);

    sim_init(&s, "thing1", NULL);
    CHECK_OK(sim_update(&s, "{\"state\":{\"desired\":{\"lights\":{\"color\":{\"r\":255,\"g\":255,\"b\":255}}},"
                            "\"reported\":{\"lights\":{\"color\":{\"r\":255,\"g\":0,\"b\":255}}}}}",
                        100));
    CHECK_BYTES("{\"version\":1,\"timestamp\":100,\"state\":{\"lights\":{\"color\":{\"g\":255}}},"
                "\"metadata\":{\"lights\":{\"color\":{\"g\":{\"timestamp\":100}}}}}",
                s.res.delta);
    CHECK_OK(sim_get(&s, "", 123456789));
    CHECK_BYTES("{\"state\":{\"desired\":{\"lights\":{\"color\":{\"r\":255,\"g\":255,\"b\":255}}},"
                "\"reported\":{\"lights\":{\"color\":{\"r\":255,\"g\":0,\"b\":255}}},"
                "\"delta\":{\"lights\":{\"color\":{\"g\":255}}}},"
                "\"metadata\":{\"desired\":{\"lights\":{\"color\":{\"r\":{\"timestamp\":100},"
                "\"g\":{\"timestamp\":100},\"b\":{\"timestamp\":100}}}},"
                "\"reported\":{\"lights\":{\"color\":{\"r\":{\"timestamp\":100},"
                "\"g\":{\"timestamp\":100},\"b\":{\"timestamp\":100}}}}},"
                "\"version\":1,\"timestamp\":123456789}",
                s.res.reply);
    sim_cleanup(&s);
}

/* Developer guide, "Optimistic locking": the rejection carries no timestamp. */
ROOST_TEST(guide_optimistic_locking)
{
    struct sim s;
    sim_init(&s, "thing1", NULL);
    s.base_version = 9;
    CHECK_OK(sim_update(&s, "{\"state\":{\"desired\":{\"colors\":[\"RED\",\"GREEN\",\"BLUE\"]}}}", 1));
    CHECK_EQ(s.res.version, 10);
    CHECK_EQ(sim_update(&s, "{\"state\":{\"desired\":{\"colors\":[\"BLUE\"]}},\"version\":9,"
                            "\"clientToken\":\"426bfd96-e720-46d3-95cd-014e3ef12bb6\"}",
                        2),
             ROOST_ECONFLICT);
    CHECK_EQ(s.res.code, 409);
    CHECK_BYTES("{\"code\":409,\"message\":\"Version conflict\","
                "\"clientToken\":\"426bfd96-e720-46d3-95cd-014e3ef12bb6\"}",
                s.res.reply);
    CHECK(s.res.shadow == NULL);
    CHECK_EQ(roost_shadow_version(s.cur), 10); /* unchanged */
    CHECK_OK(sim_update(&s, "{\"state\":{\"desired\":{\"colors\":[\"BLUE\"]}},\"version\":10}", 3));
    CHECK_OK(sim_get(&s, "", 4));
    CHECK_JSON("{\"state\":{\"desired\":{\"colors\":[\"BLUE\"]},\"delta\":{\"colors\":[\"BLUE\"]}},"
               "\"metadata\":{\"desired\":{\"colors\":[{\"timestamp\":3}]}},"
               "\"version\":11,\"timestamp\":4}",
               s.res.reply);
    sim_cleanup(&s);
}

/* Captured from the service (moto issue #9237): {"state": null} clears the
 * shadow, echoes null, and its metadata is a single timestamp. */
ROOST_TEST(captured_state_null_answer)
{
    struct sim s;
    sim_init(&s, "thing1", NULL);
    s.base_version = 16;
    CHECK_OK(sim_update(&s, "{\"state\":{\"reported\":{\"a\":1},\"desired\":{\"a\":2}}}", 1756452000));
    CHECK_OK(sim_update(&s, "{\"state\": null}", 1756452769));
    CHECK_BYTES("{\"state\":null,\"metadata\":{\"timestamp\":1756452769},\"version\":18,"
                "\"timestamp\":1756452769}",
                s.res.reply);
    CHECK_EQ(roost_buf_size(&s.res.delta), 0);
    /* The shadow still exists, empty. */
    CHECK_OK(sim_get(&s, "", 1756452800));
    CHECK_BYTES("{\"state\":{},\"metadata\":{},\"version\":18,\"timestamp\":1756452800}", s.res.reply);
    sim_cleanup(&s);
}

/* Captured from the service (an aws-crt Julia integration test): the bytes
 * of a classic shadow's 404 for an empty get, and the sequence of topics. */
ROOST_TEST(captured_classic_lifecycle)
{
    struct sim s;
    sim_init(&s, "thing1", NULL);
    CHECK_EQ(sim_get(&s, "", 1), ROOST_ENOTFOUND);
    CHECK_BYTES("{\"code\":404,\"message\":\"No shadow exists with name: 'thing1'\"}", s.res.reply);

    CHECK_OK(sim_update(&s, "{\"state\":{\"reported\":{\"foo\":1}}}", 2));
    CHECK(roost_buf_size(&s.res.documents) > 0);
    CHECK_EQ(roost_buf_size(&s.res.delta), 0);

    CHECK_OK(sim_update(&s, "{\"state\":{\"desired\":{\"foo\":2}}}", 3));
    CHECK_JSON("{\"version\":2,\"timestamp\":3,\"state\":{\"foo\":2},"
               "\"metadata\":{\"foo\":{\"timestamp\":3}}}",
               s.res.delta);

    CHECK_OK(sim_update(&s, "{\"state\":{\"reported\":{\"foo\":2}}}", 4));
    CHECK_EQ(roost_buf_size(&s.res.delta), 0);

    /* Deleting desired's only key removes the section from current. */
    CHECK_OK(sim_update(&s, "{\"state\":{\"desired\":{\"foo\":null}}}", 5));
    CHECK_JSON("{\"previous\":{\"state\":{\"desired\":{\"foo\":2},\"reported\":{\"foo\":2}},"
               "\"metadata\":{\"desired\":{\"foo\":{\"timestamp\":3}},\"reported\":{\"foo\":"
               "{\"timestamp\":4}}},\"version\":3},\"current\":{\"state\":{\"reported\":{\"foo\":2}},"
               "\"metadata\":{\"reported\":{\"foo\":{\"timestamp\":4}}},\"version\":4},\"timestamp\":5}",
               s.res.documents);
    CHECK_BYTES("{\"state\":{\"desired\":{\"foo\":null}},\"metadata\":{\"desired\":{\"foo\":"
                "{\"timestamp\":5}}},\"version\":4,\"timestamp\":5}",
                s.res.reply);

    CHECK_OK(sim_delete(&s, "", 6));
    CHECK_BYTES("{\"version\":4,\"timestamp\":6}", s.res.reply);
    sim_cleanup(&s);
}
