/*
 * test_verify.c - unit tests for src/pki/verify.c: device certificates
 * checked against the CA that issued them and against impostors (another
 * CA, the same CA name with another key, a broken signature, a non-CA),
 * validity at an injected time, registration codes, and RegisterCACertificate's
 * proof of possession with a CA and verification certificate made by the
 * openssl CLI, the way the AWS guide tells operators to make them.
 */
#include "pki_test_util.h"

#include <ctype.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/pem.h>

struct clidir {
    char dir[600];
    char cnf[700];
};

static void cli_init(struct clidir *c, const char *dir)
{
    snprintf(c->dir, sizeof(c->dir), "%s", dir);
    snprintf(c->cnf, sizeof(c->cnf), "%s/openssl.cnf", dir);
    tu_write_cnf(c->cnf);
}

/* A self-signed CA: dir/name.pem + name.key. */
static char *cli_ca(const struct clidir *c, const char *name, const char *subj, const char *ext,
                    int days)
{
    char path[700];
    snprintf(path, sizeof(path), "%s/%s.pem", c->dir, name);
    if (tu_sh("openssl req -x509 -config '%s' -extensions %s -newkey ec "
              "-pkeyopt ec_paramgen_curve:P-256 -nodes -keyout '%s/%s.key' -out '%s' -days %d "
              "-subj '%s'",
              c->cnf, ext, c->dir, name, path, days, subj) != 0)
        return NULL;
    return tu_read(path, NULL);
}

/* A certificate for a new key, signed by CA `ca` (dir/ca.pem + ca.key). */
static char *cli_signed(const struct clidir *c, const char *name, const char *subj,
                        const char *ca, const char *ext, int days)
{
    char path[700];
    snprintf(path, sizeof(path), "%s/%s.pem", c->dir, name);
    if (tu_sh("openssl req -new -config '%s' -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
              "-keyout '%s/%s.key' -out '%s/%s.csr' -subj '%s'",
              c->cnf, c->dir, name, c->dir, name, subj) != 0 ||
        tu_sh("openssl x509 -req -in '%s/%s.csr' -CA '%s/%s.pem' -CAkey '%s/%s.key' "
              "-set_serial 0x1234 -days %d -extfile '%s' -extensions %s -out '%s'",
              c->dir, name, c->dir, ca, c->dir, ca, days, c->cnf, ext, path) != 0)
        return NULL;
    return tu_read(path, NULL);
}

static int64_t not_after_of(const char *pem)
{
    struct roost_pki_cert_info info;
    int64_t t = -1;
    if (roost_pki_cert_info(pem, strlen(pem), &info) == 0)
        t = info.not_after;
    roost_pki_cert_info_cleanup(&info);
    return t;
}

/* Flips a bit in the last byte of the certificate's signature. */
static char *break_signature(const char *pem)
{
    BIO *in = BIO_new_mem_buf(pem, -1);
    char *name = NULL, *header = NULL, *out = NULL;
    unsigned char *der = NULL;
    long len = 0;
    if (PEM_read_bio(in, &name, &header, &der, &len)) {
        der[len - 1] ^= 0x01;
        BIO *o = BIO_new(BIO_s_mem());
        PEM_write_bio(o, name, "", der, len);
        char *data = NULL;
        long n = BIO_get_mem_data(o, &data);
        out = roost_xstrndup(data, (size_t)n);
        BIO_free(o);
    }
    OPENSSL_free(name), OPENSSL_free(header), OPENSSL_free(der);
    BIO_free(in);
    return out;
}

#define VERIFY(cert, ca, now) \
    roost_pki_verify_signed_by((cert), strlen(cert), (ca), strlen(ca), (now), err, sizeof(err))

