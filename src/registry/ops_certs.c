/*
 * ops_certs.c - AWS IoT's certificate operations: device certificates
 * (CreateKeysAndCertificate, CreateCertificateFromCsr, RegisterCertificate
 * with and without a CA, Describe/List/Update/Delete), CA certificates
 * (GetRegistrationCode, RegisterCACertificate with proof of possession,
 * Describe/List/Update/Delete) and DescribeEndpoint.
 *
 * Documents (registry-common conventions): "cert"/<certificateId> and
 * "cacert"/<certificateId> hold the Describe* members as stored; the
 * registration code lives in "regcode"/"current". All X.509 work goes
 * through src/pki; no private key ever reaches the store.
 *
 * It also holds the marker-style pager (registry__page_by_creation) shared
 * with ops_policies.c: AWS orders ListCertificates, ListCACertificates and
 * ListPolicies by creation date, newest first unless isAscendingOrder.
 */
#include "registry/registry_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define CERT_PEM_MAX 65536         /* AWS CertificatePem max */
#define CA_PER_SUBJECT_MAX 10      /* AWS: CAs with the same subject per account */
#define REG_TEMPLATE_BODY_MAX 10240
#define ROLE_ARN_MIN 20
#define ROLE_ARN_MAX 2048

/* ==== Small shared helpers (declared in registry_int.h) =================== */

int registry__check_cert_id(struct roost_api_call *call, const char *member, const char *value,
                            char out[65])
{
    size_t n = value ? strlen(value) : 0;
    bool ok = n == 64;
    for (size_t i = 0; ok && i < n; i++) {
        char c = value[i];
        if (c >= 'A' && c <= 'F')
            c = (char)(c - 'A' + 'a');
        ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
        out[i] = c;
    }
    if (!ok)
        return ROOST_API_INVALID(call,
                                 "1 validation error detected: Value '%.80s' at '%s' failed to "
                                 "satisfy constraint: Member must have length 64 and satisfy "
                                 "regular expression pattern: (0x)?[a-fA-F0-9]+",
                                 value ? value : "null", member);
    out[64] = '\0';
    return 0;
}

/* Markers are hex of "<created_ms>/<name>": opaque to clients, inside AWS's
 * Marker pattern [A-Za-z0-9+/]+={0,2}, and free of the characters policy
 * names may hold. */
static char *marker_encode(const char *text)
{
    size_t n = strlen(text);
    char *out = roost_xmalloc(2 * n + 1);
    roost_hex_encode((const uint8_t *)text, n, out);
    return out;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes a marker into a NUL-terminated string (caller frees), or NULL. */
static char *marker_decode(const char *marker)
{
    size_t n = strlen(marker);
    if (n == 0 || n % 2 || n > 1024)
        return NULL;
    char *out = roost_xmalloc(n / 2 + 1);
    for (size_t i = 0; i < n / 2; i++) {
        int hi = hexval(marker[2 * i]), lo = hexval(marker[2 * i + 1]);
        if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
            roost_free(out);
            return NULL;
        }
        out[i] = (char)(hi << 4 | lo);
    }
    out[n / 2] = '\0';
    return out;
}

int registry__marker_params(struct roost_api_call *call, size_t *out_page, char **out_after)
{
    int64_t page = 0;
    int rc = registry__query_int(call, "pageSize", 1, REGISTRY_PAGE_MAX, REGISTRY_PAGE_DEFAULT,
                                 &page);
    if (rc)
        return rc;
    *out_page = (size_t)page;
    *out_after = NULL;
    const char *marker = registry__query(call, "marker");
    if (marker) {
        *out_after = marker_decode(marker);
        if (!*out_after)
            return ROOST_API_INVALID(call, "The marker is not valid: %.80s", marker);
    }
    return 0;
}

char *registry__marker_for(const char *name)
{
    return marker_encode(name);
}

/* ==== Creation-ordered pages ============================================== */

struct created_item {
    uint64_t created_ms;
    char *name;
};

struct created_scan {
    registry__doc_keep_fn keep;
    void *keep_ud;
    bool asc;
    bool have_marker;
    uint64_t marker_ms;
    const char *marker_name;
    struct created_item *items;
    size_t n, cap;
};

static int created_cmp(uint64_t a_ms, const char *a_name, uint64_t b_ms, const char *b_name)
{
    if (a_ms != b_ms)
        return a_ms < b_ms ? -1 : 1;
    return strcmp(a_name, b_name);
}

static int created_cmp_asc(const void *a, const void *b)
{
    const struct created_item *x = a, *y = b;
    return created_cmp(x->created_ms, x->name, y->created_ms, y->name);
}

static int created_cmp_desc(const void *a, const void *b)
{
    return created_cmp_asc(b, a);
}

static int created_collect(void *ud, const struct roost_store_doc *doc)
{
    struct created_scan *sc = ud;
    if (sc->have_marker) {
        int c = created_cmp(doc->created_ms, doc->name, sc->marker_ms, sc->marker_name);
        if (sc->asc ? c <= 0 : c >= 0)
            return 0;
    }
    if (sc->keep && !sc->keep(sc->keep_ud, doc))
        return 0;
    if (sc->n == sc->cap) {
        sc->cap = sc->cap ? 2 * sc->cap : 64;
        sc->items = roost_xrealloc(sc->items, sc->cap * sizeof(*sc->items));
    }
    sc->items[sc->n].created_ms = doc->created_ms;
    sc->items[sc->n].name = roost_xstrdup(doc->name);
    sc->n++;
    return 0;
}

/*
 * One page of the documents of `kind` that `keep` accepts, ordered by the
 * store's creation time (ties by name), newest first unless the query says
 * isAscendingOrder=true; pageSize and marker from the query. Each document
 * on the page becomes item(reg, body) in result[list_key]; nextMarker is
 * set only when more follow. Scans the whole kind per page: these are
 * operator listings, and the store keeps no creation-time index.
 */
