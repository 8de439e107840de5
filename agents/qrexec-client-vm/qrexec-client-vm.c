/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * qrexec-client-vm: call a service in another domain from inside a domain,
 * with Qubes' command line (qrexec-interop.md).  It asks the local agent over
 * its trigger socket (TRIGGER_SERVICE4, ident placeholder "SOCKET"), waits for
 * the 8-byte exec_params (EOF = refused), then becomes the data vchan's
 * server towards the target and runs the client end of the data phase with
 * its own stdio, or with a local program's (LOCAL_PROG mode: the program's
 * stdout feeds the service's stdin and the service's stdout feeds the
 * program's stdin).  The trigger socket stays open until the call ends: its
 * close tells the agent to report CONNECTION_TERMINATED.
 *
 * Exit status: the remote one; 126 refused; 125 a local problem; 255 the
 * connection broke before an exit code arrived.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "qrexec-stream.h"
#include "qrexec.h"
#include "util.h"
#include "vchan.h"
#include "vchan-socket.h"

#define DEFAULT_AGENT_SOCKET "/var/run/qubes/qrexec-agent"
#define CONNECT_TIMEOUT_MSEC (120 * 1000)      /* as Qubes' client: the target may be starting */
#define EXIT_LOST 255

struct options {
        const char *agent_socket;
        size_t buffer_size;
        int replace_stdout, replace_stderr;     /* -1: when a tty */
        const char *prefix_data;
        bool use_stdin_socket;
        const char *source;
        char target[QREXEC_DOMAIN_SIZE];
        const char *service;
        char **local_prog;                      /* NULL: our own stdio */
};

static void help(void) {
        printf("Usage: qrexec-client-vm [OPTIONS] TARGET SERVICE[+ARG] [LOCAL_PROG [ARGS...]]\n"
               "Call SERVICE (with its argument ARG) in domain TARGET, as policy allows.\n"
               "The service's stdin/stdout are ours, or LOCAL_PROG's when one is given;\n"
               "its stderr is ours.  Exit status: the service's; 126 refused; 125 local\n"
               "problem; 255 connection lost.  '$' in TARGET reads as '@'.\n\n"
               "      --agent-socket=PATH   the agent's trigger socket (default %s)\n"
               "      --buffer-size=BYTES   data vchan ring size (default 65536)\n"
               "  -t, --filter-escape-chars-stdout     replace non-printable output bytes by '_'\n"
               "  -T, --filter-escape-chars-stderr     the same for stderr\n"
               "      --no-filter-escape-chars-stdout  never (default: only on a terminal)\n"
               "      --no-filter-escape-chars-stderr\n"
               "  -p, --prefix-data=DATA    send DATA before stdin\n"
               "      --use-stdin-socket    stdin is a socket: write the output to it too\n"
               "  -s, --source-qube=NAME    the domain this call is relayed for\n"
               "  -h, --help                this text\n",
               DEFAULT_AGENT_SOCKET);
}

