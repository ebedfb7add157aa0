/*
 * http_parse.c - HTTP/1.1 for the HTTPS API, without I/O: one whole request
 * parsed from the front of a buffer, percent-decoding and query strings, and
 * the writer for responses and AWS-shaped errors.
 *
 * The framing is http-parser's (the Debian-packaged, long-fuzzed Node.js
 * parser): it already refuses Content-Length together with
 * Transfer-Encoding, duplicate lengths, chunk-size overflow and non-chunked
 * request transfer codings, which are the request-smuggling traps a
 * hand-written parser tends to fall into. This file adds what a server needs
 * on top of it: whole-request semantics over a buffer (ROOST_EAGAIN until
 * complete), our own limits reported as 431 or 413, exact header and body
 * views, a Host check, and refusal of obsolete line folding.
 *
 * http-parser is driven in two steps over the same buffer: the first stops
 * (pauses) at the end of the header block, which tells its exact length; the
 * second runs the body and stops at the end of the message. A chunked body
 * is measured first and decoded in a second pass into one arena block of
 * exactly its size.
 */
#include "api.h"

#include <http_parser.h>
#include <stdio.h>
#include <strings.h>

/* ==== Request parsing ===================================================== */

enum last_cb { CB_NONE, CB_FIELD, CB_VALUE };

struct parse_ctx {
    struct roost_http_request *out;
    struct roost_arena *arena;
    size_t max_headers;
    size_t max_body;
    struct roost_http_header *hdrs; /* arena array, grown by doubling */
    size_t n_hdrs;
    size_t cap_hdrs;
    enum last_cb last;
    bool headers_done; /* later header callbacks are chunked trailers: dropped */
    bool copy_pass;    /* second pass over a chunked message: copy the body */
    int fail_rc;       /* why a callback stopped the parser */
    int fail_status;
    const char *body_first; /* Content-Length body: where it starts in buf */
    size_t body_total;      /* bytes of body seen */
    uint8_t *body_copy;     /* copy pass destination */
};

static int cb_fail(struct parse_ctx *c, int rc, int status)
{
    c->fail_rc = rc;
    c->fail_status = status;
    /* Data callbacks stop on any non-zero; on_headers_complete reads 1 and 2
     * as "no body" and "upgrade", so errors must be something else. */
    return -1;
}

static bool contiguous(struct roost_str s, const char *at)
{
    return s.p && s.p + s.n == at;
}

static int on_url(http_parser *hp, const char *at, size_t n)
{
    struct parse_ctx *c = hp->data;
    struct roost_str *t = &c->out->target;
    if (c->copy_pass)
        return 0;
    if (t->p && !contiguous(*t, at))
        return cb_fail(c, ROOST_EMALFORMED, 400);
    if (!t->p)
        t->p = at;
    t->n += n;
    return 0;
}

static int on_header_field(http_parser *hp, const char *at, size_t n)
{
    struct parse_ctx *c = hp->data;
    if (c->headers_done || c->copy_pass)
        return 0;
    if (c->last == CB_FIELD && contiguous(c->hdrs[c->n_hdrs - 1].name, at)) {
        c->hdrs[c->n_hdrs - 1].name.n += n;
        return 0;
    }
    if (c->n_hdrs == c->max_headers)
        return cb_fail(c, ROOST_ETOOBIG, 431);
    if (c->n_hdrs == c->cap_hdrs) {
        size_t cap = c->cap_hdrs ? c->cap_hdrs * 2 : 16;
        if (cap > c->max_headers)
            cap = c->max_headers;
        struct roost_http_header *h = roost_arena_alloc(c->arena, cap * sizeof(*h));
        if (c->n_hdrs)
            memcpy(h, c->hdrs, c->n_hdrs * sizeof(*h));
        c->hdrs = h;
        c->cap_hdrs = cap;
    }
    /* A field with no value callback before it got an empty value: fine. */
    c->hdrs[c->n_hdrs].name = (struct roost_str){at, n};
    c->hdrs[c->n_hdrs].value = (struct roost_str){at + n, 0};
    c->n_hdrs++;
    c->last = CB_FIELD;
    return 0;
}

