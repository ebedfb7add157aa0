/*
 * test_issue.c - unit tests for src/pki/issue.c: loading a CA, issuing EC
 * and RSA device certificates with their keys, signing CSRs made by the
 * openssl CLI, refusing bad CSRs, issuing from several threads at once,
 * and a real mosquitto broker accepting the certificates for mTLS. The
 * oracles are OpenSSL's API and the `openssl` command, never our own code.
 */
#include "pki_test_util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

static X509 *pem_cert(const char *pem)
{
    BIO *bio = BIO_new_mem_buf(pem, -1);
    X509 *x = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
    BIO_free(bio);
    return x;
}

static EVP_PKEY *pem_key(const char *pem, bool priv)
{
    BIO *bio = BIO_new_mem_buf(pem, -1);
    EVP_PKEY *k = NULL;
    if (bio)
        k = priv ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL)
                 : PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
    BIO_free(bio);
    return k;
}

static X509 *file_cert(const char *path)
{
    char *pem = tu_read(path, NULL);
    X509 *x = pem ? pem_cert(pem) : NULL;
    roost_free(pem);
    return x;
}

/* `openssl verify -purpose sslclient`: the CLI's own opinion. */
static bool cli_verifies(const char *dir, const char *ca_pem, const char *cert_pem)
{
    char ca_path[700], cert_path[700], line[800];
    snprintf(ca_path, sizeof(ca_path), "%s/verify-ca.pem", dir);
    snprintf(cert_path, sizeof(cert_path), "%s/verify-cert.pem", dir);
    if (!tu_write(ca_path, ca_pem, strlen(ca_pem)) ||
        !tu_write(cert_path, cert_pem, strlen(cert_pem)))
        return false;
    int st = tu_sh_line(line, sizeof(line), "openssl verify -purpose sslclient -CAfile '%s' '%s'",
                        ca_path, cert_path);
    char want[800];
    snprintf(want, sizeof(want), "%s: OK", cert_path);
    if (st != 0 || strcmp(line, want) != 0)
        fprintf(stderr, "  openssl verify: %d %s\n", st, line);
    return st == 0 && strcmp(line, want) == 0;
}

/* The device-certificate profile every issuing path must produce. */
static void check_profile(X509 *cert, X509 *ca)
{
    CHECK_EQ(X509_get_version(cert), X509_VERSION_3);
    CHECK_EQ(X509_NAME_cmp(X509_get_issuer_name(cert), X509_get_subject_name(ca)), 0);
    CHECK_EQ(X509_verify(cert, X509_get0_pubkey(ca)), 1);
    CHECK_EQ(X509_check_ca(cert), 0);
    int crit = -1;
    BASIC_CONSTRAINTS *bc = X509_get_ext_d2i(cert, NID_basic_constraints, &crit, NULL);
    REQUIRE(bc);
    CHECK(!bc->ca);
    CHECK_EQ(crit, 1);
    BASIC_CONSTRAINTS_free(bc);
    CHECK_EQ(X509_get_key_usage(cert), KU_DIGITAL_SIGNATURE);
    CHECK_EQ(X509_get_extended_key_usage(cert), XKU_SSL_CLIENT);
    CHECK(X509_get0_subject_key_id(cert) != NULL);
    const ASN1_OCTET_STRING *aki = X509_get0_authority_key_id(cert);
    REQUIRE(aki);
    CHECK_EQ(ASN1_OCTET_STRING_cmp(aki, X509_get0_subject_key_id(ca)), 0);
    /* 128 random bits, positive: 16 bytes, or 15 if the top byte is zero. */
    const ASN1_INTEGER *serial = X509_get0_serialNumber(cert);
    CHECK(ASN1_STRING_length(serial) >= 15 && ASN1_STRING_length(serial) <= 16);
    CHECK_EQ(ASN1_STRING_type(serial), V_ASN1_INTEGER);
    CHECK(X509_cmp_current_time(X509_get0_notBefore(cert)) < 0);
}

static void check_times(const struct roost_pki_issued *iss, X509 *cert, long days)
{
    time_t now = time(NULL);
    CHECK(iss->not_before <= (int64_t)now - 59 && iss->not_before >= (int64_t)now - 70);
    CHECK_EQ(iss->not_after - iss->not_before, days * 86400 + 60);
    struct tm tm;
    REQUIRE(ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm));
    CHECK_EQ((int64_t)timegm(&tm), iss->not_after);
    REQUIRE(ASN1_TIME_to_tm(X509_get0_notBefore(cert), &tm));
    CHECK_EQ((int64_t)timegm(&tm), iss->not_before);
}

