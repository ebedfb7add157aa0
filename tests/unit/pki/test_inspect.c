/*
 * test_inspect.c - unit tests for src/pki/inspect.c: every subject field,
 * SAN type, serial, validity and key fact of certificates made by the
 * openssl CLI (the oracle), PEM and DER input, the canonical PEM, refusal
 * of garbage and of certificates whose strings would be unsafe to hand on
 * (NUL bytes, broken UTF-8, non-DER), and splitting PEM bundles.
 */
#include "pki_test_util.h"

#include <time.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#define SUBJ                                                                                      \
    "/C=US/ST=Washington/L=Seattle/O=Acme Corp/OU=Fleet/OU=Sensors/OU=Lab/OU=Four/OU=Five"       \
    "/OU=Six/OU=Seven/CN=device-42/serialNumber=SN-123/dnQualifier=dq1/title=Sensor/SN=Smith"     \
    "/GN=Ann/initials=AS/pseudonym=pseudo/generationQualifier=III/emailAddress=dev@example.com"   \
    "/O=Caf\xc3\xa9 Second"

/* A self-signed certificate from the CLI: dir/name.pem (and .key). */
static char *cli_cert(const char *dir, const char *name, const char *newkey, const char *ext,
                      const char *subj, size_t *out_len)
{
    char cnf[700], key[700], pem[700];
    snprintf(cnf, sizeof(cnf), "%s/openssl.cnf", dir);
    tu_write_cnf(cnf);
    snprintf(key, sizeof(key), "%s/%s.key", dir, name);
    snprintf(pem, sizeof(pem), "%s/%s.pem", dir, name);
    if (tu_sh("openssl req -x509 -utf8 -config '%s' -extensions %s %s -nodes -keyout '%s' "
              "-out '%s' -days 30 -set_serial 0x0A1B2C3D4E -subj '%s'",
              cnf, ext, newkey, key, pem, subj) != 0)
        return NULL;
    return tu_read(pem, out_len);
}

static void check_values(const struct roost_pki_values *v, unsigned total,
                         const char *const *want, unsigned n)
{
    CHECK_EQ(v->total, total);
    REQUIRE_EQ(v->n, n);
    for (unsigned i = 0; i < n; i++)
        CHECK_STR(v->v[i], want[i]);
    if (n < ROOST_PKI_SAN_MAX)
        CHECK(v->v[n] == NULL);
}

#define VALUES(v, total, ...)                                                                     \
    do {                                                                                          \
        static const char *const want_[] = {__VA_ARGS__};                                         \
        check_values((v), (total), want_, ROOST_ARRAY_LEN(want_));                                \
    } while (0)

