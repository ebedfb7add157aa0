/*
 * glob.c - IAM wildcard matching for Resource patterns, action names and
 * StringLike/ArnLike, and the one trick that keeps per-message checks
 * short: a pattern is matched against each resource type's ARN prefix
 * ("arn:aws:iot:us-east-1:123456789012:topic/") once, when it is compiled
 * or bound, leaving the set of pattern positions from which only the
 * resource name still has to match.
 *
 * Matching is the classic greedy glob with one backtrack point, which is
 * exact for patterns made of literals, `*` and `?`. `*` crosses '/', and
 * MQTT's '+' and '#' are ordinary characters. `?` is one character, not
 * one byte: positions only ever land on UTF-8 character starts.
 */
#include "authz/authz_int.h"

/* Index of the character after the one starting at i. Stray continuation
 * bytes count as characters of their own so that invalid UTF-8 still
 * moves forward. */
static inline size_t next_char(const uint8_t *s, size_t n, size_t i)
{
    i++;
    if (s[i - 1] >= 0xC0) {
        while (i < n && (s[i] & 0xC0) == 0x80)
            i++;
    }
    return i;
}

bool authz__glob(const uint8_t *p, size_t pn, const uint8_t *s, size_t sn)
{
    size_t pi = 0, si = 0;
    size_t star_p = SIZE_MAX, star_s = 0;
    while (si < sn) {
        /* Runs of literal bytes, the bulk of a per-thing pattern, in a
         * tight loop (the wildcard bytes never equal a name byte here). */
        while (pi < pn && si < sn && p[pi] == s[si] && p[pi] < AUTHZ_QMARK) {
            pi++;
            si++;
        }
        if (si == sn)
            break;
        if (pi < pn) {
            uint8_t c = p[pi];
            if (c == AUTHZ_STAR) {
                /* A trailing `*` takes whatever is left ("things/x/" then
                 * anything, or the allow-all "*"): no walk to the end. */
                size_t q = pi + 1;
                while (q < pn && p[q] == AUTHZ_STAR)
                    q++;
                if (q == pn)
                    return true;
                star_p = pi++;
                star_s = si;
                continue;
            }
            if (c == AUTHZ_QMARK) {
                pi++;
                si = next_char(s, sn, si);
                continue;
            }
            if (c == s[si]) {
                pi++;
                si++;
                continue;
            }
        }
        if (star_p == SIZE_MAX)
            return false;
        /* Let the last `*` swallow one more character and retry. */
        pi = star_p + 1;
        star_s = next_char(s, sn, star_s);
        si = star_s;
    }
    while (pi < pn && p[pi] == AUTHZ_STAR)
        pi++;
    return pi == pn;
}

