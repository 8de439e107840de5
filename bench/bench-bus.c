/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bench-bus: request/response latency between two daemon processes
 *   - through the real busd binary (ECHO_REQUEST/ECHO_REPLY, 64-byte payload),
 *   - over a direct SOCK_SEQPACKET socketpair with the same encoded datagrams
 *     and the same peers (the baseline, measured in the same run),
 *   - as a D-Bus method call through a real dbus-daemon (bench-dbus.c).
 * Each figure is the median over RUNS runs of the mean of ROUND_TRIPS round
 * trips.  Needs root: the two bus peers run as the uids of two roles.
 *
 * The peers run as Odyssey's daemons run (bench-peer.c): each its own
 * process on an sd-event loop driven by daemon_event_loop() with the default
 * spin, the caller sending its next request from the reply handler, the echo
 * side answering from its io handler; on D-Bus the same loop with sd-bus
 * attached to it and sd_bus_call_async().  The same peers on all three
 * paths: only what is in the middle differs (busd as it runs, with its spin,
 * against dbus-daemon as it runs).  Until session 6 the peers were blocking
 * send/recv (sd_bus_call) loops, which no daemon of ours is: they sleep in
 * the kernel at once and pay every wake-up of an idle vCPU that the real
 * daemons' short poll after work avoids, and that is where the time of a
 * round trip goes on this machine (so they measured wake-ups more than the
 * buses).  Those figures are still printed, as *_raw_*, for continuity.
 * The daemon figures depend on daemon_event_loop()'s polling policy, which
 * busd and the peers of all three paths share (dbus-daemon does not poll).
 * Since session 7 the loops of a path share a page of spin slots
 * (spin-slots.h): busd's, given with WELCOME, on the bus path; one the
 * benchmark makes, given with its own WELCOME, on the socketpair; one
 * mapped by both peers on D-Bus.  Before, with three pollers on two vCPUs
 * (busd's path only), each counted the others as load and all slept.
 * Since session 8 busd's messages travel in its rings (bus-ring.h), the
 * socketpair's on the socket as before (its WELCOME gives no rings), and
 * the raw bus path calls through the bus client's blocking calls (rings
 * and kicks), the raw socketpair with send/recv.
 *
 * Every run starts fresh processes for all paths and measures them one
 * after the other, in an order that rotates from run to run.  On this
 * kind of machine (a small VM) a round trip costs several times more when
 * the scheduler spreads the processes over CPUs (each hop then wakes an
 * idle vCPU: the socketpair took 8-10 us on one vCPU and 80-90 us over two)
 * than when it keeps them on one, and the load of the machine moves that
 * placement; so each path must see the same placements and the same
 * moments of load.  (Until session 5 the D-Bus figure came from one set of
 * processes measured after all the busd runs: one placement, another
 * moment.)
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "bench-bus.h"
#include "bus-client.h"
#include "bus.h"
#include "spin-slots.h"
#include "util.h"

#define RUNS 7
#define ROUND_TRIPS 20000
#define DBUS_ROUND_TRIPS 5000
#define UID_CALLER 0            /* qubesd */
#define UID_ECHO 60301          /* qrexec-policyd */

static int cmp_double(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;
        return x < y ? -1 : x > y;
}

