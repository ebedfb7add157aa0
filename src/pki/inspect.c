/*
 * inspect.c - reading certificates that arrive from outside (RegisterCertificate,
 * RegisterCACertificate, JITP bundles, CSR-issued certificates read back):
 * the one strict parser every pki function uses on foreign input, the
 * certificate id, subject and issuer attributes, SANs, validity and key
 * facts, and splitting a PEM bundle.
 *
 * Invariant: whatever roost_pki_cert_info hands out is safe to put into
 * JSON, SQL and policy variables as is: every string is valid UTF-8 with no
 * NUL byte, or the certificate is refused. Nothing here logs: a bad
 * certificate is the caller's (the API's) to report, once.
 */
#include "pki/pki_int.h"

#include <arpa/inet.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

/* ==== Shared helpers (pki_int.h) ========================================= */

void pki__errf(char *err, size_t errcap, const char *fmt, ...)
{
    if (!err || errcap == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errcap, fmt, ap);
    va_end(ap);
}

int pki__no_password(char *buf, int size, int rwflag, void *u)
{
    ROOST_UNUSED(buf), ROOST_UNUSED(size), ROOST_UNUSED(rwflag), ROOST_UNUSED(u);
    return -1;
}

void roost_pki_cert_id_from_der(const uint8_t *der, size_t len, char out_id[65])
{
    uint8_t md[32];
    unsigned md_len = 0;
    /* SHA-256 over a memory buffer cannot fail short of a broken library. */
    ROOST_ASSERT(EVP_Digest(der, len, md, &md_len, EVP_sha256(), NULL) && md_len == sizeof(md));
    roost_hex_encode(md, sizeof(md), out_id);
}

int pki__cert_id(X509 *cert, char out_id[65])
{
    uint8_t *der = NULL;
    int n = i2d_X509(cert, &der);
    if (n <= 0)
        return pki__ossl_fail("certificate DER", ROOST_ETLS);
    roost_pki_cert_id_from_der(der, (size_t)n, out_id);
    OPENSSL_free(der);
    return 0;
}

int pki__time_epoch(const ASN1_TIME *t, int64_t *out_epoch)
{
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    /* ASN1_TIME_to_tm(NULL) would mean "now": never what a caller wants. */
    if (!t || !ASN1_TIME_to_tm(t, &tm)) {
        ERR_clear_error();
        return ROOST_EINVAL;
    }
    *out_epoch = (int64_t)timegm(&tm);
    return 0;
}

int pki__pem(X509 *cert, EVP_PKEY *priv, EVP_PKEY *pub, char **out_pem)
{
    int rc = 0;
    BIO *bio = BIO_new(BIO_s_mem());
    if (!bio)
        return pki__ossl_fail("BIO_new", ROOST_ENOMEM);
    int ok = cert   ? PEM_write_bio_X509(bio, cert)
             : priv ? PEM_write_bio_PrivateKey(bio, priv, NULL, NULL, 0, NULL, NULL)
                    : PEM_write_bio_PUBKEY(bio, pub);
    if (!ok) {
        rc = pki__ossl_fail("PEM encoding", ROOST_ETLS);
        goto out;
    }
    char *data = NULL;
    long n = BIO_get_mem_data(bio, &data);
    *out_pem = roost_xstrndup(data, (size_t)n);
out:
    BIO_free(bio);
    return rc;
}

/* ==== The strict parser ================================================== */

