/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * qubesd's property table (property.c, property-defaults.c,
 * property-validate.c, label.c): every type's checks and canonical forms,
 * every refusal with a message naming the property and the rule, defaults
 * through the template chain and the globals, network loops, class rules,
 * disposable rules, the name rule and the labels.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model-helpers.h"

/* Refused with r, and the message starts with "<prop>: " and contains rule. */
#define ASSERT_REFUSED(set, d, prop, value, r, rule)                                                      \
        do {                                                                                              \
                char _e[512] = "", _prefix[128];                                                          \
                int _r = model_try((set), (d), (prop), (value), _e);                                      \
                ck_assert_msg(_r == (r), "%s='%s': got %d (%s), wanted %d", (prop), (value), _r, _e, (r)); \
                snprintf(_prefix, sizeof(_prefix), "%s: ", (prop));                                       \
                ck_assert_msg(strncmp(_e, _prefix, strlen(_prefix)) == 0, "message '%s' does not name %s", \
                              _e, (prop));                                                                \
                ck_assert_msg(strstr(_e, (rule)), "message '%s' lacks '%s'", _e, (rule));                 \
        } while (0)

#define ASSERT_RESET_REFUSED(set, d, prop, r, rule)                                                       \
        do {                                                                                              \
                char _e[512] = "";                                                                        \
                int _r = model_try_reset((set), (d), (prop), _e);                                         \
                ck_assert_msg(_r == (r), "reset %s: got %d (%s), wanted %d", (prop), _r, _e, (r));         \
                ck_assert_msg(strncmp(_e, (prop), strlen(prop)) == 0 && strstr(_e, (rule)),               \
                              "message '%s' lacks '%s'", _e, (rule));                                      \
        } while (0)

START_TEST(test_table) {
        size_t globals = 0;
        static const char *const domain_props[] = {
                "name", "qid", "uuid", "klass", "label", "template", "netvm", "provides_network", "default_dispvm",
                "template_for_dispvms", "backend", "memory", "maxmem", "vcpus", "virt_mode", "kernel", "ip", "mac",
                "autostart", "default_user", "include_in_backups", "debug", "qrexec_timeout", "shutdown_timeout",
        };
        static const char *const global_props[] = {
                "default_netvm", "default_template", "default_dispvm", "default_kernel", "default_backend",
                "default_qrexec_timeout", "default_shutdown_timeout",
        };

        for (size_t i = 0; i < sizeof(domain_props) / sizeof(*domain_props); i++) {
                const struct prop_def *p = prop_find(domain_props[i], false);
                ck_assert_msg(p, "missing %s", domain_props[i]);
                ck_assert(!(p->flags & PROP_GLOBAL));
                ck_assert_ptr_eq(&prop_table[prop_index(p)], p);
        }
        for (size_t i = 0; i < sizeof(global_props) / sizeof(*global_props); i++) {
                const struct prop_def *p = prop_find(global_props[i], true);
                ck_assert_msg(p, "missing global %s", global_props[i]);
                ck_assert(p->flags & PROP_GLOBAL);
        }
        /* default_dispvm exists twice: the domain's and the global one. */
        ck_assert_ptr_ne(prop_find("default_dispvm", false), prop_find("default_dispvm", true));
        ck_assert_ptr_null(prop_find("memory", true));
        ck_assert_ptr_null(prop_find("default_netvm", false));
        ck_assert_ptr_null(prop_find("nonsense", false));
        ck_assert_ptr_null(prop_find(NULL, false));
        ck_assert_str_eq(prop_type_to_string(PROP_DOMAIN), "domain");
        ck_assert_str_eq(prop_type_to_string(prop_find("memory", false)->type), "int");
        ck_assert_ptr_null(prop_type_to_string((enum prop_type) 99));

        /* Domain properties first, then globals; every one documented. */
        for (size_t i = 0; i < prop_table_size; i++) {
                ck_assert_ptr_nonnull(prop_table[i].doc);
                ck_assert_uint_gt(strlen(prop_table[i].doc), 5);
                if (prop_table[i].flags & PROP_GLOBAL)
                        globals++;
                else
                        ck_assert_uint_eq(globals, 0);
                if (prop_table[i].type == PROP_ENUM)
                        ck_assert_ptr_nonnull(prop_table[i].choices);
        }
        ck_assert_uint_eq(globals, sizeof(global_props) / sizeof(*global_props));
        ck_assert(prop_find("label", false)->flags & PROP_REQUIRED);
        ck_assert(prop_find("netvm", false)->flags & PROP_NULLABLE);
        ck_assert(!(prop_find("template", false)->flags & PROP_NULLABLE));
        ck_assert(prop_find("qid", false)->flags & PROP_READ_ONLY);
        ck_assert(prop_find("name", false)->flags & PROP_WRITE_ONCE);
        ck_assert(prop_find("uuid", false)->flags & PROP_WRITE_ONCE);
        ck_assert(prop_find("ip", false)->flags & PROP_READ_ONLY);
        ck_assert(prop_find("klass", false)->flags & PROP_READ_ONLY);
}
END_TEST

