/*
 * test_http_parse.c - unit tests for src/api/http_parse.c: request framing
 * (lengths, chunked, pipelining, every prefix incomplete), limits (431/413),
 * smuggling-prone shapes refused, target splitting, percent-decoding and
 * query strings, HTTP dates, the response writer and the AWS error shape.
 */
#include "roost_test.h"
#include "api/api.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

struct parsed {
    struct roost_arena arena;
    struct roost_http_request req;
    int rc;
};

static int parse_lim(struct parsed *p, const char *s, size_t len,
                     const struct roost_http_limits *lim)
{
    roost_arena_init(&p->arena, NULL, 0);
    p->rc = roost_http_parse_request((const uint8_t *)s, len, lim, &p->req, &p->arena);
    return p->rc;
}

static int parse(struct parsed *p, const char *s)
{
    return parse_lim(p, s, strlen(s), NULL);
}

static bool view_is(struct roost_str v, const char *s)
{
    return v.n == strlen(s) && memcmp(v.p, s, v.n) == 0;
}

#define CHECK_VIEW(v, s)                                                                           \
    do {                                                                                           \
        if (!view_is((v), (s)))                                                                    \
            roost_test_fail(__FILE__, __LINE__, "CHECK_VIEW(%s): \"%.*s\" != \"%s\"", #v,          \
                            (int)(v).n, (v).p ? (v).p : "", (s));                                  \
    } while (0)

/* ---- framing ------------------------------------------------------------- */

ROOST_TEST(simple_get)
{
    const char *s = "GET /things/t1?name=cfg&x=%2F HTTP/1.1\r\nHost: localhost:8443\r\n"
                    "X-Amz-Date:20261122T101500Z\r\nX-Empty:\r\nX-Pad:  a  b \t\r\n\r\n";
    struct parsed p;
    CHECK_EQ(parse(&p, s), (long long)strlen(s));
    CHECK_VIEW(p.req.method, "GET");
    CHECK_VIEW(p.req.target, "/things/t1?name=cfg&x=%2F");
    CHECK_VIEW(p.req.path, "/things/t1");
    CHECK_VIEW(p.req.query, "name=cfg&x=%2F");
    CHECK_EQ(p.req.version_major, 1);
    CHECK_EQ(p.req.version_minor, 1);
    CHECK_EQ(p.req.n_headers, 4);
    CHECK_EQ(p.req.header_len, strlen(s));
    CHECK(p.req.keep_alive);
    CHECK(!p.req.upgrade);
    CHECK_EQ(p.req.body.n, 0);
    const struct roost_str *v = roost_http_header(&p.req, "HOST");
    REQUIRE(v);
    CHECK_VIEW(*v, "localhost:8443");
    v = roost_http_header(&p.req, "x-amz-date");
    REQUIRE(v);
    CHECK_VIEW(*v, "20261122T101500Z");
    v = roost_http_header(&p.req, "x-empty");
    REQUIRE(v);
    CHECK_EQ(v->n, 0);
    v = roost_http_header(&p.req, "x-pad");
    REQUIRE(v);
    CHECK_VIEW(*v, "a  b");
    CHECK(roost_http_header(&p.req, "x-missing") == NULL);
    roost_arena_cleanup(&p.arena);
}

ROOST_TEST(keep_alive_rules)
{
    struct parsed p;
    CHECK(parse(&p, "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n") > 0);
    CHECK(!p.req.keep_alive);
    roost_arena_cleanup(&p.arena);
    CHECK(parse(&p, "GET / HTTP/1.0\r\n\r\n") > 0);
    CHECK(!p.req.keep_alive);
    CHECK_EQ(p.req.version_minor, 0);
    roost_arena_cleanup(&p.arena);
    CHECK(parse(&p, "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n") > 0);
    CHECK(p.req.keep_alive);
    roost_arena_cleanup(&p.arena);
}