static int on_header_value(http_parser *hp, const char *at, size_t n)
{
    struct parse_ctx *c = hp->data;
    if (c->headers_done || c->copy_pass)
        return 0;
    if (c->n_hdrs == 0)
        return cb_fail(c, ROOST_EMALFORMED, 400);
    struct roost_str *v = &c->hdrs[c->n_hdrs - 1].value;
    if (c->last == CB_FIELD) {
        *v = (struct roost_str){at, n};
    } else if (contiguous(*v, at)) {
        v->n += n;
    } else {
        /* A second piece after CRLF + whitespace: obsolete line folding
         * (RFC 7230 3.2.4 lets a server refuse it, and we do, so that no
         * two components can disagree on where a field ends). */
        return cb_fail(c, ROOST_EMALFORMED, 400);
    }
    c->last = CB_VALUE;
    return 0;
}

static bool ows(char ch)
{
    return ch == ' ' || ch == '\t';
}

static struct roost_str trim_ows(struct roost_str s)
{
    while (s.n && ows(s.p[0])) {
        s.p++;
        s.n--;
    }
    while (s.n && ows(s.p[s.n - 1]))
        s.n--;
    return s;
}

/* RFC 7230 tchar: what a field name may be made of. */
static bool is_token(struct roost_str s)
{
    static const char extra[] = "!#$%&'*+-.^_`|~";
    if (s.n == 0)
        return false;
    for (size_t i = 0; i < s.n; i++) {
        char ch = s.p[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              (ch && strchr(extra, ch))))
            return false;
    }
    return true;
}

static bool str_ieq_c(struct roost_str s, const char *c)
{
    size_t n = strlen(c);
    return s.n == n && strncasecmp(s.p, c, n) == 0;
}

/* Splits target into raw path and raw query. Origin-form is the rule;
 * absolute-form ("http://host/p?q") is accepted as RFC 7230 5.3.2 asks. */
static void split_target(struct roost_http_request *r)
{
    struct roost_str t = r->target;
    if (t.n && t.p[0] != '/' && t.p[0] != '*') {
        struct http_parser_url u;
        http_parser_url_init(&u);
        if (t.n <= UINT16_MAX && http_parser_parse_url(t.p, t.n, 0, &u) == 0) {
            if (u.field_set & (1u << UF_PATH))
                r->path =
                    (struct roost_str){t.p + u.field_data[UF_PATH].off, u.field_data[UF_PATH].len};
            else
                r->path = ROOST_STR_LIT("/");
            if (u.field_set & (1u << UF_QUERY))
                r->query = (struct roost_str){t.p + u.field_data[UF_QUERY].off,
                                              u.field_data[UF_QUERY].len};
            else
                r->query = (struct roost_str){t.p + t.n, 0};
            return;
        }
    }
    size_t end = 0;
    while (end < t.n && t.p[end] != '?' && t.p[end] != '#')
        end++;
    r->path = (struct roost_str){t.p, end};
    if (end < t.n && t.p[end] == '?') {
        size_t q = end + 1, qe = q;
        while (qe < t.n && t.p[qe] != '#')
            qe++;
        r->query = (struct roost_str){t.p + q, qe - q};
    } else {
        r->query = (struct roost_str){t.p + t.n, 0};
    }
}

