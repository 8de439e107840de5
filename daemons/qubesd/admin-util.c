/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What both Admin API interfaces share: error names, the mapping between the
 * property table's canonical text and D-Bus types (docs/admin-api.md), the
 * composite values (tags, features, default_properties, a whole domain), the
 * signals sent to every client, and calls answered later.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "qubesd.h"

int admin_errorf(sd_bus_error *error, const char *name, const char *format, ...) {
        _cleanup_free_ char *message = NULL;
        va_list ap;

        va_start(ap, format);
        if (vasprintf(&message, format, ap) < 0)
                message = NULL;
        va_end(ap);
        return sd_bus_error_set(error, name, message ?: "Out of memory");
}

int admin_error_from_errno(sd_bus_error *error, int r, const char *message) {
        const char *name;

        switch (r) {
        case -EINVAL:
        case -ENOENT:           /* names a domain or label that does not exist */
        case -ELOOP:            /* a netvm loop */
        case -ERANGE:
                name = ADMIN_ERROR_INVALID_VALUE;
                break;
        case -EPERM:
        case -EROFS:
                name = ADMIN_ERROR_READ_ONLY;
                break;
        case -EEXIST:
                name = ADMIN_ERROR_ALREADY_EXISTS;
                break;
        case -EBUSY:
                name = ADMIN_ERROR_IN_USE;
                break;
        default:
                return sd_bus_error_set_errnof(error, r, "%s", message);
        }
        return sd_bus_error_set(error, name, message);
}

int admin_error_reply(sd_bus_message *m, const char *name, const char *format, ...) {
        _cleanup_free_ char *message = NULL;
        va_list ap;

        va_start(ap, format);
        if (vasprintf(&message, format, ap) < 0)
                message = NULL;
        va_end(ap);
        return sd_bus_reply_method_errorf(m, name, "%s", message ?: "Out of memory");
}

const char *admin_type_signature(enum prop_type t) {
        switch (t) {
        case PROP_INT:
                return "x";
        case PROP_BOOL:
                return "b";
        default:
                return "s";
        }
}

const char *admin_type_name(enum prop_type t) {
        static const char *const names[] = {
                [PROP_STR] = "str", [PROP_INT] = "int", [PROP_BOOL] = "bool", [PROP_LABEL] = "label",
                [PROP_DOMAIN] = "domain", [PROP_UUID] = "uuid", [PROP_ENUM] = "enum",
        };
        return (size_t) t < ELEMENTSOF(names) ? names[t] : "unknown";
}

int admin_append_value(sd_bus_message *reply, const struct prop_def *p, const char *text, bool as_variant) {
        const char *sig = admin_type_signature(p->type);
        int r;

        if (as_variant) {
                r = sd_bus_message_open_container(reply, 'v', sig);
                if (r < 0)
                        return r;
        }
        switch (p->type) {
        case PROP_INT: {
                /* "" = no value (a computed default that has none): 0 */
                int64_t v = *text ? strtoll(text, NULL, 10) : 0;
                r = sd_bus_message_append_basic(reply, 'x', &v);
                break;
        }
        case PROP_BOOL: {
                int v = strcmp(text, "True") == 0;
                r = sd_bus_message_append_basic(reply, 'b', &v);
                break;
        }
        default:
                r = sd_bus_message_append_basic(reply, 's', text);
                break;
        }
        if (r < 0 || !as_variant)
                return r;
        return sd_bus_message_close_container(reply);
}

