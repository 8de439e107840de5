/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * qrexec-policyd's link to busd: connect as the qrexec-policyd role, hand
 * each message to the part that owns it, and async requests that their
 * owner may cancel.  Losing busd ends the daemon (its service restarts it):
 * every call in progress depended on it.
 */
#include <stdlib.h>

#include "log.h"
#include "policyd.h"

struct bus_op {
        struct policyd *policyd;
        bus_op_cb_t cb;                 /* NULL once cancelled */
        void *userdata;
};

static int bus_link_on_message(struct bus_client *c, const struct bus_message *msg, void *userdata) {
        struct policyd *p = userdata;

        switch (msg->hdr.type) {
        case BUS_MSG_QREXEC_TRIGGER:
                request_on_trigger(p, msg);
                break;
        case BUS_MSG_QREXEC_TERMINATED:
                request_on_terminated(p, &msg->u.qrexec_terminated);
                break;
        case BUS_MSG_DOMAIN_CHANNEL_DOWN:
                request_on_channel_down(p, msg->u.domain_channel_down.domid);
                break;
        case BUS_MSG_DOMAIN_CHANNEL_UP:
                break;          /* qubesd's DOMAIN_INFO says Running when it matters */
        case BUS_MSG_DOMAIN_INFO:
                system_info_on_domain_info(p, &msg->u.domain_info);
                break;
        case BUS_MSG_DOMAIN_INFO_REMOVED:
                system_info_on_domain_removed(p, msg->u.domain_info_removed.name);
                break;
        case BUS_MSG_SYSTEM_INFO_DONE:
                system_info_on_done(p, msg->u.system_info_done.domains);
                break;
        case BUS_MSG_ERROR:
                if (msg->u.error.failed_type == BUS_MSG_SYSTEM_INFO_SUBSCRIBE)
                        system_info_on_subscribe_error(p, msg->u.error.error);
                else if (msg->u.error.failed_type != BUS_MSG_POLICY_STATUS)
                        log_debug("busd: ERROR %d for %s: %s", msg->u.error.error,
                                  bus_type_to_string(msg->u.error.failed_type) ?: "?", msg->u.error.text);
                break;
        default:
                log_debug("Ignoring %s from peer 0x%x", bus_type_to_string(msg->hdr.type) ?: "?", msg->hdr.peer);
                break;
        }
        return 0;
}

static void bus_link_on_disconnect(struct bus_client *c, int error, void *userdata) {
        struct policyd *p = userdata;

        log_error_errno(error, "Lost the connection to busd; exiting so that the service manager restarts us");
        (void) sd_event_exit(p->event, error < 0 ? error : -ECONNRESET);
}

int bus_link_connect(struct policyd *p, uint64_t timeout_usec) {
        uint64_t deadline = now_usec() + timeout_usec;
        int r;

        /* busd may be starting at the same moment. */
        for (;;) {
                r = bus_client_connect(p->bus_socket_path, BUS_CLIENT_TIMEOUT_DEFAULT, &p->bus);
                if (r >= 0 || now_usec() >= deadline || (r != -ENOENT && r != -ECONNREFUSED))
                        break;
                (void) usleep(50 * 1000);
        }
        if (r < 0)
                return log_error_errno(r, "Cannot connect to busd at %s", p->bus_socket_path);
        if (bus_client_role(p->bus) != BUS_ROLE_POLICYD) {
                log_error("busd took this process for role %s, not qrexec-policyd: wrong uid?",
                          bus_role_to_string(bus_client_role(p->bus)));
                bus_link_close(p);
                return -EPERM;
        }
        r = bus_client_attach_event(p->bus, p->event, bus_link_on_message, bus_link_on_disconnect, p);
        if (r < 0)
                return log_error_errno(r, "Cannot watch the connection to busd");
        log_info("Connected to busd at %s", p->bus_socket_path);
        return 0;
}

void bus_link_close(struct policyd *p) {
        bus_client_free(p->bus);
        p->bus = NULL;
}

static void bus_op_on_reply(struct bus_client *c, int error, const struct bus_message *reply, void *userdata) {
        struct bus_op *op = userdata;

        if (op->cb)
                op->cb(op->policyd, error, reply, op->userdata);
        free(op);
}

int bus_link_call(struct policyd *p, uint16_t type, uint32_t to, const void *payload, uint64_t timeout_usec,
                  bus_op_cb_t cb, void *userdata, struct bus_op **ret) {
        struct bus_op *op;
        int r;

        if (!p->bus)
                return -ENOTCONN;
        op = calloc(1, sizeof(*op));
        if (!op)
                return -ENOMEM;
        *op = (struct bus_op) { .policyd = p, .cb = cb, .userdata = userdata };
        r = bus_client_call_async(p->bus, type, to, payload, timeout_usec, bus_op_on_reply, op, NULL);
        if (r < 0) {
                free(op);
                return r;
        }
        if (ret)
                *ret = op;
        return 0;
}

void bus_op_cancel(struct bus_op *op) {
        if (op)
                op->cb = NULL;
}
