/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qubes-ctl create, clone and remove: domains come and go. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api.h"
#include "qubes-ctl.h"

#define PROPS_MAX 64

/* Properties for CreateDomain/CloneDomain, as the text the user typed: qubesd
 * checks and converts each with its property table. */
struct prop_args {
        const char *keys[PROPS_MAX];
        const char *values[PROPS_MAX];
        char *owned[PROPS_MAX];         /* keys cut out of "k=v" */
        size_t n;
};

static void prop_args_done(struct prop_args *p) {
        for (size_t i = 0; i < p->n; i++)
                free(p->owned[i]);
}

static int prop_args_add(const struct ctl_command *cmd, struct prop_args *p, const char *key, const char *value,
                         char *owned) {
        for (size_t i = 0; i < p->n; i++)
                if (strcmp(p->keys[i], key) == 0) {
                        ctl_usage_error(cmd, "property '%s' given twice", key);
                        free(owned);    /* key may be owned: after the message */
                        return CTL_EXIT_USAGE;
                }
        if (p->n == PROPS_MAX) {
                free(owned);
                return ctl_usage_error(cmd, "at most %d properties", PROPS_MAX);
        }
        p->keys[p->n] = key;
        p->values[p->n] = value;
        p->owned[p->n++] = owned;
        return CTL_EXIT_OK;
}

/* --prop KEY=VALUE */
static int prop_args_add_assignment(const struct ctl_command *cmd, struct prop_args *p, const char *arg) {
        const char *eq = strchr(arg, '=');

        if (!eq || eq == arg)
                return ctl_usage_error(cmd, "--prop wants KEY=VALUE, not '%s'", arg);
        char *key = strndup(arg, (size_t) (eq - arg));
        if (!key)
                return ctl_exit_status(ctl_error_errno(ENOMEM, "out of memory"));
        return prop_args_add(cmd, p, key, eq + 1, key);
}

static int append_props(sd_bus_message *m, const struct prop_args *p) {
        int r = sd_bus_message_open_container(m, 'a', "{sv}");

        for (size_t i = 0; r >= 0 && i < p->n; i++)
                r = sd_bus_message_append(m, "{sv}", p->keys[i], "s", p->values[i]);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        return r;
}

static int create_or_clone(sd_bus *bus, const char *method, const char *first, const char *second,
                           const struct prop_args *p, const char *domain) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        int r;

        r = api_new_manager_call(bus, method, &m);
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "ss", first, second);
        if (r >= 0)
                r = append_props(m, p);
        if (r < 0)
                return ctl_error_errno(r, "cannot build the %s call (text must be UTF-8)", method);
        return api_call(bus, m, API_LIFECYCLE_TIMEOUT_USEC, NULL, domain);
}

static int run_create(const struct ctl_command *cmd, int argc, char *argv[]) {
        static const struct option options[] = {
                { "class",    required_argument, NULL, 'C' },
                { "label",    required_argument, NULL, 'l' },
                { "template", required_argument, NULL, 't' },
                { "prop",     required_argument, NULL, 'p' },
                { "help",     no_argument,       NULL, 'h' },
                {}
        };
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(prop_args_done) struct prop_args props = {};
        const char *klass = "AppVM";
        bool have_label = false;
        int c, r;

        while ((c = ctl_getopt(cmd, argc, argv, "C:l:t:p:h", options)) >= 0)
                switch (c) {
                case 'C':
                        klass = optarg;
                        break;
                case 'l':
                        have_label = true;
                        if ((r = prop_args_add(cmd, &props, "label", optarg, NULL)) != CTL_EXIT_OK)
                                return r;
                        break;
                case 't':
                        if ((r = prop_args_add(cmd, &props, "template", optarg, NULL)) != CTL_EXIT_OK)
                                return r;
                        break;
                case 'p':
                        if ((r = prop_args_add_assignment(cmd, &props, optarg)) != CTL_EXIT_OK)
                                return r;
                        break;
                case 'h':
                        return ctl_command_show_help(cmd);
                default:
                        return CTL_EXIT_USAGE;
                }
        for (size_t i = 0; i < props.n; i++)
                have_label = have_label || strcmp(props.keys[i], "label") == 0;
        if (argc - optind != 1)
                return ctl_usage_error(cmd, "wants exactly one domain NAME");
        if (!have_label)
                return ctl_usage_error(cmd, "--label is required (see 'qubes-ctl labels')");

        r = api_connect(&bus);
        if (r >= 0)
                r = create_or_clone(bus, "CreateDomain", argv[optind], klass, &props, NULL);
        return ctl_exit_status(r);
}

