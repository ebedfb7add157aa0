/*
 * test_pki.c - unit tests for src/pki: the first-start bootstrap (files,
 * permissions, chain verification, SANs, reuse and re-issue) and the
 * certificate id, checked against the openssl command line tool.
 */
#include "roost_test.h"
#include "pki/pki.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

static char *read_all(const char *path, size_t *out_len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = roost_xmalloc((size_t)n + 1);
    size_t got = fread(buf, 1, (size_t)n, f);
    fclose(f);
    buf[got] = '\0';
    if (out_len)
        *out_len = got;
    return buf;
}

static X509 *load_cert(const char *path)
{
    BIO *bio = BIO_new_file(path, "r");
    if (!bio)
        return NULL;
    X509 *cert = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    BIO_free(bio);
    return cert;
}

static void pki_path(char *out, size_t cap, const char *dir, const char *name)
{
    snprintf(out, cap, "%s/pki/%s", dir, name);
}

static int file_mode(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return -1;
    return (int)(st.st_mode & 0777);
}

/* X509_verify_cert against `root` alone, for the TLS server purpose. */
static int verify_server(X509 *root, X509 *leaf)
{
    X509_STORE *store = X509_STORE_new();
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    X509_STORE_add_cert(store, root);
    X509_STORE_CTX_init(ctx, store, leaf, NULL);
    X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_SERVER);
    int ok = X509_verify_cert(ctx);
    if (ok != 1)
        fprintf(stderr, "verify: %s\n",
                X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
    return ok;
}

ROOST_TEST(bootstrap_creates_files_with_modes)
{
    const char *tmp = roost_test_tmpdir();
    char dir[512], path[600];
    snprintf(dir, sizeof(dir), "%s/pki", tmp);
    bool created = false;
    REQUIRE_OK(roost_pki_bootstrap(dir, NULL, 0, &created));
    CHECK(created);
    CHECK_EQ(file_mode(dir), 0700);
    pki_path(path, sizeof(path), tmp, ROOST_PKI_ROOT_KEY);
    CHECK_EQ(file_mode(path), 0600);
    pki_path(path, sizeof(path), tmp, ROOST_PKI_SERVER_KEY);
    CHECK_EQ(file_mode(path), 0600);
    pki_path(path, sizeof(path), tmp, ROOST_PKI_ROOT_CERT);
    CHECK_EQ(file_mode(path), 0644);
    pki_path(path, sizeof(path), tmp, ROOST_PKI_SERVER_CERT);
    CHECK_EQ(file_mode(path), 0644);

    /* The key is PKCS#8 EC P-256. */
    pki_path(path, sizeof(path), tmp, ROOST_PKI_SERVER_KEY);
    BIO *bio = BIO_new_file(path, "r");
    REQUIRE(bio);
    EVP_PKEY *key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
    BIO_free(bio);
    REQUIRE(key);
    CHECK(EVP_PKEY_is_a(key, "EC"));
    char group[32] = "";
    size_t glen = 0;
    CHECK(EVP_PKEY_get_group_name(key, group, sizeof(group), &glen));
    CHECK_STR(group, "prime256v1");
    EVP_PKEY_free(key);
}