int pki__parse_cert(const char *data, size_t len, const char *what, X509 **out_cert, char *err,
                    size_t errcap)
{
    int rc = 0;
    BIO *bio = NULL;
    char *name = NULL, *header = NULL;
    unsigned char *pem_der = NULL;
    long pem_der_len = 0;
    uint8_t *reenc = NULL;
    X509 *cert = NULL;
    const unsigned char *der;
    size_t der_len;

    *out_cert = NULL;
    if (!data || len == 0) {
        pki__errf(err, errcap, "The %s is empty", what);
        return ROOST_EINVAL;
    }
    if (len > ROOST_PKI_CERT_MAX) {
        pki__errf(err, errcap, "The %s is larger than %d bytes", what, ROOST_PKI_CERT_MAX);
        return ROOST_ETOOBIG;
    }
    if (memmem(data, len, "-----BEGIN", 10)) {
        bio = BIO_new_mem_buf(data, (int)len);
        if (!bio) {
            rc = pki__ossl_fail("BIO_new_mem_buf", ROOST_ENOMEM);
            goto out;
        }
        /* The raw reader, not PEM_read_bio_X509: that one would act on a
         * "Proc-Type: 4,ENCRYPTED" header and ask for a password. */
        for (;;) {
            if (!PEM_read_bio(bio, &name, &header, &pem_der, &pem_der_len)) {
                pki__errf(err, errcap, "The %s is not a PEM certificate", what);
                rc = ROOST_EINVAL;
                goto out;
            }
            if (strcmp(name, PEM_STRING_X509) == 0)
                break;
            OPENSSL_free(name);
            OPENSSL_free(header);
            OPENSSL_free(pem_der);
            name = header = NULL;
            pem_der = NULL;
        }
        der = pem_der;
        der_len = pem_der_len > 0 ? (size_t)pem_der_len : 0;
    } else {
        der = (const unsigned char *)data;
        der_len = len;
    }

    const unsigned char *p = der;
    cert = d2i_X509(NULL, &p, (long)der_len);
    if (!cert) {
        pki__errf(err, errcap, "The %s is not a valid X.509 certificate", what);
        rc = ROOST_EINVAL;
        goto out;
    }
    if ((size_t)(p - der) != der_len) {
        pki__errf(err, errcap, "The %s has data after the certificate", what);
        rc = ROOST_EINVAL;
        goto out;
    }
    /* The id is SHA-256 of the DER; TLS computes it from OpenSSL's
     * re-encoding. Both agree only if the bytes were DER to begin with. */
    int n = i2d_X509(cert, &reenc);
    if (n <= 0 || (size_t)n != der_len || memcmp(reenc, der, der_len) != 0) {
        pki__errf(err, errcap, "The %s is not DER-encoded", what);
        rc = ROOST_EINVAL;
        goto out;
    }
    /* OpenSSL's own verification refuses these; refusing them here keeps
     * the registry from holding certificates that can never connect. */
    if (X509_get_extension_flags(cert) & EXFLAG_INVALID) {
        pki__errf(err, errcap, "The %s has invalid or duplicate extensions", what);
        rc = ROOST_EINVAL;
        goto out;
    }
    if (!X509_get0_pubkey(cert)) {
        pki__errf(err, errcap, "The %s's public key is malformed or of an unsupported type",
                  what);
        rc = ROOST_EINVAL;
        goto out;
    }
    *out_cert = cert;
    cert = NULL;
out:
    ERR_clear_error();
    X509_free(cert);
    OPENSSL_free(reenc);
    OPENSSL_free(name);
    OPENSSL_free(header);
    OPENSSL_free(pem_der);
    BIO_free(bio);
    return rc;
}

/* ==== Names ============================================================== */

static const struct {
    int nid;
    const char *name; /* AWS policy-variable spelling */
} attrs[ROOST_PKI_ATTR_COUNT] = {
    [ROOST_PKI_ATTR_COMMON_NAME] = {NID_commonName, "CommonName"},
    [ROOST_PKI_ATTR_COUNTRY] = {NID_countryName, "Country"},
    [ROOST_PKI_ATTR_ORGANIZATION] = {NID_organizationName, "Organization"},
    [ROOST_PKI_ATTR_ORGANIZATIONAL_UNIT] = {NID_organizationalUnitName, "OrganizationalUnit"},
    [ROOST_PKI_ATTR_DN_QUALIFIER] = {NID_dnQualifier, "DistinguishedNameQualifier"},
    [ROOST_PKI_ATTR_STATE] = {NID_stateOrProvinceName, "State"},
    [ROOST_PKI_ATTR_LOCALITY] = {NID_localityName, "Locality"},
    [ROOST_PKI_ATTR_TITLE] = {NID_title, "Title"},
    [ROOST_PKI_ATTR_SERIAL_NUMBER] = {NID_serialNumber, "SerialNumber"},
    [ROOST_PKI_ATTR_EMAIL] = {NID_pkcs9_emailAddress, "Email"},
    [ROOST_PKI_ATTR_SURNAME] = {NID_surname, "Surname"},
    [ROOST_PKI_ATTR_GIVEN_NAME] = {NID_givenName, "GivenName"},
    [ROOST_PKI_ATTR_INITIALS] = {NID_initials, "Initials"},
    [ROOST_PKI_ATTR_PSEUDONYM] = {NID_pseudonym, "Pseudonym"},
    [ROOST_PKI_ATTR_GENERATION_QUALIFIER] = {NID_generationQualifier, "GenerationQualifier"},
};

