/*
 * registry.h - things, thing types, thing groups, billing groups,
 * certificates, CA certificates, policies and their attachments: AWS IoT's
 * control plane as service functions over the store.
 *
 * Every AWS operation is one entry in the operation table (ops_*.c): its
 * name, HTTP method and path pattern exactly as the AWS REST API has them,
 * and the function that carries it out inside one store transaction. The
 * HTTPS API (src/api) only matches routes, checks signatures and turns a
 * struct roost_api_call into a response; the same functions will serve the
 * MQTT-side services (fleet provisioning), so the two can never disagree.
 *
 * Threading: operation functions run on the store's writer thread (inside a
 * ROOST_STORE_TXN op). The in-memory caches (certificate status, CA list)
 * are read from event loops and updated after commit; they are guarded.
 */
#ifndef ROOST_REGISTRY_H
#define ROOST_REGISTRY_H

#include "common/common.h"
#include "pki/pki.h"
#include "store/store.h"

#include <jansson.h>

struct roost_registry;

struct roost_registry_config {
    const char *region;            /* for ARNs, e.g. "us-east-1" */
    const char *account_id;        /* 12 digits, e.g. "123456789012" */
    const char *endpoint_host;     /* DescribeEndpoint answer, e.g. "localhost:8443" */
    struct roost_pki_ca *ca;       /* Roost's CA: issues device certificates */
    const char *ca_pem;            /* its certificate, PEM */
};

/* ==== One API call ======================================================== */

#define ROOST_API_MAX_LABELS 4

/* A registry event (AWS "Registry events", $aws/events/...) to publish
 * after commit; topic and payload are owned by the call. */
struct roost_registry_event {
    char *topic;
    char *payload;                 /* JSON, not NUL-counted in payload_len */
    size_t payload_len;
};

/* What changed, for caches and live connections, applied after commit. */
struct roost_registry_effects {
    char (*certs)[65];             /* certificate ids whose status, policies or things
                                      changed: those connections are re-checked */
    size_t n_certs, cap_certs;
    bool cas_changed;              /* CA certificates added/removed/changed */
    bool policies_changed;         /* a change any principal's policies may depend on:
                                      policy versions, group or anonymous attachments */
    bool things_changed;           /* things, types, groups (attributes, memberships) */
    struct roost_registry_event *events; /* enabled registry events, in order */
    size_t n_events, cap_events;
};

struct roost_api_call {
    /* ---- input ---- */
    const struct roost_registry_op *op;
    const char *labels[ROOST_API_MAX_LABELS]; /* decoded path labels, pattern order; heap
                                      copies owned by the call (roost_registry_route makes
                                      them, roost_api_call_cleanup frees them: a call built
                                      by hand sets them with roost_xstrdup) */
    json_t *query;                 /* object: decoded query parameters (string values).
                                      Modeled request headers go here too, under their
                                      lowercase name: "x-amzn-principal" (Attach/Detach
                                      ThingPrincipal, ListPrincipalThings) */
    json_t *body;                  /* parsed JSON body (object), or NULL when empty */
    const char *raw_body;          /* the body as received */
    size_t raw_body_len;
    const char *request_id;
    uint64_t now_ms;               /* wall clock at the start of the call */
    /* ---- output ---- */
    int status;                    /* HTTP status: 200, or the error's */
    json_t *result;                /* response body on success (owned; NULL = {}) */
    const char *error_code;        /* AWS error type, e.g. "ResourceNotFoundException" */
    char error_message[512];
    json_t *error_extra;           /* extra members of the error body (resourceId, ...) */
    struct roost_registry_effects effects;
};

/* Records an AWS error on the call and returns the matching ROOST_E* code
 * (non-zero, so returning it rolls the transaction back). */
