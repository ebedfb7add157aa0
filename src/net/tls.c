/*
 * tls.c - the server side of TLS as a sans-I/O adapter over OpenSSL: the
 * connection code feeds it ciphertext from the socket, reads plaintext out,
 * hands it plaintext to encrypt and takes the ciphertext to send. Nothing
 * here touches a socket or a loop.
 *
 * OpenSSL talks to a small custom BIO whose two sides are roost_bufs owned
 * by the connection: `in` (ciphertext fed, not yet consumed by OpenSSL) and
 * `out` (ciphertext OpenSSL produced, not yet taken). Unlike BIO_s_mem or a
 * BIO pair, these buffers are freed as soon as they are empty, so with
 * SSL_MODE_RELEASE_BUFFERS an idle connection holds no I/O buffers at all,
 * only the SSL object and its session. Writes to the BIO never block, so
 * OpenSSL never asks to retry a write.
 *
 * One net_tls_ctx (an SSL_CTX plus the ALPN list) is
 * shared read-only by every loop thread; OpenSSL makes SSL_new on a shared
 * SSL_CTX thread-safe. Session resumption uses stateless tickets (one per
 * TLS 1.3 handshake) and no server-side session cache, so resumption costs
 * no memory and needs no lock.
 */
#include "net/net_int.h"

#include <limits.h>
#include <pthread.h>
#include <stdio.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#define TLS_READ_CHUNK 16384 /* one maximal TLS record of plaintext */

struct net_tls_ctx {
    SSL_CTX *ssl_ctx;
    char **alpn;              /* server preference order, NULL-terminated copy */
    size_t n_alpn;
    roost_net_verify_fn verify; /* optional registry check, see net_int.h */
    void *verify_ud;
};

struct net_tls {
    SSL *ssl;
    struct net_tls_ctx *ctx;  /* borrowed; outlives the connection */
    struct roost_buf in;      /* ciphertext fed and not yet read by OpenSSL */
    struct roost_buf out;     /* ciphertext written by OpenSSL, not yet taken */
    const char *alpn;         /* negotiated: one of ctx->alpn, or "" */
    bool handshake_done;
    bool failed;              /* a fatal error happened; only output remains */
    bool shutdown_sent;
    bool has_peer;            /* a verified client certificate was presented */
    char peer_id[65];         /* its SHA-256, computed once (by the verifier, or at
                                 handshake end without one) */
    char verify_why[160];     /* the verifier's reason for a refusal, for the log */
    char err[160];            /* net_tls_last_error() */
};

/* ==== The roost_buf BIO ================================================== */

static int bio_read_ex(BIO *b, char *buf, size_t n, size_t *out_read)
{
    struct net_tls *t = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    size_t avail = roost_buf_size(&t->in);
    if (avail == 0) {
        BIO_set_retry_read(b); /* "need more", never EOF: the caller decides */
        *out_read = 0;
        return 0;
    }
    size_t k = ROOST_MIN(avail, n);
    memcpy(buf, roost_buf_head(&t->in), k);
    roost_buf_consume(&t->in, k);
    *out_read = k;
    return 1;
}

static int bio_write_ex(BIO *b, const char *buf, size_t n, size_t *out_written)
{
    struct net_tls *t = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    /* `out` has no limit: it holds what this side chose to send. */
    if (roost_buf_append(&t->out, buf, n) != 0) {
        *out_written = 0;
        return 0;
    }
    *out_written = n;
    return 1;
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    struct net_tls *t = BIO_get_data(b);
    switch (cmd) {
    case BIO_CTRL_FLUSH:
        return 1;
    case BIO_CTRL_PENDING:
        return t ? (long)ROOST_MIN(roost_buf_size(&t->in), (size_t)LONG_MAX) : 0;
    case BIO_CTRL_WPENDING:
        return t ? (long)ROOST_MIN(roost_buf_size(&t->out), (size_t)LONG_MAX) : 0;
    default:
        return 0;
    }
}

static int bio_create(BIO *b)
{
    BIO_set_init(b, 1);
    return 1;
}

/* One method for the process: BIO type indexes are a small finite pool, so
 * contexts (re-created on certificate reload) must not take one each. It
 * is never freed; it is immutable once built. */
