/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * odyssey-vchan-mux relaying, as real processes: a host mux and a guest mux
 * over a socketpair, each on its own vchan dir.  Real vchan servers and
 * clients (the socket backend) on either side, many streams, a reader that
 * does not read, the stream cap, running out of file descriptors, the
 * host's seccomp filter.  Misbehaving peers: test-vchan-mux-peers.c.
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
#include <unistd.h>

#include "check-helpers.h"
#include "util.h"
#include "vchan-mux-helpers.h"
#include "vchan-mux.h"
#include "vchan.h"

#define MIB (1024u * 1024u)

/* Names as the two sides see them (guest domid 7). */
#define GUEST_SERVES "vchan.7.3.513.sock"       /* a server of the guest, for domain 3 */
#define HOST_SERVES "vchan.0.7.514.sock"        /* a server in the guest's host dir */

static pid_t host_pid, guest_pid;

static void setup(void) {
        mux_setup();
        mux_start_pair(&host_pid, &guest_pid);
}

static void teardown(void) {
        mux_teardown();
}

/* A real vchan server in the guest, a real vchan client on the host, 64 MiB
 * each way through the vchan API. */
static void vchan_exchange(struct vchan *a, struct vchan *b, uint64_t bytes) {
        struct vchan *ends[2] = { a, b };
        uint64_t sent[2] = { 0, 0 }, received[2] = { 0, 0 };
        uint8_t *buf = malloc(65536);
        long long deadline = (long long) (now_usec() / 1000) + MUX_WAIT_MS;

        ck_assert_ptr_nonnull(buf);
        vchan_set_blocking(a, false);
        vchan_set_blocking(b, false);
        while (received[0] < bytes || received[1] < bytes) {
                struct pollfd pfd[2];
                bool progress = false;

                for (int e = 0; e < 2; e++) {
                        ssize_t n;

                        if (sent[e] < bytes) {
                                size_t len = bytes - sent[e] < 65536 ? (size_t) (bytes - sent[e]) : 65536;
                                for (size_t j = 0; j < len; j++)
                                        buf[j] = pump_byte(sent[e] + j, (unsigned) e);
                                n = vchan_write(ends[e], buf, len);
                                ck_assert_int_ge(n, 0);
                                sent[e] += (uint64_t) n;
                                progress |= n > 0;
                        }
                        n = vchan_read(ends[e], buf, 65536);
                        ck_assert_int_ge(n, 0);
                        /* One check per chunk: libcheck's asserts are costly. */
                        bool intact = true;
                        for (ssize_t j = 0; j < n; j++)
                                intact &= buf[j] == pump_byte(received[e] + (uint64_t) j, (unsigned) !e);
                        ck_assert_msg(intact, "bad bytes after %llu", (unsigned long long) received[e]);
                        received[e] += (uint64_t) n;
                        progress |= n > 0;
                }
                ck_assert_msg((long long) (now_usec() / 1000) < deadline, "exchange stalled at %llu/%llu",
                              (unsigned long long) received[0], (unsigned long long) received[1]);
                /* Both ends' events every round: vchan_wait() moves the rings. */
                for (int e = 0; e < 2; e++)
                        pfd[e] = (struct pollfd) { .fd = vchan_fd_for_select(ends[e]), .events = POLLIN };
                ck_assert_int_ge(poll(pfd, 2, progress ? 0 : 1000), 0);
                for (int e = 0; e < 2; e++)
                        if (pfd[e].revents & POLLIN)
                                ck_assert_int_eq(vchan_wait(ends[e]), 0);
        }
        free(buf);
}

START_TEST(real_vchan_guest_server) {
        struct vchan_endpoint server_ep = { .backend = VCHAN_SOCKET, .local_domid = MUX_GUEST_DOMID,
                                            .remote_domid = 3, .port = 513, .socket_dir = mux_guest_dir };
        struct vchan_endpoint client_ep = { .backend = VCHAN_SOCKET, .local_domid = 3,
                                            .remote_domid = MUX_GUEST_DOMID, .port = 513, .socket_dir = mux_host_dir };
        struct vchan *server = NULL, *client = NULL;
        long long deadline = (long long) (now_usec() / 1000) + MUX_WAIT_MS;

        ck_assert_int_eq(vchan_server_init(&server_ep, 0, 0, &server), 0);
        expect_mirror(mux_host_dir, GUEST_SERVES);
        ck_assert_int_eq(vchan_client_init(&client_ep, MUX_WAIT_MS, &client), 0);
        vchan_set_blocking(server, false);
        while (vchan_is_open(server) != VCHAN_CONNECTED) {
                struct pollfd pfd = { .fd = vchan_fd_for_select(server), .events = POLLIN };
                ck_assert_msg((long long) (now_usec() / 1000) < deadline, "server never saw its client");
                (void) poll(&pfd, 1, 100);
                ck_assert_int_eq(vchan_wait(server), 0);
        }
        vchan_exchange(server, client, 64 * (uint64_t) MIB);
        vchan_close(client);
        vchan_close(server);
}
END_TEST

