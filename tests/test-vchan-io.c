/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The socket vchan backend: libvchan I/O semantics, rings, peer close, poll, fds. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check-helpers.h"
#include "util.h"
#include "vchan.h"
#include "vchan-test-helpers.h"

START_TEST(test_sizes_reported) {
        struct vchan *srv, *cli;
        char buf[200];

        /* Rings are rounded up to powers of two; the client gets 64 KiB. */
        connect_pair(3000, 5000, &srv, &cli);
        ck_assert_uint_eq(vchan_buffer_space(srv), 8192);
        ck_assert_uint_eq(vchan_buffer_space(cli), 65536);
        ck_assert_uint_eq(vchan_data_ready(srv), 0);
        ck_assert_uint_eq(vchan_data_ready(cli), 0);

        memset(buf, 'x', sizeof(buf));
        ck_assert_int_eq(vchan_write(cli, buf, 123), 123);
        ck_assert_uint_eq(vchan_data_ready(srv), 123);
        ck_assert_uint_eq(vchan_buffer_space(cli), 65536);     /* went out at once */

        /* A read ring holds at most its size; the rest waits in the socket. */
        for (int i = 0; i < 30; i++)
                ck_assert_int_eq(vchan_write(cli, buf, 200), 200);
        ck_assert_uint_eq(vchan_data_ready(srv), 4096);
        vchan_close(cli);
        vchan_close(srv);
}
END_TEST

START_TEST(test_partial_reads_and_writes) {
        static uint8_t big[1 << 20], got[1 << 20];
        struct vchan *srv, *cli;
        uint8_t buf[1000];
        size_t received = 0;
        ssize_t accepted;

        connect_pair(4096, 4096, &srv, &cli);
        fill_pattern(buf, 0, 100);
        ck_assert_int_eq(vchan_write(cli, buf, 100), 100);
        ck_assert_int_eq(vchan_read(srv, got, 30), 30);         /* less than there is */
        ck_assert_uint_eq(vchan_data_ready(srv), 70);
        ck_assert_int_eq(vchan_read(srv, got + 30, 1000), 70);  /* less than asked */
        ck_assert(check_pattern(got, 0, 100));

        /* Non-blocking stream write: takes what fits, not more. */
        vchan_set_blocking(cli, false);
        vchan_set_blocking(srv, false);
        fill_pattern(big, 0, sizeof(big));
        accepted = vchan_write(cli, big, sizeof(big));
        ck_assert_int_gt(accepted, 0);
        ck_assert_int_lt(accepted, (ssize_t) sizeof(big));
        ck_assert_int_eq(vchan_write(cli, big + accepted, sizeof(big) - accepted), 0);
        ck_assert_uint_eq(vchan_buffer_space(cli), 0);

        while (received < (size_t) accepted) {
                ssize_t n = vchan_read(srv, got + received, sizeof(got) - received);

                ck_assert_int_ge(n, 0);
                received += (size_t) n;
                (void) vchan_buffer_space(cli);        /* lets its ring drain */
        }
        ck_assert_uint_eq(received, (size_t) accepted);
        ck_assert(check_pattern(got, 0, received));
        ck_assert_int_eq(vchan_read(srv, got, 10), 0);         /* nothing more */
        vchan_close(cli);
        vchan_close(srv);
}
END_TEST

START_TEST(test_recv_exact) {
        struct vchan *srv, *cli;
        uint8_t buf[64];

        connect_pair(1024, 0, &srv, &cli);
        vchan_set_blocking(srv, false);
        fill_pattern(buf, 0, 20);
        ck_assert_int_eq(vchan_send(cli, buf, 10), 10);
        ck_assert_int_eq(vchan_recv(srv, buf + 32, 20), -EAGAIN);
        ck_assert_uint_eq(vchan_data_ready(srv), 10);          /* nothing consumed */
        ck_assert_int_eq(vchan_send(cli, buf + 10, 10), 10);
        memset(buf + 32, 0, 20);
        ck_assert_int_eq(vchan_recv(srv, buf + 32, 20), 20);
        ck_assert(check_pattern(buf + 32, 0, 20));
        ck_assert_uint_eq(vchan_data_ready(srv), 0);

        /* More than the read ring can ever hold. */
        ck_assert_int_eq(vchan_recv(srv, buf, 2000), -EMSGSIZE);
        vchan_close(cli);
        vchan_close(srv);
}
END_TEST

