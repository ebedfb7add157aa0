/*
 * server.c - the HTTPS control-plane server: the HTTP/1.1 protocol handler
 * that roostd's HTTPS listener speaks by default (MQTT is picked by ALPN
 * before it). Per connection, requests are served one at a time: parse,
 * authenticate (SigV4), then either answer at once (errors, /metrics), hand
 * the connection to the WebSocket layer (GET /mqtt), or build a registry call
 * and submit it to the store's writer as one ROOST_STORE_TXN op. The op's
 * completion (writer thread, after COMMIT) applies the call's effects and
 * posts the finished call back to the connection's loop, which writes the
 * response and goes on with any pipelined bytes.
 *
 * Lifetime: the per-connection state (struct api_conn) is reference counted:
 * one reference for the open connection, one per call in flight. When the
 * connection goes while its call is in the store, `closed` only drops the
 * connection's reference and clears ac->conn; the call's return trip then
 * finds no connection, drops the response and the last reference. Every
 * reference is taken and dropped on the connection's loop thread (an HTTP
 * connection never migrates), the writer thread never touches api_conn.
 *
 * Input: while the connection is idle, requests are parsed straight out of
 * the net layer's input buffer. Bytes that must wait (a body still arriving,
 * requests pipelined behind a call in flight) move into the connection's own
 * `pend` buffer, because the net layer only calls back when new bytes come,
 * never when we are ready for old ones; reading is paused while a call is in
 * flight. A WebSocket upgrade is only taken from the net buffer itself,
 * since roost_conn_upgrade_websocket hands exactly those bytes over.
 */
#include "api/api.h"
#include "net/net.h"
#include "registry/registry.h"
#include "store/store.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#define SUB "api"
#define ARENA_INLINE 2048

/* ==== The server object ==================================================== */

/* Authentication failures are counted by the AWS code sigv4.c answered. */
static const char *const auth_codes[] = {
    "MissingAuthenticationTokenException",
    "IncompleteSignatureException",
    "UnrecognizedClientException",
    "InvalidSignatureException",
    "other",
};
#define N_AUTH_CODES ROOST_ARRAY_LEN(auth_codes)

struct roost_api {
    struct roost_api_config cfg;
    struct roost_conn_handler handler;
    struct roost_http_limits limits;
    size_t pend_limit;             /* bound on bytes held while a request waits */
    /* ---- calls submitted to the store and not yet answered (shutdown) ---- */
    pthread_mutex_t mu;
    pthread_cond_t idle;           /* signalled when inflight drops to 0 */
    size_t inflight;
    bool stopping;                 /* roost_api_shutdown: refuse new calls */
    /* ---- metrics ---- */
    atomic_uint_fast64_t by_class[6]; /* [status / 100]; 1 = WebSocket upgrades */
    atomic_uint_fast64_t auth_failures[N_AUTH_CODES];
    atomic_uint_fast64_t latency_us_sum;
    atomic_uint_fast64_t latency_count;
    pthread_mutex_t ops_mu;
    struct roost_map ops;          /* operation name -> uint64_t * count (ops_mu) */
};

/* One HTTP connection. */
struct api_conn {
    struct roost_api *api;
    struct roost_conn *conn;       /* NULL once the connection is gone */
    struct roost_ref ref;          /* the open connection + each call in flight */
    struct roost_buf pend;         /* bytes waiting for their turn (see top) */
    struct roost_arena arena;      /* per request: parse views, SigV4 scratch */
    bool busy;                     /* a call is in the store; reading paused */
    bool continue_sent;            /* "100 Continue" written for the current request */
    bool closing;                  /* answered with Connection: close: ignore input */
    _Alignas(16) uint8_t arena_buf[ARENA_INLINE]; /* the arena hands out 8-aligned pieces */
};

/* One call on its way through the store and back. */
struct api_req {
    struct roost_api *api;
    struct api_conn *ac;
    struct roost_loop *loop;       /* the connection's, for the way back */
    struct roost_api_call call;
    struct roost_api_dp_call dp;   /* instead of `call` when is_dp */
    bool is_dp;
    char device_cert_id[65];       /* dp.device_cert_id's storage */
    char request_id[37];
    uint64_t t0_us;
    bool keep_alive;
    bool head;                     /* HEAD: headers only */
};

static void ac_unref(struct api_conn *ac)
{
    if (!roost_ref_put(&ac->ref))
        return;
    roost_buf_cleanup(&ac->pend);
    roost_arena_cleanup(&ac->arena);
    roost_free(ac);
}

