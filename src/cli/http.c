/*
 * http.c - the transport of `roost`: one libcurl easy handle for the whole
 * run (curl_easy_reset keeps its connection cache, so a command that makes
 * ten calls makes one TLS handshake), HTTPS verified against the data dir's
 * CA, 5 s to connect and 30 s per call. Each call is signed afresh; the
 * answer is JSON on success or an AWS error (header x-amzn-ErrorType, body
 * {"message"}) that cli__error_parse reads the way botocore does.
 */
#include "cli/cli.h"

#include <curl/curl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define RESPONSE_LIMIT (64u << 20) /* a page of list output is far smaller */
#define MAX_PAGES 100000

int cli__ctx_init(struct cli_ctx *ctx)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return ROOST_ENOMEM;
    ctx->curl = curl_easy_init();
    if (!ctx->curl) {
        curl_global_cleanup();
        return ROOST_ENOMEM;
    }
    if (!ctx->out)
        ctx->out = stdout;
    return 0;
}

void cli__ctx_cleanup(struct cli_ctx *ctx)
{
    if (!ctx)
        return;
    if (ctx->curl) {
        curl_easy_cleanup(ctx->curl);
        curl_global_cleanup();
        ctx->curl = NULL;
    }
    cli__config_cleanup(&ctx->cfg);
}

void cli__fail(struct cli_ctx *ctx, const char *type, const char *fmt, ...)
{
    va_list ap;
    snprintf(ctx->err_type, sizeof(ctx->err_type), "%s", type ? type : "");
    va_start(ap, fmt);
    vsnprintf(ctx->err_msg, sizeof(ctx->err_msg), fmt, ap);
    va_end(ap);
    ctx->reported = false;
}

void cli__report(struct cli_ctx *ctx)
{
    if (ctx->reported)
        return;
    if (ctx->err_type[0])
        fprintf(stderr, "roost: %s: %s\n", ctx->err_type, ctx->err_msg);
    else if (ctx->err_msg[0])
        fprintf(stderr, "roost: %s\n", ctx->err_msg);
    ctx->reported = true;
}

void cli__json_print(struct cli_ctx *ctx, const json_t *v)
{
    char *s = json_dumps(v, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
    if (s) {
        fprintf(ctx->out, "%s\n", s);
        roost_free(s); /* jansson allocates with roost_xmalloc (main.c) */
    }
}

const char *cli__jstr(const json_t *obj, const char *key)
{
    const json_t *v = json_object_get(obj, key);
    return json_is_string(v) ? json_string_value(v) : "";
}

/* ---- one call -------------------------------------------------------------- */

struct response {
    struct roost_buf body;
    char errtype[256];
    bool overflow;
};

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    struct response *r = ud;
    if (roost_buf_append(&r->body, p, size * n)) {
        r->overflow = true;
        return 0; /* curl aborts the transfer */
    }
    return size * n;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    struct response *r = ud;
    size_t len = size * n;
    static const char name[] = "x-amzn-errortype:";
    if (len > sizeof(name) - 1 && strncasecmp(p, name, sizeof(name) - 1) == 0) {
        const char *v = p + sizeof(name) - 1;
        size_t vn = len - (sizeof(name) - 1);
        while (vn && (*v == ' ' || *v == '\t')) {
            v++;
            vn--;
        }
        while (vn && (v[vn - 1] == '\r' || v[vn - 1] == '\n' || v[vn - 1] == ' '))
            vn--;
        snprintf(r->errtype, sizeof(r->errtype), "%.*s", (int)vn, v);
    }
    return len;
}

static struct curl_slist *add_header(struct curl_slist *list, const char *name, const char *value,
                                     bool *oom)
{
    char line[CLI_TOKEN_MAX + 512];
    /* "Name:" with nothing after the colon removes a header curl adds. */
    snprintf(line, sizeof(line), "%s:%s%s", name, value[0] ? " " : "", value);
    struct curl_slist *l = curl_slist_append(list, line);
    if (!l) {
        *oom = true;
        return list;
    }
    return l;
}

