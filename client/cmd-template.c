/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qubes-ctl template build: a Debian tree made by qubesd (debootstrap), with its progress. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api.h"
#include "qubes-ctl.h"
#include "table.h"

struct build_watch {
        const char *name;
        bool tty;
        bool progress_shown;    /* a progress line waits for its newline (tty) */
        bool finished;
        int result;
        char *message;
};

static void end_progress_line(struct build_watch *w) {
        if (w->tty && w->progress_shown)
                putchar('\n');
        w->progress_shown = false;
}

static int on_build_signal(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        struct build_watch *w = userdata;
        const char *name, *text;

        if (sd_bus_message_is_signal(m, ADMIN_MANAGER_INTERFACE, "TemplateBuildProgress")) {
                uint32_t percent;
                if (sd_bus_message_read(m, "sus", &name, &percent, &text) <= 0 || strcmp(name, w->name) != 0)
                        return 0;
                /* On a terminal the line is redrawn in place; elsewhere one line each. */
                fputs(w->tty ? "\r\033[K" : "", stdout);
                printf("[%3u%%] ", percent > 100 ? 100 : percent);
                text_print_escaped(stdout, text);
                if (!w->tty)
                        putchar('\n');
                w->progress_shown = true;
                fflush(stdout);
        } else if (sd_bus_message_is_signal(m, ADMIN_MANAGER_INTERFACE, "TemplateBuildFinished")) {
                int32_t result;
                if (sd_bus_message_read(m, "sis", &name, &result, &text) <= 0 || strcmp(name, w->name) != 0)
                        return 0;
                w->finished = true;
                w->result = result;
                free(w->message);
                w->message = strdup(text);
        }
        return 0;
}

static bool build_finished(void *userdata) {
        return ((const struct build_watch *) userdata)->finished;
}

static int build(sd_bus *bus, const char *name, const char *suite, const char *label, unsigned timeout) {
        _cleanup_(sd_bus_slot_unrefp) sd_bus_slot *slot = NULL;
        struct build_watch w = { .name = name, .tty = isatty(STDOUT_FILENO) };
        uint64_t deadline = timeout ? now_usec() + timeout * API_USEC_PER_SEC : UINT64_MAX;
        int r;

        /* Listen first: the build may report before BuildTemplate's reply comes. */
        r = sd_bus_match_signal(bus, &slot, NULL, ADMIN_MANAGER_PATH, ADMIN_MANAGER_INTERFACE, NULL,
                                on_build_signal, &w);
        if (r < 0)
                return ctl_error_errno(r, "cannot listen to qubesd's signals");
        r = api_call_manager(bus, "BuildTemplate", API_TIMEOUT_USEC, NULL, "sss", name, suite, label);
        if (r < 0)
                return r;
        r = api_process_until(bus, build_finished, &w, deadline);
        if (r == -ETIMEDOUT) {
                end_progress_line(&w);
                ctl_error("template %s is not built after %u s (qubesd goes on building it)", name, timeout);
                goto out;
        }
        if (r < 0) {
                end_progress_line(&w);
                ctl_error("lost the connection to qubesd during the build: %s", strerror(-r));
                r = -ENOTCONN;
                goto out;
        }
        end_progress_line(&w);
        if (w.result != 0) {
                ctl_error("building template %s failed: %s", name, w.message && *w.message ? w.message : "no reason given");
                r = -EREMOTEIO;
                goto out;
        }
        printf("Template %s built", name);
        if (w.message && *w.message) {
                fputs(": ", stdout);
                text_print_escaped(stdout, w.message);
        }
        putchar('\n');
        r = 0;
out:
        free(w.message);
        return r;
}

static int run_template(const struct ctl_command *cmd, int argc, char *argv[]) {
        enum { ARG_SUITE = 0x100, ARG_LABEL, ARG_TIMEOUT };
        static const struct option options[] = {
                { "suite",   required_argument, NULL, ARG_SUITE },
                { "label",   required_argument, NULL, ARG_LABEL },
                { "timeout", required_argument, NULL, ARG_TIMEOUT },
                { "help",    no_argument,       NULL, 'h' },
                {}
        };
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        const char *suite = "bookworm", *label = "black";
        unsigned timeout = 0;
        int c, r;

        while ((c = ctl_getopt(cmd, argc, argv, "h", options)) >= 0)
                switch (c) {
                case ARG_SUITE:
                        suite = optarg;
                        break;
                case ARG_LABEL:
                        label = optarg;
                        break;
                case ARG_TIMEOUT:
                        if (ctl_parse_seconds(cmd, "--timeout", optarg, &timeout) < 0)
                                return CTL_EXIT_USAGE;
                        break;
                case 'h':
                        return ctl_command_show_help(cmd);
                default:
                        return CTL_EXIT_USAGE;
                }
        if (optind >= argc)
                return ctl_usage_error(cmd, "wants an action: build");
        if (strcmp(argv[optind], "build") != 0)
                return ctl_usage_error(cmd, "unknown action '%s' (build)", argv[optind]);
        if (argc - optind != 2)
                return ctl_usage_error(cmd, "build wants exactly one template NAME");

        r = api_connect(&bus);
        if (r >= 0)
                r = build(bus, argv[optind + 1], suite, label, timeout);
        return ctl_exit_status(r);
}

const struct ctl_command ctl_command_template = {
        .name = "template",
        .summary = "build a TemplateVM from a Debian suite (debootstrap)",
        .run = run_template,
        .help =
        "Usage: qubes-ctl template build NAME [--suite SUITE] [--label LABEL] [--timeout SEC]\n"
        "Have qubesd debootstrap a Debian tree as the root of a new TemplateVM NAME,\n"
        "showing its progress, then the result.\n\n"
        "Options:\n"
        "  --suite SUITE  the Debian suite (default bookworm)\n"
        "  --label LABEL  the template's label (default black)\n"
        "  --timeout SEC  give up waiting after SEC seconds (default 0: wait for the end;\n"
        "                 the build itself goes on)\n"
        "  -h --help      show this help\n",
};
