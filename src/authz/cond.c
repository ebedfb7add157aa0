/*
 * cond.c - IAM Condition operators, decided once per connection when a
 * policy is bound: String*, Numeric*, Date*, Bool, IpAddress/NotIpAddress
 * (IPv4 and IPv6 CIDRs), Arn*, Null, with the ForAnyValue:/ForAllValues:
 * set prefixes and the IfExists suffix.
 *
 * The IAM rules kept here: several values for one key mean OR; a negated
 * operator (StringNotEquals, NotIpAddress, ...) is true when the context
 * value matches none of them; a key the request does not have makes the
 * condition false, except for negated operators, ...IfExists and
 * ForAllValues (all true) and Null (which tests exactly that).
 */
#include "authz/authz_int.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>

/* ==== Operators =========================================================== */

static const struct {
    const char *name;
    uint8_t op;
    bool negated;
} ops[] = {
    {"StringEquals", AUTHZ_OP_STR_EQ, false},
    {"StringNotEquals", AUTHZ_OP_STR_EQ, true},
    {"StringEqualsIgnoreCase", AUTHZ_OP_STR_EQ_IC, false},
    {"StringNotEqualsIgnoreCase", AUTHZ_OP_STR_EQ_IC, true},
    {"StringLike", AUTHZ_OP_STR_LIKE, false},
    {"StringNotLike", AUTHZ_OP_STR_LIKE, true},
    {"NumericEquals", AUTHZ_OP_NUM_EQ, false},
    {"NumericNotEquals", AUTHZ_OP_NUM_EQ, true},
    {"NumericLessThan", AUTHZ_OP_NUM_LT, false},
    {"NumericLessThanEquals", AUTHZ_OP_NUM_LE, false},
    {"NumericGreaterThan", AUTHZ_OP_NUM_GT, false},
    {"NumericGreaterThanEquals", AUTHZ_OP_NUM_GE, false},
    {"DateEquals", AUTHZ_OP_DATE_EQ, false},
    {"DateNotEquals", AUTHZ_OP_DATE_EQ, true},
    {"DateLessThan", AUTHZ_OP_DATE_LT, false},
    {"DateLessThanEquals", AUTHZ_OP_DATE_LE, false},
    {"DateGreaterThan", AUTHZ_OP_DATE_GT, false},
    {"DateGreaterThanEquals", AUTHZ_OP_DATE_GE, false},
    {"Bool", AUTHZ_OP_BOOL, false},
    {"BinaryEquals", AUTHZ_OP_STR_EQ, false}, /* no IoT key is binary */
    {"IpAddress", AUTHZ_OP_IP, false},
    {"NotIpAddress", AUTHZ_OP_IP, true},
    {"ArnEquals", AUTHZ_OP_ARN_LIKE, false}, /* IAM: ArnEquals takes wildcards too */
    {"ArnLike", AUTHZ_OP_ARN_LIKE, false},
    {"ArnNotEquals", AUTHZ_OP_ARN_LIKE, true},
    {"ArnNotLike", AUTHZ_OP_ARN_LIKE, true},
    {"Null", AUTHZ_OP_NULL, false},
};

static bool ieq_n(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char x = a[i], y = b[i];
        if (x >= 'A' && x <= 'Z')
            x = (char)(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z')
            y = (char)(y - 'A' + 'a');
        if (x != y)
            return false;
    }
    return true;
}

static bool ieq_c(const char *s, size_t n, const char *lit)
{
    return strlen(lit) == n && ieq_n(s, lit, n);
}

bool authz__op_parse(const char *s, size_t n, struct authz_cond *out)
{
    out->set = AUTHZ_SET_NONE;
    out->if_exists = false;
    if (n > 12 && ieq_n(s, "ForAnyValue:", 12)) {
        out->set = AUTHZ_SET_ANY;
        s += 12;
        n -= 12;
    } else if (n > 13 && ieq_n(s, "ForAllValues:", 13)) {
        out->set = AUTHZ_SET_ALL;
        s += 13;
        n -= 13;
    }
    if (n > 8 && ieq_n(s + n - 8, "IfExists", 8)) {
        out->if_exists = true;
        n -= 8;
    }
    for (size_t i = 0; i < ROOST_ARRAY_LEN(ops); i++) {
        if (!ieq_c(s, n, ops[i].name))
            continue;
        if (ops[i].op == AUTHZ_OP_NULL && (out->if_exists || out->set != AUTHZ_SET_NONE))
            return false;
        out->op = ops[i].op;
        out->negated = ops[i].negated;
        return true;
    }
    return false;
}

/* ==== Value parsers ======================================================== */