START_TEST(test_send_all_or_nothing) {
        struct vchan *srv, *cli;
        uint8_t packet[1000], buf[1000];
        unsigned sent = 0, received = 0;
        ssize_t r;

        connect_pair(0, 4096, &srv, &cli);
        vchan_set_blocking(srv, false);
        vchan_set_blocking(cli, false);
        ck_assert_int_eq(vchan_send(srv, packet, 5000), -EMSGSIZE);

        /* Fill socket and ring with numbered packets until one does not fit. */
        for (;;) {
                fill_pattern(packet, (uint64_t) sent * 1000, sizeof(packet));
                r = vchan_send(srv, packet, sizeof(packet));
                if (r == -EAGAIN)
                        break;
                ck_assert_int_eq(r, sizeof(packet));
                sent++;
                ck_assert_uint_lt(sent, 100000);
        }
        ck_assert_uint_ge(sent, 4);
        ck_assert_uint_lt(vchan_buffer_space(srv), sizeof(packet));

        /* Only whole packets went out, in order. */
        while (received < sent) {
                r = vchan_recv(cli, buf, sizeof(buf));
                if (r == -EAGAIN) {
                        (void) vchan_buffer_space(srv);         /* hand the ring to the socket */
                        continue;
                }
                ck_assert_int_eq(r, sizeof(buf));
                ck_assert(check_pattern(buf, (uint64_t) received * 1000, sizeof(buf)));
                received++;
        }
        vchan_close(cli);
        vchan_close(srv);
}
END_TEST

/* Odd-sized packets both ways through 1 KiB rings, non-blocking, one process. */
START_TEST(test_ring_wraparound) {
        static const size_t sizes[] = { 1, 3, 7, 13, 31, 61, 127, 251, 509, 1021, 997, 5, 333 };
        const uint64_t total = 1 << 20;
        uint64_t out[2] = { 0, 0 }, in[2] = { 0, 0 };
        unsigned out_i[2] = { 0, 0 }, in_i[2] = { 0, 0 };
        struct vchan *v[2];
        uint8_t buf[1024];

        connect_pair(1000, 1000, &v[0], &v[1]);
        vchan_set_blocking(v[0], false);
        vchan_set_blocking(v[1], false);

        while (in[0] < total || in[1] < total) {
                bool progress = false;

                for (int side = 0; side < 2; side++) {
                        struct vchan *me = v[side];
                        int peer = !side;

                        /* Send the next packets as long as they fit. */
                        while (out[side] < total) {
                                size_t n = sizes[out_i[side] % ELEMENTSOF(sizes)];
                                if (n > total - out[side])
                                        n = total - out[side];
                                fill_pattern(buf, out[side] + (uint64_t) side * total, n);
                                ssize_t r = vchan_send(me, buf, n);
                                if (r == -EAGAIN)
                                        break;
                                ck_assert_int_eq(r, (ssize_t) n);
                                out[side] += n;
                                out_i[side]++;
                                progress = true;
                        }
                        /* Receive what the peer sent, in another rhythm. */
                        while (in[side] < total) {
                                size_t n = sizes[(in_i[side] + 3) % ELEMENTSOF(sizes)];
                                if (n > total - in[side])
                                        n = total - in[side];
                                ssize_t r = vchan_recv(me, buf, n);
                                if (r == -EAGAIN)
                                        break;
                                ck_assert_int_eq(r, (ssize_t) n);
                                ck_assert(check_pattern(buf, in[side] + (uint64_t) peer * total, n));
                                in[side] += n;
                                in_i[side]++;
                                progress = true;
                        }
                }
                if (!progress) {
                        /* Both stuck: the rings can only move in wait(). */
                        struct pollfd pfd[2] = {
                                { .fd = vchan_fd_for_select(v[0]), .events = POLLIN },
                                { .fd = vchan_fd_for_select(v[1]), .events = POLLIN },
                        };
                        ck_assert_int_gt(poll(pfd, 2, 2000), 0);
                        for (int side = 0; side < 2; side++)
                                if (pfd[side].revents & POLLIN)
                                        ck_assert_int_eq(vchan_wait(v[side]), 0);
                }
        }
        ck_assert_uint_eq(out[0], total);
        ck_assert_uint_eq(out[1], total);
        vchan_close(v[0]);
        vchan_close(v[1]);
}
END_TEST

