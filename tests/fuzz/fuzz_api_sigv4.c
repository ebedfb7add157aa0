/*
 * fuzz_api_sigv4.c - libFuzzer target for SigV4 verification
 * (src/api/sigv4.c). Two modes, picked by the first byte:
 *  - an uppercase letter: the input is an HTTP request (the corpus holds
 *    requests signed by botocore and the AWS suite); it is parsed and
 *    verified against a fixed key ring and clock for every service set the
 *    API uses. It must never crash, and a refusal always carries a status
 *    and an AWS error code;
 *  - anything else: the rest builds a request (method, path, query, headers,
 *    body from newline-separated fields), which is signed with
 *    roost_sigv4_sign and must then verify: signer and verifier agree on the
 *    canonical form of any bytes.
 */
#include "api/api.h"

#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_ASSERT(cond)                                                                          \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_api_sigv4: %s:%d: %s\n", __FILE__, __LINE__, #cond);             \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#define AKID "AKIAROOSTEXAMPLE0001"
#define SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYROOSTKEY01"
#define NOW 1795342500 /* 2026-11-22T10:15:00Z, the corpus' signing time */

static int lookup(void *ud, const char *akid, const char *token,
                  char out_secret[ROOST_SIGV4_SECRET_MAX + 1])
{
    (void)ud;
    (void)token;
    if (strcmp(akid, AKID) == 0)
        snprintf(out_secret, ROOST_SIGV4_SECRET_MAX + 1, "%s", SECRET);
    else if (strcmp(akid, "AKIDEXAMPLE") == 0)
        snprintf(out_secret, ROOST_SIGV4_SECRET_MAX + 1, "%s",
                 "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
    else if (strcmp(akid, "BROKEN") == 0)
        return ROOST_EDB;
    else
        return ROOST_ENOTFOUND;
    return 0;
}

static const char *const SETS[][3] = {
    {"iot", "execute-api", NULL},     {"iotdata", "iotdevicegateway", NULL},
    {"iotdevicegateway", NULL, NULL}, {"iot-jobs-data", NULL, NULL},
    {"service", NULL, NULL},
};

static void verify_raw(const uint8_t *data, size_t size)
{
    struct roost_arena a;
    struct roost_http_request req;
    roost_arena_init(&a, NULL, 0);
    if (roost_http_parse_request(data, size, NULL, &req, &a) > 0) {
        for (size_t s = 0; s < sizeof(SETS) / sizeof(SETS[0]); s++) {
            for (int64_t now = NOW; now <= NOW + 4000; now += 4000) {
                struct roost_sigv4_params p = {
                    .services = SETS[s], .secret_fn = lookup, .now = now};
                struct roost_sigv4_result res;
                int rc = roost_sigv4_verify(&req, &p, &a, &res);
                if (rc == 0) {
                    FUZZ_ASSERT(res.access_key_id[0] && res.region[0] && res.service[0]);
                } else {
                    FUZZ_ASSERT(res.error_code && res.message[0]);
                    FUZZ_ASSERT(res.status == 400 || res.status == 403 || res.status == 500);
                    FUZZ_ASSERT(rc == ROOST_EAUTH || res.status == 500);
                }
            }
        }
        /* The suite's requests were signed in 2015. */
        struct roost_sigv4_params p = {.services = SETS[4], .secret_fn = lookup, .now = 1440938160};
        struct roost_sigv4_result res;
        roost_sigv4_verify(&req, &p, &a, &res);
    }
    roost_arena_cleanup(&a);
}

/* Next newline-terminated field of *p; the rest if there is no newline. */
static struct roost_str field(const uint8_t **p, const uint8_t *end)
{
    const uint8_t *s = *p;
    const uint8_t *nl = memchr(s, '\n', (size_t)(end - s));
    const uint8_t *e = nl ? nl : end;
    *p = nl ? nl + 1 : end;
    return (struct roost_str){(const char *)s, (size_t)(e - s)};
}

static bool reserved_name(struct roost_str n)
{
    static const char *const names[] = {
        "host",       "authorization",        "date",
        "x-amz-date", "x-amz-content-sha256", "x-amz-security-token"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (n.n == strlen(names[i]) && strncasecmp(n.p, names[i], n.n) == 0)
            return true;
    return false;
}

static void sign_and_verify(const uint8_t *data, size_t size)
{
    const uint8_t *p = data, *end = data + size;
    struct roost_http_header hdrs[12];
    size_t n = 0;
    struct roost_http_request req = {0};
    req.method = field(&p, end);
    req.path = field(&p, end);
    req.query = field(&p, end);
    hdrs[n++] = (struct roost_http_header){ROOST_STR_LIT("Host"), field(&p, end)};
    hdrs[n++] =
        (struct roost_http_header){ROOST_STR_LIT("X-Amz-Date"), ROOST_STR_LIT("20261122T101500Z")};
    char signed_headers[256] = "host;x-amz-date";
    while (p < end && n < 10) {
        struct roost_str line = field(&p, end);
        if (line.n == 0)
            break; /* the body follows */
        const char *colon = memchr(line.p, ':', line.n);
        if (!colon)
            continue;
        struct roost_str name = {line.p, (size_t)(colon - line.p)};
        struct roost_str value = {colon + 1, line.n - name.n - 1};
        bool token = name.n > 0 && name.n <= 20;
        for (size_t i = 0; token && i < name.n; i++) {
            char c = name.p[i];
            token = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-';
        }
        if (!token || reserved_name(name))
            continue;
        hdrs[n++] = (struct roost_http_header){name, value};
        /* Sign every other extra header. */
        if (n % 2 == 0) {
            size_t l = strlen(signed_headers);
            if (l + 1 + name.n + 1 < sizeof(signed_headers)) {
                signed_headers[l] = ';';
                for (size_t i = 0; i < name.n; i++) {
                    char c = name.p[i];
                    signed_headers[l + 1 + i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
                }
                signed_headers[l + 1 + name.n] = '\0';
            }
        }
    }
    req.body = (struct roost_str){(const char *)p, (size_t)(end - p)};
    req.headers = hdrs;
    req.n_headers = n;

    struct roost_arena a;
    roost_arena_init(&a, NULL, 0);
    const char *auth = NULL;
    int rc = roost_sigv4_sign(&req, signed_headers, AKID, SECRET, "eu-west-1", "iot",
                              "20261122T101500Z", &a, &auth);
    FUZZ_ASSERT(rc == 0);
    hdrs[n++] = (struct roost_http_header){ROOST_STR_LIT("Authorization"), roost_str_c(auth)};
    req.n_headers = n;

    bool query_claims_presign = memmem(req.query.p, req.query.n, "X-Amz-Algorithm", 15) != NULL;
    struct roost_sigv4_params prm = {.services = SETS[0], .secret_fn = lookup, .now = NOW};
    struct roost_sigv4_result res;
    rc = roost_sigv4_verify(&req, &prm, &a, &res);
    if (!query_claims_presign) {
        if (rc != 0)
            fprintf(stderr, "sign/verify disagree: %s: %s\n", res.error_code, res.message);
        FUZZ_ASSERT(rc == 0);
        FUZZ_ASSERT(strcmp(res.region, "eu-west-1") == 0);
    }
    roost_arena_cleanup(&a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    if (data[0] >= 'A' && data[0] <= 'Z')
        verify_raw(data, size);
    else
        sign_and_verify(data + 1, size - 1);
    return 0;
}
