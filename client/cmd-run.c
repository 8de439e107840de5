/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * qubes-ctl run: a command in a domain (Qubes' qvm-run).  qubesd's Run gives
 * a listening socket in the domain's vchan directory; this process becomes
 * the vchan server on it (vchan_server_adopt), the domain's agent connects,
 * and the qrexec data stream (qrexec-stream.h) runs between the two directly.
 * With --dispvm a disposable is made first and killed afterwards — also after
 * an error or Ctrl-C: the stream then runs in a child, and this process only
 * waits for it and cleans up.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "api.h"
#include "qrexec-stream.h"
#include "qubes-ctl.h"
#include "vchan.h"

#define RUN_CONNECT_TIMEOUT_MS (60 * 1000)
#define RUN_HANDSHAKE_TIMEOUT_MS (30 * 1000)
#define EXIT_LOCAL_PROBLEM 125
#define EXIT_CONNECTION_LOST 255

struct run_options {
        const char *user;
        bool pass_io;
        bool autostart;
        bool dispvm;
        const char *dispvm_template;
};

static volatile sig_atomic_t interrupted;

static void on_signal(int sig) {
        interrupted = sig;
}

/* Wait for the agent on the adopted socket; then HELLO both ways and the
 * stream between the domain and in/out/err (taken over: closed here). */
static int stream_over(int listen_fd, int in, int out, int err) {
        struct vchan *v = NULL;
        uint32_t version;
        int r;

        r = vchan_server_adopt(listen_fd, 0, 0, &v);
        if (r < 0) {
                close(listen_fd);
                ctl_error_errno(r, "cannot use the data socket qubesd gave");
                r = EXIT_LOCAL_PROBLEM;
                goto close_fds;
        }
        for (uint64_t deadline = now_usec() + RUN_CONNECT_TIMEOUT_MS * UINT64_C(1000);
             vchan_is_open(v) == VCHAN_WAITING;) {
                struct pollfd p = { .fd = vchan_fd_for_select(v), .events = POLLIN };
                uint64_t now = now_usec();
                if (now >= deadline) {
                        ctl_error("the domain's agent did not connect within %d s", RUN_CONNECT_TIMEOUT_MS / 1000);
                        vchan_close(v);
                        r = EXIT_CONNECTION_LOST;
                        goto close_fds;
                }
                r = poll(&p, 1, (int) ((deadline - now) / 1000) + 1);
                if (r < 0 && errno != EINTR)
                        break;
                if (r > 0 && vchan_wait(v) < 0)
                        break;
        }
        if (vchan_is_open(v) != VCHAN_CONNECTED) {
                ctl_error("the domain's agent did not connect");
                vchan_close(v);
                r = EXIT_CONNECTION_LOST;
                goto close_fds;
        }
        r = qrexec_stream_handshake(v, RUN_HANDSHAKE_TIMEOUT_MS, &version);
        if (r < 0) {
                ctl_error_errno(r, "qrexec handshake with the domain's agent failed");
                vchan_close(v);
                r = EXIT_CONNECTION_LOST;
                goto close_fds;
        }
        r = qrexec_stream_run_client(v, version, in, out, err, NULL);
        vchan_close(v);
        if (r < 0) {
                ctl_error_errno(r, "the connection to the domain broke");
                return EXIT_CONNECTION_LOST;
        }
        return r;

close_fds:
        for (int i = 0, fds[3] = { in, out, err }; i < 3; i++)
                if (fds[i] >= 0)
                        close(fds[i]);
        return r;
}

/* Run, then the stream over the socket qubesd hands over.  just_exec: no
 * input or output; the agent connects once to report that the command
 * started (0) or could not (127 not found, 125 another problem). */
static int run_call(sd_bus *bus, const char *name, const char *user, const char *command, bool just_exec,
                    bool autostart, int in, int out, int err) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int fd, r;
        uint32_t port;

        r = api_call_domain(bus, name, "Run", autostart ? API_LIFECYCLE_TIMEOUT_USEC : API_TIMEOUT_USEC, &reply,
                            "ssbb", user ?: "", command, just_exec, autostart);
        if (r >= 0) {
                r = sd_bus_message_read(reply, "hu", &fd, &port);
                if (r < 0)
                        r = ctl_error_errno(r, "Run: unexpected reply");
        }
        if (r >= 0 && (fd = fcntl(fd, F_DUPFD_CLOEXEC, 3)) < 0)
                r = ctl_error_errno(errno, "cannot keep the data socket");
        if (r < 0) {
                for (int i = 0, fds[3] = { in, out, err }; i < 3; i++)
                        if (fds[i] >= 0)
                                close(fds[i]);
                return r;
        }
        return stream_over(fd, in, out, err);
}