ROOST_TEST(content_length_body_and_pipelining)
{
    const char *s = "POST /things/t1 HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\n"
                    "{\"a\":\"bc\"}\n"
                    "GET /next HTTP/1.1\r\nHost: a\r\n\r\n";
    size_t first = strlen(s) - strlen("GET /next HTTP/1.1\r\nHost: a\r\n\r\n");
    struct parsed p;
    CHECK_EQ(parse(&p, s), (long long)first);
    CHECK_VIEW(p.req.body, "{\"a\":\"bc\"}\n");
    CHECK(p.req.body.p >= s && p.req.body.p < s + strlen(s)); /* a view, no copy */
    CHECK_EQ(p.req.header_len, first - 11);
    roost_arena_cleanup(&p.arena);
    CHECK_EQ(parse(&p, s + first), (long long)strlen(s + first));
    CHECK_VIEW(p.req.path, "/next");
    roost_arena_cleanup(&p.arena);
}

ROOST_TEST(every_prefix_is_incomplete)
{
    const char *reqs[] = {
        "POST /a?b=c HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nX: y\r\n\r\nhello",
        ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
         "5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n"),
        "GET / HTTP/1.1\r\nHost: a\r\n\r\n",
    };
    for (size_t r = 0; r < ROOST_ARRAY_LEN(reqs); r++) {
        size_t len = strlen(reqs[r]);
        struct parsed p;
        for (size_t k = 0; k < len; k++) {
            int rc = parse_lim(&p, reqs[r], k, NULL);
            if (rc != ROOST_EAGAIN)
                roost_test_fail(__FILE__, __LINE__, "req %zu prefix %zu: rc %d", r, k, rc);
            roost_arena_cleanup(&p.arena);
        }
        CHECK_EQ(parse_lim(&p, reqs[r], len, NULL), (long long)len);
        roost_arena_cleanup(&p.arena);
    }
}

