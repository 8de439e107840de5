/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libFuzzer harness: odyssey-vchan-mux as a whole (its agents/vchan-mux/
 * files but main.c).  The host side is fed the input as what a hostile
 * guest sends on the transport, in a temp vchan dir holding one real server
 * (vchan.0.7.514.sock) for OPEN to reach.  Then the guest side, in a dir of
 * its own (real server vchan.7.3.513.sock), is fed the input, the echo of
 * its session's HELLO, and the input again: bytes it must skip (an old
 * session's, cut anywhere), then frames of a host.  Each runs until it
 * refuses the input, reaches its end, or stops moving; any input must end
 * that way, never in a crash, a hang or a leak.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>

#include "../../agents/vchan-mux/mux.h"
#include "log.h"
#include "util.h"

static char dir[64], guest_dir[80];
static int server_fd = -1, guest_server_fd = -1;

#define HOST_SERVER "vchan.0.7.514.sock"
#define GUEST_SERVER "vchan.7.3.513.sock"

static void remove_dir(void) {
        char path[128];

        if (server_fd >= 0)
                close(server_fd);
        if (guest_server_fd >= 0)
                close(guest_server_fd);
        snprintf(path, sizeof(path), "%s/" HOST_SERVER, dir);
        (void) unlink(path);
        snprintf(path, sizeof(path), "%s/" GUEST_SERVER, guest_dir);
        (void) unlink(path);
        (void) rmdir(guest_dir);
        (void) rmdir(dir);
}

static int serve(const char *in_dir, const char *name) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd;

        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s", in_dir, name);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0 || bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 || listen(fd, 64) < 0)
                return -errno;
        return fd;
}

static int setup_once(void) {
        if (dir[0])
                return 0;
        log_set_max_level(LOG_EMERG);   /* every input is a violation or two */
        snprintf(dir, sizeof(dir), "/tmp/fuzz-vchan-mux.XXXXXX");
        if (!mkdtemp(dir))
                return -errno;
        snprintf(guest_dir, sizeof(guest_dir), "%s/guest", dir);
        if (mkdir(guest_dir, 0700) < 0)
                return -errno;
        atexit(remove_dir);
        server_fd = serve(dir, HOST_SERVER);
        guest_server_fd = serve(guest_dir, GUEST_SERVER);
        return server_fd < 0 ? server_fd : guest_server_fd < 0 ? guest_server_fd : 0;
}

/* One side fed its input, until it ends or stops moving: the host the
 * input; the guest the input, its session's echo, the input again. */
static void run_side(enum mux_side side, const char *in_dir, int real_fd, const uint8_t *data, size_t size) {
        struct mux m = {
                .side = side, .domid = 7, .kind = TRANSPORT_FD, .timeout_sec = 1,
                .dir_fd = -1, .epoll_fd = -1, .transport_fd = -1, .timer_fd = -1,
                .signal_fd = -1, .inotify_fd = -1,
        };
        uint8_t sink[65536], echo[VMUX_HELLO_SIZE];
        const uint8_t *chunks[3] = { data, echo, data };
        size_t sizes[3] = { size, sizeof(echo), size };
        size_t n_chunks = side == SIDE_GUEST ? 3 : 1, chunk = 0, off = 0;
        bool shut = false;
        int sv[2], fd, idle = 0;

        /* Connections the last input's streams left behind. */
        while ((fd = accept4(real_fd, NULL, NULL, SOCK_CLOEXEC)) >= 0)
                close(fd);
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
                abort();
        m.dir = in_dir;
        m.inherited_fd = sv[0];

        if (mux_init(&m) < 0 || watch_start(&m) < 0 || transport_start(&m) < 0)
                abort();
        vmux_hello_encode(echo, m.session);
        while (!m.quit && idle < 3) {
                ssize_t n;
                int r;

                if (chunk < n_chunks && off < sizes[chunk]) {
                        n = send(sv[1], chunks[chunk] + off, sizes[chunk] - off, MSG_DONTWAIT | MSG_NOSIGNAL);
                        if (n > 0)
                                off += (size_t) n;
                }
                if (chunk < n_chunks && off >= sizes[chunk]) {
                        chunk++;
                        off = 0;
                } else if (chunk >= n_chunks && !shut) {
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
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (setup_once() < 0)
                abort();
        run_side(SIDE_HOST, dir, server_fd, data, size);
        run_side(SIDE_GUEST, guest_dir, guest_server_fd, data, size);
        return 0;
}
