/*
 * request.c - turning an API call into the bytes botocore would send, and an
 * error answer into what botocore would report. Paths are built from
 * templates with percent-encoded labels (botocore's safe set -._~, so a
 * certificate ARN in ListAttachedPolicies' path keeps its '/' as %2F), and
 * every request is signed with roost_sigv4_sign, the same code that verifies
 * signatures on the server. Pure: the clock comes in as amz_date.
 */
#include "cli/cli.h"
#include "api/api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- encoding --------------------------------------------------------------- */

static bool unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '.' || c == '_' || c == '~';
}

int cli__pct_encode(struct roost_buf *out, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    int rc = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p && !rc; p++) {
        if (unreserved(*p)) {
            rc = roost_buf_append(out, p, 1);
        } else {
            char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            rc = roost_buf_append(out, e, 3);
        }
    }
    return rc;
}

/* Keeps the buffer a C string without counting the NUL in its length. */
static int terminate(struct roost_buf *b)
{
    int rc = roost_buf_reserve(b, 1);
    if (!rc)
        b->data[b->len] = '\0';
    return rc;
}

int cli__path_build(struct roost_buf *out, const char *tmpl, const char *const *labels,
                    size_t n_labels)
{
    size_t used = 0;
    int rc = 0;
    for (const char *p = tmpl; *p && !rc; p++) {
        if (p[0] == '{' && p[1] == '}') {
            if (used == n_labels)
                return ROOST_EINVAL;
            rc = cli__pct_encode(out, labels[used++]);
            p++;
        } else {
            rc = roost_buf_append(out, p, 1);
        }
    }
    if (!rc && used != n_labels)
        rc = ROOST_EINVAL;
    if (!rc)
        rc = terminate(out);
    return rc;
}

int cli__query_add(struct roost_buf *q, const char *key, const char *value)
{
    int rc = 0;
    if (!value)
        return terminate(q);
    if (roost_buf_size(q) > 0)
        rc = roost_buf_append(q, "&", 1);
    if (!rc)
        rc = cli__pct_encode(q, key);
    if (!rc)
        rc = roost_buf_append(q, "=", 1);
    if (!rc)
        rc = cli__pct_encode(q, value);
    if (!rc)
        rc = terminate(q);
    return rc;
}

/* ---- signing ------------------------------------------------------------------ */

void cli__amz_date(int64_t unix_s, char out[17])
{
    time_t t = (time_t)unix_s;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}

