/*
 * api.h - the public header of the api subsystem: Roost's HTTPS control and
 * data plane, spoken the way AWS IoT speaks it so that the AWS CLI, boto3 and
 * the AWS SDKs work unmodified against it (`--endpoint-url`).
 *
 * This header is in sections. The two below are pure (no sockets, no loop,
 * no globals, time passed in where it matters):
 *  - HTTP/1.1 requests and responses (http_parse.c): a sans-I/O request
 *    parser for a keep-alive server, percent-decoding, query strings, the
 *    response writer and the AWS JSON error shape (spec/aws-iot.md 0.4);
 *  - AWS Signature Version 4 (sigv4.c): verification of the header form and
 *    of the presigned query form (MQTT over WebSocket), and a signer for
 *    Roost's own clients. docs/internals/SIGV4.md tells the subtleties.
 * The HTTPS server follows in its own section (the last).
 */
#ifndef ROOST_API_H
#define ROOST_API_H

#include "authz/authz.h"
#include "common/common.h"

/* ==== HTTP/1.1 requests (http_parse.c) =================================== */

#define ROOST_HTTP_MAX_HEADER_BYTES_DEFAULT (16u * 1024u) /* beyond: 431 */
#define ROOST_HTTP_MAX_BODY_BYTES_DEFAULT (1024u * 1024u) /* beyond: 413 */
#define ROOST_HTTP_MAX_HEADERS_DEFAULT 100u               /* beyond: 431 */

/* Limits on one request; a zero field takes the default above. */
struct roost_http_limits {
    size_t max_header_bytes; /* request line + header fields + blank line */
    size_t max_body_bytes;   /* the (decoded) body */
    size_t max_headers;      /* number of header fields */
};

struct roost_http_header {
    struct roost_str name;  /* as received; compare case-insensitively */
    struct roost_str value; /* leading and trailing spaces/tabs removed */
};

/* One parsed request. Every view points into the parsed buffer, except a
 * chunked body (decoded into the arena), `method` (a static string) and the
 * path "/" given to an absolute-form target that has none. */
struct roost_http_request {
    struct roost_str method;                 /* "GET", "POST", ... */
    struct roost_str target;                 /* request-target exactly as received */
    struct roost_str path;                   /* raw path, still percent-encoded ("/things/t1") */
    struct roost_str query;                  /* raw query after '?', without it; empty if none */
    unsigned version_major;                  /* 1 */
    unsigned version_minor;                  /* 0 or 1 */
    const struct roost_http_header *headers; /* in arrival order (arena) */
    size_t n_headers;
    struct roost_str body; /* Content-Length bytes or the decoded chunks */
    size_t header_len;     /* bytes of request line + header block */
    bool keep_alive;       /* HTTP/1.1 unless "Connection: close"; 1.0 only with keep-alive */
    bool upgrade;          /* "Connection: upgrade" + "Upgrade:" (WebSocket); bytes after
                            * header_len belong to the new protocol */
    bool expect_continue;  /* "Expect: 100-continue" */
    bool chunked;          /* the body came with Transfer-Encoding: chunked */
    int error_status;      /* after a failure: the status to answer (400, 413, 431, 505) */
};

/* Parses one whole request from the front of buf[0, len): request line,
 * header fields and the body (by Content-Length, or chunked, decoded;
 * trailer fields are dropped). Pure; allocations come from `arena` and live
 * as long as it does (reset it before each call, successful or not).
 *
 * Returns the number of bytes the request occupies (> 0; pipelined bytes
 * after it are left alone), or:
 *   ROOST_EAGAIN     incomplete: call again with more bytes. Once the header
 *                    block is complete, out->header_len and the header fields
 *                    are filled in already (so "Expect: 100-continue" can be
 *                    answered and the request routed early);
 *   ROOST_ETOOBIG    a limit was passed: out->error_status is 431 (header
 *                    block or field count) or 413 (body; known as soon as
 *                    Content-Length is seen);
 *   ROOST_EMALFORMED not HTTP/1.x, a smuggling-prone shape (Content-Length
 *                    with Transfer-Encoding, duplicate lengths, obsolete line
 *                    folding), HTTP/1.1 without exactly one Host; error_status
 *                    400 (505 for a version other than 1.x).
 * After any failure the connection must close: framing is lost. */
