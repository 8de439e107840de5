/* SPDX-License-Identifier: GPL-2.0-or-later */
/* odyssey-stack: command line (see stack.h for what a stack is). */
#include <getopt.h>
#include <stdio.h>

#include "log.h"
#include "stack.h"

#define EXIT_USAGE 2

static void help(void) {
        printf("Usage: stack start|stop|status --root DIR [OPTIONS]\n"
               "Run Odyssey's daemons from a build tree as a private stack, with every runtime\n"
               "path under DIR.  Any number of stacks can run side by side in different DIRs.\n"
               "\n"
               "Commands:\n"
               "  start    start every built daemon, one at a time, each one after the previous\n"
               "           reported READY=1; on success print QUBES_ADMIN_ADDRESS=... and one\n"
               "           '# NAME: pid, uid, status' line per daemon; on failure print the\n"
               "           failing daemon's log tail and stop what was started\n"
               "  stop     SIGTERM every daemon of the stack, SIGKILL after the timeout\n"
               "  status   one line per daemon: name, pid, running/dead, Seccomp, NoNewPrivs,\n"
               "           uid; exit status 0 if all run, 3 otherwise\n"
               "\n"
               "Options:\n"
               "  --root DIR                 the stack's directory (required); DIR/run holds the\n"
               "                             sockets ($ODYSSEY_RUNTIME_DIR), DIR/state the state\n"
               "                             ($ODYSSEY_STATE_DIR), DIR/log one NAME.log per daemon\n"
               "  --only NAME[,NAME...]      start only these daemons (repeatable)\n"
               "  --timeout SEC              start: time for each daemon to be ready (default 30);\n"
               "                             stop: time to exit before SIGKILL (default 10)\n"
               "  --uid-base UID             role r runs as uid UID+r, qubesd as root (default\n"
               "                             $ODYSSEY_UID_BASE, else %u); busd gets this table as\n"
               "                             --role-uid options, DIR/run/roles lists it\n"
               "  --daemon NAME=PATH[:ROLE]  add a daemon, or replace NAME's program (PATH is\n"
               "                             relative to the build tree unless absolute); ROLE is\n"
               "                             one of busd, qubesd, qrexec-policyd, guid, netvm-mgr,\n"
               "                             usbvm-mgr, stubdom-qemu-mgr; without one it runs as\n"
               "                             the launcher's uid\n"
               "  --arg NAME=ARG             append ARG to NAME's command line (repeatable)\n"
               "  --build-dir DIR            take the daemons from DIR (default: the build tree\n"
               "                             this program belongs to, %s)\n"
               "  -h, --help                 show this help\n"
               "\n"
               "Daemons: ",
               STACK_UID_BASE_DEFAULT, ODYSSEY_BUILDDIR);
}

static int parse_seconds(const char *arg, uint64_t *ret) {
        uint32_t seconds;

        if (parse_uint32(arg, &seconds) < 0 || seconds == 0 || seconds > 24 * 3600)
                return log_error_errno(EINVAL, "--timeout wants whole seconds between 1 and 86400, not '%s'", arg);
        *ret = seconds * UINT64_C(1000000);
        return 0;
}

int main(int argc, char **argv) {
        enum { ARG_ROOT = 0x100, ARG_ONLY, ARG_TIMEOUT, ARG_UID_BASE, ARG_DAEMON, ARG_ARG, ARG_BUILD_DIR };
        static const struct option options[] = {
                { "root", required_argument, NULL, ARG_ROOT },
                { "only", required_argument, NULL, ARG_ONLY },
                { "timeout", required_argument, NULL, ARG_TIMEOUT },
                { "uid-base", required_argument, NULL, ARG_UID_BASE },
                { "daemon", required_argument, NULL, ARG_DAEMON },
                { "arg", required_argument, NULL, ARG_ARG },
                { "build-dir", required_argument, NULL, ARG_BUILD_DIR },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        _cleanup_free_ char *only = NULL;
        const char *root = NULL;
        uint64_t timeout_usec = 0;
        struct stack s;
        int c, r, status = EXIT_USAGE;

        log_setup("odyssey-stack");
        if (stack_init(&s) < 0) {
                status = 1;
                goto finish;
        }

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
                r = 0;
                switch (c) {
                case ARG_ROOT:
                        root = optarg;
                        break;
                case ARG_ONLY: {
                        char *joined = NULL;
                        if (asprintf(&joined, "%s%s%s", only ?: "", only ? "," : "", optarg) < 0) {
                                status = 1;
                                goto finish;
                        }
                        free(only);
                        only = joined;
                        break;
                }
                case ARG_TIMEOUT:
                        r = parse_seconds(optarg, &timeout_usec);
                        break;
                case ARG_UID_BASE: {
                        uint32_t base;
                        if (parse_uint32(optarg, &base) < 0 || base == 0 || base > UINT32_MAX - _BUS_ROLE_MAX)
                                r = log_error_errno(EINVAL, "--uid-base wants a uid above 0, not '%s'", optarg);
                        else
                                s.uid_base = base;
                        break;
                }
                case ARG_DAEMON:
                        r = stack_add_daemon(&s, optarg);
                        break;
                case ARG_ARG:
                        r = stack_add_arg(&s, optarg);
                        break;
                case ARG_BUILD_DIR:
                        free(s.build_dir);
                        s.build_dir = strdup(optarg);
                        if (!s.build_dir)
                                r = log_error_errno(ENOMEM, "Out of memory");
                        break;
                case 'h':
                        help();
                        for (size_t i = 0; i < s.n_daemons; i++)
                                printf("%s%s (%s)", i ? ", " : "", s.daemons[i].name, s.daemons[i].program);
                        printf("\nSee odyssey-stack(1).\n");
                        status = 0;
                        goto finish;
                default:
                        fprintf(stderr, "Try 'stack --help'.\n");
                        goto finish;
                }
                if (r < 0)
                        goto finish;
        }

        if (optind != argc - 1) {
                log_error("Expected exactly one command: start, stop or status (see --help).");
                goto finish;
        }
        const char *command = argv[optind];
        if (!root) {
                log_error("--root DIR is required: every stack lives in a directory of its own.");
                goto finish;
        }
        if (stack_set_root(&s, root) < 0)
                goto finish;
        if (only) {
                if (stack_select(&s, only) < 0)
                        goto finish;
                s.only_given = true;
        }

        if (strcmp(command, "start") == 0) {
                if (timeout_usec)
                        s.start_timeout_usec = timeout_usec;
                status = stack_start(&s);
        } else if (strcmp(command, "stop") == 0) {
                if (timeout_usec)
                        s.stop_timeout_usec = timeout_usec;
                status = stack_stop(&s);
        } else if (strcmp(command, "status") == 0)
                status = stack_status(&s);
        else
                log_error("Unknown command '%s': start, stop or status (see --help).", command);

finish:
        stack_done(&s);
        return status;
}
