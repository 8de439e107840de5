/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The socket vchan backend: naming, environment, connecting, timeouts. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check-helpers.h"
#include "util.h"
#include "vchan.h"
#include "vchan-test-helpers.h"

START_TEST(test_backend_names_and_arguments) {
        struct vchan_endpoint ep = endpoint(0, 1, 512);
        struct vchan *v = NULL;

        ck_assert_str_eq(vchan_backend_to_string(VCHAN_SOCKET), "socket");
        ck_assert_str_eq(vchan_backend_to_string(VCHAN_XEN), "xen");
        ck_assert_str_eq(vchan_backend_to_string(VCHAN_VIRTIO), "virtio");
        ck_assert_ptr_null(vchan_backend_to_string(_VCHAN_BACKEND_MAX));
        ck_assert_int_eq(vchan_backend_from_string("socket"), VCHAN_SOCKET);
        ck_assert_int_eq(vchan_backend_from_string("xen"), VCHAN_XEN);
        ck_assert_int_eq(vchan_backend_from_string("virtio"), VCHAN_VIRTIO);
        ck_assert_int_eq(vchan_backend_from_string("Socket"), -EINVAL);
        ck_assert_int_eq(vchan_backend_from_string(""), -EINVAL);

        ep.remote_domid = -1;
        ck_assert_int_eq(vchan_server_init(&ep, 0, 0, &v), -EINVAL);
        ep = endpoint(0, 1, -5);
        ck_assert_int_eq(vchan_client_init(&ep, 0, &v), -EINVAL);
        ep = endpoint(-2, 1, 5);
        ck_assert_int_eq(vchan_server_init(&ep, 0, 0, &v), -EINVAL);
        ep = endpoint(0, 1, 5);
        ck_assert_int_eq(vchan_server_init(&ep, (size_t) 1 << 40, 0, &v), -EINVAL);
        /* virtio joins a guest and the host, never two guests. */
        ep = endpoint(2, 1, 5);
        ep.backend = VCHAN_VIRTIO;
        ck_assert_int_eq(vchan_server_init(&ep, 0, 0, &v), -EOPNOTSUPP);
        ck_assert_ptr_null(v);

        /* A path that does not fit sockaddr_un is refused, not truncated. */
        char long_dir[200];
        memset(long_dir, 'd', sizeof(long_dir) - 1);
        long_dir[sizeof(long_dir) - 1] = 0;
        ep = endpoint(0, 1, 5);
        ep.socket_dir = long_dir;
        ck_assert_int_eq(vchan_server_init(&ep, 0, 0, &v), -ENAMETOOLONG);
}
END_TEST

START_TEST(test_qubes_socket_naming) {
        struct vchan_endpoint sep = endpoint(3, 7, 513), cep = endpoint(3, 7, 600);
        struct vchan *srv, *cli;
        char path[200], buf[16];
        struct stat st;
        int raw, listener;

        /* Server in domain 3 for domain 7: vchan.3.7.513.sock, a socket any
         * plain stream client (as Qubes' own) can talk to. */
        ck_assert_int_eq(vchan_server_init(&sep, 0, 0, &srv), 0);
        snprintf(path, sizeof(path), "%s/vchan.3.7.513.sock", test_dir);
        ck_assert_int_eq(stat(path, &st), 0);
        ck_assert(S_ISSOCK(st.st_mode));
        raw = raw_socket(path, RAW_CONNECT);
        ck_assert_int_ge(raw, 0);
        server_accept(srv);
        ck_assert_int_eq(write(raw, "hello", 5), 5);
        ck_assert_int_eq(vchan_recv(srv, buf, 5), 5);
        ck_assert_mem_eq(buf, "hello", 5);
        ck_assert_int_eq(vchan_send(srv, "world", 5), 5);
        ck_assert_int_eq(read(raw, buf, sizeof(buf)), 5);
        ck_assert_mem_eq(buf, "world", 5);

        /* Exactly one client: the listening socket is gone, its file stays. */
        ck_assert_int_eq(raw_socket(path, RAW_CONNECT), -ECONNREFUSED);
        ck_assert_int_eq(stat(path, &st), 0);
        close(raw);
        vchan_close(srv);

        /* Client in domain 3 of a server in domain 7: vchan.7.3.600.sock. */
        snprintf(path, sizeof(path), "%s/vchan.7.3.600.sock", test_dir);
        listener = raw_socket(path, RAW_LISTEN);
        ck_assert_int_eq(vchan_client_init(&cep, 2000, &cli), 0);
        raw = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
        ck_assert_int_ge(raw, 0);
        ck_assert_int_eq(vchan_send(cli, "ping", 4), 4);
        ck_assert_int_eq(read(raw, buf, sizeof(buf)), 4);
        ck_assert_mem_eq(buf, "ping", 4);
        vchan_close(cli);
        close(raw);
        close(listener);
}
END_TEST