/* A client of the mirror: the mux closes its stream (EOF or reset). */
static void expect_closed_stream(const char *mirror_dir, const char *name, const char *why) {
        int c = connect_to(mirror_dir, name);
        struct pollfd pfd = { .fd = c, .events = POLLIN };
        char byte;

        ck_assert_int_eq(poll(&pfd, 1, MUX_WAIT_MS), 1);
        ssize_t n = read(c, &byte, 1);
        ck_assert_msg(n == 0 || (n < 0 && errno == ECONNRESET), "%s", why);
        close(c);
}

/* A real server in real_dir, a client of its mirror: `bytes` each way,
 * each side shutting down its writing half after them; both EOFs arrive
 * after exactly all bytes. */
static void relay_both_ways(const char *real_dir, const char *mirror_dir, const char *name, uint64_t bytes) {
        int l = serve_mirrored(real_dir, mirror_dir, name);
        int c, s;

        open_relayed(l, mirror_dir, name, &c, &s);
        ck_assert(pump_pairs(1, &c, &s, bytes, 60000));
        close(c);
        close(s);
        close(l);
}

/* The same with raw sockets (the socket backend's bytes). */
START_TEST(raw_64mib_both_ways_with_half_close) {
        relay_both_ways(mux_guest_dir, mux_host_dir, GUEST_SERVES, 64 * (uint64_t) MIB);
}
END_TEST

/* One direction ends, the other goes on long after, then ends too. */
START_TEST(half_close_each_direction) {
        int l = serve_mirrored(mux_guest_dir, mux_host_dir, GUEST_SERVES);
        int c, s;

        for (int round = 0; round < 2; round++) {
                open_relayed(l, mux_host_dir, GUEST_SERVES, &c, &s);
                /* round 0: client speaks first and stops; round 1: server does */
                ck_assert(pump_one_way(round ? s : c, round ? c : s, 3 * MIB, MUX_WAIT_MS));
                ck_assert(pump_one_way(round ? c : s, round ? s : c, 3 * MIB, MUX_WAIT_MS));
                close(c);
                close(s);
        }
        close(l);
}
END_TEST

START_TEST(fifty_streams_at_once) {
        enum { N = 50 };
        int l = serve_mirrored(mux_guest_dir, mux_host_dir, GUEST_SERVES);
        int c[N], s[N];

        for (int i = 0; i < N; i++)
                c[i] = connect_to(mux_host_dir, GUEST_SERVES);
        for (int i = 0; i < N; i++) {
                s[i] = accept_one(l, MUX_WAIT_MS);
                ck_assert_int_ge(s[i], 0);
        }
        /* Accept order need not be connect order: pair them by a tag. */
        for (int i = 0; i < N; i++) {
                uint8_t tag = (uint8_t) i;
                ck_assert_int_eq(write(c[i], &tag, 1), 1);
        }
        int by_tag[N];
        for (int i = 0; i < N; i++) {
                uint8_t tag = 0xff;
                struct pollfd pfd = { .fd = s[i], .events = POLLIN };
                ck_assert_int_eq(poll(&pfd, 1, MUX_WAIT_MS), 1);
                ck_assert_int_eq(read(s[i], &tag, 1), 1);
                ck_assert_int_lt(tag, N);
                by_tag[tag] = s[i];
        }
        ck_assert(pump_pairs(N, c, by_tag, 2 * MIB, 60000));
        for (int i = 0; i < N; i++) {
                close(c[i]);
                close(s[i]);
        }
        close(l);
}
END_TEST

START_TEST(reverse_direction) {
        relay_both_ways(mux_host_dir, mux_guest_dir, HOST_SERVES, 8 * MIB);
}
END_TEST

