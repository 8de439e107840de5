/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A scripted guest agent for busd's tests: see fake-guest.h. */
#include <check.h>
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "fake-guest.h"
#include "util.h"
#include "vchan.h"

#define AGENT_RING_SIZE 4096    /* what Qubes' qrexec-agent asks for */

struct fake_guest {
        struct vchan *vchan;
        uint32_t domid;
};

struct fake_guest *fake_guest_listen(const char *vchan_dir, uint32_t domid) {
        struct vchan_endpoint ep = {
                .backend = VCHAN_SOCKET,
                .local_domid = (int) domid,
                .remote_domid = 0,
                .port = QREXEC_VCHAN_BASE_PORT,
                .socket_dir = vchan_dir,
        };
        struct fake_guest *g = calloc(1, sizeof(*g));

        ck_assert_ptr_nonnull(g);
        g->domid = domid;
        ck_assert_int_eq(vchan_server_init(&ep, AGENT_RING_SIZE, AGENT_RING_SIZE, &g->vchan), 0);
        vchan_set_blocking(g->vchan, false);
        return g;
}

void fake_guest_free(struct fake_guest *g) {
        if (!g)
                return;
        vchan_close(g->vchan);
        free(g);
}

static uint64_t deadline_of(int timeout_ms) {
        return now_usec() + (uint64_t) timeout_ms * 1000;
}

/* Wait for the vchan's fd (at most until deadline) and process its events. */
static int pump(struct fake_guest *g, uint64_t deadline) {
        struct pollfd pfd = { .fd = vchan_fd_for_select(g->vchan), .events = POLLIN };
        uint64_t now = now_usec();
        int ms = now >= deadline ? 0 : (int) ((deadline - now) / 1000) + 1;

        if (ms > 50)
                ms = 50;
        (void) poll(&pfd, 1, ms);
        return vchan_wait(g->vchan);
}

bool fake_guest_wait_connected(struct fake_guest *g, int timeout_ms) {
        uint64_t deadline = deadline_of(timeout_ms);

        while (vchan_is_open(g->vchan) != VCHAN_CONNECTED) {
                if (now_usec() >= deadline || pump(g, deadline) < 0)
                        return false;
        }
        return true;
}

int fake_guest_write(struct fake_guest *g, const void *buf, size_t n, int timeout_ms) {
        uint64_t deadline = deadline_of(timeout_ms);
        const uint8_t *p = buf;

        while (n > 0) {
                ssize_t k = vchan_write(g->vchan, p, n);

                if (k < 0)
                        return (int) k;
                p += k;
                n -= (size_t) k;
                if (n == 0)
                        break;
                if (now_usec() >= deadline)
                        return -ETIMEDOUT;
                int r = pump(g, deadline);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Exactly n bytes: 0, -ETIMEDOUT, -ECONNRESET. */
static int read_exact(struct fake_guest *g, uint8_t *buf, size_t n, uint64_t deadline) {
        while (n > 0) {
                ssize_t k = vchan_read(g->vchan, buf, n);

                if (k < 0)
                        return (int) k;
                if (k > 0) {
                        buf += k;
                        n -= (size_t) k;
                        continue;
                }
                if (vchan_is_open(g->vchan) == VCHAN_DISCONNECTED)
                        return -ECONNRESET;
                if (now_usec() >= deadline)
                        return -ETIMEDOUT;
                int r = pump(g, deadline);
                if (r < 0)
                        return r;
        }
        return 0;
}

int fake_guest_recv(struct fake_guest *g, int timeout_ms, struct qrexec_hdr *hdr, uint8_t *payload, size_t max) {
        uint64_t deadline = deadline_of(timeout_ms);
        uint8_t raw[QREXEC_HEADER_SIZE];
        int r;

        r = read_exact(g, raw, sizeof(raw), deadline);
        if (r < 0)
                return r;
        qrexec_decode_header(raw, hdr);
        if (hdr->len > max)
                return -EMSGSIZE;
        /* A message busd started is finished promptly. */
        return read_exact(g, payload, hdr->len, deadline_of(timeout_ms > 2000 ? timeout_ms : 2000));
}

int fake_guest_handshake(struct fake_guest *g, uint32_t version) {
        uint8_t buf[QREXEC_HEADER_SIZE + 4];
        struct qrexec_hdr hdr;
        uint32_t theirs;
        int n, r;

        n = qrexec_encode_hello(buf, sizeof(buf), version);
        ck_assert_int_eq(n, (int) sizeof(buf));
        ck_assert_int_eq(fake_guest_write(g, buf, (size_t) n, 2000), 0);
        r = fake_guest_recv(g, 3000, &hdr, buf, sizeof(buf));
        if (r < 0)
                return r;
        if (hdr.type != QREXEC_MSG_HELLO)
                return -EBADMSG;
        r = qrexec_decode_hello(buf, hdr.len, &theirs);
        return r < 0 ? r : (int) theirs;
}

bool fake_guest_wait_closed(struct fake_guest *g, int timeout_ms) {
        uint64_t deadline = deadline_of(timeout_ms);
        uint8_t buf[4096];

        for (;;) {
                while (vchan_read(g->vchan, buf, sizeof(buf)) > 0)
                        ;
                if (vchan_is_open(g->vchan) == VCHAN_DISCONNECTED)
                        return true;
                if (now_usec() >= deadline || pump(g, deadline) < 0)
                        return vchan_is_open(g->vchan) == VCHAN_DISCONNECTED;
        }
}

void fake_guest_trigger(struct fake_guest *g, const char *source, const char *target, const char *ident,
                        const char *service) {
        static uint8_t buf[QREXEC_HEADER_SIZE + 160 + QREXEC_MAX_SERVICE_NAME_LEN];
        int n = source ? qrexec_encode_trigger4(buf, sizeof(buf), source, target, ident, service)
                       : qrexec_encode_trigger3(buf, sizeof(buf), target, ident, service);

        ck_assert_int_gt(n, 0);
        ck_assert_int_eq(fake_guest_write(g, buf, (size_t) n, 3000), 0);
}

int fake_guest_fd(struct fake_guest *g) {
        return vchan_fd_for_select(g->vchan);
}

int fake_guest_dispatch(struct fake_guest *g) {
        return vchan_wait(g->vchan);
}

ssize_t fake_guest_write_some(struct fake_guest *g, const void *buf, size_t n) {
        return vchan_write(g->vchan, buf, n);
}

int fake_guest_try_recv(struct fake_guest *g, struct qrexec_hdr *hdr, uint8_t *payload, size_t max) {
        if (vchan_data_ready(g->vchan) >= QREXEC_HEADER_SIZE)
                return fake_guest_recv(g, 2000, hdr, payload, max);
        return vchan_is_open(g->vchan) == VCHAN_DISCONNECTED ? -ECONNRESET : -EAGAIN;
}
