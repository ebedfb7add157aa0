/*
 * dataplane.c - the iot-data plane of the HTTPS server: the REST face of the
 * Device Shadow service (Get/Update/DeleteThingShadow,
 * ListNamedShadowsForThing), Publish and the retained-message reads, for
 * requests signed `iotdata` or `iotdevicegateway` (server.c picks the plane
 * by the signing name, since GET /things/{name}/shadow-like paths would
 * otherwise be ambiguous with the control plane's).
 *
 * Shadow calls go to roost_shadow_service_request, so an HTTPS update is one
 * store transaction in order with the MQTT requests and publishes /accepted,
 * /delta and /documents as AWS does; ListNamedShadowsForThing reads the
 * service's documents in a store transaction of its own; Publish and the
 * retained reads are answered at once from the broker (thread-safe calls).
 * Responses: a shadow call answers with the shadow document as the service
 * wrote it (raw JSON, not re-encoded); errors take the AWS shape (header
 * x-amzn-ErrorType, {"message","__type"}) with iot-data's codes.
 */
#include "api/api.h"
#include "broker/broker.h"
#include "mqtt/mqtt.h"
#include "shadow/shadow.h"
#include "store/store.h"

#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>

#define SUB "api"
#define DP_TOPIC_MAX 256u                  /* AWS's topic length limit */
#define DP_PUBLISH_MAX (128u * 1024u)      /* AWS's message size limit */
#define DP_LIST_SHADOWS_DEFAULT 25u
#define DP_LIST_SHADOWS_MAX 100u
#define DP_LIST_RETAINED_DEFAULT 50u
#define DP_LIST_RETAINED_MAX 200u

/* Who finishes an asynchronous call: start returns first, or done comes
 * first (the service answers some requests before returning). */
enum { DP_RUNNING = 0, DP_STARTED = 1, DP_DONE = 2 };

static int dp_fail(struct roost_api_dp_call *c, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int dp_fail(struct roost_api_dp_call *c, int status, const char *code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->error_message, sizeof(c->error_message), fmt, ap);
    va_end(ap);
    c->status = status;
    c->error_code = code;
    return ROOST_EINVAL;
}

static int dp_ok_json(struct roost_api_dp_call *c, json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (!s)
        return dp_fail(c, 500, "InternalFailureException", "An unexpected error has occurred");
    roost_buf_clear(&c->body);
    int rc = roost_buf_append(&c->body, s, strlen(s));
    free(s); /* jansson's allocator */
    if (rc)
        return dp_fail(c, 500, "InternalFailureException", "An unexpected error has occurred");
    c->status = 200;
    return 0;
}

/* Ends an asynchronous call from whichever side comes second. */
static void dp_complete(struct roost_api_dp_call *c)
{
    if (atomic_exchange(&c->state, DP_DONE) == DP_STARTED)
        c->finish(c);
}

/* ==== Shadows ============================================================= */

static const char *shadow_error_code(int code)
{
    switch (code) {
    case 400: return "InvalidRequestException";
    case 401: return "UnauthorizedException";
    case 403: return "ForbiddenException";
    case 404: return "ResourceNotFoundException";
    case 405: return "MethodNotAllowedException";
    case 409: return "ConflictException";
    case 413: return "RequestEntityTooLargeException";
    case 415: return "UnsupportedDocumentEncodingException";
    case 429: return "ThrottlingException";
    case 503: return "ServiceUnavailableException";
    default: return "InternalFailureException";
    }
}

/* The service's answer (writer thread, or the caller's within start). */
static void shadow_done(void *ud, const struct roost_shadow_service_answer *a)
{
    struct roost_api_dp_call *c = ud;
    if (a->code) {
        dp_fail(c, a->code >= 400 && a->code <= 599 ? a->code : 500, shadow_error_code(a->code),
                "%s", a->message);
    } else if (roost_buf_append(&c->body, a->payload, a->len)) {
        dp_fail(c, 500, "InternalFailureException", "The response is too large");
    } else {
        c->status = 200;
    }
    dp_complete(c);
}

static int shadow_call(struct roost_api_dp_call *c, enum roost_shadow_op op, struct roost_str thing,
                       const struct roost_http_param *q, size_t nq, struct roost_str body)
{
    const struct roost_http_param *name = roost_http_param_find(q, nq, "name");
    struct roost_str sname = name ? name->value : (struct roost_str){"", 0};
    if (!c->cfg->shadow)
        return dp_fail(c, 404, "ResourceNotFoundException", "Not Found");
    c->op = op == ROOST_SHADOW_OP_GET      ? "GetThingShadow"
            : op == ROOST_SHADOW_OP_UPDATE ? "UpdateThingShadow"
                                           : "DeleteThingShadow";
    if (name && name->value.n == 0)
        return dp_fail(c, 400, "InvalidRequestException", "Invalid shadow name");
    atomic_store(&c->state, DP_RUNNING);
    roost_shadow_service_request(c->cfg->shadow, thing, sname, op, body.p, body.n, shadow_done, c);
    /* done already ran (on this thread): answered; else finish comes later */
    return atomic_exchange(&c->state, DP_STARTED) == DP_DONE ? 0 : ROOST_EAGAIN;
}