START_TEST(test_labels) {
        static const struct { const char *name; unsigned index; uint32_t color; } expected[] = {
                { "red", 1, 0xcc0000 },   { "orange", 2, 0xf57900 }, { "yellow", 3, 0xedd400 },
                { "green", 4, 0x73d216 }, { "gray", 5, 0x555555 },   { "blue", 6, 0x3465a4 },
                { "purple", 7, 0x75507b }, { "black", 8, 0x000000 },
        };
        _cleanup_set_ struct domain_set *set = model_typical();
        struct domain *work = domain_set_find(set, "work");

        ck_assert_uint_eq(label_table_size, 8);
        for (size_t i = 0; i < 8; i++) {
                const struct label *l = label_find(expected[i].name);
                ck_assert_ptr_nonnull(l);
                ck_assert_uint_eq(l->index, expected[i].index);
                ck_assert_uint_eq(l->color, expected[i].color);
                model_set(set, work, "label", expected[i].name);
                ck_assert_str_eq(model_get(set, work, "label"), expected[i].name);
        }
        ck_assert_ptr_null(label_find("pink"));
        ck_assert_ptr_null(label_find("Red"));
        ASSERT_REFUSED(set, work, "label", "pink", -ENOENT, "no such label 'pink'");
        ASSERT_REFUSED(set, work, "label", "", -ENOENT, "no such label");
        ASSERT_REFUSED(set, work, "label", "RED", -ENOENT, "no such label");
        ck_assert_str_eq(model_get(set, domain_set_find(set, "dom0"), "label"), "black");
}
END_TEST

START_TEST(test_int) {
        _cleanup_set_ struct domain_set *set = model_typical();
        struct domain *work = domain_set_find(set, "work");
        static const struct { const char *prop; const char *rule; } ints[] = {
                { "memory", "must be an integer between 32 and 1048576 (MiB)" },
                { "maxmem", "must be an integer between 0 and 1048576 (MiB)" },
                { "vcpus", "must be an integer between 1 and 64" },
                { "qrexec_timeout", "must be an integer between 1 and 86400 (s)" },
                { "shutdown_timeout", "must be an integer between 1 and 86400 (s)" },
        };

        for (size_t i = 0; i < sizeof(ints) / sizeof(*ints); i++) {
                const struct prop_def *p = prop_find(ints[i].prop, false);
                char below[32], above[32], at_min[32], at_max[32];

                ck_assert_int_eq(p->type, PROP_INT);
                snprintf(below, sizeof(below), "%lld", (long long) p->min - 1);
                snprintf(above, sizeof(above), "%lld", (long long) p->max + 1);
                snprintf(at_min, sizeof(at_min), "%lld", (long long) p->min);
                snprintf(at_max, sizeof(at_max), "%lld", (long long) p->max);
                ASSERT_REFUSED(set, work, ints[i].prop, above, -EINVAL, ints[i].rule);
                if (p->min > 0)
                        ASSERT_REFUSED(set, work, ints[i].prop, below, -EINVAL, ints[i].rule);
                ASSERT_REFUSED(set, work, ints[i].prop, "-1", -EINVAL, ints[i].rule);
                ASSERT_REFUSED(set, work, ints[i].prop, "+40", -EINVAL, ints[i].rule);
                ASSERT_REFUSED(set, work, ints[i].prop, "", -EINVAL, ints[i].rule);
                ASSERT_REFUSED(set, work, ints[i].prop, " 40", -EINVAL, ints[i].rule);
                ASSERT_REFUSED(set, work, ints[i].prop, "40 ", -EINVAL, ints[i].rule);
                ASSERT_REFUSED(set, work, ints[i].prop, "4O", -EINVAL, ints[i].rule);
                ASSERT_REFUSED(set, work, ints[i].prop, "0x40", -EINVAL, ints[i].rule);
                ASSERT_REFUSED(set, work, ints[i].prop, "40.5", -EINVAL, ints[i].rule);
                ASSERT_REFUSED(set, work, ints[i].prop, "99999999999999999999999", -EINVAL, ints[i].rule);
                model_set(set, work, ints[i].prop, at_min);
                ck_assert_str_eq(model_get(set, work, ints[i].prop), at_min);
                model_set(set, work, ints[i].prop, at_max);
                ck_assert_str_eq(model_get(set, work, ints[i].prop), at_max);
                ck_assert(!model_is_default(set, work, ints[i].prop));
        }
        /* Leading zeros are accepted and canonicalised. */
        model_set(set, work, "memory", "0000512");
        ck_assert_str_eq(model_get(set, work, "memory"), "512");
        ck_assert_str_eq(domain_set_find(set, "work")->values[prop_index(prop_find("memory", false))], "512");
        ASSERT_REFUSED(set, NULL, "default_qrexec_timeout", "0", -EINVAL, "between 1 and 86400 (s)");
        ASSERT_REFUSED(set, NULL, "default_shutdown_timeout", "many", -EINVAL, "between 1 and 86400 (s)");
}
END_TEST

