/*
 * registry_int.h - what the files of src/registry share and nobody else
 * sees: the registry object (configuration and the caches of registry.c),
 * the operation table (ops_table.c), the prototype of every operation
 * function, and small helpers for the operation functions (registry.c):
 * query parameters, JSON documents in the store, names, ids, timestamps.
 *
 * Operation functions run on the store's writer thread inside one
 * transaction (registry.h). They validate first, then read and write; on a
 * failure they return what roost_api_fail returned (the call carries the AWS
 * error) and the whole transaction is rolled back, so they never need to
 * undo their own writes.
 */
#ifndef ROOST_REGISTRY_INT_H
#define ROOST_REGISTRY_INT_H

#include "registry/registry.h"
#include "template/template.h"

#include <pthread.h>

/* ==== The registry object ================================================= */

struct roost_registry {
    struct roost_registry_config cfg; /* strings point at the copies below */
    char *region;                  /* owned copies of the configuration strings */
    char *account_id;
    char *endpoint_host;
    char *ca_pem;
    char own_ca_id[65];            /* Roost's CA, "" when none */
    struct roost_store *store;     /* borrowed */
    /* ---- caches, guarded by `lock` (readers: event loops; writer: apply_effects) ---- */
    pthread_mutex_t refresh_mu;    /* one apply_effects at a time: read store, then swap */
    pthread_rwlock_t lock;
    struct roost_map cert_status;  /* cert id -> (void *)(uintptr_t)enum roost_cert_status */
    struct roost_map cert_things;  /* cert id -> struct registry__names * (never empty) */
    struct roost_map ca_pems;      /* cacert id -> char * PEM, ACTIVE CAs only */
    struct roost_map ca_infos;     /* cacert id -> struct roost_registry_ca_info *, every
                                      registered CA (roost_registry_ca_info) */
    char *trusted_pem;             /* Roost's CA + ca_pems in id order */
    uint64_t ca_generation;        /* +1 whenever trusted_pem changes */
};

/* Thing names attached to one certificate (cert_things values). */
struct registry__names {
    size_t n;
    char names[][129];
};

/* ==== Operation table (ops_table.c) ======================================= */

extern const struct roost_registry_op registry__ops[];
extern const size_t registry__n_ops;

/* ==== Helpers for operation functions (registry.c) ======================== */

#define REGISTRY_NAME_MAX 128      /* thing, type, group and billing group names */
#define REGISTRY_ARN_MAX 512
#define REGISTRY_PAGE_DEFAULT 50   /* maxResults when the caller gives none */
#define REGISTRY_PAGE_MAX 250

/* A query parameter (or header, see registry.h) as a string, NULL if absent. */
const char *registry__query(const struct roost_api_call *call, const char *key);
/* Query booleans ("true"/"false", absent = def) and integers in [min, max]
 * (absent = def). A bad value fails the call with InvalidRequestException. */
int registry__query_bool(struct roost_api_call *call, const char *key, bool def, bool *out);
int registry__query_int(struct roost_api_call *call, const char *key, int64_t min, int64_t max,
                        int64_t def, int64_t *out);
/* The maxResults query parameter: 1..250, default REGISTRY_PAGE_DEFAULT. */
int registry__max_results(struct roost_api_call *call, size_t *out);

/* Body members with their JSON type checked (absent = NULL/def; a member of
 * the wrong type fails the call with InvalidRequestException). `obj` may be
 * NULL (an empty body). */
int registry__member_string(struct roost_api_call *call, const json_t *obj, const char *key,
                            const char **out);
int registry__member_bool(struct roost_api_call *call, const json_t *obj, const char *key,
                          bool def, bool *out);
int registry__member_int(struct roost_api_call *call, const json_t *obj, const char *key,
                         bool *out_present, int64_t *out);
int registry__member_object(struct roost_api_call *call, const json_t *obj, const char *key,
                            json_t **out);
int registry__member_array(struct roost_api_call *call, const json_t *obj, const char *key,
                           json_t **out);

/* Checks a name against [a-zA-Z0-9:_-]+, 1..128 (things, thing types, thing
 * groups, billing groups); fails the call with AWS's validation wording. */