/* ---- ListNamedShadowsForThing: a read of the service's documents ---- */

struct list_shadows {
    struct roost_store_op op; /* first: released through it */
    struct roost_api_dp_call *c;
    char prefix[ROOST_SHADOW_THING_NAME_MAX + 2];   /* "<thing>/" */
    char after[ROOST_SHADOW_THING_NAME_MAX + 2 + ROOST_SHADOW_NAME_MAX];
    size_t limit;
    json_t *results;
    bool more;
    int64_t now;
};

static int list_shadows_doc(void *ud, const struct roost_store_doc *doc)
{
    struct list_shadows *l = ud;
    const char *sname = doc->name + strlen(l->prefix);
    if (!sname[0])
        return 0; /* the classic shadow has no name */
    if (json_array_size(l->results) == l->limit) {
        l->more = true;
        return 1;
    }
    return json_array_append_new(l->results, json_string(sname)) ? ROOST_ENOMEM : 0;
}

static int list_shadows_txn(struct roost_store_txn *txn, void *ud)
{
    struct list_shadows *l = ud;
    /* list_shadows_doc stops the walk (returning 1) at the first name past
     * the page, which tells that there is a next one */
    int rc = roost_store_doc_list(txn, "shadow", l->prefix, l->after[0] ? l->after : NULL, 0,
                                  list_shadows_doc, l);
    return rc == 1 ? 0 : rc;
}

static void list_shadows_done(void *ud, int rc)
{
    struct list_shadows *l = ud;
    struct roost_api_dp_call *c = l->c;
    if (rc) {
        roost_log_error(SUB, "%s: ListNamedShadowsForThing: %s", c->request_id,
                        roost_strerror(rc));
        dp_fail(c, 500, "InternalFailureException", "An unexpected error has occurred");
    } else {
        json_t *o = json_object();
        json_object_set(o, "results", l->results);
        size_t n = json_array_size(l->results);
        if (l->more && n)
            json_object_set_new(o, "nextToken",
                                json_string(json_string_value(json_array_get(l->results, n - 1))));
        json_object_set_new(o, "timestamp", json_integer(l->now));
        dp_ok_json(c, o);
    }
    dp_complete(c);
}

static void list_shadows_release(struct roost_store_op *op)
{
    struct list_shadows *l = (struct list_shadows *)op;
    json_decref(l->results);
    roost_free(l);
}

static int list_shadows(struct roost_api_dp_call *c, struct roost_str thing,
                        const struct roost_http_param *q, size_t nq)
{
    c->op = "ListNamedShadowsForThing";
    if (!c->cfg->shadow || !c->cfg->store)
        return dp_fail(c, 404, "ResourceNotFoundException", "Not Found");
    if (!roost_shadow_thing_name_valid(thing))
        return dp_fail(c, 400, "InvalidRequestException", "Invalid thing name");
    const struct roost_http_param *tok = roost_http_param_find(q, nq, "nextToken");
    const struct roost_http_param *ps = roost_http_param_find(q, nq, "pageSize");
    uint64_t limit = DP_LIST_SHADOWS_DEFAULT;
    if (ps && roost_parse_u64(ps->value.p, 1, DP_LIST_SHADOWS_MAX, &limit))
        return dp_fail(c, 400, "InvalidRequestException",
                       "pageSize must be between 1 and %u", DP_LIST_SHADOWS_MAX);
    if (tok && (!roost_shadow_name_valid(tok->value) || tok->value.n == 0))
        return dp_fail(c, 400, "InvalidRequestException", "Invalid nextToken");
    struct list_shadows *l = roost_xcalloc(1, sizeof(*l));
    l->c = c;
    l->limit = (size_t)limit;
    l->results = json_array();
    l->now = (int64_t)(roost_wall_ms() / 1000);
    snprintf(l->prefix, sizeof(l->prefix), "%.*s/", (int)thing.n, thing.p);
    if (tok)
        snprintf(l->after, sizeof(l->after), "%s%.*s", l->prefix, (int)tok->value.n,
                 tok->value.p);
    l->op.type = ROOST_STORE_TXN;
    l->op.u.txn.fn = list_shadows_txn;
    l->op.u.txn.ud = l;
    l->op.done = list_shadows_done;
    l->op.done_ud = l;
    l->op.release = list_shadows_release;
    atomic_store(&c->state, DP_RUNNING);
    roost_store_submit(c->cfg->store, &l->op);
    return atomic_exchange(&c->state, DP_STARTED) == DP_DONE ? 0 : ROOST_EAGAIN;
}

