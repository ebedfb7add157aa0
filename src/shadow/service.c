/*
 * service.c - the Device Shadow service on MQTT: takes the requests devices
 * publish on $aws/things/T/shadow[/name/S]/{get,update,delete}, runs the pure
 * core (ops.c) inside a store transaction that also persists the result, and
 * publishes the answers once that transaction has committed, so an /accepted
 * always names a durable state.
 *
 * Threads: the broker calls us on the publisher's loop; we only copy the
 * request into a store op. Everything else runs on the store's writer thread,
 * which applies ops in submission order and completes them in commit order:
 * it owns the cache of parsed shadows without a lock, and answers leave it
 * through roost_broker_publish_ordered keyed by the thing name, so a thing's
 * answers reach subscribers in the order its requests were applied.
 *
 * Storage: registry documents of kind "shadow" named "<thing>/<shadow>"
 * ("<thing>/" for the classic shadow) hold the stored form; a deleted shadow
 * leaves a tombstone of kind "shadow-deleted" under the same name,
 * {"version":N,"timestamp":T}, so a shadow recreated within 48 hours
 * continues its numbering as AWS's does.
 */
#include "shadow/shadow.h"
#include "shadow/shadow_int.h"

#include "broker/broker.h"
#include "store/store.h"

#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>

#define SHADOW_KIND "shadow"
#define SHADOW_TOMB_KIND "shadow-deleted"
#define SHADOW_TOMB_TTL_S (48 * 3600)
/* Parsed shadows kept in memory; beyond either bound the least recently
 * used go. Bytes count the stored text (the trees take about as much). */
#ifndef SHADOW_CACHE_MAX /* tests build with tiny bounds to exercise eviction */
#define SHADOW_CACHE_MAX 8192u
#endif
#ifndef SHADOW_CACHE_MAX_BYTES
#define SHADOW_CACHE_MAX_BYTES (32u << 20)
#endif
/* The service's answers are published at QoS 0, as AWS's are delivered to
 * the SDKs (which re-request with /get after a reconnect). */
#define SHADOW_ANSWER_QOS 0

/* What the writer knows about one shadow: its parsed form, or that none
 * exists and which version a deleted one had reached. */
struct cache_entry {
    struct roost_shadow *shadow; /* NULL: no shadow */
    uint64_t base_version;       /* when shadow is NULL: the tombstone's version */
    int64_t doc_ver;             /* when shadow is set: its document's store version */
    int64_t tomb_ts;             /* the tombstone's time, 0 for none */
    struct cache_entry *prev, *next; /* LRU list, most recent first */
    size_t key_len;
    char key[];
};

struct roost_shadow_service {
    struct roost_broker *broker;
    struct roost_store *store;
    struct roost_shadow_limits lim;
    atomic_bool stopping;
    /* Requests in flight per client id (what AWS throttles), any thread. */
    pthread_mutex_t inflight_lock;
    struct roost_map inflight; /* client id -> (uintptr_t)count, absent = 0 */
    /* Writer thread only. */
    struct roost_map cache;
    struct cache_entry *lru_head, *lru_tail;
    size_t cache_bytes; /* stored text of the cached shadows */
};

/* One request, from the loop that received it until its answers are out. */
struct svc_req {
    struct roost_store_op op; /* first: the store frees us through it */
    struct roost_shadow_service *svc;
    enum roost_shadow_op kind;
    struct roost_str thing, name; /* views into key */
    char *key;                    /* "<thing>/<name>", NUL-terminated */
    size_t key_len;
    const uint8_t *payload;
    size_t payload_len;
    char *client_id; /* counted in svc->inflight while this lives; NULL: not */
    roost_shadow_service_done_fn done_fn; /* set: an HTTPS request (no /rejected) */
    void *done_ud;
    int64_t now;
    int rc; /* the core's verdict; the store's error arrives in done */
    struct roost_shadow_result res;
};

/* ==== Cache (writer thread) ============================================== */

static void lru_unlink(struct roost_shadow_service *svc, struct cache_entry *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        svc->lru_head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        svc->lru_tail = e->prev;
    e->prev = e->next = NULL;
}

