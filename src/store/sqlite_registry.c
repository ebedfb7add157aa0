/*
 * sqlite_registry.c - the registry's storage: JSON documents keyed by
 * (kind, name) with optimistic versions, and directed links between them
 * (schema in migrations.c, step 2), all used from inside a transaction
 * function. A ROOST_STORE_TXN op runs its function on the writer thread
 * inside its own savepoint (store.c); roost_store_read runs one on the
 * reader connection inside a read transaction.
 *
 * The store gives documents and links no meaning: a link may name a
 * document that does not exist (the API layer decides what must), and
 * deleting a document deletes every link that names it, in either direction.
 *
 * Lifetimes: roost_store_doc_get copies into the transaction's arena (valid
 * until the transaction function returns); the structures passed to list
 * callbacks point into SQLite's row buffers (valid during the callback).
 */
#include "store/store_int.h"

struct roost_store_txn {
    struct store_conn *c;
    bool read_only;             /* roost_store_read: writes are refused */
    struct roost_arena arena;   /* roost_store_doc_get's copies */
};

static const char SQL_DOC_GET[] =
    "SELECT body, version, created_ms, updated_ms FROM docs WHERE kind = ?1 AND name = ?2";
static const char SQL_DOC_INSERT[] =
    "INSERT INTO docs(kind, name, body, version, created_ms, updated_ms)"
    " VALUES (?1, ?2, ?3, 1, ?4, ?4) RETURNING version";
static const char SQL_DOC_UPDATE[] =
    "UPDATE docs SET body = ?3, version = version + 1, updated_ms = ?4"
    " WHERE kind = ?1 AND name = ?2 AND version = ?5 RETURNING version";
static const char SQL_DOC_UPSERT[] =
    "INSERT INTO docs(kind, name, body, version, created_ms, updated_ms)"
    " VALUES (?1, ?2, ?3, 1, ?4, ?4) ON CONFLICT(kind, name) DO UPDATE SET"
    " body = excluded.body, version = version + 1, updated_ms = excluded.updated_ms"
    " RETURNING version";
static const char SQL_DOC_DEL[] = "DELETE FROM docs WHERE kind = ?1 AND name = ?2";
static const char SQL_DOC_DEL_LINKS_FROM[] =
    "DELETE FROM links WHERE from_kind = ?1 AND from_name = ?2";
static const char SQL_DOC_DEL_LINKS_TO[] = "DELETE FROM links WHERE to_kind = ?1 AND to_name = ?2";
/* Rows from ?2 on; roost_store_doc_list skips `after` itself and stops at
 * the end of the prefix, so one range scan serves every page. */
static const char SQL_DOC_LIST[] =
    "SELECT name, body, version, created_ms, updated_ms FROM docs"
    " WHERE kind = ?1 AND name >= ?2 ORDER BY name";
static const char SQL_LINK_ADD[] =
    "INSERT INTO links(from_kind, from_name, rel, to_kind, to_name) VALUES (?1, ?2, ?3, ?4, ?5)"
    " ON CONFLICT DO NOTHING";
static const char SQL_LINK_DEL[] =
    "DELETE FROM links WHERE from_kind = ?1 AND from_name = ?2 AND rel = ?3"
    " AND to_kind = ?4 AND to_name = ?5";
static const char SQL_LINK_LIST_FROM[] =
    "SELECT from_kind, from_name, rel, to_kind, to_name FROM links"
    " WHERE from_kind = ?1 AND from_name = ?2 AND rel = ?3"
    " AND (?4 IS NULL OR to_kind = ?4) AND (?5 IS NULL OR to_name > ?5)"
    " ORDER BY to_name, to_kind";
static const char SQL_LINK_LIST_TO[] =
    "SELECT from_kind, from_name, rel, to_kind, to_name FROM links"
    " WHERE to_kind = ?1 AND to_name = ?2 AND rel = ?3"
    " AND (?4 IS NULL OR from_kind = ?4) AND (?5 IS NULL OR from_name > ?5)"
    " ORDER BY from_name, from_kind";

/* ==== Transactions ======================================================= */

int store__txn_run(struct store_conn *c, roost_store_txn_fn fn, void *ud, bool read_only)
{
    uint8_t inline_buf[1024];
    struct roost_store_txn txn = {.c = c, .read_only = read_only};
    roost_arena_init(&txn.arena, inline_buf, sizeof(inline_buf));
    int rc = fn(&txn, ud);
    roost_arena_cleanup(&txn.arena);
    return rc;
}

