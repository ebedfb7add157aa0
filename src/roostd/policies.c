/*
 * policies.c - finds, compiles and binds the AWS IoT policies of a
 * connecting client for the broker (roost_broker_set_authorizer). The
 * lookup runs in a transaction on the store's writer thread, so it never
 * blocks an event loop and sees committed registry state:
 *
 *   the certificate's policies ("policy" links from cert/<id>), and, when
 *   the client id is the name of a thing attached to that certificate (the
 *   AWS rule for thing variables and thing-group policies), the policies of
 *   that thing's groups and of their ancestors;
 *   the thing's type and attributes and the certificate's subject, issuer
 *   and SAN fields, for policy variables.
 *
 * Connections on plain listeners carry no certificate: they are the
 * principal "anonymous", whose policies are attached like a certificate's
 * (AttachPolicy with target "anonymous", stored as "policy" links from
 * anonymous/anonymous). With nothing attached to it, anonymous is allowed
 * everything, loudly (a development convenience); unregistered
 * certificates under allow_unregistered_certs are allowed everything too.
 *
 * Compiling is the expensive part (JSON, patterns, certificate parsing:
 * tens of microseconds), so the compiled, unbound policy set and the
 * principal's registry facts are cached per principal (certificate + the
 * thing its client id names, or anonymous). Any registry change that can
 * alter them (policies, versions, attachments, things, groups, memberships,
 * certificates) bumps a generation (roostd_policies_invalidate, from the
 * registry effects) and the whole cache is dropped at the next lookup.
 * Binding stays per connection. The cache belongs to the writer thread: it
 * is only touched inside resolve transactions, so it needs no lock.
 */
#include "roostd.h"

#include <jansson.h>
#include <stdio.h>

#define MAX_POLICIES 64
#define MAX_GROUPS 32
#define MAX_ATTRS 64

struct resolve_job {
    struct roost_store_op op;
    struct roostd *d;
    struct roost_broker_authz_request *req;
    char client_id[129];
    char cert_id[65];             /* "" for anonymous */
    bool anonymous;
    char source_ip[64];
    char *will_topic;
    bool persistent;
    /* collected in the transaction */
    char *policy_names[MAX_POLICIES];
    size_t n_policies;
    char *groups[MAX_GROUPS];
    size_t n_groups;
    bool thing_attached;
    bool allow_all;               /* anonymous with no policy attached */
    struct roost_authz_bound *bound;
};

/* What the cache keeps for one principal: everything a bind needs except
 * the connection's own facts (client id, source IP, connect attributes). */
struct principal {
    bool allow_all;                    /* anonymous with nothing attached */
    struct roost_authz_policy *policy; /* NULL: did not compile (deny all) */
    char *thing_type;                  /* NULL: no thing, or untyped */
    struct roost_authz_attr *attrs;    /* names and values owned */
    size_t n_attrs;
    bool have_info;
    struct roost_pki_cert_info info;   /* owns the strings cert_vars points at */
    struct roost_authz_cert cert_vars;
};

/* The link principal policies hang from for the anonymous principal
 * (ops_policies.c writes them under the same names). */
#define ANON_KIND "anonymous"
#define ANON_NAME "anonymous"
/* A cache past this many principals is dropped whole: memory stays
 * bounded and a refill costs one compile per active principal. */
#define CACHE_MAX 8192

static void add_unique(char **list, size_t *n, size_t cap, const char *name)
{
    for (size_t i = 0; i < *n; i++)
        if (strcmp(list[i], name) == 0)
            return;
    if (*n < cap)
        list[(*n)++] = roost_xstrdup(name);
}

static int collect_policy(void *ud, const struct roost_store_link *l)
{
    struct resolve_job *j = ud;
    add_unique(j->policy_names, &j->n_policies, MAX_POLICIES, l->to_name);
    return 0;
}

static int collect_group(void *ud, const struct roost_store_link *l)
{
    struct resolve_job *j = ud;
    add_unique(j->groups, &j->n_groups, MAX_GROUPS, l->to_name);
    return 0;
}

static int find_thing(void *ud, const struct roost_store_link *l)
{
    struct resolve_job *j = ud;
    if (strcmp(l->from_name, j->client_id) == 0)
        j->thing_attached = true;
    return 0;
}