int roost_http_parse_request(const uint8_t *buf, size_t len, const struct roost_http_limits *lim,
                             struct roost_http_request *out, struct roost_arena *arena);

/* The value of the first header field called `name` (case-insensitive), or
 * NULL when there is none. */
const struct roost_str *roost_http_header(const struct roost_http_request *req, const char *name);

/* Percent-decodes `in` into the arena (NUL-terminated for convenience; the
 * length excludes it). '+' stays '+' (RFC 3986, as AWS treats paths and
 * queries). ROOST_EMALFORMED for a '%' not followed by two hex digits and for
 * "%00", which would cut C strings short. */
int roost_http_pct_decode(struct roost_str in, struct roost_arena *arena, struct roost_str *out);

struct roost_http_param {
    struct roost_str key;   /* percent-decoded */
    struct roost_str value; /* percent-decoded; "" for a key without '=' */
};

/* Splits a raw query string ("a=1&b=%2F&flag") into decoded pairs, in order,
 * repeated keys kept; empty pieces ("a=1&&b") are skipped. The array lives
 * in the arena. ROOST_EMALFORMED as for roost_http_pct_decode. */
int roost_http_query_parse(struct roost_str query, struct roost_arena *arena,
                           struct roost_http_param **out_params, size_t *out_n);

/* The first parameter called `key` (exact match), or NULL. */
const struct roost_http_param *roost_http_param_find(const struct roost_http_param *params,
                                                     size_t n, const char *key);

/* ---- Dates --------------------------------------------------------------- */

#define ROOST_HTTP_DATE_LEN 29 /* "Sun, 06 Nov 1994 08:49:37 GMT" */

/* Formats Unix seconds as an RFC 7231 IMF-fixdate into out (NUL-terminated). */
void roost_http_date_format(int64_t unix_s, char out[ROOST_HTTP_DATE_LEN + 1]);
/* Parses an IMF-fixdate; ROOST_EMALFORMED otherwise. */
int roost_http_date_parse(struct roost_str s, int64_t *out_unix_s);

/* ---- Responses ------------------------------------------------------------ */

/* A response is written in three steps into `out`:
 *   begin       status line, Date, x-amzn-RequestId (when given) and
 *               Connection (keep-alive or close);
 *   add_header  any number of further fields;
 *   finish      Content-Type (when given), Content-Length, the blank line and
 *               the body.
 * Each step either appends completely or leaves `out` as it was and fails:
 * ROOST_ETOOBIG when `out` hits its limit, ROOST_EINVAL for a status outside
 * 100..599 or a name/value with CR, LF or NUL (no header injection). */
int roost_http_response_begin(struct roost_buf *out, int status, const char *request_id,
                              bool keep_alive);
int roost_http_response_add_header(struct roost_buf *out, const char *name, const char *value);
int roost_http_response_finish(struct roost_buf *out, const char *content_type, const void *body,
                               size_t len);

/* A whole AWS-style error response (spec/aws-iot.md 0.4): header
 * `x-amzn-ErrorType: <code>`, Content-Type application/json and the body
 * {"message":"<message>","__type":"<code>"}, JSON-escaped (bytes that are
 * not valid UTF-8 become U+FFFD). */
int roost_http_write_aws_error(struct roost_buf *out, int status, const char *code,
                               const char *message, const char *request_id, bool keep_alive);

/* A fresh random request id (UUID v4 text, 36 chars + NUL) for
 * x-amzn-RequestId. */
int roost_http_request_id_new(char out[37]);

/* ==== AWS Signature Version 4 (sigv4.c) =================================== */

#define ROOST_SIGV4_MAX_SKEW_DEFAULT 900 /* seconds: AWS's 15 minutes */
#define ROOST_SIGV4_AKID_MAX 128
#define ROOST_SIGV4_SECRET_MAX 128

/* Looks up the secret of an access key id. `session_token` is the
 * X-Amz-Security-Token sent with the request (NULL when none), for stores
 * that issue temporary credentials. Writes the NUL-terminated secret and
 * returns 0; ROOST_ENOTFOUND for an unknown key (or a token that does not
 * belong to it); any other negative code is an internal failure. */
