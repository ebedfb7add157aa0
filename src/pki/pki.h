/*
 * pki.h - Roost's certificate authority: the root CA and server certificate
 * made on first start, certificate identifiers, issuing device certificates
 * and signing CSRs (CreateKeysAndCertificate, CreateCertificateFromCsr),
 * reading certificates (subject fields, SANs, validity), and the checks
 * behind RegisterCertificate, RegisterCACertificate and JITP. All X.509
 * work goes through OpenSSL here; callers see PEM text, file paths and hex
 * ids. Only roost_pki_bootstrap and roost_pki_ca_load touch files; nothing
 * here touches the store. Issuing reads the clock and the CSPRNG; checks
 * take the time from the caller (`now`), so the rest is pure.
 *
 * Errors: ROOST_EINVAL means "not a certificate / CSR we can read" (or a
 * meaningless argument; roost_pki_cert_id_from_pem, older, says
 * ROOST_EMALFORMED), ROOST_ETOOBIG an input over its limit, ROOST_EAUTH
 * a certificate that reads fine but fails a check, ROOST_ECONFLICT a
 * verification certificate whose CN is not the registration code. Functions
 * that take `err` put a sentence for the API's error message there (AWS
 * CertificateValidationException style); err may be NULL.
 */
#ifndef ROOST_PKI_H
#define ROOST_PKI_H

#include "common/common.h"

#include <time.h>

/* Paths inside DIR/pki. */
#define ROOST_PKI_ROOT_CERT "root-ca.pem"
#define ROOST_PKI_ROOT_KEY "root-ca.key"
#define ROOST_PKI_SERVER_CERT "server.pem"
#define ROOST_PKI_SERVER_KEY "server.key"

/*
 * Makes sure `pki_dir` holds a root CA (ECDSA P-256, self-signed, 10 years,
 * CN "Roost Root CA <random>") and a server certificate signed by it (ECDSA
 * P-256, 2 years, serverAuth, SAN DNS:localhost, IP:127.0.0.1, IP:::1 plus
 * every entry of `hostnames`, each a DNS name or an IP literal). Existing
 * files are reused untouched; a server certificate whose SANs miss one of
 * `hostnames` is re-issued from the existing root. Creates the directory
 * (0700); keys are written 0600, atomically (temp file + rename).
 * *out_created is set true when the root CA was created now.
 */
int roost_pki_bootstrap(const char *pki_dir, const char *const *hostnames, size_t n_hostnames,
                        bool *out_created);

/* ==== Certificate ids ===================================================== */

/* SHA-256 of the DER of the first certificate in `pem` as 64 lowercase hex
 * characters: the AWS certificate id. */
int roost_pki_cert_id_from_pem(const char *pem, size_t len, char out_id[65]);

/* The same id from DER bytes as they are (no parsing). */
void roost_pki_cert_id_from_der(const uint8_t *der, size_t len, char out_id[65]);

/* ==== Limits ============================================================== */

#define ROOST_PKI_CERT_MAX 65536 /* bytes of PEM or DER per input (AWS certificatePem) */
#define ROOST_PKI_CSR_MAX 4096   /* bytes of CSR PEM (AWS certificateSigningRequest) */
#define ROOST_PKI_DAYS_MAX 36500 /* longest validity that can be asked for */
#define ROOST_PKI_MULTI_MAX 5    /* values kept per subject attribute (AWS policy variables) */
#define ROOST_PKI_SAN_MAX 16     /* values kept per SAN type */
#define ROOST_PKI_DEFAULT_CN "AWS IoT Certificate" /* what AWS puts in its CN */

/* ==== Issuing: the CA ===================================================== */

/* A CA certificate with its private key, loaded once. Read-only after load,
 * so any number of threads may issue from one handle at once. */
struct roost_pki_ca;

/* Loads a CA from PEM files. The certificate must be a CA (basicConstraints
 * CA:TRUE, or a v1 self-signed root) and match the key. ROOST_ECONFIG on any
 * problem (logged, with the file name). *out_ca is freed by
 * roost_pki_ca_free. */
int roost_pki_ca_load(const char *cert_pem_path, const char *key_pem_path,
                      struct roost_pki_ca **out_ca);
/* The same from PEM text in memory (tests, keys kept elsewhere). */
int roost_pki_ca_from_pem(const char *cert_pem, size_t cert_len, const char *key_pem,
                          size_t key_len, struct roost_pki_ca **out_ca);
void roost_pki_ca_free(struct roost_pki_ca *ca); /* NULL is a no-op */
/* Borrowed views valid while the handle lives: the CA's canonical PEM and
 * certificate id (for caCertificateId and for publishing the CA). */
const char *roost_pki_ca_pem(const struct roost_pki_ca *ca);
const char *roost_pki_ca_id(const struct roost_pki_ca *ca);

/* ==== Issuing: device certificates ======================================== */

/* What an issuing call hands back; every string is heap memory owned by
 * the struct until roost_pki_issued_cleanup. */
