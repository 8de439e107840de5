/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * org.qubes.Admin1.Domain: one object per domain under
 * /org/qubes/Admin1/domain/<encoded name>, served by one fallback vtable.
 * Its properties are made at start-up from prop_table, so that a property
 * added to the table appears on the bus with nothing else to change.
 */
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "qubesd.h"

static sd_bus_vtable *domain_vtable;

static struct domain *domain_of(void *userdata) {
        return ((struct domain_run *) userdata)->domain;
}

int admin_domain_find(sd_bus *bus, const char *path, const char *interface, void *userdata, void **ret_found,
                      sd_bus_error *error) {
        struct qubesd *q = userdata;
        _cleanup_free_ char *untrusted_name = NULL;
        struct domain *d;
        struct domain_run *run;
        int r;

        r = sd_bus_path_decode(path, ADMIN_PATH_DOMAINS, &untrusted_name);
        if (r <= 0)
                return r;
        d = domain_set_find(q->set, untrusted_name);
        if (!d)
                return 0;
        run = domain_run_get(q, d);
        if (!run)
                return -ENOMEM;
        *ret_found = run;
        return 1;
}

int admin_domain_enumerate(sd_bus *bus, const char *path, void *userdata, char ***ret_nodes, sd_bus_error *error) {
        struct qubesd *q = userdata;
        char **nodes = calloc(q->set->n_domains + 1, sizeof(char *));

        if (!nodes)
                return -ENOMEM;
        for (size_t i = 0; i < q->set->n_domains; i++) {
                nodes[i] = admin_domain_path(q->set->domains[i]->name);
                if (!nodes[i]) {
                        for (size_t j = 0; j < i; j++)
                                free(nodes[j]);
                        free(nodes);
                        return -ENOMEM;
                }
        }
        *ret_nodes = nodes;
        return 0;
}

/* ---------------------------------------------------------------- properties */

static int property_get(sd_bus *bus, const char *path, const char *interface, const char *property,
                        sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        struct domain_run *run = userdata;
        const struct prop_def *p = prop_find(property, false);
        _cleanup_free_ char *buf = malloc(PROP_VALUE_MAX);
        bool is_default;

        if (!p || !buf)
                return -ENOMEM;
        if (prop_get(run->q->set, run->domain, p, buf, PROP_VALUE_MAX, &is_default) < 0)
                buf[0] = '\0';
        return admin_append_value(reply, p, buf, false);
}

static int property_set(sd_bus *bus, const char *path, const char *interface, const char *property,
                        sd_bus_message *value, void *userdata, sd_bus_error *error) {
        struct domain_run *run = userdata;
        const struct prop_def *p = prop_find(property, false);
        _cleanup_free_ char *untrusted_text = malloc(PROP_VALUE_MAX);
        int r;

        if (!p || !untrusted_text)
                return -ENOMEM;
        r = admin_read_value(value, p, false, untrusted_text, PROP_VALUE_MAX);
        if (r < 0)
                return admin_errorf(error, ADMIN_ERROR_INVALID_VALUE, "%s: value too long", p->name);
        return admin_domain_set_property(run->q, run->domain, p, untrusted_text, error);
}

static int property_get_klass(sd_bus *bus, const char *path, const char *interface, const char *property,
                              sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return sd_bus_message_append(reply, "s", domain_class_to_string(domain_of(userdata)->klass));
}

static int property_get_state(sd_bus *bus, const char *path, const char *interface, const char *property,
                              sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return sd_bus_message_append(reply, "s", power_state_to_string(domain_of(userdata)->state));
}

static int property_get_tags(sd_bus *bus, const char *path, const char *interface, const char *property,
                             sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        struct domain *d = domain_of(userdata);
        return admin_append_strv(reply, d->tags, d->n_tags);
}

static int property_get_features(sd_bus *bus, const char *path, const char *interface, const char *property,
                                 sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return admin_append_features(reply, domain_of(userdata));
}

static int property_get_default_properties(sd_bus *bus, const char *path, const char *interface,
                                           const char *property, sd_bus_message *reply, void *userdata,
                                           sd_bus_error *error) {
        struct domain_run *run = userdata;
        return admin_append_default_properties(reply, run->q, run->domain);
}

