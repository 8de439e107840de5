/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * qrexec-policyd: evaluates every qrexec call against the policy (format v5,
 * library policy/) and the system info qubesd pushes, and acts on the
 * decision through busd.  One file per concern:
 *   main.c          options, setup order, sandbox, the loop
 *   bus-link.c      the connection to busd and the dispatch of its messages
 *   system-info.c   the domains as qubesd describes them (DOMAIN_INFO ...)
 *   policy-state.c  loading, inotify reload, POLICY_STATUS
 *   call-plan.c     what to do with a decision (pure: unit-tested)
 *   request.c       one QREXEC_TRIGGER from decision to QREXEC_CONNECT
 *   policy-socket.c the Qubes line protocol on policy.sock
 *   line-request.c  its request parser and answer writer (pure: fuzzed)
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "bus-client.h"
#include "util.h"
#include "policy.h"

#define POLICYD_MAX_POLICY_DIRS 8

struct policyd_domain;
struct policyd_call;
struct policy_socket;

struct policyd {
        sd_event *event;
        uint64_t spin_usec;

        /* options */
        const char *policy_dirs[POLICYD_MAX_POLICY_DIRS];
        size_t n_policy_dirs;
        char *bus_socket_path;
        char *policy_socket_path;

        /* busd (bus-link.c) */
        struct bus_client *bus;

        /* system info (system-info.c) */
        struct policyd_domain *domains;
        size_t n_domains;
        PolicySystem *system;           /* built from domains on demand; NULL when stale */
        bool have_system_info;          /* a SYSTEM_INFO_DONE arrived */
        sd_event_source *subscribe_timer;

        /* the policy (policy-state.c) */
        Policy *policy;                 /* never NULL after policy_state_init() */
        int inotify_fd;
        sd_event_source *inotify_source, *reload_timer;
        uint64_t loaded_usec;           /* CLOCK_REALTIME */

        /* calls in progress (request.c) */
        struct policyd_call *calls;     /* doubly linked */
        size_t n_calls;

        /* the line protocol (policy-socket.c) */
        struct policy_socket *socket;
};

/* bus-link.c */
int bus_link_connect(struct policyd *p, uint64_t timeout_usec);
void bus_link_close(struct policyd *p);
/* An async request to qubesd or busd whose owner may go away first: the
 * owner cancels it (the reply is then dropped); it frees itself once
 * answered.  cb gets 0 + the reply, or a negative errno (ERROR's, or
 * -ETIMEDOUT, -ECONNRESET) and the ERROR message or NULL. */
struct bus_op;
typedef void (*bus_op_cb_t)(struct policyd *p, int error, const struct bus_message *reply, void *userdata);
int bus_link_call(struct policyd *p, uint16_t type, uint32_t to, const void *payload, uint64_t timeout_usec,
                  bus_op_cb_t cb, void *userdata, struct bus_op **ret);
void bus_op_cancel(struct bus_op *op);

/* system-info.c */
void system_info_on_domain_info(struct policyd *p, const struct bus_msg_domain_info *info);
void system_info_on_domain_removed(struct policyd *p, const char *name);
void system_info_on_done(struct policyd *p, uint32_t domains);
/* Ask qubesd for the snapshot; retried every second while qubesd is not connected. */
int system_info_subscribe(struct policyd *p);
void system_info_on_subscribe_error(struct policyd *p, int error);
/* The policy library's view (NULL only on ENOMEM). */
const PolicySystem *system_info_get(struct policyd *p);
/* A domain by name or by domid; NULL when unknown. */
const struct policyd_domain *system_info_find(const struct policyd *p, const char *name);
const struct policyd_domain *system_info_find_domid(const struct policyd *p, uint32_t domid);
const char *policyd_domain_name(const struct policyd_domain *d);
uint32_t policyd_domain_domid(const struct policyd_domain *d);
bool policyd_domain_running(const struct policyd_domain *d);
const char *policyd_domain_default_user(const struct policyd_domain *d);
void system_info_done(struct policyd *p);

/* policy-state.c */
int policy_state_init(struct policyd *p);
/* Load now; the new policy replaces the old only once fully loaded.  Always
 * reports POLICY_STATUS. */
void policy_state_reload(struct policyd *p);
void policy_state_send_status(struct policyd *p);
void policy_state_done(struct policyd *p);

/* policyd's evaluation of one request (request.c): logs the decision. */
int policyd_evaluate(struct policyd *p, const PolicyRequest *req, const char *origin, PolicyDecision *ret);
/* Resolve an ask the user answered with `choice`, against the current policy. */
int policyd_evaluate_choice(struct policyd *p, const PolicyRequest *req, const char *choice, const char *origin,
                            PolicyDecision *ret);
/* Ask the registered ask agent through qubesd (ASK_REQUEST); the reply's
 * error is 0 + target chosen, -EACCES refused, -EHOSTDOWN no agent, ... */
int policyd_ask(struct policyd *p, const char *source, const char *service_and_arg, const PolicyDecision *d,
                bus_op_cb_t cb, void *userdata, struct bus_op **ret);
/* Log an ask's failure the way every caller should (no agent, refused, ...). */
void policyd_log_ask_failure(const char *origin, const PolicyRequest *req, int error);

/* request.c: the bus side of calls */
void request_on_trigger(struct policyd *p, const struct bus_message *msg);
void request_on_terminated(struct policyd *p, const struct bus_msg_qrexec_terminated *t);
void request_on_channel_down(struct policyd *p, uint32_t domid);
void request_done_all(struct policyd *p);

/* policy-socket.c */
int policy_socket_open(struct policyd *p);
void policy_socket_close(struct policyd *p);