const char *roost_pki_attr_name(enum roost_pki_attr attr)
{
    return (unsigned)attr < ROOST_PKI_ATTR_COUNT ? attrs[attr].name : "";
}

int roost_pki_attr_lookup(const char *name, size_t len)
{
    if (!name)
        return -1;
    for (int i = 0; i < ROOST_PKI_ATTR_COUNT; i++) {
        if (strlen(attrs[i].name) == len && memcmp(attrs[i].name, name, len) == 0)
            return i;
    }
    if (len == 9 && memcmp(name, "StateName", 9) == 0)
        return ROOST_PKI_ATTR_STATE;
    return -1;
}

static int attr_of_nid(int nid)
{
    for (int i = 0; i < ROOST_PKI_ATTR_COUNT; i++) {
        if (attrs[i].nid == nid)
            return i;
    }
    return -1;
}

/* Strict UTF-8: shortest forms only, no surrogates, nothing past U+10FFFF,
 * no NUL (jansson and C strings both need this). */
static bool utf8_ok(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        size_t len;
        uint32_t cp;
        if (c == 0)
            return false;
        if (c < 0x80) {
            i++;
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
        if (i + len > n)
            return false;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return false;
            cp = cp << 6 | (s[i + k] & 0x3F);
        }
        static const uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < min[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += len;
    }
    return true;
}

/* One attribute value as UTF-8 in the arena (a == NULL: only check it). */
static int entry_utf8(const X509_NAME_ENTRY *e, struct roost_arena *a, const char **out)
{
    unsigned char *u = NULL;
    int n = ASN1_STRING_to_UTF8(&u, X509_NAME_ENTRY_get_data(e));
    int rc = 0;
    if (n < 0 || !utf8_ok(u, (size_t)n)) {
        ERR_clear_error();
        rc = ROOST_EINVAL;
    } else if (a) {
        *out = roost_arena_strndup(a, (const char *)u, (size_t)n);
    }
    OPENSSL_free(u);
    return rc;
}

bool pki__name_ok(const X509_NAME *name)
{
    for (int i = 0; i < X509_NAME_entry_count(name); i++) {
        const X509_NAME_ENTRY *e = X509_NAME_get_entry(name, i);
        if (attr_of_nid(OBJ_obj2nid(X509_NAME_ENTRY_get_object(e))) < 0)
            continue;
        if (entry_utf8(e, NULL, NULL) != 0)
            return false;
    }
    return true;
}

/* RFC 2253 text, keeping UTF-8 as is (only the characters RFC 2253 names
 * and control characters are escaped). Should OpenSSL's conversion produce
 * anything that is not strict UTF-8 (a lone surrogate in a BMPString,
 * say), fall back to escaping every non-ASCII byte. */
static int name_text(const X509_NAME *name, struct roost_arena *a, const char **out)
{
    static const unsigned long flags[] = {XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB,
                                          XN_FLAG_RFC2253};
    int rc = ROOST_EINVAL;
    for (size_t k = 0; k < ROOST_ARRAY_LEN(flags) && rc; k++) {
        BIO *bio = BIO_new(BIO_s_mem());
        if (!bio)
            return pki__ossl_fail("BIO_new", ROOST_ENOMEM);
        if (X509_NAME_print_ex(bio, name, 0, flags[k]) >= 0) {
            char *data = NULL;
            long n = BIO_get_mem_data(bio, &data);
            if (n == 0 || utf8_ok((const unsigned char *)data, (size_t)n)) {
                *out = roost_arena_strndup(a, n ? data : "", (size_t)n);
                rc = 0;
            }
        }
        BIO_free(bio);
    }
    ERR_clear_error();
    return rc;
}

