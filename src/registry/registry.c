/*
 * registry.c - the registry's core: the life cycle of struct roost_registry,
 * routing a request to an operation of the table (ops_table.c), running it,
 * the AWS error on a call, and the caches that the broker reads on every
 * handshake (certificate status, trusted CA certificates, things attached
 * to a certificate). Also the small helpers every operation file uses
 * (registry_int.h).
 *
 * Caches are loaded from the store at create and refreshed after each
 * committed call from its effects (roost_registry_apply_effects): the store
 * is read first, outside the cache lock, then the new entries are swapped in
 * under the write lock, so readers on event loops wait only for pointer
 * moves. refresh_mu keeps two refreshes from interleaving their read and
 * swap halves, which could otherwise install an older reading last.
 */
#include "registry/registry_int.h"

#include <ctype.h>
#include <strings.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#define SUB "registry"

/* ==== Calls: errors, effects, cleanup ===================================== */

/*
 * Records an AWS error on the call: HTTP status, error code (a static
 * string), the formatted message; drops any result and error_extra. Returns
 * the ROOST_E* code matching the status, never 0, so an operation can
 * `return roost_api_fail(...)` and roll its transaction back.
 */
int roost_api_fail(struct roost_api_call *call, int status, const char *code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(call->error_message, sizeof(call->error_message), fmt, ap);
    va_end(ap);
    call->status = status;
    call->error_code = code;
    json_decref(call->result);
    call->result = NULL;
    json_decref(call->error_extra);
    call->error_extra = NULL;
    switch (status) {
    case 400:
        return ROOST_EINVAL;
    case 401:
    case 403:
        return ROOST_EAUTH;
    case 404:
        return ROOST_ENOTFOUND;
    case 409:
        return ROOST_ECONFLICT;
    case 410:
    case 413:
        return ROOST_ETOOBIG;
    default:
        return ROOST_EPROTO;
    }
}

/*
 * Releases what a call owns: the result, error_extra, the effects' list and
 * the path labels (heap copies made by roost_registry_route). Input members
 * query, body and raw_body belong to whoever filled them in. Leaves the call
 * zeroed apart from those inputs; safe on a zeroed call.
 */
void roost_api_call_cleanup(struct roost_api_call *call)
{
    if (!call)
        return;
    json_decref(call->result);
    call->result = NULL;
    json_decref(call->error_extra);
    call->error_extra = NULL;
    roost_free(call->effects.certs);
    registry__events_clear(&call->effects);
    memset(&call->effects, 0, sizeof(call->effects));
    for (size_t i = 0; i < ROOST_API_MAX_LABELS; i++) {
        roost_free((void *)call->labels[i]);
        call->labels[i] = NULL;
    }
    call->op = NULL;
    call->error_code = NULL;
    call->error_message[0] = '\0';
}

/* Notes that a certificate's status or attachments changed (once per id). */
void roost_api_effects_cert(struct roost_api_call *call, const char *cert_id)
{
    struct roost_registry_effects *fx = &call->effects;
    if (!cert_id || strlen(cert_id) != 64)
        return;
    for (size_t i = 0; i < fx->n_certs; i++)
        if (memcmp(fx->certs[i], cert_id, 64) == 0)
            return;
    if (fx->n_certs == fx->cap_certs) {
        fx->cap_certs = fx->cap_certs ? fx->cap_certs * 2 : 4;
        fx->certs = roost_xrealloc(fx->certs, fx->cap_certs * sizeof(*fx->certs));
    }
    memcpy(fx->certs[fx->n_certs], cert_id, 64);
    fx->certs[fx->n_certs][64] = '\0';
    fx->n_certs++;
}

/* ==== Routing ============================================================== */

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Percent-decodes s[0, n) into out (n + 1 bytes), NUL-terminated. '+' stays
 * '+' (AWS paths). ROOST_EMALFORMED for a bad escape or %00. */
static int pct_decode(const char *s, size_t n, char *out, size_t *out_n)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '%') {
            out[o++] = s[i];
            continue;
        }
        if (i + 2 >= n)
            return ROOST_EMALFORMED;
        int hi = hexval(s[i + 1]);
        int lo = hexval(s[i + 2]);
        if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
            return ROOST_EMALFORMED;
        out[o++] = (char)(hi * 16 + lo);
        i += 2;
    }
    out[o] = '\0';
    if (out_n)
        *out_n = o;
    return 0;
}

/*
 * Matches one pattern against a path (no query). Returns the number of
 * literal segments (>= 0) when it matches, -1 when it does not. With `labels`
 * set, stores heap copies of the decoded labels there. `scratch` has room
 * for the whole path decoded.
 */