START_TEST(not_every_socket_is_announced) {
        /* Wrong pattern, wrong role, a leading zero, not a socket: none mirrored. */
        const char *names[] = { "vchan.3.7.513.sock", "vchan.7.7.513.sock", "vchan.7.03.513.sock", "other.sock" };
        int fds[4];
        int file = open(mux_path(mux_guest_dir, "vchan.7.4.513.sock"), O_CREAT | O_WRONLY | O_CLOEXEC, 0644);

        ck_assert_int_ge(file, 0);
        close(file);
        for (int i = 0; i < 4; i++)
                fds[i] = listen_at(mux_guest_dir, names[i]);
        /* A real one after them: once it is mirrored, the others had their turn. */
        int l = serve_mirrored(mux_guest_dir, mux_host_dir, GUEST_SERVES);
        for (int i = 0; i < 4; i++)
                ck_assert_msg(!wait_for_file(mux_path(mux_host_dir, names[i]), true, 0), "%s mirrored", names[i]);
        ck_assert(!wait_for_file(mux_path(mux_host_dir, "vchan.7.4.513.sock"), true, 0));
        for (int i = 0; i < 4; i++)
                close(fds[i]);
        close(l);
}
END_TEST

START_TEST(mirror_goes_with_the_real_one) {
        int l = serve_mirrored(mux_guest_dir, mux_host_dir, GUEST_SERVES);
        int r = serve_mirrored(mux_host_dir, mux_guest_dir, HOST_SERVES);
        ck_assert_int_eq(unlink(mux_path(mux_guest_dir, GUEST_SERVES)), 0);
        ck_assert(wait_for_file(mux_path(mux_host_dir, GUEST_SERVES), false, MUX_WAIT_MS));
        ck_assert_int_eq(unlink(mux_path(mux_host_dir, HOST_SERVES)), 0);
        ck_assert(wait_for_file(mux_path(mux_guest_dir, HOST_SERVES), false, MUX_WAIT_MS));
        close(l);
        close(r);
}
END_TEST

/* The next call on the same port: the guest's client publishes a new server
 * over its old name, after busd removed the old mirror on the host (as it
 * does when a call ends).  A fresh mirror must come, and reach the new one. */
START_TEST(server_published_again_gets_a_fresh_mirror) {
        int old = serve_mirrored(mux_guest_dir, mux_host_dir, GUEST_SERVES);
        int client, server;

        ck_assert_int_eq(unlink(mux_path(mux_host_dir, GUEST_SERVES)), 0);
        int fresh = serve_mirrored(mux_guest_dir, mux_host_dir, GUEST_SERVES);
        open_relayed(fresh, mux_host_dir, GUEST_SERVES, &client, &server);
        ck_assert(pump_pairs(1, &client, &server, MIB, MUX_WAIT_MS));
        ck_assert_int_eq(accept_one(old, 0), -1);      /* nothing reached the replaced server */
        close(client);
        close(server);
        close(fresh);
        close(old);
}
END_TEST

START_TEST(stream_to_a_gone_server_is_closed) {
        int l = serve_mirrored(mux_guest_dir, mux_host_dir, GUEST_SERVES);
        int good = serve_mirrored(mux_guest_dir, mux_host_dir, "vchan.7.3.600.sock");
        int c2, s2;

        close(l);       /* the file stays, nobody listens */
        expect_closed_stream(mux_host_dir, GUEST_SERVES, "stream to a gone server stays open");

        /* Nothing else hurt. */
        open_relayed(good, mux_host_dir, "vchan.7.3.600.sock", &c2, &s2);
        ck_assert(pump_pairs(1, &c2, &s2, MIB, MUX_WAIT_MS));
        ck_assert_int_eq(mux_wait_exit(host_pid, 0), -1);
        close(c2);
        close(s2);
        close(good);
}
END_TEST

/* A client that never reads 16 MiB: another stream still moves 16 MiB, and
 * neither mux holds more than a few windows. */
