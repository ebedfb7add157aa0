/*
 * template_eval.c - evaluating a validated provisioning template against the
 * parameters of one request (roost_template_apply): parameter values,
 * defaults, types and constraints; conditions (each evaluated at most once);
 * the intrinsic functions; and the plan, where every resource's properties
 * are plain strings and JSON checked against AWS's name rules.
 *
 * Nothing here writes to the template, so one template serves any number of
 * threads. Values are jansson values owned by the evaluation: a call returns
 * a new reference, or NULL for AWS::NoValue, which removes the property or
 * list item that holds it. Every string made is charged against
 * ROOST_TEMPLATE_EVAL_MAX, so parameters cannot make a small template
 * produce an unbounded amount of text.
 */
#include "template/template_int.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

struct ectx {
    const struct roost_template *t;
    struct tpl_path path;
    char *err;
    size_t errcap;
    json_t *values;                /* parameter name -> string or [string] */
    int8_t *cond;                  /* per condition: -1 not evaluated, else 0 / 1 */
    size_t produced;               /* bytes made, against ROOST_TEMPLATE_EVAL_MAX */
};

#define EFAIL(c, ...) template__fail((c)->err, (c)->errcap, &(c)->path, ROOST_EPROTO, __VA_ARGS__)

/* Validation bounds the nesting; this only guards against a validator bug. */
#define EVAL_DEPTH_GUARD (2 * ROOST_TEMPLATE_MAX_DEPTH + 8)

static int eval(struct ectx *c, const json_t *v, int depth, json_t **out);
static int eval_condition(struct ectx *c, long idx, int depth, bool *out);

static int charge(struct ectx *c, size_t n)
{
    c->produced += n;
    if (c->produced > ROOST_TEMPLATE_EVAL_MAX)
        return template__fail(c->err, c->errcap, &c->path, ROOST_ETOOBIG,
                               "evaluating the template produces more than %u bytes",
                               ROOST_TEMPLATE_EVAL_MAX);
    return 0;
}

static const char *kind_of(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "a list";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
    case JSON_REAL:
        return "a number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    case JSON_NULL:
        break;
    }
    return "null";
}

/* The text of a scalar: strings as they are, numbers and booleans as JSON
 * writes them. NULL for lists, objects and null. `buf` holds number text. */