static int match_pattern(const char *pattern, const char *path, size_t len, char *scratch,
                         const char **labels)
{
    const char *p = pattern;
    size_t i = 0;
    int literals = 0, n_labels = 0;
    bool ok = *p == '/' && len > 0 && path[0] == '/';
    while (ok && *p == '/') {
        p++;
        if (i >= len || path[i] != '/') {
            ok = false;
            break;
        }
        i++;
        const char *pend = strchr(p, '/');
        size_t plen = pend ? (size_t)(pend - p) : strlen(p);
        bool is_label = plen >= 2 && p[0] == '{' && p[plen - 1] == '}';
        bool greedy = is_label && plen >= 3 && p[plen - 2] == '+';
        size_t seg_end = i;
        if (greedy)
            seg_end = len;
        else
            while (seg_end < len && path[seg_end] != '/')
                seg_end++;
        size_t dn = 0;
        if (pct_decode(path + i, seg_end - i, scratch, &dn)) {
            ok = false;
        } else if (is_label) {
            ok = dn > 0 && n_labels < ROOST_API_MAX_LABELS;
            if (ok && labels)
                labels[n_labels] = roost_xstrndup(scratch, dn);
            n_labels += ok;
        } else {
            ok = dn == plen && memcmp(scratch, p, plen) == 0;
            literals += ok;
        }
        i = seg_end;
        p += plen;
    }
    if (ok && (*p != '\0' || i != len))
        ok = false;
    if (ok)
        return literals;
    for (int k = 0; labels && k < n_labels; k++) {
        roost_free((void *)labels[k]);
        labels[k] = NULL;
    }
    return -1;
}

/*
 * Finds the operation for `method` and the raw path (a query after '?' is
 * ignored). Among patterns that match, the one with the most literal
 * segments wins ("/thing-groups/addThingToThingGroup" over
 * "/thing-groups/{thingGroupName}"). Fills call->op and call->labels, heap
 * copies that roost_api_call_cleanup frees. ROOST_ENOTFOUND when nothing
 * matches (*out_path_known says whether another method would have);
 * ROOST_EMALFORMED when the path has a bad percent escape.
 */
int roost_registry_route(const char *method, const char *raw_path, size_t raw_path_len,
                         struct roost_api_call *call, bool *out_path_known)
{
    const char *q = memchr(raw_path, '?', raw_path_len);
    size_t len = q ? (size_t)(q - raw_path) : raw_path_len;
    const struct roost_registry_op *best = NULL;
    int best_literals = -1;
    bool known = false;
    char *scratch = roost_xmalloc(len + 1);
    int rc = pct_decode(raw_path, len, scratch, NULL);
    if (rc)
        goto out;
    for (size_t k = 0; k < registry__n_ops; k++) {
        const struct roost_registry_op *op = &registry__ops[k];
        int lit = match_pattern(op->path, raw_path, len, scratch, NULL);
        if (lit < 0)
            continue;
        known = true;
        if (strcmp(op->method, method) == 0 && lit > best_literals) {
            best = op;
            best_literals = lit;
        }
    }
    if (!best) {
        rc = ROOST_ENOTFOUND;
        goto out;
    }
    for (size_t i = 0; i < ROOST_API_MAX_LABELS; i++) {
        roost_free((void *)call->labels[i]);
        call->labels[i] = NULL;
    }
    match_pattern(best->path, raw_path, len, scratch, call->labels);
    call->op = best;
out:
    if (out_path_known)
        *out_path_known = known;
    roost_free(scratch);
    return rc;
}

/*
 * Runs call->op inside `txn`. A body that is not a JSON object is refused
 * here for every operation. On success the call's status is 200; on failure
 * it carries the AWS error (an operation that fails without naming one gets
 * InternalFailureException 500), its result is dropped and so are its
 * effects, since the transaction rolls back.
 */
int roost_registry_call(struct roost_registry *reg, struct roost_store_txn *txn,
                        struct roost_api_call *call)
{
    int rc;
    call->status = 200;
    call->error_code = NULL;
    call->error_message[0] = '\0';
    if (!call->now_ms)
        call->now_ms = roost_wall_ms();
    if (!call->op || !call->op->fn) {
        rc = roost_api_fail(call, 500, "InternalFailureException", "No operation");
        goto out;
    }
    if (call->body && !json_is_object(call->body)) {
        rc = ROOST_API_INVALID(call, "The request body must be a JSON object");
        goto out;
    }
    rc = call->op->fn(reg, txn, call);
    if (rc && !call->error_code)
        roost_api_fail(call, 500, "InternalFailureException", "An unexpected error has occurred");
out:
    if (rc) {
        json_decref(call->result);
        call->result = NULL;
        call->effects.n_certs = 0;
        call->effects.cas_changed = false;
        call->effects.policies_changed = false;
        call->effects.things_changed = false;
        registry__events_clear(&call->effects); /* rolled back: nothing happened */
    } else {
        call->status = 200;
    }
    return rc;
}