int cli__call(struct cli_ctx *ctx, const struct cli_request *req, json_t **out_body)
{
    CURL *c = ctx->curl;
    struct roost_arena arena;
    struct curl_slist *hdrs = NULL;
    struct response resp = {0};
    struct roost_buf url;
    struct cli_signed sig;
    char amz_date[17];
    bool oom = false;
    long status = 0;
    int rc = 0;

    *out_body = NULL;
    roost_arena_init(&arena, NULL, 0);
    roost_buf_init(&resp.body, RESPONSE_LIMIT);
    roost_buf_init(&url, 0);

    cli__amz_date((int64_t)time(NULL), amz_date);
    rc = cli__request_sign_for(req, ctx->service ? ctx->service : "iot", ctx->cfg.authority,
                               &ctx->cfg.creds, ctx->cfg.region, amz_date, &arena, &sig);
    if (rc) {
        cli__fail(ctx, NULL, "cannot sign the request: %s", roost_strerror(rc));
        rc = CLI_EFAIL;
        goto out;
    }
    for (size_t i = 0; i < sig.n; i++)
        hdrs = add_header(hdrs, sig.h[i].name, sig.h[i].value, &oom);
    /* curl would add "Expect: 100-continue" for large bodies and a form
     * content type for POST; neither belongs to an AWS call. */
    hdrs = add_header(hdrs, "Expect", "", &oom);
    if (!req->body || req->body_len == 0)
        hdrs = add_header(hdrs, "Content-Type", "", &oom);
    hdrs = add_header(hdrs, "Accept", "application/json", &oom);
    if (oom) {
        rc = ROOST_ENOMEM;
        goto out;
    }

    rc = roost_buf_append(&url, ctx->cfg.endpoint, strlen(ctx->cfg.endpoint));
    if (!rc)
        rc = roost_buf_append(&url, req->path, strlen(req->path));
    if (!rc && req->query && req->query[0]) {
        rc = roost_buf_append(&url, "?", 1);
        if (!rc)
            rc = roost_buf_append(&url, req->query, strlen(req->query));
    }
    if (!rc)
        rc = roost_buf_append(&url, "", 1);
    if (rc)
        goto out;

    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, (const char *)url.data);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "roost/" ROOST_VERSION);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 5L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https,http");
    curl_easy_setopt(c, CURLOPT_CAINFO, ctx->cfg.ca_file);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &resp);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &resp);
    /* The path is already encoded as the signature covers it: no rewriting. */
    curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
    if (strcmp(req->method, "GET") == 0) {
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    } else if (strcmp(req->method, "DELETE") == 0 && !req->body) {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "DELETE");
    } else {
        /* POST, PUT, PATCH, DELETE with a body: send it (maybe empty) with
         * a Content-Length, under the method asked for. */
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)(req->body ? req->body_len : 0));
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, req->body ? req->body : "");
        if (strcmp(req->method, "POST") != 0)
            curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req->method);
    }

    CURLcode cc = curl_easy_perform(c);
    if (cc != CURLE_OK) {
        if (resp.overflow) {
            cli__fail(ctx, NULL, "the answer to %s %s is larger than %u MiB", req->method,
                      req->path, RESPONSE_LIMIT >> 20);
            rc = CLI_EFAIL;
        } else {
            bool tls = cc == CURLE_PEER_FAILED_VERIFICATION || cc == CURLE_SSL_CACERT_BADFILE;
            cli__fail(ctx, NULL, "cannot reach %s: %s%s%s", ctx->cfg.endpoint,
                      curl_easy_strerror(cc), tls ? "; is this the CA of the server: " : "",
                      tls ? ctx->cfg.ca_file : "");
            rc = CLI_EREACH;
        }
        goto out;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    ctx->err_status = status;
    const char *body = (const char *)roost_buf_head(&resp.body);
    size_t len = roost_buf_size(&resp.body);
    if (status < 200 || status > 299) {
        cli__error_parse(status, resp.errtype, body ? body : "", len, ctx->err_type,
                         sizeof(ctx->err_type), ctx->err_msg, sizeof(ctx->err_msg));
        ctx->reported = false;
        rc = CLI_EAPI;
        goto out;
    }
    if (len == 0) {
        *out_body = json_object();
        goto out;
    }
    json_error_t jerr;
    *out_body = json_loadb(body, len, 0, &jerr);
    if (!*out_body) {
        cli__fail(ctx, NULL, "%s %s: the server's answer is not JSON (%s)", req->method,
                  req->path, jerr.text);
        rc = CLI_EFAIL;
    }
out:
    curl_slist_free_all(hdrs);
    roost_buf_cleanup(&resp.body);
    roost_buf_cleanup(&url);
    roost_arena_cleanup(&arena);
    return rc;
}

