/*
 * eval.c - compiled policy sets, their per-connection bound forms, and the
 * check that runs for every CONNECT, PUBLISH, SUBSCRIBE and delivery.
 *
 * Compile (per principal) parses every document into one arena and
 * prepares the Resource patterns that use no variable. Bind (per
 * connection) decides the Conditions, substitutes the variables, prepares
 * the remaining patterns and lays the result out in one allocation: the
 * surviving statements, and for each action the indices of its Deny
 * statements followed by its Allow statements. A check then walks one short
 * index list and runs a glob per pattern: Deny first, since any matching
 * Deny wins, then Allow; no match is an implicit deny.
 *
 * Both forms are immutable once published and carry atomic reference
 * counts; a bound form holds a reference on its policy, whose strings its
 * decisions borrow.
 */
#include "authz/authz_int.h"

#include <stdio.h>

/* ==== Compile ============================================================= */

static const char *const type_paths[ROOST_AUTHZ_RES_COUNT] = {
    [ROOST_AUTHZ_RES_CLIENT] = "client/",
    [ROOST_AUTHZ_RES_TOPIC] = "topic/",
    [ROOST_AUTHZ_RES_TOPICFILTER] = "topicfilter/",
    [ROOST_AUTHZ_RES_THING] = "thing/",
    [ROOST_AUTHZ_RES_ROLEALIAS] = "rolealias/",
    [ROOST_AUTHZ_RES_RAW] = "",
};

static bool arn_part_ok(const char *s)
{
    if (!s || !*s || strlen(s) > 64)
        return false;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c <= 0x20 || c >= 0x7F || c == ':' || c == '*' || c == '?')
            return false;
    }
    return true;
}

static void policy_free(struct roost_authz_policy *p)
{
    roost_arena_cleanup(&p->arena);
    roost_free(p);
}

/* Prepares the patterns of a statement whose Resources use no variable. */
static void prepare_static(struct roost_authz_policy *p, struct authz_stmt *st)
{
    struct authz_env env = {.scratch = &p->arena, .arn_prefix = p->arn_prefix};
    st->pats = roost_arena_alloc(&p->arena, st->n_res * sizeof(*st->pats));
    for (uint32_t i = 0; i < st->n_res; i++) {
        size_t len;
        const char *tok = authz__tmpl_render(&st->res[i], &env, true, &len);
        ROOST_ASSERT(tok != NULL); /* no variables, so nothing to resolve */
        authz__pat_prepare(&p->arena, &st->pats[i], (const uint8_t *)tok, len, p->prefixes);
    }
}

int roost_authz_compile(const struct roost_authz_doc *docs, size_t n, const char *region,
                        const char *account, struct roost_authz_policy **out, char *err,
                        size_t errcap)
{
    int rc = 0;
    struct authz_stmt **parts = NULL;
    size_t *counts = NULL;
    struct roost_authz_policy *p = NULL;
    if (err && errcap)
        err[0] = '\0';
    if (!out || (n && !docs) || !arn_part_ok(region) || !arn_part_ok(account)) {
        if (err && errcap)
            snprintf(err, errcap, "region and account must be non-empty ARN parts");
        return ROOST_EINVAL;
    }
    *out = NULL;
    p = roost_xcalloc(1, sizeof(*p));
    roost_ref_init(&p->ref);
    roost_arena_init(&p->arena, NULL, 0);
    char prefix[160];
    snprintf(prefix, sizeof(prefix), "arn:aws:iot:%s:%s:", region, account);
    p->arn_prefix = roost_arena_strndup(&p->arena, prefix, strlen(prefix));
    for (int t = 0; t < ROOST_AUTHZ_RES_COUNT; t++) {
        char full[192];
        snprintf(full, sizeof(full), "%s%s", t == ROOST_AUTHZ_RES_RAW ? "" : prefix,
                 type_paths[t]);
        p->prefixes[t] = roost_arena_strndup(&p->arena, full, strlen(full));
    }

    parts = roost_xcalloc(n ? n : 1, sizeof(*parts));
    counts = roost_xcalloc(n ? n : 1, sizeof(*counts));
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        const char *name = docs[i].name ? docs[i].name : "";
        char *pname = roost_arena_strndup(&p->arena, name, strlen(name));
        char perr[512];
        if (!docs[i].text) {
            snprintf(perr, sizeof(perr), "no document");
            rc = ROOST_EMALFORMED;
        } else {
            rc = authz__parse_doc(&p->arena, pname, docs[i].text, docs[i].len, &parts[i],
                                  &counts[i], perr, sizeof(perr));
        }
        if (rc) {
            if (err && errcap)
                snprintf(err, errcap, "Policy \"%.128s\": %s", name, perr);
            goto out;
        }
        total += counts[i];
    }
    if (total > AUTHZ_STMTS_MAX) {
        if (err && errcap)
            snprintf(err, errcap, "%zu statements in all; at most %d", total, AUTHZ_STMTS_MAX);
        rc = ROOST_ETOOBIG;
        goto out;
    }
    p->stmts = roost_arena_alloc(&p->arena, (total ? total : 1) * sizeof(*p->stmts));
    p->n = 0;
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < counts[i]; j++)
            p->stmts[p->n++] = parts[i][j];
    }
    for (size_t i = 0; i < p->n; i++) {
        if (!p->stmts[i].res_vars)
            prepare_static(p, &p->stmts[i]);
    }
    *out = p;
    p = NULL;