int registry__page_by_creation(struct roost_registry *reg, struct roost_store_txn *txn,
                               struct roost_api_call *call, const char *kind,
                               registry__doc_keep_fn keep, void *keep_ud,
                               registry__doc_item_fn item, const char *list_key)
{
    struct created_scan sc = {.keep = keep, .keep_ud = keep_ud};
    char *after = NULL;
    size_t page = 0;
    json_t *list = NULL;
    json_t *body = NULL;
    int rc = registry__marker_params(call, &page, &after);
    if (rc)
        goto out;
    rc = registry__query_bool(call, "isAscendingOrder", false, &sc.asc);
    if (rc)
        goto out;
    if (after) {
        char *slash = strchr(after, '/');
        uint64_t ms = 0;
        if (slash)
            *slash = '\0';
        if (!slash || roost_parse_u64(after, 0, UINT64_MAX, &ms)) {
            rc = ROOST_API_INVALID(call, "The marker is not valid: %.80s",
                                   registry__query(call, "marker"));
            goto out;
        }
        sc.have_marker = true;
        sc.marker_ms = ms;
        sc.marker_name = slash + 1;
    }
    rc = roost_store_doc_list(txn, kind, NULL, NULL, 0, created_collect, &sc);
    if (rc) {
        rc = registry__store_fail(call, rc, "list");
        goto out;
    }
    if (sc.n)
        qsort(sc.items, sc.n, sizeof(*sc.items), sc.asc ? created_cmp_asc : created_cmp_desc);
    list = json_array();
    size_t take = ROOST_MIN(page, sc.n);
    for (size_t i = 0; i < take; i++) {
        rc = registry__doc_load(call, txn, kind, sc.items[i].name, &body, NULL);
        if (rc == ROOST_ENOTFOUND)
            rc = registry__store_fail(call, rc, "list reload");
        if (rc)
            goto out;
        json_t *it = item(reg, body);
        if (it)
            json_array_append_new(list, it);
        json_decref(body);
        body = NULL;
    }
    call->result = json_object();
    json_object_set_new(call->result, list_key, list);
    list = NULL;
    if (take < sc.n) {
        char text[64 + REGISTRY_NAME_MAX * 2];
        snprintf(text, sizeof(text), "%" PRIu64 "/%s", sc.items[take - 1].created_ms,
                 sc.items[take - 1].name);
        char *m = marker_encode(text);
        json_object_set_new(call->result, "nextMarker", json_string(m));
        roost_free(m);
    }
out:
    for (size_t i = 0; i < sc.n; i++)
        roost_free(sc.items[i].name);
    roost_free(sc.items);
    roost_free(after);
    json_decref(list);
    json_decref(body);
    return rc;
}

/* ==== Certificate documents =============================================== */

static const char *const cert_statuses[] = {"ACTIVE",           "INACTIVE",
                                            "REVOKED",          "PENDING_TRANSFER",
                                            "REGISTER_INACTIVE", "PENDING_ACTIVATION"};

static bool in_list(const char *v, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v, list[i]) == 0)
            return true;
    return false;
}

static json_t *validity_json(int64_t not_before, int64_t not_after)
{
    return json_pack("{s:I,s:I}", "notBefore", (json_int_t)not_before, "notAfter",
                     (json_int_t)not_after);
}

static const char *body_str(const json_t *body, const char *key)
{
    return json_string_value(json_object_get(body, key));
}

static const char *str_or(const char *s, const char *dflt)
{
    return s ? s : dflt;
}

int registry__cert_insert(struct roost_registry *reg, struct roost_store_txn *txn,
                          struct roost_api_call *call, const struct registry__cert_new *nc)
{
    char arn[REGISTRY_ARN_MAX];
    char gen[37];
    int rc = roost_registry_arn(reg, "cert", nc->id, arn, sizeof(arn));
    if (rc)
        return registry__store_fail(call, rc, "cert arn");
    registry__uuid(gen);
    json_t *doc = json_object();
    json_object_set_new(doc, "certificateId", json_string(nc->id));
    json_object_set_new(doc, "certificateArn", json_string(arn));
    json_object_set_new(doc, "status", json_string(nc->status));
    json_object_set_new(doc, "certificatePem", json_string(nc->pem));
    if (nc->ca_id)
        json_object_set_new(doc, "caCertificateId", json_string(nc->ca_id));
    json_object_set_new(doc, "ownedBy", json_string(reg->cfg.account_id));
    json_object_set_new(doc, "creationDate", registry__timestamp(call->now_ms));
    json_object_set_new(doc, "lastModifiedDate", registry__timestamp(call->now_ms));
    json_object_set_new(doc, "customerVersion", json_integer(1));
    json_object_set_new(doc, "generationId", json_string(gen));
    json_object_set_new(doc, "validity", validity_json(nc->not_before, nc->not_after));
    json_object_set_new(doc, "certificateMode", json_string(nc->mode ? nc->mode : "DEFAULT"));
    rc = registry__doc_store(call, txn, "cert", nc->id, doc, 0, NULL);
    json_decref(doc);
    if (rc == ROOST_ECONFLICT)
        return registry__fail_exists(call, nc->id, arn,
                                     "The certificate is already provisioned or registered");
    if (rc == ROOST_ENOTFOUND)
        return registry__store_fail(call, rc, "cert put");
    if (!rc) /* every new certificate passes here: API, JITR, fleet provisioning */
        rc = registry__event_cert(reg, txn, call, "CREATED", nc->id, NULL);
    if (rc)
        return rc;
    roost_api_effects_cert(call, nc->id);
    return 0;
}

static void result_arn_id(struct roost_api_call *call, const char *arn, const char *id)
{
    call->result = json_pack("{s:s,s:s}", "certificateArn", arn, "certificateId", id);
}

static int no_ca(struct roost_registry *reg, struct roost_api_call *call)
{
    if (reg->cfg.ca)
        return 0;
    return roost_api_fail(call, 500, "InternalFailureException",
                          "This server has no certificate authority configured");
}

/* ==== CreateKeysAndCertificate, CreateCertificateFromCsr ================== */

static int store_issued(struct roost_registry *reg, struct roost_store_txn *txn,
                        struct roost_api_call *call, const struct roost_pki_issued *iss,
                        bool active)
{
    struct registry__cert_new nc = {
        .id = iss->id,
        .pem = iss->cert_pem,
        .status = active ? "ACTIVE" : "INACTIVE",
        .mode = "DEFAULT",
        .not_before = iss->not_before,
        .not_after = iss->not_after,
    };
    int rc = registry__cert_insert(reg, txn, call, &nc);
    if (rc)
        return rc;
    char arn[REGISTRY_ARN_MAX];
    rc = roost_registry_arn(reg, "cert", iss->id, arn, sizeof(arn));
    if (rc)
        return registry__store_fail(call, rc, "cert arn");
    call->result = json_pack("{s:s,s:s,s:s}", "certificateArn", arn, "certificateId", iss->id,
                             "certificatePem", iss->cert_pem);
    return 0;
}

/* POST /keys-and-certificate?setAsActive= : the private key goes back in
 * this one answer and is never stored. */
int registry__op_create_keys_and_certificate(struct roost_registry *reg,
                                             struct roost_store_txn *txn,
                                             struct roost_api_call *call)
{
    struct roost_pki_issued iss = {0};
    bool active = false;
    int rc = registry__query_bool(call, "setAsActive", false, &active);
    if (!rc)
        rc = no_ca(reg, call);
    if (rc)
        goto out;
    rc = roost_pki_issue_keypair(reg->cfg.ca, NULL, 0, 0, &iss);
    if (rc) {
        rc = roost_api_fail(call, 500, "InternalFailureException", "Could not issue a certificate");
        goto out;
    }
    rc = store_issued(reg, txn, call, &iss, active);
    if (rc)
        goto out;
    json_object_set_new(call->result, "keyPair",
                        json_pack("{s:s,s:s}", "PublicKey", iss.public_key_pem, "PrivateKey",
                                  iss.private_key_pem));
out:
    roost_pki_issued_cleanup(&iss);
    return rc;
}

