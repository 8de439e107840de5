/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The domain database: SQLite in WAL mode with synchronous=FULL, one
 * transaction per change, a schema version with migrations.  A change is
 * acknowledged to a client only after its store_* call returned 0, so a crash
 * or power loss never loses an acknowledged change; the file is never left in
 * a state the daemon cannot load.
 */
#pragma once

#include "domain.h"

struct store;

/* Open (creating or migrating) the database at path (created mode 0600).
 * -EPROTONOSUPPORT: the file's schema is newer than this build (logged);
 * -EBADMSG: not a database, or no readable schema version. */
int store_open(const char *path, struct store **ret);
void store_close(struct store *s);

/* Load every domain and global property into a fresh set (dom0 synthesised). */
int store_load(struct store *s, struct domain_set **ret);

/* Each is one transaction.  -ENOENT: no such domain (or tag, or feature to
 * remove); -EEXIST: a domain with that name, qid or uuid exists.  A domain's
 * identity (name, qid, uuid, klass) is written by store_add_domain only. */
int store_add_domain(struct store *s, const struct domain *d);          /* with all its values, tags, features */
int store_remove_domain(struct store *s, const char *name);
int store_set_value(struct store *s, const char *domain, const char *prop, const char *value);   /* NULL = reset */
int store_set_global(struct store *s, const char *prop, const char *value);                      /* NULL = reset */
int store_add_tag(struct store *s, const char *domain, const char *tag);
int store_remove_tag(struct store *s, const char *domain, const char *tag);
int store_set_feature(struct store *s, const char *domain, const char *key, const char *value);  /* NULL = remove */

/* PRAGMA integrity_check == "ok" */
int store_check(struct store *s);
