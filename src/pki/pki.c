/*
 * pki.c - the certificates Roost makes for itself on first start: a
 * self-signed ECDSA P-256 root CA and a server certificate it signs, kept
 * as PEM files in DIR/pki, and the AWS certificate id (SHA-256 of the DER).
 *
 * Invariant: files on disk are only ever replaced whole (temp file, fsync,
 * rename), so a crash leaves either the old or the new file. The root CA is
 * never replaced once it exists: devices trust it. The server certificate is
 * re-issued, with its existing key, when it no longer covers the requested
 * names, is not signed by the root, or expires within 30 days.
 *
 * The OpenSSL error helper, serials and extension builder here are shared
 * with issue.c, inspect.c and verify.c through pki_int.h.
 */
#include "pki/pki_int.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#define ROOT_DAYS 3650
#define SERVER_DAYS 730
#define SERVER_RENEW_DAYS 30
#define MAX_SANS 64

/* Logs the OpenSSL error behind a failed step once and empties the queue, so
 * the error cannot be mistaken for a later one on the same thread. */
int pki__ossl_fail(const char *what, int rc)
{
    char text[256] = "no OpenSSL error queued";
    unsigned long e = ERR_peek_error();
    if (e)
        ERR_error_string_n(e, text, sizeof(text));
    ERR_clear_error();
    roost_log_error("pki", "%s: %s", what, text);
    return rc;
}

static int path_join(char *out, size_t cap, const char *dir, const char *name)
{
    int n = snprintf(out, cap, "%s/%s", dir, name);
    return n < 0 || (size_t)n >= cap ? ROOST_EINVAL : 0;
}

/* mkdir -p, the last component with `mode`. */
static int make_dirs(const char *dir, mode_t mode)
{
    char tmp[PATH_MAX];
    size_t n = strlen(dir);
    if (n == 0 || n >= sizeof(tmp))
        return ROOST_EINVAL;
    memcpy(tmp, dir, n + 1);
    for (size_t i = 1; i < n; i++) {
        if (tmp[i] != '/')
            continue;
        tmp[i] = '\0';
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
            return -errno;
        tmp[i] = '/';
    }
    if (mkdir(tmp, mode) != 0 && errno != EEXIST)
        return -errno;
    return 0;
}

/* Writes `len` bytes to `path` atomically with permissions `mode`. */
static int write_file_atomic(const char *path, const void *data, size_t len, mode_t mode)
{
    char tmp[PATH_MAX];
    int fd = -1;
    int rc = 0;
    int n = snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path);
    if (n < 0 || (size_t)n >= sizeof(tmp))
        return ROOST_EINVAL;
    fd = mkstemp(tmp);
    if (fd < 0)
        return -errno;
    if (fchmod(fd, mode) != 0) {
        rc = -errno;
        goto out;
    }
    const uint8_t *p = data;
    while (len) {
        ssize_t w = write(fd, p, len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            rc = -errno;
            goto out;
        }
        p += w;
        len -= (size_t)w;
    }
    if (fsync(fd) != 0) {
        rc = -errno;
        goto out;
    }
    if (close(fd) != 0) {
        fd = -1;
        rc = -errno;
        goto out;
    }
    fd = -1;
    if (rename(tmp, path) != 0) {
        rc = -errno;
        goto out;
    }
    /* Make the rename itself durable. */
    char dir[PATH_MAX];
    memcpy(dir, path, strlen(path) + 1);
    char *slash = strrchr(dir, '/');
    if (slash) {
        *slash = '\0';
        int dfd = open(dir[0] ? dir : "/", O_RDONLY | O_DIRECTORY);
        if (dfd >= 0) {
            (void)fsync(dfd);
            close(dfd);
        }
    }
out:
    if (fd >= 0)
        close(fd);
    if (rc)
        unlink(tmp);
    return rc;
}

static bool file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* ==== PEM in and out ===================================================== */

