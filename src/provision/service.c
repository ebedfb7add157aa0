/*
 * service.c - the provisioning flows around the registry's transactions:
 *
 *   fleet provisioning by claim: the broker hands this service every
 *   PUBLISH to $aws/certificates/... and $aws/provisioning-templates/...
 *   (private services: the requests, which carry ownership tokens, are not
 *   routed to other subscribers). CreateKeysAndCertificate and
 *   CreateCertificateFromCsr are one transaction each; RegisterThing is a
 *   read transaction (template, token), then the template's
 *   pre-provisioning hook on a hook thread when it has one, then the
 *   transaction that applies the template. Answers go to <request>/accepted
 *   or /rejected, to the requesting session only, in the request's format.
 *
 *   JITR/JITP: the TLS verifier reports certificates of auto-registering
 *   CAs; one transaction registers (and with a template provisions) each,
 *   once however many connections present it meanwhile.
 *
 *   expiry: a hook thread purges ownership tokens (and the certificates
 *   they were for, when never activated) an hour after they were issued.
 */
#include "provision/provision.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>

#define SUB "provision"
#define HOOK_TIMEOUT_DEFAULT_MS 5000u
#define HOOK_THREADS_DEFAULT 4u
#define PURGE_INTERVAL_MS (5u * 60u * 1000u)
#define TOPIC_MAX 256

struct roost_provision {
    struct roost_provision_config cfg;
    atomic_bool stopping;
    atomic_uint_fast64_t next_request;
    pthread_mutex_t mu;            /* guards everything below */
    pthread_cond_t cv;             /* hook queue, purge time, in-flight count */
    struct fleet_job *hooks_head, *hooks_tail;
    size_t inflight;               /* fleet and JITP jobs not finished */
    uint64_t next_purge_ms;
    bool purging;
    struct roost_map jitp_pending; /* certificate id -> (void *)1 while its job runs */
    pthread_t *threads;
    unsigned n_threads;
};

enum fleet_step { STEP_CREATE, STEP_PREPARE, STEP_HOOK, STEP_REGISTER };

struct fleet_job {
    struct roost_provision *p;
    struct roost_fleet_request req;
    enum fleet_step step;
    uint64_t session_uid;
    char client_id[129];
    char claim_cert_id[65];        /* "" on plain listeners */
    char topic[TOPIC_MAX];         /* the request topic: answers go under it */
    char request_id[32];
    json_t *params;                /* RegisterThing parameters after hook overrides */
    json_t *hook;                  /* prepare's answer while the hook runs */
    struct roost_api_call call;
    struct fleet_job *next;        /* hook queue */
};

struct jitp_job {
    struct roost_provision *p;
    char cert_id[65];
    char ca_id[65];
    uint8_t *der;
    size_t der_len;
    bool with_template;
    char request_id[32];
    struct roost_api_call call;
};

