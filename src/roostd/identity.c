/*
 * identity.c - where roostd binds devices to their certificates: the TLS
 * verifier that asks the registry about every client certificate during the
 * handshake, and what happens after a registry change commits (revoked or
 * deactivated certificates lose their live connections, newly registered
 * CAs become trust anchors). The pieces it joins (net, registry, broker)
 * do not know each other; this file is the only place they meet.
 */
#include "roostd.h"

#include <stdio.h>

static const char *status_name(enum roost_cert_status st)
{
    switch (st) {
    case ROOST_CERT_ACTIVE: return "ACTIVE";
    case ROOST_CERT_INACTIVE: return "INACTIVE";
    case ROOST_CERT_REVOKED: return "REVOKED";
    case ROOST_CERT_PENDING_TRANSFER: return "PENDING_TRANSFER";
    case ROOST_CERT_PENDING_ACTIVATION: return "PENDING_ACTIVATION";
    case ROOST_CERT_REGISTER_INACTIVE: return "REGISTER_INACTIVE";
    default: return "not registered";
    }
}

/*
 * A certificate is accepted when it is registered and ACTIVE and either
 * chains to Roost's CA or an ACTIVE registered CA, or was registered
 * without a CA. The verdict picks the TLS alert the device sees.
 */
enum roost_net_verdict roostd_verify_client(void *ud, const struct roost_net_client_cert *cert,
                                            char *why, size_t why_cap)
{
    struct roostd *d = ud;
    if (cert->chain == ROOST_NET_CHAIN_EXPIRED) {
        snprintf(why, why_cap, "certificate %.12s: %s", cert->id, cert->chain_error);
        return ROOST_NET_REJECT_EXPIRED;
    }
    if (cert->chain == ROOST_NET_CHAIN_BAD) {
        snprintf(why, why_cap, "certificate %.12s: %s", cert->id, cert->chain_error);
        return ROOST_NET_REJECT_BAD;
    }
    enum roost_cert_status st = roost_registry_cert_status(d->registry, cert->id);
    if (cert->chain == ROOST_NET_CHAIN_OK &&
        (st == ROOST_CERT_UNKNOWN || st == ROOST_CERT_PENDING_ACTIVATION)) {
        /* JITR/JITP: a CA that registers its devices on first contact. */
        switch (roost_provision_on_device_cert(d->provision, cert->id, cert->issuer_id, st,
                                               cert->leaf_der, cert->leaf_der_len)) {
        case ROOST_PROVISION_ACCEPT:
            return ROOST_NET_ACCEPT;
        case ROOST_PROVISION_REJECT:
            snprintf(why, why_cap,
                     "certificate %.12s is being registered (auto-registration by CA %.12s); "
                     "the device's next connection will be checked again",
                     cert->id, cert->issuer_id);
            return ROOST_NET_REJECT_BAD;
        case ROOST_PROVISION_NOT_MINE:
            break;
        }
    }
    if (st == ROOST_CERT_UNKNOWN && d->allow_unregistered && cert->chain == ROOST_NET_CHAIN_OK &&
        roost_registry_ca_active(d->registry, cert->issuer_id))
        return ROOST_NET_ACCEPT; /* development setting: any certificate of a trusted CA */
    if (st == ROOST_CERT_REVOKED) {
        snprintf(why, why_cap, "certificate %.12s is REVOKED", cert->id);
        return ROOST_NET_REJECT_REVOKED;
    }
    if (st != ROOST_CERT_ACTIVE) {
        snprintf(why, why_cap, "certificate %.12s is %s", cert->id, status_name(st));
        return cert->chain == ROOST_NET_CHAIN_UNKNOWN_ISSUER ? ROOST_NET_REJECT_UNKNOWN_CA
                                                             : ROOST_NET_REJECT_BAD;
    }
    if (cert->chain == ROOST_NET_CHAIN_OK) {
        if (roost_registry_ca_active(d->registry, cert->issuer_id))
            return ROOST_NET_ACCEPT;
        snprintf(why, why_cap, "certificate %.12s: its CA is not ACTIVE", cert->id);
        return ROOST_NET_REJECT_UNKNOWN_CA;
    }
    /* Registered without a CA (RegisterCertificateWithoutCA): the registry
     * entry itself is the trust. */
    return ROOST_NET_ACCEPT;
}