/* ==== Metrics =============================================================== */

static void count_answer(struct roost_api *api, int status, const char *op, uint64_t t0_us)
{
    unsigned cls = status >= 100 && status <= 599 ? (unsigned)status / 100 : 5;
    atomic_fetch_add_explicit(&api->by_class[cls], 1, memory_order_relaxed);
    uint64_t now = roost_now_us();
    atomic_fetch_add_explicit(&api->latency_us_sum, now > t0_us ? now - t0_us : 0,
                              memory_order_relaxed);
    atomic_fetch_add_explicit(&api->latency_count, 1, memory_order_relaxed);
    if (!op)
        return;
    pthread_mutex_lock(&api->ops_mu);
    uint64_t *n = roost_map_get(&api->ops, op, strlen(op));
    if (!n) {
        n = roost_xcalloc(1, sizeof(*n));
        roost_map_put(&api->ops, op, strlen(op), n);
    }
    (*n)++;
    pthread_mutex_unlock(&api->ops_mu);
}

static void count_auth_failure(struct roost_api *api, const char *code)
{
    size_t i = 0;
    while (i < N_AUTH_CODES - 1 && (!code || strcmp(code, auth_codes[i]) != 0))
        i++;
    atomic_fetch_add_explicit(&api->auth_failures[i], 1, memory_order_relaxed);
}

static void put(struct roost_buf *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct roost_buf *out, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n > 0)
        roost_buf_append(out, tmp, ROOST_MIN((size_t)n, sizeof(tmp) - 1));
}

struct op_count {
    const char *name;
    uint64_t n;
};

static int cmp_op_count(const void *a, const void *b)
{
    return strcmp(((const struct op_count *)a)->name, ((const struct op_count *)b)->name);
}

/* Prometheus text exposition format 0.0.4 (api.h). */
void roost_api_metrics(struct roost_api *api, struct roost_buf *out)
{
    static const char *const classes[] = {"", "1xx", "2xx", "3xx", "4xx", "5xx"};
    put(out, "# HELP roost_api_requests_total HTTPS API requests answered, by status class.\n"
             "# TYPE roost_api_requests_total counter\n");
    for (unsigned i = 1; i < 6; i++)
        put(out, "roost_api_requests_total{class=\"%s\"} %" PRIu64 "\n", classes[i],
            (uint64_t)atomic_load(&api->by_class[i]));

    put(out, "# HELP roost_api_operation_requests_total Registry calls answered, by AWS "
             "operation.\n"
             "# TYPE roost_api_operation_requests_total counter\n");
    pthread_mutex_lock(&api->ops_mu);
    size_t n = api->ops.count, k = 0, pos = 0;
    struct op_count *rows = roost_xcalloc(n ? n : 1, sizeof(*rows));
    struct roost_str key;
    void *v;
    /* Keys live in the map and the map only grows: the views stay valid. */
    while (k < n && roost_map_next(&api->ops, &pos, &key, &v)) {
        rows[k].name = roost_xstrndup(key.p, key.n);
        rows[k].n = *(uint64_t *)v;
        k++;
    }
    pthread_mutex_unlock(&api->ops_mu);
    qsort(rows, k, sizeof(*rows), cmp_op_count);
    for (size_t i = 0; i < k; i++) {
        put(out, "roost_api_operation_requests_total{operation=\"%s\"} %" PRIu64 "\n",
            rows[i].name, rows[i].n);
        roost_free((void *)rows[i].name);
    }
    roost_free(rows);

    put(out, "# HELP roost_api_auth_failures_total Requests refused by SigV4, by AWS error "
             "code.\n"
             "# TYPE roost_api_auth_failures_total counter\n");
    for (size_t i = 0; i < N_AUTH_CODES; i++)
        put(out, "roost_api_auth_failures_total{code=\"%s\"} %" PRIu64 "\n", auth_codes[i],
            (uint64_t)atomic_load(&api->auth_failures[i]));

    put(out, "# HELP roost_api_request_duration_seconds Time from a whole request to its "
             "response.\n"
             "# TYPE roost_api_request_duration_seconds summary\n"
             "roost_api_request_duration_seconds_sum %.6f\n"
             "roost_api_request_duration_seconds_count %" PRIu64 "\n",
        (double)atomic_load(&api->latency_us_sum) / 1e6,
        (uint64_t)atomic_load(&api->latency_count));

    pthread_mutex_lock(&api->mu);
    size_t inflight = api->inflight;
    pthread_mutex_unlock(&api->mu);
    put(out, "# HELP roost_api_calls_in_flight Registry calls submitted and not yet answered.\n"
             "# TYPE roost_api_calls_in_flight gauge\n"
             "roost_api_calls_in_flight %zu\n",
        inflight);
    put(out, "# HELP roost_api_websocket_upgrades_total GET /mqtt requests handed to MQTT over "
             "WebSocket.\n"
             "# TYPE roost_api_websocket_upgrades_total counter\n"
             "roost_api_websocket_upgrades_total %" PRIu64 "\n",
        (uint64_t)atomic_load(&api->by_class[1]));
}

