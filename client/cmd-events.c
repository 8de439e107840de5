/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qubes-ctl events: every signal of the manager, one line each, until interrupted. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "qubes-ctl.h"
#include "table.h"

/* The argument names of the signals of docs/admin-api.md; others print as argN. */
static const struct {
        const char *member;
        const char *args[4];
} known_signals[] = {
        { "DomainAdded",            { "name", "path" } },
        { "DomainRemoved",          { "name" } },
        { "DomainStateChanged",     { "name", "state" } },
        { "DomainStarted",          { "name" } },
        { "DomainStopped",          { "name", "reason" } },
        { "PropertyChanged",        { "domain", "property", "value", "is_default" } },
        { "TagsChanged",            { "domain", "tags" } },
        { "FeaturesChanged",        { "domain", "features" } },
        { "TemplateBuildProgress",  { "name", "percent", "line" } },
        { "TemplateBuildFinished",  { "name", "result", "message" } },
};

static const char *arg_name(const char *member, size_t i, char *buf, size_t size) {
        for (size_t s = 0; s < ELEMENTSOF(known_signals); s++)
                if (strcmp(known_signals[s].member, member) == 0 && i < ELEMENTSOF(known_signals[s].args) &&
                    known_signals[s].args[i])
                        return known_signals[s].args[i];
        snprintf(buf, size, "arg%zu", i);
        return buf;
}

/* A value as one shell-like word: quoted when empty or when it holds blanks,
 * quotes or '='; control characters as \xHH either way. */
static void print_word(const char *s) {
        if (*s && !strpbrk(s, " \t\"'\\=")) {
                text_print_escaped(stdout, s);
                return;
        }
        putchar('"');
        for (const char *p = s; *p; p++) {
                if (*p == '"' || *p == '\\')
                        putchar('\\');
                if ((unsigned char) *p < 0x20 || *p == 0x7f)
                        printf("\\x%02x", (unsigned char) *p);
                else
                        putchar(*p);
        }
        putchar('"');
}

static int on_signal(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        const bool *json = userdata;
        const char *member = sd_bus_message_get_member(m);
        char buf[16];
        int r = 0;

        if (!member)
                return 0;
        if (*json) {
                fputs("{\"signal\":", stdout);
                json_print_string(stdout, member);
        } else
                fputs(member, stdout);
        for (size_t i = 0;; i++) {
                _cleanup_value_ struct value v = {};

                r = sd_bus_message_at_end(m, true);
                if (r != 0)
                        break;
                r = value_read(m, &v);
                if (r < 0)
                        break;
                const char *name = arg_name(member, i, buf, sizeof(buf));
                if (*json) {
                        putchar(',');
                        json_print_string(stdout, name);
                        putchar(':');
                        value_print_json(stdout, &v);
                } else {
                        _cleanup_free_ char *text = value_to_text(&v);
                        printf(" %s=", name);
                        print_word(text ?: "?");
                }
        }
        if (*json)
                putchar('}');
        if (r < 0)
                fputs(*json ? "" : " (the rest could not be read)", stdout);
        putchar('\n');
        fflush(stdout);
        return 0;
}

static int run_events(const struct ctl_command *cmd, int argc, char *argv[]) {
        enum { ARG_JSON = 0x100 };
        static const struct option options[] = {
                { "json", no_argument, NULL, ARG_JSON },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        bool json = false;
        int c, r;

        while ((c = ctl_getopt(cmd, argc, argv, "h", options)) >= 0)
                switch (c) {
                case ARG_JSON:
                        json = true;
                        break;
                case 'h':
                        return ctl_command_show_help(cmd);
                default:
                        return CTL_EXIT_USAGE;
                }
        if (optind < argc)
                return ctl_usage_error(cmd, "unexpected argument '%s'", argv[optind]);

        r = api_connect(&bus);
        if (r < 0)
                return ctl_exit_status(r);
        /* Peer to peer there is no bus to send a match to: qubesd sends every
         * signal to every client, and this match only picks the manager's. */
        r = sd_bus_match_signal(bus, NULL, NULL, ADMIN_MANAGER_PATH, ADMIN_MANAGER_INTERFACE, NULL, on_signal, &json);
        if (r < 0)
                return ctl_exit_status(ctl_error_errno(r, "cannot listen to qubesd's signals"));
        /* An empty call proves the connection is up before we sit waiting. */
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *ping = NULL;
        r = sd_bus_message_new_method_call(bus, &ping, NULL, ADMIN_MANAGER_PATH, "org.freedesktop.DBus.Peer", "Ping");
        if (r < 0)
                return ctl_exit_status(ctl_error_errno(r, "cannot build the Ping call"));
        r = api_call(bus, ping, API_TIMEOUT_USEC, NULL, NULL);
        if (r < 0)
                return ctl_exit_status(r);
        r = api_process_until(bus, NULL, NULL, UINT64_MAX);
        ctl_error("qubesd closed the connection (%s)", strerror(-r));
        return CTL_EXIT_CONNECT;
}

const struct ctl_command ctl_command_events = {
        .name = "events",
        .summary = "print qubesd's signals as they come, until interrupted",
        .run = run_events,
        .help =
        "Usage: qubes-ctl events [--json]\n"
        "Print every signal of qubesd's manager object as one line, until interrupted:\n"
        "the signal's name, then its arguments as name=value, e.g.\n"
        "  DomainStateChanged name=work state=Running\n"
        "Values with blanks, quotes or '=' are double-quoted.\n\n"
        "Options:\n"
        "  --json     one JSON object per line: {\"signal\": NAME, ARG: VALUE, ...}\n"
        "  -h --help  show this help\n",
};
