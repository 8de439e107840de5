/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The Admin API (docs/admin-api.md) against the real busd and qubesd in a
 * private stack: every manager and domain method, every refusal by its error
 * name, properties through org.freedesktop.DBus.Properties, signals,
 * introspection (also with busctl), access control.  Running domains:
 * test-admin-lifecycle.c.
 */
#include <check.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "admin-client.h"
#include "stack-harness.h"

static void stack_setup(void) {
        admin_stack_start(NULL);
}

#define ERR_PREFIX ADMIN_ERROR
#define manager_call admin_manager_call
#define domain_call admin_domain_call
#define create admin_create
#define list_has admin_list_has
#define prop admin_prop

/* ---------------------------------------------------------------- manager */

START_TEST(test_labels) {
        sd_bus *bus = admin_stack_client();
        sd_bus_message *reply = NULL;
        const char *name;
        uint32_t index, color, red = 0;
        unsigned n = 0;

        ck_assert_str_eq(manager_call(bus, "ListLabels", &reply, NULL), "");
        ck_assert_int_ge(sd_bus_message_enter_container(reply, 'a', "(suu)"), 0);
        while (sd_bus_message_read(reply, "(suu)", &name, &index, &color) > 0) {
                n++;
                if (strcmp(name, "red") == 0)
                        red = color;
        }
        ck_assert_uint_eq(n, 8);
        ck_assert_uint_eq(red, 0xcc0000);
        sd_bus_message_unref(reply);
        sd_bus_unref(bus);
}
END_TEST

START_TEST(test_create_get_list) {
        sd_bus *bus = admin_stack_client();
        static struct admin_signals sig;
        sd_bus_message *reply = NULL;
        const char *path;

        ck_assert_int_ge(admin_watch_signals(bus, &sig), 0);
        ck_assert_str_eq(create(bus, "work", "AppVM", "blue", NULL, NULL), "");
        ck_assert(admin_wait_signal(bus, &sig, "DomainAdded work /org/qubes/Admin1/domain/work", 5000));
        ck_assert(list_has(bus, "work"));
        ck_assert(list_has(bus, "dom0"));
        ck_assert_str_eq(manager_call(bus, "GetDomain", &reply, "s", "work"), "");
        ck_assert_int_ge(sd_bus_message_read(reply, "o", &path), 0);
        ck_assert_str_eq(path, "/org/qubes/Admin1/domain/work");
        sd_bus_message_unref(reply);
        ck_assert_str_eq(prop(bus, "work", "label"), "blue");
        ck_assert_str_eq(prop(bus, "work", "klass"), "AppVM");
        ck_assert_str_eq(prop(bus, "work", "state"), "Halted");

        /* a name that needs escaping in a path */
        ck_assert_str_eq(create(bus, "my-vm.2", "AppVM", "red", NULL, NULL), "");
        ck_assert_str_eq(prop(bus, "my-vm.2", "label"), "red");
        sd_bus_unref(bus);
}
END_TEST

START_TEST(test_create_refusals) {
        sd_bus *bus = admin_stack_client();

        ck_assert_str_eq(create(bus, "cr-ok", "AppVM", "green", NULL, NULL), "");
        ck_assert_str_eq(create(bus, "cr-ok", "AppVM", "green", NULL, NULL), ERR_PREFIX "AlreadyExists");
        ck_assert_str_eq(create(bus, "dom0", "AppVM", "green", NULL, NULL), ERR_PREFIX "AlreadyExists");
        ck_assert_str_eq(create(bus, "cr-x", "AdminVM", "green", NULL, NULL), ERR_PREFIX "InvalidValue");
        ck_assert_str_eq(create(bus, "cr-x", "Nonsense", "green", NULL, NULL), ERR_PREFIX "InvalidValue");
        ck_assert_str_eq(create(bus, "1bad", "AppVM", "green", NULL, NULL), ERR_PREFIX "InvalidValue");
        ck_assert_str_eq(create(bus, "bad/name", "AppVM", "green", NULL, NULL), ERR_PREFIX "InvalidValue");
        ck_assert_str_eq(create(bus, "cr-x", "AppVM", NULL, NULL, NULL), ERR_PREFIX "InvalidValue");
        ck_assert_str_eq(create(bus, "cr-x", "AppVM", "pink", NULL, NULL), ERR_PREFIX "InvalidValue");
        ck_assert_str_eq(create(bus, "cr-x", "AppVM", "red", "nonsense", "1"), ERR_PREFIX "NoSuchProperty");
        ck_assert_str_eq(create(bus, "cr-x", "AppVM", "red", "memory", "lots"), ERR_PREFIX "InvalidValue");
        ck_assert_str_eq(create(bus, "cr-x", "AppVM", "red", "netvm", "no-such-vm"), ERR_PREFIX "InvalidValue");
        ck_assert_str_eq(create(bus, "cr-x", "AppVM", "red", "qid", "77"), ERR_PREFIX "ReadOnly");
        ck_assert(!list_has(bus, "cr-x"));
        sd_bus_unref(bus);
}
END_TEST

