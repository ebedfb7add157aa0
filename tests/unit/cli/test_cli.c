/*
 * test_cli.c - unit tests for the pure parts of `roost` (src/cli): argument
 * parsing, the credentials file, ports.json, endpoint and data dir
 * resolution, percent-encoding and paths, SigV4 signing (against botocore's
 * own signatures and against the server's verifier), AWS error parsing and
 * table rendering. There is no roost_cli library, so the files under test
 * are compiled into this one (h2o's t/00unit style); none of them uses curl.
 */
#include "roost_test.h"

#include "../../../src/cli/args.c"
#include "../../../src/cli/config.c"
#include "../../../src/cli/request.c"
#include "../../../src/cli/table.c"

#include <stdlib.h>
#include <sys/stat.h>

/* ==== argument parsing ======================================================= */

static int dummy_run(struct cli_ctx *ctx, const struct cli_invocation *inv)
{
    ROOST_UNUSED(ctx);
    ROOST_UNUSED(inv);
    return 0;
}

static const struct cli_flag t_create_flags[] = {
    {"out", "DIR", "output dir"},
    {"policy", "NAME", "policy"},
    {"force", NULL, "overwrite"},
    {NULL, NULL, NULL},
};

static const struct cli_command t_cmds[] = {
    {"device", "create", "NAME", 1, 1, t_create_flags, "create", NULL, dummy_run},
    {"device", "ls", "", 0, 0, NULL, "list", NULL, dummy_run},
    {"policy", "create", "NAME FILE", 2, 2, NULL, "create policy", NULL, dummy_run},
    {"endpoint", NULL, "", 0, 0, NULL, "endpoint", NULL, dummy_run},
};

static int parse(struct cli_invocation *inv, char *err, size_t errlen, ...)
{
    char *argv[32];
    int argc = 0;
    va_list ap;
    argv[argc++] = "roost";
    va_start(ap, errlen);
    for (char *a = va_arg(ap, char *); a && argc < 31; a = va_arg(ap, char *))
        argv[argc++] = a;
    va_end(ap);
    argv[argc] = NULL;
    return cli__parse_args(argc, argv, t_cmds, ROOST_ARRAY_LEN(t_cmds), inv, err, errlen);
}

ROOST_TEST(args_command_flags_and_globals_anywhere)
{
    struct cli_invocation inv;
    char err[256];
    REQUIRE_OK(parse(&inv, err, sizeof(err), "--data-dir", "/d", "device", "--json", "create",
                     "dev1", "--out=tmp", "--policy", "p1", "--region", "eu-west-1", NULL));
    REQUIRE(inv.cmd == &t_cmds[0]);
    CHECK_EQ(inv.n_pos, 1);
    CHECK_STR(inv.pos[0], "dev1");
    CHECK_STR(cli__flag(&inv, "out"), "tmp");
    CHECK_STR(cli__flag(&inv, "policy"), "p1");
    CHECK(cli__flag(&inv, "force") == NULL);
    CHECK(cli__flag(&inv, "nonexistent") == NULL);
    CHECK_STR(inv.g.data_dir, "/d");
    CHECK_STR(inv.g.region, "eu-west-1");
    CHECK(inv.g.json);
    CHECK(!inv.g.help);

    REQUIRE_OK(parse(&inv, err, sizeof(err), "device", "create", "--force", "x", NULL));
    CHECK_STR(cli__flag(&inv, "force"), "");
    CHECK_STR(inv.pos[0], "x");
}

ROOST_TEST(args_one_word_command_and_double_dash)
{
    struct cli_invocation inv;
    char err[256];
    REQUIRE_OK(parse(&inv, err, sizeof(err), "endpoint", "--endpoint", "https://h:1", NULL));
    REQUIRE(inv.cmd == &t_cmds[3]);
    CHECK_STR(inv.g.endpoint, "https://h:1");
    CHECK_EQ(inv.n_pos, 0);

    /* After "--" a name may start with a dash. */
    REQUIRE_OK(parse(&inv, err, sizeof(err), "device", "create", "--", "-odd", NULL));
    CHECK_STR(inv.pos[0], "-odd");
    REQUIRE_OK(parse(&inv, err, sizeof(err), "policy", "create", "p", "-", NULL));
    CHECK_STR(inv.pos[1], "-");
}