static const char *scalar_text(const json_t *v, char buf[48], size_t *out_n)
{
    const char *s = NULL;
    if (json_is_string(v)) {
        *out_n = json_string_length(v);
        return json_string_value(v);
    }
    if (json_is_integer(v)) {
        snprintf(buf, 48, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        s = buf;
    } else if (json_is_real(v)) {
        snprintf(buf, 48, "%.15g", json_real_value(v));
        s = buf;
    } else if (json_is_boolean(v)) {
        s = json_is_true(v) ? "true" : "false";
    }
    if (s)
        *out_n = strlen(s);
    return s;
}

/* A new JSON string with the text of scalar `v`, or NULL if it is none. */
static json_t *to_string_value(const json_t *v)
{
    char buf[48];
    size_t n;
    const char *s = scalar_text(v, buf, &n);
    return s ? json_stringn(s, n) : NULL;
}

/* Evaluates `v`, which must give a string (numbers and booleans become text). */
static int eval_text(struct ectx *c, const json_t *v, int depth, const char *what,
                     json_t **out)
{
    json_t *x = NULL;
    *out = NULL;
    int rc = eval(c, v, depth, &x);
    if (rc)
        return rc;
    if (!x)
        return EFAIL(c, "%s has no value (AWS::NoValue)", what);
    *out = to_string_value(x);
    if (!*out)
        rc = EFAIL(c, "%s must be a string, not %s", what, kind_of(x));
    json_decref(x);
    return rc;
}

/* Argument `i` of `arr`, which must give a list. */
static int eval_list(struct ectx *c, const json_t *arr, size_t i, int depth, json_t **out)
{
    size_t saved = template__path_index(&c->path, i);
    json_t *x = NULL;
    int rc = eval(c, json_array_get(arr, i), depth, &x);
    if (rc == 0 && !json_is_array(x))
        rc = EFAIL(c, "expected a list, got %s", x ? kind_of(x) : "no value");
    if (rc == 0) {
        template__path_pop(&c->path, saved);
        *out = x;
        x = NULL;
    }
    json_decref(x);
    return rc;
}

/* A condition: {"Condition": name}, a condition function, or anything that
 * gives true / false (a boolean, or the strings "true" / "false"). */
static int eval_bool(struct ectx *c, const json_t *v, int depth, bool *out)
{
    const json_t *name = json_object_size(v) == 1 ? json_object_get(v, "Condition") : NULL;
    if (name) {
        size_t saved = template__path_key(&c->path, "Condition");
        int rc = eval_condition(c, template__cond_index(c->t, json_string_value(name)),
                                depth + 1, out);
        if (rc == 0)
            template__path_pop(&c->path, saved);
        return rc;
    }
    json_t *x = NULL;
    int rc = eval(c, v, depth, &x);
    if (rc)
        return rc;
    if (json_is_boolean(x))
        *out = json_is_true(x);
    else if (json_is_string(x) && strcasecmp(json_string_value(x), "true") == 0)
        *out = true;
    else if (json_is_string(x) && strcasecmp(json_string_value(x), "false") == 0)
        *out = false;
    else
        rc = EFAIL(c, "expected a condition (true or false), got %s", x ? kind_of(x) : "no value");
    json_decref(x);
    return rc;
}

static int eval_condition(struct ectx *c, long idx, int depth, bool *out)
{
    ROOST_ASSERT(idx >= 0 && (size_t)idx < c->t->n_conditions);
    if (c->cond[idx] >= 0) {
        *out = c->cond[idx];
        return 0;
    }
    const char *name = c->t->cond_names[idx];
    struct tpl_path outer = c->path;
    template__path_init(&c->path);
    template__path_key(&c->path, "Conditions");
    template__path_key(&c->path, name);
    int rc = eval_bool(c, json_object_get(c->t->conditions, name), depth + 1, out);
    if (rc == 0) {
        c->path = outer;
        c->cond[idx] = *out;
    }
    return rc;
}

/* ---- Functions ------------------------------------------------------------ */

static int fn_ref(struct ectx *c, const char *name, json_t **out)
{
    if (strcmp(name, TPL_NOVALUE) == 0)
        return 0;
    json_t *v = json_object_get(c->values, name);
    if (!v)
        return EFAIL(c, "parameter '%s' has no value: it was not provided and has no Default",
                     name);
    int rc = charge(c, json_is_string(v) ? json_string_length(v) : 16 * json_array_size(v));
    if (rc == 0)
        *out = json_incref(v);
    return rc;
}

static int append_text(struct ectx *c, struct roost_buf *b, const char *s, size_t n)
{
    int rc = charge(c, n);
    if (rc == 0 && roost_buf_append(b, s, n))
        rc = charge(c, ROOST_TEMPLATE_EVAL_MAX); /* cannot happen: the charge comes first */
    return rc;
}

static json_t *buf_string(struct roost_buf *b)
{
    const char *p = (const char *)roost_buf_head(b);
    return json_stringn(p ? p : "", roost_buf_size(b));
}

static int fn_join(struct ectx *c, const json_t *arg, int depth, json_t **out)
{
    const json_t *delim = json_array_get(arg, 0);
    json_t *list = NULL;
    struct roost_buf b;
    roost_buf_init(&b, 0);
    int rc = eval_list(c, arg, 1, depth, &list);
    for (size_t i = 0; rc == 0 && i < json_array_size(list); i++) {
        char nb[48];
        size_t n;
        const char *s = scalar_text(json_array_get(list, i), nb, &n);
        if (!s) {
            size_t saved = template__path_index(&c->path, 1);
            rc = EFAIL(c, "Fn::Join item %zu is %s, not a string", i,
                       kind_of(json_array_get(list, i)));
            template__path_pop(&c->path, saved);
            break;
        }
        if (i > 0)
            rc = append_text(c, &b, json_string_value(delim), json_string_length(delim));
        if (rc == 0)
            rc = append_text(c, &b, s, n);
    }
    if (rc == 0)
        *out = buf_string(&b);
    json_decref(list);
    roost_buf_cleanup(&b);
    return rc;
}

static int fn_select(struct ectx *c, const json_t *arg, int depth, json_t **out)
{
    json_t *idx = NULL, *list = NULL;
    uint64_t i = 0;
    size_t saved = template__path_index(&c->path, 0);
    int rc = eval(c, json_array_get(arg, 0), depth, &idx);
    if (rc)
        goto out;
    if (json_is_integer(idx) && json_integer_value(idx) >= 0)
        i = (uint64_t)json_integer_value(idx);
    else if (!json_is_string(idx) ||
             roost_parse_u64(json_string_value(idx), 0, UINT32_MAX, &i) != 0) {
        char nb[48];
        size_t n;
        const char *s = idx ? scalar_text(idx, nb, &n) : NULL;
        rc = EFAIL(c, "Fn::Select index '%.32s' is not a whole number", s ? s : kind_of(idx));
        goto out;
    }
    template__path_pop(&c->path, saved);
    rc = eval_list(c, arg, 1, depth, &list);
    if (rc)
        goto out;
    if (i >= json_array_size(list)) {
        rc = EFAIL(c, "Fn::Select index %" PRIu64 " is out of range: the list has %zu item%s", i,
                   json_array_size(list), json_array_size(list) == 1 ? "" : "s");
        goto out;
    }
    json_t *pick = json_array_get(list, (size_t)i);
    if (json_is_null(pick)) {
        rc = EFAIL(c, "Fn::Select picked a null value");
        goto out;
    }
    *out = json_incref(pick);
out:
    json_decref(idx);
    json_decref(list);
    return rc;
}

static int fn_split(struct ectx *c, const json_t *arg, int depth, json_t **out)
{
    const char *delim = json_string_value(json_array_get(arg, 0));
    size_t dn = strlen(delim);
    json_t *src = NULL;
    size_t saved = template__path_index(&c->path, 1);
    int rc = eval_text(c, json_array_get(arg, 1), depth, "Fn::Split's source", &src);
    if (rc)
        return rc;
    template__path_pop(&c->path, saved);
    json_t *list = json_array();
    const char *s = json_string_value(src);
    const char *end = s + json_string_length(src);
    for (;;) {
        const char *hit = memmem(s, (size_t)(end - s), delim, dn);
        const char *stop = hit ? hit : end;
        rc = charge(c, (size_t)(stop - s) + 16);
        if (rc)
            break;
        json_array_append_new(list, json_stringn(s, (size_t)(stop - s)));
        if (!hit)
            break;
        s = hit + dn;
    }
    json_decref(src);
    if (rc == 0)
        *out = list;
    else
        json_decref(list);
    return rc;
}

static int fn_sub(struct ectx *c, const json_t *arg, int depth, json_t **out)
{
    const char *s;
    const json_t *vars = NULL;
    if (json_is_string(arg)) {
        s = json_string_value(arg);
    } else {
        s = json_string_value(json_array_get(arg, 0));
        vars = json_array_get(arg, 1);
    }
    struct roost_buf b;
    roost_buf_init(&b, 0);
    int rc = 0;
    for (;;) {
        const char *open = strstr(s, "${");
        if (!open) {
            rc = append_text(c, &b, s, strlen(s));
            break;
        }
        if ((rc = append_text(c, &b, s, (size_t)(open - s))))
            break;
        const char *name = open + 2;
        const char *close = strchr(name, '}'); /* validation saw it */
        size_t n = (size_t)(close - name);
        s = close + 1;
        if (name[0] == '!') {
            if ((rc = append_text(c, &b, "${", 2)) || (rc = append_text(c, &b, name + 1, n)))
                break;
            continue;
        }
        char key[256];
        memcpy(key, name, n);
        key[n] = '\0';
        const json_t *var = vars ? json_object_get(vars, key) : NULL;
        json_t *text = NULL;
        if (var) {
            size_t s1 = template__path_index(&c->path, 1);
            size_t s2 = template__path_key(&c->path, key);
            rc = eval_text(c, var, depth, "the Fn::Sub variable", &text);
            if (rc)
                break;
            template__path_pop(&c->path, s2);
            template__path_pop(&c->path, s1);
        } else if (json_object_get(c->values, key)) {
            text = to_string_value(json_object_get(c->values, key));
            if (!text) {
                rc = EFAIL(c, "Fn::Sub variable '${%s}' is a list parameter; Fn::Sub needs a "
                              "string",
                           key);
                break;
            }
        } else if (template__is_policy_var(key, n)) {
            if ((rc = append_text(c, &b, open, (size_t)(s - open))))
                break;
            continue;
        } else {
            rc = EFAIL(c, "parameter '%s' has no value: it was not provided and has no Default",
                       key);
            break;
        }
        rc = append_text(c, &b, json_string_value(text), json_string_length(text));
        json_decref(text);
        if (rc)
            break;
    }
    if (rc == 0)
        *out = buf_string(&b);
    roost_buf_cleanup(&b);
    return rc;
}

static int fn_findinmap(struct ectx *c, const json_t *arg, int depth, json_t **out)
{
    json_t *k[3] = {NULL, NULL, NULL};
    int rc = 0;
    for (size_t i = 0; i < 3 && rc == 0; i++) {
        size_t saved = template__path_index(&c->path, i);
        rc = eval_text(c, json_array_get(arg, i), depth, "an Fn::FindInMap key", &k[i]);
        if (rc == 0)
            template__path_pop(&c->path, saved);
    }
    if (rc)
        goto out;
    const char *map = json_string_value(k[0]), *k1 = json_string_value(k[1]);
    const char *k2 = json_string_value(k[2]);
    const json_t *m = json_object_get(c->t->mappings, map);
    const json_t *l2 = json_object_get(m, k1);
    const json_t *v = json_object_get(l2, k2);
    if (!m)
        rc = EFAIL(c, "no mapping named '%s'", map);
    else if (!l2)
        rc = EFAIL(c, "mapping '%s' has no key '%s'", map, k1);
    else if (!v)
        rc = EFAIL(c, "mapping '%s' has no key '%s' under '%s'", map, k2, k1);
    else if ((rc = charge(c, json_is_string(v) ? json_string_length(v) : 64)) == 0)
        *out = json_deep_copy(v);
out:
    for (size_t i = 0; i < 3; i++)
        json_decref(k[i]);
    return rc;
}

static int fn_equals(struct ectx *c, const json_t *arg, int depth, json_t **out)
{
    json_t *x[2] = {NULL, NULL};
    int rc = 0;
    for (size_t i = 0; i < 2 && rc == 0; i++) {
        size_t saved = template__path_index(&c->path, i);
        rc = eval(c, json_array_get(arg, i), depth, &x[i]);
        if (rc == 0)
            template__path_pop(&c->path, saved);
    }
    if (rc == 0) {
        /* As CloudFormation: values compare as text, so "1" equals 1. */
        char b0[48], b1[48];
        size_t n0 = 0, n1 = 0;
        const char *s0 = x[0] ? scalar_text(x[0], b0, &n0) : NULL;
        const char *s1 = x[1] ? scalar_text(x[1], b1, &n1) : NULL;
        bool eq = (s0 && s1) ? n0 == n1 && memcmp(s0, s1, n0) == 0
                             : (x[0] && x[1] ? json_equal(x[0], x[1]) : x[0] == x[1]);
        *out = json_boolean(eq);
    }
    json_decref(x[0]);
    json_decref(x[1]);
    return rc;
}

static int fn_logic(struct ectx *c, enum tpl_fn fn, const json_t *arg, int depth, json_t **out)
{
    bool acc = fn == TPL_FN_AND;
    /* Every operand is evaluated, so a broken one fails whatever the others say. */
    for (size_t i = 0; i < json_array_size(arg); i++) {
        bool b;
        size_t saved = template__path_index(&c->path, i);
        int rc = eval_bool(c, json_array_get(arg, i), depth, &b);
        if (rc)
            return rc;
        template__path_pop(&c->path, saved);
        if (fn == TPL_FN_NOT)
            acc = !b;
        else if (fn == TPL_FN_AND)
            acc = acc && b;
        else
            acc = acc || b;
    }
    *out = json_boolean(acc);
    return 0;
}

static int fn_base64(struct ectx *c, const json_t *arg, int depth, json_t **out)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    json_t *src = NULL;
    int rc = eval_text(c, arg, depth, "Fn::Base64's argument", &src);
    if (rc)
        return rc;
    const uint8_t *p = (const uint8_t *)json_string_value(src);
    size_t n = json_string_length(src);
    size_t outn = (n + 2) / 3 * 4;
    if ((rc = charge(c, outn)) == 0) {
        char *o = roost_xmalloc(outn + 1);
        size_t j = 0;
        for (size_t i = 0; i < n; i += 3) {
            uint32_t w = (uint32_t)p[i] << 16;
            if (i + 1 < n)
                w |= (uint32_t)p[i + 1] << 8;
            if (i + 2 < n)
                w |= p[i + 2];
            o[j++] = alphabet[(w >> 18) & 63];
            o[j++] = alphabet[(w >> 12) & 63];
            o[j++] = i + 1 < n ? alphabet[(w >> 6) & 63] : '=';
            o[j++] = i + 2 < n ? alphabet[w & 63] : '=';
        }
        *out = json_stringn(o, j);
        roost_free(o);
    }
    json_decref(src);
    return rc;
}