START_TEST(test_global_properties) {
        sd_bus *bus = admin_stack_client();
        static struct admin_signals sig;
        sd_bus_message *reply = NULL;
        const char *name;
        int is_default;
        bool seen = false;

        ck_assert_int_ge(admin_watch_signals(bus, &sig), 0);
        ck_assert_str_eq(manager_call(bus, "SetGlobalProperty", NULL, "sv", "default_qrexec_timeout", "x",
                                      (int64_t) 30), "");
        ck_assert(admin_wait_signal(bus, &sig, "PropertyChanged  default_qrexec_timeout", 5000));
        ck_assert_str_eq(manager_call(bus, "GetGlobalProperties", &reply, NULL), "");
        ck_assert_int_ge(sd_bus_message_enter_container(reply, 'a', "{s(vb)}"), 0);
        while (sd_bus_message_enter_container(reply, 'e', "s(vb)") > 0) {
                ck_assert_int_ge(sd_bus_message_read(reply, "s", &name), 0);
                ck_assert_int_ge(sd_bus_message_enter_container(reply, 'r', "vb"), 0);
                if (strcmp(name, "default_qrexec_timeout") == 0) {
                        int64_t v;
                        ck_assert_int_ge(sd_bus_message_read(reply, "v", "x", &v), 0);
                        ck_assert_int_eq(v, 30);
                        ck_assert_int_ge(sd_bus_message_read(reply, "b", &is_default), 0);
                        ck_assert(!is_default);
                        seen = true;
                } else
                        ck_assert_int_ge(sd_bus_message_skip(reply, "vb"), 0);
                ck_assert_int_ge(sd_bus_message_exit_container(reply), 0);
                ck_assert_int_ge(sd_bus_message_exit_container(reply), 0);
        }
        ck_assert(seen);
        sd_bus_message_unref(reply);
        /* the text form is accepted too */
        ck_assert_str_eq(manager_call(bus, "SetGlobalProperty", NULL, "sv", "default_qrexec_timeout", "s", "45"), "");
        ck_assert_str_eq(manager_call(bus, "SetGlobalProperty", NULL, "sv", "default_qrexec_timeout", "s", "-3"),
                         ERR_PREFIX "InvalidValue");
        ck_assert_str_eq(manager_call(bus, "SetGlobalProperty", NULL, "sv", "default_netvm", "s", "nope"),
                         ERR_PREFIX "InvalidValue");
        ck_assert_str_eq(manager_call(bus, "SetGlobalProperty", NULL, "sv", "no_such_global", "s", "1"),
                         ERR_PREFIX "NoSuchProperty");
        ck_assert_str_eq(manager_call(bus, "ResetGlobalProperty", NULL, "s", "no_such_global"),
                         ERR_PREFIX "NoSuchProperty");
        ck_assert_str_eq(manager_call(bus, "ResetGlobalProperty", NULL, "s", "default_qrexec_timeout"), "");
        sd_bus_unref(bus);
}
END_TEST