static bool header_safe(const char *v)
{
    for (const unsigned char *p = (const unsigned char *)v; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return false;
    return true;
}

static int header_cmp(const void *a, const void *b)
{
    const struct cli_header *x = a, *y = b;
    return strcmp(x->name, y->name);
}

int cli__request_sign(const struct cli_request *req, const char *authority,
                      const struct cli_creds *creds, const char *region, const char *amz_date,
                      struct roost_arena *arena, struct cli_signed *out)
{
    return cli__request_sign_for(req, "iot", authority, creds, region, amz_date, arena, out);
}

int cli__request_sign_for(const struct cli_request *req, const char *service,
                          const char *authority, const struct cli_creds *creds,
                          const char *region, const char *amz_date, struct roost_arena *arena,
                          struct cli_signed *out)
{
    struct roost_buf names;
    int rc = 0;
    roost_buf_init(&names, 0);
    out->n = 0;

    const char *query = req->query ? req->query : "";
    bool has_body = req->body && req->body_len > 0;
    /* Names already lowercase: SigV4 wants them so and sorted. */
    out->h[out->n++] = (struct cli_header){"host", authority};
    out->h[out->n++] = (struct cli_header){"x-amz-date", amz_date};
    if (has_body)
        out->h[out->n++] = (struct cli_header){"content-type", "application/json"};
    if (req->principal)
        out->h[out->n++] = (struct cli_header){"x-amzn-principal", req->principal};
    if (creds->token[0])
        out->h[out->n++] = (struct cli_header){"x-amz-security-token", creds->token};
    for (size_t i = 0; i < out->n; i++) {
        if (!header_safe(out->h[i].value)) {
            rc = ROOST_EINVAL; /* a CR/LF would inject headers */
            goto out;
        }
    }
    qsort(out->h, out->n, sizeof(out->h[0]), header_cmp);

    struct roost_http_header *hh = roost_arena_alloc(arena, sizeof(*hh) * out->n);
    for (size_t i = 0; i < out->n; i++) {
        hh[i].name = roost_str_c(out->h[i].name);
        hh[i].value = roost_str_c(out->h[i].value);
        rc = roost_buf_append(&names, i ? ";" : "", i ? 1 : 0);
        if (!rc)
            rc = roost_buf_append(&names, out->h[i].name, strlen(out->h[i].name));
        if (rc)
            goto out;
    }
    rc = terminate(&names);
    if (rc)
        goto out;

    struct roost_http_request hr = {
        .method = roost_str_c(req->method),
        .path = roost_str_c(req->path),
        .query = roost_str_c(query),
        .version_major = 1,
        .version_minor = 1,
        .headers = hh,
        .n_headers = out->n,
        .body = {has_body ? req->body : "", has_body ? req->body_len : 0},
    };
    hr.target = hr.path;
    const char *auth = NULL;
    rc = roost_sigv4_sign(&hr, (const char *)names.data, creds->access_key_id, creds->secret,
                          region, service, amz_date, arena, &auth);
    if (rc)
        goto out;
    out->h[out->n++] = (struct cli_header){"authorization", auth};
out:
    roost_buf_cleanup(&names);
    return rc;
}

/* ---- errors -------------------------------------------------------------------- */

/* Copies [p, p+n) into out, cut at ':' (botocore ignores what follows) and
 * after the last '#' (a namespaced __type), spaces trimmed. */
static void copy_code(const char *p, size_t n, char *out, size_t cap)
{
    const char *end = p + n;
    const char *colon = memchr(p, ':', n);
    if (colon)
        end = colon;
    for (const char *q = p; q < end; q++)
        if (*q == '#')
            p = q + 1;
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    while (end > p && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
        end--;
    snprintf(out, cap, "%.*s", (int)(end - p), p);
}

/* Message text, control characters flattened so one error stays one line. */
static void copy_text(const char *p, size_t n, char *out, size_t cap)
{
    size_t j = 0;
    if (cap == 0)
        return;
    for (size_t i = 0; i < n && j + 1 < cap; i++) {
        unsigned char c = (unsigned char)p[i];
        out[j++] = (c < 0x20 || c == 0x7f) ? ' ' : (char)c;
    }
    while (j > 0 && out[j - 1] == ' ')
        j--;
    out[j] = '\0';
}

static const char *first_string(const json_t *obj, const char *const *keys)
{
    for (size_t i = 0; keys[i]; i++) {
        const json_t *v = json_object_get(obj, keys[i]);
        if (json_is_string(v) && json_string_length(v) > 0)
            return json_string_value(v);
    }
    return NULL;
}

void cli__error_parse(long status, const char *errtype_header, const char *body, size_t len,
                      char *out_type, size_t type_len, char *out_msg, size_t msg_len)
{
    static const char *const code_keys[] = {"code", "Code", "__type", NULL};
    static const char *const msg_keys[] = {"message", "Message", "errorMessage", NULL};
    json_t *root = len ? json_loadb(body, len, 0, NULL) : NULL;
    out_type[0] = '\0';
    out_msg[0] = '\0';

    if (errtype_header && errtype_header[0])
        copy_code(errtype_header, strlen(errtype_header), out_type, type_len);
    if (!out_type[0] && json_is_object(root)) {
        const char *c = first_string(root, code_keys);
        if (c)
            copy_code(c, strlen(c), out_type, type_len);
    }
    if (!out_type[0])
        snprintf(out_type, type_len, "HTTP%ld", status);

    const char *m = json_is_object(root) ? first_string(root, msg_keys) : NULL;
    if (m)
        copy_text(m, strlen(m), out_msg, msg_len);
    else if (!root && len)
        copy_text(body, len, out_msg, msg_len);
    if (!out_msg[0])
        snprintf(out_msg, msg_len, "HTTP status %ld", status);
    json_decref(root);
}
