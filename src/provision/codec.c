/*
 * codec.c - the pure part of fleet provisioning's MQTT API: which request a
 * topic names, the request payload in JSON or CBOR, and the answer in the
 * request's format. AWS's SDKs (the Device SDK v2's identity client, the
 * embedded C fleet-provisioning library) send either; the answer must come
 * back in the same one. CBOR goes through libcbor; only the types these
 * payloads use are accepted. No I/O: tests/fuzz/fuzz_provision_request.c
 * feeds arbitrary topics and payloads through here.
 */
#include "provision/provision.h"

#include <cbor.h>
#include <math.h>
#include <stdio.h>

#define CBOR_MAX_DEPTH 8
#define CBOR_MAX_ITEMS 256 /* members of one map or array */

static int fail(char *err, size_t errcap, int rc, const char *msg)
{
    if (err && errcap)
        snprintf(err, errcap, "%s", msg);
    return rc;
}

/* "<prefix><fmt>" with fmt json|cbor, nothing after. */
static bool take_format(const char *rest, size_t n, bool *out_cbor)
{
    if (n == 4 && memcmp(rest, "json", 4) == 0) {
        *out_cbor = false;
        return true;
    }
    if (n == 4 && memcmp(rest, "cbor", 4) == 0) {
        *out_cbor = true;
        return true;
    }
    return false;
}

static bool starts(const char *s, size_t n, const char *prefix)
{
    size_t k = strlen(prefix);
    return n >= k && memcmp(s, prefix, k) == 0;
}

static void parse_topic(const char *t, size_t n, struct roost_fleet_request *r)
{
    static const char create[] = "$aws/certificates/create/";
    static const char csr[] = "$aws/certificates/create-from-csr/";
    static const char tpl[] = "$aws/provisioning-templates/";
    static const char provision[] = "/provision/";
    if (starts(t, n, create)) {
        if (take_format(t + strlen(create), n - strlen(create), &r->cbor))
            r->op = ROOST_FLEET_CREATE_KEYS;
        return;
    }
    if (starts(t, n, csr)) {
        if (take_format(t + strlen(csr), n - strlen(csr), &r->cbor))
            r->op = ROOST_FLEET_CREATE_FROM_CSR;
        return;
    }
    if (!starts(t, n, tpl))
        return;
    const char *name = t + strlen(tpl);
    const char *end = t + n;
    const char *slash = memchr(name, '/', (size_t)(end - name));
    if (!slash || (size_t)(end - slash) < strlen(provision) ||
        memcmp(slash, provision, strlen(provision)) != 0)
        return;
    const char *fmt = slash + strlen(provision);
    if (!take_format(fmt, (size_t)(end - fmt), &r->cbor))
        return;
    /* A name AWS could not have created gets a rejected answer, not silence. */
    size_t name_len = (size_t)(slash - name);
    r->op = ROOST_FLEET_REGISTER_THING;
    if (roost_template_name_valid(name, name_len)) {
        memcpy(r->template_name, name, name_len);
        r->template_name[name_len] = '\0';
    }
}

/* ==== CBOR -> JSON ========================================================= */

/*
 * libcbor's streaming decoder, one item per call, builds the JSON directly.
 * (cbor_load is not used: it allocates a definite map or array for the size
 * its header declares before reading a single member, so five bytes could
 * ask for gigabytes.) Here a declared size must fit in the bytes that are
 * left, nothing is allocated ahead, and only what these payloads use is
 * accepted: maps with text keys, arrays, text, integers, floats, booleans,
 * null. Byte strings, tags, undefined and indefinite-length text are
 * refused.
 */
struct cbor_frame {
    json_t *container;        /* borrowed: its parent (or the root) holds it */
    bool map;
    size_t left;              /* keys + values (map) or items still due; SIZE_MAX: indefinite */
    char *key;                /* map: the key waiting for its value */
};

struct cbor_dec {
    struct cbor_frame st[CBOR_MAX_DEPTH];
    int depth;
    json_t *root;
    size_t remaining;         /* input bytes after the current item */
    bool failed;
};

static void dec_pop_finished(struct cbor_dec *d)
{
    while (d->depth > 0) {
        struct cbor_frame *f = &d->st[d->depth - 1];
        if (f->left != 0 || f->key)
            return;
        d->depth--;
    }
}