/* ==== Helpers for operations =============================================== */

const char *registry__query(const struct roost_api_call *call, const char *key)
{
    if (!call->query)
        return NULL;
    const json_t *v = json_object_get(call->query, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

int registry__query_bool(struct roost_api_call *call, const char *key, bool def, bool *out)
{
    const char *v = registry__query(call, key);
    *out = def;
    if (!v)
        return 0;
    if (strcasecmp(v, "true") == 0)
        *out = true;
    else if (strcasecmp(v, "false") == 0)
        *out = false;
    else
        return ROOST_API_INVALID(call, "Invalid value for %s: expected true or false", key);
    return 0;
}

int registry__query_int(struct roost_api_call *call, const char *key, int64_t min, int64_t max,
                        int64_t def, int64_t *out)
{
    const char *v = registry__query(call, key);
    *out = def;
    if (!v)
        return 0;
    char *end = NULL;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (!*v || isspace((unsigned char)*v) || *end || errno || n < min || n > max)
        return ROOST_API_INVALID(call, "Invalid value for %s: %.64s", key, v);
    *out = (int64_t)n;
    return 0;
}

int registry__max_results(struct roost_api_call *call, size_t *out)
{
    int64_t n = 0;
    const char *v = registry__query(call, "maxResults");
    int rc = registry__query_int(call, "maxResults", INT64_MIN, INT64_MAX, REGISTRY_PAGE_DEFAULT,
                                 &n);
    if (!rc && (n < 1 || n > REGISTRY_PAGE_MAX))
        rc = ROOST_API_INVALID(call,
                               "1 validation error detected: Value '%s' at 'maxResults' failed "
                               "to satisfy constraint: Member must have value between 1 and %d",
                               v, REGISTRY_PAGE_MAX);
    *out = (size_t)n;
    return rc;
}

static int wrong_type(struct roost_api_call *call, const char *key, const char *want)
{
    return ROOST_API_INVALID(call, "Invalid type for %s: expected %s", key, want);
}

int registry__member_string(struct roost_api_call *call, const json_t *obj, const char *key,
                            const char **out)
{
    const json_t *v = obj ? json_object_get(obj, key) : NULL;
    *out = NULL;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return wrong_type(call, key, "a string");
    *out = json_string_value(v);
    return 0;
}

int registry__member_bool(struct roost_api_call *call, const json_t *obj, const char *key,
                          bool def, bool *out)
{
    const json_t *v = obj ? json_object_get(obj, key) : NULL;
    *out = def;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_boolean(v))
        return wrong_type(call, key, "a boolean");
    *out = json_is_true(v);
    return 0;
}

int registry__member_int(struct roost_api_call *call, const json_t *obj, const char *key,
                         bool *out_present, int64_t *out)
{
    const json_t *v = obj ? json_object_get(obj, key) : NULL;
    *out_present = false;
    *out = 0;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_integer(v))
        return wrong_type(call, key, "an integer");
    *out_present = true;
    *out = (int64_t)json_integer_value(v);
    return 0;
}

int registry__member_object(struct roost_api_call *call, const json_t *obj, const char *key,
                            json_t **out)
{
    json_t *v = obj ? json_object_get(obj, key) : NULL;
    *out = NULL;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_object(v))
        return wrong_type(call, key, "an object");
    *out = v;
    return 0;
}

int registry__member_array(struct roost_api_call *call, const json_t *obj, const char *key,
                           json_t **out)
{
    json_t *v = obj ? json_object_get(obj, key) : NULL;
    *out = NULL;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_array(v))
        return wrong_type(call, key, "a list");
    *out = v;
    return 0;
}

