/*
 * sigv4.c - AWS Signature Version 4, server side: checks that a parsed
 * request was signed with the secret of a known access key, for the
 * control plane (`iot`), the data plane (`iotdata`, `iotdevicegateway`), the
 * jobs data plane (`iot-jobs-data`) and MQTT over WebSocket (presigned
 * query, `iotdevicegateway`). A signer shares the canonicalisation, for
 * Roost's own clients and for tests.
 *
 * Pure: the clock comes in as a parameter and secrets through a callback.
 * The signature comparison is constant-time and secrets and derived keys are
 * wiped after use. What the canonical request looks like, and which client
 * does what, is in docs/internals/SIGV4.md; in short: the raw path is
 * normalised like botocore does and percent-encoded once more, the query is
 * decoded and re-encoded, and only the headers the client listed are signed.
 */
#include "api.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#define ALGORITHM "AWS4-HMAC-SHA256"
#define TERMINATOR "aws4_request"
#define UNSIGNED_PAYLOAD "UNSIGNED-PAYLOAD"
#define MAX_EXPIRES 604800 /* seven days, as AWS */

static const char ERR_MISSING[] = "MissingAuthenticationTokenException";
static const char ERR_INCOMPLETE[] = "IncompleteSignatureException";
static const char ERR_INVALID[] = "InvalidSignatureException";
static const char ERR_UNRECOGNIZED[] = "UnrecognizedClientException";
static const char ERR_INTERNAL[] = "InternalFailure";
static const char MSG_MISMATCH[] =
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. Consult the service "
    "documentation for details.";

static int deny(struct roost_sigv4_result *out, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int deny(struct roost_sigv4_result *out, int status, const char *code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out->message, sizeof(out->message), fmt, ap);
    va_end(ap);
    out->status = status;
    out->error_code = code;
    return ROOST_EAUTH;
}

/* ==== Small string helpers ================================================ */

static bool str_eq_c(struct roost_str s, const char *c)
{
    return roost_str_eq_c(s, c);
}

static bool str_ieq_c(struct roost_str s, const char *c)
{
    size_t n = strlen(c);
    return s.n == n && strncasecmp(s.p, c, n) == 0;
}

static bool str_ieq(struct roost_str a, struct roost_str b)
{
    return a.n == b.n && strncasecmp(a.p, b.p, a.n) == 0;
}

/* Splits off the part of *s before `sep` (or all of it) and advances *s past
 * the separator. Returns false when *s was already exhausted. */
static bool split_next(struct roost_str *s, char sep, struct roost_str *out_piece, bool *more)
{
    if (!*more)
        return false;
    const char *end = memchr(s->p, sep, s->n);
    if (!end) {
        *out_piece = *s;
        *more = false;
        s->p += s->n;
        s->n = 0;
        return true;
    }
    *out_piece = (struct roost_str){s->p, (size_t)(end - s->p)};
    s->n -= (size_t)(end - s->p) + 1;
    s->p = end + 1;
    return true;
}

static struct roost_str trim_spaces(struct roost_str s)
{
    while (s.n && (s.p[0] == ' ' || s.p[0] == '\t')) {
        s.p++;
        s.n--;
    }
    while (s.n && (s.p[s.n - 1] == ' ' || s.p[s.n - 1] == '\t'))
        s.n--;
    return s;
}

static const char *cstr(struct roost_arena *a, struct roost_str s)
{
    return roost_arena_strndup(a, s.p, s.n);
}

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

/* Percent-decoding that never fails: a '%' without two hex digits stays a
 * '%'. Signature canonicalisation must not reject what a client may send. */
static struct roost_str lenient_decode(struct roost_str in, struct roost_arena *a)
{
    char *d = roost_arena_alloc(a, in.n + 1);
    size_t o = 0;
    for (size_t i = 0; i < in.n; i++) {
        if (in.p[i] == '%' && i + 2 < in.n && hexval(in.p[i + 1]) >= 0 &&
            hexval(in.p[i + 2]) >= 0) {
            d[o++] = (char)(hexval(in.p[i + 1]) << 4 | hexval(in.p[i + 2]));
            i += 2;
        } else {
            d[o++] = in.p[i];
        }
    }
    d[o] = '\0';
    return (struct roost_str){d, o};
}

/* ==== Canonical request =================================================== */

static bool unreserved(uint8_t c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.' || c == '~';
}

/* URI-encodes bytes with AWS's unreserved set; uppercase hex. */
static int append_uri_encoded(struct roost_buf *b, const char *p, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    if (n == 0)
        return 0;
    int rc = roost_buf_reserve(b, n * 3);
    if (rc)
        return rc;
    uint8_t *o = b->data + b->len;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = (uint8_t)p[i];
        if (unreserved(c)) {
            *o++ = c;
        } else {
            *o++ = '%';
            *o++ = (uint8_t)hex[c >> 4];
            *o++ = (uint8_t)hex[c & 15];
        }
    }
    b->len = (size_t)(o - b->data);
    return 0;
}

