/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Reading the whole database back into a domain set.  Everything read goes
 * through the same checks as a value from a client, so a file written by an
 * older or buggy qubesd, or edited by hand, cannot put the model in a state
 * the API would refuse.  A refused row is logged and dropped (the property
 * falls back to its default): qubesd always starts.  (Qubes once failed to
 * start over one bad value, #6920.)
 *
 * Properties are applied in dependency order: plain values first (so
 * provides_network and template_for_dispvms are known), then the global
 * domain references, then templates, default_dispvm, and netvms last.
 * Network loops are checked once everything is in (a value that looks like
 * a loop half-way through the load may be fine in the end); a stored loop
 * is broken by dropping one stored netvm on it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain-internal.h"
#include "log.h"
#include "property-internal.h"
#include "store-internal.h"

struct pending {
        struct domain *domain;          /* NULL for a global */
        const struct prop_def *prop;
        char *value;
};

static const char *column(sqlite3_stmt *st, int i) {
        return (const char *) sqlite3_column_text(st, i);
}

static int load_domains(struct store *s, struct domain_set *set) {
        sqlite3_stmt *st = store_stmt(s, STMT_SELECT_DOMAINS);
        char error[256], uuid[37];
        int rc;

        if (!st)
                return -EIO;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                const char *name = column(st, 0), *untrusted_uuid = column(st, 2), *klass_text = column(st, 3);
                sqlite3_int64 qid = sqlite3_column_int64(st, 1);
                enum domain_class klass = domain_class_from_string(klass_text);
                struct domain *d;
                int r;

                if (!name || strcmp(name, "dom0") == 0)
                        continue;       /* dom0 is synthesised; its row only anchors its properties */
                if (!domain_name_valid(name, error, sizeof(error))) {
                        log_warning("%s: dropping a stored domain: %s", s->path, error);
                        continue;
                }
                if (klass == _DOMAIN_CLASS_INVALID || klass == DOMAIN_ADMINVM) {
                        log_warning("%s: dropping domain %s: unknown class '%s'", s->path, name,
                                    quotable(klass_text ?: ""));
                        continue;
                }
                if (qid < 1 || qid > DOMAIN_QID_MAX) {
                        log_warning("%s: dropping domain %s: qid %lld out of range", s->path, name, (long long) qid);
                        continue;
                }
                d = domain_alloc(name, klass);
                if (!d)
                        return -ENOMEM;
                d->qid = (uint32_t) qid;
                r = prop_check(set, d, PROP(UUID), untrusted_uuid ?: "", uuid, sizeof(uuid), error, sizeof(error));
                if (r >= 0) {
                        strcpy(d->uuid, uuid);
                        r = domain_set_add(set, d);
                        if (r == -EEXIST)
                                snprintf(error, sizeof(error), "its qid or uuid is another domain's");
                }
                if (r == -ENOMEM) {
                        domain_free(d);
                        return r;
                }
                if (r < 0) {
                        log_warning("%s: dropping domain %s: %s", s->path, name, error);
                        domain_free(d);
                }
        }
        sqlite3_reset(st);
        return rc == SQLITE_DONE ? 0 : store_errno(s, rc, "reading domains");
}

static int pending_phase(const struct prop_def *p) {
        if (p->type != PROP_DOMAIN)
                return 0;
        if (p->flags & PROP_GLOBAL)
                return 1;
        switch (prop_index(p)) {
        case PROP_ID_TEMPLATE:
                return 2;
        case PROP_ID_DEFAULT_DISPVM:
                return 3;
        default:
                return 4;
        }
}
#define N_PHASES 5

static int pending_add(struct pending **list, size_t *n, struct domain *d, const struct prop_def *p,
                       const char *value) {
        struct pending *l = realloc(*list, (*n + 1) * sizeof(struct pending));
        char *copy;

        if (!l)
                return -ENOMEM;
        *list = l;
        copy = strdup(value);
        if (!copy)
                return -ENOMEM;
        l[(*n)++] = (struct pending) { d, p, copy };
        return 0;
}

