/*
 * issue.c - the CA at work: a loaded CA handle, and the device certificates
 * it issues for CreateKeysAndCertificate (we make the key pair) and
 * CreateCertificateFromCsr (the device keeps its key and sends a CSR).
 *
 * Invariant: a struct roost_pki_ca is never written after load. Its OpenSSL
 * objects are only read while issuing (extensions are cached at load, the
 * digest is fetched at load), so concurrent issuing needs no lock. Every
 * certificate issued here gets the same profile whatever the CSR asks for:
 * v3, random 128-bit serial, CA:FALSE, digitalSignature, clientAuth, SKI,
 * AKI, notBefore a minute back, the validity inside the CA's.
 */
#include "pki/pki_int.h"

#include <limits.h>
#include <stdio.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#define CN_MAX_BYTES 256 /* 64 characters (ub-common-name) of up to 4 bytes */

struct roost_pki_ca {
    X509 *cert;
    EVP_PKEY *key;
    EVP_MD *md;  /* signature digest, fetched once; NULL for EdDSA keys */
    char *pem;   /* canonical PEM of cert */
    char id[65]; /* certificate id of cert */
};

/* ==== Loading ============================================================ */

/* The digest that matches the CA key's strength; EdDSA signs without one. */
static int pick_digest(EVP_PKEY *key, EVP_MD **out_md)
{
    *out_md = NULL;
    if (EVP_PKEY_is_a(key, "ED25519") || EVP_PKEY_is_a(key, "ED448"))
        return 0;
    const char *name = "SHA256";
    if (EVP_PKEY_is_a(key, "EC") && EVP_PKEY_get_bits(key) > 384)
        name = "SHA512";
    else if (EVP_PKEY_is_a(key, "EC") && EVP_PKEY_get_bits(key) > 256)
        name = "SHA384";
    *out_md = EVP_MD_fetch(NULL, name, NULL);
    return *out_md ? 0 : pki__ossl_fail(name, ROOST_ETLS);
}

/* Takes ownership of cert and key (freed on failure too). `where` names
 * the source in log lines. */
static int ca_take(X509 *cert, EVP_PKEY *key, const char *where, struct roost_pki_ca **out_ca)
{
    int rc = 0;
    struct roost_pki_ca *ca = roost_xcalloc(1, sizeof(*ca));
    ca->cert = cert;
    ca->key = key;
    if (!cert || !key) {
        rc = pki__ossl_fail(where, ROOST_ECONFIG);
        goto out;
    }
    if (X509_check_ca(cert) == 0) {
        roost_log_error("pki", "%s: not a CA certificate (basicConstraints/keyUsage)", where);
        rc = ROOST_ECONFIG;
        goto out;
    }
    if (X509_check_private_key(cert, key) != 1) {
        rc = pki__ossl_fail("the CA key does not match its certificate", ROOST_ECONFIG);
        goto out;
    }
    rc = pick_digest(key, &ca->md);
    if (!rc)
        rc = pki__pem(cert, NULL, NULL, &ca->pem);
    if (!rc)
        rc = pki__cert_id(cert, ca->id);
    if (rc)
        goto out;
    /* Computes and caches every extension now, so issuing threads never
     * trigger OpenSSL's lazy caching on the shared certificate. */
    (void)X509_check_purpose(cert, -1, 0);
    ERR_clear_error();
    *out_ca = ca;
    ca = NULL;
out:
    roost_pki_ca_free(ca);
    return rc;
}

/* See pki.h. */
int roost_pki_ca_load(const char *cert_pem_path, const char *key_pem_path,
                      struct roost_pki_ca **out_ca)
{
    X509 *cert = NULL;
    EVP_PKEY *key = NULL;
    *out_ca = NULL;
    BIO *bio = BIO_new_file(cert_pem_path, "r");
    if (bio)
        cert = PEM_read_bio_X509(bio, NULL, pki__no_password, NULL);
    BIO_free(bio);
    if (!cert)
        return pki__ossl_fail(cert_pem_path, ROOST_ECONFIG);
    bio = BIO_new_file(key_pem_path, "r");
    if (bio)
        key = PEM_read_bio_PrivateKey(bio, NULL, pki__no_password, NULL);
    BIO_free(bio);
    return ca_take(cert, key, key ? cert_pem_path : key_pem_path, out_ca);
}