static int load_cert(const char *path, X509 **out_cert)
{
    BIO *bio = BIO_new_file(path, "r");
    if (!bio)
        return pki__ossl_fail(path, ROOST_ECONFIG);
    X509 *cert = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    BIO_free(bio);
    if (!cert)
        return pki__ossl_fail(path, ROOST_ECONFIG);
    *out_cert = cert;
    return 0;
}

static int load_key(const char *path, EVP_PKEY **out_key)
{
    BIO *bio = BIO_new_file(path, "r");
    if (!bio)
        return pki__ossl_fail(path, ROOST_ECONFIG);
    EVP_PKEY *key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
    BIO_free(bio);
    if (!key)
        return pki__ossl_fail(path, ROOST_ECONFIG);
    *out_key = key;
    return 0;
}

/* Serializes a certificate (key == NULL) or a private key to PEM and writes
 * it atomically: keys 0600, certificates 0644. */
static int save_pem(const char *path, X509 *cert, EVP_PKEY *key)
{
    int rc = 0;
    BIO *bio = BIO_new(BIO_s_mem());
    if (!bio)
        return pki__ossl_fail("BIO_new", ROOST_ENOMEM);
    int ok = key ? PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL)
                 : PEM_write_bio_X509(bio, cert);
    if (!ok) {
        rc = pki__ossl_fail("PEM encoding", ROOST_ETLS);
        goto out;
    }
    char *data = NULL;
    long len = BIO_get_mem_data(bio, &data);
    rc = write_file_atomic(path, data, (size_t)len, key ? 0600 : 0644);
    if (rc)
        roost_log_error("pki", "writing %s: %s", path, roost_strerror(rc));
out:
    BIO_free(bio);
    return rc;
}

/* ==== Building certificates ============================================== */

int pki__add_ext(X509 *cert, X509V3_CTX *v3, int nid, const char *value)
{
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, v3, nid, value);
    if (!ext)
        return pki__ossl_fail(value, ROOST_ETLS);
    int ok = X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
    return ok ? 0 : pki__ossl_fail("X509_add_ext", ROOST_ETLS);
}

/* A random positive 128-bit serial (RFC 5280 allows up to 20 octets). */
int pki__random_serial(X509 *cert)
{
    uint8_t raw[16];
    int rc = roost_random_bytes(raw, sizeof(raw));
    if (rc)
        return rc;
    raw[0] &= 0x7f;
    raw[0] |= 0x01; /* never zero, never negative */
    BIGNUM *bn = BN_bin2bn(raw, sizeof(raw), NULL);
    if (!bn)
        return pki__ossl_fail("BN_bin2bn", ROOST_ENOMEM);
    ASN1_INTEGER *serial = BN_to_ASN1_INTEGER(bn, NULL);
    BN_free(bn);
    if (!serial)
        return pki__ossl_fail("BN_to_ASN1_INTEGER", ROOST_ENOMEM);
    int ok = X509_set_serialNumber(cert, serial);
    ASN1_INTEGER_free(serial);
    return ok ? 0 : pki__ossl_fail("X509_set_serialNumber", ROOST_ETLS);
}

/* The parts every certificate we make shares: v3, serial, validity from a
 * minute ago (clock skew between us and devices) for `days`, subject CN and
 * O, public key. */
static int cert_skeleton(X509 *cert, EVP_PKEY *key, const char *cn, long days)
{
    int rc = pki__random_serial(cert);
    if (rc)
        return rc;
    if (!X509_set_version(cert, X509_VERSION_3) ||
        !X509_time_adj_ex(X509_getm_notBefore(cert), 0, -60, NULL) ||
        !X509_time_adj_ex(X509_getm_notAfter(cert), (int)days, 0, NULL) ||
        !X509_set_pubkey(cert, key))
        return pki__ossl_fail("certificate fields", ROOST_ETLS);
    X509_NAME *name = X509_get_subject_name(cert);
    if (!X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8, (const unsigned char *)"Roost", -1,
                                    -1, 0) ||
        !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1,
                                    0))
        return pki__ossl_fail("subject name", ROOST_ETLS);
    return 0;
}