static int append(struct roost_buf *b, const char *s)
{
    return roost_buf_append(b, s, strlen(s));
}

static int append_s(struct roost_buf *b, struct roost_str s)
{
    return roost_buf_append(b, s.p, s.n);
}

/* The canonical URI: the path exactly as received, with dot segments and
 * empty segments removed (botocore's remove_dot_segments, also done by the
 * JS v3 signer) and then every byte but '/' and the unreserved set
 * percent-encoded. A client percent-encodes its labels once and the signer
 * encodes the result again, so "%2F" in the request is "%252F" here. */
static int append_canonical_uri(struct roost_buf *b, struct roost_str path, struct roost_arena *a)
{
    if (path.n == 0)
        return append(b, "/");
    size_t max_segs = 1;
    for (size_t i = 0; i < path.n; i++)
        max_segs += path.p[i] == '/';
    struct roost_str *segs = roost_arena_alloc(a, max_segs * sizeof(*segs));
    size_t n = 0;
    struct roost_str rest = path, seg;
    bool more = true;
    while (split_next(&rest, '/', &seg, &more)) {
        if (seg.n == 0 || str_eq_c(seg, "."))
            continue;
        if (str_eq_c(seg, "..")) {
            if (n)
                n--;
            continue;
        }
        segs[n++] = seg;
    }
    int rc = 0;
    if (path.p[0] == '/')
        rc = append(b, "/");
    for (size_t i = 0; !rc && i < n; i++) {
        if (i)
            rc = append(b, "/");
        if (!rc)
            rc = append_uri_encoded(b, segs[i].p, segs[i].n);
    }
    if (!rc && n && path.p[path.n - 1] == '/')
        rc = append(b, "/");
    return rc;
}

struct qpair {
    struct roost_str key; /* canonical (decoded, re-encoded) */
    struct roost_str value;
};

static int qpair_cmp(const void *x, const void *y)
{
    const struct qpair *a = x, *b = y;
    size_t n = a->key.n < b->key.n ? a->key.n : b->key.n;
    int c = n ? memcmp(a->key.p, b->key.p, n) : 0;
    if (c || a->key.n != b->key.n)
        return c ? c : (a->key.n < b->key.n ? -1 : 1);
    n = a->value.n < b->value.n ? a->value.n : b->value.n;
    c = n ? memcmp(a->value.p, b->value.p, n) : 0;
    if (c || a->value.n != b->value.n)
        return c ? c : (a->value.n < b->value.n ? -1 : 1);
    return 0;
}

static struct roost_str canonical_component(struct roost_str raw, struct roost_arena *a)
{
    struct roost_str dec = lenient_decode(raw, a);
    struct roost_buf tmp;
    roost_buf_init(&tmp, 0);
    struct roost_str res = {"", 0};
    if (append_uri_encoded(&tmp, dec.p, dec.n) == 0 && tmp.len)
        res = (struct roost_str){roost_arena_strndup(a, (const char *)tmp.data, tmp.len), tmp.len};
    roost_buf_cleanup(&tmp);
    return res;
}

/* The canonical query string: every parameter decoded and re-encoded with
 * the unreserved set, a key without '=' given an empty value, sorted by key
 * and then value. The presigned form leaves out X-Amz-Signature, and
 * X-Amz-Security-Token unless `with_token` (IoT's WebSocket signers append
 * the token after signing; generic presigners such as botocore's sign it). */
static int append_canonical_query(struct roost_buf *b, struct roost_str query, bool presigned,
                                  bool with_token, struct roost_arena *a)
{
    size_t max = 1;
    for (size_t i = 0; i < query.n; i++)
        max += query.p[i] == '&';
    struct qpair *pairs = roost_arena_alloc(a, max * sizeof(*pairs));
    size_t n = 0;
    struct roost_str rest = query, piece;
    bool more = query.n > 0;
    while (split_next(&rest, '&', &piece, &more)) {
        if (piece.n == 0)
            continue;
        const char *eq = memchr(piece.p, '=', piece.n);
        struct roost_str k = {piece.p, eq ? (size_t)(eq - piece.p) : piece.n};
        struct roost_str v =
            eq ? (struct roost_str){eq + 1, piece.n - k.n - 1} : (struct roost_str){"", 0};
        struct qpair pr = {canonical_component(k, a), canonical_component(v, a)};
        if (presigned && str_eq_c(pr.key, "X-Amz-Signature"))
            continue;
        if (presigned && !with_token && str_eq_c(pr.key, "X-Amz-Security-Token"))
            continue;
        pairs[n++] = pr;
    }
    qsort(pairs, n, sizeof(*pairs), qpair_cmp);
    int rc = 0;
    for (size_t i = 0; !rc && i < n; i++) {
        if (i)
            rc = append(b, "&");
        if (!rc)
            rc = append_s(b, pairs[i].key);
        if (!rc)
            rc = append(b, "=");
        if (!rc)
            rc = append_s(b, pairs[i].value);
    }
    return rc;
}