static BIO_METHOD *bio_method;
static pthread_once_t bio_method_once = PTHREAD_ONCE_INIT;

static void bio_method_init(void)
{
    BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "roost_buf");
    if (!m)
        return;
    if (!BIO_meth_set_read_ex(m, bio_read_ex) || !BIO_meth_set_write_ex(m, bio_write_ex) ||
        !BIO_meth_set_ctrl(m, bio_ctrl) || !BIO_meth_set_create(m, bio_create)) {
        BIO_meth_free(m);
        return;
    }
    bio_method = m;
}

/* ==== Errors ============================================================= */

/* Records a short reason for the first queued OpenSSL error (or `fallback`)
 * and empties the thread's queue, so it cannot leak into another
 * connection's error handling on the same loop. */
static void record_error(char *dst, size_t cap, const char *fallback)
{
    unsigned long e = ERR_peek_error();
    const char *reason = e ? ERR_reason_error_string(e) : NULL;
    if (reason) {
        snprintf(dst, cap, "%s", reason);
    } else if (e) {
        ERR_error_string_n(e, dst, cap);
    } else {
        snprintf(dst, cap, "%s", fallback);
    }
    ERR_clear_error();
}

static void tls_fail(struct net_tls *t, int ssl_err)
{
    long vr = SSL_get_verify_result(t->ssl);
    if (vr != X509_V_OK) {
        snprintf(t->err, sizeof(t->err), "certificate verify failed: %.130s",
                 t->verify_why[0] ? t->verify_why : X509_verify_cert_error_string(vr));
        ERR_clear_error();
    } else if (ssl_err == SSL_ERROR_SYSCALL) {
        record_error(t->err, sizeof(t->err), "unexpected end of TLS stream");
    } else {
        record_error(t->err, sizeof(t->err), "TLS error");
    }
    t->failed = true;
}

/* ==== Context ============================================================ */

/* ALPN: the first of our protocols, in our order, that the client offered.
 * No overlap is not fatal: the handshake goes on without ALPN, and the
 * connection code decides by port what the client speaks. */
static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *out_len,
                       const unsigned char *in, unsigned in_len, void *arg)
{
    const struct net_tls_ctx *ctx = arg;
    for (size_t i = 0; i < ctx->n_alpn; i++) {
        size_t want = strlen(ctx->alpn[i]);
        for (unsigned off = 0; off < in_len;) {
            unsigned n = in[off];
            if (n == 0 || off + 1 + n > in_len)
                break; /* malformed list: stop looking at it */
            if (n == want && memcmp(in + off + 1, ctx->alpn[i], n) == 0) {
                *out = (const unsigned char *)ctx->alpn[i];
                *out_len = (unsigned char)n;
                return SSL_TLSEXT_ERR_OK;
            }
            off += 1 + n;
        }
    }
    return SSL_TLSEXT_ERR_NOACK;
}

static enum roost_net_chain chain_kind(int x509_err)
{
    switch (x509_err) {
    case X509_V_OK:
        return ROOST_NET_CHAIN_OK;
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
        return ROOST_NET_CHAIN_UNKNOWN_ISSUER;
    case X509_V_ERR_CERT_HAS_EXPIRED:
    case X509_V_ERR_CERT_NOT_YET_VALID:
        return ROOST_NET_CHAIN_EXPIRED;
    default:
        return ROOST_NET_CHAIN_BAD;
    }
}

static bool sha256_hex_of(X509 *x, char out[65], uint8_t **out_der, int *out_len)
{
    uint8_t *der = NULL;
    uint8_t md[32];
    unsigned md_len = 0;
    int der_len = i2d_X509(x, &der);
    bool ok = der_len > 0 && EVP_Digest(der, (size_t)der_len, md, &md_len, EVP_sha256(), NULL);
    if (ok)
        roost_hex_encode(md, sizeof(md), out);
    if (out_der && ok) {
        *out_der = der;
        *out_len = der_len;
    } else {
        OPENSSL_free(der);
    }
    return ok;
}

/* OpenSSL's chain check first, then the verifier's word on the leaf (is it
 * registered, active, from an active CA). The X509 error set here picks the
 * alert the client sees. */