static int fill_name(const X509_NAME *name, struct roost_pki_name *out, struct roost_arena *a)
{
    int rc = name_text(name, a, &out->rfc2253);
    for (int i = 0; !rc && i < X509_NAME_entry_count(name); i++) {
        const X509_NAME_ENTRY *e = X509_NAME_get_entry(name, i);
        int attr = attr_of_nid(OBJ_obj2nid(X509_NAME_ENTRY_get_object(e)));
        if (attr < 0)
            continue;
        struct roost_pki_values *v = &out->attr[attr];
        const char *s = NULL;
        /* Values past the fifth are still checked: the rule is about the
         * certificate, not about how much of it we keep. */
        rc = entry_utf8(e, v->n < ROOST_PKI_MULTI_MAX ? a : NULL, &s);
        if (rc)
            break;
        if (v->n < ROOST_PKI_MULTI_MAX)
            v->v[v->n++] = s;
        v->total++;
    }
    return rc;
}

/* ==== Subject alternative names ========================================== */

static void san_add(struct roost_pki_values *v, const char *s)
{
    if (v->n < ROOST_PKI_SAN_MAX)
        v->v[v->n++] = s;
    v->total++;
}

/* An IA5String (DNS, URI, email): ASCII without NUL, else refused. */
static int ia5_value(const ASN1_STRING *s, struct roost_arena *a, const char **out)
{
    const unsigned char *p = ASN1_STRING_get0_data(s);
    int n = ASN1_STRING_length(s);
    for (int i = 0; i < n; i++) {
        if (p[i] == 0 || p[i] >= 0x80)
            return ROOST_EINVAL;
    }
    *out = roost_arena_strndup(a, (const char *)p, (size_t)n);
    return 0;
}

static int fill_sans(X509 *cert, struct roost_pki_values *san, struct roost_arena *a)
{
    int crit = -1;
    GENERAL_NAMES *names = X509_get_ext_d2i(cert, NID_subject_alt_name, &crit, NULL);
    if (!names) {
        ERR_clear_error();
        return crit == -1 ? 0 : ROOST_EINVAL; /* absent is fine; broken is not */
    }
    int rc = 0;
    for (int i = 0; !rc && i < sk_GENERAL_NAME_num(names); i++) {
        const GENERAL_NAME *gn = sk_GENERAL_NAME_value(names, i);
        const char *s = NULL;
        int type;
        switch (gn->type) {
        case GEN_DNS:
            type = ROOST_PKI_SAN_DNS;
            rc = ia5_value(gn->d.dNSName, a, &s);
            break;
        case GEN_URI:
            type = ROOST_PKI_SAN_URI;
            rc = ia5_value(gn->d.uniformResourceIdentifier, a, &s);
            break;
        case GEN_EMAIL:
            type = ROOST_PKI_SAN_EMAIL;
            rc = ia5_value(gn->d.rfc822Name, a, &s);
            break;
        case GEN_IPADD: {
            type = ROOST_PKI_SAN_IP;
            char text[INET6_ADDRSTRLEN];
            int n = ASN1_STRING_length(gn->d.iPAddress);
            const unsigned char *ip = ASN1_STRING_get0_data(gn->d.iPAddress);
            if ((n != 4 && n != 16) || !inet_ntop(n == 4 ? AF_INET : AF_INET6, ip, text,
                                                  sizeof(text)))
                rc = ROOST_EINVAL;
            else
                s = roost_arena_strndup(a, text, strlen(text));
            break;
        }
        case GEN_DIRNAME:
            type = ROOST_PKI_SAN_DIRNAME;
            rc = name_text(gn->d.directoryName, a, &s);
            break;
        default:
            continue; /* otherName, x400, EDI party, registeredID: not read */
        }
        if (!rc)
            san_add(&san[type], s);
    }
    GENERAL_NAMES_free(names);
    return rc;
}

/* ==== roost_pki_cert_info ================================================ */

static const char *key_type_name(EVP_PKEY *k)
{
    static const char *const types[][2] = {
        {"EC", "EC"},           {"RSA", "RSA"},     {"RSA-PSS", "RSA"},
        {"ED25519", "ED25519"}, {"ED448", "ED448"}, {"DSA", "DSA"},
    };
    for (size_t i = 0; i < ROOST_ARRAY_LEN(types); i++) {
        if (EVP_PKEY_is_a(k, types[i][0]))
            return types[i][1];
    }
    return "OTHER";
}

static int serial_hex(X509 *cert, struct roost_arena *a, const char **out)
{
    BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
    char *hex = bn ? BN_bn2hex(bn) : NULL;
    BN_free(bn);
    if (!hex) {
        ERR_clear_error();
        return ROOST_EINVAL;
    }
    *out = roost_arena_strndup(a, hex, strlen(hex));
    OPENSSL_free(hex);
    return 0;
}

