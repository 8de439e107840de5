/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The local trigger socket (`/var/run/qubes/qrexec-agent`): qrexec-client-vm
 * connects and writes one TRIGGER_SERVICE4 (or the older TRIGGER_SERVICE3)
 * without HELLO, as Qubes' client does.  Reading the request is
 * non-blocking and bounded; the agent answers by writing the 8-byte
 * exec_params on SERVICE_CONNECT, or by closing the socket on refusal.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "agent.h"
#include "qrexec-layout.h"
#include "trigger.h"
#include "util.h"
#include "vchan-socket.h"

/* The socket's directory, as `mkdir -p` makes it. */
static int mkdir_parent(const char *path) {
        _cleanup_free_ char *dir = strdup(path);
        char *slash;

        if (!dir)
                return -ENOMEM;
        slash = strrchr(dir, '/');
        if (!slash || slash == dir)
                return 0;
        *slash = '\0';
        return mkdir_p(dir, 0755);
}

int trigger_listen(const char *path) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        _cleanup_close_ int fd = -1;
        int r;

        if (strlen(path) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        strcpy(sa.sun_path, path);
        r = mkdir_parent(path);
        if (r < 0)
                return r;
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return -errno;
        /* Listening before it is visible (a client never sees ECONNREFUSED);
         * mode 0666: every user of the domain may ask for a call, policy
         * decides. */
        r = vchan_socket_publish(fd, &sa, SOMAXCONN);
        if (r < 0)
                return r;
        return TAKE_FD(fd);
}

void trigger_request_init(struct trigger_request *t, int fd) {
        *t = (struct trigger_request) { .fd = fd };
}

void trigger_request_done(struct trigger_request *t) {
        free(t->untrusted_msg);
        t->untrusted_msg = NULL;
}

int trigger_request_read(struct trigger_request *t) {
        for (;;) {
                size_t want;
                uint8_t *dst;
                ssize_t n;

                if (t->untrusted_msg && t->got == QREXEC_HEADER_SIZE + t->hdr.len)
                        return 1;
                if (t->got < QREXEC_HEADER_SIZE) {
                        dst = t->hdr_raw + t->got;
                        want = QREXEC_HEADER_SIZE;
                } else {
                        dst = t->untrusted_msg + t->got;
                        want = QREXEC_HEADER_SIZE + t->hdr.len;
                }
                n = read(t->fd, dst, want - t->got);
                if (n < 0)
                        return errno == EAGAIN || errno == EINTR ? 0 : -errno;
                if (n == 0)
                        return -EPIPE;
                t->got += (size_t) n;
                if (t->got == QREXEC_HEADER_SIZE && !t->untrusted_msg) {
                        qrexec_decode_header(t->hdr_raw, &t->hdr);
                        /* The request as the control channel would carry it, at version 4. */
                        if ((t->hdr.type != QREXEC_MSG_TRIGGER_SERVICE3 &&
                             t->hdr.type != QREXEC_MSG_TRIGGER_SERVICE4) ||
                            qrexec_check_header(&t->hdr, QREXEC_STREAM_FROM_AGENT, QREXEC_PROTOCOL_VERSION) < 0)
                                return -EBADMSG;
                        t->untrusted_msg = malloc(QREXEC_HEADER_SIZE + t->hdr.len);
                        if (!t->untrusted_msg)
                                return -ENOMEM;
                        memcpy(t->untrusted_msg, t->hdr_raw, QREXEC_HEADER_SIZE);
                }
        }
}

int trigger_request_forward(struct trigger_request *t, uint8_t **ret_msg, size_t *ret_len) {
        _cleanup_free_ struct qrexec_trigger *trig = malloc(sizeof(*trig));
        char ident[QREXEC_IDENT_SIZE];
        size_t size;
        uint8_t *msg;
        int r, n;

        if (!trig)
                return -ENOMEM;
        r = qrexec_decode_trigger(&t->hdr, t->untrusted_msg + QREXEC_HEADER_SIZE, QREXEC_PROTOCOL_VERSION, trig);
        if (r < 0)
                return r;
        if (!trig->service[0] || trig->service[0] == '+' || !trig->target_domain[0])
                return -EINVAL;
        /* The ident names the client socket, as Qubes' agent has it. */
        snprintf(ident, sizeof(ident), "SOCKET%d", t->fd);
        size = QREXEC_HEADER_SIZE + QREXEC_TRIGGER3_FIXED_SIZE + strlen(trig->service) + 1;
        msg = malloc(size);
        if (!msg)
                return -ENOMEM;
        n = qrexec_encode_trigger3(msg, size, trig->target_domain, ident, trig->service);
        if (n < 0) {
                free(msg);
                return n;
        }
        *ret_msg = msg;
        *ret_len = (size_t) n;
        return 0;
}

int trigger_ident_fd(const char ident[QREXEC_IDENT_SIZE]) {
        uint32_t fd;

        if (strncmp(ident, "SOCKET", 6) != 0 || !ident[6])
                return -EINVAL;
        fd = 0;
        for (const char *p = ident + 6; *p; p++) {
                if (*p < '0' || *p > '9' || fd > 100000000)
                        return -EINVAL;
                fd = fd * 10 + (uint32_t) (*p - '0');
        }
        return (int) fd;
}