START_TEST(test_large_transfer_between_processes) {
        const uint64_t total = (uint64_t) 64 << 20;
        struct vchan_endpoint sep = endpoint(0, 3, 600), cep = endpoint(3, 0, 600);
        static uint8_t buf[256 * 1024];
        uint64_t received = 0, sum_expected = 0, sum_received = 0;
        struct vchan *srv;
        unsigned round = 0;
        int status;
        pid_t pid;

        ck_assert_int_eq(vchan_server_init(&sep, 0, 0, &srv), 0);
        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                struct vchan *cli;
                uint64_t sent = 0;

                if (vchan_client_init(&cep, 5000, &cli) < 0)
                        _exit(1);
                while (sent < total) {
                        size_t n = 1 + (round++ * 7919) % sizeof(buf);
                        if (n > total - sent)
                                n = total - sent;
                        fill_pattern(buf, sent, n);
                        ssize_t r = vchan_write(cli, buf, n);
                        if (r <= 0)
                                _exit(2);
                        sent += (uint64_t) r;
                }
                vchan_close(cli);       /* flushes what is left in the ring */
                _exit(0);
        }

        for (;;) {
                size_t want = 1 + (round++ * 104729) % sizeof(buf);
                ssize_t r = vchan_read(srv, buf, want);

                ck_assert_int_ge(r, 0);
                if (r == 0)
                        break;          /* EOF */
                for (ssize_t i = 0; i < r; i++) {
                        sum_received = sum_received * 31 + buf[i];
                        sum_expected = sum_expected * 31 + pattern_byte(received + (uint64_t) i);
                }
                received += (uint64_t) r;
                ck_assert_uint_le(received, total);
        }
        ck_assert_uint_eq(received, total);
        ck_assert_uint_eq(sum_received, sum_expected);
        ck_assert_int_eq(vchan_is_open(srv), VCHAN_DISCONNECTED);
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        vchan_close(srv);
}
END_TEST

/* Read srv to its end in pieces of at most `size`, each checked against the
 * pattern: the number of bytes read. */
static uint64_t read_pattern_to_eof(struct vchan *srv, uint8_t *buf, size_t size) {
        uint64_t received = 0;

        for (;;) {
                ssize_t n = vchan_read(srv, buf, size);

                ck_assert_int_ge(n, 0);
                if (n == 0)
                        return received;
                ck_assert(check_pattern(buf, received, (size_t) n));
                received += (uint64_t) n;
        }
}

static void on_alarm(int sig) {
        (void) sig;
}

/* A blocking writer sleeps in the socket while the reader catches up; signals
 * interrupting it (no SA_RESTART) must neither lose nor repeat a byte, nor
 * split a packet: stream writes and packet sends alternate, each larger than
 * what the socket holds at once. */
START_TEST(test_blocking_writer_interrupted) {
        const uint64_t total = (uint64_t) 16 << 20;
        struct vchan_endpoint sep = endpoint(0, 9, 608), cep = endpoint(9, 0, 608);
        static uint8_t buf[300 * 1024];
        struct vchan *srv;
        int status;
        pid_t pid;

        ck_assert_int_eq(vchan_server_init(&sep, 0, 0, &srv), 0);
        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                struct sigaction sa = { .sa_handler = on_alarm };   /* no SA_RESTART */
                struct itimerval every_ms = { .it_interval.tv_usec = 1000, .it_value.tv_usec = 1000 };
                struct vchan *cli;
                uint64_t sent = 0;
                unsigned round = 0;

                if (sigaction(SIGALRM, &sa, NULL) < 0 || vchan_client_init(&cep, 5000, &cli) < 0 ||
                    setitimer(ITIMER_REAL, &every_ms, NULL) < 0)
                        _exit(1);
                while (sent < total) {
                        bool packet = round++ % 2;
                        size_t n = packet ? 65536 : sizeof(buf);
                        ssize_t r;

                        if (n > total - sent)
                                n = total - sent;
                        fill_pattern(buf, sent, n);
                        r = packet ? vchan_send(cli, buf, n) : vchan_write(cli, buf, n);
                        if (r <= 0 || (packet && (size_t) r != n))
                                _exit(2);
                        sent += (uint64_t) r;
                }
                setitimer(ITIMER_REAL, &(struct itimerval) {}, NULL);
                vchan_close(cli);
                _exit(0);
        }

        ck_assert_uint_eq(read_pattern_to_eof(srv, buf, 4096), total);
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        vchan_close(srv);
}
END_TEST

