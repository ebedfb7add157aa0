/*
 * ops.c - the shadow operations as AWS IoT answers them: request validation
 * in AWS's order and with its error texts, the version check, the update
 * (merge, metadata, size limit, new version) and the payloads for /accepted,
 * /rejected, /update/delta and /update/documents, key for key in AWS's order.
 * Pure: the time comes in the request, the shadow comes in as an argument,
 * and the results go out in a struct roost_shadow_result.
 */
#include "shadow_int.h"

#include <stdio.h>

/* ==== Texts (the Device Shadow error messages page, and observed answers) == */

#define MSG_INVALID_JSON "Payload contains invalid json"
#define MSG_BAD_ENCODING "Unsupported documented encoding; supported encoding is UTF-8"
#define MSG_NO_STATE "Missing required node: state"
#define MSG_STATE_TYPE "State node must be an object"
#define MSG_DESIRED_TYPE "Desired node must be an object"
#define MSG_REPORTED_TYPE "Reported node must be an object"
#define MSG_STATE_NODE "State contains an invalid node"
#define MSG_VERSION "Invalid version"
#define MSG_TOKEN "Invalid clientToken"
#define MSG_DEPTH "JSON contains too many levels of nesting; maximum is %u"
#define MSG_CONFLICT "Version conflict"
#define MSG_TOO_BIG "The payload exceeds the maximum size allowed"
#define MSG_NOT_FOUND "No shadow exists with name: '%.*s'"
#define MSG_THING_NAME "Invalid thing name"
#define MSG_SHADOW_NAME "Invalid shadow name"

static const struct roost_shadow_limits default_limits = {
    .max_request_bytes = ROOST_SHADOW_MAX_REQUEST_BYTES,
    .max_state_bytes = ROOST_SHADOW_MAX_STATE_BYTES,
    .max_depth = ROOST_SHADOW_MAX_DEPTH,
    .max_client_token = ROOST_SHADOW_MAX_CLIENT_TOKEN,
};

void roost_shadow_limits_default(struct roost_shadow_limits *out)
{
    *out = default_limits;
}

/* ==== Results ============================================================== */

void roost_shadow_result_init(struct roost_shadow_result *r)
{
    memset(r, 0, sizeof(*r));
    roost_buf_init(&r->reply, 0);
    roost_buf_init(&r->delta, 0);
    roost_buf_init(&r->documents, 0);
    roost_buf_init(&r->stored, 0);
}

void roost_shadow_result_cleanup(struct roost_shadow_result *r)
{
    if (!r)
        return;
    roost_buf_cleanup(&r->reply);
    roost_buf_cleanup(&r->delta);
    roost_buf_cleanup(&r->documents);
    roost_buf_cleanup(&r->stored);
    roost_shadow_destroy(r->shadow);
    r->shadow = NULL;
}

/* Keeps the buffers' memory: a caller reusing one result per worker
 * allocates nothing for payloads after the first few requests. */
static void result_reset(struct roost_shadow_result *r)
{
    roost_buf_clear(&r->reply);
    roost_buf_clear(&r->delta);
    roost_buf_clear(&r->documents);
    roost_buf_clear(&r->stored);
    roost_shadow_destroy(r->shadow);
    r->shadow = NULL;
    r->code = 0;
    r->message[0] = '\0';
    r->version = 0;
}

static int code_to_err(int code)
{
    switch (code) {
    case 400: return ROOST_EMALFORMED;
    case 401:
    case 403: return ROOST_EAUTH;
    case 404: return ROOST_ENOTFOUND;
    case 409: return ROOST_ECONFLICT;
    case 413: return ROOST_ETOOBIG;
    case 415: return ROOST_EUTF8;
    case 429: return -EBUSY;
    case 500: return -EIO;
    default: return ROOST_EPROTO;
    }
}

/* ==== Requests ============================================================== */

struct req_ctx {
    json_t *root;      /* the parsed payload, or NULL */
    const char *token; /* clientToken, borrowed from root; NULL when absent */
    size_t token_len;
    bool has_version;
    uint64_t version;
};

static void req_ctx_cleanup(struct req_ctx *c)
{
    json_decref(c->root);
    c->root = NULL;
}

static void write_token(struct shadow_jw *w, const struct req_ctx *c)
{
    if (!c->token)
        return;
    shadow__jw_lit(w, ",\"clientToken\":");
    shadow__jw_str(w, c->token, c->token_len);
}