START_TEST(test_get_all_domains) {
        sd_bus *bus = admin_stack_client();
        sd_bus_message *reply = NULL;
        const char *name, *key;
        bool work_label = false, dom0_state = false, has_tags = false, has_features = false, has_defaults = false;

        ck_assert_str_eq(create(bus, "all-1", "AppVM", "purple", NULL, NULL), "");
        ck_assert_str_eq(manager_call(bus, "GetAllDomains", &reply, NULL), "");
        ck_assert_int_ge(sd_bus_message_enter_container(reply, 'a', "{sa{sv}}"), 0);
        while (sd_bus_message_enter_container(reply, 'e', "sa{sv}") > 0) {
                ck_assert_int_ge(sd_bus_message_read(reply, "s", &name), 0);
                ck_assert_int_ge(sd_bus_message_enter_container(reply, 'a', "{sv}"), 0);
                while (sd_bus_message_enter_container(reply, 'e', "sv") > 0) {
                        const char *contents, *s;
                        char type;
                        ck_assert_int_ge(sd_bus_message_read(reply, "s", &key), 0);
                        ck_assert_int_ge(sd_bus_message_peek_type(reply, &type, &contents), 0);
                        if (strcmp(name, "all-1") == 0 && strcmp(key, "label") == 0) {
                                ck_assert_int_ge(sd_bus_message_read(reply, "v", "s", &s), 0);
                                work_label = strcmp(s, "purple") == 0;
                        } else if (strcmp(name, "dom0") == 0 && strcmp(key, "state") == 0) {
                                ck_assert_int_ge(sd_bus_message_read(reply, "v", "s", &s), 0);
                                dom0_state = strcmp(s, "Running") == 0;
                        } else {
                                if (strcmp(key, "tags") == 0)
                                        has_tags = strcmp(contents, "as") == 0;
                                if (strcmp(key, "features") == 0)
                                        has_features = strcmp(contents, "a{ss}") == 0;
                                if (strcmp(key, "default_properties") == 0)
                                        has_defaults = strcmp(contents, "as") == 0;
                                ck_assert_int_ge(sd_bus_message_skip(reply, "v"), 0);
                        }
                        ck_assert_int_ge(sd_bus_message_exit_container(reply), 0);
                }
                ck_assert_int_ge(sd_bus_message_exit_container(reply), 0);
                ck_assert_int_ge(sd_bus_message_exit_container(reply), 0);
        }
        ck_assert(work_label);
        ck_assert(dom0_state);
        ck_assert(has_tags && has_features && has_defaults);
        sd_bus_message_unref(reply);
        sd_bus_unref(bus);
}
END_TEST

START_TEST(test_remove) {
        sd_bus *bus = admin_stack_client();
        static struct admin_signals sig;

        ck_assert_int_ge(admin_watch_signals(bus, &sig), 0);
        ck_assert_str_eq(create(bus, "rm-tpl", "TemplateVM", "black", NULL, NULL), "");
        ck_assert_str_eq(create(bus, "rm-app", "AppVM", "red", "template", "rm-tpl"), "");
        ck_assert_str_eq(manager_call(bus, "RemoveDomain", NULL, "s", "rm-nope"), ERR_PREFIX "NoSuchDomain");
        ck_assert_str_eq(manager_call(bus, "RemoveDomain", NULL, "s", "rm-tpl"), ERR_PREFIX "InUse");
        ck_assert_str_eq(manager_call(bus, "RemoveDomain", NULL, "s", "dom0"), ERR_PREFIX "InUse");
        ck_assert_str_eq(manager_call(bus, "RemoveDomain", NULL, "s", "rm-app"), "");
        ck_assert(admin_wait_signal(bus, &sig, "DomainRemoved rm-app", 5000));
        ck_assert(!list_has(bus, "rm-app"));
        ck_assert_str_eq(manager_call(bus, "GetDomain", NULL, "s", "rm-app"), ERR_PREFIX "NoSuchDomain");
        ck_assert_str_eq(manager_call(bus, "RemoveDomain", NULL, "s", "rm-tpl"), "");
        ck_assert(!list_has(bus, "rm-tpl"));
        sd_bus_unref(bus);
}
END_TEST