START_TEST(slow_reader_does_not_stall_others) {
        int l = serve_mirrored(mux_guest_dir, mux_host_dir, GUEST_SERVES);
        int slow_c, slow_s, c, s;
        _cleanup_free_ uint8_t *chunk = calloc(1, 65536);
        uint64_t pushed = 0;

        open_relayed(l, mux_host_dir, GUEST_SERVES, &slow_c, &slow_s);
        /* Fill everything between slow_s and slow_c (nobody reads slow_c). */
        for (int idle = 0; idle < 50;) {
                ssize_t n = send(slow_s, chunk, 65536, MSG_DONTWAIT | MSG_NOSIGNAL);
                if (n > 0) {
                        pushed += (uint64_t) n;
                        idle = 0;
                        continue;
                }
                ck_assert_int_eq(errno, EAGAIN);
                struct pollfd pfd = { .fd = slow_s, .events = POLLOUT };
                if (poll(&pfd, 1, 10) == 0)
                        idle++;
        }
        ck_assert_uint_gt(pushed, 256 * 1024);

        open_relayed(l, mux_host_dir, GUEST_SERVES, &c, &s);
        ck_assert(pump_pairs(1, &c, &s, 16 * MIB, MUX_WAIT_MS));
        long host_rss = process_rss_kib(host_pid), guest_rss = process_rss_kib(guest_pid);
        fprintf(stderr, "with a stalled stream: host mux RSS %ld KiB, guest mux RSS %ld KiB\n", host_rss, guest_rss);
        ck_assert_msg(host_rss > 0 && host_rss < 16 * 1024, "host mux RSS %ld KiB", host_rss);
        ck_assert_msg(guest_rss > 0 && guest_rss < 16 * 1024, "guest mux RSS %ld KiB", guest_rss);

        /* The stalled stream lost nothing. */
        uint64_t got = 0;
        ck_assert_int_eq(shutdown(slow_s, SHUT_WR), 0);
        for (;;) {
                struct pollfd pfd = { .fd = slow_c, .events = POLLIN };
                ck_assert_int_eq(poll(&pfd, 1, MUX_WAIT_MS), 1);
                ssize_t n = read(slow_c, chunk, 65536);
                ck_assert_int_ge(n, 0);
                if (n == 0)
                        break;
                got += (uint64_t) n;
        }
        ck_assert_uint_eq(got, pushed);
        close(slow_c);
        close(slow_s);
        close(c);
        close(s);
        close(l);
}
END_TEST

START_TEST(host_is_sandboxed) {
        int l = serve_mirrored(mux_guest_dir, mux_host_dir, GUEST_SERVES);

        check_process_sandboxed(host_pid);
        close(l);
}
END_TEST

START_TEST(sigterm_removes_mirrors) {
        int l = serve_mirrored(mux_guest_dir, mux_host_dir, GUEST_SERVES);
        int r = serve_mirrored(mux_host_dir, mux_guest_dir, HOST_SERVES);
        ck_assert_int_eq(kill(host_pid, SIGTERM), 0);
        ck_assert_int_eq(mux_wait_exit(host_pid, MUX_WAIT_MS), 0);
        ck_assert(!wait_for_file(mux_path(mux_host_dir, GUEST_SERVES), true, 0));
        /* The guest (on --fd) sees the end and cleans up too. */
        ck_assert_int_eq(mux_wait_exit(guest_pid, MUX_WAIT_MS), 0);
        ck_assert(!wait_for_file(mux_path(mux_guest_dir, HOST_SERVES), true, 0));
        close(l);
        close(r);
}
END_TEST

/* ---- limits ---- */

/* The host opens at most VMUX_STREAMS_MAX streams; one more connection is
 * refused (closed) and the rest carry on; once one ends, a new one works. */
START_TEST(stream_cap) {
        enum { N = VMUX_STREAMS_MAX };
        int l = serve_mirrored(mux_guest_dir, mux_host_dir, GUEST_SERVES);
        static int c[N], srv[N];
        int extra, s;

        for (int i = 0; i < N; i++) {
                c[i] = connect_to(mux_host_dir, GUEST_SERVES);
                /* Accept as they come: the real server's backlog is short. */
                srv[i] = accept_one(l, MUX_WAIT_MS);
                ck_assert_msg(srv[i] >= 0, "stream %d not relayed", i);
        }
        expect_closed_stream(mux_host_dir, GUEST_SERVES, "stream past the cap was not refused");
        ck_assert(file_contains(mux_path(mux_tmp, "host.log"), "Refusing a connection"));

        /* One ends (both ways), then a new one is relayed. */
        close(c[0]);
        close(srv[0]);
        for (long long deadline = (long long) (now_usec() / 1000) + MUX_WAIT_MS;;) {
                extra = connect_to(mux_host_dir, GUEST_SERVES);
                s = accept_one(l, 200);
                if (s >= 0)
                        break;
                close(extra);
                ck_assert_msg((long long) (now_usec() / 1000) < deadline, "no stream after one ended");
        }
        ck_assert(pump_pairs(1, &extra, &s, 64 * 1024, MUX_WAIT_MS));
        close(extra);
        close(s);
        for (int i = 1; i < N; i++) {
                close(c[i]);
                close(srv[i]);
        }
        close(l);
}
END_TEST

