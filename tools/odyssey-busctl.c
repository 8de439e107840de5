/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * odyssey-busctl: talk to busd from a shell.
 *   odyssey-busctl [--socket PATH] [--timeout SEC] ping [--count N]
 *   odyssey-busctl [...] echo --to ROLE [--count N] [--size BYTES]
 *   odyssey-busctl [...] serve-echo
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus-client.h"
#include "daemon.h"
#include "log.h"

static const char *arg_socket;
static uint64_t arg_timeout_usec = BUS_CLIENT_TIMEOUT_DEFAULT;

static void help(void) {
        printf("Usage: odyssey-busctl [OPTIONS] COMMAND [ARGS]\n"
               "Talk to Odyssey's message bus (busd).\n\n"
               "Commands:\n"
               "  ping [--count N]                     round trips to busd; prints the times\n"
               "  echo --to ROLE [--count N] [--size BYTES]\n"
               "                                       ECHO_REQUEST to a daemon role, wait for\n"
               "                                       each ECHO_REPLY; prints the times\n"
               "  serve-echo                           answer ECHO_REQUESTs until killed\n\n"
               "Options:\n"
               "  --socket PATH    busd's socket (default $ODYSSEY_RUNTIME_DIR/bus.sock,\n"
               "                   else /run/qubes/bus.sock)\n"
               "  --timeout SEC    how long to wait for busd and for each reply (default 5)\n"
               "  -h --help        show this help\n"
               "  --version        show the version\n"
               "busd decides who you are from your uid: run as a uid its role table knows.\n");
}

static int connect_bus(struct bus_client **ret) {
        int r = bus_client_connect(arg_socket, arg_timeout_usec, ret);

        if (r == -ECONNRESET)
                return log_error_errno(r, "busd closed the connection: is this uid (%u) in its role table, "
                                       "and is that role free?", (unsigned) getuid());
        if (r < 0)
                return log_error_errno(r, "Cannot connect to busd");
        return 0;
}

static int cmp_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
        return x < y ? -1 : x > y;
}

static void print_times(const char *what, uint64_t *usec, size_t n) {
        if (n == 1) {
                printf("%s: time=%.1f us\n", what, (double) usec[0]);
                return;
        }
        uint64_t sum = 0;
        for (size_t i = 0; i < n; i++)
                sum += usec[i];
        qsort(usec, n, sizeof(*usec), cmp_u64);
        printf("%s: %zu round trips, min %.1f us, median %.1f us, avg %.1f us, max %.1f us\n", what, n,
               (double) usec[0], (double) usec[n / 2], (double) sum / (double) n, (double) usec[n - 1]);
}

static int parse_count(const char *s, uint32_t *ret) {
        int r = parse_uint32(s, ret);

        if (r < 0 || *ret == 0)
                return log_error_errno(-EINVAL, "Invalid --count '%s'", s);
        return 0;
}

static int cmd_ping(int argc, char *argv[]) {
        static const struct option options[] = { { "count", required_argument, NULL, 'c' }, {} };
        _cleanup_bus_client_ struct bus_client *bus = NULL;
        _cleanup_free_ struct bus_message *reply = NULL;
        _cleanup_free_ uint64_t *times = NULL;
        uint32_t count = 1;
        int c, r;

        while ((c = getopt_long(argc, argv, "c:", options, NULL)) >= 0)
                if (c != 'c' || parse_count(optarg, &count) < 0)
                        return -EINVAL;
        reply = malloc(sizeof(*reply));
        times = calloc(count, sizeof(*times));
        if (!reply || !times)
                return log_error_errno(-ENOMEM, "Out of memory");
        r = connect_bus(&bus);
        if (r < 0)
                return r;

        for (uint32_t i = 0; i < count; i++) {
                struct bus_msg_ping ping = { .token = now_usec() ^ i };
                uint64_t start = now_usec();

                r = bus_client_call(bus, BUS_MSG_PING, BUS_PEER_BUSD, &ping, arg_timeout_usec, reply);
                if (r < 0)
                        return log_error_errno(r, "PING failed");
                times[i] = now_usec() - start;
                if (reply->hdr.type != BUS_MSG_PONG || reply->u.pong.token != ping.token)
                        return log_error_errno(-EBADMSG, "busd answered PING with %s",
                                               bus_type_to_string(reply->hdr.type));
        }
        print_times("PONG from busd", times, count);
        return 0;
}

