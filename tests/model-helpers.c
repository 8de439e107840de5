/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "model-helpers.h"

int model_try(struct domain_set *set, struct domain *d, const char *prop, const char *value, char *error) {
        const struct prop_def *p = prop_find(prop, d == NULL);
        char out[PROP_VALUE_MAX];
        int r;

        ck_assert_msg(p, "no property %s", prop);
        r = prop_check(set, d, p, value, out, sizeof(out), error, 512);
        if (r < 0)
                return r;
        ck_assert_int_eq(d ? domain_set_value(d, p, out) : domain_set_global(set, p, out), 0);
        return r;
}

void model_set(struct domain_set *set, struct domain *d, const char *prop, const char *value) {
        char error[512] = "";
        int r = model_try(set, d, prop, value, error);

        ck_assert_msg(r == 0, "setting %s of %s to '%s': %d %s", prop, d ? d->name : "(global)", value, r, error);
}

int model_try_reset(struct domain_set *set, struct domain *d, const char *prop, char *error) {
        const struct prop_def *p = prop_find(prop, d == NULL);
        int r;

        ck_assert_msg(p, "no property %s", prop);
        r = prop_check_reset(set, d, p, error, 512);
        if (r < 0)
                return r;
        ck_assert_int_eq(d ? domain_set_value(d, p, NULL) : domain_set_global(set, p, NULL), 0);
        return 0;
}

void model_reset(struct domain_set *set, struct domain *d, const char *prop) {
        char error[512] = "";
        int r = model_try_reset(set, d, prop, error);

        ck_assert_msg(r == 0, "resetting %s of %s: %d %s", prop, d ? d->name : "(global)", r, error);
}

struct domain *model_add(struct domain_set *set, const char *name, enum domain_class klass, ...) {
        struct domain *d = NULL;
        char error[512] = "";
        va_list ap;
        int r;

        r = domain_new(set, name, klass, &d, error, sizeof(error));
        ck_assert_msg(r == 0, "domain_new(%s): %d %s", name, r, error);
        va_start(ap, klass);
        for (;;) {
                const char *prop = va_arg(ap, const char *), *value;
                if (!prop)
                        break;
                value = va_arg(ap, const char *);
                model_set(set, d, prop, value);
        }
        va_end(ap);
        r = prop_check_complete(set, d, error, sizeof(error));
        ck_assert_msg(r == 0, "%s incomplete: %s", name, error);
        ck_assert_int_eq(domain_set_add(set, d), 0);
        return d;
}

const char *model_get(const struct domain_set *set, const struct domain *d, const char *prop) {
        static char ring[8][PROP_VALUE_MAX];
        static unsigned next;
        const struct prop_def *p = prop_find(prop, d == NULL);
        char *buf = ring[next++ % 8];

        ck_assert_msg(p, "no property %s", prop);
        ck_assert_int_eq(prop_get(set, d, p, buf, PROP_VALUE_MAX, NULL), 0);
        return buf;
}

bool model_is_default(const struct domain_set *set, const struct domain *d, const char *prop) {
        const struct prop_def *p = prop_find(prop, d == NULL);
        char buf[PROP_VALUE_MAX];
        bool is_default = false;

        ck_assert_ptr_nonnull(p);
        ck_assert_int_eq(prop_get(set, d, p, buf, sizeof(buf), &is_default), 0);
        return is_default;
}

struct domain_set *model_typical(void) {
        struct domain_set *set = domain_set_new();

        ck_assert_ptr_nonnull(set);
        model_add(set, "debian", DOMAIN_TEMPLATEVM, "label", "black", NULL);
        model_set(set, NULL, "default_template", "debian");
        model_add(set, "sys-net", DOMAIN_APPVM, "label", "red", "provides_network", "True", "netvm", "", NULL);
        model_add(set, "sys-firewall", DOMAIN_APPVM, "label", "green", "provides_network", "True", "netvm", "sys-net",
                  NULL);
        model_set(set, NULL, "default_netvm", "sys-firewall");
        model_add(set, "work", DOMAIN_APPVM, "label", "blue", NULL);
        model_add(set, "dvm", DOMAIN_APPVM, "label", "red", "template_for_dispvms", "True", NULL);
        model_set(set, NULL, "default_dispvm", "dvm");
        model_add(set, "disp1", DOMAIN_DISPVM, "label", "red", NULL);
        return set;
}

void model_assert_equal(const struct domain_set *a, const struct domain_set *b) {
        ck_assert_uint_eq(a->n_domains, b->n_domains);
        for (size_t p = 0; p < prop_table_size; p++)
                if (prop_table[p].flags & PROP_GLOBAL)
                        ck_assert_pstr_eq(a->globals[p], b->globals[p]);
        for (size_t i = 0; i < a->n_domains; i++) {
                const struct domain *x = a->domains[i], *y = b->domains[i];

                ck_assert_str_eq(x->name, y->name);
                ck_assert_uint_eq(x->qid, y->qid);
                ck_assert_str_eq(x->uuid, y->uuid);
                ck_assert_int_eq(x->klass, y->klass);
                for (size_t p = 0; p < prop_table_size; p++)
                        ck_assert_msg((!x->values[p] && !y->values[p]) ||
                                      (x->values[p] && y->values[p] && strcmp(x->values[p], y->values[p]) == 0),
                                      "%s of %s: '%s' != '%s'", prop_table[p].name, x->name, x->values[p] ?: "(unset)",
                                      y->values[p] ?: "(unset)");
                ck_assert_uint_eq(x->n_tags, y->n_tags);
                for (size_t t = 0; t < x->n_tags; t++)
                        ck_assert_str_eq(x->tags[t], y->tags[t]);
                ck_assert_uint_eq(x->n_features, y->n_features);
                for (size_t f = 0; f < x->n_features; f++) {
                        ck_assert_str_eq(x->features[f].key, y->features[f].key);
                        ck_assert_str_eq(x->features[f].value, y->features[f].value);
                }
        }
}