int admin_read_value(sd_bus_message *m, const struct prop_def *p, bool as_variant, char *buf, size_t size) {
        const char *contents = admin_type_signature(p->type);
        char type;
        int r;

        if (as_variant) {
                r = sd_bus_message_peek_type(m, &type, &contents);
                if (r < 0)
                        return r;
                if (type != 'v' || !contents || strlen(contents) != 1)
                        return -EINVAL;
                r = sd_bus_message_enter_container(m, 'v', contents);
                if (r < 0)
                        return r;
        }
        switch (contents[0]) {
        case 's': {
                const char *untrusted_s;
                r = sd_bus_message_read_basic(m, 's', &untrusted_s);
                if (r >= 0 && (size_t) snprintf(buf, size, "%s", untrusted_s) >= size)
                        r = -E2BIG;
                break;
        }
        case 'b': {
                int v = 0;
                r = sd_bus_message_read_basic(m, 'b', &v);
                snprintf(buf, size, "%s", v ? "True" : "False");
                break;
        }
        case 'x': case 't': case 'i': case 'u': {
                union { int64_t x; uint64_t t; int32_t i; uint32_t u; } v = {};
                r = sd_bus_message_read_basic(m, contents[0], &v);
                if (contents[0] == 'x')
                        snprintf(buf, size, "%" PRIi64, v.x);
                else if (contents[0] == 't')
                        snprintf(buf, size, "%" PRIu64, v.t);
                else if (contents[0] == 'i')
                        snprintf(buf, size, "%" PRIi32, v.i);
                else
                        snprintf(buf, size, "%" PRIu32, v.u);
                break;
        }
        default:
                r = -EINVAL;
        }
        if (r < 0 || !as_variant)
                return r;
        return sd_bus_message_exit_container(m);
}

char *admin_domain_path(const char *name) {
        char *path = NULL;

        return sd_bus_path_encode(ADMIN_PATH_DOMAINS, name, &path) < 0 ? NULL : path;
}

int admin_append_strv(sd_bus_message *reply, char **strv, size_t n) {
        int r = sd_bus_message_open_container(reply, 'a', "s");
        for (size_t i = 0; r >= 0 && i < n; i++)
                r = sd_bus_message_append_basic(reply, 's', strv[i]);
        return r < 0 ? r : sd_bus_message_close_container(reply);
}

int admin_append_features(sd_bus_message *reply, const struct domain *d) {
        int r = sd_bus_message_open_container(reply, 'a', "{ss}");
        for (size_t i = 0; r >= 0 && i < d->n_features; i++)
                r = sd_bus_message_append(reply, "{ss}", d->features[i].key, d->features[i].value);
        return r < 0 ? r : sd_bus_message_close_container(reply);
}

static bool prop_is_domain_property(const struct prop_def *p) {
        return !(p->flags & PROP_GLOBAL);
}

/* Names served by qubesd itself, not through the table, even if the table lists them. */
static bool prop_is_computed_here(const char *name) {
        return strcmp(name, "klass") == 0 || strcmp(name, "state") == 0 || strcmp(name, "tags") == 0 ||
               strcmp(name, "features") == 0 || strcmp(name, "default_properties") == 0;
}

int admin_append_default_properties(sd_bus_message *reply, struct qubesd *q, const struct domain *d) {
        int r = sd_bus_message_open_container(reply, 'a', "s");
        for (size_t i = 0; r >= 0 && i < prop_table_size; i++) {
                const struct prop_def *p = &prop_table[i];
                if (prop_is_domain_property(p) && !prop_is_computed_here(p->name) && !d->values[i] &&
                    !(p->flags & PROP_WRITE_ONCE))
                        r = sd_bus_message_append_basic(reply, 's', p->name);
        }
        return r < 0 ? r : sd_bus_message_close_container(reply);
}

/* A {sv} dict entry with a container value: open it, the caller appends the
 * value, entry_close() takes the caller's result and closes both. */
static int entry_open(sd_bus_message *reply, const char *key, const char *signature) {
        int r = sd_bus_message_open_container(reply, 'e', "sv");
        if (r >= 0)
                r = sd_bus_message_append_basic(reply, 's', key);
        return r < 0 ? r : sd_bus_message_open_container(reply, 'v', signature);
}

static int entry_close(sd_bus_message *reply, int r) {
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        return r < 0 ? r : sd_bus_message_close_container(reply);
}

