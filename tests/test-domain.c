/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * qubesd's domains and domain set (domain.c, domain-set.c): dom0, class and
 * state names, creation (qid, uuid, name rule), the sorted set, removal
 * refused while referenced (with who in the message), tags and features.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model-helpers.h"

START_TEST(test_dom0) {
        _cleanup_set_ struct domain_set *set = domain_set_new();
        struct domain *dom0;

        ck_assert_ptr_nonnull(set);
        ck_assert_uint_eq(set->n_domains, 1);
        dom0 = domain_set_find(set, "dom0");
        ck_assert_ptr_nonnull(dom0);
        ck_assert_ptr_eq(domain_set_find_qid(set, 0), dom0);
        ck_assert_int_eq(dom0->klass, DOMAIN_ADMINVM);
        ck_assert_uint_eq(dom0->qid, 0);
        ck_assert_str_eq(dom0->uuid, "00000000-0000-0000-0000-000000000000");
        ck_assert_str_eq(model_get(set, dom0, "label"), "black");
        ck_assert_str_eq(model_get(set, dom0, "klass"), "AdminVM");
        ck_assert_str_eq(model_get(set, dom0, "qid"), "0");
        ck_assert_str_eq(power_state_to_string(dom0->state), "Running");
        ck_assert_ptr_null(domain_set_find(set, "work"));
        ck_assert_ptr_null(domain_set_find_qid(set, 1));
        ck_assert_uint_eq(domain_set_free_qid(set), 1);

        /* dom0 cannot be removed, nor a second AdminVM created. */
        char error[256];
        ck_assert_int_eq(domain_set_remove(set, dom0, error, sizeof(error)), -EPERM);
        ck_assert_ptr_nonnull(strstr(error, "cannot be removed"));
        struct domain *d = NULL;
        ck_assert_int_eq(domain_new(set, "admin2", DOMAIN_ADMINVM, &d, error, sizeof(error)), -EINVAL);
        ck_assert_ptr_nonnull(strstr(error, "klass: "));
        ck_assert_ptr_null(d);
}
END_TEST

START_TEST(test_names) {
        static const char *const classes[] = { "AdminVM", "TemplateVM", "AppVM", "StandaloneVM", "DispVM" };
        static const char *const states[] = { "Halted", "Transient", "Running", "Paused", "Halting", "Dying",
                                              "Crashed" };

        for (int c = 0; c < _DOMAIN_CLASS_MAX; c++) {
                ck_assert_str_eq(domain_class_to_string((enum domain_class) c), classes[c]);
                ck_assert_int_eq(domain_class_from_string(classes[c]), c);
        }
        ck_assert_int_eq(domain_class_from_string("appvm"), _DOMAIN_CLASS_INVALID);
        ck_assert_int_eq(domain_class_from_string(""), _DOMAIN_CLASS_INVALID);
        ck_assert_int_eq(domain_class_from_string(NULL), _DOMAIN_CLASS_INVALID);
        ck_assert_ptr_null(domain_class_to_string(_DOMAIN_CLASS_MAX));
        ck_assert_ptr_null(domain_class_to_string(_DOMAIN_CLASS_INVALID));
        for (int s = 0; s < _POWER_STATE_MAX; s++)
                ck_assert_str_eq(power_state_to_string((enum power_state) s), states[s]);
        ck_assert_ptr_null(power_state_to_string(_POWER_STATE_MAX));
}
END_TEST

static bool uuid_v4(const char *u) {
        if (strlen(u) != 36 || u[14] != '4' || !strchr("89ab", u[19]))
                return false;
        for (size_t i = 0; i < 36; i++)
                if (i == 8 || i == 13 || i == 18 || i == 23 ? u[i] != '-' : !strchr("0123456789abcdef", u[i]))
                        return false;
        return true;
}

