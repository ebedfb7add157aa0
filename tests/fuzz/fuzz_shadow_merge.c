/*
 * fuzz_shadow_merge.c - libFuzzer target for the shadow core: a stored
 * shadow and a request go through update, get or delete, and every answer
 * is checked against the rules rather than against a second implementation:
 *  - every payload produced is valid JSON, and a rejection names its code;
 *  - an accepted update's version is the previous one plus one, /documents
 *    agrees with it, and its stored form parses and re-serializes to the
 *    same bytes;
 *  - the delta only holds desired keys, with desired's values;
 *  - shadows the core built itself have metadata shaped exactly like their
 *    state, no nulls, and no section deeper than the limit.
 *
 * Input: byte 0 picks the mode. 'u', 'g', 'd' (text mode): the rest is the
 * stored document and the request separated by the first NUL byte (no NUL:
 * no stored shadow), run as update, get or delete. Any other byte
 * (generated mode): the rest drives a small generator that writes two
 * requests, the first applied to no shadow and the second, as update, get
 * or delete, to its result, so the merge sees well-formed documents often.
 */
#include "shadow/shadow.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#define FUZZ_CHECK(cond)                                                       \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            abort();                                                           \
        }                                                                      \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* ==== Checks ============================================================== */

static json_t *load(const struct roost_buf *b)
{
    json_error_t err;
    json_t *v = json_loadb((const char *)roost_buf_head(b), roost_buf_size(b), 0, &err);
    FUZZ_CHECK(json_is_object(v));
    return v;
}

static void check_delta(const json_t *delta, const json_t *desired)
{
    const char *k;
    json_t *dv;
    FUZZ_CHECK(json_is_object(delta) && json_is_object(desired));
    json_object_foreach((json_t *)delta, k, dv) {
        json_t *want = json_object_get(desired, k);
        FUZZ_CHECK(want != NULL);
        if (json_is_object(dv) && json_is_object(want))
            check_delta(dv, want);
        else
            FUZZ_CHECK(json_equal(dv, want));
    }
}

/* Metadata mirrors state; returns the depth (a section's keys are level 2). */
static unsigned check_shape(const json_t *v, const json_t *md, unsigned level)
{
    unsigned deepest = level;
    FUZZ_CHECK(!json_is_null(v));
    if (json_is_object(v)) {
        const char *k;
        json_t *child;
        FUZZ_CHECK(json_is_object(md) && json_object_size(md) == json_object_size(v));
        json_object_foreach((json_t *)v, k, child) {
            unsigned d = check_shape(child, json_object_get(md, k), level + 1);
            deepest = d > deepest ? d : deepest;
        }
    } else if (json_is_array(v)) {
        FUZZ_CHECK(json_is_array(md) && json_array_size(md) == json_array_size(v));
        for (size_t i = 0; i < json_array_size(v); i++) {
            unsigned d = check_shape(json_array_get(v, i), json_array_get(md, i), level + 1);
            deepest = d > deepest ? d : deepest;
        }
    } else {
        FUZZ_CHECK(json_is_object(md) && json_object_size(md) == 1 &&
                   json_is_integer(json_object_get(md, "timestamp")));
    }
    return deepest;
}

/* A stored form written by the core: parses back to the same bytes, and,
 * when the core built the whole shadow, is well shaped. */
static void check_stored(const struct roost_buf *stored, uint64_t version, bool built_here,
                         const struct roost_shadow_limits *lim)
{
    struct roost_shadow *again = NULL;
    struct roost_buf b;
    FUZZ_CHECK(roost_shadow_parse(roost_buf_head(stored), roost_buf_size(stored), &again) == 0);
    FUZZ_CHECK(roost_shadow_version(again) == version);
    roost_buf_init(&b, 0);
    roost_shadow_serialize(again, &b);
    FUZZ_CHECK(roost_buf_size(&b) == roost_buf_size(stored));
    FUZZ_CHECK(memcmp(roost_buf_head(&b), roost_buf_head(stored), roost_buf_size(&b)) == 0);
    roost_buf_cleanup(&b);
    roost_shadow_destroy(again);

    json_t *doc = load(stored);
    json_t *state = json_object_get(doc, "state");
    json_t *md = json_object_get(doc, "metadata");
    FUZZ_CHECK(json_is_object(state) && json_is_object(md));
    if (built_here) {
        FUZZ_CHECK(json_object_size(state) == json_object_size(md));
        const char *k;
        json_t *sec;
        json_object_foreach(state, k, sec) {
            FUZZ_CHECK(strcmp(k, "desired") == 0 || strcmp(k, "reported") == 0);
            FUZZ_CHECK(json_object_size(sec) > 0);
            FUZZ_CHECK(check_shape(sec, json_object_get(md, k), 1) <= lim->max_depth);
        }
    }
    json_decref(doc);
}

