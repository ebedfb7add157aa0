/*
 * template.c - parsing and validating AWS IoT provisioning templates
 * (roost_template_parse): the sections, parameter declarations, mappings,
 * conditions, resources with their properties and override settings, and
 * every intrinsic function call with its arguments. Also the small tables
 * and helpers the evaluator (template_eval.c) shares: functions, pseudo
 * parameters, parameter types, name rules, error paths.
 *
 * Validation does everything that does not depend on parameter values, so a
 * template that parses can only fail to apply because of its parameters. It
 * also bounds how deep evaluation can recurse: expressions and chains of
 * condition references together nest at most ROOST_TEMPLATE_MAX_DEPTH deep,
 * measured through every condition a value can reach.
 */
#include "template/template_int.h"

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

/* ==== Tables ============================================================== */

static const struct {
    const char *name;
    enum tpl_fn fn;
} fn_table[] = {
    {"Ref", TPL_FN_REF},
    {"Fn::Join", TPL_FN_JOIN},
    {"Fn::Select", TPL_FN_SELECT},
    {"Fn::Split", TPL_FN_SPLIT},
    {"Fn::Sub", TPL_FN_SUB},
    {"Fn::FindInMap", TPL_FN_FINDINMAP},
    {"Fn::If", TPL_FN_IF},
    {"Fn::Equals", TPL_FN_EQUALS},
    {"Fn::Not", TPL_FN_NOT},
    {"Fn::And", TPL_FN_AND},
    {"Fn::Or", TPL_FN_OR},
    {"Fn::Base64", TPL_FN_BASE64},
};

const char *template__fn_name(enum tpl_fn fn)
{
    for (size_t i = 0; i < ROOST_ARRAY_LEN(fn_table); i++)
        if (fn_table[i].fn == fn)
            return fn_table[i].name;
    return "?";
}

static enum tpl_fn fn_lookup(const char *key)
{
    for (size_t i = 0; i < ROOST_ARRAY_LEN(fn_table); i++)
        if (strcmp(fn_table[i].name, key) == 0)
            return fn_table[i].fn;
    return TPL_FN_NONE;
}

static bool is_fn_key(const char *key)
{
    return strcmp(key, "Ref") == 0 || strncmp(key, "Fn::", 4) == 0;
}

/* The one member of a one-member object. */
static const char *only_key(const json_t *obj, const json_t **out_val)
{
    void *it = json_object_iter((json_t *)obj);
    *out_val = json_object_iter_value(it);
    return json_object_iter_key(it);
}

enum tpl_fn template__fn_of(const json_t *v, const json_t **out_arg)
{
    if (!json_is_object(v) || json_object_size(v) != 1)
        return TPL_FN_NONE;
    const char *key = only_key(v, out_arg);
    return fn_lookup(key);
}

/* The AWS::IoT::Certificate::* fields JITP takes from the device certificate
 * (plus Id, which is Roost's certificate id), and the account pseudo
 * parameters a policy document may want. The caller supplies the values. */
static const char *const pseudo_params[] = {
    "AWS::IoT::Certificate::Id",
    "AWS::IoT::Certificate::CommonName",
    "AWS::IoT::Certificate::Country",
    "AWS::IoT::Certificate::Organization",
    "AWS::IoT::Certificate::OrganizationalUnit",
    "AWS::IoT::Certificate::DistinguishedNameQualifier",
    "AWS::IoT::Certificate::StateName",
    "AWS::IoT::Certificate::Locality",
    "AWS::IoT::Certificate::Title",
    "AWS::IoT::Certificate::SerialNumber",
    "AWS::IoT::Certificate::Email",
    "AWS::Region",
    "AWS::AccountId",
    "AWS::Partition",
};

bool template__is_pseudo(const char *name)
{
    for (size_t i = 0; i < ROOST_ARRAY_LEN(pseudo_params); i++)
        if (strcmp(pseudo_params[i], name) == 0)
            return true;
    return false;
}

bool template__is_policy_var(const char *name, size_t n)
{
    return (n > 4 && memcmp(name, "iot:", 4) == 0) || (n > 4 && memcmp(name, "aws:", 4) == 0);
}

enum tpl_res template__res_type(const char *type)
{
    if (strcmp(type, "AWS::IoT::Thing") == 0)
        return TPL_RES_THING;
    if (strcmp(type, "AWS::IoT::Certificate") == 0)
        return TPL_RES_CERT;
    if (strcmp(type, "AWS::IoT::Policy") == 0)
        return TPL_RES_POLICY;
    return 0;
}

enum tpl_ptype template__ptype(const char *type)
{
    if (strcmp(type, "String") == 0)
        return TPL_P_STRING;
    if (strcmp(type, "Number") == 0)
        return TPL_P_NUMBER;
    if (strcmp(type, "List<Number>") == 0)
        return TPL_P_LIST_NUMBER;
    if (strcmp(type, "CommaDelimitedList") == 0 || strcmp(type, "List<String>") == 0)
        return TPL_P_LIST_STRING;
    return 0;
}

long template__cond_index(const struct roost_template *t, const char *name)
{
    for (size_t i = 0; i < t->n_conditions; i++)
        if (strcmp(t->cond_names[i], name) == 0)
            return (long)i;
    return -1;
}

static const char *const override_names[] = {"DO_NOTHING", "REPLACE", "FAIL", "MERGE"};

const char *roost_override_name(enum roost_override o)
{
    return (unsigned)o < ROOST_ARRAY_LEN(override_names) ? override_names[o] : "?";
}