START_TEST(test_bool) {
        _cleanup_set_ struct domain_set *set = model_typical();
        struct domain *work = domain_set_find(set, "work");
        static const char *const bools[] = {
                "provides_network", "template_for_dispvms", "autostart", "include_in_backups", "debug",
        };
        static const struct { const char *in, *out; } spellings[] = {
                { "True", "True" }, { "true", "True" },   { "1", "True" },   { "yes", "True" },
                { "False", "False" }, { "false", "False" }, { "0", "False" }, { "no", "False" },
        };

        for (size_t i = 0; i < sizeof(bools) / sizeof(*bools); i++) {
                ck_assert_int_eq(prop_find(bools[i], false)->type, PROP_BOOL);
                for (size_t k = 0; k < sizeof(spellings) / sizeof(*spellings); k++) {
                        model_set(set, work, bools[i], spellings[k].in);
                        ck_assert_str_eq(model_get(set, work, bools[i]), spellings[k].out);
                }
                ASSERT_REFUSED(set, work, bools[i], "maybe", -EINVAL, "must be True or False");
                ASSERT_REFUSED(set, work, bools[i], "", -EINVAL, "must be True or False");
                ASSERT_REFUSED(set, work, bools[i], "2", -EINVAL, "must be True or False");
                ASSERT_REFUSED(set, work, bools[i], "True ", -EINVAL, "must be True or False");
                model_reset(set, work, bools[i]);
        }
        /* Defaults. */
        ck_assert_str_eq(model_get(set, work, "provides_network"), "False");
        ck_assert_str_eq(model_get(set, work, "template_for_dispvms"), "False");
        ck_assert_str_eq(model_get(set, work, "autostart"), "False");
        ck_assert_str_eq(model_get(set, work, "debug"), "False");
        ck_assert_str_eq(model_get(set, work, "include_in_backups"), "True");
        ck_assert_str_eq(model_get(set, domain_set_find(set, "disp1"), "include_in_backups"), "False");
        ck_assert(model_is_default(set, work, "debug"));
}
END_TEST