static void job_count(struct roost_provision *p, int delta)
{
    pthread_mutex_lock(&p->mu);
    if (delta > 0)
        p->inflight++;
    else if (--p->inflight == 0)
        pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

static void call_reset(struct roost_api_call *call, const char *request_id)
{
    roost_api_call_cleanup(call);
    memset(call, 0, sizeof(*call));
    call->request_id = request_id;
    call->now_ms = roost_wall_ms();
    call->status = 200;
}

/* After a commit, on the writer thread: caches first, then roostd's
 * reactions (cut connections, publish events), as the API does. */
static void apply_effects(struct roost_provision *p, const struct roost_registry_effects *fx)
{
    if (!roost_registry_effects_any(fx))
        return;
    roost_registry_apply_effects(p->cfg.registry, fx);
    if (p->cfg.on_effects)
        p->cfg.on_effects(p->cfg.effects_ud, fx);
}

static void submit(struct roost_provision *p, int (*fn)(struct roost_store_txn *, void *),
                   void (*done)(void *, int), void *ud)
{
    struct roost_store_op *op = roost_xcalloc(1, sizeof(*op));
    op->type = ROOST_STORE_TXN;
    op->u.txn.fn = fn;
    op->u.txn.ud = ud;
    op->done = done;
    op->done_ud = ud;
    roost_store_submit(p->cfg.store, op);
}

/* ==== Fleet provisioning =================================================== */

static void fleet_answer(struct fleet_job *j, bool accepted, const json_t *body)
{
    char topic[TOPIC_MAX + 16];
    snprintf(topic, sizeof(topic), "%s/%s", j->topic, accepted ? "accepted" : "rejected");
    uint8_t *payload = NULL;
    size_t len = 0;
    if (roost_fleet_encode(body, j->req.cbor, &payload, &len)) {
        roost_log_error(SUB, "%s: cannot encode the answer on %s", j->request_id, topic);
        return;
    }
    roost_broker_publish_to(j->p->cfg.broker, j->session_uid, topic, payload, len, 1);
    roost_free(payload);
}

static void fleet_reject(struct fleet_job *j, int status, const char *code, const char *message)
{
    roost_log_info(SUB, "%s: %s from %s rejected: %d %s: %s", j->request_id, j->topic,
                   j->client_id, status, code, message);
    json_t *body = json_pack("{s:i,s:s,s:s}", "statusCode", status, "errorCode", code,
                             "errorMessage", message);
    fleet_answer(j, false, body);
    json_decref(body);
}

static void fleet_free(struct fleet_job *j)
{
    struct roost_provision *p = j->p;
    roost_fleet_request_cleanup(&j->req);
    roost_api_call_cleanup(&j->call);
    json_decref(j->params);
    json_decref(j->hook);
    roost_free(j);
    job_count(p, -1);
}

static int fleet_txn(struct roost_store_txn *txn, void *ud)
{
    struct fleet_job *j = ud;
    struct roost_registry *reg = j->p->cfg.registry;
    switch (j->step) {
    case STEP_CREATE:
        return roost_registry_fleet_create_certificate(reg, txn, j->req.csr, &j->call);
    case STEP_PREPARE:
        return roost_registry_fleet_prepare(reg, txn, j->req.template_name, j->req.token,
                                            &j->call);
    case STEP_REGISTER:
        return roost_registry_fleet_register_thing(reg, txn, j->req.template_name, j->req.token,
                                                   j->params, &j->call);
    case STEP_HOOK:
        break;
    }
    return ROOST_EINVAL;
}

static void fleet_done(void *ud, int rc);

static void fleet_submit(struct fleet_job *j, enum fleet_step step)
{
    j->step = step;
    call_reset(&j->call, j->request_id);
    submit(j->p, fleet_txn, fleet_done, j);
}

static void hook_enqueue(struct fleet_job *j)
{
    struct roost_provision *p = j->p;
    j->step = STEP_HOOK;
    pthread_mutex_lock(&p->mu);
    j->next = NULL;
    if (p->hooks_tail)
        p->hooks_tail->next = j;
    else
        p->hooks_head = j;
    p->hooks_tail = j;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

/* On the writer thread, after the step's transaction. */
static void fleet_done(void *ud, int rc)
{
    struct fleet_job *j = ud;
    struct roost_api_call *call = &j->call;
    if (rc == 0) {
        apply_effects(j->p, &call->effects);
    } else if (!call->error_code) {
        roost_log_error(SUB, "%s: store failure: %s", j->request_id, roost_strerror(rc));
        roost_api_fail(call, 500, "InternalFailure", "An unexpected error has occurred");
    }
    if (call->error_code) {
        fleet_reject(j, call->status, call->error_code, call->error_message);
        fleet_free(j);
        return;
    }
    switch (j->step) {
    case STEP_CREATE:
        fleet_answer(j, true, call->result);
        roost_log_info(SUB, "%s: certificate %.12s issued to %s", j->request_id,
                       json_string_value(json_object_get(call->result, "certificateId")),
                       j->client_id);
        break;
    case STEP_PREPARE: {
        json_t *hook = json_object_get(call->result, "preProvisioningHook");
        if (hook && json_is_string(json_object_get(hook, "targetArn"))) {
            j->hook = json_incref(call->result);
            hook_enqueue(j);
            return;
        }
        fleet_submit(j, STEP_REGISTER);
        return;
    }
    case STEP_REGISTER: {
        fleet_answer(j, true, call->result);
        const char *thing = json_string_value(json_object_get(call->result, "thingName"));
        roost_log_info(SUB, "%s: %s provisioned%s%s by template %s", j->request_id, j->client_id,
                       thing ? " as thing " : "", thing ? thing : "", j->req.template_name);
        break;
    }
    case STEP_HOOK:
        break;
    }
    fleet_free(j);
}

/* On a hook thread: AWS's hook input, the hook, then the overrides. */
static void fleet_run_hook(struct fleet_job *j)
{
    struct roost_provision *p = j->p;
    const json_t *prep = j->hook;
    const json_t *hook = json_object_get(prep, "preProvisioningHook");
    const char *target = json_string_value(json_object_get(hook, "targetArn"));
    json_t *input = json_pack(
        "{s:s,s:O,s:O,s:O,s:s,s:O}", "claimCertificateId", j->claim_cert_id, "certificateId",
        json_object_get(prep, "certificateId"), "certificatePem",
        json_object_get(prep, "certificatePem"), "templateArn", json_object_get(prep, "templateArn"),
        "clientId", j->client_id, "parameters", j->params);
    json_t *answer = NULL;
    char err[256];
    int rc = input ? roost_provision_run_hook(target, input, p->cfg.hook_timeout_ms, &answer, err,
                                              sizeof(err))
                   : ROOST_ENOMEM;
    json_decref(input);
    if (rc) {
        roost_log_warn(SUB, "%s: pre-provisioning hook %s of template %s: %s", j->request_id,
                       target, j->req.template_name, err);
        fleet_reject(j, 403, "AccessDenied", "The pre-provisioning hook did not allow provisioning");
        json_decref(answer);
        fleet_free(j);
        return;
    }
    const json_t *allow = json_object_get(answer, "allowProvisioning");
    const json_t *overrides = json_object_get(answer, "parameterOverrides");
    bool bad_overrides = overrides && !json_is_null(overrides) && !json_is_object(overrides);
    const char *k;
    const json_t *v;
    if (json_is_object(overrides))
        json_object_foreach((json_t *)overrides, k, v) bad_overrides |= !json_is_string(v);
    if (!json_is_true(allow) || bad_overrides) {
        roost_log_info(SUB, "%s: pre-provisioning hook %s refused %s%s", j->request_id, target,
                       j->client_id, bad_overrides ? " (parameterOverrides not strings)" : "");
        fleet_reject(j, 403, "AccessDenied", "The pre-provisioning hook did not allow provisioning");
        json_decref(answer);
        fleet_free(j);
        return;
    }
    if (json_is_object(overrides))
        json_object_update(j->params, (json_t *)overrides);
    json_decref(answer);
    json_decref(j->hook);
    j->hook = NULL;
    fleet_submit(j, STEP_REGISTER);
}

/* On the publisher's loop: parse, then hand the request to the writer. */
static void on_publish(void *ud, const struct roost_broker_request *r)
{
    struct roost_provision *p = ud;
    if (atomic_load(&p->stopping))
        return;
    struct fleet_job *j = roost_xcalloc(1, sizeof(*j));
    char err[256];
    int rc = roost_fleet_request_parse(r->topic, r->topic_len, r->payload, r->payload_len, &j->req,
                                       err, sizeof(err));
    if (j->req.op == ROOST_FLEET_NONE || r->topic_len >= TOPIC_MAX) {
        roost_fleet_request_cleanup(&j->req);
        roost_free(j);
        return;
    }
    j->p = p;
    job_count(p, +1);
    j->session_uid = r->session_uid;
    snprintf(j->client_id, sizeof(j->client_id), "%s", r->client_id ? r->client_id : "");
    snprintf(j->claim_cert_id, sizeof(j->claim_cert_id), "%s", r->cert_id ? r->cert_id : "");
    memcpy(j->topic, r->topic, r->topic_len);
    j->topic[r->topic_len] = '\0';
    snprintf(j->request_id, sizeof(j->request_id), "fleet-%llu",
             (unsigned long long)atomic_fetch_add(&p->next_request, 1));
    if (rc) {
        fleet_reject(j, 400, "InvalidPayload", err);
        fleet_free(j);
        return;
    }
    switch (j->req.op) {
    case ROOST_FLEET_CREATE_KEYS:
    case ROOST_FLEET_CREATE_FROM_CSR:
        fleet_submit(j, STEP_CREATE);
        break;
    case ROOST_FLEET_REGISTER_THING:
        if (!j->req.token || !*j->req.token) {
            fleet_reject(j, 400, "InvalidCertificateOwnershipToken",
                         "Certificate ownership token cannot be empty.");
            fleet_free(j);
            return;
        }
        /* A device may not name the certificate (or anything AWS::) itself. */
        j->params = j->req.parameters ? json_deep_copy(j->req.parameters) : json_object();
        {
            void *tmp;
            const char *k;
            json_t *v;
            json_object_foreach_safe(j->params, tmp, k, v) {
                if (strncmp(k, "AWS::", 5) == 0)
                    json_object_del(j->params, k);
            }
        }
        fleet_submit(j, STEP_PREPARE);
        break;
    default:
        fleet_free(j);
        break;
    }
}

/* ==== JITR / JITP ========================================================== */

static int jitp_txn(struct roost_store_txn *txn, void *ud)
{
    struct jitp_job *j = ud;
    return roost_registry_auto_register(j->p->cfg.registry, txn, j->der, j->der_len, j->ca_id,
                                        j->with_template, &j->call);
}

static void jitp_done(void *ud, int rc)
{
    struct jitp_job *j = ud;
    struct roost_provision *p = j->p;
    struct roost_api_call *call = &j->call;
    if (rc == 0) {
        apply_effects(p, &call->effects);
        const json_t *res = call->result;
        const char *thing = json_string_value(json_object_get(res, "thingName"));
        if (json_is_true(json_object_get(res, "registered")) || thing)
            roost_log_info(SUB, "certificate %.12s of CA %.12s: %s%s%s", j->cert_id, j->ca_id,
                           json_string_value(json_object_get(res, "certificateStatus")),
                           thing ? ", thing " : "", thing ? thing : "");
    } else if (j->with_template && call->error_code && !atomic_load(&p->stopping)) {
        /* AWS: a template that cannot be applied leaves the certificate
         * registered and PENDING_ACTIVATION; only the logs say why. */
        roost_log_warn(SUB, "JITP of certificate %.12s (CA %.12s) failed: %s: %s; "
                            "registering it PENDING_ACTIVATION",
                       j->cert_id, j->ca_id, call->error_code, call->error_message);
        j->with_template = false;
        call_reset(call, j->request_id);
        submit(p, jitp_txn, jitp_done, j);
        return;
    } else {
        roost_log_warn(SUB, "auto-registration of certificate %.12s (CA %.12s) failed: %s",
                       j->cert_id, j->ca_id,
                       call->error_code ? call->error_message : roost_strerror(rc));
    }
    pthread_mutex_lock(&p->mu);
    roost_map_del(&p->jitp_pending, j->cert_id, 64);
    pthread_mutex_unlock(&p->mu);
    roost_api_call_cleanup(call);
    roost_free(j->der);
    roost_free(j);
    job_count(p, -1);
}

enum roost_provision_verdict roost_provision_on_device_cert(struct roost_provision *p,
                                                            const char *cert_id,
                                                            const char *ca_id,
                                                            enum roost_cert_status status,
                                                            const uint8_t *der, size_t der_len)
{
    struct roost_registry_ca_info ca;
    if (!p || atomic_load(&p->stopping) || strlen(cert_id) != 64 ||
        !roost_registry_ca_info(p->cfg.registry, ca_id, &ca) || !ca.active ||
        !ca.auto_registration)
        return ROOST_PROVISION_NOT_MINE;
    if (status != ROOST_CERT_UNKNOWN && status != ROOST_CERT_PENDING_ACTIVATION)
        return ROOST_PROVISION_NOT_MINE;
    bool accept = ca.has_template &&
                  (ca.first_connect == 1 || (ca.first_connect < 0 && p->cfg.jitp_first_connect_accept));
    pthread_mutex_lock(&p->mu);
    bool queued = roost_map_get(&p->jitp_pending, cert_id, 64) != NULL;
    if (!queued) {
        roost_map_put(&p->jitp_pending, cert_id, 64, (void *)1);
        p->inflight++;
    }
    pthread_mutex_unlock(&p->mu);
    if (queued)
        return accept ? ROOST_PROVISION_ACCEPT : ROOST_PROVISION_REJECT;
    struct jitp_job *j = roost_xcalloc(1, sizeof(*j));
    j->p = p;
    memcpy(j->cert_id, cert_id, 65);
    snprintf(j->ca_id, sizeof(j->ca_id), "%s", ca_id);
    j->der = roost_xmalloc(der_len);
    memcpy(j->der, der, der_len);
    j->der_len = der_len;
    j->with_template = ca.has_template;
    snprintf(j->request_id, sizeof(j->request_id), "jitp-%llu",
             (unsigned long long)atomic_fetch_add(&p->next_request, 1));
    call_reset(&j->call, j->request_id);
    /* The store's writer runs operations in submission order: this one
     * commits before the policy lookup of the CONNECT that follows this
     * handshake, which is what lets first-connect acceptance work. */
    submit(p, jitp_txn, jitp_done, j);
    return accept ? ROOST_PROVISION_ACCEPT : ROOST_PROVISION_REJECT;
}

/* ==== Expiry of ownership tokens =========================================== */

struct purge_job {
    struct roost_provision *p;
    struct roost_api_call call;
};

static int purge_txn(struct roost_store_txn *txn, void *ud)
{
    struct purge_job *j = ud;
    return roost_registry_fleet_purge(j->p->cfg.registry, txn, &j->call);
}

static void purge_done(void *ud, int rc)
{
    struct purge_job *j = ud;
    struct roost_provision *p = j->p;
    if (rc == 0)
        apply_effects(p, &j->call.effects);
    else
        roost_log_warn(SUB, "purging expired ownership tokens failed: %s",
                       j->call.error_code ? j->call.error_message : roost_strerror(rc));
    roost_api_call_cleanup(&j->call);
    roost_free(j);
    pthread_mutex_lock(&p->mu);
    p->purging = false;
    pthread_mutex_unlock(&p->mu);
    job_count(p, -1);
}

/* ==== Hook threads ========================================================== */

static void deadline_from_ms(struct timespec *ts, uint64_t wall_ms)
{
    ts->tv_sec = (time_t)(wall_ms / 1000);
    ts->tv_nsec = (long)(wall_ms % 1000) * 1000000L;
}

static void *hook_thread(void *arg)
{
    struct roost_provision *p = arg;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        if (p->hooks_head) {
            struct fleet_job *j = p->hooks_head;
            p->hooks_head = j->next;
            if (!p->hooks_head)
                p->hooks_tail = NULL;
            pthread_mutex_unlock(&p->mu);
            if (atomic_load(&p->stopping)) {
                fleet_reject(j, 503, "ServiceUnavailable", "The server is shutting down");
                fleet_free(j);
            } else {
                fleet_run_hook(j);
            }
            pthread_mutex_lock(&p->mu);
            continue;
        }
        if (atomic_load(&p->stopping))
            break;
        uint64_t now = roost_wall_ms();
        if (now >= p->next_purge_ms && !p->purging) {
            p->purging = true;
            p->inflight++;
            p->next_purge_ms = now + PURGE_INTERVAL_MS;
            pthread_mutex_unlock(&p->mu);
            struct purge_job *j = roost_xcalloc(1, sizeof(*j));
            j->p = p;
            call_reset(&j->call, "purge");
            submit(p, purge_txn, purge_done, j);
            pthread_mutex_lock(&p->mu);
            continue;
        }
        struct timespec ts;
        deadline_from_ms(&ts, p->next_purge_ms);
        pthread_cond_timedwait(&p->cv, &p->mu, &ts);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* ==== Life cycle ============================================================ */

int roost_provision_create(const struct roost_provision_config *cfg, struct roost_provision **out)
{
    *out = NULL;
    if (!cfg->broker || !cfg->store || !cfg->registry)
        return ROOST_EINVAL;
    struct roost_provision *p = roost_xcalloc(1, sizeof(*p));
    int rc;
    p->cfg = *cfg;
    if (!p->cfg.hook_timeout_ms)
        p->cfg.hook_timeout_ms = HOOK_TIMEOUT_DEFAULT_MS;
    if (!p->cfg.hook_threads)
        p->cfg.hook_threads = HOOK_THREADS_DEFAULT;
    atomic_init(&p->stopping, false);
    atomic_init(&p->next_request, 1);
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL); /* CLOCK_REALTIME: purge times are wall-clock */
    roost_map_init(&p->jitp_pending);
    /* The first purge runs a minute after start-up: tokens that expired
     * while the server was down go then, not in the middle of start-up. */
    p->next_purge_ms = roost_wall_ms() + 60u * 1000u;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    rc = roost_broker_add_private_service(cfg->broker, "$aws/certificates/", on_publish, p);
    if (!rc)
        rc = roost_broker_add_private_service(cfg->broker, "$aws/provisioning-templates/",
                                              on_publish, p);
    if (rc)
        goto out;
    p->threads = roost_xcalloc(p->cfg.hook_threads, sizeof(*p->threads));
    for (unsigned i = 0; i < p->cfg.hook_threads; i++) {
        if (pthread_create(&p->threads[i], NULL, hook_thread, p)) {
            rc = ROOST_ENOMEM;
            goto out;
        }
        p->n_threads++;
    }
out:
    if (rc) {
        roost_provision_destroy(p);
        p = NULL;
    }
    *out = p;
    return rc;
}

void roost_provision_destroy(struct roost_provision *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    atomic_store(&p->stopping, true);
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (unsigned i = 0; i < p->n_threads; i++)
        pthread_join(p->threads[i], NULL);
    /* Hooks queued after the threads left (a prepare committing now) are
     * answered here; store steps finish through the writer. */
    pthread_mutex_lock(&p->mu);
    while (p->inflight) {
        while (p->hooks_head) {
            struct fleet_job *j = p->hooks_head;
            p->hooks_head = j->next;
            if (!p->hooks_head)
                p->hooks_tail = NULL;
            pthread_mutex_unlock(&p->mu);
            fleet_reject(j, 503, "ServiceUnavailable", "The server is shutting down");
            fleet_free(j);
            pthread_mutex_lock(&p->mu);
        }
        if (!p->inflight)
            break;
        pthread_mutex_unlock(&p->mu);
        roost_store_sync(p->cfg.store);
        pthread_mutex_lock(&p->mu);
    }
    pthread_mutex_unlock(&p->mu);
    roost_map_cleanup(&p->jitp_pending);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    roost_free(p->threads);
    roost_free(p);
}