/* Appends a header value with the ends trimmed and inner runs of spaces and
 * tabs collapsed to one space (the spec's Trimall, botocore's split/join). */
static int append_trimall(struct roost_buf *b, struct roost_str v)
{
    v = trim_spaces(v);
    int rc = roost_buf_reserve(b, v.n);
    if (rc)
        return rc;
    bool in_space = false;
    for (size_t i = 0; i < v.n; i++) {
        char ch = v.p[i];
        if (ch == ' ' || ch == '\t') {
            in_space = true;
            continue;
        }
        if (in_space)
            b->data[b->len++] = ' ';
        in_space = false;
        b->data[b->len++] = (uint8_t)ch;
    }
    return 0;
}

/* "name:v1,v2\n" for each name in SignedHeaders, in the listed order (which
 * a conforming client has sorted). */
static int append_canonical_headers(struct roost_buf *b, const struct roost_http_request *req,
                                    struct roost_str signed_headers)
{
    struct roost_str rest = signed_headers, name;
    bool more = true;
    int rc = 0;
    while (!rc && split_next(&rest, ';', &name, &more)) {
        size_t start = b->len;
        rc = append_s(b, name);
        for (size_t i = start; !rc && i < b->len; i++)
            if (b->data[i] >= 'A' && b->data[i] <= 'Z')
                b->data[i] = (uint8_t)(b->data[i] + 32);
        if (!rc)
            rc = append(b, ":");
        bool first = true;
        for (size_t i = 0; !rc && i < req->n_headers; i++) {
            if (!str_ieq(req->headers[i].name, name))
                continue;
            if (!first)
                rc = append(b, ",");
            if (!rc)
                rc = append_trimall(b, req->headers[i].value);
            first = false;
        }
        if (!rc)
            rc = append(b, "\n");
    }
    return rc;
}

struct scope {
    struct roost_str date; /* YYYYMMDD */
    struct roost_str region;
    struct roost_str service;
};

/* Builds the string to sign:
 *   AWS4-HMAC-SHA256 \n amz_date \n date/region/service/aws4_request \n
 *   hex(sha256(canonical request)). */
static int string_to_sign(const struct roost_http_request *req, struct roost_str signed_headers,
                          bool presigned, bool with_token, const char *payload_hash,
                          struct roost_str amz_date, const struct scope *sc, struct roost_arena *a,
                          struct roost_buf *sts)
{
    struct roost_buf cr;
    roost_buf_init(&cr, 0);
    int rc = append_s(&cr, req->method);
    if (!rc)
        rc = append(&cr, "\n");
    if (!rc)
        rc = append_canonical_uri(&cr, req->path, a);
    if (!rc)
        rc = append(&cr, "\n");
    if (!rc)
        rc = append_canonical_query(&cr, req->query, presigned, with_token, a);
    if (!rc)
        rc = append(&cr, "\n");
    if (!rc)
        rc = append_canonical_headers(&cr, req, signed_headers);
    if (!rc)
        rc = append(&cr, "\n");
    if (!rc)
        rc = append_s(&cr, signed_headers);
    if (!rc)
        rc = append(&cr, "\n");
    if (!rc)
        rc = append(&cr, payload_hash);
    uint8_t md[SHA256_DIGEST_LENGTH];
    char hex[2 * SHA256_DIGEST_LENGTH + 1];
    if (!rc) {
        SHA256(cr.data, cr.len, md);
        roost_hex_encode(md, sizeof(md), hex);
        roost_buf_clear(sts);
        rc = append(sts, ALGORITHM "\n");
    }
    if (!rc)
        rc = append_s(sts, amz_date);
    if (!rc)
        rc = append(sts, "\n");
    if (!rc)
        rc = append_s(sts, sc->date);
    if (!rc)
        rc = append(sts, "/");
    if (!rc)
        rc = append_s(sts, sc->region);
    if (!rc)
        rc = append(sts, "/");
    if (!rc)
        rc = append_s(sts, sc->service);
    if (!rc)
        rc = append(sts, "/" TERMINATOR "\n");
    if (!rc)
        rc = append(sts, hex);
    roost_buf_cleanup(&cr);
    return rc;
}

static bool hmac(const void *key, size_t key_len, const void *data, size_t n,
                 uint8_t out[SHA256_DIGEST_LENGTH])
{
    unsigned int len = 0;
    return HMAC(EVP_sha256(), key, (int)key_len, data, n, out, &len) && len == SHA256_DIGEST_LENGTH;
}