/* See pki.h. */
int roost_pki_ca_from_pem(const char *cert_pem, size_t cert_len, const char *key_pem,
                          size_t key_len, struct roost_pki_ca **out_ca)
{
    X509 *cert = NULL;
    EVP_PKEY *key = NULL;
    *out_ca = NULL;
    if (!cert_pem || !key_pem || cert_len > INT_MAX || key_len > INT_MAX)
        return ROOST_EINVAL;
    BIO *bio = BIO_new_mem_buf(cert_pem, (int)cert_len);
    if (bio)
        cert = PEM_read_bio_X509(bio, NULL, pki__no_password, NULL);
    BIO_free(bio);
    bio = BIO_new_mem_buf(key_pem, (int)key_len);
    if (bio)
        key = PEM_read_bio_PrivateKey(bio, NULL, pki__no_password, NULL);
    BIO_free(bio);
    return ca_take(cert, key, cert ? "CA key PEM" : "CA certificate PEM", out_ca);
}

void roost_pki_ca_free(struct roost_pki_ca *ca)
{
    if (!ca)
        return;
    X509_free(ca->cert);
    EVP_PKEY_free(ca->key);
    EVP_MD_free(ca->md);
    roost_free(ca->pem);
    roost_free(ca);
}

const char *roost_pki_ca_pem(const struct roost_pki_ca *ca)
{
    return ca->pem;
}

const char *roost_pki_ca_id(const struct roost_pki_ca *ca)
{
    return ca->id;
}

/* ==== Issuing ============================================================ */

void roost_pki_issued_cleanup(struct roost_pki_issued *iss)
{
    if (!iss)
        return;
    roost_free(iss->cert_pem);
    if (iss->private_key_pem) /* wipe: it is the device's secret */
        OPENSSL_cleanse(iss->private_key_pem, strlen(iss->private_key_pem));
    roost_free(iss->private_key_pem);
    roost_free(iss->public_key_pem);
    memset(iss, 0, sizeof(*iss));
}

/* The validity window: a minute back, `days` ahead (0: as long as the CA),
 * clipped to the CA's own window (a CA made a moment ago must not be
 * younger than what it issues). */
static int set_validity(const struct roost_pki_ca *ca, X509 *cert, unsigned days)
{
    const ASN1_TIME *ca_start = X509_get0_notBefore(ca->cert);
    const ASN1_TIME *ca_end = X509_get0_notAfter(ca->cert);
    if (!X509_time_adj_ex(X509_getm_notBefore(cert), 0, -60, NULL))
        return pki__ossl_fail("notBefore", ROOST_ETLS);
    if (ASN1_TIME_compare(X509_get0_notBefore(cert), ca_start) < 0 &&
        !X509_set1_notBefore(cert, ca_start))
        return pki__ossl_fail("notBefore", ROOST_ETLS);
    if (days == 0 || !X509_time_adj_ex(X509_getm_notAfter(cert), (int)days, 0, NULL) ||
        ASN1_TIME_compare(X509_get0_notAfter(cert), ca_end) > 0) {
        if (!X509_set1_notAfter(cert, ca_end))
            return pki__ossl_fail("notAfter", ROOST_ETLS);
    }
    ERR_clear_error();
    if (ASN1_TIME_compare(X509_get0_notBefore(cert), X509_get0_notAfter(cert)) >= 0) {
        roost_log_error("pki", "the issuing CA certificate has expired");
        return ROOST_ECONFIG;
    }
    return 0;
}