ROOST_TEST(args_usage_errors)
{
    struct cli_invocation inv;
    char err[256];
    CHECK_EQ(parse(&inv, err, sizeof(err), NULL), CLI_EUSAGE);
    CHECK_STR(err, "no command given");
    CHECK_EQ(parse(&inv, err, sizeof(err), "frob", NULL), CLI_EUSAGE);
    CHECK_STR(err, "unknown command 'frob'");
    CHECK_EQ(parse(&inv, err, sizeof(err), "device", NULL), CLI_EUSAGE);
    CHECK_STR(err, "'device' needs a subcommand: create, ls");
    CHECK_EQ(parse(&inv, err, sizeof(err), "device", "frob", NULL), CLI_EUSAGE);
    CHECK_STR(err, "unknown command 'device frob'");
    CHECK_EQ(parse(&inv, err, sizeof(err), "device", "create", NULL), CLI_EUSAGE);
    CHECK_STR(err, "missing argument: device create NAME");
    CHECK_EQ(parse(&inv, err, sizeof(err), "device", "create", "a", "b", NULL), CLI_EUSAGE);
    CHECK_STR(err, "unexpected argument 'b'");
    CHECK_EQ(parse(&inv, err, sizeof(err), "device", "ls", "--out", "x", NULL), CLI_EUSAGE);
    CHECK_STR(err, "unknown option '--out' for 'device ls'");
    CHECK_EQ(parse(&inv, err, sizeof(err), "device", "create", "a", "--out", NULL), CLI_EUSAGE);
    CHECK_STR(err, "option '--out' needs a value (DIR)");
    CHECK_EQ(parse(&inv, err, sizeof(err), "device", "create", "a", "--force=1", NULL),
             CLI_EUSAGE);
    CHECK_STR(err, "option '--force' takes no value");
    CHECK_EQ(parse(&inv, err, sizeof(err), "device", "create", "a", "-x", NULL), CLI_EUSAGE);
    CHECK_STR(err, "unknown option '-x'");
    /* A command flag before the command's words cannot be told from a global one. */
    CHECK_EQ(parse(&inv, err, sizeof(err), "--out", "x", "device", "create", "a", NULL),
             CLI_EUSAGE);
}

ROOST_TEST(args_help_and_version)
{
    struct cli_invocation inv;
    char err[256];
    REQUIRE_OK(parse(&inv, err, sizeof(err), "--help", NULL));
    CHECK(inv.g.help);
    CHECK(inv.cmd == NULL && inv.help_group == NULL);
    REQUIRE_OK(parse(&inv, err, sizeof(err), "device", "--help", NULL));
    CHECK(inv.cmd == NULL);
    CHECK_STR(inv.help_group, "device");
    /* Help wins over missing arguments. */
    REQUIRE_OK(parse(&inv, err, sizeof(err), "device", "create", "-h", NULL));
    CHECK(inv.g.help);
    CHECK(inv.cmd == &t_cmds[0]);
    REQUIRE_OK(parse(&inv, err, sizeof(err), "--version", NULL));
    CHECK(inv.g.version);

    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    REQUIRE(f);
    cli__help_print(f, t_cmds, ROOST_ARRAY_LEN(t_cmds), NULL, &t_cmds[0]);
    fclose(f);
    CHECK(strstr(text, "usage: roost device create NAME [--out DIR] [--policy NAME] [--force]"));
    CHECK(strstr(text, "--data-dir DIR"));
    free(text); /* open_memstream's buffer */
}

/* ==== credentials, ports, endpoint ========================================= */

