/*
 * test_bench.c - what a policy check costs, measured, never asserted: the
 * numbers are printed (TAP comments) for docs/internals/AUTHZ.md, and the
 * only checks are that the answers are right. Run alone for numbers:
 * `unit_authz_test_bench`; ROOST_AUTHZ_BENCH_N sets the iterations.
 */
#include "authz_test_util.h"

#include <stdlib.h>

/* A typical per-thing policy: the thing connects as itself, publishes and
 * receives under things/<name>/, subscribes there, and owns its shadow
 * and jobs topics. */
static const char *const per_thing = TU_DOC(
    "{`Effect`:`Allow`,`Action`:`iot:Connect`,`Resource`:`" TU_ARN
    "client/${iot:Connection.Thing.ThingName}`,"
    "`Condition`:{`Bool`:{`iot:Connection.Thing.IsAttached`:`true`}}},"
    "{`Effect`:`Allow`,`Action`:[`iot:Publish`,`iot:Receive`],`Resource`:[`" TU_ARN
    "topic/things/${iot:Connection.Thing.ThingName}/*`,`" TU_ARN
    "topic/$aws/things/${iot:Connection.Thing.ThingName}/*`]},"
    "{`Effect`:`Allow`,`Action`:`iot:Subscribe`,`Resource`:[`" TU_ARN
    "topicfilter/things/${iot:Connection.Thing.ThingName}/*`,`" TU_ARN
    "topicfilter/$aws/things/${iot:Connection.Thing.ThingName}/*`]},"
    "{`Effect`:`Allow`,`Action`:`iot:Receive`,`Resource`:`" TU_ARN "topic/broadcast/*`},"
    "{`Effect`:`Deny`,`Action`:`iot:Publish`,`Resource`:`" TU_ARN "topic/things/*/admin`}");

static long iterations(void)
{
    const char *e = getenv("ROOST_AUTHZ_BENCH_N");
    long n = e ? atol(e) : 0;
    return n > 0 ? n : 100000;
}

static volatile unsigned sink;

static double ns_per(uint64_t us, long n)
{
    return (double)us * 1000.0 / (double)n;
}

static void bench_check(const char *label, const struct roost_authz_bound *b,
                        enum roost_authz_action a, enum roost_authz_rtype t, const char *name,
                        bool want, long n)
{
    size_t len = strlen(name);
    CHECK(roost_authz_check(b, a, t, name, len, NULL) == want);
    unsigned acc = 0;
    uint64_t t0 = roost_now_us();
    for (long i = 0; i < n; i++)
        acc += roost_authz_check(b, a, t, name, len, NULL);
    uint64_t dt = roost_now_us() - t0;
    sink += acc;
    printf("# %-44s %7.1f ns/check\n", label, ns_per(dt, n));
}