/* vchan_read_full / vchan_write_full: many rings' worth, both ends
 * non-blocking (so they wait in fd_for_select), then the end of the stream. */
START_TEST(test_read_write_full) {
        struct vchan_endpoint sep = endpoint(0, 4, 601), cep = endpoint(4, 0, 601);
        static uint8_t buf[200000];
        struct vchan *srv;
        int status;
        pid_t pid;

        ck_assert_int_eq(vchan_server_init(&sep, 1024, 0, &srv), 0);
        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                struct vchan *cli;

                if (vchan_client_init(&cep, 5000, &cli) < 0)
                        _exit(1);
                vchan_set_blocking(cli, false);
                fill_pattern(buf, 0, sizeof(buf));
                if (vchan_write_full(cli, buf, sizeof(buf)) < 0)
                        _exit(2);
                vchan_set_blocking(cli, true);
                vchan_close(cli);       /* flushes what is left in the ring */
                _exit(0);
        }

        vchan_set_blocking(srv, false);
        ck_assert_int_eq(vchan_read_full(srv, buf, 10), 0);     /* accepts the client first */
        ck_assert_int_eq(vchan_read_full(srv, buf + 10, sizeof(buf) - 10), 0);
        ck_assert(check_pattern(buf, 0, sizeof(buf)));
        ck_assert_int_eq(vchan_read_full(srv, buf, 1), -EPIPE);
        ck_assert_int_eq(vchan_write_full(srv, "x", 1), -EPIPE);
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        vchan_close(srv);
}
END_TEST

START_TEST(test_peer_close) {
        struct vchan *srv, *cli;
        uint8_t buf[4096];
        size_t got = 0;

        /* 3000 bytes through a 1 KiB read ring, then the writer goes away. */
        connect_pair(1024, 0, &srv, &cli);
        fill_pattern(buf, 0, 3000);
        ck_assert_int_eq(vchan_write(cli, buf, 3000), 3000);
        vchan_close(cli);

        ck_assert(fd_readable(vchan_fd_for_select(srv), 2000));
        ck_assert_int_eq(vchan_wait(srv), 0);
        ck_assert_uint_eq(vchan_data_ready(srv), 1024);
        ck_assert_int_eq(vchan_is_open(srv), VCHAN_CONNECTED);  /* data left to read */

        memset(buf, 0, sizeof(buf));
        while (got < 3000) {
                ssize_t r = vchan_read(srv, buf + got, 500);
                ck_assert_int_gt(r, 0);
                got += (size_t) r;
        }
        ck_assert(check_pattern(buf, 0, 3000));

        /* Blocking read at EOF returns 0 rather than hanging. */
        ck_assert_int_eq(vchan_read(srv, buf, 10), 0);
        ck_assert_int_eq(vchan_is_open(srv), VCHAN_DISCONNECTED);
        ck_assert_int_eq(vchan_recv(srv, buf, 10), -EPIPE);
        ck_assert_int_eq(vchan_write(srv, "x", 1), -EPIPE);
        ck_assert_uint_eq(vchan_buffer_space(srv), 0);
        /* Nothing left to do: the fd no longer wakes anyone. */
        ck_assert(!fd_readable(vchan_fd_for_select(srv), 0));
        vchan_close(srv);
}
END_TEST

START_TEST(test_peer_close_seen_by_writer) {
        struct vchan *srv, *cli;

        connect_pair(0, 0, &srv, &cli);
        vchan_close(srv);
        ck_assert(fd_readable(vchan_fd_for_select(cli), 2000));
        ck_assert_int_eq(vchan_wait(cli), 0);
        ck_assert_int_eq(vchan_is_open(cli), VCHAN_DISCONNECTED);
        ck_assert_int_eq(vchan_send(cli, "x", 1), -EPIPE);
        vchan_close(cli);
}
END_TEST