const struct ctl_command ctl_command_create = {
        .name = "create",
        .summary = "create a domain",
        .run = run_create,
        .help =
        "Usage: qubes-ctl create NAME --label LABEL [--class CLASS] [--template TEMPLATE]\n"
        "                        [--prop KEY=VALUE]...\n"
        "Create a domain.  qubesd checks every value and says which rule one breaks.\n\n"
        "Options:\n"
        "  -C --class CLASS        AppVM (default), TemplateVM, StandaloneVM or DispVM\n"
        "  -l --label LABEL        its label (required; 'qubes-ctl labels' lists them)\n"
        "  -t --template TEMPLATE  its template (AppVM: a TemplateVM, default the global\n"
        "                          default_template; DispVM: a disposable template)\n"
        "  -p --prop KEY=VALUE     set a property at creation (repeatable)\n"
        "  -h --help               show this help\n",
};

static int run_clone(const struct ctl_command *cmd, int argc, char *argv[]) {
        static const struct option options[] = {
                { "prop", required_argument, NULL, 'p' },
                { "help", no_argument,       NULL, 'h' },
                {}
        };
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(prop_args_done) struct prop_args props = {};
        int c, r;

        while ((c = ctl_getopt(cmd, argc, argv, "p:h", options)) >= 0)
                switch (c) {
                case 'p':
                        if ((r = prop_args_add_assignment(cmd, &props, optarg)) != CTL_EXIT_OK)
                                return r;
                        break;
                case 'h':
                        return ctl_command_show_help(cmd);
                default:
                        return CTL_EXIT_USAGE;
                }
        if (argc - optind != 2)
                return ctl_usage_error(cmd, "wants a SOURCE and a NEW name");

        r = api_connect(&bus);
        if (r >= 0)
                r = create_or_clone(bus, "CloneDomain", argv[optind], argv[optind + 1], &props, argv[optind]);
        return ctl_exit_status(r);
}

const struct ctl_command ctl_command_clone = {
        .name = "clone",
        .summary = "copy a domain (properties, tags, features, private data)",
        .run = run_clone,
        .help =
        "Usage: qubes-ctl clone SOURCE NEW [--prop KEY=VALUE]...\n"
        "Create NEW as a copy of the halted domain SOURCE: its class, the properties\n"
        "set on it, its tags and features, and its private volume (and own root).\n\n"
        "Options:\n"
        "  -p --prop KEY=VALUE  set a property of the copy (repeatable)\n"
        "  -h --help            show this help\n",
};

static bool confirm_remove(char *const *names, size_t n) {
        char answer[16] = "";

        fputs("This removes for good (with their private data):", stderr);
        for (size_t i = 0; i < n; i++)
                fprintf(stderr, " %s", names[i]);
        fputs("\nAre you sure? [y/N] ", stderr);
        if (!fgets(answer, sizeof(answer), stdin))
                return false;
        return answer[0] == 'y' || answer[0] == 'Y';
}

static int run_remove(const struct ctl_command *cmd, int argc, char *argv[]) {
        static const struct option options[] = {
                { "force", no_argument, NULL, 'f' },
                { "help",  no_argument, NULL, 'h' },
                {}
        };
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        bool force = false;
        int c, r, first = 0;

        while ((c = ctl_getopt(cmd, argc, argv, "fh", options)) >= 0)
                switch (c) {
                case 'f':
                        force = true;
                        break;
                case 'h':
                        return ctl_command_show_help(cmd);
                default:
                        return CTL_EXIT_USAGE;
                }
        if (optind >= argc)
                return ctl_usage_error(cmd, "wants at least one domain NAME");
        /* Ask only someone who can answer: scripts do not get a prompt. */
        if (!force && isatty(STDIN_FILENO) && !confirm_remove(argv + optind, (size_t) (argc - optind))) {
                ctl_error("nothing removed");
                return CTL_EXIT_REFUSED;
        }

        r = api_connect(&bus);
        if (r < 0)
                return ctl_exit_status(r);
        for (int i = optind; i < argc; i++) {
                r = api_call_manager(bus, "RemoveDomain", API_LIFECYCLE_TIMEOUT_USEC, NULL, "s", argv[i]);
                if (r == -ENOTCONN)
                        return ctl_exit_status(r);
                if (r < 0 && first == 0)
                        first = r;
        }
        return ctl_exit_status(first);
}

const struct ctl_command ctl_command_remove = {
        .name = "remove",
        .summary = "remove halted domains that nothing refers to",
        .run = run_remove,
        .help =
        "Usage: qubes-ctl remove [-f] NAME...\n"
        "Remove domains and their data.  qubesd refuses a running domain and one that\n"
        "another domain or a global property refers to (it says which).\n\n"
        "Options:\n"
        "  -f --force  do not ask for confirmation (only asked when stdin is a terminal)\n"
        "  -h --help   show this help\n",
};
