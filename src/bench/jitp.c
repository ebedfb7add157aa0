/*
 * jitp.c - roost-bench's just-in-time provisioning storm (`jitp`): --connections
 * devices the server has never seen, each with its own EC P-256 certificate
 * signed by a CA registered for JITP (--ca-cert, --ca-key), connect at once
 * (at most --concurrency in setup) over mutual TLS, sending their chain
 * (device certificate, then the CA's). AWS's way refuses a device's first
 * handshake while the server provisions it; the device retries with a short
 * doubling backoff until it gets CONNACK 0, then disconnects. A server that
 * accepts the first connection (roostd's jitp_first_connect = accept) simply
 * needs one attempt per device.
 *
 * The certificates are made in memory before the clock starts, so the run
 * measures the server: provisioned devices per second (devices / time from
 * the first attempt to the last CONNACK), a device's latency from its first
 * attempt to its CONNACK, and attempts per device. Whether each device was
 * provisioned exactly once is for the caller to check through the API
 * (scripts/bench.py does).
 */
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#define ATTEMPT_TIMEOUT_NS (30ull * 1000000000u) /* one attempt without an answer */
#define BACKOFF_FIRST_NS (20ull * 1000000u)      /* first retry after 20 ms ... */
#define BACKOFF_MAX_NS (500ull * 1000000u)       /* ... doubling up to 500 ms */
#define POLL_NS (100ull * 1000000u)
#define VALID_FROM_S (-60L)                      /* a server clock a little behind */
#define VALID_FOR_S (2L * 24 * 3600)
#define CN_MAX 128                               /* AWS's thing name limit */

struct jitp_device {
    struct bench_conn conn;   /* idx = this device's index */
    X509 *cert;
    EVP_PKEY *key;
    char cn[CN_MAX + 1];      /* subject CN, client id, thing name */
    uint64_t t_first;         /* ns: first attempt (0 = not started yet) */
    unsigned attempts;
    bool done;                /* got CONNACK 0 */
};

/* A retry waiting for its backoff: a min-heap on `due`, so finding the
 * retries due costs O(log n) however many devices wait. */
struct jitp_retry {
    uint64_t due;
    unsigned idx;
};

struct jitp {
    const struct bench_opts *o;
    X509 *ca_cert;
    struct jitp_device *dev;
    struct bench_conn **ptrs;     /* &dev[i].conn, for the loop's helpers */
    unsigned n;
    struct jitp_retry *heap;      /* at most one entry per device */
    unsigned heap_len;
    bool finished;                /* stop scheduling retries */
    uint64_t done;
    uint64_t t_last;              /* ns: the last CONNACK 0 */
    struct bench_result *out;
};

/* ==== Device certificates ================================================= */

static int add_ext(X509 *x, X509V3_CTX *v3, int nid, const char *value)
{
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, v3, nid, value);
    if (!ext)
        return ROOST_ETLS;
    int ok = X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    return ok == 1 ? 0 : ROOST_ETLS;
}

/* Ed25519/Ed448 sign without a separate digest; everything else SHA-256. */
static const EVP_MD *sign_md(EVP_PKEY *key)
{
    int id = EVP_PKEY_get_id(key);
    return id == EVP_PKEY_ED25519 || id == EVP_PKEY_ED448 ? NULL : EVP_sha256();
}

/* A new EC P-256 key and a certificate for it signed by the CA: subject
 * C=DE, CN=cn; clientAuth; valid from a minute ago for two days. The
 * country is there because JITP templates commonly read it
 * (AWS::IoT::Certificate::Country). */