START_TEST(test_clone) {
        sd_bus *bus = admin_stack_client();
        char dir[1024];

        ck_assert_str_eq(create(bus, "cl-src", "AppVM", "orange", "memory", "512"), "");
        ck_assert_str_eq(domain_call(bus, "cl-src", "AddTag", NULL, "s", "cloned-tag"), "");
        ck_assert_str_eq(domain_call(bus, "cl-src", "SetFeature", NULL, "ss", "gui", "1"), "");
        /* a private volume to copy */
        snprintf(dir, sizeof(dir), "%s/state/domains/cl-src/private", admin_stack.root);
        char cmd[2200];
        snprintf(cmd, sizeof(cmd), "mkdir -p '%s' && echo hello >'%s/file'", dir, dir);
        ck_assert_int_eq(system(cmd), 0);

        ck_assert_str_eq(manager_call(bus, "CloneDomain", NULL, "ssa{sv}", "cl-src", "cl-dst", 1, "label", "s",
                                      "yellow"), "");
        ck_assert_str_eq(prop(bus, "cl-dst", "label"), "yellow");
        ck_assert_str_eq(prop(bus, "cl-dst", "memory"), "512");
        ck_assert_str_eq(prop(bus, "cl-dst", "klass"), "AppVM");
        snprintf(cmd, sizeof(cmd), "grep -qx hello '%s/state/domains/cl-dst/private/file'", admin_stack.root);
        ck_assert_int_eq(system(cmd), 0);

        sd_bus_message *reply = NULL;
        ck_assert_int_eq(sd_bus_get_property(bus, NULL, "/org/qubes/Admin1/domain/cl_2ddst", ADMIN_DOMAIN, "tags",
                                             NULL, &reply, "as"), 0);
        const char *tag = NULL;
        ck_assert_int_ge(sd_bus_message_enter_container(reply, 'a', "s"), 0);
        ck_assert_int_gt(sd_bus_message_read_basic(reply, 's', &tag), 0);
        ck_assert_str_eq(tag, "cloned-tag");
        sd_bus_message_unref(reply);

        ck_assert_str_eq(manager_call(bus, "CloneDomain", NULL, "ssa{sv}", "cl-nope", "cl-x", 0), ERR_PREFIX "NoSuchDomain");
        ck_assert_str_eq(manager_call(bus, "CloneDomain", NULL, "ssa{sv}", "cl-src", "cl-dst", 0), ERR_PREFIX "AlreadyExists");
        ck_assert_str_eq(manager_call(bus, "CloneDomain", NULL, "ssa{sv}", "cl-src", "0bad", 0), ERR_PREFIX "InvalidValue");
        ck_assert_str_eq(manager_call(bus, "CloneDomain", NULL, "ssa{sv}", "dom0", "cl-x", 0), ERR_PREFIX "InvalidValue");

        /* remove deletes the directory */
        ck_assert_str_eq(manager_call(bus, "RemoveDomain", NULL, "s", "cl-dst"), "");
        snprintf(cmd, sizeof(cmd), "test ! -e '%s/state/domains/cl-dst'", admin_stack.root);
        ck_assert_int_eq(system(cmd), 0);
        sd_bus_unref(bus);
}
END_TEST

/* ---------------------------------------------------------------- domain */

