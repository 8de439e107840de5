/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qubes-ctl start, shutdown, kill, pause, unpause: a domain's power state. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "qubes-ctl.h"

/* Each named domain at once; qubesd replies to each when it is done. */
static int run_simple(const struct ctl_command *cmd, int argc, char *argv[], const char *method) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        int r;

        r = ctl_parse_help_only(cmd, argc, argv);
        if (r >= 0)
                return r;
        if (optind >= argc)
                return ctl_usage_error(cmd, "wants at least one domain NAME");

        r = api_connect(&bus);
        if (r >= 0)
                r = api_call_each_domain(bus, argv + optind, (size_t) (argc - optind), method,
                                         API_LIFECYCLE_TIMEOUT_USEC, NULL, NULL);
        return ctl_exit_status(r);
}

static int run_start(const struct ctl_command *cmd, int argc, char *argv[]) {
        return run_simple(cmd, argc, argv, "Start");
}

static int run_kill(const struct ctl_command *cmd, int argc, char *argv[]) {
        return run_simple(cmd, argc, argv, "Kill");
}

static int run_pause(const struct ctl_command *cmd, int argc, char *argv[]) {
        return run_simple(cmd, argc, argv, "Pause");
}

static int run_unpause(const struct ctl_command *cmd, int argc, char *argv[]) {
        return run_simple(cmd, argc, argv, "Unpause");
}

const struct ctl_command ctl_command_start = {
        .name = "start",
        .summary = "start domains (returns when each one's agent said hello)",
        .run = run_start,
        .help =
        "Usage: qubes-ctl start NAME...\n"
        "Start the domains, all at once; returns when each one's agent has said hello,\n"
        "or with the reason one did not start (after qrexec_timeout seconds at most).\n\n"
        "Options:\n"
        "  -h --help  show this help\n",
};

const struct ctl_command ctl_command_kill = {
        .name = "kill",
        .summary = "stop domains at once, without a clean shutdown",
        .run = run_kill,
        .help =
        "Usage: qubes-ctl kill NAME...\n"
        "Kill the domains (no clean shutdown); returns when they are halted.\n\n"
        "Options:\n"
        "  -h --help  show this help\n",
};

const struct ctl_command ctl_command_pause = {
        .name = "pause",
        .summary = "freeze running domains",
        .run = run_pause,
        .help =
        "Usage: qubes-ctl pause NAME...\n"
        "Freeze every process of the running domains.\n\n"
        "Options:\n"
        "  -h --help  show this help\n",
};

const struct ctl_command ctl_command_unpause = {
        .name = "unpause",
        .summary = "let paused domains run again",
        .run = run_unpause,
        .help =
        "Usage: qubes-ctl unpause NAME...\n"
        "Let the paused domains run again.\n\n"
        "Options:\n"
        "  -h --help  show this help\n",
};

struct shutdown_args {
        unsigned timeout;
        bool wait;
};

static int append_shutdown(sd_bus_message *m, void *userdata) {
        const struct shutdown_args *a = userdata;

        return sd_bus_message_append(m, "ub", (uint32_t) a->timeout, (int) a->wait);
}

/* How long to wait for qubesd: the shutdown timeout (or the longest
 * shutdown_timeout of the domains when 0), then the kill, plus a margin. */
static uint64_t wait_usec(unsigned timeout) {
        return ((uint64_t) (timeout ?: 300) + 30) * API_USEC_PER_SEC;
}

static bool state_is_stopped(const char *state) {
        return strcmp(state, "Halted") == 0 || strcmp(state, "Crashed") == 0;
}

struct pending_domains {
        char **names;
        size_t n;
};

static void pending_remove(struct pending_domains *p, const char *name) {
        for (size_t i = 0; i < p->n; i++)
                if (strcmp(p->names[i], name) == 0) {
                        free(p->names[i]);
                        p->names[i] = p->names[--p->n];
                        return;
                }
}

static bool pending_is_empty(void *userdata) {
        return ((const struct pending_domains *) userdata)->n == 0;
}

static void pending_done(struct pending_domains *p) {
        for (size_t i = 0; i < p->n; i++)
                free(p->names[i]);
        free(p->names);
}

static int on_state_changed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        struct pending_domains *p = userdata;
        const char *name, *state;

        if (sd_bus_message_read(m, "ss", &name, &state) > 0 && state_is_stopped(state))
                pending_remove(p, name);
        return 0;
}

/* The domains --all --wait waits for: every one not stopped but dom0. */
static int collect_running(sd_bus *bus, struct pending_domains *p, unsigned *ret_longest_timeout) {
        _cleanup_value_ struct value all = {};
        _cleanup_free_ struct api_domain *list = NULL;
        size_t n = 0;
        int r;

        r = api_get_all_domains(bus, &all);
        if (r >= 0)
                r = api_domains_sorted(&all, &list, &n);
        if (r < 0)
                return r;
        p->names = calloc(n ?: 1, sizeof(char *));
        if (!p->names)
                return ctl_error_errno(ENOMEM, "out of memory");
        *ret_longest_timeout = 0;
        for (size_t i = 0; i < n; i++) {
                const struct value *state = value_dict_get(list[i].props, "state");
                const struct value *klass = value_dict_get(list[i].props, "klass");
                const struct value *timeout = value_dict_get(list[i].props, "shutdown_timeout");

                if (!state || state->type != 's' || state_is_stopped(state->str) ||
                    (klass && klass->type == 's' && strcmp(klass->str, "AdminVM") == 0))
                        continue;
                if (!(p->names[p->n] = strdup(list[i].name)))
                        return ctl_error_errno(ENOMEM, "out of memory");
                p->n++;
                if (timeout && timeout->type == 'x' && timeout->i > 0 && timeout->i < 86400 &&
                    (unsigned) timeout->i > *ret_longest_timeout)
                        *ret_longest_timeout = (unsigned) timeout->i;
        }
        return 0;
}

