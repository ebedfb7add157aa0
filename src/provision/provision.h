/*
 * provision.h - provisioning whole fleets without hand work: just-in-time
 * registration and provisioning (JITR/JITP) of certificates signed by a
 * registered CA, and fleet provisioning by claim over MQTT
 * ($aws/certificates/create[-from-csr]/<fmt>,
 * $aws/provisioning-templates/<name>/provision/<fmt>) with pre-provisioning
 * hooks run as webhooks or local commands.
 *
 * This subsystem runs the flows; the registry does the work inside one
 * store transaction per step (registry.h, "Provisioning") and the template
 * engine (template/template.h) evaluates the templates. Nothing here blocks
 * an event loop: store work goes to the writer, hooks to their own threads.
 * docs/internals/PROVISIONING.md describes the flows.
 */
#ifndef ROOST_PROVISION_H
#define ROOST_PROVISION_H

#include "broker/broker.h"
#include "common/common.h"
#include "registry/registry.h"
#include "store/store.h"
#include "template/template.h"

#include <jansson.h>

struct roost_provision;

struct roost_provision_config {
    struct roost_broker *broker;
    struct roost_store *store;
    struct roost_registry *registry;
    /* JITP's first connection: false (AWS) closes it while the certificate
     * is provisioned and the device's retry works; true completes the
     * handshake and holds the CONNECT until provisioning committed. A CA's
     * tag "roost:jitp_first_connect" overrides it. */
    bool jitp_first_connect_accept;
    unsigned hook_timeout_ms;      /* pre-provisioning hooks; 0 = 5000 (AWS) */
    unsigned hook_threads;         /* hooks run at once; 0 = 4 */
    /* After a provisioning transaction committed registry changes, on the
     * store's writer thread, after the registry's caches were refreshed:
     * roostd cuts connections and publishes registry events here. */
    void (*on_effects)(void *ud, const struct roost_registry_effects *fx);
    void *effects_ud;
};

/* Registers the fleet-provisioning MQTT services on the broker (call before
 * roost_net_start) and starts the hook threads. */
int roost_provision_create(const struct roost_provision_config *cfg, struct roost_provision **out);
/* After the broker's loops stopped taking requests: waits for what is in
 * flight (hooks, transactions), then frees. */
void roost_provision_destroy(struct roost_provision *p);

/* ==== JITR / JITP ========================================================== */

enum roost_provision_verdict {
    ROOST_PROVISION_NOT_MINE = 0,  /* not a certificate for auto-registration */
    ROOST_PROVISION_REJECT,        /* queued (or refused): close this connection */
    ROOST_PROVISION_ACCEPT,        /* queued before this connection's CONNECT: let the
                                      handshake complete */
};

/* From the TLS verifier, on a loop thread, for a certificate whose chain
 * verified to the registered CA `ca_id` but that the registry does not know
 * as ACTIVE (`status` from roost_registry_cert_status). When the CA is
 * ACTIVE and allows auto-registration, queues the registration (at most
 * once at a time per certificate: a storm of retries provisions it once)
 * and says whether this handshake may complete. Never blocks. */
enum roost_provision_verdict roost_provision_on_device_cert(struct roost_provision *p,
                                                            const char *cert_id,
                                                            const char *ca_id,
                                                            enum roost_cert_status status,
                                                            const uint8_t *der, size_t der_len);

/* ==== Fleet provisioning: the pure part (codec.c) ========================== */

enum roost_fleet_op {
    ROOST_FLEET_NONE = 0,          /* not a request topic (e.g. a response topic) */
    ROOST_FLEET_CREATE_KEYS,       /* $aws/certificates/create/<fmt> */
    ROOST_FLEET_CREATE_FROM_CSR,   /* $aws/certificates/create-from-csr/<fmt> */
    ROOST_FLEET_REGISTER_THING,    /* $aws/provisioning-templates/<name>/provision/<fmt> */
};

#define ROOST_FLEET_TEMPLATE_NAME_MAX ROOST_TEMPLATE_NAME_MAX

struct roost_fleet_request {
    enum roost_fleet_op op;
    bool cbor;                     /* <fmt> = cbor (else json) */
    char template_name[ROOST_FLEET_TEMPLATE_NAME_MAX + 1];
    /* from the payload (owned, NULL when absent) */
    char *csr;                     /* certificateSigningRequest */
    char *token;                   /* certificateOwnershipToken */
    json_t *parameters;            /* object of strings */
};

/* Parses a request: its topic, then its payload as JSON or CBOR per the
 * topic. Returns 0 with *out filled (release with roost_fleet_request_cleanup;
 * op NONE for topics that are not requests, payload untouched), or
 * ROOST_EMALFORMED / ROOST_EPROTO with a message for the rejected answer in
 * `err` (the topic was a request: out->op and out->cbor are set, so the
 * caller knows where to answer). Pure: no I/O. */
int roost_fleet_request_parse(const char *topic, size_t topic_len, const uint8_t *payload,
                              size_t payload_len, struct roost_fleet_request *out, char *err,
                              size_t errcap);
void roost_fleet_request_cleanup(struct roost_fleet_request *r);

/* Encodes an answer object as the request's format (JSON text or CBOR).
 * Caller frees *out. 0 or ROOST_ENOMEM / ROOST_EINVAL (a value CBOR or JSON
 * cannot carry). */
int roost_fleet_encode(const json_t *answer, bool cbor, uint8_t **out, size_t *out_len);
/* CBOR to JSON for the request payloads (maps, arrays, text, numbers,
 * booleans, null). ROOST_EMALFORMED for anything else. */
int roost_fleet_cbor_decode(const uint8_t *buf, size_t len, json_t **out);

/* ==== Pre-provisioning hooks (hook.c) ====================================== */

/* Runs a hook synchronously (the caller is a hook thread): `target` is
 * "http(s)://URL" (POST of `payload` as JSON) or "exec:/path" (the
 * program gets the payload on stdin and writes the answer to stdout).
 * Returns 0 and *out_answer (a JSON object), or a negative code with the
 * reason in `err` (timeout, status, not JSON, exit status). */
int roost_provision_run_hook(const char *target, const json_t *payload, unsigned timeout_ms,
                             json_t **out_answer, char *err, size_t errcap);

#endif /* ROOST_PROVISION_H */
