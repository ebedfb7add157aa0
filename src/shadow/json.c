/*
 * json.c - the shadow service's own compact JSON writer and value equality.
 * AWS answers in compact JSON with the keys in a fixed order; jansson's
 * dumper prints reals with 17 digits (0.1 comes back as 0.10000000000000001)
 * and cannot count without writing, so the service writes its payloads here.
 * The same writer in counting mode measures the 8 KB state limit, so the
 * limit and the stored bytes can never disagree.
 */
#include "shadow_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* Bytes that need an escape in a JSON string: control characters, the
 * quote and the backslash. */
static const unsigned char needs_escape[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    ['"'] = 1, ['\\'] = 1,
};

/* Escapes what JSON requires and nothing else: UTF-8 and '/' go out as they
 * came in, as AWS sends them. */
void shadow__jw_str(struct shadow_jw *w, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *u = (const unsigned char *)s;
    size_t run = 0;
    shadow__jw_lit(w, "\"");
    for (size_t i = 0; i < n; i++) {
        unsigned char c = u[i];
        if (!needs_escape[c])
            continue;
        shadow__jw_raw(w, s + run, i - run);
        run = i + 1;
        char esc[6] = {'\\', 0, 0, 0, 0, 0};
        size_t elen = 2;
        switch (c) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        default:
            esc[1] = 'u';
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            elen = 6;
        }
        shadow__jw_raw(w, esc, elen);
    }
    shadow__jw_raw(w, s + run, n - run);
    shadow__jw_lit(w, "\"");
}

/* Timestamps and versions are written for every metadata leaf: no printf. */
void shadow__jw_int(struct shadow_jw *w, long long v)
{
    char tmp[24];
    char *end = tmp + sizeof(tmp), *p = end;
    unsigned long long u = v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *--p = '-';
    shadow__jw_raw(w, p, (size_t)(end - p));
}

/* Reals: the shortest text that reads back as the same double, with ".0"
 * kept on whole numbers so that a real stays a real. Sensor values (21.7,
 * -0.25) take the first path, which finds the fewest decimals k such that
 * m / 10^k == d for an integer m: both are exact doubles, so the division
 * rounds exactly as strtod rounds the text "m with k decimals". The rest go
 * through printf at 15, 16 and 17 significant digits. */
static void jw_real(struct shadow_jw *w, double d)
{
    static const double pow10[] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7,
                                   1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};
    char tmp[40];
    int n = 0;
    if (d > -1e15 && d < 1e15 && (d != 0 || !signbit(d))) {
        for (int k = 0; k < 16; k++) {
            double t = d * pow10[k];
            if (t >= 9007199254740992.0 || t <= -9007199254740992.0)
                break; /* past 2^53 integers are no longer exact */
            long long mi = (long long)(t < 0 ? t - 0.5 : t + 0.5);
            double m = (double)mi;
            if (m / pow10[k] != d)
                continue;
            unsigned long long u = mi < 0 ? 0ull - (unsigned long long)mi : (unsigned long long)mi;
            char dig[24];
            int nd = 0;
            do {
                dig[nd++] = (char)('0' + u % 10);
                u /= 10;
            } while (u);
            while (nd <= k) /* a digit before the point: 0.25, not .25 */
                dig[nd++] = '0';
            if (m < 0)
                tmp[n++] = '-';
            for (int i = nd - 1; i >= 0; i--) {
                tmp[n++] = dig[i];
                if (i == k && k > 0)
                    tmp[n++] = '.';
            }
            if (k == 0) {
                tmp[n++] = '.';
                tmp[n++] = '0';
            }
            shadow__jw_raw(w, tmp, (size_t)n);
            return;
        }
    }
    for (int prec = 15; prec <= 17; prec++) {
        n = snprintf(tmp, sizeof(tmp) - 2, "%.*g", prec, d);
        if (strtod(tmp, NULL) == d)
            break;
    }
    if (!strpbrk(tmp, ".eEn")) { /* 'n': inf/nan never parse, but stay safe */
        tmp[n++] = '.';
        tmp[n++] = '0';
        tmp[n] = '\0';
    }
    shadow__jw_raw(w, tmp, (size_t)n);
}