int ctl_run_with_fds(sd_bus *bus, const char *name, const char *user, const char *command, bool autostart,
                     int in, int out, int err) {
        return run_call(bus, name, user, command, false, autostart, in, out, err);
}

/* Run in `name`: 0.. the exit status, or a ctl status (negative: a helper's -errno). */
static int run_in(sd_bus *bus, const char *name, const char *command, const struct run_options *o, bool wait) {
        int r;

        if (wait) {
                /* the stream closes what it is given: dups keep our stdio */
                int in = o->pass_io ? fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 3) : -1;
                int out = o->pass_io ? fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3) : -1;
                int err = o->pass_io ? fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3) : -1;

                r = ctl_run_with_fds(bus, name, o->user, command, o->autostart, in, out, err);
                if (o->pass_io || r < 0 || r == EXIT_LOCAL_PROBLEM || r == EXIT_CONNECTION_LOST)
                        return r;
                return 0;
        }
        r = run_call(bus, name, o->user, command, true, o->autostart, -1, -1, -1);
        if (r > 0 && r != EXIT_LOCAL_PROBLEM && r != EXIT_CONNECTION_LOST)
                ctl_error("%s: the command could not be started (status %d)", name, r);
        return r;
}

/* --dispvm: the stream in a child; here, the disposable's life. */
static int run_in_dispvm(sd_bus *bus, const char *command, const struct run_options *o) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        struct sigaction sa = { .sa_handler = on_signal };
        _cleanup_free_ char *name = NULL;
        const char *created;
        int status, r, result;
        pid_t child;

        r = api_call_manager(bus, "CreateDisposable", API_LIFECYCLE_TIMEOUT_USEC, &reply, "s",
                             o->dispvm_template ?: "");
        if (r < 0)
                return r;
        r = sd_bus_message_read(reply, "s", &created);
        if (r < 0 || !(name = strdup(created)))
                return ctl_error_errno(r < 0 ? r : -ENOMEM, "CreateDisposable: unexpected reply");
        fprintf(stderr, "Running in disposable %s\n", name);

        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGHUP, &sa, NULL);
        fflush(NULL);
        child = fork();
        if (child < 0) {
                result = ctl_error_errno(errno, "fork");
                goto kill;
        }
        if (child == 0) {
                signal(SIGINT, SIG_DFL);
                signal(SIGTERM, SIG_DFL);
                signal(SIGHUP, SIG_DFL);
                /* sd-bus connections do not cross fork(): the child makes its own */
                sd_bus *child_bus = NULL;
                r = api_connect(&child_bus);
                if (r >= 0)
                        r = run_in(child_bus, name, command, o, true);
                _exit(r < 0 ? EXIT_LOCAL_PROBLEM : r);
        }
        while (waitpid(child, &status, 0) < 0) {
                if (errno != EINTR) {
                        status = EXIT_LOCAL_PROBLEM << 8;
                        break;
                }
                if (interrupted)
                        (void) kill(child, SIGKILL);
        }
        result = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        if (interrupted)
                result = 128 + interrupted;
