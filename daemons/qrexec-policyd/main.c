/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * qrexec-policyd: options, the setup order (busd, the policy, the line
 * protocol socket, the system info subscription), the sandbox, the loop.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "daemon.h"
#include "log.h"
#include "policyd.h"
#include "sandbox.h"

#define BUS_CONNECT_TIMEOUT_USEC (10 * UINT64_C(1000000))

static const char *const default_policy_dirs[] = { "/run/qubes/policy.d", "/etc/qubes/policy.d" };

/* Beyond the base profile: reading the policy files and directories (on
 * every reload), watching them with inotify, and removing its socket at exit. */
static const char *const policyd_syscalls[] = {
        "openat", "open", "getdents64", "stat", "lstat", "statx", "readlink", "readlinkat",
        "access", "faccessat", "faccessat2",
        "inotify_init1", "inotify_add_watch", "inotify_rm_watch",
        "unlink",
        NULL,
};

static void help(void) {
        printf("Usage: qrexec-policyd [OPTIONS]\n"
               "Odyssey's qrexec policy daemon: evaluates every qrexec call against the policy\n"
               "(Qubes format v5) and the system info qubesd pushes, asks the user through the\n"
               "registered ask agent, starts targets and disposables through qubesd, and answers\n"
               "the Qubes policy line protocol on policy.sock.\n\n"
               "  --policy-dir DIR     a policy directory, most important first (repeatable, at\n"
               "                       most %d; default /run/qubes/policy.d then /etc/qubes/policy.d)\n"
               "  --runtime-dir DIR    where bus.sock and policy.sock are (default\n"
               "                       $ODYSSEY_RUNTIME_DIR, else /run/qubes)\n"
               "  --bus-socket PATH    busd's socket (default RUNTIME/bus.sock)\n"
               "  --policy-socket PATH the line protocol's socket, unless the service manager\n"
               "                       passes one (default RUNTIME/policy.sock)\n"
               "  --spin-usec USEC     poll this long for more work before sleeping (default %u)\n"
               "  -h --help            show this help\n"
               "  --version            show the version\n",
               POLICYD_MAX_POLICY_DIRS, DAEMON_SPIN_USEC_DEFAULT);
}

static int parse_argv(struct policyd *p, int argc, char *argv[]) {
        enum { ARG_POLICY_DIR = 0x100, ARG_RUNTIME_DIR, ARG_BUS_SOCKET, ARG_POLICY_SOCKET, ARG_SPIN_USEC,
               ARG_VERSION };
        static const struct option options[] = {
                { "policy-dir",    required_argument, NULL, ARG_POLICY_DIR },
                { "runtime-dir",   required_argument, NULL, ARG_RUNTIME_DIR },
                { "bus-socket",    required_argument, NULL, ARG_BUS_SOCKET },
                { "policy-socket", required_argument, NULL, ARG_POLICY_SOCKET },
                { "spin-usec",     required_argument, NULL, ARG_SPIN_USEC },
                { "help",          no_argument,       NULL, 'h' },
                { "version",       no_argument,       NULL, ARG_VERSION },
                {}
        };
        const char *runtime_dir = NULL, *bus_opt = NULL, *socket_opt = NULL;
        uint32_t spin;
        int c;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case ARG_POLICY_DIR:
                        if (p->n_policy_dirs >= POLICYD_MAX_POLICY_DIRS)
                                return log_error_errno(EINVAL, "At most %d --policy-dir", POLICYD_MAX_POLICY_DIRS);
                        if (!*optarg)
                                return log_error_errno(EINVAL, "--policy-dir wants a directory");
                        p->policy_dirs[p->n_policy_dirs++] = optarg;
                        break;
                case ARG_RUNTIME_DIR:
                        if (!*optarg)
                                return log_error_errno(EINVAL, "--runtime-dir wants a directory");
                        runtime_dir = optarg;
                        break;
                case ARG_BUS_SOCKET:
                        bus_opt = optarg;
                        break;
                case ARG_POLICY_SOCKET:
                        socket_opt = optarg;
                        break;
                case ARG_SPIN_USEC:
                        if (parse_uint32(optarg, &spin) < 0 || spin > 1000000)
                                return log_error_errno(EINVAL, "Invalid --spin-usec '%s' (0..1000000)", optarg);
                        p->spin_usec = spin;
                        break;
                case 'h':
                        help();
                        return 1;
                case ARG_VERSION:
                        printf("qrexec-policyd (%s) %s\n", PACKAGE_NAME, PACKAGE_VERSION);
                        return 1;
                default:
                        fprintf(stderr, "Try 'qrexec-policyd --help'.\n");
                        return -EINVAL;
                }
        if (optind < argc)
                return log_error_errno(EINVAL, "Unexpected argument '%s'", argv[optind]);
        if (p->n_policy_dirs == 0) {
                p->policy_dirs[0] = default_policy_dirs[0];
                p->policy_dirs[1] = default_policy_dirs[1];
                p->n_policy_dirs = 2;
        }
        if (runtime_dir) {
                p->bus_socket_path = bus_opt ? strdup(bus_opt) : path_join(runtime_dir, "bus.sock");
                p->policy_socket_path = socket_opt ? strdup(socket_opt) : path_join(runtime_dir, "policy.sock");
        } else {
                p->bus_socket_path = daemon_runtime_path(bus_opt, "bus.sock");
                p->policy_socket_path = daemon_runtime_path(socket_opt, "policy.sock");
        }
        if (!p->bus_socket_path || !p->policy_socket_path)
                return log_error_errno(ENOMEM, "Out of memory");
        return 0;
}

static int policyd_init(struct policyd *p) {
        int r;

        r = daemon_event_new(&p->event);
        if (r < 0)
                return log_error_errno(r, "Cannot set up the event loop");
        r = bus_link_connect(p, BUS_CONNECT_TIMEOUT_USEC);
        if (r < 0)
                return r;
        r = policy_state_init(p);
        if (r < 0)
                return r;
        r = policy_socket_open(p);
        if (r < 0)
                return r;
        return system_info_subscribe(p);
}

static void policyd_done(struct policyd *p) {
        policy_socket_close(p);
        bus_link_close(p);
        request_done_all(p);
        system_info_done(p);
        policy_state_done(p);
        sd_event_unref(p->event);
        free(p->bus_socket_path);
        free(p->policy_socket_path);
}

int main(int argc, char *argv[]) {
        static struct policyd p = {
                .spin_usec = DAEMON_SPIN_USEC_DEFAULT,
                .inotify_fd = -1,
        };
        int r;

        log_setup("qrexec-policyd");
        r = parse_argv(&p, argc, argv);
        if (r != 0) {
                policyd_done(&p);
                return r > 0 ? EXIT_SUCCESS : EXIT_FAILURE;
        }
        r = policyd_init(&p);
        if (r < 0)
                goto finish;
        r = sandbox_apply(policyd_syscalls);
        if (r < 0) {
                log_error_errno(r, "Cannot apply the seccomp sandbox");
                goto finish;
        }

        daemon_notify_ready("Evaluating qrexec calls");
        r = daemon_event_loop(p.event, p.spin_usec);
        daemon_notify_stopping();
        if (r < 0)
                log_error_errno(r, "Event loop failed");
finish:
        policyd_done(&p);
        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