ROOST_TEST(ca_load_checks_cert_and_key)
{
    const char *tmp = roost_test_tmpdir();
    char root[700], path[700], key[700];
    struct roost_pki_ca *ca = tu_roost_ca(tmp, root, sizeof(root));
    REQUIRE(ca);
    size_t len = 0;
    char *pem = tu_read(root, &len);
    char id[65];
    REQUIRE_OK(roost_pki_cert_id_from_pem(pem, len, id));
    CHECK_STR(roost_pki_ca_id(ca), id);
    CHECK(strncmp(roost_pki_ca_pem(ca), "-----BEGIN CERTIFICATE-----\n", 28) == 0);
    roost_pki_ca_free(ca);

    /* The same from memory. */
    snprintf(key, sizeof(key), "%s/pki/%s", tmp, ROOST_PKI_ROOT_KEY);
    size_t key_len = 0;
    char *key_pem = tu_read(key, &key_len);
    REQUIRE_OK(roost_pki_ca_from_pem(pem, len, key_pem, key_len, &ca));
    CHECK_STR(roost_pki_ca_id(ca), id);
    roost_pki_ca_free(ca);

    /* The server certificate is no CA; the server key is not the root's. */
    snprintf(path, sizeof(path), "%s/pki/%s", tmp, ROOST_PKI_SERVER_CERT);
    ca = (struct roost_pki_ca *)1;
    CHECK_EQ(roost_pki_ca_load(path, key, &ca), ROOST_ECONFIG);
    CHECK(ca == NULL);
    snprintf(path, sizeof(path), "%s/pki/%s", tmp, ROOST_PKI_SERVER_KEY);
    CHECK_EQ(roost_pki_ca_load(root, path, &ca), ROOST_ECONFIG);
    snprintf(path, sizeof(path), "%s/missing.pem", tmp);
    CHECK_EQ(roost_pki_ca_load(path, key, &ca), ROOST_ECONFIG);
    CHECK_EQ(roost_pki_ca_load(root, path, &ca), ROOST_ECONFIG);
    CHECK_EQ(roost_pki_ca_from_pem("x", 1, key_pem, key_len, &ca), ROOST_ECONFIG);
    CHECK_EQ(ERR_peek_error(), 0);
    roost_pki_ca_free(NULL);
    roost_free(pem);
    roost_free(key_pem);
}

ROOST_TEST(issue_ec_keypair)
{
    const char *tmp = roost_test_tmpdir();
    char root[700];
    struct roost_pki_ca *ca = tu_roost_ca(tmp, root, sizeof(root));
    REQUIRE(ca);
    X509 *ca_cert = file_cert(root);
    REQUIRE(ca_cert);

    struct roost_pki_issued iss;
    REQUIRE_OK(roost_pki_issue_keypair(ca, "thing-1", 30, 0, &iss));
    REQUIRE(iss.cert_pem && iss.private_key_pem && iss.public_key_pem);
    X509 *cert = pem_cert(iss.cert_pem);
    REQUIRE(cert);
    check_profile(cert, ca_cert);
    check_times(&iss, cert, 30);
    char cn[128] = "";
    X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof(cn));
    CHECK_STR(cn, "thing-1");
    CHECK_EQ(X509_NAME_entry_count(X509_get_subject_name(cert)), 1);

    /* PKCS#8 EC P-256 private key matching the certificate; the public key
     * PEM is the certificate's key. */
    CHECK(strncmp(iss.private_key_pem, "-----BEGIN PRIVATE KEY-----\n", 28) == 0);
    CHECK(strncmp(iss.public_key_pem, "-----BEGIN PUBLIC KEY-----\n", 27) == 0);
    EVP_PKEY *priv = pem_key(iss.private_key_pem, true);
    EVP_PKEY *pub = pem_key(iss.public_key_pem, false);
    REQUIRE(priv && pub);
    CHECK(EVP_PKEY_is_a(priv, "EC"));
    char group[32] = "";
    CHECK(EVP_PKEY_get_group_name(priv, group, sizeof(group), NULL));
    CHECK_STR(group, "prime256v1");
    CHECK_EQ(X509_check_private_key(cert, priv), 1);
    CHECK_EQ(EVP_PKEY_eq(pub, X509_get0_pubkey(cert)), 1);

    char id[65];
    REQUIRE_OK(roost_pki_cert_id_from_pem(iss.cert_pem, strlen(iss.cert_pem), id));
    CHECK_STR(iss.id, id);
    CHECK(cli_verifies(tmp, roost_pki_ca_pem(ca), iss.cert_pem));

    /* Cleanup zeroes and tolerates a second call. */
    roost_pki_issued_cleanup(&iss);
    CHECK(iss.cert_pem == NULL && iss.private_key_pem == NULL && iss.id[0] == '\0');
    roost_pki_issued_cleanup(&iss);
    roost_pki_issued_cleanup(NULL);
    CHECK_EQ(ERR_peek_error(), 0);
    EVP_PKEY_free(priv);
    EVP_PKEY_free(pub);
    X509_free(cert);
    X509_free(ca_cert);
    roost_pki_ca_free(ca);
}

