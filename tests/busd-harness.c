/* SPDX-License-Identifier: GPL-2.0-or-later */
/* busd's integration test harness: see busd-harness.h. */
#include <check.h>
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

#include "busd-harness.h"
#include "util.h"

const char *builddir_path(const char *relative, char *buf, size_t size) {
        const char *builddir = getenv("ODYSSEY_BUILDDIR") ?: ODYSSEY_BUILDDIR;

        snprintf(buf, size, "%s/%s", builddir, relative);
        return buf;
}

struct bus_message *message_new(void) {
        struct bus_message *m = calloc(1, sizeof(*m));

        ck_assert_ptr_nonnull(m);
        return m;
}

static int notify_socket_open(const char *path) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

        ck_assert_int_ge(fd, 0);
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
        ck_assert_int_eq(bind(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
        return fd;
}

static bool notify_wait_ready(int fd, pid_t pid, int timeout_ms) {
        uint64_t deadline = now_usec() + (uint64_t) timeout_ms * 1000;
        char buf[512];

        while (now_usec() < deadline) {
                struct pollfd pfd = { .fd = fd, .events = POLLIN };

                if (waitpid(pid, NULL, WNOHANG) == pid)
                        return false;   /* busd died during setup */
                if (poll(&pfd, 1, 50) <= 0)
                        continue;
                ssize_t n = recv(fd, buf, sizeof(buf) - 1, 0);
                if (n <= 0)
                        continue;
                buf[n] = 0;
                if (strstr(buf, "READY=1"))
                        return true;
        }
        return false;
}

void harness_start(struct busd_harness *h, const char *const *extra_args) {
        char busd[512], notify_path[96], uid_args[4][64];
        const char *argv[32];
        size_t argc = 0;
        int notify_fd;

        snprintf(h->dir, sizeof(h->dir), "/tmp/test-busd-XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(h->dir));
        /* The roles' uids must reach the socket inside it. */
        ck_assert_int_eq(chmod(h->dir, 0755), 0);
        snprintf(h->socket_path, sizeof(h->socket_path), "%s/bus.sock", h->dir);
        snprintf(h->log_path, sizeof(h->log_path), "%s/busd.log", h->dir);
        snprintf(h->vchan_dir, sizeof(h->vchan_dir), "%s/vchan", h->dir);
        ck_assert_int_eq(mkdir(h->vchan_dir, 0755), 0);
        snprintf(notify_path, sizeof(notify_path), "%s/notify", h->dir);
        notify_fd = notify_socket_open(notify_path);

        snprintf(uid_args[0], sizeof(uid_args[0]), "qubesd=%u", UID_QUBESD);
        snprintf(uid_args[1], sizeof(uid_args[1]), "qrexec-policyd=%u", UID_POLICYD);
        snprintf(uid_args[2], sizeof(uid_args[2]), "guid=%u", UID_GUID);
        snprintf(uid_args[3], sizeof(uid_args[3]), "netvm-mgr=%u", UID_NETVM_MGR);
        argv[argc++] = builddir_path("daemons/busd/busd", busd, sizeof(busd));
        argv[argc++] = "--socket";
        argv[argc++] = h->socket_path;
        for (size_t i = 0; i < ELEMENTSOF(uid_args); i++) {
                argv[argc++] = "--role-uid";
                argv[argc++] = uid_args[i];
        }
        for (size_t i = 0; extra_args && extra_args[i]; i++) {
                ck_assert_uint_lt(argc, ELEMENTSOF(argv) - 1);
                argv[argc++] = extra_args[i];
        }
        argv[argc] = NULL;

        h->pid = fork();
        ck_assert_int_ge(h->pid, 0);
        if (h->pid == 0) {
                int log_fd = open(h->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);

                if (log_fd < 0 || dup2(log_fd, STDERR_FILENO) < 0)
                        _exit(127);
                setenv("NOTIFY_SOCKET", notify_path, 1);
                unsetenv("ODYSSEY_NO_SECCOMP");
                execv(argv[0], (char *const *) argv);
                _exit(127);
        }
        ck_assert_msg(notify_wait_ready(notify_fd, h->pid, 10000), "busd did not become ready (log %s)",
                      h->log_path);
        close(notify_fd);
}

void harness_stop(struct busd_harness *h) {
        int status = 0;
        char cmd[512];

        if (h->pid > 0) {
                kill(h->pid, SIGTERM);
                ck_assert_int_eq(waitpid(h->pid, &status, 0), h->pid);
                h->pid = 0;
        }
        /* Show busd's side of the story in the test log. */
        snprintf(cmd, sizeof(cmd), "sed 's/^/    | /' '%s' >&2; rm -rf '%s'", h->log_path, h->dir);
        (void) !system(cmd);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "busd did not exit cleanly: %d", status);
}

bool harness_log_contains(struct busd_harness *h, const char *needle) {
        uint64_t deadline = now_usec() + 2000000;

        do {
                FILE *f = fopen(h->log_path, "re");
                char line[1024];
                bool found = false;

                if (f) {
                        while (!found && fgets(line, sizeof(line), f))
                                found = strstr(line, needle) != NULL;
                        fclose(f);
                }
                if (found)
                        return true;
                usleep(20000);
        } while (now_usec() < deadline);
        return false;
}

static void send_fd(int sock, int fd) {
        if (send_with_fd(sock, "x", 1, 0, fd) != 1)
                _exit(3);
}

static int recv_fd(int sock) {
        char byte;
        int fd;

        if (recv_with_fd(sock, &byte, 1, 0, &fd) != 1)
                return -1;
        return fd;
}

int harness_connect_raw(struct busd_harness *h, uid_t uid) {
        int pair[2], fd, status;
        pid_t pid;

        ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair), 0);
        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                struct sockaddr_un sa = { .sun_family = AF_UNIX };
                int s;

                if (setresuid(uid, uid, uid) < 0)
                        _exit(1);
                snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", h->socket_path);
                s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
                if (s < 0 || connect(s, (struct sockaddr *) &sa, sizeof(sa)) < 0)
                        _exit(2);
                send_fd(pair[1], s);
                _exit(0);
        }
        close(pair[1]);
        fd = recv_fd(pair[0]);
        close(pair[0]);
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "connecting as uid %u failed: %d",
                      (unsigned) uid, status);
        ck_assert_int_ge(fd, 0);
        return fd;
}