START_TEST(test_str_enum_uuid) {
        _cleanup_set_ struct domain_set *set = model_typical();
        struct domain *work = domain_set_find(set, "work");
        char long_kernel[80], error[512], out[PROP_VALUE_MAX];
        struct domain *fresh = NULL;

        /* ENUM */
        ck_assert_str_eq(model_get(set, work, "virt_mode"), "pvh");
        model_set(set, work, "virt_mode", "hvm");
        model_set(set, work, "virt_mode", "pv");
        ck_assert_str_eq(model_get(set, work, "virt_mode"), "pv");
        ASSERT_REFUSED(set, work, "virt_mode", "PVH", -EINVAL, "must be one of pv, pvh, hvm");
        ASSERT_REFUSED(set, work, "virt_mode", "", -EINVAL, "must be one of pv, pvh, hvm");

        /* STR: printable UTF-8 within the bound; each format rule. */
        memset(long_kernel, 'k', sizeof(long_kernel) - 1);
        long_kernel[sizeof(long_kernel) - 1] = '\0';
        ASSERT_REFUSED(set, work, "kernel", long_kernel, -EINVAL, "at most 64 bytes");
        ASSERT_REFUSED(set, work, "kernel", "6.1\n", -EINVAL, "printable UTF-8");
        ASSERT_REFUSED(set, work, "kernel", "6.1\x7f", -EINVAL, "printable UTF-8");
        ASSERT_REFUSED(set, work, "kernel", "6.1\xc2\x85", -EINVAL, "printable UTF-8");        /* C1 NEL */
        ASSERT_REFUSED(set, work, "kernel", "\xff", -EINVAL, "printable UTF-8");
        ASSERT_REFUSED(set, work, "kernel", "\xc0\xae", -EINVAL, "printable UTF-8");            /* overlong '.' */
        ASSERT_REFUSED(set, work, "kernel", "\xed\xa0\x80", -EINVAL, "printable UTF-8");        /* surrogate */
        ASSERT_REFUSED(set, work, "kernel", "../../etc", -EINVAL, "kernel version");
        ASSERT_REFUSED(set, work, "kernel", ".hidden", -EINVAL, "kernel version");
        ASSERT_REFUSED(set, work, "kernel", "6.1 x", -EINVAL, "kernel version");
        model_set(set, work, "kernel", "6.1.0-13-amd64");
        model_set(set, work, "kernel", "");
        ck_assert_str_eq(model_get(set, work, "kernel"), "");
        ck_assert(!model_is_default(set, work, "kernel"));

        model_set(set, work, "mac", "00:16:3E:AA:bb:0c");
        ck_assert_str_eq(model_get(set, work, "mac"), "00:16:3e:aa:bb:0c");
        ASSERT_REFUSED(set, work, "mac", "00:16:3e:aa:bb", -EINVAL, "MAC address");
        ASSERT_REFUSED(set, work, "mac", "00-16-3e-aa-bb-0c", -EINVAL, "MAC address");
        ASSERT_REFUSED(set, work, "mac", "00:16:3e:aa:bb:0g", -EINVAL, "MAC address");
        model_reset(set, work, "mac");
        ck_assert_str_eq(model_get(set, work, "mac"), "00:16:3e:5e:6c:00");

        model_set(set, work, "default_user", "alice");
        model_set(set, work, "default_user", "_svc-1");
        ASSERT_REFUSED(set, work, "default_user", "Alice", -EINVAL, "user name");
        ASSERT_REFUSED(set, work, "default_user", "1user", -EINVAL, "user name");
        ASSERT_REFUSED(set, work, "default_user", "a b", -EINVAL, "user name");
        ASSERT_REFUSED(set, work, "default_user", "", -EINVAL, "user name");
        ASSERT_REFUSED(set, work, "default_user", "abcdefghijabcdefghijabcdefghijabc", -EINVAL, "at most 32 bytes");

        model_set(set, work, "backend", "libvirt:qemu:///system");
        model_set(set, work, "backend", "native");
        ASSERT_REFUSED(set, work, "backend", "xen", -EINVAL, "must be native or libvirt:<uri>");
        ASSERT_REFUSED(set, work, "backend", "libvirt:", -EINVAL, "must be native or libvirt:<uri>");
        ASSERT_REFUSED(set, work, "backend", "libvirt:qemu:///system x", -EINVAL, "must be native or libvirt:<uri>");
        ASSERT_REFUSED(set, NULL, "default_backend", "vbox", -EINVAL, "must be native or libvirt:<uri>");
        ASSERT_REFUSED(set, NULL, "default_kernel", "a/b", -EINVAL, "kernel version");

        /* Identity: name and uuid are write-once, qid/klass/ip read-only. */
        ASSERT_REFUSED(set, work, "name", "work2", -EPERM, "set at creation");
        ASSERT_REFUSED(set, work, "uuid", "3f1b6c1e-0c55-4a5e-9b1d-2b7c9a0e5f11", -EPERM, "set at creation");
        ASSERT_REFUSED(set, work, "qid", "77", -EPERM, "read-only");
        ASSERT_REFUSED(set, work, "klass", "TemplateVM", -EPERM, "read-only");
        ASSERT_REFUSED(set, work, "ip", "10.0.0.1", -EPERM, "read-only");
        ck_assert_str_eq(model_get(set, work, "klass"), "AppVM");
        ck_assert_str_eq(model_get(set, work, "name"), "work");
        ck_assert(!model_is_default(set, work, "uuid"));

        /* A domain being created may be given a uuid: checked, canonical, unique. */
        ck_assert_int_eq(domain_new(set, "fresh", DOMAIN_STANDALONEVM, &fresh, error, sizeof(error)), 0);
        ck_assert_int_eq(prop_check(set, fresh, prop_find("uuid", false), "3F1B6C1E-0C55-4A5E-9B1D-2B7C9A0E5F11", out,
                                    sizeof(out), error, sizeof(error)),
                         0);
        ck_assert_str_eq(out, "3f1b6c1e-0c55-4a5e-9b1d-2b7c9a0e5f11");
        ck_assert_int_eq(domain_set_value(fresh, prop_find("uuid", false), out), 0);
        ck_assert_str_eq(fresh->uuid, out);
        ASSERT_REFUSED(set, fresh, "uuid", "3f1b6c1e0c554a5e9b1d2b7c9a0e5f11", -EINVAL, "must be a UUID");
        ASSERT_REFUSED(set, fresh, "uuid", "3f1b6c1e-0c55-4a5e-9b1d-2b7c9a0e5f1g", -EINVAL, "must be a UUID");
        ASSERT_REFUSED(set, fresh, "uuid", work->uuid, -EINVAL, "is the UUID of work");
        ASSERT_REFUSED(set, fresh, "name", "other", -EPERM, "set at creation");
        domain_free(fresh);

        /* Wrong scope: a global through a domain and the other way. */
        ck_assert_int_eq(prop_check(set, work, prop_find("default_netvm", true), "", out, sizeof(out), error,
                                    sizeof(error)),
                         -EINVAL);
        ck_assert_ptr_nonnull(strstr(error, "global"));
        ck_assert_int_eq(prop_check(set, NULL, prop_find("memory", false), "400", out, sizeof(out), error,
                                    sizeof(error)),
                         -EINVAL);
        /* NULL value, tiny output buffer. */
        ck_assert_int_eq(prop_check(set, work, prop_find("memory", false), NULL, out, sizeof(out), error,
                                    sizeof(error)),
                         -EINVAL);
        ck_assert_int_eq(prop_check(set, work, prop_find("memory", false), "4000", out, 3, error, sizeof(error)),
                         -ENOBUFS);
}
END_TEST