START_TEST(test_environment_defaults) {
        struct vchan_endpoint ep = endpoint(-1, 4, 9);
        struct vchan *srv;
        char path[200];

        ep.socket_dir = NULL;
        ck_assert_int_eq(setenv("VCHAN_DOMAIN", "12", 1), 0);
        ck_assert_int_eq(setenv("VCHAN_SOCKET_DIR", test_dir, 1), 0);
        ck_assert_int_eq(vchan_server_init(&ep, 0, 0, &srv), 0);
        snprintf(path, sizeof(path), "%s/vchan.12.4.9.sock", test_dir);
        ck_assert_int_eq(access(path, F_OK), 0);
        vchan_close(srv);

        ck_assert_int_eq(setenv("VCHAN_DOMAIN", "1x", 1), 0);
        ck_assert_int_eq(vchan_server_init(&ep, 0, 0, &srv), -EINVAL);
        ck_assert_int_eq(setenv("VCHAN_DOMAIN", "-3", 1), 0);
        ck_assert_int_eq(vchan_server_init(&ep, 0, 0, &srv), -EINVAL);
        unsetenv("VCHAN_DOMAIN");
        unsetenv("VCHAN_SOCKET_DIR");
}
END_TEST

START_TEST(test_client_before_server) {
        struct vchan_endpoint sep = endpoint(1, 2, 5), cep = endpoint(2, 1, 5);
        struct vchan *srv, *cli;
        char path[200], buf[8];
        int stale, fd;

        ck_assert_int_eq(vchan_client_init_async(&cep, &cli), 0);
        fd = vchan_fd_for_select(cli);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(vchan_is_open(cli), VCHAN_WAITING);

        /* No file yet (ENOENT): the fd keeps waking for retries. */
        for (int i = 0; i < 3; i++) {
                ck_assert(fd_readable(fd, 1000));
                ck_assert_int_eq(vchan_client_init_finish(cli), 1);
        }

        /* A stale file nobody listens on (ECONNREFUSED): still waiting. */
        snprintf(path, sizeof(path), "%s/vchan.1.2.5.sock", test_dir);
        stale = raw_socket(path, RAW_BIND_ONLY);
        ck_assert(fd_readable(fd, 1000));
        ck_assert_int_eq(vchan_client_init_finish(cli), 1);
        close(stale);

        /* Bytes written while connecting are kept and delivered later. */
        vchan_set_blocking(cli, false);
        ck_assert_int_eq(vchan_write(cli, "early", 5), 5);

        ck_assert_int_eq(vchan_server_init(&sep, 0, 0, &srv), 0);
        long long deadline = now_msec() + 2000;
        int r;
        while ((r = vchan_client_init_finish(cli)) == 1) {
                ck_assert(now_msec() < deadline);
                (void) fd_readable(fd, 100);
        }
        ck_assert_int_eq(r, 0);
        ck_assert_int_eq(vchan_is_open(cli), VCHAN_CONNECTED);
        ck_assert_int_eq(vchan_fd_for_select(cli), fd);        /* stable */
        server_accept(srv);
        ck_assert_int_eq(vchan_recv(srv, buf, 5), 5);
        ck_assert_mem_eq(buf, "early", 5);
        vchan_close(cli);
        vchan_close(srv);
}
END_TEST

START_TEST(test_blocking_client_started_first) {
        struct vchan_endpoint sep = endpoint(0, 6, 700), cep = endpoint(6, 0, 700);
        struct vchan *srv;
        char buf[8];
        int status;
        pid_t pid;

        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                struct vchan *cli;

                if (vchan_client_init(&cep, 5000, &cli) < 0 ||
                    vchan_send(cli, "ping", 4) != 4 ||
                    vchan_recv(cli, buf, 4) != 4 || memcmp(buf, "pong", 4) != 0)
                        _exit(1);
                vchan_close(cli);
                _exit(0);
        }

        usleep(150 * 1000);     /* the client is retrying by now */
        ck_assert_int_eq(vchan_server_init(&sep, 0, 0, &srv), 0);
        ck_assert_int_eq(vchan_recv(srv, buf, 4), 4);   /* blocking: accepts, then reads */
        ck_assert_mem_eq(buf, "ping", 4);
        ck_assert_int_eq(vchan_send(srv, "pong", 4), 4);
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        vchan_close(srv);
}
END_TEST