static void lru_push_front(struct roost_shadow_service *svc, struct cache_entry *e)
{
    e->prev = NULL;
    e->next = svc->lru_head;
    if (svc->lru_head)
        svc->lru_head->prev = e;
    svc->lru_head = e;
    if (!svc->lru_tail)
        svc->lru_tail = e;
}

/* Replaces the entry's shadow (taking s), keeping the byte count. */
static void cache_set(struct roost_shadow_service *svc, struct cache_entry *e,
                      struct roost_shadow *s)
{
    if (e->shadow)
        svc->cache_bytes -= e->shadow->text.len;
    roost_shadow_destroy(e->shadow);
    e->shadow = s;
    if (s)
        svc->cache_bytes += s->text.len;
}

static void cache_drop(struct roost_shadow_service *svc, struct cache_entry *e)
{
    lru_unlink(svc, e);
    roost_map_del(&svc->cache, e->key, e->key_len);
    cache_set(svc, e, NULL);
    roost_free(e);
}

/* Drops the least recently used entries beyond the bounds, sparing `keep`
 * (the entry in use). */
static void cache_trim(struct roost_shadow_service *svc, struct cache_entry *keep)
{
    while ((svc->cache.count > SHADOW_CACHE_MAX || svc->cache_bytes > SHADOW_CACHE_MAX_BYTES) &&
           svc->lru_tail && svc->lru_tail != keep)
        cache_drop(svc, svc->lru_tail);
}

static void cache_clear(struct roost_shadow_service *svc)
{
    while (svc->lru_head)
        cache_drop(svc, svc->lru_head);
}

static struct cache_entry *cache_insert(struct roost_shadow_service *svc, const char *key,
                                        size_t key_len)
{
    struct cache_entry *e = roost_xcalloc(1, sizeof(*e) + key_len + 1);
    memcpy(e->key, key, key_len);
    e->key_len = key_len;
    roost_map_put(&svc->cache, e->key, key_len, e);
    lru_push_front(svc, e);
    return e;
}

/* Reads a tombstone's {"version":N,"timestamp":T}. */
static int tomb_parse(const char *body, uint64_t *version, int64_t *ts)
{
    json_t *j = json_loads(body, 0, NULL);
    int rc = ROOST_EMALFORMED;
    if (!j)
        return rc;
    json_t *v = json_object_get(j, "version"), *t = json_object_get(j, "timestamp");
    if (json_is_integer(v) && json_integer_value(v) >= 0 && json_is_integer(t)) {
        *version = (uint64_t)json_integer_value(v);
        *ts = (int64_t)json_integer_value(t);
        rc = 0;
    }
    json_decref(j);
    return rc;
}

/* The cache entry for r's shadow, loaded from the store on a miss. */
static int cache_load(struct roost_shadow_service *svc, struct roost_store_txn *txn,
                      const struct svc_req *r, struct cache_entry **out)
{
    struct roost_store_doc doc;
    int rc;
    struct cache_entry *e = roost_map_get(&svc->cache, r->key, r->key_len);
    if (e && e->shadow) {
        /* Others delete shadows too (DeleteThing in the registry, on this
         * thread, in its own transaction): a cached shadow is only good
         * while its document is the one we wrote. One indexed read; the
         * parse it saves is the expensive part. */
        rc = roost_store_doc_get(txn, SHADOW_KIND, r->key, &doc);
        if (rc && rc != ROOST_ENOTFOUND)
            return rc;
        if (rc || doc.version != e->doc_ver) {
            cache_drop(svc, e);
            e = NULL;
        }
    }
    if (e) {
        lru_unlink(svc, e);
        lru_push_front(svc, e);
        *out = e;
        return 0;
    }
    struct roost_shadow *s = NULL;
    uint64_t base = 0;
    int64_t tomb_ts = 0;
    int64_t doc_ver = 0;
    rc = roost_store_doc_get(txn, SHADOW_KIND, r->key, &doc);
    if (rc == 0) {
        doc_ver = doc.version;
        rc = roost_shadow_parse(doc.body, strlen(doc.body), &s);
        if (rc) {
            roost_log_error("shadow", "stored shadow %s unreadable: %s", r->key,
                            roost_strerror(rc));
            return ROOST_EDB;
        }
    } else if (rc == ROOST_ENOTFOUND) {
        rc = roost_store_doc_get(txn, SHADOW_TOMB_KIND, r->key, &doc);
        if (rc == 0) {
            if (tomb_parse(doc.body, &base, &tomb_ts) != 0)
                base = 0, tomb_ts = 0;
        } else if (rc != ROOST_ENOTFOUND) {
            return rc;
        }
        rc = 0;
    } else {
        return rc;
    }
    e = cache_insert(svc, r->key, r->key_len);
    cache_set(svc, e, s);
    cache_trim(svc, e);
    e->base_version = base;
    e->tomb_ts = tomb_ts;
    e->doc_ver = doc_ver;
    *out = e;
    return 0;
}