/* Subject/issuer/SAN fields of the certificate for iot:Certificate.* */
static void fill_cert_vars(const struct roost_pki_cert_info *info, struct roost_authz_cert *cv)
{
    memset(cv, 0, sizeof(*cv));
    for (int a = 0; a < ROOST_PKI_ATTR_COUNT; a++) {
        const char *name = roost_pki_attr_name((enum roost_pki_attr)a);
        int k = name ? roost_authz_dn_attr_lookup(name, strlen(name)) : -1;
        if (k < 0)
            continue;
        const struct roost_pki_values *sv = &info->subject.attr[a], *iv = &info->issuer.attr[a];
        for (unsigned i = 0; i < sv->n && i < ROOST_AUTHZ_MULTI_MAX; i++)
            cv->subject[k].v[cv->subject[k].n++] = sv->v[i];
        for (unsigned i = 0; i < iv->n && i < ROOST_AUTHZ_MULTI_MAX; i++)
            cv->issuer[k].v[cv->issuer[k].n++] = iv->v[i];
    }
    static const struct {
        enum roost_pki_san_type pki;
        enum roost_authz_alt_type authz;
    } sans[] = {
        {ROOST_PKI_SAN_DNS, ROOST_AUTHZ_ALT_DNS_NAME},
        {ROOST_PKI_SAN_IP, ROOST_AUTHZ_ALT_IP_ADDRESS},
        {ROOST_PKI_SAN_URI, ROOST_AUTHZ_ALT_URI},
        {ROOST_PKI_SAN_EMAIL, ROOST_AUTHZ_ALT_RFC822_NAME},
        {ROOST_PKI_SAN_DIRNAME, ROOST_AUTHZ_ALT_DIRECTORY_NAME},
    };
    for (size_t s = 0; s < ROOST_ARRAY_LEN(sans); s++) {
        const struct roost_pki_values *v = &info->san[sans[s].pki];
        struct roost_authz_values *out = &cv->subject_alt[sans[s].authz];
        for (unsigned i = 0; i < v->n && i < ROOST_AUTHZ_MULTI_MAX; i++)
            out->v[out->n++] = v->v[i];
    }
    cv->serial = info->serial;
    cv->has_validity = true;
    cv->not_before = info->not_before;
    cv->not_after = info->not_after;
}

static void principal_free(struct principal *pr)
{
    if (!pr)
        return;
    roost_authz_policy_unref(&pr->policy);
    roost_free(pr->thing_type);
    for (size_t i = 0; i < pr->n_attrs; i++) {
        roost_free((char *)pr->attrs[i].name);
        roost_free((char *)pr->attrs[i].value);
    }
    roost_free(pr->attrs);
    if (pr->have_info)
        roost_pki_cert_info_cleanup(&pr->info);
    roost_free(pr);
}

static void cache_clear(struct roostd *d)
{
    size_t pos = 0;
    struct roost_str key;
    void *value;
    while (roost_map_next(&d->authz_cache, &pos, &key, &value))
        principal_free(value);
    roost_map_cleanup(&d->authz_cache);
}

/* A store read's failure that must not be cached as the principal's truth:
 * anything but "not there". Keeps the first in *first. */
static int store_failed(int *first, int rc)
{
    if (rc && rc != ROOST_ENOTFOUND && !*first)
        *first = rc;
    return rc;
}

/* The thing's type and attributes, copied into the principal. */
static int read_thing(struct roost_store_txn *txn, const char *name, struct principal *pr)
{
    struct roost_store_doc doc;
    int rc = roost_store_doc_get(txn, "thing", name, &doc);
    if (rc)
        return rc == ROOST_ENOTFOUND ? 0 : rc;
    json_t *thing = json_loads(doc.body, 0, NULL);
    json_t *t = json_object_get(thing, "thingTypeName");
    if (json_is_string(t))
        pr->thing_type = roost_xstrdup(json_string_value(t));
    json_t *a = json_object_get(thing, "attributes");
    const char *k;
    json_t *v;
    if (json_is_object(a) && json_object_size(a))
        pr->attrs = roost_xcalloc(json_object_size(a), sizeof(*pr->attrs));
    json_object_foreach(a, k, v) {
        if (pr->n_attrs < MAX_ATTRS && json_is_string(v))
            pr->attrs[pr->n_attrs++] =
                (struct roost_authz_attr){roost_xstrdup(k), roost_xstrdup(json_string_value(v))};
    }
    json_decref(thing);
    return 0;
}

/* Reads and compiles a principal's policies (j->policy_names) and facts.
 * A store failure returns its code and no principal: a partial policy set
 * must not be cached (nor used: the connection is denied). */
static int principal_load(struct roost_store_txn *txn, struct resolve_job *j,
                          struct principal **out)
{
    struct roostd *d = j->d;
    struct principal *pr = roost_xcalloc(1, sizeof(*pr));
    int failed = 0;
    struct roost_authz_doc docs[MAX_POLICIES];
    json_t *policy_json[MAX_POLICIES] = {0};
    size_t n_docs = 0;
    struct roost_store_doc doc;
    char err[256] = "";

