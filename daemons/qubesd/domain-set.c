/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The set of all domains (sorted by name) and the global properties: lookup,
 * qid allocation, creation, and removal guarded by the reference check, so a
 * template, netvm or disposable template in use can never dangle.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain-internal.h"
#include "property-internal.h"

struct domain_set *domain_set_new(void) {
        struct domain_set *set = calloc(1, sizeof(*set));
        struct domain *dom0;

        if (!set)
                return NULL;
        set->globals = calloc(prop_table_size, sizeof(char *));
        dom0 = domain_alloc("dom0", DOMAIN_ADMINVM);
        if (!set->globals || !dom0)
                goto fail;
        strcpy(dom0->uuid, "00000000-0000-0000-0000-000000000000");
        dom0->qid = 0;
        dom0->state = POWER_RUNNING;
        if (domain_set_value(dom0, PROP(LABEL), "black") < 0 || domain_set_add(set, dom0) < 0)
                goto fail;
        return set;
fail:
        domain_free(dom0);
        domain_set_free(set);
        return NULL;
}

void domain_set_free(struct domain_set *set) {
        if (!set)
                return;
        for (size_t i = 0; i < set->n_domains; i++)
                domain_free(set->domains[i]);
        free(set->domains);
        if (set->globals)
                for (size_t i = 0; i < prop_table_size; i++)
                        free(set->globals[i]);
        free(set->globals);
        free(set);
}

static size_t name_position(const struct domain_set *set, const char *name, bool *found) {
        size_t lo = 0, hi = set->n_domains;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (strcmp(set->domains[mid]->name, name) < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        *found = lo < set->n_domains && strcmp(set->domains[lo]->name, name) == 0;
        return lo;
}

struct domain *domain_set_find(const struct domain_set *set, const char *name) {
        bool found;
        size_t at;

        if (!set || !name)
                return NULL;
        at = name_position(set, name, &found);
        return found ? set->domains[at] : NULL;
}

struct domain *domain_set_find_qid(const struct domain_set *set, uint32_t qid) {
        if (!set)
                return NULL;
        for (size_t i = 0; i < set->n_domains; i++)
                if (set->domains[i]->qid == qid)
                        return set->domains[i];
        return NULL;
}

uint32_t domain_set_free_qid(const struct domain_set *set) {
        uint8_t used[(DOMAIN_QID_MAX + 8) / 8 + 1] = {};

        for (size_t i = 0; i < set->n_domains; i++) {
                uint32_t q = set->domains[i]->qid;
                if (q <= DOMAIN_QID_MAX)
                        used[q / 8] |= (uint8_t) (1u << (q % 8));
        }
        for (uint32_t q = 1; q <= DOMAIN_QID_MAX; q++)
                if (!(used[q / 8] & (1u << (q % 8))))
                        return q;
        return 0;
}

int domain_new(const struct domain_set *set, const char *name, enum domain_class klass, struct domain **ret,
               char *error, size_t error_size) {
        struct domain *d;
        uint32_t qid;
        int r;

        if (!set || !ret)
                return -EINVAL;
        if (!domain_name_valid(name, error, error_size))
                return -EINVAL;
        if (!domain_class_to_string(klass) || klass == DOMAIN_ADMINVM)
                return text_error(error, error_size, -EINVAL,
                                  "klass: must be AppVM, TemplateVM, StandaloneVM or DispVM");
        if (domain_set_find(set, name))
                return text_error(error, error_size, -EEXIST, "name: a domain named %s already exists", name);
        qid = domain_set_free_qid(set);
        if (qid == 0)
                return text_error(error, error_size, -ENOSPC, "qid: all %d domain numbers are in use", DOMAIN_QID_MAX);
        d = domain_alloc(name, klass);
        if (!d)
                return -ENOMEM;
        d->qid = qid;
        r = uuid_generate(d->uuid);
        if (r < 0) {
                domain_free(d);
                return text_error(error, error_size, r, "uuid: cannot get random bytes");
        }
        *ret = d;
        return 0;
}

int domain_set_add(struct domain_set *set, struct domain *d) {
        struct domain **domains;
        bool found;
        size_t at;

        if (!set || !d)
                return -EINVAL;
        at = name_position(set, d->name, &found);
        if (found)
                return -EEXIST;
        for (size_t i = 0; i < set->n_domains; i++)
                if (set->domains[i]->qid == d->qid || strcmp(set->domains[i]->uuid, d->uuid) == 0)
                        return -EEXIST;
        domains = realloc(set->domains, (set->n_domains + 1) * sizeof(struct domain *));
        if (!domains)
                return -ENOMEM;
        memmove(domains + at + 1, domains + at, (set->n_domains - at) * sizeof(struct domain *));
        domains[at] = d;
        set->domains = domains;
        set->n_domains++;
        return 0;
}

/* Appends "what" to the comma-separated list of users. */
static void users_add(char *users, size_t size, size_t *n_users, const char *what, const char *of) {
        size_t used = strlen(users);

        if (used + 1 >= size)
                return;
        snprintf(users + used, size - used, "%s%s%s%s", *n_users > 0 ? ", " : "", what, of ? " of " : "", of ?: "");
        (*n_users)++;
}

int domain_set_remove(struct domain_set *set, struct domain *d, char *error, size_t error_size) {
        char users[512] = "", global[64];
        size_t n_users = 0;
        bool found;
        size_t at;

        if (!set || !d)
                return -EINVAL;
        at = name_position(set, d->name, &found);
        if (!found || set->domains[at] != d)
                return text_error(error, error_size, -ENOENT, "%s: no such domain", d->name);
        if (d->klass == DOMAIN_ADMINVM)
                return text_error(error, error_size, -EPERM, "%s: the AdminVM cannot be removed", d->name);

        /* Every DOMAIN property naming d, set on another domain or globally.
         * (Defaults only ever name a domain through a global, or through a
         * template, which is itself set.) */
        for (size_t p = 0; p < prop_table_size; p++) {
                const struct prop_def *prop = &prop_table[p];

                if (prop->type != PROP_DOMAIN)
                        continue;
                if (prop->flags & PROP_GLOBAL) {
                        if (set->globals[p] && strcmp(set->globals[p], d->name) == 0) {
                                snprintf(global, sizeof(global), "the global %s", prop->name);
                                users_add(users, sizeof(users), &n_users, global, NULL);
                        }
                        continue;
                }
                for (size_t i = 0; i < set->n_domains; i++) {
                        const char *v = set->domains[i]->values[p];

                        if (set->domains[i] != d && v && strcmp(v, d->name) == 0)
                                users_add(users, sizeof(users), &n_users, prop->name, set->domains[i]->name);
                }
        }
        if (n_users > 0)
                return text_error(error, error_size, -EBUSY, "%s: still in use as %s", d->name, users);

        memmove(set->domains + at, set->domains + at + 1, (set->n_domains - at - 1) * sizeof(struct domain *));
        set->n_domains--;
        return 0;
}

int domain_set_global(struct domain_set *set, const struct prop_def *p, const char *value) {
        char *copy = NULL;

        if (!set || !p || !(p->flags & PROP_GLOBAL))
                return -EINVAL;
        if (value) {
                copy = strdup(value);
                if (!copy)
                        return -ENOMEM;
        }
        free(set->globals[prop_index(p)]);
        set->globals[prop_index(p)] = copy;
        return 0;
}