ROOST_TEST(verify_signed_by_roost_ca)
{
    const char *tmp = roost_test_tmpdir();
    char root[700], other_dir[700], other_root[800], err[256];
    struct roost_pki_ca *ca = tu_roost_ca(tmp, root, sizeof(root));
    snprintf(other_dir, sizeof(other_dir), "%s/other", tmp);
    struct roost_pki_ca *other = tu_roost_ca(other_dir, other_root, sizeof(other_root));
    REQUIRE(ca && other);
    const char *ca_pem = roost_pki_ca_pem(ca);
    struct roost_pki_issued dev;
    REQUIRE_OK(roost_pki_issue_keypair(ca, "dev", 30, 0, &dev));
    time_t now = time(NULL);

    err[0] = '\0';
    CHECK_OK(VERIFY(dev.cert_pem, ca_pem, now));
    CHECK_STR(err, "");

    /* DER works as well as PEM. */
    struct roost_pki_cert_info info;
    REQUIRE_OK(roost_pki_cert_info(ca_pem, strlen(ca_pem), &info));
    char path[700];
    snprintf(path, sizeof(path), "%s/ca.der", tmp);
    REQUIRE(tu_write(path, ca_pem, strlen(ca_pem)));
    REQUIRE_EQ(tu_sh("openssl x509 -in '%s' -outform der -out '%s.2'", path, path), 0);
    char der_path[720];
    snprintf(der_path, sizeof(der_path), "%s.2", path);
    size_t der_len = 0;
    char *der = tu_read(der_path, &der_len);
    REQUIRE(der);
    CHECK_OK(roost_pki_verify_signed_by(dev.cert_pem, strlen(dev.cert_pem), der, der_len, now, err,
                                        sizeof(err)));
    roost_free(der);
    roost_pki_cert_info_cleanup(&info);

    /* Validity at the injected time: the device's window, then the CA's. */
    CHECK_OK(VERIFY(dev.cert_pem, ca_pem, (time_t)dev.not_before));
    CHECK_OK(VERIFY(dev.cert_pem, ca_pem, (time_t)dev.not_after));
    CHECK_EQ(VERIFY(dev.cert_pem, ca_pem, (time_t)dev.not_after + 1), ROOST_EAUTH);
    CHECK_STR(err, "The certificate has expired");
    CHECK_EQ(VERIFY(dev.cert_pem, ca_pem, (time_t)dev.not_before - 1), ROOST_EAUTH);
    CHECK_STR(err, "The certificate is not yet valid");

    /* Another CA: its name differs. */
    CHECK_EQ(VERIFY(dev.cert_pem, roost_pki_ca_pem(other), now), ROOST_EAUTH);
    CHECK_STR(err, "The certificate's issuer does not match the CA certificate's subject");
    /* A broken signature. */
    char *broken = break_signature(dev.cert_pem);
    REQUIRE(broken);
    CHECK_EQ(VERIFY(broken, ca_pem, now), ROOST_EAUTH);
    CHECK_STR(err, "The certificate is not signed by the CA certificate's key");
    /* A certificate that is no CA, as "CA". */
    CHECK_EQ(VERIFY(dev.cert_pem, dev.cert_pem, now), ROOST_EAUTH);
    CHECK_STR(err, "The CA certificate is not a certificate authority");
    /* Unreadable input. */
    CHECK_EQ(VERIFY("junk", ca_pem, now), ROOST_EINVAL);
    CHECK_STR(err, "The certificate is not a valid X.509 certificate");
    CHECK_EQ(VERIFY(dev.cert_pem, "-----BEGIN X-----\nAA==\n-----END X-----\n", now),
             ROOST_EINVAL);
    CHECK_STR(err, "The CA certificate is not a PEM certificate");
    /* err may be left out. */
    CHECK_EQ(roost_pki_verify_signed_by(broken, strlen(broken), ca_pem, strlen(ca_pem), now, NULL,
                                        0),
             ROOST_EAUTH);
    CHECK_EQ(ERR_peek_error(), 0);
    roost_free(broken);
    roost_pki_issued_cleanup(&dev);
    roost_pki_ca_free(other);
    roost_pki_ca_free(ca);
}

