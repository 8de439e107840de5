/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qubes-ctl ls and labels: what exists, in one call each. */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api.h"
#include "qubes-ctl.h"
#include "table.h"

#define LS_FIELDS_MAX 64

static const char *const ls_default_fields[] = { "name", "state", "klass", "label", "template", "netvm" };

struct ls_options {
        bool json, raw;
        const char *fields[LS_FIELDS_MAX];
        char *headers[LS_FIELDS_MAX];
        size_t n_fields;
        bool fields_given;
        unsigned states;                /* bit per state filter; 0 = all */
        char **tags;                    /* --tags, any of them */
        size_t n_tags;
        const char *klass;
};

enum { STATE_RUNNING = 1, STATE_HALTED = 2, STATE_PAUSED = 4 };

static void ls_options_done(struct ls_options *o) {
        for (size_t i = 0; i < o->n_fields; i++)
                free(o->headers[i]);
        for (size_t i = 0; i < o->n_tags; i++)
                free(o->tags[i]);
        free(o->tags);
}

/* The D-Bus name of a field as typed: any case; "class" is the property klass. */
static const char *field_name(char *typed) {
        for (char *p = typed; *p; p++)
                *p = (char) tolower((unsigned char) *p);
        return strcmp(typed, "class") == 0 ? "klass" : typed;
}

static int add_field(const struct ctl_command *cmd, struct ls_options *o, char *typed) {
        if (o->n_fields == LS_FIELDS_MAX)
                return ctl_usage_error(cmd, "at most %d fields", LS_FIELDS_MAX);
        if (!*typed)
                return ctl_usage_error(cmd, "--fields has an empty field name");
        const char *name = field_name(typed);
        char *header = strdup(strcmp(name, "klass") == 0 ? "class" : name);
        if (!header) {
                ctl_error("out of memory");
                return CTL_EXIT_REFUSED;
        }
        for (char *p = header; *p; p++)
                *p = (char) toupper((unsigned char) *p);
        o->fields[o->n_fields] = name;
        o->headers[o->n_fields++] = header;
        return CTL_EXIT_OK;
}

static int parse_fields(const struct ctl_command *cmd, struct ls_options *o, char *list) {
        char *saveptr = NULL;
        int r;

        o->fields_given = true;
        for (char *f = strtok_r(list, ",", &saveptr); f; f = strtok_r(NULL, ",", &saveptr))
                if ((r = add_field(cmd, o, f)) != CTL_EXIT_OK)
                        return r;
        if (o->n_fields == 0)
                return ctl_usage_error(cmd, "--fields wants a comma-separated list of properties");
        return CTL_EXIT_OK;
}

static int add_tags(struct ls_options *o, const char *list) {
        _cleanup_free_ char *copy = strdup(list);
        char *saveptr = NULL;

        if (!copy)
                return -ENOMEM;
        for (char *t = strtok_r(copy, ",", &saveptr); t; t = strtok_r(NULL, ",", &saveptr)) {
                char **grown = reallocarray(o->tags, o->n_tags + 1, sizeof(char *));
                if (!grown)
                        return -ENOMEM;
                o->tags = grown;
                if (!(o->tags[o->n_tags] = strdup(t)))
                        return -ENOMEM;
                o->n_tags++;
        }
        return 0;
}

static bool domain_selected(const struct ls_options *o, const struct api_domain *d) {
        if (o->states) {
                const struct value *state = value_dict_get(d->props, "state");
                const char *s = state && state->type == 's' ? state->str : "";
                bool match = ((o->states & STATE_RUNNING) && strcmp(s, "Running") == 0) ||
                             ((o->states & STATE_HALTED) && strcmp(s, "Halted") == 0) ||
                             ((o->states & STATE_PAUSED) && strcmp(s, "Paused") == 0);
                if (!match)
                        return false;
        }
        if (o->klass) {
                const struct value *k = value_dict_get(d->props, "klass");
                if (!k || k->type != 's' || strcasecmp(k->str, o->klass) != 0)
                        return false;
        }
        if (o->n_tags > 0) {
                const struct value *tags = value_dict_get(d->props, "tags");
                bool any = false;
                for (size_t i = 0; i < o->n_tags && !any; i++)
                        any = value_strv_contains(tags, o->tags[i]);
                if (!any)
                        return false;
        }
        return true;
}

static bool field_known(const struct api_domain *list, size_t n, const char *field) {
        if (strcmp(field, "name") == 0)
                return true;
        for (size_t i = 0; i < n; i++)
                if (value_dict_get(list[i].props, field))
                        return true;
        return false;
}

