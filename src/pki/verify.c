/*
 * verify.c - the registry's trust decisions about certificates it did not
 * issue: was this device certificate issued by that registered CA
 * (RegisterCertificate, JITP), and does the operator hold this CA's key
 * (RegisterCACertificate's verification certificate carrying the
 * registration code in its CN).
 *
 * Time is always the caller's `now`, so tests can move it and a whole
 * request sees one instant. Checks run from the most basic to the most
 * specific and the first failure is the one reported, as one sentence for
 * the API's error message.
 */
#include "pki/pki_int.h"

#include <openssl/err.h>
#include <openssl/x509v3.h>

static int check_time(X509 *x, time_t now, const char *what, char *err, size_t errcap)
{
    int64_t nb = 0, na = 0;
    if (pki__time_epoch(X509_get0_notBefore(x), &nb) ||
        pki__time_epoch(X509_get0_notAfter(x), &na)) {
        pki__errf(err, errcap, "The %s has a malformed validity period", what);
        return ROOST_EINVAL;
    }
    if ((int64_t)now < nb) {
        pki__errf(err, errcap, "The %s is not yet valid", what);
        return ROOST_EAUTH;
    }
    if ((int64_t)now > na) {
        pki__errf(err, errcap, "The %s has expired", what);
        return ROOST_EAUTH;
    }
    return 0;
}

/* Whether `issuer` issued `cert`: names, key identifiers, the issuer's key
 * usage, then the signature itself. */
static int check_issued(X509 *issuer, X509 *cert, const char *what, const char *issuer_what,
                        char *err, size_t errcap)
{
    int rc = 0;
    int v = X509_check_issued(issuer, cert);
    switch (v) {
    case X509_V_OK:
        break;
    case X509_V_ERR_SUBJECT_ISSUER_MISMATCH:
        pki__errf(err, errcap, "The %s's issuer does not match the %s's subject", what,
                  issuer_what);
        rc = ROOST_EAUTH;
        break;
    case X509_V_ERR_AKID_SKID_MISMATCH:
    case X509_V_ERR_AKID_ISSUER_SERIAL_MISMATCH:
        pki__errf(err, errcap, "The %s's authority key identifier does not match the %s", what,
                  issuer_what);
        rc = ROOST_EAUTH;
        break;
    case X509_V_ERR_KEYUSAGE_NO_CERTSIGN:
        pki__errf(err, errcap, "The %s's key usage does not allow signing certificates",
                  issuer_what);
        rc = ROOST_EAUTH;
        break;
    default:
        pki__errf(err, errcap, "The %s was not issued by the %s: %s", what, issuer_what,
                  X509_verify_cert_error_string(v));
        rc = ROOST_EAUTH;
        break;
    }
    if (!rc && X509_verify(cert, X509_get0_pubkey(issuer)) != 1) {
        pki__errf(err, errcap, "The %s is not signed by the %s's key", what, issuer_what);
        rc = ROOST_EAUTH;
    }
    ERR_clear_error();
    return rc;
}

/* See pki.h. */
int roost_pki_verify_signed_by(const char *cert_pem, size_t cert_len, const char *ca_pem,
                               size_t ca_len, time_t now, char *err, size_t errcap)
{
    X509 *cert = NULL, *ca = NULL;
    int rc = pki__parse_cert(cert_pem, cert_len, "certificate", &cert, err, errcap);
    if (!rc)
        rc = pki__parse_cert(ca_pem, ca_len, "CA certificate", &ca, err, errcap);
    if (rc)
        goto out;
    /* v1 roots and keyCertSign-only CAs count, as in OpenSSL's verifier;
     * registration is where CA:TRUE is demanded. */
    if (X509_check_ca(ca) == 0) {
        pki__errf(err, errcap, "The CA certificate is not a certificate authority");
        rc = ROOST_EAUTH;
        goto out;
    }
    rc = check_issued(ca, cert, "certificate", "CA certificate", err, errcap);
    if (!rc)
        rc = check_time(cert, now, "certificate", err, errcap);
    if (!rc)
        rc = check_time(ca, now, "CA certificate", err, errcap);
out:
    ERR_clear_error();
    X509_free(cert);
    X509_free(ca);
    return rc;
}

