/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libFuzzer harness: the host side of odyssey-vchan-mux as a whole (its
 * agents/vchan-mux/ files but main.c), fed the input as what a hostile guest
 * sends on the transport, in a temp vchan dir holding one real server
 * (vchan.0.7.514.sock) for OPEN to reach.  The mux runs until it refuses the
 * input, reaches its end, or stops moving; any input must end that way,
 * never in a crash, a hang or a leak.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>

#include "../../agents/vchan-mux/mux.h"
#include "log.h"
#include "util.h"

static char dir[64];
static int server_fd = -1;

static void remove_dir(void) {
        char path[128];

        if (server_fd >= 0)
                close(server_fd);
        snprintf(path, sizeof(path), "%s/vchan.0.7.514.sock", dir);
        (void) unlink(path);
        (void) rmdir(dir);
}

static int setup_once(void) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };

        if (dir[0])
                return 0;
        log_set_max_level(LOG_EMERG);   /* every input is a violation or two */
        snprintf(dir, sizeof(dir), "/tmp/fuzz-vchan-mux.XXXXXX");
        if (!mkdtemp(dir))
                return -errno;
        atexit(remove_dir);
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/vchan.0.7.514.sock", dir);
        server_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (server_fd < 0 || bind(server_fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 || listen(server_fd, 64) < 0)
                return -errno;
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct mux m = {
                .side = SIDE_HOST, .domid = 7, .kind = TRANSPORT_FD, .timeout_sec = 1,
                .dir_fd = -1, .epoll_fd = -1, .transport_fd = -1, .timer_fd = -1,
                .signal_fd = -1, .inotify_fd = -1,
        };
        uint8_t sink[65536];
        size_t off = 0;
        bool shut = false;
        int sv[2], fd, idle = 0;

        if (setup_once() < 0)
                abort();
        /* Connections the last input's streams left behind. */
        while ((fd = accept4(server_fd, NULL, NULL, SOCK_CLOEXEC)) >= 0)
                close(fd);
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
                abort();
        m.dir = dir;
        m.inherited_fd = sv[0];

        if (mux_init(&m) < 0 || watch_start(&m) < 0 || transport_start(&m) < 0)
                abort();
        while (!m.quit && idle < 3) {
                ssize_t n;
                int r;

                if (off < size) {
                        n = send(sv[1], data + off, size - off, MSG_DONTWAIT | MSG_NOSIGNAL);
                        if (n > 0)
                                off += (size_t) n;
                } else if (!shut) {
                        (void) shutdown(sv[1], SHUT_WR);
                        shut = true;
                }
                while (recv(sv[1], sink, sizeof(sink), MSG_DONTWAIT) > 0)
                        ;
                r = mux_run_once(&m, 0);
                if (r < 0)
                        break;
                idle = (r == 0 && shut) ? idle + 1 : 0;
        }
        mux_done(&m);
        close(sv[1]);
        return 0;
}