ROOST_TEST(cert_info_reads_every_field_like_the_cli)
{
    const char *tmp = roost_test_tmpdir();
    size_t len = 0;
    char *pem = cli_cert(tmp, "many", "-newkey ec -pkeyopt ec_paramgen_curve:P-256", "v3_many",
                         SUBJ, &len);
    REQUIRE(pem);
    struct roost_pki_cert_info info;
    REQUIRE_OK(roost_pki_cert_info(pem, len, &info));

    const struct roost_pki_values *s = info.subject.attr;
    VALUES(&s[ROOST_PKI_ATTR_COMMON_NAME], 1, "device-42");
    VALUES(&s[ROOST_PKI_ATTR_COUNTRY], 1, "US");
    VALUES(&s[ROOST_PKI_ATTR_STATE], 1, "Washington");
    VALUES(&s[ROOST_PKI_ATTR_LOCALITY], 1, "Seattle");
    VALUES(&s[ROOST_PKI_ATTR_ORGANIZATION], 2, "Acme Corp", "Caf\xc3\xa9 Second");
    VALUES(&s[ROOST_PKI_ATTR_ORGANIZATIONAL_UNIT], 7, "Fleet", "Sensors", "Lab", "Four", "Five");
    VALUES(&s[ROOST_PKI_ATTR_SERIAL_NUMBER], 1, "SN-123");
    VALUES(&s[ROOST_PKI_ATTR_DN_QUALIFIER], 1, "dq1");
    VALUES(&s[ROOST_PKI_ATTR_TITLE], 1, "Sensor");
    VALUES(&s[ROOST_PKI_ATTR_SURNAME], 1, "Smith");
    VALUES(&s[ROOST_PKI_ATTR_GIVEN_NAME], 1, "Ann");
    VALUES(&s[ROOST_PKI_ATTR_INITIALS], 1, "AS");
    VALUES(&s[ROOST_PKI_ATTR_PSEUDONYM], 1, "pseudo");
    VALUES(&s[ROOST_PKI_ATTR_GENERATION_QUALIFIER], 1, "III");
    VALUES(&s[ROOST_PKI_ATTR_EMAIL], 1, "dev@example.com");
    /* Self-signed: the issuer is the same name. */
    CHECK_STR(info.issuer.rfc2253, info.subject.rfc2253);
    CHECK_EQ(info.issuer.attr[ROOST_PKI_ATTR_ORGANIZATIONAL_UNIT].total, 7);

    VALUES(&info.san[ROOST_PKI_SAN_DNS], 2, "dev.example.com", "*.example.net");
    VALUES(&info.san[ROOST_PKI_SAN_IP], 2, "10.0.0.1", "fd00::1");
    VALUES(&info.san[ROOST_PKI_SAN_URI], 1, "spiffe://acme/dev-42");
    VALUES(&info.san[ROOST_PKI_SAN_EMAIL], 1, "ops@example.com");
    VALUES(&info.san[ROOST_PKI_SAN_DIRNAME], 1, "CN=Dir Name,O=Dir Org,C=US");

    CHECK_STR(info.serial, "0A1B2C3D4E");
    CHECK_EQ(info.not_after - info.not_before, 30 * 86400);
    CHECK(info.not_before <= (int64_t)time(NULL) && info.not_before > (int64_t)time(NULL) - 60);
    CHECK(!info.is_ca);
    CHECK_EQ(info.path_len, -1);
    CHECK(info.self_signed);
    CHECK_STR(info.key_type, "EC");
    CHECK_EQ(info.key_bits, 256);
    CHECK_STR(info.key_curve, "prime256v1");

    /* The CLI's view of the same certificate. */
    char path[700], line[1024], want[1100];
    snprintf(path, sizeof(path), "%s/many.pem", tmp);
    CHECK_EQ(tu_sh_line(line, sizeof(line),
                        "openssl x509 -in '%s' -noout -subject -nameopt RFC2253,-esc_msb", path),
             0);
    snprintf(want, sizeof(want), "subject=%s", info.subject.rfc2253);
    CHECK_STR(line, want);
    CHECK_EQ(tu_sh_line(line, sizeof(line), "openssl x509 -in '%s' -noout -serial", path), 0);
    snprintf(want, sizeof(want), "serial=%s", info.serial);
    CHECK_STR(line, want);
    CHECK_EQ(tu_sh_line(line, sizeof(line), "openssl x509 -in '%s' -outform der | sha256sum", path),
             0);
    line[64] = '\0';
    CHECK_STR(info.id, line);

    /* DER in, same facts out; the canonical PEM is what the CLI writes. */
    char der_path[700], canon_path[700];
    snprintf(der_path, sizeof(der_path), "%s/many.der", tmp);
    snprintf(canon_path, sizeof(canon_path), "%s/canon.pem", tmp);
    REQUIRE_EQ(tu_sh("openssl x509 -in '%s' -outform der -out '%s'", path, der_path), 0);
    REQUIRE_EQ(tu_sh("openssl x509 -in '%s' -out '%s'", path, canon_path), 0);
    size_t der_len = 0;
    char *der = tu_read(der_path, &der_len);
    char *canon = tu_read(canon_path, NULL);
    REQUIRE(der && canon);
    CHECK_EQ(info.der_len, der_len);
    CHECK_STR(info.pem, canon);
    char der_id[65];
    roost_pki_cert_id_from_der((const uint8_t *)der, der_len, der_id);
    CHECK_STR(der_id, info.id);
    struct roost_pki_cert_info from_der;
    REQUIRE_OK(roost_pki_cert_info(der, der_len, &from_der));
    CHECK_STR(from_der.id, info.id);
    CHECK_STR(from_der.subject.rfc2253, info.subject.rfc2253);
    CHECK_STR(from_der.pem, info.pem);
    roost_pki_cert_info_cleanup(&from_der);

    /* A key block ahead of the certificate is passed over. */
    char key_path[700];
    snprintf(key_path, sizeof(key_path), "%s/many.key", tmp);
    char *key = tu_read(key_path, NULL);
    REQUIRE(key);
    size_t both_len = strlen(key) + len;
    char *both = roost_xmalloc(both_len + 1);
    memcpy(both, key, strlen(key));
    memcpy(both + strlen(key), pem, len + 1);
    REQUIRE_OK(roost_pki_cert_info(both, both_len, &from_der));
    CHECK_STR(from_der.id, info.id);
    CHECK(strstr(from_der.pem, "PRIVATE") == NULL);
    roost_pki_cert_info_cleanup(&from_der);

    CHECK_EQ(ERR_peek_error(), 0);
    roost_pki_cert_info_cleanup(&info);
    roost_pki_cert_info_cleanup(&info); /* twice is fine */
    roost_free(both), roost_free(key), roost_free(der), roost_free(canon), roost_free(pem);
}