int admin_domain_set_property(struct qubesd *q, struct domain *d, const struct prop_def *p, const char *untrusted_text,
                              sd_bus_error *error) {
        _cleanup_free_ char *value = NULL;
        char message[512] = "";
        int r;

        if (p->flags & (PROP_READ_ONLY | PROP_WRITE_ONCE))
                return admin_errorf(error, ADMIN_ERROR_READ_ONLY, "%s: %s is %s", d->name, p->name,
                                    p->flags & PROP_READ_ONLY ? "read-only" : "set at creation only");
        if (domain_is_start_time_property(p) && d->state != POWER_HALTED && d->state != POWER_CRASHED)
                return admin_errorf(error, ADMIN_ERROR_NOT_HALTED, "%s: %s can only change while the domain is halted (it is %s)",
                                    d->name, p->name, power_state_to_string(d->state));
        if (untrusted_text) {
                value = malloc(PROP_VALUE_MAX);
                if (!value)
                        return -ENOMEM;
                r = prop_check(q->set, d, p, untrusted_text, value, PROP_VALUE_MAX, message, sizeof(message));
                if (r == -EBUSY)
                        return admin_errorf(error, ADMIN_ERROR_NOT_HALTED, "%s: %s", d->name,
                                            message[0] ? message : p->name);
                if (r < 0)
                        return admin_error_from_errno(error, r, message[0] ? message : p->name);
        }
        /* acknowledged only once committed */
        r = store_set_value(q->store, d->name, p->name, value);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "%s: cannot save %s: %s", d->name, p->name, strerror(-r));
        r = domain_set_value(d, p, value);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "%s: %s: %s", d->name, p->name, strerror(-r));
        admin_emit_property_changed(q, d, p);
        return 0;
}

/* ---------------------------------------------------------------- methods */

#define DOMAIN_METHOD_PROLOGUE                                  \
        struct domain_run *run = userdata;                      \
        struct qubesd *q = run->q;                              \
        struct domain *d = run->domain

static int method_start(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        DOMAIN_METHOD_PROLOGUE;
        /* > 0: answered now or later, by the lifecycle */
        int r = lifecycle_start(q, d, m, error);
        return r < 0 ? r : 1;
}

static int method_shutdown(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        DOMAIN_METHOD_PROLOGUE;
        uint32_t timeout;
        int wait, r;

        r = sd_bus_message_read(m, "ub", &timeout, &wait);
        if (r < 0)
                return r;
        r = lifecycle_shutdown(q, d, timeout, wait, m, error);
        return r < 0 ? r : 1;
}

static int method_kill(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        DOMAIN_METHOD_PROLOGUE;
        int r = lifecycle_kill(q, d, m, error);
        return r < 0 ? r : 1;
}

static int method_pause(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        DOMAIN_METHOD_PROLOGUE;
        int r = lifecycle_pause(q, d, true, m, error);
        return r < 0 ? r : 1;
}

static int method_unpause(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        DOMAIN_METHOD_PROLOGUE;
        int r = lifecycle_pause(q, d, false, m, error);
        return r < 0 ? r : 1;
}

static const struct prop_def *find_domain_property(const struct domain *d, const char *untrusted_name,
                                                   sd_bus_error *error) {
        const struct prop_def *p = prop_find(untrusted_name, false);

        if (!p || (p->flags & PROP_GLOBAL)) {
                admin_errorf(error, ADMIN_ERROR_NO_SUCH_PROPERTY, "%s: no property '%s'", d->name, untrusted_name);
                return NULL;
        }
        return p;
}

static int method_set_property(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        DOMAIN_METHOD_PROLOGUE;
        const char *untrusted_name, *untrusted_value;
        const struct prop_def *p;
        int r;

        r = sd_bus_message_read(m, "ss", &untrusted_name, &untrusted_value);
        if (r < 0)
                return r;
        p = find_domain_property(d, untrusted_name, error);
        if (!p)
                return -EINVAL;
        r = admin_domain_set_property(q, d, p, untrusted_value, error);
        if (r < 0)
                return r;
        return sd_bus_reply_method_return(m, NULL);
}

static int method_reset_property(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        DOMAIN_METHOD_PROLOGUE;
        const char *untrusted_name;
        const struct prop_def *p;
        int r;

        r = sd_bus_message_read(m, "s", &untrusted_name);
        if (r < 0)
                return r;
        p = find_domain_property(d, untrusted_name, error);
        if (!p)
                return -EINVAL;
        r = admin_domain_set_property(q, d, p, NULL, error);
        if (r < 0)
                return r;
        return sd_bus_reply_method_return(m, NULL);
}