static int on_headers_complete(http_parser *hp)
{
    struct parse_ctx *c = hp->data;
    if (c->copy_pass)
        return 0;
    struct roost_http_request *r = c->out;
    c->headers_done = true;
    for (size_t i = 0; i < c->n_hdrs; i++)
        c->hdrs[i].value = trim_ows(c->hdrs[i].value);
    r->headers = c->hdrs;
    r->n_headers = c->n_hdrs;
    r->method = roost_str_c(http_method_str((enum http_method)hp->method));
    r->version_major = hp->http_major;
    r->version_minor = hp->http_minor;
    if (hp->http_major != 1)
        return cb_fail(c, ROOST_EMALFORMED, 505);
    if (!r->target.p)
        return cb_fail(c, ROOST_EMALFORMED, 400);
    split_target(r);

    size_t n_host = 0;
    for (size_t i = 0; i < c->n_hdrs; i++) {
        struct roost_str name = c->hdrs[i].name;
        if (!is_token(name))
            return cb_fail(c, ROOST_EMALFORMED, 400);
        if (str_ieq_c(name, "host"))
            n_host++;
        else if (str_ieq_c(name, "expect") && str_ieq_c(c->hdrs[i].value, "100-continue"))
            r->expect_continue = true;
    }
    /* RFC 7230 5.4: exactly one Host in 1.1; at most one in 1.0. SigV4 signs
     * it, so ambiguity here would be ambiguity in what was signed. */
    if (n_host > 1 || (n_host == 0 && hp->http_minor >= 1))
        return cb_fail(c, ROOST_EMALFORMED, 400);

    r->keep_alive = http_should_keep_alive(hp) != 0;
    r->upgrade = hp->upgrade != 0;
    r->chunked = (hp->flags & F_CHUNKED) != 0;
    if ((hp->flags & F_CONTENTLENGTH) && hp->content_length > c->max_body)
        return cb_fail(c, ROOST_ETOOBIG, 413);
    http_parser_pause(hp, 1);
    return 0;
}

static int on_chunk_header(http_parser *hp)
{
    struct parse_ctx *c = hp->data;
    if (hp->content_length > c->max_body - c->body_total)
        return cb_fail(c, ROOST_ETOOBIG, 413);
    return 0;
}

static int on_body(http_parser *hp, const char *at, size_t n)
{
    struct parse_ctx *c = hp->data;
    if (c->copy_pass) {
        memcpy(c->body_copy + c->body_total, at, n);
    } else if (!c->out->chunked) {
        if (!c->body_first)
            c->body_first = at;
        else if (c->body_first + c->body_total != at)
            return cb_fail(c, ROOST_EMALFORMED, 400); /* cannot happen over one buffer */
    }
    c->body_total += n;
    if (c->body_total > c->max_body)
        return cb_fail(c, ROOST_ETOOBIG, 413);
    return 0;
}

static int on_message_complete(http_parser *hp)
{
    http_parser_pause(hp, 1);
    return 0;
}

static const http_parser_settings parse_settings = {
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
    .on_chunk_header = on_chunk_header,
};

static int fail_from_parser(struct parse_ctx *c, http_parser *hp)
{
    enum http_errno e = HTTP_PARSER_ERRNO(hp);
    if (c->fail_rc) {
        c->out->error_status = c->fail_status;
        return c->fail_rc;
    }
    if (e == HPE_HEADER_OVERFLOW) {
        c->out->error_status = 431;
        return ROOST_ETOOBIG;
    }
    c->out->error_status = e == HPE_INVALID_VERSION ? 505 : 400;
    return ROOST_EMALFORMED;
}

/* Second pass over a complete chunked message: copies the chunk data into
 * one arena block of the size the first pass measured. */
static int decode_chunked(const uint8_t *buf, size_t total, struct parse_ctx *c)
{
    struct parse_ctx c2 = *c;
    c2.copy_pass = true;
    c2.body_copy = roost_arena_alloc(c->arena, c->body_total + 1);
    c2.body_total = 0;
    http_parser hp;
    http_parser_init(&hp, HTTP_REQUEST);
    hp.data = &c2;
    size_t n = http_parser_execute(&hp, &parse_settings, (const char *)buf, total);
    /* The copy pass ignores header callbacks, so it never pauses at the
     * header block: it must stop exactly at the end of the message. */
    if (HTTP_PARSER_ERRNO(&hp) != HPE_PAUSED || n != total || c2.body_total != c->body_total)
        return ROOST_EMALFORMED;
    c2.body_copy[c2.body_total] = 0;
    c->out->body = (struct roost_str){(const char *)c2.body_copy, c2.body_total};
    return 0;
}