/* ==== Writing responses ===================================================== */

/* HEAD gets the headers of the response GET would have had, no body. */
static void strip_body(struct roost_buf *out, size_t mark)
{
    const uint8_t *p = out->data + mark;
    size_t n = out->len - mark;
    for (size_t i = 0; i + 3 < n; i++) {
        if (p[i] == '\r' && p[i + 1] == '\n' && p[i + 2] == '\r' && p[i + 3] == '\n') {
            out->len = mark + i + 4;
            return;
        }
    }
}

/* Ends the exchange on a connection: Connection: close means no more input. */
static void after_answer(struct api_conn *ac, bool keep_alive)
{
    roost_conn_flush(ac->conn);
    if (!keep_alive) {
        ac->closing = true;
        roost_conn_close(ac->conn, true);
    }
}

/* An error the server itself answers (not the registry). */
static void answer_error(struct api_conn *ac, const char *request_id, int status, const char *code,
                         const char *message, bool keep_alive, bool head, uint64_t t0_us)
{
    struct roost_buf *out = roost_conn_out(ac->conn);
    size_t mark = out->len;
    int rc = roost_http_write_aws_error(out, status, code, message, request_id, keep_alive);
    if (rc) {
        keep_alive = false; /* output full: nothing sensible left to say */
    } else if (head) {
        strip_body(out, mark);
    }
    roost_log_debug(SUB, "%s %d %s: %s", request_id ? request_id : "-", status, code, message);
    count_answer(ac->api, status, NULL, t0_us);
    after_answer(ac, keep_alive);
}

/* ==== The way through the store ============================================== */

static int req_txn(struct roost_store_txn *txn, void *ud)
{
    struct api_req *r = ud;
    return roost_registry_call(r->api->cfg.registry, txn, &r->call);
}

static void req_free(struct api_req *r)
{
    roost_api_call_inputs_cleanup(&r->call);
    roost_api_call_cleanup(&r->call);
    roost_api_dataplane_cleanup(&r->dp);
    roost_free(r);
}

static int serve(struct api_conn *ac, struct roost_buf *src, bool direct);

/* Back on the connection's loop: answer, then go on with what waited. */
static void req_finish(void *arg)
{
    struct api_req *r = arg;
    struct roost_api *api = r->api;
    struct api_conn *ac = r->ac;
    const struct roost_api_call *call = &r->call;
    const char *op = r->is_dp ? r->dp.op : call->op ? call->op->name : NULL;
    int status = r->is_dp ? r->dp.status : call->status;
    const char *error_code = r->is_dp ? r->dp.error_code : call->error_code;
    count_answer(api, status, op, r->t0_us);
    roost_log_debug(SUB, "%s %s -> %d%s%s", r->request_id, op ? op : "?", status,
                    error_code ? " " : "", error_code ? error_code : "");
    if (!ac->conn)
        roost_log_debug(SUB, "%s: connection gone, answer dropped", r->request_id);
    if (ac->conn && !ac->closing) {
        struct roost_buf *out = roost_conn_out(ac->conn);
        size_t mark = out->len;
        bool keep_alive = r->keep_alive;
        int rc = r->is_dp ? roost_api_dataplane_write_response(out, &r->dp, keep_alive)
                          : roost_api_write_response(out, call, keep_alive);
        if (rc) {
            struct roost_api_call fail = {.request_id = r->request_id};
            roost_api_fail(&fail, 500, "InternalFailureException", "The response is too large");
            keep_alive = false;
            roost_api_write_response(out, &fail, false);
        } else if (r->head) {
            strip_body(out, mark);
        }
        ac->busy = false;
        after_answer(ac, keep_alive);
        if (!ac->closing) {
            roost_conn_pause(ac->conn, false);
            if (roost_buf_size(&ac->pend)) {
                rc = serve(ac, &ac->pend, false);
                if (rc && ac->conn && !ac->closing) {
                    ac->closing = true;
                    roost_conn_close(ac->conn, true);
                }
            }
        }
    }
    ac_unref(ac);
    req_free(r);
    pthread_mutex_lock(&api->mu);
    if (--api->inflight == 0)
        pthread_cond_broadcast(&api->idle);
    pthread_mutex_unlock(&api->mu);
}