START_TEST(test_name_rule) {
        static const struct { const char *name, *rule; } bad[] = {
                { "", "1 to 31 characters" },
                { "abcdefghijabcdefghijabcdefghijab", "1 to 31 characters" },
                { "1work", "start with a letter" },
                { "_work", "start with a letter" },
                { "-work", "start with a letter" },
                { ".work", "start with a letter" },
                { "wo rk", "only letters, digits" },
                { "wo/rk", "only letters, digits" },
                { "work\n", "only letters, digits" },
                { "w\xc3\xa9rk", "only letters, digits" },
                { "work:1", "only letters, digits" },
                { "none", "reserved" },
                { "default", "reserved" },
                { "Domain-0", "reserved" },
                { "dom0", "reserved" },
                { "sys-net-dm", "must not end in '-dm'" },
                { "a-dm", "must not end in '-dm'" },
        };
        static const char *const good[] = {
                "a", "Work", "work.2", "sys-net", "my_vm", "abcdefghijabcdefghijabcdefghija", "sys-dmz", "dm", "x-d-m",
        };
        char error[256];

        for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
                error[0] = '\0';
                ck_assert_msg(!domain_name_valid(bad[i].name, error, sizeof(error)), "'%s' accepted", bad[i].name);
                ck_assert_msg(strncmp(error, "name: ", 6) == 0 && strstr(error, bad[i].rule), "'%s': message '%s'",
                              bad[i].name, error);
        }
        ck_assert(!domain_name_valid(NULL, error, sizeof(error)));
        ck_assert(!domain_name_valid("dom0", NULL, 0));
        for (size_t i = 0; i < sizeof(good) / sizeof(*good); i++)
                ck_assert_msg(domain_name_valid(good[i], error, sizeof(error)), "'%s' refused: %s", good[i], error);
}
END_TEST

START_TEST(test_template_chain_defaults) {
        _cleanup_set_ struct domain_set *set = model_typical();
        struct domain *debian = domain_set_find(set, "debian"), *work = domain_set_find(set, "work");
        struct domain *dvm = domain_set_find(set, "dvm"), *disp1 = domain_set_find(set, "disp1");
        struct domain *standalone = model_add(set, "alone", DOMAIN_STANDALONEVM, "label", "gray", NULL);
        static const struct { const char *prop, *builtin, *on_template; } chained[] = {
                { "memory", "400", "1000" },     { "maxmem", "4000", "8000" }, { "vcpus", "2", "4" },
                { "virt_mode", "pvh", "hvm" },   { "default_user", "user", "alice" },
                { "kernel", "", "6.1.0" },      { "qrexec_timeout", "60", "120" },
                { "shutdown_timeout", "60", "30" }, { "backend", "native", "libvirt:test:///default" },
        };

        for (size_t i = 0; i < sizeof(chained) / sizeof(*chained); i++) {
                const char *prop = chained[i].prop;

                /* Built-in or global default everywhere at first. */
                ck_assert_str_eq(model_get(set, debian, prop), chained[i].builtin);
                ck_assert_str_eq(model_get(set, work, prop), chained[i].builtin);
                ck_assert_str_eq(model_get(set, disp1, prop), chained[i].builtin);
                ck_assert_str_eq(model_get(set, standalone, prop), chained[i].builtin);
                ck_assert(model_is_default(set, work, prop));

                /* The template's value flows to AppVMs and through the
                 * disposable template to DispVMs, not to StandaloneVMs. */
                model_set(set, debian, prop, chained[i].on_template);
                ck_assert(!model_is_default(set, debian, prop));
                ck_assert_str_eq(model_get(set, work, prop), chained[i].on_template);
                ck_assert(model_is_default(set, work, prop));
                ck_assert_str_eq(model_get(set, dvm, prop), chained[i].on_template);
                ck_assert_str_eq(model_get(set, disp1, prop), chained[i].on_template);
                ck_assert_str_eq(model_get(set, standalone, prop), chained[i].builtin);

                /* A value set on the disposable template wins for its DispVMs. */
                model_set(set, dvm, prop, chained[i].builtin);
                ck_assert_str_eq(model_get(set, disp1, prop), chained[i].builtin);
                ck_assert_str_eq(model_get(set, work, prop), chained[i].on_template);
                model_reset(set, dvm, prop);
                model_reset(set, debian, prop);
                ck_assert_str_eq(model_get(set, work, prop), chained[i].builtin);
        }

        /* Globals are the end of the chain for timeouts, kernel and backend. */
        model_set(set, NULL, "default_qrexec_timeout", "90");
        model_set(set, NULL, "default_shutdown_timeout", "15");
        model_set(set, NULL, "default_kernel", "6.5");
        model_set(set, NULL, "default_backend", "libvirt:qemu:///system");
        ck_assert_str_eq(model_get(set, disp1, "qrexec_timeout"), "90");
        ck_assert_str_eq(model_get(set, work, "shutdown_timeout"), "15");
        ck_assert_str_eq(model_get(set, standalone, "kernel"), "6.5");
        ck_assert_str_eq(model_get(set, work, "backend"), "libvirt:qemu:///system");
        model_set(set, debian, "qrexec_timeout", "45");
        ck_assert_str_eq(model_get(set, work, "qrexec_timeout"), "45");
        ck_assert_str_eq(model_get(set, standalone, "qrexec_timeout"), "90");
        ck_assert_str_eq(model_get(set, NULL, "default_qrexec_timeout"), "90");
        ck_assert(!model_is_default(set, NULL, "default_qrexec_timeout"));
        model_reset(set, NULL, "default_qrexec_timeout");
        ck_assert_str_eq(model_get(set, NULL, "default_qrexec_timeout"), "60");
        ck_assert(model_is_default(set, NULL, "default_qrexec_timeout"));
        ck_assert_str_eq(model_get(set, NULL, "default_backend"), "libvirt:qemu:///system");

        /* An AppVM's template defaults to default_template, a DispVM's to default_dispvm. */
        ck_assert_str_eq(model_get(set, work, "template"), "debian");
        ck_assert(model_is_default(set, work, "template"));
        ck_assert_str_eq(model_get(set, disp1, "template"), "dvm");
        ck_assert_str_eq(model_get(set, debian, "template"), "");
        ck_assert_ptr_eq(domain_get_template(set, work), debian);
        ck_assert_ptr_eq(domain_get_template(set, disp1), dvm);
        ck_assert_ptr_null(domain_get_template(set, debian));
        ck_assert_ptr_null(domain_get_template(set, standalone));
}
END_TEST