ROOST_TEST(cert_info_key_types_and_ca_flags)
{
    const char *tmp = roost_test_tmpdir();
    char root[700], path[700];
    struct roost_pki_ca *ca = tu_roost_ca(tmp, root, sizeof(root));
    REQUIRE(ca);
    roost_pki_ca_free(ca);
    struct roost_pki_cert_info info;

    size_t len = 0;
    char *pem = tu_read(root, &len);
    REQUIRE_OK(roost_pki_cert_info(pem, len, &info));
    CHECK(info.is_ca && info.self_signed);
    CHECK_EQ(info.path_len, -1);
    CHECK(strncmp(info.subject.attr[ROOST_PKI_ATTR_COMMON_NAME].v[0], "Roost Root CA ", 14) == 0);
    VALUES(&info.subject.attr[ROOST_PKI_ATTR_ORGANIZATION], 1, "Roost");
    CHECK_EQ(info.san[ROOST_PKI_SAN_DNS].total, 0);
    char root_dn[256];
    snprintf(root_dn, sizeof(root_dn), "%s", info.subject.rfc2253);
    roost_pki_cert_info_cleanup(&info);
    roost_free(pem);

    snprintf(path, sizeof(path), "%s/pki/%s", tmp, ROOST_PKI_SERVER_CERT);
    pem = tu_read(path, &len);
    REQUIRE_OK(roost_pki_cert_info(pem, len, &info));
    CHECK(!info.is_ca && !info.self_signed);
    CHECK_STR(info.issuer.rfc2253, root_dn);
    VALUES(&info.san[ROOST_PKI_SAN_DNS], 1, "localhost");
    VALUES(&info.san[ROOST_PKI_SAN_IP], 2, "127.0.0.1", "::1");
    roost_pki_cert_info_cleanup(&info);
    roost_free(pem);

    pem = cli_cert(tmp, "ed", "-newkey ed25519", "v3_ca1", "/CN=ed", &len);
    REQUIRE(pem);
    REQUIRE_OK(roost_pki_cert_info(pem, len, &info));
    CHECK_STR(info.key_type, "ED25519");
    CHECK_STR(info.key_curve, "");
    CHECK(info.is_ca && info.self_signed);
    CHECK_EQ(info.path_len, 1);
    CHECK_STR(info.subject.rfc2253, "CN=ed");
    CHECK_EQ(info.subject.attr[ROOST_PKI_ATTR_ORGANIZATION].n, 0);
    CHECK(info.subject.attr[ROOST_PKI_ATTR_ORGANIZATION].v[0] == NULL);
    roost_pki_cert_info_cleanup(&info);
    roost_free(pem);

    pem = cli_cert(tmp, "rsa", "-newkey rsa:2048", "v3_leaf", "/CN=rsa", &len);
    REQUIRE(pem);
    REQUIRE_OK(roost_pki_cert_info(pem, len, &info));
    CHECK_STR(info.key_type, "RSA");
    CHECK_EQ(info.key_bits, 2048);
    CHECK(!info.is_ca && info.self_signed);
    roost_pki_cert_info_cleanup(&info);
    roost_free(pem);
}