static int make_device_cert(X509 *ca, EVP_PKEY *ca_key, const char *cn, X509 **out_cert,
                            EVP_PKEY **out_key)
{
    int rc = ROOST_ETLS;
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    X509_NAME *name = X509_NAME_new();
    BIGNUM *serial = NULL;
    uint8_t rnd[16];
    if (!key || !x || !name)
        goto out;
    /* 127 random bits: positive, unique for all practical purposes. */
    if (roost_random_bytes(rnd, sizeof(rnd)) != 0)
        goto out;
    rnd[0] = (uint8_t)((rnd[0] & 0x7f) | 0x40);
    serial = BN_bin2bn(rnd, (int)sizeof(rnd), NULL);
    if (!serial || !BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(x)))
        goto out;
    if (X509_set_version(x, X509_VERSION_3) != 1 ||
        X509_NAME_add_entry_by_txt(name, "C", MBSTRING_ASC, (const unsigned char *)"DE", -1, -1,
                                   0) != 1 ||
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1,
                                   0) != 1 ||
        X509_set_subject_name(x, name) != 1 ||
        X509_set_issuer_name(x, X509_get_subject_name(ca)) != 1 ||
        !X509_gmtime_adj(X509_getm_notBefore(x), VALID_FROM_S) ||
        !X509_gmtime_adj(X509_getm_notAfter(x), VALID_FOR_S) || X509_set_pubkey(x, key) != 1)
        goto out;
    X509V3_CTX v3;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, ca, x, NULL, NULL, 0);
    if (add_ext(x, &v3, NID_basic_constraints, "critical,CA:FALSE") ||
        add_ext(x, &v3, NID_key_usage, "critical,digitalSignature") ||
        add_ext(x, &v3, NID_ext_key_usage, "clientAuth") ||
        add_ext(x, &v3, NID_subject_key_identifier, "hash") ||
        add_ext(x, &v3, NID_authority_key_identifier, "keyid"))
        goto out;
    if (X509_sign(x, ca_key, sign_md(ca_key)) <= 0)
        goto out;
    *out_cert = x;
    *out_key = key;
    x = NULL;
    key = NULL;
    rc = 0;
out:
    BN_free(serial);
    X509_NAME_free(name);
    X509_free(x);
    EVP_PKEY_free(key);
    return rc;
}

static int load_ca(const char *cert_path, const char *key_path, X509 **out_cert,
                   EVP_PKEY **out_key)
{
    int rc = ROOST_EINVAL;
    X509 *ca = NULL;
    EVP_PKEY *key = NULL;
    BIO *b = BIO_new_file(cert_path, "r");
    if (!b || !(ca = PEM_read_bio_X509(b, NULL, NULL, NULL))) {
        fprintf(stderr, "roost-bench: --ca-cert %s: not a readable PEM certificate\n", cert_path);
        goto out;
    }
    BIO_free(b);
    b = BIO_new_file(key_path, "r");
    if (!b || !(key = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL))) {
        fprintf(stderr, "roost-bench: --ca-key %s: not a readable PEM private key "
                        "(unencrypted)\n", key_path);
        goto out;
    }
    if (X509_check_ca(ca) < 1) {
        fprintf(stderr, "roost-bench: --ca-cert %s is not a CA certificate\n", cert_path);
        goto out;
    }
    if (X509_check_private_key(ca, key) != 1) {
        fprintf(stderr, "roost-bench: --ca-key %s is not the key of --ca-cert %s\n", key_path,
                cert_path);
        goto out;
    }
    *out_cert = ca;
    *out_key = key;
    ca = NULL;
    key = NULL;
    rc = 0;
out:
    ERR_clear_error();
    BIO_free(b);
    X509_free(ca);
    EVP_PKEY_free(key);
    return rc;
}

/* DIR/<cn>.pem (device certificate, then the CA's: what the device sends)
 * and DIR/<cn>.key (mode 0600), to replay one device by hand. */
static int write_device(const char *dir, const struct jitp_device *d, X509 *ca)
{
    char path[4096];
    int rc = 0;
    FILE *f = NULL;
    errno = 0; /* OpenSSL's write errors leave it alone */
    snprintf(path, sizeof(path), "%.3900s/%s.pem", dir, d->cn);
    f = fopen(path, "w");
    if (!f || PEM_write_X509(f, d->cert) != 1 || PEM_write_X509(f, ca) != 1)
        goto fail;
    if (fclose(f) != 0) {
        f = NULL;
        goto fail;
    }
    snprintf(path, sizeof(path), "%.3900s/%s.key", dir, d->cn);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f) {
        if (fd >= 0)
            close(fd);
        goto fail;
    }
    if (PEM_write_PrivateKey(f, d->key, NULL, NULL, 0, NULL, NULL) != 1)
        goto fail;
    if (fclose(f) != 0) {
        f = NULL;
        goto fail;
    }
    return 0;