typedef int (*roost_sigv4_secret_fn)(void *ud, const char *access_key_id, const char *session_token,
                                     char out_secret[ROOST_SIGV4_SECRET_MAX + 1]);

struct roost_sigv4_params {
    const char *const *services; /* signing names accepted, NULL-terminated, e.g.
                                  * {"iot"}, {"iotdata","iotdevicegateway"}, {"iot-jobs-data"} */
    roost_sigv4_secret_fn secret_fn;
    void *secret_ud;
    int64_t now;      /* wall clock, Unix seconds */
    int64_t max_skew; /* seconds either side of `now`; 0 = 900 */
};

struct roost_sigv4_result {
    /* success */
    char access_key_id[ROOST_SIGV4_AKID_MAX + 1];
    char region[64];                /* from the credential scope */
    char service[64];               /* the signing name used */
    int64_t signed_at;              /* X-Amz-Date (or Date), Unix seconds */
    bool presigned;                 /* query-string form (X-Amz-Signature) */
    struct roost_str session_token; /* X-Amz-Security-Token (header or query), may be
                                     * empty; lives as long as the request and scratch */
    /* failure (ROOST_EAUTH or an internal error) */
    int status;             /* HTTP status to answer: 400, 403 or 500 */
    const char *error_code; /* e.g. "InvalidSignatureException" (static) */
    char message[512];      /* AWS's wording */
};

/* Verifies the SigV4 signature of a parsed request: the Authorization header
 * form, or the presigned query form (X-Amz-Algorithm, X-Amz-Credential,
 * X-Amz-Date, X-Amz-SignedHeaders, X-Amz-Signature, optional X-Amz-Expires
 * and X-Amz-Security-Token). Pure; `scratch` holds temporaries.
 *
 * Returns 0 when the signature is good (out's success fields set), or
 * ROOST_EAUTH with out->status/error_code/message set to what AWS answers:
 *   403 MissingAuthenticationTokenException  no signature at all;
 *   400 IncompleteSignatureException         malformed Authorization / scope;
 *   403 UnrecognizedClientException          unknown access key;
 *   403 InvalidSignatureException            wrong signature, wrong service,
 *                                            clock skew or expiry.
 * Another negative code (from secret_fn) means an internal failure (500). */
int roost_sigv4_verify(const struct roost_http_request *req, const struct roost_sigv4_params *p,
                       struct roost_arena *scratch, struct roost_sigv4_result *out);

/* Signs a request the way botocore does (header form), for Roost's own
 * clients and for tests: `req` must already carry every header named in
 * `signed_headers` ("host;x-amz-date", lowercase, sorted, ';'-separated),
 * including X-Amz-Date equal to `amz_date` ("20261122T101500Z"). Writes the
 * Authorization header value, NUL-terminated, into the arena. */
int roost_sigv4_sign(const struct roost_http_request *req, const char *signed_headers,
                     const char *access_key_id, const char *secret, const char *region,
                     const char *service, const char *amz_date, struct roost_arena *scratch,
                     const char **out_authorization);

/* ==== HTTPS server (credentials.c, call.c, server.c) ====================== */

/*
 * The control-plane server behind roostd's HTTPS port: an HTTP/1.1
 * keep-alive protocol handler for src/net (one request at a time per
 * connection), SigV4 authentication against the admin credentials, the
 * registry's operations run inside one store transaction each, AWS-shaped
 * responses, MQTT over WebSocket at GET /mqtt and Prometheus text at
 * GET /metrics. docs/internals/API.md tells the life of a request.
 */

struct roost_registry;
struct roost_registry_effects;
struct roost_store;
struct roost_shadow_service;
struct roost_broker;
struct roost_conn_handler;
struct roost_api_call;
struct roost_api;

/* ---- Admin credentials (credentials.c) ---------------------------------- */

#define ROOST_API_CREDENTIALS_FILE "admin.credentials" /* in the data dir */

struct roost_api_credential {
    char profile[64];                                  /* section name, e.g. "default" */
    char access_key_id[ROOST_SIGV4_AKID_MAX + 1];
    char secret_access_key[ROOST_SIGV4_SECRET_MAX + 1];
};

/* Every profile of the file that holds a key pair; each is an admin key. */
struct roost_api_credentials {
    struct roost_api_credential *keys; /* heap array of n */
    size_t n;
};