START_TEST(test_properties) {
        sd_bus *bus = admin_stack_client();
        static struct admin_signals sig;
        sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        const char *value, *type, *doc;
        int is_default;

        ck_assert_int_ge(admin_watch_signals(bus, &sig), 0);
        ck_assert_str_eq(create(bus, "pr", "AppVM", "green", NULL, NULL), "");
        char *path = admin_path("pr");

        /* Properties.Set with the D-Bus type */
        ck_assert_int_ge(sd_bus_set_property(bus, NULL, path, ADMIN_DOMAIN, "memory", &error, "x", (int64_t) 800), 0);
        ck_assert_str_eq(prop(bus, "pr", "memory"), "800");
        ck_assert(admin_wait_signal(bus, &sig, "PropertyChanged pr memory", 5000));
        ck_assert_int_ge(sd_bus_set_property(bus, NULL, path, ADMIN_DOMAIN, "debug", &error, "b", 1), 0);
        ck_assert_str_eq(prop(bus, "pr", "debug"), "True");
        ck_assert_int_lt(sd_bus_set_property(bus, NULL, path, ADMIN_DOMAIN, "memory", &error, "x", (int64_t) 1), 0);
        ck_assert_str_eq(error.name, ERR_PREFIX "InvalidValue");
        ck_assert_ptr_nonnull(strstr(error.message, "memory"));
        sd_bus_error_free(&error);
        ck_assert_int_lt(sd_bus_set_property(bus, NULL, path, ADMIN_DOMAIN, "label", &error, "s", "pink"), 0);
        ck_assert_str_eq(error.name, ERR_PREFIX "InvalidValue");
        sd_bus_error_free(&error);
        /* read-only ones are not writable through Properties at all */
        ck_assert_int_lt(sd_bus_set_property(bus, NULL, path, ADMIN_DOMAIN, "qid", &error, "x", (int64_t) 5), 0);
        sd_bus_error_free(&error);

        /* SetProperty: the text form */
        ck_assert_str_eq(domain_call(bus, "pr", "SetProperty", NULL, "ss", "memory", "900"), "");
        ck_assert_str_eq(prop(bus, "pr", "memory"), "900");
        ck_assert_str_eq(domain_call(bus, "pr", "SetProperty", NULL, "ss", "memory", "many"), ERR_PREFIX "InvalidValue");
        ck_assert_str_eq(domain_call(bus, "pr", "SetProperty", NULL, "ss", "nonsense", "1"), ERR_PREFIX "NoSuchProperty");
        ck_assert_str_eq(domain_call(bus, "pr", "SetProperty", NULL, "ss", "qid", "5"), ERR_PREFIX "ReadOnly");
        ck_assert_str_eq(domain_call(bus, "pr", "SetProperty", NULL, "ss", "name", "other"), ERR_PREFIX "ReadOnly");
        ck_assert_str_eq(domain_call(bus, "pr", "SetProperty", NULL, "ss", "netvm", "pr"), ERR_PREFIX "InvalidValue");
        ck_assert_str_eq(domain_call(bus, "pr", "ResetProperty", NULL, "s", "nonsense"), ERR_PREFIX "NoSuchProperty");
        ck_assert_str_eq(domain_call(bus, "pr", "ResetProperty", NULL, "s", "uuid"), ERR_PREFIX "ReadOnly");

        /* details, then reset to the default */
        ck_assert_str_eq(domain_call(bus, "pr", "GetPropertyDetails", &reply, "s", "memory"), "");
        ck_assert_int_ge(sd_bus_message_read(reply, "(sbss)", &value, &is_default, &type, &doc), 0);
        ck_assert_str_eq(value, "900");
        ck_assert(!is_default);
        ck_assert_str_eq(type, "int");
        ck_assert_int_gt(strlen(doc), 0);
        reply = sd_bus_message_unref(reply);
        ck_assert_str_eq(domain_call(bus, "pr", "GetPropertyDetails", NULL, "s", "nonsense"), ERR_PREFIX "NoSuchProperty");
        ck_assert_str_eq(domain_call(bus, "pr", "ResetProperty", NULL, "s", "memory"), "");
        ck_assert_str_eq(domain_call(bus, "pr", "GetPropertyDetails", &reply, "s", "memory"), "");
        ck_assert_int_ge(sd_bus_message_read(reply, "(sbss)", &value, &is_default, &type, &doc), 0);
        ck_assert(is_default);
        reply = sd_bus_message_unref(reply);
        ck_assert_int_ge(sd_bus_get_property(bus, NULL, path, ADMIN_DOMAIN, "default_properties", &error, &reply, "as"), 0);
        bool listed = false;
        ck_assert_int_ge(sd_bus_message_enter_container(reply, 'a', "s"), 0);
        while (sd_bus_message_read_basic(reply, 's', &value) > 0)
                listed = listed || strcmp(value, "memory") == 0;
        ck_assert(listed);
        sd_bus_message_unref(reply);
        free(path);
        sd_bus_unref(bus);
}
END_TEST

