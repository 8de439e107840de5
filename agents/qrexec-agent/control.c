/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The control channel, agent side: HELLO, then requests from the admin side. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "qrexec.h"

int agent_handshake(struct vchan *ctrl, uint32_t *ret_version) {
        uint8_t buf[QREXEC_HEADER_SIZE + 4];
        struct qrexec_hdr hdr;
        uint32_t theirs;
        int n, r;

        /* The agent speaks first, as Qubes' does. */
        n = qrexec_encode_hello(buf, sizeof(buf), QREXEC_PROTOCOL_VERSION);
        if (n < 0)
                return n;
        r = vchan_write_full(ctrl, buf, (size_t) n);
        if (r < 0)
                return r;
        r = vchan_read_full(ctrl, buf, QREXEC_HEADER_SIZE);
        if (r < 0)
                return r;
        qrexec_decode_header(buf, &hdr);
        r = qrexec_check_header(&hdr, QREXEC_STREAM_FROM_DAEMON, 0);
        if (r < 0)
                return r;
        r = vchan_read_full(ctrl, buf, hdr.len);
        if (r < 0)
                return r;
        r = qrexec_decode_hello(buf, hdr.len, &theirs);
        if (r < 0)
                return r;
        r = qrexec_negotiate(QREXEC_PROTOCOL_VERSION, theirs);
        if (r < 0)
                return r;
        *ret_version = (uint32_t) r;
        agent_log("connected, protocol version %u", (unsigned) r);
        return 0;
}

int control_init(struct control *c, struct vchan *v, uint32_t version) {
        *c = (struct control) { .v = v, .version = version };
        c->payload = malloc(QREXEC_MAX_CMD_LEN + 64);
        if (!c->payload)
                return -ENOMEM;
        vchan_set_blocking(v, false);
        return 0;
}

void control_done(struct control *c) {
        free(c->payload);
        c->payload = NULL;
}

int control_receive(struct control *c) {
        for (;;) {
                ssize_t n;
                int r;

                if (!c->have_hdr) {
                        n = vchan_read(c->v, c->hdr_raw + c->hdr_got, QREXEC_HEADER_SIZE - c->hdr_got);
                        if (n < 0)
                                return (int) n;
                        if (n == 0)
                                return vchan_is_open(c->v) == VCHAN_DISCONNECTED ? -EPIPE : 0;
                        c->hdr_got += (size_t) n;
                        if (c->hdr_got < QREXEC_HEADER_SIZE)
                                continue;
                        qrexec_decode_header(c->hdr_raw, &c->hdr);
                        r = qrexec_check_header(&c->hdr, QREXEC_STREAM_FROM_DAEMON, c->version);
                        if (r < 0 || c->hdr.len > QREXEC_MAX_CMD_LEN + 64) {
                                agent_log("refusing a malformed message (type 0x%x, %u bytes)",
                                          (unsigned) c->hdr.type, (unsigned) c->hdr.len);
                                return -EBADMSG;
                        }
                        c->have_hdr = true;
                        c->payload_got = 0;
                }
                if (c->payload_got < c->hdr.len) {
                        n = vchan_read(c->v, c->payload + c->payload_got, c->hdr.len - c->payload_got);
                        if (n < 0)
                                return (int) n;
                        if (n == 0)
                                return vchan_is_open(c->v) == VCHAN_DISCONNECTED ? -EPIPE : 0;
                        c->payload_got += (size_t) n;
                        if (c->payload_got < c->hdr.len)
                                continue;
                }
                c->have_hdr = false;
                c->hdr_got = 0;
                agent_dispatch(&c->hdr, c->payload);
        }
}

int control_send(struct control *c, const uint8_t *msg, size_t len) {
        int r;

        vchan_set_blocking(c->v, true);
        r = vchan_write_full(c->v, msg, len);
        vchan_set_blocking(c->v, false);
        return r;
}