bool authz__parse_number(const char *s, size_t n, double *out)
{
    char buf[64];
    size_t i = 0;
    if (n == 0 || n >= sizeof(buf))
        return false;
    if (s[i] == '-' || s[i] == '+')
        i++;
    size_t d0 = i;
    while (i < n && s[i] >= '0' && s[i] <= '9')
        i++;
    if (i == d0)
        return false;
    if (i < n && s[i] == '.') {
        size_t f0 = ++i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == f0)
            return false;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '-' || s[i] == '+'))
            i++;
        size_t e0 = i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == e0)
            return false;
    }
    if (i != n)
        return false;
    memcpy(buf, s, n);
    buf[n] = '\0';
    *out = strtod(buf, NULL);
    return true;
}

/* Days since 1970-01-01 of a proleptic Gregorian date. */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static bool digits(const char *s, size_t n, size_t at, size_t count, unsigned *out)
{
    if (at + count > n)
        return false;
    unsigned v = 0;
    for (size_t i = 0; i < count; i++) {
        char c = s[at + i];
        if (c < '0' || c > '9')
            return false;
        v = v * 10 + (unsigned)(c - '0');
    }
    *out = v;
    return true;
}

/* ISO 8601 as IAM takes it ("2024-05-01", "2024-05-01T12:00:00Z",
 * "2024-05-01T12:00:00.250+02:00") or Unix seconds ("1714564800"). */
bool authz__parse_date(const char *s, size_t n, int64_t *out_ms)
{
    if (n == 0 || n > 40)
        return false;
    bool all_digits = true;
    for (size_t i = 0; i < n; i++)
        all_digits = all_digits && s[i] >= '0' && s[i] <= '9';
    if (all_digits) {
        if (n > 12)
            return false;
        int64_t v = 0;
        for (size_t i = 0; i < n; i++)
            v = v * 10 + (s[i] - '0');
        *out_ms = v * 1000;
        return true;
    }
    unsigned y, mo, d, h = 0, mi = 0, sec = 0, ms = 0;
    if (!digits(s, n, 0, 4, &y) || n < 10 || s[4] != '-' || !digits(s, n, 5, 2, &mo) ||
        s[7] != '-' || !digits(s, n, 8, 2, &d))
        return false;
    static const unsigned mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1])
        return false;
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (mo == 2 && d == 29 && !leap)
        return false;
    size_t i = 10;
    int64_t offset_min = 0;
    if (i < n) {
        if (s[i] != 'T' && s[i] != 't')
            return false;
        if (!digits(s, n, i + 1, 2, &h) || i + 3 >= n || s[i + 3] != ':' ||
            !digits(s, n, i + 4, 2, &mi))
            return false;
        i += 6;
        if (i < n && s[i] == ':') {
            if (!digits(s, n, i + 1, 2, &sec))
                return false;
            i += 3;
            if (i < n && s[i] == '.') {
                size_t f0 = ++i;
                unsigned scale = 100;
                while (i < n && s[i] >= '0' && s[i] <= '9') {
                    ms += (unsigned)(s[i] - '0') * scale;
                    scale /= 10;
                    i++;
                }
                if (i == f0)
                    return false;
            }
        }
        if (h > 23 || mi > 59 || sec > 60)
            return false;
        if (i < n && (s[i] == 'Z' || s[i] == 'z')) {
            i++;
        } else if (i < n && (s[i] == '+' || s[i] == '-')) {
            unsigned oh, om;
            int sign = s[i] == '-' ? -1 : 1;
            if (!digits(s, n, i + 1, 2, &oh))
                return false;
            i += 3;
            if (i < n && s[i] == ':')
                i++;
            if (!digits(s, n, i, 2, &om) || oh > 23 || om > 59)
                return false;
            i += 2;
            offset_min = sign * (int64_t)(oh * 60 + om);
        }
        if (i != n)
            return false;
    }
    int64_t days = days_from_civil(y, mo, d);
    int64_t secs = days * 86400 + h * 3600 + mi * 60 + sec - offset_min * 60;
    *out_ms = secs * 1000 + ms;
    return true;
}

void authz__format_date(int64_t secs, char out[32])
{
    int64_t days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
    int64_t rem = secs - days * 86400;
    /* civil_from_days (Howard Hinnant's algorithm) */
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = (int64_t)yoe + era * 400;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    unsigned d = doy - (153 * mp + 2) / 5 + 1;
    unsigned m = mp < 10 ? mp + 3 : mp - 9;
    y += m <= 2;
    char tmp[96]; /* room for what the compiler cannot prove impossible */
    snprintf(tmp, sizeof(tmp), "%04lld-%02u-%02uT%02u:%02u:%02uZ", (long long)y, m, d,
             (unsigned)(rem / 3600), (unsigned)(rem % 3600 / 60), (unsigned)(rem % 60));
    snprintf(out, 32, "%.31s", tmp);
}