/* kDate = HMAC("AWS4" + secret, date), kRegion, kService, kSigning =
 * HMAC(kService, "aws4_request"); signature = hex(HMAC(kSigning, sts)). */
static int compute_signature(const char *secret, const struct scope *sc,
                             const struct roost_buf *sts, char out_hex[65])
{
    char ksecret[4 + ROOST_SIGV4_SECRET_MAX + 1];
    size_t slen = strlen(secret);
    if (slen > ROOST_SIGV4_SECRET_MAX)
        return ROOST_EINVAL;
    memcpy(ksecret, "AWS4", 4);
    memcpy(ksecret + 4, secret, slen);
    uint8_t k1[SHA256_DIGEST_LENGTH], k2[SHA256_DIGEST_LENGTH], sig[SHA256_DIGEST_LENGTH];
    bool ok = hmac(ksecret, 4 + slen, sc->date.p, sc->date.n, k1) &&
              hmac(k1, sizeof(k1), sc->region.p, sc->region.n, k2) &&
              hmac(k2, sizeof(k2), sc->service.p, sc->service.n, k1) &&
              hmac(k1, sizeof(k1), TERMINATOR, strlen(TERMINATOR), k2) &&
              hmac(k2, sizeof(k2), sts->data, sts->len, sig);
    OPENSSL_cleanse(ksecret, sizeof(ksecret));
    OPENSSL_cleanse(k1, sizeof(k1));
    OPENSSL_cleanse(k2, sizeof(k2));
    if (!ok)
        return ROOST_ENOMEM;
    roost_hex_encode(sig, sizeof(sig), out_hex);
    return 0;
}

static void sha256_hex(const void *p, size_t n, char out[65])
{
    uint8_t md[SHA256_DIGEST_LENGTH];
    SHA256(p ? p : "", n, md);
    roost_hex_encode(md, sizeof(md), out);
}

/* ==== Dates =============================================================== */

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static bool num(const char *p, size_t n, unsigned lo, unsigned hi, unsigned *out)
{
    unsigned v = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        v = v * 10 + (unsigned)(p[i] - '0');
    }
    *out = v;
    return v >= lo && v <= hi;
}

/* "YYYYMMDDTHHMMSSZ" (ISO 8601 basic, UTC) to Unix seconds. */
static bool parse_amz_date(struct roost_str s, int64_t *out)
{
    unsigned y, mo, d, h, mi, se;
    if (s.n != 16 || s.p[8] != 'T' || s.p[15] != 'Z' || !num(s.p, 4, 1970, 9999, &y) ||
        !num(s.p + 4, 2, 1, 12, &mo) || !num(s.p + 6, 2, 1, 31, &d) ||
        !num(s.p + 9, 2, 0, 23, &h) || !num(s.p + 11, 2, 0, 59, &mi) ||
        !num(s.p + 13, 2, 0, 60, &se))
        return false;
    static const unsigned mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (d > mdays[mo - 1] || (mo == 2 && d == 29 && !leap))
        return false;
    *out = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se;
    return true;
}

static void format_amz_date(int64_t t, char out[17])
{
    char http[ROOST_HTTP_DATE_LEN + 1];
    roost_http_date_format(t, http); /* "Sun, 06 Nov 1994 08:49:37 GMT" */
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    int mon = 1;
    for (int i = 0; i < 12; i++)
        if (memcmp(months + 3 * i, http + 8, 3) == 0)
            mon = i + 1;
    memcpy(out, http + 12, 4);
    out[4] = (char)('0' + mon / 10);
    out[5] = (char)('0' + mon % 10);
    memcpy(out + 6, http + 5, 2);
    out[8] = 'T';
    memcpy(out + 9, http + 17, 2);
    memcpy(out + 11, http + 20, 2);
    memcpy(out + 13, http + 23, 2);
    out[15] = 'Z';
    out[16] = '\0';
}

/* ==== Verification ======================================================== */

/* What the request says about its signature, whichever form it used. */
struct sig_claim {
    bool presigned;
    struct roost_str credential; /* AKID/date/region/service/aws4_request */
    struct roost_str signed_headers;
    struct roost_str signature;
    struct roost_str amz_date; /* ISO 8601 basic */
    const char *date_source;   /* for messages: "x-amz-date", "date" */
    struct roost_str expires;  /* presigned only; may be empty */
    struct roost_str token;    /* may be empty */
    bool has_expires;
};

/* Finds the first query parameter whose raw key is `key` and decodes its
 * value. Parameter names are plain ASCII, never encoded by clients. */