START_TEST(test_tags_features) {
        sd_bus *bus = admin_stack_client();
        static struct admin_signals sig;

        ck_assert_int_ge(admin_watch_signals(bus, &sig), 0);
        ck_assert_str_eq(create(bus, "tf", "AppVM", "gray", NULL, NULL), "");
        ck_assert_str_eq(domain_call(bus, "tf", "AddTag", NULL, "s", "audio"), "");
        ck_assert(admin_wait_signal(bus, &sig, "TagsChanged tf", 5000));
        ck_assert_str_eq(domain_call(bus, "tf", "AddTag", NULL, "s", "audio"), "");
        ck_assert_str_eq(domain_call(bus, "tf", "AddTag", NULL, "s", "bad tag!"), ERR_PREFIX "InvalidValue");
        ck_assert_str_eq(domain_call(bus, "tf", "RemoveTag", NULL, "s", "never-set"), ERR_PREFIX "InvalidValue");
        ck_assert_str_eq(domain_call(bus, "tf", "SetFeature", NULL, "ss", "service.cups", "1"), "");
        ck_assert(admin_wait_signal(bus, &sig, "FeaturesChanged tf", 5000));
        ck_assert_str_eq(domain_call(bus, "tf", "SetFeature", NULL, "ss", "bad key!", "1"), ERR_PREFIX "InvalidValue");
        ck_assert_str_eq(domain_call(bus, "tf", "RemoveFeature", NULL, "s", "never-set"), ERR_PREFIX "InvalidValue");

        sd_bus_message *reply = NULL;
        const char *k, *v;
        char *path = admin_path("tf");
        ck_assert_int_ge(sd_bus_get_property(bus, NULL, path, ADMIN_DOMAIN, "features", NULL, &reply, "a{ss}"), 0);
        ck_assert_int_ge(sd_bus_message_read(reply, "a{ss}", 1, &k, &v), 0);
        ck_assert_str_eq(k, "service.cups");
        ck_assert_str_eq(v, "1");
        sd_bus_message_unref(reply);

        ck_assert_str_eq(domain_call(bus, "tf", "RemoveTag", NULL, "s", "audio"), "");
        ck_assert_str_eq(domain_call(bus, "tf", "RemoveFeature", NULL, "s", "service.cups"), "");
        ck_assert_int_ge(sd_bus_get_property(bus, NULL, path, ADMIN_DOMAIN, "tags", NULL, &reply, "as"), 0);
        ck_assert_int_ge(sd_bus_message_enter_container(reply, 'a', "s"), 0);
        ck_assert_int_eq(sd_bus_message_read_basic(reply, 's', &k), 0);
        sd_bus_message_unref(reply);
        free(path);
        sd_bus_unref(bus);
}
END_TEST

START_TEST(test_lifecycle_refusals) {
        sd_bus *bus = admin_stack_client();

        ck_assert_str_eq(create(bus, "lr", "AppVM", "red", NULL, NULL), "");
        ck_assert_str_eq(domain_call(bus, "lr", "Shutdown", NULL, "ub", 0, 1), ERR_PREFIX "NotRunning");
        ck_assert_str_eq(domain_call(bus, "lr", "Kill", NULL, NULL), ERR_PREFIX "NotRunning");
        ck_assert_str_eq(domain_call(bus, "lr", "Pause", NULL, NULL), ERR_PREFIX "NotRunning");
        ck_assert_str_eq(domain_call(bus, "lr", "Unpause", NULL, NULL), ERR_PREFIX "NotRunning");
        ck_assert_str_eq(domain_call(bus, "dom0", "Start", NULL, NULL), ERR_PREFIX "NotHalted");
        /* a libvirt driver the backend turns down (only qemu, xen and test) */
        ck_assert_str_eq(create(bus, "lr-tpl", "TemplateVM", "black", NULL, NULL), "");
        ck_assert_str_eq(create(bus, "lr-virt", "AppVM", "red", "backend", "libvirt:vbox:///session"), "");
        ck_assert_str_eq(domain_call(bus, "lr-virt", "SetProperty", NULL, "ss", "template", "lr-tpl"), "");
        ck_assert_str_eq(domain_call(bus, "lr-virt", "Start", NULL, NULL), ERR_PREFIX "Backend");
        ck_assert_str_eq(prop(bus, "lr-virt", "state"), "Halted");
        /* a template that does not exist (any more) */
        ck_assert_str_eq(create(bus, "lr-orphan", "AppVM", "red", NULL, NULL), "");
        ck_assert_str_eq(domain_call(bus, "lr-orphan", "Start", NULL, NULL), ERR_PREFIX "NoSuchDomain");
        /* nothing running: ShutdownAll returns at once */
        ck_assert_str_eq(manager_call(bus, "ShutdownAll", NULL, "u", 5), "");
        /* an unknown object */
        sd_bus_error error = SD_BUS_ERROR_NULL;
        ck_assert_int_lt(sd_bus_call_method(bus, NULL, "/org/qubes/Admin1/domain/nope", ADMIN_DOMAIN, "Start", &error,
                                            NULL, ""), 0);
        ck_assert_str_eq(error.name, "org.freedesktop.DBus.Error.UnknownObject");
        sd_bus_error_free(&error);
        /* BuildTemplate's checks (the build itself: test-template-build) */
        ck_assert_str_eq(manager_call(bus, "BuildTemplate", NULL, "sss", "lr", "bookworm", "black"), ERR_PREFIX "AlreadyExists");
        ck_assert_str_eq(manager_call(bus, "BuildTemplate", NULL, "sss", "tb-x", "../etc", "black"), ERR_PREFIX "InvalidValue");
        ck_assert_str_eq(manager_call(bus, "BuildTemplate", NULL, "sss", "tb-x", "bookworm", "pink"), ERR_PREFIX "InvalidValue");
        ck_assert_str_eq(manager_call(bus, "BuildTemplate", NULL, "sss", "0tb", "bookworm", "black"), ERR_PREFIX "InvalidValue");
        sd_bus_unref(bus);
}
END_TEST

