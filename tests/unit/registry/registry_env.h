/*
 * registry_env.h - the harness the registry's unit tests share: a real
 * store and registry with Roost's CA in a fresh directory, transactions run
 * the way the API runs them (one ROOST_STORE_TXN op, waited for), raw
 * document and link access for setting a scene without the operations under
 * test, and the openssl CLI in that directory for certificates made by an
 * independent issuer. Each test file keeps its own api() (what it records of
 * a call differs) and its own env_close(), which ends with env_close_registry().
 * Header-only; the functions are static inline so that a file need not use
 * them all.
 */
#ifndef REGISTRY_ENV_H
#define REGISTRY_ENV_H

#include "roost_test.h"
#include "registry/registry_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

static char dir[512];
static struct roost_store *st;
static struct roost_registry *reg;
static struct roost_pki_ca *ca;

static inline char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = roost_xmalloc((size_t)n + 1);
    size_t got = fread(buf, 1, (size_t)n, f);
    fclose(f);
    buf[got] = '\0';
    return buf;
}

/* Runs a shell command in the test directory; its output goes to cmd.log. */
static inline int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline int sh(const char *fmt, ...)
{
    char cmd[4096], full[4800];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    snprintf(full, sizeof(full), "cd '%s' && (%s) >cmd.log 2>&1", dir, cmd);
    int s = system(full);
    int rc = s != -1 && WIFEXITED(s) ? WEXITSTATUS(s) : -1;
    if (rc != 0)
        fprintf(stderr, "  command failed (%d): %s\n", rc, cmd);
    return rc;
}

static inline char *file_in_dir(const char *name)
{
    char path[700];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    return slurp(path);
}

static inline void env_open(void)
{
    char path[700];
    snprintf(dir, sizeof(dir), "%s", roost_test_tmpdir());
    snprintf(path, sizeof(path), "%s/roost.db", dir);
    REQUIRE_OK(roost_store_open(path, &st));
    snprintf(path, sizeof(path), "%s/pki", dir);
    bool created = false;
    REQUIRE_OK(roost_pki_bootstrap(path, NULL, 0, &created));
    char cert[700], key[700];
    snprintf(cert, sizeof(cert), "%s/pki/%s", dir, ROOST_PKI_ROOT_CERT);
    snprintf(key, sizeof(key), "%s/pki/%s", dir, ROOST_PKI_ROOT_KEY);
    REQUIRE_OK(roost_pki_ca_load(cert, key, &ca));
    struct roost_registry_config cfg = {
        .region = "us-east-1",
        .account_id = "123456789012",
        .endpoint_host = "iot.example.test",
        .ca = ca,
        .ca_pem = roost_pki_ca_pem(ca),
    };
    REQUIRE_OK(roost_registry_create(&cfg, st, &reg));
}

static inline void env_close_registry(void)
{
    roost_registry_destroy(reg);
    reg = NULL;
    roost_store_close(st);
    st = NULL;
    roost_pki_ca_free(ca);
    ca = NULL;
}

static inline void record_rc(void *ud, int rc)
{
    *(int *)ud = rc;
}

/* One transaction on the writer, waited for; returns what it returned. */
static inline int run_txn(roost_store_txn_fn fn, void *ud)
{
    int rc = -9999;
    struct roost_store_op *op = roost_xcalloc(1, sizeof(*op));
    op->type = ROOST_STORE_TXN;
    op->u.txn.fn = fn;
    op->u.txn.ud = ud;
    op->done = record_rc;
    op->done_ud = &rc;
    roost_store_submit(st, op);
    REQUIRE_OK(roost_store_sync(st));
    return rc;
}

/* Waits for the wall clock to move on, so that the next document is
 * created in a later millisecond than the last (creation-ordered lists
 * break ties by name, which the order checks must not depend on). */
static inline void next_ms(void)
{
    uint64_t t = roost_wall_ms();
    while (roost_wall_ms() == t)
        ;
}

/* Raw store access for setting up documents and links without the
 * operations under test. */
struct put_req {
    const char *kind, *name, *body;
    struct roost_store_link link;
};

static inline int put_doc_txn(struct roost_store_txn *txn, void *ud)
{
    const struct put_req *r = ud;
    if (r->kind)
        return roost_store_doc_put(txn, r->kind, r->name, r->body, -1, NULL);
    return roost_store_link_add(txn, &r->link);
}

static inline void put_doc(const char *kind, const char *name, const char *body)
{
    struct put_req r = {.kind = kind, .name = name, .body = body};
    REQUIRE_OK(run_txn(put_doc_txn, &r));
}

