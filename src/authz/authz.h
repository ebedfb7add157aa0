/*
 * authz.h - AWS IoT policies: parse, compile, bind to a connection, check.
 *
 * Pure: no I/O, no threads, no store. The life of a policy set:
 *
 *   roost_authz_compile(docs)        once per principal (certificate): parses
 *                                    the JSON, splits Resource patterns and
 *                                    notes which statements use variables;
 *   roost_authz_bind(policy, ctx)    once per connection: substitutes the
 *                                    connection's variables, decides every
 *                                    Condition (all condition keys describe
 *                                    the connection), drops the statements
 *                                    that cannot apply and indexes the rest
 *                                    by action;
 *   roost_authz_check(bound, ...)    per CONNECT/PUBLISH/SUBSCRIBE/delivery:
 *                                    an action bit and glob matches over the
 *                                    resource name; no allocation, no JSON.
 *
 * Both compiled policies and bound forms are immutable once made, and
 * reference counted with atomic counts, so connections on different event
 * loops can share them. Semantics and the AWS facts behind them are in
 * docs/internals/AUTHZ.md.
 */
#ifndef ROOST_AUTHZ_H
#define ROOST_AUTHZ_H

#include "common/common.h"

/* ==== Actions and resources ============================================== */

/* The data-plane actions Roost checks. A policy may name any action
 * ("s3:GetObject", "iot:CreateThing"); those simply never match a check. */
enum roost_authz_action {
    ROOST_AUTHZ_CONNECT,                  /* client/<clientId> */
    ROOST_AUTHZ_PUBLISH,                  /* topic/<topic> */
    ROOST_AUTHZ_SUBSCRIBE,                /* topicfilter/<filter as sent> */
    ROOST_AUTHZ_RECEIVE,                  /* topic/<topic>, every delivery */
    ROOST_AUTHZ_RETAIN_PUBLISH,           /* topic/<topic>; Publish is checked too */
    ROOST_AUTHZ_GET_THING_SHADOW,         /* thing/<thing>[/<shadowName>] */
    ROOST_AUTHZ_UPDATE_THING_SHADOW,      /* thing/<thing>[/<shadowName>] */
    ROOST_AUTHZ_DELETE_THING_SHADOW,      /* thing/<thing>[/<shadowName>] */
    ROOST_AUTHZ_LIST_NAMED_SHADOWS,       /* iot:ListNamedShadowsForThing, thing/<thing> */
    ROOST_AUTHZ_DESCRIBE_JOB_EXECUTION,   /* thing/<thing> */
    ROOST_AUTHZ_GET_PENDING_JOB_EXECUTIONS,
    ROOST_AUTHZ_START_NEXT_PENDING_JOB_EXECUTION,
    ROOST_AUTHZ_UPDATE_JOB_EXECUTION,
    ROOST_AUTHZ_GET_RETAINED_MESSAGE,     /* topic/<topic> */
    ROOST_AUTHZ_LIST_RETAINED_MESSAGES,   /* no resource: ROOST_AUTHZ_RES_RAW "*" */
    ROOST_AUTHZ_ASSUME_ROLE_WITH_CERTIFICATE, /* rolealias/<alias> */
    ROOST_AUTHZ_ACTION_COUNT
};

/* "iot:Publish", ... */
const char *roost_authz_action_name(enum roost_authz_action a);
/* The action a name stands for (case-insensitive, as IAM), or -1. */
int roost_authz_action_lookup(const char *name, size_t len);

/* What the name passed to a check is. For every type but RAW the checked
 * resource is "arn:aws:iot:<region>:<account>:<type>/<name>"; the prefix is
 * never built, it is matched once per pattern when the policy is compiled
 * or bound. RAW names are whole resource strings: a full ARN (as
 * TestAuthorization passes them), or "*" for actions without a resource. */
enum roost_authz_rtype {
    ROOST_AUTHZ_RES_CLIENT,      /* client/ */
    ROOST_AUTHZ_RES_TOPIC,       /* topic/ */
    ROOST_AUTHZ_RES_TOPICFILTER, /* topicfilter/ */
    ROOST_AUTHZ_RES_THING,       /* thing/ */
    ROOST_AUTHZ_RES_ROLEALIAS,   /* rolealias/ */
    ROOST_AUTHZ_RES_RAW,         /* the name is the whole resource */
    ROOST_AUTHZ_RES_COUNT
};

/* ==== The connection's facts (policy variables and condition keys) ======= */

/* Certificate name attributes, as named in iot:Certificate.Subject.<Name>
 * and iot:Certificate.Issuer.<Name>. */