/* On the store's writer thread, after COMMIT (or the rollback). */
static void req_done(void *ud, int rc)
{
    struct api_req *r = ud;
    struct roost_api *api = r->api;
    if (rc == 0) {
        if (roost_registry_effects_any(&r->call.effects)) {
            roost_registry_apply_effects(api->cfg.registry, &r->call.effects);
            if (api->cfg.on_effects)
                api->cfg.on_effects(api->cfg.effects_ud, &r->call.effects);
        }
    } else if (r->call.status == 200 || !r->call.error_code) {
        /* the operation succeeded but its transaction did not commit */
        roost_log_error(SUB, "%s: store failure: %s", r->request_id, roost_strerror(rc));
        roost_api_fail(&r->call, 500, "InternalFailureException",
                       "An unexpected error has occurred");
    }
    roost_loop_post(r->loop, req_finish, r);
}

/* Builds the call and sends it to the store; the connection waits. */
static void submit_call(struct api_conn *ac, const struct roost_http_request *req,
                        const char *request_id, uint64_t t0_us)
{
    struct roost_api *api = ac->api;
    bool head = roost_str_eq_c(req->method, "HEAD");
    struct api_req *r = roost_xcalloc(1, sizeof(*r));
    r->api = api;
    r->loop = roost_conn_loop(ac->conn);
    r->t0_us = t0_us;
    r->keep_alive = req->keep_alive && !req->upgrade;
    r->head = head;
    memcpy(r->request_id, request_id, sizeof(r->request_id));
    r->call.request_id = r->request_id;
    r->call.now_ms = roost_wall_ms();
    int rc = roost_api_call_from_request(req, &ac->arena, &r->call);
    if (rc) {
        answer_error(ac, request_id, r->call.status, r->call.error_code, r->call.error_message,
                     r->keep_alive, head, t0_us);
        req_free(r);
        return;
    }
    pthread_mutex_lock(&api->mu);
    bool stopping = api->stopping;
    if (!stopping)
        api->inflight++;
    pthread_mutex_unlock(&api->mu);
    if (stopping) {
        answer_error(ac, request_id, 503, "ServiceUnavailableException",
                     "The service is shutting down", false, head, t0_us);
        req_free(r);
        return;
    }
    roost_ref_get(&ac->ref);
    r->ac = ac;
    ac->busy = true;
    roost_conn_pause(ac->conn, true);
    struct roost_store_op *op = roost_xcalloc(1, sizeof(*op));
    op->type = ROOST_STORE_TXN;
    op->u.txn.fn = req_txn;
    op->u.txn.ud = r;
    op->done = req_done;
    op->done_ud = r;
    roost_store_submit(api->cfg.store, op);
}

/* ---- the iot-data plane (dataplane.c) ---- */

/* A pending data-plane call has its answer (writer thread). */
static void dp_finish(struct roost_api_dp_call *c)
{
    struct api_req *r = c->ud;
    roost_loop_post(r->loop, req_finish, r);
}