int template__override_parse(const char *s, enum roost_override *out_o)
{
    for (size_t i = 0; i < ROOST_ARRAY_LEN(override_names); i++)
        if (strcmp(override_names[i], s) == 0) {
            *out_o = (enum roost_override)i;
            return 0;
        }
    return ROOST_EINVAL;
}

const json_t *template__override_get(const json_t *settings, const char *prop,
                                      const char *alias)
{
    const json_t *v = json_object_get(settings, prop);
    return v ? v : json_object_get(settings, alias);
}

bool roost_template_name_valid(const char *s, size_t n)
{
    if (!s || n == 0 || n > ROOST_TEMPLATE_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-'))
            return false;
    }
    return true;
}

int roost_template_type_parse(const char *name, enum roost_template_type *out_type)
{
    if (name && strcmp(name, "FLEET_PROVISIONING") == 0)
        *out_type = ROOST_TEMPLATE_FLEET;
    else if (name && strcmp(name, "JITP") == 0)
        *out_type = ROOST_TEMPLATE_JITP;
    else
        return ROOST_EINVAL;
    return 0;
}

const char *roost_template_type_name(enum roost_template_type type)
{
    switch (type) {
    case ROOST_TEMPLATE_FLEET:
        return "FLEET_PROVISIONING";
    case ROOST_TEMPLATE_JITP:
        return "JITP";
    case ROOST_TEMPLATE_REGISTER:
        break;
    }
    return "REGISTER_THING";
}

/* ==== Names ================================================================ */

static bool all_in(const char *s, size_t min, size_t max, const char *extra)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++, n++) {
        bool ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                  (*p >= '0' && *p <= '9') || strchr(extra, *p) != NULL;
        if (!ok || n >= max)
            return false;
    }
    return n >= min;
}

bool template__valid_thing_name(const char *s) { return all_in(s, 1, 128, ":_-"); }
bool template__valid_policy_name(const char *s) { return all_in(s, 1, 128, "_+=,.@-"); }
bool template__valid_attr_name(const char *s) { return all_in(s, 1, 128, "_.,@/:#-"); }
bool template__valid_attr_value(const char *s) { return all_in(s, 0, 800, "_.,@/:#=[]-"); }

/* ==== Error paths ========================================================== */

/* Appends sep and s, both or neither. What does not fit is replaced by
 * "...", once: after the cut nothing more is appended until a pop. */
static size_t path_append(struct tpl_path *p, const char *sep, const char *s)
{
    size_t saved = p->len;
    size_t ns = strlen(sep), n = strlen(s);
    if (p->len >= 3 && memcmp(p->buf + p->len - 3, "...", 3) == 0)
        return saved;
    if (p->len + ns + n + 1 > sizeof(p->buf)) {
        if (p->len + 4 <= sizeof(p->buf))
            memcpy(p->buf + p->len, "...", 4), p->len += 3;
        return saved;
    }
    memcpy(p->buf + p->len, sep, ns);
    memcpy(p->buf + p->len + ns, s, n + 1);
    p->len += ns + n;
    return saved;
}

size_t template__path_key(struct tpl_path *p, const char *key)
{
    return path_append(p, p->len > 0 ? "." : "", key);
}

size_t template__path_index(struct tpl_path *p, size_t i)
{
    char b[32];
    snprintf(b, sizeof(b), "[%zu]", i);
    return path_append(p, "", b);
}

int template__fail(char *err, size_t errcap, const struct tpl_path *p, int rc,
                    const char *fmt, ...)
{
    if (!err || errcap == 0)
        return rc;
    size_t off = 0;
    if (p && p->len > 0) {
        int n = snprintf(err, errcap, "%s: ", p->buf);
        off = n < 0 ? 0 : ROOST_MIN((size_t)n, errcap - 1);
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err + off, errcap - off, fmt, ap);
    va_end(ap);
    return rc;
}

/* ==== Validation =========================================================== */

struct vctx {
    struct roost_template *t;
    struct tpl_path path;
    char *err;
    size_t errcap;
    uint8_t *cond_state;           /* per condition: 0 unchecked, 1 being checked, 2 done */
    int *cond_height;              /* per checked condition: how deep evaluating it goes */
    int maxd;                      /* deepest level reached in the current condition */
};

#define VFAIL(c, ...) template__fail((c)->err, (c)->errcap, &(c)->path, ROOST_EPROTO, __VA_ARGS__)

static int check_expr(struct vctx *c, const json_t *v, bool in_cond, int depth);

static bool is_array_n(const json_t *v, size_t n)
{
    return json_is_array(v) && json_array_size(v) == n;
}

static bool is_call(const json_t *v)
{
    const json_t *arg;
    return template__fn_of(v, &arg) != TPL_FN_NONE;
}

static int check_depth(struct vctx *c, int depth)
{
    if (depth > ROOST_TEMPLATE_MAX_DEPTH)
        return VFAIL(c, "functions, values and condition references nest more than %d levels "
                        "deep",
                     ROOST_TEMPLATE_MAX_DEPTH);
    if (depth > c->maxd)
        c->maxd = depth;
    return 0;
}

static int visit_condition(struct vctx *c, long idx, int depth);

