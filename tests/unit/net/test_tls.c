/*
 * test_tls.c - unit tests for src/net/tls.c: complete handshakes in memory
 * between an OpenSSL client (memory BIOs, built here) and net_tls, with the
 * certificates of roost_pki_bootstrap plus client certificates made here:
 * mTLS, ALPN, SNI, peer id, data both ways, buffer limits, the failures a
 * device can cause (no certificate, wrong CA), TLS 1.2, resumption,
 * close_notify, and a context shared by two threads.
 */
#include "roost_test.h"
#include "net/net_int.h"
#include "pki/pki.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

/* ==== Fixtures =========================================================== */

struct pki {
    char dir[512];
    char root_cert[600], root_key[600], server_cert[600], server_key[600];
    X509 *root;
    EVP_PKEY *root_pkey;
};

static X509 *load_cert(const char *path)
{
    BIO *bio = BIO_new_file(path, "r");
    X509 *c = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
    BIO_free(bio);
    return c;
}

static EVP_PKEY *load_key(const char *path)
{
    BIO *bio = BIO_new_file(path, "r");
    EVP_PKEY *k = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
    BIO_free(bio);
    return k;
}

static void pki_setup(struct pki *p)
{
    memset(p, 0, sizeof(*p));
    snprintf(p->dir, sizeof(p->dir), "%s/pki", roost_test_tmpdir());
    REQUIRE_OK(roost_pki_bootstrap(p->dir, NULL, 0, NULL));
    snprintf(p->root_cert, sizeof(p->root_cert), "%s/%s", p->dir, ROOST_PKI_ROOT_CERT);
    snprintf(p->root_key, sizeof(p->root_key), "%s/%s", p->dir, ROOST_PKI_ROOT_KEY);
    snprintf(p->server_cert, sizeof(p->server_cert), "%s/%s", p->dir, ROOST_PKI_SERVER_CERT);
    snprintf(p->server_key, sizeof(p->server_key), "%s/%s", p->dir, ROOST_PKI_SERVER_KEY);
    p->root = load_cert(p->root_cert);
    p->root_pkey = load_key(p->root_key);
    REQUIRE(p->root && p->root_pkey);
}

static void pki_cleanup(struct pki *p)
{
    X509_free(p->root);
    EVP_PKEY_free(p->root_pkey);
}

static void add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX v3;
    X509V3_set_ctx(&v3, issuer ? issuer : cert, cert, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
    REQUIRE(ext);
    X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
}

/* A certificate for `cn` with a new P-256 key, signed by issuer/issuer_key,
 * or self-signed as a CA when issuer is NULL. */
