/*
 * test_server.c - unit tests for the pure parts of the HTTPS server: the
 * admin credentials file (parse, generate, create with mode 0600, read back,
 * other profiles, refusals), a parsed request turned into a registry call
 * (routes, labels, query, mapped headers, JSON body, every refusal), a call
 * turned into the response (success, AWS error shape with extra members,
 * invalid UTF-8 in messages) and the Prometheus text of a fresh server.
 * The socket side (keep-alive, pipelining, Expect, SigV4 at the door, the
 * connection going away while its call is in the store, /mqtt) is covered
 * by tests/integration/test_10_api_auth.py against a real roostd.
 */
#include "roost_test.h"
#include "api/api.h"
#include "net/net.h"
#include "registry/registry.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/* ==== Helpers ============================================================= */

static void write_text(const char *path, const char *text, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    REQUIRE(fd >= 0);
    size_t n = strlen(text);
    REQUIRE_EQ(write(fd, text, n), (long long)n);
    close(fd);
}

static size_t count_entries(const char *dir)
{
    size_t n = 0;
    DIR *d = opendir(dir);
    REQUIRE(d != NULL);
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            n++;
    closedir(d);
    return n;
}

static bool all_in(const char *s, const char *alphabet)
{
    for (; *s; s++)
        if (!strchr(alphabet, *s))
            return false;
    return true;
}

#define UPPER_ALNUM "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
#define SECRET_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

/* A request parsed from text that must stay alive as long as the request. */
struct parsed {
    struct roost_arena arena;
    struct roost_http_request req;
    char *text;
};

static void parse_ok(struct parsed *p, const char *text)
{
    roost_arena_init(&p->arena, NULL, 0);
    p->text = roost_xstrdup(text);
    int n = roost_http_parse_request((const uint8_t *)p->text, strlen(p->text), NULL, &p->req,
                                     &p->arena);
    REQUIRE_EQ(n, (long long)strlen(text));
}

static void parsed_cleanup(struct parsed *p)
{
    roost_arena_cleanup(&p->arena);
    roost_free(p->text);
}

/* Builds a call from request text; returns roost_api_call_from_request's rc.
 * The caller cleans up with call_done. */
static int build(struct parsed *p, struct roost_api_call *call, const char *text)
{
    parse_ok(p, text);
    memset(call, 0, sizeof(*call));
    return roost_api_call_from_request(&p->req, &p->arena, call);
}

static void call_done(struct parsed *p, struct roost_api_call *call)
{
    roost_api_call_inputs_cleanup(call);
    roost_api_call_cleanup(call);
    parsed_cleanup(p);
}

