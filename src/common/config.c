/*
 * config.c - parser for roost.conf: `key = value` per line, `#` starts a
 * comment, blank lines ignored, values may be double-quoted. Pure over a
 * buffer so it can be fuzzed; the caller decides what each key means.
 */
#include "common.h"

#include <ctype.h>

#define CONFIG_MAX_LINE 4096

static const char *skip_space(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\r'))
        p++;
    return p;
}

static const char *trim_end(const char *start, const char *end)
{
    while (end > start && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
        end--;
    return end;
}

int roost_config_parse(const char *text, size_t len, roost_config_kv_fn fn, void *ud,
                       int *out_line)
{
    const char *p = text, *end = text + len;
    int line = 0;
    int rc = 0;
    char key[256], value[CONFIG_MAX_LINE];

    while (p < end) {
        line++;
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol)
            eol = end;
        const char *s = skip_space(p, eol);
        const char *next = eol < end ? eol + 1 : end;
        if (s == eol || *s == '#') {
            p = next;
            continue;
        }
        const char *eq = memchr(s, '=', (size_t)(eol - s));
        if (!eq) {
            rc = ROOST_ECONFIG;
            goto out;
        }
        const char *kend = trim_end(s, eq);
        size_t klen = (size_t)(kend - s);
        if (klen == 0 || klen >= sizeof(key)) {
            rc = ROOST_ECONFIG;
            goto out;
        }
        for (size_t i = 0; i < klen; i++) {
            if (!(isalnum((unsigned char)s[i]) || s[i] == '_' || s[i] == '-' || s[i] == '.')) {
                rc = ROOST_ECONFIG;
                goto out;
            }
        }
        memcpy(key, s, klen);
        key[klen] = '\0';

        const char *v = skip_space(eq + 1, eol);
        const char *vend = eol;
        /* A '#' after whitespace starts a comment unless the value is quoted. */
        if (v < vend && *v == '"') {
            const char *close = memchr(v + 1, '"', (size_t)(vend - v - 1));
            if (!close) {
                rc = ROOST_ECONFIG;
                goto out;
            }
            const char *after = skip_space(close + 1, vend);
            if (after < vend && *after != '#') {
                rc = ROOST_ECONFIG;
                goto out;
            }
            v++;
            vend = close;
        } else {
            for (const char *q = v; q < vend; q++) {
                if (*q == '#' && (q == v || q[-1] == ' ' || q[-1] == '\t')) {
                    vend = q;
                    break;
                }
            }
            vend = trim_end(v, vend);
        }
        size_t vlen = (size_t)(vend - v);
        if (vlen >= sizeof(value) || memchr(v, '\0', vlen)) {
            rc = ROOST_ECONFIG;
            goto out;
        }
        memcpy(value, v, vlen);
        value[vlen] = '\0';
        rc = fn(ud, key, value);
        if (rc)
            goto out;
        p = next;
    }
out:
    if (out_line)
        *out_line = rc ? line : 0;
    return rc;
}
