/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A domain's qrexec call, from QREXEC_TRIGGER to QREXEC_CONNECT: evaluate,
 * then refuse, or ask the user, start a halted target or create a
 * disposable, and have busd connect the two domains.  A call to a
 * disposable is remembered until it ends (QREXEC_TERMINATED of its port, or
 * a channel going down), then the disposable is killed and removed.
 *
 * Calls waiting for an answer are bounded per source domain and in all
 * (count and bytes): a domain flooding triggers gets refusals, never our
 * memory, and other domains' calls carry on.  Every wait is bounded in time
 * by its request's timeout.
 */
#include <stdio.h>
#include <stdlib.h>

#include "call-plan.h"
#include "line-request.h"
#include "log.h"
#include "policyd.h"

#define CALLS_PER_SOURCE_MAX 1024       /* issue 4: 1,000 simultaneous calls from one domain */
#define CALLS_MAX 4096
#define CALLS_BYTES_MAX (8u * 1024 * 1024)
#define START_TIMEOUT_USEC (180 * UINT64_C(1000000))
#define CONNECT_TIMEOUT_USEC (30 * UINT64_C(1000000))

enum call_state {
        CALL_STATE_ASKING,
        CALL_STATE_STARTING,
        CALL_STATE_CREATING,
        CALL_STATE_CONNECTING,
        CALL_STATE_DISPVM_RUNNING,      /* connected; the disposable dies with the call */
};

struct policyd_call {
        struct policyd_call *prev, *next;
        struct policyd *policyd;
        enum call_state state;
        uint32_t source_domid;
        char source[BUS_NAME_MAX + 1];
        char ident[BUS_IDENT_MAX + 1];
        char target_request[BUS_QREXEC_DOMAIN_MAX + 1];
        char *service_and_arg, *service, *argument;
        size_t bytes;
        char origin[BUS_NAME_MAX + BUS_IDENT_MAX + 16]; /* for the log */
        /* after the decision */
        char user[BUS_NAME_MAX + 1];
        char target[BUS_NAME_MAX + 1];
        uint32_t target_domid;
        bool dispvm;                    /* target is a disposable made for this call */
        uint32_t port;
        bool source_gone;
};

static size_t calls_bytes;

static void call_request(const struct policyd_call *c, PolicyRequest *ret) {
        *ret = (PolicyRequest) { .source = c->source, .target = c->target_request, .service = c->service,
                                 .argument = c->argument };
}

static void call_free(struct policyd_call *c) {
        struct policyd *p = c->policyd;

        if (c->prev)
                c->prev->next = c->next;
        else
                p->calls = c->next;
        if (c->next)
                c->next->prev = c->prev;
        p->n_calls--;
        calls_bytes -= c->bytes;
        free(c->service_and_arg);
        free(c->service);
        free(c->argument);
        free(c);
}

static void kill_dispvm(struct policyd *p, const char *name) {
        struct bus_msg_domain_kill_request kill = { .remove = 1 };
        int r;

        snprintf(kill.name, sizeof(kill.name), "%s", name);
        log_info("Disposable %s: its call ended; killing and removing it", name);
        r = bus_link_call(p, BUS_MSG_DOMAIN_KILL_REQUEST, BUS_PEER_ROLE(BUS_ROLE_QUBESD), &kill, 0, NULL, NULL,
                          NULL);
        if (r < 0)
                log_error_errno(r, "Cannot ask qubesd to remove disposable %s", name);
}

static void send_refused(struct policyd *p, uint32_t domid, const char *ident) {
        struct bus_msg_qrexec_service_refused refused = {};
        int r;

        if (!p->bus)
                return;
        snprintf(refused.ident, sizeof(refused.ident), "%s", ident);
        r = bus_client_send(p->bus, BUS_MSG_QREXEC_SERVICE_REFUSED, BUS_PEER_GUEST(domid), 0, &refused);
        if (r < 0)
                log_warning_errno(r, "Cannot refuse request %s of domain %u", ident, domid);
}