/* One whole request from the front of buf (api.h). Re-parses from the start
 * on every call: the header block is bounded by the limit and http-parser
 * skips a Content-Length body in one step, so retrying after ROOST_EAGAIN
 * stays cheap. */
int roost_http_parse_request(const uint8_t *buf, size_t len, const struct roost_http_limits *lim,
                             struct roost_http_request *out, struct roost_arena *arena)
{
    memset(out, 0, sizeof(*out));
    size_t max_header =
        lim && lim->max_header_bytes ? lim->max_header_bytes : ROOST_HTTP_MAX_HEADER_BYTES_DEFAULT;
    struct parse_ctx c = {
        .out = out,
        .arena = arena,
        .max_headers = lim && lim->max_headers ? lim->max_headers : ROOST_HTTP_MAX_HEADERS_DEFAULT,
        .max_body =
            lim && lim->max_body_bytes ? lim->max_body_bytes : ROOST_HTTP_MAX_BODY_BYTES_DEFAULT,
    };
    http_parser hp;
    http_parser_init(&hp, HTTP_REQUEST);
    hp.data = &c;

    /* Step 1: the header block, never looking further than the limit. */
    size_t first = len < max_header ? len : max_header;
    size_t n1 = http_parser_execute(&hp, &parse_settings, (const char *)buf, first);
    enum http_errno e = HTTP_PARSER_ERRNO(&hp);
    if (e != HPE_PAUSED) {
        if (e != HPE_OK)
            return fail_from_parser(&c, &hp);
        if (len >= max_header) {
            out->error_status = 431;
            return ROOST_ETOOBIG;
        }
        return ROOST_EAGAIN;
    }
    /* Paused on the header block's final LF, which is not counted yet. */
    out->header_len = n1 + 1;

    /* Step 2: the body, up to the end of the message. */
    http_parser_pause(&hp, 0);
    size_t n2 = http_parser_execute(&hp, &parse_settings, (const char *)buf + n1, len - n1);
    e = HTTP_PARSER_ERRNO(&hp);
    if (e == HPE_OK)
        return ROOST_EAGAIN;
    if (e != HPE_PAUSED) {
        out->header_len = 0;
        return fail_from_parser(&c, &hp);
    }
    size_t total = n1 + n2;
    if (out->chunked) {
        int rc = decode_chunked(buf, total, &c);
        if (rc) {
            out->error_status = 400;
            return rc;
        }
    } else if (c.body_total) {
        out->body = (struct roost_str){c.body_first, c.body_total};
    } else {
        out->body = (struct roost_str){(const char *)buf + total, 0};
    }
    if (total > (size_t)INT32_MAX) { /* the return value must stay a positive int */
        out->error_status = 413;
        return ROOST_ETOOBIG;
    }
    return (int)total;
}

/* First value of a header, names compared case-insensitively (api.h). */
const struct roost_str *roost_http_header(const struct roost_http_request *req, const char *name)
{
    for (size_t i = 0; i < req->n_headers; i++)
        if (str_ieq_c(req->headers[i].name, name))
            return &req->headers[i].value;
    return NULL;
}

/* ==== Percent-decoding and query strings ================================== */

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* Strict percent-decoding into the arena (api.h): bad escapes and NUL are
 * refused because decoded labels become C strings and store keys. */
int roost_http_pct_decode(struct roost_str in, struct roost_arena *arena, struct roost_str *out)
{
    char *d = roost_arena_alloc(arena, in.n + 1);
    size_t o = 0;
    for (size_t i = 0; i < in.n; i++) {
        char ch = in.p[i];
        if (ch == '%') {
            if (i + 2 >= in.n)
                return ROOST_EMALFORMED;
            int hi = hexval(in.p[i + 1]), lo = hexval(in.p[i + 2]);
            if (hi < 0 || lo < 0 || (hi | lo) == 0)
                return ROOST_EMALFORMED;
            ch = (char)(hi << 4 | lo);
            i += 2;
        }
        d[o++] = ch;
    }
    d[o] = '\0';
    *out = (struct roost_str){d, o};
    return 0;
}