static void check_result(int op, int rc, const struct roost_shadow_result *r,
                         const struct roost_shadow *cur, uint64_t base, bool cur_built_here,
                         const struct roost_shadow_limits *lim)
{
    json_t *reply = load(&r->reply);
    FUZZ_CHECK((rc == 0) == (r->code == 0));
    if (rc != 0) {
        FUZZ_CHECK(json_integer_value(json_object_get(reply, "code")) == r->code);
        FUZZ_CHECK(json_is_string(json_object_get(reply, "message")));
        FUZZ_CHECK(r->shadow == NULL && roost_buf_size(&r->delta) == 0 &&
                   roost_buf_size(&r->documents) == 0 && roost_buf_size(&r->stored) == 0);
        json_decref(reply);
        return;
    }
    uint64_t prev = cur ? roost_shadow_version(cur) : base;
    if (op == 0) {
        FUZZ_CHECK(r->version == prev + 1);
        FUZZ_CHECK(r->shadow && roost_shadow_version(r->shadow) == r->version);
        FUZZ_CHECK(json_integer_value(json_object_get(reply, "version")) == (json_int_t)r->version);
        FUZZ_CHECK(json_object_get(reply, "state") != NULL);
        json_t *docs = load(&r->documents);
        json_t *current = json_object_get(docs, "current");
        json_t *previous = json_object_get(docs, "previous");
        FUZZ_CHECK(json_integer_value(json_object_get(current, "version")) == (json_int_t)r->version);
        FUZZ_CHECK(cur ? json_integer_value(json_object_get(previous, "version")) == (json_int_t)prev
                       : previous == NULL);
        json_t *desired = json_object_get(json_object_get(current, "state"), "desired");
        if (roost_buf_size(&r->delta)) {
            json_t *delta = load(&r->delta);
            FUZZ_CHECK(json_integer_value(json_object_get(delta, "version")) == (json_int_t)r->version);
            check_delta(json_object_get(delta, "state"), desired);
            json_decref(delta);
        }
        json_decref(docs);
        check_stored(&r->stored, r->version, cur == NULL || cur_built_here, lim);
    } else if (op == 1) {
        FUZZ_CHECK(json_integer_value(json_object_get(reply, "version")) == (json_int_t)prev);
        json_t *state = json_object_get(reply, "state");
        json_t *delta = json_object_get(state, "delta");
        if (delta)
            check_delta(delta, json_object_get(state, "desired"));
    } else {
        FUZZ_CHECK(r->version == prev);
        FUZZ_CHECK(json_integer_value(json_object_get(reply, "version")) == (json_int_t)prev);
    }
    json_decref(reply);
}

static int run(int op, const struct roost_shadow_limits *lim, const struct roost_shadow *cur,
               const struct roost_shadow_req *req, struct roost_shadow_result *r)
{
    if (op == 0)
        return roost_shadow_update(lim, cur, req, r);
    if (op == 1)
        return roost_shadow_get(lim, cur, req, r);
    return roost_shadow_delete(lim, cur, req, r);
}

/* ==== Generator ============================================================ */

struct gen {
    const uint8_t *p;
    size_t n;
    struct roost_buf *b;
};

static unsigned take(struct gen *g)
{
    if (!g->n)
        return 0;
    g->n--;
    return *g->p++;
}

static void put(struct gen *g, const char *s)
{
    roost_buf_append(g->b, s, strlen(s));
}

static void gen_value(struct gen *g, int depth);

static void gen_object(struct gen *g, int depth)
{
    static const char *keys[] = {"\"a\"", "\"b\"", "\"c\"", "\"d\"", "\"timestamp\""};
    unsigned n = take(g) % 4;
    put(g, "{");
    for (unsigned i = 0; i < n; i++) {
        if (i)
            put(g, ",");
        put(g, keys[take(g) % 5]);
        put(g, ":");
        gen_value(g, depth + 1);
    }
    put(g, "}");
}

static void gen_value(struct gen *g, int depth)
{
    char tmp[48];
    unsigned c = take(g) % 12;
    if (depth > 9 && (c == 6 || c == 7 || c == 8))
        c = 2;
    switch (c) {
    case 0: put(g, "null"); break;
    case 1: put(g, take(g) & 1 ? "true" : "false"); break;
    case 2: snprintf(tmp, sizeof(tmp), "%u", take(g) % 4); put(g, tmp); break;
    case 3: snprintf(tmp, sizeof(tmp), "%u.0", take(g) % 4); put(g, tmp); break;
    case 4: snprintf(tmp, sizeof(tmp), "%g", (double)(int)(take(g) - 128) / 7.0); put(g, tmp); break;
    case 5: snprintf(tmp, sizeof(tmp), "\"s%u\"", take(g) % 3); put(g, tmp); break;
    case 6:
    case 7: gen_object(g, depth); break;
    case 8: {
        unsigned n = take(g) % 3;
        put(g, "[");
        for (unsigned i = 0; i < n; i++) {
            if (i)
                put(g, ",");
            gen_value(g, depth + 1);
        }
        put(g, "]");
        break;
    }
    case 9: put(g, "\"q\\\"\\\\\\n\\u00e9/\""); break;
    case 10: put(g, "-9223372036854775808"); break;
    default: put(g, "{}"); break;
    }
}

