/*
 * roostd.h - the server process's own pieces: the running server's parts,
 * shared by main.c (start-up, shutdown) and identity.c (certificate
 * verification and registry effects).
 */
#ifndef ROOSTD_H
#define ROOSTD_H

#include "api/api.h"
#include "broker/broker.h"
#include "common/common.h"
#include "net/net.h"
#include "pki/pki.h"
#include "registry/registry.h"
#include "shadow/shadow.h"
#include "store/store.h"

struct roostd {
    struct roost_store *store;
    struct roost_net *net;
    struct roost_broker *broker;
    struct roost_registry *registry;
    struct roost_pki_ca *ca;
    struct roost_shadow_service *shadow;
    bool allow_unregistered;      /* accept unregistered certificates of trusted CAs */
    const char *region;           /* for policy resource ARNs */
    const char *account_id;
    uint64_t trusted_generation;  /* registry CA set last given to net */
};

enum roost_net_verdict roostd_verify_client(void *ud, const struct roost_net_client_cert *cert,
                                            char *why, size_t why_cap);
void roostd_on_registry_effects(void *ud, const struct roost_registry_effects *fx);
void roostd_metrics(void *ud, struct roost_buf *out);
void roostd_resolve_policies(void *ud, const struct roost_broker_identity *id,
                             struct roost_broker_authz_request *req);

#endif /* ROOSTD_H */
