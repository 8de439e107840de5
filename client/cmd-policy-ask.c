/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * qubes-ctl policy status: the state of qrexec-policyd's loaded policy.
 * qubes-ctl ask-agent: answers the policy's `ask` questions, in the terminal
 * or (--answer/--deny) by script.  It serves org.qubes.AskAgent1 on its own
 * connection to qubesd and registers it with RegisterAskAgent.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "api.h"
#include "qubes-ctl.h"
#include "table.h"

#define ASK_AGENT_PATH "/org/qubes/AskAgent1"
#define ASK_AGENT_INTERFACE "org.qubes.AskAgent1"

/* ---------------------------------------------------------------- policy status */

static int print_status(sd_bus_message *reply) {
        const char *dir, *errors;
        uint64_t loaded_usec;
        uint32_t files, rules;
        char when[64] = "";
        int ok, r;

        r = sd_bus_message_read(reply, "buutss", &ok, &files, &rules, &loaded_usec, &dir, &errors);
        if (r < 0)
                return ctl_error_errno(r, "GetPolicyStatus: unexpected reply");
        time_t t = (time_t) (loaded_usec / 1000000);
        struct tm tm;
        if (loaded_usec && localtime_r(&t, &tm))
                strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
        printf("status: %s\n", ok ? "ok" : "broken (every call is denied)");
        fputs("policy dir: ", stdout);
        text_print_escaped(stdout, dir);
        printf("\nfiles: %u\nrules: %u\nloaded: %s\n", files, rules, when[0] ? when : "never");
        if (*errors) {
                printf("errors:\n");
                for (const char *p = errors; *p;) {
                        size_t n = strcspn(p, "\n");
                        _cleanup_free_ char *line = strndup(p, n);
                        fputs("  ", stdout);
                        text_print_escaped(stdout, line ?: "");
                        putchar('\n');
                        p += n;
                        p += *p == '\n';
                }
        }
        return ok ? CTL_EXIT_OK : CTL_EXIT_REFUSED;
}

static int run_policy(const struct ctl_command *cmd, int argc, char *argv[]) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r;

        r = ctl_parse_help_only(cmd, argc, argv);
        if (r >= 0)
                return r;
        if (optind >= argc)
                return ctl_usage_error(cmd, "which policy command? (status)");
        if (strcmp(argv[optind], "status") != 0)
                return ctl_usage_error(cmd, "unknown policy command '%s' (status)", argv[optind]);
        if (optind + 1 < argc)
                return ctl_usage_error(cmd, "unexpected argument '%s'", argv[optind + 1]);
        r = api_connect(&bus);
        if (r < 0)
                return ctl_exit_status(r);
        r = api_call_manager(bus, "GetPolicyStatus", API_TIMEOUT_USEC, &reply, NULL);
        if (r < 0)
                return ctl_exit_status(r);
        r = print_status(reply);
        return r < 0 ? ctl_exit_status(r) : r;
}

const struct ctl_command ctl_command_policy = {
        .name = "policy",
        .summary = "the state of the qrexec policy (status)",
        .help = "Usage: qubes-ctl policy status\n"
                "Show whether qrexec-policyd's policy loaded cleanly: its directory, how many\n"
                "files and rules, when it was (re)loaded, and every error with file:line.\n"
                "Exit status 0 when the policy is ok, 1 when it is broken (qrexec-policyd then\n"
                "denies every call) or qrexec-policyd never reported.\n",
        .run = run_policy,
};

/* ---------------------------------------------------------------- ask-agent */

enum ask_mode {
        ASK_INTERACTIVE,
        ASK_ANSWER,
        ASK_DENY,
};

struct ask_agent {
        enum ask_mode mode;
        const char *answer;
        FILE *tty_in;
};

/* Prompt on the terminal: the request, numbered targets, the default. */
static const char *prompt(struct ask_agent *a, const char *source, const char *service, char **targets, size_t n,
                          const char *default_target) {
        char line[256];

        printf("\n%s wants to call %s. Allow it to reach:\n", source, service);
        for (size_t i = 0; i < n; i++)
                printf("  %zu) %s%s\n", i + 1, targets[i], strcmp(targets[i], default_target) == 0 ? " (default)" : "");
        for (;;) {
                printf("Number or name%s%s%s, or 'n' to refuse: ", *default_target ? " [" : "", default_target,
                       *default_target ? "]" : "");
                fflush(stdout);
                if (!fgets(line, sizeof(line), a->tty_in))
                        return "";
                line[strcspn(line, "\n")] = '\0';
                if (!line[0] && *default_target)
                        return default_target;
                if (strcmp(line, "n") == 0 || strcmp(line, "no") == 0)
                        return "";
                uint32_t k;
                if (parse_uint32(line, &k) >= 0 && k >= 1 && k <= n)
                        return targets[k - 1];
                for (size_t i = 0; i < n; i++)
                        if (strcmp(targets[i], line) == 0)
                                return targets[i];
                printf("Not one of the choices.\n");
        }
}