static inline char fold(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

bool authz__glob_icase(const char *p, size_t pn, const char *s, size_t sn)
{
    size_t pi = 0, si = 0;
    size_t star_p = SIZE_MAX, star_s = 0;
    while (si < sn) {
        if (pi < pn) {
            if (p[pi] == '*') {
                star_p = pi++;
                star_s = si;
                continue;
            }
            if (p[pi] == '?' || fold(p[pi]) == fold(s[si])) {
                pi++;
                si++;
                continue;
            }
        }
        if (star_p == SIZE_MAX)
            return false;
        pi = star_p + 1;
        si = ++star_s;
    }
    while (pi < pn && p[pi] == '*')
        pi++;
    return pi == pn;
}

/* ==== Prefix states ====================================================== */

/*
 * Runs the pattern's automaton over an ASCII prefix. States are pattern
 * positions (0..len); a `*` at position j keeps j on any character and may
 * be skipped without one. `live` and `next` are bitmaps of len+1 bits.
 * Returns the number of states left, written to out (ascending), leaving
 * out the position after a `*` that is itself live (matching from the `*`
 * covers it).
 */
static size_t run_prefix(const uint8_t *tok, size_t len, const char *prefix, uint8_t *live,
                         uint8_t *next, uint32_t *out)
{
    size_t bytes = len / 8 + 1;
    memset(live, 0, bytes);
#define SET(bm, j) ((bm)[(j) >> 3] |= (uint8_t)(1u << ((j) & 7)))
#define HAS(bm, j) (((bm)[(j) >> 3] >> ((j) & 7)) & 1u)
    /* Start state plus its closure over leading stars. */
    for (size_t j = 0;; j++) {
        SET(live, j);
        if (j == len || tok[j] != AUTHZ_STAR)
            break;
    }
    for (const char *c = prefix; *c; c++) {
        memset(next, 0, bytes);
        bool any = false;
        for (size_t j = 0; j < len; j++) {
            if (!HAS(live, j))
                continue;
            size_t to;
            if (tok[j] == AUTHZ_STAR)
                to = j;
            else if (tok[j] == AUTHZ_QMARK || tok[j] == (uint8_t)*c)
                to = j + 1;
            else
                continue;
            for (;; to++) { /* add `to` and skip the stars after it */
                SET(next, to);
                any = true;
                if (to == len || tok[to] != AUTHZ_STAR)
                    break;
            }
        }
        if (!any)
            return 0;
        uint8_t *t = live;
        live = next;
        next = t;
    }
    size_t n = 0;
    for (size_t j = 0; j <= len; j++) {
        if (!HAS(live, j))
            continue;
        if (j > 0 && tok[j - 1] == AUTHZ_STAR && HAS(live, j - 1))
            continue;
        out[n++] = (uint32_t)j;
    }
#undef SET
#undef HAS
    return n;
}

void authz__pat_prepare(struct roost_arena *a, struct authz_pat *pat, const uint8_t *tok,
                        size_t len, const char *const prefixes[ROOST_AUTHZ_RES_COUNT])
{
    /* Most patterns spell the prefix out ("arn:aws:iot:us-east-1:...:topic/
     * things/..."): up to the first wildcard a comparison decides. Only a
     * wildcard inside a type's prefix needs the automaton. */
    size_t lit = 0;
    while (lit < len && tok[lit] != AUTHZ_STAR && tok[lit] != AUTHZ_QMARK)
        lit++;
    uint32_t direct[ROOST_AUTHZ_RES_COUNT]; /* the one start, when no automaton ran */
    bool ran[ROOST_AUTHZ_RES_COUNT] = {false};
    uint32_t *heap = NULL;
    uint8_t stack_bm[2][72];
    uint8_t *live = stack_bm[0], *next = stack_bm[1];
    size_t bytes = len / 8 + 1;
    size_t total = 0;
    pat->tok = tok;
    pat->len = (uint32_t)len;
    pat->tail = 0;
    while (pat->tail < len && tok[len - 1 - pat->tail] != AUTHZ_STAR &&
           tok[len - 1 - pat->tail] != AUTHZ_QMARK)
        pat->tail++;
    for (int t = 0; t < ROOST_AUTHZ_RES_COUNT; t++) {
        size_t plen = strlen(prefixes[t]);
        size_t cmp = ROOST_MIN(lit, plen);
        pat->first[t] = (uint32_t)total;
        pat->count[t] = 0;
        if (memcmp(tok, prefixes[t], cmp) != 0)
            continue;
        if (lit >= plen) {
            direct[t] = (uint32_t)plen;
            pat->count[t] = 1;
            total++;
            continue;
        }
        if (!heap) {
            heap = roost_xmalloc((len + 1) * sizeof(*heap) * ROOST_AUTHZ_RES_COUNT);
            if (bytes > sizeof(stack_bm[0])) {
                live = roost_xmalloc(bytes);
                next = roost_xmalloc(bytes);
            }
        }
        size_t n = run_prefix(tok, len, prefixes[t], live, next, heap + total);
        ran[t] = true;
        pat->count[t] = (uint32_t)n;
        total += n;
    }
    pat->starts = roost_arena_alloc(a, (total ? total : 1) * sizeof(*pat->starts));
    for (int t = 0; t < ROOST_AUTHZ_RES_COUNT; t++) {
        if (!pat->count[t])
            continue;
        if (ran[t])
            memcpy(pat->starts + pat->first[t], heap + pat->first[t],
                   pat->count[t] * sizeof(*heap));
        else
            pat->starts[pat->first[t]] = direct[t];
    }
    if (heap && bytes > sizeof(stack_bm[0])) {
        roost_free(live);
        roost_free(next);
    }
    roost_free(heap);
}

bool authz__pat_match(const struct authz_pat *pat, enum roost_authz_rtype t, const char *name,
                      size_t len)
{
    const uint32_t *st = pat->starts + pat->first[t];
    int probed = -1;     /* the literal last looked for with memchr, and ... */
    bool present = false; /* ... whether the name holds it */
    /* Latest start first: that is the one after a fully literal prefix
     * ("topic/" then the name), which decides most checks by itself. */
    for (uint32_t i = pat->count[t]; i-- > 0;) {
        /* The pattern's literal end must be the name's end: a cheap refusal
         * before the glob (a Deny on ".../admin" against every topic). */
        uint32_t rest = pat->len - st[i];
        uint32_t tail = ROOST_MIN(pat->tail, rest);
        if (tail && (len < tail || memcmp(name + len - tail, pat->tok + pat->len - tail, tail)))
            continue;
        /* A start inside a `*` of the prefix (pattern "arn:aws:iot:*:*:topic/x"
         * leaves "*:topic/x" to match the name) only matches a name that
         * holds the literal after the stars; names rarely hold that ':', and
         * memchr refuses them in a few ns instead of a glob pass over the
         * whole name. Such starts come in runs with the same literal. */
        uint32_t k = st[i];
        while (k < pat->len && pat->tok[k] == AUTHZ_STAR)
            k++;
        if (k > st[i] && k < pat->len && pat->tok[k] != AUTHZ_QMARK) {
            if (probed != pat->tok[k]) {
                probed = pat->tok[k];
                present = memchr(name, probed, len) != NULL;
            }
            if (!present)
                continue;
        }
        if (authz__glob(pat->tok + st[i], rest, (const uint8_t *)name, len))
            return true;
    }
    return false;
}