/* Reads props (global=false) or globals into the pending list. */
static int read_values(struct store *s, struct domain_set *set, bool global, struct pending **list, size_t *n) {
        sqlite3_stmt *st = store_stmt(s, global ? STMT_SELECT_GLOBALS : STMT_SELECT_PROPS);
        int rc, r;

        if (!st)
                return -EIO;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                const char *owner = global ? NULL : column(st, 0);
                const char *name = column(st, global ? 0 : 1), *value = column(st, global ? 1 : 2);
                struct domain *d = NULL;
                const struct prop_def *p;

                if (!name || !value)
                        continue;
                if (!global) {
                        d = domain_set_find(set, owner);
                        if (!d)
                                continue;       /* its domain was dropped */
                }
                p = prop_find(name, global);
                if (!p) {
                        log_warning("%s: dropping unknown %s property '%s'%s%s", s->path, global ? "global" : "domain",
                                    quotable(name), d ? " of " : "", d ? d->name : "");
                        continue;
                }
                r = pending_add(list, n, d, p, value);
                if (r < 0) {
                        sqlite3_reset(st);
                        return r;
                }
        }
        sqlite3_reset(st);
        return rc == SQLITE_DONE ? 0 : store_errno(s, rc, global ? "reading global properties" : "reading properties");
}

static int apply_values(struct store *s, struct domain_set *set, struct pending *list, size_t n) {
        char out[PROP_VALUE_MAX], error[512];

        for (int phase = 0; phase < N_PHASES; phase++)
                for (size_t i = 0; i < n; i++) {
                        struct pending *e = &list[i];
                        int r;

                        if (pending_phase(e->prop) != phase)
                                continue;
                        r = prop_check(set, e->domain, e->prop, e->value, out, sizeof(out), error, sizeof(error));
                        if (r < 0) {
                                log_warning("%s: dropping the stored %s%s%s, back to its default: %s", s->path,
                                            e->prop->name, e->domain ? " of " : " (global)",
                                            e->domain ? e->domain->name : "", error);
                                continue;
                        }
                        r = e->domain ? domain_set_value(e->domain, e->prop, out) : domain_set_global(set, e->prop, out);
                        if (r < 0)
                                return r;
                }
        return 0;
}

/* A domain on a netvm loop, or NULL. */
static struct domain *find_loop(const struct domain_set *set) {
        for (size_t i = 0; i < set->n_domains; i++) {
                struct domain *cur = set->domains[i];

                for (size_t steps = 0; cur; steps++) {
                        if (steps > set->n_domains)
                                return cur;     /* after this many steps, cur is on the loop */
                        cur = prop_get_domain(set, cur, PROP_ID_NETVM);
                }
        }
        return NULL;
}

static bool chain_loops(const struct domain_set *set, struct domain *cur) {
        for (size_t steps = 0; cur; steps++) {
                if (steps > set->n_domains)
                        return true;
                cur = prop_get_domain(set, cur, PROP_ID_NETVM);
        }
        return false;
}

static int cmp_names_desc(const void *a, const void *b) {
        return -strcmp((*(struct domain *const *) a)->name, (*(struct domain *const *) b)->name);
}

/* Drop stored netvms until no chain loops: on each loop, the first (by
 * descending name) stored netvm whose default ends the loop, else the first. */
static int break_netvm_loops(struct store *s, struct domain_set *set) {
        _cleanup_free_ struct domain **candidates = calloc(set->n_domains, sizeof(struct domain *));
        struct domain *on_loop;

        if (!candidates)
                return -ENOMEM;
        while ((on_loop = find_loop(set))) {
                struct domain *cur = on_loop, *drop = NULL;
                _cleanup_free_ char *saved = NULL;
                size_t n = 0;

                do {
                        if (cur->values[PROP_ID_NETVM] && n < set->n_domains)
                                candidates[n++] = cur;
                        cur = prop_get_domain(set, cur, PROP_ID_NETVM);
                } while (cur && cur != on_loop);

                if (n == 0) {
                        /* only defaults on the loop: the global closes it */
                        log_warning("%s: dropping the stored global default_netvm: it closes a network loop",
                                    s->path);
                        if (domain_set_global(set, PROP(DEFAULT_NETVM), NULL) < 0)
                                return -ENOMEM;
                        continue;
                }
                qsort(candidates, n, sizeof(struct domain *), cmp_names_desc);
                for (size_t i = 0; i < n && !drop; i++) {
                        saved = TAKE_PTR(candidates[i]->values[PROP_ID_NETVM]);
                        if (!chain_loops(set, candidates[i]))
                                drop = candidates[i];
                        else
                                candidates[i]->values[PROP_ID_NETVM] = TAKE_PTR(saved);
                }
                if (!drop) {
                        drop = candidates[0];
                        saved = TAKE_PTR(drop->values[PROP_ID_NETVM]);
                }
                log_warning("%s: dropping the stored netvm of %s (%s), back to its default: it closes a network loop",
                            s->path, drop->name, saved);
        }
        return 0;
}

