/*
 * shadow_test_util.h - helpers shared by the shadow unit tests: a small
 * harness that keeps "the stored shadow" between steps the way the service
 * will (update replaces it, delete drops it and remembers the version), and
 * JSON comparison, byte for byte or structurally.
 */
#ifndef SHADOW_TEST_UTIL_H
#define SHADOW_TEST_UTIL_H

#include "roost_test.h"
#include "shadow/shadow.h"

#include <jansson.h>
#include <stdio.h>

struct sim {
    struct roost_shadow *cur;          /* the stored shadow, or NULL */
    uint64_t base_version;             /* version of the last deleted one */
    const char *thing;
    const char *name;                  /* NULL for the classic shadow */
    struct roost_shadow_limits lim;
    struct roost_shadow_result res;
    int rc;
};

static inline void sim_init(struct sim *s, const char *thing, const char *name)
{
    memset(s, 0, sizeof(*s));
    s->thing = thing;
    s->name = name;
    roost_shadow_limits_default(&s->lim);
    roost_shadow_result_init(&s->res);
}

static inline void sim_cleanup(struct sim *s)
{
    roost_shadow_destroy(s->cur);
    roost_shadow_result_cleanup(&s->res);
}

static inline struct roost_shadow_req sim_req(struct sim *s, const char *payload, int64_t now)
{
    struct roost_shadow_req req = {
        .thing = roost_str_c(s->thing),
        .name = roost_str_c(s->name),
        .payload = payload,
        .len = payload ? strlen(payload) : 0,
        .now = now,
        .base_version = s->base_version,
    };
    return req;
}

/* Runs an operation and, like the service, keeps what it produced: the new
 * shadow after an accepted update, nothing after a delete. */
static inline int sim_update(struct sim *s, const char *payload, int64_t now)
{
    struct roost_shadow_req req = sim_req(s, payload, now);
    s->rc = roost_shadow_update(&s->lim, s->cur, &req, &s->res);
    if (s->rc == 0) {
        roost_shadow_destroy(s->cur);
        s->cur = s->res.shadow;
        s->res.shadow = NULL;
    }
    return s->rc;
}

static inline int sim_get(struct sim *s, const char *payload, int64_t now)
{
    struct roost_shadow_req req = sim_req(s, payload, now);
    s->rc = roost_shadow_get(&s->lim, s->cur, &req, &s->res);
    return s->rc;
}

static inline int sim_delete(struct sim *s, const char *payload, int64_t now)
{
    struct roost_shadow_req req = sim_req(s, payload, now);
    s->rc = roost_shadow_delete(&s->lim, s->cur, &req, &s->res);
    if (s->rc == 0) {
        s->base_version = s->res.version;
        roost_shadow_destroy(s->cur);
        s->cur = NULL;
    }
    return s->rc;
}

/* A buffer's bytes as a NUL-terminated string (static storage, one at a time). */
static inline const char *buf_text(const struct roost_buf *b)
{
    static char text[65536];
    size_t n = roost_buf_size(b);
    if (n >= sizeof(text))
        n = sizeof(text) - 1;
    if (n)
        memcpy(text, roost_buf_head(b), n);
    text[n] = '\0';
    return text;
}

/* Structural equality: same values, key order ignored. Reports both texts
 * on a mismatch. `drop` names a top-level key to remove from the actual
 * document first (for examples printed by SDKs that drop a field). */
static inline bool json_same_drop(const char *file, int line, const char *expected,
                                  const struct roost_buf *actual, const char *drop)
{
    json_error_t err;
    json_t *e = json_loads(expected, 0, &err);
    json_t *a = json_loadb((const char *)roost_buf_head(actual), roost_buf_size(actual), 0, &err);
    if (a && drop)
        json_object_del(a, drop);
    bool same = e && a && json_equal(e, a);
    if (!same)
        roost_test_fail(file, line, "JSON differs:\n    expected %s\n    actual   %s", expected,
                        buf_text(actual));
    json_decref(e);
    json_decref(a);
    return same;
}

#define CHECK_JSON(expected, actual) json_same_drop(__FILE__, __LINE__, (expected), &(actual), NULL)
#define CHECK_JSON_DROP(expected, actual, drop)                                                    \
    json_same_drop(__FILE__, __LINE__, (expected), &(actual), (drop))
/* Byte for byte: key order and formatting included. */
#define CHECK_BYTES(expected, actual) CHECK_STR(buf_text(&(actual)), (expected))

#endif /* SHADOW_TEST_UTIL_H */