static int method_get_property_details(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        DOMAIN_METHOD_PROLOGUE;
        _cleanup_free_ char *buf = malloc(PROP_VALUE_MAX);
        const char *untrusted_name;
        const struct prop_def *p;
        bool is_default = true;
        int r;

        if (!buf)
                return -ENOMEM;
        r = sd_bus_message_read(m, "s", &untrusted_name);
        if (r < 0)
                return r;
        p = find_domain_property(d, untrusted_name, error);
        if (!p)
                return -EINVAL;
        if (prop_get(q->set, d, p, buf, PROP_VALUE_MAX, &is_default) < 0)
                buf[0] = '\0';
        return sd_bus_reply_method_return(m, "(sbss)", buf, is_default, admin_type_name(p->type), p->doc ?: "");
}

static int method_add_tag(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        DOMAIN_METHOD_PROLOGUE;
        const char *untrusted_tag;
        int r;

        r = sd_bus_message_read(m, "s", &untrusted_tag);
        if (r < 0)
                return r;
        if (domain_has_tag(d, untrusted_tag))
                return sd_bus_reply_method_return(m, NULL);
        r = domain_add_tag(d, untrusted_tag);
        if (r < 0)
                return admin_errorf(error, ADMIN_ERROR_INVALID_VALUE,
                                    "%s: invalid tag '%s' (1-%d characters of A-Z a-z 0-9 _ -)", d->name,
                                    untrusted_tag, TAG_MAX);
        r = store_add_tag(q->store, d->name, untrusted_tag);
        if (r < 0) {
                (void) domain_remove_tag(d, untrusted_tag);
                return sd_bus_error_set_errnof(error, r, "%s: cannot save the tag: %s", d->name, strerror(-r));
        }
        admin_emit_tags_changed(q, d);
        return sd_bus_reply_method_return(m, NULL);
}

static int method_remove_tag(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        DOMAIN_METHOD_PROLOGUE;
        const char *untrusted_tag;
        int r;

        r = sd_bus_message_read(m, "s", &untrusted_tag);
        if (r < 0)
                return r;
        if (!domain_has_tag(d, untrusted_tag))
                return admin_errorf(error, ADMIN_ERROR_INVALID_VALUE, "%s: has no tag '%s'", d->name, untrusted_tag);
        r = store_remove_tag(q->store, d->name, untrusted_tag);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "%s: cannot save the change: %s", d->name, strerror(-r));
        (void) domain_remove_tag(d, untrusted_tag);
        admin_emit_tags_changed(q, d);
        return sd_bus_reply_method_return(m, NULL);
}

static int method_set_feature(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        DOMAIN_METHOD_PROLOGUE;
        const char *untrusted_key, *untrusted_value, *current;
        _cleanup_free_ char *old = NULL;
        int r;

        r = sd_bus_message_read(m, "ss", &untrusted_key, &untrusted_value);
        if (r < 0)
                return r;
        current = domain_get_feature(d, untrusted_key);
        if (current && !(old = strdup(current)))
                return -ENOMEM;
        r = domain_set_feature(d, untrusted_key, untrusted_value);
        if (r == -EINVAL)
                return admin_errorf(error, ADMIN_ERROR_INVALID_VALUE,
                                    "%s: invalid feature '%s' (key: 1-%d characters of A-Z a-z 0-9 _ . -; value: at most %d bytes of text)",
                                    d->name, untrusted_key, FEATURE_KEY_MAX, FEATURE_VALUE_MAX);
        if (r < 0)
                return r;
        r = store_set_feature(q->store, d->name, untrusted_key, untrusted_value);
        if (r < 0) {
                if (old)
                        (void) domain_set_feature(d, untrusted_key, old);
                else
                        (void) domain_remove_feature(d, untrusted_key);
                return sd_bus_error_set_errnof(error, r, "%s: cannot save the feature: %s", d->name, strerror(-r));
        }
        admin_emit_features_changed(q, d);
        return sd_bus_reply_method_return(m, NULL);
}