static int make_root(X509 **out_cert, EVP_PKEY **out_key)
{
    int rc = 0;
    X509 *cert = NULL;
    EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    if (!key)
        return pki__ossl_fail("EC P-256 key generation", ROOST_ETLS);
    cert = X509_new();
    if (!cert) {
        rc = pki__ossl_fail("X509_new", ROOST_ENOMEM);
        goto out;
    }
    /* The random suffix keeps two installations' roots apart in trust
     * stores that index by name. */
    uint8_t rnd[4];
    char hex[9], cn[64];
    rc = roost_random_bytes(rnd, sizeof(rnd));
    if (rc)
        goto out;
    roost_hex_encode(rnd, sizeof(rnd), hex);
    snprintf(cn, sizeof(cn), "Roost Root CA %s", hex);
    rc = cert_skeleton(cert, key, cn, ROOT_DAYS);
    if (rc)
        goto out;
    if (!X509_set_issuer_name(cert, X509_get_subject_name(cert))) {
        rc = pki__ossl_fail("issuer name", ROOST_ETLS);
        goto out;
    }
    X509V3_CTX v3;
    X509V3_set_ctx(&v3, cert, cert, NULL, NULL, 0);
    rc = pki__add_ext(cert, &v3, NID_basic_constraints, "critical,CA:TRUE");
    if (!rc)
        rc = pki__add_ext(cert, &v3, NID_key_usage, "critical,keyCertSign,cRLSign");
    if (!rc)
        rc = pki__add_ext(cert, &v3, NID_subject_key_identifier, "hash");
    if (!rc)
        rc = pki__add_ext(cert, &v3, NID_authority_key_identifier, "keyid:always");
    if (rc)
        goto out;
    if (!X509_sign(cert, key, EVP_sha256())) {
        rc = pki__ossl_fail("signing the root CA", ROOST_ETLS);
        goto out;
    }
    *out_cert = cert;
    *out_key = key;
    cert = NULL;
    key = NULL;
out:
    X509_free(cert);
    EVP_PKEY_free(key);
    return rc;
}

/* ==== Subject alternative names ========================================== */

/* One SAN as compared: a DNS name (case-insensitive) or IP address bytes. */
struct san {
    bool is_ip;
    size_t len;
    uint8_t v[256];
};

static int san_parse(const char *s, struct san *out)
{
    size_t n = strlen(s);
    ASN1_OCTET_STRING *ip = a2i_IPADDRESS(s);
    if (ip) {
        out->is_ip = true;
        out->len = (size_t)ASN1_STRING_length(ip);
        memcpy(out->v, ASN1_STRING_get0_data(ip), out->len);
        ASN1_OCTET_STRING_free(ip);
        return 0;
    }
    ERR_clear_error();
    if (n == 0 || n > 253)
        return ROOST_EINVAL;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '.' || (c == '*' && i == 0);
        if (!ok)
            return ROOST_EINVAL;
    }
    out->is_ip = false;
    out->len = n;
    memcpy(out->v, s, n);
    return 0;
}

static bool san_eq(const struct san *a, const struct san *b)
{
    if (a->is_ip != b->is_ip || a->len != b->len)
        return false;
    if (a->is_ip)
        return memcmp(a->v, b->v, a->len) == 0;
    return strncasecmp((const char *)a->v, (const char *)b->v, a->len) == 0;
}

/* The names the server certificate must carry: the fixed loopback ones,
 * then the configured host names, without duplicates. */