int harness_connect(struct busd_harness *h, uid_t uid, struct bus_client **ret) {
        int fd = harness_connect_raw(h, uid);

        ck_assert_int_eq(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
        return bus_client_new_from_fd(fd, 2 * BUS_CLIENT_USEC_PER_SEC, ret);
}

void raw_send(int fd, const void *buf, size_t n) {
        ck_assert_int_eq(send(fd, buf, n, MSG_NOSIGNAL), (ssize_t) n);
}

void raw_send_msg(int fd, uint16_t type, uint32_t peer, uint32_t request_id, const void *payload) {
        static uint8_t buf[BUS_MSG_MAX];
        struct bus_hdr hdr = { .type = type, .peer = peer, .request_id = request_id };
        int n = bus_encode(&hdr, payload, buf, sizeof(buf));

        ck_assert_int_gt(n, 0);
        raw_send(fd, buf, (size_t) n);
}

int raw_recv_msg(int fd, int timeout_ms, struct bus_message *ret) {
        static uint8_t buf[BUS_MSG_MAX];
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        ssize_t n;

        if (poll(&pfd, 1, timeout_ms) <= 0)
                return -ETIMEDOUT;
        n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno == ECONNRESET))
                return -ECONNRESET;
        if (n < 0)
                return -errno;
        return bus_decode(buf, (size_t) n, ret) < 0 ? -EBADMSG : 0;
}

bool raw_closed_by_busd(int fd, int timeout_ms) {
        uint64_t deadline = now_usec() + (uint64_t) timeout_ms * 1000;
        static uint8_t buf[BUS_MSG_MAX];

        while (now_usec() < deadline) {
                struct pollfd pfd = { .fd = fd, .events = POLLIN };

                if (poll(&pfd, 1, 50) <= 0)
                        continue;
                ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
                if (n == 0 || (n < 0 && errno == ECONNRESET))
                        return true;
        }
        return false;
}

void assert_ping(struct bus_client *c) {
        _cleanup_free_ struct bus_message *reply = message_new();
        struct bus_msg_ping ping = { .token = now_usec() };

        ck_assert_int_eq(bus_client_call(c, BUS_MSG_PING, BUS_PEER_BUSD, &ping, 2 * BUS_CLIENT_USEC_PER_SEC, reply), 0);
        ck_assert_uint_eq(reply->hdr.type, BUS_MSG_PONG);
        ck_assert_uint_eq(reply->hdr.peer, BUS_PEER_BUSD);
        ck_assert(reply->u.pong.token == ping.token);
}

pid_t spawn_as(uid_t uid, const char *const *argv, int *ret_stdout) {
        int pipefd[2];
        pid_t pid;

        ck_assert_int_eq(pipe2(pipefd, O_CLOEXEC), 0);
        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                if (dup2(pipefd[1], STDOUT_FILENO) < 0 || setresuid(uid, uid, uid) < 0)
                        _exit(127);
                execv(argv[0], (char *const *) argv);
                _exit(127);
        }
        close(pipefd[1]);
        *ret_stdout = pipefd[0];
        return pid;
}

bool read_line(int fd, int timeout_ms, char *buf, size_t size) {
        uint64_t deadline = now_usec() + (uint64_t) timeout_ms * 1000;
        size_t have = 0;

        while (have + 1 < size && now_usec() < deadline) {
                struct pollfd pfd = { .fd = fd, .events = POLLIN };

                if (poll(&pfd, 1, 50) <= 0)
                        continue;
                if (read(fd, buf + have, 1) != 1)
                        break;
                if (buf[have] == '\n') {
                        buf[have] = 0;
                        return true;
                }
                have++;
        }
        buf[have] = 0;
        return false;
}