ROOST_TEST(per_thing_policy_costs)
{
    long n = iterations();
    char *json = tu_json(per_thing);
    struct roost_authz_doc doc = {"per-thing", json, strlen(json)};
    char err[256];
    struct roost_authz_policy *p = NULL;

    long ncomp = n / 100 + 1;
    uint64_t t0 = roost_now_us();
    for (long i = 0; i < ncomp; i++) {
        REQUIRE_OK(roost_authz_compile(&doc, 1, TU_REGION, TU_ACCOUNT, &p, err, sizeof(err)));
        roost_authz_policy_unref(&p);
    }
    printf("# %-44s %7.2f us\n", "compile (5 statements, JSON parse)",
           (double)(roost_now_us() - t0) / (double)ncomp);
    REQUIRE_OK(roost_authz_compile(&doc, 1, TU_REGION, TU_ACCOUNT, &p, err, sizeof(err)));

    struct roost_authz_ctx ctx = {.client_id = "dev-0042", .thing_name = "dev-0042",
                                  .thing_attached = true, .source_ip = "203.0.113.7"};
    struct roost_authz_bound *b = NULL;
    t0 = roost_now_us();
    for (long i = 0; i < ncomp; i++) {
        REQUIRE_OK(roost_authz_bind(p, &ctx, &b));
        roost_authz_bound_unref(&b);
    }
    printf("# %-44s %7.2f us\n", "bind (per connection)",
           (double)(roost_now_us() - t0) / (double)ncomp);
    REQUIRE_OK(roost_authz_bind(p, &ctx, &b));
    CHECK_EQ(roost_authz_bound_statements(b), 5);

    bench_check("Connect client/dev-0042 (allow)", b, ROOST_AUTHZ_CONNECT, ROOST_AUTHZ_RES_CLIENT,
                "dev-0042", true, n);
    bench_check("Publish things/dev-0042/telemetry (allow)", b, ROOST_AUTHZ_PUBLISH,
                ROOST_AUTHZ_RES_TOPIC, "things/dev-0042/telemetry", true, n);
    bench_check("Publish things/dev-0042/admin (deny)", b, ROOST_AUTHZ_PUBLISH,
                ROOST_AUTHZ_RES_TOPIC, "things/dev-0042/admin", false, n);
    bench_check("Publish things/dev-0043/telemetry (implicit)", b, ROOST_AUTHZ_PUBLISH,
                ROOST_AUTHZ_RES_TOPIC, "things/dev-0043/telemetry", false, n);
    bench_check("Receive $aws/things/dev-0042/shadow/update/delta", b, ROOST_AUTHZ_RECEIVE,
                ROOST_AUTHZ_RES_TOPIC, "$aws/things/dev-0042/shadow/update/delta", true, n);
    bench_check("Receive broadcast/firmware (3rd statement)", b, ROOST_AUTHZ_RECEIVE,
                ROOST_AUTHZ_RES_TOPIC, "broadcast/firmware", true, n);
    bench_check("Subscribe things/dev-0042/# (allow)", b, ROOST_AUTHZ_SUBSCRIBE,
                ROOST_AUTHZ_RES_TOPICFILTER, "things/dev-0042/#", true, n);

    /* One-shot evaluation (bind + check), as HTTPS requests use it. */
    long nev = n / 20 + 1;
    t0 = roost_now_us();
    unsigned acc = 0;
    for (long i = 0; i < nev; i++)
        acc += roost_authz_evaluate(p, &ctx, ROOST_AUTHZ_PUBLISH, ROOST_AUTHZ_RES_TOPIC,
                                    "things/dev-0042/t", 17, NULL);
    sink += acc;
    CHECK_EQ(acc, (unsigned)nev);
    printf("# %-44s %7.2f us\n", "evaluate (bind + check + free)",
           (double)(roost_now_us() - t0) / (double)nev);
    roost_authz_bound_unref(&b);
    roost_authz_policy_unref(&p);
    roost_free(json);
}

/* Ten policies of five statements, all naming Publish: the cost of a
 * check grows with the statements that name its action. */
ROOST_TEST(ten_policy_set_costs)
{
    long n = iterations();
    struct roost_authz_doc docs[10];
    char *texts[10];
    for (int i = 0; i < 10; i++) {
        char buf[2048];
        snprintf(buf, sizeof(buf),
                 TU_DOC("{`Effect`:`Allow`,`Action`:`iot:Publish`,`Resource`:`" TU_ARN
                        "topic/fleet%d/${iot:ClientId}/*`},"
                        "{`Effect`:`Allow`,`Action`:`iot:Publish`,`Resource`:`" TU_ARN
                        "topic/site%d/*/status`},"
                        "{`Effect`:`Allow`,`Action`:`iot:Publish`,`Resource`:`" TU_ARN
                        "topic/exact%d`},"
                        "{`Effect`:`Deny`,`Action`:`iot:Publish`,`Resource`:`" TU_ARN
                        "topic/locked%d/*`},"
                        "{`Effect`:`Allow`,`Action`:`iot:Publish`,`Resource`:`" TU_ARN
                        "topic/zone%d/?/x`}"),
                 i, i, i, i, i);
        texts[i] = tu_json(buf);
        docs[i] = (struct roost_authz_doc){"p", texts[i], strlen(texts[i])};
    }
    struct roost_authz_policy *p = NULL;
    char err[256];
    REQUIRE_OK(roost_authz_compile(docs, 10, TU_REGION, TU_ACCOUNT, &p, err, sizeof(err)));
    struct roost_authz_ctx ctx = {.client_id = "dev-7"};
    struct roost_authz_bound *b = NULL;
    REQUIRE_OK(roost_authz_bind(p, &ctx, &b));
    CHECK_EQ(roost_authz_bound_statements(b), 50);
    bench_check("50 stmts: Publish matching the last policy", b, ROOST_AUTHZ_PUBLISH,
                ROOST_AUTHZ_RES_TOPIC, "zone9/a/x", true, n);
    bench_check("50 stmts: Publish matching nothing", b, ROOST_AUTHZ_PUBLISH,
                ROOST_AUTHZ_RES_TOPIC, "nowhere/at/all", false, n);
    bench_check("50 stmts: Receive (no statement names it)", b, ROOST_AUTHZ_RECEIVE,
                ROOST_AUTHZ_RES_TOPIC, "zone9/a/x", false, n);
    roost_authz_bound_unref(&b);
    roost_authz_policy_unref(&p);
    for (int i = 0; i < 10; i++)
        roost_free(texts[i]);
}