/* ==== Publish ============================================================== */

/* A topic a client may publish to: UTF-8, no wildcard, no NUL (the decoder
 * refuses %00), 1..256 bytes. */
static bool topic_ok(struct roost_str t)
{
    if (t.n == 0 || t.n > DP_TOPIC_MAX)
        return false;
    for (size_t i = 0; i < t.n; i++)
        if (t.p[i] == '+' || t.p[i] == '#')
            return false;
    json_t *s = json_stringn(t.p, t.n); /* NULL when not UTF-8 */
    json_decref(s);
    return s != NULL;
}

static bool param_bool(const struct roost_http_param *p, bool *out)
{
    if (!p)
        return true;
    if (roost_str_eq_c(p->value, "true"))
        *out = true;
    else if (roost_str_eq_c(p->value, "false"))
        *out = false;
    else
        return false;
    return true;
}

/* Standard base64 into the arena; false when `s` is not base64. */
static bool base64_decode(struct roost_str s, struct roost_arena *a, struct roost_str *out)
{
    if (s.n % 4)
        return false;
    unsigned char *buf = roost_arena_alloc(a, s.n / 4 * 3 + 1);
    int n = s.n ? EVP_DecodeBlock(buf, (const unsigned char *)s.p, (int)s.n) : 0;
    if (n < 0)
        return false;
    /* EVP_DecodeBlock counts the padding's zero bytes */
    for (size_t i = s.n; i > 0 && s.p[i - 1] == '='; i--)
        n--;
    *out = (struct roost_str){(const char *)buf, (size_t)n};
    return true;
}

static bool utf8_text(struct roost_str s)
{
    json_t *j = json_stringn(s.p, s.n); /* NULL when not UTF-8 */
    json_decref(j);
    return j != NULL;
}

/* Publish's MQTT 5 properties: headers x-amz-mqtt5-user-properties (base64
 * of a JSON array of one-member objects, as botocore sends a JSON value),
 * x-amz-mqtt5-payload-format-indicator (UNSPECIFIED_BYTES | UTF8_DATA),
 * x-amz-mqtt5-correlation-data (base64), and query parameters contentType,
 * responseTopic and messageExpiry (seconds). */
static int publish_props(struct roost_api_dp_call *c, const struct roost_http_request *req,
                         const struct roost_http_param *q, size_t nq, struct roost_arena *a,
                         struct roost_mqtt_props *props)
{
    memset(props, 0, sizeof(*props));
    const struct roost_str *h = roost_http_header(req, "x-amz-mqtt5-payload-format-indicator");
    if (h) {
        if (roost_str_eq_c(*h, "UTF8_DATA"))
            props->payload_format = 1;
        else if (!roost_str_eq_c(*h, "UNSPECIFIED_BYTES"))
            return dp_fail(c, 400, "InvalidRequestException",
                           "payloadFormatIndicator must be UNSPECIFIED_BYTES or UTF8_DATA");
        roost_mqtt_prop_set(props, ROOST_PROP_PAYLOAD_FORMAT);
        if (props->payload_format == 1 && !utf8_text(req->body))
            return dp_fail(c, 400, "InvalidRequestException",
                           "The payload is not UTF-8 but payloadFormatIndicator is UTF8_DATA");
    }
    h = roost_http_header(req, "x-amz-mqtt5-correlation-data");
    if (h) {
        if (!base64_decode(*h, a, &props->correlation_data) ||
            props->correlation_data.n > UINT16_MAX)
            return dp_fail(c, 400, "InvalidRequestException",
                           "correlationData must be base64-encoded binary data");
        roost_mqtt_prop_set(props, ROOST_PROP_CORRELATION_DATA);
    }
    const struct roost_http_param *p = roost_http_param_find(q, nq, "contentType");
    if (p) {
        if (!utf8_text(p->value) || p->value.n > UINT16_MAX)
            return dp_fail(c, 400, "InvalidRequestException", "Invalid contentType");
        props->content_type = p->value;
        roost_mqtt_prop_set(props, ROOST_PROP_CONTENT_TYPE);
    }
    p = roost_http_param_find(q, nq, "responseTopic");
    if (p) {
        if (!topic_ok(p->value))
            return dp_fail(c, 400, "InvalidRequestException", "Invalid responseTopic");
        props->response_topic = p->value;
        roost_mqtt_prop_set(props, ROOST_PROP_RESPONSE_TOPIC);
    }
    p = roost_http_param_find(q, nq, "messageExpiry");
    if (p) {
        uint64_t secs = 0;
        if (roost_parse_u64(p->value.p, 0, UINT32_MAX, &secs))
            return dp_fail(c, 400, "InvalidRequestException",
                           "messageExpiry must be a number of seconds");
        props->message_expiry = (uint32_t)secs;
        roost_mqtt_prop_set(props, ROOST_PROP_MESSAGE_EXPIRY);
    }
    h = roost_http_header(req, "x-amz-mqtt5-user-properties");
    if (h) {
        struct roost_str text;
        json_t *arr = NULL;
        if (base64_decode(*h, a, &text))
            arr = json_loadb(text.p, text.n, JSON_DECODE_ANY, NULL);
        if (json_is_string(arr)) {
            /* boto3 given the documented "JSON string" encodes it once more */
            json_t *inner = json_loadb(json_string_value(arr), json_string_length(arr), 0, NULL);
            json_decref(arr);
            arr = inner;
        }
        size_t n = json_array_size(arr);
        bool ok = json_is_array(arr) && n > 0 && n <= 64;
        struct roost_mqtt_user_prop *up = ok ? roost_arena_alloc(a, n * sizeof(*up)) : NULL;
        for (size_t i = 0; ok && i < n; i++) {
            json_t *o = json_array_get(arr, i);
            const char *k = NULL;
            json_t *v = NULL;
            ok = json_is_object(o) && json_object_size(o) == 1;
            if (ok) {
                void *it = json_object_iter(o);
                k = json_object_iter_key(it);
                v = json_object_iter_value(it);
                ok = json_is_string(v);
            }
            if (ok) {
                up[i].key = (struct roost_str){roost_arena_strndup(a, k, strlen(k)), strlen(k)};
                up[i].value = (struct roost_str){
                    roost_arena_strndup(a, json_string_value(v), json_string_length(v)),
                    json_string_length(v)};
            }
        }
        json_decref(arr);
        if (!ok)
            return dp_fail(c, 400, "InvalidRequestException",
                           "userProperties must be a base64-encoded JSON array of objects "
                           "with one string member each");
        props->user = up;
        props->n_user = n;
    }
    return 0;
}