START_TEST(test_template_rules) {
        _cleanup_set_ struct domain_set *set = model_typical();
        struct domain *work = domain_set_find(set, "work"), *disp1 = domain_set_find(set, "disp1");
        struct domain *debian = domain_set_find(set, "debian");
        struct domain *alone = model_add(set, "alone", DOMAIN_STANDALONEVM, "label", "gray", NULL);
        struct domain *fresh = NULL;
        char error[512];

        model_add(set, "fedora", DOMAIN_TEMPLATEVM, "label", "black", NULL);
        model_set(set, work, "template", "fedora");
        ck_assert_str_eq(model_get(set, work, "template"), "fedora");
        ASSERT_REFUSED(set, work, "template", "sys-net", -EINVAL, "an AppVM's template must be a TemplateVM");
        ASSERT_REFUSED(set, work, "template", "alone", -EINVAL, "must be a TemplateVM; alone is a StandaloneVM");
        ASSERT_REFUSED(set, work, "template", "dom0", -EINVAL, "must be a TemplateVM");
        ASSERT_REFUSED(set, work, "template", "ghost", -ENOENT, "no such domain 'ghost'");
        ASSERT_REFUSED(set, work, "template", "", -EINVAL, "must name a domain");
        ASSERT_REFUSED(set, work, "template", "none", -EINVAL, "must name a domain");
        ASSERT_REFUSED(set, debian, "template", "fedora", -EINVAL, "only AppVMs and DispVMs have a template");
        ASSERT_REFUSED(set, alone, "template", "fedora", -EINVAL, "only AppVMs and DispVMs have a template");
        ASSERT_REFUSED(set, disp1, "template", "work", -EINVAL, "template_for_dispvms=True; work is not");
        ASSERT_REFUSED(set, disp1, "template", "debian", -EINVAL, "template_for_dispvms=True");

        /* default_template must be a TemplateVM. */
        ASSERT_REFUSED(set, NULL, "default_template", "work", -EINVAL, "must be a TemplateVM; work is a AppVM");
        ASSERT_REFUSED(set, NULL, "default_template", "nope", -ENOENT, "no such domain");
        model_set(set, NULL, "default_template", "fedora");
        ck_assert_str_eq(model_get(set, domain_set_find(set, "dvm"), "template"), "fedora");

        /* Completeness: a label is required, and an AppVM needs a template. */
        ck_assert_int_eq(domain_new(set, "fresh", DOMAIN_APPVM, &fresh, error, sizeof(error)), 0);
        ck_assert_int_eq(prop_check_complete(set, fresh, error, sizeof(error)), -EINVAL);
        ck_assert_str_eq(error, "label: required");
        model_set(set, fresh, "label", "orange");
        ck_assert_int_eq(prop_check_complete(set, fresh, error, sizeof(error)), 0);
        model_set(set, NULL, "default_template", "");
        ck_assert_int_eq(prop_check_complete(set, fresh, error, sizeof(error)), -EINVAL);
        ck_assert_msg(strstr(error, "template: required") && strstr(error, "default_template"), "%s", error);
        model_set(set, fresh, "template", "debian");
        ck_assert_int_eq(prop_check_complete(set, fresh, error, sizeof(error)), 0);
        domain_free(fresh);

        /* A DispVM with no default_dispvm and no template is incomplete. */
        ck_assert_int_eq(domain_new(set, "fresh", DOMAIN_DISPVM, &fresh, error, sizeof(error)), 0);
        model_set(set, fresh, "label", "red");
        ck_assert_int_eq(prop_check_complete(set, fresh, error, sizeof(error)), 0);
        model_set(set, NULL, "default_dispvm", "");
        ck_assert_int_eq(prop_check_complete(set, fresh, error, sizeof(error)), -EINVAL);
        ck_assert_msg(strstr(error, "template: required") && strstr(error, "default_dispvm"), "%s", error);
        domain_free(fresh);
}
END_TEST

