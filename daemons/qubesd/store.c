/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The domain database connection and every change to it.  WAL with
 * synchronous=FULL makes a returned COMMIT durable; each store_* call is one
 * IMMEDIATE transaction, so a change is either wholly on disk or not at all.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "property.h"
#include "store-internal.h"

static const char *const stmt_sql[_STMT_MAX] = {
        [STMT_BEGIN] = "BEGIN IMMEDIATE",
        [STMT_COMMIT] = "COMMIT",
        [STMT_ROLLBACK] = "ROLLBACK",
        [STMT_DOMAIN_EXISTS] = "SELECT 1 FROM domains WHERE name = ?1",
        [STMT_INSERT_DOMAIN] = "INSERT INTO domains (name, qid, uuid, klass) VALUES (?1, ?2, ?3, ?4)",
        [STMT_DELETE_DOMAIN] = "DELETE FROM domains WHERE name = ?1",
        [STMT_UPSERT_PROP] = "INSERT OR REPLACE INTO props (domain, name, value) VALUES (?1, ?2, ?3)",
        [STMT_DELETE_PROP] = "DELETE FROM props WHERE domain = ?1 AND name = ?2",
        [STMT_UPSERT_GLOBAL] = "INSERT OR REPLACE INTO globals (name, value) VALUES (?1, ?2)",
        [STMT_DELETE_GLOBAL] = "DELETE FROM globals WHERE name = ?1",
        [STMT_INSERT_TAG] = "INSERT OR IGNORE INTO tags (domain, tag) VALUES (?1, ?2)",
        [STMT_DELETE_TAG] = "DELETE FROM tags WHERE domain = ?1 AND tag = ?2",
        [STMT_UPSERT_FEATURE] = "INSERT OR REPLACE INTO features (domain, key, value) VALUES (?1, ?2, ?3)",
        [STMT_DELETE_FEATURE] = "DELETE FROM features WHERE domain = ?1 AND key = ?2",
        [STMT_SELECT_DOMAINS] = "SELECT name, qid, uuid, klass FROM domains ORDER BY name",
        [STMT_SELECT_PROPS] = "SELECT domain, name, value FROM props ORDER BY domain, name",
        [STMT_SELECT_GLOBALS] = "SELECT name, value FROM globals ORDER BY name",
        [STMT_SELECT_TAGS] = "SELECT domain, tag FROM tags ORDER BY domain, tag",
        [STMT_SELECT_FEATURES] = "SELECT domain, key, value FROM features ORDER BY domain, key",
};

int store_errno(struct store *s, int rc, const char *what) {
        int r;

        switch (rc & 0xff) {
        case SQLITE_OK:
        case SQLITE_DONE:
        case SQLITE_ROW:
                return 0;
        case SQLITE_CONSTRAINT:
                return rc == SQLITE_CONSTRAINT_FOREIGNKEY ? -ENOENT : -EEXIST;
        case SQLITE_BUSY:
        case SQLITE_LOCKED:
                r = -EBUSY;
                break;
        case SQLITE_NOMEM:
                r = -ENOMEM;
                break;
        case SQLITE_FULL:
                r = -ENOSPC;
                break;
        case SQLITE_READONLY:
                r = -EROFS;
                break;
        case SQLITE_PERM:
        case SQLITE_AUTH:
                r = -EACCES;
                break;
        case SQLITE_TOOBIG:
                r = -E2BIG;
                break;
        case SQLITE_CORRUPT:
        case SQLITE_NOTADB:
                r = -EBADMSG;
                break;
        default:
                r = s->db && sqlite3_system_errno(s->db) > 0 ? -sqlite3_system_errno(s->db) : -EIO;
        }
        log_error("%s: %s: %s", s->path, what, s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
        return r;
}

sqlite3_stmt *store_stmt(struct store *s, enum store_stmt id) {
        sqlite3_stmt *st = s->stmts[id];

        if (!st) {
                int rc = sqlite3_prepare_v3(s->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT, &st, NULL);
                if (rc != SQLITE_OK) {
                        store_errno(s, rc, "preparing a statement");
                        return NULL;
                }
                s->stmts[id] = st;
        }
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        return st;
}

int store_step_done(struct store *s, sqlite3_stmt *st, const char *what) {
        int rc = sqlite3_step(st);
        int r = rc == SQLITE_DONE ? 0 : store_errno(s, rc == SQLITE_ROW ? SQLITE_MISUSE : rc, what);

        sqlite3_reset(st);
        return r;
}

static int run(struct store *s, enum store_stmt id, const char *what) {
        sqlite3_stmt *st = store_stmt(s, id);
        return st ? store_step_done(s, st, what) : -EIO;
}

static int begin(struct store *s) {
        return run(s, STMT_BEGIN, "starting a transaction");
}

/* Commit when r >= 0, else roll back; returns r or the commit's failure. */
static int finish(struct store *s, int r) {
        if (r >= 0) {
                r = run(s, STMT_COMMIT, "committing");
                if (r >= 0)
                        return 0;
        }
        if (!sqlite3_get_autocommit(s->db))
                (void) run(s, STMT_ROLLBACK, "rolling back");
        return r;
}

/* Bind text parameters 1..n (NULL pointers stay NULL) and run. */
static int exec_texts(struct store *s, enum store_stmt id, const char *what, int n, const char *const *texts) {
        sqlite3_stmt *st = store_stmt(s, id);

        if (!st)
                return -EIO;
        for (int i = 0; i < n; i++)
                if (texts[i] && sqlite3_bind_text(st, i + 1, texts[i], -1, SQLITE_STATIC) != SQLITE_OK)
                        return store_errno(s, sqlite3_errcode(s->db), what);
        return store_step_done(s, st, what);
}
#define EXEC_TEXTS(s, id, what, ...) \
        exec_texts((s), (id), (what), (int) ELEMENTSOF(((const char *const[]) { __VA_ARGS__ })), \
                   (const char *const[]) { __VA_ARGS__ })

static int domain_exists(struct store *s, const char *name) {
        sqlite3_stmt *st = store_stmt(s, STMT_DOMAIN_EXISTS);
        int rc;

        if (!st)
                return -EIO;
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc == SQLITE_ROW)
                return 0;
        if (rc == SQLITE_DONE)
                return -ENOENT;
        return store_errno(s, rc, "looking up a domain");
}

