/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * One evaluation against the current policy and system info, logged the
 * same way for the bus and the line protocol (source, target, service,
 * result, the deciding file:line), and the ask relay through qubesd.
 */
#include <stdio.h>
#include <stdlib.h>

#include "log.h"
#include "policyd.h"

#define ASK_TIMEOUT_USEC (90 * UINT64_C(1000000))   /* qubesd's own is 60 s */

static void log_decision(const char *origin, const PolicyRequest *req, const PolicyDecision *d) {
        char where[300] = "no rule";

        if (d->rule)
                snprintf(where, sizeof(where), "%s:%u", d->rule->file, d->rule->line);
        switch (d->verdict) {
        case POLICY_VERDICT_ALLOW:
                log_info("%s: %s -> %s %s%s: allow to %s (%s)", origin, req->source, req->target[0] ? req->target : "@default",
                         req->service, req->argument, d->target, where);
                break;
        case POLICY_VERDICT_ASK:
                log_info("%s: %s -> %s %s%s: ask (%s)", origin, req->source, req->target[0] ? req->target : "@default",
                         req->service, req->argument, where);
                break;
        default:
                log_notice("%s: %s -> %s %s%s: deny (%s): %s", origin, req->source,
                           req->target[0] ? req->target : "@default", req->service, req->argument, where,
                           d->reason ?: "denied");
                break;
        }
}

int policyd_evaluate(struct policyd *p, const PolicyRequest *req, const char *origin, PolicyDecision *ret) {
        const PolicySystem *s = system_info_get(p);
        int r;

        if (!s)
                return -ENOMEM;
        r = policy_evaluate(p->policy, s, req, ret);
        if (r < 0)
                return log_error_errno(r, "%s: evaluation failed", origin);
        log_decision(origin, req, ret);
        return 0;
}

int policyd_evaluate_choice(struct policyd *p, const PolicyRequest *req, const char *choice, const char *origin,
                            PolicyDecision *ret) {
        const PolicySystem *s = system_info_get(p);
        int r;

        if (!s)
                return -ENOMEM;
        /* Against the policy of now: it may have changed while the user thought. */
        r = policy_evaluate(p->policy, s, req, ret);
        if (r < 0)
                return log_error_errno(r, "%s: evaluation failed", origin);
        if (ret->verdict == POLICY_VERDICT_ASK) {
                r = policy_decision_choose(s, req, choice, ret);
                if (r < 0) {
                        policy_decision_done(ret);
                        return log_error_errno(r, "%s: cannot resolve the answer", origin);
                }
        } else if (ret->verdict == POLICY_VERDICT_ALLOW) {
                /* Now an allow without asking: for the target the user chose only. */
                if (strcmp(ret->target, choice) != 0) {
                        policy_decision_done(ret);
                        *ret = (PolicyDecision) { .verdict = POLICY_VERDICT_DENY };
                        ret->reason = strdup("the policy changed while asking");
                }
        }
        log_info("%s: the user chose %s", origin, choice);
        log_decision(origin, req, ret);
        return 0;
}

void policyd_log_ask_failure(const char *origin, const PolicyRequest *req, int error) {
        if (error == -EHOSTDOWN)
                log_notice("%s: %s -> %s %s%s: deny: ask, but there is no ask agent to ask the user "
                           "(register one: qubes-ctl ask-agent)", origin, req->source, req->target,
                           req->service, req->argument);
        else if (error == -EACCES)
                log_notice("%s: %s -> %s %s%s: deny: the user refused", origin, req->source, req->target,
                           req->service, req->argument);
        else
                log_notice("%s: %s -> %s %s%s: deny: the ask failed: %s", origin, req->source, req->target,
                           req->service, req->argument, strerror(-error));
}

int policyd_ask(struct policyd *p, const char *source, const char *service_and_arg, const PolicyDecision *d,
                bus_op_cb_t cb, void *userdata, struct bus_op **ret) {
        _cleanup_free_ struct bus_msg_ask_request *ask = calloc(1, sizeof(*ask));
        size_t used = 0;

        if (!ask)
                return -ENOMEM;
        if (strlen(source) > BUS_NAME_MAX || strlen(service_and_arg) > BUS_SERVICE_MAX)
                return -E2BIG;
        strcpy(ask->source, source);
        strcpy(ask->service, service_and_arg);
        for (size_t i = 0; i < d->n_targets; i++) {
                size_t l = strlen(d->targets[i]);
                if (used + l + 1 > BUS_TARGETS_MAX)
                        return -E2BIG;
                if (used)
                        ask->targets[used++] = ' ';
                memcpy(ask->targets + used, d->targets[i], l);
                used += l;
        }
        ask->targets[used] = '\0';
        if (d->default_target && strlen(d->default_target) <= BUS_QREXEC_DOMAIN_MAX)
                strcpy(ask->default_target, d->default_target);
        return bus_link_call(p, BUS_MSG_ASK_REQUEST, BUS_PEER_ROLE(BUS_ROLE_QUBESD), ask, ASK_TIMEOUT_USEC, cb,
                             userdata, ret);
}
