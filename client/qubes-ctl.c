/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * qubes-ctl: manage Odyssey's domains through qubesd's Admin API.
 *   qubes-ctl [--address ADDRESS] COMMAND [ARGS...]
 * Global options, the command table, dispatch and the shared helpers of the
 * commands (messages, option parsing, exit statuses).
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "qubes-ctl.h"

static const struct ctl_command *const commands[] = {
        &ctl_command_ls, &ctl_command_create, &ctl_command_clone, &ctl_command_remove,
        &ctl_command_start, &ctl_command_shutdown, &ctl_command_kill, &ctl_command_pause,
        &ctl_command_unpause, &ctl_command_prefs, &ctl_command_tags, &ctl_command_features,
        &ctl_command_labels, &ctl_command_global_prefs, &ctl_command_events, &ctl_command_template,
        &ctl_command_run, &ctl_command_copy, &ctl_command_policy, &ctl_command_ask_agent,
};

int ctl_usage_error(const struct ctl_command *cmd, const char *fmt, ...) {
        va_list ap;

        fprintf(stderr, "qubes-ctl%s%s: ", cmd ? " " : "", cmd ? cmd->name : "");
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fprintf(stderr, "\nTry 'qubes-ctl %s%s--help'.\n", cmd ? cmd->name : "", cmd ? " " : "");
        return CTL_EXIT_USAGE;
}

int ctl_command_show_help(const struct ctl_command *cmd) {
        fputs(cmd->help, stdout);
        return CTL_EXIT_OK;
}

int ctl_exit_status(int r) {
        switch (r) {
        case 0:
                return CTL_EXIT_OK;
        case -ENXIO:
                return CTL_EXIT_NO_DOMAIN;
        case -ETIMEDOUT:
                return CTL_EXIT_TIMEOUT;
        case -ENOTCONN:
                return CTL_EXIT_CONNECT;
        default:
                return r > 0 ? CTL_EXIT_OK : CTL_EXIT_REFUSED;
        }
}

int ctl_getopt(const struct ctl_command *cmd, int argc, char *argv[], const char *shortopts,
               const struct option *longopts) {
        int c = getopt_long(argc, argv, shortopts, longopts, NULL);

        if (c == '?' || c == ':')
                fprintf(stderr, "Try 'qubes-ctl %s --help'.\n", cmd->name);
        return c == ':' ? '?' : c;
}

int ctl_parse_help_only(const struct ctl_command *cmd, int argc, char *argv[]) {
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                {}
        };
        int c = ctl_getopt(cmd, argc, argv, "h", options);

        if (c < 0)
                return -1;
        return c == 'h' ? ctl_command_show_help(cmd) : CTL_EXIT_USAGE;
}

int ctl_parse_seconds(const struct ctl_command *cmd, const char *option, const char *s, unsigned *ret) {
        uint32_t v;

        if (parse_uint32(s, &v) < 0 || v > 86400) {
                ctl_usage_error(cmd, "%s wants a number of seconds (0 to 86400), not '%s'", option, s);
                return -EINVAL;
        }
        *ret = v;
        return 0;
}

static void help(void) {
        printf("Usage: qubes-ctl [--address ADDRESS] COMMAND [ARGS...]\n"
               "Manage Odyssey's domains through qubesd's Admin API (org.qubes.Admin1).\n\n"
               "Commands:\n");
        for (size_t i = 0; i < ELEMENTSOF(commands); i++)
                printf("  %-15s %s\n", commands[i]->name, commands[i]->summary);
        printf("  %-15s %s\n", "help [COMMAND]", "this help, or a command's");
        printf("\nOptions:\n"
               "  --address ADDRESS    D-Bus address of qubesd (default $QUBES_ADMIN_ADDRESS,\n"
               "                       else " ADMIN_DEFAULT_ADDRESS ")\n"
               "  --reply-timeout SEC  wait at most SEC seconds for each of qubesd's replies\n"
               "                       (default 30; 330 for calls that wait for a domain)\n"
               "  -h --help            show this help ('qubes-ctl COMMAND --help' for one)\n"
               "  --version            show the version\n\n"
               "Exit status: 0 done, 1 the API refused (its message is printed), 2 usage error,\n"
               "3 no such domain, 4 cannot connect to qubesd, 5 timeout or a domain did not reach\n"
               "the state asked for.  See qubes-ctl(1).\n");
}

