/*
 * template.h - the provisioning template engine: AWS IoT provisioning
 * templates as JITP (a registered CA's registrationConfig), fleet
 * provisioning by claim and RegisterThing use them. The registry applies the
 * plans it produces; src/provision runs the JITP and fleet-provisioning flows.
 *
 * The template engine is pure: no I/O, no store, no clock. A template body
 * is parsed and validated once (roost_template_parse), which catches every
 * mistake that does not depend on the parameters; the parsed template is
 * immutable, so one copy may serve many threads. Each provisioning request
 * then evaluates it against its parameters (roost_template_apply) into a
 * plan: plain strings and JSON, every intrinsic function resolved and every
 * AWS default filled in, which the caller applies in one store transaction.
 * docs/internals/PROVISIONING.md describes the language and Roost's choices.
 */
#ifndef ROOST_TEMPLATE_H
#define ROOST_TEMPLATE_H

#include "common/common.h"

#include <jansson.h>

/* ==== Provisioning templates ============================================ */

#define ROOST_TEMPLATE_BODY_MAX 10240     /* characters, AWS's templateBody limit */
#define ROOST_TEMPLATE_MAX_RESOURCES 32   /* declared, whatever their conditions */
#define ROOST_TEMPLATE_MAX_POLICIES 10    /* active policies (AWS: 10 per certificate) */
#define ROOST_TEMPLATE_MAX_DEPTH 32       /* nesting of intrinsic functions and literals */
#define ROOST_TEMPLATE_EVAL_MAX (1u << 20) /* bytes one evaluation may produce */

#define ROOST_TEMPLATE_NAME_MAX 36          /* AWS's templateName: ^[0-9A-Za-z_-]+$, 1..36 */

/* Is s[0, n) a name AWS accepts for a provisioning template? Shared by the
 * registry, the fleet-provisioning topics and the CLI. */
bool roost_template_name_valid(const char *s, size_t n);

/* Where a template is used decides what it may contain. */
enum roost_template_type {
    ROOST_TEMPLATE_REGISTER = 0, /* RegisterThing and bulk registration: the certificate
                                    by CertificateId, CertificateSigningRequest or
                                    CertificatePem */
    ROOST_TEMPLATE_FLEET,        /* fleet provisioning by claim: CertificateId only, and it
                                    must be the certificate being provisioned */
    ROOST_TEMPLATE_JITP,         /* a CA's registrationConfig: as FLEET, and every declared
                                    parameter must have a value (the device certificate
                                    must carry every subject field the template names) */
};

/* AWS's template type names: "FLEET_PROVISIONING" and "JITP" (CreateProvisioningTemplate's
 * `type`). ROOST_EINVAL for anything else. */
int roost_template_type_parse(const char *name, enum roost_template_type *out_type);
const char *roost_template_type_name(enum roost_template_type type);

/* What to do with a property of a resource that already exists (OverrideSettings).
 * A property without a setting gets ROOST_OVERRIDE_DO_NOTHING. */
enum roost_override {
    ROOST_OVERRIDE_DO_NOTHING = 0, /* leave the existing value */
    ROOST_OVERRIDE_REPLACE,        /* replace it with the template's */
    ROOST_OVERRIDE_FAIL,           /* fail the request (ResourceConflictsException) */
    ROOST_OVERRIDE_MERGE,          /* union with the existing attributes / groups */
};
const char *roost_override_name(enum roost_override o);

struct roost_template; /* parsed and validated; immutable */

/* Parses and validates a template body of `len` bytes (NUL not needed).
 * Returns 0 and *out_t (free with roost_template_destroy), or:
 *   ROOST_ETOOBIG     the body is over ROOST_TEMPLATE_BODY_MAX characters;
 *   ROOST_EMALFORMED  not JSON, or not a JSON object;
 *   ROOST_EPROTO      valid JSON but not a valid template.
 * On failure `err` (may be NULL) gets one line that names where the problem is
 * and what it is, e.g. "Resources.thing.Properties.ThingGroups[1]: Ref to
 * undeclared parameter 'Location'", fit for an InvalidRequestException. */