static int parse_args(int argc, char *argv[], struct options *o) {
        enum { ARG_AGENT_SOCKET = 0x100, ARG_BUFFER_SIZE, ARG_NO_FILTER_STDOUT, ARG_NO_FILTER_STDERR,
               ARG_USE_STDIN_SOCKET };
        static const struct option long_options[] = {
                { "help", no_argument, NULL, 'h' },
                { "agent-socket", required_argument, NULL, ARG_AGENT_SOCKET },
                { "buffer-size", required_argument, NULL, ARG_BUFFER_SIZE },
                { "filter-escape-chars-stdout", no_argument, NULL, 't' },
                { "filter-escape-chars-stderr", no_argument, NULL, 'T' },
                { "no-filter-escape-chars-stdout", no_argument, NULL, ARG_NO_FILTER_STDOUT },
                { "no-filter-escape-chars-stderr", no_argument, NULL, ARG_NO_FILTER_STDERR },
                { "prefix-data", required_argument, NULL, 'p' },
                { "use-stdin-socket", no_argument, NULL, ARG_USE_STDIN_SOCKET },
                { "source-qube", required_argument, NULL, 's' },
                {},
        };
        uint32_t size;
        int c;

        *o = (struct options) { .agent_socket = DEFAULT_AGENT_SOCKET, .replace_stdout = -1,
                                .replace_stderr = -1 };
        /* '+': options end at TARGET, LOCAL_PROG keeps its own. */
        while ((c = getopt_long(argc, argv, "+htTp:s:", long_options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        exit(0);
                case ARG_AGENT_SOCKET:
                        o->agent_socket = optarg;
                        break;
                case ARG_BUFFER_SIZE:
                        if (parse_uint32(optarg, &size) < 0 || size == 0 || size > (1u << 24)) {
                                fprintf(stderr, "qrexec-client-vm: invalid buffer size '%s'\n", optarg);
                                return -EINVAL;
                        }
                        o->buffer_size = size;
                        break;
                case 't':
                        o->replace_stdout = 1;
                        break;
                case 'T':
                        o->replace_stderr = 1;
                        break;
                case ARG_NO_FILTER_STDOUT:
                        o->replace_stdout = 0;
                        break;
                case ARG_NO_FILTER_STDERR:
                        o->replace_stderr = 0;
                        break;
                case 'p':
                        o->prefix_data = optarg;
                        break;
                case ARG_USE_STDIN_SOCKET:
                        o->use_stdin_socket = true;
                        break;
                case 's':
                        o->source = optarg;
                        break;
                default:
                        return -EINVAL;
                }
        if (argc - optind < 2) {
                fprintf(stderr, "qrexec-client-vm: TARGET and SERVICE are needed (see --help)\n");
                return -EINVAL;
        }
        if (!*argv[optind] || strlen(argv[optind]) >= sizeof(o->target) ||
            (o->source && strlen(o->source) >= QREXEC_DOMAIN_SIZE)) {
                fprintf(stderr, "qrexec-client-vm: invalid domain name\n");
                return -EINVAL;
        }
        strcpy(o->target, argv[optind]);
        /* "$dispvm" is the old spelling of "@dispvm", easier in a shell. */
        for (char *p = o->target; (p = strchr(p, '$')); p++)
                *p = '@';
        o->service = argv[optind + 1];
        if (!*o->service || *o->service == '+' || strlen(o->service) >= QREXEC_MAX_SERVICE_NAME_LEN) {
                fprintf(stderr, "qrexec-client-vm: invalid service name\n");
                return -EINVAL;
        }
        if (argc - optind > 2)
                o->local_prog = argv + optind + 2;
        if (o->use_stdin_socket && o->local_prog) {
                fprintf(stderr, "qrexec-client-vm: --use-stdin-socket and LOCAL_PROG exclude each other\n");
                return -EINVAL;
        }
        return 0;
}

/* The request, then the agent's answer: 1 with the exec_params, 0 refused
 * (the agent closed the socket), -errno. */
static int request_call(int agent_fd, const struct options *o, uint32_t *ret_domain, uint32_t *ret_port) {
        size_t size = QREXEC_HEADER_SIZE + 2 * QREXEC_DOMAIN_SIZE + QREXEC_IDENT_SIZE + strlen(o->service) + 1;
        _cleanup_free_ uint8_t *msg = malloc(size);
        uint8_t params[8];
        int n, r;

        if (!msg)
                return -ENOMEM;
        n = qrexec_encode_trigger4(msg, size, o->source ?: "", o->target, "SOCKET", o->service);
        if (n < 0)
                return n;
        r = write_full(agent_fd, msg, (size_t) n);
        if (r < 0)
                return r;
        r = read_full(agent_fd, params, sizeof(params));
        if (r == -EPIPE)
                return 0;
        if (r < 0)
                return r;
        *ret_domain = le32_load(params);
        *ret_port = le32_load(params + 4);
        return 1;
}

/* Serve the data vchan for the target and wait for its agent. */
static int accept_target(uint32_t domain, uint32_t port, size_t buffer_size, struct vchan **ret) {
        struct vchan_endpoint ep = {
                .backend = VCHAN_SOCKET,
                .local_domid = -1,              /* $VCHAN_DOMAIN */
                .remote_domid = (int) domain,
                .port = (int) port,
        };
        struct timespec start, now;
        struct vchan *v = NULL;
        int r;

        if (domain > INT32_MAX || port > INT32_MAX)
                return -EINVAL;
        r = vchan_server_init(&ep, buffer_size, buffer_size, &v);
        if (r < 0)
                return r;
        clock_gettime(CLOCK_MONOTONIC, &start);
        while (vchan_is_open(v) == VCHAN_WAITING) {
                struct pollfd pfd = { .fd = vchan_fd_for_select(v), .events = POLLIN };
                long elapsed;

                clock_gettime(CLOCK_MONOTONIC, &now);
                elapsed = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
                if (elapsed >= CONNECT_TIMEOUT_MSEC) {
                        vchan_close(v);
                        return -ETIMEDOUT;
                }
                r = poll(&pfd, 1, (int) (CONNECT_TIMEOUT_MSEC - elapsed));
                if (r < 0 && errno != EINTR) {
                        r = -errno;
                        vchan_close(v);
                        return r;
                }
                if (r > 0 && (r = vchan_wait(v)) < 0) {
                        vchan_close(v);
                        return r;
                }
        }
        if (vchan_is_open(v) != VCHAN_CONNECTED) {
                vchan_close(v);
                return -ECONNRESET;
        }
        *ret = v;
        return 0;
}

/* LOCAL_PROG with its stdin reading the service's output and its stdout
 * writing the service's input; our ends in *ret_in (to send) and *ret_out. */
static pid_t spawn_local(char **argv, int *ret_in, int *ret_out) {
        int to_prog[2], from_prog[2];
        pid_t pid;

        if (pipe2(to_prog, O_CLOEXEC) < 0)
                return -errno;
        if (pipe2(from_prog, O_CLOEXEC) < 0) {
                int r = -errno;
                close(to_prog[0]);
                close(to_prog[1]);
                return r;
        }
        pid = fork();
        if (pid < 0) {
                int r = -errno;
                close(to_prog[0]);
                close(to_prog[1]);
                close(from_prog[0]);
                close(from_prog[1]);
                return r;
        }
        if (pid == 0) {
                if (dup2(to_prog[0], STDIN_FILENO) < 0 || dup2(from_prog[1], STDOUT_FILENO) < 0)
                        _exit(125);
                signal(SIGPIPE, SIG_DFL);
                execvp(argv[0], argv);
                fprintf(stderr, "qrexec-client-vm: %s: %m\n", argv[0]);
                _exit(errno == ENOENT ? 127 : 126);
        }
        close(to_prog[0]);
        close(from_prog[1]);
        *ret_in = from_prog[0];
        *ret_out = to_prog[1];
        return pid;
}

static int run_call(const struct options *o, uint32_t domain, uint32_t port) {
        struct qrexec_client_options stream_opts = {
                .replace_escapes_stdout = o->replace_stdout > 0 || (o->replace_stdout < 0 && !o->local_prog &&
                                                                     isatty(STDOUT_FILENO)),
                .replace_escapes_stderr = o->replace_stderr > 0 || (o->replace_stderr < 0 && isatty(STDERR_FILENO)),
                .prefix_data = o->prefix_data,
                .prefix_len = o->prefix_data ? strlen(o->prefix_data) : 0,
        };
        int in_fd = -1, out_fd = -1, err_fd, r;
        struct vchan *v = NULL;
        uint32_t version;
        pid_t local = 0;

        r = accept_target(domain, port, o->buffer_size, &v);
        if (r < 0) {
                fprintf(stderr, "qrexec-client-vm: no connection from the target: %s\n", strerror(-r));
                return r == -ETIMEDOUT || r == -ECONNRESET ? EXIT_LOST : QREXEC_EXIT_PROBLEM;
        }
        r = qrexec_stream_handshake(v, CONNECT_TIMEOUT_MSEC, &version);
        if (r < 0) {
                fprintf(stderr, "qrexec-client-vm: handshake with the target failed: %s\n", strerror(-r));
                vchan_close(v);
                return EXIT_LOST;
        }

        /* The stream functions own the fds they get: hand them duplicates. */
        if (o->local_prog) {
                local = spawn_local(o->local_prog, &in_fd, &out_fd);
                if (local < 0) {
                        fprintf(stderr, "qrexec-client-vm: cannot start %s: %s\n", o->local_prog[0],
                                strerror((int) -local));
                        vchan_close(v);
                        return QREXEC_EXIT_PROBLEM;
                }
        } else {
                in_fd = fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 3);
                out_fd = fcntl(o->use_stdin_socket ? STDIN_FILENO : STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
        }
        err_fd = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);

        r = qrexec_stream_run_client(v, version, in_fd, out_fd, err_fd, &stream_opts);
        vchan_close(v);
        if (local > 0)
                (void) waitpid(local, NULL, 0);
        if (r < 0) {
                fprintf(stderr, "qrexec-client-vm: connection lost: %s\n", strerror(-r));
                return EXIT_LOST;
        }
        return r;
}

int main(int argc, char *argv[]) {
        _cleanup_close_ int agent_fd = -1;
        struct options o;
        uint32_t domain = 0, port = 0;
        int r;

        if (parse_args(argc, argv, &o) < 0)
                return 2;
        signal(SIGPIPE, SIG_IGN);

        agent_fd = vchan_socket_connect_path(o.agent_socket);
        if (agent_fd < 0) {
                fprintf(stderr, "qrexec-client-vm: cannot reach the agent at %s: %s\n", o.agent_socket,
                        strerror(-agent_fd));
                return QREXEC_EXIT_PROBLEM;
        }
        r = request_call(agent_fd, &o, &domain, &port);
        if (r < 0) {
                fprintf(stderr, "qrexec-client-vm: request failed: %s\n", strerror(-r));
                return QREXEC_EXIT_PROBLEM;
        }
        if (r == 0) {
                fprintf(stderr, "Request refused\n");
                return QREXEC_EXIT_REQUEST_REFUSED;
        }
        /* agent_fd stays open until the end: its close ends the call for the agent. */
        return run_call(&o, domain, port);
}