ROOST_TEST(issue_rsa_keypair)
{
    const char *tmp = roost_test_tmpdir();
    char root[700];
    struct roost_pki_ca *ca = tu_roost_ca(tmp, root, sizeof(root));
    REQUIRE(ca);
    X509 *ca_cert = file_cert(root);
    struct roost_pki_issued iss;
    REQUIRE_OK(roost_pki_issue_keypair(ca, "rsa-thing", 7, ROOST_PKI_KEY_RSA2048, &iss));
    X509 *cert = pem_cert(iss.cert_pem);
    EVP_PKEY *priv = pem_key(iss.private_key_pem, true);
    REQUIRE(cert && priv && ca_cert);
    check_profile(cert, ca_cert);
    check_times(&iss, cert, 7);
    CHECK(EVP_PKEY_is_a(priv, "RSA"));
    CHECK_EQ(EVP_PKEY_get_bits(priv), 2048);
    CHECK(strncmp(iss.private_key_pem, "-----BEGIN PRIVATE KEY-----\n", 28) == 0);
    CHECK_EQ(X509_check_private_key(cert, priv), 1);
    CHECK(cli_verifies(tmp, roost_pki_ca_pem(ca), iss.cert_pem));
    EVP_PKEY_free(priv);
    X509_free(cert);
    X509_free(ca_cert);
    roost_pki_issued_cleanup(&iss);
    roost_pki_ca_free(ca);
}