/* ==== Hand-made certificates with hostile contents ======================= */

/* Signs a certificate around `subject` (taken) and optional SANs (taken)
 * with a throwaway key; returns its DER. */
static uint8_t *make_der(X509_NAME *subject, GENERAL_NAMES *sans, int *out_len)
{
    EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    X509 *x = X509_new();
    ROOST_ASSERT(key && x);
    X509_set_version(x, X509_VERSION_3);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    ROOST_ASSERT(X509_set_subject_name(x, subject) && X509_set_issuer_name(x, subject) &&
                 X509_set_pubkey(x, key));
    if (sans)
        ROOST_ASSERT(X509_add1_ext_i2d(x, NID_subject_alt_name, sans, 0, X509V3_ADD_DEFAULT));
    ROOST_ASSERT(X509_sign(x, key, EVP_sha256()) > 0);
    uint8_t *der = NULL;
    *out_len = i2d_X509(x, &der);
    X509_free(x);
    X509_NAME_free(subject);
    GENERAL_NAMES_free(sans);
    EVP_PKEY_free(key);
    return der;
}

/* A subject with one attribute of raw bytes in a given ASN.1 string type. */
static X509_NAME *raw_name(int nid, int type, const void *bytes, int len)
{
    X509_NAME *n = X509_NAME_new();
    X509_NAME_add_entry_by_txt(n, "O", MBSTRING_ASC, (const unsigned char *)"Acme", -1, -1, 0);
    X509_NAME_ENTRY *e = X509_NAME_ENTRY_create_by_NID(NULL, nid, type, bytes, len);
    ROOST_ASSERT(e && X509_NAME_add_entry(n, e, -1, 0));
    X509_NAME_ENTRY_free(e);
    return n;
}

static GENERAL_NAMES *one_san(int type, const void *bytes, int len)
{
    GENERAL_NAMES *names = sk_GENERAL_NAME_new_null();
    GENERAL_NAME *gn = GENERAL_NAME_new();
    ASN1_STRING *s = type == GEN_IPADD ? ASN1_OCTET_STRING_new() : ASN1_IA5STRING_new();
    ASN1_STRING_set(s, bytes, len);
    GENERAL_NAME_set0_value(gn, type, s);
    sk_GENERAL_NAME_push(names, gn);
    return names;
}

static int info_of_der(const uint8_t *der, int len)
{
    struct roost_pki_cert_info info;
    int rc = roost_pki_cert_info((const char *)der, (size_t)len, &info);
    roost_pki_cert_info_cleanup(&info);
    return rc;
}

/* Replaces every `from` in the DER (subject and issuer) with `to`, same
 * length: names OpenSSL refuses to encode can only be made this way. */
static void patch(uint8_t *der, int len, const char *from, const char *to, size_t n)
{
    int hits = 0;
    uint8_t *at = der, *end = der + len;
    while ((at = memmem(at, (size_t)(end - at), from, n)) != NULL) {
        memcpy(at, to, n);
        at += n;
        hits++;
    }
    ROOST_ASSERT(hits == 2);
}