/* Like submit_call, but a data-plane call may be answered at once. */
static void submit_dataplane(struct api_conn *ac, const struct roost_http_request *req,
                             const char *request_id, uint64_t t0_us, const char *device_cert_id)
{
    struct roost_api *api = ac->api;
    bool head = roost_str_eq_c(req->method, "HEAD");
    bool keep_alive = req->keep_alive && !req->upgrade;
    pthread_mutex_lock(&api->mu);
    bool stopping = api->stopping;
    if (!stopping)
        api->inflight++;
    pthread_mutex_unlock(&api->mu);
    if (stopping) {
        answer_error(ac, request_id, 503, "ServiceUnavailableException",
                     "The service is shutting down", false, head, t0_us);
        return;
    }
    struct api_req *r = roost_xcalloc(1, sizeof(*r));
    r->api = api;
    r->loop = roost_conn_loop(ac->conn);
    r->t0_us = t0_us;
    r->keep_alive = keep_alive;
    r->head = head;
    r->is_dp = true;
    memcpy(r->request_id, request_id, sizeof(r->request_id));
    r->dp.cfg = &api->cfg;
    r->dp.request_id = r->request_id;
    if (device_cert_id) {
        snprintf(r->device_cert_id, sizeof(r->device_cert_id), "%s", device_cert_id);
        r->dp.device_cert_id = r->device_cert_id;
    }
    r->dp.finish = dp_finish;
    r->dp.ud = r;
    roost_buf_init(&r->dp.body, 0);
    if (roost_api_dataplane_start(&r->dp, req, &ac->arena) == ROOST_EAGAIN) {
        /* The answer is posted to this loop: req_finish runs after we
         * return, so setting these now is in time. */
        roost_ref_get(&ac->ref);
        r->ac = ac;
        ac->busy = true;
        roost_conn_pause(ac->conn, true);
        return;
    }
    /* answered at once: write it here (req_finish would re-enter serve) */
    struct roost_buf *out = roost_conn_out(ac->conn);
    size_t mark = out->len;
    if (roost_api_dataplane_write_response(out, &r->dp, keep_alive)) {
        keep_alive = false;
    } else if (head) {
        strip_body(out, mark);
    }
    count_answer(api, r->dp.status, r->dp.op, t0_us);
    roost_log_debug(SUB, "%s %s -> %d%s%s", request_id, r->dp.op ? r->dp.op : "?",
                    r->dp.status, r->dp.error_code ? " " : "",
                    r->dp.error_code ? r->dp.error_code : "");
    req_free(r);
    after_answer(ac, keep_alive);
    pthread_mutex_lock(&api->mu);
    if (--api->inflight == 0)
        pthread_cond_broadcast(&api->idle);
    pthread_mutex_unlock(&api->mu);
}

/* ==== One request ============================================================ */

static int secret_lookup(void *ud, const char *akid, const char *token,
                         char out_secret[ROOST_SIGV4_SECRET_MAX + 1])
{
    const struct roost_api_credentials *creds = ud;
    if (token && token[0])
        return ROOST_ENOTFOUND; /* Roost issues no temporary credentials */
    const struct roost_api_credential *k = roost_api_credentials_find(creds, akid);
    if (!k)
        return ROOST_ENOTFOUND;
    memcpy(out_secret, k->secret_access_key, sizeof(k->secret_access_key));
    return 0;
}

/* Signing names: the control plane (older botocore signs IoT as
 * execute-api), then the data planes: iot-data (dataplane.c) and
 * iot-jobs-data, which has no routes yet and answers 404; WebSocket MQTT
 * alone for /mqtt. The first of each list is what a wrong-service refusal
 * names. */
static const char *const services_control[] = {"iot", "execute-api", NULL};
static const char *const services_any[] = {"iot", "execute-api", "iotdata", "iotdevicegateway",
                                           "iot-jobs-data", NULL};
static const char *const services_mqtt[] = {"iotdevicegateway", NULL};

static bool is_control_service(const char *service)
{
    for (size_t i = 0; services_control[i]; i++)
        if (strcmp(service, services_control[i]) == 0)
            return true;
    return false;
}

static bool is_iotdata_service(const char *service)
{
    return strcmp(service, "iotdata") == 0 || strcmp(service, "iotdevicegateway") == 0;
}

static int authenticate(struct api_conn *ac, const struct roost_http_request *req,
                        const char *const *services, struct roost_sigv4_result *res)
{
    struct roost_api *api = ac->api;
    struct roost_sigv4_params p = {
        .services = services,
        .secret_fn = secret_lookup,
        .secret_ud = (void *)api->cfg.creds,
        .now = (int64_t)(roost_wall_ms() / 1000u),
        .max_skew = api->cfg.max_skew,
    };
    int rc = roost_sigv4_verify(req, &p, &ac->arena, res);
    if (rc == 0)
        return 0;
    if (rc != ROOST_EAUTH) {
        res->status = 500;
        res->error_code = "InternalFailureException";
        snprintf(res->message, sizeof(res->message), "An unexpected error has occurred");
    }
    count_auth_failure(api, res->error_code);
    roost_log_info(SUB, "%s: %s %.*s refused: %s %s", roost_conn_peer(ac->conn)->addr,
                   req->method.p, (int)ROOST_MIN(req->path.n, 200u), req->path.p,
                   res->error_code, res->message);
    return rc;
}