    if (j->anonymous) {
        store_failed(&failed, roost_store_link_list(txn, "policy", ANON_KIND, ANON_NAME, "policy",
                                                    NULL, NULL, 0, collect_policy, j));
        if (!failed && j->n_policies == 0) {
            pr->allow_all = true;
            *out = pr;
            return 0;
        }
    } else {
        store_failed(&failed, roost_store_link_list(txn, "policy", "cert", j->cert_id, "policy",
                                                    NULL, NULL, 0, collect_policy, j));
    }
    if (j->thing_attached) {
        store_failed(&failed, read_thing(txn, j->client_id, pr));
        /* The thing's groups and their ancestors, then their policies. */
        store_failed(&failed, roost_store_link_list(txn, "member", "thing", j->client_id,
                                                    "thinggroup", NULL, NULL, 0, collect_group,
                                                    j));
        for (size_t g = 0; g < j->n_groups; g++)
            store_failed(&failed, roost_store_link_list(txn, "parent", "thinggroup",
                                                        j->groups[g], "thinggroup", NULL, NULL,
                                                        0, collect_group, j));
        for (size_t g = 0; g < j->n_groups; g++)
            store_failed(&failed, roost_store_link_list(txn, "policy", "thinggroup",
                                                        j->groups[g], "policy", NULL, NULL, 0,
                                                        collect_policy, j));
    }
    for (size_t i = 0; i < j->n_policies && !failed; i++) {
        /* Not found: deleted since the link was read; nothing to enforce. */
        if (store_failed(&failed, roost_store_doc_get(txn, "policy", j->policy_names[i], &doc)))
            continue;
        policy_json[n_docs] = json_loads(doc.body, 0, NULL);
        json_t *text = policy_json[n_docs] ? json_object_get(policy_json[n_docs], "policyDocument")
                                           : NULL;
        if (!json_is_string(text)) {
            json_decref(policy_json[n_docs]);
            policy_json[n_docs] = NULL;
            continue;
        }
        docs[n_docs] = (struct roost_authz_doc){j->policy_names[i], json_string_value(text),
                                                json_string_length(text)};
        n_docs++;
    }
    if (!failed && !j->anonymous &&
        store_failed(&failed, roost_store_doc_get(txn, "cert", j->cert_id, &doc)) == 0) {
        json_t *c = json_loads(doc.body, 0, NULL);
        json_t *pem = c ? json_object_get(c, "certificatePem") : NULL;
        if (json_is_string(pem) &&
            roost_pki_cert_info(json_string_value(pem), json_string_length(pem), &pr->info) == 0) {
            fill_cert_vars(&pr->info, &pr->cert_vars);
            pr->have_info = true;
        }
        json_decref(c);
    }
    if (failed) {
        for (size_t i = 0; i < n_docs; i++)
            json_decref(policy_json[i]);
        principal_free(pr);
        return failed;
    }
    if (roost_authz_compile(docs, n_docs, d->region, d->account_id, &pr->policy, err,
                            sizeof(err)) != 0) {
        pr->policy = NULL;
        roost_log_warn("authz", "policies of %s%.12s do not compile (%s): denying",
                       j->anonymous ? "principal " : "certificate ",
                       j->anonymous ? ANON_NAME : j->cert_id, err);
    }
    for (size_t i = 0; i < n_docs; i++)
        json_decref(policy_json[i]);
    *out = pr;
    return 0;
}

/* Records what the anonymous principal is as of generation `gen` (state
 * first: roostd_resolve_policies trusts it once it sees the generation),
 * and says when it changes between allowed-everything and policy-bound, so
 * the log tells when enforcement began or ended. */
static void note_anonymous(struct roostd *d, bool allow_all, uint64_t gen)
{
    int state = allow_all ? 1 : 2;
    int was = atomic_exchange(&d->anonymous_state, state);
    atomic_store(&d->anonymous_generation, gen);
    if (was == state)
        return;
    if (allow_all)
        roost_log_warn("authz", "no policy is attached to principal 'anonymous': plain-listener "
                                "clients are ALLOWED EVERYTHING (development only)");
    else
        roost_log_info("authz", "policies attached to principal 'anonymous' are now enforced on "
                                "plain-listener clients");
}