static int set_pragma(struct store *s, const char *sql, const char *expect) {
        sqlite3_stmt *st = NULL;
        int rc, r = 0;

        rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
        if (rc != SQLITE_OK)
                return store_errno(s, rc, sql);
        rc = sqlite3_step(st);
        if (rc != SQLITE_ROW && rc != SQLITE_DONE)
                r = store_errno(s, rc, sql);
        else if (expect && (rc != SQLITE_ROW || !sqlite3_column_text(st, 0) ||
                            strcmp((const char *) sqlite3_column_text(st, 0), expect) != 0)) {
                log_error("%s: %s did not take effect", s->path, sql);
                r = -EIO;
        }
        sqlite3_finalize(st);
        return r;
}

static void store_closep(struct store **s) {
        store_close(*s);
}

int store_open(const char *path, struct store **ret) {
        _cleanup_(store_closep) struct store *s = NULL;
        int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_PRIVATECACHE;
        int rc, r;

        if (!path || !ret)
                return -EINVAL;
        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->path = strdup(path);
        if (!s->path)
                return -ENOMEM;

        /* Create it ourselves so it is never readable by others; SQLite gives
         * the -wal and -shm files the database file's mode. */
        int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
        if (fd < 0)
                return log_error_errno(errno, "%s: cannot open", path);
        close(fd);

#ifdef SQLITE_OPEN_EXRESCODE
        flags |= SQLITE_OPEN_EXRESCODE;
#endif
        rc = sqlite3_open_v2(path, &s->db, flags, NULL);
        if (rc != SQLITE_OK)
                return store_errno(s, rc, "opening the database");
        sqlite3_extended_result_codes(s->db, 1);
        sqlite3_busy_timeout(s->db, 5000);

        r = set_pragma(s, "PRAGMA journal_mode = WAL", "wal");
        if (r < 0)
                return r;
        r = set_pragma(s, "PRAGMA synchronous = FULL", NULL);
        if (r < 0)
                return r;
        /* Off while migrating (tables are rebuilt); on for every change after. */
        r = set_pragma(s, "PRAGMA foreign_keys = OFF", NULL);
        if (r < 0)
                return r;
        r = store_schema_setup(s->db, path);
        if (r < 0)
                return r;
        r = set_pragma(s, "PRAGMA foreign_keys = ON", NULL);
        if (r < 0)
                return r;
        r = set_pragma(s, "PRAGMA foreign_keys", "1");
        if (r < 0)
                return r;

        *ret = TAKE_PTR(s);
        return 0;
}

void store_close(struct store *s) {
        if (!s)
                return;
        for (size_t i = 0; i < _STMT_MAX; i++)
                sqlite3_finalize(s->stmts[i]);
        if (s->db)
                sqlite3_close(s->db);
        free(s->path);
        free(s);
}

int store_add_domain(struct store *s, const struct domain *d) {
        sqlite3_stmt *st;
        int r;

        if (!s || !d || !domain_class_to_string(d->klass))
                return -EINVAL;
        r = begin(s);
        if (r < 0)
                return r;
        st = store_stmt(s, STMT_INSERT_DOMAIN);
        if (!st) {
                r = -EIO;
                goto finish;
        }
        sqlite3_bind_text(st, 1, d->name, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, d->qid);
        sqlite3_bind_text(st, 3, d->uuid, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, domain_class_to_string(d->klass), -1, SQLITE_STATIC);
        r = store_step_done(s, st, "adding a domain");
        for (size_t i = 0; r >= 0 && i < prop_table_size; i++)
                if (d->values[i])
                        r = EXEC_TEXTS(s, STMT_UPSERT_PROP, "storing a property", d->name, prop_table[i].name,
                                       d->values[i]);
        for (size_t i = 0; r >= 0 && i < d->n_tags; i++)
                r = EXEC_TEXTS(s, STMT_INSERT_TAG, "storing a tag", d->name, d->tags[i]);
        for (size_t i = 0; r >= 0 && i < d->n_features; i++)
                r = EXEC_TEXTS(s, STMT_UPSERT_FEATURE, "storing a feature", d->name, d->features[i].key,
                               d->features[i].value);
finish:
        return finish(s, r);
}