ROOST_TEST(creds_profiles_comments_and_spacing)
{
    const char *text = "# roostd admin credentials\n"
                       "[other]\naws_access_key_id=OTHER\naws_secret_access_key=osecret\n"
                       "\n[default]\r\n"
                       "aws_access_key_id = AKIDDEFAULT  \r\n"
                       "; a comment\n"
                       "aws_secret_access_key: se/cr+et=\n"
                       "  aws_session_token = indented-so-ignored\n"
                       "[profile named]\naws_access_key_id=N\naws_secret_access_key=ns\n"
                       "aws_session_token = tok\n";
    struct cli_creds c;
    REQUIRE_OK(cli__creds_parse(text, strlen(text), "default", &c));
    CHECK_STR(c.access_key_id, "AKIDDEFAULT");
    CHECK_STR(c.secret, "se/cr+et=");
    CHECK_STR(c.token, "");
    REQUIRE_OK(cli__creds_parse(text, strlen(text), "other", &c));
    CHECK_STR(c.access_key_id, "OTHER");
    REQUIRE_OK(cli__creds_parse(text, strlen(text), "named", &c));
    CHECK_STR(c.secret, "ns");
    CHECK_STR(c.token, "tok");
    CHECK_EQ(cli__creds_parse(text, strlen(text), "absent", &c), ROOST_ENOTFOUND);
    CHECK_STR(c.access_key_id, "");
}

ROOST_TEST(creds_missing_key_or_too_long)
{
    struct cli_creds c;
    const char *no_secret = "[default]\naws_access_key_id=A\n";
    CHECK_EQ(cli__creds_parse(no_secret, strlen(no_secret), "default", &c), ROOST_ENOTFOUND);
    CHECK_STR(c.access_key_id, ""); /* nothing half-filled */
    char big[512];
    int n = snprintf(big, sizeof(big), "[default]\naws_access_key_id=A\naws_secret_access_key=");
    memset(big + n, 'x', 200);
    big[n + 200] = '\0';
    CHECK_EQ(cli__creds_parse(big, strlen(big), "default", &c), ROOST_ETOOBIG);
    CHECK_STR(c.secret, "");
}

ROOST_TEST(ports_json)
{
    int mqtt, https;
    const char *t = "{\"mqtt\": 8883, \"https\": 34567, \"mqtt_plain\": 0, \"ws_plain\": 1}";
    REQUIRE_OK(cli__ports_parse(t, strlen(t), &mqtt, &https));
    CHECK_EQ(mqtt, 8883);
    CHECK_EQ(https, 34567);
    const char *partial = "{\"mqtt\": \"x\", \"https\": 70000}";
    REQUIRE_OK(cli__ports_parse(partial, strlen(partial), &mqtt, &https));
    CHECK_EQ(mqtt, 0);
    CHECK_EQ(https, 0);
    CHECK_EQ(cli__ports_parse("[1]", 3, &mqtt, &https), ROOST_EMALFORMED);
    CHECK_EQ(cli__ports_parse("{", 1, &mqtt, &https), ROOST_EMALFORMED);
}

ROOST_TEST(endpoint_split)
{
    static const struct {
        const char *url, *authority, *host;
    } good[] = {
        {"https://localhost:8443", "localhost:8443", "localhost"},
        {"https://localhost:8443/", "localhost:8443", "localhost"},
        {"http://127.0.0.1", "127.0.0.1", "127.0.0.1"},
        {"https://[::1]:8443", "[::1]:8443", "::1"},
        {"https://iot.example.com", "iot.example.com", "iot.example.com"},
    };
    for (size_t i = 0; i < ROOST_ARRAY_LEN(good); i++) {
        char *a = NULL, *h = NULL;
        CHECK_OK(cli__endpoint_split(good[i].url, &a, &h));
        CHECK_STR(a, good[i].authority);
        CHECK_STR(h, good[i].host);
        roost_free(a);
        roost_free(h);
    }
    static const char *const bad[] = {"ftp://h", "localhost:8443", "https://", "https://h/path",
                                      "https://u@h", "https://:8443", "https://[::1",
                                      "https://h?x=1"};
    for (size_t i = 0; i < ROOST_ARRAY_LEN(bad); i++) {
        char *a = NULL, *h = NULL;
        CHECK_EQ(cli__endpoint_split(bad[i], &a, &h), ROOST_EINVAL);
        CHECK(a == NULL && h == NULL);
    }
}

static void write_text(const char *dir, const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    REQUIRE(f);
    fputs(text, f);
    fclose(f);
}