static const struct ctl_command *find_command(const char *name) {
        for (size_t i = 0; i < ELEMENTSOF(commands); i++)
                if (strcmp(commands[i]->name, name) == 0)
                        return commands[i];
        return NULL;
}

static int unknown_command(const char *name) {
        fprintf(stderr, "qubes-ctl: unknown command '%s'", name);
        /* A hint for an abbreviation: the commands it starts. */
        const char *sep = "; did you mean: ";
        for (size_t i = 0; i < ELEMENTSOF(commands); i++)
                if (*name && strncmp(commands[i]->name, name, strlen(name)) == 0) {
                        fprintf(stderr, "%s%s", sep, commands[i]->name);
                        sep = ", ";
                }
        fputs("\nTry 'qubes-ctl --help'.\n", stderr);
        return CTL_EXIT_USAGE;
}

static int help_command(int argc, char *argv[]) {
        if (argc <= 1) {
                help();
                return CTL_EXIT_OK;
        }
        if (argc > 2)
                return ctl_usage_error(NULL, "help takes one command name");
        const struct ctl_command *cmd = find_command(argv[1]);
        if (!cmd)
                return unknown_command(argv[1]);
        return ctl_command_show_help(cmd);
}

int main(int argc, char *argv[]) {
        enum { ARG_ADDRESS = 0x100, ARG_REPLY_TIMEOUT, ARG_VERSION };
        static const struct option options[] = {
                { "address",       required_argument, NULL, ARG_ADDRESS },
                { "reply-timeout", required_argument, NULL, ARG_REPLY_TIMEOUT },
                { "help",    no_argument,       NULL, 'h' },
                { "version", no_argument,       NULL, ARG_VERSION },
                {}
        };
        int c;

        /* '+': options after the command belong to the command. */
        while ((c = getopt_long(argc, argv, "+h", options, NULL)) >= 0)
                switch (c) {
                case ARG_ADDRESS:
                        if (!*optarg)
                                return ctl_usage_error(NULL, "--address wants a D-Bus address");
                        arg_address = optarg;
                        break;
                case ARG_REPLY_TIMEOUT: {
                        uint32_t sec;
                        if (parse_uint32(optarg, &sec) < 0 || sec == 0 || sec > 86400)
                                return ctl_usage_error(NULL, "--reply-timeout wants seconds (1 to 86400), not '%s'",
                                                       optarg);
                        arg_reply_timeout_usec = sec * API_USEC_PER_SEC;
                        break;
                }
                case 'h':
                        help();
                        return CTL_EXIT_OK;
                case ARG_VERSION:
                        printf("qubes-ctl (%s) %s\n", PACKAGE_NAME, PACKAGE_VERSION);
                        return CTL_EXIT_OK;
                default:
                        fputs("Try 'qubes-ctl --help'.\n", stderr);
                        return CTL_EXIT_USAGE;
                }
        if (optind >= argc)
                return ctl_usage_error(NULL, "no command given");

        const char *name = argv[optind];
        if (strcmp(name, "help") == 0)
                return help_command(argc - optind, argv + optind);
        const struct ctl_command *cmd = find_command(name);
        if (!cmd)
                return unknown_command(name);

        /* The command parses its own options; getopt's messages name it. */
        _cleanup_free_ char *prog = NULL;
        if (asprintf(&prog, "qubes-ctl %s", cmd->name) < 0) {
                ctl_error("out of memory");
                return CTL_EXIT_REFUSED;
        }
        int first = optind;
        argv[first] = prog;
        optind = 0;     /* full re-initialisation of getopt for the new vector */
        return cmd->run(cmd, argc - first, argv + first);
}
