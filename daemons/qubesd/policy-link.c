/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * qubesd's side of qrexec-policyd (the call flow: docs/admin-api.md):
 * policyd keeps the system info in memory and qubesd
 * pushes it — every domain as DOMAIN_INFO (request id 0, unsolicited), the
 * whole set after SYSTEM_INFO_SUBSCRIBE (SYSTEM_INFO_DONE last, as the
 * reply), and again whenever something in it changes.  policyd asks qubesd
 * to start a target, make or end a disposable, relay an ask; it reports the
 * state of its policy, which GetPolicyStatus serves.
 *
 * Sending to a policyd that is not connected gets an ERROR -EHOSTUNREACH from
 * busd, which is harmless: it subscribes (and so gets everything) when it comes.
 */
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "qubesd.h"

#define POLICYD_PEER BUS_PEER_ROLE(BUS_ROLE_POLICYD)

static uint8_t bus_power_state(enum power_state s) {
        switch (s) {
        case POWER_RUNNING:
                return BUS_POWER_RUNNING;
        case POWER_PAUSED:
                return BUS_POWER_PAUSED;
        case POWER_TRANSIENT:
        case POWER_HALTING:
        case POWER_DYING:
                return BUS_POWER_TRANSIENT;
        default:
                return BUS_POWER_HALTED;
        }
}

static bool feature_true(const struct domain *d, const char *key) {
        const char *v = domain_get_feature(d, key);
        return v && *v && strcmp(v, "0") != 0 && strcmp(v, "False") != 0 && strcmp(v, "false") != 0;
}

static void fill_domain_info(struct qubesd *q, const struct domain *d, struct bus_msg_domain_info *info) {
        char text[64];
        size_t used = 0;

        *info = (struct bus_msg_domain_info) { .domid = d->qid, .power_state = bus_power_state(d->state) };
        snprintf(info->name, sizeof(info->name), "%s", d->name);
        snprintf(info->klass, sizeof(info->klass), "%s", domain_class_to_string(d->klass));
        snprintf(info->uuid, sizeof(info->uuid), "%s", d->uuid);
        prop_text(q, d, "template_for_dispvms", text, sizeof(text));
        info->template_for_dispvms = strcmp(text, "True") == 0;
        info->internal = feature_true(d, "internal");
        prop_text(q, d, "default_dispvm", info->default_dispvm, sizeof(info->default_dispvm));
        prop_text(q, d, "default_user", info->default_user, sizeof(info->default_user));
        if (!info->default_user[0])
                snprintf(info->default_user, sizeof(info->default_user), "user");
        prop_text(q, d, "label", info->icon, sizeof(info->icon));
        for (size_t i = 0; i < d->n_tags; i++) {
                int n = snprintf(info->tags + used, sizeof(info->tags) - used, "%s%s", used ? " " : "", d->tags[i]);
                if (n < 0 || (size_t) n >= sizeof(info->tags) - used) {
                        log_warning("%s: too many tags for policy's system info; the rest are left out", d->name);
                        info->tags[used] = '\0';
                        break;
                }
                used += (size_t) n;
        }
}

static void send_domain_info(struct qubesd *q, const struct domain *d) {
        _cleanup_free_ struct bus_msg_domain_info *info = malloc(sizeof(*info));

        if (!q->bus || !info)
                return;
        fill_domain_info(q, d, info);
        (void) bus_client_send(q->bus, BUS_MSG_DOMAIN_INFO, POLICYD_PEER, 0, info);
}

void policy_link_domain_changed(struct qubesd *q, const struct domain *d) {
        /* what a template says is the default of the domains based on it */
        if (d->klass == DOMAIN_TEMPLATEVM || d->klass == DOMAIN_ADMINVM) {
                policy_link_all_changed(q);
                return;
        }
        char text[16];
        prop_text(q, d, "template_for_dispvms", text, sizeof(text));
        if (strcmp(text, "True") == 0) {
                policy_link_all_changed(q);
                return;
        }
        send_domain_info(q, d);
}

void policy_link_all_changed(struct qubesd *q) {
        for (size_t i = 0; i < q->set->n_domains; i++)
                send_domain_info(q, q->set->domains[i]);
}

void policy_link_domain_removed(struct qubesd *q, const char *name) {
        struct bus_msg_domain_info_removed removed = {};

        if (!q->bus)
                return;
        snprintf(removed.name, sizeof(removed.name), "%s", name);
        (void) bus_client_send(q->bus, BUS_MSG_DOMAIN_INFO_REMOVED, POLICYD_PEER, 0, &removed);
}