static void print_json_domain(const struct ls_options *o, const struct api_domain *d) {
        const struct value *props = d->props;
        bool first = true;

        fputc('{', stdout);
        if (!o->fields_given) {
                /* Everything qubesd sent, the name first. */
                fputs("\"name\":", stdout);
                json_print_string(stdout, d->name);
                for (size_t i = 0; i < props->n_items; i++) {
                        const struct value *e = &props->items[i];
                        if (e->n_items != 2 || e->items[0].type != 's' || strcmp(e->items[0].str, "name") == 0)
                                continue;
                        fputc(',', stdout);
                        json_print_string(stdout, e->items[0].str);
                        fputc(':', stdout);
                        value_print_json(stdout, &e->items[1]);
                }
        } else
                for (size_t f = 0; f < o->n_fields; f++) {
                        const struct value *v = value_dict_get(props, o->fields[f]);
                        if (!first)
                                fputc(',', stdout);
                        first = false;
                        json_print_string(stdout, o->fields[f]);
                        fputc(':', stdout);
                        if (v)
                                value_print_json(stdout, v);
                        else if (strcmp(o->fields[f], "name") == 0)
                                json_print_string(stdout, d->name);
                        else
                                fputs("null", stdout);
                }
        fputc('}', stdout);
}

static int print_table(const struct ls_options *o, const struct api_domain *list, size_t n) {
        _cleanup_table_ struct table *t = table_new(o->n_fields, (const char *const *) o->headers);

        if (!t)
                return ctl_error_errno(ENOMEM, "out of memory");
        for (size_t i = 0; i < n; i++)
                for (size_t f = 0; f < o->n_fields; f++) {
                        _cleanup_free_ char *text = api_domain_prop_text(&list[i], o->fields[f]);
                        if (!text || table_add(t, text) < 0)
                                return ctl_error_errno(ENOMEM, "out of memory");
                }
        if (table_print(t, stdout, o->raw) < 0)
                return ctl_error_errno(EIO, "cannot write the list");
        return 0;
}

static int ls_output(const struct ls_options *o, struct api_domain *list, size_t n, char **names, size_t n_names) {
        int r = 0;

        /* Named domains must exist; then keep only the selected ones. */
        for (size_t i = 0; i < n_names; i++) {
                bool found = false;
                for (size_t j = 0; j < n && !found; j++)
                        found = strcmp(list[j].name, names[i]) == 0;
                if (!found) {
                        ctl_error("no such domain '%s'", names[i]);
                        r = -ENXIO;
                }
        }
        if (r < 0)
                return r;
        size_t kept = 0;
        for (size_t j = 0; j < n; j++) {
                bool named = n_names == 0;
                for (size_t i = 0; i < n_names && !named; i++)
                        named = strcmp(list[j].name, names[i]) == 0;
                if (named && domain_selected(o, &list[j]))
                        list[kept++] = list[j];
        }

        if (!o->json)
                return print_table(o, list, kept);
        fputc('[', stdout);
        for (size_t j = 0; j < kept; j++) {
                fputs(j ? ",\n" : "\n", stdout);
                print_json_domain(o, &list[j]);
        }
        fputs(kept ? "\n]\n" : "]\n", stdout);
        if (fflush(stdout) != 0 || ferror(stdout))
                return ctl_error_errno(EIO, "cannot write the list");
        return 0;
}

static int run_ls(const struct ctl_command *cmd, int argc, char *argv[]) {
        enum { ARG_JSON = 0x100, ARG_RAW, ARG_FIELDS, ARG_RUNNING, ARG_HALTED, ARG_PAUSED, ARG_TAGS, ARG_CLASS };
        static const struct option options[] = {
                { "json",    no_argument,       NULL, ARG_JSON },
                { "raw",     no_argument,       NULL, ARG_RAW },
                { "fields",  required_argument, NULL, ARG_FIELDS },
                { "running", no_argument,       NULL, ARG_RUNNING },
                { "halted",  no_argument,       NULL, ARG_HALTED },
                { "paused",  no_argument,       NULL, ARG_PAUSED },
                { "tags",    required_argument, NULL, ARG_TAGS },
                { "class",   required_argument, NULL, ARG_CLASS },
                { "help",    no_argument,       NULL, 'h' },
                {}
        };
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_value_ struct value all = {};
        _cleanup_free_ struct api_domain *list = NULL;
        _cleanup_(ls_options_done) struct ls_options o = {};
        size_t n = 0;
        int c, r;

        while ((c = ctl_getopt(cmd, argc, argv, "h", options)) >= 0)
                switch (c) {
                case ARG_JSON:    o.json = true; break;
                case ARG_RAW:     o.raw = true; break;
                case ARG_RUNNING: o.states |= STATE_RUNNING; break;
                case ARG_HALTED:  o.states |= STATE_HALTED; break;
                case ARG_PAUSED:  o.states |= STATE_PAUSED; break;
                case ARG_CLASS:   o.klass = optarg; break;
                case ARG_FIELDS:
                        if ((r = parse_fields(cmd, &o, optarg)) != CTL_EXIT_OK)
                                return r;
                        break;
                case ARG_TAGS:
                        if (!*optarg)
                                return ctl_usage_error(cmd, "--tags wants a tag");
                        if (add_tags(&o, optarg) < 0)
                                return ctl_exit_status(ctl_error_errno(ENOMEM, "out of memory"));
                        break;
                case 'h':
                        return ctl_command_show_help(cmd);
                default:
                        return CTL_EXIT_USAGE;
                }
        if (o.json && o.raw)
                return ctl_usage_error(cmd, "--json and --raw do not go together");
        if (!o.fields_given)
                for (size_t i = 0; i < ELEMENTSOF(ls_default_fields); i++) {
                        /* add_field() lowers the case in place: give it a copy. */
                        char typed[16];
                        snprintf(typed, sizeof(typed), "%s", ls_default_fields[i]);
                        if ((r = add_field(cmd, &o, typed)) != CTL_EXIT_OK)
                                return r;
                        o.fields[i] = ls_default_fields[i];     /* not the copy on the stack */
                }

        r = api_connect(&bus);
        if (r >= 0)
                r = api_get_all_domains(bus, &all);
        if (r >= 0)
                r = api_domains_sorted(&all, &list, &n);
        if (r < 0)
                return ctl_exit_status(r);
        for (size_t f = 0; f < o.n_fields; f++)
                if (!field_known(list, n, o.fields[f]))
                        return ctl_usage_error(cmd, "unknown field '%s' (any domain property, see 'qubes-ctl prefs dom0')",
                                               o.headers[f]);
        return ctl_exit_status(ls_output(&o, list, n, argv + optind, (size_t) (argc - optind)));
}