/* One domain as GetAllDomains gives it: a{sv}. */
int admin_append_domain_all(sd_bus_message *reply, struct qubesd *q, const struct domain *d) {
        _cleanup_free_ char *buf = malloc(PROP_VALUE_MAX);
        int r;

        if (!buf)
                return -ENOMEM;
        r = sd_bus_message_open_container(reply, 'a', "{sv}");
        for (size_t i = 0; r >= 0 && i < prop_table_size; i++) {
                const struct prop_def *p = &prop_table[i];
                bool is_default;

                if (!prop_is_domain_property(p) || prop_is_computed_here(p->name))
                        continue;
                if (prop_get(q->set, d, p, buf, PROP_VALUE_MAX, &is_default) < 0)
                        buf[0] = '\0';
                r = sd_bus_message_open_container(reply, 'e', "sv");
                if (r >= 0)
                        r = sd_bus_message_append_basic(reply, 's', p->name);
                if (r >= 0)
                        r = admin_append_value(reply, p, buf, true);
                if (r >= 0)
                        r = sd_bus_message_close_container(reply);
        }
        if (r >= 0)
                r = sd_bus_message_append(reply, "{sv}{sv}", "klass", "s", domain_class_to_string(d->klass),
                                          "state", "s", power_state_to_string(d->state));
        if (r >= 0)
                r = entry_open(reply, "tags", "as");
        if (r >= 0)
                r = entry_close(reply, admin_append_strv(reply, d->tags, d->n_tags));
        if (r >= 0)
                r = entry_open(reply, "features", "a{ss}");
        if (r >= 0)
                r = entry_close(reply, admin_append_features(reply, d));
        if (r >= 0)
                r = entry_open(reply, "default_properties", "as");
        if (r >= 0)
                r = entry_close(reply, admin_append_default_properties(reply, q, d));
        return r < 0 ? r : sd_bus_message_close_container(reply);
}

/* ---------------------------------------------------------------- signals */

/* Every bus a signal goes to: the allowed clients (admin-server.c admits at
 * most QUBESD_MAX_CLIENTS) and the system bus.  Their number. */
static size_t signal_buses(struct qubesd *q, sd_bus *buses[static QUBESD_MAX_CLIENTS + 1]) {
        size_t n = 0;

        for (struct admin_client *c = q->clients; c && n < QUBESD_MAX_CLIENTS; c = c->next)
                if (c->allowed)
                        buses[n++] = c->bus;
        if (q->system_bus)
                buses[n++] = q->system_bus;
        return n;
}

/* A signal of the manager on every bus; append() adds its arguments. */
static void emit_manager_signal(struct qubesd *q, const char *member,
                                int (*append)(sd_bus_message *m, const void *data), const void *data) {
        sd_bus *buses[QUBESD_MAX_CLIENTS + 1];
        size_t n = signal_buses(q, buses);

        for (size_t i = 0; i < n; i++) {
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
                int r = sd_bus_message_new_signal(buses[i], &m, ADMIN_PATH_MANAGER, ADMIN_INTERFACE_MANAGER, member);
                if (r >= 0)
                        r = append(m, data);
                if (r >= 0)
                        r = sd_bus_send(buses[i], m, NULL);
                if (r < 0 && r != -ENOTCONN)
                        log_debug_errno(r, "Cannot send signal %s", member);
        }
}

struct va_args {
        const char *types;
        va_list ap;
};

static int append_va_args(sd_bus_message *m, const void *data) {
        const struct va_args *args = data;
        va_list copy;
        int r;

        va_copy(copy, ((struct va_args *) args)->ap);
        r = sd_bus_message_appendv(m, args->types, copy);
        va_end(copy);
        return r;
}

void admin_emit_manager_signal(struct qubesd *q, const char *member, const char *types, ...) {
        struct va_args args = { .types = types };

        va_start(args.ap, types);
        emit_manager_signal(q, member, append_va_args, &args);
        va_end(args.ap);
}

struct property_value {
        const struct domain *domain;    /* NULL for a global property */
        const struct prop_def *prop;
        const char *text;
        bool is_default;
};

static int append_property_value(sd_bus_message *m, const void *data) {
        const struct property_value *v = data;
        int r;

        r = sd_bus_message_append(m, "ss", v->domain ? v->domain->name : "", v->prop->name);
        if (r >= 0)
                r = admin_append_value(m, v->prop, v->text, true);
        if (r >= 0)
                r = sd_bus_message_append(m, "b", v->is_default);
        return r;
}

/* PropertyChanged for a domain property (d != NULL) or a global one. */
void admin_emit_property_changed(struct qubesd *q, const struct domain *d, const struct prop_def *p) {
        _cleanup_free_ char *buf = malloc(PROP_VALUE_MAX);
        struct property_value v = { .domain = d, .prop = p, .is_default = true };

        if (!buf)
                return;
        if (prop_get(q->set, d, p, buf, PROP_VALUE_MAX, &v.is_default) < 0)
                buf[0] = '\0';
        v.text = buf;
        emit_manager_signal(q, "PropertyChanged", append_property_value, &v);
        if (d)
                admin_emit_domain_properties_changed(q, d, p->name);
        /* what policy sees may depend on it (a default follows templates and globals) */
        if (d)
                policy_link_domain_changed(q, d);
        else
                policy_link_all_changed(q);
}