/* ==== The transaction (writer thread) ==================================== */

static int put_text(struct roost_store_txn *txn, const char *kind, const char *key,
                    struct roost_buf *text, int64_t *out_ver)
{
    int rc = roost_buf_append(text, "", 1); /* the store wants a C string */
    if (rc)
        return rc;
    rc = roost_store_doc_put(txn, kind, key, (const char *)roost_buf_head(text), -1, out_ver);
    text->len--;
    return rc;
}

/* Runs the request against the stored shadow and persists the outcome in
 * the same transaction. A rejection changes nothing and returns 0: only a
 * store failure rolls back, and the cache entry it may have spoiled goes. */
static int req_txn(struct roost_store_txn *txn, void *ud)
{
    struct svc_req *r = ud;
    struct roost_shadow_service *svc = r->svc;
    struct cache_entry *e = NULL;
    int rc;

    r->now = (int64_t)(roost_wall_ms() / 1000);
    rc = cache_load(svc, txn, r, &e);
    if (rc)
        return rc;
    uint64_t base = 0;
    if (!e->shadow && e->tomb_ts && r->now - e->tomb_ts <= SHADOW_TOMB_TTL_S)
        base = e->base_version;
    struct roost_shadow_req q = {.thing = r->thing, .name = r->name, .payload = r->payload,
                                 .len = r->payload_len, .now = r->now, .base_version = base};
    switch (r->kind) {
    case ROOST_SHADOW_OP_UPDATE:
        r->rc = roost_shadow_update(&svc->lim, e->shadow, &q, &r->res);
        break;
    case ROOST_SHADOW_OP_GET:
        r->rc = roost_shadow_get(&svc->lim, e->shadow, &q, &r->res);
        break;
    case ROOST_SHADOW_OP_DELETE:
        r->rc = roost_shadow_delete(&svc->lim, e->shadow, &q, &r->res);
        break;
    }
    if (r->rc != 0 || r->kind == ROOST_SHADOW_OP_GET)
        return 0;

    if (r->kind == ROOST_SHADOW_OP_UPDATE) {
        int64_t doc_ver = 0;
        rc = put_text(txn, SHADOW_KIND, r->key, &r->res.stored, &doc_ver);
        if (!rc && !e->shadow && e->tomb_ts) {
            rc = roost_store_doc_del(txn, SHADOW_TOMB_KIND, r->key);
            if (rc == ROOST_ENOTFOUND)
                rc = 0;
        }
        if (rc)
            goto fail;
        cache_set(svc, e, r->res.shadow); /* the cache's now */
        r->res.shadow = NULL;
        e->doc_ver = doc_ver;
        cache_trim(svc, e);
        e->base_version = 0;
        e->tomb_ts = 0;
    } else {
        char tomb[64];
        snprintf(tomb, sizeof(tomb), "{\"version\":%" PRIu64 ",\"timestamp\":%" PRId64 "}",
                 r->res.version, r->now);
        int64_t ver;
        rc = roost_store_doc_del(txn, SHADOW_KIND, r->key);
        if (!rc)
            rc = roost_store_doc_put(txn, SHADOW_TOMB_KIND, r->key, tomb, -1, &ver);
        if (rc)
            goto fail;
        cache_set(svc, e, NULL);
        e->base_version = r->res.version;
        e->tomb_ts = r->now;
    }
    return 0;
fail:
    cache_drop(svc, e);
    return rc;
}

/* ==== Answers (writer thread, after commit) ============================== */

