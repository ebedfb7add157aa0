/*
 * test_registry.c - unit tests for the store's registry half: documents with
 * optimistic versions, listing with prefix/after/limit, links in both
 * directions, document deletes taking their links along, transaction
 * functions that fail (rolled back alone), read transactions, and the
 * migration from a broker-only database.
 */
#include "roost_test.h"
#include "store/store.h"

#include <sqlite3.h>
#include <stdio.h>

#define PENDING 12345

static void record_rc(void *ud, int rc)
{
    *(int *)ud = rc;
}

/* Runs fn as a ROOST_STORE_TXN op on the writer and returns its result. */
static int run_txn(struct roost_store *st, roost_store_txn_fn fn, void *ud)
{
    int rc = PENDING;
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

static struct roost_store *open_fresh(char *path, size_t cap)
{
    snprintf(path, cap, "%s/roost.db", roost_test_tmpdir());
    struct roost_store *st = NULL;
    REQUIRE_OK(roost_store_open(path, &st));
    return st;
}

/* ==== Documents ========================================================== */

struct put_case {
    int rc[8];
    int64_t v[8];
};

static int put_versions(struct roost_store_txn *txn, void *ud)
{
    struct put_case *pc = ud;
    pc->rc[0] = roost_store_doc_put(txn, "thing", "lamp", "{\"a\":1}", 0, &pc->v[0]);
    pc->rc[1] = roost_store_doc_put(txn, "thing", "lamp", "{}", 0, &pc->v[1]);
    pc->rc[2] = roost_store_doc_put(txn, "thing", "lamp", "{\"a\":2}", 1, &pc->v[2]);
    pc->rc[3] = roost_store_doc_put(txn, "thing", "lamp", "{\"a\":3}", 1, &pc->v[3]);
    pc->rc[4] = roost_store_doc_put(txn, "thing", "ghost", "{}", 4, &pc->v[4]);
    pc->rc[5] = roost_store_doc_put(txn, "thing", "lamp", "{\"a\":4}", -1, &pc->v[5]);
    pc->rc[6] = roost_store_doc_put(txn, "policy", "lamp", "{\"p\":1}", -1, &pc->v[6]);
    pc->rc[7] = roost_store_doc_put(txn, "thing", "x", "{}", -2, NULL);
    return 0;
}

struct got_doc {
    int rc;
    struct roost_store_doc doc;
    char body[64];
    char name[32];
};

static int get_lamp(struct roost_store_txn *txn, void *ud)
{
    struct got_doc *g = ud;
    g->rc = roost_store_doc_get(txn, "thing", "lamp", &g->doc);
    if (!g->rc) {
        snprintf(g->body, sizeof(g->body), "%s", g->doc.body);
        snprintf(g->name, sizeof(g->name), "%s/%s", g->doc.kind, g->doc.name);
    }
    struct roost_store_doc none;
    if (roost_store_doc_get(txn, "thing", "nope", &none) != ROOST_ENOTFOUND)
        g->rc = -1;
    return 0;
}

ROOST_TEST(doc_put_versions_and_get)
{
    char path[600];
    struct roost_store *st = open_fresh(path, sizeof(path));
    uint64_t t0 = roost_wall_ms();
    struct put_case pc;
    memset(&pc, 0, sizeof(pc));
    CHECK_OK(run_txn(st, put_versions, &pc));
    CHECK_EQ(pc.rc[0], 0);
    CHECK_EQ(pc.v[0], 1);
    CHECK_EQ(pc.rc[1], ROOST_ECONFLICT);   /* create of an existing one */
    CHECK_EQ(pc.rc[2], 0);
    CHECK_EQ(pc.v[2], 2);
    CHECK_EQ(pc.rc[3], ROOST_ECONFLICT);   /* stale version */
    CHECK_EQ(pc.rc[4], ROOST_ENOTFOUND);   /* update of nothing */
    CHECK_EQ(pc.rc[5], 0);
    CHECK_EQ(pc.v[5], 3);                  /* overwrite */
    CHECK_EQ(pc.rc[6], 0);
    CHECK_EQ(pc.v[6], 1);                  /* overwrite of nothing creates */
    CHECK_EQ(pc.rc[7], ROOST_EINVAL);

    struct got_doc g = {0};
    CHECK_OK(roost_store_read(st, get_lamp, &g)); /* reader connection */
    CHECK_EQ(g.rc, 0);
    CHECK_STR(g.body, "{\"a\":4}");
    CHECK_STR(g.name, "thing/lamp");
    CHECK_EQ(g.doc.version, 3);
    CHECK(g.doc.created_ms >= t0 && g.doc.updated_ms >= g.doc.created_ms);
    memset(&g, 0, sizeof(g));
    CHECK_OK(run_txn(st, get_lamp, &g));          /* writer connection */
    CHECK_STR(g.body, "{\"a\":4}");
    roost_store_close(st);

    /* Survives a reopen. */
    REQUIRE_OK(roost_store_open(path, &st));
    memset(&g, 0, sizeof(g));
    CHECK_OK(roost_store_read(st, get_lamp, &g));
    CHECK_EQ(g.rc, 0);
    CHECK_EQ(g.doc.version, 3);
    roost_store_close(st);
}

static int put_many(struct roost_store_txn *txn, void *ud)
{
    static const char *const names[] = {"b-2", "a-1", "b-1", "c", "b-3", "a-2", "b"};
    for (size_t i = 0; i < ROOST_ARRAY_LEN(names); i++) {
        int rc = roost_store_doc_put(txn, "thing", names[i], "{}", 0, NULL);
        if (rc)
            return rc;
    }
    return roost_store_doc_put(txn, "cert", "b-9", "{}", 0, NULL);
}

struct list_req {
    const char *prefix, *after;
    size_t limit;
    int stop_after;      /* callback returns ROOST_ECLOSED at this count, 0 never */
    int rc;
    int n;
    char names[256];
};

static int list_collect(void *ud, const struct roost_store_doc *doc)
{
    struct list_req *r = ud;
    size_t len = strlen(r->names);
    snprintf(r->names + len, sizeof(r->names) - len, "%s%s", len ? "," : "", doc->name);
    if (++r->n == r->stop_after)
        return ROOST_ECLOSED;
    return 0;
}

static int list_txn(struct roost_store_txn *txn, void *ud)
{
    struct list_req *r = ud;
    r->rc = roost_store_doc_list(txn, "thing", r->prefix, r->after, r->limit, list_collect, r);
    return 0;
}

static const char *list(struct roost_store *st, const char *prefix, const char *after,
                        size_t limit)
{
    static struct list_req r;
    memset(&r, 0, sizeof(r));
    r.prefix = prefix;
    r.after = after;
    r.limit = limit;
    CHECK_OK(roost_store_read(st, list_txn, &r));
    CHECK_OK(r.rc);
    return r.names;
}

ROOST_TEST(doc_list_prefix_after_limit)
{
    char path[600];
    struct roost_store *st = open_fresh(path, sizeof(path));
    CHECK_OK(run_txn(st, put_many, NULL));
    CHECK_STR(list(st, NULL, NULL, 0), "a-1,a-2,b,b-1,b-2,b-3,c");
    CHECK_STR(list(st, "b", NULL, 0), "b,b-1,b-2,b-3");
    CHECK_STR(list(st, "b-", NULL, 2), "b-1,b-2");
    CHECK_STR(list(st, "b-", "b-2", 2), "b-3");        /* next page */
    CHECK_STR(list(st, "b-", "a-9", 0), "b-1,b-2,b-3"); /* after before the prefix */
    CHECK_STR(list(st, NULL, "b-3", 0), "c");
    CHECK_STR(list(st, NULL, "", 1), "a-1");
    CHECK_STR(list(st, "zzz", NULL, 0), "");
    CHECK_STR(list(st, NULL, "c", 0), "");

    struct list_req r = {.stop_after = 2};
    CHECK_OK(roost_store_read(st, list_txn, &r));
    CHECK_EQ(r.rc, ROOST_ECLOSED);
    CHECK_STR(r.names, "a-1,a-2");
    roost_store_close(st);
}

/* ==== Links ============================================================== */

static const struct roost_store_link L_CERT_LAMP = {"principal", "cert", "c1", "thing", "lamp"};
static const struct roost_store_link L_CERT_FAN = {"principal", "cert", "c1", "thing", "fan"};
static const struct roost_store_link L_C2_LAMP = {"principal", "cert", "c2", "thing", "lamp"};
static const struct roost_store_link L_POL_C1 = {"policy", "policy", "p1", "cert", "c1"};

struct link_case {
    int rc[6];
};

static int add_links(struct roost_store_txn *txn, void *ud)
{
    struct link_case *lc = ud;
    lc->rc[0] = roost_store_link_add(txn, &L_CERT_LAMP);
    lc->rc[1] = roost_store_link_add(txn, &L_CERT_LAMP); /* idempotent */
    lc->rc[2] = roost_store_link_add(txn, &L_CERT_FAN);
    lc->rc[3] = roost_store_link_add(txn, &L_C2_LAMP);
    lc->rc[4] = roost_store_link_add(txn, &L_POL_C1);
    struct roost_store_link missing = {"principal", "cert", "c9", "thing", "lamp"};
    lc->rc[5] = roost_store_link_del(txn, &missing);
    int rc = roost_store_doc_put(txn, "cert", "c1", "{}", 0, NULL);
    if (!rc)
        rc = roost_store_doc_put(txn, "thing", "lamp", "{}", 0, NULL);
    return rc;
}

struct link_req {
    const char *rel, *from_kind, *from_name, *to_kind, *to_name, *after;
    size_t limit;
    int rc;
    char out[256];
};

static int link_collect(void *ud, const struct roost_store_link *l)
{
    struct link_req *r = ud;
    size_t len = strlen(r->out);
    snprintf(r->out + len, sizeof(r->out) - len, "%s%s:%s/%s>%s/%s", len ? "," : "", l->rel,
             l->from_kind, l->from_name, l->to_kind, l->to_name);
    return 0;
}

static int link_txn(struct roost_store_txn *txn, void *ud)
{
    struct link_req *r = ud;
    r->rc = roost_store_link_list(txn, r->rel, r->from_kind, r->from_name, r->to_kind, r->to_name,
                                  r->after, r->limit, link_collect, r);
    return 0;
}

static const char *links(struct roost_store *st, struct link_req r)
{
    static struct link_req out;
    out = r;
    out.out[0] = '\0';
    CHECK_OK(roost_store_read(st, link_txn, &out));
    if (out.rc)
        snprintf(out.out, sizeof(out.out), "error %d", out.rc);
    return out.out;
}

static int del_cert(struct roost_store_txn *txn, void *ud)
{
    int *rc = ud;
    rc[0] = roost_store_doc_del(txn, "cert", "c1");
    rc[1] = roost_store_doc_del(txn, "cert", "c1");
    rc[2] = roost_store_link_del(txn, &L_C2_LAMP);
    rc[3] = roost_store_link_del(txn, &L_C2_LAMP);
    return 0;
}

ROOST_TEST(links_list_both_ways_and_go_with_their_documents)
{
    char path[600];
    struct roost_store *st = open_fresh(path, sizeof(path));
    struct link_case lc;
    CHECK_OK(run_txn(st, add_links, &lc));
    CHECK_EQ(lc.rc[0], 0);
    CHECK_EQ(lc.rc[1], 0);
    CHECK_EQ(lc.rc[2], 0);
    CHECK_EQ(lc.rc[3], 0);
    CHECK_EQ(lc.rc[4], 0);
    CHECK_EQ(lc.rc[5], ROOST_ENOTFOUND);

    CHECK_STR(links(st, (struct link_req){.rel = "principal", .from_kind = "cert",
                                          .from_name = "c1"}),
              "principal:cert/c1>thing/fan,principal:cert/c1>thing/lamp");
    CHECK_STR(links(st, (struct link_req){.rel = "principal", .from_kind = "cert",
                                          .from_name = "c1", .to_kind = "thing",
                                          .after = "fan"}),
              "principal:cert/c1>thing/lamp");
    CHECK_STR(links(st, (struct link_req){.rel = "principal", .from_kind = "cert",
                                          .from_name = "c1", .limit = 1}),
              "principal:cert/c1>thing/fan");
    CHECK_STR(links(st, (struct link_req){.rel = "principal", .from_kind = "cert",
                                          .from_name = "c1", .to_kind = "policy"}),
              "");
    CHECK_STR(links(st, (struct link_req){.rel = "principal", .to_kind = "thing",
                                          .to_name = "lamp"}),
              "principal:cert/c1>thing/lamp,principal:cert/c2>thing/lamp");
    CHECK_STR(links(st, (struct link_req){.rel = "principal", .from_kind = "cert",
                                          .to_kind = "thing", .to_name = "lamp", .after = "c1"}),
              "principal:cert/c2>thing/lamp");
    CHECK_STR(links(st, (struct link_req){.rel = "policy", .to_kind = "cert", .to_name = "c1"}),
              "policy:policy/p1>cert/c1");
    char einval[32];
    snprintf(einval, sizeof(einval), "error %d", ROOST_EINVAL);
    CHECK_STR(links(st, (struct link_req){.rel = "principal", .from_kind = "cert"}), einval);

    /* Deleting cert c1 takes its links in both directions, not c2's. */
    int rc[4];
    CHECK_OK(run_txn(st, del_cert, rc));
    CHECK_EQ(rc[0], 0);
    CHECK_EQ(rc[1], ROOST_ENOTFOUND);
    CHECK_EQ(rc[2], 0);
    CHECK_EQ(rc[3], ROOST_ENOTFOUND);
    CHECK_STR(links(st, (struct link_req){.rel = "principal", .from_kind = "cert",
                                          .from_name = "c1"}),
              "");
    CHECK_STR(links(st, (struct link_req){.rel = "policy", .to_kind = "cert", .to_name = "c1"}),
              "");
    CHECK_STR(links(st, (struct link_req){.rel = "principal", .to_kind = "thing",
                                          .to_name = "lamp"}),
              "");
    roost_store_close(st);
}

/* A list callback that lists again (the cached statement is busy). */
struct nested {
    int outer, inner, rc;
    struct roost_store_txn *txn;
};

static int count_inner(void *ud, const struct roost_store_doc *doc)
{
    ((struct nested *)ud)->inner++;
    return 0;
}

static int list_again(void *ud, const struct roost_store_doc *doc)
{
    struct nested *n = ud;
    n->outer++;
    return roost_store_doc_list(n->txn, "thing", NULL, NULL, 0, count_inner, n);
}

static int nested_txn(struct roost_store_txn *txn, void *ud)
{
    struct nested *n = ud;
    n->txn = txn;
    return roost_store_doc_list(txn, "thing", "a", NULL, 0, list_again, n);
}

ROOST_TEST(doc_list_inside_doc_list)
{
    char path[600];
    struct roost_store *st = open_fresh(path, sizeof(path));
    CHECK_OK(run_txn(st, put_many, NULL));
    struct nested n = {0};
    CHECK_OK(roost_store_read(st, nested_txn, &n));
    CHECK_EQ(n.outer, 2);
    CHECK_EQ(n.inner, 14);
    memset(&n, 0, sizeof(n));
    CHECK_OK(run_txn(st, nested_txn, &n));
    CHECK_EQ(n.outer, 2);
    roost_store_close(st);
}

/* ==== Transactions ======================================================= */

static int put_then_fail(struct roost_store_txn *txn, void *ud)
{
    int rc = roost_store_doc_put(txn, "thing", "half", "{}", 0, NULL);
    if (!rc)
        rc = roost_store_link_add(txn, &L_CERT_LAMP);
    return rc ? rc : ROOST_ECONFLICT; /* changed two things, then refuses */
}

static int put_ok(struct roost_store_txn *txn, void *ud)
{
    return roost_store_doc_put(txn, "thing", ud, "{}", 0, NULL);
}

static int write_in_read(struct roost_store_txn *txn, void *ud)
{
    int *rc = ud;
    rc[0] = roost_store_doc_put(txn, "thing", "r", "{}", -1, NULL);
    rc[1] = roost_store_doc_del(txn, "thing", "ok-1");
    rc[2] = roost_store_link_add(txn, &L_CERT_LAMP);
    rc[3] = roost_store_link_del(txn, &L_CERT_LAMP);
    return 0;
}

ROOST_TEST(failing_txn_rolls_back_alone)
{
    char path[600];
    struct roost_store *st = open_fresh(path, sizeof(path));
    int rc[3];
    struct roost_store_op *ops[3];
    roost_store_txn_fn fns[3] = {put_ok, put_then_fail, put_ok};
    void *uds[3] = {"ok-1", NULL, "ok-2"};
    for (int i = 0; i < 3; i++) {
        rc[i] = PENDING;
        ops[i] = roost_xcalloc(1, sizeof(*ops[i]));
        ops[i]->type = ROOST_STORE_TXN;
        ops[i]->u.txn.fn = fns[i];
        ops[i]->u.txn.ud = uds[i];
        ops[i]->done = record_rc;
        ops[i]->done_ud = &rc[i];
        roost_store_submit(st, ops[i]);
    }
    CHECK_OK(roost_store_sync(st));
    CHECK_EQ(rc[0], 0);
    CHECK_EQ(rc[1], ROOST_ECONFLICT);
    CHECK_EQ(rc[2], 0);
    CHECK_STR(list(st, NULL, NULL, 0), "ok-1,ok-2");
    CHECK_STR(links(st, (struct link_req){.rel = "principal", .from_kind = "cert",
                                          .from_name = "c1"}),
              "");

    int wrc[4];
    CHECK_OK(roost_store_read(st, write_in_read, wrc));
    for (int i = 0; i < 4; i++)
        CHECK_EQ(wrc[i], ROOST_EINVAL);
    roost_store_close(st);
}

/* ==== Migration ========================================================== */

static int db_exec(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    int src = sqlite3_open(path, &db);
    if (src == SQLITE_OK)
        src = sqlite3_exec(db, sql, NULL, NULL, NULL);
    sqlite3_close(db);
    return src;
}

ROOST_TEST(broker_only_database_gains_registry_tables)
{
    char path[600];
    struct roost_store *st = open_fresh(path, sizeof(path));
    struct roost_store_op *op = roost_xcalloc(1, sizeof(*op));
    op->type = ROOST_STORE_SESSION_PUT;
    op->u.session.client_id = "kept";
    roost_store_submit(st, op);
    roost_store_close(st);

    /* Turn it back into what version 1 wrote. */
    REQUIRE(db_exec(path, "DROP TABLE links; DROP TABLE docs; PRAGMA user_version = 1") ==
            SQLITE_OK);
    REQUIRE_OK(roost_store_open(path, &st));
    CHECK_OK(run_txn(st, put_ok, "after-migration"));
    CHECK_STR(list(st, NULL, NULL, 0), "after-migration");
    roost_store_close(st);
    /* The session from before the migration is still there. */
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    REQUIRE(sqlite3_open(path, &db) == SQLITE_OK);
    REQUIRE(sqlite3_prepare_v2(db, "SELECT client_id, (SELECT user_version FROM pragma_user_version)"
                                   " FROM sessions", -1, &s, NULL) == SQLITE_OK);
    REQUIRE(sqlite3_step(s) == SQLITE_ROW);
    CHECK_STR((const char *)sqlite3_column_text(s, 0), "kept");
    CHECK_EQ(sqlite3_column_int(s, 1), 2);
    sqlite3_finalize(s);
    sqlite3_close(db);
}