static void answer_metrics(struct api_conn *ac, const char *request_id, bool keep_alive,
                           bool head, uint64_t t0_us)
{
    struct roost_api *api = ac->api;
    struct roost_buf body;
    roost_buf_init(&body, 0);
    roost_api_metrics(api, &body);
    if (api->cfg.metrics)
        api->cfg.metrics(api->cfg.metrics_ud, &body);
    struct roost_buf *out = roost_conn_out(ac->conn);
    size_t mark = out->len;
    int rc = roost_http_response_begin(out, 200, request_id, keep_alive);
    if (!rc)
        rc = roost_http_response_finish(out, "text/plain; version=0.0.4; charset=utf-8",
                                        roost_buf_head(&body), roost_buf_size(&body));
    roost_buf_cleanup(&body);
    if (rc) {
        out->len = mark;
        keep_alive = false;
    } else if (head) {
        strip_body(out, mark);
    }
    count_answer(api, 200, NULL, t0_us);
    after_answer(ac, keep_alive);
}

/* What serve_one did with the request. */
enum served {
    SERVED_NEXT,     /* answered or submitted: consume it, go on if not busy */
    SERVED_UPGRADED, /* the connection is WebSocket now; `ac` may be gone */
};

/*
 * GET /mqtt: MQTT over WebSocket, authenticated by a SigV4 signature for
 * iotdevicegateway (the presigned query form browsers and the device SDKs
 * use; the header form is as good a proof). On success the request bytes,
 * still unconsumed in the net layer's buffer, become the WebSocket
 * handshake. Failures are answered and the connection closed.
 */
static int serve_mqtt(struct api_conn *ac, const struct roost_http_request *req,
                      const char *request_id, bool direct, uint64_t t0_us,
                      enum served *out_served)
{
    struct roost_api *api = ac->api;
    *out_served = SERVED_NEXT;
    if (!req->upgrade || !direct) {
        answer_error(ac, request_id, 400, "InvalidRequestException",
                     direct ? "GET /mqtt needs a WebSocket upgrade"
                            : "A WebSocket upgrade cannot follow pipelined requests",
                     false, false, t0_us);
        return 0;
    }
    if (!api->cfg.mqtt_handler) {
        answer_error(ac, request_id, 404, "ResourceNotFoundException", "Not Found", false, false,
                     t0_us);
        return 0;
    }
    struct roost_sigv4_result res;
    if (authenticate(ac, req, services_mqtt, &res)) {
        answer_error(ac, request_id, res.status == 400 ? 400 : 403, res.error_code, res.message,
                     false, false, t0_us);
        return 0;
    }
    count_answer(api, 101, NULL, t0_us);
    roost_log_debug(SUB, "%s: GET /mqtt by %s: WebSocket", roost_conn_peer(ac->conn)->addr,
                    res.access_key_id);
    /* Runs our `closed` (ac may be freed) and takes the unconsumed bytes. */
    int rc = roost_conn_upgrade_websocket(ac->conn, api->cfg.mqtt_handler);
    if (rc == 0)
        *out_served = SERVED_UPGRADED;
    return rc;
}

/* Whether a request carries SigV4 at all (header or presigned query):
 * one that does is judged by its signature, whatever certificate the
 * connection has. */
static bool signed_request(const struct roost_http_request *req)
{
    if (roost_http_header(req, "authorization"))
        return true;
    static const char needle[] = "X-Amz-Signature=";
    struct roost_str q = req->query;
    for (size_t i = 0; i + sizeof(needle) - 1 <= q.n; i++)
        if (strncasecmp(q.p + i, needle, sizeof(needle) - 1) == 0)
            return true;
    return false;
}

static int serve_one(struct api_conn *ac, const struct roost_http_request *req, bool direct,
                     enum served *out_served)
{
    struct roost_api *api = ac->api;
    uint64_t t0_us = roost_now_us();
    bool head = roost_str_eq_c(req->method, "HEAD");
    bool keep_alive = req->keep_alive && !req->upgrade;
    char request_id[37];
    *out_served = SERVED_NEXT;
    int rc = roost_http_request_id_new(request_id);
    if (rc)
        return rc;

    if (roost_str_eq_c(req->path, "/mqtt") && roost_str_eq_c(req->method, "GET"))
        return serve_mqtt(ac, req, request_id, direct, t0_us, out_served);