static int publish(struct roost_api_dp_call *c, struct roost_str topic,
                   const struct roost_http_param *q, size_t nq,
                   const struct roost_http_request *req, struct roost_arena *scratch)
{
    struct roost_str body = req->body;
    c->op = "Publish";
    if (!c->cfg->broker)
        return dp_fail(c, 404, "ResourceNotFoundException", "Not Found");
    if (!topic_ok(topic))
        return dp_fail(c, 400, "InvalidRequestException", "Invalid topic name");
    const struct roost_http_param *qos_p = roost_http_param_find(q, nq, "qos");
    uint64_t qos = 0;
    if (qos_p && roost_parse_u64(qos_p->value.p, 0, 1, &qos))
        return dp_fail(c, 400, "InvalidRequestException", "qos must be 0 or 1");
    bool retain = false;
    if (!param_bool(roost_http_param_find(q, nq, "retain"), &retain))
        return dp_fail(c, 400, "InvalidRequestException", "retain must be true or false");
    if (body.n > DP_PUBLISH_MAX)
        return dp_fail(c, 413, "RequestEntityTooLargeException",
                       "The payload exceeds the maximum size allowed");
    struct roost_shadow_topic st;
    bool shadow_req = roost_shadow_topic_parse(topic, &st) == 0;
    if (topic.p[0] == '$' && !shadow_req)
        return dp_fail(c, 403, "ForbiddenException", "Publishing to %.*s is not allowed",
                       (int)ROOST_MIN(topic.n, 256u), topic.p);
    if (retain && topic.p[0] == '$')
        return dp_fail(c, 400, "InvalidRequestException",
                       "Retained messages are not allowed on reserved topics");
    struct roost_mqtt_props props;
    if (publish_props(c, req, q, nq, scratch, &props))
        return ROOST_EINVAL;
    char *t = roost_xstrndup(topic.p, topic.n);
    /* A shadow request reaches the service as over MQTT (answers on
     * /accepted or /rejected), and subscribers, as over MQTT. */
    if (shadow_req && c->cfg->shadow)
        roost_shadow_service_request(c->cfg->shadow, st.thing, st.name, st.op, body.p, body.n,
                                     NULL, NULL);
    if (props.present || props.n_user)
        roost_broker_publish_props(c->cfg->broker, t, body.p, body.n, (uint8_t)qos, retain,
                                   &props);
    else
        roost_broker_publish(c->cfg->broker, t, body.p, body.n, (uint8_t)qos, retain);
    roost_free(t);
    json_t *o = json_object();
    json_object_set_new(o, "message", json_string("OK"));
    json_object_set_new(o, "traceId", json_string(c->request_id ? c->request_id : ""));
    return dp_ok_json(c, o);
}

/* ==== Retained messages ===================================================== */

