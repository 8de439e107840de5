/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The local trigger socket of qrexec-client-vm (see trigger.c). */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "qrexec.h"

struct trigger_request {
        int fd;
        uint8_t hdr_raw[QREXEC_HEADER_SIZE];
        struct qrexec_hdr hdr;
        uint8_t *untrusted_msg;         /* header + payload once the header is checked */
        size_t got;
};

/* Bind and listen (mode 0666, parents created); the fd or -errno. */
int trigger_listen(const char *path);

void trigger_request_init(struct trigger_request *t, int fd);
void trigger_request_done(struct trigger_request *t);
/* Non-blocking: 1 complete, 0 more to come, -errno (the client is dropped). */
int trigger_request_read(struct trigger_request *t);
/* The TRIGGER_SERVICE3 for the control channel, ident SOCKET<fd>. */
int trigger_request_forward(struct trigger_request *t, uint8_t **ret_msg, size_t *ret_len);
/* The fd named by an ident "SOCKET<fd>", or -EINVAL. */
int trigger_ident_fd(const char ident[QREXEC_IDENT_SIZE]);