    bool metrics = roost_str_eq_c(req->path, "/metrics");
    const struct roost_peer *peer = roost_conn_peer(ac->conn);
    if (!metrics && peer->has_cert && !signed_request(req)) {
        /* A device with its certificate (mTLS), as AWS serves devices on
         * 8443 and with ALPN x-amzn-http-ca: the data plane, under its
         * policies. */
        submit_dataplane(ac, req, request_id, t0_us, peer->cert_id);
        return 0;
    }
    struct roost_sigv4_result res;
    if (authenticate(ac, req, metrics ? services_control : services_any, &res)) {
        answer_error(ac, request_id, res.status, res.error_code, res.message, keep_alive, head,
                     t0_us);
        return 0;
    }
    if (metrics && (roost_str_eq_c(req->method, "GET") || head)) {
        answer_metrics(ac, request_id, keep_alive, head, t0_us);
        return 0;
    }
    if (metrics) {
        answer_error(ac, request_id, 405, "MethodNotAllowedException", "Method Not Allowed",
                     keep_alive, head, t0_us);
        return 0;
    }
    if (is_iotdata_service(res.service)) {
        submit_dataplane(ac, req, request_id, t0_us, NULL);
        return 0;
    }
    if (!is_control_service(res.service) || !api->cfg.registry || !api->cfg.store) {
        answer_error(ac, request_id, 404, "ResourceNotFoundException", "Not Found", keep_alive,
                     head, t0_us);
        return 0;
    }
    submit_call(ac, req, request_id, t0_us);
    return 0;
}

/* The status and text for a request the parser refused. */
static void answer_parse_error(struct api_conn *ac, int rc, const struct roost_http_request *req)
{
    int status = req->error_status ? req->error_status : 400;
    const char *code = "InvalidRequestException";
    const char *msg = "Malformed HTTP request";
    if (status == 413) {
        code = "RequestEntityTooLargeException";
        msg = "The request body is too large";
    } else if (status == 431) {
        code = "RequestHeaderFieldsTooLargeException";
        msg = "The request header fields are too large";
    } else if (status == 505) {
        code = "HttpVersionNotSupportedException";
        msg = "HTTP Version Not Supported";
    }
    char request_id[37];
    if (roost_http_request_id_new(request_id))
        request_id[0] = '\0';
    roost_log_info(SUB, "%s: bad request (%s): %d", roost_conn_peer(ac->conn)->addr,
                   roost_errname(rc), status);
    answer_error(ac, request_id[0] ? request_id : NULL, status, code, msg, false, false,
                 roost_now_us());
}

/*
 * Parses and serves requests from `src` (the net layer's buffer when
 * `direct`, else ac->pend) until it runs dry, a call goes to the store, or
 * the connection is closing. Returns 0 or an error that closes the
 * connection; after an upgrade returns at once without touching `ac`.
 */
static int serve(struct api_conn *ac, struct roost_buf *src, bool direct)
{
    struct roost_api *api = ac->api;
    int rc = 0;
    while (!ac->busy && !ac->closing && roost_buf_size(src)) {
        struct roost_http_request req;
        roost_arena_reset(&ac->arena);
        int n = roost_http_parse_request(roost_buf_head(src), roost_buf_size(src), &api->limits,
                                         &req, &ac->arena);
        if (n == ROOST_EAGAIN) {
            if (req.header_len && req.expect_continue && !ac->continue_sent) {
                static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
                rc = roost_buf_append(roost_conn_out(ac->conn), cont, sizeof(cont) - 1);
                if (rc)
                    return rc;
                roost_conn_flush(ac->conn);
                ac->continue_sent = true;
            }
            /* A body still coming: hold it ourselves, past the net layer's
             * input bound. A partial header block (<= the header limit)
             * stays where it is, so an upgrade can still be taken from it. */
            if (direct && req.header_len) {
                rc = roost_buf_append(&ac->pend, roost_buf_head(src), roost_buf_size(src));
                if (rc)
                    return rc;
                roost_buf_consume(src, roost_buf_size(src));
            }
            return 0;
        }
        if (n < 0) {
            answer_parse_error(ac, n, &req);
            roost_buf_consume(src, roost_buf_size(src));
            return 0;
        }
        ac->continue_sent = false;
        enum served served;
        rc = serve_one(ac, &req, direct, &served);
        if (served == SERVED_UPGRADED)
            return 0;
        if (rc)
            return rc;
        roost_buf_consume(src, (size_t)n);
    }
    if (ac->closing) {
        roost_buf_consume(src, roost_buf_size(src));
    } else if (direct && ac->busy && roost_buf_size(src)) {
        /* pipelined behind the call in flight: the net layer will not hand
         * these over again, so keep them */
        rc = roost_buf_append(&ac->pend, roost_buf_head(src), roost_buf_size(src));
        roost_buf_consume(src, roost_buf_size(src));
    }
    if (!direct && roost_buf_size(&ac->pend) == 0)
        roost_buf_trim(&ac->pend, 0);
    return rc;
}