ROOST_TEST(chunked_body_decoded_and_trailers_dropped)
{
    const char *s = "POST /topics/a HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                    "5\r\nhello\r\n1;name=v\r\n \r\nA\r\n0123456789\r\n0\r\n"
                    "Host: evil\r\nX-Amz-Date: 19700101T000000Z\r\n\r\nNEXT";
    struct parsed p;
    CHECK_EQ(parse(&p, s), (long long)(strlen(s) - 4));
    CHECK(p.req.chunked);
    CHECK_VIEW(p.req.body, "hello 0123456789");
    CHECK_EQ(p.req.n_headers, 2); /* Host and Transfer-Encoding; trailers dropped */
    CHECK(roost_http_header(&p.req, "x-amz-date") == NULL);
    CHECK_VIEW(*roost_http_header(&p.req, "host"), "a");
    roost_arena_cleanup(&p.arena);

    CHECK_EQ(parse(&p, "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
             61);
    CHECK_EQ(p.req.body.n, 0);
    roost_arena_cleanup(&p.arena);
}

ROOST_TEST(upgrade_leaves_following_bytes)
{
    const char *s = "GET /mqtt?X-Amz-Algorithm=AWS4-HMAC-SHA256 HTTP/1.1\r\nHost: a\r\n"
                    "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Protocol: mqtt\r\n"
                    "\r\n\x82\x05MQTT!";
    struct parsed p;
    size_t head = strlen(s) - 7;
    CHECK_EQ(parse(&p, s), (long long)head);
    CHECK(p.req.upgrade);
    CHECK_VIEW(p.req.path, "/mqtt");
    CHECK_VIEW(p.req.query, "X-Amz-Algorithm=AWS4-HMAC-SHA256");
    roost_arena_cleanup(&p.arena);
}

ROOST_TEST(expect_continue_known_while_incomplete)
{
    const char *s =
        "PUT /x HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 10\r\n\r\n";
    struct parsed p;
    CHECK_EQ(parse(&p, s), ROOST_EAGAIN);
    CHECK_EQ(p.req.header_len, strlen(s));
    CHECK(p.req.expect_continue);
    CHECK_VIEW(p.req.path, "/x");
    roost_arena_cleanup(&p.arena);
}

ROOST_TEST(absolute_form_target)
{
    struct parsed p;
    CHECK(parse(&p, "GET http://localhost:8443/things/t1?a=1 HTTP/1.1\r\nHost: localhost\r\n\r\n") >
          0);
    CHECK_VIEW(p.req.path, "/things/t1");
    CHECK_VIEW(p.req.query, "a=1");
    roost_arena_cleanup(&p.arena);
    CHECK(parse(&p, "GET http://localhost HTTP/1.1\r\nHost: localhost\r\n\r\n") > 0);
    CHECK_VIEW(p.req.path, "/");
    CHECK_EQ(p.req.query.n, 0);
    roost_arena_cleanup(&p.arena);
}

/* ---- limits --------------------------------------------------------------- */

ROOST_TEST(header_block_limit_is_431)
{
    struct roost_http_limits lim = {.max_header_bytes = 64};
    const char *big =
        "GET / HTTP/1.1\r\nHost: a\r\nX-Long: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
    struct parsed p;
    CHECK_EQ(parse_lim(&p, big, strlen(big), &lim), ROOST_ETOOBIG);
    CHECK_EQ(p.req.error_status, 431);
    roost_arena_cleanup(&p.arena);
    /* An incomplete block already at the limit cannot end within it. */
    CHECK_EQ(parse_lim(&p, big, 64, &lim), ROOST_ETOOBIG);
    CHECK_EQ(p.req.error_status, 431);
    roost_arena_cleanup(&p.arena);
    CHECK_EQ(parse_lim(&p, big, 63, &lim), ROOST_EAGAIN);
    roost_arena_cleanup(&p.arena);
    /* Exactly at the limit is fine. */
    const char *fits = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
    lim.max_header_bytes = strlen(fits);
    CHECK_EQ(parse_lim(&p, fits, strlen(fits), &lim), (long long)strlen(fits));
    roost_arena_cleanup(&p.arena);
}

ROOST_TEST(header_count_limit_is_431)
{
    struct roost_http_limits lim = {.max_headers = 3};
    struct parsed p;
    CHECK(parse_lim(&p, "GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\n\r\n", 39, &lim) > 0);
    roost_arena_cleanup(&p.arena);
    const char *s = "GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n";
    CHECK_EQ(parse_lim(&p, s, strlen(s), &lim), ROOST_ETOOBIG);
    CHECK_EQ(p.req.error_status, 431);
    roost_arena_cleanup(&p.arena);
    /* Many headers by default: the array grows. */
    char many[4096];
    size_t n = (size_t)snprintf(many, sizeof(many), "GET / HTTP/1.1\r\nHost: a\r\n");
    for (int i = 0; i < 90; i++)
        n += (size_t)snprintf(many + n, sizeof(many) - n, "H%d: v%d\r\n", i, i);
    n += (size_t)snprintf(many + n, sizeof(many) - n, "\r\n");
    CHECK_EQ(parse_lim(&p, many, n, NULL), (long long)n);
    CHECK_EQ(p.req.n_headers, 91);
    CHECK_VIEW(*roost_http_header(&p.req, "h89"), "v89");
    roost_arena_cleanup(&p.arena);
}

ROOST_TEST(body_limit_is_413_early)
{
    struct roost_http_limits lim = {.max_body_bytes = 8};
    struct parsed p;
    const char *s = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 9\r\n\r\n";
    CHECK_EQ(parse_lim(&p, s, strlen(s), &lim), ROOST_ETOOBIG); /* before any body byte */
    CHECK_EQ(p.req.error_status, 413);
    roost_arena_cleanup(&p.arena);
    s = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 8\r\n\r\n12345678";
    CHECK_EQ(parse_lim(&p, s, strlen(s), &lim), (long long)strlen(s));
    roost_arena_cleanup(&p.arena);
    s = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n1234\r\n5\r\n";
    CHECK_EQ(parse_lim(&p, s, strlen(s), &lim), ROOST_ETOOBIG);
    CHECK_EQ(p.req.error_status, 413);
    roost_arena_cleanup(&p.arena);
}

/* ---- refused shapes ------------------------------------------------------- */

ROOST_TEST(smuggling_shapes_refused)
{
    static const struct {
        const char *req;
        int status;
    } bad[] = {
        {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
         400},
        {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 400},
        {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nHost: a\r\nX-Folded: a\r\n b\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nX: y\r\n\r\n", 400},               /* 1.1 without Host */
        {"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400}, /* two Hosts */
        {"GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505},
        {"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 400}, /* TLS on the plain port */
        {"GET / HTTP/1.1\r\nHost: a\r\nBad Header: x\r\n\r\n", 400},
        {"GET /a\rb HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    };
    for (size_t i = 0; i < ROOST_ARRAY_LEN(bad); i++) {
        struct parsed p;
        int rc = parse(&p, bad[i].req);
        if (rc != ROOST_EMALFORMED || p.req.error_status != bad[i].status)
            roost_test_fail(__FILE__, __LINE__, "case %zu: rc %d status %d", i, rc,
                            p.req.error_status);
        roost_arena_cleanup(&p.arena);
    }
}

/* ---- decoding ------------------------------------------------------------- */

ROOST_TEST(pct_decode)
{
    struct roost_arena a;
    roost_arena_init(&a, NULL, 0);
    struct roost_str out;
    CHECK_OK(roost_http_pct_decode(ROOST_STR_LIT("%24aws%2Fthings%2ft1+x%20y"), &a, &out));
    CHECK_VIEW(out, "$aws/things/t1+x y");
    CHECK_EQ(out.p[out.n], '\0');
    CHECK_OK(roost_http_pct_decode(ROOST_STR_LIT(""), &a, &out));
    CHECK_EQ(out.n, 0);
    CHECK_OK(roost_http_pct_decode(ROOST_STR_LIT("%E1%88%B4"), &a, &out));
    CHECK_VIEW(out, "\xe1\x88\xb4");
    CHECK_EQ(roost_http_pct_decode(ROOST_STR_LIT("%"), &a, &out), ROOST_EMALFORMED);
    CHECK_EQ(roost_http_pct_decode(ROOST_STR_LIT("ab%2"), &a, &out), ROOST_EMALFORMED);
    CHECK_EQ(roost_http_pct_decode(ROOST_STR_LIT("%zz"), &a, &out), ROOST_EMALFORMED);
    CHECK_EQ(roost_http_pct_decode(ROOST_STR_LIT("a%00b"), &a, &out), ROOST_EMALFORMED);
    roost_arena_cleanup(&a);
}

ROOST_TEST(query_parse)
{
    struct roost_arena a;
    roost_arena_init(&a, NULL, 0);
    struct roost_http_param *ps;
    size_t n;
    CHECK_OK(
        roost_http_query_parse(ROOST_STR_LIT("b=2&a=3&&a=1&flag&c=%2Fx%3Ay&=v&e="), &a, &ps, &n));
    REQUIRE_EQ(n, 7);
    CHECK_VIEW(ps[0].key, "b");
    CHECK_VIEW(ps[0].value, "2");
    CHECK_VIEW(ps[2].key, "a");
    CHECK_VIEW(ps[2].value, "1");
    CHECK_VIEW(ps[3].key, "flag");
    CHECK_EQ(ps[3].value.n, 0);
    CHECK_VIEW(ps[4].value, "/x:y");
    CHECK_EQ(ps[5].key.n, 0);
    CHECK_VIEW(ps[5].value, "v");
    const struct roost_http_param *f = roost_http_param_find(ps, n, "a");
    REQUIRE(f);
    CHECK_VIEW(f->value, "3");
    CHECK(roost_http_param_find(ps, n, "zz") == NULL);
    CHECK_OK(roost_http_query_parse(ROOST_STR_LIT(""), &a, &ps, &n));
    CHECK_EQ(n, 0);
    CHECK_EQ(roost_http_query_parse(ROOST_STR_LIT("a=%G0"), &a, &ps, &n), ROOST_EMALFORMED);
    roost_arena_cleanup(&a);
}

/* ---- dates ---------------------------------------------------------------- */

ROOST_TEST(http_dates)
{
    char d[ROOST_HTTP_DATE_LEN + 1];
    roost_http_date_format(784111777, d);
    CHECK_STR(d, "Sun, 06 Nov 1994 08:49:37 GMT");
    roost_http_date_format(0, d);
    CHECK_STR(d, "Thu, 01 Jan 1970 00:00:00 GMT");
    roost_http_date_format(1709164800, d);
    CHECK_STR(d, "Thu, 29 Feb 2024 00:00:00 GMT");
    roost_http_date_format(1795342500, d);
    CHECK_STR(d, "Sun, 22 Nov 2026 10:15:00 GMT");
    roost_http_date_format(-1, d);
    CHECK_STR(d, "Wed, 31 Dec 1969 23:59:59 GMT");
    for (int64_t t = -86400 * 3; t < 4102444800; t += 86399 * 17) {
        int64_t back = -1;
        roost_http_date_format(t, d);
        if (roost_http_date_parse(roost_str_c(d), &back) != 0 || back != t)
            roost_test_fail(__FILE__, __LINE__, "%lld -> %s -> %lld", (long long)t, d,
                            (long long)back);
    }
    int64_t t;
    CHECK_EQ(roost_http_date_parse(ROOST_STR_LIT("Sun, 06 Nov 1994 08:49:37 UTC"), &t),
             ROOST_EMALFORMED);
    CHECK_EQ(roost_http_date_parse(ROOST_STR_LIT("Sunday, 06-Nov-94 08:49:37 GMT"), &t),
             ROOST_EMALFORMED);
    CHECK_EQ(roost_http_date_parse(ROOST_STR_LIT("Thu, 29 Feb 2023 00:00:00 GMT"), &t),
             ROOST_EMALFORMED);
    CHECK_EQ(roost_http_date_parse(ROOST_STR_LIT("Thu, 01 Foo 2023 00:00:00 GMT"), &t),
             ROOST_EMALFORMED);
}

/* ---- responses ------------------------------------------------------------ */

/* Parses a written response back: status, headers, body. */
static void split_response(const struct roost_buf *b, int *status, char *head, size_t head_cap,
                           struct roost_str *body)
{
    const char *s = (const char *)roost_buf_head(b);
    size_t n = roost_buf_size(b);
    const char *end = memmem(s, n, "\r\n\r\n", 4);
    REQUIRE(end);
    size_t hl = (size_t)(end - s) + 4;
    REQUIRE(hl < head_cap);
    memcpy(head, s, hl);
    head[hl] = '\0';
    *status = (int)strtol(s + 9, NULL, 10);
    *body = (struct roost_str){end + 4, n - hl};
}

ROOST_TEST(response_writer)
{
    struct roost_buf b;
    roost_buf_init(&b, 0);
    CHECK_OK(roost_http_response_begin(&b, 200, "11111111-2222-4333-8444-555555555555", true));
    CHECK_OK(roost_http_response_add_header(&b, "x-amz-foo", "bar"));
    CHECK_OK(roost_http_response_finish(&b, "application/json", "{}", 2));
    int status;
    char head[512];
    struct roost_str body;
    split_response(&b, &status, head, sizeof(head), &body);
    CHECK_EQ(status, 200);
    CHECK(strncmp(head, "HTTP/1.1 200 OK\r\nDate: ", 23) == 0);
    /* The Date header is a well-formed IMF-fixdate. */
    int64_t t;
    CHECK_OK(roost_http_date_parse((struct roost_str){head + 23, ROOST_HTTP_DATE_LEN}, &t));
    CHECK(strstr(head, "\r\nx-amzn-RequestId: 11111111-2222-4333-8444-555555555555\r\n"));
    CHECK(strstr(head, "\r\nConnection: keep-alive\r\n"));
    CHECK(strstr(head, "\r\nx-amz-foo: bar\r\n"));
    CHECK(strstr(head, "\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n"));
    CHECK_VIEW(body, "{}");

    /* Header injection is refused and leaves the buffer as it was. */
    size_t before = b.len;
    CHECK_EQ(roost_http_response_add_header(&b, "x", "a\r\nSet-Cookie: y"), ROOST_EINVAL);
    CHECK_EQ(roost_http_response_add_header(&b, "x\r\ny", "a"), ROOST_EINVAL);
    CHECK_EQ(roost_http_response_add_header(&b, "x:y", "a"), ROOST_EINVAL);
    CHECK_EQ(roost_http_response_begin(&b, 99, NULL, true), ROOST_EINVAL);
    CHECK_EQ(roost_http_response_begin(&b, 200, "id\n", true), ROOST_EINVAL);
    CHECK_EQ(b.len, before);
    roost_buf_cleanup(&b);

    /* A bounded buffer that runs out leaves what was there. */
    roost_buf_init(&b, 96);
    CHECK_OK(roost_http_response_begin(&b, 204, NULL, false));
    before = b.len;
    char big[200];
    memset(big, 'x', sizeof(big));
    CHECK_EQ(roost_http_response_finish(&b, NULL, big, sizeof(big)), ROOST_ETOOBIG);
    CHECK_EQ(b.len, before);
    CHECK(memmem(b.data, b.len, "Connection: close\r\n", 19) != NULL);
    roost_buf_cleanup(&b);
}

ROOST_TEST(aws_error_shape)
{
    struct roost_buf b;
    roost_buf_init(&b, 0);
    CHECK_OK(roost_http_write_aws_error(&b, 404, "ResourceNotFoundException",
                                        "No thing \"t\\1\"\n\x01 caf\xc3\xa9 bad\xff end", "rid-1",
                                        true));
    int status;
    char head[512];
    struct roost_str body;
    split_response(&b, &status, head, sizeof(head), &body);
    CHECK_EQ(status, 404);
    CHECK(strncmp(head, "HTTP/1.1 404 Not Found\r\n", 24) == 0);
    CHECK(strstr(head, "\r\nx-amzn-ErrorType: ResourceNotFoundException\r\n"));
    CHECK(strstr(head, "\r\nx-amzn-RequestId: rid-1\r\n"));
    CHECK(strstr(head, "\r\nContent-Type: application/json\r\n"));
    json_error_t jerr;
    json_t *j = json_loadb(body.p, body.n, 0, &jerr);
    REQUIRE(j);
    CHECK_STR(json_string_value(json_object_get(j, "__type")), "ResourceNotFoundException");
    CHECK_STR(json_string_value(json_object_get(j, "message")),
              "No thing \"t\\1\"\n\x01 caf\xc3\xa9 bad\xef\xbf\xbd end");
    json_decref(j);
    roost_buf_cleanup(&b);

    /* Every status the API answers has a reason phrase. */
    const int statuses[] = {400, 401, 403, 404, 405, 406, 409, 410, 413, 415, 429, 431, 500, 503};
    for (size_t i = 0; i < ROOST_ARRAY_LEN(statuses); i++) {
        roost_buf_init(&b, 0);
        CHECK_OK(roost_http_write_aws_error(&b, statuses[i], "X", "m", NULL, false));
        CHECK(memmem(b.data, b.len, "Unknown", 7) == NULL);
        roost_buf_cleanup(&b);
    }
}

ROOST_TEST(request_ids)
{
    char a[37], b[37];
    CHECK_OK(roost_http_request_id_new(a));
    CHECK_OK(roost_http_request_id_new(b));
    CHECK_EQ(strlen(a), 36);
    CHECK(strcmp(a, b) != 0);
    CHECK(a[8] == '-' && a[13] == '-' && a[18] == '-' && a[23] == '-');
    CHECK_EQ(a[14], '4');
    CHECK(strchr("89ab", a[19]) != NULL);
}
