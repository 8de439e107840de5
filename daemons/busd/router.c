/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The route table in force: every datagram from a daemon is decoded
 * strictly, checked against the catalogue's senders and receivers, then
 * forwarded with busd's stamp of who sent it, handed to a guest channel, or
 * answered by busd itself.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "busd.h"
#include "log.h"

/* Offset of the `peer` field in the wire header (bus.h). */
#define BUS_HDR_PEER_OFFSET 12

int busd_send(struct busd *b, enum bus_role to, uint16_t type, uint32_t request_id, uint32_t from_peer,
              const void *payload) {
        struct bus_hdr hdr = { .type = type, .request_id = request_id, .peer = from_peer };
        struct peer *p = to >= 0 && to < _BUS_ROLE_MAX ? b->peers[to] : NULL;
        int n;

        if (!p)
                return -EHOSTUNREACH;
        n = bus_encode(&hdr, payload, b->tx, BUS_MSG_MAX);
        if (n < 0)
                return log_error_errno(n, "Cannot encode %s for %s", bus_type_to_string(type), peer_name(p));
        return peer_send(p, b->tx, (size_t) n);
}

void busd_send_error(struct busd *b, struct peer *to, uint32_t request_id, uint16_t failed_type, int error,
                     const char *fmt, ...) {
        struct bus_msg_error e = { .error = -abs(error), .failed_type = failed_type };
        va_list ap;

        va_start(ap, fmt);
        (void) vsnprintf(e.text, sizeof(e.text), fmt, ap);
        va_end(ap);
        log_debug("ERROR %d to %s for %s: %s", e.error, peer_name(to), bus_type_to_string(failed_type), e.text);
        (void) busd_send(b, to->role, BUS_MSG_ERROR, request_id, BUS_PEER_BUSD, &e);
}

static int router_domain_channel_open(struct peer *from, const struct bus_message *m) {
        const struct bus_msg_domain_channel_open *req = &m->u.domain_channel_open;
        int r;

        r = guest_open(from->busd, req);
        if (r < 0)
                busd_send_error(from->busd, from, m->hdr.request_id, m->hdr.type, r,
                                "cannot open the control channel of domain %u", req->domid);
        return 0;
}

static int router_domain_channel_close(struct peer *from, const struct bus_message *m) {
        uint32_t domid = m->u.domain_channel_close.domid;
        struct guest *g = guest_find(from->busd, domid);

        if (!g) {
                busd_send_error(from->busd, from, m->hdr.request_id, m->hdr.type, -ENOENT,
                                "domain %u has no open control channel", domid);
                return 0;
        }
        guest_close(g, 0, "closed on request");
        return 0;
}

/* A message addressed to busd itself. */
static int router_handle_local(struct peer *from, const struct bus_message *m) {
        switch (m->hdr.type) {
        case BUS_MSG_PING: {
                struct bus_msg_pong pong = { .token = m->u.ping.token };

                (void) busd_send(from->busd, from->role, BUS_MSG_PONG, m->hdr.request_id, BUS_PEER_BUSD, &pong);
                return 0;
        }
        case BUS_MSG_DOMAIN_CHANNEL_OPEN:
                return router_domain_channel_open(from, m);
        case BUS_MSG_DOMAIN_CHANNEL_CLOSE:
                return router_domain_channel_close(from, m);
        case BUS_MSG_QREXEC_CONNECT: {
                int r = broker_connect(from, m->hdr.request_id, &m->u.qrexec_connect);

                if (r < 0)
                        busd_send_error(from->busd, from, m->hdr.request_id, m->hdr.type, r,
                                        "cannot broker the call");
                return 0;
        }
        default:
                /* The catalogue routes a type to busd that busd does not serve. */
                peer_drop(from, "a message busd does not serve", -EBADMSG);
                return 0;
        }
}

static void router_to_guest(struct peer *from, const struct bus_message *m, uint32_t to) {
        struct busd *b = from->busd;
        uint32_t domid = bus_peer_domid(to);
        struct guest *g = guest_find(b, domid);
        int r;

        if (!g || g->state != GUEST_UP) {
                busd_send_error(b, from, m->hdr.request_id, m->hdr.type, -EHOSTUNREACH,
                                "domain %u has no control channel up", domid);
                return;
        }
        r = guest_send_from_bus(g, from, m);
        if (r < 0)
                busd_send_error(b, from, m->hdr.request_id, m->hdr.type, r,
                                "cannot deliver to domain %u", domid);
}

int router_handle(struct peer *from, size_t size) {
        struct busd *b = from->busd;
        struct bus_message *m = b->msg;
        enum bus_role to_role;
        struct peer *dest;
        uint32_t to;
        int r;

        r = bus_decode(b->untrusted_rx, size, m);
        if (r == -ENOMSG) {
                log_warning("%s sent unknown message type 0x%04x", peer_name(from), m->hdr.type);
                peer_drop(from, "unknown message type", r);
                return 0;
        }
        if (r < 0) {
                log_warning("%s sent a malformed datagram (%zu bytes, type 0x%04x)", peer_name(from), size,
                            size >= 2 ? le16_load(b->untrusted_rx) : 0);
                peer_drop(from, "malformed message", r);
                return 0;
        }

        if (!(bus_route_senders(m->hdr.type) & (1u << from->role))) {
                log_warning("%s may not send %s", peer_name(from), bus_type_to_string(m->hdr.type));
                peer_drop(from, "forbidden message type", -EPERM);
                return 0;
        }

        to = m->hdr.peer;
        to_role = to == BUS_PEER_NONE ? bus_route_default_receiver(m->hdr.type) : bus_peer_role(to);
        if (to_role == _BUS_ROLE_INVALID) {
                log_warning("%s sent %s to invalid destination 0x%x", peer_name(from),
                            bus_type_to_string(m->hdr.type), to);
                peer_drop(from, "invalid destination", -EBADMSG);
                return 0;
        }
        if (!bus_route_allowed(m->hdr.type, from->role, to_role)) {
                log_warning("%s may not send %s to %s", peer_name(from), bus_type_to_string(m->hdr.type),
                            bus_role_to_string(to_role));
                peer_drop(from, "forbidden direction", -EPERM);
                return 0;
        }

        if (to_role == BUS_ROLE_BUSD)
                return router_handle_local(from, m);
        if (to_role == BUS_ROLE_GUEST) {
                if (to == BUS_PEER_NONE) {
                        peer_drop(from, "a message for a guest names no domain", -EBADMSG);
                        return 0;
                }
                router_to_guest(from, m, to);
                return 0;
        }

        dest = b->peers[to_role];
        if (!dest) {
                busd_send_error(b, from, m->hdr.request_id, m->hdr.type, -EHOSTUNREACH,
                                "%s is not connected", bus_role_to_string(to_role));
                return 0;
        }
        /* Forward the datagram as received, with busd's word for who sent it. */
        le32_store(b->untrusted_rx + BUS_HDR_PEER_OFFSET, from->id);
        r = peer_send(dest, b->untrusted_rx, size);
        if (r == -ENOBUFS)
                busd_send_error(b, from, m->hdr.request_id, m->hdr.type, r,
                                "the queue of %s is full", bus_role_to_string(to_role));
        else if (r < 0)
                busd_send_error(b, from, m->hdr.request_id, m->hdr.type, -EHOSTUNREACH,
                                "%s went away", bus_role_to_string(to_role));
        return 0;
}