/* The call is over without a connection: refuse it (if its caller is still
 * there), drop a disposable made for it, forget it. */
static void call_refuse(struct policyd_call *c, const char *why) {
        if (why)
                log_notice("%s: refused: %s", c->origin, why);
        if (!c->source_gone)
                send_refused(c->policyd, c->source_domid, c->ident);
        if (c->dispvm)
                kill_dispvm(c->policyd, c->target);
        call_free(c);
}

static void call_apply(struct policyd_call *c, const PolicyDecision *d);

static void on_connected(struct policyd *p, int error, const struct bus_message *reply, void *userdata) {
        struct policyd_call *c = userdata;

        if (error == 0 && reply->u.qrexec_connected.error < 0)
                error = reply->u.qrexec_connected.error;
        if (error < 0) {
                log_full_errno(LOG_NOTICE, error, "%s: busd could not connect the call", c->origin);
                return call_refuse(c, NULL);
        }
        log_info("%s: connected to %s on port %u", c->origin, c->target, reply->u.qrexec_connected.port);
        if (!c->dispvm || c->source_gone) {
                if (c->dispvm)
                        kill_dispvm(p, c->target);
                return call_free(c);
        }
        c->port = reply->u.qrexec_connected.port;
        c->state = CALL_STATE_DISPVM_RUNNING;
}

static void call_connect(struct policyd_call *c) {
        struct policyd *p = c->policyd;
        _cleanup_free_ struct bus_msg_qrexec_connect *connect = calloc(1, sizeof(*connect));
        _cleanup_free_ char *cmdline = NULL;
        const struct policyd_domain *target = system_info_find(p, c->target);
        int r;

        if (c->source_gone)
                return call_refuse(c, "the caller went away");
        if (!connect)
                return call_refuse(c, "out of memory");
        if (!c->user[0])
                snprintf(c->user, sizeof(c->user), "%s", target ? policyd_domain_default_user(target) : "user");
        cmdline = call_plan_cmdline(c->user, c->service_and_arg, c->source,
                                    strcmp(c->target, "dom0") == 0 ? c->target_request : NULL);
        if (!cmdline)
                return call_refuse(c, "the command line does not fit");
        *connect = (struct bus_msg_qrexec_connect) { .source_domid = c->source_domid,
                                                      .target_domid = c->target_domid };
        snprintf(connect->ident, sizeof(connect->ident), "%s", c->ident);
        strcpy(connect->cmdline, cmdline);
        c->state = CALL_STATE_CONNECTING;
        r = bus_link_call(p, BUS_MSG_QREXEC_CONNECT, BUS_PEER_BUSD, connect, CONNECT_TIMEOUT_USEC, on_connected, c,
                          NULL);
        if (r < 0) {
                log_error_errno(r, "%s: cannot ask busd to connect the call", c->origin);
                call_refuse(c, NULL);
        }
}

static void on_started(struct policyd *p, int error, const struct bus_message *reply, void *userdata) {
        struct policyd_call *c = userdata;
        /* An ERROR reply is not a DOMAIN_START_REPLY: its fields lie elsewhere. */
        const struct bus_msg_domain_start_reply *started = reply && reply->hdr.type == BUS_MSG_DOMAIN_START_REPLY
                                                                   ? &reply->u.domain_start_reply : NULL;

        if (error == 0 && !started)
                error = -EBADMSG;
        if (error == 0 && started->error < 0)
                error = started->error;
        if (error < 0) {
                log_notice("%s: starting %s failed: %s%s%s", c->origin, c->target, strerror(-error),
                           started ? ": " : "", started ? started->message : "");
                return call_refuse(c, NULL);
        }
        c->target_domid = started->domid;
        call_connect(c);
}