/* A condition named by Fn::If, a resource's Condition or {"Condition": name}. */
static int check_cond_ref(struct vctx *c, const json_t *v, int depth)
{
    if (!json_is_string(v))
        return VFAIL(c, "a condition reference must be the name of a condition (a string)");
    long idx = template__cond_index(c->t, json_string_value(v));
    if (idx < 0)
        return VFAIL(c, "no condition named '%s' in Conditions", json_string_value(v));
    return visit_condition(c, idx, depth);
}

static int visit_condition(struct vctx *c, long idx, int depth)
{
    const char *name = c->t->cond_names[idx];
    if (c->cond_state[idx] == 1)
        return VFAIL(c, "circular reference: condition '%s' depends on itself", name);
    if (c->cond_state[idx] == 2) {
        if (depth + c->cond_height[idx] > ROOST_TEMPLATE_MAX_DEPTH)
            return check_depth(c, depth + c->cond_height[idx]);
        if (depth + c->cond_height[idx] > c->maxd)
            c->maxd = depth + c->cond_height[idx];
        return 0;
    }
    c->cond_state[idx] = 1;
    int outer_maxd = c->maxd;
    c->maxd = depth;
    /* Report a problem inside the condition at the condition, wherever the
     * reference that led there was. */
    struct tpl_path outer = c->path;
    template__path_init(&c->path);
    template__path_key(&c->path, "Conditions");
    template__path_key(&c->path, name);
    int rc = check_expr(c, json_object_get(c->t->conditions, name), true, depth + 1);
    if (rc == 0) {
        c->path = outer;
        c->cond_state[idx] = 2;
        c->cond_height[idx] = c->maxd - depth;
        c->maxd = ROOST_MAX(outer_maxd, c->maxd);
    }
    return rc;
}

/* A value that must become a string: a literal scalar or a call. */
static int check_scalar_arg(struct vctx *c, const json_t *v, int depth, const char *what)
{
    if (json_is_string(v) || json_is_number(v))
        return 0;
    if (json_is_object(v) && is_call(v))
        return check_expr(c, v, false, depth);
    if (json_is_object(v)) /* a literal object: let check_expr name a bad Fn:: key */
        return check_expr(c, v, false, depth) ? ROOST_EPROTO
                                              : VFAIL(c, "%s must be a string", what);
    return VFAIL(c, "%s must be a string", what);
}

/* Argument `i` of `arr` that must be a list: a literal array or a call. */
static int check_list_arg(struct vctx *c, const json_t *arr, size_t i, int depth)
{
    const json_t *v = json_array_get(arr, i);
    size_t saved = template__path_index(&c->path, i);
    int rc;
    if (json_is_array(v) || (json_is_object(v) && is_call(v)))
        rc = check_expr(c, v, false, depth);
    else if (json_is_object(v) && check_expr(c, v, false, depth))
        rc = ROOST_EPROTO;
    else
        rc = VFAIL(c, "expected a list");
    template__path_pop(&c->path, saved);
    return rc;
}

static int check_ref_name(struct vctx *c, const char *name)
{
    if (json_object_get(c->t->parameters, name) || template__is_pseudo(name) ||
        strcmp(name, TPL_NOVALUE) == 0)
        return 0;
    if (json_object_get(c->t->resources, name))
        return VFAIL(c, "Ref to resource '%s': provisioning templates can only Ref parameters",
                     name);
    return VFAIL(c, "Ref to undeclared parameter '%s'", name);
}

/* The ${...} of an Fn::Sub string: each a declared parameter, a pseudo
 * parameter, a variable of the two-argument form, or an IoT policy variable
 * (kept as is); ${!x} is the literal text ${x}. */
static int check_sub(struct vctx *c, const char *s, const json_t *vars)
{
    for (const char *p = s; (p = strstr(p, "${")) != NULL;) {
        const char *name = p + 2;
        const char *end = strchr(name, '}');
        if (!end)
            return VFAIL(c, "unterminated '${' in Fn::Sub string");
        size_t n = (size_t)(end - name);
        p = end + 1;
        if (n > 0 && name[0] == '!')
            continue;
        if (n == 0)
            return VFAIL(c, "empty '${}' in Fn::Sub string");
        char key[256];
        if (n >= sizeof(key))
            return VFAIL(c, "Fn::Sub variable '${%.32s...}' is too long", name);
        memcpy(key, name, n);
        key[n] = '\0';
        if ((vars && json_object_get(vars, key)) || json_object_get(c->t->parameters, key) ||
            template__is_pseudo(key) || template__is_policy_var(key, n))
            continue;
        if (memchr(key, '.', n))
            return VFAIL(c, "Fn::Sub variable '${%s}' names a resource attribute; provisioning "
                            "templates have none",
                         key);
        return VFAIL(c, "Fn::Sub variable '${%s}' is not a declared parameter", key);
    }
    return 0;
}