ROOST_TEST(issue_defaults_limits_and_bad_arguments)
{
    const char *tmp = roost_test_tmpdir();
    char root[700];
    struct roost_pki_ca *ca = tu_roost_ca(tmp, root, sizeof(root));
    REQUIRE(ca);
    X509 *ca_cert = file_cert(root);
    REQUIRE(ca_cert);
    int64_t ca_end = 0;
    {
        struct tm tm;
        REQUIRE(ASN1_TIME_to_tm(X509_get0_notAfter(ca_cert), &tm));
        ca_end = (int64_t)timegm(&tm);
    }

    /* No CN: AWS's; days 0: as long as the CA; too many days: clipped. */
    struct roost_pki_issued a, b;
    REQUIRE_OK(roost_pki_issue_keypair(ca, NULL, 0, 0, &a));
    REQUIRE_OK(roost_pki_issue_keypair(ca, NULL, ROOST_PKI_DAYS_MAX, 0, &b));
    X509 *ca_x = pem_cert(a.cert_pem);
    REQUIRE(ca_x);
    char cn[128] = "";
    X509_NAME_get_text_by_NID(X509_get_subject_name(ca_x), NID_commonName, cn, sizeof(cn));
    CHECK_STR(cn, ROOST_PKI_DEFAULT_CN);
    X509_free(ca_x);
    CHECK_EQ(a.not_after, ca_end);
    CHECK_EQ(b.not_after, ca_end);
    /* Every certificate differs: random serials, fresh keys. */
    CHECK(strcmp(a.id, b.id) != 0);
    CHECK(strcmp(a.private_key_pem, b.private_key_pem) != 0);
    roost_pki_issued_cleanup(&a);
    roost_pki_issued_cleanup(&b);

    /* UTF-8 CNs up to 64 characters. */
    const char *umlaut = "Ger\xc3\xa4t-\xe2\x82\xac-1";
    REQUIRE_OK(roost_pki_issue_keypair(ca, umlaut, 1, 0, &a));
    ca_x = pem_cert(a.cert_pem);
    REQUIRE(ca_x);
    X509_NAME_get_text_by_NID(X509_get_subject_name(ca_x), NID_commonName, cn, sizeof(cn));
    CHECK_STR(cn, umlaut);
    X509_free(ca_x);
    roost_pki_issued_cleanup(&a);
    char cn64[65], cn65[66];
    memset(cn64, 'a', 64), cn64[64] = '\0';
    memset(cn65, 'a', 65), cn65[65] = '\0';
    CHECK_OK(roost_pki_issue_keypair(ca, cn64, 1, 0, &a));
    roost_pki_issued_cleanup(&a);

    CHECK_EQ(roost_pki_issue_keypair(ca, cn65, 1, 0, &a), ROOST_EINVAL);
    CHECK(a.cert_pem == NULL && a.id[0] == '\0');
    CHECK_EQ(roost_pki_issue_keypair(ca, "", 1, 0, &a), ROOST_EINVAL);
    CHECK_EQ(roost_pki_issue_keypair(ca, "bad\xff", 1, 0, &a), ROOST_EINVAL);
    CHECK_EQ(roost_pki_issue_keypair(ca, "x", ROOST_PKI_DAYS_MAX + 1, 0, &a), ROOST_EINVAL);
    CHECK_EQ(roost_pki_issue_keypair(ca, "x", 1, 0x80, &a), ROOST_EINVAL);
    CHECK_EQ(roost_pki_issue_keypair(NULL, "x", 1, 0, &a), ROOST_EINVAL);
    CHECK_EQ(roost_pki_issue_keypair(ca, "x", 1, 0, NULL), ROOST_EINVAL);
    CHECK_EQ(ERR_peek_error(), 0);
    X509_free(ca_cert);
    roost_pki_ca_free(ca);
}

/* A CA made in memory with the validity window [now + from, now + to]. */
static struct roost_pki_ca *window_ca(long from, long to, int64_t *out_nb, int64_t *out_na)
{
    EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    X509 *x = X509_new();
    X509_NAME *n = X509_NAME_new();
    REQUIRE(key && x && n);
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)"Window CA", -1, -1,
                               0);
    X509_set_version(x, X509_VERSION_3);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), from);
    X509_gmtime_adj(X509_getm_notAfter(x), to);
    X509_set_subject_name(x, n);
    X509_set_issuer_name(x, n);
    X509_set_pubkey(x, key);
    X509V3_CTX v3;
    X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints, "critical,CA:TRUE");
    REQUIRE(ext && X509_add_ext(x, ext, -1));
    X509_EXTENSION_free(ext);
    REQUIRE(X509_sign(x, key, EVP_sha256()) > 0);
    struct tm tm;
    REQUIRE(ASN1_TIME_to_tm(X509_get0_notBefore(x), &tm));
    *out_nb = (int64_t)timegm(&tm);
    REQUIRE(ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm));
    *out_na = (int64_t)timegm(&tm);
    BIO *cb = BIO_new(BIO_s_mem()), *kb = BIO_new(BIO_s_mem());
    PEM_write_bio_X509(cb, x);
    PEM_write_bio_PrivateKey(kb, key, NULL, NULL, 0, NULL, NULL);
    char *cp = NULL, *kp = NULL;
    long cl = BIO_get_mem_data(cb, &cp), kl = BIO_get_mem_data(kb, &kp);
    struct roost_pki_ca *ca = NULL;
    int rc = roost_pki_ca_from_pem(cp, (size_t)cl, kp, (size_t)kl, &ca);
    BIO_free(cb), BIO_free(kb);
    X509_NAME_free(n), X509_free(x), EVP_PKEY_free(key);
    REQUIRE_OK(rc);
    return ca;
}

ROOST_TEST(issue_stays_inside_ca_validity)
{
    int64_t nb = 0, na = 0;
    struct roost_pki_issued iss;
    /* A CA whose window starts in an hour and lasts an hour. */
    struct roost_pki_ca *ca = window_ca(3600, 7200, &nb, &na);
    REQUIRE_OK(roost_pki_issue_keypair(ca, "early", 30, 0, &iss));
    CHECK_EQ(iss.not_before, nb);
    CHECK_EQ(iss.not_after, na);
    roost_pki_issued_cleanup(&iss);
    roost_pki_ca_free(ca);
    /* An expired CA issues nothing. */
    ca = window_ca(-2 * 86400, -86400, &nb, &na);
    CHECK_EQ(roost_pki_issue_keypair(ca, "late", 30, 0, &iss), ROOST_ECONFIG);
    CHECK(iss.cert_pem == NULL);
    CHECK_EQ(ERR_peek_error(), 0);
    roost_pki_ca_free(ca);
}