/*
 * --all.  Without --wait: Shutdown of each running domain but dom0, all at
 * once, so every refusal is reported.  With --wait: ShutdownAll, then wait
 * until each domain that was running is stopped (DomainStateChanged), so
 * this works whether ShutdownAll replies at once or once all are stopped.
 */
static int shutdown_all(sd_bus *bus, const struct shutdown_args *a) {
        _cleanup_(sd_bus_slot_unrefp) sd_bus_slot *slot = NULL;
        _cleanup_(pending_done) struct pending_domains pending = {};
        unsigned longest = 0;
        int r;

        /* Listen before looking, so no state change goes unseen. */
        if (a->wait) {
                r = sd_bus_match_signal(bus, &slot, NULL, ADMIN_MANAGER_PATH, ADMIN_MANAGER_INTERFACE,
                                        "DomainStateChanged", on_state_changed, &pending);
                if (r < 0)
                        return ctl_error_errno(r, "cannot listen to qubesd's signals");
        }
        r = collect_running(bus, &pending, &longest);
        if (r < 0)
                return r;
        if (!a->wait)
                return api_call_each_domain(bus, pending.names, pending.n, "Shutdown", API_TIMEOUT_USEC,
                                            append_shutdown, (void *) a);

        uint64_t deadline = now_usec() + wait_usec(a->timeout ?: longest);
        r = api_call_manager(bus, "ShutdownAll", wait_usec(a->timeout ?: longest), NULL, "u", (uint32_t) a->timeout);
        if (r < 0)
                return r;
        r = api_process_until(bus, pending_is_empty, &pending, deadline);
        if (r == -ETIMEDOUT) {
                fflush(stdout);
                fputs("qubes-ctl: still not halted:", stderr);
                for (size_t i = 0; i < pending.n; i++)
                        fprintf(stderr, " %s", pending.names[i]);
                fputc('\n', stderr);
                return r;
        }
        if (r < 0) {
                ctl_error("lost the connection to qubesd at %s: %s", api_address(), strerror(-r));
                return -ENOTCONN;
        }
        return 0;
}

static int run_shutdown(const struct ctl_command *cmd, int argc, char *argv[]) {
        enum { ARG_ALL = 0x100, ARG_WAIT, ARG_TIMEOUT };
        static const struct option options[] = {
                { "all",     no_argument,       NULL, ARG_ALL },
                { "wait",    no_argument,       NULL, ARG_WAIT },
                { "timeout", required_argument, NULL, ARG_TIMEOUT },
                { "help",    no_argument,       NULL, 'h' },
                {}
        };
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        struct shutdown_args a = {};
        bool all = false;
        int c, r;

        while ((c = ctl_getopt(cmd, argc, argv, "h", options)) >= 0)
                switch (c) {
                case ARG_ALL:
                        all = true;
                        break;
                case ARG_WAIT:
                        a.wait = true;
                        break;
                case ARG_TIMEOUT:
                        if (ctl_parse_seconds(cmd, "--timeout", optarg, &a.timeout) < 0)
                                return CTL_EXIT_USAGE;
                        break;
                case 'h':
                        return ctl_command_show_help(cmd);
                default:
                        return CTL_EXIT_USAGE;
                }
        if (all && optind < argc)
                return ctl_usage_error(cmd, "--all and domain names do not go together");
        if (!all && optind >= argc)
                return ctl_usage_error(cmd, "wants domain NAMEs or --all");

        r = api_connect(&bus);
        if (r < 0)
                return ctl_exit_status(r);
        if (all)
                r = shutdown_all(bus, &a);
        else
                r = api_call_each_domain(bus, argv + optind, (size_t) (argc - optind), "Shutdown",
                                         a.wait ? wait_usec(a.timeout) : API_TIMEOUT_USEC, append_shutdown, &a);
        return ctl_exit_status(r);
}

const struct ctl_command ctl_command_shutdown = {
        .name = "shutdown",
        .summary = "shut domains down cleanly (killed after a timeout)",
        .run = run_shutdown,
        .help =
        "Usage: qubes-ctl shutdown [--wait] [--timeout SEC] (--all | NAME...)\n"
        "Ask the domains to shut down cleanly; a domain still running after the\n"
        "timeout is killed.\n\n"
        "Options:\n"
        "  --all          every running domain but dom0\n"
        "  --wait         return only when the domains are halted (exit status 5 if\n"
        "                 one is not)\n"
        "  --timeout SEC  seconds before the kill (default 0: each domain's\n"
        "                 shutdown_timeout property)\n"
        "  -h --help      show this help\n",
};