struct roost_pki_issued {
    char id[65];           /* certificate id: SHA-256 of the DER, lowercase hex */
    char *cert_pem;        /* the certificate, PEM */
    char *private_key_pem; /* PKCS#8 PEM; NULL when signing a CSR */
    char *public_key_pem;  /* SubjectPublicKeyInfo PEM ("BEGIN PUBLIC KEY") */
    int64_t not_before;    /* Unix seconds */
    int64_t not_after;     /* Unix seconds */
};

void roost_pki_issued_cleanup(struct roost_pki_issued *iss); /* zeroed or NULL is fine */

/* Flags for roost_pki_issue_keypair. */
#define ROOST_PKI_KEY_RSA2048 0x1u /* an RSA 2048 key (AWS's choice) instead of EC P-256 */

/*
 * CreateKeysAndCertificate: makes a key pair (EC P-256, or RSA 2048 with
 * ROOST_PKI_KEY_RSA2048) and a client certificate for it signed by `ca`:
 * subject CN = common_name (ROOST_PKI_DEFAULT_CN when NULL; 1 to 64
 * characters of UTF-8), random 128-bit serial, basicConstraints CA:FALSE,
 * keyUsage digitalSignature, extendedKeyUsage clientAuth, SKI and AKI.
 * Valid from a minute ago (device clock skew) for `days` days (1 to
 * ROOST_PKI_DAYS_MAX), or until the CA expires when days is 0; never
 * outside the CA's own validity. ROOST_EINVAL for bad arguments,
 * ROOST_ECONFIG when the CA has expired; on any error *out is left zeroed.
 * Thread-safe.
 */
int roost_pki_issue_keypair(const struct roost_pki_ca *ca, const char *common_name, unsigned days,
                            unsigned flags, struct roost_pki_issued *out);

/*
 * CreateCertificateFromCsr: checks the CSR (at most ROOST_PKI_CSR_MAX bytes
 * of PEM, else ROOST_ETOOBIG; a valid self-signature; an EC P-256/384/521 or
 * RSA 2048..8192 key; else ROOST_EINVAL with a message in err) and issues a
 * certificate for its public key with its subject copied as is (AWS keeps
 * the CSR subject). Extensions the CSR requests are ignored: the
 * certificate gets the same ones as roost_pki_issue_keypair. `days` as
 * there. out->private_key_pem stays NULL. Thread-safe.
 */
int roost_pki_sign_csr(const struct roost_pki_ca *ca, const char *csr_pem, size_t len,
                       unsigned days, struct roost_pki_issued *out, char *err, size_t errcap);

/* ==== Inspecting certificates ============================================ */

/* The subject attributes Roost reads, named as in AWS's policy variables
 * (iot:Certificate.Subject.<Name>) and JITP parameters
 * (AWS::IoT::Certificate::<Name>). */
enum roost_pki_attr {
    ROOST_PKI_ATTR_COMMON_NAME,          /* CN */
    ROOST_PKI_ATTR_COUNTRY,              /* C */
    ROOST_PKI_ATTR_ORGANIZATION,         /* O */
    ROOST_PKI_ATTR_ORGANIZATIONAL_UNIT,  /* OU */
    ROOST_PKI_ATTR_DN_QUALIFIER,         /* dnQualifier */
    ROOST_PKI_ATTR_STATE,                /* ST */
    ROOST_PKI_ATTR_LOCALITY,             /* L */
    ROOST_PKI_ATTR_TITLE,                /* title */
    ROOST_PKI_ATTR_SERIAL_NUMBER,        /* serialNumber (the attribute, not the certificate's) */
    ROOST_PKI_ATTR_EMAIL,                /* emailAddress (PKCS#9) */
    ROOST_PKI_ATTR_SURNAME,              /* SN */
    ROOST_PKI_ATTR_GIVEN_NAME,           /* GN */
    ROOST_PKI_ATTR_INITIALS,             /* initials */
    ROOST_PKI_ATTR_PSEUDONYM,            /* pseudonym */
    ROOST_PKI_ATTR_GENERATION_QUALIFIER, /* generationQualifier */
    ROOST_PKI_ATTR_COUNT
};

/* "CommonName", "Country", ..., "State", "Email", "GenerationQualifier". */
const char *roost_pki_attr_name(enum roost_pki_attr attr);
/* The attribute a name stands for, or -1. Accepts the names above and
 * "StateName" (JITP's spelling of State); case-sensitive like AWS. */
int roost_pki_attr_lookup(const char *name, size_t len);

/* Up to ROOST_PKI_MULTI_MAX values of one attribute or SAN type, in the
 * order they appear. Strings are UTF-8 without NUL bytes (certificates
 * that would break this are refused). */
struct roost_pki_values {
    const char *v[ROOST_PKI_SAN_MAX]; /* v[0] is "the" value; NULL past n */
    unsigned n;                       /* values kept */
    unsigned total;                   /* values present, may exceed n */
};