double bench_median(double *v, size_t n) {
        qsort(v, n, sizeof(*v), cmp_double);
        return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void die(const char *what, int r) {
        fprintf(stderr, "bench-bus: %s: %s\n", what, strerror(r < 0 ? -r : r));
        exit(EXIT_FAILURE);
}

/* The echo side, the same for busd and the socketpair: receive, decode
 * strictly, answer ECHO_REPLY with the same bytes and request id to the sender. */
static void echo_loop(int fd) {
        static uint8_t buf[BUS_MSG_MAX];
        static struct bus_message msg;
        static struct bus_msg_echo_reply reply;

        for (;;) {
                ssize_t n = recv(fd, buf, sizeof(buf), 0);
                struct bus_hdr hdr;
                int k;

                if (n <= 0 || bus_decode(buf, (size_t) n, &msg) < 0 || msg.hdr.type != BUS_MSG_ECHO_REQUEST)
                        _exit(n == 0 ? 0 : 1);
                hdr = (struct bus_hdr) { .type = BUS_MSG_ECHO_REPLY, .request_id = msg.hdr.request_id,
                                         .peer = msg.hdr.peer };
                reply.data_len = msg.u.echo_request.data_len;
                memcpy(reply.data, msg.u.echo_request.data, reply.data_len);
                k = bus_encode(&hdr, &reply, buf, sizeof(buf));
                if (k < 0 || send(fd, buf, (size_t) k, MSG_NOSIGNAL) != k)
                        _exit(1);
        }
}

/* The calling side: `count` round trips, each checked; mean µs per round trip. */
static double call_loop(int fd, uint32_t to, unsigned count) {
        static uint8_t buf[BUS_MSG_MAX], rbuf[BUS_MSG_MAX];
        static struct bus_message msg;
        static struct bus_msg_echo_request req = { .data_len = BENCH_PAYLOAD };
        uint64_t start = now_usec();

        for (unsigned i = 0; i < BENCH_PAYLOAD; i++)
                req.data[i] = (uint8_t) (i * 5 + 3);
        for (unsigned i = 1; i <= count; i++) {
                struct bus_hdr hdr = { .type = BUS_MSG_ECHO_REQUEST, .request_id = i, .peer = to };
                int k = bus_encode(&hdr, &req, buf, sizeof(buf));
                ssize_t n;

                if (k < 0 || send(fd, buf, (size_t) k, MSG_NOSIGNAL) != k)
                        die("send", errno);
                n = recv(fd, rbuf, sizeof(rbuf), 0);
                if (n <= 0)
                        die("recv", n == 0 ? ECONNRESET : errno);
                if (bus_decode(rbuf, (size_t) n, &msg) < 0 || msg.hdr.type != BUS_MSG_ECHO_REPLY ||
                    msg.hdr.request_id != i || msg.u.echo_reply.data_len != BENCH_PAYLOAD ||
                    memcmp(msg.u.echo_reply.data, req.data, BENCH_PAYLOAD) != 0)
                        die("bad reply", EBADMSG);
        }
        return (double) (now_usec() - start) / count;
}

/* The same two sides on a bus connection, blocking, through the bus client
 * (busd's rings and kicks: the socket alone no longer carries messages). */
static void client_echo_loop(struct bus_client *c) {
        static struct bus_message msg;

        for (;;) {
                if (bus_client_receive(c, BENCH_TIMEOUT_USEC, &msg) < 0 || msg.hdr.type != BUS_MSG_ECHO_REQUEST)
                        _exit(0);
                if (bus_client_reply(c, &msg, BUS_MSG_ECHO_REPLY, &msg.u.echo_request) < 0)
                        _exit(1);
        }
}

static double client_call_loop(struct bus_client *c, uint32_t to, unsigned count) {
        static struct bus_message reply;
        static struct bus_msg_echo_request req = { .data_len = BENCH_PAYLOAD };
        uint64_t start = now_usec();

        for (unsigned i = 0; i < BENCH_PAYLOAD; i++)
                req.data[i] = (uint8_t) (i * 5 + 3);
        bus_client_set_auto_echo(c, false);
        for (unsigned i = 1; i <= count; i++) {
                int r = bus_client_call(c, BUS_MSG_ECHO_REQUEST, to, &req, BENCH_TIMEOUT_USEC, &reply);

                if (r < 0)
                        die("call", r);
                if (reply.hdr.type != BUS_MSG_ECHO_REPLY || reply.u.echo_reply.data_len != BENCH_PAYLOAD ||
                    memcmp(reply.u.echo_reply.data, req.data, BENCH_PAYLOAD) != 0)
                        die("bad reply", EBADMSG);
        }
        return (double) (now_usec() - start) / count;
}

/* busd from the build tree, ready once it said READY=1. */
static pid_t start_busd(const char *dir, char *socket_path, size_t size) {
        const char *builddir = getenv("ODYSSEY_BUILDDIR") ?: ODYSSEY_BUILDDIR;
        char busd[512], notify[108], caller[64], echo[64], buf[256];
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        uint64_t deadline;
        int nfd;
        pid_t pid;

        snprintf(busd, sizeof(busd), "%s/daemons/busd/busd", builddir);
        snprintf(socket_path, size, "%s/bus.sock", dir);
        snprintf(notify, sizeof(notify), "%s/notify", dir);
        snprintf(caller, sizeof(caller), "qubesd=%u", UID_CALLER);
        snprintf(echo, sizeof(echo), "qrexec-policyd=%u", UID_ECHO);
        (void) unlink(notify);          /* the previous run's */
        nfd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        memcpy(sa.sun_path, notify, strlen(notify) + 1);
        if (nfd < 0 || bind(nfd, (struct sockaddr *) &sa, sizeof(sa)) < 0)
                die("notify socket", errno);

        pid = fork();
        if (pid < 0)
                die("fork", errno);
        if (pid == 0) {
                int null = open("/dev/null", O_WRONLY | O_CLOEXEC);

                if (null >= 0)
                        dup2(null, STDERR_FILENO);
                setenv("NOTIFY_SOCKET", notify, 1);
                execl(busd, busd, "--socket", socket_path, "--role-uid", caller, "--role-uid", echo, (char *) NULL);
                _exit(127);
        }
        deadline = now_usec() + 10000000;
        while (now_usec() < deadline) {
                struct pollfd pfd = { .fd = nfd, .events = POLLIN };
                ssize_t n;

                if (poll(&pfd, 1, 100) <= 0)
                        continue;
                n = recv(nfd, buf, sizeof(buf) - 1, 0);
                if (n > 0) {
                        buf[n] = 0;
                        if (strstr(buf, "READY=1")) {
                                close(nfd);
                                return pid;
                        }
                }
        }
        die("busd did not start", ETIMEDOUT);
        return -1;
}

/* The echo daemon on the bus: a process with the echo role's uid. */
static pid_t start_bus_echo(const char *socket_path, enum bench_peers peers) {
        int ready[2];
        char byte;
        pid_t pid;

        if (pipe2(ready, O_CLOEXEC) < 0)
                die("pipe", errno);
        pid = fork();
        if (pid < 0)
                die("fork", errno);
        if (pid == 0) {
                struct bus_client *c = NULL;

                if (setresuid(UID_ECHO, UID_ECHO, UID_ECHO) < 0 ||
                    bus_client_connect(socket_path, BENCH_TIMEOUT_USEC, &c) < 0)
                        _exit(1);
                if (peers == BENCH_PEERS_DAEMON)
                        bench_loop_echo(c, ready[1]);
                if (write(ready[1], "r", 1) != 1)
                        _exit(1);
                client_echo_loop(c);
        }
        close(ready[1]);
        if (read(ready[0], &byte, 1) != 1)
                die("the echo daemon did not connect", EIO);
        close(ready[0]);
        return pid;
}

/* A socketpair stands for busd: each end first gets the WELCOME busd would
 * send, with a page of spin slots as busd's, so the same bus client runs on
 * it and polls by the same rule. */
static void send_welcome(int fd, enum bus_role role, int slots_fd) {
        struct bus_hdr hdr = { .type = BUS_MSG_WELCOME, .peer = BUS_PEER_BUSD };
        struct bus_msg_welcome w = { .version = BUS_PROTOCOL_VERSION, .peer = BUS_PEER_ROLE(role), .role = role,
                                     .fds = BUS_WELCOME_FD_SPIN_SLOTS };
        uint8_t buf[BUS_HEADER_SIZE + 64];
        int k = bus_encode(&hdr, &w, buf, sizeof(buf));

        if (k < 0)
                die("encode WELCOME", k);
        ssize_t n = send_with_fd(fd, buf, (size_t) k, 0, slots_fd);
        if (n != k)
                die("send WELCOME", n < 0 ? (int) n : EIO);
}

static struct bus_client *client_from_fd(int fd) {
        struct bus_client *c = NULL;
        int r = bus_client_new_from_fd(fd, BENCH_TIMEOUT_USEC, &c);

        if (r < 0)
                die("bus client on the socketpair", r);
        return c;
}

static pid_t start_pair_echo(enum bench_peers peers, int *ret_fd) {
        int pair[2];
        pid_t pid;

        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) < 0)
                die("socketpair", errno);
        if (peers == BENCH_PEERS_DAEMON) {
                int slots_fd = spin_slots_create();

                if (slots_fd < 0)
                        die("spin slots", slots_fd);
                send_welcome(pair[1], BUS_ROLE_QUBESD, slots_fd);       /* to the caller's end */
                send_welcome(pair[0], BUS_ROLE_POLICYD, slots_fd);      /* to the echo's */
                close(slots_fd);
        }
        pid = fork();
        if (pid < 0)
                die("fork", errno);
        if (pid == 0) {
                close(pair[0]);
                if (peers == BENCH_PEERS_DAEMON)
                        bench_loop_echo(client_from_fd(pair[1]), -1);
                echo_loop(pair[1]);
        }
        close(pair[1]);
        *ret_fd = pair[0];
        return pid;
}