/* A fresh uuid for a domain, as domain_new gives. */
static int uuid_generate_check(struct domain *d) {
        struct domain_set *tmp = domain_set_new();
        struct domain *fresh = NULL;
        char error[256];
        int r = domain_new(tmp, "tmp", DOMAIN_STANDALONEVM, &fresh, error, sizeof(error));

        if (r == 0)
                strcpy(d->uuid, fresh->uuid);
        domain_free(fresh);
        domain_set_free(tmp);
        return r;
}

START_TEST(test_create) {
        _cleanup_set_ struct domain_set *set = domain_set_new();
        static const char *const names[] = { "zeta", "alpha", "Mid", "beta.2", "beta", "beta-1", "x" };
        char error[256];
        struct domain *d = NULL;

        model_add(set, "debian", DOMAIN_TEMPLATEVM, "label", "black", NULL);
        model_set(set, NULL, "default_template", "debian");
        for (size_t i = 0; i < sizeof(names) / sizeof(*names); i++) {
                d = model_add(set, names[i], DOMAIN_APPVM, "label", "red", NULL);
                ck_assert_uint_eq(d->qid, i + 2);
                ck_assert_msg(uuid_v4(d->uuid), "not a v4 uuid: %s", d->uuid);
                ck_assert_int_eq(d->state, POWER_HALTED);
                ck_assert_ptr_eq(domain_set_find_qid(set, d->qid), d);
        }
        /* Sorted by name (byte order), every uuid different. */
        for (size_t i = 1; i < set->n_domains; i++) {
                ck_assert_int_lt(strcmp(set->domains[i - 1]->name, set->domains[i]->name), 0);
                for (size_t k = 0; k < i; k++)
                        ck_assert_str_ne(set->domains[i]->uuid, set->domains[k]->uuid);
        }
        ck_assert_str_eq(set->domains[0]->name, "Mid");

        /* Bad names, taken names, bad classes. */
        ck_assert_int_eq(domain_new(set, "1abc", DOMAIN_APPVM, &d, error, sizeof(error)), -EINVAL);
        ck_assert_ptr_nonnull(strstr(error, "name: must start with a letter"));
        ck_assert_int_eq(domain_new(set, "dom0", DOMAIN_APPVM, &d, error, sizeof(error)), -EINVAL);
        ck_assert_int_eq(domain_new(set, "beta", DOMAIN_APPVM, &d, error, sizeof(error)), -EEXIST);
        ck_assert_ptr_nonnull(strstr(error, "already exists"));
        ck_assert_int_eq(domain_new(set, "ok", (enum domain_class) 42, &d, error, sizeof(error)), -EINVAL);

        /* A freed qid is reused, lowest first; add refuses duplicates. */
        struct domain *beta = domain_set_find(set, "beta");
        uint32_t beta_qid = beta->qid;
        ck_assert_int_eq(domain_set_remove(set, beta, error, sizeof(error)), 0);
        ck_assert_ptr_null(domain_set_find(set, "beta"));
        ck_assert_uint_eq(domain_set_free_qid(set), beta_qid);
        ck_assert_int_eq(domain_set_remove(set, beta, error, sizeof(error)), -ENOENT);
        struct domain *clash = NULL;
        ck_assert_int_eq(domain_new(set, "beta", DOMAIN_STANDALONEVM, &clash, error, sizeof(error)), 0);
        ck_assert_uint_eq(clash->qid, beta_qid);
        ck_assert_int_eq(domain_set_add(set, beta), 0);        /* back in */
        ck_assert_int_eq(domain_set_add(set, clash), -EEXIST); /* same name */
        ck_assert_int_eq(domain_set_remove(set, beta, error, sizeof(error)), 0);
        domain_free(beta);
        strcpy(clash->uuid, domain_set_find(set, "zeta")->uuid);
        ck_assert_int_eq(domain_set_add(set, clash), -EEXIST); /* same uuid */
        ck_assert_int_eq(uuid_generate_check(clash), 0);
        clash->qid = domain_set_find(set, "zeta")->qid;
        ck_assert_int_eq(domain_set_add(set, clash), -EEXIST); /* same qid */
        domain_free(clash);
}
END_TEST

