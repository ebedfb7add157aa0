/*
 * policies.c - finds, compiles and binds the AWS IoT policies of a
 * connecting client for the broker (roost_broker_set_authorizer). The
 * lookup is one read transaction on the store's writer thread, so it never
 * blocks an event loop and sees committed registry state:
 *
 *   the certificate's policies ("policy" links from cert/<id>), and, when
 *   the client id is the name of a thing attached to that certificate (the
 *   AWS rule for thing variables and thing-group policies), the policies of
 *   that thing's groups and of their ancestors;
 *   the thing's type and attributes and the certificate's subject, issuer
 *   and SAN fields, for policy variables.
 *
 * Principals outside the policy model are allowed everything, loudly: the
 * anonymous principal of plain listeners, and unregistered certificates
 * under the allow_unregistered_certs development setting.
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
    char cert_id[65];
    char source_ip[64];
    char *will_topic;
    bool persistent;
    /* collected in the transaction */
    char *policy_names[MAX_POLICIES];
    size_t n_policies;
    char *groups[MAX_GROUPS];
    size_t n_groups;
    bool thing_attached;
    struct roost_authz_bound *bound;
};

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

/* Runs inside a store transaction on the writer thread. */
static int resolve_in_txn(struct roost_store_txn *txn, void *ud)
{
    struct resolve_job *j = ud;
    struct roostd *d = j->d;
    struct roost_store_doc doc;
    json_t *thing = NULL;
    struct roost_authz_doc docs[MAX_POLICIES];
    json_t *policy_json[MAX_POLICIES] = {0};
    size_t n_docs = 0;
    struct roost_authz_attr attrs[MAX_ATTRS];
    size_t n_attrs = 0;
    struct roost_pki_cert_info info;
    struct roost_authz_cert cert_vars;
    bool have_info = false;
    struct roost_authz_policy *policy = NULL;
    char err[256] = "";
    int rc;

    roost_store_link_list(txn, "policy", "cert", j->cert_id, "policy", NULL, NULL, 0,
                          collect_policy, j);
    roost_store_link_list(txn, "principal", "thing", NULL, "cert", j->cert_id, NULL, 0, find_thing,
                          j);
    const char *thing_type = NULL;
    if (j->thing_attached) {
        if (roost_store_doc_get(txn, "thing", j->client_id, &doc) == 0)
            thing = json_loads(doc.body, 0, NULL);
        json_t *t = thing ? json_object_get(thing, "thingTypeName") : NULL;
        thing_type = json_is_string(t) ? json_string_value(t) : NULL;
        json_t *a = thing ? json_object_get(thing, "attributes") : NULL;
        const char *k;
        json_t *v;
        json_object_foreach(a, k, v) {
            if (n_attrs < MAX_ATTRS && json_is_string(v))
                attrs[n_attrs++] = (struct roost_authz_attr){k, json_string_value(v)};
        }
        /* The thing's groups and their ancestors, then their policies. */
        roost_store_link_list(txn, "member", "thing", j->client_id, "thinggroup", NULL, NULL, 0,
                              collect_group, j);
        for (size_t g = 0; g < j->n_groups; g++)
            roost_store_link_list(txn, "parent", "thinggroup", j->groups[g], "thinggroup", NULL,
                                  NULL, 0, collect_group, j);
        for (size_t g = 0; g < j->n_groups; g++)
            roost_store_link_list(txn, "policy", "thinggroup", j->groups[g], "policy", NULL, NULL,
                                  0, collect_policy, j);
    }
    for (size_t i = 0; i < j->n_policies; i++) {
        if (roost_store_doc_get(txn, "policy", j->policy_names[i], &doc) != 0)
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
    if (roost_store_doc_get(txn, "cert", j->cert_id, &doc) == 0) {
        json_t *c = json_loads(doc.body, 0, NULL);
        json_t *pem = c ? json_object_get(c, "certificatePem") : NULL;
        if (json_is_string(pem) &&
            roost_pki_cert_info(json_string_value(pem), json_string_length(pem), &info) == 0) {
            fill_cert_vars(&info, &cert_vars);
            have_info = true;
        }
        json_decref(c);
    }

    rc = roost_authz_compile(docs, n_docs, d->region, d->account_id, &policy, err, sizeof(err));
    if (rc) {
        roost_log_warn("authz", "policies of certificate %.12s do not compile (%s): denying",
                       j->cert_id, err);
    } else {
        struct roost_authz_ctx ctx = {
            .client_id = j->client_id,
            .thing_name = j->thing_attached ? j->client_id : NULL,
            .thing_type = thing_type,
            .thing_attached = j->thing_attached,
            .thing_attrs = attrs,
            .n_thing_attrs = n_attrs,
            .cert = have_info ? &cert_vars : NULL,
            .source_ip = j->source_ip,
            .has_connect_attrs = true,
            .connect_attrs = (j->persistent ? ROOST_AUTHZ_CONNECT_PERSISTENT : 0) |
                             (j->will_topic ? ROOST_AUTHZ_CONNECT_LAST_WILL : 0),
            .last_will_topic = j->will_topic,
        };
        if (roost_authz_bind(policy, &ctx, &j->bound))
            j->bound = NULL;
    }
    roost_authz_policy_unref(&policy);
    if (have_info)
        roost_pki_cert_info_cleanup(&info);
    for (size_t i = 0; i < n_docs; i++)
        json_decref(policy_json[i]);
    json_decref(thing);
    return 0; /* a read: nothing to roll back */
}

static void resolve_done(void *ud, int rc)
{
    struct resolve_job *j = ud;
    if (rc)
        roost_log_error("authz", "reading the policies of %.12s failed: %s", j->cert_id,
                        roost_strerror(rc));
    roost_broker_authz_done(j->req, rc ? NULL : j->bound, false);
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
    if (!id->cert_id) {
        roost_broker_authz_done(req, NULL, true); /* anonymous: plain listeners */
        return;
    }
    if (d->allow_unregistered &&
        roost_registry_cert_status(d->registry, id->cert_id) == ROOST_CERT_UNKNOWN) {
        roost_broker_authz_done(req, NULL, true);
        return;
    }
    struct resolve_job *j = roost_xcalloc(1, sizeof(*j));
    j->d = d;
    j->req = req;
    snprintf(j->client_id, sizeof(j->client_id), "%s", id->client_id);
    snprintf(j->cert_id, sizeof(j->cert_id), "%s", id->cert_id);
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
