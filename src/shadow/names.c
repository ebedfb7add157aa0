/*
 * names.c - thing and shadow names, and the reserved topics that carry
 * shadow requests and answers: $aws/things/T/shadow[/name/S]/OP[/SUFFIX].
 * Pure string work, no allocation except into the caller's buffer.
 */
#include "shadow_int.h"

static bool name_chars_valid(struct roost_str s, size_t max, bool allow_dollar)
{
    if (s.n == 0 || s.n > max)
        return false;
    for (size_t i = 0; i < s.n; i++) {
        char c = s.p[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == ':' || c == '_' || c == '-' || (allow_dollar && c == '$');
        if (!ok)
            return false;
    }
    return true;
}

bool roost_shadow_thing_name_valid(struct roost_str s)
{
    return name_chars_valid(s, ROOST_SHADOW_THING_NAME_MAX, false);
}

bool roost_shadow_name_valid(struct roost_str s)
{
    return name_chars_valid(s, ROOST_SHADOW_NAME_MAX, true);
}

static const char *const op_names[] = {
    [ROOST_SHADOW_OP_GET] = "get",
    [ROOST_SHADOW_OP_UPDATE] = "update",
    [ROOST_SHADOW_OP_DELETE] = "delete",
};

/* Splits off the next '/'-separated level of *rest. */
static struct roost_str next_level(struct roost_str *rest, bool *more)
{
    const char *slash = memchr(rest->p, '/', rest->n);
    struct roost_str lv = {rest->p, slash ? (size_t)(slash - rest->p) : rest->n};
    *more = slash != NULL;
    rest->p += slash ? lv.n + 1 : lv.n;
    rest->n -= slash ? lv.n + 1 : lv.n;
    return lv;
}

int roost_shadow_topic_parse(struct roost_str topic, struct roost_shadow_topic *out)
{
    static const char prefix[] = "$aws/things/";
    const size_t plen = sizeof(prefix) - 1;
    struct roost_str rest, lv;
    bool more;

    memset(out, 0, sizeof(*out));
    if (topic.n <= plen || memcmp(topic.p, prefix, plen) != 0)
        return ROOST_ENOTFOUND;
    rest = (struct roost_str){topic.p + plen, topic.n - plen};
    out->thing = next_level(&rest, &more);
    if (!more)
        return ROOST_ENOTFOUND;
    lv = next_level(&rest, &more);
    if (!more || !roost_str_eq_c(lv, "shadow"))
        return ROOST_ENOTFOUND;
    lv = next_level(&rest, &more);
    if (more && roost_str_eq_c(lv, "name")) {
        out->name = next_level(&rest, &more);
        if (!more)
            return ROOST_ENOTFOUND;
        lv = next_level(&rest, &more);
    }
    if (more) /* a response topic (.../accepted) or something longer */
        return ROOST_ENOTFOUND;
    size_t i;
    for (i = 0; i < ROOST_ARRAY_LEN(op_names); i++) {
        if (roost_str_eq_c(lv, op_names[i]))
            break;
    }
    if (i == ROOST_ARRAY_LEN(op_names))
        return ROOST_ENOTFOUND;
    out->op = (enum roost_shadow_op)i;
    if (!roost_shadow_thing_name_valid(out->thing))
        return ROOST_ETOPIC;
    if (out->name.p && !roost_shadow_name_valid(out->name))
        return ROOST_ETOPIC;
    return 0;
}

int roost_shadow_topic_format(struct roost_buf *out, struct roost_str thing, struct roost_str name,
                              enum roost_shadow_op op, const char *suffix)
{
    int rc;
    if ((unsigned)op >= ROOST_ARRAY_LEN(op_names))
        return ROOST_EINVAL;
    rc = roost_buf_append(out, "$aws/things/", 12);
    if (!rc)
        rc = roost_buf_append(out, thing.p, thing.n);
    if (!rc)
        rc = roost_buf_append(out, "/shadow/", 8);
    if (!rc && name.n) {
        rc = roost_buf_append(out, "name/", 5);
        if (!rc)
            rc = roost_buf_append(out, name.p, name.n);
        if (!rc)
            rc = roost_buf_append(out, "/", 1);
    }
    if (!rc)
        rc = roost_buf_append(out, op_names[op], strlen(op_names[op]));
    if (!rc && suffix) {
        rc = roost_buf_append(out, "/", 1);
        if (!rc)
            rc = roost_buf_append(out, suffix, strlen(suffix));
    }
    return rc;
}
