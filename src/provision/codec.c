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

static bool template_name_ok(const char *s, size_t n)
{
    if (n == 0 || n > ROOST_FLEET_TEMPLATE_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-'))
            return false;
    }
    return true;
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
    if (template_name_ok(name, name_len)) {
        memcpy(r->template_name, name, name_len);
        r->template_name[name_len] = '\0';
    }
}

/* ==== CBOR -> JSON ========================================================= */

static json_t *cbor_item_to_json(const cbor_item_t *it, int depth);

static json_t *cbor_text_to_json(const cbor_item_t *it)
{
    if (!cbor_string_is_definite(it)) {
        /* indefinite text: concatenate its definite chunks */
        struct roost_buf b;
        roost_buf_init(&b, 0);
        size_t n = cbor_string_chunk_count(it);
        cbor_item_t **chunks = cbor_string_chunks_handle(it);
        for (size_t i = 0; i < n; i++)
            roost_buf_append(&b, cbor_string_handle(chunks[i]), cbor_string_length(chunks[i]));
        json_t *j = json_stringn(b.data ? (const char *)b.data : "", roost_buf_size(&b));
        roost_buf_cleanup(&b);
        return j; /* NULL when not UTF-8 */
    }
    return json_stringn((const char *)cbor_string_handle(it), cbor_string_length(it));
}

static json_t *cbor_item_to_json(const cbor_item_t *it, int depth)
{
    if (depth > CBOR_MAX_DEPTH)
        return NULL;
    switch (cbor_typeof(it)) {
    case CBOR_TYPE_UINT: {
        uint64_t v = cbor_get_int(it);
        return v <= INT64_MAX ? json_integer((json_int_t)v) : NULL;
    }
    case CBOR_TYPE_NEGINT: {
        uint64_t v = cbor_get_int(it);
        return v < INT64_MAX ? json_integer(-(json_int_t)v - 1) : NULL;
    }
    case CBOR_TYPE_STRING:
        return cbor_text_to_json(it);
    case CBOR_TYPE_ARRAY: {
        size_t n = cbor_array_size(it);
        if (n > CBOR_MAX_ITEMS)
            return NULL;
        json_t *a = json_array();
        cbor_item_t **items = cbor_array_handle(it);
        for (size_t i = 0; i < n; i++) {
            json_t *v = cbor_item_to_json(items[i], depth + 1);
            if (!v) {
                json_decref(a);
                return NULL;
            }
            json_array_append_new(a, v);
        }
        return a;
    }
    case CBOR_TYPE_MAP: {
        size_t n = cbor_map_size(it);
        if (n > CBOR_MAX_ITEMS)
            return NULL;
        json_t *o = json_object();
        struct cbor_pair *pairs = cbor_map_handle(it);
        for (size_t i = 0; i < n; i++) {
            json_t *k = cbor_isa_string(pairs[i].key) ? cbor_text_to_json(pairs[i].key) : NULL;
            json_t *v = k ? cbor_item_to_json(pairs[i].value, depth + 1) : NULL;
            if (!v || json_object_set_new(o, json_string_value(k), v)) {
                json_decref(k);
                json_decref(o);
                return NULL;
            }
            json_decref(k);
        }
        return o;
    }
    case CBOR_TYPE_FLOAT_CTRL:
        if (cbor_float_ctrl_is_ctrl(it)) {
            switch (cbor_ctrl_value(it)) {
            case CBOR_CTRL_TRUE: return json_true();
            case CBOR_CTRL_FALSE: return json_false();
            case CBOR_CTRL_NULL: return json_null();
            default: return NULL;
            }
        }
        return json_real(cbor_float_get_float(it));
    default:
        return NULL; /* byte strings and tags have no place in these payloads */
    }
}

int roost_fleet_cbor_decode(const uint8_t *buf, size_t len, json_t **out)
{
    *out = NULL;
    struct cbor_load_result res;
    cbor_item_t *it = cbor_load(buf, len, &res);
    if (!it)
        return res.error.code == CBOR_ERR_MEMERROR ? ROOST_ENOMEM : ROOST_EMALFORMED;
    if (res.read != len) { /* trailing bytes */
        cbor_decref(&it);
        return ROOST_EMALFORMED;
    }
    json_t *j = cbor_item_to_json(it, 0);
    cbor_decref(&it);
    if (!j)
        return ROOST_EMALFORMED;
    *out = j;
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