/* The caller daemon: a fresh process with its own connection. */
struct loop_caller {
        const char *socket_path;        /* busd's, or NULL: */
        int fd;                         /* the socketpair's end */
};

static double loop_caller_run(void *userdata) {
        struct loop_caller *l = userdata;
        struct bus_client *c = NULL;
        int r;

        if (l->socket_path) {
                r = bus_client_connect(l->socket_path, BENCH_TIMEOUT_USEC, &c);
                if (r < 0)
                        return r;
        } else
                c = client_from_fd(l->fd);
        return bench_loop_call(c, BUS_PEER_ROLE(BUS_ROLE_POLICYD), ROUND_TRIPS);
}

/* The caller of a run: in a process of its own as a daemon, or (raw) in
 * this one with blocking calls. */
static double measure(const char *socket_path, int fd, enum bench_peers peers) {
        struct loop_caller l = { .socket_path = socket_path, .fd = fd };
        struct bus_client *raw = NULL;
        double mean;
        int r;

        if (peers == BENCH_PEERS_DAEMON) {
                r = bench_in_child(loop_caller_run, &l, &mean);
                if (r < 0)
                        die("the calling daemon", r);
                return mean;
        }
        if (socket_path) {
                r = bus_client_connect(socket_path, BENCH_TIMEOUT_USEC, &raw);
                if (r < 0)
                        die("connect to busd", r);
                client_call_loop(raw, BUS_PEER_ROLE(BUS_ROLE_POLICYD), ROUND_TRIPS / 10);       /* warm up */
                mean = client_call_loop(raw, BUS_PEER_ROLE(BUS_ROLE_POLICYD), ROUND_TRIPS);
                bus_client_free(raw);
                return mean;
        }
        call_loop(fd, BUS_PEER_ROLE(BUS_ROLE_POLICYD), ROUND_TRIPS / 10);       /* warm up */
        return call_loop(fd, BUS_PEER_ROLE(BUS_ROLE_POLICYD), ROUND_TRIPS);
}