static void on_subscribe(struct qubesd *q, const struct bus_message *msg) {
        struct bus_msg_system_info_done done = { .domains = (uint32_t) q->set->n_domains };

        policy_link_all_changed(q);
        (void) bus_client_reply(q->bus, msg, BUS_MSG_SYSTEM_INFO_DONE, &done);
}

static void on_policy_status(struct qubesd *q, const struct bus_message *msg) {
        if (!q->policy_status) {
                q->policy_status = malloc(sizeof(*q->policy_status));
                if (!q->policy_status)
                        return;
        }
        *q->policy_status = msg->u.policy_status;
        if (msg->u.policy_status.ok)
                log_info("Policy loaded: %" PRIu32 " files, %" PRIu32 " rules", msg->u.policy_status.files,
                         msg->u.policy_status.rules);
        else
                log_warning("Policy is broken, qrexec-policyd denies every call: %s", msg->u.policy_status.errors);
}

/* ---------------------------------------------------------------- start, dispvm, kill */

/* Who to answer: the request's id and its sender. */
struct bus_request {
        uint32_t request_id;
        uint32_t peer;
        bool remove;
};

static struct bus_request *bus_request_new(const struct bus_message *msg) {
        struct bus_request *req = calloc(1, sizeof(*req));
        if (req)
                *req = (struct bus_request) { .request_id = msg->hdr.request_id, .peer = msg->hdr.peer };
        return req;
}

static void start_reply(struct qubesd *q, uint32_t peer, uint32_t request_id, int error, uint32_t domid,
                        const char *message) {
        struct bus_msg_domain_start_reply reply = { .error = error, .domid = domid };

        snprintf(reply.message, sizeof(reply.message), "%s", message ?: "");
        if (q->bus)
                (void) bus_client_send(q->bus, BUS_MSG_DOMAIN_START_REPLY, peer, request_id, &reply);
}

static void on_start_finished(struct qubesd *q, const char *name, int error, const char *message, void *userdata) {
        _cleanup_free_ struct bus_request *req = userdata;
        struct domain *d = domain_set_find(q->set, name);

        start_reply(q, req->peer, req->request_id, error, d ? d->qid : 0, message);
}

static void on_start_request(struct qubesd *q, const struct bus_message *msg) {
        const char *untrusted_name = msg->u.domain_start_request.name;
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        struct domain *d = domain_set_find(q->set, untrusted_name);
        struct bus_request *req;
        int r;

        if (!d) {
                start_reply(q, msg->hdr.peer, msg->hdr.request_id, -ENOENT, 0, "No such domain");
                return;
        }
        if (d->state == POWER_RUNNING || d->klass == DOMAIN_ADMINVM) {
                start_reply(q, msg->hdr.peer, msg->hdr.request_id, 0, d->qid, "");
                return;
        }
        if (d->state != POWER_TRANSIENT) {
                if (d->state != POWER_HALTED && d->state != POWER_CRASHED) {
                        start_reply(q, msg->hdr.peer, msg->hdr.request_id, -EBUSY, d->qid,
                                    d->state == POWER_PAUSED ? "The domain is paused" : "The domain is stopping");
                        return;
                }
                log_info("%s: started for a qrexec call", d->name);
                r = lifecycle_start(q, d, NULL, &e);
                if (r < 0) {
                        start_reply(q, msg->hdr.peer, msg->hdr.request_id, r, d->qid, e.message ?: strerror(-r));
                        return;
                }
        }
        req = bus_request_new(msg);
        if (!req || domain_wait_running(q, d->name, on_start_finished, req) < 0) {
                free(req);
                start_reply(q, msg->hdr.peer, msg->hdr.request_id, -ENOMEM, d->qid, "Out of memory");
        }
}

static void dispvm_reply(struct qubesd *q, uint32_t peer, uint32_t request_id, int error, const char *name,
                         const char *message) {
        struct bus_msg_dispvm_create_reply reply = { .error = error };
        struct domain *d = name ? domain_set_find(q->set, name) : NULL;

        if (d && error == 0) {
                reply.domid = d->qid;
                snprintf(reply.name, sizeof(reply.name), "%s", d->name);
        }
        snprintf(reply.message, sizeof(reply.message), "%s", message ?: "");
        if (q->bus)
                (void) bus_client_send(q->bus, BUS_MSG_DISPVM_CREATE_REPLY, peer, request_id, &reply);
}

static void on_dispvm_done(struct qubesd *q, int error, const char *name, const char *message, void *userdata) {
        _cleanup_free_ struct bus_request *req = userdata;

        dispvm_reply(q, req->peer, req->request_id, error, name, message);
}