static int eval_fn(struct ectx *c, enum tpl_fn fn, const json_t *arg, int depth, json_t **out)
{
    switch (fn) {
    case TPL_FN_NONE:
        break;
    case TPL_FN_REF:
        return fn_ref(c, json_string_value(arg), out);
    case TPL_FN_JOIN:
        return fn_join(c, arg, depth, out);
    case TPL_FN_SELECT:
        return fn_select(c, arg, depth, out);
    case TPL_FN_SPLIT:
        return fn_split(c, arg, depth, out);
    case TPL_FN_SUB:
        return fn_sub(c, arg, depth, out);
    case TPL_FN_FINDINMAP:
        return fn_findinmap(c, arg, depth, out);
    case TPL_FN_IF: {
        bool b;
        size_t saved = template__path_index(&c->path, 0);
        int rc = eval_condition(
            c, template__cond_index(c->t, json_string_value(json_array_get(arg, 0))), depth, &b);
        if (rc)
            return rc;
        template__path_pop(&c->path, saved);
        saved = template__path_index(&c->path, b ? 1 : 2);
        rc = eval(c, json_array_get(arg, b ? 1 : 2), depth, out);
        if (rc == 0)
            template__path_pop(&c->path, saved);
        return rc;
    }
    case TPL_FN_EQUALS:
        return fn_equals(c, arg, depth, out);
    case TPL_FN_NOT:
    case TPL_FN_AND:
    case TPL_FN_OR:
        return fn_logic(c, fn, arg, depth, out);
    case TPL_FN_BASE64:
        return fn_base64(c, arg, depth, out);
    }
    return EFAIL(c, "internal error: unexpected function");
}

