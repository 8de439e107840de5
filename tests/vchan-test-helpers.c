/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Helpers shared by the socket vchan tests. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util.h"
#include "vchan.h"
#include "vchan-test-helpers.h"

char test_dir[64];

void setup(void) {
        snprintf(test_dir, sizeof(test_dir), "/tmp/test-vchan-XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(test_dir));
}

void teardown(void) {
        DIR *d = opendir(test_dir);
        struct dirent *de;

        if (!d)
                return;
        while ((de = readdir(d)))
                if (de->d_name[0] != '.')
                        (void) unlinkat(dirfd(d), de->d_name, 0);
        closedir(d);
        (void) rmdir(test_dir);
}

struct vchan_endpoint endpoint(int local, int remote, int port) {
        return (struct vchan_endpoint) {
                .backend = VCHAN_SOCKET,
                .local_domid = local,
                .remote_domid = remote,
                .port = port,
                .socket_dir = test_dir,
        };
}

long long now_msec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool fd_readable(int fd, int timeout_ms) {
        struct pollfd pfd = { .fd = fd, .events = POLLIN };

        return poll(&pfd, 1, timeout_ms) == 1 && (pfd.revents & POLLIN);
}

/* The server notices its client in wait(), once its fd says so. */
void server_accept(struct vchan *srv) {
        ck_assert(fd_readable(vchan_fd_for_select(srv), 2000));
        ck_assert_int_eq(vchan_wait(srv), 0);
        ck_assert_int_eq(vchan_is_open(srv), VCHAN_CONNECTED);
}

/* Server in domain 0 for domain 1 on port 512, rings as asked. */
void connect_pair(size_t read_min, size_t write_min, struct vchan **srv, struct vchan **cli) {
        struct vchan_endpoint sep = endpoint(0, 1, 512), cep = endpoint(1, 0, 512);

        ck_assert_int_eq(vchan_server_init(&sep, read_min, write_min, srv), 0);
        ck_assert_int_eq(vchan_is_open(*srv), VCHAN_WAITING);
        ck_assert_int_eq(vchan_client_init(&cep, 2000, cli), 0);
        ck_assert_int_eq(vchan_is_open(*cli), VCHAN_CONNECTED);
        server_accept(*srv);
}

uint8_t pattern_byte(uint64_t i) {
        return (uint8_t) ((i * 0x9E3779B97F4A7C15ULL) >> 56) ^ (uint8_t) i;
}

void fill_pattern(uint8_t *buf, uint64_t offset, size_t n) {
        for (size_t i = 0; i < n; i++)
                buf[i] = pattern_byte(offset + i);
}

bool check_pattern(const uint8_t *buf, uint64_t offset, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (buf[i] != pattern_byte(offset + i))
                        return false;
        return true;
}


/* Plain AF_UNIX stream socket at path: connected, listening, or a stale file
 * (bound, nobody listening). */
int raw_socket(const char *path, enum raw_mode mode) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

        ck_assert_int_ge(fd, 0);
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
        if (mode != RAW_CONNECT) {
                ck_assert_int_eq(bind(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
                if (mode == RAW_LISTEN)
                        ck_assert_int_eq(listen(fd, 1), 0);
        } else if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                close(fd);
                return -errno;
        }
        return fd;
}
