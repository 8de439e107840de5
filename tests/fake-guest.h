/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A scripted guest for busd's tests: the agent side of a domain's control
 * channel (vchan server on port 512, socket backend, as the domain sees it),
 * speaking qrexec with the real codec.  Every wait has a deadline.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "qrexec.h"

struct fake_guest;

/* Publish domain domid's control channel in vchan_dir (rings as small as Qubes' agent's). */
struct fake_guest *fake_guest_listen(const char *vchan_dir, uint32_t domid);
void fake_guest_free(struct fake_guest *g);
/* Has busd connected within timeout_ms? */
bool fake_guest_wait_connected(struct fake_guest *g, int timeout_ms);
/* Write all n bytes within timeout_ms: 0, -ETIMEDOUT, or an error once busd closed the channel. */
int fake_guest_write(struct fake_guest *g, const void *buf, size_t n, int timeout_ms);
/* Next message (payload up to max bytes): 0, -ETIMEDOUT, -ECONNRESET (channel closed), -EMSGSIZE. */
int fake_guest_recv(struct fake_guest *g, int timeout_ms, struct qrexec_hdr *hdr, uint8_t *payload, size_t max);
/* Send HELLO{version} and return the version of busd's HELLO (or < 0). */
int fake_guest_handshake(struct fake_guest *g, uint32_t version);
/* Did busd close the channel within timeout_ms (discarding what it sent before)? */
bool fake_guest_wait_closed(struct fake_guest *g, int timeout_ms);

/* Encode and write a TRIGGER_SERVICE3/4 (source NULL: 3). */
void fake_guest_trigger(struct fake_guest *g, const char *source, const char *target, const char *ident,
                        const char *service);

/* Non-blocking use, for a test that drives several channels from one poll
 * loop: poll fake_guest_fd() for POLLIN, then call fake_guest_dispatch(). */
int fake_guest_fd(struct fake_guest *g);
int fake_guest_dispatch(struct fake_guest *g);
/* Write what the channel takes now: bytes written (0 when it is full), or < 0 once busd closed it. */
ssize_t fake_guest_write_some(struct fake_guest *g, const void *buf, size_t n);
/* The next message if its header is there (the rest as fake_guest_recv(), within 2 s);
 * -EAGAIN when none has arrived, -ECONNRESET once the channel is closed and drained. */
int fake_guest_try_recv(struct fake_guest *g, struct qrexec_hdr *hdr, uint8_t *payload, size_t max);