static bool query_param(struct roost_str query, const char *key, struct roost_arena *a,
                        struct roost_str *out)
{
    struct roost_str rest = query, piece;
    bool more = query.n > 0;
    size_t klen = strlen(key);
    while (split_next(&rest, '&', &piece, &more)) {
        if (piece.n > klen && piece.p[klen] == '=' && memcmp(piece.p, key, klen) == 0) {
            *out = lenient_decode((struct roost_str){piece.p + klen + 1, piece.n - klen - 1}, a);
            return true;
        }
        if (piece.n == klen && memcmp(piece.p, key, klen) == 0) {
            *out = (struct roost_str){"", 0};
            return true;
        }
    }
    return false;
}

/* The only header called `name`, or NULL; *dup set when there are several. */
static const struct roost_str *single_header(const struct roost_http_request *req, const char *name,
                                             bool *dup)
{
    const struct roost_str *found = NULL;
    *dup = false;
    for (size_t i = 0; i < req->n_headers; i++) {
        if (!str_ieq_c(req->headers[i].name, name))
            continue;
        if (found)
            *dup = true;
        else
            found = &req->headers[i].value;
    }
    return found;
}

/* The header form: "AWS4-HMAC-SHA256 Credential=..., SignedHeaders=...,
 * Signature=...", with AWS's complaints when a part is missing. */
static int claim_from_header(const struct roost_http_request *req, struct roost_str auth,
                             struct roost_arena *a, struct sig_claim *cl,
                             struct roost_sigv4_result *out)
{
    const char *auth_c = cstr(a, auth);
    struct roost_str rest = trim_spaces(auth), scheme = rest;
    const char *sp = memchr(rest.p, ' ', rest.n);
    if (sp) {
        scheme = (struct roost_str){rest.p, (size_t)(sp - rest.p)};
        rest = (struct roost_str){sp + 1, rest.n - scheme.n - 1};
    } else {
        rest = (struct roost_str){"", 0};
    }
    bool aws4 = str_eq_c(scheme, ALGORITHM);
    if (!aws4 && scheme.n > 5 && memcmp(scheme.p, "AWS4-", 5) == 0)
        return deny(out, 400, ERR_INCOMPLETE, "Unsupported AWS 'algorithm': '%s'.",
                    cstr(a, scheme));
    if (aws4) {
        /* Parameters are separated by commas and/or whitespace, as AWS reads
         * them ("Credential=AKID /2015..." is two tokens, one without '='). */
        size_t i = 0;
        while (i < rest.n) {
            while (i < rest.n && (rest.p[i] == ',' || rest.p[i] == ' ' || rest.p[i] == '\t'))
                i++;
            size_t start = i;
            while (i < rest.n && rest.p[i] != ',' && rest.p[i] != ' ' && rest.p[i] != '\t')
                i++;
            struct roost_str piece = {rest.p + start, i - start};
            if (piece.n == 0)
                continue;
            const char *eq = memchr(piece.p, '=', piece.n);
            if (!eq)
                return deny(out, 400, ERR_INCOMPLETE,
                            "'%s' not a valid key=value pair (missing equal-sign) in "
                            "Authorization header: '%s'.",
                            cstr(a, piece), auth_c);
            struct roost_str k = {piece.p, (size_t)(eq - piece.p)};
            struct roost_str v = {eq + 1, piece.n - k.n - 1};
            if (str_eq_c(k, "Credential") && !cl->credential.p)
                cl->credential = v;
            else if (str_eq_c(k, "SignedHeaders") && !cl->signed_headers.p)
                cl->signed_headers = v;
            else if (str_eq_c(k, "Signature") && !cl->signature.p)
                cl->signature = v;
        }
    }

    bool dup = false;
    const struct roost_str *xdate = single_header(req, "x-amz-date", &dup);
    const struct roost_str *date = xdate ? NULL : single_header(req, "date", &dup);
    if (!cl->credential.p || !cl->signed_headers.p || !cl->signature.p || (!xdate && !date))
        return deny(
            out, 400, ERR_INCOMPLETE, "%s%s%s%sAuthorization=%s",
            cl->credential.p ? "" : "Authorization header requires 'Credential' parameter. ",
            cl->signature.p ? "" : "Authorization header requires 'Signature' parameter. ",
            cl->signed_headers.p ? "" : "Authorization header requires 'SignedHeaders' parameter. ",
            xdate || date ? ""
                          : "Authorization header requires existence of either a "
                            "'X-Amz-Date' or a 'Date' header. ",
            auth_c);
    if (xdate) {
        cl->amz_date = *xdate;
        cl->date_source = "x-amz-date";
    } else {
        /* The Date header may be an HTTP date; the string to sign always
         * carries the ISO 8601 basic form. */
        int64_t t;
        cl->date_source = "date";
        cl->amz_date = *date;
        if (roost_http_date_parse(*date, &t) == 0) {
            char *iso = roost_arena_alloc(a, 17);
            format_amz_date(t, iso);
            cl->amz_date = (struct roost_str){iso, 16};
        }
    }
    const struct roost_str *tok = single_header(req, "x-amz-security-token", &dup);
    if (tok)
        cl->token = *tok;
    return 0;
}