int registry__check_name(struct roost_api_call *call, const char *member, const char *value)
{
    size_t n = value ? strlen(value) : 0;
    if (n < 1 || n > REGISTRY_NAME_MAX)
        return ROOST_API_INVALID(call,
                                 "1 validation error detected: Value '%.200s' at '%s' failed to "
                                 "satisfy constraint: Member must have length between 1 and %d",
                                 value ? value : "null", member, REGISTRY_NAME_MAX);
    for (size_t i = 0; i < n; i++) {
        char c = value[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == ':' || c == '_' || c == '-';
        if (!ok)
            return ROOST_API_INVALID(call,
                                     "1 validation error detected: Value '%.200s' at '%s' failed "
                                     "to satisfy constraint: Member must satisfy regular "
                                     "expression pattern: [a-zA-Z0-9:_-]+",
                                     value, member);
    }
    return 0;
}

int registry__store_fail(struct roost_api_call *call, int rc, const char *what)
{
    roost_log_error(SUB, "%s: store: %s", what, roost_strerror(rc));
    return roost_api_fail(call, 500, "InternalFailureException", "An unexpected error has occurred");
}

int registry__fail_exists(struct roost_api_call *call, const char *id, const char *arn,
                          const char *fmt, ...)
{
    char msg[sizeof(call->error_message)];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    int rc = ROOST_API_EXISTS(call, "%s", msg);
    call->error_extra = json_object();
    if (id)
        json_object_set_new(call->error_extra, "resourceId", json_string(id));
    if (arn)
        json_object_set_new(call->error_extra, "resourceArn", json_string(arn));
    return rc;
}

int registry__doc_load(struct roost_api_call *call, struct roost_store_txn *txn,
                       const char *kind, const char *name, json_t **out_body,
                       int64_t *out_version)
{
    struct roost_store_doc doc;
    *out_body = NULL;
    int rc = roost_store_doc_get(txn, kind, name, &doc);
    if (rc == ROOST_ENOTFOUND)
        return rc;
    if (rc)
        return registry__store_fail(call, rc, kind);
    json_t *body = json_loads(doc.body, 0, NULL);
    if (!json_is_object(body)) {
        json_decref(body);
        roost_log_error(SUB, "%s/%s: stored body is not a JSON object", kind, name);
        return roost_api_fail(call, 500, "InternalFailureException",
                              "An unexpected error has occurred");
    }
    *out_body = body;
    if (out_version)
        *out_version = doc.version;
    return 0;
}

int registry__doc_store(struct roost_api_call *call, struct roost_store_txn *txn,
                        const char *kind, const char *name, const json_t *body,
                        int64_t expected_version, int64_t *out_version)
{
    char *text = json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS);
    if (!text)
        return roost_api_fail(call, 500, "InternalFailureException",
                              "An unexpected error has occurred");
    int rc = roost_store_doc_put(txn, kind, name, text, expected_version, out_version);
    json_free_t jfree = NULL;
    json_get_alloc_funcs(NULL, &jfree); /* whatever allocator jansson was given */
    jfree(text);
    if (rc && rc != ROOST_ECONFLICT && rc != ROOST_ENOTFOUND)
        return registry__store_fail(call, rc, kind);
    return rc;
}

void registry__uuid(char out[37])
{
    uint8_t b[16];
    if (roost_random_bytes(b, sizeof(b)))
        roost_panic(__FILE__, __LINE__, "no randomness for a UUID");
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
    snprintf(out, 37,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
             b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
             b[15]);
}

json_t *registry__timestamp(uint64_t ms)
{
    return json_real((double)ms / 1000.0);
}

int registry__cert_id_from_arn(const char *arn, char out[65])
{
    /* arn:<partition>:iot:<region>:<account>:cert/<id>: six ':' fields,
     * the last one holding the rest (resource ids never contain ':'). */
    const char *field[6];
    const char *p = arn;
    if (!arn)
        return ROOST_EINVAL;
    for (int i = 0; i < 6; i++) {
        field[i] = p;
        if (i == 5)
            break;
        p = strchr(p, ':');
        if (!p)
            return ROOST_EINVAL;
        p++;
    }
    if (strncmp(field[0], "arn:", 4) != 0 || strncmp(field[1], "aws", 3) != 0 ||
        strncmp(field[2], "iot:", 4) != 0 || strncmp(field[5], "cert/", 5) != 0)
        return ROOST_EINVAL;
    const char *id = field[5] + 5;
    if (strlen(id) != 64)
        return ROOST_EINVAL;
    for (size_t i = 0; i < 64; i++) {
        if (hexval(id[i]) < 0)
            return ROOST_EINVAL;
        out[i] = (char)tolower((unsigned char)id[i]);
    }
    out[64] = '\0';
    return 0;
}

/* ==== ARNs ================================================================= */

/* "arn:aws:iot:<region>:<account>:<type>/<name>" into out; ROOST_ETOOBIG if
 * it does not fit. */
int roost_registry_arn(const struct roost_registry *reg, const char *type, const char *name,
                       char *out, size_t cap)
{
    int n = snprintf(out, cap, "arn:aws:iot:%s:%s:%s/%s", reg->region, reg->account_id, type,
                     name);
    return n < 0 || (size_t)n >= cap ? ROOST_ETOOBIG : 0;
}

/* ==== Caches =============================================================== */

static enum roost_cert_status status_parse(const char *s)
{
    static const struct {
        const char *name;
        enum roost_cert_status st;
    } table[] = {
        {"ACTIVE", ROOST_CERT_ACTIVE},
        {"INACTIVE", ROOST_CERT_INACTIVE},
        {"REVOKED", ROOST_CERT_REVOKED},
        {"PENDING_TRANSFER", ROOST_CERT_PENDING_TRANSFER},
        {"PENDING_ACTIVATION", ROOST_CERT_PENDING_ACTIVATION},
        {"REGISTER_INACTIVE", ROOST_CERT_REGISTER_INACTIVE},
    };
    for (size_t i = 0; s && i < ROOST_ARRAY_LEN(table); i++)
        if (strcmp(s, table[i].name) == 0)
            return table[i].st;
    return ROOST_CERT_UNKNOWN;
}