void admin_emit_domain_properties_changed(struct qubesd *q, const struct domain *d, const char *property) {
        _cleanup_free_ char *path = admin_domain_path(d->name);
        sd_bus *buses[QUBESD_MAX_CLIENTS + 1];
        size_t n = signal_buses(q, buses);

        if (!path)
                return;
        for (size_t i = 0; i < n; i++)
                (void) sd_bus_emit_properties_changed(buses[i], path, ADMIN_INTERFACE_DOMAIN, property,
                                                      "default_properties", NULL);
}

static int append_tags(sd_bus_message *m, const void *data) {
        const struct domain *d = data;
        int r = sd_bus_message_append_basic(m, 's', d->name);

        return r < 0 ? r : admin_append_strv(m, d->tags, d->n_tags);
}

static int append_features(sd_bus_message *m, const void *data) {
        const struct domain *d = data;
        int r = sd_bus_message_append_basic(m, 's', d->name);

        return r < 0 ? r : admin_append_features(m, d);
}

void admin_emit_tags_changed(struct qubesd *q, const struct domain *d) {
        emit_manager_signal(q, "TagsChanged", append_tags, d);
        admin_emit_domain_properties_changed(q, d, "tags");
        policy_link_domain_changed(q, d);
}

void admin_emit_features_changed(struct qubesd *q, const struct domain *d) {
        emit_manager_signal(q, "FeaturesChanged", append_features, d);
        admin_emit_domain_properties_changed(q, d, "features");
        policy_link_domain_changed(q, d);
}

void admin_emit_domain_added(struct qubesd *q, const struct domain *d) {
        _cleanup_free_ char *path = admin_domain_path(d->name);
        sd_bus *buses[QUBESD_MAX_CLIENTS + 1];
        size_t n = signal_buses(q, buses);

        policy_link_domain_changed(q, d);
        if (!path)
                return;
        admin_emit_manager_signal(q, "DomainAdded", "so", d->name, path);
        for (size_t i = 0; i < n; i++)
                (void) sd_bus_emit_interfaces_added(buses[i], path, ADMIN_INTERFACE_DOMAIN, NULL);
}

void admin_emit_domain_removed(struct qubesd *q, const char *name) {
        _cleanup_free_ char *path = admin_domain_path(name);
        sd_bus *buses[QUBESD_MAX_CLIENTS + 1];
        size_t n = signal_buses(q, buses);

        policy_link_domain_removed(q, name);
        if (!path)
                return;
        admin_emit_manager_signal(q, "DomainRemoved", "s", name);
        /* The object is gone already: InterfacesRemoved names the interface only. */
        for (size_t i = 0; i < n; i++)
                (void) sd_bus_emit_signal(buses[i], ADMIN_PATH_MANAGER, "org.freedesktop.DBus.ObjectManager",
                                          "InterfacesRemoved", "oas", path, 1, ADMIN_INTERFACE_DOMAIN);
}

/* ---------------------------------------------------------------- calls answered later */

int pending_call_add(struct pending_call **list, sd_bus_message *m) {
        struct pending_call *p;

        if (!m)
                return 0;
        p = calloc(1, sizeof(*p));
        if (!p)
                return -ENOMEM;
        p->message = sd_bus_message_ref(m);
        p->next = *list;
        *list = p;
        return 0;
}

void pending_calls_reply(struct pending_call **list, const char *error_name, const char *message) {
        while (*list) {
                struct pending_call *p = *list;

                *list = p->next;
                if (error_name)
                        (void) sd_bus_reply_method_errorf(p->message, error_name, "%s", message);
                else
                        (void) sd_bus_reply_method_return(p->message, NULL);
                sd_bus_message_unref(p->message);
                free(p);
        }
}

void pending_calls_free(struct pending_call **list) {
        while (*list) {
                struct pending_call *p = *list;

                *list = p->next;
                sd_bus_message_unref(p->message);
                free(p);
        }
}