static inline void put_link(const char *rel, const char *fk, const char *fn, const char *tk,
                            const char *tn)
{
    struct put_req r = {.link = {rel, fk, fn, tk, tn}};
    REQUIRE_OK(run_txn(put_doc_txn, &r));
}

struct get_req {
    const char *kind, *name;
    char *body;
};

static inline int get_doc_txn(struct roost_store_txn *txn, void *ud)
{
    struct get_req *r = ud;
    struct roost_store_doc d;
    int rc = roost_store_doc_get(txn, r->kind, r->name, &d);
    if (!rc)
        r->body = roost_xstrdup(d.body);
    return rc == ROOST_ENOTFOUND ? 0 : rc;
}

/* The stored body of a document, or NULL (caller frees). */
static inline char *get_doc(const char *kind, const char *name)
{
    struct get_req r = {kind, name, NULL};
    run_txn(get_doc_txn, &r);
    return r.body;
}

#ifdef REGISTRY_ENV_API
/* ---- One API operation at a time (a file defines REGISTRY_ENV_API to get
 * this; test_provision.c has its own, which also runs the provisioning
 * entry points) ---- */

static int last_status;
static char last_code[64];
static char last_msg[512];
static json_t *last_result;        /* owned; NULL on errors */
static json_t *last_extra;         /* error_extra, owned */
static size_t last_n_certs;
static bool last_cas_changed, last_policies_changed;

static inline void env_close(void)
{
    json_decref(last_result);
    last_result = NULL;
    json_decref(last_extra);
    last_extra = NULL;
    env_close_registry();
}

struct txn_ctx {
    struct roost_api_call *call;
    int rc;
};

static inline int call_txn(struct roost_store_txn *txn, void *ud)
{
    struct txn_ctx *c = ud;
    c->rc = roost_registry_call(reg, txn, c->call);
    return c->rc;
}

/* Runs one operation: `query` is "k=v&k=v" (no escapes needed in tests),
 * `body` JSON text or NULL. Returns the HTTP status; the answer is in the
 * last_* variables. Effects are applied after commit, as the API does. */
static inline int api(const char *method, const char *path, const char *query, const char *body)
{
    struct roost_api_call call = {0};
    json_decref(last_result);
    last_result = NULL;
    json_decref(last_extra);
    last_extra = NULL;
    last_code[0] = last_msg[0] = '\0';
    bool known = false;
    int rc = roost_registry_route(method, path, strlen(path), &call, &known);
    if (rc) {
        fprintf(stderr, "  no route for %s %s\n", method, path);
        return last_status = -1;
    }
    call.query = json_object();
    if (query) {
        char *q = roost_xstrdup(query);
        for (char *save = NULL, *kv = strtok_r(q, "&", &save); kv; kv = strtok_r(NULL, "&", &save)) {
            char *eq = strchr(kv, '=');
            if (!eq)
                continue;
            *eq = '\0';
            json_object_set_new(call.query, kv, json_string(eq + 1));
        }
        roost_free(q);
    }
    if (body) {
        json_error_t err;
        call.body = json_loads(body, 0, &err);
        if (!call.body)
            fprintf(stderr, "  test body is not JSON: %s\n", err.text);
        call.raw_body = body;
        call.raw_body_len = strlen(body);
    }
    call.request_id = "test";
    call.now_ms = roost_wall_ms();
    struct txn_ctx ctx = {.call = &call};
    run_txn(call_txn, &ctx);
    last_status = call.status;
    if (call.error_code)
        snprintf(last_code, sizeof(last_code), "%s", call.error_code);
    snprintf(last_msg, sizeof(last_msg), "%s", call.error_message);
    last_result = call.result;
    call.result = NULL;
    last_extra = call.error_extra;
    call.error_extra = NULL;
    last_n_certs = call.effects.n_certs;
    last_cas_changed = call.effects.cas_changed;
    last_policies_changed = call.effects.policies_changed;
    if (ctx.rc == 0)
        roost_registry_apply_effects(reg, &call.effects);
    json_decref(call.query);
    json_decref(call.body);
    roost_api_call_cleanup(&call);
    if (last_status != 200 && getenv("TEST_VERBOSE"))
        fprintf(stderr, "  %s %s -> %d %s: %s\n", method, path, last_status, last_code, last_msg);
    return last_status;
}

/* A string member of the last result. */
static inline const char *rs(const char *key)
{
    return json_string_value(json_object_get(last_result, key));
}
#endif /* REGISTRY_ENV_API */

#endif /* REGISTRY_ENV_H */
