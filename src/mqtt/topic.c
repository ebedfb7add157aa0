/*
 * topic.c - MQTT topic names and topic filters: validity, shared-subscription
 * splitting, and matching a filter against a topic with the specification's
 * semantics (MQTT 5 section 4.7, 3.1.1 section 4.7). Matching runs once per
 * subscription candidate for every message routed, so it walks both strings
 * once, in place, without allocating.
 */
#include "mqtt.h"

/* Strings on the wire carry a 16-bit length. */
#define MQTT_STR_MAX 65535u

#define SHARE_PREFIX "$share/"
#define SHARE_PREFIX_LEN (sizeof(SHARE_PREFIX) - 1)

bool roost_mqtt_topic_valid(struct roost_str topic)
{
    if (topic.n == 0 || topic.n > MQTT_STR_MAX)
        return false;
    if (memchr(topic.p, '+', topic.n) || memchr(topic.p, '#', topic.n))
        return false;
    return roost_mqtt_utf8_valid(topic.p, topic.n);
}

/* Wildcard placement only: '+' must be a whole level, '#' a whole level and
 * the last one. */
static bool filter_levels_valid(const char *s, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '+') {
            if ((i > 0 && s[i - 1] != '/') || (i + 1 < n && s[i + 1] != '/'))
                return false;
        } else if (c == '#') {
            if ((i > 0 && s[i - 1] != '/') || i + 1 != n)
                return false;
        }
    }
    return true;
}

bool roost_mqtt_filter_shared(struct roost_str filter, struct roost_str *out_group,
                              struct roost_str *out_filter)
{
    if (filter.n <= SHARE_PREFIX_LEN || memcmp(filter.p, SHARE_PREFIX, SHARE_PREFIX_LEN) != 0)
        return false;
    const char *group = filter.p + SHARE_PREFIX_LEN;
    size_t rest = filter.n - SHARE_PREFIX_LEN;
    const char *slash = memchr(group, '/', rest);
    if (!slash || slash == group)
        return false;
    if (out_group)
        *out_group = (struct roost_str){group, (size_t)(slash - group)};
    if (out_filter)
        *out_filter = (struct roost_str){slash + 1, rest - (size_t)(slash - group) - 1};
    return true;
}

bool roost_mqtt_filter_valid(struct roost_str filter)
{
    if (filter.n == 0 || filter.n > MQTT_STR_MAX)
        return false;
    if (!roost_mqtt_utf8_valid(filter.p, filter.n))
        return false;
    /* Anything starting "$share/" must be a well-formed shared
     * subscription (MQTT 5 4.8.2); "$share" alone is an ordinary filter. */
    if (filter.n >= SHARE_PREFIX_LEN && memcmp(filter.p, SHARE_PREFIX, SHARE_PREFIX_LEN) == 0) {
        struct roost_str group, inner;
        if (!roost_mqtt_filter_shared(filter, &group, &inner))
            return false;
        if (memchr(group.p, '+', group.n) || memchr(group.p, '#', group.n))
            return false;
        return filter_levels_valid(inner.p, inner.n);
    }
    return filter_levels_valid(filter.p, filter.n);
}

/* A filter level that is exactly the single character c. */
static inline bool is_wild_level(const char *f, const char *fe, char c)
{
    return *f == c && (f + 1 == fe || f[1] == '/');
}

bool roost_mqtt_topic_matches(struct roost_str filter, struct roost_str topic)
{
    if (filter.n == 0 || topic.n == 0)
        return false;
    const char *f = filter.p, *fe = f + filter.n;
    const char *t = topic.p, *te = t + topic.n;

    /* Topics starting with '$' (server topics: $SYS, $aws) are not matched
     * by filters starting with a wildcard [MQTT-4.7.2-1]. */
    if (*t == '$' && (*f == '+' || *f == '#'))
        return false;

    /* Invariant at the loop head: f starts a filter level and, when
     * t_more, t starts a topic level (possibly empty). */
    bool t_more = true;
    for (;;) {
        if (is_wild_level(f, fe, '#'))
            return true; /* this level and everything below, parent included */
        if (!t_more)
            return false;
        if (is_wild_level(f, fe, '+')) {
            f++;
            const char *slash = memchr(t, '/', (size_t)(te - t));
            t = slash ? slash : te;
        } else {
            while (f < fe && *f != '/') {
                if (t == te || *t != *f)
                    return false;
                f++;
                t++;
            }
            if (t < te && *t != '/')
                return false;
        }
        /* Both now sit at a '/' or at their end. */
        t_more = t < te;
        if (t_more)
            t++;
        if (f == fe)
            return !t_more;
        f++;
        if (f == fe) /* filter ends in '/': an empty last level */
            return t_more && t == te;
    }
}
