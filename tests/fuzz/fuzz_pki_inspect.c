/*
 * fuzz_pki_inspect.c - libFuzzer target for everything src/pki reads from
 * outside: the input goes, as it is, through roost_pki_cert_info (PEM or
 * DER), roost_pki_pem_split_first, both verify functions (the first
 * certificate against the rest of a bundle, and the input against itself)
 * and roost_pki_sign_csr with a fixed test CA.
 *
 * Invariants checked: every string cert_info hands out is NUL-free strict
 * UTF-8 and the counts are bounded; reading the canonical PEM back gives
 * the same facts and the same id as roost_pki_cert_id_from_pem; a
 * certificate issued from a CSR reads back and verifies against the CA;
 * error texts are NUL-terminated; return codes stay in the documented set.
 * Verification time is taken from the input's own validity, so a replay
 * never depends on today's date.
 */
#include "pki/pki.h"

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

/* The registration code the corpus' verification certificate carries. */
#define FUZZ_CODE "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

/* A test-only CA (EC P-256, valid until 2126); its key protects nothing. */
static const char fuzz_ca_pem[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBwjCCAWegAwIBAgIURbCiZoE8Mw+EqjANBkYS5+HbrIkwCgYIKoZIzj0EAwIw\n"
    "LTETMBEGA1UECgwKUm9vc3QgRnV6ejEWMBQGA1UEAwwNUm9vc3QgRnV6eiBDQTAg\n"
    "Fw0yNjExMjIyMjU4NTlaGA8yMTI2MTAyOTIyNTg1OVowLTETMBEGA1UECgwKUm9v\n"
    "c3QgRnV6ejEWMBQGA1UEAwwNUm9vc3QgRnV6eiBDQTBZMBMGByqGSM49AgEGCCqG\n"
    "SM49AwEHA0IABGfuPENcys8I+wnXMYNIj5CCf3FztRDB3lCSwiTg0hYyMDRmadQD\n"
    "QJDMh3z/u969V/KygQ1hH066j4hEI1Rn0zqjYzBhMA8GA1UdEwEB/wQFMAMBAf8w\n"
    "DgYDVR0PAQH/BAQDAgEGMB0GA1UdDgQWBBQRFEolNOLK/6GOeRjCAEpnmNKEmzAf\n"
    "BgNVHSMEGDAWgBQRFEolNOLK/6GOeRjCAEpnmNKEmzAKBggqhkjOPQQDAgNJADBG\n"
    "AiEAxzpiw0KvgtNi28MszCFHrzmvBEcm7rOjvjG3JblmpCECIQDzNYVq2o3DvY2+\n"
    "0P5ywJezaOy80p/7FMu7Eds1G5fz1A==\n"
    "-----END CERTIFICATE-----\n";
static const char fuzz_ca_key[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg9T+zdoncPqoZ0Gat\n"
    "ZBCFBx4R0Esme/z8T2zobpQIbQuhRANCAARn7jxDXMrPCPsJ1zGDSI+Qgn9xc7UQ\n"
    "wd5QksIk4NIWMjA0ZmnUA0CQzId8/7vevVfysoENYR9Ouo+IRCNUZ9M6\n"
    "-----END PRIVATE KEY-----\n";

static bool utf8_ok(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned c = *p, len;
        uint32_t cp;
        if (c < 0x80) {
            p++;
            continue;
        }
        if ((c & 0xE0) == 0xC0)
            len = 2, cp = c & 0x1F;
        else if ((c & 0xF0) == 0xE0)
            len = 3, cp = c & 0x0F;
        else if ((c & 0xF8) == 0xF0)
            len = 4, cp = c & 0x07;
        else
            return false;
        for (unsigned k = 1; k < len; k++) {
            if ((p[k] & 0xC0) != 0x80)
                return false;
            cp = cp << 6 | (p[k] & 0x3F);
        }
        static const uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < min[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        p += len;
    }
    return true;
}

static void check_values(const struct roost_pki_values *v, unsigned max)
{
    FUZZ_CHECK(v->n <= max && v->n <= v->total);
    for (unsigned i = 0; i < ROOST_PKI_SAN_MAX; i++) {
        FUZZ_CHECK((i < v->n) == (v->v[i] != NULL));
        if (v->v[i])
            FUZZ_CHECK(utf8_ok(v->v[i]));
    }
}

static void check_name(const struct roost_pki_name *n)
{
    FUZZ_CHECK(n->rfc2253 && utf8_ok(n->rfc2253));
    for (int a = 0; a < ROOST_PKI_ATTR_COUNT; a++)
        check_values(&n->attr[a], ROOST_PKI_MULTI_MAX);
}

static void check_info(const struct roost_pki_cert_info *info)
{
    FUZZ_CHECK(strlen(info->id) == 64 && info->der_len > 0);
    FUZZ_CHECK(info->pem && strncmp(info->pem, "-----BEGIN CERTIFICATE-----\n", 28) == 0);
    check_name(&info->subject);
    check_name(&info->issuer);
    for (int t = 0; t < ROOST_PKI_SAN_COUNT; t++)
        check_values(&info->san[t], ROOST_PKI_SAN_MAX);
    FUZZ_CHECK(info->serial && info->serial[0] && utf8_ok(info->serial));
    FUZZ_CHECK(info->key_type && info->key_curve);
    FUZZ_CHECK(info->is_ca || info->path_len == -1);

    /* The canonical PEM is a fixed point with the same facts. */
    struct roost_pki_cert_info again;
    FUZZ_CHECK(roost_pki_cert_info(info->pem, strlen(info->pem), &again) == 0);
    FUZZ_CHECK(strcmp(again.id, info->id) == 0 && again.der_len == info->der_len);
    FUZZ_CHECK(strcmp(again.pem, info->pem) == 0);
    FUZZ_CHECK(strcmp(again.subject.rfc2253, info->subject.rfc2253) == 0);
    FUZZ_CHECK(strcmp(again.issuer.rfc2253, info->issuer.rfc2253) == 0);
    FUZZ_CHECK(strcmp(again.serial, info->serial) == 0);
    FUZZ_CHECK(again.not_before == info->not_before && again.not_after == info->not_after);
    FUZZ_CHECK(again.is_ca == info->is_ca && again.self_signed == info->self_signed);
    roost_pki_cert_info_cleanup(&again);
    char id[65];
    FUZZ_CHECK(roost_pki_cert_id_from_pem(info->pem, strlen(info->pem), id) == 0);
    FUZZ_CHECK(strcmp(id, info->id) == 0);
    struct roost_str first, rest;
    FUZZ_CHECK(roost_pki_pem_split_first(info->pem, strlen(info->pem), &first, &rest) == 0);
    FUZZ_CHECK(first.p == info->pem && first.n == strlen(info->pem) && rest.n == 0);
}

static void check_rc(int rc, const char *err, size_t cap)
{
    FUZZ_CHECK(rc == 0 || rc == ROOST_EINVAL || rc == ROOST_EAUTH || rc == ROOST_ECONFLICT ||
               rc == ROOST_ETOOBIG);
    FUZZ_CHECK(memchr(err, '\0', cap) != NULL);
}

static const struct roost_pki_ca *fuzz_ca(void)
{
    static struct roost_pki_ca *ca;
    if (!ca) {
        roost_log_threshold = ROOST_LOG_ERROR;
        FUZZ_CHECK(roost_pki_ca_from_pem(fuzz_ca_pem, sizeof(fuzz_ca_pem) - 1, fuzz_ca_key,
                                         sizeof(fuzz_ca_key) - 1, &ca) == 0);
    }
    return ca;
}

static void fuzz_csr(const char *in, size_t n)
{
    const struct roost_pki_ca *ca = fuzz_ca();
    struct roost_pki_issued iss;
    char err[200];
    memset(err, 'x', sizeof(err));
    err[sizeof(err) - 1] = '\0';
    int rc = roost_pki_sign_csr(ca, in, n, 1, &iss, err, sizeof(err));
    FUZZ_CHECK(rc == 0 || rc == ROOST_EINVAL || rc == ROOST_ETOOBIG);
    if (rc) {
        FUZZ_CHECK(iss.cert_pem == NULL);
        return;
    }
    /* Whatever we issue we can read back and verify. */
    FUZZ_CHECK(iss.private_key_pem == NULL && iss.public_key_pem);
    struct roost_pki_cert_info info;
    FUZZ_CHECK(roost_pki_cert_info(iss.cert_pem, strlen(iss.cert_pem), &info) == 0);
    FUZZ_CHECK(strcmp(info.id, iss.id) == 0 && !info.is_ca);
    check_info(&info);
    roost_pki_cert_info_cleanup(&info);
    const char *ca_pem = roost_pki_ca_pem(ca);
    FUZZ_CHECK(roost_pki_verify_signed_by(iss.cert_pem, strlen(iss.cert_pem), ca_pem,
                                          strlen(ca_pem), (time_t)iss.not_before, err,
                                          sizeof(err)) == 0);
    roost_pki_issued_cleanup(&iss);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* An exact-size copy so ASan catches any read past the input. */
    char *in = roost_xmalloc(size ? size : 1);
    memcpy(in, data, size);
    char err[160];
    time_t now = 0;

    struct roost_pki_cert_info info;
    int rc = roost_pki_cert_info(in, size, &info);
    FUZZ_CHECK(rc == 0 || rc == ROOST_EINVAL || rc == ROOST_ETOOBIG);
    if (rc == 0) {
        check_info(&info);
        now = (time_t)info.not_before;
        rc = roost_pki_verify_signed_by(in, size, in, size, now, err, sizeof(err));
        check_rc(rc, err, sizeof(err));
        /* A self-signed CA verifies itself at its own start. */
        if (info.self_signed && info.is_ca && info.not_before <= info.not_after)
            FUZZ_CHECK(rc == 0 || rc == ROOST_EAUTH);
    }
    roost_pki_cert_info_cleanup(&info);

    struct roost_str first, rest;
    rc = roost_pki_pem_split_first(in, size, &first, &rest);
    FUZZ_CHECK(rc == 0 || rc == ROOST_EINVAL || rc == ROOST_ETOOBIG);
    if (rc == 0) {
        FUZZ_CHECK(first.p >= in && first.p + first.n <= rest.p && rest.p + rest.n == in + size);
        FUZZ_CHECK(first.n >= 27 && memcmp(first.p, "-----BEGIN CERTIFICATE-----", 27) == 0);
        if (rest.n > 0) {
            rc = roost_pki_verify_signed_by(first.p, first.n, rest.p, rest.n, now, err,
                                            sizeof(err));
            check_rc(rc, err, sizeof(err));
            rc = roost_pki_verify_ca_registration(rest.p, rest.n, first.p, first.n, FUZZ_CODE,
                                                  now, err, sizeof(err));
            check_rc(rc, err, sizeof(err));
        }
    }

    if (size <= ROOST_PKI_CSR_MAX + 1)
        fuzz_csr(in, size);
    roost_free(in);
    return 0;
}
