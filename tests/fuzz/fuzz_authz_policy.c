/*
 * fuzz_authz_policy.c - libFuzzer target for AWS IoT policies. The input is
 * NUL-separated fields:
 *
 *   policy JSON \0 resource name \0 client id \0 thing name \0
 *   certificate CN \0 source IP \0 flags
 *
 * (missing fields are NULL). The policy is validated, compiled, bound to a
 * context built from the fields and checked for every action and resource
 * type; validate and compile must agree, and a bound form must answer
 * like the one-shot evaluation. Independently, the first field is used as
 * a raw glob pattern ('*' and '?' wildcards) against every resource
 * type's ARN prefix + the name, and the prefix-state matcher must agree
 * with a plain dynamic-programming glob over the whole string.
 */
#include "authz/authz_int.h"

#include <stdio.h>
#include <stdlib.h>

#define FUZZ_CHECK(cond)                                                       \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            abort();                                                           \
        }                                                                      \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FIELDS 7

static size_t next_char(const uint8_t *s, size_t n, size_t i)
{
    i++;
    if (s[i - 1] >= 0xC0) {
        while (i < n && (s[i] & 0xC0) == 0x80)
            i++;
    }
    return i;
}

/* The glob's meaning, spelled out: dp over (pattern index, byte position). */
static bool ref_glob(const uint8_t *p, size_t pn, const uint8_t *s, size_t sn)
{
    size_t w = sn + 1;
    uint8_t *dp = roost_xcalloc((pn + 1) * w, 1);
    dp[0] = 1;
    for (size_t j = 0; j <= pn; j++) {
        for (size_t i = 0; i <= sn; i++) {
            if (!dp[j * w + i] || j == pn)
                continue;
            if (p[j] == AUTHZ_STAR) {
                dp[(j + 1) * w + i] = 1;
                if (i < sn)
                    dp[j * w + next_char(s, sn, i)] = 1;
            } else if (p[j] == AUTHZ_QMARK) {
                if (i < sn)
                    dp[(j + 1) * w + next_char(s, sn, i)] = 1;
            } else if (i < sn && p[j] == s[i]) {
                dp[(j + 1) * w + i + 1] = 1;
            }
        }
    }
    bool m = dp[pn * w + sn];
    roost_free(dp);
    return m;
}