static int verify_client_chain(X509_STORE_CTX *xctx, void *arg)
{
    struct net_tls_ctx *ctx = arg;
    int ok = X509_verify_cert(xctx);
    int err = X509_STORE_CTX_get_error(xctx);
    if (!ctx->verify)
        return ok;
    struct roost_net_client_cert cc = {.chain = ok == 1 ? ROOST_NET_CHAIN_OK : chain_kind(err)};
    X509 *leaf = X509_STORE_CTX_get0_cert(xctx);
    uint8_t *der = NULL;
    int der_len = 0;
    if (!leaf || !sha256_hex_of(leaf, cc.id, &der, &der_len)) {
        X509_STORE_CTX_set_error(xctx, X509_V_ERR_CERT_REJECTED);
        return 0;
    }
    cc.leaf_der = der;
    cc.leaf_der_len = (size_t)der_len;
    cc.chain_error = ok == 1 ? "" : X509_verify_cert_error_string(err);
    if (ok == 1) {
        STACK_OF(X509) *chain = X509_STORE_CTX_get0_chain(xctx);
        int n = chain ? sk_X509_num(chain) : 0;
        if (n > 1)
            sha256_hex_of(sk_X509_value(chain, n - 1), cc.issuer_id, NULL, NULL);
    }
    char why[160] = "";
    enum roost_net_verdict v = ctx->verify(ctx->verify_ud, &cc, why, sizeof(why));
    OPENSSL_free(der);
    ERR_clear_error();
    /* Keep what was learned on the connection: the id (so the handshake end
     * need not hash the certificate again) or why it was refused. */
    SSL *ssl = X509_STORE_CTX_get_ex_data(xctx, SSL_get_ex_data_X509_STORE_CTX_idx());
    struct net_tls *t = ssl ? SSL_get_app_data(ssl) : NULL;
    if (t && v == ROOST_NET_ACCEPT) {
        memcpy(t->peer_id, cc.id, sizeof(t->peer_id));
        t->has_peer = true;
    } else if (t) {
        snprintf(t->verify_why, sizeof(t->verify_why), "%s", why[0] ? why : "refused");
    }
    switch (v) {
    case ROOST_NET_ACCEPT:
        X509_STORE_CTX_set_error(xctx, X509_V_OK);
        return 1;
    case ROOST_NET_REJECT_UNKNOWN_CA:
        X509_STORE_CTX_set_error(xctx, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
        return 0;
    case ROOST_NET_REJECT_REVOKED:
        X509_STORE_CTX_set_error(xctx, X509_V_ERR_CERT_REVOKED);
        return 0;
    case ROOST_NET_REJECT_EXPIRED:
        X509_STORE_CTX_set_error(xctx, X509_V_ERR_CERT_HAS_EXPIRED);
        return 0;
    default:
        X509_STORE_CTX_set_error(xctx, X509_V_ERR_CERT_REJECTED);
        return 0;
    }
}

int net_tls_ctx_add_trusted(struct net_tls_ctx *ctx, const char *pem, size_t len)
{
    int rc = 0;
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    X509_STORE *store = SSL_CTX_get_cert_store(ctx->ssl_ctx);
    X509 *x;
    size_t added = 0;
    if (!bio)
        return ROOST_ENOMEM;
    while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL))) {
        /* A duplicate is not an error: the store already trusts it. */
        X509_STORE_add_cert(store, x);
        X509_free(x);
        added++;
    }
    ERR_clear_error();
    if (!added)
        rc = ROOST_EINVAL;
    BIO_free(bio);
    return rc;
}

/*
 * Builds the shared context (see net_int.h). ROOST_ECONFIG when a file
 * cannot be loaded or the key does not match the certificate; the OpenSSL
 * reason is logged here, the one place that knows it.
 */