/* POST /certificates?setAsActive= {certificateSigningRequest}. */
int registry__op_create_certificate_from_csr(struct roost_registry *reg,
                                             struct roost_store_txn *txn,
                                             struct roost_api_call *call)
{
    struct roost_pki_issued iss = {0};
    const char *csr = NULL;
    bool active = false;
    char err[256] = "";
    int rc = registry__member_string(call, call->body, "certificateSigningRequest", &csr);
    if (rc)
        goto out;
    if (!csr) {
        rc = ROOST_API_INVALID(call, "certificateSigningRequest is required");
        goto out;
    }
    if (!*csr || strlen(csr) > ROOST_PKI_CSR_MAX) {
        rc = ROOST_API_INVALID(call,
                               "1 validation error detected: Value at 'certificateSigningRequest' "
                               "failed to satisfy constraint: Member must have length between 1 "
                               "and 4096");
        goto out;
    }
    rc = registry__query_bool(call, "setAsActive", false, &active);
    if (!rc)
        rc = no_ca(reg, call);
    if (rc)
        goto out;
    rc = roost_pki_sign_csr(reg->cfg.ca, csr, strlen(csr), 0, &iss, err, sizeof(err));
    if (rc == ROOST_EINVAL || rc == ROOST_ETOOBIG || rc == ROOST_EAUTH) {
        rc = ROOST_API_INVALID(call, "%s",
                               err[0] ? err : "The certificate signing request is not valid");
        goto out;
    }
    if (rc) {
        rc = roost_api_fail(call, 500, "InternalFailureException", "Could not sign the CSR");
        goto out;
    }
    rc = store_issued(reg, txn, call, &iss, active);
out:
    roost_pki_issued_cleanup(&iss);
    return rc;
}

/* ==== RegisterCertificate, RegisterCertificateWithoutCA =================== */

static int member_pem(struct roost_api_call *call, const char *key, bool required,
                      const char **out)
{
    int rc = registry__member_string(call, call->body, key, out);
    if (rc)
        return rc;
    if (!*out && required)
        return ROOST_API_INVALID(call,
                                 "1 validation error detected: Value null at '%s' failed to "
                                 "satisfy constraint: Member must not be null",
                                 key);
    if (*out && (!**out || strlen(*out) > CERT_PEM_MAX))
        return ROOST_API_INVALID(call,
                                 "1 validation error detected: Value at '%s' failed to satisfy "
                                 "constraint: Member must have length between 1 and 65536",
                                 key);
    return 0;
}

/* The initial status of a registered certificate: `status` from the body
 * (ACTIVE, INACTIVE, REVOKED; the internal PENDING_ACTIVATION and the
 * deprecated REGISTER_INACTIVE are kept too), or ACTIVE with setAsActive. */
static int register_status(struct roost_api_call *call, bool allow_set_as_active,
                           const char **out)
{
    const char *status = NULL;
    bool set_active = false;
    int rc = registry__member_string(call, call->body, "status", &status);
    if (!rc && allow_set_as_active)
        rc = registry__query_bool(call, "setAsActive", false, &set_active);
    if (rc)
        return rc;
    if (status && !in_list(status, cert_statuses, ROOST_ARRAY_LEN(cert_statuses)))
        return ROOST_API_INVALID(call,
                                 "1 validation error detected: Value '%.40s' at 'status' failed "
                                 "to satisfy constraint: Member must satisfy enum value set: "
                                 "[ACTIVE, INACTIVE, REVOKED, PENDING_TRANSFER, "
                                 "REGISTER_INACTIVE, PENDING_ACTIVATION]",
                                 status);
    if (status && strcmp(status, "PENDING_TRANSFER") == 0)
        return ROOST_API_INVALID(call, "A certificate cannot be registered as PENDING_TRANSFER");
    *out = set_active ? "ACTIVE" : status ? status : "INACTIVE";
    return 0;
}

/* A registered CA that issued the certificate being registered. */
struct ca_match {
    const char *cert_pem;
    size_t cert_len;
    time_t now;
    char id[65];
    char status[16];
    char mode[16];
    bool found;
};

static bool try_ca(struct ca_match *m, const char *id, const json_t *body)
{
    const char *pem = body_str(body, "certificatePem");
    char err[160];
    if (!pem || roost_pki_verify_signed_by(m->cert_pem, m->cert_len, pem, strlen(pem), m->now, err,
                                           sizeof(err)) != 0)
        return false;
    snprintf(m->id, sizeof(m->id), "%s", id);
    snprintf(m->status, sizeof(m->status), "%s", str_or(body_str(body, "status"), "INACTIVE"));
    snprintf(m->mode, sizeof(m->mode), "%s", str_or(body_str(body, "certificateMode"), "DEFAULT"));
    m->found = true;
    return true;
}

static int find_ca_cb(void *ud, const struct roost_store_doc *doc)
{
    struct ca_match *m = ud;
    json_t *body = json_loads(doc->body, 0, NULL);
    bool hit = body && try_ca(m, doc->name, body);
    json_decref(body);
    return hit ? 1 : 0; /* 1 stops the scan */
}

/* Makes the ARN of a certificate (kind "cert" or "cacert") about to be
 * registered into `arn`, and refuses it with ResourceAlreadyExists (message
 * `exists_msg`) when that id is registered already. */
static int require_new(struct roost_registry *reg, struct roost_store_txn *txn,
                       struct roost_api_call *call, const char *kind, const char *id, char *arn,
                       size_t arn_cap, const char *exists_msg)
{
    struct roost_store_doc existing;
    int rc = roost_registry_arn(reg, kind, id, arn, arn_cap);
    if (rc)
        return registry__store_fail(call, rc, "arn");
    rc = roost_store_doc_get(txn, kind, id, &existing);
    if (rc == 0)
        return registry__fail_exists(call, id, arn, "%s", exists_msg);
    if (rc != ROOST_ENOTFOUND)
        return registry__store_fail(call, rc, kind);
    return 0;
}

/* POST /certificate/register {certificatePem, caCertificatePem, status}
 * ?setAsActive= : the certificate must be issued by a registered CA (the one
 * given, else any whose subject and key verify it) or by Roost's own CA. */