static void check_patterns(const uint8_t *pat, size_t pn, const char *name, size_t nn)
{
    if (pn > 200 || nn > 200)
        return;
    uint8_t *tok = roost_xmalloc(pn ? pn : 1);
    for (size_t i = 0; i < pn; i++)
        tok[i] = pat[i] == '*' ? AUTHZ_STAR : pat[i] == '?' ? AUTHZ_QMARK : pat[i];
    const char *prefixes[ROOST_AUTHZ_RES_COUNT] = {
        "arn:aws:iot:us-east-1:123456789012:client/",
        "arn:aws:iot:us-east-1:123456789012:topic/",
        "arn:aws:iot:us-east-1:123456789012:topicfilter/",
        "arn:aws:iot:us-east-1:123456789012:thing/",
        "arn:aws:iot:us-east-1:123456789012:rolealias/",
        "",
    };
    struct roost_arena a;
    roost_arena_init(&a, NULL, 0);
    struct authz_pat pt;
    authz__pat_prepare(&a, &pt, tok, pn, prefixes);
    char *full = roost_xmalloc(64 + nn);
    for (int t = 0; t < ROOST_AUTHZ_RES_COUNT; t++) {
        size_t fl = strlen(prefixes[t]);
        memcpy(full, prefixes[t], fl);
        memcpy(full + fl, name, nn);
        bool want = ref_glob(tok, pn, (const uint8_t *)full, fl + nn);
        FUZZ_CHECK(authz__pat_match(&pt, (enum roost_authz_rtype)t, name, nn) == want);
        if (t == ROOST_AUTHZ_RES_RAW)
            FUZZ_CHECK(authz__glob(tok, pn, (const uint8_t *)name, nn) == want);
    }
    roost_free(full);
    roost_arena_cleanup(&a);
    roost_free(tok);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Exact-size NUL-terminated copies so ASan sees any overread. */
    char *field[FIELDS] = {0};
    size_t flen[FIELDS] = {0};
    size_t start = 0, k = 0;
    for (size_t i = 0; i <= size && k < FIELDS; i++) {
        if (i == size || data[i] == 0) {
            flen[k] = i - start;
            field[k] = roost_xmalloc(flen[k] + 1);
            memcpy(field[k], data + start, flen[k]);
            field[k][flen[k]] = '\0';
            k++;
            start = i + 1;
        }
    }
    const char *policy = field[0] ? field[0] : "";
    const char *name = field[1] ? field[1] : "";
    size_t name_len = field[1] ? flen[1] : 0;
    unsigned flags = field[6] && flen[6] ? (unsigned char)field[6][0] : 0;

    check_patterns((const uint8_t *)policy, flen[0], name, name_len);

    char err[256];
    int vrc = roost_authz_validate(policy, flen[0], err, sizeof(err));
    struct roost_authz_doc doc = {"fuzz", policy, flen[0]};
    struct roost_authz_policy *p = NULL;
    int crc = roost_authz_compile(&doc, 1, "us-east-1", "123456789012", &p, err, sizeof(err));
    FUZZ_CHECK((vrc == 0) == (crc == 0));
    if (crc == 0) {
        struct roost_authz_cert cert;
        memset(&cert, 0, sizeof(cert));
        if (field[4]) {
            cert.subject[ROOST_AUTHZ_DN_COMMON_NAME].v[0] = field[4];
            cert.subject[ROOST_AUTHZ_DN_COMMON_NAME].n = 1;
            cert.issuer[ROOST_AUTHZ_DN_ORGANIZATION].v[0] = field[4];
            cert.issuer[ROOST_AUTHZ_DN_ORGANIZATION].n = 1;
            cert.subject_alt[ROOST_AUTHZ_ALT_DNS_NAME].v[0] = field[4];
            cert.subject_alt[ROOST_AUTHZ_ALT_DNS_NAME].n = 1;
            cert.serial = field[4];
            cert.has_validity = true;
            cert.not_before = (int64_t)flen[4] * 86400 * 365;
            cert.not_after = cert.not_before + 86400;
        }
        struct roost_authz_attr attrs[2] = {{"color", field[3]}, {"version", field[2]}};
        struct roost_authz_ctx ctx = {
            .client_id = field[2],
            .thing_name = field[3],
            .thing_type = field[4],
            .thing_attached = flags & 1,
            .thing_attrs = attrs,
            .n_thing_attrs = field[3] && field[2] ? 2 : 0,
            .cert = field[4] ? &cert : NULL,
            .source_ip = field[5],
            .domain = field[5],
            .has_connect_attrs = flags & 2,
            .connect_attrs = (flags >> 2) & 3,
            .last_will_topic = flags & 16 ? field[1] : NULL,
        };
        struct roost_authz_bound *b = NULL;
        FUZZ_CHECK(roost_authz_bind(p, &ctx, &b) == 0);
        FUZZ_CHECK(roost_authz_bound_statements(b) <= roost_authz_policy_statements(p));
        for (int a = 0; a < ROOST_AUTHZ_ACTION_COUNT; a++) {
            for (int t = 0; t < ROOST_AUTHZ_RES_COUNT; t++) {
                struct roost_authz_decision d1, d2;
                bool r1 = roost_authz_check(b, (enum roost_authz_action)a,
                                            (enum roost_authz_rtype)t, name, name_len, &d1);
                bool r2 = roost_authz_evaluate(p, &ctx, (enum roost_authz_action)a,
                                               (enum roost_authz_rtype)t, name, name_len, &d2);
                FUZZ_CHECK(r1 == r2 && r1 == d1.allowed && d1.effect == d2.effect);
                FUZZ_CHECK(d1.statement == d2.statement);
                FUZZ_CHECK((d1.effect == ROOST_AUTHZ_IMPLICIT_DENY) == (d1.policy == NULL));
            }
        }
        roost_authz_bound_unref(&b);
        roost_authz_policy_unref(&p);
    }
    for (size_t i = 0; i < FIELDS; i++)
        roost_free(field[i]);
    return 0;
}
