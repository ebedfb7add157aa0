/*
 * migrations.c - the database schema as numbered steps. Migration N brings
 * a database from version N-1 to N; PRAGMA user_version records the version
 * reached. At open every missing step runs, in order, inside one IMMEDIATE
 * transaction that also sets user_version, so a crash leaves either the old
 * schema or the new one, never half of it.
 *
 * To change the schema, append a step to `migrations` (never edit a step
 * that has shipped: databases in the field already ran it). A database
 * written by a newer build (user_version beyond the last step) is refused.
 */
#include "store/store_int.h"

#include <stdio.h>

#define SUB "store"

struct migration {
    const char *name;   /* for the log */
    const char *sql;    /* one or more statements */
};

/* Tables are STRICT so a wrong type is an error, not a silent conversion.
 * Keys of small rows are WITHOUT ROWID (the primary key is the table, no
 * second b-tree). Integers are SQLite's signed 64 bits; ids and times fit. */
static const struct migration migrations[] = {
    {"broker state: sessions, subscriptions, queued messages, retained",
     /* One row per persistent session. */
     "CREATE TABLE sessions ("
     "  client_id TEXT NOT NULL PRIMARY KEY,"
     "  expiry_interval INTEGER NOT NULL,"      /* seconds, 4294967295 = never */
     "  disconnected_at_ms INTEGER NOT NULL,"   /* wall clock, 0 while connected */
     "  protocol_version INTEGER NOT NULL"
     ") STRICT, WITHOUT ROWID;"
     "CREATE TABLE subs ("
     "  client_id TEXT NOT NULL REFERENCES sessions(client_id) ON DELETE CASCADE,"
     "  filter TEXT NOT NULL,"
     "  options INTEGER NOT NULL,"
     "  sub_id INTEGER NOT NULL,"
     "  PRIMARY KEY (client_id, filter)"
     ") STRICT, WITHOUT ROWID;"
     /* A message stored once, however many queues name it. It lives as long
      * as a queue row refers to it (the foreign key from queue, and the
      * queue_gc trigger below). */
     "CREATE TABLE msgs ("
     "  id INTEGER PRIMARY KEY,"
     "  topic TEXT NOT NULL,"
     "  payload BLOB NOT NULL,"
     "  props BLOB,"
     "  qos INTEGER NOT NULL,"
     "  retain INTEGER NOT NULL,"
     "  expiry_at_ms INTEGER NOT NULL"          /* wall clock, 0 = never */
     ") STRICT;"
     /* Deliveries owed to a session; the primary key is delivery order. */
     "CREATE TABLE queue ("
     "  client_id TEXT NOT NULL REFERENCES sessions(client_id) ON DELETE CASCADE,"
     "  msg_id INTEGER NOT NULL REFERENCES msgs(id),"
     "  qos INTEGER NOT NULL,"
     "  sub_id INTEGER NOT NULL,"
     "  retain_flag INTEGER NOT NULL,"
     "  PRIMARY KEY (client_id, msg_id)"
     ") STRICT, WITHOUT ROWID;"
     "CREATE INDEX queue_by_msg ON queue(msg_id);"
     /* A message goes with the last queue row naming it, however the row
      * went (QUEUE_DEL, or SESSION_DEL's cascade). */
     "CREATE TRIGGER queue_gc AFTER DELETE ON queue BEGIN"
     "  DELETE FROM msgs WHERE id = old.msg_id"
     "   AND NOT EXISTS (SELECT 1 FROM queue WHERE msg_id = old.msg_id);"
     " END;"
     /* One retained message per topic, a copy of the message's fields. */
     "CREATE TABLE retained ("
     "  topic TEXT NOT NULL PRIMARY KEY,"
     "  msg_id INTEGER NOT NULL,"
     "  payload BLOB NOT NULL,"
     "  props BLOB,"
     "  qos INTEGER NOT NULL,"
     "  retain INTEGER NOT NULL,"
     "  expiry_at_ms INTEGER NOT NULL"
     ") STRICT;"
     /* Store bookkeeping. msg_id_hwm: the largest message id ever stored,
      * so ids are not reused after the messages holding them are gone. */
     "CREATE TABLE store_meta ("
     "  key TEXT NOT NULL PRIMARY KEY,"
     "  value INTEGER NOT NULL"
     ") STRICT, WITHOUT ROWID;"
     "INSERT INTO store_meta(key, value) VALUES ('msg_id_hwm', 0);"},

    {"registry: documents and links",
     /* JSON documents by (kind, name): things, certificates, policies... */
     "CREATE TABLE docs ("
     "  kind TEXT NOT NULL,"
     "  name TEXT NOT NULL,"
     "  body TEXT NOT NULL,"
     "  version INTEGER NOT NULL,"              /* 1 on create, +1 per put */
     "  created_ms INTEGER NOT NULL,"
     "  updated_ms INTEGER NOT NULL,"
     "  PRIMARY KEY (kind, name)"
     ") STRICT;"
     /* Directed, named relations; the key serves "links from X", the
      * index "links to Y" and the deletes that follow a document's. */
     "CREATE TABLE links ("
     "  from_kind TEXT NOT NULL,"
     "  from_name TEXT NOT NULL,"
     "  rel TEXT NOT NULL,"
     "  to_kind TEXT NOT NULL,"
     "  to_name TEXT NOT NULL,"
     "  PRIMARY KEY (from_kind, from_name, rel, to_kind, to_name)"
     ") STRICT, WITHOUT ROWID;"
     "CREATE INDEX links_to ON links(to_kind, to_name, rel, from_kind, from_name);"},
};