static void answer(struct svc_req *r, const char *suffix, const struct roost_buf *payload,
                   enum roost_shadow_op op)
{
    struct roost_buf topic;
    roost_buf_init(&topic, 0);
    if (roost_shadow_topic_format(&topic, r->thing, r->name, op, suffix) == 0 &&
        roost_buf_append(&topic, "", 1) == 0)
        roost_broker_publish_ordered(r->svc->broker, (const char *)topic.data,
                                     roost_buf_head(payload), roost_buf_size(payload),
                                     SHADOW_ANSWER_QOS, false,
                                     roost_hash_bytes(r->thing.p, r->thing.n));
    roost_buf_cleanup(&topic);
}

/* Hands an HTTPS request its answer: the reply document either way. */
static void answer_http(struct svc_req *r)
{
    struct roost_shadow_service_answer a = {
        .code = r->rc ? r->res.code : 0,
        .message = r->rc ? r->res.message : "",
        .payload = roost_buf_head(&r->res.reply),
        .len = roost_buf_size(&r->res.reply),
    };
    r->done_fn(r->done_ud, &a);
}

static void inflight_leave(struct roost_shadow_service *svc, const char *client_id);

static void req_done(void *ud, int rc)
{
    struct svc_req *r = ud;
    struct roost_shadow_service *svc = r->svc;

    /* The request is done once committed: free its in-flight slot before
     * the answers go out, or a client that sends again as soon as it sees
     * an answer can find its window still full (429). */
    if (r->client_id) {
        inflight_leave(svc, r->client_id);
        r->client_id = NULL;
    }

    if (rc) {
        /* The transaction is gone (or this op failed): what the cache holds
         * may be ahead of the database. */
        cache_clear(svc);
        roost_log_error("shadow", "%s on %s: store failed: %s",
                        r->kind == ROOST_SHADOW_OP_UPDATE ? "update"
                        : r->kind == ROOST_SHADOW_OP_GET  ? "get"
                                                          : "delete",
                        r->key, roost_strerror(rc));
        char tok[ROOST_SHADOW_MAX_CLIENT_TOKEN + 1];
        size_t n = roost_shadow_client_token(r->payload, r->payload_len, tok, sizeof(tok));
        if (!r->now)
            r->now = (int64_t)(roost_wall_ms() / 1000);
        r->rc = roost_shadow_reject(500, ROOST_SHADOW_MSG_INTERNAL, (struct roost_str){tok, n},
                                    r->now, &r->res);
        if (r->done_fn)
            answer_http(r);
        else
            answer(r, "rejected", &r->res.reply, r->kind);
        return;
    }
    if (r->rc) {
        /* AWS sends an HTTPS request's rejection only in the response */
        if (r->done_fn)
            answer_http(r);
        else
            answer(r, "rejected", &r->res.reply, r->kind);
        return;
    }
    /* Accepted: the MQTT answers of a change go out for HTTPS requests
     * too (AWS: a REST update publishes /accepted, /delta and /documents; a
     * REST delete, /delete/accepted), before the HTTP response, so a client
     * that saw the response can count on them having been routed. A REST
     * get changes nothing and nobody on MQTT asked: nothing is published. */
    if (r->done_fn && r->kind == ROOST_SHADOW_OP_GET) {
        answer_http(r);
        return;
    }
    answer(r, "accepted", &r->res.reply, r->kind);
    if (r->kind == ROOST_SHADOW_OP_UPDATE) {
        if (roost_buf_size(&r->res.delta))
            answer(r, "delta", &r->res.delta, ROOST_SHADOW_OP_UPDATE);
        answer(r, "documents", &r->res.documents, ROOST_SHADOW_OP_UPDATE);
    }
    if (r->done_fn)
        answer_http(r);
}

/* Counts a request of client_id in; false when it already has the most
 * AWS allows in flight. */
static bool inflight_enter(struct roost_shadow_service *svc, const char *client_id)
{
    size_t n = strlen(client_id);
    bool ok;
    pthread_mutex_lock(&svc->inflight_lock);
    uintptr_t cur = (uintptr_t)roost_map_get(&svc->inflight, client_id, n);
    ok = cur < ROOST_SHADOW_MAX_INFLIGHT;
    if (ok)
        roost_map_put(&svc->inflight, client_id, n, (void *)(cur + 1));
    pthread_mutex_unlock(&svc->inflight_lock);
    return ok;
}