out:
    roost_free(parts);
    roost_free(counts);
    if (p)
        policy_free(p);
    return rc;
}

int roost_authz_validate(const char *text, size_t len, char *err, size_t errcap)
{
    struct roost_arena a;
    struct authz_stmt *st;
    size_t n;
    if (err && errcap)
        err[0] = '\0';
    if (!text)
        return ROOST_EINVAL;
    roost_arena_init(&a, NULL, 0);
    int rc = authz__parse_doc(&a, "", text, len, &st, &n, err, errcap);
    roost_arena_cleanup(&a);
    return rc;
}

struct roost_authz_policy *roost_authz_policy_ref(struct roost_authz_policy *p)
{
    if (p)
        roost_ref_get(&p->ref);
    return p;
}

void roost_authz_policy_unref(struct roost_authz_policy **pp)
{
    if (!pp || !*pp)
        return;
    struct roost_authz_policy *p = *pp;
    *pp = NULL;
    if (roost_ref_put(&p->ref))
        policy_free(p);
}

size_t roost_authz_policy_statements(const struct roost_authz_policy *p)
{
    return p ? p->n : 0;
}

/* ==== Bind ================================================================ */

struct authz_bstmt {
    const struct authz_stmt *src;
    const struct authz_pat *pats; /* the statement's own, or the bound form's */
    uint32_t n_pats;
    bool not_resource;
};

struct roost_authz_bound {
    struct roost_ref ref;
    struct roost_authz_policy *policy; /* referenced */
    size_t n;
    const struct authz_bstmt *stmts;
    const uint16_t *idx;                        /* per action: Deny, then Allow */
    uint32_t off[ROOST_AUTHZ_ACTION_COUNT + 1]; /* idx range of each action */
    uint32_t n_deny[ROOST_AUTHZ_ACTION_COUNT];
};

/* A statement kept by bind, before layout. */
struct keep {
    const struct authz_stmt *src;
    struct authz_pat *pats; /* scratch, when the Resources used variables */
};

static bool stmt_applies(const struct authz_stmt *st, const struct authz_env *env,
                         struct keep *k)
{
    if (!st->actions)
        return false; /* names only actions Roost never checks */
    for (uint32_t i = 0; i < st->n_conds; i++) {
        if (!authz__cond_eval(&st->conds[i], env))
            return false;
    }
    k->src = st;
    k->pats = NULL;
    if (!st->res_vars)
        return true;
    k->pats = roost_arena_alloc(env->scratch, st->n_res * sizeof(*k->pats));
    for (uint32_t i = 0; i < st->n_res; i++) {
        size_t len;
        const char *tok = authz__tmpl_render(&st->res[i], env, true, &len);
        if (!tok)
            return false; /* a variable this connection cannot resolve */
        authz__pat_prepare(env->scratch, &k->pats[i], (const uint8_t *)tok, len,
                           env->prefixes);
    }
    return true;
}