enum roost_authz_dn_attr {
    ROOST_AUTHZ_DN_COMMON_NAME,
    ROOST_AUTHZ_DN_COUNTRY,
    ROOST_AUTHZ_DN_ORGANIZATION,
    ROOST_AUTHZ_DN_ORGANIZATIONAL_UNIT,
    ROOST_AUTHZ_DN_DN_QUALIFIER,         /* DistinguishedNameQualifier */
    ROOST_AUTHZ_DN_STATE,
    ROOST_AUTHZ_DN_LOCALITY,
    ROOST_AUTHZ_DN_TITLE,
    ROOST_AUTHZ_DN_SERIAL_NUMBER,        /* the attribute, not the certificate's serial */
    ROOST_AUTHZ_DN_SURNAME,
    ROOST_AUTHZ_DN_GIVEN_NAME,
    ROOST_AUTHZ_DN_INITIALS,
    ROOST_AUTHZ_DN_PSEUDONYM,
    ROOST_AUTHZ_DN_GENERATION_QUALIFIER,
    ROOST_AUTHZ_DN_COUNT
};

/* The attribute a variable name stands for ("CommonName", ...; the names of
 * roost_pki_attr_name), or -1. Case-sensitive. Lets the caller fill
 * roost_authz_cert from struct roost_pki_cert_info by name. */
int roost_authz_dn_attr_lookup(const char *name, size_t len);

/* Alternative name types: iot:Certificate.Subject.AlternativeName.<Type>
 * and iot:Certificate.Issuer.AlternativeName.<Type>. */
enum roost_authz_alt_type {
    ROOST_AUTHZ_ALT_RFC822_NAME,
    ROOST_AUTHZ_ALT_DNS_NAME,
    ROOST_AUTHZ_ALT_DIRECTORY_NAME,
    ROOST_AUTHZ_ALT_URI,          /* UniformResourceIdentifier */
    ROOST_AUTHZ_ALT_IP_ADDRESS,
    ROOST_AUTHZ_ALT_COUNT
};

#define ROOST_AUTHZ_MULTI_MAX 5 /* AWS keeps at most five values per attribute */

/* The values of one attribute, in certificate order; v[0] is what the plain
 * variable names, v[1] is ".1", ... NULL past n. Borrowed. */
struct roost_authz_values {
    const char *v[ROOST_AUTHZ_MULTI_MAX];
    unsigned n;
};

/* What a certificate tells policies. Every string is borrowed for the
 * duration of roost_authz_bind only. */
struct roost_authz_cert {
    struct roost_authz_values subject[ROOST_AUTHZ_DN_COUNT];
    struct roost_authz_values issuer[ROOST_AUTHZ_DN_COUNT];
    struct roost_authz_values subject_alt[ROOST_AUTHZ_ALT_COUNT];
    struct roost_authz_values issuer_alt[ROOST_AUTHZ_ALT_COUNT];
    const char *serial;      /* iot:Certificate.SerialNumber, NULL if unknown */
    bool has_validity;       /* not_before/not_after are set */
    int64_t not_before;      /* Unix seconds: iot:Certificate.Validity.NotBefore */
    int64_t not_after;       /* Unix seconds: iot:Certificate.Validity.NotAfter */
};

/* A thing attribute: iot:Connection.Thing.Attributes[name]. */
struct roost_authz_attr {
    const char *name;
    const char *value;
};

/* iot:ConnectAttributes values (bits of roost_authz_ctx.connect_attrs). */
#define ROOST_AUTHZ_CONNECT_PERSISTENT 0x1u /* "PersistentConnect": clean session 0 /
                                               MQTT 5 session expiry > 0 */
#define ROOST_AUTHZ_CONNECT_LAST_WILL 0x2u  /* "LastWill": the CONNECT carries a will */

/*
 * The facts of one connection. NULL strings are unknown: a policy variable
 * or condition key that reads them cannot be resolved, and the statements
 * that need it are skipped (AWS behaviour). All strings are borrowed for
 * the duration of roost_authz_bind only; the bound form keeps copies of
 * what it substituted.
 *
 * Thing variables are valid only when the client ID is the name of a thing
 * attached to the certificate (AWS rule); deciding that is the caller's job:
 * set thing_name only then.
 */
struct roost_authz_ctx {
    const char *client_id;        /* iot:ClientId */
    const char *thing_name;       /* iot:Connection.Thing.ThingName, NULL: no thing */
    const char *thing_type;       /* iot:Connection.Thing.ThingTypeName */
    bool thing_attached;          /* iot:Connection.Thing.IsAttached ("false" without a thing) */
    const struct roost_authz_attr *thing_attrs; /* iot:Connection.Thing.Attributes[...] */
    size_t n_thing_attrs;
    const struct roost_authz_cert *cert; /* iot:Certificate.*, NULL: no certificate */
    const char *source_ip;        /* aws:SourceIp, "203.0.113.7" or "2001:db8::7" */
    const char *domain;           /* iot:Domain: the endpoint name the client reached */
    bool has_connect_attrs;       /* iot:ConnectAttributes is known (MQTT CONNECT) */
    unsigned connect_attrs;       /* ROOST_AUTHZ_CONNECT_* */
    const char *last_will_topic;  /* the will's topic, NULL: no will; iot:LastWillTopic is
                                     its topic ARN */
};