struct issuer_job {
    const struct roost_pki_ca *ca;
    char ids[8][65];
    char *pems[8];
    int rc;
};

static void *issuer_thread(void *arg)
{
    struct issuer_job *job = arg;
    for (int i = 0; i < 8 && job->rc == 0; i++) {
        struct roost_pki_issued iss;
        job->rc = roost_pki_issue_keypair(job->ca, "parallel", 1, 0, &iss);
        if (job->rc == 0) {
            memcpy(job->ids[i], iss.id, 65);
            job->pems[i] = roost_xstrdup(iss.cert_pem);
            roost_pki_issued_cleanup(&iss);
        }
    }
    return NULL;
}

ROOST_TEST(issue_from_threads_at_once)
{
    const char *tmp = roost_test_tmpdir();
    char root[700];
    struct roost_pki_ca *ca = tu_roost_ca(tmp, root, sizeof(root));
    REQUIRE(ca);
    X509 *ca_cert = file_cert(root);
    REQUIRE(ca_cert);
    static struct issuer_job jobs[3];
    pthread_t th[3];
    memset(jobs, 0, sizeof(jobs));
    for (int t = 0; t < 3; t++) {
        jobs[t].ca = ca;
        REQUIRE_EQ(pthread_create(&th[t], NULL, issuer_thread, &jobs[t]), 0);
    }
    for (int t = 0; t < 3; t++)
        pthread_join(th[t], NULL);
    for (int t = 0; t < 3; t++) {
        CHECK_OK(jobs[t].rc);
        for (int i = 0; i < 8; i++) {
            REQUIRE(jobs[t].pems[i]);
            X509 *x = pem_cert(jobs[t].pems[i]);
            REQUIRE(x);
            CHECK_EQ(X509_verify(x, X509_get0_pubkey(ca_cert)), 1);
            X509_free(x);
            for (int u = 0; u < 3; u++)
                for (int j = 0; j < 8; j++)
                    if (u != t || j != i)
                        CHECK(strcmp(jobs[t].ids[i], jobs[u].ids[j]) != 0);
        }
    }
    for (int t = 0; t < 3; t++)
        for (int i = 0; i < 8; i++)
            roost_free(jobs[t].pems[i]);
    X509_free(ca_cert);
    roost_pki_ca_free(ca);
}

/* ==== CSRs ================================================================ */

/* Makes key + CSR with the openssl CLI; returns the CSR PEM. */
static char *cli_csr(const char *dir, const char *name, const char *newkey, const char *subj,
                     const char *extra)
{
    char cnf[700], key[700], csr[700];
    snprintf(cnf, sizeof(cnf), "%s/openssl.cnf", dir);
    tu_write_cnf(cnf);
    snprintf(key, sizeof(key), "%s/%s.key", dir, name);
    snprintf(csr, sizeof(csr), "%s/%s.csr", dir, name);
    if (tu_sh("openssl req -new -config '%s' %s -nodes -keyout '%s' -out '%s' -subj '%s' %s",
              cnf, newkey, key, csr, subj, extra ? extra : "") != 0)
        return NULL;
    return tu_read(csr, NULL);
}