/* Decoded key/value pairs of a raw query, repeated keys kept (api.h). */
int roost_http_query_parse(struct roost_str query, struct roost_arena *arena,
                           struct roost_http_param **out_params, size_t *out_n)
{
    size_t pieces = 1;
    for (size_t i = 0; i < query.n; i++)
        if (query.p[i] == '&')
            pieces++;
    struct roost_http_param *params = roost_arena_alloc(arena, pieces * sizeof(*params));
    size_t n = 0;
    size_t start = 0;
    while (start <= query.n) {
        size_t end = start;
        while (end < query.n && query.p[end] != '&')
            end++;
        if (end > start) {
            struct roost_str piece = {query.p + start, end - start};
            size_t eq = 0;
            while (eq < piece.n && piece.p[eq] != '=')
                eq++;
            struct roost_str k = {piece.p, eq};
            struct roost_str v = eq < piece.n
                                     ? (struct roost_str){piece.p + eq + 1, piece.n - eq - 1}
                                     : (struct roost_str){piece.p + piece.n, 0};
            int rc = roost_http_pct_decode(k, arena, &params[n].key);
            if (!rc)
                rc = roost_http_pct_decode(v, arena, &params[n].value);
            if (rc)
                return rc;
            n++;
        }
        start = end + 1;
    }
    *out_params = params;
    *out_n = n;
    return 0;
}

/* First parameter with this decoded key, or NULL (api.h). */
const struct roost_http_param *roost_http_param_find(const struct roost_http_param *params,
                                                     size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (roost_str_eq_c(params[i].key, key))
            return &params[i];
    return NULL;
}

/* ==== Dates =============================================================== */

static const char wdays[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
 * civil-calendar arithmetic), so no time zone or libc state is involved. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

/* The inverse of days_from_civil. */
static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static void put2(char *p, unsigned v)
{
    p[0] = (char)('0' + v / 10 % 10);
    p[1] = (char)('0' + v % 10);
}

/* IMF-fixdate for the Date header, computed without libc time zones. */
void roost_http_date_format(int64_t unix_s, char out[ROOST_HTTP_DATE_LEN + 1])
{
    /* Years outside 0..9999 cannot be written in four digits: clamp. */
    if (unix_s < -62167219200)
        unix_s = -62167219200;
    if (unix_s > 253402300799)
        unix_s = 253402300799;
    int64_t days = unix_s >= 0 ? unix_s / 86400 : -((-unix_s + 86399) / 86400);
    unsigned secs = (unsigned)(unix_s - days * 86400);
    int64_t y;
    unsigned m, d;
    civil_from_days(days, &y, &m, &d);
    unsigned wday = (unsigned)(((days % 7) + 11) % 7); /* 1970-01-01 was a Thursday */
    memcpy(out, "Thu, 01 Jan 1970 00:00:00 GMT", ROOST_HTTP_DATE_LEN + 1);
    memcpy(out, wdays[wday], 3);
    put2(out + 5, d);
    memcpy(out + 8, months[m - 1], 3);
    put2(out + 12, (unsigned)(y / 100));
    put2(out + 14, (unsigned)(y % 100));
    put2(out + 17, secs / 3600);
    put2(out + 20, secs / 60 % 60);
    put2(out + 23, secs % 60);
}

static int digits(const char *p, size_t n, unsigned *out)
{
    unsigned v = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -1;
        v = v * 10 + (unsigned)(p[i] - '0');
    }
    *out = v;
    return 0;
}

/* IMF-fixdate only (RFC 7231 says senders must use it); ROOST_EMALFORMED
 * for the obsolete forms. */