const struct ctl_command ctl_command_ls = {
        .name = "ls",
        .summary = "list domains (a table, --json, --fields)",
        .run = run_ls,
        .help =
        "Usage: qubes-ctl ls [OPTIONS] [NAME...]\n"
        "List the domains (all, or the NAMEs) with every property fetched in one call.\n\n"
        "Options:\n"
        "  --fields F,F,...  columns to show: any domain property (name, state, class,\n"
        "                    label, template, netvm, memory, tags, ...); default\n"
        "                    name,state,class,label,template,netvm\n"
        "  --json            a JSON array of objects: every property (or the --fields)\n"
        "  --raw             no header, cells separated by one tab, empty cells empty\n"
        "  --running, --halted, --paused\n"
        "                    only domains in one of these states\n"
        "  --tags TAG[,TAG]  only domains with at least one of these tags\n"
        "  --class CLASS     only domains of this class (AppVM, TemplateVM, ...)\n"
        "  -h --help         show this help\n",
};

static int run_labels(const struct ctl_command *cmd, int argc, char *argv[]) {
        enum { ARG_JSON = 0x100, ARG_RAW };
        static const struct option options[] = {
                { "json", no_argument, NULL, ARG_JSON },
                { "raw",  no_argument, NULL, ARG_RAW },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        static const char *const headers[] = { "NAME", "INDEX", "COLOR" };
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_table_ struct table *t = NULL;
        bool json = false, raw = false;
        int c, r;

        while ((c = ctl_getopt(cmd, argc, argv, "h", options)) >= 0)
                switch (c) {
                case ARG_JSON: json = true; break;
                case ARG_RAW:  raw = true; break;
                case 'h':      return ctl_command_show_help(cmd);
                default:       return CTL_EXIT_USAGE;
                }
        if (optind < argc)
                return ctl_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
        if (json && raw)
                return ctl_usage_error(cmd, "--json and --raw do not go together");

        r = api_connect(&bus);
        if (r >= 0)
                r = api_call_manager(bus, "ListLabels", API_TIMEOUT_USEC, &reply, NULL);
        if (r < 0)
                return ctl_exit_status(r);
        t = table_new(3, headers);
        if (!t)
                return ctl_exit_status(ctl_error_errno(ENOMEM, "out of memory"));
        r = sd_bus_message_enter_container(reply, 'a', "(suu)");
        if (json && r >= 0)
                fputc('[', stdout);
        for (bool first = true; r >= 0; first = false) {
                const char *name;
                uint32_t index, color;
                char index_text[16], color_text[16];

                r = sd_bus_message_read(reply, "(suu)", &name, &index, &color);
                if (r <= 0)
                        break;
                snprintf(index_text, sizeof(index_text), "%u", index);
                snprintf(color_text, sizeof(color_text), "0x%06x", color & 0xffffff);
                if (json) {
                        fputs(first ? "\n{\"name\":" : ",\n{\"name\":", stdout);
                        json_print_string(stdout, name);
                        printf(",\"index\":%u,\"color\":\"%s\"}", index, color_text);
                } else if (table_add(t, name) < 0 || table_add(t, index_text) < 0 || table_add(t, color_text) < 0)
                        r = -ENOMEM;
        }
        if (r < 0)
                return ctl_exit_status(ctl_error_errno(r, "cannot read the labels qubesd sent"));
        if (json) {
                fputs("\n]\n", stdout);
                return fflush(stdout) == 0 && !ferror(stdout) ? CTL_EXIT_OK : CTL_EXIT_REFUSED;
        }
        return table_print(t, stdout, raw) < 0 ? CTL_EXIT_REFUSED : CTL_EXIT_OK;
}

const struct ctl_command ctl_command_labels = {
        .name = "labels",
        .summary = "list the labels and their colors",
        .run = run_labels,
        .help =
        "Usage: qubes-ctl labels [--json | --raw]\n"
        "List the labels (name, index, color 0xRRGGBB).\n\n"
        "Options:\n"
        "  --json     a JSON array of {name, index, color}\n"
        "  --raw      no header, cells separated by one tab\n"
        "  -h --help  show this help\n",
};