/* The presigned form: everything in the query string. */
static int claim_from_query(const struct roost_http_request *req, struct roost_arena *a,
                            struct sig_claim *cl, struct roost_sigv4_result *out)
{
    struct roost_str alg = {0};
    cl->presigned = true;
    bool has_alg = query_param(req->query, "X-Amz-Algorithm", a, &alg);
    bool has_cred = query_param(req->query, "X-Amz-Credential", a, &cl->credential);
    bool has_sh = query_param(req->query, "X-Amz-SignedHeaders", a, &cl->signed_headers);
    bool has_sig = query_param(req->query, "X-Amz-Signature", a, &cl->signature);
    bool has_date = query_param(req->query, "X-Amz-Date", a, &cl->amz_date);
    cl->has_expires = query_param(req->query, "X-Amz-Expires", a, &cl->expires);
    query_param(req->query, "X-Amz-Security-Token", a, &cl->token);
    cl->date_source = "x-amz-date";
    if (!has_alg || !has_cred || !has_sh || !has_sig || !has_date)
        return deny(out, 400, ERR_INCOMPLETE, "%s%s%s%s%sRe-examine the query-string parameters.",
                    has_alg ? "" : "AWS query-string parameters must include 'X-Amz-Algorithm'. ",
                    has_cred ? "" : "AWS query-string parameters must include 'X-Amz-Credential'. ",
                    has_sh ? ""
                           : "AWS query-string parameters must include 'X-Amz-SignedHeaders'. ",
                    has_sig ? "" : "AWS query-string parameters must include 'X-Amz-Signature'. ",
                    has_date ? "" : "AWS query-string parameters must include 'X-Amz-Date'. ");
    if (!str_eq_c(alg, ALGORITHM))
        return deny(out, 400, ERR_INCOMPLETE, "Unsupported AWS 'algorithm': '%s'.", cstr(a, alg));
    return 0;
}