/* Runs inside a store transaction on the writer thread. */
static int resolve_in_txn(struct roost_store_txn *txn, void *ud)
{
    struct resolve_job *j = ud;
    struct roostd *d = j->d;
    char key[65 + 130];

    uint64_t gen = atomic_load(&d->authz_generation);
    if (gen != d->authz_cache_generation || d->authz_cache.count >= CACHE_MAX) {
        cache_clear(d);
        d->authz_cache_generation = gen;
    }
    if (j->anonymous) {
        snprintf(key, sizeof(key), "%s", ANON_NAME);
    } else {
        int rc = roost_store_link_list(txn, "principal", "thing", NULL, "cert", j->cert_id, NULL,
                                       0, find_thing, j);
        if (rc)
            return rc; /* resolve_done logs it; the connection is denied */
        /* The thing a client id names is part of the principal: its groups'
         * policies and its variables apply only then. */
        snprintf(key, sizeof(key), "%s/%s", j->cert_id, j->thing_attached ? j->client_id : "");
    }
    struct principal *pr = roost_map_get(&d->authz_cache, key, strlen(key));
    if (pr) {
        atomic_fetch_add(&d->authz_cache_hits, 1);
    } else {
        atomic_fetch_add(&d->authz_cache_misses, 1);
        int rc = principal_load(txn, j, &pr);
        if (rc)
            return rc; /* nothing cached: the next connection reads again */
        roost_map_put(&d->authz_cache, key, strlen(key), pr);
    }
    if (j->anonymous)
        note_anonymous(d, pr->allow_all, gen);
    if (pr->allow_all) {
        j->allow_all = true;
        return 0;
    }
    if (!pr->policy)
        return 0; /* j->bound stays NULL: everything denied */
    struct roost_authz_ctx ctx = {
        .client_id = j->client_id,
        .thing_name = j->thing_attached ? j->client_id : NULL,
        .thing_type = pr->thing_type,
        .thing_attached = j->thing_attached,
        .thing_attrs = pr->attrs,
        .n_thing_attrs = pr->n_attrs,
        .cert = pr->have_info ? &pr->cert_vars : NULL,
        .source_ip = j->source_ip,
        .has_connect_attrs = true,
        .connect_attrs = (j->persistent ? ROOST_AUTHZ_CONNECT_PERSISTENT : 0) |
                         (j->will_topic ? ROOST_AUTHZ_CONNECT_LAST_WILL : 0),
        .last_will_topic = j->will_topic,
    };
    if (roost_authz_bind(pr->policy, &ctx, &j->bound))
        j->bound = NULL;
    return 0; /* a read: nothing to roll back */
}

static void resolve_done(void *ud, int rc)
{
    struct resolve_job *j = ud;
    if (rc)
        roost_log_error("authz", "reading the policies of %.12s failed: %s",
                        j->anonymous ? ANON_NAME : j->cert_id, roost_strerror(rc));
    roost_broker_authz_done(j->req, rc ? NULL : j->bound, !rc && j->allow_all);
    j->bound = NULL;
}

static void resolve_release(struct roost_store_op *op)
{
    struct resolve_job *j = (struct resolve_job *)op;
    roost_authz_bound_unref(&j->bound);
    for (size_t i = 0; i < j->n_policies; i++)
        roost_free(j->policy_names[i]);
    for (size_t i = 0; i < j->n_groups; i++)
        roost_free(j->groups[i]);
    roost_free(j->will_topic);
    roost_free(j);
}

void roostd_resolve_policies(void *ud, const struct roost_broker_identity *id,
                             struct roost_broker_authz_request *req)
{
    struct roostd *d = ud;
    if (!id->cert_id && atomic_load(&d->anonymous_state) == 1 &&
        atomic_load(&d->anonymous_generation) == atomic_load(&d->authz_generation)) {
        /* Anonymous with nothing attached, and no registry change since we
         * looked: no need to ask the store (plain-listener development use). */
        roost_broker_authz_done(req, NULL, true);
        return;
    }
    if (id->cert_id && d->allow_unregistered &&
        roost_registry_cert_status(d->registry, id->cert_id) == ROOST_CERT_UNKNOWN) {
        roost_broker_authz_done(req, NULL, true);
        return;
    }
    struct resolve_job *j = roost_xcalloc(1, sizeof(*j));
    j->d = d;
    j->req = req;
    j->anonymous = !id->cert_id; /* plain listeners */
    snprintf(j->client_id, sizeof(j->client_id), "%s", id->client_id);
    snprintf(j->cert_id, sizeof(j->cert_id), "%s", id->cert_id ? id->cert_id : "");
    snprintf(j->source_ip, sizeof(j->source_ip), "%s", id->source_ip ? id->source_ip : "");
    j->will_topic = id->will_topic ? roost_xstrdup(id->will_topic) : NULL;
    j->persistent = id->persistent;
    j->op.type = ROOST_STORE_TXN;
    j->op.u.txn.fn = resolve_in_txn;
    j->op.u.txn.ud = j;
    j->op.done = resolve_done;
    j->op.done_ud = j;
    j->op.release = resolve_release;
    roost_store_submit(d->store, &j->op);
}