/* Reads DATA_DIR/admin.credentials, creating it first when absent (one
 * random [default] pair: "AKIA" + 16 of [A-Z0-9], 40-char secret of
 * [A-Za-z0-9+/]; mode 0600; written to a temporary file and linked into
 * place, so never half-written and never replaced). *out must be zeroed;
 * *out_created (optional) tells whether the file was made now. Release with
 * roost_api_credentials_cleanup, also after a failure. ROOST_ECONFIG for a
 * file that is not a valid shared-credentials file or holds no pair. */
int roost_api_credentials_load_or_create(const char *path, struct roost_api_credentials *out,
                                         bool *out_created);
/* Pure: parses shared-credentials text (botocore's rules: [sections],
 * key = value, '#'/';' comment lines, no inline comments). Sections without
 * keys are skipped; a section with only one key, a duplicate section or key
 * id, or no pair at all is ROOST_ECONFIG, *out_line (optional) the line. */
int roost_api_credentials_parse(const char *text, size_t len, struct roost_api_credentials *out,
                                int *out_line);
/* A fresh random pair under profile "default". */
int roost_api_credentials_generate(struct roost_api_credential *out);
/* The pair with this access key id, or NULL. */
const struct roost_api_credential *
roost_api_credentials_find(const struct roost_api_credentials *creds, const char *access_key_id);
/* Wipes the secrets and frees; safe on a zeroed struct. */
void roost_api_credentials_cleanup(struct roost_api_credentials *creds);

/* ---- Requests to calls, calls to responses (call.c; pure) --------------- */

/* Fills the input half of a zeroed call from a parsed control-plane
 * request: call->op and labels (roost_registry_route on the raw path),
 * call->query (a JSON object of the decoded query parameters, the first of
 * repeated keys winning, plus the request headers operations read, under
 * their lowercase names: x-amzn-principal, x-amz-tagging,
 * x-amzn-iot-principal, x-amzn-iot-policy), call->body (the parsed JSON
 * object, NULL for an empty body) and call->raw_body (a heap copy,
 * NUL-terminated). `scratch` holds temporaries only.
 * On failure the call carries the AWS error (roost_api_fail) and the return
 * is negative: 400 InvalidRequestException for a path with empty, "." or
 * ".." segments, a bad percent escape, a query that is not UTF-8, or a body
 * that is not a JSON object; 404 ResourceNotFoundException "Not Found" for
 * no route; 405 MethodNotAllowedException when only the method is wrong.
 * Release the inputs with roost_api_call_inputs_cleanup and the rest with
 * roost_api_call_cleanup, whatever this returned. */
int roost_api_call_from_request(const struct roost_http_request *req, struct roost_arena *scratch,
                                struct roost_api_call *call);
/* Releases what roost_api_call_from_request put into the call's inputs. */
void roost_api_call_inputs_cleanup(struct roost_api_call *call);
/* Appends the whole response for a finished call: 200 with call->result as
 * compact JSON ("{}" when NULL), or the AWS error (x-amzn-ErrorType header,
 * body {"message", "__type"} plus the members of call->error_extra). Every
 * response carries Date, x-amzn-RequestId (call->request_id), Content-Type
 * application/json and Content-Length. Appends all or nothing. */
int roost_api_write_response(struct roost_buf *out, const struct roost_api_call *call,
                             bool keep_alive);

/* ---- The iot-data plane (dataplane.c) ------------------------------------ */

/* One data-plane request: GetThingShadow, UpdateThingShadow,
 * DeleteThingShadow, ListNamedShadowsForThing, Publish, GetRetainedMessage,
 * ListRetainedMessages (spec/aws-iot.md 2.1). The server zeroes it, sets the
 * inputs and roost_buf_init(&body, 0). */
struct roost_api_dp_call {
    /* ---- input ---- */
    const struct roost_api_config *cfg; /* shadow, broker, store */
    const char *request_id;
    const char *device_cert_id;         /* an mTLS device's certificate (checked against its
                                           policies before the call runs), or NULL (SigV4) */
    /* Runs once, on the store's writer thread, when a call that
     * roost_api_dataplane_start left pending (ROOST_EAGAIN) has its answer. */
    void (*finish)(struct roost_api_dp_call *c);
    void *ud;                           /* the server's */
    /* ---- output ---- */
    const char *op;                     /* AWS operation name once routed (static), or NULL */
    int status;                         /* 200, or the error's */
    const char *error_code;             /* AWS error type (static) */
    char error_message[256];
    struct roost_buf body;              /* 200: the response body (JSON) */
    atomic_int state;                   /* private: who completes a pending call */
};