/*
 * Runs `fn` inside one read transaction on the reader connection, on the
 * calling thread, so everything it reads is one consistent snapshot of what
 * is committed. Returns fn's code, or ROOST_EDB if the transaction could not
 * be opened. Writes inside are ROOST_EINVAL. fn must not call the loaders
 * or roost_store_read (the reader is taken).
 */
int roost_store_read(struct roost_store *st, roost_store_txn_fn fn, void *ud)
{
    struct store_conn *c = &st->r;
    sqlite3_stmt *s = NULL;
    pthread_mutex_lock(&st->reader_mu);
    int rc = store__stmt(c, STORE_STMT_BEGIN_READ, "BEGIN", &s);
    if (!rc)
        rc = store__run(c, s, "BEGIN");
    if (rc)
        goto out;
    rc = store__txn_run(c, fn, ud, true);
    /* A read transaction has nothing to keep: ending it either way is the
     * same, and ROLLBACK cannot fail for want of a lock. */
    if (!sqlite3_get_autocommit(c->db) &&
        store__stmt(c, STORE_STMT_ROLLBACK, "ROLLBACK", &s) == 0)
        store__run(c, s, "ROLLBACK");
out:
    pthread_mutex_unlock(&st->reader_mu);
    return rc;
}

/* A cached statement, or a fresh one when the cached one is still stepping
 * (a list callback listing again); *out_fresh says which to finalize. */
static int list_stmt(struct store_conn *c, enum store_stmt_id id, const char *sql,
                     sqlite3_stmt **out_stmt, bool *out_fresh)
{
    *out_fresh = false;
    int rc = store__stmt(c, id, sql, out_stmt);
    if (rc || !sqlite3_stmt_busy(*out_stmt))
        return rc;
    *out_fresh = true;
    int src = sqlite3_prepare_v2(c->db, sql, -1, out_stmt, NULL);
    return store__err(c, src, sql);
}

static void list_done(sqlite3_stmt *s, bool fresh)
{
    if (fresh)
        sqlite3_finalize(s);
    else
        store__done(s);
}

static const char *col_text(sqlite3_stmt *s, int i)
{
    const char *t = (const char *)sqlite3_column_text(s, i);
    return t ? t : "";
}

/* ==== Documents ========================================================== */

/* Loads one document, copying its strings into the transaction's arena.
 * ROOST_ENOTFOUND when absent. */
int roost_store_doc_get(struct roost_store_txn *txn, const char *kind, const char *name,
                        struct roost_store_doc *out)
{
    struct store_conn *c = txn->c;
    sqlite3_stmt *s = NULL;
    int rc = store__stmt(c, STORE_STMT_DOC_GET, SQL_DOC_GET, &s);
    if (rc)
        return rc;
    store__bind_text(s, 1, kind);
    store__bind_text(s, 2, name);
    int src = sqlite3_step(s);
    if (src == SQLITE_ROW) {
        const char *body = col_text(s, 0);
        *out = (struct roost_store_doc){
            .kind = roost_arena_strndup(&txn->arena, kind, strlen(kind)),
            .name = roost_arena_strndup(&txn->arena, name, strlen(name)),
            .body = roost_arena_strndup(&txn->arena, body, strlen(body)),
            .version = sqlite3_column_int64(s, 1),
            .created_ms = (uint64_t)sqlite3_column_int64(s, 2),
            .updated_ms = (uint64_t)sqlite3_column_int64(s, 3),
        };
    }
    rc = src == SQLITE_ROW ? 0 : src == SQLITE_DONE ? ROOST_ENOTFOUND : store__err(c, src, "doc_get");
    store__done(s);
    return rc;
}

/* Steps a write ... RETURNING version: ROOST_ENOTFOUND when no row came back. */
static int run_returning_version(struct store_conn *c, sqlite3_stmt *s, int64_t *out_version,
                                 const char *what)
{
    int src = sqlite3_step(s);
    int rc = 0;
    if (src == SQLITE_ROW) {
        *out_version = sqlite3_column_int64(s, 0);
        src = sqlite3_step(s);
    } else if (src == SQLITE_DONE) {
        rc = ROOST_ENOTFOUND;
    }
    if (!rc && src != SQLITE_DONE)
        rc = store__err(c, src, what);
    store__done(s);
    return rc;
}

/*
 * Stores a document. expected_version 0 creates it (ROOST_ECONFLICT if it
 * exists); > 0 updates it only if that is its current version
 * (ROOST_ECONFLICT otherwise, ROOST_ENOTFOUND if there is no document); -1
 * creates or overwrites. The new version goes to *out_version (may be NULL).
 */
