/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qubes-ctl tags and features: a domain's labels for policy, and its key=value settings. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "qubes-ctl.h"
#include "table.h"

enum tags_action { TAGS_LIST, TAGS_ADD, TAGS_DEL };

static int tags_action_from_string(const char *s) {
        if (strcmp(s, "list") == 0 || strcmp(s, "ls") == 0)
                return TAGS_LIST;
        if (strcmp(s, "add") == 0 || strcmp(s, "set") == 0)
                return TAGS_ADD;
        if (strcmp(s, "del") == 0 || strcmp(s, "unset") == 0 || strcmp(s, "remove") == 0)
                return TAGS_DEL;
        return -EINVAL;
}

static int list_tags(sd_bus *bus, const char *domain, char *const *wanted, size_t n_wanted) {
        _cleanup_value_ struct value tags = {};
        int r, missing = 0;

        r = api_get_domain_property(bus, domain, "tags", &tags);
        if (r < 0)
                return r;
        if (n_wanted == 0) {
                for (size_t i = 0; i < tags.n_items; i++)
                        if (tags.items[i].type == 's') {
                                text_print_escaped(stdout, tags.items[i].str);
                                putchar('\n');
                        }
                return 0;
        }
        /* list TAG...: print those it has; a missing one is an error, for scripts. */
        for (size_t i = 0; i < n_wanted; i++)
                if (value_strv_contains(&tags, wanted[i]))
                        printf("%s\n", wanted[i]);
                else {
                        ctl_error("domain '%s' has no tag '%s'", domain, wanted[i]);
                        missing = -ENOENT;
                }
        return missing;
}

static int run_tags(const struct ctl_command *cmd, int argc, char *argv[]) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        int r, action = TAGS_LIST;

        r = ctl_parse_help_only(cmd, argc, argv);
        if (r >= 0)
                return r;
        if (optind >= argc)
                return ctl_usage_error(cmd, "wants a domain NAME");
        const char *domain = argv[optind++];
        if (optind < argc) {
                action = tags_action_from_string(argv[optind]);
                if (action < 0)
                        return ctl_usage_error(cmd, "unknown action '%s' (add, del or list)", argv[optind]);
                optind++;
        }
        char *const *tags = argv + optind;
        size_t n_tags = (size_t) (argc - optind);
        if (action != TAGS_LIST && n_tags == 0)
                return ctl_usage_error(cmd, "%s wants at least one TAG", action == TAGS_ADD ? "add" : "del");

        r = api_connect(&bus);
        if (r < 0)
                return ctl_exit_status(r);
        if (action == TAGS_LIST)
                return ctl_exit_status(list_tags(bus, domain, tags, n_tags));
        for (size_t i = 0; i < n_tags; i++) {
                r = api_call_domain(bus, domain, action == TAGS_ADD ? "AddTag" : "RemoveTag", API_TIMEOUT_USEC,
                                    NULL, "s", tags[i]);
                if (r < 0)
                        return ctl_exit_status(r);
        }
        return CTL_EXIT_OK;
}

const struct ctl_command ctl_command_tags = {
        .name = "tags",
        .summary = "list, add or remove a domain's tags",
        .run = run_tags,
        .help =
        "Usage: qubes-ctl tags NAME [list [TAG...]]   list the tags (or those of TAGs it has)\n"
        "       qubes-ctl tags NAME add TAG...        add tags\n"
        "       qubes-ctl tags NAME del TAG...        remove tags\n"
        "Tags are names ([A-Za-z0-9_-]) that qrexec policy can match (@tag:NAME).\n"
        "'list TAG...' exits with status 1 when the domain lacks one of them.\n\n"
        "Options:\n"
        "  -h --help  show this help\n",
};

static int list_features(sd_bus *bus, const char *domain, const char *key) {
        _cleanup_value_ struct value features = {};
        int r;

        r = api_get_domain_property(bus, domain, "features", &features);
        if (r < 0)
                return r;
        if (key) {
                const struct value *v = value_dict_get(&features, key);
                if (!v || v->type != 's') {
                        ctl_error("domain '%s' has no feature '%s'", domain, key);
                        return -ENOENT;
                }
                text_print_escaped(stdout, v->str);
                putchar('\n');
                return 0;
        }

        _cleanup_table_ struct table *t = table_new(2, NULL);
        if (!t)
                return ctl_error_errno(ENOMEM, "out of memory");
        table_set_empty_text(t, "");
        for (size_t i = 0; i < features.n_items; i++) {
                const struct value *e = &features.items[i];
                if (e->n_items == 2 && e->items[0].type == 's' && e->items[1].type == 's' &&
                    (table_add(t, e->items[0].str) < 0 || table_add(t, e->items[1].str) < 0))
                        return ctl_error_errno(ENOMEM, "out of memory");
        }
        return table_print(t, stdout, false) < 0 ? ctl_error_errno(EIO, "cannot write the list") : 0;
}

static int run_features(const struct ctl_command *cmd, int argc, char *argv[]) {
        static const struct option options[] = {
                { "unset", no_argument, NULL, 'u' },
                { "help",  no_argument, NULL, 'h' },
                {}
        };
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        bool unset = false;
        int c, r;

        while ((c = ctl_getopt(cmd, argc, argv, "uh", options)) >= 0)
                switch (c) {
                case 'u':
                        unset = true;
                        break;
                case 'h':
                        return ctl_command_show_help(cmd);
                default:
                        return CTL_EXIT_USAGE;
                }
        int n = argc - optind;
        if (n < 1 || n > 3)
                return ctl_usage_error(cmd, "wants NAME [KEY [VALUE]]");
        if (unset && n != 2)
                return ctl_usage_error(cmd, "--unset wants NAME KEY and no VALUE");
        const char *domain = argv[optind], *key = n > 1 ? argv[optind + 1] : NULL;

        r = api_connect(&bus);
        if (r < 0)
                return ctl_exit_status(r);
        if (unset)
                r = api_call_domain(bus, domain, "RemoveFeature", API_TIMEOUT_USEC, NULL, "s", key);
        else if (n == 3)
                r = api_call_domain(bus, domain, "SetFeature", API_TIMEOUT_USEC, NULL, "ss", key, argv[optind + 2]);
        else
                r = list_features(bus, domain, key);
        return ctl_exit_status(r);
}

const struct ctl_command ctl_command_features = {
        .name = "features",
        .summary = "list, get, set or unset a domain's features",
        .run = run_features,
        .help =
        "Usage: qubes-ctl features NAME                 list the features (KEY  VALUE)\n"
        "       qubes-ctl features NAME KEY             print one value (status 1 if unset)\n"
        "       qubes-ctl features NAME KEY VALUE       set it\n"
        "       qubes-ctl features NAME KEY --unset     remove it\n"
        "Features are free key=value settings (keys [A-Za-z0-9_.-]) read by agents\n"
        "and services.\n\n"
        "Options:\n"
        "  -u --unset  remove KEY\n"
        "  -h --help   show this help\n",
};