static json_t *base64_json(const uint8_t *p, size_t n)
{
    char *b = roost_xmalloc(4 * ((n + 2) / 3) + 1);
    EVP_EncodeBlock((unsigned char *)b, p, (int)n);
    json_t *j = json_string(b);
    roost_free(b);
    return j;
}

static int get_retained(struct roost_api_dp_call *c, struct roost_str topic)
{
    c->op = "GetRetainedMessage";
    if (!c->cfg->broker)
        return dp_fail(c, 404, "ResourceNotFoundException", "Not Found");
    if (!topic_ok(topic))
        return dp_fail(c, 400, "InvalidRequestException", "Invalid topic name");
    char *t = roost_xstrndup(topic.p, topic.n);
    struct roost_broker_retained r;
    memset(&r, 0, sizeof(r));
    int rc = roost_broker_retained_get(c->cfg->broker, t, &r);
    roost_free(t);
    if (rc == ROOST_ENOTFOUND)
        return dp_fail(c, 404, "ResourceNotFoundException", "No retained message found");
    if (rc)
        return dp_fail(c, 500, "InternalFailureException", "An unexpected error has occurred");
    json_t *o = json_object();
    json_object_set_new(o, "topic", json_string(r.topic));
    json_object_set_new(o, "payload", base64_json(r.payload, r.payload_len));
    json_object_set_new(o, "qos", json_integer(r.qos));
    json_object_set_new(o, "lastModifiedTime", json_integer((json_int_t)r.last_modified_ms));
    roost_broker_retained_cleanup(&r);
    return dp_ok_json(c, o);
}

struct list_retained {
    json_t *topics;
    size_t limit;
    bool more;
};

static int list_retained_one(void *ud, const struct roost_broker_retained *r)
{
    struct list_retained *l = ud;
    if (json_array_size(l->topics) == l->limit) {
        l->more = true;
        return 1;
    }
    json_t *o = json_object();
    json_object_set_new(o, "topic", json_string(r->topic));
    json_object_set_new(o, "payloadSize", json_integer((json_int_t)r->payload_len));
    json_object_set_new(o, "qos", json_integer(r->qos));
    json_object_set_new(o, "lastModifiedTime", json_integer((json_int_t)r->last_modified_ms));
    return json_array_append_new(l->topics, o) ? ROOST_ENOMEM : 0;
}

static int list_retained(struct roost_api_dp_call *c, const struct roost_http_param *q, size_t nq)
{
    c->op = "ListRetainedMessages";
    if (!c->cfg->broker)
        return dp_fail(c, 404, "ResourceNotFoundException", "Not Found");
    const struct roost_http_param *tok = roost_http_param_find(q, nq, "nextToken");
    const struct roost_http_param *mr = roost_http_param_find(q, nq, "maxResults");
    uint64_t limit = DP_LIST_RETAINED_DEFAULT;
    if (mr && roost_parse_u64(mr->value.p, 1, DP_LIST_RETAINED_MAX, &limit))
        return dp_fail(c, 400, "InvalidRequestException", "maxResults must be between 1 and %u",
                       DP_LIST_RETAINED_MAX);
    if (tok && !topic_ok(tok->value))
        return dp_fail(c, 400, "InvalidRequestException", "Invalid nextToken");
    struct list_retained l = {.topics = json_array(), .limit = (size_t)limit};
    char *after = tok ? roost_xstrndup(tok->value.p, tok->value.n) : NULL;
    int rc = roost_broker_retained_list(c->cfg->broker, after, l.limit + 1, list_retained_one, &l);
    roost_free(after);
    if (rc && rc != 1) {
        json_decref(l.topics);
        return dp_fail(c, 500, "InternalFailureException", "An unexpected error has occurred");
    }
    json_t *o = json_object();
    size_t n = json_array_size(l.topics);
    if (l.more && n) {
        json_t *last = json_object_get(json_array_get(l.topics, n - 1), "topic");
        json_object_set_new(o, "nextToken", json_string(json_string_value(last)));
    }
    json_object_set_new(o, "retainedTopics", l.topics);
    return dp_ok_json(c, o);
}

/* ==== Routing ================================================================ */

/* The decoded rest of `path` after `prefix` (which ends with '/'), into the
 * arena: SDKs send a topic as one percent-encoded segment, curl users
 * raw slashes; both decode to the same topic. */
static int rest_of(struct roost_str path, const char *prefix, struct roost_arena *a,
                   struct roost_str *out)
{
    size_t n = strlen(prefix);
    return roost_http_pct_decode((struct roost_str){path.p + n, path.n - n}, a, out);
}

static bool has_prefix(struct roost_str s, const char *prefix)
{
    size_t n = strlen(prefix);
    return s.n >= n && memcmp(s.p, prefix, n) == 0;
}