static int eval(struct ectx *c, const json_t *v, int depth, json_t **out)
{
    *out = NULL;
    if (depth > EVAL_DEPTH_GUARD)
        return EFAIL(c, "nested too deeply");
    const json_t *arg;
    enum tpl_fn fn = template__fn_of(v, &arg);
    int rc = 0;
    if (fn != TPL_FN_NONE) {
        size_t saved = template__path_key(&c->path, template__fn_name(fn));
        rc = eval_fn(c, fn, arg, depth + 1, out);
        if (rc == 0)
            template__path_pop(&c->path, saved);
        return rc;
    }
    if (json_is_object(v)) {
        json_t *o = json_object();
        const char *key;
        const json_t *val;
        json_object_foreach((json_t *)v, key, val) {
            json_t *x = NULL;
            size_t saved = template__path_key(&c->path, key);
            if ((rc = charge(c, strlen(key))) || (rc = eval(c, val, depth + 1, &x)))
                break;
            template__path_pop(&c->path, saved);
            if (x)
                json_object_set_new(o, key, x);
        }
        if (rc)
            json_decref(o);
        else
            *out = o;
        return rc;
    }
    if (json_is_array(v)) {
        json_t *a = json_array();
        for (size_t i = 0; i < json_array_size(v); i++) {
            json_t *x = NULL;
            size_t saved = template__path_index(&c->path, i);
            if ((rc = eval(c, json_array_get(v, i), depth + 1, &x)))
                break;
            template__path_pop(&c->path, saved);
            if (x)
                json_array_append_new(a, x);
        }
        if (rc)
            json_decref(a);
        else
            *out = a;
        return rc;
    }
    if (json_is_string(v) && (rc = charge(c, json_string_length(v))))
        return rc;
    *out = json_deep_copy(v);
    return 0;
}

/* ==== Parameters ============================================================ */

/* A string value of the request as plain text: a NUL inside would cut it. */
static json_t *param_string(const json_t *v)
{
    json_t *s = to_string_value(v);
    if (s && memchr(json_string_value(s), '\0', json_string_length(s))) {
        json_decref(s);
        s = NULL;
    }
    return s;
}

/* A parameter value from the request: strings, with numbers and booleans as
 * text, or a list of them. NULL: absent (JSON null counts as absent). */
static int normalize_param(struct ectx *c, const char *name, const json_t *v, json_t **out)
{
    *out = NULL;
    if (json_is_null(v))
        return 0;
    if (json_is_array(v)) {
        json_t *a = json_array();
        for (size_t i = 0; i < json_array_size(v); i++) {
            json_t *s = param_string(json_array_get(v, i));
            if (!s) {
                json_decref(a);
                return template__fail(c->err, c->errcap, NULL, ROOST_EMALFORMED,
                                       "parameter '%s' must be a string or a list of strings",
                                       name);
            }
            json_array_append_new(a, s);
        }
        *out = a;
        return 0;
    }
    *out = param_string(v);
    if (!*out)
        return template__fail(c->err, c->errcap, NULL, ROOST_EMALFORMED,
                               "parameter '%s' must be a string, not %s", name,
                               json_is_string(v) ? "one with a NUL character" : kind_of(v));
    return 0;
}