fail:
    rc = errno ? -errno : ROOST_ETLS;
    fprintf(stderr, "roost-bench: cannot write %s: %s\n", path, roost_strerror(rc));
    if (f)
        fclose(f);
    return rc;
}

/* ==== The storm =========================================================== */

static void heap_push(struct jitp *st, uint64_t due, unsigned idx)
{
    unsigned i = st->heap_len++;
    while (i > 0) {
        unsigned parent = (i - 1) / 2;
        if (st->heap[parent].due <= due)
            break;
        st->heap[i] = st->heap[parent];
        i = parent;
    }
    st->heap[i] = (struct jitp_retry){due, idx};
}

static unsigned heap_pop(struct jitp *st)
{
    unsigned top = st->heap[0].idx;
    struct jitp_retry last = st->heap[--st->heap_len];
    unsigned i = 0;
    for (;;) {
        unsigned child = 2 * i + 1;
        if (child >= st->heap_len)
            break;
        if (child + 1 < st->heap_len && st->heap[child + 1].due < st->heap[child].due)
            child++;
        if (last.due <= st->heap[child].due)
            break;
        st->heap[i] = st->heap[child];
        i = child;
    }
    if (st->heap_len > 0)
        st->heap[i] = last;
    return top;
}

static int on_tls(struct bench_loop *l, struct bench_conn *c, SSL *ssl)
{
    struct jitp *st = l->ud;
    struct jitp_device *d = &st->dev[c->idx];
    /* The chain goes after the leaf: SSL_add1_chain_cert extends the chain
     * of the certificate set last. */
    if (SSL_use_certificate(ssl, d->cert) != 1 || SSL_use_PrivateKey(ssl, d->key) != 1 ||
        SSL_add1_chain_cert(ssl, st->ca_cert) != 1)
        return ROOST_ETLS;
    return 0;
}

static void on_ready(struct bench_loop *l, struct bench_conn *c)
{
    struct jitp *st = l->ud;
    struct jitp_device *d = &st->dev[c->idx];
    d->done = true;
    st->done++;
    st->t_last = l->now;
    bench__hist_add(&st->out->lat, l->now - d->t_first);
    struct roost_mqtt_disconnect disc;
    memset(&disc, 0, sizeof(disc));
    if (roost_mqtt_encode_disconnect(&c->out, l->o->version, &disc) == 0)
        bench__conn_flush(l, c);
    bench__conn_close(l, c, 0);
}

static void on_packet(struct bench_loop *l, struct bench_conn *c,
                      const struct roost_mqtt_packet *p)
{
    ROOST_UNUSED(p);
    /* A device disconnects at its CONNACK: anything more is a broker bug. */
    bench__conn_close(l, c, ROOST_EPROTO);
}

/* A failed attempt: count why, then retry after the device's backoff. */
static void on_close(struct bench_loop *l, struct bench_conn *c, int rc)
{
    struct jitp *st = l->ud;
    struct jitp_device *d = &st->dev[c->idx];
    if (d->done || st->finished)
        return;
    if (rc == ROOST_EAUTH)
        st->out->refused_connack++;
    else if (rc == -ETIMEDOUT)
        st->out->timeouts++;
    else
        st->out->refused++;
    unsigned shift = d->attempts > 6 ? 5 : d->attempts - 1;
    uint64_t backoff = ROOST_MIN(BACKOFF_FIRST_NS << shift, BACKOFF_MAX_NS);
    heap_push(st, bench__now_ns() + backoff, c->idx);
}

static void attempt(struct bench_loop *l, struct jitp *st, unsigned idx)
{
    struct jitp_device *d = &st->dev[idx];
    d->attempts++;
    st->out->attempts++;
    if (d->attempts > st->out->attempts_max)
        st->out->attempts_max = d->attempts;
    bench__conn_start(l, &d->conn);
    if (d->t_first == 0)
        d->t_first = d->conn.t_start;
}