/* Places a value (a new reference) where the decoder stands. */
static void dec_put(struct cbor_dec *d, json_t *v)
{
    if (d->failed || !v) {
        d->failed = true;
        json_decref(v);
        return;
    }
    if (d->depth == 0) {
        if (d->root) {
            d->failed = true; /* a second top-level item */
            json_decref(v);
            return;
        }
        d->root = v;
        return;
    }
    struct cbor_frame *f = &d->st[d->depth - 1];
    if (f->left == 0) {
        d->failed = true;
        json_decref(v);
        return;
    }
    if (f->map && !f->key) {
        if (!json_is_string(v)) {
            d->failed = true; /* keys are text */
            json_decref(v);
            return;
        }
        f->key = roost_xstrdup(json_string_value(v));
        json_decref(v);
    } else if (f->map) {
        if (json_object_size(f->container) >= CBOR_MAX_ITEMS) {
            d->failed = true;
            json_decref(v);
        } else if (json_object_set_new(f->container, f->key, v)) {
            d->failed = true; /* set_new took the reference either way */
        }
        roost_free(f->key);
        f->key = NULL;
    } else {
        if (json_array_size(f->container) >= CBOR_MAX_ITEMS) {
            d->failed = true;
            json_decref(v);
        } else if (json_array_append_new(f->container, v)) {
            d->failed = true;
        }
    }
    if (f->left != SIZE_MAX)
        f->left--;
}

static void dec_open(struct cbor_dec *d, bool map, size_t n, bool indefinite)
{
    if (d->failed)
        return;
    /* every member takes at least one byte: a size the input cannot hold is a lie */
    if (d->depth == CBOR_MAX_DEPTH || n > CBOR_MAX_ITEMS ||
        (!indefinite && n * (map ? 2u : 1u) > d->remaining)) {
        d->failed = true;
        return;
    }
    json_t *c = map ? json_object() : json_array();
    dec_put(d, json_incref(c));
    json_decref(c);
    if (d->failed)
        return;
    d->st[d->depth++] = (struct cbor_frame){c, map, indefinite ? SIZE_MAX : n * (map ? 2u : 1u),
                                            NULL};
    dec_pop_finished(d);
}

static void on_uint(void *ctx, uint64_t v)
{
    struct cbor_dec *d = ctx;
    dec_put(d, v <= INT64_MAX ? json_integer((json_int_t)v) : NULL);
    dec_pop_finished(d);
}
static void on_uint8(void *ctx, uint8_t v) { on_uint(ctx, v); }
static void on_uint16(void *ctx, uint16_t v) { on_uint(ctx, v); }
static void on_uint32(void *ctx, uint32_t v) { on_uint(ctx, v); }

static void on_negint(void *ctx, uint64_t v)
{
    struct cbor_dec *d = ctx;
    dec_put(d, v < INT64_MAX ? json_integer(-(json_int_t)v - 1) : NULL);
    dec_pop_finished(d);
}
static void on_negint8(void *ctx, uint8_t v) { on_negint(ctx, v); }
static void on_negint16(void *ctx, uint16_t v) { on_negint(ctx, v); }
static void on_negint32(void *ctx, uint32_t v) { on_negint(ctx, v); }

static void on_string(void *ctx, cbor_data p, size_t n)
{
    struct cbor_dec *d = ctx;
    dec_put(d, json_stringn((const char *)p, n)); /* NULL when not UTF-8 */
    dec_pop_finished(d);
}

static void on_array(void *ctx, size_t n) { dec_open(ctx, false, n, false); }
static void on_map(void *ctx, size_t n) { dec_open(ctx, true, n, false); }
static void on_indef_array(void *ctx) { dec_open(ctx, false, 0, true); }
static void on_indef_map(void *ctx) { dec_open(ctx, true, 0, true); }

static void on_break(void *ctx)
{
    struct cbor_dec *d = ctx;
    struct cbor_frame *f = d->depth ? &d->st[d->depth - 1] : NULL;
    if (!f || f->left != SIZE_MAX || f->key) {
        d->failed = true;
        return;
    }
    f->left = 0;
    dec_pop_finished(d);
}

static void on_double(void *ctx, double v)
{
    struct cbor_dec *d = ctx;
    dec_put(d, isfinite(v) ? json_real(v) : NULL);
    dec_pop_finished(d);
}
static void on_float(void *ctx, float v) { on_double(ctx, v); }

static void on_bool(void *ctx, bool v)
{
    struct cbor_dec *d = ctx;
    dec_put(d, json_boolean(v));
    dec_pop_finished(d);
}

