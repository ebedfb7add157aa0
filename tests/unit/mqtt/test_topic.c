/*
 * test_topic.c - unit tests for src/mqtt/topic.c and utf8.c: which topic
 * names and filters are valid, shared-subscription splitting, the matching
 * table (wildcards, empty levels, '$' topics), and MQTT UTF-8 validation
 * (overlongs, surrogates, U+0000, the 4-byte maximum).
 */
#include "roost_test.h"
#include "mqtt/mqtt.h"

static struct roost_str S(const char *s)
{
    return roost_str_c(s);
}

ROOST_TEST(topic_match_table)
{
    static const struct {
        const char *filter, *topic;
        bool match;
    } cases[] = {
        {"a/b", "a/b", true},
        {"a/b", "a/c", false},
        {"a/b", "a/b/c", false},
        {"a/b/c", "a/b", false},
        {"a/b", "a/bc", false},
        {"a/bc", "a/b", false},
        {"A/b", "a/b", false}, /* case-sensitive */
        /* '#' */
        {"#", "a", true},
        {"#", "a/b/c", true},
        {"#", "/", true},
        {"#", "/a", true},
        {"a/#", "a", true}, /* the parent level (4.7.1.2) */
        {"a/#", "a/", true},
        {"a/#", "a/b", true},
        {"a/#", "a/b/c", true},
        {"a/#", "ab", false},
        {"a/#", "b/a", false},
        {"a/b/#", "a", false},
        {"/#", "/", true},
        {"/#", "a", false},
        /* '+' */
        {"+", "a", true},
        {"+", "a/b", false},
        {"+", "/", false},
        {"+/+", "/", true}, /* two empty levels */
        {"/+", "/", true},
        {"+/", "/", true},
        {"+/+", "a", false},
        {"a/+", "a/", true}, /* '+' matches an empty level */
        {"a/+", "a", false},
        {"a/+/c", "a/b/c", true},
        {"a/+/c", "a//c", true},
        {"a/+/c", "a/b/d", false},
        {"a/+/c", "a/b/x/c", false},
        {"+/b/#", "a/b", true},
        {"+/+/#", "a/b/c/d", true},
        {"+/#", "a", true},
        {"a/+/+", "a/b", false},
        /* empty levels are levels */
        {"a//b", "a//b", true},
        {"a//b", "a/b", false},
        {"a/", "a/", true},
        {"a/", "a", false},
        {"a", "a/", false},
        {"/", "/", true},
        {"//", "/", false},
        /* '$' topics: no match from a leading wildcard [MQTT-4.7.2-1] */
        {"#", "$SYS", false},
        {"#", "$SYS/broker/uptime", false},
        {"+/broker/uptime", "$SYS/broker/uptime", false},
        {"+", "$aws", false},
        {"$SYS/#", "$SYS/broker/uptime", true},
        {"$SYS/#", "$SYS", true},
        {"$SYS/+/uptime", "$SYS/broker/uptime", true},
        {"$aws/things/+/shadow/update", "$aws/things/dev1/shadow/update", true},
        {"$aws/things/+/shadow/#", "$aws/things/dev1/shadow/get/accepted", true},
        {"$aws/#", "$aws/things/x", true},
        {"a/$b", "a/$b", true},
        {"a/+", "a/$b", true}, /* only the first level is special */
        {"a/#", "a/$b", true},
        {"$share/g/a", "$share/g/a", true}, /* literal: callers strip $share */
        /* UTF-8 bytes compare as bytes */
        {"caf\xC3\xA9/+", "caf\xC3\xA9/x", true},
        {"caf\xC3\xA9/+", "cafe/x", false},
    };
    for (size_t i = 0; i < ROOST_ARRAY_LEN(cases); i++) {
        bool got = roost_mqtt_topic_matches(S(cases[i].filter), S(cases[i].topic));
        if (got != cases[i].match)
            roost_test_fail(__FILE__, __LINE__, "match(\"%s\", \"%s\") = %d", cases[i].filter,
                            cases[i].topic, got);
    }
    /* Empty strings never match. */
    CHECK(!roost_mqtt_topic_matches(S(""), S("a")));
    CHECK(!roost_mqtt_topic_matches(S("#"), S("")));
    /* Not NUL-terminated views are respected. */
    struct roost_str f = {"a/bXX", 3}, t = {"a/bYY", 3};
    CHECK(roost_mqtt_topic_matches(f, t));
}