ROOST_TEST(config_resolve_from_data_dir)
{
    const char *dir = roost_test_tmpdir();
    char pki[512];
    snprintf(pki, sizeof(pki), "%s/pki", dir);
    REQUIRE_OK(mkdir(pki, 0755));
    write_text(dir, "admin.credentials",
               "[default]\naws_access_key_id = AKID1\naws_secret_access_key = S1\n");
    write_text(dir, "ports.json", "{\"mqtt\": 40001, \"https\": 40002}\n");
    write_text(dir, "pki/root-ca.pem", "-----BEGIN CERTIFICATE-----\n");

    struct cli_global g = {.data_dir = dir};
    struct cli_config c;
    char err[512];
    REQUIRE_OK(cli__config_resolve(&g, &c, err, sizeof(err)));
    CHECK_STR(c.endpoint, "https://localhost:40002");
    CHECK_STR(c.authority, "localhost:40002");
    CHECK_STR(c.host, "localhost");
    CHECK_EQ(c.mqtt_port, 40001);
    CHECK_EQ(c.https_port, 40002);
    CHECK_STR(c.region, "us-east-1");
    CHECK_STR(c.creds.access_key_id, "AKID1");
    CHECK_STR(c.creds.secret, "S1");
    CHECK(strstr(c.ca_file, "/pki/root-ca.pem") != NULL);
    cli__config_cleanup(&c);

    /* Flags win; $ROOST_DATA_DIR stands in for --data-dir. */
    REQUIRE_OK(setenv("ROOST_DATA_DIR", dir, 1));
    struct cli_global g2 = {.endpoint = "https://127.0.0.1:9/", .region = "eu-west-1"};
    REQUIRE_OK(cli__config_resolve(&g2, &c, err, sizeof(err)));
    CHECK_STR(c.endpoint, "https://127.0.0.1:9");
    CHECK_STR(c.authority, "127.0.0.1:9");
    CHECK_STR(c.region, "eu-west-1");
    CHECK_STR(c.creds.access_key_id, "AKID1");
    cli__config_cleanup(&c);
    unsetenv("ROOST_DATA_DIR");

    struct cli_global g3 = {.data_dir = dir, .profile = "nope"};
    CHECK_EQ(cli__config_resolve(&g3, &c, err, sizeof(err)), CLI_EUSAGE);
    CHECK(strstr(err, "[nope]") != NULL);
    struct cli_global g4 = {.data_dir = dir, .endpoint = "localhost:1"};
    CHECK_EQ(cli__config_resolve(&g4, &c, err, sizeof(err)), CLI_EUSAGE);
    CHECK(strstr(err, "--endpoint") != NULL);
}

ROOST_TEST(config_missing_data_dir_is_a_usage_error)
{
    struct cli_global g = {.data_dir = "/nonexistent/roost-data-for-test"};
    struct cli_config c;
    char err[512];
    unsetenv("AWS_ACCESS_KEY_ID");
    CHECK_EQ(cli__config_resolve(&g, &c, err, sizeof(err)), CLI_EUSAGE);
    CHECK(strstr(err, "root-ca.pem") != NULL);
    /* With the CA given, the credentials are what is missing. */
    const char *dir = roost_test_tmpdir();
    write_text(dir, "ca.pem", "x");
    char ca[512];
    snprintf(ca, sizeof(ca), "%s/ca.pem", dir);
    struct cli_global g2 = {.data_dir = "/nonexistent/roost-data-for-test", .ca_file = ca};
    CHECK_EQ(cli__config_resolve(&g2, &c, err, sizeof(err)), CLI_EUSAGE);
    CHECK(strstr(err, "admin.credentials") != NULL);
    /* ... unless the environment has them, as for the AWS CLI. */
    setenv("AWS_ACCESS_KEY_ID", "ENVKEY", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "ENVSECRET", 1);
    REQUIRE_OK(cli__config_resolve(&g2, &c, err, sizeof(err)));
    CHECK_STR(c.creds.access_key_id, "ENVKEY");
    CHECK_EQ(c.https_port, 8443);
    CHECK_STR(c.endpoint, "https://localhost:8443");
    cli__config_cleanup(&c);
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
}