static int build_cert(const struct roost_pki_ca *ca, EVP_PKEY *pub, const X509_NAME *subject,
                      unsigned days, X509 **out_cert)
{
    int rc = 0;
    X509 *cert = X509_new();
    if (!cert)
        return pki__ossl_fail("X509_new", ROOST_ENOMEM);
    rc = pki__random_serial(cert);
    if (!rc)
        rc = set_validity(ca, cert, days);
    if (rc)
        goto out;
    if (!X509_set_version(cert, X509_VERSION_3) || !X509_set_pubkey(cert, pub) ||
        !X509_set_subject_name(cert, subject) ||
        !X509_set_issuer_name(cert, X509_get_subject_name(ca->cert))) {
        rc = pki__ossl_fail("certificate fields", ROOST_ETLS);
        goto out;
    }
    X509V3_CTX v3;
    X509V3_set_ctx(&v3, ca->cert, cert, NULL, NULL, 0);
    rc = pki__add_ext(cert, &v3, NID_basic_constraints, "critical,CA:FALSE");
    if (!rc)
        rc = pki__add_ext(cert, &v3, NID_key_usage, "critical,digitalSignature");
    if (!rc)
        rc = pki__add_ext(cert, &v3, NID_ext_key_usage, "clientAuth");
    if (!rc)
        rc = pki__add_ext(cert, &v3, NID_subject_key_identifier, "hash");
    /* keyid from the CA's SKI; issuer+serial only for a CA without one. */
    if (!rc)
        rc = pki__add_ext(cert, &v3, NID_authority_key_identifier, "keyid,issuer");
    if (rc)
        goto out;
    if (X509_sign(cert, ca->key, ca->md) <= 0) {
        rc = pki__ossl_fail("signing a device certificate", ROOST_ETLS);
        goto out;
    }
    *out_cert = cert;
    cert = NULL;
out:
    X509_free(cert);
    return rc;
}

/* The outputs every issuing call shares; priv may be NULL. */
static int fill_issued(X509 *cert, EVP_PKEY *priv, EVP_PKEY *pub, struct roost_pki_issued *out)
{
    int rc = pki__pem(cert, NULL, NULL, &out->cert_pem);
    if (!rc && priv)
        rc = pki__pem(NULL, priv, NULL, &out->private_key_pem);
    if (!rc)
        rc = pki__pem(NULL, NULL, pub, &out->public_key_pem);
    if (!rc)
        rc = pki__cert_id(cert, out->id);
    if (!rc)
        rc = pki__time_epoch(X509_get0_notBefore(cert), &out->not_before);
    if (!rc)
        rc = pki__time_epoch(X509_get0_notAfter(cert), &out->not_after);
    if (rc)
        roost_pki_issued_cleanup(out);
    return rc;
}

/* See pki.h. */
int roost_pki_issue_keypair(const struct roost_pki_ca *ca, const char *common_name, unsigned days,
                            unsigned flags, struct roost_pki_issued *out)
{
    int rc = 0;
    EVP_PKEY *key = NULL;
    X509_NAME *subject = NULL;
    X509 *cert = NULL;

    if (out)
        memset(out, 0, sizeof(*out));
    const char *cn = common_name ? common_name : ROOST_PKI_DEFAULT_CN;
    size_t cn_len = strlen(cn);
    if (!ca || !out || days > ROOST_PKI_DAYS_MAX || (flags & ~ROOST_PKI_KEY_RSA2048) ||
        cn_len == 0 || cn_len > CN_MAX_BYTES)
        return ROOST_EINVAL;
    /* OpenSSL checks the UTF-8 and the 64-character bound of a CN. */
    subject = X509_NAME_new();
    if (!subject || !X509_NAME_add_entry_by_NID(subject, NID_commonName, MBSTRING_UTF8,
                                                (const unsigned char *)cn, (int)cn_len, -1, 0) ||
        !pki__name_ok(subject)) {
        ERR_clear_error();
        rc = ROOST_EINVAL;
        goto out;
    }
    if (flags & ROOST_PKI_KEY_RSA2048)
        key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    else
        key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    if (!key) {
        rc = pki__ossl_fail("device key generation", ROOST_ETLS);
        goto out;
    }
    rc = build_cert(ca, key, subject, days, &cert);
    if (!rc)
        rc = fill_issued(cert, key, key, out);
out:
    X509_free(cert);
    X509_NAME_free(subject);
    EVP_PKEY_free(key);
    return rc;
}

/* The key types AWS IoT accepts for device certificates. Checked before the
 * CSR signature so that a huge RSA key costs nothing. */
