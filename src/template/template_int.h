/*
 * template_int.h - what the template engine's files share: the parsed
 * template (template.c builds and validates it, template_eval.c evaluates
 * it), the intrinsic function table, error paths, and the SHA-256 that names
 * inline policies (template_sha256.c).
 *
 * Invariant: once roost_template_parse has returned a template, every
 * structural rule holds (sections, resource types and properties, function
 * arity, names of parameters, mappings and conditions, no circular
 * conditions), so evaluation only checks what depends on the parameters.
 */
#ifndef ROOST_PROVISION_TEMPLATE_INT_H
#define ROOST_PROVISION_TEMPLATE_INT_H

#include "template/template.h"

#include <regex.h>

struct roost_template {
    json_t *root;                  /* the parsed body; everything below points into it */
    enum roost_template_type type;
    const json_t *parameters;      /* Parameters section, or NULL */
    const json_t *mappings;        /* Mappings section, or NULL */
    const json_t *conditions;      /* Conditions section, or NULL */
    const json_t *resources;       /* Resources section (always there) */
    const json_t *device_config;   /* DeviceConfiguration section, or NULL */
    size_t n_conditions;
    const char **cond_names;       /* n_conditions names, Conditions order (borrowed) */
};

/* Resource types. */
enum tpl_res {
    TPL_RES_THING = 1,
    TPL_RES_CERT,
    TPL_RES_POLICY,
};
enum tpl_res template__res_type(const char *type);

/* Intrinsic functions. An object is a call when it has exactly one member
 * named "Ref" or "Fn::..."; anything else is a literal. */
enum tpl_fn {
    TPL_FN_NONE = 0,               /* a literal value */
    TPL_FN_REF,
    TPL_FN_JOIN,
    TPL_FN_SELECT,
    TPL_FN_SPLIT,
    TPL_FN_SUB,
    TPL_FN_FINDINMAP,
    TPL_FN_IF,
    TPL_FN_EQUALS,
    TPL_FN_NOT,
    TPL_FN_AND,
    TPL_FN_OR,
    TPL_FN_BASE64,
};
/* Which function `v` calls, its argument in *out_arg. Only for validated
 * templates: an unknown Fn:: name reads as TPL_FN_NONE. */
enum tpl_fn template__fn_of(const json_t *v, const json_t **out_arg);
const char *template__fn_name(enum tpl_fn fn);

/* Names Ref and Fn::Sub accept without a declaration (the caller supplies them). */
bool template__is_pseudo(const char *name);
#define TPL_NOVALUE "AWS::NoValue"    /* Ref to it removes the property or list item */
#define TPL_CERT_ID "AWS::IoT::Certificate::Id"

/* Fn::Sub: a `${...}` whose name starts so is an IoT policy variable, left as is. */
bool template__is_policy_var(const char *name, size_t n);

/* Index of a condition by name, or -1. */
long template__cond_index(const struct roost_template *t, const char *name);

/* Parameter types. */
enum tpl_ptype {
    TPL_P_STRING = 1,
    TPL_P_NUMBER,
    TPL_P_LIST_NUMBER,
    TPL_P_LIST_STRING,             /* CommaDelimitedList and List<String> */
};
enum tpl_ptype template__ptype(const char *type);

/* OverrideSettings: "DO_NOTHING" etc.; ROOST_EINVAL for anything else. */
int template__override_parse(const char *s, enum roost_override *out_o);
/* A property's setting under its name or its upper-case alias, or NULL. */
const json_t *template__override_get(const json_t *settings, const char *prop,
                                      const char *alias);

/* AllowedPattern as a POSIX ERE; ROOST_EINVAL if it is not one or has back
 * references. Free with regfree. _match: does it match all of `s`? */
int template__pattern_compile(const char *pattern, regex_t *out_re);
bool template__pattern_match(const regex_t *re, const char *s);

/* ==== Error paths ======================================================== */

/* Where in the template an error is: "Resources.thing.Properties.ThingGroups[1]".
 * Too long a path is cut with "..." rather than failing. */
#define TPL_PATH_MAX 256
struct tpl_path {
    char buf[TPL_PATH_MAX];
    size_t len;
};

static inline void template__path_init(struct tpl_path *p)
{
    p->buf[0] = '\0';
    p->len = 0;
}
/* Append ".key" (or "key" at the start) / "[i]"; return what to pop back to. */
size_t template__path_key(struct tpl_path *p, const char *key);
size_t template__path_index(struct tpl_path *p, size_t i);
static inline void template__path_pop(struct tpl_path *p, size_t saved)
{
    p->len = saved;
    p->buf[saved] = '\0';
}

/* Writes "path: message" to err (when err is not NULL) and returns rc. */
int template__fail(char *err, size_t errcap, const struct tpl_path *p, int rc,
                    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* ==== Names and values =================================================== */

/* Thing, thing type, thing group and billing group names: [a-zA-Z0-9:_-]{1,128}. */
bool template__valid_thing_name(const char *s);
/* Policy names: [\w+=,.@-]{1,128}. */
bool template__valid_policy_name(const char *s);
/* Attribute names [a-zA-Z0-9_.,@/:#-]{1,128}, values [a-zA-Z0-9_.,@/:#=\[\]-]{0,800}. */
bool template__valid_attr_name(const char *s);
bool template__valid_attr_value(const char *s);

/* SHA-256 of `n` bytes as 64 lowercase hex characters and a NUL. */
void template__sha256_hex(const void *p, size_t n, char out[65]);

#endif /* ROOST_PROVISION_TEMPLATE_INT_H */