static int wanted_sans(const char *const *hostnames, size_t n_hostnames, struct san *out,
                       size_t *out_n)
{
    static const char *const fixed[] = {"localhost", "127.0.0.1", "::1"};
    const size_t n_fixed = ROOST_ARRAY_LEN(fixed);
    size_t n = 0;
    for (size_t i = 0; i < n_fixed + n_hostnames; i++) {
        const char *s = i < n_fixed ? fixed[i] : hostnames[i - n_fixed];
        struct san cand;
        if (!s || san_parse(s, &cand) != 0) {
            roost_log_error("pki", "invalid host name for the server certificate: \"%s\"",
                            s ? s : "(null)");
            return ROOST_EINVAL;
        }
        bool dup = false;
        for (size_t j = 0; j < n && !dup; j++)
            dup = san_eq(&out[j], &cand);
        if (dup)
            continue;
        if (n == MAX_SANS)
            return ROOST_ETOOBIG;
        out[n++] = cand;
    }
    *out_n = n;
    return 0;
}

static bool cert_has_san(X509 *cert, const struct san *want)
{
    GENERAL_NAMES *names = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
    bool found = false;
    for (int i = 0; names && i < sk_GENERAL_NAME_num(names) && !found; i++) {
        const GENERAL_NAME *gn = sk_GENERAL_NAME_value(names, i);
        struct san have = {0};
        const ASN1_STRING *s = NULL;
        if (gn->type == GEN_DNS) {
            s = gn->d.dNSName;
        } else if (gn->type == GEN_IPADD) {
            s = gn->d.iPAddress;
            have.is_ip = true;
        }
        if (!s || ASN1_STRING_length(s) <= 0 || (size_t)ASN1_STRING_length(s) > sizeof(have.v))
            continue;
        have.len = (size_t)ASN1_STRING_length(s);
        memcpy(have.v, ASN1_STRING_get0_data(s), have.len);
        found = san_eq(&have, want);
    }
    GENERAL_NAMES_free(names);
    return found;
}

static int add_san_ext(X509 *cert, const struct san *sans, size_t n)
{
    int rc = 0;
    GENERAL_NAMES *names = sk_GENERAL_NAME_new_null();
    if (!names)
        return pki__ossl_fail("SAN list", ROOST_ENOMEM);
    /* Built from typed values rather than an "DNS:a,IP:b" config string, so
     * a configured name can never inject another entry. */
    for (size_t i = 0; i < n; i++) {
        GENERAL_NAME *gn = GENERAL_NAME_new();
        ASN1_STRING *s = sans[i].is_ip ? ASN1_OCTET_STRING_new() : ASN1_IA5STRING_new();
        if (!gn || !s || !ASN1_STRING_set(s, sans[i].v, (int)sans[i].len)) {
            GENERAL_NAME_free(gn);
            ASN1_STRING_free(s);
            rc = pki__ossl_fail("SAN entry", ROOST_ENOMEM);
            goto out;
        }
        GENERAL_NAME_set0_value(gn, sans[i].is_ip ? GEN_IPADD : GEN_DNS, s);
        if (!sk_GENERAL_NAME_push(names, gn)) {
            GENERAL_NAME_free(gn);
            rc = pki__ossl_fail("SAN entry", ROOST_ENOMEM);
            goto out;
        }
    }
    if (!X509_add1_ext_i2d(cert, NID_subject_alt_name, names, 0, X509V3_ADD_DEFAULT))
        rc = pki__ossl_fail("subjectAltName", ROOST_ETLS);
out:
    GENERAL_NAMES_free(names);
    return rc;
}