static int make_devices(struct jitp *st, EVP_PKEY *ca_key, const char *prefix)
{
    int rc = 0;
    if (st->o->write_certs && mkdir(st->o->write_certs, 0700) != 0 && errno != EEXIST) {
        rc = -errno;
        fprintf(stderr, "roost-bench: cannot create %s: %s\n", st->o->write_certs,
                roost_strerror(rc));
        return rc;
    }
    for (unsigned i = 0; i < st->n; i++) {
        struct jitp_device *d = &st->dev[i];
        snprintf(d->cn, sizeof(d->cn), "%.100s-%u", prefix, i);
        rc = make_device_cert(st->ca_cert, ca_key, d->cn, &d->cert, &d->key);
        if (rc) {
            fprintf(stderr, "roost-bench: cannot make the certificate of %s\n", d->cn);
            ERR_print_errors_fp(stderr);
            return rc;
        }
        if (st->o->write_certs && (rc = write_device(st->o->write_certs, d, st->ca_cert)) != 0)
            return rc;
    }
    return 0;
}

int bench__run_jitp(const struct bench_opts *o, volatile sig_atomic_t *stop,
                    struct bench_result *out)
{
    struct bench_loop loop;
    struct jitp st;
    EVP_PKEY *ca_key = NULL;
    char prefix[CN_MAX];
    int rc;
    bool loop_ready = false;
    memset(&st, 0, sizeof(st));
    st.o = o;
    st.out = out;
    st.n = o->connections;

    if (o->name_prefix) {
        snprintf(prefix, sizeof(prefix), "%.100s", o->name_prefix);
    } else {
        uint32_t tag = 0;
        roost_random_bytes(&tag, sizeof(tag));
        snprintf(prefix, sizeof(prefix), "rb%08x-jitp", tag);
    }
    rc = load_ca(o->ca_cert, o->ca_key, &st.ca_cert, &ca_key);
    if (rc)
        goto out;
    st.dev = roost_xcalloc(st.n, sizeof(*st.dev));
    st.ptrs = roost_xcalloc(st.n, sizeof(*st.ptrs));
    st.heap = roost_xcalloc(st.n, sizeof(*st.heap));
    for (unsigned i = 0; i < st.n; i++) {
        st.dev[i].conn.fd = -1;
        st.dev[i].conn.idx = i;
        st.dev[i].conn.client_id = st.dev[i].cn;
        st.ptrs[i] = &st.dev[i].conn;
    }
    uint64_t g0 = bench__now_ns();
    rc = make_devices(&st, ca_key, prefix);
    if (rc)
        goto out;
    out->gen_s = (double)(bench__now_ns() - g0) / 1e9;
    if (!o->quiet)
        fprintf(stderr,
                "roost-bench: %u device certificates (%s-0 ...) made in %.2f s; a server in "
                "AWS's JITP mode refuses each device's first handshake (the TLS alerts below "
                "are expected): devices retry\n",
                st.n, prefix, out->gen_s);

    /* The loop authenticates the server only; every device brings its own
     * certificate through on_tls. */
    struct bench_opts lo = *o;
    lo.transport = BENCH_TLS;
    rc = bench__loop_init(&loop, &lo);
    loop_ready = true;
    if (rc)
        goto out;
    out->mode = "jitp";
    loop.stop = stop;
    loop.ud = &st;
    loop.hooks.on_tls = on_tls;
    loop.hooks.on_ready = on_ready;
    loop.hooks.on_packet = on_packet;
    loop.hooks.on_close = on_close;