static int check_fn(struct vctx *c, enum tpl_fn fn, const json_t *arg, int depth)
{
    size_t saved;
    int rc = 0;
    switch (fn) {
    case TPL_FN_NONE:
        break;
    case TPL_FN_REF:
        if (!json_is_string(arg))
            return VFAIL(c, "Ref takes the name of a parameter (a string)");
        return check_ref_name(c, json_string_value(arg));
    case TPL_FN_JOIN:
        if (!is_array_n(arg, 2) || !json_is_string(json_array_get(arg, 0)))
            return VFAIL(c, "Fn::Join takes [\"delimiter\", [values...]]");
        return check_list_arg(c, arg, 1, depth);
    case TPL_FN_SELECT: {
        if (!is_array_n(arg, 2))
            return VFAIL(c, "Fn::Select takes [index, [values...]]");
        const json_t *idx = json_array_get(arg, 0);
        saved = template__path_index(&c->path, 0);
        if (json_is_integer(idx) && json_integer_value(idx) < 0)
            rc = VFAIL(c, "Fn::Select index must not be negative");
        else if (json_is_real(idx))
            rc = VFAIL(c, "Fn::Select index must be a whole number");
        else if (json_is_string(idx)) {
            uint64_t u;
            if (roost_parse_u64(json_string_value(idx), 0, UINT32_MAX, &u))
                rc = VFAIL(c, "Fn::Select index '%s' is not a whole number",
                           json_string_value(idx));
        } else if (!json_is_integer(idx))
            rc = check_scalar_arg(c, idx, depth, "Fn::Select index");
        template__path_pop(&c->path, saved);
        return rc ? rc : check_list_arg(c, arg, 1, depth);
    }
    case TPL_FN_SPLIT:
        if (!is_array_n(arg, 2) || !json_is_string(json_array_get(arg, 0)) ||
            json_string_length(json_array_get(arg, 0)) == 0)
            return VFAIL(c, "Fn::Split takes [\"delimiter\", string] with a non-empty delimiter");
        saved = template__path_index(&c->path, 1);
        rc = check_scalar_arg(c, json_array_get(arg, 1), depth, "Fn::Split's source");
        template__path_pop(&c->path, saved);
        return rc;
    case TPL_FN_SUB:
        if (json_is_string(arg))
            return check_sub(c, json_string_value(arg), NULL);
        if (is_array_n(arg, 2) && json_is_string(json_array_get(arg, 0)) &&
            json_is_object(json_array_get(arg, 1))) {
            const json_t *vars = json_array_get(arg, 1);
            const char *key;
            const json_t *val;
            saved = template__path_index(&c->path, 1);
            json_object_foreach((json_t *)vars, key, val) {
                size_t s2 = template__path_key(&c->path, key);
                rc = check_scalar_arg(c, val, depth, "an Fn::Sub variable");
                template__path_pop(&c->path, s2);
                if (rc)
                    break;
            }
            template__path_pop(&c->path, saved);
            return rc ? rc : check_sub(c, json_string_value(json_array_get(arg, 0)), vars);
        }
        return VFAIL(c, "Fn::Sub takes a string or [string, {name: value}]");
    case TPL_FN_FINDINMAP:
        if (!is_array_n(arg, 3))
            return VFAIL(c, "Fn::FindInMap takes [map, key, key]");
        for (size_t i = 0; i < 3 && rc == 0; i++) {
            saved = template__path_index(&c->path, i);
            rc = check_scalar_arg(c, json_array_get(arg, i), depth, "an Fn::FindInMap key");
            template__path_pop(&c->path, saved);
        }
        if (rc == 0 && json_is_string(json_array_get(arg, 0)) &&
            !json_object_get(c->t->mappings, json_string_value(json_array_get(arg, 0))))
            return VFAIL(c, "no mapping named '%s' in Mappings",
                         json_string_value(json_array_get(arg, 0)));
        return rc;
    case TPL_FN_IF:
        if (!is_array_n(arg, 3))
            return VFAIL(c, "Fn::If takes [condition, value if true, value if false]");
        saved = template__path_index(&c->path, 0);
        rc = check_cond_ref(c, json_array_get(arg, 0), depth);
        template__path_pop(&c->path, saved);
        for (size_t i = 1; i < 3 && rc == 0; i++) {
            saved = template__path_index(&c->path, i);
            rc = check_expr(c, json_array_get(arg, i), false, depth);
            template__path_pop(&c->path, saved);
        }
        return rc;
    case TPL_FN_EQUALS:
        if (!is_array_n(arg, 2))
            return VFAIL(c, "Fn::Equals takes [value, value]");
        return check_expr(c, arg, false, depth);
    case TPL_FN_NOT:
    case TPL_FN_AND:
    case TPL_FN_OR: {
        size_t n = json_is_array(arg) ? json_array_size(arg) : 0;
        if (fn == TPL_FN_NOT && n != 1)
            return VFAIL(c, "Fn::Not takes [condition]");
        if (fn != TPL_FN_NOT && (n < 2 || n > 10))
            return VFAIL(c, "%s takes a list of 2 to 10 conditions", template__fn_name(fn));
        for (size_t i = 0; i < n && rc == 0; i++) {
            saved = template__path_index(&c->path, i);
            rc = check_expr(c, json_array_get(arg, i), true, depth);
            template__path_pop(&c->path, saved);
        }
        return rc;
    }
    case TPL_FN_BASE64:
        return check_scalar_arg(c, arg, depth, "Fn::Base64's argument");
    }
    return rc;
}

/* Any value: a literal (checked member by member) or a call. In a condition
 * context ({"Condition": name} is a reference there) when in_cond. */