/* See pki.h. */
int roost_pki_cert_info(const char *data, size_t len, struct roost_pki_cert_info *out)
{
    X509 *cert = NULL;
    memset(out, 0, sizeof(*out));
    roost_arena_init(&out->arena, NULL, 0);
    int rc = pki__parse_cert(data, len, "certificate", &cert, NULL, 0);
    if (rc)
        return rc;
    struct roost_arena *a = &out->arena;

    uint8_t *der = NULL;
    int der_len = i2d_X509(cert, &der);
    if (der_len <= 0) {
        rc = pki__ossl_fail("certificate DER", ROOST_ETLS);
        goto out;
    }
    roost_pki_cert_id_from_der(der, (size_t)der_len, out->id);
    out->der_len = (size_t)der_len;
    OPENSSL_free(der);

    char *pem = NULL;
    rc = pki__pem(cert, NULL, NULL, &pem);
    if (rc)
        goto out;
    out->pem = roost_arena_strndup(a, pem, strlen(pem));
    roost_free(pem);

    rc = fill_name(X509_get_subject_name(cert), &out->subject, a);
    if (!rc)
        rc = fill_name(X509_get_issuer_name(cert), &out->issuer, a);
    if (!rc)
        rc = fill_sans(cert, out->san, a);
    if (!rc)
        rc = serial_hex(cert, a, &out->serial);
    if (!rc)
        rc = pki__time_epoch(X509_get0_notBefore(cert), &out->not_before);
    if (!rc)
        rc = pki__time_epoch(X509_get0_notAfter(cert), &out->not_after);
    if (rc)
        goto out;

    uint32_t flags = X509_get_extension_flags(cert);
    out->is_ca = (flags & EXFLAG_CA) != 0;
    out->path_len = out->is_ca ? X509_get_pathlen(cert) : -1;
    out->self_signed = X509_self_signed(cert, 1) == 1;

    EVP_PKEY *key = X509_get0_pubkey(cert); /* non-NULL: pki__parse_cert checked */
    out->key_type = key_type_name(key);
    out->key_bits = (unsigned)ROOST_MAX(EVP_PKEY_get_bits(key), 0);
    char group[64] = "";
    size_t glen = 0;
    if (!EVP_PKEY_is_a(key, "EC") || !EVP_PKEY_get_group_name(key, group, sizeof(group), &glen))
        glen = 0;
    out->key_curve = roost_arena_strndup(a, group, glen);
out:
    ERR_clear_error();
    X509_free(cert);
    if (rc)
        roost_pki_cert_info_cleanup(out);
    return rc;
}

void roost_pki_cert_info_cleanup(struct roost_pki_cert_info *info)
{
    if (!info)
        return;
    roost_arena_cleanup(&info->arena);
    memset(info, 0, sizeof(*info));
}

/* ==== PEM bundles ======================================================== */

/* See pki.h. */
int roost_pki_pem_split_first(const char *pem, size_t len, struct roost_str *out_first,
                              struct roost_str *out_rest)
{
    static const char begin[] = "-----BEGIN CERTIFICATE-----";
    static const char end[] = "-----END CERTIFICATE-----";
    if (!pem)
        return ROOST_EINVAL;
    const char *stop = pem + len;
    const char *b = memmem(pem, len, begin, sizeof(begin) - 1);
    if (!b)
        return ROOST_EINVAL;
    const char *e = memmem(b, (size_t)(stop - b), end, sizeof(end) - 1);
    if (!e)
        return ROOST_EINVAL;
    const char *after = e + sizeof(end) - 1;
    if (after < stop && *after == '\r')
        after++;
    if (after < stop && *after == '\n')
        after++;

    X509 *cert = NULL;
    int rc = pki__parse_cert(b, (size_t)(after - b), "certificate", &cert, NULL, 0);
    X509_free(cert);
    if (rc)
        return rc == ROOST_ETOOBIG ? rc : ROOST_EINVAL;

    const char *rest = after;
    while (rest < stop && (*rest == ' ' || *rest == '\t' || *rest == '\r' || *rest == '\n'))
        rest++;
    *out_first = (struct roost_str){b, (size_t)(after - b)};
    *out_rest = (struct roost_str){rest, (size_t)(stop - rest)};
    return 0;
}