/* ==== The protocol handler ==================================================== */

static void *h_open(void *ud, struct roost_conn *c)
{
    struct roost_api *api = ud;
    struct api_conn *ac = roost_xcalloc(1, sizeof(*ac));
    ac->api = api;
    ac->conn = c;
    roost_ref_init(&ac->ref);
    roost_buf_init(&ac->pend, api->pend_limit);
    roost_arena_init(&ac->arena, ac->arena_buf, sizeof(ac->arena_buf));
    return ac;
}

static int h_data(void *state, struct roost_conn *c, struct roost_buf *in)
{
    struct api_conn *ac = state;
    if (ac->closing) {
        roost_buf_consume(in, roost_buf_size(in));
        return 0;
    }
    if (!ac->busy && roost_buf_size(&ac->pend) == 0)
        return serve(ac, in, true);
    int rc = roost_buf_append(&ac->pend, roost_buf_head(in), roost_buf_size(in));
    roost_buf_consume(in, roost_buf_size(in));
    if (rc) {
        roost_log_info(SUB, "%s: more than %zu bytes waiting: closing",
                       roost_conn_peer(c)->addr, ac->api->pend_limit);
        return rc;
    }
    return ac->busy ? 0 : serve(ac, &ac->pend, false);
}

static void h_closed(void *state, int rc)
{
    struct api_conn *ac = state;
    ac->conn = NULL;
    ac->closing = true;
    ac_unref(ac);
}

/* ==== Life cycle ================================================================ */

int roost_api_create(const struct roost_api_config *cfg, struct roost_api **out_api)
{
    *out_api = NULL;
    if (!cfg || !cfg->creds)
        return ROOST_EINVAL;
    struct roost_api *api = roost_xcalloc(1, sizeof(*api));
    api->cfg = *cfg;
    api->limits.max_body_bytes = cfg->max_body ? cfg->max_body : ROOST_HTTP_MAX_BODY_BYTES_DEFAULT;
    api->limits.max_header_bytes = ROOST_HTTP_MAX_HEADER_BYTES_DEFAULT;
    api->limits.max_headers = ROOST_HTTP_MAX_HEADERS_DEFAULT;
    /* A chunked body carries framing on top of its decoded size. */
    api->pend_limit = api->limits.max_header_bytes + 2 * api->limits.max_body_bytes + 65536;
    pthread_mutex_init(&api->mu, NULL);
    pthread_cond_init(&api->idle, NULL);
    pthread_mutex_init(&api->ops_mu, NULL);
    roost_map_init(&api->ops);
    api->handler = (struct roost_conn_handler){
        .open = h_open,
        .data = h_data,
        .closed = h_closed,
        .migrated = NULL,
        .ud = api,
    };
    *out_api = api;
    return 0;
}

const struct roost_conn_handler *roost_api_handler(struct roost_api *api)
{
    return &api->handler;
}

void roost_api_shutdown(struct roost_api *api)
{
    if (!api)
        return;
    pthread_mutex_lock(&api->mu);
    api->stopping = true;
    while (api->inflight)
        pthread_cond_wait(&api->idle, &api->mu);
    pthread_mutex_unlock(&api->mu);
}

void roost_api_destroy(struct roost_api *api)
{
    if (!api)
        return;
    pthread_mutex_lock(&api->mu);
    api->stopping = true;
    size_t inflight = api->inflight;
    pthread_mutex_unlock(&api->mu);
    if (inflight) {
        /* Their answers are posted to loops that may be gone: leaking them
         * is the only safe thing left (roost_api_shutdown prevents this). */
        roost_log_error(SUB, "destroyed with %zu calls in flight: call roost_api_shutdown "
                             "before roost_net_stop", inflight);
    }
    size_t pos = 0;
    struct roost_str key;
    void *v;
    while (roost_map_next(&api->ops, &pos, &key, &v))
        roost_free(v);
    roost_map_cleanup(&api->ops);
    pthread_mutex_destroy(&api->ops_mu);
    pthread_cond_destroy(&api->idle);
    pthread_mutex_destroy(&api->mu);
    roost_free(api);
}