static int check_expr(struct vctx *c, const json_t *v, bool in_cond, int depth)
{
    int rc = check_depth(c, depth);
    if (rc)
        return rc;
    if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v) && rc == 0; i++) {
            size_t saved = template__path_index(&c->path, i);
            rc = check_expr(c, json_array_get(v, i), false, depth + 1);
            template__path_pop(&c->path, saved);
        }
        return rc;
    }
    if (!json_is_object(v))
        return 0;
    const char *key;
    const json_t *val;
    if (in_cond && json_object_size(v) == 1 && json_object_get(v, "Condition")) {
        size_t saved = template__path_key(&c->path, "Condition");
        rc = check_cond_ref(c, json_object_get(v, "Condition"), depth + 1);
        template__path_pop(&c->path, saved);
        return rc;
    }
    json_object_foreach((json_t *)v, key, val) {
        if (!is_fn_key(key))
            continue;
        if (json_object_size(v) != 1)
            return VFAIL(c, "an object calling '%s' must have no other member", key);
        size_t saved = template__path_key(&c->path, key);
        enum tpl_fn fn = fn_lookup(key);
        if (fn == TPL_FN_NONE)
            rc = VFAIL(c, "unknown or unsupported function '%s'", key);
        else
            rc = check_fn(c, fn, val, depth + 1);
        template__path_pop(&c->path, saved);
        return rc;
    }
    json_object_foreach((json_t *)v, key, val) {
        size_t saved = template__path_key(&c->path, key);
        rc = check_expr(c, val, false, depth + 1);
        template__path_pop(&c->path, saved);
        if (rc)
            return rc;
    }
    return 0;
}

/* ---- Sections ------------------------------------------------------------ */

static bool is_scalar(const json_t *v) { return json_is_string(v) || json_is_number(v); }

static bool is_scalar_list(const json_t *v)
{
    if (!json_is_array(v))
        return false;
    for (size_t i = 0; i < json_array_size(v); i++)
        if (!is_scalar(json_array_get(v, i)))
            return false;
    return true;
}

static bool is_natural(const json_t *v)
{
    return json_is_integer(v) && json_integer_value(v) >= 0;
}

/* AllowedPattern is a POSIX extended regular expression that must match a
 * whole value. Back references are refused: they can make matching take
 * exponential time on what a device sends. The pattern is compiled as it is
 * (wrapping it in ^(...)$ would let "a)|(b" escape the anchors);
 * template__pattern_match checks the span instead. */
int template__pattern_compile(const char *pattern, regex_t *out_re)
{
    for (const char *p = pattern; *p; p++)
        if (p[0] == '\\' && p[1] >= '1' && p[1] <= '9')
            return ROOST_EINVAL;
    if (strlen(pattern) > 1024)
        return ROOST_EINVAL;
    return regcomp(out_re, pattern, REG_EXTENDED) ? ROOST_EINVAL : 0;
}

bool template__pattern_match(const regex_t *re, const char *s)
{
    /* POSIX matching is leftmost-longest: if any match spans the whole
     * value, the one reported does. */
    regmatch_t m[1];
    return regexec(re, s, 1, m, 0) == 0 && m[0].rm_so == 0 &&
           (size_t)m[0].rm_eo == strlen(s);
}

static int check_parameter(struct vctx *c, const char *name, const json_t *decl)
{
    static const char *const known[] = {"Type",      "Default",     "AllowedValues",
                                        "AllowedPattern", "MinLength", "MaxLength",
                                        "MinValue",  "MaxValue",    "Description",
                                        "ConstraintDescription", "NoEcho"};
    if (!*name)
        return VFAIL(c, "a parameter needs a name");
    if (!json_is_object(decl))
        return VFAIL(c, "a parameter declaration must be an object");
    const char *key;
    const json_t *val;
    json_object_foreach((json_t *)decl, key, val) {
        size_t i = 0;
        while (i < ROOST_ARRAY_LEN(known) && strcmp(known[i], key) != 0)
            i++;
        if (i == ROOST_ARRAY_LEN(known))
            return VFAIL(c, "unknown parameter attribute '%s'", key);
    }
    const json_t *type = json_object_get(decl, "Type");
    if (!json_is_string(type))
        return VFAIL(c, "Type is required (String, Number, List<Number>, CommaDelimitedList)");
    enum tpl_ptype pt = template__ptype(json_string_value(type));
    if (!pt)
        return VFAIL(c, "unsupported Type '%s' (String, Number, List<Number>, "
                        "CommaDelimitedList, List<String>)",
                     json_string_value(type));
    const json_t *def = json_object_get(decl, "Default");
    bool list = pt == TPL_P_LIST_NUMBER || pt == TPL_P_LIST_STRING;
    if (def && !is_scalar(def) && !(list && is_scalar_list(def)))
        return VFAIL(c, "Default must be a %s", list ? "string or a list of strings" : "string");
    const json_t *allowed = json_object_get(decl, "AllowedValues");
    if (allowed && (!is_scalar_list(allowed) || json_array_size(allowed) == 0))
        return VFAIL(c, "AllowedValues must be a non-empty list of strings");
    const json_t *pattern = json_object_get(decl, "AllowedPattern");
    if (pattern) {
        regex_t re;
        if (!json_is_string(pattern) || template__pattern_compile(json_string_value(pattern), &re))
            return VFAIL(c, "AllowedPattern must be a POSIX extended regular expression "
                            "without back references");
        regfree(&re);
    }
    const char *nat[] = {"MinLength", "MaxLength"};
    for (size_t i = 0; i < 2; i++)
        if (json_object_get(decl, nat[i]) && !is_natural(json_object_get(decl, nat[i])))
            return VFAIL(c, "%s must be a non-negative integer", nat[i]);
    const char *num[] = {"MinValue", "MaxValue"};
    for (size_t i = 0; i < 2; i++)
        if (json_object_get(decl, num[i]) && !json_is_number(json_object_get(decl, num[i])))
            return VFAIL(c, "%s must be a number", num[i]);
    return 0;
}

