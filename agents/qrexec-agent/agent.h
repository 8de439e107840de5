/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * qrexec-agent: the agent side of a domain's control channel (Qubes qrexec
 * protocol, reference qrexec.md §2), the local trigger socket for
 * qrexec-client-vm, and one process per data connection.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "qrexec.h"
#include "vchan.h"

#define AGENT_MAX_CONNECTIONS 1024      /* running calls + pending local triggers */

/* Log to stderr (the domain's console) as "qrexec-agent: ...". */
void agent_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* control.c */
struct control {
        struct vchan *v;
        uint32_t version;
        uint8_t hdr_raw[QREXEC_HEADER_SIZE];
        size_t hdr_got;
        bool have_hdr;
        struct qrexec_hdr hdr;
        uint8_t *payload;               /* QREXEC_MAX_CMD_LEN + 64 */
        size_t payload_got;
};
/* HELLO both ways (blocking). */
int agent_handshake(struct vchan *ctrl, uint32_t *ret_version);
int control_init(struct control *c, struct vchan *v, uint32_t version);
void control_done(struct control *c);
/* Read what is there; calls agent_dispatch() per complete message.
 * -EPIPE when the admin side closed, -EBADMSG on a protocol error. */
int control_receive(struct control *c);
/* A whole message (blocking: the admin side reads its channel). */
int control_send(struct control *c, const uint8_t *msg, size_t len);

/* main.c: one complete, header-checked message from the admin side. */
void agent_dispatch(const struct qrexec_hdr *hdr, const uint8_t *untrusted_payload);

/* connection.c: fork the process that serves one EXEC_CMDLINE / JUST_EXEC.
 * Its pid, or -errno. */
pid_t connection_start(const struct qrexec_exec *exec, const char *own_service_dir, pid_t agent_pid);