static void on_dispvm_created(struct policyd *p, int error, const struct bus_message *reply, void *userdata) {
        struct policyd_call *c = userdata;
        const struct bus_msg_dispvm_create_reply *created = reply && reply->hdr.type == BUS_MSG_DISPVM_CREATE_REPLY
                                                                    ? &reply->u.dispvm_create_reply : NULL;

        if (error == 0 && !created)
                error = -EBADMSG;
        if (error == 0 && created->error < 0)
                error = created->error;
        if (error < 0) {
                log_notice("%s: creating a disposable from %s failed: %s%s%s", c->origin, c->target,
                           strerror(-error), created ? ": " : "", created ? created->message : "");
                return call_refuse(c, NULL);
        }
        /* From here on the disposable is ours to remove, whatever happens. */
        snprintf(c->target, sizeof(c->target), "%s", created->name);
        c->target_domid = created->domid;
        c->dispvm = true;
        log_info("%s: disposable %s (domain %u) created", c->origin, c->target, c->target_domid);
        call_connect(c);
}

static void on_ask_reply(struct policyd *p, int error, const struct bus_message *reply, void *userdata) {
        struct policyd_call *c = userdata;
        PolicyRequest req;
        PolicyDecision d = {};

        call_request(c, &req);
        if (error == 0 && reply->u.ask_reply.error < 0)
                error = reply->u.ask_reply.error;
        if (error < 0) {
                policyd_log_ask_failure(c->origin, &req, error);
                return call_refuse(c, NULL);
        }
        if (c->source_gone)
                return call_refuse(c, "the caller went away");
        if (policyd_evaluate_choice(p, &req, reply->u.ask_reply.target, c->origin, &d) < 0)
                return call_refuse(c, "evaluation failed");
        if (d.verdict == POLICY_VERDICT_ASK)    /* cannot happen twice */
                d.verdict = POLICY_VERDICT_DENY;
        call_apply(c, &d);
        policy_decision_done(&d);
}

static void call_apply(struct policyd_call *c, const PolicyDecision *d) {
        struct policyd *p = c->policyd;
        struct call_plan plan;
        int r = 0;

        call_plan_make(p, d, &plan);
        snprintf(c->user, sizeof(c->user), "%s", plan.user);
        snprintf(c->target, sizeof(c->target), "%s", plan.target);
        switch (plan.action) {
        case CALL_REFUSE:
                return call_refuse(c, d->verdict == POLICY_VERDICT_DENY ? NULL : plan.why);
        case CALL_ASK:
                c->state = CALL_STATE_ASKING;
                r = policyd_ask(p, c->source, c->service_and_arg, d, on_ask_reply, c, NULL);
                break;
        case CALL_CONNECT:
                c->target_domid = plan.target_domid;
                return call_connect(c);
        case CALL_START: {
                struct bus_msg_domain_start_request start = {};
                snprintf(start.name, sizeof(start.name), "%s", plan.target);
                c->state = CALL_STATE_STARTING;
                log_info("%s: starting %s (autostart)", c->origin, plan.target);
                r = bus_link_call(p, BUS_MSG_DOMAIN_START_REQUEST, BUS_PEER_ROLE(BUS_ROLE_QUBESD), &start,
                                  START_TIMEOUT_USEC, on_started, c, NULL);
                break;
        }
        case CALL_DISPVM: {
                struct bus_msg_dispvm_create_request create = {};
                snprintf(create.template_name, sizeof(create.template_name), "%s", plan.target);
                c->state = CALL_STATE_CREATING;
                r = bus_link_call(p, BUS_MSG_DISPVM_CREATE_REQUEST, BUS_PEER_ROLE(BUS_ROLE_QUBESD), &create,
                                  START_TIMEOUT_USEC, on_dispvm_created, c, NULL);
                break;
        }
        }
        if (r < 0) {
                log_error_errno(r, "%s: cannot ask qubesd", c->origin);
                call_refuse(c, NULL);
        }
}

static size_t calls_of(const struct policyd *p, uint32_t domid) {
        size_t n = 0;
        for (const struct policyd_call *c = p->calls; c; c = c->next)
                n += c->source_domid == domid;
        return n;
}