int roost_store_doc_put(struct roost_store_txn *txn, const char *kind, const char *name,
                        const char *body, int64_t expected_version, int64_t *out_version)
{
    struct store_conn *c = txn->c;
    sqlite3_stmt *s = NULL;
    int64_t version = 0;
    int rc;
    if (txn->read_only || expected_version < -1)
        return ROOST_EINVAL;
    if (expected_version == 0)
        rc = store__stmt(c, STORE_STMT_DOC_INSERT, SQL_DOC_INSERT, &s);
    else if (expected_version > 0)
        rc = store__stmt(c, STORE_STMT_DOC_UPDATE, SQL_DOC_UPDATE, &s);
    else
        rc = store__stmt(c, STORE_STMT_DOC_UPSERT, SQL_DOC_UPSERT, &s);
    if (rc)
        return rc;
    store__bind_text(s, 1, kind);
    store__bind_text(s, 2, name);
    store__bind_text(s, 3, body);
    store__bind_u64(s, 4, roost_wall_ms());
    if (expected_version > 0)
        sqlite3_bind_int64(s, 5, expected_version);
    rc = run_returning_version(c, s, &version, "doc_put");
    if (rc == ROOST_ENOTFOUND && expected_version > 0) {
        /* No row matched: a stale version, or no document at all. */
        struct roost_store_doc cur;
        rc = roost_store_doc_get(txn, kind, name, &cur);
        if (!rc)
            rc = ROOST_ECONFLICT;
    }
    if (!rc && out_version)
        *out_version = version;
    return rc;
}

static int del_by_key(struct store_conn *c, enum store_stmt_id id, const char *sql,
                      const char *kind, const char *name, int *out_changes)
{
    sqlite3_stmt *s = NULL;
    int rc = store__stmt(c, id, sql, &s);
    if (rc)
        return rc;
    store__bind_text(s, 1, kind);
    store__bind_text(s, 2, name);
    rc = store__run(c, s, sql);
    if (out_changes)
        *out_changes = sqlite3_changes(c->db);
    return rc;
}

/* Deletes a document and every link from or to it. ROOST_ENOTFOUND if absent. */
int roost_store_doc_del(struct roost_store_txn *txn, const char *kind, const char *name)
{
    struct store_conn *c = txn->c;
    int changes = 0;
    if (txn->read_only)
        return ROOST_EINVAL;
    int rc = del_by_key(c, STORE_STMT_DOC_DEL, SQL_DOC_DEL, kind, name, &changes);
    if (!rc && changes == 0)
        rc = ROOST_ENOTFOUND;
    if (!rc)
        rc = del_by_key(c, STORE_STMT_DOC_DEL_LINKS_FROM, SQL_DOC_DEL_LINKS_FROM, kind, name,
                        NULL);
    if (!rc)
        rc = del_by_key(c, STORE_STMT_DOC_DEL_LINKS_TO, SQL_DOC_DEL_LINKS_TO, kind, name, NULL);
    return rc;
}

/*
 * Calls fn for the documents of `kind` in name order: names after `after`
 * (NULL or "" = from the start) that start with `prefix` (NULL = any), at
 * most `limit` of them (0 = all). A non-zero return from fn stops the walk
 * and is returned.
 */
int roost_store_doc_list(struct roost_store_txn *txn, const char *kind, const char *prefix,
                         const char *after, size_t limit, roost_store_doc_fn fn, void *ud)
{
    struct store_conn *c = txn->c;
    sqlite3_stmt *s = NULL;
    bool fresh;
    size_t plen = prefix ? strlen(prefix) : 0;
    if (after && !*after)
        after = NULL;
    /* Start at whichever comes later: the prefix or the page's last name. */
    const char *from = prefix ? prefix : "";
    if (after && strcmp(after, from) >= 0)
        from = after;
    else
        after = NULL; /* before the prefix: every name we will see is after it */
    int rc = list_stmt(c, STORE_STMT_DOC_LIST, SQL_DOC_LIST, &s, &fresh);
    if (rc)
        return rc;
    store__bind_text(s, 1, kind);
    store__bind_text(s, 2, from);
    size_t n = 0;
    int src = SQLITE_DONE;
    while (!rc && (limit == 0 || n < limit) && (src = sqlite3_step(s)) == SQLITE_ROW) {
        const char *name = col_text(s, 0);
        if (plen && strncmp(name, prefix, plen) != 0) {
            src = SQLITE_DONE; /* past the prefix: ordered, so nothing follows */
            break;
        }
        if (after && strcmp(name, after) == 0)
            continue;
        struct roost_store_doc doc = {
            .kind = kind,
            .name = name,
            .body = col_text(s, 1),
            .version = sqlite3_column_int64(s, 2),
            .created_ms = (uint64_t)sqlite3_column_int64(s, 3),
            .updated_ms = (uint64_t)sqlite3_column_int64(s, 4),
        };
        n++;
        rc = fn(ud, &doc);
    }
    if (!rc && src != SQLITE_ROW && src != SQLITE_DONE)
        rc = store__err(c, src, "doc_list");
    list_done(s, fresh);
    return rc;
}