int roost_http_date_parse(struct roost_str s, int64_t *out_unix_s)
{
    /* "Sun, 06 Nov 1994 08:49:37 GMT" */
    if (s.n != ROOST_HTTP_DATE_LEN || s.p[3] != ',' || s.p[4] != ' ' || s.p[7] != ' ' ||
        s.p[11] != ' ' || s.p[16] != ' ' || s.p[19] != ':' || s.p[22] != ':' ||
        memcmp(s.p + 25, " GMT", 4) != 0)
        return ROOST_EMALFORMED;
    unsigned day, year, hh, mm, ss, mon = 12;
    for (unsigned i = 0; i < 12; i++)
        if (memcmp(s.p + 8, months[i], 3) == 0)
            mon = i;
    if (mon == 12 || digits(s.p + 5, 2, &day) || digits(s.p + 12, 4, &year) ||
        digits(s.p + 17, 2, &hh) || digits(s.p + 20, 2, &mm) || digits(s.p + 23, 2, &ss))
        return ROOST_EMALFORMED;
    static const unsigned mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (day < 1 || day > mdays[mon] || hh > 23 || mm > 59 || ss > 60)
        return ROOST_EMALFORMED;
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    if (mon == 1 && day == 29 && !leap)
        return ROOST_EMALFORMED;
    *out_unix_s = days_from_civil(year, mon + 1, day) * 86400 + hh * 3600 + mm * 60 + ss;
    return 0;
}

/* ==== Responses =========================================================== */

static bool header_safe(const char *s)
{
    for (; *s; s++)
        if (*s == '\r' || *s == '\n')
            return false;
    return true;
}

static int append_str(struct roost_buf *out, const char *s)
{
    return roost_buf_append(out, s, strlen(s));
}