/* See pki.h. */
int roost_pki_registration_code_new(char out_code[65])
{
    uint8_t raw[32];
    int rc = roost_random_bytes(raw, sizeof(raw));
    if (rc)
        return rc;
    roost_hex_encode(raw, sizeof(raw), out_code);
    return 0;
}

/* The verification certificate's single CN against the code, byte for byte. */
static int check_code(X509 *ver, const char *code, char *err, size_t errcap)
{
    const X509_NAME *subject = X509_get_subject_name(ver);
    int i = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
    if (i < 0) {
        pki__errf(err, errcap, "The verification certificate has no common name; it must be "
                               "the registration code");
        return ROOST_ECONFLICT;
    }
    if (X509_NAME_get_index_by_NID(subject, NID_commonName, i) >= 0) {
        pki__errf(err, errcap, "The verification certificate has more than one common name");
        return ROOST_ECONFLICT;
    }
    unsigned char *cn = NULL;
    int n = ASN1_STRING_to_UTF8(&cn, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, i)));
    bool same = n >= 0 && (size_t)n == strlen(code) && memcmp(cn, code, (size_t)n) == 0;
    OPENSSL_free(cn);
    ERR_clear_error();
    if (!same) {
        pki__errf(err, errcap, "The verification certificate's common name does not match the "
                               "registration code");
        return ROOST_ECONFLICT;
    }
    return 0;
}

/* See pki.h. */
int roost_pki_verify_ca_registration(const char *ca_pem, size_t ca_len,
                                     const char *verification_pem, size_t ver_len,
                                     const char *registration_code, time_t now, char *err,
                                     size_t errcap)
{
    X509 *ca = NULL, *ver = NULL;
    int rc = 0;
    if (!registration_code || !*registration_code) {
        pki__errf(err, errcap, "No registration code to check the verification certificate "
                               "against");
        return ROOST_EINVAL;
    }
    rc = pki__parse_cert(ca_pem, ca_len, "CA certificate", &ca, err, errcap);
    if (rc)
        goto out;
    uint32_t flags = X509_get_extension_flags(ca);
    if (!(flags & EXFLAG_CA)) {
        pki__errf(err, errcap, "The CA certificate is not a CA certificate: it lacks "
                               "basicConstraints CA:TRUE");
        rc = ROOST_EAUTH;
        goto out;
    }
    if ((flags & EXFLAG_KUSAGE) && !(X509_get_key_usage(ca) & KU_KEY_CERT_SIGN)) {
        pki__errf(err, errcap, "The CA certificate's key usage does not allow signing "
                               "certificates");
        rc = ROOST_EAUTH;
        goto out;
    }
    /* A self-issued CA must carry a signature its own key verifies; an
     * intermediate's signature is its parent's business. */
    if (X509_NAME_cmp(X509_get_subject_name(ca), X509_get_issuer_name(ca)) == 0 &&
        X509_verify(ca, X509_get0_pubkey(ca)) != 1) {
        ERR_clear_error();
        pki__errf(err, errcap, "The CA certificate's self-signature does not verify");
        rc = ROOST_EAUTH;
        goto out;
    }
    rc = check_time(ca, now, "CA certificate", err, errcap);
    if (!rc)
        rc = pki__parse_cert(verification_pem, ver_len, "verification certificate", &ver, err,
                             errcap);
    if (!rc)
        rc = check_issued(ca, ver, "verification certificate", "CA certificate", err, errcap);
    if (!rc)
        rc = check_time(ver, now, "verification certificate", err, errcap);
    if (!rc)
        rc = check_code(ver, registration_code, err, errcap);
out:
    ERR_clear_error();
    X509_free(ca);
    X509_free(ver);
    return rc;
}
