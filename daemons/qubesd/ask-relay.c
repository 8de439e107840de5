/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The ask relay: qrexec-policyd's `ask` questions go to the one ask agent
 * registered on the Admin API (RegisterAskAgent: the registering connection
 * serves org.qubes.AskAgent1 at the path it gave) and its answer goes back as
 * ASK_REPLY.  The call to the agent is asynchronous (at most ASK_TIMEOUT), so
 * a slow or silent user never blocks qubesd.  The agent is dropped when its
 * connection goes away; its pending questions are then refused.
 */
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "qubesd.h"

#define ASK_AGENT_INTERFACE "org.qubes.AskAgent1"
#define ASK_TIMEOUT_USEC (60 * UINT64_C(1000000))

struct ask_agent {
        sd_bus *bus;            /* the registering connection (a client's, or the system bus) */
        char *sender;           /* its unique name on the system bus; NULL peer to peer */
        char *path;
        uid_t uid;
};

struct ask_call {
        struct qubesd *q;
        sd_bus_slot *slot;
        uint32_t request_id;
        uint32_t peer;
        char *targets;          /* the list policyd allowed: the answer must be one of them */
        struct ask_call *next;
};

static void ask_reply(struct qubesd *q, uint32_t peer, uint32_t request_id, int error, const char *target) {
        struct bus_msg_ask_reply reply = { .error = error };

        snprintf(reply.target, sizeof(reply.target), "%s", error == 0 ? target : "");
        if (q->bus)
                (void) bus_client_send(q->bus, BUS_MSG_ASK_REPLY, peer, request_id, &reply);
}

static void ask_call_free(struct ask_call *call) {
        if (!call)
                return;
        sd_bus_slot_unref(call->slot);
        free(call->targets);
        free(call);
}

static void ask_call_unlink(struct qubesd *q, struct ask_call *call) {
        for (struct ask_call **p = &q->ask_calls; *p; p = &(*p)->next)
                if (*p == call) {
                        *p = call->next;
                        return;
                }
}

static bool target_listed(const char *targets, const char *target) {
        size_t n = strlen(target);

        for (const char *p = targets; *p;) {
                size_t len = strcspn(p, " ");
                if (len == n && strncmp(p, target, n) == 0)
                        return true;
                p += len;
                p += strspn(p, " ");
        }
        return false;
}

static int on_agent_answer(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        struct ask_call *call = userdata;
        struct qubesd *q = call->q;
        const sd_bus_error *e = sd_bus_message_get_error(m);
        const char *untrusted_target = NULL;
        int error = -EACCES;

        if (e) {
                if (sd_bus_error_has_name(e, SD_BUS_ERROR_NO_REPLY) || sd_bus_error_has_name(e, SD_BUS_ERROR_TIMEOUT))
                        error = -ETIMEDOUT;
                log_info("Ask agent: no answer (%s: %s), refusing", e->name, e->message ?: "");
        } else if (sd_bus_message_read(m, "s", &untrusted_target) < 0 || !untrusted_target[0]) {
                log_info("Ask agent: the user refused");
        } else if (!target_listed(call->targets, untrusted_target)) {
                log_warning("Ask agent answered '%.64s', which is not one of the targets offered: refusing",
                            untrusted_target);
        } else
                error = 0;
        ask_reply(q, call->peer, call->request_id, error, untrusted_target);
        ask_call_unlink(q, call);
        ask_call_free(call);
        return 0;
}

void ask_relay_on_request(struct qubesd *q, const struct bus_message *msg) {
        const struct bus_msg_ask_request *untrusted = &msg->u.ask_request;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *call_msg = NULL;
        struct ask_agent *agent = q->ask_agent;
        struct ask_call *call;
        int r;

        if (!agent) {
                log_notice("No ask agent registered: refusing the ask for %s from %s", untrusted->service,
                           untrusted->source);
                ask_reply(q, msg->hdr.peer, msg->hdr.request_id, -EHOSTDOWN, NULL);
                return;
        }
        call = calloc(1, sizeof(*call));
        if (!call || !(call->targets = strdup(untrusted->targets))) {
                free(call);
                ask_reply(q, msg->hdr.peer, msg->hdr.request_id, -ENOMEM, NULL);
                return;
        }
        call->q = q;
        call->peer = msg->hdr.peer;
        call->request_id = msg->hdr.request_id;

        r = sd_bus_message_new_method_call(agent->bus, &call_msg, agent->sender, agent->path, ASK_AGENT_INTERFACE,
                                           "Ask");
        if (r >= 0)
                r = sd_bus_message_append(call_msg, "ss", untrusted->source, untrusted->service);
        if (r >= 0)
                r = sd_bus_message_open_container(call_msg, 'a', "s");
        for (const char *p = untrusted->targets; r >= 0 && *p;) {
                size_t len = strcspn(p, " ");
                if (len > 0) {
                        _cleanup_free_ char *one = strndup(p, len);
                        r = one ? sd_bus_message_append_basic(call_msg, 's', one) : -ENOMEM;
                }
                p += len;
                p += strspn(p, " ");
        }
        if (r >= 0)
                r = sd_bus_message_close_container(call_msg);
        if (r >= 0)
                r = sd_bus_message_append(call_msg, "s", untrusted->default_target);
        if (r >= 0)
                r = sd_bus_call_async(agent->bus, &call->slot, call_msg, on_agent_answer, call, ASK_TIMEOUT_USEC);
        if (r < 0) {
                log_warning_errno(r, "Cannot ask the ask agent");
                ask_reply(q, msg->hdr.peer, msg->hdr.request_id, -EACCES, NULL);
                ask_call_free(call);
                return;
        }
        call->next = q->ask_calls;
        q->ask_calls = call;
}

