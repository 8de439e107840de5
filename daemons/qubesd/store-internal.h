/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Shared by store.c (connection, writes), store-schema.c (schema and
 * migrations) and store-load.c (reading a whole set back). */
#pragma once

#include <sqlite3.h>

#include "store.h"

/* The schema this build writes and reads. */
#define STORE_SCHEMA_VERSION 1

enum store_stmt {
        STMT_BEGIN,
        STMT_COMMIT,
        STMT_ROLLBACK,
        STMT_DOMAIN_EXISTS,
        STMT_INSERT_DOMAIN,
        STMT_DELETE_DOMAIN,
        STMT_UPSERT_PROP,
        STMT_DELETE_PROP,
        STMT_UPSERT_GLOBAL,
        STMT_DELETE_GLOBAL,
        STMT_INSERT_TAG,
        STMT_DELETE_TAG,
        STMT_UPSERT_FEATURE,
        STMT_DELETE_FEATURE,
        STMT_SELECT_DOMAINS,
        STMT_SELECT_PROPS,
        STMT_SELECT_GLOBALS,
        STMT_SELECT_TAGS,
        STMT_SELECT_FEATURES,
        _STMT_MAX,
};

struct store {
        sqlite3 *db;
        char *path;
        sqlite3_stmt *stmts[_STMT_MAX];         /* prepared on first use, kept */
};

/* The cached statement, reset and with its bindings cleared; NULL on error
 * (logged). */
sqlite3_stmt *store_stmt(struct store *s, enum store_stmt id);

/* An SQLite result code as -errno (constraint: foreign key -ENOENT, else
 * -EEXIST), logging unexpected errors with SQLite's message. */
int store_errno(struct store *s, int rc, const char *what);

/* Run a statement that returns no rows to SQLITE_DONE; 0 or -errno. */
int store_step_done(struct store *s, sqlite3_stmt *st, const char *what);

/* Create the tables or migrate an older file to STORE_SCHEMA_VERSION, in
 * one transaction; -EPROTONOSUPPORT for a file newer than this build. */
int store_schema_setup(sqlite3 *db, const char *path);

/* For tests: the SQL that creates the version-0 layout. */
extern const char store_schema_v0_sql[];