/*
 * A device on the HTTPS data plane (mTLS, no SigV4): its certificate's
 * policies, from the same cache as its MQTT connections (the principal
 * "<cert>/": HTTP has no client id, so no thing variables and no group
 * policies, as for an MQTT client whose id names no attached thing), then
 * one evaluation. The certificate must still be ACTIVE: an HTTP keep-alive
 * connection may outlive a revocation.
 */
bool roostd_authorize_device(void *ud, struct roost_store_txn *txn, const char *cert_id,
                             enum roost_authz_action action, enum roost_authz_rtype type,
                             const char *name)
{
    struct roostd *d = ud;
    if (roost_registry_cert_status(d->registry, cert_id) != ROOST_CERT_ACTIVE)
        return false;
    uint64_t gen = atomic_load(&d->authz_generation);
    if (gen != d->authz_cache_generation || d->authz_cache.count >= CACHE_MAX) {
        cache_clear(d);
        d->authz_cache_generation = gen;
    }
    char key[65 + 1];
    snprintf(key, sizeof(key), "%.64s/", cert_id);
    struct principal *pr = roost_map_get(&d->authz_cache, key, strlen(key));
    if (pr) {
        atomic_fetch_add(&d->authz_cache_hits, 1);
    } else {
        atomic_fetch_add(&d->authz_cache_misses, 1);
        struct resolve_job *j = roost_xcalloc(1, sizeof(*j));
        j->d = d;
        snprintf(j->cert_id, sizeof(j->cert_id), "%s", cert_id);
        int rc = principal_load(txn, j, &pr);
        for (size_t i = 0; i < j->n_policies; i++)
            roost_free(j->policy_names[i]);
        for (size_t i = 0; i < j->n_groups; i++)
            roost_free(j->groups[i]);
        roost_free(j);
        if (rc) {
            roost_log_error("authz", "reading the policies of %.12s failed: %s", cert_id,
                            roost_strerror(rc));
            return false;
        }
        roost_map_put(&d->authz_cache, key, strlen(key), pr);
    }
    if (!pr->policy)
        return false;
    struct roost_authz_ctx ctx = {
        .cert = pr->have_info ? &pr->cert_vars : NULL,
    };
    return roost_authz_evaluate(pr->policy, &ctx, action, type, name, strlen(name), NULL);
}

void roostd_policies_invalidate(struct roostd *d, const struct roost_registry_effects *fx)
{
    if (fx->policies_changed || fx->things_changed) {
        atomic_fetch_add(&d->authz_generation, 1);
        return;
    }
    /* Only some certificates' own attachments or status changed (a device
     * being provisioned): drop their principals, keep everyone else's.
     * Runs on the writer thread, the cache's only user. */
    for (size_t i = 0; i < fx->n_certs; i++) {
        size_t pos = 0;
        struct roost_str key;
        void *value;
        while (roost_map_next(&d->authz_cache, &pos, &key, &value)) {
            if (key.n > 64 && key.n < 256 && memcmp(key.p, fx->certs[i], 64) == 0 &&
                key.p[64] == '/') {
                char copy[256]; /* the map frees its own key */
                memcpy(copy, key.p, key.n);
                principal_free(roost_map_del(&d->authz_cache, copy, key.n));
            }
        }
    }
}

static int count_anonymous(void *ud, const struct roost_store_link *l)
{
    ROOST_UNUSED(l);
    (*(size_t *)ud)++;
    return 0;
}

static int anonymous_policies_in_txn(struct roost_store_txn *txn, void *ud)
{
    return roost_store_link_list(txn, "policy", ANON_KIND, ANON_NAME, "policy", NULL, NULL, 0,
                                 count_anonymous, ud);
}

int roostd_anonymous_policies(struct roostd *d, size_t *out_n)
{
    *out_n = 0;
    uint64_t gen = atomic_load(&d->authz_generation);
    int rc = roost_store_read(d->store, anonymous_policies_in_txn, out_n);
    if (rc == 0) {
        atomic_store(&d->anonymous_state, *out_n ? 2 : 1);
        atomic_store(&d->anonymous_generation, gen);
    }
    return rc;
}

void roostd_policies_cleanup(struct roostd *d)
{
    cache_clear(d);
}