static int method_not_allowed(struct roost_api_dp_call *c)
{
    return dp_fail(c, 405, "MethodNotAllowedException", "Method Not Allowed");
}

/* /things/{thingName}/shadow: the thing name, still encoded, or false. */
static bool match_shadow_path(struct roost_str path, struct roost_str *out_thing)
{
    static const char pre[] = "/things/", post[] = "/shadow";
    size_t np = sizeof(pre) - 1, ns = sizeof(post) - 1;
    if (path.n <= np + ns || !has_prefix(path, pre) ||
        memcmp(path.p + path.n - ns, post, ns) != 0)
        return false;
    *out_thing = (struct roost_str){path.p + np, path.n - np - ns};
    return memchr(out_thing->p, '/', out_thing->n) == NULL;
}

/* ==== Devices (mTLS) ======================================================== */

/* The action and resource a data-plane request needs from a device's
 * policies (AWS's "action resources" table): the shadow actions on
 * thing/<thing>[/<shadow>], Publish (and RetainPublish) and
 * GetRetainedMessage on topic/<topic>, ListRetainedMessages on "*". Returns
 * false for a request that does not route: it is answered with its error
 * without asking the policies. */
struct dp_target {
    enum roost_authz_action action;
    bool retain;                       /* Publish with retain=true: RetainPublish too */
    enum roost_authz_rtype type;
    char *name;                        /* in the scratch arena */
};

static bool device_target(const struct roost_http_request *req, struct roost_arena *scratch,
                          struct dp_target *t)
{
    struct roost_http_param *q = NULL;
    size_t nq = 0;
    struct roost_str m = req->method, path = req->path, enc, dec;
    bool get = roost_str_eq_c(m, "GET") || roost_str_eq_c(m, "HEAD");
    memset(t, 0, sizeof(*t));
    if (roost_http_query_parse(req->query, scratch, &q, &nq))
        return false;
    if (match_shadow_path(path, &enc)) {
        if (roost_http_pct_decode(enc, scratch, &dec))
            return false;
        const struct roost_http_param *sn = roost_http_param_find(q, nq, "name");
        if (get)
            t->action = ROOST_AUTHZ_GET_THING_SHADOW;
        else if (roost_str_eq_c(m, "POST"))
            t->action = ROOST_AUTHZ_UPDATE_THING_SHADOW;
        else if (roost_str_eq_c(m, "DELETE"))
            t->action = ROOST_AUTHZ_DELETE_THING_SHADOW;
        else
            return false;
        t->type = ROOST_AUTHZ_RES_THING;
        size_t n = dec.n + 2 + (sn ? sn->value.n : 0);
        t->name = roost_arena_alloc(scratch, n);
        snprintf(t->name, n, "%.*s%s%.*s", (int)dec.n, dec.p, sn ? "/" : "",
                 sn ? (int)sn->value.n : 0, sn ? sn->value.p : "");
        return true;
    }
    static const char list_pre[] = "/api/things/shadow/ListNamedShadowsForThing/";
    if (has_prefix(path, list_pre) && get && !rest_of(path, list_pre, scratch, &dec)) {
        t->action = ROOST_AUTHZ_LIST_NAMED_SHADOWS;
        t->type = ROOST_AUTHZ_RES_THING;
        t->name = roost_arena_strndup(scratch, dec.p, dec.n);
        return true;
    }
    if (has_prefix(path, "/topics/") && roost_str_eq_c(m, "POST") &&
        !rest_of(path, "/topics/", scratch, &dec)) {
        t->action = ROOST_AUTHZ_PUBLISH;
        t->type = ROOST_AUTHZ_RES_TOPIC;
        t->name = roost_arena_strndup(scratch, dec.p, dec.n);
        const struct roost_http_param *r = roost_http_param_find(q, nq, "retain");
        t->retain = r && roost_str_eq_c(r->value, "true");
        return true;
    }
    if (roost_str_eq_c(path, "/retainedMessage") && get) {
        t->action = ROOST_AUTHZ_LIST_RETAINED_MESSAGES;
        t->type = ROOST_AUTHZ_RES_RAW;
        t->name = roost_arena_strndup(scratch, "*", 1);
        return true;
    }
    if (has_prefix(path, "/retainedMessage/") && get &&
        !rest_of(path, "/retainedMessage/", scratch, &dec)) {
        t->action = ROOST_AUTHZ_GET_RETAINED_MESSAGE;
        t->type = ROOST_AUTHZ_RES_TOPIC;
        t->name = roost_arena_strndup(scratch, dec.p, dec.n);
        return true;
    }
    return false;
}

/* A device's request waits for its policies: the parts of the request the
 * call reads, copied (the connection's buffers move on), and an inner call
 * that runs it once allowed. */
