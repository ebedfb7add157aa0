/*
 * authz_int.h - what the files of src/authz share: the compiled form of a
 * policy (statements, templates with their variables split out, prepared
 * glob patterns, conditions) and the helpers that parse, substitute and
 * match it. Nothing here leaves the subsystem.
 *
 * Glob patterns are byte strings in which two bytes that never occur in
 * UTF-8 stand for the wildcards: AUTHZ_STAR for `*` and AUTHZ_QMARK for
 * `?`. A `*` or `?` that came from a variable's value or from ${*} / ${?}
 * stays the plain ASCII byte and so matches only itself.
 */
#ifndef ROOST_AUTHZ_INT_H
#define ROOST_AUTHZ_INT_H

#include "authz/authz.h"

#define AUTHZ_STAR 0xFFu
#define AUTHZ_QMARK 0xFEu

#define AUTHZ_VALUE_MAX 1024 /* AWS: longer certificate values are not substituted */
#define AUTHZ_STMTS_MAX 65535

/* ==== Keys: condition keys and policy variables ========================== */

enum authz_key_kind {
    AUTHZ_K_UNKNOWN,        /* never has a value */
    AUTHZ_K_CLIENT_ID,
    AUTHZ_K_THING_NAME,
    AUTHZ_K_THING_TYPE,
    AUTHZ_K_THING_ATTACHED,
    AUTHZ_K_THING_ATTR,     /* name = the attribute */
    AUTHZ_K_SUBJECT,        /* attr = enum roost_authz_dn_attr */
    AUTHZ_K_ISSUER,
    AUTHZ_K_SUBJECT_ALT,    /* attr = enum roost_authz_alt_type */
    AUTHZ_K_ISSUER_ALT,
    AUTHZ_K_CERT_SERIAL,
    AUTHZ_K_NOT_BEFORE,
    AUTHZ_K_NOT_AFTER,
    AUTHZ_K_AVAILABLE_KEYS, /* multi-valued */
    AUTHZ_K_DOMAIN,
    AUTHZ_K_SOURCE_IP,
    AUTHZ_K_CONNECT_ATTRS,  /* multi-valued */
    AUTHZ_K_LAST_WILL_TOPIC,
};

struct authz_key {
    uint8_t kind;      /* enum authz_key_kind */
    uint8_t attr;      /* DN attribute or alternative-name type */
    bool list;         /* ".List": all values, for ForAnyValue/ForAllValues */
    uint32_t index;    /* ".1" is 1: the second value; 0 for the plain name */
    const char *name;  /* the thing attribute's name (AUTHZ_K_THING_ATTR) */
    size_t name_len;
};

/* Parses a key name (case-insensitive but for a thing attribute's name).
 * Unknown names give AUTHZ_K_UNKNOWN: IAM accepts any key. */
void authz__key_parse(struct roost_arena *a, const char *s, size_t n, struct authz_key *out);
/* Whether the key can hold several values (then it is no variable). */
bool authz__key_multi(const struct authz_key *k);

/* ==== Templates: strings from the policy with ${...} split out =========== */

enum authz_piece_kind {
    AUTHZ_PIECE_TEXT, /* policy text; its * and ? are wildcards in patterns */
    AUTHZ_PIECE_ESC,  /* ${*} ${?} ${$}: one literal character */
    AUTHZ_PIECE_VAR,  /* ${key} or ${key, 'default'} */
};

struct authz_piece {
    uint8_t kind;
    bool has_default;
    const char *text; /* TEXT: the text; ESC: the character; VAR: the default */
    uint32_t len;
    struct authz_key key; /* VAR */
};

struct authz_tmpl {
    struct authz_piece *pieces;
    uint32_t n;
    bool has_vars;
    const char *src; /* the string as written, NUL-terminated */
    uint32_t src_len;
};

/* Splits s into pieces. With vars false (Version 2008-10-17) the whole
 * string is text. An unterminated ${ is text, as IAM reads it. */
void authz__tmpl_parse(struct roost_arena *a, const char *s, size_t n, bool vars,
                       struct authz_tmpl *out);

/* What binding reads: the connection, the policy's ARN prefix, scratch. */
struct authz_env {
    const struct roost_authz_ctx *ctx;
    const char *arn_prefix; /* "arn:aws:iot:<region>:<account>:" */
    const char *const *prefixes; /* per resource type, for patterns */
    struct roost_arena *scratch;
};

/* The values of a key in this connection: -1 when it has none (absent),
 * else how many were stored in vals (at most cap). Strings live in ctx or
 * env->scratch. */
int authz__key_values(const struct authz_key *k, const struct authz_env *env, const char **vals,
                      size_t cap);

/* Renders a template with its variables substituted, into scratch, as a
 * glob pattern (pattern true: text wildcards become AUTHZ_STAR/QMARK) or
 * as plain text. NULL when a variable cannot be resolved. */
const char *authz__tmpl_render(const struct authz_tmpl *t, const struct authz_env *env,
                               bool pattern, size_t *out_len);

