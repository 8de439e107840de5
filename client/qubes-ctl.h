/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * qubes-ctl: the command-line client of qubesd's Admin API (docs/admin-api.md).
 * Each command lives in a client/cmd-*.c file and is described by a struct
 * ctl_command; qubes-ctl.c dispatches to it.  Commands return the program's
 * exit status directly (enum ctl_exit); helpers return -errno, and
 * ctl_exit_status() says which status a helper's failure means.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "util.h"

/* The exit statuses, documented in qubes-ctl(1). */
enum ctl_exit {
        CTL_EXIT_OK = 0,
        CTL_EXIT_REFUSED = 1,   /* the API refused (its message is printed) */
        CTL_EXIT_USAGE = 2,     /* bad command line */
        CTL_EXIT_NO_DOMAIN = 3, /* a domain that does not exist */
        CTL_EXIT_CONNECT = 4,   /* cannot reach qubesd, or lost it */
        CTL_EXIT_TIMEOUT = 5,   /* a timeout, or a domain did not reach the state asked for */
};

struct ctl_command {
        const char *name;
        const char *summary;    /* one line for the program's --help */
        const char *help;       /* the command's --help: usage line, then options */
        int (*run)(const struct ctl_command *cmd, int argc, char *argv[]);
};

extern const struct ctl_command ctl_command_ls, ctl_command_labels, ctl_command_create, ctl_command_clone,
        ctl_command_remove, ctl_command_start, ctl_command_shutdown, ctl_command_kill, ctl_command_pause,
        ctl_command_unpause, ctl_command_prefs, ctl_command_global_prefs, ctl_command_tags,
        ctl_command_features, ctl_command_events, ctl_command_template, ctl_command_policy, ctl_command_ask_agent,
        ctl_command_run, ctl_command_copy;

/* Global options (qubes-ctl.c). */
extern const char *arg_address;
extern uint64_t arg_reply_timeout_usec;    /* --reply-timeout, 0 = the call's own */

/* "qubes-ctl: message" on stderr; the _errno variant returns -abs(err). */
void ctl_error(const char *fmt, ...) _printf_(1, 2);
int ctl_error_errno(int err, const char *fmt, ...) _printf_(2, 3);
/* "qubes-ctl CMD: message" and a hint to --help; returns CTL_EXIT_USAGE. */
int ctl_usage_error(const struct ctl_command *cmd, const char *fmt, ...) _printf_(2, 3);
/* Print the command's help on stdout; returns CTL_EXIT_OK. */
int ctl_command_show_help(const struct ctl_command *cmd);
/* The exit status for a helper's result: 0 → OK, -ENXIO → NO_DOMAIN,
 * -ETIMEDOUT → TIMEOUT, -ENOTCONN → CONNECT, anything else → REFUSED. */
int ctl_exit_status(int r);

/*
 * Option parsing shared by the commands: getopt_long over the command's own
 * argv (argv[0] is "qubes-ctl CMD" so getopt's messages name the command).
 * Returns the option character, -1 at the end, or '?' after an unknown option
 * (the caller returns CTL_EXIT_USAGE; the hint is already printed).
 */
struct option;
int ctl_getopt(const struct ctl_command *cmd, int argc, char *argv[], const char *shortopts,
               const struct option *longopts);

/* The option parsing of a command whose only option is --help: the exit
 * status to return at once, or -1 to go on with the arguments at optind. */
int ctl_parse_help_only(const struct ctl_command *cmd, int argc, char *argv[]);

/* Parse a number of seconds (0..86400) for an option; -EINVAL with a message. */
int ctl_parse_seconds(const struct ctl_command *cmd, const char *option, const char *s, unsigned *ret);