ROOST_TEST(read_file_limit)
{
    const char *dir = roost_test_tmpdir();
    write_text(dir, "f", "0123456789");
    char path[512], *text = NULL;
    size_t len = 0;
    snprintf(path, sizeof(path), "%s/f", dir);
    REQUIRE_OK(cli__read_file(path, 10, &text, &len));
    CHECK_EQ(len, 10);
    CHECK_STR(text, "0123456789");
    roost_free(text);
    CHECK_EQ(cli__read_file(path, 9, &text, &len), ROOST_ETOOBIG);
    CHECK(text == NULL);
    snprintf(path, sizeof(path), "%s/none", dir);
    CHECK_EQ(cli__read_file(path, 9, &text, &len), -ENOENT);
}

/* ==== encoding =============================================================== */

static void check_encode(const char *in, const char *want)
{
    struct roost_buf b;
    roost_buf_init(&b, 0);
    CHECK_OK(cli__pct_encode(&b, in));
    CHECK_OK(roost_buf_append(&b, "", 1));
    CHECK_STR((const char *)b.data, want);
    roost_buf_cleanup(&b);
}

ROOST_TEST(pct_encode_like_botocore)
{
    check_encode("dev1", "dev1");
    check_encode("a-b.c_d~e", "a-b.c_d~e");
    check_encode("arn:aws:iot:us-east-1:123456789012:cert/ab12",
                 "arn%3Aaws%3Aiot%3Aus-east-1%3A123456789012%3Acert%2Fab12");
    check_encode("$aws/things/t1", "%24aws%2Fthings%2Ft1");
    check_encode("a b+c=d&e", "a%20b%2Bc%3Dd%26e");
    check_encode("caf\xc3\xa9", "caf%C3%A9");
    check_encode("", "");
}

ROOST_TEST(path_build_and_query)
{
    struct roost_buf b;
    roost_buf_init(&b, 0);
    const char *labels[] = {"my thing"};
    REQUIRE_OK(cli__path_build(&b, "/things/{}/principals", labels, 1));
    CHECK_STR((const char *)b.data, "/things/my%20thing/principals");
    roost_buf_clear(&b);
    REQUIRE_OK(cli__path_build(&b, "/endpoint", NULL, 0));
    CHECK_STR((const char *)b.data, "/endpoint");
    roost_buf_clear(&b);
    CHECK_EQ(cli__path_build(&b, "/things/{}", NULL, 0), ROOST_EINVAL);
    roost_buf_clear(&b);
    CHECK_EQ(cli__path_build(&b, "/things", labels, 1), ROOST_EINVAL);
    roost_buf_cleanup(&b);

    struct roost_buf q;
    roost_buf_init(&q, 0);
    REQUIRE_OK(cli__query_add(&q, "attributeName", "k"));
    REQUIRE_OK(cli__query_add(&q, "nextToken", NULL)); /* nothing */
    REQUIRE_OK(cli__query_add(&q, "attributeValue", "v/w x"));
    CHECK_STR((const char *)q.data, "attributeName=k&attributeValue=v%2Fw%20x");
    roost_buf_cleanup(&q);
}

/* ==== signing ================================================================= */

static const struct cli_creds test_creds = {"AKIDROOSTTEST", "roost/secret+key=for/tests", ""};