static void gen_section(struct gen *g, const char *name, bool *first)
{
    unsigned c = take(g) % 4;
    if (c == 0)
        return;
    if (!*first)
        put(g, ",");
    *first = false;
    put(g, name);
    put(g, c == 1 ? "null" : "");
    if (c != 1)
        gen_object(g, 1);
}

static void gen_request(struct gen *g)
{
    char tmp[64];
    unsigned shape = take(g) % 10;
    put(g, "{");
    if (shape == 0) {
        put(g, "\"state\":null");
    } else if (shape == 1) {
        put(g, "\"nostate\":1");
    } else if (shape == 2) {
        put(g, "\"state\":{\"delta\":{}}");
    } else {
        bool first = true;
        put(g, "\"state\":{");
        gen_section(g, "\"desired\":", &first);
        gen_section(g, "\"reported\":", &first);
        put(g, "}");
    }
    unsigned extra = take(g);
    if (extra & 1) {
        snprintf(tmp, sizeof(tmp), ",\"version\":%u", take(g) % 4);
        put(g, tmp);
    }
    if (extra & 2)
        put(g, ",\"clientToken\":\"tok\\\"1\"");
    put(g, "}");
}

/* ==== Entry ================================================================ */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct roost_shadow_limits lim;
    struct roost_shadow_result r;
    struct roost_shadow *cur = NULL;
    struct roost_shadow_req req = {.thing = ROOST_STR_LIT("thing-1"), .now = 1700000000};
    int op, rc;

    if (size < 1)
        return 0;
    roost_shadow_limits_default(&lim);
    roost_shadow_result_init(&r);

    if (data[0] == 'u' || data[0] == 'g' || data[0] == 'd') {
        op = data[0] == 'u' ? 0 : data[0] == 'g' ? 1 : 2;
        const uint8_t *rest = data + 1;
        size_t n = size - 1;
        const uint8_t *nul = memchr(rest, 0, n);
        /* Exact-size copies so that ASan sees a read past either part. */
        size_t slen = nul ? (size_t)(nul - rest) : 0;
        size_t qlen = nul ? n - slen - 1 : n;
        char *stored = roost_xmalloc(slen ? slen : 1);
        char *payload = roost_xmalloc(qlen ? qlen : 1);
        memcpy(stored, rest, slen);
        memcpy(payload, nul ? nul + 1 : rest, qlen);
        if (nul && roost_shadow_parse(stored, slen, &cur) == 0) {
            struct roost_buf b;
            roost_buf_init(&b, 0);
            roost_shadow_serialize(cur, &b);
            check_stored(&b, roost_shadow_version(cur), false, &lim);
            roost_buf_cleanup(&b);
        }
        req.payload = payload;
        req.len = qlen;
        req.base_version = slen % 3;
        rc = run(op, &lim, cur, &req, &r);
        check_result(op, rc, &r, cur, req.base_version, false, &lim);
        roost_free(stored);
        roost_free(payload);
        goto out;
    }

    struct roost_buf b1, b2;
    struct gen g = {data + 1, size - 1, &b1};
    roost_buf_init(&b1, 0);
    roost_buf_init(&b2, 0);
    if (data[0] & 1)
        lim.max_state_bytes = 128; /* make 413 common */
    if (data[0] & 2)
        lim.max_depth = 3;
    gen_request(&g);
    g.b = &b2;
    gen_request(&g);
    op = (int)(take(&g) % 4);
    op = op == 3 ? 0 : op;

    req.payload = roost_buf_head(&b1);
    req.len = roost_buf_size(&b1);
    rc = roost_shadow_update(&lim, NULL, &req, &r);
    check_result(0, rc, &r, NULL, 0, true, &lim);
    if (rc == 0) {
        cur = r.shadow;
        r.shadow = NULL;
    }
    req.payload = roost_buf_head(&b2);
    req.len = roost_buf_size(&b2);
    req.now++;
    rc = run(op, &lim, cur, &req, &r);
    check_result(op, rc, &r, cur, 0, true, &lim);
    roost_buf_cleanup(&b1);
    roost_buf_cleanup(&b2);
out:
    roost_shadow_destroy(cur);
    roost_shadow_result_cleanup(&r);
    return 0;
}