int registry__op_register_certificate(struct roost_registry *reg, struct roost_store_txn *txn,
                                      struct roost_api_call *call)
{
    struct roost_pki_cert_info info = {0};
    struct roost_pki_cert_info ca_info = {0};
    json_t *ca_doc = NULL;
    const char *pem = NULL, *ca_pem = NULL, *status = NULL;
    struct roost_str first = {0}, rest = {0};
    char arn[REGISTRY_ARN_MAX];
    int rc = member_pem(call, "certificatePem", true, &pem);
    if (!rc)
        rc = member_pem(call, "caCertificatePem", false, &ca_pem);
    if (!rc)
        rc = register_status(call, true, &status);
    if (rc)
        goto out;
    /* A bundle (device certificate, then its CA) is accepted as JITP sends it. */
    if (roost_pki_pem_split_first(pem, strlen(pem), &first, &rest) != 0 ||
        roost_pki_cert_info(first.p, first.n, &info) != 0) {
        rc = roost_api_fail(call, 400, "CertificateValidationException",
                            "The certificate is not a valid X.509 certificate");
        goto out;
    }
    rc = require_new(reg, txn, call, "cert", info.id, arn, sizeof(arn),
                     "The certificate is already provisioned or registered");
    if (rc)
        goto out;
    struct ca_match m = {.cert_pem = info.pem, .cert_len = strlen(info.pem),
                         .now = (time_t)(call->now_ms / 1000)};
    const char *given_ca = ca_pem;
    size_t given_len = ca_pem ? strlen(ca_pem) : 0;
    if (!given_ca && rest.n) {
        given_ca = rest.p;
        given_len = rest.n;
    }
    bool roost_issued = false;
    if (given_ca) {
        if (roost_pki_cert_info(given_ca, given_len, &ca_info) != 0) {
            rc = roost_api_fail(call, 400, "CertificateValidationException",
                                "The CA certificate is not a valid X.509 certificate");
            goto out;
        }
        rc = registry__doc_load(call, txn, "cacert", ca_info.id, &ca_doc, NULL);
        if (rc == ROOST_ENOTFOUND) {
            rc = 0;
            if (reg->cfg.ca && strcmp(ca_info.id, roost_pki_ca_id(reg->cfg.ca)) == 0) {
                roost_issued = true;
            } else {
                rc = roost_api_fail(call, 400, "CertificateValidationException",
                                    "The CA certificate %s is not registered", ca_info.id);
                goto out;
            }
        }
        if (rc)
            goto out;
        char err[200] = "";
        if (roost_pki_verify_signed_by(info.pem, strlen(info.pem), ca_info.pem,
                                       strlen(ca_info.pem), m.now, err, sizeof(err)) != 0) {
            rc = roost_api_fail(call, 400, "CertificateValidationException",
                                "The certificate is not signed by the given CA certificate: %s",
                                err);
            goto out;
        }
        if (ca_doc)
            try_ca(&m, ca_info.id, ca_doc);
    } else {
        rc = roost_store_doc_list(txn, "cacert", NULL, NULL, 0, find_ca_cb, &m);
        if (rc != 0 && rc != 1) {
            rc = registry__store_fail(call, rc, "cacert list");
            goto out;
        }
        rc = 0;
        if (!m.found && reg->cfg.ca_pem) {
            char err[160];
            roost_issued = roost_pki_verify_signed_by(info.pem, strlen(info.pem), reg->cfg.ca_pem,
                                                      strlen(reg->cfg.ca_pem), m.now, err,
                                                      sizeof(err)) == 0;
        }
        if (!m.found && !roost_issued) {
            rc = roost_api_fail(call, 400, "CertificateValidationException",
                                "The certificate is not signed by a registered CA certificate");
            goto out;
        }
    }
    if (m.found && strcmp(m.status, "ACTIVE") != 0) {
        rc = roost_api_fail(call, 406, "CertificateStateException",
                            "The CA certificate %s is not ACTIVE", m.id);
        goto out;
    }
    struct registry__cert_new nc = {
        .id = info.id,
        .pem = info.pem,
        .ca_id = m.found ? m.id : NULL,
        .status = status,
        .mode = m.found ? m.mode : "DEFAULT",
        .not_before = info.not_before,
        .not_after = info.not_after,
    };
    rc = registry__cert_insert(reg, txn, call, &nc);
    if (rc)
        goto out;
    result_arn_id(call, arn, info.id);
out:
    json_decref(ca_doc);
    roost_pki_cert_info_cleanup(&ca_info);
    roost_pki_cert_info_cleanup(&info);
    return rc;
}

/* POST /certificate/register-no-ca {certificatePem, status}: AWS registers
 * such certificates in SNI_ONLY mode. */
int registry__op_register_certificate_without_ca(struct roost_registry *reg,
                                                 struct roost_store_txn *txn,
                                                 struct roost_api_call *call)
{
    struct roost_pki_cert_info info = {0};
    const char *pem = NULL, *status = NULL;
    char arn[REGISTRY_ARN_MAX];
    int rc = member_pem(call, "certificatePem", true, &pem);
    if (!rc)
        rc = register_status(call, false, &status);
    if (rc)
        goto out;
    if (roost_pki_cert_info(pem, strlen(pem), &info) != 0) {
        rc = roost_api_fail(call, 400, "CertificateValidationException",
                            "The certificate is not a valid X.509 certificate");
        goto out;
    }
    int64_t now = (int64_t)(call->now_ms / 1000);
    if (info.not_after < now) {
        rc = roost_api_fail(call, 400, "CertificateValidationException",
                            "The certificate has expired");
        goto out;
    }
    rc = roost_registry_arn(reg, "cert", info.id, arn, sizeof(arn));
    if (rc) {
        rc = registry__store_fail(call, rc, "cert arn");
        goto out;
    }
    struct registry__cert_new nc = {
        .id = info.id,
        .pem = info.pem,
        .status = status,
        .mode = "SNI_ONLY",
        .not_before = info.not_before,
        .not_after = info.not_after,
    };
    rc = registry__cert_insert(reg, txn, call, &nc);
    if (rc)
        goto out;
    result_arn_id(call, arn, info.id);
out:
    roost_pki_cert_info_cleanup(&info);
    return rc;
}

/* ==== DescribeCertificate, ListCertificates, ListCertificatesByCA ========= */

static const char *const cert_description_keys[] = {
    "certificateArn", "certificateId",    "caCertificateId", "status",
    "certificatePem", "ownedBy",          "previousOwnedBy", "creationDate",
    "lastModifiedDate", "customerVersion", "transferData",   "generationId",
    "validity",       "certificateMode",
};

static const char *const ca_description_keys[] = {
    "certificateArn",   "certificateId",          "status",          "certificatePem",
    "ownedBy",          "creationDate",           "autoRegistrationStatus",
    "lastModifiedDate", "customerVersion",        "generationId",    "validity",
    "certificateMode",
};

/* A copy of the members of `body` named in keys (the model's shape), so
 * that nothing internal a document may carry leaks into an answer. */
static json_t *pick(const json_t *body, const char *const *keys, size_t n)
{
    json_t *out = json_object();
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_object_get(body, keys[i]);
        if (v)
            json_object_set(out, keys[i], v);
    }
    return out;
}

/* Loads cert or cacert `id`; RNF with AWS's wording when absent. */
static int load_cert(struct roost_api_call *call, struct roost_store_txn *txn, const char *kind,
                     const char *id, json_t **out_body, int64_t *out_version)
{
    int rc = registry__doc_load(call, txn, kind, id, out_body, out_version);
    if (rc == ROOST_ENOTFOUND)
        return ROOST_API_NOT_FOUND(call, "The %scertificate %s does not exist",
                                   strcmp(kind, "cacert") == 0 ? "CA " : "", id);
    return rc;
}

