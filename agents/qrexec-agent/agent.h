/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qrexec-agent (minimal): the agent side of a domain's control channel. */
#pragma once

#include <stdint.h>

#include "vchan.h"

/* Log to stderr (the domain's console) as "qrexec-agent: ...". */
void agent_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* control.c: HELLO both ways, then serve the control channel until the
 * admin side closes it.  0 on a clean close, -errno on a protocol error. */
int agent_handshake(struct vchan *ctrl, uint32_t *ret_version);
int agent_serve(struct vchan *ctrl, uint32_t version);