/* Runs on the store's writer thread after a registry change committed. */
void roostd_on_registry_effects(void *ud, const struct roost_registry_effects *fx)
{
    struct roostd *d = ud;
    roostd_policies_invalidate(d, fx); /* before the re-resolves it triggers */
    bool everyone = fx->policies_changed || fx->things_changed;
    if (everyone)
        roost_broker_policies_changed(d->broker);
    for (size_t i = 0; i < fx->n_certs && d->broker; i++) {
        enum roost_cert_status st = roost_registry_cert_status(d->registry, fx->certs[i]);
        if (st != ROOST_CERT_ACTIVE)
            roost_broker_disconnect_cert(d->broker, fx->certs[i]);
        else if (!everyone)
            roost_broker_policies_changed_cert(d->broker, fx->certs[i]);
    }
    if (fx->cas_changed) {
        char *pem = NULL;
        uint64_t gen = roost_registry_trusted_cas(d->registry, &pem);
        if (gen != d->trusted_generation && pem && *pem) {
            /* Added anchors become trusted at once; a CA that left the set
             * stays in OpenSSL's store but the verifier refuses it. */
            roost_net_add_trusted_ca(d->net, pem, strlen(pem));
            d->trusted_generation = gen;
        }
        roost_free(pem);
    }
    /* Registry events ride on one order key: a thing's created, updated and
     * deleted reach subscribers in that order. */
    for (size_t i = 0; i < fx->n_events && d->broker; i++)
        roost_broker_publish_ordered(d->broker, fx->events[i].topic, fx->events[i].payload,
                                     fx->events[i].payload_len, 0, false, 0);
}

/* ==== Metrics ============================================================= */

static void metric(struct roost_buf *out, const char *name, const char *type, const char *help,
                   uint64_t value)
{
    char line[512];
    int n = snprintf(line, sizeof(line), "# HELP %s %s\n# TYPE %s %s\n%s %llu\n", name, help,
                     name, type, name, (unsigned long long)value);
    if (n > 0)
        roost_buf_append(out, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

/* The rest of the server's counters after the API's own, for GET /metrics. */
void roostd_metrics(void *ud, struct roost_buf *out)
{
    struct roostd *d = ud;
    struct roost_net_stats ns;
    struct roost_broker_stats bs;
    struct roost_store_stats ss;
    roost_net_get_stats(d->net, &ns);
    roost_broker_get_stats(d->broker, &bs);
    roost_store_get_stats(d->store, &ss);
    metric(out, "roost_connections_accepted_total", "counter", "TCP connections accepted", ns.accepted);
    metric(out, "roost_connections_open", "gauge", "connections open now", ns.open);
    metric(out, "roost_tls_handshakes_total", "counter", "TLS handshakes completed", ns.handshakes_ok);
    metric(out, "roost_tls_handshake_failures_total", "counter", "TLS handshakes failed",
           ns.handshakes_failed);
    metric(out, "roost_bytes_received_total", "counter", "bytes read from sockets", ns.bytes_in);
    metric(out, "roost_bytes_sent_total", "counter", "bytes written to sockets", ns.bytes_out);
    metric(out, "roost_mqtt_clients_connected", "gauge", "MQTT clients connected", bs.clients_connected);
    metric(out, "roost_mqtt_sessions", "gauge", "MQTT sessions (online and offline)", bs.sessions);
    metric(out, "roost_mqtt_messages_received_total", "counter", "PUBLISH packets routed",
           bs.msgs_received);
    metric(out, "roost_mqtt_messages_sent_total", "counter", "PUBLISH packets delivered", bs.msgs_sent);
    metric(out, "roost_mqtt_messages_dropped_total", "counter",
           "deliveries dropped (queue limit, slow consumer, packet size)", bs.msgs_dropped);
    metric(out, "roost_mqtt_retained_messages", "gauge", "retained messages", bs.retained);
    metric(out, "roost_authz_cache_hits_total", "counter",
           "policy resolutions served from the compiled-policy cache",
           atomic_load(&d->authz_cache_hits));
    metric(out, "roost_authz_cache_misses_total", "counter",
           "policy resolutions that compiled the principal's policies",
           atomic_load(&d->authz_cache_misses));
    metric(out, "roost_store_commits_total", "counter", "store transactions committed", ss.commits);
    metric(out, "roost_store_ops_total", "counter", "store operations applied", ss.ops);
    metric(out, "roost_store_checkpoints_total", "counter", "WAL checkpoints (checkpointer thread)",
           ss.checkpoints);
}
