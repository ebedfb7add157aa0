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
#include "provision/provision.h"
#include "registry/registry.h"
#include "shadow/shadow.h"
#include "store/store.h"

#include <stdatomic.h>

struct roostd {
    struct roost_store *store;
    struct roost_net *net;
    struct roost_broker *broker;
    struct roost_registry *registry;
    struct roost_pki_ca *ca;
    struct roost_shadow_service *shadow;
    struct roost_provision *provision;
    bool allow_unregistered;      /* accept unregistered certificates of trusted CAs */
    const char *region;           /* for policy resource ARNs */
    const char *account_id;
    uint64_t trusted_generation;  /* registry CA set last given to net */
    /* policies.c: compiled policies per principal (store writer thread only) */
    struct roost_map authz_cache;
    uint64_t authz_cache_generation;      /* authz_generation the cache was filled at */
    _Atomic uint64_t authz_generation;    /* +1 on every registry change policies depend on */
    _Atomic uint64_t authz_cache_hits;
    _Atomic uint64_t authz_cache_misses;
    _Atomic int anonymous_state;          /* 0 unknown, 1 allowed everything, 2 policy-bound */
    _Atomic uint64_t anonymous_generation; /* authz_generation anonymous_state was read at */
};

enum roost_net_verdict roostd_verify_client(void *ud, const struct roost_net_client_cert *cert,
                                            char *why, size_t why_cap);
void roostd_on_registry_effects(void *ud, const struct roost_registry_effects *fx);
void roostd_metrics(void *ud, struct roost_buf *out);
void roostd_resolve_policies(void *ud, const struct roost_broker_identity *id,
                             struct roost_broker_authz_request *req);
/* A registry change committed: drops the compiled policies it may affect. */
void roostd_policies_invalidate(struct roostd *d, const struct roost_registry_effects *fx);
/* roost_api_config.authorize_device: a device's HTTPS data-plane request
 * against its certificate's policies (store writer thread). */
bool roostd_authorize_device(void *ud, struct roost_store_txn *txn, const char *cert_id,
                             enum roost_authz_action action, enum roost_authz_rtype type,
                             const char *name);
/* How many policies are attached to the principal "anonymous" (start-up). */
int roostd_anonymous_policies(struct roostd *d, size_t *out_n);
/* Frees the policy cache; after the store's writer stopped. */
void roostd_policies_cleanup(struct roostd *d);

#endif /* ROOSTD_H */
