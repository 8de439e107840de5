/* SPDX-License-Identifier: GPL-2.0-or-later */
/* org.qubes.Admin1.Manager on /org/qubes/Admin1 (docs/admin-api.md). */
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "qubesd.h"

static int method_list_domains(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        struct qubesd *q = userdata;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r;

        r = sd_bus_message_new_method_return(m, &reply);
        if (r >= 0)
                r = sd_bus_message_open_container(reply, 'a', "s");
        /* the set is sorted by name */
        for (size_t i = 0; r >= 0 && i < q->set->n_domains; i++)
                r = sd_bus_message_append_basic(reply, 's', q->set->domains[i]->name);
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        return r < 0 ? r : sd_bus_send(NULL, reply, NULL);
}

static int method_get_all_domains(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        struct qubesd *q = userdata;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r;

        r = sd_bus_message_new_method_return(m, &reply);
        if (r >= 0)
                r = sd_bus_message_open_container(reply, 'a', "{sa{sv}}");
        for (size_t i = 0; r >= 0 && i < q->set->n_domains; i++) {
                const struct domain *d = q->set->domains[i];

                r = sd_bus_message_open_container(reply, 'e', "sa{sv}");
                if (r >= 0)
                        r = sd_bus_message_append_basic(reply, 's', d->name);
                if (r >= 0)
                        r = admin_append_domain_all(reply, q, d);
                if (r >= 0)
                        r = sd_bus_message_close_container(reply);
        }
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        return r < 0 ? r : sd_bus_send(NULL, reply, NULL);
}

static int method_get_domain(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        struct qubesd *q = userdata;
        _cleanup_free_ char *path = NULL;
        const char *untrusted_name;
        int r;

        r = sd_bus_message_read(m, "s", &untrusted_name);
        if (r < 0)
                return r;
        if (!domain_set_find(q->set, untrusted_name))
                return admin_errorf(error, ADMIN_ERROR_NO_SUCH_DOMAIN, "No domain named '%s'", untrusted_name);
        path = admin_domain_path(untrusted_name);
        if (!path)
                return -ENOMEM;
        return sd_bus_reply_method_return(m, "o", path);
}

static int method_create_domain(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        const char *untrusted_name, *untrusted_klass;
        int r;

        r = sd_bus_message_read(m, "ss", &untrusted_name, &untrusted_klass);
        if (r < 0)
                return r;
        r = domain_create(userdata, m, untrusted_name, untrusted_klass, error);
        return r < 0 ? r : 1;       /* answered now or once the job ended */
}

static int method_clone_domain(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        const char *untrusted_source, *untrusted_name;
        int r;

        r = sd_bus_message_read(m, "ss", &untrusted_source, &untrusted_name);
        if (r < 0)
                return r;
        r = domain_clone(userdata, m, untrusted_source, untrusted_name, error);
        return r < 0 ? r : 1;       /* answered now or once the job ended */
}

static int method_remove_domain(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        const char *untrusted_name;
        int r;

        r = sd_bus_message_read(m, "s", &untrusted_name);
        if (r < 0)
                return r;
        r = domain_remove(userdata, m, untrusted_name, error);
        return r < 0 ? r : 1;       /* answered now or once the job ended */
}

static int method_list_labels(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r;

        r = sd_bus_message_new_method_return(m, &reply);
        if (r >= 0)
                r = sd_bus_message_open_container(reply, 'a', "(suu)");
        for (size_t i = 0; r >= 0 && i < label_table_size; i++)
                r = sd_bus_message_append(reply, "(suu)", label_table[i].name, label_table[i].index,
                                          label_table[i].color);
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        return r < 0 ? r : sd_bus_send(NULL, reply, NULL);
}

static int method_get_global_properties(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        struct qubesd *q = userdata;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_free_ char *buf = malloc(PROP_VALUE_MAX);
        int r;

        if (!buf)
                return -ENOMEM;
        r = sd_bus_message_new_method_return(m, &reply);
        if (r >= 0)
                r = sd_bus_message_open_container(reply, 'a', "{s(vb)}");
        for (size_t i = 0; r >= 0 && i < prop_table_size; i++) {
                const struct prop_def *p = &prop_table[i];
                bool is_default = true;

                if (!(p->flags & PROP_GLOBAL))
                        continue;
                if (prop_get(q->set, NULL, p, buf, PROP_VALUE_MAX, &is_default) < 0)
                        buf[0] = '\0';
                r = sd_bus_message_open_container(reply, 'e', "s(vb)");
                if (r >= 0)
                        r = sd_bus_message_append_basic(reply, 's', p->name);
                if (r >= 0)
                        r = sd_bus_message_open_container(reply, 'r', "vb");
                if (r >= 0)
                        r = admin_append_value(reply, p, buf, true);
                if (r >= 0)
                        r = sd_bus_message_append(reply, "b", is_default);
                if (r >= 0)
                        r = sd_bus_message_close_container(reply);
                if (r >= 0)
                        r = sd_bus_message_close_container(reply);
        }
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        return r < 0 ? r : sd_bus_send(NULL, reply, NULL);
}