ROOST_TEST(verify_signed_by_cli_chain)
{
    const char *tmp = roost_test_tmpdir();
    struct clidir c;
    char err[256];
    cli_init(&c, tmp);

    /* The CLI stamps notBefore with the second it signs, so `now` is read
     * only once every certificate exists. */
    char *ca = cli_ca(&c, "ca", "/O=Acme/CN=Acme Device CA", "v3_ca", 2);
    char *dev = cli_signed(&c, "dev", "/O=Acme/CN=dev-1", "ca", "v3_leaf", 30);
    char *twin = cli_ca(&c, "twin", "/O=Acme/CN=Acme Device CA", "v3_ca", 2);
    char *bare = cli_signed(&c, "bare", "/CN=bare", "ca", "v3_bare", 30);
    REQUIRE(ca && dev && twin && bare);
    time_t now = time(NULL);
    CHECK_OK(VERIFY(dev, ca, now));
    /* The device outlives its CA: once the CA has expired, it is refused. */
    int64_t ca_end = not_after_of(ca);
    REQUIRE(ca_end > 0 && not_after_of(dev) > ca_end);
    CHECK_EQ(VERIFY(dev, ca, (time_t)ca_end + 10), ROOST_EAUTH);
    CHECK_STR(err, "The CA certificate has expired");

    /* Same CA name, another key: the key identifiers disagree... */
    CHECK_EQ(VERIFY(dev, twin, now), ROOST_EAUTH);
    CHECK_STR(err, "The certificate's authority key identifier does not match the CA certificate");
    /* ...and without key identifiers, the signature does. */
    CHECK_OK(VERIFY(bare, ca, now));
    CHECK_EQ(VERIFY(bare, twin, now), ROOST_EAUTH);
    CHECK_STR(err, "The certificate is not signed by the CA certificate's key");
    CHECK_EQ(ERR_peek_error(), 0);
    roost_free(ca), roost_free(dev), roost_free(twin), roost_free(bare);
}

ROOST_TEST(registration_codes_are_random_hex)
{
    char a[65], b[65];
    REQUIRE_OK(roost_pki_registration_code_new(a));
    REQUIRE_OK(roost_pki_registration_code_new(b));
    CHECK_EQ(strlen(a), 64);
    for (int i = 0; i < 64; i++)
        CHECK(isxdigit((unsigned char)a[i]) && !isupper((unsigned char)a[i]));
    CHECK(strcmp(a, b) != 0);
}

#define REGISTER(ca, ver, code, now)                                                             \
    roost_pki_verify_ca_registration((ca), strlen(ca), (ver), strlen(ver), (code), (now), err,   \
                                     sizeof(err))

