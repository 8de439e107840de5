/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vchan_server_adopt(): the socket vchan's server on a socket bound by someone else. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check-helpers.h"
#include "vchan.h"

static char dir[64];

static void setup(void) {
        strcpy(dir, "/tmp/test-vchan-adopt.XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void) {
        char cmd[128];

        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        ck_assert_int_eq(system(cmd), 0);
}

/* What qubesd does: a socket bound at the Qubes name for (server 0, client domid, port). */
static int bound_socket(int client_domid, int port, bool do_listen, char path[108]) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

        ck_assert_int_ge(fd, 0);
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/vchan.0.%d.%d.sock", dir, client_domid, port);
        strcpy(path, sa.sun_path);
        ck_assert_int_eq(bind(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
        if (do_listen)
                ck_assert_int_eq(listen(fd, 1), 0);
        return fd;
}

START_TEST(test_adopt_serves_one_client) {
        char path[108], buf[16];
        struct vchan *srv = NULL;
        struct stat st;
        int fd = bound_socket(7, 600, true, path), status;
        pid_t pid;

        ck_assert_int_eq(vchan_server_adopt(fd, 0, 0, &srv), 0);
        ck_assert_int_eq(vchan_is_open(srv), VCHAN_WAITING);

        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                struct vchan_endpoint ep = {
                        .backend = VCHAN_SOCKET, .local_domid = 7, .remote_domid = 0, .port = 600,
                        .socket_dir = dir,
                };
                struct vchan *cli = NULL;
                char reply[8] = {};

                if (vchan_client_init(&ep, 10000, &cli) < 0)
                        _exit(10);
                if (vchan_send(cli, "ping", 4) != 4)
                        _exit(11);
                if (vchan_recv(cli, reply, 4) != 4 || memcmp(reply, "pong", 4) != 0)
                        _exit(12);
                vchan_close(cli);
                _exit(0);
        }

        ck_assert_int_eq(vchan_recv(srv, buf, 4), 4);
        ck_assert_int_eq(memcmp(buf, "ping", 4), 0);
        ck_assert_int_eq(vchan_is_open(srv), VCHAN_CONNECTED);
        ck_assert_int_eq(vchan_send(srv, "pong", 4), 4);
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert(WIFEXITED(status));
        ck_assert_int_eq(WEXITSTATUS(status), 0);
        /* The peer closed: EOF, then disconnected. */
        ck_assert_int_eq(vchan_read(srv, buf, sizeof(buf)), 0);
        ck_assert_int_eq(vchan_is_open(srv), VCHAN_DISCONNECTED);
        vchan_close(srv);
        /* The vchan owned the fd; the file stays, as for vchan_server_init. */
        ck_assert_int_eq(fcntl(fd, F_GETFD), -1);
        ck_assert_int_eq(stat(path, &st), 0);
}
END_TEST

START_TEST(test_adopt_refuses_what_is_not_a_listening_socket) {
        char path[108];
        struct vchan *srv = NULL;
        int pipe_fds[2], fd, dgram;

        ck_assert_int_eq(vchan_server_adopt(-1, 0, 0, &srv), -EINVAL);

        ck_assert_int_eq(pipe2(pipe_fds, O_CLOEXEC), 0);
        ck_assert_int_eq(vchan_server_adopt(pipe_fds[0], 0, 0, &srv), -ENOTSOCK);
        close(pipe_fds[0]);
        close(pipe_fds[1]);

        /* Bound but not listening. */
        fd = bound_socket(3, 513, false, path);
        ck_assert_int_eq(vchan_server_adopt(fd, 0, 0, &srv), -EINVAL);
        /* The caller keeps the fd on failure. */
        ck_assert_int_ge(fcntl(fd, F_GETFD), 0);
        close(fd);

        dgram = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        ck_assert_int_eq(vchan_server_adopt(dgram, 0, 0, &srv), -EINVAL);
        close(dgram);

        fd = bound_socket(4, 514, true, path);
        ck_assert_int_eq(vchan_server_adopt(fd, (size_t) 1 << 40, 0, &srv), -EINVAL);
        ck_assert_ptr_null(srv);
        close(fd);
}
END_TEST

static Suite *suite(void) {
        Suite *s = suite_create("vchan-adopt");
        TCase *tc = tcase_create("adopt");

        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 30);
        tcase_add_test(tc, test_adopt_serves_one_client);
        tcase_add_test(tc, test_adopt_refuses_what_is_not_a_listening_socket);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return check_run_suite(suite());
}