static int cmd_echo(int argc, char *argv[]) {
        static const struct option options[] = {
                { "to", required_argument, NULL, 't' },
                { "count", required_argument, NULL, 'c' },
                { "size", required_argument, NULL, 's' },
                {}
        };
        _cleanup_bus_client_ struct bus_client *bus = NULL;
        _cleanup_free_ struct bus_message *reply = NULL;
        _cleanup_free_ struct bus_msg_echo_request *req = NULL;
        _cleanup_free_ uint64_t *times = NULL;
        enum bus_role to = _BUS_ROLE_INVALID;
        uint32_t count = 1, size = 64;
        char what[64];
        int c, r;

        while ((c = getopt_long(argc, argv, "t:c:s:", options, NULL)) >= 0)
                switch (c) {
                case 't':
                        to = bus_role_from_string(optarg);
                        if (to == _BUS_ROLE_INVALID || !(BUS_ROLE_DAEMONS_MASK & (1u << to)))
                                return log_error_errno(-EINVAL, "Unknown daemon role '%s'", optarg);
                        break;
                case 'c':
                        if (parse_count(optarg, &count) < 0)
                                return -EINVAL;
                        break;
                case 's':
                        if (parse_uint32(optarg, &size) < 0 || size > BUS_ECHO_MAX)
                                return log_error_errno(-EINVAL, "--size must be 0..%u", BUS_ECHO_MAX);
                        break;
                default:
                        return -EINVAL;
                }
        if (to == _BUS_ROLE_INVALID)
                return log_error_errno(-EINVAL, "echo needs --to ROLE");

        reply = calloc(1, sizeof(*reply));
        req = malloc(sizeof(*req));
        times = calloc(count, sizeof(*times));
        if (!reply || !req || !times)
                return log_error_errno(-ENOMEM, "Out of memory");
        req->data_len = size;
        for (uint32_t i = 0; i < size; i++)
                req->data[i] = (uint8_t) (i * 7 + 1);
        r = connect_bus(&bus);
        if (r < 0)
                return r;

        for (uint32_t i = 0; i < count; i++) {
                uint64_t start = now_usec();

                r = bus_client_call(bus, BUS_MSG_ECHO_REQUEST, BUS_PEER_ROLE(to), req, arg_timeout_usec, reply);
                if (r < 0)
                        return log_error_errno(r, "ECHO_REQUEST to %s failed%s%s", bus_role_to_string(to),
                                               reply->hdr.type == BUS_MSG_ERROR ? ": " : "",
                                               reply->hdr.type == BUS_MSG_ERROR ? reply->u.error.text : "");
                times[i] = now_usec() - start;
                if (reply->hdr.type != BUS_MSG_ECHO_REPLY || reply->u.echo_reply.data_len != size ||
                    memcmp(reply->u.echo_reply.data, req->data, size) != 0)
                        return log_error_errno(-EBADMSG, "%s answered with %s, not the same bytes",
                                               bus_role_to_string(to), bus_type_to_string(reply->hdr.type));
        }
        snprintf(what, sizeof(what), "ECHO_REPLY from %s (peer 0x%x)", bus_role_to_string(to), reply->hdr.peer);
        print_times(what, times, count);
        return 0;
}

static void serve_echo_on_disconnect(struct bus_client *c, int error, void *userdata) {
        log_error_errno(error, "busd went away");
        sd_event_exit(userdata, 1);
}

static int cmd_serve_echo(int argc, char *argv[]) {
        _cleanup_bus_client_ struct bus_client *bus = NULL;
        sd_event *event = NULL;
        int r;

        if (argc > 1)
                return log_error_errno(-EINVAL, "serve-echo takes no arguments");
        r = daemon_event_new(&event);
        if (r < 0)
                return log_error_errno(r, "Cannot set up the event loop");
        r = connect_bus(&bus);
        if (r >= 0)
                r = bus_client_attach_event(bus, event, NULL, serve_echo_on_disconnect, event);
        if (r >= 0) {
                /* Scripts wait for this line: the connection is up and answering. */
                printf("serving ECHO_REQUEST as %s (peer 0x%x)\n", bus_role_to_string(bus_client_role(bus)),
                       bus_client_peer_id(bus));
                fflush(stdout);
                r = sd_event_loop(event);
                if (r > 0)
                        r = -ECONNRESET;
        }
        sd_event_unref(event);  /* the client's io source keeps its own reference */
        return r;
}

int main(int argc, char *argv[]) {
        enum { ARG_SOCKET = 0x100, ARG_TIMEOUT, ARG_VERSION };
        static const struct option options[] = {
                { "socket",  required_argument, NULL, ARG_SOCKET },
                { "timeout", required_argument, NULL, ARG_TIMEOUT },
                { "help",    no_argument,       NULL, 'h' },
                { "version", no_argument,       NULL, ARG_VERSION },
                {}
        };
        uint32_t sec;
        int c, r;

        log_setup("odyssey-busctl");
        /* '+': options after the command belong to the command. */
        while ((c = getopt_long(argc, argv, "+h", options, NULL)) >= 0)
                switch (c) {
                case ARG_SOCKET:
                        arg_socket = optarg;
                        break;
                case ARG_TIMEOUT:
                        if (parse_uint32(optarg, &sec) < 0 || sec == 0 || sec > 3600) {
                                log_error("Invalid --timeout '%s'", optarg);
                                return EXIT_FAILURE;
                        }
                        arg_timeout_usec = sec * BUS_CLIENT_USEC_PER_SEC;
                        break;
                case 'h':
                        help();
                        return EXIT_SUCCESS;
                case ARG_VERSION:
                        printf("odyssey-busctl (%s) %s\n", PACKAGE_NAME, PACKAGE_VERSION);
                        return EXIT_SUCCESS;
                default:
                        return EXIT_FAILURE;
                }
        if (optind >= argc) {
                log_error("No command given (see --help)");
                return EXIT_FAILURE;
        }

        const char *cmd = argv[optind];
        int cmd_argc = argc - optind;
        char **cmd_argv = argv + optind;
        optind = 1;
        if (strcmp(cmd, "ping") == 0)
                r = cmd_ping(cmd_argc, cmd_argv);
        else if (strcmp(cmd, "echo") == 0)
                r = cmd_echo(cmd_argc, cmd_argv);
        else if (strcmp(cmd, "serve-echo") == 0)
                r = cmd_serve_echo(cmd_argc, cmd_argv);
        else {
                log_error("Unknown command '%s' (see --help)", cmd);
                r = -EINVAL;
        }
        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