START_TEST(test_client_timeout) {
        struct vchan_endpoint cep = endpoint(2, 1, 77);
        struct vchan *cli = NULL;
        char path[200];
        long long start;
        int stale;

        start = now_msec();
        ck_assert_int_eq(vchan_client_init(&cep, 300, &cli), -ETIMEDOUT);
        ck_assert_int_ge(now_msec() - start, 300);
        ck_assert_int_lt(now_msec() - start, 3000);
        ck_assert_ptr_null(cli);

        /* The same with a stale socket file in the way. */
        snprintf(path, sizeof(path), "%s/vchan.1.2.77.sock", test_dir);
        stale = raw_socket(path, RAW_BIND_ONLY);
        start = now_msec();
        ck_assert_int_eq(vchan_client_init(&cep, 200, &cli), -ETIMEDOUT);
        ck_assert_int_ge(now_msec() - start, 200);
        close(stale);

        /* A missing directory is only "no server yet" for the client. */
        cep.socket_dir = "/nonexistent-vchan-dir";
        ck_assert_int_eq(vchan_client_init(&cep, 50, &cli), -ETIMEDOUT);
}
END_TEST

START_TEST(test_one_client_only) {
        struct vchan_endpoint cep = endpoint(1, 0, 512);
        struct vchan *srv, *cli, *second = NULL;

        connect_pair(0, 0, &srv, &cli);
        ck_assert_int_eq(vchan_client_init(&cep, 200, &second), -ETIMEDOUT);
        ck_assert_ptr_null(second);
        ck_assert_int_eq(vchan_is_open(srv), VCHAN_CONNECTED);
        vchan_close(cli);
        vchan_close(srv);
}
END_TEST

/* The server's file is open to the peer domain's uid (0666, whatever the
 * umask), appears only once it is listening (renamed into place, never
 * created by bind under its final name), replaces a stale file, and leaves
 * no temporary name behind. */
START_TEST(test_server_socket_published_listening) {
        struct vchan_endpoint sep = endpoint(4, 9, 520);
        char path[200], events[4096];
        bool created = false, moved_in = false;
        struct vchan *srv;
        struct stat st;
        mode_t old_umask;
        int watch, raw, fd, entries = 0;
        struct dirent *de;
        DIR *dir;
        ssize_t n;

        snprintf(path, sizeof(path), "%s/vchan.4.9.520.sock", test_dir);
        fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);     /* stale leftover */
        ck_assert_int_ge(fd, 0);
        close(fd);
        watch = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
        ck_assert_int_ge(watch, 0);
        ck_assert_int_ge(inotify_add_watch(watch, test_dir, IN_CREATE | IN_MOVED_TO), 0);

        old_umask = umask(077);
        ck_assert_int_eq(vchan_server_init(&sep, 0, 0, &srv), 0);
        umask(old_umask);

        ck_assert_int_eq(stat(path, &st), 0);
        ck_assert(S_ISSOCK(st.st_mode));
        ck_assert_int_eq(st.st_mode & 07777, 0666);
        n = read(watch, events, sizeof(events));
        ck_assert_int_gt(n, 0);
        for (char *p = events; p < events + n;) {
                struct inotify_event *ev = (struct inotify_event *) p;

                if (ev->len > 0 && strcmp(ev->name, "vchan.4.9.520.sock") == 0) {
                        created |= !!(ev->mask & IN_CREATE);
                        moved_in |= !!(ev->mask & IN_MOVED_TO);
                }
                p += sizeof(*ev) + ev->len;
        }
        ck_assert(!created);
        ck_assert(moved_in);
        close(watch);

        dir = opendir(test_dir);
        ck_assert_ptr_nonnull(dir);
        while ((de = readdir(dir)))
                if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) {
                        ck_assert_str_eq(de->d_name, "vchan.4.9.520.sock");
                        entries++;
                }
        closedir(dir);
        ck_assert_int_eq(entries, 1);

        /* Listening the moment it is visible: the first connect() succeeds. */
        raw = raw_socket(path, RAW_CONNECT);
        ck_assert_int_ge(raw, 0);
        server_accept(srv);
        ck_assert_int_eq(vchan_is_open(srv), VCHAN_CONNECTED);
        close(raw);
        vchan_close(srv);
}
END_TEST

static Suite *vchan_socket_suite(void) {
        Suite *s = suite_create("vchan-socket");
        TCase *tc = tcase_create("vchan-socket");

        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, test_backend_names_and_arguments);
        tcase_add_test(tc, test_qubes_socket_naming);
        tcase_add_test(tc, test_environment_defaults);
        tcase_add_test(tc, test_client_before_server);
        tcase_add_test(tc, test_blocking_client_started_first);
        tcase_add_test(tc, test_client_timeout);
        tcase_add_test(tc, test_one_client_only);
        tcase_add_test(tc, test_server_socket_published_listening);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return check_run_suite(vchan_socket_suite());
}