struct roost_pki_name {
    const char *rfc2253; /* e.g. "CN=dev-1,OU=Fleet,O=Acme,C=US" (UTF-8, not \-escaped) */
    struct roost_pki_values attr[ROOST_PKI_ATTR_COUNT]; /* n <= ROOST_PKI_MULTI_MAX */
};

enum roost_pki_san_type {
    ROOST_PKI_SAN_DNS,     /* DNSName */
    ROOST_PKI_SAN_IP,      /* IPAddress, as text ("10.0.0.1", "fd00::1") */
    ROOST_PKI_SAN_URI,     /* UniformResourceIdentifier */
    ROOST_PKI_SAN_EMAIL,   /* RFC822Name */
    ROOST_PKI_SAN_DIRNAME, /* DirectoryName, RFC 2253 */
    ROOST_PKI_SAN_COUNT
};

/* Everything the registry and policies read from a certificate. The
 * strings live in `arena`, freed by roost_pki_cert_info_cleanup. */
struct roost_pki_cert_info {
    char id[65];            /* SHA-256 of the DER, lowercase hex */
    size_t der_len;         /* bytes of DER */
    const char *pem;        /* canonical PEM (64-column base64, one block) */
    struct roost_pki_name subject;
    struct roost_pki_name issuer;
    struct roost_pki_values san[ROOST_PKI_SAN_COUNT]; /* n <= ROOST_PKI_SAN_MAX */
    const char *serial;     /* certificate serial, uppercase hex as `openssl x509 -serial` */
    int64_t not_before;     /* Unix seconds */
    int64_t not_after;      /* Unix seconds */
    bool is_ca;             /* basicConstraints cA = TRUE */
    long path_len;          /* basicConstraints pathLenConstraint, -1 if none */
    bool self_signed;       /* issuer = subject and its own key verifies its signature */
    const char *key_type;   /* "EC", "RSA", "ED25519", "ED448", "DSA" or "OTHER" */
    unsigned key_bits;      /* 256, 2048, ... */
    const char *key_curve;  /* EC group ("prime256v1"), else "" */
    struct roost_arena arena; /* owns the strings above */
};

/*
 * Reads the first certificate in `data`: PEM (the first CERTIFICATE block)
 * or one DER certificate, at most ROOST_PKI_CERT_MAX bytes (ROOST_ETOOBIG).
 * Anything else, a certificate whose DER does not re-encode identically,
 * invalid extensions, a key OpenSSL cannot read, or subject/SAN strings
 * that are not UTF-8 or hold NUL bytes: ROOST_EINVAL. On success the
 * caller must call roost_pki_cert_info_cleanup; on error there is nothing
 * to clean up (cleanup is still harmless).
 */
int roost_pki_cert_info(const char *data, size_t len, struct roost_pki_cert_info *out);
void roost_pki_cert_info_cleanup(struct roost_pki_cert_info *info);

/* ==== Verifying =========================================================== */

/*
 * RegisterCertificate with a registered CA, and JITP: whether `ca` (a CA:
 * basicConstraints CA:TRUE or a v1 root, keyUsage allowing keyCertSign)
 * issued `cert`: its issuer equals the CA's subject, key identifiers agree,
 * its signature verifies with the CA's key, and both are valid at `now`.
 * 0, or ROOST_EINVAL (unreadable input) / ROOST_EAUTH (a check failed) with
 * the reason in err. Either input may be PEM or DER.
 */
int roost_pki_verify_signed_by(const char *cert_pem, size_t cert_len, const char *ca_pem,
                               size_t ca_len, time_t now, char *err, size_t errcap);

/* GetRegistrationCode: 64 random lowercase hex characters, NUL-terminated. */
int roost_pki_registration_code_new(char out_code[65]);

/*
 * RegisterCACertificate's proof of possession. The CA certificate must
 * read, have basicConstraints CA:TRUE (and keyCertSign if it has a key
 * usage), verify its own signature if self-issued, and be valid at `now`;
 * the verification certificate must be issued by it (names, key ids,
 * signature) and be valid at `now` - else ROOST_EINVAL (unreadable) or
 * ROOST_EAUTH (CertificateValidationException). Last, the verification
 * certificate's one subject CN must equal `registration_code` exactly, else
 * ROOST_ECONFLICT (RegistrationCodeValidationException). err says which.
 */
int roost_pki_verify_ca_registration(const char *ca_pem, size_t ca_len,
                                     const char *verification_pem, size_t ver_len,
                                     const char *registration_code, time_t now, char *err,
                                     size_t errcap);

/* ==== PEM bundles ========================================================= */

/*
 * Splits a PEM bundle (a device certificate followed by its CA, as JITP
 * devices and RegisterCertificate callers send): *out_first is the first
 * "-----BEGIN CERTIFICATE-----" block through its END line and line break,
 * *out_rest whatever follows with leading whitespace skipped (n = 0 when
 * nothing does). Both are views into `pem`. ROOST_EINVAL when there is no
 * complete first block or it is not a readable certificate.
 */
int roost_pki_pem_split_first(const char *pem, size_t len, struct roost_str *out_first,
                              struct roost_str *out_rest);

#endif /* ROOST_PKI_H */