/*
 * The rejection document: {"code":C,"message":M,"timestamp":T,"clientToken":K}.
 * AWS leaves the timestamp out of some rejections: the 404 and 409 answers
 * seen from the service (and in the developer guide) carry none, so those
 * two omit it and the others keep the documented shape.
 */
static int reject(struct roost_shadow_result *out, int code, const char *msg,
                  const struct req_ctx *c, int64_t now)
{
    struct shadow_jw w = {&out->reply, 0};
    roost_buf_clear(&out->reply);
    roost_buf_clear(&out->delta);
    roost_buf_clear(&out->documents);
    roost_buf_clear(&out->stored);
    roost_shadow_destroy(out->shadow);
    out->shadow = NULL;
    out->code = code;
    if (msg != out->message)
        snprintf(out->message, sizeof(out->message), "%s", msg);
    shadow__jw_lit(&w, "{\"code\":");
    shadow__jw_int(&w, code);
    shadow__jw_lit(&w, ",\"message\":");
    shadow__jw_str(&w, out->message, strlen(out->message));
    if (code != 404 && code != 409) {
        shadow__jw_lit(&w, ",\"timestamp\":");
        shadow__jw_int(&w, (long long)now);
    }
    write_token(&w, c);
    shadow__jw_lit(&w, "}");
    return code_to_err(code);
}

static int check_names(const struct roost_shadow_req *req, struct roost_shadow_result *out,
                       const struct req_ctx *c)
{
    if (!roost_shadow_thing_name_valid(req->thing))
        return reject(out, 400, MSG_THING_NAME, c, req->now);
    if (req->name.n && !roost_shadow_name_valid(req->name))
        return reject(out, 400, MSG_SHADOW_NAME, c, req->now);
    return 0;
}

/* clientToken and version, shared by all three operations. */
static int read_common(const struct roost_shadow_limits *lim, const struct roost_shadow_req *req,
                       bool want_version, struct req_ctx *c, struct roost_shadow_result *out)
{
    json_t *tok = json_object_get(c->root, "clientToken");
    if (tok) {
        if (!json_is_string(tok) || json_string_length(tok) > lim->max_client_token)
            return reject(out, 400, MSG_TOKEN, c, req->now);
        c->token = json_string_value(tok);
        c->token_len = json_string_length(tok);
    }
    json_t *ver = json_object_get(c->root, "version");
    if (want_version && ver && !json_is_null(ver)) {
        if (!json_is_integer(ver) || json_integer_value(ver) < 0)
            return reject(out, 400, MSG_VERSION, c, req->now);
        c->has_version = true;
        c->version = (uint64_t)json_integer_value(ver);
    }
    return 0;
}

/* update: the payload must be a JSON object. */
static int parse_strict(const struct roost_shadow_limits *lim, const struct roost_shadow_req *req,
                        struct req_ctx *c, struct roost_shadow_result *out)
{
    json_error_t err;
    if (req->len > lim->max_request_bytes)
        return reject(out, 413, MSG_TOO_BIG, c, req->now);
    c->root = json_loadb(req->len ? req->payload : "", req->len, 0, &err);
    if (!c->root) {
        if (json_error_code(&err) == json_error_invalid_utf8)
            return reject(out, 415, MSG_BAD_ENCODING, c, req->now);
        return reject(out, 400, MSG_INVALID_JSON, c, req->now);
    }
    if (!json_is_object(c->root))
        return reject(out, 400, MSG_INVALID_JSON, c, req->now);
    return read_common(lim, req, true, c, out);
}

/* get and delete: AWS ignores the content apart from clientToken (and, for
 * delete, version), so a payload that is not a JSON object is no error. */
static int parse_lenient(const struct roost_shadow_limits *lim, const struct roost_shadow_req *req,
                         bool want_version, struct req_ctx *c, struct roost_shadow_result *out)
{
    json_error_t err;
    if (req->len == 0 || req->len > lim->max_request_bytes)
        return 0;
    c->root = json_loadb(req->payload, req->len, 0, &err);
    if (!json_is_object(c->root))
        return 0;
    return read_common(lim, req, want_version, c, out);
}

/* A desired or reported section of a request. Levels are counted as AWS's
 * quota page does: the section is level 1, each key or array element one
 * more, so {"desired":{"one":{"two":{"three":{"four":{"five":{}}}}}}} is the
 * deepest document for a maximum of 6. Arrays count like objects. A null
 * inside an array is refused too: nulls only mean "delete this key". */
enum tree_fault { TREE_OK, TREE_TOO_DEEP, TREE_NULL_IN_ARRAY };