/* Routes and runs a request signed for iot-data. Returns 0 when the call is
 * answered already (status etc. set: 4xx for a bad request, 404 "Not Found"
 * for no route, 405 when only the method is wrong), or ROOST_EAGAIN when it
 * went to the shadow service or the store: c->finish(c) follows, once. The
 * request and `scratch` are only used before this returns. */
int roost_api_dataplane_start(struct roost_api_dp_call *c, const struct roost_http_request *req,
                              struct roost_arena *scratch);
/* Appends the whole response: 200 + c->body, or the AWS error shape. All or
 * nothing. */
int roost_api_dataplane_write_response(struct roost_buf *out, const struct roost_api_dp_call *c,
                                       bool keep_alive);
void roost_api_dataplane_cleanup(struct roost_api_dp_call *c);

/* ---- The server (server.c) ---------------------------------------------- */

struct roost_store_txn;

struct roost_api_config {
    struct roost_registry *registry;      /* operations run against it */
    struct roost_store *store;            /* the registry's store: one TXN op per call */
    const struct roost_api_credentials *creds; /* admin keys; borrowed, outlive the api */
    const struct roost_conn_handler *mqtt_handler; /* GET /mqtt upgrades to it; NULL: 404 */
    /* After a committed call that changed something, on the store's writer
     * thread, after roost_registry_apply_effects (e.g. disconnect the
     * connections of revoked certificates). Optional. */
    void (*on_effects)(void *ud, const struct roost_registry_effects *fx);
    void *effects_ud;
    /* Appends Prometheus text for the rest of the server to GET /metrics;
     * runs on an event loop thread, must not block. Optional. */
    void (*metrics)(void *ud, struct roost_buf *out);
    void *metrics_ud;
    /* The iot-data plane (requests signed iotdata or iotdevicegateway):
     * shadows through the service, Publish and retained messages through
     * the broker. Optional: without them those operations answer 404. */
    struct roost_shadow_service *shadow;
    struct roost_broker *broker;
    /* Devices on the data plane: a request without SigV4 on a connection
     * whose client certificate was verified (mTLS, as AWS serves devices on
     * port 8443 or with ALPN x-amzn-http-ca) is the certificate's. This
     * says whether its policies allow `action` on the resource (`type`,
     * `name` as for roost_authz_check); it runs on the store's writer
     * thread inside a transaction, so it sees the registry as committed.
     * NULL: device requests are refused (403). */
    bool (*authorize_device)(void *ud, struct roost_store_txn *txn, const char *cert_id,
                             enum roost_authz_action action, enum roost_authz_rtype type,
                             const char *name);
    void *authorize_ud;
    size_t max_body;                      /* request body limit; 0 = 1 MiB */
    int64_t max_skew;                     /* SigV4 clock skew, seconds; 0 = 900 */
};

/* Makes the server (no sockets: hand roost_api_handler to a listener). The
 * configuration is copied; what it points to is borrowed. */
int roost_api_create(const struct roost_api_config *cfg, struct roost_api **out_api);
/* The HTTP/1.1 protocol handler, for roost_listener_config.handler. */
const struct roost_conn_handler *roost_api_handler(struct roost_api *api);
/* Stops taking new calls (503 ServiceUnavailableException from now on) and
 * waits until every call already submitted has been answered on its loop.
 * Call it while the event loops still run, before roost_net_stop. */
void roost_api_shutdown(struct roost_api *api);
/* Frees the server; after roost_net_stop (connections hold it). NULL ok. */
void roost_api_destroy(struct roost_api *api);
/* Appends the API's own counters as Prometheus text (what GET /metrics
 * serves before cfg->metrics): requests by status class and by operation,
 * authentication failures by AWS error code, request latency, calls in
 * flight, WebSocket upgrades. Thread-safe. */
void roost_api_metrics(struct roost_api *api, struct roost_buf *out);

#endif /* ROOST_API_H */