static const char *query_str(const struct roost_api_call *call, const char *key)
{
    const json_t *v = json_object_get(call->query, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* Splits a response into its header block (NUL-terminated copy) and body. */
struct response {
    char head[2048];
    const char *body;
    size_t body_len;
};

static void split_response(const struct roost_buf *out, struct response *r)
{
    const char *p = (const char *)roost_buf_head(out);
    size_t n = roost_buf_size(out);
    const char *end = NULL;
    for (size_t i = 0; i + 3 < n; i++)
        if (memcmp(p + i, "\r\n\r\n", 4) == 0) {
            end = p + i + 4;
            break;
        }
    REQUIRE(end != NULL);
    size_t hn = (size_t)(end - p);
    REQUIRE(hn < sizeof(r->head));
    memcpy(r->head, p, hn);
    r->head[hn] = '\0';
    r->body = end;
    r->body_len = n - hn;
}

/* The Content-Length header's value, or -1. */
static long content_length(const char *head)
{
    const char *h = strstr(head, "Content-Length: ");
    return h ? strtol(h + 16, NULL, 10) : -1;
}

/* ==== Credentials ========================================================= */

ROOST_TEST(credentials_parse_profiles)
{
    const char *text = "# comment\n"
                       "; another\n"
                       "[default]\n"
                       "aws_access_key_id = AKIAAAAAAAAAAAAAAAAA\n"
                       "aws_secret_access_key=secret/with+chars0123456789abcdefghijklm\n"
                       "region = us-east-1\n"
                       "\n"
                       "[only-settings]\n"
                       "region = eu-west-1\n"
                       "s3 =\n"
                       "    max_concurrent_requests = 20\n"
                       "[ci]\r\n"
                       "aws_access_key_id : AKIACICICICICICICICI  \r\n"
                       "AWS_SECRET_ACCESS_KEY: s2\r\n";
    struct roost_api_credentials c = {0};
    int line = -1;
    REQUIRE_OK(roost_api_credentials_parse(text, strlen(text), &c, &line));
    CHECK_EQ(line, 0);
    REQUIRE_EQ(c.n, 2);
    CHECK_STR(c.keys[0].profile, "default");
    CHECK_STR(c.keys[0].access_key_id, "AKIAAAAAAAAAAAAAAAAA");
    CHECK_STR(c.keys[0].secret_access_key, "secret/with+chars0123456789abcdefghijklm");
    CHECK_STR(c.keys[1].profile, "ci");
    CHECK_STR(c.keys[1].access_key_id, "AKIACICICICICICICICI");
    CHECK_STR(c.keys[1].secret_access_key, "s2");
    const struct roost_api_credential *k = roost_api_credentials_find(&c, "AKIACICICICICICICICI");
    REQUIRE(k != NULL);
    CHECK_STR(k->secret_access_key, "s2");
    CHECK(roost_api_credentials_find(&c, "AKIANOPE") == NULL);
    CHECK(roost_api_credentials_find(&c, NULL) == NULL);
    roost_api_credentials_cleanup(&c);
    CHECK(c.keys == NULL);
    CHECK_EQ(c.n, 0);
    roost_api_credentials_cleanup(&c); /* twice is fine */
    roost_api_credentials_cleanup(NULL);
}

ROOST_TEST(credentials_parse_refusals)
{
    static const struct {
        const char *text;
        int line; /* where the error is reported, 0 = end of file */
    } bad[] = {
        {"", 0},                                                       /* no pair */
        {"# nothing\n[default]\nregion = x\n", 0},                     /* no pair */
        {"aws_access_key_id = AKIA1\n[default]\n", 1},                 /* key before section */
        {"[default]\naws_access_key_id = AKIA1\n", 1},                 /* half a pair */
        {"[x]\n[default]\naws_secret_access_key = s\n", 2},           /* other half */
        {"[a]\naws_access_key_id=K1\naws_secret_access_key=s\n[a]\n", 4}, /* dup section */
        {"[a]\naws_access_key_id=K1\naws_secret_access_key=s\n"
         "[b]\naws_access_key_id=K1\naws_secret_access_key=t\n",
         4},                                                           /* dup key id */
        {"[default\naws_access_key_id=K1\naws_secret_access_key=s\n", 1}, /* bad header */
        {"[]\naws_access_key_id=K1\naws_secret_access_key=s\n", 1},    /* empty name */
        {"[a]\nno separator here\n", 2},
        {"[a]\naws_access_key_id=AK/ID\naws_secret_access_key=s\n", 1}, /* '/' in key id */
        {"[a]\naws_access_key_id=K1\naws_secret_access_key=two words\n", 1},
        {"[a]\naws_access_key_id=\naws_secret_access_key=s\n", 1},
        {"[a]\n  aws_access_key_id=K1\naws_secret_access_key=s\n", 1}, /* continuation */
    };
    for (size_t i = 0; i < ROOST_ARRAY_LEN(bad); i++) {
        struct roost_api_credentials c = {0};
        int line = -1;
        int rc = roost_api_credentials_parse(bad[i].text, strlen(bad[i].text), &c, &line);
        if (rc != ROOST_ECONFIG)
            roost_test_fail(__FILE__, __LINE__, "case %zu: rc %d, want ECONFIG", i, rc);
        if (bad[i].line && line != bad[i].line)
            roost_test_fail(__FILE__, __LINE__, "case %zu: line %d, want %d", i, line,
                            bad[i].line);
        roost_api_credentials_cleanup(&c);
    }
    /* a NUL byte inside the text is refused, not silently cut */
    const char nul[] = "[a]\naws_access_key_id=K1\0\naws_secret_access_key=s\n";
    struct roost_api_credentials c = {0};
    CHECK_EQ(roost_api_credentials_parse(nul, sizeof(nul) - 1, &c, NULL), ROOST_ECONFIG);
    roost_api_credentials_cleanup(&c);
}

ROOST_TEST(credentials_generate_shape)
{
    struct roost_api_credential a, b;
    REQUIRE_OK(roost_api_credentials_generate(&a));
    REQUIRE_OK(roost_api_credentials_generate(&b));
    CHECK_STR(a.profile, "default");
    CHECK_EQ(strlen(a.access_key_id), 20);
    CHECK(strncmp(a.access_key_id, "AKIA", 4) == 0);
    CHECK(all_in(a.access_key_id, UPPER_ALNUM));
    CHECK_EQ(strlen(a.secret_access_key), 40);
    CHECK(all_in(a.secret_access_key, SECRET_CHARS));
    CHECK(strcmp(a.access_key_id, b.access_key_id) != 0);
    CHECK(strcmp(a.secret_access_key, b.secret_access_key) != 0);
    /* over many draws every secret symbol shows up (no stuck alphabet) */
    bool seen[256] = {false};
    for (int i = 0; i < 200; i++) {
        REQUIRE_OK(roost_api_credentials_generate(&a));
        for (const char *s = a.secret_access_key; *s; s++)
            seen[(unsigned char)*s] = true;
    }
    for (const char *s = SECRET_CHARS; *s; s++)
        if (!seen[(unsigned char)*s])
            roost_test_fail(__FILE__, __LINE__, "secret symbol '%c' never drawn", *s);
}

ROOST_TEST(credentials_create_then_load)
{
    const char *dir = roost_test_tmpdir();
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", dir, ROOST_API_CREDENTIALS_FILE);
    struct roost_api_credentials first = {0}, again = {0};
    bool created = false;
    REQUIRE_OK(roost_api_credentials_load_or_create(path, &first, &created));
    CHECK(created);
    REQUIRE_EQ(first.n, 1);
    CHECK_STR(first.keys[0].profile, "default");
    CHECK(strncmp(first.keys[0].access_key_id, "AKIA", 4) == 0);
    CHECK(all_in(first.keys[0].access_key_id, UPPER_ALNUM));
    CHECK_EQ(strlen(first.keys[0].secret_access_key), 40);
    struct stat st;
    REQUIRE_OK(stat(path, &st));
    CHECK_EQ(st.st_mode & 0777, 0600);
    CHECK_EQ(count_entries(dir), 1); /* no temporary file left behind */

    /* read back, not recreated */
    created = true;
    REQUIRE_OK(roost_api_credentials_load_or_create(path, &again, &created));
    CHECK(!created);
    REQUIRE_EQ(again.n, 1);
    CHECK_STR(again.keys[0].access_key_id, first.keys[0].access_key_id);
    CHECK_STR(again.keys[0].secret_access_key, first.keys[0].secret_access_key);
    roost_api_credentials_cleanup(&again);

    /* the file is what the AWS CLI reads: the same text parses the same */
    FILE *f = fopen(path, "r");
    REQUIRE(f != NULL);
    char text[2048];
    size_t n = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    text[n] = '\0';
    CHECK(strstr(text, "[default]\n") != NULL);
    CHECK(strstr(text, "aws_access_key_id = AKIA") != NULL);
    CHECK(strstr(text, "aws_secret_access_key = ") != NULL);
    roost_api_credentials_cleanup(&first);
}

ROOST_TEST(credentials_operator_file)
{
    const char *dir = roost_test_tmpdir();
    char path[1024];
    snprintf(path, sizeof(path), "%s/admin.credentials", dir);
    /* written by an operator with two profiles, mode 0644 (warned, accepted) */
    write_text(path,
               "[default]\naws_access_key_id = AKIAONE1111111111111\n"
               "aws_secret_access_key = one\n"
               "[deploy]\naws_access_key_id = AKIATWO2222222222222\n"
               "aws_secret_access_key = two\n",
               0644);
    struct roost_api_credentials c = {0};
    bool created = true;
    REQUIRE_OK(roost_api_credentials_load_or_create(path, &c, &created));
    CHECK(!created);
    REQUIRE_EQ(c.n, 2);
    CHECK_STR(roost_api_credentials_find(&c, "AKIATWO2222222222222")->secret_access_key, "two");
    roost_api_credentials_cleanup(&c);

    /* a broken file is an error, never silently replaced */
    write_text(path, "[default]\naws_access_key_id = AKIAONE1111111111111\n", 0600);
    REQUIRE_EQ(roost_api_credentials_load_or_create(path, &c, &created), ROOST_ECONFIG);
    CHECK(!created);
    roost_api_credentials_cleanup(&c);
    FILE *f = fopen(path, "r");
    REQUIRE(f != NULL);
    char text[256];
    size_t n = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    text[n] = '\0';
    CHECK_STR(text, "[default]\naws_access_key_id = AKIAONE1111111111111\n");

    /* a directory in the way, a missing parent directory */
    snprintf(path, sizeof(path), "%s/sub", dir);
    REQUIRE_OK(mkdir(path, 0700));
    CHECK(roost_api_credentials_load_or_create(path, &c, NULL) != 0);
    roost_api_credentials_cleanup(&c);
    snprintf(path, sizeof(path), "%s/missing/admin.credentials", dir);
    CHECK_EQ(roost_api_credentials_load_or_create(path, &c, NULL), -ENOENT);
    roost_api_credentials_cleanup(&c);
}

/* ==== Request -> call ====================================================== */

ROOST_TEST(call_list_things_query)
{
    struct parsed p;
    struct roost_api_call call;
    REQUIRE_OK(build(&p, &call,
                     "GET /things?maxResults=5&nextToken=a%2Fb%20c&maxResults=9&flag HTTP/1.1\r\n"
                     "Host: localhost\r\n\r\n"));
    REQUIRE(call.op != NULL);
    CHECK_STR(call.op->name, "ListThings");
    CHECK_STR(query_str(&call, "maxResults"), "5"); /* the first wins */
    CHECK_STR(query_str(&call, "nextToken"), "a/b c");
    CHECK_STR(query_str(&call, "flag"), "");
    CHECK_EQ(json_object_size(call.query), 3);
    CHECK(call.body == NULL);
    CHECK(call.raw_body == NULL);
    CHECK_EQ(call.raw_body_len, 0);
    call_done(&p, &call);
}

ROOST_TEST(call_labels_body_and_headers)
{
    struct parsed p;
    struct roost_api_call call;
    const char *body = "{\"attributePayload\":{\"attributes\":{\"fw\":\"1.2\"}}}";
    char text[512];
    snprintf(text, sizeof(text),
             "POST /things/lamp%%3A7 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
             "Content-Length: %zu\r\n\r\n%s",
             strlen(body), body);
    REQUIRE_OK(build(&p, &call, text));
    CHECK_STR(call.op->name, "CreateThing");
    CHECK_STR(call.labels[0], "lamp:7");
    REQUIRE(json_is_object(call.body));
    CHECK_STR(json_string_value(json_object_get(
                  json_object_get(json_object_get(call.body, "attributePayload"), "attributes"),
                  "fw")),
              "1.2");
    REQUIRE_EQ(call.raw_body_len, strlen(body));
    CHECK_MEM(call.raw_body, body, strlen(body));
    CHECK_EQ(call.raw_body[call.raw_body_len], '\0');
    CHECK_EQ(json_object_size(call.query), 0);
    call_done(&p, &call);

    /* the principal travels in a header; ARNs are not percent-decoded there */
    const char *arn = "arn:aws:iot:us-east-1:123456789012:cert/"
                      "abababababababababababababababababababababababababababababababab";
    snprintf(text, sizeof(text),
             "PUT /things/t1/principals?thingPrincipalType=EXCLUSIVE_THING HTTP/1.1\r\n"
             "Host: x\r\nX-Amzn-Principal: %s\r\nx-amz-tagging: a=1&b=2\r\n"
             "x-amzn-iot-policy: p1\r\nx-amzn-iot-principal: %s\r\n\r\n",
             arn, arn);
    REQUIRE_OK(build(&p, &call, text));
    CHECK_STR(call.op->name, "AttachThingPrincipal");
    CHECK_STR(call.labels[0], "t1");
    CHECK_STR(query_str(&call, "x-amzn-principal"), arn);
    CHECK_STR(query_str(&call, "x-amz-tagging"), "a=1&b=2");
    CHECK_STR(query_str(&call, "x-amzn-iot-policy"), "p1");
    CHECK_STR(query_str(&call, "x-amzn-iot-principal"), arn);
    CHECK_STR(query_str(&call, "thingPrincipalType"), "EXCLUSIVE_THING");
    call_done(&p, &call);

    /* a header beats a query parameter of the same name */
    snprintf(text, sizeof(text),
             "GET /principals/things?x-amzn-principal=fake HTTP/1.1\r\n"
             "Host: x\r\nx-amzn-principal: %s\r\n\r\n",
             arn);
    REQUIRE_OK(build(&p, &call, text));
    CHECK_STR(call.op->name, "ListPrincipalThings");
    CHECK_STR(query_str(&call, "x-amzn-principal"), arn);
    call_done(&p, &call);

    /* ListAttachedPolicies: the ARN is one encoded label */
    REQUIRE_OK(build(&p, &call,
                     "POST /attached-policies/arn%3Aaws%3Aiot%3Aus-east-1%3A1%3Acert%2Fab"
                     "?recursive=true HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"));
    CHECK_STR(call.op->name, "ListAttachedPolicies");
    CHECK_STR(call.labels[0], "arn:aws:iot:us-east-1:1:cert/ab");
    CHECK_STR(query_str(&call, "recursive"), "true");
    CHECK(call.body == NULL);
    call_done(&p, &call);
}

static void expect_refusal(const char *text, int status, const char *code, const char *msg_part)
{
    struct parsed p;
    struct roost_api_call call;
    int rc = build(&p, &call, text);
    if (rc == 0 || call.status != status || !call.error_code ||
        strcmp(call.error_code, code) != 0 ||
        (msg_part && !strstr(call.error_message, msg_part)))
        roost_test_fail(__FILE__, __LINE__, "%.40s...: rc %d status %d %s \"%s\", want %d %s",
                        text, rc, call.status, call.error_code ? call.error_code : "(none)",
                        call.error_message, status, code);
    call_done(&p, &call);
}

ROOST_TEST(call_refusals)
{
    /* no route; known path, other method */
    expect_refusal("GET /no-such-thing HTTP/1.1\r\nHost: x\r\n\r\n", 404,
                   "ResourceNotFoundException", "Not Found");
    expect_refusal("GET / HTTP/1.1\r\nHost: x\r\n\r\n", 404, "ResourceNotFoundException",
                   "Not Found");
    expect_refusal("PATCH /things HTTP/1.1\r\nHost: x\r\n\r\n", 405, "MethodNotAllowedException",
                   NULL);
    /* paths that normalise differently from how they route */
    expect_refusal("GET /things/../things HTTP/1.1\r\nHost: x\r\n\r\n", 400,
                   "InvalidRequestException", "path");
    expect_refusal("GET /things/./t1 HTTP/1.1\r\nHost: x\r\n\r\n", 400, "InvalidRequestException",
                   "path");
    expect_refusal("GET //things HTTP/1.1\r\nHost: x\r\n\r\n", 400, "InvalidRequestException",
                   "path");
    expect_refusal("GET /things/ HTTP/1.1\r\nHost: x\r\n\r\n", 400, "InvalidRequestException",
                   "path");
    expect_refusal("GET /things/%zz HTTP/1.1\r\nHost: x\r\n\r\n", 400, "InvalidRequestException",
                   NULL);
    expect_refusal("GET /things/a%00b HTTP/1.1\r\nHost: x\r\n\r\n", 400,
                   "InvalidRequestException", NULL);
    /* query */
    expect_refusal("GET /things?nextToken=%zz HTTP/1.1\r\nHost: x\r\n\r\n", 400,
                   "InvalidRequestException", "query");
    expect_refusal("GET /things?nextToken=%FF HTTP/1.1\r\nHost: x\r\n\r\n", 400,
                   "InvalidRequestException", "UTF-8");
    expect_refusal("GET /things?%C3=1 HTTP/1.1\r\nHost: x\r\n\r\n", 400,
                   "InvalidRequestException", "UTF-8");
    expect_refusal("GET /principals/things HTTP/1.1\r\nHost: x\r\nx-amzn-principal: \xff\r\n\r\n",
                   400, "InvalidRequestException", "x-amzn-principal");
    /* bodies */
    expect_refusal("POST /things/t1 HTTP/1.1\r\nHost: x\r\nContent-Length: 8\r\n\r\n{\"a\": 1,",
                   400, "InvalidRequestException", "Could not parse request body into json");
    expect_refusal("POST /things/t1 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n[1,2]", 400,
                   "InvalidRequestException", "JSON object");
    expect_refusal("POST /things/t1 HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\n\"ab\"", 400,
                   "InvalidRequestException", NULL);
    expect_refusal("POST /things/t1 HTTP/1.1\r\nHost: x\r\nContent-Length: 9\r\n\r\n"
                   "{\"a\":\"\xff\"}",
                   400, "InvalidRequestException", NULL);
    expect_refusal("POST /things/t1 HTTP/1.1\r\nHost: x\r\nContent-Length: 14\r\n\r\n"
                   "{\"a\":\"\\u0000\"}",
                   400, "InvalidRequestException", NULL);
}

ROOST_TEST(call_chunked_body)
{
    struct parsed p;
    struct roost_api_call call;
    REQUIRE_OK(build(&p, &call,
                     "POST /policies/p1 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "5\r\n{\"pol\r\n"
                     "d\r\nicyDocument\":\r\n"
                     "4\r\n\"{}\"\r\n"
                     "1\r\n}\r\n"
                     "0\r\n\r\n"));
    CHECK_STR(call.op->name, "CreatePolicy");
    CHECK_STR(call.labels[0], "p1");
    CHECK_STR(json_string_value(json_object_get(call.body, "policyDocument")), "{}");
    CHECK_EQ(call.raw_body_len, 23);
    call_done(&p, &call);
}

/* ==== Call -> response ====================================================== */

ROOST_TEST(response_success)
{
    struct roost_api_call call = {0};
    call.status = 200;
    call.request_id = "11111111-2222-4333-8444-555555555555";
    call.result = json_pack("{s:s, s:f, s:i, s:b}", "thingName", "t1", "creationDate",
                            1700000000.123, "version", 3, "ok", 1);
    struct roost_buf out;
    roost_buf_init(&out, 0);
    REQUIRE_OK(roost_api_write_response(&out, &call, true));
    struct response r;
    split_response(&out, &r);
    CHECK(strncmp(r.head, "HTTP/1.1 200 OK\r\n", 17) == 0);
    CHECK(strstr(r.head, "\r\nDate: ") != NULL);
    CHECK(strstr(r.head, "\r\nx-amzn-RequestId: 11111111-2222-4333-8444-555555555555\r\n"));
    CHECK(strstr(r.head, "\r\nContent-Type: application/json\r\n") != NULL);
    CHECK(strstr(r.head, "\r\nConnection: keep-alive\r\n") != NULL);
    CHECK(strstr(r.head, "x-amzn-ErrorType") == NULL);
    CHECK_EQ(content_length(r.head), (long)r.body_len);
    CHECK_EQ(r.body_len, strlen("{\"thingName\":\"t1\",\"creationDate\":1700000000.123,"
                                "\"version\":3,\"ok\":true}"));
    CHECK_MEM(r.body,
              "{\"thingName\":\"t1\",\"creationDate\":1700000000.123,\"version\":3,\"ok\":true}",
              r.body_len);
    roost_api_call_cleanup(&call);

    /* no result: an empty object; Connection: close when asked */
    roost_buf_clear(&out);
    call.status = 200;
    REQUIRE_OK(roost_api_write_response(&out, &call, false));
    split_response(&out, &r);
    CHECK(strstr(r.head, "\r\nConnection: close\r\n") != NULL);
    REQUIRE_EQ(r.body_len, 2);
    CHECK_MEM(r.body, "{}", 2);
    roost_buf_cleanup(&out);
}

ROOST_TEST(response_error_shape)
{
    struct roost_api_call call = {0};
    call.request_id = "rid-1";
    roost_api_fail(&call, 409, "ResourceAlreadyExistsException", "Thing %s already exists",
                   "t1");
    call.error_extra = json_pack("{s:s, s:s, s:s}", "resourceId", "id-1", "resourceArn",
                                 "arn:aws:iot:us-east-1:1:thing/t1", "message", "not me");
    struct roost_buf out;
    roost_buf_init(&out, 0);
    REQUIRE_OK(roost_api_write_response(&out, &call, true));
    struct response r;
    split_response(&out, &r);
    CHECK(strncmp(r.head, "HTTP/1.1 409 Conflict\r\n", 23) == 0);
    CHECK(strstr(r.head, "\r\nx-amzn-ErrorType: ResourceAlreadyExistsException\r\n") != NULL);
    CHECK(strstr(r.head, "\r\nx-amzn-RequestId: rid-1\r\n") != NULL);
    CHECK(strstr(r.head, "\r\nContent-Type: application/json\r\n") != NULL);
    CHECK_EQ(content_length(r.head), (long)r.body_len);
    json_error_t err;
    json_t *b = json_loadb(r.body, r.body_len, 0, &err);
    REQUIRE(b != NULL);
    CHECK_STR(json_string_value(json_object_get(b, "message")), "Thing t1 already exists");
    CHECK_STR(json_string_value(json_object_get(b, "__type")), "ResourceAlreadyExistsException");
    CHECK_STR(json_string_value(json_object_get(b, "resourceId")), "id-1");
    CHECK_STR(json_string_value(json_object_get(b, "resourceArn")),
              "arn:aws:iot:us-east-1:1:thing/t1");
    CHECK_EQ(json_object_size(b), 4);
    json_decref(b);
    /* message first: some clients read the body in order */
    CHECK(strncmp(r.body, "{\"message\":", 11) == 0);
    roost_api_call_cleanup(&call);

    /* a label that is not UTF-8 echoed in the message: still valid JSON */
    roost_buf_clear(&out);
    memset(&call, 0, sizeof(call));
    call.request_id = "rid-2";
    roost_api_fail(&call, 404, "ResourceNotFoundException", "Thing a\xff\xc3 cannot be found");
    REQUIRE_OK(roost_api_write_response(&out, &call, false));
    split_response(&out, &r);
    CHECK(strncmp(r.head, "HTTP/1.1 404 Not Found\r\n", 24) == 0);
    CHECK(strstr(r.head, "\r\nConnection: close\r\n") != NULL);
    b = json_loadb(r.body, r.body_len, 0, &err);
    REQUIRE(b != NULL);
    CHECK_STR(json_string_value(json_object_get(b, "message")),
              "Thing a\xEF\xBF\xBD\xEF\xBF\xBD cannot be found");
    json_decref(b);
    roost_api_call_cleanup(&call);

    /* a call that failed without naming an error: 500 InternalFailure */
    roost_buf_clear(&out);
    memset(&call, 0, sizeof(call));
    call.status = 0;
    REQUIRE_OK(roost_api_write_response(&out, &call, true));
    split_response(&out, &r);
    CHECK(strncmp(r.head, "HTTP/1.1 500 ", 13) == 0);
    CHECK(strstr(r.head, "x-amzn-ErrorType: InternalFailureException\r\n") != NULL);
    roost_buf_cleanup(&out);

    /* output at its limit: nothing appended, an error returned */
    struct roost_buf small;
    roost_buf_init(&small, 64);
    REQUIRE_OK(roost_buf_append(&small, "x", 1));
    call.status = 200;
    call.result = json_pack("{s:s}", "k", "a value long enough to pass the limit of this buffer");
    CHECK_EQ(roost_api_write_response(&small, &call, true), ROOST_ETOOBIG);
    CHECK_EQ(roost_buf_size(&small), 1);
    roost_api_call_cleanup(&call);
    roost_buf_cleanup(&small);
}

/* ==== Server object and metrics ============================================== */

ROOST_TEST(server_create_and_metrics)
{
    struct roost_api *api = NULL;
    struct roost_api_config cfg = {0};
    CHECK_EQ(roost_api_create(&cfg, &api), ROOST_EINVAL); /* credentials are required */
    CHECK(api == NULL);
    struct roost_api_credentials creds = {0};
    const char *text = "[default]\naws_access_key_id=AKIA1\naws_secret_access_key=s\n";
    REQUIRE_OK(roost_api_credentials_parse(text, strlen(text), &creds, NULL));
    cfg.creds = &creds;
    REQUIRE_OK(roost_api_create(&cfg, &api));
    const struct roost_conn_handler *h = roost_api_handler(api);
    REQUIRE(h != NULL);
    CHECK(h->open != NULL && h->data != NULL && h->closed != NULL);
    CHECK(h->ud == api);

    struct roost_buf out;
    roost_buf_init(&out, 0);
    roost_api_metrics(api, &out);
    REQUIRE_OK(roost_buf_append(&out, "", 1));
    const char *m = (const char *)roost_buf_head(&out);
    CHECK(strstr(m, "# TYPE roost_api_requests_total counter\n") != NULL);
    CHECK(strstr(m, "roost_api_requests_total{class=\"2xx\"} 0\n") != NULL);
    CHECK(strstr(m, "roost_api_requests_total{class=\"4xx\"} 0\n") != NULL);
    CHECK(strstr(m, "roost_api_auth_failures_total{code=\"InvalidSignatureException\"} 0\n"));
    CHECK(strstr(m, "roost_api_request_duration_seconds_count 0\n") != NULL);
    CHECK(strstr(m, "roost_api_calls_in_flight 0\n") != NULL);
    CHECK(strstr(m, "# TYPE roost_api_operation_requests_total counter\n") != NULL);
    /* every sample line is "name{labels} value" or "name value" */
    for (const char *line = m; *line;) {
        const char *end = strchr(line, '\n');
        REQUIRE(end != NULL);
        if (line[0] != '#') {
            const char *sp = memchr(line, ' ', (size_t)(end - line));
            REQUIRE(sp != NULL);
            CHECK(strncmp(line, "roost_api_", 10) == 0);
            char *num_end = NULL;
            strtod(sp + 1, &num_end);
            CHECK(num_end == end);
        }
        line = end + 1;
    }
    roost_buf_cleanup(&out);
    roost_api_shutdown(api); /* nothing in flight: returns at once */
    roost_api_destroy(api);
    roost_api_destroy(NULL);
    roost_api_credentials_cleanup(&creds);
}