void request_on_trigger(struct policyd *p, const struct bus_message *msg) {
        const struct bus_msg_qrexec_trigger *t = &msg->u.qrexec_trigger;
        const struct policyd_domain *source;
        struct policyd_call *c;
        PolicyDecision d = {};
        PolicyRequest req;
        size_t bytes;

        /* busd stamps the source from the channel; the payload's copy must agree. */
        if (!bus_peer_is_guest(msg->hdr.peer) || bus_peer_domid(msg->hdr.peer) != t->source_domid) {
                log_warning("Ignoring QREXEC_TRIGGER from peer 0x%x claiming domain %u", msg->hdr.peer,
                            t->source_domid);
                return;
        }
        source = system_info_find_domid(p, t->source_domid);
        if (!source) {
                log_notice("qrexec call %s from unknown domain %u: refused", t->service, t->source_domid);
                return send_refused(p, t->source_domid, t->ident);
        }
        if (t->source_domain[0]) {
                log_notice("qrexec call %s from %s: refused: relayed calls (source %s) are not supported",
                           t->service, policyd_domain_name(source), t->source_domain);
                return send_refused(p, t->source_domid, t->ident);
        }
        bytes = sizeof(*c) + 2 * strlen(t->service) + 4;
        if (p->n_calls >= CALLS_MAX || calls_bytes + bytes > CALLS_BYTES_MAX ||
            calls_of(p, t->source_domid) >= CALLS_PER_SOURCE_MAX) {
                log_warning("qrexec call from %s refused: too many calls in progress (%zu of this domain, %zu in all)",
                            policyd_domain_name(source), calls_of(p, t->source_domid), p->n_calls);
                return send_refused(p, t->source_domid, t->ident);
        }

        c = calloc(1, sizeof(*c));
        if (!c || !(c->service_and_arg = strdup(t->service)) ||
            line_split_service(t->service, &c->service, &c->argument) < 0) {
                if (c)
                        free(c->service_and_arg);
                free(c);
                log_error("Out of memory: refusing a qrexec call");
                return send_refused(p, t->source_domid, t->ident);
        }
        c->policyd = p;
        c->bytes = bytes;
        c->source_domid = t->source_domid;
        snprintf(c->source, sizeof(c->source), "%s", policyd_domain_name(source));
        snprintf(c->ident, sizeof(c->ident), "%s", t->ident);
        snprintf(c->target_request, sizeof(c->target_request), "%s", t->target_domain);
        snprintf(c->origin, sizeof(c->origin), "qrexec %s:%s", c->source, c->ident);
        c->next = p->calls;
        if (p->calls)
                p->calls->prev = c;
        p->calls = c;
        p->n_calls++;
        calls_bytes += bytes;

        call_request(c, &req);
        if (policyd_evaluate(p, &req, c->origin, &d) < 0)
                return call_refuse(c, "evaluation failed");
        call_apply(c, &d);
        policy_decision_done(&d);
}

void request_on_terminated(struct policyd *p, const struct bus_msg_qrexec_terminated *t) {
        for (struct policyd_call *c = p->calls; c; c = c->next) {
                if (c->state != CALL_STATE_DISPVM_RUNNING || c->port != t->connect_port)
                        continue;
                if ((t->source_domid == c->source_domid && t->connect_domain == c->target_domid) ||
                    (t->source_domid == c->target_domid && t->connect_domain == c->source_domid)) {
                        kill_dispvm(p, c->target);
                        call_free(c);
                        return;
                }
        }
}

void request_on_channel_down(struct policyd *p, uint32_t domid) {
        struct policyd_call *next;

        for (struct policyd_call *c = p->calls; c; c = next) {
                next = c->next;
                if (c->state == CALL_STATE_DISPVM_RUNNING && (c->source_domid == domid || c->target_domid == domid)) {
                        kill_dispvm(p, c->target);
                        call_free(c);
                } else if (c->source_domid == domid)
                        c->source_gone = true;  /* its pending request's answer cleans up */
        }
}

void request_done_all(struct policyd *p) {
        /* Pending bus requests point at their calls: only at exit, after the bus is gone. */
        while (p->calls)
                call_free(p->calls);
}
