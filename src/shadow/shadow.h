/*
 * shadow.h - the Device Shadow core, as AWS IoT defines it: shadow documents,
 * their merge, delta, versions and metadata, and every payload the service
 * publishes, as pure functions. Given the stored shadow (or none), a request
 * payload and the time, an operation returns the new shadow and the bytes for
 * /accepted or /rejected, /update/delta and /update/documents. There is no
 * I/O here, no store, no broker and no clock: callers authorize, persist,
 * publish and say what time it is. docs/internals/SHADOW.md has the rules.
 *
 * Ownership: a struct roost_shadow is immutable once built and has a single
 * owner (roost_shadow_destroy). Operations borrow the current shadow and never
 * modify it, so a cached copy stays valid when a request is rejected.
 */
#ifndef ROOST_SHADOW_H
#define ROOST_SHADOW_H

#include "common/common.h"

/* ==== Limits ============================================================= */

/* AWS IoT's defaults (Device Shadow service quotas). */
#define ROOST_SHADOW_MAX_STATE_BYTES 8192u          /* desired + reported, compact JSON */
#define ROOST_SHADOW_MAX_DEPTH 6u                   /* the section object is level 1 */
#define ROOST_SHADOW_MAX_CLIENT_TOKEN 64u           /* bytes */
#define ROOST_SHADOW_MAX_REQUEST_BYTES (128u * 1024) /* the MQTT message size cap */
#define ROOST_SHADOW_THING_NAME_MAX 128u
#define ROOST_SHADOW_NAME_MAX 64u

struct roost_shadow_limits {
    size_t max_request_bytes; /* request payload; larger is 413 before parsing */
    size_t max_state_bytes;   /* desired+reported after the merge; larger is 413 */
    unsigned max_depth;       /* object/array levels in desired or reported */
    size_t max_client_token;  /* clientToken bytes; longer is 400 */
};

/* Fills in the AWS defaults above. Operations take NULL to mean these. */
void roost_shadow_limits_default(struct roost_shadow_limits *out);

/* ==== Stored shadows ===================================================== */

struct roost_shadow;

/* Builds a shadow from its stored form (what roost_shadow_serialize wrote:
 * {"state":{..},"metadata":{..},"version":N,"timestamp":T}). ROOST_EMALFORMED
 * if the text is not such a document. *out_shadow is the caller's. */
int roost_shadow_parse(const void *text, size_t len, struct roost_shadow **out_shadow);
/* Appends the stored form to out. Deterministic: the same shadow always
 * serializes to the same bytes. */
int roost_shadow_serialize(const struct roost_shadow *s, struct roost_buf *out);
void roost_shadow_destroy(struct roost_shadow *s); /* NULL is a no-op */
uint64_t roost_shadow_version(const struct roost_shadow *s);
int64_t roost_shadow_timestamp(const struct roost_shadow *s); /* epoch seconds */

/* ==== Operations ========================================================= */

struct roost_shadow_req {
    struct roost_str thing;  /* thing name */
    struct roost_str name;   /* shadow name; n == 0 for the classic shadow */
    const void *payload;     /* request body as received (may be empty) */
    size_t len;
    int64_t now;             /* epoch seconds, for every timestamp produced */
    uint64_t base_version;   /* no shadow exists: the version a deleted one had
                                reached (AWS continues its numbering), else 0 */
};

struct roost_shadow_result {
    int code;                   /* 0 accepted, else the HTTP status of the rejection */
    char message[192];          /* the rejection's text, "" when accepted */
    struct roost_buf reply;     /* /accepted payload, or /rejected payload */
    struct roost_buf delta;     /* update: /update/delta payload, empty when none */
    struct roost_buf documents; /* update: /update/documents payload */
    struct roost_buf stored;    /* update: the new shadow's stored form */
    struct roost_shadow *shadow; /* update: the new shadow, the caller's to destroy */
    uint64_t version;           /* update: new version; get: current; delete: the
                                   version deleted (keep it as base_version) */
};

void roost_shadow_result_init(struct roost_shadow_result *r);
void roost_shadow_result_cleanup(struct roost_shadow_result *r); /* frees shadow too */

/*
 * The three operations. cur is the stored shadow, or NULL when none exists.
 * lim NULL means the AWS defaults. Each returns 0 when accepted, with
 * out->reply the /accepted payload; or a rejection, with out->code and
 * out->message set, out->reply the /rejected payload and the return value
 * ROOST_EMALFORMED (400), ROOST_EUTF8 (415), ROOST_ENOTFOUND (404),
 * ROOST_ECONFLICT (409) or ROOST_ETOOBIG (413). out must be initialized; an
 * operation resets it first.
 *
 * update also fills delta (only when desired and reported differ afterwards),
 * documents, stored and shadow. Nothing is published or stored: the caller
 * persists `stored`, then publishes reply, delta and documents.
 */
int roost_shadow_update(const struct roost_shadow_limits *lim, const struct roost_shadow *cur,
                        const struct roost_shadow_req *req, struct roost_shadow_result *out);
int roost_shadow_get(const struct roost_shadow_limits *lim, const struct roost_shadow *cur,
                     const struct roost_shadow_req *req, struct roost_shadow_result *out);
int roost_shadow_delete(const struct roost_shadow_limits *lim, const struct roost_shadow *cur,
                        const struct roost_shadow_req *req, struct roost_shadow_result *out);

/* AWS's texts for rejections the caller decides (authorization, throttling,
 * store failures). */
#define ROOST_SHADOW_MSG_UNAUTHORIZED "Unauthorized"   /* 401 */
#define ROOST_SHADOW_MSG_FORBIDDEN "Forbidden"         /* 403 */
#define ROOST_SHADOW_MSG_THROTTLED "Too Many Requests" /* 429 */
#define ROOST_SHADOW_MSG_INTERNAL "Internal service failure" /* 500 */