/* One run through busd with fresh processes (busd, the echo daemon, the
 * caller's connection): mean µs per round trip. */
static double bus_run(const char *dir, enum bench_peers peers) {
        char socket_path[108];
        pid_t busd, echo;
        double mean;

        busd = start_busd(dir, socket_path, sizeof(socket_path));
        echo = start_bus_echo(socket_path, peers);
        mean = measure(socket_path, -1, peers);
        kill(echo, SIGKILL);
        waitpid(echo, NULL, 0);
        kill(busd, SIGTERM);
        waitpid(busd, NULL, 0);
        return mean;
}

/* One run over a direct socketpair with fresh processes. */
static double pair_run(enum bench_peers peers) {
        double mean;
        int fd;
        pid_t echo = start_pair_echo(peers, &fd);

        mean = measure(NULL, fd, peers);
        close(fd);
        waitpid(echo, NULL, 0);         /* it ends when its peer's end closes */
        return mean;
}

enum { BUS, PAIR, DBUS, N_PATHS };

struct figures {
        double us[N_PATHS][RUNS];
        double median[N_PATHS];
};

static void print_figures(const struct figures *f, const char *suffix, int dbus_r) {
        printf("BENCH bus_rtt%s_us %.2f us\n", suffix, f->median[BUS]);
        printf("BENCH socketpair_rtt%s_us %.2f us\n", suffix, f->median[PAIR]);
        printf("BENCH bus_rtt%s_ratio_vs_socketpair %.2f ratio\n", suffix, f->median[BUS] / f->median[PAIR]);
        if (dbus_r >= 0) {
                printf("BENCH dbus_rtt%s_us %.2f us\n", suffix, f->median[DBUS]);
                printf("BENCH bus_speedup_vs_dbus_daemon%s %.2f ratio\n", suffix, f->median[DBUS] / f->median[BUS]);
        }
}