/* The status member of a stored document body, or NULL. */
static char *body_status(const char *body)
{
    json_t *j = json_loads(body, 0, NULL);
    const char *s = json_string_value(json_object_get(j, "status"));
    char *copy = s ? roost_xstrdup(s) : NULL;
    json_decref(j);
    return copy;
}

/* What the store says about one certificate, read outside the cache lock. */
struct cert_state {
    char id[65];
    enum roost_cert_status status; /* UNKNOWN: no such certificate */
    struct registry__names *things; /* NULL when none */
};

static int collect_thing(void *ud, const struct roost_store_link *l)
{
    struct registry__names **pn = ud;
    struct registry__names *n = *pn;
    size_t count = n ? n->n : 0;
    if (strlen(l->from_name) > 128)
        return 0;
    n = roost_xrealloc(n, sizeof(*n) + (count + 1) * sizeof(n->names[0]));
    n->n = count + 1;
    snprintf(n->names[count], sizeof(n->names[count]), "%s", l->from_name);
    *pn = n;
    return 0;
}

static int read_cert_state(struct roost_store_txn *txn, const char *id, const char *body,
                           struct cert_state *out)
{
    memset(out, 0, sizeof(*out));
    snprintf(out->id, sizeof(out->id), "%s", id);
    struct roost_store_doc doc;
    if (!body) {
        int rc = roost_store_doc_get(txn, "cert", id, &doc);
        if (rc == ROOST_ENOTFOUND)
            return 0;
        if (rc)
            return rc;
        body = doc.body;
    }
    char *st = body_status(body);
    out->status = status_parse(st);
    roost_free(st);
    if (out->status == ROOST_CERT_UNKNOWN)
        roost_log_warn(SUB, "cert %s: unknown status in the store", id);
    return roost_store_link_list(txn, "principal", "thing", NULL, "cert", id, NULL, 0,
                                 collect_thing, &out->things);
}

/* Installs one certificate's state; takes its things list. Caller holds
 * the write lock. */
static void install_cert_state(struct roost_registry *reg, struct cert_state *cs)
{
    size_t klen = strlen(cs->id);
    if (cs->status == ROOST_CERT_UNKNOWN)
        roost_map_del(&reg->cert_status, cs->id, klen);
    else
        roost_map_put(&reg->cert_status, cs->id, klen, (void *)(uintptr_t)cs->status);
    void *old = cs->things ? roost_map_put(&reg->cert_things, cs->id, klen, cs->things)
                           : roost_map_del(&reg->cert_things, cs->id, klen);
    roost_free(old);
    cs->things = NULL;
}

struct load_ctx {
    struct roost_registry *reg;
    struct roost_map *ca_pems;     /* where ACTIVE CA PEMs go */
    struct roost_map *ca_infos;    /* where every CA's provisioning settings go */
    struct cert_state *states;     /* refresh: ids in, states out */
    size_t n_states;
    int rc;
};

/* Start-up: every certificate. Runs before anyone reads the caches. */
struct cert_row {
    char id[65];
    char *body;
};

struct cert_rows {
    struct cert_row *v;
    size_t n, cap;
};

static int collect_cert_row(void *ud, const struct roost_store_doc *doc)
{
    struct cert_rows *rows = ud;
    if (strlen(doc->name) != 64)
        return 0;
    if (rows->n == rows->cap) {
        rows->cap = rows->cap ? rows->cap * 2 : 64;
        rows->v = roost_xrealloc(rows->v, rows->cap * sizeof(*rows->v));
    }
    snprintf(rows->v[rows->n].id, sizeof(rows->v[rows->n].id), "%s", doc->name);
    rows->v[rows->n].body = roost_xstrdup(doc->body);
    rows->n++;
    return 0;
}

static int collect_active_ca(void *ud, const struct roost_store_doc *doc)
{
    struct roost_map *pems = ud;
    json_t *j = json_loads(doc->body, 0, NULL);
    const char *st = json_string_value(json_object_get(j, "status"));
    const char *pem = json_string_value(json_object_get(j, "certificatePem"));
    if (st && pem && strcmp(st, "ACTIVE") == 0) {
        void *old = roost_map_put(pems, doc->name, strlen(doc->name), roost_xstrdup(pem));
        roost_free(old);
    }
    json_decref(j);
    return 0;
}