static int method_remove_feature(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        DOMAIN_METHOD_PROLOGUE;
        const char *untrusted_key;
        int r;

        r = sd_bus_message_read(m, "s", &untrusted_key);
        if (r < 0)
                return r;
        if (!domain_get_feature(d, untrusted_key))
                return admin_errorf(error, ADMIN_ERROR_INVALID_VALUE, "%s: has no feature '%s'", d->name,
                                    untrusted_key);
        r = store_set_feature(q->store, d->name, untrusted_key, NULL);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "%s: cannot save the change: %s", d->name, strerror(-r));
        (void) domain_remove_feature(d, untrusted_key);
        admin_emit_features_changed(q, d);
        return sd_bus_reply_method_return(m, NULL);
}

static const sd_bus_vtable domain_fixed_vtable[] = {
        SD_BUS_PROPERTY("klass", "s", property_get_klass, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("state", "s", property_get_state, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("tags", "as", property_get_tags, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("features", "a{ss}", property_get_features, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("default_properties", "as", property_get_default_properties, 0,
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_METHOD("Start", "", "", method_start, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_NAMES("Shutdown", "ub", SD_BUS_PARAM(timeout) SD_BUS_PARAM(wait), "", , method_shutdown,
                                 SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD("Kill", "", "", method_kill, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD("Pause", "", "", method_pause, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD("Unpause", "", "", method_unpause, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_NAMES("SetProperty", "ss", SD_BUS_PARAM(name) SD_BUS_PARAM(value), "", ,
                                 method_set_property, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_NAMES("ResetProperty", "s", SD_BUS_PARAM(name), "", , method_reset_property,
                                 SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_NAMES("GetPropertyDetails", "s", SD_BUS_PARAM(name), "(sbss)", SD_BUS_PARAM(details),
                                 method_get_property_details, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_NAMES("AddTag", "s", SD_BUS_PARAM(tag), "", , method_add_tag, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_NAMES("RemoveTag", "s", SD_BUS_PARAM(tag), "", , method_remove_tag,
                                 SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_NAMES("SetFeature", "ss", SD_BUS_PARAM(key) SD_BUS_PARAM(value), "", ,
                                 method_set_feature, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_NAMES("RemoveFeature", "s", SD_BUS_PARAM(key), "", , method_remove_feature,
                                 SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_NAMES("Run", "ssbb", SD_BUS_PARAM(user) SD_BUS_PARAM(command) SD_BUS_PARAM(just_exec)
                                 SD_BUS_PARAM(autostart), "hu", SD_BUS_PARAM(listen_fd) SD_BUS_PARAM(port),
                                 admin_method_run, SD_BUS_VTABLE_UNPRIVILEGED),
};

static bool served_by_fixed_vtable(const char *name) {
        for (size_t i = 0; i < ELEMENTSOF(domain_fixed_vtable); i++)
                if (domain_fixed_vtable[i].type == _SD_BUS_VTABLE_PROPERTY &&
                    strcmp(domain_fixed_vtable[i].x.property.member, name) == 0)
                        return true;
        return false;
}

/* START, one entry per domain property of the table, the fixed part, END. */
int admin_domain_vtable_build(void) {
        sd_bus_vtable *v;
        size_t n = 0;

        if (domain_vtable)
                return 0;
        v = calloc(1 + prop_table_size + ELEMENTSOF(domain_fixed_vtable) + 1, sizeof(*v));
        if (!v)
                return -ENOMEM;
        v[n++] = (sd_bus_vtable) SD_BUS_VTABLE_START(0);
        for (size_t i = 0; i < prop_table_size; i++) {
                const struct prop_def *p = &prop_table[i];

                if ((p->flags & PROP_GLOBAL) || served_by_fixed_vtable(p->name))
                        continue;
                if (p->flags & (PROP_READ_ONLY | PROP_WRITE_ONCE))
                        v[n++] = (sd_bus_vtable) SD_BUS_PROPERTY(p->name, admin_type_signature(p->type), property_get,
                                                                 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE);
                else
                        v[n++] = (sd_bus_vtable) SD_BUS_WRITABLE_PROPERTY(p->name, admin_type_signature(p->type),
                                                                          property_get, property_set, 0,
                                                                          SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE |
                                                                          SD_BUS_VTABLE_UNPRIVILEGED);
        }
        for (size_t i = 0; i < ELEMENTSOF(domain_fixed_vtable); i++)
                v[n++] = domain_fixed_vtable[i];
        v[n++] = (sd_bus_vtable) SD_BUS_VTABLE_END;
        domain_vtable = v;
        return 0;
}

const sd_bus_vtable *admin_domain_vtable(void) {
        return domain_vtable;
}
