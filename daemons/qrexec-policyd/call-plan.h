/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What a policy decision means for a qrexec call from a domain: refuse it,
 * ask the user, connect it to a running target, start the target first, or
 * create a disposable first.  Pure (the system info in, a plan out), so it
 * is unit-tested without a bus.
 */
#pragma once

#include "policyd.h"

enum call_action {
        CALL_REFUSE,
        CALL_ASK,
        CALL_CONNECT,           /* target runs: QREXEC_CONNECT now */
        CALL_START,             /* target halted, autostart: DOMAIN_START_REQUEST first */
        CALL_DISPVM,            /* DISPVM_CREATE_REQUEST {target} first */
};

struct call_plan {
        enum call_action action;
        const char *why;                        /* CALL_REFUSE: for the log (static or d->reason) */
        char target[BUS_NAME_MAX + 1];          /* the domain, or the disposable template */
        uint32_t target_domid;                  /* CALL_CONNECT */
        char user[BUS_NAME_MAX + 1];            /* "" = the target's default_user */
};

/* d stays referenced by plan->why: keep it until the plan is used. */
void call_plan_make(struct policyd *p, const PolicyDecision *d, struct call_plan *ret);

/* "USER:QUBESRPC SERVICE+ARG SOURCE" into a fresh string; NULL on ENOMEM or
 * when longer than the bus allows.  For the admin domain (requested_target
 * not NULL: what the caller asked for, "" meaning @default) Qubes' dom0
 * form "DEFAULT:QUBESRPC SERVICE+ARG SOURCE name|keyword TARGET", with the
 * '+' always there and a keyword without its '@'. */
char *call_plan_cmdline(const char *user, const char *service_and_arg, const char *source,
                        const char *requested_target);