int net_tls_ctx_create(const struct net_tls_config *cfg, struct net_tls_ctx **out_ctx)
{
    int rc = 0;
    char why[160];
    struct net_tls_ctx *ctx = roost_xcalloc(1, sizeof(*ctx));
    static const unsigned char sid_ctx[] = "roost";

    ERR_clear_error();
    for (size_t i = 0; cfg->alpn && cfg->alpn[i]; i++) {
        size_t n = strlen(cfg->alpn[i]);
        if (n == 0 || n > 255) {
            rc = ROOST_ECONFIG;
            goto out;
        }
        ctx->n_alpn++;
    }
    ctx->alpn = roost_xcalloc(ctx->n_alpn + 1, sizeof(char *));
    for (size_t i = 0; i < ctx->n_alpn; i++)
        ctx->alpn[i] = roost_xstrdup(cfg->alpn[i]);

    pthread_once(&bio_method_once, bio_method_init);
    ctx->ssl_ctx = SSL_CTX_new(TLS_server_method());
    if (!bio_method || !ctx->ssl_ctx) {
        record_error(why, sizeof(why), "out of memory");
        roost_log_error("tls", "creating the TLS context: %s", why);
        rc = ROOST_ETLS;
        goto out;
    }
    SSL_CTX *s = ctx->ssl_ctx;
    SSL_CTX_set_min_proto_version(s, TLS1_2_VERSION);
    SSL_CTX_set_options(s, SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_RENEGOTIATION |
                               SSL_OP_NO_COMPRESSION);
    SSL_CTX_set_mode(s, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                            SSL_MODE_ENABLE_PARTIAL_WRITE);
    /* Stateless tickets for 1.2 and 1.3; no cache holding sessions (and
     * their peer certificates) in memory. One ticket per 1.3 handshake: a
     * device keeps one connection, and every ticket costs a signature-free
     * but not free encryption plus bytes ahead of the CONNACK. */
    SSL_CTX_set_session_cache_mode(s, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_num_tickets(s, 1);
    /* Without a session id context, OpenSSL refuses to resume sessions of
     * verified clients. */
    SSL_CTX_set_session_id_context(s, sid_ctx, sizeof(sid_ctx) - 1);

    if (SSL_CTX_use_certificate_chain_file(s, cfg->cert_file) != 1) {
        record_error(why, sizeof(why), "unreadable");
        roost_log_error("tls", "server certificate %s: %s", cfg->cert_file, why);
        rc = ROOST_ECONFIG;
        goto out;
    }
    if (SSL_CTX_use_PrivateKey_file(s, cfg->key_file, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(s) != 1) {
        record_error(why, sizeof(why), "unreadable");
        roost_log_error("tls", "server key %s: %s", cfg->key_file, why);
        rc = ROOST_ECONFIG;
        goto out;
    }
    if (cfg->client_ca_file) {
        if (SSL_CTX_load_verify_locations(s, cfg->client_ca_file, NULL) != 1) {
            record_error(why, sizeof(why), "unreadable");
            roost_log_error("tls", "client CA file %s: %s", cfg->client_ca_file, why);
            rc = ROOST_ECONFIG;
            goto out;
        }
        /* No CA name list in the CertificateRequest: devices send their one
         * certificate anyway, and the list would grow with every CA that is
         * registered later. */
        int mode = SSL_VERIFY_PEER;
        if (cfg->require_client_cert)
            mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
        SSL_CTX_set_verify(s, mode, NULL);
        SSL_CTX_set_verify_depth(s, 8);
        ctx->verify = cfg->verify;
        ctx->verify_ud = cfg->verify_ud;
        SSL_CTX_set_cert_verify_callback(s, verify_client_chain, ctx);
    }
    if (ctx->n_alpn)
        SSL_CTX_set_alpn_select_cb(s, alpn_select, ctx);
    *out_ctx = ctx;
    ctx = NULL;
out:
    net_tls_ctx_destroy(ctx);
    return rc;
}

void net_tls_ctx_destroy(struct net_tls_ctx *ctx)
{
    if (!ctx)
        return;
    SSL_CTX_free(ctx->ssl_ctx);
    for (size_t i = 0; ctx->alpn && ctx->alpn[i]; i++)
        roost_free(ctx->alpn[i]);
    roost_free(ctx->alpn);
    roost_free(ctx);
}

/* ==== Connection ========================================================= */

int net_tls_create(struct net_tls_ctx *ctx, struct net_tls **out_tls)
{
    int rc = 0;
    struct net_tls *t = roost_xcalloc(1, sizeof(*t));
    BIO *bio = NULL;
    t->ctx = ctx;
    t->alpn = "";
    roost_buf_init(&t->in, 0);
    roost_buf_init(&t->out, 0);
    t->ssl = SSL_new(ctx->ssl_ctx);
    if (t->ssl)
        SSL_set_app_data(t->ssl, t); /* for the verify callback */
    bio = t->ssl ? BIO_new(bio_method) : NULL;
    if (!bio) {
        record_error(t->err, sizeof(t->err), "out of memory");
        rc = ROOST_ENOMEM;
        goto out;
    }
    BIO_set_data(bio, t);
    SSL_set_bio(t->ssl, bio, bio); /* one reference, owned by the SSL */
    SSL_set_accept_state(t->ssl);
    *out_tls = t;
    t = NULL;
out:
    net_tls_destroy(t);
    return rc;
}

void net_tls_destroy(struct net_tls *t)
{
    if (!t)
        return;
    SSL_free(t->ssl);
    roost_buf_cleanup(&t->in);
    roost_buf_cleanup(&t->out);
    roost_free(t);
}

int net_tls_feed(struct net_tls *t, const uint8_t *p, size_t n)
{
    if (t->failed)
        return ROOST_ETLS;
    return roost_buf_append(&t->in, p, n);
}

static void on_handshake_done(struct net_tls *t)
{
    t->handshake_done = true;
    const unsigned char *proto = NULL;
    unsigned proto_len = 0;
    SSL_get0_alpn_selected(t->ssl, &proto, &proto_len);
    /* The selected protocol is always one of ours: return our own
     * NUL-terminated copy, valid as long as the ctx. */
    for (size_t i = 0; proto_len && i < t->ctx->n_alpn; i++) {
        if (strlen(t->ctx->alpn[i]) == proto_len && memcmp(t->ctx->alpn[i], proto, proto_len) == 0)
            t->alpn = t->ctx->alpn[i];
    }
    X509 *peer = SSL_get0_peer_certificate(t->ssl);
    if (peer && SSL_get_verify_result(t->ssl) == X509_V_OK) {
        /* Resumed sessions and contexts without a verifier have no id yet. */
        if (!t->has_peer)
            t->has_peer = sha256_hex_of(peer, t->peer_id, NULL, NULL);
        ERR_clear_error();
    } else {
        t->has_peer = false;
    }
}

/*
 * See net_int.h. Plaintext goes straight from OpenSSL into `plain`'s spare
 * capacity. ROOST_ETOOBIG means `plain` is at its limit while more plaintext
 * is waiting; nothing is lost: drain `plain` and call again (or treat it as
 * fatal). Idle buffers are released before returning.
 */
int net_tls_read(struct net_tls *t, struct roost_buf *plain)
{
    int rc = 0;
    if (t->failed)
        return ROOST_ETLS;
    ERR_clear_error();
    if (!t->handshake_done) {
        int r = SSL_do_handshake(t->ssl);
        if (r != 1) {
            int e = SSL_get_error(t->ssl, r);
            if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
                goto out; /* need the peer's next flight */
            tls_fail(t, e);
            rc = ROOST_ETLS;
            goto out;
        }
        on_handshake_done(t);
    }
    for (;;) {
        size_t fed = roost_buf_size(&t->in);
        if (fed == 0 && !SSL_has_pending(t->ssl))
            break;
        /* Ciphertext is never shorter than its plaintext, so sizing the
         * read by what is buffered avoids growing `plain` needlessly. */
        size_t want = ROOST_MAX((size_t)SSL_pending(t->ssl), fed);
        want = ROOST_MAX(want, 256);
        want = ROOST_MIN(want, TLS_READ_CHUNK);
        if (plain->limit) {
            size_t room = plain->limit - roost_buf_size(plain);
            if (room == 0) {
                rc = ROOST_ETOOBIG;
                goto out;
            }
            want = ROOST_MIN(want, room);
        }
        rc = roost_buf_reserve(plain, want);
        if (rc)
            goto out;
        size_t got = 0;
        int r = SSL_read_ex(t->ssl, plain->data + plain->len, want, &got);
        if (r == 1) {
            plain->len += got;
            continue;
        }
        int e = SSL_get_error(t->ssl, r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
            break;
        if (e == SSL_ERROR_ZERO_RETURN) {
            snprintf(t->err, sizeof(t->err), "peer closed the TLS session");
            rc = ROOST_ECLOSED;
            goto out;
        }
        tls_fail(t, e);
        rc = ROOST_ETLS;
        goto out;
    }
out:
    ERR_clear_error();
    if (roost_buf_size(&t->in) == 0)
        roost_buf_trim(&t->in, 0);
    return rc;
}

/* See net_int.h. ROOST_EINVAL before the handshake is complete,
 * ROOST_ECLOSED after net_tls_shutdown, ROOST_ETLS after a failure. */
int net_tls_write(struct net_tls *t, const uint8_t *p, size_t n)
{
    int rc = 0;
    if (t->failed)
        return ROOST_ETLS;
    if (t->shutdown_sent)
        return ROOST_ECLOSED;
    if (!t->handshake_done)
        return ROOST_EINVAL;
    ERR_clear_error();
    while (n) {
        size_t done = 0;
        int r = SSL_write_ex(t->ssl, p, n, &done);
        if (r != 1) {
            tls_fail(t, SSL_get_error(t->ssl, r));
            rc = ROOST_ETLS;
            goto out;
        }
        p += done;
        n -= done;
    }
out:
    ERR_clear_error();
    return rc;
}

/* See net_int.h. When `out` is empty the buffers are swapped rather than
 * copied (large writes); either way this side's buffer is freed after. */
int net_tls_take_output(struct net_tls *t, struct roost_buf *out)
{
    size_t n = roost_buf_size(&t->out);
    if (n == 0)
        return 0;
    if (roost_buf_size(out) == 0 && (out->limit == 0 || t->out.cap <= out->limit)) {
        struct roost_buf mine = t->out;
        t->out.data = out->data;
        t->out.cap = out->cap;
        out->data = mine.data;
        out->cap = mine.cap;
        out->off = mine.off;
        out->len = mine.len;
    } else {
        int rc = roost_buf_append(out, roost_buf_head(&t->out), n);
        if (rc)
            return rc;
    }
    roost_buf_clear(&t->out);
    roost_buf_trim(&t->out, 0);
    return 0;
}

void net_tls_shutdown(struct net_tls *t)
{
    if (t->shutdown_sent || t->failed || !t->handshake_done)
        return;
    t->shutdown_sent = true;
    ERR_clear_error();
    (void)SSL_shutdown(t->ssl); /* queues close_notify; we never wait for theirs */
    ERR_clear_error();
}

bool net_tls_handshake_done(const struct net_tls *t)
{
    return t->handshake_done;
}

const char *net_tls_alpn(const struct net_tls *t)
{
    return t->alpn;
}

const char *net_tls_sni(const struct net_tls *t)
{
    return SSL_get_servername(t->ssl, TLSEXT_NAMETYPE_host_name);
}

const char *net_tls_last_error(const struct net_tls *t)
{
    return t->err[0] ? t->err : "no error";
}

int net_tls_peer_cert_id(const struct net_tls *t, char out_id[65])
{
    if (!t->has_peer)
        return ROOST_ENOTFOUND;
    memcpy(out_id, t->peer_id, sizeof(t->peer_id));
    return 0;
}

/* The subject in RFC 2253 form, truncated to `cap` (always terminated).
 * Not cached: it is asked for once per connection, for logs and policy
 * variables. */
int net_tls_peer_subject(const struct net_tls *t, char *out, size_t cap)
{
    int rc = 0;
    if (!t->has_peer)
        return ROOST_ENOTFOUND;
    if (cap == 0)
        return ROOST_EINVAL;
    X509 *peer = SSL_get0_peer_certificate(t->ssl);
    BIO *bio = BIO_new(BIO_s_mem());
    if (!peer || !bio) {
        rc = ROOST_ENOMEM;
        goto out;
    }
    if (X509_NAME_print_ex(bio, X509_get_subject_name(peer), 0, XN_FLAG_RFC2253) < 0) {
        rc = ROOST_ETLS;
        goto out;
    }
    char *data = NULL;
    long len = BIO_get_mem_data(bio, &data);
    size_t k = ROOST_MIN((size_t)(len > 0 ? len : 0), cap - 1);
    memcpy(out, data, k);
    out[k] = '\0';
out:
    BIO_free(bio);
    ERR_clear_error();
    return rc;
}