static int load_values(struct store *s, struct domain_set *set) {
        struct pending *list = NULL;
        size_t n = 0;
        int r;

        r = read_values(s, set, true, &list, &n);
        if (r >= 0)
                r = read_values(s, set, false, &list, &n);
        if (r >= 0) {
                netvm_loop_checks_enable(false);
                r = apply_values(s, set, list, n);
                netvm_loop_checks_enable(true);
        }
        if (r >= 0)
                r = break_netvm_loops(s, set);
        for (size_t i = 0; i < n; i++)
                free(list[i].value);
        free(list);
        return r;
}

static int load_tags(struct store *s, struct domain_set *set) {
        sqlite3_stmt *st = store_stmt(s, STMT_SELECT_TAGS);
        int rc, r = 0;

        if (!st)
                return -EIO;
        while (r >= 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
                struct domain *d = domain_set_find(set, column(st, 0));
                const char *tag = column(st, 1);

                if (!d)
                        continue;
                if (!tag_valid(tag)) {
                        log_warning("%s: dropping an invalid tag '%s' of %s", s->path, quotable(tag ?: ""), d->name);
                        continue;
                }
                r = domain_add_tag(d, tag);
        }
        sqlite3_reset(st);
        if (r < 0)
                return r;
        return rc == SQLITE_DONE ? 0 : store_errno(s, rc, "reading tags");
}

static int load_features(struct store *s, struct domain_set *set) {
        sqlite3_stmt *st = store_stmt(s, STMT_SELECT_FEATURES);
        int rc, r = 0;

        if (!st)
                return -EIO;
        while (r >= 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
                struct domain *d = domain_set_find(set, column(st, 0));
                const char *key = column(st, 1), *value = column(st, 2);

                if (!d)
                        continue;
                if (!feature_key_valid(key) || !feature_value_valid(value)) {
                        log_warning("%s: dropping an invalid feature '%s' of %s", s->path, quotable(key ?: ""),
                                    d->name);
                        continue;
                }
                r = domain_set_feature(d, key, value);
        }
        sqlite3_reset(st);
        if (r < 0)
                return r;
        return rc == SQLITE_DONE ? 0 : store_errno(s, rc, "reading features");
}

/* A domain left without a label (its stored one was refused) is shown red:
 * the color of least trust, until the user picks one. */
static int fill_required(struct store *s, struct domain_set *set) {
        for (size_t i = 0; i < set->n_domains; i++) {
                struct domain *d = set->domains[i];
                int r;

                if (d->values[PROP_ID_LABEL])
                        continue;
                log_warning("%s: domain %s has no valid label; using red", s->path, d->name);
                r = domain_set_value(d, PROP(LABEL), "red");
                if (r < 0)
                        return r;
        }
        return 0;
}

int store_load(struct store *s, struct domain_set **ret) {
        struct domain_set *set;
        int r;

        if (!s || !ret)
                return -EINVAL;
        set = domain_set_new();
        if (!set)
                return -ENOMEM;
        /* One read transaction: a consistent snapshot. */
        r = sqlite3_exec(s->db, "BEGIN", NULL, NULL, NULL) == SQLITE_OK ? 0 : store_errno(s, sqlite3_errcode(s->db), "starting a read");
        if (r >= 0)
                r = load_domains(s, set);
        if (r >= 0)
                r = load_values(s, set);
        if (r >= 0)
                r = load_tags(s, set);
        if (r >= 0)
                r = load_features(s, set);
        if (!sqlite3_get_autocommit(s->db))
                sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
        if (r >= 0)
                r = fill_required(s, set);
        if (r < 0) {
                domain_set_free(set);
                return r;
        }
        *ret = set;
        return 0;
}