ROOST_TEST(server_cert_verifies_and_has_sans)
{
    const char *tmp = roost_test_tmpdir();
    char dir[512], path[600];
    snprintf(dir, sizeof(dir), "%s/pki", tmp);
    const char *hosts[] = {"iot.example.com", "10.1.2.3", "fd00::7"};
    REQUIRE_OK(roost_pki_bootstrap(dir, hosts, 3, NULL));

    pki_path(path, sizeof(path), tmp, ROOST_PKI_ROOT_CERT);
    X509 *root = load_cert(path);
    pki_path(path, sizeof(path), tmp, ROOST_PKI_SERVER_CERT);
    X509 *server = load_cert(path);
    REQUIRE(root && server);

    CHECK_EQ(verify_server(root, server), 1);
    CHECK_EQ(X509_check_ca(root), 1);
    CHECK_EQ(X509_check_ca(server), 0);
    CHECK(X509_get_key_usage(root) & KU_KEY_CERT_SIGN);
    CHECK(X509_get_key_usage(root) & KU_CRL_SIGN);
    CHECK(X509_get_key_usage(server) & KU_DIGITAL_SIGNATURE);
    CHECK(X509_get_extended_key_usage(server) & XKU_SSL_SERVER);
    CHECK(X509_get0_subject_key_id(root) != NULL);
    CHECK(X509_get0_authority_key_id(server) != NULL);
    /* notBefore lies in the past, so a device with a slightly late clock
     * accepts a certificate made a moment ago. */
    CHECK(X509_cmp_current_time(X509_get0_notBefore(server)) < 0);

    CHECK_EQ(X509_check_host(server, "localhost", 0, 0, NULL), 1);
    CHECK_EQ(X509_check_host(server, "iot.example.com", 0, 0, NULL), 1);
    CHECK_EQ(X509_check_host(server, "other.example.com", 0, 0, NULL), 0);
    CHECK_EQ(X509_check_ip_asc(server, "127.0.0.1", 0), 1);
    CHECK_EQ(X509_check_ip_asc(server, "::1", 0), 1);
    CHECK_EQ(X509_check_ip_asc(server, "10.1.2.3", 0), 1);
    CHECK_EQ(X509_check_ip_asc(server, "fd00:0::7", 0), 1);
    CHECK_EQ(X509_check_ip_asc(server, "10.1.2.4", 0), 0);

    /* 128-bit random serials differ between the two certificates. */
    CHECK(ASN1_INTEGER_cmp(X509_get0_serialNumber(root), X509_get0_serialNumber(server)) != 0);
    CHECK(ASN1_STRING_length(X509_get0_serialNumber(server)) >= 15);

    char cn[128] = "";
    X509_NAME_get_text_by_NID(X509_get_subject_name(root), NID_commonName, cn, sizeof(cn));
    CHECK(strncmp(cn, "Roost Root CA ", 14) == 0);
    X509_NAME_get_text_by_NID(X509_get_subject_name(server), NID_commonName, cn, sizeof(cn));
    CHECK_STR(cn, "iot.example.com");
    X509_free(root);
    X509_free(server);
}

ROOST_TEST(bootstrap_reuses_then_reissues_server_only)
{
    const char *tmp = roost_test_tmpdir();
    char dir[512], rc_path[600], sc_path[600], sk_path[600], rk_path[600];
    snprintf(dir, sizeof(dir), "%s/pki", tmp);
    pki_path(rc_path, sizeof(rc_path), tmp, ROOST_PKI_ROOT_CERT);
    pki_path(rk_path, sizeof(rk_path), tmp, ROOST_PKI_ROOT_KEY);
    pki_path(sc_path, sizeof(sc_path), tmp, ROOST_PKI_SERVER_CERT);
    pki_path(sk_path, sizeof(sk_path), tmp, ROOST_PKI_SERVER_KEY);

    const char *hosts[] = {"a.example.com", "b.example.com"};
    bool created = false;
    REQUIRE_OK(roost_pki_bootstrap(dir, hosts, 1, &created));
    CHECK(created);
    char *root1 = read_all(rc_path, NULL), *rkey1 = read_all(rk_path, NULL);
    char *srv1 = read_all(sc_path, NULL), *skey1 = read_all(sk_path, NULL);
    REQUIRE(root1 && rkey1 && srv1 && skey1);

    /* Same names: nothing changes, down to the byte. */
    REQUIRE_OK(roost_pki_bootstrap(dir, hosts, 1, &created));
    CHECK(!created);
    char *srv2 = read_all(sc_path, NULL), *root2 = read_all(rc_path, NULL);
    CHECK_STR(srv2, srv1);
    CHECK_STR(root2, root1);

    /* A name already covered (different case) changes nothing either. */
    const char *upper[] = {"A.EXAMPLE.COM"};
    REQUIRE_OK(roost_pki_bootstrap(dir, upper, 1, &created));
    char *srv3 = read_all(sc_path, NULL);
    CHECK_STR(srv3, srv1);

    /* A new name: the server certificate is re-issued, the root and the
     * keys stay. */
    REQUIRE_OK(roost_pki_bootstrap(dir, hosts, 2, &created));
    CHECK(!created);
    char *srv4 = read_all(sc_path, NULL), *root4 = read_all(rc_path, NULL);
    char *rkey4 = read_all(rk_path, NULL), *skey4 = read_all(sk_path, NULL);
    CHECK(strcmp(srv4, srv1) != 0);
    CHECK_STR(root4, root1);
    CHECK_STR(rkey4, rkey1);
    CHECK_STR(skey4, skey1);
    X509 *root = load_cert(rc_path), *server = load_cert(sc_path);
    REQUIRE(root && server);
    CHECK_EQ(X509_check_host(server, "b.example.com", 0, 0, NULL), 1);
    CHECK_EQ(X509_check_host(server, "a.example.com", 0, 0, NULL), 1);
    CHECK_EQ(verify_server(root, server), 1);
    CHECK_EQ(file_mode(sc_path), 0644);
    X509_free(root);
    X509_free(server);

    /* A deleted server certificate comes back, from the same root. */
    CHECK_EQ(unlink(sc_path), 0);
    REQUIRE_OK(roost_pki_bootstrap(dir, hosts, 2, &created));
    CHECK(!created);
    root = load_cert(rc_path);
    server = load_cert(sc_path);
    REQUIRE(root && server);
    CHECK_EQ(verify_server(root, server), 1);
    X509_free(root);
    X509_free(server);

    roost_free(root1), roost_free(rkey1), roost_free(srv1), roost_free(skey1);
    roost_free(srv2), roost_free(root2), roost_free(srv3);
    roost_free(srv4), roost_free(root4), roost_free(rkey4), roost_free(skey4);
}