int roost_template_parse(const char *body, size_t len, enum roost_template_type type,
                         struct roost_template **out_t, char *err, size_t errcap);
void roost_template_destroy(struct roost_template *t);
enum roost_template_type roost_template_get_type(const struct roost_template *t);

/* The thing to create or update. */
struct roost_template_thing {
    char *logical_name;            /* the resource's key in Resources */
    char *name;                    /* ThingName */
    char *type_name;               /* ThingTypeName, or NULL */
    char *billing_group;           /* BillingGroup, or NULL */
    json_t *attributes;            /* AttributePayload as {name: string}, or NULL if absent */
    json_t *groups;                /* ThingGroups as [string], or NULL if absent */
    enum roost_override attributes_override; /* may be MERGE */
    enum roost_override type_override;       /* never MERGE */
    enum roost_override groups_override;     /* may be MERGE */
};

enum roost_template_cert_source {
    ROOST_TEMPLATE_CERT_ID = 1,    /* an existing certificate: `value` is its id */
    ROOST_TEMPLATE_CERT_CSR,       /* issue one from the PEM CSR in `value` */
    ROOST_TEMPLATE_CERT_PEM,       /* register the PEM certificate in `value` */
};

/* The certificate to activate, issue or register. */
struct roost_template_cert {
    char *logical_name;
    enum roost_template_cert_source source;
    char *value;                   /* id, CSR PEM or certificate PEM, per `source` */
    char *ca_pem;                  /* CACertificatePem (source PEM only), or NULL */
    bool active;                   /* Status: ACTIVE (the default) or INACTIVE */
    enum roost_override status_override; /* never MERGE */
};

/* A policy to attach to the certificate. */
struct roost_template_policy {
    char *logical_name;
    char *name;                    /* PolicyName, or the name generated for `document` */
    char *document;                /* JSON text of an inline policy; NULL: attach the
                                      existing policy `name` */
    bool name_generated;           /* `name` is the SHA-256 (lowercase hex) of `document` */
};

/* Everything one evaluation resolved. Resources whose Condition is false are
 * not in it. */
struct roost_template_plan {
    struct roost_template_thing *thing;       /* NULL: no thing */
    struct roost_template_cert *cert;         /* NULL: no certificate */
    struct roost_template_policy *policies;   /* n_policies of them, template order */
    size_t n_policies;
    json_t *device_configuration;             /* {key: string}, never NULL (may be empty) */
};

/* Evaluates `t` with `params` (a JSON object of name -> string; numbers and
 * booleans are taken as their text, arrays of strings feed list parameters;
 * NULL = none). The AWS::IoT::Certificate::* values (Id, CommonName, Country,
 * ...) and AWS::Region / AWS::AccountId / AWS::Partition are ordinary
 * parameters here: the caller puts in those it has, after deleting any
 * AWS::* key a device sent (a device must not name the certificate). Returns
 * 0 and *out_plan (free with roost_template_plan_free), or:
 *   ROOST_EMALFORMED  `params` is not an object, or a value is not a string;
 *   ROOST_EPROTO      evaluation failed: a parameter without a value, a value a
 *                     parameter's constraints refuse, Fn::FindInMap or Fn::Select
 *                     missing, a resolved value of the wrong type or form;
 *   ROOST_ETOOBIG     the evaluation produced more than ROOST_TEMPLATE_EVAL_MAX.
 * `err` as for roost_template_parse. Thread-safe for one `t` and many callers. */
int roost_template_apply(const struct roost_template *t, const json_t *params,
                         struct roost_template_plan **out_plan, char *err, size_t errcap);
void roost_template_plan_free(struct roost_template_plan *plan);

#endif /* ROOST_TEMPLATE_H */