static size_t align8(size_t n)
{
    return (n + 7) & ~(size_t)7;
}

int roost_authz_bind(struct roost_authz_policy *p, const struct roost_authz_ctx *ctx,
                     struct roost_authz_bound **out)
{
    if (!p || !ctx || !out)
        return ROOST_EINVAL;
    uint8_t inline_buf[4096];
    struct roost_arena scratch;
    roost_arena_init(&scratch, inline_buf, sizeof(inline_buf));
    struct authz_env env = {
        .ctx = ctx, .arn_prefix = p->arn_prefix, .prefixes = p->prefixes, .scratch = &scratch};
    struct keep *keep = roost_arena_alloc(&scratch, (p->n ? p->n : 1) * sizeof(*keep));
    size_t nk = 0;
    for (size_t i = 0; i < p->n; i++) {
        if (stmt_applies(&p->stmts[i], &env, &keep[nk]))
            nk++;
    }

    /* Size the one allocation: header, statements, own patterns, their
     * start positions, the action index, pattern bytes. */
    size_t n_pats = 0, n_starts = 0, n_bytes = 0, n_idx = 0;
    for (size_t i = 0; i < nk; i++) {
        n_idx += (size_t)__builtin_popcount(keep[i].src->actions);
        if (!keep[i].pats)
            continue;
        for (uint32_t j = 0; j < keep[i].src->n_res; j++) {
            const struct authz_pat *pt = &keep[i].pats[j];
            n_pats++;
            n_bytes += pt->len;
            for (int t = 0; t < ROOST_AUTHZ_RES_COUNT; t++)
                n_starts += pt->count[t];
        }
    }
    size_t sz_head = align8(sizeof(struct roost_authz_bound));
    size_t sz_stmts = align8(nk * sizeof(struct authz_bstmt));
    size_t sz_pats = align8(n_pats * sizeof(struct authz_pat));
    size_t sz_starts = n_starts * sizeof(uint32_t);
    size_t sz_idx = n_idx * sizeof(uint16_t);
    uint8_t *mem = roost_xmalloc(sz_head + sz_stmts + sz_pats + sz_starts + sz_idx + n_bytes + 1);
    struct roost_authz_bound *b = (struct roost_authz_bound *)mem;
    struct authz_bstmt *bs = (struct authz_bstmt *)(mem + sz_head);
    struct authz_pat *pats = (struct authz_pat *)(mem + sz_head + sz_stmts);
    uint32_t *starts = (uint32_t *)(mem + sz_head + sz_stmts + sz_pats);
    uint16_t *idx = (uint16_t *)(mem + sz_head + sz_stmts + sz_pats + sz_starts);
    uint8_t *bytes = mem + sz_head + sz_stmts + sz_pats + sz_starts + sz_idx;

    memset(b, 0, sizeof(*b));
    roost_ref_init(&b->ref);
    b->policy = roost_authz_policy_ref(p);
    b->n = nk;
    b->stmts = bs;
    b->idx = idx;
    for (size_t i = 0; i < nk; i++) {
        const struct authz_stmt *st = keep[i].src;
        bs[i].src = st;
        bs[i].n_pats = st->n_res;
        bs[i].not_resource = st->not_resource;
        if (!keep[i].pats) {
            bs[i].pats = st->pats;
            continue;
        }
        bs[i].pats = pats;
        for (uint32_t j = 0; j < st->n_res; j++) {
            const struct authz_pat *src = &keep[i].pats[j];
            struct authz_pat *dst = pats++;
            *dst = *src;
            memcpy(bytes, src->tok, src->len);
            dst->tok = bytes;
            bytes += src->len;
            uint32_t cnt = 0;
            for (int t = 0; t < ROOST_AUTHZ_RES_COUNT; t++)
                cnt += src->count[t];
            memcpy(starts, src->starts, cnt * sizeof(*starts));
            dst->starts = starts;
            starts += cnt;
        }
    }
    /* The index: for each action its Deny statements, then its Allows, in
     * policy order so that a decision names the first one that matched. */
    uint32_t at = 0;
    for (int a = 0; a < ROOST_AUTHZ_ACTION_COUNT; a++) {
        b->off[a] = at;
        for (int pass = 0; pass < 2; pass++) {
            for (size_t i = 0; i < nk; i++) {
                const struct authz_stmt *st = keep[i].src;
                if ((st->actions >> a & 1u) && st->deny == (pass == 0))
                    idx[at++] = (uint16_t)i;
            }
            if (pass == 0)
                b->n_deny[a] = at - b->off[a];
        }
    }
    b->off[ROOST_AUTHZ_ACTION_COUNT] = at;
    roost_arena_cleanup(&scratch);
    *out = b;
    return 0;
}