/* What roost_registry_ca_info answers, from a "cacert" document: status,
 * autoRegistrationStatus, registrationConfig and the tag
 * "roost:jitp_first_connect" (RegisterCACertificate's tags). */
static struct roost_registry_ca_info *ca_info_from(const json_t *j)
{
    struct roost_registry_ca_info *ci = roost_xcalloc(1, sizeof(*ci));
    const char *st = json_string_value(json_object_get(j, "status"));
    const char *ar = json_string_value(json_object_get(j, "autoRegistrationStatus"));
    const json_t *cfg = json_object_get(j, "registrationConfig");
    ci->active = st && strcmp(st, "ACTIVE") == 0;
    ci->auto_registration = ar && strcmp(ar, "ENABLE") == 0;
    ci->has_template = json_is_string(json_object_get(cfg, "templateBody")) ||
                       json_is_string(json_object_get(cfg, "templateName"));
    ci->first_connect = -1;
    size_t i;
    json_t *tag;
    json_array_foreach(json_object_get(j, "tags"), i, tag) {
        const char *k = json_string_value(json_object_get(tag, "Key"));
        const char *v = json_string_value(json_object_get(tag, "Value"));
        if (!k || !v || strcmp(k, "roost:jitp_first_connect") != 0)
            continue;
        if (strcasecmp(v, "accept") == 0)
            ci->first_connect = 1;
        else if (strcasecmp(v, "reject") == 0)
            ci->first_connect = 0;
    }
    return ci;
}

/* Every CA document: its PEM when ACTIVE, and its provisioning settings. */
static int collect_ca(void *ud, const struct roost_store_doc *doc)
{
    struct load_ctx *ctx = ud;
    int rc = collect_active_ca(ctx->ca_pems, doc);
    json_t *j = json_loads(doc->body, 0, NULL);
    if (j && ctx->ca_infos) {
        void *old = roost_map_put(ctx->ca_infos, doc->name, strlen(doc->name), ca_info_from(j));
        roost_free(old);
    }
    json_decref(j);
    return rc;
}

static int load_all_txn(struct roost_store_txn *txn, void *ud)
{
    struct load_ctx *ctx = ud;
    struct cert_rows rows = {0};
    int rc = roost_store_doc_list(txn, "cert", NULL, NULL, 0, collect_cert_row, &rows);
    for (size_t i = 0; !rc && i < rows.n; i++) {
        struct cert_state cs;
        rc = read_cert_state(txn, rows.v[i].id, rows.v[i].body, &cs);
        if (!rc)
            install_cert_state(ctx->reg, &cs);
        roost_free(cs.things);
    }
    for (size_t i = 0; i < rows.n; i++)
        roost_free(rows.v[i].body);
    roost_free(rows.v);
    if (!rc)
        rc = roost_store_doc_list(txn, "cacert", NULL, NULL, 0, collect_ca, ctx);
    return rc;
}

static int refresh_certs_txn(struct roost_store_txn *txn, void *ud)
{
    struct load_ctx *ctx = ud;
    for (size_t i = 0; i < ctx->n_states; i++) {
        char id[65];
        memcpy(id, ctx->states[i].id, sizeof(id));
        int rc = read_cert_state(txn, id, NULL, &ctx->states[i]);
        if (rc)
            return rc;
    }
    return 0;
}

static int load_cas_txn(struct roost_store_txn *txn, void *ud)
{
    struct load_ctx *ctx = ud;
    return roost_store_doc_list(txn, "cacert", NULL, NULL, 0, collect_ca, ctx);
}