static enum tree_fault check_tree(const json_t *v, unsigned level, unsigned max, bool in_array)
{
    in_array = in_array || json_is_array(v);
    size_t n = json_is_array(v) ? json_array_size(v) : 0;
    void *it = json_is_object(v) ? json_object_iter((json_t *)v) : NULL;
    if ((n || it) && level + 1 > max)
        return TREE_TOO_DEEP;
    for (size_t i = 0; i < n || it; i++) {
        json_t *child = it ? json_object_iter_value(it) : json_array_get(v, i);
        enum tree_fault f = TREE_OK;
        if (json_is_object(child) || json_is_array(child))
            f = check_tree(child, level + 1, max, in_array);
        else if (in_array && json_is_null(child))
            f = TREE_NULL_IN_ARRAY;
        if (f != TREE_OK)
            return f;
        if (it)
            it = json_object_iter_next((json_t *)v, it);
    }
    return TREE_OK;
}

static int not_found(const struct roost_shadow_req *req, struct roost_shadow_result *out,
                     const struct req_ctx *c)
{
    struct roost_str n = req->name.n ? req->name : req->thing;
    snprintf(out->message, sizeof(out->message), MSG_NOT_FOUND, (int)n.n, n.p);
    return reject(out, 404, out->message, c, req->now);
}

/* ==== Update ================================================================= */

/* One section (desired or reported) after the update. `set` says whether
 * the request named the section at all, and a JSON null patch clears it. */
struct section_result {
    json_t *state; /* new reference or NULL */
    json_t *md;    /* new reference or NULL */
};

static void apply_section(const json_t *old, const json_t *old_md, bool set, json_t *patch,
                          bool clear_all, struct shadow_ts *ts, struct section_result *res)
{
    res->state = res->md = NULL;
    if (clear_all || (set && json_is_null(patch)))
        return;
    if (!set) {
        res->state = json_incref((json_t *)old);
        res->md = json_incref((json_t *)old_md);
        return;
    }
    json_t *merged = shadow__merge(old, patch);
    if (json_object_size(merged) == 0) { /* an emptied section disappears */
        json_decref(merged);
        return;
    }
    res->state = merged;
    res->md = shadow__merge_md(old_md, merged, patch, ts);
}

/* {"state":..,"metadata":..,"version":N} as /documents shows each side. */
static void write_side(struct shadow_jw *w, const struct roost_shadow *s)
{
    shadow__jw_lit(w, "{\"state\":");
    shadow__jw_raw(w, shadow__state_text(s), s->state_len);
    shadow__jw_lit(w, ",\"metadata\":");
    shadow__jw_raw(w, shadow__md_text(s), s->md_len);
    shadow__jw_lit(w, ",\"version\":");
    shadow__jw_int(w, (long long)s->version);
    shadow__jw_lit(w, "}");
}

static void write_update_payloads(const struct roost_shadow *cur, const struct roost_shadow *next,
                                  const json_t *req_state, const struct req_ctx *c,
                                  struct shadow_ts *ts, struct roost_shadow_result *out)
{
    long long now = (long long)ts->now;

    /* /update/accepted: the request's state as sent, its metadata mirror. */
    struct shadow_jw w = {&out->reply, 0};
    shadow__jw_lit(&w, "{\"state\":");
    shadow__jw_value(&w, req_state);
    shadow__jw_lit(&w, ",\"metadata\":");
    shadow__jw_mirror(&w, req_state, ts->now);
    shadow__jw_lit(&w, ",\"version\":");
    shadow__jw_int(&w, (long long)next->version);
    shadow__jw_lit(&w, ",\"timestamp\":");
    shadow__jw_int(&w, now);
    write_token(&w, c);
    shadow__jw_lit(&w, "}");

    /* /update/documents: no "previous" for a shadow that did not exist. */
    w = (struct shadow_jw){&out->documents, 0};
    shadow__jw_lit(&w, "{");
    if (cur) {
        shadow__jw_lit(&w, "\"previous\":");
        write_side(&w, cur);
        shadow__jw_lit(&w, ",");
    }
    shadow__jw_lit(&w, "\"current\":");
    write_side(&w, next);
    shadow__jw_lit(&w, ",\"timestamp\":");
    shadow__jw_int(&w, now);
    write_token(&w, c);
    shadow__jw_lit(&w, "}");