    unsigned next_new = 0;
    uint64_t t0 = bench__now_ns();
    uint64_t deadline = t0 + (uint64_t)(o->timeout * 1e9);
    uint64_t next_expire = t0 + 1000000000u;
    while (st.done < st.n) {
        /* Due retries first (those devices have waited longest), then new
         * devices, while fewer than --concurrency are in setup. */
        uint64_t now = bench__now_ns();
        while (loop.connecting < o->concurrency) {
            if (st.heap_len > 0 && st.heap[0].due <= now)
                attempt(&loop, &st, heap_pop(&st));
            else if (next_new < st.n)
                attempt(&loop, &st, next_new++);
            else
                break;
        }
        uint64_t wait = POLL_NS;
        if (st.heap_len > 0 && loop.connecting < o->concurrency)
            wait = st.heap[0].due > now ? ROOST_MIN(wait, st.heap[0].due - now) : 0;
        if (bench__loop_poll(&loop, wait) < 0)
            break;
        if (loop.now >= next_expire) {
            bench__loop_expire(&loop, st.ptrs, st.n, ATTEMPT_TIMEOUT_NS);
            next_expire = loop.now + 1000000000u;
        }
        if (loop.now > deadline) {
            fprintf(stderr, "roost-bench: %llu of %u devices never got CONNACK 0 within %.0f s\n",
                    (unsigned long long)(st.n - st.done), st.n, o->timeout);
            break;
        }
    }
    st.finished = true;
    uint64_t t_end = st.done == st.n ? st.t_last : bench__now_ns();
    out->elapsed_s = (double)(t_end - t0) / 1e9;
    out->connections = st.done;
    out->connects_per_s = out->elapsed_s > 0 ? (double)st.done / out->elapsed_s : 0;
    out->errors = st.n - st.done;
    bench__loop_disconnect_all(&loop, st.ptrs, st.n);
out:
    if (loop_ready)
        bench__loop_cleanup(&loop);
    for (unsigned i = 0; st.dev && i < st.n; i++) {
        X509_free(st.dev[i].cert);
        EVP_PKEY_free(st.dev[i].key);
    }
    roost_free(st.dev);
    roost_free(st.ptrs);
    roost_free(st.heap);
    X509_free(st.ca_cert);
    EVP_PKEY_free(ca_key);
    return rc;
}

void bench__print_jitp(const struct bench_opts *o, const struct bench_result *r)
{
    double p50 = (double)bench__hist_quantile(&r->lat, 0.50) / 1e3;
    double p99 = (double)bench__hist_quantile(&r->lat, 0.99) / 1e3;
    double p999 = (double)bench__hist_quantile(&r->lat, 0.999) / 1e3;
    double pmax = r->lat.count ? (double)r->lat.max / 1e3 : 0;
    double mean_attempts = o->connections ? (double)r->attempts / o->connections : 0;
    if (!o->quiet)
        fprintf(stderr,
                "jitp v%u: %llu of %u devices provisioned and connected in %.2f s = %.1f "
                "devices/s; first attempt -> CONNACK p50 %.1f ms, p99 %.1f ms, max %.1f ms; "
                "attempts per device mean %.2f, max %llu (refused %llu, CONNACK refused %llu, "
                "timed out %llu); never connected %llu\n",
                o->version, (unsigned long long)r->connections, o->connections, r->elapsed_s,
                r->connects_per_s, p50 / 1e3, p99 / 1e3, pmax / 1e3, mean_attempts,
                (unsigned long long)r->attempts_max, (unsigned long long)r->refused,
                (unsigned long long)r->refused_connack, (unsigned long long)r->timeouts,
                (unsigned long long)r->errors);
    printf("RESULT {\"mode\":\"jitp\",\"transport\":\"mtls\",\"version\":%u,\"devices\":%u,"
           "\"concurrency\":%u,\"connections\":%llu,\"elapsed_s\":%.3f,"
           "\"provisioned_per_s\":%.1f,\"connects_per_s\":%.1f,"
           "\"p50_us\":%.1f,\"p99_us\":%.1f,\"p999_us\":%.1f,\"max_us\":%.1f,"
           "\"latency_samples\":%llu,\"attempts\":%llu,\"attempts_mean\":%.3f,"
           "\"attempts_max\":%llu,\"refused\":%llu,\"refused_connack\":%llu,\"timeouts\":%llu,"
           "\"cert_gen_s\":%.3f,\"errors\":%llu}\n",
           o->version, o->connections, o->concurrency, (unsigned long long)r->connections,
           r->elapsed_s, r->connects_per_s, r->connects_per_s, p50, p99, p999, pmax,
           (unsigned long long)r->lat.count, (unsigned long long)r->attempts, mean_attempts,
           (unsigned long long)r->attempts_max, (unsigned long long)r->refused,
           (unsigned long long)r->refused_connack, (unsigned long long)r->timeouts, r->gen_s,
           (unsigned long long)r->errors);
    fflush(stdout);
}

/* ==== Self-test ============================================================ */