START_TEST(test_qid_exhaustion) {
        /* domain_set_free_qid only reads qids: a set of 9999 bare domains. */
        static struct domain domains[DOMAIN_QID_MAX];
        static struct domain *pointers[DOMAIN_QID_MAX];
        struct domain_set set = { .domains = pointers, .n_domains = DOMAIN_QID_MAX };

        for (uint32_t i = 0; i < DOMAIN_QID_MAX; i++) {
                domains[i].qid = i;     /* 0..9998 */
                pointers[i] = &domains[i];
        }
        ck_assert_uint_eq(domain_set_free_qid(&set), DOMAIN_QID_MAX);
        domains[0].qid = DOMAIN_QID_MAX;   /* now 1..9999 */
        ck_assert_uint_eq(domain_set_free_qid(&set), 0);
        domains[500].qid = 0;
        ck_assert_uint_eq(domain_set_free_qid(&set), 500);
}
END_TEST

START_TEST(test_remove_references) {
        _cleanup_set_ struct domain_set *set = model_typical();
        struct domain *debian = domain_set_find(set, "debian"), *fw = domain_set_find(set, "sys-firewall");
        struct domain *net = domain_set_find(set, "sys-net"), *dvm = domain_set_find(set, "dvm");
        struct domain *work = domain_set_find(set, "work"), *disp1 = domain_set_find(set, "disp1");
        char error[512];

        /* The template named by the global default_template and by nobody else. */
        ck_assert_int_eq(domain_set_remove(set, debian, error, sizeof(error)), -EBUSY);
        ck_assert_str_eq(error, "debian: still in use as the global default_template");

        /* sys-net: netvm of sys-firewall, and default_dispvm of work once set. */
        model_set(set, work, "default_dispvm", "dvm");
        ck_assert_int_eq(domain_set_remove(set, net, error, sizeof(error)), -EBUSY);
        ck_assert_str_eq(error, "sys-net: still in use as netvm of sys-firewall");
        ck_assert_int_eq(domain_set_remove(set, fw, error, sizeof(error)), -EBUSY);
        ck_assert_str_eq(error, "sys-firewall: still in use as the global default_netvm");
        ck_assert_int_eq(domain_set_remove(set, dvm, error, sizeof(error)), -EBUSY);
        ck_assert_msg(strstr(error, "default_dispvm of work") && strstr(error, "the global default_dispvm"), "%s",
                      error);
        model_set(set, disp1, "template", "dvm");
        ck_assert_int_eq(domain_set_remove(set, dvm, error, sizeof(error)), -EBUSY);
        ck_assert_msg(strstr(error, "template of disp1"), "%s", error);
        ck_assert_uint_eq(set->n_domains, 7);

        /* A domain that references others but is not referenced goes. */
        ck_assert_int_eq(domain_set_remove(set, disp1, error, sizeof(error)), 0);
        domain_free(disp1);
        model_reset(set, work, "default_dispvm");
        model_set(set, NULL, "default_dispvm", "");
        ck_assert_int_eq(domain_set_remove(set, dvm, error, sizeof(error)), 0);
        domain_free(dvm);

        /* A self-reference does not block (a disposable template's own default_dispvm). */
        struct domain *dvm2 = model_add(set, "dvm2", DOMAIN_APPVM, "label", "red", "template_for_dispvms", "True",
                                        NULL);
        model_set(set, dvm2, "default_dispvm", "dvm2");
        ck_assert_int_eq(domain_set_remove(set, dvm2, error, sizeof(error)), 0);
        domain_free(dvm2);

        /* Clearing the references frees sys-firewall. */
        model_set(set, NULL, "default_netvm", "sys-net");
        ck_assert_int_eq(domain_set_remove(set, fw, error, sizeof(error)), 0);
        domain_free(fw);
        ck_assert_ptr_null(domain_set_find(set, "sys-firewall"));
        ck_assert_uint_eq(set->n_domains, 4);
}
END_TEST