static void inflight_leave(struct roost_shadow_service *svc, const char *client_id)
{
    size_t n = strlen(client_id);
    pthread_mutex_lock(&svc->inflight_lock);
    uintptr_t cur = (uintptr_t)roost_map_get(&svc->inflight, client_id, n);
    if (cur > 1)
        roost_map_put(&svc->inflight, client_id, n, (void *)(cur - 1));
    else
        roost_map_del(&svc->inflight, client_id, n);
    pthread_mutex_unlock(&svc->inflight_lock);
}

static void req_release(struct roost_store_op *op)
{
    struct svc_req *r = (struct svc_req *)op;
    if (r->client_id)
        inflight_leave(r->svc, r->client_id);
    roost_shadow_result_cleanup(&r->res);
    roost_free(r);
}

/* ==== Requests (the publisher's loop) ==================================== */

static struct svc_req *req_new(struct roost_shadow_service *svc, const struct roost_shadow_topic *t,
                               const struct roost_broker_request *br)
{
    size_t key_len = t->thing.n + 1 + t->name.n;
    size_t cid_len = br->client_id ? strlen(br->client_id) : 0;
    struct svc_req *r =
        roost_xcalloc(1, sizeof(*r) + key_len + 1 + br->payload_len + cid_len + 1);
    char *key = (char *)(r + 1);
    memcpy(key, t->thing.p, t->thing.n);
    key[t->thing.n] = '/';
    if (t->name.n)
        memcpy(key + t->thing.n + 1, t->name.p, t->name.n);
    key[key_len] = '\0';
    uint8_t *payload = (uint8_t *)key + key_len + 1;
    if (br->payload_len)
        memcpy(payload, br->payload, br->payload_len);
    r->svc = svc;
    r->kind = t->op;
    r->key = key;
    r->key_len = key_len;
    r->thing = (struct roost_str){key, t->thing.n};
    r->name = (struct roost_str){key + t->thing.n + 1, t->name.n};
    r->payload = payload;
    r->payload_len = br->payload_len;
    char *cid = (char *)payload + br->payload_len;
    if (cid_len)
        memcpy(cid, br->client_id, cid_len);
    cid[cid_len] = '\0';
    r->client_id = br->client_id ? cid : NULL; /* counted once admitted */
    roost_shadow_result_init(&r->res);
    return r;
}

static void on_publish(void *ud, const struct roost_broker_request *br)
{
    struct roost_shadow_service *svc = ud;
    struct roost_shadow_topic t;
    if (atomic_load(&svc->stopping))
        return;
    int rc = roost_shadow_topic_parse((struct roost_str){br->topic, br->topic_len}, &t);
    if (rc == ROOST_ENOTFOUND)
        return; /* jobs, our own answers, anything else under $aws/things/ */
    struct svc_req *r = req_new(svc, &t, br);
    if (rc) {
        r->client_id = NULL;
        /* An invalid thing or shadow name: no stored shadow can have it, so
         * the core answers with the 400 at once, without the store. */
        struct roost_shadow_req q = {.thing = r->thing, .name = r->name, .payload = r->payload,
                                     .len = r->payload_len,
                                     .now = (int64_t)(roost_wall_ms() / 1000)};
        r->now = q.now;
        if (t.op == ROOST_SHADOW_OP_UPDATE)
            r->rc = roost_shadow_update(&svc->lim, NULL, &q, &r->res);
        else if (t.op == ROOST_SHADOW_OP_GET)
            r->rc = roost_shadow_get(&svc->lim, NULL, &q, &r->res);
        else
            r->rc = roost_shadow_delete(&svc->lim, NULL, &q, &r->res);
        if (r->rc)
            answer(r, "rejected", &r->res.reply, r->kind);
        req_release(&r->op);
        return;
    }
    if (r->client_id && !inflight_enter(svc, r->client_id)) {
        char tok[ROOST_SHADOW_MAX_CLIENT_TOKEN + 1];
        size_t n = roost_shadow_client_token(r->payload, r->payload_len, tok, sizeof(tok));
        r->client_id = NULL; /* not counted */
        roost_shadow_reject(429, ROOST_SHADOW_MSG_THROTTLED, (struct roost_str){tok, n},
                            (int64_t)(roost_wall_ms() / 1000), &r->res);
        answer(r, "rejected", &r->res.reply, r->kind);
        req_release(&r->op);
        return;
    }
    r->op.type = ROOST_STORE_TXN;
    r->op.u.txn.fn = req_txn;
    r->op.u.txn.ud = r;
    r->op.done = req_done;
    r->op.done_ud = r;
    r->op.release = req_release;
    roost_store_submit(svc->store, &r->op);
}