static int cmp_str_ptr(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void map_free_values(struct roost_map *m)
{
    size_t pos = 0;
    void *v;
    while (roost_map_next(m, &pos, NULL, &v))
        roost_free(v);
    roost_map_cleanup(m);
}

/* Roost's CA, then every ACTIVE CA certificate in id order, each ending in
 * a newline. */
static char *build_trusted(const char *own, const struct roost_map *pems)
{
    struct roost_buf b;
    roost_buf_init(&b, 0);
    size_t n = pems->count, k = 0, pos = 0;
    struct roost_str key;
    void *v;
    const char **ids = roost_xcalloc(n ? n : 1, sizeof(*ids));
    char **keys = roost_xcalloc(n ? n : 1, sizeof(*keys));
    while (roost_map_next(pems, &pos, &key, &v) && k < n) {
        keys[k] = roost_xstrndup(key.p, key.n);
        ids[k] = keys[k];
        k++;
    }
    qsort(ids, k, sizeof(*ids), cmp_str_ptr);
    if (own && *own) {
        roost_buf_append(&b, own, strlen(own));
        if (own[strlen(own) - 1] != '\n')
            roost_buf_append(&b, "\n", 1);
    }
    for (size_t i = 0; i < k; i++) {
        const char *pem = roost_map_get(pems, ids[i], strlen(ids[i]));
        size_t pn = strlen(pem);
        roost_buf_append(&b, pem, pn);
        if (pn && pem[pn - 1] != '\n')
            roost_buf_append(&b, "\n", 1);
    }
    roost_buf_append(&b, "", 1);
    for (size_t i = 0; i < k; i++)
        roost_free(keys[i]);
    roost_free(keys);
    roost_free(ids);
    return (char *)b.data;
}

/* Swaps in a new CA set (taking `pems` and `infos`); bumps the generation
 * if the trusted PEM text changed. Caller holds the write lock. */
static void install_cas(struct roost_registry *reg, struct roost_map *pems, struct roost_map *infos)
{
    map_free_values(&reg->ca_infos);
    reg->ca_infos = *infos;
    roost_map_init(infos);
    char *pem = build_trusted(reg->ca_pem, pems);
    map_free_values(&reg->ca_pems);
    reg->ca_pems = *pems;
    roost_map_init(pems);
    if (!reg->trusted_pem || strcmp(reg->trusted_pem, pem) != 0) {
        roost_free(reg->trusted_pem);
        reg->trusted_pem = pem;
        reg->ca_generation++;
    } else {
        roost_free(pem);
    }
}

/* ==== Life cycle =========================================================== */

/*
 * Creates the registry over an open store: copies the configuration
 * (region and account_id are required) and loads the caches from what is
 * committed. The caller keeps `store` open until roost_registry_destroy.
 */
int roost_registry_create(const struct roost_registry_config *cfg, struct roost_store *store,
                          struct roost_registry **out_reg)
{
    struct roost_registry *reg = NULL;
    struct roost_map pems, infos;
    int rc = 0;
    *out_reg = NULL;
    roost_map_init(&pems);
    roost_map_init(&infos);
    if (!cfg || !store || !cfg->region || !*cfg->region || !cfg->account_id ||
        !*cfg->account_id)
        return ROOST_EINVAL;
    reg = roost_xcalloc(1, sizeof(*reg));
    reg->region = roost_xstrdup(cfg->region);
    reg->account_id = roost_xstrdup(cfg->account_id);
    reg->endpoint_host = cfg->endpoint_host ? roost_xstrdup(cfg->endpoint_host) : NULL;
    reg->ca_pem = cfg->ca_pem ? roost_xstrdup(cfg->ca_pem) : NULL;
    if (reg->ca_pem && roost_pki_cert_id_from_pem(reg->ca_pem, strlen(reg->ca_pem), reg->own_ca_id))
        reg->own_ca_id[0] = '\0';
    reg->cfg = (struct roost_registry_config){
        .region = reg->region,
        .account_id = reg->account_id,
        .endpoint_host = reg->endpoint_host,
        .ca = cfg->ca,
        .ca_pem = reg->ca_pem,
    };
    reg->store = store;
    pthread_mutex_init(&reg->refresh_mu, NULL);
    pthread_rwlock_init(&reg->lock, NULL);
    roost_map_init(&reg->cert_status);
    roost_map_init(&reg->cert_things);
    roost_map_init(&reg->ca_pems);
    roost_map_init(&reg->ca_infos);
    struct load_ctx ctx = {.reg = reg, .ca_pems = &pems, .ca_infos = &infos};
    rc = roost_store_read(store, load_all_txn, &ctx);
    if (rc) {
        roost_log_error(SUB, "loading the registry caches: %s", roost_strerror(rc));
        goto out;
    }
    install_cas(reg, &pems, &infos);
    roost_log_info(SUB, "registry: %zu certificates, %zu active CA certificates",
                   reg->cert_status.count, reg->ca_pems.count);
out:
    map_free_values(&pems);
    map_free_values(&infos);
    if (rc) {
        roost_registry_destroy(reg);
        reg = NULL;
    }
    *out_reg = reg;
    return rc;
}

void roost_registry_destroy(struct roost_registry *reg)
{
    if (!reg)
        return;
    roost_map_cleanup(&reg->cert_status);
    map_free_values(&reg->cert_things);
    map_free_values(&reg->ca_pems);
    map_free_values(&reg->ca_infos);
    roost_free(reg->trusted_pem);
    pthread_rwlock_destroy(&reg->lock);
    pthread_mutex_destroy(&reg->refresh_mu);
    roost_free(reg->region);
    roost_free(reg->account_id);
    roost_free(reg->endpoint_host);
    roost_free(reg->ca_pem);
    roost_free(reg);
}

/*
 * After a commit: re-reads each certificate named in the effects (status
 * and attached things; a deleted one leaves the caches) and, when CA
 * certificates changed, the trusted set. Reads the store synchronously on
 * the calling thread. A store failure leaves the caches as they were and is
 * logged (the next change of the same certificate repairs them).
 */
void roost_registry_apply_effects(struct roost_registry *reg,
                                  const struct roost_registry_effects *fx)
{
    if (!reg || !fx || (fx->n_certs == 0 && !fx->cas_changed))
        return;
    pthread_mutex_lock(&reg->refresh_mu);
    struct load_ctx ctx = {.reg = reg};
    struct roost_map pems, infos;
    roost_map_init(&pems);
    roost_map_init(&infos);
    int rc = 0;
    if (fx->n_certs) {
        ctx.states = roost_xcalloc(fx->n_certs, sizeof(*ctx.states));
        ctx.n_states = fx->n_certs;
        for (size_t i = 0; i < fx->n_certs; i++)
            memcpy(ctx.states[i].id, fx->certs[i], sizeof(ctx.states[i].id));
        rc = roost_store_read(reg->store, refresh_certs_txn, &ctx);
        if (rc) {
            roost_log_error(SUB, "refreshing certificate caches: %s", roost_strerror(rc));
        } else {
            pthread_rwlock_wrlock(&reg->lock);
            for (size_t i = 0; i < ctx.n_states; i++)
                install_cert_state(reg, &ctx.states[i]);
            pthread_rwlock_unlock(&reg->lock);
        }
        for (size_t i = 0; i < ctx.n_states; i++)
            roost_free(ctx.states[i].things);
        roost_free(ctx.states);
    }
    if (fx->cas_changed) {
        ctx.ca_pems = &pems;
        ctx.ca_infos = &infos;
        rc = roost_store_read(reg->store, load_cas_txn, &ctx);
        if (rc) {
            roost_log_error(SUB, "refreshing CA certificates: %s", roost_strerror(rc));
        } else {
            pthread_rwlock_wrlock(&reg->lock);
            install_cas(reg, &pems, &infos);
            pthread_rwlock_unlock(&reg->lock);
        }
    }
    map_free_values(&pems);
    map_free_values(&infos);
    pthread_mutex_unlock(&reg->refresh_mu);
}

bool roost_registry_effects_any(const struct roost_registry_effects *fx)
{
    return fx->n_certs || fx->cas_changed || fx->policies_changed || fx->things_changed ||
           fx->n_events;
}

bool roost_registry_ca_info(struct roost_registry *reg, const char *ca_id,
                            struct roost_registry_ca_info *out)
{
    if (!reg || !ca_id || !out)
        return false;
    pthread_rwlock_rdlock(&reg->lock);
    const struct roost_registry_ca_info *ci = roost_map_get(&reg->ca_infos, ca_id, strlen(ca_id));
    if (ci)
        *out = *ci;
    pthread_rwlock_unlock(&reg->lock);
    if (!ci)
        memset(out, 0, sizeof(*out));
    return ci != NULL;
}

enum roost_cert_status roost_registry_cert_status(struct roost_registry *reg, const char *cert_id)
{
    if (!cert_id)
        return ROOST_CERT_UNKNOWN;
    pthread_rwlock_rdlock(&reg->lock);
    void *v = roost_map_get(&reg->cert_status, cert_id, strlen(cert_id));
    pthread_rwlock_unlock(&reg->lock);
    return (enum roost_cert_status)(uintptr_t)v;
}

uint64_t roost_registry_trusted_cas(struct roost_registry *reg, char **out_pem)
{
    pthread_rwlock_rdlock(&reg->lock);
    uint64_t gen = reg->ca_generation;
    if (out_pem)
        *out_pem = roost_xstrdup(reg->trusted_pem ? reg->trusted_pem : "");
    pthread_rwlock_unlock(&reg->lock);
    return gen;
}

bool roost_registry_ca_active(struct roost_registry *reg, const char *ca_id)
{
    if (!ca_id || !*ca_id)
        return false;
    if (reg->own_ca_id[0] && strcmp(ca_id, reg->own_ca_id) == 0)
        return true;
    pthread_rwlock_rdlock(&reg->lock);
    bool active = roost_map_get(&reg->ca_pems, ca_id, strlen(ca_id)) != NULL;
    pthread_rwlock_unlock(&reg->lock);
    return active;
}

size_t roost_registry_cert_things(struct roost_registry *reg, const char *cert_id,
                                  char names[][129], size_t cap)
{
    size_t n = 0;
    if (!cert_id)
        return 0;
    pthread_rwlock_rdlock(&reg->lock);
    const struct registry__names *list =
        roost_map_get(&reg->cert_things, cert_id, strlen(cert_id));
    for (; list && n < list->n && n < cap; n++)
        memcpy(names[n], list->names[n], sizeof(names[n]));
    pthread_rwlock_unlock(&reg->lock);
    return n;
}
