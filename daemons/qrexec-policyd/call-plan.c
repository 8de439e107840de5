/* SPDX-License-Identifier: GPL-2.0-or-later */
/* From a policy decision to the steps of a domain's qrexec call (pure). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "call-plan.h"

#define DISPVM_PREFIX "@dispvm:"

static void refuse(struct call_plan *plan, const char *why) {
        plan->action = CALL_REFUSE;
        plan->why = why;
}

void call_plan_make(struct policyd *p, const PolicyDecision *d, struct call_plan *ret) {
        const struct policyd_domain *target;
        const PolicyDomain *found;

        *ret = (struct call_plan) {};
        if (d->verdict == POLICY_VERDICT_DENY)
                return refuse(ret, d->reason ?: "denied");
        if (d->verdict == POLICY_VERDICT_ASK) {
                ret->action = CALL_ASK;
                return;
        }
        if (d->user && strlen(d->user) >= sizeof(ret->user))
                return refuse(ret, "the policy's user= is too long");
        snprintf(ret->user, sizeof(ret->user), "%s", d->user ?: "");

        if (strcmp(d->target, "dom0") == 0) {
                /* The admin domain's agent: busd opens its channel as domain 0
                 * (refused there when no agent runs). */
                ret->action = CALL_CONNECT;
                ret->target_domid = 0;
                snprintf(ret->target, sizeof(ret->target), "dom0");
                if (!ret->user[0])
                        snprintf(ret->user, sizeof(ret->user), "DEFAULT");
                return;
        }
        if (strncmp(d->target, DISPVM_PREFIX, strlen(DISPVM_PREFIX)) == 0) {
                /* The library checked it is a disposable template; it may
                 * be spelled uuid:... */
                found = policy_system_find(system_info_get(p), d->target + strlen(DISPVM_PREFIX));
                if (!found)
                        return refuse(ret, "unknown disposable template");
                ret->action = CALL_DISPVM;
                snprintf(ret->target, sizeof(ret->target), "%s", found->name);
                return;
        }
        found = policy_system_find(system_info_get(p), d->target);
        target = found ? system_info_find(p, found->name) : NULL;
        if (!target)
                return refuse(ret, "unknown target domain");
        snprintf(ret->target, sizeof(ret->target), "%s", policyd_domain_name(target));
        if (policyd_domain_running(target)) {
                ret->action = CALL_CONNECT;
                ret->target_domid = policyd_domain_domid(target);
        } else if (d->autostart)
                ret->action = CALL_START;
        else
                refuse(ret, "the target is not running and autostart is off");
}

char *call_plan_cmdline(const char *user, const char *service_and_arg, const char *source,
                        const char *requested_target) {
        char *out = NULL;
        int n;

        if (!requested_target)
                n = asprintf(&out, "%s:QUBESRPC %s %s", user, service_and_arg, source);
        else {
                const char *keyword = !*requested_target ? "default"
                                      : requested_target[0] == '@' ? requested_target + 1 : NULL;
                n = asprintf(&out, "%s:QUBESRPC %s%s %s %s %s", user, service_and_arg,
                             strchr(service_and_arg, '+') ? "" : "+", source, keyword ? "keyword" : "name",
                             keyword ?: requested_target);
        }
        if (n < 0)
                return NULL;
        if (strlen(out) > BUS_CMDLINE_MAX) {
                free(out);
                return NULL;
        }
        return out;
}