static const struct prop_def *find_settable_global(const char *untrusted_name, sd_bus_error *error) {
        const struct prop_def *p = prop_find(untrusted_name, true);

        if (!p || !(p->flags & PROP_GLOBAL)) {
                admin_errorf(error, ADMIN_ERROR_NO_SUCH_PROPERTY, "No global property '%s'", untrusted_name);
                return NULL;
        }
        if (p->flags & (PROP_READ_ONLY | PROP_WRITE_ONCE)) {
                admin_errorf(error, ADMIN_ERROR_READ_ONLY, "%s: read-only", p->name);
                return NULL;
        }
        return p;
}

static int global_change(struct qubesd *q, const struct prop_def *p, const char *value, sd_bus_error *error) {
        int r;

        /* acknowledged only once committed */
        r = store_set_global(q->store, p->name, value);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "%s: cannot save the change: %s", p->name, strerror(-r));
        r = domain_set_global(q->set, p, value);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "%s: %s", p->name, strerror(-r));
        admin_emit_property_changed(q, NULL, p);
        return 0;
}

static int method_set_global_property(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        struct qubesd *q = userdata;
        _cleanup_free_ char *untrusted_text = malloc(PROP_VALUE_MAX), *value = malloc(PROP_VALUE_MAX);
        char message[512];
        const struct prop_def *p;
        const char *untrusted_name;
        int r;

        if (!untrusted_text || !value)
                return -ENOMEM;
        r = sd_bus_message_read(m, "s", &untrusted_name);
        if (r < 0)
                return r;
        p = find_settable_global(untrusted_name, error);
        if (!p)
                return -EINVAL;
        r = admin_read_value(m, p, true, untrusted_text, PROP_VALUE_MAX);
        if (r < 0)
                return admin_errorf(error, ADMIN_ERROR_INVALID_VALUE, "%s: expected a %s value", p->name,
                                    admin_type_signature(p->type));
        message[0] = '\0';
        r = prop_check(q->set, NULL, p, untrusted_text, value, PROP_VALUE_MAX, message, sizeof(message));
        if (r < 0)
                return admin_error_from_errno(error, r, message[0] ? message : p->name);
        r = global_change(q, p, value, error);
        if (r < 0)
                return r;
        return sd_bus_reply_method_return(m, NULL);
}

static int method_reset_global_property(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        struct qubesd *q = userdata;
        const struct prop_def *p;
        const char *untrusted_name;
        int r;

        r = sd_bus_message_read(m, "s", &untrusted_name);
        if (r < 0)
                return r;
        p = find_settable_global(untrusted_name, error);
        if (!p)
                return -EINVAL;
        r = global_change(q, p, NULL, error);
        if (r < 0)
                return r;
        return sd_bus_reply_method_return(m, NULL);
}

static int method_shutdown_all(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        uint32_t timeout;
        int r;

        r = sd_bus_message_read(m, "u", &timeout);
        if (r < 0)
                return r;
        r = lifecycle_shutdown_all(userdata, timeout, m, error);
        return r < 0 ? r : 1;       /* answered now or once the job ended */
}

static int method_build_template(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        const char *untrusted_name, *untrusted_suite, *untrusted_label;
        int r;

        r = sd_bus_message_read(m, "sss", &untrusted_name, &untrusted_suite, &untrusted_label);
        if (r < 0)
                return r;
        r = template_build(userdata, untrusted_name, untrusted_suite, untrusted_label, error);
        if (r < 0)
                return r;
        return sd_bus_reply_method_return(m, NULL);
}