/* A host mux out of fds stops accepting (no busy loop on a queued
 * connection), and serves the queued connections as streams end. */
START_TEST(out_of_fds_waits_for_a_free_one) {
        enum { N = 60 };
        char domid[16], guest_log[PATH_MAX];
        int sv[2], c[N], done = 0;

        snprintf(domid, sizeof(domid), "%d", MUX_GUEST_DOMID);
        snprintf(guest_log, sizeof(guest_log), "%s", mux_path(mux_tmp, "guest.log"));
        ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
        const char *host_args[] = { "--side", "host", "--domid", domid, "--dir", mux_host_dir, NULL };
        const char *guest_args[] = { "--side", "guest", "--domid", domid, "--dir", mux_guest_dir, NULL };
        pid_t host = mux_spawn_limited(host_args, sv[0], mux_path(mux_tmp, "host.log"), 40);
        mux_spawn(guest_args, sv[1], guest_log);
        close(sv[0]);
        close(sv[1]);

        int l = serve_mirrored(mux_guest_dir, mux_host_dir, GUEST_SERVES);
        for (int i = 0; i < N; i++) {
                uint8_t tag = (uint8_t) i;
                c[i] = connect_to(mux_host_dir, GUEST_SERVES);
                ck_assert_int_eq(write(c[i], &tag, 1), 1);
        }
        /* Nothing ends before the host ran out of fds. */
        long long deadline = (long long) (now_usec() / 1000) + MUX_WAIT_MS;
        while (!file_contains(mux_path(mux_tmp, "host.log"), "Not accepting on mirror")) {
                ck_assert_msg((long long) (now_usec() / 1000) < deadline, "the host never ran out of fds");
                usleep(10000);
        }
        /* Take the relayed streams as they come; end each one, which frees
         * the host's fd for a queued connection. */
        while (done < N) {
                ck_assert_msg((long long) (now_usec() / 1000) < deadline, "only %d of %d relayed", done, N);
                int s = accept_one(l, 1000);
                if (s < 0)
                        continue;
                uint8_t tag = 0xff;
                struct pollfd pfd = { .fd = s, .events = POLLIN };
                ck_assert_int_eq(poll(&pfd, 1, MUX_WAIT_MS), 1);
                ck_assert_int_eq(read(s, &tag, 1), 1);
                ck_assert_int_lt(tag, N);
                close(c[tag]);
                close(s);
                done++;
        }
        ck_assert_int_eq(mux_wait_exit(host, 0), -1);
        close(l);
}
END_TEST

static Suite *vchan_mux_suite(void) {
        Suite *s = suite_create("vchan-mux");
        TCase *tc;

        tc = tcase_create("relay");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, real_vchan_guest_server);
        tcase_add_test(tc, raw_64mib_both_ways_with_half_close);
        tcase_add_test(tc, half_close_each_direction);
        tcase_add_test(tc, fifty_streams_at_once);
        tcase_add_test(tc, reverse_direction);
        tcase_add_test(tc, not_every_socket_is_announced);
        tcase_add_test(tc, mirror_goes_with_the_real_one);
        tcase_add_test(tc, server_published_again_gets_a_fresh_mirror);
        tcase_add_test(tc, stream_to_a_gone_server_is_closed);
        tcase_add_test(tc, slow_reader_does_not_stall_others);
        tcase_add_test(tc, host_is_sandboxed);
        tcase_add_test(tc, sigterm_removes_mirrors);
        tcase_add_test(tc, stream_cap);
        suite_add_tcase(s, tc);

        tc = tcase_create("limits");
        tcase_add_checked_fixture(tc, mux_setup, mux_teardown);
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, out_of_fds_waits_for_a_free_one);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return check_run_suite(vchan_mux_suite());
}
