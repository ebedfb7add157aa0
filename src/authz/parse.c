/*
 * parse.c - reads one AWS IoT policy document (JSON) into statements:
 * Effect, the action bits that Action/NotAction select, Resource or
 * NotResource templates, and Conditions. Every problem is reported the way
 * MalformedPolicyException should say it: which statement, which element,
 * what is wrong.
 *
 * Actions are matched here, once: each Action pattern is an IAM glob,
 * case-insensitive, tried against the names of the actions Roost checks,
 * so that a check only tests one bit.
 */
#include "authz/authz_int.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>

/* ==== Actions ============================================================= */

static const char *const action_names[ROOST_AUTHZ_ACTION_COUNT] = {
    [ROOST_AUTHZ_CONNECT] = "iot:Connect",
    [ROOST_AUTHZ_PUBLISH] = "iot:Publish",
    [ROOST_AUTHZ_SUBSCRIBE] = "iot:Subscribe",
    [ROOST_AUTHZ_RECEIVE] = "iot:Receive",
    [ROOST_AUTHZ_RETAIN_PUBLISH] = "iot:RetainPublish",
    [ROOST_AUTHZ_GET_THING_SHADOW] = "iot:GetThingShadow",
    [ROOST_AUTHZ_UPDATE_THING_SHADOW] = "iot:UpdateThingShadow",
    [ROOST_AUTHZ_DELETE_THING_SHADOW] = "iot:DeleteThingShadow",
    [ROOST_AUTHZ_LIST_NAMED_SHADOWS] = "iot:ListNamedShadowsForThing",
    [ROOST_AUTHZ_DESCRIBE_JOB_EXECUTION] = "iot:DescribeJobExecution",
    [ROOST_AUTHZ_GET_PENDING_JOB_EXECUTIONS] = "iot:GetPendingJobExecutions",
    [ROOST_AUTHZ_START_NEXT_PENDING_JOB_EXECUTION] = "iot:StartNextPendingJobExecution",
    [ROOST_AUTHZ_UPDATE_JOB_EXECUTION] = "iot:UpdateJobExecution",
    [ROOST_AUTHZ_GET_RETAINED_MESSAGE] = "iot:GetRetainedMessage",
    [ROOST_AUTHZ_LIST_RETAINED_MESSAGES] = "iot:ListRetainedMessages",
    [ROOST_AUTHZ_ASSUME_ROLE_WITH_CERTIFICATE] = "iot:AssumeRoleWithCertificate",
};

const char *roost_authz_action_name(enum roost_authz_action a)
{
    return (unsigned)a < ROOST_AUTHZ_ACTION_COUNT ? action_names[a] : "?";
}

int roost_authz_action_lookup(const char *name, size_t len)
{
    for (int i = 0; i < ROOST_AUTHZ_ACTION_COUNT; i++) {
        const char *an = action_names[i];
        /* A name without wildcards: glob_icase is a case-insensitive compare. */
        if (!memchr(name, '*', len) && !memchr(name, '?', len) &&
            authz__glob_icase(an, strlen(an), name, len))
            return i;
    }
    return -1;
}

static uint32_t action_mask(const char *pat, size_t n)
{
    uint32_t mask = 0;
    for (int i = 0; i < ROOST_AUTHZ_ACTION_COUNT; i++) {
        if (authz__glob_icase(pat, n, action_names[i], strlen(action_names[i])))
            mask |= 1u << i;
    }
    return mask;
}

/* ==== Errors ============================================================== */

struct perr {
    char *buf;
    size_t cap;
    char where[160]; /* "Statement[2] (Sid \"pub\")" */
};