ROOST_TEST(cert_info_refuses_unsafe_strings)
{
    int len = 0;
    uint8_t *der;
    struct roost_pki_cert_info info;

    /* The classic "evil\0.example.com" CN. */
    der = make_der(raw_name(NID_commonName, V_ASN1_UTF8STRING, "evil\0.example.com", 17), NULL,
                   &len);
    CHECK_EQ(info_of_der(der, len), ROOST_EINVAL);
    patch(der, len, "evil\0", "evil.", 5); /* the control: fixed, it reads */
    REQUIRE_OK(roost_pki_cert_info((const char *)der, (size_t)len, &info));
    VALUES(&info.subject.attr[ROOST_PKI_ATTR_COMMON_NAME], 1, "evil..example.com");
    roost_pki_cert_info_cleanup(&info);
    OPENSSL_free(der);
    /* Not UTF-8 in a UTF8String; a lone surrogate in a BMPString. */
    der = make_der(raw_name(NID_organizationalUnitName, V_ASN1_UTF8STRING, "a#Z", 3), NULL,
                   &len);
    patch(der, len, "a#Z", "a\xff\x80", 3);
    CHECK_EQ(info_of_der(der, len), ROOST_EINVAL);
    OPENSSL_free(der);
    der = make_der(raw_name(NID_commonName, V_ASN1_BMPSTRING, "\x00\x40\x00\x41", 4), NULL,
                   &len);
    patch(der, len, "\x00\x40\x00\x41", "\x00\x40\xd8\x00", 4);
    CHECK_EQ(info_of_der(der, len), ROOST_EINVAL);
    OPENSSL_free(der);
    /* A Latin-1 T61String is converted, not refused. */
    der = make_der(raw_name(NID_localityName, V_ASN1_T61STRING, "M\xfcnchen", 7), NULL, &len);
    REQUIRE_OK(roost_pki_cert_info((const char *)der, (size_t)len, &info));
    CHECK_STR(info.subject.attr[ROOST_PKI_ATTR_LOCALITY].v[0], "M\xc3\xbcnchen");
    CHECK_STR(info.subject.rfc2253, "L=M\xc3\xbcnchen,O=Acme");
    roost_pki_cert_info_cleanup(&info);
    OPENSSL_free(der);

    /* SANs: NUL or 8-bit bytes in a DNS name, an IP of 5 bytes. */
    der = make_der(raw_name(NID_commonName, V_ASN1_UTF8STRING, "ok", 2),
                   one_san(GEN_DNS, "a\0b.example.com", 15), &len);
    CHECK_EQ(info_of_der(der, len), ROOST_EINVAL);
    OPENSSL_free(der);
    der = make_der(raw_name(NID_commonName, V_ASN1_UTF8STRING, "ok", 2),
                   one_san(GEN_URI, "http://\xe9", 8), &len);
    CHECK_EQ(info_of_der(der, len), ROOST_EINVAL);
    OPENSSL_free(der);
    der = make_der(raw_name(NID_commonName, V_ASN1_UTF8STRING, "ok", 2),
                   one_san(GEN_IPADD, "\x0a\x00\x00\x01\x02", 5), &len);
    CHECK_EQ(info_of_der(der, len), ROOST_EINVAL);
    OPENSSL_free(der);

    /* A well-formed control: the helpers themselves make readable certs. */
    der = make_der(raw_name(NID_commonName, V_ASN1_UTF8STRING, "fine", 4),
                   one_san(GEN_IPADD, "\x0a\x00\x00\x01", 4), &len);
    REQUIRE_OK(roost_pki_cert_info((const char *)der, (size_t)len, &info));
    VALUES(&info.san[ROOST_PKI_SAN_IP], 1, "10.0.0.1");
    VALUES(&info.subject.attr[ROOST_PKI_ATTR_COMMON_NAME], 1, "fine");
    CHECK_STR(info.serial, "07");

    /* The same certificate with a non-minimal outer length: BER, not DER,
     * so its SHA-256 would not be the id TLS computes. */
    REQUIRE(len > 255 && len < 65535 && der[0] == 0x30 && der[1] == 0x82);
    uint8_t *ber = roost_xmalloc((size_t)len + 1);
    ber[0] = 0x30, ber[1] = 0x83, ber[2] = 0x00;
    memcpy(ber + 3, der + 2, (size_t)len - 2);
    CHECK_EQ(info_of_der(ber, len + 1), ROOST_EINVAL);
    roost_free(ber);
    /* Trailing bytes after the DER; cut short. */
    uint8_t *more = roost_xmalloc((size_t)len + 1);
    memcpy(more, der, (size_t)len);
    more[len] = 0;
    CHECK_EQ(info_of_der(more, len + 1), ROOST_EINVAL);
    CHECK_EQ(info_of_der(more, len - 1), ROOST_EINVAL);
    roost_free(more);
    roost_pki_cert_info_cleanup(&info);
    OPENSSL_free(der);
    CHECK_EQ(ERR_peek_error(), 0);
}

