/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qubes-ctl prefs and global-prefs: properties, as qvm-prefs and qubes-prefs show them. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "qubes-ctl.h"
#include "table.h"

/* Domain object properties that are not properties of the table. */
static bool is_collection(const char *name) {
        return strcmp(name, "tags") == 0 || strcmp(name, "features") == 0 ||
               strcmp(name, "default_properties") == 0 || strcmp(name, "state") == 0;
}

struct pref {
        const char *name;
        const struct value *value;
        bool is_default;
};

static int pref_compare(const void *a, const void *b) {
        return strcmp(((const struct pref *) a)->name, ((const struct pref *) b)->name);
}

/* "name  D  value" lines, D for a value at its default, '-' for a set one. */
static int print_prefs(struct pref *prefs, size_t n) {
        _cleanup_table_ struct table *t = table_new(3, NULL);

        if (!t)
                return ctl_error_errno(ENOMEM, "out of memory");
        qsort(prefs, n, sizeof(*prefs), pref_compare);
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *text = value_to_text(prefs[i].value);
                if (!text || table_add(t, prefs[i].name) < 0 || table_add(t, prefs[i].is_default ? "D" : "-") < 0 ||
                    table_add(t, text) < 0)
                        return ctl_error_errno(ENOMEM, "out of memory");
        }
        /* "" stays "" (a domain property set to none), not "-": that is the marker's. */
        table_set_empty_text(t, "");
        return table_print(t, stdout, false) < 0 ? ctl_error_errno(EIO, "cannot write the list") : 0;
}

static int list_domain_prefs(sd_bus *bus, const char *domain) {
        _cleanup_value_ struct value all = {};
        _cleanup_free_ struct pref *prefs = NULL;
        size_t n = 0;
        int r;

        r = api_get_domain_properties(bus, domain, &all);
        if (r < 0)
                return r;
        const struct value *defaults = value_dict_get(&all, "default_properties");
        prefs = calloc(all.n_items ?: 1, sizeof(*prefs));
        if (!prefs)
                return ctl_error_errno(ENOMEM, "out of memory");
        for (size_t i = 0; i < all.n_items; i++) {
                const struct value *e = &all.items[i];
                if (e->n_items != 2 || e->items[0].type != 's' || is_collection(e->items[0].str))
                        continue;
                prefs[n++] = (struct pref) {
                        .name = e->items[0].str,
                        .value = &e->items[1],
                        .is_default = value_strv_contains(defaults, e->items[0].str),
                };
        }
        return print_prefs(prefs, n);
}

static int get_domain_pref(sd_bus *bus, const char *domain, const char *property) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *value;
        int r;

        /* klass is the object's, not the table's: read it as a D-Bus property. */
        if (strcmp(property, "klass") == 0) {
                _cleanup_value_ struct value v = {};
                r = api_get_domain_property(bus, domain, property, &v);
                if (r < 0)
                        return r;
                _cleanup_free_ char *text = value_to_text(&v);
                if (!text)
                        return ctl_error_errno(ENOMEM, "out of memory");
                text_print_escaped(stdout, text);
                putchar('\n');
                return 0;
        }
        r = api_call_domain(bus, domain, "GetPropertyDetails", API_TIMEOUT_USEC, &reply, "s", property);
        if (r < 0)
                return r;
        r = sd_bus_message_read(reply, "(sbss)", &value, NULL, NULL, NULL);
        if (r < 0)
                return ctl_error_errno(r, "cannot read GetPropertyDetails' reply");
        text_print_escaped(stdout, value);
        putchar('\n');
        return 0;
}

static int run_prefs(const struct ctl_command *cmd, int argc, char *argv[]) {
        static const struct option options[] = {
                { "default", no_argument, NULL, 'D' },
                { "help",    no_argument, NULL, 'h' },
                {}
        };
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        bool reset = false;
        int c, r;

        while ((c = ctl_getopt(cmd, argc, argv, "Dh", options)) >= 0)
                switch (c) {
                case 'D':
                        reset = true;
                        break;
                case 'h':
                        return ctl_command_show_help(cmd);
                default:
                        return CTL_EXIT_USAGE;
                }
        int n = argc - optind;
        if (n < 1 || n > 3)
                return ctl_usage_error(cmd, "wants NAME [PROPERTY [VALUE]]");
        if (reset && n != 2)
                return ctl_usage_error(cmd, "--default wants NAME PROPERTY and no VALUE");
        const char *domain = argv[optind], *property = n > 1 ? argv[optind + 1] : NULL;

        r = api_connect(&bus);
        if (r < 0)
                return ctl_exit_status(r);
        if (!property)
                r = list_domain_prefs(bus, domain);
        else if (reset)
                r = api_call_domain(bus, domain, "ResetProperty", API_TIMEOUT_USEC, NULL, "s", property);
        else if (n == 3)
                r = api_call_domain(bus, domain, "SetProperty", API_TIMEOUT_USEC, NULL, "ss", property,
                                    argv[optind + 2]);
        else
                r = get_domain_pref(bus, domain, property);
        return ctl_exit_status(r);
}