kill:
        r = api_call_domain(bus, name, "Kill", API_LIFECYCLE_TIMEOUT_USEC, NULL, NULL);
        if (r < 0 && r != -ENXIO)
                ctl_error("could not kill disposable %s; qubesd removes it when it stops", name);
        return result;
}

static char *join_args(int argc, char *argv[]) {
        size_t len = 1;
        char *s, *p;

        for (int i = 0; i < argc; i++)
                len += strlen(argv[i]) + 1;
        s = p = malloc(len);
        if (!s)
                return NULL;
        for (int i = 0; i < argc; i++)
                p = stpcpy(stpcpy(p, i ? " " : ""), argv[i]);
        *p = '\0';
        return s;
}

static int run_run(const struct ctl_command *cmd, int argc, char *argv[]) {
        enum { ARG_NO_AUTOSTART = 0x100, ARG_DISPVM };
        static const struct option options[] = {
                { "user", required_argument, NULL, 'u' },
                { "pass-io", no_argument, NULL, 'p' },
                { "no-autostart", no_argument, NULL, ARG_NO_AUTOSTART },
                { "dispvm", optional_argument, NULL, ARG_DISPVM },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        struct run_options o = { .autostart = true };
        _cleanup_free_ char *command = NULL;
        const char *name = NULL;
        int c, r;

        while ((c = ctl_getopt(cmd, argc, argv, "+u:ph", options)) >= 0)
                switch (c) {
                case 'u':
                        if (!*optarg)
                                return ctl_usage_error(cmd, "--user wants a user name");
                        o.user = optarg;
                        break;
                case 'p':
                        o.pass_io = true;
                        break;
                case ARG_NO_AUTOSTART:
                        o.autostart = false;
                        break;
                case ARG_DISPVM:
                        o.dispvm = true;
                        o.dispvm_template = optarg;
                        break;
                case 'h':
                        return ctl_command_show_help(cmd);
                default:
                        return CTL_EXIT_USAGE;
                }
        if (!o.dispvm) {
                if (optind >= argc)
                        return ctl_usage_error(cmd, "which domain?");
                name = argv[optind++];
        }
        if (optind >= argc)
                return ctl_usage_error(cmd, "which command?");
        command = join_args(argc - optind, argv + optind);
        if (!command)
                return ctl_exit_status(ctl_error_errno(ENOMEM, "out of memory"));

        r = api_connect(&bus);
        if (r < 0)
                return ctl_exit_status(r);
        r = o.dispvm ? run_in_dispvm(bus, command, &o) : run_in(bus, name, command, &o, o.pass_io);
        return r < 0 ? ctl_exit_status(r) : r;
}

const struct ctl_command ctl_command_run = {
        .name = "run",
        .summary = "run a command in a domain",
        .help = "Usage: qubes-ctl run [OPTIONS] NAME COMMAND [ARGS...]\n"
                "       qubes-ctl run [OPTIONS] --dispvm[=TEMPLATE] COMMAND [ARGS...]\n"
                "Run COMMAND (its words joined by spaces) in domain NAME, through its qrexec\n"
                "agent.  A halted domain is started first.  Without --pass-io the command runs\n"
                "in the background with no input or output, and the exit status is 0 once it\n"
                "started; with --pass-io standard input, output and error are connected to it\n"
                "and the exit status is the command's.\n\n"
                "  -u --user USER       run as USER (default: the domain's default_user)\n"
                "  -p --pass-io         connect stdin, stdout and stderr; exit with its status\n"
                "     --no-autostart    fail when the domain is not running\n"
                "     --dispvm[=TEMPLATE]  run in a new disposable made from TEMPLATE (default:\n"
                "                       the global default_dispvm), wait for the command, then\n"
                "                       kill the disposable (also on error or Ctrl-C)\n\n"
                "Exit status with --pass-io: the command's; 125 a local problem, 126 refused,\n"
                "127 not found, 255 the connection was lost; else as every command.\n",
        .run = run_run,
};