int store__schema_version(void)
{
    return (int)ROOST_ARRAY_LEN(migrations);
}

static int exec_logged(struct store_conn *c, const char *sql, const char *what)
{
    char *msg = NULL;
    int src = sqlite3_exec(c->db, sql, NULL, NULL, &msg);
    if (src != SQLITE_OK)
        roost_log_error(SUB, "%s: %s", what, msg ? msg : sqlite3_errstr(src));
    sqlite3_free(msg);
    return src == SQLITE_OK ? 0 : ROOST_EDB;
}

static int read_user_version(struct store_conn *c, int *out_version)
{
    sqlite3_stmt *s = NULL;
    int src = sqlite3_prepare_v2(c->db, "PRAGMA user_version", -1, &s, NULL);
    if (src == SQLITE_OK)
        src = sqlite3_step(s);
    *out_version = src == SQLITE_ROW ? sqlite3_column_int(s, 0) : 0;
    int rc = store__err(c, src, "PRAGMA user_version");
    sqlite3_finalize(s);
    return rc;
}

int store__migrate(struct store_conn *c)
{
    int rc = 0, from = 0;
    const int latest = store__schema_version();
    bool in_txn = false;

    /* IMMEDIATE: two processes opening a fresh file must not both decide
     * to create the tables. The version is read inside the transaction. */
    rc = exec_logged(c, "BEGIN IMMEDIATE", "migrations: begin");
    if (rc)
        goto out;
    in_txn = true;
    rc = read_user_version(c, &from);
    if (rc)
        goto out;
    if (from > latest) {
        roost_log_error(SUB, "database schema version %d is newer than this build's %d", from,
                        latest);
        rc = ROOST_EVERSION;
        goto out;
    }
    for (int v = from + 1; v <= latest; v++) {
        roost_log_info(SUB, "migration %d: %s", v, migrations[v - 1].name);
        rc = exec_logged(c, migrations[v - 1].sql, migrations[v - 1].name);
        if (rc)
            goto out;
    }
    if (from != latest) {
        char sql[64];
        snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", latest);
        rc = exec_logged(c, sql, "migrations: user_version");
        if (rc)
            goto out;
    }
    rc = exec_logged(c, "COMMIT", "migrations: commit");
    if (rc)
        goto out;
    in_txn = false;
out:
    if (in_txn && !sqlite3_get_autocommit(c->db))
        exec_logged(c, "ROLLBACK", "migrations: rollback");
    return rc;
}