/* GET /certificates/{certificateId} */
int registry__op_describe_certificate(struct roost_registry *reg, struct roost_store_txn *txn,
                                      struct roost_api_call *call)
{
    char id[65];
    json_t *body = NULL;
    int rc = registry__check_cert_id(call, "certificateId", call->labels[0], id);
    if (!rc)
        rc = load_cert(call, txn, "cert", id, &body, NULL);
    if (rc)
        return rc;
    call->result = json_object();
    json_object_set_new(call->result, "certificateDescription",
                        pick(body, cert_description_keys, ROOST_ARRAY_LEN(cert_description_keys)));
    json_decref(body);
    return 0;
}

static json_t *cert_item(struct roost_registry *reg, const json_t *body)
{
    static const char *const keys[] = {"certificateArn", "certificateId", "status",
                                       "certificateMode", "creationDate"};
    return pick(body, keys, ROOST_ARRAY_LEN(keys));
}

/* GET /certificates?pageSize=&marker=&isAscendingOrder= */
int registry__op_list_certificates(struct roost_registry *reg, struct roost_store_txn *txn,
                                   struct roost_api_call *call)
{
    return registry__page_by_creation(reg, txn, call, "cert", NULL, NULL, cert_item,
                                      "certificates");
}

/* Documents whose body names `id` under `key` (a cheap text test first, so
 * most bodies are never parsed). */
struct member_filter {
    const char *key;
    const char *value;
    const char *sub;               /* optional object holding key */
};

static bool keep_member(void *ud, const struct roost_store_doc *doc)
{
    const struct member_filter *f = ud;
    if (!strstr(doc->body, f->value))
        return false;
    json_t *body = json_loads(doc->body, 0, NULL);
    const json_t *o = f->sub ? json_object_get(body, f->sub) : body;
    const char *v = json_string_value(json_object_get(o, f->key));
    bool keep = v && strcmp(v, f->value) == 0;
    json_decref(body);
    return keep;
}

/* GET /certificates-by-ca/{caCertificateId}: an unknown CA lists nothing
 * (the model has no ResourceNotFoundException here). */
int registry__op_list_certificates_by_ca(struct roost_registry *reg, struct roost_store_txn *txn,
                                         struct roost_api_call *call)
{
    char id[65];
    int rc = registry__check_cert_id(call, "caCertificateId", call->labels[0], id);
    if (rc)
        return rc;
    struct member_filter f = {.key = "caCertificateId", .value = id};
    return registry__page_by_creation(reg, txn, call, "cert", keep_member, &f, cert_item,
                                      "certificates");
}

/* ==== UpdateCertificate, DeleteCertificate ================================ */

/* Refreshes the members every update changes. */
static void touch(struct roost_api_call *call, json_t *body)
{
    char gen[37];
    registry__uuid(gen);
    json_object_set_new(body, "lastModifiedDate", registry__timestamp(call->now_ms));
    json_int_t v = json_integer_value(json_object_get(body, "customerVersion"));
    json_object_set_new(body, "customerVersion", json_integer(v + 1));
    json_object_set_new(body, "generationId", json_string(gen));
}

/* PUT /certificates/{certificateId}?newStatus= : ACTIVE, INACTIVE, REVOKED
 * (and the deprecated REGISTER_INACTIVE). The PENDING_* states belong to
 * the service; a REVOKED certificate stays revoked. Leaving ACTIVE records
 * the certificate so live connections using it are closed after commit. */
int registry__op_update_certificate(struct roost_registry *reg, struct roost_store_txn *txn,
                                    struct roost_api_call *call)
{
    char id[65];
    json_t *body = NULL;
    int64_t version = 0;
    int rc = registry__check_cert_id(call, "certificateId", call->labels[0], id);
    if (rc)
        goto out;
    const char *st = registry__query(call, "newStatus");
    if (!st) {
        rc = ROOST_API_INVALID(call, "1 validation error detected: Value null at 'newStatus' "
                                     "failed to satisfy constraint: Member must not be null");
        goto out;
    }
    if (!in_list(st, cert_statuses, ROOST_ARRAY_LEN(cert_statuses))) {
        rc = ROOST_API_INVALID(call,
                               "1 validation error detected: Value '%.40s' at 'newStatus' failed "
                               "to satisfy constraint: Member must satisfy enum value set: "
                               "[ACTIVE, INACTIVE, REVOKED, PENDING_TRANSFER, REGISTER_INACTIVE, "
                               "PENDING_ACTIVATION]",
                               st);
        goto out;
    }
    if (strcmp(st, "PENDING_TRANSFER") == 0 || strcmp(st, "PENDING_ACTIVATION") == 0) {
        rc = ROOST_API_INVALID(call, "The certificate status cannot be set to %s", st);
        goto out;
    }
    rc = load_cert(call, txn, "cert", id, &body, &version);
    if (rc)
        goto out;
    char cur[32]; /* a copy: the document's member is replaced below */
    snprintf(cur, sizeof(cur), "%.31s", str_or(body_str(body, "status"), ""));
    if (strcmp(cur, st) == 0)
        goto out; /* idempotent */
    if (strcmp(cur, "REVOKED") == 0) {
        rc = roost_api_fail(call, 406, "CertificateStateException",
                            "The certificate %s is REVOKED and cannot change status", id);
        goto out;
    }
    if (strcmp(cur, "PENDING_TRANSFER") == 0) {
        rc = roost_api_fail(call, 406, "CertificateStateException",
                            "The certificate %s is being transferred", id);
        goto out;
    }
    json_object_set_new(body, "status", json_string(st));
    touch(call, body);
    rc = registry__doc_store(call, txn, "cert", id, body, version, NULL);
    if (rc == ROOST_ECONFLICT || rc == ROOST_ENOTFOUND)
        rc = registry__store_fail(call, rc, "cert update");
    if (!rc)
        rc = registry__event_cert(reg, txn, call, "UPDATED", id, cur);
    if (rc)
        goto out;
    roost_api_effects_cert(call, id);
out:
    json_decref(body);
    return rc;
}

static int found_cb(void *ud, const struct roost_store_link *l)
{
    ROOST_UNUSED(l);
    *(bool *)ud = true;
    return 0;
}

static int policy_name_cb(void *ud, const struct roost_store_link *l)
{
    json_array_append_new(ud, json_string(l->to_name));
    return 0;
}

/* The POLICY "DETACHED" events of a forced delete, which takes the
 * certificate's policy links along: one per policy, as DetachPolicy would. */
static int detach_events(struct roost_registry *reg, struct roost_store_txn *txn,
                         struct roost_api_call *call, const char *id)
{
    json_t *names = json_array(), *v;
    size_t i;
    int rc = roost_store_link_list(txn, "policy", "cert", id, "policy", NULL, NULL, 0,
                                   policy_name_cb, names);
    if (rc)
        rc = registry__store_fail(call, rc, "cert policies");
    json_array_foreach(names, i, v) {
        if (rc)
            break;
        rc = registry__event_policy_target(reg, txn, call, "DETACHED", json_string_value(v),
                                           "cert", id);
    }
    json_decref(names);
    return rc;
}