ROOST_TEST(bootstrap_rejects_bad_names_and_orphan_root_key)
{
    const char *tmp = roost_test_tmpdir();
    char dir[512], path[600];
    snprintf(dir, sizeof(dir), "%s/pki", tmp);
    const char *bad[] = {"a.example.com,IP:1.2.3.4"};
    CHECK_EQ(roost_pki_bootstrap(dir, bad, 1, NULL), ROOST_EINVAL);
    const char *empty[] = {""};
    CHECK_EQ(roost_pki_bootstrap(dir, empty, 1, NULL), ROOST_EINVAL);

    /* A root key without a certificate is never overwritten. */
    REQUIRE_OK(mkdir(dir, 0700));
    pki_path(path, sizeof(path), tmp, ROOST_PKI_ROOT_KEY);
    FILE *f = fopen(path, "w");
    REQUIRE(f);
    fputs("precious\n", f);
    fclose(f);
    CHECK_EQ(roost_pki_bootstrap(dir, NULL, 0, NULL), ROOST_ECONFIG);
    char *kept = read_all(path, NULL);
    CHECK_STR(kept, "precious\n");
    roost_free(kept);
}

ROOST_TEST(cert_id_matches_openssl_cli)
{
    const char *tmp = roost_test_tmpdir();
    char dir[512], path[600], cmd[1400];
    snprintf(dir, sizeof(dir), "%s/pki", tmp);
    REQUIRE_OK(roost_pki_bootstrap(dir, NULL, 0, NULL));
    pki_path(path, sizeof(path), tmp, ROOST_PKI_SERVER_CERT);

    size_t len = 0;
    char *pem = read_all(path, &len);
    REQUIRE(pem);
    char id[65];
    REQUIRE_OK(roost_pki_cert_id_from_pem(pem, len, id));
    CHECK_EQ(strlen(id), 64);

    snprintf(cmd, sizeof(cmd), "openssl x509 -in '%s' -outform der | sha256sum", path);
    FILE *p = popen(cmd, "r");
    REQUIRE(p);
    char line[200] = "";
    REQUIRE(fgets(line, sizeof(line), p) != NULL);
    CHECK_EQ(pclose(p), 0);
    line[64] = '\0';
    CHECK_STR(id, line);

    /* A chain: the id is the first certificate's. */
    pki_path(path, sizeof(path), tmp, ROOST_PKI_ROOT_CERT);
    char *root_pem = read_all(path, NULL);
    size_t chain_len = len + strlen(root_pem);
    char *chain = roost_xmalloc(chain_len + 1);
    memcpy(chain, pem, len);
    memcpy(chain + len, root_pem, strlen(root_pem) + 1);
    char id2[65];
    REQUIRE_OK(roost_pki_cert_id_from_pem(chain, chain_len, id2));
    CHECK_STR(id2, id);

    /* Garbage and truncation are malformed, not crashes. */
    CHECK_EQ(roost_pki_cert_id_from_pem("hello", 5, id2), ROOST_EMALFORMED);
    CHECK_EQ(roost_pki_cert_id_from_pem(pem, len / 2, id2), ROOST_EMALFORMED);
    CHECK_EQ(ERR_peek_error(), 0);
    roost_free(chain);
    roost_free(root_pem);
    roost_free(pem);
}