/* ==== Globs ============================================================== */

/* IAM glob over bytes; `?` and backtracking `*` step over whole UTF-8
 * characters. p uses AUTHZ_STAR/AUTHZ_QMARK. */
bool authz__glob(const uint8_t *p, size_t pn, const uint8_t *s, size_t sn);
/* The same with ASCII '*' and '?' as wildcards and ASCII case folded: for
 * action names. */
bool authz__glob_icase(const char *p, size_t pn, const char *s, size_t sn);

/* A Resource pattern ready for checks: the positions of the pattern from
 * which the name must match once each type's ARN prefix is consumed. */
struct authz_pat {
    const uint8_t *tok;
    uint32_t len;
    uint32_t tail;                          /* literal bytes after the last wildcard */
    uint32_t *starts;                       /* all types' positions */
    uint32_t first[ROOST_AUTHZ_RES_COUNT];  /* index into starts */
    uint32_t count[ROOST_AUTHZ_RES_COUNT];  /* 0: never matches this type */
};

/* Computes starts for every resource type; prefixes[t] is the ARN prefix
 * for type t ("" for RAW). Arrays come from a. */
void authz__pat_prepare(struct roost_arena *a, struct authz_pat *pat, const uint8_t *tok,
                        size_t len, const char *const prefixes[ROOST_AUTHZ_RES_COUNT]);
bool authz__pat_match(const struct authz_pat *pat, enum roost_authz_rtype t, const char *name,
                      size_t len);

/* ==== Conditions ========================================================= */

enum authz_op {
    AUTHZ_OP_STR_EQ,
    AUTHZ_OP_STR_EQ_IC,
    AUTHZ_OP_STR_LIKE,
    AUTHZ_OP_NUM_EQ,
    AUTHZ_OP_NUM_LT,
    AUTHZ_OP_NUM_LE,
    AUTHZ_OP_NUM_GT,
    AUTHZ_OP_NUM_GE,
    AUTHZ_OP_DATE_EQ,
    AUTHZ_OP_DATE_LT,
    AUTHZ_OP_DATE_LE,
    AUTHZ_OP_DATE_GT,
    AUTHZ_OP_DATE_GE,
    AUTHZ_OP_BOOL,
    AUTHZ_OP_IP,
    AUTHZ_OP_ARN_LIKE,
    AUTHZ_OP_NULL,
};

enum authz_set { AUTHZ_SET_NONE, AUTHZ_SET_ANY, AUTHZ_SET_ALL };

struct authz_cond {
    uint8_t op;       /* enum authz_op, the positive form */
    bool negated;     /* StringNotEquals, NotIpAddress, ... */
    uint8_t set;      /* enum authz_set */
    bool if_exists;   /* ...IfExists */
    struct authz_key key;
    struct authz_tmpl *vals;
    uint32_t n_vals;
};

/* Parses an operator name ("ForAllValues:StringNotLikeIfExists"); false if
 * unknown or not allowed (IfExists or a set prefix on Null). */
bool authz__op_parse(const char *s, size_t n, struct authz_cond *out);
/* Checks a variable-free condition value for the operator; NULL if fine,
 * else what is wrong ("is not a number"). */
const char *authz__cond_value_check(const struct authz_cond *c, const char *v, size_t n);
/* Decides a condition for the connection. A value whose variable cannot be
 * resolved makes the condition false (the statement is skipped). */
bool authz__cond_eval(const struct authz_cond *c, const struct authz_env *env);

/* Parsers shared by the value check and evaluation. */
bool authz__parse_number(const char *s, size_t n, double *out);
bool authz__parse_date(const char *s, size_t n, int64_t *out_ms);
void authz__format_date(int64_t secs, char out[32]);

/* ==== Statements and policies ============================================ */

struct authz_stmt {
    bool deny;
    bool not_resource;
    bool res_vars;            /* some Resource uses a variable: prepared at bind */
    uint32_t actions;         /* bit per enum roost_authz_action, NotAction applied */
    struct authz_tmpl *res;
    uint32_t n_res;
    struct authz_pat *pats;   /* !res_vars: prepared at compile */
    struct authz_cond *conds;
    uint32_t n_conds;
    const char *policy;       /* policy name */
    const char *sid;          /* NULL if none */
    uint32_t index;           /* in the policy's Statement list */
};

struct roost_authz_policy {
    struct roost_ref ref;
    struct roost_arena arena;   /* everything below */
    struct authz_stmt *stmts;
    size_t n;
    const char *prefixes[ROOST_AUTHZ_RES_COUNT];
    const char *arn_prefix;     /* "arn:aws:iot:<region>:<account>:" */
};

/* Parses one document into statements allocated from a (not yet prepared:
 * pats is NULL). 0 or ROOST_EMALFORMED with err. */
int authz__parse_doc(struct roost_arena *a, const char *policy_name, const char *text, size_t len,
                     struct authz_stmt **out, size_t *out_n, char *err, size_t errcap);

#endif /* ROOST_AUTHZ_INT_H */