/* ---- helpers for the commands ------------------------------------------------- */

int cli__api(struct cli_ctx *ctx, const char *method, const char *tmpl, const char *label,
             const char *query, const json_t *body, const char *principal, json_t **out)
{
    struct roost_buf path;
    char *text = NULL;
    json_t *answer = NULL;
    const char *labels[1] = {label};
    int rc;
    roost_buf_init(&path, 0);
    if (out)
        *out = NULL;
    rc = cli__path_build(&path, tmpl, labels, label ? 1 : 0);
    if (rc) {
        cli__fail(ctx, NULL, "cannot build the path %s: %s", tmpl, roost_strerror(rc));
        rc = CLI_EFAIL;
        goto out;
    }
    if (body) {
        text = json_dumps(body, JSON_COMPACT);
        if (!text) {
            cli__fail(ctx, NULL, "cannot encode the request body");
            rc = CLI_EFAIL;
            goto out;
        }
    }
    struct cli_request req = {method, (const char *)path.data, query, text,
                              text ? strlen(text) : 0, principal};
    rc = cli__call(ctx, &req, &answer);
    if (!rc && out) {
        *out = answer;
        answer = NULL;
    }
out:
    json_decref(answer);
    roost_free(text);
    roost_buf_cleanup(&path);
    return rc;
}

/* ---- pagination ------------------------------------------------------------ */

int cli__list_all(struct cli_ctx *ctx, const struct cli_list *l, json_t **out_items)
{
    json_t *items = json_array();
    json_t *page = NULL;
    char *token = NULL;
    struct roost_buf q;
    int rc = 0;
    roost_buf_init(&q, 0);
    *out_items = NULL;

    for (int n = 0;; n++) {
        if (n == MAX_PAGES) {
            cli__fail(ctx, NULL, "%s: more than %d pages, giving up", l->tmpl, MAX_PAGES);
            rc = CLI_EFAIL;
            goto out;
        }
        roost_buf_clear(&q);
        if (l->query && l->query[0])
            rc = roost_buf_append(&q, l->query, strlen(l->query));
        if (!rc)
            rc = cli__query_add(&q, l->token_in, token);
        if (rc)
            goto out;
        json_decref(page);
        page = NULL;
        rc = cli__api(ctx, l->method ? l->method : "GET", l->tmpl, l->label,
                      roost_buf_size(&q) ? (const char *)q.data : NULL, NULL, l->principal,
                      &page);
        if (rc)
            goto out;
        json_t *arr = json_object_get(page, l->items_key);
        if (arr && !json_is_array(arr)) {
            cli__fail(ctx, NULL, "%s: '%s' is not an array", l->tmpl, l->items_key);
            rc = CLI_EFAIL;
            goto out;
        }
        if (arr)
            json_array_extend(items, arr);
        const char *next = cli__jstr(page, l->token_out);
        if (!next[0])
            break;
        if (token && strcmp(token, next) == 0) {
            cli__fail(ctx, NULL, "%s: the server sent the same %s twice", l->tmpl,
                      l->token_out);
            rc = CLI_EFAIL;
            goto out;
        }
        roost_free(token);
        token = roost_xstrdup(next);
    }
    *out_items = items;
    items = NULL;
out:
    json_decref(items);
    json_decref(page);
    roost_free(token);
    roost_buf_cleanup(&q);
    return rc;
}