    /* /update/delta: after every accepted update that leaves desired and
     * reported different, whichever section the update touched. */
    json_t *delta = next->desired ? shadow__delta(next->desired, next->reported) : NULL;
    if (delta) {
        json_t *dmd = shadow__delta_md(delta, next->md_desired, ts);
        w = (struct shadow_jw){&out->delta, 0};
        shadow__jw_lit(&w, "{\"version\":");
        shadow__jw_int(&w, (long long)next->version);
        shadow__jw_lit(&w, ",\"timestamp\":");
        shadow__jw_int(&w, now);
        shadow__jw_lit(&w, ",\"state\":");
        shadow__jw_value(&w, delta);
        shadow__jw_lit(&w, ",\"metadata\":");
        shadow__jw_value(&w, dmd);
        write_token(&w, c);
        shadow__jw_lit(&w, "}");
        json_decref(dmd);
        json_decref(delta);
    }

    roost_shadow_serialize(next, &out->stored);
}

int roost_shadow_update(const struct roost_shadow_limits *lim, const struct roost_shadow *cur,
                        const struct roost_shadow_req *req, struct roost_shadow_result *out)
{
    struct req_ctx c = {0};
    struct shadow_ts ts;
    struct section_result d = {0}, r = {0};
    struct roost_shadow *next = NULL;
    json_t *pd = NULL, *pr = NULL;
    bool set_d = false, set_r = false;
    int rc;

    lim = lim ? lim : &default_limits;
    result_reset(out);
    shadow__ts_init(&ts, req->now, cur ? cur->timestamp : req->now);

    rc = parse_strict(lim, req, &c, out);
    if (rc)
        goto out;
    rc = check_names(req, out, &c);
    if (rc)
        goto out;

    json_t *state = json_object_get(c.root, "state");
    if (!state) {
        rc = reject(out, 400, MSG_NO_STATE, &c, req->now);
        goto out;
    }
    if (!json_is_null(state) && !json_is_object(state)) {
        rc = reject(out, 400, MSG_STATE_TYPE, &c, req->now);
        goto out;
    }
    const char *k;
    json_t *v;
    json_object_foreach(state, k, v) { /* no-op when state is null */
        if (strcmp(k, "desired") == 0) {
            pd = v;
            set_d = true;
        } else if (strcmp(k, "reported") == 0) {
            pr = v;
            set_r = true;
        } else {
            rc = reject(out, 400, MSG_STATE_NODE, &c, req->now);
            goto out;
        }
    }
    if (set_d && !json_is_null(pd) && !json_is_object(pd)) {
        rc = reject(out, 400, MSG_DESIRED_TYPE, &c, req->now);
        goto out;
    }
    if (set_r && !json_is_null(pr) && !json_is_object(pr)) {
        rc = reject(out, 400, MSG_REPORTED_TYPE, &c, req->now);
        goto out;
    }
    for (int i = 0; i < 2; i++) {
        json_t *p = i == 0 ? pd : pr;
        enum tree_fault f = json_is_object(p) ? check_tree(p, 1, lim->max_depth, false) : TREE_OK;
        if (f == TREE_OK)
            continue;
        if (f == TREE_TOO_DEEP)
            snprintf(out->message, sizeof(out->message), MSG_DEPTH, lim->max_depth);
        rc = reject(out, 400, f == TREE_TOO_DEEP ? out->message : MSG_INVALID_JSON, &c, req->now);
        goto out;
    }

    uint64_t expected = cur ? cur->version : req->base_version;
    if (c.has_version && c.version != expected) {
        rc = reject(out, 409, MSG_CONFLICT, &c, req->now);
        goto out;
    }

    bool clear_all = json_is_null(state);
    apply_section(cur ? cur->desired : NULL, cur ? cur->md_desired : NULL, set_d, pd, clear_all,
                  &ts, &d);
    apply_section(cur ? cur->reported : NULL, cur ? cur->md_reported : NULL, set_r, pr,
                  clear_all, &ts, &r);

    next = roost_xcalloc(1, sizeof(*next));
    next->desired = d.state;
    next->md_desired = d.md;
    next->reported = r.state;
    next->md_reported = r.md;
    d = r = (struct section_result){0};
    next->version = expected + 1;
    next->timestamp = req->now;
    shadow__render(next);

    /* The limit applies to what is stored of desired and reported,
     * whitespace excluded; metadata does not count. */
    if (next->state_len > lim->max_state_bytes) {
        rc = reject(out, 413, MSG_TOO_BIG, &c, req->now);
        goto out;
    }

    write_update_payloads(cur, next, state, &c, &ts, out);
    out->version = next->version;
    out->shadow = next;
    next = NULL;
    rc = 0;
out:
    json_decref(d.state);
    json_decref(d.md);
    json_decref(r.state);
    json_decref(r.md);
    roost_shadow_destroy(next);
    shadow__ts_cleanup(&ts);
    req_ctx_cleanup(&c);
    return rc;
}

