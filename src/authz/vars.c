/*
 * vars.c - policy variables and condition keys: naming them
 * (iot:Connection.Thing.Attributes[color], iot:Certificate.Subject.
 * Organization.1, ...), splitting ${...} out of policy strings, and
 * reading their values from one connection's roost_authz_ctx.
 *
 * AWS rules kept here: key names are case-insensitive (a thing
 * attribute's name is not); ".N" asks for the N+1th value of a
 * certificate attribute and ".List" for all of them (conditions only);
 * a certificate value holding a wildcard character (* $ + ? #) or longer
 * than 1024 characters is not substituted, which Roost treats as "no
 * value"; a variable that has no value makes its statement not apply,
 * unless it carries an IAM default (${key, 'default'}).
 */
#include "authz/authz_int.h"

#include <stdio.h>

/* ==== Names =============================================================== */

static const char *const dn_names[ROOST_AUTHZ_DN_COUNT] = {
    [ROOST_AUTHZ_DN_COMMON_NAME] = "CommonName",
    [ROOST_AUTHZ_DN_COUNTRY] = "Country",
    [ROOST_AUTHZ_DN_ORGANIZATION] = "Organization",
    [ROOST_AUTHZ_DN_ORGANIZATIONAL_UNIT] = "OrganizationalUnit",
    [ROOST_AUTHZ_DN_DN_QUALIFIER] = "DistinguishedNameQualifier",
    [ROOST_AUTHZ_DN_STATE] = "State",
    [ROOST_AUTHZ_DN_LOCALITY] = "Locality",
    [ROOST_AUTHZ_DN_TITLE] = "Title",
    [ROOST_AUTHZ_DN_SERIAL_NUMBER] = "SerialNumber",
    [ROOST_AUTHZ_DN_SURNAME] = "Surname",
    [ROOST_AUTHZ_DN_GIVEN_NAME] = "GivenName",
    [ROOST_AUTHZ_DN_INITIALS] = "Initials",
    [ROOST_AUTHZ_DN_PSEUDONYM] = "Pseudonym",
    [ROOST_AUTHZ_DN_GENERATION_QUALIFIER] = "GenerationQualifier",
};

static const char *const alt_names[ROOST_AUTHZ_ALT_COUNT] = {
    [ROOST_AUTHZ_ALT_RFC822_NAME] = "RFC822Name",
    [ROOST_AUTHZ_ALT_DNS_NAME] = "DNSName",
    [ROOST_AUTHZ_ALT_DIRECTORY_NAME] = "DirectoryName",
    [ROOST_AUTHZ_ALT_URI] = "UniformResourceIdentifier",
    [ROOST_AUTHZ_ALT_IP_ADDRESS] = "IPAddress",
};

int roost_authz_dn_attr_lookup(const char *name, size_t len)
{
    for (int i = 0; i < ROOST_AUTHZ_DN_COUNT; i++) {
        if (strlen(dn_names[i]) == len && memcmp(dn_names[i], name, len) == 0)
            return i;
    }
    return -1;
}