static void make_cert(X509 *issuer, EVP_PKEY *issuer_key, const char *cn, X509 **out_cert,
                      EVP_PKEY **out_key)
{
    EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    X509 *cert = X509_new();
    REQUIRE(key && cert);
    static long serial = 1000;
    ASN1_INTEGER_set(X509_get_serialNumber(cert), serial++);
    X509_set_version(cert, X509_VERSION_3);
    X509_gmtime_adj(X509_getm_notBefore(cert), -60);
    X509_gmtime_adj(X509_getm_notAfter(cert), 86400);
    X509_set_pubkey(cert, key);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(cert), "CN", MBSTRING_UTF8,
                               (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(cert, X509_get_subject_name(issuer ? issuer : cert));
    if (issuer) {
        add_ext(cert, issuer, NID_basic_constraints, "critical,CA:FALSE");
        add_ext(cert, issuer, NID_key_usage, "critical,digitalSignature");
        add_ext(cert, issuer, NID_ext_key_usage, "clientAuth");
    } else {
        add_ext(cert, NULL, NID_basic_constraints, "critical,CA:TRUE");
        add_ext(cert, NULL, NID_key_usage, "critical,keyCertSign,cRLSign");
    }
    REQUIRE(X509_sign(cert, issuer ? issuer_key : key, EVP_sha256()) > 0);
    *out_cert = cert;
    *out_key = key;
}

static const char *const alpn_list[] = {"x-amzn-mqtt-ca", "mqtt", "http/1.1", NULL};

static struct net_tls_ctx *server_ctx(const struct pki *p, bool client_ca, bool require)
{
    struct net_tls_config cfg = {
        .cert_file = p->server_cert,
        .key_file = p->server_key,
        .client_ca_file = client_ca ? p->root_cert : NULL,
        .require_client_cert = require,
        .alpn = alpn_list,
    };
    struct net_tls_ctx *ctx = NULL;
    REQUIRE_OK(net_tls_ctx_create(&cfg, &ctx));
    return ctx;
}

/* The client side: a plain OpenSSL SSL over two memory BIOs. */
struct client {
    SSL_CTX *ctx;
    SSL *ssl;
    BIO *rbio; /* server -> client */
    BIO *wbio; /* client -> server */
};

static void client_init(struct client *c, const struct pki *p, X509 *cert, EVP_PKEY *key,
                        int max_version, const char *alpn_wire, size_t alpn_len)
{
    memset(c, 0, sizeof(*c));
    c->ctx = SSL_CTX_new(TLS_client_method());
    REQUIRE(c->ctx);
    if (max_version)
        SSL_CTX_set_max_proto_version(c->ctx, max_version);
    /* The client checks the server too, as a device would. */
    REQUIRE(SSL_CTX_load_verify_locations(c->ctx, p->root_cert, NULL) == 1);
    SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
    if (cert) {
        REQUIRE(SSL_CTX_use_certificate(c->ctx, cert) == 1);
        REQUIRE(SSL_CTX_use_PrivateKey(c->ctx, key) == 1);
    }
    c->ssl = SSL_new(c->ctx);
    c->rbio = BIO_new(BIO_s_mem());
    c->wbio = BIO_new(BIO_s_mem());
    SSL_set_bio(c->ssl, c->rbio, c->wbio);
    SSL_set_connect_state(c->ssl);
    SSL_set_tlsext_host_name(c->ssl, "localhost");
    SSL_set1_host(c->ssl, "localhost");
    if (alpn_wire)
        REQUIRE(SSL_set_alpn_protos(c->ssl, (const unsigned char *)alpn_wire,
                                    (unsigned)alpn_len) == 0);
}

static void client_cleanup(struct client *c)
{
    SSL_free(c->ssl);
    SSL_CTX_free(c->ctx);
}

/* Shuttles bytes both ways until neither side has anything more to say.
 * Returns the server's first error (or 0); the client's last handshake
 * result is in *out_client_rc when asked for. */
static int exchange(struct client *c, struct net_tls *t, struct roost_buf *plain,
                    int *out_client_rc)
{
    int server_rc = 0;
    int client_rc = 1;
    for (int round = 0; round < 100; round++) {
        bool moved = false;
        if (!SSL_is_init_finished(c->ssl)) {
            client_rc = SSL_do_handshake(c->ssl);
        }
        char *data = NULL;
        long n = BIO_get_mem_data(c->wbio, &data);
        if (n > 0) {
            CHECK_OK(net_tls_feed(t, (const uint8_t *)data, (size_t)n));
            (void)BIO_reset(c->wbio);
            moved = true;
        }
        if (server_rc == 0) {
            int rc = net_tls_read(t, plain);
            if (rc != 0)
                server_rc = rc;
        }
        struct roost_buf out;
        roost_buf_init(&out, 0);
        CHECK_OK(net_tls_take_output(t, &out));
        if (roost_buf_size(&out)) {
            BIO_write(c->rbio, roost_buf_head(&out), (int)roost_buf_size(&out));
            moved = true;
        }
        roost_buf_cleanup(&out);
        if (!moved)
            break;
    }
    if (out_client_rc)
        *out_client_rc = client_rc;
    return server_rc;
}

/* Reads everything the client can decrypt into `got`; returns the last
 * SSL_get_error value. */
static int client_read_all(struct client *c, struct roost_buf *got)
{
    for (;;) {
        char buf[8192];
        int r = SSL_read(c->ssl, buf, sizeof(buf));
        if (r <= 0)
            return SSL_get_error(c->ssl, r);
        REQUIRE_OK(roost_buf_append(got, buf, (size_t)r));
    }
}

static void sha256_hex_of_cert(X509 *cert, char out[65])
{
    BIO *bio = BIO_new(BIO_s_mem());
    PEM_write_bio_X509(bio, cert);
    char *pem = NULL;
    long len = BIO_get_mem_data(bio, &pem);
    REQUIRE_OK(roost_pki_cert_id_from_pem(pem, (size_t)len, out));
    BIO_free(bio);
}

/* ==== Tests ============================================================== */

ROOST_TEST(mtls_handshake_alpn_sni_peer_id)
{
    struct pki p;
    pki_setup(&p);
    X509 *cert;
    EVP_PKEY *key;
    make_cert(p.root, p.root_pkey, "device-1", &cert, &key);
    struct net_tls_ctx *ctx = server_ctx(&p, true, true);
    struct net_tls *t = NULL;
    REQUIRE_OK(net_tls_create(ctx, &t));
    CHECK(!net_tls_handshake_done(t));
    char id[65];
    CHECK_EQ(net_tls_peer_cert_id(t, id), ROOST_ENOTFOUND);

    struct client c;
    static const char offer[] = "\x04mqtt\x0ex-amzn-mqtt-ca";
    client_init(&c, &p, cert, key, 0, offer, sizeof(offer) - 1);
    struct roost_buf plain;
    roost_buf_init(&plain, 0);
    int crc = 0;
    CHECK_OK(exchange(&c, t, &plain, &crc));
    CHECK_EQ(crc, 1);
    CHECK_EQ(SSL_get_verify_result(c.ssl), X509_V_OK);
    REQUIRE(net_tls_handshake_done(t));
    CHECK_STR(net_tls_alpn(t), "x-amzn-mqtt-ca"); /* our preference wins */
    CHECK_STR(net_tls_sni(t), "localhost");
    CHECK_EQ(SSL_version(c.ssl), TLS1_3_VERSION);

    char want[65];
    sha256_hex_of_cert(cert, want);
    REQUIRE_OK(net_tls_peer_cert_id(t, id));
    CHECK_STR(id, want);
    char subject[256];
    REQUIRE_OK(net_tls_peer_subject(t, subject, sizeof(subject)));
    CHECK_STR(subject, "CN=device-1");
    char small[4];
    REQUIRE_OK(net_tls_peer_subject(t, small, sizeof(small)));
    CHECK_STR(small, "CN=");

    roost_buf_cleanup(&plain);
    client_cleanup(&c);
    net_tls_destroy(t);
    net_tls_ctx_destroy(ctx);
    X509_free(cert);
    EVP_PKEY_free(key);
    pki_cleanup(&p);
}

static void alpn_case(const struct pki *p, struct net_tls_ctx *ctx, const char *wire,
                      size_t len, const char *want)
{
    struct net_tls *t = NULL;
    REQUIRE_OK(net_tls_create(ctx, &t));
    struct client c;
    client_init(&c, p, NULL, NULL, 0, wire, len);
    struct roost_buf plain;
    roost_buf_init(&plain, 0);
    int crc = 0;
    CHECK_OK(exchange(&c, t, &plain, &crc));
    CHECK_EQ(crc, 1);
    CHECK(net_tls_handshake_done(t));
    CHECK_STR(net_tls_alpn(t), want);
    char id[65];
    CHECK_EQ(net_tls_peer_cert_id(t, id), ROOST_ENOTFOUND);
    roost_buf_cleanup(&plain);
    client_cleanup(&c);
    net_tls_destroy(t);
}

ROOST_TEST(alpn_server_order_no_overlap_and_none)
{
    struct pki p;
    pki_setup(&p);
    struct net_tls_ctx *ctx = server_ctx(&p, false, false);
    static const char both[] = "\x08http/1.1\x04mqtt";
    alpn_case(&p, ctx, both, sizeof(both) - 1, "mqtt");
    static const char h2[] = "\x02h2";
    alpn_case(&p, ctx, h2, sizeof(h2) - 1, ""); /* accepted without ALPN */
    alpn_case(&p, ctx, NULL, 0, "");
    net_tls_ctx_destroy(ctx);
    pki_cleanup(&p);
}

ROOST_TEST(data_both_ways_and_plain_limit)
{
    struct pki p;
    pki_setup(&p);
    struct net_tls_ctx *ctx = server_ctx(&p, false, false);
    struct net_tls *t = NULL;
    REQUIRE_OK(net_tls_create(ctx, &t));
    CHECK_EQ(net_tls_write(t, (const uint8_t *)"x", 1), ROOST_EINVAL); /* before handshake */
    struct client c;
    client_init(&c, &p, NULL, NULL, 0, NULL, 0);
    struct roost_buf plain;
    roost_buf_init(&plain, 0);
    CHECK_OK(exchange(&c, t, &plain, NULL));
    REQUIRE(net_tls_handshake_done(t));

    size_t big = 100 * 1024;
    uint8_t *data = roost_xmalloc(big);
    for (size_t i = 0; i < big; i++)
        data[i] = (uint8_t)(i * 7 + i / 251);

    /* Client to server: 100 KB in one SSL_write, read with no limit. */
    REQUIRE_EQ(SSL_write(c.ssl, "hello", 5), 5);
    REQUIRE_EQ(SSL_write(c.ssl, data, (int)big), (int)big);
    CHECK_OK(exchange(&c, t, &plain, NULL));
    REQUIRE_EQ(roost_buf_size(&plain), big + 5);
    CHECK_MEM(roost_buf_head(&plain), "hello", 5);
    CHECK_MEM(roost_buf_head(&plain) + 5, data, big);
    roost_buf_clear(&plain);

    /* Server to client: 100 KB in one net_tls_write. */
    REQUIRE_OK(net_tls_write(t, data, big));
    CHECK_OK(exchange(&c, t, &plain, NULL));
    struct roost_buf got;
    roost_buf_init(&got, 0);
    CHECK_EQ(client_read_all(&c, &got), SSL_ERROR_WANT_READ);
    REQUIRE_EQ(roost_buf_size(&got), big);
    CHECK_MEM(roost_buf_head(&got), data, big);

    /* A bounded `plain`: ETOOBIG while more is waiting, nothing lost after
     * draining and calling again. */
    struct roost_buf small;
    roost_buf_init(&small, 4096);
    REQUIRE_EQ(SSL_write(c.ssl, data, (int)big), (int)big);
    char *wire = NULL;
    long n = BIO_get_mem_data(c.wbio, &wire);
    REQUIRE_OK(net_tls_feed(t, (const uint8_t *)wire, (size_t)n));
    (void)BIO_reset(c.wbio);
    struct roost_buf all;
    roost_buf_init(&all, 0);
    int calls = 0, toobig = 0;
    for (;;) {
        int rc = net_tls_read(t, &small);
        calls++;
        REQUIRE(rc == 0 || rc == ROOST_ETOOBIG);
        if (rc == ROOST_ETOOBIG)
            toobig++;
        CHECK(roost_buf_size(&small) <= 4096);
        REQUIRE_OK(roost_buf_append(&all, roost_buf_head(&small), roost_buf_size(&small)));
        roost_buf_clear(&small);
        if (rc == 0 || calls > 1000)
            break;
    }
    CHECK(toobig > 0);
    REQUIRE_EQ(roost_buf_size(&all), big);
    CHECK_MEM(roost_buf_head(&all), data, big);

    roost_buf_cleanup(&all);
    roost_buf_cleanup(&small);
    roost_buf_cleanup(&got);
    roost_free(data);
    roost_buf_cleanup(&plain);
    client_cleanup(&c);
    net_tls_destroy(t);
    net_tls_ctx_destroy(ctx);
    pki_cleanup(&p);
}

ROOST_TEST(required_cert_missing_fails_with_alert)
{
    struct pki p;
    pki_setup(&p);
    struct net_tls_ctx *ctx = server_ctx(&p, true, true);
    struct net_tls *t = NULL;
    REQUIRE_OK(net_tls_create(ctx, &t));
    struct client c;
    client_init(&c, &p, NULL, NULL, 0, NULL, 0);
    struct roost_buf plain;
    roost_buf_init(&plain, 0);
    CHECK_EQ(exchange(&c, t, &plain, NULL), ROOST_ETLS);
    CHECK(!net_tls_handshake_done(t));
    CHECK(strstr(net_tls_last_error(t), "peer did not return a certificate") != NULL);
    /* The alert reached the client: its next read fails because of it. */
    struct roost_buf got;
    roost_buf_init(&got, 0);
    CHECK_EQ(client_read_all(&c, &got), SSL_ERROR_SSL);
    unsigned long e = ERR_peek_error();
    const char *reason = ERR_reason_error_string(e);
    CHECK(reason && strstr(reason, "alert") != NULL);
    ERR_clear_error();
    /* The connection stays failed. */
    CHECK_EQ(net_tls_read(t, &plain), ROOST_ETLS);
    CHECK_EQ(net_tls_feed(t, (const uint8_t *)"x", 1), ROOST_ETLS);
    roost_buf_cleanup(&got);
    roost_buf_cleanup(&plain);
    client_cleanup(&c);
    net_tls_destroy(t);
    net_tls_ctx_destroy(ctx);
    pki_cleanup(&p);
}

ROOST_TEST(optional_cert_missing_is_fine)
{
    struct pki p;
    pki_setup(&p);
    struct net_tls_ctx *ctx = server_ctx(&p, true, false);
    struct net_tls *t = NULL;
    REQUIRE_OK(net_tls_create(ctx, &t));
    struct client c;
    client_init(&c, &p, NULL, NULL, 0, NULL, 0);
    struct roost_buf plain;
    roost_buf_init(&plain, 0);
    CHECK_OK(exchange(&c, t, &plain, NULL));
    CHECK(net_tls_handshake_done(t));
    char id[65];
    CHECK_EQ(net_tls_peer_cert_id(t, id), ROOST_ENOTFOUND);
    char subject[64];
    CHECK_EQ(net_tls_peer_subject(t, subject, sizeof(subject)), ROOST_ENOTFOUND);
    roost_buf_cleanup(&plain);
    client_cleanup(&c);
    net_tls_destroy(t);
    net_tls_ctx_destroy(ctx);
    pki_cleanup(&p);
}

ROOST_TEST(cert_from_other_ca_fails_with_verify_text)
{
    struct pki p;
    pki_setup(&p);
    X509 *other_ca, *cert;
    EVP_PKEY *other_key, *key;
    make_cert(NULL, NULL, "Other CA", &other_ca, &other_key);
    make_cert(other_ca, other_key, "intruder", &cert, &key);
    struct net_tls_ctx *ctx = server_ctx(&p, true, true);
    struct net_tls *t = NULL;
    REQUIRE_OK(net_tls_create(ctx, &t));
    struct client c;
    client_init(&c, &p, cert, key, 0, NULL, 0);
    struct roost_buf plain;
    roost_buf_init(&plain, 0);
    CHECK_EQ(exchange(&c, t, &plain, NULL), ROOST_ETLS);
    CHECK(!net_tls_handshake_done(t));
    const char *why = net_tls_last_error(t);
    CHECK(strstr(why, "certificate verify failed") != NULL);
    CHECK(strstr(why, "unable to get local issuer certificate") != NULL);
    char id[65];
    CHECK_EQ(net_tls_peer_cert_id(t, id), ROOST_ENOTFOUND);
    struct roost_buf got;
    roost_buf_init(&got, 0);
    CHECK_EQ(client_read_all(&c, &got), SSL_ERROR_SSL);
    const char *reason = ERR_reason_error_string(ERR_peek_error());
    CHECK(reason && strstr(reason, "unknown ca") != NULL);
    ERR_clear_error();
    roost_buf_cleanup(&got);
    roost_buf_cleanup(&plain);
    client_cleanup(&c);
    net_tls_destroy(t);
    net_tls_ctx_destroy(ctx);
    X509_free(cert);
    X509_free(other_ca);
    EVP_PKEY_free(key);
    EVP_PKEY_free(other_key);
    pki_cleanup(&p);
}

ROOST_TEST(tls12_client_with_cert_and_alpn)
{
    struct pki p;
    pki_setup(&p);
    X509 *cert;
    EVP_PKEY *key;
    make_cert(p.root, p.root_pkey, "old-device", &cert, &key);
    struct net_tls_ctx *ctx = server_ctx(&p, true, true);
    struct net_tls *t = NULL;
    REQUIRE_OK(net_tls_create(ctx, &t));
    struct client c;
    static const char offer[] = "\x0ex-amzn-mqtt-ca";
    client_init(&c, &p, cert, key, TLS1_2_VERSION, offer, sizeof(offer) - 1);
    struct roost_buf plain;
    roost_buf_init(&plain, 0);
    CHECK_OK(exchange(&c, t, &plain, NULL));
    REQUIRE(net_tls_handshake_done(t));
    CHECK_EQ(SSL_version(c.ssl), TLS1_2_VERSION);
    CHECK_STR(net_tls_alpn(t), "x-amzn-mqtt-ca");
    char id[65], want[65];
    sha256_hex_of_cert(cert, want);
    REQUIRE_OK(net_tls_peer_cert_id(t, id));
    CHECK_STR(id, want);
    REQUIRE_EQ(SSL_write(c.ssl, "ping", 4), 4);
    CHECK_OK(exchange(&c, t, &plain, NULL));
    CHECK_EQ(roost_buf_size(&plain), 4);
    roost_buf_cleanup(&plain);
    client_cleanup(&c);
    net_tls_destroy(t);
    net_tls_ctx_destroy(ctx);
    X509_free(cert);
    EVP_PKEY_free(key);
    pki_cleanup(&p);
}

ROOST_TEST(tls11_client_is_refused)
{
    struct pki p;
    pki_setup(&p);
    struct net_tls_ctx *ctx = server_ctx(&p, false, false);
    struct net_tls *t = NULL;
    REQUIRE_OK(net_tls_create(ctx, &t));
    struct client c;
    client_init(&c, &p, NULL, NULL, TLS1_1_VERSION, NULL, 0);
    SSL_set_security_level(c.ssl, 0);
    struct roost_buf plain;
    roost_buf_init(&plain, 0);
    int crc = 0;
    int rc = exchange(&c, t, &plain, &crc);
    CHECK(rc == ROOST_ETLS || crc != 1);
    CHECK(!net_tls_handshake_done(t));
    ERR_clear_error();
    roost_buf_cleanup(&plain);
    client_cleanup(&c);
    net_tls_destroy(t);
    net_tls_ctx_destroy(ctx);
    pki_cleanup(&p);
}

/* Resumption with a verified client: the ticket carries the certificate,
 * so the peer id is known without a new certificate exchange. */
static void resumption_case(int max_version)
{
    struct pki p;
    pki_setup(&p);
    X509 *cert;
    EVP_PKEY *key;
    make_cert(p.root, p.root_pkey, "device-r", &cert, &key);
    struct net_tls_ctx *ctx = server_ctx(&p, true, true);
    char want[65];
    sha256_hex_of_cert(cert, want);
    SSL_SESSION *sess = NULL;
    for (int i = 0; i < 2; i++) {
        struct net_tls *t = NULL;
        REQUIRE_OK(net_tls_create(ctx, &t));
        struct client c;
        client_init(&c, &p, cert, key, max_version, NULL, 0);
        if (sess)
            REQUIRE(SSL_set_session(c.ssl, sess) == 1);
        struct roost_buf plain, got;
        roost_buf_init(&plain, 0);
        roost_buf_init(&got, 0);
        CHECK_OK(exchange(&c, t, &plain, NULL));
        REQUIRE(net_tls_handshake_done(t));
        CHECK_EQ(client_read_all(&c, &got), SSL_ERROR_WANT_READ); /* takes the ticket */
        CHECK_EQ(SSL_session_reused(c.ssl), i == 1);
        char id[65];
        REQUIRE_OK(net_tls_peer_cert_id(t, id));
        CHECK_STR(id, want);
        if (!sess)
            sess = SSL_get1_session(c.ssl);
        REQUIRE(sess);
        /* OpenSSL makes the sessions of connections freed without a
         * shutdown unresumable: close cleanly, as a device would. */
        SSL_shutdown(c.ssl);
        roost_buf_cleanup(&plain);
        roost_buf_cleanup(&got);
        client_cleanup(&c);
        net_tls_destroy(t);
    }
    SSL_SESSION_free(sess);
    net_tls_ctx_destroy(ctx);
    X509_free(cert);
    EVP_PKEY_free(key);
    pki_cleanup(&p);
}

ROOST_TEST(session_resumption_tls13)
{
    resumption_case(0);
}

ROOST_TEST(session_resumption_tls12)
{
    resumption_case(TLS1_2_VERSION);
}

ROOST_TEST(close_notify_both_directions)
{
    struct pki p;
    pki_setup(&p);
    struct net_tls_ctx *ctx = server_ctx(&p, false, false);
    struct roost_buf plain;
    roost_buf_init(&plain, 0);

    /* Client closes: the server reads ROOST_ECLOSED after the data. */
    struct net_tls *t = NULL;
    REQUIRE_OK(net_tls_create(ctx, &t));
    struct client c;
    client_init(&c, &p, NULL, NULL, 0, NULL, 0);
    CHECK_OK(exchange(&c, t, &plain, NULL));
    REQUIRE_EQ(SSL_write(c.ssl, "bye", 3), 3);
    SSL_shutdown(c.ssl);
    CHECK_EQ(exchange(&c, t, &plain, NULL), ROOST_ECLOSED);
    CHECK_EQ(roost_buf_size(&plain), 3);
    client_cleanup(&c);
    net_tls_destroy(t);

    /* Server closes: the client sees a clean close_notify. */
    roost_buf_clear(&plain);
    REQUIRE_OK(net_tls_create(ctx, &t));
    client_init(&c, &p, NULL, NULL, 0, NULL, 0);
    CHECK_OK(exchange(&c, t, &plain, NULL));
    REQUIRE_OK(net_tls_write(t, (const uint8_t *)"last", 4));
    net_tls_shutdown(t);
    CHECK_EQ(net_tls_write(t, (const uint8_t *)"x", 1), ROOST_ECLOSED);
    CHECK_OK(exchange(&c, t, &plain, NULL));
    struct roost_buf got;
    roost_buf_init(&got, 0);
    CHECK_EQ(client_read_all(&c, &got), SSL_ERROR_ZERO_RETURN);
    CHECK_EQ(roost_buf_size(&got), 4);
    roost_buf_cleanup(&got);
    client_cleanup(&c);
    net_tls_destroy(t);

    roost_buf_cleanup(&plain);
    net_tls_ctx_destroy(ctx);
    pki_cleanup(&p);
}

ROOST_TEST(plain_http_and_garbage_fail)
{
    struct pki p;
    pki_setup(&p);
    struct net_tls_ctx *ctx = server_ctx(&p, false, false);
    struct roost_buf plain, out;
    roost_buf_init(&plain, 0);
    roost_buf_init(&out, 0);
    struct net_tls *t = NULL;
    REQUIRE_OK(net_tls_create(ctx, &t));
    const char *req = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    REQUIRE_OK(net_tls_feed(t, (const uint8_t *)req, strlen(req)));
    CHECK_EQ(net_tls_read(t, &plain), ROOST_ETLS);
    CHECK(strstr(net_tls_last_error(t), "http") != NULL);
    CHECK_EQ(ERR_peek_error(), 0); /* nothing left behind for the next connection */
    net_tls_destroy(t);

    /* Partial records are "need more", then garbage is fatal. */
    REQUIRE_OK(net_tls_create(ctx, &t));
    const uint8_t hdr[] = {0x16, 0x03, 0x01};
    REQUIRE_OK(net_tls_feed(t, hdr, sizeof(hdr)));
    CHECK_OK(net_tls_read(t, &plain));
    const uint8_t rest[] = {0x00, 0x04, 0xff, 0xff, 0xff, 0xff};
    REQUIRE_OK(net_tls_feed(t, rest, sizeof(rest)));
    CHECK_EQ(net_tls_read(t, &plain), ROOST_ETLS);
    CHECK_OK(net_tls_take_output(t, &out));
    CHECK(roost_buf_size(&out) > 0); /* an alert for the peer */
    net_tls_destroy(t);

    roost_buf_cleanup(&out);
    roost_buf_cleanup(&plain);
    net_tls_ctx_destroy(ctx);
    pki_cleanup(&p);
}

ROOST_TEST(bad_config_is_econfig)
{
    struct pki p;
    pki_setup(&p);
    struct net_tls_config cfg = {.cert_file = p.server_cert, .key_file = p.root_key};
    struct net_tls_ctx *ctx = NULL;
    CHECK_EQ(net_tls_ctx_create(&cfg, &ctx), ROOST_ECONFIG); /* key mismatch */
    cfg.key_file = p.server_key;
    cfg.cert_file = "/nonexistent/cert.pem";
    CHECK_EQ(net_tls_ctx_create(&cfg, &ctx), ROOST_ECONFIG);
    cfg.cert_file = p.server_cert;
    cfg.client_ca_file = "/nonexistent/ca.pem";
    CHECK_EQ(net_tls_ctx_create(&cfg, &ctx), ROOST_ECONFIG);
    CHECK(ctx == NULL);
    CHECK_EQ(ERR_peek_error(), 0);
    pki_cleanup(&p);
}

struct thread_arg {
    const struct pki *p;
    struct net_tls_ctx *ctx;
    X509 *cert;
    EVP_PKEY *key;
    int ok;
};

static void *handshake_thread(void *arg)
{
    struct thread_arg *a = arg;
    for (int i = 0; i < 8; i++) {
        struct net_tls *t = NULL;
        if (net_tls_create(a->ctx, &t) != 0)
            break;
        struct client c;
        client_init(&c, a->p, a->cert, a->key, 0, NULL, 0);
        struct roost_buf plain;
        roost_buf_init(&plain, 0);
        char id[65];
        if (exchange(&c, t, &plain, NULL) == 0 && net_tls_peer_cert_id(t, id) == 0)
            a->ok++;
        roost_buf_cleanup(&plain);
        client_cleanup(&c);
        net_tls_destroy(t);
    }
    return NULL;
}

ROOST_TEST(ctx_shared_by_two_threads)
{
    struct pki p;
    pki_setup(&p);
    X509 *cert;
    EVP_PKEY *key;
    make_cert(p.root, p.root_pkey, "device-t", &cert, &key);
    struct net_tls_ctx *ctx = server_ctx(&p, true, true);
    struct thread_arg args[2] = {{&p, ctx, cert, key, 0}, {&p, ctx, cert, key, 0}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        REQUIRE_OK(pthread_create(&th[i], NULL, handshake_thread, &args[i]));
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    CHECK_EQ(args[0].ok, 8);
    CHECK_EQ(args[1].ok, 8);
    net_tls_ctx_destroy(ctx);
    X509_free(cert);
    EVP_PKEY_free(key);
    pki_cleanup(&p);
}