/* Made by gen_cli_vectors.py (botocore 1.29.27 SigV4Auth, 2026-01-02 03:04:05Z). */
static const struct {
    const char *name, *method, *target, *authorization;
} boto_vectors[] = {
    {"ListThings filters", "GET",
     "/things?attributeName=k&attributeValue=v%2Fw&thingTypeName=t%20y",
     "AWS4-HMAC-SHA256 Credential=AKIDROOSTTEST/20260102/us-east-1/iot/aws4_request, SignedHeaders=host;x-amz-date, Signature=c5634eb04bbdf33eb4ee8b71c57a9ac29c75cea25b353e8e5ed15ee16982aed6"},
    {"AttachThingPrincipal", "PUT",
     "/things/dev1/principals",
     "AWS4-HMAC-SHA256 Credential=AKIDROOSTTEST/20260102/us-east-1/iot/aws4_request, SignedHeaders=host;x-amz-date;x-amzn-principal, Signature=33869a36f1c3e5020b1907260c96503cb2f52d296fdf8d99580eb45d3c6b979d"},
    {"AttachPolicy", "PUT",
     "/target-policies/roost-default-device",
     "AWS4-HMAC-SHA256 Credential=AKIDROOSTTEST/20260102/us-east-1/iot/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=19b59f6e0ae7784a9e7018f252c8390941e9c1249a7ab7839b77b9fb3e33ec6d"},
    {"ListAttachedPolicies", "POST",
     "/attached-policies/arn%3Aaws%3Aiot%3Aus-east-1%3A123456789012%3Acert%2Fabcd",
     "AWS4-HMAC-SHA256 Credential=AKIDROOSTTEST/20260102/us-east-1/iot/aws4_request, SignedHeaders=host;x-amz-date, Signature=9f8b8eeb600f59170766671dc315b1c48a4abf5eb573e848c6811a9d40d69672"},
    {"CreateKeysAndCertificate", "POST",
     "/keys-and-certificate?setAsActive=true",
     "AWS4-HMAC-SHA256 Credential=AKIDROOSTTEST/20260102/us-east-1/iot/aws4_request, SignedHeaders=host;x-amz-date, Signature=11353223c4eee8a15490fb0e8577e753dcb80e92bd0334c9ecfee0eb07ef2c7d"},
};

#define BOTO_BODY "{\"target\":\"arn:aws:iot:us-east-1:123456789012:cert/abcd\"}"
#define BOTO_DATE "20260102T030405Z"

/* The vector's request as cli_request: target split at '?', the body and
 * principal the generator used. */
static void vector_request(size_t i, char *path, size_t cap, struct cli_request *r)
{
    snprintf(path, cap, "%s", boto_vectors[i].target);
    char *q = strchr(path, '?');
    if (q)
        *q++ = '\0';
    *r = (struct cli_request){boto_vectors[i].method, path, q, NULL, 0, NULL};
    if (strcmp(boto_vectors[i].name, "AttachPolicy") == 0) {
        r->body = BOTO_BODY;
        r->body_len = strlen(BOTO_BODY);
    }
    if (strcmp(boto_vectors[i].name, "AttachThingPrincipal") == 0)
        r->principal = "arn:aws:iot:us-east-1:123456789012:cert/abcd";
}

static const char *find_header(const struct cli_signed *s, const char *name)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->h[i].name, name) == 0)
            return s->h[i].value;
    return NULL;
}

ROOST_TEST(sign_matches_botocore)
{
    for (size_t i = 0; i < ROOST_ARRAY_LEN(boto_vectors); i++) {
        struct roost_arena a;
        struct cli_signed s;
        struct cli_request r;
        char path[256];
        roost_arena_init(&a, NULL, 0);
        vector_request(i, path, sizeof(path), &r);
        REQUIRE_OK(cli__request_sign(&r, "localhost:8443", &test_creds, "us-east-1", BOTO_DATE,
                                     &a, &s));
        const char *auth = find_header(&s, "authorization");
        CHECK_STR(auth, boto_vectors[i].authorization);
        CHECK_STR(find_header(&s, "host"), "localhost:8443");
        CHECK_STR(find_header(&s, "x-amz-date"), BOTO_DATE);
        CHECK_EQ(find_header(&s, "content-type") != NULL, r.body != NULL);
        roost_arena_cleanup(&a);
    }
}

static int secret_of(void *ud, const char *akid, const char *token,
                     char out_secret[ROOST_SIGV4_SECRET_MAX + 1])
{
    ROOST_UNUSED(ud);
    ROOST_UNUSED(token);
    if (strcmp(akid, test_creds.access_key_id) != 0)
        return ROOST_ENOTFOUND;
    snprintf(out_secret, ROOST_SIGV4_SECRET_MAX + 1, "%s", test_creds.secret);
    return 0;
}

/* The request as it leaves curl (our headers plus Content-Length), parsed
 * and verified by the server's own code; `tamper` changes the path after
 * signing. Returns the verifier's answer. */