int roost_api_fail(struct roost_api_call *call, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Shorthands for the common AWS errors (status and code fixed). */
#define ROOST_API_INVALID(call, ...) roost_api_fail(call, 400, "InvalidRequestException", __VA_ARGS__)
#define ROOST_API_NOT_FOUND(call, ...) roost_api_fail(call, 404, "ResourceNotFoundException", __VA_ARGS__)
#define ROOST_API_EXISTS(call, ...) roost_api_fail(call, 409, "ResourceAlreadyExistsException", __VA_ARGS__)
void roost_api_call_cleanup(struct roost_api_call *call);
void roost_api_effects_cert(struct roost_api_call *call, const char *cert_id);

/* ==== Operation table ===================================================== */

typedef int (*roost_registry_op_fn)(struct roost_registry *reg, struct roost_store_txn *txn,
                                    struct roost_api_call *call);

struct roost_registry_op {
    const char *name;              /* AWS operation name, "CreateThing" */
    const char *method;            /* "POST" */
    const char *path;              /* AWS pattern, "/things/{thingName}"; a label
                                      ending in '+' ("{name+}") takes the rest */
    roost_registry_op_fn fn;
    bool read_only;
};

/* Finds the operation for a method and a raw (still percent-encoded) path;
 * fills call->op and the decoded labels. ROOST_ENOTFOUND when no route
 * matches (the API answers 404 UnknownOperationException, or 405 when the
 * path exists with another method: *out_path_known). */
int roost_registry_route(const char *method, const char *raw_path, size_t raw_path_len,
                         struct roost_api_call *call, bool *out_path_known);

/* Runs call->op inside `txn`. On failure the call carries the AWS error. */
int roost_registry_call(struct roost_registry *reg, struct roost_store_txn *txn,
                        struct roost_api_call *call);

/* ==== Life cycle and caches ================================================ */

int roost_registry_create(const struct roost_registry_config *cfg, struct roost_store *store,
                          struct roost_registry **out_reg);
void roost_registry_destroy(struct roost_registry *reg);

/* After a successful commit: refreshes the caches from call->effects (reads
 * the store on the calling thread, which must own no event loop). */
void roost_registry_apply_effects(struct roost_registry *reg,
                                  const struct roost_registry_effects *fx);
/* Whether a committed call left anything for the caches, live connections
 * or event subscribers (every caller of apply_effects asks this first). */
bool roost_registry_effects_any(const struct roost_registry_effects *fx);

enum roost_cert_status {
    ROOST_CERT_UNKNOWN = 0,
    ROOST_CERT_ACTIVE,
    ROOST_CERT_INACTIVE,
    ROOST_CERT_REVOKED,
    ROOST_CERT_PENDING_TRANSFER,
    ROOST_CERT_PENDING_ACTIVATION,
    ROOST_CERT_REGISTER_INACTIVE,
};

/* Thread-safe, cheap: the status of a certificate by id, from the cache. */
enum roost_cert_status roost_registry_cert_status(struct roost_registry *reg, const char *cert_id);
/* Thread-safe: the PEM of every ACTIVE registered CA certificate plus Roost's
 * own CA, concatenated (for the TLS trust store), and a generation number
 * that changes whenever the set changes. Caller frees *out_pem. */
uint64_t roost_registry_trusted_cas(struct roost_registry *reg, char **out_pem);
/* Thread-safe: is `ca_id` (SHA-256 of a CA certificate's DER) Roost's own
 * CA or a registered CA certificate that is ACTIVE? */
bool roost_registry_ca_active(struct roost_registry *reg, const char *ca_id);
/* Thread-safe: thing names attached to a certificate (for the connection's
 * identity), at most `cap`, returns how many. */
size_t roost_registry_cert_things(struct roost_registry *reg, const char *cert_id,
                                  char names[][129], size_t cap);

/* ==== Provisioning ========================================================
 * The registry side of JITR/JITP and fleet provisioning: src/provision runs
 * the flows (TLS verifier hook, MQTT topics, pre-provisioning hooks) and
 * calls these inside one store transaction each, like an API operation:
 * inputs as arguments, the outcome (result, AWS error, effects) on `call`.
 * Templates are applied by src/template's engine; a template either applies
 * whole or the call fails and the transaction rolls back. */

/* What the TLS verifier asks about a device certificate's CA (thread-safe,
 * from the cache). false when `ca_id` is not a registered CA certificate
 * (Roost's own CA is not one: its certificates are issued registered). */
struct roost_registry_ca_info {
    bool active;                   /* status ACTIVE */
    bool auto_registration;        /* autoRegistrationStatus ENABLE */
    bool has_template;             /* registrationConfig names a JITP template */
    int first_connect;             /* the CA's tag "roost:jitp_first_connect": 1 "accept",
                                      0 "reject", -1 no tag (use the server's setting) */
};
bool roost_registry_ca_info(struct roost_registry *reg, const char *ca_id,
                            struct roost_registry_ca_info *out);

/* JITR/JITP of a certificate a device presented, signed by the registered CA
 * `ca_id` (which must be ACTIVE with auto-registration, checked again here).
 * An unknown certificate is registered PENDING_ACTIVATION (mode and CA from
 * its CA) and the event $aws/events/certificates/registered/<caId> goes into
 * call->effects (AWS publishes it whether or not the events are enabled);
 * one already PENDING_ACTIVATION records the event again; any other
 * status leaves everything as it is. With `apply_template` and a JITP
 * template on the CA (registrationConfig templateBody, or templateName of a
 * JITP template), the template is evaluated with the AWS::IoT::Certificate::*
 * parameters from the certificate and applied: thing, policies,
 * attachments, and the certificate ACTIVE. A template that fails fails the
 * call (the caller may then retry without it to leave the certificate
 * PENDING_ACTIVATION). call->result = {"certificateId", "certificateStatus",
 * "registered": bool (this call registered it), "thingName" (when provisioned)}. */
int roost_registry_auto_register(struct roost_registry *reg, struct roost_store_txn *txn,
                                 const uint8_t *der, size_t der_len, const char *ca_id,
                                 bool apply_template, struct roost_api_call *call);

/* Fleet provisioning CreateKeysAndCertificate (csr_pem NULL) and
 * CreateCertificateFromCsr: issues a certificate with Roost's CA as
 * PENDING_ACTIVATION and a single-use ownership token valid for one hour,
 * bound to the new certificate (stored, so it survives a restart).
 * call->result = {"certificateId", "certificatePem", "privateKey" (keys only),
 * "certificateOwnershipToken"}. Errors as AWS's rejected payloads need them:
 * call->status / error_code / error_message (400 InvalidParameters for a bad
 * CSR, ...). */
int roost_registry_fleet_create_certificate(struct roost_registry *reg,
                                            struct roost_store_txn *txn, const char *csr_pem,
                                            struct roost_api_call *call);

/* The first half of RegisterThing, before any pre-provisioning hook runs:
 * checks that template `template_name` exists, is enabled and is a
 * FLEET_PROVISIONING template, and that `token` is a live ownership token.
 * call->result = {"templateArn", "certificateId", "certificatePem",
 * "preProvisioningHook": {"targetArn", "payloadVersion"} (when set)}.
 * Nothing is written. Rejections (call->status / error_code): 400
 * InvalidCertificateOwnershipToken (empty, unknown, used or expired token),
 * 404 ResourceNotFound (no such template), 403 AccessDenied (template
 * disabled), 400 InvalidParameters (not a FLEET_PROVISIONING template). */
int roost_registry_fleet_prepare(struct roost_registry *reg, struct roost_store_txn *txn,
                                 const char *template_name, const char *token,
                                 struct roost_api_call *call);

/* RegisterThing: consumes ownership token `token` (again checked: single
 * use) and applies template `template_name` with `params` (object of
 * strings, the device's parameters with any hook overrides merged; AWS::*
 * keys are dropped) plus AWS::IoT::Certificate::Id = the token's
 * certificate. call->result = {"deviceConfiguration": {...}, "thingName"}
 * (thingName absent when the template makes no thing). Rejections as for
 * roost_registry_fleet_prepare, plus 400 InvalidParameters with the
 * template engine's message when evaluation fails (the token stays
 * usable), and the failing operation's error when applying fails. The
 * template must provision the token's certificate; it ends with the
 * template's Status. */
int roost_registry_fleet_register_thing(struct roost_registry *reg, struct roost_store_txn *txn,
                                        const char *template_name, const char *token,
                                        const json_t *params, struct roost_api_call *call);

/* Deletes ownership tokens past their expiry and the certificates they were
 * issued for when still PENDING_ACTIVATION (AWS deletes a fleet certificate
 * not activated within the hour). Run periodically by src/provision. The
 * clock is call->now_ms (0: now). call->result = {"tokensDeleted",
 * "certificatesDeleted"}. */
int roost_registry_fleet_purge(struct roost_registry *reg, struct roost_store_txn *txn,
                               struct roost_api_call *call);

/* ARN helpers: "arn:aws:iot:<region>:<account>:<type>/<name>". */
int roost_registry_arn(const struct roost_registry *reg, const char *type, const char *name,
                       char *out, size_t cap);

#endif /* ROOST_REGISTRY_H */