static bool ieq(const char *a, size_t an, const char *lit)
{
    size_t n = strlen(lit);
    if (an != n)
        return false;
    for (size_t i = 0; i < n; i++) {
        char x = a[i], y = lit[i];
        if (x >= 'A' && x <= 'Z')
            x = (char)(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z')
            y = (char)(y - 'A' + 'a');
        if (x != y)
            return false;
    }
    return true;
}

/* Whether s starts with lit (case-insensitive); advances *s, *n past it. */
static bool eat(const char **s, size_t *n, const char *lit)
{
    size_t ln = strlen(lit);
    if (*n < ln || !ieq(*s, ln, lit))
        return false;
    *s += ln;
    *n -= ln;
    return true;
}

/* "<Name>", "<Name>.<digits>" or "<Name>.List" for one of `names`. */
static bool attr_suffix(const char *s, size_t n, const char *const *names, int count,
                        struct authz_key *out)
{
    const char *dot = memchr(s, '.', n);
    size_t base = dot ? (size_t)(dot - s) : n;
    int found = -1;
    for (int i = 0; i < count; i++) {
        if (ieq(s, base, names[i]))
            found = i;
    }
    if (found < 0)
        return false;
    out->attr = (uint8_t)found;
    if (!dot)
        return true;
    const char *rest = dot + 1;
    size_t rn = n - base - 1;
    if (ieq(rest, rn, "List")) {
        out->list = true;
        return true;
    }
    if (rn == 0 || rn > 6)
        return false;
    uint32_t idx = 0;
    for (size_t i = 0; i < rn; i++) {
        if (rest[i] < '0' || rest[i] > '9')
            return false;
        idx = idx * 10 + (uint32_t)(rest[i] - '0');
    }
    out->index = idx;
    return true;
}

void authz__key_parse(struct roost_arena *a, const char *s, size_t n, struct authz_key *out)
{
    memset(out, 0, sizeof(*out));
    out->kind = AUTHZ_K_UNKNOWN;
    static const struct {
        const char *name;
        uint8_t kind;
    } plain[] = {
        {"iot:ClientId", AUTHZ_K_CLIENT_ID},
        {"iot:Connection.Thing.ThingName", AUTHZ_K_THING_NAME},
        {"iot:Connection.Thing.ThingTypeName", AUTHZ_K_THING_TYPE},
        {"iot:Connection.Thing.IsAttached", AUTHZ_K_THING_ATTACHED},
        {"iot:Certificate.SerialNumber", AUTHZ_K_CERT_SERIAL},
        {"iot:Certificate.Validity.NotBefore", AUTHZ_K_NOT_BEFORE},
        {"iot:Certificate.Validity.NotAfter", AUTHZ_K_NOT_AFTER},
        {"iot:Certificate.AvailableKeys", AUTHZ_K_AVAILABLE_KEYS},
        {"iot:Domain", AUTHZ_K_DOMAIN},
        {"aws:SourceIp", AUTHZ_K_SOURCE_IP},
        {"iot:ConnectAttributes", AUTHZ_K_CONNECT_ATTRS},
        {"iot:LastWillTopic", AUTHZ_K_LAST_WILL_TOPIC},
    };
    for (size_t i = 0; i < ROOST_ARRAY_LEN(plain); i++) {
        if (ieq(s, n, plain[i].name)) {
            out->kind = plain[i].kind;
            return;
        }
    }
    const char *p = s;
    size_t rest = n;
    if (eat(&p, &rest, "iot:Connection.Thing.Attributes[")) {
        if (rest >= 2 && p[rest - 1] == ']') {
            out->kind = AUTHZ_K_THING_ATTR;
            out->name = roost_arena_strndup(a, p, rest - 1);
            out->name_len = rest - 1;
        }
        return;
    }
    if (!eat(&p, &rest, "iot:Certificate."))
        return;
    struct authz_key k = *out;
    bool issuer = eat(&p, &rest, "Issuer.");
    if (!issuer && !eat(&p, &rest, "Subject."))
        return;
    if (eat(&p, &rest, "AlternativeName.")) {
        if (attr_suffix(p, rest, alt_names, ROOST_AUTHZ_ALT_COUNT, &k)) {
            k.kind = issuer ? AUTHZ_K_ISSUER_ALT : AUTHZ_K_SUBJECT_ALT;
            *out = k;
        }
        return;
    }
    if (attr_suffix(p, rest, dn_names, ROOST_AUTHZ_DN_COUNT, &k)) {
        k.kind = issuer ? AUTHZ_K_ISSUER : AUTHZ_K_SUBJECT;
        *out = k;
    }
}

bool authz__key_multi(const struct authz_key *k)
{
    return k->list || k->kind == AUTHZ_K_AVAILABLE_KEYS || k->kind == AUTHZ_K_CONNECT_ATTRS;
}

/* ==== Templates =========================================================== */

static void add_piece(struct roost_arena *a, struct authz_tmpl *t, size_t *cap,
                      const struct authz_piece *pc)
{
    if (t->n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 4;
        struct authz_piece *np = roost_arena_alloc(a, ncap * sizeof(*np));
        if (t->n)
            memcpy(np, t->pieces, t->n * sizeof(*np));
        t->pieces = np;
        *cap = ncap;
    }
    t->pieces[t->n++] = *pc;
}

static void add_text(struct roost_arena *a, struct authz_tmpl *t, size_t *cap, const char *s,
                     size_t n)
{
    if (n == 0)
        return;
    struct authz_piece pc = {.kind = AUTHZ_PIECE_TEXT, .text = s, .len = (uint32_t)n};
    add_piece(a, t, cap, &pc);
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/*
 * Reads the inside of ${...} starting at s[i] (after "${"). On success
 * fills pc and returns the index after the closing '}'; 0 when there is no
 * well-formed close, and the "${" is then plain text.
 */
static size_t read_var(struct roost_arena *a, const char *s, size_t n, size_t i,
                       struct authz_piece *pc)
{
    size_t k0 = i;
    while (i < n && s[i] != '}' && s[i] != ',' && s[i] != '\'')
        i++;
    if (i == n || s[i] == '\'')
        return 0;
    size_t k1 = i;
    while (k0 < k1 && is_space(s[k0]))
        k0++;
    while (k1 > k0 && is_space(s[k1 - 1]))
        k1--;
    memset(pc, 0, sizeof(*pc));
    if (s[i] == ',') {
        /* , 'default' with '' for a quote */
        i++;
        while (i < n && is_space(s[i]))
            i++;
        if (i == n || s[i] != '\'')
            return 0;
        i++;
        char *d = roost_arena_alloc(a, n - i + 1);
        size_t dn = 0;
        for (;;) {
            if (i == n)
                return 0;
            if (s[i] == '\'') {
                if (i + 1 < n && s[i + 1] == '\'') {
                    d[dn++] = '\'';
                    i += 2;
                    continue;
                }
                i++;
                break;
            }
            d[dn++] = s[i++];
        }
        d[dn] = '\0';
        while (i < n && is_space(s[i]))
            i++;
        if (i == n || s[i] != '}')
            return 0;
        pc->has_default = true;
        pc->text = d;
        pc->len = (uint32_t)dn;
    }
    size_t klen = k1 - k0;
    if (klen == 1 && !pc->has_default && (s[k0] == '*' || s[k0] == '?' || s[k0] == '$')) {
        pc->kind = AUTHZ_PIECE_ESC;
        pc->text = s + k0;
        pc->len = 1;
        return i + 1;
    }
    pc->kind = AUTHZ_PIECE_VAR;
    authz__key_parse(a, s + k0, klen, &pc->key);
    return i + 1;
}

void authz__tmpl_parse(struct roost_arena *a, const char *s, size_t n, bool vars,
                       struct authz_tmpl *out)
{
    memset(out, 0, sizeof(*out));
    out->src = roost_arena_strndup(a, s, n);
    out->src_len = (uint32_t)n;
    s = out->src;
    size_t cap = 0, text_start = 0, i = 0;
    while (vars && i + 1 < n) {
        if (s[i] != '$' || s[i + 1] != '{') {
            i++;
            continue;
        }
        struct authz_piece pc;
        size_t end = read_var(a, s, n, i + 2, &pc);
        if (!end) {
            i += 2;
            continue;
        }
        add_text(a, out, &cap, s + text_start, i - text_start);
        add_piece(a, out, &cap, &pc);
        if (pc.kind == AUTHZ_PIECE_VAR)
            out->has_vars = true;
        i = text_start = end;
    }
    add_text(a, out, &cap, s + text_start, n - text_start);
}

/* ==== Values ============================================================== */

/* AWS leaves a certificate variable unsubstituted when its value holds a
 * wildcard or is too long; Roost reads that as "no value". */
static bool cert_value_ok(const char *v)
{
    size_t n = 0;
    for (; v[n]; n++) {
        char c = v[n];
        if (c == '*' || c == '$' || c == '+' || c == '?' || c == '#')
            return false;
    }
    return n <= AUTHZ_VALUE_MAX;
}

static int values_of(const struct authz_key *k, const struct roost_authz_values *vs,
                     const char **vals, size_t cap)
{
    unsigned n = ROOST_MIN(vs->n, (unsigned)ROOST_AUTHZ_MULTI_MAX);
    if (k->list) {
        size_t out = 0;
        for (unsigned i = 0; i < n && out < cap; i++) {
            if (vs->v[i] && cert_value_ok(vs->v[i]))
                vals[out++] = vs->v[i];
        }
        return out ? (int)out : -1;
    }
    if (k->index >= n || !vs->v[k->index] || !cert_value_ok(vs->v[k->index]) || cap < 1)
        return -1;
    vals[0] = vs->v[k->index];
    return 1;
}

static int one(const char *v, const char **vals, size_t cap)
{
    if (!v || cap < 1)
        return -1;
    vals[0] = v;
    return 1;
}

static const char *fmt_date(struct roost_arena *a, int64_t secs)
{
    char *s = roost_arena_alloc(a, 32);
    authz__format_date(secs, s);
    return s;
}

static int available_keys(const struct roost_authz_cert *c, struct roost_arena *a,
                          const char **vals, size_t cap)
{
    size_t n = 0;
    char name[96];
#define PUT(...)                                                               \
    do {                                                                       \
        if (n < cap) {                                                         \
            int len_ = snprintf(name, sizeof(name), __VA_ARGS__);              \
            vals[n++] = roost_arena_strndup(a, name, (size_t)len_);            \
        }                                                                      \
    } while (0)
    for (int i = 0; i < ROOST_AUTHZ_DN_COUNT; i++) {
        if (c->subject[i].n)
            PUT("iot:Certificate.Subject.%s", dn_names[i]);
    }
    for (int i = 0; i < ROOST_AUTHZ_DN_COUNT; i++) {
        if (c->issuer[i].n)
            PUT("iot:Certificate.Issuer.%s", dn_names[i]);
    }
    for (int i = 0; i < ROOST_AUTHZ_ALT_COUNT; i++) {
        if (c->subject_alt[i].n)
            PUT("iot:Certificate.Subject.AlternativeName.%s", alt_names[i]);
    }
    for (int i = 0; i < ROOST_AUTHZ_ALT_COUNT; i++) {
        if (c->issuer_alt[i].n)
            PUT("iot:Certificate.Issuer.AlternativeName.%s", alt_names[i]);
    }
    if (c->serial)
        PUT("iot:Certificate.SerialNumber");
    if (c->has_validity) {
        PUT("iot:Certificate.Validity.NotBefore");
        PUT("iot:Certificate.Validity.NotAfter");
    }
#undef PUT
    return n ? (int)n : -1;
}

int authz__key_values(const struct authz_key *k, const struct authz_env *env, const char **vals,
                      size_t cap)
{
    const struct roost_authz_ctx *ctx = env->ctx;
    const struct roost_authz_cert *cert = ctx->cert;
    switch ((enum authz_key_kind)k->kind) {
    case AUTHZ_K_UNKNOWN:
        return -1;
    case AUTHZ_K_CLIENT_ID:
        return one(ctx->client_id, vals, cap);
    case AUTHZ_K_THING_NAME:
        return one(ctx->thing_name, vals, cap);
    case AUTHZ_K_THING_TYPE:
        return ctx->thing_name ? one(ctx->thing_type, vals, cap) : -1;
    case AUTHZ_K_THING_ATTACHED:
        return one(ctx->thing_name && ctx->thing_attached ? "true" : "false", vals, cap);
    case AUTHZ_K_THING_ATTR:
        if (!ctx->thing_name)
            return -1;
        for (size_t i = 0; i < ctx->n_thing_attrs; i++) {
            const struct roost_authz_attr *at = &ctx->thing_attrs[i];
            if (at->name && strlen(at->name) == k->name_len &&
                memcmp(at->name, k->name, k->name_len) == 0)
                return one(at->value, vals, cap);
        }
        return -1;
    case AUTHZ_K_SUBJECT:
        return cert ? values_of(k, &cert->subject[k->attr], vals, cap) : -1;
    case AUTHZ_K_ISSUER:
        return cert ? values_of(k, &cert->issuer[k->attr], vals, cap) : -1;
    case AUTHZ_K_SUBJECT_ALT:
        return cert ? values_of(k, &cert->subject_alt[k->attr], vals, cap) : -1;
    case AUTHZ_K_ISSUER_ALT:
        return cert ? values_of(k, &cert->issuer_alt[k->attr], vals, cap) : -1;
    case AUTHZ_K_CERT_SERIAL:
        if (!cert || !cert->serial || !cert_value_ok(cert->serial))
            return -1;
        return one(cert->serial, vals, cap);
    case AUTHZ_K_NOT_BEFORE:
    case AUTHZ_K_NOT_AFTER:
        if (!cert || !cert->has_validity || cap < 1)
            return -1;
        vals[0] = fmt_date(env->scratch, k->kind == AUTHZ_K_NOT_BEFORE ? cert->not_before
                                                                        : cert->not_after);
        return 1;
    case AUTHZ_K_AVAILABLE_KEYS:
        return cert ? available_keys(cert, env->scratch, vals, cap) : -1;
    case AUTHZ_K_DOMAIN:
        return one(ctx->domain, vals, cap);
    case AUTHZ_K_SOURCE_IP:
        return one(ctx->source_ip, vals, cap);
    case AUTHZ_K_CONNECT_ATTRS: {
        if (!ctx->has_connect_attrs)
            return -1;
        size_t n = 0;
        if ((ctx->connect_attrs & ROOST_AUTHZ_CONNECT_PERSISTENT) && n < cap)
            vals[n++] = "PersistentConnect";
        if ((ctx->connect_attrs & ROOST_AUTHZ_CONNECT_LAST_WILL) && n < cap)
            vals[n++] = "LastWill";
        return (int)n; /* present even when empty: ForAllValues [] relies on it */
    }
    case AUTHZ_K_LAST_WILL_TOPIC: {
        if (!ctx->last_will_topic || cap < 1)
            return -1;
        size_t pn = strlen(env->arn_prefix), tn = strlen(ctx->last_will_topic);
        char *arn = roost_arena_alloc(env->scratch, pn + 6 + tn + 1);
        memcpy(arn, env->arn_prefix, pn);
        memcpy(arn + pn, "topic/", 6);
        memcpy(arn + pn + 6, ctx->last_will_topic, tn + 1);
        vals[0] = arn;
        return 1;
    }
    }
    return -1;
}

/* ==== Rendering =========================================================== */

const char *authz__tmpl_render(const struct authz_tmpl *t, const struct authz_env *env,
                               bool pattern, size_t *out_len)
{
    /* Resolve first so the output can be sized exactly. */
    const char *stack_vals[16];
    const char **vals = t->n <= 16 ? stack_vals
                                   : roost_arena_alloc(env->scratch, t->n * sizeof(*vals));
    size_t total = 0;
    for (uint32_t i = 0; i < t->n; i++) {
        const struct authz_piece *pc = &t->pieces[i];
        vals[i] = NULL;
        if (pc->kind != AUTHZ_PIECE_VAR) {
            total += pc->len;
            continue;
        }
        const char *v = NULL;
        if (!authz__key_multi(&pc->key) && authz__key_values(&pc->key, env, &v, 1) == 1)
            vals[i] = v;
        else if (pc->has_default)
            vals[i] = pc->text;
        else
            return NULL;
        size_t vn = strlen(vals[i]);
        if (pattern && (memchr(vals[i], AUTHZ_STAR, vn) || memchr(vals[i], AUTHZ_QMARK, vn)))
            return NULL; /* could pose as a wildcard */
        total += vn;
    }
    char *out = roost_arena_alloc(env->scratch, total + 1);
    size_t o = 0;
    for (uint32_t i = 0; i < t->n; i++) {
        const struct authz_piece *pc = &t->pieces[i];
        if (pc->kind == AUTHZ_PIECE_TEXT) {
            for (uint32_t j = 0; j < pc->len; j++) {
                char c = pc->text[j];
                if (pattern && c == '*')
                    c = (char)AUTHZ_STAR;
                else if (pattern && c == '?')
                    c = (char)AUTHZ_QMARK;
                out[o++] = c;
            }
        } else if (pc->kind == AUTHZ_PIECE_ESC) {
            out[o++] = pc->text[0];
        } else {
            size_t vn = strlen(vals[i]);
            memcpy(out + o, vals[i], vn);
            o += vn;
        }
    }
    out[o] = '\0';
    *out_len = o;
    return out;
}