static void check_csr_issued(const char *dir, const struct roost_pki_ca *ca, X509 *ca_cert,
                             const char *name, const char *csr_pem, const char *want_rfc2253)
{
    char err[256] = "";
    struct roost_pki_issued iss;
    REQUIRE_OK(roost_pki_sign_csr(ca, csr_pem, strlen(csr_pem), 10, &iss, err, sizeof(err)));
    CHECK_STR(err, "");
    CHECK(iss.private_key_pem == NULL);
    REQUIRE(iss.cert_pem && iss.public_key_pem);
    X509 *cert = pem_cert(iss.cert_pem);
    REQUIRE(cert);
    check_profile(cert, ca_cert);
    check_times(&iss, cert, 10);

    /* The certificate carries the CSR's key: the CLI's private key fits. */
    char path[700];
    snprintf(path, sizeof(path), "%s/%s.key", dir, name);
    char *key_pem = tu_read(path, NULL);
    EVP_PKEY *priv = key_pem ? pem_key(key_pem, true) : NULL;
    REQUIRE(priv);
    CHECK_EQ(X509_check_private_key(cert, priv), 1);

    /* The subject is the CSR's, as the CLI reads it. */
    snprintf(path, sizeof(path), "%s/%s.pem", dir, name);
    REQUIRE(tu_write(path, iss.cert_pem, strlen(iss.cert_pem)));
    char line[600];
    CHECK_EQ(tu_sh_line(line, sizeof(line),
                        "openssl x509 -in '%s' -noout -subject -nameopt RFC2253", path),
             0);
    char want[600];
    snprintf(want, sizeof(want), "subject=%s", want_rfc2253);
    CHECK_STR(line, want);
    CHECK(cli_verifies(dir, roost_pki_ca_pem(ca), iss.cert_pem));
    EVP_PKEY_free(priv);
    roost_free(key_pem);
    X509_free(cert);
    roost_pki_issued_cleanup(&iss);
}

ROOST_TEST(sign_csr_ec_and_rsa_keep_subject)
{
    const char *tmp = roost_test_tmpdir();
    char root[700];
    struct roost_pki_ca *ca = tu_roost_ca(tmp, root, sizeof(root));
    REQUIRE(ca);
    X509 *ca_cert = file_cert(root);
    REQUIRE(ca_cert);

    /* The CSR asks to be a CA: ignored, the profile is ours. */
    char *ec = cli_csr(tmp, "ec", "-newkey ec -pkeyopt ec_paramgen_curve:P-256",
                       "/C=US/ST=Washington/L=Seattle/O=Acme Corp/OU=Fleet/CN=dev-ec",
                       "-addext basicConstraints=critical,CA:TRUE");
    REQUIRE(ec);
    check_csr_issued(tmp, ca, ca_cert, "ec", ec,
                     "CN=dev-ec,OU=Fleet,O=Acme Corp,L=Seattle,ST=Washington,C=US");
    char *p384 = cli_csr(tmp, "p384", "-newkey ec -pkeyopt ec_paramgen_curve:P-384",
                         "/O=Acme/CN=dev-384", NULL);
    REQUIRE(p384);
    check_csr_issued(tmp, ca, ca_cert, "p384", p384, "CN=dev-384,O=Acme");
    char *rsa = cli_csr(tmp, "rsa", "-newkey rsa:2048", "/O=Acme/CN=dev-rsa", NULL);
    REQUIRE(rsa);
    check_csr_issued(tmp, ca, ca_cert, "rsa", rsa, "CN=dev-rsa,O=Acme");
    CHECK_EQ(ERR_peek_error(), 0);
    roost_free(ec);
    roost_free(p384);
    roost_free(rsa);
    X509_free(ca_cert);
    roost_pki_ca_free(ca);
}

/* Re-encodes a CSR with one byte of its DER changed where `needle` is. */
static char *tamper_csr(const char *pem, const char *needle, char to)
{
    BIO *in = BIO_new_mem_buf(pem, -1);
    char *name = NULL, *header = NULL;
    unsigned char *der = NULL;
    long len = 0;
    char *out = NULL;
    if (!PEM_read_bio(in, &name, &header, &der, &len))
        goto done;
    unsigned char *at = memmem(der, (size_t)len, needle, strlen(needle));
    if (!at)
        goto done;
    at[strlen(needle) - 1] = (unsigned char)to;
    BIO *o = BIO_new(BIO_s_mem());
    PEM_write_bio(o, name, "", der, len);
    char *data = NULL;
    long n = BIO_get_mem_data(o, &data);
    out = roost_xstrndup(data, (size_t)n);
    BIO_free(o);
done:
    OPENSSL_free(name);
    OPENSSL_free(header);
    OPENSSL_free(der);
    BIO_free(in);
    return out;
}

