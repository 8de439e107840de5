/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Building domain sets for the model's tests (test-property, test-domain, test-store). */
#pragma once

#include "domain.h"
#include "property.h"

/* Create a domain of class klass and add it to set, then set each
 * "prop", "value" pair (NULL-terminated), asserting that every step passes. */
struct domain *model_add(struct domain_set *set, const char *name, enum domain_class klass, ...);

/* prop_check then domain_set_value (domain) or domain_set_global (d NULL);
 * returns prop_check's result, with its message in error (at least 512 bytes). */
int model_try(struct domain_set *set, struct domain *d, const char *prop, const char *value, char *error);
/* The same, asserting success. */
void model_set(struct domain_set *set, struct domain *d, const char *prop, const char *value);
/* Back to the default, through prop_check_reset (model_reset asserts it passes). */
int model_try_reset(struct domain_set *set, struct domain *d, const char *prop, char *error);
void model_reset(struct domain_set *set, struct domain *d, const char *prop);

static inline void domain_set_freep(struct domain_set **set) {
        domain_set_free(*set);
}
#define _cleanup_set_ __attribute__((cleanup(domain_set_freep)))

/* Effective value (a rotating static buffer: up to 8 results alive at once). */
const char *model_get(const struct domain_set *set, const struct domain *d, const char *prop);
bool model_is_default(const struct domain_set *set, const struct domain *d, const char *prop);

/* A typical system: TemplateVM debian, sys-net (networking), sys-firewall
 * (netvm sys-net, networking), work (AppVM, blue), dvm (disposable
 * template), disp1 (DispVM of dvm); globals default_template=debian,
 * default_netvm=sys-firewall, default_dispvm=dvm. */
struct domain_set *model_typical(void);

/* Assert that two sets hold the same domains, values, tags, features and globals. */
void model_assert_equal(const struct domain_set *a, const struct domain_set *b);