int registry__check_name(struct roost_api_call *call, const char *member, const char *value);

/* A store error inside an operation: logs it, InternalFailureException 500.
 * ROOST_ENOTFOUND/ROOST_ECONFLICT must be handled by the caller before. */
int registry__store_fail(struct roost_api_call *call, int rc, const char *what);
/* ResourceAlreadyExistsException 409 with error_extra {resourceId, resourceArn}. */
int registry__fail_exists(struct roost_api_call *call, const char *id, const char *arn,
                          const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Loads a document and parses its body (an object). ROOST_ENOTFOUND is
 * returned as is, without touching the call; other failures fail the call
 * (500). *out_version gets the store version (may be NULL). */
int registry__doc_load(struct roost_api_call *call, struct roost_store_txn *txn,
                       const char *kind, const char *name, json_t **out_body,
                       int64_t *out_version);
/* Serializes `body` (compact, sorted keys) and stores it with
 * roost_store_doc_put's expected_version rules. ROOST_ECONFLICT and
 * ROOST_ENOTFOUND are returned as is; other failures fail the call (500). */
int registry__doc_store(struct roost_api_call *call, struct roost_store_txn *txn,
                        const char *kind, const char *name, const json_t *body,
                        int64_t expected_version, int64_t *out_version);

/* A random UUID v4 ("xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx"). */
void registry__uuid(char out[37]);
/* Wall-clock milliseconds as AWS timestamps: epoch seconds, JSON number. */
json_t *registry__timestamp(uint64_t ms);
/* The certificate id of a certificate ARN ("arn:aws:iot:<r>:<a>:cert/<64 hex>"),
 * lowercased into out. ROOST_EINVAL if `arn` is not one. */
int registry__cert_id_from_arn(const char *arn, char out[65]);

/* ==== Operation functions ================================================= */

#define REGISTRY_OP_DECL(fn)                                                   \
    int fn(struct roost_registry *reg, struct roost_store_txn *txn, struct roost_api_call *call)

/* ---- things, types, groups, billing groups, thing principals (ops_things.c) ---- */
REGISTRY_OP_DECL(registry__op_create_thing);
REGISTRY_OP_DECL(registry__op_describe_thing);
REGISTRY_OP_DECL(registry__op_list_things);
REGISTRY_OP_DECL(registry__op_update_thing);
REGISTRY_OP_DECL(registry__op_delete_thing);
REGISTRY_OP_DECL(registry__op_create_thing_type);
REGISTRY_OP_DECL(registry__op_describe_thing_type);
REGISTRY_OP_DECL(registry__op_list_thing_types);
REGISTRY_OP_DECL(registry__op_deprecate_thing_type);
REGISTRY_OP_DECL(registry__op_delete_thing_type);
REGISTRY_OP_DECL(registry__op_create_thing_group);
REGISTRY_OP_DECL(registry__op_describe_thing_group);
REGISTRY_OP_DECL(registry__op_list_thing_groups);
REGISTRY_OP_DECL(registry__op_update_thing_group);
REGISTRY_OP_DECL(registry__op_delete_thing_group);
REGISTRY_OP_DECL(registry__op_add_thing_to_thing_group);
REGISTRY_OP_DECL(registry__op_remove_thing_from_thing_group);
REGISTRY_OP_DECL(registry__op_update_thing_groups_for_thing);
REGISTRY_OP_DECL(registry__op_list_things_in_thing_group);
REGISTRY_OP_DECL(registry__op_list_thing_groups_for_thing);
REGISTRY_OP_DECL(registry__op_create_billing_group);
REGISTRY_OP_DECL(registry__op_describe_billing_group);
REGISTRY_OP_DECL(registry__op_list_billing_groups);
REGISTRY_OP_DECL(registry__op_update_billing_group);
REGISTRY_OP_DECL(registry__op_delete_billing_group);
REGISTRY_OP_DECL(registry__op_add_thing_to_billing_group);
REGISTRY_OP_DECL(registry__op_remove_thing_from_billing_group);
REGISTRY_OP_DECL(registry__op_list_things_in_billing_group);
REGISTRY_OP_DECL(registry__op_attach_thing_principal);
REGISTRY_OP_DECL(registry__op_detach_thing_principal);
REGISTRY_OP_DECL(registry__op_list_thing_principals);
REGISTRY_OP_DECL(registry__op_list_principal_things);

/* ==== reg2: certificates, CA certificates, endpoint (ops_certs.c) and
 * ==== policies (ops_policies.c). Declared here so the table links once both
 * ==== files exist; reg2 may add its own declarations below this line. ===== */
REGISTRY_OP_DECL(registry__op_create_keys_and_certificate);
REGISTRY_OP_DECL(registry__op_create_certificate_from_csr);
REGISTRY_OP_DECL(registry__op_register_certificate);
REGISTRY_OP_DECL(registry__op_register_certificate_without_ca);
REGISTRY_OP_DECL(registry__op_describe_certificate);
REGISTRY_OP_DECL(registry__op_list_certificates);
REGISTRY_OP_DECL(registry__op_list_certificates_by_ca);
REGISTRY_OP_DECL(registry__op_update_certificate);
REGISTRY_OP_DECL(registry__op_delete_certificate);
REGISTRY_OP_DECL(registry__op_get_registration_code);
REGISTRY_OP_DECL(registry__op_register_ca_certificate);
REGISTRY_OP_DECL(registry__op_describe_ca_certificate);
REGISTRY_OP_DECL(registry__op_list_ca_certificates);
REGISTRY_OP_DECL(registry__op_update_ca_certificate);
REGISTRY_OP_DECL(registry__op_delete_ca_certificate);
REGISTRY_OP_DECL(registry__op_describe_endpoint);
REGISTRY_OP_DECL(registry__op_create_policy);
REGISTRY_OP_DECL(registry__op_get_policy);
REGISTRY_OP_DECL(registry__op_list_policies);
REGISTRY_OP_DECL(registry__op_delete_policy);
REGISTRY_OP_DECL(registry__op_create_policy_version);
REGISTRY_OP_DECL(registry__op_list_policy_versions);
REGISTRY_OP_DECL(registry__op_get_policy_version);
REGISTRY_OP_DECL(registry__op_set_default_policy_version);
REGISTRY_OP_DECL(registry__op_delete_policy_version);
REGISTRY_OP_DECL(registry__op_attach_policy);
REGISTRY_OP_DECL(registry__op_detach_policy);
REGISTRY_OP_DECL(registry__op_list_attached_policies);
REGISTRY_OP_DECL(registry__op_list_targets_for_policy);

/* ---- registry events (ops_events.c) ---- */
REGISTRY_OP_DECL(registry__op_update_event_configurations);
REGISTRY_OP_DECL(registry__op_describe_event_configurations);
/* Records the THING event `operation` ("CREATED", "UPDATED", "DELETED") of
 * thing `name` in the call's effects when THING events are enabled. Reads
 * the thing's current document: call it after the write for CREATED and
 * UPDATED, before the delete for DELETED. */
int registry__event_thing(struct roost_registry *reg, struct roost_store_txn *txn,
                          struct roost_api_call *call, const char *operation, const char *name);
/* The THING_GROUP_MEMBERSHIP event ("ADDED", "REMOVED"), when enabled; both
 * documents must exist. */
int registry__event_membership(struct roost_registry *reg, struct roost_store_txn *txn,
                               struct roost_api_call *call, const char *operation,
                               const char *thing, const char *group);
/* THING_TYPE ("CREATED", "UPDATED" (deprecate, undeprecate), "DELETED")
 * and THING_GROUP ("CREATED", "UPDATED", "DELETED") events, when enabled:
 * like registry__event_thing, after the write, or before the delete. */
int registry__event_thing_type(struct roost_registry *reg, struct roost_store_txn *txn,
                               struct roost_api_call *call, const char *operation,
                               const char *name);
int registry__event_thing_group(struct roost_registry *reg, struct roost_store_txn *txn,
                                struct roost_api_call *call, const char *operation,
                                const char *name);
/* THING_TYPE_ASSOCIATION ("CREATED" when a thing gets type `type`,
 * "DELETED" when it loses it); the thing must exist. */
int registry__event_type_association(struct roost_registry *reg, struct roost_store_txn *txn,
                                     struct roost_api_call *call, const char *operation,
                                     const char *thing, const char *type);
/* THING_GROUP_HIERARCHY ("ADDED", "REMOVED") of child under parent; both
 * groups must exist (call before deleting the child). */
int registry__event_hierarchy(struct roost_registry *reg, struct roost_store_txn *txn,
                              struct roost_api_call *call, const char *operation,
                              const char *parent, const char *child);
/* Roost's POLICY events (AWS documents none): "CREATED", "UPDATED" (a
 * version created, made default or deleted: `version_id` and `is_default`
 * then describe that version; NULL otherwise), "DELETED"; after the write,
 * before the delete. */
int registry__event_policy(struct roost_registry *reg, struct roost_store_txn *txn,
                           struct roost_api_call *call, const char *operation, const char *name,
                           const char *version_id, bool is_default);
/* POLICY "ATTACHED"/"DETACHED" to a target of kind "cert", "thinggroup" or
 * "anonymous" named `target_name`, when the attachment really changed. */
int registry__event_policy_target(struct roost_registry *reg, struct roost_store_txn *txn,
                                  struct roost_api_call *call, const char *operation,
                                  const char *name, const char *target_kind,
                                  const char *target_name);
/* Roost's CERTIFICATE events ("CREATED", "UPDATED" with the status it had
 * as `previous_status`, "DELETED") and CA_CERTIFICATE events ("CREATED",
 * "UPDATED", "DELETED"), when enabled: after the write, before the delete. */
int registry__event_cert(struct roost_registry *reg, struct roost_store_txn *txn,
                         struct roost_api_call *call, const char *operation, const char *id,
                         const char *previous_status);
int registry__event_ca_cert(struct roost_registry *reg, struct roost_store_txn *txn,
                            struct roost_api_call *call, const char *operation, const char *id);
/* Frees the call's events (registry.c's cleanup and rollback paths). */
void registry__events_clear(struct roost_registry_effects *fx);

/* ---- reg2's own declarations (ops_certs.c, ops_policies.c) follow ---- */

/* ==== reg2: certificates, CAs, policies ==== */

/* A certificate id from a path label or ARN: exactly 64 hex characters,
 * lowercased into out; otherwise InvalidRequestException naming `member`. */
int registry__check_cert_id(struct roost_api_call *call, const char *member, const char *value,
                            char out[65]);

/* Marker-style paging (ListCertificates, ListPolicies, ListAttachedPolicies,
 * ...): pageSize 1..250 (default REGISTRY_PAGE_DEFAULT) and the decoded
 * marker (caller frees *out_after; NULL when none). A bad value fails the
 * call. registry__marker_for encodes a position (caller frees). */
int registry__marker_params(struct roost_api_call *call, size_t *out_page, char **out_after);
char *registry__marker_for(const char *position);

/* Filter and list item builder for registry__page_by_creation. */
typedef bool (*registry__doc_keep_fn)(void *ud, const struct roost_store_doc *doc);
typedef json_t *(*registry__doc_item_fn)(struct roost_registry *reg, const json_t *body);
/* One page of the documents of `kind` (filtered by `keep` when set) in
 * creation order, newest first unless isAscendingOrder=true, as
 * call->result = {list_key: [item(body)...], nextMarker (only when more)}. */
int registry__page_by_creation(struct roost_registry *reg, struct roost_store_txn *txn,
                               struct roost_api_call *call, const char *kind,
                               registry__doc_keep_fn keep, void *keep_ud,
                               registry__doc_item_fn item, const char *list_key);

/* A new device certificate document (every creating path: the API ops and,
 * later, fleet provisioning and JITR). */
struct registry__cert_new {
    const char *id;                /* SHA-256 of the DER, 64 lowercase hex */
    const char *pem;               /* the certificate, PEM */
    const char *ca_id;             /* registered CA that issued it, or NULL */
    const char *status;            /* "ACTIVE", "INACTIVE", "PENDING_ACTIVATION", ... */
    const char *mode;              /* "DEFAULT" or "SNI_ONLY" (NULL = DEFAULT) */
    int64_t not_before;            /* validity, Unix seconds */
    int64_t not_after;
};
/* Stores "cert"/<id> and records the certificate in the call's effects.
 * An existing id fails the call with ResourceAlreadyExistsException. */
int registry__cert_insert(struct roost_registry *reg, struct roost_store_txn *txn,
                          struct roost_api_call *call, const struct registry__cert_new *nc);

/* Validates an IoT policy document (JSON object with Version and Statement;
 * statements with Effect, Action|NotAction, Resource|NotResource, optional
 * Condition; at most 2048 characters excluding whitespace). 0, or
 * ROOST_EMALFORMED / ROOST_ETOOBIG with the reason in err (what
 * MalformedPolicyException says). For provisioning templates too. */
int registry__policy_check(const char *doc, char *err, size_t errcap);

/* ==== Provisioning (ops_templates.c, ops_provision.c) ==================== */

#define REGISTRY_TEMPLATE_KIND "provtemplate" /* <templateName>, versions inside */
#define REGISTRY_TOKEN_KIND "fleettoken"      /* <SHA-256 hex of an ownership token> */

REGISTRY_OP_DECL(registry__op_create_provisioning_template);
REGISTRY_OP_DECL(registry__op_describe_provisioning_template);
REGISTRY_OP_DECL(registry__op_list_provisioning_templates);
REGISTRY_OP_DECL(registry__op_update_provisioning_template);
REGISTRY_OP_DECL(registry__op_delete_provisioning_template);
REGISTRY_OP_DECL(registry__op_create_provisioning_template_version);
REGISTRY_OP_DECL(registry__op_describe_provisioning_template_version);
REGISTRY_OP_DECL(registry__op_list_provisioning_template_versions);
REGISTRY_OP_DECL(registry__op_delete_provisioning_template_version);
REGISTRY_OP_DECL(registry__op_register_thing);

/* Loads "provtemplate"/<name> (ROOST_ENOTFOUND untouched, as registry__doc_load). */
int registry__template_load(struct roost_api_call *call, struct roost_store_txn *txn,
                            const char *name, json_t **out_doc, int64_t *out_version);
/* The templateBody of version `version_id` of a template document (0: the
 * default version), or NULL. Points into `doc`. */
const char *registry__template_body(const json_t *doc, int64_t version_id);
/* Parses `body` as a template of `type`; on failure InvalidRequestException
 * "<prefix>: <the engine's one-line error>". */
int registry__template_check_body(struct roost_api_call *call, const char *body,
                                  enum roost_template_type type, const char *prefix);

/*
 * Applies an evaluated template inside the call's transaction, through the
 * same operation functions the API runs (so registry events, effects and
 * validation stay those of CreateThing, AttachPolicy, ...):
 *  - thing: created when absent (its type, groups and billing group must
 *    exist: ResourceNotFoundException naming the one missing); an existing
 *    thing gets each property per its OverrideSettings: DO_NOTHING keeps it,
 *    REPLACE replaces it, MERGE (attributes, groups) adds to it, FAIL fails
 *    with ResourceConflictsException 409 when the value differs. The billing
 *    group of an existing thing is set only when it has none.
 *  - certificate: by id (must exist; `provisioned_cert`, when set, is the
 *    certificate being provisioned: the id must be it, and it gets the
 *    template's Status whatever its override); other existing certificates
 *    change status only per the Status override. CSR: issued by Roost's CA;
 *    PEM: registered (an already registered PEM is used as by id).
 *  - policies: an existing one by name, or the inline document created
 *    under its (generated) name when absent, checked with
 *    registry__policy_check; each attached to the certificate.
 *  - the certificate attached to the thing.
 * Any failure fails the call with a message naming the template resource
 * (its logical name) and the reason. *out_applied (caller frees) =
 * {thingName, thingArn, certificateId, certificateArn, certificatePem,
 * policyArns: [...]}, members absent for resources the plan lacks.
 */
int registry__template_apply(struct roost_registry *reg, struct roost_store_txn *txn,
                             struct roost_api_call *call, const struct roost_template_plan *plan,
                             const char *provisioned_cert, json_t **out_applied);

#endif /* ROOST_REGISTRY_INT_H */