ROOST_TEST(ca_registration_proof_of_possession)
{
    const char *tmp = roost_test_tmpdir();
    struct clidir c;
    char err[256], code[65], other_code[65], subj[200];
    cli_init(&c, tmp);
    REQUIRE_OK(roost_pki_registration_code_new(code));
    REQUIRE_OK(roost_pki_registration_code_new(other_code));

    /* The operator's CA and a verification certificate with CN = code,
     * signed by the CA's key, as the AWS guide makes them; then the
     * impostors. `now` is read once they all exist (the CLI stamps
     * notBefore with the second it signs). */
    char *ca = cli_ca(&c, "ca", "/O=Acme/CN=Acme Device CA", "v3_ca", 30);
    snprintf(subj, sizeof(subj), "/CN=%s", code);
    char *ver = cli_signed(&c, "ver", subj, "ca", "v3_bare", 1);
    char *twin = cli_ca(&c, "twin", "/O=Acme/CN=Acme Device CA", "v3_ca", 30);
    char *forged = cli_signed(&c, "forged", subj, "twin", "v3_bare", 1);
    char *forged_aki = cli_signed(&c, "forged_aki", subj, "twin", "v3_leaf", 1);
    char *stranger = cli_ca(&c, "stranger", "/CN=Stranger CA", "v3_ca", 30);
    char *strange_ver = cli_signed(&c, "strange_ver", subj, "stranger", "v3_bare", 1);
    char *nocn = cli_signed(&c, "nocn", "/O=Acme", "ca", "v3_bare", 1);
    snprintf(subj, sizeof(subj), "/CN=%s/CN=%s", code, code);
    char *twocn = cli_signed(&c, "twocn", subj, "ca", "v3_bare", 1);
    char *leaf = cli_ca(&c, "leaf", "/CN=Just A Leaf", "v3_notca", 30);
    REQUIRE(ca && ver && twin && forged && forged_aki && stranger && strange_ver && nocn &&
            twocn && leaf);
    time_t now = time(NULL);

    err[0] = '\0';
    CHECK_OK(REGISTER(ca, ver, code, now));
    CHECK_STR(err, "");

    /* CN is another code: RegistrationCodeValidationException. */
    CHECK_EQ(REGISTER(ca, ver, other_code, now), ROOST_ECONFLICT);
    CHECK_STR(err, "The verification certificate's common name does not match the registration "
                   "code");
    char upper[65];
    for (int i = 0; i < 65; i++)
        upper[i] = (char)toupper((unsigned char)code[i]);
    CHECK_EQ(REGISTER(ca, ver, upper, now), ROOST_ECONFLICT);
    CHECK_EQ(REGISTER(ca, nocn, code, now), ROOST_ECONFLICT);
    CHECK(strstr(err, "no common name") != NULL);
    CHECK_EQ(REGISTER(ca, twocn, code, now), ROOST_ECONFLICT);
    CHECK(strstr(err, "more than one common name") != NULL);

    /* Signed by another key under the same CA name. */
    CHECK_EQ(REGISTER(ca, forged, code, now), ROOST_EAUTH);
    CHECK_STR(err, "The verification certificate is not signed by the CA certificate's key");
    CHECK_EQ(REGISTER(ca, forged_aki, code, now), ROOST_EAUTH);
    CHECK_STR(err, "The verification certificate's authority key identifier does not match the "
                   "CA certificate");
    /* Signed by a CA of another name. */
    CHECK_EQ(REGISTER(ca, strange_ver, code, now), ROOST_EAUTH);
    CHECK_STR(err, "The verification certificate's issuer does not match the CA certificate's "
                   "subject");

    /* The "CA" is not one: a self-signed leaf. */
    CHECK_EQ(REGISTER(leaf, ver, code, now), ROOST_EAUTH);
    CHECK_STR(err, "The CA certificate is not a CA certificate: it lacks basicConstraints CA:TRUE");
    /* A CA whose self-signature is broken. */
    char *broken = break_signature(ca);
    REQUIRE(broken);
    CHECK_EQ(REGISTER(broken, ver, code, now), ROOST_EAUTH);
    CHECK_STR(err, "The CA certificate's self-signature does not verify");

    /* Time: the verification certificate (1 day) expires before the CA. */
    int64_t ver_end = not_after_of(ver), ca_end = not_after_of(ca);
    REQUIRE(ver_end > 0 && ca_end > ver_end);
    CHECK_EQ(REGISTER(ca, ver, code, (time_t)ver_end + 1), ROOST_EAUTH);
    CHECK_STR(err, "The verification certificate has expired");
    CHECK_EQ(REGISTER(ca, ver, code, (time_t)ca_end + 1), ROOST_EAUTH);
    CHECK_STR(err, "The CA certificate has expired");
    CHECK_EQ(REGISTER(ca, ver, code, now - 86400), ROOST_EAUTH);
    CHECK_STR(err, "The CA certificate is not yet valid");

    /* Unreadable inputs and a missing code. */
    CHECK_EQ(REGISTER(ca, "nope", code, now), ROOST_EINVAL);
    CHECK_STR(err, "The verification certificate is not a valid X.509 certificate");
    CHECK_EQ(REGISTER("", ver, code, now), ROOST_EINVAL);
    CHECK_STR(err, "The CA certificate is empty");
    CHECK_EQ(REGISTER(ca, ver, "", now), ROOST_EINVAL);
    CHECK_EQ(roost_pki_verify_ca_registration(ca, strlen(ca), ver, strlen(ver), NULL, now, NULL, 0),
             ROOST_EINVAL);
    CHECK_EQ(ERR_peek_error(), 0);
    roost_free(ca), roost_free(ver), roost_free(nocn), roost_free(twocn), roost_free(twin);
    roost_free(forged), roost_free(forged_aki), roost_free(stranger), roost_free(strange_ver);
    roost_free(leaf), roost_free(broken);
}

ROOST_TEST(ca_registration_of_roost_root)
{
    /* Roost's own root registers like any CA: its verification certificate
     * is simply issued by it with the code as CN. */
    const char *tmp = roost_test_tmpdir();
    char root[700], code[65], err[256];
    struct roost_pki_ca *ca = tu_roost_ca(tmp, root, sizeof(root));
    REQUIRE(ca);
    REQUIRE_OK(roost_pki_registration_code_new(code));
    struct roost_pki_issued ver;
    REQUIRE_OK(roost_pki_issue_keypair(ca, code, 1, 0, &ver));
    const char *ca_pem = roost_pki_ca_pem(ca);
    CHECK_OK(REGISTER(ca_pem, ver.cert_pem, code, time(NULL)));
    /* The server certificate is no CA. */
    char path[700];
    snprintf(path, sizeof(path), "%s/pki/%s", tmp, ROOST_PKI_SERVER_CERT);
    char *server = tu_read(path, NULL);
    REQUIRE(server);
    CHECK_EQ(REGISTER(server, ver.cert_pem, code, time(NULL)), ROOST_EAUTH);
    roost_free(server);
    roost_pki_issued_cleanup(&ver);
    roost_pki_ca_free(ca);
}