START_TEST(test_values) {
        _cleanup_set_ struct domain_set *set = model_typical();
        struct domain *work = domain_set_find(set, "work");

        ck_assert_int_eq(domain_set_value(work, prop_find("qid", false), "5"), -EPERM);
        ck_assert_int_eq(domain_set_value(work, prop_find("ip", false), "1.2.3.4"), -EPERM);
        ck_assert_int_eq(domain_set_value(work, prop_find("klass", false), "TemplateVM"), -EPERM);
        ck_assert_int_eq(domain_set_value(work, prop_find("name", false), "other"), -EPERM);
        ck_assert_int_eq(domain_set_value(work, prop_find("default_netvm", true), "sys-net"), -EINVAL);
        ck_assert_int_eq(domain_set_global(set, prop_find("memory", false), "400"), -EINVAL);
        ck_assert_int_eq(domain_set_value(work, prop_find("memory", false), "800"), 0);
        ck_assert_str_eq(model_get(set, work, "memory"), "800");
        ck_assert_int_eq(domain_set_value(work, prop_find("memory", false), NULL), 0);
        ck_assert_str_eq(model_get(set, work, "memory"), "400");
        ck_assert(model_is_default(set, work, "memory"));
}
END_TEST

START_TEST(test_tags) {
        _cleanup_set_ struct domain_set *set = model_typical();
        struct domain *work = domain_set_find(set, "work");
        char longest[TAG_MAX + 2];

        memset(longest, 't', TAG_MAX);
        longest[TAG_MAX] = '\0';
        ck_assert_int_eq(domain_add_tag(work, "zz-top"), 0);
        ck_assert_int_eq(domain_add_tag(work, "created-by-dom0"), 0);
        ck_assert_int_eq(domain_add_tag(work, "A_1"), 0);
        ck_assert_int_eq(domain_add_tag(work, longest), 0);
        ck_assert_int_eq(domain_add_tag(work, "created-by-dom0"), 0);    /* already there */
        ck_assert_uint_eq(work->n_tags, 4);
        ck_assert_str_eq(work->tags[0], "A_1");
        ck_assert_str_eq(work->tags[1], "created-by-dom0");
        ck_assert_str_eq(work->tags[2], longest);
        ck_assert_str_eq(work->tags[3], "zz-top");
        ck_assert(domain_has_tag(work, "zz-top"));
        ck_assert(!domain_has_tag(work, "zz"));

        longest[TAG_MAX] = 't';
        longest[TAG_MAX + 1] = '\0';
        static const char *const bad[] = { "", "a b", "a.b", "a/b", "a:b", "tag\n", "t\xc3\xa9" };
        for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
                ck_assert_msg(!tag_valid(bad[i]), "'%s' accepted", bad[i]);
                ck_assert_int_eq(domain_add_tag(work, bad[i]), -EINVAL);
        }
        ck_assert(!tag_valid(longest));
        ck_assert_int_eq(domain_add_tag(work, longest), -EINVAL);
        ck_assert(!tag_valid(NULL));
        ck_assert_uint_eq(work->n_tags, 4);

        ck_assert_int_eq(domain_remove_tag(work, "created-by-dom0"), 0);
        ck_assert_int_eq(domain_remove_tag(work, "created-by-dom0"), -ENOENT);
        ck_assert_uint_eq(work->n_tags, 3);
        ck_assert_str_eq(work->tags[0], "A_1");
        longest[TAG_MAX] = '\0';
        ck_assert_str_eq(work->tags[1], longest);
        ck_assert_str_eq(work->tags[2], "zz-top");
}
END_TEST

