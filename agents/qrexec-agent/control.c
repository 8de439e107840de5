/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The control channel, agent side: HELLO, then requests from the admin side. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "qrexec.h"

/* Exactly n bytes (blocking): 0, -EPIPE at EOF, -errno. */
static int read_exact(struct vchan *v, void *buf, size_t n) {
        uint8_t *p = buf;

        while (n > 0) {
                ssize_t k = vchan_read(v, p, n);
                if (k < 0)
                        return (int) k;
                if (k == 0)
                        return -EPIPE;
                p += k;
                n -= (size_t) k;
        }
        return 0;
}

static int write_exact(struct vchan *v, const void *buf, size_t n) {
        const uint8_t *p = buf;

        while (n > 0) {
                ssize_t k = vchan_write(v, p, n);
                if (k < 0)
                        return (int) k;
                if (k == 0)
                        return -EPIPE;
                p += k;
                n -= (size_t) k;
        }
        return 0;
}

int agent_handshake(struct vchan *ctrl, uint32_t *ret_version) {
        uint8_t buf[QREXEC_HEADER_SIZE + 4];
        struct qrexec_hdr hdr;
        uint32_t theirs;
        int n, r;

        /* The agent speaks first, as Qubes' does. */
        n = qrexec_encode_hello(buf, sizeof(buf), QREXEC_PROTOCOL_VERSION);
        if (n < 0)
                return n;
        r = write_exact(ctrl, buf, (size_t) n);
        if (r < 0)
                return r;
        r = read_exact(ctrl, buf, QREXEC_HEADER_SIZE);
        if (r < 0)
                return r;
        qrexec_decode_header(buf, &hdr);
        r = qrexec_check_header(&hdr, QREXEC_STREAM_FROM_DAEMON, 0);
        if (r < 0)
                return r;
        r = read_exact(ctrl, buf, hdr.len);
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

static void handle(const struct qrexec_hdr *hdr, const uint8_t *untrusted_payload) {
        struct qrexec_exec exec;
        char ident[QREXEC_IDENT_SIZE];

        switch (hdr->type) {
        case QREXEC_MSG_EXEC_CMDLINE:
        case QREXEC_MSG_JUST_EXEC:
        case QREXEC_MSG_SERVICE_CONNECT:
                if (qrexec_decode_exec(hdr, untrusted_payload, &exec) < 0) {
                        agent_log("ignoring a malformed %s", qrexec_msg_type_to_string(hdr->type));
                        return;
                }
                agent_log("ignoring %s (domain %u, port %u): services are not run yet",
                          qrexec_msg_type_to_string(hdr->type), (unsigned) exec.connect_domain,
                          (unsigned) exec.connect_port);
                return;
        case QREXEC_MSG_SERVICE_REFUSED:
                if (qrexec_decode_service_refused(untrusted_payload, hdr->len, ident) == 0)
                        agent_log("service request refused");
                return;
        default:
                agent_log("ignoring %s", qrexec_msg_type_to_string(hdr->type) ?: "an unknown message");
        }
}

int agent_serve(struct vchan *ctrl, uint32_t version) {
        uint8_t raw[QREXEC_HEADER_SIZE];
        struct qrexec_hdr hdr;
        uint8_t *payload;
        int r;

        payload = malloc(QREXEC_MAX_CMD_LEN + 64);
        if (!payload)
                return -ENOMEM;
        for (;;) {
                r = read_exact(ctrl, raw, sizeof(raw));
                if (r == -EPIPE) {
                        agent_log("control channel closed");
                        r = 0;
                        break;
                }
                if (r < 0)
                        break;
                qrexec_decode_header(raw, &hdr);
                r = qrexec_check_header(&hdr, QREXEC_STREAM_FROM_DAEMON, version);
                if (r < 0 || hdr.len > QREXEC_MAX_CMD_LEN + 64) {
                        agent_log("refusing a malformed message (type 0x%x, %u bytes)", (unsigned) hdr.type,
                                  (unsigned) hdr.len);
                        r = -EBADMSG;
                        break;
                }
                r = read_exact(ctrl, payload, hdr.len);
                if (r < 0)
                        break;
                handle(&hdr, payload);
        }
        free(payload);
        return r;
}
