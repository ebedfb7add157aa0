/*
 * fuzz_api_http.c - libFuzzer target for the HTTP/1.1 request parser
 * (src/api/http_parse.c) and its helpers. Beyond "never crash", it checks:
 *  - every view lies inside the input (or, for a chunked body, is no longer
 *    than the chunked bytes), header_len <= consumed <= size;
 *  - any prefix of an accepted request is "incomplete", never an error
 *    (what a server reading a slow socket relies on);
 *  - a request written back out (Content-Length framing) parses to the same
 *    method, target, headers and body;
 *  - header values survive the response writer and the AWS error writer,
 *    whose JSON body always parses.
 */
#include "api/api.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_ASSERT(cond)                                                                          \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_api_http: %s:%d: %s\n", __FILE__, __LINE__, #cond);              \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static bool inside(struct roost_str s, const uint8_t *base, size_t n)
{
    if (s.n == 0)
        return true;
    const char *b = (const char *)base;
    return s.p >= b && s.p + s.n <= b + n;
}

static bool same(struct roost_str a, struct roost_str b)
{
    return a.n == b.n && (a.n == 0 || memcmp(a.p, b.p, a.n) == 0);
}

/* Framing fields are replaced by our Content-Length. http-parser also takes
 * any name that merely starts with "Transfer-Encoding" for one (and then
 * refuses it next to Content-Length: safe, if strict), so those go too. */
static bool is_framing(struct roost_str name)
{
    return (name.n == 14 && strncasecmp(name.p, "content-length", 14) == 0) ||
           (name.n >= 17 && strncasecmp(name.p, "transfer-encoding", 17) == 0);
}

static void check_prefixes(const uint8_t *data, size_t rc, size_t header_len,
                           const struct roost_http_limits *lim)
{
    size_t cuts[] = {rc - 1, header_len - 1, rc / 2, header_len / 2};
    for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
        struct roost_arena a;
        struct roost_http_request r;
        roost_arena_init(&a, NULL, 0);
        int prc = roost_http_parse_request(data, cuts[i], lim, &r, &a);
        FUZZ_ASSERT(prc == ROOST_EAGAIN);
        roost_arena_cleanup(&a);
    }
}

static void check_round_trip(const struct roost_http_request *req)
{
    struct roost_buf b;
    roost_buf_init(&b, 0);
    char line[64];
    roost_buf_append(&b, req->method.p, req->method.n);
    roost_buf_append(&b, " ", 1);
    roost_buf_append(&b, req->target.p, req->target.n);
    snprintf(line, sizeof(line), " HTTP/%u.%u\r\n", req->version_major, req->version_minor);
    roost_buf_append(&b, line, strlen(line));
    size_t kept = 0;
    for (size_t i = 0; i < req->n_headers; i++) {
        if (is_framing(req->headers[i].name))
            continue;
        roost_buf_append(&b, req->headers[i].name.p, req->headers[i].name.n);
        roost_buf_append(&b, ": ", 2);
        roost_buf_append(&b, req->headers[i].value.p, req->headers[i].value.n);
        roost_buf_append(&b, "\r\n", 2);
        kept++;
    }
    snprintf(line, sizeof(line), "Content-Length: %zu\r\n\r\n", req->body.n);
    roost_buf_append(&b, line, strlen(line));
    roost_buf_append(&b, req->body.p, req->body.n);

    struct roost_http_limits big = {.max_header_bytes = 1u << 20,
                                    .max_body_bytes = req->body.n + 1,
                                    .max_headers = req->n_headers + 2};
    struct roost_arena a;
    struct roost_http_request r2;
    roost_arena_init(&a, NULL, 0);
    int rc = roost_http_parse_request(b.data, b.len, &big, &r2, &a);
    FUZZ_ASSERT(rc == (int)b.len);
    FUZZ_ASSERT(same(r2.method, req->method));
    FUZZ_ASSERT(same(r2.target, req->target));
    FUZZ_ASSERT(same(r2.path, req->path));
    FUZZ_ASSERT(same(r2.query, req->query));
    FUZZ_ASSERT(same(r2.body, req->body));
    FUZZ_ASSERT(r2.n_headers == kept + 1);
    FUZZ_ASSERT(r2.keep_alive == req->keep_alive);
    for (size_t i = 0, j = 0; i < req->n_headers; i++) {
        if (is_framing(req->headers[i].name))
            continue;
        FUZZ_ASSERT(same(r2.headers[j].name, req->headers[i].name));
        FUZZ_ASSERT(same(r2.headers[j].value, req->headers[i].value));
        j++;
    }
    roost_arena_cleanup(&a);
    roost_buf_cleanup(&b);
}