static void on_null(void *ctx)
{
    struct cbor_dec *d = ctx;
    dec_put(d, json_null());
    dec_pop_finished(d);
}

static void on_refused(void *ctx)
{
    ((struct cbor_dec *)ctx)->failed = true;
}
static void on_refused_data(void *ctx, cbor_data p, size_t n)
{
    ROOST_UNUSED(p);
    ROOST_UNUSED(n);
    on_refused(ctx);
}
static void on_refused_tag(void *ctx, uint64_t v)
{
    ROOST_UNUSED(v);
    on_refused(ctx);
}

static const struct cbor_callbacks cbor_to_json_callbacks = {
    .uint8 = on_uint8,
    .uint16 = on_uint16,
    .uint32 = on_uint32,
    .uint64 = on_uint,
    .negint8 = on_negint8,
    .negint16 = on_negint16,
    .negint32 = on_negint32,
    .negint64 = on_negint,
    .byte_string_start = on_refused,
    .byte_string = on_refused_data,
    .string = on_string,
    .string_start = on_refused,
    .indef_array_start = on_indef_array,
    .array_start = on_array,
    .indef_map_start = on_indef_map,
    .map_start = on_map,
    .tag = on_refused_tag,
    .float2 = on_float,
    .float4 = on_float,
    .float8 = on_double,
    .undefined = on_refused,
    .null = on_null,
    .boolean = on_bool,
    .indef_break = on_break,
};

int roost_fleet_cbor_decode(const uint8_t *buf, size_t len, json_t **out)
{
    *out = NULL;
    struct cbor_dec d = {0};
    size_t pos = 0;
    while (pos < len && !d.failed) {
        /* an upper bound of what follows the header being decoded */
        d.remaining = len - pos - 1;
        struct cbor_decoder_result r =
            cbor_stream_decode(buf + pos, len - pos, &cbor_to_json_callbacks, &d);
        if (r.status != CBOR_DECODER_FINISHED || r.read == 0) {
            d.failed = true; /* truncated or not CBOR */
            break;
        }
        pos += r.read;
    }
    for (int i = 0; i < d.depth; i++)
        roost_free(d.st[i].key);
    if (d.failed || d.depth != 0 || !d.root) {
        json_decref(d.root);
        return ROOST_EMALFORMED;
    }
    *out = d.root;
    return 0;
}

/* ==== JSON -> CBOR ========================================================= */

static cbor_item_t *json_to_cbor_item(const json_t *j, int depth)
{
    if (depth > CBOR_MAX_DEPTH)
        return NULL;
    switch (json_typeof(j)) {
    case JSON_OBJECT: {
        cbor_item_t *m = cbor_new_definite_map(json_object_size(j));
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)j, k, v) {
            cbor_item_t *ck = cbor_build_string(k);
            cbor_item_t *cv = json_to_cbor_item(v, depth + 1);
            bool ok = m && ck && cv &&
                      cbor_map_add(m, (struct cbor_pair){.key = ck, .value = cv});
            if (ck)
                cbor_decref(&ck);
            if (cv)
                cbor_decref(&cv);
            if (!ok) {
                if (m)
                    cbor_decref(&m);
                return NULL;
            }
        }
        return m;
    }
    case JSON_ARRAY: {
        cbor_item_t *a = cbor_new_definite_array(json_array_size(j));
        size_t i;
        json_t *v;
        json_array_foreach(j, i, v) {
            cbor_item_t *cv = json_to_cbor_item(v, depth + 1);
            bool ok = a && cv && cbor_array_push(a, cv);
            if (cv)
                cbor_decref(&cv);
            if (!ok) {
                if (a)
                    cbor_decref(&a);
                return NULL;
            }
        }
        return a;
    }
    case JSON_STRING:
        return cbor_build_stringn(json_string_value(j), json_string_length(j));
    case JSON_INTEGER: {
        json_int_t v = json_integer_value(j);
        if (v >= 0)
            return cbor_build_uint64((uint64_t)v);
        cbor_item_t *neg = cbor_build_uint64((uint64_t)(-(v + 1)));
        if (neg)
            cbor_mark_negint(neg);
        return neg;
    }
    case JSON_REAL: return cbor_build_float8(json_real_value(j));
    case JSON_TRUE: return cbor_build_bool(true);
    case JSON_FALSE: return cbor_build_bool(false);
    case JSON_NULL: return cbor_new_null();
    }
    return NULL;
}