void shadow__jw_key(struct shadow_jw *w, bool *first, const char *key)
{
    if (!*first)
        shadow__jw_lit(w, ",");
    *first = false;
    shadow__jw_str(w, key, strlen(key));
    shadow__jw_lit(w, ":");
}

/* {"timestamp":N}: every metadata leaf is one, so it gets a short cut. */
static bool is_ts_leaf(json_t *obj, void *it, long long *out_ts)
{
    json_t *v;
    if (json_object_size(obj) != 1 || json_object_iter_key_len(it) != 9 ||
        memcmp(json_object_iter_key(it), "timestamp", 9) != 0)
        return false;
    v = json_object_iter_value(it);
    if (!json_is_integer(v))
        return false;
    *out_ts = (long long)json_integer_value(v);
    return true;
}

static void jw_object(struct shadow_jw *w, json_t *obj)
{
    void *it = json_object_iter(obj);
    long long ts;
    if (it && is_ts_leaf(obj, it, &ts)) {
        shadow__jw_lit(w, "{\"timestamp\":");
        shadow__jw_int(w, ts);
        shadow__jw_lit(w, "}");
        return;
    }
    shadow__jw_lit(w, "{");
    for (bool first = true; it; it = json_object_iter_next(obj, it), first = false) {
        if (!first)
            shadow__jw_lit(w, ",");
        shadow__jw_str(w, json_object_iter_key(it), json_object_iter_key_len(it));
        shadow__jw_lit(w, ":");
        shadow__jw_value(w, json_object_iter_value(it));
    }
    shadow__jw_lit(w, "}");
}

void shadow__jw_value(struct shadow_jw *w, const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        /* The iterator API wants a non-const object; nothing is modified. */
        jw_object(w, (json_t *)v);
        break;
    case JSON_ARRAY: {
        size_t n = json_array_size(v);
        shadow__jw_lit(w, "[");
        for (size_t i = 0; i < n; i++) {
            if (i)
                shadow__jw_lit(w, ",");
            shadow__jw_value(w, json_array_get(v, i));
        }
        shadow__jw_lit(w, "]");
        break;
    }
    case JSON_STRING:
        shadow__jw_str(w, json_string_value(v), json_string_length(v));
        break;
    case JSON_INTEGER:
        shadow__jw_int(w, (long long)json_integer_value(v));
        break;
    case JSON_REAL:
        jw_real(w, json_real_value(v));
        break;
    case JSON_TRUE:
        shadow__jw_lit(w, "true");
        break;
    case JSON_FALSE:
        shadow__jw_lit(w, "false");
        break;
    case JSON_NULL:
        shadow__jw_lit(w, "null");
        break;
    }
}

static bool numbers_equal(const json_t *a, const json_t *b)
{
    if (json_is_integer(a) && json_is_integer(b))
        return json_integer_value(a) == json_integer_value(b);
    return json_number_value(a) == json_number_value(b);
}

bool shadow__json_equal(const json_t *a, const json_t *b)
{
    if (a == b)
        return true;
    if (!a || !b)
        return false;
    if (json_is_number(a) && json_is_number(b))
        return numbers_equal(a, b);
    if (json_typeof(a) != json_typeof(b))
        return false;
    switch (json_typeof(a)) {
    case JSON_OBJECT: {
        if (json_object_size(a) != json_object_size(b))
            return false;
        const char *k;
        json_t *av;
        json_object_foreach((json_t *)a, k, av) {
            if (!shadow__json_equal(av, json_object_get(b, k)))
                return false;
        }
        return true;
    }
    case JSON_ARRAY: {
        size_t n = json_array_size(a);
        if (n != json_array_size(b))
            return false;
        for (size_t i = 0; i < n; i++) {
            if (!shadow__json_equal(json_array_get(a, i), json_array_get(b, i)))
                return false;
        }
        return true;
    }
    case JSON_STRING:
        return json_string_length(a) == json_string_length(b) &&
               memcmp(json_string_value(a), json_string_value(b), json_string_length(a)) == 0;
    default: /* true, false, null: the type says it all */
        return true;
    }
}