START_TEST(test_netvm) {
        _cleanup_set_ struct domain_set *set = model_typical();
        struct domain *work = domain_set_find(set, "work"), *net = domain_set_find(set, "sys-net");
        struct domain *fw = domain_set_find(set, "sys-firewall"), *debian = domain_set_find(set, "debian");
        struct domain *disp1 = domain_set_find(set, "disp1"), *dvm = domain_set_find(set, "dvm");
        struct domain *dom0 = domain_set_find(set, "dom0");

        /* Defaults: the global default_netvm; none for templates and dom0;
         * a DispVM follows its disposable template. */
        ck_assert_str_eq(model_get(set, work, "netvm"), "sys-firewall");
        ck_assert(model_is_default(set, work, "netvm"));
        ck_assert_str_eq(model_get(set, debian, "netvm"), "");
        ck_assert_str_eq(model_get(set, dom0, "netvm"), "");
        ck_assert_str_eq(model_get(set, fw, "netvm"), "sys-net");
        ck_assert_str_eq(model_get(set, disp1, "netvm"), "sys-firewall");
        model_set(set, dvm, "netvm", "sys-net");
        ck_assert_str_eq(model_get(set, disp1, "netvm"), "sys-net");
        model_set(set, dvm, "netvm", "none");
        ck_assert_str_eq(model_get(set, dvm, "netvm"), "");
        ck_assert_str_eq(model_get(set, disp1, "netvm"), "");
        model_reset(set, dvm, "netvm");
        /* A template may be given a netvm explicitly. */
        model_set(set, debian, "netvm", "sys-net");
        ck_assert_str_eq(model_get(set, debian, "netvm"), "sys-net");

        /* The target must provide network. */
        ASSERT_REFUSED(set, work, "netvm", "debian", -EINVAL, "debian does not provide network");
        ASSERT_REFUSED(set, work, "netvm", "ghost", -ENOENT, "no such domain 'ghost'");
        ASSERT_REFUSED(set, work, "netvm", "work", -ELOOP, "cannot be its own netvm");
        ASSERT_REFUSED(set, dom0, "netvm", "sys-net", -EINVAL, "the AdminVM has no netvm");
        model_set(set, dom0, "netvm", "");
        /* Loops, direct and longer. */
        ASSERT_REFUSED(set, net, "netvm", "sys-firewall", -ELOOP, "network loop");
        model_set(set, work, "provides_network", "True");
        model_set(set, work, "netvm", "sys-firewall");
        ASSERT_REFUSED(set, net, "netvm", "work", -ELOOP, "network loop");       /* net -> work -> fw -> net */
        model_reset(set, work, "netvm");
        /* Through a default: at its default sys-net would use sys-firewall,
         * whose netvm is sys-net. */
        ASSERT_RESET_REFUSED(set, net, "netvm", -ELOOP, "network loop");
        ck_assert_str_eq(model_get(set, net, "netvm"), "");
        /* A global default_netvm that would close that loop. */
        model_set(set, NULL, "default_netvm", "sys-net");
        model_reset(set, net, "netvm");
        ck_assert_str_eq(model_get(set, net, "netvm"), "");      /* the default netvm is not its own client */
        ck_assert_str_eq(model_get(set, work, "netvm"), "sys-net");
        ASSERT_REFUSED(set, NULL, "default_netvm", "sys-firewall", -ELOOP, "network loop");
        ASSERT_REFUSED(set, NULL, "default_netvm", "debian", -EINVAL, "debian does not provide network");
        ASSERT_REFUSED(set, NULL, "default_netvm", "ghost", -ENOENT, "no such domain");
        model_set(set, net, "netvm", "none");
        model_set(set, NULL, "default_netvm", "sys-firewall");
        model_reset(set, NULL, "default_netvm");
        ck_assert_str_eq(model_get(set, work, "netvm"), "");
        model_set(set, NULL, "default_netvm", "sys-firewall");

        /* A loop that does not pass through the changed domain: a networking
         * DispVM follows its disposable template's netvm. */
        {
                struct domain *dispnet = model_add(set, "disp-net", DOMAIN_DISPVM, "label", "red", "template", "dvm",
                                                   "provides_network", "True", NULL);
                ck_assert_str_eq(model_get(set, dispnet, "netvm"), "sys-firewall");
                model_set(set, work, "netvm", "disp-net");
                ASSERT_REFUSED(set, dvm, "netvm", "work", -ELOOP, "network loop");
                ASSERT_REFUSED(set, dvm, "netvm", "disp-net", -ELOOP, "network loop");
                model_set(set, dvm, "netvm", "sys-net");
                ck_assert_str_eq(model_get(set, dispnet, "netvm"), "sys-net");
                /* ...nor when the DispVM changes template. */
                model_add(set, "dvm-w", DOMAIN_APPVM, "label", "red", "template_for_dispvms", "True", "netvm", "work",
                          NULL);
                ASSERT_REFUSED(set, dispnet, "template", "dvm-w", -ELOOP, "network loop");
                model_reset(set, work, "netvm");
                model_reset(set, dvm, "netvm");
        }
        /* provides_network cannot be withdrawn while used. */
        model_set(set, net, "netvm", "");
        model_set(set, NULL, "default_netvm", "sys-firewall");
        ASSERT_REFUSED(set, fw, "provides_network", "False", -EINVAL, "still the netvm of");
        {
                char e[512];
                model_try(set, fw, "provides_network", "False", e);
                ck_assert_msg(strstr(e, "disp1") && strstr(e, "dvm") && strstr(e, "work") &&
                                      strstr(e, "the global default_netvm"),
                              "%s", e);
        }
        ASSERT_REFUSED(set, net, "provides_network", "False", -EINVAL, "sys-firewall");
        model_set(set, net, "provides_network", "True");
}
END_TEST