START_TEST(test_features) {
        _cleanup_set_ struct domain_set *set = model_typical();
        struct domain *work = domain_set_find(set, "work");
        char key[FEATURE_KEY_MAX + 2], value[FEATURE_VALUE_MAX + 2];

        ck_assert_int_eq(domain_set_feature(work, "service.cups", "1"), 0);
        ck_assert_int_eq(domain_set_feature(work, "gui", ""), 0);
        ck_assert_int_eq(domain_set_feature(work, "os-distribution", "debian"), 0);
        ck_assert_int_eq(domain_set_feature(work, "prohibit-start", "Ünïcode reason, spaces: fine"), 0);
        ck_assert_uint_eq(work->n_features, 4);
        ck_assert_str_eq(work->features[0].key, "gui");
        ck_assert_str_eq(work->features[1].key, "os-distribution");
        ck_assert_str_eq(work->features[2].key, "prohibit-start");
        ck_assert_str_eq(work->features[3].key, "service.cups");
        ck_assert_str_eq(domain_get_feature(work, "gui"), "");
        ck_assert_str_eq(domain_get_feature(work, "service.cups"), "1");
        ck_assert_ptr_null(domain_get_feature(work, "service"));

        /* Overwrite keeps one entry. */
        ck_assert_int_eq(domain_set_feature(work, "service.cups", "0"), 0);
        ck_assert_uint_eq(work->n_features, 4);
        ck_assert_str_eq(domain_get_feature(work, "service.cups"), "0");

        /* Key rules. */
        memset(key, 'k', FEATURE_KEY_MAX);
        key[FEATURE_KEY_MAX] = '\0';
        ck_assert_int_eq(domain_set_feature(work, key, "x"), 0);
        key[FEATURE_KEY_MAX] = 'k';
        key[FEATURE_KEY_MAX + 1] = '\0';
        ck_assert_int_eq(domain_set_feature(work, key, "x"), -EINVAL);
        static const char *const bad_keys[] = { "", "a b", "a/b", "a:b", "a\nb", "k\xc3\xa9" };
        for (size_t i = 0; i < sizeof(bad_keys) / sizeof(*bad_keys); i++)
                ck_assert_int_eq(domain_set_feature(work, bad_keys[i], "x"), -EINVAL);

        /* Value rules: printable UTF-8, at most 1024 bytes. */
        memset(value, 'v', FEATURE_VALUE_MAX);
        value[FEATURE_VALUE_MAX] = '\0';
        ck_assert_int_eq(domain_set_feature(work, "big", value), 0);
        value[FEATURE_VALUE_MAX] = 'v';
        value[FEATURE_VALUE_MAX + 1] = '\0';
        ck_assert_int_eq(domain_set_feature(work, "big", value), -EINVAL);
        static const char *const bad_values[] = { "line\nbreak", "tab\there", "esc\x1b[31m", "\xff\xfe", "\xc2\x9b" };
        for (size_t i = 0; i < sizeof(bad_values) / sizeof(*bad_values); i++) {
                ck_assert(!feature_value_valid(bad_values[i]));
                ck_assert_int_eq(domain_set_feature(work, "x", bad_values[i]), -EINVAL);
        }
        ck_assert_int_eq(domain_set_feature(work, "x", NULL), -EINVAL);
        ck_assert_uint_eq(strlen(domain_get_feature(work, "big")), FEATURE_VALUE_MAX);
        ck_assert_uint_eq(work->n_features, 6);

        ck_assert_int_eq(domain_remove_feature(work, "gui"), 0);
        ck_assert_int_eq(domain_remove_feature(work, "gui"), -ENOENT);
        ck_assert_ptr_null(domain_get_feature(work, "gui"));
        ck_assert_uint_eq(work->n_features, 5);
        ck_assert_str_eq(work->features[0].key, "big");
}
END_TEST

int main(void) {
        Suite *s = suite_create("domain");
        TCase *tc = tcase_create("domain");

        tcase_add_test(tc, test_dom0);
        tcase_add_test(tc, test_names);
        tcase_add_test(tc, test_create);
        tcase_add_test(tc, test_qid_exhaustion);
        tcase_add_test(tc, test_remove_references);
        tcase_add_test(tc, test_values);
        tcase_add_test(tc, test_tags);
        tcase_add_test(tc, test_features);
        suite_add_tcase(s, tc);

        SRunner *sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
