/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The virtio vchan backend without a guest.  Host side: a listening UNIX
 * socket at DIR/virtio.<domid>.<port>.sock plays QEMU's chardev (which, like
 * it, takes a new connection after the old one closed).  Guest side: a pty
 * in raw mode, linked as $VCHAN_VIRTIO_DIR/org.odyssey.vchan.<port>, plays
 * the port device; its master plays the host.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "check-helpers.h"
#include "util.h"
#include "vchan.h"
#include "vchan-test-helpers.h"

#define WAIT_MSEC 10000         /* generous: the machine is loaded */

static struct vchan_endpoint host_endpoint(int guest_domid, int port) {
        struct vchan_endpoint ep = endpoint(0, guest_domid, port);

        ep.backend = VCHAN_VIRTIO;
        return ep;
}

static struct vchan_endpoint guest_endpoint(int port) {
        struct vchan_endpoint ep = endpoint(-1, 0, port);

        ep.backend = VCHAN_VIRTIO;
        return ep;
}

static void chardev_path(char *buf, size_t size, int domid, int port) {
        snprintf(buf, size, "%s/virtio.%d.%d.sock", test_dir, domid, port);
}

/* Drive a vchan's wait() until pred holds (its fd says when to look). */
static void wait_until_open(struct vchan *v, enum vchan_state want) {
        long long deadline = now_msec() + WAIT_MSEC;

        while (vchan_is_open(v) != want) {
                ck_assert_msg(now_msec() < deadline, "state %d never reached", want);
                if (fd_readable(vchan_fd_for_select(v), 100))
                        ck_assert_int_eq(vchan_wait(v), 0);
        }
}

static void read_exactly(int fd, void *buf, size_t n) {
        size_t got = 0;

        while (got < n) {
                ssize_t k;

                ck_assert(fd_readable(fd, WAIT_MSEC));
                k = read(fd, (uint8_t *) buf + got, n - got);
                ck_assert_int_gt(k, 0);
                got += (size_t) k;
        }
}

/* A raw pty, its slave linked under the port's name; returns the master. */
static int fake_guest_port(int port) {
        char link[256];
        struct termios t;
        int master, slave;

        master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
        ck_assert_int_ge(master, 0);
        ck_assert_int_eq(grantpt(master), 0);
        ck_assert_int_eq(unlockpt(master), 0);
        slave = open(ptsname(master), O_RDWR | O_NOCTTY | O_CLOEXEC);
        ck_assert_int_ge(slave, 0);
        ck_assert_int_eq(tcgetattr(slave, &t), 0);
        cfmakeraw(&t);
        ck_assert_int_eq(tcsetattr(slave, TCSANOW, &t), 0);
        snprintf(link, sizeof(link), "%s/org.odyssey.vchan.%d", test_dir, port);
        ck_assert_int_eq(symlink(ptsname(master), link), 0);
        close(slave);
        return master;
}

START_TEST(test_sides_and_environment) {
        struct vchan_endpoint ep = endpoint(3, 4, 512);
        struct vchan *v = NULL;
        char path[256];
        _cleanup_close_ int qemu = -1;

        /* No port joins two guests. */
        ep.backend = VCHAN_VIRTIO;
        ck_assert_int_eq(vchan_server_init(&ep, 0, 0, &v), -EOPNOTSUPP);
        ck_assert_ptr_null(v);

        /* $VCHAN_BACKEND turns a socket endpoint into a virtio one: the
         * client then looks for QEMU's socket, not vchan.7.0.512.sock. */
        chardev_path(path, sizeof(path), 7, 512);
        qemu = raw_socket(path, RAW_LISTEN);
        ck_assert_int_eq(setenv("VCHAN_BACKEND", "virtio", 1), 0);
        ep = endpoint(0, 7, 512);
        ck_assert_int_eq(vchan_client_init(&ep, WAIT_MSEC, &v), 0);
        ck_assert_int_eq(vchan_is_open(v), VCHAN_CONNECTED);
        vchan_close(v);
        v = NULL;

        ck_assert_int_eq(setenv("VCHAN_BACKEND", "vmware", 1), 0);
        ck_assert_int_eq(vchan_client_init(&ep, 0, &v), -EINVAL);
        /* An explicit backend is not overridden. */
        ep = endpoint(3, 4, 512);
        ep.backend = VCHAN_VIRTIO;
        ck_assert_int_eq(vchan_client_init(&ep, 0, &v), -EOPNOTSUPP);
        ck_assert_ptr_null(v);
        ck_assert_int_eq(unsetenv("VCHAN_BACKEND"), 0);
}
END_TEST

