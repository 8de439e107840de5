/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Rules by service, so that evaluating a request only visits its service's
 * rules and the "*" ones, whatever else the policy holds. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "policy-internal.h"

void policy_index_done(Policy *p) {
        for (size_t i = 0; i < p->n_services; i++)
                free(p->services[i].rules);
        free(p->services);
        free(p->wildcard_rules);
        p->services = NULL;
        p->wildcard_rules = NULL;
        p->n_services = p->n_wildcard_rules = 0;
        p->indexed = false;
}

static int compare_rule_services(const void *a, const void *b, void *userdata) {
        const Policy *p = userdata;
        size_t ia = *(const size_t *) a, ib = *(const size_t *) b;
        int c = strcmp(p->rules[ia].service, p->rules[ib].service);
        return c ? c : (ia < ib ? -1 : ia > ib);
}

static int compare_index(const void *key, const void *entry) {
        return strcmp(key, ((const PolicyServiceIndex *) entry)->service);
}

int policy_index(Policy *p) {
        _cleanup_free_ size_t *order = NULL;
        size_t n_specific = 0;

        policy_index_done(p);
        order = malloc((p->n_rules + 1) * sizeof(size_t));
        p->wildcard_rules = malloc((p->n_rules + 1) * sizeof(size_t));
        p->services = calloc(p->n_rules + 1, sizeof(PolicyServiceIndex));
        if (!order || !p->wildcard_rules || !p->services) {
                policy_index_done(p);
                return -ENOMEM;
        }
        for (size_t i = 0; i < p->n_rules; i++) {
                if (p->rules[i].service)
                        order[n_specific++] = i;
                else
                        p->wildcard_rules[p->n_wildcard_rules++] = i;
        }
        /* Stable by rule number within a service: the lists stay in order. */
        qsort_r(order, n_specific, sizeof(size_t), compare_rule_services, p);
        for (size_t i = 0; i < n_specific;) {
                size_t j = i;
                while (j < n_specific && strcmp(p->rules[order[j]].service, p->rules[order[i]].service) == 0)
                        j++;
                PolicyServiceIndex *e = &p->services[p->n_services];
                e->service = p->rules[order[i]].service;
                e->rules = malloc((j - i) * sizeof(size_t));
                if (!e->rules) {
                        policy_index_done(p);
                        return -ENOMEM;
                }
                memcpy(e->rules, order + i, (j - i) * sizeof(size_t));
                e->n_rules = j - i;
                p->n_services++;
                i = j;
        }
        p->indexed = true;
        return 0;
}

void policy_rules_for_service(const Policy *p, const char *service, PolicyRuleCursor *c) {
        const PolicyServiceIndex *e = NULL;

        *c = (PolicyRuleCursor) { .a = p->wildcard_rules, .n_a = p->n_wildcard_rules };
        if (p->n_services)
                e = bsearch(service, p->services, p->n_services, sizeof(PolicyServiceIndex), compare_index);
        if (e) {
                c->b = e->rules;
                c->n_b = e->n_rules;
        }
}

/* Merge the two ascending lists: global rule order is preserved. */
const PolicyRule *policy_rule_next(const Policy *p, PolicyRuleCursor *c) {
        size_t next;

        if (c->i_a < c->n_a && (c->i_b >= c->n_b || c->a[c->i_a] < c->b[c->i_b]))
                next = c->a[c->i_a++];
        else if (c->i_b < c->n_b)
                next = c->b[c->i_b++];
        else
                return NULL;
        return &p->rules[next];
}