int main(void) {
        char dir[] = "/tmp/bench-bus-XXXXXX", cmd[160];
        static struct figures fig[2];           /* [enum bench_peers] */
        static const char *const suffix[2] = { "", "_raw" };
        int r = 0;

        if (geteuid() != 0) {
                fprintf(stderr, "bench-bus: needs root (the two bus peers run as two roles' uids); skipped\n");
                return EXIT_SUCCESS;
        }
        if (!mkdtemp(dir) || chmod(dir, 0755) < 0)
                die("mkdtemp", errno);

        /* Fresh processes for every run and path, the order rotating: each
         * figure is a median over the same placements and moments of load. */
        for (unsigned run = 0; run < RUNS; run++)
                for (unsigned k = 0; k < 2 * N_PATHS; k++) {
                        unsigned slot = (run + k) % (2 * N_PATHS);
                        enum bench_peers peers = slot / N_PATHS;
                        double *us = fig[peers].us[slot % N_PATHS];

                        switch (slot % N_PATHS) {
                        case BUS:
                                us[run] = bus_run(dir, peers);
                                break;
                        case PAIR:
                                us[run] = pair_run(peers);
                                break;
                        default:
                                if (r >= 0)
                                        r = bench_dbus_run(dir, DBUS_ROUND_TRIPS, peers, &us[run]);
                                break;
                        }
                }
        if (getenv("BENCH_VERBOSE"))
                for (unsigned p = 0; p < 2; p++)
                        for (unsigned run = 0; run < RUNS; run++)
                                fprintf(stderr, "run %u%s: bus %.2f us, socketpair %.2f us, dbus %.2f us\n",
                                        run + 1, suffix[p], fig[p].us[BUS][run], fig[p].us[PAIR][run],
                                        r < 0 ? 0 : fig[p].us[DBUS][run]);
        for (unsigned p = 0; p < 2; p++)
                for (unsigned i = 0; i < N_PATHS; i++)
                        if (i != DBUS || r >= 0)
                                fig[p].median[i] = bench_median(fig[p].us[i], RUNS);

        for (unsigned p = 0; p < 2; p++)
                print_figures(&fig[p], suffix[p], r);
        if (r < 0)
                fprintf(stderr, "bench-bus: the D-Bus baseline failed: %s\n", strerror(-r));
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        (void) !system(cmd);
        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