static int verify_on_server(const struct cli_request *r, const struct cli_signed *s,
                            int64_t now, bool tamper)
{
    struct roost_buf raw;
    struct roost_arena a;
    struct roost_http_request req;
    struct roost_sigv4_result res;
    roost_buf_init(&raw, 0);
    roost_arena_init(&a, NULL, 0);
    char line[8192];
    snprintf(line, sizeof(line), "%s %s%s%s%s HTTP/1.1\r\n", r->method, r->path,
             tamper ? "x" : "", r->query && r->query[0] ? "?" : "", r->query ? r->query : "");
    roost_buf_append(&raw, line, strlen(line));
    for (size_t i = 0; i < s->n; i++) {
        snprintf(line, sizeof(line), "%s: %s\r\n", s->h[i].name, s->h[i].value);
        roost_buf_append(&raw, line, strlen(line));
    }
    snprintf(line, sizeof(line), "Accept: application/json\r\nContent-Length: %zu\r\n\r\n",
             r->body ? r->body_len : 0);
    roost_buf_append(&raw, line, strlen(line));
    if (r->body)
        roost_buf_append(&raw, r->body, r->body_len);
    struct roost_http_limits lim = {0};
    long n = roost_http_parse_request(raw.data, raw.len, &lim, &req, &a);
    int rc = n == (long)raw.len ? 0 : ROOST_EMALFORMED;
    if (!rc) {
        static const char *const services[] = {"iot", "execute-api", NULL};
        struct roost_sigv4_params p = {services, secret_of, NULL, now, 0};
        rc = roost_sigv4_verify(&req, &p, &a, &res);
    }
    roost_arena_cleanup(&a);
    roost_buf_cleanup(&raw);
    return rc;
}

ROOST_TEST(sign_verifies_on_the_server)
{
    struct tm tm = {.tm_year = 2026 - 1900, .tm_mon = 0, .tm_mday = 2, .tm_hour = 3,
                    .tm_min = 4, .tm_sec = 5};
    int64_t now = (int64_t)timegm(&tm);
    char date[17];
    cli__amz_date(now, date);
    CHECK_STR(date, BOTO_DATE);

    for (size_t i = 0; i < ROOST_ARRAY_LEN(boto_vectors); i++) {
        struct roost_arena a;
        struct cli_signed s;
        struct cli_request r;
        char path[256];
        roost_arena_init(&a, NULL, 0);
        vector_request(i, path, sizeof(path), &r);
        REQUIRE_OK(cli__request_sign(&r, "localhost:8443", &test_creds, "us-east-1", date, &a,
                                     &s));
        CHECK_OK(verify_on_server(&r, &s, now, false));
        CHECK_EQ(verify_on_server(&r, &s, now, true), ROOST_EAUTH);
        roost_arena_cleanup(&a);
    }

    /* A session token is sent and signed. */
    struct cli_creds tok = test_creds;
    snprintf(tok.token, sizeof(tok.token), "session/token");
    struct roost_arena a;
    struct cli_signed s;
    roost_arena_init(&a, NULL, 0);
    struct cli_request r = {"GET", "/things", NULL, NULL, 0, NULL};
    REQUIRE_OK(cli__request_sign(&r, "localhost:8443", &tok, "us-east-1", date, &a, &s));
    CHECK_STR(find_header(&s, "x-amz-security-token"), "session/token");
    CHECK(strstr(find_header(&s, "authorization"),
                 "SignedHeaders=host;x-amz-date;x-amz-security-token,") != NULL);
    CHECK_OK(verify_on_server(&r, &s, now, false));
    roost_arena_cleanup(&a);
}

ROOST_TEST(sign_refuses_header_injection)
{
    struct roost_arena a;
    struct cli_signed s;
    roost_arena_init(&a, NULL, 0);
    struct cli_request r = {"PUT", "/things/t/principals", NULL, NULL, 0, "arn\r\nX-Evil: 1"};
    CHECK_EQ(cli__request_sign(&r, "localhost:8443", &test_creds, "us-east-1", BOTO_DATE, &a, &s),
             ROOST_EINVAL);
    roost_arena_cleanup(&a);
}

