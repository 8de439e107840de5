/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Translation between a guest's qrexec control messages and bus messages.
 * Whatever a guest sends becomes a bus message from BUS_PEER_GUEST(domid of
 * the channel): the source is the channel, never a field the guest filled.
 */
#include <errno.h>
#include <string.h>

#include "busd.h"
#include "log.h"

/* guest_handle_trigger() strcpy()s the decoded trigger's strings into the bus message. */
#define TRIGGER_FIELD_FITS(f) \
        (sizeof(((struct qrexec_trigger *) 0)->f) <= sizeof(((struct bus_msg_qrexec_trigger *) 0)->f))
_Static_assert(TRIGGER_FIELD_FITS(source_domain), "source_domain does not fit the bus message");
_Static_assert(TRIGGER_FIELD_FITS(target_domain), "target_domain does not fit the bus message");
_Static_assert(TRIGGER_FIELD_FITS(ident), "ident does not fit the bus message");
_Static_assert(TRIGGER_FIELD_FITS(service), "service does not fit the bus message");

void guest_notify_down(struct busd *b, uint32_t domid, int reason) {
        struct bus_msg_domain_channel_down down = { .domid = domid, .reason = reason };

        (void) busd_send(b, BUS_ROLE_QUBESD, BUS_MSG_DOMAIN_CHANNEL_DOWN, 0, BUS_PEER_BUSD, &down);
        (void) busd_send(b, BUS_ROLE_POLICYD, BUS_MSG_DOMAIN_CHANNEL_DOWN, 0, BUS_PEER_BUSD, &down);
}

void guest_notify_up(struct guest *g) {
        struct bus_msg_domain_channel_up up = { .domid = g->domid, .qrexec_version = g->version };

        (void) busd_send(g->busd, BUS_ROLE_QUBESD, BUS_MSG_DOMAIN_CHANNEL_UP, 0, BUS_PEER_BUSD, &up);
        (void) busd_send(g->busd, BUS_ROLE_POLICYD, BUS_MSG_DOMAIN_CHANNEL_UP, 0, BUS_PEER_BUSD, &up);
}

int guest_send_refused(struct guest *g, const char *ident) {
        int n = qrexec_encode_service_refused(g->busd->guest_tx, BUSD_GUEST_TX_MAX, ident);

        if (n < 0)
                return n;
        return guest_write(g, g->busd->guest_tx, (size_t) n);
}

/* Reference §2.5: the agent speaks first; we answer with the version both use. */
static int guest_handle_hello(struct guest *g, const struct qrexec_hdr *hdr, const uint8_t *untrusted_payload) {
        uint32_t untrusted_version;
        int version, n, r;

        r = qrexec_decode_hello(untrusted_payload, hdr->len, &untrusted_version);
        if (r < 0)
                return r;
        version = qrexec_negotiate(QREXEC_PROTOCOL_VERSION, untrusted_version);
        if (version < 0) {
                log_warning("Domain %u speaks qrexec protocol %u, older than %u",
                            g->domid, untrusted_version, QREXEC_PROTOCOL_MIN);
                return version;
        }

        n = qrexec_encode_hello(g->busd->guest_tx, BUSD_GUEST_TX_MAX, (uint32_t) version);
        if (n < 0)
                return n;
        r = guest_write(g, g->busd->guest_tx, (size_t) n);
        if (r < 0)
                return r;

        g->version = (uint32_t) version;
        g->state = GUEST_UP;
        g->connect_timer = sd_event_source_disable_unref(g->connect_timer);
        log_info("Control channel of domain %u (%s) up, qrexec protocol %d", g->domid, g->name, version);
        guest_notify_up(g);
        return 0;
}

static uint8_t trigger_protocol(uint32_t type) {
        switch (type) {
        case QREXEC_MSG_TRIGGER_SERVICE3:
                return 3;
        case QREXEC_MSG_TRIGGER_SERVICE4:
                return 4;
        default:
                return 2;
        }
}