static int fail(struct perr *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(struct perr *e, const char *fmt, ...)
{
    if (e->buf && e->cap) {
        char msg[384];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        if (e->where[0])
            snprintf(e->buf, e->cap, "%s: %s", e->where, msg);
        else
            snprintf(e->buf, e->cap, "%s", msg);
    }
    return ROOST_EMALFORMED;
}

/* ==== Elements ============================================================ */

/* A string, or a list of strings (non-empty unless allow_empty). Fills
 * items with borrowed json_t strings; *n set. */
static int string_list(struct perr *e, const json_t *v, const char *what, bool allow_empty,
                       const json_t ***items, size_t *n, struct roost_arena *a)
{
    if (json_is_string(v)) {
        *items = roost_arena_alloc(a, sizeof(**items));
        (*items)[0] = v;
        *n = 1;
        return 0;
    }
    if (!json_is_array(v) || (!allow_empty && json_array_size(v) == 0))
        return fail(e, "%s must be a string or a non-empty list of strings", what);
    size_t cnt = json_array_size(v);
    *items = roost_arena_alloc(a, (cnt ? cnt : 1) * sizeof(**items));
    for (size_t i = 0; i < cnt; i++) {
        const json_t *s = json_array_get(v, i);
        if (!json_is_string(s))
            return fail(e, "%s[%zu] is not a string", what, i);
        (*items)[i] = s;
    }
    *n = cnt;
    return 0;
}

static int parse_actions(struct perr *e, const json_t *v, bool not, uint32_t *out,
                         struct roost_arena *a)
{
    const char *what = not ? "NotAction" : "Action";
    const json_t **items;
    size_t n;
    int rc = string_list(e, v, what, false, &items, &n, a);
    if (rc)
        return rc;
    uint32_t mask = 0;
    for (size_t i = 0; i < n; i++) {
        const char *s = json_string_value(items[i]);
        size_t len = json_string_length(items[i]);
        const char *colon = memchr(s, ':', len);
        if (!(len == 1 && s[0] == '*') && (!colon || colon == s || colon + 1 == s + len))
            return fail(e, "%s \"%.64s\" must be \"*\" or <service>:<action>, such as "
                           "\"iot:Publish\"",
                        what, s);
        mask |= action_mask(s, len);
    }
    uint32_t all = (1u << ROOST_AUTHZ_ACTION_COUNT) - 1;
    *out = not ? all & ~mask : mask;
    return 0;
}

static int parse_resources(struct perr *e, const json_t *v, bool not, bool vars,
                           struct authz_stmt *st, struct roost_arena *a)
{
    const char *what = not ? "NotResource" : "Resource";
    const json_t **items;
    size_t n;
    int rc = string_list(e, v, what, false, &items, &n, a);
    if (rc)
        return rc;
    st->res = roost_arena_alloc(a, n * sizeof(*st->res));
    st->n_res = (uint32_t)n;
    st->not_resource = not;
    for (size_t i = 0; i < n; i++) {
        size_t len = json_string_length(items[i]);
        if (len == 0)
            return fail(e, "%s[%zu] is empty", what, i);
        authz__tmpl_parse(a, json_string_value(items[i]), len, vars, &st->res[i]);
        if (st->res[i].has_vars)
            st->res_vars = true;
    }
    return 0;
}

/* A condition value as text: strings as they are, JSON booleans and
 * numbers as IAM reads them. */
static int scalar_text(struct perr *e, const json_t *v, const char *op, const char *key,
                       char *num, size_t numcap, const char **out, size_t *out_n)
{
    if (json_is_string(v)) {
        *out = json_string_value(v);
        *out_n = json_string_length(v);
    } else if (json_is_true(v) || json_is_false(v)) {
        *out = json_is_true(v) ? "true" : "false";
        *out_n = strlen(*out);
    } else if (json_is_integer(v)) {
        *out_n = (size_t)snprintf(num, numcap, "%lld", (long long)json_integer_value(v));
        *out = num;
    } else if (json_is_real(v)) {
        *out_n = (size_t)snprintf(num, numcap, "%.17g", json_real_value(v));
        *out = num;
    } else {
        return fail(e, "Condition %.64s: the value of %.128s must be a string, a boolean, a "
                       "number or a list of them",
                    op, key);
    }
    return 0;
}

static int parse_condition(struct perr *e, const json_t *cond, bool vars, struct authz_stmt *st,
                           struct roost_arena *a)
{
    if (!json_is_object(cond))
        return fail(e, "Condition must be an object mapping operators to {key: values}");
    size_t total = 0;
    const char *op;
    const json_t *keys;
    json_object_foreach((json_t *)cond, op, keys) {
        if (!json_is_object(keys) || json_object_size(keys) == 0)
            return fail(e, "Condition %.64s must be a non-empty object of {key: values}", op);
        total += json_object_size(keys);
    }
    st->conds = roost_arena_alloc(a, (total ? total : 1) * sizeof(*st->conds));
    st->n_conds = 0;
    json_object_foreach((json_t *)cond, op, keys) {
        struct authz_cond proto;
        memset(&proto, 0, sizeof(proto));
        if (!authz__op_parse(op, strlen(op), &proto))
            return fail(e, "unknown Condition operator \"%.64s\"", op);
        const char *key;
        const json_t *v;
        json_object_foreach((json_t *)keys, key, v) {
            struct authz_cond *c = &st->conds[st->n_conds++];
            *c = proto;
            if (!*key)
                return fail(e, "Condition %.64s has an empty key", op);
            authz__key_parse(a, key, strlen(key), &c->key);
            size_t n = json_is_array(v) ? json_array_size(v) : 1;
            c->vals = roost_arena_alloc(a, (n ? n : 1) * sizeof(*c->vals));
            c->n_vals = (uint32_t)n;
            for (size_t i = 0; i < n; i++) {
                const json_t *item = json_is_array(v) ? json_array_get(v, i) : v;
                char num[40];
                const char *text = NULL;
                size_t len = 0;
                int rc = scalar_text(e, item, op, key, num, sizeof(num), &text, &len);
                if (rc)
                    return rc;
                authz__tmpl_parse(a, text, len, vars, &c->vals[i]);
                if (c->vals[i].has_vars)
                    continue;
                /* Variable-free values can be judged now, escapes included. */
                struct authz_env env = {.scratch = a};
                size_t rn;
                const char *r = authz__tmpl_render(&c->vals[i], &env, false, &rn);
                const char *why = r ? authz__cond_value_check(c, r, rn) : NULL;
                if (why)
                    return fail(e, "Condition %.64s: value \"%.64s\" for %.128s %s", op, text,
                                key, why);
            }
        }
    }
    return 0;
}

static int parse_statement(struct perr *e, const json_t *js, size_t idx, bool vars,
                           struct authz_stmt *st, struct roost_arena *a)
{
    snprintf(e->where, sizeof(e->where), "Statement[%zu]", idx);
    if (!json_is_object(js))
        return fail(e, "a statement must be an object");
    const json_t *sid = json_object_get(js, "Sid");
    if (sid && !json_is_string(sid))
        return fail(e, "Sid must be a string");
    if (sid) {
        st->sid = roost_arena_strndup(a, json_string_value(sid), json_string_length(sid));
        snprintf(e->where, sizeof(e->where), "Statement[%zu] (Sid \"%.100s\")", idx, st->sid);
    }
    st->index = (uint32_t)idx;
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)js, key, v) {
        if (strcmp(key, "Sid") && strcmp(key, "Effect") && strcmp(key, "Action") &&
            strcmp(key, "NotAction") && strcmp(key, "Resource") && strcmp(key, "NotResource") &&
            strcmp(key, "Condition"))
            return fail(e, "unknown element \"%.64s\" (IoT policies take Sid, Effect, Action, "
                           "NotAction, Resource, NotResource and Condition)",
                        key);
    }
    const json_t *eff = json_object_get(js, "Effect");
    const char *effect = json_string_value(eff);
    if (!effect)
        return fail(e, "Effect is missing: \"Allow\" or \"Deny\"");
    if (strcmp(effect, "Allow") != 0 && strcmp(effect, "Deny") != 0)
        return fail(e, "Effect \"%.64s\" must be \"Allow\" or \"Deny\"", effect);
    st->deny = effect[0] == 'D';

    const json_t *act = json_object_get(js, "Action"), *nact = json_object_get(js, "NotAction");
    if (act && nact)
        return fail(e, "has both Action and NotAction; use one");
    if (!act && !nact)
        return fail(e, "needs an Action or a NotAction");
    int rc = parse_actions(e, act ? act : nact, !act, &st->actions, a);
    if (rc)
        return rc;

    const json_t *res = json_object_get(js, "Resource");
    const json_t *nres = json_object_get(js, "NotResource");
    if (res && nres)
        return fail(e, "has both Resource and NotResource; use one");
    if (!res && !nres)
        return fail(e, "needs a Resource or a NotResource");
    rc = parse_resources(e, res ? res : nres, !res, vars, st, a);
    if (rc)
        return rc;

    const json_t *cond = json_object_get(js, "Condition");
    if (cond)
        return parse_condition(e, cond, vars, st, a);
    return 0;
}