/* A throwaway self-signed EC CA, the shape `openssl req -x509` makes. */
static int make_test_ca(const char *cn, X509 **out_cert, EVP_PKEY **out_key)
{
    int rc = ROOST_ETLS;
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    if (!key || !x || X509_set_version(x, X509_VERSION_3) != 1 ||
        ASN1_INTEGER_set(X509_get_serialNumber(x), 1) != 1 ||
        X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                                   (const unsigned char *)cn, -1, -1, 0) != 1 ||
        X509_set_issuer_name(x, X509_get_subject_name(x)) != 1 ||
        !X509_gmtime_adj(X509_getm_notBefore(x), VALID_FROM_S) ||
        !X509_gmtime_adj(X509_getm_notAfter(x), VALID_FOR_S) || X509_set_pubkey(x, key) != 1)
        goto out;
    X509V3_CTX v3;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
    if (add_ext(x, &v3, NID_basic_constraints, "critical,CA:TRUE") ||
        add_ext(x, &v3, NID_key_usage, "critical,keyCertSign,cRLSign") ||
        add_ext(x, &v3, NID_subject_key_identifier, "hash") ||
        X509_sign(x, key, EVP_sha256()) <= 0)
        goto out;
    *out_cert = x;
    *out_key = key;
    x = NULL;
    key = NULL;
    rc = 0;
out:
    X509_free(x);
    EVP_PKEY_free(key);
    return rc;
}

/* X509_V_OK when `leaf` chains to `ca` for TLS client authentication. */
static int verify_client(X509 *leaf, X509 *ca)
{
    int res = -1;
    X509_STORE *store = X509_STORE_new();
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    if (store && ctx && X509_STORE_add_cert(store, ca) == 1 &&
        X509_STORE_CTX_init(ctx, store, leaf, NULL) == 1 &&
        X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_CLIENT) == 1) {
        res = X509_verify_cert(ctx) == 1 ? X509_V_OK : X509_STORE_CTX_get_error(ctx);
    }
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
    return res;
}

#define JSELF_CHECK(cond)                                                      \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "selftest: %s:%d: %s\n", __FILE__, __LINE__, #cond); \
            failed++;                                                          \
        }                                                                      \
    } while (0)

int bench__jitp_selftest(void)
{
    int failed = 0;
    X509 *ca = NULL, *other = NULL, *dev = NULL;
    EVP_PKEY *ca_key = NULL, *other_key = NULL, *dev_key = NULL;
    char cn[64];
    JSELF_CHECK(make_test_ca("selftest CA", &ca, &ca_key) == 0);
    JSELF_CHECK(make_test_ca("selftest CA", &other, &other_key) == 0);
    if (failed)
        goto out;
    JSELF_CHECK(make_device_cert(ca, ca_key, "selftest-device-7", &dev, &dev_key) == 0);
    if (failed)
        goto out;
    JSELF_CHECK(verify_client(dev, ca) == X509_V_OK);
    /* Same subject, other key: the signature must not verify. */
    JSELF_CHECK(verify_client(dev, other) != X509_V_OK);
    JSELF_CHECK(X509_check_private_key(dev, dev_key) == 1);
    JSELF_CHECK(X509_check_ca(dev) == 0);
    X509_NAME *subj = X509_get_subject_name(dev);
    JSELF_CHECK(X509_NAME_get_text_by_NID(subj, NID_commonName, cn, sizeof(cn)) > 0 &&
                strcmp(cn, "selftest-device-7") == 0);
    JSELF_CHECK(X509_NAME_get_text_by_NID(subj, NID_countryName, cn, sizeof(cn)) > 0 &&
                strcmp(cn, "DE") == 0);
    JSELF_CHECK((X509_get_extended_key_usage(dev) & XKU_SSL_CLIENT) != 0);
    JSELF_CHECK(X509_cmp_current_time(X509_get0_notBefore(dev)) < 0);
    JSELF_CHECK(X509_cmp_time(X509_get0_notAfter(dev), NULL) > 0);
    JSELF_CHECK(EVP_PKEY_get_bits(dev_key) == 256);
out:
    ERR_clear_error();
    X509_free(ca);
    X509_free(other);
    X509_free(dev);
    EVP_PKEY_free(ca_key);
    EVP_PKEY_free(other_key);
    EVP_PKEY_free(dev_key);
    fprintf(stderr, "selftest (jitp certificates): %s\n", failed ? "FAILED" : "ok");
    return failed ? 1 : 0;
}