/* ---------------------------------------------------------------- introspection, access */

START_TEST(test_introspection) {
        sd_bus *bus = admin_stack_client();
        sd_bus_message *reply = NULL;
        const char *xml;

        ck_assert_int_ge(sd_bus_call_method(bus, NULL, ADMIN_PATH, "org.freedesktop.DBus.Introspectable", "Introspect",
                                            NULL, &reply, ""), 0);
        ck_assert_int_ge(sd_bus_message_read(reply, "s", &xml), 0);
        ck_assert_ptr_nonnull(strstr(xml, "interface name=\"org.qubes.Admin1.Manager\""));
        ck_assert_ptr_nonnull(strstr(xml, "interface name=\"org.freedesktop.DBus.ObjectManager\""));
        ck_assert_ptr_nonnull(strstr(xml, "method name=\"GetAllDomains\""));
        ck_assert_ptr_nonnull(strstr(xml, "signal name=\"DomainStarted\""));
        ck_assert_ptr_nonnull(strstr(xml, "node name=\"domain\""));
        reply = sd_bus_message_unref(reply);
        ck_assert_int_ge(sd_bus_call_method(bus, NULL, ADMIN_PATH "/domain", "org.freedesktop.DBus.Introspectable",
                                            "Introspect", NULL, &reply, ""), 0);
        ck_assert_int_ge(sd_bus_message_read(reply, "s", &xml), 0);
        ck_assert_ptr_nonnull(strstr(xml, "node name=\"dom0\""));
        reply = sd_bus_message_unref(reply);
        ck_assert_int_ge(sd_bus_call_method(bus, NULL, ADMIN_PATH "/domain/dom0", "org.freedesktop.DBus.Introspectable",
                                            "Introspect", NULL, &reply, ""), 0);
        ck_assert_int_ge(sd_bus_message_read(reply, "s", &xml), 0);
        ck_assert_ptr_nonnull(strstr(xml, "interface name=\"org.qubes.Admin1.Domain\""));
        ck_assert_ptr_nonnull(strstr(xml, "property name=\"label\" type=\"s\" access=\"readwrite\""));
        ck_assert_ptr_nonnull(strstr(xml, "property name=\"memory\" type=\"x\" access=\"readwrite\""));
        ck_assert_ptr_nonnull(strstr(xml, "property name=\"state\" type=\"s\" access=\"read\""));
        ck_assert_ptr_nonnull(strstr(xml, "method name=\"Start\""));
        sd_bus_message_unref(reply);
        sd_bus_unref(bus);
}
END_TEST