static bool parse_bool(const char *s, size_t n, bool *out)
{
    if (ieq_c(s, n, "true")) {
        *out = true;
        return true;
    }
    if (ieq_c(s, n, "false")) {
        *out = false;
        return true;
    }
    return false;
}

/* An address as 16 bytes, IPv4 mapped into ::ffff:0:0/96 so that one
 * comparison serves both families. */
static bool parse_ip(const char *s, size_t n, uint8_t out[16])
{
    char buf[64];
    if (n == 0 || n >= sizeof(buf))
        return false;
    memcpy(buf, s, n);
    buf[n] = '\0';
    if (inet_pton(AF_INET6, buf, out) == 1)
        return true;
    uint8_t v4[4];
    if (inet_pton(AF_INET, buf, v4) != 1)
        return false;
    memset(out, 0, 10);
    out[10] = out[11] = 0xFF;
    memcpy(out + 12, v4, 4);
    return true;
}

static bool parse_cidr(const char *s, size_t n, uint8_t addr[16], unsigned *bits)
{
    const char *slash = memchr(s, '/', n);
    size_t an = slash ? (size_t)(slash - s) : n;
    bool v4 = memchr(s, ':', an) == NULL;
    if (!parse_ip(s, an, addr))
        return false;
    unsigned max = v4 ? 32 : 128, len = max;
    if (slash) {
        size_t ln = n - an - 1;
        if (ln == 0 || ln > 3 || !digits(slash + 1, ln, 0, ln, &len) || len > max)
            return false;
    }
    *bits = v4 ? len + 96 : len;
    return true;
}

static bool in_cidr(const uint8_t ip[16], const uint8_t net[16], unsigned bits)
{
    unsigned full = bits / 8, rest = bits % 8;
    if (memcmp(ip, net, full) != 0)
        return false;
    if (rest == 0)
        return true;
    uint8_t mask = (uint8_t)(0xFF << (8 - rest));
    return (ip[full] & mask) == (net[full] & mask);
}

const char *authz__cond_value_check(const struct authz_cond *c, const char *v, size_t n)
{
    double d;
    int64_t ms;
    bool b;
    uint8_t addr[16];
    unsigned bits;
    switch ((enum authz_op)c->op) {
    case AUTHZ_OP_NUM_EQ:
    case AUTHZ_OP_NUM_LT:
    case AUTHZ_OP_NUM_LE:
    case AUTHZ_OP_NUM_GT:
    case AUTHZ_OP_NUM_GE:
        return authz__parse_number(v, n, &d) ? NULL : "is not a number";
    case AUTHZ_OP_DATE_EQ:
    case AUTHZ_OP_DATE_LT:
    case AUTHZ_OP_DATE_LE:
    case AUTHZ_OP_DATE_GT:
    case AUTHZ_OP_DATE_GE:
        return authz__parse_date(v, n, &ms) ? NULL
                                            : "is not an ISO 8601 date or Unix time in seconds";
    case AUTHZ_OP_BOOL:
    case AUTHZ_OP_NULL:
        return parse_bool(v, n, &b) ? NULL : "must be \"true\" or \"false\"";
    case AUTHZ_OP_IP:
        return parse_cidr(v, n, addr, &bits) ? NULL : "is not an IP address or CIDR block";
    default:
        return NULL;
    }
}

/* ==== Evaluation =========================================================== */

/* Splits an ARN into its six parts: the resource keeps any further ':'. */
static bool arn_split(const char *s, size_t n, struct roost_str parts[6])
{
    size_t start = 0, k = 0;
    for (size_t i = 0; i < n && k < 5; i++) {
        if (s[i] == ':') {
            parts[k++] = (struct roost_str){s + start, i - start};
            start = i + 1;
        }
    }
    if (k < 5)
        return false;
    parts[5] = (struct roost_str){s + start, n - start};
    return true;
}

static bool arn_like(const char *pat, size_t pn, const char *v, size_t vn)
{
    struct roost_str pp[6], vp[6];
    if (!arn_split(pat, pn, pp) || !arn_split(v, vn, vp))
        return false;
    for (int i = 0; i < 6; i++) {
        if (!authz__glob((const uint8_t *)pp[i].p, pp[i].n, (const uint8_t *)vp[i].p, vp[i].n))
            return false;
    }
    return true;
}

