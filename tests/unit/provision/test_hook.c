/*
 * test_hook.c - pre-provisioning hooks as local commands and webhooks
 * (src/provision/hook.c): the program gets AWS's hook input on stdin and its
 * stdout is the answer; failures (exit status, not JSON, too slow, a
 * program that never reads its input) come back as errors with a reason,
 * within the time limit.
 */
#include "provision/provision.h"
#include "roost_test.h"

#include <stdio.h>
#include <sys/stat.h>
#include <time.h>

static char script_path[512];

static const char *script(const char *body)
{
    snprintf(script_path, sizeof(script_path), "%s/hook.sh", roost_test_tmpdir());
    FILE *f = fopen(script_path, "w");
    REQUIRE(f);
    fprintf(f, "#!/bin/sh\n%s\n", body);
    fclose(f);
    chmod(script_path, 0700);
    static char target[600];
    snprintf(target, sizeof(target), "exec:%s", script_path);
    return target;
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

ROOST_TEST(command_sees_the_input_and_answers)
{
    /* echoes the serial number back as an override, proving it read stdin */
    const char *t = script("in=$(cat); sn=$(printf '%s' \"$in\" | sed 's/.*\"SerialNumber\":\"\\([^\"]*\\)\".*/\\1/');"
                           " printf '{\"allowProvisioning\":true,\"parameterOverrides\":{\"Seen\":\"%s\"}}' \"$sn\"");
    json_t *in = json_pack("{s:s,s:{s:s}}", "clientId", "c1", "parameters", "SerialNumber", "ABC");
    json_t *answer = NULL;
    char err[256];
    REQUIRE_OK(roost_provision_run_hook(t, in, 5000, &answer, err, sizeof(err)));
    CHECK(json_is_true(json_object_get(answer, "allowProvisioning")));
    CHECK_STR(json_string_value(json_object_get(json_object_get(answer, "parameterOverrides"), "Seen")),
              "ABC");
    json_decref(answer);
    json_decref(in);
}

ROOST_TEST(command_failures_have_reasons)
{
    json_t *in = json_object();
    json_t *answer = NULL;
    char err[256];
    CHECK(roost_provision_run_hook(script("cat >/dev/null; exit 3"), in, 5000, &answer, err,
                                   sizeof(err)) < 0);
    CHECK(strstr(err, "status 3"));
    CHECK(!answer);
    CHECK_EQ(roost_provision_run_hook(script("cat >/dev/null; echo not json"), in, 5000, &answer,
                                      err, sizeof(err)),
             ROOST_EMALFORMED);
    CHECK(roost_provision_run_hook("exec:relative/path", in, 5000, &answer, err, sizeof(err)) < 0);
    CHECK(roost_provision_run_hook("exec:/nonexistent/hook", in, 5000, &answer, err,
                                   sizeof(err)) < 0);
    CHECK(roost_provision_run_hook("arn:aws:lambda:us-east-1:1:function:f", in, 5000, &answer, err,
                                   sizeof(err)) < 0);
    CHECK(strstr(err, "unsupported"));
    json_decref(in);
}

ROOST_TEST(slow_command_is_killed_at_the_deadline)
{
    json_t *in = json_object();
    json_t *answer = NULL;
    char err[256];
    uint64_t t0 = now_ms();
    /* never reads stdin, never exits by itself */
    CHECK_EQ(roost_provision_run_hook(script("exec sleep 30"), in, 300, &answer, err, sizeof(err)),
             -ETIMEDOUT);
    CHECK(now_ms() - t0 < 10000); /* not the 30 s: it was killed */
    CHECK(strstr(err, "timed out"));
    json_decref(in);
}

ROOST_TEST(webhook_that_is_not_there)
{
    json_t *in = json_object();
    json_t *answer = NULL;
    char err[256];
    /* port 1 on loopback: connection refused */
    CHECK(roost_provision_run_hook("http://127.0.0.1:1/hook", in, 2000, &answer, err,
                                   sizeof(err)) < 0);
    CHECK(strstr(err, "webhook"));
    CHECK(!answer);
    json_decref(in);
}