static bool region_ok(struct roost_str r)
{
    if (r.n == 0 || r.n >= sizeof(((struct roost_sigv4_result *)0)->region))
        return false;
    for (size_t i = 0; i < r.n; i++) {
        char ch = r.p[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-'))
            return false;
    }
    return true;
}

static bool akid_ok(struct roost_str k)
{
    if (k.n == 0 || k.n > ROOST_SIGV4_AKID_MAX)
        return false;
    for (size_t i = 0; i < k.n; i++)
        if ((uint8_t)k.p[i] <= ' ' || (uint8_t)k.p[i] >= 0x7f)
            return false;
    return true;
}

static bool is_hex64(struct roost_str s)
{
    if (s.n != 64)
        return false;
    for (size_t i = 0; i < 64; i++)
        if (hexval(s.p[i]) < 0)
            return false;
    return true;
}

/* Verifies a request's SigV4 signature (api.h). The checks run cheapest and
 * secret-free first (form, scope, time, host), so a stale or malformed
 * request never costs a secret lookup; only then is the signature computed
 * and compared in constant time. */
int roost_sigv4_verify(const struct roost_http_request *req, const struct roost_sigv4_params *p,
                       struct roost_arena *scratch, struct roost_sigv4_result *out)
{
    memset(out, 0, sizeof(*out));
    if (!req || !p || !p->services || !p->services[0] || !p->secret_fn || !scratch)
        return ROOST_EINVAL;
    struct roost_arena *a = scratch;
    char secret[ROOST_SIGV4_SECRET_MAX + 1] = {0};
    struct roost_buf sts;
    roost_buf_init(&sts, 0);
    int rc;

    /* 1. Which form, and what it claims. */
    struct sig_claim cl = {0};
    bool dup = false;
    const struct roost_str *auth = single_header(req, "authorization", &dup);
    struct roost_str ignored;
    bool has_query_alg = query_param(req->query, "X-Amz-Algorithm", a, &ignored);
    if (dup) {
        rc = deny(out, 400, ERR_INCOMPLETE, "Only one Authorization header is allowed.");
        goto out;
    }
    if (auth && has_query_alg) {
        rc = deny(out, 400, ERR_INCOMPLETE,
                  "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter "
                  "or the Authorization header should be specified");
        goto out;
    }
    if (auth)
        rc = claim_from_header(req, *auth, a, &cl, out);
    else if (has_query_alg)
        rc = claim_from_query(req, a, &cl, out);
    else
        rc = deny(out, 403, ERR_MISSING, "Missing Authentication Token");
    if (rc)
        goto out;
    out->presigned = cl.presigned;
    out->session_token = cl.token;

    /* 2. The credential scope: AKID/YYYYMMDD/region/service/aws4_request. */
    struct roost_str parts[5], rest = cl.credential, piece;
    size_t n_parts = 0;
    bool more = true;
    while (split_next(&rest, '/', &piece, &more)) {
        if (n_parts == 5) {
            n_parts = 6;
            break;
        }
        parts[n_parts++] = piece;
    }
    if (n_parts != 5 || !akid_ok(parts[0])) {
        rc = deny(out, 400, ERR_INCOMPLETE,
                  "Credential must have exactly 5 slash-delimited elements, e.g. "
                  "keyid/date/region/service/term, got '%s'",
                  cstr(a, cl.credential));
        goto out;
    }
    struct scope sc = {parts[1], parts[2], parts[3]};
    if (!str_eq_c(parts[4], TERMINATOR)) {
        rc = deny(out, 403, ERR_INVALID,
                  "Credential should be scoped with a valid terminator: 'aws4_request', not '%s'. ",
                  cstr(a, parts[4]));
        goto out;
    }
    if (!region_ok(sc.region)) {
        rc = deny(out, 403, ERR_INVALID, "Credential should be scoped to a valid region. ");
        goto out;
    }
    bool service_ok = false;
    for (size_t i = 0; p->services[i]; i++)
        if (str_eq_c(sc.service, p->services[i]) && sc.service.n < sizeof(out->service))
            service_ok = true;
    if (!service_ok) {
        rc = deny(out, 403, ERR_INVALID, "Credential should be scoped to correct service: '%s'. ",
                  p->services[0]);
        goto out;
    }

    /* 3. The time: well-formed, the scope's day, and within the skew (or,
     *    presigned with X-Amz-Expires, not past its expiry). */
    int64_t t = 0;
    if (!parse_amz_date(cl.amz_date, &t)) {
        rc = deny(out, 400, ERR_INCOMPLETE,
                  "Date must be in ISO-8601 'basic format'. Got '%s'. See "
                  "http://en.wikipedia.org/wiki/ISO_8601",
                  cstr(a, cl.amz_date));
        goto out;
    }
    if (sc.date.n != 8 || memcmp(sc.date.p, cl.amz_date.p, 8) != 0) {
        rc = deny(out, 403, ERR_INVALID,
                  "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of "
                  "date from HTTP: '%s' != '%.8s', from '%s'.",
                  cstr(a, sc.date), cl.amz_date.p, cl.date_source);
        goto out;
    }
    int64_t skew = p->max_skew > 0 ? p->max_skew : ROOST_SIGV4_MAX_SKEW_DEFAULT;
    char d_req[17], d_lim[17], d_now[17];
    format_amz_date(t, d_req);
    format_amz_date(p->now, d_now);
    if (t > p->now + skew) {
        format_amz_date(p->now + skew, d_lim);
        rc = deny(out, 403, ERR_INVALID,
                  "Signature not yet current: %s is still later than %s (%s + %lld min.)", d_req,
                  d_lim, d_now, (long long)(skew / 60));
        goto out;
    }
    if (cl.has_expires) {
        uint64_t exp = 0;
        const char *exp_c = cstr(a, cl.expires);
        if (roost_parse_u64(exp_c, 1, MAX_EXPIRES, &exp) != 0) {
            rc = deny(out, 400, ERR_INCOMPLETE,
                      "X-Amz-Expires must be a number of seconds between 1 and %d, got '%s'",
                      MAX_EXPIRES, exp_c);
            goto out;
        }
        if (p->now > t + (int64_t)exp) {
            rc = deny(out, 403, ERR_INVALID, "Request has expired");
            goto out;
        }
    } else if (t < p->now - skew) {
        format_amz_date(p->now - skew, d_lim);
        rc = deny(out, 403, ERR_INVALID,
                  "Signature expired: %s is now earlier than %s (%s - %lld min.)", d_req, d_lim,
                  d_now, (long long)(skew / 60));
        goto out;
    }

    /* 4. Host must be signed, or the signature could be replayed to
     *    another endpoint. */
    bool host_signed = false;
    rest = cl.signed_headers;
    more = true;
    while (split_next(&rest, ';', &piece, &more))
        if (str_ieq_c(piece, "host"))
            host_signed = true;
    if (!host_signed) {
        rc = deny(out, 403, ERR_INVALID,
                  "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.");
        goto out;
    }

    /* 5. The payload hash. x-amz-content-sha256 (the JS v3 SDK sends it) is
     *    believed only if it is the body's hash: the body is always hashed. */
    char body_hash[65];
    sha256_hex(req->body.p, req->body.n, body_hash);
    const char *payload_hash = body_hash;
    const struct roost_str *xsha = single_header(req, "x-amz-content-sha256", &dup);
    if (xsha && is_hex64(*xsha) && !cl.presigned) {
        if (strncasecmp(xsha->p, body_hash, 64) != 0) {
            rc = deny(out, 400, ERR_INVALID,
                      "The provided 'x-amz-content-sha256' header does not match what was "
                      "computed.");
            goto out;
        }
        payload_hash = cstr(a, *xsha); /* as signed, whatever the hex case */
    }

    /* 6. The secret. */
    const char *akid = cstr(a, parts[0]);
    const char *token = cl.token.n ? cstr(a, cl.token) : NULL;
    rc = p->secret_fn(p->secret_ud, akid, token, secret);
    secret[ROOST_SIGV4_SECRET_MAX] = '\0';
    if (rc == ROOST_ENOTFOUND) {
        rc = deny(out, 403, ERR_UNRECOGNIZED,
                  "The security token included in the request is invalid.");
        goto out;
    }
    if (rc) {
        deny(out, 500, ERR_INTERNAL, "Internal failure.");
        goto out;
    }

    /* 7. The signature. The presigned form has variants that clients really
     *    use: the session token in or out of the canonical query, and the
     *    payload as the empty body's hash (IoT device SDKs) or the literal
     *    UNSIGNED-PAYLOAD (generic presigners, botocore). */
    struct variant {
        bool with_token;
        const char *payload;
    } variants[4];
    size_t n_var = 0;
    variants[n_var++] = (struct variant){false, payload_hash};
    if (cl.presigned && req->body.n == 0)
        variants[n_var++] = (struct variant){false, UNSIGNED_PAYLOAD};
    if (cl.presigned && cl.token.n) {
        variants[n_var++] = (struct variant){true, payload_hash};
        if (req->body.n == 0)
            variants[n_var++] = (struct variant){true, UNSIGNED_PAYLOAD};
    }
    bool match = false;
    for (size_t i = 0; i < n_var && !match; i++) {
        char expect[65];
        rc = string_to_sign(req, cl.signed_headers, cl.presigned, variants[i].with_token,
                            variants[i].payload, cl.amz_date, &sc, a, &sts);
        if (!rc)
            rc = compute_signature(secret, &sc, &sts, expect);
        if (rc) {
            deny(out, 500, ERR_INTERNAL, "Internal failure.");
            goto out;
        }
        match = cl.signature.n == 64 && CRYPTO_memcmp(expect, cl.signature.p, 64) == 0;
    }
    if (!match) {
        rc = deny(out, 403, ERR_INVALID, "%s", MSG_MISMATCH);
        goto out;
    }

    memcpy(out->access_key_id, parts[0].p, parts[0].n);
    out->access_key_id[parts[0].n] = '\0';
    memcpy(out->region, sc.region.p, sc.region.n);
    out->region[sc.region.n] = '\0';
    memcpy(out->service, sc.service.p, sc.service.n);
    out->service[sc.service.n] = '\0';
    out->signed_at = t;
    rc = 0;
out:
    OPENSSL_cleanse(secret, sizeof(secret));
    roost_buf_cleanup(&sts);
    return rc;
}

/* ==== Signing ============================================================= */

/* Computes the Authorization header value for req, as botocore would
 * (api.h); shares the canonicalisation with the verifier. */
int roost_sigv4_sign(const struct roost_http_request *req, const char *signed_headers,
                     const char *access_key_id, const char *secret, const char *region,
                     const char *service, const char *amz_date, struct roost_arena *scratch,
                     const char **out_authorization)
{
    int64_t t;
    struct roost_str date = roost_str_c(amz_date);
    if (!parse_amz_date(date, &t) || !access_key_id || !secret || !region || !service ||
        !signed_headers)
        return ROOST_EINVAL;
    struct scope sc = {{amz_date, 8}, roost_str_c(region), roost_str_c(service)};
    char payload[65];
    bool dup;
    const struct roost_str *xsha = single_header(req, "x-amz-content-sha256", &dup);
    if (xsha && is_hex64(*xsha)) {
        memcpy(payload, xsha->p, 64);
        payload[64] = '\0';
    } else {
        sha256_hex(req->body.p, req->body.n, payload);
    }
    struct roost_buf sts;
    roost_buf_init(&sts, 0);
    char sig[65];
    int rc = string_to_sign(req, roost_str_c(signed_headers), false, false, payload, date, &sc,
                            scratch, &sts);
    if (!rc)
        rc = compute_signature(secret, &sc, &sts, sig);
    if (!rc) {
        size_t n =
            strlen(access_key_id) + strlen(region) + strlen(service) + strlen(signed_headers) + 200;
        char *auth = roost_arena_alloc(scratch, n);
        snprintf(auth, n,
                 ALGORITHM " Credential=%s/%.8s/%s/%s/" TERMINATOR
                           ", SignedHeaders=%s, Signature=%s",
                 access_key_id, amz_date, region, service, signed_headers, sig);
        *out_authorization = auth;
    }
    roost_buf_cleanup(&sts);
    return rc;
}