static int append_fmt(struct roost_buf *out, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int append_fmt(struct roost_buf *out, const char *fmt, ...)
{
    char tmp[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(tmp))
        return ROOST_EINVAL;
    return roost_buf_append(out, tmp, (size_t)n);
}

static const char *reason_phrase(int status)
{
    const char *r = http_status_str((enum http_status)status);
    return r && r[0] != '<' ? r : "Unknown";
}

/* Status line, Date (SDKs correct their clock skew from it),
 * x-amzn-RequestId and Connection. Appends all or nothing (api.h). */
int roost_http_response_begin(struct roost_buf *out, int status, const char *request_id,
                              bool keep_alive)
{
    if (status < 100 || status > 599 || (request_id && !header_safe(request_id)))
        return ROOST_EINVAL;
    size_t mark = out->len;
    char date[ROOST_HTTP_DATE_LEN + 1];
    roost_http_date_format((int64_t)(roost_wall_ms() / 1000u), date);
    int rc = append_fmt(out, "HTTP/1.1 %d %s\r\nDate: %s\r\n", status, reason_phrase(status), date);
    if (!rc && request_id) {
        rc = append_str(out, "x-amzn-RequestId: ");
        if (!rc)
            rc = append_str(out, request_id);
        if (!rc)
            rc = append_str(out, "\r\n");
    }
    if (!rc)
        rc = append_str(out, keep_alive ? "Connection: keep-alive\r\n" : "Connection: close\r\n");
    if (rc)
        out->len = mark;
    return rc;
}

/* One more header field; refuses CR/LF so no caller can inject fields. */
int roost_http_response_add_header(struct roost_buf *out, const char *name, const char *value)
{
    if (!name[0] || !header_safe(name) || !header_safe(value) || strchr(name, ':'))
        return ROOST_EINVAL;
    size_t mark = out->len;
    int rc = append_str(out, name);
    if (!rc)
        rc = append_str(out, ": ");
    if (!rc)
        rc = append_str(out, value);
    if (!rc)
        rc = append_str(out, "\r\n");
    if (rc)
        out->len = mark;
    return rc;
}

/* Content-Type, Content-Length, the blank line and the body (api.h). */
int roost_http_response_finish(struct roost_buf *out, const char *content_type, const void *body,
                               size_t len)
{
    if (content_type && !header_safe(content_type))
        return ROOST_EINVAL;
    size_t mark = out->len;
    int rc = 0;
    if (content_type) {
        rc = append_str(out, "Content-Type: ");
        if (!rc)
            rc = append_str(out, content_type);
        if (!rc)
            rc = append_str(out, "\r\n");
    }
    if (!rc)
        rc = append_fmt(out, "Content-Length: %zu\r\n\r\n", len);
    if (!rc && len)
        rc = roost_buf_append(out, body, len);
    if (rc)
        out->len = mark;
    return rc;
}

/* Length of the valid UTF-8 sequence at p (1..4), or 0 if it is not one:
 * no overlong forms, no surrogates, nothing above U+10FFFF. */
static size_t utf8_seq(const uint8_t *p, size_t n)
{
    uint8_t b = p[0];
    size_t len;
    uint32_t cp;
    if (b < 0x80)
        return 1;
    if (b >= 0xC2 && b <= 0xDF) {
        len = 2;
        cp = b & 0x1F;
    } else if (b >= 0xE0 && b <= 0xEF) {
        len = 3;
        cp = b & 0x0F;
    } else if (b >= 0xF0 && b <= 0xF4) {
        len = 4;
        cp = b & 0x07;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        cp = cp << 6 | (p[i] & 0x3F);
    }
    if ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
        (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
        return 0;
    return len;
}

/* Appends s as a JSON string literal, quotes included. */
static int append_json_string(struct roost_buf *out, const char *s)
{
    const uint8_t *p = (const uint8_t *)s;
    size_t n = strlen(s);
    int rc = roost_buf_append(out, "\"", 1);
    size_t i = 0;
    while (!rc && i < n) {
        uint8_t b = p[i];
        if (b == '"' || b == '\\') {
            char esc[2] = {'\\', (char)b};
            rc = roost_buf_append(out, esc, 2);
            i++;
        } else if (b < 0x20) {
            char esc[7];
            snprintf(esc, sizeof(esc), "\\u%04x", b);
            rc = roost_buf_append(out, esc, 6);
            i++;
        } else {
            size_t k = utf8_seq(p + i, n - i);
            if (k) {
                rc = roost_buf_append(out, p + i, k);
                i += k;
            } else {
                rc = roost_buf_append(out, "\\ufffd", 6);
                i++;
            }
        }
    }
    if (!rc)
        rc = roost_buf_append(out, "\"", 1);
    return rc;
}

/* A complete AWS rest-json error response (spec/aws-iot.md 0.4): the code in
 * x-amzn-ErrorType (what botocore and the JS v3 SDK read first) and in
 * __type, the text in "message". */
int roost_http_write_aws_error(struct roost_buf *out, int status, const char *code,
                               const char *message, const char *request_id, bool keep_alive)
{
    if (!code || !message)
        return ROOST_EINVAL;
    size_t mark = out->len;
    struct roost_buf body;
    roost_buf_init(&body, 0);
    int rc = append_str(&body, "{\"message\":");
    if (!rc)
        rc = append_json_string(&body, message);
    if (!rc)
        rc = append_str(&body, ",\"__type\":");
    if (!rc)
        rc = append_json_string(&body, code);
    if (!rc)
        rc = append_str(&body, "}");
    if (!rc)
        rc = roost_http_response_begin(out, status, request_id, keep_alive);
    if (!rc)
        rc = roost_http_response_add_header(out, "x-amzn-ErrorType", code);
    if (!rc)
        rc = roost_http_response_finish(out, "application/json", roost_buf_head(&body),
                                        roost_buf_size(&body));
    if (rc)
        out->len = mark;
    roost_buf_cleanup(&body);
    return rc;
}

/* A UUID v4 string for x-amzn-RequestId (botocore reports it as RequestId). */
int roost_http_request_id_new(char out[37])
{
    uint8_t r[16];
    int rc = roost_random_bytes(r, sizeof(r));
    if (rc)
        return rc;
    r[6] = (uint8_t)((r[6] & 0x0F) | 0x40); /* version 4 */
    r[8] = (uint8_t)((r[8] & 0x3F) | 0x80); /* RFC 4122 variant */
    char hex[33];
    roost_hex_encode(r, sizeof(r), hex);
    snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16, hex + 20);
    return 0;
}