/* DELETE /certificates/{certificateId}?forceDelete= : not while ACTIVE,
 * not while attached to a thing; attached policies block it unless
 * forceDelete, which detaches them. */
int registry__op_delete_certificate(struct roost_registry *reg, struct roost_store_txn *txn,
                                    struct roost_api_call *call)
{
    char id[65];
    json_t *body = NULL;
    bool force = false, things = false, policies = false;
    int rc = registry__check_cert_id(call, "certificateId", call->labels[0], id);
    if (!rc)
        rc = registry__query_bool(call, "forceDelete", false, &force);
    if (!rc)
        rc = load_cert(call, txn, "cert", id, &body, NULL);
    if (rc)
        goto out;
    const char *arn = str_or(body_str(body, "certificateArn"), id);
    if (strcmp(str_or(body_str(body, "status"), ""), "ACTIVE") == 0) {
        rc = roost_api_fail(call, 406, "CertificateStateException",
                            "Certificate must be deactivated (not ACTIVE) before deletion.");
        goto out;
    }
    rc = roost_store_link_list(txn, "principal", "thing", NULL, "cert", id, NULL, 1, found_cb,
                               &things);
    if (!rc)
        rc = roost_store_link_list(txn, "policy", "cert", id, "policy", NULL, NULL, 1, found_cb,
                                   &policies);
    if (rc) {
        rc = registry__store_fail(call, rc, "cert links");
        goto out;
    }
    if (things) {
        rc = roost_api_fail(call, 409, "DeleteConflictException",
                            "Things must be detached before deletion (arn: %s)", arn);
        goto out;
    }
    if (policies && !force) {
        rc = roost_api_fail(call, 409, "DeleteConflictException",
                            "Certificate policies must be detached before deletion (arn: %s)", arn);
        goto out;
    }
    rc = registry__event_cert(reg, txn, call, "DELETED", id, NULL);
    if (!rc && policies)
        rc = detach_events(reg, txn, call, id);
    if (rc)
        goto out;
    rc = roost_store_doc_del(txn, "cert", id); /* takes its policy links along */
    if (rc) {
        rc = registry__store_fail(call, rc, "cert delete");
        goto out;
    }
    roost_api_effects_cert(call, id);
    if (policies)
        call->effects.policies_changed = true;
out:
    json_decref(body);
    return rc;
}

/* ==== Registration code, CA certificates ================================== */

/* The account's registration code, made on first use and kept until
 * DeleteRegistrationCode. ROOST_ENOTFOUND (call untouched) when none yet
 * and `create` is false. */
static int registration_code(struct roost_api_call *call, struct roost_store_txn *txn, bool create,
                             char out[65])
{
    json_t *body = NULL;
    int rc = registry__doc_load(call, txn, "regcode", "current", &body, NULL);
    if (rc == 0) {
        const char *code = body_str(body, "registrationCode");
        if (code && strlen(code) == 64) {
            memcpy(out, code, 65);
            json_decref(body);
            return 0;
        }
        json_decref(body);
        return registry__store_fail(call, ROOST_EDB, "regcode");
    }
    if (rc != ROOST_ENOTFOUND || !create)
        return rc;
    rc = roost_pki_registration_code_new(out);
    if (rc)
        return registry__store_fail(call, rc, "regcode new");
    body = json_pack("{s:s}", "registrationCode", out);
    rc = registry__doc_store(call, txn, "regcode", "current", body, 0, NULL);
    json_decref(body);
    if (rc == ROOST_ECONFLICT || rc == ROOST_ENOTFOUND)
        rc = registry__store_fail(call, rc, "regcode put");
    return rc;
}

/* GET /registrationcode (writes on first use: not read-only). */
int registry__op_get_registration_code(struct roost_registry *reg, struct roost_store_txn *txn,
                                       struct roost_api_call *call)
{
    char code[65];
    int rc = registration_code(call, txn, true, code);
    if (rc)
        return rc;
    call->result = json_pack("{s:s}", "registrationCode", code);
    return 0;
}


/* registrationConfig {templateBody, roleArn, templateName}: JITP by an
 * inline template (with the role it runs as), parsed as a JITP template,
 * or by a template's name (registration_template_exists checks it once the
 * other members are known to be consistent). *out is a cleaned copy (NULL
 * when absent). */
static int registration_config(struct roost_api_call *call, json_t **out)
{
    json_t *cfg = NULL;
    const char *body = NULL, *role = NULL, *name = NULL;
    *out = NULL;
    int rc = registry__member_object(call, call->body, "registrationConfig", &cfg);
    if (rc || !cfg)
        return rc;
    rc = registry__member_string(call, cfg, "templateBody", &body);
    if (!rc)
        rc = registry__member_string(call, cfg, "roleArn", &role);
    if (!rc)
        rc = registry__member_string(call, cfg, "templateName", &name);
    if (rc)
        return rc;
    if (body && strlen(body) > REG_TEMPLATE_BODY_MAX)
        return ROOST_API_INVALID(call, "registrationConfig.templateBody is longer than 10240");
    if (role && (strlen(role) < ROLE_ARN_MIN || strlen(role) > ROLE_ARN_MAX))
        return ROOST_API_INVALID(call,
                                 "registrationConfig.roleArn must have length between 20 and 2048");
    if (name && !roost_template_name_valid(name, strlen(name)))
        return ROOST_API_INVALID(call, "registrationConfig.templateName must match "
                                       "^[0-9A-Za-z_-]+$ and be 1 to 36 characters");
    if (name && body)
        return ROOST_API_INVALID(call, "registrationConfig takes either templateName or "
                                       "templateBody with roleArn, not both");
    if (body) {
        rc = registry__template_check_body(call, body, ROOST_TEMPLATE_JITP,
                                           "Invalid registration template");
        if (rc)
            return rc;
    }
    json_t *o = json_object();
    if (body)
        json_object_set_new(o, "templateBody", json_string(body));
    if (role)
        json_object_set_new(o, "roleArn", json_string(role));
    if (name)
        json_object_set_new(o, "templateName", json_string(name));
    *out = o;
    return 0;
}

/* The templateName of a registrationConfig must be an existing JITP template. */
static int registration_template_exists(struct roost_api_call *call, struct roost_store_txn *txn,
                                        const json_t *rcfg)
{
    const char *name = json_string_value(json_object_get(rcfg, "templateName"));
    int rc = 0;
    if (name) {
        json_t *tdoc = NULL;
        rc = registry__template_load(call, txn, name, &tdoc, NULL);
        if (rc == ROOST_ENOTFOUND)
            return ROOST_API_NOT_FOUND(call, "The provisioning template %s does not exist", name);
        if (rc)
            return rc;
        const char *type = json_string_value(json_object_get(tdoc, "type"));
        bool jitp = type && strcmp(type, "JITP") == 0;
        json_decref(tdoc);
        if (!jitp)
            return ROOST_API_INVALID(call, "registrationConfig.templateName %s is not a JITP "
                                           "template",
                                     name);
    }
    return rc;
}