static void check_helpers(const struct roost_http_request *req, struct roost_arena *a)
{
    struct roost_str dec;
    if (roost_http_pct_decode(req->path, a, &dec) == 0)
        FUZZ_ASSERT(dec.n <= req->path.n && strlen(dec.p) == dec.n);
    struct roost_http_param *ps;
    size_t n;
    if (roost_http_query_parse(req->query, a, &ps, &n) == 0)
        for (size_t i = 0; i < n; i++)
            FUZZ_ASSERT(roost_http_param_find(ps, n, ps[i].key.p) != NULL);

    for (size_t i = 0; i < req->n_headers && i < 4; i++) {
        const char *v = roost_arena_strndup(a, req->headers[i].value.p, req->headers[i].value.n);
        struct roost_buf out;
        roost_buf_init(&out, 0);
        FUZZ_ASSERT(roost_http_response_begin(&out, 200, NULL, true) == 0);
        FUZZ_ASSERT(roost_http_response_add_header(&out, "x-echo", v) == 0);
        FUZZ_ASSERT(roost_http_response_finish(&out, NULL, NULL, 0) == 0);
        roost_buf_clear(&out);
        FUZZ_ASSERT(
            roost_http_write_aws_error(&out, 400, "InvalidRequestException", v, NULL, false) == 0);
        const char *s = (const char *)out.data;
        const char *body = memmem(s, out.len, "\r\n\r\n", 4);
        FUZZ_ASSERT(body);
        body += 4;
        json_error_t jerr;
        json_t *j = json_loadb(body, out.len - (size_t)(body - s), 0, &jerr);
        FUZZ_ASSERT(j);
        FUZZ_ASSERT(json_is_string(json_object_get(j, "message")));
        json_decref(j);
        roost_buf_cleanup(&out);
    }
}

static void run(const uint8_t *data, size_t size, const struct roost_http_limits *lim)
{
    struct roost_arena a;
    struct roost_http_request req;
    roost_arena_init(&a, NULL, 0);
    int rc = roost_http_parse_request(data, size, lim, &req, &a);
    if (rc == ROOST_EAGAIN && req.header_len) {
        FUZZ_ASSERT(req.header_len <= size);
    } else if (rc <= 0) {
        FUZZ_ASSERT(rc == ROOST_EAGAIN || rc == ROOST_ETOOBIG || rc == ROOST_EMALFORMED);
        if (rc != ROOST_EAGAIN)
            FUZZ_ASSERT(req.error_status >= 400 && req.error_status <= 505);
    } else {
        size_t used = (size_t)rc;
        FUZZ_ASSERT(used <= size);
        FUZZ_ASSERT(req.header_len > 0 && req.header_len <= used);
        FUZZ_ASSERT(req.method.n > 0);
        FUZZ_ASSERT(inside(req.target, data, req.header_len));
        FUZZ_ASSERT(inside(req.path, data, req.header_len) || same(req.path, ROOST_STR_LIT("/")));
        FUZZ_ASSERT(inside(req.query, data, req.header_len));
        for (size_t i = 0; i < req.n_headers; i++) {
            FUZZ_ASSERT(inside(req.headers[i].name, data, req.header_len));
            FUZZ_ASSERT(inside(req.headers[i].value, data, req.header_len));
            FUZZ_ASSERT(req.headers[i].name.n > 0);
        }
        if (req.chunked) {
            FUZZ_ASSERT(req.body.n <= used - req.header_len);
        } else {
            FUZZ_ASSERT(inside(req.body, data + req.header_len, used - req.header_len));
            if (!req.upgrade)
                FUZZ_ASSERT(req.body.n == used - req.header_len);
        }
        check_prefixes(data, used, req.header_len, lim);
        if (!req.upgrade)
            check_round_trip(&req);
        check_helpers(&req, &a);
    }
    roost_arena_cleanup(&a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    run(data, size, NULL);
    struct roost_http_limits small = {
        .max_header_bytes = 128, .max_body_bytes = 16, .max_headers = 4};
    run(data, size, &small);
    return 0;
}