static bool parse_number(const char *s, double *out)
{
    char *end;
    errno = 0;
    double d = strtod(s, &end);
    if (end == s || *end != '\0' || errno == ERANGE || !isfinite(d))
        return false;
    *out = d;
    return true;
}

static size_t utf8_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

/* One value (or one list item) of a declared parameter against its type and
 * constraints. */
static int check_param_value(struct ectx *c, const char *name, const json_t *decl,
                             enum tpl_ptype pt, const char *s)
{
    double d = 0;
    bool numeric = pt == TPL_P_NUMBER || pt == TPL_P_LIST_NUMBER;
    if (numeric && !parse_number(s, &d))
        return EFAIL(c, "parameter '%s' value '%.64s' is not a number", name, s);
    const json_t *allowed = json_object_get(decl, "AllowedValues");
    if (allowed) {
        bool found = false;
        for (size_t i = 0; i < json_array_size(allowed) && !found; i++) {
            char nb[48];
            size_t n;
            const char *a = scalar_text(json_array_get(allowed, i), nb, &n);
            found = a && n == strlen(s) && memcmp(a, s, n) == 0;
        }
        if (!found)
            return EFAIL(c, "parameter '%s' value '%.64s' is not one of its AllowedValues", name,
                         s);
    }
    const json_t *pattern = json_object_get(decl, "AllowedPattern");
    if (pattern) {
        regex_t re;
        ROOST_ASSERT(template__pattern_compile(json_string_value(pattern), &re) == 0);
        bool m = template__pattern_match(&re, s);
        regfree(&re);
        if (!m)
            return EFAIL(c, "parameter '%s' value '%.64s' does not match its AllowedPattern",
                         name, s);
    }
    const json_t *minl = json_object_get(decl, "MinLength");
    const json_t *maxl = json_object_get(decl, "MaxLength");
    size_t chars = utf8_chars(s);
    if ((minl && chars < (size_t)json_integer_value(minl)) ||
        (maxl && chars > (size_t)json_integer_value(maxl)))
        return EFAIL(c, "parameter '%s' value is %zu characters long, outside its "
                        "MinLength/MaxLength",
                     name, chars);
    const json_t *minv = json_object_get(decl, "MinValue");
    const json_t *maxv = json_object_get(decl, "MaxValue");
    if (numeric && ((minv && d < json_number_value(minv)) || (maxv && d > json_number_value(maxv))))
        return EFAIL(c, "parameter '%s' value '%.64s' is outside its MinValue/MaxValue", name, s);
    return 0;
}

