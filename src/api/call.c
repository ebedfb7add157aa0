/*
 * call.c - the pure half of the HTTPS control plane: a parsed HTTP request
 * becomes a struct roost_api_call for the registry (route, labels, query
 * parameters, the headers operations read, the JSON body), and a finished
 * call becomes the response AWS IoT would send (200 + JSON, or the AWS error
 * shape of spec/aws-iot.md 0.4). No sockets, no loop, no store: server.c
 * does the I/O and the threading around these.
 *
 * What AWS answers where it has no operation: its front end says 404
 * `ResourceNotFoundException` with {"message":"Not Found"} (seen from real
 * AWS with clients pointed at the wrong endpoint, aws-sdk-ios #720 and
 * aws-sdk-js #1698); we do the same. A body that is not JSON gets 400
 * InvalidRequestException, the error every IoT operation models, so
 * botocore maps it to client.exceptions.InvalidRequestException.
 */
#include "api/api.h"
#include "registry/registry.h"


/* Request headers that operations read, copied into call->query under these
 * (lowercase) names: the thing-principal calls' principal, CreateTopicRule's
 * tags, the legacy principal-policy calls' principal and policy. */
static const char *const mapped_headers[] = {
    "x-amzn-principal",
    "x-amz-tagging",
    "x-amzn-iot-principal",
    "x-amzn-iot-policy",
};

/* ==== UTF-8 ============================================================== */

/* Length of the valid UTF-8 sequence at p (1..4), 0 if there is none. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
    unsigned char b = p[0];
    if (b < 0x80)
        return 1;
    size_t need;
    uint32_t cp;
    if (b >= 0xC2 && b <= 0xDF) {
        need = 2;
        cp = b & 0x1F;
    } else if (b >= 0xE0 && b <= 0xEF) {
        need = 3;
        cp = b & 0x0F;
    } else if (b >= 0xF0 && b <= 0xF4) {
        need = 4;
        cp = b & 0x07;
    } else {
        return 0;
    }
    if (n < need)
        return 0;
    for (size_t i = 1; i < need; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3F);
    }
    if ((need == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
        (need == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
        return 0;
    return need;
}

static bool utf8_valid(const char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        size_t k = utf8_len((const unsigned char *)s + i, n - i);
        if (!k)
            return false;
        i += k;
    }
    return true;
}

/* A JSON string of `s`, bytes that are not UTF-8 (a label echoed in a
 * message) replaced by U+FFFD, so an error body is always valid JSON. */
static json_t *json_string_lossy(const char *s)
{
    json_t *j = json_string(s);
    if (j)
        return j;
    size_t n = strlen(s);
    struct roost_buf b;
    roost_buf_init(&b, 0);
    for (size_t i = 0; i < n;) {
        size_t k = utf8_len((const unsigned char *)s + i, n - i);
        if (k) {
            roost_buf_append(&b, s + i, k);
            i += k;
        } else {
            roost_buf_append(&b, "\xEF\xBF\xBD", 3);
            i++;
        }
    }
    j = json_stringn(b.data ? (const char *)b.data : "", roost_buf_size(&b));
    roost_buf_cleanup(&b);
    return j;
}

/* ==== Request -> call ===================================================== */

/* A raw path fit for routing: absolute, and no empty, "." or ".." segment
 * ("/" alone is fine). The signature covers the normalised path, so
 * "/a/../b" must never be accepted as a replay of a request signed for "/b"
 * (docs/internals/SIGV4.md). */
static bool path_clean(struct roost_str path)
{
    if (path.n == 0 || path.p[0] != '/')
        return false;
    if (path.n == 1)
        return true;
    size_t start = 1;
    for (size_t i = 1; i <= path.n; i++) {
        if (i < path.n && path.p[i] != '/')
            continue;
        size_t len = i - start;
        const char *seg = path.p + start;
        if (len == 0 || (len == 1 && seg[0] == '.') || (len == 2 && seg[0] == '.' && seg[1] == '.'))
            return false;
        start = i + 1;
    }
    return true;
}

static int fill_query(const struct roost_http_request *req, struct roost_arena *scratch,
                      struct roost_api_call *call)
{
    struct roost_http_param *params = NULL;
    size_t n = 0;
    call->query = json_object();
    int rc = roost_http_query_parse(req->query, scratch, &params, &n);
    if (rc)
        return ROOST_API_INVALID(call, "Invalid percent-encoding in the query string");
    for (size_t i = 0; i < n; i++) {
        /* pct-decoding NUL-terminates, and %00 is refused: keys are C strings */
        const char *key = params[i].key.p;
        if (json_object_getn(call->query, key, params[i].key.n))
            continue; /* the first of repeated keys wins */
        json_t *v = json_stringn(params[i].value.p, params[i].value.n);
        if (!v || !utf8_valid(key, params[i].key.n)) {
            json_decref(v);
            return ROOST_API_INVALID(call, "The query string is not valid UTF-8");
        }
        json_object_setn_new(call->query, key, params[i].key.n, v);
    }
    for (size_t i = 0; i < ROOST_ARRAY_LEN(mapped_headers); i++) {
        const struct roost_str *h = roost_http_header(req, mapped_headers[i]);
        if (!h)
            continue;
        json_t *v = json_stringn(h->p ? h->p : "", h->n);
        if (!v)
            return ROOST_API_INVALID(call, "Header %s is not valid UTF-8", mapped_headers[i]);
        json_object_set_new(call->query, mapped_headers[i], v);
    }
    return 0;
}