/* ==== errors ================================================================== */

ROOST_TEST(error_parse_like_botocore)
{
    char type[128], msg[256];
    const char *body = "{\"message\":\"Thing dev9 cannot be found.\",\"__type\":\"Other\"}";
    cli__error_parse(404, "ResourceNotFoundException:http://internal.amazon.com/", body,
                     strlen(body), type, sizeof(type), msg, sizeof(msg));
    CHECK_STR(type, "ResourceNotFoundException");
    CHECK_STR(msg, "Thing dev9 cannot be found.");

    body = "{\"Message\":\"m\\nline\",\"__type\":\"com.amazonaws.iot#InvalidRequestException\"}";
    cli__error_parse(400, "", body, strlen(body), type, sizeof(type), msg, sizeof(msg));
    CHECK_STR(type, "InvalidRequestException");
    CHECK_STR(msg, "m line");

    body = "{\"code\":\"CertificateStateException\",\"message\":\"x\"}";
    cli__error_parse(406, NULL, body, strlen(body), type, sizeof(type), msg, sizeof(msg));
    CHECK_STR(type, "CertificateStateException");

    cli__error_parse(502, NULL, "Bad Gateway\n", 12, type, sizeof(type), msg, sizeof(msg));
    CHECK_STR(type, "HTTP502");
    CHECK_STR(msg, "Bad Gateway");

    cli__error_parse(500, NULL, "", 0, type, sizeof(type), msg, sizeof(msg));
    CHECK_STR(type, "HTTP500");
    CHECK_STR(msg, "HTTP status 500");
}

/* ==== tables =================================================================== */

static char *render(const struct cli_table *t)
{
    struct roost_buf b;
    roost_buf_init(&b, 0);
    REQUIRE_OK(cli__table_render(t, &b));
    REQUIRE_OK(roost_buf_append(&b, "", 1));
    return (char *)b.data;
}

ROOST_TEST(table_aligns_columns)
{
    static const char *const headers[] = {"NAME", "TYPE", "VERSION"};
    struct cli_table t;
    cli__table_init(&t, 3, headers);
    cli__table_add(&t, (const char *[]){"dev1", "sensor", "1"});
    cli__table_add(&t, (const char *[]){"a-longer-name", NULL, "12"});
    cli__table_add(&t, (const char *[]){"x", "", ""});
    char *out = render(&t);
    CHECK_STR(out, "NAME           TYPE    VERSION\n"
                   "dev1           sensor  1\n"
                   "a-longer-name          12\n"
                   "x\n");
    roost_free(out);
    cli__table_cleanup(&t);
}

ROOST_TEST(table_utf8_width_and_control_characters)
{
    struct cli_table t;
    cli__table_init(&t, 2, NULL);
    cli__table_add(&t, (const char *[]){"caf\xc3\xa9", "a"});
    cli__table_add(&t, (const char *[]){"bad\x1b[2J", "b"});
    cli__table_add(&t, (const char *[]){"ab", "c\nd"});
    char *out = render(&t);
    CHECK_STR(out, "caf\xc3\xa9     a\n"
                   "bad?[2J  b\n"
                   "ab       c?d\n");
    roost_free(out);
    cli__table_cleanup(&t);

    static const char *const headers[] = {"ID", "STATUS"};
    cli__table_init(&t, 2, headers);
    out = render(&t);
    CHECK_STR(out, "ID  STATUS\n");
    roost_free(out);
    cli__table_cleanup(&t);
}

ROOST_TEST(time_format)
{
    char out[32];
    json_t *v = json_real(1767323045.25);
    cli__time_format(v, out);
    CHECK_STR(out, "2026-01-02T03:04:05Z");
    json_decref(v);
    v = json_integer(0);
    cli__time_format(v, out);
    CHECK_STR(out, "1970-01-01T00:00:00Z");
    json_decref(v);
    v = json_string("2026-01-02");
    cli__time_format(v, out);
    CHECK_STR(out, "");
    json_decref(v);
    cli__time_format(NULL, out);
    CHECK_STR(out, "");
}