/* The positive operator: does context value v match policy value p? */
static bool match_one(uint8_t op, const char *v, const char *p, size_t pn)
{
    size_t vn = strlen(v);
    double dv, dp;
    int64_t tv, tp;
    bool bv, bp;
    uint8_t ip[16], net[16];
    unsigned bits;
    switch ((enum authz_op)op) {
    case AUTHZ_OP_STR_EQ:
        return vn == pn && memcmp(v, p, vn) == 0;
    case AUTHZ_OP_STR_EQ_IC:
        return vn == pn && ieq_n(v, p, vn);
    case AUTHZ_OP_STR_LIKE:
        return authz__glob((const uint8_t *)p, pn, (const uint8_t *)v, vn);
    case AUTHZ_OP_NUM_EQ:
    case AUTHZ_OP_NUM_LT:
    case AUTHZ_OP_NUM_LE:
    case AUTHZ_OP_NUM_GT:
    case AUTHZ_OP_NUM_GE:
        if (!authz__parse_number(v, vn, &dv) || !authz__parse_number(p, pn, &dp))
            return false;
        return op == AUTHZ_OP_NUM_EQ   ? dv == dp
               : op == AUTHZ_OP_NUM_LT ? dv < dp
               : op == AUTHZ_OP_NUM_LE ? dv <= dp
               : op == AUTHZ_OP_NUM_GT ? dv > dp
                                       : dv >= dp;
    case AUTHZ_OP_DATE_EQ:
    case AUTHZ_OP_DATE_LT:
    case AUTHZ_OP_DATE_LE:
    case AUTHZ_OP_DATE_GT:
    case AUTHZ_OP_DATE_GE:
        if (!authz__parse_date(v, vn, &tv) || !authz__parse_date(p, pn, &tp))
            return false;
        return op == AUTHZ_OP_DATE_EQ   ? tv == tp
               : op == AUTHZ_OP_DATE_LT ? tv < tp
               : op == AUTHZ_OP_DATE_LE ? tv <= tp
               : op == AUTHZ_OP_DATE_GT ? tv > tp
                                        : tv >= tp;
    case AUTHZ_OP_BOOL:
        return parse_bool(v, vn, &bv) && parse_bool(p, pn, &bp) && bv == bp;
    case AUTHZ_OP_IP:
        return parse_ip(v, vn, ip) && parse_cidr(p, pn, net, &bits) && in_cidr(ip, net, bits);
    case AUTHZ_OP_ARN_LIKE:
        return arn_like(p, pn, v, vn);
    case AUTHZ_OP_NULL:
        return false;
    }
    return false;
}

#define CTX_VALUES_MAX 64

bool authz__cond_eval(const struct authz_cond *c, const struct authz_env *env)
{
    bool pattern = c->op == AUTHZ_OP_STR_LIKE || c->op == AUTHZ_OP_ARN_LIKE;
    const char **pv = roost_arena_alloc(env->scratch, (c->n_vals + 1) * sizeof(*pv));
    size_t *pl = roost_arena_alloc(env->scratch, (c->n_vals + 1) * sizeof(*pl));
    for (uint32_t i = 0; i < c->n_vals; i++) {
        pv[i] = authz__tmpl_render(&c->vals[i], env, pattern, &pl[i]);
        if (!pv[i])
            return false; /* unresolvable variable: the statement does not apply */
    }
    const char *cv[CTX_VALUES_MAX];
    int n = authz__key_values(&c->key, env, cv, CTX_VALUES_MAX);

    if (c->op == AUTHZ_OP_NULL) {
        bool absent = n <= 0;
        for (uint32_t i = 0; i < c->n_vals; i++) {
            bool want;
            if (parse_bool(pv[i], pl[i], &want) && want == absent)
                return true;
        }
        return false;
    }
    if (n < 0) {
        if (c->if_exists || c->set == AUTHZ_SET_ALL)
            return true;
        if (c->set == AUTHZ_SET_ANY)
            return false;
        return c->negated;
    }
    /* r(v): v matches some policy value (positive), or none (negated). */
    size_t hits = 0;
    for (int k = 0; k < n; k++) {
        bool m = false;
        for (uint32_t i = 0; i < c->n_vals && !m; i++)
            m = match_one(c->op, cv[k], pv[i], pl[i]);
        if (m != c->negated)
            hits++;
    }
    switch ((enum authz_set)c->set) {
    case AUTHZ_SET_ALL:
        return hits == (size_t)n;
    case AUTHZ_SET_ANY:
        return hits > 0;
    case AUTHZ_SET_NONE:
        break;
    }
    /* No set operator: a multi-valued key matches like ForAnyValue for the
     * positive operators, and only when no value matches for negated ones;
     * a single-valued key is the same thing with one value. An empty set
     * is "no value". */
    if (n == 0)
        return c->negated;
    return c->negated ? hits == (size_t)n : hits > 0;
}