const sd_bus_vtable admin_manager_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD_WITH_NAMES("ListDomains", "", , "as", SD_BUS_PARAM(names), method_list_domains,
                                 SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_NAMES("GetAllDomains", "", , "a{sa{sv}}", SD_BUS_PARAM(domains),
                                 method_get_all_domains, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_NAMES("CreateDomain", "ssa{sv}", SD_BUS_PARAM(name) SD_BUS_PARAM(klass)
                                 SD_BUS_PARAM(properties), "o", SD_BUS_PARAM(path), method_create_domain,
                                 SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_NAMES("CloneDomain", "ssa{sv}", SD_BUS_PARAM(source) SD_BUS_PARAM(name)
                                 SD_BUS_PARAM(properties), "o", SD_BUS_PARAM(path), method_clone_domain,
                                 SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_NAMES("RemoveDomain", "s", SD_BUS_PARAM(name), "", , method_remove_domain,
                                 SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_NAMES("GetDomain", "s", SD_BUS_PARAM(name), "o", SD_BUS_PARAM(path),
                                 method_get_domain, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_NAMES("ListLabels", "", , "a(suu)", SD_BUS_PARAM(labels), method_list_labels,
                                 SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_NAMES("GetGlobalProperties", "", , "a{s(vb)}", SD_BUS_PARAM(properties),
                                 method_get_global_properties, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_NAMES("SetGlobalProperty", "sv", SD_BUS_PARAM(name) SD_BUS_PARAM(value), "", ,
                                 method_set_global_property, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_NAMES("ResetGlobalProperty", "s", SD_BUS_PARAM(name), "", ,
                                 method_reset_global_property, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_NAMES("ShutdownAll", "u", SD_BUS_PARAM(timeout), "", , method_shutdown_all,
                                 SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_NAMES("BuildTemplate", "sss", SD_BUS_PARAM(name) SD_BUS_PARAM(suite)
                                 SD_BUS_PARAM(label), "", , method_build_template, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_NAMES("CreateDisposable", "s", SD_BUS_PARAM(template), "so", SD_BUS_PARAM(name)
                                 SD_BUS_PARAM(path), admin_method_create_disposable, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_NAMES("RegisterAskAgent", "o", SD_BUS_PARAM(path), "", , admin_method_register_ask_agent,
                                 SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD("UnregisterAskAgent", "", "", admin_method_unregister_ask_agent, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_NAMES("GetPolicyStatus", "", , "buutss", SD_BUS_PARAM(ok) SD_BUS_PARAM(files)
                                 SD_BUS_PARAM(rules) SD_BUS_PARAM(loaded_usec) SD_BUS_PARAM(policy_dir)
                                 SD_BUS_PARAM(errors), admin_method_get_policy_status, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_SIGNAL_WITH_NAMES("DomainAdded", "so", SD_BUS_PARAM(name) SD_BUS_PARAM(path), 0),
        SD_BUS_SIGNAL_WITH_NAMES("DomainRemoved", "s", SD_BUS_PARAM(name), 0),
        SD_BUS_SIGNAL_WITH_NAMES("DomainStateChanged", "ss", SD_BUS_PARAM(name) SD_BUS_PARAM(state), 0),
        SD_BUS_SIGNAL_WITH_NAMES("DomainStarted", "s", SD_BUS_PARAM(name), 0),
        SD_BUS_SIGNAL_WITH_NAMES("DomainStopped", "si", SD_BUS_PARAM(name) SD_BUS_PARAM(reason), 0),
        SD_BUS_SIGNAL_WITH_NAMES("PropertyChanged", "ssvb", SD_BUS_PARAM(domain) SD_BUS_PARAM(property)
                                 SD_BUS_PARAM(value) SD_BUS_PARAM(is_default), 0),
        SD_BUS_SIGNAL_WITH_NAMES("TagsChanged", "sas", SD_BUS_PARAM(domain) SD_BUS_PARAM(tags), 0),
        SD_BUS_SIGNAL_WITH_NAMES("FeaturesChanged", "sa{ss}", SD_BUS_PARAM(domain) SD_BUS_PARAM(features), 0),
        SD_BUS_SIGNAL_WITH_NAMES("TemplateBuildProgress", "sus", SD_BUS_PARAM(name) SD_BUS_PARAM(percent)
                                 SD_BUS_PARAM(line), 0),
        SD_BUS_SIGNAL_WITH_NAMES("TemplateBuildFinished", "sis", SD_BUS_PARAM(name) SD_BUS_PARAM(result)
                                 SD_BUS_PARAM(message), 0),
        SD_BUS_VTABLE_END
};