ROOST_TEST(cert_info_refuses_garbage)
{
    const char *tmp = roost_test_tmpdir();
    char root[700];
    struct roost_pki_ca *ca = tu_roost_ca(tmp, root, sizeof(root));
    REQUIRE(ca);
    const char *pem = roost_pki_ca_pem(ca);
    size_t len = strlen(pem);
    struct roost_pki_cert_info info;

    CHECK_EQ(roost_pki_cert_info("", 0, &info), ROOST_EINVAL);
    CHECK_EQ(roost_pki_cert_info(NULL, 0, &info), ROOST_EINVAL);
    CHECK_EQ(roost_pki_cert_info("hello", 5, &info), ROOST_EINVAL);
    CHECK(info.pem == NULL && info.id[0] == '\0');
    roost_pki_cert_info_cleanup(&info);
    CHECK_EQ(roost_pki_cert_info(pem, len / 2, &info), ROOST_EINVAL);
    const char *bad64 = "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n";
    const char *tiny = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
    CHECK_EQ(roost_pki_cert_info(bad64, strlen(bad64), &info), ROOST_EINVAL);
    CHECK_EQ(roost_pki_cert_info(tiny, strlen(tiny), &info), ROOST_EINVAL);
    /* A CSR or a key is not a certificate. */
    struct roost_pki_issued iss;
    REQUIRE_OK(roost_pki_issue_keypair(ca, "k", 1, 0, &iss));
    CHECK_EQ(roost_pki_cert_info(iss.private_key_pem, strlen(iss.private_key_pem), &info),
             ROOST_EINVAL);
    CHECK_EQ(roost_pki_cert_info(iss.public_key_pem, strlen(iss.public_key_pem), &info),
             ROOST_EINVAL);
    roost_pki_issued_cleanup(&iss);
    uint8_t noise[512];
    for (size_t i = 0; i < sizeof(noise); i++)
        noise[i] = (uint8_t)(i * 131 + 7);
    noise[0] = 0x30;
    CHECK_EQ(roost_pki_cert_info((const char *)noise, sizeof(noise), &info), ROOST_EINVAL);

    /* Larger than AWS's 64 KiB certificatePem: refused before parsing. */
    char *big = roost_xmalloc(ROOST_PKI_CERT_MAX + 1);
    memset(big, '\n', ROOST_PKI_CERT_MAX + 1);
    memcpy(big, pem, len);
    CHECK_EQ(roost_pki_cert_info(big, ROOST_PKI_CERT_MAX + 1, &info), ROOST_ETOOBIG);
    CHECK_OK(roost_pki_cert_info(big, ROOST_PKI_CERT_MAX, &info));
    roost_pki_cert_info_cleanup(&info);
    roost_free(big);
    CHECK_EQ(ERR_peek_error(), 0);
    roost_pki_ca_free(ca);
}

/* ==== Bundles and names ================================================== */