struct dp_device {
    struct roost_api_dp_call *outer;
    struct roost_api_dp_call inner;
    struct dp_target target;
    char cert_id[65];
    char *method, *path, *query, *body;
    size_t method_len, path_len, query_len, body_len;
    bool allowed;
    char name[512];                    /* the target's name, owned */
};

static void dp_device_free(struct dp_device *d)
{
    roost_api_dataplane_cleanup(&d->inner);
    roost_free(d->method);
    roost_free(d->path);
    roost_free(d->query);
    roost_free(d->body);
    roost_free(d);
}

/* The inner call's answer becomes the device's. */
static void dp_device_answer(struct dp_device *d)
{
    struct roost_api_dp_call *c = d->outer;
    c->op = d->inner.op;
    c->status = d->inner.status;
    c->error_code = d->inner.error_code;
    memcpy(c->error_message, d->inner.error_message, sizeof(c->error_message));
    struct roost_buf tmp = c->body;
    c->body = d->inner.body;
    d->inner.body = tmp;
    dp_device_free(d);
    dp_complete(c);
}

static void dp_device_inner_finish(struct roost_api_dp_call *inner)
{
    dp_device_answer(inner->ud);
}

static int dp_device_txn(struct roost_store_txn *txn, void *ud)
{
    struct dp_device *d = ud;
    const struct roost_api_config *cfg = d->outer->cfg;
    d->allowed = cfg->authorize_device &&
                 cfg->authorize_device(cfg->authorize_ud, txn, d->cert_id, d->target.action,
                                       d->target.type, d->name) &&
                 (!d->target.retain ||
                  cfg->authorize_device(cfg->authorize_ud, txn, d->cert_id,
                                        ROOST_AUTHZ_RETAIN_PUBLISH, d->target.type, d->name));
    return 0;
}

/* On the writer thread: refused, or run the request as the inner call. */
static void dp_device_done(void *ud, int rc)
{
    struct dp_device *d = ud;
    struct roost_api_dp_call *c = d->outer;
    if (rc || !d->allowed) {
        roost_log_info(SUB, "%s: device %.12s: %s on %s not allowed%s", c->request_id, d->cert_id,
                       roost_authz_action_name(d->target.action), d->name,
                       rc ? " (store failure)" : "");
        c->op = NULL;
        if (rc)
            dp_fail(c, 500, "InternalFailureException", "An unexpected error has occurred");
        else
            dp_fail(c, 403, "ForbiddenException", "Forbidden");
        dp_device_free(d);
        dp_complete(c);
        return;
    }
    struct roost_http_request req = {
        .method = {d->method, d->method_len},
        .path = {d->path, d->path_len},
        .query = {d->query ? d->query : "", d->query_len},
        .body = {d->body ? d->body : "", d->body_len},
    };
    struct roost_arena scratch;
    roost_arena_init(&scratch, NULL, 0);
    d->inner.cfg = c->cfg;
    d->inner.request_id = c->request_id;
    d->inner.finish = dp_device_inner_finish;
    d->inner.ud = d;
    roost_buf_init(&d->inner.body, 0);
    int irc = roost_api_dataplane_start(&d->inner, &req, &scratch);
    roost_arena_cleanup(&scratch);
    if (irc != ROOST_EAGAIN)
        dp_device_answer(d); /* answered at once */
}

static char *dup_str(struct roost_str s, size_t *out_len)
{
    *out_len = s.n;
    char *p = roost_xmalloc(s.n + 1);
    if (s.n)
        memcpy(p, s.p, s.n);
    p[s.n] = '\0';
    return p;
}

static int device_start(struct roost_api_dp_call *c, const struct roost_http_request *req,
                        struct roost_arena *scratch)
{
    struct dp_target t;
    if (!c->cfg->store || !device_target(req, scratch, &t) || strlen(t.name) >= 512) {
        /* Not a request any policy could allow (unroutable, wrong method,
         * malformed): its routing error, from a probe that has no services
         * to call, so nothing can run without the policies' say. */
        struct roost_api_config none = *c->cfg;
        none.shadow = NULL;
        none.broker = NULL;
        none.store = NULL;
        struct roost_api_dp_call probe = *c;
        probe.cfg = &none;
        probe.device_cert_id = NULL;
        roost_buf_init(&probe.body, 0);
        int rc = roost_api_dataplane_start(&probe, req, scratch);
        if (rc == ROOST_EAGAIN || probe.status == 200) {
            roost_log_error(SUB, "%s: device request routed without a target", c->request_id);
            roost_buf_cleanup(&probe.body);
            return dp_fail(c, 403, "ForbiddenException", "Forbidden");
        }
        c->op = probe.op;
        c->status = probe.status;
        c->error_code = probe.error_code;
        memcpy(c->error_message, probe.error_message, sizeof(c->error_message));
        roost_buf_cleanup(&probe.body);
        return 0;
    }
    struct dp_device *d = roost_xcalloc(1, sizeof(*d));
    d->outer = c;
    d->target = t;
    snprintf(d->name, sizeof(d->name), "%s", t.name);
    d->target.name = d->name;
    snprintf(d->cert_id, sizeof(d->cert_id), "%s", c->device_cert_id);
    d->method = dup_str(req->method, &d->method_len);
    d->path = dup_str(req->path, &d->path_len);
    d->query = dup_str(req->query, &d->query_len);
    d->body = dup_str(req->body, &d->body_len);
    struct roost_store_op *op = roost_xcalloc(1, sizeof(*op));
    op->type = ROOST_STORE_TXN;
    op->u.txn.fn = dp_device_txn;
    op->u.txn.ud = d;
    op->done = dp_device_done;
    op->done_ud = d;
    atomic_store(&c->state, DP_RUNNING);
    roost_store_submit(c->cfg->store, op);
    return atomic_exchange(&c->state, DP_STARTED) == DP_DONE ? 0 : ROOST_EAGAIN;
}

