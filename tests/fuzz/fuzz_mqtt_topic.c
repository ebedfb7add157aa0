/*
 * fuzz_mqtt_topic.c - libFuzzer target for topic names, filters, UTF-8 and
 * matching. Byte 0 says where the rest splits into a filter and a topic.
 * The fast implementations are checked against plain reference versions
 * written level by level here, and against invariants: a valid topic
 * matches itself, and `<topic>/#`; '#' matches every valid topic not
 * starting with '$'; a valid shared filter splits into a valid group and
 * filter.
 */
#include "mqtt/mqtt.h"

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

static bool ref_utf8(const uint8_t *s, size_t n)
{
    static const uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
    size_t i = 0;
    while (i < n) {
        uint32_t cp;
        size_t len;
        uint8_t c = s[i];
        if (c < 0x80) {
            cp = c, len = 1;
        } else if ((c & 0xE0) == 0xC0) {
            cp = c & 0x1F, len = 2;
        } else if ((c & 0xF0) == 0xE0) {
            cp = c & 0x0F, len = 3;
        } else if ((c & 0xF8) == 0xF0) {
            cp = c & 0x07, len = 4;
        } else {
            return false;
        }
        if (i + len > n)
            return false;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if (cp == 0 || cp < min[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += len;
    }
    return true;
}

/* Splits s on '/' into at most cap levels; returns the count. */
static size_t split_levels(struct roost_str s, struct roost_str *lv, size_t cap)
{
    size_t n = 0, start = 0;
    for (size_t i = 0; i <= s.n; i++) {
        if (i == s.n || s.p[i] == '/') {
            FUZZ_CHECK(n < cap);
            lv[n++] = (struct roost_str){s.p + start, i - start};
            start = i + 1;
        }
    }
    return n;
}

static bool ref_levels_valid(struct roost_str f)
{
    struct roost_str *lv = roost_xcalloc(f.n + 1, sizeof(*lv));
    size_t n = split_levels(f, lv, f.n + 1);
    bool ok = f.n > 0;
    for (size_t i = 0; ok && i < n; i++) {
        bool plus = memchr(lv[i].p, '+', lv[i].n) != NULL;
        bool hash = memchr(lv[i].p, '#', lv[i].n) != NULL;
        if ((plus || hash) && lv[i].n != 1)
            ok = false;
        if (hash && i + 1 != n)
            ok = false;
    }
    roost_free(lv);
    return ok;
}

static bool ref_filter_valid(struct roost_str f)
{
    if (f.n == 0 || f.n > 65535 || !ref_utf8((const uint8_t *)f.p, f.n))
        return false;
    if (f.n >= 7 && memcmp(f.p, "$share/", 7) == 0) {
        struct roost_str rest = {f.p + 7, f.n - 7};
        const char *slash = memchr(rest.p, '/', rest.n);
        if (!slash || slash == rest.p)
            return false;
        struct roost_str group = {rest.p, (size_t)(slash - rest.p)};
        if (memchr(group.p, '+', group.n) || memchr(group.p, '#', group.n))
            return false;
        return ref_levels_valid((struct roost_str){slash + 1, rest.n - group.n - 1});
    }
    return ref_levels_valid(f);
}

static bool eq(struct roost_str a, const char *lit)
{
    return a.n == strlen(lit) && memcmp(a.p, lit, a.n) == 0;
}

static bool ref_match(struct roost_str f, struct roost_str t)
{
    if (f.n == 0 || t.n == 0)
        return false;
    if (t.p[0] == '$' && (f.p[0] == '+' || f.p[0] == '#'))
        return false;
    struct roost_str *fl = roost_xcalloc(f.n + 1, sizeof(*fl));
    struct roost_str *tl = roost_xcalloc(t.n + 1, sizeof(*tl));
    size_t nf = split_levels(f, fl, f.n + 1), nt = split_levels(t, tl, t.n + 1);
    bool m = false;
    size_t i;
    for (i = 0; i < nf; i++) {
        if (eq(fl[i], "#")) {
            m = true;
            goto out;
        }
        if (i >= nt)
            goto out;
        if (eq(fl[i], "+"))
            continue;
        if (!roost_str_eq(fl[i], tl[i]))
            goto out;
    }
    m = nf == nt;
out:
    roost_free(fl);
    roost_free(tl);
    return m;
}

static void check_one(struct roost_str s)
{
    bool utf8 = roost_mqtt_utf8_valid(s.p, s.n);
    FUZZ_CHECK(utf8 == ref_utf8((const uint8_t *)s.p, s.n));
    bool topic = roost_mqtt_topic_valid(s);
    FUZZ_CHECK(topic == (s.n > 0 && s.n <= 65535 && utf8 && !memchr(s.p, '+', s.n) &&
                         !memchr(s.p, '#', s.n)));
    bool filter = roost_mqtt_filter_valid(s);
    FUZZ_CHECK(filter == ref_filter_valid(s));

    struct roost_str group, inner;
    if (filter && roost_mqtt_filter_shared(s, &group, &inner)) {
        FUZZ_CHECK(group.n > 0 && !memchr(group.p, '/', group.n));
        FUZZ_CHECK(!memchr(group.p, '+', group.n) && !memchr(group.p, '#', group.n));
        FUZZ_CHECK(group.n + inner.n + 8 == s.n);
        if (!(inner.n >= 7 && memcmp(inner.p, "$share/", 7) == 0))
            FUZZ_CHECK(roost_mqtt_filter_valid(inner));
    }
    if (topic) {
        bool share_like = s.n >= 7 && memcmp(s.p, "$share/", 7) == 0;
        if (!share_like)
            FUZZ_CHECK(filter);
        FUZZ_CHECK(roost_mqtt_topic_matches(s, s));
        FUZZ_CHECK(roost_mqtt_topic_matches(ROOST_STR_LIT("#"), s) == (s.p[0] != '$'));
        char *sub = roost_xmalloc(s.n + 2);
        memcpy(sub, s.p, s.n);
        memcpy(sub + s.n, "/#", 2);
        FUZZ_CHECK(roost_mqtt_topic_matches((struct roost_str){sub, s.n + 2}, s));
        roost_free(sub);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t rest = size - 1;
    size_t split = rest ? data[0] % (rest + 1) : 0;
    /* Exact-size copies so ASan catches a read past either string. */
    char *f = roost_xmalloc(split ? split : 1);
    char *t = roost_xmalloc(rest - split ? rest - split : 1);
    memcpy(f, data + 1, split);
    memcpy(t, data + 1 + split, rest - split);
    struct roost_str filter = {f, split}, topic = {t, rest - split};

    check_one(filter);
    check_one(topic);
    FUZZ_CHECK(roost_mqtt_topic_matches(filter, topic) == ref_match(filter, topic));
    if (roost_mqtt_filter_valid(filter) && roost_mqtt_topic_valid(topic) &&
        roost_mqtt_topic_matches(filter, topic)) {
        /* Without wildcards, matching is equality. */
        if (!memchr(filter.p, '+', filter.n) && !memchr(filter.p, '#', filter.n))
            FUZZ_CHECK(roost_str_eq(filter, topic));
    }
    roost_free(f);
    roost_free(t);
    return 0;
}