static void strv_freep(char ***p) {
        for (char **s = *p; s && *s; s++)
                free(*s);
        free(*p);
}

static int method_ask(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        struct ask_agent *a = userdata;
        const char *source, *service, *default_target, *answer;
        _cleanup_(strv_freep) char **targets = NULL;
        size_t n = 0;
        int r;

        r = sd_bus_message_read(m, "ss", &source, &service);
        if (r < 0)
                return r;
        r = sd_bus_message_read_strv(m, &targets);
        if (r < 0)
                return r;
        r = sd_bus_message_read(m, "s", &default_target);
        if (r < 0)
                return r;
        while (targets && targets[n])
                n++;
        if (a->mode == ASK_INTERACTIVE) {
                answer = prompt(a, source, service, targets, n, default_target);
                printf("%s\n", *answer ? "Allowed." : "Refused.");
                fflush(stdout);
                return sd_bus_reply_method_return(m, "s", answer);
        }
        answer = a->mode == ASK_ANSWER ? a->answer : "";
        /* one line per request, for scripts and tests */
        printf("ask source=%s service=%s targets=", source, service);
        for (size_t i = 0; i < n; i++)
                printf("%s%s", i ? "," : "", targets[i]);
        printf(" default=%s answer=%s\n", default_target, *answer ? answer : "deny");
        fflush(stdout);
        return sd_bus_reply_method_return(m, "s", answer);
}

static const sd_bus_vtable ask_agent_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD_WITH_NAMES("Ask", "ssass", SD_BUS_PARAM(source) SD_BUS_PARAM(service) SD_BUS_PARAM(targets)
                                 SD_BUS_PARAM(default_target), "s", SD_BUS_PARAM(target), method_ask, 0),
        SD_BUS_VTABLE_END
};

static int run_ask_agent(const struct ctl_command *cmd, int argc, char *argv[]) {
        static const struct option options[] = {
                { "answer", required_argument, NULL, 'a' },
                { "deny", no_argument, NULL, 'd' },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_slot_unrefp) sd_bus_slot *slot = NULL;
        struct ask_agent a = { .mode = ASK_INTERACTIVE, .tty_in = stdin };
        int c, r;

        while ((c = ctl_getopt(cmd, argc, argv, "+h", options)) >= 0)
                switch (c) {
                case 'a':
                        if (!*optarg)
                                return ctl_usage_error(cmd, "--answer wants a domain name");
                        a.mode = ASK_ANSWER;
                        a.answer = optarg;
                        break;
                case 'd':
                        a.mode = ASK_DENY;
                        break;
                case 'h':
                        return ctl_command_show_help(cmd);
                default:
                        return CTL_EXIT_USAGE;
                }
        if (optind < argc)
                return ctl_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
        if (a.mode == ASK_INTERACTIVE && !isatty(STDIN_FILENO))
                return ctl_usage_error(cmd, "standard input is not a terminal: use --answer or --deny");

        r = api_connect(&bus);
        if (r < 0)
                return ctl_exit_status(r);
        r = sd_bus_add_object_vtable(bus, &slot, ASK_AGENT_PATH, ASK_AGENT_INTERFACE, ask_agent_vtable, &a);
        if (r < 0)
                return ctl_exit_status(ctl_error_errno(r, "cannot serve %s", ASK_AGENT_INTERFACE));
        r = api_call_manager(bus, "RegisterAskAgent", API_TIMEOUT_USEC, NULL, "o", ASK_AGENT_PATH);
        if (r < 0)
                return ctl_exit_status(r);
        printf("Registered as the ask agent%s.\n", a.mode == ASK_INTERACTIVE ? "; waiting for questions (Ctrl-C ends)" : "");
        fflush(stdout);
        r = api_process_until(bus, NULL, NULL, UINT64_MAX);
        ctl_error("lost the connection to qubesd: %s", strerror(-r));
        return CTL_EXIT_CONNECT;
}

const struct ctl_command ctl_command_ask_agent = {
        .name = "ask-agent",
        .summary = "answer the qrexec policy's 'ask' questions",
        .help = "Usage: qubes-ctl ask-agent [--answer TARGET | --deny]\n"
                "Register as the ask agent: when a policy rule says 'ask', qubesd asks here.\n"
                "Without options each question is shown on the terminal (the caller, the\n"
                "service, the numbered targets, the default) and the choice is read from it.\n\n"
                "  --answer TARGET  answer TARGET to every question, without asking\n"
                "  --deny           refuse every question, without asking\n"
                "With --answer or --deny each question is printed as one line:\n"
                "  ask source=SRC service=SERVICE targets=A,B default=D answer=TARGET|deny\n"
                "Runs until interrupted; only one ask agent may be registered at a time.\n",
        .run = run_ask_agent,
};