/* ==== Policies =========================================================== */

/* One policy document of a principal. */
struct roost_authz_doc {
    const char *name; /* policy name, for decisions and errors; copied */
    const char *text; /* the JSON document; need not be NUL-terminated */
    size_t len;
};

/* A compiled policy set; opaque, immutable, reference counted. */
struct roost_authz_policy;
/* A policy set bound to one connection; opaque, immutable, refcounted. */
struct roost_authz_bound;

/*
 * Checks one policy document as CreatePolicy and CreatePolicyVersion must:
 * 0, or ROOST_EMALFORMED with a message for MalformedPolicyException in err
 * ("Statement[1] (Sid \"pub\"): unknown Condition operator ..."). The size
 * limit (2048 characters without whitespace) is the registry's to check.
 */
int roost_authz_validate(const char *text, size_t len, char *err, size_t errcap);

/*
 * Compiles the policies of one principal (a certificate's policies and
 * those of its things' groups) for resources in `region` and `account`
 * (ASCII, no ':'; used for the ARN prefix of every check). n may be 0: an
 * empty set denies everything. On success *out holds one reference. A
 * malformed document gives ROOST_EMALFORMED with err naming the policy;
 * more than 65535 statements in all gives ROOST_ETOOBIG; bad arguments
 * ROOST_EINVAL.
 */
int roost_authz_compile(const struct roost_authz_doc *docs, size_t n, const char *region,
                        const char *account, struct roost_authz_policy **out, char *err,
                        size_t errcap);
struct roost_authz_policy *roost_authz_policy_ref(struct roost_authz_policy *p);
/* Drops one reference and sets *pp to NULL; NULL or *pp NULL is a no-op. */
void roost_authz_policy_unref(struct roost_authz_policy **pp);
/* Statements in the set, over all documents. */
size_t roost_authz_policy_statements(const struct roost_authz_policy *p);

/*
 * Binds a compiled set to one connection: substitutes the variables that
 * ctx resolves, evaluates every Condition, and keeps the statements that
 * can still apply, indexed by action. The bound form holds a reference on
 * `p`; on success *out holds one reference. Never fails but for bad
 * arguments (ROOST_EINVAL); allocation aborts on exhaustion.
 */
int roost_authz_bind(struct roost_authz_policy *p, const struct roost_authz_ctx *ctx,
                     struct roost_authz_bound **out);
struct roost_authz_bound *roost_authz_bound_ref(struct roost_authz_bound *b);
void roost_authz_bound_unref(struct roost_authz_bound **pb);
/* Statements that survived binding (variables resolved, conditions true). */
size_t roost_authz_bound_statements(const struct roost_authz_bound *b);

/* ==== Decisions ========================================================== */

enum roost_authz_effect {
    ROOST_AUTHZ_IMPLICIT_DENY, /* no statement matched */
    ROOST_AUTHZ_ALLOW,         /* an Allow statement matched and no Deny did */
    ROOST_AUTHZ_DENY,          /* a Deny statement matched */
};

/* Why a check came out as it did, for logs. Strings are borrowed from the
 * compiled policy: valid while the bound form (or policy) lives. */
struct roost_authz_decision {
    bool allowed;
    enum roost_authz_effect effect;
    const char *policy;  /* name of the deciding policy; NULL for an implicit deny */
    unsigned statement;  /* index of the deciding statement in its Statement list */
    const char *sid;     /* its Sid, or NULL */
};

/*
 * The per-message check: may this connection do `action` on the resource
 * of type `type` named name[0..len)? An explicit Deny wins, then an Allow;
 * otherwise the answer is no. `out` may be NULL. Thread-safe, allocation-
 * free; cost grows with the statements that name the action.
 */
bool roost_authz_check(const struct roost_authz_bound *b, enum roost_authz_action action,
                       enum roost_authz_rtype type, const char *name, size_t len,
                       struct roost_authz_decision *out);

/* One-shot bind + check + unbind, for HTTPS requests and TestAuthorization. */
bool roost_authz_evaluate(struct roost_authz_policy *p, const struct roost_authz_ctx *ctx,
                          enum roost_authz_action action, enum roost_authz_rtype type,
                          const char *name, size_t len, struct roost_authz_decision *out);

#endif /* ROOST_AUTHZ_H */