ROOST_TEST(topic_name_validity)
{
    static const struct {
        const char *s;
        bool valid;
    } cases[] = {
        {"a", true},
        {"/", true},
        {"a//b", true},
        {"a/b/", true},
        {"$SYS/x", true},
        {"$share/g/a", true}, /* a topic name may look like anything */
        {" ", true},
        {"caf\xC3\xA9", true},
        {"", false},
        {"+", false},
        {"a/+", false},
        {"#", false},
        {"a/#", false},
        {"a#", false},
        {"\xC3", false},
        {"\xED\xA0\x80", false},
    };
    for (size_t i = 0; i < ROOST_ARRAY_LEN(cases); i++) {
        if (roost_mqtt_topic_valid(S(cases[i].s)) != cases[i].valid)
            roost_test_fail(__FILE__, __LINE__, "topic_valid(\"%s\") wrong", cases[i].s);
    }
    CHECK(!roost_mqtt_topic_valid((struct roost_str){"a\0b", 3}));
}

ROOST_TEST(filter_validity)
{
    static const struct {
        const char *s;
        bool valid;
    } cases[] = {
        {"a", true},
        {"#", true},
        {"+", true},
        {"/", true},
        {"//", true},
        {"+/+", true},
        {"/+", true},
        {"+/", true},
        {"a/#", true},
        {"a/+/b", true},
        {"+/+/#", true},
        {"/#", true},
        {"$SYS/#", true},
        {"$share", true},          /* no '/': an ordinary filter */
        {"$shared/g/a", true},     /* not the prefix */
        {"$share/g/a", true},
        {"$share/g/#", true},
        {"$share/g/+/x", true},
        {"$share/group-1/a/b", true},
        {"$share/g//", true},
        {"", false},
        {"a#", false},
        {"a/#/b", false},
        {"#/a", false},
        {"##", false},
        {"a+", false},
        {"+a", false},
        {"a/b+/c", false},
        {"++", false},
        {"a/#/", false},
        {"$share/", false},
        {"$share/g", false},
        {"$share/g/", false},
        {"$share//a", false},
        {"$share/+/a", false},
        {"$share/#/a", false},
        {"$share/g+/a", false},
        {"$share/g/a#", false},
        {"\xC0\xAF", false},
    };
    for (size_t i = 0; i < ROOST_ARRAY_LEN(cases); i++) {
        if (roost_mqtt_filter_valid(S(cases[i].s)) != cases[i].valid)
            roost_test_fail(__FILE__, __LINE__, "filter_valid(\"%s\") wrong", cases[i].s);
    }
    CHECK(!roost_mqtt_filter_valid((struct roost_str){"a/\0", 3}));
}

ROOST_TEST(filter_shared_split)
{
    struct roost_str g, f;
    CHECK(roost_mqtt_filter_shared(S("$share/grp/a/+/#"), &g, &f));
    CHECK(roost_str_eq_c(g, "grp"));
    CHECK(roost_str_eq_c(f, "a/+/#"));
    CHECK(roost_mqtt_filter_shared(S("$share/g/$SYS/x"), &g, &f));
    CHECK(roost_str_eq_c(f, "$SYS/x"));
    CHECK(!roost_mqtt_filter_shared(S("a/b"), &g, &f));
    CHECK(!roost_mqtt_filter_shared(S("$share"), &g, &f));
    CHECK(!roost_mqtt_filter_shared(S("$share/g"), &g, &f));
    CHECK(!roost_mqtt_filter_shared(S("$share//a"), &g, &f));
    CHECK(roost_mqtt_filter_shared(S("$share/g/a"), NULL, NULL));
}