/* Non-blocking use driven by poll(): the fd is readable exactly when
 * wait() has work. */
START_TEST(test_poll_driven) {
        const size_t total = 4 << 20;
        static uint8_t buf[65536];
        size_t out[2] = { 0, 0 }, in[2] = { 0, 0 };
        struct vchan *v[2];
        ssize_t n;

        connect_pair(4096, 4096, &v[0], &v[1]);
        vchan_set_blocking(v[0], false);
        vchan_set_blocking(v[1], false);
        ck_assert(!fd_readable(vchan_fd_for_select(v[0]), 0));  /* idle */
        ck_assert(!fd_readable(vchan_fd_for_select(v[1]), 0));

        ck_assert_int_eq(vchan_write(v[1], "abc", 3), 3);
        ck_assert(fd_readable(vchan_fd_for_select(v[0]), 1000));
        ck_assert_int_eq(vchan_wait(v[0]), 0);
        ck_assert_uint_eq(vchan_data_ready(v[0]), 3);
        /* Bytes in the ring are the caller's business, not wait()'s. */
        ck_assert(!fd_readable(vchan_fd_for_select(v[0]), 0));
        ck_assert_int_eq(vchan_read(v[0], buf, sizeof(buf)), 3);
        ck_assert(!fd_readable(vchan_fd_for_select(v[0]), 0));

        /* A full write ring the socket cannot take: not readable until the
         * peer reads, then readable and wait() moves the bytes on. */
        while (vchan_write(v[0], buf, sizeof(buf)) > 0)
                ;
        ck_assert(!fd_readable(vchan_fd_for_select(v[0]), 0));
        while ((n = vchan_read(v[1], buf, sizeof(buf))) > 0)
                ;
        ck_assert_int_eq(n, 0);
        ck_assert(fd_readable(vchan_fd_for_select(v[0]), 1000));
        ck_assert_int_eq(vchan_wait(v[0]), 0);
        ck_assert_uint_gt(vchan_buffer_space(v[0]), 0);
        for (size_t space = 0; space < 4096;) {
                space = vchan_buffer_space(v[0]);       /* ring -> socket */
                while (vchan_read(v[1], buf, sizeof(buf)) > 0)
                        ;
        }

        /* Both ways at once, only acting when poll() says so. */
        while (in[0] < total || in[1] < total) {
                struct pollfd pfd[2] = {
                        { .fd = vchan_fd_for_select(v[0]), .events = POLLIN },
                        { .fd = vchan_fd_for_select(v[1]), .events = POLLIN },
                };

                for (int side = 0; side < 2; side++) {
                        size_t chunk = total - out[side] < 3000 ? total - out[side] : 3000;

                        if (chunk > 0) {
                                fill_pattern(buf, out[side] + side, chunk);
                                n = vchan_write(v[side], buf, chunk);
                                ck_assert_int_ge(n, 0);
                                out[side] += (size_t) n;
                        }
                        n = vchan_read(v[side], buf, 5000);
                        ck_assert_int_ge(n, 0);
                        ck_assert(check_pattern(buf, in[side] + !side, (size_t) n));
                        in[side] += (size_t) n;
                }
                if (in[0] == total && in[1] == total)
                        break;
                ck_assert_int_gt(poll(pfd, 2, 2000), 0);
                for (int side = 0; side < 2; side++)
                        if (pfd[side].revents & POLLIN)
                                ck_assert_int_eq(vchan_wait(v[side]), 0);
        }
        ck_assert_uint_eq(in[0], total);
        ck_assert_uint_eq(in[1], total);
        vchan_close(v[0]);
        vchan_close(v[1]);
}
END_TEST

START_TEST(test_server_writes_before_client) {
        struct vchan_endpoint sep = endpoint(0, 1, 514), cep = endpoint(1, 0, 514);
        struct vchan *srv, *cli;
        char buf[8];

        ck_assert_int_eq(vchan_server_init(&sep, 0, 0, &srv), 0);
        ck_assert_int_eq(vchan_write(srv, "early", 5), 5);      /* kept in the ring */
        ck_assert_uint_eq(vchan_buffer_space(srv), 65536 - 5);
        ck_assert_int_eq(vchan_client_init(&cep, 2000, &cli), 0);
        server_accept(srv);                                      /* flushes it */
        ck_assert_int_eq(vchan_recv(cli, buf, 5), 5);
        ck_assert_mem_eq(buf, "early", 5);
        vchan_close(cli);
        vchan_close(srv);
}
END_TEST