/* "a, b,c" -> ["a", "b", "c"]: CommaDelimitedList items are space-trimmed. */
static json_t *split_commas(const char *s)
{
    json_t *a = json_array();
    for (;;) {
        const char *comma = strchr(s, ',');
        const char *end = comma ? comma : s + strlen(s);
        const char *b = s;
        while (b < end && (*b == ' ' || *b == '\t'))
            b++;
        const char *e = end;
        while (e > b && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        json_array_append_new(a, json_stringn(b, (size_t)(e - b)));
        if (!comma)
            return a;
        s = comma + 1;
    }
}

static int resolve_parameter(struct ectx *c, const char *name, const json_t *decl)
{
    enum tpl_ptype pt = template__ptype(json_string_value(json_object_get(decl, "Type")));
    json_t *v = json_incref(json_object_get(c->values, name));
    int rc = 0;
    if (!v && json_object_get(decl, "Default")) {
        rc = normalize_param(c, name, json_object_get(decl, "Default"), &v);
        ROOST_ASSERT(rc == 0); /* validation saw the Default */
    }
    if (!v) {
        if (c->t->type == ROOST_TEMPLATE_JITP)
            rc = EFAIL(c, "parameter '%s' has no value%s", name,
                       strncmp(name, "AWS::IoT::Certificate::", 23) == 0
                           ? ": the device certificate lacks this field"
                           : ": it was not provided and has no Default");
        return rc;
    }
    bool list = pt == TPL_P_LIST_NUMBER || pt == TPL_P_LIST_STRING;
    if (!list && json_is_array(v)) {
        rc = EFAIL(c, "parameter '%s' must be a string, not a list", name);
        goto out;
    }
    if (list && json_is_string(v)) {
        json_t *items = split_commas(json_string_value(v));
        json_decref(v);
        v = items;
    }
    if (list) {
        for (size_t i = 0; i < json_array_size(v) && rc == 0; i++)
            rc = check_param_value(c, name, decl, pt, json_string_value(json_array_get(v, i)));
    } else {
        rc = check_param_value(c, name, decl, pt, json_string_value(v));
    }
    if (rc == 0)
        json_object_set(c->values, name, v);
out:
    json_decref(v);
    return rc;
}

static int resolve_parameters(struct ectx *c, const json_t *params)
{
    int rc = 0;
    if (params && !json_is_object(params))
        return template__fail(c->err, c->errcap, NULL, ROOST_EMALFORMED,
                               "the parameters must be a JSON object");
    const char *key;
    const json_t *val;
    json_object_foreach((json_t *)params, key, val) {
        json_t *v = NULL;
        if ((rc = normalize_param(c, key, val, &v)))
            return rc;
        if (v)
            json_object_set_new(c->values, key, v);
    }
    json_object_foreach((json_t *)c->t->parameters, key, val) {
        size_t s1 = template__path_key(&c->path, "Parameters");
        template__path_key(&c->path, key);
        if ((rc = resolve_parameter(c, key, val)))
            return rc;
        template__path_pop(&c->path, s1);
    }
    return 0;
}

/* ==== The plan ================================================================ */

/* A string property: *out is a heap copy, or NULL when absent or AWS::NoValue
 * (an error then if `required`). */
static int prop_text(struct ectx *c, const json_t *props, const char *name, bool required,
                     char **out)
{
    const json_t *v = json_object_get(props, name);
    json_t *x = NULL;
    *out = NULL;
    size_t saved = template__path_key(&c->path, name);
    int rc = v ? eval(c, v, 1, &x) : 0;
    if (rc)
        return rc;
    if (!x) {
        if (required)
            return EFAIL(c, "%s is required and has no value", name);
    } else {
        json_t *s = to_string_value(x);
        if (!s)
            rc = EFAIL(c, "must be a string, not %s", kind_of(x));
        else
            *out = roost_xstrndup(json_string_value(s), json_string_length(s));
        json_decref(s);
    }
    json_decref(x);
    if (rc == 0)
        template__path_pop(&c->path, saved);
    return rc;
}

static int thing_name_prop(struct ectx *c, const json_t *props, const char *name,
                           bool required, char **out)
{
    int rc = prop_text(c, props, name, required, out);
    if (rc == 0 && *out && !template__valid_thing_name(*out)) {
        size_t saved = template__path_key(&c->path, name);
        rc = EFAIL(c, "'%.64s' is not a valid name (1 to 128 of a-z A-Z 0-9 : _ -)", *out);
        template__path_pop(&c->path, saved);
    }
    return rc;
}

static enum roost_override override_of(const json_t *res, const char *prop, const char *alias)
{
    const json_t *os = json_object_get(res, "OverrideSettings");
    const json_t *v = os ? template__override_get(os, prop, alias) : NULL;
    enum roost_override o = ROOST_OVERRIDE_DO_NOTHING;
    if (v)
        ROOST_ASSERT(template__override_parse(json_string_value(v), &o) == 0);
    return o;
}

static int thing_groups(struct ectx *c, const json_t *props, json_t **out)
{
    const json_t *v = json_object_get(props, "ThingGroups");
    json_t *x = NULL;
    *out = NULL;
    if (!v)
        return 0;
    size_t saved = template__path_key(&c->path, "ThingGroups");
    int rc = eval(c, v, 1, &x);
    if (rc)
        return rc;
    if (x && !json_is_array(x)) {
        rc = EFAIL(c, "must be a list of thing group names, not %s", kind_of(x));
        goto out;
    }
    json_t *groups = x ? json_array() : NULL;
    for (size_t i = 0; x && i < json_array_size(x); i++) {
        json_t *g = to_string_value(json_array_get(x, i));
        if (!g || !template__valid_thing_name(json_string_value(g))) {
            template__path_index(&c->path, i);
            rc = EFAIL(c, "'%.64s' is not a valid thing group name",
                       g ? json_string_value(g) : kind_of(json_array_get(x, i)));
            json_decref(g);
            json_decref(groups);
            goto out;
        }
        json_array_append_new(groups, g);
    }
    *out = groups;
    template__path_pop(&c->path, saved);
out:
    json_decref(x);
    return rc;
}

static int thing_attributes(struct ectx *c, const json_t *props, json_t **out)
{
    const json_t *v = json_object_get(props, "AttributePayload");
    json_t *x = NULL;
    *out = NULL;
    if (!v)
        return 0;
    size_t saved = template__path_key(&c->path, "AttributePayload");
    int rc = eval(c, v, 1, &x);
    if (rc)
        return rc;
    if (x && !json_is_object(x)) {
        rc = EFAIL(c, "must be an object of name-value pairs, not %s", kind_of(x));
        goto out;
    }
    /* Accept CreateThing's {"attributes": {...}} shape too. */
    const json_t *attrs = x;
    json_t *inner = json_object_size(x) == 1 ? json_object_get(x, "Attributes") : NULL;
    if (!inner && json_object_size(x) == 1)
        inner = json_object_get(x, "attributes");
    if (json_is_object(inner))
        attrs = inner;
    json_t *result = x ? json_object() : NULL;
    size_t base = c->path.len;
    const char *key;
    const json_t *val;
    json_object_foreach((json_t *)attrs, key, val) {
        json_t *s = to_string_value(val);
        template__path_key(&c->path, key);
        if (!template__valid_attr_name(key))
            rc = EFAIL(c, "not a valid attribute name (1 to 128 of a-z A-Z 0-9 _ . , @ / : # -)");
        else if (!s)
            rc = EFAIL(c, "attribute values must be strings, not %s", kind_of(val));
        else if (!template__valid_attr_value(json_string_value(s)))
            rc = EFAIL(c, "'%.64s' is not a valid attribute value (up to 800 of a-z A-Z 0-9 "
                          "_ . , @ / : # = [ ] -)",
                       json_string_value(s));
        if (rc) {
            json_decref(s);
            json_decref(result);
            goto out;
        }
        template__path_pop(&c->path, base);
        json_object_set_new(result, key, s);
    }
    *out = result;
    template__path_pop(&c->path, saved);
out:
    json_decref(x);
    return rc;
}

static void thing_free(struct roost_template_thing *th)
{
    if (!th)
        return;
    roost_free(th->logical_name);
    roost_free(th->name);
    roost_free(th->type_name);
    roost_free(th->billing_group);
    json_decref(th->attributes);
    json_decref(th->groups);
    roost_free(th);
}

static int build_thing(struct ectx *c, const char *logical, const json_t *res,
                       struct roost_template_thing **out)
{
    const json_t *props = json_object_get(res, "Properties");
    struct roost_template_thing *th = roost_xcalloc(1, sizeof(*th));
    th->logical_name = roost_xstrdup(logical);
    int rc;
    if ((rc = thing_name_prop(c, props, "ThingName", true, &th->name)) ||
        (rc = thing_name_prop(c, props, "ThingTypeName", false, &th->type_name)) ||
        (rc = thing_name_prop(c, props, "BillingGroup", false, &th->billing_group)) ||
        (rc = thing_groups(c, props, &th->groups)) ||
        (rc = thing_attributes(c, props, &th->attributes)))
        goto out;
    th->attributes_override = override_of(res, "AttributePayload", "ATTRIBUTE_PAYLOAD");
    th->type_override = override_of(res, "ThingTypeName", "THING_TYPE_NAME");
    th->groups_override = override_of(res, "ThingGroups", "THING_GROUPS");
    *out = th;
    th = NULL;
out:
    thing_free(th);
    return rc;
}

static void cert_free(struct roost_template_cert *cert)
{
    if (!cert)
        return;
    roost_free(cert->logical_name);
    roost_free(cert->value);
    roost_free(cert->ca_pem);
    roost_free(cert);
}

static int build_cert(struct ectx *c, const char *logical, const json_t *res,
                      struct roost_template_cert **out)
{
    const json_t *props = json_object_get(res, "Properties");
    struct roost_template_cert *cert = roost_xcalloc(1, sizeof(*cert));
    cert->logical_name = roost_xstrdup(logical);
    static const struct {
        const char *prop;
        enum roost_template_cert_source source;
    } sources[] = {
        {"CertificateId", ROOST_TEMPLATE_CERT_ID},
        {"CertificateID", ROOST_TEMPLATE_CERT_ID},
        {"CertificateSigningRequest", ROOST_TEMPLATE_CERT_CSR},
        {"CertificatePem", ROOST_TEMPLATE_CERT_PEM},
    };
    const char *prop = NULL;
    for (size_t i = 0; i < ROOST_ARRAY_LEN(sources) && !prop; i++)
        if (json_object_get(props, sources[i].prop)) {
            prop = sources[i].prop;
            cert->source = sources[i].source;
        }
    ROOST_ASSERT(prop); /* validation saw exactly one */
    char *status = NULL;
    int rc;
    if ((rc = prop_text(c, props, prop, true, &cert->value)) ||
        (rc = prop_text(c, props, "CACertificatePem", false, &cert->ca_pem)) ||
        (rc = prop_text(c, props, "Status", false, &status)))
        goto out;
    cert->active = !status || strcasecmp(status, "ACTIVE") == 0;
    if (status && !cert->active && strcasecmp(status, "INACTIVE") != 0) {
        size_t saved = template__path_key(&c->path, "Status");
        rc = EFAIL(c, "must be ACTIVE or INACTIVE, not '%.32s'", status);
        template__path_pop(&c->path, saved);
        goto out;
    }
    if (c->t->type != ROOST_TEMPLATE_REGISTER) {
        const json_t *id = json_object_get(c->values, TPL_CERT_ID);
        if (json_is_string(id) && strcmp(json_string_value(id), cert->value) != 0) {
            size_t saved = template__path_key(&c->path, prop);
            rc = EFAIL(c,
                       "'%.64s' is not the certificate being provisioned (use {\"Ref\": \"%s\"})",
                       cert->value, TPL_CERT_ID);
            template__path_pop(&c->path, saved);
            goto out;
        }
    }
    cert->status_override = override_of(res, "Status", "STATUS");
    *out = cert;
    cert = NULL;
out:
    roost_free(status);
    cert_free(cert);
    return rc;
}

static void policy_cleanup(struct roost_template_policy *p)
{
    roost_free(p->logical_name);
    roost_free(p->name);
    roost_free(p->document);
}

static int policy_document(struct ectx *c, const json_t *props, char **out)
{
    const json_t *v = json_object_get(props, "PolicyDocument");
    json_t *x = NULL;
    *out = NULL;
    if (!v)
        return 0;
    size_t saved = template__path_key(&c->path, "PolicyDocument");
    int rc = eval(c, v, 1, &x);
    if (rc)
        return rc;
    if (json_is_string(x)) {
        json_error_t jerr;
        json_t *doc = json_loadb(json_string_value(x), json_string_length(x),
                                 JSON_REJECT_DUPLICATES, &jerr);
        if (!json_is_object(doc))
            rc = EFAIL(c, "the policy document is not a JSON object%s%s", doc ? "" : ": ",
                       doc ? "" : jerr.text);
        else
            *out = roost_xstrndup(json_string_value(x), json_string_length(x));
        json_decref(doc);
    } else if (json_is_object(x)) {
        char *text = json_dumps(x, JSON_COMPACT);
        ROOST_ASSERT(text); /* an object of strings, numbers and lists always dumps */
        *out = roost_xstrdup(text);
        json_free_t jfree = NULL;
        json_get_alloc_funcs(NULL, &jfree); /* whatever allocator jansson was given */
        jfree(text);
    } else if (x) {
        rc = EFAIL(c, "must be a policy document (an object or a JSON string), not %s",
                   kind_of(x));
    }
    json_decref(x);
    if (rc == 0)
        template__path_pop(&c->path, saved);
    return rc;
}

static int build_policy(struct ectx *c, const char *logical, const json_t *res,
                        struct roost_template_policy *p)
{
    const json_t *props = json_object_get(res, "Properties");
    p->logical_name = roost_xstrdup(logical);
    int rc = prop_text(c, props, "PolicyName", false, &p->name);
    if (rc)
        return rc;
    if (p->name && !template__valid_policy_name(p->name)) {
        size_t saved = template__path_key(&c->path, "PolicyName");
        rc = EFAIL(c, "'%.64s' is not a valid policy name (1 to 128 of a-z A-Z 0-9 _ + = , . @ -)",
                   p->name);
        template__path_pop(&c->path, saved);
        return rc;
    }
    if ((rc = policy_document(c, props, &p->document)))
        return rc;
    if (!p->name && !p->document)
        return EFAIL(c, "Neither PolicyName nor PolicyDocument is present");
    if (!p->name) {
        p->name = roost_xmalloc(65);
        template__sha256_hex(p->document, strlen(p->document), p->name);
        p->name_generated = true;
    }
    return 0;
}

static int device_configuration(struct ectx *c, json_t *out)
{
    const char *key;
    const json_t *val;
    size_t s0 = template__path_key(&c->path, "DeviceConfiguration");
    size_t base = c->path.len;
    json_object_foreach((json_t *)c->t->device_config, key, val) {
        json_t *x = NULL;
        template__path_key(&c->path, key);
        int rc = eval(c, val, 1, &x);
        if (rc)
            return rc;
        if (x) {
            json_t *s = to_string_value(x);
            if (!s) {
                rc = EFAIL(c, "DeviceConfiguration is flat: values must be strings, not %s",
                           kind_of(x));
                json_decref(x);
                return rc;
            }
            json_object_set_new(out, key, s);
            json_decref(x);
        }
        template__path_pop(&c->path, base);
    }
    template__path_pop(&c->path, s0);
    return 0;
}

static int build_resource(struct ectx *c, const char *logical, const json_t *res,
                          struct roost_template_plan *plan)
{
    const json_t *cond = json_object_get(res, "Condition");
    if (cond) {
        bool on;
        size_t saved = template__path_key(&c->path, "Condition");
        int rc = eval_condition(c, template__cond_index(c->t, json_string_value(cond)), 1, &on);
        if (rc)
            return rc;
        template__path_pop(&c->path, saved);
        if (!on)
            return 0;
    }
    size_t saved = template__path_key(&c->path, "Properties");
    int rc = 0;
    switch (template__res_type(json_string_value(json_object_get(res, "Type")))) {
    case TPL_RES_THING:
        if (plan->thing)
            return EFAIL(c, "a second AWS::IoT::Thing applies (besides '%s'); a template "
                            "provisions one thing",
                         plan->thing->logical_name);
        rc = build_thing(c, logical, res, &plan->thing);
        break;
    case TPL_RES_CERT:
        if (plan->cert)
            return EFAIL(c, "a second AWS::IoT::Certificate applies (besides '%s'); a template "
                            "provisions one certificate",
                         plan->cert->logical_name);
        rc = build_cert(c, logical, res, &plan->cert);
        break;
    case TPL_RES_POLICY:
        if (plan->n_policies == ROOST_TEMPLATE_MAX_POLICIES)
            return EFAIL(c, "more than %d policies apply", ROOST_TEMPLATE_MAX_POLICIES);
        if (!plan->policies)
            plan->policies = roost_xcalloc(ROOST_TEMPLATE_MAX_POLICIES, sizeof(*plan->policies));
        rc = build_policy(c, logical, res, &plan->policies[plan->n_policies++]);
        break;
    }
    if (rc == 0)
        template__path_pop(&c->path, saved);
    return rc;
}

int roost_template_apply(const struct roost_template *t, const json_t *params,
                         struct roost_template_plan **out_plan, char *err, size_t errcap)
{
    struct ectx c = {.t = t, .err = err, .errcap = errcap};
    struct roost_template_plan *plan = roost_xcalloc(1, sizeof(*plan));
    int rc;
    *out_plan = NULL;
    if (err && errcap)
        err[0] = '\0';
    template__path_init(&c.path);
    c.values = json_object();
    c.cond = roost_xmalloc(t->n_conditions ? t->n_conditions : 1);
    memset(c.cond, -1, t->n_conditions);
    plan->device_configuration = json_object();
    if ((rc = resolve_parameters(&c, params)))
        goto out;
    const char *key;
    const json_t *res;
    json_object_foreach((json_t *)t->resources, key, res) {
        size_t s1 = template__path_key(&c.path, "Resources");
        template__path_key(&c.path, key);
        if ((rc = build_resource(&c, key, res, plan)))
            goto out;
        template__path_pop(&c.path, s1);
    }
    if (t->device_config && (rc = device_configuration(&c, plan->device_configuration)))
        goto out;
    *out_plan = plan;
    plan = NULL;
out:
    json_decref(c.values);
    roost_free(c.cond);
    roost_template_plan_free(plan);
    return rc;
}

void roost_template_plan_free(struct roost_template_plan *plan)
{
    if (!plan)
        return;
    thing_free(plan->thing);
    cert_free(plan->cert);
    for (size_t i = 0; i < plan->n_policies; i++)
        policy_cleanup(&plan->policies[i]);
    roost_free(plan->policies);
    json_decref(plan->device_configuration);
    roost_free(plan);
}