/* busd's role: the client of a domain's control channel, started before
 * QEMU has made the socket; connected once QEMU serves it, bytes both
 * ways, packets, and EOF when QEMU goes, with earlier bytes still readable. */
START_TEST(test_host_client_before_qemu) {
        struct vchan_endpoint ep = host_endpoint(5, 512);
        struct vchan *v = NULL;
        _cleanup_close_ int qemu = -1, conn = -1;
        char path[256], buf[64];

        ck_assert_int_eq(vchan_client_init_async(&ep, &v), 0);
        ck_assert(fd_readable(vchan_fd_for_select(v), WAIT_MSEC));
        ck_assert_int_eq(vchan_client_init_finish(v), 1);
        ck_assert_int_eq(vchan_is_open(v), VCHAN_WAITING);

        chardev_path(path, sizeof(path), 5, 512);
        qemu = raw_socket(path, RAW_LISTEN);
        for (long long deadline = now_msec() + WAIT_MSEC;;) {
                int r;

                ck_assert(fd_readable(vchan_fd_for_select(v), WAIT_MSEC));
                r = vchan_client_init_finish(v);
                ck_assert_int_ge(r, 0);
                if (r == 0)
                        break;
                ck_assert(now_msec() < deadline);
        }
        conn = accept4(qemu, NULL, NULL, SOCK_CLOEXEC);
        ck_assert_int_ge(conn, 0);

        ck_assert_int_eq(vchan_send(v, "hello", 5), 5);
        read_exactly(conn, buf, 5);
        ck_assert_int_eq(memcmp(buf, "hello", 5), 0);

        ck_assert_int_eq(write(conn, "0123456789", 10), 10);
        ck_assert_int_eq(vchan_recv(v, buf, 4), 4);
        ck_assert_int_eq(memcmp(buf, "0123", 4), 0);
        ck_assert_int_eq(vchan_data_ready(v), 6);

        /* A packet never fits a ring smaller than itself; non-blocking
         * receive of more than is there is -EAGAIN, not a part. */
        vchan_set_blocking(v, false);
        ck_assert_int_eq(vchan_recv(v, buf, 7), -EAGAIN);
        ck_assert_int_eq(vchan_send(v, buf, (size_t) 1 << 20), -EMSGSIZE);

        close(TAKE_FD(conn));
        ck_assert_int_eq(vchan_read(v, buf, sizeof(buf)), 6);
        ck_assert_int_eq(memcmp(buf, "456789", 6), 0);
        ck_assert_int_eq(vchan_read(v, buf, sizeof(buf)), 0);
        ck_assert_int_eq(vchan_is_open(v), VCHAN_DISCONNECTED);
        ck_assert_int_eq(vchan_write(v, "x", 1), -EPIPE);
        vchan_close(v);

        /* QEMU takes the next host connection on the same socket: a new
         * channel, none of the old bytes. */
        ck_assert_int_eq(vchan_client_init(&ep, WAIT_MSEC, &v), 0);
        conn = accept4(qemu, NULL, NULL, SOCK_CLOEXEC);
        ck_assert_int_ge(conn, 0);
        ck_assert_int_eq(write(conn, "again", 5), 5);
        ck_assert_int_eq(vchan_recv(v, buf, 5), 5);
        ck_assert_int_eq(memcmp(buf, "again", 5), 0);
        vchan_close(v);
}
END_TEST