struct subject_count {
    const char *subject;
    size_t n;
};

static int count_subject_cb(void *ud, const struct roost_store_doc *doc)
{
    struct subject_count *sc = ud;
    json_t *body = json_loads(doc->body, 0, NULL);
    const char *pem = body_str(body, "certificatePem");
    struct roost_pki_cert_info info = {0};
    if (pem && roost_pki_cert_info(pem, strlen(pem), &info) == 0 &&
        strcmp(info.subject.rfc2253, sc->subject) == 0)
        sc->n++;
    roost_pki_cert_info_cleanup(&info);
    json_decref(body);
    return 0;
}

/*
 * POST /cacertificate?setAsActive=&allowAutoRegistration=
 * {caCertificate, verificationCertificate, registrationConfig, tags,
 * certificateMode}. DEFAULT mode proves possession of the CA key: the
 * verification certificate is signed by the CA and its CN is the account's
 * registration code. SNI_ONLY takes no verification certificate.
 */
int registry__op_register_ca_certificate(struct roost_registry *reg, struct roost_store_txn *txn,
                                         struct roost_api_call *call)
{
    struct roost_pki_cert_info info = {0};
    json_t *rcfg = NULL, *tags = NULL, *doc = NULL;
    const char *ca = NULL, *ver = NULL, *mode = NULL;
    bool active = false, auto_reg = false;
    char arn[REGISTRY_ARN_MAX], gen[37], err[200] = "";
    int rc = member_pem(call, "caCertificate", true, &ca);
    if (!rc)
        rc = member_pem(call, "verificationCertificate", false, &ver);
    if (!rc)
        rc = registry__member_string(call, call->body, "certificateMode", &mode);
    if (!rc)
        rc = registry__member_array(call, call->body, "tags", &tags);
    if (!rc)
        rc = registry__query_bool(call, "setAsActive", false, &active);
    if (!rc)
        rc = registry__query_bool(call, "allowAutoRegistration", false, &auto_reg);
    if (!rc)
        rc = registration_config(call, &rcfg);
    if (!rc && rcfg)
        rc = registration_template_exists(call, txn, rcfg);
    if (rc)
        goto out;
    if (!mode)
        mode = "DEFAULT";
    if (strcmp(mode, "DEFAULT") != 0 && strcmp(mode, "SNI_ONLY") != 0) {
        rc = ROOST_API_INVALID(call,
                               "1 validation error detected: Value '%.40s' at 'certificateMode' "
                               "failed to satisfy constraint: Member must satisfy enum value set: "
                               "[DEFAULT, SNI_ONLY]",
                               mode);
        goto out;
    }
    if (strcmp(mode, "DEFAULT") == 0 && !ver) {
        rc = ROOST_API_INVALID(call, "verificationCertificate is required when certificateMode "
                                     "is DEFAULT");
        goto out;
    }
    if (strcmp(mode, "SNI_ONLY") == 0 && ver) {
        rc = ROOST_API_INVALID(call, "verificationCertificate must be empty when certificateMode "
                                     "is SNI_ONLY");
        goto out;
    }
    if (roost_pki_cert_info(ca, strlen(ca), &info) != 0) {
        rc = roost_api_fail(call, 400, "CertificateValidationException",
                            "The CA certificate is not a valid X.509 certificate");
        goto out;
    }
    time_t now = (time_t)(call->now_ms / 1000);
    if (!info.is_ca) {
        rc = roost_api_fail(call, 400, "CertificateValidationException",
                            "The certificate is not a CA certificate (basicConstraints CA:TRUE)");
        goto out;
    }
    if (info.not_after < (int64_t)now || info.not_before > (int64_t)now) {
        rc = roost_api_fail(call, 400, "CertificateValidationException",
                            "The CA certificate is not valid at this time");
        goto out;
    }
    if (ver) {
        char code[65];
        rc = registration_code(call, txn, false, code);
        if (rc == ROOST_ENOTFOUND) {
            rc = roost_api_fail(call, 400, "RegistrationCodeValidationException",
                                "There is no registration code: call GetRegistrationCode first");
            goto out;
        }
        if (rc)
            goto out;
        rc = roost_pki_verify_ca_registration(ca, strlen(ca), ver, strlen(ver), code, now, err,
                                              sizeof(err));
        if (rc == ROOST_ECONFLICT) {
            rc = roost_api_fail(call, 400, "RegistrationCodeValidationException",
                                "The verification certificate does not carry the registration "
                                "code: %s",
                                err);
            goto out;
        }
        if (rc) {
            rc = roost_api_fail(call, 400, "CertificateValidationException",
                                "The verification certificate is not valid: %s", err);
            goto out;
        }
    }
    rc = require_new(reg, txn, call, "cacert", info.id, arn, sizeof(arn),
                     "The CA certificate is already registered");
    if (rc)
        goto out;
    struct subject_count sc = {.subject = info.subject.rfc2253};
    rc = roost_store_doc_list(txn, "cacert", NULL, NULL, 0, count_subject_cb, &sc);
    if (rc) {
        rc = registry__store_fail(call, rc, "cacert list");
        goto out;
    }
    if (sc.n >= CA_PER_SUBJECT_MAX) {
        rc = roost_api_fail(call, 410, "LimitExceededException",
                            "At most %d CA certificates may share the subject %.200s",
                            CA_PER_SUBJECT_MAX, info.subject.rfc2253);
        goto out;
    }
    registry__uuid(gen);
    doc = json_object();
    json_object_set_new(doc, "certificateId", json_string(info.id));
    json_object_set_new(doc, "certificateArn", json_string(arn));
    json_object_set_new(doc, "status", json_string(active ? "ACTIVE" : "INACTIVE"));
    json_object_set_new(doc, "certificatePem", json_string(info.pem));
    json_object_set_new(doc, "ownedBy", json_string(reg->cfg.account_id));
    json_object_set_new(doc, "autoRegistrationStatus", json_string(auto_reg ? "ENABLE" : "DISABLE"));
    json_object_set_new(doc, "creationDate", registry__timestamp(call->now_ms));
    json_object_set_new(doc, "lastModifiedDate", registry__timestamp(call->now_ms));
    json_object_set_new(doc, "customerVersion", json_integer(1));
    json_object_set_new(doc, "generationId", json_string(gen));
    json_object_set_new(doc, "validity", validity_json(info.not_before, info.not_after));
    json_object_set_new(doc, "certificateMode", json_string(mode));
    if (rcfg)
        json_object_set(doc, "registrationConfig", rcfg);
    if (tags) /* kept for roost_registry_ca_info's "roost:jitp_first_connect" */
        json_object_set(doc, "tags", tags);
    rc = registry__doc_store(call, txn, "cacert", info.id, doc, 0, NULL);
    if (rc == ROOST_ECONFLICT || rc == ROOST_ENOTFOUND)
        rc = registry__store_fail(call, rc, "cacert put");
    if (!rc)
        rc = registry__event_ca_cert(reg, txn, call, "CREATED", info.id);
    if (rc)
        goto out;
    call->effects.cas_changed = true;
    result_arn_id(call, arn, info.id);
out:
    json_decref(doc);
    json_decref(rcfg);
    roost_pki_cert_info_cleanup(&info);
    return rc;
}