START_TEST(test_busctl_introspect) {
        static char out[65536];
        char address[600];

        ck_assert(admin_stack_up);
        if (access("/usr/bin/busctl", X_OK) < 0) {
                fprintf(stderr, "SKIP busctl introspect: busctl is not installed\n");
                return;
        }
        snprintf(address, sizeof(address), "--address=%s", admin_stack.admin_address);
        ck_assert_int_eq(test_stack_run(&admin_stack, out, sizeof(out), "/usr/bin/busctl", address, "introspect",
                                        "org.qubes.Admin1", "/org/qubes/Admin1", NULL), 0);
        ck_assert_ptr_nonnull(strstr(out, "org.qubes.Admin1.Manager"));
        ck_assert_ptr_nonnull(strstr(out, ".ListDomains"));
        ck_assert_int_eq(test_stack_run(&admin_stack, out, sizeof(out), "/usr/bin/busctl", address, "introspect",
                                        "org.qubes.Admin1", "/org/qubes/Admin1/domain/dom0", NULL), 0);
        ck_assert_ptr_nonnull(strstr(out, ".label"));
        ck_assert_ptr_nonnull(strstr(out, "writable"));
}
END_TEST

/* In a child with another uid: the call's error name, or "connect: ..." */
static void call_as(uid_t uid, gid_t gid, char *result, size_t size) {
        int pipefd[2];
        pid_t pid;

        ck_assert_int_eq(pipe(pipefd), 0);
        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                char answer[256] = "";
                close(pipefd[0]);
                if (setgroups(0, NULL) < 0 || setgid(gid) < 0 || setuid(uid) < 0)
                        _exit(2);
                sd_bus *bus = NULL;
                int r = sd_bus_new(&bus);
                if (r >= 0)
                        r = sd_bus_set_address(bus, admin_stack.admin_address);
                if (r >= 0)
                        r = sd_bus_start(bus);
                if (r < 0)
                        snprintf(answer, sizeof(answer), "connect: %s", strerror(-r));
                else {
                        sd_bus_error error = SD_BUS_ERROR_NULL;
                        r = sd_bus_call_method(bus, NULL, ADMIN_PATH, ADMIN_MANAGER, "ListDomains", &error, NULL, "");
                        snprintf(answer, sizeof(answer), "%s", r >= 0 ? "ok" : (error.name ?: strerror(-r)));
                }
                (void) !write(pipefd[1], answer, strlen(answer));
                _exit(0);
        }
        close(pipefd[1]);
        ssize_t n = read(pipefd[0], result, size - 1);
        result[n > 0 ? n : 0] = '\0';
        close(pipefd[0]);
        waitpid(pid, NULL, 0);
}

START_TEST(test_access_denied) {
        char result[256];
        struct stat st;

        ck_assert(admin_stack_up);
        ck_assert_int_eq(stat(admin_stack.admin_socket, &st), 0);
        ck_assert_uint_eq(st.st_mode & 0777, 0660);
        ck_assert_uint_eq(st.st_uid, 0);
        /* the socket's mode keeps others out ... */
        call_as(65534, 65534, result, sizeof(result));
        ck_assert_msg(strncmp(result, "connect:", 8) == 0, "nobody got '%s'", result);
        /* ... and qubesd's own check, should the mode be wrong */
        ck_assert_int_eq(chmod(admin_stack.admin_socket, 0666), 0);
        call_as(65534, 65534, result, sizeof(result));
        ck_assert_int_eq(chmod(admin_stack.admin_socket, 0660), 0);
        ck_assert_str_eq(result, "org.freedesktop.DBus.Error.AccessDenied");
        /* members of the admin group are served: test-admin-access (a real group) */
}
END_TEST

static Suite *admin_suite(void) {
        Suite *s = suite_create("admin-api");
        TCase *tc = tcase_create("api");

        tcase_add_unchecked_fixture(tc, stack_setup, admin_stack_stop);
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, test_labels);
        tcase_add_test(tc, test_create_get_list);
        tcase_add_test(tc, test_create_refusals);
        tcase_add_test(tc, test_global_properties);
        tcase_add_test(tc, test_get_all_domains);
        tcase_add_test(tc, test_remove);
        tcase_add_test(tc, test_clone);
        tcase_add_test(tc, test_properties);
        tcase_add_test(tc, test_tags_features);
        tcase_add_test(tc, test_lifecycle_refusals);
        tcase_add_test(tc, test_introspection);
        tcase_add_test(tc, test_busctl_introspect);
        tcase_add_test(tc, test_access_denied);
        suite_add_tcase(s, tc);

        return s;
}

int main(void) {
        SRunner *sr = srunner_create(admin_suite());
        int failed;

        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