/* Fills out with a rejection decided outside the core: code, message, and
 * the request's clientToken (found with roost_shadow_client_token, n == 0 for
 * none). Returns the error that roost_shadow_update would for that code. */
int roost_shadow_reject(int code, const char *message, struct roost_str client_token,
                        int64_t now, struct roost_shadow_result *out);

/* Copies a request's clientToken into out (NUL-terminated, cap bytes with
 * the NUL) so a rejection decided before the core runs can echo it. Returns
 * its length, or 0 when the payload has no valid token. */
size_t roost_shadow_client_token(const void *payload, size_t len, char *out, size_t cap);

/* ==== Names and topics =================================================== */

/* Thing names: [a-zA-Z0-9:_-]{1,128}. Shadow names: [$a-zA-Z0-9:_-]{1,64}
 * (the iot-data API reference pattern, which allows '$'). */
bool roost_shadow_thing_name_valid(struct roost_str s);
bool roost_shadow_name_valid(struct roost_str s);

enum roost_shadow_op {
    ROOST_SHADOW_OP_GET,
    ROOST_SHADOW_OP_UPDATE,
    ROOST_SHADOW_OP_DELETE,
};

struct roost_shadow_topic {
    enum roost_shadow_op op;
    struct roost_str thing; /* views into the parsed topic */
    struct roost_str name;  /* n == 0 for the classic shadow */
};

/* Recognizes a request topic: $aws/things/T/shadow/OP or
 * $aws/things/T/shadow/name/S/OP with OP get, update or delete. Returns 0,
 * ROOST_ENOTFOUND when the topic is not a shadow request topic (response
 * topics such as .../update/accepted included), or ROOST_ETOPIC when it is
 * one but a name is invalid. */
int roost_shadow_topic_parse(struct roost_str topic, struct roost_shadow_topic *out);

/* Appends the topic for thing/name and op, followed by "/suffix" when suffix
 * is not NULL ("accepted", "rejected", "delta", "documents"). */
int roost_shadow_topic_format(struct roost_buf *out, struct roost_str thing, struct roost_str name,
                              enum roost_shadow_op op, const char *suffix);

/* ==== Service ============================================================ */

/*
 * The MQTT side of the Device Shadow service (service.c): answers
 * $aws/things/T/shadow[/name/S]/{get,update,delete} published by any client,
 * as AWS does (the thing need not be registered). Each request is one store
 * transaction that reads the shadow, runs the operation above and writes the
 * result; /accepted, /update/delta and /update/documents (or /rejected) are
 * published after the commit, at QoS 0, in request order per thing; more
 * than ROOST_SHADOW_MAX_INFLIGHT requests in flight from one client are
 * answered 429 at once. Stored as registry documents: kind "shadow", name
 * "T/S" ("T/" for the classic shadow); a deleted shadow leaves kind
 * "shadow-deleted", same name, {"version":N,"timestamp":T}. Other writers of
 * these documents (the registry's DeleteThing deletes the thing's shadows)
 * need not tell the service: its cache checks the stored version on a hit.
 * docs/internals/SHADOW.md, "The service (MQTT)".
 */
struct roost_broker;
struct roost_store;
struct roost_shadow_service;

/* Requests one client may have in flight; more are rejected with 429 (AWS). */
#define ROOST_SHADOW_MAX_INFLIGHT 10u

/* The answer to roost_shadow_service_request. Valid during the call. */
struct roost_shadow_service_answer {
    int code;            /* 0 accepted, else the HTTP status of the rejection */
    const char *message; /* the rejection's text (AWS's wording), "" when accepted */
    const void *payload; /* accepted: the /accepted document (get: the whole shadow,
                          * delete: {"version","timestamp"}); rejected: the
                          * /rejected document ({"code","message",...}) */
    size_t len;
};
typedef void (*roost_shadow_service_done_fn)(void *ud,
                                             const struct roost_shadow_service_answer *a);

/*
 * The same requests from another caller (the HTTPS data plane): runs `op` on
 * thing/name (name.n == 0: the classic shadow) with `payload` (copied; may be
 * empty) in its own store transaction, in order with the MQTT requests.
 * `done` runs exactly once: on the store's writer thread after the commit,
 * or, for an invalid thing or shadow name or a service that is stopping, on
 * the calling thread before this returns. Accepted updates and deletes
 * publish /accepted (and /update/delta, /update/documents) on MQTT as AWS
 * does for REST calls, before `done`; an accepted get publishes nothing;
 * rejections are only told to `done`, never published on /rejected. With `done` NULL the request is answered on MQTT
 * only, /rejected included, exactly as if published there (an HTTPS Publish
 * to a shadow request topic). Not throttled (no client id). Any thread.
 */
void roost_shadow_service_request(struct roost_shadow_service *svc, struct roost_str thing,
                                  struct roost_str name, enum roost_shadow_op op,
                                  const void *payload, size_t len,
                                  roost_shadow_service_done_fn done, void *ud);

/* Registers the service with the broker (before roost_net_start). lim NULL
 * means the AWS defaults. */
int roost_shadow_service_create(struct roost_broker *b, struct roost_store *st,
                                const struct roost_shadow_limits *lim,
                                struct roost_shadow_service **out);
/* After roost_net_stop (no request can arrive any more) and before the
 * broker and the store go: waits for the requests already submitted, then
 * frees the service. NULL is a no-op. */
void roost_shadow_service_destroy(struct roost_shadow_service *svc);

#endif /* ROOST_SHADOW_H */
