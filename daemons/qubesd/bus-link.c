/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * qubesd's link to busd: it asks busd to open and close each running
 * domain's control channel and learns from busd when a domain's agent said
 * hello (DOMAIN_CHANNEL_UP) or its channel went away (DOWN); qrexec-policyd's
 * requests go to policy-link.c, the end of a Run's call to admin-run.c.
 */
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "qubesd.h"

static int bus_link_on_message(struct bus_client *c, const struct bus_message *msg, void *userdata) {
        struct qubesd *q = userdata;

        switch (msg->hdr.type) {
        case BUS_MSG_DOMAIN_CHANNEL_UP:
                if (msg->u.domain_channel_up.domid == 0)
                        admin_agent_on_channel_up(q);
                else
                        lifecycle_on_channel_up(q, msg->u.domain_channel_up.domid);
                break;
        case BUS_MSG_DOMAIN_CHANNEL_DOWN:
                if (msg->u.domain_channel_down.domid == 0) {
                        admin_agent_on_channel_down(q, msg->u.domain_channel_down.reason);
                        break;
                }
                admin_run_domain_gone(q, msg->u.domain_channel_down.domid);
                lifecycle_on_channel_down(q, msg->u.domain_channel_down.domid, msg->u.domain_channel_down.reason);
                break;
        case BUS_MSG_ERROR:
                /* OPEN, CLOSE and EXEC have no reply when they work; an ERROR names the
                 * request.  Pushes to a policyd that is not there (id 0) end here too. */
                if (admin_agent_on_bus_error(q, msg->hdr.request_id, msg->u.error.error))
                        break;
                if (!admin_run_on_bus_error(q, msg->hdr.request_id, msg->u.error.error, msg->u.error.text))
                        lifecycle_on_channel_error(q, msg->hdr.request_id, msg->u.error.error, msg->u.error.text);
                break;
        case BUS_MSG_QREXEC_TERMINATED:
                admin_run_on_terminated(q, msg);
                break;
        case BUS_MSG_SYSTEM_INFO_SUBSCRIBE:
        case BUS_MSG_POLICY_STATUS:
        case BUS_MSG_DOMAIN_START_REQUEST:
        case BUS_MSG_DISPVM_CREATE_REQUEST:
        case BUS_MSG_DOMAIN_KILL_REQUEST:
        case BUS_MSG_ASK_REQUEST:
                policy_link_on_message(q, msg);
                break;
        default:
                log_debug("Ignoring %s from busd", bus_type_to_string(msg->hdr.type));
                break;
        }
        return 0;
}

static void bus_link_on_disconnect(struct bus_client *c, int error, void *userdata) {
        struct qubesd *q = userdata;

        /* Domains keep running; their channels are busd's.  Without busd no new
         * domain can reach Running, so a restart of both is the way back. */
        log_error_errno(error, "Lost the connection to busd; starting domains will fail until qubesd restarts");
        bus_client_free(q->bus);
        q->bus = NULL;
}

int bus_link_connect(struct qubesd *q, uint64_t timeout_usec) {
        uint64_t deadline = now_usec() + timeout_usec;
        int r;

        /* busd may be starting at the same moment (both started by systemd). */
        for (;;) {
                r = bus_client_connect(q->bus_socket_path, BUS_CLIENT_TIMEOUT_DEFAULT, &q->bus);
                if (r >= 0 || now_usec() >= deadline || (r != -ENOENT && r != -ECONNREFUSED))
                        break;
                (void) usleep(50 * 1000);
        }
        if (r < 0)
                return log_error_errno(r, "Cannot connect to busd at %s", q->bus_socket_path);
        if (bus_client_role(q->bus) != BUS_ROLE_QUBESD) {
                log_error("busd took this process for role %s, not qubesd: wrong uid?",
                          bus_role_to_string(bus_client_role(q->bus)));
                bus_client_free(q->bus);
                q->bus = NULL;
                return -EPERM;
        }
        r = bus_client_attach_event(q->bus, q->event, bus_link_on_message, bus_link_on_disconnect, q);
        if (r < 0)
                return log_error_errno(r, "Cannot watch the connection to busd");
        log_info("Connected to busd at %s", q->bus_socket_path);
        return 0;
}

void bus_link_close(struct qubesd *q) {
        bus_client_free(q->bus);
        q->bus = NULL;
}

int bus_link_open_channel(struct qubesd *q, struct domain_run *run) {
        struct bus_msg_domain_channel_open open = { .domid = run->domain->qid };
        enum vchan_backend backend;
        char dir[sizeof(open.vchan_dir)];
        int r;

        if (!q->bus)
                return -ENOTCONN;
        r = run->ops->control_channel(run->backend, run->domain->name, &backend, dir, sizeof(dir));
        if (r < 0)
                return r;
        open.vchan_backend = (uint8_t) backend;
        snprintf(open.name, sizeof(open.name), "%s", run->domain->name);
        snprintf(open.vchan_dir, sizeof(open.vchan_dir), "%s", dir);
        run->open_request_id = bus_client_new_request_id(q->bus);
        r = bus_client_send(q->bus, BUS_MSG_DOMAIN_CHANNEL_OPEN, BUS_PEER_BUSD, run->open_request_id, &open);
        if (r < 0)
                run->open_request_id = 0;
        return r;
}

void bus_link_close_channel(struct qubesd *q, uint32_t domid) {
        struct bus_msg_domain_channel_close close = { .domid = domid };

        if (q->bus)
                (void) bus_client_send(q->bus, BUS_MSG_DOMAIN_CHANNEL_CLOSE, BUS_PEER_BUSD,
                                       bus_client_new_request_id(q->bus), &close);
}