static int make_server(X509 *root, EVP_PKEY *root_key, EVP_PKEY *key, const struct san *sans,
                       size_t n_sans, X509 **out_cert)
{
    int rc = 0;
    X509 *cert = X509_new();
    if (!cert)
        return pki__ossl_fail("X509_new", ROOST_ENOMEM);
    /* CN is informational for TLS clients (they match SANs); use the first
     * DNS name that was configured, else localhost. */
    char cn[64] = "localhost";
    for (size_t i = 3; i < n_sans; i++) { /* after the three fixed names */
        if (!sans[i].is_ip && sans[i].len < sizeof(cn) && sans[i].v[0] != '*') {
            memcpy(cn, sans[i].v, sans[i].len);
            cn[sans[i].len] = '\0';
            break;
        }
    }
    rc = cert_skeleton(cert, key, cn, SERVER_DAYS);
    if (rc)
        goto out;
    if (!X509_set_issuer_name(cert, X509_get_subject_name(root))) {
        rc = pki__ossl_fail("issuer name", ROOST_ETLS);
        goto out;
    }
    X509V3_CTX v3;
    X509V3_set_ctx(&v3, root, cert, NULL, NULL, 0);
    rc = pki__add_ext(cert, &v3, NID_basic_constraints, "critical,CA:FALSE");
    if (!rc)
        rc = pki__add_ext(cert, &v3, NID_key_usage, "critical,digitalSignature");
    if (!rc)
        rc = pki__add_ext(cert, &v3, NID_ext_key_usage, "serverAuth");
    if (!rc)
        rc = pki__add_ext(cert, &v3, NID_subject_key_identifier, "hash");
    if (!rc)
        rc = pki__add_ext(cert, &v3, NID_authority_key_identifier, "keyid:always");
    if (!rc)
        rc = add_san_ext(cert, sans, n_sans);
    if (rc)
        goto out;
    if (!X509_sign(cert, root_key, EVP_sha256())) {
        rc = pki__ossl_fail("signing the server certificate", ROOST_ETLS);
        goto out;
    }
    *out_cert = cert;
    cert = NULL;
out:
    X509_free(cert);
    return rc;
}

/* Whether the existing server certificate can stay: signed by `root`, key
 * matching, every wanted name present, not about to expire. */
static bool server_cert_usable(X509 *cert, EVP_PKEY *key, X509 *root, const struct san *sans,
                               size_t n_sans)
{
    bool ok = true;
    EVP_PKEY *root_pub = X509_get0_pubkey(root);
    if (!root_pub || X509_verify(cert, root_pub) != 1 || X509_check_private_key(cert, key) != 1)
        ok = false;
    for (size_t i = 0; ok && i < n_sans; i++)
        ok = cert_has_san(cert, &sans[i]);
    if (ok) {
        time_t soon = time(NULL) + (time_t)SERVER_RENEW_DAYS * 86400;
        ok = X509_cmp_time(X509_get0_notAfter(cert), &soon) > 0;
    }
    ERR_clear_error();
    return ok;
}

/*
 * See pki.h. Order matters for crash safety: the root key is written before
 * the root certificate (a root certificate on disk always has its key), and
 * the server key before the server certificate (a mismatch after a crash is
 * detected and repaired by re-issuing).
 */