ROOST_TEST(pem_split_first_of_bundles)
{
    const char *tmp = roost_test_tmpdir();
    char root[700];
    struct roost_pki_ca *ca = tu_roost_ca(tmp, root, sizeof(root));
    REQUIRE(ca);
    struct roost_pki_issued dev;
    REQUIRE_OK(roost_pki_issue_keypair(ca, "jitp-device", 1, 0, &dev));
    const char *ca_pem = roost_pki_ca_pem(ca);
    char bundle[8192];
    struct roost_str first, rest;

    /* device + CA, as JITP devices send them. */
    int n = snprintf(bundle, sizeof(bundle), "%s%s", dev.cert_pem, ca_pem);
    REQUIRE_OK(roost_pki_pem_split_first(bundle, (size_t)n, &first, &rest));
    CHECK(roost_str_eq_c(first, dev.cert_pem));
    CHECK(roost_str_eq_c(rest, ca_pem));
    struct roost_pki_cert_info info;
    REQUIRE_OK(roost_pki_cert_info(rest.p, rest.n, &info));
    CHECK_STR(info.id, roost_pki_ca_id(ca));
    roost_pki_cert_info_cleanup(&info);

    /* Leading text, blank lines between, CRLF line ends. */
    n = snprintf(bundle, sizeof(bundle), "Bag Attributes\n  friendlyName: x\n%s\n\n%s",
                 dev.cert_pem, ca_pem);
    char crlf[9000];
    size_t m = 0;
    for (int i = 0; i < n; i++) {
        if (bundle[i] == '\n')
            crlf[m++] = '\r';
        crlf[m++] = bundle[i];
    }
    REQUIRE_OK(roost_pki_pem_split_first(crlf, m, &first, &rest));
    CHECK(first.n > 4 && strncmp(first.p, "-----BEGIN CERTIFICATE-----\r\n", 29) == 0);
    CHECK(memcmp(first.p + first.n - 27, "-----END CERTIFICATE-----\r\n", 27) == 0);
    CHECK(rest.n > 0 && strncmp(rest.p, "-----BEGIN CERTIFICATE-----\r\n", 29) == 0);
    CHECK(rest.p + rest.n == crlf + m);
    char id[65];
    REQUIRE_OK(roost_pki_cert_id_from_pem(first.p, first.n, id));
    CHECK_STR(id, dev.id);

    /* One certificate, trailing blank lines, no final newline. */
    n = snprintf(bundle, sizeof(bundle), "%s\n\n", dev.cert_pem);
    REQUIRE_OK(roost_pki_pem_split_first(bundle, (size_t)n, &first, &rest));
    CHECK(roost_str_eq_c(first, dev.cert_pem));
    CHECK_EQ(rest.n, 0);
    size_t dl = strlen(dev.cert_pem) - 1;
    REQUIRE_OK(roost_pki_pem_split_first(dev.cert_pem, dl, &first, &rest));
    CHECK_EQ(first.n, dl);
    CHECK_EQ(rest.n, 0);

    /* No END, nothing, an empty block, a broken first certificate. */
    CHECK_EQ(roost_pki_pem_split_first(dev.cert_pem, 100, &first, &rest), ROOST_EINVAL);
    CHECK_EQ(roost_pki_pem_split_first("", 0, &first, &rest), ROOST_EINVAL);
    CHECK_EQ(roost_pki_pem_split_first(ca_pem, 27, &first, &rest), ROOST_EINVAL);
    const char *empty = "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n";
    CHECK_EQ(roost_pki_pem_split_first(empty, strlen(empty), &first, &rest), ROOST_EINVAL);
    n = snprintf(bundle, sizeof(bundle), "%s%s", dev.cert_pem, ca_pem);
    memset(bundle + 40, '!', 8); /* not base64 */
    CHECK_EQ(roost_pki_pem_split_first(bundle, (size_t)n, &first, &rest), ROOST_EINVAL);
    CHECK_EQ(ERR_peek_error(), 0);
    roost_pki_issued_cleanup(&dev);
    roost_pki_ca_free(ca);
}

ROOST_TEST(attr_names_round_trip)
{
    for (int i = 0; i < ROOST_PKI_ATTR_COUNT; i++) {
        const char *name = roost_pki_attr_name((enum roost_pki_attr)i);
        CHECK(name[0] != '\0');
        CHECK_EQ(roost_pki_attr_lookup(name, strlen(name)), i);
    }
    CHECK_EQ(roost_pki_attr_lookup("CommonName", 10), ROOST_PKI_ATTR_COMMON_NAME);
    CHECK_EQ(roost_pki_attr_lookup("StateName", 9), ROOST_PKI_ATTR_STATE);
    CHECK_EQ(roost_pki_attr_lookup("State", 5), ROOST_PKI_ATTR_STATE);
    CHECK_EQ(roost_pki_attr_lookup("DistinguishedNameQualifier", 26),
             ROOST_PKI_ATTR_DN_QUALIFIER);
    CHECK_EQ(roost_pki_attr_lookup("commonname", 10), -1);
    CHECK_EQ(roost_pki_attr_lookup("CommonNameX", 10), ROOST_PKI_ATTR_COMMON_NAME);
    CHECK_EQ(roost_pki_attr_lookup("Common", 6), -1);
    CHECK_EQ(roost_pki_attr_lookup(NULL, 0), -1);
    CHECK_STR(roost_pki_attr_name(ROOST_PKI_ATTR_COUNT), "");
}