struct roost_authz_bound *roost_authz_bound_ref(struct roost_authz_bound *b)
{
    if (b)
        roost_ref_get(&b->ref);
    return b;
}

void roost_authz_bound_unref(struct roost_authz_bound **pb)
{
    if (!pb || !*pb)
        return;
    struct roost_authz_bound *b = *pb;
    *pb = NULL;
    if (roost_ref_put(&b->ref)) {
        roost_authz_policy_unref(&b->policy);
        roost_free(b);
    }
}

size_t roost_authz_bound_statements(const struct roost_authz_bound *b)
{
    return b ? b->n : 0;
}

/* ==== Check =============================================================== */

static inline bool stmt_matches(const struct authz_bstmt *s, enum roost_authz_rtype t,
                                const char *name, size_t len)
{
    bool hit = false;
    for (uint32_t i = 0; i < s->n_pats && !hit; i++)
        hit = authz__pat_match(&s->pats[i], t, name, len);
    return hit != s->not_resource;
}

static bool decide(struct roost_authz_decision *out, const struct authz_bstmt *s,
                   enum roost_authz_effect eff)
{
    bool allowed = eff == ROOST_AUTHZ_ALLOW;
    if (out) {
        out->allowed = allowed;
        out->effect = eff;
        out->policy = s ? s->src->policy : NULL;
        out->statement = s ? s->src->index : 0;
        out->sid = s ? s->src->sid : NULL;
    }
    return allowed;
}

bool roost_authz_check(const struct roost_authz_bound *b, enum roost_authz_action action,
                       enum roost_authz_rtype type, const char *name, size_t len,
                       struct roost_authz_decision *out)
{
    if (!b || (unsigned)action >= ROOST_AUTHZ_ACTION_COUNT ||
        (unsigned)type >= ROOST_AUTHZ_RES_COUNT || (!name && len))
        return decide(out, NULL, ROOST_AUTHZ_IMPLICIT_DENY);
    if (!name)
        name = "";
    const uint16_t *ix = b->idx + b->off[action];
    uint32_t total = b->off[action + 1] - b->off[action], nd = b->n_deny[action];
    for (uint32_t i = 0; i < nd; i++) {
        const struct authz_bstmt *s = &b->stmts[ix[i]];
        if (stmt_matches(s, type, name, len))
            return decide(out, s, ROOST_AUTHZ_DENY);
    }
    for (uint32_t i = nd; i < total; i++) {
        const struct authz_bstmt *s = &b->stmts[ix[i]];
        if (stmt_matches(s, type, name, len))
            return decide(out, s, ROOST_AUTHZ_ALLOW);
    }
    return decide(out, NULL, ROOST_AUTHZ_IMPLICIT_DENY);
}

bool roost_authz_evaluate(struct roost_authz_policy *p, const struct roost_authz_ctx *ctx,
                          enum roost_authz_action action, enum roost_authz_rtype type,
                          const char *name, size_t len, struct roost_authz_decision *out)
{
    struct roost_authz_bound *b = NULL;
    if (roost_authz_bind(p, ctx, &b) != 0)
        return decide(out, NULL, ROOST_AUTHZ_IMPLICIT_DENY);
    bool ok = roost_authz_check(b, action, type, name, len, out);
    roost_authz_bound_unref(&b); /* decision strings live in p, which the caller holds */
    return ok;
}
