/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The database schema and its history.  Version 0 is the prototype layout
 * (domains and props, no constraints, no version record); every later
 * version is reached by one ordered step of SQL from the one before.  A new
 * file is created as version 0 and walked up the same steps, so the path an
 * old file takes is the path every file takes.  All steps of one open run in
 * a single transaction: a crash leaves the old version, never half of one.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "store-internal.h"

const char store_schema_v0_sql[] =
        "CREATE TABLE IF NOT EXISTS domains (name TEXT PRIMARY KEY, qid INTEGER, uuid TEXT, klass TEXT);"
        "CREATE TABLE IF NOT EXISTS props (domain TEXT, name TEXT, value TEXT);";

/* migrations[v] takes version v to v + 1. */
static const char *const migrations[] = {
        /* 0 -> 1: constraints and cascades, global properties, tags, features,
         * the version record, dom0's row (so its properties have a parent).
         * Rows the new constraints refuse are left behind, not fatal. */
        "ALTER TABLE domains RENAME TO v0_domains;"
        "ALTER TABLE props RENAME TO v0_props;"
        "CREATE TABLE meta (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL) WITHOUT ROWID;"
        "CREATE TABLE domains ("
        "  name TEXT PRIMARY KEY NOT NULL,"
        "  qid INTEGER NOT NULL UNIQUE,"
        "  uuid TEXT NOT NULL UNIQUE,"
        "  klass TEXT NOT NULL) WITHOUT ROWID;"
        "CREATE TABLE props ("
        "  domain TEXT NOT NULL REFERENCES domains(name) ON DELETE CASCADE,"
        "  name TEXT NOT NULL,"
        "  value TEXT NOT NULL,"
        "  PRIMARY KEY (domain, name)) WITHOUT ROWID;"
        "CREATE TABLE globals (name TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL) WITHOUT ROWID;"
        "CREATE TABLE tags ("
        "  domain TEXT NOT NULL REFERENCES domains(name) ON DELETE CASCADE,"
        "  tag TEXT NOT NULL,"
        "  PRIMARY KEY (domain, tag)) WITHOUT ROWID;"
        "CREATE TABLE features ("
        "  domain TEXT NOT NULL REFERENCES domains(name) ON DELETE CASCADE,"
        "  key TEXT NOT NULL,"
        "  value TEXT NOT NULL,"
        "  PRIMARY KEY (domain, key)) WITHOUT ROWID;"
        "INSERT INTO domains (name, qid, uuid, klass)"
        "  VALUES ('dom0', 0, '00000000-0000-0000-0000-000000000000', 'AdminVM');"
        "INSERT OR IGNORE INTO domains (name, qid, uuid, klass)"
        "  SELECT name, qid, lower(uuid), klass FROM v0_domains"
        "  WHERE name IS NOT NULL AND name <> 'dom0' AND qid IS NOT NULL AND qid > 0"
        "    AND uuid IS NOT NULL AND klass IS NOT NULL"
        "  ORDER BY rowid;"
        "INSERT OR IGNORE INTO props (domain, name, value)"
        "  SELECT domain, name, value FROM v0_props"
        "  WHERE domain IN (SELECT name FROM domains) AND name IS NOT NULL AND value IS NOT NULL"
        "  ORDER BY rowid;"
        "DROP TABLE v0_props;"
        "DROP TABLE v0_domains;",
};

static int exec_sql(sqlite3 *db, const char *path, const char *sql, const char *what) {
        char *message = NULL;
        int rc = sqlite3_exec(db, sql, NULL, NULL, &message);

        if (rc != SQLITE_OK) {
                log_error("%s: %s failed: %s", path, what, message ?: sqlite3_errstr(rc));
                sqlite3_free(message);
                return rc == SQLITE_BUSY ? -EBUSY : rc == SQLITE_FULL ? -ENOSPC : rc == SQLITE_NOMEM ? -ENOMEM : -EIO;
        }
        return 0;
}

static int table_exists(sqlite3 *db, const char *table, bool *ret) {
        sqlite3_stmt *st = NULL;
        int rc;

        rc = sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", -1, &st, NULL);
        if (rc != SQLITE_OK)
                return rc == SQLITE_NOTADB || rc == SQLITE_CORRUPT ? -EBADMSG : -EIO;
        sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
        sqlite3_finalize(st);
        if (rc != SQLITE_ROW && rc != SQLITE_DONE)
                return rc == SQLITE_NOTADB || rc == SQLITE_CORRUPT ? -EBADMSG : rc == SQLITE_BUSY ? -EBUSY : -EIO;
        *ret = rc == SQLITE_ROW;
        return 0;
}

static int read_version(sqlite3 *db, const char *path, int *ret) {
        sqlite3_stmt *st = NULL;
        int rc, r = 0;

        rc = sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = 'schema_version'", -1, &st, NULL);
        if (rc != SQLITE_OK)
                return -EIO;
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
                const char *text = (const char *) sqlite3_column_text(st, 0);
                char *end = NULL;
                long v = text ? strtol(text, &end, 10) : -1;

                if (!text || !*text || *end || v < 0 || v > 1000000) {
                        log_error("%s: the schema version '%s' is not a number", path, text ?: "");
                        r = -EBADMSG;
                } else
                        *ret = (int) v;
        } else {
                log_error("%s: has a meta table but no schema version", path);
                r = -EBADMSG;
        }
        sqlite3_finalize(st);
        return r;
}

int store_schema_setup(sqlite3 *db, const char *path) {
        bool has_meta, has_domains = false;
        int version = 0, r;
        char sql[128];

        if (ELEMENTSOF(migrations) != STORE_SCHEMA_VERSION)
                return -EINVAL;
        r = exec_sql(db, path, "BEGIN IMMEDIATE", "starting the schema transaction");
        if (r < 0)
                return r;
        r = table_exists(db, "meta", &has_meta);
        if (r < 0) {
                log_error("%s: cannot read the schema: %s", path, r == -EBADMSG ? "not a database" : "I/O error");
                goto rollback;
        }
        if (has_meta) {
                r = read_version(db, path, &version);
                if (r < 0)
                        goto rollback;
        } else {
                r = table_exists(db, "domains", &has_domains);
                if (r < 0)
                        goto rollback;
                if (!has_domains)
                        log_info("%s: creating the domain database (schema version %d)", path, STORE_SCHEMA_VERSION);
                r = exec_sql(db, path, store_schema_v0_sql, "creating the version-0 tables");
                if (r < 0)
                        goto rollback;
        }
        if (version > STORE_SCHEMA_VERSION) {
                log_error("%s: the database has schema version %d, newer than this qubesd knows (%d); "
                          "refusing to open it (use the qubesd that wrote it, or restore a backup)",
                          path, version, STORE_SCHEMA_VERSION);
                r = -EPROTONOSUPPORT;
                goto rollback;
        }
        if (version == STORE_SCHEMA_VERSION)
                return exec_sql(db, path, "COMMIT", "committing");

        for (int v = version; v < STORE_SCHEMA_VERSION; v++) {
                if (has_meta || has_domains)
                        log_info("%s: migrating the database from schema version %d to %d", path, v, v + 1);
                r = exec_sql(db, path, migrations[v], "migrating");
                if (r < 0)
                        goto rollback;
        }
        snprintf(sql, sizeof(sql), "INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', '%d')",
                 STORE_SCHEMA_VERSION);
        r = exec_sql(db, path, sql, "recording the schema version");
        if (r < 0)
                goto rollback;
        return exec_sql(db, path, "COMMIT", "committing the migration");

rollback:
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        return r;
}