static int check_section_entries(struct vctx *c, const json_t *section,
                                 int (*fn)(struct vctx *, const char *, const json_t *))
{
    const char *key;
    const json_t *val;
    json_object_foreach((json_t *)section, key, val) {
        size_t saved = template__path_key(&c->path, key);
        int rc = fn(c, key, val);
        template__path_pop(&c->path, saved);
        if (rc)
            return rc;
    }
    return 0;
}

static int check_mapping(struct vctx *c, const char *name, const json_t *map)
{
    if (!json_is_object(map))
        return VFAIL(c, "a mapping must be an object of objects");
    const char *k1;
    const json_t *level2;
    json_object_foreach((json_t *)map, k1, level2) {
        size_t s1 = template__path_key(&c->path, k1);
        if (!json_is_object(level2))
            return VFAIL(c, "a mapping's first-level value must be an object");
        const char *k2;
        const json_t *val;
        json_object_foreach((json_t *)level2, k2, val) {
            if (!is_scalar(val) && !json_is_boolean(val) && !is_scalar_list(val)) {
                template__path_key(&c->path, k2);
                return VFAIL(c, "mapping values must be strings or lists of strings "
                                "(no functions in Mappings)");
            }
        }
        template__path_pop(&c->path, s1);
    }
    ROOST_UNUSED(name);
    return 0;
}

/* What a property must resolve to, as far as a literal can tell. */
enum prop_kind { PROP_STRING, PROP_LIST, PROP_OBJECT, PROP_DOCUMENT };

static int check_prop(struct vctx *c, const json_t *props, const char *name,
                      enum prop_kind kind)
{
    const json_t *v = json_object_get(props, name);
    if (!v)
        return 0;
    size_t saved = template__path_key(&c->path, name);
    /* Calls first, so a misspelt function is named as such. */
    int rc = check_expr(c, v, false, 1);
    if (rc == 0 && !is_call(v)) {
        switch (kind) {
        case PROP_STRING:
            if (json_is_array(v) || json_is_object(v) || json_is_null(v))
                rc = VFAIL(c, "must be a string");
            break;
        case PROP_LIST:
            if (!json_is_array(v))
                rc = VFAIL(c, "must be a list of strings");
            break;
        case PROP_OBJECT:
            if (!json_is_object(v))
                rc = VFAIL(c, "must be an object of name-value pairs");
            break;
        case PROP_DOCUMENT:
            if (json_is_string(v)) {
                json_error_t jerr;
                json_t *doc = json_loads(json_string_value(v), JSON_REJECT_DUPLICATES, &jerr);
                if (!json_is_object(doc))
                    rc = VFAIL(c, "the policy document is not a JSON object%s%s",
                               doc ? "" : ": ", doc ? "" : jerr.text);
                json_decref(doc);
            } else if (!json_is_object(v))
                rc = VFAIL(c, "must be a policy document (an object or a JSON string)");
            break;
        }
    }
    if (rc == 0)
        template__path_pop(&c->path, saved);
    return rc;
}

static int check_known(struct vctx *c, const json_t *obj, const char *const *known, size_t n,
                       const char *what)
{
    const char *key;
    const json_t *val;
    json_object_foreach((json_t *)obj, key, val) {
        size_t i = 0;
        while (i < n && strcmp(known[i], key) != 0)
            i++;
        if (i == n)
            return VFAIL(c, "unknown %s '%s'", what, key);
    }
    return 0;
}

static int check_overrides(struct vctx *c, const json_t *os, enum tpl_res type)
{
    if (!json_is_object(os))
        return VFAIL(c, "must be an object of property: action");
    const char *key;
    const json_t *val;
    json_object_foreach((json_t *)os, key, val) {
        size_t saved = template__path_key(&c->path, key);
        bool mergeable = false, known = false;
        if (type == TPL_RES_THING) {
            mergeable = !strcmp(key, "AttributePayload") || !strcmp(key, "ATTRIBUTE_PAYLOAD") ||
                        !strcmp(key, "ThingGroups") || !strcmp(key, "THING_GROUPS");
            known = mergeable || !strcmp(key, "ThingTypeName") || !strcmp(key, "THING_TYPE_NAME");
        } else {
            known = !strcmp(key, "Status") || !strcmp(key, "STATUS");
        }
        enum roost_override o;
        if (!known)
            return VFAIL(c, "no override setting for this property");
        if (!json_is_string(val) || template__override_parse(json_string_value(val), &o))
            return VFAIL(c, "must be DO_NOTHING, REPLACE, FAIL or MERGE");
        if (o == ROOST_OVERRIDE_MERGE && !mergeable)
            return VFAIL(c, "MERGE is only for AttributePayload and ThingGroups");
        template__path_pop(&c->path, saved);
    }
    return 0;
}

static int check_thing(struct vctx *c, const json_t *props)
{
    static const char *const known[] = {"ThingName", "ThingTypeName", "ThingGroups",
                                        "BillingGroup", "AttributePayload"};
    int rc = check_known(c, props, known, ROOST_ARRAY_LEN(known), "thing property");
    if (rc)
        return rc;
    if (!json_object_get(props, "ThingName"))
        return VFAIL(c, "ThingName is required");
    if ((rc = check_prop(c, props, "ThingName", PROP_STRING)) ||
        (rc = check_prop(c, props, "ThingTypeName", PROP_STRING)) ||
        (rc = check_prop(c, props, "BillingGroup", PROP_STRING)) ||
        (rc = check_prop(c, props, "ThingGroups", PROP_LIST)) ||
        (rc = check_prop(c, props, "AttributePayload", PROP_OBJECT)))
        return rc;
    return 0;
}