/* ==== Links ============================================================== */

static void bind_link(sqlite3_stmt *s, const struct roost_store_link *l)
{
    store__bind_text(s, 1, l->from_kind);
    store__bind_text(s, 2, l->from_name);
    store__bind_text(s, 3, l->rel);
    store__bind_text(s, 4, l->to_kind);
    store__bind_text(s, 5, l->to_name);
}

/* Adds a link; one that already exists is left as it is (success). */
int roost_store_link_add(struct roost_store_txn *txn, const struct roost_store_link *l)
{
    struct store_conn *c = txn->c;
    sqlite3_stmt *s = NULL;
    if (txn->read_only)
        return ROOST_EINVAL;
    int rc = store__stmt(c, STORE_STMT_LINK_ADD, SQL_LINK_ADD, &s);
    if (rc)
        return rc;
    bind_link(s, l);
    return store__run(c, s, "link_add");
}

/* Deletes a link. ROOST_ENOTFOUND if there is none. */
int roost_store_link_del(struct roost_store_txn *txn, const struct roost_store_link *l)
{
    struct store_conn *c = txn->c;
    sqlite3_stmt *s = NULL;
    if (txn->read_only)
        return ROOST_EINVAL;
    int rc = store__stmt(c, STORE_STMT_LINK_DEL, SQL_LINK_DEL, &s);
    if (rc)
        return rc;
    bind_link(s, l);
    rc = store__run(c, s, "link_del");
    if (!rc && sqlite3_changes(c->db) == 0)
        rc = ROOST_ENOTFOUND;
    return rc;
}

/*
 * Calls fn for the links with relation `rel` from (from_kind, from_name),
 * ordered by to_name (to_kind NULL = any kind at the other end); or, with
 * from_name NULL, for those to (to_kind, to_name), ordered by from_name
 * (from_kind NULL = any). Names after `after` only (NULL or "" = from the
 * start), at most `limit` (0 = all). ROOST_EINVAL if neither end is named.
 */
int roost_store_link_list(struct roost_store_txn *txn, const char *rel, const char *from_kind,
                          const char *from_name, const char *to_kind, const char *to_name,
                          const char *after, size_t limit, roost_store_link_fn fn, void *ud)
{
    struct store_conn *c = txn->c;
    sqlite3_stmt *s = NULL;
    bool fresh;
    bool outgoing = from_name != NULL;
    int rc;
    if (outgoing ? !from_kind : (!to_kind || !to_name))
        return ROOST_EINVAL;
    if (outgoing)
        rc = list_stmt(c, STORE_STMT_LINK_LIST_FROM, SQL_LINK_LIST_FROM, &s, &fresh);
    else
        rc = list_stmt(c, STORE_STMT_LINK_LIST_TO, SQL_LINK_LIST_TO, &s, &fresh);
    if (rc)
        return rc;
    store__bind_text(s, 1, outgoing ? from_kind : to_kind);
    store__bind_text(s, 2, outgoing ? from_name : to_name);
    store__bind_text(s, 3, rel);
    const char *other_kind = outgoing ? to_kind : from_kind;
    if (other_kind)
        store__bind_text(s, 4, other_kind);
    if (after && *after)
        store__bind_text(s, 5, after);
    size_t n = 0;
    int src = SQLITE_DONE;
    while (!rc && (limit == 0 || n < limit) && (src = sqlite3_step(s)) == SQLITE_ROW) {
        struct roost_store_link l = {
            .from_kind = col_text(s, 0),
            .from_name = col_text(s, 1),
            .rel = col_text(s, 2),
            .to_kind = col_text(s, 3),
            .to_name = col_text(s, 4),
        };
        n++;
        rc = fn(ud, &l);
    }
    if (!rc && src != SQLITE_ROW && src != SQLITE_DONE)
        rc = store__err(c, src, "link_list");
    list_done(s, fresh);
    return rc;
}