START_TEST(test_ip) {
        _cleanup_set_ struct domain_set *set = model_typical();
        struct domain *work = domain_set_find(set, "work"), *disp1 = domain_set_find(set, "disp1");
        struct domain *debian = domain_set_find(set, "debian");
        char expected[32];

        snprintf(expected, sizeof(expected), "10.137.0.%u", work->qid);
        ck_assert_str_eq(model_get(set, work, "ip"), expected);
        ck_assert(model_is_default(set, work, "ip"));
        snprintf(expected, sizeof(expected), "10.138.0.%u", disp1->qid);
        ck_assert_str_eq(model_get(set, disp1, "ip"), expected);
        ck_assert_str_eq(model_get(set, debian, "ip"), "");
        ck_assert_str_eq(model_get(set, domain_set_find(set, "dom0"), "ip"), "");
        model_set(set, work, "netvm", "");
        ck_assert_str_eq(model_get(set, work, "ip"), "");
        model_reset(set, work, "netvm");

        /* Qubes' spreading above 254: never .0 or .255. */
        work->qid = 254;
        ck_assert_str_eq(model_get(set, work, "ip"), "10.137.0.254");
        work->qid = 255;
        ck_assert_str_eq(model_get(set, work, "ip"), "10.137.1.1");
        work->qid = 509;
        ck_assert_str_eq(model_get(set, work, "ip"), "10.137.2.1");
        work->qid = 508;
        ck_assert_str_eq(model_get(set, work, "ip"), "10.137.1.254");
        work->qid = 9999;
        ck_assert_str_eq(model_get(set, work, "ip"), "10.137.39.93");
}
END_TEST

START_TEST(test_dispvm_rules) {
        _cleanup_set_ struct domain_set *set = model_typical();
        struct domain *work = domain_set_find(set, "work"), *dvm = domain_set_find(set, "dvm");
        struct domain *debian = domain_set_find(set, "debian"), *disp1 = domain_set_find(set, "disp1");
        struct domain *alone = model_add(set, "alone", DOMAIN_STANDALONEVM, "label", "gray", NULL);
        char e[512];

        /* default_dispvm: the global, or a DispVM's own template. */
        ck_assert_str_eq(model_get(set, work, "default_dispvm"), "dvm");
        ck_assert(model_is_default(set, work, "default_dispvm"));
        model_add(set, "dvm2", DOMAIN_APPVM, "label", "purple", "template_for_dispvms", "True", NULL);
        model_set(set, disp1, "template", "dvm2");
        ck_assert_str_eq(model_get(set, disp1, "default_dispvm"), "dvm2");
        model_set(set, work, "default_dispvm", "dvm2");
        model_set(set, work, "default_dispvm", "");
        ck_assert_str_eq(model_get(set, work, "default_dispvm"), "");
        ASSERT_REFUSED(set, work, "default_dispvm", "debian", -EINVAL, "debian is not a disposable template");
        ASSERT_REFUSED(set, work, "default_dispvm", "ghost", -ENOENT, "no such domain");
        ASSERT_REFUSED(set, NULL, "default_dispvm", "work", -EINVAL, "work is not a disposable template");

        /* template_for_dispvms: AppVMs only. */
        ASSERT_REFUSED(set, debian, "template_for_dispvms", "True", -EINVAL, "only an AppVM");
        ASSERT_REFUSED(set, alone, "template_for_dispvms", "True", -EINVAL, "only an AppVM");
        ASSERT_REFUSED(set, disp1, "template_for_dispvms", "True", -EINVAL, "only an AppVM");
        model_set(set, debian, "template_for_dispvms", "False");

        /* ...and cannot be withdrawn while DispVMs or default_dispvm use it. */
        model_set(set, work, "default_dispvm", "dvm2");
        ASSERT_REFUSED(set, domain_set_find(set, "dvm2"), "template_for_dispvms", "False", -EINVAL,
                       "template of disp1");
        model_try(set, domain_set_find(set, "dvm2"), "template_for_dispvms", "False", e);
        ck_assert_msg(strstr(e, "default_dispvm of work"), "%s", e);
        ASSERT_REFUSED(set, dvm, "template_for_dispvms", "False", -EINVAL, "the global default_dispvm");
        model_set(set, NULL, "default_dispvm", "");
        model_set(set, dvm, "template_for_dispvms", "False");
}
END_TEST

int main(void) {
        Suite *s = suite_create("property");
        TCase *tc = tcase_create("property");

        tcase_add_test(tc, test_table);
        tcase_add_test(tc, test_labels);
        tcase_add_test(tc, test_int);
        tcase_add_test(tc, test_bool);
        tcase_add_test(tc, test_str_enum_uuid);
        tcase_add_test(tc, test_name_rule);
        tcase_add_test(tc, test_template_chain_defaults);
        tcase_add_test(tc, test_template_rules);
        tcase_add_test(tc, test_netvm);
        tcase_add_test(tc, test_ip);
        tcase_add_test(tc, test_dispvm_rules);
        suite_add_tcase(s, tc);

        SRunner *sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