int roost_pki_bootstrap(const char *pki_dir, const char *const *hostnames, size_t n_hostnames,
                        bool *out_created)
{
    int rc = 0;
    X509 *root = NULL, *server = NULL;
    EVP_PKEY *root_key = NULL, *server_key = NULL;
    char root_cert_path[PATH_MAX], root_key_path[PATH_MAX];
    char server_cert_path[PATH_MAX], server_key_path[PATH_MAX];
    struct san *sans = roost_xcalloc(MAX_SANS, sizeof(*sans));
    size_t n_sans = 0;
    bool created = false;

    if (out_created)
        *out_created = false;
    rc = wanted_sans(hostnames, n_hostnames, sans, &n_sans);
    if (rc)
        goto out;
    rc = path_join(root_cert_path, sizeof(root_cert_path), pki_dir, ROOST_PKI_ROOT_CERT);
    if (!rc)
        rc = path_join(root_key_path, sizeof(root_key_path), pki_dir, ROOST_PKI_ROOT_KEY);
    if (!rc)
        rc = path_join(server_cert_path, sizeof(server_cert_path), pki_dir, ROOST_PKI_SERVER_CERT);
    if (!rc)
        rc = path_join(server_key_path, sizeof(server_key_path), pki_dir, ROOST_PKI_SERVER_KEY);
    if (rc)
        goto out;
    rc = make_dirs(pki_dir, 0700);
    if (rc) {
        roost_log_error("pki", "creating %s: %s", pki_dir, roost_strerror(rc));
        goto out;
    }

    if (file_exists(root_cert_path)) {
        rc = load_cert(root_cert_path, &root);
        if (rc)
            goto out;
        /* The root key is loaded only if the server certificate must be
         * (re-)issued, so an operator may keep it offline. */
    } else if (file_exists(root_key_path)) {
        /* A key without its certificate: someone's half-finished manual
         * work; never overwrite a CA key. */
        roost_log_error("pki", "%s exists without %s; refusing to replace it", root_key_path,
                        root_cert_path);
        rc = ROOST_ECONFIG;
        goto out;
    } else {
        rc = make_root(&root, &root_key);
        if (!rc)
            rc = save_pem(root_key_path, NULL, root_key);
        if (!rc)
            rc = save_pem(root_cert_path, root, NULL);
        if (rc)
            goto out;
        created = true;
        roost_log_info("pki", "created root CA %s", root_cert_path);
    }

    if (file_exists(server_key_path)) {
        rc = load_key(server_key_path, &server_key);
        if (rc)
            goto out;
    }
    if (server_key && file_exists(server_cert_path)) {
        rc = load_cert(server_cert_path, &server);
        if (rc)
            goto out;
        if (server_cert_usable(server, server_key, root, sans, n_sans))
            goto out; /* nothing to do */
        X509_free(server);
        server = NULL;
    }

    if (!root_key) {
        if (!file_exists(root_key_path)) {
            roost_log_error("pki", "the server certificate must be re-issued but %s is missing",
                            root_key_path);
            rc = ROOST_ECONFIG;
            goto out;
        }
        rc = load_key(root_key_path, &root_key);
        if (rc)
            goto out;
        if (X509_check_private_key(root, root_key) != 1) {
            rc = pki__ossl_fail("root CA key does not match its certificate", ROOST_ECONFIG);
            goto out;
        }
    }
    if (!server_key) {
        server_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
        if (!server_key) {
            rc = pki__ossl_fail("EC P-256 key generation", ROOST_ETLS);
            goto out;
        }
        rc = save_pem(server_key_path, NULL, server_key);
        if (rc)
            goto out;
    }
    rc = make_server(root, root_key, server_key, sans, n_sans, &server);
    if (!rc)
        rc = save_pem(server_cert_path, server, NULL);
    if (rc)
        goto out;
    roost_log_info("pki", "issued server certificate %s", server_cert_path);
out:
    if (!rc && out_created)
        *out_created = created;
    X509_free(root);
    X509_free(server);
    EVP_PKEY_free(root_key);
    EVP_PKEY_free(server_key);
    roost_free(sans);
    return rc;
}

/* See pki.h. ROOST_EMALFORMED when `pem` holds no parsable certificate. */
int roost_pki_cert_id_from_pem(const char *pem, size_t len, char out_id[65])
{
    int rc = 0;
    X509 *cert = NULL;
    uint8_t *der = NULL;
    if (len > INT_MAX)
        return ROOST_ETOOBIG;
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    if (!bio)
        return pki__ossl_fail("BIO_new_mem_buf", ROOST_ENOMEM);
    cert = PEM_read_bio_X509(bio, NULL, pki__no_password, NULL);
    if (!cert) {
        ERR_clear_error();
        rc = ROOST_EMALFORMED;
        goto out;
    }
    int der_len = i2d_X509(cert, &der);
    uint8_t md[32];
    unsigned md_len = 0;
    if (der_len <= 0 || !EVP_Digest(der, (size_t)der_len, md, &md_len, EVP_sha256(), NULL)) {
        rc = pki__ossl_fail("certificate digest", ROOST_ETLS);
        goto out;
    }
    roost_hex_encode(md, sizeof(md), out_id);
out:
    OPENSSL_free(der);
    X509_free(cert);
    BIO_free(bio);
    return rc;
}