ROOST_TEST(sign_csr_rejects_bad_requests)
{
    const char *tmp = roost_test_tmpdir();
    char root[700], err[256];
    struct roost_pki_ca *ca = tu_roost_ca(tmp, root, sizeof(root));
    REQUIRE(ca);
    struct roost_pki_issued iss;

    char *good = cli_csr(tmp, "good", "-newkey ec -pkeyopt ec_paramgen_curve:P-256",
                         "/O=Acme/CN=dev-good", NULL);
    REQUIRE(good);
    /* The subject changed after signing: the signature no longer fits. */
    char *bad = tamper_csr(good, "dev-good", 'x');
    REQUIRE(bad);
    err[0] = '\0';
    CHECK_EQ(roost_pki_sign_csr(ca, bad, strlen(bad), 1, &iss, err, sizeof(err)), ROOST_EINVAL);
    CHECK(strstr(err, "signature") != NULL);
    CHECK(iss.cert_pem == NULL);

    /* Not a CSR at all; a certificate; nothing. */
    CHECK_EQ(roost_pki_sign_csr(ca, "hello", 5, 1, &iss, err, sizeof(err)), ROOST_EINVAL);
    CHECK(strstr(err, "not a valid PEM CSR") != NULL);
    const char *cert = roost_pki_ca_pem(ca);
    CHECK_EQ(roost_pki_sign_csr(ca, cert, strlen(cert), 1, &iss, err, sizeof(err)), ROOST_EINVAL);
    CHECK_EQ(roost_pki_sign_csr(ca, "", 0, 1, &iss, NULL, 0), ROOST_EINVAL);
    /* Truncated. */
    CHECK_EQ(roost_pki_sign_csr(ca, good, strlen(good) / 2, 1, &iss, err, sizeof(err)),
             ROOST_EINVAL);

    /* AWS's 4096-byte limit: a CSR padded with leading text past it. */
    size_t glen = strlen(good), pad = ROOST_PKI_CSR_MAX + 1 - glen;
    char *big = roost_xmalloc(ROOST_PKI_CSR_MAX + 1);
    for (size_t i = 0; i < pad; i++)
        big[i] = (i + 1) % 64 == 0 || i + 1 == pad ? '\n' : '#';
    memcpy(big + pad, good, glen);
    CHECK_EQ(roost_pki_sign_csr(ca, big, ROOST_PKI_CSR_MAX + 1, 1, &iss, err, sizeof(err)),
             ROOST_ETOOBIG);
    CHECK(strstr(err, "4096") != NULL);
    /* ...while exactly 4096 bytes is fine. */
    CHECK_OK(roost_pki_sign_csr(ca, big + 1, ROOST_PKI_CSR_MAX, 1, &iss, err, sizeof(err)));
    roost_pki_issued_cleanup(&iss);

    /* Keys AWS does not take. */
    char *small = cli_csr(tmp, "rsa1024", "-newkey rsa:1024", "/CN=small", NULL);
    char *ed = cli_csr(tmp, "ed", "-newkey ed25519", "/CN=ed", NULL);
    char *k1 = cli_csr(tmp, "k1", "-newkey ec -pkeyopt ec_paramgen_curve:secp256k1", "/CN=k1",
                       NULL);
    REQUIRE(small && ed && k1);
    CHECK_EQ(roost_pki_sign_csr(ca, small, strlen(small), 1, &iss, err, sizeof(err)),
             ROOST_EINVAL);
    CHECK(strstr(err, "1024 bits") != NULL);
    CHECK_EQ(roost_pki_sign_csr(ca, ed, strlen(ed), 1, &iss, err, sizeof(err)), ROOST_EINVAL);
    CHECK(strstr(err, "not supported") != NULL);
    CHECK_EQ(roost_pki_sign_csr(ca, k1, strlen(k1), 1, &iss, err, sizeof(err)), ROOST_EINVAL);
    CHECK(strstr(err, "P-256") != NULL);

    CHECK_EQ(roost_pki_sign_csr(ca, good, glen, ROOST_PKI_DAYS_MAX + 1, &iss, err, sizeof(err)),
             ROOST_EINVAL);
    CHECK_EQ(roost_pki_sign_csr(NULL, good, glen, 1, &iss, err, sizeof(err)), ROOST_EINVAL);
    CHECK_EQ(ERR_peek_error(), 0);
    roost_free(good), roost_free(bad), roost_free(big);
    roost_free(small), roost_free(ed), roost_free(k1);
    roost_pki_ca_free(ca);
}