/* ==== Get and delete =========================================================== */

int roost_shadow_get(const struct roost_shadow_limits *lim, const struct roost_shadow *cur,
                     const struct roost_shadow_req *req, struct roost_shadow_result *out)
{
    struct req_ctx c = {0};
    int rc;

    lim = lim ? lim : &default_limits;
    result_reset(out);
    rc = parse_lenient(lim, req, false, &c, out);
    if (rc)
        goto out;
    rc = check_names(req, out, &c);
    if (rc)
        goto out;
    if (!cur) {
        rc = not_found(req, out, &c);
        goto out;
    }

    json_t *delta = cur->desired ? shadow__delta(cur->desired, cur->reported) : NULL;
    struct shadow_jw w = {&out->reply, 0};
    shadow__jw_lit(&w, "{\"state\":");
    if (delta) { /* the stored state with "delta" added before its closing brace */
        shadow__jw_raw(&w, shadow__state_text(cur), cur->state_len - 1);
        if (cur->state_len > 2)
            shadow__jw_lit(&w, ",");
        shadow__jw_lit(&w, "\"delta\":");
        shadow__jw_value(&w, delta);
        shadow__jw_lit(&w, "}");
    } else {
        shadow__jw_raw(&w, shadow__state_text(cur), cur->state_len);
    }
    shadow__jw_lit(&w, ",\"metadata\":");
    shadow__jw_raw(&w, shadow__md_text(cur), cur->md_len);
    shadow__jw_lit(&w, ",\"version\":");
    shadow__jw_int(&w, (long long)cur->version);
    shadow__jw_lit(&w, ",\"timestamp\":");
    shadow__jw_int(&w, (long long)req->now);
    write_token(&w, &c);
    shadow__jw_lit(&w, "}");
    json_decref(delta);
    out->version = cur->version;
out:
    req_ctx_cleanup(&c);
    return rc;
}

int roost_shadow_delete(const struct roost_shadow_limits *lim, const struct roost_shadow *cur,
                        const struct roost_shadow_req *req, struct roost_shadow_result *out)
{
    struct req_ctx c = {0};
    int rc;

    lim = lim ? lim : &default_limits;
    result_reset(out);
    rc = parse_lenient(lim, req, true, &c, out);
    if (rc)
        goto out;
    rc = check_names(req, out, &c);
    if (rc)
        goto out;
    if (!cur) {
        rc = not_found(req, out, &c);
        goto out;
    }
    if (c.has_version && c.version != cur->version) {
        rc = reject(out, 409, MSG_CONFLICT, &c, req->now);
        goto out;
    }
    struct shadow_jw w = {&out->reply, 0};
    shadow__jw_lit(&w, "{\"version\":");
    shadow__jw_int(&w, (long long)cur->version);
    shadow__jw_lit(&w, ",\"timestamp\":");
    shadow__jw_int(&w, (long long)req->now);
    write_token(&w, &c);
    shadow__jw_lit(&w, "}");
    out->version = cur->version;
out:
    req_ctx_cleanup(&c);
    return rc;
}

/* ==== Rejections decided by the caller ========================================= */

int roost_shadow_reject(int code, const char *message, struct roost_str client_token,
                        int64_t now, struct roost_shadow_result *out)
{
    struct req_ctx c = {0};
    result_reset(out);
    if (client_token.n) {
        c.token = client_token.p;
        c.token_len = client_token.n;
    }
    return reject(out, code, message, &c, now);
}

size_t roost_shadow_client_token(const void *payload, size_t len, char *out, size_t cap)
{
    json_error_t err;
    size_t n = 0;
    json_t *root;
    if (cap)
        out[0] = '\0';
    if (len == 0 || len > ROOST_SHADOW_MAX_REQUEST_BYTES || cap == 0)
        return 0;
    root = json_loadb(payload, len, 0, &err);
    json_t *tok = json_object_get(root, "clientToken");
    if (json_is_string(tok) && json_string_length(tok) <= ROOST_SHADOW_MAX_CLIENT_TOKEN &&
        json_string_length(tok) < cap) {
        n = json_string_length(tok);
        memcpy(out, json_string_value(tok), n);
        out[n] = '\0';
    }
    json_decref(root);
    return n;
}