int roost_api_dataplane_start(struct roost_api_dp_call *c, const struct roost_http_request *req,
                              struct roost_arena *scratch)
{
    if (c->device_cert_id)
        return device_start(c, req, scratch);
    struct roost_http_param *q = NULL;
    size_t nq = 0;
    struct roost_str m = req->method, path = req->path, enc, dec;
    bool get = roost_str_eq_c(m, "GET") || roost_str_eq_c(m, "HEAD");
    c->status = 0;
    if (roost_http_query_parse(req->query, scratch, &q, &nq))
        return dp_fail(c, 400, "InvalidRequestException", "Malformed query string");

    if (match_shadow_path(path, &enc)) {
        if (roost_http_pct_decode(enc, scratch, &dec))
            return dp_fail(c, 400, "InvalidRequestException", "Malformed path");
        if (get)
            return shadow_call(c, ROOST_SHADOW_OP_GET, dec, q, nq, (struct roost_str){"", 0});
        if (roost_str_eq_c(m, "POST"))
            return shadow_call(c, ROOST_SHADOW_OP_UPDATE, dec, q, nq, req->body);
        if (roost_str_eq_c(m, "DELETE"))
            return shadow_call(c, ROOST_SHADOW_OP_DELETE, dec, q, nq, (struct roost_str){"", 0});
        return method_not_allowed(c);
    }
    static const char list_pre[] = "/api/things/shadow/ListNamedShadowsForThing/";
    if (has_prefix(path, list_pre) && path.n > sizeof(list_pre) - 1 &&
        !memchr(path.p + sizeof(list_pre) - 1, '/', path.n - (sizeof(list_pre) - 1))) {
        if (!get)
            return method_not_allowed(c);
        if (rest_of(path, list_pre, scratch, &dec))
            return dp_fail(c, 400, "InvalidRequestException", "Malformed path");
        return list_shadows(c, dec, q, nq);
    }
    if (has_prefix(path, "/topics/") && path.n > 8) {
        if (!roost_str_eq_c(m, "POST"))
            return method_not_allowed(c);
        if (rest_of(path, "/topics/", scratch, &dec))
            return dp_fail(c, 400, "InvalidRequestException", "Malformed path");
        return publish(c, dec, q, nq, req, scratch);
    }
    if (roost_str_eq_c(path, "/retainedMessage")) {
        if (!get)
            return method_not_allowed(c);
        return list_retained(c, q, nq);
    }
    if (has_prefix(path, "/retainedMessage/") && path.n > 17) {
        if (!get)
            return method_not_allowed(c);
        if (rest_of(path, "/retainedMessage/", scratch, &dec))
            return dp_fail(c, 400, "InvalidRequestException", "Malformed path");
        return get_retained(c, dec);
    }
    return dp_fail(c, 404, "ResourceNotFoundException", "Not Found");
}

int roost_api_dataplane_write_response(struct roost_buf *out, const struct roost_api_dp_call *c,
                                       bool keep_alive)
{
    if (c->status != 200)
        return roost_http_write_aws_error(
            out, c->status ? c->status : 500,
            c->error_code ? c->error_code : "InternalFailureException",
            c->error_message[0] ? c->error_message : "Internal Failure", c->request_id,
            keep_alive);
    size_t mark = out->len;
    int rc = roost_http_response_begin(out, 200, c->request_id, keep_alive);
    if (!rc)
        rc = roost_http_response_finish(out, "application/json", roost_buf_head(&c->body),
                                        roost_buf_size(&c->body));
    if (rc)
        out->len = mark;
    return rc;
}

void roost_api_dataplane_cleanup(struct roost_api_dp_call *c)
{
    roost_buf_cleanup(&c->body);
}