/* GET /cacertificate/{caCertificateId} */
int registry__op_describe_ca_certificate(struct roost_registry *reg, struct roost_store_txn *txn,
                                         struct roost_api_call *call)
{
    char id[65];
    json_t *body = NULL;
    int rc = registry__check_cert_id(call, "caCertificateId", call->labels[0], id);
    if (!rc)
        rc = load_cert(call, txn, "cacert", id, &body, NULL);
    if (rc)
        return rc;
    call->result = json_object();
    json_object_set_new(call->result, "certificateDescription",
                        pick(body, ca_description_keys, ROOST_ARRAY_LEN(ca_description_keys)));
    json_t *rcfg = json_object_get(body, "registrationConfig");
    if (json_is_object(rcfg))
        json_object_set(call->result, "registrationConfig", rcfg);
    json_decref(body);
    return 0;
}

static json_t *ca_item(struct roost_registry *reg, const json_t *body)
{
    static const char *const keys[] = {"certificateArn", "certificateId", "status",
                                       "creationDate"};
    return pick(body, keys, ROOST_ARRAY_LEN(keys));
}

/* GET /cacertificates?pageSize=&marker=&isAscendingOrder=&templateName= */
int registry__op_list_ca_certificates(struct roost_registry *reg, struct roost_store_txn *txn,
                                      struct roost_api_call *call)
{
    const char *tpl = registry__query(call, "templateName");
    if (tpl && !roost_template_name_valid(tpl, strlen(tpl)))
        return ROOST_API_INVALID(call, "templateName must match ^[0-9A-Za-z_-]+$ and be 1 to 36 "
                                       "characters");
    struct member_filter f = {.key = "templateName", .value = tpl, .sub = "registrationConfig"};
    return registry__page_by_creation(reg, txn, call, "cacert", tpl ? keep_member : NULL, &f,
                                      ca_item, "certificates");
}

/* PUT /cacertificate/{caCertificateId}?newStatus=&newAutoRegistrationStatus=
 * {registrationConfig, removeAutoRegistration} */
int registry__op_update_ca_certificate(struct roost_registry *reg, struct roost_store_txn *txn,
                                       struct roost_api_call *call)
{
    char id[65];
    json_t *body = NULL, *rcfg = NULL;
    int64_t version = 0;
    bool remove = false;
    int rc = registry__check_cert_id(call, "caCertificateId", call->labels[0], id);
    if (rc)
        goto out;
    const char *st = registry__query(call, "newStatus");
    const char *ar = registry__query(call, "newAutoRegistrationStatus");
    if (st && strcmp(st, "ACTIVE") != 0 && strcmp(st, "INACTIVE") != 0) {
        rc = ROOST_API_INVALID(call,
                               "1 validation error detected: Value '%.40s' at 'newStatus' failed "
                               "to satisfy constraint: Member must satisfy enum value set: "
                               "[ACTIVE, INACTIVE]",
                               st);
        goto out;
    }
    if (ar && strcmp(ar, "ENABLE") != 0 && strcmp(ar, "DISABLE") != 0) {
        rc = ROOST_API_INVALID(call,
                               "1 validation error detected: Value '%.40s' at "
                               "'newAutoRegistrationStatus' failed to satisfy constraint: Member "
                               "must satisfy enum value set: [ENABLE, DISABLE]",
                               ar);
        goto out;
    }
    rc = registry__member_bool(call, call->body, "removeAutoRegistration", false, &remove);
    if (!rc)
        rc = registration_config(call, &rcfg);
    if (rc)
        goto out;
    if (remove && rcfg) {
        rc = ROOST_API_INVALID(call, "registrationConfig and removeAutoRegistration cannot be "
                                     "given together");
        goto out;
    }
    if (rcfg) {
        rc = registration_template_exists(call, txn, rcfg);
        if (rc)
            goto out;
    }
    rc = load_cert(call, txn, "cacert", id, &body, &version);
    if (rc)
        goto out;
    if (st)
        json_object_set_new(body, "status", json_string(st));
    if (ar)
        json_object_set_new(body, "autoRegistrationStatus", json_string(ar));
    if (rcfg)
        json_object_set(body, "registrationConfig", rcfg);
    if (remove)
        json_object_del(body, "registrationConfig");
    touch(call, body);
    rc = registry__doc_store(call, txn, "cacert", id, body, version, NULL);
    if (rc == ROOST_ECONFLICT || rc == ROOST_ENOTFOUND)
        rc = registry__store_fail(call, rc, "cacert update");
    if (!rc)
        rc = registry__event_ca_cert(reg, txn, call, "UPDATED", id);
    if (rc)
        goto out;
    call->effects.cas_changed = true;
out:
    json_decref(rcfg);
    json_decref(body);
    return rc;
}

/* DELETE /cacertificate/{caCertificateId}: only once INACTIVE. Device
 * certificates registered under it stay (AWS keeps them too). */
int registry__op_delete_ca_certificate(struct roost_registry *reg, struct roost_store_txn *txn,
                                       struct roost_api_call *call)
{
    char id[65];
    json_t *body = NULL;
    int rc = registry__check_cert_id(call, "caCertificateId", call->labels[0], id);
    if (!rc)
        rc = load_cert(call, txn, "cacert", id, &body, NULL);
    if (rc)
        goto out;
    if (strcmp(str_or(body_str(body, "status"), ""), "ACTIVE") == 0) {
        rc = roost_api_fail(call, 406, "CertificateStateException",
                            "Certificate must be deactivated (not ACTIVE) before deletion.");
        goto out;
    }
    rc = registry__event_ca_cert(reg, txn, call, "DELETED", id);
    if (rc)
        goto out;
    rc = roost_store_doc_del(txn, "cacert", id);
    if (rc) {
        rc = registry__store_fail(call, rc, "cacert delete");
        goto out;
    }
    call->effects.cas_changed = true;
out:
    json_decref(body);
    return rc;
}

/* ==== DescribeEndpoint ==================================================== */

/* GET /endpoint?endpointType= : Roost serves data, ATS, credentials and
 * jobs on one host, so every known type answers the same address. */
int registry__op_describe_endpoint(struct roost_registry *reg, struct roost_store_txn *txn,
                                   struct roost_api_call *call)
{
    static const char *const types[] = {"iot:Data", "iot:Data-ATS", "iot:CredentialProvider",
                                        "iot:Jobs"};
    const char *type = registry__query(call, "endpointType");
    if (type && !in_list(type, types, ROOST_ARRAY_LEN(types)))
        return ROOST_API_INVALID(call, "Endpoint type %.128s is not valid", type);
    call->result = json_pack("{s:s}", "endpointAddress",
                             reg->cfg.endpoint_host ? reg->cfg.endpoint_host : "localhost");
    return 0;
}