static int guest_handle_trigger(struct guest *g, const struct qrexec_hdr *hdr, const uint8_t *untrusted_payload) {
        struct busd *b = g->busd;
        struct qrexec_trigger *t = b->trigger;
        struct bus_msg_qrexec_trigger *req = &b->msg->u.qrexec_trigger;
        int r;

        r = qrexec_decode_trigger(hdr, untrusted_payload, g->version, t);
        if (r < 0)
                return r;
        if (t->refuse) {
                log_notice("Refusing a service call from domain %u: invalid ident or service name", g->domid);
                return guest_send_refused(g, t->ident);
        }

        /* Built in busd's scratch message: a trigger's service name is up to 64 KiB. */
        req->source_domid = g->domid;
        req->protocol = trigger_protocol(t->type);
        strcpy(req->source_domain, t->source_domain);
        strcpy(req->target_domain, t->target_domain);
        strcpy(req->ident, t->ident);
        strcpy(req->service, t->service);

        r = busd_send(b, BUS_ROLE_POLICYD, BUS_MSG_QREXEC_TRIGGER, 0, BUS_PEER_GUEST(g->domid), req);
        if (r < 0) {
                /* No policy daemon to ask (or it is swamped): the answer is no. */
                log_full_errno(LOG_NOTICE, r, "Refusing %.128s from domain %u: qrexec-policyd cannot take it",
                                 t->service, g->domid);
                return guest_send_refused(g, t->ident);
        }
        return 0;
}

static int guest_handle_terminated(struct guest *g, const struct qrexec_hdr *hdr, const uint8_t *untrusted_payload) {
        struct bus_msg_qrexec_terminated term = { .source_domid = g->domid };
        int r;

        r = qrexec_decode_connection_terminated(untrusted_payload, hdr->len, &term.connect_domain,
                                                &term.connect_port);
        if (r < 0)
                return r;
        broker_on_terminated(g->busd, g->domid, term.connect_domain, term.connect_port);
        (void) busd_send(g->busd, BUS_ROLE_QUBESD, BUS_MSG_QREXEC_TERMINATED, 0, BUS_PEER_GUEST(g->domid), &term);
        (void) busd_send(g->busd, BUS_ROLE_POLICYD, BUS_MSG_QREXEC_TERMINATED, 0, BUS_PEER_GUEST(g->domid), &term);
        return 0;
}

int guest_handle_message(struct guest *g, const struct qrexec_hdr *hdr, const uint8_t *untrusted_payload) {
        if (g->state != GUEST_UP)
                return hdr->type == QREXEC_MSG_HELLO ? guest_handle_hello(g, hdr, untrusted_payload) : -EBADMSG;

        switch (hdr->type) {
        case QREXEC_MSG_TRIGGER_SERVICE:
        case QREXEC_MSG_TRIGGER_SERVICE3:
        case QREXEC_MSG_TRIGGER_SERVICE4:
                return guest_handle_trigger(g, hdr, untrusted_payload);
        case QREXEC_MSG_CONNECTION_TERMINATED:
                return guest_handle_terminated(g, hdr, untrusted_payload);
        default:
                return -EBADMSG;
        }
}

int guest_send_from_bus(struct guest *g, struct peer *from, const struct bus_message *msg) {
        struct busd *b = g->busd;
        int n;

        switch (msg->hdr.type) {
        case BUS_MSG_QREXEC_EXEC: {
                const struct bus_msg_qrexec_exec *e = &msg->u.qrexec_exec;

                n = qrexec_encode_exec(b->guest_tx, BUSD_GUEST_TX_MAX,
                                       e->just_exec ? QREXEC_MSG_JUST_EXEC : QREXEC_MSG_EXEC_CMDLINE,
                                       e->connect_domain, e->connect_port, e->cmdline);
                break;
        }
        case BUS_MSG_QREXEC_SERVICE_CONNECT: {
                const struct bus_msg_qrexec_service_connect *c = &msg->u.qrexec_service_connect;

                n = qrexec_encode_service_connect(b->guest_tx, BUSD_GUEST_TX_MAX, c->connect_domain,
                                                  c->connect_port, c->ident);
                break;
        }
        case BUS_MSG_QREXEC_SERVICE_REFUSED:
                n = qrexec_encode_service_refused(b->guest_tx, BUSD_GUEST_TX_MAX,
                                                  msg->u.qrexec_service_refused.ident);
                break;
        default:
                return -EBADMSG;
        }
        if (n < 0)
                return n;
        return guest_write(g, b->guest_tx, (size_t) n);
}