const struct ctl_command ctl_command_prefs = {
        .name = "prefs",
        .summary = "list, get, set or reset a domain's properties",
        .run = run_prefs,
        .help =
        "Usage: qubes-ctl prefs NAME                      list the properties\n"
        "       qubes-ctl prefs NAME PROPERTY             print one value\n"
        "       qubes-ctl prefs NAME PROPERTY VALUE       set it\n"
        "       qubes-ctl prefs NAME PROPERTY --default   reset it to its default\n"
        "The list has one line per property: its name, D when it is at its default\n"
        "(- when set), and its value.  Values are typed as text: True/False for\n"
        "booleans, a domain name or \"\" (none) for domains.\n\n"
        "Options:\n"
        "  -D --default  reset PROPERTY to its default\n"
        "  -h --help     show this help\n",
};

/* GetGlobalProperties: name → (value, is_default). */
static int get_globals(sd_bus *bus, struct value *ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r;

        r = api_call_manager(bus, "GetGlobalProperties", API_TIMEOUT_USEC, &reply, NULL);
        if (r < 0)
                return r;
        r = value_read(reply, ret);
        if (r < 0 || !ret->dict)
                return ctl_error_errno(r < 0 ? r : EBADMSG, "cannot read GetGlobalProperties' reply");
        return 0;
}

/* (value, is_default) of a global's entry: the value and whether it is the default. */
static const struct value *global_value(const struct value *entry, bool *ret_is_default) {
        *ret_is_default = false;
        if (!entry || entry->type != 'r' || entry->n_items != 2)
                return NULL;
        *ret_is_default = entry->items[1].type == 'b' && entry->items[1].b;
        return value_unwrap(&entry->items[0]);
}

static int list_globals(const struct value *globals) {
        _cleanup_free_ struct pref *prefs = calloc(globals->n_items ?: 1, sizeof(*prefs));
        size_t n = 0;

        if (!prefs)
                return ctl_error_errno(ENOMEM, "out of memory");
        for (size_t i = 0; i < globals->n_items; i++) {
                const struct value *e = &globals->items[i];
                bool is_default;
                const struct value *v;

                if (e->n_items != 2 || e->items[0].type != 's' || !(v = global_value(&e->items[1], &is_default)))
                        continue;
                prefs[n++] = (struct pref) { .name = e->items[0].str, .value = v, .is_default = is_default };
        }
        return print_prefs(prefs, n);
}

static int run_global_prefs(const struct ctl_command *cmd, int argc, char *argv[]) {
        static const struct option options[] = {
                { "default", no_argument, NULL, 'D' },
                { "help",    no_argument, NULL, 'h' },
                {}
        };
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_value_ struct value globals = {};
        bool reset = false;
        int c, r;

        while ((c = ctl_getopt(cmd, argc, argv, "Dh", options)) >= 0)
                switch (c) {
                case 'D':
                        reset = true;
                        break;
                case 'h':
                        return ctl_command_show_help(cmd);
                default:
                        return CTL_EXIT_USAGE;
                }
        int n = argc - optind;
        if (n > 2)
                return ctl_usage_error(cmd, "wants [PROPERTY [VALUE]]");
        if (reset && n != 1)
                return ctl_usage_error(cmd, "--default wants PROPERTY and no VALUE");
        const char *property = n > 0 ? argv[optind] : NULL;

        r = api_connect(&bus);
        if (r < 0)
                return ctl_exit_status(r);
        if (reset)
                r = api_call_manager(bus, "ResetGlobalProperty", API_TIMEOUT_USEC, NULL, "s", property);
        else if (n == 2)
                /* The text as typed; qubesd converts and checks it with its table. */
                r = api_call_manager(bus, "SetGlobalProperty", API_TIMEOUT_USEC, NULL, "sv", property, "s",
                                     argv[optind + 1]);
        else {
                r = get_globals(bus, &globals);
                if (r >= 0 && !property)
                        r = list_globals(&globals);
                else if (r >= 0) {
                        bool is_default;
                        const struct value *v = global_value(value_dict_get(&globals, property), &is_default);
                        _cleanup_free_ char *text = v ? value_to_text(v) : NULL;
                        if (!v) {
                                ctl_error("no global property '%s'", property);
                                r = -ENOENT;
                        } else if (!text)
                                r = ctl_error_errno(ENOMEM, "out of memory");
                        else {
                                text_print_escaped(stdout, text);
                                putchar('\n');
                        }
                }
        }
        return ctl_exit_status(r);
}

const struct ctl_command ctl_command_global_prefs = {
        .name = "global-prefs",
        .summary = "list, get, set or reset the global properties",
        .run = run_global_prefs,
        .help =
        "Usage: qubes-ctl global-prefs                    list the global properties\n"
        "       qubes-ctl global-prefs PROPERTY           print one value\n"
        "       qubes-ctl global-prefs PROPERTY VALUE     set it\n"
        "       qubes-ctl global-prefs PROPERTY --default reset it to its default\n"
        "The list has the layout of 'qubes-ctl prefs NAME' (D: at its default).\n\n"
        "Options:\n"
        "  -D --default  reset PROPERTY to its default\n"
        "  -h --help     show this help\n",
};