/* ==== Requests from other callers (HTTPS) ================================ */

void roost_shadow_service_request(struct roost_shadow_service *svc, struct roost_str thing,
                                  struct roost_str name, enum roost_shadow_op op,
                                  const void *payload, size_t len,
                                  roost_shadow_service_done_fn done, void *ud)
{
    struct roost_shadow_topic t = {.op = op, .thing = thing, .name = name};
    struct roost_broker_request br = {.payload = payload, .payload_len = len};
    struct svc_req *r = req_new(svc, &t, &br);
    r->done_fn = done;
    r->done_ud = ud;
    int64_t now = (int64_t)(roost_wall_ms() / 1000);
    bool names_ok = roost_shadow_thing_name_valid(thing) &&
                    (name.n == 0 || roost_shadow_name_valid(name));
    if (atomic_load(&svc->stopping)) {
        r->now = now;
        r->rc = roost_shadow_reject(500, ROOST_SHADOW_MSG_INTERNAL, (struct roost_str){NULL, 0},
                                    now, &r->res);
        if (done)
            answer_http(r);
        req_release(&r->op);
        return;
    }
    if (!names_ok) {
        /* as on_publish: the core words the 400 without the store */
        struct roost_shadow_req q = {.thing = r->thing, .name = r->name, .payload = r->payload,
                                     .len = r->payload_len, .now = now};
        r->now = now;
        if (op == ROOST_SHADOW_OP_UPDATE)
            r->rc = roost_shadow_update(&svc->lim, NULL, &q, &r->res);
        else if (op == ROOST_SHADOW_OP_GET)
            r->rc = roost_shadow_get(&svc->lim, NULL, &q, &r->res);
        else
            r->rc = roost_shadow_delete(&svc->lim, NULL, &q, &r->res);
        if (!r->rc) /* cannot happen: the core checks names first */
            r->rc = roost_shadow_reject(400, "Invalid thing name", (struct roost_str){NULL, 0},
                                        now, &r->res);
        if (done)
            answer_http(r);
        else
            answer(r, "rejected", &r->res.reply, r->kind);
        req_release(&r->op);
        return;
    }
    r->op.type = ROOST_STORE_TXN;
    r->op.u.txn.fn = req_txn;
    r->op.u.txn.ud = r;
    r->op.done = req_done;
    r->op.done_ud = r;
    r->op.release = req_release;
    roost_store_submit(svc->store, &r->op);
}

/* ==== Life cycle ========================================================= */

int roost_shadow_service_create(struct roost_broker *b, struct roost_store *st,
                                const struct roost_shadow_limits *lim,
                                struct roost_shadow_service **out)
{
    struct roost_shadow_service *svc = roost_xcalloc(1, sizeof(*svc));
    int rc;
    svc->broker = b;
    svc->store = st;
    if (lim)
        svc->lim = *lim;
    else
        roost_shadow_limits_default(&svc->lim);
    atomic_init(&svc->stopping, false);
    pthread_mutex_init(&svc->inflight_lock, NULL);
    roost_map_init(&svc->inflight);
    roost_map_init(&svc->cache);
    rc = roost_broker_add_service(b, "$aws/things/", on_publish, svc);
    if (rc) {
        roost_map_cleanup(&svc->cache);
        roost_map_cleanup(&svc->inflight);
        pthread_mutex_destroy(&svc->inflight_lock);
        roost_free(svc);
        svc = NULL;
    }
    *out = svc;
    return rc;
}

void roost_shadow_service_destroy(struct roost_shadow_service *svc)
{
    if (!svc)
        return;
    atomic_store(&svc->stopping, true);
    /* Every request already submitted completes (and publishes, unless the
     * broker is shutting down) before the service goes away. */
    roost_store_sync(svc->store);
    cache_clear(svc);
    roost_map_cleanup(&svc->cache);
    roost_map_cleanup(&svc->inflight);
    pthread_mutex_destroy(&svc->inflight_lock);
    roost_free(svc);
}