int roost_fleet_encode(const json_t *answer, bool cbor, uint8_t **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    if (!cbor) {
        char *text = json_dumps(answer, JSON_COMPACT);
        if (!text)
            return ROOST_ENOMEM;
        *out_len = strlen(text);
        *out = roost_xmalloc(*out_len + 1);
        memcpy(*out, text, *out_len + 1);
        free(text);
        return 0;
    }
    cbor_item_t *it = json_to_cbor_item(answer, 0);
    if (!it)
        return ROOST_EINVAL;
    unsigned char *buf = NULL;
    size_t cap = 0;
    size_t n = cbor_serialize_alloc(it, &buf, &cap);
    cbor_decref(&it);
    if (!n) {
        free(buf);
        return ROOST_ENOMEM;
    }
    *out = roost_xmalloc(n);
    memcpy(*out, buf, n);
    *out_len = n;
    free(buf);
    return 0;
}

/* ==== Requests ============================================================= */

static int take_string(const json_t *body, const char *key, char **out, char *err, size_t errcap)
{
    const json_t *v = json_object_get(body, key);
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v)) {
        char msg[128];
        snprintf(msg, sizeof(msg), "%s must be a string", key);
        return fail(err, errcap, ROOST_EPROTO, msg);
    }
    *out = roost_xstrdup(json_string_value(v));
    return 0;
}

int roost_fleet_request_parse(const char *topic, size_t topic_len, const uint8_t *payload,
                              size_t payload_len, struct roost_fleet_request *out, char *err,
                              size_t errcap)
{
    memset(out, 0, sizeof(*out));
    if (err && errcap)
        err[0] = '\0';
    parse_topic(topic, topic_len, out);
    if (out->op == ROOST_FLEET_NONE)
        return 0;
    if (out->op == ROOST_FLEET_REGISTER_THING && !out->template_name[0])
        return fail(err, errcap, ROOST_EPROTO,
                    "The template name must match ^[0-9A-Za-z_-]+$ and be 1 to 36 characters");
    json_t *body = NULL;
    int rc = 0;
    if (payload_len == 0) {
        body = json_object(); /* CreateKeysAndCertificate: an empty payload is fine */
    } else if (out->cbor) {
        rc = roost_fleet_cbor_decode(payload, payload_len, &body);
        if (rc)
            return fail(err, errcap, rc == ROOST_ENOMEM ? rc : ROOST_EMALFORMED,
                        "The payload is not valid CBOR");
    } else {
        json_error_t je;
        body = json_loadb((const char *)payload, payload_len, JSON_REJECT_DUPLICATES, &je);
        if (!body)
            return fail(err, errcap, ROOST_EMALFORMED, "The payload is not valid JSON");
    }
    if (!json_is_object(body)) {
        rc = fail(err, errcap, ROOST_EMALFORMED, "The payload must be an object");
        goto out;
    }
    switch (out->op) {
    case ROOST_FLEET_CREATE_FROM_CSR:
        rc = take_string(body, "certificateSigningRequest", &out->csr, err, errcap);
        if (!rc && (!out->csr || !*out->csr))
            rc = fail(err, errcap, ROOST_EPROTO, "certificateSigningRequest is required");
        break;
    case ROOST_FLEET_REGISTER_THING: {
        rc = take_string(body, "certificateOwnershipToken", &out->token, err, errcap);
        if (rc)
            break;
        const json_t *params = json_object_get(body, "parameters");
        if (params && !json_is_null(params)) {
            if (!json_is_object(params)) {
                rc = fail(err, errcap, ROOST_EPROTO, "parameters must be an object of strings");
                break;
            }
            const char *k;
            const json_t *v;
            json_object_foreach((json_t *)params, k, v) {
                if (!json_is_string(v)) {
                    rc = fail(err, errcap, ROOST_EPROTO,
                              "parameters must be an object of strings");
                    break;
                }
            }
            if (!rc)
                out->parameters = json_deep_copy(params);
        }
        break;
    }
    default:
        break;
    }
out:
    json_decref(body);
    return rc;
}

void roost_fleet_request_cleanup(struct roost_fleet_request *r)
{
    if (!r)
        return;
    roost_free(r->csr);
    roost_free(r->token);
    json_decref(r->parameters);
    r->csr = r->token = NULL;
    r->parameters = NULL;
}