/* 4 MiB each way through 4 KiB rings, non-blocking, driven by the pollable
 * fd: wrap-around of both rings, and nothing lost or reordered. */
START_TEST(test_host_stream_both_ways) {
        const size_t total = (size_t) 4 << 20;
        struct vchan_endpoint ep = host_endpoint(6, 513);
        struct vchan *v = NULL;
        _cleanup_close_ int qemu = -1, conn = -1;
        size_t sent = 0, received = 0, echoed = 0;
        char path[256];
        static uint8_t buf[8192];
        long long deadline = now_msec() + 60000;

        chardev_path(path, sizeof(path), 6, 513);
        qemu = raw_socket(path, RAW_LISTEN);
        ck_assert_int_eq(vchan_client_init(&ep, WAIT_MSEC, &v), 0);
        conn = accept4(qemu, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        ck_assert_int_ge(conn, 0);
        vchan_set_blocking(v, false);

        /* The fake QEMU echoes everything back; the vchan checks it.  Wait
         * on the fds only when a round moved nothing. */
        while (received < total) {
                struct pollfd pfd[2] = {
                        { .fd = vchan_fd_for_select(v), .events = POLLIN },
                        { .fd = conn, .events = POLLIN },
                };
                bool moved = false;
                ssize_t n;

                ck_assert_msg(now_msec() < deadline, "stalled at %zu/%zu (sent %zu, echoed %zu)",
                              received, total, sent, echoed);
                if (sent < total) {
                        size_t chunk = total - sent < 3000 ? total - sent : 3000;

                        fill_pattern(buf, sent, chunk);
                        n = vchan_write(v, buf, chunk);
                        ck_assert_int_ge(n, 0);
                        sent += (size_t) n;
                        moved |= n > 0;
                }
                n = read(conn, buf, sizeof(buf));
                if (n > 0) {
                        ck_assert(check_pattern(buf, echoed, (size_t) n));
                        ck_assert_int_eq(write(conn, buf, (size_t) n), n);   /* socket buffer has room */
                        echoed += (size_t) n;
                        moved = true;
                }
                n = vchan_read(v, buf, sizeof(buf));
                ck_assert_int_ge(n, 0);
                ck_assert(check_pattern(buf, received, (size_t) n));
                received += (size_t) n;
                moved |= n > 0;
                if (!moved && poll(pfd, 2, 1000) > 0 && (pfd[0].revents & POLLIN))
                        ck_assert_int_eq(vchan_wait(v), 0);
        }
        ck_assert_int_eq(echoed, total);
        vchan_close(v);
}
END_TEST

/* The agent's role: server on the guest's port, published before the port
 * device exists (modules still loading); opened on a retry; says HELLO to
 * the host; the host leaving is EOF. */
START_TEST(test_guest_server_port_appears_later) {
        struct vchan_endpoint ep = guest_endpoint(512);
        struct vchan *v = NULL;
        _cleanup_close_ int master = -1;
        char buf[16];

        ck_assert_int_eq(setenv("VCHAN_VIRTIO_DIR", test_dir, 1), 0);
        ck_assert_int_eq(vchan_server_init(&ep, 4096, 4096, &v), 0);
        ck_assert_int_eq(vchan_is_open(v), VCHAN_WAITING);
        /* Bytes written while waiting go out once connected. */
        ck_assert_int_eq(vchan_send(v, "HELLO", 5), 5);

        master = fake_guest_port(512);
        wait_until_open(v, VCHAN_CONNECTED);
        read_exactly(master, buf, 5);
        ck_assert_int_eq(memcmp(buf, "HELLO", 5), 0);

        ck_assert_int_eq(write(master, "from-host", 9), 9);
        ck_assert_int_eq(vchan_recv(v, buf, 9), 9);
        ck_assert_int_eq(memcmp(buf, "from-host", 9), 0);

        close(TAKE_FD(master));
        vchan_set_blocking(v, true);
        ck_assert_int_eq(vchan_read(v, buf, sizeof(buf)), 0);
        ck_assert_int_eq(vchan_is_open(v), VCHAN_DISCONNECTED);
        vchan_close(v);
        ck_assert_int_eq(unsetenv("VCHAN_VIRTIO_DIR"), 0);
}
END_TEST

/* A guest-side client (the data side of a call into the domain) connects
 * to an existing port at once; a blocking read waits for the host. */
START_TEST(test_guest_client_blocking) {
        struct vchan_endpoint ep = guest_endpoint(514);
        struct vchan *v = NULL;
        _cleanup_close_ int master = -1;
        char buf[8];

        ck_assert_int_eq(setenv("VCHAN_VIRTIO_DIR", test_dir, 1), 0);
        master = fake_guest_port(514);
        ck_assert_int_eq(vchan_client_init(&ep, WAIT_MSEC, &v), 0);
        ck_assert_int_eq(vchan_is_open(v), VCHAN_CONNECTED);
        ck_assert_int_eq(write(master, "abc", 3), 3);
        ck_assert_int_eq(vchan_recv(v, buf, 3), 3);
        ck_assert_int_eq(memcmp(buf, "abc", 3), 0);
        ck_assert_int_eq(vchan_write(v, "xyz", 3), 3);
        /* Close hands over what was written. */
        vchan_close(v);
        read_exactly(master, buf, 3);
        ck_assert_int_eq(memcmp(buf, "xyz", 3), 0);
        ck_assert_int_eq(unsetenv("VCHAN_VIRTIO_DIR"), 0);
}
END_TEST

/* The guest's /init sets VCHAN_BACKEND=virtio and VCHAN_VIRTIO_PORTS=512:
 * only the control channel with the host gets a virtio port.  A data channel
 * with the host and a channel with another guest are sockets in the vchan
 * dir, named as in a native domain (the vchan mux carries them); the host
 * side keeps a QEMU socket per port whatever the list says. */
START_TEST(test_guest_virtio_ports_listed) {
        struct vchan_endpoint ep;
        struct vchan *ctrl = NULL, *data = NULL, *peer = NULL, *host = NULL, *v = NULL;
        _cleanup_close_ int master = -1, client = -1, other = -1, qemu = -1;
        char path[256], buf[8];
        struct stat st;

        ck_assert_int_eq(setenv("VCHAN_BACKEND", "virtio", 1), 0);
        ck_assert_int_eq(setenv("VCHAN_DOMAIN", "4", 1), 0);
        ck_assert_int_eq(setenv("VCHAN_VIRTIO_DIR", test_dir, 1), 0);
        ck_assert_int_eq(setenv("VCHAN_VIRTIO_PORTS", "512", 1), 0);

        /* Port 512 with the host: the virtio port, no socket file. */
        master = fake_guest_port(512);
        ep = endpoint(-1, 0, 512);
        ck_assert_int_eq(vchan_server_init(&ep, 4096, 4096, &ctrl), 0);
        wait_until_open(ctrl, VCHAN_CONNECTED);
        ck_assert_int_eq(vchan_send(ctrl, "c", 1), 1);
        read_exactly(master, buf, 1);
        ck_assert_int_eq(buf[0], 'c');
        snprintf(path, sizeof(path), "%s/vchan.4.0.512.sock", test_dir);
        ck_assert_int_eq(stat(path, &st), -1);

        /* Port 513 with the host: a socket server in the vchan dir. */
        ep = endpoint(-1, 0, 513);
        ck_assert_int_eq(vchan_server_init(&ep, 0, 0, &data), 0);
        ck_assert_int_eq(vchan_is_open(data), VCHAN_WAITING);
        snprintf(path, sizeof(path), "%s/vchan.4.0.513.sock", test_dir);
        ck_assert_int_eq(stat(path, &st), 0);
        ck_assert(S_ISSOCK(st.st_mode));
        client = raw_socket(path, RAW_CONNECT);
        ck_assert_int_ge(client, 0);
        server_accept(data);
        ck_assert_int_eq(vchan_send(data, "d", 1), 1);
        read_exactly(client, buf, 1);
        ck_assert_int_eq(buf[0], 'd');

        /* With guest 7, even on a listed port: a socket client (this was
         * -EOPNOTSUPP before the mux). */
        snprintf(path, sizeof(path), "%s/vchan.7.4.512.sock", test_dir);
        other = raw_socket(path, RAW_LISTEN);
        ep = endpoint(-1, 7, 512);
        ck_assert_int_eq(vchan_client_init(&ep, WAIT_MSEC, &peer), 0);
        ck_assert_int_eq(vchan_is_open(peer), VCHAN_CONNECTED);

        /* The host side of port 513 is still QEMU's socket. */
        snprintf(path, sizeof(path), "%s/virtio.4.513.sock", test_dir);
        qemu = raw_socket(path, RAW_LISTEN);
        ep = endpoint(0, 4, 513);
        ck_assert_int_eq(vchan_client_init(&ep, WAIT_MSEC, &host), 0);
        ck_assert_int_eq(vchan_is_open(host), VCHAN_CONNECTED);

        /* No list (or an empty one): every port with the host is virtio. */
        ck_assert_int_eq(setenv("VCHAN_VIRTIO_PORTS", "", 1), 0);
        ep = endpoint(-1, 0, 514);
        ck_assert_int_eq(vchan_server_init(&ep, 0, 0, &v), 0);
        snprintf(path, sizeof(path), "%s/vchan.4.0.514.sock", test_dir);
        ck_assert_int_eq(stat(path, &st), -1);
        vchan_close(v);
        v = NULL;

        /* Several ports; a malformed list is refused, not guessed at. */
        ck_assert_int_eq(setenv("VCHAN_VIRTIO_PORTS", "600,514", 1), 0);
        ck_assert_int_eq(vchan_server_init(&ep, 0, 0, &v), 0);
        ck_assert_int_eq(stat(path, &st), -1);
        vchan_close(v);
        v = NULL;
        ep = endpoint(-1, 0, 512);
        for (size_t i = 0; i < 5; i++) {
                static const char *const bad[] = { "512,", ",512", "512,,513", "5x2", "99999999999" };

                ck_assert_int_eq(setenv("VCHAN_VIRTIO_PORTS", bad[i], 1), 0);
                ck_assert_int_eq(vchan_server_init(&ep, 0, 0, &v), -EINVAL);
                ck_assert_ptr_null(v);
        }

        vchan_close(host);
        vchan_close(peer);
        vchan_close(data);
        vchan_close(ctrl);
        ck_assert_int_eq(unsetenv("VCHAN_VIRTIO_PORTS"), 0);
        ck_assert_int_eq(unsetenv("VCHAN_VIRTIO_DIR"), 0);
        ck_assert_int_eq(unsetenv("VCHAN_DOMAIN"), 0);
        ck_assert_int_eq(unsetenv("VCHAN_BACKEND"), 0);
}
END_TEST

static Suite *vchan_virtio_suite(void) {
        Suite *s = suite_create("vchan-virtio");
        TCase *tc = tcase_create("vchan-virtio");

        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, test_sides_and_environment);
        tcase_add_test(tc, test_host_client_before_qemu);
        tcase_add_test(tc, test_host_stream_both_ways);
        tcase_add_test(tc, test_guest_server_port_appears_later);
        tcase_add_test(tc, test_guest_client_blocking);
        tcase_add_test(tc, test_guest_virtio_ports_listed);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return check_run_suite(vchan_virtio_suite());
}