/* Bytes still in a blocking writer's ring when it closes reach the peer. */
START_TEST(test_close_flushes_write_ring) {
        struct vchan_endpoint sep = endpoint(0, 2, 520), cep = endpoint(2, 0, 520);
        static uint8_t buf[65536];
        uint64_t accepted = 0;
        struct vchan *srv;
        int report[2], status;
        pid_t pid;

        ck_assert_int_eq(pipe2(report, O_CLOEXEC), 0);
        ck_assert_int_eq(vchan_server_init(&sep, 0, 0, &srv), 0);
        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                struct vchan *cli;
                ssize_t n;

                if (vchan_client_init(&cep, 5000, &cli) < 0)
                        _exit(1);
                vchan_set_blocking(cli, false);
                do {
                        fill_pattern(buf, accepted, sizeof(buf));
                        n = vchan_write(cli, buf, sizeof(buf));
                        accepted += n > 0 ? (uint64_t) n : 0;
                } while (n > 0);
                /* The socket is full and the ring holds the rest. */
                if (vchan_buffer_space(cli) >= 65536)
                        _exit(2);
                if (write(report[1], &accepted, sizeof(accepted)) != sizeof(accepted))
                        _exit(3);
                vchan_set_blocking(cli, true);
                vchan_close(cli);
                _exit(0);
        }
        close(report[1]);
        ck_assert_int_eq(read(report[0], &accepted, sizeof(accepted)), sizeof(accepted));
        close(report[0]);

        ck_assert_uint_eq(read_pattern_to_eof(srv, buf, sizeof(buf)), accepted);
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        vchan_close(srv);
}
END_TEST

static unsigned count_open_fds(void) {
        DIR *d = opendir("/proc/self/fd");
        unsigned n = 0;

        ck_assert_ptr_nonnull(d);
        while (readdir(d))
                n++;
        closedir(d);
        return n;
}

/* Every path out releases its fds: connected pair, a server nobody joined,
 * a client that never found its server, a failed init. */
START_TEST(test_no_fd_leaks) {
        struct vchan_endpoint ep = endpoint(4, 5, 530), bad = endpoint(4, 5, 531);
        unsigned before = count_open_fds();
        struct vchan *srv, *cli;

        connect_pair(0, 0, &srv, &cli);
        vchan_close(cli);
        vchan_close(srv);
        ck_assert_int_eq(vchan_server_init(&ep, 0, 0, &srv), 0);
        vchan_close(srv);
        ck_assert_int_eq(vchan_client_init_async(&ep, &cli), 0);
        vchan_close(cli);
        ck_assert_int_eq(vchan_client_init(&ep, 20, &cli), -ETIMEDOUT);
        bad.socket_dir = "/nonexistent-vchan-dir";
        ck_assert_int_eq(vchan_server_init(&bad, 0, 0, &srv), -ENOENT);
        ck_assert_uint_eq(count_open_fds(), before);
}
END_TEST


static Suite *vchan_io_suite(void) {
        Suite *s = suite_create("vchan-io");
        TCase *tc = tcase_create("vchan-io");

        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, test_sizes_reported);
        tcase_add_test(tc, test_partial_reads_and_writes);
        tcase_add_test(tc, test_recv_exact);
        tcase_add_test(tc, test_send_all_or_nothing);
        tcase_add_test(tc, test_ring_wraparound);
        tcase_add_test(tc, test_large_transfer_between_processes);
        tcase_add_test(tc, test_blocking_writer_interrupted);
        tcase_add_test(tc, test_read_write_full);
        tcase_add_test(tc, test_peer_close);
        tcase_add_test(tc, test_peer_close_seen_by_writer);
        tcase_add_test(tc, test_poll_driven);
        tcase_add_test(tc, test_server_writes_before_client);
        tcase_add_test(tc, test_close_flushes_write_ring);
        tcase_add_test(tc, test_no_fd_leaks);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return check_run_suite(vchan_io_suite());
}