static int check_cert(struct vctx *c, const json_t *props)
{
    static const char *const known[] = {"CertificateId", "CertificateID",
                                        "CertificateSigningRequest", "CertificatePem",
                                        "CACertificatePem", "Status"};
    int rc = check_known(c, props, known, ROOST_ARRAY_LEN(known), "certificate property");
    if (rc)
        return rc;
    bool by_id = json_object_get(props, "CertificateId") || json_object_get(props, "CertificateID");
    int sources = (json_object_get(props, "CertificateId") != NULL) +
                  (json_object_get(props, "CertificateID") != NULL) +
                  (json_object_get(props, "CertificateSigningRequest") != NULL) +
                  (json_object_get(props, "CertificatePem") != NULL);
    if (sources != 1)
        return VFAIL(c, "exactly one of CertificateId, CertificateSigningRequest and "
                        "CertificatePem is required");
    if (json_object_get(props, "CACertificatePem") && !json_object_get(props, "CertificatePem"))
        return VFAIL(c, "CACertificatePem goes only with CertificatePem");
    if (c->t->type != ROOST_TEMPLATE_REGISTER && !by_id)
        return VFAIL(c, "%s templates name the certificate by CertificateId only",
                     roost_template_type_name(c->t->type));
    const json_t *status = json_object_get(props, "Status");
    if (json_is_string(status) && strcasecmp(json_string_value(status), "ACTIVE") != 0 &&
        strcasecmp(json_string_value(status), "INACTIVE") != 0) {
        size_t saved = template__path_key(&c->path, "Status");
        rc = VFAIL(c, "must be ACTIVE or INACTIVE");
        template__path_pop(&c->path, saved);
        return rc;
    }
    for (size_t i = 0; i < ROOST_ARRAY_LEN(known); i++)
        if ((rc = check_prop(c, props, known[i], PROP_STRING)))
            return rc;
    return 0;
}

static int check_policy(struct vctx *c, const json_t *props)
{
    static const char *const known[] = {"PolicyName", "PolicyDocument"};
    int rc = check_known(c, props, known, ROOST_ARRAY_LEN(known), "policy property");
    if (rc)
        return rc;
    if (!json_object_get(props, "PolicyName") && !json_object_get(props, "PolicyDocument"))
        return VFAIL(c, "Neither PolicyName nor PolicyDocument is present");
    if ((rc = check_prop(c, props, "PolicyName", PROP_STRING)) ||
        (rc = check_prop(c, props, "PolicyDocument", PROP_DOCUMENT)))
        return rc;
    return 0;
}

static int check_resource(struct vctx *c, const char *name, const json_t *res)
{
    static const char *const known[] = {"Type", "Properties", "OverrideSettings", "Condition"};
    if (!json_is_object(res))
        return VFAIL(c, "a resource must be an object");
    int rc = check_known(c, res, known, ROOST_ARRAY_LEN(known), "resource member");
    if (rc)
        return rc;
    const json_t *type = json_object_get(res, "Type");
    if (!json_is_string(type))
        return VFAIL(c, "Type is required");
    enum tpl_res rt = template__res_type(json_string_value(type));
    if (!rt)
        return VFAIL(c, "unsupported resource Type '%s' (AWS::IoT::Thing, "
                        "AWS::IoT::Certificate, AWS::IoT::Policy)",
                     json_string_value(type));
    const json_t *cond = json_object_get(res, "Condition");
    if (cond) {
        size_t saved = template__path_key(&c->path, "Condition");
        rc = check_cond_ref(c, cond, 1);
        if (rc)
            return rc;
        template__path_pop(&c->path, saved);
    }
    const json_t *props = json_object_get(res, "Properties");
    size_t saved = template__path_key(&c->path, "Properties");
    if (!json_is_object(props))
        return VFAIL(c, "an object of properties is required");
    rc = rt == TPL_RES_THING ? check_thing(c, props)
         : rt == TPL_RES_CERT ? check_cert(c, props)
                              : check_policy(c, props);
    if (rc)
        return rc;
    template__path_pop(&c->path, saved);
    const json_t *os = json_object_get(res, "OverrideSettings");
    if (os) {
        saved = template__path_key(&c->path, "OverrideSettings");
        if (rt == TPL_RES_POLICY)
            return VFAIL(c, "override settings are not available for policies");
        if ((rc = check_overrides(c, os, rt)))
            return rc;
        template__path_pop(&c->path, saved);
    }
    ROOST_UNUSED(name);
    return 0;
}

static int check_device_config_entry(struct vctx *c, const char *key, const json_t *v)
{
    ROOST_UNUSED(key);
    int rc = check_expr(c, v, false, 1); /* calls first, as in check_prop */
    if (rc == 0 && ((json_is_object(v) && !is_call(v)) || json_is_array(v)))
        rc = VFAIL(c, "DeviceConfiguration is flat: values must be strings");
    return rc;
}

static int check_condition_entry(struct vctx *c, const char *key, const json_t *v)
{
    ROOST_UNUSED(v);
    /* visit_condition sets its own path. */
    struct tpl_path saved = c->path;
    int rc = visit_condition(c, template__cond_index(c->t, key), 0);
    if (rc == 0)
        c->path = saved;
    return rc;
}