ROOST_TEST(utf8_table)
{
    static const struct {
        const char *name;
        const char *s;
        size_t n;
        bool valid;
    } cases[] = {
        {"empty", "", 0, true},
        {"ascii", "hello/world", 11, true},
        {"long ascii", "0123456789abcdef0123456789abcdef0", 33, true},
        {"controls allowed", "\x01\x1F\x7F", 3, true},
        {"U+0000", "a\0b", 3, false},
        {"U+0000 in word", "abcdefg\0hij", 11, false},
        {"U+0080", "\xC2\x80", 2, true},
        {"U+07FF", "\xDF\xBF", 2, true},
        {"U+0800", "\xE0\xA0\x80", 3, true},
        {"U+D7FF", "\xED\x9F\xBF", 3, true},
        {"U+D800", "\xED\xA0\x80", 3, false},
        {"U+DBFF", "\xED\xAF\xBF", 3, false},
        {"U+DC00", "\xED\xB0\x80", 3, false},
        {"U+DFFF", "\xED\xBF\xBF", 3, false},
        {"U+E000", "\xEE\x80\x80", 3, true},
        {"U+FEFF BOM", "\xEF\xBB\xBF", 3, true},
        {"U+FFFF noncharacter", "\xEF\xBF\xBF", 3, true},
        {"U+10000", "\xF0\x90\x80\x80", 4, true},
        {"U+10FFFF", "\xF4\x8F\xBF\xBF", 4, true},
        {"U+110000", "\xF4\x90\x80\x80", 4, false},
        {"F5 lead", "\xF5\x80\x80\x80", 4, false},
        {"FF", "\xFF", 1, false},
        {"overlong NUL 2", "\xC0\x80", 2, false},
        {"overlong / 2", "\xC0\xAF", 2, false},
        {"overlong C1", "\xC1\xBF", 2, false},
        {"overlong 3", "\xE0\x80\xAF", 3, false},
        {"overlong 3 max", "\xE0\x9F\xBF", 3, false},
        {"overlong 4", "\xF0\x80\x80\xAF", 4, false},
        {"overlong 4 max", "\xF0\x8F\xBF\xBF", 4, false},
        {"lone continuation", "\x80", 1, false},
        {"truncated 2", "\xC3", 1, false},
        {"truncated 3", "\xE2\x82", 2, false},
        {"truncated 4", "\xF0\x9F\x98", 3, false},
        {"bad continuation", "\xC3\x28", 2, false},
        {"bad 3rd byte", "\xE2\x82\x28", 3, false},
        {"bad 4th byte", "\xF0\x9F\x98\x28", 4, false},
        {"euro in ascii", "price: \xE2\x82\xAC 5, ok", 15, true},
        {"emoji", "\xF0\x9F\x98\x80", 4, true},
        {"high after 8 ascii", "abcdefgh\xC3\xA9", 10, true},
        {"bad after 8 ascii", "abcdefgh\xC3", 9, false},
    };
    for (size_t i = 0; i < ROOST_ARRAY_LEN(cases); i++) {
        if (roost_mqtt_utf8_valid(cases[i].s, cases[i].n) != cases[i].valid)
            roost_test_fail(__FILE__, __LINE__, "utf8 %s wrong", cases[i].name);
    }
}

/* Exhaustive over every 1-3 byte sequence against a direct decoder:
 * about 16M inputs, cheap enough to run every time. */
static bool ref_utf8(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint32_t cp;
        size_t len;
        uint8_t c = s[i];
        if (c < 0x80) {
            cp = c;
            len = 1;
        } else if ((c & 0xE0) == 0xC0) {
            cp = c & 0x1F;
            len = 2;
        } else if ((c & 0xF0) == 0xE0) {
            cp = c & 0x0F;
            len = 3;
        } else if ((c & 0xF8) == 0xF0) {
            cp = c & 0x07;
            len = 4;
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
        static const uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < min[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF) || cp == 0)
            return false;
        i += len;
    }
    return true;
}

ROOST_TEST(utf8_exhaustive_short)
{
    uint8_t s[3];
    for (uint32_t v = 0; v < (1u << 24); v++) {
        s[0] = (uint8_t)(v >> 16);
        s[1] = (uint8_t)(v >> 8);
        s[2] = (uint8_t)v;
        if (roost_mqtt_utf8_valid((const char *)s, 3) != ref_utf8(s, 3)) {
            roost_test_fail(__FILE__, __LINE__, "utf8 mismatch on %02x %02x %02x", s[0], s[1],
                            s[2]);
            return;
        }
    }
    /* Every 4-byte sequence with an F0..F4 lead. */
    uint8_t f[4];
    for (uint32_t v = 0; v < (1u << 24); v++) {
        f[0] = (uint8_t)(0xF0 + ((v >> 18) % 5));
        f[1] = (uint8_t)(0x80 | ((v >> 12) & 0x3F));
        f[2] = (uint8_t)(0x80 | ((v >> 6) & 0x3F));
        f[3] = (uint8_t)(0x80 | (v & 0x3F));
        if (roost_mqtt_utf8_valid((const char *)f, 4) != ref_utf8(f, 4)) {
            roost_test_fail(__FILE__, __LINE__, "utf8 mismatch on %02x %02x %02x %02x", f[0],
                            f[1], f[2], f[3]);
            return;
        }
    }
}