int store_remove_domain(struct store *s, const char *name) {
        int r;

        if (!s || !name)
                return -EINVAL;
        r = begin(s);
        if (r < 0)
                return r;
        r = domain_exists(s, name);
        if (r >= 0)
                r = EXEC_TEXTS(s, STMT_DELETE_DOMAIN, "removing a domain", name);
        return finish(s, r);
}

int store_set_value(struct store *s, const char *domain, const char *prop, const char *value) {
        int r;

        if (!s || !domain || !prop)
                return -EINVAL;
        r = begin(s);
        if (r < 0)
                return r;
        if (value)
                r = EXEC_TEXTS(s, STMT_UPSERT_PROP, "storing a property", domain, prop, value);
        else {
                r = domain_exists(s, domain);
                if (r >= 0)
                        r = EXEC_TEXTS(s, STMT_DELETE_PROP, "resetting a property", domain, prop);
        }
        return finish(s, r);
}

int store_set_global(struct store *s, const char *prop, const char *value) {
        int r;

        if (!s || !prop)
                return -EINVAL;
        r = begin(s);
        if (r < 0)
                return r;
        if (value)
                r = EXEC_TEXTS(s, STMT_UPSERT_GLOBAL, "storing a global property", prop, value);
        else
                r = EXEC_TEXTS(s, STMT_DELETE_GLOBAL, "resetting a global property", prop);
        return finish(s, r);
}

int store_add_tag(struct store *s, const char *domain, const char *tag) {
        int r;

        if (!s || !domain || !tag)
                return -EINVAL;
        r = begin(s);
        if (r < 0)
                return r;
        r = EXEC_TEXTS(s, STMT_INSERT_TAG, "storing a tag", domain, tag);
        return finish(s, r);
}

int store_remove_tag(struct store *s, const char *domain, const char *tag) {
        int r;

        if (!s || !domain || !tag)
                return -EINVAL;
        r = begin(s);
        if (r < 0)
                return r;
        r = EXEC_TEXTS(s, STMT_DELETE_TAG, "removing a tag", domain, tag);
        if (r >= 0 && sqlite3_changes(s->db) == 0)
                r = -ENOENT;
        return finish(s, r);
}

int store_set_feature(struct store *s, const char *domain, const char *key, const char *value) {
        int r;

        if (!s || !domain || !key)
                return -EINVAL;
        r = begin(s);
        if (r < 0)
                return r;
        if (value)
                r = EXEC_TEXTS(s, STMT_UPSERT_FEATURE, "storing a feature", domain, key, value);
        else {
                r = EXEC_TEXTS(s, STMT_DELETE_FEATURE, "removing a feature", domain, key);
                if (r >= 0 && sqlite3_changes(s->db) == 0)
                        r = -ENOENT;
        }
        return finish(s, r);
}

int store_check(struct store *s) {
        sqlite3_stmt *st = NULL;
        int rc, r = 0, rows = 0;

        if (!s)
                return -EINVAL;
        rc = sqlite3_prepare_v2(s->db, "PRAGMA integrity_check", -1, &st, NULL);
        if (rc != SQLITE_OK)
                return store_errno(s, rc, "checking integrity");
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                const char *line = (const char *) sqlite3_column_text(st, 0);
                rows++;
                if (!line || strcmp(line, "ok") != 0) {
                        log_error("%s: integrity check: %s", s->path, line ?: "(null)");
                        r = -EBADMSG;
                }
        }
        if (rc != SQLITE_DONE)
                r = store_errno(s, rc, "checking integrity");
        else if (rows != 1)
                r = r < 0 ? r : -EBADMSG;
        sqlite3_finalize(st);
        if (r < 0)
                return r;

        /* Every row's parent exists (foreign keys were off during migrations). */
        rc = sqlite3_prepare_v2(s->db, "PRAGMA foreign_key_check", -1, &st, NULL);
        if (rc != SQLITE_OK)
                return store_errno(s, rc, "checking foreign keys");
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
                log_error("%s: foreign key check: a row of %s has no parent", s->path,
                          (const char *) sqlite3_column_text(st, 0) ?: "?");
                r = -EBADMSG;
        } else if (rc != SQLITE_DONE)
                r = store_errno(s, rc, "checking foreign keys");
        sqlite3_finalize(st);
        return r;
}