/* ==== A real MQTT client ================================================== */

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof(sa);
    int port = -1;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
        getsockname(fd, (struct sockaddr *)&sa, &sl) == 0)
        port = ntohs(sa.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

/* Polls until something accepts on 127.0.0.1:port, for at most 5 s. */
static bool wait_listening(int port)
{
    for (int i = 0; i < 500; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in sa = {.sin_family = AF_INET,
                                 .sin_port = htons((uint16_t)port),
                                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        bool ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
        close(fd);
        if (ok)
            return true;
        nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
    }
    return false;
}

static int mqtt_pub(const char *dir, int port, const char *ca, const struct roost_pki_issued *iss,
                    const char *name, bool expect_ok)
{
    char cert[700], key[700];
    snprintf(cert, sizeof(cert), "%s/%s.pem", dir, name);
    snprintf(key, sizeof(key), "%s/%s.key", dir, name);
    if (!tu_write(cert, iss->cert_pem, strlen(iss->cert_pem)) ||
        !tu_write(key, iss->private_key_pem, strlen(iss->private_key_pem)))
        return -1;
    const char *cmd = "timeout 10 mosquitto_pub -h 127.0.0.1 -p %d --cafile '%s' --cert '%s' "
                      "--key '%s' -i %s -t roost/test -m hi -q 1";
    return expect_ok ? tu_sh(cmd, port, ca, cert, key, name)
                     : tu_sh_quiet(cmd, port, ca, cert, key, name);
}

ROOST_TEST(mosquitto_accepts_issued_ec_and_rsa_certs)
{
    if (access("/usr/sbin/mosquitto", X_OK) != 0 || tu_sh_quiet("command -v mosquitto_pub") != 0) {
        printf("# skipped: mosquitto or mosquitto_pub not installed\n");
        return;
    }
    const char *tmp = roost_test_tmpdir();
    char root[700], conf[700], text[2048];
    struct roost_pki_ca *ca = tu_roost_ca(tmp, root, sizeof(root));
    REQUIRE(ca);
    int port = free_port();
    REQUIRE(port > 0);
    snprintf(conf, sizeof(conf), "%s/mosquitto.conf", tmp);
    int n = snprintf(text, sizeof(text),
                     "listener %d 127.0.0.1\n"
                     "cafile %s\n"
                     "certfile %s/pki/%s\n"
                     "keyfile %s/pki/%s\n"
                     "require_certificate true\n"
                     "allow_anonymous true\n"
                     "persistence false\n"
                     /* Started as root, mosquitto would switch to its own
                      * user, which cannot read the 0700 pki directory. */
                     "user root\n"
                     "log_dest none\n",
                     port, root, tmp, ROOST_PKI_SERVER_CERT, tmp, ROOST_PKI_SERVER_KEY);
    REQUIRE(tu_write(conf, text, (size_t)n));

    struct roost_pki_issued ec, rsa, other;
    REQUIRE_OK(roost_pki_issue_keypair(ca, "mqtt-ec", 1, 0, &ec));
    REQUIRE_OK(roost_pki_issue_keypair(ca, "mqtt-rsa", 1, ROOST_PKI_KEY_RSA2048, &rsa));
    /* A certificate from some other CA must be refused. */
    char other_dir[700], other_root[800];
    snprintf(other_dir, sizeof(other_dir), "%s/other", tmp);
    struct roost_pki_ca *other_ca = tu_roost_ca(other_dir, other_root, sizeof(other_root));
    REQUIRE(other_ca);
    REQUIRE_OK(roost_pki_issue_keypair(other_ca, "mqtt-other", 1, 0, &other));

    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        freopen("/dev/null", "w", stdout);
        freopen("/dev/null", "w", stderr);
        execl("/usr/sbin/mosquitto", "mosquitto", "-c", conf, (char *)NULL);
        _exit(127);
    }
    bool up = wait_listening(port);
    CHECK(up);
    if (up) {
        CHECK_EQ(mqtt_pub(tmp, port, root, &ec, "mqtt-ec", true), 0);
        CHECK_EQ(mqtt_pub(tmp, port, root, &rsa, "mqtt-rsa", true), 0);
        CHECK(mqtt_pub(tmp, port, root, &other, "mqtt-other", false) != 0);
    }
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    roost_pki_issued_cleanup(&ec);
    roost_pki_issued_cleanup(&rsa);
    roost_pki_issued_cleanup(&other);
    roost_pki_ca_free(other_ca);
    roost_pki_ca_free(ca);
}