static void agent_free(struct ask_agent *agent) {
        if (!agent)
                return;
        sd_bus_unref(agent->bus);
        free(agent->sender);
        free(agent->path);
        free(agent);
}

/* Questions still at the agent are refused: it went away or was replaced. */
static void refuse_pending(struct qubesd *q) {
        while (q->ask_calls) {
                struct ask_call *call = q->ask_calls;
                q->ask_calls = call->next;
                ask_reply(q, call->peer, call->request_id, -EACCES, NULL);
                ask_call_free(call);
        }
}

void ask_relay_bus_gone(struct qubesd *q, sd_bus *bus) {
        if (!q->ask_agent || q->ask_agent->bus != bus)
                return;
        log_info("The ask agent (uid %u) went away", (unsigned) q->ask_agent->uid);
        refuse_pending(q);
        agent_free(q->ask_agent);
        q->ask_agent = NULL;
}

void ask_relay_free(struct qubesd *q) {
        refuse_pending(q);
        agent_free(q->ask_agent);
        q->ask_agent = NULL;
}

static bool same_agent(const struct ask_agent *agent, sd_bus *bus, const char *sender) {
        return agent->bus == bus && ((!agent->sender && !sender) ||
                                     (agent->sender && sender && strcmp(agent->sender, sender) == 0));
}

int admin_method_register_ask_agent(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        struct qubesd *q = userdata;
        sd_bus *bus = sd_bus_message_get_bus(m);
        const char *sender = bus == q->system_bus ? sd_bus_message_get_sender(m) : NULL;
        _cleanup_(sd_bus_creds_unrefp) sd_bus_creds *creds = NULL;
        const char *untrusted_path;
        struct ask_agent *agent;
        uid_t uid = (uid_t) -1;         /* unknown */
        int r;

        r = sd_bus_message_read(m, "o", &untrusted_path);
        if (r < 0)
                return r;
        if (q->ask_agent && !same_agent(q->ask_agent, bus, sender))
                return admin_errorf(error, ADMIN_ERROR_IN_USE, "Another ask agent is registered (uid %u)",
                                    (unsigned) q->ask_agent->uid);
        if (sd_bus_query_sender_creds(m, SD_BUS_CREDS_EUID, &creds) >= 0)
                (void) sd_bus_creds_get_euid(creds, &uid);
        agent = calloc(1, sizeof(*agent));
        if (!agent)
                return -ENOMEM;
        *agent = (struct ask_agent) { .bus = sd_bus_ref(bus), .uid = uid };
        agent->path = strdup(untrusted_path);
        if (!agent->path || (sender && !(agent->sender = strdup(sender)))) {
                agent_free(agent);
                return -ENOMEM;
        }
        agent_free(q->ask_agent);
        q->ask_agent = agent;
        log_info("Ask agent registered at %s (uid %u)", agent->path, (unsigned) uid);
        return sd_bus_reply_method_return(m, NULL);
}

int admin_method_unregister_ask_agent(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        struct qubesd *q = userdata;
        sd_bus *bus = sd_bus_message_get_bus(m);
        const char *sender = bus == q->system_bus ? sd_bus_message_get_sender(m) : NULL;

        if (!q->ask_agent || !same_agent(q->ask_agent, bus, sender))
                return admin_errorf(error, ADMIN_ERROR_INVALID_VALUE, "This connection has no ask agent registered");
        refuse_pending(q);
        agent_free(q->ask_agent);
        q->ask_agent = NULL;
        log_info("Ask agent unregistered");
        return sd_bus_reply_method_return(m, NULL);
}