static int fill_body(const struct roost_http_request *req, struct roost_api_call *call)
{
    if (req->body.n == 0)
        return 0;
    char *raw = roost_xmalloc(req->body.n + 1);
    memcpy(raw, req->body.p, req->body.n);
    raw[req->body.n] = '\0';
    call->raw_body = raw;
    call->raw_body_len = req->body.n;
    json_error_t err;
    call->body = json_loadb(raw, req->body.n, 0, &err);
    if (!call->body)
        return ROOST_API_INVALID(call, "Could not parse request body into json: %s (line %d, "
                                       "column %d)", err.text, err.line, err.column);
    if (!json_is_object(call->body))
        return ROOST_API_INVALID(call, "The request body must be a JSON object");
    return 0;
}

/* Fills a zeroed call from a parsed control-plane request (api.h). */
int roost_api_call_from_request(const struct roost_http_request *req, struct roost_arena *scratch,
                                struct roost_api_call *call)
{
    if (!path_clean(req->path))
        return ROOST_API_INVALID(call, "Invalid request path");
    char *method = roost_arena_strndup(scratch, req->method.p, req->method.n);
    bool known = false;
    int rc = roost_registry_route(method, req->path.p, req->path.n, call, &known);
    if (rc == ROOST_ENOTFOUND && known)
        return roost_api_fail(call, 405, "MethodNotAllowedException", "Method Not Allowed");
    if (rc == ROOST_ENOTFOUND)
        return roost_api_fail(call, 404, "ResourceNotFoundException", "Not Found");
    if (rc)
        return ROOST_API_INVALID(call, "Invalid percent-encoding in the request path");
    rc = fill_query(req, scratch, call);
    if (!rc)
        rc = fill_body(req, call);
    return rc;
}

void roost_api_call_inputs_cleanup(struct roost_api_call *call)
{
    if (!call)
        return;
    json_decref(call->query);
    call->query = NULL;
    json_decref(call->body);
    call->body = NULL;
    roost_free((void *)call->raw_body);
    call->raw_body = NULL;
    call->raw_body_len = 0;
}

/* ==== Call -> response ===================================================== */

/* JSON with reals kept short: timestamps are epoch seconds with at most
 * millisecond fractions, which 15 significant digits hold exactly. */
#define DUMP_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(15) | JSON_ENCODE_ANY)

static int dump_cb(const char *p, size_t n, void *ud)
{
    return roost_buf_append(ud, p, n) ? -1 : 0;
}

/* Serialises `j` into `b` (unbounded: our own output). */
static int dump_json(const json_t *j, struct roost_buf *b)
{
    return json_dump_callback(j, dump_cb, b, DUMP_FLAGS) ? ROOST_ENOMEM : 0;
}

static int write_error(struct roost_buf *out, const struct roost_api_call *call, bool keep_alive)
{
    int status = call->status >= 400 && call->status <= 599 ? call->status : 500;
    const char *code = call->error_code ? call->error_code : "InternalFailureException";
    const char *msg = call->error_message[0] ? call->error_message : "Internal Failure";
    size_t mark = out->len;
    struct roost_buf body;
    roost_buf_init(&body, 0);
    json_t *o = json_object();
    json_object_set_new(o, "message", json_string_lossy(msg));
    json_object_set_new(o, "__type", json_string_lossy(code));
    if (json_is_object(call->error_extra)) {
        const char *k;
        json_t *v;
        json_object_foreach(call->error_extra, k, v)
        {
            if (strcmp(k, "message") != 0 && strcmp(k, "__type") != 0)
                json_object_set(o, k, v);
        }
    }
    int rc = dump_json(o, &body);
    json_decref(o);
    if (!rc)
        rc = roost_http_response_begin(out, status, call->request_id, keep_alive);
    if (!rc)
        rc = roost_http_response_add_header(out, "x-amzn-ErrorType", code);
    if (!rc)
        rc = roost_http_response_finish(out, "application/json", roost_buf_head(&body),
                                        roost_buf_size(&body));
    if (rc)
        out->len = mark;
    roost_buf_cleanup(&body);
    return rc;
}

/* The whole response for a finished call (api.h). */
int roost_api_write_response(struct roost_buf *out, const struct roost_api_call *call,
                             bool keep_alive)
{
    if (call->status != 200 || call->error_code)
        return write_error(out, call, keep_alive);
    size_t mark = out->len;
    struct roost_buf body;
    roost_buf_init(&body, 0);
    int rc = call->result ? dump_json(call->result, &body) : roost_buf_append(&body, "{}", 2);
    if (!rc)
        rc = roost_http_response_begin(out, 200, call->request_id, keep_alive);
    if (!rc)
        rc = roost_http_response_finish(out, "application/json", roost_buf_head(&body),
                                        roost_buf_size(&body));
    if (rc)
        out->len = mark;
    roost_buf_cleanup(&body);
    return rc;
}