static int csr_key_ok(EVP_PKEY *key, char *err, size_t errcap)
{
    if (EVP_PKEY_is_a(key, "RSA")) {
        int bits = EVP_PKEY_get_bits(key);
        if (bits >= 2048 && bits <= 8192)
            return 0;
        pki__errf(err, errcap, "The CSR's RSA key has %d bits; 2048 to 8192 are accepted", bits);
        return ROOST_EINVAL;
    }
    if (EVP_PKEY_is_a(key, "EC")) {
        char group[64] = "";
        size_t n = 0;
        if (EVP_PKEY_get_group_name(key, group, sizeof(group), &n) &&
            (strcmp(group, "prime256v1") == 0 || strcmp(group, "secp384r1") == 0 ||
             strcmp(group, "secp521r1") == 0))
            return 0;
        ERR_clear_error();
        pki__errf(err, errcap, "The CSR's EC key must be on curve P-256, P-384 or P-521");
        return ROOST_EINVAL;
    }
    pki__errf(err, errcap, "The CSR's key type is not supported (use EC or RSA)");
    return ROOST_EINVAL;
}

/* Reads one CSR from PEM without ever acting on encryption headers. */
static int read_csr(const char *pem, size_t len, X509_REQ **out_req)
{
    int rc = ROOST_EINVAL;
    char *name = NULL, *header = NULL;
    unsigned char *der = NULL;
    long der_len = 0;
    *out_req = NULL;
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    if (!bio)
        return pki__ossl_fail("BIO_new_mem_buf", ROOST_ENOMEM);
    while (PEM_read_bio(bio, &name, &header, &der, &der_len)) {
        if (strcmp(name, PEM_STRING_X509_REQ) == 0 || strcmp(name, PEM_STRING_X509_REQ_OLD) == 0) {
            const unsigned char *p = der;
            *out_req = d2i_X509_REQ(NULL, &p, der_len);
            if (*out_req && p != der + der_len) {
                X509_REQ_free(*out_req);
                *out_req = NULL;
            }
            rc = *out_req ? 0 : ROOST_EINVAL;
            break;
        }
        OPENSSL_free(name);
        OPENSSL_free(header);
        OPENSSL_free(der);
        name = header = NULL;
        der = NULL;
    }
    OPENSSL_free(name);
    OPENSSL_free(header);
    OPENSSL_free(der);
    BIO_free(bio);
    ERR_clear_error();
    return rc;
}

/* See pki.h. */
int roost_pki_sign_csr(const struct roost_pki_ca *ca, const char *csr_pem, size_t len,
                       unsigned days, struct roost_pki_issued *out, char *err, size_t errcap)
{
    int rc = 0;
    X509_REQ *req = NULL;
    X509 *cert = NULL;

    if (out)
        memset(out, 0, sizeof(*out));
    if (!ca || !out || !csr_pem || days > ROOST_PKI_DAYS_MAX) {
        pki__errf(err, errcap, "Invalid arguments");
        return ROOST_EINVAL;
    }
    if (len > ROOST_PKI_CSR_MAX) {
        pki__errf(err, errcap, "The certificate signing request is longer than %d bytes",
                  ROOST_PKI_CSR_MAX);
        return ROOST_ETOOBIG;
    }
    rc = read_csr(csr_pem, len, &req);
    if (rc) {
        pki__errf(err, errcap, "The certificate signing request is not a valid PEM CSR");
        goto out;
    }
    EVP_PKEY *key = X509_REQ_get0_pubkey(req);
    if (!key) {
        ERR_clear_error();
        pki__errf(err, errcap, "The CSR's public key is malformed or of an unsupported type");
        rc = ROOST_EINVAL;
        goto out;
    }
    rc = csr_key_ok(key, err, errcap);
    if (rc)
        goto out;
    if (X509_REQ_verify(req, key) != 1) {
        ERR_clear_error();
        pki__errf(err, errcap, "The CSR's signature does not verify with its public key");
        rc = ROOST_EINVAL;
        goto out;
    }
    const X509_NAME *subject = X509_REQ_get_subject_name(req);
    if (!pki__name_ok(subject)) {
        pki__errf(err, errcap, "The CSR's subject holds a value that is not valid UTF-8");
        rc = ROOST_EINVAL;
        goto out;
    }
    rc = build_cert(ca, key, subject, days, &cert);
    if (!rc)
        rc = fill_issued(cert, NULL, key, out);
    if (rc)
        pki__errf(err, errcap, "The certificate could not be issued");
out:
    ERR_clear_error();
    X509_free(cert);
    X509_REQ_free(req);
    return rc;
}