int authz__parse_doc(struct roost_arena *a, const char *policy_name, const char *text, size_t len,
                     struct authz_stmt **out, size_t *out_n, char *err, size_t errcap)
{
    struct perr e = {.buf = err, .cap = errcap};
    json_error_t jerr;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    int rc;
    *out = NULL;
    *out_n = 0;
    if (!root) {
        rc = fail(&e, "The policy document is not valid JSON: %s (line %d, column %d)",
                  jerr.text, jerr.line, jerr.column);
        goto out;
    }
    if (!json_is_object(root)) {
        rc = fail(&e, "The policy document must be a JSON object");
        goto out;
    }
    const char *key;
    const json_t *v;
    json_object_foreach(root, key, v) {
        if (strcmp(key, "Version") && strcmp(key, "Statement") && strcmp(key, "Id")) {
            rc = fail(&e, "The policy document has an unknown element: \"%.64s\"", key);
            goto out;
        }
    }
    const json_t *id = json_object_get(root, "Id");
    if (id && !json_is_string(id)) {
        rc = fail(&e, "The policy document's Id must be a string");
        goto out;
    }
    const char *version = json_string_value(json_object_get(root, "Version"));
    if (!version || (strcmp(version, "2012-10-17") != 0 && strcmp(version, "2008-10-17") != 0)) {
        rc = fail(&e, "The policy document needs a Version: \"2012-10-17\"");
        goto out;
    }
    /* Policy variables exist from 2012-10-17 on; before, ${...} is text. */
    bool vars = strcmp(version, "2012-10-17") == 0;
    const json_t *sts = json_object_get(root, "Statement");
    size_t n = json_is_object(sts) ? 1 : json_is_array(sts) ? json_array_size(sts) : 0;
    if (n == 0) {
        rc = fail(&e, "The policy document needs a Statement: an object or a non-empty list of "
                      "objects");
        goto out;
    }
    struct authz_stmt *st = roost_arena_alloc(a, n * sizeof(*st));
    memset(st, 0, n * sizeof(*st));
    for (size_t i = 0; i < n; i++) {
        st[i].policy = policy_name;
        rc = parse_statement(&e, json_is_object(sts) ? sts : json_array_get(sts, i), i, vars,
                             &st[i], a);
        if (rc)
            goto out;
    }
    *out = st;
    *out_n = n;
    rc = 0;
out:
    json_decref(root);
    return rc;
}
