/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libFuzzer harness: the data-stream decoder of protocol/qrexec-stream.c.
 * The input is what the peer sends after HELLO, on a real socket vchan:
 * byte 0 picks the end (client or service) and the protocol version (2..4),
 * the rest arrives followed by EOF.  Any input must end the run with a
 * result, never a crash or a hang.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "qrexec-stream.h"
#include "util.h"
#include "vchan.h"

#define MAX_INPUT (32 * 1024)   /* fits the socket buffers: the peer never has to wait */

static char dir[64];

static void remove_dir(void) {
        char path[128];

        snprintf(path, sizeof(path), "%s/vchan.0.1.513.sock", dir);
        (void) unlink(path);
        (void) rmdir(dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct vchan_endpoint ep = { .backend = VCHAN_SOCKET, .local_domid = 0, .remote_domid = 1, .port = 513 };
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        struct vchan *v = NULL;
        uint32_t version;
        int peer;

        if (size < 1 || size > MAX_INPUT)
                return 0;
        if (!dir[0]) {
                strcpy(dir, "/tmp/fuzz-qrexec-stream.XXXXXX");
                if (!mkdtemp(dir))
                        abort();
                atexit(remove_dir);
        }
        ep.socket_dir = dir;
        version = 2 + (data[0] >> 1) % 3;
        if (vchan_server_init(&ep, 0, 0, &v) < 0)
                abort();
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/vchan.0.1.513.sock", dir);
        peer = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (peer < 0 || connect(peer, (struct sockaddr *) &sa, sizeof(sa)) < 0)
                abort();
        while (vchan_is_open(v) == VCHAN_WAITING)
                if (vchan_wait(v) < 0)
                        abort();
        if (write_full(peer, data + 1, size - 1) < 0 || shutdown(peer, SHUT_WR) < 0)
                abort();

        if (data[0] & 1) {
                int in = open("/dev/null", O_WRONLY | O_CLOEXEC), out = open("/dev/null", O_RDONLY | O_CLOEXEC),
                    err = open("/dev/null", O_RDONLY | O_CLOEXEC);
                (void) qrexec_stream_run_service(v, version, in, out, err, 0);
        } else {
                struct qrexec_client_options opts = { .replace_escapes_stdout = data[0] & 8 };
                int out = open("/dev/null", O_WRONLY | O_CLOEXEC), err = open("/dev/null", O_WRONLY | O_CLOEXEC);
                (void) qrexec_stream_run_client(v, version, -1, out, err, &opts);
        }
        vchan_close(v);
        close(peer);
        return 0;
}