static void on_dispvm_request(struct qubesd *q, const struct bus_message *msg) {
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        struct bus_request *req = bus_request_new(msg);
        int r;

        if (!req) {
                dispvm_reply(q, msg->hdr.peer, msg->hdr.request_id, -ENOMEM, NULL, "Out of memory");
                return;
        }
        r = dispvm_create(q, msg->u.dispvm_create_request.template_name, on_dispvm_done, req, &e);
        if (r < 0) {
                dispvm_reply(q, msg->hdr.peer, msg->hdr.request_id, r == -ENOMEM ? r : -EINVAL, NULL,
                             e.message ?: strerror(-r));
                free(req);
        }
}

static void kill_reply(struct qubesd *q, const struct bus_request *req, int error) {
        struct bus_msg_domain_kill_reply reply = { .error = error };

        if (q->bus)
                (void) bus_client_send(q->bus, BUS_MSG_DOMAIN_KILL_REPLY, req->peer, req->request_id, &reply);
}

static void on_killed(struct qubesd *q, const char *name, int error, const char *message, void *userdata) {
        _cleanup_free_ struct bus_request *req = userdata;
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        struct domain *d = domain_set_find(q->set, name);

        if (error == 0 && req->remove && d && domain_remove(q, NULL, name, &e) < 0) {
                log_warning("%s: cannot remove after kill: %s", name, e.message ?: "error");
                error = -EBUSY;
        }
        kill_reply(q, req, error);
}

static void on_kill_request(struct qubesd *q, const struct bus_message *msg) {
        const char *untrusted_name = msg->u.domain_kill_request.name;
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        _cleanup_free_ struct bus_request *req = bus_request_new(msg);
        struct domain *d = domain_set_find(q->set, untrusted_name);
        int r;

        if (!req)
                return;
        req->remove = msg->u.domain_kill_request.remove != 0;
        if (!d) {
                /* removing what is gone already is done */
                kill_reply(q, req, req->remove ? 0 : -ENOENT);
                return;
        }
        if (d->klass == DOMAIN_ADMINVM) {
                kill_reply(q, req, -EPERM);
                return;
        }
        if (d->state != POWER_HALTED && d->state != POWER_CRASHED && d->state != POWER_DYING) {
                r = lifecycle_kill(q, d, NULL, &e);
                if (r < 0) {
                        log_warning("%s: kill asked by qrexec-policyd failed: %s", d->name, e.message ?: "error");
                        kill_reply(q, req, r);
                        return;
                }
        }
        if (domain_wait_stopped(q, d->name, on_killed, req) < 0) {
                kill_reply(q, req, -ENOMEM);
                return;
        }
        TAKE_PTR(req);
}

void policy_link_on_message(struct qubesd *q, const struct bus_message *msg) {
        /* the route table lets only policyd send these; check anyway */
        if (bus_peer_role(msg->hdr.peer) != BUS_ROLE_POLICYD) {
                log_warning("Ignoring %s from peer 0x%" PRIx32, bus_type_to_string(msg->hdr.type), msg->hdr.peer);
                return;
        }
        switch (msg->hdr.type) {
        case BUS_MSG_SYSTEM_INFO_SUBSCRIBE:
                on_subscribe(q, msg);
                break;
        case BUS_MSG_POLICY_STATUS:
                on_policy_status(q, msg);
                break;
        case BUS_MSG_DOMAIN_START_REQUEST:
                on_start_request(q, msg);
                break;
        case BUS_MSG_DISPVM_CREATE_REQUEST:
                on_dispvm_request(q, msg);
                break;
        case BUS_MSG_DOMAIN_KILL_REQUEST:
                on_kill_request(q, msg);
                break;
        case BUS_MSG_ASK_REQUEST:
                ask_relay_on_request(q, msg);
                break;
        default:
                break;
        }
}

void policy_link_free(struct qubesd *q) {
        free(q->policy_status);
        q->policy_status = NULL;
}

/* ---------------------------------------------------------------- GetPolicyStatus */

int admin_method_get_policy_status(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        struct qubesd *q = userdata;
        const struct bus_msg_policy_status *s = q->policy_status;

        if (!s)
                return admin_errorf(error, ADMIN_ERROR_NOT_RUNNING,
                                    "qrexec-policyd has not reported the state of the policy (is it running?)");
        return sd_bus_reply_method_return(m, "buutss", (int) s->ok, s->files, s->rules, s->loaded_usec,
                                          s->policy_dir, s->errors);
}