/* ---- The whole template -------------------------------------------------- */

static int check_sections(struct vctx *c)
{
    struct roost_template *t = c->t;
    static const char *const objects[] = {"Parameters", "Mappings", "Conditions", "Resources",
                                          "DeviceConfiguration"};
    static const char *const texts[] = {"AWSTemplateFormatVersion", "Version", "Description"};
    const char *key;
    const json_t *val;
    json_object_foreach(t->root, key, val) {
        size_t saved = template__path_key(&c->path, key);
        bool found = false;
        for (size_t i = 0; i < ROOST_ARRAY_LEN(objects); i++)
            if (strcmp(objects[i], key) == 0) {
                if (!json_is_object(val))
                    return VFAIL(c, "the section must be an object");
                found = true;
            }
        for (size_t i = 0; i < ROOST_ARRAY_LEN(texts); i++)
            if (strcmp(texts[i], key) == 0)
                found = true;
        if (!found && strcmp(key, "Metadata") != 0)
            return VFAIL(c, "unknown template section");
        template__path_pop(&c->path, saved);
    }
    t->parameters = json_object_get(t->root, "Parameters");
    t->mappings = json_object_get(t->root, "Mappings");
    t->conditions = json_object_get(t->root, "Conditions");
    t->resources = json_object_get(t->root, "Resources");
    t->device_config = json_object_get(t->root, "DeviceConfiguration");
    if (!t->resources)
        return VFAIL(c, "the template has no Resources section");
    return 0;
}

static int count_resources(struct vctx *c)
{
    size_t n = json_object_size(c->t->resources);
    size_t saved = template__path_key(&c->path, "Resources");
    int rc = 0;
    if (n > ROOST_TEMPLATE_MAX_RESOURCES)
        rc = VFAIL(c, "%zu resources; a template may declare at most %d", n,
                   ROOST_TEMPLATE_MAX_RESOURCES);
    template__path_pop(&c->path, saved);
    return rc;
}

static int validate(struct vctx *c)
{
    struct roost_template *t = c->t;
    int rc = check_sections(c);
    if (rc)
        return rc;
    t->n_conditions = json_object_size(t->conditions);
    if (t->n_conditions) {
        t->cond_names = roost_xcalloc(t->n_conditions, sizeof(*t->cond_names));
        c->cond_state = roost_xcalloc(t->n_conditions, 1);
        c->cond_height = roost_xcalloc(t->n_conditions, sizeof(int));
        size_t i = 0;
        const char *key;
        const json_t *val;
        json_object_foreach((json_t *)t->conditions, key, val)
            t->cond_names[i++] = key;
    }
    struct {
        const json_t *section;
        const char *name;
        int (*fn)(struct vctx *, const char *, const json_t *);
    } steps[] = {
        {t->parameters, "Parameters", check_parameter},
        {t->mappings, "Mappings", check_mapping},
        {t->conditions, "Conditions", check_condition_entry},
        {t->resources, "Resources", check_resource},
        {t->device_config, "DeviceConfiguration", check_device_config_entry},
    };
    if ((rc = count_resources(c)))
        return rc;
    for (size_t i = 0; i < ROOST_ARRAY_LEN(steps) && rc == 0; i++) {
        if (!steps[i].section)
            continue;
        size_t saved = template__path_key(&c->path, steps[i].name);
        rc = check_section_entries(c, steps[i].section, steps[i].fn);
        if (rc == 0)
            template__path_pop(&c->path, saved);
    }
    return rc;
}

/* AWS counts characters; so do we (UTF-8 continuation bytes are not one). */
static size_t count_chars(const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += ((unsigned char)s[i] & 0xC0) != 0x80;
    return n;
}

int roost_template_parse(const char *body, size_t len, enum roost_template_type type,
                         struct roost_template **out_t, char *err, size_t errcap)
{
    struct roost_template *t = NULL;
    struct vctx c = {.err = err, .errcap = errcap};
    int rc = 0;
    *out_t = NULL;
    if (err && errcap)
        err[0] = '\0';
    size_t chars = count_chars(body, len);
    if (chars > ROOST_TEMPLATE_BODY_MAX) {
        rc = template__fail(err, errcap, NULL, ROOST_ETOOBIG,
                             "the template body is %zu characters; the limit is %d", chars,
                             ROOST_TEMPLATE_BODY_MAX);
        goto out;
    }
    json_error_t jerr;
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        rc = template__fail(err, errcap, NULL, ROOST_EMALFORMED,
                             "the template body is not valid JSON: %s (line %d, column %d)",
                             jerr.text, jerr.line, jerr.column);
        goto out;
    }
    t = roost_xcalloc(1, sizeof(*t));
    t->root = root;
    t->type = type;
    if (!json_is_object(root)) {
        rc = template__fail(err, errcap, NULL, ROOST_EMALFORMED,
                             "the template body must be a JSON object");
        goto out;
    }
    c.t = t;
    template__path_init(&c.path);
    rc = validate(&c);
    if (rc)
        goto out;
    *out_t = t;
    t = NULL;
out:
    roost_free(c.cond_state);
    roost_free(c.cond_height);
    roost_template_destroy(t);
    return rc;
}

void roost_template_destroy(struct roost_template *t)
{
    if (!t)
        return;
    json_decref(t->root);
    roost_free(t->cond_names);
    roost_free(t);
}

enum roost_template_type roost_template_get_type(const struct roost_template *t)
{
    return t->type;
}
